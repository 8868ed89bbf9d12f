/* SPDX-License-Identifier: MIT */
/*
 * Register address spaces: dispatch, access-size and alignment checks,
 * unmapped accesses, overlap refusal, the host windows, and the boundary
 * accessors (virtual-time cost, hooks answering instead of the device).
 */
#include <string.h>
#include <glib.h>
#include "hw/core/memory.h"
#include "system/boundary.h"
#include "system/event.h"

typedef struct Regs {
    uint32_t r[4];
    unsigned reads, writes;
} Regs;

static uint64_t regs_read(void *opaque, uint64_t off, unsigned size)
{
    Regs *s = opaque;
    s->reads++;
    return s->r[off / 4];
}

static void regs_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    Regs *s = opaque;
    s->writes++;
    s->r[off / 4] = (uint32_t)v;
}

static const MemoryRegionOps regs_ops = {
    .read = regs_read,
    .write = regs_write,
    .min_access_size = 4,
    .max_access_size = 4,
};

static void test_dispatch_and_checks(void)
{
    static const struct {
        uint64_t off;
        unsigned size;
        bool ok;
    } tab[] = {
        {0, 4, true},   {12, 4, true},  {2, 4, false},
        {0, 2, false},  {0, 8, false},  {0, 1, false},
        {16, 4, false}, {14, 4, false}, {0, 3, false},
    };
    Regs s = {.r = {1, 2, 3, 4}};
    MemoryRegion mr;
    bool ok;

    memory_init();
    memory_region_init(&mr, "regs", &regs_ops, &s, 16);
    g_assert_true(memory_region_map(&mr, as_memory, PCI_MMIO_BASE, NULL));
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        uint64_t before = guest_errors_total();
        uint64_t v = address_space_read(as_memory, PCI_MMIO_BASE + tab[i].off,
                                        tab[i].size, &ok);
        g_assert_cmpint(ok, ==, tab[i].ok);
        if (ok) {
            g_assert_cmpuint(v, ==, tab[i].off / 4 + 1);
        } else {
            g_assert_cmpuint(guest_errors_total(), ==, before + 1);
        }
    }
    address_space_write(as_memory, PCI_MMIO_BASE + 8, 0xdeadbeef, 4, &ok);
    g_assert_true(ok);
    g_assert_cmpuint(s.r[2], ==, 0xdeadbeef);
    address_space_write(as_memory, PCI_MMIO_BASE + 9, 0, 4, &ok);
    g_assert_false(ok);
    g_assert_cmpuint(s.writes, ==, 1);
    memory_fini();
}

static void test_unmapped_reads_all_ones(void)
{
    bool ok;

    memory_init();
    g_assert_cmphex(address_space_read(as_memory, 0x1234000, 4, &ok), ==,
                    0xffffffff);
    g_assert_false(ok);
    g_assert_cmphex(address_space_read(as_io, 0x80, 1, &ok), ==, 0xff);
    g_assert_false(ok);
    memory_fini();
}

static void test_overlap_refused_and_unmap(void)
{
    Regs s = {0};
    MemoryRegion a, b;
    g_autoptr(GError) err = NULL;
    bool ok;

    memory_init();
    memory_region_init(&a, "a", &regs_ops, &s, 16);
    memory_region_init(&b, "b", &regs_ops, &s, 16);
    g_assert_true(memory_region_map(&a, as_memory, 0x10000000, NULL));
    g_assert_false(memory_region_map(&b, as_memory, 0x10000008, &err));
    g_assert_nonnull(strstr(err->message, "overlaps 'a'"));
    g_assert_true(memory_region_map(&b, as_memory, 0x10000010, NULL));
    g_assert_true(address_space_lookup(as_memory, 0x1000001c) == &b);
    memory_region_unmap(&a);
    g_assert_null(address_space_lookup(as_memory, 0x10000000));
    address_space_read(as_memory, 0x10000000, 4, &ok);
    g_assert_false(ok);
    /* port I/O space ends at 64K */
    g_clear_error(&err);
    g_assert_false(memory_region_map(&a, as_io, 0xfff8, &err));
    memory_fini();
}

