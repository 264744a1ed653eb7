/* Test-set evaluation (eval.h): the loop shared by the trainer and
 * `trainbench eval`, and eval's setup from a run directory. */
#include "engine/eval.h"

#include "core/error.h" // uses: tb_fail_prefix, tb_fail, tb_malloc, tb_calloc
#include "engine/model_io.h" // uses: tb_model_io_load, TB_IO_PARAMS, TB_IO_BUFFERS
#include "engine/safetensors.h" // uses: tb_st_file, tb_st_open, tb_st_meta, tb_st_close
#include "rundir/rundir.h" // uses: tb_json_read_file
#include "spec/model_spec.h" // uses: tb_model_spec, tb_model_spec_parse
#include "tb_config.h"
#if TB_HAVE_CUDA
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_backend_create
#endif

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void tb_eval_loader_config(const tb_train_config *c, const tb_dataset *d, int batch_size, tb_loader_config *lc)
{
    tb_loader_config_defaults(lc);
    lc->batch_size = batch_size;
    lc->num_workers = c->num_workers;
    lc->seed = c->seed;
    lc->shuffle = 0;
    lc->augment = 0;
    lc->shard_rank = 0; /* rank 0 evaluates the whole test set */
    lc->shard_count = 1;
    /* JPEG datasets: the crop size (224 unless --image-size); others pad to 32. */
    lc->out_size = d->images ? (c->image_size ? c->image_size : 224) : 32;
}

int tb_eval_upload_batch(tb_backend *b, tb_model *m, int32_t *labels_dev, const tb_batch *batch)
{
    tb_tensor *in = tb_model_input(m);
    size_t per_image = (size_t)in->shape.c * in->shape.h * in->shape.w;
    if (b->upload(b, in->data, batch->x, (size_t)batch->n * per_image * sizeof(float)) ||
        b->upload(b, labels_dev, batch->y, (size_t)batch->n * sizeof(int32_t)))
        return tb_fail_prefix("copying batch %d to the device", batch->index);
    return 0;
}

int tb_eval_score_batch(tb_backend *b, const tb_model *m, float *logits_host, const tb_batch *batch, int *correct1,
                        int *correct5, int *class_hits)
{
    int classes = tb_model_get_spec(m)->classes;
    const tb_tensor *logits = tb_model_logits(m);
    if (logits->shape.n != batch->n)
        return tb_fail("internal error: logits of %d images for a batch of %d", logits->shape.n, batch->n);
    if (b->download(b, logits_host, logits->data, (size_t)batch->n * classes * sizeof(float)))
        return -1;
    for (int i = 0; i < batch->n; i++) {
        const float *row = logits_host + (size_t)i * classes;
        int label = batch->y[i], higher = 0;
        for (int k = 0; k < classes; k++)
            higher += row[k] > row[label] || (row[k] == row[label] && k < label);
        if (higher == 0) {
            (*correct1)++;
            if (class_hits)
                class_hits[label]++;
        }
        if (correct5 && higher < 5)
            (*correct5)++;
    }
    return 0;
}

int tb_eval_loop(tb_backend *b, tb_model *m, tb_loader *test, int32_t *labels_dev, float *logits_host,
                 tb_eval_counts *out)
{
    tb_batch *batch;
    int got;
    if (tb_loader_start_epoch(test, 0))
        return -1;
    while ((got = tb_loader_next(test, &batch)) > 0) {
        int rc = tb_eval_upload_batch(b, m, labels_dev, batch) || tb_model_forward(m, batch->n, 0) ||
                 b->softmax_xent(b, tb_model_logits(m), labels_dev, 0, NULL, &out->loss_sum) ||
                 tb_eval_score_batch(b, m, logits_host, batch, &out->correct1, &out->correct5, out->class_hits);
        if (!rc && out->class_seen)
            for (int i = 0; i < batch->n; i++)
                out->class_seen[batch->y[i]]++;
        out->images += batch->n;
        tb_loader_release(test, batch);
        if (rc)
            return tb_fail_prefix("evaluating the test set");
    }
    return got < 0 ? -1 : 0;
}

/* ---- trainbench eval ------------------------------------------------------ */

/* Everything eval holds; freed by ctx_free. */
typedef struct {
    tb_dataset test;
    tb_loader *loader;
    tb_backend *b;
    tb_model *model;
    int32_t *labels_dev;
    float *logits_host;
    tb_eval_counts counts;
} ctx;

static void ctx_free(ctx *x)
{
    free(x->counts.class_hits);
    free(x->counts.class_seen);
    free(x->logits_host);
    if (x->model)
        tb_model_destroy(x->model);
    if (x->b) {
        if (x->labels_dev)
            x->b->release(x->b, x->labels_dev);
        x->b->destroy(x->b);
    }
    tb_loader_destroy(x->loader);
    tb_dataset_free(&x->test);
}

/* The run's options from RUN_DIR/config.json; 2 after tb_fail when there is
 * none or it is not a trainbench run's. */
static int read_config(const char *dir, tb_train_config *c)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (access(dir, F_OK) != 0)
        return tb_fail("%s: no such run directory", dir), 2;
    if (access(path, F_OK) != 0)
        return tb_fail("%s has no config.json: not a trainbench run directory (give the folder that "
                       "trainbench train printed as 'Run directory')", dir), 2;
    struct json_object *o = tb_json_read_file(path);
    if (!o)
        return tb_fail_prefix("%s is not a trainbench run directory", dir), 2;
    tb_train_config_defaults(c);
    int rc = !json_object_is_type(o, json_type_object)
                 ? tb_fail("%s: not a JSON object; the run directory is damaged", path)
                 : tb_train_config_from_json(c, o, path);
    json_object_put(o);
    if (!rc && tb_train_config_validate(c))
        rc = tb_fail_prefix("%s", path);
    return rc ? 2 : 0;
}

