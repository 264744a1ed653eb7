/* Preset files: parsing with libinih and validation against the option table
 * (see preset.h).  Every error names the file, the line, the key and what is
 * accepted, and is found before anything runs. */
#include "lab/preset.h"

#include "core/error.h" // uses: tb_fail, tb_fail_prefix, tb_last_error
#include "core/quote.h" // uses: tb_utf8_valid
#include "lab/table.h" // uses: tb_table_column_find, tb_column_def, tb_table_columns

#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const sections[] = {"preset", "run", "sweep", "smoke", "table"};
static const char *const preset_keys[] = {"title", "description", "lab", "question"};
static const char *const table_keys[] = {"columns", "baseline",      "time", "epoch", "gpus_per_node",
                                         "title",   "note", "pivot", "pivot_columns"};
static const char *const time_metrics[] = {"train_s", "epoch_s", "wall_s", "load_s"};
/* Where presets are looked for after $TRAINBENCH_PRESETS and ./presets
 * (lab/meson.build points it at the source tree's presets/). */
#ifndef TB_PRESETS_DIR
#define TB_PRESETS_DIR "/usr/local/share/trainbench/presets"
#endif
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void join_list(const char *const *items, int n, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? ", " : "", items[i]);
    }
}

/* Presets spell keys with '_' (num_workers); either spelling is accepted. */
static void underscore(char *s) { tb_option_spell(s, TB_SPELL_PRESET, s, strlen(s) + 1); }

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Looks an option up as presets spell it; train-only options are refused
 * because the sweep sets them itself. */
static int find_option(const char *key, const tb_option **out)
{
    *out = NULL;
    const tb_option *o = tb_option_find(key);
    if (!o) {
        char dashed[64], us[64] = "";
        const char *s = tb_option_suggest(tb_option_spell(key, TB_SPELL_FLAG, dashed, sizeof dashed));
        if (s)
            tb_option_spell(s, TB_SPELL_PRESET, us, sizeof us);
        return tb_fail("unknown option%s%s%s (accepted: any `trainbench train` option; see trainbench train --help)",
                       s ? "; did you mean '" : "", us, s ? "'?" : "");
    }
    if (o->per_invocation)
        return tb_fail("not allowed in a preset: it belongs to one invocation (%s)", o->per_invocation);
    *out = o;
    return 0;
}

/* Validates one value of an option on a scratch configuration. */
static int check_value(const tb_option *o, const char *value)
{
    tb_train_config scratch;
    tb_train_config_defaults(&scratch);
    return tb_option_set(&scratch, o, value);
}

/* Splits a comma list into the axis, validating each value. */
static int parse_list(const tb_option *o, const char *value, tb_sweep_axis *axis, int append)
{
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", value) >= (int)sizeof buf)
        return tb_fail("the list is longer than %zu characters; split it over indented lines", sizeof buf - 1);
    if (!append)
        axis->count = 0;
    char *save = NULL;
    int items = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *v = trim(tok);
        if (!*v)
            return tb_fail("empty value in the list '%s'; write values separated by commas: 0, 4, 8", value);
        if (axis->count >= TB_PRESET_MAX_VALUES)
            return tb_fail("more than %d values; split the sweep into two presets", TB_PRESET_MAX_VALUES);
        if (strlen(v) >= sizeof axis->values[0])
            return tb_fail("value '%.40s...' is too long (at most %zu characters)", v, sizeof axis->values[0] - 1);
        if (check_value(o, v))
            return -1;
        snprintf(axis->values[axis->count++], sizeof axis->values[0], "%s", v);
        items++;
    }
    if (!items)
        return tb_fail("empty sweep: list at least one value, separated by commas (e.g. 0, 4, 8)");
    return 0;
}

static tb_preset_kv *kv_put(tb_preset_kv *kv, int *n, const char *key, const char *value, int line)
{
    if (strlen(value) >= sizeof kv->value) { /* never cut: a shortened path would train on other data */
        tb_fail("value '%.40s...' is %zu characters, at most %zu in a preset", value, strlen(value),
                sizeof kv->value - 1);
        return NULL;
    }
    for (int i = 0; i < *n; i++)
        if (!strcmp(kv[i].key, key)) {
            snprintf(kv[i].value, sizeof kv[i].value, "%s", value);
            kv[i].line = line;
            return &kv[i];
        }
    if (*n >= TB_PRESET_MAX_KV) {
        tb_fail("more than %d keys in one section", TB_PRESET_MAX_KV);
        return NULL;
    }
    tb_preset_kv *e = &kv[(*n)++];
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->value, sizeof e->value, "%s", value);
    e->line = line;
    return e;
}

