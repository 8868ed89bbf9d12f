/* SPDX-License-Identifier: MIT */
/*
 * vioscsi: a Storport miniport for the virtio SCSI host device on the
 * modern virtio PCI transport, written from the OASIS virtio specification
 * 1.2/1.3 alone: 4.1 "Virtio Over PCI Bus" (capabilities, common
 * configuration, notifications, ISR, MSI-X), 2.7 "Split Virtqueues" with
 * indirect descriptors and EVENT_IDX notification suppression, and 5.6
 * "SCSI Host Device" (request, control and event queues).
 *
 * Written as a Windows driver author would, against port/include and the
 * device's guest ABI header (hw/virtio-scsi/virtio-scsi-regs.h) only. The
 * split follows storahci: entry.c (DriverEntry, find-adapter with the PCI
 * capability walk, initialize, adapter control), virtqueue.c (the device
 * handshake and split-ring mechanics), io.c (BuildIo, StartIo, interrupts,
 * completion DPCs, events) and power.c (bus and unit resets through task
 * management, the hard-reset fallback, stop and restart).
 *
 * Design in one paragraph: one request queue per channel (channels =
 * min(num_queues, processors), STOR_PERF_CONCURRENT_CHANNELS), each
 * guarded by its own lock, which is the MSI-X spin lock of the queue's
 * message (INTx: the interrupt lock). HwStorBuildIo builds the request
 * header and the indirect descriptor table in the SRB extension, so
 * HwStorStartIo only takes a ring slot, publishes it and rings the
 * doorbell when EVENT_IDX asks for it. Interrupts only queue a DPC per
 * queue; the DPC harvests the used ring under the queue's lock and
 * completes the batch outside it.
 */
#ifndef VIOSCSI_H
#define VIOSCSI_H

#include <storport.h>
#include "hw/virtio-scsi/virtio-scsi-regs.h"

/* ---- limits ---- */

#define VIOSCSI_MAX_REQUEST_QUEUES 16
#define VIOSCSI_MAX_QUEUES         (2 + VIOSCSI_MAX_REQUEST_QUEUES)
/* Our indices into the queue array equal the virtqueue numbers (5.6.2). */
#define VIOSCSI_CONTROL_QUEUE VIRTIO_SCSI_VQ_CONTROL
#define VIOSCSI_EVENT_QUEUE   VIRTIO_SCSI_VQ_EVENT
#define VIOSCSI_FIRST_REQUEST VIRTIO_SCSI_VQ_REQUEST

/* Ring sizes we ask for (the device's maximum if smaller). A request uses
 * one descriptor (indirect), a task management function two, an event
 * buffer one. */
#define VIOSCSI_REQUEST_QUEUE_SIZE 256
#define VIOSCSI_CONTROL_QUEUE_SIZE 16
#define VIOSCSI_EVENT_QUEUE_SIZE   8
#define VIOSCSI_MAX_TMF            (VIOSCSI_CONTROL_QUEUE_SIZE / 2)
#define VIOSCSI_MAX_EVENTS         VIOSCSI_EVENT_QUEUE_SIZE

/* Data segments per request: 512 KiB in 4 KiB pages, plus one for a
 * buffer that does not start on a page. The indirect table holds them
 * plus the request header and the response. */
#define VIOSCSI_PAGE_SIZE     4096
#define VIOSCSI_MAX_SG        129
#define VIOSCSI_TABLE_ENTRIES (VIOSCSI_MAX_SG + 2)
#define VIOSCSI_MAX_TRANSFER  ((VIOSCSI_MAX_SG - 1) * VIOSCSI_PAGE_SIZE)

/* BTL8 addressing: a UCHAR each for target and LUN. */
#define VIOSCSI_MAX_TARGETS 255
#define VIOSCSI_MAX_LUNS    255
#define VIOSCSI_MAX_DEPTH   254 /* within MaxIOsPerLun (255) */

/* MSI-X message layout: configuration changes, control, event, then one
 * per request queue. */
#define VIOSCSI_MSG_CONFIG        0
#define VIOSCSI_MSG_CONTROL       1
#define VIOSCSI_MSG_EVENT         2
#define VIOSCSI_MSG_FIRST_REQUEST 3
#define VIOSCSI_MAX_MESSAGES                                                   \
    (VIOSCSI_MSG_FIRST_REQUEST + VIOSCSI_MAX_REQUEST_QUEUES)

