/* Directory locks (see lock.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "rundir/lock.h"

#include "core/error.h" // uses: tb_fail, tb_calloc
#include "core/json.h" // uses: tb_json_num, tb_json_copy, tb_json_str
#include "rundir/rundir.h" // uses: TB_STATUS_RUNNING

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LOCK_NAME ".lock"
#define LOCK_MAX_BYTES 8192

struct tb_lock {
    int fd;
};

static int lock_path(char *out, size_t size, const char *dir)
{
    int n = snprintf(out, size, "%s/" LOCK_NAME, dir);
    if (n < 0 || (size_t)n >= size)
        return tb_fail("path %s/" LOCK_NAME " is too long; choose a shorter directory", dir);
    return 0;
}

/* Field 22 of /proc/PID/stat (0: this process); 0 when unreadable.  The
 * command name (field 2) may hold spaces and ')': fields count from the
 * last ')'. */
static unsigned long long start_time_of(long pid)
{
    char path[64], buf[1024];
    if (pid)
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return 0;
        if (field == 22)
            return strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

/* The executable of a process (0: this one) without the " (deleted)" the
 * kernel adds once the binary was replaced (a rebuild while it runs). */
static int exe_of(long pid, char *out, size_t size)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%ld/exe", pid);
    else
        snprintf(path, sizeof path, "/proc/self/exe");
    ssize_t n = readlink(path, out, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return -1;
    out[n] = '\0';
    const char *del = " (deleted)";
    size_t dl = strlen(del);
    if ((size_t)n > dl && !strcmp(out + n - dl, del))
        out[n - dl] = '\0';
    return 0;
}

static void my_host(char *out, size_t size)
{
    out[0] = '\0';
    if (gethostname(out, size - 1) != 0)
        out[0] = '\0';
    out[size - 1] = '\0';
}

/* What the lock file says; fields of the wrong type read as missing. */
static void read_info(int fd, tb_lock_info *info)
{
    memset(info, 0, sizeof *info);
    char buf[LOCK_MAX_BYTES];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    struct json_object *o = json_tokener_parse(buf);
    double pid = tb_json_num(o, "pid", 0), st = tb_json_num(o, "start_time", 0);
    info->pid = pid >= 1 && pid <= INT_MAX ? (long)pid : 0; /* range first: casting NaN is undefined */
    info->start_time = st >= 1 && st < 1e18 ? (unsigned long long)st : 0;
    tb_json_copy(info->host, sizeof info->host, o, "host", "");
    tb_json_copy(info->exe, sizeof info->exe, o, "exe", "");
    info->ours = !strcmp(tb_json_str(o, "schema", ""), "trainbench.lock/1");
    json_object_put(o);
}

/* Refuses what a lock file must not be: trainbench writes into it, so never
 * through a link it did not make (a symlink fails O_NOFOLLOW before this). */
static int check_file(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tb_fail("cannot check %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tb_fail("%s is not a regular file; trainbench keeps its lock there: remove it, or choose another "
                       "directory",
                       path);
    if (st.st_nlink != 1)
        return tb_fail("%s has other hard links; trainbench would write through them: remove it, or choose another "
                       "directory",
                       path);
    return 0;
}

static int write_info(int fd)
{
    char host[256], exe[PATH_MAX] = "";
    my_host(host, sizeof host);
    if (exe_of(0, exe, sizeof exe))
        exe[0] = '\0';
    struct json_object *o = json_object_new_object();
    if (!o)
        return -1;
    json_object_object_add(o, "schema", json_object_new_string("trainbench.lock/1"));
    json_object_object_add(o, "pid", json_object_new_int64((int64_t)getpid()));
    json_object_object_add(o, "host", json_object_new_string(host));
    json_object_object_add(o, "start_time", json_object_new_int64((int64_t)start_time_of(0)));
    json_object_object_add(o, "exe", json_object_new_string(exe));
    json_object_object_add(o, "started_at", json_object_new_int64((int64_t)time(NULL)));
    size_t len = 0;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    int rc = -1;
    if (text && ftruncate(fd, 0) == 0) {
        ssize_t n;
        do
            n = pwrite(fd, text, len, 0);
        while (n < 0 && errno == EINTR);
        rc = n == (ssize_t)len && pwrite(fd, "\n", 1, (off_t)len) == 1 ? 0 : -1;
    }
    json_object_put(o);
    return rc;
}

tb_lock *tb_lock_acquire(const char *dir, const char *what, int *refused)
{
    char path[PATH_MAX];
    *refused = 0;
    if (lock_path(path, sizeof path, dir))
        return NULL;
    /* O_NONBLOCK: a FIFO planted as .lock must not hang the open. */
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0) {
        int err = errno;
        *refused = err == ELOOP;
        tb_fail("cannot open the lock file %s: %s; %s", path, strerror(err),
                err == ELOOP ? "it is a symbolic link, which trainbench does not follow: remove it or choose another "
                               "directory"
                             : "check the permissions of the directory");
        return NULL;
    }
    if (check_file(fd, path)) {
        *refused = 1;
        close(fd);
        return NULL;
    }
    /* A reader's probe holds a shared lock for a moment: try for 0.3 s. */
    int rc = -1;
    for (int i = 0; i < 30 && (rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && (errno == EWOULDBLOCK || errno == EINTR); i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    if (rc != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            tb_lock_info info;
            read_info(fd, &info);
            *refused = 1;
            if (info.pid)
                tb_fail("%s %s is in use by process %ld on %s; wait for it to end or stop it, or choose another "
                        "directory",
                        what, dir, info.pid, info.host[0] ? info.host : "an unknown host");
            else
                tb_fail("%s %s is in use by another process (it is starting); wait for it to end or stop it, or "
                        "choose another directory",
                        what, dir);
        } else
            tb_fail("cannot lock %s: %s; the file system may not support locks, choose another directory", path,
                    strerror(err));
        close(fd);
        return NULL;
    }
    if (write_info(fd)) {
        tb_fail("cannot write the lock file %s: %s; free space or choose another directory", path, strerror(errno));
        close(fd);
        return NULL;
    }
    tb_lock *l = tb_calloc(1, sizeof *l, "lock");
    if (!l) {
        close(fd);
        return NULL;
    }
    l->fd = fd;
    return l;
}

void tb_lock_release(tb_lock *l)
{
    if (!l)
        return;
    close(l->fd); /* drops the flock */
    free(l);
}

int tb_lock_probe(const char *dir, tb_lock_info *info)
{
    char path[PATH_MAX];
    if (info)
        memset(info, 0, sizeof *info);
    if (lock_path(path, sizeof path, dir))
        return -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return TB_LOCK_ABSENT;
        return tb_fail("cannot open the lock file %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tb_fail("%s is not a regular file: not a trainbench lock", path);
    }
    /* From this open file description: a shared lock is refused while the
     * holder has its exclusive one. */
    int state;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        state = TB_LOCK_FREE;
    } else if (errno == EWOULDBLOCK)
        state = TB_LOCK_HELD;
    else {
        int err = errno;
        close(fd);
        return tb_fail("cannot probe the lock %s: %s", path, strerror(err));
    }
    if (info)
        read_info(fd, info);
    close(fd);
    return state;
}

