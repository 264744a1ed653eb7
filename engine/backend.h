/* The backend interface: the table of operations a device implements.
 *
 * The model code (engine/model.c) only ever talks to a tb_backend, so a CPU
 * backend (oneDNN, engine/cpu/) and a CUDA backend (cuDNN/cuBLAS, later) are
 * interchangeable without touching it.
 *
 * Conventions shared by every operation:
 *  - Activations are tb_tensor values: logical NCHW shape, a pointer to
 *    device memory obtained from alloc(), and a layout tag.  TB_LAYOUT_PLAIN
 *    is NCHW fp32.  TB_LAYOUT_NATIVE is the backend's own arrangement of the
 *    same fp32 values (oneDNN's channel-blocked nChw16c/nChw8c on the CPU):
 *    the model keeps activations and their gradients in the layout
 *    native_layout names, so no conversion runs between layers, and calls
 *    convert() where the host or a plain-only operation needs NCHW.  Every
 *    operation accepts either layout for each tensor and writes its outputs
 *    in the layout their tensors say.
 *  - Parameters, gradients and optimizer state are plain fp32 arrays in device
 *    memory, in PyTorch's layouts: convolution weights OIHW, fully connected
 *    weights [out][in].  That keeps checkpoints and safetensors exchange simple.
 *  - Gradient outputs are overwritten, never accumulated into.
 *  - Operations may be asynchronous; synchronize() waits for all of them.
 *  - Every operation returns 0 on success and -1 after tb_fail() on failure.
 *  - A backend caches whatever it builds per shape (oneDNN primitives, cuDNN
 *    algorithm choices) internally, keyed on the descriptor and shapes, so the
 *    same call with the same shapes is cheap from the second time on.
 *  - Operations that need memory that lives from a forward call to the
 *    matching backward call (max-pool indices, a fused BN+ReLU mask) take a
 *    tb_workspace owned by the caller's layer; the backend grows it with its
 *    own alloc() and the caller frees it with release(). */
#ifndef TB_BACKEND_H
#define TB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct { int n, c, h, w; } tb_shape;

