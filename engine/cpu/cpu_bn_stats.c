/* The reductions of training batch normalisation, on blocked and plain
 * layouts: batch mean and variance forward, and backward dgamma, dbeta and
 * dx; and the normalisation of plain tensors.
 *
 * oneDNN's jit bnorm splits N*H*W between threads and adds float partial
 * sums, a different rounding from PyTorch's; over a few training steps that
 * flipped ReLUs whose inputs were within ~1e-6 of zero and took the PyTorch
 * oracle tests (tests/test_torch_oracle.py: resnet18, training) past their
 * bounds, while the first step matched to 4e-6.  Sums in double round once,
 * to the float nearest the exact value whatever the thread count.  On
 * blocked tensors the forward normalisation itself stays a oneDNN jit
 * primitive (cpu_bn.c); on plain ones oneDNN only has ncsp_bnorm, 2.3 ms a
 * call on 64x8x32x32 with ReLU fused, so a pass here does it.  The
 * backward is a plain pass here, since oneDNN's backward primitive would
 * redo the reductions in float.  Both are memory bound: two reads of x
 * forward, two reads of x and dy (and y for the ReLU mask) and a write of
 * dx backward. */
#include "core/error.h" // uses: tb_fail
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_bn_backward, tb_cpu_tag, tb_cpu_bn_batch_stats, ...

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Channels per block of a layout tag (nChw8c too, should native use it);
 * every tag here keeps N outermost. */
static int block_of(dnnl_format_tag_t tag) { return tag == dnnl_nChw16c ? 16 : tag == dnnl_nChw8c ? 8 : 1; }

/* The hot loops are compiled for AVX-512 and AVX2 too (the build targets
 * baseline x86-64, two doubles a vector) and picked at load time. */
#define TB_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

/* The reductions walk a block's pixels as a stream of 8-float chunks: with 16
 * channels a block, chunks alternate between channels 0-7 and 8-15 (period
 * 2); with 8, every chunk holds channels 0-7; plain, every chunk holds 8
 * pixels of one channel.  Four running totals of 8 doubles each, chunk j
 * adding into total j % 4, keep the adds independent and in registers (the
 * scalar loop with totals in memory, one add waiting on the one before, was
 * 11.6% of a resnet18-cifar:w8 step).  GCC's vector extensions, not
 * intrinsics, so the clones above still pick the instruction set. */
typedef float f8 __attribute__((vector_size(32)));
typedef double d8 __attribute__((vector_size(64)));
typedef int i8 __attribute__((vector_size(32)));
typedef float f8_u __attribute__((vector_size(32), aligned(4), may_alias)); /* unaligned loads */

/* Macros, not functions: vector arguments and returns would change the ABI
 * between the clones. */
#define LOAD8(p) ((f8) * (const f8_u *)(p))
#define WIDEN(v) __builtin_convertvector((v), d8)
/* dy where y > 0, else 0 (a y that is not above zero includes NaN). */
#define MASKED(dy, y) ((f8)((i8)(dy) & (i8)((y) > 0)))

/* Channel group (0 or 1) of chunk slot s, for period 1 or 2. */
static inline int group(int s, int period) { return s & (period - 1); }

/* sums[group] += x (pass 0) or (x - mean)^2 (pass 1) over `chunks` chunks;
 * mean[g] is the 8 means of group g. */
TB_SIMD_CLONES static void chunk_sums(const float *restrict p, size_t chunks, int period, int pass,
                                      const d8 *restrict mean, d8 *restrict sums)
{
    d8 t[4] = {0};
    size_t j = 0;
    for (; j + 4 <= chunks; j += 4)
        for (int s = 0; s < 4; s++) {
            d8 v = WIDEN(LOAD8(p + 8 * (j + (size_t)s)));
            if (pass)
                v -= mean[group(s, period)];
            t[s] += pass ? v * v : v;
        }
    for (; j < chunks; j++) {
        d8 v = WIDEN(LOAD8(p + 8 * j));
        if (pass)
            v -= mean[group((int)(j & 3), period)];
        t[j & 3] += pass ? v * v : v;
    }
    for (int s = 0; s < 4; s++)
        sums[group(s, period)] += t[s];
}

/* Backward: sg[group] += g and sgx[group] += g * xhat, g = dy masked by y
 * (when y is given), xhat = (x - mean) * inv_std in float as before the
 * double product; m and is are the 8 means and inverse deviations of each
 * group. */
