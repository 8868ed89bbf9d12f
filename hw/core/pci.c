/* SPDX-License-Identifier: MIT */
/*
 * PCI function framework: type-0 configuration space with write / W1C
 * masks (PCI Local Bus 3.0, 6.1-6.2), the capability list (6.7), BAR
 * sizing and decode (6.2.5), BAR containers, INTx (6.2.4, 6.8), the bus
 * and the firmware's resource assignment. MSI and MSI-X live in msi.c and
 * msix.c; the interrupt controller in irqchip.c.
 *
 * Config space is kept as the bytes the guest sees. A guest write is
 * applied byte by byte through the masks, then the side effects are
 * derived by comparing the old and new bytes (BAR decode, INTx, MSI /
 * MSI-X state), then the device model's hook runs.
 */
#include <string.h>
#include "hw/core/irqchip.h"
#include "hw/core/pci.h"
#include "hw/core/ram.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/error.h"
#include "system/event.h"
#include "system/trace.h"

typedef struct PCIBarChild {
    uint64_t offset;
    MemoryRegion *mr;
} PCIBarChild;

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return a < b + blen && b < a + alen;
}

static uint64_t pow2_ceil(uint64_t v)
{
    uint64_t p = 1;

    while (p < v) {
        p <<= 1;
    }
    return p;
}

/* What a refused read returns: all ones of the access, or of a dword
 * when the size itself was bad. */
static uint32_t all_ones(unsigned size)
{
    return size == 1 ? 0xff : size == 2 ? 0xffff : UINT32_MAX;
}

static uint16_t pci_command(const PCIDevice *dev)
{
    return pci_get_word(dev->config + PCI_CFG_COMMAND);
}

/* ---- life cycle ---- */

void pci_device_init(PCIDevice *dev, const char *name,
                     const PCIDeviceInfo *info)
{
    uint8_t *c = dev->config;

    memset(dev, 0, sizeof(*dev));
    dev->name = g_strdup(name);
    pci_set_word(c + PCI_CFG_VENDOR_ID, info->vendor_id);
    pci_set_word(c + PCI_CFG_DEVICE_ID, info->device_id);
    pci_set_byte(c + PCI_CFG_REVISION_ID, info->revision);
    pci_set_byte(c + PCI_CFG_CLASS_PROG, (uint8_t)info->class_code);
    pci_set_byte(c + PCI_CFG_CLASS_SUB, (uint8_t)(info->class_code >> 8));
    pci_set_byte(c + PCI_CFG_CLASS_BASE, (uint8_t)(info->class_code >> 16));
    pci_set_word(c + PCI_CFG_SUBSYS_VENDOR, info->subsys_vendor_id);
    pci_set_word(c + PCI_CFG_SUBSYS_ID, info->subsys_id);
    g_assert(info->intx_pin <= 4);
    pci_set_byte(c + PCI_CFG_INTERRUPT_PIN, info->intx_pin);

    pci_set_word(dev->wmask + PCI_CFG_COMMAND, PCI_CMD_WRITABLE);
    pci_set_word(dev->w1cmask + PCI_CFG_STATUS, PCI_STS_W1C);
    dev->wmask[PCI_CFG_CACHE_LINE] = 0xff;
    dev->wmask[PCI_CFG_INTERRUPT_LINE] = 0xff;
    memset(dev->used, 1, PCI_CFG_HEADER_SIZE);

    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        dev->bars[i].mapped_addr = PCI_BAR_UNMAPPED;
        dev->bars[i].refused_addr = PCI_BAR_UNMAPPED;
    }
}

static void pci_unmap_all(PCIDevice *dev)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        PCIBar *b = &dev->bars[i];
        if (b->mr && b->mapped_addr != PCI_BAR_UNMAPPED) {
            memory_region_unmap(b->mr);
            TRACE(pci_bar_unmap, "%s BAR%u from 0x%" G_GINT64_MODIFIER "x",
                  dev->name, i, b->mapped_addr);
            b->mapped_addr = PCI_BAR_UNMAPPED;
        }
    }
}

void pci_device_fini(PCIDevice *dev)
{
    if (dev->bus) {
        pci_bus_remove(dev->bus, dev);
    }
    pci_unmap_all(dev);
    msix_uninit(dev);
    g_free(dev->name);
    dev->name = NULL;
}

uint32_t pci_device_bdf(const PCIDevice *dev)
{
    /* Bus 0 only: the bus number bits stay zero. */
    return dev->devfn;
}

/* ---- BAR decode ---- */

/* The address BAR @i decodes at now, or PCI_BAR_UNMAPPED. */
static uint64_t pci_bar_decode_addr(const PCIDevice *dev, unsigned i)
{
    const PCIBar *b = &dev->bars[i];
    uint16_t cmd = pci_command(dev);
    uint64_t addr;

    if (!b->mr) {
        return PCI_BAR_UNMAPPED;
    }
    addr = pci_bar_addr(dev, i);
    if (b->type & PCI_BAR_IO) {
        /* The host bridge forwards only its I/O window. */
        if (!(cmd & PCI_CMD_IO) || addr < PCI_PIO_BASE ||
            addr >= PIO_SPACE_SIZE || b->size > PIO_SPACE_SIZE - addr) {
            return PCI_BAR_UNMAPPED;
        }
        return addr;
    }
    /*
     * A memory BAR decodes only inside the MMIO window: an address outside
     * it (0 after reset, the all-ones sizing pattern, RAM, the MSI range)
     * is never reached through the host bridge.
     */
    if (!(cmd & PCI_CMD_MEM) || addr < PCI_MMIO_BASE ||
        addr - PCI_MMIO_BASE >= PCI_MMIO_SIZE ||
        b->size > PCI_MMIO_SIZE - (addr - PCI_MMIO_BASE)) {
        return PCI_BAR_UNMAPPED;
    }
    return addr;
}

