/* SPDX-License-Identifier: MIT */
/*
 * The Windows DDI headers of port/include: LLP64 type sizes, Windows x64
 * structure sizes and field offsets, bit-field placement, constant values,
 * the base helpers (memory, lists, interlocked, byte order) and the
 * srbhelper accessors, which must read and write the same logical fields
 * of a SCSI_REQUEST_BLOCK and of an equivalent STORAGE_REQUEST_BLOCK.
 *
 * Expected sizes and offsets are the Windows x64 ones (sources listed in
 * docs/ddi-headers.md).  This binary needs no StorPort* implementation:
 * it uses declarations, types and inline helpers only.
 *
 * That each header compiles on its own cannot be shown inside one
 * translation unit; it is checked by compiling
 *     #include <HEADER>
 * alone with gcc and clang -fsyntax-only -Wall -Wextra -Werror for every
 * header of port/include (see docs/ddi-headers.md).  storport.h comes
 * first here, before any host header, to check that order too.
 */
#include <storport.h>
#include <ntddscsi.h>
#include <srbhelper.h>

#include <glib.h>

/* --- Sizes ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t actual;
    size_t expected;
} SizeCase;

#define SZ(type, expected)                                                     \
    {                                                                          \
#type, sizeof(type), (expected)                                        \
    }

static const SizeCase size_cases[] = {
    /* LLP64 basic types */
    SZ(CHAR, 1),
    SZ(UCHAR, 1),
    SZ(BOOLEAN, 1),
    SZ(KIRQL, 1),
    SZ(SHORT, 2),
    SZ(USHORT, 2),
    SZ(WCHAR, 2),
    SZ(LONG, 4),
    SZ(ULONG, 4),
    SZ(INT, 4),
    SZ(NTSTATUS, 4),
    SZ(DWORD, 4),
    SZ(LONGLONG, 8),
    SZ(ULONGLONG, 8),
    SZ(ULONG64, 8),
    SZ(LONG_PTR, 8),
    SZ(ULONG_PTR, 8),
    SZ(SIZE_T, 8),
    SZ(KAFFINITY, 8),
    SZ(PVOID, 8),
    SZ(LARGE_INTEGER, 8),
    SZ(PHYSICAL_ADDRESS, 8),
    SZ(STOR_PHYSICAL_ADDRESS, 8),
    SZ(GUID, 16),
    SZ(LIST_ENTRY, 16),
    SZ(UNICODE_STRING, 16),
    SZ(PROCESSOR_NUMBER, 4),
    SZ(GROUP_AFFINITY, 16),
    SZ(KDPC, 64),
    SZ(PCI_COMMON_CONFIG, 256),
    /* enums are 4 bytes, including those with 0xffffffff members */
    SZ(INTERFACE_TYPE, 4),
    SZ(SCSI_ADAPTER_CONTROL_TYPE, 4),
    SZ(SRBEXDATATYPE, 4),

    /* scsi.h wire formats */
    SZ(CDB, 16),
    SZ(SENSE_DATA, 18),
    SZ(INQUIRYDATA, 104),
    SZ(READ_CAPACITY_DATA, 8),
    SZ(READ_CAPACITY_DATA_EX, 12),
    SZ(READ_CAPACITY16_DATA, 32),
    SZ(MODE_PARAMETER_HEADER, 4),
    SZ(MODE_PARAMETER_HEADER10, 8),
    SZ(MODE_PARAMETER_BLOCK, 8),
    SZ(MODE_CACHING_PAGE, 12),
    SZ(LUN_LIST, 8),
    SZ(UNMAP_LIST_HEADER, 8),
    SZ(UNMAP_BLOCK_DESCRIPTOR, 16),
    SZ(VPD_SUPPORTED_PAGES_PAGE, 4),
    SZ(VPD_SERIAL_NUMBER_PAGE, 4),
    SZ(VPD_IDENTIFICATION_PAGE, 4),
    SZ(VPD_IDENTIFICATION_DESCRIPTOR, 4),
    SZ(VPD_BLOCK_LIMITS_PAGE, 64),
    SZ(VPD_BLOCK_DEVICE_CHARACTERISTICS_PAGE, 64),
    SZ(VPD_LOGICAL_BLOCK_PROVISIONING_PAGE, 8),
    SZ(VPD_ATA_INFORMATION_PAGE, 572),
    SZ(STOR_ADDRESS, 16),
    SZ(STOR_ADDR_BTL8, 16),

    /* srb.h */
    SZ(SCSI_REQUEST_BLOCK, 88),
    SZ(SCSI_WMI_REQUEST_BLOCK, 88),
    SZ(SCSI_POWER_REQUEST_BLOCK, 88),
    SZ(SCSI_PNP_REQUEST_BLOCK, 88),
    SZ(STORAGE_REQUEST_BLOCK, 128),
    SZ(SRBEX_DATA_BIDIRECTIONAL, 24),
    SZ(SRBEX_DATA_SCSI_CDB16, 40),
    SZ(SRBEX_DATA_SCSI_CDB32, 56),
    SZ(SRBEX_DATA_SCSI_CDB_VAR, 40),
    SZ(SRBEX_DATA_WMI, 24),
    SZ(SRBEX_DATA_POWER, 24),
    SZ(SRBEX_DATA_PNP, 24),
    SZ(SRBEX_DATA_IO_INFO, 32),
    SZ(STOR_DEVICE_CAPABILITIES, 8),
    SZ(STOR_DEVICE_CAPABILITIES_EX, 24),

    /* storport.h */
    SZ(ACCESS_RANGE, 16),
    SZ(MEMORY_REGION, 24),
    SZ(MESSAGE_INTERRUPT_INFORMATION, 32),
    SZ(PORT_CONFIGURATION_INFORMATION, 224),
    SZ(HW_INITIALIZATION_DATA, 208),
    SZ(VIRTUAL_HW_INITIALIZATION_DATA, 176),
    SZ(STOR_SCATTER_GATHER_ELEMENT, 24),
    SZ(STOR_SCATTER_GATHER_LIST, 16),
    SZ(SCSI_SUPPORTED_CONTROL_TYPE_LIST, 4),
    SZ(STOR_POWER_CONTROL_HEADER, 16),
    SZ(STOR_ADAPTER_CONTROL_POWER, 24),
    SZ(STOR_UNIT_CONTROL_POWER, 16),
    SZ(STOR_DPC, 72),
    SZ(STOR_LOCK_HANDLE, 32),
    SZ(STOR_LIST_ENTRY, 16),
    SZ(STOR_SLIST_ENTRY, 16),
    SZ(STOR_SLIST_HEADER, 16),
    SZ(STOR_EVENT, 24),
    SZ(PERF_CONFIGURATION_DATA, 40),
    SZ(STARTIO_PERFORMANCE_PARAMETERS, 16),
    SZ(STOR_REQUEST_INFO_V1, 24),
    SZ(STOR_REQUEST_INFO_V2, 40),
    SZ(STOR_UNIT_ATTRIBUTES, 4),
    SZ(MINIPORT_DUMP_POINTERS, 112),
    SZ(STOR_LOG_EVENT_DETAILS, 72),
    SZ(STORPORT_TELEMETRY_EVENT, 384),
    SZ(STOR_POFX_COMPONENT_IDLE_STATE, 32),
    SZ(STOR_POFX_COMPONENT, 64),
    SZ(STOR_POFX_DEVICE, 80),
    SZ(SRB_IO_CONTROL, 28),
};

static void test_sizes(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(size_cases); i++) {
        const SizeCase *c = &size_cases[i];

        if (c->actual != c->expected) {
            g_test_message("sizeof(%s) = %zu, expected %zu", c->name, c->actual,
                           c->expected);
        }
        g_assert_cmpuint(c->actual, ==, c->expected);
    }
}

/* Alignments the kit imposes with DECLSPEC_ALIGN. */
static void test_alignments(void)
{
    g_assert_cmpuint(_Alignof(STORAGE_REQUEST_BLOCK), ==, 8);
    g_assert_cmpuint(_Alignof(SRBEX_DATA_SCSI_CDB16), ==, 8);
    g_assert_cmpuint(_Alignof(SRBEX_DATA_POWER), ==, 8);
    g_assert_cmpuint(_Alignof(STOR_ADDR_BTL8), ==, 8);
    g_assert_cmpuint(_Alignof(STOR_SLIST_HEADER), ==, 16);
    g_assert_cmpuint(_Alignof(STOR_SLIST_ENTRY), ==, 16);
    /* wire formats are byte-packed */
    g_assert_cmpuint(_Alignof(CDB), ==, 1);
    g_assert_cmpuint(_Alignof(READ_CAPACITY_DATA_EX), ==, 1);
    g_assert_cmpuint(_Alignof(INQUIRYDATA), ==, 1);
}

/* --- Field offsets -------------------------------------------------------- */

#define OFF(type, field, expected)                                             \
    {                                                                          \
#type "." #field, offsetof(type, field), (expected)                    \
    }

