/* SPDX-License-Identifier: MIT */
/*
 * The Windows kernel base types a Storport miniport is written against
 * (the ntdef.h / wdm.h subset), on the Windows x64 "LLP64" data model.
 *
 * On Linux x86_64 "long" is 64 bits wide; on Windows x64 it is 32.  Every
 * Windows integer type is therefore defined here from a fixed-width type,
 * never from "long": ULONG and LONG are 32-bit, ULONG_PTR and LONG_PTR are
 * pointer-sized, WCHAR is a 16-bit code unit (not the 32-bit wchar_t of
 * glibc).  Structure layouts follow the Windows x64 ABI, which is natural
 * alignment, the same rule the System V x86_64 ABI uses for non-bit-field
 * members.
 *
 * Besides types this header provides the helpers miniports expect from
 * the kit: memory and list routines, interlocked operations (on the GCC
 * __atomic builtins), NTSTATUS codes, IRQL levels, the debug-print and
 * assertion macros.  Nothing here needs any port state; the few external
 * routines it declares (StorPortDebugPrint, RtlAssert, DbgBreakPoint) are
 * implemented by port/.
 *
 * The file is named storport_types.h rather than ntdef.h so that it can
 * never shadow a host header; ntdef.h, wdm.h and ntddk.h in this directory
 * are thin wrappers that include it.
 */
#ifndef STOREMU_STORPORT_TYPES_H
#define STOREMU_STORPORT_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storport_sal.h"

/* Tell code that tests for the kit's guard macros that the base types
 * exist. */
#ifndef _NTDEF_
#define _NTDEF_
#endif

/* --- Build configuration -------------------------------------------------- */

/* DBG selects the checked-build behaviour of ASSERT, KdPrint, DebugPrint. */
#ifndef DBG
#define DBG 0
#endif

/* --- Basic integer types (LLP64) ------------------------------------------ */

#ifndef VOID
#define VOID void
#endif
#ifndef CONST
#define CONST const
#endif

typedef char CHAR;
typedef signed char SCHAR;
typedef unsigned char UCHAR;
typedef int16_t SHORT;
typedef uint16_t USHORT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef int INT;
typedef unsigned int UINT;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;

typedef int8_t INT8;
typedef uint8_t UINT8;
typedef int16_t INT16;
typedef uint16_t UINT16;
typedef int32_t INT32;
typedef uint32_t UINT32;
typedef int64_t INT64;
typedef uint64_t UINT64;
typedef int32_t LONG32;
typedef uint32_t ULONG32;
typedef int64_t LONG64;
typedef uint64_t ULONG64;
typedef uint32_t DWORD32;
typedef uint64_t DWORD64;

typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;

typedef intptr_t INT_PTR;
typedef uintptr_t UINT_PTR;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef ULONG_PTR SIZE_T;
typedef LONG_PTR SSIZE_T;
typedef ULONG_PTR KAFFINITY;
typedef ULONG_PTR KSPIN_LOCK;

typedef UCHAR BOOLEAN;
typedef INT BOOL;
typedef UCHAR KIRQL;
typedef CHAR CCHAR;
typedef SHORT CSHORT;
typedef ULONG CLONG;
typedef LONG NTSTATUS;
typedef ULONG LOGICAL;
typedef ULONG NODE_REQUIREMENT;

/*
 * A UTF-16 code unit.  unsigned short is the type the C11 u"" literal
 * (char16_t) uses on Linux, so u"text" can be passed where the DDI wants
 * a PWSTR.  L"text" cannot: glibc's wchar_t is 32 bits.
 */
typedef unsigned short WCHAR;

typedef void *PVOID;
typedef void *PVOID64;
typedef void *HANDLE;

typedef CHAR *PCHAR, *PSTR, *LPSTR, *PCH, *LPCH;
typedef const CHAR *PCSTR, *LPCSTR, *PCCH, *LPCCH;
typedef CCHAR *PCCHAR;
typedef SCHAR *PSCHAR;
typedef UCHAR *PUCHAR;
typedef const UCHAR *PCUCHAR;
typedef SHORT *PSHORT;
typedef USHORT *PUSHORT;
typedef const USHORT *PCUSHORT;
typedef LONG *PLONG;
typedef ULONG *PULONG;
typedef const ULONG *PCULONG;
typedef INT *PINT;
typedef UINT *PUINT;
typedef LONGLONG *PLONGLONG;
typedef ULONGLONG *PULONGLONG;
typedef LONG64 *PLONG64;
typedef ULONG64 *PULONG64;
typedef INT64 *PINT64;
typedef UINT64 *PUINT64;
typedef ULONG32 *PULONG32;
typedef LONG_PTR *PLONG_PTR;
typedef ULONG_PTR *PULONG_PTR;
typedef SIZE_T *PSIZE_T;
typedef BYTE *PBYTE;
typedef WORD *PWORD;
typedef DWORD *PDWORD;
typedef BOOLEAN *PBOOLEAN;
typedef KIRQL *PKIRQL;
typedef KAFFINITY *PKAFFINITY;
typedef KSPIN_LOCK *PKSPIN_LOCK;
typedef NTSTATUS *PNTSTATUS;
typedef HANDLE *PHANDLE;
typedef PVOID *PPVOID;
typedef WCHAR *PWCHAR, *PWCH, *LPWCH, *PWSTR, *LPWSTR, *NWPSTR;
typedef const WCHAR *PCWCH, *LPCWCH, *PCWSTR, *LPCWSTR;

