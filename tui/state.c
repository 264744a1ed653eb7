/* Workbench state: the presets list and following a running sweep
 * (parameters: state_params.c; results: state_results.c). */
#include "tui/state.h"
#include "rundir/train_report.h" // uses: TB_PHASE_COUNT, tb_phase_name, tb_phase

#include "core/error.h" // uses: tb_last_error
#include "core/fsutil.h" // uses: tb_fopen_regular
#include "core/json.h" // uses: tb_json_str, tb_json_num, tb_json_int, tb_json_obj, tb_json_copy, tb_json_get, ...
#include "lab/results.h" // uses: tb_sweep_effective_status, tb_run_effective_status
#include "rundir/rundir.h" // uses: TB_STATUS_STARTING, TB_STATUS_PENDING, tb_json_read_file, TB_STATUS_RUNNING, ...

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tui_app_init(tui_app *a, const char *runs_dir, const char *user_presets_dir)
{
    memset(a, 0, sizeof *a);
    a->mark = -1;
    a->sweep_size = -1;
    a->smoke = 1;
    a->live.cur = -1;
    snprintf(a->runs_dir, sizeof a->runs_dir, "%s", runs_dir && *runs_dir ? runs_dir : "runs");
    snprintf(a->user_presets_dir, sizeof a->user_presets_dir, "%s", user_presets_dir ? user_presets_dir : "");
    /* The shipped folder is where the engine finds quickstart. */
    char path[PATH_MAX];
    if (tb_preset_resolve("quickstart", path, sizeof path) == 0)
        snprintf(a->presets_dir, sizeof a->presets_dir, "%s", dirname(path));
    else
        snprintf(a->presets_dir, sizeof a->presets_dir, "presets");
    return 0;
}

void tui_app_free(tui_app *a)
{
    free(a->presets);
    free(a->base);
    free(a->results);
    for (int i = 0; i < a->ntables; i++)
        tb_table_free(&a->tables[i]);
    free(a->export_text);
    memset(a, 0, sizeof *a);
}

static int preset_cmp(const void *x, const void *y)
{
    const tui_preset_item *a = x, *b = y;
    int c = strcmp(a->lab, b->lab);
    return c ? c : strcmp(a->name, b->name);
}

static int count_configs(const tb_preset *p, int smoke, int *epochs)
{
    tb_plan plan;
    if (tb_plan_expand(p, smoke, &plan))
        return -1;
    int n = plan.count;
    if (epochs && n > 0)
        *epochs = plan.entries[0].cfg.epochs;
    tb_plan_free(&plan);
    return n;
}

static int scan_dir(tui_app *a, const char *dir, int user, int *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* a missing folder just contributes nothing */
    tb_preset *p = malloc(sizeof *p);
    if (!p) {
        closedir(d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".ini") || e->d_name[0] == '.')
            continue;
        if (a->npresets == *cap) {
            int nc = *cap ? *cap * 2 : 32;
            tui_preset_item *np = realloc(a->presets, (size_t)nc * sizeof *np);
            if (!np)
                break;
            a->presets = np;
            *cap = nc;
        }
        tui_preset_item *it = &a->presets[a->npresets++];
        memset(it, 0, sizeof *it);
        it->user = user;
        snprintf(it->path, sizeof it->path, "%s/%s", dir, e->d_name);
        snprintf(it->name, sizeof it->name, "%.*s", (int)(l - 4), e->d_name);
        if (tb_preset_load(it->path, p)) {
            snprintf(it->error, sizeof it->error, "%s", tb_last_error());
            snprintf(it->lab, sizeof it->lab, "(invalid)");
            continue;
        }
        snprintf(it->title, sizeof it->title, "%s", p->title);
        snprintf(it->lab, sizeof it->lab, "%s", p->lab);
        snprintf(it->question, sizeof it->question, "%s", p->question);
        it->configs_full = count_configs(p, 0, &it->epochs);
        it->configs_smoke = count_configs(p, 1, &it->epochs_smoke);
    }
    free(p);
    closedir(d);
    return 0;
}