/* Pass 1 of a remap: drop every mapping that is no longer wanted. */
static void pci_bars_unmap_stale(PCIDevice *dev)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        PCIBar *b = &dev->bars[i];
        uint64_t want = pci_bar_decode_addr(dev, i);

        if (want == PCI_BAR_UNMAPPED) {
            b->refused_addr = PCI_BAR_UNMAPPED;
        }
        if (b->mapped_addr != PCI_BAR_UNMAPPED && b->mapped_addr != want) {
            memory_region_unmap(b->mr);
            TRACE(pci_bar_unmap, "%s BAR%u from 0x%" G_GINT64_MODIFIER "x",
                  dev->name, i, b->mapped_addr);
            b->mapped_addr = PCI_BAR_UNMAPPED;
        }
    }
}

/* Pass 2: map what is wanted and not yet mapped. */
static void pci_bars_map_wanted(PCIDevice *dev)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        PCIBar *b = &dev->bars[i];
        uint64_t want = pci_bar_decode_addr(dev, i);
        g_autoptr(GError) err = NULL;

        if (want == PCI_BAR_UNMAPPED || b->mapped_addr == want) {
            continue;
        }
        if (!memory_region_map(b->mr,
                               (b->type & PCI_BAR_IO) ? as_io : as_memory, want,
                               &err)) {
            /* Two BARs programmed to overlap is undefined on real
             * hardware; here the one mapped first keeps the range and
             * this one stays dark until it is free. Report it once. */
            if (b->refused_addr != want) {
                b->refused_addr = want;
                dev->guest_errors++;
                guest_error("%s: BAR%u at 0x%" G_GINT64_MODIFIER "x not "
                            "decoded: %s",
                            dev->name, i, want, err->message);
            }
            continue;
        }
        b->mapped_addr = want;
        b->refused_addr = PCI_BAR_UNMAPPED;
        TRACE(pci_bar_map,
              "%s BAR%u at 0x%" G_GINT64_MODIFIER "x size 0x%" G_GINT64_MODIFIER
              "x",
              dev->name, i, want, b->size);
    }
}

/*
 * Bring mappings in line with the BAR and command registers. All stale
 * mappings on the bus go first, so a BAR that moves away frees its range
 * for one that wanted it, whatever the order of the functions.
 */
static void pci_update_mappings(PCIDevice *dev)
{
    PCIBusState *bus = dev->bus;

    if (!bus) {
        pci_bars_unmap_stale(dev);
        pci_bars_map_wanted(dev);
        return;
    }
    for (unsigned d = 0; d < PCI_DEVFN_MAX; d++) {
        if (bus->devices[d]) {
            pci_bars_unmap_stale(bus->devices[d]);
        }
    }
    for (unsigned d = 0; d < PCI_DEVFN_MAX; d++) {
        if (bus->devices[d]) {
            pci_bars_map_wanted(bus->devices[d]);
        }
    }
}

/* ---- INTx ---- */

void pci_update_intx(PCIDevice *dev)
{
    bool want = dev->intx_level && dev->intx_routed && dev->bus &&
                !(pci_command(dev) & PCI_CMD_INTX_DISABLE) &&
                !msi_enabled(dev) && !msix_enabled(dev);
    unsigned *count;

    if (want == dev->intx_driven) {
        return;
    }
    dev->intx_driven = want;
    TRACE(pci_intx_line, "%s wire %u vector 0x%x %s", dev->name, dev->intx_wire,
          dev->intx_vector, want ? "asserted" : "released");
    /* Functions on one wire share it: the line is their wired OR. */
    count = &dev->bus->wire_count[dev->intx_wire];
    if (want) {
        if ((*count)++ == 0) {
            irqchip_intx(dev->intx_cpu, dev->intx_vector, true);
        }
    } else {
        g_assert(*count > 0);
        if (--(*count) == 0) {
            irqchip_intx(dev->intx_cpu, dev->intx_vector, false);
        }
    }
}

void pci_set_irq(PCIDevice *dev, bool level)
{
    uint16_t sts = pci_get_word(dev->config + PCI_CFG_STATUS);

    if (level != dev->intx_level) {
        TRACE(pci_set_irq, "%s INTx %d", dev->name, level);
    }
    dev->intx_level = level;
    if (level) {
        sts |= PCI_STS_INTERRUPT;
    } else {
        sts &= (uint16_t)~PCI_STS_INTERRUPT;
    }
    pci_set_word(dev->config + PCI_CFG_STATUS, sts);
    pci_update_intx(dev);
}

bool pci_intx_route(const PCIDevice *dev, unsigned *cpu, unsigned *vector)
{
    if (!dev->intx_routed) {
        return false;
    }
    *cpu = dev->intx_cpu;
    *vector = dev->intx_vector;
    return true;
}

/* ---- config space ---- */

static bool pci_cfg_range_ok(PCIDevice *dev, uint32_t off, unsigned size,
                             bool write)
{
    if ((size == 1 || size == 2 || size == 4) && off < PCI_CONFIG_SPACE_SIZE &&
        size <= PCI_CONFIG_SPACE_SIZE - off) {
        return true;
    }
    dev->guest_errors++;
    guest_error("%s: config %s of %u bytes at 0x%x refused (1, 2 or 4 "
                "bytes inside the %u-byte space)",
                dev->name, write ? "write" : "read", size, off,
                PCI_CONFIG_SPACE_SIZE);
    return false;
}

