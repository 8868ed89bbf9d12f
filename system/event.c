/* SPDX-License-Identifier: MIT */
/*
 * Discrete-event queue: a binary min-heap of embedded Events keyed by
 * (when, seq). seq is a global counter taken at scheduling time, so events
 * due at the same virtual time run in the order they were scheduled:
 * the order depends only on what the machine did.
 *
 * Most events come in streams whose deadlines never go down: work
 * scheduled for "now" (a doorbell, an interrupt after a completion), and
 * completions a constant latency after their submission. Such an event is
 * appended to one of a few sorted lists ("lanes") whose last deadline is
 * not later than its own, instead of going into the heap; as seq only grows,
 * each lane stays sorted by (when, seq), and the next event is the earliest
 * of the lane heads and the heap's top. Same order as the heap alone, but
 * O(1) for the common streams. An event no lane can take goes to the heap.
 * There is a lane per stream the I/O path makes: "now" work (lane 0, its
 * own), device completions, and a periodic timer far ahead; a later event
 * joins the lane whose last deadline is the latest not after its own
 * (best fit), so that the far timer does not close a lane to the
 * completions (with first fit it did, and "now" work went to the heap).
 *
 * The earliest queued event is cached (first), so running one event costs
 * a single look over the lane heads and the heap top, and scheduling one
 * is a single compare with it.
 */
#include <string.h>
#include <glib.h>
#include "system/event.h"

uint64_t vclock_ns;
uint64_t event_deadline = VTIME_NEVER;
unsigned yield_gate, yield_gate_parked;

static Event **heap; /* heap[1..count] */
static uint32_t count, capacity;
static uint64_t next_seq;
uint64_t event_runs;
#define LANES 3
typedef struct Lane {
    Event *head, *tail;
} Lane;
static Lane lanes[LANES];
static uint32_t lane_count; /* events on all lanes */
static Event *first;        /* the earliest queued event, or NULL */
uint64_t event_run_when = VTIME_NEVER;
const Event *event_run_last;

void event_loop_init(void)
{
    g_free(heap);
    capacity = 64;
    heap = g_new0(Event *, capacity + 1);
    count = 0;
    memset(lanes, 0, sizeof(lanes));
    lane_count = 0;
    first = NULL;
    next_seq = 0;
    event_runs = 0;
    event_run_when = VTIME_NEVER;
    event_run_last = NULL;
    vclock_ns = 0;
    event_deadline = VTIME_NEVER;
}

