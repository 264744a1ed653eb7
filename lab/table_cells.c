/* The table's cells: figures read from result.json and those derived from
 * them (global batch, bandwidth, speedup against a baseline row). */
#include "core/json.h" // uses: tb_json_arr, tb_json_num, tb_json_get, tb_json_str
#include "lab/table_internal.h" // uses: tb_table_average_skip, tb_table_option_value, tb_table_planned_options, ...

#include "rundir/derived.h" // uses: tb_average_first, tb_format_hms, tb_images_per_s, tb_allreduce_bandwidth, ...
#include "rundir/rundir.h" // uses: TB_STATUS_COMPLETED, TB_STATUS_PENDING
#include "spec/options.h" // uses: tb_option, tb_option_find, tb_option_spell, TB_SPELL_KEY, TB_SPELL_PRESET, ...

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The epoch whose figures the table shows: the picked one, else the last. */
static struct json_object *shown_epoch(const row *r, const spec *s)
{
    struct json_object *eps = tb_json_arr(r->result, "epochs");
    if (!eps)
        return NULL;
    size_t n = json_object_array_length(eps);
    if (s->pick_epoch > 0)
        return (size_t)s->pick_epoch <= n ? json_object_array_get_idx(eps, (size_t)s->pick_epoch - 1) : NULL;
    return n ? json_object_array_get_idx(eps, n - 1) : NULL;
}

int tb_table_average_skip(const row *r)
{
    /* Results from before --average-skip left out the first epoch. */
    double v = tb_json_num(r->config, "average_skip", 1);
    return v >= 0 && v <= 100000 ? (int)v : 1;
}

/* Mean of an epoch field over the epochs the run's summary averages
 * (tb_average_first: those after the first --average-skip ones). */
static double epoch_mean(const row *r, const char *key)
{
    struct json_object *eps = tb_json_arr(r->result, "epochs");
    if (!eps)
        return NAN;
    int n = (int)json_object_array_length(eps);
    double sum = 0;
    int count = 0;
    for (int i = tb_average_first(n, tb_table_average_skip(r)); i < n; i++) {
        double v = tb_json_num(json_object_array_get_idx(eps, (size_t)i), key, NAN);
        if (isnan(v))
            return NAN;
        sum += v;
        count++;
    }
    return count ? sum / count : NAN;
}

/* --repeat: {min, median, max} of a summary figure once every repeat is
 * done, else NULL.  `key` is the summary's name (avg_epoch_s, ...). */
static struct json_object *repeat_stat(const row *r, const char *key)
{
    struct json_object *reps = tb_json_get(tb_json_get(r->result, "summary"), "repeats");
    struct json_object *st = tb_json_get(reps, key);
    /* Results written before single runs stopped carrying "repeats" have
     * count 1 of 1: no range to show. */
    double of = tb_json_num(reps, "of", NAN);
    if (!st || of < 2 || tb_json_num(reps, "count", NAN) != of || isnan(tb_json_num(st, "median", NAN)) ||
        isnan(tb_json_num(st, "min", NAN)) || isnan(tb_json_num(st, "max", NAN)))
        return NULL;
    return st;
}

/* The summary name of a column that --repeat reports over repeats. */
static const char *repeat_key(const char *id)
{
    static const char *const map[][2] = {{"load_s", "avg_load_s"},        {"train_s", "avg_train_s"},
                                         {"epoch_s", "avg_epoch_s"},      {"images_per_s", "images_per_s"},
                                         {"test_acc", "final_test_acc"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(id, map[i][0]))
            return map[i][1];
    return NULL;
}

static double timing(const row *r, const spec *s, const char *key)
{
    if (!r->result)
        return NAN;
    const char *rk = s->pick_epoch > 0 ? NULL : repeat_key(key);
    struct json_object *st = rk ? repeat_stat(r, rk) : NULL;
    if (st) /* medians, so derived figures (speedup) use them too */
        return tb_json_num(st, "median", NAN);
    if (!strcmp(key, "wall_s"))
        return tb_json_num(tb_json_get(r->result, "summary"), "wall_s", NAN);
    if (s->pick_epoch > 0)
        return tb_json_num(shown_epoch(r, s), key, NAN);
    return epoch_mean(r, key);
}

/* A nominal option value: the sweep's own (before smoke substitutions),
 * else what the run used. */
const char *tb_table_option_value(const row *r, const char *key)
{
    const char *v = r->effective ? NULL : tb_json_str(r->params, key, NULL);
    if (v)
        return v;
    struct json_object *c = tb_json_get(r->config, key);
    if (c)
        return json_object_get_string(c);
    if ((v = tb_json_str(r->planned, key, NULL)))
        return v;
    return tb_json_str(r->params, key, NULL);
}

/* The plan's "--batch-size=256" arguments as {"batch_size": "256"}, negated
 * flags positively ("--no-batch-norm=true" is batch_norm "false"). */
struct json_object *tb_table_planned_options(struct json_object *args)
{
    struct json_object *o = json_object_new_object();
    size_t n = args && json_object_is_type(args, json_type_array) ? json_object_array_length(args) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(args, i));
        const char *eq = a ? strchr(a, '=') : NULL;
        if (!eq || strncmp(a, "--", 2))
            continue;
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2) < 63 ? (int)(eq - a - 2) : 63, a + 2);
        const tb_option *opt = tb_option_find(key);
        const char *v = eq + 1;
        int flip = opt && opt->negate && (!strcmp(v, "true") || !strcmp(v, "false"));
        tb_option_spell(key, flip ? TB_SPELL_KEY : TB_SPELL_PRESET, key, sizeof key);
        if (flip)
            json_object_object_add(o, key, json_object_new_string(!strcmp(v, "true") ? "false" : "true"));
        else
            json_object_object_add(o, key, json_object_new_string(v));
    }
    return o;
}

