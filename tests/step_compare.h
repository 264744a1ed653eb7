/* One whole training step (forward, loss, backward, one optimizer step) of
 * a ResNet on two backends, compared quantity by quantity: the test code of
 * tests/test_gpu_ops.c (candidate: the CUDA backend) and of
 * tests/test_step_compare.c (candidate: a second CPU backend standing in
 * for the GPU).  The bounds and their derivation are in step_compare.c. */
#ifndef TB_TEST_STEP_COMPARE_H
#define TB_TEST_STEP_COMPARE_H

#include "engine/backend.h" // uses: tb_backend

typedef struct {
    int over;           /* comparisons over their bound (NaN counts) */
    int count;          /* comparisons made */
    double worst_ratio; /* the largest error / bound */
    char worst[240];    /* which one that was */
} step_result;

/* The step on ref and cand, both made with `precision` ("fp32" or "bf16"),
 * and on twin, the reference's backend in the other precision (the bounds
 * scale with how much bf16 rounding moves each quantity; step_compare.c),
 * with learnable class-patterned data (batch >= 32 images of 32x32x3, ten
 * classes).  Prints each comparison when verbose.  A setup failure (an
 * allocation, a backend call that fails) exits the process with a message. */
step_result step_compare(tb_backend *ref, tb_backend *cand, tb_backend *ref32, const char *precision,
                         const char *model, int batch, const char *label, int verbose);

/* Deliberately wrong bf16 candidates, for showing the bounds are not
 * vacuous: convolutions on base (an fp32 CPU backend) with the test's own
 * bf16 emulation, broken as asked.  The returned backend shares base's
 * memory and state; free it with free(), never destroy(). */
typedef enum {
    STEP_WRONG_NONE,     /* the emulation done right (a control: must pass) */
    STEP_WRONG_TRUNCATE, /* rounds toward zero instead of to nearest even */
    STEP_WRONG_SKIP_W,   /* leaves the weights unrounded */
    STEP_WRONG_FP32,     /* rounds nothing: an fp32 candidate for a bf16 reference */
} step_wrong;
tb_backend *step_wrong_backend(tb_backend *base, step_wrong how);
const char *step_wrong_name(step_wrong how);

#endif