TB_SIMD_CLONES static void chunk_bwd_sums(const float *restrict px, const float *restrict pd,
                                          const float *restrict py, size_t chunks, int period,
                                          const f8 *restrict m, const f8 *restrict is, d8 *restrict sg,
                                          d8 *restrict sgx)
{
    d8 g[4] = {0}, h[4] = {0};
    size_t j = 0;
    for (; j + 4 <= chunks; j += 4)
        for (int s = 0; s < 4; s++) {
            size_t at = 8 * (j + (size_t)s);
            int q = group(s, period);
            f8 v = py ? MASKED(LOAD8(pd + at), LOAD8(py + at)) : LOAD8(pd + at);
            f8 xhat = (LOAD8(px + at) - m[q]) * is[q];
            g[s] += WIDEN(v);
            h[s] += WIDEN(v) * WIDEN(xhat);
        }
    for (; j < chunks; j++) {
        size_t at = 8 * j;
        int q = group((int)(j & 3), period);
        f8 v = py ? MASKED(LOAD8(pd + at), LOAD8(py + at)) : LOAD8(pd + at);
        f8 xhat = (LOAD8(px + at) - m[q]) * is[q];
        g[j & 3] += WIDEN(v);
        h[j & 3] += WIDEN(v) * WIDEN(xhat);
    }
    for (int s = 0; s < 4; s++) {
        sg[group(s, period)] += g[s];
        sgx[group(s, period)] += h[s];
    }
}

/* One block as a chunk stream: its period, and its whole chunks (a plain
 * plane's count % 8 tail is the caller's). */
static int period_of(int block) { return block == 1 ? 1 : block / 8; }
static size_t chunks_of(size_t count, int block) { return block == 1 ? count / 8 : count * (size_t)(block / 8); }

/* out[q] = the 8 lanes of channel group q: v[8q .. 8q + 7], or v[0] in every
 * lane when plain. */
#define GROUP_LANES(out, v, block)                                                                          \
    for (int q_ = 0; q_ < period_of(block); q_++)                                                           \
        for (int k_ = 0; k_ < 8; k_++)                                                                      \
            (out)[q_][k_] = (v)[(block) == 1 ? 0 : 8 * q_ + k_]

/* acc[c] += the group totals: lane by lane, or all lanes into acc[0] when
 * plain. */
static void add_groups(double *acc, const d8 *t, int block)
{
    for (int q = 0; q < period_of(block); q++)
        for (int k = 0; k < 8; k++)
            acc[block == 1 ? 0 : 8 * q + k] += t[q][k];
}

/* sums[c] += x (pass 0) or (x - mean[c])^2 (pass 1) over `count` pixels of
 * one block of `block` channels (16, 8, or 1: plain). */
static void block_sums(const float *p, size_t count, int block, int pass, const double *m, double *acc)
{
    d8 mean[2] = {0}, sums[2] = {0};
    const size_t chunks = chunks_of(count, block);
    if (pass) /* pass 0 has no means */
        GROUP_LANES(mean, m, block);
    chunk_sums(p, chunks, period_of(block), pass, mean, sums);
    add_groups(acc, sums, block);
    for (size_t i = chunks * 8; block == 1 && i < count; i++) {
        double v = pass ? p[i] - m[0] : p[i];
        acc[0] += pass ? v * v : v;
    }
}

/* Per-channel sums of g = dy (0 where y <= 0, with y) and g * xhat over
 * `count` pixels of one block; xhat = (x - mean) * inv_std. */
static void block_bwd_sums(const float *px, const float *pd, const float *py, size_t count, int block,
                           const float *m, const float *is, double *sg, double *sgx)
{
    f8 mv[2] = {0}, iv[2] = {0};
    d8 g[2] = {0}, h[2] = {0};
    const size_t chunks = chunks_of(count, block);
    GROUP_LANES(mv, m, block);
    GROUP_LANES(iv, is, block);
    chunk_bwd_sums(px, pd, py, chunks, period_of(block), mv, iv, g, h);
    add_groups(sg, g, block);
    add_groups(sgx, h, block);
    for (size_t i = chunks * 8; block == 1 && i < count; i++) {
        float v = py && !(py[i] > 0) ? 0.0f : pd[i];
        sg[0] += v;
        sgx[0] += (double)v * ((px[i] - m[0]) * is[0]);
    }
}

/* sums[c] += x (pass 0) or (x - mean[c])^2 (pass 1) over images [n0, n1). */
static void accumulate(const float *x, tb_shape s, int block, int pass, const double *mean, int n0, int n1,
                       double *sums)
{
    const size_t hw = (size_t)s.h * s.w;
    const int blocks = s.c / block;
    for (int n = n0; n < n1; n++)
        for (int cb = 0; cb < blocks; cb++)
            block_sums(x + ((size_t)n * blocks + cb) * hw * block, hw, block, pass, mean + (size_t)cb * block,
                       sums + (size_t)cb * block);
}

