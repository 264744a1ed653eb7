/* ResNet models built from a compact description and run on any backend.
 *
 * A model is a stem, stages of residual blocks (BasicBlock or Bottleneck in
 * torchvision's v1.5 layout: stride on the 3x3 convolution), a global average
 * pool and a linear classifier.  Parameters carry PyTorch's state_dict names
 * ("layer1.0.conv1.weight") so weights can be exchanged with PyTorch. */
#ifndef TB_MODEL_H
#define TB_MODEL_H

#include "engine/backend.h" // uses: tb_shape, tb_backend, tb_tensor
#include "spec/model_spec.h" // uses: tb_model_spec

#include <stdint.h>

typedef enum { TB_PARAM_CONV, TB_PARAM_BN_WEIGHT, TB_PARAM_BN_BIAS, TB_PARAM_FC_WEIGHT, TB_PARAM_FC_BIAS } tb_param_role;

/* One trainable tensor, with its gradient and optimizer state, in device memory. */
typedef struct {
    char name[64];
    tb_param_role role;
    int ndim;
    int dims[4];
    size_t count;
    float *data;
    float *grad;
    float *state[2]; /* optimizer state, allocated by the optimizer on first use */
} tb_param;

/* A non-trainable buffer (BN running statistics) with its state_dict name. */
typedef struct {
    char name[64];
    size_t count;
    float *data;
} tb_buffer;

/* Layer summary for `model info`. */
typedef struct {
    char name[48];
    char kind[16]; /* conv, bn, relu, maxpool, avgpool, fc, add */
    tb_shape out;  /* per image (n = 1) */
    size_t params;
    uint64_t macs; /* forward multiply-accumulates per image */
} tb_layer_info;

typedef struct {
    size_t params;    /* trainable parameters */
    size_t gradients; /* one gradient per trainable parameter */
    size_t buffers;   /* running statistics */
    int conv_layers;     /* main-path convolutions, as the paper and the lab count (ResNet-18: 17) */
    int shortcut_convs;  /* 1x1 projection shortcuts, counted apart */
    int bn_layers;
    int fc_layers;
    int fc_inputs;       /* input size of the final linear layer (ResNet-18: 512, the lab's Q2) */
    uint64_t macs_per_image;
    int layer_count;
    tb_layer_info *layers; /* malloc'd, layer_count entries */
} tb_model_info;

/* Describes a spec at a given input size without touching any device. */
int tb_model_describe(const tb_model_spec *spec, int height, int width, tb_model_info *out);
void tb_model_info_free(tb_model_info *info);

typedef struct tb_model tb_model;

/* Builds the model on a backend for inputs of max_batch x C x H x W,
 * allocating parameters, activations and gradients, and initialises the
 * weights from `seed` as PyTorch would (same distributions, not the same
 * random stream). */
tb_model *tb_model_create(tb_backend *b, const tb_model_spec *spec, int max_batch, int height, int width,
                          uint64_t seed);
void tb_model_destroy(tb_model *m);

const tb_model_spec *tb_model_get_spec(const tb_model *m);
int tb_model_param_count(const tb_model *m);
tb_param *tb_model_params(tb_model *m);
int tb_model_buffer_count(const tb_model *m);
tb_buffer *tb_model_buffers(tb_model *m);

/* The input tensor (max_batch sized, device memory) a caller fills before
 * forward, and the logits tensor forward fills: the last forward's n rows
 * (shape.n is n), so a loss or count over it never takes rows left from an
 * earlier, larger batch. */
tb_tensor *tb_model_input(tb_model *m);
const tb_tensor *tb_model_logits(const tb_model *m);

/* Forward pass over the first n images of the input.  training selects batch
 * statistics (and updates running statistics) or running statistics. */
int tb_model_forward(tb_model *m, int n, int training);
/* Backward pass from dlogits (filled by the loss), writing every parameter's
 * gradient. */
int tb_model_backward(tb_model *m, int n);
/* Called by tb_model_backward once parameter `param`'s gradient is written
 * (enqueued, on an asynchronous backend), so data-parallel training can start
 * reducing it while backward goes on; a non-zero return stops backward.
 * Parameters come roughly in reverse index order.  NULL removes the hook. */
typedef int (*tb_grad_hook)(void *ctx, int param);
void tb_model_set_grad_hook(tb_model *m, tb_grad_hook hook, void *ctx);
/* The gradient of the logits the loss writes before backward (the last forward's n rows). */
tb_tensor *tb_model_dlogits(tb_model *m);
/* Every parameter's gradient as one contiguous device array, in parameter
 * order (params[i].grad points into it). */
float *tb_model_grads(tb_model *m, size_t *count);

#endif
