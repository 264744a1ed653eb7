/* The convolution calls a model will make, for the backends' prepare()
 * (backend.h), so that cuDNN's algorithm searches and oneDNN's primitive
 * creation happen before the first epoch instead of inside it.
 *
 * Two parts.  tb_conv_plan_record() asks the model itself which calls it
 * makes: it runs one training step (forward and backward) and one evaluation
 * forward at batch 1 on a table of operations that compute nothing and
 * record their convolution arguments, so the list is the model's own
 * (shortcuts, the stem's missing input gradient, the layouts it keeps) and
 * nothing here repeats its architecture.  tb_conv_plan_calls(), pure, turns
 * those per-image uses and the batch sizes an epoch runs into the calls
 * prepare() gets: every training use at every training batch size, every
 * evaluation use at every evaluation batch size, once each, the first
 * training batch size first (tests/test_gpu_ready.c checks it).
 *
 * Header-only: the trainer and the tests use it, and the engine's build list
 * (engine/meson.build) stays as it is. */
#ifndef TB_CONV_PLAN_H
#define TB_CONV_PLAN_H

#include "core/error.h" // uses: tb_fail, tb_fail_prefix, tb_calloc
#include "engine/backend.h" // uses: tb_conv_call, tb_backend, tb_conv_desc, tb_tensor, TB_CONV_FWD, ...
#include "engine/model.h" // uses: tb_model, tb_model_forward, tb_model_backward

#include <stdlib.h>
#include <string.h>

/* One convolution the model makes per image (call.x.n is 1); eval: in the
 * evaluation forward pass, else in a training step. */
typedef struct {
    tb_conv_call call;
    int eval;
} tb_conv_use;

/* The batch sizes an epoch of `images` in batches of `batch` runs: the
 * full one (when there is one) and the last partial one (when there is
 * one).  Returns how many (0..2) are in out. */
static inline int tb_conv_plan_batches(int images, int batch, int out[2])
{
    int n = 0;
    if (images < 1 || batch < 1)
        return 0;
    if (images >= batch)
        out[n++] = batch;
    if (images % batch)
        out[n++] = images % batch;
    return n;
}

static inline int tb_conv_call_equal(const tb_conv_call *a, const tb_conv_call *b)
{
    return a->dir == b->dir && a->d.in_c == b->d.in_c && a->d.out_c == b->d.out_c && a->d.kernel == b->d.kernel &&
           a->d.stride == b->d.stride && a->d.pad == b->d.pad && a->x.n == b->x.n && a->x.c == b->x.c &&
           a->x.h == b->x.h && a->x.w == b->x.w && a->x_layout == b->x_layout && a->y_layout == b->y_layout;
}

/* Pure: the calls for training uses at each of the ntrain batch sizes, then
 * evaluation uses at each of the neval, without duplicates (an evaluation
 * forward at the training batch is the training forward).  Returns how
 * many were written to out, or -1 when more than cap would be. */
static inline int tb_conv_plan_calls(const tb_conv_use *uses, int nuses, const int *train, int ntrain,
                                     const int *eval, int neval, tb_conv_call *out, int cap)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const int *sizes = pass ? eval : train, nsizes = pass ? neval : ntrain;
        for (int s = 0; s < nsizes; s++) {
            for (int u = 0; u < nuses; u++) {
                if (uses[u].eval != pass || sizes[s] < 1)
                    continue;
                tb_conv_call c = uses[u].call;
                c.x.n = sizes[s];
                int seen = 0;
                for (int k = 0; k < n && !seen; k++)
                    seen = tb_conv_call_equal(&out[k], &c);
                if (seen)
                    continue;
                if (n == cap)
                    return -1;
                out[n++] = c;
            }
        }
    }
    return n;
}

/* ---- recording ------------------------------------------------------------ */

typedef struct {
    tb_conv_use *uses;
    int n, cap, eval;
} tb_conv_recorder;

static inline int tb_conv_record_(tb_backend *b, int dir, const tb_conv_desc *d, const tb_tensor *x,
                                  const tb_tensor *y)
{
    tb_conv_recorder *r = b->impl;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        tb_conv_use *u = realloc(r->uses, (size_t)cap * sizeof *u);
        if (!u)
            return tb_fail("out of memory listing the model's convolutions");
        r->uses = u;
        r->cap = cap;
    }
    tb_conv_use *u = &r->uses[r->n++];
    memset(u, 0, sizeof *u);
    u->call.dir = dir;
    u->call.d = *d;
    u->call.x = x->shape;
    u->call.x.n = 1;
    u->call.x_layout = x->layout;
    u->call.y_layout = y->layout;
    u->eval = r->eval;
    return 0;
}

static inline int tb_rec_conv_fwd_(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w,
                                   tb_tensor *y)
{
    (void)w;
    return tb_conv_record_(b, TB_CONV_FWD, d, x, y);
}

static inline int tb_rec_conv_bwd_data_(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w,
                                        tb_tensor *dx)
{
    (void)w;
    return tb_conv_record_(b, TB_CONV_BWD_DATA, d, dx, dy);
}

static inline int tb_rec_conv_bwd_weights_(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x,
                                           const tb_tensor *dy, float *dw)
{
    (void)dw;
    return tb_conv_record_(b, TB_CONV_BWD_WEIGHTS, d, x, dy);
}

