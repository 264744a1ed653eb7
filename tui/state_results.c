/* The Results screen's state: sweeps and loose runs under the runs folder,
 * their tables (built exactly as `trainbench export` builds them) and the
 * Markdown export. */
#include "tui/state.h" // uses: tui_result_item, tui_results_scan, tui_app, tui_results_find_running, ...

#include "core/error.h" // uses: tb_fail
#include "core/json.h" // uses: tb_json_copy, tb_json_str, tb_json_get, tb_json_arr, tb_json_int, tb_json_num
#include "lab/export.h" // uses: tb_export_string, TB_EXPORT_MD, tb_text_write_atomic
#include "lab/results.h" // uses: tb_sweep_effective_status, tb_run_effective_status, tb_results_match
#include "rundir/lock.h" // uses: tb_lock_info, tb_lock_probe, TB_LOCK_HELD
#include "rundir/rundir.h" // uses: TB_STATUS_STARTING, TB_STATUS_COMPLETED, tb_json_read_file, TB_STATUS_RUNNING

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Newest first, as `trainbench results` lists them: by the start time the
 * files record, then by folder name; entries without a time last. */
static int result_cmp(const void *x, const void *y)
{
    const tui_result_item *a = x, *b = y;
    int ka = isfinite(a->started), kb = isfinite(b->started);
    if (ka != kb)
        return kb - ka;
    if (ka && a->started != b->started)
        return a->started < b->started ? 1 : -1;
    return strcmp(b->name, a->name);
}

static double time_or_nan(double t) { return t > 0 && t < 1e12 ? t : NAN; }

static void fill_sweep(tui_result_item *r, struct json_object *pj, struct json_object *sj)
{
    tb_json_copy(r->preset, sizeof r->preset, pj, "preset", "?");
    tb_json_copy(r->scale, sizeof r->scale, pj, "scale", "?");
    const char *st = sj ? tb_sweep_effective_status(tb_json_str(sj, "status", NULL), r->dir) : TB_STATUS_STARTING;
    snprintf(r->status, sizeof r->status, "%s", st);
    struct json_object *counts = tb_json_get(sj, "counts"), *cfgs = tb_json_arr(sj, "configs");
    r->total = tb_json_int(counts, "total", 0);
    r->completed = tb_json_int(counts, TB_STATUS_COMPLETED, 0);
    r->final_acc = NAN;
    r->started = time_or_nan(tb_json_num(sj ? sj : pj, sj ? "started_at" : "created_at", NAN));
    for (size_t i = 0; cfgs && i < json_object_array_length(cfgs); i++) {
        struct json_object *c = json_object_array_get_idx(cfgs, i);
        double w = tb_json_num(c, "wall_s", NAN);
        r->wall_s += isfinite(w) ? w : 0;
        const char *st = tb_json_str(c, "status", NULL);
        if (st && !strcmp(st, TB_STATUS_COMPLETED) && isfinite(w))
            r->done_wall_s += w;
        const char *why = tb_json_str(c, "error", NULL); /* the first failure's reason, whole */
        if (why && *why && !r->error[0])
            snprintf(r->error, sizeof r->error, "%s: %s", tb_json_str(c, "id", "?"), why);
    }
}

/* A loose run: the model in the preset column, epochs as the counts. */
static void fill_run(tui_result_item *r, struct json_object *rj)
{
    r->run = 1;
    struct json_object *cfg = tb_json_get(rj, "config"), *sum = tb_json_get(rj, "summary");
    tb_json_copy(r->preset, sizeof r->preset, cfg, "model", "?");
    snprintf(r->scale, sizeof r->scale, "-");
    snprintf(r->status, sizeof r->status, "%s", tb_run_effective_status(tb_json_str(rj, "status", NULL), r->dir));
    r->completed = tb_json_int(sum, "epochs_completed", 0);
    r->total = tb_json_int(cfg, "epochs", 0);
    double w = tb_json_num(sum, "wall_s", NAN);
    r->wall_s = isfinite(w) ? w : 0;
    r->final_acc = tb_json_num(sum, "final_test_acc", NAN);
    r->started = time_or_nan(tb_json_num(rj, "started_at", NAN));
    tb_json_copy(r->error, sizeof r->error, rj, "error", "");
}

static struct json_object *read_json(const char *dir, const char *name)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, R_OK) == 0 ? tb_json_read_file(path) : NULL;
}

