/* SPDX-License-Identifier: MIT */
/*
 * The guest kernel services Storport rests on: IRQL, DPCs (per-vCPU queues
 * drained by the DISPATCH-level software interrupt), timers on the virtual
 * clock, the worker thread behind StorPortQueueWorkItem, spin locks with
 * their IRQL rules, pool, stalls and time.
 *
 * A timer or device event fires in the machine's main loop, outside any
 * vCPU; it only queues port work on a vCPU and requests the DISPATCH
 * software interrupt there, so every miniport routine runs on a vCPU at
 * the documented IRQL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "hw/core/ram.h"
#include "port/port.h"
#include "system/fault.h"
#include "system/trace.h"

/* 2026-01-01T00:00:00Z in 100 ns units since 1601: the virtual epoch. */
#define PORT_EPOCH_100NS 134116992000000000LL

typedef struct PortDpc {
    PortWork work; /* must be first: the queue links it */
    PortAdapter *adapter;
    PHW_DPC_ROUTINE routine;
    PVOID arg1, arg2;
} PortDpc;

G_STATIC_ASSERT(sizeof(PortDpc) <= sizeof(KDPC));

struct PortWorkItem {
    PortAdapter *adapter;
    PHW_WORKITEM fn;
    PVOID context;
    bool queued;
};

static PortWork *dpc_head[VCPU_MAX], *dpc_tail[VCPU_MAX];
static bool dpc_draining[VCPU_MAX]; /* dpc_dispatch() is running there */

/* ---- IRQL ---- */

KIRQL port_raise(KIRQL level)
{
    if (level < cpu_level()) {
        verifier_report(VC_IRQL, NULL, "raise to IRQL %u from higher IRQL %u",
                        level, cpu_level());
        return cpu_level();
    }
    return cpu_raise_level(level);
}

void port_lower(KIRQL old)
{
    if (old > cpu_level()) {
        verifier_report(VC_IRQL, NULL, "lower to IRQL %u from lower IRQL %u",
                        old, cpu_level());
        return;
    }
    cpu_lower_level(old);
}

/* ---- DPC queues ---- */

static void dpc_dispatch(unsigned cpu, unsigned vector, void *opaque)
{
    PortWork *w;

    /* Items queued while draining run in this same pass. */
    dpc_draining[cpu] = true;
    while ((w = dpc_head[cpu])) {
        dpc_head[cpu] = w->next;
        if (!dpc_head[cpu]) {
            dpc_tail[cpu] = NULL;
        }
        w->next = NULL;
        w->queued = false;
        w->fn(w);
    }
    dpc_draining[cpu] = false;
}

bool port_work_queue(PortWork *w, unsigned cpu)
{
    if (w->queued) {
        return false;
    }
    g_assert(cpu < cpus_count());
    w->queued = true;
    w->next = NULL;
    if (dpc_tail[cpu]) {
        /* The interrupt that drains the queue is already requested. */
        dpc_tail[cpu]->next = w;
        dpc_tail[cpu] = w;
        return true;
    }
    dpc_head[cpu] = dpc_tail[cpu] = w;
    /* Like KeInsertQueueDpc: a DISPATCH_LEVEL software interrupt only
     * when the queue was empty and is not being drained (the drain
     * takes what is queued meanwhile). */
    if (!dpc_draining[cpu]) {
        irq_raise(cpu, VECTOR_DISPATCH);
    }
    return true;
}

bool port_work_cancel(PortWork *w)
{
    if (!w->queued) {
        return false;
    }
    for (unsigned c = 0; c < cpus_count(); c++) {
        PortWork **pp = &dpc_head[c], *prev = NULL;
        for (; *pp; prev = *pp, pp = &(*pp)->next) {
            if (*pp == w) {
                *pp = w->next;
                if (dpc_tail[c] == w) {
                    dpc_tail[c] = prev;
                }
                w->queued = false;
                w->next = NULL;
                return true;
            }
        }
    }
    g_assert_not_reached();
}

