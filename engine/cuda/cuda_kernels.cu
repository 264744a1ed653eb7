/* The CUDA backend's own kernels and their launch wrappers (see
 * cuda_kernels.h for the contract of each).  Only kernels live here; all
 * host logic is C in the other files of engine/cuda/.
 *
 * Each kernel's per-element work is a __host__ __device__ function of
 * cuda_elements.h, so tests/test_cuda_host.c runs it on the CPU.  A kernel
 * is a grid-stride loop calling one per index, over a grid capped at a few
 * waves of the device, so any n works with 32-bit grid sizes.  Compiled
 * without --use_fast_math: sqrtf and division are IEEE-rounded, as on the CPU.
 *
 * Not measured yet (no GPU where this was written): the element-wise kernels
 * read and write 4-byte words, not 16-byte vectors; the layout conversions
 * are plain index maps, not tiled transposes.  Both are first versions to be
 * timed against a device-to-device copy on the GPU node. */
#include "engine/cuda/cuda_kernels.h"
#include "engine/cuda/cuda_elements.h" // uses: tb_el_relu_fwd, tb_el_relu_bwd, tb_el_add, tb_el_bias_add_rows, ...

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

namespace {

constexpr int kThreads = 256;

unsigned grid_for(size_t n)
{
    size_t blocks = (n + kThreads - 1) / kThreads;
    const size_t cap = 132 * 32; /* 32 blocks of 256 per SM of an H100 is plenty for a grid-stride loop */
    if (blocks > cap)
        blocks = cap;
    return blocks ? (unsigned)blocks : 1u;
}

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void relu_fwd_k(const float *x, float *y, size_t n)
{
    GRID_STRIDE(i, n) tb_el_relu_fwd(i, x, y);
}

__global__ void relu_bwd_k(const float *y, const float *dy, float *dx, size_t n)
{
    GRID_STRIDE(i, n) tb_el_relu_bwd(i, y, dy, dx);
}

__global__ void add_k(const float *a, const float *c, float *y, size_t n, int relu)
{
    GRID_STRIDE(i, n) tb_el_add(i, a, c, y, relu);
}

__global__ void bias_add_rows_k(float *y, const float *bias, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    GRID_STRIDE(i, n) tb_el_bias_add_rows(i, y, bias, cols);
}

/* One thread per column, rows summed in order: deterministic, and the fc
 * layer's dy is small (batch x classes). */
__global__ void col_sum_k(const float *dy, float *db, int rows, int cols)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < cols)
        tb_el_col_sum(j, dy, db, rows, cols);
}

/* Block-wide sum of one double per thread; the result is valid in thread 0. */
__device__ double block_sum(double v)
{
    __shared__ double warp_sums[32];
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, off);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0)
        warp_sums[warp] = v;
    __syncthreads();
    int nwarps = (blockDim.x + 31) >> 5;
    v = threadIdx.x < nwarps ? warp_sums[threadIdx.x] : 0.0;
    if (warp == 0)
        for (int off = 16; off > 0; off >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, off);
    __syncthreads(); /* warp_sums may be reused by a following call */
    return v;
}

/* One warp per sample: the row maximum, then sum of exp in double as the
 * CPU backend does, then the gradient (the per-element pieces are
 * cuda_elements.h's tb_el_xent_*). */