static const SizeCase offset_cases[] = {
    OFF(SCSI_REQUEST_BLOCK, Length, 0),
    OFF(SCSI_REQUEST_BLOCK, Function, 2),
    OFF(SCSI_REQUEST_BLOCK, SrbStatus, 3),
    OFF(SCSI_REQUEST_BLOCK, ScsiStatus, 4),
    OFF(SCSI_REQUEST_BLOCK, PathId, 5),
    OFF(SCSI_REQUEST_BLOCK, TargetId, 6),
    OFF(SCSI_REQUEST_BLOCK, Lun, 7),
    OFF(SCSI_REQUEST_BLOCK, QueueTag, 8),
    OFF(SCSI_REQUEST_BLOCK, QueueAction, 9),
    OFF(SCSI_REQUEST_BLOCK, CdbLength, 10),
    OFF(SCSI_REQUEST_BLOCK, SenseInfoBufferLength, 11),
    OFF(SCSI_REQUEST_BLOCK, SrbFlags, 12),
    OFF(SCSI_REQUEST_BLOCK, DataTransferLength, 16),
    OFF(SCSI_REQUEST_BLOCK, TimeOutValue, 20),
    OFF(SCSI_REQUEST_BLOCK, DataBuffer, 24),
    OFF(SCSI_REQUEST_BLOCK, SenseInfoBuffer, 32),
    OFF(SCSI_REQUEST_BLOCK, NextSrb, 40),
    OFF(SCSI_REQUEST_BLOCK, OriginalRequest, 48),
    OFF(SCSI_REQUEST_BLOCK, SrbExtension, 56),
    OFF(SCSI_REQUEST_BLOCK, InternalStatus, 64),
    OFF(SCSI_REQUEST_BLOCK, QueueSortKey, 64),
    OFF(SCSI_REQUEST_BLOCK, LinkTimeoutValue, 64),
    OFF(SCSI_REQUEST_BLOCK, Reserved, 68),
    OFF(SCSI_REQUEST_BLOCK, Cdb, 72),

    OFF(SCSI_POWER_REQUEST_BLOCK, DevicePowerState, 8),
    OFF(SCSI_POWER_REQUEST_BLOCK, PowerAction, 64),
    OFF(SCSI_POWER_REQUEST_BLOCK, Reserved5, 72),
    OFF(SCSI_PNP_REQUEST_BLOCK, PnPAction, 8),
    OFF(SCSI_PNP_REQUEST_BLOCK, SrbPnPFlags, 64),
    OFF(SCSI_WMI_REQUEST_BLOCK, WMIFlags, 9),
    OFF(SCSI_WMI_REQUEST_BLOCK, DataPath, 32),
    OFF(SCSI_WMI_REQUEST_BLOCK, Reserved5, 72),

    OFF(STORAGE_REQUEST_BLOCK, Length, 0x00),
    OFF(STORAGE_REQUEST_BLOCK, Function, 0x02),
    OFF(STORAGE_REQUEST_BLOCK, SrbStatus, 0x03),
    OFF(STORAGE_REQUEST_BLOCK, ReservedUlong1, 0x04),
    OFF(STORAGE_REQUEST_BLOCK, Signature, 0x08),
    OFF(STORAGE_REQUEST_BLOCK, Version, 0x0c),
    OFF(STORAGE_REQUEST_BLOCK, SrbLength, 0x10),
    OFF(STORAGE_REQUEST_BLOCK, SrbFunction, 0x14),
    OFF(STORAGE_REQUEST_BLOCK, SrbFlags, 0x18),
    OFF(STORAGE_REQUEST_BLOCK, ReservedUlong2, 0x1c),
    OFF(STORAGE_REQUEST_BLOCK, RequestTag, 0x20),
    OFF(STORAGE_REQUEST_BLOCK, RequestPriority, 0x24),
    OFF(STORAGE_REQUEST_BLOCK, RequestAttribute, 0x26),
    OFF(STORAGE_REQUEST_BLOCK, TimeOutValue, 0x28),
    OFF(STORAGE_REQUEST_BLOCK, SystemStatus, 0x2c),
    OFF(STORAGE_REQUEST_BLOCK, ZeroGuard1, 0x30),
    OFF(STORAGE_REQUEST_BLOCK, AddressOffset, 0x34),
    OFF(STORAGE_REQUEST_BLOCK, NumSrbExData, 0x38),
    OFF(STORAGE_REQUEST_BLOCK, DataTransferLength, 0x3c),
    OFF(STORAGE_REQUEST_BLOCK, DataBuffer, 0x40),
    OFF(STORAGE_REQUEST_BLOCK, ZeroGuard2, 0x48),
    OFF(STORAGE_REQUEST_BLOCK, OriginalRequest, 0x50),
    OFF(STORAGE_REQUEST_BLOCK, ClassContext, 0x58),
    OFF(STORAGE_REQUEST_BLOCK, PortContext, 0x60),
    OFF(STORAGE_REQUEST_BLOCK, MiniportContext, 0x68),
    OFF(STORAGE_REQUEST_BLOCK, NextSrb, 0x70),
    OFF(STORAGE_REQUEST_BLOCK, SrbExDataOffset, 0x78),

    OFF(SRBEX_DATA, Data, 8),
    OFF(SRBEX_DATA_SCSI_CDB16, Type, 0),
    OFF(SRBEX_DATA_SCSI_CDB16, Length, 4),
    OFF(SRBEX_DATA_SCSI_CDB16, ScsiStatus, 8),
    OFF(SRBEX_DATA_SCSI_CDB16, SenseInfoBufferLength, 9),
    OFF(SRBEX_DATA_SCSI_CDB16, CdbLength, 10),
    OFF(SRBEX_DATA_SCSI_CDB16, Reserved1, 12),
    OFF(SRBEX_DATA_SCSI_CDB16, SenseInfoBuffer, 16),
    OFF(SRBEX_DATA_SCSI_CDB16, Cdb, 24),
    OFF(SRBEX_DATA_SCSI_CDB32, Cdb, 24),
    OFF(SRBEX_DATA_SCSI_CDB_VAR, CdbLength, 12),
    OFF(SRBEX_DATA_SCSI_CDB_VAR, SenseInfoBuffer, 24),
    OFF(SRBEX_DATA_SCSI_CDB_VAR, Cdb, 32),
    OFF(SRBEX_DATA_WMI, DataPath, 16),
    OFF(SRBEX_DATA_POWER, DevicePowerState, 12),
    OFF(SRBEX_DATA_POWER, PowerAction, 16),
    OFF(SRBEX_DATA_PNP, PnPAction, 12),
    OFF(SRBEX_DATA_PNP, SrbPnPFlags, 16),
    OFF(SRBEX_DATA_IO_INFO, IsWriteRequest, 20),
    OFF(SRBEX_DATA_BIDIRECTIONAL, DataInBuffer, 16),

    OFF(STOR_ADDRESS, Port, 2),
    OFF(STOR_ADDRESS, AddressLength, 4),
    OFF(STOR_ADDRESS, AddressData, 8),
    OFF(STOR_ADDR_BTL8, Path, 8),
    OFF(STOR_ADDR_BTL8, Target, 9),
    OFF(STOR_ADDR_BTL8, Lun, 10),

    OFF(INQUIRYDATA, AdditionalLength, 4),
    OFF(INQUIRYDATA, VendorId, 8),
    OFF(INQUIRYDATA, ProductId, 16),
    OFF(INQUIRYDATA, ProductRevisionLevel, 32),
    OFF(INQUIRYDATA, VendorSpecific, 36),
    OFF(INQUIRYDATA, VersionDescriptors, 58),
    OFF(INQUIRYDATA, Reserved4, 74),
    OFF(SENSE_DATA, Information, 3),
    OFF(SENSE_DATA, AdditionalSenseLength, 7),
    OFF(SENSE_DATA, AdditionalSenseCode, 12),
    OFF(SENSE_DATA, AdditionalSenseCodeQualifier, 13),
    OFF(SENSE_DATA, SenseKeySpecific, 15),
    OFF(DESCRIPTOR_SENSE_DATA, AdditionalSenseLength, 7),
    OFF(DESCRIPTOR_SENSE_DATA, DescriptorBuffer, 8),
    OFF(READ_CAPACITY_DATA_EX, BytesPerBlock, 8),
    OFF(READ_CAPACITY16_DATA, LowestAlignedBlock_LSB, 15),
    OFF(CDB, CDB10.LogicalBlockByte0, 2),
    OFF(CDB, CDB10.TransferBlocksMsb, 7),
    OFF(CDB, CDB10.Control, 9),
    OFF(CDB, CDB16.LogicalBlock, 2),
    OFF(CDB, CDB16.TransferLength, 10),
    OFF(CDB, CDB16.Control, 15),
    OFF(CDB, CDB12.TransferLength, 6),
    OFF(CDB, READ_CAPACITY16.AllocationLength, 10),
    OFF(CDB, REPORT_LUNS.AllocationLength, 6),
    OFF(CDB, MODE_SENSE10.AllocationLength, 7),
    OFF(CDB, UNMAP.AllocationLength, 7),
    OFF(VPD_BLOCK_LIMITS_PAGE, MaximumTransferLength, 8),
    OFF(VPD_BLOCK_LIMITS_PAGE, MaximumUnmapLBACount, 20),
    OFF(VPD_BLOCK_LIMITS_PAGE, OptimalUnmapGranularity, 28),
    OFF(VPD_BLOCK_LIMITS_PAGE, UnmapGranularityAlignment, 32),
    OFF(UNMAP_LIST_HEADER, Descriptors, 8),
    OFF(LUN_LIST, Lun, 8),

    OFF(ACCESS_RANGE, RangeLength, 8),
    OFF(ACCESS_RANGE, RangeInMemory, 12),
    OFF(MEMORY_REGION, PhysicalBase, 8),
    OFF(MEMORY_REGION, Length, 16),
    OFF(MESSAGE_INTERRUPT_INFORMATION, MessageData, 4),
    OFF(MESSAGE_INTERRUPT_INFORMATION, MessageAddress, 8),
    OFF(MESSAGE_INTERRUPT_INFORMATION, InterruptVector, 16),
    OFF(MESSAGE_INTERRUPT_INFORMATION, InterruptLevel, 20),
    OFF(MESSAGE_INTERRUPT_INFORMATION, InterruptMode, 24),
    OFF(STOR_SCATTER_GATHER_ELEMENT, Length, 8),
    OFF(STOR_SCATTER_GATHER_ELEMENT, Reserved, 16),
    OFF(STOR_SCATTER_GATHER_LIST, Reserved, 8),
    OFF(STOR_SCATTER_GATHER_LIST, List, 16),
    OFF(SCSI_SUPPORTED_CONTROL_TYPE_LIST, SupportedTypeList, 4),
    OFF(STOR_ADAPTER_CONTROL_POWER, PowerAction, 16),
    OFF(STOR_ADAPTER_CONTROL_POWER, PowerState, 20),
    OFF(STOR_LOCK_HANDLE, Context, 8),
    OFF(STOR_LOCK_HANDLE, Context.OldIrql, 24),
    OFF(STOR_DPC, Lock, 64),
    OFF(KDPC, DpcListEntry, 8),
    OFF(KDPC, DeferredRoutine, 24),
    OFF(KDPC, DpcData, 56),
    OFF(PERF_CONFIGURATION_DATA, DeviceNode, 24),
    OFF(PERF_CONFIGURATION_DATA, MessageTargets, 32),
    OFF(STOR_DEVICE_CAPABILITIES_EX, Address, 8),
    OFF(STOR_DEVICE_CAPABILITIES_EX, UINumber, 12),
    OFF(STORPORT_TELEMETRY_EVENT, EventName, 8),
    OFF(STORPORT_TELEMETRY_EVENT, EventBufferLength, 48),
    OFF(STORPORT_TELEMETRY_EVENT, EventBuffer, 56),
    OFF(STORPORT_TELEMETRY_EVENT, ParameterName0, 64),
    OFF(STORPORT_TELEMETRY_EVENT, ParameterValue0, 96),
    OFF(STORPORT_TELEMETRY_EVENT, ParameterValue7, 376),
    OFF(MINIPORT_DUMP_POINTERS, AdapterObject, 40),
    OFF(MINIPORT_DUMP_POINTERS, AccessRanges, 96),
    OFF(UNICODE_STRING, Buffer, 8),
    OFF(GROUP_AFFINITY, Group, 8),
    OFF(PCI_COMMON_CONFIG, u.type0.BaseAddresses, 16),
    OFF(PCI_COMMON_CONFIG, u.type0.SubVendorID, 44),
    OFF(PCI_COMMON_CONFIG, u.type0.CapabilitiesPtr, 52),
    OFF(PCI_COMMON_CONFIG, u.type0.InterruptLine, 60),
    OFF(PCI_COMMON_CONFIG, DeviceSpecific, 64),
    OFF(SRB_IO_CONTROL, Signature, 4),
    OFF(SRB_IO_CONTROL, Length, 24),

    /* Windows x64 offsets of PORT_CONFIGURATION_INFORMATION */
    OFF(PORT_CONFIGURATION_INFORMATION, Length, 0x00),
    OFF(PORT_CONFIGURATION_INFORMATION, SystemIoBusNumber, 0x04),
    OFF(PORT_CONFIGURATION_INFORMATION, AdapterInterfaceType, 0x08),
    OFF(PORT_CONFIGURATION_INFORMATION, BusInterruptLevel, 0x0c),
    OFF(PORT_CONFIGURATION_INFORMATION, BusInterruptVector, 0x10),
    OFF(PORT_CONFIGURATION_INFORMATION, InterruptMode, 0x14),
    OFF(PORT_CONFIGURATION_INFORMATION, MaximumTransferLength, 0x18),
    OFF(PORT_CONFIGURATION_INFORMATION, NumberOfPhysicalBreaks, 0x1c),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaChannel, 0x20),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaPort, 0x24),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaWidth, 0x28),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaSpeed, 0x2c),
    OFF(PORT_CONFIGURATION_INFORMATION, AlignmentMask, 0x30),
    OFF(PORT_CONFIGURATION_INFORMATION, NumberOfAccessRanges, 0x34),
    OFF(PORT_CONFIGURATION_INFORMATION, AccessRanges, 0x38),
    OFF(PORT_CONFIGURATION_INFORMATION, MiniportDumpData, 0x40),
    OFF(PORT_CONFIGURATION_INFORMATION, NumberOfBuses, 0x48),
    OFF(PORT_CONFIGURATION_INFORMATION, InitiatorBusId, 0x49),
    OFF(PORT_CONFIGURATION_INFORMATION, ScatterGather, 0x51),
    OFF(PORT_CONFIGURATION_INFORMATION, Master, 0x52),
    OFF(PORT_CONFIGURATION_INFORMATION, CachesData, 0x53),
    OFF(PORT_CONFIGURATION_INFORMATION, AdapterScansDown, 0x54),
    OFF(PORT_CONFIGURATION_INFORMATION, AtdiskPrimaryClaimed, 0x55),
    OFF(PORT_CONFIGURATION_INFORMATION, AtdiskSecondaryClaimed, 0x56),
    OFF(PORT_CONFIGURATION_INFORMATION, Dma32BitAddresses, 0x57),
    OFF(PORT_CONFIGURATION_INFORMATION, DemandMode, 0x58),
    OFF(PORT_CONFIGURATION_INFORMATION, MapBuffers, 0x59),
    OFF(PORT_CONFIGURATION_INFORMATION, NeedPhysicalAddresses, 0x5a),
    OFF(PORT_CONFIGURATION_INFORMATION, TaggedQueuing, 0x5b),
    OFF(PORT_CONFIGURATION_INFORMATION, AutoRequestSense, 0x5c),
    OFF(PORT_CONFIGURATION_INFORMATION, MultipleRequestPerLu, 0x5d),
    OFF(PORT_CONFIGURATION_INFORMATION, ReceiveEvent, 0x5e),
    OFF(PORT_CONFIGURATION_INFORMATION, RealModeInitialized, 0x5f),
    OFF(PORT_CONFIGURATION_INFORMATION, BufferAccessScsiPortControlled, 0x60),
    OFF(PORT_CONFIGURATION_INFORMATION, MaximumNumberOfTargets, 0x61),
    OFF(PORT_CONFIGURATION_INFORMATION, SrbType, 0x62),
    OFF(PORT_CONFIGURATION_INFORMATION, AddressType, 0x63),
    OFF(PORT_CONFIGURATION_INFORMATION, SlotNumber, 0x64),
    OFF(PORT_CONFIGURATION_INFORMATION, BusInterruptLevel2, 0x68),
    OFF(PORT_CONFIGURATION_INFORMATION, BusInterruptVector2, 0x6c),
    OFF(PORT_CONFIGURATION_INFORMATION, InterruptMode2, 0x70),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaChannel2, 0x74),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaPort2, 0x78),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaWidth2, 0x7c),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaSpeed2, 0x80),
    OFF(PORT_CONFIGURATION_INFORMATION, DeviceExtensionSize, 0x84),
    OFF(PORT_CONFIGURATION_INFORMATION, SpecificLuExtensionSize, 0x88),
    OFF(PORT_CONFIGURATION_INFORMATION, SrbExtensionSize, 0x8c),
    OFF(PORT_CONFIGURATION_INFORMATION, Dma64BitAddresses, 0x90),
    OFF(PORT_CONFIGURATION_INFORMATION, ResetTargetSupported, 0x91),
    OFF(PORT_CONFIGURATION_INFORMATION, MaximumNumberOfLogicalUnits, 0x92),
    OFF(PORT_CONFIGURATION_INFORMATION, WmiDataProvider, 0x93),
    OFF(PORT_CONFIGURATION_INFORMATION, SynchronizationModel, 0x94),
    OFF(PORT_CONFIGURATION_INFORMATION, HwMSInterruptRoutine, 0x98),
    OFF(PORT_CONFIGURATION_INFORMATION, InterruptSynchronizationMode, 0xa0),
    OFF(PORT_CONFIGURATION_INFORMATION, DumpRegion, 0xa8),
    OFF(PORT_CONFIGURATION_INFORMATION, RequestedDumpBufferSize, 0xc0),
    OFF(PORT_CONFIGURATION_INFORMATION, VirtualDevice, 0xc4),
    OFF(PORT_CONFIGURATION_INFORMATION, DumpMode, 0xc5),
    OFF(PORT_CONFIGURATION_INFORMATION, DmaAddressWidth, 0xc6),
    OFF(PORT_CONFIGURATION_INFORMATION, ExtendedFlags1, 0xc8),
    OFF(PORT_CONFIGURATION_INFORMATION, MaxNumberOfIO, 0xcc),
    OFF(PORT_CONFIGURATION_INFORMATION, MaxIOsPerLun, 0xd0),
    OFF(PORT_CONFIGURATION_INFORMATION, InitialLunQueueDepth, 0xd4),
    OFF(PORT_CONFIGURATION_INFORMATION, BusResetHoldTime, 0xd8),
    OFF(PORT_CONFIGURATION_INFORMATION, FeatureSupport, 0xdc),

    /* Windows x64 offsets of HW_INITIALIZATION_DATA */
    OFF(HW_INITIALIZATION_DATA, HwInitializationDataSize, 0),
    OFF(HW_INITIALIZATION_DATA, AdapterInterfaceType, 4),
    OFF(HW_INITIALIZATION_DATA, HwInitialize, 8),
    OFF(HW_INITIALIZATION_DATA, HwStartIo, 16),
    OFF(HW_INITIALIZATION_DATA, HwInterrupt, 24),
    OFF(HW_INITIALIZATION_DATA, HwFindAdapter, 32),
    OFF(HW_INITIALIZATION_DATA, HwResetBus, 40),
    OFF(HW_INITIALIZATION_DATA, HwDmaStarted, 48),
    OFF(HW_INITIALIZATION_DATA, HwAdapterState, 56),
    OFF(HW_INITIALIZATION_DATA, DeviceExtensionSize, 64),
    OFF(HW_INITIALIZATION_DATA, SpecificLuExtensionSize, 68),
    OFF(HW_INITIALIZATION_DATA, SrbExtensionSize, 72),
    OFF(HW_INITIALIZATION_DATA, NumberOfAccessRanges, 76),
    OFF(HW_INITIALIZATION_DATA, Reserved, 80),
    OFF(HW_INITIALIZATION_DATA, MapBuffers, 88),
    OFF(HW_INITIALIZATION_DATA, NeedPhysicalAddresses, 89),
    OFF(HW_INITIALIZATION_DATA, TaggedQueuing, 90),
    OFF(HW_INITIALIZATION_DATA, AutoRequestSense, 91),
    OFF(HW_INITIALIZATION_DATA, MultipleRequestPerLu, 92),
    OFF(HW_INITIALIZATION_DATA, ReceiveEvent, 93),
    OFF(HW_INITIALIZATION_DATA, VendorIdLength, 94),
    OFF(HW_INITIALIZATION_DATA, VendorId, 96),
    OFF(HW_INITIALIZATION_DATA, ReservedUshort, 104),
    OFF(HW_INITIALIZATION_DATA, PortVersionFlags, 104),
    OFF(HW_INITIALIZATION_DATA, DeviceIdLength, 106),
    OFF(HW_INITIALIZATION_DATA, DeviceId, 112),
    OFF(HW_INITIALIZATION_DATA, HwAdapterControl, 120),
    OFF(HW_INITIALIZATION_DATA, HwBuildIo, 128),
    OFF(HW_INITIALIZATION_DATA, HwFreeAdapterResources, 136),
    OFF(HW_INITIALIZATION_DATA, HwProcessServiceRequest, 144),
    OFF(HW_INITIALIZATION_DATA, HwCompleteServiceIrp, 152),
    OFF(HW_INITIALIZATION_DATA, HwInitializeTracing, 160),
    OFF(HW_INITIALIZATION_DATA, HwCleanupTracing, 168),
    OFF(HW_INITIALIZATION_DATA, HwTracingEnabled, 176),
    OFF(HW_INITIALIZATION_DATA, FeatureSupport, 184),
    OFF(HW_INITIALIZATION_DATA, SrbTypeFlags, 188),
    OFF(HW_INITIALIZATION_DATA, AddressTypeFlags, 192),
    OFF(HW_INITIALIZATION_DATA, Reserved1, 196),
    OFF(HW_INITIALIZATION_DATA, HwUnitControl, 200),
};

