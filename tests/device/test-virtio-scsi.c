/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi-pci device tests: a driver played by hand through config
 * space, MMIO and guest RAM (tests/device/virtio-driver.h), no miniport.
 * Covers the PCI identity and capabilities (virtio 4.1.2, 4.1.4), the
 * configuration window (4.1.4.9), the init handshake and feature
 * negotiation (3.1, 6), queue setup and queue reset (4.1.4.3, 2.6.1),
 * every request data layout (2.7.4, 5.6.6.1), sense, residual and
 * response codes, task management and asynchronous notification
 * (5.6.6.2), events (5.6.6.3), device reset with commands in flight,
 * INTx with the ISR and MSI-X with masking (4.1.5), notification
 * suppression (2.7.7, 2.7.10), the device latency, and -device creation.
 * Hostile-driver cases live in test-virtio-scsi-hostile.c.
 */
#include <string.h>
#include <glib.h>
#include "hw/block/aio.h"
#include "hw/block/block.h"
#include "hw/core/memory.h"
#include "hw/core/qdev.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-defs.h"
#include "hw/scsi/scsi-disk.h"
#include "system/boundary.h"
#include "system/event.h"
#include "system/machine.h"
#include "system/trace.h"
#include "tests/device/virtio-driver.h"

#define Q_CTRL   VIRTIO_SCSI_VQ_CONTROL
#define Q_EVENT  VIRTIO_SCSI_VQ_EVENT
#define Q_REQ    VIRTIO_SCSI_VQ_REQUEST
#define VEC_BASE 0x40 /* vCPU vector of MSI-X entry 0 (config) */
#define F(bit)   VIRTIO_FEATURE(bit)

static const uint64_t all_features =
    F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_F_EVENT_IDX) |
    F(VIRTIO_F_RING_RESET) | F(VIRTIO_SCSI_F_HOTPLUG) | F(VIRTIO_SCSI_F_CHANGE);

typedef struct T {
    VDrvFixture fx;
    VDrv *d;
    VDrvDisk *disk;
    unsigned nq;
    bool msix;
    uint64_t fetch_ns; /* the device's fetch_delay */
} T;

/* Start a machine with the device and a 1 MiB disk at 0:0; negotiate
 * @features, set up every queue (MSI-X entry q + 1 for queue q, entry 0
 * for configuration changes, when @msix), DRIVER_OK. */
static void t_start_props(T *t, const VirtioScsiProps *p, uint64_t features,
                          bool msix)
{
    vdrv_fx_init(&t->fx, p);
    t->d = &t->fx.d;
    t->msix = msix;
    t->nq = p->num_queues + 2;
    t->fetch_ns = p->fetch_delay_ns;
    t->disk = vdrv_disk_attach(virtio_scsi_bus(t->fx.s), 0, 0, 2048);
    g_assert_true(vdrv_negotiate(t->d, features));
    if (msix) {
        vdrv_msix_enable(t->d);
        for (unsigned e = 0; e <= t->nq; e++) {
            vdrv_msix_program(t->d, e, 0, VEC_BASE + e);
        }
        vdrv_common_write(t->d, VIRTIO_PCI_COMMON_MSIX, 0, 2);
        g_assert_cmpuint(vdrv_common_read(t->d, VIRTIO_PCI_COMMON_MSIX, 2), ==,
                         0);
    }
    for (unsigned q = 0; q < t->nq; q++) {
        vdrv_queue_setup(t->d, q, 0, msix ? q + 1 : VIRTIO_MSI_NO_VECTOR);
    }
    vdrv_driver_ok(t->d);
    g_assert_cmphex(vdrv_status(t->d), ==,
                    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                        VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    vdrv_run();
}

static void t_start(T *t, uint64_t features, bool msix)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;

    p.id = "vscsi0";
    t_start_props(t, &p, features, msix);
}

static void t_stop(T *t)
{
    vdrv_fx_fini(&t->fx);
}

static uint64_t errors(T *t)
{
    return virtio_scsi_guest_errors(t->fx.s);
}

static void cdb_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    scsi_put_be32(cdb + 2, lba);
    cdb[7] = (uint8_t)(blocks >> 8);
    cdb[8] = (uint8_t)blocks;
}

/* Put a control request (@req, @req_len readable; @resp_len writable) on
 * the control queue and return where the response goes. */
static uint64_t ctrl_submit(T *t, const uint8_t *req, uint32_t req_len,
                            uint32_t resp_len)
{
    uint64_t rq = vdrv_alloc(req_len), rs = vdrv_alloc(resp_len);
    VDrvBuf b[2] = {{rq, req_len, false}, {rs, resp_len, true}};

    memcpy(vdrv_ptr(rq), req, req_len);
    memset(vdrv_ptr(rs), 0xee, resp_len);
    vdrv_add_chain(t->d, Q_CTRL, b, 2, false);
    vdrv_notify(t->d, Q_CTRL);
    return rs;
}

static void tmf_build(uint8_t *req, uint32_t subtype, uint8_t target,
                      uint16_t lun, uint64_t tag)
{
    memset(req, 0, sizeof(VirtioScsiCtrlTmfReq));
    pci_set_long(req, VIRTIO_SCSI_T_TMF);
    pci_set_long(req + offsetof(VirtioScsiCtrlTmfReq, subtype), subtype);
    vdrv_scsi_lun(req + offsetof(VirtioScsiCtrlTmfReq, lun), target, lun);
    pci_set_quad(req + offsetof(VirtioScsiCtrlTmfReq, id), tag);
}

/* A TMF, run to completion; returns its response byte. */
static uint8_t tmf_run(T *t, uint32_t subtype, uint8_t target, uint16_t lun,
                       uint64_t tag)
{
    uint8_t req[sizeof(VirtioScsiCtrlTmfReq)];
    uint32_t id, len;
    uint64_t rs;

    tmf_build(req, subtype, target, lun, tag);
    rs = ctrl_submit(t, req, sizeof(req), 1);
    vdrv_run();
    g_assert_true(vdrv_get_used(t->d, Q_CTRL, &id, &len));
    g_assert_cmpuint(len, ==, 1);
    return *(uint8_t *)vdrv_ptr(rs);
}

/* Submit a READ(10) of @blocks at @lba and hand it to the bus, without
 * letting it complete. */
/* Let the device take what the last doorbell made available: its
 * fetch_delay later. */
static void run_fetch(T *t)
{
    vdrv_run_for(t->fetch_ns);
}

static void read_in_flight(T *t, VDrvIo *io, uint64_t tag, uint32_t lba,
                           uint16_t blocks)
{
    uint8_t cdb[10];

    cdb_rw10(cdb, SCSI_OP_READ_10, lba, blocks);
    vdrv_io_init(io, VDRV_LAYOUT_SIMPLE, 0, 0, tag, cdb, 10, blocks * 512u,
                 false, 0, 0);
    vdrv_io_submit(t->d, Q_REQ, io);
    vdrv_notify(t->d, Q_REQ);
}

/* ---- PCI identity and capabilities --------------------------------------- */

static void test_identity(void)
{
    T t;
    PCIDevice *pci;
    uint64_t e0;

    t_start(&t, all_features, false);
    pci = virtio_scsi_pci(t.fx.s);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_VENDOR_ID, 2), ==, 0x1af4);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_DEVICE_ID, 2), ==, 0x1048);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_REVISION_ID, 4), ==,
                    0x01000001);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_SUBSYS_VENDOR, 2), ==, 0x1af4);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_SUBSYS_ID, 2), ==, 0x1100);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_INTERRUPT_PIN, 1), ==, 1);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_HEADER_TYPE, 1), ==, 0);
    g_assert_true(pci_config_read(pci, PCI_CFG_STATUS, 2) & PCI_STS_CAP_LIST);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_CAP_PTR, 1), >=, 0x40);
    /* BAR 4: 64-bit memory, 16 KiB; BAR 1: the MSI-X table and PBA. */
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_BAR(4), 4) & 0xf, ==,
                    PCI_BAR_MEM64);
    g_assert_cmpuint(pci_bar_size(pci, VSCSI_BAR_VIRTIO), ==, 0x4000);
    g_assert_cmpuint(pci_bar_size(pci, VSCSI_BAR_MSIX), ==, 0x1000);
    g_assert_cmpuint(pci_bar_size(pci, 0), ==, 0);
    /* Every byte of the 256 reads as the dwords say; past the end is all
     * ones (a guest error of the PCI layer, not of the device). */
    for (unsigned off = 0; off < 256; off += 4) {
        uint32_t dw = pci_config_read(pci, off, 4);

        for (unsigned b = 0; b < 4; b++) {
            g_assert_cmphex(pci_config_read(pci, off + b, 1), ==,
                            (dw >> (8 * b)) & 0xff);
        }
        g_assert_cmphex(pci_config_read(pci, off, 2), ==, dw & 0xffff);
    }
    e0 = guest_errors_total();
    g_assert_cmphex(pci_config_read(pci, 254, 4), ==, 0xffffffff);
    g_assert_cmpuint(guest_errors_total(), >, e0);
    /* Identity is read-only. */
    pci_config_write(pci, PCI_CFG_VENDOR_ID, 0x1234, 2);
    pci_config_write(pci, PCI_CFG_CLASS_SUB, 0x55, 1);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_VENDOR_ID, 2), ==, 0x1af4);
    g_assert_cmphex(pci_config_read(pci, PCI_CFG_CLASS_SUB, 1), ==, 0);
    t_stop(&t);
}

static void check_caps(bool msix)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    unsigned nq, nvendor = 0, guard = 0;
    bool seen_pm = false, seen_exp = false, seen_msix = false;
    PCIDevice *pci;
    uint8_t cap;
    T t;

    p.id = "vscsi0";
    p.num_queues = 4;
    p.msix = msix;
    t_start_props(&t, &p, all_features, false);
    pci = virtio_scsi_pci(t.fx.s);
    nq = p.num_queues + 2;
    cap = pci_config_read(pci, PCI_CFG_CAP_PTR, 1);
    while (cap) {
        uint8_t id = pci_config_read(pci, cap, 1);

        g_assert_cmpuint(++guard, <, 16);
        g_assert_cmphex(cap, >=, 0x40);
        g_assert_cmpuint(cap % 4, ==, 0);
        if (id == PCI_CAP_ID_VNDR) {
            uint8_t type = pci_config_read(pci, cap + 3, 1);
            uint8_t len = pci_config_read(pci, cap + 2, 1);
            uint32_t off = pci_config_read(pci, cap + 8, 4);
            uint32_t length = pci_config_read(pci, cap + 12, 4);

            nvendor++;
            if (type != VIRTIO_PCI_CAP_PCI_CFG) {
                g_assert_cmpuint(pci_config_read(pci, cap + 4, 1), ==, 4);
            }
            switch (type) {
            case VIRTIO_PCI_CAP_COMMON_CFG:
                g_assert_cmpuint(len, ==, 16);
                g_assert_cmphex(off, ==, VSCSI_COMMON_OFF);
                g_assert_cmpuint(length, ==, 0x3c);
                break;
            case VIRTIO_PCI_CAP_NOTIFY_CFG:
                g_assert_cmpuint(len, ==, 20);
                g_assert_cmphex(off, ==, VSCSI_NOTIFY_OFF);
                g_assert_cmpuint(pci_config_read(pci, cap + 16, 4), ==, 4);
                /* 4.1.4.4.1: room for every queue's notify address. */
                g_assert_cmpuint(length, >=, (nq - 1) * 4 + 2);
                break;
            case VIRTIO_PCI_CAP_ISR_CFG:
                g_assert_cmpuint(len, ==, 16);
                g_assert_cmphex(off, ==, VSCSI_ISR_OFF);
                g_assert_cmpuint(length, ==, 1);
                break;
            case VIRTIO_PCI_CAP_DEVICE_CFG:
                g_assert_cmpuint(len, ==, 16);
                g_assert_cmphex(off, ==, VSCSI_DEVICE_OFF);
                g_assert_cmpuint(length, ==, sizeof(VirtioScsiConfig));
                break;
            case VIRTIO_PCI_CAP_PCI_CFG:
                g_assert_cmpuint(len, ==, 20);
                break;
            default:
                g_assert_not_reached();
            }
            /* The driver must not write capabilities; they hold. */
            pci_config_write(pci, cap + 3, 0x77, 1);
            g_assert_cmpuint(pci_config_read(pci, cap + 3, 1), ==, type);
        } else if (id == PCI_CAP_ID_MSIX) {
            seen_msix = true;
            /* One vector per queue plus the configuration vector. */
            g_assert_cmpuint((pci_config_read(pci, cap + 2, 2) & 0x7ff) + 1, ==,
                             nq + 1);
        } else if (id == PCI_CAP_ID_PM) {
            seen_pm = true;
        } else if (id == PCI_CAP_ID_EXP) {
            seen_exp = true;
        }
        cap = pci_config_read(pci, cap + 1, 1);
    }
    g_assert_cmpuint(nvendor, ==, 5);
    g_assert_true(seen_pm && seen_exp);
    g_assert_cmpint(seen_msix, ==, msix);
    g_assert_cmpuint(pci_bar_size(pci, VSCSI_BAR_MSIX), ==, msix ? 0x1000 : 0);
    g_assert_cmpuint(t.d->notify_mult, ==, 4);
    t_stop(&t);
}

