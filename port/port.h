/* SPDX-License-Identifier: MIT */
/*
 * The Storport re-implementation: internal state shared by the port files.
 *
 * Concurrency inside the port: guest code only changes vCPU at yield
 * points (system/cpu.h), so a stretch of port code that makes no register
 * access, takes no lock and calls no miniport routine runs atomically.
 * Port bookkeeping relies on that and needs no lock of its own; the locks
 * modelled here (StartIo, interrupt, per-message, DPC) are the ones the
 * DDI makes visible to the miniport.
 *
 * Exactly one file, miniport-call.c, calls the miniport's Hw* routines:
 * it sets the IRQL and locks each routine is documented to run with,
 * keeps the per-vCPU "which routine am I in" stack the verifier reports
 * from, and converts return codes.
 */
#ifndef PORT_PORT_H
#define PORT_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/core/pci.h"
#include "port/port-api.h"
#include "system/config.h"
#include "system/cpu.h"
#include "system/event.h"
#include <storport.h>

#define PORT_MAX_ADAPTERS        8
#define PORT_MAX_MESSAGES        64
#define PORT_MAX_TIMERS          16
#define PORT_MAX_RANGES          8
#define PORT_SENSE_SIZE          255 /* SENSE_BUFFER_SIZE_EX */
#define PORT_DEFAULT_TIMEOUT_S   10
#define PORT_DEFAULT_QUEUE_DEPTH 32
#define PORT_TICK_NS             NS_PER_SEC /* request time-outs are checked per second */
#define PORT_RESET_HOLD_S        4 /* default BusResetHoldTime */
/* What the verifier fills a completed SRB and an unused SRB extension
 * with (queue.c): a miniport reading a field it never set reads this. */
#define PORT_POISON_BYTE 0xdb
/* Set by tests: the verifier's poison goes through its generic path
 * (queue.c) on a host that has the vector one, so both are tested. */
extern bool port_poison_generic;
/* PORT_CONFIGURATION_INFORMATION.MaxNumberOfIO: Storport's default, and
 * the most it allows without full 64-bit DMA (Dma64BitAddresses). */
#define PORT_DEFAULT_MAX_IO 1000
/* PORT_CONFIGURATION_INFORMATION.MaxIOsPerLun: Storport's default, and
 * the most a unit may take without STORAGE_REQUEST_BLOCK. */
#define PORT_DEFAULT_MAX_IOS_PER_LUN 255
/* KeQueryTickCount increments every 15.625 ms (64 Hz), as on x64 Windows. */
#define PORT_TICK_COUNT_NS 15625000ULL
/* StorPortStallExecution: the DDI limits one call to 1 ms. */
#define PORT_STALL_LIMIT_US 1000

typedef struct PortDriver PortDriver;
typedef struct PortAdapter PortAdapter;
typedef struct PortLu PortLu;
typedef struct PortRequest PortRequest;

/* ---- deferred work: DPCs and port work at DISPATCH_LEVEL ---- */

typedef struct PortWork PortWork;
typedef void PortWorkFunc(PortWork *w);

struct PortWork {
    PortWorkFunc *fn;
    PortWork *next;
    bool queued;
};

/* Queue @w on @cpu's DPC list and request the DISPATCH software interrupt.
 * False if it was queued already. Callable in any context, including the
 * machine's event handlers (device and timer events). */
bool port_work_queue(PortWork *w, unsigned cpu);
/* Remove @w if still queued; true if it was. */
bool port_work_cancel(PortWork *w);

/* ---- the miniport and its adapters ---- */

struct PortDriver {
    char *name;                /* "virtio-scsi" or the .so path */
    HW_INITIALIZATION_DATA hw; /* copied by StorPortInitialize */
    bool initialized;          /* StorPortInitialize succeeded */
    bool virtual_miniport;
    PVOID hw_context;
    GHashTable *params; /* param.KEY=VALUE, registry values */
    bool tracing;
    void *dl_handle;
    ULONG (*driver_entry)(PVOID, PVOID);
};

typedef enum PortAdapterState {
    ADAPTER_NEW,
    ADAPTER_RUNNING,
    ADAPTER_STOPPED,
    ADAPTER_FAILED,
    ADAPTER_REMOVED,
} PortAdapterState;

