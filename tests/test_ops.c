/* Every CPU backend operation, forward and backward, against naive float64
 * references on fresh random inputs.
 *
 * Error measure: max |got - ref| / max |ref| over the output tensor.
 * Bounds per op (fp32 kernels against float64 sums):
 *   conv fwd/bwd data/bwd weights, fc fwd/bwd   1e-4 (sums of up to ~1500 products)
 *   batch norm train fwd, bwd, infer            1e-4 (reductions over N*H*W)
 *   running mean / variance                     1e-5
 *   relu fwd/bwd, max pool fwd                  0    (selections, no arithmetic)
 *   max pool bwd                                1e-6 (overlapping windows add into one argmax)
 *   add (+relu)                                 1e-7 (one rounding)
 *   avg pool fwd 1e-6, bwd 2e-6                      (sums of up to 64 terms)
 *   softmax cross-entropy loss and gradient     1e-5 */
#include "core/error.h" // uses: tb_last_error, TB_PRINTF, tb_clear_error
#include "core/rng.h" // uses: tb_rng, tb_rng_normal, tb_rng_below, tb_rng_seed
#include "engine/backend.h" // uses: tb_backend, tb_tensor, TB_LAYOUT_PLAIN, tb_shape_count, tb_shape, ...
#include "tests/check.h" // uses: CHECK, CHECK_CLOSE, check_finish

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static tb_backend *B;
static tb_rng R;

/* ---- helpers ---- */

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "allocation failed: %s\n", tb_last_error());
        exit(1);
    }
    return p;
}

static float *rand_buf(size_t n)
{
    float *p = must(B->alloc(B, n * sizeof *p, "test data"));
    for (size_t i = 0; i < n; i++)
        p[i] = (float)tb_rng_normal(&R);
    return p;
}

static tb_tensor rand_tensor(int n, int c, int h, int w)
{
    tb_tensor t = {{n, c, h, w}, NULL, TB_LAYOUT_PLAIN};
    t.data = rand_buf(tb_shape_count(t.shape));
    return t;
}

static double *ref_buf(size_t n) { return must(calloc(n ? n : 1, sizeof(double))); }

static void release(tb_tensor *t) { B->release(B, t->data); }

/* Checks max |got - want| / max |want| <= tol; NaNs fail.  The rest of the
 * arguments name the check, printf style. */
static void check_close(const float *got, const double *want, size_t n, double tol, const char *fmt, ...)
    TB_PRINTF(5, 6);
static void check_close(const float *got, const double *want, size_t n, double tol, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    double max_ref = 0, max_diff = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= max_diff)) {
            max_diff = d;
            at = i;
        }
        if (fabs(want[i]) > max_ref)
            max_ref = fabs(want[i]);
    }
    double err = max_diff / (max_ref > 0 ? max_ref : 1);
    CHECK(err <= tol, "%s: error %.3g (bound %.3g) at %zu of %zu: got %.9g want %.9g", what, err, tol, at, n,
          n ? (double)got[at] : 0.0, n ? want[at] : 0.0);
}

#define OK(call) CHECK((call) == 0, "%s: %s", #call, tb_last_error())

static size_t at4(tb_shape s, int n, int c, int h, int w)
{
    return (((size_t)n * s.c + c) * s.h + h) * s.w + w;
}

/* ---- convolution ---- */

enum { REF_FWD, REF_BWD_DATA, REF_BWD_WEIGHTS };

/* One loop nest for all three directions: each visits every (x, w, y) triple. */
static void ref_conv(int mode, const tb_conv_desc *d, tb_shape xs, tb_shape ys, const float *x, const float *w,
                     const float *y, double *out)
{
    const tb_shape ws = {d->out_c, d->in_c, d->kernel, d->kernel};
    for (int n = 0; n < ys.n; n++)
        for (int o = 0; o < ys.c; o++)
            for (int oh = 0; oh < ys.h; oh++)
                for (int ow = 0; ow < ys.w; ow++)
                    for (int c = 0; c < xs.c; c++)
                        for (int kh = 0; kh < d->kernel; kh++)
                            for (int kw = 0; kw < d->kernel; kw++) {
                                int ih = oh * d->stride - d->pad + kh, iw = ow * d->stride - d->pad + kw;
                                if (ih < 0 || ih >= xs.h || iw < 0 || iw >= xs.w)
                                    continue;
                                size_t xi = at4(xs, n, c, ih, iw), wi = at4(ws, o, c, kh, kw),
                                       yi = at4(ys, n, o, oh, ow);
                                if (mode == REF_FWD)
                                    out[yi] += (double)x[xi] * w[wi];
                                else if (mode == REF_BWD_DATA)
                                    out[xi] += (double)y[yi] * w[wi];
                                else
                                    out[wi] += (double)x[xi] * y[yi];
                            }
}

