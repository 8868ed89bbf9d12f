/* SPDX-License-Identifier: MIT */
/*
 * PCI function framework: the type-0 header as the guest reads it, write
 * and W1C masks, out-of-range config accesses, the capability list, BAR
 * sizing / decode / remapping, BAR containers, the boundary crossings of
 * config accesses, the bus, firmware assignment, INTx, MSI and the
 * interrupt controller's message checks.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/irqchip.h"
#include "hw/core/memory.h"
#include "hw/core/pci.h"
#include "hw/core/ram.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/error.h"
#include "system/event.h"
#include "system/trace.h"

/* ---- a small test function ---- */

typedef struct TestDev {
    PCIDevice pci;
    MemoryRegion regs;
    uint32_t r[64];
    MemoryRegion io;
    uint8_t io_bytes[32];
    unsigned hook_calls;
    uint32_t hook_off, hook_old, hook_new;
    unsigned hook_size;
} TestDev;

static uint64_t regs_read(void *opaque, uint64_t off, unsigned size)
{
    TestDev *d = opaque;
    return d->r[off / 4];
}

static void regs_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    TestDev *d = opaque;
    d->r[off / 4] = (uint32_t)v;
}

static const MemoryRegionOps regs_ops = {
    .read = regs_read,
    .write = regs_write,
    .min_access_size = 4,
    .max_access_size = 4,
};

static uint64_t io_read(void *opaque, uint64_t off, unsigned size)
{
    TestDev *d = opaque;
    return d->io_bytes[off];
}

static void io_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    TestDev *d = opaque;
    d->io_bytes[off] = (uint8_t)v;
}

static const MemoryRegionOps io_ops = {
    .read = io_read,
    .write = io_write,
    .min_access_size = 1,
    .max_access_size = 1,
};

static void test_config_hook(PCIDevice *pci, uint32_t off, uint32_t old_val,
                             uint32_t new_val, unsigned size)
{
    TestDev *d = pci->opaque;
    d->hook_calls++;
    d->hook_off = off;
    d->hook_old = old_val;
    d->hook_new = new_val;
    d->hook_size = size;
}

static const PCIDeviceInfo test_info = {
    .vendor_id = 0x1af4,
    .device_id = 0x1048,
    .revision = 0x01,
    .class_code = 0x010000,
    .subsys_vendor_id = 0x1af4,
    .subsys_id = 0x0008,
    .intx_pin = 1,
};

static void test_dev_init(TestDev *d, const char *name)
{
    memset(d, 0, sizeof(*d));
    pci_device_init(&d->pci, name, &test_info);
    d->pci.opaque = d;
    d->pci.config_write = test_config_hook;
    memory_region_init(&d->regs, "regs", &regs_ops, d, sizeof(d->r));
    memory_region_init(&d->io, "io", &io_ops, d, sizeof(d->io_bytes));
}

/* ---- machine set-up for each test ---- */

static void machine_up(void)
{
    SchedConfig sc = {.seed = 1};
    g_autoptr(GError) err = NULL;

    memory_init();
    event_loop_init();
    g_assert_true(cpus_init(2, &sc, &err));
    g_assert_no_error(err);
}

static void machine_down(void)
{
    bnd_hooks_clear();
    cpus_fini();
    event_loop_fini();
    memory_fini();
}

/* Records boundary crossings of selected kinds; can answer them. */
typedef struct Recorder {
    GArray *log; /* BndAccess */
    bool answer_reads;
    bool swallow_writes;
    bool drop_irqs;
    uint64_t answer;
} Recorder;

static bool rec_before(BndAccess *a, void *opaque)
{
    Recorder *r = opaque;

    if (a->kind == BND_CFG_READ && r->answer_reads) {
        a->value = r->answer;
        return true;
    }
    if (a->kind == BND_CFG_WRITE && r->swallow_writes) {
        return true;
    }
    if (a->kind == BND_IRQ_RAISE && r->drop_irqs) {
        return true;
    }
    return false;
}

static void rec_after(const BndAccess *a, void *opaque)
{
    Recorder *r = opaque;
    g_array_append_val(r->log, *a);
}

static BndHook rec_attach(Recorder *r)
{
    BndHook h = {.name = "test-recorder",
                 .before = rec_before,
                 .after = rec_after,
                 .opaque = r};

    r->log = g_array_new(FALSE, FALSE, sizeof(BndAccess));
    g_assert_true(bnd_hook_add(&h));
    return h;
}

static void rec_detach(Recorder *r, BndHook *h)
{
    bnd_hook_remove(h);
    g_array_free(r->log, TRUE);
}

static unsigned rec_count(const Recorder *r, BndKind kind)
{
    unsigned n = 0;
    for (guint i = 0; i < r->log->len; i++) {
        n += g_array_index(r->log, BndAccess, i).kind == kind;
    }
    return n;
}

static const BndAccess *rec_last(const Recorder *r, BndKind kind)
{
    for (guint i = r->log->len; i > 0; i--) {
        const BndAccess *a = &g_array_index(r->log, BndAccess, i - 1);
        if (a->kind == kind) {
            return a;
        }
    }
    g_assert_not_reached();
}

/* ---- config space ---- */

static void test_header_read(void)
{
    static const struct {
        uint32_t off;
        unsigned size;
        uint32_t val;
    } tab[] = {
        {PCI_CFG_VENDOR_ID, 2, 0x1af4},
        {PCI_CFG_DEVICE_ID, 2, 0x1048},
        {PCI_CFG_VENDOR_ID, 4, 0x10481af4},
        {PCI_CFG_COMMAND, 2, 0},
        {PCI_CFG_STATUS, 2, 0},
        {PCI_CFG_REVISION_ID, 4, 0x01000001}, /* rev + class 01:00:00 */
        {PCI_CFG_CLASS_BASE, 1, 0x01},
        {PCI_CFG_HEADER_TYPE, 1, 0x00},
        {PCI_CFG_SUBSYS_VENDOR, 4, 0x00081af4},
        {PCI_CFG_CAP_PTR, 1, 0},
        {PCI_CFG_INTERRUPT_PIN, 1, 1},
        {0x01, 2, 0x481a},     /* unaligned word */
        {0x03, 4, 0x00000010}, /* across a dword */
        {0x2d, 2, 0x081a},
        {0x3e, 2, 0},
        {0xfc, 4, 0}, /* unimplemented: 0 */
        {0xff, 1, 0},
    };
    TestDev d;

    machine_up();
    test_dev_init(&d, "hdr");
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        g_assert_cmphex(pci_config_read(&d.pci, tab[i].off, tab[i].size), ==,
                        tab[i].val);
    }
    /* The whole space, byte by byte, is exactly the device's bytes. */
    for (unsigned off = 0; off < PCI_CONFIG_SPACE_SIZE; off++) {
        g_assert_cmphex(pci_config_read(&d.pci, off, 1), ==, d.pci.config[off]);
    }
    for (unsigned off = 0; off < PCI_CONFIG_SPACE_SIZE; off += 4) {
        g_assert_cmphex(pci_config_read(&d.pci, off, 4), ==,
                        pci_get_long(d.pci.config + off));
    }
    pci_device_fini(&d.pci);
    machine_down();
}

