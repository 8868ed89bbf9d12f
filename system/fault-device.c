/* SPDX-License-Identifier: MIT */
/*
 * Fault injection at the boundary layer (boundary.h): the device faults
 * that are crossings gone wrong.
 *
 *  - Interrupts. A device fault that follows a request (irq-drop,
 *    irq-delay, irq-duplicate) fires when the request completes and acts
 *    on the next interrupt the device raises (the one that would tell the
 *    driver): suppressed, suppressed and sent again ns later, or let
 *    through and sent a second time. Interrupts sent again go out as
 *    message-signalled edges to the same vector (an INTx line cannot be
 *    raised "again" while the device holds it), so they reach the handler
 *    once each, as late or extra messages do.
 *  - DMA (dma-error). The data transfer of the chosen command is refused
 *    at the boundary (BndAccess.ok false), so the device's own DMA error
 *    path runs (scsi-bus.h: SCSI_HOST_DMA_ERROR).
 *  - Doorbells (doorbell-ignore). A write to a virtio function's notify
 *    region (found from its vendor capability, virtio 1.2 4.1.4.4) is
 *    dropped; the queue is the request queue the written index names.
 *  - Removal (surprise-remove). From the firing on, every config and
 *    register read of the function returns all ones and every write is
 *    dropped; the device model itself is hung, so it neither completes,
 *    interrupts nor touches memory any more.
 *
 * Replay without device models (device=off): there is no device to act
 * on; the trace carries what the device did. What a fault suppressed at
 * the boundary (a dropped or delayed interrupt, a failed DMA) is acted
 * out again from the trace's fault records, at the same crossing.
 */
#include <inttypes.h>
#include <string.h>
#include "hw/core/irqchip.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "hw/virtio-scsi/virtio-scsi.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/fault-int.h"
#include "system/trace.h"

typedef struct Reraise {
    Event ev;
    Fault *f;
    unsigned cpu, vector;
} Reraise;

static struct {
    GQueue pending;       /* Fault*: act on the next interrupt raised */
    GPtrArray *reraises;  /* Reraise* scheduled */
    bool reinjecting;     /* our own raise is crossing: leave it alone */
    SCSIRequest *dma_req; /* dma-error: the command whose DMA fails */
    Fault *dma_fault;
    bool index_points; /* a point kind waits for an event index */
    bool doorbells;    /* a doorbell-ignore fault is armed */
} dv;

static void reraise_event(void *opaque)
{
    Reraise *r = opaque;

    dv.reinjecting = true;
    irqchip_msi(irqchip_msi_address(r->cpu), irqchip_msi_data(r->vector));
    dv.reinjecting = false;
    g_ptr_array_remove_fast(dv.reraises, r);
}

static void reraise_free(gpointer p)
{
    Reraise *r = p;

    event_cancel(&r->ev);
    g_free(r);
}

static void reraise_at(Fault *f, unsigned cpu, unsigned vector, uint64_t when)
{
    Reraise *r = g_new0(Reraise, 1);

    r->f = f;
    r->cpu = cpu;
    r->vector = vector;
    event_init(&r->ev, "fault-irq", reraise_event, r);
    g_ptr_array_add(dv.reraises, r);
    event_schedule(&r->ev, when);
}

/* ---- interrupts ---- */

void fault_irq_arm(Fault *f, FaultHba *h)
{
    (void)h;
    g_queue_push_tail(&dv.pending, f);
}

static bool irq_before(BndAccess *a)
{
    bool level = a->value & IRQCHIP_BND_LEVEL;
    Fault *f;

    if (dv.reinjecting || !(a->value & IRQCHIP_BND_ASSERT)) {
        return false;
    }
    f = g_queue_peek_head(&dv.pending);
    if (!f || (f->has_vcpu && a->cpu != (int)f->vcpu)) {
        return false;
    }
    g_queue_pop_head(&dv.pending);
    switch (f->kind) {
    case FK_IRQ_DROP:
        fault_effect(f, "interrupt to cpu %d vector 0x%" PRIx64 " dropped%s",
                     a->cpu, a->addr, level ? " (INTx)" : "");
        return true;
    case FK_IRQ_DELAY:
        fault_effect(f,
                     "interrupt to cpu %d vector 0x%" PRIx64 " delayed by "
                     "%" PRIu64 " ns",
                     a->cpu, a->addr, f->ns);
        reraise_at(f, (unsigned)a->cpu, (unsigned)a->addr,
                   vclock_now() + f->ns);
        return true;
    case FK_IRQ_DUPLICATE:
        fault_effect(f, "interrupt to cpu %d vector 0x%" PRIx64 " raised twice",
                     a->cpu, a->addr);
        reraise_at(f, (unsigned)a->cpu, (unsigned)a->addr, vclock_now());
        return false;
    default:
        return false;
    }
}