void event_loop_fini(void)
{
    for (uint32_t i = 1; i <= count; i++) {
        heap[i]->heap_index = 0;
    }
    for (unsigned l = 0; l < LANES; l++) {
        for (Event *ev = lanes[l].head; ev; ev = ev->fnext) {
            ev->heap_index = 0;
        }
    }
    memset(lanes, 0, sizeof(lanes));
    lane_count = 0;
    first = NULL;
    g_free(heap);
    heap = NULL;
    count = capacity = 0;
    event_deadline = VTIME_NEVER;
    event_run_when = VTIME_NEVER;
    event_run_last = NULL;
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

/* Look for the earliest event again, after the cached one left. */
static inline void find_first(void)
{
    Event *ev = count ? heap[1] : NULL;

#pragma GCC unroll 4
    for (unsigned l = 0; l < LANES; l++) {
        Event *h = lanes[l].head;
        if (h && (!ev || before(h, ev))) {
            ev = h;
        }
    }
    first = ev;
    event_deadline = ev ? ev->when : VTIME_NEVER;
}

static inline bool in_lane(const Event *ev)
{
    return ev->heap_index >= EVENT_IN_LANE(LANES - 1);
}

static void lane_remove(Event *ev)
{
    Lane *l = &lanes[EVENT_IN_LANE(0) - ev->heap_index];

    if (ev->fprev) {
        ev->fprev->fnext = ev->fnext;
    } else {
        l->head = ev->fnext;
    }
    if (ev->fnext) {
        ev->fnext->fprev = ev->fprev;
    } else {
        l->tail = ev->fprev;
    }
    ev->fprev = ev->fnext = NULL;
    ev->heap_index = 0;
    lane_count--;
}

/*
 * Append @ev to a lane that stays sorted with it; false if none can.
 * Work for "now" has lane 0 to itself: the clock never goes back, so that
 * lane's last deadline is never after now. A later event takes the lane
 * whose last deadline is the latest not after its own (best fit), an
 * empty one only when none fits, so that a stream of completions and a
 * far-off timer do not close a lane to each other.
 */
static bool lane_add(Event *ev)
{
    Lane *best = NULL, *empty = NULL;

    if (ev->when == vclock_ns) {
        best = &lanes[0];
    } else {
#pragma GCC unroll 4
        for (unsigned i = 1; i < LANES; i++) {
            Lane *l = &lanes[i];
            if (!l->tail) {
                if (!empty) {
                    empty = l;
                }
            } else if (l->tail->when <= ev->when &&
                       (!best || l->tail->when > best->tail->when)) {
                best = l;
            }
        }
        if (!best) {
            best = empty;
            if (!best) {
                return false;
            }
        }
    }
    ev->heap_index = EVENT_IN_LANE(best - lanes);
    ev->fnext = NULL;
    ev->fprev = best->tail;
    if (best->tail) {
        best->tail->fnext = ev;
    } else {
        best->head = ev;
    }
    best->tail = ev;
    lane_count++;
    return true;
}

/* Take @ev off the lane or out of the heap it is queued on. */
static void queue_remove(Event *ev)
{
    uint32_t i = ev->heap_index;
    Event *last;

    if (in_lane(ev)) {
        lane_remove(ev);
        return;
    }
    last = heap[count--];
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

/* Take the earliest event off its queue and find the next one. */
static inline void pop_first(Event *ev)
{
    if (in_lane(ev)) {
        /* A lane head: nothing before it. */
        Lane *l = &lanes[EVENT_IN_LANE(0) - ev->heap_index];
        Event *next = ev->fnext;

        l->head = next;
        if (next) {
            next->fprev = NULL;
        } else {
            l->tail = NULL;
        }
        ev->fnext = NULL;
        ev->heap_index = 0;
        lane_count--;
    } else {
        queue_remove(ev);
    }
    find_first();
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

static G_GNUC_NO_INLINE void heap_add(Event *ev)
{
    if (count == capacity) {
        capacity *= 2;
        heap = g_renew(Event *, heap, capacity + 1);
    }
    place(++count, ev);
    sift_up(count);
}

static inline void schedule_idle(Event *ev, uint64_t when)
{
    if (when < vclock_ns) {
        when = vclock_ns;
    }
    ev->when = when;
    ev->seq = next_seq++;
    if (G_UNLIKELY(when == event_run_when)) {
        event_run_last = ev;
    }
    /* The newest seq: it goes first only if strictly earlier. */
    if (!first || when < first->when) {
        first = ev;
        event_deadline = when;
        /* The deadline went down: due now if it is now (never before). */
        if (when == vclock_ns) {
            yield_gate_close();
        }
    }
    if (!lane_add(ev)) {
        heap_add(ev);
    }
}

/* Take @ev off its queue, finding the earliest again if it was that. */
static void unqueue(Event *ev)
{
    queue_remove(ev);
    if (ev == first) {
        find_first();
    }
}

/* Out of line, so that the common case saves no registers. */
static G_GNUC_NO_INLINE void reschedule(Event *ev, uint64_t when)
{
    unqueue(ev);
    if (ev == event_run_last) {
        /* Set again below if it stays at event_run_when (event.h). */
        event_run_last = NULL;
    }
    schedule_idle(ev, when);
}

void event_schedule(Event *ev, uint64_t when)
{
    g_assert(heap != NULL);
    if (ev->heap_index) {
        reschedule(ev, when);
        return;
    }
    schedule_idle(ev, when);
}

void event_schedule_in(Event *ev, uint64_t delta_ns)
{
    uint64_t when = vclock_ns + delta_ns;
    event_schedule(ev, when < vclock_ns ? VTIME_NEVER - 1 : when);
}

void event_cancel(Event *ev)
{
    if (ev->heap_index) {
        unqueue(ev);
    }
    if (ev == event_run_last) {
        event_run_last = NULL;
    }
}

void event_schedule_run(Event *ev, uint64_t when)
{
    event_schedule(ev, when);
    event_run_when = ev->when;
    event_run_last = ev;
}

unsigned event_run_due(void)
{
    unsigned n = 0;

    /* event_deadline is first's time, VTIME_NEVER without one (which a
     * clock at VTIME_NEVER would take for due). */
    while (event_deadline <= vclock_ns) {
        Event *ev = first;

        if (G_UNLIKELY(!ev)) {
            break;
        }
        pop_first(ev);
        if (G_UNLIKELY(ev == event_run_last)) {
            event_run_last = NULL; /* no longer queued (event.h) */
        }
        event_runs++;
        n++;
        /* The handler may reschedule this or other events. */
        ev->fn(ev->opaque);
    }
    return n;
}

bool event_advance_to_next(void)
{
    if (!count && !lane_count) {
        return false;
    }
    if (event_deadline > vclock_ns) {
        vclock_ns = event_deadline;
    }
    return true;
}

unsigned event_queued(void)
{
    return count + lane_count;
}

uint64_t event_count(void)
{
    return event_runs;
}
