/* SPDX-License-Identifier: MIT */
/*
 * The virtio-scsi miniport (miniports/virtio-scsi) driven through the port
 * against the virtio-scsi-pci model and scsi-hd disks, on machines built
 * from storemu command lines (tests/helpers/gt-harness.h): enumeration of
 * several units and targets, data written and read from every vCPU and
 * checked against the disk image (pre-filled on the host, read back with
 * blk_pread), both SRB kinds, MSI-X per queue, one shared message and INTx
 * (msix=off), EVENT_IDX on and off, multi-queue with one channel per vCPU,
 * sense data and residuals, a full ring answered BUSY from StartIo, bus
 * reset after a real time-out with I/O in flight (TMF I_T NEXUS RESET),
 * unit and device resets with I/O in flight, the device-reset fallback
 * after DEVICE_NEEDS_RESET, stop/hibernate/restart with I/O in flight,
 * hot-plug and parameter-change events, bad parameters and determinism.
 * Every run must end with zero verifier violations (the port checks pool
 * leaks at shutdown).
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "hw/block/block.h"
#include "hw/core/pci.h"
#include "hw/core/qdev.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-defs.h"
#include "hw/virtio-scsi/virtio-scsi.h"
#include "miniports/virtio-scsi/vioscsi.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/event.h"
#include "tests/helpers/gt-harness.h"

#define IMAGE_BYTES  (32u << 20)
#define IMAGE_BLOCKS (IMAGE_BYTES / 512)
#define D1_BLOCKS    ((16u << 20) / 512)
#define P0_SEED      0x5eed0000u /* what the image holds before the run */

/* ---- the machine ---- */

typedef struct VsCase {
    const char *path;
    const char *machine; /* -smp, -machine */
    const char *hba;     /* extra virtio-scsi-pci properties */
    const char *params;  /* extra -miniport options */
    VIOSCSI_INTERRUPT_MODE mode;
    unsigned queues; /* request queues the miniport should use */
    BOOLEAN storage_srb;
    BOOLEAN event_idx;
} VsCase;

static char *image_path;

static void setup_once(void)
{
    gt_harness_init();
    g_assert_true(qdev_type_available(qdev_find("virtio-scsi-pci")));
}

/* Deterministic contents of 512-byte block @lba written with @seed. */
static void pattern(uint8_t *buf, uint64_t lba, uint32_t blocks, uint32_t seed)
{
    for (uint32_t b = 0; b < blocks; b++) {
        uint64_t x =
            (lba + b + 1) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed << 32);
        for (unsigned i = 0; i < 512; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(buf + (size_t)b * 512 + i, &x, 8);
        }
    }
}

/* A fresh image file holding P0 everywhere. */
static void make_image(void)
{
    g_autoptr(GError) err = NULL;
    uint8_t *buf = g_malloc(1u << 20);
    int fd;

    g_free(image_path);
    fd = g_file_open_tmp("vioscsi-XXXXXX.img", &image_path, &err);
    g_assert_no_error(err);
    for (uint32_t mb = 0; mb < IMAGE_BYTES >> 20; mb++) {
        pattern(buf, (uint64_t)mb * 2048, 2048, P0_SEED);
        g_assert_cmpint(write(fd, buf, 1u << 20), ==, 1 << 20);
    }
    close(fd);
    g_free(buf);
}

static void drop_image(void)
{
    if (image_path) {
        g_unlink(image_path);
        g_free(image_path);
        image_path = NULL;
    }
}

/* Run @body on a machine: d0 (the image) as 0:0:0, d1 as 0:0:1. */
static void run_case(const VsCase *c, const char *extra_devices,
                     void (*body)(void *opaque))
{
    g_autofree char *args = NULL;
    MachineStop st;

    make_image();
    args = g_strdup_printf(
        "%s -drive file=%s,id=d0 -drive id=d1,size=16M "
        "-device virtio-scsi-pci,id=hba0%s "
        "-device scsi-hd,drive=d0,bus=hba0 "
        "-device scsi-hd,drive=d1,bus=hba0,lun=1 %s "
        "-miniport virtio-scsi%s",
        c->machine ? c->machine : "", image_path, c->hba ? c->hba : "",
        extra_devices ? extra_devices : "", c->params ? c->params : "");
    st = gt_harness_run(args, body, (void *)c);
    g_assert_cmpint(st, ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, 0);
    /* Includes the pool-leak check port_shutdown() ran. */
    g_assert_cmpuint(verifier_total(), ==, 0);
    drop_image();
}

static PVIOSCSI_ADAPTER_EXTENSION vs_ext(void)
{
    g_assert_cmpuint(port.nadapters, ==, 1);
    return port.adapters[0]->devext;
}

static PortLu *lun_at(unsigned target, unsigned lun)
{
    for (unsigned i = 0; i < port_lun_count(); i++) {
        unsigned p, t, l;
        port_lun_address(port_lun_at(i), &p, &t, &l);
        if (t == target && l == lun) {
            return port_lun_at(i);
        }
    }
    g_assert_not_reached();
}

/* ---- commands ---- */

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static unsigned cdb_rw(uint8_t *cdb, bool write, bool sixteen, uint64_t lba,
                       uint32_t blocks)
{
    memset(cdb, 0, 16);
    if (sixteen) {
        cdb[0] = write ? SCSIOP_WRITE16 : SCSIOP_READ16;
        put_be(cdb + 2, lba, 8);
        put_be(cdb + 10, blocks, 4);
        return 16;
    }
    cdb[0] = write ? SCSIOP_WRITE : SCSIOP_READ;
    put_be(cdb + 2, lba, 4);
    put_be(cdb + 7, blocks, 2);
    return 10;
}

static bool sense_is(const PortRequest *req, uint8_t key, uint8_t asc,
                     uint8_t ascq)
{
    unsigned len;
    const uint8_t *s = port_request_sense(req, &len);

    return len >= 14 && (s[2] & 0xf) == key && s[12] == asc && s[13] == ascq;
}

static bool is_unit_attention(const PortRequest *req)
{
    unsigned len;
    const uint8_t *s = port_request_sense(req, &len);

    return len >= 3 && (s[2] & 0xf) == SCSI_SENSE_UNIT_ATTENTION;
}

/* Execute; a unit attention (the reset every disk reports first) is
 * retried, as a class driver would. */
static uint8_t vs_exec(PortRequest *req, const uint8_t *cdb, unsigned n,
                       void *buf, uint32_t len, PortXfer dir)
{
    for (unsigned tries = 0;; tries++) {
        unsigned slen;
        const uint8_t *s;

        port_request_scsi(req, cdb, n, buf, len, dir, 0);
        port_execute(req);
        s = port_request_sense(req, &slen);
        if (tries < 4 &&
            port_request_scsi_status(req) == SCSISTAT_CHECK_CONDITION &&
            slen >= 3 && (s[2] & 0xf) == SCSI_SENSE_UNIT_ATTENTION) {
            continue;
        }
        return SRB_STATUS(port_request_srb_status(req));
    }
}

