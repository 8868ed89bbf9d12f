/* SPDX-License-Identifier: MIT */
/*
 * gt-vdisk (gt-vdisk.h): a virtual miniport written against port/include
 * as a Windows driver author would, serving RAM disks for the guest-side
 * tests. Commands follow SPC-5/SBC-4: INQUIRY, TEST UNIT READY, REPORT
 * LUNS, MODE SENSE(6), READ CAPACITY(10)/(16), READ/WRITE(6/10/16),
 * SYNCHRONIZE CACHE(10/16) and UNMAP; errors come back as CHECK
 * CONDITION with fixed-format autosense.
 */
#include <string.h>
#include "tests/helpers/gt-vdisk.h"

GtVdiskConfig gt_vdisk_config;
GtVdiskFaults gt_vdisk_faults;
GtVdiskStats gt_vdisk_stats;

typedef struct GtExtension {
    PUCHAR disk; /* targets * luns * blocks * block_size */
    ULONG64 lun_bytes;
    PVOID pending_head; /* latency mode: SRBs waiting for the timer */
    PVOID pending_tail;
    BOOLEAN timer_armed;
} GtExtension;

typedef struct GtSrbExtension {
    PVOID next;
} GtSrbExtension;

static VIRTUAL_HW_FIND_ADAPTER GtFindAdapter;
static HW_INITIALIZE GtInitialize;
static HW_STARTIO GtStartIo;
static HW_RESET_BUS GtResetBus;
static HW_ADAPTER_CONTROL GtAdapterControl;
static HW_FREE_ADAPTER_RESOURCES GtFreeAdapterResources;
static HW_TIMER GtTimer;

void gt_vdisk_reset(void)
{
    memset(&gt_vdisk_config, 0, sizeof(gt_vdisk_config));
    gt_vdisk_config.targets = 1;
    gt_vdisk_config.luns = 1;
    gt_vdisk_config.blocks = 8192;
    gt_vdisk_config.block_size = 512;
    gt_vdisk_config.max_transfer = 64 * 1024;
    memset(&gt_vdisk_faults, 0, sizeof(gt_vdisk_faults));
    gt_vdisk_faults.lose_write_lba = -1;
    gt_vdisk_faults.misdirect_lba = -1;
    gt_vdisk_faults.corrupt_read_lba = -1;
    memset(&gt_vdisk_stats, 0, sizeof(gt_vdisk_stats));
}

static ULONG GtFindAdapter(PVOID DeviceExtension, PVOID HwContext,
                           PVOID BusInformation, PVOID LowerDevice,
                           PCHAR ArgumentString,
                           PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                           PBOOLEAN Again)
{
    GtExtension *x = DeviceExtension;
    const GtVdiskConfig *c = &gt_vdisk_config;
    ULONG64 total;

    x->lun_bytes = c->blocks * c->block_size;
    total = x->lun_bytes * c->targets * c->luns;
    if (!total || total > 512ULL * 1024 * 1024) {
        return SP_RETURN_BAD_CONFIG;
    }
    ConfigInfo->NumberOfBuses = 1;
    ConfigInfo->MaximumNumberOfTargets = (UCHAR)c->targets;
    ConfigInfo->MaximumNumberOfLogicalUnits = (UCHAR)c->luns;
    ConfigInfo->MaximumTransferLength = c->max_transfer;
    if (c->queue_depth) {
        ConfigInfo->InitialLunQueueDepth = c->queue_depth;
    }
    if (StorPortAllocatePool(DeviceExtension, (ULONG)total, 'ksDG',
                             (PVOID *)&x->disk) != STOR_STATUS_SUCCESS) {
        return SP_RETURN_ERROR;
    }
    RtlZeroMemory(x->disk, (ULONG)total);
    return SP_RETURN_FOUND;
}

static BOOLEAN GtInitialize(PVOID DeviceExtension)
{
    return TRUE;
}

static VOID Complete(GtExtension *x, PVOID Srb)
{
    gt_vdisk_stats.outstanding--;
    StorPortNotification(RequestComplete, x, Srb);
}