/* A bus reset escalates to a device reset when its task management
 * functions have not completed after this long. */
#define VIOSCSI_RESET_WATCHDOG_US (500 * 1000)
/* A device reset completes when the status reads 0 (4.1.4.3.2); poll
 * for at most this many 10 us steps. */
#define VIOSCSI_RESET_POLLS 100

/* Uncached-extension areas start on this boundary, so the driver-written
 * and device-written parts of a ring never share a cache line. */
#define VIOSCSI_AREA_ALIGN 64

/* PCI capability ids (PCI Local Bus 3.0, appendix H). */
#ifndef PCI_CAPABILITY_ID_VENDOR_SPECIFIC
#define PCI_CAPABILITY_ID_VENDOR_SPECIFIC 0x09
#endif
#ifndef PCI_CAPABILITY_ID_MSIX
#define PCI_CAPABILITY_ID_MSIX 0x11
#endif
#define VIOSCSI_MSIX_TABLE_SIZE_MASK 0x07ff /* Message Control bits 10:0 */
#define VIOSCSI_PCI_BAR_IO           0x1
#define VIOSCSI_PCI_BAR_TYPE_MASK    0x6
#define VIOSCSI_PCI_BAR_MEM64        0x4

/* Features we accept when offered; the first two are required. */
#define VIOSCSI_REQUIRED_FEATURES                                              \
    (VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |                                      \
     VIRTIO_FEATURE(VIRTIO_F_INDIRECT_DESC))
#define VIOSCSI_OPTIONAL_FEATURES                                              \
    (VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX) |                                      \
     VIRTIO_FEATURE(VIRTIO_F_ACCESS_PLATFORM) |                                \
     VIRTIO_FEATURE(VIRTIO_SCSI_F_HOTPLUG) |                                   \
     VIRTIO_FEATURE(VIRTIO_SCSI_F_CHANGE))

/* Longest registry string we accept for a parameter. */
#define VIOSCSI_MAX_PARAMETER 32

/* ---- state ---- */

typedef enum _VIOSCSI_INTERRUPT_MODE {
    VioScsiInterruptLine,     /* INTx, the ISR register says why */
    VioScsiInterruptPerQueue, /* MSI-X, the layout above */
    VioScsiInterruptShared    /* MSI-X, too few messages: all on 0 */
} VIOSCSI_INTERRUPT_MODE;

/* Counters for tests and debugging (Interlocked* or under a lock). */
typedef struct _VIOSCSI_QUEUE_STATISTICS {
    volatile LONG Submitted;     /* buffers made available */
    volatile LONG Completed;     /* used buffers taken back */
    volatile LONG Notifications; /* doorbell writes */
    volatile LONG Suppressed;    /* doorbells EVENT_IDX made unnecessary */
    volatile LONG DpcRuns;
    volatile LONG RingFull; /* StartIo answered BUSY */
    volatile LONG BadUsed;  /* used elements naming no buffer of ours */
} VIOSCSI_QUEUE_STATISTICS, *PVIOSCSI_QUEUE_STATISTICS;

/*
 * One split virtqueue (2.7). Desc/Avail/Used point into the uncached
 * extension; Context maps a head descriptor to what it carries (a request
 * queue's SRB extension, a control queue's TMF slot, an event buffer).
 * Everything but the statistics is guarded by the queue's lock.
 */
typedef struct _VIOSCSI_QUEUE {
    USHORT Index;  /* virtqueue number */
    USHORT Size;   /* ring entries, a power of 2 */
    USHORT Vector; /* MSI-X table entry, or VIRTIO_MSI_NO_VECTOR */
    USHORT Slots;  /* buffers the ring can hold at once */
    ULONG LockMessage;
    VirtqDesc *Desc;
    volatile UCHAR *Avail;
    volatile UCHAR *Used;
    ULONGLONG DescPa, AvailPa, UsedPa;
    ULONG DescOffset, AvailOffset, UsedOffset; /* in the uncached extension */
    PUSHORT Notify;                            /* the doorbell */
    USHORT NextAvail;                          /* our copy of avail->idx */
    USHORT LastUsed; /* the next used element to read */
    USHORT FreeCount;
    USHORT FreeStack[VIOSCSI_REQUEST_QUEUE_SIZE];
    PVOID Context[VIOSCSI_REQUEST_QUEUE_SIZE];
    STOR_DPC Dpc;
    VIOSCSI_QUEUE_STATISTICS Stats;
} VIOSCSI_QUEUE, *PVIOSCSI_QUEUE;