static void test_capabilities(void)
{
    check_caps(true);
    check_caps(false);
}

static void cfg_window_set(PCIDevice *pci, uint8_t cap, uint32_t off,
                           uint32_t len)
{
    pci_config_write(pci, cap + VIRTIO_PCI_CAP_BAR, VSCSI_BAR_VIRTIO, 1);
    pci_config_write(pci, cap + VIRTIO_PCI_CAP_OFFSET, off, 4);
    pci_config_write(pci, cap + VIRTIO_PCI_CAP_LENGTH, len, 4);
}

static void test_cfg_window(void)
{
    PCIDevice *pci;
    uint8_t cap;
    uint64_t e0;
    T t;

    t_start(&t, all_features, false);
    pci = virtio_scsi_pci(t.fx.s);
    cap = t.d->cap_pci_cfg;
    g_assert_cmpuint(cap, !=, 0);
    cfg_window_set(pci, cap, VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ, 2);
    g_assert_cmpuint(pci_config_read(pci, cap + 16, 2), ==, 3);
    cfg_window_set(pci, cap, VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_MAX_LUN, 4);
    g_assert_cmpuint(pci_config_read(pci, cap + 16, 4), ==, 16383);
    /* A write through the window is a register write: reset the device. */
    cfg_window_set(pci, cap, VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS, 1);
    g_assert_cmphex(pci_config_read(pci, cap + 16, 1), ==, 0x0f);
    pci_config_write(pci, cap + 16, 0, 1);
    g_assert_cmphex(vdrv_status(t.d), ==, 0);
    pci_config_write(pci, cap + 16, VIRTIO_STATUS_ACKNOWLEDGE, 1);
    g_assert_cmphex(vdrv_status(t.d), ==, VIRTIO_STATUS_ACKNOWLEDGE);
    g_assert_cmphex(pci_config_read(pci, cap + 16, 1), ==,
                    VIRTIO_STATUS_ACKNOWLEDGE);
    /* A window that names no valid access: data writes are guest errors. */
    e0 = errors(&t);
    cfg_window_set(pci, cap, VSCSI_COMMON_OFF, 3);
    pci_config_write(pci, cap + 16, 1, 1);
    g_assert_cmpuint(errors(&t), ==, e0 + 1);
    cfg_window_set(pci, cap, VSCSI_COMMON_OFF + 1, 2);
    pci_config_write(pci, cap + 16, 1, 2);
    g_assert_cmpuint(errors(&t), ==, e0 + 2);
    g_assert_cmphex(vdrv_status(t.d), ==, VIRTIO_STATUS_ACKNOWLEDGE);
    t_stop(&t);
}

/* ---- initialization and features ----------------------------------------- */

static void test_handshake(void)
{
    static const struct {
        unsigned off, size;
        uint32_t value;
    } cfg[] = {
        {VIRTIO_SCSI_CFG_NUM_QUEUES, 4, 1},
        {VIRTIO_SCSI_CFG_SEG_MAX, 4, 254},
        {VIRTIO_SCSI_CFG_MAX_SECTORS, 4, VSCSI_MAX_SECTORS},
        {VIRTIO_SCSI_CFG_CMD_PER_LUN, 4, 256},
        {VIRTIO_SCSI_CFG_EVENT_INFO_SIZE, 4, 16},
        {VIRTIO_SCSI_CFG_SENSE_SIZE, 4, 96},
        {VIRTIO_SCSI_CFG_CDB_SIZE, 4, 32},
        {VIRTIO_SCSI_CFG_MAX_CHANNEL, 2, 0},
        {VIRTIO_SCSI_CFG_MAX_TARGET, 2, 255},
        {VIRTIO_SCSI_CFG_MAX_LUN, 4, 16383},
    };
    uint64_t offered;
    T t;

    t_start(&t, all_features, true);
    g_assert_cmpuint(errors(&t), ==, 0);
    offered = vdrv_device_features(t.d);
    g_assert_cmphex(offered, ==,
                    all_features | F(VIRTIO_F_ANY_LAYOUT) |
                        F(VIRTIO_F_ACCESS_PLATFORM));
    g_assert_false(offered & F(VIRTIO_F_RING_PACKED));
    g_assert_false(offered & F(VIRTIO_SCSI_F_INOUT));
    /* Windows beyond bit 63 present 0. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_DFSELECT, 2, 4);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_DF, 4), ==, 0);
    /* The driver's features read back. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_GF, 4), ==,
                    all_features >> 32);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_NUMQ, 2), ==, 3);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_CFGGEN, 1), ==, 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(cfg); i++) {
        g_assert_cmpuint(vdrv_device_read(t.d, cfg[i].off, cfg[i].size), ==,
                         cfg[i].value);
    }
    /* The driver sets sense_size and cdb_size; a reset restores them. */
    vdrv_device_write(t.d, VIRTIO_SCSI_CFG_SENSE_SIZE, 32, 4);
    vdrv_device_write(t.d, VIRTIO_SCSI_CFG_CDB_SIZE, 16, 4);
    g_assert_cmpuint(vdrv_device_read(t.d, VIRTIO_SCSI_CFG_SENSE_SIZE, 4), ==,
                     32);
    g_assert_cmpuint(vdrv_device_read(t.d, VIRTIO_SCSI_CFG_CDB_SIZE, 4), ==,
                     16);
    vdrv_reset(t.d);
    g_assert_cmpuint(vdrv_device_read(t.d, VIRTIO_SCSI_CFG_SENSE_SIZE, 4), ==,
                     96);
    g_assert_cmpuint(vdrv_device_read(t.d, VIRTIO_SCSI_CFG_CDB_SIZE, 4), ==,
                     32);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_MSIX, 2), ==,
                     VIRTIO_MSI_NO_VECTOR);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

typedef struct FeatureCase {
    const char *name;
    uint64_t low, high; /* driver_feature windows 0 and 1 */
    uint32_t window2;   /* written with driver_feature_select = 2 */
    bool accepted;
} FeatureCase;

static const FeatureCase feature_cases[] = {
    {"version-1-only", 0, 1, 0, true},
    {"everything-offered", (uint32_t)(all_features | F(VIRTIO_F_ANY_LAYOUT)),
     (all_features | F(VIRTIO_F_ACCESS_PLATFORM)) >> 32, 0, true},
    {"no-version-1", (uint32_t)all_features, 0, 0, false},
    {"legacy-nothing", 0, 0, 0, false},
    {"unknown-low-bit", F(VIRTIO_SCSI_F_INOUT), 1, 0, false},
    {"t10-pi", F(VIRTIO_SCSI_F_T10_PI), 1, 0, false},
    {"packed-ring", 0, 1 | (F(VIRTIO_F_RING_PACKED) >> 32), 0, false},
    {"notification-data", 0, 1 | (F(VIRTIO_F_NOTIFICATION_DATA) >> 32), 0,
     false},
    {"bits-past-63", 0, 1, 0x1, false},
};

static void test_features(gconstpointer data)
{
    const FeatureCase *c = data;
    uint64_t e0;
    uint8_t st;
    T t;

    t_start(&t, all_features, false);
    vdrv_reset(t.d);
    e0 = errors(&t);
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE);
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GF, c->low, 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GF, c->high, 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GFSELECT, 2, 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GF, c->window2, 4);
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_FEATURES_OK);
    st = vdrv_status(t.d);
    g_assert_cmpint(!!(st & VIRTIO_STATUS_FEATURES_OK), ==, c->accepted);
    g_assert_cmpuint(errors(&t), ==, e0 + (c->accepted ? 0 : 1));
    if (c->accepted) {
        /* Fixed from FEATURES_OK on. */
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_GF, 0, 4);
        g_assert_cmpuint(errors(&t), ==, e0 + 1);
        g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_GF, 4), ==,
                        c->low);
    } else {
        /* Refused: DRIVER_OK does not stick either. */
        vdrv_set_status(t.d, st | VIRTIO_STATUS_DRIVER_OK);
        g_assert_false(vdrv_status(t.d) & VIRTIO_STATUS_DRIVER_OK);
    }
    t_stop(&t);
}

static void test_status_order(void)
{
    uint64_t e0;
    T t;

    t_start(&t, all_features, false);
    vdrv_reset(t.d);
    e0 = errors(&t);
    /* DRIVER before ACKNOWLEDGE, FEATURES_OK before DRIVER, DRIVER_OK
     * before FEATURES_OK: each refused. */
    vdrv_set_status(t.d, VIRTIO_STATUS_DRIVER);
    g_assert_cmphex(vdrv_status(t.d), ==, 0);
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FEATURES_OK);
    g_assert_cmphex(vdrv_status(t.d), ==, VIRTIO_STATUS_ACKNOWLEDGE);
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_DRIVER_OK);
    g_assert_cmphex(vdrv_status(t.d), ==,
                    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    g_assert_cmpuint(errors(&t), ==, e0 + 3);
    /* The device owns NEEDS_RESET; clearing bits needs a reset. */
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_false(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE);
    g_assert_cmphex(vdrv_status(t.d), ==,
                    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    g_assert_cmpuint(errors(&t), ==, e0 + 5);
    /* FAILED: the driver gives up; nothing is processed any more. */
    vdrv_write_features(t.d, all_features);
    vdrv_set_status(t.d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_FEATURES_OK);
    vdrv_queue_setup(t.d, Q_REQ, 0, VIRTIO_MSI_NO_VECTOR);
    vdrv_set_status(t.d, vdrv_status(t.d) | VIRTIO_STATUS_FAILED);
    g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_FAILED);
    {
        static const uint8_t tur[6] = {0};
        VDrvIo io;

        vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
        vdrv_io_submit(t.d, Q_REQ, &io);
        vdrv_notify(t.d, Q_REQ);
        vdrv_run();
        g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);
    }
    t_stop(&t);
}

/* ---- queues -------------------------------------------------------------- */