static tb_sweep_axis *find_axis(tb_preset *p, const char *key)
{
    for (int i = 0; i < p->naxes; i++)
        if (!strcmp(p->axes[i].key, key))
            return &p->axes[i];
    return NULL;
}

/* Canonical key of an option as presets and plan.json write it: num_workers. */
static void option_key(const tb_option *o, char *out, size_t size)
{
    tb_option_spell(o->name, TB_SPELL_PRESET, out, size);
}

/* ---- [table] ---- */

static int known_column(const char *id)
{
    /* an option by name (no_batch_norm) or by its config.json key (batch_norm) */
    return tb_table_column_find(id) || tb_option_find(id) || tb_option_find_key(id);
}

/* columns, or pivot_columns (pivot != 0: `id[v1 v2] as Header {}`, the
 * brackets naming the pivot values the column is shown for). */
static int parse_columns(tb_preset_column *cols, int *count, const char *value, int append, int pivot)
{
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", value) >= (int)sizeof buf)
        return tb_fail("the list is longer than %zu characters; split it over indented lines", sizeof buf - 1);
    if (!append)
        *count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *item = trim(tok), *header = NULL, *only = NULL;
        char *as = strstr(item, " as ");
        if (as) {
            *as = '\0';
            header = trim(as + 4);
            item = trim(item);
        }
        char *bracket = strchr(item, '[');
        if (bracket) {
            char *close = strchr(bracket, ']');
            if (!pivot)
                return tb_fail("'%s': [values] only in pivot_columns", item);
            if (!close || close[1] || close == bracket + 1)
                return tb_fail("'%s': expected id[VALUE ...], the pivot values separated by spaces, e.g. "
                               "speedup[2 4]",
                               item);
            *bracket = *close = '\0';
            only = trim(bracket + 1);
            item = trim(item);
        }
        if (!*item)
            return tb_fail("empty column in '%s'; write ids separated by commas (id or id as Header)", value);
        if (!known_column(item)) {
            const char *ids[96];
            int n = 0;
            for (const tb_column_def *d = tb_table_columns(); d->id && n < 96; d++)
                ids[n++] = d->id;
            const char *s = tb_suggest(item, ids, n);
            char all[1400];
            join_list(ids, n, all, sizeof all);
            return tb_fail("unknown column '%s'%s%s%s; accepted: an option name or one of %s", item,
                           s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "", all);
        }
        if (*count >= TB_PRESET_MAX_COLUMNS)
            return tb_fail("more than %d columns", TB_PRESET_MAX_COLUMNS);
        tb_preset_column *c = &cols[(*count)++];
        snprintf(c->id, sizeof c->id, "%s", item);
        underscore(c->id);
        snprintf(c->header, sizeof c->header, "%s", header ? header : "");
        snprintf(c->only, sizeof c->only, "%s", only ? only : "");
    }
    return 0;
}

