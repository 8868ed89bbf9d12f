/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM and its allocator.
 *
 * The allocator is first-fit over an address-ordered array of free extents,
 * with coalescing on free. First-fit in address order is deterministic (the
 * same calls give the same addresses in every run, which record/replay
 * relies on) and keeps long-lived allocations packed at the bottom. Live
 * allocations are kept in a hash table (start -> size, tag) so frees are
 * checked and leaks can be listed with their tags.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "hw/core/irqchip.h"
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/trace.h"

typedef struct FreeExtent {
    uint64_t start, size;
} FreeExtent;

typedef struct Allocation {
    uint64_t size;
    const char *tag;
} Allocation;

/* Where guest RAM is mapped when the address is free (ram_init). */
#define RAM_HOST_BASE 0x3f0000000000ULL

uint8_t *ram_base;
uint64_t ram_size;

static GArray *free_list; /* FreeExtent, sorted by start */
static GHashTable *live;  /* gpa -> Allocation* */
static RamStats stats;
static uint64_t n_dma_faults;

bool ram_init(uint64_t size, GError **errp)
{
    void *p;

    if (size < RAM_MIN_SIZE || size > RAM_MAX_SIZE || size % GUEST_PAGE_SIZE) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "guest RAM size %" G_GUINT64_FORMAT " must be a multiple "
                    "of 4K between 4M and 3G",
                    size);
        return false;
    }
    ram_fini();
    /* The same host address in every run: guest code may store pointers
     * into RAM where a device reads them (a miniport's request tag is
     * often its SRB extension's address), and record/replay needs those
     * bytes to be the same in the replay. Elsewhere if that is taken. */
    p = mmap((void *)RAM_HOST_BASE, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
             -1, 0);
    if (p != MAP_FAILED && p != (void *)RAM_HOST_BASE) {
        munmap(p, size); /* a kernel that took the address as a hint */
        p = MAP_FAILED;
    }
    if (p == MAP_FAILED) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    }
    if (p == MAP_FAILED) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot map %" G_GUINT64_FORMAT " bytes of guest RAM: %s",
                    size, g_strerror(errno));
        return false;
    }
    ram_base = p;
    ram_size = size;
    free_list = g_array_new(FALSE, FALSE, sizeof(FreeExtent));
    FreeExtent all = {RAM_RESERVED, size - RAM_RESERVED};
    g_array_append_val(free_list, all);
    live = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    memset(&stats, 0, sizeof(stats));
    n_dma_faults = 0;
    return true;
}

void ram_fini(void)
{
    if (ram_base) {
        munmap(ram_base, ram_size);
        ram_base = NULL;
        ram_size = 0;
    }
    if (free_list) {
        g_array_free(free_list, TRUE);
        free_list = NULL;
    }
    if (live) {
        g_hash_table_destroy(live);
        live = NULL;
    }
}

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* First address >= @start in an extent that fits the request, or 0. */
static uint64_t fit(const FreeExtent *fe, uint64_t size, uint64_t align,
                    uint64_t boundary)
{
    uint64_t a = align_up(fe->start, align);
    uint64_t end = fe->start + fe->size;

    if (boundary && size > boundary) {
        return 0;
    }
    while (a < end && size <= end - a) {
        if (!boundary || (a / boundary) == ((a + size - 1) / boundary)) {
            return a;
        }
        /* Crossing: move to the next boundary, which is aligned enough. */
        a = align_up(a + 1, boundary);
        a = align_up(a, align);
    }
    return 0;
}

void *ram_alloc(uint64_t size, uint64_t align, uint64_t boundary,
                const char *tag)
{
    g_assert(ram_base);
    if (align < 16) {
        align = 16;
    }
    g_assert((align & (align - 1)) == 0);
    g_assert(boundary == 0 || (boundary & (boundary - 1)) == 0);
    if (size == 0) {
        size = 1;
    }
    size = align_up(size, 16);

    for (guint i = 0; i < free_list->len; i++) {
        FreeExtent *fe = &g_array_index(free_list, FreeExtent, i);
        uint64_t a = fit(fe, size, align, boundary);
        if (!a) {
            continue;
        }
        uint64_t fe_end = fe->start + fe->size;
        uint64_t head = a - fe->start;
        uint64_t tail = fe_end - (a + size);

        if (head && tail) {
            FreeExtent t = {a + size, tail};
            fe->size = head;
            g_array_insert_val(free_list, i + 1, t);
        } else if (head) {
            fe->size = head;
        } else if (tail) {
            fe->start = a + size;
            fe->size = tail;
        } else {
            g_array_remove_index(free_list, i);
        }

        uint64_t *key = g_new(uint64_t, 1);
        Allocation *al = g_new(Allocation, 1);
        *key = a;
        al->size = size;
        al->tag = tag;
        g_hash_table_insert(live, key, al);
        stats.bytes_in_use += size;
        stats.allocations_live++;
        stats.allocations_total++;
        memset(ram_base + a, 0, size);
        TRACE(ram_alloc,
              "gpa=0x%" G_GINT64_MODIFIER "x size=%" G_GUINT64_FORMAT " tag=%s",
              a, size, tag ? tag : "-");
        return ram_base + a;
    }
    stats.failures++;
    TRACE(ram_alloc_fail,
          "size=%" G_GUINT64_FORMAT " align=%" G_GUINT64_FORMAT " tag=%s", size,
          align, tag ? tag : "-");
    return NULL;
}

