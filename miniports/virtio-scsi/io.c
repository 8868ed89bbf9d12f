/* SPDX-License-Identifier: MIT */
/*
 * vioscsi: the I/O path (virtio 5.6.6.1, 5.6.6.3).
 *
 * HwStorBuildIo, without any lock, turns an EXECUTE_SCSI SRB into a
 * virtio_scsi_cmd_req and an indirect descriptor table in the SRB
 * extension: the request header, data-out segments, the response, data-in
 * segments, from StorPortGetScatterGatherList. HwStorStartIo then picks
 * the request queue of its channel, takes a ring slot under that queue's
 * lock, makes it available and rings the doorbell only when EVENT_IDX
 * says the device is waiting; a full ring answers SRB_STATUS_BUSY from
 * StartIo, before anything reached the device. Other SRB functions are
 * answered in StartIo or become task management functions (power.c).
 *
 * Interrupt routines only queue the DPC of the queue that interrupted (or
 * of every queue, for INTx and a shared message). A DPC takes back every
 * used buffer under the queue's lock, re-arms the interrupt, and completes
 * the batch outside the lock, mapping the virtio response to SRB and SCSI
 * status: sense data into the SRB's sense buffer with autosense, the
 * residual into DataTransferLength. The event queue's DPC reports hot-plug
 * and parameter changes as BusChangeDetected and puts its buffers back.
 */
#include "vioscsi.h"

/* ---- building a request ---- */

static VOID VioScsiSetTableEntry(VirtqDesc *Desc, ULONGLONG Address,
                                 ULONG Length, USHORT Flags, USHORT Next)
{
    Desc->addr = Address;
    Desc->len = Length;
    Desc->flags = Flags;
    Desc->next = Next;
}

/* The first @Count segments of @Sgl as entries from @Entry on, each
 * chained to the next, with @Flags; returns the entry after them. */
static ULONG VioScsiSetSegments(VirtqDesc *Table, ULONG Entry,
                                const STOR_SCATTER_GATHER_LIST *Sgl,
                                ULONG Count, USHORT Flags)
{
    ULONG i;

    for (i = 0; i < Count; i++, Entry++) {
        VioScsiSetTableEntry(
            &Table[Entry], (ULONGLONG)Sgl->List[i].PhysicalAddress.QuadPart,
            Sgl->List[i].Length, (USHORT)(Flags | VIRTQ_DESC_F_NEXT),
            (USHORT)(Entry + 1));
    }
    return Entry;
}

/*
 * The physical address of the part of the SRB extension the device
 * reads and writes, into @Base. Storport extensions are physically
 * contiguous, but StorPortGetPhysicalAddress may report a shorter run (a
 * page); check the rest continues where it stops instead of assuming it.
 *
 * Extensions live in nonpaged memory, which is never remapped, so an
 * extension's physical address does not change from one request to the
 * next: it is asked once per extension and kept in the extension beside
 * the address it answers for, rather than asked at every request. An
 * extension the port poisoned in between (the verifier) or has not given
 * us before holds no such pair and asks again.
 */
static BOOLEAN
VioScsiExtensionAddress(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension, PVOID Srb,
                        PVIOSCSI_SRB_EXTENSION SrbExt, PULONGLONG Base)
{
    ULONG needed = FIELD_OFFSET(VIOSCSI_SRB_EXTENSION, Srb);
    ULONG length = 0;
    STOR_PHYSICAL_ADDRESS pa;
    ULONGLONG base;
    ULONG covered;

    if (SrbExt != NULL && SrbExt->TablePaFor == (ULONG_PTR)SrbExt) {
        *Base = SrbExt->TablePa;
        return TRUE;
    }
    pa = StorPortGetPhysicalAddress(AdapterExtension, Srb, SrbExt, &length);
    base = (ULONGLONG)pa.QuadPart;
    covered = length;
    if (length == 0) {
        return FALSE;
    }
    while (covered < needed) {
        length = 0;
        pa = StorPortGetPhysicalAddress(AdapterExtension, Srb,
                                        (PUCHAR)SrbExt + covered, &length);
        if (length == 0 || (ULONGLONG)pa.QuadPart != base + covered) {
            return FALSE;
        }
        covered += length;
    }
    SrbExt->TablePa = base;
    SrbExt->TablePaFor = (ULONG_PTR)SrbExt;
    *Base = base;
    return TRUE;
}

/* A CDB into the request's cleared CDB field: from 8 bytes up two
 * overlapping 8-byte moves, not a library call for a copy of a dozen
 * bytes per request. */
