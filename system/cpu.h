/* SPDX-License-Identifier: MIT */
/*
 * Virtual CPUs, guest threads, the scheduler, interrupt delivery by level,
 * spin locks and waitable events: the "hardware + kernel core" that guest
 * code (port/, miniports/, guest-tests/) runs on.
 *
 * Execution model (DESIGN.md, "Execution model"):
 *  - One host thread. Each guest thread is a coroutine bound to one vCPU.
 *    A vCPU runs one thread at a time; threads switch only when the running
 *    one waits or ends (no time slicing at PASSIVE level).
 *  - Guest code gives the machine control only at yield points: register
 *    accesses, port calls that touch shared state, spin-lock operations,
 *    IRQL changes, stalls. At each one the scheduler may switch vCPU and
 *    pending interrupts may be delivered.
 *  - Each vCPU has a level (the hardware side of IRQL): vector >> 4, as on
 *    x64 Windows. An interrupt is delivered only when its level is above
 *    the vCPU's current level, nested on the running stack; the vector is
 *    "in service" until its handler returns, and a level-triggered line
 *    still asserted then is pended again (local APIC IRR/ISR semantics).
 */
#ifndef SYSTEM_CPU_H
#define SYSTEM_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "system/event.h"

#define VCPU_MAX    64
#define IRQ_VECTORS 256

/* IRQL values, x64 Windows numbering. */
enum {
    LEVEL_PASSIVE = 0,
    LEVEL_APC = 1,
    LEVEL_DISPATCH = 2,
    LEVEL_DIRQL_MIN = 3, /* device interrupts: vectors 0x30..0xBF */
    LEVEL_DIRQL_MAX = 11,
    LEVEL_CLOCK = 13,
    LEVEL_IPI = 14,
    LEVEL_HIGH = 15,
};

static inline uint8_t vector_level(unsigned vector)
{
    return (uint8_t)(vector >> 4);
}

typedef enum SchedPolicy {
    SCHED_POLICY_FIFO,   /* run a vCPU until it blocks or its quantum ends */
    SCHED_POLICY_RANDOM, /* seeded: preempt at yield points with probability p */
    SCHED_POLICY_PCT,    /* seeded priorities with d priority-change points */
} SchedPolicy;

/* PCT depth d gives d - 1 priority change points. */
#define SCHED_PCT_MAX_DEPTH 17

typedef struct SchedConfig {
    SchedPolicy policy;
    uint64_t seed;
    double preempt;     /* SCHED_POLICY_RANDOM: probability per yield point */
    unsigned pct_depth; /* SCHED_POLICY_PCT: number of priority change points */
    unsigned quantum;   /* SCHED_POLICY_FIFO: yield points per turn */
} SchedConfig;

typedef struct VCpu VCpu;
typedef struct GuestThread GuestThread;
typedef struct GuestSpinLock GuestSpinLock;
typedef struct GuestEvent GuestEvent;

typedef void GuestThreadFunc(void *opaque);
typedef void IrqHandlerFunc(unsigned cpu, unsigned vector, void *opaque);

typedef enum ThreadState {
    THREAD_RUNNABLE,
    THREAD_WAITING,
    THREAD_DONE,
} ThreadState;

struct GuestSpinLock {
    const char *name;
    int owner;              /* vCPU index holding it, -1 when free */
    const char *owner_site; /* where it was taken, for deadlock reports */
    uint64_t acquisitions;
    uint64_t contentions;
};

#define GUEST_SPIN_LOCK_INIT(n)                                                \
    {                                                                          \
        .name = (n), .owner = -1                                               \
    }

struct GuestEvent {
    const char *name;
    bool signaled;
    bool auto_reset; /* SynchronizationEvent: one waiter released */
};

/* Machine-wide CPU state. */
bool cpus_init(unsigned n, const SchedConfig *cfg, GError **errp);
void cpus_fini(void);
unsigned cpus_count(void);

/* Threads */
GuestThread *guest_thread_create(unsigned cpu, const char *name,
                                 GuestThreadFunc *fn, void *opaque);
ThreadState guest_thread_state(const GuestThread *t);
GuestThread *guest_thread_self(void);
const char *guest_thread_name(const GuestThread *t);

/*
 * The first members of every vCPU's state, public so that the queries
 * below, asked on every register access and lock, inline (cpu.c's VCpu
 * begins with the same members; a static assertion there keeps them so).
 */
typedef struct VCpuHead {
    unsigned index;
    uint8_t level;
} VCpuHead;
/*
 * The vCPU running guest code; outside guest context cpu_none, whose index
 * reads as -1 and whose level is PASSIVE, so that the queries need no
 * test for "no vCPU".
 */
extern const VCpuHead *cpu_running;
extern const VCpuHead cpu_none;

/* The vCPU the caller runs on; -1 outside guest context. */
static inline int cpu_index(void)
{
    return (int)cpu_running->index;
}

static inline bool cpu_in_guest(void)
{
    return cpu_running != &cpu_none;
}

