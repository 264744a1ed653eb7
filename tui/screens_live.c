/* The live run: epoch progress, sweep progress, load/compute bars, loss and
 * accuracy curves, the sweep's chart and the engine's log. */
#include "tui/failure.h" // uses: tui_live_failure
#include "tui/resources.h" // uses: tui_draw_res_panel
#include "tui/screens.h" // uses: tui_fmt_duration, tui_status_attr, tui_draw_live
#include "tui/sweep_chart.h" // uses: tui_sweep_chart, tui_chart_row, tui_draw_sweep_chart, TUI_CHART_SPEEDUP, ...
#include "tui/wrap.h" // uses: tui_draw_wrapped

#include <math.h>
#include <stdio.h>
#include <string.h>

static void draw_progress(const tui_live *lv, tui_buf *b, tui_rect r)
{
    char title[200];
    snprintf(title, sizeof title, "Run %s", lv->cur_id[0] ? lv->cur_id : "(starting)");
    tui_box(b, r, title, TUI_C_DIM);
    int x = r.x + 2, w = r.w - 4, y = r.y + 1;
    int bw = w - 34;
    double frac = lv->batches > 0 ? (double)lv->batch / lv->batches : 0;
    tui_textf(b, x, y, 12, TUI_A_BOLD, "Epoch %d/%d", lv->epoch, lv->epochs);
    tui_bar(b, x + 12, y, bw, frac, TUI_C_OK);
    tui_textf(b, x + 13 + bw, y, w - 13 - bw, 0, "%d/%d batches", lv->batch, lv->batches);
    y++;
    int running = tui_live_running(lv);
    char eta[32], el[32], seta[32];
    /* Nothing is left to wait for once the sweep is over: no stale ETA. */
    tui_fmt_duration(!running ? NAN : lv->batch >= lv->batches && lv->batches ? 0 : lv->eta_s > 0 ? lv->eta_s : NAN,
                     eta, sizeof eta);
    if (lv->evaluating && running)
        tui_textf(b, x, y++, w, TUI_C_WARN | TUI_A_BOLD, "evaluating on the test set (epoch %d)", lv->epoch);
    else
        tui_textf(b, x, y++, w, 0, "images/s %-9.0f loss %-8.4f ETA %s", isfinite(lv->ips) ? lv->ips : 0,
                  isfinite(lv->loss) ? lv->loss : 0, eta);
    double sfrac = lv->total > 0 ? (double)(lv->completed + lv->failed) / lv->total : 0;
    tui_text(b, x, y, 12, "Sweep", TUI_A_BOLD);
    tui_bar(b, x + 12, y, bw, sfrac, TUI_C_ACCENT);
    tui_textf(b, x + 13 + bw, y, w - 13 - bw, 0, "%d/%d configs", lv->completed + lv->failed, lv->total);
    y++;
    /* The status word in its colour; elapsed since the sweep started and
     * the whole sweep's ETA, smoothed; the folder where room is left. */
    int n = tui_text(b, x, y, 14, lv->status, tui_status_attr(lv->status) | TUI_A_BOLD);
    tui_fmt_duration(isfinite(lv->t_first) ? lv->t_now - lv->t_first : NAN, el, sizeof el);
    tui_fmt_duration(running && lv->sweep_eta_s > 0 ? lv->sweep_eta_s : NAN, seta, sizeof seta);
    n += 2 + tui_textf(b, x + n + 2, y, w - n - 2, 0, "elapsed %s  sweep ETA %s", el, seta);
    tui_text(b, x + n + 2, y, w - n - 2, lv->sweep_dir, TUI_C_DIM);
}

/* Cell of value v on a bar of bw cells scaled to max. */
static int bar_cell(double v, double max, int bw)
{
    int x = (int)lround(v / max * bw) - 1;
    return x < 0 ? 0 : x >= bw ? bw - 1 : x;
}

