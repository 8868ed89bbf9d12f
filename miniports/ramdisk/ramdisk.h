/* SPDX-License-Identifier: MIT */
/*
 * ramdisk: a virtual Storport miniport (STOR_FEATURE_VIRTUAL_MINIPORT) whose
 * logical units are blocks of pool memory. It has no hardware: the SCSI
 * commands a simple direct-access device answers (SPC-4, SBC-3) are
 * emulated in software, and a request completes either inside
 * HwStorStartIo, from a DPC, or from a work item at PASSIVE_LEVEL, so all
 * three completion contexts of the Storport model get exercised.
 *
 * Written as a Windows driver author would, against port/include only:
 * the same source builds into storemu (DriverEntry renamed by the
 * Makefile) or as a shared object loaded with "-miniport ./ramdisk.so".
 * Files, after storahci's split: entry.c (DriverEntry, find-adapter,
 * initialize, adapter control, parameters), io.c (StartIo, the request
 * queue, SCSI command emulation, completion), power.c (bus reset, stop and
 * restart, unit control).
 */
#ifndef RAMDISK_H
#define RAMDISK_H

#include <storport.h>

/* ---- geometry and limits ---- */

#define RAMDISK_BLOCK_SIZE         512
#define RAMDISK_BLOCK_SHIFT        9
#define RAMDISK_DEFAULT_DISK_BYTES (16ULL * 1024 * 1024)
/* One pool allocation per unit, and StorPortAllocatePool takes a ULONG. */
#define RAMDISK_MIN_DISK_BYTES        (64ULL * 1024)
#define RAMDISK_MAX_DISK_BYTES        (2ULL * 1024 * 1024 * 1024)
#define RAMDISK_MAX_LUNS              8
#define RAMDISK_MAX_TRANSFER          (1024 * 1024)
#define RAMDISK_PAGE_SIZE             4096
#define RAMDISK_MAX_UNMAP_DESCRIPTORS 64
/* The work item's per-request delay: at most ten virtual seconds. */
#define RAMDISK_MAX_DELAY_US 10000000
/* Longest registry string we accept for a parameter. */
#define RAMDISK_MAX_PARAMETER 32

/* Pool tags, read back to front in a pool dump: "RdDk". */
#define RAMDISK_TAG_DISK 'kDdR'

/* INQUIRY identification (space padded, as SPC requires). */
#define RAMDISK_VENDOR_ID  "STOREMU "
#define RAMDISK_PRODUCT_ID "RAMDISK         "
#define RAMDISK_REVISION   "1.0 "

/* SPC-4 codes scsi.h has no name for. */
#define RAMDISK_ASC_SAVING_NOT_SUPPORTED 0x39
#define RAMDISK_ASCQ_INIT_REQUIRED       SCSI_SENSEQ_INIT_COMMAND_REQUIRED
#define RAMDISK_FIXED_SENSE_LENGTH       18

/* ---- configuration ---- */

typedef enum _RAMDISK_COMPLETION_MODE {
    RamDiskCompleteInline = 0, /* inside HwStorStartIo */
    RamDiskCompleteDpc,        /* from the adapter's DPC (DISPATCH_LEVEL) */
    RamDiskCompleteWorkItem    /* from a work item (PASSIVE_LEVEL) */
} RAMDISK_COMPLETION_MODE;

/* ---- per-unit and per-adapter state ---- */

typedef struct _RAMDISK_LOGICAL_UNIT {
    PUCHAR Data; /* pool, BlockCount blocks */
    ULONGLONG BlockCount;
    BOOLEAN Stopped;                    /* START STOP UNIT with START=0 */
    BOOLEAN Started;                    /* ScsiUnitStart seen */
    STOR_DEVICE_POWER_STATE PowerState; /* last ScsiUnitPower */
} RAMDISK_LOGICAL_UNIT, *PRAMDISK_LOGICAL_UNIT;

