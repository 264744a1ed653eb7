/* Checkpoints and --resume for the training loop (engine/checkpoint.c
 * holds the file format): the state at the loop's position, summed over the
 * data-parallel ranks; the option checks a resume must pass; loading and
 * broadcasting a checkpoint; the partial epoch it continues. */
#include "engine/trainer_run.h" // uses: run, run_now_s, run_save_checkpoint, run_checkpoint_hint, ...

#include "core/error.h" // uses: tb_malloc, tb_fail, tb_fail_prefix
#include "core/json.h" // uses: tb_json_arr, tb_json_str
#include "core/profile.h" // uses: tb_prof_begin, tb_prof_end
#include "engine/backend_check.h" // uses: tb_opt_state_buffers
#include "engine/safetensors.h" // uses: tb_st_file, tb_st_open, tb_st_meta, tb_st_close
#include "engine/trainer.h" // uses: tb_train_resume_check
#include "rundir/rundir.h" // uses: tb_rundir_path, tb_rundir_event, tb_json_read_file, TB_STATUS_COMPLETED
#include "spec/options.h" // uses: tb_option, tb_option_find, tb_option_find_key, tb_option_resume_ok, ...

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The state a checkpoint holds, at the current loop position.  In a
 * data-parallel run the partial epoch's counts are summed over the ranks
 * here (every rank calls this at the same step); on resume rank 0 takes the
 * sums and the others start their counts from zero, so the epoch's reduced
 * totals come out the same. */
static int checkpoint_state(run *r, tb_checkpoint_state *st, int classes)
{
    memset(st, 0, sizeof *st);
    st->epoch = r->cur_epoch;
    st->batch = r->next_batch;
    st->optimizer_step = r->opt.step;
    st->seed = r->cfg->seed;
    st->epochs = r->epochs;
    st->epochs_done = r->epochs_done;
    st->repeat = r->repeat;
    snprintf(st->config, sizeof st->config, "%s", r->identity);
    if (r->next_batch == 0)
        return 0;
    st->classes = classes;
    size_t n = 3 + 2 * (size_t)classes;
    double *v = tb_malloc(n * sizeof *v, "checkpoint sums");
    st->class_hits = tb_malloc((size_t)classes * sizeof(int) + 1, "checkpoint counts");
    st->class_seen = tb_malloc((size_t)classes * sizeof(int) + 1, "checkpoint counts");
    if (!v || !st->class_hits || !st->class_seen) {
        free(v);
        return -1;
    }
    v[0] = r->loss_sum, v[1] = r->correct, v[2] = r->images;
    for (int k = 0; k < classes; k++)
        v[3 + k] = r->class_hits[k], v[3 + classes + k] = r->class_seen[k];
    double t[4] = {r->cur.load_s, r->cur.train_s, r->cur.comm_s, run_now_s() - r->epoch_t0};
    int rc = tb_dist_allreduce_sum_f64(&r->dist, v, n, "checkpoint sums") ||
             tb_dist_allreduce_max_f64(&r->dist, t, 4, "checkpoint times");
    if (!rc) {
        st->loss_sum = v[0], st->correct = (int)v[1], st->images = (int)v[2];
        for (int k = 0; k < classes; k++)
            st->class_hits[k] = (int)v[3 + k], st->class_seen[k] = (int)v[3 + classes + k];
        st->load_s = t[0], st->train_s = t[1], st->comm_s = t[2], st->elapsed_s = t[3];
    }
    free(v);
    return rc ? -1 : 0;
}

