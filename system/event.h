/* SPDX-License-Identifier: MIT */
/*
 * The machine's discrete-event loop over a virtual clock in nanoseconds.
 *
 * Device work, backend completions, guest timers and interrupts are Events
 * embedded in their owner's state (no allocation when scheduling). Events
 * with equal deadlines run in the order they were scheduled, so the order
 * of execution depends only on what the machine did, never on the host.
 * Nothing here reads host time.
 */
#ifndef SYSTEM_EVENT_H
#define SYSTEM_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#define VTIME_NEVER UINT64_MAX
#define NS_PER_US   1000ULL
#define NS_PER_MS   1000000ULL
#define NS_PER_SEC  1000000000ULL

typedef void EventFunc(void *opaque);

typedef struct Event {
    uint64_t when; /* absolute virtual time, ns */
    uint64_t seq;  /* tie-break: order of scheduling */
    EventFunc *fn;
    void *opaque;
    const char *name; /* for traces and reports */
    /* 1-based position in the heap; 0 = idle; EVENT_IN_LANE(n) = on the
     * sorted list n (event.c), linked through fprev/fnext. */
    uint32_t heap_index;
    struct Event *fprev, *fnext;
} Event;

#define EVENT_IN_LANE(n) (UINT32_MAX - (uint32_t)(n))

/* Global loop state; one machine per process. */
void event_loop_init(void);
void event_loop_fini(void);

void event_init(Event *ev, const char *name, EventFunc *fn, void *opaque);
/* (Re)schedule at absolute time @when; a time in the past means "now". */
void event_schedule(Event *ev, uint64_t when);
void event_schedule_in(Event *ev, uint64_t delta_ns);
void event_cancel(Event *ev);

static inline bool event_pending(const Event *ev)
{
    return ev->heap_index != 0;
}

extern uint64_t vclock_ns;      /* current virtual time */
extern uint64_t event_deadline; /* earliest queued deadline or VTIME_NEVER */

static inline uint64_t vclock_now(void)
{
    return vclock_ns;
}

/* True when some event is due at the current time. */
static inline bool event_due(void)
{
    return event_deadline <= vclock_ns;
}

/* Let virtual time pass (guest execution cost, stalls). */
static inline void vclock_advance(uint64_t ns)
{
    vclock_ns += ns;
}

/* Run every event due at or before now, in order; returns how many ran. */
unsigned event_run_due(void);
/* Move the clock to the next deadline; false when the queue is empty. */
bool event_advance_to_next(void);
unsigned event_queued(void);
/* Number of events run since init: the machine's event index. */
uint64_t event_count(void);

#endif
