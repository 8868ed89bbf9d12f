/* SPDX-License-Identifier: MIT */
/*
 * The test-side virtio PCI driver of tests/device/virtio-driver.h: the
 * capability walk, register access through the boundary layer, split
 * rings laid out in guest RAM, and an interrupt log (OASIS virtio 4.1,
 * 2.7).
 */
#include <string.h>
#include <glib.h>
#include "hw/core/irqchip.h"
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "system/boundary.h"
#include "system/event.h"
#include "tests/device/virtio-driver.h"

VDrvIrqLog vdrv_irqs;

/* ---- memory -------------------------------------------------------------- */

uint64_t vdrv_alloc(uint64_t size)
{
    void *p = ram_alloc(size ? size : 1, 64, 0, "vdrv");
    uint64_t gpa = 0;

    g_assert_nonnull(p);
    g_assert_true(ram_gpa(p, &gpa));
    return gpa;
}

void *vdrv_ptr(uint64_t gpa)
{
    void *p = ram_ptr(gpa, 1);

    g_assert_nonnull(p);
    return p;
}

static uint16_t ld16(const uint8_t *p)
{
    return pci_get_word(p);
}

static void st16(uint8_t *p, uint16_t v)
{
    pci_set_word(p, v);
}

/* ---- capabilities -------------------------------------------------------- */

static uint64_t bar_address(PCIDevice *pci, unsigned bar)
{
    uint32_t lo = pci_config_read(pci, PCI_CFG_BAR(bar), 4);
    uint64_t addr = lo & ~0xfULL;

    if ((lo & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM64 && bar < 5) {
        addr |= (uint64_t)pci_config_read(pci, PCI_CFG_BAR(bar + 1), 4) << 32;
    }
    return addr;
}

bool vdrv_probe(VDrv *d, PCIDevice *pci)
{
    unsigned guard = 0;
    uint8_t cap;

    memset(d, 0, sizeof(*d));
    d->pci = pci;
    if (!(pci_config_read(pci, PCI_CFG_STATUS, 2) & PCI_STS_CAP_LIST)) {
        return false;
    }
    cap = pci_config_read(pci, PCI_CFG_CAP_PTR, 1) & ~3u;
    while (cap && guard++ < 48) {
        uint8_t id = pci_config_read(pci, cap + PCI_CAP_ID_OFF, 1);

        if (id == PCI_CAP_ID_VNDR) {
            uint8_t type =
                pci_config_read(pci, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1);
            uint8_t bar = pci_config_read(pci, cap + VIRTIO_PCI_CAP_BAR, 1);
            uint32_t off = pci_config_read(pci, cap + VIRTIO_PCI_CAP_OFFSET, 4);
            uint32_t len = pci_config_read(pci, cap + VIRTIO_PCI_CAP_LENGTH, 4);
            uint64_t addr =
                bar < PCI_NUM_BARS ? bar_address(pci, bar) + off : 0;

            /* The first of each type is the preferred one (4.1.4.1). */
            if (type == VIRTIO_PCI_CAP_COMMON_CFG && !d->cap_common) {
                d->cap_common = cap;
                d->common = addr;
                d->common_len = len;
            } else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !d->cap_notify) {
                d->cap_notify = cap;
                d->notify = addr;
                d->notify_len = len;
                d->notify_mult =
                    pci_config_read(pci, cap + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
            } else if (type == VIRTIO_PCI_CAP_ISR_CFG && !d->cap_isr) {
                d->cap_isr = cap;
                d->isr = addr;
                d->isr_len = len;
            } else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !d->cap_device) {
                d->cap_device = cap;
                d->device = addr;
                d->device_len = len;
            } else if (type == VIRTIO_PCI_CAP_PCI_CFG && !d->cap_pci_cfg) {
                d->cap_pci_cfg = cap;
            }
        } else if (id == PCI_CAP_ID_MSIX) {
            uint32_t table = pci_config_read(pci, cap + PCI_MSIX_TABLE_OFF, 4);

            d->cap_msix = cap;
            d->msix_size = (pci_config_read(pci, cap + PCI_MSIX_CTRL, 2) &
                            PCI_MSIX_CTRL_SIZE_MASK) +
                           1;
            d->msix_table = bar_address(pci, table & PCI_MSIX_BIR_MASK) +
                            (table & ~(uint32_t)PCI_MSIX_BIR_MASK);
        }
        cap = pci_config_read(pci, cap + PCI_CAP_NEXT_OFF, 1) & ~3u;
    }
    return d->cap_common && d->cap_notify && d->cap_isr && d->cap_device;
}

