/* The CUDA backend: creation (device, stream, cuDNN and cuBLAS handles),
 * device memory, error reporting, and the operation table.  The operations
 * live in the file named like their CPU twin (cuda_internal.h lists them).
 *
 * Precision: parameters, gradients, optimizer state and every tensor at the
 * backend interface are fp32 NCHW (backend.h).  --precision selects how the
 * convolutions compute: fp32 with TF32 off (cuDNN FMA math, cuBLAS default
 * math), tf32 (tensor-op math on fp32 data), bf16/fp16 (operands converted
 * to 16-bit NHWC, tensor-core algorithms, fp32 accumulation).  Keeping
 * activations in 16-bit NHWC between layers, which is where mixed precision
 * saves its memory traffic, needs the interface to let a backend keep its
 * own activation format; not done yet (see docs/architecture.md). */
#include "engine/cuda/cuda_backend.h"

#include "core/error.h" // uses: tb_fail, tb_fail_prefix, tb_calloc
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda_check, tb_cudnn_check, tb_cublas_check, tb_cuda_set_nchw, ...
#include "engine/cuda/cuda_kernels.h" // uses: TBK_REDUCE_BLOCKS
#include "engine/cuda/cuda_policy.h" // uses: tb_cuda_pick_device

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors -------------------------------------------------------------- */

int tb_cuda_check(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    const char *hint = "";
    switch (e) {
    case cudaErrorMemoryAllocation:
        hint = "; the GPU is out of memory: lower --batch-size (or the model width)";
        break;
    case cudaErrorNoDevice:
        hint = "; no CUDA GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES), or use --device cpu";
        break;
    case cudaErrorInsufficientDriver:
        hint = "; no NVIDIA driver is loaded, or it is older than this CUDA runtime: on a GPU machine install or "
               "update the driver (nvidia-smi shows it)";
        break;
    case cudaErrorNoKernelImageForDevice:
        hint = "; this build has no code for this GPU: reconfigure with -Dnvcc_gencode naming its architecture";
        break;
    default:
        break;
    }
    return tb_fail("%s failed: %s (%s)%s", what, cudaGetErrorName(e), cudaGetErrorString(e), hint);
}

int tb_cudnn_check(cudnnStatus_t s, const char *what)
{
    if (s == CUDNN_STATUS_SUCCESS)
        return 0;
    const char *hint = "";
    if (s == CUDNN_STATUS_NOT_SUPPORTED)
        hint = "; cuDNN has no algorithm for these shapes and types: try --precision fp32";
    else if (s == CUDNN_STATUS_ALLOC_FAILED)
        hint = "; the GPU is out of memory: lower --batch-size";
    return tb_fail("%s failed: %s (%d)%s", what, cudnnGetErrorString(s), (int)s, hint);
}

int tb_cublas_check(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    return tb_fail("%s failed: %s (%d)%s", what, cublasGetStatusString(s), (int)s,
                   s == CUBLAS_STATUS_ALLOC_FAILED ? "; the GPU is out of memory: lower --batch-size" : "");
}

int tb_cuda_set_nchw(cudnnTensorDescriptor_t d, tb_shape s, const char *op)
{
    if (tb_cudnn_check(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w),
                       "cudnnSetTensor4dDescriptor"))
        return tb_fail_prefix("%s: describing an fp32 tensor " TB_SHAPE_FMT, op, TB_SHAPE_ARG(s));
    return 0;
}
/* ---- memory -------------------------------------------------------------- */

void *tb_cuda_raw_alloc(tb_cuda *c, size_t bytes, const char *what)
{
    if (c->nblocks == c->blocks_cap) {
        size_t cap = c->blocks_cap ? c->blocks_cap * 2 : 256;
        tb_cuda_block *nb = realloc(c->blocks, cap * sizeof *nb);
        if (!nb) {
            tb_fail("out of host memory tracking device allocations");
            return NULL;
        }
        c->blocks = nb;
        c->blocks_cap = cap;
    }
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky: clear it */
        size_t free_b = 0, total_b = 0;
        (void)cudaMemGetInfo(&free_b, &total_b);
        tb_fail("out of GPU memory allocating %.1f MiB for %s: trainbench holds %.1f MiB, the GPU has %.1f MiB "
                "free of %.1f MiB (%s); lower --batch-size (memory for activations grows with it) or the "
                "model width",
                bytes / 1048576.0, what, c->allocated / 1048576.0, free_b / 1048576.0, total_b / 1048576.0,
                cudaGetErrorName(e));
        return NULL;
    }
    c->blocks[c->nblocks++] = (tb_cuda_block){p, bytes};
    c->allocated += bytes;
    if (c->allocated > c->peak)
        c->peak = c->allocated;
    return p;
}

