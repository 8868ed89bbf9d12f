/* SPDX-License-Identifier: MIT */
/*
 * ramdisk: the I/O path. RamDiskHwStartIo takes every request; SCSI
 * commands are executed at once (completion=inline) or queued for the DPC
 * (completion=dpc, DISPATCH_LEVEL) or the work item (completion=workitem,
 * PASSIVE_LEVEL), which execute and complete them. Other SRB functions
 * (flush, shutdown, resets) are answered in StartIo.
 *
 * The command set is that of a simple direct-access block device
 * (SPC-4, SBC-3): TEST UNIT READY, REQUEST SENSE, INQUIRY (standard data
 * and VPD pages 00h, 80h, 83h, B0h, B1h, B2h), READ CAPACITY (10)/(16),
 * READ and WRITE (6)/(10)/(12)/(16), VERIFY (10)/(12)/(16),
 * SYNCHRONIZE CACHE (10)/(16), MODE SENSE (6)/(10) (caching and control
 * pages), REPORT LUNS, START STOP UNIT and UNMAP. Errors end in CHECK
 * CONDITION with fixed-format sense data copied to the SRB's sense buffer
 * (autosense, SRB_STATUS_AUTOSENSE_VALID). A transfer shorter than the
 * data buffer or than the command asked for completes with
 * SRB_STATUS_DATA_OVERRUN and DataTransferLength set to the bytes moved,
 * the under/overrun convention Windows class drivers expect.
 *
 * Only the Srb* helpers touch the SRB, so SCSI_REQUEST_BLOCK and
 * STORAGE_REQUEST_BLOCK are handled by the same code.
 */
#include "ramdisk.h"

/* ---- big-endian fields of CDBs and parameter data ---- */

static ULONG RamDiskGet16(const UCHAR *p)
{
    return ((ULONG)p[0] << 8) | p[1];
}

static ULONG RamDiskGet32(const UCHAR *p)
{
    return ((ULONG)p[0] << 24) | ((ULONG)p[1] << 16) | ((ULONG)p[2] << 8) |
           p[3];
}

static ULONGLONG RamDiskGet64(const UCHAR *p)
{
    return ((ULONGLONG)RamDiskGet32(p) << 32) | RamDiskGet32(p + 4);
}

static VOID RamDiskPut16(PUCHAR p, ULONG v)
{
    p[0] = (UCHAR)(v >> 8);
    p[1] = (UCHAR)v;
}

static VOID RamDiskPut32(PUCHAR p, ULONG v)
{
    p[0] = (UCHAR)(v >> 24);
    p[1] = (UCHAR)(v >> 16);
    p[2] = (UCHAR)(v >> 8);
    p[3] = (UCHAR)v;
}

static VOID RamDiskPut64(PUCHAR p, ULONGLONG v)
{
    RamDiskPut32(p, (ULONG)(v >> 32));
    RamDiskPut32(p + 4, (ULONG)v);
}

static ULONG RamDiskMin(ULONG a, ULONG b)
{
    return a < b ? a : b;
}

/* ---- results ---- */

/*
 * Record a transfer of @Moved bytes for a command that wanted @Expected.
 * Anything but an exact, complete transfer is reported the Windows way:
 * SRB_STATUS_DATA_OVERRUN with the residual folded into
 * DataTransferLength.
 */
static VOID RamDiskSetTransferResult(PVOID Srb, ULONG Moved, ULONG Expected)
{
    ULONG bufferLength = SrbGetDataTransferLength(Srb);

    SrbSetScsiStatus(Srb, SCSISTAT_GOOD);
    if (Moved == bufferLength && Moved == Expected) {
        SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
    } else {
        SrbSetDataTransferLength(Srb, Moved);
        SrbSetSrbStatus(Srb, SRB_STATUS_DATA_OVERRUN);
    }
}

/* GOOD status for a command without a data phase. */
static VOID RamDiskSetGood(PVOID Srb)
{
    SrbSetScsiStatus(Srb, SCSISTAT_GOOD);
    SrbSetDataTransferLength(Srb, 0);
    SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
}

/*
 * CHECK CONDITION with fixed-format sense data (SPC-4 4.5.3). The sense
 * goes to the SRB's buffer unless the caller disabled autosense.
 */
static VOID
RamDiskSetCheckCondition(PRAMDISK_ADAPTER_EXTENSION AdapterExtension, PVOID Srb,
                         UCHAR SenseKey, UCHAR Asc, UCHAR Ascq)
{
    PVOID senseBuffer = SrbGetSenseInfoBuffer(Srb);
    UCHAR senseLength = SrbGetSenseInfoBufferLength(Srb);
    UCHAR status = SRB_STATUS_ERROR;

    InterlockedIncrement(&AdapterExtension->Stats.CheckConditions);
    SrbSetScsiStatus(Srb, SCSISTAT_CHECK_CONDITION);
    SrbSetDataTransferLength(Srb, 0);
    if (senseBuffer != NULL && senseLength != 0 &&
        !(SrbGetSrbFlags(Srb) & SRB_FLAGS_DISABLE_AUTOSENSE)) {
        UCHAR sense[RAMDISK_FIXED_SENSE_LENGTH];
        PSENSE_DATA senseData = (PSENSE_DATA)sense;
        UCHAR length =
            senseLength < sizeof(sense) ? senseLength : (UCHAR)sizeof(sense);

        RtlZeroMemory(sense, sizeof(sense));
        senseData->ErrorCode = SCSI_SENSE_ERRORCODE_FIXED_CURRENT;
        senseData->SenseKey = SenseKey;
        senseData->AdditionalSenseLength =
            RAMDISK_FIXED_SENSE_LENGTH -
            FIELD_OFFSET(SENSE_DATA, CommandSpecificInformation);
        senseData->AdditionalSenseCode = Asc;
        senseData->AdditionalSenseCodeQualifier = Ascq;
        RtlCopyMemory(senseBuffer, sense, length);
        SrbSetSenseInfoBufferLength(Srb, length);
        status |= SRB_STATUS_AUTOSENSE_VALID;
    }
    SrbSetSrbStatus(Srb, status);
}

