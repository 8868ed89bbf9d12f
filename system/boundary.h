/* SPDX-License-Identifier: MIT */
/*
 * The boundary layer: the one place every crossing between guest code and
 * the machine passes through. Register and port I/O, config-space accesses,
 * interrupt raise and delivery, device DMA and scheduler decisions all call
 * in here, so the recorder and the fault injector attach as hooks in one
 * place and nowhere else. With no hook attached the cost is one predicted
 * branch per crossing.
 *
 * A hook sees each crossing twice: before() may answer it instead of the
 * machine (replay with device=off returns recorded register values; a
 * surprise-removed device reads all ones; a dropped interrupt is suppressed)
 * by setting BndAccess.value and returning true; after() observes the
 * final result (the recorder logs it).
 */
#ifndef SYSTEM_BOUNDARY_H
#define SYSTEM_BOUNDARY_H

#include <stdbool.h>
#include <stdint.h>

typedef enum BndKind {
    BND_MMIO_READ,
    BND_MMIO_WRITE,
    BND_PIO_READ,
    BND_PIO_WRITE,
    BND_CFG_READ,
    BND_CFG_WRITE,
    BND_IRQ_RAISE,   /* device side: addr = vector, cpu = target */
    BND_IRQ_DELIVER, /* vCPU side: addr = vector, value = old level */
    BND_DMA_READ,    /* device reads guest RAM */
    BND_DMA_WRITE,   /* device writes guest RAM */
    BND_SCHED,       /* value = vCPU chosen, addr = candidate mask,
                        len = the yield point (count) at which the last
                        vCPU gave the CPU back, 0 if it blocked */
    BND_KIND_COUNT
} BndKind;

typedef struct BndAccess {
    BndKind kind;
    uint8_t size;     /* access size in bytes (register kinds) */
    int16_t cpu;      /* vCPU involved, -1 for device context */
    uint32_t devfn;   /* config space: bus/device/function */
    uint64_t addr;    /* gpa, port, config offset, vector */
    uint64_t value;   /* value read/written; scheduler choice */
    uint64_t len;     /* DMA length */
    const void *data; /* DMA data (host pointer), if any */
    bool ok;          /* the machine accepted the access */
} BndAccess;

/*
 * Annotations: what the guest side is doing, for people and tools (SRB
 * start and completion from port/queue.c, interrupt handler returns from
 * system/cpu.c). Not crossings: they have no event index and change
 * nothing; the recorder stores them between the crossings.
 */
typedef enum BndNoteKind {
    BND_NOTE_SRB_START,  /* req, address, function, CDB, data_len */
    BND_NOTE_SRB_DONE,   /* req, data_len transferred, statuses */
    BND_NOTE_IRQ_RETURN, /* vector's handler returned on cpu */
} BndNoteKind;

typedef struct BndNote {
    BndNoteKind kind;
    int16_t cpu;
    uint64_t req; /* the port's request id, the trace correlator */
    uint8_t path, target, lun;
    uint8_t function; /* SRB function */
    uint8_t cdb_len;
    const uint8_t *cdb;
    uint32_t data_len;
    uint8_t srb_status, scsi_status;
    unsigned vector;
} BndNote;

/* A hook's interest in a crossing kind, for BndHook.kinds. */
#define BND_BIT(kind) (1u << (kind))
#define BND_ALL_KINDS ((1u << BND_KIND_COUNT) - 1)

/*
 * DMA that no after-hook needs to see, as a map over guest RAM in granules
 * of 1 << BND_QUIET_SHIFT bytes. A hook that accepts every DMA within set
 * granules without looking further (the verifier: granules wholly inside
 * ranges the port mapped for good, i.e. rings and SRB extensions) points
 * to its map; while it is the only hook after DMA, such a DMA skips the
 * hooks altogether, and beside a second hook, bnd_after_dma() shows such
 * a DMA to the other hook only.
 *
 * The map holds, per granule, how many set granules run from it (0: not
 * set), saturating at BND_QUIET_RUN_MAX: whether a DMA of any length
 * lies in set granules is one byte load and one compare, where a bitmap
 * takes a test per granule (a 108-byte response spans three). Kept by
 * bnd_quiet_add().
 */
#define BND_QUIET_SHIFT   6
#define BND_QUIET_RUN_MAX 255
/* Granules in the largest RAM (RAM_MAX_SIZE, ram.h checks). */
#define BND_QUIET_ROOM ((3ULL << 30) >> BND_QUIET_SHIFT)
typedef struct BndQuietMap {
    uint8_t *runs;
    uint64_t n; /* granules the map covers (0 while runs is NULL) */
    /* runs holds BND_QUIET_ROOM bytes, zero from n on, so that a granule
     * of RAM needs no test against n (bnd_dma_quiet_covers()). An owner
     * that replaces or frees runs while its hook is added says so with
     * bnd_quiet_changed(). */
    bool whole;
} BndQuietMap;