static uint32_t pci_cfg_get(const PCIDevice *dev, uint32_t off, unsigned size)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint32_t)dev->config[off + i] << (8 * i);
    }
    return v;
}

static uint32_t pci_config_do_read(PCIDevice *dev, uint32_t off, unsigned size,
                                   bool *ok)
{
    uint32_t v;

    if (!pci_cfg_range_ok(dev, off, size, false)) {
        *ok = false;
        return all_ones(size);
    }
    *ok = true;
    v = pci_cfg_get(dev, off, size);
    TRACE(pci_cfg_read, "%s 0x%02x/%u -> 0x%x", dev->name, off, size, v);
    return v;
}

/* D1 and D2 are not advertised in PMC: a write selecting one is ignored
 * (PCI PM 1.2, 5.4: the state field then keeps its value). */
static void pci_pm_filter(PCIDevice *dev, const uint8_t *old)
{
    uint8_t pm = dev->pm_cap;
    uint8_t *p;
    unsigned state;

    if (!pm) {
        return;
    }
    p = dev->config + pm + PCI_PM_CTRL;
    state = p[0] & PCI_PM_CTRL_STATE_MASK;
    if (state == 1 || state == 2) {
        p[0] = (uint8_t)((p[0] & ~PCI_PM_CTRL_STATE_MASK) |
                         (old[pm + PCI_PM_CTRL] & PCI_PM_CTRL_STATE_MASK));
    }
}

static void pci_config_do_write(PCIDevice *dev, uint32_t off, uint32_t val,
                                unsigned size, bool *ok)
{
    uint8_t old[PCI_CONFIG_SPACE_SIZE];
    uint32_t old_val, new_val;

    if (!pci_cfg_range_ok(dev, off, size, true)) {
        *ok = false;
        return;
    }
    *ok = true;
    memcpy(old, dev->config, sizeof(old));
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t *cfg = &dev->config[off + i];
        *cfg = (uint8_t)((*cfg & ~dev->wmask[off + i]) |
                         (b & dev->wmask[off + i]));
        *cfg &= (uint8_t) ~(b & dev->w1cmask[off + i]);
    }
    pci_pm_filter(dev, old);
    old_val = 0;
    for (unsigned i = 0; i < size; i++) {
        old_val |= (uint32_t)old[off + i] << (8 * i);
    }
    new_val = pci_cfg_get(dev, off, size);
    TRACE(pci_cfg_write, "%s 0x%02x/%u <- 0x%x (0x%x -> 0x%x)", dev->name, off,
          size, val, old_val, new_val);

    if (ranges_overlap(off, size, PCI_CFG_COMMAND, 2) ||
        ranges_overlap(off, size, PCI_CFG_BAR0, 4 * PCI_NUM_BARS)) {
        pci_update_mappings(dev);
    }
    if (ranges_overlap(off, size, PCI_CFG_COMMAND, 2)) {
        uint16_t was = pci_get_word(old + PCI_CFG_COMMAND);
        uint16_t now = pci_command(dev);
        if ((was ^ now) & PCI_CMD_MASTER) {
            TRACE(pci_bus_master, "%s bus mastering %s", dev->name,
                  (now & PCI_CMD_MASTER) ? "on" : "off");
        }
        pci_update_intx(dev);
    }
    if (dev->msi.cap &&
        ranges_overlap(off, size, dev->msi.cap, dev->msi.cap_size)) {
        msi_config_written(dev, off, size, old + dev->msi.cap);
    }
    if (dev->msix.cap &&
        ranges_overlap(off, size, dev->msix.cap + PCI_MSIX_CTRL, 2)) {
        msix_config_written(dev,
                            pci_get_word(old + dev->msix.cap + PCI_MSIX_CTRL));
    }
    if (dev->config_write) {
        dev->config_write(dev, off, old_val, new_val, size);
    }
}

uint32_t pci_config_read(PCIDevice *dev, uint32_t off, unsigned size)
{
    BndAccess a = {
        .kind = BND_CFG_READ,
        .size = (uint8_t)size,
        .cpu = (int16_t)cpu_index(),
        .devfn = pci_device_bdf(dev),
        .addr = off,
    };

    if (!bnd_before(&a)) {
        a.value = pci_config_do_read(dev, off, size, &a.ok);
    } else {
        a.ok = true;
    }
    vclock_advance(BND_MMIO_READ_NS);
    bnd_after(&a);
    if (cpu_in_guest()) {
        cpu_yield("cfg");
    }
    return (uint32_t)a.value;
}

void pci_config_write(PCIDevice *dev, uint32_t off, uint32_t val, unsigned size)
{
    BndAccess a = {
        .kind = BND_CFG_WRITE,
        .size = (uint8_t)size,
        .cpu = (int16_t)cpu_index(),
        .devfn = pci_device_bdf(dev),
        .addr = off,
        .value = val,
    };

    if (!bnd_before(&a)) {
        pci_config_do_write(dev, off, val, size, &a.ok);
    } else {
        a.ok = true;
    }
    vclock_advance(BND_MMIO_WRITE_NS);
    bnd_after(&a);
    if (cpu_in_guest()) {
        cpu_yield("cfg");
    }
}

