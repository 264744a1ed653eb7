/* The ring all-reduce cost model and the epoch-time predictions, against
 * values worked out by hand. */
#include "core/error.h" // uses: tb_last_error
#include "lab/predict.h" // uses: tb_ring_allreduce_s, tb_predict_input, tb_predict_defaults, tb_predict_point, ...
#include "tests/check.h" // uses: CHECK_CLOSE, CHECK, check_finish

#include <math.h>

int main(void)
{
    /* resnet18-cifar's gradients: 11,173,962 fp32 values. */
    const double bytes = 11173962.0 * 4;
    /* 2 GPUs at 10 GB/s, no latency: 2 x 1/2 x 44,695,848 B / 1e10 B/s. */
    CHECK_CLOSE(tb_ring_allreduce_s(2, bytes, 10, 0), 4.4695848e-3, 1e-12, "ring n=2");
    /* 4 GPUs add 2 x 3/4 of the bytes and 6 latency terms. */
    CHECK_CLOSE(tb_ring_allreduce_s(4, bytes, 10, 5), 1.5 * bytes / 1e10 + 6 * 5e-6, 1e-12, "ring n=4");
    CHECK(tb_ring_allreduce_s(1, bytes, 10, 5) == 0, "one rank communicates nothing");

    tb_predict_input in;
    tb_predict_defaults(&in);
    in.step_s = 0.040;
    in.batch_per_gpu = 128;
    in.grad_bytes = bytes;
    in.images = 51200; /* 400 steps at batch 128 */
    in.gpus_per_node = 4;
    in.intra_gbps = 100;
    in.inter_gbps = 10;
    in.latency_us = 0;
    tb_predict_point p;

    CHECK(tb_predict(&in, 1, &p) == 0, "%s", tb_last_error());
    CHECK(p.steps == 400 && p.nodes == 1 && p.global_batch == 128, "1 GPU: %ld steps", p.steps);
    CHECK_CLOSE(p.epoch_s, 16.0, 1e-12, "1 GPU epoch");
    CHECK_CLOSE(p.speedup, 1.0, 1e-12, "1 GPU speedup");
    CHECK_CLOSE(p.efficiency, 100.0, 1e-12, "1 GPU efficiency");

    /* Weak scaling on one node: 200 steps of 0.040 s + 2*(1/2)*bytes/100 GB/s. */
    CHECK(tb_predict(&in, 2, &p) == 0, "%s", tb_last_error());
    double step2 = 0.040 + bytes / 100e9;
    CHECK(p.steps == 200 && p.global_batch == 256, "2 GPUs: %ld steps, batch %d", p.steps, p.global_batch);
    CHECK_CLOSE(p.epoch_s, 200 * step2, 1e-12, "2 GPU epoch");
    CHECK_CLOSE(p.efficiency, 100.0 * 16.0 / (2 * 200 * step2), 1e-12, "2 GPU efficiency");
    CHECK(p.bandwidth_gbps == 100, "intra-node link used");

    /* Eight GPUs span two nodes: the slower network sets the pace. */
    CHECK(tb_predict(&in, 8, &p) == 0, "%s", tb_last_error());
    CHECK(p.nodes == 2 && p.bandwidth_gbps == 10, "8 GPUs: %d nodes at %g GB/s", p.nodes, p.bandwidth_gbps);
    CHECK_CLOSE(p.allreduce_s, 2.0 * 7 / 8 * bytes / 10e9, 1e-12, "8 GPU all-reduce");

    /* Full overlap hides communication shorter than compute. */
    in.overlap = 1;
    CHECK(tb_predict(&in, 2, &p) == 0, "%s", tb_last_error());
    CHECK_CLOSE(p.step_s, 0.040, 1e-12, "overlapped step");
    in.overlap = 0;

    /* Strong scaling splits the global batch: compute halves per step. */
    in.strong = 1;
    CHECK(tb_predict(&in, 2, &p) == 0, "%s", tb_last_error());
    CHECK(p.batch_per_gpu == 64 && p.global_batch == 128 && p.steps == 400, "strong: %d/GPU", p.batch_per_gpu);
    CHECK_CLOSE(p.compute_s, 0.020, 1e-12, "strong compute");
    CHECK(tb_predict(&in, 256, &p) == -1, "a batch of 128 split over 256 GPUs refused");
    in.strong = 0;

    in.step_s = 0;
    CHECK(tb_predict(&in, 2, &p) == -1, "zero step time refused");

    /* Non-finite inputs (issue 16): NaN compares false both ways and used to
     * pass every range check, then reached the JSON output as NaN. */
    const tb_predict_input good = {.step_s = 0.040, .batch_per_gpu = 128, .grad_bytes = bytes, .images = 51200,
                                   .gpus_per_node = 4, .intra_gbps = 100, .inter_gbps = 10, .latency_us = 5};
    CHECK(tb_predict(&good, 2, &p) == 0, "finite inputs accepted: %s", tb_last_error());
    double *fields[] = {&in.step_s, &in.grad_bytes, &in.intra_gbps, &in.inter_gbps, &in.latency_us, &in.overlap};
    const char *names[] = {"step_s", "grad_bytes", "intra_gbps", "inter_gbps", "latency_us", "overlap"};
    const double bad_values[] = {NAN, INFINITY, -INFINITY, -1};
    for (int f = 0; f < 6; f++)
        for (int b = 0; b < 4; b++) {
            in = good;
            *fields[f] = bad_values[b];
            CHECK(tb_predict(&in, 2, &p) == -1, "%s = %g refused", names[f], bad_values[b]);
        }
    in = good;
    in.batch_per_gpu = 10000000;
    CHECK(tb_predict(&in, 1000000, &p) == -1, "a global batch beyond int refused, not overflowed");
    return check_finish();
}