typedef struct PortRange {
    uint64_t gpa;
    uint64_t size;
    bool io;
    void *base;  /* the host window address handed to the miniport */
    bool mapped; /* StorPortGetDeviceBase returned it */
} PortRange;

typedef struct PortMessage {
    unsigned cpu;
    unsigned vector;
    uint64_t addr;
    uint32_t data;
    GuestSpinLock lock; /* InterruptSynchronizePerMessage */
    PortAdapter *adapter;
    ULONG id;
    uint64_t count;
} PortMessage;

typedef struct PortTimer {
    PortAdapter *adapter;
    Event ev;
    PortWork work;
    PHW_TIMER hw_timer;       /* RequestTimerCall timer */
    PHW_TIMER_EX hw_timer_ex; /* StorPortRequestTimer timers */
    PVOID context;
    bool allocated;
    bool is_ex;
} PortTimer;

typedef struct PortWorkItem PortWorkItem;

struct PortAdapter {
    PortDriver *drv;
    unsigned index;
    char name[32];
    PortAdapterState state;
    /* Failed by StorPortMarkDeviceFailed: started, its interrupts still
     * serviced, but no request is sent to it. */
    bool marked_failed;
    PCIDevice *pci;                      /* NULL for a virtual adapter */
    PVOID devext;                        /* guest RAM */
    PPORT_CONFIGURATION_INFORMATION cfg; /* guest RAM, kept after find */
    /* cfg->SrbExtensionSize as HwStorFindAdapter left it: the size every
     * SRB extension is allocated, poisoned and mapped with. Not read from
     * cfg later, which is guest RAM the miniport can still write. */
    ULONG srb_ext_size;
    PortRange ranges[PORT_MAX_RANGES];
    unsigned nranges;

    /* interrupts */
    uint8_t dirql;
    bool use_msi;
    unsigned nmsg;
    PortMessage msg[PORT_MAX_MESSAGES];
    bool intx;
    unsigned intx_cpu, intx_vector;
    GuestSpinLock interrupt_lock;
    GuestSpinLock startio_lock;
    uint64_t spurious_interrupts;

    /* synchronization */
    STOR_SYNCHRONIZATION_MODEL sync;
    INTERRUPT_SYNCHRONIZATION_MODE isync;
    bool concurrent_channels;
    ULONG channels;
    ULONG perf_flags;

    /* memory */
    void *uncached;
    uint64_t uncached_size;
    GHashTable *pool;     /* guest ptr -> tag, StorPortAllocatePool */
    GPtrArray *dpc_locks; /* GuestSpinLock* behind STOR_DPC.Lock */

    /* logical units and requests */
    GPtrArray *lus;       /* PortLu*, enumeration order */
    GHashTable *lu_map;   /* address key -> PortLu* */
    unsigned outstanding; /* requests inside the miniport */
    unsigned pending;     /* requests waiting on its units' queues */
    unsigned max_io;      /* MaxNumberOfIO: the most outstanding */

    /* queue control */
    ULONG busy_count; /* StorPortBusy: completions to wait for */
    /* Whatever holds back every unit's queue, tested as one word by
     * lu_can_start() on each request (queue.c): any set flag sends it to
     * the full test. */
    union {
        struct {
            bool busy;
            bool paused;
            bool resetting;
            bool holding; /* stop/shutdown: only the port's own requests pass */
        };
        uint32_t held_any;
    };
    Event pause_ev;       /* StorPortPause time-out */
    Event busy_ev;        /* StorPortBusy with nothing to wait for */
    Event reset_ev;       /* end of the bus reset hold */
    PortWork resume_work; /* restart every queue, at DISPATCH */
    uint64_t reset_hold_until;
    Event tick_ev;
    PortWork tick_work;

    /* timers, passive init, work items */
    PortTimer timer; /* the RequestTimerCall timer */
    PortTimer xtimers[PORT_MAX_TIMERS];
    PHW_PASSIVE_INITIALIZE_ROUTINE passive_init;
    GuestThread *worker;
    GuestEvent worker_ev;
    GQueue work_items;  /* PortWorkItem* queued */
    GPtrArray *workers; /* PortWorkItem* from InitializeWorker */
    bool worker_exit;