static void fmt_value(double v, const char *unit, char *out, size_t size)
{
    if (!strcmp(unit, "%"))
        snprintf(out, size, "%.1f%%", v);
    else if (!strcmp(unit, "s") && v < 0.001)
        snprintf(out, size, "%.0fus", v * 1e6); /* load times with workers: microseconds */
    else if (!strcmp(unit, "s") && v < 1)
        snprintf(out, size, "%.3fs", v);
    else
        snprintf(out, size, "%.2f%s", v, unit);
}

/* Speedup against GPU count in r: the ideal line (speedup = GPUs) dotted,
 * measured speedups as dots, predictions as diamonds; y labels on the left,
 * the GPU counts below. */
static void draw_speedup_xy(tui_buf *b, tui_rect r, const tui_sweep_chart *c, double ymax)
{
    const int lw = 5;
    int pw = r.w - lw, ph = r.h - 1;
    double xmax = 0;
    for (int i = 0; i < c->n; i++)
        xmax = isfinite(c->rows[i].ideal) && c->rows[i].ideal > xmax ? c->rows[i].ideal : xmax;
    if (pw < 8 || ph < 3 || !(xmax > 0) || !(ymax > 0))
        return;
    tui_textf(b, r.x, r.y, lw - 1, TUI_C_DIM, "%4.1f", ymax);
    tui_text(b, r.x, r.y + ph - 1, lw - 1, "   0", TUI_C_DIM);
    for (int yy = 0; yy < ph; yy++)
        tui_put(b, r.x + lw - 1, r.y + yy, b->utf8 ? "\u2502" : "|", TUI_C_DIM);
    /* Column and row of (gpus, speedup), the origin at the bottom left. */
#define XCOL(g) (r.x + lw + (int)lround((g) / xmax * (pw - 1)))
#define YROW(v) (r.y + ph - 1 - (int)lround((v) / ymax * (ph - 1)))
    for (int col = 0; col < pw; col++) {
        double g = (double)col / (pw - 1) * xmax;
        if (g <= ymax)
            tui_put(b, r.x + lw + col, YROW(g), b->utf8 ? "\u00b7" : ".", TUI_C_OK);
    }
    for (int i = 0; i < c->n; i++) {
        const tui_chart_row *row = &c->rows[i];
        if (!isfinite(row->ideal))
            continue;
        char lab[16];
        snprintf(lab, sizeof lab, "%d", (int)row->ideal);
        tui_text(b, XCOL(row->ideal) - (int)strlen(lab) + 1, r.y + ph, (int)strlen(lab), lab, TUI_C_DIM);
        int measured = isfinite(row->value) && row->value <= ymax;
        if (measured)
            tui_put(b, XCOL(row->ideal), YROW(row->value), b->utf8 ? "\u25cf" : "*", TUI_C_COMPUTE | TUI_A_BOLD);
        if (isfinite(row->predicted) && row->predicted <= ymax) {
            /* In the measured point's cell it goes beside it, both seen. */
            int same = measured && YROW(row->value) == YROW(row->predicted);
            tui_put(b, XCOL(row->ideal) + same, YROW(row->predicted), b->utf8 ? "\u25c6" : "o",
                    TUI_C_WARN | TUI_A_BOLD);
        }
    }
#undef XCOL
#undef YROW
}

/* The sweep's own chart: a bar per configuration of what its axis is
 * about, filling in as configurations finish; for GPU counts the ideal
 * speedup as a tick and the model's prediction as a marker. */