void pci_device_reset(PCIDevice *dev)
{
    uint8_t *c = dev->config;
    uint8_t pm = dev->pm_cap;

    TRACE(pci_reset, "%s", dev->name);
    pci_set_word(c + PCI_CFG_COMMAND, 0);
    pci_set_word(c + PCI_CFG_STATUS,
                 pci_get_word(c + PCI_CFG_STATUS) & (uint16_t)~PCI_STS_W1C);
    c[PCI_CFG_CACHE_LINE] = 0;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        PCIBar *b = &dev->bars[i];
        pci_set_long(c + PCI_CFG_BAR(i), b->mr ? b->type : 0);
    }
    if (pm) {
        c[pm + PCI_PM_CTRL] &= (uint8_t)~PCI_PM_CTRL_STATE_MASK;
    }
    msi_reset(dev);
    msix_reset(dev);
    pci_update_mappings(dev);
    pci_set_irq(dev, false);
}

/* ---- capabilities ---- */

uint8_t pci_add_capability(PCIDevice *dev, uint8_t cap_id, uint8_t size,
                           GError **errp)
{
    unsigned off;

    if (size < 2) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: capability 0x%02x: size %u is below the 2-byte "
                    "header",
                    dev->name, cap_id, size);
        return 0;
    }
    /* First 4-byte aligned run of free bytes (6.7: DWORD aligned). */
    for (off = PCI_CFG_HEADER_SIZE; off + size <= PCI_CONFIG_SPACE_SIZE;
         off += 4) {
        unsigned i;
        for (i = 0; i < size && !dev->used[off + i]; i++) {
        }
        if (i == size) {
            break;
        }
    }
    if (off + size > PCI_CONFIG_SPACE_SIZE) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: no room for a %u-byte capability 0x%02x in config "
                    "space",
                    dev->name, size, cap_id);
        return 0;
    }
    memset(dev->used + off, 1, size);
    dev->config[off + PCI_CAP_ID_OFF] = cap_id;
    dev->config[off + PCI_CAP_NEXT_OFF] = 0;
    /* Append, so the list walks in the order capabilities were added. */
    if (dev->cap_last) {
        dev->config[dev->cap_last + PCI_CAP_NEXT_OFF] = (uint8_t)off;
    } else {
        dev->config[PCI_CFG_CAP_PTR] = (uint8_t)off;
    }
    dev->cap_last = (uint8_t)off;
    pci_set_word(dev->config + PCI_CFG_STATUS,
                 pci_get_word(dev->config + PCI_CFG_STATUS) | PCI_STS_CAP_LIST);
    TRACE(pci_add_capability, "%s id 0x%02x at 0x%02x size %u", dev->name,
          cap_id, off, size);
    return (uint8_t)off;
}

uint8_t pci_find_capability(const PCIDevice *dev, uint8_t cap_id)
{
    /* Pointers are DWORD aligned; the low two bits are reserved (6.7). */
    uint8_t off = dev->config[PCI_CFG_CAP_PTR] & 0xfc;

    /* The list is built here and read-only to the guest; the bound only
     * guards against a device model that rewired it into a loop. */
    for (unsigned n = 0; off && n < PCI_CONFIG_SPACE_SIZE / 4; n++) {
        if (dev->config[off + PCI_CAP_ID_OFF] == cap_id) {
            return off;
        }
        off = dev->config[off + PCI_CAP_NEXT_OFF] & 0xfc;
    }
    return 0;
}

uint8_t pci_add_vendor_capability(PCIDevice *dev, const uint8_t *body,
                                  size_t len, GError **errp)
{
    uint8_t off;

    if (len > PCI_CONFIG_SPACE_SIZE - PCI_CFG_HEADER_SIZE - PCI_VNDR_BODY) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: vendor capability body of %zu bytes is too large",
                    dev->name, len);
        return 0;
    }
    off = pci_add_capability(dev, PCI_CAP_ID_VNDR,
                             (uint8_t)(PCI_VNDR_BODY + len), errp);
    if (!off) {
        return 0;
    }
    dev->config[off + PCI_VNDR_LEN] = (uint8_t)(PCI_VNDR_BODY + len);
    if (len) {
        memcpy(dev->config + off + PCI_VNDR_BODY, body, len);
    }
    return off;
}

uint8_t pci_add_express_capability(PCIDevice *dev, GError **errp)
{
    uint8_t off = pci_add_capability(dev, PCI_CAP_ID_EXP, PCI_EXP_SIZE, errp);
    uint8_t *c = dev->config;

    if (!off) {
        return 0;
    }
    pci_set_word(c + off + PCI_EXP_FLAGS,
                 PCI_EXP_FLAGS_VERSION2 | (PCI_EXP_TYPE_ENDPOINT << 4));
    /* Device capabilities: 128-byte max payload, no phantom functions,
     * no FLR; role-based error reporting (bit 15) as every 1.1+ part. */
    pci_set_long(c + off + PCI_EXP_DEVCAP, 1U << 15);
    /* Device control reset value: relaxed ordering and no-snoop enabled,
     * 128-byte payload, 512-byte max read request (7.8.4). */
    pci_set_word(c + off + PCI_EXP_DEVCTL, 0x0010 | 0x0800 | (2U << 12));
    /* Writable: error reporting enables (0..3), relaxed ordering (4),
     * max payload (5..7), no-snoop (11), max read request (12..14). */
    pci_set_word(dev->wmask + off + PCI_EXP_DEVCTL, 0x78ff);
    pci_set_word(dev->w1cmask + off + PCI_EXP_DEVSTA, PCI_EXP_DEVSTA_W1C);
    /* One lane at 2.5 GT/s, port number 0; the link is up. */
    pci_set_long(c + off + PCI_EXP_LNKCAP, 0x1 | (1U << 4));
    pci_set_word(c + off + PCI_EXP_LNKSTA, 0x1 | (1U << 4));
    /* Link control: ASPM control (0..1), RCB (3), common clock (6),
     * extended synch (7). */
    pci_set_word(dev->wmask + off + PCI_EXP_LNKCTL, 0x00cb);
    /* Supported link speeds vector: 2.5 GT/s. */
    pci_set_long(c + off + PCI_EXP_LNKCAP2, 1U << 1);
    pci_set_word(c + off + PCI_EXP_LNKCTL2, 0x1);
    return off;
}

