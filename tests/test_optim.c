/* Optimizers and learning-rate schedules: the CPU kernels and engine/optim.c
 * against PyTorch's update rules written out here in double precision, and
 * against values PyTorch itself produced (tests/gen_optim_expected.py).
 *
 * The backend is a minimal host one (calloc/free plus the CPU optimizer
 * kernels), so this runs without oneDNN or the rest of the CPU backend. */
#include "core/error.h" // uses: tb_fail, tb_calloc, tb_last_error, tb_clear_error
#include "engine/cpu/cpu_optim.h" // uses: tb_cpu_opt_step, tb_cpu_sum_squares
#include "engine/optim.h" // uses: tb_opt_kind_name, tb_optim_config, tb_optim_config_defaults, tb_optimizer, ...
#include "tests/check.h" // uses: CHECK_CLOSE, CHECK, check_finish

#include <stdlib.h>
#include <string.h>

/* ---- a host backend that counts its allocations ---- */

static int allocs, releases, fail_allocs;

static void *host_alloc(tb_backend *b, size_t bytes, const char *what)
{
    (void)b;
    if (fail_allocs) {
        tb_fail("out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    allocs++;
    return tb_calloc(1, bytes, what);
}

static void host_release(tb_backend *b, void *ptr)
{
    (void)b;
    releases++;
    free(ptr);
}

static tb_backend host = {
    .name = "host",
    .kind = TB_DEVICE_CPU,
    .alloc = host_alloc,
    .release = host_release,
    .opt_step = tb_cpu_opt_step,
    .sum_squares = tb_cpu_sum_squares,
};

/* ---- PyTorch 1.13's update rules (torch/optim/{sgd,adagrad,adadelta,adam}.py,
 * the single-tensor loops), one element at a time in double ---- */

typedef struct {
    tb_opt_kind kind;
    double lr, momentum, dampening, wd;
    double lr_decay, eps;   /* adagrad */
    double rho;             /* adadelta (eps above) */
    double beta1, beta2;    /* adam (eps above) */
} ref_hyper;

/* PyTorch's defaults for what trainbench does not configure. */
static ref_hyper ref_for(tb_opt_kind kind, double lr, double momentum, double wd)
{
    ref_hyper r = {.kind = kind, .lr = lr, .wd = wd};
    switch (kind) {
    case TB_OPT_ADAGRAD: r.eps = 1e-10; break;
    case TB_OPT_ADADELTA: r.rho = 0.9, r.eps = 1e-6; break;
    case TB_OPT_ADAM: r.beta1 = 0.9, r.beta2 = 0.999, r.eps = 1e-8; break;
    default: r.momentum = momentum; break;
    }
    return r;
}

/* One step (counting from 1) on n elements; `trust` multiplies LARS's lr. */
static void ref_step(const ref_hyper *r, long step, double trust, double *p, const float *g, double *s0,
                     double *s1, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double d = g[i] + r->wd * p[i];
        switch (r->kind) {
        case TB_OPT_SGD:
        case TB_OPT_SGD_NESTEROV:
        case TB_OPT_LARS:
            if (r->momentum != 0) {
                s0[i] = step == 1 ? d : r->momentum * s0[i] + (1 - r->dampening) * d;
                d = r->kind == TB_OPT_SGD_NESTEROV ? d + r->momentum * s0[i] : s0[i];
            }
            p[i] -= r->lr * trust * d;
            break;
        case TB_OPT_ADAGRAD:
            s0[i] += d * d;
            p[i] -= r->lr / (1 + (double)(step - 1) * r->lr_decay) * d / (sqrt(s0[i]) + r->eps);
            break;
        case TB_OPT_ADADELTA: {
            s0[i] = r->rho * s0[i] + (1 - r->rho) * d * d;
            double delta = sqrt(s1[i] + r->eps) / sqrt(s0[i] + r->eps) * d;
            s1[i] = r->rho * s1[i] + (1 - r->rho) * delta * delta;
            p[i] -= r->lr * delta;
            break;
        }
        default: {
            s0[i] = r->beta1 * s0[i] + (1 - r->beta1) * d;
            s1[i] = r->beta2 * s1[i] + (1 - r->beta2) * d * d;
            double bc1 = 1 - pow(r->beta1, (double)step), bc2 = 1 - pow(r->beta2, (double)step);
            p[i] -= r->lr / bc1 * s0[i] / (sqrt(s1[i]) / sqrt(bc2) + r->eps);
            break;
        }
        }
    }
}

/* LARS's trust ratio from You et al.: eta |w| / (|g| + wd |w|), 1 if a norm is 0. */
static double ref_trust(const double *w, const float *g, size_t n, double eta, double wd)
{
    double w2 = 0, g2 = 0;
    for (size_t i = 0; i < n; i++) {
        w2 += w[i] * w[i];
        g2 += (double)g[i] * g[i];
    }
    if (w2 == 0 || g2 == 0)
        return 1;
    return eta * sqrt(w2) / (sqrt(g2) + wd * sqrt(w2));
}

#define REF_RTOL 1e-6
/* fp32 against fp32: bit-identical where the build has FMA (-march=native),
 * as PyTorch's AVX2 kernels do; a few ulps apart otherwise (4e-9 seen). */
#define TORCH_RTOL 1e-6

/* Checks the worst element, so a mismatch reports once per step. */
static void check_params(const char *what, long step, const float *got, const double *want, size_t n)
{
    size_t worst = 0;
    double worst_err = -1;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (!(err <= worst_err)) /* NaN counts as worst */
            worst = i, worst_err = err;
    }
    char label[128];
    snprintf(label, sizeof label, "%s step %ld [%zu of %zu]", what, step, worst, n);
    CHECK_CLOSE(got[worst], want[worst], REF_RTOL, label);
}