static void test_offsets(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(offset_cases); i++) {
        const SizeCase *c = &offset_cases[i];

        if (c->actual != c->expected) {
            g_test_message("offsetof(%s) = %zu, expected %zu", c->name,
                           c->actual, c->expected);
        }
        g_assert_cmpuint(c->actual, ==, c->expected);
    }
}

/* --- Bit-field placement -------------------------------------------------- */

/* Where (byte * 8 + bit) a one-bit field lands, found by setting it. */
#define FIND_BIT(obj, assign)                                                  \
    (memset(&(obj), 0, sizeof(obj)), (assign),                                 \
     find_single_bit(&(obj), sizeof(obj)))

/* Returns byte * 8 + bit of the only set bit, or -1. */
static int find_single_bit(const void *p, size_t n)
{
    const UCHAR *b = p;
    int found = -1;

    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            if (b[i] & (1u << bit)) {
                if (found >= 0) {
                    return -1;
                }
                found = (int)(i * 8 + bit);
            }
        }
    }
    return found;
}

static void test_bitfields(void)
{
    INQUIRYDATA inq;
    SENSE_DATA sense;
    CDB cdb;
    MODE_CACHING_PAGE caching;
    READ_CAPACITY16_DATA rc16;
    VPD_LOGICAL_BLOCK_PROVISIONING_PAGE lbp;
    STOR_DEVICE_CAPABILITIES caps;
    STOR_DEVICE_CAPABILITIES_EX capsEx;
    STOR_UNIT_ATTRIBUTES attrs;
    VPD_IDENTIFICATION_DESCRIPTOR id;

    /* Byte 0 of INQUIRY: type in bits 0-4, qualifier in 5-7. */
    g_assert_cmpint(FIND_BIT(inq, inq.DeviceTypeQualifier = 1), ==, 5);
    g_assert_cmpint(FIND_BIT(inq, inq.RemovableMedia = 1), ==, 1 * 8 + 7);
    g_assert_cmpint(FIND_BIT(inq, inq.ResponseDataFormat = 1), ==, 3 * 8);
    g_assert_cmpint(FIND_BIT(inq, inq.TPGS = 1), ==, 5 * 8 + 4);
    g_assert_cmpint(FIND_BIT(inq, inq.CommandQueue = 1), ==, 7 * 8 + 1);
    g_assert_cmpint(FIND_BIT(inq, inq.Versions = 1), ==, 2 * 8);

    g_assert_cmpint(FIND_BIT(sense, sense.Valid = 1), ==, 7);
    g_assert_cmpint(FIND_BIT(sense, sense.SenseKey = 1), ==, 2 * 8);
    g_assert_cmpint(FIND_BIT(sense, sense.FileMark = 1), ==, 2 * 8 + 7);

    g_assert_cmpint(FIND_BIT(cdb, cdb.CDB10.ForceUnitAccess = 1), ==, 8 + 3);
    g_assert_cmpint(FIND_BIT(cdb, cdb.CDB16.ForceUnitAccess = 1), ==, 8 + 3);
    g_assert_cmpint(FIND_BIT(cdb, cdb.CDB6INQUIRY3.EnableVitalProductData = 1),
                    ==, 8);
    g_assert_cmpint(FIND_BIT(cdb, cdb.MODE_SENSE.Dbd = 1), ==, 8 + 3);
    g_assert_cmpint(FIND_BIT(cdb, cdb.MODE_SENSE.Pc = 1), ==, 2 * 8 + 6);
    g_assert_cmpint(FIND_BIT(cdb, cdb.START_STOP.LoadEject = 1), ==, 4 * 8 + 1);
    g_assert_cmpint(FIND_BIT(cdb, cdb.SYNCHRONIZE_CACHE10.Immediate = 1), ==,
                    8 + 1);
    g_assert_cmpint(FIND_BIT(cdb, cdb.READ_CAPACITY16.ServiceAction = 1), ==,
                    8);

    g_assert_cmpint(FIND_BIT(caching, caching.WriteCacheEnable = 1), ==,
                    2 * 8 + 2);
    g_assert_cmpint(FIND_BIT(caching, caching.PageSavable = 1), ==, 7);
    g_assert_cmpint(FIND_BIT(rc16, rc16.LBPME = 1), ==, 14 * 8 + 7);
    g_assert_cmpint(FIND_BIT(rc16, rc16.ProtectionEnable = 1), ==, 12 * 8);
    g_assert_cmpint(FIND_BIT(lbp, lbp.LBPU = 1), ==, 5 * 8 + 7);
    g_assert_cmpint(FIND_BIT(id, id.Association = 1), ==, 8 + 4);

    /* The flags start at the ULONG after Version (MSVC bit-field rule). */
    g_assert_cmpint(FIND_BIT(caps, caps.DeviceD1 = 1), ==, 4 * 8);
    g_assert_cmpint(FIND_BIT(caps, caps.NoDisplayInUI = 1), ==, 5 * 8 + 1);
    g_assert_cmpint(FIND_BIT(capsEx, capsEx.DeviceD1 = 1), ==, 4 * 8);
    g_assert_cmpint(FIND_BIT(capsEx, capsEx.DefaultWriteCacheEnabled = 1), ==,
                    5 * 8 + 3);
    g_assert_cmpint(FIND_BIT(attrs, attrs.D3ColdNotSupported = 1), ==, 2);
}

/* --- Constants ------------------------------------------------------------ */

typedef struct {
    const char *name;
    uint64_t actual;
    uint64_t expected;
} ConstCase;

#define K(name, expected)                                                      \
    {                                                                          \
#name, (uint64_t)(name), (uint64_t)(expected)                          \
    }
/* NTSTATUS and other signed 32-bit codes, compared as their bit pattern. */
#define K32(name, expected)                                                    \
    {                                                                          \
#name, (uint64_t)(uint32_t)(name), (uint64_t)(uint32_t)(expected)      \
    }

