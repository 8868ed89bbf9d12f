/* SPDX-License-Identifier: MIT */
/*
 * The miniport boundary: the only file that calls the miniport's Hw*
 * routines. Each call gets the IRQL and the lock its DDI page documents,
 * is pushed on the calling vCPU's routine stack (what the verifier names
 * in its reports), and has its return code checked.
 *
 * IRQL and locks, per the DDI reference:
 *   HwStorFindAdapter, passive init, work items,
 *   query/start/remove unit control          PASSIVE_LEVEL, no lock
 *   HwStorInitialize                          DIRQL, interrupt lock
 *                                             (DISPATCH for virtual)
 *   HwStorBuildIo                             DISPATCH_LEVEL, no lock
 *   HwStorStartIo  full duplex                DISPATCH_LEVEL, StartIo lock
 *                  half duplex                DIRQL, interrupt lock
 *                  concurrent channels        DISPATCH_LEVEL, no lock
 *                  virtual miniport           caller's IRQL (<= DISPATCH)
 *   HwStorInterrupt                           DIRQL, interrupt lock
 *   HwMSInterruptRoutine                      DIRQL, interrupt lock or the
 *                                             message's lock (per message)
 *   HwStorDpcRoutine                          DISPATCH_LEVEL
 *   HwStorTimer                               as HwStorStartIo
 *   HwStorResetBus                            DISPATCH_LEVEL, StartIo lock
 *   ScsiStopAdapter / ScsiRestartAdapter      DIRQL, interrupt lock
 *   other adapter control, unit power         PASSIVE / DISPATCH
 */
#include <string.h>
#include "port/port.h"
#include "system/trace.h"

MpStack mp_stacks[VCPU_MAX];

const char *const mp_routine_names[MP_ROUTINE_COUNT] = {
    [MP_NONE] = "port code",
    [MP_DRIVER_ENTRY] = "DriverEntry",
    [MP_FIND_ADAPTER] = "HwStorFindAdapter",
    [MP_INITIALIZE] = "HwStorInitialize",
    [MP_PASSIVE_INIT] = "HwStorPassiveInitializeRoutine",
    [MP_BUILDIO] = "HwStorBuildIo",
    [MP_STARTIO] = "HwStorStartIo",
    [MP_INTERRUPT] = "HwStorInterrupt",
    [MP_MSI] = "HwStorMessageSignaledInterruptRoutine",
    [MP_DPC] = "HwStorDpcRoutine",
    [MP_TIMER] = "HwStorTimer",
    [MP_RESET_BUS] = "HwStorResetBus",
    [MP_ADAPTER_CONTROL] = "HwStorAdapterControl",
    [MP_UNIT_CONTROL] = "HwStorUnitControl",
    [MP_WORKITEM] = "HwStorWorkItem",
    [MP_TRACING] = "HwStorTracingEnabled",
    [MP_FREE_RESOURCES] = "HwStorFreeAdapterResources",
    [MP_SYNC_ACCESS] = "StorPortSynchronizeAccess routine",
    [MP_SG_EXECUTE] = "ExecutionRoutine (StorPortBuildScatterGatherList)",
    [MP_STATE_CHANGE] = "HwStorStateChange",
    [MP_SYSTEM_THREAD] = "system thread (StorPortCreateSystemThread)",
};

unsigned mp_depth(void)
{
    int c = cpu_index();
    return c >= 0 ? mp_stacks[c].depth : 0;
}

void mp_unwind(unsigned d)
{
    int c = cpu_index();

    if (c >= 0 && mp_stacks[c].depth > d) {
        mp_stacks[c].depth = d;
    }
}

void mp_reset(void)
{
    /* A machine stopped inside a miniport routine leaves frames behind;
     * the next machine starts with empty stacks. */
    memset(mp_stacks, 0, sizeof(mp_stacks));
}

const char *mp_routine_name(MpRoutine r)
{
    return r < MP_ROUTINE_COUNT ? mp_routine_names[r] : "?";
}

static const MpFrame *top(void)
{
    static const MpFrame none = {NULL, MP_NONE, false};
    int c = cpu_index();

    return c >= 0 ? &mp_stacks[c].frames[mp_stacks[c].depth] : &none;
}

MpRoutine mp_current(void)
{
    return top()->routine;
}

PortRequest *mp_current_request(void)
{
    int c = cpu_index();

    if (c < 0) {
        return NULL;
    }
    for (unsigned i = mp_stacks[c].depth; i > 0; i--) {
        if (mp_stacks[c].frames[i].req) {
            return mp_stacks[c].frames[i].req;
        }
    }
    return NULL;
}

