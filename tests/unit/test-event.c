/* SPDX-License-Identifier: MIT */
/*
 * Event loop: ordering by time, ties in scheduling order, cancel and
 * reschedule, clock advance.
 */
#include <glib.h>
#include "system/event.h"

static GString *log_;

static void note(void *opaque)
{
    g_string_append(log_, opaque);
}

static void setup(void)
{
    event_loop_init();
    log_ = g_string_new(NULL);
}

static void teardown(void)
{
    event_loop_fini();
    g_string_free(log_, TRUE);
}

static void drain(void)
{
    while (event_queued()) {
        event_advance_to_next();
        event_run_due();
    }
}

static void test_order_by_time(void)
{
    Event e[5];
    /* scheduled out of order; expect time order */
    static const struct {
        uint64_t t;
        const char *tag;
    } tab[] = {
        {500, "e"}, {100, "a"}, {300, "c"}, {200, "b"}, {400, "d"},
    };

    setup();
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        event_init(&e[i], "t", note, (void *)tab[i].tag);
        event_schedule(&e[i], tab[i].t);
    }
    g_assert_cmpuint(event_queued(), ==, 5);
    g_assert_cmpuint(event_deadline, ==, 100);
    drain();
    g_assert_cmpstr(log_->str, ==, "abcde");
    g_assert_cmpuint(vclock_now(), ==, 500);
    g_assert_cmpuint(event_count(), ==, 5);
    teardown();
}

static void test_ties_in_schedule_order(void)
{
    Event e[26];
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz";
    char tags[26][2];

    setup();
    for (unsigned i = 0; i < 26; i++) {
        tags[i][0] = letters[i];
        tags[i][1] = 0;
        event_init(&e[i], "tie", note, tags[i]);
        event_schedule(&e[i], 1000);
    }
    drain();
    g_assert_cmpstr(log_->str, ==, letters);
    teardown();
}

static void test_cancel_and_reschedule(void)
{
    Event a, b, c;

    setup();
    event_init(&a, "a", note, "a");
    event_init(&b, "b", note, "b");
    event_init(&c, "c", note, "c");
    event_schedule(&a, 10);
    event_schedule(&b, 20);
    event_schedule(&c, 30);
    event_cancel(&b);
    g_assert_false(event_pending(&b));
    event_cancel(&b);       /* cancelling twice is harmless */
    event_schedule(&a, 40); /* moves a after c */
    g_assert_cmpuint(event_queued(), ==, 2);
    drain();
    g_assert_cmpstr(log_->str, ==, "ca");
    teardown();
}

static void test_past_means_now(void)
{
    Event a;

    setup();
    vclock_advance(1000);
    event_init(&a, "a", note, "a");
    event_schedule(&a, 5);
    g_assert_cmpuint(a.when, ==, 1000);
    g_assert_cmpuint(event_run_due(), ==, 1);
    g_assert_cmpstr(log_->str, ==, "a");
    teardown();
}

typedef struct Chain {
    Event ev;
    int left;
} Chain;

static void chain_fn(void *opaque)
{
    Chain *ch = opaque;

    g_string_append_c(log_, 'x');
    if (--ch->left > 0) {
        event_schedule_in(&ch->ev, 7);
    }
}

static void test_handler_reschedules(void)
{
    Chain ch = {.left = 4};

    setup();
    event_init(&ch.ev, "chain", chain_fn, &ch);
    event_schedule(&ch.ev, 0);
    drain();
    g_assert_cmpstr(log_->str, ==, "xxxx");
    g_assert_cmpuint(vclock_now(), ==, 21);
    teardown();
}

static void test_heap_stress(void)
{
    enum { N = 2000 };
    Event *ev = g_new0(Event, N);
    uint64_t last = 0;
    unsigned x = 12345, ran = 0;

    setup();
    for (unsigned i = 0; i < N; i++) {
        x = x * 1103515245 + 12345;
        event_init(&ev[i], "s", NULL, NULL);
        event_schedule(&ev[i], (x >> 8) % 5000);
    }
    for (unsigned i = 0; i < N; i += 3) {
        event_cancel(&ev[i]);
    }
    while (event_queued()) {
        g_assert_cmpuint(event_deadline, >=, last);
        last = event_deadline;
        /* pop by cancelling the head after checking order */
        for (unsigned i = 0; i < N; i++) {
            if (event_pending(&ev[i]) && ev[i].heap_index == 1) {
                event_cancel(&ev[i]);
                ran++;
                break;
            }
        }
    }
    g_assert_cmpuint(ran, ==, N - (N + 2) / 3);
    teardown();
    g_free(ev);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/event/order-by-time", test_order_by_time);
    g_test_add_func("/event/ties-in-schedule-order",
                    test_ties_in_schedule_order);
    g_test_add_func("/event/cancel-and-reschedule", test_cancel_and_reschedule);
    g_test_add_func("/event/past-means-now", test_past_means_now);
    g_test_add_func("/event/handler-reschedules", test_handler_reschedules);
    g_test_add_func("/event/heap-stress", test_heap_stress);
    return g_test_run();
}