/* TEST UNIT READY on every unit until the reset's unit attention is gone. */
static void settle(void)
{
    static const uint8_t tur[6] = {SCSIOP_TEST_UNIT_READY};

    for (unsigned i = 0; i < port_lun_count(); i++) {
        PortRequest *req = port_request_new(port_lun_at(i));
        g_assert_cmpuint(vs_exec(req, tur, 6, NULL, 0, PORT_XFER_NONE), ==,
                         SRB_STATUS_SUCCESS);
        port_request_free(req);
    }
}

static uint8_t rw_sync(PortLu *lu, bool write, uint64_t lba, uint32_t blocks,
                       void *buf)
{
    PortRequest *req = port_request_new(lu);
    uint8_t cdb[16];
    unsigned n = cdb_rw(cdb, write, lba & 1, lba, blocks);
    uint8_t st = vs_exec(req, cdb, n, buf, blocks * 512,
                         write ? PORT_XFER_OUT : PORT_XFER_IN);

    if (st == SRB_STATUS_SUCCESS) {
        g_assert_cmpuint(port_request_transferred(req), ==, blocks * 512);
    }
    port_request_free(req);
    return st;
}

/* ---- asynchronous batches ---- */

typedef struct Batch {
    GuestEvent done;
    unsigned pending;
    unsigned n;
    PortRequest *req[64];
    uint8_t *buf[64];
    uint8_t cdb[64][16];
    unsigned cdb_len[64];
    uint32_t len[64];
    PortXfer dir[64];
    unsigned timeout[64];
} Batch;

static void batch_done(PortRequest *req, void *opaque)
{
    Batch *b = opaque;

    /* DISPATCH_LEVEL, no yield inside: the decrement is atomic here. */
    if (--b->pending == 0) {
        guest_event_set(&b->done);
    }
}

static void batch_init(Batch *b)
{
    memset(b, 0, sizeof(*b));
    guest_event_init(&b->done, "batch", false);
}

static void batch_add(Batch *b, PortLu *lu, bool write, uint64_t lba,
                      uint32_t blocks, unsigned timeout_s)
{
    uint8_t cdb[16];
    unsigned n = cdb_rw(cdb, write, lba & 1, lba, blocks);
    unsigned i = b->n++;

    g_assert_cmpuint(i, <, G_N_ELEMENTS(b->req));
    b->req[i] = port_request_new(lu);
    b->buf[i] = ram_alloc((uint64_t)blocks * 512, 16, 0, "batch");
    if (write) {
        pattern(b->buf[i], lba, blocks, P0_SEED + 1);
    } else {
        memset(b->buf[i], 0xee, (size_t)blocks * 512);
    }
    memcpy(b->cdb[i], cdb, sizeof(cdb));
    b->cdb_len[i] = n;
    b->len[i] = blocks * 512;
    b->dir[i] = write ? PORT_XFER_OUT : PORT_XFER_IN;
    b->timeout[i] = timeout_s;
}

/* (Re)build request @i: a completed SRB belongs to the port again. */
static void batch_prepare(Batch *b, unsigned i)
{
    port_request_scsi(b->req[i], b->cdb[i], b->cdb_len[i], b->buf[i], b->len[i],
                      b->dir[i], b->timeout[i]);
}

static void batch_submit(Batch *b)
{
    guest_event_clear(&b->done);
    b->pending = b->n;
    for (unsigned i = 0; i < b->n; i++) {
        batch_prepare(b, i);
    }
    for (unsigned i = 0; i < b->n; i++) {
        port_submit(b->req[i], batch_done, b);
    }
}

static void batch_wait(Batch *b)
{
    if (b->pending) {
        guest_event_wait(&b->done);
    }
}

static void batch_free(Batch *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        port_request_free(b->req[i]);
        ram_free(b->buf[i]);
    }
    b->n = 0;
}

/* ---- data: every vCPU writes and reads its own region ---- */

#define SLOTS       12
#define SLOT_STRIDE 160 /* blocks */
#define REGION      4096

typedef struct Worker {
    unsigned index;
    GuestEvent done;
    unsigned errors;
} Worker;

static uint32_t slot_blocks(unsigned w, unsigned s)
{
    return 1 + (w * 37 + s * 53) % 128; /* up to 64 KiB */
}

static uint64_t slot_lba(unsigned w, unsigned s)
{
    return 1000 + (uint64_t)w * REGION + (uint64_t)s * SLOT_STRIDE;
}

static uint32_t slot_seed(unsigned w, unsigned s)
{
    return 0x1000u + w * 100 + s;
}

static void worker_main(void *opaque)
{
    Worker *w = opaque;
    PortLu *lu = lun_at(0, 0);
    uint8_t *buf = ram_alloc(128 * 512, 16, 0, "worker");
    uint8_t *expect = g_malloc(128 * 512);
    Batch *b = g_new(Batch, 1);

    /* The image's own contents first: nothing written there yet. */
    for (unsigned s = 0; s < SLOTS; s++) {
        uint32_t n = slot_blocks(w->index, s);
        uint64_t lba = slot_lba(w->index, s) + SLOT_STRIDE / 2;

        pattern(expect, lba, n, P0_SEED);
        if (rw_sync(lu, false, lba, n, buf) != SRB_STATUS_SUCCESS ||
            memcmp(buf, expect, n * 512)) {
            w->errors++;
        }
    }
    /* Every slot written at once, then read back at once. */
    batch_init(b);
    for (unsigned s = 0; s < SLOTS; s++) {
        uint32_t n = slot_blocks(w->index, s);
        uint64_t lba = slot_lba(w->index, s);

        batch_add(b, lu, true, lba, n, 0);
        pattern(b->buf[s], lba, n, slot_seed(w->index, s));
    }
    batch_submit(b);
    batch_wait(b);
    for (unsigned s = 0; s < SLOTS; s++) {
        if (SRB_STATUS(port_request_srb_status(b->req[s])) !=
            SRB_STATUS_SUCCESS) {
            w->errors++;
        }
    }
    batch_free(b);
    batch_init(b);
    for (unsigned s = 0; s < SLOTS; s++) {
        batch_add(b, lu, false, slot_lba(w->index, s), slot_blocks(w->index, s),
                  0);
    }
    batch_submit(b);
    batch_wait(b);
    for (unsigned s = 0; s < SLOTS; s++) {
        uint32_t n = slot_blocks(w->index, s);

        pattern(expect, slot_lba(w->index, s), n, slot_seed(w->index, s));
        if (SRB_STATUS(port_request_srb_status(b->req[s])) !=
                SRB_STATUS_SUCCESS ||
            memcmp(b->buf[s], expect, n * 512)) {
            g_printerr("worker %u slot %u: bad read back\n", w->index, s);
            w->errors++;
        }
    }
    batch_free(b);
    g_free(b);
    g_free(expect);
    ram_free(buf);
    guest_event_set(&w->done);
}

