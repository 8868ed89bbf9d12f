/* SPDX-License-Identifier: MIT */
/*
 * vCPUs, guest threads, the scheduler and the interrupt model.
 *
 * Every guest execution context (a thread, or a vCPU's idle loop) is a
 * coroutine. A vCPU has one active context: the one whose stack is "on the
 * CPU". The active context runs until a yield point, where it either goes
 * on (the common, cheap case) or switches back to the main loop, recording
 * why it stopped (its BlockKind). The main loop runs due events, asks the
 * scheduler for a vCPU that can make progress, and resumes its active
 * context. Everything that decides an order is either fixed by the rules
 * below or drawn from the machine seed.
 *
 * Interrupts follow the local APIC: a pending bitmap (IRR), an in-service
 * bitmap (ISR) and level-triggered line state per vCPU. The highest
 * pending vector is delivered when its level (vector >> 4) is above the
 * vCPU's level; it runs nested on the active stack at its own level; when
 * its handler returns the vector leaves service and, if its level line is
 * still asserted, is pended again.
 */
#include <limits.h>
#include <string.h>
#include "hw/core/memory.h"
#include "system/boundary.h"
#include "system/config.h"
#include "system/coroutine.h"
#include "system/cpu.h"
#include "system/event.h"
#include "system/rng.h"
#include "system/trace.h"

typedef enum BlockKind {
    BLOCK_NONE,  /* preempted at a yield point, or not started */
    BLOCK_SPIN,  /* spinning on a held spin lock */
    BLOCK_STALL, /* busy-waiting until stall_until */
    BLOCK_WAIT,  /* a thread waiting for an event */
    BLOCK_HALT,  /* the idle loop, nothing to do */
} BlockKind;

static const char *const block_names[] = {
    [BLOCK_NONE] = "running",   [BLOCK_SPIN] = "spinning",
    [BLOCK_STALL] = "stalling", [BLOCK_WAIT] = "waiting",
    [BLOCK_HALT] = "idle",
};

typedef struct Ctx {
    Coroutine *co;
    BlockKind block;
    GuestThread *thread; /* NULL for the idle loop */
} Ctx;

struct GuestThread {
    Ctx ctx;
    unsigned cpu;
    char *name;
    ThreadState state;
    GuestThreadFunc *fn;
    void *opaque;
    GuestEvent *waiting_on;
    bool wait_done;
    bool timed_out;
    Event timeout;
};

#define BITMAP_WORDS (IRQ_VECTORS / 64)

struct VCpu {
    unsigned index;
    uint8_t level;
    /* irr_top's level (-1 if none): the tests need no shift. */
    int irr_level;
    unsigned irq_depth;
    Ctx *irq_ctx; /* context holding nested interrupt frames */
    uint64_t irr[BITMAP_WORDS];
    int irr_top; /* the highest vector in irr, -1 if none */
    uint64_t isr[BITMAP_WORDS];
    uint64_t line[BITMAP_WORDS];
    Ctx *active;
    Ctx idle;
    GQueue runq; /* runnable threads waiting for the CPU */
    GuestSpinLock *spinning_on;
    const char *spin_site;
    uint64_t stall_until;
    Event wake; /* ends a stall in virtual time */
    uint64_t delivered;
    uint64_t storm; /* consecutive level re-deliveries */
    unsigned storm_vector;
    unsigned pct_priority;
};

typedef struct IrqVector {
    IrqHandlerFunc *fn;
    void *opaque;
    const char *name;
} IrqVector;

#define STORM_LIMIT 100000
#define PCT_HORIZON 100000

static VCpu *cpus;
static unsigned ncpus;
static SchedConfig sched;
static Rng sched_rng;
static GPtrArray *threads; /* every thread, in creation order */
static IrqVector vectors[IRQ_VECTORS];
static VCpu *cur; /* the vCPU running guest code, or NULL */
const VCpuHead cpu_none = {.index = UINT_MAX, .level = LEVEL_PASSIVE};
const VCpuHead *cpu_running = &cpu_none; /* cur, as cpu.h sees it */
G_STATIC_ASSERT(offsetof(VCpu, index) == offsetof(VCpuHead, index));
G_STATIC_ASSERT(offsetof(VCpu, level) == offsetof(VCpuHead, level));

/* (Clearing it closes the yield gate, which only gate_open() opens, for
 * the vCPU about to run: cpu.h's fast paths need no test for "no vCPU".) */
static inline void set_running(VCpu *c)
{
    cur = c;
    cpu_running = c ? (const VCpuHead *)c : &cpu_none;
    if (!c) {
        yield_gate_close();
    }
}
static int last_cpu = -1;
/*
 * sched_pick() found no vCPU ready, none stalls (time alone ends a stall),
 * and nothing has happened since that could make one ready: the main loop
 * need not ask again before it lets time pass (about once per I/O, for a
 * completion the guest waits for). What may make a vCPU ready outside
 * guest code (which runs only in run_cpu()) calls may_ready(): a pending
 * vector, a runnable thread, a lock set free by its initialisation.
 */
static bool none_ready;