__global__ void softmax_xent_k(const float *logits, const int32_t *labels, int n, int k, float grad_scale,
                               float *dlogits, double *row_loss, int *bad)
{
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (warp >= n)
        return;
    const float *row = logits + (size_t)warp * k;
    int label = labels[warp];
    if (!tb_el_xent_label_ok(label, k) && lane == 0 && atomicCAS(&bad[0], 0, warp + 1) == 0)
        bad[1] = label;
    float mx = -INFINITY;
    for (int j = lane; j < k; j += 32)
        mx = fmaxf(mx, row[j]);
    for (int off = 16; off > 0; off >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    double sum = 0.0;
    for (int j = lane; j < k; j += 32)
        sum += tb_el_xent_term(row, j, mx);
    for (int off = 16; off > 0; off >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const double log_sum = log(sum);
    if (lane == 0)
        row_loss[warp] = tb_el_xent_loss(row, label, k, mx, log_sum);
    if (dlogits) {
        float *drow = dlogits + (size_t)warp * k;
        for (int j = lane; j < k; j += 32)
            tb_el_xent_grad(j, row, drow, label, mx, log_sum, grad_scale);
    }
}

__global__ void sum_doubles_k(const double *v, int n, double *out)
{
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        s += v[i];
    s = block_sum(s);
    if (threadIdx.x == 0)
        out[0] = s;
}

__global__ void sum_squares_k(const float *x, size_t n, double *partials)
{
    double s = 0.0;
    GRID_STRIDE(i, n) s += tb_el_square(i, x);
    s = block_sum(s);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = s;
}

/* ---- optimizers: the loop bodies of engine/cpu/cpu_optim.c ------------- */

__global__ void sgd_plain_k(float *p, const float *g, size_t n, float wd, float neg_lr)
{
    GRID_STRIDE(i, n) tb_el_sgd_plain(i, p, g, wd, neg_lr);
}

__global__ void sgd_k(float *p, const float *g, float *buf, size_t n, float wd, float keep, float scale, float u_b,
                      float u_d, float neg_lr)
{
    GRID_STRIDE(i, n) tb_el_sgd(i, p, g, buf, wd, keep, scale, u_b, u_d, neg_lr);
}

__global__ void adagrad_k(float *p, const float *g, float *sum, size_t n, float wd, float eps, float neg_clr)
{
    GRID_STRIDE(i, n) tb_el_adagrad(i, p, g, sum, wd, eps, neg_clr);
}

__global__ void adadelta_k(float *p, const float *g, float *sq, float *acc, size_t n, float wd, float eps, float rho,
                           float c, float neg_lr)
{
    GRID_STRIDE(i, n) tb_el_adadelta(i, p, g, sq, acc, wd, eps, rho, c, neg_lr);
}

__global__ void adam_k(float *p, const float *g, float *m, float *v, size_t n, float wd, float eps, float beta1,
                       float beta2, float c1, float c2, float neg_step, float bc2_sqrt)
{
    GRID_STRIDE(i, n) tb_el_adam(i, p, g, m, v, wd, eps, beta1, beta2, c1, c2, neg_step, bc2_sqrt);
}

/* ---- layout and precision ----------------------------------------------- */

template <typename T> __device__ T to16(float v);
template <> __device__ __nv_bfloat16 to16<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __half to16<__half>(float v) { return __float2half_rn(v); }
__device__ float from16(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ float from16(__half v) { return __half2float(v); }

/* Indexed by the NHWC destination so the 2-byte writes coalesce. */
template <typename T> __global__ void nchw_to_nhwc_k(const float *x, T *y, int n, int c, int h, int w)
{
    size_t total = (size_t)n * c * h * w;
    GRID_STRIDE(i, total) y[i] = to16<T>(x[tb_el_nchw_to_nhwc_src(i, c, h, w)]);
}

/* Indexed by the NCHW destination so the 4-byte writes coalesce. */
template <typename T> __global__ void nhwc_to_nchw_k(const T *x, float *y, int n, int c, int h, int w)
{
    size_t total = (size_t)n * c * h * w;
    GRID_STRIDE(i, total) y[i] = from16(x[tb_el_nhwc_to_nchw_src(i, c, h, w)]);
}

__global__ void augment_k(const uint8_t *src, float *dst, int n, int c, int h, int w, int H, int W, int pad_y,
                          int pad_x, const int *dy, const int *dx, const int *flip, const float *lut)
{
    size_t total = (size_t)n * c * H * W;
    GRID_STRIDE(i, total) tb_el_augment(i, src, dst, c, h, w, H, W, pad_y, pad_x, dy, dx, flip, lut);
}

} // namespace

extern "C" {

cudaError_t tbk_relu_fwd(const float *x, float *y, size_t n, cudaStream_t stream)
{
    if (n)
        relu_fwd_k<<<grid_for(n), kThreads, 0, stream>>>(x, y, n);
    return cudaGetLastError();
}

cudaError_t tbk_relu_bwd(const float *y, const float *dy, float *dx, size_t n, cudaStream_t stream)
{
    if (n)
        relu_bwd_k<<<grid_for(n), kThreads, 0, stream>>>(y, dy, dx, n);
    return cudaGetLastError();
}

cudaError_t tbk_add(const float *a, const float *c, float *y, size_t n, int relu, cudaStream_t stream)
{
    if (n)
        add_k<<<grid_for(n), kThreads, 0, stream>>>(a, c, y, n, relu);
    return cudaGetLastError();
}

cudaError_t tbk_bias_add_rows(float *y, const float *bias, int rows, int cols, cudaStream_t stream)
{
    size_t n = (size_t)rows * cols;
    if (n)
        bias_add_rows_k<<<grid_for(n), kThreads, 0, stream>>>(y, bias, rows, cols);
    return cudaGetLastError();
}

cudaError_t tbk_col_sum(const float *dy, float *db, int rows, int cols, cudaStream_t stream)
{
    if (cols > 0)
        col_sum_k<<<(cols + kThreads - 1) / kThreads, kThreads, 0, stream>>>(dy, db, rows, cols);
    return cudaGetLastError();
}

cudaError_t tbk_softmax_xent(const float *logits, const int32_t *labels, int n, int k, float grad_scale,
                             float *dlogits, double *row_loss, double *out, int *bad, cudaStream_t stream)
{
    if (n < 1)
        return cudaGetLastError();
    const int warps_per_block = kThreads / 32;
    softmax_xent_k<<<(n + warps_per_block - 1) / warps_per_block, kThreads, 0, stream>>>(
        logits, labels, n, k, grad_scale, dlogits, row_loss, bad);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    sum_doubles_k<<<1, 1024, 0, stream>>>(row_loss, n, out);
    return cudaGetLastError();
}

cudaError_t tbk_sum_squares(const float *x, size_t n, double *partials, double *out, cudaStream_t stream)
{
    unsigned blocks = grid_for(n);
    if (blocks > TBK_REDUCE_BLOCKS)
        blocks = TBK_REDUCE_BLOCKS;
    sum_squares_k<<<blocks, kThreads, 0, stream>>>(x, n, partials);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    sum_doubles_k<<<1, 1024, 0, stream>>>(partials, (int)blocks, out);
    return cudaGetLastError();
}

cudaError_t tbk_sgd(float *p, const float *g, float *buf, size_t n, float wd, float keep, float scale, float u_b,
                    float u_d, float neg_lr, cudaStream_t stream)
{
    if (!n)
        return cudaGetLastError();
    if (buf)
        sgd_k<<<grid_for(n), kThreads, 0, stream>>>(p, g, buf, n, wd, keep, scale, u_b, u_d, neg_lr);
    else
        sgd_plain_k<<<grid_for(n), kThreads, 0, stream>>>(p, g, n, wd, neg_lr);
    return cudaGetLastError();
}

cudaError_t tbk_adagrad(float *p, const float *g, float *sum, size_t n, float wd, float eps, float neg_clr,
                        cudaStream_t stream)
{
    if (n)
        adagrad_k<<<grid_for(n), kThreads, 0, stream>>>(p, g, sum, n, wd, eps, neg_clr);
    return cudaGetLastError();
}

cudaError_t tbk_adadelta(float *p, const float *g, float *sq, float *acc, size_t n, float wd, float eps, float rho,
                         float c, float neg_lr, cudaStream_t stream)
{
    if (n)
        adadelta_k<<<grid_for(n), kThreads, 0, stream>>>(p, g, sq, acc, n, wd, eps, rho, c, neg_lr);
    return cudaGetLastError();
}

cudaError_t tbk_adam(float *p, const float *g, float *m, float *v, size_t n, float wd, float eps, float beta1,
                     float beta2, float c1, float c2, float neg_step, float bc2_sqrt, cudaStream_t stream)
{
    if (n)
        adam_k<<<grid_for(n), kThreads, 0, stream>>>(p, g, m, v, n, wd, eps, beta1, beta2, c1, c2, neg_step,
                                                     bc2_sqrt);
    return cudaGetLastError();
}

cudaError_t tbk_nchw_f32_to_nhwc_16(const float *x, void *y, int n, int c, int h, int w, int bf16,
                                    cudaStream_t stream)
{
    size_t total = (size_t)n * c * h * w;
    if (!total)
        return cudaGetLastError();
    if (bf16)
        nchw_to_nhwc_k<__nv_bfloat16><<<grid_for(total), kThreads, 0, stream>>>(x, (__nv_bfloat16 *)y, n, c, h, w);
    else
        nchw_to_nhwc_k<__half><<<grid_for(total), kThreads, 0, stream>>>(x, (__half *)y, n, c, h, w);
    return cudaGetLastError();
}

cudaError_t tbk_nhwc_16_to_nchw_f32(const void *x, float *y, int n, int c, int h, int w, int bf16,
                                    cudaStream_t stream)
{
    size_t total = (size_t)n * c * h * w;
    if (!total)
        return cudaGetLastError();
    if (bf16)
        nhwc_to_nchw_k<__nv_bfloat16>
            <<<grid_for(total), kThreads, 0, stream>>>((const __nv_bfloat16 *)x, y, n, c, h, w);
    else
        nhwc_to_nchw_k<__half><<<grid_for(total), kThreads, 0, stream>>>((const __half *)x, y, n, c, h, w);
    return cudaGetLastError();
}

cudaError_t tbk_augment_u8(const uint8_t *src, float *dst, int n, int c, int h, int w, int H, int W, int pad_y,
                           int pad_x, const int *dy, const int *dx, const int *flip, const float *lut,
                           cudaStream_t stream)
{
    size_t total = (size_t)n * c * H * W;
    if (total)
        augment_k<<<grid_for(total), kThreads, 0, stream>>>(src, dst, n, c, h, w, H, W, pad_y, pad_x, dy, dx, flip,
                                                            lut);
    return cudaGetLastError();
}

} // extern "C"
