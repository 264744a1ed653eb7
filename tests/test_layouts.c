/* The CPU backend's native (blocked) layouts against its plain ones: every
 * operation the model runs on native activations gives what it gives on
 * plain NCHW tensors (which test_ops checks against float64 references),
 * for channel counts that stay plain (3, 8, 24) and that go blocked (16,
 * 32), and the convolutions between them.  Also convert() round trips.
 * Batch norm on blocked tensors (reductions in double, ReLU fused, mask
 * from y) is checked against the plain path's oneDNN kernel and separate
 * ReLU.  Every case runs twice with stale data left in the output buffers,
 * as in a second training step. */
#include "core/error.h" // uses: tb_last_error
#include "core/rng.h" // uses: tb_rng, tb_rng_normal, tb_rng_seed
#include "engine/backend.h" // uses: tb_backend, tb_tensor, tb_shape, tb_shape_count, TB_LAYOUT_PLAIN, ...
#include "engine/backend_check.h" // uses: tb_conv_out_shape
#include "tests/check.h" // uses: CHECK, check_finish

#include <math.h>
#include <stdlib.h>
#include <string.h>

static tb_backend *B;
static tb_rng R;

typedef struct {
    tb_tensor p, n; /* the same values, plain and native */
} pair;

static float *buf(size_t count)
{
    float *p = B->alloc(B, count * sizeof *p, "test data");
    if (!p) {
        fprintf(stderr, "allocation failed: %s\n", tb_last_error());
        exit(1);
    }
    return p;
}

/* Random values in both layouts (fill 0: garbage-free zeros, for outputs). */
static pair make(tb_shape s, int random)
{
    pair t = {{s, buf(tb_shape_count(s)), TB_LAYOUT_PLAIN}, {s, buf(tb_shape_count(s)), TB_LAYOUT_NATIVE}};
    for (size_t i = 0; random && i < tb_shape_count(s); i++)
        t.p.data[i] = (float)tb_rng_normal(&R);
    CHECK(B->convert(B, &t.p, &t.n) == 0, "convert to native: %s", tb_last_error());
    return t;
}

/* Fills an output pair with garbage, as a previous step would leave it. */
static void dirty(pair *t)
{
    for (size_t i = 0; i < tb_shape_count(t->p.shape); i++)
        t->p.data[i] = t->n.data[i] = (float)(1e3 * tb_rng_normal(&R));
}

static void drop(pair *t)
{
    B->release(B, t->p.data);
    B->release(B, t->n.data);
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1);
}

/* The native result, back in plain, against the plain one. */
static void same(const pair *t, double tol, const char *what, const char *shape)
{
    tb_tensor back = {t->p.shape, buf(tb_shape_count(t->p.shape)), TB_LAYOUT_PLAIN};
    CHECK(B->convert(B, &t->n, &back) == 0, "convert to plain: %s", tb_last_error());
    double e = rel_diff(back.data, t->p.data, tb_shape_count(t->p.shape));
    CHECK(e <= tol, "%s %s: native vs plain relative difference %.3g > %.3g", what, shape, e, tol);
    B->release(B, back.data);
}

static void same_buf(const float *a, const float *b, size_t n, double tol, const char *what, const char *shape)
{
    double e = rel_diff(a, b, n);
    CHECK(e <= tol, "%s %s: native vs plain relative difference %.3g > %.3g", what, shape, e, tol);
}

static void test_convert(tb_shape s)
{
    pair t = make(s, 1);
    same(&t, 0, "convert round trip", "");
    drop(&t);
}

