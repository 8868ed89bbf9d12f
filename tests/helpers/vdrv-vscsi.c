/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi test fixture (tests/device/virtio-driver.h): a bare machine
 * with one virtio-scsi-pci, and a minimal SCSI disk so HBA tests do not
 * depend on the scsi-hd target (SPC-5 / SBC-4 commands listed there).
 */
#include <string.h>
#include <glib.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-defs.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/event.h"
#include "tests/device/virtio-driver.h"

#define VDRV_BLOCK 512u
#define VDRV_RAM   (64ULL << 20)

static void vdisk_submit(SCSIDevice *dev, SCSIRequest *req)
{
    VDrvDisk *d = (VDrvDisk *)dev;
    const uint8_t *cdb = req->cdb;
    uint64_t bytes = 0;
    uint8_t *buf;

    d->commands++;
    switch (cdb[0]) {
    case SCSI_OP_TEST_UNIT_READY:
        break;
    case SCSI_OP_INQUIRY:
        buf = g_malloc0(36);
        buf[2] = 0x05; /* SPC-3 */
        buf[3] = 0x02;
        buf[4] = 31;
        memcpy(buf + 8, "STOREMU VDRV DISK       1.0 ", 28);
        scsi_req_set_data_in(req, buf, MIN(36u, scsi_be16(cdb + 3)));
        break;
    case SCSI_OP_READ_CAPACITY_10:
        buf = g_malloc0(8);
        scsi_put_be32(buf, (uint32_t)(d->blocks - 1));
        scsi_put_be32(buf + 4, VDRV_BLOCK);
        scsi_req_set_data_in(req, buf, 8);
        break;
    case SCSI_OP_READ_10:
    case SCSI_OP_WRITE_10: {
        uint64_t lba = scsi_be32(cdb + 2);
        uint64_t n = scsi_be16(cdb + 7);

        if (lba + n > d->blocks) {
            scsi_req_check_condition(req, SENSE_LBA_OUT_OF_RANGE);
            break;
        }
        bytes = n * VDRV_BLOCK;
        if (cdb[0] == SCSI_OP_READ_10) {
            scsi_req_set_data_in(
                req, g_memdup2(d->data + lba * VDRV_BLOCK, bytes), bytes);
        } else if (scsi_req_data_out_ok(req, bytes)) {
            scsi_req_read_data_out(req, d->data + lba * VDRV_BLOCK, bytes);
        }
        break;
    }
    case SCSI_OP_REQUEST_SENSE:
        buf = g_malloc0(18);
        buf[0] = 0x70;
        buf[7] = 10;
        scsi_req_set_data_in(req, buf, MIN(18u, cdb[4]));
        break;
    case SCSI_OP_MODE_SELECT_6:
        if (cdb[4] && scsi_req_data_out_ok(req, cdb[4])) {
            uint8_t param[255];
            scsi_req_read_data_out(req, param, cdb[4]);
        }
        break;
    default:
        scsi_req_check_condition(req, SENSE_INVALID_OPCODE);
        break;
    }
    scsi_req_schedule(req, bytes);
}

static void vdisk_finish(SCSIDevice *dev, SCSIRequest *req)
{
}

static void vdisk_cancel(SCSIDevice *dev, SCSIRequest *req)
{
    ((VDrvDisk *)dev)->cancels++;
}

static void vdisk_destroy(SCSIDevice *dev)
{
    VDrvDisk *d = (VDrvDisk *)dev;

    g_free(d->data);
    g_free(d);
}

static const SCSIDeviceOps vdisk_ops = {
    .type = "vdrv-disk",
    .submit = vdisk_submit,
    .finish = vdisk_finish,
    .cancel = vdisk_cancel,
    .destroy = vdisk_destroy,
};

