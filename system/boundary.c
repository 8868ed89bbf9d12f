/* SPDX-License-Identifier: MIT */
/*
 * The boundary layer: hook chain and the guest-side register accessors.
 * Register accesses charge virtual time (a non-posted read costs more than
 * a posted write, as on PCIe) and end in a yield point, so a driver that
 * polls a register lets devices and other vCPUs make progress.
 */
#include <string.h>
#include "hw/core/memory.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/event.h"
#include "system/trace.h"

unsigned bnd_nhooks;
unsigned bnd_nnotes;
uint32_t bnd_before_kinds, bnd_after_kinds;
uint64_t bnd_counts[BND_KIND_COUNT];
BndYieldOracle *bnd_yield_oracle;
static const BndQuietMap no_quiet;
const BndQuietMap *bnd_dma_quiet = &no_quiet;
/* BND_QUIET_ROOM zeros, allocated when a hook first watches DMA: pages of
 * it are only ever read, so the kernel's zero page backs them all. */
static uint8_t *no_quiet_runs;
const uint8_t *bnd_dma_quiet_runs;
uint64_t bnd_dma_gen = 1;
static BndHook hooks[BND_MAX_HOOKS];

/*
 * The callbacks that want each kind, in the order their hooks were added,
 * rebuilt on every add and remove: a crossing calls exactly these, with no
 * per-hook test of a callback pointer or a kinds mask.
 */
typedef struct BeforeList {
    unsigned n;
    bool (*fn[BND_MAX_HOOKS])(BndAccess *a, void *opaque);
    void *opaque[BND_MAX_HOOKS];
} BeforeList;

typedef struct AfterList {
    unsigned n;
    void (*fn[BND_MAX_HOOKS])(const BndAccess *a, void *opaque);
    void *opaque[BND_MAX_HOOKS];
} AfterList;

typedef struct NoteList {
    unsigned n;
    void (*fn[BND_MAX_HOOKS])(const BndNote *n, void *opaque);
    void *opaque[BND_MAX_HOOKS];
} NoteList;

/*
 * bnd_after_dma()'s hooks for DMA_READ and DMA_WRITE when one or two
 * watch the kind and each has after_dma (n = 0: after_list's way). With
 * two of which one has a quiet map (the verifier beside the recorder),
 * @quiet is that map and @alone the other hook, which alone sees a DMA
 * the map covers.
 */
typedef struct DmaList {
    unsigned n;
    unsigned alone;
    const BndQuietMap *quiet;
    BndAfterDmaFn *fn[2];
    void *opaque[2];
    /* With a whole map (dma_after_two_whole()): its runs, and the other
     * hook as a call, so that a quiet DMA costs the test and a jump. */
    const uint8_t *runs;
    BndAfterDmaFn *alone_fn;
    void *alone_opaque;
} DmaList;

static BeforeList before_list[BND_KIND_COUNT];
static AfterList after_list[BND_KIND_COUNT];
static NoteList note_list;
static DmaList dma_list[2];
static BndAfterDmaFn dma_after_two, dma_after_two_whole, dma_after_access,
    dma_after_partial;
BndDmaAfter bnd_dma_after[2] = {{dma_after_access, NULL},
                                {dma_after_access, NULL}};
/* What dma_after_partial() calls once its map leaves a DMA to the hook. */
static BndDmaAfter dma_after_inner[2];
static void rebuild_dma_after(BndDmaAfter *h, DmaList *d);

static void rebuild_dma(DmaList *d, BndKind kind)
{
    const BndQuietMap *quiet[2];

    memset(d, 0, sizeof(*d));
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        const BndHook *h = &hooks[i];

        if (!(h->kinds & BND_BIT(kind)) || !h->after) {
            continue;
        }
        if (!h->after_dma || d->n == 2) {
            d->n = 0;
            return;
        }
        d->fn[d->n] = h->after_dma;
        d->opaque[d->n] = h->opaque;
        quiet[d->n++] = h->before ? NULL : h->dma_quiet;
    }
    if (d->n == 2 && !quiet[0] != !quiet[1]) {
        d->alone = quiet[0] ? 1 : 0;
        d->quiet = quiet[!d->alone];
        d->runs = d->quiet->runs;
        d->alone_fn = d->fn[d->alone];
        d->alone_opaque = d->opaque[d->alone];
    }
}

static inline uint32_t hook_kinds(const BndHook *h)
{
    return h->kinds ? h->kinds : BND_ALL_KINDS;
}

