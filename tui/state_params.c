/* The Parameters screen's state: the chosen preset's options and sweep
 * axes as editable text, checked against the engine's own preset and plan
 * code as they are typed; turning an option into a sweep axis; saving the
 * result as a new preset file. */
#include "tui/state.h" // uses: tui_app, TUI_MAX_PARAMS, tui_param, tui_params_load, tui_params_refresh, ...

#include "core/error.h" // uses: tb_fail, tb_last_error
#include "lab/export.h" // uses: tb_text_write_atomic

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_plan(const tui_app *a, int i, const char *text, char *err, size_t errsize, tb_plan *keep);

/* The parameter list from a->base: the options (those swept left out),
 * the scale, then the sweep axes. */
static void build_params(tui_app *a)
{
    const tb_preset *p = a->base;
    tb_train_config defaults;
    tb_train_config_defaults(&defaults);
    a->nparams = 0;
    /* The options the table marks for this screen, in their `tui` order
     * (1, 2, ...); the scale row needs the last place. */
    for (int pos = 1; a->nparams < TUI_MAX_PARAMS - 1; pos++) {
        const tb_option *o = tb_train_options();
        while (o->name && o->tui != pos)
            o++;
        if (!o->name)
            break;
        tui_param *pr = &a->params[a->nparams];
        memset(pr, 0, sizeof *pr);
        tb_option_spell(o->name, TB_SPELL_PRESET, pr->key, sizeof pr->key);
        pr->opt = o;
        int swept = 0;
        for (int x = 0; x < p->naxes; x++)
            swept |= !strcmp(p->axes[x].key, pr->key);
        if (swept)
            continue; /* shown with the sweep axes below */
        tb_option_format(&defaults, pr->opt, pr->value, sizeof pr->value);
        for (int r = 0; r < p->nrun; r++)
            if (!strcmp(p->run[r].key, pr->key))
                snprintf(pr->value, sizeof pr->value, "%s", p->run[r].value);
        a->nparams++;
    }
    tui_param *sc = &a->params[a->nparams++];
    memset(sc, 0, sizeof *sc);
    snprintf(sc->key, sizeof sc->key, "scale");
    sc->scale = 1;
    snprintf(sc->value, sizeof sc->value, "%s", a->smoke ? "smoke" : "full");
    for (int x = 0; x < p->naxes && a->nparams < TUI_MAX_PARAMS; x++) {
        tui_param *pr = &a->params[a->nparams++];
        memset(pr, 0, sizeof *pr);
        snprintf(pr->key, sizeof pr->key, "%s", p->axes[x].key);
        pr->axis = 1;
        pr->opt = tb_option_find(pr->key);
        size_t n = 0;
        for (int v = 0; v < p->axes[x].count && n < sizeof pr->value; v++) {
            int w = snprintf(pr->value + n, sizeof pr->value - n, "%s%s", v ? ", " : "", p->axes[x].values[v]);
            n += w > 0 ? (size_t)w : 0;
        }
    }
    for (int k = 0; k < a->nparams; k++)
        memcpy(a->params[k].orig, a->params[k].value, sizeof a->params[k].orig);
}

int tui_params_load(tui_app *a)
{
    if (a->psel < 0 || a->psel >= a->npresets)
        return tb_fail("no preset selected");
    if (!a->base && !(a->base = malloc(sizeof *a->base)))
        return tb_fail("out of memory");
    if (tb_preset_load(a->presets[a->psel].path, a->base))
        return -1;
    a->reshaped = 0;
    build_params(a);
    a->parsel = 0;
    a->editing = 0;
    tui_params_refresh(a);
    return 0;
}

/* Moves option `key` from [run] into a new one-value sweep axis, with a
 * table column of its own so the rows say which value they ran. */
