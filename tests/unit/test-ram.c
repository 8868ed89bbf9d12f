/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: allocator alignment, boundaries, reuse and coalescing,
 * determinism, exhaustion; DMA bounds checking and the boundary hook.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/event.h"

static void ram_up(uint64_t size)
{
    g_autoptr(GError) err = NULL;
    SchedConfig sc = {.policy = SCHED_POLICY_FIFO};

    event_loop_init();
    memory_init();
    g_assert_true(cpus_init(1, &sc, &err));
    g_assert_true(ram_init(size, &err));
    g_assert_no_error(err);
}

static void ram_down(void)
{
    ram_fini();
    cpus_fini();
    memory_fini();
    event_loop_fini();
    bnd_hooks_clear();
}

static void test_bad_sizes(void)
{
    static const uint64_t bad[] = {
        0, 4096, RAM_MIN_SIZE - 4096, RAM_MAX_SIZE + 4096, (8 << 20) + 1,
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(ram_init(bad[i], &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err->message, "guest RAM size"));
    }
}

static void test_alignment_and_boundary(void)
{
    static const struct {
        uint64_t size, align, boundary;
    } tab[] = {
        {1, 16, 0},        {100, 64, 0},      {4096, 4096, 0},
        {5000, 4096, 0},   {3000, 16, 4096},  {4096, 16, 4096},
        {200, 512, 1024},  {65536, 65536, 0}, {17, 1, 0},
        {8192, 128, 8192},
    };

    ram_up(16 << 20);
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        uint8_t *p = ram_alloc(tab[i].size, tab[i].align, tab[i].boundary, "t");
        uint64_t gpa = 0, a = MAX(tab[i].align, 16);
        g_assert_nonnull(p);
        g_assert_true(ram_gpa(p, &gpa));
        g_assert_cmpuint(gpa % a, ==, 0);
        g_assert_cmpuint(gpa, >=, RAM_RESERVED);
        if (tab[i].boundary) {
            g_assert_cmpuint(gpa / tab[i].boundary, ==,
                             (gpa + tab[i].size - 1) / tab[i].boundary);
        }
        g_assert_cmpuint(ram_alloc_size(p), >=, tab[i].size);
        for (uint64_t k = 0; k < tab[i].size; k++) {
            g_assert_cmpuint(p[k], ==, 0);
        }
        memset(p, 0xa5, tab[i].size);
    }
    /* a block larger than its boundary cannot exist */
    g_assert_null(ram_alloc(8192, 16, 4096, "t"));
    ram_down();
}

static void test_free_coalesces(void)
{
    RamStats st0, st;
    void *p[8];

    ram_up(8 << 20);
    ram_stats(&st0);
    for (int i = 0; i < 8; i++) {
        p[i] = ram_alloc(4096, 4096, 0, "blk");
        g_assert_nonnull(p[i]);
    }
    ram_stats(&st);
    g_assert_cmpuint(st.allocations_live, ==, 8);
    g_assert_cmpuint(st.bytes_in_use, ==, 8 * 4096);
    /* free in an order that needs both left and right merges */
    static const int order[] = {1, 3, 2, 0, 6, 4, 5, 7};
    for (unsigned i = 0; i < G_N_ELEMENTS(order); i++) {
        ram_free(p[order[i]]);
    }
    ram_stats(&st);
    g_assert_cmpuint(st.allocations_live, ==, 0);
    g_assert_cmpuint(st.bytes_in_use, ==, 0);
    g_assert_cmpuint(st.largest_free, ==, st0.largest_free);
    /* the space is reused from the bottom: deterministic first fit */
    g_assert_true(ram_alloc(4096, 4096, 0, "again") == p[0]);
    ram_down();
}

static void test_bad_free_is_guest_error(void)
{
    uint64_t before;
    char *p;

    ram_up(8 << 20);
    p = ram_alloc(64, 16, 0, "x");
    before = guest_errors_total();
    ram_free(p + 16);          /* not the start */
    ram_free((void *)&before); /* not guest memory */
    g_assert_cmpuint(guest_errors_total(), ==, before + 2);
    ram_free(p);
    ram_free(p); /* double free */
    g_assert_cmpuint(guest_errors_total(), ==, before + 3);
    ram_down();
}