static void test_queue_setup(void)
{
    uint64_t e0;
    T t;

    t_start(&t, all_features, true);
    vdrv_reset(t.d);
    g_assert_true(vdrv_negotiate(t.d, all_features));
    e0 = errors(&t);
    for (unsigned q = 0; q < 3; q++) {
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 2), ==,
                         256);
        g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_NOFF, 2), ==,
                         q);
        g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 2),
                         ==, 0);
        g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 2), ==,
                        VIRTIO_MSI_NO_VECTOR);
    }
    /* A queue that does not exist reads size 0. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, 3, 2);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 2), ==, 0);
    g_assert_cmpuint(errors(&t), ==, e0);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 64, 2);
    g_assert_cmpuint(errors(&t), ==, e0 + 1);

    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, Q_REQ, 2);
    /* Sizes: a power of 2 up to the maximum. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 100, 2);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 512, 2);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 0, 2);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 2), ==,
                     256);
    g_assert_cmpuint(errors(&t), ==, e0 + 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 2), ==,
                     16);
    /* MSI-X vectors: 0..num_queues + 2 map, others read back NO_VECTOR. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 3, 2);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 2), ==, 3);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 4, 2);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 2), ==,
                    VIRTIO_MSI_NO_VECTOR);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_MSIX, 0x7ff, 2);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_MSIX, 2), ==,
                    VIRTIO_MSI_NO_VECTOR);
    g_assert_cmpuint(errors(&t), ==, e0 + 6);
    /* 64-bit fields: halves are independent; a 64-bit access works. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_DESCHI, 0x12, 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_DESCLO, 0x3450, 4);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_DESCLO, 8), ==,
                    0x1200003450ULL);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_AVAILLO, 0xabcdef00ULL, 8);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_AVAILLO, 4), ==,
                    0xabcdef00);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_AVAILHI, 4), ==,
                    0);
    /* A real setup of the shrunk queue; then its fields are frozen. */
    g_assert_cmpuint(vdrv_queue_setup(t.d, Q_REQ, 16, 3), ==, 16);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), ==,
                     1);
    e0 = errors(&t);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 32, 2);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_DESCLO, 0x1000, 4);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 0, 2);
    g_assert_cmpuint(errors(&t), ==, e0 + 3);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 2), ==,
                     16);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), ==,
                     1);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_DESCLO, 8), ==,
                    t.d->q[Q_REQ].desc);
    /* The shrunk queue works, and wraps. */
    vdrv_queue_setup(t.d, Q_CTRL, 0, 1);
    vdrv_queue_setup(t.d, Q_EVENT, 0, 2);
    vdrv_driver_ok(t.d);
    for (unsigned i = 0; i < 40; i++) {
        static const uint8_t inq[6] = {SCSI_OP_INQUIRY, 0, 0, 0, 36, 0};
        VDrvIo io;
        VDrvResp r;

        vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, i, inq, 6, 36, false, 0, 0);
        g_assert_cmpuint(vdrv_io_run(t.d, Q_REQ, &io, &r), ==, 108 + 36);
        g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    }
    g_assert_cmpuint(errors(&t), ==, e0 + 3);
    t_stop(&t);
}

static void test_queue_reset(void)
{
    static const uint8_t tur[6] = {0};
    VDrvIo io;
    VDrvResp r;
    uint64_t e0;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    read_in_flight(&t, &io, 0x51, 0, 8);
    run_fetch(&t);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 1);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, Q_REQ, 2);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_RESET, 1, 2);
    /* Done within the write: both read 0, everything at reset values. */
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_RESET, 2), ==,
                     0);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), ==,
                     0);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_SIZE, 2), ==,
                     256);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 2), ==,
                    VIRTIO_MSI_NO_VECTOR);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_DESCLO, 8), ==,
                    0);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    g_assert_cmpuint(t.disk->cancels, ==, 1);
    vdrv_run();
    /* The dropped command never reached the used ring. */
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);
    /* Set up again, from index 0. */
    vdrv_queue_setup(t.d, Q_REQ, 0, Q_REQ + 1);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 0x52, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);

    /* Without VIRTIO_F_RING_RESET the register does nothing. */
    t_start(&t, all_features & ~F(VIRTIO_F_RING_RESET), true);
    e0 = errors(&t);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, Q_REQ, 2);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_RESET, 1, 2);
    g_assert_cmpuint(errors(&t), ==, e0 + 1);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), ==,
                     1);
    t_stop(&t);
}

/* ---- I/O of every layout ------------------------------------------------- */

typedef struct IoCase {
    const char *name;
    VDrvLayout layout;
    unsigned nseg;
    uint8_t op; /* 0: TEST UNIT READY */
    uint16_t blocks;
} IoCase;

static const IoCase io_cases[] = {
    {"no-data", VDRV_LAYOUT_SIMPLE, 1, 0, 0},
    {"no-data-split", VDRV_LAYOUT_SPLIT, 1, 0, 0},
    {"data-in", VDRV_LAYOUT_SIMPLE, 1, SCSI_OP_READ_10, 4},
    {"data-out", VDRV_LAYOUT_SIMPLE, 1, SCSI_OP_WRITE_10, 4},
    {"split-header-in", VDRV_LAYOUT_SPLIT, 1, SCSI_OP_READ_10, 3},
    {"split-header-out", VDRV_LAYOUT_SPLIT, 1, SCSI_OP_WRITE_10, 3},
    {"combined-in", VDRV_LAYOUT_COMBINED, 1, SCSI_OP_READ_10, 2},
    {"combined-out", VDRV_LAYOUT_COMBINED, 1, SCSI_OP_WRITE_10, 2},
    {"indirect-in", VDRV_LAYOUT_INDIRECT, 1, SCSI_OP_READ_10, 8},
    {"indirect-out", VDRV_LAYOUT_INDIRECT, 1, SCSI_OP_WRITE_10, 8},
    {"many-segments-in", VDRV_LAYOUT_MANY, 64, SCSI_OP_READ_10, 64},
    {"many-segments-out", VDRV_LAYOUT_MANY, 100, SCSI_OP_WRITE_10, 50},
    /* seg_max segments: the chain is exactly queue_size long. */
    {"seg-max-out", VDRV_LAYOUT_MANY, 254, SCSI_OP_WRITE_10, 254},
};

static void test_io(gconstpointer data)
{
    const IoCase *c = data;
    const uint32_t lba = 100;
    uint32_t len = c->blocks * 512u;
    bool out = c->op == SCSI_OP_WRITE_10;
    uint8_t cdb[10] = {0};
    VDrvIo io;
    VDrvResp r;
    uint32_t used;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    if (c->op) {
        cdb_rw10(cdb, c->op, lba, c->blocks);
    }
    vdrv_io_init(&io, c->layout, 0, 0, 0x1000, cdb, 10, len, out, 0, 0);
    io.nseg = c->nseg;
    if (out) {
        for (uint32_t i = 0; i < len; i++) {
            vdrv_io_data(&io)[i] = (uint8_t)(0x5a ^ i ^ (i >> 9));
        }
    }
    used = vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(r.sense_len, ==, 0);
    g_assert_cmpuint(r.residual, ==, 0);
    /* The response area is written whole, then data-in follows it. */
    g_assert_cmpuint(used, ==, 108 + (out ? 0 : len));
    if (len) {
        g_assert_cmpmem(vdrv_io_data(&io), len,
                        t.disk->data + (uint64_t)lba * 512, len);
    }
    g_assert_cmpuint(errors(&t), ==, 0);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    t_stop(&t);
}

static void test_sense(void)
{
    static const uint8_t tur[6] = {0};
    uint8_t cdb[10];
    VDrvIo io;
    VDrvResp r;
    uint32_t used;
    T t;

    t_start(&t, all_features, true);
    /* The power-on unit attention comes back as CHECK CONDITION + sense. */
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
    used = vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(used, ==, 108);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmpuint(r.sense_len, ==, SCSI_SENSE_FIXED_LEN);
    g_assert_cmphex(r.sense[0], ==, 0x70);
    g_assert_cmphex(r.sense[2] & 0xf, ==, SCSI_SK_UNIT_ATTENTION);
    g_assert_cmphex(r.sense[12], ==, 0x29);
    /* Past the sense data the area is zero-filled, not left as it was. */
    g_assert_cmphex(r.sense[SCSI_SENSE_FIXED_LEN], ==, 0);
    g_assert_cmphex(r.sense[95], ==, 0);
    g_assert_cmpuint(r.status_qualifier, ==, 0);

    /* A smaller sense_size truncates the sense and moves data-in. */
    vdrv_device_write(t.d, VIRTIO_SCSI_CFG_SENSE_SIZE, 8, 4);
    cdb_rw10(cdb, SCSI_OP_READ_10, 5000, 1);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 2, cdb, 10, 512, false, 0, 8);
    used = vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmpuint(r.sense_len, ==, 8);
    g_assert_cmphex(r.sense[2] & 0xf, ==, SCSI_SK_ILLEGAL_REQUEST);
    g_assert_cmpuint(r.residual, ==, 512);
    g_assert_cmpuint(used, ==, 12 + 8);
    cdb_rw10(cdb, SCSI_OP_READ_10, 7, 1);
    vdrv_io_init(&io, VDRV_LAYOUT_COMBINED, 0, 0, 3, cdb, 10, 512, false, 0, 8);
    used = vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(used, ==, 20 + 512);
    g_assert_cmpmem(vdrv_ptr(io.resp + 20), 512, t.disk->data + 7 * 512, 512);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

static void test_residual_overrun(void)
{
    static const uint8_t inq[6] = {SCSI_OP_INQUIRY, 0, 0, 0, 36, 0};
    uint8_t cdb[10];
    VDrvIo io;
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    /* INQUIRY of 36 bytes into 100: residual 64. */
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, inq, 6, 100, false, 0, 0);
    g_assert_cmpuint(vdrv_io_run(t.d, Q_REQ, &io, &r), ==, 108 + 36);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r.residual, ==, 64);
    /* Without sense data the whole sense field is written, as zeroes (the
     * driver's buffer held a pattern). */
    g_assert_cmpuint(r.sense_len, ==, 0);
    for (unsigned i = 0; i < VIRTIO_SCSI_SENSE_SIZE_DEFAULT; i++) {
        g_assert_cmphex(r.sense[i], ==, 0);
    }
    g_assert_cmpmem(vdrv_io_data(&io) + 8, 8, "STOREMU ", 8);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    /* READ of 1 block into 1536 bytes. */
    cdb_rw10(cdb, SCSI_OP_READ_10, 0, 1);
    vdrv_io_init(&io, VDRV_LAYOUT_SPLIT, 0, 0, 2, cdb, 10, 1536, false, 0, 0);
    g_assert_cmpuint(vdrv_io_run(t.d, Q_REQ, &io, &r), ==, 108 + 512);
    g_assert_cmpuint(r.residual, ==, 1024);
    /* READ of 4 blocks into 1: the CDB wants more than the buffers hold. */
    cdb_rw10(cdb, SCSI_OP_READ_10, 0, 4);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 3, cdb, 10, 512, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OVERRUN);
    /* WRITE of 4 blocks with 1 block of data-out: not executed. */
    cdb_rw10(cdb, SCSI_OP_WRITE_10, 0, 4);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 4, cdb, 10, 512, true, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OVERRUN);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmphex(r.sense[12], ==, 0x4b);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

static void test_addressing(void)
{
    static const uint8_t tur[6] = {0};
    static const uint8_t inq[6] = {SCSI_OP_INQUIRY, 0, 0, 0, 36, 0};
    VDrvIo io;
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    /* No target 3. */
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 3, 0, 1, tur, 6, 0, false, 0, 0);
    g_assert_cmpuint(vdrv_io_run(t.d, Q_REQ, &io, &r), ==, 108);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_BAD_TARGET);
    /* Byte 0 other than 1 (e.g. the REPORT LUNS well-known LU). */
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 2, tur, 6, 0, false, 0, 0);
    ((uint8_t *)vdrv_ptr(io.req))[0] = VIRTIO_SCSI_LUN_WLUN_BYTE0;
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_BAD_TARGET);
    /* A missing LUN of a present target: the target answers. */
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 5, 3, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmphex(r.sense[12], ==, 0x25);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 5, 4, inq, 6, 36, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmphex(vdrv_io_data(&io)[0], ==, 0x7f);
    /* Peripheral device addressing (byte 2 = 0) reaches LUN 0 too, and a
     * LUN at 1:7 is found. */
    vdrv_disk_attach(virtio_scsi_bus(t.fx.s), 1, 7, 16);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 1, 7, 5, inq, 6, 36, false, 0, 0);
    ((uint8_t *)vdrv_ptr(io.req))[2] = 0;
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmphex(vdrv_io_data(&io)[0], ==, 0x00);
    /* An unsupported address method names no LUN. */
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 1, 7, 6, inq, 6, 36, false, 0, 0);
    ((uint8_t *)vdrv_ptr(io.req))[2] = 0x80;
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmphex(vdrv_io_data(&io)[0], ==, 0x7f);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