uint8_t pci_add_pm_capability(PCIDevice *dev, GError **errp)
{
    uint8_t off = pci_add_capability(dev, PCI_CAP_ID_PM, PCI_PM_SIZE, errp);

    if (!off) {
        return 0;
    }
    dev->pm_cap = off;
    pci_set_word(dev->config + off + PCI_PM_PMC, PCI_PM_PMC_VERSION);
    pci_set_word(dev->config + off + PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET);
    pci_set_word(dev->wmask + off + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);
    pci_set_word(dev->w1cmask + off + PCI_PM_CTRL, PCI_PM_CTRL_PME_STATUS);
    return off;
}

/* ---- BARs ---- */

void pci_register_bar(PCIDevice *dev, unsigned index, unsigned type,
                      MemoryRegion *mr)
{
    bool io = type & PCI_BAR_IO;
    bool is64 = !io && (type & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM64;
    PCIBar *b;
    uint64_t size, wmask;

    g_assert(index < PCI_NUM_BARS);
    g_assert(mr && mr->size);
    g_assert(io ? type == PCI_BAR_IO
                : (type & ~(unsigned)(PCI_BAR_MEM64 | PCI_BAR_PREFETCH)) == 0);
    b = &dev->bars[index];
    g_assert(!b->mr && !b->upper_half);
    if (is64) {
        g_assert(index + 1 < PCI_NUM_BARS && !dev->bars[index + 1].mr &&
                 !dev->bars[index + 1].upper_half);
    }
    size = pow2_ceil(
        MAX(mr->size, io ? PCI_BAR_IO_MIN_SIZE : PCI_BAR_MEM_MIN_SIZE));
    /* A 32-bit decoder cannot hold more than 2 GiB; port I/O is 64K. */
    g_assert(io ? size <= 256 : (is64 || size <= (1ULL << 31)));

    b->mr = mr;
    b->size = size;
    b->type = (uint8_t)type;
    b->mapped_addr = PCI_BAR_UNMAPPED;
    b->refused_addr = PCI_BAR_UNMAPPED;
    wmask =
        ~(size - 1) & ~(io ? PCI_BAR_IO_FLAGS_MASK : PCI_BAR_MEM_FLAGS_MASK);
    pci_set_long(dev->config + PCI_CFG_BAR(index), type);
    pci_set_long(dev->wmask + PCI_CFG_BAR(index), (uint32_t)wmask);
    if (is64) {
        dev->bars[index + 1].upper_half = true;
        pci_set_long(dev->config + PCI_CFG_BAR(index + 1), 0);
        pci_set_long(dev->wmask + PCI_CFG_BAR(index + 1),
                     (uint32_t)(wmask >> 32));
    }
    TRACE(pci_register_bar,
          "%s BAR%u type 0x%x size 0x%" G_GINT64_MODIFIER "x (%s)", dev->name,
          index, type, size, mr->name);
}

uint64_t pci_bar_size(const PCIDevice *dev, unsigned index)
{
    return index < PCI_NUM_BARS && dev->bars[index].mr ? dev->bars[index].size
                                                       : 0;
}

unsigned pci_bar_type(const PCIDevice *dev, unsigned index)
{
    return index < PCI_NUM_BARS ? dev->bars[index].type : 0;
}

uint64_t pci_bar_addr(const PCIDevice *dev, unsigned index)
{
    const PCIBar *b;
    uint64_t addr;

    if (index >= PCI_NUM_BARS || !dev->bars[index].mr) {
        return 0;
    }
    b = &dev->bars[index];
    addr = pci_get_long(dev->config + PCI_CFG_BAR(index));
    if (b->type & PCI_BAR_IO) {
        return addr & ~PCI_BAR_IO_FLAGS_MASK;
    }
    addr &= ~PCI_BAR_MEM_FLAGS_MASK;
    if ((b->type & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM64) {
        addr |= (uint64_t)pci_get_long(dev->config + PCI_CFG_BAR(index + 1))
                << 32;
    }
    return addr;
}

uint64_t pci_bar_mapped_addr(const PCIDevice *dev, unsigned index)
{
    return index < PCI_NUM_BARS ? dev->bars[index].mapped_addr
                                : PCI_BAR_UNMAPPED;
}

/* ---- BAR containers ---- */

static bool child_hit(const PCIBarChild *ch, uint64_t offset)
{
    return offset >= ch->offset && offset - ch->offset < ch->mr->size;
}

/* The child the last access hit is tried first: a driver's hot path
 * touches one register of a BAR (the queue doorbell) over and over. */
static PCIBarChild *container_find(PCIBarContainer *c, uint64_t offset)
{
    if (c->last_hit < c->children->len) {
        PCIBarChild *ch = &g_array_index(c->children, PCIBarChild, c->last_hit);
        if (child_hit(ch, offset)) {
            return ch;
        }
    }
    for (guint i = 0; i < c->children->len; i++) {
        PCIBarChild *ch = &g_array_index(c->children, PCIBarChild, i);
        if (child_hit(ch, offset)) {
            c->last_hit = i;
            return ch;
        }
    }
    return NULL;
}

/*
 * Route one access to a child, enforcing what its ops allow, as
 * address_space_read/write do for a region mapped directly.
 */
static MemoryRegion *container_route(PCIBarContainer *c, uint64_t offset,
                                     unsigned size, bool write, uint64_t *rel)
{
    PCIBarChild *ch = container_find(c, offset);
    MemoryRegion *mr;
    unsigned min, max;

    if (!ch) {
        c->mr.guest_errors++;
        guest_error("%s: %s of %u bytes at offset 0x%" G_GINT64_MODIFIER "x "
                    "hits no register",
                    c->name, write ? "write" : "read", size, offset);
        return NULL;
    }
    mr = ch->mr;
    *rel = offset - ch->offset;
    min = mr->ops->min_access_size ? mr->ops->min_access_size : 1;
    max = mr->ops->max_access_size ? mr->ops->max_access_size : 8;
    if (size < min || size > max ||
        (!mr->ops->unaligned && (*rel & (size - 1))) ||
        *rel > mr->size - size) {
        mr->guest_errors++;
        guest_error("%s: %s %s of %u bytes at offset 0x%" G_GINT64_MODIFIER
                    "x refused (allowed %u..%u bytes%s)",
                    c->name, mr->name, write ? "write" : "read", size, *rel,
                    min, max, mr->ops->unaligned ? "" : ", aligned");
        return NULL;
    }
    if (write ? !mr->ops->write : !mr->ops->read) {
        mr->guest_errors++;
        guest_error("%s: %s is not %s", c->name, mr->name,
                    write ? "writable" : "readable");
        return NULL;
    }
    return mr;
}

static uint64_t container_read(void *opaque, uint64_t offset, unsigned size)
{
    PCIBarContainer *c = opaque;
    uint64_t rel = 0;
    MemoryRegion *mr = container_route(c, offset, size, false, &rel);

    return mr ? mr->ops->read(mr->opaque, rel, size) : 0;
}

static void container_write(void *opaque, uint64_t offset, uint64_t value,
                            unsigned size)
{
    PCIBarContainer *c = opaque;
    uint64_t rel = 0;
    MemoryRegion *mr = container_route(c, offset, size, true, &rel);

    if (mr) {
        mr->ops->write(mr->opaque, rel, value, size);
    }
}

static MemoryRegion *container_route_op(void *opaque, uint64_t offset,
                                        unsigned size, bool write,
                                        uint64_t *rel)
{
    return container_route(opaque, offset, size, write, rel);
}

static const MemoryRegionOps container_ops = {
    .read = container_read,
    .write = container_write,
    .route = container_route_op,
    .min_access_size = 1,
    .max_access_size = 8,
    /* The children decide; the container only routes. */
    .unaligned = true,
};

void pci_bar_container_init(PCIBarContainer *c, const char *name, uint64_t size)
{
    c->name = g_strdup(name);
    c->children = g_array_new(FALSE, FALSE, sizeof(PCIBarChild));
    c->last_hit = 0;
    memory_region_init(&c->mr, c->name, &container_ops, c, size);
}

bool pci_bar_container_add(PCIBarContainer *c, uint64_t offset,
                           MemoryRegion *child, GError **errp)
{
    PCIBarChild ch = {offset, child};
    guint i;

    if (child->size == 0 || offset >= c->mr.size ||
        child->size > c->mr.size - offset) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: region '%s' (0x%" G_GINT64_MODIFIER "x bytes) at "
                    "0x%" G_GINT64_MODIFIER
                    "x does not fit in 0x%" G_GINT64_MODIFIER "x bytes",
                    c->name, child->name, child->size, offset, c->mr.size);
        return false;
    }
    for (i = 0; i < c->children->len; i++) {
        PCIBarChild *o = &g_array_index(c->children, PCIBarChild, i);
        if (offset < o->offset + o->mr->size &&
            o->offset < offset + child->size) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_BUSY,
                        "%s: region '%s' at 0x%" G_GINT64_MODIFIER "x "
                        "overlaps '%s'",
                        c->name, child->name, offset, o->mr->name);
            return false;
        }
        if (o->offset > offset) {
            break;
        }
    }
    g_array_insert_val(c->children, i, ch);
    memory_routes_changed();
    return true;
}