bool mp_in_half_duplex_startio(void)
{
    return top()->half_duplex_startio;
}

/* The calling vCPU's routine stack. A guest thread stays on the vCPU it
 * was created on, so a caller may keep the answer across the miniport
 * routine it calls. */
static inline MpStack *my_stack(void)
{
    int c = cpu_index();

    g_assert(c >= 0);
    return &mp_stacks[c];
}

/* The trace points of entering and leaving a routine. */
static inline __attribute__((always_inline)) void trace_enter(MpRoutine r,
                                                              PortRequest *req)
{
    TRACE(mp_enter, "cpu=%d %s req=%" G_GUINT64_FORMAT, cpu_index(),
          mp_routine_names[r], req ? req->id : 0);
}

static inline __attribute__((always_inline)) void trace_exit(const MpFrame *f)
{
    TRACE(mp_exit, "cpu=%d %s", cpu_index(), mp_routine_names[f->routine]);
}

/*
 * Inlined at every call: four frames per I/O, and the compiler keeps them
 * out of line for the size of the trace points. Returns the frame pushed,
 * NULL when the push was refused; a caller that keeps it may pop it with
 * pop_frame() and retag it with retag_frame(), which then need not test
 * the stack again.
 */
static inline __attribute__((always_inline)) MpFrame *
push_on(MpStack *s, MpRoutine r, PortRequest *req, bool hd)
{
    MpFrame *f;

    if (s->depth == MP_MAX_DEPTH) {
        /* Only a miniport nesting calls without bound gets here (e.g.
         * StorPortSynchronizeAccess from its own callback, over and over):
         * report it and stop rather than abort; pops stay balanced. */
        if (!s->overflow++) {
            verifier_report(VC_BAD_CALL, NULL,
                            "miniport routines nested more than %d deep on "
                            "vCPU%d (entering %s)",
                            MP_MAX_DEPTH, cpu_index(), mp_routine_names[r]);
            machine_request_stop(EXIT_VERIFIER);
        }
        return NULL;
    }
    f = &s->frames[++s->depth];
    *f = (MpFrame){req, (uint8_t)r, hd};
    trace_enter(r, req);
    return f;
}

/* Pop the top frame, which push_on() pushed; the routine it called
 * returned, having popped what it pushed. */
static inline __attribute__((always_inline)) void pop_pushed(MpStack *s,
                                                             MpFrame *f)
{
    trace_exit(f);
    s->depth--;
}

static inline __attribute__((always_inline)) void pop_on(MpStack *s)
{
    if (s->overflow) {
        s->overflow--;
        return;
    }
    g_assert(s->depth > 0);
    pop_pushed(s, &s->frames[s->depth]);
}

/* pop_on(@s) for the frame @f that push_on(@s) returned: a pushed frame
 * is the top one again when its routine returns, and no overflow is left
 * above it, so only a refused push (NULL) needs the general pop. */
static inline __attribute__((always_inline)) void pop_frame(MpStack *s,
                                                            MpFrame *f)
{
    if (G_UNLIKELY(!f)) {
        pop_on(s);
        return;
    }
    pop_pushed(s, f);
}

static inline __attribute__((always_inline)) void
push(MpRoutine r, PortRequest *req, bool hd)
{
    (void)push_on(my_stack(), r, req, hd);
}

static inline __attribute__((always_inline)) void pop(void)
{
    pop_on(my_stack());
}

/*
 * pop_frame(@s, @f), then push_on(@s, @r, @f's request, @hd) into the same
 * slot; returns the frame now on top, as push_on() does. For a routine
 * called right after another for the same request with no yield point
 * between them, where nothing can look at the stack, a pushed frame is
 * retagged in place.
 */
static inline __attribute__((always_inline)) MpFrame *
retag_frame(MpStack *s, MpFrame *f, MpRoutine r, PortRequest *req, bool hd)
{
    if (G_UNLIKELY(!f)) {
        pop_on(s);
        return push_on(s, r, req, hd);
    }
    trace_exit(f);
    f->routine = (uint8_t)r;
    f->half_duplex_startio = hd;
    trace_enter(r, req);
    return f;
}

/* A routine documented for PASSIVE_LEVEL called above it is a port bug,
 * not the miniport's: assert it. */
static void expect_level(KIRQL want, MpRoutine r)
{
    if (cpu_level() != want) {
        g_error("port: %s called at IRQL %u, wants %u", mp_routine_names[r],
                cpu_level(), want);
    }
}

/* Take the lock @l at @level; returns the previous IRQL. Inline, as is
 * unlock_to(): without a lock (concurrent channels, a virtual miniport)
 * each is a level test, less than the call. */
