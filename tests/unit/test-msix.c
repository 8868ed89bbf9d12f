/* SPDX-License-Identifier: MIT */
/*
 * MSI-X: the capability's fields, the vector table and PBA as the guest
 * reaches them through a BAR (access sizes, reserved bits, read-only
 * PBA), and the delivery rules: vector and function masking with pending
 * bits, delivery on unmask, MSI-X disabled, bus mastering off, INTx
 * suppressed while MSI-X is on, malformed messages from the table.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/irqchip.h"
#include "hw/core/memory.h"
#include "hw/core/pci.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/event.h"
#include "system/trace.h"

#define NVEC      70 /* more than 64: the PBA spans two qwords */
#define BAR_ADDR  (PCI_MMIO_BASE + 0x200000)
#define TABLE_OFF 0x2000
#define PBA_OFF   0x3000

typedef struct MsixDev {
    PCIDevice pci;
    PCIBarContainer bar0;
    MemoryRegion regs;
    uint32_t r[16];
    uint8_t cap;
} MsixDev;

static uint64_t regs_read(void *opaque, uint64_t off, unsigned size)
{
    MsixDev *d = opaque;
    return d->r[off / 4];
}

static void regs_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    MsixDev *d = opaque;
    d->r[off / 4] = (uint32_t)v;
}

static const MemoryRegionOps regs_ops = {
    .read = regs_read,
    .write = regs_write,
    .min_access_size = 4,
    .max_access_size = 4,
};

static const PCIDeviceInfo msix_info = {
    .vendor_id = 0x1af4,
    .device_id = 0x1048,
    .class_code = 0x010000,
    .intx_pin = 1,
};

static PCIBusState *bus;
static uint64_t raises;

static bool count_before(BndAccess *a, void *opaque)
{
    return false;
}

static void count_after(const BndAccess *a, void *opaque)
{
    if (a->kind == BND_IRQ_RAISE && !(a->value & IRQCHIP_BND_LEVEL)) {
        raises++;
    }
}

static const BndHook counter = {.name = "msix-count",
                                .before = count_before,
                                .after = count_after,
                                .opaque = NULL};

/*
 * A function with registers, table and PBA in one container BAR 0. The
 * firmware assigns it (decode and bus mastering on, INTx routed), then
 * the "driver" moves the BAR to a known address.
 */
static void setup(MsixDev *d)
{
    SchedConfig sc = {.seed = 7};
    g_autoptr(GError) err = NULL;

    memory_init();
    event_loop_init();
    g_assert_true(cpus_init(2, &sc, &err));
    bus = pci_bus_new();
    raises = 0;
    g_assert_true(bnd_hook_add(&counter));

    memset(d, 0, sizeof(*d));
    pci_device_init(&d->pci, "msixdev", &msix_info);
    memory_region_init(&d->regs, "regs", &regs_ops, d, sizeof(d->r));
    pci_bar_container_init(&d->bar0, "msixdev-bar0", 0x4000);
    g_assert_true(pci_bar_container_add(&d->bar0, 0, &d->regs, &err));
    pci_register_bar(&d->pci, 0, PCI_BAR_MEM32, &d->bar0.mr);
    d->cap = msix_init(&d->pci, NVEC, 0, TABLE_OFF, 0, PBA_OFF, &err);
    g_assert_no_error(err);
    g_assert_cmphex(d->cap, ==, 0x40);
    g_assert_true(pci_bus_add(bus, &d->pci, PCI_DEVFN(4, 0), &err));
    g_assert_true(pci_bus_assign(bus, &err));
    g_assert_no_error(err);
    pci_config_write(&d->pci, PCI_CFG_BAR(0), (uint32_t)BAR_ADDR, 4);
    g_assert_cmphex(pci_bar_mapped_addr(&d->pci, 0), ==, BAR_ADDR);
}

static void teardown(MsixDev *d)
{
    pci_device_fini(&d->pci);
    pci_bar_container_destroy(&d->bar0);
    pci_bus_free(bus);
    bnd_hooks_clear();
    cpus_fini();
    event_loop_fini();
    memory_fini();
}

static uint64_t mmio_read(uint64_t off, unsigned size, bool *ok)
{
    return address_space_read(as_memory, BAR_ADDR + off, size, ok);
}

static void mmio_write(uint64_t off, uint64_t v, unsigned size)
{
    bool ok;
    address_space_write(as_memory, BAR_ADDR + off, v, size, &ok);
}

