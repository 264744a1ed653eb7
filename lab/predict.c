#include "lab/predict.h"

#include "core/error.h" // uses: tb_fail

#include <limits.h>
#include <math.h>

double tb_ring_allreduce_s(int n, double bytes, double gbps, double latency_us)
{
    if (n <= 1)
        return 0;
    return 2.0 * (n - 1) / n * bytes / (gbps * 1e9) + 2.0 * (n - 1) * latency_us * 1e-6;
}

void tb_predict_defaults(tb_predict_input *in)
{
    *in = (tb_predict_input){0};
    in->images = 50000;
    in->gpus_per_node = 8;
    in->intra_gbps = 150; /* NVLink 4 on H100 SXM moves ~150 GB/s per direction per GPU in NCCL rings */
    in->inter_gbps = 50;  /* one NDR InfiniBand port per node: 400 Gb/s */
    in->latency_us = 5;
    in->overlap = 0;
    in->strong = 0;
}

int tb_predict(const tb_predict_input *in, int gpus, tb_predict_point *out)
{
    /* Written as !(x > 0) so that NaN is refused too: it compares false both ways. */
    if (!(in->step_s > 0) || !isfinite(in->step_s) || in->batch_per_gpu < 1 || !(in->grad_bytes > 0) ||
        !isfinite(in->grad_bytes) || in->images < 1)
        return tb_fail("predict: need a finite measured step time > 0, a batch >= 1, finite gradient bytes > 0 and "
                       "images >= 1 (got step %g s, batch %d, %g bytes, %ld images)",
                       in->step_s, in->batch_per_gpu, in->grad_bytes, in->images);
    if (gpus < 1 || in->gpus_per_node < 1 || !(in->intra_gbps > 0) || !(in->inter_gbps > 0) ||
        !isfinite(in->intra_gbps) || !isfinite(in->inter_gbps))
        return tb_fail("predict: GPU counts and bandwidths must be finite and positive (got %d GPUs, %d per node, "
                       "%g and %g GB/s)",
                       gpus, in->gpus_per_node, in->intra_gbps, in->inter_gbps);
    if (!(in->latency_us >= 0) || !isfinite(in->latency_us))
        return tb_fail("predict: --latency-us %g: expected a finite number >= 0", in->latency_us);
    if (!(in->overlap >= 0 && in->overlap <= 1))
        return tb_fail("predict: --overlap %g: expected a fraction from 0 to 1", in->overlap);
    if (!in->strong && (long long)in->batch_per_gpu * gpus > INT_MAX)
        return tb_fail("predict: a batch of %d on %d GPUs is a global batch above %d", in->batch_per_gpu, gpus,
                       INT_MAX);
    *out = (tb_predict_point){0};
    out->gpus = gpus;
    out->nodes = (gpus + in->gpus_per_node - 1) / in->gpus_per_node;
    if (in->strong) {
        if (in->batch_per_gpu < gpus)
            return tb_fail("predict: a global batch of %d cannot be split over %d GPUs", in->batch_per_gpu, gpus);
        out->global_batch = in->batch_per_gpu;
        out->batch_per_gpu = in->batch_per_gpu / gpus;
    } else {
        out->batch_per_gpu = in->batch_per_gpu;
        out->global_batch = in->batch_per_gpu * gpus;
    }
    /* Compute scales with the per-GPU batch (an optimistic model below the
     * batch where the GPU is saturated: measure there when it matters). */
    out->compute_s = in->step_s * out->batch_per_gpu / in->batch_per_gpu;
    out->bandwidth_gbps = out->nodes > 1 ? fmin(in->intra_gbps, in->inter_gbps) : in->intra_gbps;
    out->allreduce_s = tb_ring_allreduce_s(gpus, in->grad_bytes, out->bandwidth_gbps, in->latency_us);
    double exposed = (1 - in->overlap) * out->allreduce_s;
    double hidden = in->overlap * out->allreduce_s;
    out->step_s = out->compute_s + exposed + fmax(0, hidden - out->compute_s);
    out->steps = (in->images + out->global_batch - 1) / out->global_batch;
    out->epoch_s = out->steps * out->step_s;
    /* One GPU at the measured batch: the baseline of speedup and efficiency. */
    double epoch1 = (double)((in->images + in->batch_per_gpu - 1) / in->batch_per_gpu) * in->step_s;
    out->speedup = epoch1 / out->epoch_s;
    out->efficiency = 100.0 * epoch1 / (gpus * out->epoch_s);
    /* Printed as JSON numbers, which have no NaN or infinity. */
    const double figures[] = {out->compute_s, out->allreduce_s, out->step_s, out->epoch_s, out->speedup,
                              out->efficiency};
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
        if (!isfinite(figures[i]) || !(out->epoch_s > 0))
            return tb_fail("predict: the model gives no finite epoch time for %d GPUs from these inputs; check "
                           "--step-time, --grad-bytes and the bandwidths",
                           gpus);
    return 0;
}