static inline void may_ready(void)
{
    none_ready = false;
}
/*
 * Yield points left in the FIFO turn of the running vCPU: the yield gate
 * (event.h), with what an event falling due parked. The fast path of a
 * yield point tests the gate alone for "FIFO goes on here", so the quantum
 * is pinned at 0 while yield_fifo is false: another policy (where it would
 * stay sched.quantum, unused but for the turn's reset), a device=off
 * replay's oracle or a stop request.
 */
static inline unsigned quantum_left(void)
{
    return yield_gate + yield_gate_parked;
}
static bool stop_requested;
/*
 * FIFO policy, no yield oracle, no stop requested: yield_point()'s FIFO
 * rules apply. bnd_yield_oracle is set before cpus_run() and cleared only
 * with a stop (system/replay.c), so cpus_run() folds it in on entry.
 */
static bool yield_fifo;
static int stop_exit_code;
static MachineStop guest_stop = MACHINE_STOP_NONE;
static GString *stop_report;
/*
 * The yield points so far plus quantum_left(): the fast path counts a
 * yield point by counting the quantum down alone, and a yield point that
 * does not count the quantum down adds 1 here.
 */
static uint64_t yields_base;

/* Every yield point so far. */
static inline uint64_t n_yields(void)
{
    return yields_base - quantum_left();
}

/* A new quantum of @q (the yield points so far stay), parked: only
 * gate_open() opens the gate. */
static void quantum_set(unsigned q)
{
    yields_base = n_yields() + q;
    yield_gate = 0;
    yield_gate_parked = q;
}

/* An interrupt pending on @c that some level could let through: while
 * one is, @c's gate stays closed (cpu.h). Vectors of level PASSIVE are
 * never delivered. */
static inline bool irq_waiting(const VCpu *c)
{
    return c->irr_level > LEVEL_PASSIVE;
}

/*
 * Before guest code runs on @c and when @c's pending interrupts went down:
 * open the gate to the quantum left, unless an event is due (the main loop
 * ran them all, so none should be) or an interrupt waits on @c. While
 * guest code runs the gate closes whenever one falls due (event.h) or an
 * interrupt comes pending on the running vCPU (irr_set()).
 */
static inline void gate_open(const VCpu *c)
{
    yield_gate += yield_gate_parked;
    yield_gate_parked = 0;
    if (event_due() || irq_waiting(c)) {
        yield_gate_close();
    }
}
static uint64_t n_switches, fingerprint;
/* The yield point at which the running vCPU gave the CPU back, 0 when it
 * blocked instead: part of each scheduling decision's record, so a replay
 * without devices knows where the recorded vCPU left (boundary.h). */
static uint64_t yield_return;
static uint64_t pct_change_points[SCHED_PCT_MAX_DEPTH - 1];
static unsigned pct_next_change, pct_changes;

static void thread_entry(void *opaque);
static void idle_entry(void *opaque);
static void wake_event(void *opaque);
static void wait_timeout(void *opaque);

/* ---- bitmaps ---- */

static inline void bit_set(uint64_t *bm, unsigned v)
{
    bm[v / 64] |= 1ULL << (v % 64);
}

static inline void bit_clear(uint64_t *bm, unsigned v)
{
    bm[v / 64] &= ~(1ULL << (v % 64));
}

static inline bool bit_test(const uint64_t *bm, unsigned v)
{
    return bm[v / 64] & (1ULL << (v % 64));
}

static inline void irr_set(VCpu *c, unsigned v)
{
    may_ready();
    bit_set(c->irr, v);
    if ((int)v > c->irr_top) {
        c->irr_top = (int)v;
        c->irr_level = vector_level(v);
        if (c == cur && irq_waiting(c)) {
            yield_gate_close();
        }
    }
}

static inline void irr_clear(VCpu *c, unsigned v)
{
    bit_clear(c->irr, v);
    if ((int)v == c->irr_top) {
        int w = (int)v / 64;

        while (w >= 0 && !c->irr[w]) {
            w--;
        }
        c->irr_top = w < 0 ? -1 : w * 64 + 63 - __builtin_clzll(c->irr[w]);
        c->irr_level = c->irr_top >> 4;
    }
}

/* The vector to deliver now on @c, or -1. */
static inline int deliverable(const VCpu *c)
{
    /* No vector pending (irr_level -1) needs no test of its own. */
    return c->irr_level > (int)c->level ? c->irr_top : -1;
}

/* ---- set-up ---- */