int tb_lock_alive(const char *dir) { return tb_lock_probe(dir, NULL) == TB_LOCK_HELD; }

int tb_lock_signal(const char *dir, int sig, int group)
{
    tb_lock_info info;
    int state = tb_lock_probe(dir, &info);
    if (state < 0)
        return -1;
    if (state != TB_LOCK_HELD)
        return tb_fail("no process holds the lock of %s: it is not running (nothing was signalled)", dir);
    char host[256], exe[PATH_MAX];
    my_host(host, sizeof host);
    /* Below 2 is never a process of ours: kill(-1) would reach every process. */
    if (info.pid < 2 || info.pid > INT_MAX)
        return tb_fail("the lock of %s names no valid process (pid %ld); nothing was signalled", dir, info.pid);
    if (strcmp(info.host, host))
        return tb_fail("the process running %s is on %s, not this machine; stop it there", dir,
                       info.host[0] ? info.host : "an unknown host");
    pid_t pid = (pid_t)info.pid;
    /* A pidfd taken before the checks names that very process: a pid reused
     * after them gets nothing (kernels without pidfds: the window is the
     * few microseconds to the kill). */
    int pfd = -1;
#ifdef SYS_pidfd_open
    pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    unsigned long long started = start_time_of(info.pid);
    if (!started || started != info.start_time || exe_of(info.pid, exe, sizeof exe) || strcmp(exe, info.exe)) {
        if (pfd >= 0)
            close(pfd);
        return tb_fail("process %ld is not the one that locked %s (its start time or program differ: the pid was "
                       "reused); nothing was signalled",
                       info.pid, dir);
    }
    int lead = group && getpgid(pid) == pid, rc = 0, sent = 0;
#ifdef SYS_pidfd_send_signal
    if (pfd >= 0) {
        rc = (int)syscall(SYS_pidfd_send_signal, pfd, lead ? 0 : sig, NULL, 0); /* the group: alive still? */
        sent = !lead;
    }
#endif
    if (rc == 0 && !sent)
        rc = lead ? kill(-pid, sig) : kill(pid, sig);
    int err = errno;
    if (pfd >= 0)
        close(pfd);
    if (rc != 0)
        return tb_fail("cannot signal process %ld running %s: %s", info.pid, dir, strerror(err));
    return 0;
}

const char *tb_lock_status(const char *status, const char *dir, const char *dead)
{
    if (!status)
        return "unknown";
    if (strcmp(status, TB_STATUS_RUNNING) || tb_lock_alive(dir))
        return status;
    return dead;
}