int tui_presets_scan(tui_app *a)
{
    int cap = 0;
    free(a->presets);
    a->presets = NULL;
    a->npresets = 0;
    if (scan_dir(a, a->presets_dir, 0, &cap))
        return -1;
    if (a->user_presets_dir[0] && strcmp(a->user_presets_dir, a->presets_dir) && scan_dir(a, a->user_presets_dir, 1, &cap))
        return -1;
    if (a->npresets)
        qsort(a->presets, (size_t)a->npresets, sizeof *a->presets, preset_cmp);
    /* Estimates from the newest sweep of the preset at each scale with
     * finished configurations: their mean wall time x the configurations
     * the preset has now (a stopped sweep still gives one). */
    for (int i = 0; i < a->nresults; i++) {
        const tui_result_item *r = &a->results[i];
        if (r->run || r->completed < 1 || !(r->done_wall_s > 0))
            continue;
        for (int k = 0; k < a->npresets; k++) {
            tui_preset_item *it = &a->presets[k];
            if (strcmp(it->name, r->preset))
                continue;
            int smoke = !strcmp(r->scale, "smoke");
            double *est = smoke ? &it->est_smoke_s : &it->est_full_s;
            int n = smoke ? it->configs_smoke : it->configs_full;
            if (*est == 0 && n > 0) /* results are newest first */
                *est = r->done_wall_s / r->completed * n;
        }
    }
    if (a->psel >= a->npresets)
        a->psel = a->npresets ? a->npresets - 1 : 0;
    return 0;
}

/* ---- following a sweep ---- */

void tui_live_attach(tui_live *l, const char *sweep_dir, pid_t pid, int ours)
{
    memset(l, 0, sizeof *l);
    l->active = 1;
    l->cur = -1;
    l->t_first = NAN;
    l->pid = pid;
    l->ours = ours;
    snprintf(l->sweep_dir, sizeof l->sweep_dir, "%s", sweep_dir);
    snprintf(l->status, sizeof l->status, TB_STATUS_STARTING);
}

static void live_reset_run(tui_live *l)
{
    l->ev_offset = 0;
    l->epoch = l->epochs = l->batch = l->batches = 0;
    l->ips = l->bps_ema = l->eta_s = l->last_t = l->loss = 0;
    l->last_batch = 0;
    l->nep = 0;
    l->nloss = 0;
    l->evaluating = 0;
    l->epoch_wall = 0;
}

double tui_eta_smooth(double prev, double sample, double dt, double w)
{
    if (!isfinite(sample) || sample < 0)
        return prev;
    if (!isfinite(prev) || prev <= 0)
        return sample;
    /* The old estimate has run down by dt since it was made. */
    double aged = prev - (isfinite(dt) && dt > 0 ? dt : 0);
    aged = aged > 0 ? aged : 0;
    return (1 - w) * aged + w * sample;
}

double tui_sweep_remaining(const tui_live *l)
{
    /* This configuration: the rest of its epoch, then its other epochs at
     * the mean length of those finished (or this one's projected length). */
    double epoch_len = l->nep > 0 && l->epoch_wall > 0 ? l->epoch_wall / l->nep
                       : l->bps_ema > 0 && l->batches > 0 ? l->batches / l->bps_ema
                                                          : NAN;
    double rest = l->bps_ema > 0 && l->batches > 0 ? (l->batches - l->batch) / l->bps_ema : 0;
    int epochs_after = l->epochs > l->epoch ? l->epochs - l->epoch : 0;
    double cur = rest + (epochs_after ? epochs_after * epoch_len : 0);
    /* The configurations still to run: the mean wall time of those done,
     * else this one's projected total. */
    double done_wall = 0;
    int done = 0, pending = 0;
    for (int i = 0; i < l->nconfigs; i++) {
        if (!strcmp(l->configs[i].status, TB_STATUS_PENDING))
            pending++;
        else if (i != l->cur && isfinite(l->configs[i].wall_s) && l->configs[i].wall_s > 0) {
            done_wall += l->configs[i].wall_s;
            done++;
        }
    }
    double per = done ? done_wall / done : isfinite(epoch_len) && l->epochs > 0 ? epoch_len * l->epochs : NAN;
    if (!isfinite(cur) || (pending && !isfinite(per)))
        return NAN;
    return cur + pending * (pending ? per : 0);
}

