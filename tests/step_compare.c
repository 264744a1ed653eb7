/* The whole-training-step comparison (step_compare.h).
 *
 * The bounds and their derivation: the block comment "the bounds" below. */
#include "tests/step_compare.h"

#include "core/error.h" // uses: tb_last_error
#include "core/rng.h" // uses: tb_rng, tb_rng_seed, tb_rng_normal
#include "engine/bf16.h" // uses: tb_bf16_round
#include "engine/model.h" // uses: tb_model, tb_model_create, tb_model_input, tb_model_forward, tb_model_logits, ...
#include "engine/optim.h" // uses: tb_optimizer, tb_optim_config, tb_optim_config_defaults, tb_optimizer_init, ...

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    fprintf(stderr, "step comparison: %s: %s\n", what, tb_last_error());
    exit(1);
}

/* ---- learnable data --------------------------------------------------
 * Ten classes, each a fixed pattern (a plane wave whose direction,
 * frequency and per-channel phase depend on the class) plus N(0, 0.5)
 * noise per pixel; balanced labels.  A ResNet separates these within a
 * few steps, so the logits, loss and gradients are those of a real task
 * rather than of noise (where the loss sits at log 10 and the gradients
 * are nearly all cancellation). */
enum { SIDE = 32, CH = 3, CLASSES = 10 };

static void make_batch(int batch, float *x, int32_t *labels)
{
    tb_rng r;
    tb_rng_seed(&r, 1234, 5, 0, 0);
    for (int i = 0; i < batch; i++) {
        int k = i % CLASSES;
        labels[i] = k;
        double ang = 2 * M_PI * k / CLASSES, f = 1.0 + (k % 3);
        for (int c = 0; c < CH; c++)
            for (int y = 0; y < SIDE; y++)
                for (int xx = 0; xx < SIDE; xx++) {
                    double t = f * 2 * M_PI * (cos(ang) * xx + sin(ang) * y) / SIDE + 0.7 * c * k;
                    x[(((size_t)i * CH + c) * SIDE + y) * SIDE + xx] = (float)(sin(t) + 0.5 * tb_rng_normal(&r));
                }
    }
}

/* ---- comparisons ------------------------------------------------------ */

typedef struct {
    step_result *res;
    const char *label;
    int verbose;
} ctx;

static float *fetch(tb_backend *b, const float *dev, size_t n)
{
    float *h = malloc(n * sizeof *h);
    if (!h || b->download(b, h, dev, n * sizeof *h))
        die("download");
    return h;
}

static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void record(ctx *c, double err, double bound, const char *fmt, ...)
{
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    double ratio = err / bound;
    c->res->count++;
    if (!(err <= bound))
        c->res->over++;
    if (!(ratio <= c->res->worst_ratio)) { /* NaN is worst */
        c->res->worst_ratio = ratio;
        snprintf(c->res->worst, sizeof c->res->worst, "%s: %.3g > bound %.3g", what, err, bound);
        if (err <= bound)
            snprintf(c->res->worst, sizeof c->res->worst, "%s: %.3g (bound %.3g)", what, err, bound);
    }
    if (c->verbose)
        printf("%s %-52s rel err %.3g (bound %.3g)%s\n", c->label, what, err, bound, err <= bound ? "" : "  OVER");
}

