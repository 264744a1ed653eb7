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
 * measurements above are for plain tensors, which still work that way.
 *
 * --precision bf16 (cpu_backend.h) rounds where cuda_conv.c does: x, w and
 * dy to bf16 before each direction, fp32 sums, y, dx and dw rounded to
 * bf16.  Where oneDNN has a bf16 kernel for the direction (AVX512_BF16 or
 * AMX; not its reference kernel) the primitive takes bf16 descriptors and
 * the reorders from and to the fp32 interface buffers do the rounding
 * (round to nearest even).  Elsewhere, or with TB_CPU_BF16=emulate, the
 * fp32 primitive runs on copies of its inputs rounded with engine/bf16.h
 * and its output is rounded in place; products of bf16 values are exact in
 * fp32, so the two differ only in summation order. */
#include "core/error.h" // uses: tb_clear_error, tb_fail, tb_fail_prefix
#include "engine/bf16.h" // uses: tb_bf16_round
#include "engine/cpu/cpu_backend.h" // uses: TB_CPU_BF16_EMULATE, TB_CPU_BF16_ONEDNN
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_arg_spec, TB_OP_CONV_FWD, TB_OP_CONV_BWD_DATA, ...

#include <stdlib.h>
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

/* bf16 (cpu_backend.h): the inputs and the output of each direction, as
 * cuda_conv.c rounds them. */
static const int conv_inputs[][2] = {
    [TB_OP_CONV_FWD] = {ROLE_X, ROLE_W},
    [TB_OP_CONV_BWD_DATA] = {ROLE_Y, ROLE_W},
    [TB_OP_CONV_BWD_WEIGHTS] = {ROLE_X, ROLE_Y},
};
static const int conv_output[] = {[TB_OP_CONV_FWD] = ROLE_Y, [TB_OP_CONV_BWD_DATA] = ROLE_X,
                                  [TB_OP_CONV_BWD_WEIGHTS] = ROLE_W};

/* The same descriptor with bf16 elements: dims and strides count elements,
 * so a blocked layout stays the same layout. */
static void as_bf16(dnnl_memory_desc_t md[ROLE_COUNT])
{
    for (int r = 0; r < ROLE_COUNT; r++)
        md[r].data_type = dnnl_bf16;
}

/* oneDNN's bf16 primitive for op (bf16 x, w and y or their diffs, fp32
 * accumulation), on the native layouts if it has a fast one, else on its
 * own; NULL where it has none but the reference kernel, which is what
 * oneDNN offers on processors without bf16 instructions (and is slower
 * than the emulation by far). */
static dnnl_primitive_desc_t conv_pd_bf16(tb_cpu *c, int op, const tb_conv_desc *d,
                                          const dnnl_memory_desc_t prim[ROLE_COUNT],
                                          const dnnl_memory_desc_t any[ROLE_COUNT])
{
    dnnl_memory_desc_t md[2][ROLE_COUNT];
    memcpy(md[0], prim, sizeof md[0]);
    memcpy(md[1], any, sizeof md[1]);
    for (int i = 0; i < 2; i++) {
        dnnl_primitive_desc_t pd = NULL;
        as_bf16(md[i]);
        if (!conv_pd(c, op, d, md[i], &pd) && !is_reference(pd))
            return pd;
        dnnl_primitive_desc_destroy(pd);
        tb_clear_error(); /* "unimplemented" is an answer here, not a failure */
    }
    return NULL;
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
    dnnl_primitive_desc_t pd = NULL;
    if (c->bf16 && c->bf16_impl != TB_CPU_BF16_EMULATE) {
        /* the reorders from and to the caller's fp32 buffers round to bf16 and widen back */
        pd = conv_pd_bf16(c, op, d, prim, any);
        if (!pd && c->bf16_impl == TB_CPU_BF16_ONEDNN) {
            tb_fail("oneDNN %s has no bf16 %s on this processor (it needs AVX512_BF16 or AMX); unset "
                    "TB_CPU_BF16 or set TB_CPU_BF16=emulate",
                    c->name, conv_ops[op].name);
            return NULL;
        }
    }
    const int emulated = c->bf16 && !pd;
    if (!pd && (conv_pd(c, op, d, prim, &pd) || is_reference(pd))) {
        dnnl_primitive_desc_destroy(pd);
        if (conv_pd(c, op, d, any, &pd))
            return NULL;
    }
    tb_cpu_prim *p = tb_cpu_prim_build_pd(c, key, pd, conv_ops[op].args, 3, user_mds);
    if (p && c->bf16) {
        p->bf16_emulated = emulated;
        if (emulated)
            c->bf16_emulated++;
        else
            c->bf16_native++;
    }
    return p;
}

static size_t role_count(const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *y, int role)
{
    return role == ROLE_X   ? tb_shape_count(x->shape)
           : role == ROLE_Y ? tb_shape_count(y->shape)
                            : (size_t)d->out_c * (size_t)d->in_c * (size_t)d->kernel * (size_t)d->kernel;
}

static void round_copy(float *dst, const float *src, size_t n)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        dst[i] = tb_bf16_round(src[i]);
}

/* The emulation's inputs: rounded copies in the backend's buffers (the
 * caller's tensors are not ours to change; x is read again by backward). */
static int emulate_inputs(tb_cpu *c, int op, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *y,
                          void **by_role)
{
    for (int i = 0; i < 2; i++) {
        int role = conv_inputs[op][i];
        size_t n = role_count(d, x, y, role);
        if (n > c->bf16_cap[role]) {
            free(c->bf16_buf[role]);
            c->bf16_cap[role] = 0;
            c->bf16_buf[role] = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
            if (!c->bf16_buf[role])
                return tb_fail("out of memory allocating %zu bytes for bf16-rounded convolution inputs; try a "
                               "smaller --batch-size or model width",
                               n * sizeof(float));
            c->bf16_cap[role] = n;
        }
        round_copy(c->bf16_buf[role], by_role[role], n);
        by_role[role] = c->bf16_buf[role];
    }
    return 0;
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
    void *by_role[ROLE_COUNT] = {x->data, (void *)w, y->data};
    const int emulate = p && p->bf16_emulated;
    if (!p || (emulate && emulate_inputs(c, op, d, x, y, by_role)) || tb_cpu_prim_run(c, p, by_role))
        return tb_fail_prefix("%s of x " TB_SHAPE_FMT " with %dx%d kernel, %d->%d channels, stride %d, pad %d",
                              name, TB_SHAPE_ARG(xs), d->kernel, d->kernel, d->in_c, d->out_c, d->stride, d->pad);
    if (emulate) {
        int role = conv_output[op];
        float *out = by_role[role];
        round_copy(out, out, role_count(d, x, y, role));
    }
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
