/* The CPU backend's optimizer kernels: PyTorch 1.13's single-tensor
 * torch.optim updates (sgd.py, adagrad.py, adadelta.py, adam.py), one OpenMP
 * loop per rule, in fp32.
 *
 * Each loop body performs the fp32 operations of the PyTorch tensor ops it
 * mirrors, in their order, one rounding each.  PyTorch's AVX2 kernels fuse
 * `add(x, alpha=a)` into fma(x, a, self) and `addcmul(t1, t2, value=v)` into
 * fma(v * t1, t2, self); MADD does the same where the target has a fast fmaf
 * (-march with FMA), so such builds agree with PyTorch bit for bit, and
 * others differ by an ulp or so per operation.  Scalars PyTorch computes in
 * Python (1 - beta, bias corrections, Adagrad's clr) are computed in double
 * from the decimal the user wrote (tb_opt_as_typed, backend_check.c) and
 * rounded to float once, as PyTorch does when it passes them to a kernel. */
#include "engine/cpu/cpu_optim.h"
#include "engine/backend_check.h" // uses: tb_opt_as_typed, tb_opt_check_step

#include "core/error.h" // uses: tb_fail

#include <math.h>

#ifdef FP_FAST_FMAF
#define MADD(a, b, c) fmaf((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

/* Below this many elements a parallel region costs more than it saves.  The
 * loops below all name their element count n. */
#define PAR_MIN 16384
#define PARALLEL_LOOP _Pragma("omp parallel for simd schedule(static) if(parallel: n >= PAR_MIN)")

/* SGD, with momentum and Nesterov:
 *   d = g + wd * p
 *   step 1: buf = d;  later: buf = momentum * buf + (1 - dampening) * d
 *   u = nesterov ? d + momentum * buf : buf
 *   p = p - lr * u
 * With momentum 0 there is no buffer and u = d.
 *
 * LARS is the non-Nesterov rule with lr replaced by lr * trust_ratio (a float
 * product; the caller computes trust_ratio = eta |w| / (|g| + wd |w|) per
 * tensor, 1 for skipped tensors or a zero norm):
 *   d = g + wd * p
 *   step 1: buf = d;  later: buf = momentum * buf + (1 - dampening) * d
 *   p = p - (lr * trust_ratio) * buf
 * The buffer holds unscaled gradients and the ratio scales the step when it
 * is taken.  You et al.'s Algorithm 1 scales inside the buffer instead
 * (v = momentum * v + lr * trust * d; p -= v); the two agree while
 * lr * trust_ratio stays constant. */
static void sgd(const tb_opt_hyper *h, float lr, int nesterov, float *restrict p, const float *restrict g,
                float *restrict buf, size_t n)
{
    const float wd = h->weight_decay, m = h->momentum, neg_lr = -lr;
    if (!buf) {
        PARALLEL_LOOP
        for (size_t i = 0; i < n; i++)
            p[i] = MADD(MADD(p[i], wd, g[i]), neg_lr, p[i]);
        return;
    }
    /* Branch-free so the loop vectorises: PyTorch creates the buffer as a copy
     * of the first d, which keep 0, scale 1 reproduce (0 * 0 + 1 * d == d);
     * u = b * 1 + d * 0 is exactly b, u = b * m + d * 1 Nesterov's d + m * b. */
    const int first = h->step <= 1;
    const float keep = first ? 0.0f : m;
    const float scale = first ? 1.0f : (float)(1.0 - tb_opt_as_typed(h->dampening));
    const float u_b = nesterov ? m : 1.0f, u_d = nesterov ? 1.0f : 0.0f;
    PARALLEL_LOOP
    for (size_t i = 0; i < n; i++) {
        float d = MADD(p[i], wd, g[i]);
        float b = MADD(d, scale, buf[i] * keep);
        buf[i] = b;
        p[i] = MADD(MADD(b, u_b, d * u_d), neg_lr, p[i]);
    }
}

/* Adagrad (initial_accumulator_value 0):
 *   d = g + wd * p;  sum += d * d
 *   p = p - clr * d / (sqrt(sum) + eps),  clr = lr / (1 + (step - 1) * lr_decay) */
