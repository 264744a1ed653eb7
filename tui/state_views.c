/* The Run and Compare screens' state: which run is open, the marks, the
 * runs compared; see state.h and runview.h. */
#include "tui/state.h" // uses: tui_view_open, tui_app, tui_result_item, tui_is_marked, tui_mark_toggle, ...

#include "core/error.h" // uses: tb_fail
#include "tui/runview.h" // uses: tui_run_view, tui_run_view_load, tui_run_view_load_config, TUI_CMP_MAX

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tui_view_open(tui_app *a, int cfg)
{
    if (a->rsel < 0 || a->rsel >= a->nresults)
        return tb_fail("no sweep or run selected");
    const tui_result_item *it = &a->results[a->rsel];
    tui_run_view *v = a->view ? a->view : malloc(sizeof *v);
    if (!v)
        return tb_fail("out of memory opening %s", it->name);
    a->view = v;
    int rc, n = 0;
    if (it->run) {
        rc = tui_run_view_load(v, it->dir, it->name, NULL, 0, NULL);
        a->view_sweep[0] = '\0';
    } else {
        rc = tui_run_view_load_config(v, it->dir, cfg, &n);
        snprintf(a->view_sweep, sizeof a->view_sweep, "%s", it->dir);
    }
    a->view_cfg = cfg;
    a->view_ncfg = n;
    a->view_scroll = a->view_log = 0;
    return rc;
}

int tui_is_marked(const tui_app *a, int i)
{
    for (int k = 0; i >= 0 && i < a->nresults && k < a->nmarks; k++)
        if (!strcmp(a->marks[k], a->results[i].name))
            return 1;
    return 0;
}

int tui_mark_toggle(tui_app *a)
{
    if (a->rsel < 0 || a->rsel >= a->nresults)
        return 0;
    const char *name = a->results[a->rsel].name;
    for (int k = 0; k < a->nmarks; k++)
        if (!strcmp(a->marks[k], name)) {
            memmove(a->marks[k], a->marks[k + 1], sizeof a->marks[0] * (size_t)(a->nmarks - k - 1));
            a->nmarks--;
            return 0;
        }
    if (a->nmarks == (int)(sizeof a->marks / sizeof a->marks[0]))
        return tb_fail("at most %d entries can be marked; unmark one (Space) first", a->nmarks);
    snprintf(a->marks[a->nmarks++], sizeof a->marks[0], "%s", name);
    return 1;
}

/* Adds the runs of result i: the run, or each configuration of the sweep
 * that has a result.json. */
static void add_entry(tui_app *a, int i)
{
    const tui_result_item *it = &a->results[i];
    if (it->run) {
        if (a->ncmp < TUI_CMP_MAX && !tui_run_view_load(&a->cmp[a->ncmp], it->dir, it->name, NULL, 0, NULL))
            a->ncmp++;
        return;
    }
    int n = 1;
    for (int c = 0; c < n && a->ncmp < TUI_CMP_MAX; c++)
        if (!tui_run_view_load_config(&a->cmp[a->ncmp], it->dir, c, &n))
            a->ncmp++;
}

int tui_compare_open(tui_app *a)
{
    int chosen[8], n = 0;
    for (int i = 0; i < a->nresults && n < 8; i++)
        if (tui_is_marked(a, i) || (a->nmarks == 1 && i == a->rsel))
            chosen[n++] = i;
    if (!n)
        return tb_fail("mark the runs or sweeps to compare with Space, then press c");
    if (!a->cmp && !(a->cmp = calloc(TUI_CMP_MAX, sizeof *a->cmp)))
        return tb_fail("out of memory");
    a->ncmp = 0;
    a->cmp_col = 1;
    for (int k = 0; k < n; k++)
        add_entry(a, chosen[k]);
    if (a->ncmp < 2)
        return tb_fail("%s: fewer than two runs with a result.json to compare; mark another run or sweep",
                       a->results[chosen[0]].name);
    return 0;
}

void tui_views_free(tui_app *a)
{
    free(a->view);
    free(a->cmp);
    a->view = NULL;
    a->cmp = NULL;
    a->ncmp = 0;
}
