/* SPDX-License-Identifier: MIT */
/*
 * SCSI request blocks as Storport hands them to a miniport: the classic
 * SCSI_REQUEST_BLOCK, the Windows 8 extended STORAGE_REQUEST_BLOCK with its
 * SRBEX_DATA blocks, the function/status/flag codes, and the "srbhelper"
 * accessors that read or write a field on either kind of SRB.
 *
 * This is the Storport flavour of the kit's srb.h: it leaves out the
 * SCSI-port-only HW_INITIALIZATION_DATA and PORT_CONFIGURATION_INFORMATION
 * (storport.h defines the Storport ones), so srb.h and storport.h can be
 * included together in any order.
 *
 * An extended SRB is one allocation: the STORAGE_REQUEST_BLOCK header, then
 * (at AddressOffset) a STOR_ADDRESS naming the unit, then SRBEX_DATA blocks
 * whose offsets are listed in SrbExDataOffset[].  Every offset is relative
 * to the start of the SRB and must lie inside SrbLength; the accessors
 * below check that and return NULL/0 for a malformed SRB rather than read
 * outside it.
 */
#ifndef STOREMU_SRB_H
#define STOREMU_SRB_H

#include "storport_types.h"
#include "scsi.h"

#ifndef _NTSRB_
#define _NTSRB_
#endif

/* --- SCSI_REQUEST_BLOCK --------------------------------------------------- */

typedef struct _SCSI_REQUEST_BLOCK {
    USHORT Length;
    UCHAR Function;
    UCHAR SrbStatus;
    UCHAR ScsiStatus;
    UCHAR PathId;
    UCHAR TargetId;
    UCHAR Lun;
    UCHAR QueueTag;
    UCHAR QueueAction;
    UCHAR CdbLength;
    UCHAR SenseInfoBufferLength;
    ULONG SrbFlags;
    ULONG DataTransferLength;
    ULONG TimeOutValue;
    PVOID DataBuffer;
    PVOID SenseInfoBuffer;
    struct _SCSI_REQUEST_BLOCK *NextSrb;
    PVOID OriginalRequest;
    PVOID SrbExtension;
    union {
        ULONG InternalStatus;
        ULONG QueueSortKey;
        ULONG LinkTimeoutValue;
    };
    ULONG Reserved; /* present on 64-bit Windows only */
    UCHAR Cdb[16];
} SCSI_REQUEST_BLOCK, *PSCSI_REQUEST_BLOCK;

#define SCSI_REQUEST_BLOCK_SIZE sizeof(SCSI_REQUEST_BLOCK)

typedef struct _SCSI_WMI_REQUEST_BLOCK {
    USHORT Length;
    UCHAR Function;
    UCHAR SrbStatus;
    UCHAR WMISubFunction;
    UCHAR PathId;
    UCHAR TargetId;
    UCHAR Lun;
    UCHAR Reserved1;
    UCHAR WMIFlags;
    UCHAR Reserved2[2];
    ULONG SrbFlags;
    ULONG DataTransferLength;
    ULONG TimeOutValue;
    PVOID DataBuffer;
    PVOID DataPath;
    PVOID Reserved3;
    PVOID OriginalRequest;
    PVOID SrbExtension;
    ULONG Reserved4;
    ULONG Reserved6; /* 64-bit Windows only */
    UCHAR Reserved5[16];
} SCSI_WMI_REQUEST_BLOCK, *PSCSI_WMI_REQUEST_BLOCK;

typedef enum _STOR_DEVICE_POWER_STATE {
    StorPowerDeviceUnspecified = 0,
    StorPowerDeviceD0,
    StorPowerDeviceD1,
    StorPowerDeviceD2,
    StorPowerDeviceD3,
    StorPowerDeviceMaximum
} STOR_DEVICE_POWER_STATE,
    *PSTOR_DEVICE_POWER_STATE;

typedef enum _STOR_POWER_ACTION {
    StorPowerActionNone = 0,
    StorPowerActionReserved,
    StorPowerActionSleep,
    StorPowerActionHibernate,
    StorPowerActionShutdown,
    StorPowerActionShutdownReset,
    StorPowerActionShutdownOff,
    StorPowerActionWarmEject
} STOR_POWER_ACTION,
    *PSTOR_POWER_ACTION;

typedef struct _SCSI_POWER_REQUEST_BLOCK {
    USHORT Length;
    UCHAR Function;
    UCHAR SrbStatus;
    UCHAR SrbPowerFlags;
    UCHAR PathId;
    UCHAR TargetId;
    UCHAR Lun;
    STOR_DEVICE_POWER_STATE DevicePowerState;
    ULONG SrbFlags;
    ULONG DataTransferLength;
    ULONG TimeOutValue;
    PVOID DataBuffer;
    PVOID SenseInfoBuffer;
    struct _SCSI_REQUEST_BLOCK *NextSrb;
    PVOID OriginalRequest;
    PVOID SrbExtension;
    STOR_POWER_ACTION PowerAction;
    ULONG Reserved; /* 64-bit Windows only */
    UCHAR Reserved5[16];
} SCSI_POWER_REQUEST_BLOCK, *PSCSI_POWER_REQUEST_BLOCK;

/* Values are the IRP_MN_* minor function codes they stand for. */
typedef enum _STOR_PNP_ACTION {
    StorStartDevice = 0x0,
    StorRemoveDevice = 0x2,
    StorStopDevice = 0x4,
    StorQueryCapabilities = 0x9,
    StorQueryResourceRequirements = 0xB,
    StorFilterResourceRequirements = 0xD,
    StorSurpriseRemoval = 0x17
} STOR_PNP_ACTION,
    *PSTOR_PNP_ACTION;

/*
 * The unnamed zero-width bit-field starts the flag word on the next ULONG
 * boundary: the Windows (MSVC) bit-field rule does that on a change of
 * declared type, the System V rule would instead pack the flags into the
 * two bytes after Version.
 */
typedef struct _STOR_DEVICE_CAPABILITIES {
    USHORT Version;
    ULONG : 0;
    ULONG DeviceD1 : 1;
    ULONG DeviceD2 : 1;
    ULONG LockSupported : 1;
    ULONG EjectSupported : 1;
    ULONG Removable : 1;
    ULONG DockDevice : 1;
    ULONG UniqueID : 1;
    ULONG SilentInstall : 1;
    ULONG SurpriseRemovalOK : 1;
    ULONG NoDisplayInUI : 1;
} STOR_DEVICE_CAPABILITIES, *PSTOR_DEVICE_CAPABILITIES;

typedef struct _STOR_DEVICE_CAPABILITIES_EX {
    USHORT Version;
    USHORT Size;
    ULONG DeviceD1 : 1;
    ULONG DeviceD2 : 1;
    ULONG LockSupported : 1;
    ULONG EjectSupported : 1;
    ULONG Removable : 1;
    ULONG DockDevice : 1;
    ULONG UniqueID : 1;
    ULONG SilentInstall : 1;
    ULONG RawDeviceOK : 1;
    ULONG SurpriseRemovalOK : 1;
    ULONG NoDisplayInUI : 1;
    ULONG DefaultWriteCacheEnabled : 1;
    ULONG Reserved0 : 20;
    ULONG Address;
    ULONG UINumber;
    ULONG Reserved1[2];
} STOR_DEVICE_CAPABILITIES_EX, *PSTOR_DEVICE_CAPABILITIES_EX;

