/* One run read whole, and the compare table; see runview.h. */
#include "tui/runview.h"

#include "core/error.h" // uses: tb_fail
#include "core/fsutil.h" // uses: tb_fopen_regular
#include "core/json.h" // uses: tb_json_str, tb_json_obj, tb_json_num, tb_json_arr, tb_json_int
#include "rundir/rundir.h" // uses: tb_json_read_file, tb_rundir_id_ok
#include "spec/options.h" // uses: tb_train_config, tb_train_config_defaults, tb_train_config_to_json

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct json_object *read_json(const char *dir, const char *name)
{
    char path[1400];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path || access(path, R_OK))
        return NULL;
    return tb_json_read_file(path);
}

/* "num-workers" and "num_workers" are the same option. */
static int same_key(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
            return 0;
    return !*a && !*b;
}

/* Run paths differ by construction: not a parameter. */
static int ignored(const char *key) { return !strcmp(key, "run_dir") || !strcmp(key, "runs_dir"); }

/* Numbers within float precision are equal: options held as float come
 * back from the JSON text a little different. */
static int same_value(struct json_object *a, struct json_object *b)
{
    int na = json_object_is_type(a, json_type_double) || json_object_is_type(a, json_type_int);
    int nb = json_object_is_type(b, json_type_double) || json_object_is_type(b, json_type_int);
    if (na && nb) {
        double x = json_object_get_double(a), y = json_object_get_double(b);
        return fabs(x - y) <= 1e-6 * fmax(1.0, fmax(fabs(x), fabs(y)));
    }
    return json_object_equal(a, b);
}

