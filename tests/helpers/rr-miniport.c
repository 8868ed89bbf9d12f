/* SPDX-License-Identifier: MIT */
/*
 * "rr": the record/replay fixture miniport for tp-device (rr.h). Written
 * against port/include as a Windows Storport miniport would be, full
 * duplex, with the tag free-stack race described in rr.h:
 *
 *   HwStorStartIo (StartIo lock only)     interrupt routine (DIRQL)
 *     tag = free[--nfree]                   n = nfree
 *     slot[tag] = srb                       while ((t = READ CQ) != EMPTY)
 *     program DMA, ring doorbell(tag)           free[n++] = t ...
 *                                           nfree = n
 *
 * StartIo's pop makes no register access, so nothing else runs in the
 * middle of it; the routine's copy of nfree lives across its CQ reads,
 * which are yield points where another vCPU's StartIo may pop. The lost
 * pop puts an in-flight tag back on the stack.
 */
#include <string.h>
#include "hw/core/ram.h"
#include "system/boundary.h"
#include "tests/helpers/rr.h"
#include "tests/helpers/tp-device.h"

bool rr_fix;
unsigned rr_stale_completions;
uint64_t rr_bug_seq;
uint64_t rr_stale_seq;

typedef struct RrExt {
    PULONG regs;
    STOR_DPC dpc;
    ULONG nmsg;
    ULONG next_queue;
    PVOID slot[RR_TAGS];
    ULONG free[RR_TAGS];
    ULONG nfree;
    PVOID done[2 * RR_TAGS];
    ULONG ndone;
} RrExt;

static HW_FIND_ADAPTER rr_find_adapter;
static HW_INITIALIZE rr_initialize;
static HW_STARTIO rr_startio;
static HW_INTERRUPT rr_interrupt;
static HW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE rr_msi;
static HW_DPC_ROUTINE rr_dpc;
static HW_RESET_BUS rr_reset_bus;
static HW_ADAPTER_CONTROL rr_adapter_control;

static PULONG reg(RrExt *x, ULONG off)
{
    return (PULONG)((PUCHAR)x->regs + off);
}

static void complete(RrExt *x, PVOID srb, UCHAR status)
{
    SrbSetSrbStatus(srb, status);
    StorPortNotification(RequestComplete, x, srb);
}

static void reset_tags(RrExt *x)
{
    memset(x->slot, 0, sizeof(x->slot));
    for (ULONG t = 0; t < RR_TAGS; t++) {
        x->free[t] = RR_TAGS - 1 - t;
    }
    x->nfree = RR_TAGS;
    x->ndone = 0;
}

static ULONG rr_find_adapter(PVOID DeviceExtension, PVOID HwContext,
                             PVOID BusInformation, PCHAR ArgumentString,
                             PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                             PBOOLEAN Again)
{
    RrExt *x = DeviceExtension;
    ACCESS_RANGE *r = *ConfigInfo->AccessRanges;

    *Again = FALSE;
    if (ConfigInfo->NumberOfAccessRanges < 1 || !r[0].RangeInMemory) {
        return SP_RETURN_NOT_FOUND;
    }
    x->regs = StorPortGetDeviceBase(x, ConfigInfo->AdapterInterfaceType,
                                    ConfigInfo->SystemIoBusNumber,
                                    r[0].RangeStart, r[0].RangeLength, FALSE);
    if (!x->regs ||
        StorPortReadRegisterUlong(x, reg(x, TP_REG_ID)) != TP_DEVICE_MAGIC) {
        return SP_RETURN_NOT_FOUND;
    }
    ConfigInfo->SynchronizationModel = StorSynchronizeFullDuplex;
    ConfigInfo->MaximumTransferLength = RR_MAX_XFER;
    ConfigInfo->NumberOfPhysicalBreaks = 16;
    ConfigInfo->NumberOfBuses = 1;
    ConfigInfo->MaximumNumberOfTargets = 1;
    ConfigInfo->MaximumNumberOfLogicalUnits = 1;
    ConfigInfo->ScatterGather = TRUE;
    ConfigInfo->Master = TRUE;
    ConfigInfo->HwMSInterruptRoutine = rr_msi;
    ConfigInfo->InterruptSynchronizationMode = InterruptSynchronizePerMessage;
    reset_tags(x);
    return SP_RETURN_FOUND;
}