static inline __attribute__((always_inline)) KIRQL
lock_at(GuestSpinLock *l, KIRQL level, const char *site)
{
    KIRQL old = cpu_level();

    if (l) {
        return guest_spin_lock_raise(l, MAX(level, old), site);
    }
    if (level > old) {
        cpu_raise_level(level);
    }
    return old;
}

static inline __attribute__((always_inline)) void unlock_to(GuestSpinLock *l,
                                                            KIRQL old)
{
    /* (The unlock's yield point leaves this vCPU's level as it was.) */
    if (l && cpu_level() > old) {
        guest_spin_unlock_lower(l, old);
        return;
    }
    if (l) {
        guest_spin_unlock(l);
    }
    if (cpu_level() > old) {
        cpu_lower_level(old);
    }
}

ULONG mp_driver_entry(PortDriver *d)
{
    ULONG st;

    expect_level(PASSIVE_LEVEL, MP_DRIVER_ENTRY);
    push(MP_DRIVER_ENTRY, NULL, false);
    /* DriverObject: the port's driver record; RegistryPath: the name. */
    st = d->driver_entry(d, d->name);
    pop();
    return st;
}

ULONG mp_find_adapter(PortAdapter *a, PBOOLEAN again)
{
    PortDriver *d = a->drv;
    const char *arg = g_hash_table_lookup(d->params, "DriverParameter");
    ULONG st;

    expect_level(PASSIVE_LEVEL, MP_FIND_ADAPTER);
    push(MP_FIND_ADAPTER, NULL, false);
    if (d->virtual_miniport) {
        PVIRTUAL_HW_FIND_ADAPTER fn =
            (PVIRTUAL_HW_FIND_ADAPTER)(void *)d->hw.HwFindAdapter;
        st =
            fn(a->devext, d->hw_context, NULL, NULL, (PCHAR)arg, a->cfg, again);
    } else {
        st = d->hw.HwFindAdapter(a->devext, d->hw_context, NULL, (PCHAR)arg,
                                 a->cfg, again);
    }
    pop();
    return st;
}

BOOLEAN mp_initialize(PortAdapter *a)
{
    BOOLEAN ok;
    KIRQL old;

    if (a->drv->virtual_miniport) {
        old = lock_at(NULL, DISPATCH_LEVEL, "HwStorInitialize");
        push(MP_INITIALIZE, NULL, false);
        ok = a->drv->hw.HwInitialize(a->devext);
        pop();
        unlock_to(NULL, old);
        return ok;
    }
    old = lock_at(&a->interrupt_lock, a->dirql, "HwStorInitialize");
    push(MP_INITIALIZE, NULL, false);
    ok = a->drv->hw.HwInitialize(a->devext);
    pop();
    unlock_to(&a->interrupt_lock, old);
    return ok;
}

BOOLEAN mp_passive_initialize(PortAdapter *a)
{
    BOOLEAN ok;

    expect_level(PASSIVE_LEVEL, MP_PASSIVE_INIT);
    push(MP_PASSIVE_INIT, NULL, false);
    ok = a->passive_init(a->devext);
    pop();
    return ok;
}