static VOID RamDiskIllegalRequest(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                  PVOID Srb, UCHAR Asc)
{
    RamDiskSetCheckCondition(AdapterExtension, Srb, SCSI_SENSE_ILLEGAL_REQUEST,
                             Asc, 0);
}

/* Copy @Available bytes of response data, limited by the CDB's allocation
 * length and the buffer. */
static VOID RamDiskReturnData(PVOID Srb, const VOID *Data, ULONG Available,
                              ULONG AllocationLength)
{
    PVOID buffer = SrbGetDataBuffer(Srb);
    ULONG expected = RamDiskMin(Available, AllocationLength);
    ULONG moved = RamDiskMin(expected, SrbGetDataTransferLength(Srb));

    if (buffer == NULL) {
        moved = 0;
    }
    if (moved != 0) {
        RtlCopyMemory(buffer, Data, moved);
    }
    RamDiskSetTransferResult(Srb, moved, expected);
}

/* ---- INQUIRY ---- */

static const UCHAR RamDiskVpdPages[] = {
    VPD_SUPPORTED_PAGES,
    VPD_SERIAL_NUMBER,
    VPD_DEVICE_IDENTIFIERS,
    VPD_BLOCK_LIMITS,
    VPD_BLOCK_DEVICE_CHARACTERISTICS,
    VPD_LOGICAL_BLOCK_PROVISIONING,
};

/* "RAMDISK" + LUN digit: unique per unit within the adapter. */
#define RAMDISK_SERIAL_LENGTH 8

static VOID RamDiskSerial(UCHAR Lun, PUCHAR Serial)
{
    RtlCopyMemory(Serial, "RAMDISK", 7);
    Serial[7] = (UCHAR)('0' + Lun);
}

static ULONG RamDiskStandardInquiry(PUCHAR Data)
{
    PINQUIRYDATA inquiry = (PINQUIRYDATA)Data;

    inquiry->DeviceType = DIRECT_ACCESS_DEVICE;
    inquiry->DeviceTypeQualifier = DEVICE_CONNECTED;
    inquiry->Versions = 0x06; /* SPC-4 */
    inquiry->ResponseDataFormat = 2;
    inquiry->HiSupport = 1;
    inquiry->AdditionalLength = INQUIRYDATABUFFERSIZE - 5;
    inquiry->CommandQueue = 1;
    RtlCopyMemory(inquiry->VendorId, RAMDISK_VENDOR_ID, 8);
    RtlCopyMemory(inquiry->ProductId, RAMDISK_PRODUCT_ID, 16);
    RtlCopyMemory(inquiry->ProductRevisionLevel, RAMDISK_REVISION, 4);
    return INQUIRYDATABUFFERSIZE;
}

/* Build VPD page @Page into @Data (256 bytes); 0 for an unknown page. */
static ULONG RamDiskVpdPage(UCHAR Lun, UCHAR Page, PUCHAR Data)
{
    ULONG length;

    Data[0] = DIRECT_ACCESS_DEVICE;
    Data[1] = Page;
    switch (Page) {
    case VPD_SUPPORTED_PAGES:
        length = sizeof(RamDiskVpdPages);
        RtlCopyMemory(Data + 4, RamDiskVpdPages, length);
        break;
    case VPD_SERIAL_NUMBER:
        length = RAMDISK_SERIAL_LENGTH;
        RamDiskSerial(Lun, Data + 4);
        break;
    case VPD_DEVICE_IDENTIFIERS: {
        /* A T10 vendor ID descriptor (vendor + serial, ASCII) and a
         * locally assigned NAA name, both associated with the unit. */
        PUCHAR d = Data + 4;

        d[0] = VpdCodeSetAscii;
        d[1] = VpdIdentifierTypeVendorId | (VpdAssocDevice << 4);
        d[3] = 8 + RAMDISK_SERIAL_LENGTH;
        RtlCopyMemory(d + 4, RAMDISK_VENDOR_ID, 8);
        RamDiskSerial(Lun, d + 12);
        d += 4 + d[3];
        d[0] = VpdCodeSetBinary;
        d[1] = VpdIdentifierTypeFCPHName | (VpdAssocDevice << 4);
        d[3] = 8;
        d[4] = 0x30; /* NAA 3: locally assigned */
        RtlCopyMemory(d + 5, "RAMDSK", 6);
        d[11] = Lun;
        d += 12;
        length = (ULONG)(d - (Data + 4));
        break;
    }
    case VPD_BLOCK_LIMITS:
        length = 0x3c;
        /* Maximum and optimal transfer length, in blocks. */
        RamDiskPut32(Data + 8, RAMDISK_MAX_TRANSFER / RAMDISK_BLOCK_SIZE);
        RamDiskPut32(Data + 12, RAMDISK_MAX_TRANSFER / RAMDISK_BLOCK_SIZE);
        /* UNMAP: any block count in one descriptor, granularity 1. */
        RamDiskPut32(Data + 20, MAXULONG);
        RamDiskPut32(Data + 24, RAMDISK_MAX_UNMAP_DESCRIPTORS);
        RamDiskPut32(Data + 28, 1);
        break;
    case VPD_BLOCK_DEVICE_CHARACTERISTICS:
        length = 0x3c;
        RamDiskPut16(Data + 4, 1); /* non-rotating medium */
        break;
    case VPD_LOGICAL_BLOCK_PROVISIONING:
        length = 4;
        /* UNMAP supported (LBPU), unmapped blocks read as zeros (LBPRZ),
         * thin provisioned. */
        Data[5] = 0x80 | 0x04;
        Data[6] = PROVISIONING_TYPE_THIN;
        break;
    default:
        return 0;
    }
    RamDiskPut16(Data + 2, length);
    return 4 + length;
}

