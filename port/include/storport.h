/* SPDX-License-Identifier: MIT */
/*
 * The Storport miniport interface (storport.h): the structures a miniport
 * exchanges with the port driver (HW_INITIALIZATION_DATA,
 * PORT_CONFIGURATION_INFORMATION, scatter/gather lists, DPC and lock
 * objects, adapter/unit control parameters, ...), the role typedefs of the
 * miniport's Hw* routines, the notification and status codes, and the
 * prototype of every StorPort* routine a miniport may call.
 *
 * Names, field orders and values are those of the Windows DDI (reference:
 * MicrosoftDocs/windows-driver-docs-ddi, wdk-ddi-src/content/storport) so
 * that miniport sources build unchanged; layouts are the Windows x64 ones.
 *
 * Where the kit implements a StorPort* "routine" as an inline wrapper over
 * StorPortNotification or StorPortExtendedFunction, this header declares
 * it as an ordinary external function instead: port/ implements each one
 * directly, so the verifier sees the real call.  Only pure helpers that
 * need no port state are inline or macros here (address conversions,
 * StorPortCopyMemory).  Including this header pulls in scsi.h and srb.h,
 * as a miniport written against the kit expects.
 */
#ifndef STOREMU_STORPORT_H
#define STOREMU_STORPORT_H

#include "storport_types.h"
#include "scsi.h"
#include "srb.h"

#ifndef _NTSTORPORT_
#define _NTSTORPORT_
#endif

#ifndef STORPORT_API
#define STORPORT_API
#endif

/* Checked-build debug output, as the kit defines it. */
#ifndef DebugPrint
#if DBG
#define DebugPrint(x) StorPortDebugPrint x
#else
#define DebugPrint(x)
#endif
#endif

/* --- Limits --------------------------------------------------------------- */

#define SCSI_MAXIMUM_BUSES_PER_ADAPTER 255
#define SCSI_MAXIMUM_TARGETS_PER_BUS   128
#define SCSI_MAXIMUM_LUNS_PER_TARGET   255
#define SCSI_MINIMUM_PHYSICAL_BREAKS   16
#define SCSI_MAXIMUM_PHYSICAL_BREAKS   255
#define SCSI_MAXIMUM_BUSES             8
#define SCSI_MAXIMUM_TARGETS           8
#define SCSI_MAXIMUM_LOGICAL_UNITS     8

/* "Not set" for the ULONG limits of PORT_CONFIGURATION_INFORMATION. */
#define SP_UNINITIALIZED_VALUE ((ULONG)~0)
#define SP_UNTAGGED            ((UCHAR)~0)

/* HwStorFindAdapter return values. */
#define SP_RETURN_NOT_FOUND  0
#define SP_RETURN_FOUND      1
#define SP_RETURN_ERROR      2
#define SP_RETURN_BAD_CONFIG 3

/* StorPortLogError error codes. */
#define SP_BUS_PARITY_ERROR          0x0001
#define SP_UNEXPECTED_DISCONNECT     0x0002
#define SP_INVALID_RESELECTION       0x0003
#define SP_BUS_TIME_OUT              0x0004
#define SP_PROTOCOL_ERROR            0x0005
#define SP_INTERNAL_ADAPTER_ERROR    0x0006
#define SP_REQUEST_TIMEOUT           0x0007
#define SP_IRQ_NOT_RESPONDING        0x0008
#define SP_BAD_FW_WARNING            0x0009
#define SP_BAD_FW_ERROR              0x000a
#define SP_LOST_WMI_MINIPORT_REQUEST 0x000b

#define SP_VER_TRACE_SUPPORT 0x0010

/* --- Status codes of the ULONG-returning StorPort* routines --------------- */

#define STOR_STATUS_SUCCESS                (0x00000000L)
#define STOR_STATUS_UNSUCCESSFUL           (0xC1000001L)
#define STOR_STATUS_NOT_IMPLEMENTED        (0xC1000002L)
#define STOR_STATUS_INSUFFICIENT_RESOURCES (0xC1000003L)
#define STOR_STATUS_BUFFER_TOO_SMALL       (0xC1000004L)
#define STOR_STATUS_ACCESS_DENIED          (0xC1000005L)
#define STOR_STATUS_INVALID_PARAMETER      (0xC1000006L)
#define STOR_STATUS_INVALID_DEVICE_REQUEST (0xC1000007L)
#define STOR_STATUS_INVALID_IRQL           (0xC1000008L)
#define STOR_STATUS_INVALID_DEVICE_STATE   (0xC1000009L)
#define STOR_STATUS_INVALID_BUFFER_SIZE    (0xC100000AL)
#define STOR_STATUS_UNSUPPORTED_VERSION    (0xC100000BL)
#define STOR_STATUS_BUSY                   (0xC100000CL)
#define STOR_STATUS_THROTTLED_REQUEST      (0xC100000DL)
#define STOR_STATUS_TIMEOUT                (0xC100000EL)
#define STOR_STATUS_INVALID_DATA           (0xC100000FL)

/* --- Adapter resources and configuration ---------------------------------- */

typedef PHYSICAL_ADDRESS STOR_PHYSICAL_ADDRESS, *PSTOR_PHYSICAL_ADDRESS;

typedef struct _ACCESS_RANGE {
    STOR_PHYSICAL_ADDRESS RangeStart;
    ULONG RangeLength;
    BOOLEAN RangeInMemory; /* FALSE: I/O port space */
} ACCESS_RANGE, *PACCESS_RANGE;

typedef struct _MEMORY_REGION {
    PUCHAR VirtualBase;
    PHYSICAL_ADDRESS PhysicalBase;
    ULONG Length;
} MEMORY_REGION, *PMEMORY_REGION;

/*
 * Half duplex: HwStorStartIo runs at DIRQL, serialized with the ISR.
 * Full duplex: HwStorStartIo runs at DISPATCH_LEVEL, concurrently with it.
 */
typedef enum _STOR_SYNCHRONIZATION_MODEL {
    StorSynchronizeHalfDuplex,
    StorSynchronizeFullDuplex
} STOR_SYNCHRONIZATION_MODEL;

typedef enum _INTERRUPT_SYNCHRONIZATION_MODE {
    InterruptSupportNone,
    InterruptSynchronizeAll,
    InterruptSynchronizePerMessage
} INTERRUPT_SYNCHRONIZATION_MODE;

typedef BOOLEAN HW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE(PVOID HwDeviceExtension,
                                                      ULONG MessageId);
typedef HW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE
    *PHW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE;

typedef struct _MESSAGE_INTERRUPT_INFORMATION {
    ULONG MessageId;
    ULONG MessageData;
    STOR_PHYSICAL_ADDRESS MessageAddress;
    ULONG InterruptVector;
    ULONG InterruptLevel;
    KINTERRUPT_MODE InterruptMode;
} MESSAGE_INTERRUPT_INFORMATION, *PMESSAGE_INTERRUPT_INFORMATION;

/* HW_INITIALIZATION_DATA.MapBuffers */
#define STOR_MAP_NO_BUFFERS                       (0)
#define STOR_MAP_ALL_BUFFERS                      (1)
#define STOR_MAP_NON_READ_WRITE_BUFFERS           (2)
#define STOR_MAP_ALL_BUFFERS_INCLUDING_READ_WRITE (3)

typedef enum _STOR_DMA_WIDTH {
    DmaUnknown,
    Dma32Bit,
    Dma64BitScatterGather,
    Dma64Bit
} STOR_DMA_WIDTH;

typedef struct _PORT_CONFIGURATION_INFORMATION {
    ULONG Length;
    ULONG SystemIoBusNumber;
    INTERFACE_TYPE AdapterInterfaceType;
    ULONG BusInterruptLevel;
    ULONG BusInterruptVector;
    KINTERRUPT_MODE InterruptMode;
    ULONG MaximumTransferLength;
    ULONG NumberOfPhysicalBreaks;
    ULONG DmaChannel;
    ULONG DmaPort;
    DMA_WIDTH DmaWidth;
    DMA_SPEED DmaSpeed;
    ULONG AlignmentMask;
    ULONG NumberOfAccessRanges;
    ACCESS_RANGE (*AccessRanges)[];
    PVOID MiniportDumpData;
    UCHAR NumberOfBuses;
    CCHAR InitiatorBusId[8];
    BOOLEAN ScatterGather;
    BOOLEAN Master;
    BOOLEAN CachesData;
    BOOLEAN AdapterScansDown;
    BOOLEAN AtdiskPrimaryClaimed;
    BOOLEAN AtdiskSecondaryClaimed;
    BOOLEAN Dma32BitAddresses;
    BOOLEAN DemandMode;
    UCHAR MapBuffers;
    BOOLEAN NeedPhysicalAddresses;
    BOOLEAN TaggedQueuing;
    BOOLEAN AutoRequestSense;
    BOOLEAN MultipleRequestPerLu;
    BOOLEAN ReceiveEvent;
    BOOLEAN RealModeInitialized;
    BOOLEAN BufferAccessScsiPortControlled;
    UCHAR MaximumNumberOfTargets;
    UCHAR SrbType;
    UCHAR AddressType;
    ULONG SlotNumber;
    ULONG BusInterruptLevel2;
    ULONG BusInterruptVector2;
    KINTERRUPT_MODE InterruptMode2;
    ULONG DmaChannel2;
    ULONG DmaPort2;
    DMA_WIDTH DmaWidth2;
    DMA_SPEED DmaSpeed2;
    ULONG DeviceExtensionSize;
    ULONG SpecificLuExtensionSize;
    ULONG SrbExtensionSize;
    UCHAR Dma64BitAddresses;
    BOOLEAN ResetTargetSupported;
    UCHAR MaximumNumberOfLogicalUnits;
    BOOLEAN WmiDataProvider;
    STOR_SYNCHRONIZATION_MODEL SynchronizationModel;
    PHW_MESSAGE_SIGNALED_INTERRUPT_ROUTINE HwMSInterruptRoutine;
    INTERRUPT_SYNCHRONIZATION_MODE InterruptSynchronizationMode;
    MEMORY_REGION DumpRegion;
    ULONG RequestedDumpBufferSize;
    BOOLEAN VirtualDevice;
    UCHAR DumpMode;
    UCHAR DmaAddressWidth;
    ULONG ExtendedFlags1;
    ULONG MaxNumberOfIO;
    ULONG MaxIOsPerLun;
    ULONG InitialLunQueueDepth;
    ULONG BusResetHoldTime;
    ULONG FeatureSupport;
} PORT_CONFIGURATION_INFORMATION, *PPORT_CONFIGURATION_INFORMATION;

/* PORT_CONFIGURATION_INFORMATION.FeatureSupport */
#define STOR_ADAPTER_FEATURE_DEVICE_TELEMETRY            0x00000001
#define STOR_ADAPTER_FEATURE_STOP_UNIT_DURING_POWER_DOWN 0x00000002
#define STOR_ADAPTER_DMA_V3_PREFERRED                    0x00000008
#define STOR_ADAPTER_FEATURE_RICH_TEMPERATURE_THRESHOLD  0x00000020

/* PORT_CONFIGURATION_INFORMATION.DumpMode */
#define DUMP_MODE_CRASH       0x01
#define DUMP_MODE_HIBER       0x02
#define DUMP_MODE_MARK_MEMORY 0x03
#define DUMP_MODE_RESUME      0x04

/* PORT_CONFIGURATION_INFORMATION.Dma64BitAddresses */
#define SCSI_DMA64_MINIPORT_SUPPORTED                           0x01
#define SCSI_DMA64_MINIPORT_FULL64BIT_SUPPORTED                 0x02
#define SCSI_DMA64_MINIPORT_FULL64BIT_NO_BOUNDARY_REQ_SUPPORTED 0x03
#define SCSI_DMA64_SYSTEM_SUPPORTED                             0x80

/* --- Scatter/gather ------------------------------------------------------- */

typedef struct _STOR_SCATTER_GATHER_ELEMENT {
    STOR_PHYSICAL_ADDRESS PhysicalAddress;
    ULONG Length;
    ULONG_PTR Reserved;
} STOR_SCATTER_GATHER_ELEMENT, *PSTOR_SCATTER_GATHER_ELEMENT;

typedef struct _STOR_SCATTER_GATHER_LIST {
    ULONG NumberOfElements;
    ULONG_PTR Reserved;
    STOR_SCATTER_GATHER_ELEMENT List[];
} STOR_SCATTER_GATHER_LIST, *PSTOR_SCATTER_GATHER_LIST;

typedef enum _GETSGSTATUS {
    SG_ALLOCATED = 0,
    SG_BUFFER_TOO_SMALL
} GETSGSTATUS,
    *PGETSGSTATUS;

/* --- Bus types (StorPortSetAdapterBusType, ScsiUnitQueryBusType) ---------- */

