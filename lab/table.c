/* Result tables from sweep directories (plan.json, summary.json, each
 * configuration's result.json), with the derived figures of derived.c.
 * This file assembles them; table_columns.c, table_cells.c, table_format.c
 * and table_pivot.c hold the parts. */
#include "core/json.h" // uses: tb_json_arr, tb_json_get, tb_json_obj, tb_json_str, tb_json_num
#include "lab/table_internal.h" // uses: tb_table_average_skip, tb_table_default_header, tb_table_option_kind, ...

#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "rundir/derived.h" // uses: tb_average_first
#include "rundir/rundir.h" // uses: TB_STATUS_COMPLETED, tb_json_read_file, TB_STATUS_PENDING, tb_rundir_id_ok

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void add_note(tb_table *t, const char *fmt, const char *a, const char *b)
{
    char buf[1200];
    snprintf(buf, sizeof buf, fmt, a ? a : "", b ? b : "");
    json_object_array_add(t->notes, json_object_new_string(buf));
}

/* What the time columns average, said as it was done: each run's summary
 * averages epochs tb_average_first(n, --average-skip) .. n - 1. */
/* Whether a column shows a mean over epochs (a per-epoch figure without its
 * _eN suffix, or a ratio of such times), so the averaging note applies: a
 * table of wall-clock times and final accuracies has nothing averaged. */
static int shows_averages(const tb_table *t, int total, const char *time_id)
{
    static const char *const averaged[] = {"load_s",    "train_s",     "epoch_s",   "eval_s",   "other_s",
                                           "images_per_s", "h2d_s",    "forward_s", "backward_s", "optimizer_s",
                                           "compute_s", "comm_s",      "bandwidth", "gpu_util", "gpu_power_w"};
    const int wall_time = !strcmp(time_id, "wall_s") || !strcmp(time_id, "wall_hms");
    for (int c = 0; c < total; c++) {
        for (size_t k = 0; k < sizeof averaged / sizeof *averaged; k++)
            if (!strcmp(t->ids[c], averaged[k]))
                return 1;
        if (!wall_time && (!strcmp(t->ids[c], "speedup") || !strcmp(t->ids[c], "weak_speedup") ||
                           !strcmp(t->ids[c], "efficiency")))
            return 1;
    }
    return 0;
}

static void averages_note(tb_table *t, const row *rows, int n)
{
    int kinds = 0, first[4], epochs[4], count[4];
    for (int i = 0; i < n; i++) {
        struct json_object *eps = tb_json_arr(rows[i].result, "epochs");
        int ne = eps ? (int)json_object_array_length(eps) : 0;
        if (!ne)
            continue;
        int f = tb_average_first(ne, tb_table_average_skip(&rows[i])), k = 0;
        while (k < kinds && !(first[k] == f && epochs[k] == ne))
            k++;
        if (k == kinds && kinds < 4)
            first[kinds] = f, epochs[kinds] = ne, count[kinds++] = 0;
        if (k < kinds)
            count[k]++;
    }
    const char *tail = "; losses and accuracies are the last epoch's.";
    char text[600];
    if (kinds == 0)
        snprintf(text, sizeof text, "Times are means over each run's epochs after its first --average-skip ones%s",
                 tail);
    else if (kinds == 1 && first[0] == 1)
        snprintf(text, sizeof text, "Times are means over the epochs after the first (warm-up) one%s", tail);
    else if (kinds == 1 && first[0] == 0 && epochs[0] == 1)
        snprintf(text, sizeof text, "Times are those of each run's only epoch (none was left out of the averages)%s",
                 tail);
    else if (kinds == 1 && first[0] == 0)
        snprintf(text, sizeof text, "Times are means over all %d epochs, the first included%s", epochs[0], tail);
    else if (kinds == 1)
        snprintf(text, sizeof text, "Times are means over epochs %d to %d, the first %d left out (--average-skip)%s",
                 first[0] + 1, epochs[0], first[0], tail);
    else {
        size_t len = (size_t)snprintf(text, sizeof text, "Times are means over the epochs each run averaged:");
        for (int k = 0; k < kinds && len < sizeof text; k++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s epochs %d to %d in %d row%s", k ? ";" : "",
                                    first[k] + 1, epochs[k], count[k], count[k] == 1 ? "" : "s");
        if (len < sizeof text)
            snprintf(text + len, sizeof text - len, "%s", tail);
    }
    add_note(t, "%s", text, NULL);
}