static uint64_t entry(unsigned v, unsigned field)
{
    return TABLE_OFF + (uint64_t)v * PCI_MSIX_ENTRY_SIZE + field;
}

/* Program vector @v to send @vector to vCPU @cpu, leaving its mask. */
static void program(unsigned v, unsigned cpu, unsigned vector)
{
    mmio_write(entry(v, PCI_MSIX_ENTRY_ADDR_LO), irqchip_msi_address(cpu), 8);
    mmio_write(entry(v, PCI_MSIX_ENTRY_DATA), irqchip_msi_data(vector), 4);
}

static void set_vector_mask(unsigned v, bool masked)
{
    mmio_write(entry(v, PCI_MSIX_ENTRY_CTRL), masked, 4);
}

static void set_ctrl(MsixDev *d, uint16_t bits)
{
    pci_config_write(&d->pci, d->cap + PCI_MSIX_CTRL, bits, 2);
}

static void test_capability(void)
{
    MsixDev d;

    setup(&d);
    g_assert_cmphex(pci_find_capability(&d.pci, PCI_CAP_ID_MSIX), ==, d.cap);
    g_assert_cmphex(pci_config_read(&d.pci, d.cap + PCI_MSIX_CTRL, 2), ==,
                    NVEC - 1);
    g_assert_cmphex(pci_config_read(&d.pci, d.cap + PCI_MSIX_TABLE_OFF, 4), ==,
                    TABLE_OFF | 0);
    g_assert_cmphex(pci_config_read(&d.pci, d.cap + PCI_MSIX_PBA_OFF, 4), ==,
                    PBA_OFF | 0);
    /* Table size and the offsets are read-only. */
    pci_config_write(&d.pci, d.cap + PCI_MSIX_CTRL, 0xffff, 2);
    g_assert_cmphex(pci_config_read(&d.pci, d.cap + PCI_MSIX_CTRL, 2), ==,
                    PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_MASKALL | (NVEC - 1));
    g_assert_true(msix_enabled(&d.pci));
    g_assert_true(msix_function_masked(&d.pci));
    pci_config_write(&d.pci, d.cap + PCI_MSIX_TABLE_OFF, 0, 4);
    g_assert_cmphex(pci_config_read(&d.pci, d.cap + PCI_MSIX_TABLE_OFF, 4), ==,
                    TABLE_OFF);
    set_ctrl(&d, 0);
    g_assert_false(msix_enabled(&d.pci));
    teardown(&d);
}

static void test_table_access(void)
{
    static const struct {
        uint64_t off;
        unsigned size;
        bool error;
    } refused[] = {
        {TABLE_OFF, 1, true},
        {TABLE_OFF, 2, true},
        {TABLE_OFF + 2, 4, true},
        {TABLE_OFF + 4, 8, true},
        {PBA_OFF, 2, true},
        {PBA_OFF + 4, 8, true},
        {PBA_OFF + 16, 4, true},          /* past the PBA: hole */
        {TABLE_OFF + NVEC * 16, 4, true}, /* past the table: hole */
    };
    MsixDev d;
    bool ok;

    setup(&d);
    /* Entries come out of reset masked, everything else zero. */
    for (unsigned v = 0; v < NVEC; v++) {
        g_assert_cmphex(mmio_read(entry(v, PCI_MSIX_ENTRY_CTRL), 4, &ok), ==,
                        PCI_MSIX_ENTRY_CTRL_MASK);
        g_assert_cmphex(mmio_read(entry(v, 0), 8, &ok), ==, 0);
        g_assert_true(msix_vector_masked(&d.pci, v));
    }
    /* 8-byte and 4-byte accesses; reserved bits read 0. */
    mmio_write(entry(3, PCI_MSIX_ENTRY_ADDR_LO), 0x00000001fee01003ULL, 8);
    g_assert_cmphex(mmio_read(entry(3, PCI_MSIX_ENTRY_ADDR_LO), 4, &ok), ==,
                    0xfee01000);
    g_assert_cmphex(mmio_read(entry(3, PCI_MSIX_ENTRY_ADDR_HI), 4, &ok), ==, 1);
    g_assert_cmphex(mmio_read(entry(3, 0), 8, &ok), ==, 0x1fee01000ULL);
    mmio_write(entry(3, PCI_MSIX_ENTRY_DATA), 0xfffffffe00004455ULL, 8);
    g_assert_cmphex(mmio_read(entry(3, PCI_MSIX_ENTRY_DATA), 4, &ok), ==,
                    0x4455);
    g_assert_cmphex(mmio_read(entry(3, PCI_MSIX_ENTRY_CTRL), 4, &ok), ==, 0);
    g_assert_false(msix_vector_masked(&d.pci, 3));
    mmio_write(entry(3, PCI_MSIX_ENTRY_CTRL), 0xffffffff, 4);
    g_assert_cmphex(mmio_read(entry(3, PCI_MSIX_ENTRY_CTRL), 4, &ok), ==, 1);

    /* Sizes the table and PBA do not allow: guest errors, no effect. */
    for (unsigned i = 0; i < G_N_ELEMENTS(refused); i++) {
        uint64_t errs = guest_errors_total();
        g_assert_cmphex(mmio_read(refused[i].off, refused[i].size, &ok), ==, 0);
        g_assert_cmpuint(guest_errors_total(), ==, errs + 1);
    }
    mmio_write(entry(3, PCI_MSIX_ENTRY_DATA), 0x1, 2);
    g_assert_cmphex(mmio_read(entry(3, PCI_MSIX_ENTRY_DATA), 4, &ok), ==,
                    0x4455);
    /* The registers at offset 0 of the same BAR still answer. */
    d.r[2] = 0xabcd;
    g_assert_cmphex(mmio_read(8, 4, &ok), ==, 0xabcd);
    teardown(&d);
}