static VOID RamDiskInquiry(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                           PVOID Srb, PCDB Cdb, UCHAR Lun)
{
    UCHAR data[256];
    ULONG allocationLength = RamDiskGet16(&Cdb->AsByte[3]);
    ULONG length;

    RtlZeroMemory(data, sizeof(data));
    if (Cdb->CDB6INQUIRY3.CommandSupportData) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    if (!Cdb->CDB6INQUIRY3.EnableVitalProductData) {
        if (Cdb->CDB6INQUIRY3.PageCode != 0) {
            RamDiskIllegalRequest(AdapterExtension, Srb,
                                  SCSI_ADSENSE_INVALID_CDB);
            return;
        }
        length = RamDiskStandardInquiry(data);
    } else {
        length = RamDiskVpdPage(Lun, Cdb->CDB6INQUIRY3.PageCode, data);
        if (length == 0) {
            RamDiskIllegalRequest(AdapterExtension, Srb,
                                  SCSI_ADSENSE_INVALID_CDB);
            return;
        }
    }
    RamDiskReturnData(Srb, data, length, allocationLength);
}

/* ---- capacity, mode pages, LUN list ---- */

static VOID RamDiskReadCapacity(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                PVOID Srb, PCDB Cdb, PRAMDISK_LOGICAL_UNIT Unit)
{
    UCHAR data[8];
    ULONGLONG last = Unit->BlockCount - 1;

    /* SBC-3 5.15: without PMI the LBA field must be zero. */
    if (!(Cdb->AsByte[8] & 1) && RamDiskGet32(&Cdb->AsByte[2]) != 0) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    RamDiskPut32(data, last > MAXULONG ? MAXULONG : (ULONG)last);
    RamDiskPut32(data + 4, RAMDISK_BLOCK_SIZE);
    RamDiskReturnData(Srb, data, sizeof(data), sizeof(data));
}

static VOID RamDiskReadCapacity16(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                  PVOID Srb, PCDB Cdb,
                                  PRAMDISK_LOGICAL_UNIT Unit)
{
    UCHAR data[32];

    if (Cdb->READ_CAPACITY16.ServiceAction != SERVICE_ACTION_READ_CAPACITY16) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    RtlZeroMemory(data, sizeof(data));
    RamDiskPut64(data, Unit->BlockCount - 1);
    RamDiskPut32(data + 8, RAMDISK_BLOCK_SIZE);
    data[14] = 0x80 | 0x40; /* LBPME (UNMAP), LBPRZ */
    RamDiskReturnData(Srb, data, sizeof(data), RamDiskGet32(&Cdb->AsByte[10]));
}

/* Mode page @Page into @Data; @Changeable selects the changeable-values
 * mask (all zero: nothing can be changed, there is no MODE SELECT). */
static ULONG RamDiskModePage(UCHAR Page, BOOLEAN Changeable, PUCHAR Data)
{
    switch (Page) {
    case MODE_PAGE_CACHING:
        /* SBC-3 6.4.5: write cache disabled, read cache enabled: RAM is
         * the medium, there is nothing to lose on power failure. */
        RtlZeroMemory(Data, 20);
        Data[0] = MODE_PAGE_CACHING;
        Data[1] = 0x12;
        return 20;
    case MODE_PAGE_CONTROL:
        RtlZeroMemory(Data, 12);
        Data[0] = MODE_PAGE_CONTROL;
        Data[1] = 0x0a;
        if (!Changeable) {
            Data[3] = 0x10; /* unrestricted command reordering */
            Data[8] = 0xff; /* busy time-out: unlimited */
            Data[9] = 0xff;
        }
        return 12;
    default:
        return 0;
    }
}