/* Every byte the masks say is read-only stays as it was. */
static void test_read_only_bytes(void)
{
    TestDev d;
    uint8_t before[PCI_CONFIG_SPACE_SIZE];
    g_autoptr(GError) err = NULL;
    static const uint8_t body[] = {0xde, 0xad};

    machine_up();
    test_dev_init(&d, "ro");
    pci_register_bar(&d.pci, 0, PCI_BAR_MEM32, &d.regs);
    g_assert_cmpuint(pci_add_pm_capability(&d.pci, &err), !=, 0);
    g_assert_cmpuint(pci_add_express_capability(&d.pci, &err), !=, 0);
    g_assert_cmpuint(msi_init(&d.pci, 4, true, true, &err), !=, 0);
    g_assert_cmpuint(pci_add_vendor_capability(&d.pci, body, 2, &err), !=, 0);
    g_assert_no_error(err);
    memcpy(before, d.pci.config, sizeof(before));

    for (unsigned off = 0; off < PCI_CONFIG_SPACE_SIZE; off++) {
        pci_config_write(&d.pci, off, 0xff, 1);
    }
    for (unsigned off = 0; off < PCI_CONFIG_SPACE_SIZE; off++) {
        uint8_t ro = (uint8_t) ~(d.pci.wmask[off] | d.pci.w1cmask[off]);
        /* D1/D2 writes are refused whole, so the PM state may stay. */
        g_assert_cmphex(d.pci.config[off] & ro, ==, before[off] & ro);
    }
    /* The obvious ones, spelled out. */
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_VENDOR_ID, 4), ==,
                    0x10481af4);
    /* Class code RO, cache line size (0x0c) RW. */
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_CLASS_PROG, 4), ==,
                    0xff010000);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_INTERRUPT_PIN, 1), ==, 1);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_INTERRUPT_LINE, 1), ==,
                    0xff);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_CAP_PTR, 1), ==,
                    before[PCI_CFG_CAP_PTR]);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_COMMAND, 2), ==,
                    PCI_CMD_WRITABLE);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_ROM_ADDRESS, 4), ==, 0);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_BAR(1), 4), ==, 0);
    pci_device_fini(&d.pci);
    machine_down();
}

static void test_status_w1c(void)
{
    TestDev d;
    uint16_t sts;
    g_autoptr(GError) err = NULL;

    machine_up();
    test_dev_init(&d, "w1c");
    g_assert_cmpuint(pci_add_pm_capability(&d.pci, &err), ==, 0x40);
    /* The device model latches errors through its own accessor. */
    pci_set_word(d.pci.config + PCI_CFG_STATUS,
                 pci_get_word(d.pci.config + PCI_CFG_STATUS) |
                     PCI_STS_REC_MASTER_ABORT | PCI_STS_DETECTED_PARITY);
    sts = (uint16_t)pci_config_read(&d.pci, PCI_CFG_STATUS, 2);
    g_assert_cmphex(sts, ==,
                    PCI_STS_CAP_LIST | PCI_STS_REC_MASTER_ABORT |
                        PCI_STS_DETECTED_PARITY);
    /* Writing 0 clears nothing; 1 clears that bit; RO bits stay. */
    pci_config_write(&d.pci, PCI_CFG_STATUS, 0, 2);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_STATUS, 2), ==, sts);
    pci_config_write(&d.pci, PCI_CFG_STATUS,
                     PCI_STS_REC_MASTER_ABORT | PCI_STS_CAP_LIST, 2);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_STATUS, 2), ==,
                    PCI_STS_CAP_LIST | PCI_STS_DETECTED_PARITY);
    /* A dword write to COMMAND carries the status half along. */
    pci_config_write(&d.pci, PCI_CFG_COMMAND,
                     ((uint32_t)PCI_STS_DETECTED_PARITY << 16) | PCI_CMD_MASTER,
                     4);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_COMMAND, 4), ==,
                    ((uint32_t)PCI_STS_CAP_LIST << 16) | PCI_CMD_MASTER);
    /* PMCSR: PME status is W1C, the state field RW, D1/D2 refused. */
    d.pci.config[0x40 + PCI_PM_CTRL + 1] |= 0x80;
    pci_config_write(&d.pci, 0x40 + PCI_PM_CTRL, 0x8003, 2);
    g_assert_cmphex(pci_config_read(&d.pci, 0x40 + PCI_PM_CTRL, 2), ==,
                    PCI_PM_CTRL_NO_SOFT_RESET | 3);
    pci_config_write(&d.pci, 0x40 + PCI_PM_CTRL, 0x0001, 2);
    g_assert_cmphex(pci_config_read(&d.pci, 0x40 + PCI_PM_CTRL, 2), ==,
                    PCI_PM_CTRL_NO_SOFT_RESET | 3);
    pci_config_write(&d.pci, 0x40 + PCI_PM_CTRL, 0x0000, 2);
    g_assert_cmphex(pci_config_read(&d.pci, 0x40 + PCI_PM_CTRL, 2), ==,
                    PCI_PM_CTRL_NO_SOFT_RESET);
    pci_device_fini(&d.pci);
    machine_down();
}

static void test_out_of_range(void)
{
    static const struct {
        uint32_t off;
        unsigned size;
        uint32_t ones;
    } tab[] = {
        {0x100, 1, 0xff},        {0xff, 2, 0xffff},     {0xfd, 4, 0xffffffff},
        {0x1000, 4, 0xffffffff}, {0xffffffff, 1, 0xff}, {0x00, 3, 0xffffffff},
        {0x00, 8, 0xffffffff},   {0x00, 0, 0xffffffff},
    };
    TestDev d;
    uint8_t before[PCI_CONFIG_SPACE_SIZE];

    machine_up();
    test_dev_init(&d, "oor");
    memcpy(before, d.pci.config, sizeof(before));
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        uint64_t errs = guest_errors_total();
        g_assert_cmphex(pci_config_read(&d.pci, tab[i].off, tab[i].size), ==,
                        tab[i].ones);
        g_assert_cmpuint(guest_errors_total(), ==, errs + 1);
        pci_config_write(&d.pci, tab[i].off, 0, tab[i].size);
        g_assert_cmpuint(guest_errors_total(), ==, errs + 2);
    }
    g_assert_cmpmem(before, sizeof(before), d.pci.config, sizeof(before));
    g_assert_cmpuint(d.pci.guest_errors, ==, 2 * G_N_ELEMENTS(tab));
    g_assert_cmpuint(d.hook_calls, ==, 0);
    pci_device_fini(&d.pci);
    machine_down();
}

static void test_config_write_hook(void)
{
    TestDev d;

    machine_up();
    test_dev_init(&d, "hook");
    pci_config_write(&d.pci, PCI_CFG_COMMAND, 0xffff, 2);
    g_assert_cmpuint(d.hook_calls, ==, 1);
    g_assert_cmphex(d.hook_off, ==, PCI_CFG_COMMAND);
    g_assert_cmphex(d.hook_old, ==, 0);
    g_assert_cmphex(d.hook_new, ==, PCI_CMD_WRITABLE);
    g_assert_cmpuint(d.hook_size, ==, 2);
    pci_config_write(&d.pci, PCI_CFG_INTERRUPT_LINE, 0x1234, 2);
    g_assert_cmpuint(d.hook_calls, ==, 2);
    g_assert_cmphex(d.hook_old, ==, 0x0100); /* line 0, pin 1 */
    g_assert_cmphex(d.hook_new, ==, 0x0134);
    pci_device_fini(&d.pci);
    machine_down();
}

/* Config accesses are boundary crossings with a cost in virtual time. */
static void test_config_boundary(void)
{
    TestDev d;
    PCIBusState *bus;
    Recorder r = {0};
    BndHook h;
    const BndAccess *a;
    uint64_t t0;

    machine_up();
    bus = pci_bus_new();
    test_dev_init(&d, "bnd");
    g_assert_true(pci_bus_add(bus, &d.pci, PCI_DEVFN(3, 0), NULL));
    h = rec_attach(&r);

    t0 = vclock_now();
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_DEVICE_ID, 2), ==, 0x1048);
    g_assert_cmpuint(vclock_now() - t0, ==, BND_MMIO_READ_NS);
    t0 = vclock_now();
    pci_config_write(&d.pci, PCI_CFG_CACHE_LINE, 0x10, 1);
    g_assert_cmpuint(vclock_now() - t0, ==, BND_MMIO_WRITE_NS);
    pci_config_read(&d.pci, 0x200, 4);

    g_assert_cmpuint(r.log->len, ==, 3);
    a = &g_array_index(r.log, BndAccess, 0);
    g_assert_cmpint(a->kind, ==, BND_CFG_READ);
    g_assert_cmpuint(a->devfn, ==, PCI_DEVFN(3, 0));
    g_assert_cmphex(a->addr, ==, PCI_CFG_DEVICE_ID);
    g_assert_cmpuint(a->size, ==, 2);
    g_assert_cmphex(a->value, ==, 0x1048);
    g_assert_cmpint(a->cpu, ==, -1);
    g_assert_true(a->ok);
    a = &g_array_index(r.log, BndAccess, 1);
    g_assert_cmpint(a->kind, ==, BND_CFG_WRITE);
    g_assert_cmphex(a->value, ==, 0x10);
    g_assert_true(a->ok);
    a = &g_array_index(r.log, BndAccess, 2);
    g_assert_false(a->ok);
    g_assert_cmphex(a->value, ==, 0xffffffff);

    /* A hook answers a read (replay) and swallows a write. */
    r.answer_reads = true;
    r.answer = 0xcafe;
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_VENDOR_ID, 2), ==, 0xcafe);
    r.answer_reads = false;
    r.swallow_writes = true;
    pci_config_write(&d.pci, PCI_CFG_CACHE_LINE, 0x20, 1);
    g_assert_cmphex(d.pci.config[PCI_CFG_CACHE_LINE], ==, 0x10);
    g_assert_cmpuint(rec_count(&r, BND_CFG_WRITE), ==, 2);

    rec_detach(&r, &h);
    pci_device_fini(&d.pci);
    pci_bus_free(bus);
    machine_down();
}

