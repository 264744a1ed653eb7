/* Layout as a pure function of the terminal size: rectangles for every pane
 * of every screen, or "too small". */
#ifndef TUI_LAYOUT_H
#define TUI_LAYOUT_H

#include "tui/cells.h" // uses: tui_rect

enum { TUI_MIN_COLS = 80, TUI_MIN_ROWS = 24 };

typedef struct {
    int too_small;
    tui_rect header; /* top line: name, screen tabs */
    tui_rect status; /* bottom line: key hints or a message */
    tui_rect body;   /* between them */
    /* presets and results: a list and a detail pane */
    tui_rect list, detail;
    /* live run */
    tui_rect progress; /* epoch bar, sweep bar, rates */
    tui_rect configs;  /* the sweep's configurations and its chart */
    tui_rect split;    /* per-epoch load/compute stacked bars */
    tui_rect loss, acc;
    tui_rect log;
} tui_layout;

tui_layout tui_layout_compute(int cols, int rows);

#endif