static void test_pba_read_only(void)
{
    MsixDev d;
    bool ok;
    uint64_t errs;

    setup(&d);
    set_ctrl(&d, PCI_MSIX_CTRL_ENABLE);
    msix_notify(&d.pci, 1); /* masked by reset: pending */
    msix_notify(&d.pci, 66);
    g_assert_cmphex(mmio_read(PBA_OFF, 8, &ok), ==, 0x2);
    g_assert_cmphex(mmio_read(PBA_OFF, 4, &ok), ==, 0x2);
    g_assert_cmphex(mmio_read(PBA_OFF + 4, 4, &ok), ==, 0);
    g_assert_cmphex(mmio_read(PBA_OFF + 8, 8, &ok), ==, 0x4);
    errs = guest_errors_total();
    mmio_write(PBA_OFF, 0, 8);
    mmio_write(PBA_OFF + 8, 0xffffffff, 4);
    g_assert_cmpuint(guest_errors_total(), ==, errs + 2);
    g_assert_cmphex(mmio_read(PBA_OFF, 8, &ok), ==, 0x2);
    g_assert_cmphex(mmio_read(PBA_OFF + 8, 8, &ok), ==, 0x4);
    g_assert_cmpuint(raises, ==, 0);
    teardown(&d);
}

/* The delivery rules, one row per scenario. */
typedef enum Step {
    S_END,
    S_ENABLE, /* MSI-X enable, function mask off */
    S_DISABLE,
    S_FMASK,   /* function mask on (enabled) */
    S_FUNMASK, /* function mask off (enabled) */
    S_MASK,    /* vector 5 masked */
    S_UNMASK,  /* vector 5 unmasked */
    S_NOTIFY,  /* msix_notify(5) */
    S_CLEAR,   /* msix_clear_pending(5) */
    S_BM_OFF,  /* bus mastering off */
    S_BM_ON,
} Step;

typedef struct Scenario {
    const char *name;
    Step steps[8];
    unsigned delivered; /* messages that reached the vCPU */
    bool pending;       /* PBA bit of vector 5 at the end */
    unsigned lost;
} Scenario;

