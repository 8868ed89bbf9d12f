/* SPDX-License-Identifier: MIT */
/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2): the capability in config space and
 * the two memory structures behind BARs, the vector table (16 bytes per
 * entry: address low, address high, data, vector control) and the Pending
 * Bit Array. Both are regions added to a BAR container; their ops allow
 * 4- and 8-byte aligned accesses (6.8.2: software uses DWORD or QWORD
 * accesses).
 *
 * A vector is masked by its own mask bit or by the function mask. A
 * message signalled while masked sets its PBA bit instead; when the
 * vector becomes unmasked with the bit set, the message is sent and the
 * bit cleared (6.8.2.9). Entries come out of reset masked.
 */
#include <string.h>
#include "hw/core/pci.h"
#include "system/error.h"
#include "system/trace.h"

static uint16_t msix_ctrl(const PCIDevice *dev)
{
    return pci_get_word(dev->config + dev->msix.cap + PCI_MSIX_CTRL);
}

static uint8_t *msix_entry(const PCIDevice *dev, unsigned vector)
{
    return dev->msix.table + (size_t)vector * PCI_MSIX_ENTRY_SIZE;
}

bool msix_function_masked(const PCIDevice *dev)
{
    return dev->msix.cap && (msix_ctrl(dev) & PCI_MSIX_CTRL_MASKALL);
}

/* Masked by its own bit or by the function mask. */
bool msix_vector_masked(const PCIDevice *dev, unsigned vector)
{
    if (!dev->msix.cap || vector >= dev->msix.vectors) {
        return true;
    }
    return msix_function_masked(dev) ||
           (pci_get_long(msix_entry(dev, vector) + PCI_MSIX_ENTRY_CTRL) &
            PCI_MSIX_ENTRY_CTRL_MASK);
}

bool msix_is_pending(const PCIDevice *dev, unsigned vector)
{
    if (!dev->msix.cap || vector >= dev->msix.vectors) {
        return false;
    }
    return dev->msix.pba[vector / 8] & (1U << (vector % 8));
}

static void msix_set_pending(PCIDevice *dev, unsigned vector, bool on)
{
    uint8_t bit = (uint8_t)(1U << (vector % 8));

    if (on) {
        dev->msix.pba[vector / 8] |= bit;
    } else {
        dev->msix.pba[vector / 8] &= (uint8_t)~bit;
    }
}

void msix_clear_pending(PCIDevice *dev, unsigned vector)
{
    if (msix_is_pending(dev, vector)) {
        TRACE(msix_pending_clear, "%s vector %u", dev->name, vector);
        msix_set_pending(dev, vector, false);
    }
}

static void msix_send(PCIDevice *dev, unsigned vector)
{
    const uint8_t *e = msix_entry(dev, vector);
    uint64_t addr = pci_get_quad(e + PCI_MSIX_ENTRY_ADDR_LO);
    uint32_t data = pci_get_long(e + PCI_MSIX_ENTRY_DATA);

    TRACE(msix_send, "%s vector %u: 0x%" G_GINT64_MODIFIER "x <- 0x%x",
          dev->name, vector, addr, data);
    pci_msi_send(dev, addr, data);
}

void msix_notify(PCIDevice *dev, unsigned vector)
{
    uint16_t ctrl;

    g_assert(dev->msix.cap);
    if (vector >= dev->msix.vectors) {
        TRACE(msix_notify_bad_vector, "%s vector %u of %u", dev->name, vector,
              dev->msix.vectors);
        return;
    }
    /* msix_enabled() and msix_vector_masked() from one read of the
     * control word: every completion interrupt comes this way. */
    ctrl = msix_ctrl(dev);
    if (!(ctrl & PCI_MSIX_CTRL_ENABLE)) {
        TRACE(msix_notify_disabled, "%s vector %u: MSI-X disabled", dev->name,
              vector);
        return;
    }
    if ((ctrl & PCI_MSIX_CTRL_MASKALL) ||
        (pci_get_long(msix_entry(dev, vector) + PCI_MSIX_ENTRY_CTRL) &
         PCI_MSIX_ENTRY_CTRL_MASK)) {
        if (!msix_is_pending(dev, vector)) {
            TRACE(msix_pending, "%s vector %u masked: pending", dev->name,
                  vector);
        }
        msix_set_pending(dev, vector, true);
        return;
    }
    msix_send(dev, vector);
}

