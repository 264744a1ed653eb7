#include "engine/cuda/cuda_nccl.h"

#include "core/error.h" // uses: tb_fail, tb_calloc
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_stream, tb_cuda_device

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(TB_NCCL_ID_BYTES == NCCL_UNIQUE_ID_BYTES, "ncclUniqueId size changed");

struct tb_nccl {
    ncclComm_t comm;
    cudaStream_t compute, comm_stream;
    cudaEvent_t ready;    /* on compute: the bucket's gradients are written */
    cudaEvent_t bwd_done; /* on compute: the whole backward */
    cudaEvent_t start, done; /* on comm_stream, timed: the span of the step's all-reduces */
    int pending;          /* all-reduces since the last wait */
    int rank, nranks;
    double timeout_s;
    char host[64];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* What a user can do about each NCCL failure. */
static const char *nccl_hint(ncclResult_t r)
{
    switch (r) {
    case ncclUnhandledCudaError:
        return "a CUDA call inside NCCL failed: check the GPU (nvidia-smi) and rerun with NCCL_DEBUG=WARN";
    case ncclSystemError:
        return "a system call or the network failed: check the interconnect (NCCL_SOCKET_IFNAME, NCCL_IB_HCA) "
               "and rerun with NCCL_DEBUG=WARN";
    case ncclRemoteError:
        return "another rank failed or died: its own message says why";
    case ncclInvalidArgument:
    case ncclInvalidUsage:
        return "trainbench used NCCL wrongly (a bug): please report it with the NCCL_DEBUG=WARN output";
    default:
        return "rerun with NCCL_DEBUG=WARN for NCCL's own diagnosis";
    }
}

static int nccl_check(const tb_nccl *n, ncclResult_t r, const char *call)
{
    if (r == ncclSuccess)
        return 0;
    const char *last = n && n->comm ? ncclGetLastError(n->comm) : NULL;
    return tb_fail("%s failed on rank %d of %d on %s: %s%s%s; %s", call, n ? n->rank : -1, n ? n->nranks : 0,
                   n ? n->host : "?", ncclGetErrorString(r), last && *last ? ": " : "", last ? last : "",
                   nccl_hint(r));
}

static int cuda_check(const tb_nccl *n, cudaError_t e, const char *call)
{
    if (e == cudaSuccess)
        return 0;
    return tb_fail("%s failed on rank %d of %d on %s: %s (%s); check the GPU with nvidia-smi", call, n->rank,
                   n->nranks, n->host, cudaGetErrorString(e), cudaGetErrorName(e));
}

int tb_nccl_unique_id(unsigned char id[TB_NCCL_ID_BYTES], const char *host)
{
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess)
        return tb_fail("ncclGetUniqueId failed on rank 0 on %s: %s; %s", host, ncclGetErrorString(r), nccl_hint(r));
    memcpy(id, u.internal, TB_NCCL_ID_BYTES);
    return 0;
}

tb_nccl *tb_nccl_create(tb_backend *b, const unsigned char id[TB_NCCL_ID_BYTES], int rank, int nranks,
                        const char *host, double timeout_s)
{
    tb_nccl *n = tb_calloc(1, sizeof *n, "the NCCL communicator");
    if (!n)
        return NULL;
    n->rank = rank;
    n->nranks = nranks;
    n->timeout_s = timeout_s;
    snprintf(n->host, sizeof n->host, "%s", host);
    n->compute = (cudaStream_t)tb_cuda_stream(b);
    if (!n->compute) {
        tb_fail("the NCCL gradient all-reduce needs the CUDA backend (--device cuda)");
        free(n);
        return NULL;
    }
    int lo = 0, hi = 0;
    ncclUniqueId u;
    memcpy(u.internal, id, TB_NCCL_ID_BYTES);
    /* The communication stream at the highest priority, so a ready bucket's
     * kernels are scheduled ahead of the backward kernels queued after it. */
    if (cuda_check(n, cudaSetDevice(tb_cuda_device(b)), "cudaSetDevice") ||
        cuda_check(n, cudaDeviceGetStreamPriorityRange(&lo, &hi), "cudaDeviceGetStreamPriorityRange") ||
        cuda_check(n, cudaStreamCreateWithPriority(&n->comm_stream, cudaStreamNonBlocking, hi),
                   "cudaStreamCreateWithPriority (communication stream)") ||
        cuda_check(n, cudaEventCreateWithFlags(&n->ready, cudaEventDisableTiming), "cudaEventCreate") ||
        cuda_check(n, cudaEventCreateWithFlags(&n->bwd_done, cudaEventDisableTiming), "cudaEventCreate") ||
        cuda_check(n, cudaEventCreate(&n->start), "cudaEventCreate") ||
        cuda_check(n, cudaEventCreate(&n->done), "cudaEventCreate") ||
        nccl_check(n, ncclCommInitRank(&n->comm, nranks, u, rank), "ncclCommInitRank")) {
        tb_nccl_destroy(n);
        return NULL;
    }
    return n;
}

