/* The CUDA backend against the CPU backend: every operation, the uint8
 * augmentation kernel, the optimizers, and a whole training step of a
 * ResNet, on the same random inputs and weights.  Suite 'gpu'; exits 77
 * (skipped) where no GPU is present.
 *
 * Error measure: ||gpu - cpu|| / ||cpu|| (L2 over the whole output).
 * Operations: fp32 with TF32 off 1e-3 (the kernels differ only in summation
 * order, so errors should sit near 1e-6); bf16 2e-2 for the convolutions
 * (against the CPU's fp32 ones); operations that stay fp32 in every
 * precision (batch norm, pooling, element-wise, fc, loss, optimizers) keep
 * 1e-3 in both.  Exact operations (relu, max pooling forward, the
 * augmentation, the fp32 -> bf16 conversion against engine/bf16.h) must
 * match exactly.
 *
 * The whole training step compares like with like: the CUDA step in a
 * precision against the CPU backend's step in the same precision (CPU bf16
 * rounds where cuda_conv.c does), with learnable data, batch 32, and bounds
 * scaled by each quantity's sensitivity to bf16 rounding: the shared test
 * code tests/step_compare.c, whose comment derives them; tests/
 * test_step_compare.c runs the same code in CI with a second CPU backend as
 * the candidate.
 *
 * Usage: test_gpu_ops [fp32|bf16 ...] (default: both). */
#include "core/error.h" // uses: tb_last_error, TB_PRINTF, tb_clear_error, tb_fail
#include "core/rng.h" // uses: tb_rng, tb_rng_normal, tb_rng_next, tb_rng_seed
#include "datasets/augment.h" // uses: tb_augment, tb_augment_init, tb_augment_image
#include "engine/backend.h" // uses: tb_backend, tb_tensor, tb_shape, TB_LAYOUT_PLAIN, tb_conv_desc, ...
#include "engine/bf16.h" // uses: tb_bf16_bits
#include "engine/cpu/cpu_backend.h" // uses: tb_cpu_backend_create_prec, TB_CPU_BF16_AUTO, tb_cpu_bf16_math
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_stream, tb_cuda_backend_create, tb_cuda_device_count
#include "engine/cuda/cuda_kernels.h" // uses: tbk_augment_u8, tbk_nchw_f32_to_nhwc_16
#include "engine/optim.h" // uses: tb_opt_kind_name
#include "tests/check.h" // uses: CHECK, CHECK_CLOSE, check_finish
#include "tests/step_compare.h"

#include <cuda_runtime_api.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static tb_backend *C, *G; /* CPU, GPU */
static tb_rng R;
static const char *prec;
static double tol_lp;          /* bound for operations computed in the chosen precision */
static const double TOL = 1e-3; /* bound for operations computed in fp32 always */

static void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, tb_last_error());
    exit(1);
}

/* A buffer on both backends with the same contents. */
typedef struct {
    float *c, *g;
    size_t n;
} pair;

static pair pair_new(size_t n, double scale, double offset)
{
    pair p = {NULL, NULL, n};
    p.c = C->alloc(C, n * sizeof(float), "cpu test buffer");
    p.g = G->alloc(G, n * sizeof(float), "gpu test buffer");
    if (!p.c || !p.g)
        die("alloc");
    for (size_t i = 0; i < n; i++)
        p.c[i] = (float)(offset + scale * tb_rng_normal(&R));
    if (G->upload(G, p.g, p.c, n * sizeof(float)))
        die("upload");
    return p;
}

static int tb_check_poison_gpu(float *g, size_t n);

/* Output buffers start poisoned (NaN on the GPU) so unwritten elements fail. */
static pair pair_out(size_t n)
{
    pair p = pair_new(n, 0, 0);
    if (tb_check_poison_gpu(p.g, n))
        die("poison");
    return p;
}

static void pair_free(pair *p)
{
    C->release(C, p->c);
    G->release(G, p->g);
}

static tb_tensor T(tb_shape s, float *data) { return (tb_tensor){s, data, TB_LAYOUT_PLAIN}; }