typedef struct _SCSI_PNP_REQUEST_BLOCK {
    USHORT Length;
    UCHAR Function;
    UCHAR SrbStatus;
    UCHAR PnPSubFunction;
    UCHAR PathId;
    UCHAR TargetId;
    UCHAR Lun;
    STOR_PNP_ACTION PnPAction;
    ULONG SrbFlags;
    ULONG DataTransferLength;
    ULONG TimeOutValue;
    PVOID DataBuffer;
    PVOID SenseInfoBuffer;
    struct _SCSI_REQUEST_BLOCK *NextSrb;
    PVOID OriginalRequest;
    PVOID SrbExtension;
    ULONG SrbPnPFlags;
    ULONG Reserved; /* 64-bit Windows only */
    UCHAR Reserved4[16];
} SCSI_PNP_REQUEST_BLOCK, *PSCSI_PNP_REQUEST_BLOCK;

/* --- SRB functions -------------------------------------------------------- */

#define SRB_FUNCTION_EXECUTE_SCSI          0x00
#define SRB_FUNCTION_CLAIM_DEVICE          0x01
#define SRB_FUNCTION_IO_CONTROL            0x02
#define SRB_FUNCTION_RECEIVE_EVENT         0x03
#define SRB_FUNCTION_RELEASE_QUEUE         0x04
#define SRB_FUNCTION_ATTACH_DEVICE         0x05
#define SRB_FUNCTION_RELEASE_DEVICE        0x06
#define SRB_FUNCTION_SHUTDOWN              0x07
#define SRB_FUNCTION_FLUSH                 0x08
#define SRB_FUNCTION_ABORT_COMMAND         0x10
#define SRB_FUNCTION_RELEASE_RECOVERY      0x11
#define SRB_FUNCTION_RESET_BUS             0x12
#define SRB_FUNCTION_RESET_DEVICE          0x13
#define SRB_FUNCTION_TERMINATE_IO          0x14
#define SRB_FUNCTION_FLUSH_QUEUE           0x15
#define SRB_FUNCTION_REMOVE_DEVICE         0x16
#define SRB_FUNCTION_WMI                   0x17
#define SRB_FUNCTION_LOCK_QUEUE            0x18
#define SRB_FUNCTION_UNLOCK_QUEUE          0x19
#define SRB_FUNCTION_QUIESCE_DEVICE        0x1a
#define SRB_FUNCTION_RESET_LOGICAL_UNIT    0x20
#define SRB_FUNCTION_SET_LINK_TIMEOUT      0x21
#define SRB_FUNCTION_LINK_TIMEOUT_OCCURRED 0x22
#define SRB_FUNCTION_LINK_TIMEOUT_COMPLETE 0x23
#define SRB_FUNCTION_POWER                 0x24
#define SRB_FUNCTION_PNP                   0x25
#define SRB_FUNCTION_DUMP_POINTERS         0x26
#define SRB_FUNCTION_FREE_DUMP_POINTERS    0x27
/* Function byte of every STORAGE_REQUEST_BLOCK; the real function is in
 * its SrbFunction field. */
#define SRB_FUNCTION_STORAGE_REQUEST_BLOCK 0x28
#define SRB_FUNCTION_CRYPTO_OPERATION      0x29
#define SRB_FUNCTION_GET_DUMP_INFO         0x2a
#define SRB_FUNCTION_FREE_DUMP_INFO        0x2b

/* --- SRB status ----------------------------------------------------------- */

#define SRB_STATUS_PENDING                0x00
#define SRB_STATUS_SUCCESS                0x01
#define SRB_STATUS_ABORTED                0x02
#define SRB_STATUS_ABORT_FAILED           0x03
#define SRB_STATUS_ERROR                  0x04
#define SRB_STATUS_BUSY                   0x05
#define SRB_STATUS_INVALID_REQUEST        0x06
#define SRB_STATUS_INVALID_PATH_ID        0x07
#define SRB_STATUS_NO_DEVICE              0x08
#define SRB_STATUS_TIMEOUT                0x09
#define SRB_STATUS_SELECTION_TIMEOUT      0x0A
#define SRB_STATUS_COMMAND_TIMEOUT        0x0B
#define SRB_STATUS_MESSAGE_REJECTED       0x0D
#define SRB_STATUS_BUS_RESET              0x0E
#define SRB_STATUS_PARITY_ERROR           0x0F
#define SRB_STATUS_REQUEST_SENSE_FAILED   0x10
#define SRB_STATUS_NO_HBA                 0x11
#define SRB_STATUS_DATA_OVERRUN           0x12
#define SRB_STATUS_UNEXPECTED_BUS_FREE    0x13
#define SRB_STATUS_PHASE_SEQUENCE_FAILURE 0x14
#define SRB_STATUS_BAD_SRB_BLOCK_LENGTH   0x15
#define SRB_STATUS_REQUEST_FLUSHED        0x16
#define SRB_STATUS_INVALID_LUN            0x20
#define SRB_STATUS_INVALID_TARGET_ID      0x21
#define SRB_STATUS_BAD_FUNCTION           0x22
#define SRB_STATUS_ERROR_RECOVERY         0x23
#define SRB_STATUS_NOT_POWERED            0x24
#define SRB_STATUS_LINK_DOWN              0x25
#define SRB_STATUS_INSUFFICIENT_RESOURCES 0x26
#define SRB_STATUS_THROTTLED_REQUEST      0x27
#define SRB_STATUS_INTERNAL_ERROR         0x30

/* Qualifier bits a port/miniport may OR into SrbStatus. */
#define SRB_STATUS_QUEUE_FROZEN    0x40
#define SRB_STATUS_AUTOSENSE_VALID 0x80

/* The status code with the qualifier bits stripped. */
#define SRB_STATUS(Status)                                                     \
    ((Status) & ~(SRB_STATUS_AUTOSENSE_VALID | SRB_STATUS_QUEUE_FROZEN))

/* --- SRB flags ------------------------------------------------------------ */

#define SRB_FLAGS_QUEUE_ACTION_ENABLE    0x00000002
#define SRB_FLAGS_DISABLE_DISCONNECT     0x00000004
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER 0x00000008
#define SRB_FLAGS_BYPASS_FROZEN_QUEUE    0x00000010
#define SRB_FLAGS_DISABLE_AUTOSENSE      0x00000020
#define SRB_FLAGS_DATA_IN                0x00000040
#define SRB_FLAGS_DATA_OUT               0x00000080
#define SRB_FLAGS_NO_DATA_TRANSFER       0x00000000

#define SRB_FLAGS_UNSPECIFIED_DIRECTION (SRB_FLAGS_DATA_IN | SRB_FLAGS_DATA_OUT)

