/* backend.h's prepare() on the GPU: every convolution's cuDNN algorithm
 * chosen before the first epoch, and the workspace they share sized once.
 *
 * The calls at the training batch get the measured search, the others
 * (partial batches, evaluation batches of another size) the heuristics, as
 * on first use in cuda_conv.c, into the same cache.  Searches come first,
 * so the heuristics can prefer algorithms within the workspace the searched
 * ones need.  The search times algorithms on real memory: under bf16 the
 * 16-bit staging buffers the steps will use, grown here to the largest
 * call's x, w and y; in fp32/tf32 zeroed scratch buffers of those sizes,
 * freed before the workspace is allocated.  The twin of
 * engine/cpu/cpu_prepare.c. */
#include "core/error.h" // uses: tb_fail_prefix
#include "engine/backend_check.h" // uses: tb_conv_out_shape, tb_conv_validate, TB_SHAPE_FMT, TB_SHAPE_ARG
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda_prepare, tb_cuda, tb_cuda_of, TB_PREC_BF16, TB_PREC_FP16, ...

#include <stddef.h>

static const char *const dir_names[] = {"conv_fwd", "conv_bwd_data", "conv_bwd_weights"};

int tb_cuda_prepare(tb_backend *b, const tb_conv_call *calls, int n, int train_batch)
{
    tb_cuda *c = tb_cuda_of(b);
    if (c->search_batch <= 0 && train_batch > 0)
        c->search_batch = train_batch;
    size_t x_max = 1, y_max = 1, w_max = 1;
    for (int i = 0; i < n; i++) {
        const tb_conv_call *k = &calls[i];
        const tb_shape ys = tb_conv_out_shape(&k->d, k->x);
        if (k->dir < TB_CONV_FWD || k->dir > TB_CONV_BWD_WEIGHTS ||
            tb_conv_validate(dir_names[k->dir], &k->d, k->x, ys))
            return tb_fail_prefix("preparing convolution %d of %d", i + 1, n);
        const size_t x = tb_shape_count(k->x), y = tb_shape_count(ys);
        const size_t w = (size_t)k->d.out_c * k->d.in_c * k->d.kernel * k->d.kernel;
        x_max = x > x_max ? x : x_max;
        y_max = y > y_max ? y : y_max;
        w_max = w > w_max ? w : w_max;
    }
    const int staged = c->prec == TB_PREC_BF16 || c->prec == TB_PREC_FP16;
    const size_t elem = staged ? 2 : sizeof(float);
    if (tb_cuda_conv_reserve_stages(c, x_max, w_max, y_max))
        return tb_fail_prefix("preparing %d convolutions", n);
    void *x = staged ? c->lp[0] : tb_cuda_raw_alloc(c, x_max * elem, "convolution scratch (prepare)");
    void *w = staged ? c->lp[1] : x ? tb_cuda_raw_alloc(c, w_max * elem, "convolution scratch (prepare)") : NULL;
    void *y = staged ? c->lp[2] : w ? tb_cuda_raw_alloc(c, y_max * elem, "convolution scratch (prepare)") : NULL;
    int rc = !y || tb_cuda_check(cudaMemsetAsync(x, 0, x_max * elem, c->stream), "cudaMemsetAsync") ||
             tb_cuda_check(cudaMemsetAsync(w, 0, w_max * elem, c->stream), "cudaMemsetAsync") ||
             tb_cuda_check(cudaMemsetAsync(y, 0, y_max * elem, c->stream), "cudaMemsetAsync");
    size_t need = c->ws_bytes;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (int i = 0; i < n && !rc; i++) {
            const tb_conv_call *k = &calls[i];
            if ((k->x.n == c->search_batch) != (pass == 0))
                continue;
            size_t ws = 0;
            rc = tb_cuda_conv_choose(c, k->dir, &k->d, k->x, x, w, y, need, &ws);
            if (rc)
                tb_fail_prefix("preparing %s of x " TB_SHAPE_FMT " (%d->%d, %dx%d/%d pad %d)", dir_names[k->dir],
                               TB_SHAPE_ARG(k->x), k->d.in_c, k->d.out_c, k->d.kernel, k->d.kernel, k->d.stride,
                               k->d.pad);
            need = ws > need ? ws : need;
        }
    }
    /* The searches ran on the stream; cudaFree waits for the device. */
    if (!staged) {
        tb_cuda_raw_free(c, x);
        tb_cuda_raw_free(c, w);
        tb_cuda_raw_free(c, y);
    }
    if (!rc && need > c->ws_bytes && tb_cuda_grow(c, &c->ws, &c->ws_bytes, need, "the convolution workspace"))
        rc = -1;
    return rc ? -1 : 0;
}
