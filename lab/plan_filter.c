/* --only: cutting an expanded sweep down (see plan_filter.h). */
#include "lab/plan_filter.h"

#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "lab/preset.h" // uses: tb_plan_entry, tb_plan, tb_preset
#include "spec/options.h" // uses: tb_option, tb_train_config, tb_option_find, tb_option_suggest, tb_option_spell, ...

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { VALUE_MAX = 1100, LIST_MAX = 1500 };

/* One key of the filter and its accepted values, in the option table's text. */
typedef struct {
    const tb_option *o;
    char key[64];   /* as the user wrote it, trimmed */
    char jkey[64];  /* the config.json key: params are stored under it */
    char **values;  /* formatted through tb_option_format */
    int nvalues;
} only_key;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    for (size_t n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t'); n--)
        s[n - 1] = '\0';
    return s;
}

static void free_keys(only_key *keys, int n)
{
    for (int i = 0; i < n; i++) {
        for (int v = 0; v < keys[i].nvalues; v++)
            free(keys[i].values[v]);
        free(keys[i].values);
    }
    free(keys);
}

static void key_text(const tb_train_config *c, const tb_option *o, char *out, size_t size);

/* Adds `spec` (KEY=V1,V2) to the keys, merging a key given twice. */
static int parse_spec(const char *spec, only_key *keys, int *nkeys)
{
    size_t len = strlen(spec);
    char *buf = malloc(len + 1);
    if (!buf)
        return tb_fail("out of memory reading --only %s", spec);
    memcpy(buf, spec, len + 1);
    char *eq = strchr(buf, '=');
    if (!eq) {
        free(buf);
        return tb_fail("--only %s: expected KEY=VALUE or KEY=V1,V2 (e.g. --only gpus=8,16)", spec);
    }
    *eq = '\0';
    char *key = trim(buf);
    const tb_option *o = tb_option_find(key);
    if (!o) {
        const char *s = tb_option_suggest(key);
        tb_fail("--only %s: unknown option '%s' (the keys are trainbench train's options: gpus, lr, num_workers, "
                "...)%s%s%s",
                spec, key, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
        free(buf);
        return -1;
    }
    if (o->per_invocation) {
        tb_fail("--only %s: %s is not part of a configuration: %s", spec, key, o->per_invocation);
        free(buf);
        return -1;
    }
    only_key *k = NULL;
    for (int i = 0; i < *nkeys && !k; i++)
        if (keys[i].o == o)
            k = &keys[i];
    if (!k) {
        k = &keys[(*nkeys)++];
        snprintf(k->key, sizeof k->key, "%s", key);
        tb_option_spell(o->name, TB_SPELL_KEY, k->jkey, sizeof k->jkey);
        k->o = o;
    }
    int rc = 0;
    char *save = NULL;
    int any = 0;
    for (char *tok = strtok_r(eq + 1, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        char *v = trim(tok);
        if (!*v)
            continue;
        any = 1;
        tb_train_config scratch;
        tb_train_config_defaults(&scratch);
        if (tb_option_set(&scratch, o, v)) {
            rc = tb_fail_prefix("--only %s", spec);
            break;
        }
        char text[VALUE_MAX];
        key_text(&scratch, o, text, sizeof text);
        char **grown = realloc(k->values, (size_t)(k->nvalues + 1) * sizeof *grown);
        char *copy = grown ? strdup(text) : NULL;
        if (grown)
            k->values = grown;
        if (!copy) {
            rc = tb_fail("out of memory reading --only %s", spec);
            break;
        }
        k->values[k->nvalues++] = copy;
    }
    if (!rc && !any)
        rc = tb_fail("--only %s: no value; expected KEY=VALUE or KEY=V1,V2", spec);
    free(buf);
    return rc;
}

/* An option's value as config.json and plan.json's params write it: flags
 * by their stored field (no_batch_norm = true is "false"), else the option
 * table's text. */
static void key_text(const tb_train_config *c, const tb_option *o, char *out, size_t size)
{
    if (o->type == TB_OPT_FLAG)
        snprintf(out, size, "%s", *(const int *)((const char *)c + o->offset) ? "true" : "false");
    else
        tb_option_format(c, o, out, size);
}

/* Configuration e's value of k as the preset states it: the swept value
 * (params), else [run] or the default.  At smoke scale the configuration
 * runs with gpus, device or model replaced, but --only names the rows as the
 * preset and the table do. */
static void nominal_text(const only_key *k, const tb_train_config *base, const tb_plan_entry *e, char *out,
                         size_t size)
{
    struct json_object *v;
    if (json_object_object_get_ex(e->params, k->jkey, &v))
        snprintf(out, size, "%s", json_object_get_string(v));
    else
        key_text(base, k->o, out, size);
}

static int has_value(const only_key *k, const char *text)
{
    for (int v = 0; v < k->nvalues; v++)
        if (!strcmp(k->values[v], text))
            return 1;
    return 0;
}

/* "1, 2, 4": the distinct values of k over the configurations. */
static void values_present(const only_key *k, const tb_train_config *base, const tb_plan *plan, char *out,
                           size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < plan->count; i++) {
        char text[VALUE_MAX];
        nominal_text(k, base, &plan->entries[i], text, sizeof text);
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) {
            char other[VALUE_MAX];
            nominal_text(k, base, &plan->entries[j], other, sizeof other);
            seen = !strcmp(text, other);
        }
        size_t n = strlen(out);
        if (!seen && n + 1 < size)
            snprintf(out + n, size - n, "%s%s", n ? ", " : "", text);
    }
}