#define SRB_FLAGS_NO_QUEUE_FREEZE          0x00000100
#define SRB_FLAGS_ADAPTER_CACHE_ENABLE     0x00000200
#define SRB_FLAGS_FREE_SENSE_BUFFER        0x00000400
#define SRB_FLAGS_D3_PROCESSING            0x00000800
#define SRB_FLAGS_SEQUENTIAL_REQUIRED      0x00001000
#define SRB_FLAGS_IS_ACTIVE                0x00010000
#define SRB_FLAGS_ALLOCATED_FROM_ZONE      0x00020000
#define SRB_FLAGS_SGLIST_FROM_POOL         0x00040000
#define SRB_FLAGS_BYPASS_LOCKED_QUEUE      0x00080000
#define SRB_FLAGS_NO_KEEP_AWAKE            0x00100000
#define SRB_FLAGS_PORT_DRIVER_ALLOCSENSE   0x00200000
#define SRB_FLAGS_PORT_DRIVER_SENSEHASPORT 0x00400000
#define SRB_FLAGS_DONT_START_NEXT_PACKET   0x00800000
#define SRB_FLAGS_PORT_DRIVER_RESERVED     0x0F000000
#define SRB_FLAGS_CLASS_DRIVER_RESERVED    0xF0000000

/* QueueAction values (SCSI task attributes). */
#define SRB_SIMPLE_TAG_REQUEST        0x20
#define SRB_HEAD_OF_QUEUE_TAG_REQUEST 0x21
#define SRB_ORDERED_QUEUE_TAG_REQUEST 0x22

/* Set in the WMI/power/PnP/IOCTL flags when the request targets the
 * adapter rather than a logical unit. */
#define SRB_WMI_FLAGS_ADAPTER_REQUEST   0x01
#define SRB_POWER_FLAGS_ADAPTER_REQUEST 0x01
#define SRB_PNP_FLAGS_ADAPTER_REQUEST   0x01
#define SRB_IOCTL_FLAGS_ADAPTER_REQUEST 0x01

/* --- Extended SRB (STORAGE_REQUEST_BLOCK) --------------------------------- */

/*
 * On 64-bit Windows every variable-length piece of an extended SRB, and
 * every pointer inside one, is 8-byte aligned.
 */
#define SRB_ALIGN     DECLSPEC_ALIGN(8)
#define POINTER_ALIGN DECLSPEC_ALIGN(8)

typedef enum _SRBEXDATATYPE {
    SrbExDataTypeUnknown = 0,
    SrbExDataTypeBidirectional,
    SrbExDataTypeScsiCdb16 = 0x40,
    SrbExDataTypeScsiCdb32,
    SrbExDataTypeScsiCdbVar,
    SrbExDataTypeNvmeCommand,
    SrbExDataTypeNvmeofOperation,
    SrbExDataTypeWmi = 0x60,
    SrbExDataTypePower,
    SrbExDataTypePnP,
    SrbExDataTypeIoInfo = 0x80,
    SrbExDataTypePassthroughDirect = 0xa0,
    SrbExDataTypeMSReservedStart = 0xf0000000,
    SrbExDataTypeReserved = 0xffffffff
} SRBEXDATATYPE,
    *PSRBEXDATATYPE;

/*
 * Common header of every SRBEX_DATA block.  Length counts the bytes that
 * follow the Type and Length fields, i.e. sizeof(block) - 8 for the fixed
 * forms (each *_LENGTH constant below).
 */
typedef struct SRB_ALIGN _SRBEX_DATA {
    SRBEXDATATYPE Type;
    ULONG Length;
    UCHAR Data[ANYSIZE_ARRAY];
} SRBEX_DATA, *PSRBEX_DATA;

#define SRBEX_DATA_BIDIRECTIONAL_LENGTH ((2 * sizeof(ULONG)) + sizeof(PVOID))

typedef struct SRB_ALIGN _SRBEX_DATA_BIDIRECTIONAL {
    SRBEXDATATYPE Type;
    ULONG Length;
    ULONG DataInTransferLength;
    ULONG Reserved1;
    PVOID POINTER_ALIGN DataInBuffer;
} SRBEX_DATA_BIDIRECTIONAL, *PSRBEX_DATA_BIDIRECTIONAL;

#define SRBEX_DATA_SCSI_CDB16_LENGTH                                           \
    ((20 * sizeof(UCHAR)) + sizeof(ULONG) + sizeof(PVOID))

typedef struct SRB_ALIGN _SRBEX_DATA_SCSI_CDB16 {
    SRBEXDATATYPE Type;
    ULONG Length;
    UCHAR ScsiStatus;
    UCHAR SenseInfoBufferLength;
    UCHAR CdbLength;
    UCHAR Reserved;
    ULONG Reserved1;
    PVOID POINTER_ALIGN SenseInfoBuffer;
    UCHAR POINTER_ALIGN Cdb[16];
} SRBEX_DATA_SCSI_CDB16, *PSRBEX_DATA_SCSI_CDB16;

#define SRBEX_DATA_SCSI_CDB32_LENGTH                                           \
    ((36 * sizeof(UCHAR)) + sizeof(ULONG) + sizeof(PVOID))

typedef struct SRB_ALIGN _SRBEX_DATA_SCSI_CDB32 {
    SRBEXDATATYPE Type;
    ULONG Length;
    UCHAR ScsiStatus;
    UCHAR SenseInfoBufferLength;
    UCHAR CdbLength;
    UCHAR Reserved;
    ULONG Reserved1;
    PVOID POINTER_ALIGN SenseInfoBuffer;
    UCHAR POINTER_ALIGN Cdb[32];
} SRBEX_DATA_SCSI_CDB32, *PSRBEX_DATA_SCSI_CDB32;

#define SRBEX_DATA_SCSI_CDB_VAR_LENGTH_MIN                                     \
    ((4 * sizeof(UCHAR)) + (3 * sizeof(ULONG)) + sizeof(PVOID))
#define SRBEX_DATA_SCSI_CDB_VAR_LENGTH_MAX 0xffffffffUL

typedef struct SRB_ALIGN _SRBEX_DATA_SCSI_CDB_VAR {
    SRBEXDATATYPE Type;
    ULONG Length;
    UCHAR ScsiStatus;
    UCHAR SenseInfoBufferLength;
    UCHAR Reserved[2];
    ULONG CdbLength;
    ULONG Reserved1[2];
    PVOID POINTER_ALIGN SenseInfoBuffer;
    UCHAR POINTER_ALIGN Cdb[ANYSIZE_ARRAY];
} SRBEX_DATA_SCSI_CDB_VAR, *PSRBEX_DATA_SCSI_CDB_VAR;

#define SRBEX_DATA_WMI_LENGTH                                                  \
    ((4 * sizeof(UCHAR)) + sizeof(ULONG) + sizeof(PVOID))

