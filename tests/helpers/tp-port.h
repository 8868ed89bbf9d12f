/* SPDX-License-Identifier: MIT */
/*
 * Scaffolding for the port's contract tests (tests/unit/test-port-*.c):
 *
 *  - the machine harness: a bare machine (machine_init, no devices) with
 *    tp-device functions plugged into its root bus, the port loaded with
 *    a built-in test miniport, and a guest program thread that starts the
 *    port, runs the test body and shuts the port down;
 *  - the call log: every routine of the test miniport records itself with
 *    the IRQL (StorPortGetCurrentIrql), the vCPU, the locks the port holds
 *    for it and the virtual time, so a test compares the sequence with a
 *    table;
 *  - "tp", a physical miniport for tp-device written against port/include
 *    as a Windows driver would be (HW_STARTIO and friends), configured per
 *    test through tp_mp and bent to break one rule at a time through hooks;
 *  - class-side helpers that issue requests through port-api.h.
 *
 * Everything here is test code: it may look at port internals (port.h) to
 * say which locks are held, which a real miniport could not.
 */
#ifndef TESTS_HELPERS_TP_PORT_H
#define TESTS_HELPERS_TP_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "port/port-api.h"
#include "port/port.h"
#include "system/cpu.h"
#include "tests/helpers/tp-device.h"

/* ---- the call log ---- */

typedef enum TpCall {
    TP_DRIVER_ENTRY,
    TP_FIND_ADAPTER,
    TP_INITIALIZE,
    TP_PASSIVE_INIT,
    TP_ADAPTER_CONTROL, /* arg: SCSI_ADAPTER_CONTROL_TYPE */
    TP_UNIT_CONTROL,    /* arg: SCSI_UNIT_CONTROL_TYPE */
    TP_BUILDIO,         /* arg: TP_ARG_OF(srb) */
    TP_STARTIO,         /* arg: TP_ARG_OF(srb) */
    TP_INTERRUPT,
    TP_MSI, /* arg: message id */
    TP_DPC,
    TP_TIMER,
    TP_RESET_BUS, /* arg: path */
    TP_FREE_RESOURCES,
    TP_COMPLETE, /* RequestComplete sent; arg: SRB status */
    TP_MARK,     /* a test's own marker; arg: the test's */
    TP_CALL_COUNT
} TpCall;

/* StartIo/BuildIo argument: the CDB opcode of an EXECUTE_SCSI request,
 * TP_ARG_FUNCTION(f) for another SRB function. */
#define TP_ARG_FUNCTION(f) (0x100u | (f))
#define TP_ANY             0xffffffffu

/* Locks this vCPU holds, as seen from a miniport routine. */
#define TP_LOCK_INTERRUPT 0x1u
#define TP_LOCK_STARTIO   0x2u
#define TP_LOCK_MSG       0x4u /* one of the per-message locks */
#define TP_LOCK_DPC       0x8u /* one of the DPC locks */

typedef struct TpEvent {
    TpCall call;
    uint32_t arg;
    uint8_t irql;
    int cpu;
    unsigned locks;
    uint64_t t; /* virtual ns */
} TpEvent;

extern GArray *tp_log; /* TpEvent */

const char *tp_call_name(TpCall c);
void tp_log_reset(void);
/* Record one call made by the miniport whose extension is @devext. */
void tp_log_add(PVOID devext, TpCall call, uint32_t arg);
TpEvent *tp_log_at(guint i);
/* Number of entries matching @call and @arg (TP_ANY: any argument). */
unsigned tp_log_count(TpCall call, uint32_t arg);
/* Index of the first match at or after @from, or -1. */
int tp_log_find(TpCall call, uint32_t arg, guint from);
/* Print the log (for a failing comparison). */
void tp_log_dump(void);
/* The locks this vCPU holds among the adapter's (TP_LOCK_*). */
unsigned tp_locks_held(PVOID devext);

/* ---- the test miniport "tp" ---- */

#define TP_MP_TAGS  64
#define TP_MP_BLOCK 512
#define TP_POOL_TAG 'lPpT'
#define TP_UNCACHED 4096

typedef struct TpExt TpExt;

/*
 * Hooks bend the miniport one rule at a time. Each returns true when it
 * handled the call itself (then *ret is the routine's result where the
 * routine has one); false lets the standard behaviour run.
 */
typedef struct TpHooks {
    void (*find)(TpExt *x, PPORT_CONFIGURATION_INFORMATION cfg);
    void (*init)(TpExt *x);
    bool (*buildio)(TpExt *x, PVOID srb, BOOLEAN *ret);
    bool (*startio)(TpExt *x, PVOID srb, BOOLEAN *ret);
    void (*isr)(TpExt *x);
    void (*msi)(TpExt *x, ULONG message);
    void (*dpc)(TpExt *x);
    /* In the DPC, for each request the device finished. */
    bool (*complete)(TpExt *x, PVOID srb);
    bool (*reset)(TpExt *x, ULONG path, BOOLEAN *ret);
    void (*adapter_control)(TpExt *x, SCSI_ADAPTER_CONTROL_TYPE t);
} TpHooks;