static VOID VioScsiCopyCdb(PUCHAR Destination, const UCHAR *Source,
                           ULONG Length)
{
    if (Length >= 8 && Length <= 16) {
        RtlCopyMemory(Destination, Source, 8);
        RtlCopyMemory(Destination + Length - 8, Source + Length - 8, 8);
    } else {
        RtlCopyMemory(Destination, Source, Length);
    }
}

/* The virtio LUN field (5.6.6.1): {1, target, flat-space LUN, 0...}. */
static VOID VioScsiSetLun(PUCHAR Lun, UCHAR Target, UCHAR LunNumber)
{
    Lun[0] = VIRTIO_SCSI_LUN_FIRST;
    Lun[1] = Target;
    Lun[2] = VIRTIO_SCSI_LUN_FLAT;
    Lun[3] = LunNumber;
    Lun[4] = 0;
    Lun[5] = 0;
    Lun[6] = 0;
    Lun[7] = 0;
}

static UCHAR VioScsiTaskAttribute(ULONG Flags, ULONG QueueAction)
{
    if (!(Flags & SRB_FLAGS_QUEUE_ACTION_ENABLE)) {
        return VIRTIO_SCSI_S_SIMPLE;
    }
    switch (QueueAction) {
    case SRB_HEAD_OF_QUEUE_TAG_REQUEST:
        return VIRTIO_SCSI_S_HEAD;
    case SRB_ORDERED_QUEUE_TAG_REQUEST:
        return VIRTIO_SCSI_S_ORDERED;
    default:
        return VIRTIO_SCSI_S_SIMPLE;
    }
}

/* What building a request reads of an EXECUTE_SCSI SRB. */
typedef struct _VIOSCSI_SRB_FIELDS {
    PVIOSCSI_SRB_EXTENSION SrbExt;
    PCDB Cdb;
    ULONG Flags;
    ULONG DataLength;
    ULONG QueueAction;
    USHORT ScsiStatusOffset; /* see VIOSCSI_SRB_EXTENSION */
    UCHAR CdbLength;
} VIOSCSI_SRB_FIELDS, *PVIOSCSI_SRB_FIELDS;

/*
 * Read the SRB once, FALSE if it is not EXECUTE_SCSI. Once the SRB's kind
 * is known its fields are read directly rather than through SrbGet*
 * accessors that each test the kind again. An extended SRB laid out the
 * usual way (its first SRBEX_DATA the CDB16 block) needs no walk for the
 * CDB, and where the block keeps the SCSI status is remembered for the
 * completion, which would otherwise walk again to set it.
 */
static BOOLEAN VioScsiReadSrb(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                              PVOID Srb, PVIOSCSI_SRB_FIELDS Fields)
{
    PSCSI_REQUEST_BLOCK classic = Srb;

    if (classic->Function == SRB_FUNCTION_STORAGE_REQUEST_BLOCK) {
        PSTORAGE_REQUEST_BLOCK srbEx = Srb;
        ULONG first = srbEx->SrbExDataOffset[0];
        PSRBEX_DATA_SCSI_CDB16 block =
            (PSRBEX_DATA_SCSI_CDB16)((PUCHAR)srbEx + first);

        if (srbEx->SrbFunction != SRB_FUNCTION_EXECUTE_SCSI) {
            return FALSE;
        }
        Fields->SrbExt = srbEx->MiniportContext;
        Fields->Flags = srbEx->SrbFlags;
        Fields->DataLength = srbEx->DataTransferLength;
        Fields->QueueAction = srbEx->RequestAttribute;
        if (srbEx->NumSrbExData != 0 &&
            first >= sizeof(STORAGE_REQUEST_BLOCK) &&
            first <= MAXUSHORT - sizeof(SRBEX_DATA_SCSI_CDB16) &&
            first + sizeof(SRBEX_DATA_SCSI_CDB16) <= srbEx->SrbLength &&
            block->Type == SrbExDataTypeScsiCdb16) {
            Fields->CdbLength = block->CdbLength;
            Fields->Cdb = (PCDB)block->Cdb; /* length 0 is refused */
            Fields->ScsiStatusOffset =
                (USHORT)(first +
                         FIELD_OFFSET(SRBEX_DATA_SCSI_CDB16, ScsiStatus));
        } else {
            /* Any other layout: the accessors find the block. */
            Fields->CdbLength = 0;
            Fields->Cdb = SrbGetScsiData(srbEx, &Fields->CdbLength, NULL, NULL,
                                         NULL, NULL);
            Fields->ScsiStatusOffset = 0;
        }
        return TRUE;
    }
    if (classic->Function != SRB_FUNCTION_EXECUTE_SCSI) {
        return FALSE;
    }
    Fields->SrbExt = classic->SrbExtension;
    Fields->Flags = classic->SrbFlags;
    Fields->DataLength = classic->DataTransferLength;
    Fields->QueueAction = classic->QueueAction;
    if (AdapterExtension->SrbType == SRB_TYPE_STORAGE_REQUEST_BLOCK) {
        /* Asked for extended SRBs, given a classic one: refused. */
        Fields->CdbLength = 0;
        Fields->Cdb = NULL;
    } else {
        Fields->CdbLength = classic->CdbLength;
        Fields->Cdb = (PCDB)classic->Cdb;
    }
    Fields->ScsiStatusOffset = FIELD_OFFSET(SCSI_REQUEST_BLOCK, ScsiStatus);
    return TRUE;
}

