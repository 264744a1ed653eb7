/* Reading fields of JSON files that may be damaged, hand-edited or half
 * written (result.json, summary.json, plan.json, events.jsonl).
 * Every getter checks the JSON type: a field that is missing, null or of
 * another type (a string where a number is expected) reads as missing, which
 * gives the caller's fallback (NULL for objects, arrays and strings), never a
 * crash: json-c asserts on calls of the wrong type.  Numbers are JSON ints and
 * doubles only; pass NAN as the fallback where unknown must stay apart from 0
 * (tables print it as n/a).  Files are written with tb_json_write_atomic and
 * read with tb_json_read_file (rundir/rundir.h). */
#ifndef TB_CORE_JSON_H
#define TB_CORE_JSON_H

#include <json-c/json.h>
#include <stddef.h>

/* The field of any type, or NULL (o may be NULL or not an object). */
struct json_object *tb_json_get(struct json_object *o, const char *key);
/* An object field, or NULL. */
struct json_object *tb_json_obj(struct json_object *o, const char *key);
/* An array field, or NULL. */
struct json_object *tb_json_arr(struct json_object *o, const char *key);
/* A string field, or fallback. */
const char *tb_json_str(struct json_object *o, const char *key, const char *fallback);
/* A string field (or fallback, which may be NULL for "") copied with truncation. */
void tb_json_copy(char *dst, size_t size, struct json_object *o, const char *key, const char *fallback);
/* A number field, or fallback.  NaN and Infinity written as numbers (json-c
 * reads them) come back as they are. */
double tb_json_num(struct json_object *o, const char *key, double fallback);
/* A number field truncated toward zero, or fallback when it is missing, not
 * finite or outside int's range (casting those is undefined). */
int tb_json_int(struct json_object *o, const char *key, int fallback);
/* A boolean field as 0 or 1, or fallback. */
int tb_json_bool(struct json_object *o, const char *key, int fallback);

#endif
