/* SPDX-License-Identifier: MIT */
/*
 * ramdisk: driver entry and adapter bring-up. DriverEntry describes the
 * miniport to the port (a virtual miniport taking both SRB kinds);
 * RamDiskHwFindAdapter reads the parameters from the registry
 * (StorPortRegistryRead, storemu's "-miniport ramdisk,param.KEY=VALUE"),
 * allocates one pool block per logical unit and fills in
 * PORT_CONFIGURATION_INFORMATION; RamDiskHwInitialize sets up the DPC whose
 * lock guards the request queue; RamDiskHwAdapterControl answers the
 * supported-type query and hands stop/restart to power.c;
 * RamDiskHwFreeAdapterResources returns the pool at final removal.
 *
 * Parameters (all optional, strings):
 *   size=N[K|M|G]      bytes per unit, 64K..2G, rounded down to 512
 *   luns=N             logical units on target 0, 1..8
 *   completion=inline|dpc|workitem
 *   delay=US           work item mode: microseconds spent per request
 *   srb=storage|scsi   which SRB kind to ask of the port
 */
#include "ramdisk.h"

/* Case-insensitive compare of a NUL-terminated parameter with a literal. */
static BOOLEAN RamDiskParameterIs(PCSTR Value, PCSTR Expected)
{
    while (*Value != '\0' && *Expected != '\0') {
        CHAR a = *Value++;
        CHAR b = *Expected++;
        if (a >= 'A' && a <= 'Z') {
            a = (CHAR)(a - 'A' + 'a');
        }
        if (a != b) {
            return FALSE;
        }
    }
    return *Value == '\0' && *Expected == '\0';
}

/*
 * Parse a decimal (or 0x hexadecimal) number with an optional binary
 * suffix K, M or G. FALSE for anything else, including overflow.
 */
static BOOLEAN RamDiskParseNumber(PCSTR Text, PULONGLONG Value)
{
    ULONGLONG result = 0;
    ULONG base = 10;
    ULONG shift = 0;
    ULONG digits = 0;

    if (Text[0] == '0' && (Text[1] == 'x' || Text[1] == 'X')) {
        base = 16;
        Text += 2;
    }
    for (; *Text != '\0'; Text++) {
        ULONG digit;
        CHAR c = *Text;

        if (c >= '0' && c <= '9') {
            digit = (ULONG)(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = (ULONG)(c - 'a' + 10);
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            digit = (ULONG)(c - 'A' + 10);
        } else {
            break;
        }
        if (result > (MAXULONGLONG - digit) / base) {
            return FALSE;
        }
        result = result * base + digit;
        digits++;
    }
    if (digits == 0) {
        return FALSE;
    }
    switch (*Text) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return FALSE;
    }
    if (shift != 0) {
        if (Text[1] != '\0' || result > (MAXULONGLONG >> shift)) {
            return FALSE;
        }
        result <<= shift;
    }
    *Value = result;
    return TRUE;
}

typedef enum _RAMDISK_PARAMETER {
    RamDiskParameterAbsent,
    RamDiskParameterPresent,
    RamDiskParameterTooLong
} RAMDISK_PARAMETER;

/*
 * Read parameter @Name (Parameters\Device, every adapter) as a string
 * into @Value, RAMDISK_MAX_PARAMETER + 1 bytes.
 */
static RAMDISK_PARAMETER
RamDiskReadParameter(PRAMDISK_ADAPTER_EXTENSION AdapterExtension, PCSTR Name,
                     PCHAR Value)
{
    ULONG size = RAMDISK_MAX_PARAMETER + 1;
    ULONG length = size;
    RAMDISK_PARAMETER result = RamDiskParameterAbsent;
    PUCHAR buffer;

    buffer = StorPortAllocateRegistryBuffer(AdapterExtension, &length);
    if (buffer == NULL) {
        return RamDiskParameterAbsent;
    }
    RtlZeroMemory(buffer, length);
    if (StorPortRegistryRead(AdapterExtension, (PUCHAR)Name, 1, MINIPORT_REG_SZ,
                             buffer, &length)) {
        ULONG i;
        for (i = 0;
             i < RAMDISK_MAX_PARAMETER && i < length && buffer[i] != '\0';
             i++) {
            Value[i] = (CHAR)buffer[i];
        }
        Value[i] = '\0';
        result = RamDiskParameterPresent;
    } else if (length > size) {
        /* FALSE with the size it needs: the value is there, too long. */
        result = RamDiskParameterTooLong;
    }
    StorPortFreeRegistryBuffer(AdapterExtension, buffer);
    return result;
}

