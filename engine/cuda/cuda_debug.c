/* TB_CUDA_SYNC=1: a debugging mode that synchronises the stream and checks
 * for errors after every backend operation.  Kernels and cuDNN calls run
 * asynchronously, so without it an illegal address or a failed launch
 * surfaces at some later call (often the loss download) that did nothing
 * wrong; with it, the message names the operation that failed and its
 * shapes.  The first thing to turn on when a step fails on a GPU; it makes
 * every step slower, so it is never on by default.
 *
 * cuda_backend.c fills the table as usual, then tb_cuda_debug_wrap copies
 * it to c->inner and points each entry at a wrapper here that calls the
 * real operation and then check(). */
#include "core/error.h" // uses: TB_PRINTF, tb_fail_prefix
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda, tb_cuda_of, tb_cuda_check, tb_cuda_debug_wrap

#include <stdarg.h>
#include <stdio.h>

/* rc from the real operation; what: its shapes, printf-style. */
static int check(tb_backend *b, int rc, const char *op, const char *what, ...) TB_PRINTF(4, 5);

static int check(tb_backend *b, int rc, const char *op, const char *what, ...)
{
    char shapes[256];
    va_list ap;
    va_start(ap, what);
    vsnprintf(shapes, sizeof shapes, what, ap);
    va_end(ap);
    if (rc)
        return tb_fail_prefix("TB_CUDA_SYNC: %s (%s)", op, shapes);
    tb_cuda *c = tb_cuda_of(b);
    /* A launch error is reported by cudaGetLastError, an error while the
     * work ran by the synchronisation. */
    if (tb_cuda_check(cudaGetLastError(), "launch") ||
        tb_cuda_check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize"))
        return tb_fail_prefix("TB_CUDA_SYNC: %s (%s) failed on the GPU; the operations before it completed", op,
                              shapes);
    return 0;
}

#define INNER(b) (&tb_cuda_of(b)->inner)
#define SH(t) TB_SHAPE_ARG((t)->shape)

static void *w_alloc(tb_backend *b, size_t bytes, const char *what)
{
    void *p = INNER(b)->alloc(b, bytes, what);
    if (p && check(b, 0, "alloc", "%zu bytes for %s", bytes, what)) {
        INNER(b)->release(b, p);
        return NULL;
    }
    return p;
}

static int w_upload(tb_backend *b, void *dst, const void *src, size_t bytes)
{
    return check(b, INNER(b)->upload(b, dst, src, bytes), "upload", "%zu bytes", bytes);
}

static int w_download(tb_backend *b, void *dst, const void *src, size_t bytes)
{
    return check(b, INNER(b)->download(b, dst, src, bytes), "download", "%zu bytes", bytes);
}

static int w_copy(tb_backend *b, void *dst, const void *src, size_t bytes)
{
    return check(b, INNER(b)->copy(b, dst, src, bytes), "copy", "%zu bytes", bytes);
}

static int w_convert(tb_backend *b, const tb_tensor *src, tb_tensor *dst)
{
    return check(b, INNER(b)->convert(b, src, dst), "convert", "src " TB_SHAPE_FMT ", dst " TB_SHAPE_FMT, SH(src),
                 SH(dst));
}

#define CONV_FMT "%d->%d, %dx%d/%d pad %d"
#define CONV_ARG(d) (d)->in_c, (d)->out_c, (d)->kernel, (d)->kernel, (d)->stride, (d)->pad

static int w_conv_fwd(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w, tb_tensor *y)
{
    return check(b, INNER(b)->conv_fwd(b, d, x, w, y), "conv_fwd", "x " TB_SHAPE_FMT ", y " TB_SHAPE_FMT ", " CONV_FMT,
                 SH(x), SH(y), CONV_ARG(d));
}

static int w_conv_bwd_data(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w, tb_tensor *dx)
{
    return check(b, INNER(b)->conv_bwd_data(b, d, dy, w, dx), "conv_bwd_data",
                 "dy " TB_SHAPE_FMT ", dx " TB_SHAPE_FMT ", " CONV_FMT, SH(dy), SH(dx), CONV_ARG(d));
}

static int w_conv_bwd_weights(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *dy,
                              float *dw)
{
    return check(b, INNER(b)->conv_bwd_weights(b, d, x, dy, dw), "conv_bwd_weights",
                 "x " TB_SHAPE_FMT ", dy " TB_SHAPE_FMT ", " CONV_FMT, SH(x), SH(dy), CONV_ARG(d));
}

static int w_bn_fwd_train(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                          const float *beta, float *running_mean, float *running_var, float *saved, tb_tensor *y,
                          int relu, tb_workspace *ws)
{
    return check(b, INNER(b)->bn_fwd_train(b, d, x, gamma, beta, running_mean, running_var, saved, y, relu, ws),
                 "bn_fwd_train", "x " TB_SHAPE_FMT "%s", SH(x), relu ? ", relu" : "");
}

static int w_bn_fwd_infer(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                          const float *beta, const float *running_mean, const float *running_var, tb_tensor *y,
                          int relu)
{
    return check(b, INNER(b)->bn_fwd_infer(b, d, x, gamma, beta, running_mean, running_var, y, relu),
                 "bn_fwd_infer", "x " TB_SHAPE_FMT "%s", SH(x), relu ? ", relu" : "");
}

static int w_bn_bwd(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const tb_tensor *dy, const float *gamma,
                    const float *saved, const tb_tensor *y, int relu, tb_workspace *ws, tb_tensor *dx,
                    float *dgamma, float *dbeta)
{
    return check(b, INNER(b)->bn_bwd(b, d, x, dy, gamma, saved, y, relu, ws, dx, dgamma, dbeta), "bn_bwd",
                 "x " TB_SHAPE_FMT "%s", SH(x), relu ? ", relu" : "");
}

static int w_relu_fwd(tb_backend *b, const tb_tensor *x, tb_tensor *y)
{
    return check(b, INNER(b)->relu_fwd(b, x, y), "relu_fwd", "x " TB_SHAPE_FMT, SH(x));
}

static int w_relu_bwd(tb_backend *b, const tb_tensor *y, const tb_tensor *dy, tb_tensor *dx)
{
    return check(b, INNER(b)->relu_bwd(b, y, dy, dx), "relu_bwd", "y " TB_SHAPE_FMT, SH(y));
}

static int w_add(tb_backend *b, const tb_tensor *a, const tb_tensor *c, tb_tensor *y, int relu)
{
    return check(b, INNER(b)->add(b, a, c, y, relu), "add", "a " TB_SHAPE_FMT ", c " TB_SHAPE_FMT "%s", SH(a), SH(c),
                 relu ? ", relu" : "");
}

static int w_pool_fwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, tb_tensor *y, tb_workspace *ws)
{
    return check(b, INNER(b)->pool_fwd(b, d, x, y, ws), "pool_fwd", "x " TB_SHAPE_FMT ", y " TB_SHAPE_FMT ", %s %d/%d",
                 SH(x), SH(y), d->kind == TB_POOL_MAX ? "max" : "avg", d->kernel, d->stride);
}