/* Set granules [@first, @end) of @q (those below q->n), keeping the runs
 * of the granules before them. */
void bnd_quiet_add(BndQuietMap *q, uint64_t first, uint64_t end);
/* A hook's quiet map has new runs (see BndQuietMap.whole). */
void bnd_quiet_changed(void);

/* after() for a DMA that bnd_after_dma() reports, with the access
 * record's fields as arguments (see BndHook.after_dma). */
typedef void BndAfterDmaFn(BndKind kind, uint64_t gpa, const void *data,
                           uint64_t len, void *opaque);

typedef struct BndHook {
    const char *name;
    /* The kinds of crossing the hook wants to see (BND_BIT()s); 0 means
     * every kind. Crossings of other kinds skip the hook entirely. */
    uint32_t kinds;
    bool (*before)(BndAccess *a, void *opaque);
    void (*after)(const BndAccess *a, void *opaque);
    void *opaque;
    void (*note)(const BndNote *n, void *opaque); /* annotations, optional */
    const BndQuietMap *dma_quiet; /* optional, see BndQuietMap */
    /* Optional: what after() would do for a DMA the machine performed
     * wholly in RAM in device context (ok, cpu -1, no size, devfn or
     * value; @data is the payload), which is nearly every DMA: the
     * inline path (ram.h) reports those through bnd_after_dma(), which
     * then builds no access record when every hook on the kind has this.
     * Other DMAs still come to after(). */
    BndAfterDmaFn *after_dma;
} BndHook;

/* A recorded run with device faults and the verifier has four (the
 * recorder takes two); room for tests and tools beside them. */
#define BND_MAX_HOOKS 6
extern unsigned bnd_nhooks;
/* The kinds some attached hook's before() / after() wants: what the inline
 * entry points test, one bit test per crossing. */
extern uint32_t bnd_before_kinds, bnd_after_kinds;
/* Hooks that take annotations (a note callback): the annotation entry
 * points test this one, so hooks without notes cost them nothing. */
extern unsigned bnd_nnotes;

bool bnd_hook_add(const BndHook *hook);
void bnd_hook_remove(const BndHook *hook);
void bnd_hooks_clear(void);

/* Per-kind counters, always on (they are one increment). */
extern uint64_t bnd_counts[BND_KIND_COUNT];
/* Sequence number of the last crossing: the trace's event index. */
uint64_t bnd_seq(void);

/*
 * Slow path, taken only with hooks attached: runs before-hooks; returns
 * true when one of them answered the access.
 */
bool bnd_before_slow(BndAccess *a);
void bnd_after_slow(const BndAccess *a);
/* The hooks after DMA_READ and DMA_WRITE, for bnd_after_dma(). */
typedef struct BndDmaAfter {
    BndAfterDmaFn *fn;
    void *opaque;
} BndDmaAfter;
/* Per DMA kind: the hook's own after_dma when it is the only hook after
 * the kind (the verifier, nearly always), else boundary.c's dispatcher
 * over the hooks; rebuilt with them. A DMA then reaches a lone hook in
 * one indirect call, with no test of how many there are. */
extern BndDmaAfter bnd_dma_after[2];

/*
 * The after-hooks' side of a device DMA that the machine performed wholly
 * in RAM (ok = true, device context), for ram.h's inline dma_read and
 * dma_write when no before-hook wants the kind: an access record is built
 * only for a hook without after_dma, and then once, in boundary.c, rather
 * than at every inline call site. The caller counts the crossing first,
 * as bnd_after() does.
 */
static inline void bnd_after_dma(BndKind kind, uint64_t gpa, const void *data,
                                 uint64_t len)
{
    const BndDmaAfter *h = &bnd_dma_after[kind - BND_DMA_READ];

    h->fn(kind, gpa, data, len, h->opaque);
}

void bnd_note_slow(const BndNote *n);

/*
 * Replay without device models dictates, at each yield point, whether the
 * running vCPU goes back to the main loop (true) or carries on (false), as
 * the recorded run did (system/cpu.c cpu_yield). NULL, the default, leaves
 * it to the scheduler policy and the event queue.
 */
typedef bool BndYieldOracle(unsigned cpu);
extern BndYieldOracle *bnd_yield_oracle;

/* Guest-side register access through an address from the windows. */
uint64_t bnd_mmio_read(uint64_t gpa, unsigned size);
void bnd_mmio_write(uint64_t gpa, uint64_t value, unsigned size);
uint64_t bnd_pio_read(uint16_t port, unsigned size);
void bnd_pio_write(uint16_t port, uint64_t value, unsigned size);