static void test_exhaustion(void)
{
    RamStats st;
    unsigned n = 0;

    ram_up(RAM_MIN_SIZE);
    while (ram_alloc(256 * 1024, 4096, 0, "fill")) {
        n++;
    }
    ram_stats(&st);
    g_assert_cmpuint(n, ==, (RAM_MIN_SIZE - RAM_RESERVED) / (256 * 1024));
    g_assert_cmpuint(st.failures, ==, 1);
    ram_down();
}

typedef struct Leak {
    unsigned n;
    uint64_t total;
} Leak;

static void count_leak(uint64_t gpa, uint64_t size, const char *tag,
                       void *opaque)
{
    Leak *l = opaque;
    g_assert_cmpstr(tag, ==, "leaky");
    l->n++;
    l->total += size;
}

static void test_foreach_lists_live(void)
{
    Leak l = {0};

    ram_up(8 << 20);
    ram_alloc(100, 16, 0, "leaky");
    ram_free(ram_alloc(100, 16, 0, "freed"));
    ram_alloc(300, 16, 0, "leaky");
    ram_foreach_allocation(count_leak, &l);
    g_assert_cmpuint(l.n, ==, 2);
    g_assert_cmpuint(l.total, ==, 112 + 304);
    ram_down();
}

static GArray *seen;

static void note_dma(const BndAccess *a, void *opaque)
{
    if (a->kind == BND_DMA_READ || a->kind == BND_DMA_WRITE) {
        g_array_append_val(seen, *a);
    }
}

static bool fail_dma(BndAccess *a, void *opaque)
{
    if (a->kind == BND_DMA_READ && a->addr == *(uint64_t *)opaque) {
        a->ok = false;
        return true;
    }
    return false;
}

static void test_dma_bounds(void)
{
    static const struct {
        uint64_t gpa, len;
        bool ok;
    } tab[] = {
        {RAM_RESERVED, 64, true},    {0, 16, true}, /* reserved but RAM */
        {(8 << 20) - 16, 16, true},                 /* last bytes */
        {(8 << 20) - 15, 16, false},                /* crosses the end */
        {8 << 20, 1, false},         {UINT64_MAX - 3, 8, false}, /* wraps */
        {PCI_MMIO_BASE, 4, false},
    };
    uint8_t buf[64] = {0};
    BndHook hook = {.name = "t", .after = note_dma};

    ram_up(8 << 20);
    seen = g_array_new(FALSE, FALSE, sizeof(BndAccess));
    g_assert_true(bnd_hook_add(&hook));
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        uint64_t faults = dma_faults();
        memset(buf, 0x5a, sizeof(buf));
        g_assert_cmpint(dma_write(tab[i].gpa, buf, tab[i].len), ==, tab[i].ok);
        memset(buf, 0, sizeof(buf));
        g_assert_cmpint(dma_read(tab[i].gpa, buf, tab[i].len), ==, tab[i].ok);
        if (tab[i].ok) {
            g_assert_cmpuint(buf[0], ==, 0x5a);
            g_assert_cmpuint(buf[tab[i].len - 1], ==, 0x5a);
        } else {
            g_assert_cmpuint(dma_faults(), ==, faults + 2);
        }
    }
    g_assert_cmpuint(seen->len, ==, 2 * G_N_ELEMENTS(tab));
    g_assert_cmpint(g_array_index(seen, BndAccess, 0).kind, ==, BND_DMA_WRITE);
    g_assert_cmpuint(g_array_index(seen, BndAccess, 0).len, ==, 64);
    g_assert_false(g_array_index(seen, BndAccess, 7).ok);
    g_array_free(seen, TRUE);
    ram_down();
}

static void test_dma_hook_can_fail(void)
{
    uint64_t target = RAM_RESERVED + 4096;
    BndHook hook = {.name = "fail", .before = fail_dma, .opaque = &target};
    uint8_t buf[16];

    ram_up(8 << 20);
    g_assert_true(bnd_hook_add(&hook));
    g_assert_false(dma_read(target, buf, sizeof(buf)));
    g_assert_true(dma_read(target + 16, buf, sizeof(buf)));
    ram_down();
}

/*
 * With only after-hooks on DMA, an access in RAM is copied inline and then
 * shown to every hook that wants it, in order, as a whole access record
 * (device context, accepted); one hook is called directly, two in a loop.
 */
static void note_dma_second(const BndAccess *a, void *opaque)
{
    (*(unsigned *)opaque)++;
    g_assert_cmpuint(seen->len, >, 0); /* after the first hook */
}

