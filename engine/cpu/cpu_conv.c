/* Convolutions without bias: forward, backward data, backward weights.
 *
 * Layout: the primitives are created with format_tag_any for every tensor,
 * so oneDNN picks its blocked layouts (nChw16c activations, OIhw16i16o-like
 * weights on this AVX-512 CPU), and the plain NCHW/OIHW interface buffers
 * are reordered in and out around each call.  Measured against creating the
 * primitives on plain nchw/oihw directly (oneDNN 2.6.3, 2-core AMD EPYC with
 * AVX-512, N = 64, best of 5 calls, ms; fwd + bwd data + bwd weights).
 * Two threads, all 16 shapes below: any + reorders 222-250 ms, plain
 * 430-485 ms.  Per shape, one thread (steadier while other jobs ran):
 *
 *   shape (C->C' kernel/stride, input HxW)    any + reorders     plain nchw
 *   16->16 3/1 32x32                           2.2  2.0  2.0     4.7  6.7  9.7
 *   32->32 3/1 16x16                           1.5  1.4  1.5     2.9  4.1  5.4
 *   64->64 3/1 8x8                             1.3  1.3  1.4     2.3  3.0  2.3
 *   64->64 3/1 32x32                          25.2 27.7 26.6    33.1 41.4 54.3
 *   128->128 3/1 16x16                        22.3 22.2 22.2    29.4 31.2 36.5
 *   256->256 3/1 8x8                          25.7 22.0 22.2    25.5 27.6 27.0
 *   512->512 3/1 4x4                          21.1 18.3 25.6    27.2 34.9 27.5
 *   all 16 ResNet-CIFAR shapes (3..512 channels, 32x32..4x4,
 *   with the stride-2 3x3 and 1x1 shortcuts)  449.5 ms total   621.2 ms total
 *
 * so any + reorders is kept: 1.4x (one thread) to 1.9x (two) faster
 * overall, 2.5x to 5.7x on the narrow ResNet-20/56 widths (16..64
 * channels), where plain layouts get slow kernels (backward weights on nchw
 * is gemm-based).  The reorders are
 * included in the left column.
 *
 * The three directions share one builder: a table says which interface
 * tensor (x, w, y) each oneDNN argument is.  The descriptor asks for "any"
 * layout; the caller's buffers are described separately (user_mds), and
 * where the two differ tb_cpu_prim_build adds the reorders (weights too: they
 * change every step).  Native (blocked) activations are handed to the
 * primitive as they are, so between layers no reorder runs at all; the
 * measurements above are for plain tensors, which still work that way. */
#include "core/error.h" // uses: tb_fail_prefix
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_arg_spec, TB_OP_CONV_FWD, TB_OP_CONV_BWD_DATA, ...

#include <string.h>

enum { ROLE_X, ROLE_W, ROLE_Y, ROLE_COUNT };

/* Which interface tensor each execution argument is, per direction. */
static const struct {
    const char *name;
    tb_cpu_arg_spec args[3];
} conv_ops[] = {
    [TB_OP_CONV_FWD] = {"conv_fwd",
                        {{DNNL_ARG_SRC, ROLE_X, 0}, {DNNL_ARG_WEIGHTS, ROLE_W, 0}, {DNNL_ARG_DST, ROLE_Y, 1}}},
    [TB_OP_CONV_BWD_DATA] = {"conv_bwd_data",
                             {{DNNL_ARG_DIFF_DST, ROLE_Y, 0},
                              {DNNL_ARG_WEIGHTS, ROLE_W, 0},
                              {DNNL_ARG_DIFF_SRC, ROLE_X, 1}}},
    [TB_OP_CONV_BWD_WEIGHTS] = {"conv_bwd_weights",
                                {{DNNL_ARG_SRC, ROLE_X, 0},
                                 {DNNL_ARG_DIFF_DST, ROLE_Y, 0},
                                 {DNNL_ARG_DIFF_WEIGHTS, ROLE_W, 1}}},
};

static int conv_desc_init(dnnl_convolution_desc_t *cd, int op, const tb_conv_desc *d,
                          const dnnl_memory_desc_t md[ROLE_COUNT])
{
    const dnnl_dims_t strides = {d->stride, d->stride}, pad = {d->pad, d->pad};
    dnnl_status_t st;
    if (op == TB_OP_CONV_FWD)
        st = dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, &md[ROLE_X],
                                                &md[ROLE_W], NULL, &md[ROLE_Y], strides, pad, pad);
    else if (op == TB_OP_CONV_BWD_DATA)
        st = dnnl_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, &md[ROLE_X], &md[ROLE_W],
                                                      &md[ROLE_Y], strides, pad, pad);
    else
        st = dnnl_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, &md[ROLE_X], &md[ROLE_W],
                                                         NULL, &md[ROLE_Y], strides, pad, pad);
    return tb_cpu_check(st, "dnnl_convolution_*_desc_init");
}

/* The primitive descriptor of op over the layouts in md (the forward one
 * as the hint for backward). */
