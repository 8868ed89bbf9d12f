/* SPDX-License-Identifier: MIT */
/*
 * vioscsi: driver entry and adapter bring-up.
 *
 * VioScsiHwFindAdapter identifies the function (1AF4:1048, a modern
 * virtio SCSI host), walks its PCI capabilities through StorPortGetBusData
 * (virtio 4.1.4: the vendor-specific common, notify, ISR and device
 * configuration structures with their BAR and offset; the MSI-X
 * capability for the table size), maps the BARs from the access ranges,
 * reads the device configuration (5.6.4) and the queue sizes, and takes
 * one uncached extension for every ring, TMF and event buffer.
 * VioScsiHwInitialize picks the interrupt layout (MSI-X per queue, MSI-X
 * shared, or INTx), asks for concurrent channels and runs the device
 * initialization. VioScsiHwAdapterControl answers the supported-type
 * query and hands stop and restart to power.c.
 *
 * Parameters ("-miniport virtio-scsi,param.KEY=VALUE", all optional):
 *   srb=storage|scsi          SRB kind asked of the port (storage)
 *   event_idx=on|off          negotiate VIRTIO_F_EVENT_IDX if offered (on)
 *   interrupts=per-queue|shared
 *                             MSI-X layout: one message per queue, or all
 *                             queues on message 0 (per-queue)
 *   targets=N                 scan at most N targets, 1..255 (all the
 *                             device has, up to 255)
 */
#include "vioscsi.h"

/* ---- parameters ---- */

static BOOLEAN VioScsiParameterIs(PCSTR Value, PCSTR Expected)
{
    for (; *Value != '\0' && *Expected != '\0'; Value++, Expected++) {
        CHAR c = *Value;

        if (c >= 'A' && c <= 'Z') {
            c = (CHAR)(c - 'A' + 'a');
        }
        if (c != *Expected) {
            return FALSE;
        }
    }
    return *Value == '\0' && *Expected == '\0';
}

/* Read parameter @Name as a string; FALSE when absent (or too long, which
 * is reported and fails the configuration through *Bad). */
static BOOLEAN VioScsiReadParameter(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                    PCSTR Name, PCHAR Value, PBOOLEAN Bad)
{
    ULONG size = VIOSCSI_MAX_PARAMETER + 1;
    ULONG length = size;
    BOOLEAN found = FALSE;
    PUCHAR buffer;
    ULONG i;

    buffer = StorPortAllocateRegistryBuffer(AdapterExtension, &length);
    if (buffer == NULL) {
        return FALSE;
    }
    RtlZeroMemory(buffer, length);
    if (StorPortRegistryRead(AdapterExtension, (PUCHAR)Name, 1, MINIPORT_REG_SZ,
                             buffer, &length)) {
        for (i = 0; i < VIOSCSI_MAX_PARAMETER && i < length && buffer[i] != 0;
             i++) {
            Value[i] = (CHAR)buffer[i];
        }
        Value[i] = '\0';
        found = TRUE;
    } else if (length > size) {
        StorPortDebugPrint(0, "vioscsi: parameter %s is too long\n", Name);
        *Bad = TRUE;
    }
    StorPortFreeRegistryBuffer(AdapterExtension, buffer);
    return found;
}

/* One two-valued parameter: *Result is TRUE for @IfTrue, FALSE for
 * @IfFalse, unchanged when absent. */
static BOOLEAN VioScsiChoice(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                             PCSTR Name, PCSTR IfTrue, PCSTR IfFalse,
                             PBOOLEAN Result)
{
    CHAR value[VIOSCSI_MAX_PARAMETER + 1];
    BOOLEAN bad = FALSE;

    if (!VioScsiReadParameter(AdapterExtension, Name, value, &bad)) {
        return !bad;
    }
    if (VioScsiParameterIs(value, IfTrue)) {
        *Result = TRUE;
    } else if (VioScsiParameterIs(value, IfFalse)) {
        *Result = FALSE;
    } else {
        StorPortDebugPrint(0,
                           "vioscsi: parameter %s='%s' is invalid (%s or %s)\n",
                           Name, value, IfTrue, IfFalse);
        return FALSE;
    }
    return TRUE;
}

