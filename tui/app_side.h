/* The workbench's side screens glued to its state (tui/app_side.c). */
#ifndef TUI_APP_SIDE_H
#define TUI_APP_SIDE_H

#include "tui/state.h" // uses: tui_app

/* At most once a second: GPU and host readings for the Resources panel. */
void tui_app_sample_resources(tui_app *a);
/* The Jobs screen's keys: choose, r ask squeue now, Enter follow a running
 * job's sweep in the Live view, x/Delete ask to cancel it. */
void tui_app_jobs_key(tui_app *a, int k, int up, int down, int home_end, int enter);
/* A left click at (x, y): selects the Presets, Parameters or Results row
 * it landed on; the tab index (0-based) when it landed on a tab, else -1. */
int tui_app_click(tui_app *a, int x, int y, int cols, int rows);

#endif
