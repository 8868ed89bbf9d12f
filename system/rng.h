/* SPDX-License-Identifier: MIT */
/*
 * Seeded pseudo-random numbers (xoshiro256**, seeded through splitmix64).
 * The only source of choice in the machine: every stream derives from the
 * -machine seed, so the same seed gives the same run.
 */
#ifndef SYSTEM_RNG_H
#define SYSTEM_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Inline, as rng_below() is drawn on every I/O of a random workload. */
static inline uint64_t rng_next(Rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return result;
}

/* rng_below() for a @v drawn at or above 2^64 - @n. */
uint64_t rng_below_slow(Rng *r, uint64_t n, uint64_t v);

/*
 * rng_below() of a drawn @v: uniform in [0, n); n > 0. Draws are
 * rejected at or above UINT64_MAX - UINT64_MAX % n, which is never below
 * 2^64 - n: a draw under that (all but a fraction n / 2^64 of them) needs
 * no division to know it stands, and a power of two (an image's slot
 * count, usually) none to reduce it. The values are those of the plain
 * rejection loop.
 */
static inline uint64_t rng_reduce(Rng *r, uint64_t n, uint64_t v)
{
    if (__builtin_expect(v >= 0 - n, 0)) {
        return rng_below_slow(r, n, v);
    }
    if ((n & (n - 1)) == 0) {
        return v & (n - 1);
    }
    return v % n;
}

static inline uint64_t rng_below(Rng *r, uint64_t n)
{
    return rng_reduce(r, n, rng_next(r));
}

/*
 * A bound drawn below many times (an image's slot count, per I/O): the
 * tests of rng_below() made once. @fast is 2^64 - @n for a power of two,
 * under which a draw stands and is reduced by a mask; else 0, and every
 * draw takes rng_below()'s way.
 */
typedef struct RngBound {
    uint64_t n;
    uint64_t fast;
    uint64_t mask;
} RngBound;

static inline RngBound rng_bound(uint64_t n)
{
    bool pow2 = (n & (n - 1)) == 0;

    return (RngBound){.n = n, .fast = pow2 ? 0 - n : 0, .mask = n - 1};
}

/* rng_below(@r, @b->n), the same values. */
static inline uint64_t rng_below_bound(Rng *r, const RngBound *b)
{
    uint64_t v = rng_next(r);

    if (__builtin_expect(v < b->fast, 1)) {
        return v & b->mask;
    }
    return rng_reduce(r, b->n, v);
}
/* True with probability p (0..1). */
int rng_chance(Rng *r, double p);

#endif
