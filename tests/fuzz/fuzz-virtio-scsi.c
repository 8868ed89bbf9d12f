/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for virtio-scsi-pci: each input is a small program of
 * driver actions (register reads and writes in every structure, config
 * space writes including the access window and MSI-X, doorbells, raw
 * descriptor, available-ring and guest-RAM writes, well-formed requests
 * and control messages, hot-plug events, and running the event loop)
 * against a fresh machine with the device and a small disk. It checks
 * that nothing crashes or touches memory it should not (ASan/UBSan), and
 * that once the event loop has drained no command is left in flight.
 *
 * Build: make fuzz (clang, -fsanitize=fuzzer,address,undefined).
 * Run:   build/fuzz/fuzz-virtio-scsi tests/fuzz/corpus/virtio-scsi/
 * FUZZ_TRACE=1 in the environment turns every trace point on (into
 * /dev/null) so the formatting paths run too; FUZZ_TRACE=stderr shows
 * them (to check what a corpus entry reaches).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "hw/core/irqchip.h"
#include "hw/core/memory.h"
#include "hw/core/pci.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-bus.h"
#include "hw/scsi/scsi-defs.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "hw/virtio-scsi/virtio-scsi.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/event.h"
#include "system/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_RAM       (8ULL << 20)
#define FZ_RINGS     (1ULL << 20) /* queue q's rings at + q * 64 KiB */
#define FZ_RING_SPAN 0x10000ULL
#define FZ_DATA      (2ULL << 20) /* buffers the fuzzer points at */
#define FZ_DATA_SIZE (1ULL << 20)
#define FZ_QUEUES    4
#define FZ_OPS_MAX   256
#define FZ_BLOCKS    64

/* ---- a small disk -------------------------------------------------------- */

typedef struct FzDisk {
    SCSIDevice dev;
    uint8_t data[FZ_BLOCKS * 512];
} FzDisk;

static void fzdisk_submit(SCSIDevice *dev, SCSIRequest *req)
{
    FzDisk *d = (FzDisk *)dev;
    uint64_t bytes = 0;

    switch (req->cdb[0]) {
    case SCSI_OP_TEST_UNIT_READY:
        break;
    case SCSI_OP_INQUIRY: {
        uint8_t *buf = g_malloc0(36);
        buf[4] = 31;
        scsi_req_set_data_in(req, buf, MIN(36u, scsi_be16(req->cdb + 3)));
        break;
    }
    case SCSI_OP_READ_10:
    case SCSI_OP_WRITE_10: {
        uint64_t lba = scsi_be32(req->cdb + 2), n = scsi_be16(req->cdb + 7);

        if (lba + n > FZ_BLOCKS) {
            scsi_req_check_condition(req, SENSE_LBA_OUT_OF_RANGE);
            break;
        }
        bytes = n * 512;
        if (req->cdb[0] == SCSI_OP_READ_10) {
            scsi_req_set_data_in(req, g_memdup2(d->data + lba * 512, bytes),
                                 bytes);
        } else if (scsi_req_data_out_ok(req, bytes)) {
            scsi_req_read_data_out(req, d->data + lba * 512, bytes);
        }
        break;
    }
    case SCSI_OP_MODE_SELECT_6:
        if (req->cdb[4] && scsi_req_data_out_ok(req, req->cdb[4])) {
            uint8_t param[255];
            scsi_req_read_data_out(req, param, req->cdb[4]);
        }
        break;
    default:
        scsi_req_check_condition(req, SENSE_INVALID_OPCODE);
        break;
    }
    scsi_req_schedule(req, bytes);
}

static void fzdisk_finish(SCSIDevice *dev, SCSIRequest *req)
{
}

static void fzdisk_destroy(SCSIDevice *dev)
{
    g_free(dev);
}

static const SCSIDeviceOps fzdisk_ops = {
    .type = "fuzz-disk",
    .submit = fzdisk_submit,
    .finish = fzdisk_finish,
    .destroy = fzdisk_destroy,
};

/* ---- input --------------------------------------------------------------- */

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

static uint64_t take(Input *in, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        uint8_t b = 0;

        if (in->left) {
            b = *in->p++;
            in->left--;
        }
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}

/* ---- the machine --------------------------------------------------------- */

typedef struct FzQueue {
    uint16_t size;
    uint16_t avail_idx;
    uint16_t next_desc;
} FzQueue;