    /* control types the miniport supports (from the query) */
    bool adapter_ctl[ScsiAdapterControlMax + 1];
    bool unit_ctl[ScsiUnitControlMax + 1];

    /* The verifier's map of which SRB extension chunks miniport or device
     * have been seen to write (queue.c, "extension poisoning"). */
    uint64_t ext_written;
    uint64_t ext_looks; /* completions that could have looked for more */

    /* statistics */
    uint64_t started, completed, busy_returns, resets, timeouts;
    uint64_t notifications[AsyncNotificationDetected -
                           EnablePassiveInitialization + 1 +
                           GetExtendedFunctionTable + 1];
    bool bus_change_pending;
};

struct PortLu {
    PortAdapter *adapter;
    UCHAR path, target, lun;
    PVOID luext;               /* guest RAM, SpecificLuExtensionSize */
    PortRequest *pending_head; /* waiting to start, linked by qnext */
    PortRequest *pending_tail;
    unsigned outstanding;
    unsigned depth;
    ULONG busy_count; /* StorPortDeviceBusy */
    /* What holds back this unit's queue, tested as one word with the
     * adapter's held_any. spare_ is never set: it makes the word whole. */
    union {
        struct {
            bool busy;
            bool retry_hold; /* a BUSY retry waits for a completion */
            bool paused;
            bool spare_;
        };
        uint32_t held_any;
    };
    Event pause_ev;       /* StorPortPauseDevice time-out */
    Event retry_ev;       /* BUSY retry / DeviceBusy hold */
    PortWork resume_work; /* restart this queue, at DISPATCH */
    bool present;
    bool started; /* ScsiUnitStart done */
    INQUIRYDATA inquiry;
    uint64_t started_requests, completed_requests;
};

typedef enum PortReqState {
    REQ_IDLE,
    REQ_QUEUED,
    REQ_STARTING,   /* inside HwStorBuildIo / HwStorStartIo */
    REQ_ACTIVE,     /* started, the miniport owns it */
    REQ_COMPLETING, /* RequestComplete seen, port completion pending */
    REQ_DONE,
    REQ_ABANDONED, /* timed out past reset: a late completion is a bug */
} PortReqState;

typedef enum PortDir {
    PORT_DIR_NONE,
    PORT_DIR_IN,
    PORT_DIR_OUT,
} PortDir;

typedef void PortDoneFunc(PortRequest *req, void *opaque);

struct PortRequest {
    /* First: port_request_finished_clean() (port-api.h) reads it in place. */
    PortRequestHead head;
    PortLu *lu;
    PVOID srb; /* guest RAM: SCSI_ or STORAGE_REQUEST_BLOCK */
    bool extended;
    uint32_t srb_bytes; /* size of the SRB block (for poisoning) */
    PVOID srb_ext;      /* current SRB extension, guest RAM */
    PVOID stale_ext;    /* the extension a BUSY retry replaced, poisoned
                         until the request completes */
    uint8_t *srb_save;  /* SRB snapshot kept across a BUSY retry */
    uint8_t *srb_base;  /* host copy of the SRB every fill starts from */
    PVOID sense;        /* guest RAM, PORT_SENSE_SIZE */
    PSTOR_SCATTER_GATHER_LIST sgl;
    unsigned sgl_max;
    PortReqState state;
    uint64_t id;       /* sequence number: trace correlator */
    unsigned cpu;      /* vCPU that submitted: completes there */
    uint64_t deadline; /* virtual ns; 0 = none */
    unsigned busy_retries;
    bool reset_seen;     /* timed out once, a reset was tried */
    bool in_startio;     /* BUSY is legal only while this is set */
    bool poison_avx2;    /* poison_simd() when the request was made */
    bool poisoned_stale; /* stale_ext was poisoned */
    bool sg_mapped;      /* SG elements registered with the verifier */
    bool internal;       /* issued by the port itself */
    PortDoneFunc *done;
    void *opaque;
    GuestEvent event;
    PortRequest *next;  /* completion list */
    PortRequest *qnext; /* the unit's pending queue */
    /* The extension chunks poisoned at completion. */
    uint64_t poison_mask;
    /* Whether SRB and extension were poisoned after completion: 0 if not,
     * 1 by capture_results, and by its AVX2 fast path the ext_runs_gen
     * of the runs it poisoned, so that the next start knows with one
     * compare that its fast check applies. */
    uint64_t poisoned;
    /* The last extension range StorPortGetPhysicalAddress mapped for the
     * verifier, and under which verifier_map_epoch: asking again for a
     * part of it needs no new mapping. */
    uintptr_t ext_map_start, ext_map_end;
    uint64_t ext_map_epoch;
    /* The extension's own address (its length ext_fast_len) once a call
     * for all of it has found it mapped under verifier_map_epoch
     * ext_fast_epoch (which is never 0): the same call again is answered
     * with three compares and the data-buffer test. */
    uintptr_t ext_fast_va;
    ULONG ext_fast_len;
    uint64_t ext_fast_epoch;
    /* The verifier's copy of the SG elements while they are mapped (the
     * list in guest RAM is the miniport's to scribble on), on its list of
     * mapped requests, oldest first. */
    struct VerifierRange *vr;
    unsigned vr_count;
    PortRequest *vr_prev, *vr_next;