/* ---- capabilities ---- */

static void test_capability_list(void)
{
    static const uint8_t body[] = {1, 2, 3, 4, 5};
    static const struct {
        uint8_t id;
        uint8_t off;
    } expect[] = {
        {PCI_CAP_ID_PM, 0x40},   /* 8 bytes */
        {PCI_CAP_ID_MSI, 0x48},  /* 64-bit, maskable: 0x18 */
        {PCI_CAP_ID_EXP, 0x60},  /* 0x3c */
        {PCI_CAP_ID_VNDR, 0x9c}, /* 3 + 5 */
        {PCI_CAP_ID_MSIX, 0xa4}, /* 12 */
    };
    TestDev d;
    PCIBarContainer bar;
    g_autoptr(GError) err = NULL;
    uint8_t off;
    unsigned n = 0;

    machine_up();
    test_dev_init(&d, "caps");
    g_assert_cmphex(
        pci_config_read(&d.pci, PCI_CFG_STATUS, 2) & PCI_STS_CAP_LIST, ==, 0);
    pci_bar_container_init(&bar, "caps-bar0", 0x4000);
    pci_register_bar(&d.pci, 0, PCI_BAR_MEM32, &bar.mr);
    g_assert_cmphex(pci_add_pm_capability(&d.pci, &err), ==, 0x40);
    g_assert_cmphex(msi_init(&d.pci, 8, true, true, &err), ==, 0x48);
    g_assert_cmphex(pci_add_express_capability(&d.pci, &err), ==, 0x60);
    g_assert_cmphex(pci_add_vendor_capability(&d.pci, body, sizeof(body), &err),
                    ==, 0x9c);
    g_assert_cmphex(msix_init(&d.pci, 4, 0, 0x2000, 0, 0x3000, &err), ==, 0xa4);
    g_assert_no_error(err);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_STATUS, 2) &
                        PCI_STS_CAP_LIST,
                    ==, PCI_STS_CAP_LIST);

    /* Walk it as a driver does, from the pointer at 0x34. */
    off = (uint8_t)pci_config_read(&d.pci, PCI_CFG_CAP_PTR, 1);
    while (off) {
        g_assert_cmpuint(n, <, G_N_ELEMENTS(expect));
        g_assert_cmphex(off, ==, expect[n].off);
        g_assert_cmphex(off % 4, ==, 0);
        g_assert_cmphex(pci_config_read(&d.pci, off, 1), ==, expect[n].id);
        g_assert_cmphex(pci_find_capability(&d.pci, expect[n].id), ==, off);
        off = (uint8_t)pci_config_read(&d.pci, off + PCI_CAP_NEXT_OFF, 1);
        n++;
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(expect));
    g_assert_cmphex(pci_find_capability(&d.pci, 0x12), ==, 0);

    /* Contents: vendor length and body, PCIe endpoint v2, PM version. */
    g_assert_cmphex(pci_config_read(&d.pci, 0x9c + PCI_VNDR_LEN, 1), ==, 8);
    for (unsigned i = 0; i < sizeof(body); i++) {
        g_assert_cmphex(pci_config_read(&d.pci, 0x9c + PCI_VNDR_BODY + i, 1),
                        ==, body[i]);
    }
    g_assert_cmphex(pci_config_read(&d.pci, 0x60 + PCI_EXP_FLAGS, 2), ==,
                    0x0002);
    g_assert_cmphex(pci_config_read(&d.pci, 0x60 + PCI_EXP_LNKSTA, 2) & 0x3ff,
                    ==, 0x11);
    g_assert_cmphex(pci_config_read(&d.pci, 0x40 + PCI_PM_PMC, 2) & 7, ==, 3);
    g_assert_cmphex(pci_config_read(&d.pci, 0x48 + PCI_MSI_CTRL, 2), ==,
                    PCI_MSI_CTRL_64BIT | PCI_MSI_CTRL_MASKABLE | (3 << 1));

    /* No room left for a big one; a too-small header is refused too. */
    g_assert_cmphex(pci_add_capability(&d.pci, 0x09, 0x60, &err), ==, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmphex(pci_add_capability(&d.pci, 0x09, 1, &err), ==, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    /* A small one still fits after MSI-X, and links in last. */
    off = pci_add_capability(&d.pci, PCI_CAP_ID_VNDR, 8, &err);
    g_assert_cmphex(off, ==, 0xb0);
    g_assert_cmphex(d.pci.config[0xa4 + PCI_CAP_NEXT_OFF], ==, 0xb0);

    pci_device_fini(&d.pci);
    pci_bar_container_destroy(&bar);
    machine_down();
}

/* ---- BARs ---- */

static void test_bar_sizing(void)
{
    static const struct {
        unsigned type;
        uint64_t region;
        uint64_t size;
        uint32_t lo, hi; /* read back after writing all ones */
    } tab[] = {
        {PCI_BAR_MEM32, 0x1000, 0x1000, 0xfffff000, 0},
        {PCI_BAR_MEM32, 100, 128, 0xffffff80, 0},
        {PCI_BAR_MEM32, 3, 16, 0xfffffff0, 0},
        {PCI_BAR_MEM32 | PCI_BAR_PREFETCH, 0x4000, 0x4000, 0xffffc008, 0},
        {PCI_BAR_MEM64, 0x10000, 0x10000, 0xffff0004, 0xffffffff},
        {PCI_BAR_MEM64 | PCI_BAR_PREFETCH, 0x2000, 0x2000, 0xffffe00c,
         0xffffffff},
        {PCI_BAR_MEM64, 1ULL << 33, 1ULL << 33, 0x00000004, 0xfffffffe},
        {PCI_BAR_IO, 0x20, 0x20, 0xffffffe1, 0},
        {PCI_BAR_IO, 2, 4, 0xfffffffd, 0},
    };

    machine_up();
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        TestDev d;
        MemoryRegion mr;
        bool is64 = (tab[i].type & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM64 &&
                    !(tab[i].type & PCI_BAR_IO);
        unsigned idx = 2;

        test_dev_init(&d, "size");
        memory_region_init(&mr, "sized", &regs_ops, &d, tab[i].region);
        pci_register_bar(&d.pci, idx, tab[i].type, &mr);
        g_assert_cmpuint(pci_bar_size(&d.pci, idx), ==, tab[i].size);
        g_assert_cmpuint(pci_bar_type(&d.pci, idx), ==, tab[i].type);
        /* Before sizing the BAR reads its type bits alone. */
        g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_BAR(idx), 4), ==,
                        tab[i].type);
        pci_config_write(&d.pci, PCI_CFG_BAR(idx), 0xffffffff, 4);
        pci_config_write(&d.pci, PCI_CFG_BAR(idx + 1), 0xffffffff, 4);
        g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_BAR(idx), 4), ==,
                        tab[i].lo);
        g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_BAR(idx + 1), 4), ==,
                        tab[i].hi);
        if (is64) {
            g_assert_cmpuint(pci_bar_size(&d.pci, idx + 1), ==, 0);
        }
        /* An address write reads back as the address plus type bits. */
        pci_config_write(&d.pci, PCI_CFG_BAR(idx), 0xe0000000, 4);
        pci_config_write(&d.pci, PCI_CFG_BAR(idx + 1), 0, 4);
        if (tab[i].type & PCI_BAR_IO) {
            g_assert_cmphex(pci_bar_addr(&d.pci, idx), ==, 0xe0000000);
        } else {
            g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_BAR(idx), 4), ==,
                            (0xe0000000 & tab[i].lo) | tab[i].type);
        }
        /* The unused BARs around stay zero. */
        pci_config_write(&d.pci, PCI_CFG_BAR(0), 0xffffffff, 4);
        g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_BAR(0), 4), ==, 0);
        pci_device_fini(&d.pci);
    }
    machine_down();
}

