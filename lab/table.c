/* Result tables from sweep directories (plan.json, summary.json, each
 * configuration's result.json), with the derived figures of derived.c. */
#include "lab/table.h"

#include "rundir/derived.h"
#include "core/error.h"
#include "spec/options.h"
#include "rundir/rundir.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const tb_column_def columns[] = {
    {"status", "Status", TB_COL_TEXT, "completed, failed, refused, interrupted or pending"},
    {"load_s", "Load time (s)", TB_COL_SECONDS, "time waiting for the data loader per epoch"},
    {"train_s", "Train time (s)", TB_COL_SECONDS, "mini-batch compute per epoch, device synchronised"},
    {"epoch_s", "Epoch time (s)", TB_COL_SECONDS, "the whole training loop of an epoch"},
    {"eval_s", "Eval time (s)", TB_COL_SECONDS, "test-set evaluation"},
    {"other_s", "Other (s)", TB_COL_SECONDS, "epoch time less load and train time: metric bookkeeping"},
    {"wall_s", "WCT (s)", TB_COL_WALL, "wall-clock time of the whole run"},
    {"wall_hms", "WCT (h:m:s)", TB_COL_HMS, "wall-clock time as h:mm:ss"},
    {"images_per_s", "Images/s", TB_COL_RATE, "training images per second of epoch time"},
    {"train_loss", "Training loss", TB_COL_LOSS, "mean training loss"},
    {"train_acc", "Train acc (%)", TB_COL_PERCENT, "training top-1 accuracy"},
    {"test_loss", "Test loss", TB_COL_LOSS, "test loss"},
    {"test_acc", "Acc@1 (%)", TB_COL_PERCENT, "test top-1 accuracy"},
    {"test_acc5", "Acc@5 (%)", TB_COL_PERCENT, "test top-5 accuracy"},
    {"best_class", "Best class", TB_COL_INT, "class with the highest training accuracy"},
    {"best_class_acc", "Top-1 class acc (%)", TB_COL_PERCENT, "that class's training accuracy (the lab's Top-1)"},
    {"params", "Parameters", TB_COL_COUNT, "trainable parameters"},
    {"gradients", "Gradients", TB_COL_COUNT, "gradients"},
    {"conv_layers", "Conv layers", TB_COL_INT, "convolution layers on the main path"},
    {"global_batch", "Global batch", TB_COL_INT, "batch size x GPUs"},
    {"nodes", "#N", TB_COL_INT, "nodes: GPUs / gpus_per_node, rounded up"},
    {"effective_lr", "LR", TB_COL_REAL, "learning rate after --lr-scaling"},
    {"compute_s", "Compute (s)", TB_COL_SECONDS, "forward and backward time (multi-GPU runs)"},
    {"comm_s", "Comm (s)", TB_COL_SECONDS,
     "time steps waited for the gradient all-reduce (multi-GPU runs; with --overlap on, what backward did not hide)"},
    {"bandwidth", "Bandwidth (GB/s)", TB_COL_GBPS, "2(n-1)/n x model bytes x all-reduces / all-reduce time"},
    {"speedup", "Speedup", TB_COL_RATIO, "baseline time / time"},
    {"weak_speedup", "Weak-scaling speedup", TB_COL_RATIO, "baseline time / (time x GPU ratio)"},
    {"efficiency", "Scaling efficiency", TB_COL_EFFIC, "T1 / (N x TN) x 100"},
    {"backend", "Backend", TB_COL_TEXT, "the backend that ran it"},
    {"epochs_completed", "Epochs", TB_COL_INT, "epochs completed"},
    {NULL, NULL, 0, NULL},
};

static const struct {
    const char *key, *header;
} option_headers[] = {
    {"num_workers", "Workers"}, {"batch_size", "Batch size"}, {"gpus", "#GPUs"},
    {"optimizer", "Optimizer"}, {"device", "Device"},         {"batch_norm", "Batch norm"},
    {"lr", "LR"},               {"model", "Model"},           {"dataset", "Dataset"},
    {"lr_scaling", "LR scaling"}, {"warmup_epochs", "Warm-up epochs"}, {"epochs", "Epochs"},
    {"lars_eta", "LARS eta"},   {"lr_schedule", "LR schedule"}, {NULL, NULL},
};

const tb_column_def *tb_table_columns(void) { return columns; }

const tb_column_def *tb_table_column_find(const char *id)
{
    for (const tb_column_def *d = columns; d->id; d++)
        if (!strcmp(d->id, id))
            return d;
    return NULL;
}

/* ---- rows ---- */

enum { TB_MAX_PIVOT_VALUES = 32 };

typedef struct {
    struct json_object *result; /* owned; NULL when the configuration has none */
    struct json_object *params; /* borrowed: nominal axis values */
    struct json_object *config; /* borrowed: result's config, or NULL */
    struct json_object *planned; /* owned: the plan's args by config key, for rows without a result */
    const char *status, *error, *label, *id;
    struct json_object *subs;
} row;