/* Virtual-time cost of register accesses (non-posted read, posted write). */
#define BND_MMIO_READ_NS  200
#define BND_MMIO_WRITE_NS 40

/* Generic notification for crossings whose work happens elsewhere (config
 * space in pci.c, DMA in ram.c, interrupts in cpu.c, scheduler picks).
 * Returns true when a before-hook answered (the caller skips the work). */
static inline bool bnd_before(BndAccess *a)
{
    return (bnd_before_kinds & BND_BIT(a->kind)) ? bnd_before_slow(a) : false;
}

static inline void bnd_after(const BndAccess *a)
{
    bnd_counts[a->kind]++;
    if (bnd_after_kinds & BND_BIT(a->kind)) {
        bnd_after_slow(a);
    }
}

/* The quiet map in force: the one DMA after-hook's, else an empty one. */
extern const BndQuietMap *bnd_dma_quiet;
/* What the inline DMA path tests: that map's runs when it is whole, else
 * BND_QUIET_ROOM zeros (a map that is not whole is then tested in
 * boundary.c, before the hook is called). */
extern const uint8_t *bnd_dma_quiet_runs;

/* Whether the granules of @len bytes at @gpa are within the quiet run
 * that starts at the first (runs[g]: quiet granules from g on), whose
 * entry the caller knows is in @runs. A wrapped or empty range has
 * g1 < g0, a difference no run reaches, unless it lies in one granule. */
static inline bool bnd_runs_cover(const uint8_t *runs, uint64_t gpa,
                                  uint64_t len)
{
    uint64_t g0 = gpa >> BND_QUIET_SHIFT;
    uint64_t g1 = (gpa + len - 1) >> BND_QUIET_SHIFT;

    return g1 - g0 < runs[g0];
}

/* Does a DMA of @len bytes at @gpa lie in @q's quiet granules (at most
 * BND_QUIET_RUN_MAX of them)? The test the map's owner makes first; a
 * run never passes q->n. */
static inline bool bnd_quiet_covers(const BndQuietMap *q, uint64_t gpa,
                                    uint64_t len)
{
    return (gpa >> BND_QUIET_SHIFT) < q->n && bnd_runs_cover(q->runs, gpa, len);
}

/*
 * Bumped (never 0) whenever what a DMA's hook tests answer may change:
 * the hooks and the map in force, on every rebuild of them
 * (bnd_hook_add(), bnd_hook_remove(), bnd_quiet_changed() ...), and the
 * quiet granules, on every bnd_quiet_add(). A device may keep, for a
 * fixed range of RAM (its rings), that at some generation no hook wanted
 * a DMA there (no before-hook on DMA, and no after-hook or the range is
 * quiet), and while the generation is the same make such a DMA with only
 * its count (bnd_counts): what dma_done_inline() does then.
 */
extern uint64_t bnd_dma_gen;

/* Does no after-hook need to see this DMA (the quiet map in force)? The
 * range lies in RAM, so its first granule is in bnd_dma_quiet_runs: the
 * test is bnd_quiet_covers()'s without the bound, or a load of the map. */
static inline bool bnd_dma_quiet_covers(uint64_t gpa, uint64_t len)
{
    return bnd_runs_cover(bnd_dma_quiet_runs, gpa, len);
}

/* Does any hook look at crossings of @kind? */
static inline bool bnd_watched(BndKind kind)
{
    return ((bnd_before_kinds | bnd_after_kinds) & BND_BIT(kind)) != 0;
}

/*
 * Annotation entry points. Macros, so that without a hook taking notes
 * the arguments are not even evaluated: one predicted branch.
 */
void bnd_note_srb_start(uint64_t req, int cpu, uint8_t path, uint8_t target,
                        uint8_t lun, uint8_t function, const void *cdb,
                        unsigned cdb_len, uint32_t data_len);
void bnd_note_srb_done(uint64_t req, int cpu, uint8_t srb_status,
                       uint8_t scsi_status, uint32_t transferred);
void bnd_note_irq_return(int cpu, unsigned vector);

#define BND_NOTE_SRB_START(...)                                                \
    do {                                                                       \
        if (bnd_nnotes) {                                                      \
            bnd_note_srb_start(__VA_ARGS__);                                   \
        }                                                                      \
    } while (0)

#define BND_NOTE_SRB_DONE(...)                                                 \
    do {                                                                       \
        if (bnd_nnotes) {                                                      \
            bnd_note_srb_done(__VA_ARGS__);                                    \
        }                                                                      \
    } while (0)

#define BND_NOTE_IRQ_RETURN(...)                                               \
    do {                                                                       \
        if (bnd_nnotes) {                                                      \
            bnd_note_irq_return(__VA_ARGS__);                                  \
        }                                                                      \
    } while (0)

#endif