static void value_text(struct json_object *v, char *out, size_t size)
{
    if (!v)
        snprintf(out, size, "-");
    else if (json_object_is_type(v, json_type_string))
        snprintf(out, size, "%s", json_object_get_string(v));
    else
        snprintf(out, size, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/* The last lines of the log, a line rewritten with \r as it ended. */
static void read_log(tui_run_view *v, const char *path)
{
    FILE *f = path ? tb_fopen_regular(path) : NULL;
    if (!f)
        return;
    static char buf[32768]; /* the UI is single-threaded */
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
        p++;
    for (char *s = p; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (v->nlog == TUI_RV_LOG) {
            memmove(v->log[0], v->log[1], sizeof v->log[0] * (TUI_RV_LOG - 1));
            v->nlog--;
        }
        char *cr = strrchr(s, '\r');
        snprintf(v->log[v->nlog++], sizeof v->log[0], "%.199s", cr && cr[1] ? cr + 1 : s);
        s = nl ? nl + 1 : NULL;
    }
}

int tui_run_view_load(tui_run_view *v, const char *dir, const char *name, const char *const *differs, int ndiffers,
                      const char *log)
{
    memset(v, 0, sizeof *v);
    snprintf(v->dir, sizeof v->dir, "%.1099s", dir);
    snprintf(v->name, sizeof v->name, "%.599s", name);
    v->final_acc = v->avg_epoch_s = v->images_per_s = v->wall_s = NAN;
    struct json_object *r = read_json(dir, "result.json");
    if (!r)
        return tb_fail("%s has no readable result.json (the run never started, or its folder was moved)", dir);
    snprintf(v->status, sizeof v->status, "%s", tb_json_str(r, "status", "?"));
    snprintf(v->error, sizeof v->error, "%s", tb_json_str(r, "error", ""));
    struct json_object *cfg = tb_json_obj(r, "config"), *sum = tb_json_obj(r, "summary");
    snprintf(v->model, sizeof v->model, "%s", tb_json_str(cfg, "model", "?"));
    v->final_acc = tb_json_num(sum, "final_test_acc", NAN);
    v->avg_epoch_s = tb_json_num(sum, "avg_epoch_s", NAN);
    v->images_per_s = tb_json_num(sum, "images_per_s", NAN);
    v->wall_s = tb_json_num(sum, "wall_s", NAN);
    tb_train_config defaults;
    tb_train_config_defaults(&defaults);
    struct json_object *dj = differs ? NULL : tb_train_config_to_json(&defaults);
    if (cfg && json_object_is_type(cfg, json_type_object)) {
        json_object_object_foreach(cfg, key, val) {
            if (v->nopts == TUI_RV_OPTS)
                break;
            tui_rv_opt *o = &v->opts[v->nopts++];
            snprintf(o->key, sizeof o->key, "%.47s", key);
            value_text(val, o->value, sizeof o->value);
            if (differs) {
                for (int i = 0; i < ndiffers && !o->differs; i++)
                    o->differs = same_key(differs[i], key);
            } else {
                struct json_object *d = NULL;
                o->differs = dj && json_object_object_get_ex(dj, key, &d) && !same_value(d, val) && !ignored(key);
            }
        }
    }
    json_object_put(dj);
    struct json_object *eps = tb_json_arr(r, "epochs");
    for (size_t i = 0; eps && i < json_object_array_length(eps) && v->nep < TUI_RV_EPOCHS; i++) {
        struct json_object *e = json_object_array_get_idx(eps, i);
        tui_rv_epoch *p = &v->ep[v->nep++];
        p->epoch = tb_json_int(e, "epoch", (int)i + 1);
        p->lr = tb_json_num(e, "lr", NAN);
        p->load_s = tb_json_num(e, "load_s", NAN);
        p->train_s = tb_json_num(e, "train_s", NAN);
        p->epoch_s = tb_json_num(e, "epoch_s", NAN);
        p->train_loss = tb_json_num(e, "train_loss", NAN);
        p->train_acc = tb_json_num(e, "train_acc", NAN);
        p->test_acc = tb_json_num(e, "test_acc", NAN);
        p->images_per_s = tb_json_num(e, "images_per_s", NAN);
        p->rss_bytes = tb_json_num(e, "rss_bytes", NAN);
        p->gpu_util = tb_json_num(e, "gpu_util_mean", NAN);
        p->gpu_mem_bytes = tb_json_num(e, "gpu_mem_peak_bytes", NAN);
        p->gpu_power_w = tb_json_num(e, "gpu_power_mean_w", NAN);
    }
    json_object_put(r);
    read_log(v, log);
    return 0;
}

int tui_run_view_load_config(tui_run_view *v, const char *sweep_dir, int index, int *count)
{
    struct json_object *plan = read_json(sweep_dir, "plan.json");
    struct json_object *cfgs = tb_json_arr(plan, "configs");
    int n = cfgs ? (int)json_object_array_length(cfgs) : 0;
    *count = n;
    if (index < 0 || index >= n) {
        json_object_put(plan);
        return tb_fail("%s: no configuration %d in plan.json", sweep_dir, index + 1);
    }
    struct json_object *c = json_object_array_get_idx(cfgs, (size_t)index);
    const char *id = tb_json_str(c, "id", "");
    char dir[1400], name[700], log[1400], keys[TUI_RV_OPTS][48];
    const char *kp[TUI_RV_OPTS];
    int nk = 0;
    /* What makes it differ from the preset: its swept values, the --set
     * overrides, smoke scale's substitutions ("gpus: 4 -> 1"). */
    struct json_object *params = tb_json_obj(c, "params"), *sets = tb_json_arr(plan, "sets"),
                       *subs = tb_json_arr(c, "substitutions");
    if (params && json_object_is_type(params, json_type_object)) {
        json_object_object_foreach(params, key, val) {
            (void)val;
            if (nk < TUI_RV_OPTS)
                snprintf(keys[nk++], 48, "%.47s", key);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        struct json_object *arr = pass ? subs : sets;
        for (size_t i = 0; arr && i < json_object_array_length(arr) && nk < TUI_RV_OPTS; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
            size_t len = s ? strcspn(s, pass ? ":" : "=") : 0;
            if (len)
                snprintf(keys[nk++], 48, "%.*s", (int)(len < 47 ? len : 47), s);
        }
    }
    for (int i = 0; i < nk; i++)
        kp[i] = keys[i];
    const char *base = strrchr(sweep_dir, '/');
    base = base && base[1] ? base + 1 : sweep_dir;
    /* An id from plan.json joins the sweep folder only when it is a plain name. */
    int rc = -1;
    if (!tb_rundir_id_ok(id))
        tb_fail("%s: configuration %d has an id that is not a folder name", sweep_dir, index + 1);
    else {
        snprintf(dir, sizeof dir, "%.1000s/%s", sweep_dir, id);
        snprintf(name, sizeof name, "%.400s/%s", base, id);
        snprintf(log, sizeof log, "%.1000s/%s.log", sweep_dir, id);
        rc = tui_run_view_load(v, dir, name, kp, nk, log);
    }
    json_object_put(plan);
    return rc;
}

static const tui_rv_opt *find_opt(const tui_run_view *v, const char *key)
{
    for (int i = 0; i < v->nopts; i++)
        if (!strcmp(v->opts[i].key, key))
            return &v->opts[i];
    return NULL;
}


int tui_compare_differ(const tui_run_view *v, int n, char keys[][48], int max)
{
    int nk = 0;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < v[r].nopts && nk < max; i++) {
            const char *key = v[r].opts[i].key;
            int seen = ignored(key);
            for (int k = 0; k < nk && !seen; k++)
                seen = !strcmp(keys[k], key);
            if (seen)
                continue;
            const tui_rv_opt *first = find_opt(&v[0], key);
            int differs = 0;
            for (int q = 0; q < n && !differs; q++) {
                const tui_rv_opt *o = find_opt(&v[q], key);
                differs = !o || !first || strcmp(o->value, first->value);
            }
            if (differs)
                snprintf(keys[nk++], 48, "%s", key);
        }
    return nk;
}

static void fig(double x, const char *fmt, char *out, size_t size)
{
    if (isfinite(x))
        snprintf(out, size, fmt, x);
    else
        snprintf(out, size, "n/a");
}

void tui_compare_free(char **cells, int rows, int n)
{
    for (int i = 0; cells && i < rows * (n + 1); i++)
        free(cells[i]);
    free(cells);
}

int tui_compare_table(const tui_run_view *v, int n, char ***out, int *ndiff)
{
    static char keys[TUI_RV_OPTS][48];
    int nk = tui_compare_differ(v, n, keys, TUI_RV_OPTS);
    static const char *const figs[] = {"final test acc %", "avg epoch s", "images/s", "wall s", "epochs done", "status"};
    int nf = (int)(sizeof figs / sizeof *figs), rows = nk + nf;
    char **cells = calloc((size_t)rows * (size_t)(n + 1), sizeof *cells);
    if (!cells)
        return -1;
    for (int row = 0; row < rows; row++)
        for (int c = 0; c <= n; c++) {
            char s[200];
            const tui_run_view *r = c ? &v[c - 1] : NULL;
            int f = row - nk;
            if (!c)
                snprintf(s, sizeof s, "%s", row < nk ? keys[row] : figs[f]);
            else if (row < nk) {
                const tui_rv_opt *o = find_opt(r, keys[row]);
                snprintf(s, sizeof s, "%s", o ? o->value : "-");
            } else if (f == 0)
                fig(r->final_acc, "%.2f", s, sizeof s);
            else if (f == 1)
                fig(r->avg_epoch_s, "%.3f", s, sizeof s);
            else if (f == 2)
                fig(r->images_per_s, "%.0f", s, sizeof s);
            else if (f == 3)
                fig(r->wall_s, "%.1f", s, sizeof s);
            else if (f == 4)
                snprintf(s, sizeof s, "%d", r->nep);
            else
                snprintf(s, sizeof s, "%s", r->status);
            if (!(cells[row * (n + 1) + c] = strdup(s))) {
                tui_compare_free(cells, rows, n);
                return -1;
            }
        }
    *out = cells;
    *ndiff = nk;
    return rows;
}