static void test_bidirectional(void)
{
    uint64_t rs, dout, din;
    uint8_t cdb[10];
    uint32_t id, len;
    VDrvIo io;
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    cdb_rw10(cdb, SCSI_OP_WRITE_10, 0, 1);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 9, cdb, 10, 0, true, 0, 0);
    dout = vdrv_alloc(512);
    din = vdrv_alloc(512);
    rs = io.resp;
    {
        VDrvBuf b[4] = {
            {io.req, io.req_len, false},
            {dout, 512, false},
            {rs, io.resp_len, true},
            {din, 512, true},
        };
        io.head = vdrv_add_chain(t.d, Q_REQ, b, 4, false);
    }
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
    vdrv_io_resp(&io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_FAILURE);
    g_assert_cmpuint(len, ==, 108);
    g_assert_cmpuint(t.disk->commands, ==, 0);
    t_stop(&t);
}

static void test_cdb_size(void)
{
    uint8_t cdb[16];
    VDrvIo io;
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    /* A 16-byte CDB field: the header is 35 bytes. */
    vdrv_device_write(t.d, VIRTIO_SCSI_CFG_CDB_SIZE, 16, 4);
    memset(cdb, 0, sizeof(cdb));
    cdb_rw10(cdb, SCSI_OP_READ_10, 9, 1);
    vdrv_io_init(&io, VDRV_LAYOUT_SPLIT, 0, 0, 1, cdb, 16, 512, false, 16, 0);
    g_assert_cmpuint(io.req_len, ==, 35);
    g_assert_cmpuint(vdrv_io_run(t.d, Q_REQ, &io, &r), ==, 108 + 512);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmpmem(vdrv_io_data(&io), 512, t.disk->data + 9 * 512, 512);
    t_stop(&t);
}

/* ---- task management and asynchronous notification ----------------------- */

static uint64_t dma_log[64];
static unsigned dma_log_n;

static bool dma_before(BndAccess *a, void *opaque)
{
    return false;
}

static void dma_after(const BndAccess *a, void *opaque)
{
    if (a->kind == BND_DMA_WRITE && a->len == 2 &&
        dma_log_n < G_N_ELEMENTS(dma_log)) {
        dma_log[dma_log_n++] = a->addr;
    }
}

static const BndHook dma_hook = {.name = "test-dma",
                                 .before = dma_before,
                                 .after = dma_after,
                                 .opaque = NULL};

static int dma_log_find(uint64_t gpa)
{
    for (unsigned i = 0; i < dma_log_n; i++) {
        if (dma_log[i] == gpa) {
            return (int)i;
        }
    }
    return -1;
}

static void test_tmf_abort(void)
{
    uint8_t req[sizeof(VirtioScsiCtrlTmfReq)];
    uint32_t id, len;
    VDrvIo io;
    VDrvResp r;
    uint64_t rs;
    int w_req, w_ctrl;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    read_in_flight(&t, &io, 0x77, 0, 8);
    run_fetch(&t);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 1);
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);

    dma_log_n = 0;
    g_assert_true(bnd_hook_add(&dma_hook));
    tmf_build(req, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 0x77);
    rs = ctrl_submit(&t, req, sizeof(req), 1);
    run_fetch(&t);
    bnd_hook_remove(&dma_hook);
    g_assert_true(vdrv_get_used(t.d, Q_CTRL, &id, &len));
    g_assert_cmpuint(*(uint8_t *)vdrv_ptr(rs), ==,
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
    g_assert_cmpuint(id, ==, io.head);
    vdrv_io_resp(&io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_ABORTED);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_TASK_ABORTED);
    g_assert_cmpuint(len, ==, 108);
    g_assert_cmpuint(t.disk->cancels, ==, 1);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    /* 5.6.6.2: the aborted command is used before the TMF completes. */
    w_req = dma_log_find(t.d->q[Q_REQ].used + VIRTQ_USED_IDX);
    w_ctrl = dma_log_find(t.d->q[Q_CTRL].used + VIRTQ_USED_IDX);
    g_assert_cmpint(w_req, >=, 0);
    g_assert_cmpint(w_ctrl, >, w_req);
    vdrv_run();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);
    /* Aborting a task that is not there completes too. */
    g_assert_cmpuint(tmf_run(&t, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 0x99), ==,
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

typedef struct TmfCase {
    const char *name;
    uint32_t subtype;
    uint8_t response;     /* with three READs in flight */
    uint8_t cmd_response; /* what the READs then return */
    bool unit_attention;  /* a reset: the next command sees 29/xx */
} TmfCase;

static const TmfCase tmf_cases[] = {
    {"abort-task-set", VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
     VIRTIO_SCSI_S_FUNCTION_COMPLETE, VIRTIO_SCSI_S_ABORTED, false},
    {"clear-task-set", VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET,
     VIRTIO_SCSI_S_FUNCTION_COMPLETE, VIRTIO_SCSI_S_ABORTED, false},
    {"lun-reset", VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
     VIRTIO_SCSI_S_FUNCTION_COMPLETE, VIRTIO_SCSI_S_RESET, true},
    {"i-t-nexus-reset", VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
     VIRTIO_SCSI_S_FUNCTION_COMPLETE, VIRTIO_SCSI_S_RESET, true},
    {"query-task-set", VIRTIO_SCSI_T_TMF_QUERY_TASK_SET,
     VIRTIO_SCSI_S_FUNCTION_SUCCEEDED, VIRTIO_SCSI_S_OK, false},
    {"clear-aca", VIRTIO_SCSI_T_TMF_CLEAR_ACA, VIRTIO_SCSI_S_FUNCTION_REJECTED,
     VIRTIO_SCSI_S_OK, false},
    {"unknown-subtype", 99, VIRTIO_SCSI_S_FUNCTION_REJECTED, VIRTIO_SCSI_S_OK,
     false},
};

static void test_tmf(gconstpointer data)
{
    static const uint8_t tur[6] = {0};
    const TmfCase *c = data;
    VDrvIo io[3], u;
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    for (unsigned i = 0; i < 3; i++) {
        read_in_flight(&t, &io[i], 0x100 + i, i * 8, 8);
    }
    run_fetch(&t);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 3);
    g_assert_cmpuint(tmf_run(&t, c->subtype, 0, 0, 0), ==, c->response);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    for (unsigned i = 0; i < 3; i++) {
        uint32_t id, len;

        g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
        g_assert_cmpuint(id, ==, io[i].head);
        vdrv_io_resp(&io[i], &r);
        g_assert_cmpuint(r.response, ==, c->cmd_response);
    }
    vdrv_io_init(&u, VDRV_LAYOUT_SIMPLE, 0, 0, 0x200, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &u, &r);
    g_assert_cmpuint(r.status, ==,
                     c->unit_attention ? SCSI_STATUS_CHECK_CONDITION
                                       : SCSI_STATUS_GOOD);
    if (c->unit_attention) {
        g_assert_cmphex(r.sense[12], ==, 0x29);
    }
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

/*
 * The held commands' end asks once per batch whether the device may
 * master the bus: mastering turned off while they wait means no response
 * and no used entry (the DMA is refused, the queue breaks); turned off
 * and on again before they end, they end as usual.
 */
static void test_held_bus_master(void)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    static const VDrvLayout layouts[] = {VDRV_LAYOUT_SIMPLE,
                                         VDRV_LAYOUT_INDIRECT};

    p.id = "vscsi0";
    p.latency_ns = NS_PER_MS;
    for (unsigned off = 0; off < 2; off++) {
        for (unsigned k = 0; k < G_N_ELEMENTS(layouts); k++) {
            PCIDevice *pci;
            VDrvIo io[3];
            VDrvResp r;
            uint16_t cmd;
            uint64_t e0;
            uint8_t cdb[10];
            T t;

            t_start_props(&t, &p, all_features, true);
            vdrv_clear_ua(t.d, Q_REQ, 0, 0);
            pci = virtio_scsi_pci(t.fx.s);
            for (unsigned i = 0; i < 3; i++) {
                cdb_rw10(cdb, SCSI_OP_READ_10, i * 8, 8);
                vdrv_io_init(&io[i], layouts[k], 0, 0, 0x600 + i, cdb, 10,
                             8 * 512u, false, 0, 0);
                vdrv_io_submit(t.d, Q_REQ, &io[i]);
            }
            vdrv_notify(t.d, Q_REQ);
            run_fetch(&t);
            g_assert_true(event_advance_to_next()); /* the target finishes */
            vdrv_run_now();
            g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 3);
            e0 = errors(&t);
            cmd = pci_config_read(pci, PCI_CFG_COMMAND, 2);
            pci_config_write(pci, PCI_CFG_COMMAND, cmd & ~PCI_CMD_MASTER, 2);
            if (!off) {
                pci_config_write(pci, PCI_CFG_COMMAND, cmd, 2);
            }
            g_assert_true(event_advance_to_next()); /* the latency ends */
            vdrv_run_now();
            pci_config_write(pci, PCI_CFG_COMMAND, cmd, 2);
            g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
            if (off) {
                g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);
                g_assert_true(vdrv_status(t.d) &
                              VIRTIO_STATUS_DEVICE_NEEDS_RESET);
                g_assert_cmpuint(errors(&t), >, e0);
            } else {
                g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 3);
                for (unsigned i = 0; i < 3; i++) {
                    uint32_t id, len;

                    g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
                    g_assert_cmpuint(id, ==, io[i].head);
                    vdrv_io_resp(&io[i], &r);
                    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
                    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
                }
                g_assert_cmpuint(errors(&t), ==, e0);
            }
            t_stop(&t);
        }
    }
}

/*
 * Commands the target has finished wait out the device's latency in the
 * order they finished; aborting the middle one ends it at once and leaves
 * the others to complete at their own time.
 */
static void test_tmf_abort_held(void)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    uint8_t req[sizeof(VirtioScsiCtrlTmfReq)];
    VDrvIo io[3];
    VDrvResp r;
    uint32_t id, len;
    uint64_t rs, t_held;
    T t;

    p.id = "vscsi0";
    p.latency_ns = NS_PER_MS;
    t_start_props(&t, &p, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    for (unsigned i = 0; i < 3; i++) {
        read_in_flight(&t, &io[i], 0x500 + i, i * 8, 8);
    }
    run_fetch(&t);
    g_assert_true(event_advance_to_next()); /* the target finishes */
    vdrv_run_now();
    t_held = vclock_now();
    g_assert_cmpuint(scsi_bus_in_flight(virtio_scsi_bus(t.fx.s)), ==, 0);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 3);

    tmf_build(req, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 0x501);
    rs = ctrl_submit(&t, req, sizeof(req), 1);
    run_fetch(&t);
    g_assert_cmpuint(*(uint8_t *)vdrv_ptr(rs), ==,
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 2);
    g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
    g_assert_cmpuint(id, ==, io[1].head);
    vdrv_io_resp(&io[1], &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_ABORTED);
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);

    /* The other two, at the end of their latency, in order. */
    g_assert_true(event_advance_to_next());
    g_assert_cmpuint(vclock_now(), ==, t_held + NS_PER_MS);
    vdrv_run_now();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 2);
    for (unsigned i = 0; i < 3; i += 2) {
        g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
        g_assert_cmpuint(id, ==, io[i].head);
        vdrv_io_resp(&io[i], &r);
        g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
        g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    }
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

/*
 * A task set function ends the held commands oldest first, whatever the
 * order of the device's pooled request objects: a first round leaves them
 * on the free list the other way round from the second round's
 * submission order.
 */