/* The port's route for the adapter on @pci: its first message, or INTx. */
static bool adapter_route(PCIDevice *pci, unsigned which, unsigned *cpu,
                          unsigned *vector)
{
    for (unsigned i = 0; port.loaded && i < port.nadapters; i++) {
        PortAdapter *a = port.adapters[i];
        if (a->pci != pci) {
            continue;
        }
        if (a->use_msi && a->nmsg) {
            /* From the last message down: with one message per queue the
             * request queues come last. */
            PortMessage *m = &a->msg[a->nmsg - 1 - which % a->nmsg];
            *cpu = m->cpu;
            *vector = m->vector;
            return true;
        }
        if (a->intx) {
            *cpu = a->intx_cpu;
            *vector = a->intx_vector;
            return true;
        }
    }
    return false;
}

void fault_irq_spurious(Fault *f, FaultHba *h)
{
    unsigned cpu, vector;

    if (!adapter_route(h->pci, (unsigned)f->fired, &cpu, &vector)) {
        fault_fire(f, "no interrupt is connected: nothing raised");
        return;
    }
    fault_fire(f, "interrupt to cpu %u vector 0x%x with nothing behind it", cpu,
               vector);
    dv.reinjecting = true;
    irqchip_msi(irqchip_msi_address(cpu), irqchip_msi_data(vector));
    dv.reinjecting = false;
}

/* ---- DMA ---- */

void fault_dma_arm(Fault *f, SCSIRequest *req)
{
    dv.dma_req = req;
    dv.dma_fault = f;
}

void fault_dma_disarm(SCSIRequest *req)
{
    if (dv.dma_req == req) {
        dv.dma_req = NULL;
        dv.dma_fault = NULL;
    }
}

static bool in_sg(const SCSIRequest *req, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < req->nsg; i++) {
        const DmaSgEntry *e = &req->sg[i];
        if (gpa >= e->addr && gpa - e->addr < e->len &&
            len <= e->len - (gpa - e->addr)) {
            return true;
        }
    }
    return false;
}

static bool dma_before(BndAccess *a)
{
    if (!dv.dma_req || a->cpu >= 0 || !in_sg(dv.dma_req, a->addr, a->len)) {
        return false;
    }
    fault_effect(
        dv.dma_fault, "DMA %s of %" PRIu64 " bytes at 0x%" PRIx64 " failed",
        a->kind == BND_DMA_READ ? "from memory" : "to memory", a->len, a->addr);
    a->ok = false;
    /* One failure is enough: the transfer stops there. */
    dv.dma_req = NULL;
    dv.dma_fault = NULL;
    return true;
}

/* ---- registers, config space, doorbells ---- */

static uint64_t all_ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1;
}

static bool in_bars(PCIDevice *pci, uint64_t addr, bool io)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        uint64_t size = pci_bar_size(pci, i);
        uint64_t base = pci_bar_mapped_addr(pci, i);

        if (!size || base == PCI_BAR_UNMAPPED ||
            ((pci_bar_type(pci, i) & PCI_BAR_IO) != 0) != io) {
            continue;
        }
        if (addr >= base && addr - base < size) {
            return true;
        }
    }
    return false;
}

/* The notify region of a virtio function, from its capability. */
static bool notify_region(PCIDevice *pci, uint64_t *base, uint64_t *len)
{
    const uint8_t *c = pci->config;
    unsigned ptr = c[PCI_CFG_CAP_PTR] & ~3u;

    for (unsigned guard = 0; ptr >= PCI_CFG_HEADER_SIZE && guard < 48;
         guard++) {
        if (ptr + VIRTIO_PCI_CAP_LENGTH + 4 > PCI_CONFIG_SPACE_SIZE) {
            return false;
        }
        if (c[ptr] == PCI_CAP_ID_VNDR &&
            c[ptr + VIRTIO_PCI_CAP_CFG_TYPE] == VIRTIO_PCI_CAP_NOTIFY_CFG) {
            unsigned bar = c[ptr + VIRTIO_PCI_CAP_BAR];
            uint64_t b = bar < PCI_NUM_BARS ? pci_bar_mapped_addr(pci, bar)
                                            : PCI_BAR_UNMAPPED;
            if (b == PCI_BAR_UNMAPPED) {
                return false;
            }
            *base = b + pci_get_long(c + ptr + VIRTIO_PCI_CAP_OFFSET);
            *len = pci_get_long(c + ptr + VIRTIO_PCI_CAP_LENGTH);
            return true;
        }
        ptr = c[ptr + 1] & ~3u;
    }
    return false;
}