/* weights.safetensors when the run saved its final weights, else the last
 * checkpoint (written after every epoch's test); 2 after tb_fail. */
static int load_weights(ctx *x, const char *dir, char *used, size_t size)
{
    const char *names[] = {"weights.safetensors", "checkpoint.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(used, size, "%s/%s", dir, names[i]);
        if (access(used, F_OK) != 0)
            continue;
        tb_st_file f;
        if (tb_st_open(used, &f))
            return tb_fail_prefix("%s: the run's weights are unreadable", dir), 2;
        /* A checkpoint also holds optimizer state: take its model tensors only. */
        int checkpoint = i == 1;
        int rc = checkpoint && !tb_st_meta(&f, "trainbench.checkpoint")
                     ? tb_fail("%s is not a trainbench checkpoint", used)
                     : tb_model_io_load(&f, x->b, x->model, TB_IO_PARAMS | TB_IO_BUFFERS, NULL, !checkpoint);
        tb_st_close(&f);
        if (rc)
            return tb_fail_prefix("%s: the weights do not fit the run's model (config.json)", used), 2;
        return 0;
    }
    return tb_fail("%s has neither weights.safetensors nor checkpoint.safetensors: nothing to evaluate (a run "
                   "with --no-checkpoint keeps its weights only with --save-weights)", dir), 2;
}

static int setup(ctx *x, const tb_train_config *c, int batch_size)
{
    char dir[1024];
    if (c->data_dir[0])
        snprintf(dir, sizeof dir, "%s", c->data_dir);
    else if (tb_dataset_default_dir(c->dataset, dir, sizeof dir))
        return -1;
    if (tb_dataset_load_sized(c->dataset, dir, TB_SPLIT_TEST, c->limit_test, c->image_size, &x->test))
        return -1;
    tb_loader_config lc;
    tb_eval_loader_config(c, &x->test, batch_size, &lc);
    if (!(x->loader = tb_loader_create(&x->test, &lc)))
        return -1;
    tb_model_spec spec;
    if (tb_model_spec_parse(c->model, x->test.classes, x->test.channels, c->batch_norm, &spec))
        return -1;
    if (strcmp(c->device, "cuda") == 0) {
#if TB_HAVE_CUDA
        x->b = tb_cuda_backend_create(0, c->precision);
#else
        return tb_fail("the run trained on cuda and this trainbench was built without CUDA; evaluate it with a "
                       "CUDA build");
#endif
    } else
        x->b = tb_cpu_backend_create(c->threads);
    if (!x->b)
        return -1;
    x->model = tb_model_create(x->b, &spec, batch_size, tb_loader_height(x->loader), tb_loader_width(x->loader),
                               c->seed);
    if (!x->model)
        return -1;
    x->labels_dev = x->b->alloc(x->b, (size_t)batch_size * sizeof(int32_t), "labels");
    x->logits_host = tb_malloc((size_t)batch_size * spec.classes * sizeof(float), "logits");
    x->counts.class_hits = tb_calloc((size_t)spec.classes, sizeof(int), "per-class counts");
    x->counts.class_seen = tb_calloc((size_t)spec.classes, sizeof(int), "per-class counts");
    return x->labels_dev && x->logits_host && x->counts.class_hits && x->counts.class_seen ? 0 : -1;
}

int tb_eval_run(const tb_eval_options *o, tb_eval_result *out)
{
    memset(out, 0, sizeof *out);
    tb_train_config c;
    int rc = read_config(o->run_dir, &c);
    if (rc)
        return rc;
    if (o->data_dir && o->data_dir[0] && tb_option_set(&c, tb_option_find("data-dir"), o->data_dir))
        return 2;
    int batch_size = o->batch_size > 0 ? o->batch_size : c.batch_size;
    ctx x = {0};
    char weights[sizeof out->weights] = "";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (setup(&x, &c, batch_size))
        rc = -1;
    else if ((rc = load_weights(&x, o->run_dir, weights, sizeof weights)) == 0)
        rc = tb_eval_loop(x.b, x.model, x.loader, x.labels_dev, x.logits_host, &x.counts);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int classes = x.model ? tb_model_get_spec(x.model)->classes : 0;
    if (!rc) {
        out->class_acc = tb_calloc((size_t)classes + 1, sizeof *out->class_acc, "per-class accuracy");
        out->class_images = tb_calloc((size_t)classes + 1, sizeof *out->class_images, "per-class counts");
        if (!out->class_acc || !out->class_images)
            rc = -1;
    }
    if (!rc) {
        const tb_eval_counts *n = &x.counts;
        snprintf(out->weights, sizeof out->weights, "%s", weights);
        snprintf(out->dataset, sizeof out->dataset, "%s", c.dataset);
        out->batch_size = batch_size;
        out->images = n->images;
        out->classes = classes;
        out->test_loss = n->images ? n->loss_sum / n->images : 0;
        out->test_acc = n->images ? 100.0 * n->correct1 / n->images : 0;
        out->test_acc5 = n->images ? 100.0 * n->correct5 / n->images : 0;
        for (int k = 0; k < classes; k++) {
            out->class_images[k] = n->class_seen[k];
            out->class_acc[k] = n->class_seen[k] ? 100.0 * n->class_hits[k] / n->class_seen[k] : 0;
        }
        out->eval_s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    }
    ctx_free(&x);
    if (rc)
        tb_eval_result_free(out);
    return rc;
}

void tb_eval_result_free(tb_eval_result *r)
{
    free(r->class_acc);
    free(r->class_images);
    r->class_acc = NULL;
    r->class_images = NULL;
}
