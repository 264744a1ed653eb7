/* The trainbench side of the PyTorch oracle (tests/test_torch_oracle.py).
 *
 * Loads a model's weights and BN buffers and a sequence of batches from
 * safetensors files, trains K steps on them exactly as the trainer does
 * (forward in training mode, softmax cross-entropy of the mean, backward,
 * optimizer step), and writes what PyTorch is compared against:
 *
 *   OUT/step1.safetensors  logits, loss and every gradient of the first step,
 *                          BN running statistics after its forward
 *   OUT/final.safetensors  parameters, BN buffers and optimizer state after K
 *                          steps, the gradients of step K ("grad.*"), the per-step losses ("losses", F64), and the
 *                          logits of batch 0 in evaluation mode ("eval_logits")
 *
 * The batch file holds "input" [T][C][H][W] F32 and "labels" [T] I64 or I32;
 * step s uses images (s mod T/N)*N .. +N-1.  A test tool, not installed. */
#include "core/error.h" // uses: tb_fail, tb_malloc, tb_calloc, tb_fail_prefix, tb_last_error
#include "engine/backend.h" // uses: tb_backend, tb_opt_kind, tb_cpu_backend_create
#include "tb_config.h"
#if TB_HAVE_CUDA
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_backend_create
#endif
#include "engine/model.h" // uses: tb_model, tb_model_logits, tb_param, tb_model_params, tb_model_param_count, ...
#include "engine/model_io.h" // uses: tb_model_io_add, TB_IO_GRADS, TB_IO_BUFFERS, TB_IO_PARAMS, TB_IO_OPT_STATE, ...
#include "engine/optim.h" // uses: tb_optim_config, tb_optim_config_defaults, tb_opt_kind_parse, tb_optimizer, ...
#include "engine/safetensors.h" // uses: tb_st_file, tb_st_open, tb_st_tensor, tb_st_find, TB_ST_F32, TB_ST_I64, ...

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *model, *weights, *batch, *out, *optimizer, *device, *precision;
    int classes, batch_norm, batch_size, steps, threads;
    float lr, momentum, weight_decay;
} args;

static void usage(FILE *f)
{
    fprintf(f, "usage: oracle_driver --model NAME --weights W.safetensors --batch B.safetensors --batch-size N\n"
               "                     --out DIR [--steps K] [--optimizer NAME] [--lr X] [--momentum X]\n"
               "                     [--weight-decay X] [--classes N] [--no-batch-norm] [--threads N]\n"
               "                     [--device cpu|cuda] [--precision fp32|tf32|bf16]\n");
}

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},        {"weights", required_argument, 0, 'w'},
        {"batch", required_argument, 0, 'b'},        {"out", required_argument, 0, 'o'},
        {"optimizer", required_argument, 0, 'O'},    {"classes", required_argument, 0, 'c'},
        {"no-batch-norm", no_argument, 0, 'n'},      {"batch-size", required_argument, 0, 'N'},
        {"steps", required_argument, 0, 'k'},        {"threads", required_argument, 0, 't'},
        {"lr", required_argument, 0, 'l'},           {"momentum", required_argument, 0, 'M'},
        {"weight-decay", required_argument, 0, 'd'}, {"device", required_argument, 0, 'D'},
        {"precision", required_argument, 0, 'P'},    {0, 0, 0, 0},
    };
    *a = (args){.optimizer = "sgd", .device = "cpu", .precision = "fp32", .classes = 10, .batch_norm = 1, .steps = 1, .threads = 2,
                .lr = 0.1f, .momentum = 0.9f, .weight_decay = 5e-4f};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'w': a->weights = optarg; break;
        case 'b': a->batch = optarg; break;
        case 'o': a->out = optarg; break;
        case 'O': a->optimizer = optarg; break;
        case 'c': a->classes = atoi(optarg); break;
        case 'n': a->batch_norm = 0; break;
        case 'N': a->batch_size = atoi(optarg); break;
        case 'k': a->steps = atoi(optarg); break;
        case 't': a->threads = atoi(optarg); break;
        case 'l': a->lr = strtof(optarg, NULL); break;
        case 'M': a->momentum = strtof(optarg, NULL); break;
        case 'd': a->weight_decay = strtof(optarg, NULL); break;
        case 'D': a->device = optarg; break;
        case 'P': a->precision = optarg; break;
        default: return -1;
        }
    }
    if (optind != argc || !a->model || !a->weights || !a->batch || !a->out || a->batch_size < 2 || a->steps < 1 ||
        a->classes < 1 || a->threads < 0 || (strcmp(a->device, "cpu") && strcmp(a->device, "cuda")))
        return -1;
    return 0;
}

