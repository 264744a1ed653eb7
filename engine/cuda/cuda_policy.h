/* The CUDA backend's host-side decisions as pure functions: which GPU a rank
 * takes, the convolution algorithm cache's key, whether a shape gets cuDNN's
 * measured search or its heuristics, and which algorithm of a ranked list to
 * keep, and the host-side scalars of an optimizer step.  No CUDA headers, so tests/test_cuda_host.c checks them on any
 * machine; cuda_backend.c and cuda_conv.c call them. */
#ifndef TB_CUDA_POLICY_H
#define TB_CUDA_POLICY_H

#include "engine/backend.h" // uses: tb_shape, tb_conv_desc, tb_opt_hyper, TB_OPT_SGD_NESTEROV, TB_OPT_LARS
#include "engine/backend_check.h" // uses: tb_opt_as_typed

#include <math.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The device of a rank: its local rank modulo the GPUs it sees, so ranks
 * bound to one GPU each (Slurm --gpus-per-task, CUDA_VISIBLE_DEVICES per
 * rank) all take their device 0 and ranks that see every GPU of the node
 * take one each.  -1 when there is no GPU or the rank is negative. */
static inline int tb_cuda_pick_device(int local_rank, int visible)
{
    if (visible < 1 || local_rank < 0)
        return -1;
    return local_rank % visible;
}

/* Cache key of one convolution: direction, precision, the input shape (the
 * batch included) and the filter geometry. */
enum { TB_CUDA_CONV_KEY = 10 };

static inline void tb_cuda_conv_key(int key[TB_CUDA_CONV_KEY], int dir, int prec, tb_shape xs, const tb_conv_desc *d)
{
    const int k[TB_CUDA_CONV_KEY] = {dir, prec, xs.n, xs.c, xs.h, xs.w, d->out_c, d->kernel, d->stride, d->pad};
    memcpy(key, k, sizeof k);
}

static inline int tb_cuda_conv_key_equal(const int a[TB_CUDA_CONV_KEY], const int b[TB_CUDA_CONV_KEY])
{
    return memcmp(a, b, TB_CUDA_CONV_KEY * sizeof *a) == 0;
}

/* How a new cache entry chooses its algorithm.  The measured search (every
 * algorithm timed, seconds with a large workspace) is worth it only for the
 * shapes that run every step: the first batch size the backend sees is the
 * training batch (the model's first step comes before any evaluation), and
 * it is remembered in *search_batch.  Other batch sizes (the last partial
 * batch, a different evaluation batch) take cuDNN's heuristics, which cost
 * microseconds, so a new size costs no search inside a timed epoch. */
typedef enum { TB_CUDA_ALGO_SEARCH, TB_CUDA_ALGO_HEURISTIC } tb_cuda_algo_how;

static inline tb_cuda_algo_how tb_cuda_conv_how(int *search_batch, int batch)
{
    if (*search_batch <= 0)
        *search_batch = batch;
    return batch == *search_batch ? TB_CUDA_ALGO_SEARCH : TB_CUDA_ALGO_HEURISTIC;
}

/* One row of cuDNN's ranked answer (search: fastest first; heuristics: most
 * likely fastest first).  ok: the status was success; fma: the math is FMA
 * only (no tensor ops); math: cuDNN's cudnnMathType_t, kept for the caller. */
typedef struct {
    int ok, algo, fma, math;
    float time;
    size_t memory;
} tb_cuda_algo_row;

/* The row to keep, or -1 when none qualifies: the first that ran and, with
 * fma_only (fp32, TF32 off), uses FMA math only, and whose workspace fits in
 * ws_limit bytes; when none fits, the first that qualifies otherwise.  The
 * search passes SIZE_MAX; the heuristic path the workspace already held, so
 * an odd batch does not grow it in the middle of an epoch. */
static inline int tb_cuda_pick_algo(const tb_cuda_algo_row *rows, int n, int fma_only, size_t ws_limit)
{
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (!rows[i].ok || (fma_only && !rows[i].fma))
            continue;
        if (first < 0)
            first = i;
        if (rows[i].memory <= ws_limit)
            return i;
    }
    return first;
}

/* The per-step scalars the optimizer kernels take (cuda_elements.h), worked
 * out on the host in double from the hyper-parameters as typed, as
 * engine/cpu/cpu_optim.c does: one copy for the backend and its test. */
typedef struct {
    float neg_lr;          /* SGD/Nesterov/LARS (LARS: lr x trust ratio), Adadelta: -lr */
    float keep, scale;     /* SGD momentum buffer: 0 and 1 on the first step, else m and 1 - dampening */
    float u_b, u_d;        /* SGD update: Nesterov uses m and 1, plain momentum 1 and 0 */
    float neg_clr;         /* Adagrad: -lr / (1 + (step - 1) lr_decay) */
    float cr;              /* Adadelta: 1 - rho */
    float c1, c2;          /* Adam: 1 - beta1, 1 - beta2 */
    float neg_step;        /* Adam: -lr / (1 - beta1^step) */
    float bc2_sqrt;        /* Adam: sqrt(1 - beta2^step) */
} tb_cuda_opt_scalars;

static inline tb_cuda_opt_scalars tb_cuda_opt_scalars_of(const tb_opt_hyper *h)
{
    tb_cuda_opt_scalars s = {0};
    const int nesterov = h->kind == TB_OPT_SGD_NESTEROV, first = h->step <= 1;
    s.neg_lr = -(h->kind == TB_OPT_LARS ? h->lr * h->trust_ratio : h->lr);
    s.keep = first ? 0.0f : h->momentum;
    s.scale = first ? 1.0f : (float)(1.0 - tb_opt_as_typed(h->dampening));
    s.u_b = nesterov ? h->momentum : 1.0f;
    s.u_d = nesterov ? 1.0f : 0.0f;
    s.neg_clr = (float)-(tb_opt_as_typed(h->lr) / (1.0 + (double)(h->step - 1) * tb_opt_as_typed(h->lr_decay)));
    s.cr = (float)(1.0 - tb_opt_as_typed(h->rho));
    const double b1 = tb_opt_as_typed(h->beta1), b2 = tb_opt_as_typed(h->beta2);
    s.c1 = (float)(1.0 - b1);
    s.c2 = (float)(1.0 - b2);
    s.neg_step = (float)-(tb_opt_as_typed(h->lr) / (1.0 - pow(b1, (double)h->step)));
    s.bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)h->step));
    return s;
}

#endif
