/* SPDX-License-Identifier: MIT */
/*
 * Seeded random streams: rng_below() must draw exactly the values of the
 * plain rejection loop it replaces (recorded schedules and workloads depend
 * on them), for bounds that take each of its paths: powers of two, other
 * bounds, and bounds near 2^64 where draws are rejected often; and so
 * must rng_below_bound(), the bound worked out once.
 */
#include <glib.h>
#include "system/rng.h"

/* rng_below() as it was first written: the reference for every draw. */
static uint64_t ref_below(Rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;

    do {
        v = rng_next(r);
    } while (v >= limit);
    return v % n;
}

static void test_below_matches_reference(void)
{
    static const uint64_t bounds[] = {
        1,
        2,
        3,
        7,
        100,
        4096,
        65536,
        65537,
        1ULL << 32,
        (1ULL << 32) + 1,
        1ULL << 62,
        (1ULL << 62) * 3,
        1ULL << 63,
        (1ULL << 63) + 1, /* about half of all draws are rejected */
        UINT64_MAX - 1,
        UINT64_MAX,
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bounds); i++) {
        uint64_t n = bounds[i];
        RngBound bound = rng_bound(n);
        Rng a, b, c;

        rng_seed(&a, 5, i);
        rng_seed(&b, 5, i);
        rng_seed(&c, 5, i);
        for (unsigned k = 0; k < 20000; k++) {
            uint64_t got = rng_below(&a, n);
            uint64_t want = ref_below(&b, n);

            g_assert_cmpuint(got, ==, want);
            g_assert_cmpuint(got, <, n);
            /* The bound made once: the same values, rejections too
             * (2^62 and 2^63 reject a quarter and half of the draws). */
            g_assert_cmpuint(rng_below_bound(&c, &bound), ==, want);
        }
        /* Same number of draws taken: the streams stay in step. */
        g_assert_cmpmem(a.s, sizeof(a.s), b.s, sizeof(b.s));
        g_assert_cmpmem(c.s, sizeof(c.s), b.s, sizeof(b.s));
    }
}

/* A bound that changes from draw to draw (a workload picks a slot, then
 * read or write), a fifth of them near 2^63 so that rejections happen in
 * between. */
static void test_below_mixed_bounds(void)
{
    Rng a, b;

    rng_seed(&a, 3, 0x5c4ed);
    rng_seed(&b, 3, 0x5c4ed);
    for (uint64_t k = 1; k < 50000; k++) {
        uint64_t n = k % 5 == 0 ? (1ULL << 63) + k : k * 2654435761ULL;

        g_assert_cmpuint(rng_below(&a, n), ==, ref_below(&b, n));
    }
    g_assert_cmpmem(a.s, sizeof(a.s), b.s, sizeof(b.s));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rng/below-matches-reference",
                    test_below_matches_reference);
    g_test_add_func("/rng/below-mixed-bounds", test_below_mixed_bounds);
    return g_test_run();
}
