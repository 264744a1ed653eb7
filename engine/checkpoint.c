#include "engine/checkpoint.h"

#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "core/json.h" // uses: tb_json_str, tb_json_obj, tb_json_get
#include "engine/model_io.h" // uses: TB_IO_PARAMS, TB_IO_BUFFERS, TB_IO_OPT_STATE, tb_model_io_add, tb_model_io_load
#include "engine/safetensors.h" // uses: tb_st_writer, tb_st_writer_create, tb_st_writer_meta, tb_st_writer_save, ...
#include "rundir/rundir.h" // uses: tb_json_write_atomic

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define META_KEY "trainbench.checkpoint"
#define SCHEMA "trainbench.checkpoint/1"

static int ckpt_path(char *out, size_t size, const char *run_dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", run_dir, name);
    if (n < 0 || (size_t)n >= size)
        return tb_fail("checkpoint path %s/%s is too long", run_dir, name);
    return 0;
}

/* Doubles as C99 hex floats ("0x1.8p+1"): exact through text. */
static struct json_object *exact(double v)
{
    char s[64];
    snprintf(s, sizeof s, "%a", v);
    return json_object_new_string(s);
}

static int read_exact(struct json_object *o, const char *key, double *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return tb_fail("\"%s\" missing or not a hex-float string", key);
    const char *s = json_object_get_string(v);
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(*out) || (strcmp(key, "loss_sum") && *out < 0))
        return tb_fail("\"%s\": \"%s\" is not a %s number", key, s, strcmp(key, "loss_sum") ? "non-negative" : "finite");
    return 0;
}

static int read_int(struct json_object *o, const char *key, long min, long max, long *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return tb_fail("\"%s\" missing or not an integer", key);
    int64_t x = json_object_get_int64(v);
    if (x < min || x > max)
        return tb_fail("\"%s\" = %lld is outside %ld..%ld", key, (long long)x, min, max);
    *out = (long)x;
    return 0;
}

static struct json_object *int_array(const int *v, int n)
{
    struct json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_int(v[i]));
    return a;
}

static struct json_object *state_json(const tb_checkpoint_state *st)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "schema", json_object_new_string(SCHEMA));
    json_object_object_add(o, "epoch", json_object_new_int(st->epoch));
    json_object_object_add(o, "batch", json_object_new_int(st->batch));
    json_object_object_add(o, "optimizer_step", json_object_new_int64(st->optimizer_step));
    json_object_object_add(o, "repeat", json_object_new_int(st->repeat));
    struct json_object *reps = st->repeats ? json_tokener_parse(st->repeats) : NULL;
    json_object_object_add(o, "repeats", reps ? reps : json_object_new_array());
    struct json_object *rng = json_object_new_object();
    json_object_object_add(rng, "seed", json_object_new_uint64(st->seed));
    json_object_object_add(rng, "streams",
                           json_object_new_string("counter-based, keyed by (seed, stream, epoch, batch): the seed "
                                                  "and the loop position are the whole random state"));
    json_object_object_add(o, "rng", rng);
    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "loss_sum", exact(st->loss_sum));
    json_object_object_add(p, "load_s", exact(st->load_s));
    json_object_object_add(p, "train_s", exact(st->train_s));
    json_object_object_add(p, "comm_s", exact(st->comm_s));
    json_object_object_add(p, "elapsed_s", exact(st->elapsed_s));
    json_object_object_add(p, "correct", json_object_new_int(st->correct));
    json_object_object_add(p, "images", json_object_new_int(st->images));
    json_object_object_add(p, "class_hits", int_array(st->class_hits, st->class_hits ? st->classes : 0));
    json_object_object_add(p, "class_seen", int_array(st->class_seen, st->class_seen ? st->classes : 0));
    json_object_object_add(o, "partial_epoch", p);
    struct json_object *eps = json_object_new_array();
    for (int i = 0; i < st->epochs_done; i++)
        json_object_array_add(eps, tb_epoch_report_json(&st->epochs[i]));
    json_object_object_add(o, "epochs", eps);
    struct json_object *cfg = json_tokener_parse(st->config);
    json_object_object_add(o, "config", cfg ? cfg : json_object_new_object());
    return o;
}

char *tb_checkpoint_state_text(const tb_checkpoint_state *st)
{
    struct json_object *o = state_json(st);
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    if (!s)
        tb_fail("out of memory for the checkpoint state");
    return s;
}

static int read_counts(struct json_object *p, const char *key, int classes, int **out)
{
    struct json_object *a;
    if (!json_object_object_get_ex(p, key, &a) || !json_object_is_type(a, json_type_array))
        return tb_fail("\"%s\" missing or not an array", key);
    size_t n = json_object_array_length(a);
    if (n != (size_t)classes && n != 0)
        return tb_fail("\"%s\" has %zu entries for %d classes", key, n, classes);
    *out = calloc((size_t)classes + 1, sizeof **out);
    if (!*out)
        return tb_fail("out of memory");
    for (size_t i = 0; i < n; i++) {
        struct json_object *v = json_object_array_get_idx(a, i);
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_get_int64(v) > INT_MAX)
            return tb_fail("\"%s\"[%zu] is not a count", key, i);
        (*out)[i] = (int)json_object_get_int64(v);
    }
    return 0;
}

