/* Predicting data-parallel time per epoch from one measured GPU.
 *
 * Only one GPU can be measured here, so multi-GPU and multi-node points come
 * from a cost model: a measured single-GPU step time at a per-GPU batch, the
 * gradient size, and link bandwidths, with the ring all-reduce cost
 *   T_allreduce = 2 (n-1)/n x bytes / bandwidth + 2 (n-1) x latency
 * (Patarasuk & Yuan), the bandwidth being the intra-node link (NVLink) while
 * all ranks share a node and the inter-node network (InfiniBand) otherwise.
 * Every figure it produces is a prediction and is labelled so. */
#ifndef TB_PREDICT_H
#define TB_PREDICT_H

#include <stddef.h>

typedef struct {
    double step_s;          /* measured compute time of one step on one GPU at batch_per_gpu */
    int batch_per_gpu;      /* the batch of that measurement */
    double grad_bytes;      /* bytes all-reduced per step (parameters x 4 for fp32 gradients) */
    long images;            /* images per epoch (50,000 for CIFAR-10) */
    int gpus_per_node;
    double intra_gbps;      /* GB/s per GPU inside a node (NVLink) */
    double inter_gbps;      /* GB/s per node between nodes (InfiniBand) */
    double latency_us;      /* per ring step */
    double overlap;         /* 0: communication after compute; 1: fully hidden behind compute */
    int strong;             /* 1: global batch fixed at batch_per_gpu (split over GPUs); 0: per-GPU batch fixed */
} tb_predict_input;

typedef struct {
    int gpus, nodes;
    int batch_per_gpu, global_batch;
    double compute_s, allreduce_s, step_s;
    long steps;
    double epoch_s;
    double speedup, efficiency; /* against 1 GPU, efficiency T1 / (N x TN) x 100 */
    double bandwidth_gbps;      /* the link the model used */
} tb_predict_point;

/* Ring all-reduce time for n ranks over `bytes` at `gbps` GB/s. */
double tb_ring_allreduce_s(int n, double bytes, double gbps, double latency_us);

void tb_predict_defaults(tb_predict_input *in);
/* Fills one point for `gpus` GPUs; fails on impossible input. */
int tb_predict(const tb_predict_input *in, int gpus, tb_predict_point *out);

#endif