static int parse_table_key(tb_preset *p, const char *key, const char *value, int continued)
{
    if (!strcmp(key, "columns"))
        return parse_columns(p->columns, &p->ncolumns, value, continued, 0);
    if (!strcmp(key, "pivot_columns"))
        return parse_columns(p->pivot_columns, &p->npivot_columns, value, continued, 1);
    if (continued && strcmp(key, "note"))
        return tb_fail("given twice; each key once per section");
    if (!strcmp(key, "baseline")) {
        char buf[256];
        if (snprintf(buf, sizeof buf, "%s", value) >= (int)sizeof buf)
            return tb_fail("'%.40s...' is longer than %zu characters", value, sizeof buf - 1);
        char *eq = strchr(buf, '=');
        if (!eq)
            return tb_fail("'%s': expected OPTION=VALUE naming the baseline rows, e.g. gpus=1", value);
        *eq = '\0';
        const tb_option *o;
        char *k = trim(buf), *v = trim(eq + 1);
        if (find_option(k, &o) || check_value(o, v))
            return tb_fail_prefix("baseline %s", k);
        option_key(o, p->baseline_key, sizeof p->baseline_key);
        if (snprintf(p->baseline_value, sizeof p->baseline_value, "%s", v) >= (int)sizeof p->baseline_value)
            return tb_fail("baseline value '%.40s...' is longer than %zu characters", v, sizeof p->baseline_value - 1);
        return 0;
    }
    if (!strcmp(key, "time")) {
        for (int i = 0; i < COUNT(time_metrics); i++)
            if (!strcmp(value, time_metrics[i]))
                return snprintf(p->time_metric, sizeof p->time_metric, "%s", value), 0;
        return tb_fail("'%s': expected one of train_s, epoch_s, wall_s, load_s", value);
    }
    if (!strcmp(key, "epoch") || !strcmp(key, "gpus_per_node")) {
        char *end;
        long v = strtol(value, &end, 10);
        long max = !strcmp(key, "epoch") ? 100000 : 64;
        if (!*value || *end || v < 1 || v > max)
            return tb_fail("'%s': expected an integer from 1 to %ld", value, max);
        if (!strcmp(key, "epoch"))
            p->pick_epoch = (int)v;
        else
            p->gpus_per_node = (int)v;
        return 0;
    }
    if (!strcmp(key, "pivot")) {
        const tb_option *o;
        if (find_option(value, &o))
            return tb_fail_prefix("pivot %s", value);
        option_key(o, p->pivot, sizeof p->pivot);
        return 0;
    }
    if (!strcmp(key, "title"))
        return snprintf(p->table_title, sizeof p->table_title, "%s", value) >= (int)sizeof p->table_title
                   ? tb_fail("longer than %zu characters; shorten it", sizeof p->table_title - 1)
                   : 0;
    if (!strcmp(key, "note")) {
        size_t len = strlen(p->note);
        if (snprintf(p->note + len, sizeof p->note - len, "%s%s", len ? " " : "", value) >= (int)(sizeof p->note - len))
            return tb_fail("the note is longer than %zu characters; shorten it", sizeof p->note - 1);
        return 0;
    }
    const char *s = tb_suggest(key, table_keys, COUNT(table_keys));
    char all[256];
    join_list(table_keys, COUNT(table_keys), all, sizeof all);
    return tb_fail("unknown key%s%s%s; accepted: %s", s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "", all);
}

/* ---- the INI callbacks ---- */

typedef struct {
    tb_preset *p;
    FILE *f;
    int line;          /* physical line just read */
    int continuation;  /* that line began with white space (a multi-line value) */
    int error;         /* the first error is kept; later callbacks do nothing */
    char last_key[128];
    struct {
        char pair[128]; /* section/key, the key as the option table names it (aliases resolved) */
        char key[64];   /* as the file spelt it */
        int line;
    } seen[256];        /* to refuse a key given twice */
    int nseen;
} parse_ctx;

static int record_error(parse_ctx *x, const char *section, const char *key)
{
    if (x->error)
        return 1;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tb_last_error());
    if (section && key)
        tb_fail("%s:%d: [%s] %s: %s", x->p->path, x->line, section, key, msg);
    else
        tb_fail("%s:%d: %s", x->p->path, x->line, msg);
    x->error = 1;
    return 1;
}

/* Reads one line for inih, counting lines and checking section headers here,
 * because inih does not report empty sections to the handler. */