static int conv_pd(tb_cpu *c, int op, const tb_conv_desc *d, const dnnl_memory_desc_t md[ROLE_COUNT],
                   dnnl_primitive_desc_t *pd)
{
    dnnl_convolution_desc_t cd, fwd;
    dnnl_primitive_desc_t hint = NULL;
    *pd = NULL;
    if (conv_desc_init(&cd, op, d, md) ||
        (op != TB_OP_CONV_FWD &&
         (conv_desc_init(&fwd, TB_OP_CONV_FWD, d, md) || tb_cpu_pd_create(c, &fwd, NULL, NULL, &hint))))
        return -1;
    int rc = tb_cpu_pd_create(c, &cd, NULL, hint, pd);
    dnnl_primitive_desc_destroy(hint);
    return rc;
}

static int is_reference(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    return dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
           !strncmp(impl, "ref", 3);
}

/* x and y are described in their own layouts.  The primitive first gets a
 * native (blocked) one as it is, so that no reorder runs between layers;
 * where oneDNN has only its reference kernel for that combination (seen
 * with an nChw8c input and nChw16c output, 100x slower), and for plain
 * tensors, it picks its own (format_tag_any) and reorders are added.  Weights always get format_tag_any and a reorder:
 * they are OIHW at the interface and change every step. */
static tb_cpu_prim *conv_build(tb_cpu *c, const tb_cpu_key *key, int op, const tb_conv_desc *d, const tb_tensor *x,
                               const tb_tensor *y)
{
    const tb_shape wshape = {d->out_c, d->in_c, d->kernel, d->kernel};
    dnnl_memory_desc_t user[ROLE_COUNT], prim[ROLE_COUNT], any[ROLE_COUNT];
    const dnnl_memory_desc_t *user_mds[ROLE_COUNT] = {&user[ROLE_X], &user[ROLE_W], &user[ROLE_Y]};
    if (tb_cpu_md_tensor(&user[ROLE_X], x) || tb_cpu_md_tensor(&user[ROLE_Y], y) ||
        tb_cpu_md_nchw(&user[ROLE_W], wshape, dnnl_oihw) || tb_cpu_md_nchw(&any[ROLE_X], x->shape, dnnl_format_tag_any) ||
        tb_cpu_md_nchw(&any[ROLE_W], wshape, dnnl_format_tag_any) ||
        tb_cpu_md_nchw(&any[ROLE_Y], y->shape, dnnl_format_tag_any))
        return NULL;
    prim[ROLE_W] = any[ROLE_W];
    prim[ROLE_X] = tb_cpu_tag(x) == dnnl_nchw ? any[ROLE_X] : user[ROLE_X];
    prim[ROLE_Y] = tb_cpu_tag(y) == dnnl_nchw ? any[ROLE_Y] : user[ROLE_Y];
    dnnl_primitive_desc_t pd;
    if (conv_pd(c, op, d, prim, &pd) || is_reference(pd)) {
        dnnl_primitive_desc_destroy(pd);
        if (conv_pd(c, op, d, any, &pd))
            return NULL;
    }
    return tb_cpu_prim_build_pd(c, key, pd, conv_ops[op].args, 3, user_mds);
}

/* x is the input side (x, or dx for backward data), y the output side. */
static int conv_run(tb_backend *b, int op, const tb_conv_desc *d, const tb_tensor *x, const float *w,
                    const tb_tensor *y)
{
    const char *name = conv_ops[op].name;
    const tb_shape xs = x->shape;
    if (tb_conv_validate(name, d, xs, y->shape))
        return -1;
    tb_cpu *c = tb_cpu_of(b);
    tb_cpu_key key = {op, {xs.n, xs.c, xs.h, xs.w, d->out_c, d->kernel, d->stride, d->pad, (int)tb_cpu_tag(x),
                           (int)tb_cpu_tag(y)}};
    tb_cpu_prim *p = tb_cpu_find(c, &key);
    if (!p)
        p = conv_build(c, &key, op, d, x, y);
    void *const by_role[ROLE_COUNT] = {x->data, (void *)w, y->data};
    if (!p || tb_cpu_prim_run(c, p, by_role))
        return tb_fail_prefix("%s of x " TB_SHAPE_FMT " with %dx%d kernel, %d->%d channels, stride %d, pad %d",
                              name, TB_SHAPE_ARG(xs), d->kernel, d->kernel, d->in_c, d->out_c, d->stride, d->pad);
    return 0;
}

int tb_cpu_conv_fwd(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w, tb_tensor *y)
{
    return conv_run(b, TB_OP_CONV_FWD, d, x, w, y);
}

int tb_cpu_conv_bwd_data(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w, tb_tensor *dx)
{
    return conv_run(b, TB_OP_CONV_BWD_DATA, d, dx, w, dy);
}

int tb_cpu_conv_bwd_weights(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *dy,
                            float *dw)
{
    return conv_run(b, TB_OP_CONV_BWD_WEIGHTS, d, x, dw, dy);
}
