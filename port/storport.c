/* SPDX-License-Identifier: MIT */
/*
 * The exported StorPort* routines at the heart of the model:
 * StorPortInitialize, StorPortNotification, register and port I/O,
 * device bases and bus data, physical addresses and the uncached
 * extension, MSI information, performance options and passive
 * initialization. Queue control lives in queue.c, kernel services
 * (DPCs, locks, timers, work items, pool, time) in kernel.c, and the
 * remaining leaf routines in storport-misc.c.
 */
#include <stdarg.h>
#include <string.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/fault.h"
#include "system/trace.h"

#ifndef STATUS_REVISION_MISMATCH
#define STATUS_REVISION_MISMATCH ((NTSTATUS)0xC0000059L)
#endif

/* ---- StorPortInitialize ---- */

ULONG NTAPI StorPortInitialize(PVOID Argument1, PVOID Argument2,
                               struct _HW_INITIALIZATION_DATA *hw,
                               PVOID HwContext)
{
    PortDriver *d = Argument1;
    const char *missing = NULL;
    bool virt;

    if (!port.loaded || d != port.drv || mp_current() != MP_DRIVER_ENTRY) {
        verifier_report(VC_BAD_CALL, NULL,
                        "StorPortInitialize outside DriverEntry or with a "
                        "DriverObject the port did not pass");
        return (ULONG)STATUS_INVALID_PARAMETER;
    }
    if (!hw || hw->HwInitializationDataSize <
                   offsetof(HW_INITIALIZATION_DATA, HwBuildIo)) {
        g_warning("storport: %s: HW_INITIALIZATION_DATA size %lu is too "
                  "small (%zu expected)",
                  d->name, hw ? (unsigned long)hw->HwInitializationDataSize : 0,
                  sizeof(HW_INITIALIZATION_DATA));
        return (ULONG)STATUS_REVISION_MISMATCH;
    }
    memset(&d->hw, 0, sizeof(d->hw));
    memcpy(&d->hw, hw,
           MIN(hw->HwInitializationDataSize,
               (ULONG)sizeof(HW_INITIALIZATION_DATA)));
    d->hw.HwInitializationDataSize = sizeof(HW_INITIALIZATION_DATA);
    virt = (d->hw.FeatureSupport & STOR_FEATURE_VIRTUAL_MINIPORT) != 0;
    if (!d->hw.HwInitialize) {
        missing = "HwInitialize";
    } else if (!d->hw.HwStartIo) {
        missing = "HwStartIo";
    } else if (!d->hw.HwFindAdapter) {
        missing = "HwFindAdapter";
    } else if (!d->hw.HwResetBus) {
        missing = "HwResetBus";
    } else if (!d->hw.HwAdapterControl) {
        missing = "HwAdapterControl";
    } else if (!virt && !d->hw.HwInterrupt) {
        missing = "HwInterrupt";
    }
    if (missing) {
        g_warning("storport: %s: HW_INITIALIZATION_DATA has no %s routine",
                  d->name, missing);
        return (ULONG)STATUS_INVALID_PARAMETER;
    }
    if (d->hw.SrbTypeFlags & ~(ULONG)(SRB_TYPE_FLAG_SCSI_REQUEST_BLOCK |
                                      SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK)) {
        g_warning("storport: %s: unknown SrbTypeFlags 0x%lx", d->name,
                  (unsigned long)d->hw.SrbTypeFlags);
        return (ULONG)STATUS_INVALID_PARAMETER;
    }
    d->virtual_miniport = virt;
    d->hw_context = HwContext;
    d->initialized = true;
    TRACE(port_initialize, "%s virtual=%d devext=%lu luext=%lu srbext=%lu",
          d->name, virt, (unsigned long)d->hw.DeviceExtensionSize,
          (unsigned long)d->hw.SpecificLuExtensionSize,
          (unsigned long)d->hw.SrbExtensionSize);
    return STATUS_SUCCESS;
}

/* ---- StorPortNotification ---- */