static VOID RamDiskModeSense(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                             PVOID Srb, PCDB Cdb, PRAMDISK_LOGICAL_UNIT Unit)
{
    BOOLEAN ten = Cdb->AsByte[0] == SCSIOP_MODE_SENSE10;
    UCHAR page = Cdb->MODE_SENSE.PageCode;
    UCHAR control = Cdb->MODE_SENSE.Pc;
    UCHAR subpage = Cdb->MODE_SENSE.SubPageCode;
    BOOLEAN blockDescriptor = !Cdb->MODE_SENSE.Dbd;
    ULONG allocationLength =
        ten ? RamDiskGet16(&Cdb->AsByte[7]) : Cdb->AsByte[4];
    ULONG header = ten ? 8 : 4;
    ULONG length;
    UCHAR data[128];

    if (control == 3) {
        RamDiskIllegalRequest(AdapterExtension, Srb,
                              RAMDISK_ASC_SAVING_NOT_SUPPORTED);
        return;
    }
    if (subpage != 0 && !(page == MODE_SENSE_RETURN_ALL && subpage == 0xff)) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    RtlZeroMemory(data, sizeof(data));
    length = header;
    if (blockDescriptor) {
        ULONGLONG blocks = Unit->BlockCount;
        PUCHAR d = data + length;
        if (blocks > 0xffffff) {
            blocks = 0xffffff;
        }
        d[1] = (UCHAR)(blocks >> 16);
        d[2] = (UCHAR)(blocks >> 8);
        d[3] = (UCHAR)blocks;
        d[6] = (UCHAR)(RAMDISK_BLOCK_SIZE >> 8);
        d[7] = (UCHAR)RAMDISK_BLOCK_SIZE;
        length += 8;
    }
    if (page == MODE_SENSE_RETURN_ALL) {
        length +=
            RamDiskModePage(MODE_PAGE_CACHING, control == 1, data + length);
        length +=
            RamDiskModePage(MODE_PAGE_CONTROL, control == 1, data + length);
    } else {
        ULONG n = RamDiskModePage(page, control == 1, data + length);
        if (n == 0) {
            RamDiskIllegalRequest(AdapterExtension, Srb,
                                  SCSI_ADSENSE_INVALID_CDB);
            return;
        }
        length += n;
    }
    /* Header: the mode data length excludes itself; FUA and DPO are
     * accepted (and meaningless on RAM). */
    if (ten) {
        RamDiskPut16(data, length - 2);
        data[3] = MODE_DSP_FUA_SUPPORTED;
        RamDiskPut16(data + 6, blockDescriptor ? 8 : 0);
    } else {
        data[0] = (UCHAR)(length - 1);
        data[2] = MODE_DSP_FUA_SUPPORTED;
        data[3] = blockDescriptor ? 8 : 0;
    }
    RamDiskReturnData(Srb, data, length, allocationLength);
}

static VOID RamDiskReportLuns(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                              PVOID Srb, PCDB Cdb)
{
    UCHAR data[8 + 8 * RAMDISK_MAX_LUNS];
    ULONG allocationLength = RamDiskGet32(&Cdb->AsByte[6]);
    UCHAR select = Cdb->AsByte[2];
    ULONG count = 0;
    ULONG i;

    /* SPC-4 6.33: the allocation length must hold the header. */
    if (allocationLength < 16 || select > 2) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    RtlZeroMemory(data, sizeof(data));
    /* Select 1 asks for well-known LUNs only: there are none. */
    if (select != 1) {
        count = AdapterExtension->LunCount;
        for (i = 0; i < count; i++) {
            /* Single-level peripheral device addressing. */
            data[8 + 8 * i + 1] = (UCHAR)i;
        }
    }
    RamDiskPut32(data, 8 * count);
    RamDiskReturnData(Srb, data, 8 + 8 * count, allocationLength);
}

/* ---- media access ---- */

/* LBA and block count of a READ/WRITE/VERIFY/SYNCHRONIZE CACHE CDB. */
static VOID RamDiskDecodeRange(PCDB Cdb, PULONGLONG Lba, PULONG Blocks)
{
    const UCHAR *b = Cdb->AsByte;

    switch (b[0]) {
    case SCSIOP_READ6:
    case SCSIOP_WRITE6:
        /* SBC-3 5.7: 21-bit LBA, a length of 0 means 256 blocks. */
        *Lba = ((ULONG)(b[1] & 0x1f) << 16) | ((ULONG)b[2] << 8) | b[3];
        *Blocks = b[4] ? b[4] : 256;
        break;
    case SCSIOP_READ12:
    case SCSIOP_WRITE12:
    case SCSIOP_VERIFY12:
        *Lba = RamDiskGet32(b + 2);
        *Blocks = RamDiskGet32(b + 6);
        break;
    case SCSIOP_READ16:
    case SCSIOP_WRITE16:
    case SCSIOP_VERIFY16:
    case SCSIOP_SYNCHRONIZE_CACHE16:
        *Lba = RamDiskGet64(b + 2);
        *Blocks = RamDiskGet32(b + 10);
        break;
    default: /* the (10) forms */
        *Lba = RamDiskGet32(b + 2);
        *Blocks = RamDiskGet16(b + 7);
        break;
    }
}

static BOOLEAN RamDiskRangeOk(PRAMDISK_LOGICAL_UNIT Unit, ULONGLONG Lba,
                              ULONG Blocks)
{
    return Lba <= Unit->BlockCount && Blocks <= Unit->BlockCount - Lba;
}

/* READ/WRITE (6)/(10)/(12)/(16). */
static VOID RamDiskReadWrite(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                             PVOID Srb, PCDB Cdb, PRAMDISK_LOGICAL_UNIT Unit,
                             BOOLEAN Write)
{
    PUCHAR buffer = SrbGetDataBuffer(Srb);
    ULONG bufferLength = SrbGetDataTransferLength(Srb);
    ULONGLONG lba;
    ULONG blocks;
    ULONG moveBlocks;
    ULONG expected;
    PUCHAR medium;

    RamDiskDecodeRange(Cdb, &lba, &blocks);
    /* RDPROTECT/WRPROTECT: there is no protection information. */
    if (Cdb->AsByte[0] != SCSIOP_READ6 && Cdb->AsByte[0] != SCSIOP_WRITE6 &&
        (Cdb->AsByte[1] & 0xe0) != 0) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    if (!RamDiskRangeOk(Unit, lba, blocks)) {
        RamDiskIllegalRequest(AdapterExtension, Srb,
                              SCSI_ADSENSE_ILLEGAL_BLOCK);
        return;
    }
    /* Blocks larger than the buffer can hold are not moved; so is any
     * partial block at its end. */
    expected = blocks > (MAXULONG >> RAMDISK_BLOCK_SHIFT)
                   ? MAXULONG
                   : blocks << RAMDISK_BLOCK_SHIFT;
    moveBlocks = buffer == NULL
                     ? 0
                     : RamDiskMin(blocks, bufferLength >> RAMDISK_BLOCK_SHIFT);
    medium = Unit->Data + (lba << RAMDISK_BLOCK_SHIFT);
    if (moveBlocks != 0) {
        SIZE_T bytes = (SIZE_T)moveBlocks << RAMDISK_BLOCK_SHIFT;
        if (Write) {
            RtlCopyMemory(medium, buffer, bytes);
        } else {
            RtlCopyMemory(buffer, medium, bytes);
        }
    }
    if (Write) {
        InterlockedIncrement(&AdapterExtension->Stats.Writes);
    } else {
        InterlockedIncrement(&AdapterExtension->Stats.Reads);
    }
    RamDiskSetTransferResult(Srb, moveBlocks << RAMDISK_BLOCK_SHIFT, expected);
}