    /* results, copied out of the SRB when the port completes it */
    UCHAR srb_status;
    UCHAR scsi_status;
    ULONG transferred;
    UCHAR sense_len;
    UCHAR sense_copy[PORT_SENSE_SIZE];
};

/* ---- global port state ---- */

typedef struct Port {
    PortDriver *drv;
    PortAdapter *adapters[PORT_MAX_ADAPTERS];
    unsigned nadapters;
    GHashTable *srb_map; /* SRB pointer -> PortRequest* */
    VerifierMode verifier;
    uint64_t next_request_id;
    bool loaded;
    /* adapters[0]->devext, or a host address no device extension can
     * have while there is no adapter (port_adapters_changed, pnp.c): a
     * DDI call's adapter test is then one compare. */
    PVOID devext0;
} Port;

extern Port port;

/* lifecycle (pnp.c) */
typedef ULONG PortDriverEntry(PVOID DriverObject, PVOID RegistryPath);
/* Built-in miniports, by name for -miniport NAME. */
void port_register_builtin(const char *name, PortDriverEntry *entry);
/* Register every miniport built into this binary (port/builtin.c). */
void port_register_builtins(void);
/* True when at least one built-in miniport exists. */
bool port_have_builtins(void);
bool port_load(const Opts *miniport, VerifierMode verifier, GError **errp);
void port_unload(void);
PortAdapter *port_adapter_find(PVOID devext);
PortAdapter *port_adapter_for_caller_slow(PVOID devext, const char *routine);

/* Every DDI call names its adapter by device extension, and one adapter
 * is the common case: test the first before walking them all. (A NULL
 * devext never equals port.devext0: device extensions are allocated.) */
static inline PortAdapter *port_adapter_from_devext(PVOID devext)
{
    if (devext == port.devext0) {
        return port.adapters[0];
    }
    return port_adapter_find(devext);
}

/* The adapter of a DDI call, or NULL after reporting the bad argument. */
static inline PortAdapter *port_adapter_for_caller(PVOID devext,
                                                   const char *routine)
{
    if (devext == port.devext0) {
        return port.adapters[0];
    }
    return port_adapter_for_caller_slow(devext, routine);
}
/* The adapter went away without warning: units are told, the miniport
 * stops, everything it held or was queued fails with NO_DEVICE. PASSIVE. */
void port_surprise_removal(PortAdapter *a);

/* requests and queues (queue.c) */
/*
 * A direct-mapped cache in front of port.srb_map: every RequestComplete and
 * StorPortGetScatterGatherList names its request by SRB, and a GHashTable
 * lookup costs several times a slot compare; inline, a hit costs no call.
 * A miss (a collision, or an SRB the port never gave out) asks the map.
 */
#define PORT_SRB_CACHE_SLOTS 512

typedef struct PortSrbCacheSlot {
    PVOID srb;
    PortRequest *req;
} PortSrbCacheSlot;

/* What an empty slot holds: an address no lookup in it can name, so that
 * a hit needs no test of the SRB for NULL. NULL picks slot 0, so slot 0
 * holds an address of slot 1; any other slot, NULL. */