static unsigned run_workers(void)
{
    unsigned n = cpus_count();
    Worker *w = g_new0(Worker, n);
    unsigned errors = 0;

    for (unsigned i = 0; i < n; i++) {
        w[i].index = i;
        guest_event_init(&w[i].done, "worker", false);
        guest_thread_create(i, "worker", worker_main, &w[i]);
    }
    for (unsigned i = 0; i < n; i++) {
        guest_event_wait(&w[i].done);
        errors += w[i].errors;
    }
    g_free(w);
    return errors;
}

/* What the workers wrote is in the image, and what they did not write is
 * as it was. */
static void check_image(unsigned workers)
{
    BlockBackend *blk = blk_find("d0");
    uint8_t *got = g_malloc(128 * 512);
    uint8_t *expect = g_malloc(128 * 512);

    g_assert_nonnull(blk);
    for (unsigned w = 0; w < workers; w++) {
        for (unsigned s = 0; s < SLOTS; s++) {
            uint32_t n = slot_blocks(w, s);
            uint64_t lba = slot_lba(w, s);

            g_assert_cmpint(blk_pread(blk, lba * 512, got, n * 512), ==, 0);
            pattern(expect, lba, n, slot_seed(w, s));
            g_assert_cmpmem(got, n * 512, expect, n * 512);
            g_assert_cmpint(blk_pread(blk, (lba + n) * 512, got, 512), ==, 0);
            pattern(expect, lba + n, 1, P0_SEED);
            g_assert_cmpmem(got, 512, expect, 512);
        }
    }
    g_free(got);
    g_free(expect);
}

static void data_body(void *opaque)
{
    const VsCase *c = opaque;
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    PortAdapter *a = port.adapters[0];

    g_assert_cmpuint(port_lun_count(), ==, 2);
    g_assert_cmpint(x->InterruptMode, ==, c->mode);
    g_assert_cmpuint(x->RequestQueues, ==, c->queues);
    g_assert_cmpint(x->EventIdx, ==, c->event_idx);
    g_assert_cmpint(a->cfg->SrbType, ==,
                    c->storage_srb ? SRB_TYPE_STORAGE_REQUEST_BLOCK
                                   : SRB_TYPE_SCSI_REQUEST_BLOCK);
    g_assert_cmpint(x->ConcurrentChannels, ==, TRUE);
    settle();
    g_assert_cmpuint(run_workers(), ==, 0);
    check_image(cpus_count());

    /* Every request queue carried requests when there are workers for
     * each, and under MSI-X each queue's message fired. */
    for (unsigned q = 0; q < x->RequestQueues; q++) {
        PVIOSCSI_QUEUE queue = &x->Queues[VIOSCSI_FIRST_REQUEST + q];

        g_assert_cmpint(queue->Stats.Submitted, >, 0);
        g_assert_cmpint(queue->Stats.Completed, ==, queue->Stats.Submitted);
        g_assert_cmpint(queue->Stats.BadUsed, ==, 0);
        if (c->mode == VioScsiInterruptPerQueue) {
            g_assert_cmpuint(a->msg[VIOSCSI_MSG_FIRST_REQUEST + q].count, >, 0);
        }
    }
    if (c->mode == VioScsiInterruptLine) {
        g_assert_false(a->use_msi);
        g_assert_true(a->intx);
        g_assert_cmpint(x->Stats.Interrupts, >, 0);
    }
    for (unsigned q = 0; q < x->RequestQueues; q++) {
        PVIOSCSI_QUEUE queue = &x->Queues[VIOSCSI_FIRST_REQUEST + q];

        /* One decision per request: a doorbell or a reason not to ring
         * it; without EVENT_IDX this device never asks for silence. */
        g_assert_cmpint(queue->Stats.Notifications + queue->Stats.Suppressed,
                        ==, queue->Stats.Submitted);
        if (!c->event_idx) {
            g_assert_cmpint(queue->Stats.Suppressed, ==, 0);
        }
    }
    g_assert_cmpint(x->Stats.BusResets, ==, 0);
    g_assert_cmpint(x->Stats.HardResets, ==, 0);
}

static void test_data(gconstpointer data)
{
    run_case(data, NULL, data_body);
}

/* ---- enumeration ---- */

static void enumerate_body(void *opaque)
{
    static const struct {
        unsigned target, lun;
        uint64_t blocks;
        uint32_t block_size;
    } units[] = {
        {0, 0, IMAGE_BLOCKS, 512},
        {0, 1, D1_BLOCKS, 512},
        {3, 0, (8u << 20) / 4096, 4096},
    };
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    uint8_t *buf = ram_alloc(4096, 16, 0, "buf");

    g_assert_cmpuint(port_lun_count(), ==, G_N_ELEMENTS(units));
    /* The device's configuration reached the port's limits. */
    g_assert_cmpuint(x->MaxTarget, ==, 255);
    g_assert_cmpuint(port.adapters[0]->cfg->MaximumNumberOfTargets, ==,
                     VIOSCSI_MAX_TARGETS);
    g_assert_cmpuint(port_lun_max_transfer(port_lun_at(0)), ==,
                     VIOSCSI_MAX_TRANSFER);
    g_assert_cmpuint(port_lun_srb_extension_size(port_lun_at(0)), ==,
                     sizeof(VIOSCSI_SRB_EXTENSION));
    settle();
    for (unsigned i = 0; i < G_N_ELEMENTS(units); i++) {
        PortLu *lu = lun_at(units[i].target, units[i].lun);
        PortRequest *req = port_request_new(lu);
        uint8_t rc16[16] = {SCSIOP_READ_CAPACITY16,
                            SERVICE_ACTION_READ_CAPACITY16};
        const uint8_t *inq = port_lun_inquiry(lu);

        g_assert_cmpuint(inq[0] & 0x1f, ==, DIRECT_ACCESS_DEVICE);
        g_assert_cmpmem(inq + 8, 8, "STOREMU ", 8);
        put_be(rc16 + 10, 32, 4);
        g_assert_cmpuint(vs_exec(req, rc16, 16, buf, 32, PORT_XFER_IN), ==,
                         SRB_STATUS_SUCCESS);
        g_assert_cmpuint(get_be(buf, 8), ==, units[i].blocks - 1);
        g_assert_cmpuint(get_be(buf + 8, 4), ==, units[i].block_size);
        port_request_free(req);
    }
    /* An empty target: the device answers BAD_TARGET, the port sees a
     * selection time-out (no unit was created for it). */
    g_assert_cmpint(x->Stats.Responses[VIRTIO_SCSI_S_BAD_TARGET], >, 0);
    ram_free(buf);
}

static void test_enumerate(gconstpointer data)
{
    run_case(data,
             "-drive id=d2,size=8M -device scsi-hd,drive=d2,bus=hba0,target=3,"
             "logical_block_size=4096",
             enumerate_body);
}

/* ---- sense data and residuals ---- */

