/* SPDX-License-Identifier: MIT */
/*
 * Seeded pseudo-random numbers (xoshiro256**, seeded through splitmix64).
 * The only source of choice in the machine: every stream derives from the
 * -machine seed, so the same seed gives the same run.
 */
#ifndef SYSTEM_RNG_H
#define SYSTEM_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(Rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_below(Rng *r, uint64_t n);
/* True with probability p (0..1). */
int rng_chance(Rng *r, double p);

#endif