static const Scenario scenarios[] = {
    {"unmasked", {S_ENABLE, S_UNMASK, S_NOTIFY}, 1, false, 0},
    {"twice", {S_ENABLE, S_UNMASK, S_NOTIFY, S_NOTIFY}, 2, false, 0},
    {"vector-masked", {S_ENABLE, S_NOTIFY}, 0, true, 0},
    {"vector-unmask-delivers",
     {S_ENABLE, S_NOTIFY, S_NOTIFY, S_UNMASK},
     1,
     false,
     0},
    {"function-masked", {S_ENABLE, S_UNMASK, S_FMASK, S_NOTIFY}, 0, true, 0},
    {"function-unmask-delivers",
     {S_ENABLE, S_UNMASK, S_FMASK, S_NOTIFY, S_FUNMASK},
     1,
     false,
     0},
    {"both-masked-one-cleared",
     {S_ENABLE, S_FMASK, S_NOTIFY, S_UNMASK},
     0,
     true,
     0},
    {"both-masked-both-cleared",
     {S_ENABLE, S_FMASK, S_NOTIFY, S_UNMASK, S_FUNMASK},
     1,
     false,
     0},
    {"remask-keeps-pending",
     {S_ENABLE, S_NOTIFY, S_UNMASK, S_MASK, S_NOTIFY},
     1,
     true,
     0},
    {"cleared-pending-not-sent",
     {S_ENABLE, S_NOTIFY, S_CLEAR, S_UNMASK},
     0,
     false,
     0},
    {"disabled", {S_UNMASK, S_NOTIFY}, 0, false, 0},
    {"pending-held-while-disabled",
     {S_ENABLE, S_NOTIFY, S_DISABLE, S_UNMASK},
     0,
     true,
     0},
    {"pending-sent-on-enable",
     {S_ENABLE, S_NOTIFY, S_DISABLE, S_UNMASK, S_ENABLE},
     1,
     false,
     0},
    {"bus-master-off-lost",
     {S_ENABLE, S_UNMASK, S_BM_OFF, S_NOTIFY, S_BM_ON},
     0,
     false,
     1},
    {"unmask-without-bus-master",
     {S_ENABLE, S_NOTIFY, S_BM_OFF, S_UNMASK},
     0,
     false,
     1},
};

static void test_scenario(gconstpointer data)
{
    const Scenario *sc = data;
    MsixDev d;
    uint16_t ctrl = 0;

    setup(&d);
    program(5, 1, 0x80);
    for (unsigned i = 0; sc->steps[i] != S_END; i++) {
        switch (sc->steps[i]) {
        case S_ENABLE:
            ctrl = PCI_MSIX_CTRL_ENABLE;
            set_ctrl(&d, ctrl);
            break;
        case S_DISABLE:
            ctrl = 0;
            set_ctrl(&d, ctrl);
            break;
        case S_FMASK:
            ctrl |= PCI_MSIX_CTRL_MASKALL;
            set_ctrl(&d, ctrl);
            break;
        case S_FUNMASK:
            ctrl &= (uint16_t)~PCI_MSIX_CTRL_MASKALL;
            set_ctrl(&d, ctrl);
            break;
        case S_MASK:
            set_vector_mask(5, true);
            break;
        case S_UNMASK:
            set_vector_mask(5, false);
            break;
        case S_NOTIFY:
            msix_notify(&d.pci, 5);
            break;
        case S_CLEAR:
            msix_clear_pending(&d.pci, 5);
            break;
        case S_BM_OFF:
            pci_config_write(&d.pci, PCI_CFG_COMMAND, PCI_CMD_MEM, 2);
            break;
        case S_BM_ON:
            pci_config_write(&d.pci, PCI_CFG_COMMAND,
                             PCI_CMD_MEM | PCI_CMD_MASTER, 2);
            break;
        case S_END:
            break;
        }
    }
    g_assert_cmpuint(raises, ==, sc->delivered);
    g_assert_cmpuint(d.pci.msgs_sent, ==, sc->delivered);
    g_assert_cmpint(irq_pending(1, 0x80), ==, sc->delivered > 0);
    g_assert_cmpint(msix_is_pending(&d.pci, 5), ==, sc->pending);
    g_assert_cmpuint(d.pci.msgs_lost, ==, sc->lost);
    /* Only vector 5 was ever signalled. */
    for (unsigned v = 0; v < NVEC; v++) {
        if (v != 5) {
            g_assert_false(msix_is_pending(&d.pci, v));
        }
    }
    teardown(&d);
}

static void test_intx_suppressed(void)
{
    MsixDev d;
    unsigned cpu, vector;

    setup(&d);
    g_assert_true(pci_intx_route(&d.pci, &cpu, &vector));
    pci_set_irq(&d.pci, true);
    g_assert_true(irq_pending(cpu, vector));
    set_ctrl(&d, PCI_MSIX_CTRL_ENABLE);
    g_assert_false(irq_pending(cpu, vector));
    /* Status still reports the internal request. */
    g_assert_cmphex(pci_config_read(&d.pci, PCI_CFG_STATUS, 2) &
                        PCI_STS_INTERRUPT,
                    ==, PCI_STS_INTERRUPT);
    set_ctrl(&d, 0);
    g_assert_true(irq_pending(cpu, vector));
    pci_set_irq(&d.pci, false);
    g_assert_false(irq_pending(cpu, vector));
    teardown(&d);
}