typedef struct {
    int in_c, out_c, kernel, stride, pad, h, w;
} conv_case;

static void test_conv(const conv_case *k, int n)
{
    const tb_conv_desc d = {k->in_c, k->out_c, k->kernel, k->stride, k->pad};
    const int oh = (k->h + 2 * k->pad - k->kernel) / k->stride + 1;
    const int ow = (k->w + 2 * k->pad - k->kernel) / k->stride + 1;
    tb_tensor x = rand_tensor(n, k->in_c, k->h, k->w), y = rand_tensor(n, k->out_c, oh, ow);
    tb_tensor dy = rand_tensor(n, k->out_c, oh, ow), dx = rand_tensor(n, k->in_c, k->h, k->w);
    const size_t wn = (size_t)k->out_c * k->in_c * k->kernel * k->kernel;
    float *w = rand_buf(wn), *dw = rand_buf(wn);
    double *ry = ref_buf(tb_shape_count(y.shape)), *rdx = ref_buf(tb_shape_count(x.shape)), *rdw = ref_buf(wn);
    char what[160];
    snprintf(what, sizeof what, "conv %d->%d k%d s%d p%d on %dx%dx%dx%d", k->in_c, k->out_c, k->kernel, k->stride,
             k->pad, n, k->in_c, k->h, k->w);

    OK(B->conv_fwd(B, &d, &x, w, &y));
    OK(B->conv_bwd_data(B, &d, &dy, w, &dx));
    OK(B->conv_bwd_weights(B, &d, &x, &dy, dw));
    ref_conv(REF_FWD, &d, x.shape, y.shape, x.data, w, NULL, ry);
    ref_conv(REF_BWD_DATA, &d, x.shape, y.shape, NULL, w, dy.data, rdx);
    ref_conv(REF_BWD_WEIGHTS, &d, x.shape, y.shape, x.data, NULL, dy.data, rdw);
    check_close(y.data, ry, tb_shape_count(y.shape), 1e-4, "%s fwd", what);
    check_close(dx.data, rdx, tb_shape_count(x.shape), 1e-4, "%s bwd data", what);
    check_close(dw, rdw, wn, 1e-4, "%s bwd weights", what);

    free(ry), free(rdx), free(rdw);
    B->release(B, w), B->release(B, dw);
    release(&x), release(&y), release(&dy), release(&dx);
}

static const conv_case conv_cases[] = {
    {16, 16, 3, 1, 1, 12, 12}, /* the ResNet 3x3 */
    {16, 32, 3, 2, 1, 11, 11}, /* downsampling, odd size */
    {16, 32, 1, 2, 0, 11, 11}, /* projection shortcut */
    {3, 8, 7, 2, 3, 17, 17},   /* ImageNet stem, 3 input channels */
    {5, 7, 3, 1, 1, 9, 7},     /* odd channel counts, not square */
    {64, 64, 3, 1, 1, 8, 8},   /* wide enough for blocked layouts */
};

/* ---- batch norm ---- */

typedef struct {
    int relu;
    double *mean, *var, *y; /* per channel, per channel, per element */
} bn_ref;

