/* Optimizer steps on the GPU: the rules of engine/cpu/cpu_optim.c (PyTorch's
 * torch.optim updates), with the same host-side scalars, one kernel launch
 * per parameter tensor (scalars through tb_opt_as_typed, backend_check.c);
 * and sums of squares, for LARS trust ratios and gradient norms.
 *
 * The element loops use fused multiply-adds where the CPU file writes MADD,
 * so they agree bit for bit with a CPU build that has fast fmaf and within
 * an ulp or so per operation with one that has not.
 *
 * Not done yet: one launch over all tensors (a multi-tensor apply); the
 * interface hands the backend one tensor per call. */
#include "core/error.h" // uses: tb_fail_prefix, tb_fail
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda_opt_step, tb_cuda, tb_cuda_of, tb_cuda_check, ...
#include "engine/cuda/cuda_kernels.h" // uses: tbk_sgd, tbk_adagrad, tbk_adadelta, tbk_adam, tbk_sum_squares, ...
#include "engine/cuda/cuda_policy.h" // uses: tb_cuda_opt_scalars, tb_cuda_opt_scalars_of


int tb_cuda_opt_step(tb_backend *b, const tb_opt_hyper *h, float *param, const float *grad, float *state0,
                     float *state1, size_t count)
{
    tb_cuda *c = tb_cuda_of(b);
    int need = tb_opt_check_step(h, param, grad, state0, state1);
    if (need < 0)
        return -1;

    const float wd = h->weight_decay;
    const tb_cuda_opt_scalars s = tb_cuda_opt_scalars_of(h);
    cudaError_t e;
    switch (h->kind) {
    case TB_OPT_SGD:
    case TB_OPT_SGD_NESTEROV:
    case TB_OPT_LARS:
        e = tbk_sgd(param, grad, need ? state0 : NULL, count, wd, s.keep, s.scale, s.u_b, s.u_d, s.neg_lr, c->stream);
        break;
    case TB_OPT_ADAGRAD:
        e = tbk_adagrad(param, grad, state0, count, wd, h->eps, s.neg_clr, c->stream);
        break;
    case TB_OPT_ADADELTA:
        e = tbk_adadelta(param, grad, state0, state1, count, wd, h->eps, h->rho, s.cr, s.neg_lr, c->stream);
        break;
    default:
        e = tbk_adam(param, grad, state0, state1, count, wd, h->eps, h->beta1, h->beta2, s.c1, s.c2, s.neg_step,
                     s.bc2_sqrt, c->stream);
        break;
    }
    if (tb_cuda_check(e, "optimizer kernel launch"))
        return tb_fail_prefix("optimizer step over %zu parameters", count);
    return 0;
}

int tb_cuda_sum_squares(tb_backend *b, const float *x, size_t count, double *out_host)
{
    tb_cuda *c = tb_cuda_of(b);
    if ((!x && count) || !out_host)
        return tb_fail("sum of squares: NULL input or output");
    if (tb_cuda_check(cudaMemsetAsync(c->bad, 0, 2 * sizeof(int), c->stream), "cudaMemsetAsync") ||
        tb_cuda_check(tbk_sum_squares(x, count, c->red, c->red + TBK_REDUCE_BLOCKS, c->stream),
                      "sum_squares kernel launch") ||
        tb_cuda_fetch_result(c, "sum of squares"))
        return -1;
    *out_host = c->host->value;
    return 0;
}