static const ConstCase const_cases[] = {
    K(TRUE, 1),
    K(FALSE, 0),
    K(ANYSIZE_ARRAY, 1),
    K(PASSIVE_LEVEL, 0),
    K(APC_LEVEL, 1),
    K(DISPATCH_LEVEL, 2),
    K(HIGH_LEVEL, 15),
    K(PAGE_SIZE, 4096),
    K(PCIBus, 5),
    K(InterfaceTypeUndefined, -1),
    K(PCIConfiguration, 4),
    K(MmNonCached, 0),
    K(MmCached, 1),
    K(MM_ANY_NODE_OK, 0x80000000),
    K32(STATUS_SUCCESS, 0),
    K32(STATUS_PENDING, 0x103),
    K32(STATUS_UNSUCCESSFUL, 0xC0000001),
    K32(STATUS_NOT_IMPLEMENTED, 0xC0000002),
    K32(STATUS_INVALID_PARAMETER, 0xC000000D),
    K32(STATUS_INVALID_DEVICE_REQUEST, 0xC0000010),
    K32(STATUS_INSUFFICIENT_RESOURCES, 0xC000009A),
    K32(STATUS_BUFFER_TOO_SMALL, 0xC0000023),
    K32(STATUS_NOT_SUPPORTED, 0xC00000BB),
    K32(STATUS_IO_TIMEOUT, 0xC00000B5),
    K32(STATUS_DEVICE_BUSY, 0x80000011),

    /* srb.h */
    K(SRB_FUNCTION_EXECUTE_SCSI, 0x00),
    K(SRB_FUNCTION_IO_CONTROL, 0x02),
    K(SRB_FUNCTION_SHUTDOWN, 0x07),
    K(SRB_FUNCTION_FLUSH, 0x08),
    K(SRB_FUNCTION_ABORT_COMMAND, 0x10),
    K(SRB_FUNCTION_RESET_BUS, 0x12),
    K(SRB_FUNCTION_RESET_DEVICE, 0x13),
    K(SRB_FUNCTION_WMI, 0x17),
    K(SRB_FUNCTION_RESET_LOGICAL_UNIT, 0x20),
    K(SRB_FUNCTION_POWER, 0x24),
    K(SRB_FUNCTION_PNP, 0x25),
    K(SRB_FUNCTION_DUMP_POINTERS, 0x26),
    K(SRB_FUNCTION_STORAGE_REQUEST_BLOCK, 0x28),
    K(SRB_FUNCTION_CRYPTO_OPERATION, 0x29),
    K(SRB_STATUS_PENDING, 0x00),
    K(SRB_STATUS_SUCCESS, 0x01),
    K(SRB_STATUS_ABORTED, 0x02),
    K(SRB_STATUS_ERROR, 0x04),
    K(SRB_STATUS_BUSY, 0x05),
    K(SRB_STATUS_INVALID_REQUEST, 0x06),
    K(SRB_STATUS_NO_DEVICE, 0x08),
    K(SRB_STATUS_TIMEOUT, 0x09),
    K(SRB_STATUS_SELECTION_TIMEOUT, 0x0A),
    K(SRB_STATUS_BUS_RESET, 0x0E),
    K(SRB_STATUS_DATA_OVERRUN, 0x12),
    K(SRB_STATUS_INVALID_LUN, 0x20),
    K(SRB_STATUS_INVALID_TARGET_ID, 0x21),
    K(SRB_STATUS_BAD_FUNCTION, 0x22),
    K(SRB_STATUS_INSUFFICIENT_RESOURCES, 0x26),
    K(SRB_STATUS_INTERNAL_ERROR, 0x30),
    K(SRB_STATUS_QUEUE_FROZEN, 0x40),
    K(SRB_STATUS_AUTOSENSE_VALID, 0x80),
    K(SRB_FLAGS_QUEUE_ACTION_ENABLE, 0x2),
    K(SRB_FLAGS_DISABLE_AUTOSENSE, 0x20),
    K(SRB_FLAGS_DATA_IN, 0x40),
    K(SRB_FLAGS_DATA_OUT, 0x80),
    K(SRB_FLAGS_UNSPECIFIED_DIRECTION, 0xC0),
    K(SRB_FLAGS_NO_QUEUE_FREEZE, 0x100),
    K(SRB_FLAGS_ADAPTER_CACHE_ENABLE, 0x200),
    K(SRB_FLAGS_D3_PROCESSING, 0x800),
    K(SRB_FLAGS_CLASS_DRIVER_RESERVED, 0xF0000000),
    K(SRB_SIMPLE_TAG_REQUEST, 0x20),
    K(SRB_HEAD_OF_QUEUE_TAG_REQUEST, 0x21),
    K(SRB_ORDERED_QUEUE_TAG_REQUEST, 0x22),
    K(SRB_SIGNATURE, 0x53524258),
    K(STORAGE_REQUEST_BLOCK_VERSION_1, 1),
    K(SRB_TYPE_SCSI_REQUEST_BLOCK, 0),
    K(SRB_TYPE_STORAGE_REQUEST_BLOCK, 1),
    K(STORAGE_ADDRESS_TYPE_BTL8, 0),
    K(SrbExDataTypeScsiCdb16, 0x40),
    K(SrbExDataTypeScsiCdb32, 0x41),
    K(SrbExDataTypeScsiCdbVar, 0x42),
    K(SrbExDataTypeWmi, 0x60),
    K(SrbExDataTypePower, 0x61),
    K(SrbExDataTypePnP, 0x62),
    K(SrbExDataTypeIoInfo, 0x80),
    K(SRBEX_DATA_SCSI_CDB16_LENGTH, 32),
    K(SRBEX_DATA_SCSI_CDB32_LENGTH, 48),
    K(SRBEX_DATA_SCSI_CDB_VAR_LENGTH_MIN, 24),
    K(SRBEX_DATA_WMI_LENGTH, 16),
    K(SRBEX_DATA_POWER_LENGTH, 12),
    K(SRBEX_DATA_PNP_LENGTH, 16),
    K(SRBEX_DATA_IO_INFO_LENGTH, 24),
    K(SRBEX_DATA_BIDIRECTIONAL_LENGTH, 16),
    K(StorPowerDeviceD0, 1),
    K(StorPowerDeviceD3, 4),
    K(StorPowerActionHibernate, 3),
    K(StorSurpriseRemoval, 0x17),
    K(StorQueryCapabilities, 0x9),

    /* scsi.h */
    K(SCSIOP_TEST_UNIT_READY, 0x00),
    K(SCSIOP_REQUEST_SENSE, 0x03),
    K(SCSIOP_INQUIRY, 0x12),
    K(SCSIOP_MODE_SENSE, 0x1A),
    K(SCSIOP_START_STOP_UNIT, 0x1B),
    K(SCSIOP_MEDIUM_REMOVAL, 0x1E),
    K(SCSIOP_READ_CAPACITY, 0x25),
    K(SCSIOP_READ, 0x28),
    K(SCSIOP_WRITE, 0x2A),
    K(SCSIOP_VERIFY, 0x2F),
    K(SCSIOP_SYNCHRONIZE_CACHE, 0x35),
    K(SCSIOP_UNMAP, 0x42),
    K(SCSIOP_MODE_SENSE10, 0x5A),
    K(SCSIOP_READ16, 0x88),
    K(SCSIOP_WRITE16, 0x8A),
    K(SCSIOP_SYNCHRONIZE_CACHE16, 0x91),
    K(SCSIOP_READ_CAPACITY16, 0x9E),
    K(SCSIOP_REPORT_LUNS, 0xA0),
    K(SCSIOP_READ12, 0xA8),
    K(SCSIOP_WRITE12, 0xAA),
    K(SERVICE_ACTION_READ_CAPACITY16, 0x10),
    K(SCSISTAT_GOOD, 0x00),
    K(SCSISTAT_CHECK_CONDITION, 0x02),
    K(SCSISTAT_BUSY, 0x08),
    K(SCSISTAT_RESERVATION_CONFLICT, 0x18),
    K(SCSISTAT_QUEUE_FULL, 0x28),
    K(SCSI_SENSE_NOT_READY, 0x02),
    K(SCSI_SENSE_MEDIUM_ERROR, 0x03),
    K(SCSI_SENSE_ILLEGAL_REQUEST, 0x05),
    K(SCSI_SENSE_UNIT_ATTENTION, 0x06),
    K(SCSI_SENSE_ABORTED_COMMAND, 0x0B),
    K(SCSI_ADSENSE_LUN_NOT_READY, 0x04),
    K(SCSI_ADSENSE_ILLEGAL_COMMAND, 0x20),
    K(SCSI_ADSENSE_ILLEGAL_BLOCK, 0x21),
    K(SCSI_ADSENSE_INVALID_CDB, 0x24),
    K(SCSI_ADSENSE_INVALID_LUN, 0x25),
    K(SCSI_ADSENSE_MEDIUM_CHANGED, 0x28),
    K(SCSI_ADSENSE_BUS_RESET, 0x29),
    K(SCSI_SENSE_ERRORCODE_FIXED_CURRENT, 0x70),
    K(SCSI_SENSE_ERRORCODE_DESCRIPTOR_CURRENT, 0x72),
    K(DIRECT_ACCESS_DEVICE, 0x00),
    K(LOGICAL_UNIT_NOT_PRESENT_DEVICE, 0x7F),
    K(INQUIRYDATABUFFERSIZE, 36),
    K(VPD_SUPPORTED_PAGES, 0x00),
    K(VPD_SERIAL_NUMBER, 0x80),
    K(VPD_DEVICE_IDENTIFIERS, 0x83),
    K(VPD_BLOCK_LIMITS, 0xB0),
    K(VPD_BLOCK_DEVICE_CHARACTERISTICS, 0xB1),
    K(VPD_LOGICAL_BLOCK_PROVISIONING, 0xB2),
    K(MODE_PAGE_CACHING, 0x08),
    K(MODE_SENSE_RETURN_ALL, 0x3f),
    K(MODE_DSP_WRITE_PROTECT, 0x80),
    K(STOR_ADDRESS_TYPE_BTL8, 1),
    K(STOR_ADDR_BTL8_ADDRESS_LENGTH, 4),
    K(CDB10GENERIC_LENGTH, 10),

    /* storport.h */
    K(SP_RETURN_NOT_FOUND, 0),
    K(SP_RETURN_FOUND, 1),
    K(SP_RETURN_ERROR, 2),
    K(SP_RETURN_BAD_CONFIG, 3),
    K(SP_UNINITIALIZED_VALUE, 0xFFFFFFFF),
    K(SP_INTERNAL_ADAPTER_ERROR, 6),
    K(SP_REQUEST_TIMEOUT, 7),
    K(STOR_STATUS_SUCCESS, 0),
    K(STOR_STATUS_UNSUCCESSFUL, 0xC1000001),
    K(STOR_STATUS_NOT_IMPLEMENTED, 0xC1000002),
    K(STOR_STATUS_INSUFFICIENT_RESOURCES, 0xC1000003),
    K(STOR_STATUS_INVALID_PARAMETER, 0xC1000006),
    K(STOR_STATUS_INVALID_IRQL, 0xC1000008),
    K(STOR_STATUS_BUSY, 0xC100000C),
    K(RequestComplete, 0),
    K(NextRequest, 1),
    K(NextLuRequest, 2),
    K(ResetDetected, 3),
    K(RequestTimerCall, 6),
    K(BusChangeDetected, 7),
    K(WMIEvent, 8),
    K(LinkUp, 10),
    K(LinkDown, 11),
    K(QueryTickCount, 12),
    K(BufferOverrunDetected, 13),
    K(TraceNotification, 14),
    K(GetExtendedFunctionTable, 15),
    K(EnablePassiveInitialization, 0x1000),
    K(InitializeDpc, 0x1001),
    K(IssueDpc, 0x1002),
    K(AcquireSpinLock, 0x1003),
    K(ReleaseSpinLock, 0x1004),
    K(StateChangeDetectedCall, 0x1005),
    K(AsyncNotificationDetected, 0x1007),
    K(DpcLock, 1),
    K(StartIoLock, 2),
    K(InterruptLock, 3),
    K(StorSynchronizeHalfDuplex, 0),
    K(StorSynchronizeFullDuplex, 1),
    K(InterruptSupportNone, 0),
    K(InterruptSynchronizePerMessage, 2),
    K(ScsiQuerySupportedControlTypes, 0),
    K(ScsiStopAdapter, 1),
    K(ScsiRestartAdapter, 2),
    K(ScsiSetBootConfig, 3),
    K(ScsiSetRunningConfig, 4),
    K(ScsiPowerSettingNotification, 5),
    K(ScsiAdapterPower, 6),
    K(ScsiAdapterSurpriseRemoval, 16),
    K(ScsiAdapterControlMax, 21),
    K(MakeAdapterControlTypeSizeOfUlong, 0xffffffff),
    K(ScsiAdapterControlSuccess, 0),
    K(ScsiAdapterControlUnsuccessful, 1),
    K(ScsiQuerySupportedUnitControlTypes, 0),
    K(ScsiUnitUsage, 1),
    K(ScsiUnitStart, 2),
    K(ScsiUnitPower, 3),
    K(ScsiUnitRemove, 9),
    K(ScsiUnitSurpriseRemoval, 10),
    K(ScsiUnitControlMax, 15),
    K(STOR_FEATURE_VIRTUAL_MINIPORT, 0x1),
    K(STOR_FEATURE_ATA_PASS_THROUGH, 0x2),
    K(STOR_FEATURE_FULL_PNP_DEVICE_CAPABILITIES, 0x4),
    K(STOR_FEATURE_DUMP_POINTERS, 0x8),
    K(STOR_FEATURE_DEVICE_NAME_NO_SUFFIX, 0x10),
    K(STOR_FEATURE_DUMP_RESUME_CAPABLE, 0x20),
    K(STOR_FEATURE_DEVICE_DESCRIPTOR_FROM_ATA_INFO_VPD, 0x40),
    K(STOR_FEATURE_EXTRA_IO_INFORMATION, 0x80),
    K(STOR_FEATURE_ADAPTER_CONTROL_PRE_FINDADAPTER, 0x100),
    K(STOR_FEATURE_SET_ADAPTER_INTERFACE_TYPE, 0x800),
    K(SRB_TYPE_FLAG_SCSI_REQUEST_BLOCK, 0x1),
    K(SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK, 0x2),
    K(ADDRESS_TYPE_FLAG_BTL8, 0x1),
    K(STOR_MAP_NO_BUFFERS, 0),
    K(STOR_MAP_NON_READ_WRITE_BUFFERS, 2),
    K(STOR_MAP_ALL_BUFFERS_INCLUDING_READ_WRITE, 3),
    K(STOR_PERF_DPC_REDIRECTION, 0x1),
    K(STOR_PERF_CONCURRENT_CHANNELS, 0x2),
    K(STOR_PERF_INTERRUPT_MESSAGE_RANGES, 0x4),
    K(STOR_PERF_ADV_CONFIG_LOCALITY, 0x8),
    K(STOR_PERF_OPTIMIZE_FOR_COMPLETION_DURING_STARTIO, 0x10),
    K(STOR_PERF_DPC_REDIRECTION_CURRENT_CPU, 0x20),
    K(STOR_PERF_NO_SGL, 0x40),
    K(DUMP_MODE_CRASH, 1),
    K(DUMP_MODE_HIBER, 2),
    K(EVENT_BUFFER_MAX_LENGTH, 4096),
    K(BusTypeSas, 10),
    K(BusTypeSata, 11),
    K(BusTypeNvme, 17),
    K(IOCTL_SCSI_MINIPORT, 0x0004D008),
    K(IOCTL_SCSI_PASS_THROUGH, 0x0004D004),
    K(IOCTL_SCSI_PASS_THROUGH_DIRECT, 0x0004D014),
    K(IOCTL_SCSI_GET_ADDRESS, 0x00041018),
};

static void test_constants(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(const_cases); i++) {
        const ConstCase *c = &const_cases[i];

        if (c->actual != c->expected) {
            g_test_message("%s = 0x%" G_GINT64_MODIFIER
                           "x, expected 0x%" G_GINT64_MODIFIER "x",
                           c->name, c->actual, c->expected);
        }
        g_assert_cmphex(c->actual, ==, c->expected);
    }
}

/* --- Base helpers --------------------------------------------------------- */

typedef struct {
    ULONG Before;
    LIST_ENTRY Link;
    ULONG Value;
} ListItem;

static void test_memory_helpers(void)
{
    UCHAR a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    UCHAR b[8] = {1, 2, 3, 9, 5, 6, 7, 8};
    UCHAR c[8];
    ListItem item;
    ULONG value = 0x11223344;
    ULONG swapped = 0;
    ULONGLONG quad = 0x0102030405060708ULL;
    ULONGLONG quadSwapped = 0;
    USHORT word = 0xAABB;
    USHORT wordSwapped = 0;
    STOR_PHYSICAL_ADDRESS pa;

    g_assert_cmpuint(RtlCompareMemory(a, b, sizeof(a)), ==, 3);
    g_assert_cmpuint(RtlCompareMemory(a, a, sizeof(a)), ==, sizeof(a));
    g_assert_cmpuint(RtlCompareMemory(a, b, 0), ==, 0);
    g_assert_false(RtlEqualMemory(a, b, sizeof(a)));
    g_assert_true(RtlEqualMemory(a, b, 3));

    RtlFillMemory(c, sizeof(c), 0x5A);
    g_assert_cmpuint(c[0], ==, 0x5A);
    g_assert_cmpuint(c[7], ==, 0x5A);
    RtlZeroMemory(c, 4);
    g_assert_cmpuint(c[3], ==, 0);
    g_assert_cmpuint(c[4], ==, 0x5A);
    RtlCopyMemory(c, a, sizeof(c));
    RtlMoveMemory(c + 1, c, 4);
    g_assert_cmpuint(c[1], ==, 1);
    g_assert_cmpuint(c[4], ==, 4);

    g_assert_cmpint(FIELD_OFFSET(ListItem, Link), ==, 8);
    g_assert_true(CONTAINING_RECORD(&item.Link, ListItem, Link) == &item);
    g_assert_true(ARGUMENT_PRESENT(&item));
    g_assert_false(ARGUMENT_PRESENT(NULL));
    g_assert_cmpint(min(3, -4), ==, -4);
    g_assert_cmpint(max(3, -4), ==, 3);
    g_assert_cmpuint(RTL_NUMBER_OF(a), ==, 8);

    g_assert_true(NT_SUCCESS(STATUS_SUCCESS));
    g_assert_true(NT_SUCCESS(STATUS_PENDING));
    g_assert_false(NT_SUCCESS(STATUS_UNSUCCESSFUL));
    g_assert_true(NT_ERROR(STATUS_INVALID_PARAMETER));
    g_assert_true(NT_WARNING(STATUS_BUFFER_OVERFLOW));

    g_assert_cmphex(SRB_STATUS(SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID |
                               SRB_STATUS_QUEUE_FROZEN),
                    ==, SRB_STATUS_ERROR);

    REVERSE_BYTES(&swapped, &value);
    g_assert_cmphex(swapped, ==, 0x44332211);
    REVERSE_BYTES_QUAD(&quadSwapped, &quad);
    g_assert_cmphex(quadSwapped, ==, 0x0807060504030201ULL);
    REVERSE_BYTES_SHORT(&wordSwapped, &word);
    g_assert_cmphex(wordSwapped, ==, 0xBBAA);
    REVERSE_LONG(&value);
    g_assert_cmphex(value, ==, 0x44332211);
    REVERSE_SHORT(&word);
    g_assert_cmphex(word, ==, 0xBBAA);
    g_assert_cmphex(RtlUlongByteSwap(0x11223344), ==, 0x44332211);
    g_assert_cmphex(RtlUshortByteSwap(0x1122), ==, 0x2211);
    g_assert_cmphex(RtlUlonglongByteSwap(1), ==, 1ULL << 56);

    pa = StorPortConvertUlongToPhysicalAddress(0x123456789AULL);
    g_assert_cmphex(pa.QuadPart, ==, 0x123456789AULL);
    g_assert_cmphex(pa.LowPart, ==, 0x3456789A);
    g_assert_cmphex(pa.HighPart, ==, 0x12);
    g_assert_cmphex(pa.u.HighPart, ==, 0x12);
    g_assert_cmphex(StorPortConvertPhysicalAddressToUlong(pa), ==, 0x3456789A);
    g_assert_cmphex(StorPortConvertPhysicalAddressToULong64(pa), ==,
                    0x123456789AULL);
}

static void test_lists(void)
{
    LIST_ENTRY head;
    ListItem items[3];
    PLIST_ENTRY e;
    SINGLE_LIST_ENTRY shead = {NULL};
    SINGLE_LIST_ENTRY s1, s2;

    InitializeListHead(&head);
    g_assert_true(IsListEmpty(&head));
    for (ULONG i = 0; i < 3; i++) {
        items[i].Value = i;
        InsertTailList(&head, &items[i].Link);
    }
    g_assert_false(IsListEmpty(&head));
    /* 0 1 2 -> insert 7 at head -> 7 0 1 2 */
    {
        ListItem extra = {.Value = 7};

        InsertHeadList(&head, &extra.Link);
        e = RemoveHeadList(&head);
        g_assert_cmpuint(CONTAINING_RECORD(e, ListItem, Link)->Value, ==, 7);
    }
    e = RemoveTailList(&head);
    g_assert_cmpuint(CONTAINING_RECORD(e, ListItem, Link)->Value, ==, 2);
    g_assert_false(RemoveEntryList(&items[0].Link));
    g_assert_true(RemoveEntryList(&items[1].Link));
    g_assert_true(IsListEmpty(&head));

    PushEntryList(&shead, &s1);
    PushEntryList(&shead, &s2);
    g_assert_true(PopEntryList(&shead) == &s2);
    g_assert_true(PopEntryList(&shead) == &s1);
    g_assert_null(PopEntryList(&shead));
}