static int parse_state(struct json_object *o, tb_checkpoint_state *st)
{
    struct json_object *v, *p, *eps, *rng, *cfg;
    long epoch = 0, batch = 0, step = 0, correct = 0, images = 0;
    /* Every field's JSON type is checked before it is read: the state comes
     * from a file (core/json.h gives NULL or the fallback for a wrong type). */
    if (strcmp(tb_json_str(o, "schema", ""), SCHEMA) != 0)
        return tb_fail("not a %s state (\"schema\" missing, null or another)", SCHEMA);
    if (read_int(o, "epoch", 0, 100000, &epoch) || read_int(o, "batch", 0, INT_MAX, &batch) ||
        read_int(o, "optimizer_step", 0, LONG_MAX, &step))
        return -1;
    st->epoch = (int)epoch, st->batch = (int)batch, st->optimizer_step = step;
    long repeat = 0;
    struct json_object *reps;
    if (json_object_object_get_ex(o, "repeat", &v) && read_int(o, "repeat", 0, 1000, &repeat))
        return -1;
    st->repeat = (int)repeat;
    if (json_object_object_get_ex(o, "repeats", &reps)) {
        if (!json_object_is_type(reps, json_type_array))
            return tb_fail("\"repeats\" is not an array");
        for (size_t i = 0; i < json_object_array_length(reps); i++)
            if (!json_object_is_type(json_object_array_get_idx(reps, i), json_type_object))
                return tb_fail("\"repeats\"[%zu] is not an object", i);
        st->repeats = strdup(json_object_to_json_string_ext(reps, JSON_C_TO_STRING_PLAIN));
        if (!st->repeats)
            return tb_fail("out of memory");
    }
    if (!(rng = tb_json_obj(o, "rng")) || !(v = tb_json_get(rng, "seed")) || !json_object_is_type(v, json_type_int))
        return tb_fail("\"rng\".\"seed\" missing or not an integer");
    st->seed = json_object_get_uint64(v);
    if (!json_object_object_get_ex(o, "partial_epoch", &p) || !json_object_is_type(p, json_type_object))
        return tb_fail("\"partial_epoch\" missing");
    if (read_exact(p, "loss_sum", &st->loss_sum) || read_exact(p, "load_s", &st->load_s) ||
        read_exact(p, "train_s", &st->train_s) || read_exact(p, "comm_s", &st->comm_s) ||
        read_exact(p, "elapsed_s", &st->elapsed_s) || read_int(p, "correct", 0, INT_MAX, &correct) ||
        read_int(p, "images", 0, INT_MAX, &images))
        return -1;
    st->correct = (int)correct, st->images = (int)images;
    struct json_object *hits;
    if (!json_object_object_get_ex(p, "class_hits", &hits) || !json_object_is_type(hits, json_type_array))
        return tb_fail("\"class_hits\" missing");
    st->classes = (int)json_object_array_length(hits);
    if (st->classes > TB_MAX_REPORT_CLASSES)
        return tb_fail("%d classes", st->classes);
    if (read_counts(p, "class_hits", st->classes, &st->class_hits) ||
        read_counts(p, "class_seen", st->classes, &st->class_seen))
        return -1;
    if (!json_object_object_get_ex(o, "epochs", &eps) || !json_object_is_type(eps, json_type_array))
        return tb_fail("\"epochs\" missing");
    int n = (int)json_object_array_length(eps);
    if (n != st->epoch)
        return tb_fail("%d epoch reports for a checkpoint in epoch %d", n, st->epoch + 1);
    st->epochs = calloc((size_t)n + 1, sizeof *st->epochs);
    if (!st->epochs)
        return tb_fail("out of memory");
    for (int i = 0; i < n; i++) {
        if (tb_epoch_report_from_json(json_object_array_get_idx(eps, (size_t)i), &st->epochs[i]))
            return tb_fail_prefix("epoch report %d", i + 1);
        st->epochs_done = i + 1;
    }
    /* The run's options: resume compares them key by key, so an object it must be. */
    if (!(cfg = tb_json_obj(o, "config")))
        return tb_fail("\"config\" missing or not an object");
    const char *text = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN);
    if (strlen(text) >= sizeof st->config)
        return tb_fail("\"config\" is longer than %zu bytes", sizeof st->config - 1);
    snprintf(st->config, sizeof st->config, "%s", text);
    return 0;
}