static int add_axis(tb_preset *p, const char *key, const char *value)
{
    if (p->naxes >= TB_PRESET_MAX_AXES)
        return tb_fail("a sweep has at most %d axes", TB_PRESET_MAX_AXES);
    if (p->zip && p->naxes)
        return tb_fail("this preset zips its axes (mode = zip): one more would need as many values; save it and "
                       "edit the file");
    if (strchr(value, ','))
        return tb_fail("one value first");
    tb_sweep_axis *x = &p->axes[p->naxes++];
    memset(x, 0, sizeof *x);
    snprintf(x->key, sizeof x->key, "%s", key);
    x->count = 1;
    snprintf(x->values[0], sizeof x->values[0], "%.95s", value);
    for (int r = 0; r < p->nrun; r++)
        if (!strcmp(p->run[r].key, key)) {
            memmove(&p->run[r], &p->run[r + 1], sizeof p->run[0] * (size_t)(p->nrun - r - 1));
            p->nrun--;
            break;
        }
    int shown = 0;
    for (int c = 0; c < p->ncolumns; c++)
        shown |= !strcmp(p->columns[c].id, key);
    if (!shown && p->ncolumns < TB_PRESET_MAX_COLUMNS) {
        memmove(&p->columns[1], &p->columns[0], sizeof p->columns[0] * (size_t)p->ncolumns);
        memset(&p->columns[0], 0, sizeof p->columns[0]);
        snprintf(p->columns[0].id, sizeof p->columns[0].id, "%.31s", key);
        p->ncolumns++;
    }
    return 0;
}

/* Back from a one-value axis to a [run] option. */
static int drop_axis(tb_preset *p, const char *key, const char *value)
{
    if (strchr(value, ','))
        return tb_fail("%s still sweeps several values; leave one to make it a plain option", key);
    if (!strcmp(p->pivot, key))
        return tb_fail("%s is the table's pivot: it stays swept", key);
    for (int x = 0; x < p->naxes; x++)
        if (!strcmp(p->axes[x].key, key)) {
            memmove(&p->axes[x], &p->axes[x + 1], sizeof p->axes[0] * (size_t)(p->naxes - x - 1));
            p->naxes--;
            break;
        }
    if (p->nrun >= TB_PRESET_MAX_KV)
        return tb_fail("too many [run] options");
    tb_preset_kv *kv = &p->run[p->nrun++];
    memset(kv, 0, sizeof *kv);
    snprintf(kv->key, sizeof kv->key, "%s", key);
    snprintf(kv->value, sizeof kv->value, "%.255s", value);
    return 0;
}

int tui_param_toggle_axis(tui_app *a, int i)
{
    if (!a->base || i < 0 || i >= a->nparams)
        return tb_fail("no parameter chosen");
    const tui_param *pr = &a->params[i];
    if (pr->scale || !pr->opt)
        return tb_fail("the scale is not an option of the runs; it cannot be swept");
    char key[64], value[256];
    snprintf(key, sizeof key, "%s", pr->key);
    snprintf(value, sizeof value, "%s", pr->value);
    int to_axis = !pr->axis;
    /* Apply to a copy; only a change the plan accepts is kept. */
    tb_preset *p = malloc(sizeof *p);
    if (!p)
        return tb_fail("out of memory");
    memcpy(p, a->base, sizeof *p);
    if (to_axis ? add_axis(p, key, value) : drop_axis(p, key, value)) {
        free(p);
        return -1;
    }
    /* Keep the other edits across the rebuild. */
    static tui_param saved[TUI_MAX_PARAMS];
    int nsaved = a->nparams;
    memcpy(saved, a->params, sizeof saved);
    tb_preset *old = a->base;
    a->base = p;
    build_params(a);
    for (int k = 0; k < a->nparams; k++)
        for (int s = 0; s < nsaved; s++)
            if (saved[s].edited && !strcmp(saved[s].key, a->params[k].key) && strcmp(saved[s].key, key)) {
                snprintf(a->params[k].value, sizeof a->params[k].value, "%s", saved[s].value);
                a->params[k].edited = 1;
            }
    char err[512];
    if (check_plan(a, -1, NULL, err, sizeof err, NULL) < 0) {
        a->base = old;
        free(p);
        nsaved = nsaved < TUI_MAX_PARAMS ? nsaved : TUI_MAX_PARAMS;
        memcpy(a->params, saved, sizeof saved);
        a->nparams = nsaved;
        return tb_fail("%s", err);
    }
    free(old);
    a->reshaped = 1;
    for (int k = 0; k < a->nparams; k++)
        if (!strcmp(a->params[k].key, key))
            a->parsel = k;
    tui_params_refresh(a);
    return 0;
}

/* The plan with parameter i set to text (NULL: as edited); its size, or -1
 * with the reason in err.  keep (may be NULL) receives the plan. */