/* A decimal number in [Min, Max] into *Result, unchanged when absent. */
static BOOLEAN VioScsiNumber(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                             PCSTR Name, ULONG Min, ULONG Max, PULONG Result)
{
    CHAR value[VIOSCSI_MAX_PARAMETER + 1];
    BOOLEAN bad = FALSE;
    ULONG number = 0;
    ULONG i;

    if (!VioScsiReadParameter(AdapterExtension, Name, value, &bad)) {
        return !bad;
    }
    for (i = 0; value[i] >= '0' && value[i] <= '9'; i++) {
        if (number > (Max - (ULONG)(value[i] - '0')) / 10) {
            number = Max + 1;
            break;
        }
        number = number * 10 + (ULONG)(value[i] - '0');
    }
    if (i == 0 || value[i] != '\0' || number < Min || number > Max) {
        StorPortDebugPrint(0,
                           "vioscsi: parameter %s='%s' is invalid (%lu..%lu)\n",
                           Name, value, (unsigned long)Min, (unsigned long)Max);
        return FALSE;
    }
    *Result = number;
    return TRUE;
}

static BOOLEAN
VioScsiReadParameters(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    BOOLEAN storage = TRUE;

    AdapterExtension->UseEventIdx = TRUE;
    AdapterExtension->ForceSharedMessage = FALSE;
    AdapterExtension->TargetLimit = VIOSCSI_MAX_TARGETS;
    if (!VioScsiChoice(AdapterExtension, "srb", "storage", "scsi", &storage) ||
        !VioScsiChoice(AdapterExtension, "event_idx", "on", "off",
                       &AdapterExtension->UseEventIdx) ||
        !VioScsiChoice(AdapterExtension, "interrupts", "shared", "per-queue",
                       &AdapterExtension->ForceSharedMessage) ||
        !VioScsiNumber(AdapterExtension, "targets", 1, VIOSCSI_MAX_TARGETS,
                       &AdapterExtension->TargetLimit)) {
        return FALSE;
    }
    AdapterExtension->SrbType =
        storage ? SRB_TYPE_STORAGE_REQUEST_BLOCK : SRB_TYPE_SCSI_REQUEST_BLOCK;
    return TRUE;
}

/* ---- PCI capabilities (4.1.4) ---- */

typedef struct _VIOSCSI_CAP {
    BOOLEAN Found;
    UCHAR Bar;
    ULONG Offset;
    ULONG Length;
} VIOSCSI_CAP, *PVIOSCSI_CAP;

typedef struct _VIOSCSI_PCI_CAPS {
    VIOSCSI_CAP Common;
    VIOSCSI_CAP Notify;
    VIOSCSI_CAP Isr;
    VIOSCSI_CAP Device;
    ULONG NotifyMultiplier;
    ULONG MsixTableSize;
} VIOSCSI_PCI_CAPS, *PVIOSCSI_PCI_CAPS;

static ULONG VioScsiConfig32(const UCHAR *Config, ULONG Offset)
{
    return (ULONG)Config[Offset] | ((ULONG)Config[Offset + 1] << 8) |
           ((ULONG)Config[Offset + 2] << 16) |
           ((ULONG)Config[Offset + 3] << 24);
}

/*
 * Walk the capability list of the 256-byte configuration header. Of each
 * virtio structure type the first usable capability counts (4.1.4: a
 * driver uses the first it can); a list that loops or leaves the header is
 * cut short rather than followed.
 */