void tui_live_event(tui_live *l, struct json_object *ev)
{
    const char *type = tb_json_str(ev, "event", NULL);
    if (!type)
        return;
    double t = tb_json_num(ev, "time", NAN);
    if (isfinite(t)) {
        if (!isfinite(l->t_first))
            l->t_first = t;
        l->t_now = t > l->t_now ? t : l->t_now;
    }
    if (!strcmp(type, "eval_start")) {
        l->evaluating = 1;
        l->batch = l->batches;
        l->eta_s = 0;
    } else if (!strcmp(type, "epoch_start")) {
        l->evaluating = 0;
        l->epoch = tb_json_int(ev, "epoch", 0);
        l->epochs = tb_json_int(ev, "epochs", 0);
        l->batches = tb_json_int(ev, "batches", 0);
        l->batch = 0;
        l->last_batch = 0;
        l->last_t = t;
    } else if (!strcmp(type, "progress")) {
        int batch = tb_json_int(ev, "batch", 0);
        l->epoch = tb_json_int(ev, "epoch", 0);
        l->batches = tb_json_int(ev, "batches", 0);
        l->ips = tb_json_num(ev, "images_per_s", NAN);
        double mean = tb_json_num(ev, "loss", NAN);
        /* The curve plots each interval's own mean loss (from the running
         * means at its two ends), not the epoch's running mean, which starts
         * over at every epoch and makes a jump there. */
        double point = mean;
        if (isfinite(mean) && isfinite(l->loss) && l->last_batch > 0 && batch > l->last_batch)
            point = (mean * batch - l->loss * l->last_batch) / (batch - l->last_batch);
        l->loss = mean;
        if (isfinite(point)) {
            if (l->nloss == 256) {
                memmove(l->loss_hist, l->loss_hist + 1, sizeof l->loss_hist[0] * 255);
                memmove(l->loss_ep, l->loss_ep + 1, sizeof l->loss_ep[0] * 255);
                l->nloss--;
            }
            l->loss_ep[l->nloss] = l->epoch;
            l->loss_hist[l->nloss++] = point;
        }
        /* Batches/s smoothed over progress events, so the ETA moves steadily
         * instead of jumping with each sample. */
        if (isfinite(t) && l->last_t > 0 && t > l->last_t && batch > l->last_batch) {
            double rate = (batch - l->last_batch) / (t - l->last_t);
            l->bps_ema = l->bps_ema > 0 ? 0.7 * l->bps_ema + 0.3 * rate : rate;
        }
        if (l->bps_ema > 0) {
            double eta = (l->batches - batch) / l->bps_ema;
            l->eta_s = l->eta_s > 0 ? 0.5 * l->eta_s + 0.5 * eta : eta;
        }
        l->batch = batch;
        l->last_batch = batch;
        l->last_t = t;
    } else if (!strcmp(type, "epoch_end") && l->nep < TUI_MAX_EPOCHS) {
        tui_epoch *e = &l->ep[l->nep++];
        e->load_s = tb_json_num(ev, "load_s", NAN);
        e->train_s = tb_json_num(ev, "train_s", NAN);
        e->epoch_s = tb_json_num(ev, "epoch_s", NAN);
        e->train_loss = tb_json_num(ev, "train_loss", NAN);
        e->train_acc = tb_json_num(ev, "train_acc", NAN);
        e->test_acc = tb_json_num(ev, "test_acc", NAN);
        struct json_object *ph = tb_json_obj(ev, "phases");
        e->has_phases = ph != NULL;
        for (int p = 0; e->has_phases && p < TB_PHASE_COUNT; p++) {
            char key[32];
            snprintf(key, sizeof key, "%s_s", tb_phase_name((tb_phase)p));
            e->phase_s[p] = tb_json_num(ph, key, NAN);
        }
        l->batch = l->batches;
        l->eta_s = 0;
        l->evaluating = 0;
        if (isfinite(e->epoch_s))
            l->epoch_wall += e->epoch_s;
    }
    if (!strcmp(type, "progress") || !strcmp(type, "epoch_end")) {
        double rem = tui_sweep_remaining(l);
        double dt = isfinite(t) && l->last_sweep_t > 0 ? t - l->last_sweep_t : 0;
        l->sweep_eta_s = isfinite(rem) ? tui_eta_smooth(l->sweep_eta_s, rem, dt, 0.3) : l->sweep_eta_s;
        l->last_sweep_t = isfinite(t) ? t : l->last_sweep_t;
    }
}