static void assert_mapped(MemoryRegion *mr, AddressSpace *as, uint64_t addr,
                          bool mapped)
{
    MemoryRegion *hit = address_space_lookup(as, addr);

    if (mapped) {
        g_assert_true(hit == mr);
        g_assert_cmphex(mr->addr, ==, addr);
    } else {
        g_assert_true(hit != mr);
    }
}

static void test_bar_decode(void)
{
    TestDev d;
    MemoryRegion big;
    uint64_t a1 = PCI_MMIO_BASE + 0x10000, a2 = PCI_MMIO_BASE + 0x20000;
    bool ok;

    machine_up();
    test_dev_init(&d, "decode");
    memory_region_init(&big, "big", &regs_ops, &d, 0x8000);
    pci_register_bar(&d.pci, 0, PCI_BAR_MEM32, &d.regs);
    pci_register_bar(&d.pci, 1, PCI_BAR_IO, &d.io);
    pci_register_bar(&d.pci, 2, PCI_BAR_MEM64, &big);
    d.r[1] = 0x11223344;

    /* An address alone does not decode: MEM is off. */
    pci_config_write(&d.pci, PCI_CFG_BAR(0), (uint32_t)a1, 4);
    assert_mapped(&d.regs, as_memory, a1, false);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 0), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(pci_bar_addr(&d.pci, 0), ==, a1);

    pci_config_write(&d.pci, PCI_CFG_COMMAND, PCI_CMD_MEM, 2);
    assert_mapped(&d.regs, as_memory, a1, true);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 0), ==, a1);
    g_assert_cmphex(address_space_read(as_memory, a1 + 4, 4, &ok), ==,
                    0x11223344);
    g_assert_true(ok);
    /* The BAR's other parts are still unprogrammed: nothing decodes. */
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 2), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 1), ==, PCI_BAR_UNMAPPED);

    /* Move: old address empty, new one answers. */
    pci_config_write(&d.pci, PCI_CFG_BAR(0), (uint32_t)a2, 4);
    assert_mapped(&d.regs, as_memory, a1, false);
    assert_mapped(&d.regs, as_memory, a2, true);
    g_assert_cmphex(address_space_read(as_memory, a2 + 4, 4, &ok), ==,
                    0x11223344);

    /* Sizing with decode on parks the BAR outside the window: unmapped. */
    pci_config_write(&d.pci, PCI_CFG_BAR(0), 0xffffffff, 4);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 0), ==, PCI_BAR_UNMAPPED);
    pci_config_write(&d.pci, PCI_CFG_BAR(0), (uint32_t)a2, 4);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 0), ==, a2);
    /* An address in RAM is outside the host bridge window too. */
    pci_config_write(&d.pci, PCI_CFG_BAR(0), 0x100000, 4);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 0), ==, PCI_BAR_UNMAPPED);
    pci_config_write(&d.pci, PCI_CFG_BAR(0), (uint32_t)a2, 4);

    /* 64-bit: the high dword takes part in the address. */
    pci_config_write(&d.pci, PCI_CFG_BAR(2), (uint32_t)a1, 4);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 2), ==, a1);
    pci_config_write(&d.pci, PCI_CFG_BAR(3), 1, 4);
    g_assert_cmphex(pci_bar_addr(&d.pci, 2), ==, a1 | (1ULL << 32));
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 2), ==, PCI_BAR_UNMAPPED);
    assert_mapped(&big, as_memory, a1, false);
    pci_config_write(&d.pci, PCI_CFG_BAR(3), 0, 4);
    assert_mapped(&big, as_memory, a1, true);

    /* I/O: needs the IO enable and the I/O window. */
    pci_config_write(&d.pci, PCI_CFG_BAR(1), 0x2000, 4);
    assert_mapped(&d.io, as_io, 0x2000, false);
    pci_config_write(&d.pci, PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_IO, 2);
    assert_mapped(&d.io, as_io, 0x2000, true);
    address_space_write(as_io, 0x2003, 0x5a, 1, &ok);
    g_assert_true(ok);
    g_assert_cmphex(d.io_bytes[3], ==, 0x5a);
    pci_config_write(&d.pci, PCI_CFG_BAR(1), 0x0800, 4); /* legacy */
    assert_mapped(&d.io, as_io, 0x0800, false);
    pci_config_write(&d.pci, PCI_CFG_BAR(1), 0x2000, 4);

    /* Disabling MEM unmaps both memory BARs and leaves I/O alone. */
    pci_config_write(&d.pci, PCI_CFG_COMMAND, PCI_CMD_IO, 2);
    assert_mapped(&d.regs, as_memory, a2, false);
    assert_mapped(&big, as_memory, a1, false);
    assert_mapped(&d.io, as_io, 0x2000, true);
    g_assert_cmphex(address_space_read(as_memory, a2, 4, &ok), ==, 0xffffffff);
    g_assert_false(ok);

    pci_device_fini(&d.pci);
    g_assert_null(address_space_lookup(as_io, 0x2000));
    machine_down();
}

/* Two functions programmed to the same range: the second does not
 * decode (a counted guest error) until the first moves away. */
static void test_bar_conflict(void)
{
    TestDev d1, d2;
    PCIBusState *bus;
    uint64_t addr = PCI_MMIO_BASE + 0x40000, errs;

    machine_up();
    bus = pci_bus_new();
    test_dev_init(&d1, "one");
    test_dev_init(&d2, "two");
    pci_register_bar(&d1.pci, 0, PCI_BAR_MEM32, &d1.regs);
    pci_register_bar(&d2.pci, 0, PCI_BAR_MEM32, &d2.regs);
    g_assert_true(pci_bus_add(bus, &d1.pci, PCI_DEVFN(1, 0), NULL));
    g_assert_true(pci_bus_add(bus, &d2.pci, PCI_DEVFN(2, 0), NULL));
    pci_config_write(&d1.pci, PCI_CFG_BAR(0), (uint32_t)addr, 4);
    pci_config_write(&d1.pci, PCI_CFG_COMMAND, PCI_CMD_MEM, 2);
    pci_config_write(&d2.pci, PCI_CFG_BAR(0), (uint32_t)addr, 4);
    errs = guest_errors_total();
    pci_config_write(&d2.pci, PCI_CFG_COMMAND, PCI_CMD_MEM, 2);
    g_assert_cmpuint(guest_errors_total(), ==, errs + 1);
    assert_mapped(&d1.regs, as_memory, addr, true);
    g_assert_cmphex(pci_bar_mapped_addr(&d2.pci, 0), ==, PCI_BAR_UNMAPPED);
    /* Reported once, not on every config write. */
    pci_config_write(&d2.pci, PCI_CFG_COMMAND, PCI_CMD_MEM, 2);
    g_assert_cmpuint(guest_errors_total(), ==, errs + 1);

    pci_config_write(&d1.pci, PCI_CFG_BAR(0), (uint32_t)addr + 0x1000, 4);
    assert_mapped(&d1.regs, as_memory, addr + 0x1000, true);
    assert_mapped(&d2.regs, as_memory, addr, true);

    /* Unplugging the holder frees the range for the refused BAR. */
    pci_config_write(&d2.pci, PCI_CFG_BAR(0), (uint32_t)addr + 0x1000, 4);
    g_assert_cmphex(pci_bar_mapped_addr(&d2.pci, 0), ==, PCI_BAR_UNMAPPED);
    pci_bus_remove(bus, &d1.pci);
    assert_mapped(&d2.regs, as_memory, addr + 0x1000, true);

    pci_device_fini(&d1.pci);
    pci_device_fini(&d2.pci);
    pci_bus_free(bus);
    machine_down();
}

/* ---- BAR containers ---- */

