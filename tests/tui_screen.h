/* Reading a drawn workbench screen in tests: glyph counts, rectangles,
 * whether a text is on it, the whole screen on stderr when a check on it
 * failed, and small input files. */
#ifndef TB_TUI_SCREEN_H
#define TB_TUI_SCREEN_H

#include "tests/check.h" // uses: check_failures
#include "tui/cells.h" // uses: tui_buf, tui_buf_row

#include <stdio.h>
#include <string.h>

static inline int screen_has(const tui_buf *b, const char *text)
{
    char row[2048];
    for (int y = 0; y < b->h; y++) {
        tui_buf_row(b, y, row, sizeof row);
        if (strstr(row, text))
            return 1;
    }
    return 0;
}

/* The screen on stderr, when a check on it failed. */
static inline void dump_on_failure(const tui_buf *b, int before)
{
    char row[2048];
    for (int y = 0; check_failures > before && y < b->h; y++) {
        tui_buf_row(b, y, row, sizeof row);
        fprintf(stderr, "|%s|\n", row);
    }
}

static inline int count(const tui_buf *b, const char *g)
{
    int n = 0;
    for (int i = 0; i < b->w * b->h; i++)
        n += !strcmp(b->c[i].g, g);
    return n;
}

static inline int inside(tui_rect in, tui_rect out)
{
    return in.x >= out.x && in.y >= out.y && in.x + in.w <= out.x + out.w && in.y + in.h <= out.y + out.h;
}

static inline int overlap(tui_rect a, tui_rect b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/* Double-width and multi-byte text: measured by display width, clipped
 * without ever leaving half a character, the same in both locales. */

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

#endif
