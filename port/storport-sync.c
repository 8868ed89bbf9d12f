/* SPDX-License-Identifier: MIT */
/*
 * Leaf StorPort* routines, part 5: synchronization objects and threads.
 * Interlocked doubly linked lists (guarded by a STOR_KSPIN_LOCK that
 * StorPortInitializeSpinlock marks), interlocked singly linked lists in
 * the Windows x64 STOR_SLIST_HEADER layout, events on the machine's
 * guest_event primitives (stored inside the caller's STOR_EVENT), system
 * threads on guest threads, thread priority and group affinity.
 *
 * Atomicity: guest code switches vCPU only at yield points (system/cpu.h).
 * Each routine yields once on entry and then runs its list update without
 * another yield point, so the update is atomic with respect to every
 * other vCPU, which is what the DDI's interlocking promises.
 *
 * Reference: nf-storport-storportinterlocked*list, -*slist*,
 * -storportinitializespinlock, -storportinitializeevent, -storportsetevent,
 * -storportwaitforsingleobject, -storportcreatesystemthread,
 * -storportterminatesystemthread, -storportsetprioritythread,
 * -storportsetsystemgroupaffinitythread,
 * -storportreverttousergroupaffinitythread, -storportqueueworkitemtonode,
 * -storportquerydpcwatchdoginformation.
 */
#include <setjmp.h>
#include <string.h>
#include "port/storport-misc.h"
#include "system/event.h"
#include "system/trace.h"

/* What StorPortInitializeSpinlock stores: the Interlocked*List routines
 * check for it ("must have been initialized" on their DDI pages). */
#define SPINLOCK_READY ((STOR_KSPIN_LOCK)0x53746f724c6f636bULL)
/* STOR_EVENT.Header.Data.Flags of an event StorPortInitializeEvent set
 * up; the GuestEvent lives in WaitListHead. */
#define EVENT_MAGIC  0xe5
#define THREAD_MAGIC 0x5374546872656164ULL
/* 2026-01-01T00:00:00Z in 100 ns units since 1601, kernel.c's epoch. */
#define EPOCH_100NS 134116992000000000LL

G_STATIC_ASSERT(sizeof(GuestEvent) <= sizeof(STOR_LIST_ENTRY));
G_STATIC_ASSERT(_Alignof(GuestEvent) <= _Alignof(STOR_LIST_ENTRY));

/* A thread from StorPortCreateSystemThread; ThreadContext points here. */
typedef struct MiscThread {
    uint64_t magic;
    MiscAdapter *m; /* NULL once the adapter went away */
    GuestThread *thread;
    PSTOR_THREAD_START_ROUTINE fn;
    PVOID context;
    STOR_THREAD_PRIORITY priority;
    GuestEvent done; /* waitable: set when the thread ends */
    bool started;
    bool ended;
    jmp_buf exit; /* StorPortTerminateSystemThread */
} MiscThread;

static GPtrArray *threads;   /* MiscThread*, creation order */
static GHashTable *affinity; /* GuestThread* -> STOR_GROUP_AFFINITY* */

/* ---- spin locks and doubly linked lists ---- */

ULONG NTAPI StorPortInitializeSpinlock(PVOID HwDeviceExtension,
                                       PSTOR_KSPIN_LOCK Lock)
{
    if (!Lock) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *Lock = SPINLOCK_READY;
    return STOR_STATUS_SUCCESS;
}

VOID NTAPI StorPortInitializeListHead(PVOID HwDeviceExtension,
                                      PSTOR_LIST_ENTRY ListHead)
{
    if (!ListHead) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortInitializeListHead(NULL)");
        return;
    }
    ListHead->Flink = ListHead;
    ListHead->Blink = ListHead;
}

/* Check the lock and the links around @head before changing them; a
 * broken list is reported rather than followed. */
static bool list_ok(PSTOR_LIST_ENTRY head, PSTOR_KSPIN_LOCK lock,
                    const char *fn)
{
    if (*lock != SPINLOCK_READY) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s with a STOR_KSPIN_LOCK that "
                        "StorPortInitializeSpinlock never initialized",
                        fn);
    }
    if (!head->Flink || !head->Blink || head->Flink->Blink != head ||
        head->Blink->Flink != head) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s: the list at %p is corrupt (or was never "
                        "initialized with StorPortInitializeListHead)",
                        fn, (void *)head);
        return false;
    }
    return true;
}