static void test_conv(int n, int cin, int cout, int hw, int k, int stride, int native_in)
{
    tb_conv_desc d = {cin, cout, k, stride, k / 2};
    tb_shape xs = {n, cin, hw, hw}, ys = tb_conv_out_shape(&d, xs);
    char name[64];
    snprintf(name, sizeof name, "%d->%d %dx%d/%d at %d", cin, cout, k, k, stride, hw);
    pair x = make(xs, 1), y = make(ys, 0), dy = make(ys, 1), dx = make(xs, 0);
    size_t wc = (size_t)cout * cin * k * k;
    float *w = buf(wc), *dwp = buf(wc), *dwn = buf(wc);
    for (size_t i = 0; i < wc; i++)
        w[i] = (float)tb_rng_normal(&R);
    const tb_tensor *xn = native_in ? &x.n : &x.p; /* the stem reads the plain input */
    for (int rep = 0; rep < 2; rep++) {
        dirty(&y);
        dirty(&dx);
        CHECK(B->conv_fwd(B, &d, &x.p, w, &y.p) == 0 && B->conv_fwd(B, &d, xn, w, &y.n) == 0, "conv_fwd %s: %s",
              name, tb_last_error());
        same(&y, 1e-5, "conv_fwd", name);
        CHECK(B->conv_bwd_data(B, &d, &dy.p, w, &dx.p) == 0 && B->conv_bwd_data(B, &d, &dy.n, w, &dx.n) == 0,
              "conv_bwd_data %s: %s", name, tb_last_error());
        same(&dx, 1e-5, "conv_bwd_data", name);
        CHECK(B->conv_bwd_weights(B, &d, &x.p, &dy.p, dwp) == 0 && B->conv_bwd_weights(B, &d, xn, &dy.n, dwn) == 0,
              "conv_bwd_weights %s: %s", name, tb_last_error());
        same_buf(dwn, dwp, wc, 1e-5, "conv_bwd_weights", name);
    }
    drop(&x), drop(&y), drop(&dy), drop(&dx);
    B->release(B, w), B->release(B, dwp), B->release(B, dwn);
}

static void test_bn(tb_shape s, int relu)
{
    char name[64];
    snprintf(name, sizeof name, "C=%d%s", s.c, relu ? " +relu" : "");
    tb_bn_desc d = {0.1f, 1e-5f};
    pair x = make(s, 1), y = make(s, 0), dy = make(s, 1), dx = make(s, 0);
    const int c = s.c;
    float *gamma = buf((size_t)c), *beta = buf((size_t)c), *rm = buf(2 * (size_t)c), *rv = buf(2 * (size_t)c);
    float *saved = buf(4 * (size_t)c), *dg = buf(4 * (size_t)c), *db = buf(4 * (size_t)c);
    for (int i = 0; i < c; i++) {
        gamma[i] = (float)(1 + 0.3 * tb_rng_normal(&R));
        beta[i] = (float)(0.2 * tb_rng_normal(&R));
        rv[i] = rv[c + i] = 1;
    }
    tb_workspace wp = {0}, wn = {0};
    for (int rep = 0; rep < 2; rep++) {
        dirty(&y);
        dirty(&dx);
        CHECK(B->bn_fwd_train(B, &d, &x.p, gamma, beta, rm, rv, saved, &y.p, relu, &wp) == 0 &&
                  B->bn_fwd_train(B, &d, &x.n, gamma, beta, rm + c, rv + c, saved + 2 * c, &y.n, relu, &wn) == 0,
              "bn_fwd_train %s: %s", name, tb_last_error());
        same(&y, 1e-5, "bn_fwd_train", name);
        same_buf(saved + 2 * c, saved, 2 * (size_t)c, 1e-5, "bn_fwd_train statistics", name);
        same_buf(rm + c, rm, (size_t)c, 1e-5, "bn running mean", name);
        CHECK(B->bn_bwd(B, &d, &x.p, &dy.p, gamma, saved, &y.p, relu, &wp, &dx.p, dg, db) == 0 &&
                  B->bn_bwd(B, &d, &x.n, &dy.n, gamma, saved + 2 * c, &y.n, relu, &wn, &dx.n, dg + c, db + c) == 0,
              "bn_bwd %s: %s", name, tb_last_error());
        same(&dx, 1e-5, "bn_bwd", name);
        same_buf(dg + c, dg, (size_t)c, 1e-5, "bn_bwd dgamma", name);
        same_buf(db + c, db, (size_t)c, 1e-5, "bn_bwd dbeta", name);
        CHECK(B->bn_fwd_infer(B, &d, &x.p, gamma, beta, rm, rv, &y.p, relu) == 0 &&
                  B->bn_fwd_infer(B, &d, &x.n, gamma, beta, rm, rv, &y.n, relu) == 0,
              "bn_fwd_infer %s: %s", name, tb_last_error());
        same(&y, 1e-5, "bn_fwd_infer", name);
    }
    tb_workspace_free(B, &wp);
    tb_workspace_free(B, &wn);
    drop(&x), drop(&y), drop(&dy), drop(&dx);
    float *bufs[] = {gamma, beta, rm, rv, saved, dg, db};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        B->release(B, bufs[i]);
}

