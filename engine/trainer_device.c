/* The device side of a run: which GPU each rank took (and that no two ranks
 * share one), the GPU's readings per epoch, and the convolutions prepared
 * before the first epoch.  Part of the trainer (trainer_run.h). */
#include "engine/trainer_run.h" // uses: run, run_now_s, run_gpu_open, run_gpu_sample, run_check_gpus, ...

#include "core/error.h" // uses: tb_last_error, tb_fail_prefix
#include "core/gpumon.h" // uses: tb_gpumon, tb_gpumon_open, tb_gpumon_find, tb_gpumon_close, tb_gpu_reading, ...
#include "core/profile.h" // uses: tb_prof_begin, tb_prof_layers, tb_prof_end
#include "engine/conv_plan.h" // uses: tb_conv_plan_batches, tb_conv_plan_model
#include "tb_config.h"
#if TB_HAVE_CUDA
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_pci_bus_id, tb_cuda_gpu_uuid, tb_cuda_device, tb_cuda_gpu_name
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The run's GPU as NVML sees it (issue 18), for the per-epoch readings in
 * result.json: rank 0's GPU, matched by PCI bus id (else UUID), read between
 * batches only once a second has passed, so training never waits on NVML
 * more than once a second.  Ranks are processes and a process trains one run
 * at a time: file scope. */
static struct {
    tb_gpumon *mon; /* NULL: no readings (CPU device, rank > 0, no NVML, GPU not found) */
    int gpu;
    double last;
    tb_gpu_agg agg;
} gpu_samples;

void run_gpu_open(run *r)
{
    memset(&gpu_samples, 0, sizeof gpu_samples);
#if TB_HAVE_CUDA
    if (r->dist.rank != 0 || r->b->kind != TB_DEVICE_CUDA)
        return;
    gpu_samples.mon = tb_gpumon_open(NULL);
    gpu_samples.gpu = gpu_samples.mon ? tb_gpumon_find(gpu_samples.mon, tb_cuda_pci_bus_id(r->b)) : -1;
    if (gpu_samples.mon && gpu_samples.gpu < 0)
        gpu_samples.gpu = tb_gpumon_find(gpu_samples.mon, tb_cuda_gpu_uuid(r->b));
    if (gpu_samples.gpu < 0) {
        if (!r->cfg->quiet)
            fprintf(stderr, "trainbench: no GPU readings in result.json: %s\n",
                    gpu_samples.mon ? "NVML does not list the run's GPU" : tb_last_error());
        tb_gpumon_close(gpu_samples.mon);
        gpu_samples.mon = NULL;
    }
#else
    (void)r;
#endif
}

/* One reading into the epoch's aggregate when a second has passed (always with force). */
void run_gpu_sample(int force)
{
    double t = run_now_s();
    if (!gpu_samples.mon || (!force && t - gpu_samples.last < 1.0))
        return;
    tb_gpu_reading g;
    if (tb_gpumon_read(gpu_samples.mon, gpu_samples.gpu, &g) == 0)
        tb_gpu_agg_add(&gpu_samples.agg, g.util_pct, g.mem_used, g.power_w);
    gpu_samples.last = t;
}

void run_gpu_epoch_start(void)
{
    memset(&gpu_samples.agg, 0, sizeof gpu_samples.agg);
    gpu_samples.last = run_now_s();
}

void run_gpu_epoch_end(tb_epoch_report *rep)
{
    run_gpu_sample(1); /* an epoch shorter than a second still has a reading */
    rep->gpu_sampled = gpu_samples.mon != NULL;
    tb_gpu_agg_result(&gpu_samples.agg, &rep->gpu_util_mean, &rep->gpu_mem_peak_bytes, &rep->gpu_power_mean_w);
}

void run_gpu_close(void)
{
    tb_gpumon_close(gpu_samples.mon);
    memset(&gpu_samples, 0, sizeof gpu_samples);
}

