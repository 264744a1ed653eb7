/* Max and average pooling, forward and backward.  Average pooling divides by
 * the full window, padding included (PyTorch's count_include_pad default);
 * with floor-mode output sizes a window never reaches past the padding, so
 * that is always kernel * kernel.  Max pooling in training records the
 * argmax in the caller's workspace for backward. */
#include "cpu_internal.h"
#include "error.h"

enum { ROLE_X, ROLE_Y, ROLE_WS, ROLE_COUNT };

static const struct {
    const char *name;
    tb_cpu_arg_spec args[3]; /* the workspace last, used by max pooling in training */
} pool_ops[] = {
    [TB_OP_POOL_FWD] = {"pool_fwd",
                        {{DNNL_ARG_SRC, ROLE_X, 0}, {DNNL_ARG_DST, ROLE_Y, 1}, {DNNL_ARG_WORKSPACE, ROLE_WS, 1}}},
    [TB_OP_POOL_BWD] = {"pool_bwd",
                        {{DNNL_ARG_DIFF_DST, ROLE_Y, 0},
                         {DNNL_ARG_DIFF_SRC, ROLE_X, 1},
                         {DNNL_ARG_WORKSPACE, ROLE_WS, 0}}},
};

static int pool_desc_init(dnnl_pooling_desc_t *pd, int op, int training, const tb_pool_desc *d,
                          const dnnl_memory_desc_t *x, const dnnl_memory_desc_t *y)
{
    const dnnl_dims_t strides = {d->stride, d->stride}, kernel = {d->kernel, d->kernel}, pad = {d->pad, d->pad};
    dnnl_alg_kind_t alg = d->kind == TB_POOL_MAX ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
    dnnl_status_t st = op == TB_OP_POOL_FWD
                           ? dnnl_pooling_forward_desc_init(pd, training ? dnnl_forward_training
                                                                         : dnnl_forward_inference,
                                                            alg, x, y, strides, kernel, pad, pad)
                           : dnnl_pooling_backward_desc_init(pd, alg, x, y, strides, kernel, pad, pad);
    return tb_cpu_check(st, "dnnl_pooling_*_desc_init");
}

static tb_cpu_prim *pool_build(tb_cpu *c, const tb_cpu_key *key, int op, int training, const tb_pool_desc *d,
                               tb_shape xs, tb_shape ys)
{
    dnnl_memory_desc_t x, y;
    if (tb_cpu_md_nchw(&x, xs, dnnl_nchw) || tb_cpu_md_nchw(&y, ys, dnnl_nchw))
        return NULL;
    dnnl_pooling_desc_t desc, fwd;
    dnnl_primitive_desc_t hint = NULL;
    if (pool_desc_init(&desc, op, training, d, &x, &y))
        return NULL;
    if (op == TB_OP_POOL_BWD &&
        (pool_desc_init(&fwd, TB_OP_POOL_FWD, 1, d, &x, &y) || tb_cpu_pd_create(c, &fwd, NULL, NULL, &hint)))
        return NULL;
    const dnnl_memory_desc_t *user_mds[ROLE_COUNT] = {&x, &y, NULL};
    int nargs = d->kind == TB_POOL_MAX && training ? 3 : 2; /* the workspace is the third */
    tb_cpu_prim *p = tb_cpu_prim_build(c, key, &desc, NULL, hint, pool_ops[op].args, nargs, user_mds);
    dnnl_primitive_desc_destroy(hint);
    return p;
}

/* training: backward will follow, so max pooling keeps its argmax. */
static int pool_run(tb_backend *b, int op, int training, const tb_pool_desc *d, tb_shape xs, tb_shape ys,
                    const float *x, const float *y, tb_workspace *ws)
{
    const char *name = pool_ops[op].name;
    if (tb_pool_validate(name, d, xs, ys))
        return -1;
    tb_cpu *c = tb_cpu_of(b);
    tb_cpu_key key = {op, {xs.n, xs.c, xs.h, xs.w, (int)d->kind, d->kernel, d->stride, d->pad, training}};
    tb_cpu_prim *p = tb_cpu_find(c, &key);
    if (!p)
        p = pool_build(c, &key, op, training, d, xs, ys);
    int rc = p ? 0 : -1;
    if (!rc && d->kind == TB_POOL_MAX && training)
        rc = tb_workspace_prepare(b, ws, tb_cpu_prim_arg_bytes(p, DNNL_ARG_WORKSPACE), op == TB_OP_POOL_FWD,
                                      "the max pooling argmax");
    void *const by_role[ROLE_COUNT] = {(void *)x, (void *)y, ws ? ws->ptr : NULL};
    if (rc || tb_cpu_prim_run(c, p, by_role))
        return tb_fail_prefix("%s (%s %dx%d, stride %d, pad %d) of x " TB_SHAPE_FMT, name,
                              d->kind == TB_POOL_MAX ? "max" : "avg", d->kernel, d->kernel, d->stride, d->pad,
                              TB_SHAPE_ARG(xs));
    return 0;
}

int tb_cpu_pool_fwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, tb_tensor *y, tb_workspace *ws)
{
    /* Without a workspace no backward can follow: inference needs no argmax. */
    int training = d->kind == TB_POOL_MAX && ws != NULL;
    return pool_run(b, TB_OP_POOL_FWD, training, d, x->shape, y->shape, x->data, y->data, ws);
}

int tb_cpu_pool_bwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                    tb_workspace *ws, tb_tensor *dx)
{
    if (!tb_same_shape(x->shape, dx->shape))
        return tb_shape_mismatch("pool_bwd", "dx", dx->shape, x->shape);
    return pool_run(b, TB_OP_POOL_BWD, 1, d, x->shape, dy->shape, dx->data, dy->data, ws);
}
