/* The Jobs screen (issue 18): the user's trainbench jobs from Slurm
 * (slurm/jobs.h), asked for at most every TB_SLURM_POLL_S seconds while the
 * screen shows, squeue running as a child that is read when it has answered,
 * so the workbench never waits on slurmctld; a running job's sweep directory
 * opened in the Live view; scancel after a y/n question. */
#ifndef TUI_JOBS_H
#define TUI_JOBS_H

#include "slurm/jobs.h" // uses: tb_slurm_job, TB_SLURM_MAX_JOBS, tb_slurm_query
#include "tui/cells.h" // uses: tui_buf, tui_rect

typedef struct tui_jobs {
    tb_slurm_job jobs[TB_SLURM_MAX_JOBS];
    int njobs, sel;
    int answered;       /* squeue has answered at least once */
    int refused;        /* lines of squeue's last answer refused (tb_slurm_parse) */
    char refused_why[256];
    char error[512];    /* "Slurm not found (squeue is not on PATH)", or why squeue failed; "" fine */
    tb_slurm_query q;
    int querying;       /* q is running */
    double last_start;  /* monotonic seconds of the last squeue started; < 0 never */
    char confirm[32];   /* the job id the y/n question is about; "" none */
} tui_jobs;

void tui_jobs_init(tui_jobs *j);
/* Reads squeue's answer when it is there, and starts squeue when none runs
 * and TB_SLURM_POLL_S seconds have passed since the last one started (at
 * once after tui_jobs_refresh).  Returns 1 when the list changed. */
int tui_jobs_tick(tui_jobs *j, double now);
/* The next tick asks squeue again. */
void tui_jobs_refresh(tui_jobs *j);
/* The selected job's sweep directory for the Live view: a running job's,
 * readable here.  -1 after tb_fail (the reason for the status line). */
int tui_jobs_sweep_dir(const tui_jobs *j, char *out, size_t size);
/* scancel of the job the question was about (j->confirm), then a refresh;
 * -1 after tb_fail. */
int tui_jobs_cancel_confirmed(tui_jobs *j);
/* Kills a squeue still running. */
void tui_jobs_free(tui_jobs *j);

/* The screen's body. */
void tui_draw_jobs(tui_buf *b, tui_rect body, const tui_jobs *j);

#endif