void tb_nccl_destroy(tb_nccl *n)
{
    if (!n)
        return;
    if (n->comm) {
        ncclResult_t r = ncclCommDestroy(n->comm);
        if (r != ncclSuccess)
            fprintf(stderr, "trainbench: rank %d on %s: ncclCommDestroy: %s (ignored at exit)\n", n->rank, n->host,
                    ncclGetErrorString(r));
    }
    /* Teardown: a failure here changes nothing the user can act on. */
    if (n->start)
        cudaEventDestroy(n->start);
    if (n->done)
        cudaEventDestroy(n->done);
    if (n->ready)
        cudaEventDestroy(n->ready);
    if (n->bwd_done)
        cudaEventDestroy(n->bwd_done);
    if (n->comm_stream)
        cudaStreamDestroy(n->comm_stream);
    free(n);
}

int tb_nccl_allreduce(tb_nccl *n, float *grads, size_t count)
{
    if (!n->comm)
        return tb_fail("rank %d on %s: the NCCL communicator was aborted after an earlier failure", n->rank, n->host);
    if (cuda_check(n, cudaEventRecord(n->ready, n->compute), "cudaEventRecord (bucket ready)") ||
        cuda_check(n, cudaStreamWaitEvent(n->comm_stream, n->ready, 0), "cudaStreamWaitEvent (bucket ready)"))
        return -1;
    if (!n->pending && cuda_check(n, cudaEventRecord(n->start, n->comm_stream), "cudaEventRecord (all-reduce start)"))
        return -1;
    if (nccl_check(n, ncclAllReduce(grads, grads, count, ncclFloat, ncclSum, n->comm, n->comm_stream),
                   "ncclAllReduce (gradient bucket)"))
        return -1;
    n->pending++;
    return 0;
}

/* Ends the communicator after a failure or a timeout, so no kernel waits
 * forever on a peer; every later call then fails. */
static void abort_comm(tb_nccl *n)
{
    ncclResult_t r = ncclCommAbort(n->comm);
    if (r != ncclSuccess)
        fprintf(stderr, "trainbench: rank %d on %s: ncclCommAbort: %s\n", n->rank, n->host, ncclGetErrorString(r));
    n->comm = NULL;
}

int tb_nccl_wait(tb_nccl *n, double *exposed_s, double *span_s)
{
    *exposed_s = *span_s = 0;
    if (!n->pending)
        return 0;
    n->pending = 0;
    /* The rest of backward first: that is compute, not communication. */
    if (cuda_check(n, cudaEventRecord(n->bwd_done, n->compute), "cudaEventRecord (backward done)") ||
        cuda_check(n, cudaEventSynchronize(n->bwd_done), "the backward pass (cudaEventSynchronize)") ||
        cuda_check(n, cudaEventRecord(n->done, n->comm_stream), "cudaEventRecord (all-reduce done)"))
        return -1;
    double t0 = now_s();
    struct timespec nap = {0, 20000};
    for (;;) {
        cudaError_t e = cudaEventQuery(n->done);
        if (e == cudaSuccess)
            break;
        if (e != cudaErrorNotReady)
            return cuda_check(n, e, "the gradient all-reduce (cudaEventQuery)");
        ncclResult_t async = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(n->comm, &async);
        if (r != ncclSuccess || (async != ncclSuccess && async != ncclInProgress)) {
            int rc = nccl_check(n, r != ncclSuccess ? r : async,
                                r != ncclSuccess ? "ncclCommGetAsyncError" : "the gradient all-reduce (NCCL)");
            abort_comm(n);
            return rc;
        }
        double waited = now_s() - t0;
        if (n->timeout_s > 0 && waited > n->timeout_s) {
            abort_comm(n);
            return tb_fail("rank %d of %d on %s: waited %.0f s in the NCCL gradient all-reduce for the other ranks; "
                           "one of them died or hangs; the communicator was aborted (raise --rank-timeout if a "
                           "step legitimately takes longer)",
                           n->rank, n->nranks, n->host, waited);
        }
        nanosleep(&nap, NULL);
    }
    *exposed_s = now_s() - t0;
    float ms = 0;
    if (cuda_check(n, cudaEventElapsedTime(&ms, n->start, n->done), "cudaEventElapsedTime (all-reduce span)") ||
        cuda_check(n, cudaStreamWaitEvent(n->compute, n->done, 0), "cudaStreamWaitEvent (optimizer after all-reduce)"))
        return -1;
    *span_s = ms * 1e-3;
    return 0;
}