typedef struct SRB_ALIGN _SRBEX_DATA_WMI {
    SRBEXDATATYPE Type;
    ULONG Length;
    UCHAR WMISubFunction;
    UCHAR WMIFlags;
    UCHAR Reserved[2];
    ULONG Reserved1;
    PVOID POINTER_ALIGN DataPath;
} SRBEX_DATA_WMI, *PSRBEX_DATA_WMI;

#define SRBEX_DATA_POWER_LENGTH                                                \
    ((4 * sizeof(UCHAR)) + sizeof(STOR_DEVICE_POWER_STATE) +                   \
     sizeof(STOR_POWER_ACTION))

typedef struct SRB_ALIGN _SRBEX_DATA_POWER {
    SRBEXDATATYPE Type;
    ULONG Length;
    UCHAR SrbPowerFlags;
    UCHAR Reserved[3];
    STOR_DEVICE_POWER_STATE DevicePowerState;
    STOR_POWER_ACTION PowerAction;
} SRBEX_DATA_POWER, *PSRBEX_DATA_POWER;

#define SRBEX_DATA_PNP_LENGTH                                                  \
    ((4 * sizeof(UCHAR)) + sizeof(STOR_PNP_ACTION) + (2 * sizeof(ULONG)))

typedef struct SRB_ALIGN _SRBEX_DATA_PNP {
    SRBEXDATATYPE Type;
    ULONG Length;
    UCHAR PnPSubFunction;
    UCHAR Reserved[3];
    STOR_PNP_ACTION PnPAction;
    ULONG SrbPnPFlags;
    ULONG Reserved1;
} SRBEX_DATA_PNP, *PSRBEX_DATA_PNP;

#define SRBEX_DATA_IO_INFO_LENGTH ((5 * sizeof(ULONG)) + (4 * sizeof(UCHAR)))

/* SRBEX_DATA_IO_INFO.Flags */
#define REQUEST_INFO_NO_CACHE_FLAG             0x00000001
#define REQUEST_INFO_PAGING_IO_FLAG            0x00000002
#define REQUEST_INFO_SEQUENTIAL_IO_FLAG        0x00000004
#define REQUEST_INFO_TEMPORARY_FLAG            0x00000008
#define REQUEST_INFO_WRITE_THROUGH_FLAG        0x00000010
#define REQUEST_INFO_HYBRID_WRITE_THROUGH_FLAG 0x00000020
#define REQUEST_INFO_NO_FILE_OBJECT_FLAG       0x00000040
#define REQUEST_INFO_VOLSNAP_IO_FLAG           0x00000080
#define REQUEST_INFO_STREAM_FLAG               0x00000100
#define REQUEST_INFO_VALID_CACHEPRIORITY_FLAG  0x80000000

typedef struct SRB_ALIGN _SRBEX_DATA_IO_INFO {
    SRBEXDATATYPE Type;
    ULONG Length;
    ULONG Flags;
    ULONG Key;
    ULONG RWLength;
    BOOLEAN IsWriteRequest;
    UCHAR CachePriority;
    UCHAR Reserved[2];
    ULONG Reserved1[2];
} SRBEX_DATA_IO_INFO, *PSRBEX_DATA_IO_INFO;

/* "SRBX" as a little-endian ULONG. */
#define SRB_SIGNATURE                   0x53524258
#define STORAGE_REQUEST_BLOCK_VERSION_1 0x1

typedef struct SRB_ALIGN _STORAGE_REQUEST_BLOCK_HEADER {
    USHORT Length;
    UCHAR Function;
    UCHAR SrbStatus;
} STORAGE_REQUEST_BLOCK_HEADER, *PSTORAGE_REQUEST_BLOCK_HEADER;

typedef struct SRB_ALIGN _STORAGE_REQUEST_BLOCK {
    USHORT Length;
    UCHAR Function; /* always SRB_FUNCTION_STORAGE_REQUEST_BLOCK */
    UCHAR SrbStatus;
    ULONG ReservedUlong1;
    ULONG Signature;
    ULONG Version;
    ULONG SrbLength; /* whole allocation, header to last SRBEX_DATA */
    ULONG SrbFunction;
    ULONG SrbFlags;
    ULONG ReservedUlong2;
    ULONG RequestTag;
    USHORT RequestPriority;
    USHORT RequestAttribute;
    ULONG TimeOutValue;
    union {
        ULONG SystemStatus;
        ULONG RequestTagHigh4Bytes;
    };
    ULONG ZeroGuard1;
    ULONG AddressOffset;
    ULONG NumSrbExData;
    ULONG DataTransferLength;
    PVOID POINTER_ALIGN DataBuffer;
    PVOID POINTER_ALIGN ZeroGuard2;
    PVOID POINTER_ALIGN OriginalRequest;
    PVOID POINTER_ALIGN ClassContext;
    PVOID POINTER_ALIGN PortContext;
    PVOID POINTER_ALIGN MiniportContext;
    struct _STORAGE_REQUEST_BLOCK *NextSrb;
    ULONG SrbExDataOffset[ANYSIZE_ARRAY];
} STORAGE_REQUEST_BLOCK, *PSTORAGE_REQUEST_BLOCK;

/* PORT_CONFIGURATION_INFORMATION.SrbType */
#define SRB_TYPE_SCSI_REQUEST_BLOCK    0
#define SRB_TYPE_STORAGE_REQUEST_BLOCK 1
#define SRB_TYPE_NVME_REQUEST_BLOCK    2

/* PORT_CONFIGURATION_INFORMATION.AddressType */
#define STORAGE_ADDRESS_TYPE_BTL8 0
#define STORAGE_ADDRESS_TYPE_NVME 1

_Static_assert(sizeof(SCSI_REQUEST_BLOCK) == 88, "SRB has the x64 size");
_Static_assert(sizeof(STORAGE_REQUEST_BLOCK) == 128, "SRBEX header size");
_Static_assert(sizeof(SRBEX_DATA_SCSI_CDB16) ==
                   SRBEX_DATA_SCSI_CDB16_LENGTH + 2 * sizeof(ULONG),
               "CDB16 block length matches its layout");

/* --- SRB helpers (srbhelper.h) -------------------------------------------- */

/*
 * Each accessor takes either kind of SRB and tells them apart by the
 * Function byte, which sits at offset 2 in both layouts.  The byte is read
 * through an UCHAR pointer so the test is valid whichever structure the
 * caller really holds.
 */

#ifndef SRB_ALIGN_SIZEOF
#define SRB_ALIGN_SIZEOF(x)                                                    \
    (((ULONG_PTR)(sizeof(x) + sizeof(PVOID) - 1)) & ~(sizeof(PVOID) - 1))
#endif

#define SrbMoveMemory(Destination, Source, Length)                             \
    RtlMoveMemory(Destination, Source, Length)
#define SrbCopyMemory(Destination, Source, Length)                             \
    RtlCopyMemory(Destination, Source, Length)
#define SrbZeroMemory(Destination, Length) RtlZeroMemory(Destination, Length)
#define SrbEqualMemory(Source1, Source2, Length)                               \
    RtlEqualMemory(Source1, Source2, Length)