/* ---- the bounds -------------------------------------------------------
 *
 * Fixed bounds do not work for a whole step: its quantities differ by
 * orders of magnitude in how much a rounding moves them.  Measured on this
 * step (resnet18-cifar:w8, batch 32, the data above), rounding the
 * convolutions to bf16 moves the logits by 1.6e-2 (relative L2), the loss by
 * 5e-4, and the gradients by 1.4e-3 (fc) to 0.8 (batch-norm parameters of
 * the first blocks, where the gradient is a small difference of large
 * terms: BN's backward subtracts the projections on the batch mean and on
 * x-hat).  So each quantity Q gets a bound scaled by its own sensitivity,
 * measured in the same run:
 *
 *   s(Q) = ||Q_twin - Q_ref|| / ||Q_ref||
 *
 * where twin is the reference backend in the other precision (bf16 test:
 * the reference's fp32 results, the same kernels and summation orders with
 * only the roundings removed; fp32 test: its bf16 results).  s(Q) is what
 * the bf16 roundings (unit roundoff u = 2^-8, round to nearest even: error
 * uniform in +-ulp/2, relative RMS q = 2^-7 / sqrt(12) / E[m] ~ 1.6e-3 for a
 * mantissa m in [1, 2)) do to Q once propagated through the linearised
 * step, conditioning included.
 *
 * bf16 candidate vs bf16 reference.  Both round the same values at the same
 * points (cuda_conv.c: x, w, dy in; y, dx, dw out), with fp32 sums in
 * between whose order differs.  Where the fp32 values arriving at a rounding
 * point differ by d (|d| < ulp), the rounded values differ by one ulp with
 * probability |d| / ulp and are equal otherwise: mean square d * ulp.  The
 * rounding itself (reference bf16 vs fp32) has mean square ulp^2 / 12.  So
 * while d < ulp / 12 (relative ~ 2^-7 / 12 = 6.5e-4) every rounding point
 * adds less to the candidate's difference than to s, and, the step being
 * the same linear map of those contributions for both (first order), the
 * candidate's error stays under s(Q).  d starts at the fp32 summation-order
 * differences (~ sqrt(K) 2^-24 for a K-term sum: 1e-6 to 1e-5 here) and
 * grows with depth as flips propagate; once it passes ulp / 12 the two
 * roundings become independent and the candidate approaches sqrt(2) s(Q).
 * Assumptions: first-order propagation (no branch such as a ReLU or a max
 * pool flips on a difference this small often enough to matter), rounding
 * errors uncorrelated and zero-mean (true of round-to-nearest-even, not of
 * truncation), and the unsaturated regime, which holds for this step: the
 * measured ratio err / s is 0.19 for the logits and 0.14 to 0.46 for the
 * gradients (oneDNN's bf16 kernels, 2 threads, blocked layouts, against the
 * emulation, 1 thread, plain layouts; AMD EPYC with AVX512_BF16).
 * A candidate that rounds nothing sits at err = s exactly, one that rounds
 * wrongly above it (measured: truncation 0.7 to 1.7 s, weights unrounded
 * 0.7 to 1.6 s).  Bound: err(Q) <= RHO_BF16 s(Q) + FLOOR, RHO_BF16 = 0.75,
 * between the two with a margin of 1.6 on the correct side.
 *
 * Which quantities are saturated: a quantity with sensitivity s amplifies
 * relative perturbations by kappa = s / q, so the fp32 order differences
 * d0 (measured 1e-6 to 4e-6 on convolution outputs) reach the ulp / 12
 * threshold on the way to it once kappa d0 >= 6.5e-4, i.e. s >= q 6.5e-4
 * / d0 ~ 0.25 (S_SAT).  Those quantities are mostly rounding noise anyway
 * (bf16 moves them by a quarter or more: the batch-norm gradients of a deep
 * network at initialisation); they get the saturated bound sqrt(2) s(Q).
 * ResNet-50 at width 8 has such gradients (s up to 1, legitimate err / s up
 * to 1.05); ResNet-18 at width 8, the CI model, has s <= 0.55 and err / s
 * <= 0.46, under either rule.
 *
 * fp32 candidate vs fp32 reference.  The only difference is summation
 * order: per value at most gamma_K sum|terms|, in practice a random walk of
 * sqrt(K) 2^-24 relative, for the longest reduction of the step K = batch x
 * H x W (the first convolution's weight gradient).  Relative to the bf16
 * rounding noise q that is sqrt(K) 2^-24 / q = sqrt(K) 2^-16 sqrt(12) E[m],
 * and with the same first-order propagation err(Q) <= FP32_PER_BF16
 * sqrt(K) s(Q) + FLOOR, FP32_PER_BF16 = 2^-16 * 4 (sqrt(12) E[m] rounded
 * up): 0.0069 s(Q) at batch 32.  Measured err / s: 5e-6 to 1e-4.
 *
 * FLOOR = 8 x 2^-24: a few fp32 ulps of the quantity itself, for quantities
 * bf16 barely moves (running means).  The weights after one step need no
 * rule of their own: w' = w - lr (g + wd w) with w equal on both sides, so
 * their errors and sensitivities are those of the gradients times
 * lr ||g|| / ||w'||, and the ratio is the same. */
#define RHO_BF16 0.75
#define S_SAT 0.25
#define FP32_PER_BF16 (4.0 / 65536.0)
#define FLOOR (8.0 / 16777216.0)

static tb_backend *S_b; /* the reference's twin in the other precision */
static const float *S_d;
static double S_factor; /* bound = S_factor * s + FLOOR, and sqrt(2) s for saturated bf16 quantities */
static int S_bf16;

/* class_s: the sensitivity that says whether Q is saturated (a weight's
 * after the step is its gradient's: the error came with the gradient). */