static void rebuild(void)
{
    const uint32_t dma = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE);
    unsigned dma_watchers = 0;

    bnd_dma_gen++;
    bnd_dma_quiet = &no_quiet;
    bnd_before_kinds = bnd_after_kinds = 0;
    memset(before_list, 0, sizeof(before_list));
    memset(after_list, 0, sizeof(after_list));
    memset(&note_list, 0, sizeof(note_list));
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        const BndHook *h = &hooks[i];

        for (unsigned k = 0; k < BND_KIND_COUNT; k++) {
            if (!(h->kinds & BND_BIT(k))) {
                continue;
            }
            if (h->before) {
                BeforeList *l = &before_list[k];
                l->fn[l->n] = h->before;
                l->opaque[l->n++] = h->opaque;
                bnd_before_kinds |= BND_BIT(k);
            }
            if (h->after) {
                AfterList *l = &after_list[k];
                l->fn[l->n] = h->after;
                l->opaque[l->n++] = h->opaque;
                bnd_after_kinds |= BND_BIT(k);
            }
        }
        if (h->note) {
            note_list.fn[note_list.n] = h->note;
            note_list.opaque[note_list.n++] = h->opaque;
        }
        if ((h->kinds & dma) && (h->before || h->after)) {
            dma_watchers++;
            bnd_dma_quiet =
                !h->before && h->dma_quiet ? h->dma_quiet : &no_quiet;
        }
    }
    /* Quiet only for its owner: another hook on DMA sees every one. */
    if (dma_watchers != 1) {
        bnd_dma_quiet = &no_quiet;
    }
    bnd_nnotes = note_list.n;
    rebuild_dma(&dma_list[0], BND_DMA_READ);
    rebuild_dma(&dma_list[1], BND_DMA_WRITE);
    rebuild_dma_after(&bnd_dma_after[0], &dma_list[0]);
    rebuild_dma_after(&bnd_dma_after[1], &dma_list[1]);
    if (bnd_dma_quiet->whole) {
        bnd_dma_quiet_runs = bnd_dma_quiet->runs;
        return;
    }
    if (!no_quiet_runs && (bnd_after_kinds & dma)) {
        no_quiet_runs = g_malloc0(BND_QUIET_ROOM);
    }
    bnd_dma_quiet_runs = no_quiet_runs;
    if (bnd_dma_quiet != &no_quiet) {
        /* Inline, nothing is quiet: the map is tested here instead. */
        for (unsigned k = 0; k < 2; k++) {
            dma_after_inner[k] = bnd_dma_after[k];
            bnd_dma_after[k].fn = dma_after_partial;
            bnd_dma_after[k].opaque = &dma_after_inner[k];
        }
    }
}

void bnd_quiet_changed(void)
{
    rebuild();
}

bool bnd_hook_add(const BndHook *hook)
{
    if (bnd_nhooks == BND_MAX_HOOKS) {
        return false;
    }
    hooks[bnd_nhooks] = *hook;
    hooks[bnd_nhooks++].kinds = hook_kinds(hook);
    rebuild();
    return true;
}

void bnd_hook_remove(const BndHook *hook)
{
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        if (hooks[i].before == hook->before && hooks[i].after == hook->after &&
            hooks[i].opaque == hook->opaque) {
            for (unsigned j = i + 1; j < bnd_nhooks; j++) {
                hooks[j - 1] = hooks[j];
            }
            bnd_nhooks--;
            rebuild();
            return;
        }
    }
}

void bnd_hooks_clear(void)
{
    bnd_nhooks = 0;
    rebuild();
    bnd_yield_oracle = NULL;
    for (unsigned k = 0; k < BND_KIND_COUNT; k++) {
        bnd_counts[k] = 0;
    }
}

uint64_t bnd_seq(void)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < BND_KIND_COUNT; k++) {
        n += bnd_counts[k];
    }
    return n;
}

bool bnd_before_slow(BndAccess *a)
{
    const BeforeList *l = &before_list[a->kind];

    for (unsigned i = 0; i < l->n; i++) {
        if (l->fn[i](a, l->opaque[i])) {
            return true;
        }
    }
    return false;
}

/*
 * Two hooks are what a recorded run has on DMA (the recorder and the
 * verifier): written out, the second is a tail call. The count is read
 * again after each call, as the loop does, in case a hook went away.
 */
static void G_GNUC_NO_INLINE after_all(const AfterList *l, const BndAccess *a)
{
    unsigned i = 0;

    if (l->n == 2) {
        l->fn[0](a, l->opaque[0]);
        if (l->n < 2) {
            return;
        }
        l->fn[1](a, l->opaque[1]);
        return;
    }
    for (; i < l->n; i++) {
        l->fn[i](a, l->opaque[i]);
    }
}