static void adagrad(const tb_opt_hyper *h, float *restrict p, const float *restrict g, float *restrict sum,
                    size_t n)
{
    const float wd = h->weight_decay, eps = h->eps;
    const float neg_clr =
        (float)-(tb_opt_as_typed(h->lr) / (1.0 + (double)(h->step - 1) * tb_opt_as_typed(h->lr_decay)));
    PARALLEL_LOOP
    for (size_t i = 0; i < n; i++) {
        float d = MADD(p[i], wd, g[i]);
        float s = MADD(d, d, sum[i]);
        sum[i] = s;
        p[i] = p[i] + neg_clr * d / (sqrtf(s) + eps);
    }
}

/* Adadelta:
 *   d = g + wd * p
 *   sq = rho * sq + (1 - rho) * d * d
 *   delta = sqrt(acc + eps) / sqrt(sq + eps) * d
 *   acc = rho * acc + (1 - rho) * delta * delta
 *   p = p - lr * delta */
static void adadelta(const tb_opt_hyper *h, float *restrict p, const float *restrict g, float *restrict sq,
                     float *restrict acc, size_t n)
{
    const float wd = h->weight_decay, eps = h->eps, rho = h->rho, neg_lr = -h->lr;
    const float c = (float)(1.0 - tb_opt_as_typed(h->rho));
    PARALLEL_LOOP
    for (size_t i = 0; i < n; i++) {
        float d = MADD(p[i], wd, g[i]);
        float s = MADD(c * d, d, sq[i] * rho);
        sq[i] = s;
        float delta = sqrtf(acc[i] + eps) / sqrtf(s + eps) * d;
        acc[i] = MADD(c * delta, delta, acc[i] * rho);
        p[i] = MADD(delta, neg_lr, p[i]);
    }
}

/* Adam (amsgrad off):
 *   d = g + wd * p
 *   m = beta1 * m + (1 - beta1) * d;  v = beta2 * v + (1 - beta2) * d * d
 *   p = p - (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps) */
static void adam(const tb_opt_hyper *h, float *restrict p, const float *restrict g, float *restrict m,
                 float *restrict v, size_t n)
{
    const double b1 = tb_opt_as_typed(h->beta1), b2 = tb_opt_as_typed(h->beta2);
    const float wd = h->weight_decay, eps = h->eps, beta1 = h->beta1, beta2 = h->beta2;
    const float c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2);
    const float neg_step = (float)-(tb_opt_as_typed(h->lr) / (1.0 - pow(b1, (double)h->step)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)h->step));
    PARALLEL_LOOP
    for (size_t i = 0; i < n; i++) {
        float d = MADD(p[i], wd, g[i]);
        float mi = MADD(d, c1, m[i] * beta1);
        float vi = MADD(c2 * d, d, v[i] * beta2);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] + neg_step * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

int tb_cpu_opt_step(tb_backend *b, const tb_opt_hyper *h, float *param, const float *grad, float *state0,
                    float *state1, size_t count)
{
    (void)b;
    int need = tb_opt_check_step(h, param, grad, state0, state1);
    if (need < 0)
        return -1;

    switch (h->kind) {
    case TB_OPT_SGD: sgd(h, h->lr, 0, param, grad, need ? state0 : NULL, count); break;
    case TB_OPT_SGD_NESTEROV: sgd(h, h->lr, 1, param, grad, need ? state0 : NULL, count); break;
    case TB_OPT_LARS: sgd(h, h->lr * h->trust_ratio, 0, param, grad, need ? state0 : NULL, count); break;
    case TB_OPT_ADAGRAD: adagrad(h, param, grad, state0, count); break;
    case TB_OPT_ADADELTA: adadelta(h, param, grad, state0, state1, count); break;
    default: adam(h, param, grad, state0, state1, count); break;
    }
    return 0;
}

int tb_cpu_sum_squares(tb_backend *b, const float *x, size_t count, double *out_host)
{
    (void)b;
    if ((!x && count) || !out_host)
        return tb_fail("sum of squares: NULL input or output");
    const size_t n = count;
    double acc = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if(parallel: n >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        acc += (double)x[i] * (double)x[i];
    *out_host = acc;
    return 0;
}
