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
    BND_SCHED,       /* value = vCPU chosen, addr = candidate mask */
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

typedef struct BndHook {
    const char *name;
    bool (*before)(BndAccess *a, void *opaque);
    void (*after)(const BndAccess *a, void *opaque);
    void *opaque;
} BndHook;

#define BND_MAX_HOOKS 4
extern unsigned bnd_nhooks;

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
    return bnd_nhooks ? bnd_before_slow(a) : false;
}

static inline void bnd_after(const BndAccess *a)
{
    bnd_counts[a->kind]++;
    if (bnd_nhooks) {
        bnd_after_slow(a);
    }
}

#endif