static float *fetch(const float *g, size_t n)
{
    float *h = malloc(n * sizeof *h);
    if (!h || G->download(G, h, g, n * sizeof *h))
        die("download");
    return h;
}

/* ||gpu - cpu|| / ||cpu|| over n floats; NaN fails. */
static void compare(const float *g, const float *cpu, size_t n, double tol, const char *fmt, ...) TB_PRINTF(5, 6);
static void compare(const float *g, const float *cpu, size_t n, double tol, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    float *h = fetch(g, n);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)h[i] - cpu[i];
        num += d * d;
        den += (double)cpu[i] * cpu[i];
    }
    double err = den > 0 ? sqrt(num / den) : sqrt(num);
    CHECK(err <= tol, "[%s] %s: relative error %.3g > %.3g", prec, what, err, tol);
    if (getenv("TB_GPU_TEST_VERBOSE"))
        printf("[%s] %-48s rel err %.3g (bound %.3g)\n", prec, what, err, tol);
    free(h);
}

static void cmp(const pair *p, double tol, const char *what) { compare(p->g, p->c, p->n, tol, "%s", what); }

/* ---- operations ---- */

static void test_conv(int n, int ci, int co, int hw, int k, int s, int pad)
{
    tb_conv_desc d = {ci, co, k, s, pad};
    int ho = (hw + 2 * pad - k) / s + 1;
    tb_shape xs = {n, ci, hw, hw}, ys = {n, co, ho, ho};
    pair x = pair_new(tb_shape_count(xs), 1, 0), w = pair_new((size_t)co * ci * k * k, 0.1, 0);
    pair y = pair_out(tb_shape_count(ys)), dy = pair_new(tb_shape_count(ys), 1, 0);
    pair dx = pair_out(tb_shape_count(xs)), dw = pair_out(w.n);
    tb_tensor xc = T(xs, x.c), xg = T(xs, x.g), yc = T(ys, y.c), yg = T(ys, y.g);
    tb_tensor dyc = T(ys, dy.c), dyg = T(ys, dy.g), dxc = T(xs, dx.c), dxg = T(xs, dx.g);
    char what[96];
    snprintf(what, sizeof what, "conv %d->%d %dx%d/%d pad %d at %dx%d, n %d", ci, co, k, k, s, pad, hw, hw, n);
    /* twice: the first call searches, the second uses the cache */
    for (int rep = 0; rep < 2; rep++) {
        if (C->conv_fwd(C, &d, &xc, w.c, &yc) || G->conv_fwd(G, &d, &xg, w.g, &yg))
            die(what);
        compare(y.g, y.c, y.n, tol_lp, "%s fwd (call %d)", what, rep + 1);
    }
    if (C->conv_bwd_data(C, &d, &dyc, w.c, &dxc) || G->conv_bwd_data(G, &d, &dyg, w.g, &dxg))
        die(what);
    compare(dx.g, dx.c, dx.n, tol_lp, "%s bwd data", what);
    if (C->conv_bwd_weights(C, &d, &xc, &dyc, dw.c) || G->conv_bwd_weights(G, &d, &xg, &dyg, dw.g))
        die(what);
    compare(dw.g, dw.c, dw.n, tol_lp, "%s bwd weights", what);
    pair_free(&x), pair_free(&w), pair_free(&y), pair_free(&dy), pair_free(&dx), pair_free(&dw);
}