/* ---- the optimizers through tb_optimizer_step, on fixed inputs ---- */

#define N 7
#define NBN 3
static const float P0[N] = {0.5f, -1.25f, 2.0f, 0.0f, -0.3f, 1.7f, 0.05f};
static const float GRADS[3][N] = {
    {0.1f, -0.2f, 0.3f, 0.05f, -0.5f, 0.0f, 1.0f},
    {-0.3f, 0.1f, 0.25f, -0.05f, 0.4f, 0.2f, -0.7f},
    {0.2f, 0.3f, -0.1f, 0.15f, -0.2f, -0.4f, 0.6f},
};
static const float BN0[NBN] = {1.0f, 0.9f, 1.1f};
static const float BN_GRADS[3][NBN] = {{0.05f, -0.1f, 0.2f}, {0.1f, 0.1f, -0.3f}, {-0.2f, 0.05f, 0.1f}};
#define WD 0.01
#define MOMENTUM 0.8
#define LARS_ETA 0.02

/* Generated by `/usr/bin/python3 tests/gen_optim_expected.py` (torch 1.13.0a0,
 * torch.optim.SGD/Adagrad/Adadelta/Adam with foreach=False, LARS as SGD with a
 * per-step lr): the parameters above after step 3 with the lr and
 * hyper-parameters test_optimizers uses. */
static const float torch_sgd[] = {0.503492057f,    -1.24634194f, 1.94069552f, -0.00909675192f,
                                  -0.264249355f,   1.69755304f,  -0.0390584543f};
static const float torch_nesterov[] = {0.502041161f,   -1.25522459f, 1.92712009f, -0.0147730745f,
                                       -0.255999476f,  1.70550811f,  -0.0662168264f};
static const float torch_adagrad[] = {0.439598054f,  -1.26657259f, 1.85482049f, -0.118848599f,
                                      -0.231927946f, 1.58745551f,  -0.0367424972f};
static const float torch_adadelta[] = {0.498805135f,  -1.25121498f, 1.99746919f, -0.0024457064f,
                                       -0.298999488f, 1.69895685f,  0.0485386513f};
static const float torch_adam[] = {0.494349301f,  -1.24001598f, 1.9737519f,  -0.015064152f,
                                   -0.28694877f,  1.6845839f,   0.0351049751f};
