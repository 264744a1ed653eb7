/* Reading fields of the engine's JSON files defensively: a missing, wrongly
 * typed or out-of-range field reads as a default, never undefined. */
#ifndef TUI_JFIELD_H
#define TUI_JFIELD_H

#include <json-c/json.h>
#include <stddef.h>

struct json_object *tui_jget(struct json_object *o, const char *k);
/* A string field, or NULL. */
const char *tui_jstr(struct json_object *o, const char *k);
/* A string field or def, copied with truncation. */
void tui_jcopy(char *dst, size_t size, struct json_object *o, const char *k, const char *def);
/* A number field, or NAN. */
double tui_jnum(struct json_object *o, const char *k);
/* An integer field; 0 when missing, not finite or out of int's range. */
int tui_jint(struct json_object *o, const char *k);

#endif