/* --- Limits and simple helpers -------------------------------------------- */

#ifndef FALSE
#define FALSE 0
#endif
#ifndef TRUE
#define TRUE 1
#endif

#define ANYSIZE_ARRAY 1

#define MINCHAR      0x80
#define MAXCHAR      0x7f
#define MINSHORT     0x8000
#define MAXSHORT     0x7fff
#define MINLONG      0x80000000
#define MAXLONG      0x7fffffff
#define MAXUCHAR     0xff
#define MAXUSHORT    0xffff
#define MAXULONG     0xffffffff
#define MAXLONGLONG  ((LONGLONG)0x7fffffffffffffffLL)
#define MAXULONGLONG ((ULONGLONG) ~((ULONGLONG)0))
#define MAXULONG_PTR (~((ULONG_PTR)0))
#define MAXLONG_PTR  ((LONG_PTR)(MAXULONG_PTR >> 1))
#define MAXSIZE_T    ((SIZE_T) ~((SIZE_T)0))

#define PAGE_SHIFT 12L
#ifndef PAGE_SIZE
#define PAGE_SIZE 0x1000
#endif
#define BYTE_OFFSET(Va) ((ULONG)((LONG_PTR)(Va) & (PAGE_SIZE - 1)))
#define PAGE_ALIGN(Va)  ((PVOID)((ULONG_PTR)(Va) & ~((ULONG_PTR)PAGE_SIZE - 1)))
#define ROUND_TO_PAGES(Size)                                                   \
    (((ULONG_PTR)(Size) + PAGE_SIZE - 1) & ~((ULONG_PTR)PAGE_SIZE - 1))
#define BYTES_TO_PAGES(Size)                                                   \
    (((Size) >> PAGE_SHIFT) + (((Size) & (PAGE_SIZE - 1)) != 0))
#define ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size)                               \
    ((BYTE_OFFSET(Va) + ((SIZE_T)(Size)) + (PAGE_SIZE - 1)) >> PAGE_SHIFT)

#define FIELD_OFFSET(type, field)   ((LONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field) (sizeof(((type *)0)->field))
#define RTL_SIZEOF_THROUGH_FIELD(type, field)                                  \
    (FIELD_OFFSET(type, field) + RTL_FIELD_SIZE(type, field))
#define RTL_CONTAINS_FIELD(Struct, Size, Field)                                \
    ((((PCHAR)(&(Struct)->Field)) + sizeof((Struct)->Field)) <=                \
     (((PCHAR)(Struct)) + (Size)))
#define RTL_NUMBER_OF(A) (sizeof(A) / sizeof((A)[0]))
#ifndef ARRAYSIZE
#define ARRAYSIZE(A) RTL_NUMBER_OF(A)
#endif
#define CONTAINING_RECORD(address, type, field)                                \
    ((type *)((PCHAR)(address) - (ULONG_PTR)offsetof(type, field)))
#define ARGUMENT_PRESENT(ArgumentPointer)                                      \
    ((CHAR *)((ULONG_PTR)(ArgumentPointer)) != (CHAR *)NULL)
#define ALIGN_DOWN_BY(length, alignment)                                       \
    ((ULONG_PTR)(length) & ~((ULONG_PTR)(alignment)-1))
#define ALIGN_UP_BY(length, alignment)                                         \
    (ALIGN_DOWN_BY(((ULONG_PTR)(length) + (alignment)-1), alignment))

#define UNREFERENCED_PARAMETER(P)          ((void)(P))
#define DBG_UNREFERENCED_PARAMETER(P)      ((void)(P))
#define DBG_UNREFERENCED_LOCAL_VARIABLE(V) ((void)(V))

#define C_ASSERT(e) _Static_assert((e), #e)

#define Int32x32To64(a, b) (((LONGLONG)((LONG)(a))) * ((LONGLONG)((LONG)(b))))
#define UInt32x32To64(a, b)                                                    \
    (((ULONGLONG)((ULONG)(a))) * ((ULONGLONG)((ULONG)(b))))

#define LOBYTE(w)      ((BYTE)(((DWORD_PTR)(w)) & 0xff))
#define HIBYTE(w)      ((BYTE)((((DWORD_PTR)(w)) >> 8) & 0xff))
#define LOWORD(l)      ((WORD)(((DWORD_PTR)(l)) & 0xffff))
#define HIWORD(l)      ((WORD)((((DWORD_PTR)(l)) >> 16) & 0xffff))
#define MAKEWORD(a, b) ((WORD)(((BYTE)(a)) | ((WORD)((BYTE)(b))) << 8))
#define MAKELONG(a, b) ((LONG)(((WORD)(a)) | ((DWORD)((WORD)(b))) << 16))

/* The kit's lower-case min/max, suppressed by NOMINMAX as on Windows. */
#ifndef NOMINMAX
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#endif

/* --- NTSTATUS ------------------------------------------------------------- */

#define NT_SUCCESS(Status)     (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status)     ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status)       ((((ULONG)(Status)) >> 30) == 3)