static const float torch_lars[] = {0.502751708f,   -1.24964762f, 1.9644767f,     -0.00566366129f,
                                   -0.280579656f,  1.69908142f,  -0.000410915731f};
static const float torch_lars_bn[] = {0.949000001f, 0.907000005f, 1.07600009f};

typedef struct {
    tb_param p[2]; /* a convolution weight and a batch-norm weight */
    float data[N], grad[N], bn_data[NBN], bn_grad[NBN];
} two_params;

static void two_params_init(two_params *t)
{
    memset(t, 0, sizeof *t);
    memcpy(t->data, P0, sizeof P0);
    memcpy(t->bn_data, BN0, sizeof BN0);
    t->p[0] = (tb_param){.name = "layer1.0.conv1.weight", .role = TB_PARAM_CONV, .count = N, .data = t->data,
                         .grad = t->grad};
    t->p[1] = (tb_param){.name = "layer1.0.bn1.weight", .role = TB_PARAM_BN_WEIGHT, .count = NBN,
                         .data = t->bn_data, .grad = t->bn_grad};
}

static void test_optimizer(tb_opt_kind kind, float lr, const float *torch_p, const float *torch_bn)
{
    const char *name = tb_opt_kind_name(kind);
    tb_optim_config cfg;
    tb_optim_config_defaults(&cfg);
    cfg.kind = kind;
    cfg.lr = lr;
    cfg.momentum = (float)MOMENTUM;
    cfg.weight_decay = (float)WD;
    cfg.lars_eta = (float)LARS_ETA;
    tb_optimizer o;
    tb_optimizer_init(&o, &cfg);
    two_params t;
    two_params_init(&t);

    /* The reference: LARS leaves the batch-norm weight unscaled and undecayed. */
    ref_hyper r = ref_for(kind, lr, MOMENTUM, WD), rbn = r;
    if (kind == TB_OPT_LARS)
        rbn.wd = 0;
    double p[N], s0[N] = {0}, s1[N] = {0}, bn[NBN], bs0[NBN] = {0}, bs1[NBN] = {0};
    for (int i = 0; i < N; i++)
        p[i] = P0[i];
    for (int i = 0; i < NBN; i++)
        bn[i] = BN0[i];

    for (long step = 1; step <= 3; step++) {
        memcpy(t.grad, GRADS[step - 1], sizeof t.grad);
        memcpy(t.bn_grad, BN_GRADS[step - 1], sizeof t.bn_grad);
        double trust = kind == TB_OPT_LARS ? ref_trust(p, t.grad, N, LARS_ETA, WD) : 1.0;
        ref_step(&r, step, trust, p, t.grad, s0, s1, N);
        ref_step(&rbn, step, 1.0, bn, t.bn_grad, bs0, bs1, NBN);
        int rc = tb_optimizer_step(&o, &host, t.p, 2, lr);
        CHECK(rc == 0, "%s step %ld: %s", name, step, tb_last_error());
        check_params(name, step, t.data, p, N);
        check_params(name, step, t.bn_data, bn, NBN);
    }
    CHECK(o.step == 3, "%s: %ld steps counted", name, o.step);

    char label[64];
    for (int i = 0; i < N; i++) {
        snprintf(label, sizeof label, "%s vs torch [%d]", name, i);
        CHECK_CLOSE(t.data[i], torch_p[i], TORCH_RTOL, label);
    }
    for (int i = 0; torch_bn && i < NBN; i++) {
        snprintf(label, sizeof label, "%s bn vs torch [%d]", name, i);
        CHECK_CLOSE(t.bn_data[i], torch_bn[i], TORCH_RTOL, label);
    }
    tb_optimizer_free_state(&host, t.p, 2);
}

