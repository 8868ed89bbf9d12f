/* SPDX-License-Identifier: MIT */
/*
 * Seeded pseudo-random streams: xoshiro256** state filled by splitmix64
 * from (seed, stream), so independent users of the machine seed (the
 * scheduler, each fault) draw from separate streams and adding one user
 * does not shift the numbers another one sees.
 */
#include "system/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

uint64_t rng_below_slow(Rng *r, uint64_t n, uint64_t v)
{
    /* Rejection sampling keeps the distribution exact. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);

    while (v >= limit) {
        v = rng_next(r);
    }
    return v % n;
}

int rng_chance(Rng *r, double p)
{
    if (p <= 0.0) {
        return 0;
    }
    if (p >= 1.0) {
        return 1;
    }
    /* 53 random bits -> [0, 1) */
    double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return u < p;
}