static void sense_body(void *opaque)
{
    PortLu *lu = lun_at(0, 0);
    PortRequest *req = port_request_new(lu);
    uint8_t *buf = ram_alloc(4096, 16, 0, "buf");
    uint8_t cdb[16];
    unsigned n;

    settle();
    /* READ past the end: ILLEGAL REQUEST, LBA OUT OF RANGE, autosense. */
    n = cdb_rw(cdb, false, true, IMAGE_BLOCKS, 1);
    vs_exec(req, cdb, n, buf, 512, PORT_XFER_IN);
    g_assert_cmphex(port_request_srb_status(req), ==,
                    SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
    g_assert_cmphex(port_request_scsi_status(req), ==,
                    SCSISTAT_CHECK_CONDITION);
    g_assert_true(sense_is(req, SCSI_SENSE_ILLEGAL_REQUEST,
                           SCSI_ADSENSE_ILLEGAL_BLOCK, 0));
    g_assert_cmpuint(port_request_transferred(req), ==, 0);
    /* WRITE(10) past the end, the same. */
    n = cdb_rw(cdb, true, false, IMAGE_BLOCKS - 1, 2);
    vs_exec(req, cdb, n, buf, 1024, PORT_XFER_OUT);
    g_assert_cmphex(port_request_srb_status(req), ==,
                    SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
    g_assert_true(sense_is(req, SCSI_SENSE_ILLEGAL_REQUEST,
                           SCSI_ADSENSE_ILLEGAL_BLOCK, 0));
    /* An opcode the disk does not know: INVALID COMMAND OPERATION CODE. */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0xff;
    vs_exec(req, cdb, 6, NULL, 0, PORT_XFER_NONE);
    g_assert_cmphex(port_request_srb_status(req), ==,
                    SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
    g_assert_true(sense_is(req, SCSI_SENSE_ILLEGAL_REQUEST,
                           SCSI_ADSENSE_ILLEGAL_COMMAND, 0));

    /* Residuals: a buffer larger than the command's data comes back as
     * DATA_OVERRUN with DataTransferLength = what moved. */
    n = cdb_rw(cdb, false, false, 10, 1);
    g_assert_cmpuint(vs_exec(req, cdb, n, buf, 2048, PORT_XFER_IN), ==,
                     SRB_STATUS_DATA_OVERRUN);
    g_assert_cmpuint(port_request_transferred(req), ==, 512);
    {
        uint8_t inquiry[6] = {SCSIOP_INQUIRY, 0, 0, 0, 36, 0};
        g_assert_cmpuint(vs_exec(req, inquiry, 6, buf, 255, PORT_XFER_IN), ==,
                         SRB_STATUS_DATA_OVERRUN);
        g_assert_cmpuint(port_request_transferred(req), ==, 36);
        g_assert_cmpmem(buf + 8, 8, "STOREMU ", 8);
    }
    /* A command wanting more than the buffer: the device's OVERRUN. */
    n = cdb_rw(cdb, false, false, 10, 4);
    g_assert_cmpuint(vs_exec(req, cdb, n, buf, 1024, PORT_XFER_IN), ==,
                     SRB_STATUS_DATA_OVERRUN);
    g_assert_cmpuint(port_request_transferred(req), ==, 1024);
    g_assert_cmpint(vs_ext()->Stats.Responses[VIRTIO_SCSI_S_OVERRUN], ==, 1);
    /* The unit answers normally afterwards. */
    n = cdb_rw(cdb, false, false, 10, 2);
    g_assert_cmpuint(vs_exec(req, cdb, n, buf, 1024, PORT_XFER_IN), ==,
                     SRB_STATUS_SUCCESS);
    {
        uint8_t expect[1024];
        pattern(expect, 10, 2, P0_SEED);
        g_assert_cmpmem(buf, 1024, expect, 1024);
    }
    ram_free(buf);
    port_request_free(req);
}

static void test_sense(gconstpointer data)
{
    run_case(data, NULL, sense_body);
}

/* ---- a full ring: BUSY from StartIo only ---- */

/*
 * Submit the batch and wait; a request that comes back SRB_STATUS_BUSY
 * (the port gave up retrying it) is sent again, as a class driver does.
 * Returns how many were sent again.
 */
static unsigned batch_run_retrying_busy(Batch *b)
{
    unsigned resent = 0;

    batch_submit(b);
    batch_wait(b);
    for (unsigned round = 0; round < 100; round++) {
        unsigned busy = 0;

        b->pending = 0;
        for (unsigned i = 0; i < b->n; i++) {
            if (SRB_STATUS(port_request_srb_status(b->req[i])) ==
                SRB_STATUS_BUSY) {
                busy++;
            }
        }
        if (busy == 0) {
            break;
        }
        guest_event_clear(&b->done);
        b->pending = busy;
        for (unsigned i = 0; i < b->n; i++) {
            if (SRB_STATUS(port_request_srb_status(b->req[i])) ==
                SRB_STATUS_BUSY) {
                batch_prepare(b, i);
                port_submit(b->req[i], batch_done, b);
                resent++;
            }
        }
        batch_wait(b);
    }
    return resent;
}

static void ring_full_body(void *opaque)
{
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    Batch *b = g_new(Batch, 1);
    PortLu *lus[2] = {lun_at(0, 0), lun_at(0, 1)};

    g_assert_cmpuint(x->Queues[VIOSCSI_FIRST_REQUEST].Size, ==, 4);
    g_assert_cmpuint(x->MaxTransfer, ==, 4096); /* seg_max 2 */
    settle();
    /* Twice the ring's slots in flight over two units. */
    batch_init(b);
    for (unsigned i = 0; i < 16; i++) {
        batch_add(b, lus[i % 2], true, 200 + i * 8, 8, 0);
    }
    batch_run_retrying_busy(b);
    for (unsigned i = 0; i < 16; i++) {
        g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                         SRB_STATUS_SUCCESS);
    }
    batch_free(b);
    batch_init(b);
    for (unsigned i = 0; i < 16; i++) {
        batch_add(b, lus[i % 2], false, 200 + i * 8, 8, 0);
    }
    batch_run_retrying_busy(b);
    for (unsigned i = 0; i < 16; i++) {
        uint8_t expect[4096];
        pattern(expect, 200 + i * 8, 8, P0_SEED + 1);
        g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                         SRB_STATUS_SUCCESS);
        g_assert_cmpmem(b->buf[i], 4096, expect, 4096);
    }
    batch_free(b);
    g_free(b);
    /* StartIo answered BUSY and the port saw it; the verifier (checked by
     * run_case) saw no BUSY after a request reached the ring. */
    g_assert_cmpint(x->Queues[VIOSCSI_FIRST_REQUEST].Stats.RingFull, >, 0);
    g_assert_cmpuint(port.adapters[0]->busy_returns, >, 0);
    g_assert_cmpint(x->Queues[VIOSCSI_FIRST_REQUEST].Stats.Completed, ==,
                    x->Queues[VIOSCSI_FIRST_REQUEST].Stats.Submitted);
}

static void test_ring_full(gconstpointer data)
{
    run_case(data, NULL, ring_full_body);
}

/* ---- resets with I/O in flight ---- */

/* A real time-out: the device holds every command for 3 s (latency), the
 * requests time out after 1 s, the port calls HwStorResetBus, the
 * miniport sends I_T NEXUS RESET and the device returns the commands with
 * VIRTIO_SCSI_S_RESET: each completes once, with SRB_STATUS_BUS_RESET. */
static void reset_timeout_body(void *opaque)
{
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    Batch *b = g_new(Batch, 1);

    settle();
    batch_init(b);
    for (unsigned i = 0; i < 6; i++) {
        batch_add(b, lun_at(0, i % 2), i & 1, 64 + i * 8, 8, 1);
    }
    batch_submit(b);
    batch_wait(b);
    for (unsigned i = 0; i < 6; i++) {
        g_assert_cmphex(port_request_srb_status(b->req[i]), ==,
                        SRB_STATUS_BUS_RESET);
    }
    batch_free(b);
    g_assert_cmpint(x->Stats.BusResets, ==, 1);
    g_assert_cmpint(x->Stats.TmfSubmitted, ==, 1); /* one target */
    g_assert_cmpint(x->Stats.TmfCompleted, ==, 1);
    g_assert_cmpuint(x->BusResetTmfPending, ==, 0);
    /*
     * Either the target reset ended the six commands (the device returns
     * them RESET before the function's response), or commands it did not
     * end were still in the device when the watchdog looked, and the
     * device reset ended them. Never both, never a mix.
     */
    if (x->Stats.HardResets == 0) {
        g_assert_cmpint(x->Stats.Responses[VIRTIO_SCSI_S_RESET], ==, 6);
    } else {
        g_assert_cmpint(x->Stats.HardResets, ==, 1);
        g_assert_cmpint(x->Stats.Responses[VIRTIO_SCSI_S_RESET], ==, 0);
        g_test_message("the target reset left the commands in the device "
                       "(held for its latency); the device reset ended them");
    }
    g_assert_cmpuint(port.adapters[0]->resets, ==, 1);
    /* The adapter works after the reset hold. */
    settle();
    {
        uint8_t *buf = ram_alloc(4096, 16, 0, "buf");
        uint8_t expect[4096];
        g_assert_cmpuint(rw_sync(lun_at(0, 0), false, 300, 8, buf), ==,
                         SRB_STATUS_SUCCESS);
        pattern(expect, 300, 8, P0_SEED);
        g_assert_cmpmem(buf, 4096, expect, 4096);
        ram_free(buf);
    }
    g_free(b);
}

static void test_reset_timeout(gconstpointer data)
{
    run_case(data, NULL, reset_timeout_body);
}

static uint8_t function_sync(PortLu *lu, uint8_t function)
{
    PortRequest *req = port_request_new(lu);
    uint8_t st;

    port_request_function(req, function);
    port_execute(req);
    st = port_request_srb_status(req);
    port_request_free(req);
    return st;
}

/*
 * SRB_FUNCTION_RESET_LOGICAL_UNIT with commands in flight on that unit
 * and on another, then RESET_DEVICE (I_T NEXUS RESET): the reset SRBs
 * complete with the function's response, every command completes once,
 * the other unit's command is not disturbed by the unit reset. SAM-5
 * (and 5.6.6.2) also want the reset's commands ended (RESET) before the
 * response; the device model does not end commands it holds for its
 * latency, which is reported as a skip until it does.
 */
static void unit_reset_body(void *opaque)
{
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    Batch *b = g_new(Batch, 1);
    bool ended = true;

    settle();
    batch_init(b);
    for (unsigned i = 0; i < 4; i++) {
        batch_add(b, lun_at(0, 0), false, 64 + i * 8, 8, 30);
    }
    batch_add(b, lun_at(0, 1), false, 64, 8, 30);
    batch_submit(b);
    guest_sleep(100 * NS_PER_US);
    g_assert_cmpuint(port_lun_outstanding(lun_at(0, 0)), ==, 4);
    g_assert_cmpuint(
        function_sync(lun_at(0, 0), SRB_FUNCTION_RESET_LOGICAL_UNIT), ==,
        SRB_STATUS_SUCCESS);
    g_assert_cmpint(x->Stats.TmfSubmitted, ==, 1);
    g_assert_cmpint(x->Stats.TmfCompleted, ==, 1);
    ended = ended && port_lun_outstanding(lun_at(0, 0)) == 0;
    batch_wait(b);
    for (unsigned i = 0; i < 4; i++) {
        uint8_t st = port_request_srb_status(b->req[i]);
        g_assert_true(st == SRB_STATUS_BUS_RESET || st == SRB_STATUS_SUCCESS);
        ended = ended && st == SRB_STATUS_BUS_RESET;
    }
    g_assert_cmphex(port_request_srb_status(b->req[4]), ==, SRB_STATUS_SUCCESS);
    batch_free(b);

    settle();
    batch_init(b);
    batch_add(b, lun_at(0, 0), false, 64, 8, 30);
    batch_add(b, lun_at(0, 1), true, 64, 8, 30);
    batch_submit(b);
    guest_sleep(100 * NS_PER_US);
    g_assert_cmpuint(function_sync(lun_at(0, 1), SRB_FUNCTION_RESET_DEVICE), ==,
                     SRB_STATUS_SUCCESS);
    g_assert_cmpint(x->Stats.TmfCompleted, ==, 2);
    ended = ended && port_lun_outstanding(lun_at(0, 0)) == 0 &&
            port_lun_outstanding(lun_at(0, 1)) == 0;
    batch_wait(b);
    for (unsigned i = 0; i < 2; i++) {
        uint8_t st = port_request_srb_status(b->req[i]);
        g_assert_true(st == SRB_STATUS_BUS_RESET || st == SRB_STATUS_SUCCESS);
        ended = ended && st == SRB_STATUS_BUS_RESET;
    }
    batch_free(b);
    /* Neither escalated: these resets are the unit's business. */
    g_assert_cmpint(x->Stats.HardResets, ==, 0);
    g_assert_cmpint(x->Stats.BusResets, ==, 0);
    g_free(b);
    /* The resets end every command of the unit, including the ones the
     * device held for its latency (regression: they used to come back
     * GOOD after FUNCTION COMPLETE). */
    g_assert_true(ended);
    g_assert_cmpint(x->Stats.Responses[VIRTIO_SCSI_S_RESET], ==, 6);
}

static void test_unit_reset(gconstpointer data)
{
    run_case(data, NULL, unit_reset_body);
}

/*
 * The fallback: the device stops following the rings (a bad head makes it
 * set DEVICE_NEEDS_RESET and raise a configuration interrupt), the
 * miniport resets the device, completes what it held with
 * SRB_STATUS_BUS_RESET and starts it again.
 */
static void hard_reset_body(void *opaque)
{
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    PVIOSCSI_QUEUE q = &x->Queues[VIOSCSI_FIRST_REQUEST];
    VirtioScsiState *dev = virtio_scsi_find("hba0");
    uint64_t notify;
    Batch *b = g_new(Batch, 1);
    uint16_t idx;

    g_assert_nonnull(dev);
    settle();
    batch_init(b);
    for (unsigned i = 0; i < 5; i++) {
        batch_add(b, lun_at(0, 0), i & 1, 64 + i * 8, 8, 30);
    }
    batch_submit(b);
    guest_sleep(100 * NS_PER_US);
    g_assert_cmpuint(virtio_scsi_in_flight(dev), ==, 5);
    /* A head far outside the ring, published and notified, as a broken
     * driver would (no yield point in between: the miniport cannot see a
     * half-made change). */
    idx = q->NextAvail;
    *(volatile uint16_t *)(q->Avail + VIRTQ_AVAIL_RING(idx & (q->Size - 1))) =
        0x7fff;
    q->NextAvail = (uint16_t)(idx + 1);
    *(volatile uint16_t *)(q->Avail + VIRTQ_AVAIL_IDX) = q->NextAvail;
    notify = pci_bar_addr(virtio_scsi_pci(dev), VSCSI_BAR_VIRTIO) +
             VSCSI_NOTIFY_OFF + VSCSI_NOTIFY_MULTIPLIER * q->Index;
    bnd_mmio_write(notify, q->Index, 2);
    batch_wait(b);
    for (unsigned i = 0; i < 5; i++) {
        g_assert_cmphex(port_request_srb_status(b->req[i]), ==,
                        SRB_STATUS_BUS_RESET);
    }
    batch_free(b);
    g_assert_cmpint(x->Stats.HardResets, ==, 1);
    g_assert_cmpint(x->Stats.ConfigChanges, ==, 1);
    g_assert_true(x->Running);
    g_assert_cmpuint(virtio_scsi_in_flight(dev), ==, 0);
    /* The restarted device works. */
    settle();
    g_assert_cmpuint(run_workers(), ==, 0);
    g_free(b);
}

static void test_hard_reset(gconstpointer data)
{
    run_case(data, NULL, hard_reset_body);
}

/* ---- stop, hibernate and restart with I/O in flight ---- */

static void power_body(void *opaque)
{
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    g_autoptr(GError) err = NULL;
    Batch *b = g_new(Batch, 1);
    static const PortPowerAction stops[] = {PORT_POWER_STOP,
                                            PORT_POWER_HIBERNATE};

    settle();
    for (unsigned round = 0; round < G_N_ELEMENTS(stops); round++) {
        /* Writes in flight when the stop comes: the port drains them. */
        batch_init(b);
        for (unsigned i = 0; i < 12; i++) {
            batch_add(b, lun_at(0, i % 2), true, 400 + round * 200 + i * 8, 8,
                      0);
        }
        batch_submit(b);
        g_assert_true(port_power(stops[round], &err));
        g_assert_no_error(err);
        g_assert_cmpuint(b->pending, ==, 0);
        for (unsigned i = 0; i < 12; i++) {
            g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                             SRB_STATUS_SUCCESS);
        }
        batch_free(b);
        g_assert_true(x->Stopped);
        g_assert_false(x->Running);
        g_assert_cmpint(x->Stats.Stops, ==, (LONG)round + 1);

        /* Requests sent while stopped wait for the restart. */
        batch_init(b);
        for (unsigned i = 0; i < 12; i++) {
            batch_add(b, lun_at(0, i % 2), false, 400 + round * 200 + i * 8, 8,
                      0);
        }
        batch_submit(b);
        guest_sleep(NS_PER_MS);
        g_assert_cmpuint(b->pending, ==, 12);
        g_assert_true(port_power(PORT_POWER_RESUME, &err));
        g_assert_no_error(err);
        g_assert_cmpint(x->Stats.Restarts, ==, (LONG)round + 1);
        g_assert_true(x->Running);
        batch_wait(b);
        for (unsigned i = 0; i < 12; i++) {
            uint8_t expect[4096];
            pattern(expect, 400 + round * 200 + i * 8, 8, P0_SEED + 1);
            /* The first command after the restart may see the reset's
             * unit attention; the class driver would retry it. */
            if (port_request_scsi_status(b->req[i]) ==
                    SCSISTAT_CHECK_CONDITION &&
                is_unit_attention(b->req[i])) {
                g_assert_cmpuint(rw_sync(lun_at(0, i % 2), false,
                                         400 + round * 200 + i * 8, 8,
                                         b->buf[i]),
                                 ==, SRB_STATUS_SUCCESS);
            } else {
                g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                                 SRB_STATUS_SUCCESS);
            }
            g_assert_cmpmem(b->buf[i], 4096, expect, 4096);
        }
        batch_free(b);
    }
    /* Nothing of the restart is allocated anew: same rings. */
    g_assert_cmpint(x->Stats.HardResets, ==, 0);
    g_assert_cmpuint(run_workers(), ==, 0);
    g_free(b);
}

