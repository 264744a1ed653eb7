/* Drawing the screens: pure functions of the state into a cell buffer. */
#ifndef TUI_SCREENS_H
#define TUI_SCREENS_H

#include "tui/cells.h" // uses: tui_buf
#include "tui/layout.h" // uses: tui_layout
#include "tui/state.h" // uses: tui_app

/* The whole frame for the buffer's size: header, screen, status line (or
 * the "terminal too small" message). */
void tui_draw(const tui_app *a, tui_buf *b);

void tui_draw_presets(const tui_app *a, tui_buf *b, const tui_layout *l);
void tui_draw_params(const tui_app *a, tui_buf *b, const tui_layout *l);
void tui_draw_live(const tui_app *a, tui_buf *b, const tui_layout *l);
void tui_draw_results(const tui_app *a, tui_buf *b, const tui_layout *l);
void tui_draw_table(const tui_app *a, tui_buf *b, const tui_layout *l);
void tui_draw_export(const tui_app *a, tui_buf *b, const tui_layout *l);
void tui_draw_help(const tui_app *a, tui_buf *b, const tui_layout *l);

/* "1:23", "12:03:04", "--" */
void tui_fmt_duration(double s, char *out, size_t size);
/* Colour role for a status word (completed, running, failed...). */
int tui_status_attr(const char *status);

#endif