static void test_optimizers(void)
{
    test_optimizer(TB_OPT_SGD, 0.05f, torch_sgd, NULL);
    test_optimizer(TB_OPT_SGD_NESTEROV, 0.05f, torch_nesterov, NULL);
    test_optimizer(TB_OPT_ADAGRAD, 0.1f, torch_adagrad, NULL);
    test_optimizer(TB_OPT_ADADELTA, 0.5f, torch_adadelta, NULL);
    test_optimizer(TB_OPT_ADAM, 0.01f, torch_adam, NULL);
    test_optimizer(TB_OPT_LARS, 0.5f, torch_lars, torch_lars_bn);
    CHECK(allocs == releases, "%d state buffers allocated, %d released", allocs, releases);
}

/* Gradients near each rule's eps (and no weight decay to swamp them), where
 * the eps values optim.c passes and where they enter the formula matter. */
static void test_small_gradients(void)
{
    static const float g[4] = {1e-10f, -1e-8f, 1e-6f, -1e-3f};
    const tb_opt_kind kinds[] = {TB_OPT_ADAGRAD, TB_OPT_ADADELTA, TB_OPT_ADAM};
    for (int k = 0; k < 3; k++) {
        tb_optim_config cfg;
        tb_optim_config_defaults(&cfg);
        cfg.kind = kinds[k];
        cfg.weight_decay = 0;
        tb_optimizer o;
        tb_optimizer_init(&o, &cfg);
        float data[4] = {0.5f, 0.5f, 0.5f, 0.5f}, grad[4];
        memcpy(grad, g, sizeof grad);
        tb_param p = {.name = "w", .role = TB_PARAM_CONV, .count = 4, .data = data, .grad = grad};
        ref_hyper r = ref_for(kinds[k], cfg.lr, 0, 0);
        double rp[4] = {0.5, 0.5, 0.5, 0.5}, s0[4] = {0}, s1[4] = {0};
        for (long step = 1; step <= 3; step++) {
            ref_step(&r, step, 1.0, rp, g, s0, s1, 4);
            CHECK(tb_optimizer_step(&o, &host, &p, 1, cfg.lr) == 0, "%s", tb_last_error());
            check_params(tb_opt_kind_name(kinds[k]), step, data, rp, 4);
        }
        tb_optimizer_free_state(&host, &p, 1);
    }
}

/* ---- the kernel directly: options the optimizer does not expose, and
 * tensors big enough for the parallel loops ---- */

static float test_value(size_t i, int k) { return (float)((long)((i * 31 + (size_t)k * 17) % 101) - 50) / 83.0f; }

static void check_kernel(const char *what, tb_opt_hyper h, const ref_hyper *r, size_t n)
{
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *s0 = calloc(n, sizeof *s0),
          *s1 = calloc(n, sizeof *s1);
    double *rp = malloc(n * sizeof *rp), *rs0 = calloc(n, sizeof *rs0), *rs1 = calloc(n, sizeof *rs1);
    if (!p || !g || !s0 || !s1 || !rp || !rs0 || !rs1) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        rp[i] = p[i] = (float)((long)(i % 97) - 48) / 37.0f;
    for (h.step = 1; h.step <= 3; h.step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = test_value(i, (int)h.step);
        ref_step(r, h.step, h.trust_ratio, rp, g, rs0, rs1, n);
        int rc = tb_cpu_opt_step(&host, &h, p, g, s0, s1, n);
        CHECK(rc == 0, "%s: %s", what, tb_last_error());
        check_params(what, h.step, p, rp, n);
    }
    free(p), free(g), free(s0), free(s1), free(rp), free(rs0), free(rs1);
}

