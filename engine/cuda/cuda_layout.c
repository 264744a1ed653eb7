/* Activation layouts.  This backend has no layout of its own (native_layout
 * is PLAIN, and its operations read every tensor as NCHW), so convert() is
 * a device-to-device copy. */
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda_convert, tb_cuda_check, tb_cuda_of

int tb_cuda_convert(tb_backend *b, const tb_tensor *src, tb_tensor *dst)
{
    if (!tb_same_shape(src->shape, dst->shape))
        return tb_shape_mismatch("convert", "dst", dst->shape, src->shape);
    if (src->data == dst->data)
        return 0;
    return tb_cuda_check(cudaMemcpyAsync(dst->data, src->data, tb_shape_count(src->shape) * sizeof(float),
                                         cudaMemcpyDeviceToDevice, tb_cuda_of(b)->stream),
                         "cudaMemcpyAsync (device to device)");
}