static double option_num(const row *r, const char *key, double fallback)
{
    const char *v = tb_table_option_value(r, key);
    if (!v)
        return fallback;
    char *end;
    double d = strtod(v, &end);
    return *v && !*end ? d : fallback;
}

int tb_table_same_value(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (*a && *b && !*ea && !*eb)
        return x == y;
    return !strcmp(a, b);
}

/* The baseline row for r: a row with base_key = base_value sharing most of
 * r's other swept values (1 GPU at the same batch size per GPU). */
static const row *baseline(const row *rows, int n, const row *r, const spec *s)
{
    const row *best = NULL;
    int best_score = -1;
    for (int i = 0; i < n; i++) {
        if (!tb_table_same_value(tb_table_option_value(&rows[i], s->base_key), s->base_value))
            continue;
        int score = 0;
        if (r->params) { /* json-c's foreach dereferences NULL: a plan entry may lack params */
            json_object_object_foreach(r->params, key, val)
            {
                (void)val; /* compared as the rows show them: what ran, at smoke scale */
                if (strcmp(key, s->base_key) &&
                    tb_table_same_value(tb_table_option_value(&rows[i], key), tb_table_option_value(r, key)))
                    score++;
            }
        }
        if (score > best_score) {
            best_score = score;
            best = &rows[i];
        }
    }
    return best;
}

static double scaling_n(const row *r, const spec *s)
{
    return option_num(r, s->base_key, 1);
}

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

/* Fills one cell, before tb_table_cell_value swaps in --repeat medians and ranges. */
static void cell_value_of(const row *rows, int n, const row *r, const spec *s, const char *id, tb_cell *cell);

/* A phase of the epochs' "phases" (--profile, --trace): the shown epoch's,
 * else the mean over the epochs the summary averages. */
static double phase_time(const row *r, const spec *s, const char *key)
{
    if (s->pick_epoch > 0)
        return tb_json_num(tb_json_get(shown_epoch(r, s), "phases"), key, NAN);
    struct json_object *eps = tb_json_arr(r->result, "epochs");
    int n = eps ? (int)json_object_array_length(eps) : 0, count = 0;
    double sum = 0;
    for (int i = tb_average_first(n, tb_table_average_skip(r)); i < n; i++, count++) {
        double v = tb_json_num(tb_json_get(json_object_array_get_idx(eps, (size_t)i), "phases"), key, NAN);
        if (isnan(v))
            return NAN; /* a run without the trace */
        sum += v;
    }
    return count ? sum / count : NAN;
}

void tb_table_cell_value(const row *rows, int n, const row *r, const spec *s, const char *id, tb_cell *cell)
{
    size_t len;
    int epoch = tb_table_epoch_suffix(id, &len);
    if (epoch) { /* train_acc_e3: train_acc as `epoch = 3` would show it */
        char base[32];
        spec at = *s;
        at.pick_epoch = epoch;
        snprintf(base, sizeof base, "%.*s", (int)(len < sizeof base ? len : sizeof base - 1), id);
        tb_table_cell_value(rows, n, r, &at, base, cell);
        return;
    }
    cell_value_of(rows, n, r, s, id, cell);
    const char *rk = s->pick_epoch > 0 || cell->text || isnan(cell->num) ? NULL : repeat_key(id);
    struct json_object *st = rk && r->status && !strcmp(r->status, TB_STATUS_COMPLETED) ? repeat_stat(r, rk) : NULL;
    if (st) {
        cell->num = tb_json_num(st, "median", NAN);
        cell->lo = tb_json_num(st, "min", NAN);
        cell->hi = tb_json_num(st, "max", NAN);
        cell->has_range = 1;
    }
}