static VOID VioScsiWalkCapabilities(const PCI_COMMON_CONFIG *Config,
                                    PVIOSCSI_PCI_CAPS Caps)
{
    const UCHAR *raw = (const UCHAR *)Config;
    UCHAR pointer;
    ULONG visited;

    RtlZeroMemory(Caps, sizeof(*Caps));
    if (!(Config->Status & PCI_STATUS_CAPABILITIES_LIST)) {
        return;
    }
    pointer = Config->u.type0.CapabilitiesPtr;
    for (visited = 0; visited < 48 && pointer >= PCI_COMMON_HDR_LENGTH;
         visited++) {
        UCHAR offset = (UCHAR)(pointer & ~3u);
        UCHAR id = raw[offset];
        PVIOSCSI_CAP cap = NULL;

        if (offset > sizeof(PCI_COMMON_CONFIG) - sizeof(VirtioPciCap)) {
            break;
        }
        if (id == PCI_CAPABILITY_ID_MSIX) {
            USHORT control = (USHORT)(raw[offset + 2] | (raw[offset + 3] << 8));
            Caps->MsixTableSize = (control & VIOSCSI_MSIX_TABLE_SIZE_MASK) + 1u;
        } else if (id == PCI_CAPABILITY_ID_VENDOR_SPECIFIC &&
                   raw[offset + 2] >= sizeof(VirtioPciCap) &&
                   raw[offset + VIRTIO_PCI_CAP_BAR] < PCI_TYPE0_ADDRESSES) {
            switch (raw[offset + VIRTIO_PCI_CAP_CFG_TYPE]) {
            case VIRTIO_PCI_CAP_COMMON_CFG:
                cap = &Caps->Common;
                break;
            case VIRTIO_PCI_CAP_NOTIFY_CFG:
                if (raw[offset + 2] >= sizeof(VirtioPciNotifyCap) &&
                    !Caps->Notify.Found) {
                    cap = &Caps->Notify;
                    Caps->NotifyMultiplier = VioScsiConfig32(
                        raw, offset + VIRTIO_PCI_NOTIFY_CAP_MULT);
                }
                break;
            case VIRTIO_PCI_CAP_ISR_CFG:
                cap = &Caps->Isr;
                break;
            case VIRTIO_PCI_CAP_DEVICE_CFG:
                cap = &Caps->Device;
                break;
            default:
                break; /* PCI_CFG window, shared memory, vendor: unused */
            }
            if (cap != NULL && !cap->Found) {
                cap->Found = TRUE;
                cap->Bar = raw[offset + VIRTIO_PCI_CAP_BAR];
                cap->Offset =
                    VioScsiConfig32(raw, offset + VIRTIO_PCI_CAP_OFFSET);
                cap->Length =
                    VioScsiConfig32(raw, offset + VIRTIO_PCI_CAP_LENGTH);
            }
        }
        pointer = raw[offset + 1];
    }
}

/*
 * The mapped address of a virtio structure: find the access range the
 * capability's BAR decodes (by the address in the BAR), map that range
 * once, and check the structure lies inside it with @MinLength bytes.
 */
static PUCHAR VioScsiMapStructure(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                  PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                                  const PCI_COMMON_CONFIG *Config,
                                  const VIOSCSI_CAP *Cap, ULONG MinLength,
                                  PCSTR Name)
{
    ULONG bar;
    ULONGLONG address;
    ULONG i;

    if (!Cap->Found || Cap->Length < MinLength) {
        StorPortDebugPrint(0, "vioscsi: no usable %s capability\n", Name);
        return NULL;
    }
    bar = Config->u.type0.BaseAddresses[Cap->Bar];
    if (bar & VIOSCSI_PCI_BAR_IO) {
        StorPortDebugPrint(0, "vioscsi: %s is in I/O space (unsupported)\n",
                           Name);
        return NULL;
    }
    address = bar & ~(ULONG)0xf;
    if ((bar & VIOSCSI_PCI_BAR_TYPE_MASK) == VIOSCSI_PCI_BAR_MEM64 &&
        Cap->Bar + 1 < PCI_TYPE0_ADDRESSES) {
        address |= (ULONGLONG)Config->u.type0.BaseAddresses[Cap->Bar + 1] << 32;
    }
    for (i = 0; i < ConfigInfo->NumberOfAccessRanges; i++) {
        PACCESS_RANGE range = &(*ConfigInfo->AccessRanges)[i];
        PUCHAR base;

        if (!range->RangeInMemory ||
            (ULONGLONG)range->RangeStart.QuadPart != address) {
            continue;
        }
        if (Cap->Offset > range->RangeLength ||
            range->RangeLength - Cap->Offset < MinLength) {
            break;
        }
        base = StorPortGetDeviceBase(
            AdapterExtension, ConfigInfo->AdapterInterfaceType,
            ConfigInfo->SystemIoBusNumber, range->RangeStart,
            range->RangeLength, FALSE);
        return base != NULL ? base + Cap->Offset : NULL;
    }
    StorPortDebugPrint(0, "vioscsi: %s (BAR %u) is in no access range\n", Name,
                       Cap->Bar);
    return NULL;
}