static void header_info(tb_table *t, struct json_object *result, double started)
{
    struct json_object *sys = tb_json_get(result, "system");
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
    struct json_object *libs = tb_json_obj(sys, "libraries");
    const char *cpu = tb_json_str(sys, "cpu_model", "unknown CPU"), *os = tb_json_str(sys, "os", "unknown OS");
    const char *backend = tb_json_str(result, "backend", "unknown backend");
    double cores = tb_json_num(sys, "cpu_cores", NAN), mem = tb_json_num(sys, "memory_bytes", NAN);
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
             cpu, isnan(cores) ? 0 : cores, isnan(mem) ? 0 : mem / 1073741824.0, tb_json_str(sys, "trainbench", "?"),
             backend, libtxt, os, date);
}

/* Builds the table from rows and the [table] JSON. */
static int assemble(tb_table *t, row *rows, int n, struct json_object *tspec, int smoke)
{
    struct json_object *cols = tb_json_arr(tspec, "columns");
    if (!cols || !json_object_array_length(cols))
        return tb_fail("%s: the table has no columns", t->source);
    spec s = {0};
    /* Range-checked before the cast: a missing (NaN) or huge value would be
     * undefined behaviour converted to int. */
    double ep = tb_json_num(tspec, "epoch", NAN);
    s.pick_epoch = ep >= 1 && ep <= INT_MAX ? (int)ep : 0;
    s.time = tb_json_str(tspec, "time", "train_s");
    double gpn = tb_json_num(tspec, "gpus_per_node", NAN);
    s.gpus_per_node = gpn >= 1 && gpn <= INT_MAX ? (int)gpn : 4;
    struct json_object *base = tb_json_get(tspec, "baseline");
    s.base_key = tb_json_str(base, "key", "gpus");
    s.base_value = tb_json_str(base, "value", "1");

    int ncols = (int)json_object_array_length(cols);
    int incomplete = 0;
    for (int i = 0; i < n; i++)
        incomplete |= !rows[i].status || strcmp(rows[i].status, TB_STATUS_COMPLETED);
    int has_status = 0;
    for (int c = 0; c < ncols; c++)
        has_status |= !strcmp(tb_json_str(json_object_array_get_idx(cols, (size_t)c), "id", ""), "status");
    /* A pivot table is first built long: the row-key columns, then each
     * pivot column id once; tb_table_pivot() then spreads it out.  Its footnotes
     * already name configurations that did not complete. */
    struct json_object *pv = tb_json_get(tspec, "pivot"), *pcols = tb_json_arr(pv, "columns");
    const char *pkey = tb_json_str(pv, "key", NULL);
    if (pv && (!pkey || !pcols || !json_object_array_length(pcols)))
        return tb_fail("%s: the table's pivot needs a key and columns", t->source);
    const char *extra[32];
    int nextra = 0;
    if (pv)
        for (size_t k = 0; k < json_object_array_length(pcols); k++) {
            const char *id = tb_json_str(json_object_array_get_idx(pcols, k), "id", NULL);
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
        const char *id = col ? tb_json_str(col, "id", NULL) : pv ? extra[c - ncols] : "status";
        const char *header = col ? tb_json_str(col, "header", NULL) : NULL;
        if (!id)
            return tb_fail("%s: a table column has no id", t->source);
        snprintf(t->ids[c], sizeof t->ids[c], "%s", id);
        snprintf(t->headers[c], sizeof t->headers[c], "%s", header && *header ? header : tb_table_default_header(id));
        const tb_column_def *d = tb_table_column_find(id);
        t->kinds[c] = d ? d->kind : tb_table_option_kind(id);
    }
    t->nrows = n;
    t->cells = calloc((size_t)n * total + 1, sizeof *t->cells);
    if (!t->cells)
        return tb_fail("out of memory for a %d-row table", n);
    int missing_comm = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < total; c++) {
            tb_cell *cell = &t->cells[(size_t)i * total + c];
            tb_table_cell_value(rows, n, &rows[i], &s, t->ids[c], cell);
            if (isnan(cell->num) && !cell->text && rows[i].status && !strcmp(rows[i].status, TB_STATUS_COMPLETED) &&
                (!strcmp(t->ids[c], "compute_s") || !strcmp(t->ids[c], "comm_s") || !strcmp(t->ids[c], "bandwidth")))
                missing_comm = 1;
        }

    /* Footnotes: how the figures were taken, what is missing and why. */
    char buf[64];
    if (s.pick_epoch > 0) {
        snprintf(buf, sizeof buf, "%d", s.pick_epoch);
        add_note(t, "Times, losses and accuracies are those of epoch %s.", buf, NULL);
    } else if (shows_averages(t, total, s.time))
        averages_note(t, rows, n);
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
                if (!sub || tb_json_get(seen, sub)) /* a null entry has no text */
                    continue;
                json_object_object_add(seen, sub, json_object_new_boolean(1));
                size_t len = strlen(all);
                snprintf(all + len, sizeof all - len, "%s%s", len ? "; " : "", sub);
            }
        }
        json_object_put(seen);
        add_note(t, "Smoke scale (CPU-sized: subset, narrow model, few epochs; columns and derived figures are what "
                    "ran): %s.",
                 all[0] ? all : "no substitutions", NULL);
        int marked = 0;
        for (int i = 0; i < n * total && !marked; i++)
            marked = t->cells[i].marked;
        if (marked)
            add_note(t, "* Not meaningful at smoke scale: an efficiency over 100%% or a speedup above the GPU count "
                        "comes from CPU-sized runs sharing a few cores, not from scaling.",
                     NULL, NULL);
    }
    for (int i = 0; i < n; i++)
        if (rows[i].status && strcmp(rows[i].status, TB_STATUS_COMPLETED)) {
            char full[1800];
            snprintf(full, sizeof full, "Configuration %s (%s): %s%s%s", rows[i].id ? rows[i].id : "?",
                     rows[i].label ? rows[i].label : "", rows[i].status, rows[i].error ? ": " : "",
                     rows[i].error ? rows[i].error : "");
            json_object_array_add(t->notes, json_object_new_string(full));
        }
    const char *note = tb_json_str(tspec, "note", NULL);
    if (note && *note)
        add_note(t, "%s", note, NULL);
    return pv ? tb_table_pivot(t, rows, n, ncols, pkey, pcols) : 0;
}