typedef enum _STORAGE_BUS_TYPE {
    BusTypeUnknown = 0x00,
    BusTypeScsi,
    BusTypeAtapi,
    BusTypeAta,
    BusType1394,
    BusTypeSsa,
    BusTypeFibre,
    BusTypeUsb,
    BusTypeRAID,
    BusTypeiScsi,
    BusTypeSas,
    BusTypeSata,
    BusTypeSd,
    BusTypeMmc,
    BusTypeVirtual,
    BusTypeFileBackedVirtual,
    BusTypeSpaces,
    BusTypeNvme,
    BusTypeSCM,
    BusTypeUfs,
    BusTypeMax,
    BusTypeMaxReserved = 0x7F
} STORAGE_BUS_TYPE,
    *PSTORAGE_BUS_TYPE;

/* --- HwStorAdapterControl ------------------------------------------------- */

typedef enum _SCSI_ADAPTER_CONTROL_TYPE {
    ScsiQuerySupportedControlTypes = 0,
    ScsiStopAdapter,
    ScsiRestartAdapter,
    ScsiSetBootConfig,
    ScsiSetRunningConfig,
    ScsiPowerSettingNotification,
    ScsiAdapterPower,
    ScsiAdapterPoFxPowerRequired,
    ScsiAdapterPoFxPowerActive,
    ScsiAdapterPoFxPowerSetFState,
    ScsiAdapterPoFxPowerControl,
    ScsiAdapterPrepareForBusReScan,
    ScsiAdapterSystemPowerHints,
    ScsiAdapterFilterResourceRequirements,
    ScsiAdapterPoFxMaxOperationalPower,
    ScsiAdapterPoFxSetPerfState,
    ScsiAdapterSurpriseRemoval,
    ScsiAdapterSerialNumber,
    ScsiAdapterCryptoOperation,
    ScsiAdapterQueryFruId,
    ScsiAdapterSetEventLogging,
    ScsiAdapterControlMax,
    MakeAdapterControlTypeSizeOfUlong = 0xffffffff
} SCSI_ADAPTER_CONTROL_TYPE,
    *PSCSI_ADAPTER_CONTROL_TYPE;

typedef enum _SCSI_ADAPTER_CONTROL_STATUS {
    ScsiAdapterControlSuccess = 0,
    ScsiAdapterControlUnsuccessful
} SCSI_ADAPTER_CONTROL_STATUS,
    *PSCSI_ADAPTER_CONTROL_STATUS;

/*
 * Parameters of ScsiQuerySupportedControlTypes (and of the unit-control
 * equivalent).  The port sets MaxControlType to the number of entries;
 * the miniport sets SupportedTypeList[type] = TRUE for each type it
 * handles, never writing at or past MaxControlType.
 */
typedef struct _SCSI_SUPPORTED_CONTROL_TYPE_LIST {
    ULONG MaxControlType;
    BOOLEAN SupportedTypeList[];
} SCSI_SUPPORTED_CONTROL_TYPE_LIST, *PSCSI_SUPPORTED_CONTROL_TYPE_LIST;

typedef struct _STOR_POWER_CONTROL_HEADER {
    ULONG Version;
    ULONG Size;
    PSTOR_ADDRESS Address;
} STOR_POWER_CONTROL_HEADER, *PSTOR_POWER_CONTROL_HEADER;

/* ScsiPowerSettingNotification */
typedef struct _STOR_POWER_SETTING_INFO {
    GUID PowerSettingGuid;
    PVOID Value;
    ULONG ValueLength;
} STOR_POWER_SETTING_INFO, *PSTOR_POWER_SETTING_INFO;

/* ScsiAdapterPower */
typedef struct _STOR_ADAPTER_CONTROL_POWER {
    STOR_POWER_CONTROL_HEADER Header;
    STOR_POWER_ACTION PowerAction;
    STOR_DEVICE_POWER_STATE PowerState;
} STOR_ADAPTER_CONTROL_POWER, *PSTOR_ADAPTER_CONTROL_POWER;

typedef enum _RAID_SYSTEM_POWER {
    RaidSystemPowerUnknown = 0,
    RaidSystemPowerLowest,
    RaidSystemPowerLow,
    RaidSystemPowerMedium,
    RaidSystemPowerHigh
} RAID_SYSTEM_POWER,
    *PRAID_SYSTEM_POWER;

/* ScsiAdapterSystemPowerHints */
typedef struct _STOR_SYSTEM_POWER_HINTS {
    ULONG Version;
    ULONG Size;
    RAID_SYSTEM_POWER SystemPower;
    ULONG ResumeLatencyMSec;
} STOR_SYSTEM_POWER_HINTS, *PSTOR_SYSTEM_POWER_HINTS;

/* ScsiAdapterFilterResourceRequirements */
typedef struct _STOR_FILTER_RESOURCE_REQUIREMENTS {
    ULONG Version;
    ULONG Size;
    PIO_RESOURCE_REQUIREMENTS_LIST IoResourceRequirementsList;
} STOR_FILTER_RESOURCE_REQUIREMENTS, *PSTOR_FILTER_RESOURCE_REQUIREMENTS;

#define STOR_FILTER_RESOURCE_REQUIREMENTS_V1 0x1

/* --- HwStorUnitControl ---------------------------------------------------- */

typedef enum _SCSI_UNIT_CONTROL_TYPE {
    ScsiQuerySupportedUnitControlTypes = 0,
    ScsiUnitUsage,
    ScsiUnitStart,
    ScsiUnitPower,
    ScsiUnitPoFxPowerInfo,
    ScsiUnitPoFxPowerRequired,
    ScsiUnitPoFxPowerActive,
    ScsiUnitPoFxPowerSetFState,
    ScsiUnitPoFxPowerControl,
    ScsiUnitRemove,
    ScsiUnitSurpriseRemoval,
    ScsiUnitRichDescription,
    ScsiUnitQueryBusType,
    ScsiUnitQueryFruId,
    ScsiUnitReportInternalData,
    ScsiUnitControlMax,
    MakeUnitControlTypeSizeOfUlong = 0xffffffff
} SCSI_UNIT_CONTROL_TYPE,
    *PSCSI_UNIT_CONTROL_TYPE;

typedef enum _SCSI_UNIT_CONTROL_STATUS {
    ScsiUnitControlSuccess = 0,
    ScsiUnitControlUnsuccessful
} SCSI_UNIT_CONTROL_STATUS,
    *PSCSI_UNIT_CONTROL_STATUS;

/* ScsiUnitPower */
typedef struct _STOR_UNIT_CONTROL_POWER {
    PSTOR_ADDRESS Address;
    STOR_POWER_ACTION PowerAction;
    STOR_DEVICE_POWER_STATE PowerState;
} STOR_UNIT_CONTROL_POWER, *PSTOR_UNIT_CONTROL_POWER;

/* ScsiUnitPoFxPowerInfo */
typedef struct _STOR_POFX_UNIT_POWER_INFO {
    STOR_POWER_CONTROL_HEADER Header;
    BOOLEAN IdlePowerEnabled;
} STOR_POFX_UNIT_POWER_INFO, *PSTOR_POFX_UNIT_POWER_INFO;

/* ScsiAdapterPoFxPowerActive / ScsiUnitPoFxPowerActive */
typedef struct _STOR_POFX_ACTIVE_CONTEXT {
    STOR_POWER_CONTROL_HEADER Header;
    ULONG ComponentIndex;
    BOOLEAN Active;
} STOR_POFX_ACTIVE_CONTEXT, *PSTOR_POFX_ACTIVE_CONTEXT;

/* ScsiAdapterPoFxPowerSetFState / ScsiUnitPoFxPowerSetFState */
typedef struct _STOR_POFX_FSTATE_CONTEXT {
    STOR_POWER_CONTROL_HEADER Header;
    ULONG ComponentIndex;
    ULONG FState;
} STOR_POFX_FSTATE_CONTEXT, *PSTOR_POFX_FSTATE_CONTEXT;

/* --- DPCs, locks and lists ------------------------------------------------ */

/*
 * Storage for one miniport DPC (72 bytes on x64).  The miniport allocates
 * it, usually in its device extension, and hands it to
 * StorPortInitializeDpc; the port owns the contents.
 */
typedef ULONG_PTR STOR_KSPIN_LOCK, *PSTOR_KSPIN_LOCK;

typedef struct _STOR_DPC {
    KDPC Dpc;
    STOR_KSPIN_LOCK Lock;
} STOR_DPC, *PSTOR_DPC;

typedef enum _STOR_SPINLOCK {
    InvalidLock = 0,
    DpcLock = 1,
    StartIoLock,
    InterruptLock,
    ThreadedDpcLock,
    DpcLevelLock
} STOR_SPINLOCK;

/*
 * Filled by StorPortAcquireSpinLock, passed back to
 * StorPortReleaseSpinLock; the Context is port-private (32 bytes on x64).
 */
typedef struct _STOR_LOCK_HANDLE {
    STOR_SPINLOCK Lock;
    struct {
        struct {
            PVOID Next;
            PVOID Lock;
        } LockQueue;
        KIRQL OldIrql;
    } Context;
} STOR_LOCK_HANDLE, *PSTOR_LOCK_HANDLE;

typedef struct _STOR_LIST_ENTRY {
    struct _STOR_LIST_ENTRY *Flink;
    struct _STOR_LIST_ENTRY *Blink;
} STOR_LIST_ENTRY, *PSTOR_LIST_ENTRY;

/* Interlocked singly-linked list; both types are 16-byte aligned on x64. */
typedef struct DECLSPEC_ALIGN(16) _STOR_SLIST_ENTRY {
    struct _STOR_SLIST_ENTRY *Next;
} STOR_SLIST_ENTRY, *PSTOR_SLIST_ENTRY;

typedef union DECLSPEC_ALIGN(16) _STOR_SLIST_HEADER {
    struct {
        ULONGLONG Alignment;
        ULONGLONG Region;
    };
    struct {
        ULONGLONG Depth : 16;
        ULONGLONG Sequence : 48;
        ULONGLONG Reserved : 4;
        ULONGLONG NextEntry : 60;
    } HeaderX64;
} STOR_SLIST_HEADER, *PSTOR_SLIST_HEADER;

typedef struct _STOR_DISPATCHER_HEADER {
    union {
        struct {
            UCHAR Type;
            UCHAR Flags;
            UCHAR Size;
            union {
                UCHAR Inserted;
                BOOLEAN DebugActive;
            };
        } Data;
        volatile LONG Lock;
    };
    LONG SignalState;
    STOR_LIST_ENTRY WaitListHead;
} STOR_DISPATCHER_HEADER, *PSTOR_DISPATCHER_HEADER;

typedef struct _STOR_EVENT {
    STOR_DISPATCHER_HEADER Header;
} STOR_EVENT, *PSTOR_EVENT, *PRSTOR_EVENT;

typedef enum _STOR_EVENT_TYPE {
    StorNotificationEvent = 0,
    StorSynchronizationEvent = 1
} STOR_EVENT_TYPE,
    *PSTOR_EVENT_TYPE;

typedef struct _STOR_GROUP_AFFINITY {
    KAFFINITY Mask;
    USHORT Group;
    USHORT Reserved[3];
} STOR_GROUP_AFFINITY, *PSTOR_GROUP_AFFINITY;

typedef struct _STOR_DPC_WATCHDOG_INFORMATION {
    ULONG DpcTimeLimit;
    ULONG DpcTimeCount;
    ULONG DpcWatchdogLimit;
    ULONG DpcWatchdogCount;
    ULONG Reserved;
} STOR_DPC_WATCHDOG_INFORMATION, *PSTOR_DPC_WATCHDOG_INFORMATION;

/* --- Performance options (StorPortInitializePerfOpts) --------------------- */

#define STOR_PERF_DPC_REDIRECTION                        0x00000001
#define STOR_PERF_CONCURRENT_CHANNELS                    0x00000002
#define STOR_PERF_INTERRUPT_MESSAGE_RANGES               0x00000004
#define STOR_PERF_ADV_CONFIG_LOCALITY                    0x00000008
#define STOR_PERF_OPTIMIZE_FOR_COMPLETION_DURING_STARTIO 0x00000010
#define STOR_PERF_DPC_REDIRECTION_CURRENT_CPU            0x00000020
#define STOR_PERF_NO_SGL                                 0x00000040
#define STOR_PERF_SOFT_NUMA                              0x00000080
#define STOR_PERF_HETEROGENEOUS_CPU                      0x00000100

#define STOR_PERF_VERSION_2 0x00000002
#define STOR_PERF_VERSION_3 0x00000003
#define STOR_PERF_VERSION_4 0x00000004
#define STOR_PERF_VERSION_5 0x00000005
#define STOR_PERF_VERSION_6 0x00000006
#define STOR_PERF_VERSION_7 0x00000007
#define STOR_PERF_VERSION_8 0x00000008
#define STOR_PERF_VERSION   STOR_PERF_VERSION_8

typedef struct _PERF_CONFIGURATION_DATA {
    ULONG Version;
    ULONG Size;
    ULONG Flags;
    ULONG ConcurrentChannels;
    ULONG FirstRedirectionMessageNumber;
    ULONG LastRedirectionMessageNumber;
    ULONG DeviceNode;
    ULONG Reserved;
    PGROUP_AFFINITY MessageTargets;
} PERF_CONFIGURATION_DATA, *PPERF_CONFIGURATION_DATA;