static ULONG VioScsiReadDevice32(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 ULONG Offset)
{
    return StorPortReadRegisterUlong(
        AdapterExtension, (PULONG)(AdapterExtension->DeviceCfg + Offset));
}

static USHORT VioScsiReadDevice16(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                  ULONG Offset)
{
    return StorPortReadRegisterUshort(
        AdapterExtension, (PUSHORT)(AdapterExtension->DeviceCfg + Offset));
}

/* The device configuration (5.6.4), read until config_generation says it
 * did not change under us (4.1.4.3.1). */
static VOID VioScsiReadDeviceConfig(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    PUCHAR generationRegister =
        AdapterExtension->CommonCfg + VIRTIO_PCI_COMMON_CFGGEN;
    UCHAR before;
    UCHAR after;
    ULONG tries = 0;

    do {
        before =
            StorPortReadRegisterUchar(AdapterExtension, generationRegister);
        AdapterExtension->DeviceQueues =
            VioScsiReadDevice32(AdapterExtension, VIRTIO_SCSI_CFG_NUM_QUEUES);
        AdapterExtension->SegMax =
            VioScsiReadDevice32(AdapterExtension, VIRTIO_SCSI_CFG_SEG_MAX);
        AdapterExtension->MaxSectors =
            VioScsiReadDevice32(AdapterExtension, VIRTIO_SCSI_CFG_MAX_SECTORS);
        AdapterExtension->CmdPerLun =
            VioScsiReadDevice32(AdapterExtension, VIRTIO_SCSI_CFG_CMD_PER_LUN);
        AdapterExtension->MaxTarget =
            VioScsiReadDevice16(AdapterExtension, VIRTIO_SCSI_CFG_MAX_TARGET);
        AdapterExtension->MaxLun =
            VioScsiReadDevice32(AdapterExtension, VIRTIO_SCSI_CFG_MAX_LUN);
        after = StorPortReadRegisterUchar(AdapterExtension, generationRegister);
    } while (before != after && ++tries < 8);
}

static USHORT VioScsiRoundDownPow2(ULONG Value)
{
    USHORT p = 1;

    while ((ULONG)p * 2 <= Value && p < 0x8000) {
        p = (USHORT)(p * 2);
    }
    return p;
}

/* Ask the device for each queue's maximum size and choose ours. */
static BOOLEAN VioScsiSizeQueues(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG count = VIOSCSI_FIRST_REQUEST + AdapterExtension->RequestQueues;
    ULONG i;

    for (i = 0; i < count; i++) {
        PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[i];
        ULONG want = i == VIOSCSI_CONTROL_QUEUE ? VIOSCSI_CONTROL_QUEUE_SIZE
                     : i == VIOSCSI_EVENT_QUEUE ? VIOSCSI_EVENT_QUEUE_SIZE
                                                : VIOSCSI_REQUEST_QUEUE_SIZE;
        USHORT max;

        StorPortWriteRegisterUshort(
            AdapterExtension,
            (PUSHORT)(AdapterExtension->CommonCfg + VIRTIO_PCI_COMMON_Q_SELECT),
            (USHORT)i);
        max = StorPortReadRegisterUshort(
            AdapterExtension,
            (PUSHORT)(AdapterExtension->CommonCfg + VIRTIO_PCI_COMMON_Q_SIZE));
        /* A control queue holds a TMF in two descriptors, a request needs
         * room for its header and response in the indirect table. */
        if (max < 2) {
            StorPortDebugPrint(0, "vioscsi: queue %lu has %u entries\n",
                               (unsigned long)i, max);
            return FALSE;
        }
        queue->Index = (USHORT)i;
        queue->Size = VioScsiRoundDownPow2(max < want ? max : want);
    }
    return TRUE;
}

