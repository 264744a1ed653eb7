/* GPU readiness without a GPU (issue 15):
 *  - the convolution plan (engine/conv_plan.h): the batch sizes an epoch
 *    runs, the calls a model's uses give at those sizes (no duplicates,
 *    partial batches included, the training batch first), and the uses a
 *    real model records (every direction it runs, nothing computed);
 *  - the CPU backend's prepare(): after it, training steps at the full and
 *    the partial batch and evaluations create no convolution primitive, where
 *    without it they create them all;
 *  - two ranks on one GPU (engine/dist.c): the pure duplicate finder for
 *    shared visible sets, one GPU per rank and two ranks on one GPU, and the
 *    gather in a world of one. */
#include "core/error.h" // uses: tb_last_error
#include "engine/backend.h" // uses: tb_conv_desc, tb_shape, TB_LAYOUT_PLAIN, TB_LAYOUT_NATIVE, TB_CONV_FWD, ...
#include "engine/conv_plan.h" // uses: tb_conv_plan_batches, tb_conv_use, tb_conv_plan_calls, tb_conv_call_equal, ...
#include "engine/dist.h" // uses: tb_dist_find_shared_gpu, tb_dist, tb_dist_init, tb_dist_check_gpus, tb_dist_finalize
#include "engine/model.h" // uses: tb_model, tb_model_create, tb_param, tb_model_params, tb_model_destroy, ...
#include "spec/model_spec.h" // uses: tb_model_spec, tb_model_spec_parse
#include "tests/check.h" // uses: CHECK, check_finish

#include <stdlib.h>
#include <string.h>

static void test_batches(void)
{
    int b[2] = {0, 0};
    CHECK(tb_conv_plan_batches(40, 16, b) == 2 && b[0] == 16 && b[1] == 8, "40 in 16s: %d %d", b[0], b[1]);
    CHECK(tb_conv_plan_batches(32, 16, b) == 1 && b[0] == 16, "32 in 16s: %d", b[0]);
    CHECK(tb_conv_plan_batches(10, 16, b) == 1 && b[0] == 10, "10 in 16s: %d", b[0]);
    CHECK(tb_conv_plan_batches(0, 16, b) == 0, "no images, no batches");
    CHECK(tb_conv_plan_batches(5, 0, b) == 0, "no batch size, no batches");
}

static tb_conv_use use(int dir, int in_c, int out_c, int stride, int hw, int eval)
{
    tb_conv_use u;
    memset(&u, 0, sizeof u);
    u.call.dir = dir;
    u.call.d = (tb_conv_desc){in_c, out_c, 3, stride, 1};
    u.call.x = (tb_shape){1, in_c, hw, hw};
    u.call.x_layout = TB_LAYOUT_PLAIN;
    u.call.y_layout = TB_LAYOUT_NATIVE;
    u.eval = eval;
    return u;
}