typedef struct _STARTIO_PERFORMANCE_PARAMETERS {
    ULONG Version;
    ULONG Size;
    ULONG MessageNumber;
    ULONG ChannelNumber;
} STARTIO_PERFORMANCE_PARAMETERS, *PSTARTIO_PERFORMANCE_PARAMETERS;

/* --- Request information (StorPortGetRequestInfo) ------------------------- */

typedef struct _STOR_UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWCH Buffer;
} STOR_UNICODE_STRING, *PSTOR_UNICODE_STRING;

typedef enum _STOR_IO_PRIORITY_HINT {
    StorIoPriorityVeryLow = 0,
    StorIoPriorityLow,
    StorIoPriorityNormal,
    StorIoPriorityHigh,
    StorIoPriorityCritical,
    StorIoMaxPriorityTypes,
    StorIoMaxPriorityValue = 0xffff
} STOR_IO_PRIORITY_HINT,
    *PSTOR_IO_PRIORITY_HINT;

typedef struct _STOR_REQUEST_INFO_V1 {
    USHORT Version;
    USHORT Size;
    STOR_IO_PRIORITY_HINT PriorityHint;
    ULONG Flags;
    ULONG Key;
    ULONG Length;
    BOOLEAN IsWriteRequest;
    UCHAR Reserved[3];
} STOR_REQUEST_INFO_V1, *PSTOR_REQUEST_INFO_V1;

typedef struct _STOR_REQUEST_INFO_V2 {
    USHORT Version;
    USHORT Size;
    STOR_IO_PRIORITY_HINT PriorityHint;
    ULONG Flags;
    ULONG Key;
    ULONG Length;
    BOOLEAN IsWriteRequest;
    UCHAR Reserved[3];
    PSTOR_UNICODE_STRING FileName;
    ULONG ProcessId;
} STOR_REQUEST_INFO_V2, *PSTOR_REQUEST_INFO_V2;

typedef STOR_REQUEST_INFO_V2 STOR_REQUEST_INFO, *PSTOR_REQUEST_INFO;

/* --- State change and asynchronous notification --------------------------- */

/* StorPortStateChangeDetected ChangedEntity */
#define STATE_CHANGE_LUN    0x1
#define STATE_CHANGE_TARGET 0x2
#define STATE_CHANGE_BUS    0x4

/* StorPortAsyncNotificationDetected Flags */
#define RAID_ASYNC_NOTIFY_FLAG_MEDIA_STATUS     0x1
#define RAID_ASYNC_NOTIFY_FLAG_DEVICE_STATUS    0x2
#define RAID_ASYNC_NOTIFY_FLAG_DEVICE_OPERATION 0x4

typedef struct _STOR_UNIT_ATTRIBUTES {
    ULONG DeviceAttentionSupported : 1;
    ULONG AsyncNotificationSupported : 1;
    ULONG D3ColdNotSupported : 1;
    ULONG BypassIOSupported : 1;
    ULONG Reserved : 28;
} STOR_UNIT_ATTRIBUTES, *PSTOR_UNIT_ATTRIBUTES;

/* --- Miniport routines (roles the port calls) ----------------------------- */

/* DriverEntry of a Storport miniport. */
typedef ULONG sp_DRIVER_INITIALIZE(PVOID DriverObject, PVOID RegistryPath);

typedef BOOLEAN HW_INITIALIZE(PVOID DeviceExtension);
typedef HW_INITIALIZE *PHW_INITIALIZE;

typedef BOOLEAN HW_BUILDIO(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb);
typedef HW_BUILDIO *PHW_BUILDIO;

typedef BOOLEAN HW_STARTIO(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb);
typedef HW_STARTIO *PHW_STARTIO;

typedef BOOLEAN HW_INTERRUPT(PVOID DeviceExtension);
typedef HW_INTERRUPT *PHW_INTERRUPT;

typedef VOID HW_TIMER(PVOID DeviceExtension);
typedef HW_TIMER *PHW_TIMER;

typedef VOID HW_TIMER_EX(PVOID DeviceExtension, PVOID Context);
typedef HW_TIMER_EX *PHW_TIMER_EX;

typedef VOID HW_DMA_STARTED(PVOID DeviceExtension);
typedef HW_DMA_STARTED *PHW_DMA_STARTED;

typedef ULONG HW_FIND_ADAPTER(PVOID DeviceExtension, PVOID HwContext,
                              PVOID BusInformation, PCHAR ArgumentString,
                              PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                              PBOOLEAN Reserved3);
typedef HW_FIND_ADAPTER *PHW_FIND_ADAPTER;

typedef ULONG VIRTUAL_HW_FIND_ADAPTER(
    PVOID DeviceExtension, PVOID HwContext, PVOID BusInformation,
    PVOID LowerDevice, PCHAR ArgumentString,
    PPORT_CONFIGURATION_INFORMATION ConfigInfo, PBOOLEAN Again);
typedef VIRTUAL_HW_FIND_ADAPTER *PVIRTUAL_HW_FIND_ADAPTER;

typedef BOOLEAN HW_RESET_BUS(PVOID DeviceExtension, ULONG PathId);
typedef HW_RESET_BUS *PHW_RESET_BUS;

typedef BOOLEAN HW_ADAPTER_STATE(PVOID DeviceExtension, PVOID Context,
                                 BOOLEAN SaveState);
typedef HW_ADAPTER_STATE *PHW_ADAPTER_STATE;

typedef SCSI_ADAPTER_CONTROL_STATUS
HW_ADAPTER_CONTROL(PVOID DeviceExtension, SCSI_ADAPTER_CONTROL_TYPE ControlType,
                   PVOID Parameters);
typedef HW_ADAPTER_CONTROL *PHW_ADAPTER_CONTROL;

typedef SCSI_UNIT_CONTROL_STATUS
HW_UNIT_CONTROL(PVOID DeviceExtension, SCSI_UNIT_CONTROL_TYPE ControlType,
                PVOID Parameters);
typedef HW_UNIT_CONTROL *PHW_UNIT_CONTROL;

typedef BOOLEAN HW_PASSIVE_INITIALIZE_ROUTINE(PVOID DeviceExtension);
typedef HW_PASSIVE_INITIALIZE_ROUTINE *PHW_PASSIVE_INITIALIZE_ROUTINE;

typedef VOID HW_DPC_ROUTINE(PSTOR_DPC Dpc, PVOID HwDeviceExtension,
                            PVOID SystemArgument1, PVOID SystemArgument2);
typedef HW_DPC_ROUTINE *PHW_DPC_ROUTINE;

typedef VOID HW_WORKITEM(PVOID HwDeviceExtension, PVOID Context, PVOID Worker);
typedef HW_WORKITEM *PHW_WORKITEM;

typedef VOID HW_STATE_CHANGE(PVOID HwDeviceExtension, PVOID Context,
                             SHORT AddressType, PVOID Address, ULONG Status);
typedef HW_STATE_CHANGE *PHW_STATE_CHANGE;

typedef VOID HW_TRACING_ENABLED(PVOID HwDeviceExtension, BOOLEAN Enabled);
typedef HW_TRACING_ENABLED *PHW_TRACING_ENABLED;

typedef VOID HW_CLEANUP_TRACING(PVOID Arg1);
typedef HW_CLEANUP_TRACING *PHW_CLEANUP_TRACING;

/* Arg1 is the DriverObject, Arg2 the RegistryPath of DriverEntry. */
typedef VOID HW_INITIALIZE_TRACING(PVOID Arg1, PVOID Arg2);
typedef HW_INITIALIZE_TRACING *PHW_INITIALIZE_TRACING;

/* Virtual miniports only. */
typedef VOID HW_FREE_ADAPTER_RESOURCES(PVOID DeviceExtension);
typedef HW_FREE_ADAPTER_RESOURCES *PHW_FREE_ADAPTER_RESOURCES;

typedef VOID HW_PROCESS_SERVICE_REQUEST(PVOID DeviceExtension, PVOID Irp);
typedef HW_PROCESS_SERVICE_REQUEST *PHW_PROCESS_SERVICE_REQUEST;

typedef VOID HW_COMPLETE_SERVICE_IRP(PVOID DeviceExtension);
typedef HW_COMPLETE_SERVICE_IRP *PHW_COMPLETE_SERVICE_IRP;

/* Callback of StorPortSynchronizeAccess, run with the interrupt lock held. */
typedef BOOLEAN STOR_SYNCHRONIZED_ACCESS(PVOID HwDeviceExtension,
                                         PVOID Context);
typedef STOR_SYNCHRONIZED_ACCESS *PSTOR_SYNCHRONIZED_ACCESS;

/* Completion routine of StorPortBuildScatterGatherList. */
typedef VOID
POST_SCATTER_GATHER_EXECUTE(PVOID *DeviceObject, PVOID *Irp,
                            PSTOR_SCATTER_GATHER_LIST ScatterGather,
                            PVOID Context);
typedef POST_SCATTER_GATHER_EXECUTE *PPOST_SCATTER_GATHER_EXECUTE;

/* Body of a thread started with StorPortCreateSystemThread. */
typedef VOID STOR_THREAD_START_ROUTINE(PVOID StartContext);
typedef STOR_THREAD_START_ROUTINE *PSTOR_THREAD_START_ROUTINE;

/* --- StorPortNotification ------------------------------------------------- */

/*
 * The Storport notification codes.  4 and 5 were SCSI port's
 * CallDisableInterrupts/CallEnableInterrupts; Storport retired them.
 */
typedef enum _SCSI_NOTIFICATION_TYPE {
    RequestComplete,
    NextRequest,
    NextLuRequest,
    ResetDetected,
    _obsolete1,
    _obsolete2,
    RequestTimerCall,
    BusChangeDetected,
    WMIEvent,
    WMIReregister,
    LinkUp,
    LinkDown,
    QueryTickCount,
    BufferOverrunDetected,
    TraceNotification,
    GetExtendedFunctionTable,

    EnablePassiveInitialization = 0x1000,
    InitializeDpc,
    IssueDpc,
    AcquireSpinLock,
    ReleaseSpinLock,
    StateChangeDetectedCall,
    IoTargetRequestServiceTime,
    AsyncNotificationDetected
} SCSI_NOTIFICATION_TYPE,
    *PSCSI_NOTIFICATION_TYPE;

/* --- HW_INITIALIZATION_DATA ----------------------------------------------- */

typedef struct _HW_INITIALIZATION_DATA {
    ULONG HwInitializationDataSize;
    INTERFACE_TYPE AdapterInterfaceType;
    PHW_INITIALIZE HwInitialize;
    PHW_STARTIO HwStartIo;
    PHW_INTERRUPT HwInterrupt;
    PHW_FIND_ADAPTER HwFindAdapter;
    PHW_RESET_BUS HwResetBus;
    PHW_DMA_STARTED HwDmaStarted;
    PHW_ADAPTER_STATE HwAdapterState;
    ULONG DeviceExtensionSize;
    ULONG SpecificLuExtensionSize;
    ULONG SrbExtensionSize;
    ULONG NumberOfAccessRanges;
    PVOID Reserved;
    UCHAR MapBuffers;
    BOOLEAN NeedPhysicalAddresses;
    BOOLEAN TaggedQueuing;
    BOOLEAN AutoRequestSense;
    BOOLEAN MultipleRequestPerLu;
    BOOLEAN ReceiveEvent;
    USHORT VendorIdLength;
    PVOID VendorId;
    union {
        USHORT ReservedUshort;
        USHORT PortVersionFlags;
    };
    USHORT DeviceIdLength;
    PVOID DeviceId;
    PHW_ADAPTER_CONTROL HwAdapterControl;
    PHW_BUILDIO HwBuildIo;
    PHW_FREE_ADAPTER_RESOURCES HwFreeAdapterResources;
    PHW_PROCESS_SERVICE_REQUEST HwProcessServiceRequest;
    PHW_COMPLETE_SERVICE_IRP HwCompleteServiceIrp;
    PHW_INITIALIZE_TRACING HwInitializeTracing;
    PHW_CLEANUP_TRACING HwCleanupTracing;
    PHW_TRACING_ENABLED HwTracingEnabled;
    ULONG FeatureSupport;
    ULONG SrbTypeFlags;
    ULONG AddressTypeFlags;
    ULONG Reserved1;
    PHW_UNIT_CONTROL HwUnitControl;
} HW_INITIALIZATION_DATA, *PHW_INITIALIZATION_DATA;