void mp_start_request(PortAdapter *a, PortRequest *req)
{
    HW_INITIALIZATION_DATA *hw = &a->drv->hw;
    bool virt = a->drv->virtual_miniport;
    KIRQL entry = cpu_level(), old;
    GuestSpinLock *lock = NULL;
    KIRQL level = DISPATCH_LEVEL;
    bool hd = false;
    MpStack *st = my_stack(); /* for both routines: see my_stack() */
    MpFrame *f = NULL;        /* the frame this pushed, for pop_frame() */
    bool framed = false;      /* HwStorBuildIo's frame is still up */
    BOOLEAN ok;

    req->state = REQ_STARTING;
    req->in_startio = true;
    if (!virt && entry < DISPATCH_LEVEL) {
        cpu_raise_level(DISPATCH_LEVEL);
    }
    if (hw->HwBuildIo && !virt) {
        f = push_on(st, MP_BUILDIO, req, false);
        ok = hw->HwBuildIo(a->devext, req->srb);
        if (!ok) {
            pop_frame(st, f);
            /* FALSE: the miniport completed the request in BuildIo. */
            req->in_startio = false;
            if (req->state == REQ_STARTING) {
                verifier_report(VC_BAD_CALL, req,
                                "HwStorBuildIo returned FALSE without "
                                "completing the request");
                SrbSetSrbStatus(req->srb, SRB_STATUS_ERROR);
                port_complete_from_miniport(a, req->srb);
            }
            goto out;
        }
        framed = true;
    }
    if (virt || a->concurrent_channels) {
        lock = NULL;
    } else if (a->sync == StorSynchronizeHalfDuplex) {
        lock = &a->interrupt_lock;
        level = a->dirql;
        hd = true;
    } else {
        lock = &a->startio_lock;
    }
    if (framed && !lock) {
        /* Without a lock nothing yields between the two routines (lock_at
         * only raises), so no one sees BuildIo's frame become StartIo's. */
        old = lock_at(NULL, level, "HwStorStartIo");
        f = retag_frame(st, f, MP_STARTIO, req, hd);
    } else {
        if (framed) {
            pop_frame(st, f);
        }
        old = lock_at(lock, virt ? cpu_level() : level, "HwStorStartIo");
        f = push_on(st, MP_STARTIO, req, hd);
    }
    ok = hw->HwStartIo(a->devext, req->srb);
    pop_frame(st, f);
    unlock_to(lock, old);
    req->in_startio = false;
    if (req->state == REQ_STARTING) {
        if (ok) {
            req->state = REQ_ACTIVE;
        } else {
            /* FALSE: not started and not completed; fail it. */
            TRACE(port_startio_false, "req=%" G_GUINT64_FORMAT, req->id);
            SrbSetSrbStatus(req->srb, SRB_STATUS_ERROR);
            port_complete_from_miniport(a, req->srb);
        }
    }
out:
    if (cpu_level() > entry) {
        cpu_lower_level(entry);
    }
}

BOOLEAN mp_interrupt(PortAdapter *a)
{
    BOOLEAN claimed;
    KIRQL old = lock_at(&a->interrupt_lock, a->dirql, "HwStorInterrupt");

    push(MP_INTERRUPT, NULL, false);
    claimed = a->drv->hw.HwInterrupt(a->devext);
    pop();
    unlock_to(&a->interrupt_lock, old);
    return claimed;
}

BOOLEAN mp_message_interrupt(PortAdapter *a, ULONG message)
{
    GuestSpinLock *l = a->isync == InterruptSynchronizePerMessage
                           ? &a->msg[message].lock
                           : &a->interrupt_lock;
    PHW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE fn = a->cfg->HwMSInterruptRoutine;
    BOOLEAN claimed;
    KIRQL old = lock_at(l, a->dirql, "HwMSInterruptRoutine");

    push(MP_MSI, NULL, false);
    claimed = fn(a->devext, message);
    pop();
    unlock_to(l, old);
    return claimed;
}

void mp_dpc(PortAdapter *a, PSTOR_DPC dpc, PHW_DPC_ROUTINE fn, PVOID a1,
            PVOID a2)
{
    push(MP_DPC, NULL, false);
    fn(dpc, a->devext, a1, a2);
    pop();
}

void mp_timer(PortTimer *t)
{
    PortAdapter *a = t->adapter;
    GuestSpinLock *lock = NULL;
    KIRQL level = DISPATCH_LEVEL, old;
    bool hd = false;

    /* The RequestTimerCall timer is synchronized with HwStorStartIo, as
     * the StartIo spin lock is documented to apply to it. */
    if (!t->is_ex && !a->drv->virtual_miniport && !a->concurrent_channels) {
        if (a->sync == StorSynchronizeHalfDuplex) {
            lock = &a->interrupt_lock;
            level = a->dirql;
            hd = true;
        } else {
            lock = &a->startio_lock;
        }
    }
    old = lock_at(lock, level, "HwStorTimer");
    push(MP_TIMER, NULL, hd);
    if (t->is_ex) {
        t->hw_timer_ex(a->devext, t->context);
    } else if (t->hw_timer) {
        t->hw_timer(a->devext);
    }
    pop();
    unlock_to(lock, old);
}

BOOLEAN mp_reset_bus(PortAdapter *a, ULONG path)
{
    BOOLEAN ok;
    KIRQL old = lock_at(a->drv->virtual_miniport ? NULL : &a->startio_lock,
                        DISPATCH_LEVEL, "HwStorResetBus");

    push(MP_RESET_BUS, NULL, false);
    ok = a->drv->hw.HwResetBus(a->devext, path);
    pop();
    unlock_to(a->drv->virtual_miniport ? NULL : &a->startio_lock, old);
    return ok;
}

