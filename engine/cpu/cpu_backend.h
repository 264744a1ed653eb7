/* Creating the CPU backend with a precision (engine/backend.h declares the
 * plain fp32 tb_cpu_backend_create).  Apart from oneDNN's headers, like
 * engine/cuda/cuda_backend.h, so the trainer and tests include it alone.
 *
 * bf16 rounds at exactly the points where the CUDA backend does
 * (engine/cuda/cuda_conv.c): every convolution's inputs (x, w; dy in the
 * backward directions) are rounded to bf16, the sums run in fp32, and the
 * output (y, dx or dw) is rounded to bf16; everything else stays fp32.
 * Two implementations: oneDNN's bf16 convolution primitives where this
 * processor has them (AVX512_BF16, AMX), else the emulation: the operands
 * rounded to bf16 values in fp32 buffers (engine/bf16.h), the fp32
 * primitive, its output rounded.  Products of bf16 values are exact in
 * fp32, so the two differ only in summation order.  The choice is made per
 * primitive, and tb_cpu_bf16_math() says which were used. */
#ifndef TB_CPU_BACKEND_H
#define TB_CPU_BACKEND_H

#include "engine/backend.h" // uses: tb_backend

typedef enum {
    TB_CPU_BF16_AUTO = 0, /* oneDNN's bf16 primitive where it has one, else emulate; TB_CPU_BF16 may force */
    TB_CPU_BF16_ONEDNN,   /* oneDNN's bf16 primitives only: a convolution without one fails */
    TB_CPU_BF16_EMULATE,  /* always emulate */
} tb_cpu_bf16_impl;

/* precision "fp32" or "bf16" (anything else fails with a message).  With
 * TB_CPU_BF16_AUTO the environment variable TB_CPU_BF16=emulate|onednn
 * picks the implementation instead, so that a run or a test can be forced
 * onto either path.  fp32 is the same backend tb_cpu_backend_create makes. */
tb_backend *tb_cpu_backend_create_prec(int threads, const char *precision, tb_cpu_bf16_impl impl);

/* For result.json: NULL in fp32; in bf16 which implementation the
 * convolutions built so far use: TB_CPU_BF16_MATH_ONEDNN,
 * TB_CPU_BF16_MATH_EMULATED, or "mixed (...)" saying how many of each, or
 * "none yet" before the first convolution. */
const char *tb_cpu_bf16_math(tb_backend *b);

#define TB_CPU_BF16_MATH_ONEDNN "onednn-bf16"
#define TB_CPU_BF16_MATH_EMULATED "emulated (bf16-rounded operands, fp32 math)"

#endif
