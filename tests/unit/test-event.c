/* SPDX-License-Identifier: MIT */
/*
 * Event loop: ordering by time, ties in scheduling order, cancel and
 * reschedule, clock advance.
 */
#include <string.h>
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
        /* pop by cancelling the earliest (when, seq) pending event,
         * which must be what the deadline names */
        Event *first = NULL;
        for (unsigned i = 0; i < N; i++) {
            if (event_pending(&ev[i]) &&
                (!first || ev[i].when < first->when ||
                 (ev[i].when == first->when && ev[i].seq < first->seq))) {
                first = &ev[i];
            }
        }
        g_assert_nonnull(first);
        g_assert_cmpuint(first->when, ==, event_deadline);
        event_cancel(first);
        ran++;
    }
    g_assert_cmpuint(ran, ==, N - (N + 2) / 3);
    teardown();
    g_free(ev);
}

/* An event that became due by the clock reaching its time runs before one
 * scheduled for "now" afterwards (earlier seq), and events scheduled for
 * "now" from handlers run after every earlier-scheduled due event. */
static void now_fn(void *opaque)
{
    Event *later = opaque;
    g_string_append(log_, "n");
    if (later) {
        event_schedule(later, vclock_now());
    }
}

static void test_now_and_due_interleave(void)
{
    Event due1, due2, now1, now2, tail;

    setup();
    event_init(&due1, "due1", note, "a");
    event_init(&due2, "due2", note, "b");
    event_init(&tail, "tail", note, "z");
    event_init(&now2, "now2", now_fn, &tail);
    event_init(&now1, "now1", now_fn, NULL);
    event_schedule(&due1, 100);
    event_schedule(&due2, 100);
    event_advance_to_next();
    g_assert_cmpuint(vclock_now(), ==, 100);
    event_schedule(&now1, vclock_now()); /* after a and b */
    event_schedule(&now2, 50);           /* the past: now, after now1 */
    g_assert_cmpuint(event_queued(), ==, 4);
    g_assert_cmpuint(event_deadline, ==, 100);
    event_cancel(&now1);
    event_schedule(&now1, vclock_now()); /* moves behind now2 */
    g_assert_cmpuint(event_run_due(), ==, 5);
    g_assert_cmpstr(log_->str, ==, "abnnz");
    g_assert_cmpuint(event_queued(), ==, 0);
    g_assert_cmpuint(event_deadline, ==, VTIME_NEVER);
    teardown();
}

/*
 * The streams the I/O path makes (work for "now", completions a constant
 * latency out, a far periodic timer, stragglers at random times), with
 * reschedules, cancels and the clock moved by guest execution, against a
 * reference that sorts by (when, seq): lanes and heap must run the same
 * order.
 */
enum { MODEL_N = 64 };

typedef struct ModelEv {
    Event ev;
    unsigned id;
} ModelEv;

static ModelEv model_ev[MODEL_N];
static unsigned model_rng = 777;
static GArray *model_ran;

static unsigned model_next(void)
{
    model_rng = model_rng * 1103515245 + 12345;
    return model_rng >> 8;
}

static void model_schedule(unsigned id)
{
    Event *ev = &model_ev[id].ev;
    uint64_t now = vclock_now();

    switch (id % 4) {
    case 0:
        event_schedule(ev, now);
        break;
    case 1:
        event_schedule_in(ev, 11000);
        break;
    case 2:
        event_schedule_in(ev, id == 2 ? 1000000 : 300 + model_next() % 50);
        break;
    default:
        event_schedule(ev, now + model_next() % 20000);
        break;
    }
}

static ModelEv *model_first(void);

static void model_fn(void *opaque)
{
    ModelEv *m = opaque;
    ModelEv *f = model_first();
    unsigned r = model_next();

    /* Nothing still queued comes before the event that runs. */
    g_assert_cmpuint(m->ev.when, <=, vclock_now());
    g_assert_true(!f || m->ev.when < f->ev.when ||
                  (m->ev.when == f->ev.when && m->ev.seq < f->ev.seq));
    g_array_append_val(model_ran, m->id);
    vclock_advance(r % 7 == 0 ? r % 900 : 0);
    model_schedule((m->id + r) % MODEL_N);
    if (r % 5 == 0) {
        model_schedule(r % MODEL_N);
    }
    if (r % 11 == 0) {
        event_cancel(&model_ev[(r >> 4) % MODEL_N].ev);
    }
}

/* The reference: the pending event with the least (when, seq). */
static ModelEv *model_first(void)
{
    ModelEv *f = NULL;

    for (unsigned i = 0; i < MODEL_N; i++) {
        Event *e = &model_ev[i].ev;
        if (event_pending(e) &&
            (!f || e->when < f->ev.when ||
             (e->when == f->ev.when && e->seq < f->ev.seq))) {
            f = &model_ev[i];
        }
    }
    return f;
}