ULONG VioScsiHwFindAdapter(PVOID DeviceExtension, PVOID HwContext,
                           PVOID BusInformation, PCHAR ArgumentString,
                           PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                           PBOOLEAN Again)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    PCI_COMMON_CONFIG config;
    VIOSCSI_PCI_CAPS caps;
    ULONG processors = 1;
    ULONG requestSize;
    ULONG length;
    ULONG tableMax;
    PVOID uncached;
    STOR_PHYSICAL_ADDRESS pa;

    UNREFERENCED_PARAMETER(HwContext);
    UNREFERENCED_PARAMETER(BusInformation);
    UNREFERENCED_PARAMETER(ArgumentString);

    if (Again != NULL) {
        *Again = FALSE;
    }
    RtlZeroMemory(&config, sizeof(config));
    if (StorPortGetBusData(adapterExtension, PCIConfiguration,
                           ConfigInfo->SystemIoBusNumber,
                           ConfigInfo->SlotNumber, &config,
                           sizeof(config)) < PCI_COMMON_HDR_LENGTH) {
        return SP_RETURN_NOT_FOUND;
    }
    if (config.VendorID != VIRTIO_PCI_VENDOR_ID ||
        config.DeviceID != VIRTIO_PCI_DEVICE_ID_SCSI) {
        return SP_RETURN_NOT_FOUND;
    }
    if (!VioScsiReadParameters(adapterExtension)) {
        return SP_RETURN_BAD_CONFIG;
    }

    VioScsiWalkCapabilities(&config, &caps);
    adapterExtension->CommonCfg =
        VioScsiMapStructure(adapterExtension, ConfigInfo, &config, &caps.Common,
                            VIRTIO_PCI_COMMON_Q_NDATA, "common configuration");
    adapterExtension->NotifyBase =
        VioScsiMapStructure(adapterExtension, ConfigInfo, &config, &caps.Notify,
                            sizeof(USHORT), "notification");
    adapterExtension->IsrStatus = VioScsiMapStructure(
        adapterExtension, ConfigInfo, &config, &caps.Isr, 1, "ISR status");
    adapterExtension->DeviceCfg =
        VioScsiMapStructure(adapterExtension, ConfigInfo, &config, &caps.Device,
                            VIRTIO_SCSI_CFG_SIZE, "device configuration");
    if (adapterExtension->CommonCfg == NULL ||
        adapterExtension->NotifyBase == NULL ||
        adapterExtension->IsrStatus == NULL ||
        adapterExtension->DeviceCfg == NULL) {
        return SP_RETURN_ERROR;
    }
    adapterExtension->NotifyMultiplier = caps.NotifyMultiplier;
    adapterExtension->NotifyLength = caps.Notify.Length;
    adapterExtension->MsixTableSize = caps.MsixTableSize;

    /* Reset, say hello, and read what the device is (3.1.1 steps 1-4);
     * HwStorInitialize runs the whole sequence again from the reset. */
    if (!VioScsiDeviceReset(adapterExtension)) {
        return SP_RETURN_ERROR;
    }
    StorPortWriteRegisterUchar(adapterExtension,
                               adapterExtension->CommonCfg +
                                   VIRTIO_PCI_COMMON_STATUS,
                               VIRTIO_STATUS_ACKNOWLEDGE);
    StorPortWriteRegisterUchar(
        adapterExtension,
        adapterExtension->CommonCfg + VIRTIO_PCI_COMMON_STATUS,
        VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    VioScsiReadDeviceConfig(adapterExtension);
    if (adapterExtension->DeviceQueues == 0) {
        StorPortDebugPrint(0, "vioscsi: the device has no request queue\n");
        return SP_RETURN_ERROR;
    }
    StorPortGetProcessorCount(adapterExtension, &processors);
    adapterExtension->RequestQueues = adapterExtension->DeviceQueues;
    if (adapterExtension->RequestQueues > processors) {
        adapterExtension->RequestQueues = processors;
    }
    if (adapterExtension->RequestQueues > VIOSCSI_MAX_REQUEST_QUEUES) {
        adapterExtension->RequestQueues = VIOSCSI_MAX_REQUEST_QUEUES;
    }
    if (!VioScsiSizeQueues(adapterExtension)) {
        return SP_RETURN_ERROR;
    }

    /* Transfer limits: our table, the device's seg_max, the ring (an
     * indirect table may not be longer than the queue) and max_sectors. */
    requestSize = adapterExtension->Queues[VIOSCSI_FIRST_REQUEST].Size;
    tableMax = requestSize >= 3 ? requestSize - 2 : 1;
    adapterExtension->MaxSg = VIOSCSI_MAX_SG;
    if (adapterExtension->SegMax != 0 &&
        adapterExtension->SegMax < adapterExtension->MaxSg) {
        adapterExtension->MaxSg = adapterExtension->SegMax;
    }
    if (tableMax < adapterExtension->MaxSg) {
        adapterExtension->MaxSg = tableMax;
    }
    adapterExtension->MaxTransfer =
        adapterExtension->MaxSg > 1
            ? (adapterExtension->MaxSg - 1) * VIOSCSI_PAGE_SIZE
            : VIOSCSI_PAGE_SIZE;
    if (adapterExtension->MaxSectors != 0 &&
        adapterExtension->MaxSectors < adapterExtension->MaxTransfer / 512) {
        adapterExtension->MaxTransfer = adapterExtension->MaxSectors * 512;
    }

    adapterExtension->UncachedSize = VioScsiUncachedSize(adapterExtension);
    uncached = StorPortGetUncachedExtension(adapterExtension, ConfigInfo,
                                            adapterExtension->UncachedSize);
    if (uncached == NULL) {
        StorPortDebugPrint(0, "vioscsi: no uncached extension (%lu bytes)\n",
                           (unsigned long)adapterExtension->UncachedSize);
        return SP_RETURN_ERROR;
    }
    length = 0;
    pa = StorPortGetPhysicalAddress(adapterExtension, NULL, uncached, &length);
    if (length < adapterExtension->UncachedSize) {
        StorPortDebugPrint(0, "vioscsi: the uncached extension is not "
                              "physically contiguous\n");
        return SP_RETURN_ERROR;
    }
    adapterExtension->Uncached = uncached;
    adapterExtension->UncachedPa = (ULONGLONG)pa.QuadPart;
    VioScsiLayoutQueues(adapterExtension);

    ConfigInfo->NumberOfBuses = 1;
    ConfigInfo->MaximumNumberOfTargets =
        (UCHAR)(adapterExtension->MaxTarget + 1 < adapterExtension->TargetLimit
                    ? adapterExtension->MaxTarget + 1
                    : adapterExtension->TargetLimit);
    ConfigInfo->MaximumNumberOfLogicalUnits =
        (UCHAR)(adapterExtension->MaxLun + 1 < VIOSCSI_MAX_LUNS
                    ? adapterExtension->MaxLun + 1
                    : VIOSCSI_MAX_LUNS);
    ConfigInfo->MaximumTransferLength = adapterExtension->MaxTransfer;
    ConfigInfo->NumberOfPhysicalBreaks = adapterExtension->MaxSg - 1;
    ConfigInfo->AlignmentMask = 0;
    ConfigInfo->ScatterGather = TRUE;
    ConfigInfo->Master = TRUE;
    ConfigInfo->CachesData = FALSE;
    ConfigInfo->Dma32BitAddresses = TRUE;
    ConfigInfo->Dma64BitAddresses = SCSI_DMA64_MINIPORT_FULL64BIT_SUPPORTED;
    ConfigInfo->MapBuffers = STOR_MAP_NON_READ_WRITE_BUFFERS;
    ConfigInfo->NeedPhysicalAddresses = TRUE;
    ConfigInfo->TaggedQueuing = TRUE;
    ConfigInfo->AutoRequestSense = TRUE;
    ConfigInfo->MultipleRequestPerLu = TRUE;
    ConfigInfo->ResetTargetSupported = TRUE;
    ConfigInfo->WmiDataProvider = FALSE;
    ConfigInfo->SynchronizationModel = StorSynchronizeFullDuplex;
    /* Set here so the port connects MSI-X; each message gets its own lock,
     * which is what the queue locks rely on. */
    ConfigInfo->HwMSInterruptRoutine = VioScsiHwMessageInterrupt;
    ConfigInfo->InterruptSynchronizationMode = InterruptSynchronizePerMessage;
    ConfigInfo->SrbType = adapterExtension->SrbType;
    ConfigInfo->AddressType = STOR_ADDRESS_TYPE_BTL8;
    if (adapterExtension->CmdPerLun != 0) {
        ULONG depth = adapterExtension->CmdPerLun;

        if (depth > requestSize) {
            depth = requestSize;
        }
        if (depth > VIOSCSI_MAX_DEPTH) {
            depth = VIOSCSI_MAX_DEPTH;
        }
        ConfigInfo->InitialLunQueueDepth = depth;
    }
    return SP_RETURN_FOUND;
}

