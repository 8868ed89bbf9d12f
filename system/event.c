/* SPDX-License-Identifier: MIT */
/*
 * Discrete-event queue: a binary min-heap of embedded Events keyed by
 * (when, seq). seq is a global counter taken at scheduling time, so events
 * due at the same virtual time run in the order they were scheduled:
 * the order depends only on what the machine did.
 *
 * Most events are scheduled for "now" (a doorbell's work, an interrupt
 * after a completion). Those go on a FIFO instead of the heap: its (when,
 * seq) keys only grow, so it is sorted already, and the next event is the
 * earlier of the FIFO's head and the heap's top. Same order, O(1).
 */
#include <glib.h>
#include "system/event.h"

uint64_t vclock_ns;
uint64_t event_deadline = VTIME_NEVER;

static Event **heap; /* heap[1..count] */
static uint32_t count, capacity;
static uint64_t next_seq;
static uint64_t events_run;
static Event *fifo_head, *fifo_tail;
static uint32_t fifo_len;

void event_loop_init(void)
{
    g_free(heap);
    capacity = 64;
    heap = g_new0(Event *, capacity + 1);
    count = 0;
    fifo_head = fifo_tail = NULL;
    fifo_len = 0;
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
    for (Event *ev = fifo_head; ev; ev = ev->fnext) {
        ev->heap_index = 0;
    }
    fifo_head = fifo_tail = NULL;
    fifo_len = 0;
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
    uint64_t d = count ? heap[1]->when : VTIME_NEVER;
    event_deadline = fifo_head ? MIN(d, fifo_head->when) : d;
}

static void fifo_remove(Event *ev)
{
    if (ev->fprev) {
        ev->fprev->fnext = ev->fnext;
    } else {
        fifo_head = ev->fnext;
    }
    if (ev->fnext) {
        ev->fnext->fprev = ev->fprev;
    } else {
        fifo_tail = ev->fprev;
    }
    ev->fprev = ev->fnext = NULL;
    ev->heap_index = 0;
    fifo_len--;
}

static void heap_remove(Event *ev)
{
    if (ev->heap_index == EVENT_IN_FIFO) {
        fifo_remove(ev);
        return;
    }
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
    ev->fprev = ev->fnext = NULL;
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
    if (when == vclock_ns) {
        /* Due now: behind everything on the FIFO, whose keys are all
         * smaller (earlier or equal time, earlier seq). */
        ev->heap_index = EVENT_IN_FIFO;
        ev->fnext = NULL;
        ev->fprev = fifo_tail;
        if (fifo_tail) {
            fifo_tail->fnext = ev;
        } else {
            fifo_head = ev;
        }
        fifo_tail = ev;
        fifo_len++;
        if (when < event_deadline) {
            event_deadline = when;
        }
        return;
    }
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

    for (;;) {
        Event *ev = fifo_head;
        if (count && (!ev || before(heap[1], ev))) {
            ev = heap[1];
        }
        if (!ev || ev->when > vclock_ns) {
            break;
        }
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
    if (!count && !fifo_head) {
        return false;
    }
    if (event_deadline > vclock_ns) {
        vclock_ns = event_deadline;
    }
    return true;
}

unsigned event_queued(void)
{
    return count + fifo_len;
}

uint64_t event_count(void)
{
    return events_run;
}