void vdrv_fini(VDrv *d)
{
    for (unsigned q = 0; q < VDRV_QUEUES_MAX; q++) {
        g_free(d->q[q].next_free);
        g_free(d->q[q].chain_len);
        g_free(d->q[q].indirect);
    }
    memset(d, 0, sizeof(*d));
}

/* ---- registers ----------------------------------------------------------- */

uint64_t vdrv_common_read(VDrv *d, unsigned off, unsigned size)
{
    return bnd_mmio_read(d->common + off, size);
}

void vdrv_common_write(VDrv *d, unsigned off, uint64_t val, unsigned size)
{
    bnd_mmio_write(d->common + off, val, size);
}

uint64_t vdrv_device_read(VDrv *d, unsigned off, unsigned size)
{
    return bnd_mmio_read(d->device + off, size);
}

void vdrv_device_write(VDrv *d, unsigned off, uint64_t val, unsigned size)
{
    bnd_mmio_write(d->device + off, val, size);
}

uint8_t vdrv_isr_read(VDrv *d)
{
    return (uint8_t)bnd_mmio_read(d->isr, 1);
}

void vdrv_notify(VDrv *d, unsigned q)
{
    bnd_mmio_write(d->notify + (uint64_t)d->q[q].notify_off * d->notify_mult, q,
                   2);
}

uint8_t vdrv_status(VDrv *d)
{
    return (uint8_t)vdrv_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1);
}

void vdrv_set_status(VDrv *d, uint8_t status)
{
    vdrv_common_write(d, VIRTIO_PCI_COMMON_STATUS, status, 1);
}

void vdrv_reset(VDrv *d)
{
    vdrv_set_status(d, 0);
    /* 4.1.4.3.2: wait for the status to read back 0. */
    for (unsigned i = 0; i < 1000 && vdrv_status(d); i++) {
        vdrv_run_now();
    }
    g_assert_cmpuint(vdrv_status(d), ==, 0);
    for (unsigned q = 0; q < VDRV_QUEUES_MAX; q++) {
        g_free(d->q[q].next_free);
        g_free(d->q[q].chain_len);
        g_free(d->q[q].indirect);
        memset(&d->q[q], 0, sizeof(d->q[q]));
    }
}

uint64_t vdrv_device_features(VDrv *d)
{
    uint64_t f;

    vdrv_common_write(d, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    f = (uint32_t)vdrv_common_read(d, VIRTIO_PCI_COMMON_DF, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    f |= vdrv_common_read(d, VIRTIO_PCI_COMMON_DF, 4) << 32;
    return f;
}

void vdrv_write_features(VDrv *d, uint64_t features)
{
    vdrv_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_GF, (uint32_t)features, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_GF, features >> 32, 4);
    d->features = features;
}

bool vdrv_negotiate(VDrv *d, uint64_t features)
{
    vdrv_reset(d);
    vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vdrv_write_features(d, features);
    vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                           VIRTIO_STATUS_FEATURES_OK);
    return vdrv_status(d) & VIRTIO_STATUS_FEATURES_OK;
}

void vdrv_driver_ok(VDrv *d)
{
    vdrv_set_status(d, vdrv_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

uint16_t vdrv_queue_setup(VDrv *d, unsigned q, uint16_t size, uint16_t vector)
{
    VDrvQueue *vq = &d->q[q];

    g_assert_cmpuint(q, <, VDRV_QUEUES_MAX);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
    if (size) {
        vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
    }
    size = (uint16_t)vdrv_common_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    g_assert_cmpuint(size, >, 0);
    g_free(vq->next_free);
    g_free(vq->chain_len);
    g_free(vq->indirect);
    memset(vq, 0, sizeof(*vq));
    vq->index = (uint16_t)q;
    vq->size = size;
    vq->desc = vdrv_alloc(VIRTQ_DESC_TABLE_SIZE(size));
    vq->avail = vdrv_alloc(VIRTQ_AVAIL_SIZE(size));
    vq->used = vdrv_alloc(VIRTQ_USED_SIZE(size));
    vq->desc_p = vdrv_ptr(vq->desc);
    vq->avail_p = vdrv_ptr(vq->avail);
    vq->used_p = vdrv_ptr(vq->used);
    vq->next_free = g_new0(uint16_t, size);
    vq->chain_len = g_new0(uint16_t, size);
    vq->indirect = g_new0(uint64_t, size);
    for (unsigned i = 0; i < size; i++) {
        vq->next_free[i] = (uint16_t)(i + 1);
    }
    vq->free_head = 0;
    vq->num_free = size;
    vq->notify_off = (uint16_t)vdrv_common_read(d, VIRTIO_PCI_COMMON_Q_NOFF, 2);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)vq->desc, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_DESCHI, vq->desc >> 32, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)vq->avail, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_AVAILHI, vq->avail >> 32, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)vq->used, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_USEDHI, vq->used >> 32, 4);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_MSIX, vector, 2);
    vdrv_common_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    vq->set_up = true;
    return size;
}

