/* SPDX-License-Identifier: MIT */
/*
 * "tp": the physical test miniport of the port contract tests, for
 * tp-device (tests/helpers/tp-device.h). Written against port/include as a
 * Windows Storport miniport would be: DriverEntry fills an
 * HW_INITIALIZATION_DATA and calls StorPortInitialize; HwStorFindAdapter
 * maps BAR 0 from the access ranges; HwStorStartIo answers INQUIRY and
 * REPORT LUNS itself and sends READ/WRITE to the device by tag; the ISR
 * (line or per-message) collects finished tags and issues the DPC, which
 * completes the requests. Every routine logs itself (tp_log_add) with the
 * IRQL and the locks it runs under.
 *
 * Behaviour is chosen per test through tp_mp (synchronization model,
 * MSI-X, concurrent channels, passive initialization, unit control...) and
 * one rule at a time is broken through tp_mp.hooks.
 */
#include <string.h>
#include "tests/helpers/tp-port.h"

TpMiniportConfig tp_mp;
TpFound tp_found;
TpExt *tp_ext;

static HW_FIND_ADAPTER tp_find_adapter;
static HW_INITIALIZE tp_initialize;
static HW_PASSIVE_INITIALIZE_ROUTINE tp_passive_initialize;
static HW_BUILDIO tp_buildio;
static HW_STARTIO tp_startio;
static HW_INTERRUPT tp_interrupt;
static HW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE tp_msi;
static HW_DPC_ROUTINE tp_dpc;
static HW_RESET_BUS tp_reset_bus;
static HW_ADAPTER_CONTROL tp_adapter_control;
static HW_UNIT_CONTROL tp_unit_control;
static HW_FREE_ADAPTER_RESOURCES tp_free_resources;

void tp_mp_defaults(void)
{
    memset(&tp_mp, 0, sizeof(tp_mp));
    memset(&tp_found, 0, sizeof(tp_found));
    tp_mp.sync = StorSynchronizeFullDuplex;
    tp_mp.isync = InterruptSupportNone;
    tp_mp.buildio = true;
    tp_mp.support_stop = true;
    tp_mp.support_restart = true;
    tp_mp.free_pool = true;
    tp_mp.luns = 1;
    tp_mp.srbext = 64;
}

static const TpHooks no_hooks;

static const TpHooks *hooks(void)
{
    return tp_mp.hooks ? tp_mp.hooks : &no_hooks;
}

PULONG tp_mp_reg(TpExt *x, ULONG off)
{
    return (PULONG)((PUCHAR)x->regs + off);
}

static uint32_t srb_arg(PVOID srb)
{
    ULONG fn = SrbGetSrbFunction(srb);

    if (fn == SRB_FUNCTION_EXECUTE_SCSI) {
        return SrbGetCdb(srb)->AsByte[0];
    }
    return TP_ARG_FUNCTION(fn);
}

void tp_mp_complete(TpExt *x, PVOID srb, UCHAR status)
{
    tp_log_add(x, TP_COMPLETE, status);
    SrbSetSrbStatus(srb, status);
    StorPortNotification(RequestComplete, x, srb);
}

/* ---- find and initialize ---- */

static void record_found(PPORT_CONFIGURATION_INFORMATION cfg)
{
    ACCESS_RANGE *r = *cfg->AccessRanges;

    if (tp_found.valid) {
        return;
    }
    tp_found.valid = true;
    tp_found.number_of_access_ranges = cfg->NumberOfAccessRanges;
    tp_found.range0_start = (uint64_t)r[0].RangeStart.QuadPart;
    tp_found.range0_length = r[0].RangeLength;
    tp_found.range0_in_memory = r[0].RangeInMemory;
    if (cfg->NumberOfAccessRanges > 1) {
        tp_found.range1_start = (uint64_t)r[1].RangeStart.QuadPart;
        tp_found.range1_length = r[1].RangeLength;
    }
    tp_found.bus_interrupt_level = cfg->BusInterruptLevel;
    tp_found.bus_interrupt_vector = cfg->BusInterruptVector;
    tp_found.interrupt_mode = cfg->InterruptMode;
    tp_found.interface = cfg->AdapterInterfaceType;
    tp_found.slot = cfg->SlotNumber;
}