SCSI_ADAPTER_CONTROL_STATUS
mp_adapter_control(PortAdapter *a, SCSI_ADAPTER_CONTROL_TYPE t, PVOID params)
{
    SCSI_ADAPTER_CONTROL_STATUS st;
    GuestSpinLock *lock = NULL;
    KIRQL level = PASSIVE_LEVEL, old;

    if ((t == ScsiStopAdapter || t == ScsiRestartAdapter) &&
        !a->drv->virtual_miniport) {
        lock = &a->interrupt_lock;
        level = a->dirql;
    }
    old = lock_at(lock, level, "HwStorAdapterControl");
    push(MP_ADAPTER_CONTROL, NULL, false);
    st = a->drv->hw.HwAdapterControl(a->devext, t, params);
    pop();
    unlock_to(lock, old);
    return st;
}

SCSI_UNIT_CONTROL_STATUS mp_unit_control(PortAdapter *a,
                                         SCSI_UNIT_CONTROL_TYPE t, PVOID params)
{
    SCSI_UNIT_CONTROL_STATUS st;
    KIRQL old = cpu_level();
    bool dispatch = t == ScsiUnitPower || t == ScsiUnitPoFxPowerRequired ||
                    t == ScsiUnitPoFxPowerActive ||
                    t == ScsiUnitPoFxPowerSetFState ||
                    t == ScsiUnitPoFxPowerControl;

    if (dispatch) {
        cpu_raise_level(DISPATCH_LEVEL);
    }
    push(MP_UNIT_CONTROL, NULL, false);
    st = a->drv->hw.HwUnitControl(a->devext, t, params);
    pop();
    if (dispatch) {
        cpu_lower_level(old);
    }
    return st;
}

void mp_work_item(PortAdapter *a, PHW_WORKITEM fn, PVOID ctx, PVOID worker)
{
    expect_level(PASSIVE_LEVEL, MP_WORKITEM);
    push(MP_WORKITEM, NULL, false);
    fn(a->devext, ctx, worker);
    pop();
}

void mp_tracing_enabled(PortAdapter *a, BOOLEAN enabled)
{
    if (!a->drv->hw.HwTracingEnabled) {
        return;
    }
    push(MP_TRACING, NULL, false);
    a->drv->hw.HwTracingEnabled(a->devext, enabled);
    pop();
}

void mp_free_resources(PortAdapter *a)
{
    if (!a->drv->hw.HwFreeAdapterResources) {
        return;
    }
    push(MP_FREE_RESOURCES, NULL, false);
    a->drv->hw.HwFreeAdapterResources(a->devext);
    pop();
}

BOOLEAN mp_synchronize_access(PortAdapter *a, PSTOR_SYNCHRONIZED_ACCESS fn,
                              PVOID ctx)
{
    bool held =
        guest_spin_held_by_me(&a->interrupt_lock) || a->drv->virtual_miniport;
    GuestSpinLock *lock = held ? NULL : &a->interrupt_lock;
    KIRQL old;
    BOOLEAN r;

    if (!held && cpu_level() > a->dirql) {
        verifier_report(VC_IRQL, mp_current_request(),
                        "StorPortSynchronizeAccess at IRQL %u, above the "
                        "adapter's DIRQL %u",
                        cpu_level(), a->dirql);
        return FALSE;
    }
    old = lock_at(lock, held ? cpu_level() : a->dirql,
                  "StorPortSynchronizeAccess");
    push(MP_SYNC_ACCESS, mp_current_request(), mp_in_half_duplex_startio());
    r = fn(a->devext, ctx);
    pop();
    unlock_to(lock, old);
    return r;
}

void mp_sg_execute(PortAdapter *a, PPOST_SCATTER_GATHER_EXECUTE fn,
                   PSTOR_SCATTER_GATHER_LIST sgl, PVOID ctx)
{
    /* Runs as a DPC, at DISPATCH_LEVEL; DeviceObject and Irp are not
     * used by miniports. */
    push(MP_SG_EXECUTE, NULL, false);
    fn(NULL, NULL, sgl, ctx);
    pop();
}

void mp_state_change(PortAdapter *a, PHW_STATE_CHANGE fn, PVOID ctx, SHORT type,
                     PVOID addr, ULONG status)
{
    GuestSpinLock *lock = a->drv->virtual_miniport ? NULL : &a->startio_lock;
    KIRQL old = lock_at(lock, DISPATCH_LEVEL, "HwStorStateChange");

    push(MP_STATE_CHANGE, NULL, false);
    fn(a->devext, ctx, type, addr, status);
    pop();
    unlock_to(lock, old);
}

void mp_system_thread(PortAdapter *a, PSTOR_THREAD_START_ROUTINE fn, PVOID ctx)
{
    expect_level(PASSIVE_LEVEL, MP_SYSTEM_THREAD);
    push(MP_SYSTEM_THREAD, NULL, false);
    fn(ctx);
    pop();
}