/* ---- MSI-X --------------------------------------------------------------- */

void vdrv_msix_enable(VDrv *d)
{
    uint16_t ctrl;

    g_assert_cmpuint(d->cap_msix, !=, 0);
    ctrl = pci_config_read(d->pci, d->cap_msix + PCI_MSIX_CTRL, 2);
    pci_config_write(d->pci, d->cap_msix + PCI_MSIX_CTRL,
                     (ctrl | PCI_MSIX_CTRL_ENABLE) & ~PCI_MSIX_CTRL_MASKALL, 2);
}

void vdrv_msix_program(VDrv *d, unsigned entry, unsigned cpu, unsigned vector)
{
    uint64_t e = d->msix_table + (uint64_t)entry * PCI_MSIX_ENTRY_SIZE;

    bnd_mmio_write(e + PCI_MSIX_ENTRY_ADDR_LO,
                   (uint32_t)irqchip_msi_address(cpu), 4);
    bnd_mmio_write(e + PCI_MSIX_ENTRY_ADDR_HI, irqchip_msi_address(cpu) >> 32,
                   4);
    bnd_mmio_write(e + PCI_MSIX_ENTRY_DATA, irqchip_msi_data(vector), 4);
    bnd_mmio_write(e + PCI_MSIX_ENTRY_CTRL, 0, 4);
}

void vdrv_msix_mask(VDrv *d, unsigned entry, bool masked)
{
    bnd_mmio_write(d->msix_table + (uint64_t)entry * PCI_MSIX_ENTRY_SIZE +
                       PCI_MSIX_ENTRY_CTRL,
                   masked ? PCI_MSIX_ENTRY_CTRL_MASK : 0, 4);
}

/* ---- rings --------------------------------------------------------------- */

static void put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    pci_set_quad(p + offsetof(VirtqDesc, addr), addr);
    pci_set_long(p + offsetof(VirtqDesc, len), len);
    pci_set_word(p + offsetof(VirtqDesc, flags), flags);
    pci_set_word(p + offsetof(VirtqDesc, next), next);
}

void vdrv_write_desc(VDrv *d, unsigned q, uint16_t i, uint64_t addr,
                     uint32_t len, uint16_t flags, uint16_t next)
{
    put_desc(d->q[q].desc_p + 16 * (uint64_t)i, addr, len, flags, next);
}

void vdrv_publish(VDrv *d, unsigned q, uint16_t head)
{
    VDrvQueue *vq = &d->q[q];

    st16(vq->avail_p + VIRTQ_AVAIL_RING(vq->avail_idx % vq->size), head);
    vq->avail_idx++;
    st16(vq->avail_p + VIRTQ_AVAIL_IDX, vq->avail_idx);
}

void vdrv_set_avail_idx(VDrv *d, unsigned q, uint16_t idx)
{
    d->q[q].avail_idx = idx;
    st16(d->q[q].avail_p + VIRTQ_AVAIL_IDX, idx);
}

static uint16_t take_desc(VDrvQueue *vq)
{
    uint16_t i = vq->free_head;

    g_assert_cmpuint(vq->num_free, >, 0);
    vq->free_head = vq->next_free[i];
    vq->num_free--;
    return i;
}