/* Read @Name; TRUE when present. A value too long to be valid fails the
 * whole configuration through *Bad. */
static BOOLEAN RamDiskGetParameter(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                                   PCSTR Name, PCHAR Value, PBOOLEAN Bad)
{
    switch (RamDiskReadParameter(AdapterExtension, Name, Value)) {
    case RamDiskParameterPresent:
        return TRUE;
    case RamDiskParameterTooLong:
        StorPortDebugPrint(0, "ramdisk: parameter %s is too long\n", Name);
        *Bad = TRUE;
        return FALSE;
    default:
        return FALSE;
    }
}

static VOID RamDiskReportBadParameter(PCSTR Name, PCSTR Value, PCSTR Expected)
{
    StorPortDebugPrint(0, "ramdisk: parameter %s='%s' is invalid (%s)\n", Name,
                       Value, Expected);
}

/* Fill the configuration fields of the extension; FALSE on a bad value. */
static BOOLEAN
RamDiskReadParameters(PRAMDISK_ADAPTER_EXTENSION AdapterExtension)
{
    CHAR value[RAMDISK_MAX_PARAMETER + 1];
    ULONGLONG number;
    BOOLEAN bad = FALSE;

    AdapterExtension->DiskBytes = RAMDISK_DEFAULT_DISK_BYTES;
    AdapterExtension->LunCount = 1;
    AdapterExtension->CompletionMode = RamDiskCompleteInline;
    AdapterExtension->DelayMicroseconds = 0;
    AdapterExtension->SrbType = SRB_TYPE_STORAGE_REQUEST_BLOCK;

    if (RamDiskGetParameter(AdapterExtension, "size", value, &bad)) {
        if (!RamDiskParseNumber(value, &number) ||
            number < RAMDISK_MIN_DISK_BYTES ||
            number > RAMDISK_MAX_DISK_BYTES) {
            RamDiskReportBadParameter("size", value, "64K..2G");
            return FALSE;
        }
        AdapterExtension->DiskBytes =
            number & ~(ULONGLONG)(RAMDISK_BLOCK_SIZE - 1);
    }
    if (RamDiskGetParameter(AdapterExtension, "luns", value, &bad)) {
        if (!RamDiskParseNumber(value, &number) || number < 1 ||
            number > RAMDISK_MAX_LUNS) {
            RamDiskReportBadParameter("luns", value, "1..8");
            return FALSE;
        }
        AdapterExtension->LunCount = (ULONG)number;
    }
    if (RamDiskGetParameter(AdapterExtension, "completion", value, &bad)) {
        if (RamDiskParameterIs(value, "inline")) {
            AdapterExtension->CompletionMode = RamDiskCompleteInline;
        } else if (RamDiskParameterIs(value, "dpc")) {
            AdapterExtension->CompletionMode = RamDiskCompleteDpc;
        } else if (RamDiskParameterIs(value, "workitem")) {
            AdapterExtension->CompletionMode = RamDiskCompleteWorkItem;
        } else {
            RamDiskReportBadParameter("completion", value,
                                      "inline, dpc or workitem");
            return FALSE;
        }
    }
    if (RamDiskGetParameter(AdapterExtension, "delay", value, &bad)) {
        if (!RamDiskParseNumber(value, &number) ||
            number > RAMDISK_MAX_DELAY_US) {
            RamDiskReportBadParameter("delay", value, "0..10000000 us");
            return FALSE;
        }
        AdapterExtension->DelayMicroseconds = (ULONG)number;
    }
    if (RamDiskGetParameter(AdapterExtension, "srb", value, &bad)) {
        if (RamDiskParameterIs(value, "storage")) {
            AdapterExtension->SrbType = SRB_TYPE_STORAGE_REQUEST_BLOCK;
        } else if (RamDiskParameterIs(value, "scsi")) {
            AdapterExtension->SrbType = SRB_TYPE_SCSI_REQUEST_BLOCK;
        } else {
            RamDiskReportBadParameter("srb", value, "storage or scsi");
            return FALSE;
        }
    }
    return !bad;
}