/* What RequestComplete does once the adapter is known and the call has
 * yielded. */
static inline void request_complete(PortAdapter *a, PVOID Srb)
{
    a->notifications[RequestComplete]++;
    port_complete_from_miniport(a, Srb);
}

static void G_GNUC_NO_INLINE
notification(SCSI_NOTIFICATION_TYPE NotificationType, PVOID HwDeviceExtension,
             va_list ap);

/*
 * RequestComplete comes once per I/O; the other types are set-up and
 * rare, and go to notification() with the argument list. So this
 * variadic function holds nothing across a call and saves no registers,
 * and the usual completion, the first adapter's while the yield needs no
 * switch, tests just that; anything else takes notification(), the same
 * path as every other type.
 */
VOID StorPortNotification(SCSI_NOTIFICATION_TYPE NotificationType,
                          PVOID HwDeviceExtension, ...)
{
    va_list ap;

    /* No test of port.adapters[0]: port.devext0 is its device extension
     * while it exists, and no extension's address otherwise (pnp.c). */
    if (NotificationType == RequestComplete &&
        HwDeviceExtension == port.devext0 && G_LIKELY(cpu_yield_passes(1))) {
        /* Not ap: a list that never leaves the function costs no stores. */
        va_list one;
        PVOID srb;

        va_start(one, HwDeviceExtension);
        srb = va_arg(one, PVOID);
        va_end(one);
        cpu_yield_pass(1);
        request_complete(port.adapters[0], srb);
        return;
    }
    va_start(ap, HwDeviceExtension);
    notification(NotificationType, HwDeviceExtension, ap);
    va_end(ap);
}

static void G_GNUC_NO_INLINE
notification(SCSI_NOTIFICATION_TYPE NotificationType, PVOID HwDeviceExtension,
             va_list ap)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortNotification");

    if (!a) {
        return;
    }
    cpu_yield("StorPortNotification");
    if (NotificationType == RequestComplete) {
        request_complete(a, va_arg(ap, PVOID));
        return;
    }
    if ((unsigned)NotificationType <= GetExtendedFunctionTable) {
        a->notifications[NotificationType]++;
    } else if (NotificationType >= EnablePassiveInitialization &&
               NotificationType <= AsyncNotificationDetected) {
        a->notifications[GetExtendedFunctionTable + 1 +
                         (NotificationType - EnablePassiveInitialization)]++;
    }
    switch (NotificationType) {
    case NextRequest:
    case NextLuRequest:
        /* Storport never waits for these: the miniport is always ready
         * for the next request when HwStorStartIo returns. */
        break;
    case ResetDetected:
        TRACE(port_reset_detected, "%s", a->name);
        break;
    case RequestTimerCall: {
        PHW_TIMER fn = va_arg(ap, PHW_TIMER);
        ULONG us = va_arg(ap, ULONG);
        a->timer.adapter = a;
        a->timer.hw_timer = fn;
        a->timer.is_ex = false;
        port_timer_set(&a->timer, fn ? us : 0);
        break;
    }
    case BusChangeDetected:
        a->bus_change_pending = true;
        TRACE(port_bus_change, "%s path=%u", a->name, va_arg(ap, int));
        break;
    case LinkUp:
    case LinkDown:
        TRACE(port_link, "%s %s", a->name,
              NotificationType == LinkUp ? "up" : "down");
        break;
    case QueryTickCount: {
        PLARGE_INTEGER t = va_arg(ap, PLARGE_INTEGER);
        if (t) {
            t->QuadPart = (LONGLONG)(vclock_now() / PORT_TICK_COUNT_NS);
        }
        break;
    }
    case BufferOverrunDetected:
        TRACE(port_buffer_overrun, "%s", a->name);
        break;
    case EnablePassiveInitialization: {
        PHW_PASSIVE_INITIALIZE_ROUTINE fn =
            va_arg(ap, PHW_PASSIVE_INITIALIZE_ROUTINE);
        PBOOLEAN ok = va_arg(ap, PBOOLEAN);
        BOOLEAN r = StorPortEnablePassiveInitialization(HwDeviceExtension, fn);
        if (ok) {
            *ok = r;
        }
        break;
    }
    case InitializeDpc: {
        PSTOR_DPC dpc = va_arg(ap, PSTOR_DPC);
        PHW_DPC_ROUTINE fn = va_arg(ap, PHW_DPC_ROUTINE);
        StorPortInitializeDpc(HwDeviceExtension, dpc, fn);
        break;
    }
    case IssueDpc: {
        PSTOR_DPC dpc = va_arg(ap, PSTOR_DPC);
        PVOID a1 = va_arg(ap, PVOID);
        PVOID a2 = va_arg(ap, PVOID);
        PBOOLEAN ok = va_arg(ap, PBOOLEAN);
        BOOLEAN r = port_dpc_issue(dpc, a1, a2);
        if (ok) {
            *ok = r;
        }
        break;
    }
    case AcquireSpinLock: {
        STOR_SPINLOCK which = va_arg(ap, STOR_SPINLOCK);
        PVOID ctx = va_arg(ap, PVOID);
        PSTOR_LOCK_HANDLE h = va_arg(ap, PSTOR_LOCK_HANDLE);
        StorPortAcquireSpinLock(HwDeviceExtension, which, ctx, h);
        break;
    }
    case ReleaseSpinLock:
        StorPortReleaseSpinLock(HwDeviceExtension,
                                va_arg(ap, PSTOR_LOCK_HANDLE));
        break;
    default:
        port_not_implemented("StorPortNotification(this notification type)");
        TRACE(port_notification_ignored, "type=0x%x", NotificationType);
        break;
    }
}

