/* Softmax cross-entropy: one warp per sample (cuda_kernels.cu), the
 * per-sample losses summed in a fixed order so the result is the same run
 * to run.  Labels are in device memory, so a bad one is flagged by the
 * kernel and reported after the copy back, with the CPU backend's message. */
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda_softmax_xent, tb_cuda, tb_cuda_of, tb_cuda_grow, ...
#include "engine/cuda/cuda_kernels.h" // uses: tbk_softmax_xent, TBK_REDUCE_BLOCKS

int tb_cuda_softmax_xent(tb_backend *b, const tb_tensor *logits, const int32_t *labels, float grad_scale,
                         tb_tensor *dlogits, double *loss_sum_host)
{
    tb_cuda *c = tb_cuda_of(b);
    const tb_shape s = logits->shape;
    const int n = s.n, k = s.c * s.h * s.w;
    if (tb_softmax_validate(logits, dlogits))
        return -1;
    if ((size_t)n > c->row_loss_n) {
        size_t have = c->row_loss_n * sizeof(double);
        void *p = c->row_loss;
        if (tb_cuda_grow(c, &p, &have, (size_t)n * sizeof(double), "per-sample losses"))
            return -1;
        c->row_loss = p;
        c->row_loss_n = have / sizeof(double);
    }
    if (tb_cuda_check(cudaMemsetAsync(c->bad, 0, 2 * sizeof(int), c->stream), "cudaMemsetAsync") ||
        tb_cuda_check(tbk_softmax_xent(logits->data, labels, n, k, grad_scale, dlogits ? dlogits->data : NULL,
                                       c->row_loss, c->red + TBK_REDUCE_BLOCKS, c->bad, c->stream),
                      "softmax_xent kernel launch") ||
        tb_cuda_fetch_result(c, "softmax_xent"))
        return -1;
    if (c->host->bad[0])
        return tb_softmax_bad_label(c->host->bad[0] - 1, c->host->bad[1], k);
    *loss_sum_host += c->host->value;
    return 0;
}
