/* The CUDA backend's own kernels, behind a C interface.
 *
 * Implemented in cuda_kernels.cu (the only file compiled by nvcc); the host
 * code in engine/cuda/ (C files) calls these launch wrappers.  Every wrapper
 * enqueues its kernels on `stream` and returns cudaGetLastError() (the launch
 * status), so the caller can turn a failure into a tb_fail message.  Sizes
 * are element counts; pointers are device memory unless said otherwise.
 *
 * Reductions (loss, sum of squares, bias gradient) run in a fixed order
 * (per-block partials, then one block), so results are bitwise reproducible
 * run to run. */
#ifndef TB_CUDA_KERNELS_H
#define TB_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Partial sums that sum_squares keeps per call (doubles, device memory). */
enum { TBK_REDUCE_BLOCKS = 1024 };

/* Element-wise: y = max(x, 0); dx = y > 0 ? dy : 0; y = a + c (+ relu). All in place allowed. */
cudaError_t tbk_relu_fwd(const float *x, float *y, size_t n, cudaStream_t stream);
cudaError_t tbk_relu_bwd(const float *y, const float *dy, float *dx, size_t n, cudaStream_t stream);
cudaError_t tbk_add(const float *a, const float *c, float *y, size_t n, int relu, cudaStream_t stream);

/* Fully connected helpers: y[i][j] += bias[j] for rows x cols; db[j] = sum_i dy[i][j]. */
cudaError_t tbk_bias_add_rows(float *y, const float *bias, int rows, int cols, cudaStream_t stream);
cudaError_t tbk_col_sum(const float *dy, float *db, int rows, int cols, cudaStream_t stream);

/* Softmax cross-entropy over logits [n][k]: row_loss (n doubles, scratch)
 * gets each sample's loss, out[0] their sum; when dlogits is not NULL it gets
 * (softmax - onehot) * grad_scale.  A label outside [0, k) sets bad[0] to
 * (sample index + 1) and bad[1] to the label (bad: 2 ints, zeroed by the
 * caller); that row's loss is 0. */
cudaError_t tbk_softmax_xent(const float *logits, const int32_t *labels, int n, int k, float grad_scale,
                             float *dlogits, double *row_loss, double *out, int *bad, cudaStream_t stream);

/* out[0] = sum of x[i]^2 in double; partials: TBK_REDUCE_BLOCKS doubles of scratch. */
cudaError_t tbk_sum_squares(const float *x, size_t n, double *partials, double *out, cudaStream_t stream);

/* Optimizer updates: the scalars are computed on the host exactly as the CPU
 * backend does (engine/cpu/cpu_optim.c); these loops are that file's loop
 * bodies with fused multiply-adds where it writes MADD. */
cudaError_t tbk_sgd(float *p, const float *g, float *buf, size_t n, float wd, float keep, float scale, float u_b,
                    float u_d, float neg_lr, cudaStream_t stream);
cudaError_t tbk_adagrad(float *p, const float *g, float *sum, size_t n, float wd, float eps, float neg_clr,
                        cudaStream_t stream);
cudaError_t tbk_adadelta(float *p, const float *g, float *sq, float *acc, size_t n, float wd, float eps, float rho,
                         float c, float neg_lr, cudaStream_t stream);
cudaError_t tbk_adam(float *p, const float *g, float *m, float *v, size_t n, float wd, float eps, float beta1,
                     float beta2, float c1, float c2, float neg_step, float bc2_sqrt, cudaStream_t stream);

/* Layout and precision conversion for the reduced-precision convolutions:
 * fp32 NCHW <-> 16-bit NHWC (bf16 when bf16 is set, else IEEE half).  The
 * same pair converts OIHW weights to and from KRSC (n = out, c = in). */
cudaError_t tbk_nchw_f32_to_nhwc_16(const float *x, void *y, int n, int c, int h, int w, int bf16,
                                    cudaStream_t stream);
cudaError_t tbk_nhwc_16_to_nchw_f32(const void *x, float *y, int n, int c, int h, int w, int bf16,
                                    cudaStream_t stream);

/* CIFAR-style augmentation from uint8 batches: src [n][c][h][w] bytes, dst
 * [n][c][H][W] fp32.  Output pixel (y, x) of image i reads source row
 * y + oy and column flip[i] ? W - 1 + ox - x : x + ox, where
 * oy = dy[i] - pad_y and ox = dx[i] - pad_x; outside the source it reads the
 * byte 0.  Each byte v of channel c becomes lut[c * 256 + v] (the loader's
 * (v / 255 - mean) / std table).  Exactly datasets/augment.c's
 * tb_augment_image, so a GPU-side loader gives the same batches. */
cudaError_t tbk_augment_u8(const uint8_t *src, float *dst, int n, int c, int h, int w, int H, int W, int pad_y,
                           int pad_x, const int *dy, const int *dx, const int *flip, const float *lut,
                           cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