/* Deliver @vector's pending message if it may go out now. */
static void msix_flush_vector(PCIDevice *dev, unsigned vector)
{
    if (msix_enabled(dev) && msix_is_pending(dev, vector) &&
        !msix_vector_masked(dev, vector)) {
        msix_set_pending(dev, vector, false);
        msix_send(dev, vector);
    }
}

void msix_config_written(PCIDevice *dev, uint16_t old_ctrl)
{
    uint16_t now = msix_ctrl(dev);

    if ((old_ctrl ^ now) & (PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_MASKALL)) {
        TRACE(msix_ctrl, "%s MSI-X %s%s", dev->name,
              (now & PCI_MSIX_CTRL_ENABLE) ? "enabled" : "disabled",
              (now & PCI_MSIX_CTRL_MASKALL) ? ", function masked" : "");
    }
    if ((old_ctrl ^ now) & PCI_MSIX_CTRL_ENABLE) {
        /* With MSI-X enabled the function does not use INTx (6.8.2). */
        pci_update_intx(dev);
    }
    for (unsigned v = 0; v < dev->msix.vectors; v++) {
        msix_flush_vector(dev, v);
    }
}

/* ---- table and PBA regions ---- */

static uint64_t msix_table_read(void *opaque, uint64_t off, unsigned size)
{
    PCIDevice *dev = opaque;

    return size == 8 ? pci_get_quad(dev->msix.table + off)
                     : pci_get_long(dev->msix.table + off);
}

static void msix_table_write_long(PCIDevice *dev, uint64_t off, uint32_t val)
{
    unsigned vector = (unsigned)(off / PCI_MSIX_ENTRY_SIZE);
    unsigned field = (unsigned)(off % PCI_MSIX_ENTRY_SIZE);
    uint8_t *e = msix_entry(dev, vector);
    bool was_masked = msix_vector_masked(dev, vector);

    switch (field) {
    case PCI_MSIX_ENTRY_ADDR_LO:
        /* Message address is DWORD aligned: bits 1..0 read as zero. */
        val &= ~3U;
        break;
    case PCI_MSIX_ENTRY_CTRL:
        /* Only the mask bit is defined; the rest is reserved, reads 0. */
        val &= PCI_MSIX_ENTRY_CTRL_MASK;
        break;
    default:
        break;
    }
    pci_set_long(e + field, val);
    if (field == PCI_MSIX_ENTRY_CTRL &&
        was_masked != msix_vector_masked(dev, vector)) {
        TRACE(msix_mask, "%s vector %u %s", dev->name, vector,
              was_masked ? "unmasked" : "masked");
        msix_flush_vector(dev, vector);
    }
}

static void msix_table_write(void *opaque, uint64_t off, uint64_t val,
                             unsigned size)
{
    PCIDevice *dev = opaque;

    msix_table_write_long(dev, off, (uint32_t)val);
    if (size == 8) {
        msix_table_write_long(dev, off + 4, (uint32_t)(val >> 32));
    }
}

static const MemoryRegionOps msix_table_ops = {
    .read = msix_table_read,
    .write = msix_table_write,
    .min_access_size = 4,
    .max_access_size = 8,
};

static uint64_t msix_pba_read(void *opaque, uint64_t off, unsigned size)
{
    PCIDevice *dev = opaque;

    return size == 8 ? pci_get_quad(dev->msix.pba + off)
                     : pci_get_long(dev->msix.pba + off);
}

