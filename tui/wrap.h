/* Text wrapped to a width, as a pure function: what the workbench uses to
 * show a failure's reason or a table's footnotes whole instead of cut at
 * the edge of a pane. */
#ifndef TUI_WRAP_H
#define TUI_WRAP_H

#include "tui/cells.h" // uses: tui_buf, tui_rect

typedef struct {
    int off, len; /* bytes of the line in the text */
} tui_span;

/* Splits s into lines at most w cells wide: at newlines, at the last blank
 * that fits, mid-word only when a word is longer than a line (never inside
 * a UTF-8 character).  Fills out[0..max) and returns the number of lines
 * the whole text takes (more than max when it does not all fit). */
int tui_wrap(const char *s, int w, tui_span *out, int max);

/* Draws lines first, first+1, ... of s wrapped to r.w into r; returns the
 * number of lines the whole text takes at that width. */
int tui_draw_wrapped(tui_buf *b, tui_rect r, const char *s, int first, int attr);

#endif