static void test_kernel(void)
{
    const size_t big = 100003; /* above the parallel threshold, odd for the vector tails */
    static const float eps[TB_OPT_COUNT] = {[TB_OPT_ADAGRAD] = 1e-10f, [TB_OPT_ADADELTA] = 1e-6f, [TB_OPT_ADAM] = 1e-8f};
    for (int k = 0; k < TB_OPT_COUNT; k++) {
        tb_opt_hyper h = {.kind = (tb_opt_kind)k, .lr = 0.03f, .momentum = 0.9f, .weight_decay = 5e-4f,
                          .eps = eps[k], .rho = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f, .trust_ratio = 1.0f};
        ref_hyper r = ref_for((tb_opt_kind)k, 0.03, 0.9, 5e-4);
        if (k == TB_OPT_LARS)
            h.trust_ratio = 0.25f;
        check_kernel(tb_opt_kind_name((tb_opt_kind)k), h, &r, big);
    }

    /* Dampening (after the first step) and Adagrad's lr decay. */
    tb_opt_hyper h = {.kind = TB_OPT_SGD, .lr = 0.1f, .momentum = 0.9f, .dampening = 0.25f, .weight_decay = 1e-3f,
                      .trust_ratio = 1.0f};
    ref_hyper r = ref_for(TB_OPT_SGD, 0.1, 0.9, 1e-3);
    r.dampening = 0.25;
    check_kernel("sgd dampening", h, &r, 1000);
    h = (tb_opt_hyper){.kind = TB_OPT_ADAGRAD, .lr = 0.1f, .lr_decay = 0.5f, .weight_decay = 1e-3f, .eps = 1e-10f,
                       .trust_ratio = 1.0f};
    r = ref_for(TB_OPT_ADAGRAD, 0.1, 0, 1e-3);
    r.lr_decay = 0.5;
    check_kernel("adagrad lr_decay", h, &r, 1000);
    /* No momentum: plain SGD, and no state needed. */
    h = (tb_opt_hyper){.kind = TB_OPT_SGD, .lr = 0.1f, .weight_decay = 1e-3f, .trust_ratio = 1.0f};
    r = ref_for(TB_OPT_SGD, 0.1, 0, 1e-3);
    check_kernel("sgd no momentum", h, &r, 1000);
}

static void test_kernel_errors(void)
{
    float p[2] = {1, 2}, g[2] = {0.5f, 0.5f}, s[2] = {0};
    tb_opt_hyper h = {.kind = TB_OPT_COUNT, .lr = 0.1f, .trust_ratio = 1, .step = 1};
    tb_clear_error();
    CHECK(tb_cpu_opt_step(&host, &h, p, g, s, s, 2) == -1, "unknown kind accepted");
    CHECK(strstr(tb_last_error(), "unknown") != NULL, "message: %s", tb_last_error());

    h.kind = TB_OPT_ADAM;
    h.beta1 = 0.9f, h.beta2 = 0.999f, h.eps = 1e-8f;
    CHECK(tb_cpu_opt_step(&host, &h, p, g, s, NULL, 2) == -1, "adam without exp_avg_sq accepted");
    h.kind = TB_OPT_ADAGRAD;
    CHECK(tb_cpu_opt_step(&host, &h, p, g, NULL, NULL, 2) == -1, "adagrad without its sum accepted");
    h.kind = TB_OPT_SGD;
    h.momentum = 0.9f;
    CHECK(tb_cpu_opt_step(&host, &h, p, g, NULL, NULL, 2) == -1, "sgd momentum without a buffer accepted");
    h.step = 0;
    CHECK(tb_cpu_opt_step(&host, &h, p, g, s, NULL, 2) == -1, "step 0 accepted");
    h.momentum = 0;
    h.step = 1;
    CHECK(tb_cpu_opt_step(&host, &h, p, g, NULL, NULL, 2) == 0, "sgd without momentum: %s", tb_last_error());
    CHECK(tb_cpu_opt_step(&host, &h, p, NULL, NULL, NULL, 2) == -1, "NULL gradient accepted");
}

static void test_sum_squares(void)
{
    const float v[2] = {3, 4};
    double s = 0;
    CHECK(tb_cpu_sum_squares(&host, v, 2, &s) == 0 && s == 25.0, "sum of squares of {3, 4}: %g", s);
    CHECK(tb_cpu_sum_squares(&host, v, 0, &s) == 0 && s == 0.0, "empty sum: %g", s);
    CHECK(tb_cpu_sum_squares(&host, v, 2, NULL) == -1, "NULL output accepted");

    const size_t n = 200001;
    float *x = malloc(n * sizeof *x);
    double want = 0;
    if (!x)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        x[i] = test_value(i, 1);
        want += (double)x[i] * x[i];
    }
    CHECK(tb_cpu_sum_squares(&host, x, n, &s) == 0, "%s", tb_last_error());
    CHECK_CLOSE(s, want, 1e-12, "sum of squares, 200001 floats");
    free(x);
}

