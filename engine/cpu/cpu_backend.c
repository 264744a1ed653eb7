/* The oneDNN CPU backend: creation, host memory, and the operation table. */
#include "core/error.h" // uses: tb_fail, tb_calloc, tb_fail_prefix
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_alloc, tb_cpu_release, tb_cpu_check, tb_cpu_of, tb_cpu, ...
#include "engine/cpu/cpu_optim.h" // uses: tb_cpu_opt_step, tb_cpu_sum_squares

#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *tb_cpu_alloc(tb_backend *b, size_t bytes, const char *what)
{
    (void)b;
    /* aligned_alloc wants a multiple of the alignment; 64 suits AVX-512 loads. */
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = bytes > SIZE_MAX - 63 ? NULL : aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        tb_fail("out of memory allocating %zu bytes for %s; try a smaller --batch-size or model width", bytes,
                what);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void tb_cpu_release(tb_backend *b, void *ptr)
{
    (void)b;
    free(ptr);
}

static int cpu_memcpy(tb_backend *b, void *dst, const void *src, size_t bytes)
{
    (void)b;
    memcpy(dst, src, bytes);
    return 0;
}

static int cpu_synchronize(tb_backend *b)
{
    return tb_cpu_check(dnnl_stream_wait(tb_cpu_of(b)->stream), "dnnl_stream_wait");
}

static void cpu_destroy(tb_backend *b)
{
    if (!b)
        return;
    tb_cpu *c = tb_cpu_of(b);
    if (c) {
        tb_cpu_cache_free(c);
        free(c->arena);
        for (int i = 0; i < 3; i++)
            free(c->bf16_buf[i]);
        dnnl_primitive_attr_destroy(c->attr);
        dnnl_stream_destroy(c->stream);
        dnnl_engine_destroy(c->engine);
        free(c);
    }
    free(b);
}

static int cpu_init(tb_cpu *c)
{
    if (tb_cpu_check(dnnl_engine_create(&c->engine, dnnl_cpu, 0), "dnnl_engine_create") ||
        tb_cpu_check(dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags), "dnnl_stream_create") ||
        tb_cpu_check(dnnl_primitive_attr_create(&c->attr), "dnnl_primitive_attr_create") ||
        tb_cpu_check(dnnl_primitive_attr_set_scratchpad_mode(c->attr, dnnl_scratchpad_mode_user),
                     "dnnl_primitive_attr_set_scratchpad_mode"))
        return -1;
    c->arena_gen = 1; /* entries start at 0, so their first run points them into the arena */
    const dnnl_version_t *v = dnnl_version();
    snprintf(c->name, sizeof c->name, "cpu (oneDNN %d.%d.%d)", v->major, v->minor, v->patch);
    return 0;
}

static void set_ops(tb_backend *b)
{
    b->alloc = tb_cpu_alloc;
    b->release = tb_cpu_release;
    b->upload = cpu_memcpy;
    b->download = cpu_memcpy;
    b->copy = cpu_memcpy;
    b->synchronize = cpu_synchronize;
    b->convert = tb_cpu_convert;
    b->conv_fwd = tb_cpu_conv_fwd;
    b->conv_bwd_data = tb_cpu_conv_bwd_data;
    b->conv_bwd_weights = tb_cpu_conv_bwd_weights;
    b->bn_fwd_train = tb_cpu_bn_fwd_train;
    b->bn_fwd_infer = tb_cpu_bn_fwd_infer;
    b->bn_bwd = tb_cpu_bn_bwd;
    b->relu_fwd = tb_cpu_relu_fwd;
    b->relu_bwd = tb_cpu_relu_bwd;
    b->add = tb_cpu_add;
    b->pool_fwd = tb_cpu_pool_fwd;
    b->pool_bwd = tb_cpu_pool_bwd;
    b->fc_fwd = tb_cpu_fc_fwd;
    b->fc_bwd = tb_cpu_fc_bwd;
    b->softmax_xent = tb_cpu_softmax_xent;
    b->opt_step = tb_cpu_opt_step;
    b->sum_squares = tb_cpu_sum_squares;
    b->prepare = tb_cpu_prepare;
    b->destroy = cpu_destroy;
}

long tb_cpu_conv_primitives_created(const tb_backend *b)
{
    return b && b->kind == TB_DEVICE_CPU ? ((const tb_cpu *)b->impl)->conv_created : 0;
}

tb_backend *tb_cpu_backend_create(int threads)
{
    if (threads < 0) {
        tb_fail("cpu backend: %d threads requested; pass a positive count, or 0 for all cores", threads);
        return NULL;
    }
    /* oneDNN's OpenMP runtime runs on as many threads as OpenMP's default. */
    omp_set_num_threads(threads ? threads : omp_get_num_procs());
    tb_backend *b = tb_calloc(1, sizeof *b, "the cpu backend");
    tb_cpu *c = b ? tb_calloc(1, sizeof *c, "the cpu backend") : NULL;
    if (!c) {
        free(b);
        return NULL;
    }
    b->impl = c;
    b->kind = TB_DEVICE_CPU;
    b->native_layout = TB_LAYOUT_NATIVE; /* blocked activations between layers: no reorders around each call */
    set_ops(b);
    if (cpu_init(c)) {
        tb_fail_prefix("cpu backend: cannot initialise oneDNN");
        cpu_destroy(b);
        return NULL;
    }
    b->name = c->name;
    return b;
}

tb_backend *tb_cpu_backend_create_prec(int threads, const char *precision, tb_cpu_bf16_impl impl)
{
    int bf16 = precision && strcmp(precision, "bf16") == 0;
    if (!bf16 && (!precision || strcmp(precision, "fp32") != 0)) {
        tb_fail("cpu backend: precision %s: the CPU backend computes in fp32 or bf16; use --precision fp32, "
                "bf16, or --device cuda",
                precision ? precision : "(none)");
        return NULL;
    }
    const char *env = getenv("TB_CPU_BF16");
    if (bf16 && impl == TB_CPU_BF16_AUTO && env && *env) {
        if (strcmp(env, "emulate") == 0)
            impl = TB_CPU_BF16_EMULATE;
        else if (strcmp(env, "onednn") == 0)
            impl = TB_CPU_BF16_ONEDNN;
        else {
            tb_fail("TB_CPU_BF16=%.40s: expected emulate or onednn (or unset it to let the backend choose)", env);
            return NULL;
        }
    }
    tb_backend *b = tb_cpu_backend_create(threads);
    if (b) {
        tb_cpu_of(b)->bf16 = bf16;
        tb_cpu_of(b)->bf16_impl = (int)impl;
    }
    return b;
}

const char *tb_cpu_bf16_math(tb_backend *b)
{
    tb_cpu *c = b && b->kind == TB_DEVICE_CPU ? tb_cpu_of(b) : NULL;
    if (!c || !c->bf16)
        return NULL;
    if (!c->bf16_native && !c->bf16_emulated)
        return "none yet";
    if (!c->bf16_emulated)
        return TB_CPU_BF16_MATH_ONEDNN;
    if (!c->bf16_native)
        return TB_CPU_BF16_MATH_EMULATED;
    snprintf(c->bf16_math, sizeof c->bf16_math, "mixed (%u convolution primitives onednn-bf16, %u emulated)",
             c->bf16_native, c->bf16_emulated);
    return c->bf16_math;
}