void tui_draw_sweep_chart(tui_buf *b, tui_rect r, const tui_sweep_chart *c)
{
    char title[128];
    snprintf(title, sizeof title, "Sweep: %s", c->title);
    tui_box(b, r, title, TUI_C_DIM);
    int x = r.x + 1, w = r.w - 2, y = r.y + 1, rows = r.h - 3;
    const char *bar = b->utf8 ? "\u2588" : "#", *tick = b->utf8 ? "\u2502" : "|", *dia = b->utf8 ? "\u25c6" : "o";
    if (w < 12 || rows < 1)
        return;
    int xy = c->kind == TUI_CHART_SPEEDUP && rows >= 14; /* room for a plot above the bars */
    if (c->kind == TUI_CHART_SPEEDUP) {
        /* The plot's glyph, then the bars' glyph, for each series. */
        const char *g[3][2] = {{xy ? (b->utf8 ? "\u25cf" : "*") : "", bar}, {c->npredicted ? dia : NULL, ""},
                               {xy ? (b->utf8 ? "\u00b7" : ".") : "", tick}};
        const char *name[3] = {" measured  ", " predicted  ", " ideal"};
        const int attr[3] = {TUI_C_COMPUTE, TUI_C_WARN | TUI_A_BOLD, TUI_C_OK};
        int lx = x;
        for (int k = 0; k < 3; k++) {
            if (!g[k][0])
                continue; /* no predictions */
            for (int m = 0; m < 2; m++)
                if (g[k][m][0])
                    tui_put(b, lx++, y, g[k][m], attr[k]);
            lx += tui_text(b, lx, y, x + w - lx, name[k], TUI_C_DIM);
        }
    } else
        tui_textf(b, x, y, w, TUI_C_DIM, "rows: %s", c->legend);
    y++;
    double max = 0;
    int lw = 4;
    for (int i = 0; i < c->n; i++) {
        const tui_chart_row *row = &c->rows[i];
        double v[3] = {row->value, row->predicted, row->ideal};
        for (int k = 0; k < 3; k++)
            max = isfinite(v[k]) && v[k] > max ? v[k] : max;
        int lwi = tui_strwidth(row->label);
        lw = lwi > lw ? lwi : lw;
    }
    lw = lw > w / 3 ? w / 3 : lw;
    if (xy) {
        int h = rows / 2;
        draw_speedup_xy(b, (tui_rect){x, y, w, h}, c, max);
        y += h + 1;
        rows -= h + 1;
    }
    int vw = 8, bw = w - lw - vw - 2;
    /* More configurations than rows: the rows follow the current one, and
     * arrows on the frame say that others are above or below. */
    int first = c->cur >= rows ? c->cur - rows + 1 : 0;
    if (first > 0)
        tui_put(b, r.x + r.w - 1, y, b->utf8 ? "\u25b2" : "^", TUI_C_DIM);
    if (first + rows < c->n)
        tui_put(b, r.x + r.w - 1, y + rows - 1, b->utf8 ? "\u25bc" : "v", TUI_C_DIM);
    for (int i = first; i < c->n && i - first < rows; i++, y++) {
        const tui_chart_row *row = &c->rows[i];
        int attr = tui_status_attr(row->status) | (i == c->cur ? TUI_A_BOLD : 0);
        tui_text(b, x, y, lw, row->label, attr);
        int bx = x + lw + 1;
        char val[32] = "";
        if (isfinite(row->value) && max > 0) {
            tui_bar(b, bx, y, bw, row->value / max, TUI_C_COMPUTE);
            fmt_value(row->value, c->unit, val, sizeof val);
        } else {
            tui_text(b, bx, y, bw, row->status, attr | TUI_C_DIM);
            if (isfinite(row->predicted)) /* not measured (yet): the prediction */
                snprintf(val, sizeof val, "~%.2fx", row->predicted);
        }
        if (bw > 0 && max > 0 && isfinite(row->ideal))
            tui_put(b, bx + bar_cell(row->ideal, max, bw), y, tick, TUI_C_OK | TUI_A_BOLD);
        if (bw > 0 && max > 0 && isfinite(row->predicted))
            tui_put(b, bx + bar_cell(row->predicted, max, bw), y, dia, TUI_C_WARN | TUI_A_BOLD);
        tui_text(b, x + w - vw, y, vw, val, 0);
    }
}

