/* Internals shared by the oneDNN CPU backend's files: the backend state, the
 * per-shape primitive cache and the helpers every operation uses.
 *
 * An operation builds a cache key from its kind, shapes and flags, looks it
 * up, and on a miss builds the primitive with tb_cpu_prim_build(), naming
 * each execution argument with the plain layout the interface uses.  Where
 * oneDNN chose another layout for an argument (format_tag_any), the entry
 * gets a reorder and a buffer for the chosen layout; tb_cpu_prim_run() then
 * reorders inputs in, executes, and reorders outputs back.  Those buffers and
 * every scratchpad live in one arena shared by all entries: operations run
 * one at a time, so they never hold it across calls, and steady-state steps
 * allocate nothing.
 *
 * The files mirror engine/cuda/ one for one, and an operation has the same
 * name on both sides but for the prefix (tb_cpu_fc_fwd in cpu_fc.c,
 * tb_cuda_fc_fwd in cuda_fc.c): cpu_backend.c (creation, memory, the
 * operation table), cpu_layout.c, cpu_conv.c, cpu_bn.c, cpu_eltwise.c,
 * cpu_pool.c, cpu_fc.c, cpu_loss.c, cpu_optim.c, cpu_prepare.c.  Checks both sides make
 * are in engine/backend_check.c.
 *
 * No twin: cpu_prim.c, because oneDNN needs the primitive cache and the
 * reorders above while cuDNN and cuBLAS take plain pointers (the nearest
 * thing is cuda_conv.c's algorithm cache); cpu_bn_stats.c, because the CPU
 * computes batch-norm statistics itself in double, where cuDNN does it in
 * one call; cpu_optim.h, which declares the optimizer apart from oneDNN's
 * headers so tests/test_optim.c can call it without them. */
#ifndef TB_CPU_INTERNAL_H
#define TB_CPU_INTERNAL_H

#include "engine/backend.h" // uses: tb_backend, tb_shape, tb_tensor, tb_conv_desc, tb_bn_desc, tb_workspace, ...
#include "engine/backend_check.h" // for every op file: the shape checks both backends share

#include <oneapi/dnnl/dnnl.h>

enum {
    TB_CPU_MAX_ARGS = 10, /* execution arguments of one primitive */
    TB_CPU_KEY_INTS = 15, /* shape and flag slots of a cache key */
};

typedef enum {
    TB_OP_CONV_FWD = 1,
    TB_OP_CONV_BWD_DATA,
    TB_OP_CONV_BWD_WEIGHTS,
    TB_OP_BN_TRAIN,
    TB_OP_BN_INFER,
    TB_OP_BN_BWD,
    TB_OP_RELU_FWD,
    TB_OP_RELU_BWD,
    TB_OP_ADD,
    TB_OP_POOL_FWD,
    TB_OP_POOL_BWD,
    TB_OP_FC_FWD,
    TB_OP_FC_BWD_DATA,
    TB_OP_FC_BWD_WEIGHTS,
    TB_OP_CONVERT,
} tb_cpu_op;

/* Zero-initialise, then fill: the whole struct is hashed and memcmp'd. */
typedef struct {
    int op;
    int v[TB_CPU_KEY_INTS];
} tb_cpu_key;

/* One execution argument of a primitive: which interface tensor ("role",
 * an index the operation defines) it is, and whether the primitive writes it. */
typedef struct {
    int arg; /* DNNL_ARG_SRC, ... */
    int role;
    int output;
} tb_cpu_arg_spec;

/* A memory object whose storage is at `offset` in the shared arena. */
typedef struct {
    dnnl_memory_t mem;
    size_t offset;
} tb_cpu_arena_mem;

typedef struct {
    int arg, role, output;
    dnnl_memory_t user;       /* caller's buffer, handle set on every run */
    dnnl_memory_t inner;      /* primitive's layout when it differs, else NULL */
    dnnl_primitive_t reorder; /* user -> inner for inputs, inner -> user for outputs */
    dnnl_memory_t reorder_scratch;
} tb_cpu_arg;

