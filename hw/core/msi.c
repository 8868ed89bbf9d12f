/* SPDX-License-Identifier: MIT */
/*
 * MSI capability (PCI Local Bus 3.0, 6.8.1): 32- or 64-bit message
 * address, 16-bit message data, 1..32 vectors with Multiple Message
 * Enable, optional per-vector masking with pending bits.
 *
 * With N vectors enabled the function sends vector v by replacing the low
 * log2(N) bits of the message data with v (6.8.1.6), so the guest programs
 * an N-aligned base vector. A masked vector latches its pending bit; the
 * message goes out when the guest unmasks it (6.8.1.7).
 */
#include "hw/core/pci.h"
#include "system/error.h"
#include "system/trace.h"

static uint16_t msi_ctrl(const PCIDevice *dev)
{
    return pci_get_word(dev->config + dev->msi.cap + PCI_MSI_CTRL);
}

static uint8_t msi_data_off(const PCIDevice *dev)
{
    return (uint8_t)(dev->msi.cap +
                     (dev->msi.is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32));
}

static uint8_t msi_mask_off(const PCIDevice *dev)
{
    return (uint8_t)(dev->msi.cap +
                     (dev->msi.is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32));
}

static uint8_t msi_pending_off(const PCIDevice *dev)
{
    return (uint8_t)(dev->msi.cap +
                     (dev->msi.is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32));
}

static uint32_t msi_vector_bits(unsigned vectors)
{
    return vectors >= 32 ? UINT32_MAX : (1U << vectors) - 1;
}

uint8_t msi_init(PCIDevice *dev, unsigned vectors, bool is64, bool maskable,
                 GError **errp)
{
    uint8_t size, off;
    uint16_t ctrl;
    unsigned log2n = 0;

    if (vectors == 0 || vectors > PCI_MSI_VECTORS_MAX ||
        (vectors & (vectors - 1))) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: MSI vector count %u is not a power of two up to %u",
                    dev->name, vectors, PCI_MSI_VECTORS_MAX);
        return 0;
    }
    if (dev->msi.cap) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_BUSY,
                    "%s: MSI capability added twice", dev->name);
        return 0;
    }
    if (is64) {
        size = maskable ? PCI_MSI_PENDING_64 + 4 : PCI_MSI_DATA_64 + 2;
    } else {
        size = maskable ? PCI_MSI_PENDING_32 + 4 : PCI_MSI_DATA_32 + 2;
    }
    off = pci_add_capability(dev, PCI_CAP_ID_MSI, size, errp);
    if (!off) {
        return 0;
    }
    while ((1U << log2n) < vectors) {
        log2n++;
    }
    dev->msi.cap = off;
    dev->msi.cap_size = size;
    dev->msi.is64 = is64;
    dev->msi.maskable = maskable;
    dev->msi.vectors = vectors;

    ctrl = (uint16_t)(log2n << PCI_MSI_CTRL_MMC_SHIFT);
    if (is64) {
        ctrl |= PCI_MSI_CTRL_64BIT;
    }
    if (maskable) {
        ctrl |= PCI_MSI_CTRL_MASKABLE;
    }
    pci_set_word(dev->config + off + PCI_MSI_CTRL, ctrl);
    pci_set_word(dev->wmask + off + PCI_MSI_CTRL,
                 PCI_MSI_CTRL_ENABLE | PCI_MSI_CTRL_MME_MASK);
    /* The address is DWORD aligned: bits 1..0 read as zero. */
    pci_set_long(dev->wmask + off + PCI_MSI_ADDR_LO, 0xfffffffc);
    if (is64) {
        pci_set_long(dev->wmask + off + PCI_MSI_ADDR_HI, UINT32_MAX);
    }
    pci_set_word(dev->wmask + msi_data_off(dev), 0xffff);
    if (maskable) {
        pci_set_long(dev->wmask + msi_mask_off(dev), msi_vector_bits(vectors));
    }
    return off;
}

bool msi_enabled(const PCIDevice *dev)
{
    return dev->msi.cap && (msi_ctrl(dev) & PCI_MSI_CTRL_ENABLE);
}

unsigned msi_vectors_enabled(const PCIDevice *dev)
{
    unsigned mme;

    if (!msi_enabled(dev)) {
        return 0;
    }
    mme = (msi_ctrl(dev) & PCI_MSI_CTRL_MME_MASK) >> PCI_MSI_CTRL_MME_SHIFT;
    /* Software must not enable more than the function asked for (6.8.1.3);
     * if it does, the function still uses only what it is capable of. */
    return MIN(1U << mme, dev->msi.vectors);
}

bool msi_vector_masked(const PCIDevice *dev, unsigned vector)
{
    if (!dev->msi.cap || !dev->msi.maskable) {
        return false;
    }
    if (vector >= dev->msi.vectors) {
        return true;
    }
    return pci_get_long(dev->config + msi_mask_off(dev)) & (1U << vector);
}

