/* SPDX-License-Identifier: MIT */
/*
 * tp-device: the PCI function behind the port contract tests' physical
 * miniports (register map in tp-device.h). It only does what the tests
 * need to observe the port: completions after a virtual latency, level
 * INTx or per-queue MSI-X, and an optional DMA per command. The doorbell
 * schedules an Event; nothing completes inside the guest's register write
 * (STYLE.md, "MMIO handlers").
 */
#include <string.h>
#include "hw/core/memory.h"
#include "tests/helpers/tp-device.h"

static void tp_update_intx(TpDevice *d)
{
    bool any = false;

    if (msix_enabled(&d->pci)) {
        return;
    }
    for (unsigned q = 0; q < TP_QUEUES; q++) {
        any |= d->cq_count[q] != 0;
    }
    pci_set_irq(&d->pci, any);
}

static void tp_cq_push(TpDevice *d, unsigned q, uint16_t tag)
{
    if (d->cq_count[q] == TP_CQ_DEPTH) {
        d->errors++;
        return;
    }
    d->cq[q][(d->cq_head[q] + d->cq_count[q]) % TP_CQ_DEPTH] = tag;
    d->cq_count[q]++;
}

static uint32_t tp_cq_pop(TpDevice *d, unsigned q)
{
    uint16_t tag;

    if (!d->cq_count[q]) {
        return TP_CQ_EMPTY;
    }
    tag = d->cq[q][d->cq_head[q]];
    d->cq_head[q] = (d->cq_head[q] + 1) % TP_CQ_DEPTH;
    d->cq_count[q]--;
    return tag;
}

/* A command's latency has passed: DMA, post the tag, interrupt. */
static void tp_slot_done(void *opaque)
{
    TpSlot *s = opaque;
    TpDevice *d = s->dev;

    s->busy = false;
    if (s->dma_len) {
        g_autofree uint8_t *pattern = g_malloc(s->dma_len);
        memset(pattern, (int)(s->tag & 0xff), s->dma_len);
        if (pci_dma_write(&d->pci, s->dma_addr, pattern, s->dma_len)) {
            d->dmas++;
        } else {
            d->dma_failures++;
        }
    }
    tp_cq_push(d, s->queue, s->tag);
    d->completions++;
    if (msix_enabled(&d->pci)) {
        msix_notify(&d->pci, s->queue);
    } else {
        tp_update_intx(d);
    }
}

static void tp_doorbell(TpDevice *d, uint32_t v)
{
    unsigned q = (v >> 16) & 0xf;

    d->doorbells++;
    if (msix_enabled(&d->pci) && q >= d->msix_vectors) {
        d->errors++;
        return;
    }
    for (unsigned i = 0; i < TP_SLOTS; i++) {
        TpSlot *s = &d->slots[i];
        if (!s->busy) {
            s->busy = true;
            s->tag = (uint16_t)v;
            s->queue = (uint8_t)q;
            s->dma_addr = d->dma_addr;
            s->dma_len = d->dma_len;
            event_schedule_in(&s->ev, d->latency);
            return;
        }
    }
    d->errors++; /* more commands than slots: dropped, as hardware would */
}

static void tp_reset(TpDevice *d)
{
    d->resets++;
    for (unsigned i = 0; i < TP_SLOTS; i++) {
        event_cancel(&d->slots[i].ev);
        d->slots[i].busy = false;
    }
    memset(d->cq_count, 0, sizeof(d->cq_count));
    memset(d->cq_head, 0, sizeof(d->cq_head));
    tp_update_intx(d);
}

static uint64_t tp_read(void *opaque, uint64_t off, unsigned size)
{
    TpDevice *d = opaque;
    uint32_t v = 0;

    d->reg_reads++;
    if (off >= TP_REG_CQ(0) && off < TP_REG_CQ(TP_QUEUES)) {
        v = tp_cq_pop(d, (unsigned)(off - TP_REG_CQ(0)) / 4);
        tp_update_intx(d);
        return v;
    }
    switch (off) {
    case TP_REG_ID:
        return TP_DEVICE_MAGIC;
    case TP_REG_STATUS:
        for (unsigned q = 0; q < TP_QUEUES; q++) {
            v |= (d->cq_count[q] ? 1u : 0u) << q;
        }
        return v;
    case TP_REG_LATENCY:
        return d->latency;
    case TP_REG_DMA_LO:
        return (uint32_t)d->dma_addr;
    case TP_REG_DMA_HI:
        return (uint32_t)(d->dma_addr >> 32);
    case TP_REG_DMA_LEN:
        return d->dma_len;
    default:
        d->errors++;
        return 0;
    }
}

static void tp_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    TpDevice *d = opaque;

    d->reg_writes++;
    switch (off) {
    case TP_REG_DOORBELL:
        tp_doorbell(d, (uint32_t)v);
        break;
    case TP_REG_LATENCY:
        d->latency = (uint32_t)v;
        break;
    case TP_REG_DMA_LO:
        d->dma_addr = (d->dma_addr & ~0xffffffffULL) | (uint32_t)v;
        break;
    case TP_REG_DMA_HI:
        d->dma_addr = (d->dma_addr & 0xffffffffULL) | (v << 32);
        break;
    case TP_REG_DMA_LEN:
        d->dma_len = (uint32_t)v;
        break;
    case TP_REG_CTRL:
        if (v & TP_CTRL_RESET) {
            tp_reset(d);
        }
        break;
    default:
        d->errors++;
        break;
    }
}

static const MemoryRegionOps tp_ops = {
    .read = tp_read,
    .write = tp_write,
    .min_access_size = 4,
    .max_access_size = 4,
};

static const PCIDeviceInfo tp_info = {
    .vendor_id = TP_DEVICE_VENDOR,
    .device_id = TP_DEVICE_ID,
    .class_code = TP_DEVICE_CLASS,
    .intx_pin = 1,
};

TpDevice *tp_device_new(PCIBusState *bus, unsigned msix_vectors, GError **errp)
{
    TpDevice *d = g_new0(TpDevice, 1);

    pci_device_init(&d->pci, "tp-device", &tp_info);
    memory_region_init(&d->regs, "tp-regs", &tp_ops, d, TP_REGS_SIZE);
    pci_register_bar(&d->pci, 0, PCI_BAR_MEM32, &d->regs);
    d->latency = TP_DEVICE_LATENCY;
    d->msix_vectors = MIN(msix_vectors, (unsigned)TP_QUEUES);
    for (unsigned i = 0; i < TP_SLOTS; i++) {
        d->slots[i].dev = d;
        event_init(&d->slots[i].ev, "tp-complete", tp_slot_done, &d->slots[i]);
    }
    if (d->msix_vectors &&
        !msix_init(&d->pci, d->msix_vectors, 2, 0, 2, 0x800, errp)) {
        pci_device_fini(&d->pci);
        g_free(d);
        return NULL;
    }
    if (!pci_bus_add(bus, &d->pci, -1, errp)) {
        pci_device_fini(&d->pci);
        g_free(d);
        return NULL;
    }
    return d;
}

void tp_device_free(TpDevice *d)
{
    if (!d) {
        return;
    }
    for (unsigned i = 0; i < TP_SLOTS; i++) {
        event_cancel(&d->slots[i].ev);
    }
    pci_device_fini(&d->pci);
    g_free(d);
}

unsigned tp_device_in_flight(const TpDevice *d)
{
    unsigned n = 0;

    for (unsigned i = 0; i < TP_SLOTS; i++) {
        n += d->slots[i].busy;
    }
    return n;
}
