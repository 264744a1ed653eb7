/* The sweep's own chart on the Live screen: one row per configuration of
 * the quantity the sweep's axis is about (workers: data-load time, GPUs:
 * speedup with the ideal line and the ring all-reduce model's predictions,
 * batch size: epoch time, optimizer: test accuracy), filling in as
 * configurations finish.  Built from the live state; no curses. */
#ifndef TUI_SWEEP_CHART_H
#define TUI_SWEEP_CHART_H

#include "tui/cells.h" // uses: tui_buf, tui_rect
#include "tui/state.h" // uses: TUI_MAX_CONFIGS, tui_live

typedef enum { TUI_CHART_BARS, TUI_CHART_SPEEDUP } tui_chart_kind;

typedef struct {
    char label[96];
    char status[16];
    double value;     /* measured; NAN until the configuration completes */
    double predicted; /* the prediction (speedup charts), NAN none */
    double ideal;     /* the ideal speedup (= GPUs), NAN none */
} tui_chart_row;

typedef struct {
    tui_chart_kind kind;
    char title[96];  /* "GPUs vs speedup" */
    char legend[96]; /* what a label holds, "gpus, batch_size" */
    char unit[8];    /* appended to values: "s", "%", "x" */
    int n, cur;      /* rows; the followed configuration, -1 none */
    int npredicted;
    tui_chart_row rows[TUI_MAX_CONFIGS];
} tui_sweep_chart;

void tui_sweep_chart_build(const tui_live *l, tui_sweep_chart *c);
/* Draws it framed in r (screens_live.c): a legend line, then a row per
 * configuration around the followed one. */
void tui_draw_sweep_chart(tui_buf *b, tui_rect r, const tui_sweep_chart *c);

#endif
