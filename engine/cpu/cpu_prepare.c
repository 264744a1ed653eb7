/* backend.h's prepare() on the CPU: the oneDNN primitives of every
 * convolution the model will run, built before the first epoch.
 *
 * A primitive is built on its first call (cpu_conv.c looks it up by kind,
 * shapes and layouts and builds it on a miss), so preparing one is calling
 * it once, through the backend's own table, on zeroed scratch tensors of
 * the call's shapes and layouts: the key is then exactly the one the
 * training step will look up, and the shared arena reaches its final size
 * here too.  The twin of engine/cuda/cuda_prepare.c, where the same list
 * fills the cuDNN algorithm cache.  train_batch matters only there. */
#include "core/error.h" // uses: tb_fail_prefix
#include "engine/backend_check.h" // uses: tb_conv_out_shape
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_prepare, tb_cpu_alloc, tb_cpu_release

#include <stddef.h>

int tb_cpu_prepare(tb_backend *b, const tb_conv_call *calls, int n, int train_batch)
{
    (void)train_batch;
    size_t x_max = 1, y_max = 1, w_max = 1;
    for (int i = 0; i < n; i++) {
        const tb_conv_desc *d = &calls[i].d;
        const size_t x = tb_shape_count(calls[i].x), y = tb_shape_count(tb_conv_out_shape(d, calls[i].x));
        const size_t w = (size_t)d->out_c * d->in_c * d->kernel * d->kernel;
        x_max = x > x_max ? x : x_max;
        y_max = y > y_max ? y : y_max;
        w_max = w > w_max ? w : w_max;
    }
    float *xb = tb_cpu_alloc(b, x_max * sizeof(float), "convolution scratch (prepare)");
    float *yb = xb ? tb_cpu_alloc(b, y_max * sizeof(float), "convolution scratch (prepare)") : NULL;
    float *wb = yb ? tb_cpu_alloc(b, w_max * sizeof(float), "convolution scratch (prepare)") : NULL;
    int rc = wb ? 0 : -1;
    for (int i = 0; !rc && i < n; i++) {
        const tb_conv_call *c = &calls[i];
        tb_tensor x = {c->x, xb, c->x_layout}, y = {tb_conv_out_shape(&c->d, c->x), yb, c->y_layout};
        if (c->dir == TB_CONV_FWD)
            rc = b->conv_fwd(b, &c->d, &x, wb, &y);
        else if (c->dir == TB_CONV_BWD_DATA)
            rc = b->conv_bwd_data(b, &c->d, &y, wb, &x);
        else
            rc = b->conv_bwd_weights(b, &c->d, &x, &y, wb);
        if (rc)
            tb_fail_prefix("preparing convolution %d of %d", i + 1, n);
    }
    tb_cpu_release(b, xb);
    tb_cpu_release(b, yb);
    tb_cpu_release(b, wb);
    return rc;
}