static void ref_bn_stats(tb_shape s, const float *x, double *mean, double *var)
{
    const double m = (double)s.n * s.h * s.w;
    for (int c = 0; c < s.c; c++) {
        double sum = 0, sq = 0;
        for (int n = 0; n < s.n; n++)
            for (int i = 0; i < s.h * s.w; i++)
                sum += x[at4(s, n, c, 0, 0) + i];
        mean[c] = sum / m;
        for (int n = 0; n < s.n; n++)
            for (int i = 0; i < s.h * s.w; i++) {
                double v = x[at4(s, n, c, 0, 0) + i] - mean[c];
                sq += v * v;
            }
        var[c] = sq / m;
    }
}

static void ref_bn_apply(tb_shape s, const float *x, const float *gamma, const float *beta, const double *mean,
                         const double *var, double eps, int relu, double *y)
{
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++)
            for (int i = 0; i < s.h * s.w; i++) {
                size_t j = at4(s, n, c, 0, 0) + i;
                double v = gamma[c] * (x[j] - mean[c]) / sqrt(var[c] + eps) + beta[c];
                y[j] = relu && v < 0 ? 0 : v;
            }
}

/* dx, dgamma, dbeta of y = [relu](gamma * xhat + beta) with batch statistics. */
static void ref_bn_bwd(tb_shape s, const float *x, const float *dy, const float *gamma, const double *mean,
                       const double *var, double eps, const double *y, int relu, double *dx, double *dgamma,
                       double *dbeta)
{
    const double m = (double)s.n * s.h * s.w;
    for (int c = 0; c < s.c; c++) {
        const double inv = 1 / sqrt(var[c] + eps);
        double sg = 0, sb = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int n = 0; n < s.n; n++)
                for (int i = 0; i < s.h * s.w; i++) {
                    size_t j = at4(s, n, c, 0, 0) + i;
                    double g = relu && y[j] <= 0 ? 0 : dy[j], xhat = (x[j] - mean[c]) * inv;
                    if (pass == 0) {
                        sg += g * xhat;
                        sb += g;
                    } else {
                        dx[j] = gamma[c] * inv / m * (m * g - sb - xhat * sg);
                    }
                }
        dgamma[c] = sg;
        dbeta[c] = sb;
    }
}

static void test_bn(int n, int c, int h, int w, int relu)
{
    const tb_bn_desc d = {0.1f, 1e-5f};
    const tb_shape s = {n, c, h, w};
    const size_t cnt = tb_shape_count(s);
    tb_tensor x = rand_tensor(n, c, h, w), y = rand_tensor(n, c, h, w), dy = rand_tensor(n, c, h, w);
    tb_tensor dx = rand_tensor(n, c, h, w);
    float *gamma = rand_buf(c), *beta = rand_buf(c), *rm = rand_buf(c), *rv = rand_buf(c);
    float *saved = rand_buf(2 * (size_t)c), *dgamma = rand_buf(c), *dbeta = rand_buf(c);
    for (int i = 0; i < c; i++) {
        x.data[i] += 3.0f; /* a non-zero mean somewhere */
        rv[i] = fabsf(rv[i]) + 0.5f;
    }
    double *mean = ref_buf(c), *var = ref_buf(c), *ry = ref_buf(cnt), *rdx = ref_buf(cnt), *rdg = ref_buf(c),
           *rdb = ref_buf(c), *rrm = ref_buf(c), *rrv = ref_buf(c);
    const double mm = (double)n * h * w;
    for (int i = 0; i < c; i++) {
        rrm[i] = rm[i];
        rrv[i] = rv[i];
    }
    tb_workspace ws = {0};
    char what[120];
    snprintf(what, sizeof what, "bn%s %dx%dx%dx%d", relu ? "+relu" : "", n, c, h, w);

    OK(B->bn_fwd_train(B, &d, &x, gamma, beta, rm, rv, saved, &y, relu, &ws));
    OK(B->bn_bwd(B, &d, &x, &dy, gamma, saved, &y, relu, &ws, &dx, dgamma, dbeta));
    ref_bn_stats(s, x.data, mean, var);
    ref_bn_apply(s, x.data, gamma, beta, mean, var, d.eps, relu, ry);
    ref_bn_bwd(s, x.data, dy.data, gamma, mean, var, d.eps, ry, relu, rdx, rdg, rdb);
    for (int i = 0; i < c; i++) {
        rrm[i] = 0.9 * rrm[i] + 0.1 * mean[i];
        rrv[i] = 0.9 * rrv[i] + 0.1 * var[i] * mm / (mm - 1);
    }
    check_close(y.data, ry, cnt, 1e-4, "%s train fwd", what);
    check_close(rm, rrm, c, 1e-5, "%s running mean", what);
    check_close(rv, rrv, c, 1e-5, "%s running var", what);
    check_close(dx.data, rdx, cnt, 1e-4, "%s bwd dx", what);
    check_close(dgamma, rdg, c, 1e-4, "%s bwd dgamma", what);
    check_close(dbeta, rdb, c, 1e-4, "%s bwd dbeta", what);

    /* Backward again in place over dy (the model may reuse the buffer). */
    memcpy(dx.data, dy.data, cnt * sizeof(float));
    OK(B->bn_bwd(B, &d, &x, &dx, gamma, saved, &y, relu, &ws, &dx, dgamma, dbeta));
    check_close(dx.data, rdx, cnt, 1e-4, "%s bwd in place", what);

    /* Inference normalises with the running statistics just updated. */
    for (int i = 0; i < c; i++) {
        mean[i] = rm[i];
        var[i] = rv[i];
    }
    OK(B->bn_fwd_infer(B, &d, &x, gamma, beta, rm, rv, &y, relu));
    ref_bn_apply(s, x.data, gamma, beta, mean, var, d.eps, relu, ry);
    check_close(y.data, ry, cnt, 1e-4, "%s infer", what);

    tb_workspace_free(B, &ws);
    free(mean), free(var), free(ry), free(rdx), free(rdg), free(rdb), free(rrm), free(rrv);
    float *params[] = {gamma, beta, rm, rv, saved, dgamma, dbeta};
    for (size_t i = 0; i < sizeof params / sizeof *params; i++)
        B->release(B, params[i]);
    release(&x), release(&y), release(&dy), release(&dx);
}