bool cpus_init(unsigned n, const SchedConfig *cfg, GError **errp)
{
    if (n == 0 || n > VCPU_MAX) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "smp: %u vCPUs requested, 1..%d supported", n, VCPU_MAX);
        return false;
    }
    cpus_fini();
    ncpus = n;
    sched = *cfg;
    if (sched.quantum == 0) {
        sched.quantum = 64;
    }
    rng_seed(&sched_rng, sched.seed, 0x5c4ed);
    cpus = g_new0(VCpu, n);
    threads = g_ptr_array_new();
    memset(vectors, 0, sizeof(vectors));
    for (unsigned i = 0; i < n; i++) {
        VCpu *c = &cpus[i];
        c->index = i;
        c->irr_top = -1;
        c->irr_level = -1;
        c->idle.co = coroutine_create(idle_entry, c, COROUTINE_DEFAULT_STACK);
        c->idle.block = BLOCK_NONE;
        c->active = &c->idle;
        g_queue_init(&c->runq);
        event_init(&c->wake, "cpu_wake", wake_event, c);
    }
    if (sched.policy == SCHED_POLICY_PCT) {
        /* PCT: distinct random priorities (higher runs first), then d-1
         * points in the run where the running vCPU drops below all. */
        for (unsigned i = 0; i < n; i++) {
            cpus[i].pct_priority = 1000 + i;
        }
        for (unsigned i = n; i > 1; i--) {
            unsigned j = (unsigned)rng_below(&sched_rng, i);
            unsigned t = cpus[i - 1].pct_priority;
            cpus[i - 1].pct_priority = cpus[j].pct_priority;
            cpus[j].pct_priority = t;
        }
        pct_changes = MIN(sched.pct_depth ? sched.pct_depth - 1 : 0,
                          SCHED_PCT_MAX_DEPTH - 1u);
        for (unsigned i = 0; i < pct_changes; i++) {
            pct_change_points[i] = rng_below(&sched_rng, PCT_HORIZON);
        }
        /* sort ascending so they fire in order */
        for (unsigned i = 1; i < pct_changes; i++) {
            for (unsigned j = i;
                 j > 0 && pct_change_points[j] < pct_change_points[j - 1];
                 j--) {
                uint64_t t = pct_change_points[j];
                pct_change_points[j] = pct_change_points[j - 1];
                pct_change_points[j - 1] = t;
            }
        }
        pct_next_change = 0;
    }
    set_running(NULL);
    last_cpu = -1;
    none_ready = false;
    stop_requested = false;
    yield_fifo = sched.policy == SCHED_POLICY_FIFO;
    yields_base = yield_gate = yield_gate_parked = 0;
    quantum_set(yield_fifo ? sched.quantum : 0);
    stop_exit_code = 0;
    guest_stop = MACHINE_STOP_NONE;
    n_switches = yield_return = 0;
    fingerprint = 0xcbf29ce484222325ULL;
    if (!stop_report) {
        stop_report = g_string_new(NULL);
    }
    g_string_truncate(stop_report, 0);
    return true;
}

void cpus_fini(void)
{
    if (!cpus) {
        return;
    }
    for (guint i = 0; i < threads->len; i++) {
        GuestThread *t = g_ptr_array_index(threads, i);
        event_cancel(&t->timeout);
        coroutine_destroy(t->ctx.co);
        g_free(t->name);
        g_free(t);
    }
    g_ptr_array_free(threads, TRUE);
    threads = NULL;
    for (unsigned i = 0; i < ncpus; i++) {
        event_cancel(&cpus[i].wake);
        coroutine_destroy(cpus[i].idle.co);
        g_queue_clear(&cpus[i].runq);
    }
    g_free(cpus);
    cpus = NULL;
    ncpus = 0;
}

unsigned cpus_count(void)
{
    return ncpus;
}

/* ---- threads ---- */

GuestThread *guest_thread_create(unsigned cpu, const char *name,
                                 GuestThreadFunc *fn, void *opaque)
{
    GuestThread *t = g_new0(GuestThread, 1);

    g_assert(cpu < ncpus);
    t->cpu = cpu;
    t->name = g_strdup(name);
    t->fn = fn;
    t->opaque = opaque;
    t->state = THREAD_RUNNABLE;
    t->ctx.thread = t;
    t->ctx.block = BLOCK_NONE;
    t->ctx.co = coroutine_create(thread_entry, t, COROUTINE_DEFAULT_STACK);
    event_init(&t->timeout, "thread_timeout", wait_timeout, t);
    g_ptr_array_add(threads, t);
    g_queue_push_tail(&cpus[cpu].runq, t);
    may_ready();
    TRACE(sched_thread_create, "cpu=%u thread=%s", cpu, name);
    return t;
}

ThreadState guest_thread_state(const GuestThread *t)
{
    return t->state;
}

const char *guest_thread_name(const GuestThread *t)
{
    return t->name;
}

GuestThread *guest_thread_self(void)
{
    return cur ? cur->active->thread : NULL;
}

static void thread_entry(void *opaque)
{
    GuestThread *t = opaque;
    t->fn(t->opaque);
    t->state = THREAD_DONE;
    TRACE(sched_thread_exit, "cpu=%u thread=%s", t->cpu, t->name);
}

/* ---- switching ---- */

static G_GNUC_NO_INLINE void service_interrupts(VCpu *c);

/* Give control back to the main loop; @why says what we wait for. */
static void cpu_block(VCpu *c, BlockKind why)
{
    Ctx *me = c->active;

    me->block = why;
    coroutine_yield();
    /* Resumed: the main loop made us active again. */
    me->block = BLOCK_NONE;
    service_interrupts(c);
}

static void idle_entry(void *opaque)
{
    VCpu *c = opaque;

    for (;;) {
        service_interrupts(c);
        cpu_block(c, BLOCK_HALT);
    }
}

static void wake_event(void *opaque)
{
    /* Nothing to do: reaching this time is what the staller waits for. */
    (void)opaque;
}

unsigned cpu_interrupt_depth(void)
{
    return cur ? cur->irq_depth : 0;
}