/* Never two ranks on one GPU: each rank's GPU (UUID, index, name, bus id)
 * compared across ranks (tb_dist_check_gpus), and recorded in result.json
 * "gpus", rank by rank.  Nothing to do on the CPU. */
int run_check_gpus(run *r)
{
#if TB_HAVE_CUDA
    if (r->b->kind != TB_DEVICE_CUDA)
        return 0;
    char desc[400], **all = NULL;
    snprintf(desc, sizeof desc, "GPU %d (%s, PCI %s)", tb_cuda_device(r->b), tb_cuda_gpu_name(r->b),
             tb_cuda_pci_bus_id(r->b));
    if (tb_dist_check_gpus(&r->dist, tb_cuda_gpu_uuid(r->b), desc, &all))
        return -1;
    struct json_object *gpus = json_object_new_array();
    for (int i = 0; all && i < r->dist.size; i++) {
        char *f[3] = {all[i], "", ""}, *t; /* host, uuid, desc */
        for (int k = 1; k < 3 && f[k - 1] && (t = strchr(f[k - 1], '\t')); k++)
            *t = '\0', f[k] = t + 1;
        struct json_object *g = json_object_new_object();
        json_object_object_add(g, "rank", json_object_new_int(i));
        json_object_object_add(g, "host", json_object_new_string(f[0] ? f[0] : ""));
        json_object_object_add(g, "uuid", json_object_new_string(f[1]));
        json_object_object_add(g, "gpu", json_object_new_string(f[2]));
        json_object_array_add(gpus, g);
        free(all[i]);
    }
    free(all);
    json_object_object_add(r->result, "gpus", gpus);
#else
    (void)r;
#endif
    return 0;
}

/* Every convolution the epochs and evaluations will run, prepared by the
 * backend (cuDNN's algorithm searches, oneDNN's primitives) before the
 * first epoch and timed apart: result.json "prepare_s".  The batch sizes:
 * each epoch's (--batch-schedule) full and last partial batch on this rank,
 * and on rank 0, which evaluates, the test set's. */
int run_prepare_convs(run *r)
{
    tb_backend *b = r->b;
    if (!b->prepare)
        return 0;
    double t0 = run_now_s(), tp = tb_prof_begin("prepare");
    int train[64], eval[2], nt = 0, ne = 0, two[2];
    const int per_rank = tb_loader_images_per_epoch(r->train_loader);
    for (int e = 0; e < r->cfg->epochs && nt + 2 <= (int)(sizeof train / sizeof *train); e++) {
        int k = tb_conv_plan_batches(per_rank, tb_train_batch_at(r->cfg, e), two);
        for (int i = 0; i < k; i++) {
            int seen = 0;
            for (int j = 0; j < nt; j++)
                seen |= train[j] == two[i];
            if (!seen)
                train[nt++] = two[i];
        }
    }
    if (r->dist.rank == 0)
        ne = tb_conv_plan_batches(tb_loader_images_per_epoch(r->test_loader), r->cfg->batch_size, eval);
    tb_conv_call *calls = NULL;
    int n = 0;
    /* The recording pass runs the model's layers on stubs: no layer spans
     * for it in a --profile-layers trace, where they would sit outside any
     * forward or backward phase. */
    const int layers = tb_prof_layers;
    tb_prof_layers = 0;
    int rc = tb_conv_plan_model(r->model, b, train, nt, eval, ne, &calls, &n);
    tb_prof_layers = layers;
    rc = rc || b->prepare(b, calls, n, nt ? train[0] : r->cfg->batch_size) || b->synchronize(b);
    free(calls);
    tb_prof_end("prepare", "phase", tp);
    if (rc)
        return tb_fail_prefix("preparing the model's convolutions");
    json_object_object_add(r->result, "prepare_s", json_object_new_double(run_now_s() - t0));
    json_object_object_add(r->result, "prepared_convolutions", json_object_new_int(n));
    return 0;
}
