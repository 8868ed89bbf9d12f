/* SPDX-License-Identifier: MIT */
/*
 * Discrete-event queue: a binary min-heap of embedded Events keyed by
 * (when, seq). seq is a global counter taken at scheduling time, so events
 * due at the same virtual time run in the order they were scheduled:
 * the order depends only on what the machine did.
 */
#include <glib.h>
#include "system/event.h"

uint64_t vclock_ns;
uint64_t event_deadline = VTIME_NEVER;

static Event **heap; /* heap[1..count] */
static uint32_t count, capacity;
static uint64_t next_seq;
static uint64_t events_run;

void event_loop_init(void)
{
    g_free(heap);
    capacity = 64;
    heap = g_new0(Event *, capacity + 1);
    count = 0;
    next_seq = 0;
    events_run = 0;
    vclock_ns = 0;
    event_deadline = VTIME_NEVER;
}

void event_loop_fini(void)
{
    for (uint32_t i = 1; i <= count; i++) {
        heap[i]->heap_index = 0;
    }
    g_free(heap);
    heap = NULL;
    count = capacity = 0;
    event_deadline = VTIME_NEVER;
}

static inline bool before(const Event *a, const Event *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(uint32_t i, Event *ev)
{
    heap[i] = ev;
    ev->heap_index = i;
}

static void sift_up(uint32_t i)
{
    Event *ev = heap[i];
    while (i > 1 && before(ev, heap[i / 2])) {
        place(i, heap[i / 2]);
        i /= 2;
    }
    place(i, ev);
}

static void sift_down(uint32_t i)
{
    Event *ev = heap[i];
    for (;;) {
        uint32_t c = 2 * i;
        if (c > count) {
            break;
        }
        if (c + 1 <= count && before(heap[c + 1], heap[c])) {
            c++;
        }
        if (!before(heap[c], ev)) {
            break;
        }
        place(i, heap[c]);
        i = c;
    }
    place(i, ev);
}

static inline void update_deadline(void)
{
    event_deadline = count ? heap[1]->when : VTIME_NEVER;
}

static void heap_remove(Event *ev)
{
    uint32_t i = ev->heap_index;
    Event *last = heap[count--];

    ev->heap_index = 0;
    if (i <= count) {
        place(i, last);
        if (i > 1 && before(last, heap[i / 2])) {
            sift_up(i);
        } else {
            sift_down(i);
        }
    }
}

void event_init(Event *ev, const char *name, EventFunc *fn, void *opaque)
{
    ev->when = 0;
    ev->seq = 0;
    ev->fn = fn;
    ev->opaque = opaque;
    ev->name = name;
    ev->heap_index = 0;
}

void event_schedule(Event *ev, uint64_t when)
{
    g_assert(heap != NULL);
    if (ev->heap_index) {
        heap_remove(ev);
    }
    if (when < vclock_ns) {
        when = vclock_ns;
    }
    ev->when = when;
    ev->seq = next_seq++;
    if (count == capacity) {
        capacity *= 2;
        heap = g_renew(Event *, heap, capacity + 1);
    }
    place(++count, ev);
    sift_up(count);
    update_deadline();
}

void event_schedule_in(Event *ev, uint64_t delta_ns)
{
    uint64_t when = vclock_ns + delta_ns;
    event_schedule(ev, when < vclock_ns ? VTIME_NEVER - 1 : when);
}

void event_cancel(Event *ev)
{
    if (ev->heap_index) {
        heap_remove(ev);
        update_deadline();
    }
}

unsigned event_run_due(void)
{
    unsigned n = 0;

    while (count && heap[1]->when <= vclock_ns) {
        Event *ev = heap[1];
        heap_remove(ev);
        update_deadline();
        events_run++;
        n++;
        /* The handler may reschedule this or other events. */
        ev->fn(ev->opaque);
    }
    return n;
}

bool event_advance_to_next(void)
{
    if (!count) {
        return false;
    }
    if (heap[1]->when > vclock_ns) {
        vclock_ns = heap[1]->when;
    }
    return true;
}

unsigned event_queued(void)
{
    return count;
}

uint64_t event_count(void)
{
    return events_run;
}