void pci_bar_container_remove(PCIBarContainer *c, MemoryRegion *child)
{
    for (guint i = 0; c->children && i < c->children->len; i++) {
        if (g_array_index(c->children, PCIBarChild, i).mr == child) {
            g_array_remove_index(c->children, i);
            memory_routes_changed();
            return;
        }
    }
}

void pci_bar_container_destroy(PCIBarContainer *c)
{
    g_assert(c->mr.as == NULL);
    if (c->children) {
        g_array_free(c->children, TRUE);
        c->children = NULL;
    }
    g_free(c->name);
    c->name = NULL;
}

PCIBarContainer *pci_bar_container_of(MemoryRegion *mr)
{
    return mr && mr->ops == &container_ops ? mr->opaque : NULL;
}

/* ---- bus mastering, DMA, messages ---- */

bool pci_mem_enabled(const PCIDevice *dev)
{
    return pci_command(dev) & PCI_CMD_MEM;
}

bool pci_io_enabled(const PCIDevice *dev)
{
    return pci_command(dev) & PCI_CMD_IO;
}

bool pci_dma_blocked(PCIDevice *dev, const char *what, uint64_t gpa,
                     uint64_t len)
{
    TRACE(pci_dma_blocked,
          "%s %s 0x%" G_GINT64_MODIFIER "x+0x%" G_GINT64_MODIFIER
          "x: bus mastering disabled",
          dev->name, what, gpa, len);
    return false;
}

