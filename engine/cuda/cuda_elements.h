/* The per-element work of the CUDA backend's own kernels (cuda_kernels.cu),
 * as functions that compile both under nvcc (__host__ __device__) and as
 * plain C11 (static inline), so that tests/test_cuda_host.c runs them over
 * every index on the CPU against the CPU backend.  Index arithmetic is where
 * kernels break first, so it lives here: given the flat index i and the
 * shapes, each function computes what element i writes, and a kernel is a
 * grid-stride loop calling one of them.  Reductions keep their tree (warp
 * shuffles, block sums) in the kernel; only the per-element or per-row
 * pieces are here.
 *
 * No CUDA headers and no C++ here: the test includes this file alone and
 * builds where CUDA is not installed.  Rounding: on the device the
 * optimizer bodies use __fmaf_rn/__fmul_rn/__fadd_rn/__fdiv_rn (IEEE, never
 * contracted by nvcc); on the host fmaf and plain C operators, which round
 * the same way, so host and device agree bit for bit. */
#ifndef TB_CUDA_ELEMENTS_H
#define TB_CUDA_ELEMENTS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define TB_HD __host__ __device__ inline
#else
#define TB_HD static inline
#endif

/* One rounding each, as the CPU file's operations (MADD is a fused fma). */
#ifdef __CUDA_ARCH__
#define TB_EL_FMA(a, b, c) __fmaf_rn((a), (b), (c))
#define TB_EL_MUL(a, b) __fmul_rn((a), (b))
#define TB_EL_ADD(a, b) __fadd_rn((a), (b))
#define TB_EL_DIV(a, b) __fdiv_rn((a), (b))
#else
#define TB_EL_FMA(a, b, c) fmaf((a), (b), (c))
#define TB_EL_MUL(a, b) ((a) * (b))
#define TB_EL_ADD(a, b) ((a) + (b))
#define TB_EL_DIV(a, b) ((a) / (b))
#endif

/* ---- element-wise ---------------------------------------------------- */

TB_HD void tb_el_relu_fwd(size_t i, const float *x, float *y) { y[i] = fmaxf(x[i], 0.0f); }

