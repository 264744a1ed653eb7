/* Defensive JSON field access (see jfield.h). */
#include "core/json.h"

#include <limits.h>
#include <math.h>
#include <string.h>

struct json_object *tui_jget(struct json_object *o, const char *k)
{
    struct json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

const char *tui_jstr(struct json_object *o, const char *k)
{
    struct json_object *v = tui_jget(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

void tui_jcopy(char *dst, size_t size, struct json_object *o, const char *k, const char *def)
{
    const char *v = tui_jstr(o, k);
    if (!v)
        v = def;
    size_t n = strlen(v);
    if (n >= size)
        n = size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

double tui_jnum(struct json_object *o, const char *k)
{
    struct json_object *v = tui_jget(o, k);
    return v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
               ? json_object_get_double(v)
               : NAN;
}

int tui_jint(struct json_object *o, const char *k)
{
    double v = tui_jnum(o, k);
    return isfinite(v) && v > INT_MIN && v < INT_MAX ? (int)v : 0;
}