void port_kernel_init(void)
{
    memset(dpc_head, 0, sizeof(dpc_head));
    memset(dpc_tail, 0, sizeof(dpc_tail));
    memset(dpc_draining, 0, sizeof(dpc_draining));
    irq_set_handler(VECTOR_DISPATCH, dpc_dispatch, NULL, "dpc");
}

void port_kernel_fini(void)
{
    memset(dpc_head, 0, sizeof(dpc_head));
    memset(dpc_tail, 0, sizeof(dpc_tail));
    memset(dpc_draining, 0, sizeof(dpc_draining));
}

/* ---- miniport DPCs ---- */

static void dpc_run(PortWork *w)
{
    PortDpc *d = (PortDpc *)w;
    mp_dpc(d->adapter, (PSTOR_DPC)d, d->routine, d->arg1, d->arg2);
}

void port_dpc_init(PSTOR_DPC dpc, PortAdapter *a, PHW_DPC_ROUTINE routine)
{
    PortDpc *d = (PortDpc *)&dpc->Dpc;
    GuestSpinLock *lock = g_new0(GuestSpinLock, 1);

    memset(d, 0, sizeof(*d));
    d->work.fn = dpc_run;
    d->adapter = a;
    d->routine = routine;
    guest_spin_lock_init(lock, "DpcLock");
    g_ptr_array_add(a->dpc_locks, lock);
    dpc->Lock = (STOR_KSPIN_LOCK)(uintptr_t)lock;
}

static PortDpc *dpc_checked(PSTOR_DPC dpc, const char *routine)
{
    PortDpc *d = dpc ? (PortDpc *)&dpc->Dpc : NULL;

    if (!d || d->work.fn != dpc_run) {
        verifier_report(VC_BAD_CALL, NULL,
                        "%s on a STOR_DPC that StorPortInitializeDpc never "
                        "initialized (%p)",
                        routine, (void *)dpc);
        return NULL;
    }
    return d;
}

BOOLEAN port_dpc_issue(PSTOR_DPC dpc, PVOID arg1, PVOID arg2)
{
    PortDpc *d = dpc_checked(dpc, "StorPortIssueDpc");
    int cpu = cpu_index();

    if (!d) {
        return FALSE;
    }
    if (d->work.queued) {
        return FALSE;
    }
    d->arg1 = arg1;
    d->arg2 = arg2;
    return port_work_queue(&d->work, cpu < 0 ? 0 : (unsigned)cpu);
}

GuestSpinLock *port_dpc_lock(PSTOR_DPC dpc)
{
    if (!dpc_checked(dpc, "StorPortAcquireSpinLock(DpcLock)")) {
        return NULL;
    }
    return (GuestSpinLock *)(uintptr_t)dpc->Lock;
}

VOID NTAPI StorPortInitializeDpc(PVOID DeviceExtension, PSTOR_DPC Dpc,
                                 PHW_DPC_ROUTINE HwDpcRoutine)
{
    PortAdapter *a =
        port_adapter_for_caller(DeviceExtension, "StorPortInitializeDpc");

    if (!a || !Dpc || !HwDpcRoutine) {
        verifier_report(VC_BAD_CALL, NULL,
                        "StorPortInitializeDpc with a NULL argument");
        return;
    }
    port_dpc_init(Dpc, a, HwDpcRoutine);
}

BOOLEAN NTAPI StorPortIssueDpc(PVOID DeviceExtension, PSTOR_DPC Dpc,
                               PVOID SystemArgument1, PVOID SystemArgument2)
{
    cpu_yield("StorPortIssueDpc");
    if (!port_adapter_for_caller(DeviceExtension, "StorPortIssueDpc")) {
        return FALSE;
    }
    return port_dpc_issue(Dpc, SystemArgument1, SystemArgument2);
}

ULONG NTAPI StorPortCancelDpc(PVOID HwDeviceExtension, PSTOR_DPC Dpc,
                              BOOLEAN *ReturnValue)
{
    PortDpc *d;

    if (!port_adapter_for_caller(HwDeviceExtension, "StorPortCancelDpc") ||
        !ReturnValue) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    d = dpc_checked(Dpc, "StorPortCancelDpc");
    if (!d) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *ReturnValue = port_work_cancel(&d->work) ? TRUE : FALSE;
    return STOR_STATUS_SUCCESS;
}