static void test_interlocked(void)
{
    LONG volatile l = 5;
    LONG64 volatile q = 1;
    PVOID volatile p = NULL;
    int x, y;

    g_assert_cmpint(InterlockedIncrement(&l), ==, 6);
    g_assert_cmpint(InterlockedDecrement(&l), ==, 5);
    g_assert_cmpint(InterlockedExchange(&l, 9), ==, 5);
    g_assert_cmpint(InterlockedCompareExchange(&l, 1, 8), ==, 9);
    g_assert_cmpint(l, ==, 9);
    g_assert_cmpint(InterlockedCompareExchange(&l, 1, 9), ==, 9);
    g_assert_cmpint(l, ==, 1);
    g_assert_cmpint(InterlockedExchangeAdd(&l, 4), ==, 1);
    g_assert_cmpint(InterlockedAdd(&l, 4), ==, 9);
    g_assert_cmpint(InterlockedOr(&l, 0x10), ==, 9);
    g_assert_cmpint(InterlockedAnd(&l, 0x18), ==, 0x19);
    g_assert_cmpint(l, ==, 0x18);
    g_assert_cmpint(InterlockedXor(&l, 0xFF), ==, 0x18);
    g_assert_cmpint(l, ==, 0xE7);
    g_assert_cmpint(_InterlockedIncrement(&l), ==, 0xE8);

    g_assert_cmpint(InterlockedIncrement64(&q), ==, 2);
    g_assert_cmpint(InterlockedDecrement64(&q), ==, 1);
    g_assert_cmpint(InterlockedExchange64(&q, 1LL << 40), ==, 1);
    g_assert_cmpint(InterlockedCompareExchange64(&q, 3, 1LL << 40), ==,
                    1LL << 40);
    g_assert_cmpint(InterlockedExchangeAdd64(&q, 2), ==, 3);
    g_assert_cmpint(q, ==, 5);

    g_assert_null(InterlockedExchangePointer(&p, &x));
    g_assert_true(InterlockedCompareExchangePointer(&p, NULL, &y) == &x);
    g_assert_true(p == &x);
    g_assert_true(InterlockedCompareExchangePointer(&p, NULL, &x) == &x);
    g_assert_null(p);
    KeMemoryBarrier();
}

/* The processor's wrap-around, which the one-thread versions compute in
 * the unsigned type (a signed overflow would be undefined in C). */
static void test_interlocked_wrap(void)
{
    LONG volatile l = G_MAXINT32;
    SHORT volatile s = G_MAXINT16;
    LONG64 volatile q = G_MININT64;

    g_assert_cmpint(InterlockedIncrement(&l), ==, G_MININT32);
    g_assert_cmpint(InterlockedDecrement(&l), ==, G_MAXINT32);
    g_assert_cmpint(InterlockedExchangeAdd(&l, 2), ==, G_MAXINT32);
    g_assert_cmpint(l, ==, G_MININT32 + 1);
    g_assert_cmpint(InterlockedIncrement16(&s), ==, G_MININT16);
    g_assert_cmpint(InterlockedDecrement16(&s), ==, G_MAXINT16);
    g_assert_cmpint(InterlockedCompareExchange16(&s, 7, 1), ==, G_MAXINT16);
    g_assert_cmpint(s, ==, G_MAXINT16);
    g_assert_cmpint(InterlockedCompareExchange16(&s, 7, G_MAXINT16), ==,
                    G_MAXINT16);
    g_assert_cmpint(s, ==, 7);
    g_assert_cmpint(InterlockedDecrement64(&q), ==, G_MAXINT64);
    g_assert_cmpint(InterlockedAdd64(&q, 1), ==, G_MININT64);
    g_assert_cmpint(InterlockedOr64(&q, 1), ==, G_MININT64);
    g_assert_cmpint(InterlockedAnd64(&q, 3), ==, G_MININT64 + 1);
    g_assert_cmpint(q, ==, 1);
}

/* --- SRB helpers on both SRB kinds ---------------------------------------- */

/*
 * An extended SRB as the port builds one: header, BTL8 address, one CDB
 * block.  Sizes follow SrbGetDefaultSrbLengthFromFunction.
 */
#define EX_ADDRESS_OFFSET ((ULONG)sizeof(STORAGE_REQUEST_BLOCK))
#define EX_CDB_OFFSET     (EX_ADDRESS_OFFSET + (ULONG)sizeof(STOR_ADDR_BTL8))
#define EX_LENGTH         (EX_CDB_OFFSET + (ULONG)sizeof(SRBEX_DATA_SCSI_CDB16))

typedef union {
    STORAGE_REQUEST_BLOCK srb;
    UCHAR bytes[512];
    ULONGLONG align;
} SrbExBuffer;

typedef struct {
    SCSI_REQUEST_BLOCK classic;
    SrbExBuffer ex;
    UCHAR sense[32];
    UCHAR data[64];
    UCHAR context[16];
    ULONG request;
} SrbPair;

static PSTOR_ADDR_BTL8 ex_address(SrbExBuffer *b)
{
    return (PSTOR_ADDR_BTL8)(b->bytes + EX_ADDRESS_OFFSET);
}

static PSRBEX_DATA_SCSI_CDB16 ex_cdb16(SrbExBuffer *b)
{
    return (PSRBEX_DATA_SCSI_CDB16)(b->bytes + EX_CDB_OFFSET);
}

/* Fills both SRBs with the same READ(10) of LUN 2:3:4. */
static void srb_pair_init(SrbPair *p)
{
    /* LBA 0x10 (bytes 2-5), 8 blocks (bytes 7-8) */
    static const UCHAR read10[10] = {SCSIOP_READ, 0, 0, 0, 0, 0x10, 0, 0, 8, 0};
    PSCSI_REQUEST_BLOCK c = &p->classic;
    PSTORAGE_REQUEST_BLOCK x = &p->ex.srb;
    PSTOR_ADDR_BTL8 a;
    PSRBEX_DATA_SCSI_CDB16 d;

    memset(p, 0, sizeof(*p));

    c->Length = sizeof(*c);
    c->Function = SRB_FUNCTION_EXECUTE_SCSI;
    c->SrbStatus = SRB_STATUS_PENDING;
    c->ScsiStatus = SCSISTAT_GOOD;
    c->PathId = 2;
    c->TargetId = 3;
    c->Lun = 4;
    c->QueueTag = 0x55;
    c->QueueAction = SRB_SIMPLE_TAG_REQUEST;
    c->CdbLength = sizeof(read10);
    c->SenseInfoBufferLength = sizeof(p->sense);
    c->SrbFlags = SRB_FLAGS_DATA_IN | SRB_FLAGS_QUEUE_ACTION_ENABLE;
    c->DataTransferLength = sizeof(p->data);
    c->TimeOutValue = 30;
    c->DataBuffer = p->data;
    c->SenseInfoBuffer = p->sense;
    c->OriginalRequest = &p->request;
    c->SrbExtension = p->context;
    c->InternalStatus = 0xABCD;
    memcpy(c->Cdb, read10, sizeof(read10));

    x->Length = sizeof(STORAGE_REQUEST_BLOCK_HEADER);
    x->Function = SRB_FUNCTION_STORAGE_REQUEST_BLOCK;
    x->SrbStatus = SRB_STATUS_PENDING;
    x->Signature = SRB_SIGNATURE;
    x->Version = STORAGE_REQUEST_BLOCK_VERSION_1;
    x->SrbLength = EX_LENGTH;
    x->SrbFunction = SRB_FUNCTION_EXECUTE_SCSI;
    x->SrbFlags = c->SrbFlags;
    x->RequestTag = 0x55;
    x->RequestAttribute = SRB_SIMPLE_TAG_REQUEST;
    x->TimeOutValue = 30;
    x->SystemStatus = 0xABCD;
    x->AddressOffset = EX_ADDRESS_OFFSET;
    x->NumSrbExData = 1;
    x->DataTransferLength = sizeof(p->data);
    x->DataBuffer = p->data;
    x->OriginalRequest = &p->request;
    x->MiniportContext = p->context;
    x->SrbExDataOffset[0] = EX_CDB_OFFSET;

    a = ex_address(&p->ex);
    a->Type = STOR_ADDRESS_TYPE_BTL8;
    a->AddressLength = STOR_ADDR_BTL8_ADDRESS_LENGTH;
    a->Path = 2;
    a->Target = 3;
    a->Lun = 4;

    d = ex_cdb16(&p->ex);
    d->Type = SrbExDataTypeScsiCdb16;
    d->Length = SRBEX_DATA_SCSI_CDB16_LENGTH;
    d->ScsiStatus = SCSISTAT_GOOD;
    d->SenseInfoBufferLength = sizeof(p->sense);
    d->CdbLength = sizeof(read10);
    d->SenseInfoBuffer = p->sense;
    memcpy(d->Cdb, read10, sizeof(read10));
}

static void test_srb_layout_of_fixture(void)
{
    g_assert_cmpuint(
        EX_LENGTH, ==,
        SrbGetDefaultSrbLengthFromFunction(SRB_FUNCTION_EXECUTE_SCSI));
    g_assert_cmpuint(EX_LENGTH, ==, 184);
    g_assert_cmpuint(SrbGetDefaultSrbLengthFromFunction(SRB_FUNCTION_PNP), ==,
                     128 + 16 + 24);
    g_assert_cmpuint(SrbGetDefaultSrbLengthFromFunction(SRB_FUNCTION_POWER), ==,
                     128 + 16 + 24);
    g_assert_cmpuint(SrbGetDefaultSrbLengthFromFunction(SRB_FUNCTION_WMI), ==,
                     128 + 16 + 24);
    g_assert_cmpuint(
        SrbGetDefaultSrbLengthFromFunction(SRB_FUNCTION_IO_CONTROL), ==,
        128 + 16);
}

/* Every getter must give the same answer on both SRBs of the pair. */
static void test_srb_getters_agree(void)
{
    SrbPair p;
    PVOID srbs[2];

    srb_pair_init(&p);
    srbs[0] = &p.classic;
    srbs[1] = &p.ex.srb;

    for (int i = 0; i < 2; i++) {
        PVOID s = srbs[i];
        PCDB cdb = SrbGetCdb(s);
        UCHAR path = 0xFF, target = 0xFF, lun = 0xFF;

        g_test_message("SRB kind %d", i);
        g_assert_cmpuint(storemu_srb_is_extended(s), ==, i == 1);
        g_assert_nonnull(cdb);
        g_assert_cmphex(cdb->CDB10.OperationCode, ==, SCSIOP_READ);
        g_assert_cmphex(cdb->CDB10.LogicalBlockByte3, ==, 0x10);
        g_assert_cmphex(cdb->CDB10.TransferBlocksLsb, ==, 8);
        g_assert_cmpuint(SrbGetCdbLength(s), ==, 10);
        g_assert_cmphex(SrbGetSrbFunction(s), ==, SRB_FUNCTION_EXECUTE_SCSI);
        g_assert_true(SrbGetDataBuffer(s) == p.data);
        g_assert_cmpuint(SrbGetDataTransferLength(s), ==, sizeof(p.data));
        g_assert_cmphex(SrbGetSrbStatus(s), ==, SRB_STATUS_PENDING);
        g_assert_cmphex(SrbGetScsiStatus(s), ==, SCSISTAT_GOOD);
        g_assert_true(SrbGetSenseInfoBuffer(s) == p.sense);
        g_assert_cmpuint(SrbGetSenseInfoBufferLength(s), ==, sizeof(p.sense));
        g_assert_cmphex(SrbGetSrbFlags(s), ==,
                        SRB_FLAGS_DATA_IN | SRB_FLAGS_QUEUE_ACTION_ENABLE);
        g_assert_cmpuint(SrbGetPathId(s), ==, 2);
        g_assert_cmpuint(SrbGetTargetId(s), ==, 3);
        g_assert_cmpuint(SrbGetLun(s), ==, 4);
        SrbGetPathTargetLun(s, &path, &target, &lun);
        g_assert_cmpuint(path, ==, 2);
        g_assert_cmpuint(target, ==, 3);
        g_assert_cmpuint(lun, ==, 4);
        g_assert_cmpuint(SrbGetTimeOutValue(s), ==, 30);
        g_assert_cmphex(SrbGetQueueTag(s), ==, 0x55);
        g_assert_cmphex(SrbGetRequestTag(s), ==, 0x55);
        g_assert_cmphex(SrbGetQueueAction(s), ==, SRB_SIMPLE_TAG_REQUEST);
        g_assert_cmphex(SrbGetRequestAttribute(s), ==, SRB_SIMPLE_TAG_REQUEST);
        g_assert_true(SrbGetMiniportContext(s) == p.context);
        g_assert_true(SrbGetOriginalRequest(s) == &p.request);
        g_assert_null(SrbGetNextSrb(s));
        g_assert_cmphex(SrbGetSystemStatus(s), ==, 0xABCD);
    }
    g_assert_cmpuint(SrbGetSrbLength(&p.classic), ==, 88);
    g_assert_cmpuint(SrbGetSrbLength(&p.ex.srb), ==, EX_LENGTH);
    g_assert_null(SrbGetPortContext(&p.classic));
    g_assert_null(SrbGetAddress((PSTORAGE_REQUEST_BLOCK)&p.classic));
    g_assert_true(SrbGetAddress(&p.ex.srb) == (PSTOR_ADDRESS)ex_address(&p.ex));
}

/*
 * Every setter, applied to both SRBs, must change the field the DDI
 * documents and read back the same through the getter.
 */