static void guest_stop_now(MachineStop why, int code)
{
    guest_stop = why;
    stop_requested = true;
    yield_fifo = false;
    quantum_set(0);
    stop_exit_code = code;
    /* Never resumed: the machine is stopping. */
    coroutine_yield();
    g_assert_not_reached();
}

static bool loop_pass_in_place(VCpu *c);

/* Give the CPU back to the main loop at a yield point. */
static G_GNUC_NO_INLINE void yield_to_loop(VCpu *c, const char *why)
{
    TRACE(sched_yield, "cpu=%u at=%s", c->index, why);
    yield_return = n_yields();
    if (loop_pass_in_place(c)) {
        /* What cpu_block() does when the vCPU is resumed. */
        service_interrupts(c);
        return;
    }
    cpu_block(c, BLOCK_NONE);
}

/* cpu_yield() under device=off replay, a seeded policy or a stop request. */
static G_GNUC_NO_INLINE void yield_slow(VCpu *c, const char *why)
{
    if (G_UNLIKELY(bnd_yield_oracle != NULL) && !stop_requested) {
        /* Replay without devices: the recording says whether the vCPU
         * went back to the main loop here (boundary.h). */
        if (!bnd_yield_oracle(c->index)) {
            if (deliverable(c) >= 0) {
                service_interrupts(c);
            }
            return;
        }
    } else if (sched.policy != SCHED_POLICY_FIFO && !event_due() &&
               !stop_requested) {
        /* (FIFO comes here only to stop: yield_full() has the rest.) */
        bool preempt;
        if (sched.policy == SCHED_POLICY_RANDOM) {
            preempt = rng_chance(&sched_rng, sched.preempt);
        } else {
            preempt = pct_next_change < pct_changes &&
                      n_yields() >= pct_change_points[pct_next_change];
            if (preempt) {
                /* This vCPU drops below every initial priority. */
                c->pct_priority = pct_next_change++;
            }
        }
        if (!preempt) {
            if (deliverable(c) >= 0) {
                service_interrupts(c);
            }
            return;
        }
    }
    yield_to_loop(c, why);
}

/* A yield point on @c, the running vCPU, in full: what yield_point() does
 * when yield_passes() does not hold. */
static G_GNUC_NO_INLINE void yield_full(VCpu *c, const char *why)
{
    /* FIFO, the default: the vCPU goes on unless an event is due or its
     * quantum ran out. Everything else: yield_slow(). */
    if (G_LIKELY(yield_fifo)) {
        /* The gate may be closed for an event cancelled since it fell due
         * or for an interrupt masked here: take the quantum back from it. */
        yield_gate += yield_gate_parked;
        yield_gate_parked = 0;
        if (!event_due()) {
            /* Counting the quantum down counts the yield point. */
            if (--yield_gate > 0) {
                if (deliverable(c) >= 0) {
                    service_interrupts(c);
                } else if (irq_waiting(c)) {
                    yield_gate_close();
                }
                return;
            }
        } else {
            yields_base++;
        }
        yield_to_loop(c, why);
        return;
    }
    yields_base++;
    yield_slow(c, why);
}

static inline bool yield_passes(unsigned n)
{
    return cpu_yield_passes(n);
}

static inline void yield_pass(unsigned n)
{
    cpu_yield_pass(n);
}

/* A yield point on @c, the running vCPU (cpu_yield() without the look-up;
 * inlined into the lock and level operations that yield). */
static inline void yield_point(VCpu *c, const char *why)
{
    if (G_LIKELY(yield_passes(1))) {
        yield_pass(1);
        return;
    }
    yield_full(c, why);
}

void cpu_yield_slow(const char *why)
{
    g_assert(cur != NULL);
    yield_full(cur, why);
}

/* ---- levels and interrupts ---- */

uint8_t cpu_raise_level_slow(uint8_t level)
{
    VCpu *c = cur;
    uint8_t old;

    g_assert(c != NULL);
    old = c->level;
    if (level < old) {
        g_critical("cpu%u: raise to level %u below current %u", c->index, level,
                   old);
        guest_stop_now(MACHINE_STOP_REQUESTED, EXIT_VERIFIER);
    }
    c->level = level;
    return old;
}

static G_GNUC_NO_INLINE void lower_level_full(VCpu *c, uint8_t level)
{
    g_assert(c != NULL);
    if (level > c->level) {
        g_critical("cpu%u: lower to level %u above current %u", c->index, level,
                   c->level);
        guest_stop_now(MACHINE_STOP_REQUESTED, EXIT_VERIFIER);
    }
    c->level = level;
    /* Lowering the level is a yield point: what it unmasks runs there
     * (no yield point returns with an interrupt left deliverable). */
    yield_point(c, "lower_level");
}

void cpu_lower_level_slow(uint8_t level)
{
    lower_level_full(cur, level);
}

void irq_set_handler(unsigned vector, IrqHandlerFunc *fn, void *opaque,
                     const char *name)
{
    g_assert(vector < IRQ_VECTORS);
    vectors[vector].fn = fn;
    vectors[vector].opaque = opaque;
    vectors[vector].name = name;
}

void irq_raise(unsigned cpu, unsigned vector)
{
    g_assert(cpu < ncpus && vector < IRQ_VECTORS);
    irr_set(&cpus[cpu], vector);
    TRACE(irq_raise, "cpu=%u vector=0x%x", cpu, vector);
}