/* HW_INITIALIZATION_DATA.FeatureSupport */
#define STOR_FEATURE_VIRTUAL_MINIPORT                    0x00000001
#define STOR_FEATURE_ATA_PASS_THROUGH                    0x00000002
#define STOR_FEATURE_FULL_PNP_DEVICE_CAPABILITIES        0x00000004
#define STOR_FEATURE_DUMP_POINTERS                       0x00000008
#define STOR_FEATURE_DEVICE_NAME_NO_SUFFIX               0x00000010
#define STOR_FEATURE_DUMP_RESUME_CAPABLE                 0x00000020
#define STOR_FEATURE_DEVICE_DESCRIPTOR_FROM_ATA_INFO_VPD 0x00000040
#define STOR_FEATURE_EXTRA_IO_INFORMATION                0x00000080
#define STOR_FEATURE_ADAPTER_CONTROL_PRE_FINDADAPTER     0x00000100
#define STOR_FEATURE_ADAPTER_NOT_REQUIRE_IO_PORT         0x00000200
#define STOR_FEATURE_DUMP_16_BYTE_ALIGNMENT              0x00000400
#define STOR_FEATURE_SET_ADAPTER_INTERFACE_TYPE          0x00000800
#define STOR_FEATURE_DUMP_INFO                           0x00001000
#define STOR_FEATURE_DMA_ALLOCATION_NO_BOUNDARY          0x00002000
#define STOR_FEATURE_SUPPORTS_NVME_ADAPTER               0x00004000
#define STOR_FEATURE_REPORT_INTERNAL_DATA                0x00008000
#define STOR_FEATURE_EARLY_DUMP                          0x00010000
#define STOR_FEATURE_NVME_ICE                            0x00020000

/* HW_INITIALIZATION_DATA.SrbTypeFlags */
#define SRB_TYPE_FLAG_SCSI_REQUEST_BLOCK    0x1
#define SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK 0x2

/* HW_INITIALIZATION_DATA.AddressTypeFlags */
#define ADDRESS_TYPE_FLAG_BTL8 0x1

/* The pre-Windows 8 initialization data of a virtual miniport. */
typedef struct _VIRTUAL_HW_INITIALIZATION_DATA {
    ULONG HwInitializationDataSize;
    INTERFACE_TYPE AdapterInterfaceType;
    PHW_INITIALIZE HwInitialize;
    PHW_STARTIO HwStartIo;
    PHW_INTERRUPT HwInterrupt;
    PVIRTUAL_HW_FIND_ADAPTER HwFindAdapter;
    PHW_RESET_BUS HwResetBus;
    PHW_DMA_STARTED HwDmaStarted;
    PHW_ADAPTER_STATE HwAdapterState;
    ULONG DeviceExtensionSize;
    ULONG SpecificLuExtensionSize;
    ULONG SrbExtensionSize;
    ULONG NumberOfAccessRanges;
    PVOID Reserved;
    UCHAR MapBuffers;
    BOOLEAN NeedPhysicalAddresses;
    BOOLEAN TaggedQueuing;
    BOOLEAN AutoRequestSense;
    BOOLEAN MultipleRequestPerLu;
    BOOLEAN ReceiveEvent;
    USHORT VendorIdLength;
    PVOID VendorId;
    union {
        USHORT ReservedUshort;
        USHORT PortVersionFlags;
    };
    USHORT DeviceIdLength;
    PVOID DeviceId;
    PHW_ADAPTER_CONTROL HwAdapterControl;
    PHW_BUILDIO HwBuildIo;
    PHW_FREE_ADAPTER_RESOURCES HwFreeAdapterResources;
    PHW_PROCESS_SERVICE_REQUEST HwProcessServiceRequest;
    PHW_COMPLETE_SERVICE_IRP HwCompleteServiceIrp;
    PHW_INITIALIZE_TRACING HwInitializeTracing;
    PHW_CLEANUP_TRACING HwCleanupTracing;
} VIRTUAL_HW_INITIALIZATION_DATA, *PVIRTUAL_HW_INITIALIZATION_DATA;

/* --- Crash dump ----------------------------------------------------------- */

#define DUMP_MINIPORT_VERSION_1   0x0100
#define DUMP_MINIPORT_NAME_LENGTH 15

typedef struct _MINIPORT_DUMP_POINTERS {
    USHORT Version;
    USHORT Size;
    WCHAR DriverName[DUMP_MINIPORT_NAME_LENGTH];
    struct _ADAPTER_OBJECT *AdapterObject;
    PVOID MappedRegisterBase;
    ULONG CommonBufferSize;
    PVOID MiniportPrivateDumpData;
    ULONG SystemIoBusNumber;
    INTERFACE_TYPE AdapterInterfaceType;
    ULONG MaximumTransferLength;
    ULONG NumberOfPhysicalBreaks;
    ULONG AlignmentMask;
    ULONG NumberOfAccessRanges;
    ACCESS_RANGE (*AccessRanges)[];
    UCHAR NumberOfBuses;
    BOOLEAN Master;
    BOOLEAN MapBuffers;
    UCHAR MaximumNumberOfTargets;
} MINIPORT_DUMP_POINTERS, *PMINIPORT_DUMP_POINTERS;

/* --- Event log, registry, telemetry, ETW ---------------------------------- */

typedef enum _STOR_EVENT_ASSOCIATION_ENUM {
    StorEventAdapterAssociation = 0,
    StorEventLunAssociation,
    StorEventTargetAssociation,
    StorEventInvalidAssociation
} STOR_EVENT_ASSOCIATION_ENUM;

typedef struct _STOR_LOG_EVENT_DETAILS {
    ULONG InterfaceRevision;
    ULONG Size;
    ULONG Flags;
    STOR_EVENT_ASSOCIATION_ENUM EventAssociation;
    ULONG PathId;
    ULONG TargetId;
    ULONG LunId;
    BOOLEAN StorportSpecificErrorCode;
    ULONG ErrorCode;
    ULONG UniqueId;
    ULONG DumpDataSize;
    PVOID DumpData;
    ULONG StringCount;
    PWSTR *StringList;
} STOR_LOG_EVENT_DETAILS, *PSTOR_LOG_EVENT_DETAILS;

/* Registry value types of StorPortRegistryRead/Write. */
#define MINIPORT_REG_SZ       1
#define MINIPORT_REG_BINARY   3
#define MINIPORT_REG_DWORD    4
#define MINIPORT_REG_MULTI_SZ 7

typedef enum _STORPORT_ETW_LEVEL {
    StorportEtwLevelLogAlways = 0,
    StorportEtwLevelCritical = 1,
    StorportEtwLevelError = 2,
    StorportEtwLevelWarning = 3,
    StorportEtwLevelInformational = 4,
    StorportEtwLevelVerbose = 5,
    StorportEtwLevelMax = StorportEtwLevelVerbose
} STORPORT_ETW_LEVEL,
    *PSTORPORT_ETW_LEVEL;

#define STORPORT_ETW_EVENT_KEYWORD_IO            0x0000000000000001ULL
#define STORPORT_ETW_EVENT_KEYWORD_POWER         0x0000000000000004ULL
#define STORPORT_ETW_EVENT_KEYWORD_COMMAND_TRACE 0x0000000000000010ULL

typedef enum _STORPORT_ETW_EVENT_OPCODE {
    StorportEtwEventOpcodeInfo = 0,
    StorportEtwEventOpcodeStart = 1,
    StorportEtwEventOpcodeStop = 2,
    StorportEtwEventOpcodeDC_Start = 3,
    StorportEtwEventOpcodeDC_Stop = 4,
    StorportEtwEventOpcodeExtension = 5,
    StorportEtwEventOpcodeReply = 6,
    StorportEtwEventOpcodeResume = 7,
    StorportEtwEventOpcodeSuspend = 8,
    StorportEtwEventOpcodeSend = 9,
    StorportEtwEventOpcodeReceive = 240
} STORPORT_ETW_EVENT_OPCODE,
    *PSTORPORT_ETW_EVENT_OPCODE;

typedef enum _STORPORT_ETW_EVENT_CHANNEL {
    StorportEtwEventDiagnostic = 0,
    StorportEtwEventOperational = 1,
    StorportEtwEventHealth = 2,
    StorportEtwEventIoPerformance = 3
} STORPORT_ETW_EVENT_CHANNEL,
    *PSTORPORT_ETW_EVENT_CHANNEL;

/* Maximum lengths of the ETW description and parameter-name strings. */
#define STORPORT_ETW_MAX_DESCRIPTION_LENGTH 64
#define STORPORT_ETW_MAX_PARAM_NAME_LENGTH  32

/* StorPortLogTelemetry limits: up to 8 name/value pairs, 4 KiB buffer. */
#define EVENT_BUFFER_MAX_LENGTH  4096
#define EVENT_NAME_MAX_LENGTH    32
#define EVENT_MAX_PARAM_NAME_LEN 32

