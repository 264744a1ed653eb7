#include "engine/backend_check.h"

#include "core/error.h" // uses: tb_fail

#include <math.h>

int tb_same_shape(tb_shape a, tb_shape b) { return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w; }

int tb_shape_mismatch(const char *op, const char *name, tb_shape got, tb_shape want)
{
    return tb_fail("%s: %s is " TB_SHAPE_FMT " but must be " TB_SHAPE_FMT " (NCHW) for these inputs; "
                   "this is a bug in the model code calling the backend",
                   op, name, TB_SHAPE_ARG(got), TB_SHAPE_ARG(want));
}

tb_shape tb_conv_out_shape(const tb_conv_desc *d, tb_shape x)
{
    tb_shape y = {x.n, d->out_c, 0, 0};
    if (d->stride > 0) {
        y.h = (x.h + 2 * d->pad - d->kernel) / d->stride + 1;
        y.w = (x.w + 2 * d->pad - d->kernel) / d->stride + 1;
    }
    return y;
}

int tb_conv_validate(const char *op, const tb_conv_desc *d, tb_shape x, tb_shape y)
{
    if (d->kernel < 1 || d->stride < 1 || d->pad < 0 || d->in_c < 1 || d->out_c < 1)
        return tb_fail("%s: invalid convolution %d->%d channels, kernel %d, stride %d, pad %d; "
                       "kernel, stride and channels must be positive and pad not negative",
                       op, d->in_c, d->out_c, d->kernel, d->stride, d->pad);
    tb_shape want_x = {x.n, d->in_c, x.h, x.w};
    if (!tb_same_shape(x, want_x) || x.n < 1)
        return tb_shape_mismatch(op, "x", x, want_x);
    tb_shape want_y = tb_conv_out_shape(d, x);
    if (want_y.h < 1 || want_y.w < 1)
        return tb_fail("%s: input " TB_SHAPE_FMT " is smaller than the %dx%d kernel with pad %d; "
                       "use larger images or fewer downsampling stages",
                       op, TB_SHAPE_ARG(x), d->kernel, d->kernel, d->pad);
    if (!tb_same_shape(y, want_y))
        return tb_shape_mismatch(op, "y", y, want_y);
    return 0;
}

int tb_pool_validate(const char *op, const tb_pool_desc *d, tb_shape x, tb_shape y)
{
    if (d->kernel < 1 || d->stride < 1 || d->pad < 0 || d->pad >= d->kernel ||
        (d->kind != TB_POOL_MAX && d->kind != TB_POOL_AVG))
        return tb_fail("%s: invalid pooling (kind %d, kernel %d, stride %d, pad %d); kernel and stride must be "
                       "positive and pad between 0 and kernel - 1",
                       op, (int)d->kind, d->kernel, d->stride, d->pad);
    tb_shape want = {x.n, x.c, (x.h + 2 * d->pad - d->kernel) / d->stride + 1,
                     (x.w + 2 * d->pad - d->kernel) / d->stride + 1};
    if (x.n < 1 || x.c < 1 || x.h + 2 * d->pad < d->kernel || x.w + 2 * d->pad < d->kernel)
        return tb_fail("%s: input " TB_SHAPE_FMT " is smaller than the %dx%d window with pad %d; "
                       "use larger images or fewer downsampling stages",
                       op, TB_SHAPE_ARG(x), d->kernel, d->kernel, d->pad);
    if (!tb_same_shape(y, want))
        return tb_shape_mismatch(op, "y", y, want);
    return 0;
}

int tb_bn_validate(const char *op, const tb_tensor *x, const tb_tensor *other, const char *other_name)
{
    if (x->shape.n < 1 || x->shape.c < 1 || x->shape.h < 1 || x->shape.w < 1)
        return tb_fail("%s: x is " TB_SHAPE_FMT "; every dimension must be positive", op, TB_SHAPE_ARG(x->shape));
    if (other && !tb_same_shape(other->shape, x->shape))
        return tb_shape_mismatch(op, other_name, other->shape, x->shape);
    return 0;
}