typedef struct {
    int pick_epoch;
    const char *time;
    int gpus_per_node;
    const char *base_key, *base_value;
} spec;

static double jnum(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return NAN;
    enum json_type t = json_object_get_type(v);
    if (t == json_type_double || t == json_type_int)
        return json_object_get_double(v);
    if (t == json_type_boolean)
        return json_object_get_boolean(v);
    return NAN;
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static struct json_object *jget(struct json_object *o, const char *key)
{
    struct json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* An array member, or NULL: json-c asserts on array calls on other types,
 * and these files may be damaged or hand-edited. */
static struct json_object *jarr(struct json_object *o, const char *key)
{
    struct json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* The epoch whose figures the table shows: the picked one, else the last. */
static struct json_object *shown_epoch(const row *r, const spec *s)
{
    struct json_object *eps = jget(r->result, "epochs");
    if (!eps || !json_object_is_type(eps, json_type_array))
        return NULL;
    size_t n = json_object_array_length(eps);
    if (s->pick_epoch > 0)
        return (size_t)s->pick_epoch <= n ? json_object_array_get_idx(eps, (size_t)s->pick_epoch - 1) : NULL;
    return n ? json_object_array_get_idx(eps, n - 1) : NULL;
}

/* Mean of an epoch field over the epochs after the warm-up one (all when
 * there is only one), as the summary averages are computed. */
static double epoch_mean(const row *r, const char *key)
{
    struct json_object *eps = jget(r->result, "epochs");
    if (!eps || !json_object_is_type(eps, json_type_array))
        return NAN;
    size_t n = json_object_array_length(eps);
    double sum = 0;
    int count = 0;
    for (size_t i = n > 1 ? 1 : 0; i < n; i++) {
        double v = jnum(json_object_array_get_idx(eps, i), key);
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
    struct json_object *reps = jget(jget(r->result, "summary"), "repeats");
    struct json_object *st = jget(reps, key);
    /* Results written before single runs stopped carrying "repeats" have
     * count 1 of 1: no range to show. */
    if (!st || jnum(reps, "of") < 2 || jnum(reps, "count") != jnum(reps, "of") || isnan(jnum(st, "median")) ||
        isnan(jnum(st, "min")) || isnan(jnum(st, "max")))
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
        return jnum(st, "median");
    if (!strcmp(key, "wall_s"))
        return jnum(jget(r->result, "summary"), "wall_s");
    if (s->pick_epoch > 0)
        return jnum(shown_epoch(r, s), key);
    return epoch_mean(r, key);
}

/* A nominal option value: the sweep's own (before smoke substitutions),
 * else what the run used. */
static const char *option_value(const row *r, const char *key)
{
    const char *v = jstr(r->params, key);
    if (v)
        return v;
    struct json_object *c = jget(r->config, key);
    if (c)
        return json_object_get_string(c);
    return jstr(r->planned, key);
}

/* The plan's "--batch-size=256" arguments as {"batch_size": "256"}, negated
 * flags positively ("--no-batch-norm=true" is batch_norm "false"). */
static struct json_object *planned_options(struct json_object *args)
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
        for (char *k = key; *k; k++)
            if (*k == '-')
                *k = '_';
        const char *v = eq + 1;
        if (!strncmp(key, "no_", 3) && (!strcmp(v, "true") || !strcmp(v, "false")))
            json_object_object_add(o, key + 3, json_object_new_string(!strcmp(v, "true") ? "false" : "true"));
        else
            json_object_object_add(o, key, json_object_new_string(v));
    }
    return o;
}

static double option_num(const row *r, const char *key, double fallback)
{
    const char *v = option_value(r, key);
    if (!v)
        return fallback;
    char *end;
    double d = strtod(v, &end);
    return *v && !*end ? d : fallback;
}

static int same_value(const char *a, const char *b)
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
        if (!same_value(option_value(&rows[i], s->base_key), s->base_value))
            continue;
        int score = 0;
        json_object_object_foreach(r->params, key, val)
        {
            if (strcmp(key, s->base_key) && same_value(jstr(rows[i].params, key), json_object_get_string(val)))
                score++;
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

/* Fills one cell. */
static void cell_value_of(const row *rows, int n, const row *r, const spec *s, const char *id, tb_cell *cell);

static void cell_value(const row *rows, int n, const row *r, const spec *s, const char *id, tb_cell *cell)
{
    cell_value_of(rows, n, r, s, id, cell);
    const char *rk = s->pick_epoch > 0 || cell->text || isnan(cell->num) ? NULL : repeat_key(id);
    struct json_object *st = rk && r->status && !strcmp(r->status, "completed") ? repeat_stat(r, rk) : NULL;
    if (st) {
        cell->num = jnum(st, "median");
        cell->lo = jnum(st, "min");
        cell->hi = jnum(st, "max");
        cell->has_range = 1;
    }
}

static void cell_value_of(const row *rows, int n, const row *r, const spec *s, const char *id, tb_cell *cell)
{
    cell->num = NAN;
    cell->text = NULL;
    cell->has_range = 0;
    struct json_object *ep = shown_epoch(r, s);
    struct json_object *model = jget(r->result, "model");
    const char *ok = r->status && !strcmp(r->status, "completed") ? r->status : NULL;
    if (!strcmp(id, "status")) {
        cell->text = dupstr(r->status ? r->status : "pending");
        return;
    }
    if (!strcmp(id, "backend")) {
        cell->text = dupstr(jstr(r->result, "backend"));
        return;
    }
    const tb_column_def *d = tb_table_column_find(id);
    if (!d) { /* an option column */
        const char *v = option_value(r, id);
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
        const char *mode = option_value(r, "lr_scaling");
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
        cell->num = s->pick_epoch > 0 ? jnum(ep, "images_per_s") : jnum(jget(r->result, "summary"), "images_per_s");
    else if (!strcmp(id, "train_loss") || !strcmp(id, "train_acc") || !strcmp(id, "test_loss") ||
             !strcmp(id, "test_acc") || !strcmp(id, "test_acc5") || !strcmp(id, "best_class"))
        cell->num = jnum(ep, id);
    else if (!strcmp(id, "best_class_acc")) {
        double b = jnum(ep, "best_class");
        struct json_object *ca = jget(ep, "class_acc");
        /* Compared as doubles: casting a huge or NaN value is undefined. */
        if (ca && json_object_is_type(ca, json_type_array) && b >= 0 && b < (double)json_object_array_length(ca))
            cell->num = json_object_get_double(json_object_array_get_idx(ca, (size_t)b));
    } else if (!strcmp(id, "params") || !strcmp(id, "gradients") || !strcmp(id, "conv_layers"))
        cell->num = jnum(model, id);
    else if (!strcmp(id, "epochs_completed"))
        cell->num = jnum(jget(r->result, "summary"), "epochs_completed");
    else if (!strcmp(id, "bandwidth")) {
        /* The ranks that ran it (the epoch's, the run's, else the gpus
         * asked for); images are summed over the ranks, so a step takes
         * batch_size x ranks of them. */
        /* The all-reduces' own time where the run records it (with
         * --overlap on, comm_s is only the part backward did not hide). */
        double comm = timing(r, s, "allreduce_s"), images = jnum(ep, "images");
        if (isnan(comm))
            comm = timing(r, s, "comm_s");
        double bytes = jnum(ep, "allreduce_bytes");
        if (isnan(bytes))
            bytes = jnum(model, "params") * 4.0;
        double ranks = jnum(ep, "ranks");
        if (isnan(ranks))
            ranks = jnum(r->result, "ranks");
        if (isnan(ranks))
            ranks = option_num(r, "gpus", 1);
        double reduces = jnum(ep, "allreduces"), batch = jnum(r->config, "batch_size"); /* as run, not nominal */
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
        if (!b || !b->status || strcmp(b->status, "completed"))
            return;
        double tb_ = timing(b, s, s->time), t = timing(r, s, s->time);
        double nb = scaling_n(b, s), nr = scaling_n(r, s);
        if (!strcmp(id, "speedup"))
            cell->num = tb_speedup(tb_, t);
        else if (!strcmp(id, "weak_speedup"))
            cell->num = tb_weak_speedup(tb_, nb, t, nr);
        else
            cell->num = tb_scaling_efficiency(tb_, t, nr / nb);
    }
}

/* ---- formatting ---- */

static void with_commas(long long v, char *out, size_t size)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t len = strlen(digits), o = 0;
    if (v < 0 && o + 1 < size)
        out[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        if (i && (len - i) % 3 == 0 && o + 2 < size)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void format_number(const tb_cell *c, tb_col_kind kind, int plain, char *out, size_t size);

/* A --repeat range follows the median in tables for people: "12.3 [11.9, 12.8]". */
void tb_cell_format(const tb_cell *c, tb_col_kind kind, int plain, char *out, size_t size)
{
    format_number(c, kind, plain, out, size);
    if (c->text || !c->has_range || plain || isnan(c->num))
        return;
    tb_cell lo = {.num = c->lo}, hi = {.num = c->hi};
    char a[64], b[64];
    format_number(&lo, kind, plain, a, sizeof a);
    format_number(&hi, kind, plain, b, sizeof b);
    size_t len = strlen(out);
    if (len < size)
        snprintf(out + len, size - len, " [%s, %s]", a, b);
}

static void format_number(const tb_cell *c, tb_col_kind kind, int plain, char *out, size_t size)
{
    if (c->text) {
        snprintf(out, size, "%s", c->text);
        return;
    }
    double v = c->num;
    if (isnan(v)) {
        snprintf(out, size, "n/a");
        return;
    }
    switch (kind) {
    case TB_COL_COUNT:
        if (plain)
            snprintf(out, size, "%.0f", v);
        else
            with_commas(llround(v), out, size);
        return;
    case TB_COL_SECONDS:
        snprintf(out, size, fabs(v) < 1 ? "%.3f" : "%.2f", v);
        return;
    case TB_COL_WALL:
    case TB_COL_RATE:
    case TB_COL_INT:
        snprintf(out, size, "%.0f", v);
        return;
    case TB_COL_HMS:
        tb_format_hms(v, out, (unsigned)size);
        return;
    case TB_COL_LOSS:
        snprintf(out, size, "%.3f", v);
        return;
    case TB_COL_EFFIC:
        snprintf(out, size, plain ? "%.2f" : "%.2f%%", v);
        return;
    case TB_COL_PERCENT:
    case TB_COL_RATIO:
    case TB_COL_GBPS:
        snprintf(out, size, "%.2f", v);
        return;
    case TB_COL_REAL:
    case TB_COL_TEXT:
        snprintf(out, size, "%g", v);
        return;
    }
}

/* ---- assembling ---- */

static void add_note(tb_table *t, const char *fmt, const char *a, const char *b)
{
    char buf[1200];
    snprintf(buf, sizeof buf, fmt, a ? a : "", b ? b : "");
    json_object_array_add(t->notes, json_object_new_string(buf));
}

static void header_info(tb_table *t, struct json_object *result, double started)
{
    struct json_object *sys = jget(result, "system");
    char date[32] = "unknown";
    if (started > 0 && started < 1e12) { /* NaN and huge values fail this: their cast is undefined */
        time_t when = (time_t)started;
        struct tm tm;
        if (gmtime_r(&when, &tm))
            strftime(date, sizeof date, "%Y-%m-%d", &tm);
    }
    if (!sys) {
        snprintf(t->info, sizeof t->info, "Date: %s", date);
        return;
    }
    struct json_object *libs = jget(sys, "libraries");
    const char *cpu = jstr(sys, "cpu_model"), *os = jstr(sys, "os"), *backend = jstr(result, "backend");
    double cores = jnum(sys, "cpu_cores"), mem = jnum(sys, "memory_bytes");
    char libtxt[256] = "";
    if (libs) {
        json_object_object_foreach(libs, k, v)
        {
            if (!strcmp(k, "onednn"))
                continue; /* already in the backend name */
            size_t len = strlen(libtxt);
            snprintf(libtxt + len, sizeof libtxt - len, ", %s %s", k, json_object_get_string(v));
        }
    }
    snprintf(t->info, sizeof t->info, "Hardware: %s, %.0f cores, %.0f GiB. Software: trainbench %s, %s%s; %s. Date: %s.",
             cpu ? cpu : "unknown CPU", isnan(cores) ? 0 : cores, isnan(mem) ? 0 : mem / 1073741824.0,
             jstr(sys, "trainbench") ? jstr(sys, "trainbench") : "?", backend ? backend : "unknown backend", libtxt,
             os ? os : "unknown OS", date);
}

static const char *default_header(const char *id)
{
    const tb_column_def *d = tb_table_column_find(id);
    if (d)
        return d->header;
    for (int i = 0; option_headers[i].key; i++)
        if (!strcmp(option_headers[i].key, id))
            return option_headers[i].header;
    return id;
}

static tb_col_kind option_kind(const char *id)
{
    const tb_option *o = tb_option_find(id);
    if (!o)
        return TB_COL_TEXT;
    return o->type == TB_OPT_INT || o->type == TB_OPT_U64 ? TB_COL_INT
           : o->type == TB_OPT_FLOAT                     ? TB_COL_REAL
                                                         : TB_COL_TEXT;
}

/* Is v among a pivot column's "only" values (all when there are none)? */
static int pivot_shown(struct json_object *pcol, const char *v)
{
    struct json_object *only = jarr(pcol, "only");
    size_t k = only ? json_object_array_length(only) : 0;
    if (!k)
        return 1;
    for (size_t i = 0; i < k; i++)
        if (same_value(json_object_get_string(json_object_array_get_idx(only, i)), v))
            return 1;
    return 0;
}

/* Spreads a long table (nkeys row-key columns, then one column per pivot
 * column id) out wide: one row per distinct row key, and for each value of
 * the pivot option (in sweep order) the pivot columns shown for it, "{}" in
 * their headers replaced by the value.  A missing combination is n/a. */
static int pivot(tb_table *t, const row *rows, int n, int nkeys, const char *pkey, struct json_object *pcols)
{
    const char *values[TB_MAX_PIVOT_VALUES];
    int nvalues = 0, *group = calloc((size_t)n + 1, sizeof *group), ngroups = 0;
    if (!group)
        return tb_fail("out of memory");
    for (int i = 0; i < n; i++) {
        const char *v = option_value(&rows[i], pkey);
        int k = 0;
        while (k < nvalues && !same_value(values[k], v))
            k++;
        if (k == nvalues && v && nvalues == TB_MAX_PIVOT_VALUES) {
            free(group);
            return tb_fail("%s: the pivot %s has more than %d values", t->source, pkey, TB_MAX_PIVOT_VALUES);
        }
        if (k == nvalues && v)
            values[nvalues++] = v;
        /* Rows with equal row-key cells (as shown) are one wide row. */
        group[i] = -1;
        for (int j = 0; j < i && group[i] < 0; j++) {
            int same = 1;
            for (int c = 0; c < nkeys && same; c++) {
                char a[256], b[256];
                tb_cell_format(&t->cells[(size_t)i * t->ncols + c], t->kinds[c], 1, a, sizeof a);
                tb_cell_format(&t->cells[(size_t)j * t->ncols + c], t->kinds[c], 1, b, sizeof b);
                same = !strcmp(a, b);
            }
            if (same)
                group[i] = group[j];
        }
        if (group[i] < 0)
            group[i] = ngroups++;
    }
    int npc = (int)json_object_array_length(pcols), wide = nkeys;
    for (int v = 0; v < nvalues; v++)
        for (int k = 0; k < npc; k++)
            wide += pivot_shown(json_object_array_get_idx(pcols, (size_t)k), values[v]);
    if (wide > 32) {
        free(group);
        return tb_fail("%s: the pivot makes %d columns, more than 32; show fewer pivot columns or values",
                       t->source, wide);
    }
    tb_cell *cells = calloc((size_t)ngroups * wide + 1, sizeof *cells);
    if (!cells) {
        free(group);
        return tb_fail("out of memory for a %d-row table", ngroups);
    }
    for (size_t i = 0; i < (size_t)ngroups * wide; i++)
        cells[i].num = NAN;
    tb_col_kind kinds[32];
    char ids[32][32], headers[32][64];
    int c = nkeys;
    for (int v = 0; v < nvalues; v++)
        for (int k = 0; k < npc; k++) {
            struct json_object *pc = json_object_array_get_idx(pcols, (size_t)k);
            if (!pivot_shown(pc, values[v]))
                continue;
            const char *id = jstr(pc, "id") ?: "", *h = jstr(pc, "header");
            int src = nkeys;
            while (src < t->ncols && strcmp(t->ids[src], id))
                src++;
            /* The header: {} becomes the value; with no {}, "VALUE Header". */
            const char *tmpl = h && *h ? h : default_header(id), *brace = strstr(tmpl, "{}");
            if (brace)
                snprintf(headers[c], sizeof headers[c], "%.*s%s%s", (int)(brace - tmpl), tmpl, values[v], brace + 2);
            else
                snprintf(headers[c], sizeof headers[c], "%s %s", values[v], tmpl);
            snprintf(ids[c], sizeof ids[c], "%s@%s", id, values[v]);
            kinds[c] = t->kinds[src];
            for (int i = 0; i < n; i++)
                if (same_value(option_value(&rows[i], pkey), values[v])) {
                    tb_cell *from = &t->cells[(size_t)i * t->ncols + src], *to = &cells[(size_t)group[i] * wide + c];
                    to->num = from->num;
                    to->has_range = from->has_range, to->lo = from->lo, to->hi = from->hi;
                    to->text = from->text; /* moved */
                    from->text = NULL;
                }
            c++;
        }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < nkeys; k++) {
            tb_cell *from = &t->cells[(size_t)i * t->ncols + k], *to = &cells[(size_t)group[i] * wide + k];
            if (!to->text && isnan(to->num)) {
                *to = *from;
                from->text = NULL;
            }
        }
    for (int i = 0; i < n * t->ncols; i++)
        free(t->cells[i].text);
    free(t->cells);
    free(group);
    t->cells = cells;
    t->nrows = ngroups;
    for (int k = nkeys; k < wide; k++) {
        t->kinds[k] = kinds[k];
        memcpy(t->ids[k], ids[k], sizeof ids[k]);
        memcpy(t->headers[k], headers[k], sizeof headers[k]);
    }
    t->ncols = wide;
    return 0;
}

/* Builds the table from rows and the [table] JSON. */
static int assemble(tb_table *t, row *rows, int n, struct json_object *tspec, int smoke)
{
    struct json_object *cols = jget(tspec, "columns");
    if (!cols || !json_object_is_type(cols, json_type_array) || !json_object_array_length(cols))
        return tb_fail("%s: the table has no columns", t->source);
    spec s = {0};
    /* Range-checked before the cast: a missing (NaN) or huge value would be
     * undefined behaviour converted to int. */
    double ep = jnum(tspec, "epoch");
    s.pick_epoch = ep >= 1 && ep <= INT_MAX ? (int)ep : 0;
    s.time = jstr(tspec, "time") ? jstr(tspec, "time") : "train_s";
    double gpn = jnum(tspec, "gpus_per_node");
    s.gpus_per_node = gpn >= 1 && gpn <= INT_MAX ? (int)gpn : 4;
    struct json_object *base = jget(tspec, "baseline");
    s.base_key = jstr(base, "key") ? jstr(base, "key") : "gpus";
    s.base_value = jstr(base, "value") ? jstr(base, "value") : "1";

    int ncols = (int)json_object_array_length(cols);
    int incomplete = 0;
    for (int i = 0; i < n; i++)
        incomplete |= !rows[i].status || strcmp(rows[i].status, "completed");
    int has_status = 0;
    for (int c = 0; c < ncols; c++)
        has_status |= !strcmp(jstr(json_object_array_get_idx(cols, (size_t)c), "id") ?: "", "status");
    /* A pivot table is first built long: the row-key columns, then each
     * pivot column id once; pivot() then spreads it out.  Its footnotes
     * already name configurations that did not complete. */
    struct json_object *pv = jget(tspec, "pivot"), *pcols = jarr(pv, "columns");
    const char *pkey = jstr(pv, "key");
    if (pv && (!pkey || !pcols || !json_object_array_length(pcols)))
        return tb_fail("%s: the table's pivot needs a key and columns", t->source);
    const char *extra[32];
    int nextra = 0;
    if (pv)
        for (size_t k = 0; k < json_object_array_length(pcols); k++) {
            const char *id = jstr(json_object_array_get_idx(pcols, k), "id");
            if (!id)
                return tb_fail("%s: a pivot column has no id", t->source);
            int seen = 0;
            for (int e = 0; e < nextra; e++)
                seen |= !strcmp(extra[e], id);
            if (!seen && nextra < 32)
                extra[nextra++] = id;
        }
    int total = ncols + (pv ? nextra : incomplete && !has_status);
    if (total > 32)
        return tb_fail("%s: more than 32 columns", t->source);
    t->ncols = total;
    for (int c = 0; c < total; c++) {
        struct json_object *col = c < ncols ? json_object_array_get_idx(cols, (size_t)c) : NULL;
        const char *id = col ? jstr(col, "id") : pv ? extra[c - ncols] : "status";
        const char *header = col ? jstr(col, "header") : NULL;
        if (!id)
            return tb_fail("%s: a table column has no id", t->source);
        snprintf(t->ids[c], sizeof t->ids[c], "%s", id);
        snprintf(t->headers[c], sizeof t->headers[c], "%s", header && *header ? header : default_header(id));
        const tb_column_def *d = tb_table_column_find(id);
        t->kinds[c] = d ? d->kind : option_kind(id);
    }
    t->nrows = n;
    t->cells = calloc((size_t)n * total + 1, sizeof *t->cells);
    if (!t->cells)
        return tb_fail("out of memory for a %d-row table", n);
    int missing_comm = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < total; c++) {
            tb_cell *cell = &t->cells[(size_t)i * total + c];
            cell_value(rows, n, &rows[i], &s, t->ids[c], cell);
            if (isnan(cell->num) && !cell->text && rows[i].status && !strcmp(rows[i].status, "completed") &&
                (!strcmp(t->ids[c], "compute_s") || !strcmp(t->ids[c], "comm_s") || !strcmp(t->ids[c], "bandwidth")))
                missing_comm = 1;
        }

    /* Footnotes: how the figures were taken, what is missing and why. */
    char buf[64];
    if (s.pick_epoch > 0) {
        snprintf(buf, sizeof buf, "%d", s.pick_epoch);
        add_note(t, "Times, losses and accuracies are those of epoch %s.", buf, NULL);
    } else
        add_note(t, "Times are means over the epochs after the first (warm-up) one; losses and accuracies are the "
                    "last epoch's.",
                 NULL, NULL);
    int ranged = 0;
    for (int i = 0; i < n * total && !ranged; i++)
        ranged = t->cells[i].has_range;
    if (ranged)
        add_note(t, "Rows run with --repeat show the median over the repeats, then [min, max].", NULL, NULL);
    for (int c = 0; c < total; c++) {
        if (!strcmp(t->ids[c], "speedup") || !strcmp(t->ids[c], "weak_speedup") || !strcmp(t->ids[c], "efficiency")) {
            char what[200];
            snprintf(what, sizeof what, "%s = %s", s.base_key, s.base_value);
            add_note(t, "Speedup and efficiency are against the row with %s (same other settings), on %s.", what,
                     s.time);
            break;
        }
    }
    for (int c = 0; c < total; c++)
        if (!strcmp(t->ids[c], "bandwidth")) {
            add_note(t, "Bandwidth = 2(n-1)/n x model bytes (fp32 gradients) x all-reduces per epoch / all-reduce "
                        "time (from the first bucket's start to the last one's end; comm time where a run lacks it).",
                     NULL, NULL);
            break;
        }
    if (missing_comm)
        add_note(t, "n/a in compute, communication and bandwidth columns: these times come from data-parallel "
                    "runs (more than one rank); a single-rank run (1 GPU, or smoke scale) has no communication.",
                 NULL, NULL);
    if (smoke) {
        struct json_object *seen = json_object_new_object();
        char all[1024] = "";
        for (int i = 0; i < n; i++) {
            size_t k = rows[i].subs ? json_object_array_length(rows[i].subs) : 0;
            for (size_t j = 0; j < k; j++) {
                const char *sub = json_object_get_string(json_object_array_get_idx(rows[i].subs, j));
                if (!sub || jget(seen, sub)) /* a null entry has no text */
                    continue;
                json_object_object_add(seen, sub, json_object_new_boolean(1));
                size_t len = strlen(all);
                snprintf(all + len, sizeof all - len, "%s%s", len ? "; " : "", sub);
            }
        }
        json_object_put(seen);
        add_note(t, "Smoke scale (CPU-sized: subset, narrow model, few epochs; columns show the preset's values): %s.",
                 all[0] ? all : "no substitutions", NULL);
    }
    for (int i = 0; i < n; i++)
        if (rows[i].status && strcmp(rows[i].status, "completed")) {
            char full[1800];
            snprintf(full, sizeof full, "Configuration %s (%s): %s%s%s", rows[i].id ? rows[i].id : "?",
                     rows[i].label ? rows[i].label : "", rows[i].status, rows[i].error ? ": " : "",
                     rows[i].error ? rows[i].error : "");
            json_object_array_add(t->notes, json_object_new_string(full));
        }
    const char *note = jstr(tspec, "note");
    if (note && *note)
        add_note(t, "%s", note, NULL);
    return pv ? pivot(t, rows, n, ncols, pkey, pcols) : 0;
}

static struct json_object *read_if_there(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fclose(f);
    return tb_json_read_file(path);
}

int tb_table_from_sweep(const char *dir, tb_table *t)
{
    memset(t, 0, sizeof *t);
    t->notes = json_object_new_array();
    snprintf(t->source, sizeof t->source, "%s", dir);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    struct json_object *plan = tb_json_read_file(path);
    if (!plan)
        return tb_fail_prefix("%s is not a sweep directory (no readable plan.json)", dir);
    struct json_object *summary = read_if_there(dir, "summary.json");
    struct json_object *cfgs = jget(plan, "configs");
    struct json_object *scfgs = jarr(summary, "configs");
    int n = cfgs && json_object_is_type(cfgs, json_type_array) ? (int)json_object_array_length(cfgs) : 0;
    row *rows = calloc((size_t)n + 1, sizeof *rows);
    if (!rows) {
        json_object_put(plan);
        json_object_put(summary);
        return tb_fail("out of memory");
    }
    struct json_object *first = NULL;
    for (int i = 0; i < n; i++) {
        struct json_object *c = json_object_array_get_idx(cfgs, (size_t)i);
        row *r = &rows[i];
        r->params = jget(c, "params");
        r->subs = jarr(c, "substitutions");
        r->id = jstr(c, "id");
        r->label = jstr(c, "label");
        r->planned = planned_options(jget(c, "args"));
        struct json_object *sc = scfgs && (size_t)i < json_object_array_length(scfgs)
                                     ? json_object_array_get_idx(scfgs, (size_t)i)
                                     : NULL;
        r->status = sc ? jstr(sc, "status") : "pending";
        r->error = sc ? jstr(sc, "error") : NULL;
        if (r->id) {
            char rd[PATH_MAX];
            snprintf(rd, sizeof rd, "%s/%s", dir, r->id);
            r->result = read_if_there(rd, "result.json");
            r->config = jget(r->result, "config");
            if (r->result && !first && r->status && !strcmp(r->status, "completed"))
                first = r->result;
        }
    }
    snprintf(t->title, sizeof t->title, "%s", jstr(jget(plan, "table"), "title") ?: jstr(plan, "title") ?: "");
    snprintf(t->preset, sizeof t->preset, "%s", jstr(plan, "preset") ?: "");
    snprintf(t->question, sizeof t->question, "%s", jstr(plan, "question") ?: "");
    const char *scale = jstr(plan, "scale");
    header_info(t, first, jnum(summary ? summary : plan, "started_at"));
    int rc = assemble(t, rows, n, jget(plan, "table"), scale && !strcmp(scale, "smoke"));
    for (int i = 0; i < n; i++) {
        json_object_put(rows[i].result);
        json_object_put(rows[i].planned);
    }
    free(rows);
    json_object_put(plan);
    json_object_put(summary);
    return rc;
}

int tb_table_from_runs(char *const *dirs, int n, tb_table *t)
{
    memset(t, 0, sizeof *t);
    t->notes = json_object_new_array();
    snprintf(t->title, sizeof t->title, "Runs");
    snprintf(t->source, sizeof t->source, "%s", n ? dirs[0] : "");
    row *rows = calloc((size_t)n + 1, sizeof *rows);
    struct json_object **params = calloc((size_t)n + 1, sizeof *params);
    if (!rows || !params) {
        free(rows);
        free(params);
        return tb_fail("out of memory");
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/result.json", dirs[i]);
        rows[i].result = tb_json_read_file(path);
        if (!rows[i].result) {
            rc = tb_fail_prefix("%s is neither a sweep (plan.json) nor a run (result.json) directory", dirs[i]);
            break;
        }
        params[i] = json_object_new_object();
        rows[i].params = params[i];
        rows[i].config = jget(rows[i].result, "config");
        rows[i].status = jstr(rows[i].result, "status");
        rows[i].error = jstr(rows[i].result, "error");
        const char *base = strrchr(dirs[i], '/');
        rows[i].id = base && base[1] ? base + 1 : dirs[i];
        rows[i].label = "";
    }
    if (!rc) {
        static const char *ids[] = {"model", "dataset", "optimizer", "batch_size", "num_workers", "epochs_completed",
                                    "load_s", "train_s", "epoch_s", "train_loss", "test_acc", "status"};
        struct json_object *tspec = json_object_new_object(), *cols = json_object_new_array();
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            struct json_object *c = json_object_new_object();
            json_object_object_add(c, "id", json_object_new_string(ids[i]));
            json_object_array_add(cols, c);
        }
        json_object_object_add(tspec, "columns", cols);
        header_info(t, n ? rows[0].result : NULL, n ? jnum(rows[0].result, "started_at") : NAN);
        rc = assemble(t, rows, n, tspec, 0);
        json_object_put(tspec);
    }
    for (int i = 0; i < n; i++) {
        json_object_put(rows[i].result);
        json_object_put(params[i]);
    }
    free(rows);
    free(params);
    return rc;
}

int tb_table_merge(const tb_table *tables, int n, tb_table *out)
{
    memset(out, 0, sizeof *out);
    const tb_table *a = &tables[0];
    for (int i = 1; i < n; i++)
        if (tables[i].ncols != a->ncols || strcmp(tables[i].preset, a->preset))
            return tb_fail("cannot put %s beside %s: different presets or columns; export them separately",
                           tables[i].source, a->source);
    if (a->ncols + 1 > 32)
        return tb_fail("too many columns to merge");
    if (snprintf(out->title, sizeof out->title, "%s (%d sweeps)", a->title, n) >= (int)sizeof out->title)
        out->title[sizeof out->title - 1] = '\0'; /* a long title is cut, not an error */
    snprintf(out->preset, sizeof out->preset, "%s", a->preset);
    snprintf(out->question, sizeof out->question, "%s", a->question);
    snprintf(out->info, sizeof out->info, "%s", a->info);
    out->ncols = a->ncols + 1;
    snprintf(out->ids[0], sizeof out->ids[0], "sweep");
    snprintf(out->headers[0], sizeof out->headers[0], "Sweep");
    out->kinds[0] = TB_COL_TEXT;
    for (int c = 0; c < a->ncols; c++) {
        snprintf(out->ids[c + 1], sizeof out->ids[0], "%s", a->ids[c]);
        snprintf(out->headers[c + 1], sizeof out->headers[0], "%s", a->headers[c]);
        out->kinds[c + 1] = a->kinds[c];
    }
    for (int i = 0; i < n; i++)
        out->nrows += tables[i].nrows;
    out->cells = calloc((size_t)out->nrows * out->ncols + 1, sizeof *out->cells);
    if (!out->cells)
        return tb_fail("out of memory");
    out->notes = json_object_new_array(); /* only now: the early failures above own nothing */
    int r = 0;
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(tables[i].source, '/');
        base = base && base[1] ? base + 1 : tables[i].source;
        for (int k = 0; k < tables[i].nrows; k++, r++) {
            tb_cell *row = &out->cells[(size_t)r * out->ncols];
            row[0].num = NAN;
            row[0].text = strdup(base);
            for (int c = 0; c < a->ncols; c++) {
                const tb_cell *src = &tables[i].cells[(size_t)k * a->ncols + c];
                row[c + 1] = *src;
                row[c + 1].text = src->text ? strdup(src->text) : NULL;
            }
        }
        size_t nn = json_object_array_length(tables[i].notes);
        for (size_t j = 0; j < nn; j++) {
            char buf[2048];
            snprintf(buf, sizeof buf, "%s: %s", base, json_object_get_string(json_object_array_get_idx(tables[i].notes, j)));
            json_object_array_add(out->notes, json_object_new_string(buf));
        }
    }
    return 0;
}

void tb_table_free(tb_table *t)
{
    if (t->cells)
        for (int i = 0; i < t->nrows * t->ncols; i++)
            free(t->cells[i].text);
    free(t->cells);
    t->cells = NULL;
    json_object_put(t->notes);
    t->notes = NULL;
}