/* Build the request; an SRB status other than PENDING means it cannot
 * be sent. */
static UCHAR VioScsiBuildRequest(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 PVOID Srb, const VIOSCSI_SRB_FIELDS *Fields)
{
    PVIOSCSI_SRB_EXTENSION SrbExt = Fields->SrbExt;
    ULONG flags = Fields->Flags;
    /* The direction as one value, not two flags kept across the port
     * calls below. */
    ULONG direction = Fields->DataLength != 0
                          ? flags & SRB_FLAGS_UNSPECIFIED_DIRECTION
                          : SRB_FLAGS_NO_DATA_TRANSFER;
    PSTOR_SCATTER_GATHER_LIST sgl = NULL;
    UCHAR cdbLength = Fields->CdbLength;
    PCDB cdb = Fields->Cdb;
    ULONGLONG base = 0;
    BOOLEAN addressed;
    ULONG segments = 0;
    ULONG entry = 0;
    UCHAR path = 0, target = 0, lun = 0;

    /* One unsigned test for both an empty CDB and one too long. */
    if (cdb == NULL || (ULONG)cdbLength - 1 >= VIRTIO_SCSI_CDB_SIZE_DEFAULT) {
        return SRB_STATUS_INVALID_REQUEST;
    }
    if (direction == SRB_FLAGS_UNSPECIFIED_DIRECTION) {
        /* Bidirectional commands need VIRTIO_SCSI_F_INOUT (5.6.3). */
        return SRB_STATUS_INVALID_REQUEST;
    }

    /* The extension holds whatever the last request left (Storport does
     * not clear it): every byte the device reads is set here, the CDB
     * field padded with zeroes past the CDB. What does not depend on the
     * port's answers is written before asking them, so that little is
     * kept across the calls; without an extension, the address look-up
     * below refuses the request as before. */
    if (SrbExt != NULL) {
        SrbGetPathTargetLun(Srb, &path, &target, &lun);
        VioScsiSetLun(SrbExt->Request.hdr.lun, target, lun);
        /* The tag identifies the request to ABORT TASK and to traces; the
         * extension's address is unique while the request is in flight. */
        SrbExt->Request.hdr.id = (ULONGLONG)(ULONG_PTR)SrbExt;
        SrbExt->Request.hdr.task_attr =
            VioScsiTaskAttribute(flags, Fields->QueueAction);
        SrbExt->Request.hdr.prio = 0;
        SrbExt->Request.hdr.crn = 0;
        RtlZeroMemory(SrbExt->Request.cdb, sizeof(SrbExt->Request.cdb));
        VioScsiCopyCdb(SrbExt->Request.cdb, cdb->AsByte, cdbLength);
        SrbExt->Srb = Srb;
        SrbExt->ScsiStatusOffset = Fields->ScsiStatusOffset;
        SrbExt->DataLength = Fields->DataLength;
    }

    /* The address is asked before the list, though a bad list is
     * reported first: then only the address is kept across the other
     * call, rather than the list and its length across this one. */
    addressed = VioScsiExtensionAddress(AdapterExtension, Srb, SrbExt, &base);
    if (direction != SRB_FLAGS_NO_DATA_TRANSFER) {
        sgl = StorPortGetScatterGatherList(AdapterExtension, Srb);
        if (sgl == NULL || sgl->NumberOfElements == 0) {
            return SRB_STATUS_ERROR;
        }
        segments = sgl->NumberOfElements;
        if (segments > AdapterExtension->MaxSg) {
            return SRB_STATUS_INVALID_REQUEST;
        }
    }
    if (!addressed) {
        return SRB_STATUS_ERROR;
    }

    /* Device-readable parts first, then device-writable ones (2.7.4).
     * Whether the response is the last entry is known before it is
     * written, and the last data-in segment is written apart, so no
     * entry tests whether it ends the chain. */
    VioScsiSetTableEntry(&SrbExt->Table[entry],
                         base + FIELD_OFFSET(VIOSCSI_SRB_EXTENSION, Request),
                         sizeof(VirtioScsiCmdReq), VIRTQ_DESC_F_NEXT,
                         (USHORT)(entry + 1));
    entry++;
    if (direction == SRB_FLAGS_DATA_OUT) {
        entry = VioScsiSetSegments(SrbExt->Table, entry, sgl, segments, 0);
    }
    if (direction == SRB_FLAGS_DATA_IN) {
        VioScsiSetTableEntry(
            &SrbExt->Table[entry],
            base + FIELD_OFFSET(VIOSCSI_SRB_EXTENSION, Response),
            sizeof(VirtioScsiCmdResp), VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
            (USHORT)(entry + 1));
        entry++;
        entry = VioScsiSetSegments(SrbExt->Table, entry, sgl, segments - 1,
                                   VIRTQ_DESC_F_WRITE);
        VioScsiSetTableEntry(
            &SrbExt->Table[entry],
            (ULONGLONG)sgl->List[segments - 1].PhysicalAddress.QuadPart,
            sgl->List[segments - 1].Length, VIRTQ_DESC_F_WRITE, 0);
    } else {
        VioScsiSetTableEntry(&SrbExt->Table[entry],
                             base +
                                 FIELD_OFFSET(VIOSCSI_SRB_EXTENSION, Response),
                             sizeof(VirtioScsiCmdResp), VIRTQ_DESC_F_WRITE, 0);
    }
    entry++;
    SrbExt->TableEntries = (USHORT)entry;
    return SRB_STATUS_PENDING;
}