static void test_tmf_abort_held_order(void)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    uint8_t req[sizeof(VirtioScsiCtrlTmfReq)];
    VDrvIo io[4];
    VDrvResp r;
    uint32_t id, len;
    uint64_t rs;
    T t;

    p.id = "vscsi0";
    p.latency_ns = NS_PER_MS;
    t_start_props(&t, &p, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 4; i++) {
            read_in_flight(&t, &io[i], 0x600 + round * 4 + i, i * 8, 8);
        }
        run_fetch(&t);
        g_assert_true(event_advance_to_next()); /* the target finishes */
        vdrv_run_now();
        g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 4);
        if (round == 0) {
            g_assert_true(event_advance_to_next()); /* the latency */
            vdrv_run_now();
            g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
            for (unsigned i = 0; i < 4; i++) {
                g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
                g_assert_cmpuint(id, ==, io[i].head);
            }
        }
    }

    tmf_build(req, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 0, 0, 0);
    rs = ctrl_submit(&t, req, sizeof(req), 1);
    run_fetch(&t);
    g_assert_cmpuint(*(uint8_t *)vdrv_ptr(rs), ==,
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 4);
    for (unsigned i = 0; i < 4; i++) {
        g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
        g_assert_cmpuint(id, ==, io[i].head);
        vdrv_io_resp(&io[i], &r);
        g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_ABORTED);
    }
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

static void test_tmf_query_and_addressing(void)
{
    VDrvIo io;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    read_in_flight(&t, &io, 0x42, 0, 8);
    run_fetch(&t);
    g_assert_cmpuint(tmf_run(&t, VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 0, 0x42), ==,
                     VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
    /* tmf_run ran the machine: the READ is done now. */
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 1);
    g_assert_cmpuint(tmf_run(&t, VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 0, 0x42), ==,
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    g_assert_cmpuint(tmf_run(&t, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, 0, 0, 0), ==,
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* Addressing: no target, no LUN. */
    g_assert_cmpuint(tmf_run(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 7, 0, 0),
                     ==, VIRTIO_SCSI_S_BAD_TARGET);
    g_assert_cmpuint(tmf_run(&t, VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 3, 1), ==,
                     VIRTIO_SCSI_S_INCORRECT_LUN);
    g_assert_cmpuint(tmf_run(&t, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 3, 1), ==,
                     VIRTIO_SCSI_S_INCORRECT_LUN);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

static void test_an(void)
{
    static const uint32_t types[] = {VIRTIO_SCSI_T_AN_QUERY,
                                     VIRTIO_SCSI_T_AN_SUBSCRIBE};
    T t;

    t_start(&t, all_features, true);
    for (unsigned i = 0; i < G_N_ELEMENTS(types); i++) {
        for (unsigned target = 0; target < 2; target++) {
            uint8_t req[sizeof(VirtioScsiCtrlAnReq)] = {0};
            uint32_t id, len;
            uint8_t *resp;
            uint64_t rs;

            pci_set_long(req, types[i]);
            vdrv_scsi_lun(req + offsetof(VirtioScsiCtrlAnReq, lun),
                          (uint8_t)(target * 9), 0);
            pci_set_long(req + offsetof(VirtioScsiCtrlAnReq, event_requested),
                         0x7e);
            rs =
                ctrl_submit(&t, req, sizeof(req), sizeof(VirtioScsiCtrlAnResp));
            vdrv_run();
            g_assert_true(vdrv_get_used(t.d, Q_CTRL, &id, &len));
            g_assert_cmpuint(len, ==, sizeof(VirtioScsiCtrlAnResp));
            resp = vdrv_ptr(rs);
            /* No asynchronous event class is supported. */
            g_assert_cmphex(pci_get_long(resp), ==, 0);
            g_assert_cmpuint(resp[4], ==,
                             target ? VIRTIO_SCSI_S_BAD_TARGET
                                    : VIRTIO_SCSI_S_OK);
        }
    }
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

/* ---- events -------------------------------------------------------------- */

static uint64_t event_buffers[8];

static void post_event_buffers(T *t, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        VDrvBuf b = {vdrv_alloc(sizeof(VirtioScsiEvent)),
                     sizeof(VirtioScsiEvent), true};
        uint16_t head;

        memset(vdrv_ptr(b.gpa), 0xcc, b.len);
        head = vdrv_add_chain(t->d, Q_EVENT, &b, 1, false);
        event_buffers[head % G_N_ELEMENTS(event_buffers)] = b.gpa;
    }
    vdrv_notify(t->d, Q_EVENT);
    vdrv_run();
}

/* The next event: its fields, or false if none was returned. */
static bool next_event(T *t, uint32_t *event, uint8_t *lun, uint32_t *reason)
{
    uint32_t id, len;
    const uint8_t *e;

    if (!vdrv_get_used(t->d, Q_EVENT, &id, &len)) {
        return false;
    }
    g_assert_cmpuint(len, ==, sizeof(VirtioScsiEvent));
    e = vdrv_ptr(event_buffers[id % G_N_ELEMENTS(event_buffers)]);
    *event = pci_get_long(e);
    memcpy(lun, e + 4, 8);
    *reason = pci_get_long(e + 12);
    return true;
}

static void test_events_hotplug(void)
{
    static const uint8_t lun_0_5[8] = {1, 0, 0x40, 5, 0, 0, 0, 0};
    uint32_t event, reason;
    uint8_t lun[8];
    T t;

    t_start(&t, all_features, true);
    post_event_buffers(&t, 4);
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_EVENT), ==, 0);
    vdrv_irq_log_clear();
    vdrv_disk_attach(virtio_scsi_bus(t.fx.s), 0, 5, 8);
    virtio_scsi_hotplug(t.fx.s, 0, 5, true);
    /* Delivered from an event, not inside the call. */
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_EVENT), ==, 0);
    vdrv_run();
    g_assert_true(next_event(&t, &event, lun, &reason));
    g_assert_cmphex(event, ==, VIRTIO_SCSI_T_TRANSPORT_RESET);
    g_assert_cmpuint(reason, ==, VIRTIO_SCSI_EVT_RESET_RESCAN);
    g_assert_cmpmem(lun, 8, lun_0_5, 8);
    g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE + Q_EVENT + 1], ==, 1);
    virtio_scsi_hotplug(t.fx.s, 0, 5, false);
    vdrv_run();
    g_assert_true(next_event(&t, &event, lun, &reason));
    g_assert_cmphex(event, ==, VIRTIO_SCSI_T_TRANSPORT_RESET);
    g_assert_cmpuint(reason, ==, VIRTIO_SCSI_EVT_RESET_REMOVED);
    /* A MODE SELECT changes parameters: PARAM_CHANGE 2A/01. */
    {
        uint8_t cdb[6] = {SCSI_OP_MODE_SELECT_6, 0x10, 0, 0, 4, 0};
        VDrvIo io;
        VDrvResp r;

        vdrv_clear_ua(t.d, Q_REQ, 0, 0);
        vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, cdb, 6, 4, true, 0, 0);
        vdrv_io_run(t.d, Q_REQ, &io, &r);
        g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
        g_assert_true(next_event(&t, &event, lun, &reason));
        g_assert_cmphex(event, ==, VIRTIO_SCSI_T_PARAM_CHANGE);
        g_assert_cmphex(reason, ==, 0x012a);
    }
    g_assert_false(next_event(&t, &event, lun, &reason));
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);

    /* Without HOTPLUG / CHANGE negotiated, nothing is sent. */
    t_start(&t, F(VIRTIO_F_VERSION_1), true);
    post_event_buffers(&t, 2);
    virtio_scsi_hotplug(t.fx.s, 0, 5, true);
    virtio_scsi_param_change(t.fx.s, 0, 0, 0x2a, 0x09);
    vdrv_run();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_EVENT), ==, 0);
    t_stop(&t);
}

static void test_events_missed(void)
{
    uint32_t event, reason;
    uint8_t lun[8];
    T t;

    t_start(&t, all_features, true);
    /* No buffer: the event is lost. */
    virtio_scsi_hotplug(t.fx.s, 0, 1, true);
    vdrv_run();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_EVENT), ==, 0);
    /* The first buffer then reports the loss. */
    post_event_buffers(&t, 1);
    g_assert_true(next_event(&t, &event, lun, &reason));
    g_assert_cmphex(event, ==,
                    VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED);
    /* With the flag reported, events arrive plain again. */
    post_event_buffers(&t, 1);
    g_assert_false(next_event(&t, &event, lun, &reason));
    virtio_scsi_param_change(t.fx.s, 0, 0, 0x2a, 0x09);
    vdrv_run();
    g_assert_true(next_event(&t, &event, lun, &reason));
    g_assert_cmphex(event, ==, VIRTIO_SCSI_T_PARAM_CHANGE);
    g_assert_cmphex(reason, ==, 0x092a);
    /* Two events, one buffer: the second is lost, and the next event
     * carries the flag. */
    post_event_buffers(&t, 1);
    virtio_scsi_hotplug(t.fx.s, 0, 2, true);
    virtio_scsi_hotplug(t.fx.s, 0, 3, true);
    vdrv_run();
    g_assert_true(next_event(&t, &event, lun, &reason));
    g_assert_cmphex(event, ==, VIRTIO_SCSI_T_TRANSPORT_RESET);
    g_assert_cmpuint(lun[3], ==, 2);
    g_assert_false(next_event(&t, &event, lun, &reason));
    virtio_scsi_hotplug(t.fx.s, 0, 4, false);
    post_event_buffers(&t, 1);
    g_assert_true(next_event(&t, &event, lun, &reason));
    g_assert_cmphex(
        event, ==, VIRTIO_SCSI_T_TRANSPORT_RESET | VIRTIO_SCSI_T_EVENTS_MISSED);
    g_assert_cmpuint(reason, ==, VIRTIO_SCSI_EVT_RESET_REMOVED);
    g_assert_cmpuint(lun[3], ==, 4);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

/* ---- device reset -------------------------------------------------------- */

static void restart(T *t)
{
    g_assert_true(vdrv_negotiate(t->d, all_features));
    for (unsigned q = 0; q < t->nq; q++) {
        vdrv_queue_setup(t->d, q, 0, t->msix ? q + 1 : VIRTIO_MSI_NO_VECTOR);
    }
    vdrv_driver_ok(t->d);
}

static void test_reset_in_flight(void)
{
    static const uint8_t tur[6] = {0};
    uint16_t used_idx;
    VDrvIo io[4];
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    used_idx = pci_get_word(t.d->q[Q_REQ].used_p + VIRTQ_USED_IDX);
    for (unsigned i = 0; i < 4; i++) {
        read_in_flight(&t, &io[i], 0x300 + i, i, 1);
    }
    run_fetch(&t);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 4);
    vdrv_irq_log_clear();
    vdrv_set_status(t.d, 0);
    /* Quiesced within the write: status 0, nothing in flight. */
    g_assert_cmpuint(vdrv_status(t.d), ==, 0);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    g_assert_cmpuint(scsi_bus_in_flight(virtio_scsi_bus(t.fx.s)), ==, 0);
    g_assert_cmpuint(t.disk->cancels, ==, 4);
    vdrv_run();
    /* The used ring is never written after the reset. */
    g_assert_cmpuint(pci_get_word(t.d->q[Q_REQ].used_p + VIRTQ_USED_IDX), ==,
                     used_idx);
    for (unsigned i = 0; i < 4; i++) {
        vdrv_io_resp(&io[i], &r);
        g_assert_cmphex(r.response, ==, 0xa5);
    }
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 0);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, Q_REQ, 2);
    g_assert_cmpuint(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), ==,
                     0);
    /* A new driver starts over; the bus reset shows as 29/00. */
    vdrv_reset(t.d);
    restart(&t);
    vdrv_io_init(&io[0], VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io[0], &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmphex(r.sense[12], ==, 0x29);
    vdrv_io_init(&io[0], VDRV_LAYOUT_SIMPLE, 0, 0, 2, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io[0], &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

static void test_reset_latency_stage(void)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    VDrvIo io;
    T t;

    p.id = "vscsi0";
    p.latency_ns = NS_PER_MS;
    t_start_props(&t, &p, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    read_in_flight(&t, &io, 0x400, 0, 1);
    run_fetch(&t);
    /* Let the target finish: the command waits in the device's latency. */
    g_assert_true(event_advance_to_next());
    vdrv_run_now();
    g_assert_cmpuint(scsi_bus_in_flight(virtio_scsi_bus(t.fx.s)), ==, 0);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 1);
    vdrv_set_status(t.d, 0);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    g_assert_cmpuint(event_queued(), ==, 0);
    vdrv_run();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);
    t_stop(&t);
}