static VOID RamDiskFreeDisks(PRAMDISK_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG i;

    for (i = 0; i < RAMDISK_MAX_LUNS; i++) {
        PRAMDISK_LOGICAL_UNIT unit = &AdapterExtension->Units[i];
        if (unit->Data != NULL) {
            StorPortFreePool(AdapterExtension, unit->Data);
            unit->Data = NULL;
        }
        unit->BlockCount = 0;
    }
}

ULONG RamDiskHwFindAdapter(PVOID DeviceExtension, PVOID HwContext,
                           PVOID BusInformation, PVOID LowerDevice,
                           PCHAR ArgumentString,
                           PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                           PBOOLEAN Again)
{
    PRAMDISK_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    ULONG i;

    UNREFERENCED_PARAMETER(HwContext);
    UNREFERENCED_PARAMETER(BusInformation);
    UNREFERENCED_PARAMETER(LowerDevice);
    UNREFERENCED_PARAMETER(ArgumentString);

    if (Again != NULL) {
        *Again = FALSE;
    }
    /* A second find without a removal in between (a port that restarts
     * by re-initializing) keeps the disks, and so the data. */
    if (adapterExtension->Units[0].Data == NULL) {
        if (!RamDiskReadParameters(adapterExtension)) {
            return SP_RETURN_BAD_CONFIG;
        }
        for (i = 0; i < adapterExtension->LunCount; i++) {
            PRAMDISK_LOGICAL_UNIT unit = &adapterExtension->Units[i];
            PVOID data = NULL;
            ULONG status;

            status = StorPortAllocatePool(adapterExtension,
                                          (ULONG)adapterExtension->DiskBytes,
                                          RAMDISK_TAG_DISK, &data);
            if (status != STOR_STATUS_SUCCESS || data == NULL) {
                StorPortDebugPrint(
                    0,
                    "ramdisk: no pool for unit %lu "
                    "(%llu bytes)\n",
                    (unsigned long)i,
                    (unsigned long long)adapterExtension->DiskBytes);
                RamDiskFreeDisks(adapterExtension);
                return SP_RETURN_ERROR;
            }
            /* A fresh disk reads as zeros, which is also what VPD page
             * B2h promises for unmapped blocks (LBPRZ). */
            RtlZeroMemory(data, (SIZE_T)adapterExtension->DiskBytes);
            unit->Data = data;
            unit->BlockCount =
                adapterExtension->DiskBytes >> RAMDISK_BLOCK_SHIFT;
            unit->PowerState = StorPowerDeviceD0;
        }
        if (adapterExtension->CompletionMode == RamDiskCompleteWorkItem &&
            StorPortInitializeWorker(adapterExtension,
                                     &adapterExtension->Worker) !=
                STOR_STATUS_SUCCESS) {
            RamDiskFreeDisks(adapterExtension);
            return SP_RETURN_ERROR;
        }
    }

    ConfigInfo->VirtualDevice = TRUE;
    ConfigInfo->NumberOfBuses = 1;
    ConfigInfo->MaximumNumberOfTargets = 1;
    ConfigInfo->MaximumNumberOfLogicalUnits = (UCHAR)adapterExtension->LunCount;
    ConfigInfo->MaximumTransferLength = RAMDISK_MAX_TRANSFER;
    ConfigInfo->NumberOfPhysicalBreaks =
        RAMDISK_MAX_TRANSFER / RAMDISK_PAGE_SIZE + 1;
    ConfigInfo->AlignmentMask = 0;
    ConfigInfo->ScatterGather = TRUE;
    ConfigInfo->CachesData = FALSE;
    ConfigInfo->MapBuffers = STOR_MAP_ALL_BUFFERS_INCLUDING_READ_WRITE;
    ConfigInfo->SynchronizationModel = StorSynchronizeFullDuplex;
    ConfigInfo->WmiDataProvider = FALSE;
    ConfigInfo->SrbType = adapterExtension->SrbType;
    return SP_RETURN_FOUND;
}