static void test_dma_after_hooks(void)
{
    unsigned second = 0;
    BndHook first = {
        .name = "first",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
        .after = note_dma,
    };
    BndHook other = {
        .name = "second",
        .kinds = BND_BIT(BND_DMA_READ),
        .after = note_dma_second,
        .opaque = &second,
    };
    uint8_t out[8] = {1, 2, 3, 4, 5, 6, 7, 8}, in[8] = {0};
    uint64_t gpa = RAM_RESERVED + 256, reads, writes;
    const BndAccess *a;

    ram_up(8 << 20);
    reads = bnd_counts[BND_DMA_READ];
    writes = bnd_counts[BND_DMA_WRITE];
    seen = g_array_new(FALSE, FALSE, sizeof(BndAccess));
    g_assert_true(bnd_hook_add(&first));
    g_assert_true(dma_write(gpa, out, sizeof(out)));
    g_assert_cmpuint(seen->len, ==, 1);
    a = &g_array_index(seen, BndAccess, 0);
    g_assert_cmpint(a->kind, ==, BND_DMA_WRITE);
    g_assert_cmpint(a->cpu, ==, -1);
    g_assert_cmpuint(a->size, ==, 0);
    g_assert_cmpuint(a->devfn, ==, 0);
    g_assert_cmphex(a->addr, ==, gpa);
    g_assert_cmpuint(a->value, ==, 0);
    g_assert_cmpuint(a->len, ==, sizeof(out));
    g_assert_true(a->data == out);
    g_assert_true(a->ok);
    g_assert_true(bnd_hook_add(&other));
    g_assert_true(dma_read(gpa, in, sizeof(in)));
    g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
    g_assert_cmpuint(seen->len, ==, 2);
    g_assert_cmpuint(second, ==, 1);
    a = &g_array_index(seen, BndAccess, 1);
    g_assert_cmpint(a->kind, ==, BND_DMA_READ);
    g_assert_true(a->data == in);
    g_assert_true(a->ok);
    g_assert_true(dma_write(gpa, out, sizeof(out))); /* first only */
    g_assert_cmpuint(seen->len, ==, 3);
    g_assert_cmpuint(second, ==, 1);
    g_assert_cmpuint(bnd_counts[BND_DMA_READ] - reads, ==, 1);
    g_assert_cmpuint(bnd_counts[BND_DMA_WRITE] - writes, ==, 2);
    g_array_free(seen, TRUE);
    ram_down();
}

/*
 * A lone DMA after-hook with a quiet map does not see DMAs in set
 * granules; it sees the rest, and once a second hook watches DMA (or
 * a before-hook does) every DMA is shown again.
 */
static void test_dma_quiet_map(void)
{
    static uint8_t runs[128];
    static BndQuietMap map = {.runs = runs, .n = 128};
    BndHook quiet = {
        .name = "quiet",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
        .after = note_dma,
        .dma_quiet = &map,
    };
    unsigned second = 0;
    BndHook other = {
        .name = "second",
        .kinds = BND_BIT(BND_DMA_WRITE),
        .after = note_dma_second,
        .opaque = &second,
    };
    uint64_t base = 0; /* reserved, but RAM: granules 4, 5 and 7 are set */
    uint8_t buf[200] = {0};
    uint64_t reads;

    memset(runs, 0, sizeof(runs));
    bnd_quiet_add(&map, 4, 6);
    bnd_quiet_add(&map, 7, 8);
    ram_up(8 << 20);
    seen = g_array_new(FALSE, FALSE, sizeof(BndAccess));
    g_assert_true(bnd_hook_add(&quiet));
    g_assert_true(bnd_dma_quiet == &map);
    reads = bnd_counts[BND_DMA_READ];
    g_assert_true(dma_read(base + 4 * 64 + 8, buf, 16)); /* one granule */
    g_assert_true(dma_read(base + 4 * 64 + 60, buf, 8)); /* 4 and 5 */
    g_assert_true(dma_write(base + 5 * 64, buf, 64));    /* exactly 5 */
    g_assert_cmpuint(seen->len, ==, 0);
    g_assert_cmpuint(bnd_counts[BND_DMA_READ] - reads, ==, 2); /* counted */
    g_assert_true(dma_read(base + 5 * 64 + 60, buf, 8));       /* 5 and 6 */
    g_assert_true(dma_read(base + 4 * 64, buf, 129));          /* 4, 5, 6 */
    g_assert_true(dma_write(base + 7 * 64, buf, 65));          /* 7 and 8 */
    g_assert_true(dma_read(base + 3 * 64, buf, 8));            /* 3 */
    g_assert_cmpuint(seen->len, ==, 4);
    g_assert_cmphex(g_array_index(seen, BndAccess, 0).addr, ==,
                    base + 5 * 64 + 60);
    g_assert_true(bnd_hook_add(&other));
    g_assert_true(bnd_dma_quiet != &map);
    g_assert_true(dma_read(base + 4 * 64 + 8, buf, 16));
    g_assert_cmpuint(seen->len, ==, 5);
    bnd_hook_remove(&other);
    g_assert_true(bnd_dma_quiet == &map);
    g_assert_true(dma_read(base + 4 * 64 + 8, buf, 16));
    g_assert_cmpuint(seen->len, ==, 5);
    g_assert_cmpuint(second, ==, 0);
    g_array_free(seen, TRUE);
    ram_down();
}