typedef struct Fz {
    PCIBusState *bus;
    VirtioScsiState *s;
    PCIDevice *pci;
    uint64_t bar;  /* BAR 4 */
    uint64_t msix; /* BAR 1 */
    FzQueue q[FZ_QUEUES];
    uint64_t data_next;
} Fz;

static uint8_t *ring_ptr(unsigned q, uint64_t off)
{
    return ram_ptr(FZ_RINGS + q * FZ_RING_SPAN + off, 1);
}

static uint64_t ring_gpa(unsigned q, uint64_t off)
{
    return FZ_RINGS + q * FZ_RING_SPAN + off;
}

#define RING_DESC  0x0000
#define RING_AVAIL 0x4000
#define RING_USED  0x6000

static void common_write(Fz *f, unsigned off, uint64_t v, unsigned size)
{
    bnd_mmio_write(f->bar + VSCSI_COMMON_OFF + off, v, size);
}

static uint64_t common_read(Fz *f, unsigned off, unsigned size)
{
    return bnd_mmio_read(f->bar + VSCSI_COMMON_OFF + off, size);
}

static void run_events(unsigned mode)
{
    unsigned guard = 0;

    while (event_run_due() && ++guard < 100000) {
    }
    if (mode == 1) {
        if (event_advance_to_next()) {
            event_run_due();
        }
    } else if (mode >= 2) {
        while (guard++ < 100000 && event_advance_to_next()) {
            while (event_run_due() && ++guard < 100000) {
            }
        }
    }
}

