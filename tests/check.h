/* A minimal test harness: CHECK records a failure and goes on, so one run
 * reports every broken assertion; tests end with `return check_finish();`.
 * Exit 77 tells meson a test was skipped. */
#ifndef TB_CHECK_H
#define TB_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                                                  \
    do {                                                                                                  \
        check_count++;                                                                                    \
        if (!(cond)) {                                                                                    \
            check_failures++;                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                                 \
            fputc('\n', stderr);                                                                          \
        }                                                                                                 \
    } while (0)

/* |got - want| <= tol * max(1, |want|)-style relative check with a message. */
#define CHECK_CLOSE(got, want, rtol, what)                                                                \
    do {                                                                                                  \
        double g_ = (double)(got), w_ = (double)(want);                                                   \
        double d_ = fabs(g_ - w_), s_ = fabs(w_) > 1.0 ? fabs(w_) : 1.0;                                   \
        CHECK(d_ <= (rtol) * s_, "%s: got %.9g want %.9g (rel err %.3g > %.3g)", what, g_, w_, d_ / s_,   \
              (double)(rtol));                                                                            \
    } while (0)

static inline int check_finish(void)
{
    if (check_failures)
        fprintf(stderr, "%d of %d checks failed\n", check_failures, check_count);
    else
        printf("all %d checks passed\n", check_count);
    return check_failures ? 1 : 0;
}

#endif
