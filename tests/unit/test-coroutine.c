/* SPDX-License-Identifier: MIT */
/* Coroutines: enter/yield round trips, private stacks, completion. */
#include <stdint.h>
#include <glib.h>
#include "system/coroutine.h"

typedef struct Counter {
    int steps;
    int limit;
    GString *log;
    char tag;
} Counter;

static void count_entry(void *opaque)
{
    Counter *c = opaque;
    volatile char big[8192]; /* lives on the coroutine stack */

    big[0] = c->tag;
    for (c->steps = 0; c->steps < c->limit; c->steps++) {
        g_string_append_c(c->log, big[0]);
        coroutine_yield();
    }
}

static void test_round_trips(void)
{
    GString *log = g_string_new(NULL);
    Counter c = {.limit = 5, .log = log, .tag = 'a'};
    Coroutine *co = coroutine_create(count_entry, &c, 64 * 1024);

    g_assert_null(coroutine_self());
    for (int i = 0; i < 5; i++) {
        coroutine_enter(co);
        g_assert_false(coroutine_finished(co));
        g_assert_cmpint(c.steps, ==, i);
    }
    coroutine_enter(co);
    g_assert_true(coroutine_finished(co));
    g_assert_cmpstr(log->str, ==, "aaaaa");
    coroutine_destroy(co);
    g_string_free(log, TRUE);
}

static void test_interleave(void)
{
    GString *log = g_string_new(NULL);
    Counter a = {.limit = 3, .log = log, .tag = 'a'};
    Counter b = {.limit = 3, .log = log, .tag = 'b'};
    Coroutine *ca = coroutine_create(count_entry, &a, 64 * 1024);
    Coroutine *cb = coroutine_create(count_entry, &b, 64 * 1024);

    while (!coroutine_finished(ca) || !coroutine_finished(cb)) {
        if (!coroutine_finished(ca)) {
            coroutine_enter(ca);
        }
        if (!coroutine_finished(cb)) {
            coroutine_enter(cb);
        }
    }
    g_assert_cmpstr(log->str, ==, "ababab");
    coroutine_destroy(ca);
    coroutine_destroy(cb);
    g_string_free(log, TRUE);
}

static void self_entry(void *opaque)
{
    *(Coroutine **)opaque = coroutine_self();
}

static void test_self(void)
{
    Coroutine *seen = NULL;
    Coroutine *co = coroutine_create(self_entry, &seen, 64 * 1024);

    coroutine_enter(co);
    g_assert_true(seen == co);
    g_assert_null(coroutine_self());
    coroutine_destroy(co);
}

static void test_many(void)
{
    enum { N = 200 };
    Coroutine *co[N];
    Counter c[N];
    GString *log = g_string_new(NULL);

    for (int i = 0; i < N; i++) {
        c[i] = (Counter){.limit = 2, .log = log, .tag = 'x'};
        co[i] = coroutine_create(count_entry, &c[i], 64 * 1024);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            if (!coroutine_finished(co[i])) {
                coroutine_enter(co[i]);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        g_assert_true(coroutine_finished(co[i]));
        coroutine_destroy(co[i]);
    }
    g_assert_cmpuint(log->len, ==, 2 * N);
    g_string_free(log, TRUE);
}

/* Values live across yields stay in callee-saved registers; the switch
 * must hand each coroutine back exactly its own. */
typedef struct Regs {
    uint64_t seed;
    uint64_t sum;
    double fsum;
    bool aligned;
    char printed[32];
} Regs;

static void __attribute__((noinline)) regs_entry(void *opaque)
{
    Regs *r = opaque;
    uint64_t a = r->seed, b = a * 3, c = a * 5, d = a * 7, e = a * 11;
    uint64_t f = a * 13;
    double x = (double)a / 4;

    /* A frame pointer here is 16-aligned only if the entry was called with
     * the stack the ABI promises (SSE spills and printf rely on it). */
    r->aligned = ((uintptr_t)__builtin_frame_address(0) & 15) == 0;
    for (int i = 0; i < 4; i++) {
        coroutine_yield();
        a += 1, b += 2, c += 3, d += 4, e += 5, f += 6;
        x += 0.5;
    }
    r->sum = a + b + c + d + e + f;
    r->fsum = x;
    g_snprintf(r->printed, sizeof(r->printed), "%.2f", x);
}

static void test_registers(void)
{
    Regs r[3] = {{.seed = 1}, {.seed = 100}, {.seed = 10000}};
    Coroutine *co[3];
    /* Live in the main context across every switch as well. */
    volatile uint64_t guard = 0x5a5a5a5a5a5a5a5aULL;
    uint64_t m = guard, n = m ^ 0xff, o = n + 7;

    for (int i = 0; i < 3; i++) {
        co[i] = coroutine_create(regs_entry, &r[i], 64 * 1024);
    }
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3; i++) {
            coroutine_enter(co[i]);
            m = m * 31 + (uint64_t)i, n ^= m, o += n;
        }
    }
    for (int i = 0; i < 3; i++) {
        uint64_t s = r[i].seed;
        g_assert_true(coroutine_finished(co[i]));
        g_assert_true(r[i].aligned);
        g_assert_cmpuint(r[i].sum, ==, s * (1 + 3 + 5 + 7 + 11 + 13) + 4 * 21);
        g_assert_cmpfloat(r[i].fsum, ==, (double)s / 4 + 2);
        coroutine_destroy(co[i]);
    }
    g_assert_cmpstr(r[0].printed, ==, "2.25");
    /* Recompute the main context's chain to check it survived. */
    uint64_t m2 = guard, n2 = m2 ^ 0xff, o2 = n2 + 7;
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3; i++) {
            m2 = m2 * 31 + (uint64_t)i, n2 ^= m2, o2 += n2;
        }
    }
    g_assert_cmpuint(m, ==, m2);
    g_assert_cmpuint(n, ==, n2);
    g_assert_cmpuint(o, ==, o2);
}

/* Never entered, or left suspended mid-way: destroy frees either. */
static void test_destroy_unfinished(void)
{
    Counter c = {.limit = 5, .log = g_string_new(NULL), .tag = 'z'};
    Coroutine *idle = coroutine_create(count_entry, &c, 64 * 1024);
    Coroutine *mid = coroutine_create(count_entry, &c, 64 * 1024);

    coroutine_enter(mid);
    coroutine_enter(mid);
    g_assert_false(coroutine_finished(mid));
    coroutine_destroy(idle);
    coroutine_destroy(mid);
    g_assert_cmpstr(c.log->str, ==, "zz");
    g_string_free(c.log, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/coroutine/round-trips", test_round_trips);
    g_test_add_func("/coroutine/interleave", test_interleave);
    g_test_add_func("/coroutine/self", test_self);
    g_test_add_func("/coroutine/many", test_many);
    g_test_add_func("/coroutine/registers", test_registers);
    g_test_add_func("/coroutine/destroy-unfinished", test_destroy_unfinished);
    return g_test_run();
}