static char *reader(char *buf, int size, void *stream)
{
    parse_ctx *x = stream;
    if (!fgets(buf, size, x->f))
        return NULL;
    x->line++;
    size_t len = strlen(buf);
    if (len == (size_t)size - 1 && buf[len - 1] != '\n' && !feof(x->f)) {
        tb_fail("line is longer than %d characters; split a long list over indented continuation lines", size - 2);
        record_error(x, NULL, NULL);
        int c;
        while ((c = fgetc(x->f)) != EOF && c != '\n')
            ;
    }
    x->continuation = buf[0] == ' ' || buf[0] == '\t';
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", buf);
    char *t = trim(tmp);
    if (*t == '[' && !x->error) {
        char *close = strchr(t, ']');
        if (close) {
            *close = '\0';
            char *name = trim(t + 1);
            int ok = 0;
            for (int i = 0; i < COUNT(sections); i++)
                ok |= !strcmp(name, sections[i]);
            if (!ok) {
                const char *s = tb_suggest(name, sections, COUNT(sections));
                tb_fail("unknown section [%s]%s%s%s; accepted: [preset], [run], [sweep], [smoke], [table]", name,
                        s ? "; did you mean [" : "", s ? s : "", s ? "]?" : "");
                record_error(x, NULL, NULL);
            }
        }
    }
    return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *x = user;
    tb_preset *p = x->p;
    if (x->error)
        return 1;
    char key[64];
    snprintf(key, sizeof key, "%s", name);
    char pair[128];
    snprintf(pair, sizeof pair, "%s/%s", section, key);
    /* inih calls again with the same key for an indented continuation line. */
    int continued = x->continuation && !strcmp(pair, x->last_key);
    /* Everything here ends up in plan.json, which json-c writes byte for byte. */
    if (!tb_utf8_valid(name) || !tb_utf8_valid(value)) {
        tb_fail("not valid UTF-8 text; save the preset as UTF-8");
        return record_error(x, section, key);
    }
    if (!continued) {
        /* One option under two spellings (num_workers, num-of-workers) is
         * still one key: [run], [sweep] and [smoke] compare option names. */
        char norm[128];
        const tb_option *o = strcmp(section, "preset") && strcmp(section, "table") ? tb_option_find(key) : NULL;
        if (o) {
            char okey[64];
            option_key(o, okey, sizeof okey);
            snprintf(norm, sizeof norm, "%s/%s", section, okey);
        } else {
            snprintf(norm, sizeof norm, "%s", pair);
            underscore(norm);
        }
        for (int i = 0; i < x->nseen; i++)
            if (!strcmp(x->seen[i].pair, norm)) {
                tb_fail("given twice: line %d has %s and line %d has %s%s; each key once per section (continue a "
                        "long list on indented lines)",
                        x->seen[i].line, x->seen[i].key, x->line, key,
                        strcmp(x->seen[i].key, key) ? ", two names of one option" : "");
                return record_error(x, section, key);
            }
        if (x->nseen == 256) {
            tb_fail("more than 256 keys in one preset");
            return record_error(x, section, key);
        }
        snprintf(x->seen[x->nseen].pair, sizeof x->seen[0].pair, "%s", norm);
        snprintf(x->seen[x->nseen].key, sizeof x->seen[0].key, "%s", key);
        x->seen[x->nseen++].line = x->line;
    }
    snprintf(x->last_key, sizeof x->last_key, "%s", pair);

    if (!strcmp(section, "preset")) {
        char *dst = NULL;
        size_t size = 0;
        if (!strcmp(key, "title"))
            dst = p->title, size = sizeof p->title;
        else if (!strcmp(key, "description"))
            dst = p->description, size = sizeof p->description;
        else if (!strcmp(key, "lab"))
            dst = p->lab, size = sizeof p->lab;
        else if (!strcmp(key, "question"))
            dst = p->question, size = sizeof p->question;
        if (!dst) {
            const char *s = tb_suggest(key, preset_keys, COUNT(preset_keys));
            tb_fail("unknown key%s%s%s; accepted: title, description, lab, question", s ? "; did you mean '" : "",
                    s ? s : "", s ? "'?" : "");
            return record_error(x, section, key);
        }
        size_t len = continued ? strlen(dst) : 0;
        if (snprintf(dst + len, size - len, "%s%s", len ? " " : "", value) >= (int)(size - len)) {
            tb_fail("longer than %zu characters; shorten it", size - 1);
            return record_error(x, section, key);
        }
        return 1;
    }
    if (!strcmp(section, "table")) {
        if (parse_table_key(p, key, value, continued))
            return record_error(x, section, key);
        if (!strcmp(key, "pivot"))
            p->pivot_line = x->line;
        else if (!strcmp(key, "pivot_columns") && !continued)
            p->pivot_columns_line = x->line;
        return 1;
    }
    if (!strcmp(section, "sweep") && !strcmp(key, "mode")) {
        if (strcmp(value, "product") && strcmp(value, "zip")) {
            tb_fail("'%s': expected product (every combination) or zip (the i-th values together)", value);
            return record_error(x, section, key);
        }
        p->zip = !strcmp(value, "zip");
        return 1;
    }
    /* [run], [sweep], [smoke]: option names. */
    const tb_option *o;
    if (find_option(key, &o))
        return record_error(x, section, key);
    char okey[64];
    option_key(o, okey, sizeof okey);
    if (!strcmp(section, "run")) {
        if (continued || check_value(o, value) || !kv_put(p->run, &p->nrun, okey, value, x->line))
            return continued ? (tb_fail("a single value, not a list (lists go in [sweep])"), record_error(x, section, key))
                             : record_error(x, section, key);
        return 1;
    }
    if (!strcmp(section, "sweep")) {
        tb_sweep_axis *axis = find_axis(p, okey);
        if (!axis) {
            if (p->naxes >= TB_PRESET_MAX_AXES) {
                tb_fail("more than %d swept options", TB_PRESET_MAX_AXES);
                return record_error(x, section, key);
            }
            axis = &p->axes[p->naxes++];
            memset(axis, 0, sizeof *axis);
            snprintf(axis->key, sizeof axis->key, "%s", okey);
            axis->line = x->line;
        }
        if (parse_list(o, value, axis, continued))
            return record_error(x, section, key);
        return 1;
    }
    /* [smoke]: a value, or a list for a swept option; checked again after
     * parsing, when every axis is known. */
    tb_sweep_axis scratch;
    memset(&scratch, 0, sizeof scratch);
    if (parse_list(o, value, &scratch, 0) || !kv_put(p->smoke, &p->nsmoke, okey, value, x->line))
        return record_error(x, section, key);
    return 1;
}