VDrvDisk *vdrv_disk_attach(SCSIBus *bus, uint32_t target, uint32_t lun,
                           uint64_t blocks)
{
    g_autoptr(GError) err = NULL;
    VDrvDisk *d = g_new0(VDrvDisk, 1);

    d->blocks = blocks;
    d->data = g_malloc0(blocks * VDRV_BLOCK);
    for (uint64_t i = 0; i < blocks * VDRV_BLOCK; i++) {
        d->data[i] = (uint8_t)(i * 7 + i / VDRV_BLOCK);
    }
    g_assert_true(
        scsi_device_attach(bus, &d->dev, &vdisk_ops, target, lun, &err));
    g_assert_no_error(err);
    return d;
}

void vdrv_fx_init(VDrvFixture *f, const VirtioScsiProps *props)
{
    SchedConfig sc = {.seed = 1};
    g_autoptr(GError) err = NULL;

    memset(f, 0, sizeof(*f));
    event_loop_init();
    memory_init();
    bnd_hooks_clear();
    g_assert_true(ram_init(VDRV_RAM, &err));
    g_assert_true(cpus_init(2, &sc, &err));
    f->bus = pci_bus_new();
    f->s = virtio_scsi_new(props, &err);
    g_assert_no_error(err);
    g_assert_nonnull(f->s);
    g_assert_true(pci_bus_add(f->bus, virtio_scsi_pci(f->s), -1, &err));
    g_assert_true(pci_bus_assign(f->bus, &err));
    g_assert_no_error(err);
    g_assert_true(vdrv_probe(&f->d, virtio_scsi_pci(f->s)));
    vdrv_irq_log_start();
}

void vdrv_fx_fini(VDrvFixture *f)
{
    vdrv_fini(&f->d);
    virtio_scsi_free(f->s);
    pci_bus_free(f->bus);
    bnd_hooks_clear();
    cpus_fini();
    ram_fini();
    memory_fini();
    event_loop_fini();
}

/* ---- commands ------------------------------------------------------------ */

void vdrv_scsi_lun(uint8_t *l, uint8_t target, uint16_t lun)
{
    memset(l, 0, 8);
    l[0] = 1;
    l[1] = target;
    l[2] = (uint8_t)(0x40 | (lun >> 8));
    l[3] = (uint8_t)lun;
}

void vdrv_io_init(VDrvIo *io, VDrvLayout layout, uint8_t target, uint16_t lun,
                  uint64_t tag, const uint8_t *cdb, unsigned cdb_len,
                  uint32_t data_len, bool data_out, uint32_t cdb_size,
                  uint32_t sense_size)
{
    uint8_t *h;

    memset(io, 0, sizeof(*io));
    io->layout = layout;
    io->nseg = 1;
    io->req_len = sizeof(VirtioScsiCmdReqHdr) +
                  (cdb_size ? cdb_size : VIRTIO_SCSI_CDB_SIZE_DEFAULT);
    io->resp_len = sizeof(VirtioScsiCmdRespHdr) +
                   (sense_size ? sense_size : VIRTIO_SCSI_SENSE_SIZE_DEFAULT);
    io->data_len = data_len;
    io->data_out = data_out;
    if (layout == VDRV_LAYOUT_COMBINED) {
        /* Header and data-out, response and data-in, back to back. */
        io->req = vdrv_alloc(io->req_len + (data_out ? data_len : 0));
        io->resp = vdrv_alloc(io->resp_len + (data_out ? 0 : data_len));
        io->data = data_out ? io->req + io->req_len : io->resp + io->resp_len;
    } else {
        io->req = vdrv_alloc(io->req_len);
        io->resp = vdrv_alloc(io->resp_len);
        io->data = data_len ? vdrv_alloc(data_len) : 0;
    }
    h = vdrv_ptr(io->req);
    vdrv_scsi_lun(h, target, lun);
    pci_set_quad(h + offsetof(VirtioScsiCmdReqHdr, id), tag);
    g_assert_cmpuint(cdb_len, <=, io->req_len - sizeof(VirtioScsiCmdReqHdr));
    memcpy(h + sizeof(VirtioScsiCmdReqHdr), cdb, cdb_len);
    /* Poison the response so that what the device wrote is visible. */
    memset(vdrv_ptr(io->resp), 0xa5, io->resp_len);
}

