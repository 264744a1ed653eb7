/* Batch normalisation: training forward (batch statistics, then PyTorch's
 * running-statistics update in C), inference forward (running statistics)
 * and backward.
 *
 * Every tensor takes its statistics and the backward reductions from
 * cpu_bn_stats.c (sums in double, see there why); the backward masks dy
 * with y (ReLU) in the same pass.  The normalisation of native (blocked)
 * tensors is oneDNN's jit bnorm as an inference primitive over those
 * statistics, ReLU fused; that of plain NCHW tensors (the 8-channel stage of
 * a width-8 net) a pass in cpu_bn_stats.c, since oneDNN only has its generic
 * ncsp_bnorm for them: with ncsp_bnorm forward and backward plus separate
 * ReLU passes, that stage was about a fifth of a resnet18-cifar:w8 step.
 * oneDNN's backward primitive remains for tensors whose layouts differ from
 * x's.  No workspace is used. */
#include "core/error.h" // uses: tb_fail_prefix, tb_fail
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_arg_spec, TB_OP_BN_TRAIN, TB_OP_BN_INFER, TB_OP_BN_BWD, ...

#include <string.h>

enum { ROLE_X, ROLE_Y, ROLE_DX, ROLE_DY, ROLE_GAMMA, ROLE_BETA, ROLE_MEAN, ROLE_VAR, ROLE_DGAMMA, ROLE_DBETA,
       ROLE_COUNT };

enum { BN_MAX_ARGS = 9 };

static const struct {
    const char *name;
    dnnl_prop_kind_t prop;
    unsigned flags;
    int nargs;
    tb_cpu_arg_spec args[BN_MAX_ARGS];
} bn_ops[] = {
    [TB_OP_BN_TRAIN] = {"bn_fwd_train", dnnl_forward_training, 0, 6,
                        {{DNNL_ARG_SRC, ROLE_X, 0},
                         {DNNL_ARG_SCALE, ROLE_GAMMA, 0},
                         {DNNL_ARG_SHIFT, ROLE_BETA, 0},
                         {DNNL_ARG_DST, ROLE_Y, 1},
                         {DNNL_ARG_MEAN, ROLE_MEAN, 1},
                         {DNNL_ARG_VARIANCE, ROLE_VAR, 1}}},
    [TB_OP_BN_INFER] = {"bn_fwd_infer", dnnl_forward_inference, dnnl_use_global_stats, 6,
                        {{DNNL_ARG_SRC, ROLE_X, 0},
                         {DNNL_ARG_SCALE, ROLE_GAMMA, 0},
                         {DNNL_ARG_SHIFT, ROLE_BETA, 0},
                         {DNNL_ARG_MEAN, ROLE_MEAN, 0},
                         {DNNL_ARG_VARIANCE, ROLE_VAR, 0},
                         {DNNL_ARG_DST, ROLE_Y, 1}}},
    [TB_OP_BN_BWD] = {"bn_bwd", dnnl_backward, 0, 9,
                      {{DNNL_ARG_SRC, ROLE_X, 0},
                       {DNNL_ARG_SCALE, ROLE_GAMMA, 0},
                       {DNNL_ARG_SHIFT, ROLE_BETA, 0},
                       {DNNL_ARG_MEAN, ROLE_MEAN, 0},
                       {DNNL_ARG_VARIANCE, ROLE_VAR, 0},
                       {DNNL_ARG_DIFF_DST, ROLE_DY, 0},
                       {DNNL_ARG_DIFF_SRC, ROLE_DX, 1},
                       {DNNL_ARG_DIFF_SCALE, ROLE_DGAMMA, 1},
                       {DNNL_ARG_DIFF_SHIFT, ROLE_DBETA, 1}}},
};

/* relu: fused (training on plain tensors runs it as its own pass). */
static unsigned bn_flags(int op, int relu)
{
    return bn_ops[op].flags | dnnl_use_scale | dnnl_use_shift | (relu ? dnnl_fuse_norm_relu : 0u);
}

