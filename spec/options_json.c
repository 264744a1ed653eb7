/* config.json: a training configuration as JSON and back (see options.h).
 * The trainer writes it at the start of a run; --resume reads it back; the
 * checkpoint keeps the same text as the run's identity. */
#include "spec/options.h" // uses: tb_train_config_to_json, tb_train_config, tb_option, tb_train_options, ...

#include "core/error.h" // uses: tb_fail, tb_fail_prefix

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

struct json_object *tb_train_config_to_json(const tb_train_config *c)
{
    struct json_object *o = json_object_new_object();
    for (const tb_option *opt = tb_train_options(); opt->name; opt++) {
        char key[64], value[1100];
        tb_option_spell(opt->name, TB_SPELL_KEY, key, sizeof key);
        const char *field = (const char *)c + opt->offset;
        switch (opt->type) {
        case TB_OPT_INT:
            json_object_object_add(o, key, json_object_new_int(*(const int *)field));
            break;
        case TB_OPT_U64:
            json_object_object_add(o, key, json_object_new_uint64(*(const uint64_t *)field));
            break;
        case TB_OPT_FLOAT:
            /* The value's exact text, whatever json-c's global double format
             * (the trainer sets %.10g): config.json holds the user's number. */
            tb_option_format(c, opt, value, sizeof value);
            json_object_object_add(o, key, json_object_new_double_s(*(const double *)field, value));
            break;
        case TB_OPT_FLAG: /* stored positively: "batch_norm": true */
            json_object_object_add(o, key, json_object_new_boolean(*(const int *)field));
            break;
        case TB_OPT_CHOICE:
        case TB_OPT_STRING:
            tb_option_format(c, opt, value, sizeof value);
            json_object_object_add(o, key, json_object_new_string(value));
            break;
        }
    }
    return o;
}

static const char *type_name(struct json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

/* The JSON type an option's value must have in config.json. */
static int type_ok(const tb_option *opt, struct json_object *val)
{
    switch (opt->type) {
    case TB_OPT_INT:
    case TB_OPT_U64:
        return json_object_is_type(val, json_type_int);
    case TB_OPT_FLOAT:
        return json_object_is_type(val, json_type_double) || json_object_is_type(val, json_type_int);
    case TB_OPT_FLAG:
        return json_object_is_type(val, json_type_boolean);
    case TB_OPT_CHOICE:
    case TB_OPT_STRING:
        return json_object_is_type(val, json_type_string);
    }
    return 0;
}

static const char *expected_type(const tb_option *opt)
{
    return opt->type == TB_OPT_FLAG                                    ? "boolean"
           : opt->type == TB_OPT_CHOICE || opt->type == TB_OPT_STRING ? "string"
           : opt->type == TB_OPT_FLOAT                                 ? "number"
                                                                       : "whole number";
}

int tb_train_config_from_json(tb_train_config *c, struct json_object *o, const char *what)
{
    /* A damaged file can hold any JSON: check every type before reading. */
    if (!json_object_is_type(o, json_type_object))
        return tb_fail("%s: expected a JSON object of options, found %s; the file is damaged: start a new run", what,
                       o ? type_name(o) : "null");
    json_object_object_foreach(o, key, val)
    {
        /* A name ("epochs"), or a negated flag's key: stored positively,
         * "batch_norm": false is --no-batch-norm. */
        const tb_option *opt = tb_option_find(key);
        int positive = 0; /* "batch_norm": true is --no-batch-norm=false */
        if (!opt && (opt = tb_option_find_key(key)))
            positive = opt->negate;
        if (!opt)
            return tb_fail("%s: unknown option \"%s\" (written by another trainbench version?)", what, key);
        if (opt->on_resume == TB_RESUME_FRESH)
            continue; /* the reading invocation's own */
        if (!type_ok(opt, val))
            return tb_fail("%s: \"%s\" is %s, not a %s; the file is damaged: start a new run", what, key,
                           val ? type_name(val) : "null", expected_type(opt));
        char num[64];
        const char *value = json_object_get_string(val);
        if (opt->type == TB_OPT_FLAG)
            value = (json_object_get_boolean(val) != 0) != positive ? "true" : "false";
        else if (opt->type == TB_OPT_FLOAT) { /* exact, whatever json-c's printing precision */
            snprintf(num, sizeof num, "%.17g", json_object_get_double(val));
            value = num;
        }
        if (opt->type == TB_OPT_STRING && !value[0])
            continue; /* unset: the default applies */
        if (tb_option_set(c, opt, value))
            return tb_fail_prefix("%s", what);
    }
    return 0;
}