static void test_srb_setters_agree(void)
{
    SrbPair p;
    PVOID srbs[2];
    UCHAR newSense[18];
    UCHAR newData[4];
    SCSI_REQUEST_BLOCK next;

    srb_pair_init(&p);
    srbs[0] = &p.classic;
    srbs[1] = &p.ex.srb;

    for (int i = 0; i < 2; i++) {
        PVOID s = srbs[i];

        SrbSetDataTransferLength(s, 512);
        SrbSetDataBuffer(s, newData);
        SrbSetSrbStatus(s, SRB_STATUS_SUCCESS);
        SrbSetScsiStatus(s, SCSISTAT_CHECK_CONDITION);
        SrbSetSenseInfoBuffer(s, newSense);
        SrbSetSenseInfoBufferLength(s, sizeof(newSense));
        SrbSetCdbLength(s, 6);
        SrbSetTimeOutValue(s, 99);
        SrbSetQueueTag(s, 0x1234);
        SrbSetRequestAttribute(s, SRB_ORDERED_QUEUE_TAG_REQUEST);
        SrbSetOriginalRequest(s, NULL);
        SrbSetNextSrb(s, &next);
        SrbSetSystemStatus(s, 7);
        SrbAssignSrbFlags(s, SRB_FLAGS_DATA_OUT);
        SrbSetSrbFlags(s, SRB_FLAGS_NO_QUEUE_FREEZE);
        SrbClearSrbFlags(s, SRB_FLAGS_DATA_OUT);

        g_assert_cmpuint(SrbGetDataTransferLength(s), ==, 512);
        g_assert_true(SrbGetDataBuffer(s) == newData);
        g_assert_cmphex(SrbGetSrbStatus(s), ==, SRB_STATUS_SUCCESS);
        g_assert_cmphex(SrbGetScsiStatus(s), ==, SCSISTAT_CHECK_CONDITION);
        g_assert_true(SrbGetSenseInfoBuffer(s) == newSense);
        g_assert_cmpuint(SrbGetSenseInfoBufferLength(s), ==, 18);
        g_assert_cmpuint(SrbGetCdbLength(s), ==, 6);
        g_assert_cmpuint(SrbGetTimeOutValue(s), ==, 99);
        g_assert_cmphex(SrbGetRequestAttribute(s), ==,
                        SRB_ORDERED_QUEUE_TAG_REQUEST);
        g_assert_null(SrbGetOriginalRequest(s));
        g_assert_true(SrbGetNextSrb(s) == (PVOID)&next);
        g_assert_cmpuint(SrbGetSystemStatus(s), ==, 7);
        g_assert_cmphex(SrbGetSrbFlags(s), ==, SRB_FLAGS_NO_QUEUE_FREEZE);
    }

    /* The fields the DDI maps them to. */
    g_assert_cmpuint(p.classic.DataTransferLength, ==, 512);
    g_assert_cmpuint(p.ex.srb.DataTransferLength, ==, 512);
    g_assert_cmpuint(p.classic.ScsiStatus, ==, SCSISTAT_CHECK_CONDITION);
    g_assert_cmpuint(ex_cdb16(&p.ex)->ScsiStatus, ==, SCSISTAT_CHECK_CONDITION);
    g_assert_true(ex_cdb16(&p.ex)->SenseInfoBuffer == newSense);
    g_assert_cmpuint(ex_cdb16(&p.ex)->CdbLength, ==, 6);
    g_assert_cmpuint(p.classic.InternalStatus, ==, 7);
    g_assert_cmpuint(p.ex.srb.SystemStatus, ==, 7);
    g_assert_cmpuint(p.classic.QueueAction, ==, SRB_ORDERED_QUEUE_TAG_REQUEST);
    g_assert_cmpuint(p.ex.srb.RequestAttribute, ==,
                     SRB_ORDERED_QUEUE_TAG_REQUEST);
    /* A classic SRB keeps only 8 bits of the tag. */
    g_assert_cmphex(SrbGetQueueTag(&p.classic), ==, 0x34);
    g_assert_cmphex(SrbGetQueueTag(&p.ex.srb), ==, 0x1234);

    /* Sort key exists only on classic SRBs; port context only on SRBEX. */
    SrbSetQueueSortKey(&p.classic, 42);
    SrbSetQueueSortKey(&p.ex.srb, 42);
    g_assert_cmpuint(p.classic.QueueSortKey, ==, 42);
    g_assert_cmpuint(p.ex.srb.SystemStatus, ==, 7);
    SrbSetPortContext(&p.ex.srb, &next);
    SrbSetPortContext(&p.classic, &next);
    g_assert_true(SrbGetPortContext(&p.ex.srb) == &next);
    g_assert_null(SrbGetPortContext(&p.classic));
    SrbSetSrbLength(&p.classic, 1);
    g_assert_cmpuint(SrbGetSrbLength(&p.classic), ==, 88);
}

static void test_srb_status_keeps_autosense(void)
{
    SrbPair p;
    PVOID srbs[2];

    srb_pair_init(&p);
    srbs[0] = &p.classic;
    srbs[1] = &p.ex.srb;
    for (int i = 0; i < 2; i++) {
        SrbSetSrbStatus(srbs[i], SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
        SrbSetSrbStatus(srbs[i], SRB_STATUS_SUCCESS);
        g_assert_cmphex(SrbGetSrbStatus(srbs[i]), ==,
                        SRB_STATUS_SUCCESS | SRB_STATUS_AUTOSENSE_VALID);
        SrbSetSrbStatus(srbs[i], SRB_STATUS_ABORTED | SRB_STATUS_QUEUE_FROZEN);
        g_assert_cmphex(SRB_STATUS(SrbGetSrbStatus(srbs[i])), ==,
                        SRB_STATUS_ABORTED);
    }
}

/*
 * A malformed extended SRB (offsets outside SrbLength, inside the header,
 * too many data blocks, no address) yields NULL/0 instead of reading
 * outside the allocation.
 */
static void test_srbex_malformed(void)
{
    static const struct {
        const char *what;
        ULONG srbLength;
        ULONG numSrbExData;
        ULONG cdbOffset;
        ULONG addressOffset;
        gboolean blockOk; /* the SRBEX_DATA header is inside */
        gboolean cdbOk;   /* the whole CDB16 block is inside */
        gboolean addressOk;
    } cases[] = {
        {"well formed", EX_LENGTH, 1, EX_CDB_OFFSET, EX_ADDRESS_OFFSET, TRUE,
         TRUE, TRUE},
        {"block cut by SrbLength", EX_LENGTH - 1, 1, EX_CDB_OFFSET,
         EX_ADDRESS_OFFSET, TRUE, FALSE, TRUE},
        {"offset inside header", EX_LENGTH, 1, 64, EX_ADDRESS_OFFSET, FALSE,
         FALSE, TRUE},
        {"offset past end", EX_LENGTH, 1, 4096, EX_ADDRESS_OFFSET, FALSE, FALSE,
         TRUE},
        {"no data blocks", EX_LENGTH, 0, EX_CDB_OFFSET, EX_ADDRESS_OFFSET,
         FALSE, FALSE, TRUE},
        {"offset slots past SrbLength", 128, 1000, EX_CDB_OFFSET,
         EX_ADDRESS_OFFSET, FALSE, FALSE, FALSE},
        {"no address", EX_LENGTH, 1, EX_CDB_OFFSET, 0, TRUE, TRUE, FALSE},
        {"address past end", EX_LENGTH, 1, EX_CDB_OFFSET, EX_LENGTH, TRUE, TRUE,
         FALSE},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        SrbPair p;
        PSTORAGE_REQUEST_BLOCK x = &p.ex.srb;

        g_test_message("case: %s", cases[i].what);
        srb_pair_init(&p);
        x->SrbLength = cases[i].srbLength;
        x->NumSrbExData = cases[i].numSrbExData;
        x->SrbExDataOffset[0] = cases[i].cdbOffset;
        x->AddressOffset = cases[i].addressOffset;

        g_assert_cmpuint(SrbGetCdb(x) != NULL, ==, cases[i].cdbOk);
        g_assert_cmpuint(SrbGetCdbLength(x), ==, cases[i].cdbOk ? 10 : 0);
        g_assert_cmpuint(SrbGetPrimarySrbExData(x) != NULL, ==,
                         cases[i].blockOk);
        g_assert_cmpuint(SrbGetSrbExDataByIndex(x, 0) != NULL, ==,
                         cases[i].blockOk);
        g_assert_cmpuint(SrbGetLun(x), ==, cases[i].addressOk ? 4 : 0);
        g_assert_cmpuint(SrbGetPathId(x), ==, cases[i].addressOk ? 2 : 0);
    }
}

static void test_srbex_lookup(void)
{
    SrbPair p;
    PSTORAGE_REQUEST_BLOCK x;
    PSRBEX_DATA_SCSI_CDB16 d;

    srb_pair_init(&p);
    x = &p.ex.srb;
    d = ex_cdb16(&p.ex);

    g_assert_true(SrbGetSrbExDataByIndex(x, 0) == (PSRBEX_DATA)d);
    g_assert_null(SrbGetSrbExDataByIndex(x, 1));
    g_assert_true(SrbGetSrbExDataByType(x, SrbExDataTypeScsiCdb16) ==
                  (PSRBEX_DATA)d);
    g_assert_null(SrbGetSrbExDataByType(x, SrbExDataTypePnP));
    g_assert_true(SrbGetPrimarySrbExData(x) == (PSRBEX_DATA)d);
    g_assert_null(SrbGetSrbExDataByType((PSTORAGE_REQUEST_BLOCK)&p.classic,
                                        SrbExDataTypeScsiCdb16));

    /* A zero-length CDB block has no CDB. */
    d->CdbLength = 0;
    g_assert_null(SrbGetCdb(x));

    /* Not an EXECUTE_SCSI request: no CDB, neutral SCSI data. */
    d->CdbLength = 10;
    x->SrbFunction = SRB_FUNCTION_PNP;
    {
        UCHAR status = 0xFF, length8 = 0xFF, senseLength = 0xFF;
        ULONG length32 = 0xFF;
        PVOID sense = &p;

        g_assert_null(SrbGetScsiData(x, &length8, &length32, &status, &sense,
                                     &senseLength));
        g_assert_cmpuint(length8, ==, 0);
        g_assert_cmpuint(length32, ==, 0);
        g_assert_cmpuint(status, ==, SCSISTAT_GOOD);
        g_assert_null(sense);
        g_assert_cmpuint(senseLength, ==, 0);
        g_assert_null(SrbGetPrimarySrbExData(x));
    }
    g_assert_cmphex(SrbGetSrbFunction(x), ==, SRB_FUNCTION_PNP);
}

/* 32-byte and variable-length CDB blocks. */
static void test_srbex_long_cdbs(void)
{
    SrbPair p;
    PSTORAGE_REQUEST_BLOCK x;
    PSRBEX_DATA_SCSI_CDB32 d32;
    PSRBEX_DATA_SCSI_CDB_VAR dv;
    ULONG length32 = 0;
    UCHAR status = 0;

    srb_pair_init(&p);
    x = &p.ex.srb;
    x->SrbLength = EX_CDB_OFFSET + sizeof(SRBEX_DATA_SCSI_CDB32);
    d32 = (PSRBEX_DATA_SCSI_CDB32)(p.ex.bytes + EX_CDB_OFFSET);
    memset(d32, 0, sizeof(*d32));
    d32->Type = SrbExDataTypeScsiCdb32;
    d32->Length = SRBEX_DATA_SCSI_CDB32_LENGTH;
    d32->CdbLength = 32;
    d32->Cdb[0] = SCSIOP_OPERATION32;
    d32->ScsiStatus = SCSISTAT_BUSY;

    g_assert_true(SrbGetCdb(x) == (PCDB)d32->Cdb);
    g_assert_cmpuint(SrbGetCdbLength(x), ==, 32);
    g_assert_cmphex(SrbGetScsiStatus(x), ==, SCSISTAT_BUSY);
    SrbSetScsiStatus(x, SCSISTAT_GOOD);
    g_assert_cmphex(d32->ScsiStatus, ==, SCSISTAT_GOOD);

    x->SrbLength = EX_CDB_OFFSET + sizeof(SRBEX_DATA_SCSI_CDB_VAR) + 64;
    dv = (PSRBEX_DATA_SCSI_CDB_VAR)(p.ex.bytes + EX_CDB_OFFSET);
    memset(dv, 0, sizeof(*dv) + 64);
    dv->Type = SrbExDataTypeScsiCdbVar;
    dv->Length = SRBEX_DATA_SCSI_CDB_VAR_LENGTH_MIN + 40;
    dv->CdbLength = 40;
    dv->ScsiStatus = SCSISTAT_QUEUE_FULL;

    g_assert_true(SrbGetCdb(x) == (PCDB)dv->Cdb);
    /* The UCHAR length accessor cannot express a variable length. */
    g_assert_cmpuint(SrbGetCdbLength(x), ==, 0);
    g_assert_nonnull(SrbGetScsiData(x, NULL, &length32, &status, NULL, NULL));
    g_assert_cmpuint(length32, ==, 40);
    g_assert_cmphex(status, ==, SCSISTAT_QUEUE_FULL);
    length32 = 12;
    SrbSetScsiData(x, NULL, &length32, NULL, NULL, NULL);
    g_assert_cmpuint(dv->CdbLength, ==, 12);
}

/*
 * The per-request accessors pinned on every SRB layout a miniport can be
 * handed: the port's own (one CDB16 block), another block kind listed
 * first, a CDB block the walk must skip, bad offsets, bad addresses, an
 * SRB that is not EXECUTE_SCSI, and the classic SRB.  A fast path for the
 * port's layout must give the full walk's answers on all of them.
 */
#define LAYOUT_BLOCKS 2
#define LAYOUT_NONE   (-1)
#define LAYOUT_UNSET8 0xAA
#define LAYOUT_UNSET  0xAAAAAAAAu

typedef struct {
    const char *what;
    ULONG srbFunction;
    ULONG srbLength;
    ULONG addressOffset;
    USHORT addressType;
    ULONG numSrbExData;
    ULONG offsets[LAYOUT_BLOCKS];
    /* Each block is written at its offset (if any) whatever the list says. */
    struct {
        ULONG type; /* 0: no block */
        ULONG offset;
    } blocks[LAYOUT_BLOCKS];
    int scsi;     /* blocks[] index the SCSI accessors use, or LAYOUT_NONE */
    gboolean btl; /* the BTL8 address is found */
    gboolean address; /* SrbGetAddress finds an address */
} LayoutCase;

#define L_CDB16    ((ULONG)SrbExDataTypeScsiCdb16)
#define L_CDB32    ((ULONG)SrbExDataTypeScsiCdb32)
#define L_VAR      ((ULONG)SrbExDataTypeScsiCdbVar)
#define L_BIDI     ((ULONG)SrbExDataTypeBidirectional)
#define L_AT       EX_CDB_OFFSET /* 144: the port's CDB offset */
#define L_BTL      STOR_ADDRESS_TYPE_BTL8
#define L_EXEC     SRB_FUNCTION_EXECUTE_SCSI
#define L_VAR_SIZE ((ULONG)sizeof(SRBEX_DATA_SCSI_CDB_VAR) + 40)

static const LayoutCase layout_cases[] = {
    {"port layout",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     TRUE,
     TRUE},
    {"bidirectional block first",
     L_EXEC,
     L_AT + sizeof(SRBEX_DATA_BIDIRECTIONAL) + sizeof(SRBEX_DATA_SCSI_CDB16),
     EX_ADDRESS_OFFSET,
     L_BTL,
     2,
     {L_AT, L_AT + sizeof(SRBEX_DATA_BIDIRECTIONAL)},
     {{L_BIDI, L_AT}, {L_CDB16, L_AT + sizeof(SRBEX_DATA_BIDIRECTIONAL)}},
     1,
     TRUE,
     TRUE},
    {"cut CDB16 first, CDB32 second",
     L_EXEC,
     L_AT + sizeof(SRBEX_DATA_SCSI_CDB32) + sizeof(SRBEX_DATA_SCSI_CDB16) - 1,
     EX_ADDRESS_OFFSET,
     L_BTL,
     2,
     {L_AT + sizeof(SRBEX_DATA_SCSI_CDB32), L_AT},
     {{L_CDB16, L_AT + sizeof(SRBEX_DATA_SCSI_CDB32)}, {L_CDB32, L_AT}},
     1,
     TRUE,
     TRUE},
    {"two CDB blocks",
     L_EXEC,
     L_AT + sizeof(SRBEX_DATA_SCSI_CDB16) + sizeof(SRBEX_DATA_SCSI_CDB32),
     EX_ADDRESS_OFFSET,
     L_BTL,
     2,
     {L_AT, L_AT + sizeof(SRBEX_DATA_SCSI_CDB16)},
     {{L_CDB16, L_AT}, {L_CDB32, L_AT + sizeof(SRBEX_DATA_SCSI_CDB16)}},
     0,
     TRUE,
     TRUE},
    {"variable CDB",
     L_EXEC,
     L_AT + L_VAR_SIZE,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_VAR, L_AT}, {0, 0}},
     0,
     TRUE,
     TRUE},
    {"CDB32 only",
     L_EXEC,
     L_AT + sizeof(SRBEX_DATA_SCSI_CDB32),
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB32, L_AT}, {0, 0}},
     0,
     TRUE,
     TRUE},
    {"first offset past SrbLength",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     2,
     {4096, L_AT},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     TRUE,
     TRUE},
    {"first offset inside header",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     2,
     {64, L_AT},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     TRUE,
     TRUE},
    {"first offset 0",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     2,
     {0, L_AT},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     TRUE,
     TRUE},
    {"only offset past SrbLength",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {EX_LENGTH, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     LAYOUT_NONE,
     TRUE,
     TRUE},
    {"block cut by SrbLength",
     L_EXEC,
     EX_LENGTH - 1,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     LAYOUT_NONE,
     TRUE,
     TRUE},
    {"offset wraps",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {0xFFFFFFF8u, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     LAYOUT_NONE,
     TRUE,
     TRUE},
    {"no data blocks",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     0,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     LAYOUT_NONE,
     TRUE,
     TRUE},
    {"offset slots past SrbLength",
     L_EXEC,
     120,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     LAYOUT_NONE,
     FALSE,
     FALSE},
    {"only a bidirectional block",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_BIDI, L_AT}, {0, 0}},
     LAYOUT_NONE,
     TRUE,
     TRUE},
    {"address not BTL8",
     L_EXEC,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     STOR_ADDRESS_TYPE_UNKNOWN,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     FALSE,
     TRUE},
    {"address cut by SrbLength",
     L_EXEC,
     EX_LENGTH + 8,
     EX_LENGTH,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     FALSE,
     TRUE},
    {"address header cut",
     L_EXEC,
     EX_LENGTH + 4,
     EX_LENGTH,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     FALSE,
     FALSE},
    {"address inside header",
     L_EXEC,
     EX_LENGTH,
     64,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     FALSE,
     FALSE},
    {"no address",
     L_EXEC,
     EX_LENGTH,
     0,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     0,
     FALSE,
     FALSE},
    {"not EXECUTE_SCSI",
     SRB_FUNCTION_IO_CONTROL,
     EX_LENGTH,
     EX_ADDRESS_OFFSET,
     L_BTL,
     1,
     {L_AT, 0},
     {{L_CDB16, L_AT}, {0, 0}},
     LAYOUT_NONE,
     TRUE,
     TRUE},
};