typedef struct {
    float *x;       /* T images */
    int32_t *y;     /* T labels */
    int t, c, h, w; /* images and their shape */
} batches;

static int load_batches(const char *path, int classes, batches *bt)
{
    tb_st_file f;
    if (tb_st_open(path, &f))
        return -1;
    const tb_st_tensor *x = tb_st_find(&f, "input"), *y = tb_st_find(&f, "labels");
    int rc = 0;
    if (!x || !y || x->ndim != 4 || y->ndim != 1 || x->shape[0] != y->shape[0] || x->dtype != TB_ST_F32 ||
        (y->dtype != TB_ST_I64 && y->dtype != TB_ST_I32) || x->shape[0] > INT_MAX || x->shape[1] > INT_MAX ||
        x->shape[2] > INT_MAX || x->shape[3] > INT_MAX)
        rc = tb_fail("%s: needs \"input\" F32 [T][C][H][W] and \"labels\" I64 or I32 [T]", path);
    if (!rc) {
        *bt = (batches){.t = (int)x->shape[0], .c = (int)x->shape[1], .h = (int)x->shape[2], .w = (int)x->shape[3]};
        bt->x = tb_malloc(x->bytes, "the batches");
        bt->y = tb_malloc((size_t)bt->t * sizeof *bt->y, "the labels");
        rc = (bt->x && bt->y) ? 0 : -1;
    }
    if (!rc) {
        memcpy(bt->x, x->data, x->bytes);
        for (int i = 0; i < bt->t && !rc; i++) {
            int64_t v;
            if (y->dtype == TB_ST_I64) {
                memcpy(&v, (const char *)y->data + 8 * (size_t)i, 8);
            } else {
                int32_t v32;
                memcpy(&v32, (const char *)y->data + 4 * (size_t)i, 4);
                v = v32;
            }
            if (v < 0 || v >= classes)
                rc = tb_fail("%s: label %d is %lld, outside 0..%d", path, i, (long long)v, classes - 1);
            bt->y[i] = (int32_t)v;
        }
    }
    tb_st_close(&f);
    return rc;
}

/* The logits of the first n images, as an [n][classes] tensor of w. */
static int add_logits(tb_st_writer *w, tb_backend *b, tb_model *m, const char *name, int n, int classes)
{
    size_t count = (size_t)n * (size_t)classes;
    float *host = tb_malloc(count * sizeof *host, "logits");
    int rc = !host || b->download(b, host, tb_model_logits(m)->data, count * sizeof *host) ||
             tb_st_writer_add(w, name, TB_ST_F32, 2, (int64_t[]){n, classes}, host);
    free(host);
    return rc ? -1 : 0;
}

static int save(tb_st_writer *w, const char *dir, const char *file)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return tb_fail("output path %s/%s is too long", dir, file);
    return tb_st_writer_save(w, path);
}