BOOLEAN NTAPI StorPortEnablePassiveInitialization(
    PVOID DeviceExtension, PHW_PASSIVE_INITIALIZE_ROUTINE routine)
{
    PortAdapter *a = port_adapter_for_caller(
        DeviceExtension, "StorPortEnablePassiveInitialization");

    if (!a || !routine) {
        return FALSE;
    }
    if (mp_current() != MP_INITIALIZE) {
        verifier_report(VC_BAD_CALL, NULL,
                        "StorPortEnablePassiveInitialization outside "
                        "HwStorInitialize");
        return FALSE;
    }
    a->passive_init = routine;
    return TRUE;
}

/* ---- register and port I/O ---- */

static PortRange *last_range;

void port_regio_reset(void)
{
    /* The cache points into an adapter; adapters die with the machine. */
    last_range = NULL;
}

static PortRange *range_of(uint64_t gpa, unsigned size, bool io)
{
    if (last_range && last_range->io == io && gpa >= last_range->gpa &&
        gpa + size <= last_range->gpa + last_range->size) {
        return last_range;
    }
    for (unsigned i = 0; i < port.nadapters; i++) {
        PortAdapter *a = port.adapters[i];
        for (unsigned r = 0; r < a->nranges; r++) {
            PortRange *pr = &a->ranges[r];
            if (pr->mapped && pr->io == io && gpa >= pr->gpa &&
                gpa + size <= pr->gpa + pr->size) {
                last_range = pr;
                return pr;
            }
        }
    }
    return NULL;
}

/* Decode a register address handed out by StorPortGetDeviceBase. */
static bool reg_decode(const volatile void *p, unsigned size, bool want_io,
                       uint64_t *gpa, bool *io, const char *fn)
{
    if (!mmio_window_decode(p, gpa, io)) {
        verifier_report(VC_REGISTER_RANGE, mp_current_request(),
                        "%s(%p): not an address StorPortGetDeviceBase "
                        "returned",
                        fn, (void *)p);
        return false;
    }
    if (!range_of(*gpa, size, *io)) {
        verifier_report(VC_REGISTER_RANGE, mp_current_request(),
                        "%s at %s 0x%" G_GINT64_MODIFIER "x: outside every "
                        "mapped access range",
                        fn, *io ? "port" : "address", *gpa);
        return false;
    }
    if (*io != want_io) {
        verifier_report(VC_REGISTER_RANGE, mp_current_request(),
                        "%s on %s space", fn,
                        *io ? "an I/O port" : "memory-mapped registers");
    }
    return true;
}