BOOLEAN VioScsiHwBuildIo(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    PVOID srb = Srb;
    VIOSCSI_SRB_FIELDS fields;
    UCHAR status;

    if (!VioScsiReadSrb(adapterExtension, srb, &fields)) {
        return TRUE; /* StartIo answers the others */
    }
    status = VioScsiBuildRequest(adapterExtension, srb, &fields);
    if (status == SRB_STATUS_PENDING) {
        return TRUE;
    }
    /* FALSE after completing: the port does not call StartIo. */
    VioScsiCompleteSrb(adapterExtension, srb, status);
    return FALSE;
}

/* ---- starting ---- */

VOID VioScsiCompleteSrb(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension, PVOID Srb,
                        UCHAR SrbStatus)
{
    SrbSetSrbStatus(Srb, SrbStatus);
    StorPortNotification(RequestComplete, AdapterExtension, Srb);
}

/* The request queue of this StartIo: the channel the port runs it on, so
 * concurrent StartIo calls meet different queues. */
static PVIOSCSI_QUEUE
VioScsiSelectQueue(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension, PVOID Srb)
{
    ULONG channel = 0;

    if (AdapterExtension->RequestQueues > 1) {
        if (AdapterExtension->ConcurrentChannels) {
            STARTIO_PERFORMANCE_PARAMETERS params;

            RtlZeroMemory(&params, sizeof(params));
            params.Version = STOR_PERF_VERSION;
            params.Size = sizeof(params);
            if (StorPortGetStartIoPerfParams(AdapterExtension, Srb, &params) ==
                STOR_STATUS_SUCCESS) {
                channel = params.ChannelNumber;
            }
        } else {
            PROCESSOR_NUMBER processor;

            if (StorPortGetCurrentProcessorNumber(
                    AdapterExtension, &processor) == STOR_STATUS_SUCCESS) {
                channel = processor.Number;
            }
        }
    }
    return &AdapterExtension->Queues[VIOSCSI_FIRST_REQUEST +
                                     channel % AdapterExtension->RequestQueues];
}

