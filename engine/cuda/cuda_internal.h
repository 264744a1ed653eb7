/* Internals shared by the CUDA backend's files: its state, the error
 * helpers that turn every CUDA, cuDNN and cuBLAS status into a tb_fail
 * message, and the operations each file implements.
 *
 * Everything runs in order on one non-blocking stream; cuDNN and cuBLAS are
 * bound to it.  Device memory comes from cudaMalloc (the model allocates
 * once, so no caching allocator is needed) and is zeroed on that stream.
 *
 * The files mirror engine/cpu/ one for one, and an operation has the same
 * name on both sides but for the prefix (tb_cpu_fc_fwd in cpu_fc.c,
 * tb_cuda_fc_fwd in cuda_fc.c): cuda_backend.c (creation, memory, the
 * operation table), cuda_layout.c, cuda_conv.c, cuda_bn.c, cuda_eltwise.c,
 * cuda_pool.c, cuda_fc.c, cuda_loss.c, cuda_optim.c, cuda_prepare.c.  Checks both sides make
 * are in engine/backend_check.c.
 *
 * No twin: cuda_kernels.cu/.h, because device code must be compiled by nvcc
 * and the CPU's loops sit in their family's file; cuda_nccl.c/.h, because
 * CPU ranks all-reduce over MPI (engine/dist.c); cuda_timeline.c, because on
 * the CPU the device is the host and prof_device is NULL; cuda_backend.h,
 * because only CUDA builds may declare tb_cuda_backend_create (the CPU's is
 * in backend.h); cuda_debug.c, the TB_CUDA_SYNC=1 checking wrappers;
 * cuda_policy.h, the host-side choices (device of a rank, the convolution
 * cache key, search or heuristics) as pure functions tested without a GPU. */
#ifndef TB_CUDA_INTERNAL_H
#define TB_CUDA_INTERNAL_H

#include "engine/backend.h" // uses: tb_backend, tb_shape, tb_tensor, tb_conv_desc, tb_conv_call, tb_bn_desc, ...
#include "engine/backend_check.h" // for every op file: the shape checks both backends share
#include "engine/cuda/cuda_policy.h" // uses: TB_CUDA_CONV_KEY

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

typedef enum { TB_PREC_FP32, TB_PREC_TF32, TB_PREC_BF16, TB_PREC_FP16 } tb_cuda_precision;

/* One convolution shape in one direction: its descriptors and the
 * algorithm the search (or, for an odd batch size, the heuristics) chose,
 * kept for the life of the backend. */
typedef struct tb_cuda_conv {
    int key[TB_CUDA_CONV_KEY];
    struct tb_cuda_conv *next;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    int algo;         /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t */
    size_t ws_bytes;  /* workspace the chosen algorithm needs */
    float search_ms;  /* its time in the search (0 from the heuristics) */
    int heuristic;    /* chosen by cudnnGet*Algorithm_v7, not measured */
} tb_cuda_conv;

/* A device allocation, for the release-time size and the peak. */
typedef struct {
    void *ptr;
    size_t bytes;
} tb_cuda_block;

typedef struct {
    int device;              /* index among the visible GPUs: local rank % visible */
    char pci_bus_id[32];     /* its PCI address, to tell ranks' GPUs apart */
    char uuid[48];           /* "GPU-xxxxxxxx-...", as nvidia-smi -L prints it */
    char gpu_name[256];      /* cudaDeviceProp.name */
    tb_cuda_precision prec;
    int major, minor;
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;

    /* bookkeeping of cudaMalloc'd memory */
    tb_cuda_block *blocks;
    size_t nblocks, blocks_cap;
    size_t allocated, peak, total_mem;

    /* convolution: algorithm cache, the workspace the chosen algorithms
     * share, and three 16-bit staging buffers (x/dx, w/dw, y/dy) for the
     * reduced-precision path */
    tb_cuda_conv *convs;
    int search_batch; /* the batch size that gets the measured search (cuda_policy.h) */
    void *ws;
    size_t ws_bytes;
    void *lp[3];
    size_t lp_bytes[3];

    /* fp32 scratch (the ReLU-masked dy of a fused BN+ReLU backward) */
    float *scratch;
    size_t scratch_bytes;

    /* reductions: TBK_REDUCE_BLOCKS partials + 1 result (doubles), the
     * softmax's per-row losses, its bad-label flag, and a pinned host copy */
    double *red;
    double *row_loss;
    size_t row_loss_n;
    int *bad;
    struct tb_cuda_host {
        double value;
        int bad[2];
    } *host;

    /* descriptors reused by batch norm and pooling (set per call) */
    cudnnTensorDescriptor_t td_x, td_y, td_bn;
    cudnnPoolingDescriptor_t pool;

    /* the profiler's marks (cuda_timeline.c), created on first use */
    cudaEvent_t *marks;
    int nmarks;

    /* TB_CUDA_SYNC=1: the operations as set_ops made them, called by the
     * checking wrappers of cuda_debug.c that the table then holds */
    tb_backend inner;
    int sync_each_op;

    char name[400];
} tb_cuda;

static inline tb_cuda *tb_cuda_of(tb_backend *b) { return (tb_cuda *)b->impl; }