/* ---- interrupts ---------------------------------------------------------- */

static void test_intx(gconstpointer data)
{
    bool msix_cap = GPOINTER_TO_INT(data);
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    static const uint8_t tur[6] = {0};
    PCIDevice *pci;
    VDrvIo io;
    VDrvResp r;
    T t;

    p.id = "vscsi0";
    p.msix = msix_cap;
    t_start_props(&t, &p, all_features, false);
    pci = virtio_scsi_pci(t.fx.s);
    vdrv_irq_log_clear();
    g_assert_cmpuint(vdrv_isr_read(t.d), ==, 0);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(vdrv_irqs.intx_asserts, ==, 1);
    g_assert_true(vdrv_irqs.intx_level);
    g_assert_true(pci_config_read(pci, PCI_CFG_STATUS, 2) & PCI_STS_INTERRUPT);
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 0);
    /* Read to clear; the line drops. */
    g_assert_cmphex(vdrv_isr_read(t.d), ==, VIRTIO_PCI_ISR_QUEUE);
    g_assert_false(vdrv_irqs.intx_level);
    g_assert_false(pci_config_read(pci, PCI_CFG_STATUS, 2) & PCI_STS_INTERRUPT);
    g_assert_cmphex(vdrv_isr_read(t.d), ==, 0);
    /* The ISR is read-only. */
    bnd_mmio_write(t.d->isr, 3, 1);
    g_assert_cmpuint(errors(&t), ==, 1);
    g_assert_cmphex(vdrv_isr_read(t.d), ==, 0);
    /* A configuration change (here: NEEDS_RESET) sets bit 1. */
    vdrv_set_avail_idx(t.d, Q_REQ, t.d->q[Q_REQ].avail_idx + 300);
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_true(vdrv_irqs.intx_level);
    g_assert_cmphex(vdrv_isr_read(t.d), ==, VIRTIO_PCI_ISR_CONFIG);
    g_assert_false(vdrv_irqs.intx_level);
    t_stop(&t);
}

static void test_msix(void)
{
    static const uint8_t tur[6] = {0};
    const unsigned entry = Q_REQ + 1;
    uint64_t pba;
    VDrvIo io;
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    pba = t.d->msix_table + VSCSI_MSIX_PBA_OFF;
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vdrv_irq_log_clear();
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE + entry], ==, 1);
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 1);
    g_assert_cmpuint(vdrv_irqs.intx_asserts, ==, 0);
    /* With MSI-X the ISR stays unused. */
    g_assert_cmphex(vdrv_isr_read(t.d), ==, 0);
    /* A masked vector latches in the PBA and fires on unmask. */
    vdrv_msix_mask(t.d, entry, true);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 2, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 1);
    g_assert_cmphex(bnd_mmio_read(pba, 8), ==, 1ULL << entry);
    vdrv_msix_mask(t.d, entry, false);
    g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE + entry], ==, 2);
    g_assert_cmphex(bnd_mmio_read(pba, 8), ==, 0);
    /* Unmapped (NO_VECTOR): no interrupt at all (4.1.5.4). */
    vdrv_reset(t.d);
    g_assert_true(vdrv_negotiate(t.d, all_features));
    for (unsigned q = 0; q < t.nq; q++) {
        vdrv_queue_setup(t.d, q, 0, q == Q_REQ ? VIRTIO_MSI_NO_VECTOR : q + 1);
    }
    vdrv_driver_ok(t.d);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vdrv_irq_log_clear();
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 3, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 0);
    g_assert_cmpuint(vdrv_irqs.intx_asserts, ==, 0);
    g_assert_cmphex(vdrv_isr_read(t.d), ==, 0);
    /* The configuration vector (entry 0) carries NEEDS_RESET. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    vdrv_set_avail_idx(t.d, Q_REQ, t.d->q[Q_REQ].avail_idx + 1000);
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE], ==, 1);
    g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    t_stop(&t);
}

static void test_msix_off_vectors(void)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    T t;

    p.id = "vscsi0";
    p.msix = false;
    t_start_props(&t, &p, all_features, false);
    vdrv_reset(t.d);
    g_assert_true(vdrv_negotiate(t.d, all_features));
    /* No MSI-X table: every mapping fails and reads NO_VECTOR. */
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_MSIX, 2), ==,
                    VIRTIO_MSI_NO_VECTOR);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 0, 2);
    g_assert_cmphex(vdrv_common_read(t.d, VIRTIO_PCI_COMMON_Q_MSIX, 2), ==,
                    VIRTIO_MSI_NO_VECTOR);
    t_stop(&t);
}

static void run_tur(T *t, uint64_t tag)
{
    static const uint8_t tur[6] = {0};
    VDrvIo io;
    VDrvResp r;

    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, tag, tur, 6, 0, false, 0, 0);
    vdrv_io_run(t->d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
}

/* Ring DMAs an after-hook saw: descriptor table reads, used ring writes. */
typedef struct RingSeen {
    uint64_t desc_lo, desc_hi, used_lo, used_hi;
    unsigned desc_reads, used_writes;
} RingSeen;

static void ring_seen_dma(BndKind kind, uint64_t gpa, const void *data,
                          uint64_t len, void *opaque)
{
    RingSeen *r = opaque;

    if (kind == BND_DMA_READ && gpa >= r->desc_lo && gpa < r->desc_hi) {
        r->desc_reads++;
    } else if (kind == BND_DMA_WRITE && gpa >= r->used_lo && gpa < r->used_hi) {
        r->used_writes++;
    }
}

static void ring_seen_after(const BndAccess *a, void *opaque)
{
    if (a->kind == BND_DMA_READ || a->kind == BND_DMA_WRITE) {
        ring_seen_dma(a->kind, a->addr, a->data, a->len, opaque);
    }
}

/* DMAs counted for one TEST UNIT READY (with @r's counts cleared). */
static uint64_t ring_seen_tur(T *t, RingSeen *r, uint64_t tag)
{
    uint64_t dmas = bnd_counts[BND_DMA_READ] + bnd_counts[BND_DMA_WRITE];

    r->desc_reads = r->used_writes = 0;
    run_tur(t, tag);
    return bnd_counts[BND_DMA_READ] + bnd_counts[BND_DMA_WRITE] - dmas;
}

/*
 * A queue keeps, per bnd_dma_gen, that no hook wants its ring DMAs, and
 * then only counts them: a hook added later, a quiet map that grows over
 * the rings and a second hook beside the map's owner must each be seen
 * at the next ring access, with the same crossings counted throughout.
 */
static void test_ring_quiet(void)
{
    const uint32_t dma = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE);
    BndQuietMap map = {
        .runs = g_new0(uint8_t, BND_QUIET_ROOM),
        .whole = true,
    };
    RingSeen quiet_seen = {0}, other_seen;
    BndHook quiet = {.name = "ring-quiet",
                     .kinds = dma,
                     .after = ring_seen_after,
                     .after_dma = ring_seen_dma,
                     .opaque = &quiet_seen,
                     .dma_quiet = &map};
    BndHook other = {.name = "ring-other",
                     .kinds = dma,
                     .after = ring_seen_after,
                     .after_dma = ring_seen_dma,
                     .opaque = &other_seen};
    const VDrvQueue *q;
    uint64_t dmas;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vdrv_irq_log_stop();
    map.n = ram_size >> BND_QUIET_SHIFT;
    q = &t.d->q[Q_REQ];
    quiet_seen.desc_lo = q->desc;
    quiet_seen.desc_hi = q->desc + VIRTQ_DESC_TABLE_SIZE(q->size);
    quiet_seen.used_lo = q->used;
    quiet_seen.used_hi = q->used + VIRTQ_USED_SIZE(q->size);
    other_seen = quiet_seen;
    /* No hook: the queue finds its rings quiet. */
    dmas = ring_seen_tur(&t, &quiet_seen, 1);
    g_assert_true(bnd_dma_gen != 0);

    /* A hook whose map does not cover the rings sees them. */
    g_assert_true(bnd_hook_add(&quiet));
    g_assert_cmpuint(ring_seen_tur(&t, &quiet_seen, 2), ==, dmas);
    g_assert_cmpuint(quiet_seen.desc_reads, >=, 1);
    g_assert_cmpuint(quiet_seen.used_writes, >=, 2); /* element, index */

    /* The map now covers the rings: quiet again, the same DMAs counted. */
    bnd_quiet_add(&map, q->desc >> BND_QUIET_SHIFT,
                  (quiet_seen.desc_hi >> BND_QUIET_SHIFT) + 1);
    bnd_quiet_add(&map, q->avail >> BND_QUIET_SHIFT,
                  ((q->avail + VIRTQ_AVAIL_SIZE(q->size)) >> BND_QUIET_SHIFT) +
                      1);
    bnd_quiet_add(&map, q->used >> BND_QUIET_SHIFT,
                  (quiet_seen.used_hi >> BND_QUIET_SHIFT) + 1);
    g_assert_cmpuint(ring_seen_tur(&t, &quiet_seen, 3), ==, dmas);
    g_assert_cmpuint(quiet_seen.desc_reads, ==, 0);
    g_assert_cmpuint(quiet_seen.used_writes, ==, 0);

    /* A second hook on DMA sees every ring access; the owner still not. */
    g_assert_true(bnd_hook_add(&other));
    other_seen.desc_reads = other_seen.used_writes = 0;
    g_assert_cmpuint(ring_seen_tur(&t, &quiet_seen, 4), ==, dmas);
    g_assert_cmpuint(other_seen.desc_reads, >=, 1);
    g_assert_cmpuint(other_seen.used_writes, >=, 2);
    g_assert_cmpuint(quiet_seen.desc_reads, ==, 0);
    g_assert_cmpuint(quiet_seen.used_writes, ==, 0);
    bnd_hook_remove(&other);

    /* Alone again: quiet. */
    other_seen.desc_reads = other_seen.used_writes = 0;
    g_assert_cmpuint(ring_seen_tur(&t, &quiet_seen, 5), ==, dmas);
    g_assert_cmpuint(quiet_seen.desc_reads + quiet_seen.used_writes, ==, 0);
    g_assert_cmpuint(other_seen.desc_reads + other_seen.used_writes, ==, 0);
    bnd_hook_remove(&quiet);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
    g_free(map.runs);
}