/* VERIFY (10)/(12)/(16), SBC-3 5.28: BYTCHK 0 checks the range only, 1
 * compares the data-out buffer with the medium, 3 compares one block with
 * every block of the range. */
static VOID RamDiskVerify(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                          PVOID Srb, PCDB Cdb, PRAMDISK_LOGICAL_UNIT Unit)
{
    PUCHAR buffer = SrbGetDataBuffer(Srb);
    ULONG bufferLength = buffer != NULL ? SrbGetDataTransferLength(Srb) : 0;
    UCHAR byteCheck = (Cdb->AsByte[1] >> 1) & 3;
    ULONGLONG lba;
    ULONG blocks;
    ULONG i;

    RamDiskDecodeRange(Cdb, &lba, &blocks);
    if ((Cdb->AsByte[1] & 0xe0) != 0 || byteCheck == 2) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    if (!RamDiskRangeOk(Unit, lba, blocks)) {
        RamDiskIllegalRequest(AdapterExtension, Srb,
                              SCSI_ADSENSE_ILLEGAL_BLOCK);
        return;
    }
    InterlockedIncrement(&AdapterExtension->Stats.Verifies);
    if (byteCheck == 0) {
        RamDiskSetGood(Srb);
        return;
    }
    {
        ULONG wanted = byteCheck == 1 ? blocks : (blocks ? 1 : 0);
        ULONG have = RamDiskMin(wanted, bufferLength >> RAMDISK_BLOCK_SHIFT);
        ULONG expected = wanted << RAMDISK_BLOCK_SHIFT;
        PUCHAR medium = Unit->Data + (lba << RAMDISK_BLOCK_SHIFT);

        if (wanted > (MAXULONG >> RAMDISK_BLOCK_SHIFT)) {
            expected = MAXULONG;
        }
        for (i = 0; i < blocks; i++) {
            ULONG source = byteCheck == 1 ? i : 0;
            if (source >= have) {
                break;
            }
            if (!RtlEqualMemory(medium + ((SIZE_T)i << RAMDISK_BLOCK_SHIFT),
                                buffer +
                                    ((SIZE_T)source << RAMDISK_BLOCK_SHIFT),
                                RAMDISK_BLOCK_SIZE)) {
                RamDiskSetCheckCondition(
                    AdapterExtension, Srb, SCSI_SENSE_MISCOMPARE,
                    SCSI_ADSENSE_MISCOMPARE_DURING_VERIFY_OPERATION, 0);
                return;
            }
        }
        RamDiskSetTransferResult(Srb, have << RAMDISK_BLOCK_SHIFT, expected);
    }
}

static VOID RamDiskSynchronizeCache(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                    PVOID Srb, PCDB Cdb,
                                    PRAMDISK_LOGICAL_UNIT Unit)
{
    ULONGLONG lba;
    ULONG blocks;

    RamDiskDecodeRange(Cdb, &lba, &blocks);
    /* A count of 0 means "to the last block". */
    if (!RamDiskRangeOk(Unit, lba, blocks)) {
        RamDiskIllegalRequest(AdapterExtension, Srb,
                              SCSI_ADSENSE_ILLEGAL_BLOCK);
        return;
    }
    InterlockedIncrement(&AdapterExtension->Stats.SyncCaches);
    RamDiskSetGood(Srb);
}