#define STATUS_SUCCESS                  ((NTSTATUS)0x00000000L)
#define STATUS_TIMEOUT                  ((NTSTATUS)0x00000102L)
#define STATUS_PENDING                  ((NTSTATUS)0x00000103L)
#define STATUS_BUFFER_OVERFLOW          ((NTSTATUS)0x80000005L)
#define STATUS_DEVICE_BUSY              ((NTSTATUS)0x80000011L)
#define STATUS_NO_MORE_ENTRIES          ((NTSTATUS)0x8000001AL)
#define STATUS_UNSUCCESSFUL             ((NTSTATUS)0xC0000001L)
#define STATUS_NOT_IMPLEMENTED          ((NTSTATUS)0xC0000002L)
#define STATUS_INFO_LENGTH_MISMATCH     ((NTSTATUS)0xC0000004L)
#define STATUS_INVALID_PARAMETER        ((NTSTATUS)0xC000000DL)
#define STATUS_NO_SUCH_DEVICE           ((NTSTATUS)0xC000000EL)
#define STATUS_INVALID_DEVICE_REQUEST   ((NTSTATUS)0xC0000010L)
#define STATUS_MORE_PROCESSING_REQUIRED ((NTSTATUS)0xC0000016L)
#define STATUS_NO_MEMORY                ((NTSTATUS)0xC0000017L)
#define STATUS_ACCESS_DENIED            ((NTSTATUS)0xC0000022L)
#define STATUS_BUFFER_TOO_SMALL         ((NTSTATUS)0xC0000023L)
#define STATUS_OBJECT_NAME_NOT_FOUND    ((NTSTATUS)0xC0000034L)
#define STATUS_DATA_ERROR               ((NTSTATUS)0xC000003EL)
#define STATUS_INTEGER_OVERFLOW         ((NTSTATUS)0xC0000095L)
#define STATUS_INSUFFICIENT_RESOURCES   ((NTSTATUS)0xC000009AL)
#define STATUS_DEVICE_NOT_READY         ((NTSTATUS)0xC00000A3L)
#define STATUS_IO_TIMEOUT               ((NTSTATUS)0xC00000B5L)
#define STATUS_NOT_SUPPORTED            ((NTSTATUS)0xC00000BBL)
#define STATUS_DEVICE_DOES_NOT_EXIST    ((NTSTATUS)0xC00000C0L)
#define STATUS_UNEXPECTED_IO_ERROR      ((NTSTATUS)0xC00000E9L)
#define STATUS_CANCELLED                ((NTSTATUS)0xC0000120L)
#define STATUS_INVALID_ADDRESS          ((NTSTATUS)0xC0000141L)
#define STATUS_INVALID_DEVICE_STATE     ((NTSTATUS)0xC0000184L)
#define STATUS_IO_DEVICE_ERROR          ((NTSTATUS)0xC0000185L)
#define STATUS_INVALID_BUFFER_SIZE      ((NTSTATUS)0xC0000206L)
#define STATUS_NOT_FOUND                ((NTSTATUS)0xC0000225L)
#define STATUS_REQUEST_ABORTED          ((NTSTATUS)0xC0000240L)
#define STATUS_DEVICE_HARDWARE_ERROR    ((NTSTATUS)0xC0000483L)

/* --- IRQL (x64 values) ---------------------------------------------------- */

#define PASSIVE_LEVEL  0
#define LOW_LEVEL      0
#define APC_LEVEL      1
#define DISPATCH_LEVEL 2
#define CMCI_LEVEL     5
#define CLOCK_LEVEL    13
#define IPI_LEVEL      14
#define DRS_LEVEL      14
#define POWER_LEVEL    14
#define PROFILE_LEVEL  15
#define HIGH_LEVEL     15