static void check_q(ctx *c, double err, double sens, double class_s, const char *what)
{
    double bound = (S_bf16 && class_s > S_SAT ? sqrt(2.0) : S_factor) * sens + FLOOR;
    if (getenv("STEP_RATIO"))
        printf("RATIO %-40s err %.3g s %.3g ratio %.3g\n", what, err, sens, err / sens);
    record(c, err, bound, "%s (s %.2g)", what, sens);
}

/* Returns s(Q); class_s < 0: classify by s(Q) itself. */
static double cmp_dev(ctx *c, tb_backend *rb, const float *rd, tb_backend *cb, const float *cd, size_t n,
                      double class_s, const char *what)
{
    float *r = fetch(rb, rd, n), *g = fetch(cb, cd, n), *q = fetch(S_b, S_d, n);
    double sens = rel_l2(q, r, n);
    check_q(c, rel_l2(g, r, n), sens, class_s < 0 ? sens : class_s, what);
    free(r);
    free(g);
    free(q);
    return sens;
}

step_result step_compare(tb_backend *ref, tb_backend *cand, tb_backend *twin, const char *precision,
                         const char *model, int batch, const char *label, int verbose)
{
    step_result res = {0, 0, 0.0, ""};
    ctx c = {&res, label, verbose};
    S_bf16 = strcmp(precision, "bf16") == 0;
    S_factor = S_bf16 ? RHO_BF16 : FP32_PER_BF16 * sqrt((double)batch * SIDE * SIDE);
    tb_model_spec spec;
    if (tb_model_spec_parse(model, CLASSES, CH, 1, &spec))
        die("model spec");
    enum { R, C, S, NB };
    tb_backend *B[NB] = {ref, cand, twin};
    const int nb = NB;
    tb_model *m[NB] = {0};
    int32_t *lab[NB] = {0};
    tb_optimizer opt[NB];
    tb_optim_config oc;
    tb_optim_config_defaults(&oc);
    size_t in = (size_t)batch * CH * SIDE * SIDE;
    float *x = malloc(in * sizeof *x);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    if (!x || !labels)
        die("host buffers");
    make_batch(batch, x, labels);
    for (int k = 0; k < nb; k++) {
        m[k] = tb_model_create(B[k], &spec, batch, SIDE, SIDE, 42);
        lab[k] = m[k] ? B[k]->alloc(B[k], (size_t)batch * sizeof(int32_t), "labels") : NULL;
        if (!lab[k] || B[k]->upload(B[k], lab[k], labels, (size_t)batch * sizeof(int32_t)) ||
            B[k]->upload(B[k], tb_model_input(m[k])->data, x, in * sizeof(float)))
            die("step inputs");
        tb_optimizer_init(&opt[k], &oc);
    }
    char what[128];
    tb_tensor L[NB], D[NB];
    double loss[NB] = {0};
    for (int k = 0; k < nb; k++) {
        if (tb_model_forward(m[k], batch, 1))
            die("forward");
        L[k] = *tb_model_logits(m[k]);
        D[k] = *tb_model_dlogits(m[k]);
        L[k].shape.n = D[k].shape.n = batch;
    }
    S_b = twin;
    S_d = L[S].data;
    cmp_dev(&c, ref, L[R].data, cand, L[C].data, (size_t)batch * CLASSES, -1, "logits");
    for (int k = 0; k < nb; k++)
        if (B[k]->softmax_xent(B[k], &L[k], lab[k], 1.0f / batch, &D[k], &loss[k]))
            die("loss");
    snprintf(what, sizeof what, "loss (%.4f)", loss[R] / batch);
    double loss_s = fabs(loss[S] - loss[R]) / fabs(loss[R]);
    check_q(&c, fabs(loss[C] - loss[R]) / fabs(loss[R]), loss_s, loss_s, what);
    for (int k = 0; k < nb; k++)
        if (tb_model_backward(m[k], batch))
            die("backward");
    tb_param *p[NB];
    for (int k = 0; k < nb; k++)
        p[k] = tb_model_params(m[k]);
    int np = tb_model_param_count(m[R]);
    double *grad_s = malloc((size_t)np * sizeof *grad_s);
    if (!grad_s)
        die("host buffers");
    for (int i = 0; i < np; i++) {
        snprintf(what, sizeof what, "gradient of %s", p[R][i].name);
        S_d = p[S][i].grad;
        grad_s[i] = cmp_dev(&c, ref, p[R][i].grad, cand, p[C][i].grad, p[R][i].count, -1, what);
    }
    for (int k = 0; k < nb; k++)
        if (tb_optimizer_step(&opt[k], B[k], p[k], np, 0.1f) || B[k]->synchronize(B[k]))
            die("optimizer step");
    for (int i = 0; i < np; i++) {
        snprintf(what, sizeof what, "%s after one step", p[R][i].name);
        S_d = p[S][i].data;
        cmp_dev(&c, ref, p[R][i].data, cand, p[C][i].data, p[R][i].count, grad_s[i], what);
    }
    tb_buffer *br = tb_model_buffers(m[R]), *bc = tb_model_buffers(m[C]), *bs = tb_model_buffers(m[S]);
    for (int i = 0; i < tb_model_buffer_count(m[R]); i++) {
        S_d = bs[i].data;
        cmp_dev(&c, ref, br[i].data, cand, bc[i].data, br[i].count, -1, br[i].name);
    }
    S_b = NULL;
    for (int k = 0; k < nb; k++) {
        tb_optimizer_free_state(B[k], p[k], np);
        B[k]->release(B[k], lab[k]);
        tb_model_destroy(m[k]);
    }
    free(grad_s);
    free(x);
    free(labels);
    return res;
}