bool msi_is_pending(const PCIDevice *dev, unsigned vector)
{
    if (!dev->msi.cap || !dev->msi.maskable || vector >= dev->msi.vectors) {
        return false;
    }
    return pci_get_long(dev->config + msi_pending_off(dev)) & (1U << vector);
}

static void msi_set_pending(PCIDevice *dev, unsigned vector, bool on)
{
    uint8_t *p = dev->config + msi_pending_off(dev);
    uint32_t bits = pci_get_long(p);

    if (on) {
        bits |= 1U << vector;
    } else {
        bits &= ~(1U << vector);
    }
    pci_set_long(p, bits);
}

static void msi_send(PCIDevice *dev, unsigned vector)
{
    const uint8_t *c = dev->config + dev->msi.cap;
    uint64_t addr = pci_get_long(c + PCI_MSI_ADDR_LO);
    uint32_t data = pci_get_word(dev->config + msi_data_off(dev));
    unsigned n = msi_vectors_enabled(dev);

    if (dev->msi.is64) {
        addr |= (uint64_t)pci_get_long(c + PCI_MSI_ADDR_HI) << 32;
    }
    data = (data & ~(n - 1)) | vector;
    TRACE(msi_send, "%s vector %u: 0x%" G_GINT64_MODIFIER "x <- 0x%x",
          dev->name, vector, addr, data);
    pci_msi_send(dev, addr, data);
}

void msi_notify(PCIDevice *dev, unsigned vector)
{
    g_assert(dev->msi.cap);
    if (!msi_enabled(dev)) {
        TRACE(msi_notify_disabled, "%s vector %u: MSI disabled", dev->name,
              vector);
        return;
    }
    if (vector >= msi_vectors_enabled(dev)) {
        TRACE(msi_notify_unallocated, "%s vector %u: only %u enabled",
              dev->name, vector, msi_vectors_enabled(dev));
        return;
    }
    if (msi_vector_masked(dev, vector)) {
        if (!msi_is_pending(dev, vector)) {
            TRACE(msi_pending, "%s vector %u masked: pending", dev->name,
                  vector);
        }
        msi_set_pending(dev, vector, true);
        return;
    }
    msi_send(dev, vector);
}

/* Send what became deliverable: pending and no longer masked. */
static void msi_flush_pending(PCIDevice *dev)
{
    unsigned n = msi_vectors_enabled(dev);

    for (unsigned v = 0; v < n; v++) {
        if (msi_is_pending(dev, v) && !msi_vector_masked(dev, v)) {
            msi_set_pending(dev, v, false);
            msi_send(dev, v);
        }
    }
}

void msi_config_written(PCIDevice *dev, uint32_t off, unsigned size,
                        const uint8_t *old_cap)
{
    uint16_t was = pci_get_word(old_cap + PCI_MSI_CTRL);
    uint16_t now = msi_ctrl(dev);

    if ((was ^ now) & (PCI_MSI_CTRL_ENABLE | PCI_MSI_CTRL_MME_MASK)) {
        TRACE(msi_ctrl, "%s MSI %s, %u vectors", dev->name,
              (now & PCI_MSI_CTRL_ENABLE) ? "enabled" : "disabled",
              msi_vectors_enabled(dev));
        /* MSI and INTx are exclusive (6.8.1.3). */
        pci_update_intx(dev);
    }
    if (dev->msi.maskable) {
        uint8_t rel = (uint8_t)(msi_mask_off(dev) - dev->msi.cap);
        uint32_t old_mask = pci_get_long(old_cap + rel);
        uint32_t new_mask = pci_get_long(dev->config + msi_mask_off(dev));
        if (old_mask != new_mask) {
            TRACE(msi_mask, "%s mask 0x%x -> 0x%x", dev->name, old_mask,
                  new_mask);
        }
    }
    msi_flush_pending(dev);
}

void msi_reset(PCIDevice *dev)
{
    uint8_t *c = dev->config + dev->msi.cap;

    if (!dev->msi.cap) {
        return;
    }
    pci_set_word(c + PCI_MSI_CTRL,
                 msi_ctrl(dev) &
                     (uint16_t) ~(PCI_MSI_CTRL_ENABLE | PCI_MSI_CTRL_MME_MASK));
    pci_set_long(c + PCI_MSI_ADDR_LO, 0);
    if (dev->msi.is64) {
        pci_set_long(c + PCI_MSI_ADDR_HI, 0);
    }
    pci_set_word(dev->config + msi_data_off(dev), 0);
    if (dev->msi.maskable) {
        pci_set_long(dev->config + msi_mask_off(dev), 0);
        pci_set_long(dev->config + msi_pending_off(dev), 0);
    }
}