/* UNMAP (SBC-3 5.25): the ranges read as zeros afterwards (LBPRZ). */
static VOID RamDiskUnmap(PRAMDISK_ADAPTER_EXTENSION AdapterExtension, PVOID Srb,
                         PCDB Cdb, PRAMDISK_LOGICAL_UNIT Unit)
{
    PUCHAR buffer = SrbGetDataBuffer(Srb);
    ULONG bufferLength = buffer != NULL ? SrbGetDataTransferLength(Srb) : 0;
    ULONG parameterLength = RamDiskGet16(&Cdb->AsByte[7]);
    ULONG have = RamDiskMin(parameterLength, bufferLength);
    ULONG count;
    ULONG i;

    if (Cdb->UNMAP.Anchor) {
        RamDiskIllegalRequest(AdapterExtension, Srb, SCSI_ADSENSE_INVALID_CDB);
        return;
    }
    if (parameterLength == 0) {
        RamDiskSetGood(Srb);
        return;
    }
    if (have < 8) {
        RamDiskIllegalRequest(AdapterExtension, Srb,
                              SCSI_ADSENSE_PARAMETER_LIST_LENGTH);
        return;
    }
    count = RamDiskMin(RamDiskGet16(buffer + 2), have - 8) / 16;
    if (count > RAMDISK_MAX_UNMAP_DESCRIPTORS) {
        RamDiskIllegalRequest(AdapterExtension, Srb,
                              SCSI_ADSENSE_INVALID_FIELD_PARAMETER_LIST);
        return;
    }
    /* Check every range before changing anything. */
    for (i = 0; i < count; i++) {
        PUCHAR d = buffer + 8 + 16 * i;
        if (!RamDiskRangeOk(Unit, RamDiskGet64(d), RamDiskGet32(d + 8))) {
            RamDiskIllegalRequest(AdapterExtension, Srb,
                                  SCSI_ADSENSE_ILLEGAL_BLOCK);
            return;
        }
    }
    for (i = 0; i < count; i++) {
        PUCHAR d = buffer + 8 + 16 * i;
        ULONGLONG lba = RamDiskGet64(d);
        ULONG blocks = RamDiskGet32(d + 8);
        RtlZeroMemory(Unit->Data + (lba << RAMDISK_BLOCK_SHIFT),
                      (SIZE_T)blocks << RAMDISK_BLOCK_SHIFT);
    }
    InterlockedIncrement(&AdapterExtension->Stats.Unmaps);
    RamDiskSetTransferResult(Srb, have, parameterLength);
}

static VOID RamDiskStartStopUnit(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                 PVOID Srb, PCDB Cdb,
                                 PRAMDISK_LOGICAL_UNIT Unit)
{
    UCHAR powerCondition = Cdb->AsByte[4] >> 4;

    /* A power condition other than "start valid" leaves START alone
     * (SBC-3 5.20); there is no medium to load or eject. */
    if (powerCondition == 0) {
        if (Cdb->START_STOP.LoadEject) {
            RamDiskIllegalRequest(AdapterExtension, Srb,
                                  SCSI_ADSENSE_INVALID_CDB);
            return;
        }
        Unit->Stopped = Cdb->START_STOP.Start ? FALSE : TRUE;
    }
    RamDiskSetGood(Srb);
}

static VOID RamDiskRequestSense(PVOID Srb, PCDB Cdb)
{
    UCHAR data[RAMDISK_FIXED_SENSE_LENGTH];
    PSENSE_DATA sense = (PSENSE_DATA)data;

    /* Autosense reports every error with its command: nothing is left
     * pending, so the answer is always NO SENSE. */
    RtlZeroMemory(data, sizeof(data));
    sense->ErrorCode = SCSI_SENSE_ERRORCODE_FIXED_CURRENT;
    sense->SenseKey = SCSI_SENSE_NO_SENSE;
    sense->AdditionalSenseLength =
        RAMDISK_FIXED_SENSE_LENGTH -
        FIELD_OFFSET(SENSE_DATA, CommandSpecificInformation);
    RamDiskReturnData(Srb, data, sizeof(data), Cdb->AsByte[4]);
}

/* Commands that need the medium answer NOT READY while the unit is
 * stopped, until a START UNIT. */
static BOOLEAN RamDiskNeedsMedium(UCHAR OperationCode)
{
    switch (OperationCode) {
    case SCSIOP_TEST_UNIT_READY:
    case SCSIOP_READ_CAPACITY:
    case SCSIOP_READ_CAPACITY16:
    case SCSIOP_READ6:
    case SCSIOP_READ:
    case SCSIOP_READ12:
    case SCSIOP_READ16:
    case SCSIOP_WRITE6:
    case SCSIOP_WRITE:
    case SCSIOP_WRITE12:
    case SCSIOP_WRITE16:
    case SCSIOP_VERIFY:
    case SCSIOP_VERIFY12:
    case SCSIOP_VERIFY16:
    case SCSIOP_SYNCHRONIZE_CACHE:
    case SCSIOP_SYNCHRONIZE_CACHE16:
    case SCSIOP_UNMAP:
        return TRUE;
    default:
        return FALSE;
    }
}