/* ---- LARS details, optimizer state and errors through tb_optimizer_step ---- */

static tb_optimizer make_optimizer(tb_opt_kind kind, float lr)
{
    tb_optim_config cfg;
    tb_optim_config_defaults(&cfg);
    cfg.kind = kind;
    cfg.lr = lr;
    tb_optimizer o;
    tb_optimizer_init(&o, &cfg);
    return o;
}

/* One LARS step with momentum (so the update is lr * trust * (g + wd w))
 * on a two-element tensor of the given role. */
static void lars_one_step(tb_param_role role, const float w[2], const float g[2], float out[2])
{
    tb_optimizer o = make_optimizer(TB_OPT_LARS, 1.0f);
    o.cfg.lars_eta = 0.02f;
    o.cfg.weight_decay = 0.01f;
    float data[2] = {w[0], w[1]}, grad[2] = {g[0], g[1]};
    tb_param p = {.name = "w", .role = role, .count = 2, .data = data, .grad = grad};
    CHECK(tb_optimizer_step(&o, &host, &p, 1, o.cfg.lr) == 0, "lars: %s", tb_last_error());
    out[0] = data[0], out[1] = data[1];
    tb_optimizer_free_state(&host, &p, 1);
}

static void test_lars(void)
{
    const float w[2] = {0.3f, 0.4f}, g[2] = {0.06f, 0.08f}, zero[2] = {0, 0};
    float out[2];
    /* |w| = 0.5, |g| = 0.1: trust = 0.02 * 0.5 / (0.1 + 0.01 * 0.5) = 0.0952381. */
    const double trust = 0.02 * 0.5 / (0.1 + 0.01 * 0.5);
    const tb_param_role scaled[] = {TB_PARAM_CONV, TB_PARAM_FC_WEIGHT};
    for (int k = 0; k < 2; k++) {
        lars_one_step(scaled[k], w, g, out);
        for (int i = 0; i < 2; i++) {
            double d = (double)g[i] + 0.01 * w[i];
            CHECK_CLOSE(out[i], w[i] - trust * d, REF_RTOL, "lars weight");
            CHECK_CLOSE((w[i] - out[i]) / d, trust, 1e-4, "lars trust ratio recovered from the step");
        }
    }
    /* Batch-norm parameters and biases: trust 1, no weight decay. */
    const tb_param_role skipped[] = {TB_PARAM_BN_WEIGHT, TB_PARAM_BN_BIAS, TB_PARAM_FC_BIAS};
    for (int k = 0; k < 3; k++) {
        lars_one_step(skipped[k], w, g, out);
        for (int i = 0; i < 2; i++)
            CHECK_CLOSE(out[i], (double)w[i] - g[i], REF_RTOL, "lars skips bn/bias");
    }
    /* A zero norm on either side: trust 1, weight decay kept. */
    lars_one_step(TB_PARAM_CONV, w, zero, out);
    for (int i = 0; i < 2; i++)
        CHECK_CLOSE(out[i], w[i] - 0.01 * w[i], REF_RTOL, "lars with a zero gradient");
    lars_one_step(TB_PARAM_CONV, zero, g, out);
    for (int i = 0; i < 2; i++)
        CHECK_CLOSE(out[i], -(double)g[i], REF_RTOL, "lars with zero weights");
}

