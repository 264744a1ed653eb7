/* A cell buffer and pure drawing primitives for the workbench.  Everything
 * here writes into memory only, so the drawing is unit-tested without a
 * terminal; term.c copies a finished buffer to the screen. */
#ifndef TUI_CELLS_H
#define TUI_CELLS_H

#include <stddef.h>
#include <stdint.h>

/* Colour roles (the low 4 bits of an attribute); term.c maps them to
 * curses colour pairs, or to nothing under NO_COLOR. */
enum {
    TUI_C_NORMAL = 0,
    TUI_C_TITLE,   /* header bar */
    TUI_C_ACCENT,  /* labels, box titles */
    TUI_C_OK,      /* completed, valid */
    TUI_C_WARN,    /* running, pending */
    TUI_C_ERR,     /* failed, invalid */
    TUI_C_LOAD,    /* data-load time */
    TUI_C_COMPUTE, /* compute time */
    TUI_C_DIM,     /* hints, axes */
    TUI_C_STATUS,  /* status line */
    TUI_NCOLORS
};
enum { TUI_A_BOLD = 0x10, TUI_A_REVERSE = 0x20, TUI_A_UNDERLINE = 0x40 };

typedef struct {
    /* One UTF-8 character (plus combining marks that fit), NUL-terminated;
     * "" is the right half of the double-width character on its left. */
    char g[8];
    uint8_t attr; /* colour role | TUI_A_* */
} tui_cell;

typedef struct {
    int w, h;
    int utf8; /* 0: ASCII glyphs only (the terminal is not UTF-8) */
    tui_cell *c;
    /* What the last scrollable tui_table drawn showed, for the keys that
     * scroll it: its first column after column 0, and whether more columns
     * hide on the right.  tui_buf_clear resets them. */
    int table_first_col, table_more;
} tui_buf;

typedef struct {
    int x, y, w, h;
} tui_rect;

int tui_buf_init(tui_buf *b, int w, int h, int utf8);
void tui_buf_free(tui_buf *b);
void tui_buf_clear(tui_buf *b);
/* Row y as plain text (trailing blanks kept), for tests and screen dumps. */
void tui_buf_row(const tui_buf *b, int y, char *out, size_t size);

/* One glyph at (x, y); outside the buffer nothing happens. */
void tui_put(tui_buf *b, int x, int y, const char *glyph, int attr);
/* Text clipped to maxw cells, each character taking its display width
 * (CJK two cells, combining marks none; a wide character that does not fit
 * whole is left out); returns the cells used.  Non-ASCII characters become
 * one '?' per cell on an ASCII terminal, so widths do not change. */
int tui_text(tui_buf *b, int x, int y, int maxw, const char *s, int attr);
/* Text wrapped at blanks into lines of w cells, at most maxlines (the last
 * one clipped); returns the lines used. */
int tui_text_wrap(tui_buf *b, int x, int y, int w, int maxlines, const char *s, int attr);
/* printf-style tui_text. */
int tui_textf(tui_buf *b, int x, int y, int maxw, int attr, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void tui_fill(tui_buf *b, tui_rect r, const char *glyph, int attr);
/* A frame around r with an optional title in its top edge. */
void tui_box(tui_buf *b, tui_rect r, const char *title, int attr);

/* A horizontal bar of w cells filled to frac (0..1) in eighths of a cell
 * (UTF-8) or whole cells of '#' (ASCII); the rest is left blank.  Returns
 * the number of eighths drawn. */
int tui_bar(tui_buf *b, int x, int y, int w, double frac, int attr);
/* The eighths tui_bar draws for w cells at frac (clamped to 0..8w). */
int tui_bar_eighths(int w, double frac);

/* A stacked bar of two parts a and b (load, compute) against max, w cells:
 * part widths in whole cells, rounded so that their sum is the rounded total.
 * Writes the widths to *wa, *wb (may be NULL). */
void tui_stacked_bar(tui_buf *b, int x, int y, int w, double a, double bv, double max, int attr_a, int attr_b,
                     int *wa, int *wb);
void tui_stacked_widths(int w, double a, double b, double max, int *wa, int *wb);

/* Axis scaling: a range [lo, hi] covering the finite values (NaN skipped),
 * widened to "nice" steps (1, 2, 5 x 10^k) and never empty. */
void tui_axis_range(const double *v, int n, double *lo, double *hi);
/* Value v on an axis of `dots` positions (0 = bottom, dots-1 = top). */
int tui_axis_pos(double v, double lo, double hi, int dots);

/* A line chart of n values in r: y-axis labels on the left (7 cells), the
 * plot in braille dots (2x4 per cell) on UTF-8, '*' otherwise.  Values are
 * spread over the plot's width (the last n that fit when there are more). */
void tui_chart(tui_buf *b, tui_rect r, const double *v, int n, int attr);

/* A table: headers, then rows of cells; column widths from the content;
 * right-aligned (numbers) where right[c].  Row `sel` (or -1) is reversed;
 * rows scroll so that sel is visible.  Too wide for r.w, the widest
 * columns narrow down to TUI_TABLE_MIN_COL cells (numbers are never cut, only their headers);
 * still too wide, columns scroll: column 0 stays, then columns from
 * *first_col on (clamped to what can be shown; NULL: 1), and a '<' after
 * column 0 or a '>' at the right edge of the header row says columns are
 * hidden that way.  Returns the first row shown. */
enum { TUI_TABLE_MIN_COL = 8 };
int tui_table(tui_buf *b, tui_rect r, int ncols, const char *const *headers, const char *const *cells, int nrows,
              const int *right, int sel, int *first_col);

/* Display width of a UTF-8 string in cells (wcwidth, with a built-in table
 * of wide and combining ranges when the locale cannot tell). */
int tui_strwidth(const char *s);
/* Display width of one code point: 0, 1 or 2. */
int tui_cpwidth(uint32_t cp);
/* Bytes of the longest prefix of s at most maxw cells wide (never half a
 * character). */
size_t tui_str_clip(const char *s, int maxw);

#endif