static uint64_t reg_read(const volatile void *p, unsigned size, bool port_io,
                         const char *fn)
{
    uint64_t gpa;
    bool io;

    if (!reg_decode(p, size, port_io, &gpa, &io, fn)) {
        return size == 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1;
    }
    return io ? bnd_pio_read((uint16_t)gpa, size) : bnd_mmio_read(gpa, size);
}

static void reg_write(volatile void *p, uint64_t v, unsigned size, bool port_io,
                      const char *fn)
{
    uint64_t gpa;
    bool io;

    if (!reg_decode(p, size, port_io, &gpa, &io, fn)) {
        return;
    }
    if (io) {
        bnd_pio_write((uint16_t)gpa, v, size);
    } else {
        bnd_mmio_write(gpa, v, size);
    }
}

#define DEFINE_REG_ACCESS(Kind, Width, Type, PType, size, io)                  \
    Type NTAPI StorPortRead##Kind##Width(PVOID HwDeviceExtension,              \
                                         PType Register)                       \
    {                                                                          \
        return (Type)reg_read(Register, size, io,                              \
                              "StorPortRead" #Kind #Width);                    \
    }                                                                          \
    VOID NTAPI StorPortWrite##Kind##Width(PVOID HwDeviceExtension,             \
                                          PType Register, Type Value)          \
    {                                                                          \
        reg_write(Register, Value, size, io, "StorPortWrite" #Kind #Width);    \
    }                                                                          \
    VOID NTAPI StorPortRead##Kind##Buffer##Width(                              \
        PVOID HwDeviceExtension, PType Register, PType Buffer, ULONG Count)    \
    {                                                                          \
        for (ULONG i = 0; i < Count; i++) {                                    \
            Buffer[i] = (Type)reg_read(Register, size, io,                     \
                                       "StorPortRead" #Kind "Buffer" #Width);  \
        }                                                                      \
    }                                                                          \
    VOID NTAPI StorPortWrite##Kind##Buffer##Width(                             \
        PVOID HwDeviceExtension, PType Register, PType Buffer, ULONG Count)    \
    {                                                                          \
        for (ULONG i = 0; i < Count; i++) {                                    \
            reg_write(Register, Buffer[i], size, io,                           \
                      "StorPortWrite" #Kind "Buffer" #Width);                  \
        }                                                                      \
    }

/* The Buffer forms repeat the access at the same address (a FIFO), as
 * READ_REGISTER_BUFFER_* do. */
DEFINE_REG_ACCESS(Register, Uchar, UCHAR, PUCHAR, 1, false)
DEFINE_REG_ACCESS(Register, Ushort, USHORT, PUSHORT, 2, false)
DEFINE_REG_ACCESS(Register, Ulong, ULONG, PULONG, 4, false)
DEFINE_REG_ACCESS(Register, Ulong64, ULONG64, PULONG64, 8, false)
DEFINE_REG_ACCESS(Port, Uchar, UCHAR, PUCHAR, 1, true)
DEFINE_REG_ACCESS(Port, Ushort, USHORT, PUSHORT, 2, true)
DEFINE_REG_ACCESS(Port, Ulong, ULONG, PULONG, 4, true)

/* ---- device bases and bus data ---- */

PVOID NTAPI StorPortGetDeviceBase(PVOID HwDeviceExtension,
                                  INTERFACE_TYPE BusType,
                                  ULONG SystemIoBusNumber,
                                  STOR_PHYSICAL_ADDRESS IoAddress,
                                  ULONG NumberOfBytes, BOOLEAN InIoSpace)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortGetDeviceBase");
    uint64_t gpa = (uint64_t)IoAddress.QuadPart;

    if (!a) {
        return NULL;
    }
    for (unsigned i = 0; i < a->nranges; i++) {
        PortRange *r = &a->ranges[i];
        if (r->io == !!InIoSpace && gpa >= r->gpa &&
            (uint64_t)NumberOfBytes <= r->gpa + r->size - gpa) {
            r->mapped = true;
            r->base = InIoSpace ? pio_window_ptr((uint16_t)r->gpa)
                                : mmio_window_ptr(r->gpa);
            return InIoSpace ? pio_window_ptr((uint16_t)gpa)
                             : mmio_window_ptr(gpa);
        }
    }
    verifier_report(VC_BAD_CALL, NULL,
                    "StorPortGetDeviceBase(%s 0x%" G_GINT64_MODIFIER
                    "x, %lu bytes): not inside one of the adapter's access "
                    "ranges",
                    InIoSpace ? "port" : "address", gpa,
                    (unsigned long)NumberOfBytes);
    return NULL;
}

