#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void tb_rng_seed(tb_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    /* Mix the indices in one at a time so (seed, 1, 0) and (seed, 0, 1) differ. */
    uint64_t x = seed;
    uint64_t k = splitmix64(&x) ^ a;
    k = splitmix64(&k) ^ b;
    k = splitmix64(&k) ^ c;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&k);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tb_rng_next(tb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tb_rng_uniform(tb_rng *r) { return (double)(tb_rng_next(r) >> 11) * 0x1.0p-53; }

uint32_t tb_rng_below(tb_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift; the tiny bias is irrelevant at our n. */
    return (uint32_t)(((tb_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

double tb_rng_normal(tb_rng *r)
{
    double u1 = tb_rng_uniform(r), u2 = tb_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void tb_rng_shuffle(tb_rng *r, int32_t *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tb_rng_below(r, (uint32_t)(i + 1));
        int32_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}