static void test_suppression(void)
{
    const unsigned vec = VEC_BASE + Q_REQ + 1;
    T t;

    /* VIRTQ_AVAIL_F_NO_INTERRUPT without EVENT_IDX. */
    t_start(&t, all_features & ~F(VIRTIO_F_EVENT_IDX), true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vdrv_irq_log_clear();
    vdrv_set_avail_flags(t.d, Q_REQ, VIRTQ_AVAIL_F_NO_INTERRUPT);
    run_tur(&t, 1);
    run_tur(&t, 2);
    g_assert_cmpuint(vdrv_irqs.msi[vec], ==, 0);
    vdrv_set_avail_flags(t.d, Q_REQ, 0);
    run_tur(&t, 3);
    g_assert_cmpuint(vdrv_irqs.msi[vec], ==, 1);
    t_stop(&t);

    /* EVENT_IDX: used_event says from which entry on to interrupt, and the
     * device keeps avail_event at the next entry it will take. */
    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    g_assert_cmpuint(vdrv_avail_event(t.d, Q_REQ), ==, t.d->q[Q_REQ].avail_idx);
    t.d->manual_used_event = true;
    {
        uint16_t base = t.d->q[Q_REQ].last_used;

        vdrv_set_used_event(t.d, Q_REQ, base + 2);
        vdrv_irq_log_clear();
        run_tur(&t, 1); /* used idx base + 1 */
        run_tur(&t, 2); /* base + 2 */
        g_assert_cmpuint(vdrv_irqs.msi[vec], ==, 0);
        run_tur(&t, 3); /* base + 3: used_event + 1 reached */
        g_assert_cmpuint(vdrv_irqs.msi[vec], ==, 1);
        run_tur(&t, 4);
        g_assert_cmpuint(vdrv_irqs.msi[vec], ==, 1);
        /* The flag is ignored with EVENT_IDX. */
        vdrv_set_avail_flags(t.d, Q_REQ, VIRTQ_AVAIL_F_NO_INTERRUPT);
        vdrv_set_used_event(t.d, Q_REQ, base + 4);
        run_tur(&t, 5);
        g_assert_cmpuint(vdrv_irqs.msi[vec], ==, 2);
    }
    g_assert_cmpuint(vdrv_avail_event(t.d, Q_REQ), ==, t.d->q[Q_REQ].avail_idx);
    t_stop(&t);
}

/* Completions due at the same instant share one interrupt. */
static void test_batching(void)
{
    static const uint8_t tur[6] = {0};
    VDrvIo io[8];
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vdrv_irq_log_clear();
    for (unsigned i = 0; i < 8; i++) {
        vdrv_io_init(&io[i], VDRV_LAYOUT_SIMPLE, 0, 0, i, tur, 6, 0, false, 0,
                     0);
        vdrv_io_submit(t.d, Q_REQ, &io[i]);
    }
    /* One doorbell for all of them. */
    vdrv_notify(t.d, Q_REQ);
    run_fetch(&t);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 8);
    vdrv_run();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 8);
    g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE + Q_REQ + 1], ==, 1);
    t_stop(&t);
}

/* Device reads of guest memory, by address range. */
typedef struct RingReads {
    uint64_t lo[10], hi[10]; /* [lo, hi) ranges to count reads in */
    unsigned n[10];
    unsigned nranges;
    uint64_t used_idx; /* address of used->idx: writes counted */
    unsigned used_idx_writes;
    unsigned used_elem_writes_before; /* used elements before the index */
    uint64_t used_ring_lo, used_ring_hi;
} RingReads;

static void ring_read_after(const BndAccess *a, void *opaque)
{
    RingReads *r = opaque;

    if (a->kind == BND_DMA_WRITE) {
        if (a->addr == r->used_idx) {
            r->used_idx_writes++;
        } else if (a->addr >= r->used_ring_lo && a->addr < r->used_ring_hi &&
                   !r->used_idx_writes) {
            r->used_elem_writes_before++;
        }
        return;
    }
    if (a->kind != BND_DMA_READ) {
        return;
    }
    for (unsigned i = 0; i < r->nranges; i++) {
        if (a->addr >= r->lo[i] && a->addr < r->hi[i]) {
            r->n[i]++;
        }
    }
}

/*
 * Ring traffic per batch: the driver's available index is read once for
 * everything one doorbell brings, the available entries in one read, an
 * indirect table with one read, whatever its length; the completions due
 * at one instant write their used elements, then the used index once.
 */
static void test_ring_reads(void)
{
    static const uint8_t tur[6] = {0};
    RingReads rr = {0};
    BndHook hook = {
        .name = "ring-reads", .after = ring_read_after, .opaque = &rr};
    VDrvIo io[8];
    VDrvQueue *vq;
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vq = &t.d->q[Q_REQ];
    for (unsigned i = 0; i < 8; i++) {
        vdrv_io_init(&io[i], VDRV_LAYOUT_INDIRECT, 0, 0, i, tur, 6, 0, false, 0,
                     0);
        vdrv_io_submit(t.d, Q_REQ, &io[i]);
    }
    /* Range 0: the available index; 1-8: each command's indirect table;
     * 9: the available ring's entries. */
    rr.lo[0] = vq->avail + 2;
    rr.hi[0] = vq->avail + 4;
    for (unsigned i = 0; i < 8; i++) {
        uint64_t table = vq->indirect[io[i].head];
        /* The ring descriptor's length is the table's. */
        uint32_t tlen = pci_get_long(vq->desc_p + 16 * io[i].head + 8);

        g_assert_cmpuint(table, !=, 0);
        g_assert_cmpuint(tlen, >=, 2 * 16); /* request and response */
        rr.lo[i + 1] = table;
        rr.hi[i + 1] = table + tlen;
    }
    rr.lo[9] = vq->avail + VIRTQ_AVAIL_RING(0);
    rr.hi[9] = vq->avail + VIRTQ_AVAIL_RING(vq->size);
    rr.nranges = 10;
    rr.used_idx = vq->used + VIRTQ_USED_IDX;
    rr.used_ring_lo = vq->used + VIRTQ_USED_RING(0);
    rr.used_ring_hi = vq->used + VIRTQ_USED_RING(vq->size);
    g_assert_true(bnd_hook_add(&hook));
    vdrv_notify(t.d, Q_REQ);
    run_fetch(&t);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 8);
    g_assert_cmpuint(rr.n[0], ==, 1);
    for (unsigned i = 1; i <= 8; i++) {
        g_assert_cmpuint(rr.n[i], ==, 1);
    }
    g_assert_cmpuint(rr.n[9], ==, 1);
    vdrv_run();
    bnd_hook_remove(&hook);
    g_assert_cmpuint(rr.used_elem_writes_before, ==, 8);
    g_assert_cmpuint(rr.used_idx_writes, ==, 1);
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 8);
    for (unsigned i = 0; i < 8; i++) {
        VDrvResp r;
        uint32_t id, len;

        g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
        vdrv_io_resp(&io[i], &r);
        g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
        g_assert_cmpuint(r.status, ==, 0);
    }
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

/*
 * Submit @n TEST UNIT READYs with one doorbell; all are taken, in order,
 * with @reads reads of the available ring.
 */
static void check_avail_batch(T *t, unsigned n, unsigned reads)
{
    static const uint8_t tur[6] = {0};
    RingReads rr = {0};
    BndHook hook = {
        .name = "ring-reads", .after = ring_read_after, .opaque = &rr};
    VDrvQueue *vq = &t->d->q[Q_REQ];
    VDrvIo *io = g_new0(VDrvIo, n);
    uint16_t start = vq->avail_idx;

    for (unsigned i = 0; i < n; i++) {
        vdrv_io_init(&io[i], VDRV_LAYOUT_SIMPLE, 0, 0, i, tur, 6, 0, false, 0,
                     0);
        vdrv_io_submit(t->d, Q_REQ, &io[i]);
    }
    rr.lo[0] = vq->avail + VIRTQ_AVAIL_RING(0);
    rr.hi[0] = vq->avail + VIRTQ_AVAIL_RING(vq->size);
    rr.nranges = 1;
    g_assert_true(bnd_hook_add(&hook));
    vdrv_notify(t->d, Q_REQ);
    vdrv_run();
    bnd_hook_remove(&hook);
    g_assert_cmpuint(rr.n[0], ==, reads);
    g_assert_cmpuint(vdrv_used_pending(t->d, Q_REQ), ==, n);
    for (unsigned i = 0; i < n; i++) {
        uint32_t id, len;

        g_assert_true(vdrv_get_used(t->d, Q_REQ, &id, &len));
        g_assert_cmpuint(id, ==, io[i].head);
    }
    g_assert_cmpuint((uint16_t)(vq->avail_idx - start), ==, n);
    g_assert_cmpuint(errors(t), ==, 0);
    g_free(io);
}

/*
 * A batch that runs past the end of the available ring, and one longer
 * than the device reads ahead at once: every entry is taken, in order,
 * with one read per piece.
 */
static void test_avail_wrap(void)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    VDrvQueue *vq;
    T t;

    p.id = "vscsi0";
    p.queue_size = 16;
    t_start_props(&t, &p, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vq = &t.d->q[Q_REQ];
    g_assert_cmpuint(vq->size, ==, 16);
    while (vq->avail_idx % 16 != 13) {
        run_tur(&t, 100 + vq->avail_idx);
    }
    check_avail_batch(&t, 6, 2); /* slots 13..15, then 0..2 */
    t_stop(&t);

    /* 100 entries in a 256-entry ring: read ahead 64, then 36. */
    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    check_avail_batch(&t, 100, 2);
    t_stop(&t);
}

static void test_doorbell_schedules(void)
{
    static const uint8_t tur[6] = {0};
    uint64_t t0;
    VDrvIo io;
    T t;

    t_start(&t, all_features, true);
    g_assert_cmpuint(t.fetch_ns, ==, VSCSI_FETCH_DELAY_DEFAULT_NS);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
    vdrv_io_submit(t.d, Q_REQ, &io);
    g_assert_cmpuint(event_queued(), ==, 0);
    /* The doorbell acts when it is written; its cost is charged after. */
    t0 = vclock_now();
    vdrv_notify(t.d, Q_REQ);
    /* The write only queued the work, fetch_delay ahead. */
    g_assert_cmpuint(event_queued(), ==, 1);
    g_assert_cmpuint(event_deadline, ==, t0 + t.fetch_ns);
    vdrv_run_now();
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    g_assert_cmpuint(t.disk->commands, ==, 0);
    vdrv_run_for(t0 + t.fetch_ns - 1 - vclock_now());
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 0);
    vdrv_run_for(1);
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 1);
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 0);
    vdrv_run();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 1);
    t_stop(&t);
}

/*
 * What the driver makes available between a doorbell and the fetch goes
 * in the same batch: the device leaves avail_event where it was (so an
 * EVENT_IDX driver does not ring again), a doorbell rung anyway does not
 * move the fetch, and the batch completes under one interrupt.
 */
static void test_fetch_window(void)
{
    const unsigned vec = VEC_BASE + Q_REQ + 1;
    static const uint8_t tur[6] = {0};
    uint16_t event_before;
    uint64_t fetch_at;
    VDrvIo io[4];
    T t;

    t_start(&t, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vdrv_irq_log_clear();
    event_before = vdrv_avail_event(t.d, Q_REQ);
    g_assert_cmpuint(event_before, ==, t.d->q[Q_REQ].avail_idx);
    vdrv_io_init(&io[0], VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
    vdrv_io_submit(t.d, Q_REQ, &io[0]);
    fetch_at = vclock_now() + t.fetch_ns;
    vdrv_notify(t.d, Q_REQ);
    vdrv_run_for(t.fetch_ns / 2);
    for (unsigned i = 1; i < 4; i++) {
        vdrv_io_init(&io[i], VDRV_LAYOUT_SIMPLE, 0, 0, 1 + i, tur, 6, 0, false,
                     0, 0);
        vdrv_io_submit(t.d, Q_REQ, &io[i]);
        /* 2.7.10: avail_event lies before the new entries: no doorbell. */
        g_assert_cmpuint(vdrv_avail_event(t.d, Q_REQ), ==, event_before);
    }
    vdrv_notify(t.d, Q_REQ);
    g_assert_cmpuint(event_queued(), ==, 1);
    g_assert_cmpuint(event_deadline, ==, fetch_at);
    vdrv_run_for(fetch_at - vclock_now());
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, 4);
    g_assert_cmpuint(vdrv_avail_event(t.d, Q_REQ), ==, t.d->q[Q_REQ].avail_idx);
    vdrv_run();
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 4);
    g_assert_cmpuint(vdrv_irqs.msi[vec], ==, 1);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

static void check_latency(uint64_t latency_ns, uint64_t fetch_ns)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    static const uint8_t tur[6] = {0};
    uint64_t t0, t_used = 0;
    VDrvIo io;
    T t;

    p.id = "vscsi0";
    p.latency_ns = latency_ns;
    p.fetch_delay_ns = fetch_ns;
    t_start_props(&t, &p, all_features, true);
    vdrv_clear_ua(t.d, Q_REQ, 0, 0);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 1, tur, 6, 0, false, 0, 0);
    vdrv_io_submit(t.d, Q_REQ, &io);
    t0 = vclock_now();
    vdrv_notify(t.d, Q_REQ);
    vdrv_run_now();
    g_assert_cmpuint(virtio_scsi_in_flight(t.fx.s), ==, fetch_ns ? 0 : 1);
    while (!vdrv_used_pending(t.d, Q_REQ) && event_advance_to_next()) {
        t_used = vclock_now();
        vdrv_run_now();
    }
    g_assert_cmpuint(vdrv_used_pending(t.d, Q_REQ), ==, 1);
    /* The fetch (work due at the doorbell runs once the doorbell's own
     * cost is charged), the target's service time, the device's own
     * overhead. */
    g_assert_cmpuint(t_used - t0, ==,
                     MAX(fetch_ns, BND_MMIO_WRITE_NS) +
                         SCSI_DEFAULT_SERVICE_NS + latency_ns);
    t_stop(&t);
}