/* One pass: per-thread sums over a slice of the images, added in thread
 * order. */
static void channel_sums(const float *x, tb_shape s, int block, int pass, const double *mean, double *out,
                         double *partial, int nthr)
{
    memset(partial, 0, (size_t)nthr * s.c * sizeof *partial);
#pragma omp parallel num_threads(nthr)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        accumulate(x, s, block, pass, mean, s.n * t / k, s.n * (t + 1) / k, partial + (size_t)t * s.c);
    }
    for (int c = 0; c < s.c; c++) {
        out[c] = 0;
        for (int t = 0; t < nthr; t++)
            out[c] += partial[(size_t)t * s.c + c];
    }
}

/* dx = a * (g - k1 - xhat * k2) over `chunks` chunks (a = gamma * inv_std,
 * k1 = mean(g), k2 = mean(g * xhat)); each coefficient is 8 lanes a group.
 * dx may be dy. */
typedef struct {
    f8 m[2], is[2], a[2], k1[2], k2[2];
} dx_coef;

TB_SIMD_CLONES static void chunk_bwd_dx(const float *restrict px, const float *pd, const float *restrict py,
                                        float *pdx, size_t chunks, int period, const dx_coef *restrict k)
{
    for (size_t j = 0; j < chunks; j++) {
        const int q = group((int)(j & 3), period);
        size_t at = 8 * j;
        f8 g = py ? MASKED(LOAD8(pd + at), LOAD8(py + at)) : LOAD8(pd + at);
        f8 xhat = (LOAD8(px + at) - k->m[q]) * k->is[q];
        *(f8_u *)(pdx + at) = k->a[q] * (g - k->k1[q] - xhat * k->k2[q]);
    }
}

static void block_bwd_dx(const float *px, const float *pd, const float *py, float *pdx, size_t count, int block,
                         const float *m, const float *is, const float *a, const float *k1, const float *k2)
{
    dx_coef k;
    memset(&k, 0, sizeof k);
    GROUP_LANES(k.m, m, block);
    GROUP_LANES(k.is, is, block);
    GROUP_LANES(k.a, a, block);
    GROUP_LANES(k.k1, k1, block);
    GROUP_LANES(k.k2, k2, block);
    const size_t chunks = chunks_of(count, block);
    chunk_bwd_dx(px, pd, py, pdx, chunks, period_of(block), &k);
    for (size_t i = chunks * 8; block == 1 && i < count; i++) {
        float g = py && !(py[i] > 0) ? 0.0f : pd[i];
        pdx[i] = a[0] * (g - k1[0] - (px[i] - m[0]) * is[0] * k2[0]);
    }
}

static void bwd_sums(const tb_tensor *x, const tb_tensor *dy, const tb_tensor *y, int block, const float *mean,
                     const float *inv_std, int n0, int n1, double *sum_g, double *sum_gx)
{
    const tb_shape s = x->shape;
    const size_t hw = (size_t)s.h * s.w;
    const int blocks = s.c / block;
    for (int n = n0; n < n1; n++)
        for (int cb = 0; cb < blocks; cb++) {
            size_t at = ((size_t)n * blocks + cb) * hw * block;
            int c0 = cb * block;
            block_bwd_sums(x->data + at, dy->data + at, y ? y->data + at : NULL, hw, block, mean + c0, inv_std + c0,
                           sum_g + c0, sum_gx + c0);
        }
}

