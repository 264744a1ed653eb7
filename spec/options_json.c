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
            json_object_object_add(o, key, json_object_new_double(*(const double *)field));
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

int tb_train_config_from_json(tb_train_config *c, struct json_object *o, const char *what)
{
    json_object_object_foreach(o, key, val)
    {
        /* A name ("epochs"), or a negated flag's key: stored positively,
         * "batch_norm": false is --no-batch-norm. */
        const tb_option *opt = tb_option_find(key);
        const char *value = json_object_get_string(val);
        if (!opt && json_object_is_type(val, json_type_boolean) && (opt = tb_option_find_key(key)))
            value = json_object_get_boolean(val) ? "false" : "true";
        if (!opt)
            return tb_fail("%s: unknown option \"%s\" (written by another trainbench version?)", what, key);
        if (opt->on_resume == TB_RESUME_FRESH)
            continue; /* the reading invocation's own */
        if (opt->type == TB_OPT_STRING && !value[0])
            continue; /* unset: the default applies */
        if (tb_option_set(c, opt, value))
            return tb_fail_prefix("%s", what);
    }
    return 0;
}