VOID NTAPI StorPortFreeDeviceBase(PVOID HwDeviceExtension, PVOID MappedAddress)
{
    /* Mappings live as long as the adapter; nothing to release. */
}

static bool bus_data_allowed(const char *fn)
{
    MpRoutine r = mp_current();

    if (r != MP_FIND_ADAPTER && r != MP_ADAPTER_CONTROL) {
        verifier_report(VC_BAD_CALL, NULL,
                        "%s outside HwStorFindAdapter and "
                        "ScsiSetRunningConfig/ScsiSetBootConfig",
                        fn);
        return false;
    }
    return true;
}

ULONG NTAPI StorPortGetBusData(PVOID DeviceExtension, ULONG BusDataType,
                               ULONG SystemIoBusNumber, ULONG SlotNumber,
                               PVOID Buffer, ULONG Length)
{
    PortAdapter *a =
        port_adapter_for_caller(DeviceExtension, "StorPortGetBusData");
    UCHAR *out = Buffer;

    if (!a || !a->pci || BusDataType != PCIConfiguration || !Buffer) {
        return 0;
    }
    bus_data_allowed("StorPortGetBusData");
    /* Length 0 asks how much there is; the function has 256 bytes. */
    if (Length == 0) {
        return PCI_CONFIG_SPACE_SIZE;
    }
    Length = MIN(Length, (ULONG)PCI_CONFIG_SPACE_SIZE);
    for (ULONG i = 0; i < Length; i++) {
        out[i] = (UCHAR)pci_config_read(a->pci, i, 1);
    }
    return Length;
}

ULONG NTAPI StorPortSetBusDataByOffset(PVOID DeviceExtension, ULONG BusDataType,
                                       ULONG SystemIoBusNumber,
                                       ULONG SlotNumber, PVOID Buffer,
                                       ULONG Offset, ULONG Length)
{
    PortAdapter *a =
        port_adapter_for_caller(DeviceExtension, "StorPortSetBusDataByOffset");
    const UCHAR *in = Buffer;

    if (!a || !a->pci || BusDataType != PCIConfiguration || !Buffer ||
        Offset >= PCI_CONFIG_SPACE_SIZE) {
        return 0;
    }
    bus_data_allowed("StorPortSetBusDataByOffset");
    Length = MIN(Length, (ULONG)PCI_CONFIG_SPACE_SIZE - Offset);
    for (ULONG i = 0; i < Length; i++) {
        pci_config_write(a->pci, Offset + i, in[i], 1);
    }
    return Length;
}

/* ---- memory and physical addresses ---- */