typedef struct Wide {
    uint64_t q[4];
} Wide;

static uint64_t wide_read(void *opaque, uint64_t off, unsigned size)
{
    Wide *w = opaque;
    uint64_t v = w->q[off / 8] >> (8 * (off % 8));
    return size == 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

static void wide_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    Wide *w = opaque;
    g_assert_cmpuint(size, ==, 8);
    w->q[off / 8] = v;
}

static const MemoryRegionOps wide_ops = {
    .read = wide_read,
    .write = wide_write,
    .min_access_size = 2,
    .max_access_size = 8,
};

static void test_container(void)
{
    static const struct {
        uint64_t off;
        unsigned size;
        uint64_t val; /* expected read */
        bool error;
    } tab[] = {
        {0x000, 4, 0xa0, false}, /* regs r[0] */
        {0x004, 4, 0xa1, false},
        {0x002, 4, 0, true},  /* misaligned for regs */
        {0x000, 2, 0, true},  /* too small for regs */
        {0x000, 8, 0, true},  /* too big for regs */
        {0x0fc, 8, 0, true},  /* runs past regs' end */
        {0x080, 4, 0, false}, /* regs r[32] = 0: no error */
        {0x100, 4, 0, true},  /* hole after regs */
        {0x7fc, 4, 0, true},  /* hole */
        {0x800, 8, 0x1122334455667788ULL, false},
        {0x800, 2, 0x7788, false},
        {0x800, 1, 0, true}, /* below wide's minimum */
        {0x808, 4, 0x99aabbcc, false},
        {0x81c, 8, 0, true}, /* crosses wide's end */
        {0xff8, 8, 0, true}, /* hole at the very end */
    };
    TestDev d;
    Wide w = {.q = {0x1122334455667788ULL, 0x99aabbccULL}};
    MemoryRegion wide;
    PCIBarContainer c;
    g_autoptr(GError) err = NULL;
    uint64_t base = PCI_MMIO_BASE + 0x100000;
    bool ok;

    machine_up();
    test_dev_init(&d, "cont");
    d.r[0] = 0xa0;
    d.r[1] = 0xa1;
    memory_region_init(&wide, "wide", &wide_ops, &w, sizeof(w.q));
    pci_bar_container_init(&c, "cont-bar0", 0x1000);
    g_assert_true(pci_bar_container_add(&c, 0x800, &wide, &err));
    g_assert_true(pci_bar_container_add(&c, 0x000, &d.regs, &err));
    g_assert_no_error(err);
    /* Overlap and overflow are refused. */
    g_assert_false(pci_bar_container_add(&c, 0x810, &d.io, &err));
    g_clear_error(&err);
    g_assert_false(pci_bar_container_add(&c, 0xff0, &d.io, &err));
    g_clear_error(&err);
    g_assert_true(pci_bar_container_of(&c.mr) == &c);
    g_assert_null(pci_bar_container_of(&d.regs));

    pci_register_bar(&d.pci, 0, PCI_BAR_MEM32, &c.mr);
    g_assert_cmpuint(pci_bar_size(&d.pci, 0), ==, 0x1000);
    pci_config_write(&d.pci, PCI_CFG_BAR(0), (uint32_t)base, 4);
    pci_config_write(&d.pci, PCI_CFG_COMMAND, PCI_CMD_MEM, 2);

    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        uint64_t errs = guest_errors_total();
        uint64_t v =
            address_space_read(as_memory, base + tab[i].off, tab[i].size, &ok);
        g_assert_cmphex(v, ==, tab[i].val);
        g_assert_cmpuint(guest_errors_total(), ==,
                         errs + (tab[i].error ? 1 : 0));
    }
    /* Writes go to the right child; refused ones touch nothing. */
    address_space_write(as_memory, base + 0x808, 0xfeed, 8, &ok);
    g_assert_cmphex(w.q[1], ==, 0xfeed);
    address_space_write(as_memory, base + 0x00c, 0xbeef, 4, &ok);
    g_assert_cmphex(d.r[3], ==, 0xbeef);
    address_space_write(as_memory, base + 0x00e, 0x1, 2, &ok);
    g_assert_cmphex(d.r[3], ==, 0xbeef);
    address_space_write(as_memory, base + 0x400, 0x1, 4, &ok);
    g_assert_cmpuint(c.mr.guest_errors, ==, 4); /* 3 read + 1 write */

    /* The same access again takes the remembered route; a refused one
     * is refused (and counted) every time. */
    address_space_write(as_memory, base + 0x00c, 0xcafe, 4, &ok);
    g_assert_true(ok);
    g_assert_cmphex(d.r[3], ==, 0xcafe);
    address_space_write(as_memory, base + 0x400, 0x1, 4, &ok);
    g_assert_cmpuint(c.mr.guest_errors, ==, 5);

    /* A child taken out becomes a hole, even right after an access to it
     * (the route to it is forgotten). */
    g_assert_cmphex(address_space_read(as_memory, base + 0x800, 8, &ok), ==,
                    0x1122334455667788ULL);
    pci_bar_container_remove(&c, &wide);
    g_assert_cmphex(address_space_read(as_memory, base + 0x800, 8, &ok), ==, 0);
    g_assert_cmpuint(c.mr.guest_errors, ==, 6);

    /* So does the whole BAR when its decode is turned off. */
    g_assert_cmphex(address_space_read(as_memory, base + 0x00c, 4, &ok), ==,
                    0xcafe);
    pci_config_write(&d.pci, PCI_CFG_COMMAND, 0, 2);
    g_assert_cmphex(address_space_read(as_memory, base + 0x00c, 4, &ok), ==,
                    0xffffffff);
    g_assert_false(ok);

    pci_device_fini(&d.pci);
    pci_bar_container_destroy(&c);
    machine_down();
}

/* ---- bus and firmware ---- */

static void test_bus(void)
{
    TestDev d[4];
    PCIBusState *bus;
    g_autoptr(GError) err = NULL;
    PCIDevice *p;
    unsigned n = 0;
    static const unsigned order[] = {PCI_DEVFN(0, 0), PCI_DEVFN(1, 0),
                                     PCI_DEVFN(5, 0), PCI_DEVFN(5, 3)};

    machine_up();
    bus = pci_bus_new();
    for (unsigned i = 0; i < 4; i++) {
        test_dev_init(&d[i], "bus");
    }
    g_assert_true(pci_bus_add(bus, &d[0].pci, PCI_DEVFN(5, 0), &err));
    g_assert_true(pci_bus_add(bus, &d[1].pci, PCI_DEVFN(5, 3), &err));
    g_assert_true(pci_bus_add(bus, &d[2].pci, -1, &err)); /* slot 0 */
    g_assert_no_error(err);
    g_assert_false(pci_bus_add(bus, &d[3].pci, PCI_DEVFN(5, 3), &err));
    g_assert_error(err, STOREMU_ERROR, STOREMU_ERROR_BUSY);
    g_clear_error(&err);
    g_assert_false(pci_bus_add(bus, &d[3].pci, 256, &err));
    g_clear_error(&err);
    g_assert_true(pci_bus_add(bus, &d[3].pci, -1, &err)); /* slot 1 */

    g_assert_true(pci_bus_find(bus, PCI_DEVFN(5, 3)) == &d[1].pci);
    g_assert_null(pci_bus_find(bus, PCI_DEVFN(5, 1)));
    g_assert_null(pci_bus_find(bus, 999));
    g_assert_cmpuint(d[1].pci.devfn, ==, PCI_DEVFN(5, 3));
    g_assert_cmpuint(pci_device_bdf(&d[1].pci), ==, 0x2b);
    /* Function 0 of a multi-function slot says so. */
    g_assert_cmphex(pci_config_read(&d[0].pci, PCI_CFG_HEADER_TYPE, 1), ==,
                    PCI_HEADER_MULTI_FUNCTION);
    g_assert_cmphex(pci_config_read(&d[2].pci, PCI_CFG_HEADER_TYPE, 1), ==, 0);

    for (p = pci_bus_next(bus, NULL); p; p = pci_bus_next(bus, p)) {
        g_assert_cmpuint(n, <, G_N_ELEMENTS(order));
        g_assert_cmpuint(p->devfn, ==, order[n]);
        n++;
    }
    g_assert_cmpuint(n, ==, 4);

    pci_device_fini(&d[1].pci);
    g_assert_null(pci_bus_find(bus, PCI_DEVFN(5, 3)));
    g_assert_cmphex(d[0].pci.config[PCI_CFG_HEADER_TYPE], ==, 0);
    for (unsigned i = 0; i < 4; i++) {
        if (i != 1) {
            pci_device_fini(&d[i].pci);
        }
    }
    g_assert_cmpuint(bus->ndevices, ==, 0);
    pci_bus_free(bus);
    machine_down();
}