static void draw_split(const tui_live *lv, tui_buf *b, tui_rect r)
{
    tui_box(b, r, "Epoch time: load vs compute", TUI_C_DIM);
    int x = r.x + 2, w = r.w - 4;
    tui_put(b, x, r.y + 1, b->utf8 ? "▓" : "=", TUI_C_LOAD);
    tui_text(b, x + 2, r.y + 1, 10, "data load", TUI_C_DIM);
    tui_put(b, x + 13, r.y + 1, b->utf8 ? "█" : "#", TUI_C_COMPUTE);
    tui_text(b, x + 15, r.y + 1, w - 15, "compute (train_s)", TUI_C_DIM);
    double max = 0;
    for (int i = 0; i < lv->nep; i++) {
        double t = (isfinite(lv->ep[i].load_s) ? lv->ep[i].load_s : 0) +
                   (isfinite(lv->ep[i].train_s) ? lv->ep[i].train_s : 0);
        max = t > max ? t : max;
    }
    /* --profile: the last epoch's phases, as shares of their sum. */
    const tui_epoch *last = lv->nep ? &lv->ep[lv->nep - 1] : NULL;
    int phases = last && last->has_phases && r.h >= 5;
    if (phases) {
        static const char *const label[TB_PHASE_COUNT] = {"data", "h2d", "fwd", "bwd", "allreduce", "opt"};
        double sum = 0;
        for (int p = 0; p < TB_PHASE_COUNT; p++)
            sum += isfinite(last->phase_s[p]) ? last->phase_s[p] : 0;
        char line[256];
        int n = snprintf(line, sizeof line, "E%d phases %%:", lv->nep);
        for (int p = 0; p < TB_PHASE_COUNT && sum > 0 && n > 0 && (size_t)n < sizeof line; p++)
            if (last->phase_s[p] >= 0.005 * sum) /* room for what matters */
                n += snprintf(line + n, sizeof line - (size_t)n, " %s %.0f", label[p], 100 * last->phase_s[p] / sum);
        tui_text(b, x, r.y + r.h - 2, w, line, TUI_C_DIM);
    }
    int rows = r.h - 3 - phases, first = lv->nep > rows ? lv->nep - rows : 0;
    if (!lv->nep)
        tui_text(b, x, r.y + 2, w, "(after the first epoch)", TUI_C_DIM);
    for (int i = first; i < lv->nep; i++) {
        const tui_epoch *e = &lv->ep[i];
        int y = r.y + 2 + i - first;
        tui_textf(b, x, y, 5, TUI_A_BOLD, "E%d", i + 1);
        tui_stacked_bar(b, x + 5, y, w - 5 - 18, e->load_s, e->train_s, max, TUI_C_LOAD, TUI_C_COMPUTE, NULL, NULL);
        tui_textf(b, x + w - 17, y, 17, 0, "%.2f+%.2fs", e->load_s, e->train_s);
    }
}

/* Under a chart of n points (tui_chart in `in`, inside `box`): "E<k>" on
 * the box's bottom edge where each epoch's points begin. */
static void draw_epoch_marks(tui_buf *b, tui_rect box, tui_rect in, const int *ep, int n)
{
    const int label_w = 7; /* tui_chart's y labels */
    int pw = in.w - label_w, xdots = pw * (b->utf8 ? 2 : 1);
    int off = n > xdots ? n - xdots : 0, shown = n - off, next_x = in.x + label_w;
    if (pw < 4 || shown < 2)
        return;
    for (int i = off; i < n; i++) {
        if (i > 0 && ep[i] == ep[i - 1])
            continue;
        int x = in.x + label_w + (int)lround((double)(i - off) * (pw - 1) / (shown - 1));
        char lab[16];
        int w = snprintf(lab, sizeof lab, "E%d", ep[i]);
        x = x + w > box.x + box.w - 1 ? box.x + box.w - 1 - w : x; /* the last one inside the corner */
        if (x < next_x)
            continue; /* no overlapping labels */
        tui_text(b, x, box.y + box.h - 1, w, lab, TUI_C_DIM);
        next_x = x + w + 1;
    }
}