static BOOLEAN rr_initialize(PVOID DeviceExtension)
{
    RrExt *x = DeviceExtension;
    MESSAGE_INTERRUPT_INFORMATION info;

    StorPortInitializeDpc(x, &x->dpc, rr_dpc);
    x->nmsg = 0;
    while (StorPortGetMSIInfo(x, x->nmsg, &info) == STOR_STATUS_SUCCESS) {
        x->nmsg++;
    }
    return TRUE;
}

/* ---- commands answered here ---- */

static void put_be32(PUCHAR p, ULONG v)
{
    p[0] = (UCHAR)(v >> 24);
    p[1] = (UCHAR)(v >> 16);
    p[2] = (UCHAR)(v >> 8);
    p[3] = (UCHAR)v;
}

static void answer(RrExt *x, PVOID srb, const void *data, ULONG len)
{
    PVOID buf = SrbGetDataBuffer(srb);
    ULONG max = SrbGetDataTransferLength(srb);

    if (!buf) {
        complete(x, srb, SRB_STATUS_INVALID_REQUEST);
        return;
    }
    len = MIN(len, max);
    RtlZeroMemory(buf, max);
    RtlCopyMemory(buf, data, len);
    SrbSetDataTransferLength(srb, len);
    complete(x, srb, len < max ? SRB_STATUS_DATA_OVERRUN : SRB_STATUS_SUCCESS);
}

static void answer_inquiry(RrExt *x, PVOID srb)
{
    UCHAR inq[36] = {0};

    if (SrbGetLun(srb) != 0) {
        complete(x, srb, SRB_STATUS_INVALID_LUN);
        return;
    }
    inq[0] = DIRECT_ACCESS_DEVICE;
    inq[2] = 6;
    inq[3] = 2;
    inq[4] = 31;
    memcpy(inq + 8, "STOREMU RR RACE FIXTURE 0001", 28);
    answer(x, srb, inq, sizeof(inq));
}

static void answer_capacity(RrExt *x, PVOID srb, bool sixteen)
{
    UCHAR d[32] = {0};

    if (sixteen) {
        put_be32(d + 4, RR_BLOCKS - 1);
        put_be32(d + 8, RR_BLOCK);
        answer(x, srb, d, 32);
    } else {
        put_be32(d, RR_BLOCKS - 1);
        put_be32(d + 4, RR_BLOCK);
        answer(x, srb, d, 8);
    }
}

static void answer_report_luns(RrExt *x, PVOID srb)
{
    UCHAR d[16] = {0};

    d[3] = 8;
    answer(x, srb, d, sizeof(d));
}

/* ---- the device path ---- */

static void start_device(RrExt *x, PVOID srb, bool read)
{
    uint64_t gpa = 0;
    ULONG len = 0, tag, queue;

    if (read) {
        PSTOR_SCATTER_GATHER_LIST sgl =
            StorPortGetScatterGatherList(x, (PSCSI_REQUEST_BLOCK)srb);
        if (sgl && sgl->NumberOfElements) {
            gpa = (uint64_t)sgl->List[0].PhysicalAddress.QuadPart;
            len = sgl->List[0].Length;
        }
    }
    if (x->nfree == 0) {
        complete(x, srb, SRB_STATUS_BUSY);
        return;
    }
    /* No register access and no port call in between: no other vCPU
     * runs here, so the pop itself is whole. */
    tag = x->free[--x->nfree];
    if (x->slot[tag]) {
        /* The tag is in flight already: the bug has struck. */
        if (!rr_bug_seq) {
            rr_bug_seq = bnd_seq();
        }
    }
    x->slot[tag] = srb;
    queue = x->nmsg ? x->next_queue++ % x->nmsg : 0;
    StorPortWriteRegisterUlong(x, reg(x, TP_REG_DMA_LO), (ULONG)gpa);
    StorPortWriteRegisterUlong(x, reg(x, TP_REG_DMA_HI), (ULONG)(gpa >> 32));
    StorPortWriteRegisterUlong(x, reg(x, TP_REG_DMA_LEN), len);
    StorPortWriteRegisterUlong(x, reg(x, TP_REG_DOORBELL),
                               TP_DOORBELL(tag, queue));
}