PVOID NTAPI StorPortGetUncachedExtension(
    PVOID HwDeviceExtension, PPORT_CONFIGURATION_INFORMATION ConfigInfo,
    ULONG NumberOfBytes)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortGetUncachedExtension");
    uint64_t gpa = 0;

    if (!a) {
        return NULL;
    }
    if (mp_current() != MP_FIND_ADAPTER) {
        verifier_report(VC_BAD_CALL, NULL,
                        "StorPortGetUncachedExtension outside "
                        "HwStorFindAdapter");
        return NULL;
    }
    if (a->uncached) {
        /* A repeated find (restart without ScsiRestartAdapter) gets the
         * same extension back if it fits. */
        return NumberOfBytes <= a->uncached_size ? a->uncached : NULL;
    }
    /* -fault pool-fail (system/fault.h): no memory to be had. */
    if (fault_pool_fail("StorPortGetUncachedExtension", NumberOfBytes)) {
        return NULL;
    }
    a->uncached = ram_alloc(NumberOfBytes ? NumberOfBytes : 1, GUEST_PAGE_SIZE,
                            0, "uncached-extension");
    if (!a->uncached) {
        return NULL;
    }
    a->uncached_size = NumberOfBytes;
    ram_gpa(a->uncached, &gpa);
    verifier_map_range(gpa, NumberOfBytes);
    return a->uncached;
}

/* The end of what extension_address() maps for @len bytes at @va: whole
 * guest pages, within RAM. */
static inline uintptr_t ext_map_end(uintptr_t va, uint64_t len)
{
    uint64_t gpa = va - (uintptr_t)ram_base;
    uint64_t end = (gpa + len + GUEST_PAGE_SIZE - 1) & ~(GUEST_PAGE_SIZE - 1);

    return va + (uintptr_t)(MIN(end, ram_size) - gpa);
}

/* Whether @req's extension mapping of this verifier epoch covers [@va,
 * @va_end). */
static inline bool ext_mapped(const PortRequest *req, uintptr_t va,
                              uintptr_t va_end)
{
    return req->ext_map_epoch == verifier_map_epoch &&
           va >= req->ext_map_start && va_end <= req->ext_map_end;
}

/* The answer for @len contiguous bytes of extension at @va. */
static inline STOR_PHYSICAL_ADDRESS ext_answer(uintptr_t va, uint64_t len,
                                               ULONG *Length)
{
    STOR_PHYSICAL_ADDRESS pa = {.QuadPart =
                                    (LONGLONG)(va - (uintptr_t)ram_base)};

    if (Length) {
        *Length = (ULONG)MIN(len, (uint64_t)G_MAXUINT32);
    }
    return pa;
}

/*
 * A request's own SRB extension is one allocation in guest RAM,
 * physically contiguous as Storport's are: a miniport that puts a
 * descriptor table and headers there gets their address in one call, not
 * one per page the extension touches. For the verifier, the extension's
 * pages, as the per-page answers a miniport walking it used to get mapped
 * them: DMA legality does not change, and later calls find the range
 * mapped in one quiet-map test rather than failing it on the extension's
 * last, partial granule. Mapped ranges stay mapped until the verifier
 * drops them all (a new epoch), so a miniport asking for the same
 * extension at every start costs the verifier nothing after the first.
 */
static STOR_PHYSICAL_ADDRESS extension_address(PortRequest *req, uintptr_t va,
                                               uint64_t len, ULONG *Length)
{
    uintptr_t va_end = ext_map_end(va, len);

    if (!ext_mapped(req, va, va_end)) {
        verifier_map_range(va - (uintptr_t)ram_base, va_end - va);
        req->ext_map_epoch = verifier_map_epoch;
        req->ext_map_start = va;
        req->ext_map_end = va_end;
    }
    if (va == (uintptr_t)req->srb_ext && len == port_request_ext_size(req)) {
        req->ext_fast_va = va;
        req->ext_fast_len = (ULONG)len;
        req->ext_fast_epoch = verifier_map_epoch;
    }
    return ext_answer(va, len, Length);
}

/* Whether @va is in @Srb's data buffer, which ends at *@end. */
static inline bool in_data_buffer(PVOID Srb, uintptr_t va, uintptr_t *end)
{
    uintptr_t buf = (uintptr_t)SrbGetDataBuffer(Srb);

    *end = buf + SrbGetDataTransferLength(Srb);
    return va >= buf && va < *end;
}

