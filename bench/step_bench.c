/* Steady-state training-step throughput of trainbench on random pixels, for
 * bench/cpu-vs-pytorch: the same steps the trainer takes (upload, forward,
 * softmax cross-entropy, backward, SGD step, synchronize), without a loader,
 * so the figure compares engines, not data pipelines.  Prints one line:
 *   images_per_s=X step_ms=Y (median of the timed steps)
 * usage: step_bench MODEL BATCH SIZE THREADS WARMUP STEPS */
#include "core/error.h" // uses: tb_fail, tb_last_error
#include "core/rng.h" // uses: tb_rng, tb_rng_seed, tb_rng_normal, tb_rng_uniform
#include "engine/backend.h" // uses: tb_backend, tb_cpu_backend_create
#include "engine/model.h" // uses: tb_model, tb_model_create, tb_model_input, tb_model_forward, tb_model_logits, ...
#include "engine/optim.h" // uses: tb_optim_config, tb_optim_config_defaults, tb_optimizer, tb_optimizer_init, ...

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: step_bench MODEL BATCH SIZE THREADS WARMUP STEPS\n");
        return 2;
    }
    const char *name = argv[1];
    int n = atoi(argv[2]), size = atoi(argv[3]), threads = atoi(argv[4]), warmup = atoi(argv[5]),
        steps = atoi(argv[6]);
    if (n < 2 || size < 8 || threads < 0 || warmup < 0 || steps < 1) {
        fprintf(stderr, "step_bench: bad arguments\n");
        return 2;
    }
    tb_model_spec spec;
    tb_backend *b = NULL;
    tb_model *m = NULL;
    int32_t *labels = NULL, *host_labels = malloc((size_t)n * sizeof *host_labels);
    size_t count = (size_t)n * 3 * (size_t)size * (size_t)size;
    float *host_x = malloc(count * sizeof *host_x);
    double *times = malloc((size_t)steps * sizeof *times);
    int rc = !host_labels || !host_x || !times;
    if (rc)
        tb_fail("out of memory");
    tb_rng r;
    tb_rng_seed(&r, 1, 2, 3, 4);
    for (size_t i = 0; !rc && i < count; i++)
        host_x[i] = (float)tb_rng_normal(&r);
    for (int i = 0; !rc && i < n; i++)
        host_labels[i] = (int32_t)(tb_rng_uniform(&r) * 10) % 10;
    rc = rc || tb_model_spec_parse(name, 10, 3, 1, &spec) || !(b = tb_cpu_backend_create(threads)) ||
         !(m = tb_model_create(b, &spec, n, size, size, 1)) || !(labels = b->alloc(b, (size_t)n * sizeof *labels, "labels"));
    tb_optim_config oc;
    tb_optim_config_defaults(&oc);
    tb_optimizer opt;
    tb_optimizer_init(&opt, &oc);
    for (int s = 0; !rc && s < warmup + steps; s++) {
        double t0 = now(), loss = 0;
        rc = b->upload(b, tb_model_input(m)->data, host_x, count * sizeof *host_x) ||
             b->upload(b, labels, host_labels, (size_t)n * sizeof *labels) || tb_model_forward(m, n, 1) ||
             b->softmax_xent(b, tb_model_logits(m), labels, 1.0f / n, tb_model_dlogits(m), &loss) ||
             tb_model_backward(m, n) ||
             tb_optimizer_step(&opt, b, tb_model_params(m), tb_model_param_count(m), oc.lr) || b->synchronize(b);
        if (s >= warmup)
            times[s - warmup] = now() - t0;
    }
    if (!rc) {
        double total = 0;
        for (int s = 0; s < steps; s++)
            total += times[s];
        qsort(times, (size_t)steps, sizeof *times, cmp_double);
        printf("images_per_s=%.1f step_ms=%.2f median_step_ms=%.2f\n", n * steps / total, 1e3 * total / steps,
               1e3 * times[steps / 2]);
    } else {
        fprintf(stderr, "step_bench: %s\n", tb_last_error());
    }
    if (m)
        tb_optimizer_free_state(b, tb_model_params(m), tb_model_param_count(m));
    if (labels)
        b->release(b, labels);
    tb_model_destroy(m);
    if (b)
        b->destroy(b);
    free(host_labels);
    free(host_x);
    free(times);
    return rc ? 1 : 0;
}
