/* Drawing the Run screen and the Compare screen (screens_run.c). */
#ifndef TUI_SCREENS_RUN_H
#define TUI_SCREENS_RUN_H

#include "tui/cells.h" // uses: tui_buf
#include "tui/layout.h" // uses: tui_layout
#include "tui/state.h" // uses: tui_app

void tui_draw_run(const tui_app *a, tui_buf *b, const tui_layout *l);
void tui_draw_compare(const tui_app *a, tui_buf *b, const tui_layout *l);

#endif