/* Writes the checkpoint (rank 0; the others only join the sums). */
int run_save_checkpoint(run *r, const char *why)
{
    if (!r->cfg->checkpoint)
        return 0;
    int classes = tb_model_get_spec(r->model)->classes;
    tb_checkpoint_state st;
    double t0 = tb_prof_begin("checkpoint");
    int rc = checkpoint_state(r, &st, classes);
    if (!rc && r->repeats)
        st.repeats = strdup(json_object_to_json_string_ext(r->repeats, JSON_C_TO_STRING_PLAIN));
    if (!rc && r->dir)
        rc = tb_checkpoint_save(tb_rundir_path(r->dir), r->b, r->model, &r->opt, &st);
    free(st.class_hits);
    free(st.class_seen);
    free(st.repeats);
    tb_prof_end("checkpoint", "phase", t0);
    if (rc)
        return -1;
    r->last_checkpoint = run_now_s();
    r->ckpt_epoch = r->cur_epoch;
    r->ckpt_batch = r->next_batch;
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "epoch", json_object_new_int(r->cur_epoch + 1));
    json_object_object_add(ev, "batch", json_object_new_int(r->next_batch));
    json_object_object_add(ev, "reason", json_object_new_string(why));
    json_object_object_add(ev, "file", json_object_new_string("checkpoint.safetensors"));
    tb_rundir_event(r->dir, "checkpoint", ev);
    return 0;
}

/* "; the last good checkpoint is ..." for failure messages. */
void run_checkpoint_hint(const run *r, char *out, size_t size)
{
    if (!r->dir || !r->cfg->checkpoint)
        snprintf(out, size, "; no checkpoint was kept (--no-checkpoint)");
    else if (r->ckpt_epoch < 0)
        snprintf(out, size, "; no checkpoint yet (the first is written when epoch 1 ends)");
    else
        snprintf(out, size,
                 "; the last good checkpoint is %s/checkpoint.safetensors (epoch %d, batch %d): continue with "
                 "trainbench train --resume %s --lr SMALLER",
                 tb_rundir_path(r->dir), r->ckpt_epoch + 1, r->ckpt_batch, tb_rundir_path(r->dir));
}

/* Sets up the sums of epoch `epoch`: fresh, or the checkpoint's when the
 * run resumes inside this epoch.  Returns the first batch to run. */
int run_begin_epoch_sums(run *r, int epoch, int classes)
{
    r->cur_epoch = epoch;
    r->loss_sum = 0;
    r->correct = r->images = 0;
    r->elapsed_before = 0;
    memset(r->class_hits, 0, (size_t)classes * sizeof *r->class_hits);
    memset(r->class_seen, 0, (size_t)classes * sizeof *r->class_seen);
    int first = 0;
    if (r->resuming && r->resume.epoch == epoch && r->resume.batch > 0) {
        first = r->resume.batch;
        r->cur.load_s = r->resume.load_s;
        r->cur.train_s = r->resume.train_s;
        r->cur.comm_s = r->resume.comm_s;
        r->elapsed_before = r->resume.elapsed_s;
        if (r->dist.rank == 0) { /* the checkpoint's counts are every rank's sums */
            r->loss_sum = r->resume.loss_sum;
            r->correct = r->resume.correct;
            r->images = r->resume.images;
            for (int k = 0; k < classes && k < r->resume.classes; k++)
                r->class_hits[k] = r->resume.class_hits[k], r->class_seen[k] = r->resume.class_seen[k];
        }
    }
    r->resuming = 0;
    r->next_batch = first;
    return first;
}

/* Options a resumed run may change (the table's on_resume): they do not
 * alter the trajectory of the weights (or, for lr and epochs, the user asks
 * for the change on purpose). */
static int changeable_on_resume(const char *key)
{
    const tb_option *o = tb_option_find(key); /* "no_checkpoint" as well as the key "checkpoint" */
    if (!o)
        o = tb_option_find_key(key);
    return o && tb_option_resume_ok(o);
}

/* The checkpoint's options against this run's: any other difference would
 * make the continuation a different experiment. */