/* --- Aggregates ----------------------------------------------------------- */

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        ULONG LowPart;
        ULONG HighPart;
    };
    struct {
        ULONG LowPart;
        ULONG HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID, *PGUID, *LPGUID;
typedef const GUID *LPCGUID, *PCGUID;

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
    struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

/* Lengths are in bytes, not characters; Buffer need not be terminated. */
typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING, *PSTRING, ANSI_STRING, *PANSI_STRING;

typedef struct _PROCESSOR_NUMBER {
    USHORT Group;
    UCHAR Number;
    UCHAR Reserved;
} PROCESSOR_NUMBER, *PPROCESSOR_NUMBER;

typedef struct _GROUP_AFFINITY {
    KAFFINITY Mask;
    USHORT Group;
    USHORT Reserved[3];
} GROUP_AFFINITY, *PGROUP_AFFINITY;

#define ALL_PROCESSOR_GROUPS   0xffff
#define MAXIMUM_PROC_PER_GROUP 64

/*
 * A deferred procedure call object with the Windows x64 layout (64 bytes).
 * Miniports never touch its fields; they only reserve room for it inside
 * a STOR_DPC.  The port may use the fields for its own bookkeeping.
 */
typedef struct _KDPC {
    union {
        ULONG TargetInfoAsUlong;
        struct {
            UCHAR Type;
            UCHAR Importance;
            USHORT Number;
        };
    };
    SINGLE_LIST_ENTRY DpcListEntry;
    KAFFINITY ProcessorHistory;
    PVOID DeferredRoutine;
    PVOID DeferredContext;
    PVOID SystemArgument1;
    PVOID SystemArgument2;
    PVOID DpcData;
} KDPC, *PKDPC, *PRKDPC;

/*
 * Kernel objects a miniport only ever handles by pointer.  They stay
 * incomplete on purpose: dereferencing one is a compile error rather than
 * a silent read of memory the port never laid out that way.
 */
struct _DRIVER_OBJECT;
struct _DEVICE_OBJECT;
struct _IRP;
struct _MDL;
struct _KINTERRUPT;
struct _ADAPTER_OBJECT;
struct _IO_RESOURCE_REQUIREMENTS_LIST;
struct _SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX;
typedef struct _DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef struct _DEVICE_OBJECT DEVICE_OBJECT, *PDEVICE_OBJECT;
typedef struct _IRP IRP, *PIRP;
typedef struct _MDL MDL, *PMDL;
typedef struct _KINTERRUPT KINTERRUPT, *PKINTERRUPT;
typedef struct _IO_RESOURCE_REQUIREMENTS_LIST IO_RESOURCE_REQUIREMENTS_LIST,
    *PIO_RESOURCE_REQUIREMENTS_LIST;
typedef struct _SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX,
    *PSYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX;

/* The WDM driver entry point, for miniports that declare DriverEntry so. */
typedef NTSTATUS DRIVER_INITIALIZE(struct _DRIVER_OBJECT *DriverObject,
                                   PUNICODE_STRING RegistryPath);
typedef DRIVER_INITIALIZE *PDRIVER_INITIALIZE;

/* --- Bus and resource enumerations ---------------------------------------- */

typedef enum _INTERFACE_TYPE {
    InterfaceTypeUndefined = -1,
    Internal = 0,
    Isa = 1,
    Eisa = 2,
    MicroChannel = 3,
    TurboChannel = 4,
    PCIBus = 5,
    VMEBus = 6,
    NuBus = 7,
    PCMCIABus = 8,
    CBus = 9,
    MPIBus = 10,
    MPSABus = 11,
    ProcessorInternal = 12,
    InternalPowerBus = 13,
    PNPISABus = 14,
    PNPBus = 15,
    Vmcs = 16,
    ACPIBus = 17,
    MaximumInterfaceType = 18
} INTERFACE_TYPE,
    *PINTERFACE_TYPE;

typedef enum _KINTERRUPT_MODE {
    LevelSensitive = 0,
    Latched = 1
} KINTERRUPT_MODE;

typedef enum _DMA_WIDTH {
    Width8Bits = 0,
    Width16Bits = 1,
    Width32Bits = 2,
    Width64Bits = 3,
    WidthNoWrap = 4,
    MaximumDmaWidth = 5
} DMA_WIDTH,
    *PDMA_WIDTH;

typedef enum _DMA_SPEED {
    Compatible = 0,
    TypeA = 1,
    TypeB = 2,
    TypeC = 3,
    TypeF = 4,
    MaximumDmaSpeed = 5
} DMA_SPEED,
    *PDMA_SPEED;

typedef enum _MEMORY_CACHING_TYPE {
    MmNonCached = 0,
    MmCached = 1,
    MmWriteCombined = 2,
    MmHardwareCoherentCached = 3,
    MmNonCachedUnordered = 4,
    MmUSWCCached = 5,
    MmMaximumCacheType = 6,
    MmNotMapped = -1
} MEMORY_CACHING_TYPE;

/* NODE_REQUIREMENT value: allocate on any NUMA node. */
#define MM_ANY_NODE_OK 0x80000000

/* Address space of StorPortGetBusData / StorPortSetBusDataByOffset. */
typedef enum _BUS_DATA_TYPE {
    ConfigurationSpaceUndefined = -1,
    Cmos = 0,
    EisaConfiguration = 1,
    Pos = 2,
    CbusConfiguration = 3,
    PCIConfiguration = 4,
    VMEConfiguration = 5,
    NuBusConfiguration = 6,
    PCMCIAConfiguration = 7,
    MPIConfiguration = 8,
    MPSAConfiguration = 9,
    PNPISAConfiguration = 10,
    SgiInternalConfiguration = 11,
    MaximumBusDataType = 12
} BUS_DATA_TYPE,
    *PBUS_DATA_TYPE;

typedef enum _LOGICAL_PROCESSOR_RELATIONSHIP {
    RelationProcessorCore = 0,
    RelationNumaNode = 1,
    RelationCache = 2,
    RelationProcessorPackage = 3,
    RelationGroup = 4,
    RelationProcessorDie = 5,
    RelationNumaNodeEx = 6,
    RelationProcessorModule = 7,
    RelationAll = 0xffff
} LOGICAL_PROCESSOR_RELATIONSHIP;

typedef enum _SYSTEM_POWER_STATE {
    PowerSystemUnspecified = 0,
    PowerSystemWorking = 1,
    PowerSystemSleeping1 = 2,
    PowerSystemSleeping2 = 3,
    PowerSystemSleeping3 = 4,
    PowerSystemHibernate = 5,
    PowerSystemShutdown = 6,
    PowerSystemMaximum = 7
} SYSTEM_POWER_STATE,
    *PSYSTEM_POWER_STATE;

typedef enum _DEVICE_POWER_STATE {
    PowerDeviceUnspecified = 0,
    PowerDeviceD0 = 1,
    PowerDeviceD1 = 2,
    PowerDeviceD2 = 3,
    PowerDeviceD3 = 4,
    PowerDeviceMaximum = 5
} DEVICE_POWER_STATE,
    *PDEVICE_POWER_STATE;

/* --- PCI configuration space (what StorPortGetBusData returns) ------------ */

#define PCI_TYPE0_ADDRESSES   6
#define PCI_TYPE1_ADDRESSES   2
#define PCI_TYPE2_ADDRESSES   5
#define PCI_INVALID_VENDORID  0xFFFF
#define PCI_MAX_DEVICES       32
#define PCI_MAX_FUNCTION      8
#define PCI_MAX_BRIDGE_NUMBER 0xFF

struct _PCI_HEADER_TYPE_0 {
    ULONG BaseAddresses[PCI_TYPE0_ADDRESSES];
    ULONG CIS;
    USHORT SubVendorID;
    USHORT SubSystemID;
    ULONG ROMBaseAddress;
    UCHAR CapabilitiesPtr;
    UCHAR Reserved1[3];
    ULONG Reserved2;
    UCHAR InterruptLine;
    UCHAR InterruptPin;
    UCHAR MinimumGrant;
    UCHAR MaximumLatency;
};

struct _PCI_HEADER_TYPE_1 {
    ULONG BaseAddresses[PCI_TYPE1_ADDRESSES];
    UCHAR PrimaryBus;
    UCHAR SecondaryBus;
    UCHAR SubordinateBus;
    UCHAR SecondaryLatency;
    UCHAR IOBase;
    UCHAR IOLimit;
    USHORT SecondaryStatus;
    USHORT MemoryBase;
    USHORT MemoryLimit;
    USHORT PrefetchBase;
    USHORT PrefetchLimit;
    ULONG PrefetchBaseUpper32;
    ULONG PrefetchLimitUpper32;
    USHORT IOBaseUpper16;
    USHORT IOLimitUpper16;
    UCHAR CapabilitiesPtr;
    UCHAR Reserved1[3];
    ULONG ROMBaseAddress;
    UCHAR InterruptLine;
    UCHAR InterruptPin;
    USHORT BridgeControl;
};

struct _PCI_HEADER_TYPE_2 {
    ULONG SocketRegistersBaseAddress;
    UCHAR CapabilitiesPtr;
    UCHAR Reserved;
    USHORT SecondaryStatus;
    UCHAR PrimaryBus;
    UCHAR SecondaryBus;
    UCHAR SubordinateBus;
    UCHAR SecondaryLatency;
    struct {
        ULONG Base;
        ULONG Limit;
    } Range[PCI_TYPE2_ADDRESSES - 1];
    UCHAR InterruptLine;
    UCHAR InterruptPin;
    USHORT BridgeControl;
};

typedef struct _PCI_COMMON_HEADER {
    USHORT VendorID;
    USHORT DeviceID;
    USHORT Command;
    USHORT Status;
    UCHAR RevisionID;
    UCHAR ProgIf;
    UCHAR SubClass;
    UCHAR BaseClass;
    UCHAR CacheLineSize;
    UCHAR LatencyTimer;
    UCHAR HeaderType;
    UCHAR BIST;
    union {
        struct _PCI_HEADER_TYPE_0 type0;
        struct _PCI_HEADER_TYPE_1 type1;
        struct _PCI_HEADER_TYPE_2 type2;
    } u;
} PCI_COMMON_HEADER, *PPCI_COMMON_HEADER;

typedef struct _PCI_COMMON_CONFIG {
    USHORT VendorID;
    USHORT DeviceID;
    USHORT Command;
    USHORT Status;
    UCHAR RevisionID;
    UCHAR ProgIf;
    UCHAR SubClass;
    UCHAR BaseClass;
    UCHAR CacheLineSize;
    UCHAR LatencyTimer;
    UCHAR HeaderType;
    UCHAR BIST;
    union {
        struct _PCI_HEADER_TYPE_0 type0;
        struct _PCI_HEADER_TYPE_1 type1;
        struct _PCI_HEADER_TYPE_2 type2;
    } u;
    UCHAR DeviceSpecific[192];
} PCI_COMMON_CONFIG, *PPCI_COMMON_CONFIG;

#define PCI_COMMON_HDR_LENGTH (FIELD_OFFSET(PCI_COMMON_CONFIG, DeviceSpecific))

#define PCI_EXTENDED_CONFIG_LENGTH 0x1000

#define PCI_ENABLE_IO_SPACE          0x0001
#define PCI_ENABLE_MEMORY_SPACE      0x0002
#define PCI_ENABLE_BUS_MASTER        0x0004
#define PCI_DISABLE_LEVEL_INTERRUPT  0x0400
#define PCI_STATUS_CAPABILITIES_LIST 0x0010
#define PCI_MULTIFUNCTION            0x80
#define PCI_DEVICE_TYPE              0x00
#define PCI_BRIDGE_TYPE              0x01
#define PCI_CARDBUS_BRIDGE_TYPE      0x02

/* --- Memory helpers ------------------------------------------------------- */

#define RtlZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define RtlSecureZeroMemory(Destination, Length)                               \
    memset((Destination), 0, (Length))
#define RtlCopyMemory(Destination, Source, Length)                             \
    memcpy((Destination), (Source), (Length))
#define RtlMoveMemory(Destination, Source, Length)                             \
    memmove((Destination), (Source), (Length))
#define RtlFillMemory(Destination, Length, Fill)                               \
    memset((Destination), (Fill), (Length))
#define RtlEqualMemory(Source1, Source2, Length)                               \
    (!memcmp((Source1), (Source2), (Length)))

/* Returns how many leading bytes of the two blocks are equal. */
static inline SIZE_T RtlCompareMemory(const VOID *Source1, const VOID *Source2,
                                      SIZE_T Length)
{
    const UCHAR *a = (const UCHAR *)Source1;
    const UCHAR *b = (const UCHAR *)Source2;
    SIZE_T i;

    for (i = 0; i < Length; i++) {
        if (a[i] != b[i]) {
            break;
        }
    }
    return i;
}

static inline USHORT RtlUshortByteSwap(USHORT Source)
{
    return __builtin_bswap16(Source);
}

static inline ULONG RtlUlongByteSwap(ULONG Source)
{
    return __builtin_bswap32(Source);
}

static inline ULONGLONG RtlUlonglongByteSwap(ULONGLONG Source)
{
    return __builtin_bswap64(Source);
}

#define _byteswap_ushort(x) RtlUshortByteSwap(x)
#define _byteswap_ulong(x)  RtlUlongByteSwap(x)
#define _byteswap_uint64(x) RtlUlonglongByteSwap(x)

/* --- Doubly and singly linked lists (wdm.h semantics) --------------------- */

static inline VOID InitializeListHead(PLIST_ENTRY ListHead)
{
    ListHead->Flink = ListHead;
    ListHead->Blink = ListHead;
}

static inline BOOLEAN IsListEmpty(const LIST_ENTRY *ListHead)
{
    return (BOOLEAN)(ListHead->Flink == ListHead);
}

/* Unlinks Entry; returns TRUE when the list it was on is now empty. */
static inline BOOLEAN RemoveEntryList(PLIST_ENTRY Entry)
{
    PLIST_ENTRY prev = Entry->Blink;
    PLIST_ENTRY next = Entry->Flink;

    prev->Flink = next;
    next->Blink = prev;
    return (BOOLEAN)(prev == next);
}

static inline PLIST_ENTRY RemoveHeadList(PLIST_ENTRY ListHead)
{
    PLIST_ENTRY entry = ListHead->Flink;

    RemoveEntryList(entry);
    return entry;
}

static inline PLIST_ENTRY RemoveTailList(PLIST_ENTRY ListHead)
{
    PLIST_ENTRY entry = ListHead->Blink;

    RemoveEntryList(entry);
    return entry;
}

static inline VOID InsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry)
{
    PLIST_ENTRY last = ListHead->Blink;

    Entry->Flink = ListHead;
    Entry->Blink = last;
    last->Flink = Entry;
    ListHead->Blink = Entry;
}

