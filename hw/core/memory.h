/* SPDX-License-Identifier: MIT */
/*
 * Guest-physical address spaces for device registers: memory (MMIO, BARs
 * in the PCI window) and port I/O. Regions are dispatched through const ops
 * tables with the access sizes they allow. An access to an offset the
 * region does not implement is the region's to trace as a guest error;
 * an access that hits no region reads all ones (PCI master abort), is
 * dropped on write, and is counted as a guest error.
 *
 * Guest code never dereferences register addresses: the host addresses
 * that StorPortGetDeviceBase hands out lie in reserved PROT_NONE windows
 * (one for MMIO, one for port I/O); the accessors decode the address alone
 * (mmio_window_decode), and a stray dereference faults loudly.
 */
#ifndef HW_CORE_MEMORY_H
#define HW_CORE_MEMORY_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* Guest-physical layout above RAM. */
#define PCI_MMIO_BASE  0xE0000000ULL
#define PCI_MMIO_SIZE  0x1EC00000ULL /* up to 0xFEC00000 */
#define MSI_ADDR_BASE  0xFEE00000ULL
#define MSI_ADDR_SIZE  0x00100000ULL
#define PIO_SPACE_SIZE 0x10000ULL
#define PCI_PIO_BASE   0x1000ULL

typedef struct MemoryRegionOps {
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
    /* Allowed access sizes in bytes (1, 2, 4, 8); 0 means 1 and 8. */
    unsigned min_access_size;
    unsigned max_access_size;
    /* Accesses need natural alignment unless set. */
    bool unaligned;
    /*
     * Containers only: the region that serves an access at @offset, with
     * its size and alignment checked as for a mapped region, and in *@rel
     * the offset there; NULL when the access is refused (reported by the
     * container). The address spaces call it instead of read/write and
     * reuse its answer until the layout changes.
     */
    struct MemoryRegion *(*route)(void *opaque, uint64_t offset, unsigned size,
                                  bool write, uint64_t *rel);
} MemoryRegionOps;

typedef struct AddressSpace AddressSpace;

typedef struct MemoryRegion {
    const char *name;
    const MemoryRegionOps *ops;
    void *opaque;
    uint64_t size;
    uint64_t addr;    /* base while mapped */
    AddressSpace *as; /* NULL while unmapped */
    uint64_t guest_errors;
} MemoryRegion;

extern AddressSpace *as_memory;
extern AddressSpace *as_io;

void memory_init(void);
void memory_fini(void);

void memory_region_init(MemoryRegion *mr, const char *name,
                        const MemoryRegionOps *ops, void *opaque,
                        uint64_t size);
/* Map at @addr; overlapping an existing region is an internal error. */
bool memory_region_map(MemoryRegion *mr, AddressSpace *as, uint64_t addr,
                       GError **errp);
void memory_region_unmap(MemoryRegion *mr);
/* What some address decodes to changed outside memory.c (a container's
 * children): the address spaces forget the routes they remember. */
void memory_routes_changed(void);

/*
 * Dispatch one access (the boundary layer calls these; devices and guest
 * code go through the boundary). @ok is cleared when no region answered or
 * the size/alignment was refused; the access is then a counted guest error.
 */
uint64_t address_space_read(AddressSpace *as, uint64_t addr, unsigned size,
                            bool *ok);
void address_space_write(AddressSpace *as, uint64_t addr, uint64_t value,
                         unsigned size, bool *ok);
MemoryRegion *address_space_lookup(AddressSpace *as, uint64_t addr);
uint64_t memory_guest_errors(void);

/* Host-side register windows for guest code. */
void *mmio_window_ptr(uint64_t gpa);
void *pio_window_ptr(uint16_t port);
/* Decode a window pointer: true with *gpa and *is_io set, else false. */
bool mmio_window_decode(const volatile void *p, uint64_t *gpa, bool *is_io);

/* Count a guest error with a message (traced as "guest_error"). */
void guest_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
uint64_t guest_errors_total(void);

#endif