void irq_set_line(unsigned cpu, unsigned vector, bool asserted)
{
    VCpu *c;

    g_assert(cpu < ncpus && vector < IRQ_VECTORS);
    c = &cpus[cpu];
    if (asserted) {
        if (!bit_test(c->line, vector)) {
            bit_set(c->line, vector);
            if (!bit_test(c->isr, vector)) {
                irr_set(c, vector);
            }
        }
    } else {
        bit_clear(c->line, vector);
        /* A level interrupt that went away before delivery is not seen. */
        irr_clear(c, vector);
        if (c->storm_vector == vector) {
            c->storm = 0;
        }
    }
    TRACE(irq_line, "cpu=%u vector=0x%x %s", cpu, vector,
          asserted ? "asserted" : "deasserted");
}

bool irq_pending(unsigned cpu, unsigned vector)
{
    g_assert(cpu < ncpus && vector < IRQ_VECTORS);
    return bit_test(cpus[cpu].irr, vector);
}

uint64_t irq_delivered(unsigned cpu)
{
    g_assert(cpu < ncpus);
    return cpus[cpu].delivered;
}

static void deliver(VCpu *c, unsigned v)
{
    uint8_t old = c->level;
    IrqVector *iv = &vectors[v];

    irr_clear(c, v);
    /* Closed for @v: what is left may let it open (the handler's yield
     * points pass then, as they would have if it had come first). */
    gate_open(c);
    bit_set(c->isr, v);
    c->level = vector_level(v);
    if (c->irq_depth++ == 0) {
        c->irq_ctx = c->active;
    }
    c->delivered++;
    if (bnd_watched(BND_IRQ_DELIVER)) {
        BndAccess a = {
            .kind = BND_IRQ_DELIVER,
            .cpu = (int16_t)c->index,
            .addr = v,
            .value = old,
        };
        bnd_after(&a);
    } else {
        bnd_counts[BND_IRQ_DELIVER]++; /* what bnd_after() would do */
    }
    TRACE(irq_deliver, "cpu=%u vector=0x%x level=%u->%u depth=%u", c->index, v,
          old, c->level, c->irq_depth);
    if (iv->fn) {
        iv->fn(c->index, v, iv->opaque);
    } else {
        guest_error("cpu%u: interrupt on vector 0x%x with no handler", c->index,
                    v);
    }
    BND_NOTE_IRQ_RETURN((int)c->index, v);
    /* The handler may have lowered nothing: levels are restored here. */
    c->irq_depth--;
    bit_clear(c->isr, v);
    c->level = old;
    if (bit_test(c->line, v)) {
        if (c->storm_vector != v) {
            c->storm_vector = v;
            c->storm = 0;
        }
        if (++c->storm > STORM_LIMIT) {
            g_string_printf(stop_report,
                            "interrupt storm: vCPU%u vector "
                            "0x%x (%s) stayed asserted through %d handler "
                            "runs",
                            c->index, v, iv->name ? iv->name : "?",
                            STORM_LIMIT);
            guest_stop_now(MACHINE_STOP_HANG, EXIT_DEADLOCK);
        }
        irr_set(c, v);
    }
}

static G_GNUC_NO_INLINE void service_interrupts(VCpu *c)
{
    int v;

    while ((v = deliverable(c)) >= 0) {
        deliver(c, (unsigned)v);
    }
}

/* ---- stalls and sleeps ---- */

void cpu_stall(uint64_t ns)
{
    VCpu *c = cur;
    uint64_t until;

    g_assert(c != NULL);
    if (ns == 0) {
        cpu_yield("stall");
        return;
    }
    until = vclock_now() + ns;
    while (vclock_now() < until) {
        /* An interrupt handler run in between may stall too and move the
         * shared wake-up; set ours again on every turn. */
        c->stall_until = until;
        event_schedule(&c->wake, until);
        cpu_block(c, BLOCK_STALL);
    }
}

/* ---- spin locks ---- */

void guest_spin_lock_init(GuestSpinLock *l, const char *name)
{
    memset(l, 0, sizeof(*l));
    l->name = name;
    l->owner = -1;
    may_ready();
}

static inline void spin_take(VCpu *c, GuestSpinLock *l, const char *site)
{
    c->spinning_on = NULL;
    l->owner = (int)c->index;
    l->owner_site = site;
    l->acquisitions++;
}

/* guest_spin_lock() when its yield point may do something or @l is held. */
static G_GNUC_NO_INLINE void spin_lock_full(VCpu *c, GuestSpinLock *l,
                                            const char *site)
{
    g_assert(c != NULL);
    yield_point(c, "spin_lock");
    if (l->owner >= 0) {
        l->contentions++;
        TRACE(sched_spin, "cpu=%u lock=%s held by cpu%d", c->index, l->name,
              l->owner);
    }
    while (l->owner >= 0) {
        c->spinning_on = l;
        c->spin_site = site;
        cpu_block(c, BLOCK_SPIN);
    }
    spin_take(c, l, site);
}

/* The common case first: a free lock and a yield point that only counts
 * (its order against the owner test does not matter then: nothing runs). */