static int run(const args *a, tb_backend *b, const batches *bt, tb_model *m, int32_t *labels_dev)
{
    const int n = a->batch_size, per_image = bt->c * bt->h * bt->w, nbatches = bt->t / n;
    tb_param *params = tb_model_params(m);
    int np = tb_model_param_count(m);
    tb_optim_config oc;
    tb_optim_config_defaults(&oc);
    int kind = tb_opt_kind_parse(a->optimizer);
    if (kind < 0)
        return tb_fail("unknown optimizer %s", a->optimizer);
    oc.kind = (tb_opt_kind)kind;
    oc.lr = a->lr;
    oc.momentum = a->momentum;
    oc.weight_decay = a->weight_decay;
    tb_optimizer opt;
    tb_optimizer_init(&opt, &oc);
    double *losses = tb_calloc((size_t)a->steps, sizeof *losses, "losses");
    if (!losses)
        return -1;
    int rc = 0;
    for (int s = 0; s < a->steps && !rc; s++) {
        int first = (s % nbatches) * n;
        double loss = 0;
        rc = b->upload(b, tb_model_input(m)->data, bt->x + (size_t)first * per_image,
                       (size_t)n * per_image * sizeof(float)) ||
             b->upload(b, labels_dev, bt->y + first, (size_t)n * sizeof(int32_t)) || tb_model_forward(m, n, 1) ||
             b->softmax_xent(b, tb_model_logits(m), labels_dev, 1.0f / n, tb_model_dlogits(m), &loss) ||
             tb_model_backward(m, n) || b->synchronize(b);
        losses[s] = loss / n;
        if (!rc && s == 0) {
            tb_st_writer *w = tb_st_writer_create();
            rc = !w || add_logits(w, b, m, "logits", n, a->classes) ||
                 tb_st_writer_add(w, "loss", TB_ST_F64, 1, (int64_t[]){1}, &losses[0]) ||
                 tb_model_io_add(w, b, m, TB_IO_GRADS | TB_IO_BUFFERS, NULL) || save(w, a->out, "step1.safetensors");
            tb_st_writer_free(w);
        }
        if (!rc)
            rc = tb_optimizer_step(&opt, b, params, np, a->lr) || b->synchronize(b);
        if (rc)
            tb_fail_prefix("step %d", s + 1);
    }
    if (!rc) {
        tb_st_writer *w = tb_st_writer_create();
        double unused = 0;
        rc = !w || b->upload(b, tb_model_input(m)->data, bt->x, (size_t)n * per_image * sizeof(float)) ||
             tb_model_forward(m, n, 0) || b->softmax_xent(b, tb_model_logits(m), labels_dev, 0, NULL, &unused) ||
             b->synchronize(b) || add_logits(w, b, m, "eval_logits", n, a->classes) ||
             tb_st_writer_add(w, "losses", TB_ST_F64, 1, (int64_t[]){a->steps}, losses) ||
             tb_model_io_add(w, b, m, TB_IO_PARAMS | TB_IO_BUFFERS | TB_IO_GRADS | TB_IO_OPT_STATE, &opt) ||
             save(w, a->out, "final.safetensors");
        tb_st_writer_free(w);
    }
    free(losses);
    tb_optimizer_free_state(b, params, np);
    return rc ? -1 : 0;
}

/* --device cuda (bench/pytorch/gpu_compare.py) where the CUDA backend is built. */
static tb_backend *make_backend(const args *a)
{
    if (!strcmp(a->device, "cpu"))
        return tb_cpu_backend_create(a->threads);
#if TB_HAVE_CUDA
    return tb_cuda_backend_create(0, a->precision);
#else
    tb_fail("--device cuda: this build has no CUDA backend");
    return NULL;
#endif
}

int main(int argc, char **argv)
{
    args a;
    if (parse_args(argc, argv, &a)) {
        usage(stderr);
        return 2;
    }
    batches bt = {0};
    tb_model_spec spec;
    tb_backend *b = NULL;
    tb_model *m = NULL;
    int32_t *labels_dev = NULL;
    int rc = load_batches(a.batch, a.classes, &bt);
    if (!rc && bt.t % a.batch_size)
        rc = tb_fail("%s holds %d images, not a multiple of the batch size %d", a.batch, bt.t, a.batch_size);
    rc = rc || tb_model_spec_parse(a.model, a.classes, bt.c, a.batch_norm, &spec) ||
         !(b = make_backend(&a)) ||
         !(m = tb_model_create(b, &spec, a.batch_size, bt.h, bt.w, 1)) ||
         !(labels_dev = b->alloc(b, (size_t)a.batch_size * sizeof *labels_dev, "labels")) ||
         tb_model_load_safetensors(b, m, NULL, a.weights, TB_IO_PARAMS | TB_IO_BUFFERS) || run(&a, b, &bt, m, labels_dev);
    if (rc)
        fprintf(stderr, "oracle_driver: %s\n", tb_last_error());
    if (labels_dev)
        b->release(b, labels_dev);
    tb_model_destroy(m);
    if (b)
        b->destroy(b);
    free(bt.x);
    free(bt.y);
    return rc ? 1 : 0;
}
