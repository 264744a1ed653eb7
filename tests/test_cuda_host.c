/* The CUDA kernels' per-element functions (engine/cuda/cuda_elements.h) run
 * over every index on the CPU, against the CPU backend's result for the same
 * operation, so a wrong index in a kernel fails here on any machine.  Needs
 * no CUDA runtime: only the header, no cuda_runtime.h.
 *
 * Shapes are small and odd (C = 17, not a multiple of nChw16c's 16; H != W
 * where a swap of h and w would hide).  BN and pooling run on cuDNN, with no
 * kernel of ours, so they have nothing here.
 *
 * Bounds:
 *   relu fwd/bwd, add (+relu)                exact (a selection, one rounding)
 *   fc bias add with zero weights            exact (index map only)
 *   fc bias add with weights                 1e-5 of max |y| (oneDNN's fp32 gemm vs a double one)
 *   fc bias gradient (column sums)           rows ulp of sum |dy| per column (fp32 sums, another order)
 *   NCHW <-> NHWC index maps                 exact (vs the CPU's nChw16c for C = 16, loops for C = 17)
 *   augmentation                             exact (vs the loader's tb_augment_image)
 *   softmax cross-entropy gradient           2 ulp; loss sum 1e-12 relative (double sums, another order)
 *   loss over a short batch after a full one 1e-12 relative: the live rows only, as the kernel runs them
 *   sum of squares                           1e-12 relative (exact double products, another order)
 *   optimizers, 3 steps                      4 eps of the array's max |want|: the kernels fuse every
 *                                            MADD, a CPU build without fast fmaf does not */
#include "core/error.h" // uses: tb_last_error
#include "core/rng.h" // uses: tb_rng, tb_rng_normal, tb_rng_below, tb_rng_seed
#include "datasets/augment.h" // uses: tb_augment, tb_augment_init, TB_AUGMENT_PAD, tb_augment_image
#include "engine/backend.h" // uses: tb_backend, tb_tensor, tb_layout, TB_LAYOUT_PLAIN, TB_LAYOUT_NATIVE, ...
#include "engine/backend_check.h"
#include "engine/cuda/cuda_elements.h" // uses: tb_el_relu_fwd, tb_el_relu_bwd, tb_el_add, tb_el_bias_add_rows, ...
#include "engine/cuda/cuda_policy.h" // uses: tb_cuda_opt_scalars, tb_cuda_opt_scalars_of, tb_cuda_pick_device, ...
#include "engine/model.h" // uses: tb_model, tb_model_create, tb_model_input, tb_model_forward, tb_model_logits, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tb_backend *B;
static tb_rng R;

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "allocation failed: %s\n", tb_last_error());
        exit(1);
    }
    return p;
}

static float *alloc_f(size_t n) { return must(B->alloc(B, (n ? n : 1) * sizeof(float), "test data")); }

static float *rand_f(size_t n)
{
    float *p = alloc_f(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)tb_rng_normal(&R);
    return p;
}

static tb_tensor tensor(float *data, int n, int c, int h, int w, tb_layout layout)
{
    tb_tensor t = {{n, c, h, w}, data, layout};
    return t;
}

/* Distance in units in the last place; signed zeros are equal, NaN is far. */
static double ulps(float a, float b)
{
    if (a == b)
        return 0;
    if (isnan(a) || isnan(b))
        return INFINITY;
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia, lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return fabs((double)(la - lb));
}

/* got == want element by element (== so -0 matches 0: oneDNN's relu writes -0). */
static void check_equal(const float *got, const float *want, size_t n, const char *what)
{
    size_t bad = 0, at = 0;
    for (size_t i = 0; i < n; i++)
        if (!(got[i] == want[i]) && bad++ == 0)
            at = i;
    CHECK(bad == 0, "%s: %zu of %zu differ, first at %zu: got %.9g want %.9g", what, bad, n, at,
          n ? (double)got[at] : 0.0, n ? (double)want[at] : 0.0);
}

/* ---- element-wise ---- */

