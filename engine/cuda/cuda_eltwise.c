/* Element-wise operations: relu forward/backward and the residual add, one
 * grid-stride kernel each (cuda_kernels.cu).  Every tensor is plain NCHW on
 * this backend, so each is a flat vector of tb_shape_count floats. */
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda_relu_fwd, tb_cuda_check, tb_cuda_of, tb_cuda_relu_bwd, ...
#include "engine/cuda/cuda_kernels.h" // uses: tbk_relu_fwd, tbk_relu_bwd, tbk_add

int tb_cuda_relu_fwd(tb_backend *b, const tb_tensor *x, tb_tensor *y)
{
    if (tb_eltwise_validate("relu_fwd", x, NULL, y))
        return -1;
    return tb_cuda_check(tbk_relu_fwd(x->data, y->data, tb_shape_count(x->shape), tb_cuda_of(b)->stream),
                         "relu_fwd kernel launch");
}

int tb_cuda_relu_bwd(tb_backend *b, const tb_tensor *y, const tb_tensor *dy, tb_tensor *dx)
{
    if (tb_eltwise_validate("relu_bwd", y, dy, dx))
        return -1;
    return tb_cuda_check(tbk_relu_bwd(y->data, dy->data, dx->data, tb_shape_count(y->shape), tb_cuda_of(b)->stream),
                         "relu_bwd kernel launch");
}

int tb_cuda_add(tb_backend *b, const tb_tensor *a, const tb_tensor *c, tb_tensor *y, int relu)
{
    if (tb_eltwise_validate("add", a, c, y))
        return -1;
    return tb_cuda_check(tbk_add(a->data, c->data, y->data, tb_shape_count(a->shape), relu, tb_cuda_of(b)->stream),
                         relu ? "add+relu kernel launch" : "add kernel launch");
}