int tb_cpu_bn_backward(const tb_tensor *x, const tb_tensor *dy, const tb_tensor *y, const float *gamma,
                       const float *mean, const float *var, float eps, tb_tensor *dx, float *dgamma, float *dbeta)
{
    const tb_shape s = x->shape;
    dnnl_format_tag_t tag = tb_cpu_tag(x);
    if (tag == dnnl_format_tag_undef)
        return -1;
    const int block = block_of(tag), nthr = omp_get_max_threads(), c = s.c;
    double *sums = malloc((2 * (size_t)nthr + 2) * c * sizeof *sums);
    float *coef = malloc(4 * (size_t)c * sizeof *coef);
    if (!sums || !coef) {
        free(sums);
        free(coef);
        return tb_fail("out of memory for batch-norm backward of " TB_SHAPE_FMT, TB_SHAPE_ARG(s));
    }
    float *inv_std = coef, *a = coef + c, *k1 = coef + 2 * c, *k2 = coef + 3 * c;
    for (int i = 0; i < c; i++)
        inv_std[i] = (float)(1.0 / sqrt((double)var[i] + eps));
    double *sg = sums, *sgx = sums + c, *partial = sums + 2 * (size_t)c;
    memset(partial, 0, 2 * (size_t)nthr * c * sizeof *partial);
#pragma omp parallel num_threads(nthr)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        double *p = partial + 2 * (size_t)t * c;
        bwd_sums(x, dy, y, block, mean, inv_std, s.n * t / k, s.n * (t + 1) / k, p, p + c);
    }
    const double count = (double)s.n * s.h * s.w;
    for (int i = 0; i < c; i++) {
        sg[i] = sgx[i] = 0;
        for (int t = 0; t < nthr; t++) {
            sg[i] += partial[2 * (size_t)t * c + i];
            sgx[i] += partial[2 * (size_t)t * c + c + i];
        }
        dbeta[i] = (float)sg[i];
        dgamma[i] = (float)sgx[i];
        a[i] = gamma[i] * inv_std[i];
        k1[i] = (float)(sg[i] / count);
        k2[i] = (float)(sgx[i] / count);
    }
    /* dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)) */
    const size_t hw = (size_t)s.h * s.w;
    const int blocks = c / block;
#pragma omp parallel for num_threads(nthr) collapse(2) schedule(static)
    for (int n = 0; n < s.n; n++)
        for (int cb = 0; cb < blocks; cb++) {
            size_t at = ((size_t)n * blocks + cb) * hw * block;
            const int c0 = cb * block;
            block_bwd_dx(x->data + at, dy->data + at, y ? y->data + at : NULL, dx->data + at, hw, block, mean + c0,
                         inv_std + c0, a + c0, k1 + c0, k2 + c0);
        }
    free(sums);
    free(coef);
    return 0;
}

int tb_cpu_bn_batch_stats(const tb_tensor *x, float *mean, float *var)
{
    const tb_shape s = x->shape;
    dnnl_format_tag_t tag = tb_cpu_tag(x);
    if (tag == dnnl_format_tag_undef)
        return -1;
    int nthr = omp_get_max_threads();
    double *work = malloc(((size_t)nthr + 2) * s.c * sizeof *work);
    if (!work)
        return tb_fail("out of memory for batch-norm statistics of " TB_SHAPE_FMT, TB_SHAPE_ARG(s));
    double *dmean = work, *dvar = work + s.c, *partial = work + 2 * (size_t)s.c;
    const double count = (double)s.n * s.h * s.w;
    channel_sums(x->data, s, block_of(tag), 0, NULL, dmean, partial, nthr);
    for (int c = 0; c < s.c; c++)
        dmean[c] /= count;
    channel_sums(x->data, s, block_of(tag), 1, dmean, dvar, partial, nthr);
    for (int c = 0; c < s.c; c++) {
        mean[c] = (float)dmean[c];
        var[c] = (float)(dvar[c] / count); /* biased, as oneDNN and PyTorch normalise with */
    }
    free(work);
    return 0;
}

/* y = x * a + b per channel plane (relu: then max(0, .)); y may be x. */
TB_SIMD_CLONES static void plane_affine(const float *x, float *y, size_t count, float a, float b, int relu)
{
    if (relu)
        for (size_t i = 0; i < count; i++) {
            float v = x[i] * a + b;
            y[i] = v > 0 ? v : 0;
        }
    else
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] * a + b;
}

int tb_cpu_bn_normalize_plain(const tb_tensor *x, const float *gamma, const float *beta, const float *mean,
                              const float *var, float eps, int relu, tb_tensor *y)
{
    const tb_shape s = x->shape;
    float *coef = malloc(2 * (size_t)s.c * sizeof *coef);
    if (!coef)
        return tb_fail("out of memory for batch-norm of " TB_SHAPE_FMT, TB_SHAPE_ARG(s));
    /* PyTorch's form: alpha = gamma * inv_std, beta - mean * alpha. */
    float *a = coef, *b = coef + s.c;
    for (int c = 0; c < s.c; c++) {
        a[c] = gamma[c] * (float)(1.0 / sqrt((double)var[c] + eps));
        b[c] = beta[c] - mean[c] * a[c];
    }
    const size_t hw = (size_t)s.h * s.w;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++) {
            size_t at = ((size_t)n * s.c + c) * hw;
            plane_affine(x->data + at, y->data + at, hw, a[c], b[c], relu);
        }
    free(coef);
    return 0;
}
