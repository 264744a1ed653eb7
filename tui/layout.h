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
    tui_rect res; /* GPU and host readings, beside the log */
} tui_layout;

tui_layout tui_layout_compute(int cols, int rows);

/* The header's tabs (keys 1-6), drawn from x = 0 as " trainbench " then
 * " N Name " and a space each. */
enum { TUI_TABS = 6 };
extern const char *const tui_tab_names[TUI_TABS];
/* The tab under header column x (0-based: the key is '1' + it), or -1. */
int tui_tab_at(int x);
/* Lists in the body (params: the Parameters screen; else Results): how many
 * rows show, the first shown for selection sel, and the row (0 = first
 * shown) under cell (x, y), or -1.  The drawing and mouse clicks share them. */
int tui_list_rows(const tui_layout *l, int params);
int tui_list_first(int sel, int rows);
int tui_list_row_at(const tui_layout *l, int params, int x, int y);

#endif