static void enable_channels(TpExt *x)
{
    PERF_CONFIGURATION_DATA perf;
    ULONG st;

    RtlZeroMemory(&perf, sizeof(perf));
    perf.Version = STOR_PERF_VERSION_5;
    perf.Size = sizeof(perf);
    st = StorPortInitializePerfOpts(x, TRUE, &perf);
    if (st != STOR_STATUS_SUCCESS ||
        !(perf.Flags & STOR_PERF_CONCURRENT_CHANNELS)) {
        return;
    }
    perf.Flags = STOR_PERF_CONCURRENT_CHANNELS;
    /* ConcurrentChannels came back from the query: one per processor. */
    StorPortInitializePerfOpts(x, FALSE, &perf);
}

static ULONG tp_find_adapter(PVOID DeviceExtension, PVOID HwContext,
                             PVOID BusInformation, PCHAR ArgumentString,
                             PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                             PBOOLEAN Again)
{
    TpExt *x = DeviceExtension;
    ACCESS_RANGE *r = *ConfigInfo->AccessRanges;

    tp_log_add(x, TP_FIND_ADAPTER, 0);
    if (tp_found.valid && tp_mp.srbext_refind) {
        ConfigInfo->SrbExtensionSize = tp_mp.srbext_refind;
    }
    record_found(ConfigInfo);
    *Again = FALSE;
    if (ConfigInfo->NumberOfAccessRanges < 1 || !r[0].RangeInMemory) {
        return SP_RETURN_NOT_FOUND;
    }
    x->regs = StorPortGetDeviceBase(x, ConfigInfo->AdapterInterfaceType,
                                    ConfigInfo->SystemIoBusNumber,
                                    r[0].RangeStart, r[0].RangeLength, FALSE);
    if (!x->regs || StorPortReadRegisterUlong(x, tp_mp_reg(x, TP_REG_ID)) !=
                        TP_DEVICE_MAGIC) {
        return SP_RETURN_NOT_FOUND;
    }
    ConfigInfo->SynchronizationModel = tp_mp.sync;
    ConfigInfo->MaximumTransferLength = 64 * 1024;
    ConfigInfo->NumberOfPhysicalBreaks = 16;
    ConfigInfo->NumberOfBuses = 1;
    ConfigInfo->MaximumNumberOfTargets = 1;
    ConfigInfo->MaximumNumberOfLogicalUnits = 8;
    ConfigInfo->ScatterGather = TRUE;
    ConfigInfo->Master = TRUE;
    ConfigInfo->CachesData = TRUE;
    if (tp_mp.msix) {
        ConfigInfo->HwMSInterruptRoutine = tp_msi;
        ConfigInfo->InterruptSynchronizationMode = tp_mp.isync;
    }
    if (tp_mp.channels) {
        enable_channels(x);
    }
    if (!x->pool && StorPortAllocatePool(x, 256, TP_POOL_TAG, &x->pool) !=
                        STOR_STATUS_SUCCESS) {
        return SP_RETURN_ERROR;
    }
    x->uncached = StorPortGetUncachedExtension(x, ConfigInfo, TP_UNCACHED);
    if (!x->uncached) {
        return SP_RETURN_ERROR;
    }
    tp_ext = x;
    if (hooks()->find) {
        hooks()->find(x, ConfigInfo);
    }
    return SP_RETURN_FOUND;
}