static int check_plan(const tui_app *a, int i, const char *text, char *err, size_t errsize, tb_plan *keep)
{
    if (err && errsize)
        err[0] = '\0';
    if (!a->base)
        return -1;
    tb_preset *p = malloc(sizeof *p);
    if (!p)
        return -1;
    memcpy(p, a->base, sizeof *p);
    int smoke = a->smoke, rc = -1;
    for (int k = 0; k < a->nparams; k++) {
        const tui_param *pr = &a->params[k];
        const char *v = k == i && text ? text : pr->value;
        if (!(k == i && text) && !pr->edited)
            continue;
        if (pr->scale) {
            if (strcmp(v, "smoke") && strcmp(v, "full")) {
                snprintf(err, errsize, "scale: expected smoke or full");
                goto out;
            }
            smoke = !strcmp(v, "smoke");
            continue;
        }
        char set[320];
        snprintf(set, sizeof set, "%s=%s", pr->key, v);
        if (tb_preset_set(p, set)) {
            snprintf(err, errsize, "%s", tb_last_error());
            goto out;
        }
    }
    tb_plan plan;
    if (tb_plan_expand(p, smoke, &plan)) {
        snprintf(err, errsize, "%s", tb_last_error());
        goto out;
    }
    rc = plan.count;
    if (keep)
        *keep = plan;
    else
        tb_plan_free(&plan);
out:
    free(p);
    return rc;
}

int tui_param_check(const tui_app *a, int i, const char *text, char *err, size_t errsize)
{
    return check_plan(a, i, text, err, errsize, NULL);
}

void tui_params_refresh(tui_app *a)
{
    tb_plan plan;
    a->sweep_size = check_plan(a, -1, NULL, a->edit_err, sizeof a->edit_err, &plan);
    for (int k = 0; k < a->nparams; k++)
        a->params[k].runs_as[0] = '\0';
    if (a->sweep_size < 0)
        return;
    /* What the configurations really get (smoke scale shrinks them): the
     * distinct values over the plan, shown where they differ. */
    for (int k = 0; k < a->nparams; k++) {
        tui_param *pr = &a->params[k];
        if (!pr->opt)
            continue;
        char all[256] = "";
        size_t n = 0;
        for (int e = 0; e < plan.count; e++) {
            char v[128];
            tb_option_format(&plan.entries[e].cfg, pr->opt, v, sizeof v);
            char probe[140];
            snprintf(probe, sizeof probe, ", %s,", v);
            char hay[260];
            snprintf(hay, sizeof hay, ", %s,", all);
            if (strstr(hay, probe))
                continue; /* shown already */
            int w = snprintf(all + n, sizeof all - n, "%s%s", n ? ", " : "", v);
            if (w < 0 || (size_t)w >= sizeof all - n)
                break;
            n += (size_t)w;
        }
        if (strcmp(all, pr->value))
            snprintf(pr->runs_as, sizeof pr->runs_as, "%s", all);
    }
    tb_plan_free(&plan);
}

int tui_param_sets(const tui_app *a, char sets[][320], int max)
{
    int n = 0;
    for (int k = 0; k < a->nparams && n < max; k++)
        if (a->params[k].edited && !a->params[k].scale)
            snprintf(sets[n++], 320, "%s=%s", a->params[k].key, a->params[k].value);
    return n;
}