static void test_bn(int n, int ch, int hw, int relu)
{
    tb_shape s = {n, ch, hw, hw};
    size_t cnt = tb_shape_count(s);
    tb_bn_desc d = {0.1f, 1e-5f};
    pair x = pair_new(cnt, 2, 0.5), gamma = pair_new(ch, 0.2, 1), beta = pair_new(ch, 0.2, 0);
    pair rm = pair_new(ch, 0.1, 0), rv = pair_new(ch, 0.1, 1), y = pair_out(cnt), dy = pair_new(cnt, 1, 0);
    pair dx = pair_out(cnt), dg = pair_out(ch), db = pair_out(ch);
    float *saved_c = C->alloc(C, 2 * ch * sizeof(float), "saved"), *saved_g = G->alloc(G, 2 * ch * sizeof(float), "saved");
    tb_workspace wc = {0}, wg = {0};
    tb_tensor xc = T(s, x.c), xg = T(s, x.g), yc = T(s, y.c), yg = T(s, y.g);
    tb_tensor dyc = T(s, dy.c), dyg = T(s, dy.g), dxc = T(s, dx.c), dxg = T(s, dx.g);
    char what[64];
    snprintf(what, sizeof what, "bn %dx%dx%dx%d%s", n, ch, hw, hw, relu ? "+relu" : "");
    if (!saved_c || !saved_g ||
        C->bn_fwd_train(C, &d, &xc, gamma.c, beta.c, rm.c, rv.c, saved_c, &yc, relu, &wc) ||
        G->bn_fwd_train(G, &d, &xg, gamma.g, beta.g, rm.g, rv.g, saved_g, &yg, relu, &wg))
        die(what);
    compare(y.g, y.c, cnt, TOL, "%s train fwd", what);
    compare(rm.g, rm.c, ch, TOL, "%s running mean", what);
    compare(rv.g, rv.c, ch, TOL, "%s running var (unbiased)", what);
    if (C->bn_bwd(C, &d, &xc, &dyc, gamma.c, saved_c, &yc, relu, &wc, &dxc, dg.c, db.c) ||
        G->bn_bwd(G, &d, &xg, &dyg, gamma.g, saved_g, &yg, relu, &wg, &dxg, dg.g, db.g))
        die(what);
    compare(dx.g, dx.c, cnt, TOL, "%s bwd dx", what);
    compare(dg.g, dg.c, ch, TOL, "%s bwd dgamma", what);
    compare(db.g, db.c, ch, TOL, "%s bwd dbeta", what);
    if (C->bn_fwd_infer(C, &d, &xc, gamma.c, beta.c, rm.c, rv.c, &yc, relu) ||
        G->bn_fwd_infer(G, &d, &xg, gamma.g, beta.g, rm.g, rv.g, &yg, relu))
        die(what);
    compare(y.g, y.c, cnt, TOL, "%s infer", what);
    tb_workspace_free(C, &wc);
    tb_workspace_free(G, &wg);
    C->release(C, saved_c);
    G->release(G, saved_g);
    pair_free(&x), pair_free(&gamma), pair_free(&beta), pair_free(&rm), pair_free(&rv);
    pair_free(&y), pair_free(&dy), pair_free(&dx), pair_free(&dg), pair_free(&db);
}

static void test_eltwise(void)
{
    tb_shape s = {4, 16, 9, 9};
    size_t n = tb_shape_count(s);
    pair a = pair_new(n, 1, 0), b = pair_new(n, 1, 0), y = pair_out(n), dy = pair_new(n, 1, 0), dx = pair_out(n);
    tb_tensor ac = T(s, a.c), ag = T(s, a.g), bc = T(s, b.c), bg = T(s, b.g), yc = T(s, y.c), yg = T(s, y.g);
    tb_tensor dyc = T(s, dy.c), dyg = T(s, dy.g), dxc = T(s, dx.c), dxg = T(s, dx.g);
    if (C->relu_fwd(C, &ac, &yc) || G->relu_fwd(G, &ag, &yg))
        die("relu_fwd");
    compare(y.g, y.c, n, 0, "relu fwd");
    if (C->relu_bwd(C, &yc, &dyc, &dxc) || G->relu_bwd(G, &yg, &dyg, &dxg))
        die("relu_bwd");
    compare(dx.g, dx.c, n, 0, "relu bwd");
    for (int relu = 0; relu < 2; relu++) {
        if (C->add(C, &ac, &bc, &yc, relu) || G->add(G, &ag, &bg, &yg, relu))
            die("add");
        compare(y.g, y.c, n, 0, "add%s", relu ? "+relu" : "");
    }
    /* in place, as the model calls it */
    if (C->add(C, &ac, &bc, &ac, 1) || G->add(G, &ag, &bg, &ag, 1))
        die("add in place");
    compare(a.g, a.c, n, 0, "add+relu in place");
    pair_free(&a), pair_free(&b), pair_free(&y), pair_free(&dy), pair_free(&dx);
}