static void test_eltwise(void)
{
    const int N = 3, C = 17, H = 7, W = 7;
    const size_t n = (size_t)N * C * H * W;
    float *x = rand_f(n), *c = rand_f(n), *dy = rand_f(n), *want = alloc_f(n), *y = alloc_f(n), *got = alloc_f(n);
    x[0] = 0.0f; /* the boundary of both relu rules */
    tb_tensor tx = tensor(x, N, C, H, W, TB_LAYOUT_PLAIN), tc = tensor(c, N, C, H, W, TB_LAYOUT_PLAIN);
    tb_tensor tdy = tensor(dy, N, C, H, W, TB_LAYOUT_PLAIN), tw = tensor(want, N, C, H, W, TB_LAYOUT_PLAIN);
    tb_tensor ty = tensor(y, N, C, H, W, TB_LAYOUT_PLAIN);

    CHECK(B->relu_fwd(B, &tx, &ty) == 0, "cpu relu_fwd: %s", tb_last_error());
    for (size_t i = 0; i < n; i++)
        tb_el_relu_fwd(i, x, got);
    check_equal(got, y, n, "relu_fwd");

    CHECK(B->relu_bwd(B, &ty, &tdy, &tw) == 0, "cpu relu_bwd: %s", tb_last_error());
    for (size_t i = 0; i < n; i++)
        tb_el_relu_bwd(i, y, dy, got);
    check_equal(got, want, n, "relu_bwd");

    for (int relu = 0; relu <= 1; relu++) {
        CHECK(B->add(B, &tx, &tc, &tw, relu) == 0, "cpu add: %s", tb_last_error());
        for (size_t i = 0; i < n; i++)
            tb_el_add(i, x, c, got, relu);
        check_equal(got, want, n, relu ? "add+relu" : "add");
    }
    float *bufs[] = {x, c, dy, want, y, got};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        B->release(B, bufs[i]);
}

/* ---- fully connected: the bias add and its gradient ---- */

static void test_fc(void)
{
    const int N = 3, C = 5, H = 3, W = 3, IN = C * H * W, OUT = 13;
    float *x = rand_f((size_t)N * IN), *w = rand_f((size_t)OUT * IN), *bias = rand_f(OUT);
    float *zero_w = alloc_f((size_t)OUT * IN), *want = alloc_f((size_t)N * OUT), *got = alloc_f((size_t)N * OUT);
    tb_tensor tx = tensor(x, N, C, H, W, TB_LAYOUT_PLAIN), ty = tensor(want, N, OUT, 1, 1, TB_LAYOUT_PLAIN);
    const size_t n = (size_t)N * OUT;

    /* Zero weights: y is the bias broadcast, exactly. */
    CHECK(B->fc_fwd(B, &tx, zero_w, bias, &ty) == 0, "cpu fc_fwd: %s", tb_last_error());
    memset(got, 0, n * sizeof *got);
    for (size_t i = 0; i < n; i++)
        tb_el_bias_add_rows(i, got, bias, OUT);
    check_equal(got, want, n, "bias add onto zeros");

    /* Weights: the bias added to a double-accumulated x w^T. */
    CHECK(B->fc_fwd(B, &tx, w, bias, &ty) == 0, "cpu fc_fwd: %s", tb_last_error());
    double max_y = 0, max_d = 0;
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OUT; o++) {
            double s = 0;
            for (int k = 0; k < IN; k++)
                s += (double)x[(size_t)r * IN + k] * w[(size_t)o * IN + k];
            got[(size_t)r * OUT + o] = (float)s;
        }
    for (size_t i = 0; i < n; i++)
        tb_el_bias_add_rows(i, got, bias, OUT);
    for (size_t i = 0; i < n; i++) {
        max_y = fmax(max_y, fabs(want[i]));
        max_d = fmax(max_d, fabs((double)got[i] - want[i]));
    }
    CHECK(max_d <= 1e-5 * max_y, "bias add after x w^T: max error %.3g of max |y| %.3g", max_d, max_y);

    /* The bias gradient: column sums of dy [N][OUT]. */
    float *dy = rand_f(n), *dw = alloc_f((size_t)OUT * IN), *db = alloc_f(OUT), *db_got = alloc_f(OUT);
    tb_tensor tdy = tensor(dy, N, OUT, 1, 1, TB_LAYOUT_PLAIN);
    CHECK(B->fc_bwd(B, &tx, &tdy, w, NULL, dw, db) == 0, "cpu fc_bwd: %s", tb_last_error());
    for (int j = 0; j < OUT; j++)
        tb_el_col_sum(j, dy, db_got, N, OUT);
    for (int j = 0; j < OUT; j++) {
        double mag = 0;
        for (int r = 0; r < N; r++)
            mag += fabs(dy[(size_t)r * OUT + j]);
        CHECK(fabs((double)db_got[j] - db[j]) <= N * FLT_EPSILON * mag, "bias gradient column %d: got %.9g want %.9g",
              j, (double)db_got[j], (double)db[j]);
    }
    float *bufs[] = {x, w, bias, zero_w, want, got, dy, dw, db, db_got};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        B->release(B, bufs[i]);
}