static void test_latency(void)
{
    check_latency(0, 0);
    check_latency(VSCSI_LATENCY_DEFAULT_NS, VSCSI_FETCH_DELAY_DEFAULT_NS);
    check_latency(7 * NS_PER_US, 0);
    check_latency(0, 3 * NS_PER_US);
}

/* ---- with the real target ------------------------------------------------ */

/* scsi-hd behind the HBA: data moves between the image and the guest's
 * buffers through the HBA's scatter-gather lists. */
static void test_scsi_hd(void)
{
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    static const uint8_t inq[6] = {SCSI_OP_INQUIRY, 0, 0, 0, 96, 0};
    uint8_t cdb[10] = {SCSI_OP_READ_CAPACITY_10};
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    SCSIDiskState *hd;
    VDrvIo io;
    VDrvResp r;
    T t;

    t_start(&t, all_features, true);
    blk = blk_new_temp(1 << 20, 0, &err);
    g_assert_no_error(err);
    hd = scsi_disk_new(virtio_scsi_bus(t.fx.s), 2, 0, blk, &props, &err);
    g_assert_no_error(err);
    g_assert_nonnull(hd);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 2, 0, 1, inq, 6, 96, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmphex(vdrv_io_data(&io)[0] & 0x1f, ==, 0);
    vdrv_clear_ua(t.d, Q_REQ, 2, 0);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 2, 0, 2, cdb, 10, 8, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(scsi_be32(vdrv_io_data(&io)), ==, 2047);
    g_assert_cmpuint(scsi_be32(vdrv_io_data(&io) + 4), ==, 512);
    /* Write 33 blocks in 33 segments, read them back in 2. */
    for (unsigned pass = 0; pass < 2; pass++) {
        VDrvIo w;

        cdb_rw10(cdb, pass ? SCSI_OP_READ_10 : SCSI_OP_WRITE_10, 300, 33);
        vdrv_io_init(&w, pass ? VDRV_LAYOUT_SPLIT : VDRV_LAYOUT_MANY, 2, 0,
                     10 + pass, cdb, 10, 33 * 512, !pass, 0, 0);
        w.nseg = 33;
        if (!pass) {
            for (unsigned i = 0; i < 33 * 512; i++) {
                vdrv_io_data(&w)[i] = (uint8_t)(i * 13 + 1);
            }
            io = w;
        }
        g_assert_cmpuint(vdrv_io_run(t.d, Q_REQ, &w, &r), ==,
                         108 + (pass ? 33 * 512 : 0));
        g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
        g_assert_cmpuint(r.status, ==, SCSI_STATUS_GOOD);
        if (pass) {
            g_assert_cmpmem(vdrv_io_data(&w), 33 * 512, vdrv_io_data(&io),
                            33 * 512);
        }
    }
    /* Past the end: CHECK CONDITION with sense from the real target. */
    cdb_rw10(cdb, SCSI_OP_READ_10, 2048, 1);
    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 2, 0, 12, cdb, 10, 512, false, 0, 0);
    vdrv_io_run(t.d, Q_REQ, &io, &r);
    g_assert_cmpuint(r.status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmpuint(r.sense_len, >=, 8);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
    blk_close(blk);
    aio_shutdown();
}

/* ---- creation ------------------------------------------------------------ */

static void test_create_errors(void)
{
    static const struct {
        const char *id;
        unsigned nq, qs;
    } bad[] = {
        {"x", 0, 256},  {"x", 17, 256}, {"x", 1, 3},
        {"x", 1, 2048}, {"x", 1, 1},    {NULL, 1, 256},
    };
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    g_autoptr(GError) err = NULL;
    VirtioScsiState *a;
    VDrvFixture fx;

    p.id = "hba0";
    vdrv_fx_init(&fx, &p);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        VirtioScsiProps b = VIRTIO_SCSI_PROPS_DEFAULT;

        b.id = bad[i].id;
        b.num_queues = bad[i].nq;
        b.queue_size = bad[i].qs;
        g_assert_null(virtio_scsi_new(&b, &err));
        g_assert_nonnull(err);
        g_clear_error(&err);
    }
    /* The bus name is the id: two HBAs cannot share it. */
    g_assert_null(virtio_scsi_new(&p, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_true(virtio_scsi_find("hba0") == fx.s);
    p.id = "hba1";
    a = virtio_scsi_new(&p, &err);
    g_assert_no_error(err);
    g_assert_true(virtio_scsi_find("hba1") == a);
    g_assert_true(scsi_bus_find("hba1.0") == virtio_scsi_bus(a));
    virtio_scsi_free(a);
    g_assert_null(virtio_scsi_find("hba1"));
    vdrv_fx_fini(&fx);
}

static void test_create_device(void)
{
    const DeviceType *dt = qdev_find("virtio-scsi-pci");
    g_autoptr(MachineConfig) cfg = machine_config_new();
    g_autoptr(GError) err = NULL;
    VirtioScsiState *s;
    VDrv d;
    Opts *o;

    g_assert_nonnull(dt);
    g_assert_true(qdev_set_create("virtio-scsi-pci", virtio_scsi_pci_create));
    o = opts_parse(dt->schema,
                   "virtio-scsi-pci,id=hba0,num_queues=4,"
                   "queue_size=64,msix=off,latency=3us",
                   &err);
    g_assert_no_error(err);
    g_ptr_array_add(cfg->devices, o);
    o = opts_parse(dt->schema, "virtio-scsi-pci", &err);
    g_assert_no_error(err);
    g_ptr_array_add(cfg->devices, o);
    g_assert_true(machine_init(cfg, &err));
    g_assert_no_error(err);
    s = virtio_scsi_find("hba0");
    g_assert_nonnull(s);
    g_assert_nonnull(virtio_scsi_find("virtio-scsi0"));
    g_assert_true(scsi_bus_find("hba0") == virtio_scsi_bus(s));
    g_assert_true(virtio_scsi_pci(s)->bus == machine_pci_bus());
    g_assert_true(vdrv_probe(&d, virtio_scsi_pci(s)));
    g_assert_cmpuint(vdrv_device_read(&d, VIRTIO_SCSI_CFG_NUM_QUEUES, 4), ==,
                     4);
    g_assert_cmpuint(vdrv_common_read(&d, VIRTIO_PCI_COMMON_NUMQ, 2), ==, 6);
    vdrv_common_write(&d, VIRTIO_PCI_COMMON_Q_SELECT, 5, 2);
    g_assert_cmpuint(vdrv_common_read(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), ==, 64);
    g_assert_cmpuint(d.cap_msix, ==, 0);
    vdrv_fini(&d);
    machine_fini();
    g_assert_null(virtio_scsi_find("hba0"));
    g_assert_null(scsi_bus_find("hba0"));
    qdev_set_create("virtio-scsi-pci", NULL);
}

int main(int argc, char **argv)
{
    FILE *sink;

    g_test_init(&argc, &argv, NULL);
    /* Every trace point on, into the void: the formatting paths run. */
    sink = fopen("/dev/null", "w");
    g_assert_nonnull(sink);
    trace_set_output(sink);
    g_assert_true(trace_enable("*", NULL));

    g_test_add_func("/virtio-scsi/pci/identity", test_identity);
    g_test_add_func("/virtio-scsi/pci/capabilities", test_capabilities);
    g_test_add_func("/virtio-scsi/pci/cfg-window", test_cfg_window);
    g_test_add_func("/virtio-scsi/init/handshake", test_handshake);
    for (unsigned i = 0; i < G_N_ELEMENTS(feature_cases); i++) {
        g_autofree char *path = g_strdup_printf("/virtio-scsi/init/features/%s",
                                                feature_cases[i].name);
        g_test_add_data_func(path, &feature_cases[i], test_features);
    }
    g_test_add_func("/virtio-scsi/init/status-order", test_status_order);
    g_test_add_func("/virtio-scsi/queue/setup", test_queue_setup);
    g_test_add_func("/virtio-scsi/queue/reset", test_queue_reset);
    for (unsigned i = 0; i < G_N_ELEMENTS(io_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/virtio-scsi/io/%s", io_cases[i].name);
        g_test_add_data_func(path, &io_cases[i], test_io);
    }
    g_test_add_func("/virtio-scsi/io/sense", test_sense);
    g_test_add_func("/virtio-scsi/io/residual-overrun", test_residual_overrun);
    g_test_add_func("/virtio-scsi/io/addressing", test_addressing);
    g_test_add_func("/virtio-scsi/io/bidirectional", test_bidirectional);
    g_test_add_func("/virtio-scsi/io/cdb-size", test_cdb_size);
    g_test_add_func("/virtio-scsi/tmf/abort-task", test_tmf_abort);
    for (unsigned i = 0; i < G_N_ELEMENTS(tmf_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/virtio-scsi/tmf/%s", tmf_cases[i].name);
        g_test_add_data_func(path, &tmf_cases[i], test_tmf);
    }
    g_test_add_func("/virtio-scsi/tmf/query-and-addressing",
                    test_tmf_query_and_addressing);
    g_test_add_func("/virtio-scsi/an", test_an);
    g_test_add_func("/virtio-scsi/events/hotplug", test_events_hotplug);
    g_test_add_func("/virtio-scsi/events/missed", test_events_missed);
    g_test_add_func("/virtio-scsi/reset/in-flight", test_reset_in_flight);
    g_test_add_func("/virtio-scsi/reset/latency-stage",
                    test_reset_latency_stage);
    g_test_add_data_func("/virtio-scsi/irq/intx", GINT_TO_POINTER(false),
                         test_intx);
    g_test_add_data_func("/virtio-scsi/irq/intx-msix-disabled",
                         GINT_TO_POINTER(true), test_intx);
    g_test_add_func("/virtio-scsi/irq/msix", test_msix);
    g_test_add_func("/virtio-scsi/irq/msix-off-vectors", test_msix_off_vectors);
    g_test_add_func("/virtio-scsi/irq/suppression", test_suppression);
    g_test_add_func("/virtio-scsi/irq/batching", test_batching);
    g_test_add_func("/virtio-scsi/doorbell-schedules", test_doorbell_schedules);
    g_test_add_func("/virtio-scsi/fetch-window", test_fetch_window);
    g_test_add_func("/virtio-scsi/avail-wrap", test_avail_wrap);
    g_test_add_func("/virtio-scsi/tmf/abort-held", test_tmf_abort_held);
    g_test_add_func("/virtio-scsi/latency/held-bus-master",
                    test_held_bus_master);
    g_test_add_func("/virtio-scsi/tmf/abort-held-order",
                    test_tmf_abort_held_order);
    g_test_add_func("/virtio-scsi/ring-reads", test_ring_reads);
    g_test_add_func("/virtio-scsi/ring-quiet", test_ring_quiet);
    g_test_add_func("/virtio-scsi/latency", test_latency);
    g_test_add_func("/virtio-scsi/scsi-hd", test_scsi_hd);
    g_test_add_func("/virtio-scsi/create/errors", test_create_errors);
    g_test_add_func("/virtio-scsi/create/device", test_create_device);
    return g_test_run();
}