int tb_checkpoint_state_parse(const char *text, const char *where, tb_checkpoint_state *st)
{
    memset(st, 0, sizeof *st);
    struct json_object *o = json_tokener_parse(text);
    int rc = o ? parse_state(o, st) : tb_fail("not JSON");
    json_object_put(o);
    if (rc) {
        tb_checkpoint_state_free(st);
        return tb_fail_prefix("%s: the checkpoint state is damaged", where);
    }
    return 0;
}

void tb_checkpoint_state_free(tb_checkpoint_state *st)
{
    free(st->class_hits);
    free(st->class_seen);
    for (int i = 0; i < st->epochs_done; i++)
        free(st->epochs[i].class_acc);
    free(st->epochs);
    free(st->repeats);
    st->repeats = NULL;
    st->class_hits = st->class_seen = NULL;
    st->epochs = NULL;
    st->epochs_done = 0;
}

int tb_checkpoint_save(const char *run_dir, tb_backend *b, tb_model *m, const tb_optimizer *opt,
                       const tb_checkpoint_state *st)
{
    char path[PATH_MAX], json_path[PATH_MAX];
    if (ckpt_path(path, sizeof path, run_dir, "checkpoint.safetensors") ||
        ckpt_path(json_path, sizeof json_path, run_dir, "checkpoint.json"))
        return -1;
    unsigned what = TB_IO_PARAMS | TB_IO_BUFFERS | (opt->step > 0 ? TB_IO_OPT_STATE : 0);
    char *text = tb_checkpoint_state_text(st);
    tb_st_writer *w = tb_st_writer_create();
    int rc = !text || !w || tb_model_io_add(w, b, m, what, opt) ||
             tb_st_writer_meta(w, "model", tb_model_get_spec(m)->name) || tb_st_writer_meta(w, META_KEY, text) ||
             tb_st_writer_save(w, path);
    tb_st_writer_free(w);
    free(text);
    if (rc)
        return tb_fail_prefix("checkpoint of epoch %d batch %d (pass --no-checkpoint to train without)",
                              st->epoch + 1, st->batch);
    struct json_object *o = state_json(st);
    json_object_object_add(o, "file", json_object_new_string("checkpoint.safetensors"));
    rc = tb_json_write_atomic(json_path, o);
    json_object_put(o);
    return rc ? tb_fail_prefix("checkpoint summary") : 0;
}

/* Every float tensor finite: a checkpoint with NaN or inf weights (a run
 * that diverged, a damaged file) would resume into NaN losses, or with inf
 * running statistics "complete" with a meaningless test accuracy. */
static int check_finite(const tb_st_file *f)
{
    for (int i = 0; i < f->count; i++) {
        const tb_st_tensor *t = &f->tensors[i];
        if (t->dtype != TB_ST_F32)
            continue;
        for (size_t k = 0; k < t->count; k++) {
            float v;
            memcpy(&v, (const char *)t->data + k * sizeof v, sizeof v); /* the mapping may be unaligned */
            if (!isfinite(v))
                return tb_fail("%s: tensor %s holds %g at element %zu; the checkpoint is damaged or the run had "
                               "diverged: start a new run (with a lower --lr if it diverged)",
                               f->path, t->name, (double)v, k);
        }
    }
    return 0;
}

int tb_checkpoint_load(const char *run_dir, tb_backend *b, tb_model *m, tb_optimizer *opt, tb_checkpoint_state *st)
{
    char path[PATH_MAX];
    memset(st, 0, sizeof *st);
    if (ckpt_path(path, sizeof path, run_dir, "checkpoint.safetensors"))
        return -1;
    if (access(path, R_OK) != 0)
        return tb_fail("%s has no checkpoint (%s: %s); it stopped before its first epoch ended, or ran with "
                       "--no-checkpoint: start it again",
                       run_dir, path, strerror(errno));
    tb_st_file f;
    if (tb_st_open(path, &f))
        return -1;
    const char *text = tb_st_meta(&f, META_KEY), *model = tb_st_meta(&f, "model");
    int rc = 0;
    if (!text)
        rc = tb_fail("%s: no \"%s\" metadata; not a trainbench checkpoint", path, META_KEY);
    else if (!model || strcmp(model, tb_model_get_spec(m)->name) != 0)
        rc = tb_fail("%s holds model %s, but the run builds %s", path, model ? model : "(none)",
                     tb_model_get_spec(m)->name);
    else if (tb_checkpoint_state_parse(text, path, st) || check_finite(&f))
        rc = -1;
    else {
        unsigned what = TB_IO_PARAMS | TB_IO_BUFFERS | (st->optimizer_step > 0 ? TB_IO_OPT_STATE : 0);
        rc = tb_model_io_load(&f, b, m, what, opt, 1);
        if (!rc && opt->step != st->optimizer_step && (what & TB_IO_OPT_STATE))
            rc = tb_fail("%s: optimizer.step %ld disagrees with the state's %ld", path, opt->step,
                         st->optimizer_step);
        opt->step = st->optimizer_step;
    }
    tb_st_close(&f);
    if (rc)
        tb_checkpoint_state_free(st);
    return rc;
}
