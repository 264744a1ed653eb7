/* Gradient buckets (grad_buckets.c): reverse parameter order, sizes under the
 * cap, every gradient in exactly one bucket; and the model's gradient hook
 * reports every parameter once, in the reverse order the buckets assume. */
#include "core/error.h" // uses: tb_last_error, tb_fail
#include "engine/backend.h" // uses: tb_backend, tb_cpu_backend_create, tb_tensor
#include "engine/grad_buckets.h" // uses: tb_grad_bucket, tb_grad_buckets_plan
#include "engine/model.h" // uses: tb_model, tb_model_create, tb_model_dlogits, tb_model_set_grad_hook, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <stdlib.h>
#include <string.h>

/* Every property of a plan of counts[] under cap floats. */
static void check_plan(const size_t *counts, int np, size_t cap, const char *what)
{
    tb_grad_bucket *b = NULL;
    int nb = 0;
    CHECK(tb_grad_buckets_plan(counts, np, cap * sizeof(float), &b, &nb) == 0, "%s: %s", what, tb_last_error());
    if (!b)
        return;
    int *seen = calloc((size_t)np, sizeof *seen);
    size_t total = 0;
    for (int i = 0; i < np; i++)
        total += counts[i];
    CHECK(nb >= 1 && b[0].last_param == np - 1, "%s: bucket 0 holds the last parameter", what);
    CHECK(b[nb - 1].first_param == 0 && b[nb - 1].offset == 0, "%s: the last bucket holds parameter 0", what);
    size_t covered = 0;
    for (int k = 0; k < nb; k++) {
        size_t sum = 0, off = 0;
        for (int i = 0; i < b[k].first_param; i++)
            off += counts[i];
        for (int i = b[k].first_param; i <= b[k].last_param; i++) {
            sum += counts[i];
            seen[i]++;
        }
        covered += b[k].count;
        CHECK(b[k].count == sum && b[k].offset == off, "%s: bucket %d spans its parameters' gradients", what, k);
        CHECK(b[k].count <= cap || b[k].first_param == b[k].last_param,
              "%s: bucket %d has %zu floats over the cap %zu with several parameters", what, k, b[k].count, cap);
        if (k + 1 < nb) {
            CHECK(b[k + 1].last_param == b[k].first_param - 1, "%s: bucket %d follows %d downwards", what, k + 1, k);
            /* Greedy: the next parameter did not fit. */
            CHECK(b[k].count + counts[b[k].first_param - 1] > cap, "%s: bucket %d closed too early", what, k);
        }
    }
    CHECK(covered == total, "%s: buckets cover %zu of %zu floats", what, covered, total);
    for (int i = 0; i < np; i++)
        CHECK(seen[i] == 1, "%s: parameter %d in %d buckets", what, i, seen[i]);
    free(seen);
    free(b);
}

static int order[4096], norder;

static int record(void *ctx, int param)
{
    (void)ctx;
    if (norder < 4096)
        order[norder++] = param;
    return 0;
}

static int refuse(void *ctx, int param)
{
    (void)ctx;
    return param < 100 ? tb_fail("test hook refuses") : 0;
}

static void check_hook(void)
{
    tb_backend *b = tb_cpu_backend_create(2);
    CHECK(b != NULL, "backend: %s", tb_last_error());
    if (!b)
        return;
    tb_model_spec s;
    tb_model_spec_parse("resnet18-cifar:w4", 10, 3, 1, &s);
    tb_model *m = tb_model_create(b, &s, 2, 32, 32, 1);
    CHECK(m != NULL, "model: %s", tb_last_error());
    if (!m) {
        b->destroy(b);
        return;
    }
    tb_tensor *dl = tb_model_dlogits(m);
    float d[20];
    for (int i = 0; i < 20; i++)
        d[i] = (float)((i % 7) - 3) * 0.01f;
    b->upload(b, dl->data, d, sizeof d);
    tb_model_set_grad_hook(m, record, NULL);
    CHECK(tb_model_forward(m, 2, 1) == 0 && tb_model_backward(m, 2) == 0, "backward: %s", tb_last_error());
    int np = tb_model_param_count(m), reverse = norder == np;
    for (int i = 0; reverse && i < np; i++)
        reverse = order[i] == np - 1 - i;
    CHECK(reverse, "the hook saw %d of %d parameters, in reverse index order: %s", norder, np,
          reverse ? "yes" : "no");

    /* A hook's failure stops backward with its message. */
    tb_model_set_grad_hook(m, refuse, NULL);
    CHECK(tb_model_backward(m, 2) != 0 && strstr(tb_last_error(), "test hook refuses"), "hook failure: %s",
          tb_last_error());

    /* The model's own sizes at the default 25 MB and at a small cap. */
    size_t *counts = malloc((size_t)np * sizeof *counts);
    for (int i = 0; i < np; i++)
        counts[i] = tb_model_params(m)[i].count;
    check_plan(counts, np, 25000000 / 4, "w4 model, 25 MB");
    check_plan(counts, np, 12000, "w4 model, 48 kB");
    free(counts);
    tb_model_set_grad_hook(m, NULL, NULL);
    tb_model_destroy(m);
    b->destroy(b);
}

int main(void)
{
    /* By hand, cap 24 floats, walking from parameter 6 down:
     * [6]=4, [5]=100 alone (over the cap), [4,3]=6, [2]=20, [1,0]=15. */
    const size_t counts[] = {10, 5, 20, 3, 3, 100, 4};
    tb_grad_bucket *b = NULL;
    int nb = 0;
    CHECK(tb_grad_buckets_plan(counts, 7, 24 * sizeof(float), &b, &nb) == 0, "%s", tb_last_error());
    const int want[][2] = {{6, 6}, {5, 5}, {3, 4}, {2, 2}, {0, 1}};
    CHECK(nb == 5, "5 buckets, got %d", nb);
    for (int k = 0; k < nb && k < 5; k++)
        CHECK(b[k].first_param == want[k][0] && b[k].last_param == want[k][1], "bucket %d: %d..%d", k,
              b[k].first_param, b[k].last_param);
    CHECK(nb == 5 && b[2].offset == 35 && b[2].count == 6, "bucket 2 at 35, 6 floats");
    free(b);
    check_plan(counts, 7, 24, "by hand");
    check_plan(counts, 7, 1, "cap below every parameter: one bucket each");
    check_plan(counts, 7, 1000, "cap above the total: one bucket");

    /* Random sizes, many caps. */
    size_t rnd[300];
    unsigned x = 12345;
    for (int i = 0; i < 300; i++) {
        x = x * 1103515245u + 12345u;
        rnd[i] = 1 + (x >> 8) % 5000;
    }
    for (size_t cap = 1; cap < 2000000; cap *= 3)
        check_plan(rnd, 300, cap, "random sizes");

    CHECK(tb_grad_buckets_plan(counts, 0, 100, &b, &nb) != 0, "no parameters is an error");
    check_hook();
    return check_finish();
}
