/* Gradient all-reduce between GPU ranks on NCCL, overlapped with backward.
 *
 * Each bucket's ncclAllReduce runs on a communication stream of its own that
 * first waits on an event recorded on the backend's compute stream once the
 * bucket's gradients are enqueued there; before the optimizer step the
 * compute stream waits for the communication.  Nothing here needs the CUDA
 * or NCCL headers, so grad_reduce.c includes it in any CUDA build. */
#ifndef TB_CUDA_NCCL_H
#define TB_CUDA_NCCL_H

#include "engine/backend.h" // uses: tb_backend

#include <stddef.h>

enum { TB_NCCL_ID_BYTES = 128 }; /* NCCL_UNIQUE_ID_BYTES, checked in cuda_nccl.c */

typedef struct tb_nccl tb_nccl;

/* Rank 0 makes the communicator's id (ncclGetUniqueId); the caller sends it
 * to every rank. */
int tb_nccl_unique_id(unsigned char id[TB_NCCL_ID_BYTES], const char *host);

/* Joins the communicator of `nranks` ranks named by `id` as `rank`, on the
 * backend's device (ncclCommInitRank blocks until every rank has joined).
 * `timeout_s` bounds each later wait (0: none).  NULL after tb_fail. */
tb_nccl *tb_nccl_create(tb_backend *b, const unsigned char id[TB_NCCL_ID_BYTES], int rank, int nranks,
                        const char *host, double timeout_s);
void tb_nccl_destroy(tb_nccl *n);

/* Sums `count` floats at `grads` (device memory) in place across the ranks,
 * once the work enqueued so far on the compute stream has written them;
 * returns without waiting. */
int tb_nccl_allreduce(tb_nccl *n, float *grads, size_t count);

/* Waits for every all-reduce started since the last wait: first for the
 * rest of backward (compute, not counted), then for the communication,
 * polling NCCL's asynchronous error and aborting the communicator after
 * `timeout_s`.  *exposed_s: the host's wait for communication after the
 * compute was done; *span_s: from the first bucket's start to the last one's
 * end on the communication stream.  The compute stream then waits for the
 * communication, so the optimizer sees the sums. */
int tb_nccl_wait(tb_nccl *n, double *exposed_s, double *span_s);

#endif