static void test_eltwise_pool(tb_shape s)
{
    char name[32];
    snprintf(name, sizeof name, "C=%d", s.c);
    pair a = make(s, 1), c = make(s, 1), y = make(s, 0), dx = make(s, 0);
    tb_pool_desc gp = {TB_POOL_AVG, s.h, s.h, 0}, mp = {TB_POOL_MAX, 3, 2, 1};
    tb_shape fs = {s.n, s.c, 1, 1}, ms = {s.n, s.c, (s.h - 1) / 2 + 1, (s.w - 1) / 2 + 1};
    pair f = make(fs, 0), df = make(fs, 1), m = make(ms, 0), dm = make(ms, 1);
    tb_workspace wp = {0}, wn = {0};
    for (int rep = 0; rep < 2; rep++) {
        dirty(&y);
        dirty(&dx);
        CHECK(B->add(B, &a.p, &c.p, &y.p, 1) == 0 && B->add(B, &a.n, &c.n, &y.n, 1) == 0, "add: %s", tb_last_error());
        same(&y, 0, "add+relu", name);
        CHECK(B->relu_bwd(B, &y.p, &c.p, &dx.p) == 0 && B->relu_bwd(B, &y.n, &c.n, &dx.n) == 0, "relu_bwd: %s",
              tb_last_error());
        same(&dx, 0, "relu_bwd", name);
        /* The global pool hands plain features to the classifier. */
        CHECK(B->pool_fwd(B, &gp, &a.p, &f.p, NULL) == 0 && B->pool_fwd(B, &gp, &a.n, &f.n, NULL) == 0,
              "global pool: %s", tb_last_error());
        same(&f, 1e-6, "global avg pool", name);
        tb_tensor fplain = f.n;
        fplain.layout = TB_LAYOUT_PLAIN;
        CHECK(B->pool_fwd(B, &gp, &a.n, &fplain, NULL) == 0, "global pool to plain: %s", tb_last_error());
        same_buf(fplain.data, f.p.data, tb_shape_count(fs), 1e-6, "global avg pool native -> plain", name);
        tb_tensor dfplain = df.p;
        CHECK(B->pool_bwd(B, &gp, &a.p, &df.p, NULL, &dx.p) == 0 && B->pool_bwd(B, &gp, &a.n, &dfplain, NULL, &dx.n) == 0,
              "global pool bwd: %s", tb_last_error());
        same(&dx, 1e-6, "global avg pool bwd (plain dy)", name);
        CHECK(B->pool_fwd(B, &mp, &a.p, &m.p, &wp) == 0 && B->pool_fwd(B, &mp, &a.n, &m.n, &wn) == 0,
              "max pool: %s", tb_last_error());
        same(&m, 0, "max pool", name);
        CHECK(B->pool_bwd(B, &mp, &a.p, &dm.p, &wp, &dx.p) == 0 && B->pool_bwd(B, &mp, &a.n, &dm.n, &wn, &dx.n) == 0,
              "max pool bwd: %s", tb_last_error());
        same(&dx, 1e-6, "max pool bwd", name);
    }
    tb_workspace_free(B, &wp);
    tb_workspace_free(B, &wn);
    drop(&a), drop(&c), drop(&y), drop(&dx), drop(&f), drop(&df), drop(&m), drop(&dm);
}

int main(void)
{
    tb_rng_seed(&R, 7, 0, 0, 0);
    B = tb_cpu_backend_create(0);
    if (!B) {
        fprintf(stderr, "cannot create the cpu backend: %s\n", tb_last_error());
        return 1;
    }
    CHECK(B->native_layout == TB_LAYOUT_NATIVE, "the cpu backend keeps activations native");
    const int channels[] = {3, 8, 16, 24, 32};
    for (int i = 0; i < 5; i++)
        test_convert((tb_shape){3, channels[i], 5, 7});
    /* ResNet's convolutions at the widths that use nChw8c and nChw16c. */
    test_conv(4, 3, 8, 16, 3, 1, 0);
    test_conv(4, 3, 16, 16, 3, 1, 0);
    test_conv(4, 8, 8, 16, 3, 1, 1);
    test_conv(4, 8, 16, 16, 3, 2, 1); /* plain 8 channels into native 16 */
    test_conv(4, 8, 16, 16, 1, 2, 1);
    test_conv(4, 16, 16, 8, 3, 1, 1);
    test_conv(4, 16, 32, 8, 3, 2, 1);
    test_conv(4, 16, 32, 8, 1, 2, 1);
    test_conv(4, 32, 8, 8, 1, 1, 1);
    for (int relu = 0; relu < 2; relu++)
        for (int i = 1; i < 5; i++)
            test_bn((tb_shape){4, channels[i], 8, 8}, relu);
    for (int i = 1; i < 5; i++)
        test_eltwise_pool((tb_shape){4, channels[i], 8, 8});
    B->destroy(B);
    return check_finish();
}