static int finish(tb_preset *p)
{
    if (!p->title[0])
        return tb_fail("%s: [preset] title is missing; every preset needs title, lab and question", p->path);
    if (!p->lab[0])
        return tb_fail("%s: [preset] lab is missing; every preset needs title, lab and question", p->path);
    if (!p->question[0])
        return tb_fail("%s: [preset] question is missing; every preset needs title, lab and question", p->path);
    if (p->zip)
        for (int i = 1; i < p->naxes; i++)
            if (p->axes[i].count != p->axes[0].count)
                return tb_fail("%s:%d: [sweep] %s: %d values, but %s has %d; with mode = zip every list needs the "
                               "same length",
                               p->path, p->axes[i].line, p->axes[i].key, p->axes[i].count, p->axes[0].key,
                               p->axes[0].count);
    for (int i = 0; i < p->nsmoke; i++)
        if (!find_axis(p, p->smoke[i].key) && strchr(p->smoke[i].value, ','))
            return tb_fail("%s:%d: [smoke] %s: a list is only allowed for a swept option; give one value", p->path,
                           p->smoke[i].line, p->smoke[i].key);
    for (int i = 0; i < p->naxes; i++)
        for (int k = 0; k < p->nrun; k++)
            if (!strcmp(p->axes[i].key, p->run[k].key))
                return tb_fail("%s:%d: [run] %s: also swept in [sweep] (line %d); keep one", p->path, p->run[k].line,
                               p->run[k].key, p->axes[i].line);
    int needs_base = 0;
    for (int i = 0; i < p->ncolumns + p->npivot_columns; i++) {
        const char *id = i < p->ncolumns ? p->columns[i].id : p->pivot_columns[i - p->ncolumns].id;
        needs_base |= !strcmp(id, "speedup") || !strcmp(id, "weak_speedup") || !strcmp(id, "efficiency");
    }
    tb_sweep_axis *pax = p->pivot[0] ? find_axis(p, p->pivot) : NULL;
    if (p->pivot[0] && !pax)
        return tb_fail("%s:%d: [table] pivot: %s is not swept in [sweep]; the pivot's values become the column "
                       "groups, so name a swept option",
                       p->path, p->pivot_line, p->pivot);
    if (p->pivot[0] && !p->npivot_columns)
        return tb_fail("%s:%d: [table] pivot: no pivot_columns; add pivot_columns = id as Header {}, ... ({} is "
                       "the pivot value)",
                       p->path, p->pivot_line);
    if (!p->pivot[0] && p->npivot_columns)
        return tb_fail("%s:%d: [table] pivot_columns: no pivot; add pivot = OPTION (a swept option)", p->path,
                       p->pivot_columns_line);
    for (int i = 0; pax && i < p->ncolumns; i++)
        if (!strcmp(p->columns[i].id, p->pivot))
            return tb_fail("%s:%d: [table] columns: %s is the pivot; its values head the column groups, so drop it "
                           "from columns",
                           p->path, p->pivot_line, p->pivot);
    for (int i = 0; pax && i < p->npivot_columns; i++) {
        char buf[sizeof p->pivot_columns[i].only], *save = NULL;
        snprintf(buf, sizeof buf, "%s", p->pivot_columns[i].only);
        for (char *v = strtok_r(buf, " \t", &save); v; v = strtok_r(NULL, " \t", &save)) {
            int found = 0;
            for (int k = 0; k < pax->count && !found; k++)
                found = !strcmp(pax->values[k], v);
            if (!found)
                return tb_fail("%s:%d: [table] pivot_columns: %s[%s]: %s is not one of the swept %s values", p->path,
                               p->pivot_columns_line, p->pivot_columns[i].id, p->pivot_columns[i].only, v,
                               p->pivot);
        }
    }
    if (needs_base && !p->baseline_key[0])
        return tb_fail("%s: [table] columns use speedup or efficiency but no baseline is named; add baseline = "
                       "OPTION=VALUE (e.g. gpus=1)",
                       p->path);
    if (!p->ncolumns)
        return tb_fail("%s: [table] columns is missing; name the columns of the result table", p->path);
    return 0;
}