typedef struct Platform {
    PCIBusState *bus;
    TestDev d[3];
    MemoryRegion extra[3];
} Platform;

/* Three functions with a mix of BARs, built the same way every time. */
static void platform_build(Platform *pl)
{
    pl->bus = pci_bus_new();
    for (unsigned i = 0; i < 3; i++) {
        test_dev_init(&pl->d[i], "fw");
    }
    memory_region_init(&pl->extra[0], "x0", &regs_ops, &pl->d[0], 0x100000);
    memory_region_init(&pl->extra[1], "x1", &regs_ops, &pl->d[1], 0x3000);
    memory_region_init(&pl->extra[2], "x2", &io_ops, &pl->d[2], 0x40);
    pci_register_bar(&pl->d[0].pci, 0, PCI_BAR_MEM32, &pl->d[0].regs);
    pci_register_bar(&pl->d[0].pci, 2, PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
                     &pl->extra[0]);
    pci_register_bar(&pl->d[1].pci, 0, PCI_BAR_IO, &pl->d[1].io);
    pci_register_bar(&pl->d[1].pci, 1, PCI_BAR_MEM32, &pl->extra[1]);
    pci_register_bar(&pl->d[2].pci, 4, PCI_BAR_MEM64, &pl->d[2].regs);
    pci_register_bar(&pl->d[2].pci, 0, PCI_BAR_IO, &pl->extra[2]);
    g_assert_true(pci_bus_add(pl->bus, &pl->d[0].pci, PCI_DEVFN(2, 0), NULL));
    g_assert_true(pci_bus_add(pl->bus, &pl->d[1].pci, PCI_DEVFN(3, 0), NULL));
    g_assert_true(pci_bus_add(pl->bus, &pl->d[2].pci, PCI_DEVFN(3, 1), NULL));
}

static void platform_free(Platform *pl)
{
    for (unsigned i = 0; i < 3; i++) {
        pci_device_fini(&pl->d[i].pci);
    }
    pci_bus_free(pl->bus);
}

/* Every BAR aligned, in its window, decoding, disjoint; INTx routed. */
static void platform_check(Platform *pl, uint64_t addrs[3][PCI_NUM_BARS])
{
    GArray *ranges = g_array_new(FALSE, FALSE, sizeof(uint64_t));

    for (unsigned i = 0; i < 3; i++) {
        PCIDevice *dev = &pl->d[i].pci;
        uint16_t cmd = (uint16_t)pci_config_read(dev, PCI_CFG_COMMAND, 2);
        unsigned cpu, vector;

        g_assert_cmphex(cmd & PCI_CMD_MASTER, ==, PCI_CMD_MASTER);
        g_assert_cmphex(cmd & PCI_CMD_MEM, ==, PCI_CMD_MEM);
        g_assert_cmphex(cmd & PCI_CMD_IO, ==, i == 0 ? 0 : PCI_CMD_IO);
        for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
            uint64_t size = pci_bar_size(dev, b);
            uint64_t addr = pci_bar_addr(dev, b);
            uint64_t end = addr + size;

            addrs[i][b] = addr;
            if (!size) {
                continue;
            }
            g_assert_cmphex(addr & (size - 1), ==, 0);
            g_assert_cmphex(pci_bar_mapped_addr(dev, b), ==, addr);
            if (pci_bar_type(dev, b) & PCI_BAR_IO) {
                g_assert_cmphex(addr, >=, PCI_PIO_BASE);
                g_assert_cmphex(end, <=, PIO_SPACE_SIZE);
                g_assert_true(address_space_lookup(as_io, addr) ==
                              dev->bars[b].mr);
                continue;
            }
            g_assert_cmphex(addr, >=, PCI_MMIO_BASE);
            g_assert_cmphex(end, <=, PCI_MMIO_BASE + PCI_MMIO_SIZE);
            g_assert_true(address_space_lookup(as_memory, addr) ==
                          dev->bars[b].mr);
            for (guint k = 0; k < ranges->len; k += 2) {
                g_assert_true(end <= g_array_index(ranges, uint64_t, k) ||
                              addr >= g_array_index(ranges, uint64_t, k + 1));
            }
            g_array_append_val(ranges, addr);
            g_array_append_val(ranges, end);
        }
        /* INTA of slot 2 -> wire 2, of slot 3 -> wire 3. */
        g_assert_true(pci_intx_route(dev, &cpu, &vector));
        g_assert_cmpuint(cpu, ==, PCI_INTX_CPU);
        g_assert_cmphex(vector, ==,
                        PCI_INTX_VECTOR_BASE + (PCI_SLOT(dev->devfn) % 4));
        g_assert_cmphex(pci_config_read(dev, PCI_CFG_INTERRUPT_LINE, 1), ==,
                        vector);
    }
    g_array_free(ranges, TRUE);
}

static void test_firmware_assign(void)
{
    uint64_t addrs[2][3][PCI_NUM_BARS];

    for (unsigned run = 0; run < 2; run++) {
        Platform pl;
        g_autoptr(GError) err = NULL;

        machine_up();
        platform_build(&pl);
        g_assert_true(pci_bus_assign(pl.bus, &err));
        g_assert_no_error(err);
        platform_check(&pl, addrs[run]);
        /* Largest first: the 1 MiB BAR opens the window. */
        g_assert_cmphex(addrs[run][0][2], ==, PCI_MMIO_BASE);
        if (run == 1) {
            /* Assigning again changes nothing. */
            uint64_t again[3][PCI_NUM_BARS];
            g_assert_true(pci_bus_assign(pl.bus, &err));
            platform_check(&pl, again);
            g_assert_cmpmem(again, sizeof(again), addrs[run], sizeof(again));
        }
        platform_free(&pl);
        machine_down();
    }
    g_assert_cmpmem(addrs[0], sizeof(addrs[0]), addrs[1], sizeof(addrs[1]));
}

static void test_firmware_window_full(void)
{
    TestDev d;
    MemoryRegion huge;
    PCIBusState *bus;
    g_autoptr(GError) err = NULL;

    machine_up();
    bus = pci_bus_new();
    test_dev_init(&d, "huge");
    memory_region_init(&huge, "huge", &regs_ops, &d, 512ULL << 20);
    pci_register_bar(&d.pci, 0, PCI_BAR_MEM64, &huge);
    g_assert_true(pci_bus_add(bus, &d.pci, 0, NULL));
    g_assert_false(pci_bus_assign(bus, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "MMIO window"));
    pci_device_fini(&d.pci);
    pci_bus_free(bus);
    machine_down();
}

/* ---- INTx ---- */

