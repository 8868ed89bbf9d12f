/* SPDX-License-Identifier: MIT */
/*
 * Register address spaces and the host windows that stand for them.
 *
 * Each AddressSpace keeps its mapped regions sorted by base; lookups are a
 * binary search behind a one-entry cache (a driver talks to one device's
 * registers at a time). Sizes and alignment are checked here, once, for
 * every region, so device handlers see only accesses their ops allow.
 */
#include <stdarg.h>
#include <sys/mman.h>
#include "hw/core/memory.h"
#include "system/error.h"
#include "system/trace.h"

/*
 * Where the last accepted access of one direction went: the region that
 * served it (a container's child, past the routing) and the offset there.
 * Everything checked on the way depends only on the address, the size and
 * the layout, so the same access goes straight there while the layout
 * generation is the one it was found under.
 */
typedef struct RouteCache {
    uint64_t gen; /* 0: empty */
    uint64_t addr;
    unsigned size;
    MemoryRegion *mr;
    uint64_t rel;
} RouteCache;

struct AddressSpace {
    const char *name;
    GPtrArray *regions; /* MemoryRegion*, sorted by addr */
    MemoryRegion *last;
    uint64_t limit;
    RouteCache rd, wr;
};

AddressSpace *as_memory;
AddressSpace *as_io;

static uint8_t *mmio_window; /* PROT_NONE stand-in for the PCI window */
static uint8_t *pio_window;  /* PROT_NONE stand-in for port I/O */
static uint64_t n_guest_errors;
/* Layout generation: bumped by anything that changes what an address
 * decodes to, which empties every RouteCache at once. */
static uint64_t route_gen = 1;

void memory_routes_changed(void)
{
    route_gen++;
}

static AddressSpace *as_new(const char *name, uint64_t limit)
{
    AddressSpace *as = g_new0(AddressSpace, 1);
    as->name = name;
    as->regions = g_ptr_array_new();
    as->limit = limit;
    return as;
}

static void as_free(AddressSpace *as)
{
    if (!as) {
        return;
    }
    for (guint i = 0; i < as->regions->len; i++) {
        MemoryRegion *mr = g_ptr_array_index(as->regions, i);
        mr->as = NULL;
    }
    g_ptr_array_free(as->regions, TRUE);
    g_free(as);
}

static void *reserve(uint64_t size)
{
    void *p = mmap(NULL, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        g_error("memory: cannot reserve a %" G_GUINT64_FORMAT
                "-byte register window",
                size);
    }
    return p;
}

void memory_init(void)
{
    memory_fini();
    as_memory = as_new("memory", UINT64_MAX);
    as_io = as_new("io", PIO_SPACE_SIZE);
    mmio_window = reserve(PCI_MMIO_SIZE);
    pio_window = reserve(PIO_SPACE_SIZE);
    n_guest_errors = 0;
}

void memory_fini(void)
{
    as_free(as_memory);
    as_free(as_io);
    as_memory = as_io = NULL;
    if (mmio_window) {
        munmap(mmio_window, PCI_MMIO_SIZE);
        munmap(pio_window, PIO_SPACE_SIZE);
        mmio_window = pio_window = NULL;
    }
}

void memory_region_init(MemoryRegion *mr, const char *name,
                        const MemoryRegionOps *ops, void *opaque, uint64_t size)
{
    mr->name = name;
    mr->ops = ops;
    mr->opaque = opaque;
    mr->size = size;
    mr->addr = 0;
    mr->as = NULL;
    mr->guest_errors = 0;
    memory_routes_changed();
}

bool memory_region_map(MemoryRegion *mr, AddressSpace *as, uint64_t addr,
                       GError **errp)
{
    guint i;

    g_assert(mr->as == NULL);
    if (mr->size == 0 || addr > as->limit - mr->size + 1 ||
        addr + mr->size < addr) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: region '%s' at 0x%" G_GINT64_MODIFIER "x does not "
                    "fit the address space",
                    as->name, mr->name, addr);
        return false;
    }
    for (i = 0; i < as->regions->len; i++) {
        MemoryRegion *o = g_ptr_array_index(as->regions, i);
        if (addr < o->addr + o->size && o->addr < addr + mr->size) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_BUSY,
                        "%s: region '%s' at 0x%" G_GINT64_MODIFIER "x overlaps "
                        "'%s'",
                        as->name, mr->name, addr, o->name);
            return false;
        }
        if (o->addr > addr) {
            break;
        }
    }
    mr->addr = addr;
    mr->as = as;
    g_ptr_array_insert(as->regions, (gint)i, mr);
    memory_routes_changed();
    TRACE(memory_map,
          "%s %s at 0x%" G_GINT64_MODIFIER "x size 0x%" G_GINT64_MODIFIER "x",
          as->name, mr->name, addr, mr->size);
    return true;
}

void memory_region_unmap(MemoryRegion *mr)
{
    AddressSpace *as = mr->as;

    if (!as) {
        return;
    }
    g_ptr_array_remove(as->regions, mr);
    if (as->last == mr) {
        as->last = NULL;
    }
    mr->as = NULL;
    memory_routes_changed();
    TRACE(memory_unmap, "%s %s", as->name, mr->name);
}

