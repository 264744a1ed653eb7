/* The sweep's chart (see sweep_chart.h), and the reading of plan.json and
 * of each finished configuration's result.json that it needs. */
#include "tui/sweep_chart.h"

#include "core/json.h" // uses: tb_json_arr, tb_json_obj, tb_json_get, tb_json_num, tb_json_int
#include "lab/predict.h" // uses: tb_predict_input, tb_predict_defaults, tb_predict_point, tb_predict
#include "rundir/rundir.h" // uses: tb_json_read_file, tb_rundir_id_ok, TB_STATUS_COMPLETED
#include "spec/options.h" // uses: tb_option, tb_option_find

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The axes a chart knows are the options with a `chart` in the option
 * table; its rank says which is preferred when several are swept (lab5
 * sweeps GPUs and batch size: the speedup is the question). */
static int chart_rank(const char *key)
{
    const tb_option *o = tb_option_find(key);
    return o ? o->chart.rank : 0;
}

static struct json_object *read_json(const char *dir, const char *sub, const char *name)
{
    char path[1500];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    return access(path, R_OK) == 0 ? tb_json_read_file(path) : NULL;
}

void tui_live_read_plan(tui_live *l)
{
    struct json_object *plan = read_json(l->sweep_dir, ".", "plan.json");
    if (!plan)
        return; /* not written yet: try at the next poll */
    l->plan_read = 1;
    struct json_object *cfgs = tb_json_arr(plan, "configs");
    size_t n = cfgs ? json_object_array_length(cfgs) : 0;
    struct json_object *p0 = n ? tb_json_obj(json_object_array_get_idx(cfgs, 0), "params") : NULL;
    l->chart_axis[0] = '\0';
    if (p0) {
        int best = 0; /* the chosen axis's chart rank; 0: the first key, no chart of its own */
        json_object_object_foreach(p0, key, val) {
            (void)val;
            int rank = chart_rank(key);
            if (!l->chart_axis[0] || (rank && (!best || rank < best))) {
                snprintf(l->chart_axis, sizeof l->chart_axis, "%.63s", key);
                best = rank;
            }
        }
    }
    l->npoints = 0;
    for (size_t i = 0; i < n && l->npoints < TUI_MAX_CONFIGS; i++) {
        tui_plan_point *pt = &l->points[l->npoints++];
        memset(pt, 0, sizeof *pt);
        struct json_object *params = tb_json_obj(json_object_array_get_idx(cfgs, i), "params");
        if (!params)
            continue;
        size_t used = 0;
        json_object_object_foreach(params, key, val) {
            const char *v = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : "?";
            if (!strcmp(key, l->chart_axis))
                snprintf(pt->value, sizeof pt->value, "%s", v);
            else if (used < sizeof pt->others) {
                int w = snprintf(pt->others + used, sizeof pt->others - used, "%s%s=%s", used ? " " : "", key, v);
                used += w > 0 ? (size_t)w : 0;
            }
        }
    }
    json_object_put(plan);
}

void tui_live_read_result(tui_live *l, int i)
{
    tui_config_row *r = &l->configs[i];
    struct json_object *res = tb_rundir_id_ok(r->id) ? read_json(l->sweep_dir, r->id, "result.json") : NULL;
    r->load_s = r->train_s = r->test_acc = NAN;
    if (!res)
        return;
    r->have_result = 1;
    struct json_object *sum = tb_json_get(res, "summary"), *cfg = tb_json_get(res, "config");
    struct json_object *m = tb_json_get(res, "model");
    r->load_s = tb_json_num(sum, "avg_load_s", NAN);
    r->train_s = tb_json_num(sum, "avg_train_s", NAN);
    r->test_acc = tb_json_num(sum, "final_test_acc", NAN);
    r->batch = tb_json_int(cfg, "batch_size", 0);
    double grads = tb_json_num(m, "gradients", NAN);
    r->grad_bytes = isfinite(grads) && grads > 0 ? 4.0 * grads : 0; /* fp32 gradients */
    struct json_object *eps = tb_json_arr(res, "epochs");
    if (eps && json_object_array_length(eps))
        r->images = tb_json_int(json_object_array_get_idx(eps, 0), "images", 0);
    json_object_put(res);
}

/* The measured one-GPU configuration with the same other swept values. */
static int baseline(const tui_live *l, int i)
{
    for (int k = 0; k < l->nconfigs && k < l->npoints; k++)
        if (!strcmp(l->points[k].value, "1") && !strcmp(l->points[k].others, l->points[i].others) &&
            l->configs[k].have_result)
            return k;
    return -1;
}

/* The ring all-reduce model (lab/predict.c, as `trainbench predict`
 * with its defaults) from the one-GPU measurement: predicted speedup. */