/*
 * The quiet map's runs: granules added in any order, next to set ones or
 * not, answer for a DMA of any length within one run, up to the
 * saturation (and a longer run is still set all along); nothing past the
 * map's end or wrapped counts as quiet.
 */
static void test_dma_quiet_runs(void)
{
    enum { N = 1200 };
    static uint8_t runs[N];
    BndQuietMap map = {.runs = runs, .n = N};
    const uint64_t g = 1 << BND_QUIET_SHIFT;

    memset(runs, 0, sizeof(runs));
    bnd_quiet_add(&map, 10, 12);
    bnd_quiet_add(&map, 13, 14);
    g_assert_false(bnd_quiet_covers(&map, 10 * g, 3 * g)); /* 12 unset */
    g_assert_true(bnd_quiet_covers(&map, 10 * g + 8, 108 - 64));
    bnd_quiet_add(&map, 12, 13); /* joins 10..11 and 13 */
    g_assert_cmpuint(runs[10], ==, 4);
    g_assert_cmpuint(runs[13], ==, 1);
    g_assert_true(bnd_quiet_covers(&map, 10 * g + 40, 108)); /* 10..12 */
    g_assert_true(bnd_quiet_covers(&map, 10 * g, 4 * g));
    g_assert_false(bnd_quiet_covers(&map, 10 * g, 4 * g + 1));
    g_assert_false(bnd_quiet_covers(&map, 9 * g + 63, 2));
    g_assert_true(bnd_quiet_covers(&map, 11 * g + 5, 0)); /* in one */
    g_assert_false(bnd_quiet_covers(&map, 11 * g, 0));    /* wraps back */
    g_assert_false(bnd_quiet_covers(&map, 11 * g, UINT64_MAX));

    /* A run longer than the saturation, added from its end backwards. */
    bnd_quiet_add(&map, 700, 1000);
    bnd_quiet_add(&map, 300, 700);
    g_assert_cmpuint(runs[300], ==, BND_QUIET_RUN_MAX);
    g_assert_cmpuint(runs[999], ==, 1);
    g_assert_cmpuint(runs[1000 - BND_QUIET_RUN_MAX], ==, BND_QUIET_RUN_MAX);
    g_assert_cmpuint(runs[1000 - BND_QUIET_RUN_MAX + 1], ==,
                     BND_QUIET_RUN_MAX - 1);
    g_assert_true(bnd_quiet_covers(&map, 300 * g, BND_QUIET_RUN_MAX * g));
    g_assert_false(
        bnd_quiet_covers(&map, 300 * g, (BND_QUIET_RUN_MAX + 1) * g));
    g_assert_true(bnd_quiet_covers(&map, 745 * g, BND_QUIET_RUN_MAX * g));
    g_assert_false(bnd_quiet_covers(&map, 746 * g, BND_QUIET_RUN_MAX * g));
    for (unsigned k = 300; k < 1000; k++) {
        g_assert_cmpuint(runs[k], ==, MIN(1000 - k, BND_QUIET_RUN_MAX));
    }

    /* Clipped at the map's end; nothing at or past it is quiet. */
    bnd_quiet_add(&map, N - 2, N + 5);
    g_assert_cmpuint(runs[N - 2], ==, 2);
    g_assert_true(bnd_quiet_covers(&map, (N - 2) * g, 2 * g));
    g_assert_false(bnd_quiet_covers(&map, (N - 2) * g, 2 * g + 1));
    g_assert_false(bnd_quiet_covers(&map, N * g, 1));
    bnd_quiet_add(&map, 5, 5); /* empty */
    g_assert_cmpuint(runs[5], ==, 0);
}