typedef struct tb_cpu_prim {
    tb_cpu_key key;
    struct tb_cpu_prim *next;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t scratch; /* its scratchpad, or NULL */
    int nargs;
    tb_cpu_arg args[TB_CPU_MAX_ARGS];
    int nexec;
    dnnl_exec_arg_t exec[TB_CPU_MAX_ARGS + 1]; /* + scratchpad */
    int narena;
    tb_cpu_arena_mem arena[2 * TB_CPU_MAX_ARGS + 1];
    size_t arena_bytes;
    unsigned arena_gen; /* arena generation the handles above point into */
    int bf16_emulated;  /* bf16 backend: an fp32 primitive between roundings (cpu_conv.c) */
} tb_cpu_prim;

typedef struct {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr; /* user-managed scratchpad, for every primitive */
    tb_cpu_prim **buckets;
    size_t nbuckets, count;
    void *arena;
    size_t arena_bytes;
    unsigned arena_gen;
    long conv_created; /* convolution primitives built (tb_cpu_conv_primitives_created) */
    char name[48];
    /* --precision bf16 (cpu_backend.h): the implementation asked for, how
     * many convolution primitives use each, and the emulation's buffers for
     * the rounded inputs (indexed by the convolution's role). */
    int bf16;
    int bf16_impl; /* tb_cpu_bf16_impl */
    unsigned bf16_native, bf16_emulated;
    float *bf16_buf[3];
    size_t bf16_cap[3];
    char bf16_math[96];
} tb_cpu;

static inline tb_cpu *tb_cpu_of(tb_backend *b) { return (tb_cpu *)b->impl; }

/* 0 on success, else -1 after tb_fail naming `call` and dnnl's status. */
int tb_cpu_check(dnnl_status_t st, const char *call);

/* Host memory: 64-byte aligned and zeroed. */
void *tb_cpu_alloc(tb_backend *b, size_t bytes, const char *what);
void tb_cpu_release(tb_backend *b, void *ptr);

/* fp32 memory descriptors; tag is a plain layout or dnnl_format_tag_any. */
int tb_cpu_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag);
int tb_cpu_md_nchw(dnnl_memory_desc_t *md, tb_shape s, dnnl_format_tag_t tag);
int tb_cpu_md_1d(dnnl_memory_desc_t *md, dnnl_dim_t n);

/* Layouts (cpu_layout.c).  The native layout of a shape: oneDNN's
 * channel-blocked nChw16c where 16 divides C, nChw8c where 8 does, else
 * plain; never padded, so it takes the plain layout's bytes. */
dnnl_format_tag_t tb_cpu_native_tag(int channels);
/* The oneDNN tag of a tensor's layout (dnnl_format_tag_undef after tb_fail
 * for a layout this backend does not know). */
dnnl_format_tag_t tb_cpu_tag(const tb_tensor *t);
/* A tensor's memory descriptor: its shape in its layout. */
int tb_cpu_md_tensor(dnnl_memory_desc_t *md, const tb_tensor *t);
/* 0 when t is NULL or its memory is NCHW, else -1 after tb_fail naming op. */
int tb_cpu_require_plain(const char *op, const char *name, const tb_tensor *t);
int tb_cpu_convert(tb_backend *b, const tb_tensor *src, tb_tensor *dst);

/* A primitive descriptor for op_desc (hint: the forward one, for backward
 * descriptors; attr NULL: the backend's).  Used for hints, and by build. */
int tb_cpu_pd_create(tb_cpu *c, const void *op_desc, const_dnnl_primitive_attr_t attr,
                     const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd);

/* The cache. */
tb_cpu_prim *tb_cpu_find(tb_cpu *c, const tb_cpu_key *key);
/* Builds the primitive for op_desc with the arguments in `specs` and caches
 * it under key.  user_mds[role] is the layout of the caller's buffer for that
 * role, NULL for "whatever the primitive wants" (workspaces, statistics).
 * NULL after tb_fail. */
tb_cpu_prim *tb_cpu_prim_build(tb_cpu *c, const tb_cpu_key *key, const void *op_desc,
                               const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                               const tb_cpu_arg_spec *specs, int nspecs, const dnnl_memory_desc_t *const *user_mds);