static void test_state(void)
{
    static const struct {
        tb_opt_kind kind;
        float momentum;
        int buffers;
    } cases[] = {
        {TB_OPT_SGD, 0, 0},      {TB_OPT_SGD, 0.9f, 1},     {TB_OPT_SGD_NESTEROV, 0.9f, 1}, {TB_OPT_LARS, 0, 0},
        {TB_OPT_LARS, 0.9f, 1},  {TB_OPT_ADAGRAD, 0.9f, 1}, {TB_OPT_ADADELTA, 0.9f, 2},     {TB_OPT_ADAM, 0.9f, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *name = tb_opt_kind_name(cases[c].kind);
        tb_optimizer o = make_optimizer(cases[c].kind, 0.1f);
        o.cfg.momentum = cases[c].momentum;
        two_params t;
        two_params_init(&t);
        memcpy(t.grad, GRADS[0], sizeof t.grad);
        int before = allocs;
        for (int step = 0; step < 2; step++)
            CHECK(tb_optimizer_step(&o, &host, t.p, 2, 0.1f) == 0, "%s: %s", name, tb_last_error());
        CHECK(allocs - before == 2 * cases[c].buffers, "%s momentum %g: %d buffers allocated, want %d", name,
              (double)cases[c].momentum, allocs - before, 2 * cases[c].buffers);
        for (int s = 0; s < 2; s++)
            CHECK((t.p[0].state[s] != NULL) == (s < cases[c].buffers), "%s: state[%d] is %p", name, s,
                  (void *)t.p[0].state[s]);
        if (cases[c].kind == TB_OPT_SGD && cases[c].buffers == 0) { /* p - lr (g + wd p), twice */
            double want = P0[0];
            for (int step = 0; step < 2; step++)
                want -= 0.1 * (GRADS[0][0] + 5e-4 * want);
            CHECK_CLOSE(t.data[0], want, REF_RTOL, "sgd without momentum");
        }
        tb_optimizer_free_state(&host, t.p, 2);
        CHECK(t.p[0].state[0] == NULL && t.p[0].state[1] == NULL && t.p[1].state[0] == NULL,
              "%s: state left after free", name);
    }
    CHECK(allocs == releases, "%d state buffers allocated, %d released", allocs, releases);
}

static void test_step_errors(void)
{
    two_params t;
    two_params_init(&t);
    tb_optimizer o = make_optimizer(TB_OPT_ADAM, 0.1f);
    fail_allocs = 1;
    tb_clear_error();
    CHECK(tb_optimizer_step(&o, &host, t.p, 2, 0.1f) == -1, "allocation failure not reported");
    CHECK(strstr(tb_last_error(), "layer1.0.conv1.weight: ") == tb_last_error(), "message: %s",
          tb_last_error());
    CHECK(o.step == 0, "failed step counted");
    fail_allocs = 0;

    o.cfg.kind = TB_OPT_COUNT;
    CHECK(tb_optimizer_step(&o, &host, t.p, 2, 0.1f) == -1, "unknown kind accepted");
    tb_optimizer_free_state(&host, t.p, 2);
}

/* ---- names, defaults, schedules ---- */

static void test_names(void)
{
    static const char *const kinds[] = {"sgd", "sgd-nesterov", "adagrad", "adadelta", "adam", "lars"};
    CHECK(sizeof kinds / sizeof kinds[0] == TB_OPT_COUNT, "kind list out of date");
    for (int k = 0; k < TB_OPT_COUNT; k++) {
        CHECK(strcmp(tb_opt_kind_name((tb_opt_kind)k), kinds[k]) == 0, "kind %d named %s", k,
              tb_opt_kind_name((tb_opt_kind)k));
        CHECK(tb_opt_kind_parse(kinds[k]) == k, "%s parsed as %d", kinds[k], tb_opt_kind_parse(kinds[k]));
    }
    CHECK(tb_opt_kind_parse("SGD") == -1 && tb_opt_kind_parse("rmsprop") == -1 && tb_opt_kind_parse("") == -1 &&
              tb_opt_kind_parse(NULL) == -1,
          "unknown optimizer names accepted");
    CHECK(strcmp(tb_opt_kind_name(TB_OPT_COUNT), "unknown") == 0, "out-of-range kind named");

    static const char *const schedules[] = {"constant", "step", "cosine"};
    for (int s = 0; s < 3; s++) {
        CHECK(strcmp(tb_lr_schedule_name((tb_lr_schedule)s), schedules[s]) == 0, "schedule %d named %s", s,
              tb_lr_schedule_name((tb_lr_schedule)s));
        CHECK(tb_lr_schedule_parse(schedules[s]) == s, "%s parsed", schedules[s]);
    }
    CHECK(tb_lr_schedule_parse("linear") == -1 && tb_lr_schedule_parse(NULL) == -1, "unknown schedule accepted");
    CHECK(strcmp(tb_lr_schedule_name((tb_lr_schedule)3), "unknown") == 0, "out-of-range schedule named");
}

static void test_defaults(void)
{
    tb_optim_config c;
    memset(&c, 0xff, sizeof c);
    tb_optim_config_defaults(&c);
    CHECK(c.kind == TB_OPT_SGD && c.lr == 0.1f && c.momentum == 0.9f && c.weight_decay == 5e-4f &&
              c.lars_eta == 0.001f && c.schedule == TB_LR_CONSTANT && c.step_size == 30 && c.step_gamma == 0.1f &&
              c.warmup_epochs == 0 && c.epochs == 0,
          "defaults");
}

static void check_lr(const tb_optim_config *c, int epoch, int step, int spe, double want, const char *what)
{
    char label[96];
    snprintf(label, sizeof label, "%s, epoch %d step %d", what, epoch, step);
    CHECK_CLOSE(tb_lr_at(c, epoch, step, spe), want, 1e-6, label);
}

static void test_schedules(void)
{
    tb_optim_config c;
    tb_optim_config_defaults(&c);
    c.lr = 0.4f;
    check_lr(&c, 0, 0, 10, 0.4, "constant");
    check_lr(&c, 99, 9, 10, 0.4, "constant");

    /* Warm-up over 2 epochs of 10 steps: lr * (step + 1) / 20. */
    c.warmup_epochs = 2;
    check_lr(&c, 0, 0, 10, 0.4 / 20, "warm-up first step");
    check_lr(&c, 0, 9, 10, 0.4 * 10 / 20, "warm-up");
    check_lr(&c, 1, 9, 10, 0.4, "warm-up last step");
    check_lr(&c, 2, 0, 10, 0.4, "after warm-up");

    /* Step: x0.1 every 30 epochs after warm-up. */
    c.schedule = TB_LR_STEP;
    c.warmup_epochs = 0;
    check_lr(&c, 29, 9, 10, 0.4, "step");
    check_lr(&c, 30, 0, 10, 0.04, "step first decay");
    check_lr(&c, 59, 9, 10, 0.04, "step");
    check_lr(&c, 60, 0, 10, 0.004, "step second decay");
    c.warmup_epochs = 5;
    check_lr(&c, 4, 9, 10, 0.4, "step, warm-up end");
    check_lr(&c, 34, 9, 10, 0.4, "step after warm-up");
    check_lr(&c, 35, 0, 10, 0.04, "step after warm-up, first decay");

    /* Cosine over 10 epochs of 4 steps, to 0. */
    c.schedule = TB_LR_COSINE;
    c.warmup_epochs = 0;
    c.epochs = 10;
    check_lr(&c, 0, 0, 4, 0.4, "cosine start");
    check_lr(&c, 5, 0, 4, 0.2, "cosine half way");
    check_lr(&c, 9, 3, 4, 0.2 * (1 + cos(M_PI * 39 / 40)), "cosine last step");
    check_lr(&c, 10, 0, 4, 0.0, "cosine past the end");
    /* With 2 warm-up epochs the cosine covers the remaining 8 (32 steps). */
    c.warmup_epochs = 2;
    check_lr(&c, 1, 3, 4, 0.4, "cosine, warm-up last step");
    check_lr(&c, 2, 0, 4, 0.4, "cosine after warm-up");
    check_lr(&c, 6, 0, 4, 0.2, "cosine after warm-up, half way");
    check_lr(&c, 9, 3, 4, 0.2 * (1 + cos(M_PI * 31 / 32)), "cosine after warm-up, last step");
}

int main(void)
{
    test_optimizers();
    test_small_gradients();
    test_kernel();
    test_kernel_errors();
    test_sum_squares();
    test_lars();
    test_state();
    test_step_errors();
    test_names();
    test_defaults();
    test_schedules();
    return check_finish();
}