static inline BOOLEAN storemu_srb_is_extended(const VOID *Srb)
{
    return (BOOLEAN)(((const UCHAR *)
                          Srb)[FIELD_OFFSET(SCSI_REQUEST_BLOCK, Function)] ==
                     SRB_FUNCTION_STORAGE_REQUEST_BLOCK);
}

/*
 * The extended-SRB view of Srb.  The empty asm hides where Srb points
 * from the optimizer: callers hand these helpers classic SRBs too, and
 * GCC's -Warray-bounds would otherwise flag the (never taken) extended
 * branch for an 88-byte SCSI_REQUEST_BLOCK viewed as a 128-byte
 * STORAGE_REQUEST_BLOCK.  Only call it once storemu_srb_is_extended()
 * said yes.
 */
static inline PSTORAGE_REQUEST_BLOCK storemu_srbex(PVOID Srb)
{
    __asm__("" : "+r"(Srb));
    return (PSTORAGE_REQUEST_BLOCK)Srb;
}

/*
 * Whether Size bytes at Offset lie inside the extended SRB and the offset
 * is not inside the fixed header.
 */
static inline BOOLEAN storemu_srbex_range_ok(const STORAGE_REQUEST_BLOCK *Srb,
                                             ULONG Offset, SIZE_T Size)
{
    return (BOOLEAN)(Offset >= sizeof(STORAGE_REQUEST_BLOCK) &&
                     Offset < Srb->SrbLength &&
                     Size <= (SIZE_T)(Srb->SrbLength - Offset));
}

/* Offset of the Index-th SRBEX_DATA block, or 0 if the slot itself falls
 * outside the SRB. */
static inline ULONG storemu_srbex_offset(const STORAGE_REQUEST_BLOCK *Srb,
                                         ULONG Index)
{
    SIZE_T slot = FIELD_OFFSET(STORAGE_REQUEST_BLOCK, SrbExDataOffset) +
                  (SIZE_T)Index * sizeof(ULONG);

    if (Index >= Srb->NumSrbExData || slot + sizeof(ULONG) > Srb->SrbLength) {
        return 0;
    }
    return Srb->SrbExDataOffset[Index];
}

static inline PSRBEX_DATA SrbGetSrbExDataByIndex(PSTORAGE_REQUEST_BLOCK Srb,
                                                 ULONG SrbExDataIndex)
{
    ULONG offset;

    if (!storemu_srb_is_extended(Srb)) {
        return NULL;
    }
    Srb = storemu_srbex(Srb);
    offset = storemu_srbex_offset(Srb, SrbExDataIndex);
    if (!storemu_srbex_range_ok(Srb, offset, FIELD_OFFSET(SRBEX_DATA, Data))) {
        return NULL;
    }
    return (PSRBEX_DATA)((PUCHAR)Srb + offset);
}

static inline PSRBEX_DATA SrbGetSrbExDataByType(PSTORAGE_REQUEST_BLOCK Srb,
                                                SRBEXDATATYPE Type)
{
    ULONG i;

    if (!storemu_srb_is_extended(Srb)) {
        return NULL;
    }
    Srb = storemu_srbex(Srb);
    for (i = 0; i < Srb->NumSrbExData; i++) {
        PSRBEX_DATA data = SrbGetSrbExDataByIndex(Srb, i);

        if (data != NULL && data->Type == Type) {
            return data;
        }
    }
    return NULL;
}

/* The block that carries the request's parameters for its SrbFunction. */
static inline PSRBEX_DATA SrbGetPrimarySrbExData(PSTORAGE_REQUEST_BLOCK Srb)
{
    ULONG i;

    if (!storemu_srb_is_extended(Srb)) {
        return NULL;
    }
    Srb = storemu_srbex(Srb);
    switch (Srb->SrbFunction) {
    case SRB_FUNCTION_POWER:
        return SrbGetSrbExDataByType(Srb, SrbExDataTypePower);
    case SRB_FUNCTION_PNP:
        return SrbGetSrbExDataByType(Srb, SrbExDataTypePnP);
    case SRB_FUNCTION_WMI:
        return SrbGetSrbExDataByType(Srb, SrbExDataTypeWmi);
    case SRB_FUNCTION_EXECUTE_SCSI:
        for (i = 0; i < Srb->NumSrbExData; i++) {
            PSRBEX_DATA data = SrbGetSrbExDataByIndex(Srb, i);

            if (data != NULL && (data->Type == SrbExDataTypeScsiCdb16 ||
                                 data->Type == SrbExDataTypeScsiCdb32 ||
                                 data->Type == SrbExDataTypeScsiCdbVar)) {
                return data;
            }
        }
        return NULL;
    default:
        return NULL;
    }
}

static inline PSTOR_ADDRESS SrbGetAddress(PSTORAGE_REQUEST_BLOCK Srb)
{
    if (!storemu_srb_is_extended(Srb)) {
        return NULL;
    }
    Srb = storemu_srbex(Srb);
    if (Srb->AddressOffset == 0 ||
        !storemu_srbex_range_ok(Srb, Srb->AddressOffset,
                                FIELD_OFFSET(STOR_ADDRESS, AddressData))) {
        return NULL;
    }
    return (PSTOR_ADDRESS)((PUCHAR)Srb + Srb->AddressOffset);
}

/* Copies Source into Destination if it fits; FALSE (nothing copied) if not. */
static inline BOOLEAN SrbCopySrb(PVOID DestinationSrb,
                                 ULONG DestinationSrbLength, PVOID SourceSrb)
{
    ULONG length = storemu_srb_is_extended(SourceSrb)
                       ? storemu_srbex(SourceSrb)->SrbLength
                       : (ULONG)SCSI_REQUEST_BLOCK_SIZE;

    if (DestinationSrbLength < length) {
        return FALSE;
    }
    SrbCopyMemory(DestinationSrb, SourceSrb, length);
    return TRUE;
}

/*
 * Zeroes the SRB but keeps what identifies it: Length, Function and, for
 * an extended SRB, SrbLength.  Each kind is accessed through its own type
 * only: a classic SRB is smaller than a STORAGE_REQUEST_BLOCK.
 */
static inline VOID SrbZeroSrb(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        PSTORAGE_REQUEST_BLOCK srb = storemu_srbex(Srb);
        USHORT length = srb->Length;
        ULONG srbLength = srb->SrbLength;

        SrbZeroMemory(Srb, srbLength);
        srb->Length = length;
        srb->Function = SRB_FUNCTION_STORAGE_REQUEST_BLOCK;
        srb->SrbLength = srbLength;
    } else {
        PSCSI_REQUEST_BLOCK srb = (PSCSI_REQUEST_BLOCK)Srb;
        USHORT length = srb->Length;
        UCHAR function = srb->Function;

        SrbZeroMemory(Srb, sizeof(SCSI_REQUEST_BLOCK));
        srb->Length = length;
        srb->Function = function;
    }
}

static inline ULONG SrbGetSrbLength(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->SrbLength;
    }
    return sizeof(SCSI_REQUEST_BLOCK);
}

static inline VOID SrbSetSrbLength(PVOID Srb, ULONG Length)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->SrbLength = Length;
    }
}