int tb_preset_load(const char *path, tb_preset *p)
{
    memset(p, 0, sizeof *p);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t stem = strlen(base) - (strlen(base) > 4 && !strcmp(base + strlen(base) - 4, ".ini") ? 4 : 0);
    /* Never cut: the name names sweep directories, and two cut names could meet. */
    if (!tb_utf8_valid(path))
        return tb_fail("preset %s: the path is not valid UTF-8 text; it is stored in plan.json and names the sweep "
                       "directory, so rename it to a UTF-8 name",
                       path);
    if (strlen(path) >= sizeof p->path || stem >= sizeof p->name)
        return tb_fail("preset %s: the path (at most %zu characters) or the file name (at most %zu before .ini) is "
                       "too long; rename it",
                       path, sizeof p->path - 1, sizeof p->name - 1);
    snprintf(p->path, sizeof p->path, "%s", path);
    snprintf(p->name, sizeof p->name, "%s", base);
    char *dot = strrchr(p->name, '.');
    if (dot && !strcmp(dot, ".ini"))
        *dot = '\0';
    snprintf(p->time_metric, sizeof p->time_metric, "train_s");
    p->gpus_per_node = 4;
    parse_ctx *x = calloc(1, sizeof *x);
    if (!x)
        return tb_fail("out of memory reading %s", path);
    x->p = p;
    x->f = fopen(path, "r");
    if (!x->f) {
        free(x);
        return tb_fail("cannot open preset %s; list the shipped ones with ls presets/", path);
    }
    int rc = ini_parse_stream(reader, x, handler, x);
    fclose(x->f);
    int had_error = x->error;
    free(x);
    if (had_error)
        return -1;
    if (rc > 0)
        return tb_fail("%s:%d: syntax error: expected [section], key = value, or a ; comment", path, rc);
    if (rc < 0)
        return tb_fail("%s: cannot read the preset (inih error %d)", path, rc);
    return finish(p);
}

int tb_preset_resolve(const char *name, char *out, size_t size)
{
    if (strchr(name, '/') || strstr(name, ".ini")) {
        if (access(name, R_OK) != 0)
            return tb_fail("preset %s: no such readable file", name);
        snprintf(out, size, "%s", name);
        return 0;
    }
    const char *env = getenv("TRAINBENCH_PRESETS");
    const char *dirs[] = {env && *env ? env : NULL, "presets", TB_PRESETS_DIR};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i])
            continue;
        int n = snprintf(out, size, "%s/%s.ini", dirs[i], name);
        if (n > 0 && (size_t)n < size && access(out, R_OK) == 0)
            return 0;
    }
    return tb_fail("unknown preset '%s': no presets/%s.ini here, in $TRAINBENCH_PRESETS or in %s; list them with "
                   "ls presets/",
                   name, name, TB_PRESETS_DIR);
}