/* ---- relu and add ---- */

static void test_eltwise(int n, int c, int h, int w)
{
    const size_t cnt = (size_t)n * c * h * w;
    tb_tensor x = rand_tensor(n, c, h, w), y = rand_tensor(n, c, h, w), dy = rand_tensor(n, c, h, w);
    tb_tensor dx = rand_tensor(n, c, h, w), a = rand_tensor(n, c, h, w);
    double *ref = ref_buf(cnt), *ref2 = ref_buf(cnt);

    OK(B->relu_fwd(B, &x, &y));
    for (size_t i = 0; i < cnt; i++)
        ref[i] = x.data[i] > 0 ? x.data[i] : 0;
    check_close(y.data, ref, cnt, 0, "relu fwd");
    OK(B->relu_bwd(B, &y, &dy, &dx));
    for (size_t i = 0; i < cnt; i++)
        ref2[i] = y.data[i] > 0 ? dy.data[i] : 0;
    check_close(dx.data, ref2, cnt, 0, "relu bwd");
    OK(B->relu_bwd(B, &y, &dy, &dy)); /* in place over dy */
    check_close(dy.data, ref2, cnt, 0, "relu bwd in place");
    OK(B->relu_fwd(B, &x, &x)); /* in place */
    check_close(x.data, ref, cnt, 0, "relu fwd in place");

    /* x is now relu'd, a random: y = a + x, then in place over either input. */
    for (int relu = 0; relu <= 1; relu++) {
        for (int alias = 0; alias < 3; alias++) {
            tb_tensor *out = alias == 0 ? &y : alias == 1 ? &a : &dx;
            if (alias == 2)
                memcpy(dx.data, x.data, cnt * sizeof(float));
            const float *second = alias == 2 ? dx.data : x.data;
            for (size_t i = 0; i < cnt; i++) {
                double v = (double)a.data[i] + second[i];
                ref[i] = relu && v < 0 ? 0 : v;
            }
            tb_tensor cin = {x.shape, (float *)second, TB_LAYOUT_PLAIN};
            OK(B->add(B, &a, &cin, out, relu));
            check_close(out->data, ref, cnt, 1e-7, "add%s, output %s", relu ? "+relu" : "",
                        alias == 0 ? "separate" : alias == 1 ? "over a" : "over c");
            if (alias == 1) /* restore a random a for the next case */
                for (size_t i = 0; i < cnt; i++)
                    a.data[i] = (float)tb_rng_normal(&R);
        }
    }
    free(ref), free(ref2);
    release(&x), release(&y), release(&dy), release(&dx), release(&a);
}