#define PORT_SRB_CACHE_EMPTY0 ((PVOID)(uintptr_t)64)

extern PortSrbCacheSlot port_srb_cache[PORT_SRB_CACHE_SLOTS];

static inline PortSrbCacheSlot *port_srb_cache_slot(PVOID srb)
{
    return &port_srb_cache[((uintptr_t)srb >> 6) & (PORT_SRB_CACHE_SLOTS - 1)];
}

PortRequest *port_request_from_srb_slow(PVOID srb);

static inline PortRequest *port_request_from_srb(PVOID srb)
{
    PortSrbCacheSlot *c = port_srb_cache_slot(srb);

    if (c->srb == srb) {
        return c->req;
    }
    return port_request_from_srb_slow(srb);
}
/* Free a request's host-side state (not its guest-RAM parts, which go
 * with guest RAM): for requests the port still knows at unload. */
void port_request_release(PortRequest *req);
UCHAR port_request_opcode(const PortRequest *req);
/* Take the first request waiting to start on @lu (NULL if none). */
PortRequest *port_lu_pending_pop(PortLu *lu);
void port_queue_init_adapter(PortAdapter *a);
void port_queue_reset(void);
void port_start_next(PortLu *lu);
void port_restart_all_queues(PortAdapter *a);
/* The miniport marked the adapter failed: what waits in its queues
 * completes with SRB_STATUS_NO_DEVICE, from a DPC. */
void port_adapter_failed(PortAdapter *a);
/* Take @max_io as the adapter's MaxNumberOfIO (0: the default). */
void port_set_max_io(PortAdapter *a, ULONG max_io);
/* Take @n as the adapter's MaxIOsPerLun (0: the default), within
 * MaxNumberOfIO and the SRB type's limit. */
void port_set_max_ios_per_lun(PortAdapter *a, ULONG n);
void port_complete_from_miniport(PortAdapter *a, PVOID srb);
void port_complete_all(PortAdapter *a, UCHAR path, UCHAR target, UCHAR lun,
                       UCHAR status);
PortLu *port_lu_find(PortAdapter *a, UCHAR path, UCHAR target, UCHAR lun);
PortLu *port_lu_get(PortAdapter *a, UCHAR path, UCHAR target, UCHAR lun);
void port_tick_arm(PortAdapter *a);

/* DPCs and kernel services (kernel.c) */
void port_kernel_init(void);
void port_kernel_fini(void);
void port_dpc_init(PSTOR_DPC dpc, PortAdapter *a, PHW_DPC_ROUTINE routine);
BOOLEAN port_dpc_issue(PSTOR_DPC dpc, PVOID arg1, PVOID arg2);
GuestSpinLock *port_dpc_lock(PSTOR_DPC dpc);
void port_timer_set(PortTimer *t, uint64_t us);
/* Raise to @level (from below or equal); returns the old level. */
KIRQL port_raise(KIRQL level);
void port_lower(KIRQL old);

/* the miniport boundary (miniport-call.c) */
typedef enum MpRoutine {
    MP_NONE,
    MP_DRIVER_ENTRY,
    MP_FIND_ADAPTER,
    MP_INITIALIZE,
    MP_PASSIVE_INIT,
    MP_BUILDIO,
    MP_STARTIO,
    MP_INTERRUPT,
    MP_MSI,
    MP_DPC,
    MP_TIMER,
    MP_RESET_BUS,
    MP_ADAPTER_CONTROL,
    MP_UNIT_CONTROL,
    MP_WORKITEM,
    MP_TRACING,
    MP_FREE_RESOURCES,
    MP_SYNC_ACCESS,
    MP_SG_EXECUTE,
    MP_STATE_CHANGE,
    MP_SYSTEM_THREAD,
    MP_ROUTINE_COUNT
} MpRoutine;

const char *mp_routine_name(MpRoutine r);
/* This vCPU's routine-stack depth, and a return to it (a routine left by
 * longjmp, as StorPortTerminateSystemThread does). */