static BOOLEAN tp_initialize(PVOID DeviceExtension)
{
    TpExt *x = DeviceExtension;

    tp_log_add(x, TP_INITIALIZE, 0);
    if (tp_mp.passive_init) {
        if (!StorPortEnablePassiveInitialization(x, tp_passive_initialize)) {
            return FALSE;
        }
    } else if (!x->dpc_ready) {
        StorPortInitializeDpc(x, &x->dpc, tp_dpc);
        x->dpc_ready = TRUE;
    }
    if (tp_mp.msix) {
        MESSAGE_INTERRUPT_INFORMATION info;
        x->nmsg = 0;
        while (StorPortGetMSIInfo(x, x->nmsg, &info) == STOR_STATUS_SUCCESS) {
            x->nmsg++;
        }
    }
    if (hooks()->init) {
        hooks()->init(x);
    }
    return TRUE;
}

static BOOLEAN tp_passive_initialize(PVOID DeviceExtension)
{
    TpExt *x = DeviceExtension;

    tp_log_add(x, TP_PASSIVE_INIT, 0);
    if (!x->dpc_ready) {
        StorPortInitializeDpc(x, &x->dpc, tp_dpc);
        x->dpc_ready = TRUE;
    }
    return TRUE;
}

/* ---- the I/O path ---- */

static BOOLEAN tp_buildio(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    TpExt *x = DeviceExtension;
    BOOLEAN ret = TRUE;

    tp_log_add(x, TP_BUILDIO, srb_arg(Srb));
    if (hooks()->buildio && hooks()->buildio(x, Srb, &ret)) {
        return ret;
    }
    return TRUE;
}

bool tp_mp_submit(TpExt *x, PVOID srb, uint64_t dma_gpa, ULONG dma_len,
                  ULONG queue)
{
    ULONG tag;

    /* Finding and claiming a tag makes no register access and calls no
     * port routine, so no other vCPU runs in between (port.h); a Windows
     * driver would use an interlocked operation here. */
    for (tag = 0; tag < TP_MP_TAGS && x->tags[tag]; tag++) {
    }
    if (tag == TP_MP_TAGS) {
        return false;
    }
    x->tags[tag] = srb;
    StorPortWriteRegisterUlong(x, tp_mp_reg(x, TP_REG_DMA_LO), (ULONG)dma_gpa);
    StorPortWriteRegisterUlong(x, tp_mp_reg(x, TP_REG_DMA_HI),
                               (ULONG)(dma_gpa >> 32));
    StorPortWriteRegisterUlong(x, tp_mp_reg(x, TP_REG_DMA_LEN), dma_len);
    StorPortWriteRegisterUlong(x, tp_mp_reg(x, TP_REG_DOORBELL),
                               TP_DOORBELL(tag, queue));
    return true;
}

static ULONG pick_queue(TpExt *x)
{
    return x->nmsg ? x->next_queue++ % x->nmsg : 0;
}

static void answer_inquiry(TpExt *x, PVOID srb)
{
    PINQUIRYDATA inq = SrbGetDataBuffer(srb);
    ULONG len = SrbGetDataTransferLength(srb);

    if (SrbGetLun(srb) >= tp_mp.luns || !inq || len < 36) {
        tp_mp_complete(x, srb, SRB_STATUS_INVALID_LUN);
        return;
    }
    RtlZeroMemory(inq, len);
    inq->DeviceType = DIRECT_ACCESS_DEVICE;
    inq->Versions = 6;
    inq->ResponseDataFormat = 2;
    inq->AdditionalLength = 31;
    RtlCopyMemory(inq->VendorId, "STOREMU ", 8);
    RtlCopyMemory(inq->ProductId, "TP CONTRACT     ", 16);
    RtlCopyMemory(inq->ProductRevisionLevel, "0001", 4);
    SrbSetDataTransferLength(srb, 36);
    tp_mp_complete(x, srb, SRB_STATUS_SUCCESS);
}

static void answer_report_luns(TpExt *x, PVOID srb)
{
    PUCHAR buf = SrbGetDataBuffer(srb);
    ULONG len = SrbGetDataTransferLength(srb);
    ULONG need = 8 + 8 * tp_mp.luns;

    if (!buf || len < need) {
        tp_mp_complete(x, srb, SRB_STATUS_DATA_OVERRUN);
        return;
    }
    RtlZeroMemory(buf, need);
    buf[3] = (UCHAR)(8 * tp_mp.luns);
    for (ULONG l = 0; l < tp_mp.luns; l++) {
        buf[8 + 8 * l + 1] = (UCHAR)l;
    }
    SrbSetDataTransferLength(srb, need);
    tp_mp_complete(x, srb, SRB_STATUS_SUCCESS);
}

