/* Checks every backend makes before it runs an operation (shapes,
 * workspaces), so a mistake in the model code gets the same message on the
 * CPU and the GPU; and the host-side arithmetic both optimizers share. */
#ifndef TB_SHAPE_CHECK_H
#define TB_SHAPE_CHECK_H

#include "engine/backend.h" // uses: tb_shape, tb_conv_desc, tb_pool_desc, tb_tensor, tb_backend, tb_workspace, ...

#define TB_SHAPE_FMT "%dx%dx%dx%d"
#define TB_SHAPE_ARG(s) (s).n, (s).c, (s).h, (s).w

int tb_same_shape(tb_shape a, tb_shape b);
/* tb_fail: `name` of `op` is `got` but must be `want`; returns -1. */
int tb_shape_mismatch(const char *op, const char *name, tb_shape got, tb_shape want);

/* The output shape of a convolution over x (h = w = 0 for a bad stride). */
tb_shape tb_conv_out_shape(const tb_conv_desc *d, tb_shape x);
/* Checks the descriptor, x's channels and y's shape. */
int tb_conv_validate(const char *op, const tb_conv_desc *d, tb_shape x, tb_shape y);
/* Checks the descriptor, that the window fits x, and y's shape. */
int tb_pool_validate(const char *op, const tb_pool_desc *d, tb_shape x, tb_shape y);

/* Batch norm: x positive in every dimension, `other` (NULL: nothing to
 * check) x's shape. */
int tb_bn_validate(const char *op, const tb_tensor *x, const tb_tensor *other, const char *other_name);
/* Element-wise (relu, add): out and b (NULL for a one-input operation) a's shape. */
int tb_eltwise_validate(const char *op, const tb_tensor *a, const tb_tensor *b, const tb_tensor *out);
/* Fully connected: x (flattened to [N][C*H*W]) positive in every dimension
 * and y N x out x 1 x 1, out > 0. */
int tb_fc_validate(const char *op, tb_shape x, tb_shape y);
/* Softmax cross-entropy: at least one sample and one class, and dlogits
 * (NULL when no gradient is wanted) the logits' shape. */
int tb_softmax_validate(const tb_tensor *logits, const tb_tensor *dlogits);
/* tb_fail: `label` of sample `sample` is not one of `classes`; returns -1. */
int tb_softmax_bad_label(int sample, int label, int classes);

/* Makes ws hold at least `bytes` of the backend's memory: grows it when
 * `grow` (a forward call), else fails (a backward call must find what its
 * forward call left). */
int tb_workspace_prepare(tb_backend *b, tb_workspace *ws, size_t bytes, int grow, const char *what);

/* State buffers an update rule keeps per parameter (backend.h's opt_step):
 * SGD, Nesterov and LARS one with momentum (PyTorch keeps none without),
 * Adagrad one, Adadelta and Adam two; -1 for an unknown kind. */
int tb_opt_state_buffers(tb_opt_kind kind, float momentum);
/* Checks an opt_step call's arguments; returns the number of state buffers
 * in use, or -1 after tb_fail. */
int tb_opt_check_step(const tb_opt_hyper *h, const float *param, const float *grad, const float *state0,
                      const float *state1);
/* The double the user most likely wrote for a hyper-parameter that reached
 * us as a float: the shortest decimal (up to 9 places) that rounds to x,
 * else x.  PyTorch computes 1 - 0.999 from the double 0.999; from 0.999f it
 * would be 1.3e-5 off relative, more than every other difference put
 * together.  Both backends' update rules take their scalars through it. */
double tb_opt_as_typed(float x);

#endif