/* ---- layouts: NCHW <-> NHWC index maps ---- */

static void test_layouts(void)
{
    const int shapes[][4] = {{3, 17, 7, 5}, {3, 16, 7, 5}, {1, 1, 1, 1}, {2, 3, 1, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
        const size_t n = (size_t)N * C * H * W;
        float *x = rand_f(n), *nhwc = alloc_f(n), *want = alloc_f(n), *back = alloc_f(n);
        for (size_t i = 0; i < n; i++)
            nhwc[i] = x[tb_el_nchw_to_nhwc_src(i, C, H, W)];
        for (int b = 0; b < N; b++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int xi = 0; xi < W; xi++)
                        want[(((size_t)b * H + y) * W + xi) * C + c] = x[(((size_t)b * C + c) * H + y) * W + xi];
        char what[80];
        snprintf(what, sizeof what, "NCHW to NHWC of %dx%dx%dx%d", N, C, H, W);
        check_equal(nhwc, want, n, what);
        if (C == 16) {
            /* One 16-channel block: the CPU backend's nChw16c is NHWC. */
            tb_tensor tx = tensor(x, N, C, H, W, TB_LAYOUT_PLAIN), tn = tensor(want, N, C, H, W, TB_LAYOUT_NATIVE);
            CHECK(B->convert(B, &tx, &tn) == 0, "cpu convert: %s", tb_last_error());
            snprintf(what, sizeof what, "NCHW to NHWC of %dx%dx%dx%d vs the CPU's nChw16c", N, C, H, W);
            check_equal(nhwc, want, n, what);
        }
        for (size_t i = 0; i < n; i++)
            back[i] = nhwc[tb_el_nhwc_to_nchw_src(i, C, H, W)];
        snprintf(what, sizeof what, "NHWC back to NCHW of %dx%dx%dx%d", N, C, H, W);
        check_equal(back, x, n, what);
        float *bufs[] = {x, nhwc, want, back};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
            B->release(B, bufs[i]);
    }
}

/* ---- augmentation: the loader's crop, flip and normalisation ---- */

static void test_augment(void)
{
    enum { N = 6, CH = 3, h = 27, w = 25, OUT = 29 };
    tb_dataset ds = {.channels = CH, .height = h, .width = w, .mean = {0.49f, 0.48f, 0.45f},
                     .std = {0.25f, 0.24f, 0.26f}};
    tb_augment a;
    tb_augment_init(&a, &ds, OUT);
    const int H = a.out_h, W = a.out_w;
    const size_t per_in = (size_t)CH * h * w, per_out = (size_t)CH * H * W;
    uint8_t *src = must(malloc(N * per_in));
    float *want = alloc_f(N * per_out), *got = alloc_f(N * per_out);
    for (size_t i = 0; i < N * per_in; i++)
        src[i] = (uint8_t)tb_rng_below(&R, 256);
    /* The extreme shifts both ways, with and without the mirror. */
    const int dy[N] = {-TB_AUGMENT_PAD, TB_AUGMENT_PAD, 0, 3, -2, TB_AUGMENT_PAD};
    const int dx[N] = {TB_AUGMENT_PAD, -TB_AUGMENT_PAD, 0, -1, 2, TB_AUGMENT_PAD};
    const int flip[N] = {0, 1, 1, 0, 1, 1};
    for (int i = 0; i < N; i++)
        tb_augment_image(&a, src + i * per_in, dy[i], dx[i], flip[i], want + i * per_out);
    for (size_t i = 0; i < N * per_out; i++)
        tb_el_augment(i, src, got, CH, h, w, H, W, a.pad_y, a.pad_x, dy, dx, flip, &a.lut[0][0]);
    check_equal(got, want, N * per_out, "augmentation");
    free(src);
    B->release(B, want);
    B->release(B, got);
}

/* ---- softmax cross-entropy: the kernel's per-row pieces, row by row ---- */

static void test_softmax_xent(void)
{
    enum { N = 7, K = 17 };
    const float grad_scale = 1.0f / N;
    float *logits = rand_f((size_t)N * K), *want = alloc_f((size_t)N * K), *got = alloc_f((size_t)N * K);
    int32_t labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = (int32_t)tb_rng_below(&R, (uint32_t)K);
    labels[0] = 0;
    labels[1] = K - 1;
    logits[3] = 40.0f; /* a dominant logit: exp would overflow without the max */
    tb_tensor tl = tensor(logits, N, K, 1, 1, TB_LAYOUT_PLAIN), tg = tensor(want, N, K, 1, 1, TB_LAYOUT_PLAIN);
    double loss_want = 0, loss_got = 0;
    CHECK(B->softmax_xent(B, &tl, labels, grad_scale, &tg, &loss_want) == 0, "cpu softmax_xent: %s",
          tb_last_error());
    for (int r = 0; r < N; r++) {
        const float *row = logits + (size_t)r * K;
        CHECK(tb_el_xent_label_ok(labels[r], K), "label %d of row %d", (int)labels[r], r);
        float mx = -INFINITY;
        for (int j = 0; j < K; j++)
            mx = fmaxf(mx, row[j]);
        double sum = 0;
        for (int j = 0; j < K; j++)
            sum += tb_el_xent_term(row, j, mx);
        const double log_sum = log(sum);
        loss_got += tb_el_xent_loss(row, labels[r], K, mx, log_sum);
        for (int j = 0; j < K; j++)
            tb_el_xent_grad(j, row, got + (size_t)r * K, labels[r], mx, log_sum, grad_scale);
    }
    CHECK(fabs(loss_got - loss_want) <= 1e-12 * fabs(loss_want), "loss sum: got %.17g want %.17g", loss_got,
          loss_want);
    double worst = 0;
    for (size_t i = 0; i < (size_t)N * K; i++)
        worst = fmax(worst, ulps(got[i], want[i]));
    CHECK(worst <= 2, "softmax gradient: %.0f ulp apart (bound 2)", worst);

    /* A label outside [0, K) is flagged and its row's loss is 0. */
    CHECK(!tb_el_xent_label_ok(-1, K) && !tb_el_xent_label_ok(K, K) && tb_el_xent_label_ok(K - 1, K),
          "label range");
    CHECK(tb_el_xent_loss(logits, K, K, 1.0f, 2.0) == 0.0, "a bad label's loss is 0");
    B->release(B, logits);
    B->release(B, want);
    B->release(B, got);
}

/* ---- the loss over a partial batch: only the forward's live rows ---- */

/* The kernel's loss over a logits tensor, row by row as softmax_xent_k runs
 * it: one row per warp for rows 0 .. shape.n - 1. */
static double el_xent_sum(const tb_tensor *t, const int32_t *labels)
{
    const int k = t->shape.c;
    double loss = 0;
    for (int r = 0; r < t->shape.n; r++) {
        const float *row = t->data + (size_t)r * k;
        float mx = -INFINITY;
        for (int j = 0; j < k; j++)
            mx = fmaxf(mx, row[j]);
        double sum = 0;
        for (int j = 0; j < k; j++)
            sum += tb_el_xent_term(row, j, mx);
        loss += tb_el_xent_loss(row, labels[r], k, mx, log(sum));
    }
    return loss;
}

/* After a full batch, a short one (an epoch's or the test set's last): the
 * logits the loss reads must be the short batch's rows only, so the loss
 * never adds rows left from the batch before (both backends sum over
 * logits->shape.n rows). */
static void test_partial_batch_loss(void)
{
    enum { MAX = 8, SHORT = 3, K = 10 };
    tb_model_spec spec;
    CHECK(tb_model_spec_parse("resnet18-cifar:w4", K, 3, 1, &spec) == 0, "spec: %s", tb_last_error());
    tb_model *m = tb_model_create(B, &spec, MAX, 32, 32, 7);
    CHECK(m != NULL, "model: %s", tb_last_error());
    if (!m)
        return;
    tb_tensor *in = tb_model_input(m);
    size_t per_image = (size_t)in->shape.c * in->shape.h * in->shape.w;
    for (size_t i = 0; i < MAX * per_image; i++)
        in->data[i] = (float)tb_rng_normal(&R);
    int32_t *labels = must(B->alloc(B, MAX * sizeof(int32_t), "labels"));
    for (int i = 0; i < MAX; i++)
        labels[i] = (int32_t)tb_rng_below(&R, K);
    double full = 0, part = 0;
    CHECK(tb_model_forward(m, MAX, 0) == 0 && B->softmax_xent(B, tb_model_logits(m), labels, 0, NULL, &full) == 0,
          "full batch: %s", tb_last_error());
    /* The short batch: new images in the first rows, the old ones after them. */
    for (size_t i = 0; i < SHORT * per_image; i++)
        in->data[i] = (float)tb_rng_normal(&R);
    CHECK(tb_model_forward(m, SHORT, 1) == 0, "short forward: %s", tb_last_error());
    const tb_tensor *lg = tb_model_logits(m);
    CHECK(lg->shape.n == SHORT && tb_model_dlogits(m)->shape.n == SHORT,
          "logits and their gradient have %d and %d rows after a forward of %d", lg->shape.n,
          tb_model_dlogits(m)->shape.n, SHORT);
    CHECK(B->softmax_xent(B, lg, labels, 1.0f / SHORT, tb_model_dlogits(m), &part) == 0, "short loss: %s",
          tb_last_error());
    /* Reference: the short batch's rows alone, summed as the kernel does. */
    tb_tensor rows = *lg;
    rows.shape.n = SHORT;
    double want = el_xent_sum(&rows, labels), kernel = el_xent_sum(lg, labels);
    CHECK(fabs(part - want) <= 1e-12 * fabs(want) && fabs(kernel - want) <= 1e-12 * fabs(want),
          "short-batch loss: cpu %.17g, kernel rows %.17g, want %.17g (%d rows)", part, kernel, want, SHORT);
    CHECK(tb_model_backward(m, SHORT) == 0, "short backward: %s", tb_last_error());
    B->release(B, labels);
    tb_model_destroy(m);
}

/* ---- sum of squares: the summand, summed in index order ---- */

static void test_sum_squares(void)
{
    const size_t n = (size_t)3 * 17 * 7 * 7;
    float *x = rand_f(n);
    double want = 0, got = 0;
    CHECK(B->sum_squares(B, x, n, &want) == 0, "cpu sum_squares: %s", tb_last_error());
    for (size_t i = 0; i < n; i++)
        got += tb_el_square(i, x);
    CHECK(fabs(got - want) <= 1e-12 * want, "sum of squares: got %.17g want %.17g", got, want);
    B->release(B, x);
}

/* ---- optimizers: the backend's own scalars (cuda_policy.h), the element
 * functions, against the CPU backend, which works out its scalars itself ---- */

static void el_opt_step(const tb_opt_hyper *h, float *p, const float *g, float *s0, float *s1, size_t n)
{
    const float wd = h->weight_decay;
    const tb_cuda_opt_scalars s = tb_cuda_opt_scalars_of(h);
    switch (h->kind) {
    case TB_OPT_SGD:
    case TB_OPT_SGD_NESTEROV:
    case TB_OPT_LARS:
        for (size_t i = 0; i < n; i++) {
            if (h->momentum != 0.0f)
                tb_el_sgd(i, p, g, s0, wd, s.keep, s.scale, s.u_b, s.u_d, s.neg_lr);
            else
                tb_el_sgd_plain(i, p, g, wd, s.neg_lr);
        }
        break;
    case TB_OPT_ADAGRAD:
        for (size_t i = 0; i < n; i++)
            tb_el_adagrad(i, p, g, s0, wd, h->eps, s.neg_clr);
        break;
    case TB_OPT_ADADELTA:
        for (size_t i = 0; i < n; i++)
            tb_el_adadelta(i, p, g, s0, s1, wd, h->eps, h->rho, s.cr, s.neg_lr);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            tb_el_adam(i, p, g, s0, s1, wd, h->eps, h->beta1, h->beta2, s.c1, s.c2, s.neg_step, s.bc2_sqrt);
        break;
    }
}

/* max |got - want| / max |want| over the array, in units of FLT_EPSILON:
 * normwise, because a momentum buffer that nearly cancels makes per-element
 * relative errors meaningless. */
static double opt_error(const float *got, const float *want, size_t n)
{
    double max_d = 0, max_w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= max_d))
            max_d = d;
        max_w = fmax(max_w, fabs(want[i]));
    }
    return max_d == 0 ? 0 : max_d / ((max_w > 0 ? max_w : 1) * FLT_EPSILON);
}