static VOID SetSense(PVOID Srb, UCHAR Key, UCHAR Asc, UCHAR Ascq)
{
    PUCHAR s = SrbGetSenseInfoBuffer(Srb);
    UCHAR n = SrbGetSenseInfoBufferLength(Srb);

    SrbSetScsiStatus(Srb, SCSISTAT_CHECK_CONDITION);
    if (!s || n < 18) {
        SrbSetSrbStatus(Srb, SRB_STATUS_ERROR);
        return;
    }
    RtlZeroMemory(s, 18);
    s[0] = SCSI_SENSE_ERRORCODE_FIXED_CURRENT;
    s[2] = Key;
    s[7] = 10;
    s[12] = Asc;
    s[13] = Ascq;
    SrbSetSenseInfoBufferLength(Srb, 18);
    SrbSetSrbStatus(Srb, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
}

static ULONG64 Be(const UCHAR *p, int n)
{
    ULONG64 v = 0;

    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static VOID PutBe(PUCHAR p, ULONG64 v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (UCHAR)v;
        v >>= 8;
    }
}

/* A one-shot fault for a data command; TRUE when one fired. */
static BOOLEAN InjectFault(PVOID Srb)
{
    GtVdiskFaults *f = &gt_vdisk_faults;

    if (f->unit_attention) {
        f->unit_attention--;
        SetSense(Srb, SCSI_SENSE_UNIT_ATTENTION, SCSI_ADSENSE_BUS_RESET, 0);
    } else if (f->not_ready) {
        f->not_ready--;
        SetSense(Srb, SCSI_SENSE_NOT_READY, SCSI_ADSENSE_LUN_NOT_READY, 1);
    } else if (f->scsi_busy) {
        f->scsi_busy--;
        SrbSetScsiStatus(Srb, SCSISTAT_BUSY);
        SrbSetSrbStatus(Srb, SRB_STATUS_ERROR);
    } else if (f->queue_full) {
        f->queue_full--;
        SrbSetScsiStatus(Srb, SCSISTAT_QUEUE_FULL);
        SrbSetSrbStatus(Srb, SRB_STATUS_ERROR);
    } else if (f->aborted) {
        f->aborted--;
        SetSense(Srb, SCSI_SENSE_ABORTED_COMMAND, 0, 0);
    } else if (f->bus_reset) {
        f->bus_reset--;
        SrbSetSrbStatus(Srb, SRB_STATUS_BUS_RESET);
    } else if (f->medium_error) {
        f->medium_error--;
        SetSense(Srb, SCSI_SENSE_MEDIUM_ERROR, SCSI_ADSENSE_UNRECOVERED_ERROR,
                 0);
    } else {
        return FALSE;
    }
    SrbSetDataTransferLength(Srb, 0);
    gt_vdisk_stats.faults_fired++;
    return TRUE;
}

static VOID DoReadWrite(GtExtension *x, PVOID Srb, PUCHAR Lun, ULONG64 Lba,
                        ULONG Blocks, BOOLEAN Write)
{
    const GtVdiskConfig *c = &gt_vdisk_config;
    GtVdiskFaults *f = &gt_vdisk_faults;
    PUCHAR buf = SrbGetDataBuffer(Srb);
    ULONG len = SrbGetDataTransferLength(Srb);
    ULONG64 bytes = (ULONG64)Blocks * c->block_size;

    if (Lba > c->blocks || Blocks > c->blocks - Lba) {
        SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ADSENSE_ILLEGAL_BLOCK,
                 0);
        SrbSetDataTransferLength(Srb, 0);
        return;
    }
    if (bytes > len || (bytes && !buf)) {
        SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ADSENSE_INVALID_CDB, 0);
        SrbSetDataTransferLength(Srb, 0);
        return;
    }
    if (InjectFault(Srb)) {
        return;
    }
    for (ULONG i = 0; i < Blocks; i++) {
        ULONG64 lba = Lba + i;
        PUCHAR disk = Lun + lba * c->block_size;
        PUCHAR mem = buf + (ULONG64)i * c->block_size;
        if (!Write) {
            RtlCopyMemory(mem, disk, c->block_size);
            if ((LONG64)lba == f->corrupt_read_lba) {
                mem[100] ^= 0x5a;
                f->corrupt_read_lba = -1;
            }
            continue;
        }
        if ((LONG64)lba == f->lose_write_lba) {
            f->lose_write_lba = -1;
            continue;
        }
        if ((LONG64)lba == f->misdirect_lba && lba + 1 < c->blocks) {
            disk += c->block_size;
            f->misdirect_lba = -1;
        }
        RtlCopyMemory(disk, mem, c->block_size);
    }
    if (Write) {
        gt_vdisk_stats.writes++;
    } else {
        gt_vdisk_stats.reads++;
    }
    SrbSetDataTransferLength(Srb, (ULONG)bytes);
    if (f->recovered) {
        /* The data moved, but it took the drive's error recovery. */
        f->recovered--;
        gt_vdisk_stats.faults_fired++;
        SetSense(Srb, SCSI_SENSE_RECOVERED_ERROR, SCSI_ADSENSE_REC_DATA_NOECC,
                 0);
        return;
    }
    SrbSetScsiStatus(Srb, SCSISTAT_GOOD);
    SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
}