static void test_pool(tb_pool_kind kind, int n, int ch, int hw, int k, int s, int pad)
{
    tb_pool_desc d = {kind, k, s, pad};
    int ho = (hw + 2 * pad - k) / s + 1;
    tb_shape xs = {n, ch, hw, hw}, ys = {n, ch, ho, ho};
    pair x = pair_new(tb_shape_count(xs), 1, 0), y = pair_out(tb_shape_count(ys));
    pair dy = pair_new(tb_shape_count(ys), 1, 0), dx = pair_out(tb_shape_count(xs));
    tb_workspace wc = {0}, wg = {0};
    tb_tensor xc = T(xs, x.c), xg = T(xs, x.g), yc = T(ys, y.c), yg = T(ys, y.g);
    tb_tensor dyc = T(ys, dy.c), dyg = T(ys, dy.g), dxc = T(xs, dx.c), dxg = T(xs, dx.g);
    const char *name = kind == TB_POOL_MAX ? "max" : "avg";
    if (C->pool_fwd(C, &d, &xc, &yc, &wc) || G->pool_fwd(G, &d, &xg, &yg, &wg))
        die("pool_fwd");
    compare(y.g, y.c, y.n, kind == TB_POOL_MAX ? 0 : TOL, "%s pool %dx%d/%d pad %d fwd", name, k, k, s, pad);
    if (C->pool_bwd(C, &d, &xc, &dyc, &wc, &dxc) || G->pool_bwd(G, &d, &xg, &dyg, &wg, &dxg))
        die("pool_bwd");
    compare(dx.g, dx.c, dx.n, TOL, "%s pool %dx%d/%d pad %d bwd", name, k, k, s, pad);
    tb_workspace_free(C, &wc);
    tb_workspace_free(G, &wg);
    pair_free(&x), pair_free(&y), pair_free(&dy), pair_free(&dx);
}

static void test_fc_and_loss(int n, int in, int out)
{
    tb_shape xs = {n, in, 1, 1}, ys = {n, out, 1, 1};
    pair x = pair_new((size_t)n * in, 1, 0), w = pair_new((size_t)out * in, 0.05, 0), bias = pair_new(out, 0.1, 0);
    pair y = pair_out((size_t)n * out), dy = pair_out((size_t)n * out), dx = pair_out((size_t)n * in);
    pair dw = pair_out(w.n), db = pair_out(out);
    tb_tensor xc = T(xs, x.c), xg = T(xs, x.g), yc = T(ys, y.c), yg = T(ys, y.g);
    tb_tensor dyc = T(ys, dy.c), dyg = T(ys, dy.g), dxc = T(xs, dx.c), dxg = T(xs, dx.g);
    if (C->fc_fwd(C, &xc, w.c, bias.c, &yc) || G->fc_fwd(G, &xg, w.g, bias.g, &yg))
        die("fc_fwd");
    cmp(&y, TOL, "fc fwd");
    /* the loss of these logits, and its gradient as dy */
    int32_t *lab_c = C->alloc(C, n * sizeof(int32_t), "labels");
    int32_t *lab_g = G->alloc(G, n * sizeof(int32_t), "labels");
    for (int i = 0; i < n; i++)
        lab_c[i] = (int32_t)(tb_rng_next(&R) % (uint64_t)out);
    if (!lab_c || !lab_g || G->upload(G, lab_g, lab_c, n * sizeof(int32_t)))
        die("labels");
    double loss_c = 0, loss_g = 0;
    if (C->softmax_xent(C, &yc, lab_c, 1.0f / n, &dyc, &loss_c) || G->softmax_xent(G, &yg, lab_g, 1.0f / n, &dyg, &loss_g))
        die("softmax_xent");
    CHECK_CLOSE(loss_g, loss_c, 1e-5, "softmax_xent loss sum");
    cmp(&dy, TOL, "softmax_xent gradient");
    /* a bad label is reported, not silently used */
    int32_t bad = out + 3;
    if (G->upload(G, lab_g, &bad, sizeof bad))
        die("upload");
    double ignored = 0;
    CHECK(G->softmax_xent(G, &yg, lab_g, 1.0f, NULL, &ignored) != 0 && strstr(tb_last_error(), "outside"),
          "a label outside the classes must fail with a message (got '%s')", tb_last_error());
    tb_clear_error();
    if (C->fc_bwd(C, &xc, &dyc, w.c, &dxc, dw.c, db.c) || G->fc_bwd(G, &xg, &dyg, w.g, &dxg, dw.g, db.g))
        die("fc_bwd");
    cmp(&dx, TOL, "fc bwd dx");
    cmp(&dw, TOL, "fc bwd dw");
    cmp(&db, TOL, "fc bwd dbias");
    double ss_c = 0, ss_g = 0;
    if (C->sum_squares(C, w.c, w.n, &ss_c) || G->sum_squares(G, w.g, w.n, &ss_g))
        die("sum_squares");
    CHECK_CLOSE(ss_g, ss_c, 1e-9, "sum_squares");
    C->release(C, lab_c);
    G->release(G, lab_g);
    pair_free(&x), pair_free(&w), pair_free(&bias), pair_free(&y), pair_free(&dy), pair_free(&dx);
    pair_free(&dw), pair_free(&db);
}

