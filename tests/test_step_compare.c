/* The GPU whole-step comparison (tests/step_compare.c) in CI, with a second
 * CPU backend standing in for the GPU: the same test code, the candidate
 * backend swapped.  Suite 'fast'.
 *
 * fp32: reference 2 threads, native (blocked) layouts; candidate 1 thread,
 * plain NCHW layouts (other primitives and reorders, another split of the
 * weight-gradient reductions), so the two differ in summation order.
 * bf16: reference oneDNN's bf16 primitives where this processor has them
 * (else the emulation), 2 threads, native layouts; candidate the emulation
 * (bf16-rounded operands, fp32 primitives), 1 thread, plain layouts.  Where
 * the processor has no bf16 kernels both are the emulation, still with
 * different thread counts and layouts.  The output says which.
 *
 * Then the bounds are shown not to be vacuous: the test's own emulation
 * done right must pass them, and broken ones (truncation instead of
 * round-to-nearest, weights unrounded, no rounding at all) must fail them.
 *
 * Usage: test_step_compare [-v] [MODEL]  (-v prints every comparison;
 * MODEL defaults to resnet18-cifar:w8). */
#include "core/error.h" // uses: tb_last_error
#include "engine/bf16.h" // uses: tb_bf16_bits, tb_bf16_round
#include "engine/cpu/cpu_backend.h" // uses: tb_cpu_bf16_impl, tb_cpu_backend_create_prec, TB_CPU_BF16_AUTO, ...
#include "tests/check.h" // uses: CHECK, check_finish
#include "tests/step_compare.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *MODEL = "resnet18-cifar:w8";
enum { BATCH = 32 };

static tb_backend *make(int threads, const char *prec, tb_cpu_bf16_impl impl, int plain)
{
    tb_backend *b = tb_cpu_backend_create_prec(threads, prec, impl);
    if (!b) {
        fprintf(stderr, "tb_cpu_backend_create_prec: %s\n", tb_last_error());
        exit(1);
    }
    if (plain)
        b->native_layout = TB_LAYOUT_PLAIN;
    return b;
}

/* engine/bf16.h, which the emulation and the wrong candidates round with:
 * nearest, ties to even, carries, overflow, NaN (tests/test_gpu_ops.c checks
 * the device's conversion against it). */
static void test_rounding(void)
{
    static const struct {
        uint32_t in;
        uint16_t out;
    } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* tie, even below */
        {0x3f818000u, 0x3f82}, /* tie, odd below: up */
        {0x3f808001u, 0x3f81}, /* just over the tie */
        {0x3fffffffu, 0x4000}, /* carries into the exponent */
        {0xbf808001u, 0xbf81}, /* sign kept */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to infinity */
        {0x7f800000u, 0x7f80}, /* infinity */
        {0x00008000u, 0x0000}, /* subnormal tie to even (zero) */
        {0x00018000u, 0x0002}, /* subnormal tie, odd below: up */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f;
        memcpy(&f, &cases[i].in, sizeof f);
        CHECK(tb_bf16_bits(f) == cases[i].out, "bf16 of 0x%08x: 0x%04x, want 0x%04x", cases[i].in, tb_bf16_bits(f),
              cases[i].out);
    }
    float nan = NAN;
    CHECK(isnan(tb_bf16_round(nan)) && isnan(tb_bf16_round(-nan)), "NaN must stay NaN");
    uint32_t snan = 0x7f800001u; /* a NaN whose payload is all in the low half */
    float s;
    memcpy(&s, &snan, sizeof s);
    CHECK(isnan(tb_bf16_round(s)), "a NaN with a low payload must not become infinity");
}

static void report(const char *what, const step_result *r)
{
    printf("%-70s %d/%d over, worst %s\n", what, r->over, r->count, r->worst);
}

int main(int argc, char **argv)
{
    int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    if (argc > 1 + verbose)
        MODEL = argv[1 + verbose];
    test_rounding();

    tb_backend *ref = make(2, "fp32", TB_CPU_BF16_AUTO, 0), *cand = make(1, "fp32", TB_CPU_BF16_AUTO, 1);
    tb_backend *twin = make(2, "bf16", TB_CPU_BF16_AUTO, 0); /* the sensitivities (step_compare.c) */
    step_result r = step_compare(ref, cand, twin, "fp32", MODEL, BATCH, "[fp32]", verbose);
    report("[fp32] cpu 2 threads native vs cpu 1 thread plain", &r);
    CHECK(r.over == 0 && r.count > 0, "fp32 step: %d of %d comparisons over their bounds; worst %s", r.over, r.count,
          r.worst);
    cand->destroy(cand);
    ref->destroy(ref);
    twin->destroy(twin);

    /* bf16: oneDNN's kernels for the reference where there are any */
    ref = make(2, "bf16", TB_CPU_BF16_AUTO, 0);
    tb_backend *ref32 = make(2, "fp32", TB_CPU_BF16_AUTO, 0);
    cand = make(1, "bf16", TB_CPU_BF16_EMULATE, 1);
    r = step_compare(ref, cand, ref32, "bf16", MODEL, BATCH, "[bf16]", verbose);
    char what[200];
    snprintf(what, sizeof what, "[bf16] cpu 2 threads native %s vs cpu 1 thread plain %s", tb_cpu_bf16_math(ref),
             tb_cpu_bf16_math(cand));
    report(what, &r);
    CHECK(r.over == 0 && r.count > 0, "bf16 step: %d of %d comparisons over their bounds; worst %s", r.over, r.count,
          r.worst);
    CHECK(strcmp(tb_cpu_bf16_math(cand), TB_CPU_BF16_MATH_EMULATED) == 0, "forced emulation reports '%s'",
          tb_cpu_bf16_math(cand));
    cand->destroy(cand);

    /* the bounds are not vacuous: wrong candidates fail them, a right one passes */
    tb_backend *base = make(1, "fp32", TB_CPU_BF16_AUTO, 1);
    for (int how = STEP_WRONG_NONE; how <= STEP_WRONG_FP32; how++) {
        tb_backend *w = step_wrong_backend(base, (step_wrong)how);
        char label[64];
        snprintf(label, sizeof label, "[bf16 wrong %d]", how);
        r = step_compare(ref, w, ref32, "bf16", MODEL, BATCH, label, verbose);
        snprintf(what, sizeof what, "[bf16] vs %s", step_wrong_name((step_wrong)how));
        report(what, &r);
        if (how == STEP_WRONG_NONE)
            CHECK(r.over == 0, "a correct emulation must pass the bf16 bounds; worst %s", r.worst);
        else
            CHECK(r.over > 0, "a wrong bf16 candidate (%s) must fail the bounds; worst %s",
                  step_wrong_name((step_wrong)how), r.worst);
        free(w);
    }
    base->destroy(base);
    ref32->destroy(ref32);
    ref->destroy(ref);
    return check_finish();
}