static int check_resume_config(const char *saved, const char *now)
{
    struct json_object *a = json_tokener_parse(saved), *b = json_tokener_parse(now);
    if (!json_object_is_type(a, json_type_object) || !json_object_is_type(b, json_type_object)) {
        json_object_put(a);
        json_object_put(b);
        return tb_fail("the checkpoint's options are not a JSON object; the checkpoint is damaged: start a new run");
    }
    int rc = 0;
    json_object_object_foreach(a, key, va)
    {
        struct json_object *vb;
        if (rc || changeable_on_resume(key))
            continue;
        /* A null value prints as "null" (json_object_get_string gives NULL for it). */
        const char *sa = va ? json_object_get_string(va) : "null";
        const char *sb = !json_object_object_get_ex(b, key, &vb) ? "(unset)" : vb ? json_object_get_string(vb) : "null";
        /* Numbers compare as numbers: the text depends on the printing precision. */
        int same = json_object_is_type(va, json_type_double) && vb && json_object_is_type(vb, json_type_double)
                       ? fabs(json_object_get_double(va) - json_object_get_double(vb)) <=
                             1e-9 * fabs(json_object_get_double(va))
                       : strcmp(sa, sb) == 0;
        if (!same) {
            char flags[1024];
            rc = tb_fail("the checkpoint was taken with %s = %s, this run has %s; only %s may change on resume: "
                         "start a new run instead",
                         key, sa, sb, tb_option_resume_flags(flags, sizeof flags));
        }
    }
    json_object_put(a);
    json_object_put(b);
    return rc;
}

/* A run without a checkpoint (stopped or killed before its first one was
 * whole) that has finished no epoch loses nothing by starting again: --resume
 * then restarts it in place from epoch 1 with its own options.  1: restart;
 * -1 after tb_fail: the checkpoint is unreadable, or epochs would be lost. */
static int restart_without_checkpoint(const tb_train_config *c, const char *now)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", c->resume);
    if (access(path, F_OK) != 0 && errno != ENOENT)
        return tb_fail("cannot read %s: %s; fix its permissions", path, strerror(errno));
    snprintf(path, sizeof path, "%s/result.json", c->resume);
    struct json_object *result = NULL, *epochs;
    if (access(path, F_OK) == 0 && !(result = tb_json_read_file(path)))
        return tb_fail_prefix("%s has no checkpoint", c->resume);
    int done = (epochs = tb_json_arr(result, "epochs")) ? (int)json_object_array_length(epochs) : 0;
    int completed = strcmp(tb_json_str(result, "status", ""), TB_STATUS_COMPLETED) == 0;
    json_object_put(result);
    if (done || completed)
        return tb_fail("%s has no checkpoint (it ran with --no-checkpoint) and its %d finished epoch%s cannot be "
                       "continued; start a new run",
                       c->resume, done, done == 1 ? "" : "s");
    /* Its own options (config.json), changed only where a resume may change them. */
    snprintf(path, sizeof path, "%s/config.json", c->resume);
    struct json_object *o = tb_json_read_file(path);
    tb_train_config saved;
    tb_train_config_defaults(&saved);
    if (!o || tb_train_config_from_json(&saved, o, path)) {
        json_object_put(o);
        return tb_fail_prefix("--resume %s", c->resume);
    }
    json_object_put(o);
    struct json_object *cfg = tb_train_config_to_json(&saved);
    json_object_object_del(cfg, "quiet");
    int rc = check_resume_config(json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN), now);
    json_object_put(cfg);
    return rc ? -1 : 1;
}

int tb_train_resume_check(const tb_train_config *c)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", c->resume);
    if (access(path, F_OK) != 0) {
        struct json_object *cfg = tb_train_config_to_json(c);
        int rc = restart_without_checkpoint(c, json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN));
        json_object_put(cfg);
        return rc < 0 ? -1 : 0;
    }
    tb_st_file f;
    if (tb_st_open(path, &f))
        return -1;
    const char *text = tb_st_meta(&f, "trainbench.checkpoint");
    tb_checkpoint_state st;
    int rc = text ? tb_checkpoint_state_parse(text, path, &st) : tb_fail("%s is not a trainbench checkpoint", path);
    tb_st_close(&f);
    if (rc)
        return -1;
    struct json_object *cfg = tb_train_config_to_json(c);
    rc = check_resume_config(st.config, json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN));
    json_object_put(cfg);
    if (!rc && (st.epoch > c->epochs || (st.epoch == c->epochs && st.repeat + 1 >= c->repeat)))
        rc = tb_fail("%s already finished %d epoch%s; pass --epochs N with N above %d to train further", c->resume,
                     st.epoch, st.epoch == 1 ? "" : "s", st.epoch);
    tb_checkpoint_state_free(&st);
    return rc;
}

/* --resume: rank 0 reads the checkpoint, every rank gets the state, the
 * weights, the running statistics and the optimizer state. */