static inline uint8_t cpu_level(void)
{
    return cpu_running->level;
}
/* Does the calling vCPU hold @l? (Asked on every port lock operation.)
 * A free lock's owner is -1, cpu_none's index too. */
static inline bool guest_spin_held_by_me(const GuestSpinLock *l)
{
    return l->owner >= 0 && l->owner == (int)cpu_running->index;
}
/*
 * The yield gate (event.h's yield_gate), public so that the common case of
 * a yield point, which only counts, inlines into the lock and level
 * operations the port runs several times per I/O: a call there costs as
 * much as the test. The gate is what is left of the running vCPU's FIFO
 * turn, pinned at 0 when no FIFO turn runs (cpu.c says when), and closed
 * while no vCPU runs, while an event is due and while the running vCPU
 * has an interrupt pending above PASSIVE (masked or not), so that it
 * alone says "FIFO goes on here, and no level this vCPU can lower to
 * unmasks anything". Counting it down also counts the yield points
 * (cpu.c's n_yields()).
 */

/*
 * Do the next @n yield points on the running vCPU, at any level, change
 * nothing? FIFO keeps the vCPU past them, no event is due and no interrupt
 * can be delivered: each one then only counts (cpu_yield_pass()). None of
 * these can change between them, as nothing runs. Outside guest code the
 * gate is closed, so a caller there takes its slow path.
 */
static inline bool cpu_yield_passes(unsigned n)
{
    return yield_gate > n;
}

static inline void cpu_yield_pass(unsigned n)
{
    yield_gate -= n;
}

/* cpu_raise_level() outside its common case (reports and stops). */
uint8_t cpu_raise_level_slow(uint8_t level);
/* Raise to @level (>= current); returns the old level. Not a yield point:
 * inline, as it is asked around every miniport routine and lock. */
static inline uint8_t cpu_raise_level(uint8_t level)
{
    /* Not cpu_none: one of cpu.c's vCPUs, which are writable. */
    VCpuHead *c = (VCpuHead *)cpu_running;
    uint8_t old = c->level;

    if (G_LIKELY(level >= old && c != &cpu_none)) {
        c->level = level;
        return old;
    }
    return cpu_raise_level_slow(level);
}
/* cpu_lower_level() when its yield point may do something. */
void cpu_lower_level_slow(uint8_t level);
/* Lower to @level (<= current); pending interrupts may run before return. */
static inline void cpu_lower_level(uint8_t level)
{
    /* Written only once the yield test passed, which cpu_none fails. */
    VCpuHead *c = (VCpuHead *)cpu_running;

    if (G_LIKELY(level <= c->level && cpu_yield_passes(1))) {
        c->level = level;
        cpu_yield_pass(1);
        return;
    }
    cpu_lower_level_slow(level);
}
/* Depth of interrupt nesting on this vCPU (0 = thread context). */
unsigned cpu_interrupt_depth(void);

/* cpu_yield() when it may do something. */
void cpu_yield_slow(const char *why);
/* A yield point; @why names it for traces and the scheduler. */
static inline void cpu_yield(const char *why)
{
    if (G_LIKELY(cpu_yield_passes(1))) {
        cpu_yield_pass(1);
        return;
    }
    cpu_yield_slow(why);
}
/* Busy-wait @ns of virtual time; interrupts above the level still run. */
void cpu_stall(uint64_t ns);
/* Block the calling thread until @ns of virtual time passed (sleep). */
void guest_sleep(uint64_t ns);

/* Interrupts */
void irq_set_handler(unsigned vector, IrqHandlerFunc *fn, void *opaque,
                     const char *name);
/* Edge: set the vector pending on @cpu. */
void irq_raise(unsigned cpu, unsigned vector);
/* Level-triggered line feeding @vector on @cpu. */
void irq_set_line(unsigned cpu, unsigned vector, bool asserted);
bool irq_pending(unsigned cpu, unsigned vector);
/* Software interrupt at DISPATCH level on @cpu (DPC delivery). */
#define VECTOR_DISPATCH 0x2f
/* Interrupts delivered so far on @cpu. */
uint64_t irq_delivered(unsigned cpu);

/* Spin locks: a vCPU spinning on a held lock yields and is not scheduled
 * until the lock is released. @site names the caller for reports. */
void guest_spin_lock_init(GuestSpinLock *l, const char *name);
void guest_spin_lock(GuestSpinLock *l, const char *site);
bool guest_spin_trylock(GuestSpinLock *l, const char *site);
void guest_spin_unlock(GuestSpinLock *l);
/* The slow paths of the two below. */
uint8_t guest_spin_lock_raise_slow(GuestSpinLock *l, uint8_t level,
                                   const char *site);
void guest_spin_unlock_lower_slow(GuestSpinLock *l, uint8_t level);

/*
 * guest_spin_lock_raise_fast() but for the site, which the caller stores
 * in @l->owner_site on success (before anything can report on @l): a
 * caller whose site costs a lookup (the miniport routine running) then
 * makes it only once the lock is taken, for the vCPU put in *@cpu, which
 * is known then not to be cpu_none.
 */