static void test_power(gconstpointer data)
{
    run_case(data, NULL, power_body);
}

/* ---- events ---- */

static void events_body(void *opaque)
{
    PVIOSCSI_ADAPTER_EXTENSION x = vs_ext();
    PVIOSCSI_QUEUE q = &x->Queues[VIOSCSI_EVENT_QUEUE];
    VirtioScsiState *dev = virtio_scsi_find("hba0");
    PortAdapter *a = port.adapters[0];

    g_assert_nonnull(dev);
    g_assert_true(x->DriverFeatures & VIRTIO_FEATURE(VIRTIO_SCSI_F_HOTPLUG));
    g_assert_true(x->DriverFeatures & VIRTIO_FEATURE(VIRTIO_SCSI_F_CHANGE));
    g_assert_cmpint(x->Stats.Events, ==, 0);
    a->bus_change_pending = false;
    virtio_scsi_hotplug(dev, 0, 2, true);
    guest_sleep(NS_PER_MS);
    g_assert_cmpint(x->Stats.Events, ==, 1);
    g_assert_cmpint(x->Stats.BusChanges, ==, 1);
    g_assert_true(a->bus_change_pending);

    a->bus_change_pending = false;
    virtio_scsi_param_change(dev, 0, 0, 0x2a, 0x09);
    guest_sleep(NS_PER_MS);
    g_assert_cmpint(x->Stats.Events, ==, 2);
    g_assert_cmpint(x->Stats.BusChanges, ==, 2);
    g_assert_true(a->bus_change_pending);

    /* More events at once than buffers: some are lost, and the device
     * says so; the rescan still happens and the buffers go back. */
    for (unsigned i = 0; i < 2 * x->EventCount; i++) {
        virtio_scsi_hotplug(dev, 0, 2, i & 1);
    }
    guest_sleep(NS_PER_MS);
    g_assert_cmpint(x->Stats.Events, >, 2);
    g_assert_cmpint(x->Stats.EventsMissed, >=, 1);
    g_assert_cmpint(x->Stats.BusChanges, >=, 3);
    g_assert_cmpuint(q->FreeCount, ==, 0);
    g_assert_cmpuint((uint16_t)(q->NextAvail - q->LastUsed), ==, x->EventCount);
}

