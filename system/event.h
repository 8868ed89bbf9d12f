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

/*
 * The scheduler's yield gate (cpu.h, cpu.c): the yield points the running
 * vCPU may pass without a look. Only cpu.c opens it, and only after it
 * looked at event_due(). The moment an event falls due while guest code
 * runs (scheduled for now, or the clock moved past a deadline) the gate
 * closes here, its count parked in yield_gate_parked for cpu.c to take
 * back, so that the yield fast path's one test of the gate also says "no
 * event due". Kept here, not in cpu.c, as the event loop runs without
 * vCPUs too.
 */
extern unsigned yield_gate, yield_gate_parked;

static inline void yield_gate_close(void)
{
    yield_gate_parked += yield_gate;
    yield_gate = 0;
}

/*
 * Runs of events served as one. An owner with many events due at the same
 * time that would run back to back (a bus's completions of one batch) may
 * queue a single Event for the run and add the rest to it, saving a
 * schedule and a dispatch each; the machine must not be able to tell.
 *
 * event_schedule_run() schedules @ev like event_schedule() and starts
 * watching @when. event_join() then says whether an event scheduled now
 * at @when would run right after @ev and whatever joined it before: @ev
 * is pending at that time and no other event has been scheduled at that
 * time since @ev was (nothing can come between them then: a later event
 * at that time has a later seq). On true the owner adds the work to @ev's
 * run; on false it must schedule it as an event of its own. Cancelling
 * parts of a run is the owner's business; the owner cancels @ev when
 * nothing is left of the run, as the events it stands for would be gone.
 *
 * The handler of @ev calls event_count_add(1) before serving each part
 * of the run after the first, so that event_count() (written into every
 * recording checkpoint) is at every moment what it would be with an event
 * per part. Parts never see event_due() or event_queued() differently:
 * those are read only by the scheduler, between handlers.
 */
void event_schedule_run(Event *ev, uint64_t when);

/* For the inline functions below only (event.c keeps them). */
extern uint64_t event_runs;         /* event_count() */
extern uint64_t event_run_when;     /* the time event_join() watches */
extern const Event *event_run_last; /* the event scheduled last at it,
                                        * NULL if unknown or no longer
                                        * queued there */

/*
 * An event scheduled now at @when would get the next seq, so it would run
 * after every queued event at that time: right after @ev exactly when no
 * other queued event at that time has a later seq than @ev. As every
 * scheduling at event_run_when updates event_run_last, and event.c clears
 * it when that event runs, is cancelled or moves, @ev being it says that
 * @ev is queued at event_run_when, last. (An event scheduled at that time
 * and cancelled since would not matter, but is not known here: then false,
 * which is only slower.) A time in the past means now, as for
 * event_schedule(); event_join_ahead() is for a caller whose @when never
 * is (a bus's completion, due at now plus a service time), saving the test.
 */
static inline bool event_join_ahead(const Event *ev, uint64_t when)
{
    return ev == event_run_last && when == event_run_when;
}

static inline bool event_join(const Event *ev, uint64_t when)
{
    return event_join_ahead(ev, when < vclock_ns ? vclock_ns : when);
}

static inline void event_count_add(unsigned n)
{
    event_runs += n;
}

/* Let virtual time pass (guest execution cost, stalls). */
static inline void vclock_advance(uint64_t ns)
{
    vclock_ns += ns;
    if (event_due()) {
        yield_gate_close();
    }
}

/* Run every event due at or before now, in order; returns how many ran. */
unsigned event_run_due(void);
/* Move the clock to the next deadline; false when the queue is empty. */
bool event_advance_to_next(void);
unsigned event_queued(void);
/* Number of events run since init: the machine's event index. */
uint64_t event_count(void);

#endif
