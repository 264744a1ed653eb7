/* Max and average pooling on cuDNN's legacy API, fp32 NCHW:
 * cudnnPoolingForward/Backward (max: the deterministic mode; average:
 * padding counted, PyTorch's default).  cuDNN's backward wants the forward
 * output y as well as x and dy, and the interface passes no y, so the
 * forward keeps a copy of y in the layer's workspace. */
#include "core/error.h" // uses: tb_fail_prefix
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda, tb_cudnn_check, tb_cuda_set_nchw, tb_cuda_pool_fwd, ...

static int pool_describe(tb_cuda *c, const tb_pool_desc *d, tb_shape xs, tb_shape ys, const char *op)
{
    cudnnPoolingMode_t mode =
        d->kind == TB_POOL_MAX ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
    if (tb_cudnn_check(cudnnSetPooling2dDescriptor(c->pool, mode, CUDNN_PROPAGATE_NAN, d->kernel, d->kernel, d->pad,
                                                   d->pad, d->stride, d->stride),
                       "cudnnSetPooling2dDescriptor") ||
        tb_cuda_set_nchw(c->td_x, xs, op) || tb_cuda_set_nchw(c->td_y, ys, op))
        return -1;
    return 0;
}

static int pool_fail(const char *op, const tb_pool_desc *d, tb_shape xs)
{
    return tb_fail_prefix("%s (%s %dx%d, stride %d, pad %d) of x " TB_SHAPE_FMT, op,
                          d->kind == TB_POOL_MAX ? "max" : "avg", d->kernel, d->kernel, d->stride, d->pad,
                          TB_SHAPE_ARG(xs));
}

int tb_cuda_pool_fwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, tb_tensor *y, tb_workspace *ws)
{
    tb_cuda *c = tb_cuda_of(b);
    if (tb_pool_validate("pool_fwd", d, x->shape, y->shape))
        return -1;
    const float one = 1.0f, zero = 0.0f;
    const size_t ybytes = tb_shape_count(y->shape) * sizeof(float);
    if (pool_describe(c, d, x->shape, y->shape, "pool_fwd") ||
        tb_cudnn_check(cudnnPoolingForward(c->cudnn, c->pool, &one, c->td_x, x->data, &zero, c->td_y, y->data),
                       "cudnnPoolingForward") ||
        /* Without a workspace no backward follows (inference). */
        (ws && (tb_workspace_prepare(b, ws, ybytes, 1, "the pooling output kept for backward") ||
                tb_cuda_check(cudaMemcpyAsync(ws->ptr, y->data, ybytes, cudaMemcpyDeviceToDevice, c->stream),
                              "cudaMemcpyAsync (keeping the pooling output)"))))
        return pool_fail("pool_fwd", d, x->shape);
    return 0;
}

int tb_cuda_pool_bwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                     tb_workspace *ws, tb_tensor *dx)
{
    tb_cuda *c = tb_cuda_of(b);
    if (!tb_same_shape(x->shape, dx->shape))
        return tb_shape_mismatch("pool_bwd", "dx", dx->shape, x->shape);
    if (tb_pool_validate("pool_bwd", d, x->shape, dy->shape))
        return -1;
    const float one = 1.0f, zero = 0.0f;
    if (tb_workspace_prepare(b, ws, tb_shape_count(dy->shape) * sizeof(float), 0,
                                  "the pooling output kept for backward") ||
        pool_describe(c, d, x->shape, dy->shape, "pool_bwd") ||
        tb_cudnn_check(cudnnPoolingBackward(c->cudnn, c->pool, &one, c->td_y, ws->ptr, c->td_y, dy->data, c->td_x,
                                            x->data, &zero, c->td_x, dx->data),
                       "cudnnPoolingBackward"))
        return pool_fail("pool_bwd", d, x->shape);
    return 0;
}