TB_HD void tb_el_relu_bwd(size_t i, const float *y, const float *dy, float *dx)
{
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

TB_HD void tb_el_add(size_t i, const float *a, const float *c, float *y, int relu)
{
    float v = a[i] + c[i];
    y[i] = relu ? fmaxf(v, 0.0f) : v;
}

/* ---- fully connected: y [rows][cols] row-major -------------------------- */

TB_HD void tb_el_bias_add_rows(size_t i, float *y, const float *bias, int cols)
{
    y[i] += bias[i % (size_t)cols];
}

/* Column j summed over the rows in order (one thread per column). */
TB_HD void tb_el_col_sum(int j, const float *dy, float *db, int rows, int cols)
{
    float s = 0.0f;
    for (int r = 0; r < rows; r++)
        s += dy[(size_t)r * (size_t)cols + (size_t)j];
    db[j] = s;
}

/* ---- softmax cross-entropy, per row of logits [n][k] --------------------
 * The kernel reduces the row maximum mx and sum of tb_el_xent_term over j
 * across a warp; log_sum = log(that sum). */

TB_HD int tb_el_xent_label_ok(int label, int k) { return label >= 0 && label < k; }

TB_HD double tb_el_xent_term(const float *row, int j, float mx) { return exp((double)row[j] - mx); }

/* The row's loss; 0 for a bad label (reported separately). */
TB_HD double tb_el_xent_loss(const float *row, int label, int k, float mx, double log_sum)
{
    return tb_el_xent_label_ok(label, k) ? log_sum - ((double)row[label] - mx) : 0.0;
}

TB_HD void tb_el_xent_grad(int j, const float *row, float *drow, int label, float mx, double log_sum,
                           float grad_scale)
{
    drow[j] = (float)((exp((double)row[j] - mx - log_sum) - (double)(j == label)) * grad_scale);
}

/* ---- sum of squares: the summand, in double ---------------------------- */

TB_HD double tb_el_square(size_t i, const float *x) { return (double)x[i] * (double)x[i]; }

/* ---- optimizers: the loop bodies of engine/cpu/cpu_optim.c, scalars from
 * the host as that file computes them ------------------------------------ */

/* SGD without a momentum buffer. */
TB_HD void tb_el_sgd_plain(size_t i, float *p, const float *g, float wd, float neg_lr)
{
    p[i] = TB_EL_FMA(TB_EL_FMA(p[i], wd, g[i]), neg_lr, p[i]);
}

/* SGD with momentum, Nesterov (u_b = m, u_d = 1) and LARS (neg_lr scaled). */
TB_HD void tb_el_sgd(size_t i, float *p, const float *g, float *buf, float wd, float keep, float scale, float u_b,
                     float u_d, float neg_lr)
{
    float d = TB_EL_FMA(p[i], wd, g[i]);
    float b = TB_EL_FMA(d, scale, TB_EL_MUL(buf[i], keep));
    buf[i] = b;
    p[i] = TB_EL_FMA(TB_EL_FMA(b, u_b, TB_EL_MUL(d, u_d)), neg_lr, p[i]);
}

TB_HD void tb_el_adagrad(size_t i, float *p, const float *g, float *sum, float wd, float eps, float neg_clr)
{
    float d = TB_EL_FMA(p[i], wd, g[i]);
    float s = TB_EL_FMA(d, d, sum[i]);
    sum[i] = s;
    p[i] = TB_EL_ADD(p[i], TB_EL_DIV(TB_EL_MUL(neg_clr, d), TB_EL_ADD(sqrtf(s), eps)));
}

TB_HD void tb_el_adadelta(size_t i, float *p, const float *g, float *sq, float *acc, float wd, float eps, float rho,
                          float c, float neg_lr)
{
    float d = TB_EL_FMA(p[i], wd, g[i]);
    float s = TB_EL_FMA(TB_EL_MUL(c, d), d, TB_EL_MUL(sq[i], rho));
    sq[i] = s;
    float delta = TB_EL_MUL(TB_EL_DIV(sqrtf(TB_EL_ADD(acc[i], eps)), sqrtf(TB_EL_ADD(s, eps))), d);
    acc[i] = TB_EL_FMA(TB_EL_MUL(c, delta), delta, TB_EL_MUL(acc[i], rho));
    p[i] = TB_EL_FMA(delta, neg_lr, p[i]);
}

TB_HD void tb_el_adam(size_t i, float *p, const float *g, float *m, float *v, float wd, float eps, float beta1,
                      float beta2, float c1, float c2, float neg_step, float bc2_sqrt)
{
    float d = TB_EL_FMA(p[i], wd, g[i]);
    float mi = TB_EL_FMA(d, c1, TB_EL_MUL(m[i], beta1));
    float vi = TB_EL_FMA(TB_EL_MUL(c2, d), d, TB_EL_MUL(v[i], beta2));
    m[i] = mi;
    v[i] = vi;
    float denom = TB_EL_ADD(TB_EL_DIV(sqrtf(vi), bc2_sqrt), eps);
    p[i] = TB_EL_ADD(p[i], TB_EL_DIV(TB_EL_MUL(neg_step, mi), denom));
}

/* ---- layouts: the source index of destination element i ----------------
 * The kernels convert precision (fp32 <-> bf16/half) on the element these
 * return; each is indexed by its destination so the writes coalesce. */

/* NHWC destination i -> NCHW source index. */
TB_HD size_t tb_el_nchw_to_nhwc_src(size_t i, int c, int h, int w)
{
    size_t ci = i % (size_t)c;
    size_t pix = i / (size_t)c; /* (img * h + y) * w + x */
    size_t xi = pix % (size_t)w;
    size_t r = pix / (size_t)w;
    size_t yi = r % (size_t)h;
    size_t img = r / (size_t)h;
    return ((img * (size_t)c + ci) * (size_t)h + yi) * (size_t)w + xi;
}

/* NCHW destination i -> NHWC source index. */
TB_HD size_t tb_el_nhwc_to_nchw_src(size_t i, int c, int h, int w)
{
    size_t xi = i % (size_t)w;
    size_t r = i / (size_t)w;
    size_t yi = r % (size_t)h;
    r /= (size_t)h;
    size_t ci = r % (size_t)c;
    size_t img = r / (size_t)c;
    return ((img * (size_t)h + yi) * (size_t)w + xi) * (size_t)c + ci;
}

/* ---- augmentation (cuda_kernels.h, tbk_augment_u8): dst [n][c][H][W] ---- */

TB_HD void tb_el_augment(size_t i, const uint8_t *src, float *dst, int c, int h, int w, int H, int W, int pad_y,
                         int pad_x, const int *dy, const int *dx, const int *flip, const float *lut)
{
    int x = (int)(i % (size_t)W);
    size_t r = i / (size_t)W;
    int y = (int)(r % (size_t)H);
    r /= (size_t)H;
    int ch = (int)(r % (size_t)c);
    size_t img = r / (size_t)c;
    int ox = dx[img] - pad_x, oy = dy[img] - pad_y;
    int sy = y + oy, sx = flip[img] ? W - 1 + ox - x : x + ox;
    unsigned v = 0;
    if (sy >= 0 && sy < h && sx >= 0 && sx < w)
        v = src[((img * (size_t)c + (size_t)ch) * (size_t)h + (size_t)sy) * (size_t)w + (size_t)sx];
    dst[i] = lut[ch * 256 + (int)v];
}

#endif