static BOOLEAN VioScsiStartCommand(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                   PVOID Srb)
{
    PVIOSCSI_SRB_EXTENSION srbExt = SrbGetMiniportContext(Srb);
    PVIOSCSI_QUEUE queue = VioScsiSelectQueue(AdapterExtension, Srb);
    VIOSCSI_LOCK lock;
    UCHAR refusal = SRB_STATUS_PENDING;
    USHORT head;

    VioScsiLockQueue(AdapterExtension, queue, &lock);
    if (!AdapterExtension->Running) {
        /* Stopped: the port holds its queues, so this is a request that
         * raced with a stop; a failed device takes nothing. */
        refusal =
            AdapterExtension->Failed ? SRB_STATUS_NO_HBA : SRB_STATUS_BUSY;
    } else if (queue->FreeCount == 0) {
        /* Nothing was made available: BUSY is still legal here. */
        InterlockedIncrement(&queue->Stats.RingFull);
        refusal = SRB_STATUS_BUSY;
    } else {
        head = queue->FreeStack[--queue->FreeCount];
        queue->Context[head] = srbExt;
        srbExt->Epoch = AdapterExtension->ResetEpoch;
        VioScsiSetTableEntry(&queue->Desc[head], srbExt->TablePa,
                             srbExt->TableEntries * sizeof(VirtqDesc),
                             VIRTQ_DESC_F_INDIRECT, 0);
        /* The doorbell is rung under the lock: a device reset that takes
         * the locks cannot fall between publishing and notifying. */
        VioScsiVqSubmit(AdapterExtension, queue, head);
    }
    VioScsiUnlockQueue(AdapterExtension, &lock);
    /* From here the request may already be complete on another vCPU. */
    if (refusal != SRB_STATUS_PENDING) {
        VioScsiCompleteSrb(AdapterExtension, Srb, refusal);
    }
    return TRUE;
}

/* Every function but EXECUTE_SCSI: out of line, so that the I/O path's
 * StartIo does not set up for them. */
static DECLSPEC_NOINLINE BOOLEAN
VioScsiStartOther(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension, PVOID Srb)
{
    switch (SrbGetSrbFunction(Srb)) {
    case SRB_FUNCTION_RESET_LOGICAL_UNIT:
        return VioScsiStartUnitReset(AdapterExtension, Srb,
                                     VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET);
    case SRB_FUNCTION_RESET_DEVICE:
        return VioScsiStartUnitReset(AdapterExtension, Srb,
                                     VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET);
    case SRB_FUNCTION_RESET_BUS:
        VioScsiResetBus(AdapterExtension);
        VioScsiCompleteSrb(AdapterExtension, Srb, SRB_STATUS_SUCCESS);
        return TRUE;
    case SRB_FUNCTION_FLUSH:
    case SRB_FUNCTION_SHUTDOWN:
        /* The HBA caches nothing; the disk's cache is flushed by the
         * class driver's SYNCHRONIZE CACHE. */
    case SRB_FUNCTION_PNP:
    case SRB_FUNCTION_POWER:
        VioScsiCompleteSrb(AdapterExtension, Srb, SRB_STATUS_SUCCESS);
        return TRUE;
    default:
        /* ABORT_COMMAND and the rest: Storport does not send them. */
        VioScsiCompleteSrb(AdapterExtension, Srb, SRB_STATUS_INVALID_REQUEST);
        return TRUE;
    }
}

BOOLEAN VioScsiHwStartIo(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    PVOID srb = Srb;

    if (SrbGetSrbFunction(srb) == SRB_FUNCTION_EXECUTE_SCSI) {
        return VioScsiStartCommand(adapterExtension, srb);
    }
    return VioScsiStartOther(adapterExtension, srb);
}

/* ---- completion ---- */

static DECLSPEC_NOINLINE VOID VioScsiSetScsiStatusSlow(PVOID Srb,
                                                       UCHAR ScsiStatus)
{
    SrbSetScsiStatus(Srb, ScsiStatus);
}

/* Inline for the known offset; the walk stays out of the loop's way. */
FORCEINLINE VOID VioScsiSetScsiStatus(PVIOSCSI_SRB_EXTENSION SrbExt,
                                      UCHAR ScsiStatus)
{
    if (SrbExt->ScsiStatusOffset != 0) {
        ((PUCHAR)SrbExt->Srb)[SrbExt->ScsiStatusOffset] = ScsiStatus;
    } else {
        VioScsiSetScsiStatusSlow(SrbExt->Srb, ScsiStatus);
    }
}

/*
 * The SRB's outcome from the virtio response (5.6.6.1). A residual is
 * reported the Windows way: DataTransferLength becomes what moved and the
 * status SRB_STATUS_DATA_OVERRUN, which class drivers read as "short".
 */