static void test_optimizer(tb_opt_kind kind, float momentum, const char *name)
{
    const size_t n = (size_t)3 * 17 * 7 * 7;
    tb_opt_hyper h = {.kind = kind, .lr = 0.1f, .momentum = momentum, .dampening = 0.1f, .weight_decay = 1e-4f,
                      .eps = 1e-8f, .rho = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f, .lr_decay = 0.01f,
                      .trust_ratio = kind == TB_OPT_LARS ? 0.7f : 1.0f};
    if (kind == TB_OPT_ADAGRAD)
        h.eps = 1e-10f;
    if (kind == TB_OPT_ADADELTA) {
        h.eps = 1e-6f;
        h.lr = 1.0f;
    }
    float *p = rand_f(n), *q = alloc_f(n), *g = alloc_f(n);
    float *s[2] = {alloc_f(n), alloc_f(n)}, *t[2] = {alloc_f(n), alloc_f(n)};
    memcpy(q, p, n * sizeof *p);
    for (long step = 1; step <= 3; step++) {
        h.step = step;
        for (size_t i = 0; i < n; i++)
            g[i] = (float)tb_rng_normal(&R);
        CHECK(B->opt_step(B, &h, p, g, s[0], s[1], n) == 0, "cpu %s step: %s", name, tb_last_error());
        el_opt_step(&h, q, g, t[0], t[1], n);
        double e = opt_error(q, p, n);
        CHECK(e <= 4, "%s step %ld: parameters %.2f eps of max |p| apart (bound 4)", name, step, e);
        for (int k = 0; k < 2; k++) {
            e = opt_error(t[k], s[k], n);
            CHECK(e <= 4, "%s step %ld: state %d %.2f eps of its max apart (bound 4)", name, step, k, e);
        }
    }
    float *bufs[] = {p, q, g, s[0], s[1], t[0], t[1]};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        B->release(B, bufs[i]);
}