/* A task management function's buffers, in the uncached extension. */
#pragma pack(push, 1)
typedef struct _VIOSCSI_TMF_BUFFER {
    VirtioScsiCtrlTmfReq Request;
    VirtioScsiCtrlTmfResp Response;
    UCHAR Reserved[7];
} VIOSCSI_TMF_BUFFER, *PVIOSCSI_TMF_BUFFER;
#pragma pack(pop)

/* What a TMF slot is doing (Context of the control queue points here). */
typedef struct _VIOSCSI_TMF {
    PVOID Srb;        /* the reset SRB it answers, or NULL */
    BOOLEAN BusReset; /* part of HwStorResetBus */
    UCHAR Subtype;
    UCHAR Target;
    UCHAR Lun;
} VIOSCSI_TMF, *PVIOSCSI_TMF;

typedef struct _VIOSCSI_STATISTICS {
    volatile LONG Interrupts;         /* ISR calls that were ours */
    volatile LONG SpuriousInterrupts; /* INTx with the ISR register 0 */
    volatile LONG BusResets;          /* HwStorResetBus */
    volatile LONG TmfSubmitted;
    volatile LONG TmfCompleted;
    volatile LONG HardResets; /* device resets to recover */
    volatile LONG Events;     /* event buffers returned */
    volatile LONG EventsMissed;
    volatile LONG BusChanges; /* BusChangeDetected notifications */
    volatile LONG ConfigChanges;
    volatile LONG Stops;
    volatile LONG Restarts;
    volatile LONG Responses[VIRTIO_SCSI_S_FAILURE + 2]; /* last: unknown */
} VIOSCSI_STATISTICS, *PVIOSCSI_STATISTICS;

typedef struct _VIOSCSI_ADAPTER_EXTENSION {
    /* Register windows (StorPortGetDeviceBase), never dereferenced. */
    PUCHAR CommonCfg;
    PUCHAR NotifyBase;
    PUCHAR IsrStatus;
    PUCHAR DeviceCfg;
    ULONG NotifyMultiplier;
    ULONG NotifyLength;
    ULONG MsixTableSize; /* from the MSI-X capability, 0 without one */

    /* What the device offers (find-adapter) and what we use. */
    ULONGLONG DeviceFeatures;
    ULONGLONG DriverFeatures;
    ULONG DeviceQueues; /* num_queues: request queues offered */
    ULONG SegMax;
    ULONG MaxSectors;
    ULONG CmdPerLun;
    ULONG MaxTarget;
    ULONG MaxLun;
    ULONG RequestQueues; /* in use: min(num_queues, processors) */
    ULONG MaxSg;
    ULONG MaxTransfer;
    BOOLEAN EventIdx;

    /* Parameters (registry, "-miniport virtio-scsi,param.KEY=VALUE"). */
    UCHAR SrbType;
    BOOLEAN UseEventIdx;
    BOOLEAN ForceSharedMessage;
    ULONG TargetLimit; /* MaximumNumberOfTargets at most */

    /* The uncached extension: rings, TMF buffers, event buffers. */
    PUCHAR Uncached;
    ULONGLONG UncachedPa;
    ULONG UncachedSize;
    PVIOSCSI_TMF_BUFFER TmfBuffers;
    ULONGLONG TmfPa;
    VirtioScsiEvent *Events;
    ULONGLONG EventsPa;
    ULONG TmfCount;
    ULONG EventCount;

    /* Interrupts and channels (HwStorInitialize). */
    VIOSCSI_INTERRUPT_MODE InterruptMode;
    ULONG MessageCount;
    BOOLEAN ConcurrentChannels;
    BOOLEAN DpcsInitialized;
    STOR_DPC ConfigDpc;

    /* Life cycle; written under every queue lock. */
    BOOLEAN Running; /* DRIVER_OK and queues set up */
    BOOLEAN Stopped; /* between ScsiStopAdapter and restart */
    BOOLEAN Failed;  /* the device refused to start again */

    /* Task management (control queue lock). */
    ULONG BusResetTmfPending;
    ULONG ResetEpoch; /* bus resets so far; requests carry the value */
    VIOSCSI_TMF Tmf[VIOSCSI_MAX_TMF];

    VIOSCSI_QUEUE Queues[VIOSCSI_MAX_QUEUES];
    VIOSCSI_STATISTICS Stats;
} VIOSCSI_ADAPTER_EXTENSION, *PVIOSCSI_ADAPTER_EXTENSION;

