/* Failure in plain sight: the reasons configurations failed, read from the
 * sweep's summary.json, and which one the Live screen shows. */
#ifndef TUI_FAILURE_H
#define TUI_FAILURE_H

#include "tui/state.h" // uses: tui_live

#include <stddef.h>

/* Copies each configuration's "error" from summary.json into the live
 * rows (matched by id) and the sweep's "stopped" reason into l->stopped;
 * nothing changes
 * when the file cannot be read. */
void tui_live_read_errors(tui_live *l);

/* What the Live screen shows as the reason, whole: the followed
 * configuration's error, else once the sweep has ended the reason it
 * stopped or its first configuration's error.  Writes "id: reason" (or the
 * stop reason) to out and returns 1, or 0 when there is nothing to show. */
int tui_live_failure(const tui_live *l, char *out, size_t size);

#endif