static void test_events(gconstpointer data)
{
    run_case(data, NULL, events_body);
}

/* ---- the request header the device reads ---- */

/*
 * Storport does not clear an SRB extension, and the port's verifier
 * poisons it: every byte of the request header the device reads must be
 * set by HwStorBuildIo itself, the CDB field padded with zeroes. The same
 * request carries a 16-byte CDB and then shorter ones, so its reused
 * extension held a longer CDB before. Without the verifier the extension
 * keeps the physical address the miniport asked for at the first request
 * and later ones reuse it: the device must still read every header where
 * the extension is.
 */
static unsigned hdr_reads, hdr_unclean, hdr_misplaced;
static uint64_t hdr_gpa;

/* The CDB's length by its group; the whole field for groups without one. */
static unsigned cdb_group_length(uint8_t opcode)
{
    unsigned n = scsi_cdb_length(opcode);

    return n ? n : 16;
}

static void note_header(const BndAccess *a, void *opaque)
{
    const uint8_t *h = a->data;
    bool clean;

    if (a->kind != BND_DMA_READ || a->len != sizeof(VirtioScsiCmdReq) || !h) {
        return;
    }
    clean = h[offsetof(VirtioScsiCmdReqHdr, prio)] == 0 &&
            h[offsetof(VirtioScsiCmdReqHdr, crn)] == 0;
    for (size_t i = offsetof(VirtioScsiCmdReq, cdb) +
                    cdb_group_length(h[offsetof(VirtioScsiCmdReq, cdb)]);
         i < sizeof(VirtioScsiCmdReq); i++) {
        clean &= h[i] == 0;
    }
    hdr_reads++;
    hdr_unclean += !clean;
    hdr_misplaced += a->addr != hdr_gpa;
}

