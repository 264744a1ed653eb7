/* Type confusion for the JSON fuzz targets: each field of the input's
 * top-level object (and of the objects one level down) replaced in turn by
 * null, an array, a string, a number and an object, so that every seed also
 * exercises readers that get a field of the wrong JSON type (issue 16: a
 * null "schema", a config.json that is an array, "configs" not an array). */
#ifndef TB_FUZZ_JSON_MUTATE_H
#define TB_FUZZ_JSON_MUTATE_H

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* A fresh value of the k-th confusing type (k = 0..4); NULL is JSON null. */
static struct json_object *fuzz_confusing_value(int k)
{
    switch (k) {
    case 0:
        return NULL;
    case 1:
        return json_object_new_array();
    case 2:
        return json_object_new_string("x");
    case 3:
        return json_object_new_int(-1);
    default:
        return json_object_new_object();
    }
}

/* Each field of object o (inside root) as each confusing type in turn, fn on
 * root's text each time; o is restored. */
static void fuzz_mutate_fields(struct json_object *root, struct json_object *o,
                               void (*fn)(const char *text, void *ctx), void *ctx)
{
    json_object_object_foreach(o, key, val)
    {
        struct json_object *saved = json_object_get(val);
        for (int k = 0; k < 5; k++) {
            json_object_object_add(o, key, fuzz_confusing_value(k));
            fn(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN), ctx);
        }
        json_object_object_add(o, key, saved);
    }
}

/* Calls fn(text, ctx) on the input itself and on every one-field mutation
 * (the input's own text when it is not a JSON object). */
static void fuzz_type_confusion(const char *text, void (*fn)(const char *text, void *ctx), void *ctx)
{
    fn(text, ctx);
    struct json_object *root = json_tokener_parse(text);
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return;
    }
    /* The root itself as another type: a config.json that is an array. */
    for (int k = 0; k < 4; k++) {
        struct json_object *v = fuzz_confusing_value(k);
        fn(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), ctx);
        json_object_put(v);
    }
    fuzz_mutate_fields(root, root, fn, ctx);
    json_object_object_foreach(root, key1, val1)
    {
        (void)key1;
        if (json_object_is_type(val1, json_type_object))
            fuzz_mutate_fields(root, val1, fn, ctx);
        if (json_object_is_type(val1, json_type_array) && json_object_array_length(val1) > 0) {
            /* An array whose first element is of another type. */
            struct json_object *first = json_object_get(json_object_array_get_idx(val1, 0));
            for (int k = 0; k < 5; k++) {
                json_object_array_put_idx(val1, 0, fuzz_confusing_value(k));
                fn(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN), ctx);
            }
            json_object_array_put_idx(val1, 0, first);
            if (json_object_is_type(first, json_type_object)) /* e.g. summary.json's configs[0].id */
                fuzz_mutate_fields(root, first, fn, ctx);
        }
    }
    json_object_put(root);
}

#endif