/* Block k's SCSI fields: distinct per block so a wrong pick shows. */
static void layout_fill_block(SrbExBuffer *b, ULONG type, ULONG offset, int k,
                              UCHAR *sense)
{
    PUCHAR at = b->bytes + offset;

    if (type == L_CDB16 || type == L_CDB32) {
        PSRBEX_DATA_SCSI_CDB16 d = (PSRBEX_DATA_SCSI_CDB16)at;

        d->Type = (SRBEXDATATYPE)type;
        d->Length = type == L_CDB16 ? SRBEX_DATA_SCSI_CDB16_LENGTH
                                    : SRBEX_DATA_SCSI_CDB32_LENGTH;
        d->ScsiStatus = (UCHAR)(0x10 + k);
        d->SenseInfoBufferLength = (UCHAR)(0x20 + k);
        d->CdbLength = (UCHAR)(6 + 4 * k);
        d->SenseInfoBuffer = sense + k;
        d->Cdb[0] = (UCHAR)(0x30 + k);
    } else if (type == L_VAR) {
        PSRBEX_DATA_SCSI_CDB_VAR d = (PSRBEX_DATA_SCSI_CDB_VAR)at;

        d->Type = SrbExDataTypeScsiCdbVar;
        d->Length = SRBEX_DATA_SCSI_CDB_VAR_LENGTH_MIN + 40;
        d->ScsiStatus = (UCHAR)(0x10 + k);
        d->SenseInfoBufferLength = (UCHAR)(0x20 + k);
        d->CdbLength = 40;
        d->SenseInfoBuffer = sense + k;
        d->Cdb[0] = (UCHAR)(0x30 + k);
    } else if (type == L_BIDI) {
        PSRBEX_DATA_BIDIRECTIONAL d = (PSRBEX_DATA_BIDIRECTIONAL)at;

        /* Bytes that would look like a CDB16 block's fields. */
        memset(d, 0x5A, sizeof(*d));
        d->Type = SrbExDataTypeBidirectional;
        d->Length = SRBEX_DATA_BIDIRECTIONAL_LENGTH;
    }
}

static void layout_build(const LayoutCase *c, SrbExBuffer *b, UCHAR *sense)
{
    PSTORAGE_REQUEST_BLOCK x = &b->srb;
    PSTOR_ADDR_BTL8 a;

    memset(b, 0, sizeof(*b));
    x->Length = sizeof(STORAGE_REQUEST_BLOCK_HEADER);
    x->Function = SRB_FUNCTION_STORAGE_REQUEST_BLOCK;
    x->Signature = SRB_SIGNATURE;
    x->Version = STORAGE_REQUEST_BLOCK_VERSION_1;
    x->SrbLength = c->srbLength;
    x->SrbFunction = c->srbFunction;
    x->AddressOffset = c->addressOffset;
    x->NumSrbExData = c->numSrbExData;
    /* Slot 1 is the header's tail padding: inside the buffer either way. */
    x->SrbExDataOffset[0] = c->offsets[0];
    ((PULONG)(b->bytes + FIELD_OFFSET(STORAGE_REQUEST_BLOCK,
                                      SrbExDataOffset)))[1] = c->offsets[1];
    for (int k = 0; k < LAYOUT_BLOCKS; k++) {
        if (c->blocks[k].type != 0) {
            layout_fill_block(b, c->blocks[k].type, c->blocks[k].offset, k,
                              sense);
        }
    }
    if (c->addressOffset >= sizeof(STORAGE_REQUEST_BLOCK)) {
        a = (PSTOR_ADDR_BTL8)(b->bytes + c->addressOffset);
        a->Type = c->addressType;
        a->AddressLength = STOR_ADDR_BTL8_ADDRESS_LENGTH;
        a->Path = 2;
        a->Target = 3;
        a->Lun = 4;
    }
}

static void layout_check_getters(const LayoutCase *c, SrbExBuffer *b,
                                 UCHAR *sense)
{
    PSTORAGE_REQUEST_BLOCK x = &b->srb;
    int k = c->scsi;
    ULONG type = k != LAYOUT_NONE ? c->blocks[k].type : 0;
    PUCHAR block = k != LAYOUT_NONE ? b->bytes + c->blocks[k].offset : NULL;
    PUCHAR cdb = type == L_VAR ? ((PSRBEX_DATA_SCSI_CDB_VAR)block)->Cdb
                 : block       ? ((PSRBEX_DATA_SCSI_CDB16)block)->Cdb
                               : NULL;
    UCHAR length8 = LAYOUT_UNSET8, status = LAYOUT_UNSET8;
    UCHAR senseLength = LAYOUT_UNSET8;
    ULONG length32 = LAYOUT_UNSET;
    PVOID senseBuffer = (PVOID)b;
    UCHAR path = 0xEE, target = 0xEE, lun = 0xEE;
    PCDB got;

    got = SrbGetScsiData(x, &length8, &length32, &status, &senseBuffer,
                         &senseLength);
    g_assert_true(got == (PCDB)cdb);
    g_assert_true(SrbGetCdb(x) == (PCDB)cdb);
    if (k == LAYOUT_NONE && c->srbFunction != L_EXEC) {
        /* Not a SCSI request: every output says "nothing". */
        g_assert_cmpuint(length8, ==, 0);
        g_assert_cmpuint(length32, ==, 0);
        g_assert_cmpuint(status, ==, SCSISTAT_GOOD);
        g_assert_null(senseBuffer);
        g_assert_cmpuint(senseLength, ==, 0);
    } else if (k == LAYOUT_NONE) {
        /* No CDB block: the outputs are left alone. */
        g_assert_cmphex(length8, ==, LAYOUT_UNSET8);
        g_assert_cmphex(length32, ==, LAYOUT_UNSET);
        g_assert_cmphex(status, ==, LAYOUT_UNSET8);
        g_assert_true(senseBuffer == (PVOID)b);
        g_assert_cmphex(senseLength, ==, LAYOUT_UNSET8);
    } else {
        g_assert_cmpuint(length8, ==,
                         type == L_VAR ? LAYOUT_UNSET8 : (ULONG)(6 + 4 * k));
        g_assert_cmpuint(length32, ==, type == L_VAR ? 40 : LAYOUT_UNSET);
        g_assert_cmphex(status, ==, 0x10 + k);
        g_assert_true(senseBuffer == (PVOID)(sense + k));
        g_assert_cmphex(senseLength, ==, 0x20 + k);
        g_assert_cmphex(cdb[0], ==, 0x30 + k);
    }
    g_assert_cmpuint(SrbGetCdbLength(x), ==,
                     k == LAYOUT_NONE || type == L_VAR ? 0 : 6 + 4 * k);
    g_assert_cmphex(SrbGetScsiStatus(x), ==, k == LAYOUT_NONE ? 0 : 0x10 + k);
    g_assert_true(SrbGetSenseInfoBuffer(x) ==
                  (k == LAYOUT_NONE ? NULL : (PVOID)(sense + k)));
    g_assert_cmphex(SrbGetSenseInfoBufferLength(x), ==,
                    k == LAYOUT_NONE ? 0 : 0x20 + k);
    g_assert_true(
        SrbGetAddress(x) ==
        (c->address ? (PSTOR_ADDRESS)(b->bytes + c->addressOffset) : NULL));
    SrbGetPathTargetLun(x, &path, &target, &lun);
    g_assert_cmpuint(path, ==, c->btl ? 2 : 0xEE);
    g_assert_cmpuint(target, ==, c->btl ? 3 : 0xEE);
    g_assert_cmpuint(lun, ==, c->btl ? 4 : 0xEE);
    path = 0xEE;
    SrbGetPathTargetLun(x, &path, NULL, NULL);
    g_assert_cmpuint(path, ==, c->btl ? 2 : 0xEE);
    g_assert_cmpuint(SrbGetPathId(x), ==, c->btl ? 2 : 0);
    g_assert_cmpuint(SrbGetTargetId(x), ==, c->btl ? 3 : 0);
    g_assert_cmpuint(SrbGetLun(x), ==, c->btl ? 4 : 0);
}

/* Each setter must change exactly the chosen block's field, or nothing. */
static void layout_check_setters(const LayoutCase *c, UCHAR *sense)
{
    static const int setters = 6;
    int k = c->scsi;
    ULONG type = k != LAYOUT_NONE ? c->blocks[k].type : 0;

    for (int s = 0; s < setters; s++) {
        SrbExBuffer b, want;
        PSRBEX_DATA_SCSI_CDB16 d16;
        PSRBEX_DATA_SCSI_CDB_VAR dv;
        UCHAR status = 0x77, length8 = 9, senseLength = 0x44;
        ULONG length32 = 12;
        PVOID buffer = sense + 7;

        layout_build(c, &b, sense);
        want = b;
        d16 = k != LAYOUT_NONE
                  ? (PSRBEX_DATA_SCSI_CDB16)(want.bytes + c->blocks[k].offset)
                  : NULL;
        dv = (PSRBEX_DATA_SCSI_CDB_VAR)d16;
        switch (s) {
        case 0:
            SrbSetScsiStatus(&b.srb, status);
            break;
        case 1:
            SrbSetCdbLength(&b.srb, length8);
            break;
        case 2:
            SrbSetSenseInfoBuffer(&b.srb, buffer);
            break;
        case 3:
            SrbSetSenseInfoBufferLength(&b.srb, senseLength);
            break;
        case 4:
            SrbSetScsiData(&b.srb, &length8, &length32, &status, &buffer,
                           &senseLength);
            break;
        default:
            SrbSetScsiData(&b.srb, NULL, NULL, NULL, NULL, NULL);
            break;
        }
        if (d16 != NULL && type == L_VAR) {
            dv->ScsiStatus = s == 0 || s == 4 ? status : dv->ScsiStatus;
            dv->CdbLength = s == 4 ? length32 : dv->CdbLength;
            dv->SenseInfoBuffer =
                s == 2 || s == 4 ? buffer : dv->SenseInfoBuffer;
            dv->SenseInfoBufferLength =
                s == 3 || s == 4 ? senseLength : dv->SenseInfoBufferLength;
        } else if (d16 != NULL) {
            d16->ScsiStatus = s == 0 || s == 4 ? status : d16->ScsiStatus;
            d16->CdbLength = s == 1 || s == 4 ? length8 : d16->CdbLength;
            d16->SenseInfoBuffer =
                s == 2 || s == 4 ? buffer : d16->SenseInfoBuffer;
            d16->SenseInfoBufferLength =
                s == 3 || s == 4 ? senseLength : d16->SenseInfoBufferLength;
        }
        g_test_message("setter %d", s);
        g_assert_cmpmem(b.bytes, sizeof(b.bytes), want.bytes,
                        sizeof(want.bytes));
    }
}

static void test_srbex_accessor_layouts(void)
{
    UCHAR sense[16];

    for (size_t i = 0; i < G_N_ELEMENTS(layout_cases); i++) {
        const LayoutCase *c = &layout_cases[i];
        SrbExBuffer b;

        g_test_message("layout: %s", c->what);
        layout_build(c, &b, sense);
        layout_check_getters(c, &b, sense);
        layout_check_setters(c, sense);
    }
}

