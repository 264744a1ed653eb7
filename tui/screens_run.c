/* The Run screen (one finished run: configuration, per-epoch figures and
 * resource readings, curves, log) and the Compare screen (full names, the
 * options that differ, figures side by side, accuracy curves overlaid). */
#include "tui/screens_run.h"

#include "tui/runview.h" // uses: tui_run_view, tui_rv_epoch, TUI_RV_OPTS, tui_rv_opt, TUI_RV_EPOCHS, TUI_CMP_MAX, ...
#include "tui/screens.h" // uses: tui_status_attr
#include "tui/wrap.h" // uses: tui_draw_wrapped, tui_wrap

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void num(double v, const char *fmt, char *out, size_t size)
{
    if (isfinite(v))
        snprintf(out, size, fmt, v);
    else
        snprintf(out, size, "-");
}

enum { ECOLS = 10 };

static void draw_epochs(const tui_run_view *v, tui_buf *b, tui_rect r)
{
    static const char *const hdr[ECOLS] = {"epoch", "loss", "train%", "test%", "epoch s", "img/s",
                                           "RSS MB", "GPU %", "GPU GB", "GPU W"};
    static const int right[ECOLS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    int n = v->nep;
    char *store = calloc((size_t)(n ? n : 1) * ECOLS, 24);
    const char **cells = calloc((size_t)(n ? n : 1) * ECOLS, sizeof *cells);
    if (store && cells) {
        for (int i = 0; i < n; i++) {
            const tui_rv_epoch *e = &v->ep[i];
            char *c = store + (size_t)i * ECOLS * 24;
            double vals[ECOLS] = {e->epoch, e->train_loss, e->train_acc, e->test_acc, e->epoch_s, e->images_per_s,
                                  e->rss_bytes / 1e6, e->gpu_util, e->gpu_mem_bytes / 1e9, e->gpu_power_w};
            static const char *const fmt[ECOLS] = {"%.0f", "%.4f", "%.2f", "%.2f", "%.3f", "%.0f", "%.0f", "%.0f",
                                                   "%.2f", "%.0f"};
            for (int k = 0; k < ECOLS; k++) {
                num(vals[k], fmt[k], c + k * 24, 24);
                cells[i * ECOLS + k] = c + k * 24;
            }
        }
        int first = 1;
        tui_table(b, r, ECOLS, hdr, cells, n, right, -1, &first);
    }
    free(store);
    free(cells);
}

void tui_draw_run(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    tui_rect r = l->body;
    const tui_run_view *v = a->view;
    char title[800];
    if (!v) {
        tui_box(b, r, "Run", TUI_C_DIM);
        return;
    }
    if (a->view_sweep[0])
        snprintf(title, sizeof title, "Run %s (configuration %d of %d; Left/Right the others)", v->name,
                 a->view_cfg + 1, a->view_ncfg);
    else
        snprintf(title, sizeof title, "Run %s", v->name);
    tui_box(b, r, title, TUI_C_DIM);
    int x = r.x + 2, w = r.w - 4, y = r.y + 1;
    /* The name whole, the status, the key figures. */
    char head[1200], acc[32], ep[32], ips[32];
    num(v->final_acc, "%.2f%%", acc, sizeof acc);
    num(v->avg_epoch_s, "%.3f s", ep, sizeof ep);
    num(v->images_per_s, "%.0f", ips, sizeof ips);
    snprintf(head, sizeof head, "%s  %s  model %s  test acc %s  epoch %s  images/s %s", v->name, v->status, v->model,
             acc, ep, ips);
    int hl = tui_draw_wrapped(b, (tui_rect){x, y, w, 2}, head, 0, tui_status_attr(v->status) | TUI_A_BOLD);
    y += hl < 2 ? hl : 2;
    if (v->error[0]) { /* the reason whole, at most a quarter of the screen */
        int el = tui_wrap(v->error, w - 8, NULL, 0), max = r.h / 4;
        el = el > max ? max : el;
        tui_text(b, x, y, 8, "Failed:", TUI_C_ERR | TUI_A_BOLD);
        tui_draw_wrapped(b, (tui_rect){x + 8, y, w - 8, el}, v->error, 0, TUI_C_ERR);
        y += el;
    }
    int top = y + 1, bottom = r.y + r.h - 1, logh = (bottom - top) / 4 < 4 ? 4 : (bottom - top) / 4;
    int mid = bottom - top - logh, lw = w * 2 / 5;
    if (mid < 6)
        return;
    /* Configuration: what differs from the preset (or the defaults) first, marked. */
    tui_rect cr = {r.x + 1, top, lw, mid};
    tui_box(b, cr, a->view_sweep[0] ? "Options (*: not the preset's)" : "Options (*: not the default)", TUI_C_DIM);
    int order[TUI_RV_OPTS], no = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < v->nopts; i++)
            if (v->opts[i].differs == !pass)
                order[no++] = i;
    int rows = cr.h - 2, first = a->view_scroll > no - rows ? no - rows : a->view_scroll;
    first = first < 0 ? 0 : first;
    for (int k = first; k < no && k - first < rows; k++) {
        const tui_rv_opt *o = &v->opts[order[k]];
        int attr = o->differs ? TUI_C_ACCENT | TUI_A_BOLD : 0;
        tui_textf(b, cr.x + 1, cr.y + 1 + k - first, cr.w - 2, attr, "%s%-18s %s", o->differs ? "*" : " ", o->key,
                  o->value);
    }
    /* Per epoch, with the resource readings; the curves below. */
    tui_rect er = {cr.x + cr.w, top, r.w - 2 - cr.w, mid / 2};
    tui_box(b, er, "Per epoch (with resource readings)", TUI_C_DIM);
    draw_epochs(v, b, (tui_rect){er.x + 1, er.y + 1, er.w - 2, er.h - 2});
    int half = er.w / 2;
    tui_rect lr = {er.x, er.y + er.h, half, mid - er.h}, ar = {er.x + half, er.y + er.h, er.w - half, mid - er.h};
    double loss[TUI_RV_EPOCHS], tacc[TUI_RV_EPOCHS];
    for (int i = 0; i < v->nep; i++) {
        loss[i] = v->ep[i].train_loss;
        tacc[i] = v->ep[i].test_acc;
    }
    tui_box(b, lr, "Training loss per epoch", TUI_C_DIM);
    tui_box(b, ar, "Test accuracy % per epoch", TUI_C_DIM);
    if (v->nep) {
        tui_chart(b, (tui_rect){lr.x + 1, lr.y + 1, lr.w - 2, lr.h - 2}, loss, v->nep, TUI_C_WARN);
        tui_chart(b, (tui_rect){ar.x + 1, ar.y + 1, ar.w - 2, ar.h - 2}, tacc, v->nep, TUI_C_OK);
    }
    /* The log's end (PgUp/PgDn scroll back). */
    tui_rect gr = {r.x + 1, top + mid, r.w - 2, bottom - top - mid};
    tui_box(b, gr, v->nlog ? "Log" : "Log (none: trainbench train writes its log to the terminal)", TUI_C_DIM);
    int lrows = gr.h - 2, last = v->nlog - a->view_log;
    last = last < 0 ? 0 : last;
    for (int i = last > lrows ? last - lrows : 0, yy = gr.y + 1; i < last; i++, yy++)
        tui_text(b, gr.x + 1, yy, gr.w - 2, v->log[i], 0);
}