int tb_preset_set(tb_preset *p, const char *assignment)
{
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", assignment) >= (int)sizeof buf)
        return tb_fail("--set '%.40s...': longer than %zu characters", assignment, sizeof buf - 1);
    char *eq = strchr(buf, '=');
    if (!eq)
        return tb_fail("--set %s: expected KEY=VALUE, e.g. --set epochs=1", assignment);
    *eq = '\0';
    char *key = trim(buf), *value = trim(eq + 1);
    const tb_option *o;
    if (find_option(key, &o))
        return tb_fail_prefix("--set %s", key);
    char okey[64];
    option_key(o, okey, sizeof okey);
    tb_sweep_axis *axis = find_axis(p, okey);
    if (axis) {
        tb_sweep_axis tmp = *axis;
        if (parse_list(o, value, &tmp, 0))
            return tb_fail_prefix("--set %s", key);
        if (p->zip && tmp.count != axis->count && p->naxes > 1)
            return tb_fail("--set %s: %d values, but the zipped sweep has %d per option", key, tmp.count, axis->count);
        *axis = tmp;
        return 0;
    }
    if (strchr(value, ','))
        return tb_fail("--set %s=%s: a list is only allowed for a swept option (%s is not swept in %s)", key, value,
                       okey, p->path);
    if (check_value(o, value))
        return tb_fail_prefix("--set %s", key);
    return kv_put(p->run, &p->nrun, okey, value, 0) ? 0 : tb_fail_prefix("--set %s", key);
}

struct json_object *tb_preset_table_json(const tb_preset *p)
{
    struct json_object *t = json_object_new_object();
    json_object_object_add(t, "title", json_object_new_string(p->table_title[0] ? p->table_title : p->title));
    struct json_object *cols = json_object_new_array();
    for (int i = 0; i < p->ncolumns; i++) {
        struct json_object *c = json_object_new_object();
        json_object_object_add(c, "id", json_object_new_string(p->columns[i].id));
        json_object_object_add(c, "header", json_object_new_string(p->columns[i].header));
        json_object_array_add(cols, c);
    }
    json_object_object_add(t, "columns", cols);
    if (p->baseline_key[0]) {
        struct json_object *b = json_object_new_object();
        json_object_object_add(b, "key", json_object_new_string(p->baseline_key));
        json_object_object_add(b, "value", json_object_new_string(p->baseline_value));
        json_object_object_add(t, "baseline", b);
    }
    json_object_object_add(t, "time", json_object_new_string(p->time_metric));
    json_object_object_add(t, "epoch", json_object_new_int(p->pick_epoch));
    json_object_object_add(t, "gpus_per_node", json_object_new_int(p->gpus_per_node));
    json_object_object_add(t, "note", json_object_new_string(p->note));
    if (p->pivot[0]) { /* only then: the plan.json of other presets is unchanged */
        struct json_object *pv = json_object_new_object(), *pcols = json_object_new_array();
        json_object_object_add(pv, "key", json_object_new_string(p->pivot));
        for (int i = 0; i < p->npivot_columns; i++) {
            const tb_preset_column *pc = &p->pivot_columns[i];
            struct json_object *c = json_object_new_object(), *only = json_object_new_array();
            json_object_object_add(c, "id", json_object_new_string(pc->id));
            json_object_object_add(c, "header", json_object_new_string(pc->header));
            char buf[sizeof pc->only], *save = NULL;
            snprintf(buf, sizeof buf, "%s", pc->only);
            for (char *v = strtok_r(buf, " \t", &save); v; v = strtok_r(NULL, " \t", &save))
                json_object_array_add(only, json_object_new_string(v));
            json_object_object_add(c, "only", only);
            json_object_array_add(pcols, c);
        }
        json_object_object_add(pv, "columns", pcols);
        json_object_object_add(t, "pivot", pv);
    }
    return t;
}