static VOID DoUnmap(PVOID Srb, PUCHAR Lun)
{
    const GtVdiskConfig *c = &gt_vdisk_config;
    PUCHAR p = SrbGetDataBuffer(Srb);
    ULONG len = SrbGetDataTransferLength(Srb);
    ULONG n;

    if (!p || len < 8) {
        SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST,
                 SCSI_ADSENSE_PARAMETER_LIST_LENGTH, 0);
        return;
    }
    n = (ULONG)Be(p + 2, 2);
    if (8 + n > len || n % 16) {
        SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST,
                 SCSI_ADSENSE_INVALID_FIELD_PARAMETER_LIST, 0);
        return;
    }
    for (ULONG d = 0; d < n / 16; d++) {
        ULONG64 lba = Be(p + 8 + d * 16, 8);
        ULONG64 cnt = Be(p + 16 + d * 16, 4);
        if (lba > c->blocks || cnt > c->blocks - lba) {
            SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST,
                     SCSI_ADSENSE_ILLEGAL_BLOCK, 0);
            return;
        }
        RtlZeroMemory(Lun + lba * c->block_size, (ULONG)(cnt * c->block_size));
    }
    gt_vdisk_stats.unmaps++;
    SrbSetScsiStatus(Srb, SCSISTAT_GOOD);
    SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
}

static VOID Reply(PVOID Srb, const UCHAR *Data, ULONG Len)
{
    PUCHAR buf = SrbGetDataBuffer(Srb);
    ULONG n = SrbGetDataTransferLength(Srb);

    n = n < Len ? n : Len;
    if (n && buf) {
        RtlCopyMemory(buf, Data, n);
    }
    SrbSetDataTransferLength(Srb, n);
    SrbSetScsiStatus(Srb, SCSISTAT_GOOD);
    SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
}