/* Reads the complete lines appended to events.jsonl since the last call;
 * a final line without its newline is left for the next call. */
static int read_events(tui_live *l, const char *path)
{
    FILE *f = tb_fopen_regular(path);
    if (!f)
        return 0;
    int changed = 0;
    if (fseek(f, l->ev_offset, SEEK_SET) == 0) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] != '\n')
                break;
            l->ev_offset += n;
            struct json_object *ev = json_tokener_parse(line);
            if (ev) {
                tui_live_event(l, ev);
                json_object_put(ev);
                changed = 1;
            }
        }
        free(line);
    }
    fclose(f);
    return changed;
}

static void read_log_tail(tui_live *l)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/tui.log", l->sweep_dir);
    FILE *f = tb_fopen_regular(path); /* a FIFO there must not hang the workbench */
    l->nlog = 0;
    if (!f)
        return;
    static char buf[65536]; /* the UI is single-threaded */
    long start = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        start = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    }
    size_t n = fseek(f, start, SEEK_SET) == 0 ? fread(buf, 1, sizeof buf - 1, f) : 0;
    fclose(f);
    buf[n] = '\0';
    char *p = buf;
    if (start > 0 && (p = strchr(buf, '\n')))
        p++; /* the first line is cut */
    for (char *s = p; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        /* Keep the last TUI_LOG_LINES lines: shift when full. */
        if (l->nlog == TUI_LOG_LINES) {
            memmove(l->log[0], l->log[1], sizeof l->log[0] * (TUI_LOG_LINES - 1));
            l->nlog--;
        }
        /* A progress line rewritten with \r shows its last state. */
        char *cr = strrchr(s, '\r');
        snprintf(l->log[l->nlog++], sizeof l->log[0], "%.159s", cr && cr[1] ? cr + 1 : s);
        s = nl ? nl + 1 : NULL;
    }
}