/* The usual init, with the rings at fixed places. */
static void op_setup(Fz *f, Input *in)
{
    uint8_t flags = (uint8_t)take(in, 1);
    unsigned lg = take(in, 1) % 11;
    uint16_t qs = (uint16_t)(lg ? 1u << lg : 256);
    uint64_t features = VIRTIO_FEATURE(VIRTIO_F_VERSION_1);

    if (flags & 1) {
        features |= VIRTIO_FEATURE(VIRTIO_F_INDIRECT_DESC);
    }
    if (flags & 2) {
        features |= VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX);
    }
    if (flags & 4) {
        features |= VIRTIO_FEATURE(VIRTIO_SCSI_F_HOTPLUG) |
                    VIRTIO_FEATURE(VIRTIO_SCSI_F_CHANGE);
    }
    if (flags & 8) {
        features |= VIRTIO_FEATURE(VIRTIO_F_RING_RESET);
    }
    if (flags & 0x80) {
        /* Something the device refuses. */
        features |= take(in, 8);
    }
    common_write(f, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    common_write(f, VIRTIO_PCI_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
    common_write(f, VIRTIO_PCI_COMMON_STATUS,
                 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    common_write(f, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    common_write(f, VIRTIO_PCI_COMMON_GF, (uint32_t)features, 4);
    common_write(f, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    common_write(f, VIRTIO_PCI_COMMON_GF, features >> 32, 4);
    common_write(f, VIRTIO_PCI_COMMON_STATUS,
                 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                     VIRTIO_STATUS_FEATURES_OK,
                 1);
    if (flags & 0x10) {
        uint8_t cap = pci_find_capability(f->pci, PCI_CAP_ID_MSIX);

        pci_config_write(f->pci, cap + PCI_MSIX_CTRL, PCI_MSIX_CTRL_ENABLE, 2);
        for (unsigned e = 0; e < FZ_QUEUES; e++) {
            uint64_t ent = f->msix + VSCSI_MSIX_TABLE_OFF + 16 * e;

            bnd_mmio_write(ent, irqchip_msi_address(0), 4);
            bnd_mmio_write(ent + 8, 0x40 + e, 4);
            bnd_mmio_write(ent + 12, (flags & 0x20) && e == 3, 4);
        }
        common_write(f, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    }
    for (unsigned q = 0; q < 3; q++) {
        memset(ring_ptr(q, 0), 0, FZ_RING_SPAN);
        common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        common_write(f, VIRTIO_PCI_COMMON_Q_SIZE, qs, 2);
        f->q[q].size = (uint16_t)common_read(f, VIRTIO_PCI_COMMON_Q_SIZE, 2);
        f->q[q].avail_idx = 0;
        f->q[q].next_desc = 0;
        common_write(f, VIRTIO_PCI_COMMON_Q_DESCLO, ring_gpa(q, RING_DESC), 8);
        common_write(f, VIRTIO_PCI_COMMON_Q_AVAILLO, ring_gpa(q, RING_AVAIL),
                     8);
        common_write(f, VIRTIO_PCI_COMMON_Q_USEDLO, ring_gpa(q, RING_USED), 8);
        common_write(f, VIRTIO_PCI_COMMON_Q_MSIX, q + 1, 2);
        common_write(f, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    }
    common_write(f, VIRTIO_PCI_COMMON_STATUS,
                 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK,
                 1);
}

static uint64_t region_base(Fz *f, unsigned r)
{
    static const uint64_t off[] = {VSCSI_COMMON_OFF, VSCSI_ISR_OFF,
                                   VSCSI_DEVICE_OFF, VSCSI_NOTIFY_OFF};
    return f->bar + off[r % 4];
}

static void put_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint8_t *p = ring_ptr(q, RING_DESC + 16 * (uint64_t)(i % 1024));

    pci_set_quad(p, addr);
    pci_set_long(p + 8, len);
    pci_set_word(p + 12, flags);
    pci_set_word(p + 14, next);
}

static void publish(Fz *f, unsigned q, uint16_t head)
{
    FzQueue *fq = &f->q[q % FZ_QUEUES];
    uint16_t qs = fq->size ? fq->size : 256;

    pci_set_word(ring_ptr(q, RING_AVAIL + VIRTQ_AVAIL_RING(fq->avail_idx % qs)),
                 head);
    fq->avail_idx++;
    pci_set_word(ring_ptr(q, RING_AVAIL + VIRTQ_AVAIL_IDX), fq->avail_idx);
}

static uint64_t data_alloc(Fz *f, uint32_t len)
{
    uint64_t a;

    if (f->data_next + len > FZ_DATA_SIZE) {
        f->data_next = 0;
    }
    a = FZ_DATA + f->data_next;
    f->data_next += (len + 15) & ~15u;
    return a;
}

static uint16_t next_desc(Fz *f, unsigned q)
{
    FzQueue *fq = &f->q[q];
    uint16_t qs = fq->size ? fq->size : 256;
    uint16_t i = fq->next_desc % qs;

    fq->next_desc++;
    return i;
}

/* A well-formed command: header, data, response, in @layout. */
static void op_request(Fz *f, Input *in)
{
    unsigned q = 2;
    uint8_t layout = (uint8_t)take(in, 1);
    uint16_t dlen = (uint16_t)(take(in, 2) % 8192);
    uint64_t req = data_alloc(f, 51), resp = data_alloc(f, 108);
    uint64_t dat = data_alloc(f, dlen);
    bool out = layout & 1;
    uint8_t *h = ram_ptr(req, 51);
    uint16_t d[4];
    unsigned n = 0;

    memset(h, 0, 51);
    h[0] = 1;
    h[1] = (uint8_t)take(in, 1) & 3;
    h[2] = 0x40;
    h[3] = (uint8_t)take(in, 1) & 3;
    pci_set_quad(h + 8, take(in, 2));
    h[16] = (uint8_t)take(in, 1) & 3;
    for (unsigned i = 0; i < 16; i++) {
        h[19 + i] = (uint8_t)take(in, 1);
    }
    if (layout & 2) {
        /* Through an indirect table. */
        uint64_t table = data_alloc(f, 64);
        uint8_t *t = ram_ptr(table, 64);
        unsigned k = 0;
        struct {
            uint64_t a;
            uint32_t l;
            uint16_t w;
        } b[3];

        b[k++] = (typeof(b[0])){req, 51, 0};
        if (dlen && out) {
            b[k++] = (typeof(b[0])){dat, dlen, 0};
        }
        b[k++] = (typeof(b[0])){resp, 108, VIRTQ_DESC_F_WRITE};
        if (dlen && !out) {
            b[k++] = (typeof(b[0])){dat, dlen, VIRTQ_DESC_F_WRITE};
        }
        for (unsigned i = 0; i < k; i++) {
            pci_set_quad(t + 16 * i, b[i].a);
            pci_set_long(t + 16 * i + 8, b[i].l);
            pci_set_word(t + 16 * i + 12,
                         b[i].w | (i + 1 < k ? VIRTQ_DESC_F_NEXT : 0));
            pci_set_word(t + 16 * i + 14, (uint16_t)(i + 1));
        }
        d[0] = next_desc(f, q);
        put_desc(q, d[0], table, 16 * k, VIRTQ_DESC_F_INDIRECT, 0);
        publish(f, q, d[0]);
        return;
    }
    for (unsigned i = 0; i < 4; i++) {
        d[i] = next_desc(f, q);
    }
    put_desc(q, d[n], req, 51, VIRTQ_DESC_F_NEXT, d[n + 1]);
    n++;
    if (dlen && out) {
        put_desc(q, d[n], dat, dlen, VIRTQ_DESC_F_NEXT, d[n + 1]);
        n++;
    }
    put_desc(q, d[n], resp, 108,
             VIRTQ_DESC_F_WRITE | (dlen && !out ? VIRTQ_DESC_F_NEXT : 0),
             d[n + 1]);
    n++;
    if (dlen && !out) {
        put_desc(q, d[n], dat, dlen, VIRTQ_DESC_F_WRITE, 0);
    }
    publish(f, q, d[0]);
}

static void op_control(Fz *f, Input *in)
{
    uint64_t req = data_alloc(f, 24), resp = data_alloc(f, 8);
    uint8_t *p = ram_ptr(req, 24);
    uint16_t d0 = next_desc(f, 0), d1 = next_desc(f, 0);
    uint32_t type = take(in, 1) % 4;

    pci_set_long(p, type);
    pci_set_long(p + 4, take(in, 1) % 9);
    p[8] = 1;
    p[9] = (uint8_t)take(in, 1) & 3;
    p[10] = 0x40;
    p[11] = (uint8_t)take(in, 1) & 3;
    memset(p + 12, 0, 4);
    pci_set_quad(p + 16, take(in, 2));
    if (type != VIRTIO_SCSI_T_TMF) {
        /* AN: lun at 4, event_requested at 12. */
        memmove(p + 4, p + 8, 8);
        pci_set_long(p + 12, 0x7e);
    }
    put_desc(0, d0, req, type == VIRTIO_SCSI_T_TMF ? 24 : 16, VIRTQ_DESC_F_NEXT,
             d1);
    put_desc(0, d1, resp, type == VIRTIO_SCSI_T_TMF ? 1 : 5, VIRTQ_DESC_F_WRITE,
             0);
    publish(f, 0, d0);
}

static void op_event_buffer(Fz *f, Input *in)
{
    uint64_t buf = data_alloc(f, 32);
    uint16_t d0 = next_desc(f, 1);
    uint8_t len = (uint8_t)take(in, 1) % 33;

    put_desc(1, d0, buf, len, VIRTQ_DESC_F_WRITE, 0);
    publish(f, 1, d0);
}

static void execute(Fz *f, Input *in)
{
    for (unsigned n = 0; in->left && n < FZ_OPS_MAX; n++) {
        uint8_t op = (uint8_t)take(in, 1);

        switch (op % 16) {
        case 0:
            op_setup(f, in);
            break;
        case 1: {
            uint64_t base = region_base(f, (unsigned)take(in, 1));
            unsigned off = (unsigned)take(in, 2) & 0xfff;
            unsigned sz = 1u << (take(in, 1) & 3);
            bnd_mmio_write(base + (off & ~(sz - 1)), take(in, 8), sz);
            break;
        }
        case 2: {
            uint64_t base = region_base(f, (unsigned)take(in, 1));
            unsigned off = (unsigned)take(in, 2) & 0xfff;
            unsigned sz = 1u << (take(in, 1) & 3);
            bnd_mmio_read(base + (off & ~(sz - 1)), sz);
            break;
        }
        case 3: {
            unsigned q = (unsigned)take(in, 1) % FZ_QUEUES;
            bnd_mmio_write(
                f->bar + VSCSI_NOTIFY_OFF + q * VSCSI_NOTIFY_MULTIPLIER, q, 2);
            break;
        }
        case 4: {
            unsigned q = (unsigned)take(in, 1) % 3;
            uint16_t i = (uint16_t)take(in, 2);
            uint8_t sel = (uint8_t)take(in, 1);
            uint64_t addr = take(in, 8);
            uint32_t len = (uint32_t)take(in, 4);
            uint16_t flags = (uint16_t)take(in, 2);
            uint16_t next = (uint16_t)take(in, 2);

            if (sel & 1) {
                addr = FZ_DATA + addr % FZ_DATA_SIZE;
                len %= 0x4000;
            }
            put_desc(q, i, addr, len, flags, next);
            break;
        }
        case 5: {
            unsigned q = (unsigned)take(in, 1) % 3;
            publish(f, q, (uint16_t)take(in, 2));
            break;
        }
        case 6: {
            unsigned q = (unsigned)take(in, 1) % 3;
            uint16_t idx = (uint16_t)take(in, 2);
            f->q[q].avail_idx = idx;
            pci_set_word(ring_ptr(q, RING_AVAIL + VIRTQ_AVAIL_IDX), idx);
            break;
        }
        case 7: {
            uint64_t off =
                take(in, 3) % (FZ_DATA + FZ_DATA_SIZE - FZ_RINGS - 256);
            unsigned len = (unsigned)take(in, 1);
            uint8_t *p = ram_ptr(FZ_RINGS + off, len ? len : 1);
            for (unsigned i = 0; i < len; i++) {
                p[i] = (uint8_t)take(in, 1);
            }
            break;
        }
        case 8:
            run_events((unsigned)take(in, 1) % 3);
            break;
        case 9: {
            unsigned off = (unsigned)take(in, 1);
            unsigned sz = 1u << (take(in, 1) % 3);
            uint32_t v = (uint32_t)take(in, 4);
            /* Keep the BARs and decode where they are. */
            if (off >= PCI_CFG_HEADER_SIZE) {
                pci_config_write(f->pci, off & ~(sz - 1), v, sz);
            }
            break;
        }
        case 10: {
            uint32_t t = (uint32_t)take(in, 1) & 3, l = (uint32_t)take(in, 1);
            uint8_t what = (uint8_t)take(in, 1);
            if (what & 2) {
                virtio_scsi_param_change(f->s, t, l, 0x2a, 0x09);
            } else {
                virtio_scsi_hotplug(f->s, t, l, what & 1);
            }
            break;
        }
        case 11:
            op_request(f, in);
            break;
        case 12:
            op_control(f, in);
            break;
        case 13:
            op_event_buffer(f, in);
            break;
        case 14: {
            unsigned off = (unsigned)take(in, 1) % 0x28;
            unsigned sz = 1u << (take(in, 1) % 3);
            bnd_mmio_write(f->bar + VSCSI_DEVICE_OFF + (off & ~(sz - 1)),
                           take(in, 4), sz);
            break;
        }
        case 15: {
            /* Enable, or not, bus mastering (DMA refused while off). */
            uint16_t cmd = pci_config_read(f->pci, PCI_CFG_COMMAND, 2);
            pci_config_write(f->pci, PCI_CFG_COMMAND,
                             take(in, 1) & 1 ? cmd | PCI_CMD_MASTER
                                             : cmd & ~PCI_CMD_MASTER,
                             2);
            break;
        }
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tr = getenv("FUZZ_TRACE");

    if (tr) {
        /* FUZZ_TRACE=stderr shows them, anything else discards them. */
        FILE *sink = strcmp(tr, "stderr") ? fopen("/dev/null", "w") : stderr;
        if (sink) {
            trace_set_output(sink);
            trace_enable("*", NULL);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VirtioScsiProps props = VIRTIO_SCSI_PROPS_DEFAULT;
    SchedConfig sc = {.seed = 1};
    Input in = {data, size};
    FzDisk *disk;
    Fz f = {0};

    event_loop_init();
    memory_init();
    bnd_hooks_clear();
    if (!ram_init(FZ_RAM, NULL) || !cpus_init(1, &sc, NULL)) {
        abort();
    }
    f.bus = pci_bus_new();
    props.id = "fz";
    props.num_queues = 1; /* queues 0..2; the fuzzer also pokes at 3 */
    props.latency_ns = take(&in, 1) * 100;
    f.s = virtio_scsi_new(&props, NULL);
    if (!f.s || !pci_bus_add(f.bus, virtio_scsi_pci(f.s), -1, NULL) ||
        !pci_bus_assign(f.bus, NULL)) {
        abort();
    }
    f.pci = virtio_scsi_pci(f.s);
    f.bar = pci_bar_mapped_addr(f.pci, VSCSI_BAR_VIRTIO);
    f.msix = pci_bar_mapped_addr(f.pci, VSCSI_BAR_MSIX);
    disk = g_new0(FzDisk, 1);
    if (!scsi_device_attach(virtio_scsi_bus(f.s), &disk->dev, &fzdisk_ops, 0, 0,
                            NULL)) {
        abort();
    }

    execute(&f, &in);

    /* Whatever happened, every command ends once the clock runs. */
    pci_config_write(
        f.pci, PCI_CFG_COMMAND,
        pci_config_read(f.pci, PCI_CFG_COMMAND, 2) | PCI_CMD_MASTER, 2);
    run_events(2);
    if (virtio_scsi_in_flight(f.s) ||
        scsi_bus_in_flight(virtio_scsi_bus(f.s))) {
        abort();
    }

    virtio_scsi_free(f.s);
    pci_bus_free(f.bus);
    bnd_hooks_clear();
    cpus_fini();
    ram_fini();
    memory_fini();
    event_loop_fini();
    return 0;
}
