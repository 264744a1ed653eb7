/* Seeded random numbers: splitmix64 to derive independent streams from a seed
 * and a few indices, xoshiro256** for the stream itself.  Everything random in
 * trainbench (initial weights, shuffles, augmentation, synthetic data) comes
 * from here, so a seed reproduces a run. */
#ifndef TB_RNG_H
#define TB_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} tb_rng;

/* A stream determined by a seed and up to three indices (epoch, batch, ...). */
void tb_rng_seed(tb_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t tb_rng_next(tb_rng *r);
/* Uniform in [0, 1). */
double tb_rng_uniform(tb_rng *r);
/* Uniform integer in [0, n). */
uint32_t tb_rng_below(tb_rng *r, uint32_t n);
/* Standard normal (Box-Muller). */
double tb_rng_normal(tb_rng *r);
/* Fisher-Yates shuffle of n int32 values. */
void tb_rng_shuffle(tb_rng *r, int32_t *v, int n);

#endif