static inline int guest_spin_take_fast(GuestSpinLock *l, uint8_t level,
                                       unsigned *cpu)
{
    /* Written only once the yield test passed, which cpu_none fails. */
    VCpuHead *c = (VCpuHead *)cpu_running;
    uint8_t old = c->level;

    if (G_LIKELY(level >= old && l->owner < 0 && cpu_yield_passes(1))) {
        c->level = level;
        cpu_yield_pass(1);
        *cpu = c->index;
        l->owner = (int)c->index;
        l->acquisitions++;
        return old;
    }
    return -1;
}

/*
 * The common case of guest_spin_lock_raise(): @l free, its yield point
 * only counts. Takes @l at @level (>= the current level, as it must be)
 * and returns the old level; -1, having done nothing, in any other case.
 * Inline, as the miniports take a lock per I/O: the port's own tests of
 * the lock and level before it then fold into these. (It leaves the
 * vCPU's spinning_on alone: that is read only while the vCPU spins on a
 * lock, and set just before.)
 */
static inline int guest_spin_lock_raise_fast(GuestSpinLock *l, uint8_t level,
                                             const char *site)
{
    unsigned cpu;
    int old = guest_spin_take_fast(l, level, &cpu);

    if (old >= 0) {
        l->owner_site = site;
    }
    return old;
}

/* cpu_raise_level(@level), then guest_spin_lock(@l, @site); returns the
 * old level. */
static inline uint8_t guest_spin_lock_raise(GuestSpinLock *l, uint8_t level,
                                            const char *site)
{
    int old = guest_spin_lock_raise_fast(l, level, site);

    return old >= 0 ? (uint8_t)old : guest_spin_lock_raise_slow(l, level, site);
}

/* The common case of guest_spin_unlock_lower(): this vCPU holds @l,
 * @level is not above the current one, both yield points only count.
 * Does it and returns true; false, having done nothing, otherwise. */
static inline bool guest_spin_unlock_lower_fast(GuestSpinLock *l, uint8_t level)
{
    VCpuHead *c = (VCpuHead *)cpu_running;

    /* Nothing runs between the two yield points, so the second sees what
     * the first saw; an open gate says that no level unmasks an interrupt.
     * (cpu_none fails the yield test, even though a free lock's owner is
     * its index.) */
    if (G_LIKELY(l->owner == (int)c->index && level <= c->level &&
                 cpu_yield_passes(2))) {
        l->owner = -1;
        l->owner_site = NULL;
        cpu_yield_pass(2);
        c->level = level;
        return true;
    }
    return false;
}

/* guest_spin_unlock(@l), then cpu_lower_level(@level): two yield points. */
static inline void guest_spin_unlock_lower(GuestSpinLock *l, uint8_t level)
{
    if (!guest_spin_unlock_lower_fast(l, level)) {
        guest_spin_unlock_lower_slow(l, level);
    }
}

/* Waitable events (KEVENT-like); waiting is allowed below DISPATCH only. */
void guest_event_init(GuestEvent *e, const char *name, bool auto_reset);
/* guest_event_set() of an event not signaled: wakes its waiters. */
void guest_event_set_slow(GuestEvent *e);
/* Inline: a batch of completions sets the same event once per request, and
 * no thread waits on a signaled event (a wait on one returns at once, a
 * set wakes the waiters), so all but the first only look. */
static inline void guest_event_set(GuestEvent *e)
{
    if (!e->signaled) {
        guest_event_set_slow(e);
    }
}
static inline void guest_event_clear(GuestEvent *e)
{
    e->signaled = false;
}
void guest_event_wait(GuestEvent *e);
/* Wait with a virtual-time limit; false on time-out. */
bool guest_event_wait_timeout(GuestEvent *e, uint64_t ns);

/* Running the machine */
typedef enum MachineStop {
    MACHINE_STOP_NONE,
    MACHINE_STOP_REQUESTED, /* machine_request_stop() */
    MACHINE_STOP_IDLE,      /* every thread finished, nothing queued */
    MACHINE_STOP_DEADLOCK,  /* every vCPU spins on a lock */
    MACHINE_STOP_HANG,      /* threads wait, nothing can wake them */
    MACHINE_STOP_LIMIT,     /* the virtual-time limit was reached */
} MachineStop;

/* Run until a stop condition; @time_limit is a virtual deadline. */
MachineStop cpus_run(uint64_t time_limit);
void machine_request_stop(int exit_code);
int machine_requested_exit_code(void);
/* Text of the last deadlock or hang report (owned by the machine). */
const char *cpus_stop_report(void);

/* Scheduler statistics (for tests and summaries). */
uint64_t sched_switches(void);
uint64_t sched_yields(void);
/* A hash of every scheduling decision so far: equal runs, equal hash. */
uint64_t sched_fingerprint(void);

#endif