int tui_results_scan(tui_app *a)
{
    free(a->results);
    a->results = NULL;
    a->nresults = 0;
    DIR *d = opendir(a->runs_dir);
    if (!d)
        return 0;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char dir[1300];
        snprintf(dir, sizeof dir, "%.1000s/%.255s", a->runs_dir, e->d_name);
        struct json_object *pj = read_json(dir, "plan.json"), *sj = NULL, *rj = NULL;
        if (pj)
            sj = read_json(dir, "summary.json");
        else if (!(rj = read_json(dir, "result.json")))
            continue; /* neither a sweep nor a run (or unreadable) */
        if (a->nresults == cap) {
            int nc = cap ? cap * 2 : 16;
            tui_result_item *nr = realloc(a->results, (size_t)nc * sizeof *nr);
            if (!nr) {
                json_object_put(pj);
                json_object_put(sj);
                json_object_put(rj);
                break;
            }
            a->results = nr;
            cap = nc;
        }
        tui_result_item *r = &a->results[a->nresults++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%.255s", e->d_name);
        snprintf(r->dir, sizeof r->dir, "%.700s/%.255s", a->runs_dir, e->d_name);
        if (pj)
            fill_sweep(r, pj, sj);
        else
            fill_run(r, rj);
        json_object_put(pj);
        json_object_put(sj);
        json_object_put(rj);
        const char *fields[] = {r->name, r->preset, r->status, r->run ? "run" : "sweep"};
        if (!tb_results_match(a->filter, fields, 4))
            a->nresults--; /* filtered out: the slot is reused */
    }
    closedir(d);
    if (a->nresults)
        qsort(a->results, (size_t)a->nresults, sizeof *a->results, result_cmp);
    if (a->rsel >= a->nresults)
        a->rsel = a->nresults ? a->nresults - 1 : 0;
    if (a->mark >= a->nresults)
        a->mark = -1;
    return 0;
}

int tui_results_find_running(const tui_app *a, pid_t *pid)
{
    for (int i = 0; i < a->nresults; i++) {
        if (a->results[i].run || strcmp(a->results[i].status, TB_STATUS_RUNNING))
            continue;
        /* The lock's holder, not summary.json's pid (stale, reused or crafted). */
        tb_lock_info info;
        if (tb_lock_probe(a->results[i].dir, &info) != TB_LOCK_HELD || info.pid < 2)
            continue;
        *pid = (pid_t)info.pid;
        return i;
    }
    return -1;
}

int tui_results_chosen(const tui_app *a, const char *dirs[2])
{
    if (a->rsel < 0 || a->rsel >= a->nresults)
        return 0;
    if (a->mark < 0 || a->mark == a->rsel || a->mark >= a->nresults) {
        dirs[0] = a->results[a->rsel].dir;
        return 1;
    }
    /* The list is newest first: the larger index is the older entry. */
    int older = a->mark > a->rsel ? a->mark : a->rsel, newer = a->mark > a->rsel ? a->rsel : a->mark;
    dirs[0] = a->results[older].dir;
    dirs[1] = a->results[newer].dir;
    return 2;
}

static void free_tables(tui_app *a)
{
    for (int i = 0; i < a->ntables; i++)
        tb_table_free(&a->tables[i]);
    a->ntables = 0;
}

int tui_results_open(tui_app *a)
{
    const char *dirs[2];
    int n = tui_results_chosen(a, dirs);
    if (!n)
        return tb_fail("no sweep or run selected");
    free_tables(a);
    /* Sweeps first, then one table of the loose runs: the order of
     * `trainbench export`. */
    char *runs[2];
    int nruns = 0, nsweeps = 0;
    for (int i = 0; i < n; i++) {
        struct json_object *pj = read_json(dirs[i], "plan.json");
        if (!pj) {
            runs[nruns++] = (char *)dirs[i];
            continue;
        }
        json_object_put(pj);
        if (tb_table_from_sweep(dirs[i], &a->tables[a->ntables])) {
            free_tables(a);
            return -1;
        }
        a->ntables++;
        nsweeps++;
    }
    if (nsweeps == 2 && !strcmp(a->tables[0].preset, a->tables[1].preset) &&
        a->tables[0].ncols == a->tables[1].ncols) {
        tb_table merged;
        if (tb_table_merge(a->tables, 2, &merged)) {
            free_tables(a);
            return -1;
        }
        free_tables(a);
        a->tables[0] = merged;
        a->ntables = 1;
    }
    if (nruns) {
        if (tb_table_from_runs(runs, nruns, &a->tables[a->ntables])) {
            free_tables(a);
            return -1;
        }
        a->ntables++;
    }
    a->tsel = 0;
    a->tcol = 1;
    return 0;
}

int tui_results_rows(const tui_app *a)
{
    int n = 0;
    for (int i = 0; i < a->ntables; i++)
        n += a->tables[i].nrows;
    return n;
}

int tui_results_export(tui_app *a, const char *path)
{
    if (!a->ntables)
        return tb_fail("open a sweep's table first");
    char *text = tb_export_string(a->tables, a->ntables, TB_EXPORT_MD);
    if (!text)
        return -1;
    if (tb_text_write_atomic(path, text)) {
        free(text);
        return -1;
    }
    free(a->export_text);
    a->export_text = text;
    snprintf(a->export_path, sizeof a->export_path, "%s", path);
    a->export_scroll = 0;
    return 0;
}
