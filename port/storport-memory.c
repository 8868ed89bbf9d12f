/* SPDX-License-Identifier: MIT */
/*
 * Leaf StorPort* routines, part 2: memory. Physically contiguous and DMA
 * memory comes from guest RAM (ram_alloc) with the page alignment,
 * address window and boundary the miniport asks for, and is registered
 * with the verifier as DMA-reachable; each block is recorded per adapter
 * so Free can check its arguments and removal can report a leak.
 * StorPortBuildScatterGatherList describes a buffer of guest RAM and runs
 * the miniport's execution routine as a DPC. MDLs do not exist in this
 * model: the routines built on them are refused.
 *
 * Reference: nf-storport-storportallocatecontiguousmemoryspecifycachenode,
 * -storportallocatedmamemory, -storportbuildscattergatherlist, ... in
 * MicrosoftDocs/windows-driver-docs-ddi (wdk-ddi-src/content/storport).
 */
#include <inttypes.h>
#include <string.h>
#include "hw/core/ram.h"
#include "port/storport-misc.h"
#include "system/fault.h"
#include "system/trace.h"

/* How many times to push the allocator past memory below the caller's
 * window before giving up (it is first-fit, low to high). */
#define WINDOW_TRIES 16

/* A StorPortBuildScatterGatherList execution routine waiting for its
 * DPC. */
typedef struct MiscSgExec {
    PortWork work;  /* first: the DPC queue links it */
    MiscAdapter *m; /* NULL once orphaned */
    PPOST_SCATTER_GATHER_EXECUTE fn;
    PSTOR_SCATTER_GATHER_LIST sgl;
    PVOID context;
} MiscSgExec;

static const char *block_kind(const MiscBlock *b)
{
    return b->dma ? "DMA" : "contiguous";
}

/*
 * @n bytes, page aligned, not crossing @boundary (0: no limit), whose
 * guest-physical range lies within [@low, @high]. NULL when none can be
 * found.
 */
static void *alloc_window(uint64_t n, uint64_t low, uint64_t high,
                          uint64_t boundary, const char *tag)
{
    g_autoptr(GPtrArray) fillers = g_ptr_array_new();
    void *p = NULL;

    if (!n || n > ram_size || high < low || n - 1 > high - low) {
        return NULL;
    }
    for (unsigned i = 0; i < WINDOW_TRIES; i++) {
        void *q = ram_alloc(n, GUEST_PAGE_SIZE, boundary, tag);
        void *filler;
        uint64_t gpa = 0;

        if (!q) {
            break;
        }
        ram_gpa(q, &gpa);
        if (gpa >= low && gpa + n - 1 <= high) {
            p = q;
            break;
        }
        ram_free(q);
        if (gpa >= low) {
            break; /* past the window: later blocks only come higher */
        }
        /* Below the window: occupy the free space up to its start for
         * the moment, so the next try lands inside it. */
        filler = ram_alloc(low - gpa, 16, 0, "window-filler");
        if (!filler) {
            break;
        }
        g_ptr_array_add(fillers, filler);
    }
    for (guint i = 0; i < fillers->len; i++) {
        ram_free(g_ptr_array_index(fillers, i));
    }
    return p;
}