static Allocation *lookup(const void *p, uint64_t *gpa)
{
    if (!p || !ram_gpa(p, gpa)) {
        return NULL;
    }
    return g_hash_table_lookup(live, gpa);
}

void ram_free(void *p)
{
    uint64_t gpa;
    Allocation *al = lookup(p, &gpa);
    FreeExtent fe;
    guint lo = 0, hi;

    if (!al) {
        /* A bad free is the guest's bug; the port's verifier names it. */
        guest_error("ram_free: %p is not a live guest allocation", p);
        return;
    }
    fe.start = gpa;
    fe.size = al->size;
    stats.bytes_in_use -= al->size;
    stats.allocations_live--;
    g_hash_table_remove(live, &gpa);

    /* Binary search for the insertion point, then merge neighbours. */
    hi = free_list->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        if (g_array_index(free_list, FreeExtent, mid).start < fe.start) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    g_array_insert_val(free_list, lo, fe);
    if (lo + 1 < free_list->len) {
        FreeExtent *a = &g_array_index(free_list, FreeExtent, lo);
        FreeExtent *b = &g_array_index(free_list, FreeExtent, lo + 1);
        if (a->start + a->size == b->start) {
            a->size += b->size;
            g_array_remove_index(free_list, lo + 1);
        }
    }
    if (lo > 0) {
        FreeExtent *a = &g_array_index(free_list, FreeExtent, lo - 1);
        FreeExtent *b = &g_array_index(free_list, FreeExtent, lo);
        if (a->start + a->size == b->start) {
            a->size += b->size;
            g_array_remove_index(free_list, lo);
        }
    }
}

uint64_t ram_alloc_size(const void *p)
{
    uint64_t gpa;
    Allocation *al = lookup(p, &gpa);
    return al ? al->size : 0;
}

const char *ram_alloc_tag(const void *p)
{
    uint64_t gpa;
    Allocation *al = lookup(p, &gpa);
    return al ? al->tag : NULL;
}

void ram_stats(RamStats *st)
{
    *st = stats;
    st->largest_free = 0;
    for (guint i = 0; free_list && i < free_list->len; i++) {
        FreeExtent *fe = &g_array_index(free_list, FreeExtent, i);
        st->largest_free = MAX(st->largest_free, fe->size);
    }
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void ram_foreach_allocation(void (*fn)(uint64_t gpa, uint64_t size,
                                       const char *tag, void *opaque),
                            void *opaque)
{
    GList *keys = g_list_sort(g_hash_table_get_keys(live), cmp_u64);

    for (GList *l = keys; l; l = l->next) {
        Allocation *al = g_hash_table_lookup(live, l->data);
        fn(*(uint64_t *)l->data, al->size, al->tag, opaque);
    }
    g_list_free(keys);
}

/* With a hook watching, or outside RAM: the crossing goes through
 * bnd_before/after (the inline dma_read/dma_write in ram.h copy the rest). */
bool dma_access_slow(BndKind kind, uint64_t gpa, void *buf, uint64_t len)
{
    BndAccess a = {
        .kind = kind,
        .cpu = -1,
        .addr = gpa,
        .len = len,
        .data = buf,
    };
    void *host = ram_ptr(gpa, len);

    if (bnd_before(&a)) {
        /* A hook took the access over (e.g. an injected DMA error). */
        bnd_after(&a);
        return a.ok;
    }
    if (host) {
        if (kind == BND_DMA_READ) {
            memcpy(buf, host, len);
        } else {
            memcpy(host, buf, len);
        }
        a.ok = true;
    } else if (kind == BND_DMA_WRITE && len == 4 && gpa >= MSI_ADDR_BASE &&
               gpa - MSI_ADDR_BASE < MSI_ADDR_SIZE) {
        uint32_t data;
        memcpy(&data, buf, 4);
        a.ok = irqchip_msi(gpa, data);
    } else {
        n_dma_faults++;
        guest_error("DMA %s outside guest RAM: gpa=0x%" G_GINT64_MODIFIER
                    "x len=%" G_GUINT64_FORMAT,
                    kind == BND_DMA_READ ? "read" : "write", gpa, len);
        a.ok = false;
    }
    bnd_after(&a);
    return a.ok;
}

uint64_t dma_faults(void)
{
    return n_dma_faults;
}