/* Size of an extended SRB with a BTL8 address and the usual data block
 * for SrbFunction, each piece rounded up to pointer size. */
static inline ULONG SrbGetDefaultSrbLengthFromFunction(ULONG SrbFunction)
{
    ULONG base = (ULONG)(SRB_ALIGN_SIZEOF(STORAGE_REQUEST_BLOCK) +
                         SRB_ALIGN_SIZEOF(STOR_ADDR_BTL8));

    switch (SrbFunction) {
    case SRB_FUNCTION_PNP:
        return base + (ULONG)SRB_ALIGN_SIZEOF(SRBEX_DATA_PNP);
    case SRB_FUNCTION_POWER:
        return base + (ULONG)SRB_ALIGN_SIZEOF(SRBEX_DATA_POWER);
    case SRB_FUNCTION_WMI:
        return base + (ULONG)SRB_ALIGN_SIZEOF(SRBEX_DATA_WMI);
    case SRB_FUNCTION_EXECUTE_SCSI:
        return base + (ULONG)SRB_ALIGN_SIZEOF(SRBEX_DATA_SCSI_CDB16);
    default:
        return base;
    }
}

/*
 * The CDB block of an extended SRB: the first SrbExData entry whose
 * SRBEX_DATA header lies inside the SRB and that is a CDB16, CDB32 or
 * CDB_VAR block lying wholly inside it; NULL if there is none.
 *
 * The port, like Windows' own, lists one CDB16 block first, and every
 * request reads or writes it several times: that entry is tested on its
 * own first.  Its test is the walk's first step folded together: an
 * offset at or past the header with the whole block below SrbLength
 * implies the offset slot and the block header are inside too.  (Slot 0
 * is part of the fixed header, so it is read before SrbLength says the
 * SRB reaches it, as Windows' srbhelper.h reads every slot; a short SRB
 * fails the bound and takes the walk.)  Any other layout takes the walk,
 * which gives the same answer for it.
 */
static inline PSRBEX_DATA storemu_srbex_scsi_block(PSTORAGE_REQUEST_BLOCK SrbEx)
{
    ULONG first = SrbEx->SrbExDataOffset[0];
    ULONG i;

    if (SrbEx->NumSrbExData != 0 && first >= sizeof(STORAGE_REQUEST_BLOCK) &&
        (ULONGLONG)first + sizeof(SRBEX_DATA_SCSI_CDB16) <= SrbEx->SrbLength &&
        ((PSRBEX_DATA)((PUCHAR)SrbEx + first))->Type ==
            SrbExDataTypeScsiCdb16) {
        return (PSRBEX_DATA)((PUCHAR)SrbEx + first);
    }

    for (i = 0; i < SrbEx->NumSrbExData; i++) {
        ULONG offset = storemu_srbex_offset(SrbEx, i);
        PSRBEX_DATA data;
        SIZE_T size;

        /* SrbGetSrbExDataByIndex, without testing the SRB kind again. */
        if (!storemu_srbex_range_ok(SrbEx, offset,
                                    FIELD_OFFSET(SRBEX_DATA, Data))) {
            continue;
        }
        data = (PSRBEX_DATA)((PUCHAR)SrbEx + offset);
        switch (data->Type) {
        case SrbExDataTypeScsiCdb16:
            size = sizeof(SRBEX_DATA_SCSI_CDB16);
            break;
        case SrbExDataTypeScsiCdb32:
            size = sizeof(SRBEX_DATA_SCSI_CDB32);
            break;
        case SrbExDataTypeScsiCdbVar:
            size = sizeof(SRBEX_DATA_SCSI_CDB_VAR);
            break;
        default:
            continue;
        }
        if (storemu_srbex_range_ok(SrbEx, offset, size)) {
            return data;
        }
    }
    return NULL;
}

/*
 * Finds the CDB block of an extended SRB_FUNCTION_EXECUTE_SCSI request and
 * reports its fields through the non-NULL pointers.  Returns the CDB, or
 * NULL if there is none or its length is 0.  CdbLength8 is filled from the
 * 16- and 32-byte forms, CdbLength32 from the variable form.  For an SRB
 * that is not an extended SCSI request the outputs are set to "nothing":
 * lengths 0, status GOOD, no sense buffer.  An extended SCSI request
 * without a CDB block leaves them as they were.
 */
static inline PCDB SrbGetScsiData(PSTORAGE_REQUEST_BLOCK SrbEx,
                                  PUCHAR CdbLength8, PULONG CdbLength32,
                                  PUCHAR ScsiStatus, PVOID *SenseInfoBuffer,
                                  PUCHAR SenseInfoBufferLength)
{
    PSRBEX_DATA data;
    UCHAR *cdb;
    ULONG cdbLength;
    UCHAR status;
    UCHAR senseLength;
    PVOID sense;

    if (storemu_srb_is_extended(SrbEx)) {
        SrbEx = storemu_srbex(SrbEx);
    }
    if (!storemu_srb_is_extended(SrbEx) ||
        SrbEx->SrbFunction != SRB_FUNCTION_EXECUTE_SCSI) {
        if (CdbLength8 != NULL) {
            *CdbLength8 = 0;
        }
        if (CdbLength32 != NULL) {
            *CdbLength32 = 0;
        }
        if (ScsiStatus != NULL) {
            *ScsiStatus = SCSISTAT_GOOD;
        }
        if (SenseInfoBuffer != NULL) {
            *SenseInfoBuffer = NULL;
        }
        if (SenseInfoBufferLength != NULL) {
            *SenseInfoBufferLength = 0;
        }
        return NULL;
    }

    data = storemu_srbex_scsi_block(SrbEx);
    if (data == NULL) {
        return NULL;
    }
    if (data->Type == SrbExDataTypeScsiCdbVar) {
        PSRBEX_DATA_SCSI_CDB_VAR d = (PSRBEX_DATA_SCSI_CDB_VAR)data;

        cdb = d->Cdb;
        cdbLength = d->CdbLength;
        status = d->ScsiStatus;
        sense = d->SenseInfoBuffer;
        senseLength = d->SenseInfoBufferLength;
        if (CdbLength32 != NULL) {
            *CdbLength32 = d->CdbLength;
        }
    } else if (data->Type == SrbExDataTypeScsiCdb32) {
        PSRBEX_DATA_SCSI_CDB32 d = (PSRBEX_DATA_SCSI_CDB32)data;

        cdb = d->Cdb;
        cdbLength = d->CdbLength;
        status = d->ScsiStatus;
        sense = d->SenseInfoBuffer;
        senseLength = d->SenseInfoBufferLength;
        if (CdbLength8 != NULL) {
            *CdbLength8 = d->CdbLength;
        }
    } else {
        PSRBEX_DATA_SCSI_CDB16 d = (PSRBEX_DATA_SCSI_CDB16)data;

        cdb = d->Cdb;
        cdbLength = d->CdbLength;
        status = d->ScsiStatus;
        sense = d->SenseInfoBuffer;
        senseLength = d->SenseInfoBufferLength;
        if (CdbLength8 != NULL) {
            *CdbLength8 = d->CdbLength;
        }
    }
    if (ScsiStatus != NULL) {
        *ScsiStatus = status;
    }
    if (SenseInfoBuffer != NULL) {
        *SenseInfoBuffer = sense;
    }
    if (SenseInfoBufferLength != NULL) {
        *SenseInfoBufferLength = senseLength;
    }
    return cdbLength > 0 ? (PCDB)cdb : NULL;
}