static void start_device_command(TpExt *x, PVOID srb)
{
    uint64_t gpa = 0;
    ULONG len = 0;

    if (tp_mp.dma && SrbGetCdb(srb)->AsByte[0] == SCSIOP_READ) {
        PSTOR_SCATTER_GATHER_LIST sgl =
            StorPortGetScatterGatherList(x, (PSCSI_REQUEST_BLOCK)srb);
        if (sgl && sgl->NumberOfElements) {
            gpa = (uint64_t)sgl->List[0].PhysicalAddress.QuadPart;
            len = sgl->List[0].Length;
        }
    }
    if (!tp_mp_submit(x, srb, gpa, len, pick_queue(x))) {
        tp_mp_complete(x, srb, SRB_STATUS_BUSY);
    }
}

static BOOLEAN tp_startio(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    TpExt *x = DeviceExtension;
    PVOID srb = Srb;
    BOOLEAN ret = TRUE;

    tp_log_add(x, TP_STARTIO, srb_arg(srb));
    x->in_startio++;
    x->max_in_startio = MAX(x->max_in_startio, x->in_startio);
    if (tp_mp.startio_stall_us) {
        StorPortStallExecution(tp_mp.startio_stall_us);
    }
    if (hooks()->startio && hooks()->startio(x, srb, &ret)) {
        x->in_startio--;
        return ret;
    }
    switch (SrbGetSrbFunction(srb)) {
    case SRB_FUNCTION_EXECUTE_SCSI:
        if (SrbGetTargetId(srb) != 0 || SrbGetPathId(srb) != 0) {
            tp_mp_complete(x, srb, SRB_STATUS_SELECTION_TIMEOUT);
            break;
        }
        switch (SrbGetCdb(srb)->AsByte[0]) {
        case SCSIOP_INQUIRY:
            answer_inquiry(x, srb);
            break;
        case SCSIOP_REPORT_LUNS:
            answer_report_luns(x, srb);
            break;
        case SCSIOP_READ:
        case SCSIOP_WRITE:
        case SCSIOP_TEST_UNIT_READY:
        case SCSIOP_SYNCHRONIZE_CACHE:
            start_device_command(x, srb);
            break;
        default:
            tp_mp_complete(x, srb, SRB_STATUS_INVALID_REQUEST);
            break;
        }
        break;
    case SRB_FUNCTION_FLUSH:
    case SRB_FUNCTION_SHUTDOWN:
    case SRB_FUNCTION_RESET_DEVICE:
    case SRB_FUNCTION_RESET_LOGICAL_UNIT:
        tp_mp_complete(x, srb, SRB_STATUS_SUCCESS);
        break;
    default:
        tp_mp_complete(x, srb, SRB_STATUS_INVALID_REQUEST);
        break;
    }
    x->in_startio--;
    return TRUE;
}

/* Collect the tags queue @q finished; true if there was any. */
static bool drain_queue(TpExt *x, ULONG q)
{
    bool any = false;
    ULONG tag;

    while ((tag = StorPortReadRegisterUlong(x, tp_mp_reg(x, TP_REG_CQ(q)))) !=
           TP_CQ_EMPTY) {
        any = true;
        if (tag >= TP_MP_TAGS || !x->tags[tag]) {
            continue; /* a stale tag after a reset: nothing to complete */
        }
        x->done[x->ndone++] = x->tags[tag];
        x->tags[tag] = NULL;
    }
    return any;
}

static void isr_enter(TpExt *x)
{
    x->in_isr++;
    x->max_in_isr = MAX(x->max_in_isr, x->in_isr);
    if (x->in_startio) {
        x->isr_during_startio++;
    }
    if (tp_mp.isr_stall_us) {
        StorPortStallExecution(tp_mp.isr_stall_us);
    }
}