typedef struct TpMiniportConfig {
    STOR_SYNCHRONIZATION_MODEL sync;      /* default full duplex */
    INTERRUPT_SYNCHRONIZATION_MODE isync; /* with MSI-X */
    bool msix;                            /* HwMSInterruptRoutine */
    bool channels;                        /* STOR_PERF_CONCURRENT_CHANNELS */
    bool passive_init;                    /* StorPortEnablePassiveInit... */
    bool buildio;                         /* HwBuildIo (default on) */
    bool unit_control;                    /* HwUnitControl + ScsiUnitStart */
    bool support_stop;                    /* ScsiStopAdapter (default on) */
    bool support_restart;                 /* ScsiRestartAdapter (default on) */
    bool free_pool;                       /* free pool at the end (on) */
    bool dma;                             /* READs DMA into their buffer */
    bool extended_srb;      /* offer STORAGE_REQUEST_BLOCK (SrbTypeFlags) */
    unsigned luns;          /* REPORT LUNS lists 0..luns-1 */
    ULONG srbext;           /* SrbExtensionSize (default 64) */
    ULONG srbext_refind;    /* asked for by a second FindAdapter, if not 0 */
    ULONG startio_stall_us; /* widen HwStorStartIo */
    ULONG isr_stall_us;     /* widen the ISRs */
    const TpHooks *hooks;
} TpMiniportConfig;

struct TpExt {
    PULONG regs;    /* BAR 0, from StorPortGetDeviceBase */
    PVOID pool;     /* StorPortAllocatePool in HwStorFindAdapter */
    PVOID uncached; /* StorPortGetUncachedExtension */
    STOR_DPC dpc;
    BOOLEAN dpc_ready;
    ULONG nmsg; /* MSI-X messages the port granted */
    ULONG next_queue;
    PVOID tags[TP_MP_TAGS]; /* SRBs the device is working on */
    PVOID done[TP_MP_TAGS]; /* finished, waiting for the DPC */
    ULONG ndone;
    /* what the miniport observed, for assertions */
    ULONG in_startio, max_in_startio;
    ULONG in_isr, max_in_isr;
    ULONG isr_during_startio;
    ULONG dpc_issue_true, dpc_issue_false;
    ULONG scratch[8];
    PVOID saved[4];
};

/* What HwStorFindAdapter was given (the first call). */
typedef struct TpFound {
    bool valid;
    ULONG number_of_access_ranges;
    uint64_t range0_start, range1_start;
    ULONG range0_length, range1_length;
    BOOLEAN range0_in_memory;
    ULONG bus_interrupt_level, bus_interrupt_vector;
    KINTERRUPT_MODE interrupt_mode;
    INTERFACE_TYPE interface;
    ULONG slot;
} TpFound;

extern TpMiniportConfig tp_mp;
extern TpFound tp_found;
extern TpExt *tp_ext; /* the adapter's extension after FindAdapter */

void tp_mp_defaults(void);
ULONG tp_driver_entry(PVOID DriverObject, PVOID RegistryPath);
/* Start @srb on the device: tag it, program the DMA (len 0: none) and
 * ring the doorbell for completion queue @queue. False: no free tag. */
bool tp_mp_submit(TpExt *x, PVOID srb, uint64_t dma_gpa, ULONG dma_len,
                  ULONG queue);
/* Set the status and send RequestComplete (logged). */
void tp_mp_complete(TpExt *x, PVOID srb, UCHAR status);
/* The register address of @off in BAR 0. */
PULONG tp_mp_reg(TpExt *x, ULONG off);

/* ---- the machine ---- */

typedef struct TpMachine {
    unsigned smp;       /* default 1 */
    SchedPolicy policy; /* default FIFO */
    uint64_t seed;
    double preempt;         /* random policy */
    VerifierMode verifier;  /* default VERIFIER_OFF (0): set it */
    unsigned msix;          /* MSI-X vectors of the device, 0 = INTx */
    const char *miniport;   /* default "tp" */
    PortDriverEntry *entry; /* default tp_driver_entry */
    bool no_device;         /* a virtual miniport: no PCI function */
} TpMachine;

typedef void TpBody(void *opaque);

extern TpDevice *tp_dev;

void tp_machine_up(const TpMachine *m);
void tp_machine_down(void);
/*
 * Run a guest thread on vCPU @cpu: port_start, @body, port_shutdown, stop.
 * Returns how the machine stopped; @limit_s virtual seconds at most.
 */
MachineStop tp_run(unsigned cpu, TpBody *body, void *opaque, unsigned limit_s);
/* Skip port_shutdown at the end of the current run (set in a body). */
extern bool tp_skip_shutdown;
/* The verifier counters at tp_machine_up, and the change since. */
uint64_t tp_verifier_delta(VerifierCheck c);
uint64_t tp_verifier_total_delta(void);

/* ---- class-side requests (guest threads, PASSIVE_LEVEL) ---- */

/* One synchronous request: READ(10)/WRITE(10) of @blocks at @lba, or
 * another 10-byte-CDB opcode without data; returns the SRB status. */
uint8_t tp_io(PortLu *lu, uint8_t op, uint32_t lba, unsigned blocks,
              unsigned timeout_s);

#define TP_BATCH_MAX 64

typedef struct TpBatch {
    GuestEvent event;
    unsigned submitted, completed;
    PortRequest *req[TP_BATCH_MAX];
    void *buf[TP_BATCH_MAX];
    uint8_t status[TP_BATCH_MAX];
    uint64_t done_at[TP_BATCH_MAX];
    unsigned done_seq[TP_BATCH_MAX]; /* 0 for the first to complete, ... */
} TpBatch;

void tp_batch_init(TpBatch *b);
/* Queue one request; its completion is recorded in the batch. */
void tp_batch_submit(TpBatch *b, PortLu *lu, uint8_t op, uint32_t lba,
                     unsigned blocks, unsigned timeout_s);
/* Wait until every submitted request completed; frees them. */
void tp_batch_wait(TpBatch *b);

#endif
