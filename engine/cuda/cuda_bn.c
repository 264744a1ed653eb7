/* Batch normalisation on cuDNN's legacy API, fp32 NCHW.
 *
 * Batch norm, training: cudnnBatchNormalizationForwardTraining in SPATIAL
 * mode (not SPATIAL_PERSISTENT, whose faster kernels may overflow on some
 * inputs), with momentum as cuDNN's exponential average factor; cuDNN keeps
 * the unbiased batch variance in the running estimate, as PyTorch does
 * (PyTorch calls this same function).  `saved` holds cuDNN's saved mean and
 * inverse standard deviation (2*C floats).  With relu, a ReLU kernel runs
 * in place after it, and backward masks dy with y into a scratch buffer
 * before cudnnBatchNormalizationBackward.  cuDNN's fused BN+ReLU
 * (cudnnBatchNormalizationForwardTrainingEx, CUDNN_BATCHNORM_OPS_BN_ACTIVATION)
 * wants NHWC 16-bit tensors; it comes with 16-bit NHWC activations. */
#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda, tb_cuda_set_nchw, tb_cudnn_check, tb_cuda_bn_fwd_train, ...
#include "engine/cuda/cuda_kernels.h" // uses: tbk_relu_fwd, tbk_relu_bwd

/* Describes x (and y, the same shape) and the per-channel parameters. */
static int bn_describe(tb_cuda *c, tb_shape s, const char *op)
{
    if (tb_cuda_set_nchw(c->td_x, s, op))
        return -1;
    return tb_cudnn_check(cudnnDeriveBNTensorDescriptor(c->td_bn, c->td_x, CUDNN_BATCHNORM_SPATIAL),
                          "cudnnDeriveBNTensorDescriptor");
}

static int eps_check(const char *op, const tb_bn_desc *d)
{
    if (d->eps < CUDNN_BN_MIN_EPSILON)
        return tb_fail("%s: eps %g is below cuDNN's minimum %g", op, (double)d->eps, CUDNN_BN_MIN_EPSILON);
    return 0;
}

int tb_cuda_bn_fwd_train(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                         const float *beta, float *running_mean, float *running_var, float *saved, tb_tensor *y,
                         int relu, tb_workspace *ws)
{
    (void)ws; /* backward masks with y */
    tb_cuda *c = tb_cuda_of(b);
    const tb_shape s = x->shape;
    if (tb_bn_validate("bn_fwd_train", x, y, "y") || eps_check("bn_fwd_train", d))
        return -1;
    if ((double)s.n * s.h * s.w < 2)
        return tb_fail("bn_fwd_train: x is " TB_SHAPE_FMT ", one value per channel, so the batch variance is "
                       "undefined; use a batch size above 1 in training",
                       TB_SHAPE_ARG(s));
    const float one = 1.0f, zero = 0.0f;
    if (bn_describe(c, s, "bn_fwd_train") ||
        tb_cudnn_check(cudnnBatchNormalizationForwardTraining(c->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, c->td_x,
                                                              x->data, c->td_x, y->data, c->td_bn, gamma, beta,
                                                              (double)d->momentum, running_mean, running_var,
                                                              (double)d->eps, saved, saved + s.c),
                       "cudnnBatchNormalizationForwardTraining") ||
        (relu && tb_cuda_check(tbk_relu_fwd(y->data, y->data, tb_shape_count(s), c->stream), "relu kernel launch")))
        return tb_fail_prefix("bn_fwd_train of " TB_SHAPE_FMT "%s", TB_SHAPE_ARG(s), relu ? " with relu" : "");
    return 0;
}

int tb_cuda_bn_fwd_infer(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                         const float *beta, const float *running_mean, const float *running_var, tb_tensor *y,
                         int relu)
{
    tb_cuda *c = tb_cuda_of(b);
    const tb_shape s = x->shape;
    if (tb_bn_validate("bn_fwd_infer", x, y, "y") || eps_check("bn_fwd_infer", d))
        return -1;
    const float one = 1.0f, zero = 0.0f;
    if (bn_describe(c, s, "bn_fwd_infer") ||
        tb_cudnn_check(cudnnBatchNormalizationForwardInference(c->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, c->td_x,
                                                               x->data, c->td_x, y->data, c->td_bn, gamma, beta,
                                                               running_mean, running_var, (double)d->eps),
                       "cudnnBatchNormalizationForwardInference") ||
        (relu && tb_cuda_check(tbk_relu_fwd(y->data, y->data, tb_shape_count(s), c->stream), "relu kernel launch")))
        return tb_fail_prefix("bn_fwd_infer of " TB_SHAPE_FMT "%s", TB_SHAPE_ARG(s), relu ? " with relu" : "");
    return 0;
}

int tb_cuda_bn_bwd(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const tb_tensor *dy,
                   const float *gamma, const float *saved, const tb_tensor *y, int relu, tb_workspace *ws,
                   tb_tensor *dx, float *dgamma, float *dbeta)
{
    (void)ws;
    tb_cuda *c = tb_cuda_of(b);
    const tb_shape s = x->shape;
    if (relu && (!y || !y->data))
        return tb_fail("bn_bwd with relu needs y, the output of bn_fwd_train, to mask dy; pass the layer's output");
    if (tb_bn_validate("bn_bwd", x, dy, "dy") || tb_bn_validate("bn_bwd", x, dx, "dx") ||
        (relu && tb_bn_validate("bn_bwd", x, y, "y")) || eps_check("bn_bwd", d))
        return -1;
    const float *g = dy->data;
    if (relu) {
        void *buf = c->scratch;
        if (tb_cuda_grow(c, &buf, &c->scratch_bytes, tb_shape_count(s) * sizeof(float), "the masked BN gradient"))
            return tb_fail_prefix("bn_bwd");
        c->scratch = buf;
        if (tb_cuda_check(tbk_relu_bwd(y->data, dy->data, c->scratch, tb_shape_count(s), c->stream),
                          "relu_bwd kernel launch"))
            return tb_fail_prefix("bn_bwd with relu");
        g = c->scratch;
    }
    const float one = 1.0f, zero = 0.0f;
    if (bn_describe(c, s, "bn_bwd") ||
        tb_cudnn_check(cudnnBatchNormalizationBackward(c->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero,
                                                       c->td_x, x->data, c->td_x, g, c->td_x, dx->data, c->td_bn,
                                                       gamma, dgamma, dbeta, (double)d->eps, saved, saved + s.c),
                       "cudnnBatchNormalizationBackward"))
        return tb_fail_prefix("bn_bwd of " TB_SHAPE_FMT "%s", TB_SHAPE_ARG(s), relu ? " with relu" : "");
    return 0;
}