unsigned mp_depth(void);
void mp_unwind(unsigned depth);
/* Forget every routine frame (a new machine). */
void mp_reset(void);
/* Forget the register-range cache (adapters are gone). */
void port_regio_reset(void);
/* The innermost miniport routine running on this vCPU (MP_NONE if none). */
MpRoutine mp_current(void);
/* A vCPU's routine stack (miniport-call.c). frames[0] stands for port
 * code below every routine (MP_NONE, no request), so the top is
 * frames[depth] always. */
#define MP_MAX_DEPTH 16

typedef struct MpFrame {
    PortRequest *req;
    uint8_t routine; /* MpRoutine */
    bool half_duplex_startio;
} MpFrame;

typedef struct MpStack {
    unsigned depth;
    unsigned overflow; /* pushes refused past MP_MAX_DEPTH */
    MpFrame frames[MP_MAX_DEPTH + 1];
} MpStack;

extern MpStack mp_stacks[VCPU_MAX];
extern const char *const mp_routine_names[MP_ROUTINE_COUNT];

/* mp_routine_name(mp_current()), inline: a spin lock acquired from a
 * miniport routine is named after it, and the miniports take one per I/O
 * (a queue's MSI lock in StartIo); a call costs more than the lookup.
 * mp_name_on() is it for vCPU @c, for a caller that knows the vCPU. */
static inline const char *mp_name_on(unsigned c)
{
    return mp_routine_names[mp_stacks[c].frames[mp_stacks[c].depth].routine];
}

static inline const char *mp_current_name(void)
{
    int c = cpu_index();

    return c < 0 ? mp_routine_names[MP_NONE] : mp_name_on((unsigned)c);
}
/* The request the innermost routine was called for, or NULL. */
PortRequest *mp_current_request(void);
/* True while this vCPU runs HwStorStartIo in half-duplex mode. */
bool mp_in_half_duplex_startio(void);

ULONG mp_driver_entry(PortDriver *d);
ULONG mp_find_adapter(PortAdapter *a, PBOOLEAN again);
BOOLEAN mp_initialize(PortAdapter *a);
BOOLEAN mp_passive_initialize(PortAdapter *a);
/* BuildIo then StartIo for @req, with the documented IRQL and locks. */
void mp_start_request(PortAdapter *a, PortRequest *req);
BOOLEAN mp_interrupt(PortAdapter *a);
BOOLEAN mp_message_interrupt(PortAdapter *a, ULONG message);
void mp_dpc(PortAdapter *a, PSTOR_DPC dpc, PHW_DPC_ROUTINE fn, PVOID a1,
            PVOID a2);
void mp_timer(PortTimer *t);
BOOLEAN mp_reset_bus(PortAdapter *a, ULONG path);
SCSI_ADAPTER_CONTROL_STATUS
mp_adapter_control(PortAdapter *a, SCSI_ADAPTER_CONTROL_TYPE t, PVOID params);
SCSI_UNIT_CONTROL_STATUS
mp_unit_control(PortAdapter *a, SCSI_UNIT_CONTROL_TYPE t, PVOID params);
void mp_work_item(PortAdapter *a, PHW_WORKITEM fn, PVOID ctx, PVOID worker);
void mp_tracing_enabled(PortAdapter *a, BOOLEAN enabled);
void mp_free_resources(PortAdapter *a);
void mp_sg_execute(PortAdapter *a, PPOST_SCATTER_GATHER_EXECUTE fn,
                   PSTOR_SCATTER_GATHER_LIST sgl, PVOID ctx);
void mp_state_change(PortAdapter *a, PHW_STATE_CHANGE fn, PVOID ctx, SHORT type,
                     PVOID addr, ULONG status);
void mp_system_thread(PortAdapter *a, PSTOR_THREAD_START_ROUTINE fn, PVOID ctx);
BOOLEAN mp_synchronize_access(PortAdapter *a, PSTOR_SYNCHRONIZED_ACCESS fn,
                              PVOID ctx);

/* the verifier (verifier.c) */
typedef enum VerifierCheck {
    VC_DOUBLE_COMPLETION,
    VC_UNKNOWN_SRB,
    VC_SRB_AFTER_COMPLETION,
    VC_BUSY_MID_TRANSACTION,
    VC_IRQL,
    VC_LOCK_ORDER,
    VC_LOCK_RECURSION,
    VC_LOCK_RELEASE,
    VC_REGISTER_RANGE,
    VC_DMA_RANGE,
    VC_STALL_TOO_LONG,
    VC_REQUEST_HANG,
    VC_POOL_LEAK,
    VC_BAD_CALL,
    VC_COUNT
} VerifierCheck;