static void test_calls(void)
{
    /* Two convolutions, trained in all three directions (the first without
     * an input gradient, as a stem) and evaluated forward, listed twice as
     * a model with two identical blocks would. */
    const tb_conv_use uses[] = {
        use(TB_CONV_FWD, 3, 8, 1, 16, 0),         use(TB_CONV_FWD, 8, 8, 2, 16, 0),
        use(TB_CONV_FWD, 8, 8, 2, 16, 0),         use(TB_CONV_BWD_WEIGHTS, 8, 8, 2, 16, 0),
        use(TB_CONV_BWD_DATA, 8, 8, 2, 16, 0),    use(TB_CONV_BWD_WEIGHTS, 3, 8, 1, 16, 0),
        use(TB_CONV_FWD, 3, 8, 1, 16, 1),         use(TB_CONV_FWD, 8, 8, 2, 16, 1),
    };
    const int nuses = (int)(sizeof uses / sizeof *uses);
    const int train[] = {16, 8}, eval[] = {16, 4};
    tb_conv_call out[64];
    int n = tb_conv_plan_calls(uses, nuses, train, 2, eval, 2, out, 64);
    /* 5 distinct training uses at 16 and at 8; the evaluation forward at 16
     * is the training one, at 4 two new calls. */
    CHECK(n == 12, "calls: %d, want 12", n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            CHECK(!tb_conv_call_equal(&out[i], &out[j]), "calls %d and %d are the same", j, i);
    int at[3] = {0, 0, 0}; /* calls at 16, 8, 4 */
    for (int i = 0; i < n; i++)
        at[out[i].x.n == 16 ? 0 : out[i].x.n == 8 ? 1 : out[i].x.n == 4 ? 2 : 0] += 1;
    CHECK(at[0] == 5 && at[1] == 5 && at[2] == 2, "calls at 16/8/4: %d %d %d", at[0], at[1], at[2]);
    CHECK(n > 0 && out[0].x.n == 16, "the training batch comes first");
    int evals = 0;
    for (int i = 0; i < n; i++)
        evals += out[i].x.n == 4 && out[i].dir == TB_CONV_FWD;
    CHECK(evals == 2, "the partial evaluation batch's forward calls: %d", evals);
    CHECK(tb_conv_plan_calls(uses, nuses, train, 2, eval, 2, out, 11) == -1, "a list longer than cap is refused");
    CHECK(tb_conv_plan_calls(uses, nuses, train, 0, eval, 0, out, 64) == 0, "no batch sizes, no calls");
}

static tb_model *tiny_model(tb_backend *b, const char *name, int max_batch, int side)
{
    tb_model_spec spec;
    if (tb_model_spec_parse(name, 10, 3, 1, &spec)) {
        fprintf(stderr, "%s\n", tb_last_error());
        exit(1);
    }
    tb_model *m = tb_model_create(b, &spec, max_batch, side, side, 7);
    if (!m) {
        fprintf(stderr, "%s\n", tb_last_error());
        exit(1);
    }
    return m;
}

/* ResNet-18 (CIFAR stem): 17 convolutions and 3 projection shortcuts. */
static void test_record(void)
{
    tb_backend *b = tb_cpu_backend_create(1);
    tb_model *m = tiny_model(b, "resnet18-cifar:w4", 8, 16);
    tb_param *p = tb_model_params(m);
    float *before = malloc(p[0].count * sizeof *before);
    memcpy(before, p[0].data, p[0].count * sizeof *before);
    const tb_backend table = *b;
    tb_conv_use *uses = NULL;
    int n = 0;
    CHECK(tb_conv_plan_record(m, b, &uses, &n) == 0, "record: %s", tb_last_error());
    int count[2][3] = {{0}};
    for (int i = 0; i < n; i++)
        count[uses[i].eval][uses[i].call.dir]++;
    CHECK(count[0][TB_CONV_FWD] == 20 && count[0][TB_CONV_BWD_WEIGHTS] == 20, "training fwd %d, bwd weights %d",
          count[0][TB_CONV_FWD], count[0][TB_CONV_BWD_WEIGHTS]);
    CHECK(count[0][TB_CONV_BWD_DATA] == 19, "bwd data %d: all but the stem's", count[0][TB_CONV_BWD_DATA]);
    CHECK(count[1][TB_CONV_FWD] == 20 && count[1][TB_CONV_BWD_DATA] == 0 && count[1][TB_CONV_BWD_WEIGHTS] == 0,
          "evaluation: forward only (%d)", count[1][TB_CONV_FWD]);
    int stem = 0, native = 0, shortcut = 0;
    for (int i = 0; i < n; i++) {
        const tb_conv_call *c = &uses[i].call;
        CHECK(c->x.n == 1, "per image");
        stem += c->d.in_c == 3 && c->x.h == 16 && c->x_layout == TB_LAYOUT_PLAIN;
        native += c->y_layout == TB_LAYOUT_NATIVE;
        shortcut += c->d.kernel == 1 && c->d.stride == 2 && c->d.pad == 0;
    }
    CHECK(stem == 3, "the stem reads the plain 16x16 input: %d uses", stem);
    CHECK(native == n, "outputs in the CPU's native layout: %d of %d", native, n);
    CHECK(shortcut == 12, "the 1x1/2 shortcuts: %d uses (3 x training fwd, bwd data, bwd weights, eval fwd)",
          shortcut);
    CHECK(memcmp(before, p[0].data, p[0].count * sizeof *before) == 0, "recording changed no weight");
    CHECK(memcmp(&table, b, sizeof table) == 0, "the backend's table is restored");
    CHECK(tb_cpu_conv_primitives_created(b) == 0, "recording built nothing");
    free(uses);
    free(before);
    tb_model_destroy(m);
    b->destroy(b);
}

/* A training step at each training batch size and an evaluation at each
 * evaluation size, as an epoch and its test would run them. */
static int steps(tb_model *m, const int *train, int nt, const int *eval, int ne)
{
    for (int i = 0; i < nt; i++)
        if (tb_model_forward(m, train[i], 1) || tb_model_backward(m, train[i]))
            return -1;
    for (int i = 0; i < ne; i++)
        if (tb_model_forward(m, eval[i], 0))
            return -1;
    return 0;
}

static void test_cpu_prepare(int prepare)
{
    tb_backend *b = tb_cpu_backend_create(1);
    tb_model *m = tiny_model(b, "resnet18-cifar:w4", 8, 16);
    /* 20 training images in batches of 8: 8 and 4; 6 test images: 6. */
    int train[2], eval[2];
    const int nt = tb_conv_plan_batches(20, 8, train), ne = tb_conv_plan_batches(6, 8, eval);
    tb_conv_call *calls = NULL;
    int n = 0;
    CHECK(tb_conv_plan_model(m, b, train, nt, eval, ne, &calls, &n) == 0, "plan: %s", tb_last_error());
    /* Per training batch size, 32 distinct calls: the stem's fwd and bwd
     * weights, layer1's one shape in 3 directions, and in each later stage
     * the strided 3x3, the 3x3 and the 1x1 shortcut in 3 directions; at the
     * evaluation size the 11 distinct forward calls. */
    CHECK(n == 32 * 2 + 11, "calls: %d, want 32 per training batch size and 11 for the evaluation size", n);
    CHECK(b->prepare != NULL, "the CPU backend has prepare()");
    if (prepare)
        CHECK(b->prepare(b, calls, n, train[0]) == 0, "prepare: %s", tb_last_error());
    const long built = tb_cpu_conv_primitives_created(b);
    CHECK(steps(m, train, nt, eval, ne) == 0, "steps: %s", tb_last_error());
    const long after = tb_cpu_conv_primitives_created(b);
    if (prepare) {
        CHECK(built == n, "prepare built %ld primitives for %d calls", built, n);
        CHECK(after == built, "the steps after prepare built %ld convolution primitives", after - built);
    } else {
        /* The counter sees what prepare saves: without it the steps build them. */
        CHECK(built == 0 && after == n, "without prepare the steps built %ld of %d", after, n);
    }
    free(calls);
    tb_model_destroy(m);
    b->destroy(b);
}

static void test_shared_gpu(void)
{
    int a = -1, c = -1;
    /* Two nodes, every rank sees its node's GPUs and takes one by local rank. */
    const char *hosts[] = {"n1", "n1", "n2", "n2"};
    const char *shared_sets[] = {"GPU-aa", "GPU-bb", "GPU-aa", "GPU-bb"}; /* the same models, other nodes */
    CHECK(tb_dist_find_shared_gpu(hosts, shared_sets, 4, &a, &c) == 0, "distinct GPUs per node: none shared");
    /* --gpus-per-task: each rank sees one GPU as device 0; the UUIDs differ. */
    const char *own[] = {"GPU-11", "GPU-22", "GPU-33", "GPU-44"};
    CHECK(tb_dist_find_shared_gpu(hosts, own, 4, &a, &c) == 0, "one GPU per rank: none shared");
    /* Two ranks of n2 on one GPU (CUDA_VISIBLE_DEVICES=0 for both). */
    const char *two[] = {"GPU-11", "GPU-22", "GPU-33", "GPU-33"};
    CHECK(tb_dist_find_shared_gpu(hosts, two, 4, &a, &c) == 1 && a == 2 && c == 3, "ranks 2 and 3 share: %d %d",
          a, c);
    const char *first_last[] = {"GPU-11", "GPU-22", "GPU-33", "GPU-11"};
    const char *one_host[] = {"n1", "n1", "n1", "n1"};
    CHECK(tb_dist_find_shared_gpu(one_host, first_last, 4, &a, &c) == 1 && a == 0 && c == 3,
          "ranks 0 and 3 share: %d %d", a, c);
    const char *none[] = {"", "", NULL, ""};
    CHECK(tb_dist_find_shared_gpu(one_host, none, 4, &a, &c) == 0, "ranks without a GPU share nothing");

    tb_dist d;
    CHECK(tb_dist_init(&d, 0) == 0, "a world of one: %s", tb_last_error());
    char **all = NULL;
    CHECK(tb_dist_check_gpus(&d, "GPU-11", "GPU 0 (test)", &all) == 0, "one rank: %s", tb_last_error());
    char want[200];
    snprintf(want, sizeof want, "%s\tGPU-11\tGPU 0 (test)", d.host);
    CHECK(all && all[0] && strcmp(all[0], want) == 0, "rank 0's line: %s", all && all[0] ? all[0] : "(none)");
    if (all)
        free(all[0]);
    free(all);
    tb_dist_finalize(&d);
}

int main(void)
{
    test_batches();
    test_calls();
    test_record();
    test_cpu_prepare(0);
    test_cpu_prepare(1);
    test_shared_gpu();
    return check_finish();
}