static struct json_object *read_if_there(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return NULL;
    /* Absent is not an error here; anything else (damaged, a FIFO) is. */
    if (access(path, F_OK) != 0)
        return NULL;
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
    struct json_object *cfgs = tb_json_arr(plan, "configs");
    struct json_object *scfgs = tb_json_arr(summary, "configs");
    int n = cfgs ? (int)json_object_array_length(cfgs) : 0;
    row *rows = calloc((size_t)n + 1, sizeof *rows);
    if (!rows) {
        json_object_put(plan);
        json_object_put(summary);
        return tb_fail("out of memory");
    }
    const char *scale = tb_json_str(plan, "scale", NULL);
    int smoke = scale && !strcmp(scale, "smoke");
    /* Smoke scale: a configuration the substitutes made the same as an
     * earlier one ("same_as") ran once, so it is one row, which a footnote
     * says stands for the preset's other ones. */
    struct json_object *also = json_object_new_object();
    int m = 0;
    struct json_object *first = NULL;
    for (int i = 0; i < n; i++) {
        struct json_object *c = json_object_array_get_idx(cfgs, (size_t)i);
        const char *same = smoke ? tb_json_str(c, "same_as", NULL) : NULL;
        int known = 0;
        for (int j = 0; same && j < m && !known; j++)
            if ((known = rows[j].id && !strcmp(rows[j].id, same))) {
                /* Its substitutions (gpus: 4 -> 2) still reach the smoke footnote. */
                struct json_object *subs = tb_json_arr(c, "substitutions");
                for (size_t k = 0; rows[j].subs && subs && k < json_object_array_length(subs); k++)
                    json_object_array_add(rows[j].subs, json_object_get(json_object_array_get_idx(subs, k)));
            }
        if (known) {
            struct json_object *list = tb_json_arr(also, same);
            if (!list) {
                list = json_object_new_array();
                json_object_object_add(also, same, list);
            }
            json_object_array_add(list, json_object_new_string(tb_json_str(c, "label", "?")));
            continue;
        }
        row *r = &rows[m++];
        r->effective = smoke;
        r->params = tb_json_obj(c, "params");
        r->subs = tb_json_arr(c, "substitutions");
        r->id = tb_json_str(c, "id", NULL);
        r->label = tb_json_str(c, "label", NULL);
        r->planned = tb_table_planned_options(tb_json_get(c, "args"));
        struct json_object *sc = scfgs && (size_t)i < json_object_array_length(scfgs)
                                     ? json_object_array_get_idx(scfgs, (size_t)i)
                                     : NULL;
        r->status = sc ? tb_json_str(sc, "status", NULL) : TB_STATUS_PENDING;
        r->error = sc ? tb_json_str(sc, "error", NULL) : NULL;
        if (r->id && tb_rundir_id_ok(r->id)) {
            char rd[PATH_MAX];
            snprintf(rd, sizeof rd, "%s/%s", dir, r->id);
            r->result = read_if_there(rd, "result.json");
            r->config = tb_json_get(r->result, "config");
            if (r->result && !first && r->status && !strcmp(r->status, TB_STATUS_COMPLETED))
                first = r->result;
        }
    }
    snprintf(t->title, sizeof t->title, "%s",
             tb_json_str(tb_json_get(plan, "table"), "title", tb_json_str(plan, "title", "")));
    snprintf(t->preset, sizeof t->preset, "%s", tb_json_str(plan, "preset", ""));
    snprintf(t->question, sizeof t->question, "%s", tb_json_str(plan, "question", ""));
    /* The --set overrides, strings only (a hand-edited plan may hold anything). */
    t->overrides = json_object_new_array();
    struct json_object *sets = tb_json_arr(plan, "sets");
    for (size_t k = 0; sets && k < json_object_array_length(sets); k++) {
        struct json_object *v = json_object_array_get_idx(sets, k);
        if (json_object_is_type(v, json_type_string))
            json_object_array_add(t->overrides, json_object_get(v));
    }
    header_info(t, first, tb_json_num(summary ? summary : plan, "started_at", NAN));
    int rc = assemble(t, rows, m, tb_json_get(plan, "table"), smoke);
    /* One footnote: "the row of gpus=2 also stands for gpus=4, gpus=8; ...". */
    char names[1200] = "";
    for (int j = 0; j < m && rc == 0; j++) {
        struct json_object *list = rows[j].id ? tb_json_arr(also, rows[j].id) : NULL;
        for (size_t k = 0; list && k < json_object_array_length(list); k++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s%s%s", !k && len ? "; " : k ? ", " : "",
                     !k ? (rows[j].label && *rows[j].label ? rows[j].label : rows[j].id) : "",
                     !k ? " also stands for " : "", json_object_get_string(json_object_array_get_idx(list, k)));
        }
    }
    if (names[0])
        add_note(t, "Smoke scale runs each distinct configuration once; configurations the substitutes made the "
                    "same are one row: the row of %s.",
                 names, NULL);
    json_object_put(also);
    for (int i = 0; i < m; i++) {
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
        rows[i].config = tb_json_get(rows[i].result, "config");
        rows[i].status = tb_json_str(rows[i].result, "status", NULL);
        rows[i].error = tb_json_str(rows[i].result, "error", NULL);
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
        header_info(t, n ? rows[0].result : NULL, n ? tb_json_num(rows[0].result, "started_at", NAN) : NAN);
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
    out->overrides = json_object_new_array();
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
        /* Each sweep's overrides, said with the sweep they belong to. */
        for (size_t j = 0; tables[i].overrides && j < json_object_array_length(tables[i].overrides); j++) {
            char buf[2048];
            snprintf(buf, sizeof buf, "%s: %s", base,
                     json_object_get_string(json_object_array_get_idx(tables[i].overrides, j)));
            json_object_array_add(out->overrides, json_object_new_string(buf));
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
    json_object_put(t->overrides);
    t->overrides = NULL;
}