/* One hook wanting the kind is the common case (the verifier on DMA, the
 * recorder on the rest): a direct tail call, no loop or saved registers. */
void bnd_after_slow(const BndAccess *a)
{
    const AfterList *l = &after_list[a->kind];

    if (G_LIKELY(l->n == 1)) {
        l->fn[0](a, l->opaque[0]);
    } else {
        after_all(l, a);
    }
}

/* bnd_dma_after[] when some hook on the kind has no after_dma, three
 * do, or none watches it (@opaque unused). */
static void G_GNUC_NO_INLINE dma_after_access(BndKind kind, uint64_t gpa,
                                              const void *data, uint64_t len,
                                              void *opaque)
{
    BndAccess a;

    /* Field by field: an initializer also zeroes the padding, a third
     * more stores on every DMA. */
    a.kind = kind;
    a.size = 0;
    a.cpu = -1;
    a.devfn = 0;
    a.addr = gpa;
    a.value = 0;
    a.len = len;
    a.data = data;
    a.ok = true;
    after_all(&after_list[kind], &a);
}

/* Both of two hooks; the count is read again, as after_all() does. */
static void G_GNUC_NO_INLINE after_dma_both(const DmaList *d, BndKind kind,
                                            uint64_t gpa, const void *data,
                                            uint64_t len)
{
    d->fn[0](kind, gpa, data, len, d->opaque[0]);
    if (d->n == 2) {
        d->fn[1](kind, gpa, data, len, d->opaque[1]);
    }
}

/*
 * Two hooks (a recorded run: the recorder, then the verifier): one whose
 * quiet map covers the DMA is left out, as the inline path leaves out a
 * lone hook. The map is read before either hook runs (after-hooks map no
 * DMA). bnd_dma_after[] for two hooks, @opaque their DmaList: last, so
 * that the other arguments stay where the hooks take them.
 */
static void G_GNUC_NO_INLINE dma_after_two(BndKind kind, uint64_t gpa,
                                           const void *data, uint64_t len,
                                           void *opaque)
{
    const DmaList *d = opaque;

    if (d->quiet && bnd_quiet_covers(d->quiet, gpa, len)) {
        d->fn[d->alone](kind, gpa, data, len, d->opaque[d->alone]);
    } else {
        after_dma_both(d, kind, gpa, data, len);
    }
}

/*
 * dma_after_two() when the map is whole (the verifier's, beside the
 * recorder): nearly every DMA of a recorded run is quiet, and it reaches
 * the recorder after the inline test's loads and compare, with no bound
 * to test. The DMA lies in RAM, so its first granule is in the map, as
 * bnd_dma_quiet_covers() has it.
 */
static void G_GNUC_NO_INLINE dma_after_two_whole(BndKind kind, uint64_t gpa,
                                                 const void *data, uint64_t len,
                                                 void *opaque)
{
    const DmaList *d = opaque;

    if (G_LIKELY(bnd_runs_cover(d->runs, gpa, len))) {
        d->alone_fn(kind, gpa, data, len, d->alone_opaque);
    } else {
        after_dma_both(d, kind, gpa, data, len);
    }
}

/* bnd_dma_after[] for a lone hook's map that is not whole (@opaque: what
 * it was without the map). */
static void G_GNUC_NO_INLINE dma_after_partial(BndKind kind, uint64_t gpa,
                                               const void *data, uint64_t len,
                                               void *opaque)
{
    const BndDmaAfter *h = opaque;

    if (!bnd_quiet_covers(bnd_dma_quiet, gpa, len)) {
        h->fn(kind, gpa, data, len, h->opaque);
    }
}

void bnd_quiet_add(BndQuietMap *q, uint64_t first, uint64_t end)
{
    unsigned next; /* the run from granule g + 1 */

    end = MIN(end, q->n);
    if (first >= end) {
        return;
    }
    bnd_dma_gen++; /* @q may be the map in force */
    next = end < q->n ? q->runs[end] : 0;
    /* Back from the end: the new granules, then the set ones before them
     * whose run now reaches further (up to one that was unset, or whose
     * run does not change and so neither do those before it). */
    for (uint64_t g = end; g-- > 0;) {
        unsigned r = MIN(next + 1, BND_QUIET_RUN_MAX);

        if (g < first && (q->runs[g] == 0 || q->runs[g] == r)) {
            break;
        }
        q->runs[g] = (uint8_t)r;
        next = r;
    }
}