/* BndHook.after_dma: the access as after() would see it, in @seen; the
 * opaque counts the calls. */
static void note_dma_args(BndKind kind, uint64_t gpa, const void *data,
                          uint64_t len, void *opaque)
{
    BndAccess a = {.kind = kind,
                   .cpu = -1,
                   .addr = gpa,
                   .len = len,
                   .data = data,
                   .ok = true};

    g_array_append_val(seen, a);
    (*(unsigned *)opaque)++;
}

static unsigned quiet_calls;
static bool quiet_second; /* a hook before it has seen the DMA */

static void note_dma_quiet(BndKind kind, uint64_t gpa, const void *data,
                           uint64_t len, void *opaque)
{
    quiet_calls++;
    if (quiet_second) {
        g_assert_cmpuint(seen->len, >, 0);
        g_assert_cmphex(g_array_index(seen, BndAccess, seen->len - 1).addr, ==,
                        gpa);
    }
}

/*
 * Two DMA hooks with after_dma, the second with a quiet map (the recorder
 * and the verifier): the first sees every DMA, through after_dma when the
 * inline path reports it; the second only those its map does not cover,
 * after the first. A third hook without after_dma brings back after() for
 * all of them, and every DMA to each.
 */
static void test_dma_two_hooks_quiet(void)
{
    static uint8_t runs[128];
    static BndQuietMap map = {.runs = runs, .n = 128};
    unsigned first_calls = 0, third = 0, quiet_after = 0;
    BndHook first = {
        .name = "first",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
        .after = note_dma,
        .after_dma = note_dma_args,
        .opaque = &first_calls,
    };
    BndHook quiet = {
        .name = "quiet",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
        .after = note_dma_second,
        .after_dma = note_dma_quiet,
        .dma_quiet = &map,
        .opaque = &quiet_after,
    };
    BndHook other = {
        .name = "third",
        .kinds = BND_BIT(BND_DMA_WRITE),
        .after = note_dma_second,
        .opaque = &third,
    };
    uint8_t buf[200] = {0};

    memset(runs, 0, sizeof(runs));
    bnd_quiet_add(&map, 4, 6);
    bnd_quiet_add(&map, 7, 8);
    ram_up(8 << 20);
    seen = g_array_new(FALSE, FALSE, sizeof(BndAccess));
    quiet_calls = 0;
    quiet_second = true;
    g_assert_true(bnd_hook_add(&first));
    g_assert_true(bnd_hook_add(&quiet));
    g_assert_true(dma_read(4 * 64 + 8, buf, 16)); /* quiet: first only */
    g_assert_true(dma_write(5 * 64, buf, 64));    /* quiet */
    g_assert_true(dma_read(5 * 64 + 60, buf, 8)); /* 5 and 6: both */
    g_assert_true(dma_write(4 * 64, buf, 129));   /* 4, 5, 6: both */
    g_assert_cmpuint(first_calls, ==, 4);
    g_assert_cmpuint(seen->len, ==, 4);
    g_assert_cmpuint(quiet_calls, ==, 2);
    g_assert_cmpuint(third + quiet_after, ==, 0);
    g_assert_cmphex(g_array_index(seen, BndAccess, 3).addr, ==, 4 * 64);
    g_assert_cmpuint(g_array_index(seen, BndAccess, 3).len, ==, 129);
    g_assert_true(g_array_index(seen, BndAccess, 3).kind == BND_DMA_WRITE);

    /* A hook without after_dma on writes: after() for every hook there,
     * quiet or not; reads keep the two-hook way. */
    g_assert_true(bnd_hook_add(&other));
    g_assert_true(dma_write(5 * 64, buf, 64));
    g_assert_cmpuint(first_calls, ==, 4);
    g_assert_cmpuint(seen->len, ==, 5);
    g_assert_cmpuint(third, ==, 1);
    g_assert_cmpuint(quiet_after, ==, 1); /* the quiet hook's after() too */
    g_assert_true(dma_read(4 * 64 + 8, buf, 16));
    g_assert_cmpuint(first_calls, ==, 5);
    g_assert_cmpuint(quiet_calls, ==, 2);
    bnd_hook_remove(&other);
    bnd_hook_remove(&first);
    quiet_second = false;
    /* The quiet hook alone: the inline path leaves covered DMAs out. */
    g_assert_true(dma_read(5 * 64 + 60, buf, 8));
    g_assert_true(dma_read(4 * 64 + 8, buf, 16));
    g_assert_cmpuint(quiet_calls, ==, 3);
    g_array_free(seen, TRUE);
    ram_down();
}