uint16_t vdrv_add_chain(VDrv *d, unsigned q, const VDrvBuf *bufs, unsigned n,
                        bool indirect)
{
    VDrvQueue *vq = &d->q[q];
    uint16_t head;

    g_assert_true(vq->set_up);
    g_assert_cmpuint(n, >, 0);
    if (indirect) {
        uint64_t table = vdrv_alloc(16 * (uint64_t)n);
        uint8_t *t = vdrv_ptr(table);

        for (unsigned i = 0; i < n; i++) {
            put_desc(t + 16 * i, bufs[i].gpa, bufs[i].len,
                     (bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                         (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
                     (uint16_t)(i + 1 < n ? i + 1 : 0));
        }
        head = take_desc(vq);
        vdrv_write_desc(d, q, head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
        vq->chain_len[head] = 1;
        vq->indirect[head] = table;
    } else {
        uint16_t idx[1024];

        g_assert_cmpuint(n, <=, vq->num_free);
        g_assert_cmpuint(n, <=, G_N_ELEMENTS(idx));
        for (unsigned i = 0; i < n; i++) {
            idx[i] = take_desc(vq);
        }
        for (unsigned i = 0; i < n; i++) {
            vdrv_write_desc(d, q, idx[i], bufs[i].gpa, bufs[i].len,
                            (bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
                            i + 1 < n ? idx[i + 1] : 0);
        }
        head = idx[0];
        vq->chain_len[head] = (uint16_t)n;
        vq->indirect[head] = 0;
    }
    vdrv_publish(d, q, head);
    return head;
}

uint16_t vdrv_used_pending(VDrv *d, unsigned q)
{
    VDrvQueue *vq = &d->q[q];

    return (uint16_t)(ld16(vq->used_p + VIRTQ_USED_IDX) - vq->last_used);
}

bool vdrv_get_used(VDrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
    VDrvQueue *vq = &d->q[q];
    const uint8_t *el;
    uint16_t i;

    if (!vdrv_used_pending(d, q)) {
        return false;
    }
    el = vq->used_p + VIRTQ_USED_RING(vq->last_used % vq->size);
    *id = pci_get_long(el);
    *len = pci_get_long(el + 4);
    vq->last_used++;
    if ((d->features & VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX)) &&
        !d->manual_used_event) {
        st16(vq->avail_p + VIRTQ_AVAIL_USED_EVENT(vq->size), vq->last_used);
    }
    g_assert_cmpuint(*id, <, vq->size);
    /* Give the chain's descriptors back, following our own links. */
    i = (uint16_t)*id;
    for (unsigned k = vq->chain_len[*id]; k; k--) {
        uint16_t next =
            ld16(vq->desc_p + 16 * (uint64_t)i + offsetof(VirtqDesc, next));

        vq->next_free[i] = vq->free_head;
        vq->free_head = i;
        vq->num_free++;
        i = next;
    }
    vq->chain_len[*id] = 0;
    if (vq->indirect[*id]) {
        ram_free(vdrv_ptr(vq->indirect[*id]));
        vq->indirect[*id] = 0;
    }
    return true;
}

void vdrv_set_avail_flags(VDrv *d, unsigned q, uint16_t flags)
{
    st16(d->q[q].avail_p + VIRTQ_AVAIL_FLAGS, flags);
}

void vdrv_set_used_event(VDrv *d, unsigned q, uint16_t v)
{
    st16(d->q[q].avail_p + VIRTQ_AVAIL_USED_EVENT(d->q[q].size), v);
}

uint16_t vdrv_avail_event(VDrv *d, unsigned q)
{
    return ld16(d->q[q].used_p + VIRTQ_USED_AVAIL_EVENT(d->q[q].size));
}

/* ---- the machine --------------------------------------------------------- */

unsigned vdrv_run_now(void)
{
    unsigned n = 0;
    unsigned ran;

    while ((ran = event_run_due())) {
        n += ran;
    }
    return n;
}

void vdrv_run_for(uint64_t ns)
{
    uint64_t until = vclock_now() + ns;

    vdrv_run_now();
    while (event_deadline <= until && event_advance_to_next()) {
        vdrv_run_now();
    }
    vclock_advance(until - vclock_now());
}

void vdrv_run(void)
{
    vdrv_run_now();
    while (event_advance_to_next()) {
        vdrv_run_now();
    }
}

/* ---- interrupts ---------------------------------------------------------- */

static bool irq_before(BndAccess *a, void *opaque)
{
    return false;
}

static void irq_after(const BndAccess *a, void *opaque)
{
    if (a->kind != BND_IRQ_RAISE) {
        return;
    }
    if (a->value & IRQCHIP_BND_LEVEL) {
        bool level = a->value & IRQCHIP_BND_ASSERT;

        if (level && !vdrv_irqs.intx_level) {
            vdrv_irqs.intx_asserts++;
        }
        vdrv_irqs.intx_level = level;
    } else if (a->addr < G_N_ELEMENTS(vdrv_irqs.msi)) {
        vdrv_irqs.msi[a->addr]++;
        vdrv_irqs.msi_total++;
    }
}

static const BndHook irq_hook = {.name = "vdrv-irq",
                                 .before = irq_before,
                                 .after = irq_after,
                                 .opaque = NULL};

void vdrv_irq_log_start(void)
{
    memset(&vdrv_irqs, 0, sizeof(vdrv_irqs));
    g_assert_true(bnd_hook_add(&irq_hook));
}

void vdrv_irq_log_stop(void)
{
    bnd_hook_remove(&irq_hook);
}

void vdrv_irq_log_clear(void)
{
    bool level = vdrv_irqs.intx_level;

    memset(&vdrv_irqs, 0, sizeof(vdrv_irqs));
    vdrv_irqs.intx_level = level;
}