static inline VOID InsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry)
{
    PLIST_ENTRY first = ListHead->Flink;

    Entry->Flink = first;
    Entry->Blink = ListHead;
    first->Blink = Entry;
    ListHead->Flink = Entry;
}

/* Moves every entry of ListToAppend (a headless ring) to ListHead's tail. */
static inline VOID AppendTailList(PLIST_ENTRY ListHead,
                                  PLIST_ENTRY ListToAppend)
{
    PLIST_ENTRY last = ListHead->Blink;

    last->Flink = ListToAppend;
    ListHead->Blink = ListToAppend->Blink;
    ListToAppend->Blink->Flink = ListHead;
    ListToAppend->Blink = last;
}

static inline PSINGLE_LIST_ENTRY PopEntryList(PSINGLE_LIST_ENTRY ListHead)
{
    PSINGLE_LIST_ENTRY first = ListHead->Next;

    if (first != NULL) {
        ListHead->Next = first->Next;
    }
    return first;
}

static inline VOID PushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                 PSINGLE_LIST_ENTRY Entry)
{
    Entry->Next = ListHead->Next;
    ListHead->Next = Entry;
}

/* --- Interlocked operations and barriers ---------------------------------- */

/*
 * Full-barrier read-modify-write operations, as the Windows Interlocked*
 * family.  Increment/Decrement/Add return the new value; Exchange,
 * CompareExchange, ExchangeAdd and the bitwise ones return the old one.
 *
 * The machine is one host thread (docs/machine.md): vCPUs
 * are coroutines that switch only at yield points, and devices run between
 * them, so nothing observes guest memory between two instructions of
 * guest code.  A read-modify-write that does not yield is therefore atomic
 * for every vCPU and device, and a full barrier has only to keep the
 * compiler from moving memory accesses across it.  A host lock prefix or
 * fence would order nothing more, at tens of cycles each: a virtqueue
 * submission has three.
 *
 * STOREMU_RMW(P, NEW) stores NEW, an expression of the old value o_, and
 * yields the old value; arithmetic goes through the unsigned type so it
 * wraps as the processor's does.  A failed compare-exchange writes the old
 * value back, as LOCK CMPXCHG does.
 */