static int bn_desc_init(dnnl_batch_normalization_desc_t *bd, int op, const dnnl_memory_desc_t *md, float eps,
                        int relu)
{
    dnnl_status_t st = op == TB_OP_BN_BWD
                           ? dnnl_batch_normalization_backward_desc_init(bd, dnnl_backward, md, md, eps,
                                                                         bn_flags(op, relu))
                           : dnnl_batch_normalization_forward_desc_init(bd, bn_ops[op].prop, md, eps,
                                                                        bn_flags(op, relu));
    return tb_cpu_check(st, "dnnl_batch_normalization_*_desc_init");
}

/* The tensors of one call; y for forward, dy and dx for backward. */
typedef struct {
    const tb_tensor *x, *y, *dy, *dx;
} bn_tensors;

/* The primitive works on x's layout; y, dy and dx in another get reorders. */
static tb_cpu_prim *bn_build(tb_cpu *c, const tb_cpu_key *key, int op, const bn_tensors *t, float eps, int relu)
{
    dnnl_memory_desc_t md[ROLE_COUNT];
    const dnnl_memory_desc_t *user_mds[ROLE_COUNT] = {NULL};
    const tb_tensor *data[ROLE_COUNT] = {[ROLE_X] = t->x, [ROLE_Y] = t->y, [ROLE_DY] = t->dy, [ROLE_DX] = t->dx};
    /* Per-channel vectors take what the primitive wants (plain "a"). */
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (data[r] && tb_cpu_md_tensor(&md[r], data[r]))
            return NULL;
        user_mds[r] = data[r] ? &md[r] : NULL;
    }
    dnnl_batch_normalization_desc_t bd, fwd;
    dnnl_primitive_desc_t hint = NULL;
    if (bn_desc_init(&bd, op, &md[ROLE_X], eps, relu))
        return NULL;
    if (op == TB_OP_BN_BWD && (bn_desc_init(&fwd, TB_OP_BN_TRAIN, &md[ROLE_X], eps, relu) ||
                               tb_cpu_pd_create(c, &fwd, NULL, NULL, &hint)))
        return NULL;
    tb_cpu_prim *p = tb_cpu_prim_build(c, key, &bd, NULL, hint, bn_ops[op].args, bn_ops[op].nargs, user_mds);
    dnnl_primitive_desc_destroy(hint);
    return p;
}

static int tag_of(const tb_tensor *t) { return t ? (int)tb_cpu_tag(t) : 0; }

static int bn_run(tb_backend *b, int op, const tb_bn_desc *d, const bn_tensors *t, int relu, void *const *by_role)
{
    tb_cpu *c = tb_cpu_of(b);
    const tb_shape s = t->x->shape;
    tb_cpu_key key = {op, {s.n, s.c, s.h, s.w, relu, 0, tag_of(t->x), tag_of(t->y), tag_of(t->dy), tag_of(t->dx)}};
    memcpy(&key.v[5], &d->eps, sizeof d->eps);
    tb_cpu_prim *p = tb_cpu_find(c, &key);
    if (!p)
        p = bn_build(c, &key, op, t, d->eps, relu);
    if (!p || tb_cpu_prim_run(c, p, by_role))
        return tb_fail_prefix("%s of x " TB_SHAPE_FMT "%s, eps %g", bn_ops[op].name, TB_SHAPE_ARG(s),
                              relu ? " with fused relu" : "", (double)d->eps);
    return 0;
}

/* x and y both plain: the normalisation runs in cpu_bn_stats.c. */
static int both_plain(const tb_tensor *x, const tb_tensor *y) { return tag_of(x) == dnnl_nchw && tag_of(y) == dnnl_nchw; }

/* PyTorch's update: the unbiased batch variance goes into the running one. */
static void update_running(const tb_bn_desc *d, int channels, double count, const float *mean, const float *var,
                           float *running_mean, float *running_var)
{
    const double m = d->momentum, unbias = count / (count - 1);
    for (int i = 0; i < channels; i++) {
        running_mean[i] = (float)((1 - m) * running_mean[i] + m * mean[i]);
        running_var[i] = (float)((1 - m) * running_var[i] + m * var[i] * unbias);
    }
}