/* ---- timers ---- */

static void timer_expired(void *opaque)
{
    PortTimer *t = opaque;
    /* Timers run as DPCs; vCPU 0 takes them, as the clock interrupt's
     * processor would. */
    port_work_queue(&t->work, 0);
}

static void timer_work(PortWork *w)
{
    PortTimer *t =
        G_STRUCT_MEMBER_P(w, -(glong)G_STRUCT_OFFSET(PortTimer, work));
    mp_timer(t);
}

void port_timer_set(PortTimer *t, uint64_t us)
{
    if (!t->ev.fn) {
        event_init(&t->ev, "port_timer", timer_expired, t);
        t->work.fn = timer_work;
    }
    event_cancel(&t->ev);
    port_work_cancel(&t->work);
    if (us) {
        /* -fault timer-jitter (system/fault.h) may make it late. */
        event_schedule_in(&t->ev,
                          us * NS_PER_US + fault_timer_jitter(us * NS_PER_US));
    }
}

ULONG NTAPI StorPortInitializeTimer(PVOID HwDeviceExtension, PVOID *TimerHandle)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortInitializeTimer");

    if (!a || !TimerHandle) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    for (unsigned i = 0; i < PORT_MAX_TIMERS; i++) {
        PortTimer *t = &a->xtimers[i];
        if (!t->allocated) {
            memset(t, 0, sizeof(*t));
            t->allocated = true;
            t->is_ex = true;
            t->adapter = a;
            *TimerHandle = t;
            return STOR_STATUS_SUCCESS;
        }
    }
    return STOR_STATUS_INSUFFICIENT_RESOURCES;
}

static PortTimer *timer_checked(PortAdapter *a, PVOID handle)
{
    for (unsigned i = 0; a && i < PORT_MAX_TIMERS; i++) {
        if (handle == &a->xtimers[i] && a->xtimers[i].allocated) {
            return &a->xtimers[i];
        }
    }
    return NULL;
}

ULONG NTAPI StorPortRequestTimer(PVOID HwDeviceExtension, PVOID TimerHandle,
                                 PHW_TIMER_EX TimerCallback,
                                 PVOID CallbackContext, ULONGLONG TimerValue,
                                 ULONGLONG TolerableDelay)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortRequestTimer");
    PortTimer *t = timer_checked(a, TimerHandle);

    cpu_yield("StorPortRequestTimer");
    if (!t || !TimerCallback) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (TimerValue && (event_pending(&t->ev) || t->work.queued)) {
        return STOR_STATUS_BUSY;
    }
    t->hw_timer_ex = TimerCallback;
    t->context = CallbackContext;
    port_timer_set(t, TimerValue);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortFreeTimer(PVOID HwDeviceExtension, PVOID TimerHandle)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortFreeTimer");
    PortTimer *t = timer_checked(a, TimerHandle);

    if (!t) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    port_timer_set(t, 0);
    t->allocated = false;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortQueryTimerMinInterval(PVOID HwDeviceExtension,
                                          PULONG TimerMinInterval)
{
    if (!TimerMinInterval) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* The virtual clock has no tick: one microsecond is the unit. */
    *TimerMinInterval = 1;
    return STOR_STATUS_SUCCESS;
}

/* ---- work items ---- */

static void worker_main(void *opaque)
{
    PortAdapter *a = opaque;

    for (;;) {
        PortWorkItem *wi;
        while ((wi = g_queue_pop_head(&a->work_items))) {
            wi->queued = false;
            mp_work_item(a, wi->fn, wi->context, wi);
        }
        if (a->worker_exit) {
            break;
        }
        guest_event_wait(&a->worker_ev);
    }
}