static void test_optim(tb_opt_kind kind)
{
    const size_t n = 100003;
    pair p = pair_new(n, 1, 0), s0 = pair_new(n, 0, 0), s1 = pair_new(n, 0, 0);
    tb_opt_hyper h = {kind, 0.05f, 0.9f, 0.0f, 5e-4f, 1e-8f, 0.9f, 0.9f, 0.999f, 0.0f, 1.0f, 1};
    if (kind == TB_OPT_ADAGRAD)
        h.eps = 1e-10f;
    if (kind == TB_OPT_ADADELTA)
        h.eps = 1e-6f, h.lr = 1.0f;
    if (kind == TB_OPT_LARS)
        h.trust_ratio = 0.37f;
    for (long step = 1; step <= 3; step++) {
        pair g = pair_new(n, 0.1, 0);
        h.step = step;
        if (C->opt_step(C, &h, p.c, g.c, s0.c, s1.c, n) || G->opt_step(G, &h, p.g, g.g, s0.g, s1.g, n))
            die("opt_step");
        pair_free(&g);
    }
    /* The same rules in the same fp32 operations: far under the bound. */
    compare(p.g, p.c, n, 1e-6, "%s parameters after 3 steps", tb_opt_kind_name(kind));
    compare(s0.g, s0.c, n, 1e-6, "%s state 0 after 3 steps", tb_opt_kind_name(kind));
    pair_free(&p), pair_free(&s0), pair_free(&s1);
}