MemoryRegion *address_space_lookup(AddressSpace *as, uint64_t addr)
{
    MemoryRegion *mr = as->last;
    guint lo = 0, hi = as->regions->len;

    if (mr && addr >= mr->addr && addr - mr->addr < mr->size) {
        return mr;
    }
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        mr = g_ptr_array_index(as->regions, mid);
        if (addr < mr->addr) {
            hi = mid;
        } else if (addr - mr->addr >= mr->size) {
            lo = mid + 1;
        } else {
            as->last = mr;
            return mr;
        }
    }
    return NULL;
}

/* The region and offset for an access, or NULL with the error counted. */
static MemoryRegion *access_check(AddressSpace *as, uint64_t addr,
                                  unsigned size, bool write)
{
    MemoryRegion *mr = address_space_lookup(as, addr);
    unsigned min, max;

    if (!mr) {
        guest_error("%s %s of %u bytes at 0x%" G_GINT64_MODIFIER "x hits no "
                    "device",
                    as->name, write ? "write" : "read", size, addr);
        return NULL;
    }
    min = mr->ops->min_access_size ? mr->ops->min_access_size : 1;
    max = mr->ops->max_access_size ? mr->ops->max_access_size : 8;
    if ((size != 1 && size != 2 && size != 4 && size != 8) || size < min ||
        size > max || (!mr->ops->unaligned && (addr & (size - 1))) ||
        addr - mr->addr > mr->size - size) {
        mr->guest_errors++;
        guest_error("%s: %s %s of %u bytes at offset 0x%" G_GINT64_MODIFIER
                    "x refused (allowed %u..%u bytes%s)",
                    mr->name, as->name, write ? "write" : "read", size,
                    addr - mr->addr, min, max,
                    mr->ops->unaligned ? "" : ", aligned");
        return NULL;
    }
    return mr;
}

/*
 * The region (past a container's routing) and offset serving an accepted
 * access, from @c or found and remembered there. NULL with *@ok false when
 * the address space refused it; NULL with *@ok true when the region took
 * it but its container refused it (the container reported that).
 */
static inline MemoryRegion *access_route(AddressSpace *as, RouteCache *c,
                                         uint64_t addr, unsigned size,
                                         bool write, uint64_t *rel, bool *ok)
{
    MemoryRegion *mr;

    if (G_LIKELY(c->gen == route_gen && c->addr == addr && c->size == size)) {
        *ok = true;
        *rel = c->rel;
        return c->mr;
    }
    mr = access_check(as, addr, size, write);
    if (!mr || (write ? !mr->ops->write : !mr->ops->read)) {
        *ok = false;
        return NULL;
    }
    *ok = true;
    *rel = addr - mr->addr;
    if (mr->ops->route) {
        mr = mr->ops->route(mr->opaque, *rel, size, write, rel);
        if (!mr) {
            return NULL;
        }
    }
    c->gen = route_gen;
    c->addr = addr;
    c->size = size;
    c->mr = mr;
    c->rel = *rel;
    return mr;
}

uint64_t address_space_read(AddressSpace *as, uint64_t addr, unsigned size,
                            bool *ok)
{
    uint64_t rel;
    MemoryRegion *mr = access_route(as, &as->rd, addr, size, false, &rel, ok);

    if (!mr) {
        if (*ok) {
            return 0; /* refused by a container */
        }
        return size >= 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1;
    }
    return mr->ops->read(mr->opaque, rel, size);
}

void address_space_write(AddressSpace *as, uint64_t addr, uint64_t value,
                         unsigned size, bool *ok)
{
    uint64_t rel;
    MemoryRegion *mr = access_route(as, &as->wr, addr, size, true, &rel, ok);

    if (!mr) {
        return;
    }
    if (size < 8) {
        value &= (1ULL << (size * 8)) - 1;
    }
    mr->ops->write(mr->opaque, rel, value, size);
}

void *mmio_window_ptr(uint64_t gpa)
{
    if (!mmio_window || gpa < PCI_MMIO_BASE ||
        gpa - PCI_MMIO_BASE >= PCI_MMIO_SIZE) {
        return NULL;
    }
    return mmio_window + (gpa - PCI_MMIO_BASE);
}

void *pio_window_ptr(uint16_t port)
{
    return pio_window ? pio_window + port : NULL;
}

bool mmio_window_decode(const volatile void *p, uint64_t *gpa, bool *is_io)
{
    uintptr_t a = (uintptr_t)p;

    if (mmio_window && a >= (uintptr_t)mmio_window &&
        a - (uintptr_t)mmio_window < PCI_MMIO_SIZE) {
        *gpa = PCI_MMIO_BASE + (a - (uintptr_t)mmio_window);
        *is_io = false;
        return true;
    }
    if (pio_window && a >= (uintptr_t)pio_window &&
        a - (uintptr_t)pio_window < PIO_SPACE_SIZE) {
        *gpa = a - (uintptr_t)pio_window;
        *is_io = true;
        return true;
    }
    return false;
}

void guest_error(const char *fmt, ...)
{
    va_list ap;

    n_guest_errors++;
    if (TRACE_ON(guest_error)) {
        g_autofree char *msg = NULL;
        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        trace_emit("guest_error", "%s", msg);
    }
}

uint64_t guest_errors_total(void)
{
    return n_guest_errors;
}

uint64_t memory_guest_errors(void)
{
    return n_guest_errors;
}