static VOID VioScsiCompleteCommand(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                   PVIOSCSI_SRB_EXTENSION SrbExt)
{
    PVOID srb = SrbExt->Srb;
    const VirtioScsiCmdResp *response = &SrbExt->Response;
    UCHAR code = VIRTIO_SCSI_S_FAILURE;
    UCHAR scsiStatus = 0;
    ULONG residual = 0;
    ULONG moved;
    UCHAR srbStatus;

    /* A response the device did not write holds what the extension held
     * before (Storport does not clear it): read none of it then. */
    if (SrbExt->UsedLength >= sizeof(VirtioScsiCmdRespHdr)) {
        code = response->hdr.response;
        scsiStatus = response->hdr.status;
        residual = response->hdr.residual;
        /* Nearly every command: all of it moved, GOOD status, nothing
         * else to map. What the switch below does for it, without the
         * residual arithmetic and the tests for the rarer outcomes. */
        if (code == VIRTIO_SCSI_S_OK && scsiStatus == SCSISTAT_GOOD &&
            residual == 0) {
            InterlockedIncrement(
                &AdapterExtension->Stats.Responses[VIRTIO_SCSI_S_OK]);
            VioScsiSetScsiStatus(SrbExt, SCSISTAT_GOOD);
            VioScsiCompleteSrb(AdapterExtension, srb, SRB_STATUS_SUCCESS);
            return;
        }
    }
    InterlockedIncrement(
        &AdapterExtension->Stats.Responses[code <= VIRTIO_SCSI_S_FAILURE
                                               ? code
                                               : VIRTIO_SCSI_S_FAILURE + 1]);
    moved = residual < SrbExt->DataLength ? SrbExt->DataLength - residual : 0;

    switch (code) {
    case VIRTIO_SCSI_S_OK:
        VioScsiSetScsiStatus(SrbExt, scsiStatus);
        if (scsiStatus == SCSISTAT_GOOD) {
            srbStatus =
                residual != 0 ? SRB_STATUS_DATA_OVERRUN : SRB_STATUS_SUCCESS;
        } else {
            srbStatus = SRB_STATUS_ERROR;
        }
        if (scsiStatus == SCSISTAT_CHECK_CONDITION) {
            PVOID sense = SrbGetSenseInfoBuffer(srb);
            UCHAR senseBufferLength = SrbGetSenseInfoBufferLength(srb);
            ULONG senseLength = response->hdr.sense_len;

            if (senseLength > sizeof(response->sense)) {
                senseLength = sizeof(response->sense);
            }
            if (senseLength > senseBufferLength) {
                senseLength = senseBufferLength;
            }
            if (sense != NULL && senseLength != 0 &&
                !(SrbGetSrbFlags(srb) & SRB_FLAGS_DISABLE_AUTOSENSE)) {
                RtlCopyMemory(sense, response->sense, senseLength);
                SrbSetSenseInfoBufferLength(srb, (UCHAR)senseLength);
                srbStatus |= SRB_STATUS_AUTOSENSE_VALID;
            }
        }
        break;
    case VIRTIO_SCSI_S_OVERRUN:
        /* The command wanted more than the buffers held. */
        VioScsiSetScsiStatus(SrbExt, scsiStatus);
        srbStatus = SRB_STATUS_DATA_OVERRUN;
        break;
    case VIRTIO_SCSI_S_ABORTED:
        srbStatus = SRB_STATUS_ABORTED;
        moved = 0;
        break;
    case VIRTIO_SCSI_S_BAD_TARGET:
        /* No target at that id: what an empty slot on a parallel bus
         * answers, and what enumeration expects. */
        srbStatus = SRB_STATUS_SELECTION_TIMEOUT;
        moved = 0;
        break;
    case VIRTIO_SCSI_S_RESET:
        srbStatus = SRB_STATUS_BUS_RESET;
        moved = 0;
        break;
    case VIRTIO_SCSI_S_BUSY:
        /* The transaction started: SRB_STATUS_BUSY is no longer allowed.
         * A busy target is what SCSI status BUSY tells the class driver,
         * which retries after a delay. */
        VioScsiSetScsiStatus(SrbExt, SCSISTAT_BUSY);
        srbStatus = SRB_STATUS_ERROR;
        moved = 0;
        break;
    case VIRTIO_SCSI_S_TRANSPORT_FAILURE:
        /* The path failed; the command may succeed if sent again. */
        srbStatus = SRB_STATUS_UNEXPECTED_BUS_FREE;
        moved = 0;
        break;
    case VIRTIO_SCSI_S_TARGET_FAILURE:
        /* The target failed for good: retrying will not help. */
        srbStatus = SRB_STATUS_NO_DEVICE;
        moved = 0;
        break;
    case VIRTIO_SCSI_S_NEXUS_FAILURE:
    case VIRTIO_SCSI_S_FAILURE:
    default:
        srbStatus = SRB_STATUS_ERROR;
        moved = 0;
        break;
    }
    if (moved != SrbExt->DataLength) {
        SrbSetDataTransferLength(srb, moved);
    }
    VioScsiCompleteSrb(AdapterExtension, srb, srbStatus);
}

