/* The workbench's Jobs screen (issue 18) with stand-in squeue and scancel
 * scripts on PATH: "Slurm not found" without squeue; squeue's answer read
 * without blocking, trainbench jobs listed and drawn, a hostile line refused
 * and said so; squeue asked again only once TB_SLURM_POLL_S seconds have
 * passed (the clock is the test's, so nothing depends on timing); the sweep
 * directory Enter follows; scancel with the job id after the question; a
 * failing squeue's message.  The real Slurm: tests/test_slurm_jobs.sh. */
#include "check.h"
#include "core/error.h" // uses: tb_last_error
#include "core/fsutil.h" // uses: tb_write_atomic
#include "tui/jobs.h" // uses: tui_jobs, tui_jobs_tick, tui_draw_jobs, tui_jobs_init, tui_jobs_refresh, ...
#include "tui/screens.h" // uses: tui_draw
#include "tui/state.h" // uses: tui_app, tui_app_init, SCR_JOBS, tui_app_free

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmp[] = "/tmp/tb_tui_jobs_XXXXXX";

static void write_file(const char *name, const char *text, int exec)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    unlink(path);
    CHECK(tb_write_atomic(path, text, strlen(text)) == 0, "%s", tb_last_error());
    CHECK(!exec || chmod(path, 0755) == 0, "chmod %s", path);
}

static int lines_of(const char *name)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n++;
    if (f)
        fclose(f);
    return n;
}

/* Ticks at the test's time `now` until squeue has answered (bounded). */
static void answer(tui_jobs *j, double now)
{
    tui_jobs_tick(j, now);
    for (int i = 0; i < 1000 && j->querying; i++) {
        struct timespec t = {0, 5 * 1000 * 1000};
        nanosleep(&t, NULL);
        tui_jobs_tick(j, now);
    }
    CHECK(!j->querying, "%s", "squeue never answered");
}

static int drawn(const tui_jobs *j, const char *want)
{
    tui_buf b;
    char row[600];
    int found = 0;
    if (tui_buf_init(&b, 120, 20, 1))
        return 0;
    tui_draw_jobs(&b, (tui_rect){0, 0, 120, 20}, j);
    for (int y = 0; y < 20 && !found; y++) {
        tui_buf_row(&b, y, row, sizeof row);
        found = strstr(row, want) != NULL;
    }
    tui_buf_free(&b);
    return found;
}