static inline size_t tb_shape_count(tb_shape s)
{
    return (size_t)s.n * (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* How a tensor's elements are arranged in memory.  A native tensor takes
 * the same bytes as a plain one (tb_shape_count floats) and keeps the batch
 * dimension outermost, so the first n images of a tensor are a prefix of
 * its memory in either layout. */
typedef enum {
    TB_LAYOUT_PLAIN = 0, /* NCHW; a zero-initialised tensor is plain */
    TB_LAYOUT_NATIVE = 1 /* the backend's private layout for that shape */
} tb_layout;

/* An activation: logical NCHW fp32 in device memory, in `layout`. */
typedef struct {
    tb_shape shape;
    float *data;
    tb_layout layout;
} tb_tensor;

/* Memory that lives from a forward call to its backward call. */
typedef struct {
    void *ptr;
    size_t bytes;
} tb_workspace;

typedef struct {
    int in_c, out_c;
    int kernel, stride, pad; /* square kernels, as every ResNet uses */
} tb_conv_desc;

/* One convolution call as prepare() takes it: the direction, the
 * descriptor, the input side's shape with its batch (x; dx for backward
 * data) and the layouts of the input and output sides as the caller will
 * pass them. */
typedef enum { TB_CONV_FWD, TB_CONV_BWD_DATA, TB_CONV_BWD_WEIGHTS } tb_conv_dir;

typedef struct {
    int dir; /* tb_conv_dir */
    tb_conv_desc d;
    tb_shape x;
    tb_layout x_layout, y_layout;
} tb_conv_call;

typedef struct {
    float momentum; /* PyTorch's: running = (1 - m) * running + m * batch */
    float eps;
} tb_bn_desc;

typedef enum { TB_POOL_MAX, TB_POOL_AVG } tb_pool_kind;

typedef struct {
    tb_pool_kind kind;
    int kernel, stride, pad; /* average pooling counts padding like PyTorch's default (count_include_pad) */
} tb_pool_desc;

typedef enum {
    TB_OPT_SGD,          /* momentum SGD, PyTorch's torch.optim.SGD */
    TB_OPT_SGD_NESTEROV, /* the same with nesterov=True */
    TB_OPT_ADAGRAD,
    TB_OPT_ADADELTA,
    TB_OPT_ADAM,
    TB_OPT_LARS, /* SGD with momentum and a per-tensor trust ratio */
    TB_OPT_COUNT
} tb_opt_kind;

/* Hyper-parameters for one optimizer step over one parameter tensor.  The
 * update rules are PyTorch's exactly (weight decay added to the gradient as
 * L2, as torch.optim does).  `step` counts from 1 (Adam's bias correction,
 * SGD's first-step momentum buffer initialisation). */
typedef struct {
    tb_opt_kind kind;
    float lr;
    float momentum;     /* sgd, sgd-nesterov, lars */
    float dampening;    /* sgd */
    float weight_decay; /* all */
    float eps;          /* adagrad 1e-10, adadelta 1e-6, adam 1e-8 */
    float rho;          /* adadelta 0.9 */
    float beta1, beta2; /* adam 0.9, 0.999 */
    float lr_decay;     /* adagrad 0 */
    float trust_ratio;  /* lars: the per-tensor local lr factor the caller computed; 1 for others */
    long step;
} tb_opt_hyper;

typedef enum { TB_DEVICE_CPU, TB_DEVICE_CUDA } tb_device_kind;

struct tb_prof_device; /* profile.h */

typedef struct tb_backend tb_backend;

struct tb_backend {
    const char *name; /* "cpu (oneDNN 2.6.3)" */
    tb_device_kind kind;
    void *impl;
    /* The layout to keep activations in between operations: NATIVE where
     * the backend has a faster one (CPU), PLAIN where it has none (CUDA). */
    tb_layout native_layout;

    /* memory: alloc() returns zeroed device memory or NULL after tb_fail */
    void *(*alloc)(tb_backend *b, size_t bytes, const char *what);
    void (*release)(tb_backend *b, void *ptr);
    int (*upload)(tb_backend *b, void *dst_dev, const void *src_host, size_t bytes);
    int (*download)(tb_backend *b, void *dst_host, const void *src_dev, size_t bytes);
    int (*copy)(tb_backend *b, void *dst_dev, const void *src_dev, size_t bytes);
    int (*synchronize)(tb_backend *b);
    /* The device timeline for the profiler's GPU spans (profile.h); NULL
     * where the device is the host (CPU). */
    int (*prof_device)(tb_backend *b, struct tb_prof_device *out);
    /* dst = src with dst's layout; same shapes, no aliasing.  How a plain
     * reader (host download, a test, the classifier) gets a native tensor. */
    int (*convert)(tb_backend *b, const tb_tensor *src, tb_tensor *dst);

    /* convolution without bias; y = conv(x, w) */
    int (*conv_fwd)(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w, tb_tensor *y);
    int (*conv_bwd_data)(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w, tb_tensor *dx);
    int (*conv_bwd_weights)(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *dy,
                            float *dw);

    /* Batch normalisation, training mode: normalises with the batch
     * statistics, updates running_mean/running_var as PyTorch does (unbiased
     * variance into the running estimate), and saves what backward needs in
     * `saved` (2*C floats, contents private to the backend).  With relu set,
     * y = relu(bn(x)) and bn_bwd then takes dy with respect to that output
     * and the output y itself (to mask). */
    int (*bn_fwd_train)(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                        const float *beta, float *running_mean, float *running_var, float *saved, tb_tensor *y,
                        int relu, tb_workspace *ws);
    int (*bn_fwd_infer)(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                        const float *beta, const float *running_mean, const float *running_var, tb_tensor *y,
                        int relu);
    int (*bn_bwd)(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const tb_tensor *dy, const float *gamma,
                  const float *saved, const tb_tensor *y, int relu, tb_workspace *ws, tb_tensor *dx,
                  float *dgamma, float *dbeta);

    /* y = max(x, 0); dx = dy where y > 0 else 0.  In place allowed. */
    int (*relu_fwd)(tb_backend *b, const tb_tensor *x, tb_tensor *y);
    int (*relu_bwd)(tb_backend *b, const tb_tensor *y, const tb_tensor *dy, tb_tensor *dx);

    /* y = a + c, then relu when asked; y may alias a or c. */
    int (*add)(tb_backend *b, const tb_tensor *a, const tb_tensor *c, tb_tensor *y, int relu);

    int (*pool_fwd)(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, tb_tensor *y, tb_workspace *ws);
    int (*pool_bwd)(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                    tb_workspace *ws, tb_tensor *dx);

    /* Fully connected: x is [N][in] (a tensor N x in x 1 x 1), w [out][in],
     * y = x w^T + bias; x, y, dx and dy are plain (convert() first).  fc_bwd writes dx (if not NULL), dw and dbias. */
    int (*fc_fwd)(tb_backend *b, const tb_tensor *x, const float *w, const float *bias, tb_tensor *y);
    int (*fc_bwd)(tb_backend *b, const tb_tensor *x, const tb_tensor *dy, const float *w, tb_tensor *dx,
                  float *dw, float *dbias);

    /* Softmax cross-entropy over plain logits [N][K] with int32 labels in device
     * memory.  Adds the sum over the batch of per-sample losses to
     * *loss_sum_host.  When dlogits is not NULL, writes
     * dlogits = (softmax(logits) - onehot(label)) * grad_scale
     * (grad_scale = 1/global batch gives the gradient of the mean loss). */
    int (*softmax_xent)(tb_backend *b, const tb_tensor *logits, const int32_t *labels, float grad_scale,
                        tb_tensor *dlogits, double *loss_sum_host);

    /* One optimizer step over `count` parameters.  state0/state1 are
     * count-sized arrays zeroed at start: momentum buffer (sgd, lars), sum of
     * squares (adagrad), square_avg/acc_delta (adadelta), exp_avg/exp_avg_sq
     * (adam).  Unused ones may be NULL. */
    int (*opt_step)(tb_backend *b, const tb_opt_hyper *h, float *param, const float *grad, float *state0,
                    float *state1, size_t count);

    /* Sum of squares of `count` floats, for LARS trust ratios and gradient
     * norms; result on the host. */
    int (*sum_squares)(tb_backend *b, const float *x, size_t count, double *out_host);

    /* Optional (NULL: nothing to prepare).  Builds what the backend caches
     * per convolution shape (CUDA: the cuDNN algorithm choice, measured for
     * batch `train_batch` and from the heuristics for other batch sizes, and
     * the workspace they share; CPU: the oneDNN primitives) for each of the
     * n calls, so that the first epoch does none of it.  Calls it has
     * already prepared cost nothing; one it was not told about still works
     * as before, built on first use. */
    int (*prepare)(tb_backend *b, const tb_conv_call *calls, int n, int train_batch);

    /* Frees the backend and everything it cached. */
    void (*destroy)(tb_backend *b);
};

/* Creates the CPU backend with `threads` threads (0: all cores). */
tb_backend *tb_cpu_backend_create(int threads);
/* Convolution primitives the CPU backend has created so far (for tests:
 * none may appear after prepare()); 0 for other backends. */
long tb_cpu_conv_primitives_created(const tb_backend *b);

/* Frees a workspace with the backend that grew it. */
static inline void tb_workspace_free(tb_backend *b, tb_workspace *ws)
{
    if (ws->ptr)
        b->release(b, ws->ptr);
    ws->ptr = NULL;
    ws->bytes = 0;
}

#endif
