/* The Jobs screen's body: the user's trainbench jobs from squeue. */
#include "tui/jobs.h" // uses: tui_draw_jobs, tui_jobs

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JCOLS = 7, JCELL = 160 };

void tui_draw_jobs(tui_buf *b, tui_rect r, const tui_jobs *j)
{
    char title[96];
    snprintf(title, sizeof title, "Jobs (your trainbench jobs in Slurm, asked every %d s)", TB_SLURM_POLL_S);
    tui_box(b, r, title, TUI_C_DIM);
    int y = r.y + 1;
    if (j->error[0]) /* Slurm absent or squeue failing: the last list, if any, stays below */
        tui_text(b, r.x + 2, y++, r.w - 4, j->error, TUI_C_ERR | TUI_A_BOLD);
    if (j->refused)
        tui_textf(b, r.x + 2, y++, r.w - 4, TUI_C_WARN, "%d line%s of squeue's answer refused: %s", j->refused,
                  j->refused == 1 ? "" : "s", j->refused_why);
    if (!j->njobs) {
        if (!j->error[0])
            tui_text(b, r.x + 2, y + 1, r.w - 4,
                     !j->answered ? "Asking squeue..." : "No trainbench jobs (job names tb-...) in the queue.",
                     TUI_C_DIM);
        return;
    }
    int n = j->njobs;
    char **cells = calloc((size_t)n * JCOLS, sizeof *cells);
    char *store = calloc((size_t)n * JCOLS, JCELL);
    if (!cells || !store) {
        free(cells);
        free(store);
        return;
    }
    for (int i = 0; i < n; i++) {
        const tb_slurm_job *job = &j->jobs[i];
        char *c = store + (size_t)i * JCOLS * JCELL;
        snprintf(c, JCELL, "%s", job->id);
        snprintf(c + JCELL, JCELL, "%.100s", job->name);
        snprintf(c + 2 * JCELL, JCELL, "%s", job->state);
        snprintf(c + 3 * JCELL, JCELL, "%s", job->elapsed);
        snprintf(c + 4 * JCELL, JCELL, "%d", job->nodes);
        snprintf(c + 5 * JCELL, JCELL, "%.100s", job->nodelist[0] ? job->nodelist : "-");
        /* the end of a long path says more than its start */
        size_t len = strlen(job->runs_dir);
        snprintf(c + 6 * JCELL, JCELL, "%s%s", len > JCELL - 8 ? "..." : "",
                 !len ? "(no trainbench:DIR comment)" : job->runs_dir + (len > JCELL - 8 ? len - (JCELL - 8) : 0));
        for (int k = 0; k < JCOLS; k++)
            cells[i * JCOLS + k] = c + k * JCELL;
    }
    static const char *const hdr[JCOLS] = {"job", "name", "state", "elapsed", "nodes", "node list", "runs dir"};
    static const int right[JCOLS] = {1, 0, 0, 1, 1, 0, 0};
    int bottom = j->confirm[0] ? 2 : 1;
    tui_table(b, (tui_rect){r.x + 1, y, r.w - 2, r.y + r.h - y - bottom}, JCOLS, hdr, (const char *const *)cells, n,
              right, j->sel, NULL);
    if (j->confirm[0])
        tui_textf(b, r.x + 2, r.y + r.h - 2, r.w - 4, TUI_C_WARN | TUI_A_BOLD, "cancel job %s? y/n", j->confirm);
    free(cells);
    free(store);
}
