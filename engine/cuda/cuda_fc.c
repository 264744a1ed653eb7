/* Fully connected layer with bias on cuBLAS: x [N][in] (any N x C x H x W
 * tensor, flattened), w [out][in], y [N][out].
 *
 * Row-major x [N][in], w [out][in], y [N][out] are column-major x^T, w^T,
 * y^T to cuBLAS, so y^T = w x^T is gemm(T, N) with m = out, n = N, k = in;
 * dx^T = w^T dy^T is gemm(N, N); dw^T = x^T dy is gemm(N, T).  The bias and
 * its gradient are kernels (cuda_kernels.cu). */
#include "core/error.h" // uses: tb_fail_prefix
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda_fc_fwd, tb_cuda, tb_cuda_of, tb_cublas_check, ...
#include "engine/cuda/cuda_kernels.h" // uses: tbk_bias_add_rows, tbk_col_sum

int tb_cuda_fc_fwd(tb_backend *b, const tb_tensor *x, const float *w, const float *bias, tb_tensor *y)
{
    if (tb_fc_validate("fc_fwd", x->shape, y->shape))
        return -1;
    tb_cuda *c = tb_cuda_of(b);
    const int n = x->shape.n, in = x->shape.c * x->shape.h * x->shape.w, out = y->shape.c;
    const float one = 1.0f, zero = 0.0f;
    if (tb_cublas_check(cublasSgemm(c->cublas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, in, x->data, in, &zero,
                                    y->data, out),
                        "cublasSgemm") ||
        tb_cuda_check(tbk_bias_add_rows(y->data, bias, n, out, c->stream), "fc bias kernel launch"))
        return tb_fail_prefix("fc_fwd of x %dx%d to %d outputs", n, in, out);
    return 0;
}

int tb_cuda_fc_bwd(tb_backend *b, const tb_tensor *x, const tb_tensor *dy, const float *w, tb_tensor *dx,
                   float *dw, float *dbias)
{
    if (tb_fc_validate("fc_bwd", x->shape, dy->shape))
        return -1;
    if (dx && !tb_same_shape(dx->shape, x->shape))
        return tb_shape_mismatch("fc_bwd", "dx", dx->shape, x->shape);
    tb_cuda *c = tb_cuda_of(b);
    const int n = x->shape.n, in = x->shape.c * x->shape.h * x->shape.w, out = dy->shape.c;
    const float one = 1.0f, zero = 0.0f;
    if ((dx && tb_cublas_check(cublasSgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy->data,
                                           out, &zero, dx->data, in),
                               "cublasSgemm (data gradient)")) ||
        tb_cublas_check(cublasSgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x->data, in, dy->data, out,
                                    &zero, dw, in),
                        "cublasSgemm (weight gradient)") ||
        tb_cuda_check(tbk_col_sum(dy->data, dbias, n, out, c->stream), "fc bias-gradient kernel launch"))
        return tb_fail_prefix("fc_bwd of x %dx%d to %d outputs", n, in, out);
    return 0;
}
