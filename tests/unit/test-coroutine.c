/* SPDX-License-Identifier: MIT */
/* Coroutines: enter/yield round trips, private stacks, completion. */
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/coroutine/round-trips", test_round_trips);
    g_test_add_func("/coroutine/interleave", test_interleave);
    g_test_add_func("/coroutine/self", test_self);
    g_test_add_func("/coroutine/many", test_many);
    return g_test_run();
}