static void issue_dpc(TpExt *x)
{
    if (StorPortIssueDpc(x, &x->dpc, NULL, NULL)) {
        x->dpc_issue_true++;
    } else {
        x->dpc_issue_false++;
    }
}

static BOOLEAN tp_interrupt(PVOID DeviceExtension)
{
    TpExt *x = DeviceExtension;
    ULONG status;
    bool any = false;

    tp_log_add(x, TP_INTERRUPT, 0);
    isr_enter(x);
    status = StorPortReadRegisterUlong(x, tp_mp_reg(x, TP_REG_STATUS));
    for (ULONG q = 0; q < TP_QUEUES; q++) {
        if (status & (1u << q)) {
            any |= drain_queue(x, q);
        }
    }
    if (hooks()->isr) {
        hooks()->isr(x);
    }
    if (any && x->dpc_ready) {
        issue_dpc(x);
    }
    x->in_isr--;
    return status != 0;
}

static BOOLEAN tp_msi(PVOID DeviceExtension, ULONG MessageId)
{
    TpExt *x = DeviceExtension;
    bool any;

    tp_log_add(x, TP_MSI, MessageId);
    isr_enter(x);
    any = drain_queue(x, MessageId);
    if (hooks()->msi) {
        hooks()->msi(x, MessageId);
    }
    if (any && x->dpc_ready) {
        issue_dpc(x);
    }
    x->in_isr--;
    return TRUE;
}

static VOID tp_dpc(PSTOR_DPC Dpc, PVOID DeviceExtension, PVOID Arg1, PVOID Arg2)
{
    TpExt *x = DeviceExtension;
    PVOID done[TP_MP_TAGS];
    ULONG n;
    STOR_LOCK_HANDLE h;

    tp_log_add(x, TP_DPC, 0);
    if (hooks()->dpc) {
        hooks()->dpc(x);
    }
    /* The ISR fills the list at DIRQL: take it under the interrupt lock. */
    StorPortAcquireSpinLock(x, InterruptLock, NULL, &h);
    n = x->ndone;
    memcpy(done, x->done, n * sizeof(PVOID));
    x->ndone = 0;
    StorPortReleaseSpinLock(x, &h);
    for (ULONG i = 0; i < n; i++) {
        if (hooks()->complete && hooks()->complete(x, done[i])) {
            continue;
        }
        SrbSetScsiStatus(done[i], SCSISTAT_GOOD);
        tp_mp_complete(x, done[i], SRB_STATUS_SUCCESS);
    }
}

/* ---- reset and control ---- */

static BOOLEAN tp_reset_bus(PVOID DeviceExtension, ULONG PathId)
{
    TpExt *x = DeviceExtension;
    BOOLEAN ret = TRUE;

    tp_log_add(x, TP_RESET_BUS, PathId);
    if (hooks()->reset && hooks()->reset(x, PathId, &ret)) {
        return ret;
    }
    StorPortWriteRegisterUlong(x, tp_mp_reg(x, TP_REG_CTRL), TP_CTRL_RESET);
    memset(x->tags, 0, sizeof(x->tags));
    x->ndone = 0;
    StorPortCompleteRequest(x, (UCHAR)PathId, SP_UNTAGGED, SP_UNTAGGED,
                            SRB_STATUS_BUS_RESET);
    StorPortNotification(ResetDetected, x, PathId);
    return TRUE;
}