void tb_cuda_raw_free(tb_cuda *c, void *ptr)
{
    if (!ptr)
        return;
    for (size_t i = c->nblocks; i-- > 0;)
        if (c->blocks[i].ptr == ptr) {
            c->allocated -= c->blocks[i].bytes;
            c->blocks[i] = c->blocks[--c->nblocks];
            break;
        }
    /* cudaFree waits for the device; an error here would be a sticky error
     * from earlier work, already reported by the call that caused it. */
    (void)cudaFree(ptr);
}

int tb_cuda_grow(tb_cuda *c, void **buf, size_t *have, size_t bytes, const char *what)
{
    if (*buf && *have >= bytes)
        return 0;
    tb_cuda_raw_free(c, *buf);
    *buf = NULL;
    *have = 0;
    /* Round up so a slightly larger next request does not reallocate. */
    size_t rounded = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
    *buf = tb_cuda_raw_alloc(c, rounded, what);
    if (!*buf)
        return -1;
    *have = rounded;
    return 0;
}

void *tb_cuda_alloc(tb_backend *b, size_t bytes, const char *what)
{
    tb_cuda *c = tb_cuda_of(b);
    void *p = tb_cuda_raw_alloc(c, bytes, what);
    if (p && tb_cuda_check(cudaMemsetAsync(p, 0, bytes, c->stream), "cudaMemsetAsync (zeroing a new allocation)")) {
        tb_cuda_raw_free(c, p);
        return NULL;
    }
    return p;
}

void tb_cuda_release(tb_backend *b, void *ptr) { tb_cuda_raw_free(tb_cuda_of(b), ptr); }

/* Host memory the trainer passes is pageable: cudaMemcpyAsync stages it
 * before returning, so the caller may reuse its buffer at once.  Pinned
 * batches with copies on their own stream come with the GPU-side loader. */
static int cuda_upload(tb_backend *b, void *dst, const void *src, size_t bytes)
{
    return tb_cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, tb_cuda_of(b)->stream),
                         "cudaMemcpyAsync (host to device)");
}

static int cuda_download(tb_backend *b, void *dst, const void *src, size_t bytes)
{
    tb_cuda *c = tb_cuda_of(b);
    return tb_cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream),
                         "cudaMemcpyAsync (device to host)") ||
           tb_cuda_check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize after a download");
}

static int cuda_copy(tb_backend *b, void *dst, const void *src, size_t bytes)
{
    return tb_cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, tb_cuda_of(b)->stream),
                         "cudaMemcpyAsync (device to device)");
}

static int cuda_synchronize(tb_backend *b)
{
    return tb_cuda_check(cudaStreamSynchronize(tb_cuda_of(b)->stream), "cudaStreamSynchronize");
}

int tb_cuda_fetch_result(tb_cuda *c, const char *op)
{
    if (tb_cuda_check(cudaMemcpyAsync(&c->host->value, c->red + TBK_REDUCE_BLOCKS, sizeof(double),
                                      cudaMemcpyDeviceToHost, c->stream),
                      "cudaMemcpyAsync (result to host)") ||
        tb_cuda_check(cudaMemcpyAsync(c->host->bad, c->bad, 2 * sizeof(int), cudaMemcpyDeviceToHost, c->stream),
                      "cudaMemcpyAsync (flags to host)") ||
        tb_cuda_check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize"))
        return tb_fail_prefix("%s", op);
    return 0;
}

/* ---- creation ------------------------------------------------------------------ */

int tb_cuda_device_count(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        tb_cuda_check(e, "cudaGetDeviceCount");
        tb_fail_prefix("no usable CUDA GPU");
        return 0;
    }
    if (n < 1) {
        tb_fail("no CUDA GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)");
        return 0;
    }
    return n;
}

void *tb_cuda_stream(tb_backend *b)
{
    return b && b->kind == TB_DEVICE_CUDA ? (void *)tb_cuda_of(b)->stream : NULL;
}

int tb_cuda_device(const tb_backend *b)
{
    return b && b->kind == TB_DEVICE_CUDA ? ((const tb_cuda *)b->impl)->device : -1;
}

const char *tb_cuda_pci_bus_id(const tb_backend *b)
{
    return b && b->kind == TB_DEVICE_CUDA ? ((const tb_cuda *)b->impl)->pci_bus_id : "";
}

const char *tb_cuda_gpu_uuid(const tb_backend *b)
{
    return b && b->kind == TB_DEVICE_CUDA ? ((const tb_cuda *)b->impl)->uuid : "";
}

const char *tb_cuda_gpu_name(const tb_backend *b)
{
    return b && b->kind == TB_DEVICE_CUDA ? ((const tb_cuda *)b->impl)->gpu_name : "";
}