#define STOREMU_FENCE() __asm__ __volatile__("" ::: "memory")
#define STOREMU_RMW(P, NEW)                                                    \
    __extension__({                                                            \
        STOREMU_FENCE();                                                       \
        __auto_type o_ = *(P);                                                 \
        *(P) = (NEW);                                                          \
        STOREMU_FENCE();                                                       \
        o_;                                                                    \
    })

static inline LONG InterlockedExchangeAdd(LONG volatile *Addend, LONG Value)
{
    return STOREMU_RMW(Addend, (LONG)((ULONG)o_ + (ULONG)Value));
}

static inline LONG InterlockedAdd(LONG volatile *Addend, LONG Value)
{
    return (LONG)((ULONG)InterlockedExchangeAdd(Addend, Value) + (ULONG)Value);
}

static inline LONG InterlockedIncrement(LONG volatile *Addend)
{
    return InterlockedAdd(Addend, 1);
}

static inline LONG InterlockedDecrement(LONG volatile *Addend)
{
    return InterlockedAdd(Addend, -1);
}

static inline LONG InterlockedExchange(LONG volatile *Target, LONG Value)
{
    return STOREMU_RMW(Target, Value);
}

static inline LONG InterlockedCompareExchange(LONG volatile *Destination,
                                              LONG ExChange, LONG Comparand)
{
    return STOREMU_RMW(Destination, o_ == Comparand ? ExChange : o_);
}

