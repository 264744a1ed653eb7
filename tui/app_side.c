/* The workbench's side screens glued to its state: the Resources panel's
 * sampling, the Jobs screen's keys, and mouse clicks (tui/app_side.h). */
#include "tui/app_side.h"

#include "core/error.h" // uses: tb_last_error
#include "rundir/rundir.h" // uses: tb_rundir_id_ok
#include "tui/jobs.h" // uses: tui_jobs, tui_jobs_refresh, tui_jobs_sweep_dir
#include "tui/layout.h" // uses: tui_layout, tui_layout_compute, tui_tab_at, tui_list_row_at, tui_list_first, ...
#include "tui/resources.h" // uses: tui_res_asked, tui_res_tick

#include <curses.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Cores the followed configuration asked for, from its config.json, read
 * again only when the configuration changes. */
static double run_asked(const tui_app *a, int ncpu)
{
    static char id[128];
    static double asked;
    if (strcmp(id, a->live.cur_id) || !(asked > 0)) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%.3000s/%.127s/config.json", a->live.sweep_dir, a->live.cur_id);
        /* an id from summary.json joins the sweep folder only when it is a plain name */
        asked = tb_rundir_id_ok(a->live.cur_id) ? tui_res_asked(path, ncpu) : 0;
        snprintf(id, sizeof id, "%s", a->live.cur_id);
    }
    return asked;
}

/* At most once a second: GPU and host readings for the panel. */
void tui_app_sample_resources(tui_app *a)
{
    struct timespec ts;
    if (!a->res || clock_gettime(CLOCK_MONOTONIC, &ts))
        return;
    int running = tui_live_running(&a->live) && a->live.pid > 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    tui_res_tick(a->res, (double)ts.tv_sec + ts.tv_nsec / 1e9, running ? (long)a->live.pid : 0,
                 running ? run_asked(a, ncpu > 0 ? (int)ncpu : 1) : 0, "/proc");
}

/* The Jobs screen's keys: choose, r ask squeue now, Enter follow a running
 * job's sweep in the Live view, x/Delete ask to cancel it. */
void tui_app_jobs_key(tui_app *a, int k, int up, int down, int home_end, int enter)
{
    tui_jobs *j = a->jobs;
    if (up && j->sel > 0)
        j->sel--;
    if (down && j->sel + 1 < j->njobs)
        j->sel++;
    if (home_end)
        j->sel = home_end == 1 || !j->njobs ? 0 : j->njobs - 1;
    if (k == 27)
        a->screen = SCR_LIVE;
    if (k == 'r') {
        tui_jobs_refresh(j);
        tui_say(a, 0, "%s", "asking squeue");
    }
    if ((k == 'x' || k == KEY_DC) && j->sel < j->njobs)
        snprintf(j->confirm, sizeof j->confirm, "%s", j->jobs[j->sel].id);
    if (enter && j->sel < j->njobs) {
        char dir[PATH_MAX];
        if (tui_live_running(&a->live) && a->live.ours)
            tui_say(a, 1, "%s", "a sweep started here is running: the Live view follows it (3)");
        else if (tui_jobs_sweep_dir(j, dir, sizeof dir))
            tui_say(a, 1, "%s", tb_last_error());
        else {
            tui_live_attach(&a->live, dir, 0, 0); /* not ours: its lock and status say whether it runs */
            a->screen = SCR_LIVE;
            tui_say(a, 0, "following %s", dir);
        }
    }
}

/* A left click: a tab in the header switches to it (as its digit would);
 * a row of the Presets, Parameters or Results list selects it. */
int tui_app_click(tui_app *a, int x, int y, int cols, int rows)
{
    tui_layout l = tui_layout_compute(cols, rows);
    int tab = y == l.header.y ? tui_tab_at(x) : -1;
    if (tab >= 0)
        return tab;
    if (a->screen == SCR_PRESETS && x > l.list.x && x < l.list.x + l.list.w - 1 && y > l.list.y &&
        y < l.list.y + l.list.h - 1) {
        int lines = l.list.h - 2, sel = tui_preset_line(a, a->psel), first = sel >= lines ? sel - lines + 1 : 0;
        for (int i = 0; i < a->npresets; i++)
            if (tui_preset_line(a, i) == first + y - l.list.y - 1)
                a->psel = i; /* a heading selects nothing */
        return -1;
    }
    int row = tui_list_row_at(&l, a->screen == SCR_PARAMS, x, y);
    if (row < 0)
        return -1;
    if (a->screen == SCR_PARAMS && a->base && !a->editing) {
        int first = tui_list_first(a->parsel, tui_list_rows(&l, 1));
        if (first + row < a->nparams)
            a->parsel = first + row;
    } else if (a->screen == SCR_RESULTS) {
        int first = tui_list_first(a->rsel, tui_list_rows(&l, 0));
        if (first + row < a->nresults)
            a->rsel = first + row;
    }
    return -1;
}