static STOR_PHYSICAL_ADDRESS G_GNUC_NO_INLINE
physical_address_slow(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
                      PVOID VirtualAddress, ULONG *Length)
{
    STOR_PHYSICAL_ADDRESS pa = {.QuadPart = 0};
    PortRequest *req = Srb ? port_request_from_srb(Srb) : NULL;
    PortAdapter *a;
    uint64_t gpa, len;
    uintptr_t va = (uintptr_t)VirtualAddress;
    bool in_data = false;

    /* How far the memory stays physically contiguous: to the end of the
     * buffer when it is a known one (the SRB's data buffer first, then
     * its own extension), else to the end of the page. */
    if (Srb) {
        uintptr_t data_end;

        in_data = in_data_buffer(Srb, va, &data_end);
        if (!in_data && req && req->srb_ext &&
            va - (uintptr_t)req->srb_ext < port_request_ext_size(req)) {
            return extension_address(req, va,
                                     (uintptr_t)req->srb_ext +
                                         port_request_ext_size(req) - va,
                                     Length);
        }
        if (in_data) {
            len = data_end - va;
        }
    }
    if (!ram_gpa(VirtualAddress, &gpa)) {
        verifier_report(VC_BAD_CALL, req,
                        "StorPortGetPhysicalAddress(%p): not memory the port "
                        "or the system allocated",
                        VirtualAddress);
        if (Length) {
            *Length = 0;
        }
        return pa;
    }
    if (!in_data) {
        len = GUEST_PAGE_SIZE - (gpa & (GUEST_PAGE_SIZE - 1));
    }
    a = port_adapter_from_devext(HwDeviceExtension);
    if (a && a->uncached && va >= (uintptr_t)a->uncached &&
        va < (uintptr_t)a->uncached + a->uncached_size) {
        len = (uintptr_t)a->uncached + a->uncached_size - va;
    }
    len = MIN(len, ram_size - gpa);
    verifier_map_range(gpa, len);
    pa.QuadPart = (LONGLONG)gpa;
    if (Length) {
        *Length = (ULONG)MIN(len, (uint64_t)G_MAXUINT32);
    }
    return pa;
}

/*
 * A miniport asks for its request's extension once per I/O (the device
 * reads descriptors and headers there), from its start, and after the
 * first time the verifier has that range mapped already
 * (extension_address): answered here without the slow path's register
 * saves or its other cases. extension_address noted the extension's
 * address and length when it answered for all of it, under the epoch of
 * a mapping that covers it, so the same address under the same epoch
 * needs neither range arithmetic nor the extension's size: the answer is
 * the whole extension again. Any other address, a new epoch or an
 * extension a BUSY retry replaced takes the slow path, which gives the
 * same answers. The data buffer comes first, as in the slow path, for a
 * miniport that points it into its own extension.
 */
STOR_PHYSICAL_ADDRESS NTAPI StorPortGetPhysicalAddress(PVOID HwDeviceExtension,
                                                       PSCSI_REQUEST_BLOCK Srb,
                                                       PVOID VirtualAddress,
                                                       ULONG *Length)
{
    PortSrbCacheSlot *c = port_srb_cache_slot(Srb);
    uintptr_t va = (uintptr_t)VirtualAddress;

    if (c->srb == (PVOID)Srb) {
        PortRequest *req = c->req;

        uintptr_t data_end;

        if (va == (uintptr_t)req->srb_ext && va == req->ext_fast_va &&
            req->ext_fast_epoch == verifier_map_epoch &&
            !in_data_buffer(Srb, va, &data_end)) {
            return ext_answer(va, req->ext_fast_len, Length);
        }
    }
    return physical_address_slow(HwDeviceExtension, Srb, VirtualAddress,
                                 Length);
}

PVOID NTAPI StorPortGetVirtualAddress(PVOID HwDeviceExtension,
                                      STOR_PHYSICAL_ADDRESS PhysicalAddress)
{
    return ram_ptr((uint64_t)PhysicalAddress.QuadPart, 1);
}