int tb_cpu_bn_fwd_train(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                        const float *beta, float *running_mean, float *running_var, float *saved, tb_tensor *y,
                        int relu, tb_workspace *ws)
{
    (void)ws; /* backward masks with y */
    if (tb_bn_validate("bn_fwd_train", x, y, "y"))
        return -1;
    const tb_shape s = x->shape;
    double count = (double)s.n * s.h * s.w;
    if (count < 2)
        return tb_fail("bn_fwd_train: x is " TB_SHAPE_FMT ", one value per channel, so the batch variance is "
                       "undefined; use a batch size above 1 in training",
                       TB_SHAPE_ARG(s));
    float *mean = saved, *var = saved + s.c;
    void *by_role[ROLE_COUNT] = {[ROLE_X] = x->data,           [ROLE_Y] = y->data,   [ROLE_GAMMA] = (void *)gamma,
                                 [ROLE_BETA] = (void *)beta, [ROLE_MEAN] = mean, [ROLE_VAR] = var};
    const bn_tensors t = {x, y, NULL, NULL};
    int rc = tb_cpu_bn_batch_stats(x, mean, var) ||
             (both_plain(x, y) ? tb_cpu_bn_normalize_plain(x, gamma, beta, mean, var, d->eps, relu, y)
                               : bn_run(b, TB_OP_BN_INFER, d, &t, relu, by_role));
    if (rc)
        return tb_fail_prefix("bn_fwd_train");
    update_running(d, s.c, count, mean, var, running_mean, running_var);
    return 0;
}

int tb_cpu_bn_fwd_infer(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                        const float *beta, const float *running_mean, const float *running_var, tb_tensor *y,
                        int relu)
{
    if (tb_bn_validate("bn_fwd_infer", x, y, "y"))
        return -1;
    void *by_role[ROLE_COUNT] = {[ROLE_X] = x->data,
                                 [ROLE_Y] = y->data,
                                 [ROLE_GAMMA] = (void *)gamma,
                                 [ROLE_BETA] = (void *)beta,
                                 [ROLE_MEAN] = (void *)running_mean,
                                 [ROLE_VAR] = (void *)running_var};
    const bn_tensors t = {x, y, NULL, NULL};
    if (both_plain(x, y))
        return tb_cpu_bn_normalize_plain(x, gamma, beta, running_mean, running_var, d->eps, relu, y);
    return bn_run(b, TB_OP_BN_INFER, d, &t, relu, by_role);
}

int tb_cpu_bn_bwd(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const tb_tensor *dy,
                  const float *gamma, const float *saved, const tb_tensor *y, int relu, tb_workspace *ws,
                  tb_tensor *dx, float *dgamma, float *dbeta)
{
    (void)ws; /* see bn_fwd_train */
    if (relu && (!y || !y->data))
        return tb_fail("bn_bwd with relu needs y, the output of bn_fwd_train, to mask dy; pass the layer's output");
    if (tb_bn_validate("bn_bwd", x, dy, "dy") || tb_bn_validate("bn_bwd", x, dx, "dx") ||
        (relu && tb_bn_validate("bn_bwd", x, y, "y")))
        return -1;
    const float *mean = saved, *var = saved + x->shape.c;
    int tag = tag_of(x);
    if (tag_of(dy) == tag && tag_of(dx) == tag && (!relu || tag_of(y) == tag))
        return tb_cpu_bn_backward(x, dy, relu ? y : NULL, gamma, mean, var, d->eps, dx, dgamma, dbeta);
    /* Mixed layouts: oneDNN's primitive, which reorders.  With relu, dx = dy
     * masked by y first; BN backward then runs in place on dx. */
    if (relu && tb_cpu_relu_bwd(b, y, dy, dx))
        return tb_fail_prefix("bn_bwd with relu");
    const tb_tensor *grad_in = relu ? dx : dy;
    void *const by_role[ROLE_COUNT] = {[ROLE_X] = x->data,
                                       [ROLE_DY] = grad_in->data,
                                       [ROLE_DX] = dx->data,
                                       [ROLE_GAMMA] = (void *)gamma,
                                       /* oneDNN 2.6 insists on a shift input it never reads */
                                       [ROLE_BETA] = (void *)gamma,
                                       [ROLE_MEAN] = (void *)mean,
                                       [ROLE_VAR] = (void *)var,
                                       [ROLE_DGAMMA] = dgamma,
                                       [ROLE_DBETA] = dbeta};
    const bn_tensors t = {x, NULL, grad_in, dx};
    return bn_run(b, TB_OP_BN_BWD, d, &t, 0, by_role);
}
