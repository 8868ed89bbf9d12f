/* SPDX-License-Identifier: MIT */
/*
 * Trace point enabling: the last matching pattern decides, a disabling
 * pattern alone enables nothing, and a reset turns every site off again
 * (sites cache their state, so each case asks the same sites twice).
 */
#include <string.h>
#include <glib.h>
#include "system/trace.h"

static bool on_test_a(void)
{
    return TRACE_ON(test_a);
}

static bool on_test_b(void)
{
    return TRACE_ON(test_b);
}

static bool on_other(void)
{
    return TRACE_ON(other_c);
}

static void expect(bool a, bool b, bool c)
{
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(on_test_a(), ==, a);
        g_assert_cmpint(on_test_b(), ==, b);
        g_assert_cmpint(on_other(), ==, c);
    }
}

static void test_patterns(void)
{
    trace_reset();
    expect(false, false, false);

    g_assert_true(trace_enable("-test_*", NULL));
    expect(false, false, false);

    g_assert_true(trace_enable("test_*", NULL));
    expect(true, true, false);

    g_assert_true(trace_enable("-test_b", NULL));
    expect(true, false, false);

    g_assert_true(trace_enable("*", NULL));
    expect(true, true, true);

    trace_reset();
    expect(false, false, false);

    g_assert_true(trace_enable("other_?", NULL));
    expect(false, false, true);
    trace_reset();
    expect(false, false, false);
}

static void test_emit(void)
{
    FILE *f = tmpfile();
    char line[128] = "";

    g_assert_nonnull(f);
    trace_reset();
    trace_set_output(f);
    TRACE(test_a, "off %d", 1);
    g_assert_true(trace_enable("test_a", NULL));
    TRACE(test_a, "on %d", 2);
    TRACE(test_b, "off %d", 3);
    trace_reset();
    TRACE(test_a, "off %d", 4);
    trace_set_output(NULL);
    rewind(f);
    g_assert_nonnull(fgets(line, sizeof(line), f));
    g_assert_nonnull(strstr(line, "test_a: on 2"));
    g_assert_null(fgets(line, sizeof(line), f));
    fclose(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/trace/patterns", test_patterns);
    g_test_add_func("/trace/emit", test_emit);
    return g_test_run();
}