VOID NTAPI StorPortMoveMemory(PVOID WriteBuffer, PVOID ReadBuffer, ULONG Length)
{
    memmove(WriteBuffer, ReadBuffer, Length);
}

/* ---- interrupts and performance options ---- */

ULONG NTAPI StorPortGetMSIInfo(PVOID HwDeviceExtension, ULONG MessageId,
                               PMESSAGE_INTERRUPT_INFORMATION InterruptInfo)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortGetMSIInfo");
    PortMessage *m;

    if (!a || !InterruptInfo || !a->use_msi || MessageId >= a->nmsg) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    m = &a->msg[MessageId];
    InterruptInfo->MessageId = MessageId;
    InterruptInfo->MessageData = m->data;
    InterruptInfo->MessageAddress.QuadPart = (LONGLONG)m->addr;
    InterruptInfo->InterruptVector = m->vector;
    InterruptInfo->InterruptLevel = a->dirql;
    InterruptInfo->InterruptMode = Latched;
    return STOR_STATUS_SUCCESS;
}

#define PERF_SUPPORTED                                                         \
    (STOR_PERF_DPC_REDIRECTION | STOR_PERF_CONCURRENT_CHANNELS |               \
     STOR_PERF_INTERRUPT_MESSAGE_RANGES |                                      \
     STOR_PERF_OPTIMIZE_FOR_COMPLETION_DURING_STARTIO |                        \
     STOR_PERF_DPC_REDIRECTION_CURRENT_CPU | STOR_PERF_NO_SGL)

ULONG NTAPI StorPortInitializePerfOpts(PVOID HwDeviceExtension, BOOLEAN Query,
                                       PPERF_CONFIGURATION_DATA PerfConfigData)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortInitializePerfOpts");
    PPERF_CONFIGURATION_DATA p = PerfConfigData;

    if (!a || !p || p->Version < STOR_PERF_VERSION_2 ||
        p->Version > STOR_PERF_VERSION) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (Query) {
        p->Flags = PERF_SUPPORTED;
        p->ConcurrentChannels = cpus_count();
        return STOR_STATUS_SUCCESS;
    }
    if (p->Flags & ~(ULONG)PERF_SUPPORTED) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    a->perf_flags = p->Flags;
    if (p->Flags & STOR_PERF_CONCURRENT_CHANNELS) {
        if (p->ConcurrentChannels == 0) {
            return STOR_STATUS_INVALID_PARAMETER;
        }
        a->concurrent_channels = true;
        a->channels = MIN(p->ConcurrentChannels, cpus_count());
    }
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI
StorPortGetStartIoPerfParams(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
                             PSTARTIO_PERFORMANCE_PARAMETERS StartIoPerfParams)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortGetStartIoPerfParams");
    int cpu = cpu_index();

    if (!a || !StartIoPerfParams || cpu < 0 ||
        StartIoPerfParams->Size < sizeof(*StartIoPerfParams)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    StartIoPerfParams->ChannelNumber =
        a->channels ? (ULONG)cpu % a->channels : 0;
    StartIoPerfParams->MessageNumber = 0;
    for (unsigned m = 0; m < a->nmsg; m++) {
        if (a->msg[m].cpu == (unsigned)cpu) {
            StartIoPerfParams->MessageNumber = m;
            break;
        }
    }
    return STOR_STATUS_SUCCESS;
}

/* ---- processors ---- */

ULONG NTAPI StorPortGetProcessorCount(PVOID HwDeviceExtension,
                                      PULONG ProcessorCount)
{
    if (!ProcessorCount) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *ProcessorCount = cpus_count();
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetCurrentProcessorNumber(PVOID HwDeviceExtension,
                                              PPROCESSOR_NUMBER ProcNumber)
{
    int cpu = cpu_index();

    if (!ProcNumber || cpu < 0) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    ProcNumber->Group = 0;
    ProcNumber->Number = (UCHAR)cpu;
    ProcNumber->Reserved = 0;
    return STOR_STATUS_SUCCESS;
}