size_t tb_cuda_peak_bytes(const tb_backend *b)
{
    return b && b->kind == TB_DEVICE_CUDA ? ((const tb_cuda *)b->impl)->peak : 0;
}

int tb_cuda_device_memory(const tb_backend *b, size_t *total, size_t *used)
{
    (void)b;
    size_t f = 0, t = 0;
    if (tb_cuda_check(cudaMemGetInfo(&f, &t), "cudaMemGetInfo"))
        return -1;
    *total = t;
    *used = t - f;
    return 0;
}

static void cuda_destroy(tb_backend *b)
{
    if (!b)
        return;
    tb_cuda *c = b->impl;
    if (c) {
        if (c->stream)
            (void)cudaStreamSynchronize(c->stream);
        tb_cuda_conv_cache_free(c);
        tb_cuda_prof_free(c);
        if (c->td_x)
            cudnnDestroyTensorDescriptor(c->td_x);
        if (c->td_y)
            cudnnDestroyTensorDescriptor(c->td_y);
        if (c->td_bn)
            cudnnDestroyTensorDescriptor(c->td_bn);
        if (c->pool)
            cudnnDestroyPoolingDescriptor(c->pool);
        if (c->cudnn)
            cudnnDestroy(c->cudnn);
        if (c->cublas)
            cublasDestroy(c->cublas);
        /* Whatever the model did not release (it releases all it allocated). */
        while (c->nblocks)
            tb_cuda_raw_free(c, c->blocks[c->nblocks - 1].ptr);
        free(c->blocks);
        if (c->host)
            cudaFreeHost(c->host);
        if (c->stream)
            cudaStreamDestroy(c->stream);
        free(c);
    }
    free(b);
}

static int parse_precision(const char *p, tb_cuda_precision *out)
{
    static const char *const names[] = {"fp32", "tf32", "bf16", "fp16"};
    for (int i = 0; i < 4; i++)
        if (p && strcmp(p, names[i]) == 0) {
            *out = (tb_cuda_precision)i;
            return 0;
        }
    return tb_fail("cuda backend: unknown precision '%s'; use fp32, tf32, bf16 or fp16", p ? p : "(null)");
}