static ULONG alloc_block(PVOID ext, SIZE_T n, PHYSICAL_ADDRESS low,
                         PHYSICAL_ADDRESS high, PHYSICAL_ADDRESS boundary,
                         MEMORY_CACHING_TYPE cache, bool dma, PVOID *out,
                         PPHYSICAL_ADDRESS pa, const char *fn)
{
    PortAdapter *a = port_adapter_for_caller(ext, fn);
    uint64_t b = (uint64_t)boundary.QuadPart;
    MiscBlock blk = {0};

    if (!out) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *out = NULL;
    if (!a || (dma && !pa)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield(fn);
    misc_irql_at_most(DISPATCH_LEVEL, fn);
    if (!n || (unsigned)cache >= MmMaximumCacheType || (b & (b - 1))) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s(%zu bytes, cache type %d, boundary 0x%" PRIx64
                        "): invalid argument",
                        fn, (size_t)n, (int)cache, b);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* -fault pool-fail (system/fault.h): no memory to be had. */
    blk.p =
        fault_pool_fail(fn, n)
            ? NULL
            : alloc_window(n, (uint64_t)low.QuadPart, (uint64_t)high.QuadPart,
                           b, dma ? "dma-memory" : "contiguous-memory");
    if (!blk.p) {
        TRACE(port_contig_alloc_fail, "%s %s %zu bytes", a->name, fn,
              (size_t)n);
        return STOR_STATUS_INSUFFICIENT_RESOURCES;
    }
    ram_gpa(blk.p, &blk.gpa);
    blk.bytes = n;
    blk.cache = cache;
    blk.dma = dma;
    g_array_append_val(misc_adapter(a)->blocks, blk);
    /* The device may DMA into it from now on. */
    verifier_map_range(blk.gpa, n);
    TRACE(port_contig_alloc, "%s %s gpa=0x%" PRIx64 " bytes=%zu", a->name,
          block_kind(&blk), blk.gpa, (size_t)n);
    *out = blk.p;
    if (pa) {
        pa->QuadPart = (LONGLONG)blk.gpa;
    }
    return STOR_STATUS_SUCCESS;
}

static ULONG free_block(PVOID ext, PVOID base, SIZE_T n,
                        MEMORY_CACHING_TYPE cache, bool dma,
                        PHYSICAL_ADDRESS pa, const char *fn)
{
    PortAdapter *a = port_adapter_for_caller(ext, fn);
    MiscAdapter *m;

    if (!a || !base) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield(fn);
    misc_irql_at_most(DISPATCH_LEVEL, fn);
    m = misc_adapter(a);
    for (guint i = 0; i < m->blocks->len; i++) {
        MiscBlock *b = &g_array_index(m->blocks, MiscBlock, i);
        if (b->p != base) {
            continue;
        }
        if (b->bytes != n || b->cache != cache || b->dma != dma ||
            (dma && pa.QuadPart && (uint64_t)pa.QuadPart != b->gpa)) {
            verifier_report(VC_BAD_CALL, mp_current_request(),
                            "%s(%p, %zu bytes, cache type %d): the %s "
                            "block was allocated with %zu bytes, cache "
                            "type %d at 0x%" PRIx64,
                            fn, base, (size_t)n, (int)cache, block_kind(b),
                            (size_t)b->bytes, (int)b->cache, b->gpa);
        }
        TRACE(port_contig_free, "%s gpa=0x%" PRIx64, a->name, b->gpa);
        ram_free(b->p);
        g_array_remove_index(m->blocks, i);
        return STOR_STATUS_SUCCESS;
    }
    verifier_report(VC_BAD_CALL, mp_current_request(),
                    "%s(%p): not memory this adapter allocated (or freed "
                    "twice)",
                    fn, base);
    return STOR_STATUS_INVALID_PARAMETER;
}

ULONG NTAPI StorPortAllocateContiguousMemorySpecifyCacheNode(
    PVOID HwDeviceExtension, SIZE_T NumberOfBytes,
    PHYSICAL_ADDRESS LowestAcceptableAddress,
    PHYSICAL_ADDRESS HighestAcceptableAddress,
    PHYSICAL_ADDRESS BoundaryAddressMultiple, MEMORY_CACHING_TYPE CacheType,
    NODE_REQUIREMENT PreferredNode, PVOID *BufferPointer)
{
    /* One NUMA node: every preference is satisfied by node 0. */
    return alloc_block(HwDeviceExtension, NumberOfBytes,
                       LowestAcceptableAddress, HighestAcceptableAddress,
                       BoundaryAddressMultiple, CacheType, false, BufferPointer,
                       NULL,
                       "StorPortAllocateContiguousMemorySpecifyCacheNode");
}

ULONG NTAPI StorPortFreeContiguousMemorySpecifyCache(
    PVOID HwDeviceExtension, PVOID BaseAddress, SIZE_T NumberOfBytes,
    MEMORY_CACHING_TYPE CacheType)
{
    PHYSICAL_ADDRESS none = {.QuadPart = 0};

    return free_block(HwDeviceExtension, BaseAddress, NumberOfBytes, CacheType,
                      false, none, "StorPortFreeContiguousMemorySpecifyCache");
}

ULONG NTAPI StorPortAllocateDmaMemory(PVOID HwDeviceExtension,
                                      SIZE_T NumberOfBytes,
                                      PHYSICAL_ADDRESS LowestAcceptableAddress,
                                      PHYSICAL_ADDRESS HighestAcceptableAddress,
                                      PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                      MEMORY_CACHING_TYPE CacheType,
                                      NODE_REQUIREMENT PreferredNode,
                                      PVOID *BufferPointer,
                                      PPHYSICAL_ADDRESS PhysicalAddress)
{
    return alloc_block(HwDeviceExtension, NumberOfBytes,
                       LowestAcceptableAddress, HighestAcceptableAddress,
                       BoundaryAddressMultiple, CacheType, true, BufferPointer,
                       PhysicalAddress, "StorPortAllocateDmaMemory");
}

ULONG NTAPI StorPortFreeDmaMemory(PVOID HwDeviceExtension, PVOID BaseAddress,
                                  SIZE_T NumberOfBytes,
                                  MEMORY_CACHING_TYPE CacheType,
                                  PHYSICAL_ADDRESS PhysicalAddress)
{
    return free_block(HwDeviceExtension, BaseAddress, NumberOfBytes, CacheType,
                      true, PhysicalAddress, "StorPortFreeDmaMemory");
}

/* ---- scatter/gather lists ---- */

static void sg_exec_dpc(PortWork *w)
{
    g_autofree MiscSgExec *x = (MiscSgExec *)w;

    if (!x->m) {
        return; /* put back early, or the adapter went away */
    }
    g_ptr_array_remove(x->m->sg_pending, x);
    mp_sg_execute(x->m->a, x->fn, x->sgl, x->context);
}

ULONG NTAPI StorPortBuildScatterGatherList(
    PVOID HwDeviceExtension, PVOID Mdl, PVOID CurrentVa, ULONG Length,
    PPOST_SCATTER_GATHER_EXECUTE ExecutionRoutine, PVOID Context,
    BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer,
    ULONG ScatterGatherBufferLength)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortBuildScatterGatherList");
    PSTOR_SCATTER_GATHER_LIST sgl = ScatterGatherBuffer;
    ULONG need =
        sizeof(STOR_SCATTER_GATHER_LIST) + sizeof(STOR_SCATTER_GATHER_ELEMENT);
    MiscAdapter *m;
    MiscSgExec *x;
    uint64_t gpa = 0;
    int cpu = cpu_index();

    if (!a) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortBuildScatterGatherList");
    if (!misc_irql_at_most(DISPATCH_LEVEL, "StorPortBuildScatterGatherList")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    /* No MDLs here: CurrentVa and Length describe the buffer, which must
     * be guest RAM as every buffer a device may reach is. */
    if (!ExecutionRoutine || !Length || !ram_contains(CurrentVa, Length) ||
        !ScatterGatherBuffer || ((uintptr_t)ScatterGatherBuffer & 7) ||
        !ram_contains(ScatterGatherBuffer, ScatterGatherBufferLength)) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortBuildScatterGatherList(%p, %lu bytes, "
                        "list %p of %lu bytes): no execution routine, a "
                        "misaligned list or a buffer outside the memory "
                        "the port manages",
                        CurrentVa, (unsigned long)Length, ScatterGatherBuffer,
                        (unsigned long)ScatterGatherBufferLength);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (ScatterGatherBufferLength < need) {
        return STOR_STATUS_BUFFER_TOO_SMALL;
    }
    m = misc_adapter(a);
    if (g_ptr_array_find(m->sg_lists, sgl, NULL)) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortBuildScatterGatherList into list %p, "
                        "which was never put back",
                        (void *)sgl);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* Guest RAM is physically contiguous: one element, as a DMA adapter
     * merging adjacent pages would build it. */
    ram_gpa(CurrentVa, &gpa);
    sgl->NumberOfElements = 1;
    sgl->Reserved = 0;
    sgl->List[0].PhysicalAddress.QuadPart = (LONGLONG)gpa;
    sgl->List[0].Length = Length;
    sgl->List[0].Reserved = 0;
    verifier_map_range(gpa, Length);
    g_ptr_array_add(m->sg_lists, sgl);
    TRACE(port_sg_build, "%s gpa=0x%" PRIx64 " len=%lu %s", a->name, gpa,
          (unsigned long)Length, WriteToDevice ? "to-device" : "from-device");
    /* The execution routine runs later, as a DPC: the DDI tells the
     * miniport not to assume it ran when this returns. */
    x = g_new0(MiscSgExec, 1);
    x->work.fn = sg_exec_dpc;
    x->m = m;
    x->fn = ExecutionRoutine;
    x->sgl = sgl;
    x->context = Context;
    g_ptr_array_add(m->sg_pending, x);
    port_work_queue(&x->work, cpu < 0 ? 0 : (unsigned)cpu);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortPutScatterGatherList(
    PVOID HwDeviceExtension, PSTOR_SCATTER_GATHER_LIST ScatterGatherList,
    BOOLEAN WriteToDevice)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortPutScatterGatherList");
    MiscAdapter *m;

    if (!a) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortPutScatterGatherList");
    if (!misc_irql_at_most(DISPATCH_LEVEL, "StorPortPutScatterGatherList")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    m = misc_adapter(a);
    if (!g_ptr_array_remove(m->sg_lists, ScatterGatherList)) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortPutScatterGatherList(%p): not a list "
                        "StorPortBuildScatterGatherList built (or put "
                        "back twice)",
                        (void *)ScatterGatherList);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    for (guint i = 0; i < m->sg_pending->len; i++) {
        MiscSgExec *x = g_ptr_array_index(m->sg_pending, i);
        if (x->sgl == ScatterGatherList) {
            verifier_report(VC_BAD_CALL, mp_current_request(),
                            "StorPortPutScatterGatherList(%p) before its "
                            "execution routine ran",
                            (void *)ScatterGatherList);
            x->m = NULL;
            g_ptr_array_remove_index(m->sg_pending, i);
            break;
        }
    }
    return STOR_STATUS_SUCCESS;
}