/* The whole quiet map of the two tests below: 64 granules, 4 and 5 quiet
 * and 60 to 63 (an add past n stops at n). */
static BndQuietMap whole_map(void)
{
    BndQuietMap map = {
        .runs = g_new0(uint8_t, BND_QUIET_ROOM),
        .n = 64,
        .whole = true,
    };

    bnd_quiet_add(&map, 4, 6);
    bnd_quiet_add(&map, 60, 70); /* up to n only */
    return map;
}

/* @map's runs replaced by new, empty ones, as its owner says: the old
 * ones, for the caller to free. */
static uint8_t *runs_replaced(BndQuietMap *map)
{
    uint8_t *old = map->runs;

    map->runs = g_new0(uint8_t, BND_QUIET_ROOM);
    bnd_quiet_changed();
    return old;
}

/*
 * A whole quiet map (runs for every granule of the largest RAM, as the
 * verifier's) is read by the inline path without a bound: granules from
 * its n on are never quiet, to the end of RAM, and once its owner says it
 * has new runs, only those count.
 */
static void test_dma_quiet_whole(void)
{
    const uint64_t ram = 8 << 20;
    BndQuietMap map = whole_map();
    BndHook quiet = {
        .name = "quiet",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
        .after = note_dma,
        .after_dma = note_dma_quiet,
        .dma_quiet = &map,
    };
    uint8_t buf[128] = {0};
    uint8_t *old;

    ram_up(ram);
    quiet_calls = 0;
    quiet_second = false;
    g_assert_true(bnd_hook_add(&quiet));
    g_assert_true(bnd_dma_quiet_runs == map.runs);
    g_assert_true(dma_read(4 * 64 + 8, buf, 16)); /* quiet */
    g_assert_true(dma_write(63 * 64, buf, 64));   /* quiet, the last */
    g_assert_cmpuint(quiet_calls, ==, 0);
    g_assert_true(dma_read(5 * 64 + 60, buf, 8)); /* 5 and 6 */
    g_assert_true(dma_write(63 * 64, buf, 65));   /* 63 and 64 */
    g_assert_true(dma_read(64 * 64, buf, 8));     /* past n */
    g_assert_true(dma_read(ram - 8, buf, 8));     /* RAM's last granule */
    g_assert_cmpuint(quiet_calls, ==, 4);

    old = runs_replaced(&map);
    g_free(old);
    g_assert_true(bnd_dma_quiet_runs == map.runs);
    g_assert_true(dma_read(4 * 64 + 8, buf, 16)); /* no longer quiet */
    g_assert_cmpuint(quiet_calls, ==, 5);
    bnd_quiet_add(&map, 4, 5);
    g_assert_true(dma_read(4 * 64 + 8, buf, 16));
    g_assert_cmpuint(quiet_calls, ==, 5);

    bnd_hook_remove(&quiet);
    g_assert_true(bnd_dma_quiet_runs != map.runs);
    g_free(map.runs);
    ram_down();
}

/*
 * Two DMA hooks, the second with a whole map (the recorder beside the
 * verifier): boundary.c keeps the map's runs with the hooks, so a covered
 * DMA goes to the first hook only, anything else to both, and runs its
 * owner replaces count once it says so.
 */