int tb_eltwise_validate(const char *op, const tb_tensor *a, const tb_tensor *b, const tb_tensor *out)
{
    if (!tb_same_shape(a->shape, out->shape))
        return tb_shape_mismatch(op, "the output", out->shape, a->shape);
    if (b && !tb_same_shape(a->shape, b->shape))
        return tb_shape_mismatch(op, "the second input", b->shape, a->shape);
    return 0;
}

int tb_fc_validate(const char *op, tb_shape x, tb_shape y)
{
    tb_shape want = {x.n, y.c, 1, 1};
    if (x.n < 1 || x.c < 1 || x.h < 1 || x.w < 1 || y.c < 1)
        return tb_fail("%s: x is " TB_SHAPE_FMT " with %d outputs; every dimension must be positive", op,
                       TB_SHAPE_ARG(x), y.c);
    if (!tb_same_shape(y, want))
        return tb_shape_mismatch(op, "the output", y, want);
    return 0;
}

int tb_softmax_validate(const tb_tensor *logits, const tb_tensor *dlogits)
{
    const tb_shape s = logits->shape;
    if (s.n < 1 || s.c * s.h * s.w < 1)
        return tb_fail("softmax_xent: logits are " TB_SHAPE_FMT "; need at least one sample and one class",
                       TB_SHAPE_ARG(s));
    if (dlogits && !tb_same_shape(dlogits->shape, s))
        return tb_shape_mismatch("softmax_xent", "dlogits", dlogits->shape, s);
    return 0;
}

int tb_softmax_bad_label(int sample, int label, int classes)
{
    return tb_fail("softmax_xent: label %d of sample %d is outside the %d classes [0, %d); check that "
                   "the dataset's labels match the model's class count",
                   label, sample, classes, classes - 1);
}

int tb_workspace_prepare(tb_backend *b, tb_workspace *ws, size_t bytes, int grow, const char *what)
{
    if (!ws)
        return tb_fail("no workspace was passed for %s; the layer must own a tb_workspace", what);
    if (ws->ptr && ws->bytes >= bytes)
        return 0;
    if (!grow)
        return tb_fail("the workspace holds %zu bytes but %s needs %zu; the forward call must fill it on the "
                       "same batch before the backward call",
                       ws->bytes, what, bytes);
    tb_workspace_free(b, ws);
    ws->ptr = b->alloc(b, bytes, what);
    if (!ws->ptr)
        return -1;
    ws->bytes = bytes;
    return 0;
}

int tb_opt_state_buffers(tb_opt_kind kind, float momentum)
{
    switch (kind) {
    case TB_OPT_SGD:
    case TB_OPT_SGD_NESTEROV:
    case TB_OPT_LARS: return momentum != 0.0f;
    case TB_OPT_ADAGRAD: return 1;
    case TB_OPT_ADADELTA:
    case TB_OPT_ADAM: return 2;
    default: return -1;
    }
}

int tb_opt_check_step(const tb_opt_hyper *h, const float *param, const float *grad, const float *state0,
                      const float *state1)
{
    if (!h || !param || !grad)
        return tb_fail("optimizer step: missing hyper-parameters, parameter or gradient");
    if (h->step < 1)
        return tb_fail("optimizer step: step %ld, but steps count from 1", h->step);
    int need = tb_opt_state_buffers(h->kind, h->momentum);
    if (need < 0)
        return tb_fail("optimizer step: unknown optimizer kind %d", (int)h->kind);
    if ((need >= 1 && !state0) || (need >= 2 && !state1))
        return tb_fail("optimizer step: kind %d needs %d state buffer%s, got NULL", (int)h->kind, need,
                       need > 1 ? "s" : "");
    return need;
}

double tb_opt_as_typed(float x)
{
    double scale = 1.0;
    for (int places = 1; places <= 9; places++) {
        scale *= 10.0;
        double r = nearbyint((double)x * scale) / scale;
        if ((float)r == x)
            return r;
    }
    return x;
}