/*
 * Per-request storage (SrbExtension / MiniportContext). The first three
 * members are what the device reads and writes: the indirect descriptor
 * table (first, so it inherits the extension's alignment), the request
 * header and the response. Storport extensions are physically contiguous
 * but not cleared: each start finds what the last request left, so
 * HwStorBuildIo sets every field before anything reads it.
 */
typedef struct _VIOSCSI_SRB_EXTENSION {
    VirtqDesc Table[VIOSCSI_TABLE_ENTRIES];
    VirtioScsiCmdReq Request;
    VirtioScsiCmdResp Response;
    /* Bookkeeping the device never sees. */
    PVOID Srb;
    struct _VIOSCSI_SRB_EXTENSION *NextCompleted;
    ULONGLONG TablePa;
    USHORT TableEntries;
    /* Where in the SRB its SCSI status goes, 0 when only SrbSetScsiStatus
     * knows; read by the completion without a walk of an extended SRB. */
    USHORT ScsiStatusOffset;
    ULONG DataLength; /* DataTransferLength when built */
    ULONG UsedLength; /* from the used element */
    ULONG Epoch;      /* ResetEpoch when it was made available */
    /* The extension TablePa was looked up for: the extension's address
     * while TablePa is its physical address, anything else before the
     * first look-up (see VioScsiExtensionAddress). */
    ULONG_PTR TablePaFor;
} VIOSCSI_SRB_EXTENSION, *PVIOSCSI_SRB_EXTENSION;

/*
 * A held queue lock: the queue's MSI-X spin lock, the interrupt lock, or
 * nothing when the caller already holds the interrupt lock (INTx mode in
 * HwStorInitialize, stop and restart).
 */
typedef enum _VIOSCSI_LOCK_KIND {
    VioScsiLockNone,
    VioScsiLockMessage,
    VioScsiLockInterrupt
} VIOSCSI_LOCK_KIND;

typedef struct _VIOSCSI_LOCK {
    VIOSCSI_LOCK_KIND Kind;
    ULONG MessageId;
    ULONG OldIrql;
    STOR_LOCK_HANDLE Handle;
} VIOSCSI_LOCK, *PVIOSCSI_LOCK;

/* Every distinct queue lock, taken in ascending message order. */
typedef struct _VIOSCSI_ALL_LOCKS {
    ULONG Count;
    VIOSCSI_LOCK Locks[VIOSCSI_MAX_MESSAGES];
} VIOSCSI_ALL_LOCKS, *PVIOSCSI_ALL_LOCKS;

/* ---- entry.c ---- */

sp_DRIVER_INITIALIZE DriverEntry;
HW_FIND_ADAPTER VioScsiHwFindAdapter;
HW_INITIALIZE VioScsiHwInitialize;
HW_ADAPTER_CONTROL VioScsiHwAdapterControl;

/* ---- virtqueue.c: device and rings ---- */

/* Write 0 to device_status and wait for it to read 0. */
BOOLEAN VioScsiDeviceReset(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);
/*
 * The whole initialization sequence (3.1.1) after a reset: features,
 * device configuration, every queue (rings cleared, MSI-X vectors), then
 * DRIVER_OK and the event buffers. The caller holds every queue lock and
 * has taken back whatever the queues held.
 */
BOOLEAN VioScsiDeviceStart(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);
/* Lay out the rings of every queue in the uncached extension. */
VOID VioScsiLayoutQueues(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);
ULONG VioScsiUncachedSize(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);

/* ---- ring fields (little-endian, as the host is) ---- */

FORCEINLINE USHORT VioScsiRead16(volatile UCHAR *Base, ULONGLONG Offset)
{
    return *(volatile USHORT *)(Base + Offset);
}

FORCEINLINE VOID VioScsiWrite16(volatile UCHAR *Base, ULONGLONG Offset,
                                USHORT Value)
{
    *(volatile USHORT *)(Base + Offset) = Value;
}