ULONG NTAPI StorPortInitializeWorker(PVOID HwDeviceExtension, PVOID *Worker)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortInitializeWorker");
    PortWorkItem *wi;

    if (!a || !Worker) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    wi = g_new0(PortWorkItem, 1);
    wi->adapter = a;
    g_ptr_array_add(a->workers, wi);
    *Worker = wi;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortQueueWorkItem(PVOID HwDeviceExtension,
                                  PHW_WORKITEM WorkItemCallback, PVOID Worker,
                                  PVOID Context)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortQueueWorkItem");
    PortWorkItem *wi = Worker;

    cpu_yield("StorPortQueueWorkItem");
    if (!a || !WorkItemCallback || !wi ||
        !g_ptr_array_find(a->workers, wi, NULL)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (wi->queued) {
        return STOR_STATUS_BUSY;
    }
    if (!a->worker) {
        guest_event_init(&a->worker_ev, "storport_worker", true);
        a->worker = guest_thread_create(0, "storport-worker", worker_main, a);
    }
    wi->fn = WorkItemCallback;
    wi->context = Context;
    wi->queued = true;
    g_queue_push_tail(&a->work_items, wi);
    guest_event_set(&a->worker_ev);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortFreeWorker(PVOID HwDeviceExtension, PVOID Worker)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortFreeWorker");
    PortWorkItem *wi = Worker;

    if (!a || !wi || !g_ptr_array_find(a->workers, wi, NULL)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (wi->queued) {
        return STOR_STATUS_BUSY;
    }
    g_ptr_array_remove(a->workers, wi);
    g_free(wi);
    return STOR_STATUS_SUCCESS;
}

/* ---- spin locks ---- */

/* A handle's lock pointer after a release: tells a second release from a
 * handle whose acquire failed (NULL). */
static GuestSpinLock released_marker;
#define LOCK_RELEASED (&released_marker)

/* guest_spin_unlock(@l), then port_lower(@old); the unlock's yield point
 * leaves this vCPU's level as it was, so the test can come first. Inline:
 * the callers' test that this vCPU holds @l then folds into the unlock's. */
static inline void unlock_lower(GuestSpinLock *l, KIRQL old)
{
    if (old <= cpu_level()) {
        guest_spin_unlock_lower(l, old);
        return;
    }
    guest_spin_unlock(l);
    port_lower(old);
}

static GuestSpinLock *lock_for(PortAdapter *a, STOR_SPINLOCK which, PVOID ctx,
                               KIRQL *level)
{
    switch (which) {
    case DpcLock:
        *level = DISPATCH_LEVEL;
        return port_dpc_lock(ctx);
    case StartIoLock:
        *level = DISPATCH_LEVEL;
        return &a->startio_lock;
    case InterruptLock:
        *level = a->dirql;
        return &a->interrupt_lock;
    case ThreadedDpcLock:
    case DpcLevelLock:
        /* Threaded DPCs run as ordinary DPCs here; the lock that
         * serializes them is the StartIo-level one. */
        *level = DISPATCH_LEVEL;
        return &a->startio_lock;
    default:
        return NULL;
    }
}

VOID NTAPI StorPortAcquireSpinLock(PVOID DeviceExtension,
                                   STOR_SPINLOCK SpinLock, PVOID LockContext,
                                   PSTOR_LOCK_HANDLE LockHandle)
{
    PortAdapter *a =
        port_adapter_for_caller(DeviceExtension, "StorPortAcquireSpinLock");
    GuestSpinLock *l;
    KIRQL level = 0;

    if (!a || !LockHandle) {
        verifier_report(VC_BAD_CALL, NULL,
                        "StorPortAcquireSpinLock without an adapter or lock "
                        "handle");
        return;
    }
    l = lock_for(a, SpinLock, LockContext, &level);
    LockHandle->Lock = SpinLock;
    LockHandle->Context.LockQueue.Lock = l;
    LockHandle->Context.OldIrql = cpu_level();
    if (!l) {
        verifier_report(VC_BAD_CALL, NULL,
                        "StorPortAcquireSpinLock: no lock of type %d",
                        (int)SpinLock);
        return;
    }
    if (mp_in_half_duplex_startio()) {
        verifier_report(VC_IRQL, mp_current_request(),
                        "StorPortAcquireSpinLock in a half-duplex "
                        "HwStorStartIo (not allowed by the DDI)");
        level = MAX(level, cpu_level());
    } else if (cpu_level() > level) {
        verifier_report(VC_LOCK_ORDER, mp_current_request(),
                        "StorPortAcquireSpinLock(%s) at IRQL %u, above the "
                        "lock's IRQL %u (take locks in StartIo -> "
                        "interrupt order)",
                        l->name, cpu_level(), level);
        level = cpu_level();
    }
    if (guest_spin_held_by_me(l)) {
        verifier_report(VC_LOCK_RECURSION, mp_current_request(),
                        "StorPortAcquireSpinLock(%s) by the vCPU that "
                        "already holds it (taken at %s)",
                        l->name, l->owner_site ? l->owner_site : "?");
        /* The real system would hang here; stop instead. */
        machine_request_stop(EXIT_VERIFIER);
        LockHandle->Context.LockQueue.Lock = NULL;
        return;
    }
    /* level >= cpu_level() here: the raise has nothing to report. */
    LockHandle->Context.OldIrql =
        guest_spin_lock_raise(l, level, mp_current_name());
}

VOID NTAPI StorPortReleaseSpinLock(PVOID DeviceExtension,
                                   PSTOR_LOCK_HANDLE LockHandle)
{
    GuestSpinLock *l;

    if (!LockHandle) {
        verifier_report(VC_LOCK_RELEASE, NULL,
                        "StorPortReleaseSpinLock with a NULL handle");
        return;
    }
    l = LockHandle->Context.LockQueue.Lock;
    if (!l) {
        return; /* the acquire failed and was reported */
    }
    if (!guest_spin_held_by_me(l)) {
        verifier_report(VC_LOCK_RELEASE, mp_current_request(),
                        "StorPortReleaseSpinLock(%s) of a lock this vCPU "
                        "does not hold",
                        l->name);
        return;
    }
    LockHandle->Context.LockQueue.Lock = LOCK_RELEASED;
    unlock_lower(l, LockHandle->Context.OldIrql);
}

ULONG NTAPI StorPortAcquireSpinLockEx(PVOID HwDeviceExtension,
                                      STOR_SPINLOCK SpinLock, PVOID LockContext,
                                      PSTOR_LOCK_HANDLE LockHandle)
{
    if (!port_adapter_from_devext(HwDeviceExtension) || !LockHandle) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    StorPortAcquireSpinLock(HwDeviceExtension, SpinLock, LockContext,
                            LockHandle);
    return LockHandle->Context.LockQueue.Lock ? STOR_STATUS_SUCCESS
                                              : STOR_STATUS_INVALID_PARAMETER;
}

static PortMessage *msg_checked(PortAdapter *a, ULONG id, const char *fn)
{
    if (!a || !a->use_msi || id >= a->nmsg) {
        verifier_report(VC_BAD_CALL, NULL,
                        "%s for message %lu, but the adapter has %u "
                        "message(s)",
                        fn, (unsigned long)id, a ? a->nmsg : 0);
        return NULL;
    }
    return &a->msg[id];
}

/*
 * The MSI lock routines' common case, which every I/O takes twice (a
 * queue's lock in HwStorStartIo): the first adapter's device extension
 * (port_adapter_for_caller()'s short path) and a message it has. NULL
 * sends the routine down its full path, which reports what is wrong.
 * Nothing is changed before the full path is taken, so that path sees
 * the call as it came.
 */
static inline PortMessage *msg_fast(PVOID devext, ULONG id, PortAdapter **ap)
{
    PortAdapter *a;

    if (devext != port.devext0) {
        return NULL;
    }
    a = port.adapters[0];
    /* No use_msi test: connect_msix() (pnp.c) sets it with nmsg, and
     * nothing clears either, so a message below nmsg has it. */
    if (id >= a->nmsg) {
        return NULL;
    }
    *ap = a;
    return &a->msg[id];
}

static G_GNUC_NO_INLINE ULONG msi_acquire_full(PVOID HwDeviceExtension,
                                               ULONG MessageId, PULONG OldIrql)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortAcquireMSISpinLock");
    PortMessage *m = msg_checked(a, MessageId, "StorPortAcquireMSISpinLock");

    if (!m || !OldIrql) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (guest_spin_held_by_me(&m->lock)) {
        verifier_report(VC_LOCK_RECURSION, mp_current_request(),
                        "StorPortAcquireMSISpinLock(%lu) already held",
                        (unsigned long)MessageId);
        machine_request_stop(EXIT_VERIFIER);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *OldIrql = guest_spin_lock_raise(&m->lock, MAX(a->dirql, cpu_level()),
                                     mp_current_name());
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortAcquireMSISpinLock(PVOID HwDeviceExtension, ULONG MessageId,
                                       PULONG OldIrql)
{
    PortAdapter *a = NULL;
    PortMessage *m = msg_fast(HwDeviceExtension, MessageId, &a);

    /* A free lock is not this vCPU's: the recursion test passes. */
    if (G_LIKELY(m && OldIrql)) {
        unsigned cpu;
        int old =
            guest_spin_take_fast(&m->lock, MAX(a->dirql, cpu_level()), &cpu);
        if (G_LIKELY(old >= 0)) {
            m->lock.owner_site = mp_name_on(cpu);
            *OldIrql = (ULONG)old;
            return STOR_STATUS_SUCCESS;
        }
    }
    return msi_acquire_full(HwDeviceExtension, MessageId, OldIrql);
}

static G_GNUC_NO_INLINE ULONG msi_release_full(PVOID HwDeviceExtension,
                                               ULONG MessageId, ULONG OldIrql)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortReleaseMSISpinLock");
    PortMessage *m = msg_checked(a, MessageId, "StorPortReleaseMSISpinLock");

    if (!m) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (!guest_spin_held_by_me(&m->lock)) {
        verifier_report(VC_LOCK_RELEASE, mp_current_request(),
                        "StorPortReleaseMSISpinLock(%lu) not held",
                        (unsigned long)MessageId);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    unlock_lower(&m->lock, (KIRQL)OldIrql);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortReleaseMSISpinLock(PVOID HwDeviceExtension, ULONG MessageId,
                                       ULONG OldIrql)
{
    PortAdapter *a;
    PortMessage *m = msg_fast(HwDeviceExtension, MessageId, &a);

    /* The fast unlock tests that this vCPU holds the lock. */
    if (G_LIKELY(m && guest_spin_unlock_lower_fast(&m->lock, (KIRQL)OldIrql))) {
        return STOR_STATUS_SUCCESS;
    }
    return msi_release_full(HwDeviceExtension, MessageId, OldIrql);
}

BOOLEAN NTAPI StorPortSynchronizeAccess(
    PVOID HwDeviceExtension,
    PSTOR_SYNCHRONIZED_ACCESS SynchronizedAccessRoutine, PVOID Context)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortSynchronizeAccess");

    if (!a || !SynchronizedAccessRoutine) {
        return FALSE;
    }
    return mp_synchronize_access(a, SynchronizedAccessRoutine, Context);
}

ULONG NTAPI StorPortGetCurrentIrql(PVOID HwDeviceExtension, PKIRQL Irql)
{
    if (!Irql) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *Irql = cpu_level();
    return STOR_STATUS_SUCCESS;
}

/* ---- pool ---- */

ULONG NTAPI StorPortAllocatePool(PVOID HwDeviceExtension, ULONG NumberOfBytes,
                                 ULONG Tag, PVOID *BufferPointer)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortAllocatePool");
    void *p;

    cpu_yield("StorPortAllocatePool");
    if (!BufferPointer) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *BufferPointer = NULL;
    if (!a) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (cpu_level() > DISPATCH_LEVEL) {
        verifier_report(VC_IRQL, mp_current_request(),
                        "StorPortAllocatePool at IRQL %u (DISPATCH_LEVEL at "
                        "most)",
                        cpu_level());
    } else if (mp_in_half_duplex_startio()) {
        verifier_report(VC_IRQL, mp_current_request(),
                        "StorPortAllocatePool in a half-duplex HwStorStartIo");
    }
    /* -fault pool-fail (system/fault.h): the pool is exhausted. */
    if (fault_pool_fail("StorPortAllocatePool", NumberOfBytes)) {
        return STOR_STATUS_INSUFFICIENT_RESOURCES;
    }
    p = ram_alloc(NumberOfBytes ? NumberOfBytes : 1, 16, 0, "pool");
    if (!p) {
        return STOR_STATUS_INSUFFICIENT_RESOURCES;
    }
    g_hash_table_insert(a->pool, p, GUINT_TO_POINTER(Tag));
    *BufferPointer = p;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortFreePool(PVOID HwDeviceExtension, PVOID BufferPointer)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortFreePool");

    cpu_yield("StorPortFreePool");
    if (!a || !BufferPointer) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (cpu_level() > DISPATCH_LEVEL) {
        verifier_report(VC_IRQL, mp_current_request(),
                        "StorPortFreePool at IRQL %u (DISPATCH_LEVEL at most)",
                        cpu_level());
    }
    if (!g_hash_table_remove(a->pool, BufferPointer)) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortFreePool(%p): not pool this adapter "
                        "allocated (or freed twice)",
                        BufferPointer);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    ram_free(BufferPointer);
    return STOR_STATUS_SUCCESS;
}