typedef struct _STORPORT_TELEMETRY_EVENT {
    ULONG DriverVersion;
    ULONG EventId;
    UCHAR EventName[EVENT_NAME_MAX_LENGTH];
    ULONG EventVersion;
    ULONG Flags;
    ULONG EventBufferLength;
    PUCHAR EventBuffer;
    UCHAR ParameterName0[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue0;
    UCHAR ParameterName1[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue1;
    UCHAR ParameterName2[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue2;
    UCHAR ParameterName3[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue3;
    UCHAR ParameterName4[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue4;
    UCHAR ParameterName5[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue5;
    UCHAR ParameterName6[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue6;
    UCHAR ParameterName7[EVENT_MAX_PARAM_NAME_LEN];
    ULONGLONG ParameterValue7;
} STORPORT_TELEMETRY_EVENT, *PSTORPORT_TELEMETRY_EVENT;

typedef enum _STOR_TELEMETRY_CATEGORY {
    StorTelemetryCategory = 0,
    StorMeasuresCategory
} STOR_TELEMETRY_CATEGORY,
    *PSTOR_TELEMETRY_CATEGORY;

#define STORPORT_MAX_ADDITIONAL_DATA_SIZE 1024
/* StorPortMarkDeviceFailed(Ex) Flags */
#define STORPORT_MARK_DEVICE_FAILED_FLAG_REMOVE_DEVICE     0x1
#define STORPORT_MARK_DEVICE_FAILED_FLAG_PREDICTED_FAILURE 0x2
#define STORPORT_MAX_CRITICAL_DATA_SIZE                    8

/* --- Runtime power management (PoFx) -------------------------------------- */

typedef struct _STOR_POFX_COMPONENT_IDLE_STATE {
    ULONG Version;
    ULONG Size;
    ULONGLONG TransitionLatency;
    ULONGLONG ResidencyRequirement;
    ULONG NominalPower;
} STOR_POFX_COMPONENT_IDLE_STATE, *PSTOR_POFX_COMPONENT_IDLE_STATE;

#define STOR_POFX_COMPONENT_IDLE_STATE_SIZE                                    \
    (sizeof(STOR_POFX_COMPONENT_IDLE_STATE))
#define STOR_POFX_COMPONENT_IDLE_STATE_VERSION_V1 1
#define STOR_POFX_UNKNOWN_POWER                   0xFFFFFFFF

typedef struct _STOR_POFX_COMPONENT {
    ULONG Version;
    ULONG Size;
    ULONG FStateCount;
    ULONG DeepestWakeableFState;
    GUID Id;
    STOR_POFX_COMPONENT_IDLE_STATE FStates[ANYSIZE_ARRAY];
} STOR_POFX_COMPONENT, *PSTOR_POFX_COMPONENT;

#define STOR_POFX_COMPONENT_SIZE                                               \
    ((ULONG)FIELD_OFFSET(STOR_POFX_COMPONENT, FStates))
#define STOR_POFX_COMPONENT_VERSION_V1 1

typedef struct _STOR_POFX_COMPONENT_V2 {
    ULONG Version;
    ULONG Size;
    ULONG FStateCount;
    ULONG DeepestWakeableFState;
    GUID Id;
    ULONG DeepestAdapterPowerRequiredFState;
    ULONG DeepestCrashDumpReadyFState;
    STOR_POFX_COMPONENT_IDLE_STATE FStates[ANYSIZE_ARRAY];
} STOR_POFX_COMPONENT_V2, *PSTOR_POFX_COMPONENT_V2;

#define STOR_POFX_COMPONENT_V2_SIZE                                            \
    ((ULONG)FIELD_OFFSET(STOR_POFX_COMPONENT_V2, FStates))
#define STOR_POFX_COMPONENT_VERSION_V2 2

typedef struct _STOR_POFX_DEVICE {
    ULONG Version;
    ULONG Size;
    ULONG ComponentCount;
    ULONG Flags;
    STOR_POFX_COMPONENT Components[ANYSIZE_ARRAY];
} STOR_POFX_DEVICE, *PSTOR_POFX_DEVICE;

#define STOR_POFX_DEVICE_SIZE                                                  \
    ((ULONG)FIELD_OFFSET(STOR_POFX_DEVICE, Components))
#define STOR_POFX_DEVICE_VERSION_V1 1

typedef struct _STOR_POFX_DEVICE_V2 {
    ULONG Version;
    ULONG Size;
    ULONG ComponentCount;
    ULONG Flags;
    union {
        ULONG UnitMinIdleTimeoutInMS;
        ULONG AdapterIdleTimeoutInMS;
    };
    STOR_POFX_COMPONENT Components[ANYSIZE_ARRAY];
} STOR_POFX_DEVICE_V2, *PSTOR_POFX_DEVICE_V2;

#define STOR_POFX_DEVICE_V2_SIZE                                               \
    ((ULONG)FIELD_OFFSET(STOR_POFX_DEVICE_V2, Components))
#define STOR_POFX_DEVICE_VERSION_V2 2

typedef struct _STOR_POFX_DEVICE_V3 {
    ULONG Version;
    ULONG Size;
    ULONG ComponentCount;
    ULONG Flags;
    union {
        ULONG UnitMinIdleTimeoutInMS;
        ULONG AdapterIdleTimeoutInMS;
    };
    ULONG MinimumPowerCyclePeriodInMS;
    STOR_POFX_COMPONENT Components[ANYSIZE_ARRAY];
} STOR_POFX_DEVICE_V3, *PSTOR_POFX_DEVICE_V3;

#define STOR_POFX_DEVICE_V3_SIZE                                               \
    ((ULONG)FIELD_OFFSET(STOR_POFX_DEVICE_V3, Components))
#define STOR_POFX_DEVICE_VERSION_V3 3

#define STOR_POFX_DEVICE_FLAG_ENABLE_D3_COLD           0x04
#define STOR_POFX_DEVICE_FLAG_NO_DUMP_ACTIVE           0x08
#define STOR_POFX_DEVICE_FLAG_IDLE_TIMEOUT             0x10
#define STOR_POFX_DEVICE_FLAG_ADAPTIVE_D3_IDLE_TIMEOUT 0x20
#define STOR_POFX_DEVICE_FLAG_NO_IDLE_DEBOUNCE         0x100
#define STOR_POFX_DEVICE_FLAG_ADAPTER_D3_WAKE          0x800

/* --- Threads, configuration queries, features ----------------------------- */

/* Listed in increasing priority; see docs/ddi-headers.md on the values. */
typedef enum _STOR_THREAD_PRIORITY {
    StorThreadPriorityBackground = 0,
    StorThreadPriorityNormal,
    StorThreadPriorityDelayed,
    StorThreadPriorityCritical,
    StorThreadPrioritySuperCritical,
    StorThreadPriorityHyperCritical,
    StorThreadPriorityRealTime
} STOR_THREAD_PRIORITY,
    *PSTOR_THREAD_PRIORITY;

typedef enum _STORPORT_QUERY_CONFIGURATION_TYPE {
    StorportQueryConfigurationD3 = 0,
    StorportQueryConfigurationMax
} STORPORT_QUERY_CONFIGURATION_TYPE,
    *PSTORPORT_QUERY_CONFIGURATION_TYPE;

typedef enum _STORPORT_FEATURE_TYPE {
    StorportFeatureBusTypeUnitControl = 0,
    StorportFeatureMax
} STORPORT_FEATURE_TYPE,
    *PSTORPORT_FEATURE_TYPE;

/* Inline-encryption and live-dump descriptors; opaque here. */
typedef struct _STOR_CRYPTO_CAPABILITIES_DATA STOR_CRYPTO_CAPABILITIES_DATA,
    *PSTOR_CRYPTO_CAPABILITIES_DATA;
typedef struct _STOR_CRYPTO_KEY_INFO STOR_CRYPTO_KEY_INFO,
    *PSTOR_CRYPTO_KEY_INFO;
typedef struct _STORPORT_CAPTURE_LIVEDUMP STORPORT_CAPTURE_LIVEDUMP,
    *PSTORPORT_CAPTURE_LIVEDUMP;

/* ========================================================================== */
/* StorPort* routines.  All are implemented by port/.                        */
/* ========================================================================== */

/* --- Initialization and configuration ------------------------------------- */

STORPORT_API ULONG NTAPI StorPortInitialize(
    PVOID Argument1, PVOID Argument2,
    struct _HW_INITIALIZATION_DATA *HwInitializationData, PVOID HwContext);

STORPORT_API BOOLEAN NTAPI StorPortEnablePassiveInitialization(
    PVOID DeviceExtension,
    PHW_PASSIVE_INITIALIZE_ROUTINE HwPassiveInitializeRoutine);

STORPORT_API PVOID NTAPI StorPortGetDeviceBase(
    PVOID HwDeviceExtension, INTERFACE_TYPE BusType, ULONG SystemIoBusNumber,
    STOR_PHYSICAL_ADDRESS IoAddress, ULONG NumberOfBytes, BOOLEAN InIoSpace);

STORPORT_API ULONG NTAPI StorPortGetDeviceBase2(
    PVOID HwDeviceExtension, INTERFACE_TYPE BusType, ULONG SystemIoBusNumber,
    STOR_PHYSICAL_ADDRESS Address, ULONG NumberOfBytes, BOOLEAN InIoSpace,
    ULONG Flags, PVOID *BaseAddress);

STORPORT_API VOID NTAPI StorPortFreeDeviceBase(PVOID HwDeviceExtension,
                                               PVOID MappedAddress);

STORPORT_API BOOLEAN NTAPI StorPortValidateRange(
    PVOID HwDeviceExtension, INTERFACE_TYPE BusType, ULONG SystemIoBusNumber,
    STOR_PHYSICAL_ADDRESS IoAddress, ULONG NumberOfBytes, BOOLEAN InIoSpace);

STORPORT_API ULONG NTAPI StorPortGetBusData(PVOID DeviceExtension,
                                            ULONG BusDataType,
                                            ULONG SystemIoBusNumber,
                                            ULONG SlotNumber, PVOID Buffer,
                                            ULONG Length);

STORPORT_API ULONG NTAPI StorPortSetBusDataByOffset(
    PVOID DeviceExtension, ULONG BusDataType, ULONG SystemIoBusNumber,
    ULONG SlotNumber, PVOID Buffer, ULONG Offset, ULONG Length);

STORPORT_API PVOID NTAPI StorPortGetUncachedExtension(
    PVOID HwDeviceExtension, PPORT_CONFIGURATION_INFORMATION ConfigInfo,
    ULONG NumberOfBytes);

STORPORT_API ULONG NTAPI StorPortSetAdapterBusType(PVOID HwDeviceExtension,
                                                   ULONG BusType);

STORPORT_API ULONG NTAPI StorPortUpdateAdapterMaxIO(PVOID HwDeviceExtension,
                                                    ULONG MaxIoCount);

STORPORT_API ULONG NTAPI StorPortUpdatePortConfigMaxIOInfo(
    PVOID HwDeviceExtension, ULONG MaxIoCount, ULONG MaxIosPerLun);

STORPORT_API ULONG NTAPI StorPortSetFeatureList(PVOID HwDeviceExtension,
                                                ULONG FeatureCount,
                                                PBOOLEAN FeatureList);

STORPORT_API ULONG NTAPI StorPortQueryConfiguration(
    PVOID HwDeviceExtension, STORPORT_QUERY_CONFIGURATION_TYPE Type,
    PBOOLEAN Enabled);

STORPORT_API ULONG NTAPI StorPortIsCurrentOsInstallationUpgrade(
    PVOID HwDeviceExtension, PBOOLEAN Upgrade);

STORPORT_API ULONG NTAPI StorPortGetDeviceObjects(PVOID HwDeviceExtension,
                                                  PVOID *AdapterDeviceObject,
                                                  PVOID *PhysicalDeviceObject,
                                                  PVOID *LowerDeviceObject);

STORPORT_API ULONG NTAPI StorPortGetSystemPortNumber(PVOID HwDeviceExtension,
                                                     PSTOR_ADDRESS Address);

STORPORT_API ULONG NTAPI StorPortInvokeAcpiMethod(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONG MethodName,
    PVOID InputBuffer, ULONG InputBufferLength, PVOID OutputBuffer,
    ULONG OutputBufferLength, PULONG BytesReturned);

/* --- Register and port I/O ------------------------------------------------ */

STORPORT_API UCHAR NTAPI StorPortReadPortUchar(PVOID HwDeviceExtension,
                                               PUCHAR Port);
STORPORT_API USHORT NTAPI StorPortReadPortUshort(PVOID HwDeviceExtension,
                                                 PUSHORT Port);
STORPORT_API ULONG NTAPI StorPortReadPortUlong(PVOID HwDeviceExtension,
                                               PULONG Port);
STORPORT_API VOID NTAPI StorPortReadPortBufferUchar(PVOID HwDeviceExtension,
                                                    PUCHAR Port, PUCHAR Buffer,
                                                    ULONG Count);
STORPORT_API VOID NTAPI StorPortReadPortBufferUshort(PVOID HwDeviceExtension,
                                                     PUSHORT Port,
                                                     PUSHORT Buffer,
                                                     ULONG Count);
STORPORT_API VOID NTAPI StorPortReadPortBufferUlong(PVOID HwDeviceExtension,
                                                    PULONG Port, PULONG Buffer,
                                                    ULONG Count);
STORPORT_API VOID NTAPI StorPortWritePortUchar(PVOID HwDeviceExtension,
                                               PUCHAR Port, UCHAR Value);
STORPORT_API VOID NTAPI StorPortWritePortUshort(PVOID HwDeviceExtension,
                                                PUSHORT Port, USHORT Value);
STORPORT_API VOID NTAPI StorPortWritePortUlong(PVOID HwDeviceExtension,
                                               PULONG Port, ULONG Value);
STORPORT_API VOID NTAPI StorPortWritePortBufferUchar(PVOID HwDeviceExtension,
                                                     PUCHAR Port, PUCHAR Buffer,
                                                     ULONG Count);
STORPORT_API VOID NTAPI StorPortWritePortBufferUshort(PVOID HwDeviceExtension,
                                                      PUSHORT Port,
                                                      PUSHORT Buffer,
                                                      ULONG Count);
STORPORT_API VOID NTAPI StorPortWritePortBufferUlong(PVOID HwDeviceExtension,
                                                     PULONG Port, PULONG Buffer,
                                                     ULONG Count);

STORPORT_API UCHAR NTAPI StorPortReadRegisterUchar(PVOID HwDeviceExtension,
                                                   PUCHAR Register);
STORPORT_API USHORT NTAPI StorPortReadRegisterUshort(PVOID HwDeviceExtension,
                                                     PUSHORT Register);
STORPORT_API ULONG NTAPI StorPortReadRegisterUlong(PVOID HwDeviceExtension,
                                                   PULONG Register);
STORPORT_API ULONG64 NTAPI StorPortReadRegisterUlong64(PVOID HwDeviceExtension,
                                                       PULONG64 Register);
STORPORT_API VOID NTAPI StorPortReadRegisterBufferUchar(PVOID HwDeviceExtension,
                                                        PUCHAR Register,
                                                        PUCHAR Buffer,
                                                        ULONG Count);
STORPORT_API VOID NTAPI StorPortReadRegisterBufferUshort(
    PVOID HwDeviceExtension, PUSHORT Register, PUSHORT Buffer, ULONG Count);
STORPORT_API VOID NTAPI StorPortReadRegisterBufferUlong(PVOID HwDeviceExtension,
                                                        PULONG Register,
                                                        PULONG Buffer,
                                                        ULONG Count);
STORPORT_API VOID NTAPI StorPortReadRegisterBufferUlong64(
    PVOID HwDeviceExtension, PULONG64 Register, PULONG64 Buffer, ULONG Count);
STORPORT_API VOID NTAPI StorPortWriteRegisterUchar(PVOID HwDeviceExtension,
                                                   PUCHAR Register,
                                                   UCHAR Value);
STORPORT_API VOID NTAPI StorPortWriteRegisterUshort(PVOID HwDeviceExtension,
                                                    PUSHORT Register,
                                                    USHORT Value);
STORPORT_API VOID NTAPI StorPortWriteRegisterUlong(PVOID HwDeviceExtension,
                                                   PULONG Register,
                                                   ULONG Value);
STORPORT_API VOID NTAPI StorPortWriteRegisterUlong64(PVOID HwDeviceExtension,
                                                     PULONG64 Register,
                                                     ULONG64 Value);
STORPORT_API VOID NTAPI StorPortWriteRegisterBufferUchar(
    PVOID HwDeviceExtension, PUCHAR Register, PUCHAR Buffer, ULONG Count);
STORPORT_API VOID NTAPI StorPortWriteRegisterBufferUshort(
    PVOID HwDeviceExtension, PUSHORT Register, PUSHORT Buffer, ULONG Count);
STORPORT_API VOID NTAPI StorPortWriteRegisterBufferUlong(
    PVOID HwDeviceExtension, PULONG Register, PULONG Buffer, ULONG Count);
STORPORT_API VOID NTAPI StorPortWriteRegisterBufferUlong64(
    PVOID HwDeviceExtension, PULONG64 Register, PULONG64 Buffer, ULONG Count);

/* --- Requests, queues and notifications ----------------------------------- */

STORPORT_API VOID StorPortNotification(SCSI_NOTIFICATION_TYPE NotificationType,
                                       PVOID HwDeviceExtension, ...);

STORPORT_API VOID NTAPI StorPortCompleteRequest(PVOID HwDeviceExtension,
                                                UCHAR PathId, UCHAR TargetId,
                                                UCHAR Lun, UCHAR SrbStatus);

STORPORT_API PVOID NTAPI StorPortGetLogicalUnit(PVOID HwDeviceExtension,
                                                UCHAR PathId, UCHAR TargetId,
                                                UCHAR Lun);

STORPORT_API BOOLEAN NTAPI StorPortBusy(PVOID HwDeviceExtension,
                                        ULONG RequestsToComplete);
STORPORT_API BOOLEAN NTAPI StorPortReady(PVOID HwDeviceExtension);
STORPORT_API BOOLEAN NTAPI StorPortDeviceBusy(PVOID HwDeviceExtension,
                                              UCHAR PathId, UCHAR TargetId,
                                              UCHAR Lun,
                                              ULONG RequestsToComplete);
STORPORT_API BOOLEAN NTAPI StorPortDeviceReady(PVOID HwDeviceExtension,
                                               UCHAR PathId, UCHAR TargetId,
                                               UCHAR Lun);
STORPORT_API BOOLEAN NTAPI StorPortPause(PVOID HwDeviceExtension,
                                         ULONG Timeout);
STORPORT_API BOOLEAN NTAPI StorPortResume(PVOID HwDeviceExtension);
STORPORT_API BOOLEAN NTAPI StorPortPauseDevice(PVOID HwDeviceExtension,
                                               UCHAR PathId, UCHAR TargetId,
                                               UCHAR Lun, ULONG Timeout);
STORPORT_API BOOLEAN NTAPI StorPortResumeDevice(PVOID HwDeviceExtension,
                                                UCHAR PathId, UCHAR TargetId,
                                                UCHAR Lun);
STORPORT_API BOOLEAN NTAPI StorPortSetDeviceQueueDepth(PVOID HwDeviceExtension,
                                                       UCHAR PathId,
                                                       UCHAR TargetId,
                                                       UCHAR Lun, ULONG Depth);

STORPORT_API ULONG NTAPI StorPortStateChangeDetected(
    PVOID HwDeviceExtension, ULONG ChangedEntity, PSTOR_ADDRESS Address,
    ULONG Attributes, PHW_STATE_CHANGE HwStateChange,
    PVOID HwStateChangeContext);

STORPORT_API ULONG NTAPI StorPortAsyncNotificationDetected(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONGLONG Flags);

STORPORT_API ULONG NTAPI
StorPortSetUnitAttributes(PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
                          STOR_UNIT_ATTRIBUTES Attributes);

STORPORT_API VOID NTAPI StorPortMarkDeviceFailed(PVOID HwDeviceExtension,
                                                 PSTOR_ADDRESS StorAddress,
                                                 ULONG Flags, PWSTR FailReason);

STORPORT_API ULONG NTAPI StorPortMarkDeviceFailedEx(
    PVOID HwDeviceExtension, PSTOR_ADDRESS StorAddress, ULONG Flags,
    USHORT FaultCode, PWSTR FaultDescription, USHORT AdditionalDataSize,
    PUCHAR AdditionalData, USHORT CriticalDataSize, PUCHAR CriticalData);

STORPORT_API ULONG NTAPI StorPortGetRequestInfo(PVOID HwDeviceExtension,
                                                PSCSI_REQUEST_BLOCK Srb,
                                                PSTOR_REQUEST_INFO RequestInfo);

STORPORT_API ULONG NTAPI StorPortGetActivityIdSrb(PVOID HwDeviceExtension,
                                                  PSCSI_REQUEST_BLOCK Srb,
                                                  LPGUID ActivityId);

STORPORT_API ULONG NTAPI
StorPortGetStartIoPerfParams(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
                             PSTARTIO_PERFORMANCE_PARAMETERS StartIoPerfParams);

STORPORT_API ULONG NTAPI
StorPortInitializePerfOpts(PVOID HwDeviceExtension, BOOLEAN Query,
                           PPERF_CONFIGURATION_DATA PerfConfigData);

STORPORT_API ULONG NTAPI
StorPortIsDeviceOperationAllowed(PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
                                 LPCGUID DeviceOperation, ULONG *AllowedFlag);

/* --- DMA, scatter/gather and memory --------------------------------------- */

STORPORT_API STOR_PHYSICAL_ADDRESS NTAPI
StorPortGetPhysicalAddress(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
                           PVOID VirtualAddress, ULONG *Length);

STORPORT_API PVOID NTAPI StorPortGetVirtualAddress(
    PVOID HwDeviceExtension, STOR_PHYSICAL_ADDRESS PhysicalAddress);

STORPORT_API PSTOR_SCATTER_GATHER_LIST NTAPI
StorPortGetScatterGatherList(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb);

STORPORT_API ULONG NTAPI StorPortBuildScatterGatherList(
    PVOID HwDeviceExtension, PVOID Mdl, PVOID CurrentVa, ULONG Length,
    PPOST_SCATTER_GATHER_EXECUTE ExecutionRoutine, PVOID Context,
    BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer,
    ULONG ScatterGatherBufferLength);

STORPORT_API ULONG NTAPI StorPortPutScatterGatherList(
    PVOID HwDeviceExtension, PSTOR_SCATTER_GATHER_LIST ScatterGatherList,
    BOOLEAN WriteToDevice);

STORPORT_API ULONG NTAPI StorPortGetSystemAddress(PVOID HwDeviceExtension,
                                                  PSCSI_REQUEST_BLOCK Srb,
                                                  PVOID *SystemAddress);

STORPORT_API ULONG NTAPI StorPortGetOriginalMdl(PVOID HwDeviceExtension,
                                                PSCSI_REQUEST_BLOCK Srb,
                                                PVOID *Mdl);

STORPORT_API ULONG NTAPI StorPortGetDataInBufferMdl(PVOID HwDeviceExtension,
                                                    PSCSI_REQUEST_BLOCK Srb,
                                                    PVOID *Mdl);

STORPORT_API ULONG NTAPI StorPortGetDataInBufferSystemAddress(
    PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb, PVOID *SystemAddress);

STORPORT_API ULONG NTAPI StorPortGetDataInBufferScatterGatherList(
    PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
    PSTOR_SCATTER_GATHER_LIST *SgList);

STORPORT_API ULONG NTAPI StorPortAllocateMdl(PVOID HwDeviceExtension,
                                             PVOID BufferPointer,
                                             ULONG NumberOfBytes, PVOID *Mdl);

STORPORT_API ULONG NTAPI StorPortFreeMdl(PVOID HwDeviceExtension, PVOID Mdl);

STORPORT_API ULONG NTAPI
StorPortBuildMdlForNonPagedPool(PVOID HwDeviceExtension, PVOID Mdl);

STORPORT_API ULONG NTAPI StorPortGetPfns(PVOID HwDeviceExtension,
                                         PSCSI_REQUEST_BLOCK Srb, PVOID Mdl,
                                         PVOID *Pfns, ULONG *PfnCount,
                                         ULONG *StartingOffset);

STORPORT_API ULONG NTAPI StorPortAllocatePool(PVOID HwDeviceExtension,
                                              ULONG NumberOfBytes, ULONG Tag,
                                              PVOID *BufferPointer);

STORPORT_API ULONG NTAPI StorPortFreePool(PVOID HwDeviceExtension,
                                          PVOID BufferPointer);

STORPORT_API ULONG NTAPI StorPortAllocateContiguousMemorySpecifyCacheNode(
    PVOID HwDeviceExtension, SIZE_T NumberOfBytes,
    PHYSICAL_ADDRESS LowestAcceptableAddress,
    PHYSICAL_ADDRESS HighestAcceptableAddress,
    PHYSICAL_ADDRESS BoundaryAddressMultiple, MEMORY_CACHING_TYPE CacheType,
    NODE_REQUIREMENT PreferredNode, PVOID *BufferPointer);

STORPORT_API ULONG NTAPI StorPortFreeContiguousMemorySpecifyCache(
    PVOID HwDeviceExtension, PVOID BaseAddress, SIZE_T NumberOfBytes,
    MEMORY_CACHING_TYPE CacheType);

STORPORT_API ULONG NTAPI StorPortAllocateDmaMemory(
    PVOID HwDeviceExtension, SIZE_T NumberOfBytes,
    PHYSICAL_ADDRESS LowestAcceptableAddress,
    PHYSICAL_ADDRESS HighestAcceptableAddress,
    PHYSICAL_ADDRESS BoundaryAddressMultiple, MEMORY_CACHING_TYPE CacheType,
    NODE_REQUIREMENT PreferredNode, PVOID *BufferPointer,
    PPHYSICAL_ADDRESS PhysicalAddress);

STORPORT_API ULONG NTAPI StorPortFreeDmaMemory(
    PVOID HwDeviceExtension, PVOID BaseAddress, SIZE_T NumberOfBytes,
    MEMORY_CACHING_TYPE CacheType, PHYSICAL_ADDRESS PhysicalAddress);

STORPORT_API ULONG NTAPI StorPortAllocateHostMemoryBuffer(
    PVOID HwDeviceExtension, SIZE_T MinimumBytes, SIZE_T PreferredBytes,
    ULONGLONG UtilizationBytes, ULONG AlignmentBytes,
    PHYSICAL_ADDRESS LowestAcceptableAddress,
    PHYSICAL_ADDRESS HighestAcceptableAddress,
    PHYSICAL_ADDRESS BoundaryAddressMultiple,
    PACCESS_RANGE PhysicalAddressRanges, PULONG PhysicalAddressRangeCount);

STORPORT_API ULONG NTAPI StorPortFreeHostMemoryBuffer(
    PVOID HwDeviceExtension, PACCESS_RANGE PhysicalAddressRanges,
    ULONG PhysicalAddressRangeCount);

STORPORT_API ULONG NTAPI StorPortMarkDumpMemory(PVOID HwDeviceExtension,
                                                PVOID Address, ULONG_PTR Length,
                                                ULONG Flags);

STORPORT_API VOID NTAPI StorPortMoveMemory(PVOID WriteBuffer, PVOID ReadBuffer,
                                           ULONG Length);

/* --- Interrupts, DPCs and locks ------------------------------------------- */

STORPORT_API ULONG NTAPI
StorPortGetMSIInfo(PVOID HwDeviceExtension, ULONG MessageId,
                   PMESSAGE_INTERRUPT_INFORMATION InterruptInfo);

STORPORT_API ULONG NTAPI StorPortAcquireMSISpinLock(PVOID HwDeviceExtension,
                                                    ULONG MessageId,
                                                    PULONG OldIrql);

STORPORT_API ULONG NTAPI StorPortReleaseMSISpinLock(PVOID HwDeviceExtension,
                                                    ULONG MessageId,
                                                    ULONG OldIrql);

STORPORT_API ULONG NTAPI StorPortMaskMsixInterrupt(PVOID HwDeviceExtension,
                                                   ULONG MessageId,
                                                   BOOLEAN Mask);

STORPORT_API ULONG NTAPI StorPortGetMessageInterruptIDFromProcessorIndex(
    PVOID HwDeviceExtension, ULONG ProcessorIndex, PULONG MessageInterruptID);

STORPORT_API BOOLEAN NTAPI StorPortSynchronizeAccess(
    PVOID HwDeviceExtension,
    PSTOR_SYNCHRONIZED_ACCESS SynchronizedAccessRoutine, PVOID Context);

STORPORT_API VOID NTAPI StorPortInitializeDpc(PVOID DeviceExtension,
                                              PSTOR_DPC Dpc,
                                              PHW_DPC_ROUTINE HwDpcRoutine);

STORPORT_API BOOLEAN NTAPI StorPortIssueDpc(PVOID DeviceExtension,
                                            PSTOR_DPC Dpc,
                                            PVOID SystemArgument1,
                                            PVOID SystemArgument2);

STORPORT_API ULONG NTAPI StorPortCancelDpc(PVOID HwDeviceExtension,
                                           PSTOR_DPC Dpc, BOOLEAN *ReturnValue);

STORPORT_API VOID NTAPI StorPortAcquireSpinLock(PVOID DeviceExtension,
                                                STOR_SPINLOCK SpinLock,
                                                PVOID LockContext,
                                                PSTOR_LOCK_HANDLE LockHandle);

STORPORT_API ULONG NTAPI
StorPortAcquireSpinLockEx(PVOID HwDeviceExtension, STOR_SPINLOCK SpinLock,
                          PVOID LockContext, PSTOR_LOCK_HANDLE LockHandle);

STORPORT_API VOID NTAPI StorPortReleaseSpinLock(PVOID DeviceExtension,
                                                PSTOR_LOCK_HANDLE LockHandle);

STORPORT_API ULONG NTAPI StorPortInitializeSpinlock(PVOID HwDeviceExtension,
                                                    PSTOR_KSPIN_LOCK Lock);

STORPORT_API ULONG NTAPI StorPortGetCurrentIrql(PVOID HwDeviceExtension,
                                                PKIRQL Irql);

/* --- Interlocked lists ---------------------------------------------------- */

STORPORT_API VOID NTAPI StorPortInitializeListHead(PVOID HwDeviceExtension,
                                                   PSTOR_LIST_ENTRY ListHead);

STORPORT_API ULONG NTAPI StorPortInterlockedInsertHeadList(
    PVOID HwDeviceExtension, PSTOR_LIST_ENTRY ListHead,
    PSTOR_LIST_ENTRY ListEntry, PSTOR_LIST_ENTRY *Result,
    PSTOR_KSPIN_LOCK Lock);

STORPORT_API ULONG NTAPI StorPortInterlockedInsertTailList(
    PVOID HwDeviceExtension, PSTOR_LIST_ENTRY ListHead,
    PSTOR_LIST_ENTRY ListEntry, PSTOR_LIST_ENTRY *Result,
    PSTOR_KSPIN_LOCK Lock);

STORPORT_API ULONG NTAPI StorPortInterlockedRemoveHeadList(
    PVOID HwDeviceExtension, PSTOR_LIST_ENTRY ListHead,
    PSTOR_LIST_ENTRY *Result, PSTOR_KSPIN_LOCK Lock);

STORPORT_API ULONG NTAPI StorPortInitializeSListHead(
    PVOID HwDeviceExtension, PSTOR_SLIST_HEADER SListHead);

STORPORT_API ULONG NTAPI StorPortInterlockedFlushSList(
    PVOID HwDeviceExtension, PSTOR_SLIST_HEADER SListHead,
    PSTOR_SLIST_ENTRY *Result);

STORPORT_API ULONG NTAPI StorPortInterlockedPopEntrySList(
    PVOID HwDeviceExtension, PSTOR_SLIST_HEADER SListHead,
    PSTOR_SLIST_ENTRY *Result);

STORPORT_API ULONG NTAPI StorPortInterlockedPushEntrySList(
    PVOID HwDeviceExtension, PSTOR_SLIST_HEADER SListHead,
    PSTOR_SLIST_ENTRY SListEntry, PSTOR_SLIST_ENTRY *Result);

STORPORT_API ULONG NTAPI StorPortQueryDepthSList(PVOID HwDeviceExtension,
                                                 PSTOR_SLIST_HEADER SListHead,
                                                 PSHORT Result);

/* --- Timers, work items, threads, events ---------------------------------- */

STORPORT_API ULONG NTAPI StorPortInitializeTimer(PVOID HwDeviceExtension,
                                                 PVOID *TimerHandle);

STORPORT_API ULONG NTAPI StorPortRequestTimer(
    PVOID HwDeviceExtension, PVOID TimerHandle, PHW_TIMER_EX TimerCallback,
    PVOID CallbackContext, ULONGLONG TimerValue, ULONGLONG TolerableDelay);

STORPORT_API ULONG NTAPI StorPortFreeTimer(PVOID HwDeviceExtension,
                                           PVOID TimerHandle);

STORPORT_API ULONG NTAPI StorPortQueryTimerMinInterval(PVOID HwDeviceExtension,
                                                       PULONG TimerMinInterval);

STORPORT_API ULONG NTAPI StorPortInitializeWorker(PVOID HwDeviceExtension,
                                                  PVOID *Worker);

STORPORT_API ULONG NTAPI StorPortQueueWorkItem(PVOID HwDeviceExtension,
                                               PHW_WORKITEM WorkItemCallback,
                                               PVOID Worker, PVOID Context);

STORPORT_API ULONG NTAPI StorPortQueueWorkItemToNode(
    PVOID HwDeviceExtension, PHW_WORKITEM WorkItemCallback, PVOID Worker,
    PVOID Context, ULONG Node);

STORPORT_API ULONG NTAPI StorPortFreeWorker(PVOID HwDeviceExtension,
                                            PVOID Worker);

STORPORT_API ULONG NTAPI StorPortCreateSystemThread(
    PVOID HwDeviceExtension, PSTOR_THREAD_START_ROUTINE StartRoutine,
    PVOID StartContext, PSTOR_THREAD_PRIORITY Priority, PVOID *ThreadContext);

STORPORT_API VOID NTAPI StorPortTerminateSystemThread(PVOID HwDeviceExtension,
                                                      PVOID ThreadContext);

STORPORT_API ULONG NTAPI
StorPortSetPriorityThread(PVOID HwDeviceExtension, PVOID ThreadContext,
                          STOR_THREAD_PRIORITY Priority);

STORPORT_API ULONG NTAPI StorPortSetSystemGroupAffinityThread(
    PVOID HwDeviceExtension, PVOID ThreadContext, PSTOR_GROUP_AFFINITY Affinity,
    PSTOR_GROUP_AFFINITY PreviousAffinity);

STORPORT_API ULONG NTAPI StorPortRevertToUserGroupAffinityThread(
    PVOID HwDeviceExtension, PVOID ThreadContext,
    PSTOR_GROUP_AFFINITY PreviousAffinity);

STORPORT_API ULONG NTAPI StorPortInitializeEvent(PVOID HwDeviceExtension,
                                                 PSTOR_EVENT Event,
                                                 STOR_EVENT_TYPE Type,
                                                 BOOLEAN State);

STORPORT_API ULONG NTAPI StorPortSetEvent(PVOID HwDeviceExtension,
                                          PSTOR_EVENT Event);

STORPORT_API ULONG NTAPI StorPortWaitForSingleObject(PVOID HwDeviceExtension,
                                                     PVOID Object,
                                                     BOOLEAN Alertable,
                                                     PLARGE_INTEGER Timeout);

STORPORT_API ULONG NTAPI StorPortQueryDpcWatchdogInformation(
    PVOID HwDeviceExtension,
    PSTOR_DPC_WATCHDOG_INFORMATION DpcWatchdogInformation);

STORPORT_API VOID NTAPI StorPortStallExecution(ULONG Delay);

STORPORT_API ULONG NTAPI StorPortDelayExecution(PVOID HwDeviceExtension,
                                                ULONG DelayInMicroseconds);

/* --- Time and processors -------------------------------------------------- */

STORPORT_API VOID NTAPI StorPortQuerySystemTime(PLARGE_INTEGER CurrentTime);

STORPORT_API ULONG NTAPI StorPortQueryPerformanceCounter(
    PVOID HwDeviceExtension, PLARGE_INTEGER PerformanceFrequency,
    PLARGE_INTEGER PerformanceCounter);

STORPORT_API ULONG NTAPI StorPortGetCurrentProcessorNumber(
    PVOID HwDeviceExtension, PPROCESSOR_NUMBER ProcNumber);

STORPORT_API ULONG NTAPI StorPortGetProcessorCount(PVOID HwDeviceExtension,
                                                   PULONG ProcessorCount);

STORPORT_API ULONG NTAPI StorPortGetActiveGroupCount(PVOID HwDeviceExtension,
                                                     PUSHORT NumberGroups);

STORPORT_API ULONG NTAPI StorPortGetGroupAffinity(PVOID HwDeviceExtension,
                                                  USHORT GroupNumber,
                                                  PKAFFINITY GroupAffinityMask);

STORPORT_API ULONG NTAPI StorPortGetActiveNodeCount(PVOID HwDeviceExtension,
                                                    PULONG NumberNodes);

STORPORT_API ULONG NTAPI
StorPortGetNodeAffinity(PVOID HwDeviceExtension, ULONG NodeNumber,
                        PGROUP_AFFINITY NodeAffinityMask);

STORPORT_API ULONG NTAPI StorPortGetNodeAffinity2(
    PVOID HwDeviceExtension, ULONG NodeNumber, PGROUP_AFFINITY GroupAffinities,
    USHORT GroupAffinitiesCount, PUSHORT GroupAffinitiesCountRequired);

STORPORT_API ULONG NTAPI StorPortGetHighestNodeNumber(PVOID HwDeviceExtension,
                                                      PULONG HighestNode);

STORPORT_API ULONG NTAPI StorPortGetLogicalProcessorRelationship(
    PVOID HwDeviceExtension, PPROCESSOR_NUMBER ProcessorNumber,
    LOGICAL_PROCESSOR_RELATIONSHIP RelationshipType,
    PSYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX Information, PULONG Length);

/* --- Registry ------------------------------------------------------------- */

STORPORT_API PUCHAR NTAPI
StorPortAllocateRegistryBuffer(PVOID HwDeviceExtension, PULONG Length);

STORPORT_API VOID NTAPI StorPortFreeRegistryBuffer(PVOID HwDeviceExtension,
                                                   PUCHAR Buffer);

STORPORT_API BOOLEAN NTAPI StorPortRegistryRead(PVOID HwDeviceExtension,
                                                PUCHAR ValueName, ULONG Global,
                                                ULONG Type, PUCHAR Buffer,
                                                PULONG BufferLength);

STORPORT_API BOOLEAN NTAPI StorPortRegistryWrite(PVOID HwDeviceExtension,
                                                 PUCHAR ValueName, ULONG Global,
                                                 ULONG Type, PUCHAR Buffer,
                                                 ULONG BufferLength);

STORPORT_API ULONG NTAPI StorPortRegistryReadAdapterKey(
    PVOID HwDeviceExtension, PUCHAR SubKeyName, PUCHAR ValueName,
    ULONG ValueType, PVOID *ValueData, PULONG ValueDataLength);

STORPORT_API ULONG NTAPI StorPortRegistryWriteAdapterKey(
    PVOID HwDeviceExtension, PUCHAR SubKeyName, PUCHAR ValueName,
    ULONG ValueType, PVOID ValueData, ULONG ValueDataLength);

STORPORT_API ULONG NTAPI StorPortReadRegistryKey(PVOID HwDeviceExtension,
                                                 PWSTR AbsolutePath,
                                                 PWSTR KeyName, ULONG ValueType,
                                                 PVOID *ValueData,
                                                 PULONG ValueDataLength);

/* --- Power management ----------------------------------------------------- */

STORPORT_API ULONG NTAPI StorPortSetPowerSettingNotificationGuids(
    PVOID HwDeviceExtension, ULONG GuidCount, LPGUID Guid);

STORPORT_API ULONG NTAPI StorPortInitializePoFxPower(PVOID HwDeviceExtension,
                                                     PSTOR_ADDRESS Address,
                                                     PSTOR_POFX_DEVICE Device,
                                                     PBOOLEAN D3ColdEnabled);

STORPORT_API ULONG NTAPI StorPortPoFxActivateComponent(PVOID HwDeviceExtension,
                                                       PSTOR_ADDRESS Address,
                                                       PSCSI_REQUEST_BLOCK Srb,
                                                       ULONG Component,
                                                       ULONG Flags);

STORPORT_API ULONG NTAPI StorPortPoFxIdleComponent(PVOID HwDeviceExtension,
                                                   PSTOR_ADDRESS Address,
                                                   PSCSI_REQUEST_BLOCK Srb,
                                                   ULONG Component,
                                                   ULONG Flags);

STORPORT_API ULONG NTAPI
StorPortPoFxSetComponentLatency(PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
                                ULONG Component, ULONGLONG Latency);

STORPORT_API ULONG NTAPI StorPortPoFxSetComponentResidency(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONG Component,
    ULONGLONG Residency);

STORPORT_API ULONG NTAPI StorPortPoFxPowerControl(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, LPCGUID PowerControlCode,
    PVOID InBuffer, SIZE_T InBufferSize, PVOID OutBuffer, SIZE_T OutBufferSize,
    PSIZE_T BytesReturned);

STORPORT_API ULONG NTAPI StorPortPoFxSetIdleTimeout(PVOID HwDeviceExtension,
                                                    PSTOR_ADDRESS Address,
                                                    ULONG IdleTimeoutInMS);

STORPORT_API ULONG NTAPI StorPortPoFxSetPerfState(PVOID HwDeviceExtension,
                                                  PSTOR_ADDRESS Address,
                                                  ULONG Component, ULONG Flags,
                                                  ULONG SetIndex, ULONG State,
                                                  PVOID Context);

STORPORT_API ULONG NTAPI StorPortGetD3ColdSupport(PVOID HwDeviceExtension,
                                                  PVOID Address,
                                                  PBOOLEAN Supported);

/* --- Virtual miniports ---------------------------------------------------- */

STORPORT_API ULONG NTAPI StorPortCompleteServiceIrp(PVOID HwDeviceExtension,
                                                    PVOID Irp);

/* --- Inline encryption ---------------------------------------------------- */

STORPORT_API ULONG NTAPI StorPortInitializeCryptoEngine(
    PVOID HwDeviceExtension,
    PSTOR_CRYPTO_CAPABILITIES_DATA CryptoCapabilitiesData);

STORPORT_API ULONG NTAPI
StorPortGetRequestCryptoInfo(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
                             PSTOR_CRYPTO_KEY_INFO CryptoKeyInfo);

/* --- Diagnostics: debug output, event log, telemetry, ETW ----------------- */

STORPORT_API VOID StorPortDebugPrint(ULONG DebugPrintLevel, PCSTR DebugMessage,
                                     ...);

STORPORT_API VOID NTAPI StorPortLogError(PVOID HwDeviceExtension,
                                         PSCSI_REQUEST_BLOCK Srb, UCHAR PathId,
                                         UCHAR TargetId, UCHAR Lun,
                                         ULONG ErrorCode, ULONG UniqueId);

STORPORT_API ULONG NTAPI
StorPortLogSystemEvent(PVOID HwDeviceExtension,
                       PSTOR_LOG_EVENT_DETAILS LogDetails, PULONG MaximumSize);

STORPORT_API ULONG NTAPI StorPortLogTelemetry(PVOID HwDeviceExtension,
                                              PSTOR_ADDRESS StorAddress,
                                              PSTORPORT_TELEMETRY_EVENT Event);

STORPORT_API ULONG NTAPI StorPortLogTelemetryEx(
    PVOID HwDeviceExtension, PSTOR_ADDRESS StorAddress,
    PSTORPORT_TELEMETRY_EVENT Event, STOR_TELEMETRY_CATEGORY Category);

STORPORT_API ULONG NTAPI
StorPortCaptureLiveDump(PVOID HwDeviceExtension, PSTOR_ADDRESS StorAddress,
                        PSTORPORT_CAPTURE_LIVEDUMP CaptureLivedump);

STORPORT_API ULONG NTAPI StorPortEtwEvent2(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value);

STORPORT_API ULONG NTAPI StorPortEtwEvent4(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value);

STORPORT_API ULONG NTAPI StorPortEtwEvent8(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value,
    PWSTR Parameter5Name, ULONGLONG Parameter5Value, PWSTR Parameter6Name,
    ULONGLONG Parameter6Value, PWSTR Parameter7Name, ULONGLONG Parameter7Value,
    PWSTR Parameter8Name, ULONGLONG Parameter8Value);

STORPORT_API ULONG NTAPI StorPortEtwChannelEvent2(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
    STORPORT_ETW_EVENT_CHANNEL EventChannel, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value);

STORPORT_API ULONG NTAPI StorPortEtwChannelEvent4(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
    STORPORT_ETW_EVENT_CHANNEL EventChannel, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value);

STORPORT_API ULONG NTAPI StorPortEtwChannelEvent8(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
    STORPORT_ETW_EVENT_CHANNEL EventChannel, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value,
    PWSTR Parameter5Name, ULONGLONG Parameter5Value, PWSTR Parameter6Name,
    ULONGLONG Parameter6Value, PWSTR Parameter7Name, ULONGLONG Parameter7Value,
    PWSTR Parameter8Name, ULONGLONG Parameter8Value);

STORPORT_API ULONG NTAPI StorPortEtwLogByteStream(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
    STORPORT_ETW_EVENT_CHANNEL EventChannel, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    USHORT DataLength, PUCHAR Data);

STORPORT_API ULONG NTAPI StorPortEtwLogError(PVOID HwDeviceExtension,
                                             PSTOR_ADDRESS Address, ULONG Id,
                                             PWSTR Description,
                                             ULONG DataBufferLength,
                                             PVOID DataBuffer);

/* --- Pure helpers (no port state) ----------------------------------------- */

#define StorPortCopyMemory(Destination, Source, Length)                        \
    memcpy((Destination), (Source), (Length))

static inline STOR_PHYSICAL_ADDRESS
StorPortConvertUlongToPhysicalAddress(ULONG_PTR UlongAddress)
{
    STOR_PHYSICAL_ADDRESS address;

    address.QuadPart = (LONGLONG)UlongAddress;
    return address;
}

static inline STOR_PHYSICAL_ADDRESS
StorPortConvertUlong64ToPhysicalAddress(ULONG64 UlongAddress)
{
    STOR_PHYSICAL_ADDRESS address;

    address.QuadPart = (LONGLONG)UlongAddress;
    return address;
}

#define StorPortConvertPhysicalAddressToUlong(Address) ((Address).LowPart)
#define StorPortConvertPhysicalAddressToULong64(Address)                       \
    ((ULONG64)(Address).QuadPart)
#define StorPortConvertPhysicalAddressToUlong64(Address)                       \
    ((ULONG64)(Address).QuadPart)

/* --- SCSI-port and HAL spellings mapped onto the StorPort routines -------- */

/*
 * Storport miniports may still use the SCSI port register macros and the
 * HAL READ_/WRITE_ accessors.  All of them go through the StorPort
 * routines with no device extension: the port decodes the register
 * address alone, so the access is traced and checked like any other.
 */
#define ScsiPortReadPortUchar(Port)  StorPortReadPortUchar(NULL, Port)
#define ScsiPortReadPortUshort(Port) StorPortReadPortUshort(NULL, Port)
#define ScsiPortReadPortUlong(Port)  StorPortReadPortUlong(NULL, Port)
#define ScsiPortReadPortBufferUchar(Port, Buffer, Count)                       \
    StorPortReadPortBufferUchar(NULL, Port, Buffer, Count)
#define ScsiPortReadPortBufferUshort(Port, Buffer, Count)                      \
    StorPortReadPortBufferUshort(NULL, Port, Buffer, Count)
#define ScsiPortReadPortBufferUlong(Port, Buffer, Count)                       \
    StorPortReadPortBufferUlong(NULL, Port, Buffer, Count)
#define ScsiPortReadRegisterUchar(Register)                                    \
    StorPortReadRegisterUchar(NULL, Register)
#define ScsiPortReadRegisterUshort(Register)                                   \
    StorPortReadRegisterUshort(NULL, Register)
#define ScsiPortReadRegisterUlong(Register)                                    \
    StorPortReadRegisterUlong(NULL, Register)
#define ScsiPortReadRegisterBufferUchar(Register, Buffer, Count)               \
    StorPortReadRegisterBufferUchar(NULL, Register, Buffer, Count)
#define ScsiPortReadRegisterBufferUshort(Register, Buffer, Count)              \
    StorPortReadRegisterBufferUshort(NULL, Register, Buffer, Count)
#define ScsiPortReadRegisterBufferUlong(Register, Buffer, Count)               \
    StorPortReadRegisterBufferUlong(NULL, Register, Buffer, Count)
#define ScsiPortWritePortUchar(Port, Value)                                    \
    StorPortWritePortUchar(NULL, Port, Value)
#define ScsiPortWritePortUshort(Port, Value)                                   \
    StorPortWritePortUshort(NULL, Port, Value)
#define ScsiPortWritePortUlong(Port, Value)                                    \
    StorPortWritePortUlong(NULL, Port, Value)
#define ScsiPortWritePortBufferUchar(Port, Buffer, Count)                      \
    StorPortWritePortBufferUchar(NULL, Port, Buffer, Count)
#define ScsiPortWritePortBufferUshort(Port, Buffer, Count)                     \
    StorPortWritePortBufferUshort(NULL, Port, Buffer, Count)
#define ScsiPortWritePortBufferUlong(Port, Buffer, Count)                      \
    StorPortWritePortBufferUlong(NULL, Port, Buffer, Count)
#define ScsiPortWriteRegisterUchar(Register, Value)                            \
    StorPortWriteRegisterUchar(NULL, Register, Value)
#define ScsiPortWriteRegisterUshort(Register, Value)                           \
    StorPortWriteRegisterUshort(NULL, Register, Value)
#define ScsiPortWriteRegisterUlong(Register, Value)                            \
    StorPortWriteRegisterUlong(NULL, Register, Value)
#define ScsiPortWriteRegisterBufferUchar(Register, Buffer, Count)              \
    StorPortWriteRegisterBufferUchar(NULL, Register, Buffer, Count)
#define ScsiPortWriteRegisterBufferUshort(Register, Buffer, Count)             \
    StorPortWriteRegisterBufferUshort(NULL, Register, Buffer, Count)
#define ScsiPortWriteRegisterBufferUlong(Register, Buffer, Count)              \
    StorPortWriteRegisterBufferUlong(NULL, Register, Buffer, Count)

#define ScsiPortMoveMemory      StorPortMoveMemory
#define ScsiPortStallExecution  StorPortStallExecution
#define ScsiPortQuerySystemTime StorPortQuerySystemTime
#define ScsiPortConvertUlongToPhysicalAddress                                  \
    StorPortConvertUlongToPhysicalAddress
#define ScsiPortConvertPhysicalAddressToUlong                                  \
    StorPortConvertPhysicalAddressToUlong
#define ScsiDebugPrint StorPortDebugPrint

#define READ_PORT_UCHAR(Port)  StorPortReadPortUchar(NULL, Port)
#define READ_PORT_USHORT(Port) StorPortReadPortUshort(NULL, Port)
#define READ_PORT_ULONG(Port)  StorPortReadPortUlong(NULL, Port)
#define READ_PORT_BUFFER_UCHAR(Port, Buffer, Count)                            \
    StorPortReadPortBufferUchar(NULL, Port, Buffer, Count)
#define READ_PORT_BUFFER_USHORT(Port, Buffer, Count)                           \
    StorPortReadPortBufferUshort(NULL, Port, Buffer, Count)
#define READ_PORT_BUFFER_ULONG(Port, Buffer, Count)                            \
    StorPortReadPortBufferUlong(NULL, Port, Buffer, Count)
#define WRITE_PORT_UCHAR(Port, Value) StorPortWritePortUchar(NULL, Port, Value)
#define WRITE_PORT_USHORT(Port, Value)                                         \
    StorPortWritePortUshort(NULL, Port, Value)
#define WRITE_PORT_ULONG(Port, Value) StorPortWritePortUlong(NULL, Port, Value)
#define WRITE_PORT_BUFFER_UCHAR(Port, Buffer, Count)                           \
    StorPortWritePortBufferUchar(NULL, Port, Buffer, Count)
#define WRITE_PORT_BUFFER_USHORT(Port, Buffer, Count)                          \
    StorPortWritePortBufferUshort(NULL, Port, Buffer, Count)
#define WRITE_PORT_BUFFER_ULONG(Port, Buffer, Count)                           \
    StorPortWritePortBufferUlong(NULL, Port, Buffer, Count)
#define READ_REGISTER_UCHAR(Register) StorPortReadRegisterUchar(NULL, Register)
#define READ_REGISTER_USHORT(Register)                                         \
    StorPortReadRegisterUshort(NULL, Register)
#define READ_REGISTER_ULONG(Register) StorPortReadRegisterUlong(NULL, Register)
#define READ_REGISTER_ULONG64(Register)                                        \
    StorPortReadRegisterUlong64(NULL, Register)
#define READ_REGISTER_BUFFER_UCHAR(Register, Buffer, Count)                    \
    StorPortReadRegisterBufferUchar(NULL, Register, Buffer, Count)
#define READ_REGISTER_BUFFER_USHORT(Register, Buffer, Count)                   \
    StorPortReadRegisterBufferUshort(NULL, Register, Buffer, Count)
#define READ_REGISTER_BUFFER_ULONG(Register, Buffer, Count)                    \
    StorPortReadRegisterBufferUlong(NULL, Register, Buffer, Count)
#define READ_REGISTER_BUFFER_ULONG64(Register, Buffer, Count)                  \
    StorPortReadRegisterBufferUlong64(NULL, Register, Buffer, Count)
#define WRITE_REGISTER_UCHAR(Register, Value)                                  \
    StorPortWriteRegisterUchar(NULL, Register, Value)
#define WRITE_REGISTER_USHORT(Register, Value)                                 \
    StorPortWriteRegisterUshort(NULL, Register, Value)
#define WRITE_REGISTER_ULONG(Register, Value)                                  \
    StorPortWriteRegisterUlong(NULL, Register, Value)
#define WRITE_REGISTER_ULONG64(Register, Value)                                \
    StorPortWriteRegisterUlong64(NULL, Register, Value)
#define WRITE_REGISTER_BUFFER_UCHAR(Register, Buffer, Count)                   \
    StorPortWriteRegisterBufferUchar(NULL, Register, Buffer, Count)
#define WRITE_REGISTER_BUFFER_USHORT(Register, Buffer, Count)                  \
    StorPortWriteRegisterBufferUshort(NULL, Register, Buffer, Count)
#define WRITE_REGISTER_BUFFER_ULONG(Register, Buffer, Count)                   \
    StorPortWriteRegisterBufferUlong(NULL, Register, Buffer, Count)
#define WRITE_REGISTER_BUFFER_ULONG64(Register, Buffer, Count)                 \
    StorPortWriteRegisterBufferUlong64(NULL, Register, Buffer, Count)

/* --- Layout checks (Windows x64; see tests/unit/test-ddi-headers.c) ------- */

_Static_assert(sizeof(HW_INITIALIZATION_DATA) == 208, "HW_INITIALIZATION_DATA");
_Static_assert(sizeof(PORT_CONFIGURATION_INFORMATION) == 0xe0,
               "PORT_CONFIGURATION_INFORMATION");
_Static_assert(sizeof(STOR_SCATTER_GATHER_ELEMENT) == 24, "SG element");
_Static_assert(sizeof(STOR_DPC) == 72, "STOR_DPC");
_Static_assert(sizeof(STOR_LOCK_HANDLE) == 32, "STOR_LOCK_HANDLE");

#endif /* STOREMU_STORPORT_H */