FORCEINLINE ULONG VioScsiRead32(volatile UCHAR *Base, ULONGLONG Offset)
{
    return *(volatile ULONG *)(Base + Offset);
}

/*
 * Queue operations; the caller holds the queue's lock. The ones StartIo
 * and the request DPC use once per request are inline (here); the rest
 * call them.
 */

/* Queue @Head in the available ring; VioScsiVqKick publishes it. */
FORCEINLINE VOID VioScsiVqAddInline(PVIOSCSI_QUEUE Queue, USHORT Head)
{
    USHORT slot = (USHORT)(Queue->NextAvail & (Queue->Size - 1));

    VioScsiWrite16(Queue->Avail, VIRTQ_AVAIL_RING(slot), Head);
    Queue->NextAvail++;
    InterlockedIncrement(&Queue->Stats.Submitted);
}

/* Publish what was queued since @OldAvail and ring the doorbell if the
 * device wants to hear about it (2.7.13.3, 2.7.10). */
FORCEINLINE VOID
VioScsiVqKickInline(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                    PVIOSCSI_QUEUE Queue, USHORT OldAvail)
{
    USHORT newAvail = Queue->NextAvail;
    BOOLEAN notify;

    if (newAvail == OldAvail) {
        return;
    }
    /* The descriptors and ring entries must be visible before the index
     * that publishes them (2.7.13.3). */
    KeMemoryBarrier();
    VioScsiWrite16(Queue->Avail, VIRTQ_AVAIL_IDX, newAvail);
    /* And the index before we look at what the device asked for, or we
     * could miss a notification it is waiting for (2.7.13.4). */
    KeMemoryBarrier();
    if (AdapterExtension->EventIdx) {
        USHORT event =
            VioScsiRead16(Queue->Used, VIRTQ_USED_AVAIL_EVENT(Queue->Size));

        /* Notify when avail_event lies in [old, new). */
        notify = (USHORT)(newAvail - event - 1) < (USHORT)(newAvail - OldAvail);
    } else {
        notify = !(VioScsiRead16(Queue->Used, VIRTQ_USED_FLAGS) &
                   VIRTQ_USED_F_NO_NOTIFY);
    }
    if (notify) {
        InterlockedIncrement(&Queue->Stats.Notifications);
        StorPortWriteRegisterUshort(AdapterExtension, Queue->Notify,
                                    Queue->Index);
    } else {
        InterlockedIncrement(&Queue->Stats.Suppressed);
    }
}

/* Both of one head: StartIo's, inline there rather than a call per
 * request. */
FORCEINLINE VOID VioScsiVqSubmit(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 PVIOSCSI_QUEUE Queue, USHORT Head)
{
    USHORT old = Queue->NextAvail;

    VioScsiVqAddInline(Queue, Head);
    VioScsiVqKickInline(AdapterExtension, Queue, old);
}

VOID VioScsiVqAdd(PVIOSCSI_QUEUE Queue, USHORT Head);
VOID VioScsiVqKick(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                   PVIOSCSI_QUEUE Queue, USHORT OldAvail);
BOOLEAN VioScsiVqPop(PVIOSCSI_QUEUE Queue, PUSHORT Head, PULONG Length);
/* One used element: its head (0xffff if out of range) and length. */
typedef struct _VIOSCSI_USED {
    USHORT Head;
    ULONG Length;
} VIOSCSI_USED, *PVIOSCSI_USED;
/* Pops up to Max used elements into Used, in ring order, reading the used
 * index once; returns how many. */
ULONG VioScsiVqPopMany(PVIOSCSI_QUEUE Queue, PVIOSCSI_USED Used, ULONG Max);

/*
 * The steps of VioScsiVqPopMany, for the request DPC, which takes each
 * element straight to its request rather than through an array: how many
 * elements the device published past LastUsed (the index read once, the
 * elements read after it), ...
 */
FORCEINLINE USHORT VioScsiVqUsedReady(PVIOSCSI_QUEUE Queue)
{
    USHORT ready =
        (USHORT)(VioScsiRead16(Queue->Used, VIRTQ_USED_IDX) - Queue->LastUsed);

    if (ready != 0) {
        KeMemoryBarrier();
    }
    return ready;
}

/* ... the element at free-running index @Index (the id is a 32-bit field;
 * a head is below the queue size, so a larger id reads as 0xffff, which
 * the caller's range check rejects) ... */
