/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: one host mapping holding every byte a device may reach (pool,
 * extensions, uncached extension, data buffers, SG lists), so guest-physical
 * addresses are offsets and translation is arithmetic. The allocator hands
 * out guest memory for the port's pool and DMA buffers. Device DMA goes
 * through dma_read()/dma_write(), which bounds-check every access and
 * report a violation instead of touching host memory outside RAM.
 *
 * Guest-physical layout: RAM at [0, ram_size); the first RAM_RESERVED
 * bytes are never allocated (physical address 0 means "none" to drivers).
 * PCI MMIO window and the MSI address range live above RAM (memory.h).
 */
#ifndef HW_CORE_RAM_H
#define HW_CORE_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "system/boundary.h"

#define GUEST_PAGE_SIZE  4096ULL
#define RAM_RESERVED     (64 * 1024ULL)
#define RAM_MIN_SIZE     (4ULL << 20)
#define RAM_MAX_SIZE     (3ULL << 30) /* below the PCI hole */
#define RAM_DEFAULT_SIZE (256ULL << 20)

/* bnd_dma_quiet_covers() reads a quiet map's byte for any granule of RAM. */
G_STATIC_ASSERT(RAM_MAX_SIZE >> BND_QUIET_SHIFT <= BND_QUIET_ROOM);

extern uint8_t *ram_base;
extern uint64_t ram_size;

bool ram_init(uint64_t size, GError **errp);
void ram_fini(void);

/* Does [gpa, gpa+len) lie wholly in RAM? ram_ptr()'s test, for callers
 * that then take ram_base + @gpa themselves: a test of the pointer for
 * NULL, which the compiler cannot drop, is not made. */
static inline bool ram_range_ok(uint64_t gpa, uint64_t len)
{
    return gpa < ram_size && len <= ram_size - gpa;
}

/* Host pointer for [gpa, gpa+len) if it lies wholly in RAM, else NULL. */
static inline void *ram_ptr(uint64_t gpa, uint64_t len)
{
    if (!ram_range_ok(gpa, len)) {
        return NULL;
    }
    return ram_base + gpa;
}

/* Guest-physical address of a host pointer into RAM; false if outside. */
static inline bool ram_gpa(const void *p, uint64_t *gpa)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)ram_base;

    /* Below RAM, a - b wraps to far more than any RAM size. */
    if (a - b >= ram_size) {
        return false;
    }
    *gpa = a - b;
    return true;
}

static inline bool ram_contains(const void *p, size_t len)
{
    uint64_t gpa;
    return ram_gpa(p, &gpa) && len <= ram_size - gpa;
}

/*
 * Allocate @size bytes aligned to @align (power of two, >= 16). With
 * @boundary non-zero (power of two) the block does not cross a multiple
 * of it (e.g. GUEST_PAGE_SIZE for "within one page"). Contents are zeroed.
 * Returns NULL when RAM is exhausted. Deterministic: same sequence of
 * calls, same addresses.
 */
void *ram_alloc(uint64_t size, uint64_t align, uint64_t boundary,
                const char *tag);
void ram_free(void *p);
/* Size of a live allocation (0 if @p is not the start of one). */
uint64_t ram_alloc_size(const void *p);
const char *ram_alloc_tag(const void *p);

typedef struct RamStats {
    uint64_t bytes_in_use;
    uint64_t allocations_live;
    uint64_t allocations_total;
    uint64_t failures;
    uint64_t largest_free;
} RamStats;
void ram_stats(RamStats *st);
/* Call @fn for every live allocation, in address order (leak reports). */
void ram_foreach_allocation(void (*fn)(uint64_t gpa, uint64_t size,
                                       const char *tag, void *opaque),
                            void *opaque);

/*
 * Device DMA. The access goes through the boundary layer (recorded,
 * fault-injectable). A range outside RAM is not performed: it is reported
 * as a DMA fault, counted, and false is returned (the device then fails the
 * request with its defined error status). A write to the MSI window is an
 * interrupt message (see memory.h).
 */
bool dma_access_slow(BndKind kind, uint64_t gpa, void *buf, uint64_t len);

/*
 * The boundary's side of a DMA the device performed wholly in RAM, no
 * before-hook wanting its kind: counted, and shown to the after-hooks
 * (@data the bytes moved) unless the quiet map settles it.
 */
static inline __attribute__((always_inline)) void
dma_done_inline(BndKind kind, uint64_t gpa, const void *data, uint64_t len)
{
    bnd_counts[kind]++;
    if ((bnd_after_kinds & BND_BIT(kind)) && !bnd_dma_quiet_covers(gpa, len)) {
        bnd_after_dma(kind, gpa, data, len);
    }
}

/*
 * Inline so that with no hook watching DMA a device's small fixed-size
 * accesses (ring indices, descriptors, used elements) compile to a bounds
 * check and a load or store, and with only after-hooks watching (the
 * verifier, the recorder) to that and one call that shows the finished
 * crossing to them. A before-hook (which may take the access over) or a
 * range outside RAM takes dma_access_slow().
 */
static inline __attribute__((always_inline)) bool
dma_inline(BndKind kind, uint64_t gpa, void *buf, uint64_t len)
{
    if (G_LIKELY(!(bnd_before_kinds & BND_BIT(kind)) &&
                 ram_range_ok(gpa, len))) {
        void *host = ram_base + gpa;

        if (kind == BND_DMA_READ) {
            memcpy(buf, host, len);
        } else {
            memcpy(host, buf, len);
        }
        dma_done_inline(kind, gpa, buf, len);
        return true;
    }
    return dma_access_slow(kind, gpa, buf, len);
}

static inline bool dma_read(uint64_t gpa, void *buf, uint64_t len)
{
    return dma_inline(BND_DMA_READ, gpa, buf, len);
}

static inline bool dma_write(uint64_t gpa, const void *buf, uint64_t len)
{
    return dma_inline(BND_DMA_WRITE, gpa, (void *)buf, len);
}

uint64_t dma_faults(void);

#endif