VOID VioScsiRequestDpc(PSTOR_DPC Dpc, PVOID HwDeviceExtension,
                       PVOID SystemArgument1, PVOID SystemArgument2)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = HwDeviceExtension;
    PVIOSCSI_QUEUE queue = CONTAINING_RECORD(Dpc, VIOSCSI_QUEUE, Dpc);
    PVIOSCSI_SRB_EXTENSION first = NULL;
    PVIOSCSI_SRB_EXTENSION *tail = &first;
    PVIOSCSI_SRB_EXTENSION completed;
    VIOSCSI_LOCK lock;
    USHORT ready;

    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);

    InterlockedIncrement(&queue->Stats.DpcRuns);
    VioScsiLockQueue(adapterExtension, queue, &lock);
    if (adapterExtension->Running) {
        /* Locals, not the queue's fields: the stores below could alias
         * them. */
        volatile UCHAR *ring = queue->Used;
        USHORT size = queue->Size;

        do {
            /* In batches: the used index is read (and its barrier paid)
             * once per batch; each element goes straight to its request,
             * not through an array first. */
            while ((ready = VioScsiVqUsedReady(queue)) != 0) {
                USHORT last = queue->LastUsed;
                USHORT end = (USHORT)(last + ready);

                for (; last != end; last++) {
                    VIOSCSI_USED used = VioScsiVqUsedElement(ring, size, last);
                    PVIOSCSI_SRB_EXTENSION srbExt =
                        used.Head < size ? queue->Context[used.Head] : NULL;

                    if (srbExt == NULL) {
                        /* Not a buffer we gave: the device is confused.
                         * Skip it; the request it should have been times
                         * out and the reset recovers. */
                        InterlockedIncrement(&queue->Stats.BadUsed);
                        continue;
                    }
                    queue->Context[used.Head] = NULL;
                    queue->FreeStack[queue->FreeCount++] = used.Head;
                    srbExt->UsedLength = used.Length;
                    *tail = srbExt;
                    tail = &srbExt->NextCompleted;
                }
                VioScsiVqUsedTaken(queue, last, ready);
            }
        } while (VioScsiVqArm(adapterExtension, queue));
    }
    *tail = NULL;
    VioScsiUnlockQueue(adapterExtension, &lock);

    /* Complete the batch outside the lock; after RequestComplete the
     * extension is the port's, so the link is read first. The walk has
     * its own variable: first's address was taken, and each step would
     * store it. */
    for (completed = first; completed != NULL;) {
        PVIOSCSI_SRB_EXTENSION next = completed->NextCompleted;

        VioScsiCompleteCommand(adapterExtension, completed);
        completed = next;
    }
}

/* ---- interrupts ---- */

static VOID VioScsiIssueDpc(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                            PSTOR_DPC Dpc)
{
    /* FALSE means it is queued already: it will see this work too. */
    StorPortIssueDpc(AdapterExtension, Dpc, NULL, NULL);
}

static VOID VioScsiIssueAllDpcs(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG i;

    for (i = 0; i < VIOSCSI_FIRST_REQUEST + AdapterExtension->RequestQueues;
         i++) {
        VioScsiIssueDpc(AdapterExtension, &AdapterExtension->Queues[i].Dpc);
    }
}

/* INTx: the ISR register says whether it was us and why (4.1.4.5);
 * reading it clears it and lowers the line. */
BOOLEAN VioScsiHwInterrupt(PVOID DeviceExtension)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    UCHAR isr;

    if (adapterExtension->InterruptMode != VioScsiInterruptLine ||
        adapterExtension->IsrStatus == NULL ||
        !adapterExtension->DpcsInitialized) {
        return FALSE;
    }
    isr = StorPortReadRegisterUchar(adapterExtension,
                                    adapterExtension->IsrStatus);
    if (isr == 0) {
        InterlockedIncrement(&adapterExtension->Stats.SpuriousInterrupts);
        return FALSE;
    }
    InterlockedIncrement(&adapterExtension->Stats.Interrupts);
    if (isr & VIRTIO_PCI_ISR_QUEUE) {
        VioScsiIssueAllDpcs(adapterExtension);
    }
    if (isr & VIRTIO_PCI_ISR_CONFIG) {
        VioScsiIssueDpc(adapterExtension, &adapterExtension->ConfigDpc);
    }
    return TRUE;
}