void tui_draw_live(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    const tui_live *lv = &a->live;
    if (!lv->active) {
        tui_box(b, l->body, "Live run", TUI_C_DIM);
        tui_text(b, l->body.x + 2, l->body.y + 2, l->body.w - 4,
                 "Nothing running. Choose a preset (1), set its parameters (2) and launch with l.", TUI_C_DIM);
        int h = a->res ? 5 + (a->res->ngpu > 1 ? a->res->ngpu : 1) : 4; /* inside the frame */
        tui_rect res = {l->body.x + 2, l->body.y + 4, l->res.w, h < l->body.h - 5 ? h : l->body.h - 5};
        tui_draw_res_panel(b, res, a->res);
        return;
    }
    draw_progress(lv, b, l->progress);
    static tui_sweep_chart chart; /* large for the stack; the UI is single-threaded */
    tui_sweep_chart_build(lv, &chart);
    tui_draw_sweep_chart(b, l->configs, &chart);
    /* A failure's reason, whole, where the epoch bars would be: the log's
     * lines and the chart's rows are cut at their pane's edge. */
    char why[1200];
    if (tui_live_failure(lv, why, sizeof why)) {
        tui_box(b, l->split, "Why it failed", TUI_C_ERR);
        tui_rect in = {l->split.x + 2, l->split.y + 1, l->split.w - 4, l->split.h - 2};
        tui_draw_wrapped(b, in, why, 0, TUI_C_ERR | TUI_A_BOLD);
    } else
        draw_split(lv, b, l->split);

    char ctitle[96];
    if (lv->nloss)
        snprintf(ctitle, sizeof ctitle, "Training loss: %.4f (E%d)", lv->loss_hist[lv->nloss - 1],
                 lv->loss_ep[lv->nloss - 1]);
    else
        snprintf(ctitle, sizeof ctitle, "Training loss");
    tui_box(b, l->loss, ctitle, TUI_C_DIM);
    tui_rect in = {l->loss.x + 1, l->loss.y + 1, l->loss.w - 2, l->loss.h - 2};
    if (lv->nloss) {
        tui_chart(b, in, lv->loss_hist, lv->nloss, TUI_C_WARN);
        draw_epoch_marks(b, l->loss, in, lv->loss_ep, lv->nloss);
    }
    double acc[TUI_MAX_EPOCHS];
    for (int i = 0; i < lv->nep; i++)
        acc[i] = lv->ep[i].test_acc;
    if (lv->nep && isfinite(acc[lv->nep - 1]))
        snprintf(ctitle, sizeof ctitle, "Test accuracy: %.2f%% (E%d)", acc[lv->nep - 1], lv->nep);
    else
        snprintf(ctitle, sizeof ctitle, "Test accuracy %% per epoch");
    tui_box(b, l->acc, ctitle, TUI_C_DIM);
    in = (tui_rect){l->acc.x + 1, l->acc.y + 1, l->acc.w - 2, l->acc.h - 2};
    if (lv->nep)
        tui_chart(b, in, acc, lv->nep, TUI_C_OK);
    else
        tui_text(b, in.x + 1, in.y, in.w - 2, "(after the first epoch)", TUI_C_DIM);

    /* The log follows its end unless scrolled back (PgUp). */
    int rows = l->log.h - 2, scroll = lv->log_scroll;
    int last = lv->nlog - scroll, first = last > rows ? last - rows : 0;
    char title[96];
    if (scroll)
        snprintf(title, sizeof title, "Engine log (%d-%d of %d; End follows)", first + 1, last, lv->nlog);
    else
        snprintf(title, sizeof title, "Engine log");
    tui_box(b, l->log, title, TUI_C_DIM);
    for (int i = first; i < last && i >= 0; i++)
        tui_text(b, l->log.x + 2, l->log.y + 1 + i - first, l->log.w - 4, lv->log[i], 0);
    tui_draw_res_panel(b, l->res, a->res);
}