/* Test accuracy of every run on one plot: run k drawn with its number. */
static void overlay(const tui_app *a, tui_buf *b, tui_rect r)
{
    double all[TUI_CMP_MAX * 64];
    int n = 0, maxep = 1;
    for (int k = 0; k < a->ncmp; k++)
        for (int i = 0; i < a->cmp[k].nep && i < 64; i++) {
            all[n++] = a->cmp[k].ep[i].test_acc;
            maxep = a->cmp[k].nep > maxep ? a->cmp[k].nep : maxep;
        }
    if (!n || r.w < 12 || r.h < 3)
        return;
    double lo, hi;
    tui_axis_range(all, n, &lo, &hi);
    int lw = 7, pw = r.w - lw, ph = r.h - 1;
    tui_textf(b, r.x, r.y, lw - 1, TUI_C_DIM, "%6.1f", hi);
    tui_textf(b, r.x, r.y + ph - 1, lw - 1, TUI_C_DIM, "%6.1f", lo);
    tui_textf(b, r.x + lw, r.y + ph, pw, TUI_C_DIM, "epoch 1 .. %d (the digit: run #)", maxep);
    static const int colour[] = {TUI_C_OK, TUI_C_WARN, TUI_C_COMPUTE, TUI_C_ACCENT, TUI_C_LOAD, TUI_C_ERR};
    for (int k = 0; k < a->ncmp; k++)
        for (int i = 0; i < a->cmp[k].nep && i < 64; i++) {
            double v = a->cmp[k].ep[i].test_acc;
            if (!isfinite(v))
                continue;
            int x = r.x + lw + (maxep > 1 ? (int)lround((double)i / (maxep - 1) * (pw - 1)) : 0);
            int y = r.y + ph - 1 - tui_axis_pos(v, lo, hi, ph);
            char g[4];
            snprintf(g, sizeof g, "%d", (k + 1) % 10);
            tui_put(b, x, y, g, colour[k % 6] | TUI_A_BOLD);
        }
}