/* ---- pooling ---- */

/* Max: y = window max, dx scatters dy to the argmax.  Avg: y = window sum /
 * k^2 with padding counted, dx spreads dy / k^2. */
static void ref_pool(const tb_pool_desc *d, tb_shape xs, tb_shape ys, const float *x, const float *dy, double *y,
                     double *dx)
{
    const double area = (double)d->kernel * d->kernel;
    for (int n = 0; n < ys.n; n++)
        for (int c = 0; c < ys.c; c++)
            for (int oh = 0; oh < ys.h; oh++)
                for (int ow = 0; ow < ys.w; ow++) {
                    double best = -INFINITY, sum = 0;
                    size_t arg = 0, yi = at4(ys, n, c, oh, ow);
                    for (int pass = 0; pass < 2; pass++)
                        for (int kh = 0; kh < d->kernel; kh++)
                            for (int kw = 0; kw < d->kernel; kw++) {
                                int ih = oh * d->stride - d->pad + kh, iw = ow * d->stride - d->pad + kw;
                                if (ih < 0 || ih >= xs.h || iw < 0 || iw >= xs.w)
                                    continue;
                                size_t xi = at4(xs, n, c, ih, iw);
                                if (pass == 1 && d->kind == TB_POOL_AVG)
                                    dx[xi] += dy[yi] / area;
                                if (pass == 1)
                                    continue;
                                sum += x[xi];
                                if (x[xi] > best)
                                    best = x[xi], arg = xi;
                            }
                    y[yi] = d->kind == TB_POOL_MAX ? best : sum / area;
                    if (d->kind == TB_POOL_MAX)
                        dx[arg] += dy[yi];
                }
}

static void test_pool(tb_pool_kind kind, int kernel, int stride, int pad, int n, int c, int h, int w)
{
    const tb_pool_desc d = {kind, kernel, stride, pad};
    const int oh = (h + 2 * pad - kernel) / stride + 1, ow = (w + 2 * pad - kernel) / stride + 1;
    tb_tensor x = rand_tensor(n, c, h, w), y = rand_tensor(n, c, oh, ow), dy = rand_tensor(n, c, oh, ow);
    tb_tensor dx = rand_tensor(n, c, h, w);
    double *ry = ref_buf(tb_shape_count(y.shape)), *rdx = ref_buf(tb_shape_count(x.shape));
    tb_workspace ws = {0};
    char what[120];
    snprintf(what, sizeof what, "%s pool k%d s%d p%d on %dx%dx%dx%d", kind == TB_POOL_MAX ? "max" : "avg", kernel,
             stride, pad, n, c, h, w);
    const double tol = kind == TB_POOL_MAX ? 0 : 1e-6;

    OK(B->pool_fwd(B, &d, &x, &y, &ws));
    OK(B->pool_bwd(B, &d, &x, &dy, &ws, &dx));
    ref_pool(&d, x.shape, y.shape, x.data, dy.data, ry, rdx);
    check_close(y.data, ry, tb_shape_count(y.shape), tol, "%s fwd", what);
    check_close(dx.data, rdx, tb_shape_count(x.shape), tol + 1e-6, "%s bwd", what);
    /* Evaluation passes no workspace. */
    memset(y.data, 0, tb_shape_count(y.shape) * sizeof(float));
    OK(B->pool_fwd(B, &d, &x, &y, NULL));
    check_close(y.data, ry, tb_shape_count(y.shape), tol, "%s fwd without workspace", what);

    tb_workspace_free(B, &ws);
    free(ry), free(rdx);
    release(&x), release(&y), release(&dy), release(&dx);
}

/* ---- fully connected ---- */