static void test_intx(void)
{
    TestDev d1, d2;
    PCIBusState *bus;
    Recorder r = {0};
    BndHook h;
    unsigned cpu, vector;
    const BndAccess *a;

    machine_up();
    bus = pci_bus_new();
    test_dev_init(&d1, "intx1");
    test_dev_init(&d2, "intx2");
    /* Slots 1 and 5 with INTA share wire 1 after the swizzle. */
    g_assert_true(pci_bus_add(bus, &d1.pci, PCI_DEVFN(1, 0), NULL));
    g_assert_true(pci_bus_add(bus, &d2.pci, PCI_DEVFN(5, 0), NULL));
    /* Before the firmware routes it the line goes nowhere. */
    g_assert_false(pci_intx_route(&d1.pci, &cpu, &vector));
    pci_set_irq(&d1.pci, true);
    g_assert_cmphex(pci_config_read(&d1.pci, PCI_CFG_STATUS, 2) &
                        PCI_STS_INTERRUPT,
                    ==, PCI_STS_INTERRUPT);
    g_assert_false(irq_pending(0, PCI_INTX_VECTOR_BASE + 1));
    pci_set_irq(&d1.pci, false);

    g_assert_true(pci_bus_assign(bus, NULL));
    g_assert_true(pci_intx_route(&d1.pci, &cpu, &vector));
    g_assert_cmphex(vector, ==, PCI_INTX_VECTOR_BASE + 1);
    h = rec_attach(&r);

    pci_set_irq(&d1.pci, true);
    g_assert_true(irq_pending(0, vector));
    g_assert_cmpuint(rec_count(&r, BND_IRQ_RAISE), ==, 1);
    a = rec_last(&r, BND_IRQ_RAISE);
    g_assert_cmpint(a->cpu, ==, 0);
    g_assert_cmphex(a->addr, ==, vector);
    g_assert_cmphex(a->value, ==, IRQCHIP_BND_LEVEL | IRQCHIP_BND_ASSERT);

    /* INTx Disable drops the line, status still shows the request. */
    pci_config_write(&d1.pci, PCI_CFG_COMMAND,
                     PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_DISABLE, 2);
    g_assert_false(irq_pending(0, vector));
    g_assert_cmphex(pci_config_read(&d1.pci, PCI_CFG_STATUS, 2) &
                        PCI_STS_INTERRUPT,
                    ==, PCI_STS_INTERRUPT);
    a = rec_last(&r, BND_IRQ_RAISE);
    g_assert_cmphex(a->value, ==, IRQCHIP_BND_LEVEL);
    pci_config_write(&d1.pci, PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER, 2);
    g_assert_true(irq_pending(0, vector));

    /* Wired OR: the line stays up while either function asserts it. */
    pci_set_irq(&d2.pci, true);
    pci_set_irq(&d1.pci, false);
    g_assert_true(irq_pending(0, vector));
    g_assert_cmphex(
        pci_config_read(&d1.pci, PCI_CFG_STATUS, 2) & PCI_STS_INTERRUPT, ==, 0);
    pci_set_irq(&d2.pci, false);
    g_assert_false(irq_pending(0, vector));
    /* Only the 0->1 and 1->0 wire transitions cross the boundary. */
    g_assert_cmpuint(rec_count(&r, BND_IRQ_RAISE), ==, 4);

    /* Disable set before the request: nothing reaches the vCPU. */
    pci_config_write(&d1.pci, PCI_CFG_COMMAND, PCI_CMD_INTX_DISABLE, 2);
    pci_set_irq(&d1.pci, true);
    g_assert_false(irq_pending(0, vector));
    /* Unplugging an asserting function releases its share. */
    pci_config_write(&d1.pci, PCI_CFG_COMMAND, 0, 2);
    g_assert_true(irq_pending(0, vector));
    pci_bus_remove(bus, &d1.pci);
    g_assert_false(irq_pending(0, vector));

    rec_detach(&r, &h);
    pci_device_fini(&d1.pci);
    pci_device_fini(&d2.pci);
    pci_bus_free(bus);
    machine_down();
}

/* ---- MSI ---- */

static void msi_program(PCIDevice *dev, uint8_t cap, unsigned cpu,
                        unsigned data, unsigned mme)
{
    pci_config_write(dev, cap + PCI_MSI_ADDR_LO,
                     (uint32_t)irqchip_msi_address(cpu), 4);
    pci_config_write(dev, cap + PCI_MSI_ADDR_HI, 0, 4);
    pci_config_write(dev, cap + PCI_MSI_DATA_64, data, 2);
    pci_config_write(dev, cap + PCI_MSI_CTRL,
                     PCI_MSI_CTRL_ENABLE | (mme << PCI_MSI_CTRL_MME_SHIFT), 2);
}

static void test_msi(void)
{
    TestDev d;
    PCIBusState *bus;
    uint8_t cap;
    g_autoptr(GError) err = NULL;

    machine_up();
    bus = pci_bus_new();
    test_dev_init(&d, "msi");
    cap = msi_init(&d.pci, 4, true, true, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(msi_init(&d.pci, 4, true, true, &err), ==, 0);
    g_clear_error(&err);
    g_assert_true(pci_bus_add(bus, &d.pci, PCI_DEVFN(0, 0), NULL));
    g_assert_true(pci_bus_assign(bus, NULL));

    /* The capability's RO fields ignore writes. */
    pci_config_write(&d.pci, cap + PCI_MSI_CTRL, 0xffff, 2);
    g_assert_cmphex(pci_config_read(&d.pci, cap + PCI_MSI_CTRL, 2), ==,
                    PCI_MSI_CTRL_MASKABLE | PCI_MSI_CTRL_64BIT |
                        PCI_MSI_CTRL_MME_MASK | (2 << 1) | PCI_MSI_CTRL_ENABLE);
    pci_config_write(&d.pci, cap + PCI_MSI_CTRL, 0, 2);
    g_assert_false(msi_enabled(&d.pci));
    pci_config_write(&d.pci, cap + PCI_MSI_ADDR_LO, 0xffffffff, 4);
    g_assert_cmphex(pci_config_read(&d.pci, cap + PCI_MSI_ADDR_LO, 4), ==,
                    0xfffffffc);
    pci_config_write(&d.pci, cap + PCI_MSI_MASK_64, 0xffffffff, 4);
    g_assert_cmphex(pci_config_read(&d.pci, cap + PCI_MSI_MASK_64, 4), ==, 0xf);
    pci_config_write(&d.pci, cap + PCI_MSI_MASK_64, 0, 4);

    /* Disabled: nothing goes out. */
    msi_notify(&d.pci, 0);
    g_assert_cmpuint(d.pci.msgs_sent, ==, 0);

    /* Four vectors at 0x60..0x63 on vCPU 1. */
    msi_program(&d.pci, cap, 1, 0x60, 2);
    g_assert_true(msi_enabled(&d.pci));
    g_assert_cmpuint(msi_vectors_enabled(&d.pci), ==, 4);
    msi_notify(&d.pci, 2);
    g_assert_true(irq_pending(1, 0x62));
    g_assert_false(irq_pending(1, 0x60));
    g_assert_cmpuint(d.pci.msgs_sent, ==, 1);

    /* MSI enabled: INTx is not used. */
    pci_set_irq(&d.pci, true);
    g_assert_false(irq_pending(0, d.pci.intx_vector));
    pci_set_irq(&d.pci, false);

    /* Masked: latched pending, sent on unmask. */
    pci_config_write(&d.pci, cap + PCI_MSI_MASK_64, 0x2, 4);
    g_assert_true(msi_vector_masked(&d.pci, 1));
    msi_notify(&d.pci, 1);
    g_assert_false(irq_pending(1, 0x61));
    g_assert_true(msi_is_pending(&d.pci, 1));
    g_assert_cmphex(pci_config_read(&d.pci, cap + PCI_MSI_PENDING_64, 4), ==,
                    0x2);
    /* Pending bits are read-only to the guest. */
    pci_config_write(&d.pci, cap + PCI_MSI_PENDING_64, 0, 4);
    g_assert_true(msi_is_pending(&d.pci, 1));
    pci_config_write(&d.pci, cap + PCI_MSI_MASK_64, 0, 4);
    g_assert_true(irq_pending(1, 0x61));
    g_assert_false(msi_is_pending(&d.pci, 1));

    /* A vector beyond those enabled is not sent. */
    pci_config_write(&d.pci, cap + PCI_MSI_CTRL,
                     PCI_MSI_CTRL_ENABLE | (1 << PCI_MSI_CTRL_MME_SHIFT), 2);
    msi_notify(&d.pci, 3);
    g_assert_false(irq_pending(1, 0x63));
    g_assert_cmpuint(d.pci.msgs_sent, ==, 2);

    /* With one vector enabled the data is used as is. */
    msi_program(&d.pci, cap, 0, 0x71, 0);
    msi_notify(&d.pci, 0);
    g_assert_true(irq_pending(0, 0x71));

    /* Reset turns MSI off and clears the message. */
    pci_device_reset(&d.pci);
    g_assert_false(msi_enabled(&d.pci));
    g_assert_cmphex(pci_config_read(&d.pci, cap + PCI_MSI_DATA_64, 2), ==, 0);
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_COMMAND, 2), ==, 0);
    g_assert_cmphex(pci_bar_mapped_addr(&d.pci, 0), ==, PCI_BAR_UNMAPPED);

    /* Bad vector counts are configuration errors. */
    {
        TestDev e;
        test_dev_init(&e, "msi-bad");
        g_assert_cmpuint(msi_init(&e.pci, 3, false, false, &err), ==, 0);
        g_assert_error(err, STOREMU_ERROR, STOREMU_ERROR_CONFIG);
        g_clear_error(&err);
        g_assert_cmpuint(msi_init(&e.pci, 64, false, false, &err), ==, 0);
        g_clear_error(&err);
        /* 32-bit, no masking: a 10-byte capability. */
        cap = msi_init(&e.pci, 1, false, false, &err);
        g_assert_cmphex(cap, ==, 0x40);
        g_assert_cmphex(pci_add_capability(&e.pci, 0x09, 4, NULL), ==, 0x4c);
        pci_device_fini(&e.pci);
    }

    pci_device_fini(&d.pci);
    pci_bus_free(bus);
    machine_down();
}