static void msix_pba_write(void *opaque, uint64_t off, uint64_t val,
                           unsigned size)
{
    PCIDevice *dev = opaque;

    /* Pending bits are read-only; a write has undefined effect (6.8.2.10)
     * and here none. */
    dev->guest_errors++;
    guest_error("%s: write of 0x%" G_GINT64_MODIFIER "x to the read-only "
                "MSI-X PBA at 0x%" G_GINT64_MODIFIER "x ignored",
                dev->name, val, off);
}

static const MemoryRegionOps msix_pba_ops = {
    .read = msix_pba_read,
    .write = msix_pba_write,
    .min_access_size = 4,
    .max_access_size = 8,
};

/* ---- set-up ---- */

/*
 * The container behind BAR @bar, creating one of @need bytes (owned by
 * the MSI-X state, slot @slot) when the index is free.
 */
static PCIBarContainer *msix_container(PCIDevice *dev, unsigned bar,
                                       uint64_t need, unsigned slot,
                                       GError **errp)
{
    PCIBarContainer *c;
    uint64_t size = 16;

    if (dev->bars[bar].upper_half) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: MSI-X BAR %u is the high half of a 64-bit BAR",
                    dev->name, bar);
        return NULL;
    }
    if (dev->bars[bar].mr) {
        c = pci_bar_container_of(dev->bars[bar].mr);
        if (!c) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "%s: BAR %u holds a plain region; MSI-X needs a "
                        "PCIBarContainer there",
                        dev->name, bar);
        }
        return c;
    }
    while (size < need) {
        size <<= 1;
    }
    c = g_new0(PCIBarContainer, 1);
    {
        g_autofree char *name =
            g_strdup_printf("%s-msix-bar%u", dev->name, bar);
        pci_bar_container_init(c, name, size);
    }
    dev->msix.owned[slot] = c;
    return c;
}

static void msix_free_owned(PCIDevice *dev)
{
    for (unsigned k = 0; k < 2; k++) {
        PCIBarContainer *c = dev->msix.owned[k];
        if (!c) {
            continue;
        }
        for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
            if (dev->bars[i].mr == &c->mr) {
                g_assert(dev->bars[i].mapped_addr == PCI_BAR_UNMAPPED);
                dev->bars[i].mr = NULL;
                dev->bars[i].size = 0;
                dev->bars[i].type = 0;
            }
        }
        pci_bar_container_destroy(c);
        g_free(c);
        dev->msix.owned[k] = NULL;
    }
}

static void msix_detach_children(PCIDevice *dev)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        PCIBarContainer *c = pci_bar_container_of(dev->bars[i].mr);
        if (c) {
            pci_bar_container_remove(c, &dev->msix.table_mr);
            pci_bar_container_remove(c, &dev->msix.pba_mr);
        }
    }
    for (unsigned k = 0; k < 2; k++) {
        if (dev->msix.owned[k]) {
            pci_bar_container_remove(dev->msix.owned[k], &dev->msix.table_mr);
            pci_bar_container_remove(dev->msix.owned[k], &dev->msix.pba_mr);
        }
    }
}

