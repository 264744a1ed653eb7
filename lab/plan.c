/* Sweep expansion: a preset (with any --set) becomes an ordered list of
 * validated train configurations; at smoke scale each is shrunk to CPU size
 * and every substitution is recorded so the plan says what really ran. */
#include "lab/preset.h" // uses: tb_preset, tb_plan_entry, tb_sweep_axis, TB_PRESET_MAX_VALUES, tb_plan, ...

#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "tb_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smoke limits: a few seconds per configuration on a 2-core CPU. */
enum { SMOKE_TRAIN = 256, SMOKE_TEST = 128, SMOKE_BATCH = 128, SMOKE_WIDTH = 4, SMOKE_MAX_WIDTH = 8 };

static int set_key(tb_train_config *c, const char *key, const char *value)
{
    const tb_option *o = tb_option_find(key);
    if (!o)
        return tb_fail("unknown option %s", key);
    return tb_option_set(c, o, value);
}

/* The key and value of an option as config.json writes them: negated flags
 * positively (no_batch_norm = true is batch_norm: false). */
static void json_key_value(const tb_train_config *c, const tb_option *o, char *key, size_t ksize, char *val,
                           size_t vsize)
{
    tb_option_spell(o->name, TB_SPELL_KEY, key, ksize);
    if (o->type == TB_OPT_FLAG)
        snprintf(val, vsize, "%s", *(const int *)((const char *)c + o->offset) ? "true" : "false");
    else
        tb_option_format(c, o, val, vsize);
}

static void note_sub(struct json_object *subs, const char *key, const char *from, const char *to)
{
    if (strcmp(from, to) == 0)
        return;
    char buf[2400];
    snprintf(buf, sizeof buf, "%s: %s -> %s", key, from, to);
    json_object_array_add(subs, json_object_new_string(buf));
}

/* Sets key to value and records the change. */
static int substitute(tb_train_config *c, struct json_object *subs, const char *key, const char *value)
{
    const tb_option *o = tb_option_find(key);
    if (!o)
        return tb_fail("unknown option %s", key);
    char jk[64], before[1100], after[1100];
    json_key_value(c, o, jk, sizeof jk, before, sizeof before);
    if (tb_option_set(c, o, value))
        return -1;
    json_key_value(c, o, jk, sizeof jk, after, sizeof after);
    note_sub(subs, jk, before, after);
    return 0;
}

static int in_smoke(const tb_preset *p, const char *key)
{
    for (int i = 0; i < p->nsmoke; i++)
        if (!strcmp(p->smoke[i].key, key))
            return 1;
    return 0;
}

static int is_axis(const tb_preset *p, const char *key)
{
    for (int i = 0; i < p->naxes; i++)
        if (!strcmp(p->axes[i].key, key))
            return 1;
    return 0;
}

/* The generic shrink, for every key the preset's [smoke] does not set. */
enum { SMOKE_RANKS = TB_HAVE_MPI ? 2 : 1 };

static int shrink(const tb_preset *p, tb_train_config *c, struct json_object *subs)
{
    char v[64];
    if (!in_smoke(p, "device") && strcmp(c->device, "cpu") && substitute(c, subs, "device", "cpu"))
        return -1;
    /* A scaling sweep's one-rank baseline would take every core (threads 0)
     * while each of two ranks gets one: the same per-rank count for all, or
     * the speedups measure the thread count. */
    if (!in_smoke(p, "threads") && is_axis(p, "gpus") && c->threads == 0 && substitute(c, subs, "threads", "1"))
        return -1;
    /* Two CPU ranks keep the data-parallel path (MPI) in a smoke run. */
    if (!in_smoke(p, "gpus") && c->gpus > SMOKE_RANKS && substitute(c, subs, "gpus", TB_HAVE_MPI ? "2" : "1"))
        return -1;
    if (!in_smoke(p, "precision") && strcmp(c->precision, "fp32") && substitute(c, subs, "precision", "fp32"))
        return -1;
    if (!in_smoke(p, "dataset") && strcmp(c->dataset, "fashion-mnist") && strcmp(c->dataset, "mnist") &&
        strcmp(c->dataset, "synthetic")) {
        if (substitute(c, subs, "dataset", "synthetic"))
            return -1;
        if (c->data_dir[0])
            note_sub(subs, "data_dir", c->data_dir, "(none)");
        c->data_dir[0] = '\0';
    }
    /* Two epochs when the table picks a later one (the smoke table shows the
     * last) or a warm-up must show; else one. */
    int epochs = p->pick_epoch > 1 ? 2 : 1;
    if (c->warmup_epochs > 0 && epochs < 2)
        epochs = 2;
    if (!in_smoke(p, "epochs") && c->epochs > epochs) {
        snprintf(v, sizeof v, "%d", epochs);
        if (substitute(c, subs, "epochs", v))
            return -1;
    }
    if (!in_smoke(p, "warmup_epochs") && c->warmup_epochs >= c->epochs && c->warmup_epochs > 0) {
        snprintf(v, sizeof v, "%d", c->epochs - 1);
        if (substitute(c, subs, "warmup_epochs", v))
            return -1;
    }
    if (!in_smoke(p, "limit_train") && (c->limit_train == 0 || c->limit_train > SMOKE_TRAIN)) {
        snprintf(v, sizeof v, "%d", SMOKE_TRAIN);
        if (substitute(c, subs, "limit_train", v))
            return -1;
    }
    if (!in_smoke(p, "limit_test") && (c->limit_test == 0 || c->limit_test > SMOKE_TEST)) {
        snprintf(v, sizeof v, "%d", SMOKE_TEST);
        if (substitute(c, subs, "limit_test", v))
            return -1;
    }
    if (!in_smoke(p, "batch_size") && c->batch_size > SMOKE_BATCH) {
        snprintf(v, sizeof v, "%d", SMOKE_BATCH);
        if (substitute(c, subs, "batch_size", v))
            return -1;
    }
    if (!in_smoke(p, "model")) {
        char model[64];
        snprintf(model, sizeof model, "%s", c->model);
        char *w = strstr(model, ":w");
        int width = w ? atoi(w + 2) : 0;
        if (!w || width > SMOKE_MAX_WIDTH) {
            if (w)
                *w = '\0';
            char narrow[80];
            snprintf(narrow, sizeof narrow, "%s:w%d", model, SMOKE_WIDTH);
            if (substitute(c, subs, "model", narrow))
                return -1;
        }
    }
    return 0;
}