static void test_optimizers(void)
{
    test_optimizer(TB_OPT_SGD, 0.0f, "sgd without momentum");
    test_optimizer(TB_OPT_SGD, 0.9f, "sgd");
    test_optimizer(TB_OPT_SGD_NESTEROV, 0.9f, "sgd-nesterov");
    test_optimizer(TB_OPT_LARS, 0.9f, "lars");
    test_optimizer(TB_OPT_ADAGRAD, 0.0f, "adagrad");
    test_optimizer(TB_OPT_ADADELTA, 0.0f, "adadelta");
    test_optimizer(TB_OPT_ADAM, 0.0f, "adam");
}

/* ---- host-side policy of the backend (cuda_policy.h) ---- */

/* Local rank % visible GPUs: every rank of a node that sees all its GPUs
 * takes its own; ranks bound to one GPU each (Slurm --gpus-per-task) all
 * take device 0 instead of asking for one they cannot see. */
static void test_pick_device(void)
{
    CHECK(tb_cuda_pick_device(0, 4) == 0 && tb_cuda_pick_device(3, 4) == 3, "rank r of 4 on a 4-GPU view: GPU r");
    for (int r = 0; r < 8; r++)
        CHECK(tb_cuda_pick_device(r, 1) == 0, "local rank %d seeing one GPU: got %d, want 0", r,
              tb_cuda_pick_device(r, 1));
    CHECK(tb_cuda_pick_device(5, 4) == 1 && tb_cuda_pick_device(6, 2) == 0, "more ranks than GPUs: wraps");
    CHECK(tb_cuda_pick_device(0, 0) == -1 && tb_cuda_pick_device(-1, 4) == -1, "no GPU or negative rank: -1");
}