/* ---- initialization ---- */

/*
 * Decide the interrupt layout from what the port connected: MSI-X with a
 * message per queue when there are enough, one shared message when not,
 * INTx when StorPortGetMSIInfo has nothing (msix=off, or no capability).
 */
static VOID VioScsiChooseInterrupts(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    MESSAGE_INTERRUPT_INFORMATION info;
    ULONG needed = VIOSCSI_MSG_FIRST_REQUEST + AdapterExtension->RequestQueues;
    ULONG count = 0;
    ULONG limit = AdapterExtension->MsixTableSize;
    ULONG i;

    if (limit == 0 || limit > VIOSCSI_MAX_MESSAGES) {
        limit = VIOSCSI_MAX_MESSAGES;
    }
    while (count < limit && StorPortGetMSIInfo(AdapterExtension, count,
                                               &info) == STOR_STATUS_SUCCESS) {
        count++;
    }
    AdapterExtension->MessageCount = count;
    if (count == 0) {
        AdapterExtension->InterruptMode = VioScsiInterruptLine;
    } else if (count >= needed && !AdapterExtension->ForceSharedMessage) {
        AdapterExtension->InterruptMode = VioScsiInterruptPerQueue;
    } else {
        AdapterExtension->InterruptMode = VioScsiInterruptShared;
        StorPortDebugPrint(0,
                           "vioscsi: %lu MSI-X message(s) for %lu queues: "
                           "every queue shares message 0\n",
                           (unsigned long)count, (unsigned long)needed - 1);
    }
    for (i = 0; i < VIOSCSI_FIRST_REQUEST + AdapterExtension->RequestQueues;
         i++) {
        PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[i];

        if (AdapterExtension->InterruptMode != VioScsiInterruptPerQueue) {
            queue->LockMessage = 0;
        } else if (i == VIOSCSI_CONTROL_QUEUE) {
            queue->LockMessage = VIOSCSI_MSG_CONTROL;
        } else if (i == VIOSCSI_EVENT_QUEUE) {
            queue->LockMessage = VIOSCSI_MSG_EVENT;
        } else {
            queue->LockMessage =
                VIOSCSI_MSG_FIRST_REQUEST + i - VIOSCSI_FIRST_REQUEST;
        }
    }
}