static void entry_names(tb_plan_entry *e, const tb_preset *p)
{
    snprintf(e->id, sizeof e->id, "%02d", e->index);
    e->label[0] = '\0';
    json_object_object_foreach(e->params, key, val)
    {
        const char *s = json_object_get_string(val);
        size_t len = strlen(e->id);
        snprintf(e->id + len, sizeof e->id - len, "-%s-%s", key, s);
        len = strlen(e->label);
        snprintf(e->label + len, sizeof e->label - len, "%s%s=%s", len ? " " : "", key, s);
    }
    /* Directory names keep to letters, digits, '.', '-' and '_'. */
    for (char *c = e->id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '-' || *c == '_'))
            *c = '_';
    if (!e->label[0])
        snprintf(e->label, sizeof e->label, "%s", p->name);
}

/* At smoke scale a [smoke] list for a swept option replaces the list, so
 * `batch_size = 32, 128` runs two batch sizes, not the preset's four with the
 * last smoke value repeated.  A zip sweep keeps its length: there the i-th
 * smoke value replaces the i-th value (the last one repeats) in each entry.
 * `note` gets "batch_size: 32, 128, 512 -> 32, 128" for each list replaced. */
static int shorten_axes(tb_preset *q, char *note, size_t size)
{
    note[0] = '\0';
    for (int k = 0; k < q->nsmoke && !q->zip; k++)
        for (int a = 0; a < q->naxes; a++) {
            tb_sweep_axis *ax = &q->axes[a];
            if (strcmp(ax->key, q->smoke[k].key))
                continue;
            char before[TB_PRESET_MAX_VALUES * 98] = "", buf[sizeof q->smoke[k].value], *save = NULL;
            for (int i = 0; i < ax->count; i++)
                snprintf(before + strlen(before), sizeof before - strlen(before), "%s%s", i ? ", " : "",
                         ax->values[i]);
            snprintf(buf, sizeof buf, "%s", q->smoke[k].value);
            ax->count = 0;
            for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                while (*tok == ' ' || *tok == '\t')
                    tok++;
                for (size_t l = strlen(tok); l && (tok[l - 1] == ' ' || tok[l - 1] == '\t'); l--)
                    tok[l - 1] = '\0';
                if (!*tok)
                    continue;
                if (ax->count >= TB_PRESET_MAX_VALUES || strlen(tok) >= sizeof ax->values[0])
                    return tb_fail("%s:%d: [smoke] %s: too many or too long values", q->path, q->smoke[k].line,
                                   ax->key);
                snprintf(ax->values[ax->count++], sizeof ax->values[0], "%s", tok);
            }
            if (!ax->count)
                return tb_fail("%s:%d: [smoke] %s: no values", q->path, q->smoke[k].line, ax->key);
            size_t len = strlen(note);
            snprintf(note + len, size - len, "%s%s: %s -> %s", len ? "\n" : "", ax->key, before, q->smoke[k].value);
        }
    return 0;
}

static int expand(const tb_preset *p, int smoke, tb_plan *out);