static inline LONG InterlockedOr(LONG volatile *Destination, LONG Value)
{
    return STOREMU_RMW(Destination, o_ | Value);
}

static inline LONG InterlockedAnd(LONG volatile *Destination, LONG Value)
{
    return STOREMU_RMW(Destination, o_ & Value);
}

static inline LONG InterlockedXor(LONG volatile *Destination, LONG Value)
{
    return STOREMU_RMW(Destination, o_ ^ Value);
}

static inline SHORT InterlockedIncrement16(SHORT volatile *Addend)
{
    return (SHORT)(USHORT)(STOREMU_RMW(Addend, (SHORT)(USHORT)(o_ + 1)) + 1);
}

static inline SHORT InterlockedDecrement16(SHORT volatile *Addend)
{
    return (SHORT)(USHORT)(STOREMU_RMW(Addend, (SHORT)(USHORT)(o_ - 1)) - 1);
}

static inline SHORT InterlockedCompareExchange16(SHORT volatile *Destination,
                                                 SHORT ExChange,
                                                 SHORT Comparand)
{
    return STOREMU_RMW(Destination, o_ == Comparand ? ExChange : o_);
}

static inline LONG64 InterlockedExchangeAdd64(LONG64 volatile *Addend,
                                              LONG64 Value)
{
    return STOREMU_RMW(Addend, (LONG64)((ULONG64)o_ + (ULONG64)Value));
}

static inline LONG64 InterlockedAdd64(LONG64 volatile *Addend, LONG64 Value)
{
    return (LONG64)((ULONG64)InterlockedExchangeAdd64(Addend, Value) +
                    (ULONG64)Value);
}

static inline LONG64 InterlockedIncrement64(LONG64 volatile *Addend)
{
    return InterlockedAdd64(Addend, 1);
}

static inline LONG64 InterlockedDecrement64(LONG64 volatile *Addend)
{
    return InterlockedAdd64(Addend, -1);
}

static inline LONG64 InterlockedExchange64(LONG64 volatile *Target,
                                           LONG64 Value)
{
    return STOREMU_RMW(Target, Value);
}

static inline LONG64 InterlockedCompareExchange64(LONG64 volatile *Destination,
                                                  LONG64 ExChange,
                                                  LONG64 Comparand)
{
    return STOREMU_RMW(Destination, o_ == Comparand ? ExChange : o_);
}

static inline LONG64 InterlockedOr64(LONG64 volatile *Destination, LONG64 Value)
{
    return STOREMU_RMW(Destination, o_ | Value);
}

static inline LONG64 InterlockedAnd64(LONG64 volatile *Destination,
                                      LONG64 Value)
{
    return STOREMU_RMW(Destination, o_ & Value);
}

static inline PVOID InterlockedExchangePointer(PVOID volatile *Target,
                                               PVOID Value)
{
    return STOREMU_RMW(Target, Value);
}

static inline PVOID
InterlockedCompareExchangePointer(PVOID volatile *Destination, PVOID ExChange,
                                  PVOID Comparand)
{
    return STOREMU_RMW(Destination, o_ == Comparand ? ExChange : o_);
}

/* The compiler-intrinsic spellings some drivers call directly. */
#define _InterlockedIncrement              InterlockedIncrement
#define _InterlockedDecrement              InterlockedDecrement
#define _InterlockedExchange               InterlockedExchange
#define _InterlockedExchangeAdd            InterlockedExchangeAdd
#define _InterlockedCompareExchange        InterlockedCompareExchange
#define _InterlockedOr                     InterlockedOr
#define _InterlockedAnd                    InterlockedAnd
#define _InterlockedXor                    InterlockedXor
#define _InterlockedIncrement64            InterlockedIncrement64
#define _InterlockedDecrement64            InterlockedDecrement64
#define _InterlockedExchange64             InterlockedExchange64
#define _InterlockedExchangeAdd64          InterlockedExchangeAdd64
#define _InterlockedCompareExchange64      InterlockedCompareExchange64
#define _InterlockedExchangePointer        InterlockedExchangePointer
#define _InterlockedCompareExchangePointer InterlockedCompareExchangePointer
#define InterlockedExchangeAddSizeT(a, b)                                      \
    ((SIZE_T)InterlockedExchangeAdd64((LONG64 volatile *)(a), (LONG64)(b)))