static void test_dma_two_hooks_whole(void)
{
    const uint64_t ram = 8 << 20;
    unsigned first_calls = 0;
    BndQuietMap map = whole_map();
    BndHook first = {
        .name = "first",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
        .after = note_dma,
        .after_dma = note_dma_args,
        .opaque = &first_calls,
    };
    BndHook quiet = {
        .name = "quiet",
        .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
        .after = note_dma_second,
        .after_dma = note_dma_quiet,
        .dma_quiet = &map,
    };
    uint8_t buf[200] = {0};
    uint8_t *old;

    ram_up(ram);
    seen = g_array_new(FALSE, FALSE, sizeof(BndAccess));
    quiet_calls = 0;
    quiet_second = true;
    g_assert_true(bnd_hook_add(&first));
    g_assert_true(bnd_hook_add(&quiet));
    g_assert_true(dma_read(4 * 64 + 8, buf, 16)); /* quiet: first only */
    g_assert_true(dma_write(63 * 64, buf, 64));   /* quiet, the last */
    g_assert_true(dma_write(4 * 64, buf, 128));   /* 4 and 5: quiet */
    g_assert_cmpuint(first_calls, ==, 3);
    g_assert_cmpuint(quiet_calls, ==, 0);
    g_assert_true(dma_read(5 * 64 + 60, buf, 8)); /* 5 and 6: both */
    g_assert_true(dma_write(63 * 64, buf, 65));   /* 63 and 64: both */
    g_assert_true(dma_read(64 * 64, buf, 8));     /* past n: both */
    g_assert_true(dma_read(ram - 8, buf, 8));     /* RAM's last granule */
    g_assert_cmpuint(first_calls, ==, 7);
    g_assert_cmpuint(seen->len, ==, 7);
    g_assert_cmpuint(quiet_calls, ==, 4);

    old = runs_replaced(&map);
    memset(old, 0xff, BND_QUIET_ROOM); /* the old runs are not read */
    g_assert_true(dma_read(4 * 64 + 8, buf, 16)); /* no longer quiet */
    g_assert_cmpuint(quiet_calls, ==, 5);
    bnd_quiet_add(&map, 4, 5);
    g_assert_true(dma_read(4 * 64 + 8, buf, 16));
    g_assert_cmpuint(quiet_calls, ==, 5);
    g_assert_cmpuint(first_calls, ==, 9);
    g_free(old);

    bnd_hook_remove(&first);
    bnd_hook_remove(&quiet);
    quiet_second = false;
    g_array_free(seen, TRUE);
    g_free(map.runs);
    ram_down();
}

/* A recorded run with device faults and the verifier needs four hooks
 * (the recorder takes two); the table refuses only past its size. */
static void test_hook_table_full(void)
{
    static unsigned opaque[BND_MAX_HOOKS + 1];
    BndHook h = {.name = "filler", .after = note_dma_second};

    G_STATIC_ASSERT(BND_MAX_HOOKS >= 4);
    for (unsigned i = 0; i < BND_MAX_HOOKS; i++) {
        h.opaque = &opaque[i];
        g_assert_true(bnd_hook_add(&h));
    }
    h.opaque = &opaque[BND_MAX_HOOKS];
    g_assert_false(bnd_hook_add(&h));
    g_assert_cmpuint(bnd_nhooks, ==, BND_MAX_HOOKS);
    bnd_hooks_clear();
    g_assert_cmpuint(bnd_nhooks, ==, 0);
}

static void test_msi_window_write_raises(void)
{
    uint32_t data = 0x61;

    ram_up(8 << 20);
    g_assert_true(dma_write(MSI_ADDR_BASE, &data, 4));
    g_assert_true(irq_pending(0, 0x61));
    ram_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ram/bad-sizes", test_bad_sizes);
    g_test_add_func("/ram/alignment-boundary", test_alignment_and_boundary);
    g_test_add_func("/ram/free-coalesces", test_free_coalesces);
    g_test_add_func("/ram/bad-free", test_bad_free_is_guest_error);
    g_test_add_func("/ram/exhaustion", test_exhaustion);
    g_test_add_func("/ram/foreach-live", test_foreach_lists_live);
    g_test_add_func("/ram/dma-bounds", test_dma_bounds);
    g_test_add_func("/ram/dma-after-hooks", test_dma_after_hooks);
    g_test_add_func("/ram/dma-quiet-map", test_dma_quiet_map);
    g_test_add_func("/ram/dma-two-hooks-quiet", test_dma_two_hooks_quiet);
    g_test_add_func("/ram/dma-quiet-runs", test_dma_quiet_runs);
    g_test_add_func("/ram/dma-quiet-whole", test_dma_quiet_whole);
    g_test_add_func("/ram/dma-two-hooks-whole", test_dma_two_hooks_whole);
    g_test_add_func("/ram/hook-table-full", test_hook_table_full);
    g_test_add_func("/ram/dma-hook-fail", test_dma_hook_can_fail);
    g_test_add_func("/ram/msi-window", test_msi_window_write_raises);
    return g_test_run();
}