static void test_msi_bus_master_off(void)
{
    TestDev d;
    uint8_t cap;

    machine_up();
    test_dev_init(&d, "msi-nobm");
    cap = msi_init(&d.pci, 1, false, false, NULL);
    pci_config_write(&d.pci, cap + PCI_MSI_ADDR_LO,
                     (uint32_t)irqchip_msi_address(0), 4);
    pci_config_write(&d.pci, cap + PCI_MSI_DATA_32, 0x44, 2);
    pci_config_write(&d.pci, cap + PCI_MSI_CTRL, PCI_MSI_CTRL_ENABLE, 2);
    msi_notify(&d.pci, 0);
    g_assert_false(irq_pending(0, 0x44));
    g_assert_cmpuint(d.pci.msgs_lost, ==, 1);
    pci_config_write(&d.pci, PCI_CFG_COMMAND, PCI_CMD_MASTER, 2);
    msi_notify(&d.pci, 0);
    g_assert_true(irq_pending(0, 0x44));
    g_assert_cmpuint(d.pci.msgs_sent, ==, 1);
    pci_device_fini(&d.pci);
    machine_down();
}

/* ---- interrupt controller ---- */

static void test_irqchip_messages(void)
{
    static const struct {
        uint64_t addr;
        uint32_t data;
        bool valid;
        unsigned cpu, vector;
    } tab[] = {
        {0xfee00000, 0x41, true, 0, 0x41},   {0xfee01000, 0xbf, true, 1, 0xbf},
        {0xfee0100c, 0x4042, true, 1, 0x42}, /* DM/RH, level bits */
        {0xfee02000, 0x43, false, 0, 0},     /* vCPU 2 of 2 */
        {0xfeeff000, 0x43, false, 0, 0},     /* vCPU 255 */
        {0xfee00000, 0x0f, false, 0, 0},     /* reserved vector */
        {0xfed00000, 0x44, false, 0, 0},     /* below the window */
        {0xfef00000, 0x44, false, 0, 0},     /* above it */
        {0x1fee00000ULL, 0x44, false, 0, 0}, /* beyond 4 GiB */
        {0x00001000, 0x44, false, 0, 0},     /* RAM */
    };
    Recorder r = {0};
    BndHook h;

    machine_up();
    h = rec_attach(&r);
    for (unsigned i = 0; i < G_N_ELEMENTS(tab); i++) {
        uint64_t errs = guest_errors_total();
        uint64_t bad = irqchip_msi_malformed();
        unsigned raises = rec_count(&r, BND_IRQ_RAISE);

        g_assert_cmpint(irqchip_msi(tab[i].addr, tab[i].data), ==,
                        tab[i].valid);
        if (tab[i].valid) {
            const BndAccess *a = rec_last(&r, BND_IRQ_RAISE);
            g_assert_true(irq_pending(tab[i].cpu, tab[i].vector));
            g_assert_cmpint(a->kind, ==, BND_IRQ_RAISE);
            g_assert_cmpint(a->cpu, ==, (int)tab[i].cpu);
            g_assert_cmphex(a->addr, ==, tab[i].vector);
            g_assert_cmpuint(guest_errors_total(), ==, errs);
        } else {
            g_assert_cmpuint(rec_count(&r, BND_IRQ_RAISE), ==, raises);
            g_assert_cmpuint(guest_errors_total(), ==, errs + 1);
            g_assert_cmpuint(irqchip_msi_malformed(), ==, bad + 1);
        }
    }
    g_assert_false(irq_pending(0, 0x44));
    g_assert_false(irq_pending(0, 0x43));

    /* A hook suppresses a well-formed message (dropped interrupt). */
    r.drop_irqs = true;
    g_assert_true(irqchip_msi(irqchip_msi_address(0), 0x55));
    g_assert_false(irq_pending(0, 0x55));
    r.drop_irqs = false;
    g_assert_true(irqchip_msi(irqchip_msi_address(0), 0x55));
    g_assert_true(irq_pending(0, 0x55));

    rec_detach(&r, &h);
    machine_down();
}

/* A DMA write of a message to the MSI window is an interrupt. */
static void test_dma_gating(void)
{
    TestDev d;
    g_autoptr(GError) err = NULL;
    uint32_t v = 0x12345678, msg = 0x66;
    uint8_t *p;

    machine_up();
    g_assert_true(ram_init(RAM_MIN_SIZE, &err));
    test_dev_init(&d, "dma");
    p = ram_ptr(RAM_RESERVED, 4);
    g_assert_false(pci_dma_write(&d.pci, RAM_RESERVED, &v, 4));
    g_assert_cmphex(pci_get_long(p), ==, 0);
    pci_config_write(&d.pci, PCI_CFG_COMMAND, PCI_CMD_MASTER, 2);
    g_assert_true(pci_dma_write(&d.pci, RAM_RESERVED, &v, 4));
    g_assert_cmphex(pci_get_long(p), ==, 0x12345678);
    v = 0;
    g_assert_true(pci_dma_read(&d.pci, RAM_RESERVED, &v, 4));
    g_assert_cmphex(v, ==, 0x12345678);
    g_assert_true(pci_dma_write(&d.pci, irqchip_msi_address(1), &msg, 4));
    g_assert_true(irq_pending(1, 0x66));
    pci_device_fini(&d.pci);
    ram_fini();
    machine_down();
}

int main(int argc, char **argv)
{
    FILE *sink;

    g_test_init(&argc, &argv, NULL);
    /* Every trace point on, to a sink: their formats run under the
     * sanitizers without cluttering the TAP output. */
    sink = fopen("/dev/null", "w");
    g_assert_nonnull(sink);
    trace_set_output(sink);
    g_assert_true(trace_enable("*", NULL));

    g_test_add_func("/pci/config/header-read", test_header_read);
    g_test_add_func("/pci/config/read-only-bytes", test_read_only_bytes);
    g_test_add_func("/pci/config/status-w1c", test_status_w1c);
    g_test_add_func("/pci/config/out-of-range", test_out_of_range);
    g_test_add_func("/pci/config/write-hook", test_config_write_hook);
    g_test_add_func("/pci/config/boundary", test_config_boundary);
    g_test_add_func("/pci/capability/list", test_capability_list);
    g_test_add_func("/pci/bar/sizing", test_bar_sizing);
    g_test_add_func("/pci/bar/decode", test_bar_decode);
    g_test_add_func("/pci/bar/conflict", test_bar_conflict);
    g_test_add_func("/pci/bar/container", test_container);
    g_test_add_func("/pci/bus/add-find-iterate", test_bus);
    g_test_add_func("/pci/firmware/assign", test_firmware_assign);
    g_test_add_func("/pci/firmware/window-full", test_firmware_window_full);
    g_test_add_func("/pci/intx", test_intx);
    g_test_add_func("/pci/msi/deliver-mask", test_msi);
    g_test_add_func("/pci/msi/bus-master-off", test_msi_bus_master_off);
    g_test_add_func("/pci/irqchip/messages", test_irqchip_messages);
    g_test_add_func("/pci/dma/bus-master", test_dma_gating);
    return g_test_run();
}