uint8_t *vdrv_io_data(const VDrvIo *io)
{
    return vdrv_ptr(io->data);
}

/* Split [gpa, gpa + len) into @n descriptors. */
static unsigned split(VDrvBuf *b, uint64_t gpa, uint32_t len, unsigned n,
                      bool write)
{
    unsigned k = 0;

    if (!len) {
        return 0;
    }
    n = MIN(n, len);
    for (unsigned i = 0; i < n; i++) {
        uint32_t piece = len / n + (i < len % n ? 1 : 0);

        b[k].gpa = gpa;
        b[k].len = piece;
        b[k].write = write;
        gpa += piece;
        k++;
    }
    return k;
}

uint16_t vdrv_io_submit(VDrv *d, unsigned q, VDrvIo *io)
{
    VDrvBuf b[1100];
    unsigned n = 0;
    unsigned hdr_parts = io->layout == VDRV_LAYOUT_SPLIT ? 3 : 1;
    unsigned data_parts = io->layout == VDRV_LAYOUT_SPLIT  ? 2
                          : io->layout == VDRV_LAYOUT_MANY ? io->nseg
                                                           : 1;

    g_assert_cmpuint(data_parts, <, 1000);
    if (io->layout == VDRV_LAYOUT_COMBINED) {
        n += split(b + n, io->req,
                   io->req_len + (io->data_out ? io->data_len : 0), 1, false);
        n += split(b + n, io->resp,
                   io->resp_len + (io->data_out ? 0 : io->data_len), 1, true);
    } else {
        n += split(b + n, io->req, io->req_len, hdr_parts, false);
        if (io->data_out) {
            n += split(b + n, io->data, io->data_len, data_parts, false);
        }
        n += split(b + n, io->resp, io->resp_len, hdr_parts, true);
        if (!io->data_out) {
            n += split(b + n, io->data, io->data_len, data_parts, true);
        }
    }
    io->head = vdrv_add_chain(d, q, b, n, io->layout == VDRV_LAYOUT_INDIRECT);
    return io->head;
}

void vdrv_io_resp(const VDrvIo *io, VDrvResp *r)
{
    const uint8_t *p = vdrv_ptr(io->resp);

    memset(r, 0, sizeof(*r));
    r->sense_len = pci_get_long(p + offsetof(VirtioScsiCmdRespHdr, sense_len));
    r->residual = pci_get_long(p + offsetof(VirtioScsiCmdRespHdr, residual));
    r->status_qualifier =
        pci_get_word(p + offsetof(VirtioScsiCmdRespHdr, status_qualifier));
    r->status = p[offsetof(VirtioScsiCmdRespHdr, status)];
    r->response = p[offsetof(VirtioScsiCmdRespHdr, response)];
    memcpy(r->sense, p + sizeof(VirtioScsiCmdRespHdr),
           MIN(sizeof(r->sense), io->resp_len - sizeof(VirtioScsiCmdRespHdr)));
}

uint32_t vdrv_io_run(VDrv *d, unsigned q, VDrvIo *io, VDrvResp *r)
{
    uint32_t id, len;

    vdrv_io_submit(d, q, io);
    vdrv_notify(d, q);
    vdrv_run();
    g_assert_true(vdrv_get_used(d, q, &id, &len));
    g_assert_cmpuint(id, ==, io->head);
    vdrv_io_resp(io, r);
    return len;
}

void vdrv_clear_ua(VDrv *d, unsigned q, uint8_t target, uint16_t lun)
{
    static const uint8_t tur[6] = {SCSI_OP_TEST_UNIT_READY};

    for (unsigned i = 0; i < 2 * SCSI_UA_MAX; i++) {
        VDrvIo io;
        VDrvResp r;

        vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, target, lun, 0xc1ea0000 + i, tur,
                     sizeof(tur), 0, false, 0, 0);
        vdrv_io_run(d, q, &io, &r);
        g_assert_cmpuint(r.response, ==, VIRTIO_SCSI_S_OK);
        if (r.status == SCSI_STATUS_GOOD) {
            return;
        }
    }
    g_assert_not_reached();
}
