/* Type-checked JSON field reading (see json.h). */
#include "core/json.h"

#include <limits.h>
#include <math.h>
#include <string.h>

struct json_object *tb_json_get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

struct json_object *tb_json_obj(struct json_object *o, const char *key)
{
    struct json_object *v = tb_json_get(o, key);
    return json_object_is_type(v, json_type_object) ? v : NULL;
}

struct json_object *tb_json_arr(struct json_object *o, const char *key)
{
    struct json_object *v = tb_json_get(o, key);
    return json_object_is_type(v, json_type_array) ? v : NULL;
}

const char *tb_json_str(struct json_object *o, const char *key, const char *fallback)
{
    struct json_object *v = tb_json_get(o, key);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : fallback;
}

void tb_json_copy(char *dst, size_t size, struct json_object *o, const char *key, const char *fallback)
{
    if (!size)
        return;
    const char *v = tb_json_str(o, key, fallback ? fallback : "");
    size_t n = strlen(v);
    if (n >= size)
        n = size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

double tb_json_num(struct json_object *o, const char *key, double fallback)
{
    struct json_object *v = tb_json_get(o, key);
    return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)
               ? json_object_get_double(v)
               : fallback;
}

int tb_json_int(struct json_object *o, const char *key, int fallback)
{
    double v = tb_json_num(o, key, NAN);
    /* Bounds one past the range, so that -2147483648.5 and 2147483647.5 (which truncate into it) pass. */
    return v > (double)INT_MIN - 1.0 && v < (double)INT_MAX + 1.0 ? (int)v : fallback;
}

int tb_json_bool(struct json_object *o, const char *key, int fallback)
{
    struct json_object *v = tb_json_get(o, key);
    return json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) != 0 : fallback;
}