int main(void)
{
    CHECK(mkdtemp(tmp) != NULL, "%s", "mkdtemp");
    static tui_jobs j;
    tui_jobs_init(&j);
    /* no squeue */
    setenv("PATH", tmp, 1);
    CHECK(tui_jobs_tick(&j, 100) == 1 && !strcmp(j.error, "Slurm not found (squeue is not on PATH)"), "error: %s",
          j.error);
    CHECK(drawn(&j, "Slurm not found (squeue is not on PATH)"), "%s", "the message is not drawn");

    /* squeue: one trainbench job, another job, a line with a '|' too many */
    char script[2048], path[600];
    snprintf(script, sizeof script,
             "#!/bin/sh\nprintf '%%s\\n' \"$*\" >>'%s/squeue.calls'\n"
             "printf '101|tb-lab|RUNNING|1:05|1|node1|trainbench:runs|%s\\n'\n"
             "printf '202|jupyter|RUNNING|9:00|1|node2|(null)|/home\\n'\n"
             "printf '303|tb-x|PENDING|0:00|2||(null)|/w|/evil\\n'\n",
             tmp, tmp);
    write_file("squeue", script, 1);
    snprintf(script, sizeof script, "#!/bin/sh\nprintf '%%s\\n' \"$*\" >>'%s/scancel.calls'\n", tmp);
    write_file("scancel", script, 1);
    tui_jobs_refresh(&j);
    answer(&j, 200);
    CHECK(!j.error[0], "error: %s", j.error);
    CHECK(j.njobs == 1 && !strcmp(j.jobs[0].id, "101") && j.refused == 1, "jobs %d refused %d", j.njobs, j.refused);
    CHECK(drawn(&j, "101") && drawn(&j, "tb-lab") && drawn(&j, "RUNNING") && drawn(&j, "1:05") &&
              drawn(&j, "node1") && drawn(&j, "/runs") && !drawn(&j, "jupyter"),
          "%s", "the job's row");
    CHECK(drawn(&j, "1 line of squeue's answer refused"), "%s", "the refused line is not reported");
    snprintf(path, sizeof path, "%s/squeue.calls", tmp);
    FILE *f = fopen(path, "r");
    char args[256] = "";
    CHECK(f && fgets(args, sizeof args, f), "%s", "squeue's arguments");
    if (f)
        fclose(f);
    CHECK(!strcmp(args, "--me --noheader --format=%i|%j|%T|%M|%D|%N|%k|%Z\n"), "squeue got: %s", args);

    /* the whole frame: the tab, the hints; TUI_JOBS_CAPTURE=FILE writes it (docs/tui-screens.md) */
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", tb_last_error());
    app.jobs = &j;
    app.screen = SCR_JOBS;
    tui_buf fb;
    char row[600];
    CHECK(tui_buf_init(&fb, 120, 24, 1) == 0, "%s", "buffer");
    tui_draw(&app, &fb);
    tui_buf_row(&fb, 0, row, sizeof row);
    CHECK(strstr(row, " 6 Jobs ") != NULL, "header: %s", row);
    tui_buf_row(&fb, 23, row, sizeof row);
    CHECK(strstr(row, "x/Del cancel") != NULL, "hints: %s", row);
    const char *cap = getenv("TUI_JOBS_CAPTURE");
    FILE *cf = cap ? fopen(cap, "w") : NULL;
    for (int y = 0; cf && y < 24; y++) {
        tui_buf_row(&fb, y, row, sizeof row);
        fprintf(cf, "%s\n", row);
    }
    if (cf)
        fclose(cf);
    tui_buf_free(&fb);
    tui_app_free(&app);

    /* at most every TB_SLURM_POLL_S seconds */
    tui_jobs_tick(&j, 200 + TB_SLURM_POLL_S - 1);
    CHECK(!j.querying && lines_of("squeue.calls") == 1, "asked again after %d s", TB_SLURM_POLL_S - 1);
    answer(&j, 200 + TB_SLURM_POLL_S);
    CHECK(lines_of("squeue.calls") == 2, "not asked again after %d s", TB_SLURM_POLL_S);

    /* Enter: the newest sweep of the job's preset under its runs dir */
    snprintf(path, sizeof path, "%s/runs", tmp);
    CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
    snprintf(path, sizeof path, "%s/runs/2026-12-06_07-00-00-lab", tmp);
    CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
    write_file("runs/2026-12-06_07-00-00-lab/plan.json", "{\"preset\": \"lab\"}", 0);
    char dir[1200];
    CHECK(tui_jobs_sweep_dir(&j, dir, sizeof dir) == 0 && !strcmp(dir, path), "sweep dir %s: %s", dir,
          tb_last_error());

    /* x, then y: scancel 101, and the list asked for again */
    snprintf(j.confirm, sizeof j.confirm, "%s", j.jobs[0].id);
    CHECK(drawn(&j, "cancel job 101? y/n"), "%s", "the question");
    CHECK(tui_jobs_cancel_confirmed(&j) == 0, "cancel: %s", tb_last_error());
    snprintf(path, sizeof path, "%s/scancel.calls", tmp);
    f = fopen(path, "r");
    args[0] = '\0';
    CHECK(f && fgets(args, sizeof args, f) && !strcmp(args, "101\n"), "scancel got: %s", args);
    if (f)
        fclose(f);
    CHECK(!j.confirm[0] && j.last_start < 0, "%s", "after the cancel: question cleared, list asked for again");

    /* squeue failing: its message, the last list kept */
    snprintf(script, sizeof script, "#!/bin/sh\necho 'squeue: error: Unable to contact slurm controller' >&2\nexit 1\n");
    write_file("squeue", script, 1);
    answer(&j, 300);
    CHECK(strstr(j.error, "Unable to contact slurm controller") && j.njobs == 1, "failing squeue: %s (%d jobs)",
          j.error, j.njobs);
    tui_jobs_free(&j);
    setenv("PATH", "/usr/bin:/bin", 1);
    snprintf(script, sizeof script, "rm -rf '%s'", tmp);
    CHECK(system(script) == 0, "%s", "cleanup");
    return check_finish();
}