/* The GPU augmentation kernel against the loader's tb_augment_image: exact. */
static void test_augment(void)
{
    enum { N = 16, CH = 3, H = 32, W = 32 };
    tb_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.channels = CH, ds.height = H, ds.width = W;
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 0.2616f};
    memcpy(ds.mean, mean, sizeof mean);
    memcpy(ds.std, sd, sizeof sd);
    tb_augment a;
    tb_augment_init(&a, &ds, 32);
    static uint8_t src[N * CH * H * W];
    static float want[N * CH * H * W], got[N * CH * H * W];
    int dy[N], dx[N], flip[N];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(tb_rng_next(&R) & 255);
    for (int i = 0; i < N; i++) {
        dy[i] = (int)(tb_rng_next(&R) % 9) - 4;
        dx[i] = (int)(tb_rng_next(&R) % 9) - 4;
        flip[i] = (int)(tb_rng_next(&R) & 1);
        tb_augment_image(&a, src + (size_t)i * CH * H * W, dy[i], dx[i], flip[i], want + (size_t)i * CH * H * W);
    }
    uint8_t *d_src = NULL;
    float *d_dst = NULL, *d_lut = NULL;
    int *d_off = NULL;
    cudaError_t e = cudaMalloc((void **)&d_src, sizeof src);
    if (!e) e = cudaMalloc((void **)&d_dst, sizeof got);
    if (!e) e = cudaMalloc((void **)&d_lut, sizeof a.lut);
    if (!e) e = cudaMalloc((void **)&d_off, 3 * N * sizeof(int));
    if (!e) e = cudaMemcpy(d_src, src, sizeof src, cudaMemcpyHostToDevice);
    if (!e) e = cudaMemcpy(d_lut, a.lut, sizeof a.lut, cudaMemcpyHostToDevice);
    if (!e) e = cudaMemcpy(d_off, dy, sizeof dy, cudaMemcpyHostToDevice);
    if (!e) e = cudaMemcpy(d_off + N, dx, sizeof dx, cudaMemcpyHostToDevice);
    if (!e) e = cudaMemcpy(d_off + 2 * N, flip, sizeof flip, cudaMemcpyHostToDevice);
    if (!e) e = cudaMemset(d_dst, 0xff, sizeof got);
    if (!e) e = tbk_augment_u8(d_src, d_dst, N, CH, H, W, a.out_h, a.out_w, a.pad_y, a.pad_x, d_off, d_off + N,
                               d_off + 2 * N, d_lut, 0);
    if (!e) e = cudaMemcpy(got, d_dst, sizeof got, cudaMemcpyDeviceToHost);
    CHECK(e == cudaSuccess, "augmentation on the GPU: %s", cudaGetErrorString(e));
    CHECK(memcmp(got, want, sizeof got) == 0, "GPU augmentation differs from tb_augment_image");
    cudaFree(d_src), cudaFree(d_dst), cudaFree(d_lut), cudaFree(d_off);
}

/* ---- a whole training step ---- */

/* CPU (reference, in precision p) against GPU (candidate), and the CPU in
 * the other precision for the sensitivities: tests/step_compare.c. */
static void test_train_step(const char *model, int batch)
{
    const char *other = strcmp(prec, "bf16") == 0 ? "fp32" : "bf16";
    tb_backend *ref = tb_cpu_backend_create_prec(0, prec, TB_CPU_BF16_AUTO);
    tb_backend *twin = tb_cpu_backend_create_prec(0, other, TB_CPU_BF16_AUTO);
    if (!ref || !twin)
        die("tb_cpu_backend_create_prec");
    char label[64];
    snprintf(label, sizeof label, "[%s step %s]", prec, model);
    step_result r = step_compare(ref, G, twin, prec, model, batch, label, getenv("TB_GPU_TEST_VERBOSE") != NULL);
    const char *math = tb_cpu_bf16_math(strcmp(prec, "bf16") == 0 ? ref : twin);
    printf("%s cuda vs cpu (cpu bf16: %s): %d/%d over, worst %s\n", label, math, r.over, r.count, r.worst);
    CHECK(r.over == 0 && r.count > 0, "%s: %d of %d comparisons over their bounds; worst %s", label, r.over, r.count,
          r.worst);
    twin->destroy(twin);
    ref->destroy(ref);
}

/* The device's fp32 -> bf16 conversion (the staging kernel of cuda_conv.c)
 * against engine/bf16.h, which the CPU backend's bf16 uses: bit for bit,
 * ties, carries into the exponent, overflow and subnormals included. */