static inline void spin_lock(VCpu *c, GuestSpinLock *l, const char *site)
{
    if (G_LIKELY(c != NULL && l->owner < 0 && yield_passes(1))) {
        yield_pass(1);
        spin_take(c, l, site);
        return;
    }
    spin_lock_full(c, l, site);
}

void guest_spin_lock(GuestSpinLock *l, const char *site)
{
    spin_lock(cur, l, site);
}

uint8_t guest_spin_lock_raise_slow(GuestSpinLock *l, uint8_t level,
                                   const char *site)
{
    uint8_t old = cpu_raise_level(level);

    spin_lock(cur, l, site);
    return old;
}

bool guest_spin_trylock(GuestSpinLock *l, const char *site)
{
    VCpu *c = cur;

    g_assert(c != NULL);
    yield_point(c, "spin_trylock");
    if (l->owner >= 0) {
        return false;
    }
    l->owner = (int)c->index;
    l->owner_site = site;
    l->acquisitions++;
    return true;
}

static G_GNUC_NO_INLINE void spin_unlock_bad(VCpu *c, GuestSpinLock *l)
{
    g_assert(c != NULL);
    guest_error("cpu%u releases spin lock '%s' owned by %d", c->index, l->name,
                l->owner);
}

void guest_spin_unlock(GuestSpinLock *l)
{
    VCpu *c = cur;

    if (G_UNLIKELY(c == NULL || l->owner != (int)c->index)) {
        spin_unlock_bad(c, l);
        return;
    }
    l->owner = -1;
    l->owner_site = NULL;
    yield_point(c, "spin_unlock");
}

void guest_spin_unlock_lower_slow(GuestSpinLock *l, uint8_t level)
{
    guest_spin_unlock(l);
    cpu_lower_level(level);
}

/* ---- events ---- */

void guest_event_init(GuestEvent *e, const char *name, bool auto_reset)
{
    e->name = name;
    e->signaled = false;
    e->auto_reset = auto_reset;
}

static void make_runnable(GuestThread *t)
{
    VCpu *c = &cpus[t->cpu];

    t->state = THREAD_RUNNABLE;
    may_ready();
    if (c->active != &t->ctx) {
        g_queue_push_tail(&c->runq, t);
    }
}

void guest_event_set_slow(GuestEvent *e)
{
    e->signaled = true;
    for (guint i = 0; i < threads->len; i++) {
        GuestThread *t = g_ptr_array_index(threads, i);
        if (t->state != THREAD_WAITING || t->waiting_on != e) {
            continue;
        }
        t->waiting_on = NULL;
        t->wait_done = true;
        event_cancel(&t->timeout);
        make_runnable(t);
        if (e->auto_reset) {
            e->signaled = false; /* consumed by this one waiter */
            break;
        }
    }
}

static void wait_timeout(void *opaque)
{
    GuestThread *t = opaque;

    if (t->state == THREAD_WAITING) {
        t->waiting_on = NULL;
        t->wait_done = true;
        t->timed_out = true;
        make_runnable(t);
    }
}

static bool event_wait(GuestEvent *e, uint64_t ns, bool timed)
{
    VCpu *c = cur;
    GuestThread *t;

    if (!c || !c->active->thread || c->level >= LEVEL_DISPATCH ||
        c->irq_depth) {
        g_critical("wait on '%s' outside a thread or at level %u", e->name,
                   c ? c->level : 0);
        if (c) {
            guest_stop_now(MACHINE_STOP_REQUESTED, EXIT_VERIFIER);
        }
        return false;
    }
    t = c->active->thread;
    cpu_yield("wait");
    if (e->signaled) {
        if (e->auto_reset) {
            e->signaled = false;
        }
        return true;
    }
    t->state = THREAD_WAITING;
    t->waiting_on = e;
    t->wait_done = false;
    t->timed_out = false;
    if (timed) {
        event_schedule_in(&t->timeout, ns);
    }
    TRACE(sched_wait, "cpu=%u thread=%s event=%s", c->index, t->name, e->name);
    while (!t->wait_done) {
        cpu_block(c, BLOCK_WAIT);
        c = cur; /* same vCPU: threads are bound */
    }
    return !t->timed_out;
}

void guest_event_wait(GuestEvent *e)
{
    event_wait(e, 0, false);
}

bool guest_event_wait_timeout(GuestEvent *e, uint64_t ns)
{
    return event_wait(e, ns, true);
}

void guest_sleep(uint64_t ns)
{
    GuestEvent never;

    guest_event_init(&never, "sleep", false);
    event_wait(&never, ns, true);
}

/* ---- the main loop ---- */

/* Can @c make progress if resumed? Also switches its active context when
 * its thread blocked and another thread can use the CPU. */
static bool cpu_ready(VCpu *c)
{
    Ctx *a = c->active;
    bool irq = deliverable(c) >= 0;

    switch (a->block) {
    case BLOCK_NONE:
        return true;
    case BLOCK_SPIN:
        return c->spinning_on->owner < 0 || irq;
    case BLOCK_STALL:
        return vclock_now() >= c->stall_until || irq;
    case BLOCK_WAIT:
        if (a->thread->wait_done || irq) {
            return true;
        }
        return c->irq_depth == 0 && c->runq.head;
    case BLOCK_HALT:
        return irq || (c->irq_depth == 0 && c->runq.head);
    }
    return false;
}

