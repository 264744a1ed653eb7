/* Fully connected layer with bias (oneDNN inner product): x [N][in] (any
 * N x C x H x W tensor, flattened), w [out][in], y [N][out]. */
#include "core/error.h" // uses: tb_fail_prefix
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_arg_spec, TB_OP_FC_FWD, TB_OP_FC_BWD_DATA, ...

enum { ROLE_X, ROLE_W, ROLE_BIAS, ROLE_Y, ROLE_COUNT };

static const struct {
    const char *name;
    int nargs;
    tb_cpu_arg_spec args[4];
} fc_ops[] = {
    [TB_OP_FC_FWD] = {"fc_fwd", 4,
                      {{DNNL_ARG_SRC, ROLE_X, 0},
                       {DNNL_ARG_WEIGHTS, ROLE_W, 0},
                       {DNNL_ARG_BIAS, ROLE_BIAS, 0},
                       {DNNL_ARG_DST, ROLE_Y, 1}}},
    [TB_OP_FC_BWD_DATA] = {"fc_bwd (data)", 3,
                           {{DNNL_ARG_DIFF_DST, ROLE_Y, 0},
                            {DNNL_ARG_WEIGHTS, ROLE_W, 0},
                            {DNNL_ARG_DIFF_SRC, ROLE_X, 1}}},
    [TB_OP_FC_BWD_WEIGHTS] = {"fc_bwd (weights)", 4,
                              {{DNNL_ARG_SRC, ROLE_X, 0},
                               {DNNL_ARG_DIFF_DST, ROLE_Y, 0},
                               {DNNL_ARG_DIFF_WEIGHTS, ROLE_W, 1},
                               {DNNL_ARG_DIFF_BIAS, ROLE_BIAS, 1}}},
};

typedef struct {
    dnnl_memory_desc_t md[ROLE_COUNT];
} fc_mds;

static int fc_mds_init(fc_mds *m, int n, int in, int out)
{
    const dnnl_dims_t x = {n, in}, w = {out, in}, y = {n, out};
    return tb_cpu_md(&m->md[ROLE_X], 2, x, dnnl_ab) || tb_cpu_md(&m->md[ROLE_W], 2, w, dnnl_ab) ||
           tb_cpu_md_1d(&m->md[ROLE_BIAS], out) || tb_cpu_md(&m->md[ROLE_Y], 2, y, dnnl_ab);
}

static int fc_desc_init(dnnl_inner_product_desc_t *ip, int op, const fc_mds *m)
{
    const dnnl_memory_desc_t *md = m->md;
    dnnl_status_t st;
    if (op == TB_OP_FC_FWD)
        st = dnnl_inner_product_forward_desc_init(ip, dnnl_forward_training, &md[ROLE_X], &md[ROLE_W],
                                                  &md[ROLE_BIAS], &md[ROLE_Y]);
    else if (op == TB_OP_FC_BWD_DATA)
        st = dnnl_inner_product_backward_data_desc_init(ip, &md[ROLE_X], &md[ROLE_W], &md[ROLE_Y]);
    else
        st = dnnl_inner_product_backward_weights_desc_init(ip, &md[ROLE_X], &md[ROLE_W], &md[ROLE_BIAS],
                                                           &md[ROLE_Y]);
    return tb_cpu_check(st, "dnnl_inner_product_*_desc_init");
}

static tb_cpu_prim *fc_build(tb_cpu *c, const tb_cpu_key *key, int op, int n, int in, int out)
{
    fc_mds m;
    dnnl_inner_product_desc_t ip, fwd;
    dnnl_primitive_desc_t hint = NULL;
    if (fc_mds_init(&m, n, in, out) || fc_desc_init(&ip, op, &m))
        return NULL;
    if (op != TB_OP_FC_FWD && (fc_desc_init(&fwd, TB_OP_FC_FWD, &m) || tb_cpu_pd_create(c, &fwd, NULL, NULL, &hint)))
        return NULL;
    const dnnl_memory_desc_t *user_mds[ROLE_COUNT] = {&m.md[0], &m.md[1], &m.md[2], &m.md[3]};
    tb_cpu_prim *p = tb_cpu_prim_build(c, key, &ip, NULL, hint, fc_ops[op].args, fc_ops[op].nargs, user_mds);
    dnnl_primitive_desc_destroy(hint);
    return p;
}

static int fc_run(tb_backend *b, int op, tb_shape xs, int out, const float *x, const float *w, const float *bias,
                  const float *y)
{
    tb_cpu *c = tb_cpu_of(b);
    int in = xs.c * xs.h * xs.w;
    tb_cpu_key key = {op, {xs.n, in, out}};
    tb_cpu_prim *p = tb_cpu_find(c, &key);
    if (!p)
        p = fc_build(c, &key, op, xs.n, in, out);
    void *const by_role[ROLE_COUNT] = {(void *)x, (void *)w, (void *)bias, (void *)y};
    if (!p || tb_cpu_prim_run(c, p, by_role))
        return tb_fail_prefix("%s of x %dx%d to %d outputs", fc_ops[op].name, xs.n, in, out);
    return 0;
}

int tb_cpu_fc_fwd(tb_backend *b, const tb_tensor *x, const float *w, const float *bias, tb_tensor *y)
{
    if (tb_fc_validate("fc_fwd", x->shape, y->shape) || tb_cpu_require_plain("fc_fwd", "x", x) ||
        tb_cpu_require_plain("fc_fwd", "y", y))
        return -1;
    return fc_run(b, TB_OP_FC_FWD, x->shape, y->shape.c, x->data, w, bias, y->data);
}

int tb_cpu_fc_bwd(tb_backend *b, const tb_tensor *x, const tb_tensor *dy, const float *w, tb_tensor *dx,
                  float *dw, float *dbias)
{
    if (tb_fc_validate("fc_bwd", x->shape, dy->shape) || tb_cpu_require_plain("fc_bwd", "x", x) ||
        tb_cpu_require_plain("fc_bwd", "dy", dy) || tb_cpu_require_plain("fc_bwd", "dx", dx))
        return -1;
    if (dx && !tb_same_shape(dx->shape, x->shape))
        return tb_shape_mismatch("fc_bwd", "dx", dx->shape, x->shape);
    int out = dy->shape.c;
    if (dx && fc_run(b, TB_OP_FC_BWD_DATA, x->shape, out, dx->data, w, NULL, dy->data))
        return -1;
    return fc_run(b, TB_OP_FC_BWD_WEIGHTS, x->shape, out, x->data, dw, dbias, dy->data);
}