uint8_t msix_init(PCIDevice *dev, unsigned vectors, unsigned table_bar,
                  uint32_t table_off, unsigned pba_bar, uint32_t pba_off,
                  GError **errp)
{
    PCIMsixState *m = &dev->msix;
    uint64_t table_size = (uint64_t)vectors * PCI_MSIX_ENTRY_SIZE;
    uint64_t pba_size = (vectors + 63ULL) / 64 * 8;
    uint64_t table_need = table_off + table_size;
    uint64_t pba_need = pba_off + pba_size;
    PCIBarContainer *tc, *pc;
    uint8_t off;

    if (m->cap) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_BUSY,
                    "%s: MSI-X capability added twice", dev->name);
        return 0;
    }
    if (vectors == 0 || vectors > PCI_MSIX_VECTORS_MAX ||
        table_bar >= PCI_NUM_BARS || pba_bar >= PCI_NUM_BARS ||
        (table_off & PCI_MSIX_BIR_MASK) || (pba_off & PCI_MSIX_BIR_MASK)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: MSI-X: %u vectors (1..%u), BARs %u/%u (0..5) and "
                    "8-byte aligned offsets 0x%x/0x%x required",
                    dev->name, vectors, PCI_MSIX_VECTORS_MAX, table_bar,
                    pba_bar, table_off, pba_off);
        return 0;
    }
    if (table_bar == pba_bar) {
        table_need = pba_need = MAX(table_need, pba_need);
    }

    m->vectors = vectors;
    m->table = g_malloc0(table_size);
    m->pba = g_malloc0(pba_size);
    m->pba_size = pba_size;
    for (unsigned v = 0; v < vectors; v++) {
        pci_set_long(msix_entry(dev, v) + PCI_MSIX_ENTRY_CTRL,
                     PCI_MSIX_ENTRY_CTRL_MASK);
    }
    memory_region_init(&m->table_mr, "msix-table", &msix_table_ops, dev,
                       table_size);
    memory_region_init(&m->pba_mr, "msix-pba", &msix_pba_ops, dev, pba_size);

    tc = msix_container(dev, table_bar, table_need, 0, errp);
    if (!tc) {
        goto fail;
    }
    if (pba_bar == table_bar) {
        pc = tc;
    } else {
        pc = msix_container(dev, pba_bar, pba_need, 1, errp);
        if (!pc) {
            goto fail;
        }
    }
    if (!pci_bar_container_add(tc, table_off, &m->table_mr, errp) ||
        !pci_bar_container_add(pc, pba_off, &m->pba_mr, errp)) {
        goto fail;
    }
    off = pci_add_capability(dev, PCI_CAP_ID_MSIX, PCI_MSIX_CAP_SIZE, errp);
    if (!off) {
        goto fail;
    }
    m->cap = off;
    pci_set_word(dev->config + off + PCI_MSIX_CTRL, (uint16_t)(vectors - 1));
    pci_set_word(dev->wmask + off + PCI_MSIX_CTRL,
                 PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_MASKALL);
    pci_set_long(dev->config + off + PCI_MSIX_TABLE_OFF, table_off | table_bar);
    pci_set_long(dev->config + off + PCI_MSIX_PBA_OFF, pba_off | pba_bar);
    for (unsigned k = 0; k < 2; k++) {
        if (m->owned[k]) {
            pci_register_bar(dev, k == 0 ? table_bar : pba_bar, PCI_BAR_MEM32,
                             &m->owned[k]->mr);
        }
    }
    return off;

fail:
    msix_detach_children(dev);
    msix_free_owned(dev);
    g_free(m->table);
    g_free(m->pba);
    memset(m, 0, sizeof(*m));
    return 0;
}

void msix_reset(PCIDevice *dev)
{
    PCIMsixState *m = &dev->msix;

    if (!m->cap) {
        return;
    }
    pci_set_word(dev->config + m->cap + PCI_MSIX_CTRL,
                 msix_ctrl(dev) & (uint16_t) ~(PCI_MSIX_CTRL_ENABLE |
                                               PCI_MSIX_CTRL_MASKALL));
    memset(m->table, 0, (size_t)m->vectors * PCI_MSIX_ENTRY_SIZE);
    for (unsigned v = 0; v < m->vectors; v++) {
        pci_set_long(msix_entry(dev, v) + PCI_MSIX_ENTRY_CTRL,
                     PCI_MSIX_ENTRY_CTRL_MASK);
    }
    memset(m->pba, 0, m->pba_size);
}

void msix_uninit(PCIDevice *dev)
{
    PCIMsixState *m = &dev->msix;

    if (!m->cap) {
        return;
    }
    msix_detach_children(dev);
    msix_free_owned(dev);
    g_free(m->table);
    g_free(m->pba);
    memset(m, 0, sizeof(*m));
}