static void cell_value_of(const row *rows, int n, const row *r, const spec *s, const char *id, tb_cell *cell)
{
    cell->num = NAN;
    cell->text = NULL;
    cell->has_range = 0;
    cell->marked = 0;
    struct json_object *ep = shown_epoch(r, s);
    struct json_object *model = tb_json_get(r->result, "model");
    const char *ok = r->status && !strcmp(r->status, TB_STATUS_COMPLETED) ? r->status : NULL;
    if (!strcmp(id, "status")) {
        cell->text = dupstr(r->status ? r->status : TB_STATUS_PENDING);
        return;
    }
    if (!strcmp(id, "backend")) {
        cell->text = dupstr(tb_json_str(r->result, "backend", NULL));
        return;
    }
    const tb_column_def *d = tb_table_column_find(id);
    if (!d) { /* an option column */
        const char *v = tb_table_option_value(r, id);
        if (v && (!strcmp(v, "true") || !strcmp(v, "false")))
            cell->text = dupstr(!strcmp(v, "true") ? "yes" : "no");
        else {
            const tb_option *o = tb_option_find(id);
            if (v && o && (o->type == TB_OPT_INT || o->type == TB_OPT_FLOAT || o->type == TB_OPT_U64))
                cell->num = strtod(v, NULL);
            else
                cell->text = dupstr(v);
        }
        return;
    }
    if (!strcmp(id, "global_batch")) {
        cell->num = option_num(r, "batch_size", NAN) * option_num(r, "gpus", 1);
        return;
    }
    if (!strcmp(id, "nodes")) {
        cell->num = ceil(option_num(r, "gpus", 1) / s->gpus_per_node);
        return;
    }
    if (!strcmp(id, "effective_lr")) {
        double lr = option_num(r, "lr", NAN);
        const char *mode = tb_table_option_value(r, "lr_scaling");
        if (mode && !strcmp(mode, "linear"))
            lr *= option_num(r, "batch_size", NAN) * option_num(r, "gpus", 1) / 256.0;
        cell->num = lr;
        return;
    }
    if (!ok)
        return; /* every figure below needs a completed run */
    if (!strcmp(id, "load_s") || !strcmp(id, "train_s") || !strcmp(id, "epoch_s") || !strcmp(id, "eval_s") ||
        !strcmp(id, "wall_s") || !strcmp(id, "compute_s") || !strcmp(id, "comm_s"))
        cell->num = timing(r, s, id);
    else if (!strcmp(id, "other_s"))
        cell->num = timing(r, s, "epoch_s") - timing(r, s, "load_s") - timing(r, s, "train_s");
    else if (!strcmp(id, "wall_hms")) {
        char buf[32];
        tb_format_hms(timing(r, s, "wall_s"), buf, sizeof buf);
        cell->text = dupstr(buf);
    } else if (!strcmp(id, "images_per_s"))
        /* The one definition (derived.h): a picked epoch's figure from its own
         * images and epoch time; a run's as the engine summed it up. */
        cell->num = s->pick_epoch > 0 ? tb_images_per_s(tb_json_num(ep, "images", NAN), tb_json_num(ep, "epoch_s", NAN))
                                      : tb_json_num(tb_json_get(r->result, "summary"), "images_per_s", NAN);
    else if (!strcmp(id, "train_loss") || !strcmp(id, "train_acc") || !strcmp(id, "test_loss") ||
             !strcmp(id, "test_acc") || !strcmp(id, "test_acc5") || !strcmp(id, "best_class"))
        cell->num = tb_json_num(ep, id, NAN);
    else if (!strcmp(id, "val_acc1") || !strcmp(id, "val_acc5")) /* the same figures, 3 decimals */
        cell->num = tb_json_num(ep, !strcmp(id, "val_acc1") ? "test_acc" : "test_acc5", NAN);
    else if (!strcmp(id, "epoch_batch")) /* older results lack it: the run's --batch-size */
        cell->num = tb_json_num(ep, "batch_size", tb_json_num(r->config, "batch_size", NAN));
    else if (!strcmp(id, "h2d_s") || !strcmp(id, "forward_s") || !strcmp(id, "backward_s") ||
             !strcmp(id, "optimizer_s"))
        cell->num = phase_time(r, s, id);
    else if (!strcmp(id, "best_class_acc")) {
        double b = tb_json_num(ep, "best_class", NAN);
        struct json_object *ca = tb_json_arr(ep, "class_acc");
        /* Compared as doubles: casting a huge or NaN value is undefined. */
        if (ca && b >= 0 && b < (double)json_object_array_length(ca))
            cell->num = json_object_get_double(json_object_array_get_idx(ca, (size_t)b));
    } else if (!strcmp(id, "params") || !strcmp(id, "gradients") || !strcmp(id, "conv_layers") ||
               !strcmp(id, "fc_inputs"))
        cell->num = tb_json_num(model, id, NAN);
    else if (!strcmp(id, "epochs_completed"))
        cell->num = tb_json_num(tb_json_get(r->result, "summary"), "epochs_completed", NAN);
    else if (!strcmp(id, "gpu_util") || !strcmp(id, "gpu_power_w")) /* null (no GPU) gives an empty cell */
        cell->num = timing(r, s, !strcmp(id, "gpu_util") ? "gpu_util_mean" : "gpu_power_mean_w");
    else if (!strcmp(id, "gpu_mem_gib")) { /* the peak of the picked epoch, else of the whole run */
        struct json_object *eps = tb_json_arr(r->result, "epochs");
        double peak = s->pick_epoch > 0 ? tb_json_num(ep, "gpu_mem_peak_bytes", NAN) : NAN;
        for (size_t i = 0; s->pick_epoch <= 0 && eps && i < json_object_array_length(eps); i++) {
            double v = tb_json_num(json_object_array_get_idx(eps, i), "gpu_mem_peak_bytes", NAN);
            peak = isnan(peak) || v > peak ? v : peak;
        }
        cell->num = peak / (1024.0 * 1024.0 * 1024.0);
    }
    else if (!strcmp(id, "bandwidth")) {
        /* The ranks that ran it (the epoch's, the run's, else the gpus
         * asked for); images are summed over the ranks, so a step takes
         * batch_size x ranks of them. */
        /* The all-reduces' own time where the run records it (with
         * --overlap on, comm_s is only the part backward did not hide). */
        double comm = timing(r, s, "allreduce_s"), images = tb_json_num(ep, "images", NAN);
        if (isnan(comm))
            comm = timing(r, s, "comm_s");
        double bytes = tb_json_num(ep, "allreduce_bytes", NAN);
        if (isnan(bytes))
            bytes = tb_json_num(model, "params", NAN) * 4.0;
        double ranks = tb_json_num(ep, "ranks", NAN);
        if (isnan(ranks))
            ranks = tb_json_num(r->result, "ranks", NAN);
        if (isnan(ranks))
            ranks = option_num(r, "gpus", 1);
        double reduces = tb_json_num(ep, "allreduces", NAN);
        double batch = tb_json_num(r->config, "batch_size", NAN); /* as run, not nominal */
        if (isnan(batch))
            batch = option_num(r, "batch_size", NAN);
        if (isnan(reduces)) /* one all-reduce per step */
            reduces = ceil(images / (batch * ranks));
        /* Ranks outside 1..INT_MAX (damaged files) give n/a, not an undefined cast. */
        double bw = ranks >= 1 && ranks <= INT_MAX
                        ? tb_allreduce_bandwidth((int)ranks, bytes, reduces, comm)
                        : NAN;
        cell->num = bw / 1e9;
    } else if (!strcmp(id, "speedup") || !strcmp(id, "weak_speedup") || !strcmp(id, "efficiency")) {
        const row *b = baseline(rows, n, r, s);
        if (!b || !b->status || strcmp(b->status, TB_STATUS_COMPLETED))
            return;
        double tb_ = timing(b, s, s->time), t = timing(r, s, s->time);
        double nb = scaling_n(b, s), nr = scaling_n(r, s);
        if (!strcmp(id, "speedup"))
            cell->num = tb_speedup(tb_, t);
        else if (!strcmp(id, "weak_speedup"))
            cell->num = tb_weak_speedup(tb_, nb, t, nr);
        else
            cell->num = tb_scaling_efficiency(tb_, t, nr / nb);
        /* Beyond linear on CPU-sized runs sharing a few cores is noise. */
        double ideal = !strcmp(id, "speedup") ? nr / nb : !strcmp(id, "weak_speedup") ? 1 : 100;
        cell->marked = r->effective && cell->num > ideal + 1e-9;
    }
}