static VOID ExecuteScsi(GtExtension *x, PVOID Srb)
{
    const GtVdiskConfig *c = &gt_vdisk_config;
    PCDB cdb = SrbGetCdb(Srb);
    PUCHAR b = cdb->AsByte;
    UCHAR path = 0, target = 0, lun = 0;
    PUCHAR disk;
    UCHAR data[64];
    ULONG64 last = c->blocks - 1;

    SrbGetPathTargetLun(Srb, &path, &target, &lun);
    if (path != 0 || target >= c->targets || lun >= c->luns || c->no_units) {
        SrbSetSrbStatus(Srb, SRB_STATUS_SELECTION_TIMEOUT);
        return;
    }
    disk = x->disk + x->lun_bytes * ((ULONG64)target * c->luns + lun);
    gt_vdisk_stats.commands++;
    RtlZeroMemory(data, sizeof(data));
    switch (b[0]) {
    case SCSIOP_TEST_UNIT_READY:
        Reply(Srb, NULL, 0);
        break;
    case SCSIOP_INQUIRY:
        if (b[1] & 1) {
            SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ADSENSE_INVALID_CDB,
                     0);
            break;
        }
        data[0] = DIRECT_ACCESS_DEVICE;
        data[2] = 6; /* SPC-4 */
        data[3] = 2;
        data[4] = 31;
        data[7] = 0x02; /* CmdQue */
        RtlCopyMemory(data + 8, "STOREMU ", 8);
        RtlCopyMemory(data + 16, "GT VDISK        ", 16);
        RtlCopyMemory(data + 32, "0001", 4);
        Reply(Srb, data, 36);
        break;
    case SCSIOP_REPORT_LUNS: {
        ULONG n = c->luns;
        PutBe(data, n * 8, 4);
        for (ULONG i = 0; i < n && 8 + i * 8 + 8 <= sizeof(data); i++) {
            data[8 + i * 8 + 1] = (UCHAR)i;
        }
        ULONG len = 8 + n * 8;
        Reply(Srb, data, len < sizeof(data) ? len : (ULONG)sizeof(data));
        break;
    }
    case SCSIOP_MODE_SENSE:
        data[0] = 3;
        Reply(Srb, data, 4);
        break;
    case SCSIOP_READ_CAPACITY:
        PutBe(data, last > 0xffffffffULL ? 0xffffffffULL : last, 4);
        PutBe(data + 4, c->block_size, 4);
        Reply(Srb, data, 8);
        break;
    case SCSIOP_SERVICE_ACTION_IN16:
        if ((b[1] & 0x1f) != 0x10) {
            SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ADSENSE_INVALID_CDB,
                     0);
            break;
        }
        PutBe(data, last, 8);
        PutBe(data + 8, c->block_size, 4);
        data[14] = 0xc0; /* LBPME, LBPRZ: UNMAP works, unmapped reads 0 */
        Reply(Srb, data, 32);
        break;
    case SCSIOP_READ6:
    case SCSIOP_WRITE6: {
        ULONG64 lba = Be(b + 1, 3) & 0x1fffff;
        ULONG n = b[4] ? b[4] : 256;
        DoReadWrite(x, Srb, disk, lba, n, b[0] == SCSIOP_WRITE6);
        gt_vdisk_stats.cdb10++;
        break;
    }
    case SCSIOP_READ:
    case SCSIOP_WRITE:
        gt_vdisk_stats.cdb10++;
        DoReadWrite(x, Srb, disk, Be(b + 2, 4), (ULONG)Be(b + 7, 2),
                    b[0] == SCSIOP_WRITE);
        break;
    case SCSIOP_READ16:
    case SCSIOP_WRITE16:
        if (c->no_cdb16) {
            SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST,
                     SCSI_ADSENSE_ILLEGAL_COMMAND, 0);
            break;
        }
        gt_vdisk_stats.cdb16++;
        DoReadWrite(x, Srb, disk, Be(b + 2, 8), (ULONG)Be(b + 10, 4),
                    b[0] == SCSIOP_WRITE16);
        break;
    case SCSIOP_SYNCHRONIZE_CACHE16:
        if (c->no_cdb16) {
            SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST,
                     SCSI_ADSENSE_ILLEGAL_COMMAND, 0);
            break;
        }
        /* fall through */
    case SCSIOP_SYNCHRONIZE_CACHE:
        if (InjectFault(Srb)) {
            break;
        }
        gt_vdisk_stats.flushes++;
        Reply(Srb, NULL, 0);
        break;
    case SCSIOP_UNMAP:
        if (InjectFault(Srb)) {
            break;
        }
        DoUnmap(Srb, disk);
        break;
    default:
        SetSense(Srb, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ADSENSE_ILLEGAL_COMMAND,
                 0);
        break;
    }
}

static VOID GtTimer(PVOID DeviceExtension)
{
    GtExtension *x = DeviceExtension;
    PVOID srb = x->pending_head;

    x->pending_head = x->pending_tail = NULL;
    x->timer_armed = FALSE;
    while (srb) {
        GtSrbExtension *e = SrbGetMiniportContext(srb);
        PVOID next = e->next;
        Complete(x, srb);
        srb = next;
    }
}

