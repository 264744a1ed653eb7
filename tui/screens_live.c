/* The live run: epoch progress, sweep progress, load/compute bars, loss and
 * accuracy curves, the sweep's chart and the engine's log. */
#include "screens.h"

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
    char eta[32];
    tui_fmt_duration(lv->batch >= lv->batches && lv->batches ? 0 : lv->eta_s > 0 ? lv->eta_s : NAN, eta, sizeof eta);
    tui_textf(b, x, y++, w, 0, "images/s %-9.0f loss %-8.4f ETA %s", isfinite(lv->ips) ? lv->ips : 0,
              isfinite(lv->loss) ? lv->loss : 0, eta);
    double sfrac = lv->total > 0 ? (double)(lv->completed + lv->failed) / lv->total : 0;
    tui_text(b, x, y, 12, "Sweep", TUI_A_BOLD);
    tui_bar(b, x + 12, y, bw, sfrac, TUI_C_ACCENT);
    tui_textf(b, x + 13 + bw, y, w - 13 - bw, 0, "%d/%d configs", lv->completed + lv->failed, lv->total);
    y++;
    tui_text(b, x, y, 8, "Status", TUI_A_BOLD);
    tui_text(b, x + 12, y, 14, lv->status, tui_status_attr(lv->status) | TUI_A_BOLD);
    tui_text(b, x + 26, y, w - 26, lv->sweep_dir, TUI_C_DIM);
}

/* The sweep's own chart: one line per configuration, a bar of its mean
 * epoch time against the slowest, filling in as configurations finish. */
static void draw_configs(const tui_live *lv, tui_buf *b, tui_rect r)
{
    tui_box(b, r, "Sweep: epoch time", TUI_C_DIM);
    double max = 0;
    for (int i = 0; i < lv->nconfigs; i++)
        if (isfinite(lv->configs[i].avg_epoch_s) && lv->configs[i].avg_epoch_s > max)
            max = lv->configs[i].avg_epoch_s;
    int rows = r.h - 2, first = lv->cur >= rows ? lv->cur - rows + 1 : 0;
    int lw = r.w / 3, bw = r.w - 4 - lw - 8;
    for (int i = first; i < lv->nconfigs && i - first < rows; i++) {
        const tui_config_row *c = &lv->configs[i];
        int y = r.y + 1 + i - first;
        int attr = tui_status_attr(c->status) | (i == lv->cur ? TUI_A_BOLD : 0);
        tui_text(b, r.x + 1, y, lw, c->label[0] ? c->label : c->id, attr);
        if (isfinite(c->avg_epoch_s) && max > 0) {
            tui_bar(b, r.x + 2 + lw, y, bw, c->avg_epoch_s / max, TUI_C_COMPUTE);
            tui_textf(b, r.x + 3 + lw + bw, y, 7, 0, "%.2fs", c->avg_epoch_s);
        } else
            tui_text(b, r.x + 2 + lw, y, bw, c->status, attr);
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
    int rows = r.h - 3, first = lv->nep > rows ? lv->nep - rows : 0;
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

void tui_draw_live(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    const tui_live *lv = &a->live;
    if (!lv->active) {
        tui_box(b, l->body, "Live run", TUI_C_DIM);
        tui_text(b, l->body.x + 2, l->body.y + 2, l->body.w - 4,
                 "Nothing running. Choose a preset (1), set its parameters (2) and launch with l.", TUI_C_DIM);
        return;
    }
    draw_progress(lv, b, l->progress);
    draw_configs(lv, b, l->configs);
    draw_split(lv, b, l->split);

    tui_box(b, l->loss, "Training loss (running mean)", TUI_C_DIM);
    tui_rect in = {l->loss.x + 1, l->loss.y + 1, l->loss.w - 2, l->loss.h - 2};
    if (lv->nloss)
        tui_chart(b, in, lv->loss_hist, lv->nloss, TUI_C_WARN);
    double acc[TUI_MAX_EPOCHS];
    for (int i = 0; i < lv->nep; i++)
        acc[i] = lv->ep[i].test_acc;
    tui_box(b, l->acc, "Test accuracy % per epoch", TUI_C_DIM);
    in = (tui_rect){l->acc.x + 1, l->acc.y + 1, l->acc.w - 2, l->acc.h - 2};
    if (lv->nep)
        tui_chart(b, in, acc, lv->nep, TUI_C_OK);
    else
        tui_text(b, in.x + 1, in.y, in.w - 2, "(after the first epoch)", TUI_C_DIM);

    tui_box(b, l->log, "Engine log", TUI_C_DIM);
    int rows = l->log.h - 2, first = lv->nlog > rows ? lv->nlog - rows : 0;
    for (int i = first; i < lv->nlog; i++)
        tui_text(b, l->log.x + 2, l->log.y + 1 + i - first, l->log.w - 4, lv->log[i], 0);
}