static void test_bad_message(void)
{
    MsixDev d;
    uint64_t errs, bad;

    setup(&d);
    set_ctrl(&d, PCI_MSIX_CTRL_ENABLE);
    /* Destination vCPU 9 of 2, then a reserved vector, then no window. */
    program(0, 9, 0x90);
    program(1, 0, 0x08);
    mmio_write(entry(2, PCI_MSIX_ENTRY_ADDR_LO), 0xfed00000, 4);
    mmio_write(entry(2, PCI_MSIX_ENTRY_DATA), 0x90, 4);
    for (unsigned v = 0; v < 3; v++) {
        set_vector_mask(v, false);
    }
    errs = guest_errors_total();
    bad = irqchip_msi_malformed();
    for (unsigned v = 0; v < 3; v++) {
        msix_notify(&d.pci, v);
    }
    g_assert_cmpuint(guest_errors_total(), ==, errs + 3);
    g_assert_cmpuint(irqchip_msi_malformed(), ==, bad + 3);
    g_assert_cmpuint(raises, ==, 0);
    g_assert_false(irq_pending(0, 0x90));
    g_assert_false(irq_pending(1, 0x90));
    teardown(&d);
}

/* msix_init can build the BAR itself, and refuses bad layouts. */
static void test_init_variants(void)
{
    MsixDev d;
    PCIDevice e;
    MemoryRegion plain, plain64;
    g_autoptr(GError) err = NULL;
    uint8_t cap;

    setup(&d);
    pci_device_init(&e, "own-bar", &msix_info);
    memory_region_init(&plain, "plain", &regs_ops, &d, 0x40);
    memory_region_init(&plain64, "plain64", &regs_ops, &d, 0x40);
    pci_register_bar(&e, 0, PCI_BAR_MEM32, &plain);
    pci_register_bar(&e, 2, PCI_BAR_MEM64, &plain64);

    /* A plain region cannot take the table; neither can a high half. */
    g_assert_cmpuint(msix_init(&e, 8, 0, 0, 0, 0x800, &err), ==, 0);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpuint(msix_init(&e, 8, 3, 0, 3, 0x800, &err), ==, 0);
    g_clear_error(&err);
    /* BIR bits in the offsets, zero vectors, overlap of table and PBA. */
    g_assert_cmpuint(msix_init(&e, 8, 4, 4, 4, 0x800, &err), ==, 0);
    g_clear_error(&err);
    g_assert_cmpuint(msix_init(&e, 0, 4, 0, 4, 0x800, &err), ==, 0);
    g_clear_error(&err);
    g_assert_cmpuint(msix_init(&e, 8, 4, 0, 4, 0x40, &err), ==, 0);
    g_clear_error(&err);
    g_assert_cmpuint(pci_bar_size(&e, 4), ==, 0);
    g_assert_cmphex(pci_find_capability(&e, PCI_CAP_ID_MSIX), ==, 0);

    /* Table in a BAR of its own (4), PBA in another (5). */
    cap = msix_init(&e, 8, 4, 0, 5, 0x10, &err);
    g_assert_no_error(err);
    g_assert_cmphex(cap, ==, 0x40);
    g_assert_cmpuint(pci_bar_size(&e, 4), ==, 128);
    g_assert_cmpuint(pci_bar_size(&e, 5), ==, 32);
    g_assert_cmphex(pci_config_read(&e, cap + PCI_MSIX_TABLE_OFF, 4), ==, 4);
    g_assert_cmphex(pci_config_read(&e, cap + PCI_MSIX_PBA_OFF, 4), ==,
                    0x10 | 5);
    g_assert_nonnull(pci_bar_container_of(e.bars[4].mr));
    pci_device_fini(&e);
    teardown(&d);
}

int main(int argc, char **argv)
{
    FILE *sink;

    g_test_init(&argc, &argv, NULL);
    sink = fopen("/dev/null", "w");
    g_assert_nonnull(sink);
    trace_set_output(sink);
    g_assert_true(trace_enable("*", NULL));

    g_test_add_func("/msix/capability", test_capability);
    g_test_add_func("/msix/table-access", test_table_access);
    g_test_add_func("/msix/pba-read-only", test_pba_read_only);
    for (unsigned i = 0; i < G_N_ELEMENTS(scenarios); i++) {
        g_autofree char *path =
            g_strdup_printf("/msix/deliver/%s", scenarios[i].name);
        g_test_add_data_func(path, &scenarios[i], test_scenario);
    }
    g_test_add_func("/msix/intx-suppressed", test_intx_suppressed);
    g_test_add_func("/msix/bad-message", test_bad_message);
    g_test_add_func("/msix/init-variants", test_init_variants);
    return g_test_run();
}