static BOOLEAN GtStartIo(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    GtExtension *x = DeviceExtension;
    GtSrbExtension *e;

    if (++gt_vdisk_stats.outstanding > gt_vdisk_stats.max_outstanding) {
        gt_vdisk_stats.max_outstanding = gt_vdisk_stats.outstanding;
    }
    switch (SrbGetSrbFunction(Srb)) {
    case SRB_FUNCTION_EXECUTE_SCSI:
        ExecuteScsi(x, Srb);
        break;
    case SRB_FUNCTION_FLUSH:
        gt_vdisk_stats.flushes++;
        SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
        break;
    case SRB_FUNCTION_SHUTDOWN:
        gt_vdisk_stats.shutdowns++;
        SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
        break;
    default:
        SrbSetSrbStatus(Srb, SRB_STATUS_INVALID_REQUEST);
        break;
    }
    if (!gt_vdisk_config.latency_us) {
        Complete(x, Srb);
        return TRUE;
    }
    /* Hold it until the timer: requests overlap and virtual time moves. */
    e = SrbGetMiniportContext(Srb);
    e->next = NULL;
    if (x->pending_tail) {
        ((GtSrbExtension *)SrbGetMiniportContext(x->pending_tail))->next = Srb;
    } else {
        x->pending_head = Srb;
    }
    x->pending_tail = Srb;
    if (!x->timer_armed) {
        x->timer_armed = TRUE;
        StorPortNotification(RequestTimerCall, x, GtTimer,
                             (ULONG)gt_vdisk_config.latency_us);
    }
    return TRUE;
}

static BOOLEAN GtResetBus(PVOID DeviceExtension, ULONG PathId)
{
    GtExtension *x = DeviceExtension;

    /* Complete what the timer holds, as a bus reset aborts it. */
    StorPortNotification(RequestTimerCall, x, GtTimer, 0);
    GtTimer(x);
    return TRUE;
}

static SCSI_ADAPTER_CONTROL_STATUS
GtAdapterControl(PVOID DeviceExtension, SCSI_ADAPTER_CONTROL_TYPE ControlType,
                 PVOID Parameters)
{
    switch (ControlType) {
    case ScsiQuerySupportedControlTypes: {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST l = Parameters;
        if (l->MaxControlType > ScsiRestartAdapter) {
            l->SupportedTypeList[ScsiQuerySupportedControlTypes] = TRUE;
            l->SupportedTypeList[ScsiStopAdapter] = TRUE;
            l->SupportedTypeList[ScsiRestartAdapter] = TRUE;
        }
        break;
    }
    case ScsiStopAdapter:
        gt_vdisk_stats.stops++;
        break;
    case ScsiRestartAdapter:
        gt_vdisk_stats.restarts++;
        break;
    default:
        return ScsiAdapterControlUnsuccessful;
    }
    return ScsiAdapterControlSuccess;
}

static VOID GtFreeAdapterResources(PVOID DeviceExtension)
{
    GtExtension *x = DeviceExtension;

    if (x->disk) {
        StorPortFreePool(DeviceExtension, x->disk);
        x->disk = NULL;
    }
}

ULONG gt_vdisk_DriverEntry(PVOID DriverObject, PVOID RegistryPath)
{
    HW_INITIALIZATION_DATA hw;

    RtlZeroMemory(&hw, sizeof(hw));
    hw.HwInitializationDataSize = sizeof(hw);
    hw.AdapterInterfaceType = Internal;
    hw.HwInitialize = GtInitialize;
    hw.HwStartIo = GtStartIo;
    hw.HwFindAdapter = (PHW_FIND_ADAPTER)(void *)GtFindAdapter;
    hw.HwResetBus = GtResetBus;
    hw.HwAdapterControl = GtAdapterControl;
    hw.HwFreeAdapterResources = GtFreeAdapterResources;
    hw.DeviceExtensionSize = sizeof(GtExtension);
    hw.SrbExtensionSize = sizeof(GtSrbExtension);
    hw.FeatureSupport = STOR_FEATURE_VIRTUAL_MINIPORT;
    hw.MapBuffers = STOR_MAP_ALL_BUFFERS;
    return StorPortInitialize(DriverObject, RegistryPath, &hw, NULL);
}