void tui_draw_compare(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    tui_rect r = l->body;
    char title[96];
    snprintf(title, sizeof title, "Compare %d runs (Left/Right columns)", a->ncmp);
    tui_box(b, r, title, TUI_C_DIM);
    if (a->ncmp < 2 || !a->cmp)
        return;
    int x = r.x + 2, w = r.w - 4, y = r.y + 1, n = a->ncmp;
    /* Full names: "#k name", as many lines as fit in a third of the pane. */
    int maxnames = (r.h - 2) / 3;
    for (int k = 0; k < n && k < maxnames; k++, y++)
        tui_textf(b, x, y, w, k == n - 1 || k < maxnames - 1 ? 0 : TUI_C_DIM, "#%d %s", k + 1, a->cmp[k].name);
    if (n > maxnames)
        tui_textf(b, x + w - 24, y - 1, 24, TUI_C_DIM, "(+%d more, #%d-#%d)", n - maxnames + 1, maxnames, n);
    char **cells = NULL;
    int ndiff = 0, rows = tui_compare_table(a->cmp, n, &cells, &ndiff);
    if (rows < 0)
        return;
    const char *hdr[TUI_CMP_MAX + 1];
    int right[TUI_CMP_MAX + 1];
    static char names[TUI_CMP_MAX + 1][16];
    for (int c = 0; c <= n; c++) {
        snprintf(names[c], sizeof names[c], "#%d", c);
        hdr[c] = c ? names[c] : ndiff ? "option that differs / figure" : "figure (no option differs)";
        right[c] = c > 0;
    }
    int bottom = r.y + r.h - 1, ch = (bottom - y) / 3 < 5 ? 5 : (bottom - y) / 3;
    int th = bottom - y - ch - 1, first = a->cmp_col;
    tui_table(b, (tui_rect){x, y + 1, w, th}, n + 1, hdr, (const char *const *)cells, rows, right, -1, &first);
    tui_compare_free(cells, rows, n);
    tui_text(b, x, bottom - ch - 1 + 1, w, "Test accuracy % per epoch, overlaid", TUI_C_ACCENT);
    overlay(a, b, (tui_rect){x, bottom - ch + 1, w, ch - 1});
}