/* Counters for tests and debugging; updated with Interlocked*. */
typedef struct _RAMDISK_STATISTICS {
    volatile LONG Reads;
    volatile LONG Writes;
    volatile LONG Verifies;
    volatile LONG Unmaps;
    volatile LONG SyncCaches;
    volatile LONG Flushes;
    volatile LONG Shutdowns;
    volatile LONG LunResets;
    volatile LONG CheckConditions;
    volatile LONG InlineCompletions;
    volatile LONG DpcCompletions;
    volatile LONG WorkItemCompletions;
    volatile LONG BusResets;        /* HwStorResetBus calls */
    volatile LONG ResetCompletions; /* StorPortCompleteRequest calls */
    volatile LONG Stops;
    volatile LONG Restarts;
} RAMDISK_STATISTICS, *PRAMDISK_STATISTICS;

typedef struct _RAMDISK_ADAPTER_EXTENSION {
    /* Configuration, read in HwStorFindAdapter. */
    ULONGLONG DiskBytes; /* per unit */
    ULONG LunCount;
    RAMDISK_COMPLETION_MODE CompletionMode;
    ULONG DelayMicroseconds; /* work item mode only */
    UCHAR SrbType;           /* SRB_TYPE_* asked of the port */

    RAMDISK_LOGICAL_UNIT Units[RAMDISK_MAX_LUNS];

    /*
     * Requests waiting for the DPC or the work item, linked through their
     * SRB extensions. The DPC's lock (StorPortAcquireSpinLock(DpcLock))
     * guards the queue and the reset bookkeeping below in every mode, so
     * the DPC is initialized even when completions do not use it.
     */
    STOR_DPC CompletionDpc;
    PVOID Worker;
    PVOID QueueHead;
    PVOID QueueTail;
    ULONG Queued;
    ULONG ActiveDrainers; /* requests being executed outside the lock */
    BOOLEAN ResetPending; /* HwStorResetBus deferred to a drainer */
    UCHAR ResetPathId;
    /* Bumped after each StorPortCompleteRequest, under the lock: a start
     * that saw an older value had its request completed by the reset. */
    volatile LONG ResetGeneration;

    BOOLEAN Initialized; /* HwStorInitialize ran */
    BOOLEAN Stopped;     /* between ScsiStopAdapter and restart */
    RAMDISK_STATISTICS Stats;
} RAMDISK_ADAPTER_EXTENSION, *PRAMDISK_ADAPTER_EXTENSION;

/* Per-request storage (SrbExtension / MiniportContext). */
typedef struct _RAMDISK_SRB_EXTENSION {
    PVOID NextSrb; /* queue link */
} RAMDISK_SRB_EXTENSION, *PRAMDISK_SRB_EXTENSION;

/* ---- entry.c ---- */

sp_DRIVER_INITIALIZE DriverEntry;
VIRTUAL_HW_FIND_ADAPTER RamDiskHwFindAdapter;
HW_INITIALIZE RamDiskHwInitialize;
HW_ADAPTER_CONTROL RamDiskHwAdapterControl;
HW_FREE_ADAPTER_RESOURCES RamDiskHwFreeAdapterResources;

/* ---- io.c ---- */

HW_STARTIO RamDiskHwStartIo;
HW_DPC_ROUTINE RamDiskCompletionDpc;
HW_WORKITEM RamDiskCompletionWorkItem;

/*
 * Complete, under the queue lock, every request the port has given the
 * miniport on @PathId with SRB_STATUS_BUS_RESET (StorPortCompleteRequest)
 * and forget the queue. Caller holds the queue lock and has made sure no
 * request is being executed outside it.
 */
VOID RamDiskResetLocked(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                        UCHAR PathId);
VOID RamDiskAcquireQueueLock(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                             PSTOR_LOCK_HANDLE LockHandle);
VOID RamDiskReleaseQueueLock(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                             PSTOR_LOCK_HANDLE LockHandle);

/* ---- power.c ---- */

HW_RESET_BUS RamDiskHwResetBus;
HW_UNIT_CONTROL RamDiskHwUnitControl;
SCSI_ADAPTER_CONTROL_STATUS
RamDiskStopAdapter(PRAMDISK_ADAPTER_EXTENSION AdapterExtension);
SCSI_ADAPTER_CONTROL_STATUS
RamDiskRestartAdapter(PRAMDISK_ADAPTER_EXTENSION AdapterExtension);

#endif /* RAMDISK_H */