BOOLEAN VioScsiHwMessageInterrupt(PVOID DeviceExtension, ULONG MessageId)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    ULONG queue;

    if (!adapterExtension->DpcsInitialized) {
        return FALSE;
    }
    if (adapterExtension->InterruptMode == VioScsiInterruptShared) {
        if (MessageId != 0) {
            return FALSE;
        }
        InterlockedIncrement(&adapterExtension->Stats.Interrupts);
        VioScsiIssueAllDpcs(adapterExtension);
        VioScsiIssueDpc(adapterExtension, &adapterExtension->ConfigDpc);
        return TRUE;
    }
    if (adapterExtension->InterruptMode != VioScsiInterruptPerQueue) {
        return FALSE;
    }
    switch (MessageId) {
    case VIOSCSI_MSG_CONFIG:
        VioScsiIssueDpc(adapterExtension, &adapterExtension->ConfigDpc);
        break;
    case VIOSCSI_MSG_CONTROL:
        VioScsiIssueDpc(adapterExtension,
                        &adapterExtension->Queues[VIOSCSI_CONTROL_QUEUE].Dpc);
        break;
    case VIOSCSI_MSG_EVENT:
        VioScsiIssueDpc(adapterExtension,
                        &adapterExtension->Queues[VIOSCSI_EVENT_QUEUE].Dpc);
        break;
    default:
        queue = MessageId - VIOSCSI_MSG_FIRST_REQUEST;
        if (queue >= adapterExtension->RequestQueues) {
            return FALSE;
        }
        VioScsiIssueDpc(
            adapterExtension,
            &adapterExtension->Queues[VIOSCSI_FIRST_REQUEST + queue].Dpc);
        break;
    }
    InterlockedIncrement(&adapterExtension->Stats.Interrupts);
    return TRUE;
}

/* ---- events (5.6.6.3) ---- */

/*
 * Take back every event, put each buffer straight back (a device with no
 * buffer loses events), and report what they say outside the lock: a
 * hot-plug, a removal, a parameter change or lost events all mean the
 * port should look at the bus again.
 */
VOID VioScsiEventDpc(PSTOR_DPC Dpc, PVOID HwDeviceExtension,
                     PVOID SystemArgument1, PVOID SystemArgument2)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = HwDeviceExtension;
    PVIOSCSI_QUEUE queue = &adapterExtension->Queues[VIOSCSI_EVENT_QUEUE];
    BOOLEAN rescan = FALSE;
    VIOSCSI_LOCK lock;
    USHORT head;
    USHORT old;
    ULONG length;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);

    InterlockedIncrement(&queue->Stats.DpcRuns);
    VioScsiLockQueue(adapterExtension, queue, &lock);
    if (adapterExtension->Running) {
        old = queue->NextAvail;
        do {
            while (VioScsiVqPop(queue, &head, &length)) {
                VirtioScsiEvent *event =
                    head < queue->Size ? queue->Context[head] : NULL;
                ULONG type;

                if (event == NULL) {
                    InterlockedIncrement(&queue->Stats.BadUsed);
                    continue;
                }
                type = event->event;
                InterlockedIncrement(&adapterExtension->Stats.Events);
                if (type & VIRTIO_SCSI_T_EVENTS_MISSED) {
                    InterlockedIncrement(&adapterExtension->Stats.EventsMissed);
                    rescan = TRUE;
                }
                if (length >= sizeof(VirtioScsiEvent)) {
                    switch (type & ~VIRTIO_SCSI_T_EVENTS_MISSED) {
                    case VIRTIO_SCSI_T_TRANSPORT_RESET:
                    case VIRTIO_SCSI_T_PARAM_CHANGE:
                        rescan = TRUE;
                        break;
                    default:
                        break; /* NO_EVENT, ASYNC_NOTIFY (not subscribed) */
                    }
                }
                RtlZeroMemory(event, sizeof(*event));
                VioScsiVqAdd(queue, head);
            }
        } while (VioScsiVqArm(adapterExtension, queue));
        VioScsiVqKick(adapterExtension, queue, old);
    }
    VioScsiUnlockQueue(adapterExtension, &lock);
    if (rescan) {
        InterlockedIncrement(&adapterExtension->Stats.BusChanges);
        StorPortNotification(BusChangeDetected, adapterExtension, (UCHAR)0);
    }
}