static BOOLEAN rr_startio(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    RrExt *x = DeviceExtension;
    PVOID srb = Srb;
    PCDB cdb;

    if (SrbGetSrbFunction(srb) != SRB_FUNCTION_EXECUTE_SCSI) {
        complete(x, srb, SRB_STATUS_SUCCESS);
        return TRUE;
    }
    if (SrbGetPathId(srb) || SrbGetTargetId(srb)) {
        complete(x, srb, SRB_STATUS_SELECTION_TIMEOUT);
        return TRUE;
    }
    cdb = SrbGetCdb(srb);
    switch (cdb->AsByte[0]) {
    case SCSIOP_INQUIRY:
        answer_inquiry(x, srb);
        break;
    case SCSIOP_REPORT_LUNS:
        answer_report_luns(x, srb);
        break;
    case SCSIOP_READ_CAPACITY:
        answer_capacity(x, srb, false);
        break;
    case SCSIOP_READ_CAPACITY16:
        if ((cdb->AsByte[1] & 0x1f) == 0x10) {
            answer_capacity(x, srb, true);
        } else {
            complete(x, srb, SRB_STATUS_INVALID_REQUEST);
        }
        break;
    case SCSIOP_READ6:
    case SCSIOP_READ:
    case SCSIOP_READ12:
    case SCSIOP_READ16:
        start_device(x, srb, true);
        break;
    case SCSIOP_WRITE6:
    case SCSIOP_WRITE:
    case SCSIOP_WRITE12:
    case SCSIOP_WRITE16:
    case SCSIOP_TEST_UNIT_READY:
    case SCSIOP_SYNCHRONIZE_CACHE:
    case SCSIOP_SYNCHRONIZE_CACHE16:
        start_device(x, srb, false);
        break;
    default:
        complete(x, srb, SRB_STATUS_INVALID_REQUEST);
        break;
    }
    return TRUE;
}

/* ---- interrupts ---- */

static bool drain(RrExt *x, ULONG q)
{
    ULONG n = x->nfree; /* the bug: a copy held across the reads below */
    ULONG tag;
    bool any = false;

    while ((tag = StorPortReadRegisterUlong(x, reg(x, TP_REG_CQ(q)))) !=
           TP_CQ_EMPTY) {
        PVOID srb;
        any = true;
        if (tag >= RR_TAGS) {
            continue;
        }
        srb = x->slot[tag];
        x->slot[tag] = NULL;
        /* The bound keeps a corrupted stack inside the array. */
        if (rr_fix && x->nfree < RR_TAGS) {
            x->free[x->nfree++] = tag;
        } else if (!rr_fix && n < RR_TAGS) {
            x->free[n++] = tag;
        }
        if (x->ndone < G_N_ELEMENTS(x->done)) {
            x->done[x->ndone++] = srb;
        }
    }
    if (!rr_fix) {
        x->nfree = n;
    }
    return any;
}

static BOOLEAN rr_interrupt(PVOID DeviceExtension)
{
    RrExt *x = DeviceExtension;
    ULONG status = StorPortReadRegisterUlong(x, reg(x, TP_REG_STATUS));
    bool any = false;

    for (ULONG q = 0; q < TP_QUEUES; q++) {
        if (status & (1u << q)) {
            any |= drain(x, q);
        }
    }
    if (any) {
        StorPortIssueDpc(x, &x->dpc, NULL, NULL);
    }
    return status != 0;
}