/* Stores the non-NULL inputs into the CDB block of an extended SCSI SRB. */
static inline VOID SrbSetScsiData(PSTORAGE_REQUEST_BLOCK SrbEx,
                                  PUCHAR CdbLength8, PULONG CdbLength32,
                                  PUCHAR ScsiStatus, PVOID *SenseInfoBuffer,
                                  PUCHAR SenseInfoBufferLength)
{
    PSRBEX_DATA data;
    PUCHAR status;
    PVOID *sense;
    PUCHAR senseLength;

    if (!storemu_srb_is_extended(SrbEx)) {
        return;
    }
    SrbEx = storemu_srbex(SrbEx);
    if (SrbEx->SrbFunction != SRB_FUNCTION_EXECUTE_SCSI) {
        return;
    }
    data = storemu_srbex_scsi_block(SrbEx);
    if (data == NULL) {
        return;
    }
    /* The three CDB blocks differ in the CDB length's width and where the
     * fields lie: find them, then set them alike. */
    if (data->Type == SrbExDataTypeScsiCdbVar) {
        PSRBEX_DATA_SCSI_CDB_VAR d = (PSRBEX_DATA_SCSI_CDB_VAR)data;

        if (CdbLength32 != NULL) {
            d->CdbLength = *CdbLength32;
        }
        status = &d->ScsiStatus;
        sense = &d->SenseInfoBuffer;
        senseLength = &d->SenseInfoBufferLength;
    } else if (data->Type == SrbExDataTypeScsiCdb32) {
        PSRBEX_DATA_SCSI_CDB32 d = (PSRBEX_DATA_SCSI_CDB32)data;

        if (CdbLength8 != NULL) {
            d->CdbLength = *CdbLength8;
        }
        status = &d->ScsiStatus;
        sense = &d->SenseInfoBuffer;
        senseLength = &d->SenseInfoBufferLength;
    } else {
        PSRBEX_DATA_SCSI_CDB16 d = (PSRBEX_DATA_SCSI_CDB16)data;

        if (CdbLength8 != NULL) {
            d->CdbLength = *CdbLength8;
        }
        status = &d->ScsiStatus;
        sense = &d->SenseInfoBuffer;
        senseLength = &d->SenseInfoBufferLength;
    }
    if (ScsiStatus != NULL) {
        *status = *ScsiStatus;
    }
    if (SenseInfoBuffer != NULL) {
        *sense = *SenseInfoBuffer;
    }
    if (SenseInfoBufferLength != NULL) {
        *senseLength = *SenseInfoBufferLength;
    }
}

static inline PCDB SrbGetCdb(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return SrbGetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, NULL, NULL, NULL,
                              NULL, NULL);
    }
    return (PCDB)((PSCSI_REQUEST_BLOCK)Srb)->Cdb;
}

/* The real function code: SrbFunction of an extended SRB, else Function. */
static inline ULONG SrbGetSrbFunction(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->SrbFunction;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->Function;
}

static inline PVOID SrbGetSenseInfoBuffer(PVOID Srb)
{
    PVOID sense = NULL;

    if (storemu_srb_is_extended(Srb)) {
        SrbGetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, NULL, NULL, NULL, &sense,
                       NULL);
        return sense;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->SenseInfoBuffer;
}

static inline UCHAR SrbGetSenseInfoBufferLength(PVOID Srb)
{
    UCHAR length = 0;

    if (storemu_srb_is_extended(Srb)) {
        SrbGetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, NULL, NULL, NULL, NULL,
                       &length);
        return length;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->SenseInfoBufferLength;
}

static inline VOID SrbSetSenseInfoBuffer(PVOID Srb, PVOID SenseInfoBuffer)
{
    if (storemu_srb_is_extended(Srb)) {
        SrbSetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, NULL, NULL, NULL,
                       &SenseInfoBuffer, NULL);
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->SenseInfoBuffer = SenseInfoBuffer;
    }
}

static inline VOID SrbSetSenseInfoBufferLength(PVOID Srb,
                                               UCHAR SenseInfoBufferLength)
{
    if (storemu_srb_is_extended(Srb)) {
        SrbSetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, NULL, NULL, NULL, NULL,
                       &SenseInfoBufferLength);
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->SenseInfoBufferLength =
            SenseInfoBufferLength;
    }
}

static inline PVOID SrbGetOriginalRequest(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->OriginalRequest;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->OriginalRequest;
}

static inline VOID SrbSetOriginalRequest(PVOID Srb, PVOID OriginalRequest)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->OriginalRequest = OriginalRequest;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->OriginalRequest = OriginalRequest;
    }
}

static inline PVOID SrbGetDataBuffer(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->DataBuffer;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->DataBuffer;
}

static inline VOID SrbSetDataBuffer(PVOID Srb, PVOID DataBuffer)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->DataBuffer = DataBuffer;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->DataBuffer = DataBuffer;
    }
}

static inline ULONG SrbGetDataTransferLength(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->DataTransferLength;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->DataTransferLength;
}

static inline VOID SrbSetDataTransferLength(PVOID Srb, ULONG DataTransferLength)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->DataTransferLength = DataTransferLength;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->DataTransferLength = DataTransferLength;
    }
}

static inline ULONG SrbGetTimeOutValue(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->TimeOutValue;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->TimeOutValue;
}

static inline VOID SrbSetTimeOutValue(PVOID Srb, ULONG TimeOutValue)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->TimeOutValue = TimeOutValue;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->TimeOutValue = TimeOutValue;
    }
}

/* Extended SRBs have no sort key; the call is ignored for them. */
static inline VOID SrbSetQueueSortKey(PVOID Srb, ULONG QueueSortKey)
{
    if (!storemu_srb_is_extended(Srb)) {
        ((PSCSI_REQUEST_BLOCK)Srb)->QueueSortKey = QueueSortKey;
    }
}

/* A SCSI_REQUEST_BLOCK keeps only the low 8 bits of the tag. */
static inline VOID SrbSetQueueTag(PVOID Srb, ULONG QueueTag)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->RequestTag = QueueTag;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->QueueTag = (UCHAR)QueueTag;
    }
}

static inline ULONG SrbGetQueueTag(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->RequestTag;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->QueueTag;
}

#define SrbSetRequestTag SrbSetQueueTag
#define SrbGetRequestTag SrbGetQueueTag

static inline PVOID SrbGetNextSrb(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->NextSrb;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->NextSrb;
}

