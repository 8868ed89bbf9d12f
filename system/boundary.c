/* SPDX-License-Identifier: MIT */
/*
 * The boundary layer: hook chain and the guest-side register accessors.
 * Register accesses charge virtual time (a non-posted read costs more than
 * a posted write, as on PCIe) and end in a yield point, so a driver that
 * polls a register lets devices and other vCPUs make progress.
 */
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
static BndHook hooks[BND_MAX_HOOKS];

static inline uint32_t hook_kinds(const BndHook *h)
{
    return h->kinds ? h->kinds : BND_ALL_KINDS;
}

static void recompute_kinds(void)
{
    bnd_before_kinds = bnd_after_kinds = 0;
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        if (hooks[i].before) {
            bnd_before_kinds |= hook_kinds(&hooks[i]);
        }
        if (hooks[i].after) {
            bnd_after_kinds |= hook_kinds(&hooks[i]);
        }
    }
}

bool bnd_hook_add(const BndHook *hook)
{
    if (bnd_nhooks == BND_MAX_HOOKS) {
        return false;
    }
    hooks[bnd_nhooks] = *hook;
    /* once here, not at every crossing */
    hooks[bnd_nhooks++].kinds = hook_kinds(hook);
    bnd_nnotes += hook->note != NULL;
    recompute_kinds();
    return true;
}

void bnd_hook_remove(const BndHook *hook)
{
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        if (hooks[i].before == hook->before && hooks[i].after == hook->after &&
            hooks[i].opaque == hook->opaque) {
            bnd_nnotes -= hooks[i].note != NULL;
            for (unsigned j = i + 1; j < bnd_nhooks; j++) {
                hooks[j - 1] = hooks[j];
            }
            bnd_nhooks--;
            recompute_kinds();
            return;
        }
    }
}

void bnd_hooks_clear(void)
{
    bnd_nhooks = 0;
    bnd_nnotes = 0;
    bnd_before_kinds = bnd_after_kinds = 0;
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
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        if (hooks[i].before && (hooks[i].kinds & BND_BIT(a->kind)) &&
            hooks[i].before(a, hooks[i].opaque)) {
            return true;
        }
    }
    return false;
}

void bnd_after_slow(const BndAccess *a)
{
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        if (hooks[i].after && (hooks[i].kinds & BND_BIT(a->kind))) {
            hooks[i].after(a, hooks[i].opaque);
        }
    }
}

void bnd_note_slow(const BndNote *n)
{
    for (unsigned i = 0; i < bnd_nhooks; i++) {
        if (hooks[i].note) {
            hooks[i].note(n, hooks[i].opaque);
        }
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