/* Full barriers: compiler-only on a one-thread machine (above). */
#define KeMemoryBarrier()             STOREMU_FENCE()
#define MemoryBarrier()               STOREMU_FENCE()
#define KeMemoryBarrierWithoutFence() STOREMU_FENCE()
#define _ReadWriteBarrier()           STOREMU_FENCE()
#define _ReadBarrier()                STOREMU_FENCE()
#define _WriteBarrier()               STOREMU_FENCE()
#define YieldProcessor()              __asm__ __volatile__("pause" ::: "memory")

/* --- Debug output and assertions ------------------------------------------ */

/*
 * The port implements these.  StorPortDebugPrint is repeated from
 * storport.h so that the print macros below work with this header alone.
 */
VOID StorPortDebugPrint(ULONG DebugPrintLevel, PCSTR DebugMessage, ...);

/* Reports a failed ASSERT/NT_ASSERT to the port (checked builds only). */
VOID RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber,
               PSTR MutableMessage);

/* A driver-requested breakpoint; the port reports it and stops the run. */
VOID DbgBreakPoint(VOID);

/* DbgPrintEx component ids and levels that miniports pass. */
#define DPFLTR_ERROR_LEVEL   0
#define DPFLTR_WARNING_LEVEL 1
#define DPFLTR_TRACE_LEVEL   2
#define DPFLTR_INFO_LEVEL    3
#define DPFLTR_MASK          0x80000000
#define DPFLTR_IHVDRIVER_ID  77

/*
 * DbgPrint family mapped onto StorPortDebugPrint.  The component id of
 * DbgPrintEx is dropped; its level becomes the print level.
 */
#define DbgPrint(...) StorPortDebugPrint(DPFLTR_ERROR_LEVEL, __VA_ARGS__)
#define DbgPrintEx(ComponentId, Level, ...)                                    \
    StorPortDebugPrint((ULONG)(Level), __VA_ARGS__)
#define vDbgPrintEx(ComponentId, Level, Format, Arglist) ((void)0)

/*
 * As in the kit, the assertion macros are live only in checked (DBG)
 * builds; NT_VERIFY evaluates its expression in every build and yields
 * it as a BOOLEAN so that "if (!NT_VERIFY(x))" works.
 */
#define STOREMU_ASSERT_FAILED(exp, msg)                                        \
    RtlAssert((PVOID) #exp, (PVOID)__FILE__, __LINE__, (PSTR)(msg))
#if DBG
#define KdPrint(_x_)   DbgPrint _x_
#define KdPrintEx(_x_) DbgPrintEx _x_
#define KdBreakPoint() DbgBreakPoint()

#define ASSERT(exp) ((void)((exp) ? 0 : (STOREMU_ASSERT_FAILED(exp, NULL), 0)))
#define ASSERTMSG(msg, exp)                                                    \
    ((void)((exp) ? 0 : (STOREMU_ASSERT_FAILED(exp, msg), 0)))
#define NT_VERIFY(exp)                                                         \
    ((BOOLEAN)((exp) ? TRUE : (STOREMU_ASSERT_FAILED(exp, NULL), FALSE)))
#define NT_VERIFYMSG(msg, exp)                                                 \
    ((BOOLEAN)((exp) ? TRUE : (STOREMU_ASSERT_FAILED(exp, msg), FALSE)))
#else
#define KdPrint(_x_)           ((void)0)
#define KdPrintEx(_x_)         ((void)0)
#define KdBreakPoint()         ((void)0)
#define ASSERT(exp)            ((void)0)
#define ASSERTMSG(msg, exp)    ((void)0)
#define NT_VERIFY(exp)         ((BOOLEAN)((exp) ? TRUE : FALSE))
#define NT_VERIFYMSG(msg, exp) ((BOOLEAN)((exp) ? TRUE : FALSE))
#endif
#define NT_ASSERT(exp)          ASSERT(exp)
#define NT_ASSERTMSG(msg, exp)  ASSERTMSG(msg, exp)
#define NT_ASSERTMSGW(msg, exp) ASSERT(exp)
#define NT_ANALYSIS_ASSUME(exp) ((void)0)
/* Checked in every build. */
#define NT_FRE_ASSERT(exp)                                                     \
    ((void)((exp) ? 0 : (STOREMU_ASSERT_FAILED(exp, NULL), 0)))

/* --- Layout checks: the LLP64 model this whole directory relies on -------- */

_Static_assert(sizeof(void *) == 8, "port/include models Windows x64");
_Static_assert(sizeof(ULONG) == 4 && sizeof(LONG) == 4, "LONG is 32-bit");
_Static_assert(sizeof(ULONG_PTR) == sizeof(void *), "ULONG_PTR is pointer");
_Static_assert(sizeof(WCHAR) == 2, "WCHAR is a UTF-16 code unit");
_Static_assert(sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER is 64-bit");
_Static_assert(sizeof(KDPC) == 64, "KDPC has the x64 size");
_Static_assert(sizeof(PCI_COMMON_CONFIG) == 256, "PCI config is 256 bytes");

#endif /* STOREMU_STORPORT_TYPES_H */
