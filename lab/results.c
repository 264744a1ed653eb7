/* `trainbench results`: one line per sweep or run under a runs folder. */
#include "lab/results.h"

#include "core/error.h" // uses: tb_fail
#include "core/json.h" // uses: tb_json_num, tb_json_get, tb_json_str, tb_json_arr
#include "core/quote.h" // uses: tb_text_escape, tb_json_put
#include "rundir/lock.h" // uses: tb_lock_status
#include "rundir/rundir.h" // uses: TB_STATUS_INTERRUPTED, TB_STATUS_STALE, tb_json_read_file, ...

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The directory's lock says whether its process lives; a pid in the file
 * may be stale, reused or crafted. */
const char *tb_sweep_effective_status(const char *status, const char *dir)
{
    return tb_lock_status(status, dir, TB_STATUS_INTERRUPTED);
}

const char *tb_run_effective_status(const char *status, const char *dir)
{
    return tb_lock_status(status, dir, TB_STATUS_STALE);
}

static void date_of(double t, char *out, size_t size)
{
    /* Range first: casting NaN or a huge number to time_t is undefined. */
    if (!(t > 0 && t < 1e12)) {
        snprintf(out, size, "%-16s", "?");
        return;
    }
    time_t when = (time_t)t;
    struct tm tm;
    if (!localtime_r(&when, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, size, "%-16s", "?");
}

static struct json_object *read_opt(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return NULL;
    return access(path, R_OK) == 0 ? tb_json_read_file(path) : NULL;
}

/* A folder under the runs folder and when it started, for the order. */
typedef struct {
    char *name;
    double started; /* NAN unknown */
} entry;

/* Newest first by the time the files record (a folder given with
 * --run-dir or --sweep-dir need not start with its date), then by name,
 * newest-looking first; entries without a time last. */
static int by_time(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int kx = isfinite(x->started), ky = isfinite(y->started);
    if (kx != ky)
        return ky - kx;
    if (kx && x->started != y->started)
        return x->started < y->started ? 1 : -1;
    return strcmp(y->name, x->name);
}

int tb_results_match(const char *filter, const char *const *fields, int n)
{
    if (!filter || !*filter)
        return 1;
    size_t fl = strlen(filter);
    for (int i = 0; i < n; i++)
        for (const char *f = fields[i]; f && *f; f++)
            if (!strncasecmp(f, filter, fl))
                return 1;
    return 0;
}

/* Adds a number, or null when the file lacks it (the text listing shows 0) or
 * holds NaN, which JSON has no number for. */
static void add_num(struct json_object *o, const char *key, struct json_object *from, const char *from_key)
{
    double v = tb_json_num(from, from_key, NAN);
    json_object_object_add(o, key, isnan(v) ? NULL : json_object_new_double(v));
}

/* Folder names and file contents here may be any bytes, and json-c writes
 * strings byte for byte: one that is not plain printable UTF-8 is added as
 * the text listing shows it (\xNN escapes), so the document stays valid JSON. */
static void add_str(struct json_object *o, const char *key, const char *v)
{
    char *shown = v ? tb_text_escape(v) : NULL;
    json_object_object_add(o, key, !v ? NULL : json_object_new_string(shown && strcmp(shown, v) ? shown : v));
    free(shown);
}

int tb_results_list(const char *runs_dir, FILE *out) { return tb_results_list_filtered(runs_dir, out, 0, NULL); }

int tb_results_list_format(const char *runs_dir, FILE *out, int json)
{
    return tb_results_list_filtered(runs_dir, out, json, NULL);
}

/* When the entry in dir started (a sweep's summary.json, else its plan.json;
 * a run's result.json), NAN unknown; *kind 1 sweep, 2 run, 0 neither. */
static double started_of(const char *dir, int *kind)
{
    struct json_object *plan = read_opt(dir, "plan.json"), *sum = plan ? read_opt(dir, "summary.json") : NULL;
    struct json_object *r = plan ? NULL : read_opt(dir, "result.json");
    *kind = plan ? 1 : r ? 2 : 0;
    double t = plan ? tb_json_num(sum ? sum : plan, sum ? "started_at" : "created_at", NAN)
                    : tb_json_num(r, "started_at", NAN);
    json_object_put(plan);
    json_object_put(sum);
    json_object_put(r);
    return t;
}

/* One line of the listing.  The strings come from files and folder names that
 * anyone may have written: escaped, so no escape sequence reaches the terminal. */
static void print_row(FILE *out, const char *date, const char *kind, const char *name, const char *scale,
                      const char *status, const char *figures, const char *dir)
{
    const char *in[4] = {name, scale, status, dir};
    char *e[4];
    for (int i = 0; i < 4; i++)
        e[i] = tb_text_escape(in[i]);
    fprintf(out, "%-16s  %-5s  %-24s  %-6s  %-11s  %-44s  %s\n", date, kind, e[0] ? e[0] : "?", e[1] ? e[1] : "?",
            e[2] ? e[2] : "?", figures, e[3] ? e[3] : "?");
    for (int i = 0; i < 4; i++)
        free(e[i]);
}

int tb_results_list_filtered(const char *runs_dir, FILE *out, int json, const char *filter)
{
    DIR *d = opendir(runs_dir);
    if (!d)
        return tb_fail("cannot read %s: %s; pass --runs-dir DIR (where trainbench run and train wrote)", runs_dir,
                       strerror(errno));
    entry *names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            entry *grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                closedir(d);
                for (size_t i = 0; i < n; i++)
                    free(names[i].name);
                free(names);
                return tb_fail("out of memory listing %s", runs_dir);
            }
            names = grown;
        }
        char dir[PATH_MAX];
        int kind = 0;
        if (snprintf(dir, sizeof dir, "%s/%s", runs_dir, e->d_name) >= (int)sizeof dir)
            continue;
        double t = started_of(dir, &kind);
        if (!kind)
            continue;
        char *name = strdup(e->d_name);
        if (!name) {
            closedir(d);
            for (size_t i = 0; i < n; i++)
                free(names[i].name);
            free(names);
            return tb_fail("out of memory listing %s", runs_dir);
        }
        names[n++] = (entry){name, t > 0 && t < 1e12 ? t : NAN};
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_time);
    struct json_object *entries = json ? json_object_new_array() : NULL;
    if (!json)
        fprintf(out, "%-16s  %-5s  %-24s  %-6s  %-11s  %-44s  %s\n", "DATE", "KIND", "PRESET / MODEL", "SCALE",
                "STATUS", "KEY FIGURES", "PATH");
    int listed = 0;
    for (size_t i = 0; i < n; i++) {
        char dir[PATH_MAX], date[32], figures[256];
        snprintf(dir, sizeof dir, "%s/%s", runs_dir, names[i].name);
        struct json_object *plan = read_opt(dir, "plan.json");
        if (plan) {
            struct json_object *sum = read_opt(dir, "summary.json"), *counts = tb_json_get(sum, "counts");
            date_of(tb_json_num(sum ? sum : plan, sum ? "started_at" : "created_at", 0), date, sizeof date);
            const char *st = tb_sweep_effective_status(tb_json_str(sum, "status", NULL), dir);
            const char *fields[] = {names[i].name, tb_json_str(plan, "preset", NULL), st, "sweep"};
            if (!tb_results_match(filter, fields, 4)) {
                json_object_put(sum);
                json_object_put(plan);
                free(names[i].name);
                continue;
            }
            /* A damaged plan.json may hold anything; json-c asserts on non-arrays. */
            struct json_object *cfgs = tb_json_arr(plan, "configs");
            size_t ncfgs = cfgs ? json_object_array_length(cfgs) : 0;
            snprintf(figures, sizeof figures, "%.0f/%zu completed, %.0f failed, %.0f refused",
                     tb_json_num(counts, TB_STATUS_COMPLETED, 0), ncfgs, tb_json_num(counts, TB_STATUS_FAILED, 0),
                     tb_json_num(counts, TB_STATUS_REFUSED, 0));
            if (json) {
                struct json_object *o = json_object_new_object(), *c = json_object_new_object();
                add_str(o, "kind", "sweep");
                add_num(o, "started_at", sum ? sum : plan, sum ? "started_at" : "created_at");
                add_str(o, "preset", tb_json_str(plan, "preset", NULL));
                add_str(o, "scale", tb_json_str(plan, "scale", NULL));
                add_str(o, "status", st);
                json_object_object_add(c, "total", json_object_new_int64((int64_t)ncfgs));
                add_num(c, TB_STATUS_COMPLETED, counts, TB_STATUS_COMPLETED);
                add_num(c, TB_STATUS_FAILED, counts, TB_STATUS_FAILED);
                add_num(c, TB_STATUS_REFUSED, counts, TB_STATUS_REFUSED);
                json_object_object_add(o, "counts", c);
                add_str(o, "path", dir);
                json_object_array_add(entries, o);
            } else
                print_row(out, date, "sweep", tb_json_str(plan, "preset", "?"), tb_json_str(plan, "scale", "?"), st,
                          figures, dir);
            json_object_put(sum);
            json_object_put(plan);
            listed++;
        } else {
            struct json_object *r = read_opt(dir, "result.json");
            if (r) {
                struct json_object *s = tb_json_get(r, "summary"), *c = tb_json_get(r, "config");
                const char *raw = tb_json_str(r, "status", NULL);
                const char *st = raw ? tb_run_effective_status(raw, dir) : NULL; /* missing: null, "?" */
                const char *fields[] = {names[i].name, tb_json_str(c, "model", NULL), st, "run"};
                if (!tb_results_match(filter, fields, 4)) {
                    json_object_put(r);
                    free(names[i].name);
                    continue;
                }
                date_of(tb_json_num(r, "started_at", 0), date, sizeof date);
                snprintf(figures, sizeof figures, "%.0f epochs, %.3f s/epoch, test acc %.2f%%",
                         tb_json_num(s, "epochs_completed", 0), tb_json_num(s, "avg_epoch_s", 0),
                         tb_json_num(s, "final_test_acc", 0));
                if (json) {
                    struct json_object *o = json_object_new_object();
                    add_str(o, "kind", "run");
                    add_num(o, "started_at", r, "started_at");
                    add_str(o, "model", tb_json_str(c, "model", NULL));
                    add_str(o, "status", st);
                    add_num(o, "epochs_completed", s, "epochs_completed");
                    add_num(o, "avg_epoch_s", s, "avg_epoch_s");
                    add_num(o, "final_test_acc", s, "final_test_acc");
                    add_str(o, "path", dir);
                    json_object_array_add(entries, o);
                } else
                    print_row(out, date, "run", tb_json_str(c, "model", "?"), "-", st ? st : "?", figures, dir);
                json_object_put(r);
                listed++;
            }
        }
        free(names[i].name);
    }
    free(names);
    if (json) { /* trainbench.results/1: the same entries, for scripts */
        struct json_object *all = json_object_new_object();
        json_object_object_add(all, "schema", json_object_new_string("trainbench.results/1"));
        add_str(all, "runs_dir", runs_dir);
        json_object_object_add(all, "entries", entries);
        tb_json_put(out, json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        fputc('\n', out);
        json_object_put(all);
    } else if (!listed && filter && *filter) {
        char *shown = tb_text_escape(filter); /* typed text may hold escape sequences */
        fprintf(out, "(no sweeps or runs under %s match \"%s\")\n", runs_dir, shown ? shown : "?");
        free(shown);
    } else if (!listed)
        fprintf(out, "(no sweeps or runs under %s)\n", runs_dir);
    return 0;
}