static double predicted_speedup(const tui_config_row *base, int gpus)
{
    if (!(base->train_s > 0) || base->batch < 1 || base->images < 1 || !(base->grad_bytes > 0) || gpus < 1)
        return NAN;
    tb_predict_input in;
    tb_predict_defaults(&in);
    long steps = (base->images + base->batch - 1) / base->batch;
    in.step_s = base->train_s / (double)steps;
    in.batch_per_gpu = base->batch;
    in.grad_bytes = base->grad_bytes;
    in.images = base->images;
    tb_predict_point pt;
    return tb_predict(&in, gpus, &pt) == 0 ? pt.speedup : NAN;
}

/* A GPU count as written in the plan; 0 when it is not one. */
static int atoi_safe(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return end != s && !*end && v >= 1 && v <= 4096 ? (int)v : 0;
}

/* Values only: "batch_size=128 lr=0.1" -> "128 0.1". */
static void values_of(const char *others, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = others; *p && n + 1 < size;) {
        const char *eq = strchr(p, '='), *sp = strchr(p, ' ');
        if (!eq || (sp && sp < eq))
            break;
        const char *end = sp ? sp : eq + strlen(eq);
        int w = snprintf(out + n, size - n, "%s%.*s", n ? " " : "", (int)(end - eq - 1), eq + 1);
        n += w > 0 ? (size_t)w : 0;
        if (n >= size)
            break;
        p = sp ? sp + 1 : end;
    }
}

void tui_sweep_chart_build(const tui_live *l, tui_sweep_chart *c)
{
    memset(c, 0, sizeof *c);
    c->cur = l->cur;
    const tb_option *ax = chart_rank(l->chart_axis) ? tb_option_find(l->chart_axis) : NULL;
    const char *metric = ax ? ax->chart.metric : "epoch_s";
    c->kind = !strcmp(metric, "speedup") ? TUI_CHART_SPEEDUP : TUI_CHART_BARS;
    if (ax) {
        snprintf(c->title, sizeof c->title, "%s", ax->chart.title);
        snprintf(c->unit, sizeof c->unit, "%s", ax->chart.unit);
    } else {
        snprintf(c->title, sizeof c->title, "%s%sepoch time", l->chart_axis, l->chart_axis[0] ? " vs " : "");
        snprintf(c->unit, sizeof c->unit, "s");
    }
    const char *others = l->npoints ? l->points[0].others : "";
    char keys[96] = "";
    size_t n = 0;
    for (const char *p = others; *p && n + 1 < sizeof keys;) { /* the key names, for the legend */
        const char *eq = strchr(p, '=');
        if (!eq)
            break;
        int w = snprintf(keys + n, sizeof keys - n, ", %.*s", (int)(eq - p), p);
        n += w > 0 ? (size_t)w : 0;
        p = strchr(eq, ' ');
        if (!p)
            break;
        p++;
    }
    snprintf(c->legend, sizeof c->legend, "%.40s%.50s", l->chart_axis[0] ? l->chart_axis : "configuration",
             n < sizeof keys ? keys : "");
    for (int i = 0; i < l->nconfigs && i < TUI_MAX_CONFIGS; i++) {
        const tui_config_row *r = &l->configs[i];
        tui_chart_row *row = &c->rows[c->n++];
        snprintf(row->status, sizeof row->status, "%s", r->status);
        row->value = row->predicted = row->ideal = NAN;
        const tui_plan_point *pt = i < l->npoints ? &l->points[i] : NULL;
        if (pt && pt->value[0]) {
            char vals[96];
            values_of(pt->others, vals, sizeof vals);
            snprintf(row->label, sizeof row->label, "%.40s%s%.50s", pt->value, vals[0] ? " " : "", vals);
        } else
            snprintf(row->label, sizeof row->label, "%.95s", r->label[0] ? r->label : r->id);
        int done = !strcmp(r->status, TB_STATUS_COMPLETED);
        if (c->kind == TUI_CHART_SPEEDUP && pt) {
            int gpus = atoi_safe(pt->value);
            int b = baseline(l, i);
            row->ideal = gpus > 0 ? gpus : NAN;
            if (b >= 0) {
                if (done && r->have_result && r->train_s > 0)
                    row->value = l->configs[b].train_s / r->train_s;
                row->predicted = predicted_speedup(&l->configs[b], gpus);
                c->npredicted += isfinite(row->predicted);
            }
        } else if (done) {
            row->value = !strcmp(metric, "load_s")     ? r->load_s
                         : !strcmp(metric, "test_acc") ? r->test_acc
                                                       : r->avg_epoch_s;
        }
    }
}