static void test_fc(int n, int c, int h, int w, int out)
{
    const int in = c * h * w;
    tb_tensor x = rand_tensor(n, c, h, w), dx = rand_tensor(n, c, h, w);
    tb_tensor y = rand_tensor(n, out, 1, 1), dy = rand_tensor(n, out, 1, 1);
    float *wt = rand_buf((size_t)out * in), *dw = rand_buf((size_t)out * in), *bias = rand_buf(out),
          *dbias = rand_buf(out);
    double *ry = ref_buf((size_t)n * out), *rdx = ref_buf((size_t)n * in), *rdw = ref_buf((size_t)out * in),
           *rdb = ref_buf(out);

    OK(B->fc_fwd(B, &x, wt, bias, &y));
    OK(B->fc_bwd(B, &x, &dy, wt, &dx, dw, dbias));
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double g = dy.data[(size_t)i * out + o];
            ry[(size_t)i * out + o] = bias[o];
            rdb[o] += g;
            for (int k = 0; k < in; k++) {
                ry[(size_t)i * out + o] += (double)x.data[(size_t)i * in + k] * wt[(size_t)o * in + k];
                rdx[(size_t)i * in + k] += g * wt[(size_t)o * in + k];
                rdw[(size_t)o * in + k] += g * x.data[(size_t)i * in + k];
            }
        }
    check_close(y.data, ry, (size_t)n * out, 1e-4, "fc fwd");
    check_close(dx.data, rdx, (size_t)n * in, 1e-4, "fc bwd dx");
    check_close(dw, rdw, (size_t)out * in, 1e-4, "fc bwd dw");
    check_close(dbias, rdb, out, 1e-4, "fc bwd dbias");
    /* The first layer's input gradient is not wanted: dx may be NULL. */
    memset(dw, 0, (size_t)out * in * sizeof(float));
    OK(B->fc_bwd(B, &x, &dy, wt, NULL, dw, dbias));
    check_close(dw, rdw, (size_t)out * in, 1e-4, "fc bwd dw without dx");

    free(ry), free(rdx), free(rdw), free(rdb);
    B->release(B, wt), B->release(B, dw), B->release(B, bias), B->release(B, dbias);
    release(&x), release(&dx), release(&y), release(&dy);
}

/* ---- softmax cross-entropy ---- */

static void test_softmax_xent(int n, int k)
{
    tb_tensor logits = rand_tensor(n, k, 1, 1), dl = rand_tensor(n, k, 1, 1);
    int32_t *labels = must(B->alloc(B, (size_t)n * sizeof *labels, "labels"));
    double *rdl = ref_buf((size_t)n * k), ref_loss = 0, loss = 0.5; /* the op adds to what is there */
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)tb_rng_below(&R, (uint32_t)k);
    for (int j = 0; j < k; j++) /* one huge row: the max subtraction must keep it finite */
        logits.data[j] += 1000.0f;
    const float scale = 1.0f / (float)n;

    OK(B->softmax_xent(B, &logits, labels, scale, &dl, &loss));
    for (int i = 0; i < n; i++) {
        const float *row = logits.data + (size_t)i * k;
        double max = row[0], sum = 0;
        for (int j = 1; j < k; j++)
            max = row[j] > max ? row[j] : max;
        for (int j = 0; j < k; j++)
            sum += exp(row[j] - max);
        ref_loss += log(sum) + max - row[labels[i]];
        for (int j = 0; j < k; j++)
            rdl[(size_t)i * k + j] = (exp(row[j] - max) / sum - (j == labels[i])) * scale;
    }
    CHECK_CLOSE(loss - 0.5, ref_loss, 1e-5, "softmax_xent loss sum");
    check_close(dl.data, rdl, (size_t)n * k, 1e-5, "softmax_xent dlogits");
    double loss2 = 0;
    OK(B->softmax_xent(B, &logits, labels, scale, NULL, &loss2));
    CHECK_CLOSE(loss2, ref_loss, 1e-5, "softmax_xent loss without gradient");

    /* A label outside the classes is an error naming the label and the sample. */
    labels[n - 1] = k;
    tb_clear_error();
    CHECK(B->softmax_xent(B, &logits, labels, scale, &dl, &loss2) == -1, "bad label accepted");
    char want[64];
    snprintf(want, sizeof want, "label %d of sample %d", k, n - 1);
    CHECK(strstr(tb_last_error(), want) != NULL, "message '%s' does not say '%s'", tb_last_error(), want);

    free(rdl);
    B->release(B, labels);
    release(&logits), release(&dl);
}