int tb_plan_expand(const tb_preset *p, int smoke, tb_plan *out)
{
    memset(out, 0, sizeof *out);
    if (!smoke || p->zip)
        return expand(p, smoke, out);
    tb_preset *q = malloc(sizeof *q);
    if (!q)
        return tb_fail("out of memory expanding %s", p->path);
    *q = *p;
    char note[4096];
    int rc = shorten_axes(q, note, sizeof note) ? -1 : expand(q, smoke, out);
    /* Every entry says which lists the smoke scale shortened. */
    for (int i = 0; rc == 0 && i < out->count; i++)
        for (char *line = note, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
            nl = strchr(line, '\n');
            json_object_array_add(out->entries[i].substitutions,
                                  json_object_new_string_len(line, nl ? (int)(nl - line) : (int)strlen(line)));
        }
    free(q);
    return rc;
}

static int expand(const tb_preset *p, int smoke, tb_plan *out)
{
    long total = 1;
    if (p->zip && p->naxes)
        total = p->axes[0].count;
    else
        for (int i = 0; i < p->naxes; i++) {
            total *= p->axes[i].count;
            if (total > TB_PRESET_MAX_CONFIGS)
                return tb_fail("%s: the sweep has more than %d configurations; shorten a list or use mode = zip",
                               p->path, TB_PRESET_MAX_CONFIGS);
        }
    if (total < 1)
        return tb_fail("%s: the sweep is empty", p->path);
    out->entries = calloc((size_t)total, sizeof *out->entries);
    if (!out->entries)
        return tb_fail("out of memory expanding %s", p->path);
    for (long n = 0; n < total; n++) {
        tb_plan_entry *e = &out->entries[n];
        e->index = (int)n + 1;
        e->params = json_object_new_object();
        e->substitutions = json_object_new_array();
        out->count++;
        tb_train_config *c = &e->cfg;
        tb_train_config_defaults(c);
        for (int k = 0; k < p->nrun; k++)
            if (set_key(c, p->run[k].key, p->run[k].value))
                goto bad;
        /* Mixed radix: the last axis varies fastest. */
        long rest = n;
        int pick[TB_PRESET_MAX_AXES];
        for (int a = p->naxes - 1; a >= 0; a--) {
            pick[a] = p->zip ? (int)n : (int)(rest % p->axes[a].count);
            rest /= p->zip ? 1 : p->axes[a].count;
        }
        for (int a = 0; a < p->naxes; a++) {
            const char *key = p->axes[a].key;
            if (set_key(c, key, p->axes[a].values[pick[a]]))
                goto bad;
            char jk[64], jv[1100];
            json_key_value(c, tb_option_find(key), jk, sizeof jk, jv, sizeof jv);
            json_object_object_add(e->params, jk, json_object_new_string(jv));
        }
        if (smoke) {
            for (int k = 0; k < p->nsmoke; k++) {
                const tb_preset_kv *kv = &p->smoke[k];
                if (is_axis(p, kv->key) && !p->zip)
                    continue; /* the axis already holds the smoke list (shorten_axes) */
                if (is_axis(p, kv->key)) {
                    /* Zip: the i-th smoke value replaces the i-th value (the
                     * last one repeats), so the sweep keeps its pairs. */
                    char buf[sizeof kv->value], *save = NULL; /* as long as the value: never cut */
                    snprintf(buf, sizeof buf, "%s", kv->value);
                    int want = 0;
                    for (int a = 0; a < p->naxes; a++)
                        if (!strcmp(p->axes[a].key, kv->key))
                            want = pick[a];
                    char *tok = strtok_r(buf, ",", &save), *last = tok;
                    for (int i = 0; tok && i < want; i++) {
                        tok = strtok_r(NULL, ",", &save);
                        if (tok)
                            last = tok;
                    }
                    char val[sizeof kv->value];
                    snprintf(val, sizeof val, "%s", last ? last : "");
                    char *t = val;
                    while (*t == ' ')
                        t++;
                    for (size_t l = strlen(t); l && t[l - 1] == ' '; l--)
                        t[l - 1] = '\0';
                    if (substitute(c, e->substitutions, kv->key, t))
                        goto bad;
                } else if (substitute(c, e->substitutions, kv->key, kv->value))
                    goto bad;
            }
            if (shrink(p, c, e->substitutions))
                goto bad;
        }
        entry_names(e, p);
        if (tb_train_config_validate(c)) {
            tb_fail_prefix("%s: configuration %d (%s)", p->path, e->index, e->label);
            tb_plan_free(out);
            return -1;
        }
        continue;
    bad:
        tb_fail_prefix("%s: configuration %ld", p->path, n + 1);
        tb_plan_free(out);
        return -1;
    }
    return 0;
}

void tb_plan_free(tb_plan *plan)
{
    for (int i = 0; i < plan->count; i++) {
        json_object_put(plan->entries[i].params);
        json_object_put(plan->entries[i].substitutions);
    }
    free(plan->entries);
    plan->entries = NULL;
    plan->count = 0;
}
