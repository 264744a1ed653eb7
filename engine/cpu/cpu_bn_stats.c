/* The reductions of training batch normalisation on blocked layouts: batch
 * mean and variance forward, and backward dgamma, dbeta and dx.
 *
 * oneDNN's jit bnorm splits N*H*W between threads and adds float partial
 * sums, a different rounding from PyTorch's; over a few training steps that
 * flipped ReLUs whose inputs were within ~1e-6 of zero and took the PyTorch
 * oracle tests (tests/test_torch_oracle.py: resnet18, training) past their
 * bounds, while the first step matched to 4e-6.  Sums in double round once,
 * to the float nearest the exact value whatever the thread count.  The
 * forward normalisation itself stays a oneDNN primitive (cpu_bn.c); the
 * backward is a plain pass here, since oneDNN's backward primitive would
 * redo the reductions in float.  Both are memory bound: two reads of x
 * forward, two reads of x and dy (and y for the ReLU mask) and a write of
 * dx backward. */
#include "cpu_internal.h"
#include "error.h"

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

/* sums[c] += x (pass 0) or (x - mean[c])^2 (pass 1) over `count` pixels of
 * one channel block of `block` channels, in double. */
TB_SIMD_CLONES static void block_sums(const float *restrict p, size_t count, int block, int pass,
                                      const double *restrict m, double *restrict acc)
{
    if (block == 16) {
        for (size_t i = 0; i < count; i++, p += 16)
            for (int b = 0; b < 16; b++) {
                double v = pass ? p[b] - m[b] : p[b];
                acc[b] += pass ? v * v : v;
            }
    } else if (block == 8) {
        for (size_t i = 0; i < count; i++, p += 8)
            for (int b = 0; b < 8; b++) {
                double v = pass ? p[b] - m[b] : p[b];
                acc[b] += pass ? v * v : v;
            }
    } else {
        double a = 0;
        for (size_t i = 0; i < count; i++) {
            double v = pass ? p[i] - m[0] : p[i];
            a += pass ? v * v : v;
        }
        acc[0] += a;
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

/* Per-channel sums of g = dy (0 where y <= 0, with y) and g * xhat over
 * `count` pixels of one block of B channels; xhat = (x - mean) * inv_std. */
#define BWD_SUMS_BLOCK(B)                                                                                   \
    for (size_t i = 0; i < count; i++, px += (B), pd += (B), py += py ? (B) : 0)                            \
        for (int b = 0; b < (B); b++) {                                                                     \
            float g = py && !(py[b] > 0) ? 0.0f : pd[b];                                                    \
            sg[b] += g;                                                                                     \
            sgx[b] += (double)g * ((px[b] - m[b]) * is[b]);                                                 \
        }

TB_SIMD_CLONES static void block_bwd_sums(const float *restrict px, const float *restrict pd, const float *restrict py,
                                          size_t count, int block, const float *restrict m,
                                          const float *restrict is, double *restrict sg, double *restrict sgx)
{
    if (block == 16) {
        BWD_SUMS_BLOCK(16)
    } else if (block == 8) {
        BWD_SUMS_BLOCK(8)
    } else {
        BWD_SUMS_BLOCK(1)
    }
}

/* dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)) over one
 * block, with a = gamma * inv_std and k1, k2 those two means. */
#define BWD_DX_BLOCK(B)                                                                                     \
    for (size_t i = 0; i < count; i++, px += (B), pd += (B), pdx += (B), py += py ? (B) : 0)                \
        for (int b = 0; b < (B); b++) {                                                                     \
            float g = py && !(py[b] > 0) ? 0.0f : pd[b];                                                    \
            pdx[b] = a[b] * (g - k1[b] - (px[b] - m[b]) * is[b] * k2[b]);                                   \
        }

TB_SIMD_CLONES static void block_bwd_dx(const float *restrict px, const float *pd, const float *restrict py,
                                        float *pdx, size_t count, int block, const float *restrict m,
                                        const float *restrict is, const float *restrict a,
                                        const float *restrict k1, const float *restrict k2)
{
    if (block == 16) {
        BWD_DX_BLOCK(16)
    } else if (block == 8) {
        BWD_DX_BLOCK(8)
    } else {
        BWD_DX_BLOCK(1)
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