static bool doorbell_before(BndAccess *a, FaultHba *h)
{
    uint64_t base, len;
    FaultState *s = &fault_state;
    PortRequest *cur = mp_current_request();

    if (!notify_region(h->pci, &base, &len) || a->addr < base ||
        a->addr - base >= len) {
        return false;
    }
    /* A doorbell for one of the port's own requests (the bus scan, the
     * flush before a stop) is not an opportunity, as for request faults. */
    if (cur && cur->internal) {
        return false;
    }
    for (guint i = 0; i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);
        /* The driver writes the queue's index (4.1.5.2); request queue N
         * is virtqueue N + 2. */
        unsigned vq = (unsigned)a->value;

        if (f->kind != FK_DOORBELL_IGNORE ||
            (f->has_queue && vq != f->queue + VIRTIO_SCSI_VQ_REQUEST) ||
            (f->has_vcpu && a->cpu != (int)f->vcpu) || !fault_try(f)) {
            continue;
        }
        if (vq >= VIRTIO_SCSI_VQ_REQUEST) {
            fault_fire(f, "doorbell of request queue %u ignored",
                       vq - VIRTIO_SCSI_VQ_REQUEST);
            if (cur) {
                /* The request the miniport was starting when it rang. */
                fault_track_srb(f, cur->id, "its doorbell was ignored");
            }
        } else {
            fault_fire(f, "doorbell of %s queue ignored",
                       vq == VIRTIO_SCSI_VQ_CONTROL ? "the control"
                                                    : "the event");
        }
        return true;
    }
    return false;
}

static bool reg_before(BndAccess *a)
{
    FaultState *s = &fault_state;
    bool read = a->kind == BND_MMIO_READ || a->kind == BND_PIO_READ;
    bool io = a->kind == BND_PIO_READ || a->kind == BND_PIO_WRITE;

    for (guint i = 0; i < s->hbas->len; i++) {
        FaultHba *h = g_ptr_array_index(s->hbas, i);

        if (h->removed && in_bars(h->pci, a->addr, io)) {
            a->value = read ? all_ones(a->size) : a->value;
            return true;
        }
        if (dv.doorbells && a->kind == BND_MMIO_WRITE &&
            doorbell_before(a, h)) {
            return true;
        }
    }
    return false;
}

static bool cfg_before(BndAccess *a)
{
    FaultState *s = &fault_state;

    for (guint i = 0; i < s->hbas->len; i++) {
        FaultHba *h = g_ptr_array_index(s->hbas, i);
        if (h->removed && a->devfn == pci_device_bdf(h->pci)) {
            if (a->kind == BND_CFG_READ) {
                a->value = all_ones(a->size);
            }
            return true;
        }
    }
    return false;
}

void fault_hba_remove(Fault *f, FaultHba *h)
{
    if (h->removed) {
        return;
    }
    h->removed = true;
    fault_hba_fail(h, VSCSI_FAIL_HANG);
    TRACE(fault_removed, "%s: reads all ones from now on", h->pci->name);
}

/* ---- the hook ---- */

/* device=off: act out what the recording's faults did to this crossing. */
static bool replayed_before(BndAccess *a)
{
    FaultKind k;

    if (a->kind != BND_IRQ_RAISE && a->kind != BND_DMA_READ &&
        a->kind != BND_DMA_WRITE) {
        return false;
    }
    if (!fault_replay_effect_at(bnd_seq(), &k)) {
        return false;
    }
    if (a->kind == BND_IRQ_RAISE) {
        return k == FK_IRQ_DROP || k == FK_IRQ_DELAY;
    }
    if (k == FK_DMA_ERROR) {
        a->ok = false;
        return true;
    }
    return false;
}

static bool hook_before(BndAccess *a, void *opaque)
{
    (void)opaque;
    if (fault_state.devices_off) {
        return replayed_before(a);
    }
    switch (a->kind) {
    case BND_IRQ_RAISE:
        return irq_before(a);
    case BND_DMA_READ:
    case BND_DMA_WRITE:
        return dma_before(a);
    case BND_MMIO_READ:
    case BND_MMIO_WRITE:
    case BND_PIO_READ:
    case BND_PIO_WRITE:
        return reg_before(a);
    case BND_CFG_READ:
    case BND_CFG_WRITE:
        return cfg_before(a);
    default:
        return false;
    }
}

static void hook_after(const BndAccess *a, void *opaque)
{
    (void)a;
    (void)opaque;
    if (dv.index_points) {
        fault_check_points();
    }
}

static void hook_note(const BndNote *n, void *opaque)
{
    (void)opaque;
    fault_note(n);
}

static const BndHook fault_hook = {
    .name = "fault",
    .before = hook_before,
    .after = hook_after,
    .note = hook_note,
};

bool fault_device_attach(GError **errp)
{
    FaultState *s = &fault_state;

    g_queue_init(&dv.pending);
    dv.reraises = g_ptr_array_new_with_free_func(reraise_free);
    dv.reinjecting = false;
    dv.dma_req = NULL;
    dv.index_points = false;
    dv.doorbells = false;
    for (guint i = 0; i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);
        dv.index_points |=
            f->has_at && !f->at_time && fault_kind_is_point(f->kind);
        dv.doorbells |= f->kind == FK_DOORBELL_IGNORE;
    }
    if (!bnd_hook_add(&fault_hook)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-fault: too many boundary hooks");
        return false;
    }
    s->hooked = true;
    return true;
}

void fault_device_detach(void)
{
    FaultState *s = &fault_state;

    if (s->hooked) {
        bnd_hook_remove(&fault_hook);
        s->hooked = false;
    }
    g_queue_clear(&dv.pending);
    g_clear_pointer(&dv.reraises, g_ptr_array_unref);
    dv.dma_req = NULL;
    dv.dma_fault = NULL;
}