static void test_streams_against_model(void)
{
    unsigned steps = 0;

    setup();
    model_ran = g_array_new(FALSE, FALSE, sizeof(unsigned));
    for (unsigned i = 0; i < MODEL_N; i++) {
        model_ev[i].id = i;
        event_init(&model_ev[i].ev, "model", model_fn, &model_ev[i]);
    }
    for (unsigned i = 0; i < MODEL_N; i += 3) {
        model_schedule(i);
    }
    while (event_queued() && steps < 20000) {
        ModelEv *f = model_first();
        uint64_t before = event_count();

        g_assert_nonnull(f);
        g_assert_cmpuint(event_deadline, ==, f->ev.when);
        if (f->ev.when > vclock_now()) {
            event_advance_to_next();
            g_assert_cmpuint(vclock_now(), ==, f->ev.when);
        }
        g_array_set_size(model_ran, 0);
        event_run_due();
        g_assert_cmpuint(model_ran->len, >=, 1);
        g_assert_cmpuint(g_array_index(model_ran, unsigned, 0), ==, f->id);
        g_assert_cmpuint(event_count() - before, ==, model_ran->len);
        steps += model_ran->len;
    }
    g_assert_cmpuint(steps, >=, 20000);
    for (unsigned i = 0; i < MODEL_N; i++) {
        event_cancel(&model_ev[i].ev);
    }
    g_assert_cmpuint(event_queued(), ==, 0);
    g_assert_cmpuint(event_deadline, ==, VTIME_NEVER);
    g_array_free(model_ran, TRUE);
    teardown();
}

/* ---- runs: event_schedule_run, event_join, event_count_add ---- */

static void test_join_rules(void)
{
    Event e, x, y;

    setup();
    event_init(&e, "run", note, "e");
    event_init(&x, "x", note, "x");
    event_init(&y, "y", note, "y");
    event_schedule_run(&e, 100);
    g_assert_true(event_join(&e, 100));
    g_assert_false(event_join(&e, 99));
    g_assert_false(event_join(&e, 101));
    /* At another time: nothing between @e and what joins at 100. */
    event_schedule(&x, 200);
    event_schedule(&y, 50);
    g_assert_true(event_join(&e, 100));
    /* At the same time with a later seq: it would come between. */
    event_schedule(&x, 100);
    g_assert_false(event_join(&e, 100));
    /* Gone again; not known here: only slower. */
    event_cancel(&x);
    g_assert_false(event_join(&e, 100));
    /* A new run at the time: joinable again. */
    event_schedule_run(&e, 100);
    g_assert_true(event_join(&e, 100));
    event_cancel(&e);
    g_assert_false(event_join(&e, 100));
    /* Moved elsewhere, not by event_schedule_run: not known. */
    event_schedule_run(&e, 100);
    event_schedule(&e, 300);
    g_assert_false(event_join(&e, 100));
    g_assert_false(event_join(&e, 300));
    /* Back at the time, and last there: joinable again. */
    event_schedule(&e, 100);
    g_assert_true(event_join(&e, 100));
    event_schedule(&e, 300);
    g_assert_false(event_join(&e, 100));
    /* A time in the past means now, for the run and for what joins. */
    event_cancel(&e);
    event_cancel(&y);
    vclock_advance(70);
    event_schedule_run(&e, 10);
    g_assert_cmpuint(e.when, ==, 70);
    g_assert_true(event_join(&e, 20));
    g_assert_true(event_join(&e, 70));
    /* Not in the past: the same answers without the test. */
    g_assert_true(event_join_ahead(&e, 70));
    g_assert_false(event_join_ahead(&e, 71));
    /* Ran: nothing to join. */
    event_run_due();
    g_assert_cmpstr(log_->str, ==, "e");
    g_assert_false(event_join(&e, 70));
    g_assert_false(event_join_ahead(&e, 70));
    teardown();
}

/*
 * Against the same machine with an event per item: items ("m", members)
 * that an owner serves in runs as scsi-bus.c does, and others ("f") at the
 * same few times; handlers schedule more of both and cancel pending ones
 * (parts of the run being served too). The order of the handlers and the
 * event count each sees must be the same.
 */
#define RUN_ITEMS 600
typedef struct RunItem {
    Event ev;
    unsigned id;
    bool member, live, in_run;
    struct RunItem *run_next;
} RunItem;

static struct {
    bool batched;
    GRand *rng;
    RunItem items[RUN_ITEMS];
    unsigned n;
    Event run_ev;
    RunItem *head, *tail, *serving;
    unsigned joined;
    GString *log;
} rw;