FORCEINLINE VIOSCSI_USED VioScsiVqUsedElement(volatile UCHAR *Ring, USHORT Size,
                                              USHORT Index)
{
    ULONGLONG element = VIRTQ_USED_RING((USHORT)(Index & (Size - 1)));
    ULONG id = VioScsiRead32(Ring, element);
    VIOSCSI_USED used;

    used.Head = id < Size ? (USHORT)id : (USHORT)0xffff;
    used.Length = VioScsiRead32(Ring, element + 4);
    return used;
}

/* ... and the batch taken, up to free-running index @Last. */
FORCEINLINE VOID VioScsiVqUsedTaken(PVIOSCSI_QUEUE Queue, USHORT Last,
                                    ULONG Count)
{
    Queue->LastUsed = Last;
    InterlockedAdd(&Queue->Stats.Completed, (LONG)Count);
}
/* Ask for an interrupt at the next used buffer; TRUE when used buffers
 * arrived meanwhile (pop again). */
BOOLEAN VioScsiVqArm(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                     PVIOSCSI_QUEUE Queue);

/* Inline: taken twice per request (StartIo, DPC), and each is little
 * more than the Storport call. */
FORCEINLINE VOID VioScsiLockQueue(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                  PVIOSCSI_QUEUE Queue, PVIOSCSI_LOCK Lock)
{
    if (AdapterExtension->InterruptMode == VioScsiInterruptLine) {
        Lock->Kind = VioScsiLockInterrupt;
        StorPortAcquireSpinLock(AdapterExtension, InterruptLock, NULL,
                                &Lock->Handle);
    } else {
        Lock->Kind = VioScsiLockMessage;
        Lock->MessageId = Queue->LockMessage;
        StorPortAcquireMSISpinLock(AdapterExtension, Lock->MessageId,
                                   &Lock->OldIrql);
    }
}

FORCEINLINE VOID VioScsiUnlockQueue(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                    PVIOSCSI_LOCK Lock)
{
    switch (Lock->Kind) {
    case VioScsiLockMessage:
        StorPortReleaseMSISpinLock(AdapterExtension, Lock->MessageId,
                                   Lock->OldIrql);
        break;
    case VioScsiLockInterrupt:
        StorPortReleaseSpinLock(AdapterExtension, &Lock->Handle);
        break;
    default:
        break;
    }
    Lock->Kind = VioScsiLockNone;
}

VOID VioScsiLockAll(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                    BOOLEAN InterruptLockHeld, PVIOSCSI_ALL_LOCKS Locks);
VOID VioScsiUnlockAll(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                      PVIOSCSI_ALL_LOCKS Locks);

/* ---- io.c ---- */

HW_BUILDIO VioScsiHwBuildIo;
HW_STARTIO VioScsiHwStartIo;
HW_INTERRUPT VioScsiHwInterrupt;
HW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE VioScsiHwMessageInterrupt;
HW_DPC_ROUTINE VioScsiRequestDpc;
HW_DPC_ROUTINE VioScsiEventDpc;

/* Complete @Srb with @SrbStatus (outside every queue lock). */
VOID VioScsiCompleteSrb(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension, PVOID Srb,
                        UCHAR SrbStatus);

/* ---- power.c ---- */

HW_RESET_BUS VioScsiHwResetBus;
HW_DPC_ROUTINE VioScsiControlDpc;
HW_DPC_ROUTINE VioScsiConfigDpc;
HW_TIMER VioScsiResetWatchdog;

/* SRB_FUNCTION_RESET_LOGICAL_UNIT / RESET_DEVICE from StartIo: a TMF on
 * the control queue, the SRB completes with its response. */
BOOLEAN VioScsiStartUnitReset(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                              PVOID Srb, UCHAR Subtype);
/* Reset every target with requests in flight (I_T NEXUS RESET), with a
 * device reset if that does not finish in time. */
VOID VioScsiResetBus(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);
/* Reset the device, complete everything it held with
 * SRB_STATUS_BUS_RESET and start it again. */
VOID VioScsiHardReset(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);
SCSI_ADAPTER_CONTROL_STATUS
VioScsiStopAdapter(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);
SCSI_ADAPTER_CONTROL_STATUS
VioScsiRestartAdapter(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension);

#endif /* VIOSCSI_H */