static void test_windows_decode(void)
{
    uint64_t gpa;
    bool io;
    int local;

    memory_init();
    void *p = mmio_window_ptr(PCI_MMIO_BASE + 0x1000);
    g_assert_nonnull(p);
    g_assert_true(mmio_window_decode(p, &gpa, &io));
    g_assert_cmphex(gpa, ==, PCI_MMIO_BASE + 0x1000);
    g_assert_false(io);
    g_assert_true(mmio_window_decode(pio_window_ptr(0xcf8), &gpa, &io));
    g_assert_cmphex(gpa, ==, 0xcf8);
    g_assert_true(io);
    g_assert_false(mmio_window_decode(&local, &gpa, &io));
    g_assert_null(mmio_window_ptr(0x1000));
    memory_fini();
}

static bool answer_reads(BndAccess *a, void *opaque)
{
    if (a->kind == BND_MMIO_READ) {
        a->value = 0x77;
        return true;
    }
    return false;
}

static void test_boundary_accessors(void)
{
    Regs s = {.r = {5}};
    MemoryRegion mr;
    BndHook hook = {.name = "answer", .before = answer_reads};
    uint64_t t0;

    event_loop_init();
    memory_init();
    bnd_hooks_clear();
    memory_region_init(&mr, "regs", &regs_ops, &s, 16);
    g_assert_true(memory_region_map(&mr, as_memory, PCI_MMIO_BASE, NULL));
    t0 = vclock_now();
    g_assert_cmpuint(bnd_mmio_read(PCI_MMIO_BASE, 4), ==, 5);
    bnd_mmio_write(PCI_MMIO_BASE + 4, 9, 4);
    g_assert_cmpuint(vclock_now() - t0, ==,
                     BND_MMIO_READ_NS + BND_MMIO_WRITE_NS);
    g_assert_cmpuint(bnd_counts[BND_MMIO_READ], ==, 1);
    g_assert_cmpuint(bnd_counts[BND_MMIO_WRITE], ==, 1);
    g_assert_true(bnd_hook_add(&hook));
    g_assert_cmpuint(bnd_mmio_read(PCI_MMIO_BASE, 4), ==, 0x77);
    g_assert_cmpuint(s.reads, ==, 1); /* the device was not asked */
    bnd_hook_remove(&hook);
    g_assert_cmpuint(bnd_nhooks, ==, 0);
    g_assert_cmpuint(bnd_mmio_read(PCI_MMIO_BASE + 4, 4), ==, 9);
    g_assert_cmpuint(bnd_seq(), ==, 4);
    bnd_hooks_clear();
    memory_fini();
    event_loop_fini();
}

/* A hook declaring the kinds it wants sees only those; the others do not
 * reach any hook (nor count as watched), while the counters still move. */
static unsigned seen[BND_KIND_COUNT];

static void count_kind(const BndAccess *a, void *opaque)
{
    (void)opaque;
    seen[a->kind]++;
}