static void run_item_done(RunItem *it);

static void run_item_fn(void *opaque)
{
    run_item_done(opaque);
}

static void run_item_schedule(bool member, uint64_t when)
{
    RunItem *it;

    if (rw.n == RUN_ITEMS) {
        return;
    }
    it = &rw.items[rw.n];
    it->id = rw.n++;
    it->member = member;
    it->live = true;
    it->in_run = false;
    event_init(&it->ev, member ? "m" : "f", run_item_fn, it);
    if (!member || !rw.batched) {
        event_schedule(&it->ev, when);
    } else if (!rw.head) {
        it->in_run = true;
        it->run_next = NULL;
        rw.head = rw.tail = it;
        event_schedule_run(&rw.run_ev, when);
    } else if (event_join(&rw.run_ev, when)) {
        it->in_run = true;
        it->run_next = NULL;
        rw.tail->run_next = it;
        rw.tail = it;
        rw.joined++;
    } else {
        event_schedule(&it->ev, when);
    }
}

static void run_item_cancel(RunItem *it)
{
    RunItem **pp, *prev = NULL;

    it->live = false;
    if (!it->in_run) {
        event_cancel(&it->ev);
        return;
    }
    for (pp = &rw.head; *pp && *pp != it; pp = &(*pp)->run_next) {
        prev = *pp;
    }
    if (*pp) {
        *pp = it->run_next;
        if (rw.tail == it) {
            rw.tail = prev;
        }
        if (!rw.head) {
            event_cancel(&rw.run_ev);
        }
    } else {
        for (pp = &rw.serving; *pp != it; pp = &(*pp)->run_next) {
            g_assert_nonnull(*pp);
        }
        *pp = it->run_next;
    }
    it->in_run = false;
}

/* What a handler does: the same in both machines, as long as they are. */
static void run_item_act(void)
{
    uint64_t when = vclock_now() + 10 * g_rand_int_range(rw.rng, 0, 3);
    int r = g_rand_int_range(rw.rng, 0, 10);

    if (r < 4) {
        run_item_schedule(true, when);
    } else if (r < 6) {
        run_item_schedule(false, when);
    } else if (r < 8 && rw.n) {
        RunItem *it = &rw.items[g_rand_int_range(rw.rng, 0, rw.n)];
        if (it->live) {
            run_item_cancel(it);
        }
    }
}

static void run_item_done(RunItem *it)
{
    g_assert_true(it->live);
    it->live = false;
    g_string_append_printf(
        rw.log, "%c%u@%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " ",
        it->member ? 'm' : 'f', it->id, vclock_now(), event_count());
    run_item_act();
    run_item_act();
}

static void run_ev_fn(void *opaque)
{
    RunItem *it = rw.head;

    rw.head = rw.tail = NULL;
    for (;;) {
        rw.serving = it->run_next;
        it->in_run = false;
        run_item_done(it);
        it = rw.serving;
        if (!it) {
            break;
        }
        event_count_add(1);
    }
}

static char *run_machine(bool batched, guint32 seed, unsigned *joined)
{
    setup();
    memset(&rw, 0, sizeof(rw));
    rw.batched = batched;
    rw.rng = g_rand_new_with_seed(seed);
    rw.log = g_string_new(NULL);
    event_init(&rw.run_ev, "run", run_ev_fn, NULL);
    for (unsigned i = 0; i < 40; i++) {
        run_item_schedule(g_rand_int_range(rw.rng, 0, 4) != 0,
                          10 * g_rand_int_range(rw.rng, 1, 4));
        if (i % 7 == 6) {
            run_item_act();
        }
    }
    drain();
    g_assert_cmpuint(event_queued(), ==, 0);
    g_rand_free(rw.rng);
    *joined = rw.joined;
    teardown();
    return g_string_free(rw.log, FALSE);
}

static void test_runs_against_events(void)
{
    unsigned joined = 0;

    for (guint32 seed = 1; seed <= 200; seed++) {
        unsigned j, none;
        g_autofree char *ref = run_machine(false, seed, &none);
        g_autofree char *got = run_machine(true, seed, &j);

        g_assert_cmpuint(none, ==, 0);
        g_assert_cmpstr(got, ==, ref);
        joined += j;
    }
    /* The runs did take most members. */
    g_assert_cmpuint(joined, >, 2000);
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
    g_test_add_func("/event/now-and-due-interleave",
                    test_now_and_due_interleave);
    g_test_add_func("/event/streams-against-model", test_streams_against_model);
    g_test_add_func("/event/join-rules", test_join_rules);
    g_test_add_func("/event/runs-against-events", test_runs_against_events);
    return g_test_run();
}