static SCSI_ADAPTER_CONTROL_STATUS
tp_adapter_control(PVOID DeviceExtension, SCSI_ADAPTER_CONTROL_TYPE ControlType,
                   PVOID Parameters)
{
    TpExt *x = DeviceExtension;

    tp_log_add(x, TP_ADAPTER_CONTROL, ControlType);
    if (hooks()->adapter_control) {
        hooks()->adapter_control(x, ControlType);
    }
    switch (ControlType) {
    case ScsiQuerySupportedControlTypes: {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST l = Parameters;
        if (l->MaxControlType > ScsiQuerySupportedControlTypes) {
            l->SupportedTypeList[ScsiQuerySupportedControlTypes] = TRUE;
        }
        if (l->MaxControlType > ScsiStopAdapter && tp_mp.support_stop) {
            l->SupportedTypeList[ScsiStopAdapter] = TRUE;
        }
        if (l->MaxControlType > ScsiRestartAdapter && tp_mp.support_restart) {
            l->SupportedTypeList[ScsiRestartAdapter] = TRUE;
        }
        return ScsiAdapterControlSuccess;
    }
    case ScsiStopAdapter:
        /* Quiesce the device; resources stay (HW_ADAPTER_CONTROL). */
        StorPortWriteRegisterUlong(x, tp_mp_reg(x, TP_REG_CTRL), TP_CTRL_RESET);
        return ScsiAdapterControlSuccess;
    case ScsiRestartAdapter:
        return ScsiAdapterControlSuccess;
    default:
        return ScsiAdapterControlUnsuccessful;
    }
}

static SCSI_UNIT_CONTROL_STATUS
tp_unit_control(PVOID DeviceExtension, SCSI_UNIT_CONTROL_TYPE ControlType,
                PVOID Parameters)
{
    TpExt *x = DeviceExtension;

    tp_log_add(x, TP_UNIT_CONTROL, ControlType);
    switch (ControlType) {
    case ScsiQuerySupportedUnitControlTypes: {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST l = Parameters;
        if (l->MaxControlType > ScsiUnitStart) {
            l->SupportedTypeList[ScsiQuerySupportedUnitControlTypes] = TRUE;
            l->SupportedTypeList[ScsiUnitStart] = TRUE;
        }
        return ScsiUnitControlSuccess;
    }
    case ScsiUnitStart:
        return ScsiUnitControlSuccess;
    default:
        return ScsiUnitControlUnsuccessful;
    }
}

static VOID tp_free_resources(PVOID DeviceExtension)
{
    TpExt *x = DeviceExtension;

    tp_log_add(x, TP_FREE_RESOURCES, 0);
    if (x->pool) {
        StorPortFreePool(x, x->pool);
        x->pool = NULL;
    }
}

ULONG tp_driver_entry(PVOID DriverObject, PVOID RegistryPath)
{
    HW_INITIALIZATION_DATA hw;

    tp_log_add(NULL, TP_DRIVER_ENTRY, 0);
    RtlZeroMemory(&hw, sizeof(hw));
    hw.HwInitializationDataSize = sizeof(hw);
    hw.AdapterInterfaceType = PCIBus;
    hw.HwInitialize = tp_initialize;
    hw.HwStartIo = tp_startio;
    hw.HwInterrupt = tp_interrupt;
    hw.HwFindAdapter = tp_find_adapter;
    hw.HwResetBus = tp_reset_bus;
    hw.HwAdapterControl = tp_adapter_control;
    if (tp_mp.buildio) {
        hw.HwBuildIo = tp_buildio;
    }
    if (tp_mp.unit_control) {
        hw.HwUnitControl = tp_unit_control;
    }
    if (tp_mp.free_pool) {
        hw.HwFreeAdapterResources = tp_free_resources;
    }
    hw.DeviceExtensionSize = sizeof(TpExt);
    hw.SpecificLuExtensionSize = 16;
    hw.SrbExtensionSize = tp_mp.srbext;
    hw.NumberOfAccessRanges = 2;
    hw.MapBuffers = STOR_MAP_NON_READ_WRITE_BUFFERS;
    hw.NeedPhysicalAddresses = TRUE;
    hw.TaggedQueuing = TRUE;
    hw.AutoRequestSense = TRUE;
    hw.MultipleRequestPerLu = TRUE;
    hw.SrbTypeFlags = SRB_TYPE_FLAG_SCSI_REQUEST_BLOCK;
    if (tp_mp.extended_srb) {
        hw.SrbTypeFlags |= SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK;
    }
    return StorPortInitialize(DriverObject, RegistryPath, &hw, NULL);
}