void pci_msi_send(PCIDevice *dev, uint64_t addr, uint32_t data)
{
    /* A message is a memory write (6.8): no bus mastering, no write. */
    if (!pci_bus_master_enabled(dev)) {
        dev->msgs_lost++;
        TRACE(pci_msi_lost,
              "%s 0x%" G_GINT64_MODIFIER "x <- 0x%x: bus "
              "mastering disabled",
              dev->name, addr, data);
        return;
    }
    dev->msgs_sent++;
    TRACE(pci_msi_send, "%s 0x%" G_GINT64_MODIFIER "x <- 0x%x", dev->name, addr,
          data);
    irqchip_msi(addr, data);
}

/* ---- bus ---- */

PCIBusState *pci_bus_new(void)
{
    return g_new0(PCIBusState, 1);
}

void pci_bus_free(PCIBusState *bus)
{
    if (!bus) {
        return;
    }
    g_assert(bus->ndevices == 0);
    g_free(bus);
}

static void pci_update_multifunction(PCIBusState *bus, unsigned slot)
{
    PCIDevice *f0 = bus->devices[PCI_DEVFN(slot, 0)];
    bool multi = false;

    if (!f0) {
        return;
    }
    for (unsigned fn = 1; fn < PCI_FUNC_MAX; fn++) {
        multi |= bus->devices[PCI_DEVFN(slot, fn)] != NULL;
    }
    if (multi) {
        f0->config[PCI_CFG_HEADER_TYPE] |= PCI_HEADER_MULTI_FUNCTION;
    } else {
        f0->config[PCI_CFG_HEADER_TYPE] &= (uint8_t)~PCI_HEADER_MULTI_FUNCTION;
    }
}

bool pci_bus_add(PCIBusState *bus, PCIDevice *dev, int devfn, GError **errp)
{
    g_assert(dev->bus == NULL);
    if (devfn < 0) {
        for (unsigned slot = 0; slot < PCI_SLOT_MAX; slot++) {
            if (!bus->devices[PCI_DEVFN(slot, 0)]) {
                devfn = PCI_DEVFN(slot, 0);
                break;
            }
        }
        if (devfn < 0) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "%s: every PCI slot is taken", dev->name);
            return false;
        }
    }
    if (devfn >= PCI_DEVFN_MAX) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: devfn 0x%x is beyond slot 31 function 7", dev->name,
                    devfn);
        return false;
    }
    if (bus->devices[devfn]) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_BUSY,
                    "%s: PCI slot %u function %u is taken by %s", dev->name,
                    PCI_SLOT(devfn), PCI_FUNC(devfn),
                    bus->devices[devfn]->name);
        return false;
    }
    bus->devices[devfn] = dev;
    bus->ndevices++;
    dev->bus = bus;
    dev->devfn = (uint8_t)devfn;
    pci_update_multifunction(bus, PCI_SLOT(devfn));
    TRACE(pci_bus_add, "%s at %02x.%x", dev->name, PCI_SLOT(devfn),
          PCI_FUNC(devfn));
    return true;
}

void pci_bus_remove(PCIBusState *bus, PCIDevice *dev)
{
    g_assert(dev->bus == bus && bus->devices[dev->devfn] == dev);
    dev->intx_routed = false;
    pci_update_intx(dev);
    pci_unmap_all(dev);
    bus->devices[dev->devfn] = NULL;
    bus->ndevices--;
    dev->bus = NULL;
    pci_update_multifunction(bus, PCI_SLOT(dev->devfn));
    /* A BAR that conflicted with this function's may decode now. */
    for (unsigned d = 0; d < PCI_DEVFN_MAX; d++) {
        if (bus->devices[d]) {
            pci_bars_map_wanted(bus->devices[d]);
        }
    }
    TRACE(pci_bus_remove, "%s", dev->name);
}

PCIDevice *pci_bus_find(const PCIBusState *bus, unsigned devfn)
{
    return devfn < PCI_DEVFN_MAX ? bus->devices[devfn] : NULL;
}

PCIDevice *pci_bus_next(const PCIBusState *bus, const PCIDevice *prev)
{
    for (unsigned d = prev ? prev->devfn + 1U : 0; d < PCI_DEVFN_MAX; d++) {
        if (bus->devices[d]) {
            return bus->devices[d];
        }
    }
    return NULL;
}

/* ---- firmware ---- */

typedef struct BarRequest {
    PCIDevice *dev;
    unsigned index;
    uint64_t size;
    bool io;
    bool is64;
} BarRequest;

static gint bar_request_cmp(gconstpointer pa, gconstpointer pb)
{
    const BarRequest *a = pa, *b = pb;

    /* Largest first packs naturally aligned BARs without gaps; devfn and
     * index make the order total, hence the same in every run. */
    if (a->size != b->size) {
        return a->size > b->size ? -1 : 1;
    }
    if (a->dev->devfn != b->dev->devfn) {
        return a->dev->devfn < b->dev->devfn ? -1 : 1;
    }
    return a->index < b->index ? -1 : (a->index > b->index);
}