/* The algorithm cache: a key differs in every field that changes the
 * convolution (so no shape reuses another's algorithm), and the measured
 * search runs only for the training batch (the first batch size seen). */
static void test_conv_cache_policy(void)
{
    const tb_conv_desc d = {64, 128, 3, 2, 1};
    const tb_shape xs = {256, 64, 56, 56};
    int base[TB_CUDA_CONV_KEY], k[TB_CUDA_CONV_KEY];
    tb_cuda_conv_key(base, 0, 1, xs, &d);
    tb_cuda_conv_key(k, 0, 1, xs, &d);
    CHECK(tb_cuda_conv_key_equal(base, k), "same convolution, same key");
    /* One change at a time: direction, precision, n, c, h, w, out_c, kernel, stride, pad. */
    for (int f = 0; f < TB_CUDA_CONV_KEY; f++) {
        int dir = 0, prec = 1;
        tb_shape s = xs;
        tb_conv_desc e = d;
        switch (f) {
        case 0: dir = 1; break;
        case 1: prec = 2; break;
        case 2: s.n = 255; break;
        case 3: s.c = 65; break;
        case 4: s.h = 57; break;
        case 5: s.w = 57; break;
        case 6: e.out_c = 129; break;
        case 7: e.kernel = 1; break;
        case 8: e.stride = 1; break;
        default: e.pad = 0; break;
        }
        tb_cuda_conv_key(k, dir, prec, s, &e);
        CHECK(!tb_cuda_conv_key_equal(base, k), "key field %d changed, key still equal", f);
    }

    int search_batch = 0;
    CHECK(tb_cuda_conv_how(&search_batch, 128) == TB_CUDA_ALGO_SEARCH && search_batch == 128,
          "the first batch size is the training batch and is searched (search_batch %d)", search_batch);
    CHECK(tb_cuda_conv_how(&search_batch, 128) == TB_CUDA_ALGO_SEARCH, "training batch again: search");
    CHECK(tb_cuda_conv_how(&search_batch, 17) == TB_CUDA_ALGO_HEURISTIC, "last partial batch: heuristics");
    CHECK(tb_cuda_conv_how(&search_batch, 250) == TB_CUDA_ALGO_HEURISTIC, "another evaluation batch: heuristics");
    CHECK(search_batch == 128, "odd batches do not replace the training batch (now %d)", search_batch);
}