static void header_body(void *opaque)
{
    static const uint8_t tur[6] = {SCSIOP_TEST_UNIT_READY};
    const BndHook hook = {
        .name = "vs-header",
        .kinds = BND_BIT(BND_DMA_READ),
        .after = note_header,
    };
    PortRequest *req = port_request_new(lun_at(0, 0));
    uint8_t *buf = ram_alloc(8 * 512, 16, 0, "vs-test");
    uint8_t cdb[16];
    unsigned n;

    settle();
    hdr_reads = hdr_unclean = hdr_misplaced = 0;
    g_assert_true(ram_gpa(req->srb_ext, &hdr_gpa));
    hdr_gpa += offsetof(VIOSCSI_SRB_EXTENSION, Request);
    g_assert_true(bnd_hook_add(&hook));
    for (unsigned round = 0; round < 2; round++) {
        n = cdb_rw(cdb, false, true, 100, 8);
        g_assert_cmpuint(vs_exec(req, cdb, n, buf, 8 * 512, PORT_XFER_IN), ==,
                         SRB_STATUS_SUCCESS);
        g_assert_cmpuint(vs_exec(req, tur, 6, NULL, 0, PORT_XFER_NONE), ==,
                         SRB_STATUS_SUCCESS);
        n = cdb_rw(cdb, true, false, 100, 8);
        g_assert_cmpuint(vs_exec(req, cdb, n, buf, 8 * 512, PORT_XFER_OUT), ==,
                         SRB_STATUS_SUCCESS);
    }
    bnd_hook_remove(&hook);
    g_assert_cmpuint(hdr_reads, ==, 6);
    g_assert_cmpuint(hdr_unclean, ==, 0);
    g_assert_cmpuint(hdr_misplaced, ==, 0);
    port_request_free(req);
    ram_free(buf);
}

static void test_request_header(gconstpointer data)
{
    run_case(data, NULL, header_body);
}

/* ---- determinism ---- */

static uint64_t end_time;

static void deterministic_body(void *opaque)
{
    data_body(opaque);
    end_time = vclock_now();
}

static void test_deterministic(gconstpointer data)
{
    uint64_t first;

    run_case(data, NULL, deterministic_body);
    first = end_time;
    run_case(data, NULL, deterministic_body);
    g_assert_cmpuint(end_time, ==, first);
}

/* ---- used ring batches ---- */

/*
 * VioScsiVqPopMany on a hand-made used ring: elements come in ring order
 * across the wrap, a batch stops at Max and the next one resumes there,
 * an id past the queue size reads as 0xffff, and VioScsiVqPop (one at a
 * time) sees the same elements.
 */
static void test_used_batches(void)
{
    enum { SIZE = 8, TOTAL = 11 };
    static uint8_t ring[VIRTQ_USED_RING(SIZE) + 8];
    PVIOSCSI_QUEUE q = g_new0(VIOSCSI_QUEUE, 1);
    VIOSCSI_USED used[4];
    USHORT head;
    ULONG length;
    unsigned taken = 0;

    q->Size = SIZE;
    q->Used = ring;
    q->LastUsed = 0xfffd; /* the 16-bit indices wrap too */
    for (unsigned i = 0; i < TOTAL; i++) {
        uint16_t slot = (uint16_t)(q->LastUsed + i) % SIZE;
        uint32_t id = i == 5 ? SIZE + 3 : i % SIZE;
        uint32_t len = 100 + i;

        /* Later elements overwrite earlier slots: pop those first. */
        if (i == SIZE) {
            for (unsigned n; (n = VioScsiVqPopMany(q, used, 3)) != 0;) {
                g_assert_cmpuint(n, <=, 3);
                for (unsigned k = 0; k < n; k++, taken++) {
                    g_assert_cmpuint(used[k].Head, ==,
                                     taken == 5 ? 0xffff : taken % SIZE);
                    g_assert_cmpuint(used[k].Length, ==, 100 + taken);
                }
            }
            g_assert_cmpuint(taken, ==, SIZE);
        }
        memcpy(ring + VIRTQ_USED_RING(slot), &id, 4);
        memcpy(ring + VIRTQ_USED_RING(slot) + 4, &len, 4);
        {
            uint16_t idx = (uint16_t)(0xfffd + i + 1);

            memcpy(ring + VIRTQ_USED_IDX, &idx, sizeof(idx));
        }
    }
    g_assert_true(VioScsiVqPop(q, &head, &length));
    g_assert_cmpuint(head, ==, SIZE % SIZE);
    g_assert_cmpuint(length, ==, 100 + SIZE);
    g_assert_cmpuint(VioScsiVqPopMany(q, used, G_N_ELEMENTS(used)), ==, 2);
    g_assert_cmpuint(used[0].Head, ==, (SIZE + 1) % SIZE);
    g_assert_cmpuint(used[1].Length, ==, 100 + SIZE + 2);
    g_assert_cmpuint(VioScsiVqPopMany(q, used, G_N_ELEMENTS(used)), ==, 0);
    g_assert_false(VioScsiVqPop(q, &head, &length));
    g_assert_cmpuint(q->LastUsed, ==, (uint16_t)(0xfffd + TOTAL));
    g_assert_cmpint(q->Stats.Completed, ==, TOTAL);
    g_free(q);
}