/* ---- error paths ---- */

static void test_errors(void)
{
    const tb_conv_desc d = {4, 8, 3, 1, 1};
    tb_tensor x = rand_tensor(2, 4, 6, 6), y = rand_tensor(2, 8, 5, 5); /* y should be 6x6 */
    float *w = rand_buf(8 * 4 * 9);
    tb_clear_error();
    CHECK(B->conv_fwd(B, &d, &x, w, &y) == -1, "conv_fwd accepted a wrong output shape");
    CHECK(strstr(tb_last_error(), "2x8x6x6") != NULL, "message '%s' does not give the expected shape",
          tb_last_error());
    tb_tensor other = rand_tensor(2, 4, 6, 5);
    tb_clear_error();
    CHECK(B->add(B, &x, &other, &x, 0) == -1, "add accepted different shapes");
    /* One value per channel: PyTorch refuses to train on that too. */
    tb_tensor one = rand_tensor(1, 4, 1, 1);
    const tb_bn_desc bd = {0.1f, 1e-5f};
    tb_clear_error();
    CHECK(B->bn_fwd_train(B, &bd, &one, w, w, w, w, w, &one, 0, NULL) == -1, "bn_fwd_train on one value per channel");
    CHECK(strstr(tb_last_error(), "1x4x1x1") != NULL, "message '%s' does not give the shape", tb_last_error());
    release(&one);
    B->release(B, w);
    release(&x), release(&y), release(&other);
}

int main(void)
{
    tb_rng_seed(&R, 42, 0, 0, 0);
    B = tb_cpu_backend_create(0);
    if (!B) {
        fprintf(stderr, "cannot create the cpu backend: %s\n", tb_last_error());
        return 1;
    }
    printf("backend: %s\n", B->name);
    const int nconv = (int)(sizeof conv_cases / sizeof *conv_cases);
    for (int i = 0; i < nconv; i++)
        test_conv(&conv_cases[i], i == 3 ? 1 : 5);
    test_conv(&conv_cases[4], 1);
    test_bn(5, 16, 8, 8, 1);
    test_bn(3, 5, 7, 9, 0);
    test_bn(3, 5, 7, 9, 1); /* planes of 63: the 8-lane kernels' tails, masked */
    test_bn(4, 8, 32, 32, 1); /* the :w8 first stage's shape */
    test_eltwise(5, 16, 8, 8);
    test_pool(TB_POOL_MAX, 3, 2, 1, 5, 16, 12, 12);
    test_pool(TB_POOL_MAX, 3, 2, 1, 2, 3, 9, 9);
    test_pool(TB_POOL_AVG, 4, 4, 0, 5, 16, 8, 8);
    test_pool(TB_POOL_AVG, 3, 2, 1, 3, 5, 9, 9); /* padding counted in the average */
    test_pool(TB_POOL_AVG, 8, 8, 0, 5, 64, 8, 8); /* global average pooling */
    test_fc(5, 64, 1, 1, 10);
    test_fc(3, 8, 2, 2, 7);
    test_softmax_xent(7, 10);

    /* The last batch of an epoch is smaller: same layers, fewer images, after
     * the larger batch built and cached its primitives. */
    test_conv(&conv_cases[0], 2);
    test_conv(&conv_cases[3], 1);
    test_bn(2, 16, 8, 8, 1);
    test_eltwise(2, 16, 8, 8);
    test_pool(TB_POOL_MAX, 3, 2, 1, 2, 16, 12, 12);
    test_pool(TB_POOL_AVG, 8, 8, 0, 2, 64, 8, 8);
    test_fc(2, 64, 1, 1, 10);
    test_softmax_xent(2, 10);
    /* And the first shape again, after other entries reused the shared buffers. */
    test_conv(&conv_cases[1], 5);

    test_errors();
    B->destroy(B);
    return check_finish();
}