int tui_live_poll(tui_live *l)
{
    if (!l->active)
        return 0;
    char path[1300];
    snprintf(path, sizeof path, "%s/summary.json", l->sweep_dir);
    int changed = 0;
    struct json_object *sum = access(path, R_OK) == 0 ? tb_json_read_file(path) : NULL;
    if (sum) {
        const char *st = tb_json_str(sum, "status", NULL);
        /* Not ours: the sweep's lock says whether it lives, never the pid in the file. */
        const char *eff = l->ours && !l->child_done ? (st ? st : TB_STATUS_RUNNING)
                                                    : tb_sweep_effective_status(st, l->sweep_dir);
        snprintf(l->status, sizeof l->status, "%s", eff);
        int sweep_alive = !strcmp(eff, TB_STATUS_RUNNING) || !strcmp(eff, TB_STATUS_STARTING);
        /* Elapsed counts from the sweep's start (summary.json), ticking on
         * the wall clock while it runs, also through a silent test pass. */
        double started = tb_json_num(sum, "started_at", NAN);
        if (isfinite(started) && started > 0)
            l->t_first = started;
        struct timespec now;
        if (sweep_alive && clock_gettime(CLOCK_REALTIME, &now) == 0)
            l->t_now = (double)now.tv_sec + now.tv_nsec / 1e9;
        tb_json_copy(l->preset, sizeof l->preset, sum, "preset", "");
        tb_json_copy(l->title, sizeof l->title, sum, "title", "");
        struct json_object *counts = tb_json_get(sum, "counts"), *cfgs = tb_json_arr(sum, "configs");
        l->total = tb_json_int(counts, "total", 0);
        l->completed = tb_json_int(counts, TB_STATUS_COMPLETED, 0);
        l->failed = tb_json_int(counts, TB_STATUS_FAILED, 0) + tb_json_int(counts, TB_STATUS_REFUSED, 0);
        if (!l->plan_read)
            tui_live_read_plan(l);
        l->nconfigs = 0;
        int running = -1, lastdone = -1;
        size_t ncfg = cfgs ? json_object_array_length(cfgs) : 0;
        for (size_t i = 0; i < ncfg && l->nconfigs < TUI_MAX_CONFIGS; i++) {
            struct json_object *c = json_object_array_get_idx(cfgs, i);
            tui_config_row *r = &l->configs[l->nconfigs];
            char id[sizeof r->id];
            tb_json_copy(id, sizeof id, c, "id", "?");
            if (strcmp(id, r->id)) { /* a new row: what was read for the old one goes */
                memset(r, 0, sizeof *r);
                snprintf(r->id, sizeof r->id, "%s", id);
            }
            tb_json_copy(r->label, sizeof r->label, c, "label", "");
            tb_json_copy(r->status, sizeof r->status, c, "status", "?");
            /* A dead sweep's "running" configuration: its own run's lock tells
             * (a killed sweep's child may still be saving its checkpoint). */
            char rundir[2400];
            if (!sweep_alive && !strcmp(r->status, TB_STATUS_RUNNING) && tb_rundir_id_ok(r->id) &&
                snprintf(rundir, sizeof rundir, "%s/%s", l->sweep_dir, r->id) < (int)sizeof rundir)
                snprintf(r->status, sizeof r->status, "%s", tb_run_effective_status(r->status, rundir));
            /* A sweep that is over runs nothing more: its pending rows never will. */
            if (!sweep_alive && !strcmp(r->status, TB_STATUS_PENDING))
                snprintf(r->status, sizeof r->status, "not run");
            struct json_object *fig = tb_json_get(c, "figures");
            r->avg_epoch_s = tb_json_num(fig, "avg_epoch_s", NAN);
            r->images_per_s = tb_json_num(fig, "images_per_s", NAN);
            r->wall_s = tb_json_num(c, "wall_s", NAN);
            if (!r->have_result && !strcmp(r->status, TB_STATUS_COMPLETED))
                tui_live_read_result(l, l->nconfigs);
            if (!strcmp(r->status, TB_STATUS_RUNNING) && running < 0)
                running = l->nconfigs;
            if (strcmp(r->status, TB_STATUS_PENDING))
                lastdone = l->nconfigs;
            l->nconfigs++;
        }
        /* Follow the running configuration; once none runs, keep showing the
         * last one that did. */
        int cur = running >= 0 ? running : lastdone;
        if (cur >= 0 && strcmp(l->configs[cur].id, l->cur_id)) {
            snprintf(l->cur_id, sizeof l->cur_id, "%s", l->configs[cur].id);
            live_reset_run(l);
            changed = 1;
        }
        l->cur = cur;
        json_object_put(sum);
        changed = 1;
    } else if (l->ours && l->child_done) {
        snprintf(l->status, sizeof l->status, TB_STATUS_FAILED);
    }
    if (l->cur_id[0]) {
        snprintf(path, sizeof path, "%s/%s/events.jsonl", l->sweep_dir, l->cur_id);
        changed |= read_events(l, path);
    }
    /* Scrolled back, the view stays on the lines being read as new ones
     * arrive: the old last line's new place says how many came. */
    static char last[sizeof l->log[0]];
    int anchored = l->log_scroll > 0 && l->nlog > 0;
    if (anchored)
        memcpy(last, l->log[l->nlog - 1], sizeof last);
    read_log_tail(l);
    if (anchored) {
        int j = l->nlog - 1;
        while (j >= 0 && strcmp(l->log[j], last))
            j--;
        if (j >= 0)
            l->log_scroll += l->nlog - 1 - j;
        l->log_scroll = l->log_scroll > l->nlog - 1 ? l->nlog - 1 : l->log_scroll;
    }
    return changed;
}

