/* The Jobs screen's state: squeue polled without blocking, at most every
 * TB_SLURM_POLL_S seconds (tui/jobs.h). */
#include "tui/jobs.h" // uses: tui_jobs_init, tui_jobs, tui_jobs_refresh, tui_jobs_tick, tui_jobs_sweep_dir, ...

#include "core/error.h" // uses: tb_last_error, tb_fail
#include "slurm/jobs.h" // uses: TB_SLURM_POLL_S, tb_slurm_query_start, tb_slurm_job, TB_SLURM_MAX_JOBS, ...

#include <stdio.h>
#include <string.h>

void tui_jobs_init(tui_jobs *j)
{
    memset(j, 0, sizeof *j);
    j->q.fd = -1;
    j->last_start = -1;
}

void tui_jobs_refresh(tui_jobs *j) { j->last_start = -1; }

int tui_jobs_tick(tui_jobs *j, double now)
{
    if (!j->querying) {
        if (j->last_start >= 0 && now - j->last_start < TB_SLURM_POLL_S)
            return 0;
        j->last_start = now;
        if (tb_slurm_query_start(&j->q)) {
            int changed = strcmp(j->error, tb_last_error()) != 0;
            snprintf(j->error, sizeof j->error, "%s", tb_last_error());
            j->njobs = 0;
            return changed;
        }
        j->querying = 1;
    }
    static tb_slurm_job got[TB_SLURM_MAX_JOBS]; /* large; the workbench is single-threaded */
    int n = 0, refused = 0, rc = tb_slurm_query_poll(&j->q, got, TB_SLURM_MAX_JOBS, &n, &refused);
    if (rc == 0)
        return 0;
    j->querying = 0;
    j->answered = 1;
    if (rc < 0) { /* the last list stays, with the reason it is not newer */
        snprintf(j->error, sizeof j->error, "%s", tb_last_error());
        return 1;
    }
    j->error[0] = '\0';
    j->refused = refused;
    snprintf(j->refused_why, sizeof j->refused_why, "%s", refused ? tb_last_error() : "");
    /* the selection stays on the same job when it is still listed */
    char sel_id[32] = "";
    if (j->sel < j->njobs)
        snprintf(sel_id, sizeof sel_id, "%s", j->jobs[j->sel].id);
    memcpy(j->jobs, got, (size_t)n * sizeof *got);
    j->njobs = n;
    j->sel = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(j->jobs[i].id, sel_id))
            j->sel = i;
    return 1;
}

int tui_jobs_sweep_dir(const tui_jobs *j, char *out, size_t size)
{
    if (j->sel >= j->njobs)
        return tb_fail("no job chosen");
    const tb_slurm_job *job = &j->jobs[j->sel];
    if (strcmp(job->state, "RUNNING") != 0)
        return tb_fail("job %s is %s: the live view follows a running job", job->id, job->state);
    return tb_slurm_job_sweep_dir(job, out, size);
}

int tui_jobs_cancel_confirmed(tui_jobs *j)
{
    char id[sizeof j->confirm];
    snprintf(id, sizeof id, "%s", j->confirm);
    j->confirm[0] = '\0';
    if (!id[0])
        return tb_fail("no job to cancel");
    int rc = tb_slurm_cancel(id);
    tui_jobs_refresh(j);
    return rc;
}

void tui_jobs_free(tui_jobs *j)
{
    if (j->querying)
        tb_slurm_query_abort(&j->q);
    j->querying = 0;
}