/* The same for a primitive descriptor made elsewhere (a reorder's); takes
 * ownership of pd, also on failure. */
tb_cpu_prim *tb_cpu_prim_build_pd(tb_cpu *c, const tb_cpu_key *key, dnnl_primitive_desc_t pd,
                                  const tb_cpu_arg_spec *specs, int nspecs, const dnnl_memory_desc_t *const *user_mds);
/* Executes with the caller's buffers, indexed by role. */
int tb_cpu_prim_run(tb_cpu *c, tb_cpu_prim *p, void *const *by_role);
/* Bytes of the memory the primitive wants for arg (its workspace, ...). */
size_t tb_cpu_prim_arg_bytes(const tb_cpu_prim *p, int arg);
void tb_cpu_cache_free(tb_cpu *c);

/* The operations, one family a file. */
int tb_cpu_conv_fwd(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w, tb_tensor *y);
int tb_cpu_conv_bwd_data(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w,
                         tb_tensor *dx);
int tb_cpu_conv_bwd_weights(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *dy,
                            float *dw);

int tb_cpu_bn_fwd_train(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                        const float *beta, float *running_mean, float *running_var, float *saved, tb_tensor *y,
                        int relu, tb_workspace *ws);
int tb_cpu_bn_fwd_infer(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const float *gamma,
                        const float *beta, const float *running_mean, const float *running_var, tb_tensor *y,
                        int relu);
int tb_cpu_bn_bwd(tb_backend *b, const tb_bn_desc *d, const tb_tensor *x, const tb_tensor *dy,
                  const float *gamma, const float *saved, const tb_tensor *y, int relu, tb_workspace *ws,
                  tb_tensor *dx, float *dgamma, float *dbeta);

/* Batch-norm reductions in double (cpu_bn_stats.c), for blocked and plain
 * tensors: per-channel batch mean and biased variance of x; and backward,
 * with dy masked where y <= 0 when y is given, writing dx (may alias dy),
 * dgamma and dbeta.  dy, dx and y in x's layout.  And the normalisation of a
 * plain x into y (may be x), ReLU fused. */
int tb_cpu_bn_batch_stats(const tb_tensor *x, float *mean, float *var);
int tb_cpu_bn_backward(const tb_tensor *x, const tb_tensor *dy, const tb_tensor *y, const float *gamma,
                       const float *mean, const float *var, float eps, tb_tensor *dx, float *dgamma, float *dbeta);
int tb_cpu_bn_normalize_plain(const tb_tensor *x, const float *gamma, const float *beta, const float *mean,
                              const float *var, float eps, int relu, tb_tensor *y);

int tb_cpu_relu_fwd(tb_backend *b, const tb_tensor *x, tb_tensor *y);
int tb_cpu_relu_bwd(tb_backend *b, const tb_tensor *y, const tb_tensor *dy, tb_tensor *dx);
int tb_cpu_add(tb_backend *b, const tb_tensor *a, const tb_tensor *c, tb_tensor *y, int relu);

int tb_cpu_pool_fwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, tb_tensor *y, tb_workspace *ws);
int tb_cpu_pool_bwd(tb_backend *b, const tb_pool_desc *d, const tb_tensor *x, const tb_tensor *dy,
                    tb_workspace *ws, tb_tensor *dx);

int tb_cpu_fc_fwd(tb_backend *b, const tb_tensor *x, const float *w, const float *bias, tb_tensor *y);
int tb_cpu_fc_bwd(tb_backend *b, const tb_tensor *x, const tb_tensor *dy, const float *w, tb_tensor *dx,
                  float *dw, float *dbias);

int tb_cpu_softmax_xent(tb_backend *b, const tb_tensor *logits, const int32_t *labels, float grad_scale,
                        tb_tensor *dlogits, double *loss_sum_host);

/* backend.h's prepare() (cpu_prepare.c): builds the convolution primitives. */
int tb_cpu_prepare(tb_backend *b, const tb_conv_call *calls, int n, int train_batch);

/* The optimizer (cpu_optim.c) is declared in cpu_optim.h. */

#endif