/* ---- system addresses ---- */

ULONG NTAPI StorPortGetSystemAddress(PVOID HwDeviceExtension,
                                     PSCSI_REQUEST_BLOCK Srb,
                                     PVOID *SystemAddress)
{
    PortRequest *req = port_request_from_srb(Srb);

    if (!misc_irql_at_most(DISPATCH_LEVEL, "StorPortGetSystemAddress")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!SystemAddress) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *SystemAddress = NULL;
    if (!req) {
        verifier_report(VC_BAD_CALL, NULL,
                        "StorPortGetSystemAddress for SRB %p, which the "
                        "port never issued",
                        (void *)Srb);
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* Data buffers are already system addresses (guest RAM). */
    *SystemAddress = SrbGetDataBuffer(Srb);
    return *SystemAddress ? STOR_STATUS_SUCCESS : STOR_STATUS_INVALID_PARAMETER;
}

/* ---- MDLs, host memory buffers, dumps: not in this model ---- */

ULONG NTAPI StorPortAllocateMdl(PVOID HwDeviceExtension, PVOID BufferPointer,
                                ULONG NumberOfBytes, PVOID *Mdl)
{
    port_not_implemented("StorPortAllocateMdl");
    if (Mdl) {
        *Mdl = NULL;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortFreeMdl(PVOID HwDeviceExtension, PVOID Mdl)
{
    port_not_implemented("StorPortFreeMdl");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortBuildMdlForNonPagedPool(PVOID HwDeviceExtension, PVOID Mdl)
{
    port_not_implemented("StorPortBuildMdlForNonPagedPool");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetOriginalMdl(PVOID HwDeviceExtension,
                                   PSCSI_REQUEST_BLOCK Srb, PVOID *Mdl)
{
    port_not_implemented("StorPortGetOriginalMdl");
    if (Mdl) {
        *Mdl = NULL;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetDataInBufferMdl(PVOID HwDeviceExtension,
                                       PSCSI_REQUEST_BLOCK Srb, PVOID *Mdl)
{
    port_not_implemented("StorPortGetDataInBufferMdl");
    if (Mdl) {
        *Mdl = NULL;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetPfns(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
                            PVOID Mdl, PVOID *Pfns, ULONG *PfnCount,
                            ULONG *StartingOffset)
{
    port_not_implemented("StorPortGetPfns");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetDataInBufferSystemAddress(PVOID HwDeviceExtension,
                                                 PSCSI_REQUEST_BLOCK Srb,
                                                 PVOID *SystemAddress)
{
    /* The port never issues bidirectional requests. */
    port_not_implemented("StorPortGetDataInBufferSystemAddress");
    if (SystemAddress) {
        *SystemAddress = NULL;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetDataInBufferScatterGatherList(
    PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
    PSTOR_SCATTER_GATHER_LIST *SgList)
{
    port_not_implemented("StorPortGetDataInBufferScatterGatherList");
    if (SgList) {
        *SgList = NULL;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortAllocateHostMemoryBuffer(
    PVOID HwDeviceExtension, SIZE_T MinimumBytes, SIZE_T PreferredBytes,
    ULONGLONG UtilizationBytes, ULONG AlignmentBytes,
    PHYSICAL_ADDRESS LowestAcceptableAddress,
    PHYSICAL_ADDRESS HighestAcceptableAddress,
    PHYSICAL_ADDRESS BoundaryAddressMultiple,
    PACCESS_RANGE PhysicalAddressRanges, PULONG PhysicalAddressRangeCount)
{
    port_not_implemented("StorPortAllocateHostMemoryBuffer");
    if (PhysicalAddressRangeCount) {
        *PhysicalAddressRangeCount = 0;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortFreeHostMemoryBuffer(PVOID HwDeviceExtension,
                                         PACCESS_RANGE PhysicalAddressRanges,
                                         ULONG PhysicalAddressRangeCount)
{
    port_not_implemented("StorPortFreeHostMemoryBuffer");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortMarkDumpMemory(PVOID HwDeviceExtension, PVOID Address,
                                   ULONG_PTR Length, ULONG Flags)
{
    /* There is no crash-dump mode. */
    port_not_implemented("StorPortMarkDumpMemory");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

/* ---- teardown ---- */

void misc_memory_teardown(MiscAdapter *m)
{
    for (guint i = 0; i < m->blocks->len; i++) {
        MiscBlock *b = &g_array_index(m->blocks, MiscBlock, i);
        verifier_report(VC_POOL_LEAK, NULL,
                        "%s: %zu bytes of %s memory at guest-physical "
                        "0x%" PRIx64 " never freed",
                        m->name, (size_t)b->bytes, block_kind(b), b->gpa);
        ram_free(b->p);
    }
    g_array_set_size(m->blocks, 0);
    for (guint i = 0; i < m->sg_lists->len; i++) {
        verifier_report(VC_POOL_LEAK, NULL,
                        "%s: scatter/gather list %p never put back with "
                        "StorPortPutScatterGatherList",
                        m->name, g_ptr_array_index(m->sg_lists, i));
    }
    g_ptr_array_set_size(m->sg_lists, 0);
    for (guint i = 0; i < m->sg_pending->len; i++) {
        MiscSgExec *x = g_ptr_array_index(m->sg_pending, i);
        x->m = NULL; /* its DPC frees it */
    }
    g_ptr_array_set_size(m->sg_pending, 0);
}