/* Every other operation: nothing. */
static inline int tb_rec_none_(tb_backend *b) { return (void)b, 0; }
static inline int tb_rec_copy_(tb_backend *b, void *d, const void *s, size_t n)
{
    return (void)b, (void)d, (void)s, (void)n, 0;
}
static inline int tb_rec_convert_(tb_backend *b, const tb_tensor *s, tb_tensor *d)
{
    return (void)b, (void)s, (void)d, 0;
}
static inline int tb_rec_bn_train_(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *g,
                                   const float *be, float *rm, float *rv, float *s, tb_tensor *y, int relu,
                                   tb_workspace *ws)
{
    return (void)b, (void)d, (void)x, (void)g, (void)be, (void)rm, (void)rv, (void)s, (void)y, (void)relu, (void)ws, 0;
}
static inline int tb_rec_bn_infer_(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *g,
                                   const float *be, const float *rm, const float *rv, tb_tensor *y, int relu)
{
    return (void)b, (void)d, (void)x, (void)g, (void)be, (void)rm, (void)rv, (void)y, (void)relu, 0;
}
static inline int tb_rec_bn_bwd_(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const tb_tensor *dy,
                                 const float *g, const float *s, const tb_tensor *y, int relu, tb_workspace *ws,
                                 tb_tensor *dx, float *dg, float *db)
{
    return (void)b, (void)d, (void)x, (void)dy, (void)g, (void)s, (void)y, (void)relu, (void)ws, (void)dx, (void)dg,
           (void)db, 0;
}
static inline int tb_rec_unary_(tb_backend *b, const tb_tensor *x, tb_tensor *y)
{
    return (void)b, (void)x, (void)y, 0;
}
static inline int tb_rec_relu_bwd_(tb_backend *b, const tb_tensor *y, const tb_tensor *dy, tb_tensor *dx)
{
    return (void)b, (void)y, (void)dy, (void)dx, 0;
}
static inline int tb_rec_add_(tb_backend *b, const tb_tensor *a, const tb_tensor *c, tb_tensor *y, int relu)
{
    return (void)b, (void)a, (void)c, (void)y, (void)relu, 0;
}
static inline int tb_rec_pool_fwd_(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, tb_tensor *y,
                                   tb_workspace *ws)
{
    return (void)b, (void)d, (void)x, (void)y, (void)ws, 0;
}
static inline int tb_rec_pool_bwd_(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                                   tb_workspace *ws, tb_tensor *dx)
{
    return (void)b, (void)d, (void)x, (void)dy, (void)ws, (void)dx, 0;
}
static inline int tb_rec_fc_fwd_(tb_backend *b, const tb_tensor *x, const float *w, const float *bias, tb_tensor *y)
{
    return (void)b, (void)x, (void)w, (void)bias, (void)y, 0;
}
static inline int tb_rec_fc_bwd_(tb_backend *b, const tb_tensor *x, const tb_tensor *dy, const float *w,
                                 tb_tensor *dx, float *dw, float *db)
{
    return (void)b, (void)x, (void)dy, (void)w, (void)dx, (void)dw, (void)db, 0;
}

/* The model's per-image convolution uses: *uses (malloc'd) and *n.  b is the
 * backend the model was built on; its table is swapped for the recording one
 * for the duration and restored, and nothing is computed or written (running
 * statistics and weights stay as they are).  Call it before a gradient hook
 * is set (the reducer's, grad_reduce.h): backward would call the hook. */
static inline int tb_conv_plan_record(tb_model *m, tb_backend *b, tb_conv_use **uses, int *n)
{
    tb_conv_recorder rec = {0};
    const tb_backend saved = *b;
    b->impl = &rec;
    b->upload = b->download = b->copy = tb_rec_copy_;
    b->synchronize = tb_rec_none_;
    b->convert = tb_rec_convert_;
    b->conv_fwd = tb_rec_conv_fwd_;
    b->conv_bwd_data = tb_rec_conv_bwd_data_;
    b->conv_bwd_weights = tb_rec_conv_bwd_weights_;
    b->bn_fwd_train = tb_rec_bn_train_;
    b->bn_fwd_infer = tb_rec_bn_infer_;
    b->bn_bwd = tb_rec_bn_bwd_;
    b->relu_fwd = tb_rec_unary_;
    b->relu_bwd = tb_rec_relu_bwd_;
    b->add = tb_rec_add_;
    b->pool_fwd = tb_rec_pool_fwd_;
    b->pool_bwd = tb_rec_pool_bwd_;
    b->fc_fwd = tb_rec_fc_fwd_;
    b->fc_bwd = tb_rec_fc_bwd_;
    b->prof_device = NULL;
    int rc = tb_model_forward(m, 1, 1) || tb_model_backward(m, 1);
    rec.eval = 1;
    rc = rc || tb_model_forward(m, 1, 0);
    *b = saved;
    if (rc) {
        free(rec.uses);
        return tb_fail_prefix("listing the model's convolutions");
    }
    *uses = rec.uses;
    *n = rec.n;
    return 0;
}

/* Both together: the calls (malloc'd) for the model at the given batch
 * sizes, ready for b->prepare. */
static inline int tb_conv_plan_model(tb_model *m, tb_backend *b, const int *train, int ntrain, const int *eval,
                                     int neval, tb_conv_call **calls, int *n)
{
    tb_conv_use *uses = NULL;
    int nuses = 0;
    *calls = NULL;
    *n = 0;
    if (tb_conv_plan_record(m, b, &uses, &nuses))
        return -1;
    const int cap = nuses * (ntrain + neval) + 1;
    *calls = tb_calloc((size_t)cap, sizeof **calls, "the convolution plan");
    int got = *calls ? tb_conv_plan_calls(uses, nuses, train, ntrain, eval, neval, *calls, cap) : -1;
    free(uses);
    if (got < 0) {
        free(*calls);
        *calls = NULL;
        return -1;
    }
    *n = got;
    return 0;
}

#endif