static ULONG insert(PSTOR_LIST_ENTRY head, PSTOR_LIST_ENTRY entry,
                    PSTOR_LIST_ENTRY *result, PSTOR_KSPIN_LOCK lock,
                    bool at_head, const char *fn)
{
    PSTOR_LIST_ENTRY prev, next;

    if (!head || !entry || !result || !lock) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield(fn);
    if (!list_ok(head, lock, fn)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* The entry that was first (or last) before, NULL for an empty list,
     * as ExInterlockedInsert*List returns it. */
    if (at_head) {
        *result = head->Flink != head ? head->Flink : NULL;
        prev = head;
        next = head->Flink;
    } else {
        *result = head->Blink != head ? head->Blink : NULL;
        prev = head->Blink;
        next = head;
    }
    entry->Flink = next;
    entry->Blink = prev;
    prev->Flink = entry;
    next->Blink = entry;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortInterlockedInsertHeadList(PVOID HwDeviceExtension,
                                              PSTOR_LIST_ENTRY ListHead,
                                              PSTOR_LIST_ENTRY ListEntry,
                                              PSTOR_LIST_ENTRY *Result,
                                              PSTOR_KSPIN_LOCK Lock)
{
    return insert(ListHead, ListEntry, Result, Lock, true,
                  "StorPortInterlockedInsertHeadList");
}

ULONG NTAPI StorPortInterlockedInsertTailList(PVOID HwDeviceExtension,
                                              PSTOR_LIST_ENTRY ListHead,
                                              PSTOR_LIST_ENTRY ListEntry,
                                              PSTOR_LIST_ENTRY *Result,
                                              PSTOR_KSPIN_LOCK Lock)
{
    return insert(ListHead, ListEntry, Result, Lock, false,
                  "StorPortInterlockedInsertTailList");
}

ULONG NTAPI StorPortInterlockedRemoveHeadList(PVOID HwDeviceExtension,
                                              PSTOR_LIST_ENTRY ListHead,
                                              PSTOR_LIST_ENTRY *Result,
                                              PSTOR_KSPIN_LOCK Lock)
{
    static const char fn[] = "StorPortInterlockedRemoveHeadList";
    PSTOR_LIST_ENTRY first;

    if (!ListHead || !Result || !Lock) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield(fn);
    if (!list_ok(ListHead, Lock, fn)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    first = ListHead->Flink;
    if (first == ListHead) {
        *Result = NULL;
        return STOR_STATUS_SUCCESS;
    }
    if (first->Flink->Blink != first) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s: the list at %p is corrupt", fn, (void *)ListHead);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    ListHead->Flink = first->Flink;
    first->Flink->Blink = ListHead;
    first->Flink = first->Blink = NULL;
    *Result = first;
    return STOR_STATUS_SUCCESS;
}

/* ---- singly linked lists ---- */

/* The Windows x64 header: Depth and Sequence in the first quadword, the
 * first entry's address >> 4 in NextEntry (entries are 16-byte aligned,
 * MEMORY_ALLOCATION_ALIGNMENT). */
static PSTOR_SLIST_ENTRY slist_first(PSTOR_SLIST_HEADER h)
{
    return (PSTOR_SLIST_ENTRY)(uintptr_t)(h->HeaderX64.NextEntry << 4);
}

static void slist_set(PSTOR_SLIST_HEADER h, PSTOR_SLIST_ENTRY first,
                      ULONGLONG depth)
{
    h->HeaderX64.NextEntry = (uintptr_t)first >> 4;
    h->HeaderX64.Depth = depth;
    h->HeaderX64.Sequence++;
}

static bool slist_args(PSTOR_SLIST_HEADER head, const void *result,
                       const char *fn)
{
    if (!head || !result) {
        return false;
    }
    misc_yield(fn);
    misc_irql_at_most(DISPATCH_LEVEL, fn);
    if ((uintptr_t)head & 15) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s: STOR_SLIST_HEADER %p is not 16-byte aligned", fn,
                        (void *)head);
        return false;
    }
    return true;
}

ULONG NTAPI StorPortInitializeSListHead(PVOID HwDeviceExtension,
                                        PSTOR_SLIST_HEADER SListHead)
{
    if (!slist_args(SListHead, SListHead, "StorPortInitializeSListHead")) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    SListHead->Alignment = 0;
    SListHead->Region = 0;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortInterlockedPushEntrySList(PVOID HwDeviceExtension,
                                              PSTOR_SLIST_HEADER SListHead,
                                              PSTOR_SLIST_ENTRY SListEntry,
                                              PSTOR_SLIST_ENTRY *Result)
{
    static const char fn[] = "StorPortInterlockedPushEntrySList";
    PSTOR_SLIST_ENTRY first;

    if (!SListEntry || !slist_args(SListHead, Result, fn)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if ((uintptr_t)SListEntry & 15) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s: entry %p is not aligned to "
                        "MEMORY_ALLOCATION_ALIGNMENT (16)",
                        fn, (void *)SListEntry);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    first = slist_first(SListHead);
    SListEntry->Next = first;
    slist_set(SListHead, SListEntry, SListHead->HeaderX64.Depth + 1);
    *Result = first;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortInterlockedPopEntrySList(PVOID HwDeviceExtension,
                                             PSTOR_SLIST_HEADER SListHead,
                                             PSTOR_SLIST_ENTRY *Result)
{
    PSTOR_SLIST_ENTRY first;

    if (!slist_args(SListHead, Result, "StorPortInterlockedPopEntrySList")) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    first = slist_first(SListHead);
    if (first) {
        slist_set(SListHead, first->Next,
                  SListHead->HeaderX64.Depth ? SListHead->HeaderX64.Depth - 1
                                             : 0);
    }
    *Result = first;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortInterlockedFlushSList(PVOID HwDeviceExtension,
                                          PSTOR_SLIST_HEADER SListHead,
                                          PSTOR_SLIST_ENTRY *Result)
{
    if (!slist_args(SListHead, Result, "StorPortInterlockedFlushSList")) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *Result = slist_first(SListHead);
    slist_set(SListHead, NULL, 0);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortQueryDepthSList(PVOID HwDeviceExtension,
                                    PSTOR_SLIST_HEADER SListHead, PSHORT Result)
{
    if (!slist_args(SListHead, Result, "StorPortQueryDepthSList")) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *Result = (SHORT)SListHead->HeaderX64.Depth;
    return STOR_STATUS_SUCCESS;
}

/* ---- events ---- */

static GuestEvent *event_of(PSTOR_EVENT e)
{
    return (GuestEvent *)(void *)&e->Header.WaitListHead;
}

static bool event_ready(PSTOR_EVENT e)
{
    return e && e->Header.Data.Flags == EVENT_MAGIC &&
           e->Header.Data.Size == sizeof(STOR_EVENT) / sizeof(LONG);
}

ULONG NTAPI StorPortInitializeEvent(PVOID HwDeviceExtension, PSTOR_EVENT Event,
                                    STOR_EVENT_TYPE Type, BOOLEAN State)
{
    if (!Event ||
        (Type != StorNotificationEvent && Type != StorSynchronizationEvent)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    memset(Event, 0, sizeof(*Event));
    Event->Header.Data.Type = (UCHAR)Type;
    Event->Header.Data.Size = sizeof(STOR_EVENT) / sizeof(LONG);
    Event->Header.Data.Flags = EVENT_MAGIC;
    /* A synchronization event releases one waiter and resets itself. */
    guest_event_init(event_of(Event), "StorPortEvent",
                     Type == StorSynchronizationEvent);
    if (State) {
        event_of(Event)->signaled = true;
    }
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortSetEvent(PVOID HwDeviceExtension, PSTOR_EVENT Event)
{
    if (!misc_irql_at_most(DISPATCH_LEVEL, "StorPortSetEvent")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!event_ready(Event)) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortSetEvent(%p): not an event "
                        "StorPortInitializeEvent initialized",
                        (void *)Event);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortSetEvent");
    guest_event_set(event_of(Event));
    return STOR_STATUS_SUCCESS;
}

static MiscThread *thread_of(PVOID ctx)
{
    for (guint i = 0; ctx && threads && i < threads->len; i++) {
        if (g_ptr_array_index(threads, i) == ctx) {
            return ctx;
        }
    }
    return NULL;
}

ULONG NTAPI StorPortWaitForSingleObject(PVOID HwDeviceExtension, PVOID Object,
                                        BOOLEAN Alertable,
                                        PLARGE_INTEGER Timeout)
{
    static const char fn[] = "StorPortWaitForSingleObject";
    MiscThread *t = thread_of(Object);
    GuestEvent *e;
    LONGLONG ticks = 0; /* 100 ns units to wait; < 0: forever */

    if (t) {
        e = &t->done;
    } else if (event_ready(Object)) {
        e = event_of(Object);
    } else {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s(%p): not an event from StorPortInitializeEvent "
                        "or a thread from StorPortCreateSystemThread",
                        fn, Object);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (!Timeout) {
        ticks = -1;
    } else if (Timeout->QuadPart < 0) {
        ticks = -Timeout->QuadPart;
    } else if (Timeout->QuadPart > 0) {
        /* Absolute: 100 ns units since 1601 on the virtual clock. */
        LONGLONG now = EPOCH_100NS + (LONGLONG)(vclock_now() / 100);
        ticks = Timeout->QuadPart > now ? Timeout->QuadPart - now : 0;
    }
    if (ticks == 0) {
        /* A poll: allowed up to DISPATCH_LEVEL, never blocks. */
        if (!misc_irql_at_most(DISPATCH_LEVEL, fn)) {
            return STOR_STATUS_INVALID_IRQL;
        }
        misc_yield(fn);
        if (!e->signaled) {
            return STOR_STATUS_TIMEOUT;
        }
        if (e->auto_reset) {
            e->signaled = false;
        }
        return STOR_STATUS_SUCCESS;
    }
    /* A real wait needs a thread at APC_LEVEL or below. */
    if (!misc_irql_at_most(APC_LEVEL, fn)) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!guest_thread_self() || cpu_interrupt_depth()) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s outside a thread context", fn);
        return STOR_STATUS_INVALID_IRQL;
    }
    if (ticks < 0) {
        guest_event_wait(e);
        return STOR_STATUS_SUCCESS;
    }
    return guest_event_wait_timeout(e, (uint64_t)ticks * 100)
               ? STOR_STATUS_SUCCESS
               : STOR_STATUS_TIMEOUT;
}

/* ---- system threads ---- */

static void thread_main(void *opaque)
{
    MiscThread *t = opaque;

    unsigned depth = mp_depth();

    t->started = true;
    if (!setjmp(t->exit)) {
        mp_system_thread(t->m ? t->m->a : NULL, t->fn, t->context);
    }
    /* StorPortTerminateSystemThread jumps out of the routine's frame. */
    mp_unwind(depth);
    t->ended = true;
    if (t->m) {
        t->m->threads--;
    }
    if (cpu_level() != PASSIVE_LEVEL) {
        verifier_report(VC_IRQL, NULL,
                        "a miniport system thread ended at IRQL %u",
                        cpu_level());
        port_lower(PASSIVE_LEVEL);
    }
    TRACE(port_thread_exit, "%s", t->m ? t->m->name : "?");
    guest_event_set(&t->done);
}

static bool priority_ok(STOR_THREAD_PRIORITY p)
{
    return (unsigned)p <= StorThreadPriorityRealTime;
}

ULONG NTAPI StorPortCreateSystemThread(PVOID HwDeviceExtension,
                                       PSTOR_THREAD_START_ROUTINE StartRoutine,
                                       PVOID StartContext,
                                       PSTOR_THREAD_PRIORITY Priority,
                                       PVOID *ThreadContext)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortCreateSystemThread");
    MiscAdapter *m;
    MiscThread *t;

    if (!a || !StartRoutine || (Priority && !priority_ok(*Priority))) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortCreateSystemThread");
    misc_irql_at_most(PASSIVE_LEVEL, "StorPortCreateSystemThread");
    m = misc_adapter(a);
    /* At most one running per logical processor for an adapter (DDI). */
    if (m->threads >= cpus_count()) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    if (!threads) {
        threads = g_ptr_array_new();
    }
    t = g_new0(MiscThread, 1);
    t->magic = THREAD_MAGIC;
    t->m = m;
    t->fn = StartRoutine;
    t->context = StartContext;
    t->priority = Priority ? *Priority : StorThreadPriorityNormal;
    guest_event_init(&t->done, "StorPortThreadEnd", false);
    g_ptr_array_add(threads, t);
    m->threads++;
    /* vCPU 0, as the port's other threads: nothing asks for another. */
    t->thread =
        guest_thread_create(0, "storport-system-thread", thread_main, t);
    if (ThreadContext) {
        *ThreadContext = t;
    }
    TRACE(port_thread_create, "%s priority=%d", a->name, (int)t->priority);
    return STOR_STATUS_SUCCESS;
}

static MiscThread *current_thread(void)
{
    GuestThread *self = guest_thread_self();

    for (guint i = 0; self && threads && i < threads->len; i++) {
        MiscThread *t = g_ptr_array_index(threads, i);
        if (t->thread == self && !t->ended) {
            return t;
        }
    }
    return NULL;
}

VOID NTAPI StorPortTerminateSystemThread(PVOID HwDeviceExtension,
                                         PVOID ThreadContext)
{
    MiscThread *t = current_thread();

    if (!t || (ThreadContext && ThreadContext != t) || cpu_interrupt_depth()) {
        /* Only a miniport thread can end itself; anything else returns. */
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortTerminateSystemThread(%p) from %s",
                        ThreadContext,
                        t ? "another thread"
                          : "a thread the miniport did "
                            "not create");
        return;
    }
    misc_yield("StorPortTerminateSystemThread");
    /* Unwind to thread_main: PsTerminateSystemThread never returns. */
    longjmp(t->exit, 1);
}

ULONG NTAPI StorPortSetPriorityThread(PVOID HwDeviceExtension,
                                      PVOID ThreadContext,
                                      STOR_THREAD_PRIORITY Priority)
{
    MiscThread *t = thread_of(ThreadContext);

    if (!misc_irql_at_most(PASSIVE_LEVEL, "StorPortSetPriorityThread")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!t || !priority_ok(Priority)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* Recorded only: threads on a vCPU run until they block, so there is
     * no time slicing for a priority to steer. */
    t->priority = Priority;
    return STOR_STATUS_SUCCESS;
}

/* ---- group affinity ---- */

static STOR_GROUP_AFFINITY *affinity_of(GuestThread *self)
{
    STOR_GROUP_AFFINITY *g;

    if (!affinity) {
        affinity =
            g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    }
    g = g_hash_table_lookup(affinity, self);
    if (!g) {
        unsigned n = cpus_count();
        g = g_new0(STOR_GROUP_AFFINITY, 1);
        g->Mask = n >= 64 ? ~(KAFFINITY)0 : ((KAFFINITY)1 << n) - 1;
        g_hash_table_insert(affinity, self, g);
    }
    return g;
}

/* Apply @want to the calling thread, as KeSetSystemGroupAffinityThread
 * would: STOR_STATUS_SUCCESS, STOR_STATUS_INVALID_PARAMETER for a group
 * or mask naming no active processor, STOR_STATUS_UNSUCCESSFUL when the
 * thread would have to move to another vCPU. */
static ULONG set_affinity(const STOR_GROUP_AFFINITY *want,
                          STOR_GROUP_AFFINITY *prev)
{
    unsigned n = cpus_count();
    KAFFINITY all = n >= 64 ? ~(KAFFINITY)0 : ((KAFFINITY)1 << n) - 1;
    GuestThread *self = guest_thread_self();
    STOR_GROUP_AFFINITY *cur;
    int cpu = cpu_index();

    if (!self || want->Group != 0 || !(want->Mask & all) ||
        (want->Mask & ~all)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* Guest threads are bound to the vCPU they were created on; the new
     * affinity must already include it. */
    if (cpu < 0 || !(want->Mask & ((KAFFINITY)1 << cpu))) {
        port_not_implemented("StorPortSetSystemGroupAffinityThread (moving a "
                             "thread to another vCPU)");
        return STOR_STATUS_UNSUCCESSFUL;
    }
    cur = affinity_of(self);
    if (prev) {
        *prev = *cur;
    }
    cur->Mask = want->Mask;
    cur->Group = 0;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortSetSystemGroupAffinityThread(
    PVOID HwDeviceExtension, PVOID ThreadContext, PSTOR_GROUP_AFFINITY Affinity,
    PSTOR_GROUP_AFFINITY PreviousAffinity)
{
    ULONG st;

    if (!misc_irql_at_most(DISPATCH_LEVEL,
                           "StorPortSetSystemGroupAffinityThread")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!Affinity || (ThreadContext && !thread_of(ThreadContext))) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    st = set_affinity(Affinity, PreviousAffinity);
    if (st != STOR_STATUS_SUCCESS && PreviousAffinity) {
        /* Unchanged; the previous affinity reads as zero (DDI). */
        memset(PreviousAffinity, 0, sizeof(*PreviousAffinity));
    }
    return st;
}

ULONG NTAPI StorPortRevertToUserGroupAffinityThread(
    PVOID HwDeviceExtension, PVOID ThreadContext,
    PSTOR_GROUP_AFFINITY PreviousAffinity)
{
    STOR_GROUP_AFFINITY all = {0};
    unsigned n = cpus_count();

    if (!misc_irql_at_most(DISPATCH_LEVEL,
                           "StorPortRevertToUserGroupAffinityThread")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!PreviousAffinity || (ThreadContext && !thread_of(ThreadContext))) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* A zeroed previous affinity (a failed Set) means "the default". */
    all.Mask = n >= 64 ? ~(KAFFINITY)0 : ((KAFFINITY)1 << n) - 1;
    return set_affinity(PreviousAffinity->Mask ? PreviousAffinity : &all, NULL);
}

/* ---- work items, watchdog ---- */

ULONG NTAPI StorPortQueueWorkItemToNode(PVOID HwDeviceExtension,
                                        PHW_WORKITEM WorkItemCallback,
                                        PVOID Worker, PVOID Context, ULONG Node)
{
    /* One NUMA node: node 0 (or "any") is the only one there is. */
    if (Node != 0 && Node != MM_ANY_NODE_OK) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    return StorPortQueueWorkItem(HwDeviceExtension, WorkItemCallback, Worker,
                                 Context);
}

ULONG NTAPI StorPortQueryDpcWatchdogInformation(
    PVOID HwDeviceExtension,
    PSTOR_DPC_WATCHDOG_INFORMATION DpcWatchdogInformation)
{
    if (!DpcWatchdogInformation) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (cpu_level() < DISPATCH_LEVEL) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    /* All zero: no DPC watchdog runs on the virtual clock (a zero limit
     * means the check is disabled). */
    memset(DpcWatchdogInformation, 0, sizeof(*DpcWatchdogInformation));
    return STOR_STATUS_SUCCESS;
}

/* ---- teardown ---- */

void misc_sync_teardown(MiscAdapter *m)
{
    for (guint i = 0; threads && i < threads->len; i++) {
        MiscThread *t = g_ptr_array_index(threads, i);
        if (t->m != m) {
            continue;
        }
        if (!t->ended) {
            verifier_report(VC_BAD_CALL, NULL,
                            "%s: a system thread the miniport created is "
                            "still running at adapter removal (it must "
                            "end with StorPortTerminateSystemThread)",
                            m->name);
        }
        t->m = NULL;
    }
}

void misc_sync_fini(void)
{
    if (threads) {
        /* A thread still running keeps its record: its coroutine may
         * resume while the machine winds down. */
        for (guint i = 0; i < threads->len; i++) {
            MiscThread *t = g_ptr_array_index(threads, i);
            if (t->ended || !t->started) {
                g_free(t);
            }
        }
        g_ptr_array_free(threads, TRUE);
        threads = NULL;
    }
    if (affinity) {
        g_hash_table_destroy(affinity);
        affinity = NULL;
    }
}