/* Execute the SCSI command of @Srb and set its status; no completion. */
static VOID RamDiskExecuteScsi(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                               PVOID Srb)
{
    PCDB cdb = SrbGetCdb(Srb);
    UCHAR lun = 0;
    PRAMDISK_LOGICAL_UNIT unit;

    SrbGetPathTargetLun(Srb, NULL, NULL, &lun);
    unit = &AdapterExtension->Units[lun];
    if (cdb == NULL || SrbGetCdbLength(Srb) == 0) {
        SrbSetSrbStatus(Srb, SRB_STATUS_INVALID_REQUEST);
        return;
    }
    if (unit->Stopped && RamDiskNeedsMedium(cdb->AsByte[0])) {
        RamDiskSetCheckCondition(AdapterExtension, Srb, SCSI_SENSE_NOT_READY,
                                 SCSI_ADSENSE_LUN_NOT_READY,
                                 RAMDISK_ASCQ_INIT_REQUIRED);
        return;
    }
    switch (cdb->AsByte[0]) {
    case SCSIOP_TEST_UNIT_READY:
        RamDiskSetGood(Srb);
        break;
    case SCSIOP_REQUEST_SENSE:
        RamDiskRequestSense(Srb, cdb);
        break;
    case SCSIOP_INQUIRY:
        RamDiskInquiry(AdapterExtension, Srb, cdb, lun);
        break;
    case SCSIOP_READ_CAPACITY:
        RamDiskReadCapacity(AdapterExtension, Srb, cdb, unit);
        break;
    case SCSIOP_READ_CAPACITY16:
        RamDiskReadCapacity16(AdapterExtension, Srb, cdb, unit);
        break;
    case SCSIOP_READ6:
    case SCSIOP_READ:
    case SCSIOP_READ12:
    case SCSIOP_READ16:
        RamDiskReadWrite(AdapterExtension, Srb, cdb, unit, FALSE);
        break;
    case SCSIOP_WRITE6:
    case SCSIOP_WRITE:
    case SCSIOP_WRITE12:
    case SCSIOP_WRITE16:
        RamDiskReadWrite(AdapterExtension, Srb, cdb, unit, TRUE);
        break;
    case SCSIOP_VERIFY:
    case SCSIOP_VERIFY12:
    case SCSIOP_VERIFY16:
        RamDiskVerify(AdapterExtension, Srb, cdb, unit);
        break;
    case SCSIOP_SYNCHRONIZE_CACHE:
    case SCSIOP_SYNCHRONIZE_CACHE16:
        RamDiskSynchronizeCache(AdapterExtension, Srb, cdb, unit);
        break;
    case SCSIOP_MODE_SENSE:
    case SCSIOP_MODE_SENSE10:
        RamDiskModeSense(AdapterExtension, Srb, cdb, unit);
        break;
    case SCSIOP_REPORT_LUNS:
        RamDiskReportLuns(AdapterExtension, Srb, cdb);
        break;
    case SCSIOP_START_STOP_UNIT:
        RamDiskStartStopUnit(AdapterExtension, Srb, cdb, unit);
        break;
    case SCSIOP_UNMAP:
        RamDiskUnmap(AdapterExtension, Srb, cdb, unit);
        break;
    default:
        RamDiskIllegalRequest(AdapterExtension, Srb,
                              SCSI_ADSENSE_ILLEGAL_COMMAND);
        break;
    }
}

/* ---- the request queue ---- */

VOID RamDiskAcquireQueueLock(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                             PSTOR_LOCK_HANDLE LockHandle)
{
    StorPortAcquireSpinLock(AdapterExtension, DpcLock,
                            &AdapterExtension->CompletionDpc, LockHandle);
}

VOID RamDiskReleaseQueueLock(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                             PSTOR_LOCK_HANDLE LockHandle)
{
    StorPortReleaseSpinLock(AdapterExtension, LockHandle);
}

static VOID RamDiskEnqueueLocked(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                 PVOID Srb)
{
    PRAMDISK_SRB_EXTENSION srbExtension = SrbGetMiniportContext(Srb);

    srbExtension->NextSrb = NULL;
    if (AdapterExtension->QueueTail != NULL) {
        PRAMDISK_SRB_EXTENSION tail =
            SrbGetMiniportContext(AdapterExtension->QueueTail);
        tail->NextSrb = Srb;
    } else {
        AdapterExtension->QueueHead = Srb;
    }
    AdapterExtension->QueueTail = Srb;
    AdapterExtension->Queued++;
}

static PVOID RamDiskDequeueLocked(PRAMDISK_ADAPTER_EXTENSION AdapterExtension)
{
    PVOID srb = AdapterExtension->QueueHead;
    PRAMDISK_SRB_EXTENSION srbExtension;

    if (srb == NULL) {
        return NULL;
    }
    srbExtension = SrbGetMiniportContext(srb);
    AdapterExtension->QueueHead = srbExtension->NextSrb;
    if (AdapterExtension->QueueHead == NULL) {
        AdapterExtension->QueueTail = NULL;
    }
    AdapterExtension->Queued--;
    return srb;
}

VOID RamDiskResetLocked(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                        UCHAR PathId)
{
    /* The port completes every request it gave us, queued ones included:
     * drop the queue without touching those SRBs again. */
    AdapterExtension->QueueHead = NULL;
    AdapterExtension->QueueTail = NULL;
    AdapterExtension->Queued = 0;
    AdapterExtension->ResetPending = FALSE;
    StorPortCompleteRequest(AdapterExtension, PathId, SP_UNTAGGED, SP_UNTAGGED,
                            SRB_STATUS_BUS_RESET);
    InterlockedIncrement(&AdapterExtension->ResetGeneration);
    InterlockedIncrement(&AdapterExtension->Stats.ResetCompletions);
}

/* Start the DPC or the work item that drains the queue. */
static VOID RamDiskKickQueue(PRAMDISK_ADAPTER_EXTENSION AdapterExtension)
{
    if (AdapterExtension->CompletionMode == RamDiskCompleteWorkItem) {
        ULONG status =
            StorPortQueueWorkItem(AdapterExtension, RamDiskCompletionWorkItem,
                                  AdapterExtension->Worker, NULL);
        /* BUSY: queued already, and it will see this request. Any other
         * failure falls back to the DPC so nothing is stranded. */
        if (status == STOR_STATUS_SUCCESS || status == STOR_STATUS_BUSY) {
            return;
        }
    }
    StorPortIssueDpc(AdapterExtension, &AdapterExtension->CompletionDpc, NULL,
                     NULL);
}

/*
 * Execute and complete queued requests until the queue is empty. A request
 * runs outside the lock (ActiveDrainers counts those), so StartIo on other
 * processors keeps queueing; a bus reset that arrives meanwhile is left
 * pending and done by the last drainer, so a request is never completed
 * twice nor touched after the reset completed it.
 */