static int w_pool_bwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                      tb_workspace *ws, tb_tensor *dx)
{
    return check(b, INNER(b)->pool_bwd(b, d, x, dy, ws, dx), "pool_bwd",
                 "x " TB_SHAPE_FMT ", dy " TB_SHAPE_FMT ", %s %d/%d", SH(x), SH(dy),
                 d->kind == TB_POOL_MAX ? "max" : "avg", d->kernel, d->stride);
}

static int w_fc_fwd(tb_backend *b, const tb_tensor *x, const float *w, const float *bias, tb_tensor *y)
{
    return check(b, INNER(b)->fc_fwd(b, x, w, bias, y), "fc_fwd", "x " TB_SHAPE_FMT ", y " TB_SHAPE_FMT, SH(x), SH(y));
}

static int w_fc_bwd(tb_backend *b, const tb_tensor *x, const tb_tensor *dy, const float *w, tb_tensor *dx, float *dw,
                    float *dbias)
{
    return check(b, INNER(b)->fc_bwd(b, x, dy, w, dx, dw, dbias), "fc_bwd", "x " TB_SHAPE_FMT ", dy " TB_SHAPE_FMT,
                 SH(x), SH(dy));
}

static int w_softmax_xent(tb_backend *b, const tb_tensor *logits, const int32_t *labels, float grad_scale,
                          tb_tensor *dlogits, double *loss_sum_host)
{
    return check(b, INNER(b)->softmax_xent(b, logits, labels, grad_scale, dlogits, loss_sum_host), "softmax_xent",
                 "logits " TB_SHAPE_FMT, SH(logits));
}

static int w_opt_step(tb_backend *b, const tb_opt_hyper *h, float *param, const float *grad, float *state0,
                      float *state1, size_t count)
{
    return check(b, INNER(b)->opt_step(b, h, param, grad, state0, state1, count), "opt_step", "%zu parameters",
                 count);
}

static int w_sum_squares(tb_backend *b, const float *x, size_t count, double *out_host)
{
    return check(b, INNER(b)->sum_squares(b, x, count, out_host), "sum_squares", "%zu floats", count);
}

void tb_cuda_debug_wrap(tb_backend *b)
{
    tb_cuda *c = tb_cuda_of(b);
    c->inner = *b;
    c->sync_each_op = 1;
    b->alloc = w_alloc;
    b->upload = w_upload;
    b->download = w_download;
    b->copy = w_copy;
    b->convert = w_convert;
    b->conv_fwd = w_conv_fwd;
    b->conv_bwd_data = w_conv_bwd_data;
    b->conv_bwd_weights = w_conv_bwd_weights;
    b->bn_fwd_train = w_bn_fwd_train;
    b->bn_fwd_infer = w_bn_fwd_infer;
    b->bn_bwd = w_bn_bwd;
    b->relu_fwd = w_relu_fwd;
    b->relu_bwd = w_relu_bwd;
    b->add = w_add;
    b->pool_fwd = w_pool_fwd;
    b->pool_bwd = w_pool_bwd;
    b->fc_fwd = w_fc_fwd;
    b->fc_bwd = w_fc_bwd;
    b->softmax_xent = w_softmax_xent;
    b->opt_step = w_opt_step;
    b->sum_squares = w_sum_squares;
}
