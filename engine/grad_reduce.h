/* Data-parallel gradient reduction in buckets, overlapped with backward.
 *
 * The contiguous gradient block is cut into buckets of about --bucket-mb in
 * reverse parameter order (grad_buckets.h).  With overlap on, the model's
 * gradient hook counts each parameter in; when every gradient of the next
 * bucket is written, its sum across the ranks starts (MPI_Iallreduce on CPU
 * ranks, ncclAllReduce on a communication stream on GPU ranks) while
 * backward goes on, as PyTorch's DDP does.  Buckets start in the same order
 * on every rank.  With overlap off, all buckets start after backward, so
 * comm_s is the whole communication time.  A world of one does nothing. */
#ifndef TB_GRAD_REDUCE_H
#define TB_GRAD_REDUCE_H

#include "engine/backend.h" // uses: tb_backend
#include "engine/dist.h" // uses: tb_dist
#include "engine/model.h" // uses: tb_model

typedef struct tb_grad_reducer tb_grad_reducer;

/* Plans the buckets, sets up the transport (NCCL for a CUDA backend: rank
 * 0's id over MPI, then ncclCommInitRank) and, with overlap, installs the
 * model's gradient hook.  NULL after tb_fail. */
tb_grad_reducer *tb_grad_reducer_create(tb_dist *d, tb_backend *b, tb_model *m, double bucket_mb, int overlap);
void tb_grad_reducer_destroy(tb_grad_reducer *r);

/* Before backward: no bucket started yet. */
int tb_grad_reducer_begin(tb_grad_reducer *r);
/* After backward: starts what has not started, waits for all; the gradient
 * block then holds the sums.  Its exposed waiting counts in d->comm_s. */
int tb_grad_reducer_finish(tb_grad_reducer *r);

/* Figures since the last call, for the epoch report: all-reduces of the
 * whole gradient block (steps), the time they took from the first bucket's
 * start to the last one's end (overlapped or not), bytes per all-reduce and
 * the bucket count. */
typedef struct {
    int allreduces;
    double allreduce_s;
    double bytes;
    int buckets;
} tb_grad_reduce_stats;
void tb_grad_reducer_take_stats(tb_grad_reducer *r, tb_grad_reduce_stats *out);

#endif