/* ---- deliberately wrong candidates ----------------------------------- */

static tb_backend wrong_base; /* the fp32 backend's operations, called underneath */
static step_wrong wrong_how;

static float round_as(float v, int skip)
{
    if (skip || wrong_how == STEP_WRONG_FP32)
        return v;
    if (wrong_how == STEP_WRONG_TRUNCATE) {
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        u &= 0xffff0000u;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    return tb_bf16_round(v);
}

static float *rounded(const float *src, size_t n, int skip)
{
    float *d = malloc(n * sizeof *d);
    if (!d)
        die("wrong candidate buffer");
    for (size_t i = 0; i < n; i++)
        d[i] = round_as(src[i], skip);
    return d;
}

static void round_out(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = round_as(y[i], 0);
}

static size_t wcount(const tb_conv_desc *d) { return (size_t)d->out_c * d->in_c * d->kernel * d->kernel; }

static int wrong_fwd(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w, tb_tensor *y)
{
    tb_tensor xr = *x;
    xr.data = rounded(x->data, tb_shape_count(x->shape), 0);
    float *wr = rounded(w, wcount(d), wrong_how == STEP_WRONG_SKIP_W);
    int rc = wrong_base.conv_fwd(b, d, &xr, wr, y);
    round_out(y->data, tb_shape_count(y->shape));
    free(xr.data);
    free(wr);
    return rc;
}

static int wrong_bwd_data(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w, tb_tensor *dx)
{
    tb_tensor dyr = *dy;
    dyr.data = rounded(dy->data, tb_shape_count(dy->shape), 0);
    float *wr = rounded(w, wcount(d), wrong_how == STEP_WRONG_SKIP_W);
    int rc = wrong_base.conv_bwd_data(b, d, &dyr, wr, dx);
    round_out(dx->data, tb_shape_count(dx->shape));
    free(dyr.data);
    free(wr);
    return rc;
}

static int wrong_bwd_weights(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *dy,
                             float *dw)
{
    tb_tensor xr = *x, dyr = *dy;
    xr.data = rounded(x->data, tb_shape_count(x->shape), 0);
    dyr.data = rounded(dy->data, tb_shape_count(dy->shape), 0);
    int rc = wrong_base.conv_bwd_weights(b, d, &xr, &dyr, dw);
    round_out(dw, wcount(d));
    free(xr.data);
    free(dyr.data);
    return rc;
}

tb_backend *step_wrong_backend(tb_backend *base, step_wrong how)
{
    tb_backend *w = malloc(sizeof *w);
    if (!w)
        die("wrong candidate");
    wrong_base = *base;
    wrong_how = how;
    *w = *base;
    w->conv_fwd = wrong_fwd;
    w->conv_bwd_data = wrong_bwd_data;
    w->conv_bwd_weights = wrong_bwd_weights;
    return w;
}

const char *step_wrong_name(step_wrong how)
{
    switch (how) {
    case STEP_WRONG_NONE:
        return "the test's own emulation, done right";
    case STEP_WRONG_TRUNCATE:
        return "truncation instead of round-to-nearest-even";
    case STEP_WRONG_SKIP_W:
        return "weights left unrounded";
    case STEP_WRONG_FP32:
        return "no bf16 rounding at all (fp32)";
    }
    return "?";
}