/* Size BAR @i the way firmware does: write all ones, read the mask back. */
static unsigned firmware_size_bar(PCIDevice *dev, unsigned i, GArray *reqs)
{
    uint32_t lo, hi;
    uint64_t mask;
    BarRequest r = {.dev = dev, .index = i};

    pci_config_write(dev, PCI_CFG_BAR(i), UINT32_MAX, 4);
    lo = pci_config_read(dev, PCI_CFG_BAR(i), 4);
    if (lo == 0) {
        return 1;
    }
    if (lo & PCI_BAR_IO) {
        r.io = true;
        mask = lo & ~(uint32_t)PCI_BAR_IO_FLAGS_MASK;
        r.size = (uint32_t)(~mask + 1);
        g_array_append_val(reqs, r);
        return 1;
    }
    mask = lo & ~(uint32_t)PCI_BAR_MEM_FLAGS_MASK;
    if ((lo & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM64 && i + 1 < PCI_NUM_BARS) {
        pci_config_write(dev, PCI_CFG_BAR(i + 1), UINT32_MAX, 4);
        hi = pci_config_read(dev, PCI_CFG_BAR(i + 1), 4);
        mask |= (uint64_t)hi << 32;
        r.is64 = true;
        r.size = ~mask + 1;
    } else {
        r.size = (uint32_t)(~mask + 1);
    }
    g_array_append_val(reqs, r);
    return r.is64 ? 2 : 1;
}

static bool firmware_place(GArray *reqs, bool io, GError **errp)
{
    uint64_t cursor = io ? PCI_PIO_BASE : PCI_MMIO_BASE;
    uint64_t end = io ? PIO_SPACE_SIZE : PCI_MMIO_BASE + PCI_MMIO_SIZE;

    for (guint k = 0; k < reqs->len; k++) {
        BarRequest *r = &g_array_index(reqs, BarRequest, k);
        uint64_t addr;

        if (r->io != io) {
            continue;
        }
        addr = (cursor + r->size - 1) & ~(r->size - 1);
        if (r->size == 0 || addr < cursor || addr > end ||
            r->size > end - addr) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "pci: %s BAR%u (0x%" G_GINT64_MODIFIER "x bytes) does "
                        "not fit in the %s window",
                        r->dev->name, r->index, r->size, io ? "I/O" : "MMIO");
            return false;
        }
        pci_config_write(r->dev, PCI_CFG_BAR(r->index), (uint32_t)addr, 4);
        if (r->is64) {
            pci_config_write(r->dev, PCI_CFG_BAR(r->index + 1),
                             (uint32_t)(addr >> 32), 4);
        }
        TRACE(pci_assign_bar,
              "%s BAR%u -> 0x%" G_GINT64_MODIFIER "x size 0x%" G_GINT64_MODIFIER
              "x",
              r->dev->name, r->index, addr, r->size);
        cursor = addr + r->size;
    }
    return true;
}

static void firmware_route_intx(PCIDevice *dev)
{
    uint8_t pin = (uint8_t)pci_config_read(dev, PCI_CFG_INTERRUPT_PIN, 1);
    unsigned wire;

    if (pin < 1 || pin > 4) {
        return;
    }
    /* The usual slot swizzle spreads INTA of consecutive slots over the
     * four wires. */
    wire = (PCI_SLOT(dev->devfn) + pin - 1U) % 4;
    dev->intx_routed = false;
    pci_update_intx(dev);
    dev->intx_wire = wire;
    dev->intx_cpu = PCI_INTX_CPU;
    dev->intx_vector = PCI_INTX_VECTOR_BASE + wire;
    dev->intx_routed = true;
    pci_config_write(dev, PCI_CFG_INTERRUPT_LINE, dev->intx_vector, 1);
    TRACE(pci_assign_intx, "%s INT%c -> wire %u cpu %u vector 0x%x", dev->name,
          'A' + pin - 1, wire, dev->intx_cpu, dev->intx_vector);
    pci_update_intx(dev);
}

bool pci_bus_assign(PCIBusState *bus, GError **errp)
{
    g_autoptr(GArray) reqs = g_array_new(FALSE, FALSE, sizeof(BarRequest));
    PCIDevice *dev;

    for (dev = pci_bus_next(bus, NULL); dev; dev = pci_bus_next(bus, dev)) {
        uint16_t cmd = (uint16_t)pci_config_read(dev, PCI_CFG_COMMAND, 2);
        /* Decode off while sizing, or the all-ones pattern would land in
         * the address space. */
        pci_config_write(dev, PCI_CFG_COMMAND,
                         cmd & ~(PCI_CMD_IO | PCI_CMD_MEM), 2);
        for (unsigned i = 0; i < PCI_NUM_BARS;) {
            i += firmware_size_bar(dev, i, reqs);
        }
    }
    g_array_sort(reqs, bar_request_cmp);
    if (!firmware_place(reqs, false, errp) ||
        !firmware_place(reqs, true, errp)) {
        return false;
    }
    for (dev = pci_bus_next(bus, NULL); dev; dev = pci_bus_next(bus, dev)) {
        uint16_t cmd = (uint16_t)pci_config_read(dev, PCI_CFG_COMMAND, 2);
        for (guint k = 0; k < reqs->len; k++) {
            BarRequest *r = &g_array_index(reqs, BarRequest, k);
            if (r->dev == dev) {
                cmd |= r->io ? PCI_CMD_IO : PCI_CMD_MEM;
            }
        }
        cmd |= PCI_CMD_MASTER;
        pci_config_write(dev, PCI_CFG_COMMAND, cmd, 2);
        firmware_route_intx(dev);
    }
    return true;
}