/* ---- bad parameters ---- */

static void test_bad_params(void)
{
    static const char *const params[] = {
        "param.srb=both",
        "param.event_idx=maybe",
        "param.interrupts=many",
        "param.targets=0",
        "param.targets=256",
        "param.targets=12x",
        "param.srb=0123456789012345678901234567890123456789",
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(params); i++) {
        g_autofree char *args = g_strdup_printf(
            "-drive id=d0,size=16M -device virtio-scsi-pci,id=hba0 "
            "-device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi,%s "
            "-guest boot",
            params[i]);
        g_assert_cmpint(gt_harness_storemu(args), !=, 0);
    }
}

/* ---- cases ---- */

static const VsCase data_cases[] = {
    {"/miniport/virtio-scsi/data/msix", NULL, NULL, NULL,
     VioScsiInterruptPerQueue, 1, TRUE, TRUE},
    {"/miniport/virtio-scsi/data/intx", NULL, ",msix=off", NULL,
     VioScsiInterruptLine, 1, TRUE, TRUE},
    {"/miniport/virtio-scsi/data/scsi-srb", NULL, NULL, ",param.srb=scsi",
     VioScsiInterruptPerQueue, 1, FALSE, TRUE},
    {"/miniport/virtio-scsi/data/no-event-idx", "-smp 2", ",num_queues=2",
     ",param.event_idx=off", VioScsiInterruptPerQueue, 2, TRUE, FALSE},
    {"/miniport/virtio-scsi/data/shared-message", "-smp 2", ",num_queues=2",
     ",param.interrupts=shared", VioScsiInterruptShared, 2, TRUE, TRUE},
    {"/miniport/virtio-scsi/data/4-queues-4-cpus-seed1",
     "-smp 4 -machine sched=random,seed=1", ",num_queues=4", NULL,
     VioScsiInterruptPerQueue, 4, TRUE, TRUE},
    {"/miniport/virtio-scsi/data/4-queues-4-cpus-seed2",
     "-smp 4 -machine sched=random,seed=2", ",num_queues=4", NULL,
     VioScsiInterruptPerQueue, 4, TRUE, TRUE},
    {"/miniport/virtio-scsi/data/4-queues-4-cpus-seed3-pct",
     "-smp 4 -machine sched=pct,seed=3", ",num_queues=4", NULL,
     VioScsiInterruptPerQueue, 4, TRUE, TRUE},
    {"/miniport/virtio-scsi/data/intx-4-queues-4-cpus",
     "-smp 4 -machine sched=random,seed=9", ",num_queues=4,msix=off", NULL,
     VioScsiInterruptLine, 4, TRUE, TRUE},
    {"/miniport/virtio-scsi/data/4-queues-2-cpus",
     "-smp 2 -machine sched=random,seed=4", ",num_queues=4", ",param.srb=scsi",
     VioScsiInterruptPerQueue, 2, FALSE, TRUE},
    {"/miniport/virtio-scsi/data/1-queue-3-cpus",
     "-smp 3 -machine sched=random,seed=5", NULL, NULL,
     VioScsiInterruptPerQueue, 1, TRUE, TRUE},
};

typedef struct VsTest {
    const char *path;
    const VsCase c;
    GTestDataFunc fn;
} VsTest;

static const VsTest tests[] = {
    {"/miniport/virtio-scsi/enumerate", {NULL}, test_enumerate},
    {"/miniport/virtio-scsi/enumerate/intx",
     {NULL, NULL, ",msix=off"},
     test_enumerate},
    {"/miniport/virtio-scsi/sense", {NULL}, test_sense},
    {"/miniport/virtio-scsi/sense/scsi-srb",
     {NULL, NULL, NULL, ",param.srb=scsi"},
     test_sense},
    {"/miniport/virtio-scsi/ring-full",
     {NULL, NULL, ",queue_size=4"},
     test_ring_full},
    {"/miniport/virtio-scsi/reset/timeout",
     {NULL, NULL, ",latency=3s", ",param.targets=1"},
     test_reset_timeout},
    {"/miniport/virtio-scsi/reset/timeout-4-queues",
     {NULL, "-smp 4 -machine sched=random,seed=6", ",latency=3s,num_queues=4",
      ",param.targets=1"},
     test_reset_timeout},
    {"/miniport/virtio-scsi/reset/timeout-intx",
     {NULL, NULL, ",latency=3s,msix=off", ",param.targets=1"},
     test_reset_timeout},
    {"/miniport/virtio-scsi/reset/unit",
     {NULL, NULL, ",latency=2s", ",param.targets=1"},
     test_unit_reset},
    {"/miniport/virtio-scsi/reset/unit-scsi-srb",
     {NULL, "-smp 2", ",latency=2s", ",param.srb=scsi,param.targets=1"},
     test_unit_reset},
    {"/miniport/virtio-scsi/reset/device",
     {NULL, NULL, ",latency=2s", ",param.targets=1"},
     test_hard_reset},
    {"/miniport/virtio-scsi/reset/device-intx",
     {NULL, "-smp 2 -machine sched=random,seed=8", ",latency=2s,msix=off",
      ",param.targets=1"},
     test_hard_reset},
    {"/miniport/virtio-scsi/power", {NULL}, test_power},
    {"/miniport/virtio-scsi/power/4-queues",
     {NULL, "-smp 4 -machine sched=random,seed=12", ",num_queues=4"},
     test_power},
    {"/miniport/virtio-scsi/power/intx",
     {NULL, "-smp 2", ",msix=off"},
     test_power},
    {"/miniport/virtio-scsi/events", {NULL}, test_events},
    {"/miniport/virtio-scsi/request-header", {NULL}, test_request_header},
    {"/miniport/virtio-scsi/request-header/no-verifier",
     {NULL, "-verifier off"},
     test_request_header},
    {"/miniport/virtio-scsi/request-header/scsi-srb",
     {NULL, NULL, NULL, ",param.srb=scsi"},
     test_request_header},
    {"/miniport/virtio-scsi/deterministic",
     {NULL, "-smp 4 -machine sched=random,seed=21", ",num_queues=4", NULL,
      VioScsiInterruptPerQueue, 4, TRUE, TRUE},
     test_deterministic},
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    setup_once();
    for (unsigned i = 0; i < G_N_ELEMENTS(data_cases); i++) {
        g_test_add_data_func(data_cases[i].path, &data_cases[i], test_data);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(tests); i++) {
        g_test_add_data_func(tests[i].path, &tests[i].c, tests[i].fn);
    }
    g_test_add_func("/miniport/virtio-scsi/bad-params", test_bad_params);
    g_test_add_func("/miniport/virtio-scsi/used-batches", test_used_batches);
    return g_test_run();
}
