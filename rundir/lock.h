/* The lock of a run or sweep directory: DIR/.lock, flocked for the life of
 * the process that writes the directory (a training run's rank 0, a sweep),
 * holding {"schema": "trainbench.lock/1", "pid", "host", "start_time" (clock
 * ticks after boot, /proc/PID/stat field 22), "exe", "started_at"}.
 *
 * The kernel drops the flock when its holder dies (kill -9 included), so a
 * held lock is the proof that the directory is alive; a pid in a JSON file
 * is not (it may be stale, reused or crafted).  Readers ask tb_lock_probe,
 * and a process is only ever signalled through tb_lock_signal, which checks
 * that the lock is held and that its pid, start time and executable are
 * those of the running process of that pid. */
#ifndef TB_RUNDIR_LOCK_H
#define TB_RUNDIR_LOCK_H

#include <limits.h>

typedef struct tb_lock tb_lock;

typedef enum { TB_LOCK_ABSENT, TB_LOCK_FREE, TB_LOCK_HELD } tb_lock_state;

typedef struct {
    int ours;                      /* the file is a trainbench lock (its schema) */
    long pid;                      /* 0 when the file does not say */
    char host[256];
    unsigned long long start_time; /* clock ticks after boot */
    char exe[PATH_MAX];
} tb_lock_info;

/* Takes DIR/.lock (created with O_NOFOLLOW; a link or a non-regular file is
 * refused) for this process; `what` names the directory in messages ("run
 * directory").  NULL after tb_fail; *refused is then 1 when the directory is
 * in use by another process (the message names its pid and host) or the
 * lock file is not one trainbench can use: the caller exits 2. */
tb_lock *tb_lock_acquire(const char *dir, const char *what, int *refused);
/* Releases the lock (closing its file); the file stays, free.  NULL is fine. */
void tb_lock_release(tb_lock *l);

/* Whether DIR/.lock exists and is held, without taking it; with info, what
 * the file says (zeroed when unreadable).  -1 after tb_fail (a link or a
 * non-regular .lock, an unreadable directory). */
int tb_lock_probe(const char *dir, tb_lock_info *info);
/* 1 when DIR's lock is held by a live process, else 0. */
int tb_lock_alive(const char *dir);

/* Sends sig to the process holding DIR's lock (to its process group when
 * `group` and it leads its own), only when the lock is held, the pid is 2
 * or more, the host is this one and the start time and executable match the
 * running process of that pid.  0 once sent, else -1 after tb_fail (nothing
 * is signalled). */
int tb_lock_signal(const char *dir, int sig, int group);

/* A status as readers should show it: TB_STATUS_RUNNING whose directory's
 * lock is not held reads `dead` (TB_STATUS_STALE for a run); others as
 * they are, NULL as "unknown". */
const char *tb_lock_status(const char *status, const char *dir, const char *dead);

#endif