static BOOLEAN rr_msi(PVOID DeviceExtension, ULONG MessageId)
{
    RrExt *x = DeviceExtension;

    if (drain(x, MessageId)) {
        StorPortIssueDpc(x, &x->dpc, NULL, NULL);
    }
    return TRUE;
}

static VOID rr_dpc(PSTOR_DPC Dpc, PVOID DeviceExtension, PVOID Arg1, PVOID Arg2)
{
    RrExt *x = DeviceExtension;
    PVOID done[2 * RR_TAGS];
    ULONG n;
    STOR_LOCK_HANDLE h;

    StorPortAcquireSpinLock(x, InterruptLock, NULL, &h);
    n = x->ndone;
    memcpy(done, x->done, n * sizeof(PVOID));
    x->ndone = 0;
    StorPortReleaseSpinLock(x, &h);
    for (ULONG i = 0; i < n; i++) {
        if (!done[i]) {
            /* The tag's SRB was taken by a second command: completing
             * what the slot held is what a real driver would do. */
            if (!rr_stale_completions++) {
                rr_stale_seq = bnd_seq();
            }
            StorPortNotification(RequestComplete, x, done[i]);
            continue;
        }
        SrbSetScsiStatus(done[i], SCSISTAT_GOOD);
        complete(x, done[i], SRB_STATUS_SUCCESS);
    }
}

static BOOLEAN rr_reset_bus(PVOID DeviceExtension, ULONG PathId)
{
    RrExt *x = DeviceExtension;

    StorPortWriteRegisterUlong(x, reg(x, TP_REG_CTRL), TP_CTRL_RESET);
    reset_tags(x);
    StorPortCompleteRequest(x, (UCHAR)PathId, SP_UNTAGGED, SP_UNTAGGED,
                            SRB_STATUS_BUS_RESET);
    return TRUE;
}

static SCSI_ADAPTER_CONTROL_STATUS
rr_adapter_control(PVOID DeviceExtension, SCSI_ADAPTER_CONTROL_TYPE ControlType,
                   PVOID Parameters)
{
    RrExt *x = DeviceExtension;

    switch (ControlType) {
    case ScsiQuerySupportedControlTypes: {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST l = Parameters;
        if (l->MaxControlType > ScsiStopAdapter) {
            l->SupportedTypeList[ScsiQuerySupportedControlTypes] = TRUE;
            l->SupportedTypeList[ScsiStopAdapter] = TRUE;
        }
        return ScsiAdapterControlSuccess;
    }
    case ScsiStopAdapter:
        StorPortWriteRegisterUlong(x, reg(x, TP_REG_CTRL), TP_CTRL_RESET);
        return ScsiAdapterControlSuccess;
    default:
        return ScsiAdapterControlUnsuccessful;
    }
}

ULONG rr_driver_entry(PVOID DriverObject, PVOID RegistryPath)
{
    HW_INITIALIZATION_DATA hw;

    RtlZeroMemory(&hw, sizeof(hw));
    hw.HwInitializationDataSize = sizeof(hw);
    hw.AdapterInterfaceType = PCIBus;
    hw.HwInitialize = rr_initialize;
    hw.HwStartIo = rr_startio;
    hw.HwInterrupt = rr_interrupt;
    hw.HwFindAdapter = rr_find_adapter;
    hw.HwResetBus = rr_reset_bus;
    hw.HwAdapterControl = rr_adapter_control;
    hw.DeviceExtensionSize = sizeof(RrExt);
    hw.SrbExtensionSize = 32;
    hw.NumberOfAccessRanges = 2;
    hw.MapBuffers = STOR_MAP_NON_READ_WRITE_BUFFERS;
    hw.NeedPhysicalAddresses = TRUE;
    hw.TaggedQueuing = TRUE;
    hw.AutoRequestSense = TRUE;
    hw.MultipleRequestPerLu = TRUE;
    hw.SrbTypeFlags = SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK;
    return StorPortInitialize(DriverObject, RegistryPath, &hw, NULL);
}