static void test_boundary_hook_kinds(void)
{
    Regs s = {.r = {5}};
    MemoryRegion mr;
    BndHook writes = {
        .name = "writes",
        .kinds = BND_BIT(BND_MMIO_WRITE),
        .after = count_kind,
    };
    BndHook answer = {
        .name = "answer",
        .kinds = BND_BIT(BND_MMIO_WRITE), /* reads are not its business */
        .before = answer_reads,
    };

    event_loop_init();
    memory_init();
    bnd_hooks_clear();
    memset(seen, 0, sizeof(seen));
    memory_region_init(&mr, "regs", &regs_ops, &s, 16);
    g_assert_true(memory_region_map(&mr, as_memory, PCI_MMIO_BASE, NULL));
    g_assert_true(bnd_hook_add(&writes));
    g_assert_true(bnd_watched(BND_MMIO_WRITE));
    g_assert_false(bnd_watched(BND_MMIO_READ));
    g_assert_false(bnd_watched(BND_DMA_READ));
    g_assert_cmpuint(bnd_mmio_read(PCI_MMIO_BASE, 4), ==, 5);
    bnd_mmio_write(PCI_MMIO_BASE + 4, 9, 4);
    bnd_mmio_write(PCI_MMIO_BASE + 4, 10, 4);
    g_assert_cmpuint(seen[BND_MMIO_WRITE], ==, 2);
    g_assert_cmpuint(seen[BND_MMIO_READ], ==, 0);
    g_assert_cmpuint(bnd_counts[BND_MMIO_READ], ==, 1);
    g_assert_cmpuint(bnd_counts[BND_MMIO_WRITE], ==, 2);
    /* A before-hook limited to writes does not answer reads. */
    g_assert_true(bnd_hook_add(&answer));
    g_assert_false(bnd_watched(BND_MMIO_READ));
    g_assert_cmpuint(bnd_mmio_read(PCI_MMIO_BASE + 4, 4), ==, 10);
    g_assert_cmpuint(s.reads, ==, 2);
    bnd_hook_remove(&answer);
    bnd_hook_remove(&writes);
    g_assert_false(bnd_watched(BND_MMIO_WRITE));
    bnd_mmio_write(PCI_MMIO_BASE + 4, 11, 4);
    g_assert_cmpuint(seen[BND_MMIO_WRITE], ==, 2);
    bnd_hooks_clear();
    memory_fini();
    event_loop_fini();
}

/*
 * Several hooks on one kind: each crossing reaches exactly the hooks that
 * want its kind, in the order they were added, a before-hook that answers
 * ends the before chain, and removing a hook keeps the others' order.
 */
static char order_log[64];

static void log_hook(char id)
{
    size_t n = strlen(order_log);

    g_assert_cmpuint(n + 1, <, sizeof(order_log));
    order_log[n] = id;
}

static void after_a(const BndAccess *a, void *opaque)
{
    log_hook('a');
}

static void after_b(const BndAccess *a, void *opaque)
{
    log_hook('b');
}

static void after_c(const BndAccess *a, void *opaque)
{
    log_hook('c');
}

static bool before_a(BndAccess *a, void *opaque)
{
    log_hook('A');
    return false;
}

static bool before_b(BndAccess *a, void *opaque)
{
    log_hook('B');
    a->value = 0x42;
    return true;
}

static bool before_c(BndAccess *a, void *opaque)
{
    log_hook('C');
    return false;
}

static void note_a(const BndNote *n, void *opaque)
{
    log_hook('x');
}

static void note_c(const BndNote *n, void *opaque)
{
    log_hook('z');
}

static void crossing(BndKind kind)
{
    BndAccess a = {.kind = kind, .cpu = -1};

    if (bnd_before(&a)) {
        g_assert_cmphex(a.value, ==, 0x42);
    }
    bnd_after(&a);
}