int tui_live_running(const tui_live *l)
{
    if (!l->active)
        return 0;
    if (l->ours)
        return !l->child_done;
    return !strcmp(l->status, TB_STATUS_RUNNING) || !strcmp(l->status, TB_STATUS_STARTING);
}


int tui_search_match(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = hay; *h || !n; h++) {
        if (!strncasecmp(h, needle, n))
            return 1;
        if (!*h)
            break;
    }
    return 0;
}

/* Item i of the current screen's list matches text: by its name (pass 0),
 * or by what else it shows (pass 1). */
static int item_matches(const tui_app *a, int i, const char *text, int pass)
{
    switch (a->screen) {
    case SCR_PRESETS:
        return pass ? tui_search_match(a->presets[i].title, text) || tui_search_match(a->presets[i].lab, text)
                    : tui_search_match(a->presets[i].name, text);
    case SCR_PARAMS:
        return tui_search_match(pass ? a->params[i].value : a->params[i].key, text);
    case SCR_RESULTS:
        return tui_search_match(pass ? a->results[i].preset : a->results[i].name, text);
    case SCR_LIVE:
        return !pass && tui_search_match(a->live.log[i], text);
    default:
        return 0;
    }
}

int tui_search_find(const tui_app *a, const char *text, int from)
{
    int n = a->screen == SCR_PRESETS ? a->npresets
            : a->screen == SCR_PARAMS ? a->nparams
            : a->screen == SCR_RESULTS ? a->nresults
            : a->screen == SCR_LIVE    ? a->live.nlog
                                       : 0;
    if (n <= 0 || !*text)
        return -1;
    from = from < 0 || from >= n ? 0 : from;
    /* A name that matches goes before a title that does ("quickstart" is
     * the preset of that name, not a copy whose title says Quickstart). */
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < n; k++) {
            int i = (from + k) % n;
            if (item_matches(a, i, text, pass))
                return i;
        }
    return -1;
}

int tui_preset_line(const tui_app *a, int i)
{
    /* As the Presets list draws them: a heading line before each lab's first. */
    int line = 0;
    for (int k = 0; k <= i && k < a->npresets; k++)
        line += 1 + (!k || strcmp(a->presets[k].lab, a->presets[k - 1].lab));
    return line - 1;
}

double tui_now_s(void)
{
    struct timespec ts;
    return clock_gettime(CLOCK_MONOTONIC, &ts) ? 0 : (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A status-line message; the argument is cut to what the line can show. */
void tui_say(tui_app *a, int err, const char *fmt, const char *arg)
{
    char cut[400];
    size_t n = strlen(arg);
    n = n < sizeof cut - 1 ? n : sizeof cut - 1;
    memcpy(cut, arg, n);
    cut[n] = '\0';
    snprintf(a->msg, sizeof a->msg, fmt, cut);
    a->msg_err = err;
    a->msg_at = tui_now_s();
}