/* One channel per request queue: StartIo may run on every processor at
 * once, each on its own queue (HwStorInitialize is the place for this). */
static VOID VioScsiSetPerfOptions(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    PERF_CONFIGURATION_DATA perf;

    AdapterExtension->ConcurrentChannels = FALSE;
    RtlZeroMemory(&perf, sizeof(perf));
    perf.Version = STOR_PERF_VERSION;
    perf.Size = sizeof(perf);
    if (StorPortInitializePerfOpts(AdapterExtension, TRUE, &perf) !=
            STOR_STATUS_SUCCESS ||
        !(perf.Flags & STOR_PERF_CONCURRENT_CHANNELS)) {
        return;
    }
    perf.Flags = STOR_PERF_CONCURRENT_CHANNELS;
    perf.ConcurrentChannels = AdapterExtension->RequestQueues;
    if (StorPortInitializePerfOpts(AdapterExtension, FALSE, &perf) ==
        STOR_STATUS_SUCCESS) {
        AdapterExtension->ConcurrentChannels = TRUE;
    }
}

BOOLEAN VioScsiHwInitialize(PVOID DeviceExtension)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    VIOSCSI_ALL_LOCKS locks;
    BOOLEAN ok;
    ULONG i;

    if (!adapterExtension->DpcsInitialized) {
        for (i = 0; i < VIOSCSI_FIRST_REQUEST + adapterExtension->RequestQueues;
             i++) {
            PHW_DPC_ROUTINE routine =
                i == VIOSCSI_CONTROL_QUEUE ? VioScsiControlDpc
                : i == VIOSCSI_EVENT_QUEUE ? VioScsiEventDpc
                                           : VioScsiRequestDpc;

            StorPortInitializeDpc(adapterExtension,
                                  &adapterExtension->Queues[i].Dpc, routine);
        }
        StorPortInitializeDpc(adapterExtension, &adapterExtension->ConfigDpc,
                              VioScsiConfigDpc);
        adapterExtension->DpcsInitialized = TRUE;
    }
    VioScsiChooseInterrupts(adapterExtension);
    VioScsiSetPerfOptions(adapterExtension);

    /* The port holds the interrupt lock; nothing else runs yet, but the
     * queue locks are taken as everywhere the rings are reset. */
    VioScsiLockAll(adapterExtension, TRUE, &locks);
    adapterExtension->Stopped = FALSE;
    ok = VioScsiDeviceStart(adapterExtension);
    VioScsiUnlockAll(adapterExtension, &locks);
    StorPortDebugPrint(
        0,
        "vioscsi: %s: %lu request queue(s) of %u, %s, "
        "features 0x%llx\n",
        ok ? "started" : "failed to start",
        (unsigned long)adapterExtension->RequestQueues,
        adapterExtension->Queues[VIOSCSI_FIRST_REQUEST].Size,
        adapterExtension->InterruptMode == VioScsiInterruptLine ? "INTx"
        : adapterExtension->InterruptMode == VioScsiInterruptShared
            ? "one shared MSI-X message"
            : "MSI-X per queue",
        (unsigned long long)adapterExtension->DriverFeatures);
    return ok;
}