BOOLEAN RamDiskHwInitialize(PVOID DeviceExtension)
{
    PRAMDISK_ADAPTER_EXTENSION adapterExtension = DeviceExtension;

    if (!adapterExtension->Initialized) {
        StorPortInitializeDpc(adapterExtension,
                              &adapterExtension->CompletionDpc,
                              RamDiskCompletionDpc);
        adapterExtension->Initialized = TRUE;
    }
    adapterExtension->Stopped = FALSE;
    return TRUE;
}

SCSI_ADAPTER_CONTROL_STATUS
RamDiskHwAdapterControl(PVOID DeviceExtension,
                        SCSI_ADAPTER_CONTROL_TYPE ControlType, PVOID Parameters)
{
    PRAMDISK_ADAPTER_EXTENSION adapterExtension = DeviceExtension;

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
        return RamDiskStopAdapter(adapterExtension);
    case ScsiRestartAdapter:
        return RamDiskRestartAdapter(adapterExtension);
    default:
        return ScsiAdapterControlUnsuccessful;
    }
}

/*
 * Final removal (virtual miniports only): after the last ScsiStopAdapter.
 * Everything FindAdapter allocated goes back here, not at stop, because a
 * stop for power keeps the disks for the restart.
 */
VOID RamDiskHwFreeAdapterResources(PVOID DeviceExtension)
{
    PRAMDISK_ADAPTER_EXTENSION adapterExtension = DeviceExtension;

    RamDiskFreeDisks(adapterExtension);
    if (adapterExtension->Worker != NULL) {
        /* BUSY means the item is still queued (it finds an empty queue
         * when it runs); the port reclaims workers at unload. */
        if (StorPortFreeWorker(adapterExtension, adapterExtension->Worker) ==
            STOR_STATUS_SUCCESS) {
            adapterExtension->Worker = NULL;
        }
    }
}

ULONG DriverEntry(PVOID DriverObject, PVOID RegistryPath)
{
    HW_INITIALIZATION_DATA hwInitData;

    RtlZeroMemory(&hwInitData, sizeof(hwInitData));
    hwInitData.HwInitializationDataSize = sizeof(HW_INITIALIZATION_DATA);
    hwInitData.AdapterInterfaceType = Internal;

    hwInitData.HwInitialize = RamDiskHwInitialize;
    hwInitData.HwStartIo = RamDiskHwStartIo;
    /* A virtual miniport's find-adapter routine has the extra LowerDevice
     * argument; the field keeps the physical routine's type. */
    hwInitData.HwFindAdapter = (PHW_FIND_ADAPTER)(PVOID)RamDiskHwFindAdapter;
    hwInitData.HwResetBus = RamDiskHwResetBus;
    hwInitData.HwAdapterControl = RamDiskHwAdapterControl;
    hwInitData.HwFreeAdapterResources = RamDiskHwFreeAdapterResources;
    hwInitData.HwUnitControl = RamDiskHwUnitControl;

    hwInitData.DeviceExtensionSize = sizeof(RAMDISK_ADAPTER_EXTENSION);
    hwInitData.SpecificLuExtensionSize = 0;
    hwInitData.SrbExtensionSize = sizeof(RAMDISK_SRB_EXTENSION);
    hwInitData.NumberOfAccessRanges = 0;
    hwInitData.MapBuffers = STOR_MAP_ALL_BUFFERS_INCLUDING_READ_WRITE;
    hwInitData.TaggedQueuing = TRUE;
    hwInitData.AutoRequestSense = TRUE;
    hwInitData.MultipleRequestPerLu = TRUE;

    hwInitData.FeatureSupport = STOR_FEATURE_VIRTUAL_MINIPORT;
    hwInitData.SrbTypeFlags =
        SRB_TYPE_FLAG_SCSI_REQUEST_BLOCK | SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK;
    hwInitData.AddressTypeFlags = ADDRESS_TYPE_FLAG_BTL8;

    return StorPortInitialize(DriverObject, RegistryPath, &hwInitData, NULL);
}