/* Which row of cuDNN's ranked list is kept. */
static void test_pick_algo(void)
{
    const tb_cuda_algo_row rows[] = {
        {0, 7, 1, 0, 0.1f, 0},        /* failed */
        {1, 6, 0, 1, 0.2f, 0},        /* tensor-op math */
        {1, 1, 1, 0, 0.3f, 1 << 30},  /* FMA, 1 GiB workspace */
        {1, 0, 1, 0, 0.4f, 1 << 20},  /* FMA, 1 MiB */
    };
    CHECK(tb_cuda_pick_algo(rows, 4, 0, SIZE_MAX) == 1, "tf32/bf16: the first that ran, tensor ops allowed");
    CHECK(tb_cuda_pick_algo(rows, 4, 1, SIZE_MAX) == 2, "fp32: the first that ran with FMA math only");
    CHECK(tb_cuda_pick_algo(rows, 4, 1, 4 << 20) == 3, "heuristics: the first that fits the workspace held");
    CHECK(tb_cuda_pick_algo(rows, 4, 1, 0) == 2, "nothing fits: the first that qualifies, workspace grown");
    CHECK(tb_cuda_pick_algo(rows, 1, 0, SIZE_MAX) == -1, "none ran: -1");
    CHECK(tb_cuda_pick_algo(rows, 2, 1, SIZE_MAX) == -1, "fp32 and only tensor-op rows: -1");
}

int main(void)
{
    tb_rng_seed(&R, 15, 0, 0, 0);
    B = tb_cpu_backend_create(1);
    if (!B) {
        fprintf(stderr, "cannot create the cpu backend: %s\n", tb_last_error());
        return 1;
    }
    test_eltwise();
    test_fc();
    test_layouts();
    test_augment();
    test_softmax_xent();
    test_partial_batch_loss();
    test_sum_squares();
    test_optimizers();
    test_pick_device();
    test_conv_cache_policy();
    test_pick_algo();
    B->destroy(B);
    return check_finish();
}