/* ---- time and stalls ---- */

VOID NTAPI StorPortStallExecution(ULONG Delay)
{
    if (Delay > PORT_STALL_LIMIT_US) {
        verifier_report(VC_STALL_TOO_LONG, mp_current_request(),
                        "StorPortStallExecution(%lu us): the limit is %d us",
                        (unsigned long)Delay, PORT_STALL_LIMIT_US);
    }
    if (cpu_in_guest()) {
        cpu_stall((uint64_t)Delay * NS_PER_US);
    }
}

ULONG NTAPI StorPortDelayExecution(PVOID HwDeviceExtension,
                                   ULONG DelayInMicroseconds)
{
    if (!cpu_in_guest()) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (cpu_level() == PASSIVE_LEVEL && guest_thread_self()) {
        guest_sleep((uint64_t)DelayInMicroseconds * NS_PER_US);
    } else {
        cpu_stall((uint64_t)DelayInMicroseconds * NS_PER_US);
    }
    return STOR_STATUS_SUCCESS;
}

VOID NTAPI StorPortQuerySystemTime(PLARGE_INTEGER CurrentTime)
{
    if (CurrentTime) {
        CurrentTime->QuadPart =
            PORT_EPOCH_100NS + (LONGLONG)(vclock_now() / 100);
    }
}