static void test_bf16_rounding(void)
{
    enum { N = 4096 };
    static float v[N];
    static uint16_t got[N];
    const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x3f7fffffu, 0x7f7fffffu, 0x7f7f8000u, 0x00008000u,
                                0x00018000u, 0x80000001u, 0xff800000u, 0x7f800000u, 0x00000000u, 0x80000000u};
    for (int i = 0; i < N; i++) {
        uint32_t u = (uint32_t)tb_rng_next(&R);
        if (i < (int)(sizeof special / sizeof special[0]))
            u = special[i];
        else if (i % 3 == 0)
            u = (u & 0xffff0000u) | 0x8000u; /* exact ties */
        if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu))
            u = 0x3f800000u; /* NaN payloads are the kernel's business */
        memcpy(&v[i], &u, sizeof u);
    }
    float *d_x = NULL;
    void *d_y = NULL;
    cudaError_t e = cudaMalloc((void **)&d_x, sizeof v);
    if (!e) e = cudaMalloc(&d_y, sizeof got);
    if (!e) e = cudaMemcpy(d_x, v, sizeof v, cudaMemcpyHostToDevice);
    if (!e) e = tbk_nchw_f32_to_nhwc_16(d_x, d_y, 1, 1, 1, N, 1, 0);
    if (!e) e = cudaMemcpy(got, d_y, sizeof got, cudaMemcpyDeviceToHost);
    CHECK(e == cudaSuccess, "bf16 conversion on the GPU: %s", cudaGetErrorString(e));
    int bad = 0;
    for (int i = 0; i < N; i++)
        if (got[i] != tb_bf16_bits(v[i]) && bad++ < 5)
            fprintf(stderr, "bf16 of %a: device 0x%04x, engine/bf16.h 0x%04x\n", (double)v[i], got[i],
                    tb_bf16_bits(v[i]));
    CHECK(bad == 0, "%d of %d values round differently on the GPU and in engine/bf16.h", bad, N);
    cudaFree(d_x), cudaFree(d_y);
}

/* Fills n floats of device memory with NaN (0xffffffff).  On the backend's
 * stream: it is non-blocking, so a fill on the legacy default stream would
 * not be ordered after the buffer's zeroing and upload (queued there) nor
 * before the operation under test, and could land on either side of them. */
static int tb_check_poison_gpu(float *g, size_t n)
{
    cudaError_t e = cudaMemsetAsync(g, 0xff, n * sizeof(float), (cudaStream_t)tb_cuda_stream(G));
    return e == cudaSuccess ? 0 : tb_fail("cudaMemsetAsync (NaN poison on the backend's stream): %s",
                                          cudaGetErrorString(e));
}

static void run_precision(const char *p)
{
    prec = p;
    tol_lp = strcmp(p, "fp32") == 0 ? 1e-3 : 2e-2;
    G = tb_cuda_backend_create(0, p);
    if (!G)
        die("tb_cuda_backend_create");
    printf("[%s] %s\n", p, G->name);
    test_conv(8, 16, 32, 16, 3, 1, 1);
    test_conv(8, 32, 64, 16, 3, 2, 1);
    test_conv(8, 32, 64, 16, 1, 2, 0);
    test_conv(4, 3, 16, 32, 7, 2, 3);
    test_conv(16, 64, 64, 8, 3, 1, 1);
    test_bn(8, 16, 8, 0);
    test_bn(8, 16, 8, 1);
    test_bn(32, 64, 4, 1);
    test_eltwise();
    test_pool(TB_POOL_MAX, 4, 8, 16, 3, 2, 1);
    test_pool(TB_POOL_AVG, 4, 32, 4, 4, 4, 0);
    test_pool(TB_POOL_AVG, 4, 32, 7, 7, 7, 0);
    test_fc_and_loss(32, 64, 10);
    test_fc_and_loss(7, 512, 100);
    for (int k = 0; k < TB_OPT_COUNT; k++)
        test_optim((tb_opt_kind)k);
    test_augment();
    if (strcmp(p, "bf16") == 0)
        test_bf16_rounding();
    test_train_step("resnet18-cifar:w8", 32);
    test_train_step("resnet50:w8", 32);
    G->destroy(G);
    G = NULL;
}

int main(int argc, char **argv)
{
    if (tb_cuda_device_count() < 1) {
        printf("skipped: %s\n", tb_last_error());
        return 77;
    }
    C = tb_cpu_backend_create(0);
    if (!C)
        die("tb_cpu_backend_create");
    tb_rng_seed(&R, 2024, 6, 0, 0);
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            run_precision(argv[i]);
    else {
        run_precision("fp32");
        run_precision("bf16");
    }
    C->destroy(C);
    return check_finish();
}