/* Pick the context to resume on @c (called when cpu_ready(c)). */
static Ctx *cpu_context(VCpu *c)
{
    Ctx *a = c->active;

    if (c->irq_depth == 0 && deliverable(c) < 0 && c->runq.head &&
        (a->block == BLOCK_HALT ||
         (a->block == BLOCK_WAIT && !a->thread->wait_done))) {
        GuestThread *t = g_queue_pop_head(&c->runq);
        c->active = &t->ctx;
        TRACE(sched_thread_switch, "cpu=%u -> thread=%s", c->index, t->name);
    }
    return c->active;
}

/* The @k-th (from 0) vCPU in @mask, which has more than @k. */
static inline int mask_nth(uint64_t mask, unsigned k)
{
    while (k--) {
        mask &= mask - 1;
    }
    return __builtin_ctzll(mask);
}

/*
 * The candidates are the vCPUs set in a mask of cpu_ready() (VCPU_MAX is
 * 64), in index order: no array of them to fill on every pick, which the
 * main loop makes a few times per batch of I/Os.
 */
static int sched_pick(void)
{
    uint64_t mask = 0;
    int pick = -1;

    for (unsigned i = 0; i < ncpus; i++) {
        if (cpu_ready(&cpus[i])) {
            mask |= 1ULL << i;
        }
    }
    if (mask == 0) {
        return -1;
    }
    switch (sched.policy) {
    case SCHED_POLICY_FIFO:
        /* Keep the last vCPU while its quantum lasts, else round-robin:
         * the first candidate above it, or the first. Under a replay's
         * yield oracle the quantum is pinned at 0 but would be whole: no
         * yield point counts it down then. */
        if (last_cpu >= 0 && (quantum_left() > 0 || !yield_fifo) &&
            (mask & (1ULL << last_cpu))) {
            pick = last_cpu;
        } else {
            /* (Shifted in two steps: last_cpu + 1 may be 64.) */
            uint64_t above = last_cpu < 0 ? mask : mask >> last_cpu >> 1;

            pick = above ? last_cpu + 1 + __builtin_ctzll(above)
                         : __builtin_ctzll(mask);
        }
        break;
    case SCHED_POLICY_RANDOM:
        pick = mask_nth(
            mask, (unsigned)rng_below(&sched_rng, __builtin_popcountll(mask)));
        break;
    case SCHED_POLICY_PCT:
        pick = __builtin_ctzll(mask);
        for (uint64_t m = mask & (mask - 1); m; m &= m - 1) {
            int k = __builtin_ctzll(m);
            if (cpus[k].pct_priority > cpus[pick].pct_priority) {
                pick = k;
            }
        }
        break;
    }

    if (bnd_watched(BND_SCHED)) {
        BndAccess a = {
            .kind = BND_SCHED,
            .cpu = (int16_t)pick,
            .addr = mask,
            .value = (uint64_t)pick,
            .len = yield_return,
        };
        if (bnd_before(&a)) {
            /* Replay dictates the pick; it must be a ready vCPU. */
            if (a.value < ncpus && (mask & (1ULL << (a.value % 64)))) {
                pick = (int)a.value;
            }
        }
        a.value = (uint64_t)pick;
        a.ok = true;
        bnd_after(&a);
    } else {
        bnd_counts[BND_SCHED]++; /* what bnd_after() would do */
    }
    fingerprint =
        (fingerprint ^ (n_yields() * 131 + (uint64_t)pick)) * 0x100000001b3ULL;
    return pick;
}

/* vCPU @i gets the CPU: returns the context to resume. */
static Ctx *cpu_turn(int i)
{
    Ctx *ctx;

    if (yield_fifo && (i != last_cpu || quantum_left() == 0)) {
        quantum_set(sched.quantum);
    }
    gate_open(&cpus[i]);
    if (i != last_cpu) {
        n_switches++;
    }
    last_cpu = i;
    ctx = cpu_context(&cpus[i]);
    yield_return = 0;
    return ctx;
}

/* A pick loop_pass_in_place() made for the main loop to run, or -1. */
static int next_pick = -1;

static void run_cpu(int i)
{
    do {
        VCpu *c = &cpus[i];
        Ctx *ctx = cpu_turn(i);

        set_running(c);
        coroutine_enter(ctx->co);
        set_running(NULL);
        none_ready = false; /* guest code ran */
        if (coroutine_finished(ctx->co)) {
            /* The thread returned: the CPU goes to the next one or idles. */
            g_assert(ctx->thread && c->irq_depth == 0);
            c->active = g_queue_is_empty(&c->runq)
                            ? &c->idle
                            : &((GuestThread *)g_queue_pop_head(&c->runq))->ctx;
        }
        i = next_pick;
        next_pick = -1;
    } while (i >= 0);
}

/*
 * The main loop's pass (cpus_run()) for @c, which gives the CPU back at a
 * yield point, run here on its stack: due events, then the scheduler's
 * pick. True when the pick is @c (the common case: an event was due), which
 * then goes on without two coroutine switches and a trip round the loop.
 * Otherwise the caller returns to the loop, which runs next_pick or stops.
 * Everything happens as in the loop, in the same order, @c not running.
 */