int run_load_checkpoint(run *r)
{
    char *text = NULL, path[1100];
    int rc = 0, restart = 0;
    if (r->dist.rank == 0) {
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", r->cfg->resume);
        if (access(path, F_OK) != 0) {
            /* Nothing kept to continue from: epoch 1 batch 0, the state every rank then takes. */
            rc = (restart = restart_without_checkpoint(r->cfg, r->identity)) < 0;
            memset(&r->resume, 0, sizeof r->resume);
            r->resume.seed = r->cfg->seed;
            snprintf(r->resume.config, sizeof r->resume.config, "%s", r->identity);
        } else {
            rc = tb_checkpoint_load(r->cfg->resume, r->b, r->model, &r->opt, &r->resume) ||
                 check_resume_config(r->resume.config, r->identity);
        }
        if (!rc && !(text = tb_checkpoint_state_text(&r->resume)))
            rc = -1;
    }
    if (r->dist.size > 1) {
        /* A failure on rank 0 reaches the others as an empty state. */
        if (rc) {
            free(text);
            text = strdup("");
        }
        if (tb_dist_broadcast_text(&r->dist, &text, 0, "checkpoint state"))
            rc = -1;
        else if (!text || !text[0])
            rc = rc ? rc : tb_fail("rank 0 could not read the checkpoint");
        else if (r->dist.rank != 0 && tb_checkpoint_state_parse(text, "checkpoint from rank 0", &r->resume))
            rc = -1;
        if (!rc) {
            tb_param *p = tb_model_params(r->model);
            int ns = r->resume.optimizer_step > 0 ? tb_opt_state_buffers(r->opt.cfg.kind, r->opt.cfg.momentum) : 0;
            for (int i = 0; !rc && i < tb_model_param_count(r->model); i++)
                for (int k = 0; !rc && k < ns; k++) {
                    if (!p[i].state[k] && !(p[i].state[k] = r->b->alloc(r->b, p[i].count * sizeof(float),
                                                                         "optimizer state")))
                        rc = -1;
                    else
                        rc = run_broadcast_dev(r, p[i].state[k], p[i].count, "optimizer state");
                }
            r->opt.step = r->resume.optimizer_step;
            rc = rc || run_broadcast_model(r);
        }
    }
    free(text);
    if (rc)
        return -1;
    const tb_checkpoint_state *st = &r->resume;
    if (st->epoch > r->cfg->epochs || (st->epoch == r->cfg->epochs && st->repeat + 1 >= r->cfg->repeat))
        return tb_fail("%s already finished %d epoch%s; pass --epochs N with N above %d to train further",
                       r->cfg->resume, st->epoch, st->epoch == 1 ? "" : "s", st->epoch);
    for (int i = 0; i < st->epochs_done; i++) {
        r->epochs[i] = st->epochs[i];
        st->epochs[i].class_acc = NULL; /* moved */
    }
    r->epochs_done = st->epochs_done;
    r->repeat = st->repeat;
    if (st->repeats)
        r->repeats = json_tokener_parse(st->repeats);
    r->resuming = 1;
    r->ckpt_epoch = restart ? -1 : st->epoch; /* -1: no checkpoint yet */
    r->ckpt_batch = st->batch;
    struct json_object *resumed; /* the "resume" event follows in run_record_start */
    if (!json_object_object_get_ex(r->result, "resumed", &resumed)) {
        resumed = json_object_new_array();
        json_object_object_add(r->result, "resumed", resumed);
    }
    struct json_object *entry = json_object_new_object();
    json_object_object_add(entry, "at", json_object_new_int64((int64_t)time(NULL)));
    json_object_object_add(entry, "epoch", json_object_new_int(st->epoch + 1));
    json_object_object_add(entry, "batch", json_object_new_int(st->batch));
    json_object_array_add(resumed, entry);
    if (restart && !r->cfg->quiet)
        printf("%s has no checkpoint and no finished epoch: starting it again from epoch 1\n", r->cfg->resume);
    else if (!r->cfg->quiet)
        printf("Resuming %s at epoch %d, batch %d (optimizer step %ld)\n", r->cfg->resume, st->epoch + 1, st->batch,
               st->optimizer_step);
    return 0;
}