int tb_plan_only(const tb_preset *p, const char *const *only, int nonly, tb_plan *plan)
{
    if (nonly <= 0)
        return 0;
    only_key *keys = calloc((size_t)nonly, sizeof *keys);
    tb_train_config *base = malloc(sizeof *base);
    if (!keys || !base) {
        free(keys);
        free(base);
        return tb_fail("out of memory reading --only");
    }
    int nkeys = 0, rc = 0;
    for (int i = 0; i < nonly && !rc; i++)
        rc = parse_spec(only[i], keys, &nkeys);
    /* The preset's [run] on the defaults: the value of every option it does not sweep. */
    tb_train_config_defaults(base);
    for (int i = 0; i < p->nrun && !rc; i++) {
        const tb_option *o = tb_option_find(p->run[i].key);
        if (o && tb_option_set(base, o, p->run[i].value))
            rc = tb_fail_prefix("--only: %s [run] %s", p->path, p->run[i].key);
    }
    /* Every value asked for must exist: --only gpus=3 is a typo, not an empty job. */
    for (int k = 0; k < nkeys && !rc; k++)
        for (int v = 0; v < keys[k].nvalues && !rc; v++) {
            int found = 0;
            for (int i = 0; i < plan->count && !found; i++) {
                char text[VALUE_MAX];
                nominal_text(&keys[k], base, &plan->entries[i], text, sizeof text);
                found = !strcmp(text, keys[k].values[v]);
            }
            if (!found) {
                char present[LIST_MAX];
                values_present(&keys[k], base, plan, present, sizeof present);
                rc = tb_fail("--only %s=%s: no configuration of %s has it; %s is %s here", keys[k].key,
                             keys[k].values[v], p->name, keys[k].jkey, present);
            }
        }
    char *keep = rc ? NULL : calloc((size_t)plan->count + 1, 1);
    if (!rc && !keep)
        rc = tb_fail("out of memory filtering %s", p->name);
    int kept = 0;
    for (int i = 0; !rc && i < plan->count; i++) {
        int ok = 1;
        for (int k = 0; k < nkeys && ok; k++) {
            char text[VALUE_MAX];
            nominal_text(&keys[k], base, &plan->entries[i], text, sizeof text);
            ok = has_value(&keys[k], text);
        }
        keep[i] = (char)ok;
        kept += ok;
    }
    if (!rc && !kept) {
        char list[LIST_MAX] = "";
        for (int i = 0; i < plan->count; i++) {
            size_t n = strlen(list);
            if (n + 1 < sizeof list)
                snprintf(list + n, sizeof list - n, "%s%s (%s)", n ? ", " : "", plan->entries[i].id,
                         plan->entries[i].label);
        }
        rc = tb_fail("--only: no configuration of %s has all of these values; its configurations are %s", p->name,
                     list);
    }
    if (!rc) {
        int w = 0;
        for (int i = 0; i < plan->count; i++) {
            if (keep[i])
                plan->entries[w++] = plan->entries[i];
            else {
                json_object_put(plan->entries[i].params);
                json_object_put(plan->entries[i].substitutions);
            }
        }
        plan->count = w;
    }
    free(keep);
    free(base);
    free_keys(keys, nonly);
    return rc ? -1 : 0;
}

void tb_plan_only_name(const tb_plan *plan, int nonly, char *out, size_t size)
{
    out[0] = '\0';
    if (nonly <= 0 || plan->count < 1)
        return;
    if (plan->count == 1)
        snprintf(out, size, "%s", plan->entries[0].id);
    else
        snprintf(out, size, "%02d-to-%02d", plan->entries[0].index, plan->entries[plan->count - 1].index);
}

struct json_object *tb_plan_only_json(const char *const *only, int nonly)
{
    struct json_object *a = json_object_new_array();
    for (int i = 0; i < nonly; i++)
        json_object_array_add(a, json_object_new_string(only[i]));
    return a;
}

void tb_plan_only_note(struct json_object *table, const char *const *only, int nonly)
{
    if (nonly <= 0 || !table)
        return;
    char note[2048] = "Only the configurations with ";
    for (int i = 0; i < nonly; i++) {
        size_t n = strlen(note);
        snprintf(note + n, sizeof note - n, "%s%s", i ? " and " : "", only[i]);
    }
    size_t n = strlen(note);
    snprintf(note + n, sizeof note - n, " (--only).");
    struct json_object *old;
    const char *was = json_object_object_get_ex(table, "note", &old) ? json_object_get_string(old) : NULL;
    char *both = NULL;
    if (was && *was && asprintf(&both, "%s %s", note, was) < 0)
        both = NULL;
    json_object_object_add(table, "note", json_object_new_string(both ? both : note));
    free(both);
}

int tb_plan_step_prefix(char **words, int max, char *buf, size_t size)
{
    if (!getenv("SLURM_JOB_ID") || getenv("TB_LAUNCHER"))
        return 0;
    const char *wrapper = getenv("TB_RANK_WRAPPER");
    if (snprintf(buf, size, "srun --nodes=1 --ntasks=1 --kill-on-bad-exit=1 %s", wrapper ? wrapper : "") >=
        (int)size)
        return tb_fail("TB_RANK_WRAPPER is longer than %zu bytes; shorten the container's path", size - 64);
    /* Split on blanks, as engine/launch.c splits the wrapper for the ranks. */
    int n = 0;
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n == max)
            return tb_fail("TB_RANK_WRAPPER has more than %d words", max - 4);
        words[n++] = w;
    }
    return n;
}