static inline VOID SrbSetNextSrb(PVOID Srb, PVOID NextSrb)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->NextSrb = (PSTORAGE_REQUEST_BLOCK)NextSrb;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->NextSrb = (PSCSI_REQUEST_BLOCK)NextSrb;
    }
}

static inline ULONG SrbGetSrbFlags(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->SrbFlags;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->SrbFlags;
}

/* Replaces the flags. */
static inline VOID SrbAssignSrbFlags(PVOID Srb, ULONG Flags)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->SrbFlags = Flags;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->SrbFlags = Flags;
    }
}

/* Adds (ORs in) the given flags. */
static inline VOID SrbSetSrbFlags(PVOID Srb, ULONG Flags)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->SrbFlags |= Flags;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->SrbFlags |= Flags;
    }
}

static inline VOID SrbClearSrbFlags(PVOID Srb, ULONG Flags)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->SrbFlags &= ~Flags;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->SrbFlags &= ~Flags;
    }
}

/* SystemStatus of an extended SRB is InternalStatus of a classic one. */
static inline ULONG SrbGetSystemStatus(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->SystemStatus;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->InternalStatus;
}

static inline VOID SrbSetSystemStatus(PVOID Srb, ULONG Status)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->SystemStatus = Status;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->InternalStatus = Status;
    }
}

static inline UCHAR SrbGetScsiStatus(PVOID Srb)
{
    UCHAR status = 0;

    if (storemu_srb_is_extended(Srb)) {
        SrbGetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, NULL, NULL, &status, NULL,
                       NULL);
        return status;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->ScsiStatus;
}

static inline VOID SrbSetScsiStatus(PVOID Srb, UCHAR ScsiStatus)
{
    if (storemu_srb_is_extended(Srb)) {
        SrbSetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, NULL, NULL, &ScsiStatus,
                       NULL, NULL);
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->ScsiStatus = ScsiStatus;
    }
}

/* 0 for a variable-length CDB block, whose length does not fit a UCHAR. */
static inline UCHAR SrbGetCdbLength(PVOID Srb)
{
    UCHAR length = 0;

    if (storemu_srb_is_extended(Srb)) {
        SrbGetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, &length, NULL, NULL, NULL,
                       NULL);
        return length;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->CdbLength;
}

static inline VOID SrbSetCdbLength(PVOID Srb, UCHAR CdbLength)
{
    if (storemu_srb_is_extended(Srb)) {
        SrbSetScsiData((PSTORAGE_REQUEST_BLOCK)Srb, &CdbLength, NULL, NULL,
                       NULL, NULL);
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->CdbLength = CdbLength;
    }
}

/* RequestAttribute of an extended SRB is QueueAction of a classic one. */
static inline ULONG SrbGetRequestAttribute(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->RequestAttribute;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->QueueAction;
}

static inline VOID SrbSetRequestAttribute(PVOID Srb, UCHAR RequestAttribute)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->RequestAttribute = RequestAttribute;
    } else {
        ((PSCSI_REQUEST_BLOCK)Srb)->QueueAction = RequestAttribute;
    }
}

#define SrbGetQueueAction SrbGetRequestAttribute
#define SrbSetQueueAction SrbSetRequestAttribute

/*
 * The BTL8 address of an extended SRB, or NULL if it has none: what
 * SrbGetAddress finds, if it is of type BTL8 and all of it is inside the
 * SRB.  That last bound implies SrbGetAddress's own, so it is the only
 * one tested.
 */
static inline PSTOR_ADDR_BTL8 storemu_srb_btl8(PVOID Srb)
{
    PSTORAGE_REQUEST_BLOCK srb = storemu_srbex(Srb);
    ULONG offset = srb->AddressOffset;
    PSTOR_ADDR_BTL8 address;

    if (offset < sizeof(STORAGE_REQUEST_BLOCK) ||
        (ULONGLONG)offset + sizeof(STOR_ADDR_BTL8) > srb->SrbLength) {
        return NULL;
    }
    address = (PSTOR_ADDR_BTL8)((PUCHAR)srb + offset);
    return address->Type == STOR_ADDRESS_TYPE_BTL8 ? address : NULL;
}

static inline UCHAR SrbGetPathId(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        PSTOR_ADDR_BTL8 btl = storemu_srb_btl8(Srb);

        return btl != NULL ? btl->Path : 0;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->PathId;
}

static inline UCHAR SrbGetTargetId(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        PSTOR_ADDR_BTL8 btl = storemu_srb_btl8(Srb);

        return btl != NULL ? btl->Target : 0;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->TargetId;
}

static inline UCHAR SrbGetLun(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        PSTOR_ADDR_BTL8 btl = storemu_srb_btl8(Srb);

        return btl != NULL ? btl->Lun : 0;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->Lun;
}

/* Fills the non-NULL outputs; leaves them untouched if an extended SRB
 * has no BTL8 address. */
static inline VOID SrbGetPathTargetLun(PVOID Srb, PUCHAR PathId,
                                       PUCHAR TargetId, PUCHAR Lun)
{
    UCHAR path, target, lun;

    if (storemu_srb_is_extended(Srb)) {
        PSTOR_ADDR_BTL8 btl = storemu_srb_btl8(Srb);

        if (btl == NULL) {
            return;
        }
        path = btl->Path;
        target = btl->Target;
        lun = btl->Lun;
    } else {
        path = ((PSCSI_REQUEST_BLOCK)Srb)->PathId;
        target = ((PSCSI_REQUEST_BLOCK)Srb)->TargetId;
        lun = ((PSCSI_REQUEST_BLOCK)Srb)->Lun;
    }
    if (PathId != NULL) {
        *PathId = path;
    }
    if (TargetId != NULL) {
        *TargetId = target;
    }
    if (Lun != NULL) {
        *Lun = lun;
    }
}

/* The miniport's per-request storage: MiniportContext or SrbExtension. */
static inline PVOID SrbGetMiniportContext(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->MiniportContext;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->SrbExtension;
}

static inline UCHAR SrbGetSrbStatus(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->SrbStatus;
    }
    return ((PSCSI_REQUEST_BLOCK)Srb)->SrbStatus;
}

/* Sets the status but keeps SRB_STATUS_AUTOSENSE_VALID if it was set. */
static inline VOID SrbSetSrbStatus(PVOID Srb, UCHAR status)
{
    PUCHAR field = storemu_srb_is_extended(Srb)
                       ? &storemu_srbex(Srb)->SrbStatus
                       : &((PSCSI_REQUEST_BLOCK)Srb)->SrbStatus;

    *field = (UCHAR)(status | (*field & SRB_STATUS_AUTOSENSE_VALID));
}

/* Port-private context; classic SRBs have none. */
static inline PVOID SrbGetPortContext(PVOID Srb)
{
    if (storemu_srb_is_extended(Srb)) {
        return storemu_srbex(Srb)->PortContext;
    }
    return NULL;
}

static inline VOID SrbSetPortContext(PVOID Srb, PVOID PortContext)
{
    if (storemu_srb_is_extended(Srb)) {
        storemu_srbex(Srb)->PortContext = PortContext;
    }
}

#endif /* STOREMU_SRB_H */
