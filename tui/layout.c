/* Layout: a pure function of (cols, rows); see layout.h. */
#include "tui/layout.h"

#include <string.h>

const char *const tui_tab_names[TUI_TABS] = {"Presets", "Parameters", "Live", "Results", "Resources", "Jobs"};

int tui_tab_at(int x)
{
    int x0 = (int)strlen(" trainbench ");
    for (int i = 0; i < TUI_TABS; i++) {
        int w = (int)strlen(tui_tab_names[i]) + 4; /* " N Name " */
        if (x >= x0 && x < x0 + w)
            return i;
        x0 += w + 1;
    }
    return -1;
}

int tui_list_rows(const tui_layout *l, int params)
{
    /* Parameters: a header line, and the sweep size and help below; Results:
     * the frame and the table's header. */
    int n = params ? l->body.h - 7 : l->body.h - 4;
    return n > 0 ? n : 0;
}

int tui_list_first(int sel, int rows)
{
    return rows > 0 && sel >= rows ? sel - rows + 1 : 0;
}

int tui_list_row_at(const tui_layout *l, int params, int x, int y)
{
    int row = y - (l->body.y + 2);
    if (l->too_small || x <= l->body.x || x >= l->body.x + l->body.w - 1 || row < 0 || row >= tui_list_rows(l, params))
        return -1;
    return row;
}

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
    /* The resources panel takes the log's right part: one line per GPU and
     * the host line fit in its height (at least 3 lines inside). */
    int rw = cols * 9 / 20 > 56 ? 56 : cols * 9 / 20;
    l.log.w = cols - rw;
    l.res = (tui_rect){b.x + l.log.w, l.log.y, rw, logh};
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
