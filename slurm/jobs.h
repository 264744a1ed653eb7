/* The user's trainbench jobs in Slurm (issue 18): `squeue --me` run as a
 * child (execvp, never a shell) with a fixed --format whose fields are
 * separated by '|', parsed strictly, and `scancel` for one job.
 *
 * A trainbench job is one whose name starts with "tb-" (slurm/sbatch.c names
 * its jobs tb-PRESET[-CONFIG]); scripts written by `trainbench slurm` carry
 * `#SBATCH --comment=trainbench:RUNS_DIR`, which says where the sweep
 * directory is.  squeue's output is data from other users' jobs' names and
 * paths: a line that does not have exactly the expected fields, each of its
 * expected form, is refused (counted, never guessed at). */
#ifndef TB_SLURM_JOBS_H
#define TB_SLURM_JOBS_H

#include <stddef.h>
#include <sys/types.h>

enum { TB_SLURM_MAX_JOBS = 256, TB_SLURM_POLL_S = 10 };

typedef struct {
    char id[32];         /* "123" or an array task "123_4": digits and one '_' */
    char name[128];      /* tb-... */
    char state[24];      /* RUNNING, PENDING, COMPLETING, ... */
    char elapsed[24];    /* [days-][hours:]minutes:seconds as squeue prints it */
    int nodes;
    char nodelist[256];  /* "" while pending */
    char runs_dir[1024]; /* from the comment trainbench:DIR, made absolute with the work dir; "" unknown */
    char workdir[1024];
} tb_slurm_job;

/* The --format given to squeue: the fields one line holds, in order. */
extern const char TB_SLURM_SQUEUE_FORMAT[];

/* Parses one line of squeue output.  1: a trainbench job (in *j); 0: another
 * job of the user's; -1 after tb_fail: not a line of the expected form. */
int tb_slurm_parse_line(const char *line, tb_slurm_job *j);
/* Parses squeue's whole output: the trainbench jobs into jobs (at most max),
 * returns how many; *refused counts the lines refused (the first one's
 * reason stays in tb_last_error). */
int tb_slurm_parse(const char *text, tb_slurm_job *jobs, int max, int *refused);

/* 1 when an executable `prog` is on PATH. */
int tb_slurm_on_path(const char *prog);

/* A squeue run in progress: started, then polled without blocking. */
typedef struct {
    pid_t pid;
    int fd;
    char *out;
    size_t len, cap;
    double started; /* monotonic seconds */
    int eof;
} tb_slurm_query;

/* Starts squeue.  -1 after tb_fail ("Slurm not found (squeue is not on
 * PATH)" where it is absent). */
int tb_slurm_query_start(tb_slurm_query *q);
/* Reads what squeue wrote so far.  0: still running; 1: done, the jobs
 * parsed (count in *njobs, refused lines in *refused); -1 after tb_fail
 * (squeue failed, said too much or took over TB_SLURM_POLL_S seconds: it is
 * killed).  After 1 or -1 the query is finished. */
int tb_slurm_query_poll(tb_slurm_query *q, tb_slurm_job *jobs, int max, int *njobs, int *refused);
/* Kills and reaps a query still running; harmless on a finished one. */
void tb_slurm_query_abort(tb_slurm_query *q);
/* The same, waiting: the jobs, or -1 after tb_fail. */
int tb_slurm_jobs_list(tb_slurm_job *jobs, int max, int *refused);

/* 1 when id is a job id this module would pass to scancel. */
int tb_slurm_id_ok(const char *id);
/* `scancel ID` (waits at most TB_SLURM_POLL_S seconds); -1 after tb_fail. */
int tb_slurm_cancel(const char *id);

/* The sweep directory a job writes: the newest folder under its runs dir
 * whose plan.json names the preset the job name was made from.  -1 after
 * tb_fail when the job has no runs dir or none is readable here. */
int tb_slurm_job_sweep_dir(const tb_slurm_job *j, char *out, size_t size);

#endif
