/* Max and average pooling, forward and backward.  Average pooling divides by
 * the full window, padding included (PyTorch's count_include_pad default);
 * with floor-mode output sizes a window never reaches past the padding, so
 * that is always kernel * kernel.  Max pooling in training records the
 * argmax in the caller's workspace for backward.  The primitive runs on x's
 * layout (y in the same one); a y in another layout (the global pool
 * handing plain features to the classifier) gets a reorder. */
#include "core/error.h" // uses: tb_fail_prefix
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_arg_spec, TB_OP_POOL_FWD, TB_OP_POOL_BWD, tb_cpu_check, ...

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

/* x is the input side (dx for backward), y the output side (dy). */
static tb_cpu_prim *pool_build(tb_cpu *c, const tb_cpu_key *key, int op, int training, const tb_pool_desc *d,
                               const tb_tensor *x, const tb_tensor *y)
{
    dnnl_memory_desc_t xmd, ymd, yprim;
    dnnl_format_tag_t xtag = tb_cpu_tag(x);
    if (xtag == dnnl_format_tag_undef || tb_cpu_md_tensor(&xmd, x) || tb_cpu_md_tensor(&ymd, y) ||
        tb_cpu_md_nchw(&yprim, y->shape, xtag))
        return NULL;
    dnnl_pooling_desc_t desc, fwd;
    dnnl_primitive_desc_t hint = NULL;
    if (pool_desc_init(&desc, op, training, d, &xmd, &yprim))
        return NULL;
    if (op == TB_OP_POOL_BWD &&
        (pool_desc_init(&fwd, TB_OP_POOL_FWD, 1, d, &xmd, &yprim) || tb_cpu_pd_create(c, &fwd, NULL, NULL, &hint)))
        return NULL;
    const dnnl_memory_desc_t *user_mds[ROLE_COUNT] = {&xmd, &ymd, NULL};
    int nargs = d->kind == TB_POOL_MAX && training ? 3 : 2; /* the workspace is the third */
    tb_cpu_prim *p = tb_cpu_prim_build(c, key, &desc, NULL, hint, pool_ops[op].args, nargs, user_mds);
    dnnl_primitive_desc_destroy(hint);
    return p;
}

/* training: backward will follow, so max pooling keeps its argmax. */
static int pool_run(tb_backend *b, int op, int training, const tb_pool_desc *d, const tb_tensor *x,
                    const tb_tensor *y, tb_workspace *ws)
{
    const char *name = pool_ops[op].name;
    const tb_shape xs = x->shape;
    if (tb_pool_validate(name, d, xs, y->shape))
        return -1;
    tb_cpu *c = tb_cpu_of(b);
    tb_cpu_key key = {op, {xs.n, xs.c, xs.h, xs.w, (int)d->kind, d->kernel, d->stride, d->pad, training,
                           (int)tb_cpu_tag(x), (int)tb_cpu_tag(y)}};
    tb_cpu_prim *p = tb_cpu_find(c, &key);
    if (!p)
        p = pool_build(c, &key, op, training, d, x, y);
    int rc = p ? 0 : -1;
    if (!rc && d->kind == TB_POOL_MAX && training)
        rc = tb_workspace_prepare(b, ws, tb_cpu_prim_arg_bytes(p, DNNL_ARG_WORKSPACE), op == TB_OP_POOL_FWD,
                                      "the max pooling argmax");
    void *const by_role[ROLE_COUNT] = {x->data, y->data, ws ? ws->ptr : NULL};
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
    return pool_run(b, TB_OP_POOL_FWD, training, d, x, y, ws);
}

int tb_cpu_pool_bwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                    tb_workspace *ws, tb_tensor *dx)
{
    if (!tb_same_shape(x->shape, dx->shape))
        return tb_shape_mismatch("pool_bwd", "dx", dx->shape, x->shape);
    return pool_run(b, TB_OP_POOL_BWD, 1, d, dx, dy, ws);
}