/* The same accessors on a classic SRB read and write its own fields. */
static void test_srb_accessors_classic(void)
{
    SrbPair p;
    SCSI_REQUEST_BLOCK want;
    PSCSI_REQUEST_BLOCK c = &p.classic;
    UCHAR length8 = LAYOUT_UNSET8, status = LAYOUT_UNSET8;
    UCHAR senseLength = LAYOUT_UNSET8;
    ULONG length32 = LAYOUT_UNSET;
    PVOID senseBuffer = &p;
    UCHAR path = 0xEE, target = 0xEE, lun = 0xEE;
    UCHAR newStatus = SCSISTAT_BUSY;

    srb_pair_init(&p);
    c->ScsiStatus = 0x12;
    /* No CDB blocks: SrbGetScsiData says "nothing" for a classic SRB. */
    g_assert_null(SrbGetScsiData((PSTORAGE_REQUEST_BLOCK)c, &length8, &length32,
                                 &status, &senseBuffer, &senseLength));
    g_assert_cmpuint(length8, ==, 0);
    g_assert_cmpuint(length32, ==, 0);
    g_assert_cmpuint(status, ==, SCSISTAT_GOOD);
    g_assert_null(senseBuffer);
    g_assert_cmpuint(senseLength, ==, 0);
    g_assert_true(SrbGetCdb(c) == (PCDB)c->Cdb);
    g_assert_cmpuint(SrbGetCdbLength(c), ==, 10);
    g_assert_cmphex(SrbGetScsiStatus(c), ==, 0x12);
    g_assert_true(SrbGetSenseInfoBuffer(c) == p.sense);
    g_assert_cmpuint(SrbGetSenseInfoBufferLength(c), ==, sizeof(p.sense));
    g_assert_null(SrbGetAddress((PSTORAGE_REQUEST_BLOCK)c));
    SrbGetPathTargetLun(c, &path, &target, &lun);
    g_assert_cmpuint(path, ==, 2);
    g_assert_cmpuint(target, ==, 3);
    g_assert_cmpuint(lun, ==, 4);

    want = *c;
    SrbSetScsiData((PSTORAGE_REQUEST_BLOCK)c, &length8, &length32, &newStatus,
                   &senseBuffer, &senseLength);
    g_assert_cmpmem(c, sizeof(*c), &want, sizeof(want));
    SrbSetScsiStatus(c, newStatus);
    SrbSetCdbLength(c, 6);
    SrbSetSenseInfoBuffer(c, NULL);
    SrbSetSenseInfoBufferLength(c, 5);
    want.ScsiStatus = newStatus;
    want.CdbLength = 6;
    want.SenseInfoBuffer = NULL;
    want.SenseInfoBufferLength = 5;
    g_assert_cmpmem(c, sizeof(*c), &want, sizeof(want));
}

static void test_srb_copy_and_zero(void)
{
    SrbPair p;
    SrbExBuffer copy;
    SCSI_REQUEST_BLOCK classicCopy;

    srb_pair_init(&p);

    g_assert_false(SrbCopySrb(&copy, EX_LENGTH - 1, &p.ex.srb));
    g_assert_true(SrbCopySrb(&copy, sizeof(copy), &p.ex.srb));
    g_assert_cmpmem(copy.bytes, EX_LENGTH, p.ex.bytes, EX_LENGTH);
    g_assert_false(SrbCopySrb(&classicCopy, 87, &p.classic));
    g_assert_true(SrbCopySrb(&classicCopy, sizeof(classicCopy), &p.classic));
    g_assert_cmpmem(&classicCopy, sizeof(classicCopy), &p.classic,
                    sizeof(p.classic));

    SrbZeroSrb(&copy.srb);
    g_assert_cmpuint(copy.srb.Function, ==, SRB_FUNCTION_STORAGE_REQUEST_BLOCK);
    g_assert_cmpuint(copy.srb.Length, ==, p.ex.srb.Length);
    g_assert_cmpuint(copy.srb.SrbLength, ==, EX_LENGTH);
    g_assert_cmpuint(copy.srb.Signature, ==, 0);
    g_assert_cmpuint(copy.srb.NumSrbExData, ==, 0);
    g_assert_null(copy.srb.DataBuffer);

    SrbZeroSrb(&classicCopy);
    g_assert_cmpuint(classicCopy.Function, ==, SRB_FUNCTION_EXECUTE_SCSI);
    g_assert_cmpuint(classicCopy.Length, ==, sizeof(classicCopy));
    g_assert_cmpuint(classicCopy.Lun, ==, 0);
    g_assert_cmpuint(classicCopy.Cdb[0], ==, 0);
}

/*
 * The accessors on a classic SRB that is an object of its own (not inside
 * a larger buffer): no access may go past its 88 bytes.  Built with -O2
 * and -Werror this also guards against -Warray-bounds in the extended
 * branches; under ASan it checks the bytes really touched.
 */
static void test_srb_standalone_classic(void)
{
    PSCSI_REQUEST_BLOCK srb = g_malloc0(sizeof(SCSI_REQUEST_BLOCK));
    UCHAR path = 9, target = 9, lun = 9;

    srb->Length = sizeof(*srb);
    srb->Function = SRB_FUNCTION_EXECUTE_SCSI;
    srb->PathId = 1;
    srb->TargetId = 2;
    srb->Lun = 3;
    srb->CdbLength = 6;
    srb->Cdb[0] = SCSIOP_TEST_UNIT_READY;
    srb->SrbExtension = srb;

    g_assert_true(SrbGetCdb(srb) == (PCDB)srb->Cdb);
    g_assert_cmpuint(SrbGetCdbLength(srb), ==, 6);
    g_assert_cmpuint(SrbGetSrbLength(srb), ==, sizeof(*srb));
    g_assert_cmphex(SrbGetSrbFunction(srb), ==, SRB_FUNCTION_EXECUTE_SCSI);
    g_assert_null(SrbGetAddress((PSTORAGE_REQUEST_BLOCK)srb));
    g_assert_null(SrbGetSrbExDataByIndex((PSTORAGE_REQUEST_BLOCK)srb, 0));
    g_assert_null(SrbGetPrimarySrbExData((PSTORAGE_REQUEST_BLOCK)srb));
    g_assert_null(SrbGetScsiData((PSTORAGE_REQUEST_BLOCK)srb, NULL, NULL, NULL,
                                 NULL, NULL));
    SrbGetPathTargetLun(srb, &path, &target, &lun);
    g_assert_cmpuint(path * 100 + target * 10 + lun, ==, 123);
    g_assert_true(SrbGetMiniportContext(srb) == srb);
    SrbSetDataTransferLength(srb, 4096);
    SrbSetSrbFlags(srb, SRB_FLAGS_DATA_OUT);
    SrbSetScsiStatus(srb, SCSISTAT_BUSY);
    g_assert_cmpuint(srb->DataTransferLength, ==, 4096);
    g_assert_cmphex(srb->SrbFlags, ==, SRB_FLAGS_DATA_OUT);
    g_assert_cmphex(srb->ScsiStatus, ==, SCSISTAT_BUSY);
    SrbZeroSrb(srb);
    g_assert_cmpuint(srb->Length, ==, sizeof(*srb));
    g_assert_cmpuint(srb->DataTransferLength, ==, 0);
    g_free(srb);
}

/* --- Miniport role typedefs ----------------------------------------------- */

/*
 * Declaring miniport routines with the role typedefs and storing them in
 * HW_INITIALIZATION_DATA must compile without casts, as in a real
 * DriverEntry; calling through the table reaches them.
 */
static HW_INITIALIZE test_hw_initialize;
static HW_STARTIO test_hw_start_io;
static HW_FIND_ADAPTER test_hw_find_adapter;
static HW_ADAPTER_CONTROL test_hw_adapter_control;
static HW_UNIT_CONTROL test_hw_unit_control;
static HW_DPC_ROUTINE test_hw_dpc;
static HW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE test_hw_msi;

static ULONG role_calls;

static BOOLEAN test_hw_initialize(PVOID DeviceExtension)
{
    role_calls |= 1;
    return DeviceExtension != NULL;
}

static BOOLEAN test_hw_start_io(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    role_calls |= 2;
    SrbSetSrbStatus(Srb, SRB_STATUS_SUCCESS);
    return TRUE;
}

static ULONG test_hw_find_adapter(PVOID DeviceExtension, PVOID HwContext,
                                  PVOID BusInformation, PCHAR ArgumentString,
                                  PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                                  PBOOLEAN Reserved3)
{
    role_calls |= 4;
    ConfigInfo->SynchronizationModel = StorSynchronizeFullDuplex;
    ConfigInfo->MaximumTransferLength = 0x20000;
    return SP_RETURN_FOUND;
}

static SCSI_ADAPTER_CONTROL_STATUS
test_hw_adapter_control(PVOID DeviceExtension,
                        SCSI_ADAPTER_CONTROL_TYPE ControlType, PVOID Parameters)
{
    PSCSI_SUPPORTED_CONTROL_TYPE_LIST list = Parameters;

    role_calls |= 8;
    if (ControlType == ScsiQuerySupportedControlTypes) {
        for (ULONG t = 0; t < list->MaxControlType; t++) {
            list->SupportedTypeList[t] =
                t == ScsiStopAdapter || t == ScsiRestartAdapter;
        }
    }
    return ScsiAdapterControlSuccess;
}

static SCSI_UNIT_CONTROL_STATUS
test_hw_unit_control(PVOID DeviceExtension, SCSI_UNIT_CONTROL_TYPE ControlType,
                     PVOID Parameters)
{
    role_calls |= 16;
    return ScsiUnitControlUnsuccessful;
}

static VOID test_hw_dpc(PSTOR_DPC Dpc, PVOID HwDeviceExtension,
                        PVOID SystemArgument1, PVOID SystemArgument2)
{
    role_calls |= 32;
}

static BOOLEAN test_hw_msi(PVOID HwDeviceExtension, ULONG MessageId)
{
    role_calls |= 64;
    return MessageId == 3;
}

static void test_role_typedefs(void)
{
    HW_INITIALIZATION_DATA init;
    PORT_CONFIGURATION_INFORMATION config;
    SrbPair p;
    UCHAR ext[8];
    union {
        SCSI_SUPPORTED_CONTROL_TYPE_LIST list;
        UCHAR bytes[sizeof(ULONG) + ScsiAdapterControlMax];
    } supported;
    PHW_DPC_ROUTINE dpc = test_hw_dpc;
    PHW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE msi = test_hw_msi;
    BOOLEAN again = FALSE;

    memset(&init, 0, sizeof(init));
    init.HwInitializationDataSize = sizeof(init);
    init.AdapterInterfaceType = PCIBus;
    init.HwInitialize = test_hw_initialize;
    init.HwStartIo = test_hw_start_io;
    init.HwFindAdapter = test_hw_find_adapter;
    init.HwAdapterControl = test_hw_adapter_control;
    init.HwUnitControl = test_hw_unit_control;
    init.SrbTypeFlags = SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK;
    init.AddressTypeFlags = ADDRESS_TYPE_FLAG_BTL8;
    init.FeatureSupport = STOR_FEATURE_FULL_PNP_DEVICE_CAPABILITIES;
    init.MapBuffers = STOR_MAP_NON_READ_WRITE_BUFFERS;

    memset(&config, 0, sizeof(config));
    config.Length = sizeof(config);
    config.HwMSInterruptRoutine = test_hw_msi;
    srb_pair_init(&p);

    role_calls = 0;
    g_assert_true(init.HwInitialize(ext));
    g_assert_true(init.HwStartIo(ext, (PSCSI_REQUEST_BLOCK)&p.ex.srb));
    g_assert_cmphex(p.ex.srb.SrbStatus, ==, SRB_STATUS_SUCCESS);
    g_assert_cmpuint(init.HwFindAdapter(ext, NULL, NULL, NULL, &config, &again),
                     ==, SP_RETURN_FOUND);
    g_assert_cmpuint(config.SynchronizationModel, ==,
                     StorSynchronizeFullDuplex);

    memset(&supported, 0, sizeof(supported));
    supported.list.MaxControlType = ScsiAdapterControlMax;
    g_assert_cmpuint(init.HwAdapterControl(ext, ScsiQuerySupportedControlTypes,
                                           &supported.list),
                     ==, ScsiAdapterControlSuccess);
    g_assert_true(supported.list.SupportedTypeList[ScsiStopAdapter]);
    g_assert_true(supported.list.SupportedTypeList[ScsiRestartAdapter]);
    g_assert_false(supported.list.SupportedTypeList[ScsiAdapterPower]);
    g_assert_cmpuint(init.HwUnitControl(ext, ScsiUnitStart, NULL), ==,
                     ScsiUnitControlUnsuccessful);
    dpc(NULL, ext, NULL, NULL);
    g_assert_true(config.HwMSInterruptRoutine(ext, 3));
    g_assert_false(msi(ext, 4));
    g_assert_cmphex(role_calls, ==, 0x7F);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ddi/layout/sizes", test_sizes);
    g_test_add_func("/ddi/layout/alignments", test_alignments);
    g_test_add_func("/ddi/layout/offsets", test_offsets);
    g_test_add_func("/ddi/layout/bitfields", test_bitfields);
    g_test_add_func("/ddi/constants", test_constants);
    g_test_add_func("/ddi/helpers/memory", test_memory_helpers);
    g_test_add_func("/ddi/helpers/lists", test_lists);
    g_test_add_func("/ddi/helpers/interlocked", test_interlocked);
    g_test_add_func("/ddi/helpers/interlocked-wrap", test_interlocked_wrap);
    g_test_add_func("/ddi/srb/fixture-length", test_srb_layout_of_fixture);
    g_test_add_func("/ddi/srb/getters-agree", test_srb_getters_agree);
    g_test_add_func("/ddi/srb/setters-agree", test_srb_setters_agree);
    g_test_add_func("/ddi/srb/status-keeps-autosense",
                    test_srb_status_keeps_autosense);
    g_test_add_func("/ddi/srb/extended-malformed", test_srbex_malformed);
    g_test_add_func("/ddi/srb/extended-lookup", test_srbex_lookup);
    g_test_add_func("/ddi/srb/extended-long-cdbs", test_srbex_long_cdbs);
    g_test_add_func("/ddi/srb/extended-accessor-layouts",
                    test_srbex_accessor_layouts);
    g_test_add_func("/ddi/srb/classic-accessors", test_srb_accessors_classic);
    g_test_add_func("/ddi/srb/copy-and-zero", test_srb_copy_and_zero);
    g_test_add_func("/ddi/srb/standalone-classic", test_srb_standalone_classic);
    g_test_add_func("/ddi/roles/typedefs", test_role_typedefs);
    return g_test_run();
}