/* After rebuild_dma(): @d's hooks as one call for bnd_after_dma(). */
static void rebuild_dma_after(BndDmaAfter *h, DmaList *d)
{
    if (d->n == 1) {
        h->fn = d->fn[0];
        h->opaque = d->opaque[0];
    } else if (d->n == 2) {
        h->fn =
            d->quiet && d->quiet->whole ? dma_after_two_whole : dma_after_two;
        h->opaque = d;
    } else {
        h->fn = dma_after_access;
        h->opaque = NULL;
    }
}

static void G_GNUC_NO_INLINE note_all(const BndNote *n)
{
    for (unsigned i = 0; i < note_list.n; i++) {
        note_list.fn[i](n, note_list.opaque[i]);
    }
}

/* The recorder is the one hook that takes notes in practice. */
void bnd_note_slow(const BndNote *n)
{
    if (G_LIKELY(note_list.n == 1)) {
        note_list.fn[0](n, note_list.opaque[0]);
    } else {
        note_all(n);
    }
}

void bnd_note_srb_start(uint64_t req, int cpu, uint8_t path, uint8_t target,
                        uint8_t lun, uint8_t function, const void *cdb,
                        unsigned cdb_len, uint32_t data_len)
{
    BndNote n = {
        .kind = BND_NOTE_SRB_START,
        .cpu = (int16_t)cpu,
        .req = req,
        .path = path,
        .target = target,
        .lun = lun,
        .function = function,
        .cdb_len = (uint8_t)cdb_len,
        .cdb = cdb,
        .data_len = data_len,
    };

    bnd_note_slow(&n);
}

void bnd_note_srb_done(uint64_t req, int cpu, uint8_t srb_status,
                       uint8_t scsi_status, uint32_t transferred)
{
    BndNote n = {
        .kind = BND_NOTE_SRB_DONE,
        .cpu = (int16_t)cpu,
        .req = req,
        .srb_status = srb_status,
        .scsi_status = scsi_status,
        .data_len = transferred,
    };

    bnd_note_slow(&n);
}

void bnd_note_irq_return(int cpu, unsigned vector)
{
    BndNote n = {
        .kind = BND_NOTE_IRQ_RETURN,
        .cpu = (int16_t)cpu,
        .vector = vector,
    };

    bnd_note_slow(&n);
}

static uint64_t reg_read(BndKind kind, AddressSpace *as, uint64_t addr,
                         unsigned size)
{
    BndAccess a = {
        .kind = kind,
        .size = (uint8_t)size,
        .cpu = (int16_t)cpu_index(),
        .addr = addr,
    };

    if (!bnd_before(&a)) {
        a.value = address_space_read(as, addr, size, &a.ok);
    } else {
        a.ok = true;
    }
    TRACE(bnd_reg_read,
          "%s 0x%" G_GINT64_MODIFIER "x/%u -> 0x%" G_GINT64_MODIFIER "x",
          kind == BND_PIO_READ ? "pio" : "mmio", addr, size, a.value);
    vclock_advance(BND_MMIO_READ_NS);
    bnd_after(&a);
    if (cpu_in_guest()) {
        cpu_yield("reg_read");
    }
    return a.value;
}

static void reg_write(BndKind kind, AddressSpace *as, uint64_t addr,
                      uint64_t value, unsigned size)
{
    BndAccess a = {
        .kind = kind,
        .size = (uint8_t)size,
        .cpu = (int16_t)cpu_index(),
        .addr = addr,
        .value = value,
    };

    if (!bnd_before(&a)) {
        address_space_write(as, addr, value, size, &a.ok);
    } else {
        a.ok = true;
    }
    TRACE(bnd_reg_write,
          "%s 0x%" G_GINT64_MODIFIER "x/%u <- 0x%" G_GINT64_MODIFIER "x",
          kind == BND_PIO_WRITE ? "pio" : "mmio", addr, size, value);
    vclock_advance(BND_MMIO_WRITE_NS);
    bnd_after(&a);
    if (cpu_in_guest()) {
        cpu_yield("reg_write");
    }
}

uint64_t bnd_mmio_read(uint64_t gpa, unsigned size)
{
    return reg_read(BND_MMIO_READ, as_memory, gpa, size);
}

void bnd_mmio_write(uint64_t gpa, uint64_t value, unsigned size)
{
    reg_write(BND_MMIO_WRITE, as_memory, gpa, value, size);
}

uint64_t bnd_pio_read(uint16_t port, unsigned size)
{
    return reg_read(BND_PIO_READ, as_io, port, size);
}

void bnd_pio_write(uint16_t port, uint64_t value, unsigned size)
{
    reg_write(BND_PIO_WRITE, as_io, port, value, size);
}