int tui_preset_save(const tui_app *a, const char *path)
{
    if (!a->base)
        return tb_fail("no preset chosen");
    const tb_preset *p = a->base;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return tb_fail("out of memory");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    int blen = (int)(strlen(base) > 4 && !strcmp(base + strlen(base) - 4, ".ini") ? strlen(base) - 4 : strlen(base));
    /* A new name is said in the title, so the two are told apart. */
    int renamed = (size_t)blen != strlen(p->name) || strncmp(base, p->name, (size_t)blen);
    fprintf(f, "; Saved from the trainbench workbench, based on %s.\n[preset]\ntitle = %s%s%.*s%s\n", p->name, p->title,
            renamed ? " (" : "", renamed ? blen : 0, base, renamed ? ")" : "");
    fprintf(f, "lab = %s\nquestion = %s\n", p->lab, p->question);
    if (p->description[0])
        fprintf(f, "description = %s\n", p->description);
    fprintf(f, "\n[run]\n");
    for (int r = 0; r < p->nrun; r++) {
        int over = 0;
        for (int k = 0; k < a->nparams; k++)
            over |= a->params[k].edited && !a->params[k].axis && !strcmp(a->params[k].key, p->run[r].key);
        if (!over)
            fprintf(f, "%s = %s\n", p->run[r].key, p->run[r].value);
    }
    for (int k = 0; k < a->nparams; k++)
        if (a->params[k].edited && !a->params[k].axis && !a->params[k].scale)
            fprintf(f, "%s = %s\n", a->params[k].key, a->params[k].value);
    if (p->naxes) {
        fprintf(f, "\n[sweep]\n%s", p->zip ? "mode = zip\n" : "");
        for (int k = 0; k < a->nparams; k++)
            if (a->params[k].axis)
                fprintf(f, "%s = %s\n", a->params[k].key, a->params[k].value);
    }
    if (p->nsmoke) {
        fprintf(f, "\n[smoke]\n");
        for (int r = 0; r < p->nsmoke; r++)
            fprintf(f, "%s = %s\n", p->smoke[r].key, p->smoke[r].value);
    }
    fprintf(f, "\n[table]\ncolumns = ");
    for (int c = 0; c < p->ncolumns; c++)
        fprintf(f, "%s%s%s%s", c ? ", " : "", p->columns[c].id, p->columns[c].header[0] ? " as " : "",
                p->columns[c].header);
    fprintf(f, "\n");
    if (p->baseline_key[0])
        fprintf(f, "baseline = %s=%s\n", p->baseline_key, p->baseline_value);
    if (p->time_metric[0])
        fprintf(f, "time = %s\n", p->time_metric);
    if (p->pick_epoch)
        fprintf(f, "epoch = %d\n", p->pick_epoch);
    if (p->table_title[0])
        fprintf(f, "title = %s\n", p->table_title);
    if (p->note[0])
        fprintf(f, "note = %s\n", p->note);
    if (fclose(f)) {
        free(buf);
        return tb_fail("cannot render the preset");
    }
    int rc = tb_text_write_atomic(path, buf);
    free(buf);
    if (rc)
        return -1;
    /* The file must load back, or it is no use as a preset. */
    tb_preset *chk = malloc(sizeof *chk);
    if (!chk)
        return tb_fail("out of memory");
    rc = tb_preset_load(path, chk);
    free(chk);
    return rc;
}

int tui_preset_name_check(const char *name)
{
    if (!*name || name[0] == '.' || strlen(name) > 60)
        return tb_fail("a preset name: 1 to 60 letters, digits, '.', '_' or '-', not starting with '.'");
    for (const char *c = name; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '.' || *c == '_' || *c == '-'))
            return tb_fail("'%c' cannot be in a preset name (letters, digits, '.', '_', '-')", *c);
    return 0;
}


int tui_choice_cycle(const char *choices, const char *cur, int dir, char *out, size_t size)
{
    char list[16][64];
    int n = 0, at = -1;
    for (const char *c = choices; c && *c && n < 16;) {
        size_t len = strcspn(c, "|");
        /* packed:FILE and the like name a placeholder, not a value */
        if (len < sizeof list[0] && !memchr(c, ':', len)) {
            memcpy(list[n], c, len);
            list[n][len] = '\0';
            if (!strcmp(list[n], cur))
                at = n;
            n++;
        }
        c += len + (c[len] == '|');
    }
    if (!n)
        return -1;
    /* A value outside the list goes to the first (Right) or last (Left). */
    int next = at < 0 ? (dir > 0 ? 0 : n - 1) : ((at + (dir > 0 ? 1 : -1)) % n + n) % n;
    snprintf(out, size, "%s", list[next]);
    return 0;
}

void tui_param_accept(tui_app *a, int i, const char *text)
{
    tui_param *p = &a->params[i];
    snprintf(p->value, sizeof p->value, "%s", text);
    /* Typing the preset's own value again undoes the edit. */
    p->edited = strcmp(p->value, p->orig) != 0;
    if (p->scale)
        a->smoke = !strcmp(p->value, "smoke");
    tui_params_refresh(a);
}

int tui_param_cycle(tui_app *a, int i, int dir)
{
    if (i < 0 || i >= a->nparams)
        return 0;
    const tui_param *p = &a->params[i];
    const char *choices = p->scale ? "smoke|full"
                          : !p->opt || p->axis ? NULL
                          : p->opt->type == TB_OPT_CHOICE ? p->opt->choices
                          : p->opt->type == TB_OPT_FLAG   ? "true|false"
                                                          : NULL;
    char v[256];
    if (!choices || tui_choice_cycle(choices, p->value, dir, v, sizeof v))
        return 0;
    tui_param_accept(a, i, v);
    return 1;
}
