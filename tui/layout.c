/* Layout: a pure function of (cols, rows); see layout.h. */
#include "tui/layout.h"

#include <string.h>

tui_layout tui_layout_compute(int cols, int rows)
{
    tui_layout l;
    memset(&l, 0, sizeof l);
    if (cols < TUI_MIN_COLS || rows < TUI_MIN_ROWS) {
        l.too_small = 1;
        l.body = (tui_rect){0, 0, cols > 0 ? cols : 0, rows > 0 ? rows : 0};
        return l;
    }
    l.header = (tui_rect){0, 0, cols, 1};
    l.status = (tui_rect){0, rows - 1, cols, 1};
    l.body = (tui_rect){0, 1, cols, rows - 2};
    const tui_rect b = l.body;

    /* Lists: about 45% for the list, at least 36 cells, the rest detail. */
    int lw = cols * 45 / 100;
    lw = lw < 36 ? 36 : lw;
    l.list = (tui_rect){b.x, b.y, lw, b.h};
    l.detail = (tui_rect){b.x + lw, b.y, cols - lw, b.h};

    /* Live run: progress on top (6 rows: frame, epoch bar, rates, sweep bar,
     * spare), then two columns (stacked bars | charts), the log at the
     * bottom (a quarter of the height, at least 5 rows). */
    int ph = 6;
    int logh = b.h / 4 < 5 ? 5 : b.h / 4;
    int mid = b.h - ph - logh;
    l.progress = (tui_rect){b.x, b.y, cols * 3 / 5, ph};
    l.configs = (tui_rect){b.x + l.progress.w, b.y, cols - l.progress.w, ph};
    int left = cols / 2;
    l.split = (tui_rect){b.x, b.y + ph, left, mid};
    l.loss = (tui_rect){b.x + left, b.y + ph, cols - left, mid / 2};
    l.acc = (tui_rect){b.x + left, b.y + ph + mid / 2, cols - left, mid - mid / 2};
    l.log = (tui_rect){b.x, b.y + ph + mid, cols, logh};
    /* Wide and tall terminals: the sweep pane grows downwards beside the
     * charts instead of staying one box high. */
    if (cols >= 160 && rows >= 50) {
        int cw = cols / 4;
        l.configs = (tui_rect){b.x + cols - cw, b.y, cw, ph + mid};
        l.progress.w = cols - cw;
        left = (cols - cw) / 2;
        l.split = (tui_rect){b.x, b.y + ph, left, mid};
        l.loss = (tui_rect){b.x + left, b.y + ph, cols - cw - left, mid / 2};
        l.acc = (tui_rect){b.x + left, b.y + ph + mid / 2, cols - cw - left, mid - mid / 2};
    }
    return l;
}