static int cuda_init(tb_cuda *c, int local_rank, const char *precision)
{
    if (parse_precision(precision, &c->prec))
        return -1;
    int count = tb_cuda_device_count();
    if (count < 1)
        return -1;
    /* One GPU per rank: ranks that see all of a node's GPUs take one each,
     * ranks bound to their own (Slurm --gpus-per-task) take the one they see. */
    const int device = tb_cuda_pick_device(local_rank, count);
    if (device < 0)
        return tb_fail("cuda backend: local rank %d is negative; the launcher's rank variables are wrong", local_rank);
    c->device = device;
    struct cudaDeviceProp prop;
    if (tb_cuda_check(cudaSetDevice(device), "cudaSetDevice") ||
        tb_cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties"))
        return tb_fail_prefix("GPU %d of %d visible (local rank %d)", device, count, local_rank);
    if (tb_cuda_check(cudaDeviceGetPCIBusId(c->pci_bus_id, (int)sizeof c->pci_bus_id, device),
                      "cudaDeviceGetPCIBusId"))
        return -1;
    /* The UUID names the physical GPU whatever the visible set: two ranks
     * with the same one share a GPU (tb_dist_check_gpus refuses that). */
    const unsigned char *u = (const unsigned char *)prop.uuid.bytes;
    snprintf(c->uuid, sizeof c->uuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    snprintf(c->gpu_name, sizeof c->gpu_name, "%s", prop.name);
    /* Which physical GPU each rank took, for mix-ups between ranks. */
    fprintf(stderr, "trainbench: local rank %d: GPU %d of %d visible (%s, PCI %s, %s)\n", local_rank, device, count,
            prop.name, c->pci_bus_id, c->uuid);
    c->major = prop.major;
    c->minor = prop.minor;
    c->total_mem = prop.totalGlobalMem;
    if ((c->prec == TB_PREC_BF16 || c->prec == TB_PREC_TF32) && prop.major < 8)
        return tb_fail("--precision %s needs an Ampere or newer GPU (compute capability 8.0); %s is %d.%d: use "
                       "--precision fp32 or fp16",
                       precision, prop.name, prop.major, prop.minor);
    if (c->prec == TB_PREC_FP16)
        return tb_fail("--precision fp16 needs dynamic loss scaling, which this version of the CUDA backend does "
                       "not have yet; use --precision bf16 (same speed on tensor cores, no scaling needed)");
    if (tb_cuda_check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags") ||
        tb_cudnn_check(cudnnCreate(&c->cudnn), "cudnnCreate") ||
        tb_cudnn_check(cudnnSetStream(c->cudnn, c->stream), "cudnnSetStream") ||
        tb_cublas_check(cublasCreate(&c->cublas), "cublasCreate") ||
        tb_cublas_check(cublasSetStream(c->cublas, c->stream), "cublasSetStream") ||
        tb_cublas_check(cublasSetMathMode(c->cublas, c->prec == TB_PREC_FP32 ? CUBLAS_DEFAULT_MATH
                                                                             : CUBLAS_TF32_TENSOR_OP_MATH),
                        "cublasSetMathMode") ||
        tb_cudnn_check(cudnnCreateTensorDescriptor(&c->td_x), "cudnnCreateTensorDescriptor") ||
        tb_cudnn_check(cudnnCreateTensorDescriptor(&c->td_y), "cudnnCreateTensorDescriptor") ||
        tb_cudnn_check(cudnnCreateTensorDescriptor(&c->td_bn), "cudnnCreateTensorDescriptor") ||
        tb_cudnn_check(cudnnCreatePoolingDescriptor(&c->pool), "cudnnCreatePoolingDescriptor") ||
        tb_cuda_check(cudaMallocHost((void **)&c->host, sizeof *c->host), "cudaMallocHost"))
        return -1;
    c->red = tb_cuda_raw_alloc(c, (TBK_REDUCE_BLOCKS + 1) * sizeof(double), "reduction scratch");
    c->bad = c->red ? tb_cuda_raw_alloc(c, 2 * sizeof(int), "loss flags") : NULL;
    if (!c->bad)
        return -1;
    size_t v = cudnnGetVersion();
    int rt = 0;
    (void)cudaRuntimeGetVersion(&rt);
    snprintf(c->name, sizeof c->name, "cuda (%.200s, GPU %d at %.31s, sm_%d%d, CUDA %d.%d, cuDNN %zu.%zu.%zu, %.8s)",
             prop.name, device, c->pci_bus_id, prop.major, prop.minor, rt / 1000, (rt % 1000) / 10, v / 10000,
             (v % 10000) / 100, v % 100, precision);
    return 0;
}

static void set_ops(tb_backend *b)
{
    b->alloc = tb_cuda_alloc;
    b->release = tb_cuda_release;
    b->upload = cuda_upload;
    b->download = cuda_download;
    b->copy = cuda_copy;
    b->convert = tb_cuda_convert;
    b->synchronize = cuda_synchronize;
    b->prof_device = tb_cuda_prof_device;
    b->conv_fwd = tb_cuda_conv_fwd;
    b->conv_bwd_data = tb_cuda_conv_bwd_data;
    b->conv_bwd_weights = tb_cuda_conv_bwd_weights;
    b->bn_fwd_train = tb_cuda_bn_fwd_train;
    b->bn_fwd_infer = tb_cuda_bn_fwd_infer;
    b->bn_bwd = tb_cuda_bn_bwd;
    b->relu_fwd = tb_cuda_relu_fwd;
    b->relu_bwd = tb_cuda_relu_bwd;
    b->add = tb_cuda_add;
    b->pool_fwd = tb_cuda_pool_fwd;
    b->pool_bwd = tb_cuda_pool_bwd;
    b->fc_fwd = tb_cuda_fc_fwd;
    b->fc_bwd = tb_cuda_fc_bwd;
    b->softmax_xent = tb_cuda_softmax_xent;
    b->opt_step = tb_cuda_opt_step;
    b->sum_squares = tb_cuda_sum_squares;
    b->prepare = tb_cuda_prepare;
    b->destroy = cuda_destroy;
}

tb_backend *tb_cuda_backend_create(int local_rank, const char *precision)
{
    tb_backend *b = tb_calloc(1, sizeof *b, "the cuda backend");
    tb_cuda *c = b ? tb_calloc(1, sizeof *c, "the cuda backend") : NULL;
    if (!c) {
        free(b);
        return NULL;
    }
    b->impl = c;
    b->kind = TB_DEVICE_CUDA;
    set_ops(b);
    if (cuda_init(c, local_rank, precision)) {
        tb_fail_prefix("cuda backend");
        cuda_destroy(b);
        return NULL;
    }
    b->name = c->name;
    const char *sync = getenv("TB_CUDA_SYNC");
    if (sync && strcmp(sync, "0") != 0 && *sync) {
        tb_cuda_debug_wrap(b);
        fprintf(stderr, "trainbench: TB_CUDA_SYNC=%s: synchronising and checking after every GPU operation (slow)\n",
                sync);
    }
    return b;
}