void verifier_report(VerifierCheck c, PortRequest *req, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
uint64_t verifier_count(VerifierCheck c);
uint64_t verifier_total(void);
const char *verifier_check_name(VerifierCheck c);
void verifier_reset(void);
/* Verifier checks that need the boundary layer (DMA into unmapped memory). */
void verifier_attach(void);
void verifier_detach(void);
void verifier_map_range(uint64_t gpa, uint64_t len);
/* Changes whenever the ranges verifier_map_range mapped are dropped or the
 * check (re)starts: a range mapped under the same value is still mapped. */
extern uint64_t verifier_map_epoch;
/*
 * A request's SG elements are legal DMA targets while it is inside the
 * miniport: map when it starts, unmap when it completes (unmapping one that
 * is not mapped does nothing). The verifier keeps its own copy of the
 * elements (the list in guest RAM is the miniport's to scribble on), on a
 * list of the mapped requests in start order (verifier.c). Once per I/O
 * each, and nearly always one element (port memory is contiguous): that
 * case inline.
 */
struct VerifierRange {
    uint64_t start, end;
};
extern PortRequest *verifier_sg_head, *verifier_sg_tail, *verifier_sg_hint;
/* The size of @req's SRB extension, as the port allocated, poisons and
 * maps it (PortAdapter.srb_ext_size). */
static inline ULONG port_request_ext_size(const PortRequest *req)
{
    return req->lu->adapter->srb_ext_size;
}

void verifier_sg_map_slow(PortRequest *req);

static inline void verifier_sg_link(PortRequest *req, unsigned n)
{
    req->vr_count = n;
    req->vr_next = NULL;
    req->vr_prev = verifier_sg_tail;
    if (verifier_sg_tail) {
        verifier_sg_tail->vr_next = req;
    } else {
        verifier_sg_head = req;
    }
    verifier_sg_tail = req;
    req->sg_mapped = true;
}

/* verifier_sg_map() of a list of one element, @len bytes at @gpa, by
 * the one who just wrote it there (start_one in queue.c): what it holds
 * needs no reading back from guest RAM. */
static inline void verifier_sg_map_one(PortRequest *req, uint64_t gpa,
                                       ULONG len)
{
    if (G_LIKELY(req->vr && !req->sg_mapped)) {
        req->vr[0].start = gpa;
        req->vr[0].end = gpa + len;
        verifier_sg_link(req, 1);
        return;
    }
    verifier_sg_map_slow(req);
}

static inline void verifier_sg_map(PortRequest *req)
{
    PSTOR_SCATTER_GATHER_LIST sgl = req->sgl;

    if (G_LIKELY(sgl && sgl->NumberOfElements == 1)) {
        verifier_sg_map_one(req,
                            (uint64_t)sgl->List[0].PhysicalAddress.QuadPart,
                            sgl->List[0].Length);
        return;
    }
    verifier_sg_map_slow(req);
}

static inline void verifier_sg_unmap(PortRequest *req)
{
    if (!req->sg_mapped) {
        return;
    }
    if (req->vr_prev) {
        req->vr_prev->vr_next = req->vr_next;
    } else {
        verifier_sg_head = req->vr_next;
    }
    if (req->vr_next) {
        req->vr_next->vr_prev = req->vr_prev;
    } else {
        verifier_sg_tail = req->vr_prev;
    }
    if (verifier_sg_hint == req) {
        verifier_sg_hint = req->vr_next;
    }
    req->vr_prev = req->vr_next = NULL;
    req->vr_count = 0;
    req->sg_mapped = false;
}
/* Leaf routines' side state (storport-misc.c). */
void port_misc_adapter_teardown(PortAdapter *a);
void port_misc_print_log(FILE *f);
unsigned port_misc_log_count(void);
void port_misc_fini(void);

/* "not implemented" line, once per routine. */
void port_not_implemented(const char *routine);

#endif