static bool loop_pass_in_place(VCpu *c)
{
    int i;

    if (stop_requested) {
        return false;
    }
    set_running(NULL);
    event_run_due();
    if (stop_requested) {
        return false;
    }
    i = sched_pick(); /* never -1: @c is ready */
    if (i != (int)c->index) {
        next_pick = i;
        return false;
    }
    /* cpu_turn(i) for the vCPU that ran last: its active context, which
     * blocked on nothing, stays. */
    if (yield_fifo && quantum_left() == 0) {
        quantum_set(sched.quantum);
    }
    gate_open(c);
    yield_return = 0;
    set_running(c);
    return true;
}

static void report_stuck(void)
{
    GString *r = stop_report;

    for (unsigned i = 0; i < ncpus; i++) {
        VCpu *c = &cpus[i];
        Ctx *a = c->active;
        const char *who = a->thread ? a->thread->name : "idle";

        g_string_append_printf(r, "  vCPU%u: %s (context '%s', level %u", i,
                               block_names[a->block], who, c->level);
        if (c->irq_depth) {
            g_string_append_printf(r, ", %u interrupt(s) nested", c->irq_depth);
        }
        g_string_append(r, ")");
        if (a->block == BLOCK_SPIN) {
            GuestSpinLock *l = c->spinning_on;
            g_string_append_printf(r,
                                   " on lock '%s' at %s, held by vCPU%d "
                                   "(taken at %s)",
                                   l->name, c->spin_site ? c->spin_site : "?",
                                   l->owner,
                                   l->owner_site ? l->owner_site : "?");
        } else if (a->block == BLOCK_WAIT && a->thread->waiting_on) {
            g_string_append_printf(r, " for event '%s'",
                                   a->thread->waiting_on->name);
        }
        g_string_append_c(r, '\n');
    }
    for (guint i = 0; i < threads->len; i++) {
        GuestThread *t = g_ptr_array_index(threads, i);
        if (t->state == THREAD_WAITING && cpus[t->cpu].active != &t->ctx) {
            g_string_append_printf(r,
                                   "  thread '%s' (vCPU%u) waits for "
                                   "event '%s'\n",
                                   t->name, t->cpu,
                                   t->waiting_on ? t->waiting_on->name : "?");
        }
    }
}

static bool stalling(void)
{
    for (unsigned k = 0; k < ncpus; k++) {
        if (cpus[k].active->block == BLOCK_STALL) {
            return true;
        }
    }
    return false;
}

MachineStop cpus_run(uint64_t time_limit)
{
    bool fifo;

    g_assert(cpus != NULL && cur == NULL);
    none_ready = false; /* the caller may have changed anything */
    fifo = sched.policy == SCHED_POLICY_FIFO && !stop_requested &&
           bnd_yield_oracle == NULL;
    if (fifo != yield_fifo) {
        /* A replay without devices came or went: under it every yield
         * point asks the oracle, and nothing counts the quantum down. */
        yield_fifo = fifo;
        quantum_set(fifo ? sched.quantum : 0);
    }
    g_string_truncate(stop_report, 0);
    for (;;) {
        if (stop_requested) {
            return guest_stop != MACHINE_STOP_NONE ? guest_stop
                                                   : MACHINE_STOP_REQUESTED;
        }
        event_run_due();
        if (stop_requested) {
            continue;
        }
        if (!none_ready) {
            int i = sched_pick();
            if (i >= 0) {
                run_cpu(i);
                continue;
            }
            none_ready = !stalling();
        }
        if (event_queued()) {
            if (time_limit && event_deadline > time_limit) {
                g_string_printf(stop_report,
                                "virtual time limit %" G_GUINT64_FORMAT
                                " ns reached\n",
                                time_limit);
                report_stuck();
                return MACHINE_STOP_LIMIT;
            }
            event_advance_to_next();
            continue;
        }
        bool spinning = false, waiting = false;
        for (unsigned k = 0; k < ncpus; k++) {
            spinning |= cpus[k].active->block == BLOCK_SPIN;
        }
        for (guint k = 0; k < threads->len; k++) {
            GuestThread *t = g_ptr_array_index(threads, k);
            waiting |= t->state == THREAD_WAITING;
        }
        if (spinning) {
            g_string_printf(stop_report,
                            "deadlock at %" G_GUINT64_FORMAT
                            " ns: no vCPU can make progress\n",
                            vclock_now());
            report_stuck();
            return MACHINE_STOP_DEADLOCK;
        }
        if (waiting) {
            g_string_printf(stop_report,
                            "hang at %" G_GUINT64_FORMAT " ns: "
                            "threads wait and nothing is pending that could "
                            "wake them\n",
                            vclock_now());
            report_stuck();
            return MACHINE_STOP_HANG;
        }
        return MACHINE_STOP_IDLE;
    }
}

void machine_request_stop(int exit_code)
{
    stop_requested = true;
    yield_fifo = false;
    quantum_set(0);
    stop_exit_code = exit_code;
}

int machine_requested_exit_code(void)
{
    return stop_exit_code;
}

const char *cpus_stop_report(void)
{
    return stop_report ? stop_report->str : "";
}

uint64_t sched_switches(void)
{
    return n_switches;
}

uint64_t sched_yields(void)
{
    return n_yields();
}

uint64_t sched_fingerprint(void)
{
    return fingerprint;
}