static VOID RamDiskDrainQueue(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                              BOOLEAN Passive)
{
    STOR_LOCK_HANDLE lockHandle;
    PVOID srb;

    for (;;) {
        RamDiskAcquireQueueLock(AdapterExtension, &lockHandle);
        srb = AdapterExtension->ResetPending
                  ? NULL
                  : RamDiskDequeueLocked(AdapterExtension);
        if (srb == NULL) {
            RamDiskReleaseQueueLock(AdapterExtension, &lockHandle);
            return;
        }
        AdapterExtension->ActiveDrainers++;
        RamDiskReleaseQueueLock(AdapterExtension, &lockHandle);

        if (Passive && AdapterExtension->DelayMicroseconds != 0) {
            StorPortDelayExecution(AdapterExtension,
                                   AdapterExtension->DelayMicroseconds);
        }
        RamDiskExecuteScsi(AdapterExtension, srb);

        RamDiskAcquireQueueLock(AdapterExtension, &lockHandle);
        AdapterExtension->ActiveDrainers--;
        InterlockedIncrement(Passive
                                 ? &AdapterExtension->Stats.WorkItemCompletions
                                 : &AdapterExtension->Stats.DpcCompletions);
        StorPortNotification(RequestComplete, AdapterExtension, srb);
        if (AdapterExtension->ResetPending &&
            AdapterExtension->ActiveDrainers == 0) {
            RamDiskResetLocked(AdapterExtension, AdapterExtension->ResetPathId);
        }
        RamDiskReleaseQueueLock(AdapterExtension, &lockHandle);
    }
}

VOID RamDiskCompletionDpc(PSTOR_DPC Dpc, PVOID HwDeviceExtension,
                          PVOID SystemArgument1, PVOID SystemArgument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);

    RamDiskDrainQueue(HwDeviceExtension, FALSE);
}

VOID RamDiskCompletionWorkItem(PVOID HwDeviceExtension, PVOID Context,
                               PVOID Worker)
{
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Worker);

    RamDiskDrainQueue(HwDeviceExtension, TRUE);
}

/* ---- StartIo ---- */

/* SRB status for a request addressed to @Srb's unit; SUCCESS if it
 * exists. */
static UCHAR RamDiskCheckAddress(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                 PVOID Srb)
{
    UCHAR path = 0xff;
    UCHAR target = 0xff;
    UCHAR lun = 0xff;

    SrbGetPathTargetLun(Srb, &path, &target, &lun);
    if (path != 0) {
        return SRB_STATUS_INVALID_PATH_ID;
    }
    if (target != 0) {
        return SRB_STATUS_SELECTION_TIMEOUT;
    }
    if (lun >= AdapterExtension->LunCount) {
        return SRB_STATUS_INVALID_LUN;
    }
    return SRB_STATUS_SUCCESS;
}

/*
 * Answer an SRB function other than EXECUTE_SCSI (in StartIo, under the
 * queue lock). The RAM disk has nothing stuck to abort, so the reset
 * functions succeed at once; commands already queued complete normally.
 */
static UCHAR RamDiskOtherFunction(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                  ULONG Function)
{
    switch (Function) {
    case SRB_FUNCTION_FLUSH:
        InterlockedIncrement(&AdapterExtension->Stats.Flushes);
        return SRB_STATUS_SUCCESS;
    case SRB_FUNCTION_SHUTDOWN:
        InterlockedIncrement(&AdapterExtension->Stats.Shutdowns);
        return SRB_STATUS_SUCCESS;
    case SRB_FUNCTION_RESET_LOGICAL_UNIT:
    case SRB_FUNCTION_RESET_DEVICE:
    case SRB_FUNCTION_RESET_BUS:
        InterlockedIncrement(&AdapterExtension->Stats.LunResets);
        return SRB_STATUS_SUCCESS;
    default:
        return SRB_STATUS_INVALID_REQUEST;
    }
}

BOOLEAN RamDiskHwStartIo(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    PRAMDISK_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    /* First, before anything that can wait: a reset that completes after
     * this read and before we hold the lock has completed this SRB. */
    LONG generation = adapterExtension->ResetGeneration;
    PVOID srb = Srb;
    STOR_LOCK_HANDLE lockHandle;
    BOOLEAN kick = FALSE;
    ULONG function;
    UCHAR status;

    RamDiskAcquireQueueLock(adapterExtension, &lockHandle);
    if (generation != adapterExtension->ResetGeneration) {
        RamDiskReleaseQueueLock(adapterExtension, &lockHandle);
        return TRUE;
    }
    function = SrbGetSrbFunction(srb);
    if (function != SRB_FUNCTION_EXECUTE_SCSI) {
        SrbSetSrbStatus(srb, RamDiskOtherFunction(adapterExtension, function));
    } else if (adapterExtension->Stopped) {
        /* The port holds I/O while the adapter is stopped; be safe. */
        SrbSetSrbStatus(srb, SRB_STATUS_NOT_POWERED);
    } else if ((status = RamDiskCheckAddress(adapterExtension, srb)) !=
               SRB_STATUS_SUCCESS) {
        SrbSetSrbStatus(srb, status);
    } else if (adapterExtension->CompletionMode != RamDiskCompleteInline &&
               SrbGetMiniportContext(srb) != NULL) {
        RamDiskEnqueueLocked(adapterExtension, srb);
        kick = TRUE;
    } else {
        RamDiskExecuteScsi(adapterExtension, srb);
    }
    if (!kick) {
        InterlockedIncrement(&adapterExtension->Stats.InlineCompletions);
        StorPortNotification(RequestComplete, adapterExtension, srb);
    }
    RamDiskReleaseQueueLock(adapterExtension, &lockHandle);
    if (kick) {
        RamDiskKickQueue(adapterExtension);
    }
    return TRUE;
}