ULONG NTAPI StorPortQueryPerformanceCounter(PVOID HwDeviceExtension,
                                            PLARGE_INTEGER PerformanceFrequency,
                                            PLARGE_INTEGER PerformanceCounter)
{
    if (!PerformanceCounter) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* 10 MHz, as Windows reports on current x64 systems. */
    if (PerformanceFrequency) {
        PerformanceFrequency->QuadPart = 10000000;
    }
    PerformanceCounter->QuadPart = (LONGLONG)(vclock_now() / 100);
    return STOR_STATUS_SUCCESS;
}

/* ---- debugging ---- */

VOID StorPortDebugPrint(ULONG DebugPrintLevel, PCSTR DebugMessage, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!DebugMessage) {
        return;
    }
    va_start(ap, DebugMessage);
    msg = g_strdup_vprintf(DebugMessage, ap);
    va_end(ap);
    g_strchomp(msg);
    TRACE(miniport_print, "[%lu] %s", (unsigned long)DebugPrintLevel, msg);
}

VOID RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber,
               PSTR MutableMessage)
{
    verifier_report(VC_BAD_CALL, mp_current_request(),
                    "miniport assertion failed: %s at %s:%lu%s%s",
                    VoidFailedAssertion ? (char *)VoidFailedAssertion : "?",
                    VoidFileName ? (char *)VoidFileName : "?",
                    (unsigned long)LineNumber, MutableMessage ? ": " : "",
                    MutableMessage ? MutableMessage : "");
}

VOID DbgBreakPoint(VOID)
{
    verifier_report(VC_BAD_CALL, mp_current_request(),
                    "the miniport hit a breakpoint (DbgBreakPoint)");
    machine_request_stop(EXIT_VERIFIER);
}
