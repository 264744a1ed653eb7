/* fp32 -> bf16 rounding on the host: round to nearest, ties to even, NaN
 * kept a (quiet) NaN, overflow to infinity.  That is what the CUDA backend's
 * conversion kernels do on the device with __float2bfloat16_rn (cvt.rn.bf16
 * .f32), and what oneDNN's f32 -> bf16 reorders do, so the CPU backend's
 * emulated bf16 convolutions (engine/cpu/cpu_conv.c) and the tests round
 * every value exactly as the GPU does; tests/test_gpu_ops.c checks this
 * function against the device conversion bit for bit.
 *
 * Plain C11, no CUDA or oneDNN headers: engine/cpu/, engine/cuda/ and the
 * tests may all include it. */
#ifndef TB_BF16_H
#define TB_BF16_H

#include <stdint.h>
#include <string.h>

/* The bf16 bit pattern nearest to f (the top 16 bits of an fp32). */
static inline uint16_t tb_bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x0040u); /* NaN: keep sign and payload top, force quiet */
    u += 0x7fffu + ((u >> 16) & 1u);             /* ties to even; carries into the exponent as it should */
    return (uint16_t)(u >> 16);
}

static inline float tb_bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* f rounded to the nearest bf16 value, as an fp32. */
static inline float tb_bf16_round(float f) { return tb_bf16_to_float(tb_bf16_bits(f)); }

/* Rounds n floats in place. */
static inline void tb_bf16_round_n(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = tb_bf16_round(x[i]);
}

#endif