static void test_boundary_hook_order(void)
{
    BndHook ha = {
        .name = "a",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_IRQ_RAISE),
        .before = before_a,
        .after = after_a,
        .note = note_a,
    };
    BndHook hb = {
        .name = "b",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_MMIO_WRITE),
        .before = before_b,
        .after = after_b,
    };
    BndHook hc = {
        .name = "c", .before = before_c, .after = after_c, .note = note_c};

    bnd_hooks_clear();
    memset(order_log, 0, sizeof(order_log));
    g_assert_true(bnd_hook_add(&ha));
    g_assert_true(bnd_hook_add(&hb));
    g_assert_true(bnd_hook_add(&hc));
    g_assert_cmpuint(bnd_nnotes, ==, 2);
    crossing(BND_DMA_READ);    /* b answers: c's before() is not asked */
    crossing(BND_IRQ_RAISE);   /* b does not want it */
    crossing(BND_MMIO_WRITE);  /* a does not want it */
    crossing(BND_SCHED);       /* only c (every kind) */
    BND_NOTE_IRQ_RETURN(0, 1); /* a and c take notes, b does not */
    g_assert_cmpstr(order_log, ==, "ABabcACacBbcCcxz");
    g_assert_cmpuint(bnd_counts[BND_DMA_READ], ==, 1);
    g_assert_cmpuint(bnd_seq(), ==, 4);

    /* Without b the others keep their order; a sees DMA again alone with
     * c, and nobody answers. */
    memset(order_log, 0, sizeof(order_log));
    bnd_hook_remove(&hb);
    g_assert_cmpuint(bnd_nhooks, ==, 2);
    g_assert_true(bnd_watched(BND_MMIO_WRITE)); /* c wants every kind */
    crossing(BND_DMA_READ);
    crossing(BND_MMIO_WRITE);
    BND_NOTE_IRQ_RETURN(0, 1);
    g_assert_cmpstr(order_log, ==, "ACacCcxz");

    /* Without a, c alone is called directly; the notes go to it only. */
    memset(order_log, 0, sizeof(order_log));
    bnd_hook_remove(&ha);
    g_assert_cmpuint(bnd_nnotes, ==, 1);
    crossing(BND_DMA_READ);
    crossing(BND_IRQ_RAISE);
    BND_NOTE_IRQ_RETURN(0, 1);
    g_assert_cmpstr(order_log, ==, "CcCcz");

    bnd_hook_remove(&hc);
    g_assert_cmpuint(bnd_nnotes, ==, 0);
    g_assert_false(bnd_watched(BND_SCHED));
    memset(order_log, 0, sizeof(order_log));
    crossing(BND_DMA_READ);
    g_assert_cmpstr(order_log, ==, "");
    g_assert_cmpuint(bnd_seq(), ==, 9);
    bnd_hooks_clear();
}

/* A hook that removes another from inside its after(): the one removed is
 * not called for the crossing under way, and nothing is called twice. */
static BndHook *victim;

static void after_remover(const BndAccess *a, void *opaque)
{
    log_hook('r');
    if (victim) {
        bnd_hook_remove(victim);
        victim = NULL;
    }
}

static void test_boundary_hook_removed_in_after(void)
{
    BndHook hr = {.name = "r", .after = after_remover};
    BndHook hb = {.name = "b", .after = after_b};
    BndHook hc = {.name = "c", .after = after_c};

    for (unsigned others = 1; others <= 2; others++) {
        bnd_hooks_clear();
        memset(order_log, 0, sizeof(order_log));
        g_assert_true(bnd_hook_add(&hr));
        g_assert_true(bnd_hook_add(&hb));
        if (others == 2) {
            g_assert_true(bnd_hook_add(&hc));
        }
        victim = &hb;
        crossing(BND_DMA_WRITE);
        crossing(BND_DMA_WRITE);
        g_assert_cmpstr(order_log, ==, others == 2 ? "rcrc" : "rr");
        g_assert_cmpuint(bnd_nhooks, ==, others);
    }
    bnd_hooks_clear();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/dispatch-checks", test_dispatch_and_checks);
    g_test_add_func("/memory/unmapped", test_unmapped_reads_all_ones);
    g_test_add_func("/memory/overlap-unmap", test_overlap_refused_and_unmap);
    g_test_add_func("/memory/windows", test_windows_decode);
    g_test_add_func("/memory/boundary", test_boundary_accessors);
    g_test_add_func("/memory/boundary-hook-kinds", test_boundary_hook_kinds);
    g_test_add_func("/memory/boundary-hook-order", test_boundary_hook_order);
    g_test_add_func("/memory/boundary-hook-removed-in-after",
                    test_boundary_hook_removed_in_after);
    return g_test_run();
}