SCSI_ADAPTER_CONTROL_STATUS
VioScsiHwAdapterControl(PVOID DeviceExtension,
                        SCSI_ADAPTER_CONTROL_TYPE ControlType, PVOID Parameters)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;

    switch (ControlType) {
    case ScsiQuerySupportedControlTypes: {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST list = Parameters;
        static const SCSI_ADAPTER_CONTROL_TYPE supported[] = {
            ScsiQuerySupportedControlTypes,
            ScsiStopAdapter,
            ScsiRestartAdapter,
        };
        ULONG i;

        for (i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
            if ((ULONG)supported[i] < list->MaxControlType) {
                list->SupportedTypeList[supported[i]] = TRUE;
            }
        }
        return ScsiAdapterControlSuccess;
    }
    case ScsiStopAdapter:
        return VioScsiStopAdapter(adapterExtension);
    case ScsiRestartAdapter:
        return VioScsiRestartAdapter(adapterExtension);
    default:
        return ScsiAdapterControlUnsuccessful;
    }
}

ULONG DriverEntry(PVOID DriverObject, PVOID RegistryPath)
{
    HW_INITIALIZATION_DATA hwInitData;

    RtlZeroMemory(&hwInitData, sizeof(hwInitData));
    hwInitData.HwInitializationDataSize = sizeof(HW_INITIALIZATION_DATA);
    hwInitData.AdapterInterfaceType = PCIBus;

    hwInitData.HwInitialize = VioScsiHwInitialize;
    hwInitData.HwBuildIo = VioScsiHwBuildIo;
    hwInitData.HwStartIo = VioScsiHwStartIo;
    hwInitData.HwInterrupt = VioScsiHwInterrupt;
    hwInitData.HwFindAdapter = VioScsiHwFindAdapter;
    hwInitData.HwResetBus = VioScsiHwResetBus;
    hwInitData.HwAdapterControl = VioScsiHwAdapterControl;

    hwInitData.DeviceExtensionSize = sizeof(VIOSCSI_ADAPTER_EXTENSION);
    hwInitData.SpecificLuExtensionSize = 0;
    hwInitData.SrbExtensionSize = sizeof(VIOSCSI_SRB_EXTENSION);
    hwInitData.NumberOfAccessRanges = PCI_TYPE0_ADDRESSES;
    hwInitData.MapBuffers = STOR_MAP_NON_READ_WRITE_BUFFERS;
    hwInitData.NeedPhysicalAddresses = TRUE;
    hwInitData.TaggedQueuing = TRUE;
    hwInitData.AutoRequestSense = TRUE;
    hwInitData.MultipleRequestPerLu = TRUE;

    hwInitData.SrbTypeFlags =
        SRB_TYPE_FLAG_SCSI_REQUEST_BLOCK | SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK;
    hwInitData.AddressTypeFlags = ADDRESS_TYPE_FLAG_BTL8;

    return StorPortInitialize(DriverObject, RegistryPath, &hwInitData, NULL);
}