/* 0 on success, else -1 after tb_fail naming `what` and the status. */
int tb_cuda_check(cudaError_t e, const char *what);
int tb_cudnn_check(cudnnStatus_t s, const char *what);
int tb_cublas_check(cublasStatus_t s, const char *what);

/* Device memory through the bookkeeping (not zeroed); NULL after tb_fail. */
void *tb_cuda_raw_alloc(tb_cuda *c, size_t bytes, const char *what);
void tb_cuda_raw_free(tb_cuda *c, void *ptr);
/* Makes *buf at least `bytes` (contents not kept); -1 after tb_fail. */
int tb_cuda_grow(tb_cuda *c, void **buf, size_t *have, size_t bytes, const char *what);
/* Device memory for the interface: zeroed on the stream. */
void *tb_cuda_alloc(tb_backend *b, size_t bytes, const char *what);
void tb_cuda_release(tb_backend *b, void *ptr);
/* Copies a reduction's result (red[TBK_REDUCE_BLOCKS]) and the bad-label
 * flags to c->host and waits; -1 after tb_fail naming op. */
int tb_cuda_fetch_result(tb_cuda *c, const char *op);

/* The profiler's device timeline: CUDA events on the stream. */
struct tb_prof_device;
int tb_cuda_prof_device(tb_backend *b, struct tb_prof_device *out);
void tb_cuda_prof_free(tb_cuda *c);

/* TB_CUDA_SYNC=1 (cuda_debug.c): after every operation, synchronise the
 * stream and check for errors, naming the operation and its shapes.  Wraps
 * b's table, keeping the real operations in c->inner. */
void tb_cuda_debug_wrap(tb_backend *b);

/* Describes an fp32 NCHW tensor. */
int tb_cuda_set_nchw(cudnnTensorDescriptor_t d, tb_shape s, const char *op);

/* Layouts (cuda_layout.c): every tensor is plain, so convert() is a copy. */
int tb_cuda_convert(tb_backend *b, const tb_tensor *src, tb_tensor *dst);

/* The operations, one family a file. */
int tb_cuda_conv_fwd(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w, tb_tensor *y);
int tb_cuda_conv_bwd_data(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w,
                          tb_tensor *dx);
int tb_cuda_conv_bwd_weights(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *dy,
                             float *dw);
void tb_cuda_conv_cache_free(tb_cuda *c);
/* Chooses the algorithm of the cache entry for (dir, d, xs) when it has
 * none: the measured search on the buffers x, w, y (as the algorithm will
 * read them: 16-bit NHWC under bf16) for the search batch, else the
 * heuristics preferring a workspace within ws_limit; the shared workspace is
 * not grown.  *ws_need: the workspace the entry's algorithm needs. */
int tb_cuda_conv_choose(tb_cuda *c, int dir, const tb_conv_desc *d, tb_shape xs, void *x, void *w, void *y,
                        size_t ws_limit, size_t *ws_need);
/* bf16/fp16: grows the three 16-bit staging buffers to x, w and y elements
 * (the largest a convolution will stage), so no step grows them; 0 and
 * nothing done in fp32/tf32. */
int tb_cuda_conv_reserve_stages(tb_cuda *c, size_t x, size_t w, size_t y);
/* backend.h's prepare() (cuda_prepare.c). */
int tb_cuda_prepare(tb_backend *b, const tb_conv_call *calls, int n, int train_batch);

int tb_cuda_bn_fwd_train(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                         const float *beta, float *running_mean, float *running_var, float *saved, tb_tensor *y,
                         int relu, tb_workspace *ws);
int tb_cuda_bn_fwd_infer(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                         const float *beta, const float *running_mean, const float *running_var, tb_tensor *y,
                         int relu);
int tb_cuda_bn_bwd(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const tb_tensor *dy,
                   const float *gamma, const float *saved, const tb_tensor *y, int relu, tb_workspace *ws,
                   tb_tensor *dx, float *dgamma, float *dbeta);

int tb_cuda_relu_fwd(tb_backend *b, const tb_tensor *x, tb_tensor *y);
int tb_cuda_relu_bwd(tb_backend *b, const tb_tensor *y, const tb_tensor *dy, tb_tensor *dx);
int tb_cuda_add(tb_backend *b, const tb_tensor *a, const tb_tensor *c, tb_tensor *y, int relu);

int tb_cuda_pool_fwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, tb_tensor *y, tb_workspace *ws);
int tb_cuda_pool_bwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                     tb_workspace *ws, tb_tensor *dx);

int tb_cuda_fc_fwd(tb_backend *b, const tb_tensor *x, const float *w, const float *bias, tb_tensor *y);
int tb_cuda_fc_bwd(tb_backend *b, const tb_tensor *x, const tb_tensor *dy, const float *w, tb_tensor *dx,
                   float *dw, float *dbias);

int tb_cuda_softmax_xent(tb_backend *b, const tb_tensor *logits, const int32_t *labels, float grad_scale,
                         tb_tensor *dlogits, double *loss_sum_host);

/* The optimizer (cuda_optim.c); the CPU declares its pair in cpu_optim.h. */
int tb_cuda_opt_step(tb_backend *b, const tb_opt_hyper *h, float *param, const float *grad, float *state0,
                     float *state1, size_t count);
int tb_cuda_sum_squares(tb_backend *b, const float *x, size_t count, double *out_host);

#endif
