/* SPDX-License-Identifier: MIT */
/*
 * The SCSI bus and the scsi-hd target, driven by a test HBA (the bus ops
 * below) with guest RAM from ram_init() and a scratch image: CDB tables for
 * every command and error path (status, sense in both formats with the
 * field pointer, data, residual), unit attention life cycle, task
 * management, write cache under power cut, host error mapping, DMA
 * errors, and completion order on the virtual clock against forced host
 * completion orders.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "hw/block/aio.h"
#include "hw/block/block.h"
#include "hw/core/qdev.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-bus.h"
#include "hw/scsi/scsi-disk.h"
#include "system/boundary.h"
#include "system/event.h"

#define IMG_SIZE (8ULL << 20)
#define BUF_SIZE (4ULL << 20)
#define BS       512

/* ---- the test HBA --------------------------------------------------- */

typedef struct TestHba {
    SCSIBus *bus;
    GPtrArray *done; /* SCSIRequest*, completion order */
    GArray *done_at; /* uint64_t virtual time of each */
    GArray *done_ev; /* uint64_t event_count() at each */
    /* Called at each completion, if set (a completion's side effects). */
    void (*hook)(struct TestHba *h, SCSIRequest *req);
    void *hook_data;
    GPtrArray *all; /* every request, freed at teardown */
    uint64_t next_tag;
} TestHba;

typedef struct Fixture {
    TestHba hba;
    BlockBackend *blk;
    SCSIDiskState *disk;
    uint64_t gpa; /* data buffer in guest RAM */
    uint8_t *buf;
    uint64_t gpa2; /* second buffer */
    uint8_t *buf2;
} Fixture;

static void hba_complete(SCSIRequest *req, void *opaque)
{
    TestHba *h = opaque;
    uint64_t now = vclock_now();

    g_assert_false(req->in_flight);
    uint64_t events = event_count();

    g_ptr_array_add(h->done, req);
    g_array_append_val(h->done_at, now);
    g_array_append_val(h->done_ev, events);
    if (h->hook) {
        h->hook(h, req);
    }
}

static const SCSIBusOps test_hba_ops = {
    .complete = hba_complete,
};

static bool is_done(TestHba *h, SCSIRequest *req)
{
    for (guint i = 0; i < h->done->len; i++) {
        if (h->done->pdata[i] == req) {
            return true;
        }
    }
    return false;
}

static void run_until_done(TestHba *h, SCSIRequest *req)
{
    while (!is_done(h, req)) {
        g_assert_cmpuint(event_queued(), >, 0);
        event_advance_to_next();
        event_run_due();
    }
}

static void run_all(void)
{
    while (event_queued()) {
        event_advance_to_next();
        event_run_due();
    }
}

typedef struct Cmd {
    uint32_t target, lun, initiator;
    SCSIXferDir dir;
    uint64_t gpa, len; /* one SG element (len 0: none) */
    SCSITaskAttr attr;
} Cmd;

static SCSIRequest *submit(Fixture *f, const uint8_t *cdb, unsigned cdb_len,
                           const Cmd *c)
{
    DmaSgEntry sg = {c->gpa, c->len};
    SCSICommand cmd = {
        .target = c->target,
        .lun = c->lun,
        .tag = f->hba.next_tag++,
        .initiator = c->initiator,
        .attr = c->attr,
        .cdb = cdb,
        .cdb_len = cdb_len,
        .dir = c->dir,
        .sg = &sg,
        .nsg = c->len ? 1 : 0,
    };
    SCSIRequest *req = scsi_req_submit(f->hba.bus, &cmd, NULL);

    g_ptr_array_add(f->hba.all, req);
    /* Never completed inside the submission. */
    g_assert_true(req->in_flight);
    return req;
}

/* Run one command to completion; data goes through f->buf. */
static SCSIRequest *run_cmd(Fixture *f, const uint8_t *cdb, unsigned cdb_len,
                            SCSIXferDir dir, uint64_t len, uint32_t init)
{
    Cmd c = {.dir = dir, .gpa = f->gpa, .len = len, .initiator = init};
    SCSIRequest *req = submit(f, cdb, cdb_len, &c);

    run_until_done(&f->hba, req);
    return req;
}

static SCSIRequest *run_in(Fixture *f, const uint8_t *cdb, unsigned cdb_len,
                           uint64_t len)
{
    return run_cmd(f, cdb, cdb_len, SCSI_XFER_FROM_DEV, len, 0);
}

static SCSIRequest *run_out(Fixture *f, const uint8_t *cdb, unsigned cdb_len,
                            uint64_t len)
{
    return run_cmd(f, cdb, cdb_len, SCSI_XFER_TO_DEV, len, 0);
}

static SCSIRequest *run_none(Fixture *f, const uint8_t *cdb, unsigned cdb_len)
{
    return run_cmd(f, cdb, cdb_len, SCSI_XFER_NONE, 0, 0);
}

static void assert_good(SCSIRequest *req)
{
    if (req->host_status != SCSI_HOST_OK || req->status != SCSI_STATUS_GOOD) {
        SCSISenseInfo si;
        scsi_sense_parse(req->sense, req->sense_len, &si);
        g_error("op 0x%02x: host %d status 0x%02x sense %x/%02x/%02x",
                req->cdb[0], req->host_status, req->status, si.sense.key,
                si.sense.asc, si.sense.ascq);
    }
}

/* CHECK CONDITION with @s; @byte >= 0: a field pointer (CDB if @cd). */
static void assert_sense(SCSIRequest *req, SCSISense s, int byte, int bit,
                         bool cd, bool desc)
{
    SCSISenseInfo si;

    g_assert_cmpint(req->host_status, ==, SCSI_HOST_OK);
    g_assert_cmpint(req->status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmpint(req->sense[0] & 0x7f, ==, desc ? 0x72 : 0x70);
    g_assert_true(scsi_sense_parse(req->sense, req->sense_len, &si));
    if (!scsi_sense_eq(si.sense, s)) {
        g_error("op 0x%02x: sense %x/%02x/%02x, expected %x/%02x/%02x",
                req->cdb[0], si.sense.key, si.sense.asc, si.sense.ascq, s.key,
                s.asc, s.ascq);
    }
    if (byte < 0) {
        g_assert_false(si.field.valid);
        return;
    }
    g_assert_true(si.field.valid);
    g_assert_cmpint(si.field.cdb, ==, cd);
    g_assert_cmpint(si.field.byte, ==, byte);
    g_assert_cmpint(si.field.bit, ==, bit);
}

static void hba_init(TestHba *h, const char *name)
{
    g_autoptr(GError) err = NULL;

    h->bus = scsi_bus_new(name, &test_hba_ops, h, &err);
    g_assert_no_error(err);
    h->done = g_ptr_array_new();
    h->done_at = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    h->done_ev = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    h->all = g_ptr_array_new_with_free_func((GDestroyNotify)scsi_req_free);
    h->next_tag = 1;
}

static void hba_fini(TestHba *h)
{
    scsi_bus_free(h->bus);
    g_ptr_array_free(h->all, TRUE);
    g_ptr_array_free(h->done, TRUE);
    g_array_free(h->done_at, TRUE);
    g_array_free(h->done_ev, TRUE);
}

static void clear_ua(Fixture *f, uint32_t initiator)
{
    static const uint8_t tur[6] = {0};
    SCSIRequest *req = run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, initiator);

    assert_sense(req, SENSE_RESET, -1, -1, false, false);
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, initiator));
}

static void fixture_setup_props(Fixture *f, const SCSIDiskProps *props)
{
    g_autoptr(GError) err = NULL;

    event_loop_init();
    g_assert_true(ram_init(32ULL << 20, &err));
    hba_init(&f->hba, "hba0");
    f->blk = blk_new_temp(IMG_SIZE, 0, &err);
    g_assert_no_error(err);
    f->disk = scsi_disk_new(f->hba.bus, 0, 0, f->blk, props, &err);
    g_assert_no_error(err);
    f->buf = ram_alloc(BUF_SIZE, 4096, 0, "test-buf");
    g_assert_nonnull(f->buf);
    g_assert_true(ram_gpa(f->buf, &f->gpa));
    f->buf2 = ram_alloc(BUF_SIZE, 4096, 0, "test-buf2");
    g_assert_true(ram_gpa(f->buf2, &f->gpa2));
    clear_ua(f, 0);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;

    fixture_setup_props(f, &props);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    hba_fini(&f->hba);
    blk_close(f->blk);
    ram_fini();
    event_loop_fini();
    aio_shutdown();
}

/* Switch the sense format through the control mode page. */
static void set_d_sense(Fixture *f, bool on)
{
    static const uint8_t cdb[6] = {SCSI_OP_MODE_SELECT_6, 0x10, 0, 0, 16};
    uint8_t *p = f->buf;

    memset(p, 0, 16);
    p[4] = 0x0a;
    p[5] = 0x0a;
    p[6] = on ? 0x04 : 0;
    p[7] = 0x10;
    assert_good(run_out(f, cdb, 6, 16));
}

/* ---- CDB error table --------------------------------------------------- */

typedef struct ErrCase {
    const char *name;
    uint8_t cdb[16];
    uint8_t cdb_len;
    SCSIXferDir dir;
    uint32_t len;
    SCSISense sense;
    int byte, bit; /* field pointer; byte -1: none */
} ErrCase;

#define IR(l, b, bt, ...)                                                      \
    .sense = SENSE_INVALID_FIELD, .byte = (b), .bit = (bt), .cdb_len = (l),    \
    .cdb = __VA_ARGS__

static const ErrCase err_cases[] = {
    {"invalid-opcode", {0x02}, 6, .sense = SENSE_INVALID_OPCODE, .byte = -1},
    {"vendor-opcode", {0xc0}, 6, .sense = SENSE_INVALID_OPCODE, .byte = -1},
    {"tur-reserved", IR(6, 1, 7, {0x00, 0x80})},
    {"tur-reserved-byte4", IR(6, 4, 0, {0x00, 0, 0, 0, 0x01})},
    {"tur-naca", IR(6, 5, 2, {0x00, 0, 0, 0, 0, 0x04})},
    {"tur-link", IR(6, 5, 0, {0x00, 0, 0, 0, 0, 0x01})},
    {"short-cdb", IR(6, 0, -1, {SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 1})},
    {"read10-rdprotect",
     IR(10, 1, 5, {SCSI_OP_READ_10, 0x20, 0, 0, 0, 0, 0, 0, 1})},
    {"read10-obsolete-bit",
     IR(10, 1, 1, {SCSI_OP_READ_10, 0x02, 0, 0, 0, 0, 0, 0, 1})},
    {"read10-too-long",
     IR(10, 7, -1, {SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0x40, 0x01})},
    {"read10-out-of-range",
     {SCSI_OP_READ_10, 0, 0, 0, 0x40, 0x00, 0, 0, 1},
     10,
     .sense = SENSE_LBA_OUT_OF_RANGE,
     .byte = -1},
    {"read10-straddles-end",
     {SCSI_OP_READ_10, 0, 0, 0, 0x3f, 0xff, 0, 0, 2},
     10,
     .sense = SENSE_LBA_OUT_OF_RANGE,
     .byte = -1},
    {"read16-lba-wraps",
     {SCSI_OP_READ_16, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
      0, 2},
     16,
     .sense = SENSE_LBA_OUT_OF_RANGE,
     .byte = -1},
    {"read16-dld",
     IR(16, 14, 7,
        {SCSI_OP_READ_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80})},
    {"read12-restricted",
     IR(12, 10, 7, {SCSI_OP_READ_12, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80})},
    {"read6-out-of-range",
     {SCSI_OP_READ_6, 0x1f, 0xff, 0xff, 1},
     6,
     .sense = SENSE_LBA_OUT_OF_RANGE,
     .byte = -1},
    {"write10-wrprotect",
     IR(10, 1, 5, {SCSI_OP_WRITE_10, 0x20, 0, 0, 0, 0, 0, 0, 1})},
    {"write10-rarc",
     IR(10, 1, 2, {SCSI_OP_WRITE_10, 0x04, 0, 0, 0, 0, 0, 0, 1})},
    {"write16-out-of-range",
     {SCSI_OP_WRITE_16, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 1},
     16,
     .dir = SCSI_XFER_TO_DEV,
     .len = 512,
     .sense = SENSE_LBA_OUT_OF_RANGE,
     .byte = -1},
    {"write10-short-sg",
     {SCSI_OP_WRITE_10, 0, 0, 0, 0, 0, 0, 0, 2},
     10,
     .dir = SCSI_XFER_TO_DEV,
     .len = 1000,
     .sense = SENSE_DATA_PHASE_ERROR,
     .byte = -1},
    {"write10-no-data",
     {SCSI_OP_WRITE_10, 0, 0, 0, 0, 0, 0, 0, 1},
     10,
     .sense = SENSE_DATA_PHASE_ERROR,
     .byte = -1},
    {"inquiry-page-without-evpd",
     IR(6, 2, -1, {SCSI_OP_INQUIRY, 0, 0x80, 0, 255})},
    {"inquiry-unknown-vpd", IR(6, 2, -1, {SCSI_OP_INQUIRY, 1, 0x99, 0, 255})},
    {"inquiry-cmddt", IR(6, 1, 1, {SCSI_OP_INQUIRY, 0x02, 0, 0, 255})},
    {"request-sense-reserved",
     IR(6, 2, 0, {SCSI_OP_REQUEST_SENSE, 0, 1, 0, 18})},
    {"mode-sense-saved",
     {SCSI_OP_MODE_SENSE_6, 0, 0xc0 | 0x3f, 0, 255},
     6,
     .sense = SENSE_SAVING_NOT_SUPPORTED,
     .byte = -1},
    {"mode-sense-bad-page",
     IR(6, 2, 5, {SCSI_OP_MODE_SENSE_6, 0, 0x1c, 0, 255})},
    {"mode-sense-subpage",
     IR(10, 3, -1, {SCSI_OP_MODE_SENSE_10, 0, 0x08, 0x01, 0, 0, 0, 0, 255})},
    {"mode-sense10-reserved",
     IR(10, 1, 0, {SCSI_OP_MODE_SENSE_10, 0x01, 0x08})},
    {"mode-select-sp", IR(6, 1, 0, {SCSI_OP_MODE_SELECT_6, 0x11, 0, 0, 0})},
    {"mode-select10-reserved",
     IR(10, 3, 0, {SCSI_OP_MODE_SELECT_10, 0x10, 0, 1})},
    {"start-stop-loej", IR(6, 4, 1, {SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0x03})},
    {"start-stop-power-condition",
     IR(6, 4, 4, {SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0x11})},
    {"start-stop-modifier",
     IR(6, 3, 0, {SCSI_OP_START_STOP_UNIT, 0, 0, 0x01, 1})},
    {"prevent-obsolete", IR(6, 4, 1, {SCSI_OP_PREVENT_ALLOW, 0, 0, 0, 0x02})},
    {"read-capacity-lba-no-pmi",
     IR(10, 2, -1, {SCSI_OP_READ_CAPACITY_10, 0, 0, 0, 0, 1})},
    {"read-capacity16-bad-sa",
     IR(16, 1, 4, {SCSI_OP_SERVICE_ACTION_IN_16, 0x11})},
    {"maintenance-in-bad-sa", IR(12, 1, 4, {SCSI_OP_MAINTENANCE_IN, 0x0a})},
    {"report-luns-short-alloc",
     IR(12, 6, -1, {SCSI_OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 15})},
    {"report-luns-select",
     IR(12, 2, -1, {SCSI_OP_REPORT_LUNS, 0, 0x10, 0, 0, 0, 0, 0, 1, 0})},
    {"rsoc-bad-options",
     IR(12, 2, 2, {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x04, 0, 0, 0, 0, 0, 1, 0})},
    {"rsoc-opcode-has-sa",
     IR(12, 2, -1,
        {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x01, 0x9e, 0, 0, 0, 0, 1, 0})},
    {"rsoc-opcode-without-sa",
     IR(12, 2, -1,
        {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x02, 0x28, 0, 0, 0, 0, 1, 0})},
    {"verify-bytchk-10b",
     IR(10, 1, 2, {SCSI_OP_VERIFY_10, 0x04, 0, 0, 0, 0, 0, 0, 1})},
    {"verify-vrprotect",
     IR(16, 1, 5,
        {SCSI_OP_VERIFY_16, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})},
    {"write-verify-bytchk-11b",
     IR(10, 1, 2, {SCSI_OP_WRITE_VERIFY_10, 0x06, 0, 0, 0, 0, 0, 0, 1})},
    {"write-same-zero-blocks",
     IR(10, 7, -1, {SCSI_OP_WRITE_SAME_10, 0, 0, 0, 0, 0, 0, 0, 0})},
    {"write-same16-too-long",
     IR(16, 10, -1,
        {SCSI_OP_WRITE_SAME_16, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 1})},
    {"write-same16-anchor",
     IR(16, 1, 4,
        {SCSI_OP_WRITE_SAME_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})},
    {"write-same-out-of-range",
     {SCSI_OP_WRITE_SAME_16, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 0xff, 0, 0, 0, 2},
     16,
     .sense = SENSE_LBA_OUT_OF_RANGE,
     .byte = -1},
    {"unmap-anchor", IR(10, 1, 0, {SCSI_OP_UNMAP, 0x01, 0, 0, 0, 0, 0, 0, 24})},
    {"unmap-reserved",
     IR(10, 4, 0, {SCSI_OP_UNMAP, 0, 0, 0, 0x01, 0, 0, 0, 24})},
    {"sync-cache-out-of-range",
     {SCSI_OP_SYNCHRONIZE_CACHE_10, 0, 0, 0, 0x40, 0, 0, 0, 0},
     10,
     .sense = SENSE_LBA_OUT_OF_RANGE,
     .byte = -1},
    {"sync-cache16-sync-nv",
     IR(16, 1, 2, {SCSI_OP_SYNCHRONIZE_CACHE_16, 0x04})},
};

static void test_cdb_errors(Fixture *f, gconstpointer data)
{
    for (int pass = 0; pass < 2; pass++) {
        bool desc = pass == 1;

        set_d_sense(f, desc);
        for (unsigned i = 0; i < G_N_ELEMENTS(err_cases); i++) {
            const ErrCase *c = &err_cases[i];
            SCSIRequest *req =
                run_cmd(f, c->cdb, c->cdb_len, c->dir, c->len, 0);

            if (g_test_verbose()) {
                g_test_message("%s (%s)", c->name, desc ? "desc" : "fixed");
            }
            assert_sense(req, c->sense, c->byte, c->bit, true, desc);
            g_assert_cmpuint(req->transferred, ==, 0);
            g_assert_cmpuint(req->residual, ==,
                             c->dir == SCSI_XFER_NONE ? 0 : c->len);
            if (scsi_sense_eq(c->sense, SENSE_DATA_PHASE_ERROR)) {
                uint64_t need = (uint64_t)c->cdb[8] * BS;
                g_assert_cmpuint(req->overrun, ==,
                                 need -
                                     (c->dir == SCSI_XFER_TO_DEV ? c->len : 0));
            }
        }
    }
}

/*
 * Every bit a command may not set, alone in an otherwise zero CDB, fails
 * it with a field pointer at that bit: the usage data the disk reports
 * (REPORT SUPPORTED OPERATION CODES) and the check it makes agree for
 * every command, byte and bit, whichever way the check is done.
 */
static void test_cdb_reserved_bits(Fixture *f, gconstpointer data)
{
    uint8_t all[4 + 64 * 8];
    unsigned tested = 0;
    uint32_t len;

    {
        uint8_t cdb[12] = {SCSI_OP_MAINTENANCE_IN, 0x0c};

        scsi_put_be32(cdb + 6, sizeof(all));
        assert_good(run_in(f, cdb, 12, sizeof(all)));
        memcpy(all, f->buf, sizeof(all));
    }
    len = scsi_be32(all);
    g_assert_cmpuint(len, <=, sizeof(all) - 4);
    for (uint32_t off = 4; off < 4 + len; off += 8) {
        uint8_t op = all[off];
        uint16_t sa = scsi_be16(all + off + 2);
        bool has_sa = all[off + 5] & 0x01;
        unsigned clen = scsi_be16(all + off + 6);
        uint8_t q[12] = {SCSI_OP_MAINTENANCE_IN, 0x0c, has_sa ? 2 : 1, op};
        uint8_t usage[16];

        scsi_put_be16(q + 4, sa);
        scsi_put_be32(q + 6, 64);
        assert_good(run_in(f, q, 12, 64));
        g_assert_cmpuint(scsi_be16(f->buf + 2), ==, clen);
        memcpy(usage, f->buf + 4, clen);
        for (unsigned byte = 1; byte < clen; byte++) {
            for (int bit = 0; bit < 8; bit++) {
                uint8_t cdb[SCSI_CDB_MAX] = {op, has_sa ? (uint8_t)sa : 0};
                bool ctl = byte == clen - 1;
                SCSIRequest *req;

                if (has_sa && byte == 1 && bit < 5) {
                    continue; /* the service action */
                }
                if (ctl ? bit > 5 : (usage[byte] >> bit) & 1) {
                    continue; /* allowed */
                }
                cdb[byte] |= 1u << bit;
                req = run_none(f, cdb, clen);
                assert_sense(req, SENSE_INVALID_FIELD, byte, bit, true, false);
                tested++;
            }
        }
    }
    g_assert_cmpuint(tested, >, 100);
}

/* The same sense byte for byte, in each format. */
static void test_sense_layout(Fixture *f, gconstpointer data)
{
    static const uint8_t cdb[10] = {SCSI_OP_READ_10, 0x20, 0, 0, 0, 0, 0, 0, 1};
    SCSIRequest *req = run_in(f, cdb, 10, 512);
    static const uint8_t fixed[18] = {
        0x70, 0,    0x05, 0, 0,    0,    0, 10,
        0,    0,    0,    0, 0x24, 0x00, 0, 0xc0 | 0x08 | 5,
        0x00, 0x01,
    };
    static const uint8_t desc[16] = {
        0x72, 0x05, 0x24, 0x00, 0, 0, 0, 8, 0x02, 0x06, 0, 0, 0xc0 | 0x08 | 5,
        0x00, 0x01, 0,
    };

    g_assert_cmpuint(req->sense_len, ==, sizeof(fixed));
    g_assert_true(memcmp(req->sense, fixed, sizeof(fixed)) == 0);
    set_d_sense(f, true);
    req = run_in(f, cdb, 10, 512);
    g_assert_cmpuint(req->sense_len, ==, sizeof(desc));
    g_assert_true(memcmp(req->sense, desc, sizeof(desc)) == 0);
}

/* ---- successful non-media commands ----------------------------------- */

typedef void DataCheck(Fixture *f, SCSIRequest *req);

typedef struct OkCase {
    const char *name;
    uint8_t cdb[16];
    uint8_t cdb_len;
    uint32_t sg_len;
    uint64_t transferred;
    uint64_t overrun;
    DataCheck *check;
} OkCase;

static void check_inquiry(Fixture *f, SCSIRequest *req)
{
    uint8_t *d = f->buf;

    g_assert_cmpint(d[0], ==, 0x00);
    g_assert_cmpint(d[2], ==, 0x07);
    g_assert_cmpint(d[3] & 0x0f, ==, 0x02);
    g_assert_cmpint(d[4], ==, 91);
    g_assert_cmpint(d[7] & 0x02, ==, 0x02);
    g_assert_true(memcmp(d + 8, "STOREMU ", 8) == 0);
    g_assert_true(memcmp(d + 16, "STOREMU HARDDISK", 16) == 0);
    if (req->transferred >= 62) {
        g_assert_cmpint(scsi_be16(d + 60), ==, 0x05c0);
    }
}

static void check_vpd00(Fixture *f, SCSIRequest *req)
{
    static const uint8_t want[] = {0,    0,    0,    6,    0x00,
                                   0x80, 0x83, 0xb0, 0xb1, 0xb2};
    g_assert_true(memcmp(f->buf, want, sizeof(want)) == 0);
}

static void check_vpd80(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpint(f->buf[1], ==, 0x80);
    g_assert_cmpint(scsi_be16(f->buf + 2), ==, strlen("SN-TEST-1"));
    g_assert_true(memcmp(f->buf + 4, "SN-TEST-1", 9) == 0);
}

static void check_vpd83(Fixture *f, SCSIRequest *req)
{
    uint8_t *d = f->buf + 4;
    uint16_t len = scsi_be16(f->buf + 2);

    g_assert_cmpint(f->buf[1], ==, 0x83);
    /* NAA, binary, LU association, 8 bytes, NAA 3h. */
    g_assert_cmpint(d[0], ==, 0x01);
    g_assert_cmpint(d[1], ==, 0x03);
    g_assert_cmpint(d[3], ==, 8);
    g_assert_cmpint(d[4] >> 4, ==, 0x3);
    d += 12;
    /* T10 vendor id, ASCII. */
    g_assert_cmpint(d[0], ==, 0x02);
    g_assert_cmpint(d[1], ==, 0x01);
    g_assert_cmpint(d[3], ==, 24 + 9);
    g_assert_true(memcmp(d + 4, "STOREMU ", 8) == 0);
    g_assert_true(memcmp(d + 28, "SN-TEST-1", 9) == 0);
    g_assert_cmpint(len, ==, 12 + 4 + 33);
    g_assert_cmpuint(req->transferred, ==, 4 + len);
}

static void check_vpdb0(Fixture *f, SCSIRequest *req)
{
    uint8_t *p = f->buf;

    g_assert_cmpint(p[1], ==, 0xb0);
    g_assert_cmpint(scsi_be16(p + 2), ==, 0x3c);
    g_assert_cmpint(p[4] & 1, ==, 1); /* WSNZ */
    g_assert_cmpuint(scsi_be32(p + 8), ==, SDISK_MAX_XFER_BYTES / BS);
    g_assert_cmpuint(scsi_be32(p + 20), ==, SDISK_MAX_UNMAP_BYTES / BS);
    g_assert_cmpuint(scsi_be32(p + 24), ==, SDISK_MAX_UNMAP_DESC);
    g_assert_cmpuint(scsi_be64(p + 36), ==, SDISK_MAX_WS_BYTES / BS);
}

static void check_vpdb1(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpint(f->buf[1], ==, 0xb1);
    g_assert_cmpint(scsi_be16(f->buf + 4), ==, 1); /* non-rotating */
}

static void check_vpdb2(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpint(f->buf[1], ==, 0xb2);
    g_assert_cmpint(scsi_be16(f->buf + 2), ==, 4);
    g_assert_cmpint(f->buf[5], ==, 0x80 | 0x40 | 0x20 | 0x04);
    g_assert_cmpint(f->buf[6] & 7, ==, 0x02); /* thin */
}

static void check_capacity10(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpuint(scsi_be32(f->buf), ==, IMG_SIZE / BS - 1);
    g_assert_cmpuint(scsi_be32(f->buf + 4), ==, BS);
}

static void check_capacity16(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpuint(scsi_be64(f->buf), ==, IMG_SIZE / BS - 1);
    g_assert_cmpuint(scsi_be32(f->buf + 8), ==, BS);
    g_assert_cmpint(f->buf[14] & 0xc0, ==, 0xc0); /* LBPME, LBPRZ */
}

static void check_mode_sense6_all(Fixture *f, SCSIRequest *req)
{
    uint8_t *p = f->buf;

    g_assert_cmpint(p[0], ==, 4 + 8 + 20 + 12 - 1);
    g_assert_cmpint(p[2], ==, 0x10); /* DPOFUA, not WP */
    g_assert_cmpint(p[3], ==, 8);
    g_assert_cmpuint(scsi_be32(p + 4), ==, IMG_SIZE / BS);
    g_assert_cmpuint(scsi_be24(p + 9), ==, BS);
    g_assert_cmpint(p[12], ==, 0x08);
    g_assert_cmpint(p[13], ==, 0x12);
    g_assert_cmpint(p[14], ==, 0x04); /* WCE */
    g_assert_cmpint(p[32], ==, 0x0a);
    g_assert_cmpint(p[33], ==, 0x0a);
    g_assert_cmpint(p[34] & 0x04, ==, 0); /* D_SENSE */
}

static void check_mode_sense10_long(Fixture *f, SCSIRequest *req)
{
    uint8_t *p = f->buf;

    g_assert_cmpint(scsi_be16(p), ==, 8 + 16 + 20 - 2);
    g_assert_cmpint(p[4] & 1, ==, 1); /* LONGLBA */
    g_assert_cmpint(scsi_be16(p + 6), ==, 16);
    g_assert_cmpuint(scsi_be64(p + 8), ==, IMG_SIZE / BS);
    g_assert_cmpuint(scsi_be32(p + 20), ==, BS);
    g_assert_cmpint(p[24], ==, 0x08);
}

static void check_mode_sense_changeable(Fixture *f, SCSIRequest *req)
{
    uint8_t *p = f->buf;

    g_assert_cmpint(p[3], ==, 0); /* DBD */
    g_assert_cmpint(p[4], ==, 0x08);
    g_assert_cmpint(p[6], ==, 0x04); /* only WCE changeable */
    for (int i = 7; i < 24; i++) {
        g_assert_cmpint(p[i], ==, 0);
    }
    g_assert_cmpint(p[24], ==, 0x0a);
    g_assert_cmpint(p[26], ==, 0x04); /* only D_SENSE */
    g_assert_cmpint(p[27], ==, 0);
}

static void check_report_luns(Fixture *f, SCSIRequest *req)
{
    static const uint8_t want[16] = {0, 0, 0, 8};

    g_assert_true(memcmp(f->buf, want, 16) == 0);
}

static void check_no_sense(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpint(f->buf[0], ==, 0x70);
    g_assert_cmpint(f->buf[2], ==, 0);
    g_assert_cmpint(f->buf[12], ==, 0);
}

static void check_no_sense_desc(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpint(f->buf[0], ==, 0x72);
    g_assert_cmpint(f->buf[1], ==, 0);
}

static unsigned n_cmds(void)
{
    return 32;
}

static void check_rsoc_all(Fixture *f, SCSIRequest *req)
{
    uint32_t len = scsi_be32(f->buf);
    bool seen_read16 = false, seen_rc16 = false;

    g_assert_cmpuint(len, ==, n_cmds() * 8);
    for (uint32_t off = 4; off < 4 + len; off += 8) {
        uint8_t *d = f->buf + off;
        if (d[0] == SCSI_OP_READ_16) {
            seen_read16 = true;
            g_assert_cmpint(scsi_be16(d + 6), ==, 16);
            g_assert_cmpint(d[5], ==, 0);
        }
        if (d[0] == SCSI_OP_SERVICE_ACTION_IN_16) {
            seen_rc16 = true;
            g_assert_cmpint(scsi_be16(d + 2), ==, 0x10);
            g_assert_cmpint(d[5], ==, 0x01); /* SERVACTV */
        }
    }
    g_assert_true(seen_read16 && seen_rc16);
}

static void check_rsoc_all_timeouts(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpuint(scsi_be32(f->buf), ==, n_cmds() * 20);
    g_assert_cmpint(f->buf[4 + 5], ==, 0x02); /* CTDP */
    g_assert_cmpint(scsi_be16(f->buf + 12), ==, 0x0a);
}

static void check_rsoc_read10(Fixture *f, SCSIRequest *req)
{
    static const uint8_t usage[10] = {0x28, 0x1c, 0xff, 0xff, 0xff,
                                      0xff, 0x1f, 0xff, 0xff, 0x04};
    g_assert_cmpint(f->buf[1] & 0x07, ==, 0x03);
    g_assert_cmpint(scsi_be16(f->buf + 2), ==, 10);
    g_assert_true(memcmp(f->buf + 4, usage, 10) == 0);
}

static void check_rsoc_rc16(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpint(f->buf[1] & 0x07, ==, 0x03);
    g_assert_cmpint(scsi_be16(f->buf + 2), ==, 16);
    g_assert_cmpint(f->buf[4], ==, 0x9e);
    g_assert_cmpint(f->buf[5], ==, 0x10);
}

static void check_rsoc_unsupported(Fixture *f, SCSIRequest *req)
{
    g_assert_cmpint(f->buf[1] & 0x07, ==, 0x01);
    g_assert_cmpint(scsi_be16(f->buf + 2), ==, 0);
}

static const OkCase ok_cases[] = {
    {"tur", {0}, 6},
    {"inquiry", {SCSI_OP_INQUIRY, 0, 0, 0, 255}, 6, 255, 96, 0, check_inquiry},
    {"inquiry-alloc-short",
     {SCSI_OP_INQUIRY, 0, 0, 0, 36},
     6,
     255,
     36,
     0,
     check_inquiry},
    {"inquiry-buffer-short", {SCSI_OP_INQUIRY, 0, 0, 0, 96}, 6, 20, 20, 76},
    {"vpd-00", {SCSI_OP_INQUIRY, 1, 0x00, 0, 255}, 6, 255, 10, 0, check_vpd00},
    {"vpd-80", {SCSI_OP_INQUIRY, 1, 0x80, 0, 255}, 6, 255, 13, 0, check_vpd80},
    {"vpd-83", {SCSI_OP_INQUIRY, 1, 0x83, 0, 255}, 6, 255, 53, 0, check_vpd83},
    {"vpd-b0", {SCSI_OP_INQUIRY, 1, 0xb0, 0, 255}, 6, 255, 64, 0, check_vpdb0},
    {"vpd-b1", {SCSI_OP_INQUIRY, 1, 0xb1, 0, 255}, 6, 255, 64, 0, check_vpdb1},
    {"vpd-b2", {SCSI_OP_INQUIRY, 1, 0xb2, 0, 255}, 6, 255, 8, 0, check_vpdb2},
    {"read-capacity-10",
     {SCSI_OP_READ_CAPACITY_10},
     10,
     8,
     8,
     0,
     check_capacity10},
    {"read-capacity-16",
     {SCSI_OP_SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32},
     16,
     64,
     32,
     0,
     check_capacity16},
    {"read-capacity-16-alloc-12",
     {SCSI_OP_SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12},
     16,
     64,
     12,
     0},
    {"mode-sense-6-all",
     {SCSI_OP_MODE_SENSE_6, 0, 0x3f, 0, 255},
     6,
     255,
     44,
     0,
     check_mode_sense6_all},
    {"mode-sense-6-all-subpages",
     {SCSI_OP_MODE_SENSE_6, 0, 0x3f, 0xff, 255},
     6,
     255,
     44,
     0,
     check_mode_sense6_all},
    {"mode-sense-10-llbaa",
     {SCSI_OP_MODE_SENSE_10, 0x10, 0x08, 0, 0, 0, 0, 0, 255},
     10,
     255,
     44,
     0,
     check_mode_sense10_long},
    {"mode-sense-6-changeable",
     {SCSI_OP_MODE_SENSE_6, 0x08, 0x7f, 0, 255},
     6,
     255,
     36,
     0,
     check_mode_sense_changeable},
    {"mode-sense-6-default-truncated",
     {SCSI_OP_MODE_SENSE_6, 0, 0xbf, 0, 4},
     6,
     255,
     4,
     0},
    {"report-luns",
     {SCSI_OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0},
     12,
     256,
     16,
     0,
     check_report_luns},
    {"report-luns-well-known",
     {SCSI_OP_REPORT_LUNS, 0, 1, 0, 0, 0, 0, 0, 0, 16},
     12,
     256,
     8,
     0},
    {"request-sense",
     {SCSI_OP_REQUEST_SENSE, 0, 0, 0, 252},
     6,
     252,
     18,
     0,
     check_no_sense},
    {"request-sense-desc",
     {SCSI_OP_REQUEST_SENSE, 1, 0, 0, 252},
     6,
     252,
     8,
     0,
     check_no_sense_desc},
    {"prevent", {SCSI_OP_PREVENT_ALLOW, 0, 0, 0, 1}, 6},
    {"allow", {SCSI_OP_PREVENT_ALLOW, 0, 0, 0, 0}, 6},
    {"start", {SCSI_OP_START_STOP_UNIT, 1, 0, 0, 1}, 6},
    {"sync-cache-10",
     {SCSI_OP_SYNCHRONIZE_CACHE_10, 0x02, 0, 0, 0, 0, 0, 0, 0},
     10},
    {"sync-cache-16-range",
     {SCSI_OP_SYNCHRONIZE_CACHE_16, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0,
      0x10},
     16},
    {"rsoc-all",
     {SCSI_OP_MAINTENANCE_IN, 0x0c, 0, 0, 0, 0, 0, 0, 4, 0},
     12,
     1024,
     4 + 32 * 8,
     0,
     check_rsoc_all},
    {"rsoc-all-timeouts",
     {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x80, 0, 0, 0, 0, 0, 4, 0},
     12,
     1024,
     4 + 32 * 20,
     0,
     check_rsoc_all_timeouts},
    {"rsoc-read10",
     {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 1, 0},
     12,
     256,
     14,
     0,
     check_rsoc_read10},
    {"rsoc-read-capacity-16",
     {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x02, 0x9e, 0, 0x10, 0, 0, 1, 0},
     12,
     256,
     20,
     0,
     check_rsoc_rc16},
    {"rsoc-either",
     {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x03, 0x2a, 0, 0, 0, 0, 1, 0},
     12,
     256,
     14,
     0},
    {"rsoc-unsupported",
     {SCSI_OP_MAINTENANCE_IN, 0x0c, 0x01, 0x02, 0, 0, 0, 0, 1, 0},
     12,
     256,
     4,
     0,
     check_rsoc_unsupported},
    {"rsoc-truncated",
     {SCSI_OP_MAINTENANCE_IN, 0x0c, 0, 0, 0, 0, 0, 0, 0, 10},
     12,
     1024,
     10,
     0},
};

static void test_ok_cases(Fixture *f, gconstpointer data)
{
    SCSIDiskState *d;
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    g_autoptr(GError) err = NULL;
    BlockBackend *blk2 = blk_new_temp(IMG_SIZE, 0, &err);

    /* A second disk with a serial number, for the VPD 80/83 checks. */
    props.serial = "SN-TEST-1";
    d = scsi_disk_new(f->hba.bus, 1, 0, blk2, &props, &err);
    g_assert_no_error(err);
    for (unsigned i = 0; i < G_N_ELEMENTS(ok_cases); i++) {
        const OkCase *c = &ok_cases[i];
        Cmd cmd = {
            .target = 1,
            .dir = c->sg_len ? SCSI_XFER_FROM_DEV : SCSI_XFER_NONE,
            .gpa = f->gpa,
            .len = c->sg_len,
            .initiator = 7,
        };
        SCSIRequest *req;

        if (i == 0) {
            /* First command on the new disk: the power-on UA. */
            req = submit(f, c->cdb, c->cdb_len, &cmd);
            run_until_done(&f->hba, req);
            assert_sense(req, SENSE_RESET, -1, -1, false, false);
        }
        memset(f->buf, 0xcc, 4096);
        req = submit(f, c->cdb, c->cdb_len, &cmd);
        run_until_done(&f->hba, req);
        if (g_test_verbose()) {
            g_test_message("%s", c->name);
        }
        assert_good(req);
        g_assert_cmpuint(req->transferred, ==, c->transferred);
        g_assert_cmpuint(req->overrun, ==, c->overrun);
        g_assert_cmpuint(req->residual, ==, c->sg_len - c->transferred);
        if (c->transferred < 4096) {
            /* Nothing beyond the transfer was written. */
            g_assert_cmpint(f->buf[c->transferred], ==, 0xcc);
        }
        if (c->check) {
            c->check(f, req);
        }
    }
    scsi_disk_free(d);
    blk_close(blk2);
}

/* ---- media commands --------------------------------------------------- */

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 13 + seed * 101 + (i >> 9) * 7);
    }
}

typedef struct RwCase {
    const char *name;
    uint8_t read_op, write_op;
    uint64_t lba;
    uint32_t n;
} RwCase;

static const RwCase rw_cases[] = {
    {"6", SCSI_OP_READ_6, SCSI_OP_WRITE_6, 0x1234, 7},
    {"6-256-blocks", SCSI_OP_READ_6, SCSI_OP_WRITE_6, 100, 256},
    {"10", SCSI_OP_READ_10, SCSI_OP_WRITE_10, 9, 16},
    {"12", SCSI_OP_READ_12, SCSI_OP_WRITE_12, 16383 - 40, 40},
    {"16", SCSI_OP_READ_16, SCSI_OP_WRITE_16, 5000, 1000},
};

static void make_rw_cdb(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n,
                        uint8_t flags)
{
    memset(cdb, 0, 16);
    cdb[0] = op;
    switch (scsi_cdb_length(op)) {
    case 6:
        cdb[1] = (lba >> 16) & 0x1f;
        cdb[2] = lba >> 8;
        cdb[3] = lba;
        cdb[4] = n == 256 ? 0 : n;
        break;
    case 10:
        cdb[1] = flags;
        scsi_put_be32(cdb + 2, lba);
        scsi_put_be16(cdb + 7, n);
        break;
    case 12:
        cdb[1] = flags;
        scsi_put_be32(cdb + 2, lba);
        scsi_put_be32(cdb + 6, n);
        break;
    default:
        cdb[1] = flags;
        scsi_put_be64(cdb + 2, lba);
        scsi_put_be32(cdb + 10, n);
        break;
    }
}

static void test_read_write(Fixture *f, gconstpointer data)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(rw_cases); i++) {
        const RwCase *c = &rw_cases[i];
        uint64_t bytes = (uint64_t)c->n * BS;
        g_autofree uint8_t *img = g_malloc(bytes);
        uint8_t cdb[16];
        SCSIRequest *req;

        pattern(f->buf, bytes, i);
        make_rw_cdb(cdb, c->write_op, c->lba, c->n, 0);
        req = run_out(f, cdb, scsi_cdb_length(c->write_op), bytes);
        assert_good(req);
        g_assert_cmpuint(req->transferred, ==, bytes);
        g_assert_cmpuint(req->residual, ==, 0);
        g_assert_cmpint(blk_pread(f->blk, c->lba * BS, img, bytes), ==, 0);
        g_assert_true(memcmp(img, f->buf, bytes) == 0);

        memset(f->buf, 0, bytes + 512);
        make_rw_cdb(cdb, c->read_op, c->lba, c->n, 0);
        req = run_in(f, cdb, scsi_cdb_length(c->read_op), bytes + 512);
        assert_good(req);
        g_assert_cmpuint(req->transferred, ==, bytes);
        g_assert_cmpuint(req->residual, ==, 512);
        g_assert_cmpuint(req->overrun, ==, 0);
        g_assert_true(memcmp(img, f->buf, bytes) == 0);

        /* FUA (READ(6) has none): the same data, though not by the
         * READ fast path, whose mask turns it away. */
        if (scsi_cdb_length(c->read_op) != 6) {
            memset(f->buf, 0, bytes);
            make_rw_cdb(cdb, c->read_op, c->lba, c->n, 0x08);
            req = run_in(f, cdb, scsi_cdb_length(c->read_op), bytes);
            assert_good(req);
            g_assert_cmpuint(req->transferred, ==, bytes);
            g_assert_true(memcmp(img, f->buf, bytes) == 0);
        }
    }
}

/* A READ whose SG is smaller than the transfer: what fits, and overrun. */
static void test_read_short_sg(Fixture *f, gconstpointer data)
{
    uint8_t cdb[16];
    g_autofree uint8_t *img = g_malloc(4 * BS);
    SCSIRequest *req;

    pattern(img, 4 * BS, 3);
    g_assert_cmpint(blk_pwrite(f->blk, 10 * BS, img, 4 * BS, 0), ==, 0);
    memset(f->buf, 0, 4 * BS);
    make_rw_cdb(cdb, SCSI_OP_READ_10, 10, 4, 0);
    req = run_in(f, cdb, 10, 1000);
    assert_good(req);
    g_assert_cmpuint(req->transferred, ==, 1000);
    g_assert_cmpuint(req->overrun, ==, 4 * BS - 1000);
    g_assert_cmpuint(req->residual, ==, 0);
    g_assert_true(memcmp(f->buf, img, 1000) == 0);
    g_assert_cmpint(f->buf[1000], ==, 0);
    /* Wrong direction: nothing moves, all is overrun. */
    req = run_cmd(f, cdb, 10, SCSI_XFER_TO_DEV, 4 * BS, 0);
    assert_good(req);
    g_assert_cmpuint(req->transferred, ==, 0);
    g_assert_cmpuint(req->overrun, ==, 4 * BS);
    /* Zero blocks: nothing at all. */
    make_rw_cdb(cdb, SCSI_OP_READ_10, 10, 0, 0);
    req = run_in(f, cdb, 10, 512);
    assert_good(req);
    g_assert_cmpuint(req->transferred, ==, 0);
    g_assert_cmpuint(req->residual, ==, 512);
}

/* Several SG elements, odd sizes: scatter and gather are exact. */
static void test_sg_list(Fixture *f, gconstpointer data)
{
    /* 700 + 1 + 1347 = 2048 bytes: four blocks in three pieces. */
    DmaSgEntry sg[3] = {
        {f->gpa + 100, 700},
        {f->gpa2 + 3, 1},
        {f->gpa + 4096, 1347},
    };
    const uint64_t total = 4 * BS;
    uint8_t cdb[16];
    uint8_t src[4 * BS], img[4 * BS];
    SCSICommand cmd = {
        .tag = 99, .cdb = cdb, .cdb_len = 10, .sg = sg, .nsg = 3};
    SCSIRequest *req;

    pattern(src, total, 9);
    memcpy(f->buf + 100, src, 700);
    f->buf2[3] = src[700];
    memcpy(f->buf + 4096, src + 701, total - 701);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 77, 4, 0);
    cmd.dir = SCSI_XFER_TO_DEV;
    req = scsi_req_submit(f->hba.bus, &cmd, NULL);
    g_ptr_array_add(f->hba.all, req);
    run_until_done(&f->hba, req);
    assert_good(req);
    g_assert_cmpuint(req->transferred, ==, total);
    g_assert_cmpint(blk_pread(f->blk, 77 * BS, img, total), ==, 0);
    g_assert_true(memcmp(img, src, total) == 0);
    /* Scatter: READ back into the same shape. */
    memset(f->buf, 0, 8192);
    f->buf2[3] = 0;
    make_rw_cdb(cdb, SCSI_OP_READ_10, 77, 4, 0);
    cmd.dir = SCSI_XFER_FROM_DEV;
    req = scsi_req_submit(f->hba.bus, &cmd, NULL);
    g_ptr_array_add(f->hba.all, req);
    run_until_done(&f->hba, req);
    assert_good(req);
    g_assert_cmpuint(req->transferred, ==, total);
    g_assert_cmpuint(req->residual, ==, 0);
    g_assert_true(memcmp(f->buf + 100, src, 700) == 0);
    g_assert_cmpint(f->buf2[3], ==, src[700]);
    g_assert_true(memcmp(f->buf + 4096, src + 701, total - 701) == 0);
    g_assert_cmpint(f->buf[99], ==, 0);
    g_assert_cmpint(f->buf[800], ==, 0);
}

/* Run @cmd to completion outside the fixture's request list. */
static SCSIRequest *run_own(Fixture *f, const SCSICommand *cmd)
{
    SCSIRequest *req = scsi_req_submit(f->hba.bus, cmd, NULL);

    run_until_done(&f->hba, req);
    return req;
}

/* Free a request run with run_own(), forgetting it as done. */
static void release(Fixture *f, SCSIRequest *req)
{
    for (guint i = 0; i < f->hba.done->len; i++) {
        if (f->hba.done->pdata[i] == req) {
            g_ptr_array_remove_index(f->hba.done, i);
            g_array_remove_index(f->hba.done_at, i);
            break;
        }
    }
    scsi_req_free(req);
}

/*
 * Requests are recycled: a freed one serves the next command, with none
 * of the old outcome left, whatever the size of either SG list. Long
 * lists (more elements than are kept inline), adjacent elements (one host
 * iovec) and empty elements move the right bytes.
 */
static void test_request_reuse(Fixture *f, gconstpointer data)
{
    DmaSgEntry sg[9] = {
        {f->gpa, 512},         {f->gpa + 512, 512},  {f->gpa2 + 1, 511},
        {f->gpa + 2048, 1},    {f->gpa + 3000, 0},   {f->gpa + 4000, 1000},
        {f->gpa + 5000, 1000}, {f->gpa2 + 900, 500}, {f->gpa + 8192, 60},
    };
    DmaSgEntry back[2] = {{f->gpa + 65536, 4000}, {f->gpa + 65536 + 4000, 96}};
    const uint64_t total = 8 * BS;
    uint8_t cdb[16], src[8 * BS], img[8 * BS];
    SCSICommand cmd = {.cdb = cdb, .cdb_len = 10, .sg = sg, .nsg = 9};
    SCSIRequest *req, *old;
    uint64_t pos = 0;

    /* A failing command first: it leaves sense data behind. */
    make_rw_cdb(cdb, SCSI_OP_READ_10, IMG_SIZE / BS, 8, 0);
    cmd.dir = SCSI_XFER_FROM_DEV;
    old = req = run_own(f, &cmd);
    assert_sense(req, SENSE_LBA_OUT_OF_RANGE, -1, -1, false, false);
    release(f, req);

    pattern(src, total, 33);
    for (unsigned i = 0; i < G_N_ELEMENTS(sg); i++) {
        uint8_t *host = ram_ptr(sg[i].addr, sg[i].len);

        memcpy(host, src + pos, sg[i].len);
        pos += sg[i].len;
    }
    g_assert_cmpuint(pos, ==, total);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 40, 8, 0);
    cmd.dir = SCSI_XFER_TO_DEV;
    req = run_own(f, &cmd);
    g_assert_true(req == old); /* the same request, recycled */
    assert_good(req);
    g_assert_cmpuint(req->sense_len, ==, 0);
    g_assert_cmpuint(req->nsg, ==, 9);
    g_assert_cmpuint(req->transferred, ==, total);
    g_assert_cmpuint(req->residual, ==, 0);
    g_assert_cmpint(blk_pread(f->blk, 40 * BS, img, total), ==, 0);
    g_assert_true(memcmp(img, src, total) == 0);
    release(f, req);

    /* Read it back through a short list, into another recycled one. */
    make_rw_cdb(cdb, SCSI_OP_READ_10, 40, 8, 0);
    cmd.dir = SCSI_XFER_FROM_DEV;
    cmd.sg = back;
    cmd.nsg = 2;
    memset(f->buf + 65536, 0, total);
    req = run_own(f, &cmd);
    assert_good(req);
    g_assert_cmpuint(req->nsg, ==, 2);
    g_assert_cmpuint(req->sg[1].len, ==, 96);
    g_assert_cmpuint(req->transferred, ==, total);
    g_assert_true(memcmp(f->buf + 65536, src, total) == 0);
    release(f, req);
}

typedef struct DmaCounter {
    unsigned before[BND_KIND_COUNT], after[BND_KIND_COUNT];
    uint64_t bytes[BND_KIND_COUNT];
    bool refuse;
} DmaCounter;

static bool dma_before(BndAccess *a, void *opaque)
{
    DmaCounter *c = opaque;

    if (a->kind != BND_DMA_READ && a->kind != BND_DMA_WRITE) {
        return false;
    }
    c->before[a->kind]++;
    if (c->refuse) {
        a->ok = false;
        return true;
    }
    return false;
}

static void dma_after(const BndAccess *a, void *opaque)
{
    DmaCounter *c = opaque;

    if (a->kind == BND_DMA_READ || a->kind == BND_DMA_WRITE) {
        c->after[a->kind]++;
        if (a->ok) {
            c->bytes[a->kind] += a->len;
        }
    }
}

/* Zero-copy DMA is reported to the boundary layer; a refused DMA and an
 * SG outside RAM are DMA errors. */
static void test_dma(Fixture *f, gconstpointer data)
{
    DmaCounter cnt = {0};
    BndHook hook = {.name = "test",
                    .before = dma_before,
                    .after = dma_after,
                    .opaque = &cnt};
    uint8_t cdb[16];
    SCSIRequest *req;
    Cmd c = {.dir = SCSI_XFER_TO_DEV, .gpa = ram_size - 512, .len = 1024};
    uint8_t img[1024];

    g_assert_true(bnd_hook_add(&hook));
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 0, 2, 0);
    memset(f->buf, 0x5a, 1024);
    assert_good(run_out(f, cdb, 10, 1024));
    g_assert_cmpuint(cnt.before[BND_DMA_READ], ==, 1);
    g_assert_cmpuint(cnt.after[BND_DMA_READ], ==, 1);
    g_assert_cmpuint(cnt.bytes[BND_DMA_READ], ==, 1024);
    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 2, 0);
    assert_good(run_in(f, cdb, 10, 1024));
    g_assert_cmpuint(cnt.after[BND_DMA_WRITE], ==, 1);
    g_assert_cmpuint(cnt.bytes[BND_DMA_WRITE], ==, 1024);
    /* The hook refuses: DMA error, nothing written. */
    cnt.refuse = true;
    memset(f->buf, 0x6b, 1024);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 0, 2, 0);
    req = run_out(f, cdb, 10, 1024);
    g_assert_cmpint(req->host_status, ==, SCSI_HOST_DMA_ERROR);
    g_assert_cmpuint(req->transferred, ==, 0);
    g_assert_cmpuint(req->residual, ==, 1024);
    g_assert_cmpuint(cnt.before[BND_DMA_READ], ==, cnt.after[BND_DMA_READ]);
    cnt.refuse = false;
    bnd_hook_remove(&hook);
    g_assert_cmpint(blk_pread(f->blk, 0, img, 1024), ==, 0);
    g_assert_cmpint(img[0], ==, 0x5a);
    /* An SG element that runs off the end of RAM. */
    req = submit(f, cdb, 10, &c);
    run_until_done(&f->hba, req);
    g_assert_cmpint(req->host_status, ==, SCSI_HOST_DMA_ERROR);
    c.dir = SCSI_XFER_FROM_DEV;
    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 2, 0);
    req = submit(f, cdb, 10, &c);
    run_until_done(&f->hba, req);
    g_assert_cmpint(req->host_status, ==, SCSI_HOST_DMA_ERROR);
    /* Buffered data-in to a bad SG, too. */
    cdb[0] = SCSI_OP_INQUIRY;
    cdb[4] = 96;
    c.gpa = UINT64_MAX - 10;
    req = submit(f, cdb, 6, &c);
    run_until_done(&f->hba, req);
    g_assert_cmpint(req->host_status, ==, SCSI_HOST_DMA_ERROR);
    g_assert_cmpuint(req->transferred, ==, 0);
}

/*
 * Hooks on one side only: an after-only hook (the verifier's kind) sees
 * every zero-copy element once the data moved; a before-only hook can
 * still refuse, and the crossings are counted either way.
 */
static void test_dma_one_sided(Fixture *f, gconstpointer data)
{
    DmaCounter cnt = {0};
    BndHook after_only = {.name = "after", .after = dma_after, .opaque = &cnt};
    BndHook before_only = {
        .name = "before", .before = dma_before, .opaque = &cnt};
    uint8_t cdb[16];
    uint64_t counted;
    SCSIRequest *req;

    g_assert_true(bnd_hook_add(&after_only));
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 0, 2, 0);
    memset(f->buf, 0x3c, 1024);
    assert_good(run_out(f, cdb, 10, 1024));
    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 2, 0);
    assert_good(run_in(f, cdb, 10, 1024));
    g_assert_cmpuint(cnt.after[BND_DMA_READ], ==, 1);
    g_assert_cmpuint(cnt.bytes[BND_DMA_READ], ==, 1024);
    g_assert_cmpuint(cnt.after[BND_DMA_WRITE], ==, 1);
    g_assert_cmpuint(cnt.bytes[BND_DMA_WRITE], ==, 1024);
    bnd_hook_remove(&after_only);

    memset(&cnt, 0, sizeof(cnt));
    cnt.refuse = true;
    g_assert_true(bnd_hook_add(&before_only));
    counted = bnd_counts[BND_DMA_READ];
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 0, 2, 0);
    req = run_out(f, cdb, 10, 1024);
    g_assert_cmpint(req->host_status, ==, SCSI_HOST_DMA_ERROR);
    g_assert_cmpuint(cnt.before[BND_DMA_READ], ==, 1);
    g_assert_cmpuint(cnt.after[BND_DMA_READ], ==, 0);
    g_assert_cmpuint(bnd_counts[BND_DMA_READ], ==, counted + 1);
    bnd_hook_remove(&before_only);
}

/*
 * A list of one element, the usual I/O, against the general walk: the
 * range inside it, past it, crossing the end of RAM, empty; mapped,
 * counted and reported to an after-hook the same way (dma-sg.c takes a
 * shortcut for the first).
 */
static void test_dma_one_element(Fixture *f, gconstpointer data)
{
    static const struct {
        int64_t at; /* element address: >= 0 from f->gpa, < 0 from RAM end */
        uint64_t elen, skip, len;
        int ret;     /* dma_sg_map() */
        int64_t bad; /* *bad_gpa, relative like @at */
    } cases[] = {
        {0, 4096, 0, 4096, 1, 0},        {0, 8192, 0, 4096, 1, 0},
        {0, 4096, 0, 1, 1, 0},           {0, 4096, 512, 512, 1, 0},
        {0, 4096, 0, 4097, -1, 4096},    {0, 4096, 0, 0, 0, 0},
        {-512, 4096, 0, 1024, -1, -512}, {-512, 512, 0, 512, 1, -512},
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t base = cases[i].at >= 0 ? f->gpa : ram_size;
        DmaSgEntry sg = {base + cases[i].at, cases[i].elen};
        struct iovec iov[2];
        uint64_t bad = 0;
        unsigned chunks = 99;
        DmaCounter cnt = {0};
        BndHook after_only = {
            .name = "test", .after = dma_after, .opaque = &cnt};
        int r = dma_sg_map(&sg, 1, cases[i].skip, cases[i].len, iov, 2, &bad,
                           &chunks);

        g_assert_cmpint(r, ==, cases[i].ret);
        if (r < 0) {
            g_assert_cmpuint(bad, ==, base + cases[i].bad);
            continue;
        }
        g_assert_cmpuint(chunks, ==,
                         dma_sg_chunks(&sg, 1, cases[i].skip, cases[i].len));
        if (r > 0) {
            g_assert_true(iov[0].iov_base ==
                          ram_ptr(sg.addr + cases[i].skip, cases[i].len));
            g_assert_cmpuint(iov[0].iov_len, ==, cases[i].len);
        }
        g_assert_true(bnd_hook_add(&after_only));
        dma_sg_end(BND_DMA_WRITE, &sg, 1, cases[i].skip, cases[i].len, true);
        dma_sg_end(BND_DMA_READ, &sg, 1, cases[i].skip, cases[i].len, false);
        bnd_hook_remove(&after_only);
        g_assert_cmpuint(cnt.after[BND_DMA_WRITE], ==, chunks);
        g_assert_cmpuint(cnt.bytes[BND_DMA_WRITE], ==, cases[i].len);
        g_assert_cmpuint(cnt.after[BND_DMA_READ], ==, chunks);
        g_assert_cmpuint(cnt.bytes[BND_DMA_READ], ==, 0);
    }
    /* An empty element has no end to point at. */
    {
        DmaSgEntry sg = {f->gpa, 0};
        struct iovec iov;
        uint64_t bad = 1;

        g_assert_cmpint(dma_sg_map(&sg, 1, 0, 512, &iov, 1, &bad, NULL), ==,
                        -1);
        g_assert_cmpuint(bad, ==, 0);
    }
}

/*
 * With no hook on DMA, a zero-copy transfer counts one crossing per SG
 * element it crosses, taken from the mapping (dma_sg_map()'s chunk count)
 * rather than from a second walk of the list: the same number as a hook
 * would see, and as dma_sg_chunks() gives, whatever the layout (an empty
 * element, adjacent ones sharing an iovec, a last element used in part).
 */
static void test_dma_unwatched_count(Fixture *f, gconstpointer data)
{
    DmaCounter cnt = {0};
    BndHook after_only = {.name = "test", .after = dma_after, .opaque = &cnt};
    DmaSgEntry sg[] = {
        {f->gpa, 512},        {f->gpa + 4096, 0},    {f->gpa + 512, 256},
        {f->gpa + 8192, 512}, {f->gpa + 12288, 512},
    };
    SCSICommand cmd = {.cdb = NULL, .cdb_len = 10, .sg = sg, .nsg = 5};
    struct iovec iov[G_N_ELEMENTS(sg)];
    uint8_t cdb[16];
    uint64_t bad, before;
    unsigned chunks = 99;

    cmd.cdb = cdb;
    for (uint64_t skip = 0; skip <= 1024; skip += 256) {
        for (uint64_t len = 1; skip + len <= 1792; len += 255) {
            g_assert_cmpint(dma_sg_map(sg, 5, skip, len, iov, 5, &bad, &chunks),
                            >, 0);
            g_assert_cmpuint(chunks, ==, dma_sg_chunks(sg, 5, skip, len));
        }
    }
    /* 1024 bytes: elements 0, 2 and part of 3 (two iovecs). */
    g_assert_cmpint(dma_sg_map(sg, 5, 0, 1024, iov, 5, &bad, &chunks), ==, 2);
    g_assert_cmpuint(chunks, ==, 3);

    g_assert_false(bnd_watched(BND_DMA_WRITE));
    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 2, 0);
    cmd.dir = SCSI_XFER_FROM_DEV;
    before = bnd_counts[BND_DMA_WRITE];
    release(f, run_own(f, &cmd));
    g_assert_cmpuint(bnd_counts[BND_DMA_WRITE] - before, ==, 3);

    /* A watched transfer: the hook sees those three, counted alike. */
    g_assert_true(bnd_hook_add(&after_only));
    before = bnd_counts[BND_DMA_WRITE];
    release(f, run_own(f, &cmd));
    g_assert_cmpuint(cnt.after[BND_DMA_WRITE], ==, 3);
    g_assert_cmpuint(cnt.bytes[BND_DMA_WRITE], ==, 1024);
    g_assert_cmpuint(bnd_counts[BND_DMA_WRITE] - before, ==, 3);
    bnd_hook_remove(&after_only);
}

typedef struct VerifyCase {
    const char *name;
    uint8_t op;
    uint8_t byte1;
    uint32_t n;
    int corrupt; /* byte of data-out to change, -1 none */
    bool good;
    uint64_t info;
} VerifyCase;

static const VerifyCase verify_cases[] = {
    {"medium", SCSI_OP_VERIFY_10, 0x00, 8, -1, true},
    {"bytchk-match", SCSI_OP_VERIFY_16, 0x02, 8, -1, true},
    {"bytchk-miscompare", SCSI_OP_VERIFY_10, 0x02, 8, 1300, false, 1300},
    {"bytchk-one-block", SCSI_OP_VERIFY_12, 0x06, 8, -1, true},
    {"bytchk-one-block-miscompare", SCSI_OP_VERIFY_10, 0x06, 8, 5, false, 5},
    {"write-verify", SCSI_OP_WRITE_VERIFY_10, 0x00, 8, -1, true},
    {"write-verify-bytchk", SCSI_OP_WRITE_VERIFY_16, 0x02, 8, -1, true},
    {"write-verify-12", SCSI_OP_WRITE_VERIFY_12, 0x12, 3, -1, true},
};

static void test_verify(Fixture *f, gconstpointer data)
{
    g_autofree uint8_t *img = g_malloc(8 * BS);

    for (unsigned i = 0; i < G_N_ELEMENTS(verify_cases); i++) {
        const VerifyCase *c = &verify_cases[i];
        bool wv = c->op == SCSI_OP_WRITE_VERIFY_10 ||
                  c->op == SCSI_OP_WRITE_VERIFY_12 ||
                  c->op == SCSI_OP_WRITE_VERIFY_16;
        bool one = (c->byte1 & 0x06) == 0x06;
        uint64_t out = wv || (c->byte1 & 0x02) ? (one ? BS : c->n * BS) : 0;
        uint8_t cdb[16];
        SCSIRequest *req;

        /* Eight identical blocks on the medium (so 11b can match). */
        pattern(img, BS, i);
        for (int b = 1; b < 8; b++) {
            memcpy(img + b * BS, img, BS);
        }
        g_assert_cmpint(blk_pwrite(f->blk, 64 * BS, img, 8 * BS, 0), ==, 0);
        if (wv) {
            pattern(f->buf, c->n * BS, i + 50);
        } else {
            memcpy(f->buf, img, out);
        }
        if (c->corrupt >= 0) {
            f->buf[c->corrupt] ^= 0xff;
        }
        make_rw_cdb(cdb, c->op, 64, c->n, c->byte1);
        req = run_cmd(f, cdb, scsi_cdb_length(c->op),
                      out ? SCSI_XFER_TO_DEV : SCSI_XFER_NONE, out, 0);
        if (c->good) {
            assert_good(req);
            g_assert_cmpuint(req->transferred, ==, out);
        } else {
            SCSISenseInfo si;
            assert_sense(req, SENSE_MISCOMPARE, -1, -1, false, false);
            scsi_sense_parse(req->sense, req->sense_len, &si);
            g_assert_true(si.info_valid);
            g_assert_cmpuint(si.info, ==, c->info);
        }
        if (wv) {
            g_assert_cmpint(blk_pread(f->blk, 64 * BS, img, c->n * BS), ==, 0);
            g_assert_true(memcmp(img, f->buf, c->n * BS) == 0);
        }
    }
}

static void test_write_same(Fixture *f, gconstpointer data)
{
    g_autofree uint8_t *img = g_malloc(300 * BS);
    uint8_t block[BS];
    uint8_t cdb[16] = {0};
    SCSIRequest *req;

    /* WRITE SAME(10) of a pattern over 300 blocks. */
    pattern(block, BS, 4);
    memcpy(f->buf, block, BS);
    cdb[0] = SCSI_OP_WRITE_SAME_10;
    scsi_put_be32(cdb + 2, 1000);
    scsi_put_be16(cdb + 7, 300);
    req = run_out(f, cdb, 10, BS);
    assert_good(req);
    g_assert_cmpuint(req->transferred, ==, BS);
    g_assert_cmpint(blk_pread(f->blk, 1000 * BS, img, 300 * BS), ==, 0);
    for (int b = 0; b < 300; b++) {
        g_assert_true(memcmp(img + b * BS, block, BS) == 0);
    }
    /* WRITE SAME(16) UNMAP with a zero block deallocates: zeros there,
     * the pattern around. */
    memset(f->buf, 0, BS);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = SCSI_OP_WRITE_SAME_16;
    cdb[1] = 0x08;
    scsi_put_be64(cdb + 2, 1100);
    scsi_put_be32(cdb + 10, 100);
    assert_good(run_out(f, cdb, 16, BS));
    g_assert_cmpint(blk_pread(f->blk, 1000 * BS, img, 300 * BS), ==, 0);
    for (int b = 0; b < 300; b++) {
        if (b >= 100 && b < 200) {
            for (int i = 0; i < BS; i++) {
                g_assert_cmpint(img[b * BS + i], ==, 0);
            }
        } else {
            g_assert_true(memcmp(img + b * BS, block, BS) == 0);
        }
    }
    /* NDOB: no data-out at all, zeros. */
    cdb[1] = 0x01;
    scsi_put_be64(cdb + 2, 1000);
    scsi_put_be32(cdb + 10, 50);
    assert_good(run_none(f, cdb, 16));
    g_assert_cmpint(blk_pread(f->blk, 1000 * BS, img, 51 * BS), ==, 0);
    for (int i = 0; i < 50 * BS; i++) {
        g_assert_cmpint(img[i], ==, 0);
    }
    g_assert_true(memcmp(img + 50 * BS, block, BS) == 0);
    /* Missing data-out block. */
    cdb[1] = 0;
    req = run_none(f, cdb, 16);
    assert_sense(req, SENSE_DATA_PHASE_ERROR, -1, -1, false, false);
    g_assert_cmpuint(req->overrun, ==, BS);
}

typedef struct UnmapCase {
    const char *name;
    uint16_t plen;
    uint16_t data_len, bd_len;
    uint8_t reserved4;
    unsigned ndesc;
    uint64_t lba;
    uint32_t n;
    SCSISense sense; /* SENSE_NO_SENSE: GOOD */
    int byte;
} UnmapCase;

static const UnmapCase unmap_cases[] = {
    {"one", 24, 22, 16, 0, 1, 2000, 64, SENSE_NO_SENSE, -1},
    {"two", 40, 38, 32, 0, 2, 3000, 8, SENSE_NO_SENSE, -1},
    {"partial-descriptor-ignored", 30, 28, 22, 0, 1, 4000, 8, SENSE_NO_SENSE,
     -1},
    {"empty-list", 0, 0, 0, 0, 0, 0, 0, SENSE_NO_SENSE, -1},
    {"short-list", 4, 2, 0, 0, 0, 0, 0, SENSE_PARAM_LIST_LENGTH, -1},
    {"data-length-too-big", 24, 30, 16, 0, 1, 0, 1, SENSE_INVALID_PARAM, 0},
    {"bd-length-too-big", 24, 22, 32, 0, 1, 0, 1, SENSE_INVALID_PARAM, 2},
    {"reserved-header", 24, 22, 16, 1, 1, 0, 1, SENSE_INVALID_PARAM, 4},
    {"out-of-range", 24, 22, 16, 0, 1, IMG_SIZE / BS - 1, 2,
     SENSE_LBA_OUT_OF_RANGE, -1},
    {"too-many-blocks", 24, 22, 16, 0, 1, 0, SDISK_MAX_UNMAP_BYTES / BS + 1,
     SENSE_LBA_OUT_OF_RANGE, -1},
};

static void test_unmap(Fixture *f, gconstpointer data)
{
    g_autofree uint8_t *img = g_malloc(64 * BS);

    for (unsigned i = 0; i < G_N_ELEMENTS(unmap_cases); i++) {
        const UnmapCase *c = &unmap_cases[i];
        uint8_t cdb[10] = {SCSI_OP_UNMAP};
        uint8_t *p = f->buf;
        SCSIRequest *req;

        memset(img, 0xab, 64 * BS);
        if (c->n && c->n <= 64 && c->lba + c->n <= IMG_SIZE / BS) {
            g_assert_cmpint(blk_pwrite(f->blk, c->lba * BS, img, c->n * BS, 0),
                            ==, 0);
        }
        memset(p, 0, 256);
        scsi_put_be16(p, c->data_len);
        scsi_put_be16(p + 2, c->bd_len);
        p[4] = c->reserved4;
        for (unsigned d = 0; d < c->ndesc; d++) {
            scsi_put_be64(p + 8 + 16 * d, c->lba + 16 * d);
            scsi_put_be32(p + 16 + 16 * d, c->n);
        }
        scsi_put_be16(cdb + 7, c->plen);
        req = run_out(f, cdb, 10, c->plen);
        if (scsi_sense_eq(c->sense, SENSE_NO_SENSE)) {
            assert_good(req);
            if (c->n) {
                g_assert_cmpint(blk_pread(f->blk, c->lba * BS, img, c->n * BS),
                                ==, 0);
                for (uint64_t b = 0; b < c->n * BS; b++) {
                    g_assert_cmpint(img[b], ==, 0);
                }
            }
        } else {
            assert_sense(req, c->sense, c->byte, -1, false, false);
        }
    }
}

/* More descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. */
static void test_unmap_too_many(Fixture *f, gconstpointer data)
{
    unsigned n = SDISK_MAX_UNMAP_DESC + 1;
    uint16_t plen = 8 + 16 * n;
    uint8_t cdb[10] = {SCSI_OP_UNMAP};
    SCSIRequest *req;

    memset(f->buf, 0, plen);
    scsi_put_be16(f->buf, plen - 2);
    scsi_put_be16(f->buf + 2, plen - 8);
    scsi_put_be16(cdb + 7, plen);
    req = run_out(f, cdb, 10, plen);
    assert_sense(req, SENSE_INVALID_PARAM, 2, -1, false, false);
    /* The parameter list may not be longer than the data-out buffer. */
    req = run_out(f, cdb, 10, plen - 1);
    assert_sense(req, SENSE_DATA_PHASE_ERROR, -1, -1, false, false);
}

/* ---- MODE SELECT ------------------------------------------------------ */

typedef struct SelectCase {
    const char *name;
    bool ten;
    uint8_t data[48];
    uint8_t len;
    SCSISense sense; /* SENSE_NO_SENSE: GOOD */
    int byte, bit;
} SelectCase;

/* Header (6): 4 bytes; block descriptor 8; caching page 20. */
#define CACHING_PAGE(wce)                                                      \
    0x08, 0x12, (wce) ? 0x04 : 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
        0, 0

static const SelectCase select_cases[] = {
    {"wce-off",
     false,
     {0, 0, 0, 0, CACHING_PAGE(0)},
     24,
     SENSE_NO_SENSE,
     -1,
     -1},
    {"with-block-descriptor",
     false,
     {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x02, 0x00, CACHING_PAGE(1)},
     32,
     SENSE_NO_SENSE,
     -1,
     -1},
    {"ten-long-lba",
     true,
     {0, 0, 0,    0, 1, 0, 0, 16, 0, 0, 0,    0,
      0, 0, 0x40, 0, 0, 0, 0, 0,  0, 0, 0x02, 0x00},
     24,
     SENSE_NO_SENSE,
     -1,
     -1},
    {"bad-block-length",
     false,
     {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0x00},
     12,
     SENSE_INVALID_PARAM,
     9,
     -1},
    {"bad-block-count",
     false,
     {0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0x02, 0x00},
     12,
     SENSE_INVALID_PARAM,
     4,
     -1},
    {"mode-data-length-set",
     false,
     {23, 0, 0, 0, CACHING_PAGE(0)},
     24,
     SENSE_INVALID_PARAM,
     0,
     -1},
    {"medium-type", false, {0, 1, 0, 0}, 4, SENSE_INVALID_PARAM, 1, -1},
    {"bd-length",
     false,
     {0, 0, 0, 4, 0, 0, 0, 0},
     8,
     SENSE_INVALID_PARAM,
     3,
     -1},
    {"not-changeable-bit",
     false,
     {0, 0, 0, 0, 0x08, 0x12, 0x05},
     24,
     SENSE_INVALID_PARAM,
     6,
     0},
    {"not-changeable-byte",
     false,
     {0, 0, 0, 0, 0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0x80},
     24,
     SENSE_INVALID_PARAM,
     12,
     7},
    {"page-length",
     false,
     {0, 0, 0, 0, 0x08, 0x10},
     22,
     SENSE_INVALID_PARAM,
     5,
     -1},
    {"unknown-page",
     false,
     {0, 0, 0, 0, 0x1c, 0x0a},
     16,
     SENSE_INVALID_PARAM,
     4,
     5},
    {"subpage-format",
     false,
     {0, 0, 0, 0, 0x48, 0x12},
     24,
     SENSE_INVALID_PARAM,
     4,
     6},
    {"truncated-page",
     false,
     {0, 0, 0, 0, 0x08, 0x12, 0x04},
     10,
     SENSE_PARAM_LIST_LENGTH,
     -1,
     -1},
    {"short-header", true, {0, 0, 0, 0}, 4, SENSE_PARAM_LIST_LENGTH, -1, -1},
    {"lone-byte",
     false,
     {0, 0, 0, 0, 0x08},
     5,
     SENSE_PARAM_LIST_LENGTH,
     -1,
     -1},
    {"control-d-sense",
     false,
     {0, 0, 0, 0, 0x0a, 0x0a, 0x04, 0x10},
     16,
     SENSE_NO_SENSE,
     -1,
     -1},
    {"control-not-changeable",
     false,
     {0, 0, 0, 0, 0x0a, 0x0a, 0x00, 0x00},
     16,
     SENSE_INVALID_PARAM,
     7,
     4},
};

static void test_mode_select(Fixture *f, gconstpointer data)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(select_cases); i++) {
        const SelectCase *c = &select_cases[i];
        uint8_t cdb[10] = {0};
        SCSIRequest *req;

        cdb[0] = c->ten ? SCSI_OP_MODE_SELECT_10 : SCSI_OP_MODE_SELECT_6;
        cdb[1] = 0x10;
        if (c->ten) {
            scsi_put_be16(cdb + 7, c->len);
        } else {
            cdb[4] = c->len;
        }
        memset(f->buf, 0, 64);
        memcpy(f->buf, c->data, sizeof(c->data));
        req = run_out(f, cdb, c->ten ? 10 : 6, c->len);
        if (g_test_verbose()) {
            g_test_message("%s", c->name);
        }
        if (scsi_sense_eq(c->sense, SENSE_NO_SENSE)) {
            assert_good(req);
        } else {
            assert_sense(req, c->sense, c->byte, c->bit, false, false);
        }
        /* Back to defaults for the next case. */
        g_assert_cmpint(
            scsi_bus_tmf(f->hba.bus, SCSI_TMF_LUN_RESET, 0, 0, 0, 0), ==,
            SCSI_TMF_RESP_COMPLETE);
        clear_ua(f, 0);
    }
}

/* WCE through MODE SELECT reaches the backend's cache model, and a mode
 * change is a unit attention for everyone but the sender. */
static void test_mode_change_ua(Fixture *f, gconstpointer data)
{
    static const uint8_t sel[6] = {SCSI_OP_MODE_SELECT_6, 0x10, 0, 0, 24};
    static const uint8_t sense6[6] = {SCSI_OP_MODE_SENSE_6, 0x08, 0x08, 0, 255};
    static const uint8_t tur[6] = {0};
    SCSIRequest *req;

    clear_ua(f, 1);
    g_assert_true(blk_write_cache(f->blk));
    memset(f->buf, 0, 24);
    memcpy(f->buf + 4, (uint8_t[]){0x08, 0x12, 0x00}, 3);
    assert_good(run_out(f, sel, 6, 24));
    g_assert_false(blk_write_cache(f->blk));
    req = run_in(f, sense6, 6, 255);
    assert_good(req);
    g_assert_cmpint(f->buf[4 + 2] & 0x04, ==, 0);
    /* The sender (initiator 0) sees no UA, initiator 1 sees 2A/01 once. */
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 0));
    req = run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 1);
    assert_sense(req, SENSE_MODE_CHANGED, -1, -1, false, false);
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 1));
    /* A new initiator gets the power-on UA, then the mode change. */
    req = run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 9);
    assert_sense(req, SENSE_RESET, -1, -1, false, false);
    req = run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 9);
    assert_sense(req, SENSE_MODE_CHANGED, -1, -1, false, false);
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 9));
    /* Same values again: no change, no UA. */
    memset(f->buf, 0, 24);
    memcpy(f->buf + 4, (uint8_t[]){0x08, 0x12, 0x00}, 3);
    assert_good(run_out(f, sel, 6, 24));
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 1));
    /* A LUN reset restores the default (WCE on). */
    scsi_bus_tmf(f->hba.bus, SCSI_TMF_LUN_RESET, 0, 0, 0, 0);
    g_assert_true(blk_write_cache(f->blk));
}

/* ---- unit attention life cycle ---------------------------------------- */

static void test_unit_attention(Fixture *f, gconstpointer data)
{
    static const uint8_t tur[6] = {0};
    static const uint8_t inq[6] = {SCSI_OP_INQUIRY, 0, 0, 0, 36};
    static const uint8_t luns[12] = {
        SCSI_OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 16};
    static const uint8_t rs[6] = {SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18};
    static const uint8_t rs_desc[6] = {SCSI_OP_REQUEST_SENSE, 1, 0, 0, 32};
    static const uint8_t bad[6] = {0x02};
    SCSIRequest *req;
    SCSISenseInfo si;

    /* Initiator 1: INQUIRY and REPORT LUNS neither report nor clear it. */
    assert_good(run_cmd(f, inq, 6, SCSI_XFER_FROM_DEV, 36, 1));
    assert_good(run_cmd(f, luns, 12, SCSI_XFER_FROM_DEV, 16, 1));
    /* Any other command gets it, even an invalid one; once. */
    req = run_cmd(f, bad, 6, SCSI_XFER_NONE, 0, 1);
    assert_sense(req, SENSE_RESET, -1, -1, false, false);
    req = run_cmd(f, bad, 6, SCSI_XFER_NONE, 0, 1);
    assert_sense(req, SENSE_INVALID_OPCODE, -1, -1, false, false);
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 1));
    /* Initiator 2: REQUEST SENSE returns it as data and clears it. */
    req = run_cmd(f, rs, 6, SCSI_XFER_FROM_DEV, 18, 2);
    assert_good(req);
    g_assert_true(scsi_sense_parse(f->buf, 18, &si));
    g_assert_true(scsi_sense_eq(si.sense, SENSE_RESET));
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 2));
    req = run_cmd(f, rs, 6, SCSI_XFER_FROM_DEV, 18, 2);
    assert_good(req);
    g_assert_true(scsi_sense_parse(f->buf, 18, &si));
    g_assert_true(scsi_sense_eq(si.sense, SENSE_NO_SENSE));
    /* A LUN reset: every initiator sees 29/00 again, in the format asked
     * for by REQUEST SENSE. */
    g_assert_cmpint(scsi_bus_tmf(f->hba.bus, SCSI_TMF_LUN_RESET, 0, 0, 0, 0),
                    ==, SCSI_TMF_RESP_COMPLETE);
    req = run_cmd(f, rs_desc, 6, SCSI_XFER_FROM_DEV, 32, 1);
    assert_good(req);
    g_assert_cmpint(f->buf[0], ==, 0x72);
    g_assert_true(scsi_sense_parse(f->buf, 32, &si));
    g_assert_true(scsi_sense_eq(si.sense, SENSE_RESET));
    for (uint32_t init = 0; init <= 2; init += 2) {
        req = run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, init);
        assert_sense(req, SENSE_RESET, -1, -1, false, false);
        assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, init));
    }
    /* A target reset and a bus reset do the same. */
    scsi_bus_tmf(f->hba.bus, SCSI_TMF_TARGET_RESET, 0, 0, 0, 0);
    assert_sense(run_none(f, tur, 6), SENSE_RESET, -1, -1, false, false);
    scsi_bus_reset(f->hba.bus);
    assert_sense(run_none(f, tur, 6), SENSE_RESET, -1, -1, false, false);
    assert_good(run_none(f, tur, 6));
}

/* A reset replaces a queued mode-change UA. */
static void test_ua_reset_supersedes(Fixture *f, gconstpointer data)
{
    static const uint8_t tur[6] = {0};

    clear_ua(f, 1);
    scsi_device_queue_ua(scsi_disk_device(f->disk), SENSE_MODE_CHANGED, true,
                         0);
    scsi_bus_tmf(f->hba.bus, SCSI_TMF_LUN_RESET, 0, 0, 0, 0);
    assert_sense(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 1), SENSE_RESET, -1, -1,
                 false, false);
    assert_good(run_cmd(f, tur, 6, SCSI_XFER_NONE, 0, 1));
}

/* ---- START STOP UNIT -------------------------------------------------- */

static void test_start_stop(Fixture *f, gconstpointer data)
{
    static const uint8_t stop[6] = {SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0};
    static const uint8_t start[6] = {SCSI_OP_START_STOP_UNIT, 0, 0, 0, 1};
    static const uint8_t tur[6] = {0};
    static const uint8_t inq[6] = {SCSI_OP_INQUIRY, 0, 0, 0, 36};
    static const uint8_t rs[6] = {SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18};
    uint8_t rd[16], img[512];
    SCSIRequest *req;
    SCSISenseInfo si;

    /* Stopping writes the cache back. */
    memset(f->buf, 0x3c, BS);
    make_rw_cdb(rd, SCSI_OP_WRITE_10, 0, 1, 0);
    assert_good(run_out(f, rd, 10, BS));
    g_assert_cmpuint(blk_cache_dirty_bytes(f->blk), >, 0);
    assert_good(run_none(f, stop, 6));
    g_assert_cmpuint(blk_cache_dirty_bytes(f->blk), ==, 0);
    assert_sense(run_none(f, tur, 6), SENSE_NOT_READY_START_REQUIRED, -1, -1,
                 false, false);
    make_rw_cdb(rd, SCSI_OP_READ_10, 0, 1, 0);
    assert_sense(run_in(f, rd, 10, BS), SENSE_NOT_READY_START_REQUIRED, -1, -1,
                 false, false);
    /* READ(16) has a path of its own in sdisk_start(). */
    make_rw_cdb(rd, SCSI_OP_READ_16, 0, 1, 0);
    assert_sense(run_in(f, rd, 16, BS), SENSE_NOT_READY_START_REQUIRED, -1, -1,
                 false, false);
    assert_good(run_in(f, inq, 6, 36));
    req = run_in(f, rs, 6, 18);
    assert_good(req);
    g_assert_true(scsi_sense_parse(f->buf, 18, &si));
    g_assert_true(scsi_sense_eq(si.sense, SENSE_NOT_READY_START_REQUIRED));
    assert_good(run_none(f, start, 6));
    assert_good(run_none(f, tur, 6));
    blk_power_cut(f->blk);
    g_assert_cmpint(blk_pread(f->blk, 0, img, BS), ==, 0);
    g_assert_cmpint(img[0], ==, 0x3c);
}

/* ---- write cache and power cut through SCSI ------------------------- */

static void test_scsi_power_cut(Fixture *f, gconstpointer data)
{
    static const uint8_t sync[10] = {SCSI_OP_SYNCHRONIZE_CACHE_10};
    uint8_t cdb[16], img[BS];

    /* LBA 0 cached then synced, 1 FUA, 2 cached only, 3 FUA via (16). */
    memset(f->buf, 0x01, BS);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 0, 1, 0);
    assert_good(run_out(f, cdb, 10, BS));
    assert_good(run_none(f, sync, 10));
    memset(f->buf, 0x02, BS);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 8, 1, 0x08);
    assert_good(run_out(f, cdb, 10, BS));
    memset(f->buf, 0x03, BS);
    make_rw_cdb(cdb, SCSI_OP_WRITE_12, 16, 1, 0);
    assert_good(run_out(f, cdb, 12, BS));
    memset(f->buf, 0x04, BS);
    make_rw_cdb(cdb, SCSI_OP_WRITE_16, 24, 1, 0x08);
    assert_good(run_out(f, cdb, 16, BS));
    blk_power_cut(f->blk);
    for (int i = 0; i < 4; i++) {
        static const uint8_t want[4] = {0x01, 0x02, 0x00, 0x04};
        g_assert_cmpint(blk_pread(f->blk, i * 8 * BS, img, BS), ==, 0);
        g_assert_cmpint(img[0], ==, want[i]);
        g_assert_cmpint(img[BS - 1], ==, want[i]);
    }
}

static void test_wce_off_prop(void)
{
    Fixture fx = {0}, *f = &fx;
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    static const uint8_t sense6[6] = {SCSI_OP_MODE_SENSE_6, 0x08, 0x08, 0, 255};
    uint8_t cdb[16], img[BS];

    props.wce = false;
    fixture_setup_props(f, &props);
    g_assert_false(blk_write_cache(f->blk));
    assert_good(run_in(f, sense6, 6, 255));
    g_assert_cmpint(f->buf[4 + 2] & 0x04, ==, 0);
    memset(f->buf, 0x55, BS);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 5, 1, 0);
    assert_good(run_out(f, cdb, 10, BS));
    blk_power_cut(f->blk);
    g_assert_cmpint(blk_pread(f->blk, 5 * BS, img, BS), ==, 0);
    g_assert_cmpint(img[0], ==, 0x55);
    fixture_teardown(f, NULL);
}

/* ---- host I/O errors -------------------------------------------------- */

typedef struct IoErrCase {
    const char *name;
    int err;
    unsigned ops;
    uint8_t op;
    uint32_t lba, n;
    SCSISense sense;
    bool info;
    uint64_t info_lba;
} IoErrCase;

static const IoErrCase ioerr_cases[] = {
    {"read-eio", EIO, BLK_OP_BIT(BLK_OP_READ), SCSI_OP_READ_10, 100, 8,
     SENSE_READ_ERROR, true, 104},
    {"write-eio", EIO, BLK_OP_BIT(BLK_OP_WRITE), SCSI_OP_WRITE_16, 100, 8,
     SENSE_WRITE_ERROR, true, 104},
    {"write-enospc", ENOSPC, BLK_OP_BIT(BLK_OP_WRITE), SCSI_OP_WRITE_10, 100, 8,
     SENSE_SPACE_ALLOC_FAILED, false},
    {"verify-eio", EIO, BLK_OP_BIT(BLK_OP_READ), SCSI_OP_VERIFY_10, 104, 8,
     SENSE_READ_ERROR, true, 104},
    {"sync-cache-eio", EIO, BLK_OP_BIT(BLK_OP_FLUSH),
     SCSI_OP_SYNCHRONIZE_CACHE_10, 0, 0, SENSE_WRITE_ERROR, false},
    {"unmap-eio", EIO, BLK_OP_BIT(BLK_OP_DISCARD), SCSI_OP_UNMAP, 100, 8,
     SENSE_WRITE_ERROR, true, 104},
};

static void test_io_errors(Fixture *f, gconstpointer data)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(ioerr_cases); i++) {
        const IoErrCase *c = &ioerr_cases[i];
        uint8_t cdb[16];
        SCSIXferDir dir = SCSI_XFER_NONE;
        uint64_t len = 0;
        SCSIRequest *req;
        SCSISenseInfo si;

        blk_inject_error(f->blk, c->err, c->ops, 104 * BS, BS, 1);
        make_rw_cdb(cdb, c->op, c->lba, c->n, 0);
        if (c->op == SCSI_OP_WRITE_10 || c->op == SCSI_OP_WRITE_16) {
            dir = SCSI_XFER_TO_DEV;
            len = c->n * BS;
        } else if (c->op == SCSI_OP_READ_10) {
            dir = SCSI_XFER_FROM_DEV;
            len = c->n * BS;
        } else if (c->op == SCSI_OP_UNMAP) {
            memset(cdb, 0, 10);
            cdb[0] = SCSI_OP_UNMAP;
            cdb[8] = 24;
            memset(f->buf, 0, 24);
            f->buf[1] = 22;
            f->buf[3] = 16;
            scsi_put_be64(f->buf + 8, c->lba);
            scsi_put_be32(f->buf + 16, c->n);
            dir = SCSI_XFER_TO_DEV;
            len = 24;
        }
        req = run_cmd(f, cdb, scsi_cdb_length(c->op), dir, len, 0);
        assert_sense(req, c->sense, -1, -1, false, false);
        scsi_sense_parse(req->sense, req->sense_len, &si);
        g_assert_cmpint(si.info_valid, ==, c->info);
        if (c->info) {
            g_assert_cmpuint(si.info, ==, c->info_lba);
        }
        /* The count ran out: the same command works now. */
        req = run_cmd(f, cdb, scsi_cdb_length(c->op), dir, len, 0);
        assert_good(req);
    }
}

static void test_readonly(void)
{
    Fixture fx = {0}, *f = &fx;
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-scsi-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "ro.img", NULL);
    g_autofree uint8_t *zeros = g_malloc0(1 << 20);
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    static const uint8_t sense6[6] = {SCSI_OP_MODE_SENSE_6, 0, 0x08, 0, 255};
    uint8_t cdb[16];

    g_assert_true(g_file_set_contents(path, (char *)zeros, 1 << 20, NULL));
    event_loop_init();
    g_assert_true(ram_init(32ULL << 20, &err));
    hba_init(&f->hba, "hba0");
    f->blk = blk_open(path, BLK_OPEN_READONLY, &err);
    g_assert_no_error(err);
    f->disk = scsi_disk_new(f->hba.bus, 0, 0, f->blk, &props, &err);
    g_assert_no_error(err);
    f->buf = ram_alloc(BUF_SIZE, 4096, 0, "buf");
    ram_gpa(f->buf, &f->gpa);
    clear_ua(f, 0);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 0, 1, 0);
    assert_sense(run_out(f, cdb, 10, BS), SENSE_WRITE_PROTECTED, -1, -1, false,
                 false);
    cdb[0] = SCSI_OP_WRITE_SAME_10;
    assert_sense(run_out(f, cdb, 10, BS), SENSE_WRITE_PROTECTED, -1, -1, false,
                 false);
    assert_good(run_in(f, sense6, 6, 255));
    g_assert_cmpint(f->buf[2] & 0x80, ==, 0x80); /* WP */
    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 1, 0);
    assert_good(run_in(f, cdb, 10, BS));
    fixture_teardown(f, NULL);
    g_unlink(path);
    g_rmdir(dir);
}

/* cache=none: guest buffers at odd addresses go through bounce buffers,
 * aligned ones straight to the image; the data is the same. */
static void test_nocache_disk(void)
{
    Fixture fx = {0}, *f = &fx;
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-scsi-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "direct.img", NULL);
    g_autofree uint8_t *zeros = g_malloc0(1 << 20);
    g_autofree uint8_t *img = g_malloc(64 * BS);
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    uint8_t cdb[16] = {0};
    Cmd c = {.dir = SCSI_XFER_TO_DEV, .len = 8 * BS};
    SCSIRequest *req;
    BlkStats st;

    g_assert_true(g_file_set_contents(path, (char *)zeros, 1 << 20, NULL));
    f->blk = blk_open(path, BLK_OPEN_NOCACHE, &err);
    if (!f->blk) {
        g_test_skip(err->message);
        g_unlink(path);
        g_rmdir(dir);
        return;
    }
    event_loop_init();
    g_assert_true(ram_init(32ULL << 20, &err));
    hba_init(&f->hba, "hba0");
    f->disk = scsi_disk_new(f->hba.bus, 0, 0, f->blk, &props, &err);
    g_assert_no_error(err);
    f->buf = ram_alloc(BUF_SIZE, 4096, 0, "buf");
    ram_gpa(f->buf, &f->gpa);
    clear_ua(f, 0);
    /* Unaligned data-out, then aligned data-in. */
    pattern(f->buf + 100, 8 * BS, 21);
    c.gpa = f->gpa + 100;
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 16, 8, 0);
    req = submit(f, cdb, 10, &c);
    run_until_done(&f->hba, req);
    assert_good(req);
    make_rw_cdb(cdb, SCSI_OP_READ_10, 16, 8, 0);
    c.dir = SCSI_XFER_FROM_DEV;
    c.gpa = f->gpa + 65536;
    req = submit(f, cdb, 10, &c);
    run_until_done(&f->hba, req);
    assert_good(req);
    g_assert_true(memcmp(f->buf + 65536, f->buf + 100, 8 * BS) == 0);
    /* WRITE SAME's pattern buffer is aligned already. */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = SCSI_OP_WRITE_SAME_10;
    scsi_put_be32(cdb + 2, 64);
    scsi_put_be16(cdb + 7, 64);
    memset(f->buf, 0x9d, BS);
    assert_good(run_out(f, cdb, 10, BS));
    blk_get_stats(f->blk, &st);
    g_assert_cmpuint(st.bounced, ==, 1);
    g_assert_cmpint(blk_pread(f->blk, 64 * BS, img, 64 * BS), ==, 0);
    for (int i = 0; i < 64 * BS; i++) {
        g_assert_cmpint(img[i], ==, 0x9d);
    }
    fixture_teardown(f, NULL);
    g_unlink(path);
    g_rmdir(dir);
}

/* ---- task management -------------------------------------------------- */

static void test_abort(Fixture *f, gconstpointer data)
{
    uint8_t cdb[16];
    Cmd c = {.dir = SCSI_XFER_FROM_DEV, .gpa = f->gpa, .len = 64 * BS};
    SCSIRequest *a, *b, *d;

    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 64, 0);
    a = submit(f, cdb, 10, &c);
    b = submit(f, cdb, 10, &c);
    c.initiator = 5;
    d = submit(f, cdb, 10, &c);
    /* scsi_req_cancel completes before it returns. */
    g_assert_true(scsi_req_cancel(a));
    g_assert_true(is_done(&f->hba, a));
    g_assert_cmpint(a->host_status, ==, SCSI_HOST_ABORTED);
    g_assert_cmpint(a->status, ==, SCSI_STATUS_TASK_ABORTED);
    g_assert_cmpuint(a->transferred, ==, 0);
    g_assert_false(scsi_req_cancel(a));
    /* QUERY TASK and ABORT TASK by tag, for the right initiator only. */
    g_assert_cmpint(
        scsi_bus_tmf(f->hba.bus, SCSI_TMF_QUERY_TASK, 0, 0, b->tag, 0), ==,
        SCSI_TMF_RESP_SUCCEEDED);
    g_assert_cmpint(
        scsi_bus_tmf(f->hba.bus, SCSI_TMF_QUERY_TASK, 0, 0, b->tag, 5), ==,
        SCSI_TMF_RESP_COMPLETE);
    g_assert_cmpint(
        scsi_bus_tmf(f->hba.bus, SCSI_TMF_ABORT_TASK, 0, 0, b->tag, 5), ==,
        SCSI_TMF_RESP_COMPLETE);
    g_assert_false(is_done(&f->hba, b));
    g_assert_cmpint(
        scsi_bus_tmf(f->hba.bus, SCSI_TMF_ABORT_TASK, 0, 0, b->tag, 0), ==,
        SCSI_TMF_RESP_COMPLETE);
    g_assert_true(is_done(&f->hba, b));
    g_assert_cmpint(b->host_status, ==, SCSI_HOST_ABORTED);
    /* ABORT TASK SET of initiator 5. */
    g_assert_cmpint(
        scsi_bus_tmf(f->hba.bus, SCSI_TMF_ABORT_TASK_SET, 0, 0, 0, 5), ==,
        SCSI_TMF_RESP_COMPLETE);
    g_assert_true(is_done(&f->hba, d));
    g_assert_cmpint(d->host_status, ==, SCSI_HOST_ABORTED);
    g_assert_cmpuint(scsi_bus_in_flight(f->hba.bus), ==, 0);
    g_assert_cmpuint(event_queued(), ==, 0);
    /* No such LUN. */
    g_assert_cmpint(scsi_bus_tmf(f->hba.bus, SCSI_TMF_LUN_RESET, 0, 3, 0, 0),
                    ==, SCSI_TMF_RESP_INCORRECT_LUN);
    g_assert_cmpint(scsi_bus_tmf(f->hba.bus, SCSI_TMF_TARGET_RESET, 4, 0, 0, 0),
                    ==, SCSI_TMF_RESP_INCORRECT_LUN);
}

typedef struct ResetCase {
    const char *name;
    int kind; /* 0 LUN reset, 1 target reset, 2 bus reset, 3 clear */
    SCSIHostStatus hs;
} ResetCase;

static const ResetCase reset_cases[] = {
    {"lun-reset", 0, SCSI_HOST_RESET},
    {"target-reset", 1, SCSI_HOST_RESET},
    {"bus-reset", 2, SCSI_HOST_RESET},
    {"clear-task-set", 3, SCSI_HOST_ABORTED},
};

static void test_reset_in_flight(Fixture *f, gconstpointer data)
{
    static const uint8_t tur[6] = {0};

    for (unsigned k = 0; k < G_N_ELEMENTS(reset_cases); k++) {
        const ResetCase *rc = &reset_cases[k];
        uint8_t cdb[16];
        Cmd c = {.dir = SCSI_XFER_TO_DEV, .gpa = f->gpa, .len = 8 * BS};
        SCSIRequest *r[4];
        guint first = f->hba.done->len;

        for (int i = 0; i < 4; i++) {
            make_rw_cdb(cdb, i % 2 ? SCSI_OP_WRITE_10 : SCSI_OP_READ_10, i * 8,
                        8, 0);
            c.dir = i % 2 ? SCSI_XFER_TO_DEV : SCSI_XFER_FROM_DEV;
            r[i] = submit(f, cdb, 10, &c);
        }
        switch (rc->kind) {
        case 0:
            scsi_bus_tmf(f->hba.bus, SCSI_TMF_LUN_RESET, 0, 0, 0, 0);
            break;
        case 1:
            scsi_bus_tmf(f->hba.bus, SCSI_TMF_TARGET_RESET, 0, 0, 0, 0);
            break;
        case 2:
            scsi_bus_reset(f->hba.bus);
            break;
        default:
            scsi_bus_tmf(f->hba.bus, SCSI_TMF_CLEAR_TASK_SET, 0, 0, 0, 0);
            break;
        }
        /* All of them, in submission order, before the call returned. */
        g_assert_cmpuint(f->hba.done->len, ==, first + 4);
        for (int i = 0; i < 4; i++) {
            g_assert_true(f->hba.done->pdata[first + i] == r[i]);
            g_assert_cmpint(r[i]->host_status, ==, rc->hs);
            g_assert_cmpint(r[i]->status, ==, SCSI_STATUS_TASK_ABORTED);
        }
        g_assert_cmpuint(event_queued(), ==, 0);
        g_assert_cmpuint(aio_in_flight(), ==, 0);
        if (rc->kind != 3) {
            clear_ua(f, 0);
        } else {
            assert_good(run_none(f, tur, 6));
        }
    }
}

/* ---- addressing ------------------------------------------------------- */

static void test_addressing(Fixture *f, gconstpointer data)
{
    static const uint8_t inq[6] = {SCSI_OP_INQUIRY, 0, 0, 0, 96};
    static const uint8_t tur[6] = {0};
    static const uint8_t rs[6] = {SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18};
    static const uint8_t luns[12] = {
        SCSI_OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    g_autoptr(GError) err = NULL;
    BlockBackend *b2 = blk_new_temp(1 << 20, 0, &err);
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    SCSIDiskState *d2;
    Cmd c = {.lun = 1, .dir = SCSI_XFER_FROM_DEV, .gpa = f->gpa, .len = 96};
    SCSIRequest *req;
    SCSISenseInfo si;

    /* LUN 1 of target 0 does not exist. */
    req = submit(f, inq, 6, &c);
    run_until_done(&f->hba, req);
    assert_good(req);
    g_assert_cmpint(f->buf[0], ==, 0x7f);
    g_assert_cmpuint(req->transferred, ==, 36);
    c.len = 18;
    req = submit(f, rs, 6, &c);
    run_until_done(&f->hba, req);
    assert_good(req);
    scsi_sense_parse(f->buf, 18, &si);
    g_assert_true(scsi_sense_eq(si.sense, SENSE_LUN_NOT_SUPPORTED));
    c.dir = SCSI_XFER_NONE;
    c.len = 0;
    req = submit(f, tur, 6, &c);
    run_until_done(&f->hba, req);
    assert_sense(req, SENSE_LUN_NOT_SUPPORTED, -1, -1, false, false);
    /* A second LUN in flat space addressing shows up in REPORT LUNS, asked
     * through a LUN that does not exist. */
    d2 = scsi_disk_new(f->hba.bus, 0, 300, b2, &props, &err);
    g_assert_no_error(err);
    c.lun = 5;
    c.dir = SCSI_XFER_FROM_DEV;
    c.len = 256;
    req = submit(f, luns, 12, &c);
    run_until_done(&f->hba, req);
    assert_good(req);
    g_assert_cmpuint(req->transferred, ==, 24);
    g_assert_cmpuint(scsi_be32(f->buf), ==, 16);
    g_assert_cmpint(f->buf[8], ==, 0);
    g_assert_cmpint(f->buf[9], ==, 0);
    g_assert_cmpint(f->buf[16], ==, 0x40 | (300 >> 8));
    g_assert_cmpint(f->buf[17], ==, 300 & 0xff);
    /* No target 3 at all: selection timeout. */
    c.target = 3;
    c.lun = 0;
    req = submit(f, inq, 6, &c);
    run_until_done(&f->hba, req);
    g_assert_cmpint(req->host_status, ==, SCSI_HOST_NO_TARGET);
    g_assert_cmpuint(req->transferred, ==, 0);
    /* A taken address and an out-of-range one are config errors. */
    g_assert_null(scsi_disk_new(f->hba.bus, 0, 300, b2, &props, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    scsi_disk_free(d2);
    g_assert_null(
        scsi_disk_new(f->hba.bus, 0, SCSI_MAX_LUN + 1, b2, &props, &err));
    g_assert_nonnull(strstr(err->message, "out of range"));
    blk_close(b2);
}

static void test_bus_find(void)
{
    TestHba a, b;

    g_assert_null(scsi_bus_find(NULL));
    hba_init(&a, "hba0");
    hba_init(&b, "hba1");
    g_assert_true(scsi_bus_find(NULL) == a.bus);
    g_assert_true(scsi_bus_find("hba1") == b.bus);
    g_assert_true(scsi_bus_find("hba1.0") == b.bus);
    g_assert_null(scsi_bus_find("hba1.1"));
    g_assert_null(scsi_bus_find("hba"));
    {
        g_autoptr(GError) err = NULL;
        g_assert_null(scsi_bus_new("hba1", &test_hba_ops, NULL, &err));
        g_assert_nonnull(strstr(err->message, "exists already"));
    }
    hba_fini(&a);
    g_assert_true(scsi_bus_find(NULL) == b.bus);
    hba_fini(&b);
    g_assert_null(scsi_bus_find(NULL));
}

/* ---- -device scsi-hd --------------------------------------------------- */

typedef struct HdCase {
    const char *opts;
    const char *needle; /* NULL: success */
    uint32_t target, lun;
} HdCase;

static const HdCase hd_cases[] = {
    {"scsi-hd,drive=d0", NULL, 0, 0},
    {"scsi-hd,drive=d0,bus=hba0.0,target=2,lun=3,wce=off,serial=ABC,"
     "product=MyDisk,id=disk0",
     NULL, 2, 3},
    {"scsi-hd,drive=d1", "drive 'd1' does not exist"},
    {"scsi-hd,drive=d0,bus=hbaX", "no SCSI bus 'hbaX'"},
    {"scsi-hd,drive=d4k,logical_block_size=4096", "not a multiple"},
};

static void test_scsi_hd_create(gconstpointer data)
{
    const HdCase *c = data;
    g_autoptr(GError) err = NULL;
    const DeviceType *t = qdev_find("scsi-hd");
    TestHba h;
    BlockBackend *blk, *odd;
    Opts *o;
    bool ok;

    event_loop_init();
    g_assert_nonnull(t);
    blk = blk_new_temp(1 << 20, 0, &err);
    g_assert_true(blk_register(blk, "d0", &err));
    odd = blk_new_temp(1 << 20 | 512, 0, &err);
    g_assert_true(blk_register(odd, "d4k", &err));
    hba_init(&h, "hba0");
    o = opts_parse(t->schema, c->opts, &err);
    g_assert_no_error(err);
    ok = scsi_hd_create(o, &err);
    if (c->needle) {
        g_assert_false(ok);
        if (!strstr(err->message, c->needle)) {
            g_error("'%s': expected '%s' in '%s'", c->opts, c->needle,
                    err->message);
        }
    } else {
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_nonnull(scsi_device_find(h.bus, c->target, c->lun));
        g_assert_cmpint(blk_write_cache(blk), ==,
                        strstr(c->opts, "wce=off") == NULL);
        /* A second disk on the same drive is refused. */
        g_assert_false(scsi_hd_create(o, &err));
        g_assert_nonnull(err);
    }
    opts_free(o);
    hba_fini(&h);
    blk_close_all();
    event_loop_fini();
}

static void test_block_size_4k(void)
{
    Fixture fx = {0}, *f = &fx;
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    static const uint8_t rc[10] = {SCSI_OP_READ_CAPACITY_10};
    uint8_t cdb[16];
    uint8_t img[4096];

    props.logical_block_size = 4096;
    fixture_setup_props(f, &props);
    assert_good(run_in(f, rc, 10, 8));
    g_assert_cmpuint(scsi_be32(f->buf), ==, IMG_SIZE / 4096 - 1);
    g_assert_cmpuint(scsi_be32(f->buf + 4), ==, 4096);
    memset(f->buf, 0x4b, 8192);
    make_rw_cdb(cdb, SCSI_OP_WRITE_10, 3, 2, 0);
    assert_good(run_out(f, cdb, 10, 8192));
    g_assert_cmpint(blk_pread(f->blk, 3 * 4096 + 4095, img, 1), ==, 0);
    g_assert_cmpint(img[0], ==, 0x4b);
    make_rw_cdb(cdb, SCSI_OP_READ_10, IMG_SIZE / 4096, 1, 0);
    assert_sense(run_in(f, cdb, 10, 4096), SENSE_LBA_OUT_OF_RANGE, -1, -1,
                 false, false);
    fixture_teardown(f, NULL);
}

/* ---- completion order on the virtual clock ------------------------------ */

typedef struct OrderCase {
    const char *name;
    AioEngine engine;
    int host_order; /* deferred: 0 oldest first, 1 newest first */
} OrderCase;

static const OrderCase order_cases[] = {
    {"deferred-host-big-first", AIO_ENGINE_DEFERRED, 0},
    {"deferred-host-small-first", AIO_ENGINE_DEFERRED, 1},
    {"io_uring", AIO_ENGINE_URING, -1},
    {"threads", AIO_ENGINE_THREADS, -1},
};

/*
 * A 2 MiB READ submitted first and a 4 KiB READ after it: the latency
 * model (10 us + bytes at 4 GB/s) puts the small one first, whatever
 * order the host finishes them in.
 */
static void test_virtual_order(gconstpointer data)
{
    const OrderCase *oc = data;
    Fixture fx = {0}, *f = &fx;
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    g_autoptr(GError) err = NULL;
    uint8_t big[16], small[16];
    Cmd cb = {.dir = SCSI_XFER_FROM_DEV, .len = 2 << 20};
    Cmd cs = {.dir = SCSI_XFER_FROM_DEV, .len = 4096};
    SCSIRequest *rb, *rs;
    uint64_t t0;
    g_autofree uint8_t *img = g_malloc(2 << 20);

    if (!aio_set_engine(oc->engine, &err)) {
        g_test_skip(err->message);
        return;
    }
    fixture_setup_props(f, &props);
    pattern(img, 2 << 20, 1);
    g_assert_cmpint(blk_pwrite(f->blk, 0, img, 2 << 20, BLK_REQ_FUA), ==, 0);
    cb.gpa = f->gpa;
    cs.gpa = f->gpa2;
    make_rw_cdb(big, SCSI_OP_READ_16, 0, (2 << 20) / BS, 0);
    make_rw_cdb(small, SCSI_OP_READ_16, 1024, 8, 0);
    t0 = vclock_now();
    /* Both host submissions in one batch (one system call on io_uring). */
    scsi_bus_plug(f->hba.bus);
    rb = submit(f, big, 16, &cb);
    rs = submit(f, small, 16, &cs);
    scsi_bus_unplug(f->hba.bus);
    g_assert_cmpuint(rb->due, ==, t0 + 10000 + (2 << 20) / 4);
    g_assert_cmpuint(rs->due, ==, t0 + 10000 + 4096 / 4);
    if (oc->host_order >= 0) {
        g_assert_cmpuint(aio_deferred_run(oc->host_order == 1), ==, 2);
    }
    run_all();
    g_assert_cmpuint(f->hba.done->len, >=, 2);
    g_assert_true(f->hba.done->pdata[f->hba.done->len - 2] == rs);
    g_assert_true(f->hba.done->pdata[f->hba.done->len - 1] == rb);
    g_assert_cmpuint(
        g_array_index(f->hba.done_at, uint64_t, f->hba.done_at->len - 2), ==,
        rs->due);
    g_assert_cmpuint(
        g_array_index(f->hba.done_at, uint64_t, f->hba.done_at->len - 1), ==,
        rb->due);
    assert_good(rs);
    assert_good(rb);
    g_assert_true(memcmp(f->buf, img, 2 << 20) == 0);
    g_assert_true(memcmp(f->buf2, img + 1024 * BS, 4096) == 0);
    fixture_teardown(f, NULL);
}

/* ORDERED completes after everything before it; later ones after it. */
static void test_ordered(Fixture *f, gconstpointer data)
{
    uint8_t big[16], small[16];
    Cmd cb = {.dir = SCSI_XFER_FROM_DEV, .gpa = f->gpa, .len = 1 << 20};
    Cmd cs = {.dir = SCSI_XFER_FROM_DEV, .gpa = f->gpa2, .len = 512};
    SCSIRequest *r1, *r2, *r3;
    guint n0 = f->hba.done->len;

    make_rw_cdb(big, SCSI_OP_READ_10, 0, (1 << 20) / BS, 0);
    make_rw_cdb(small, SCSI_OP_READ_10, 0, 1, 0);
    r1 = submit(f, big, 10, &cb);
    cs.attr = SCSI_TASK_ORDERED;
    r2 = submit(f, small, 10, &cs);
    cs.attr = SCSI_TASK_SIMPLE;
    r3 = submit(f, small, 10, &cs);
    g_assert_cmpuint(r2->due, >=, r1->due);
    g_assert_cmpuint(r3->due, >=, r2->due);
    run_all();
    g_assert_true(f->hba.done->pdata[n0] == r1);
    g_assert_true(f->hba.done->pdata[n0 + 1] == r2);
    g_assert_true(f->hba.done->pdata[n0 + 2] == r3);
}

static void test_latency_model(Fixture *f, gconstpointer data)
{
    static const uint8_t tur[6] = {0};
    uint8_t cdb[16];
    SCSIRequest *req;
    uint64_t t0;

    scsi_device_set_latency(scsi_disk_device(f->disk), 1 * NS_PER_MS, 1000000);
    t0 = vclock_now();
    req = run_none(f, tur, 6);
    g_assert_cmpuint(req->due, ==, t0 + NS_PER_MS);
    g_assert_cmpuint(vclock_now(), ==, t0 + NS_PER_MS);
    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 2, 0);
    t0 = vclock_now();
    req = run_in(f, cdb, 10, 1024);
    /* 1 ms + 1024 bytes at 1 MB/s = 1.024 ms. */
    g_assert_cmpuint(req->due, ==, t0 + NS_PER_MS + 1024000);
    scsi_device_set_latency(scsi_disk_device(f->disk), 0, 0);
    t0 = vclock_now();
    req = run_in(f, cdb, 10, 1024);
    g_assert_cmpuint(req->due, ==, t0);
    assert_good(req);
}

/* ---- runs of completions (scsi-bus.c: one event for many) ---- */

typedef struct RunCase {
    Fixture *f;
    SCSIRequest *kill_after, *kill; /* abort @kill when @kill_after ends */
    SCSIRequest *late_after, *late; /* submit @late (no latency) then */
    uint64_t x_events;              /* event_count() in the foreign event */
} RunCase;

static void run_hook(TestHba *h, SCSIRequest *req)
{
    RunCase *rc = h->hook_data;

    if (req == rc->kill_after) {
        g_assert_true(rc->kill->in_run);
        g_assert_true(scsi_req_cancel(rc->kill));
    }
    if (req == rc->late_after) {
        static const uint8_t tur[6] = {0};
        SCSIDevice *dev = scsi_disk_device(rc->f->disk);
        uint64_t service = dev->service_ns, bps = dev->bytes_per_sec;
        Cmd c = {.dir = SCSI_XFER_NONE};

        scsi_device_set_latency(dev, 0, 0);
        rc->late = submit(rc->f, tur, 6, &c);
        scsi_device_set_latency(dev, service, bps);
        g_assert_cmpuint(rc->late->due, ==, vclock_now());
    }
}

static void run_foreign(void *opaque)
{
    RunCase *rc = opaque;

    rc->x_events = event_count();
}

static uint64_t done_events_of(TestHba *h, SCSIRequest *req)
{
    for (guint i = 0; i < h->done->len; i++) {
        if (h->done->pdata[i] == req) {
            return g_array_index(h->done_ev, uint64_t, i);
        }
    }
    g_assert_not_reached();
}

/*
 * Completions due at one time share an event where theirs would have run
 * back to back: in submission order, each counted as the event it stands
 * for (the count a recording's checkpoints carry), a foreign event at the
 * same time in between ending the run, aborts taking requests off a run
 * (pending, or the rest of the one being served), and a completion made
 * while a run is served coming after it.
 */
static void test_completion_runs(Fixture *f, gconstpointer data)
{
    uint8_t cdb[16], cdb2[16];
    Cmd c = {.dir = SCSI_XFER_FROM_DEV, .gpa = f->gpa, .len = 8 * BS};
    Cmd c2 = {.dir = SCSI_XFER_FROM_DEV, .gpa = f->gpa2, .len = 16 * BS};
    SCSIRequest *r[8], *other, *a, *b;
    RunCase rc = {.f = f};
    SCSIRequest *order[16];
    unsigned n = 0;
    guint n0 = f->hba.done->len;
    uint64_t c0;
    Event x;

    make_rw_cdb(cdb, SCSI_OP_READ_10, 0, 8, 0);
    make_rw_cdb(cdb2, SCSI_OP_READ_10, 64, 16, 0);
    for (unsigned i = 0; i < 3; i++) {
        r[i] = submit(f, cdb, 10, &c);
    }
    /* Due later: its own event, which does not come between the rest. */
    other = submit(f, cdb2, 10, &c2);
    for (unsigned i = 3; i < 6; i++) {
        r[i] = submit(f, cdb, 10, &c);
    }
    g_assert_cmpuint(other->due, >, r[0]->due);
    g_assert_false(other->in_run);
    for (unsigned i = 0; i < 6; i++) {
        g_assert_true(r[i]->in_run);
        g_assert_cmpuint(r[i]->due, ==, r[0]->due);
    }
    /* Another event at that time: what comes later has events of its own,
     * after it. */
    event_init(&x, "foreign", run_foreign, &rc);
    event_schedule(&x, r[0]->due);
    for (unsigned i = 6; i < 8; i++) {
        r[i] = submit(f, cdb, 10, &c);
        g_assert_false(r[i]->in_run);
    }
    /* Pending parts of the run: one in the middle, the first. */
    g_assert_true(scsi_req_cancel(r[2]));
    g_assert_true(scsi_req_cancel(r[0]));
    g_assert_false(r[0]->in_run);
    /* The run being served: r[3] aborts r[4]; r[5] makes a completion
     * due now, which comes after everything due now (x, r[6], r[7]). */
    rc.kill_after = r[3];
    rc.kill = r[4];
    rc.late_after = r[5];
    f->hba.hook = run_hook;
    f->hba.hook_data = &rc;
    c0 = event_count();
    run_all();
    f->hba.hook = NULL;

    order[n++] = r[2];
    order[n++] = r[0];
    order[n++] = r[1];
    order[n++] = r[3];
    order[n++] = r[4];
    order[n++] = r[5];
    order[n++] = r[6];
    order[n++] = r[7];
    order[n++] = rc.late;
    order[n++] = other;
    g_assert_cmpuint(f->hba.done->len - n0, ==, n);
    for (unsigned i = 0; i < n; i++) {
        g_assert_true(f->hba.done->pdata[n0 + i] == order[i]);
        g_assert_false(order[i]->in_run);
    }
    g_assert_cmpint(r[4]->host_status, ==, SCSI_HOST_ABORTED);
    assert_good(r[5]);
    /* An event each: r1, r3 (r4 aborted in it), r5, x, r6, r7, late, other. */
    g_assert_cmpuint(done_events_of(&f->hba, r[1]), ==, c0 + 1);
    g_assert_cmpuint(done_events_of(&f->hba, r[3]), ==, c0 + 2);
    g_assert_cmpuint(done_events_of(&f->hba, r[4]), ==, c0 + 2);
    g_assert_cmpuint(done_events_of(&f->hba, r[5]), ==, c0 + 3);
    g_assert_cmpuint(rc.x_events, ==, c0 + 4);
    g_assert_cmpuint(done_events_of(&f->hba, r[6]), ==, c0 + 5);
    g_assert_cmpuint(done_events_of(&f->hba, r[7]), ==, c0 + 6);
    g_assert_cmpuint(done_events_of(&f->hba, rc.late), ==, c0 + 7);
    g_assert_cmpuint(done_events_of(&f->hba, other), ==, c0 + 8);
    g_assert_cmpuint(event_count(), ==, c0 + 8);

    /* A run aborted whole has no event left: nothing runs, nothing is
     * counted. */
    a = submit(f, cdb, 10, &c);
    b = submit(f, cdb, 10, &c);
    g_assert_true(a->in_run && b->in_run);
    g_assert_cmpuint(event_queued(), ==, 1);
    g_assert_cmpint(
        scsi_bus_tmf(f->hba.bus, SCSI_TMF_CLEAR_TASK_SET, 0, 0, 0, 0), ==,
        SCSI_TMF_RESP_COMPLETE);
    g_assert_cmpuint(event_queued(), ==, 0);
    run_all();
    g_assert_cmpuint(event_count(), ==, c0 + 8);
    g_assert_cmpint(b->host_status, ==, SCSI_HOST_ABORTED);
}

#define ADD(path, fn)                                                          \
    g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    ADD("/scsi-disk/cdb-errors", test_cdb_errors);
    ADD("/scsi-disk/cdb-reserved-bits", test_cdb_reserved_bits);
    ADD("/scsi-disk/sense-layout", test_sense_layout);
    ADD("/scsi-disk/commands", test_ok_cases);
    ADD("/scsi-disk/read-write", test_read_write);
    ADD("/scsi-disk/read-short-sg", test_read_short_sg);
    ADD("/scsi-disk/sg-list", test_sg_list);
    ADD("/scsi-disk/request-reuse", test_request_reuse);
    ADD("/scsi-disk/dma", test_dma);
    ADD("/scsi-disk/dma-one-sided", test_dma_one_sided);
    ADD("/scsi-disk/dma-unwatched-count", test_dma_unwatched_count);
    ADD("/scsi-disk/dma-one-element", test_dma_one_element);
    ADD("/scsi-disk/verify", test_verify);
    ADD("/scsi-bus/completion-runs", test_completion_runs);
    ADD("/scsi-disk/write-same", test_write_same);
    ADD("/scsi-disk/unmap", test_unmap);
    ADD("/scsi-disk/unmap-too-many", test_unmap_too_many);
    ADD("/scsi-disk/mode-select", test_mode_select);
    ADD("/scsi-disk/mode-change-ua", test_mode_change_ua);
    ADD("/scsi-disk/unit-attention", test_unit_attention);
    ADD("/scsi-disk/ua-reset-supersedes", test_ua_reset_supersedes);
    ADD("/scsi-disk/start-stop", test_start_stop);
    ADD("/scsi-disk/power-cut", test_scsi_power_cut);
    g_test_add_func("/scsi-disk/wce-off", test_wce_off_prop);
    ADD("/scsi-disk/io-errors", test_io_errors);
    g_test_add_func("/scsi-disk/readonly", test_readonly);
    g_test_add_func("/scsi-disk/nocache", test_nocache_disk);
    ADD("/scsi-disk/abort", test_abort);
    ADD("/scsi-disk/reset-in-flight", test_reset_in_flight);
    ADD("/scsi-disk/addressing", test_addressing);
    g_test_add_func("/scsi-bus/find", test_bus_find);
    for (unsigned i = 0; i < G_N_ELEMENTS(hd_cases); i++) {
        g_autofree char *n = g_strdup_printf("/scsi-disk/scsi-hd-opts/%u", i);
        g_test_add_data_func(n, &hd_cases[i], test_scsi_hd_create);
    }
    g_test_add_func("/scsi-disk/block-size-4k", test_block_size_4k);
    for (unsigned i = 0; i < G_N_ELEMENTS(order_cases); i++) {
        g_autofree char *n =
            g_strdup_printf("/scsi-disk/virtual-order/%s", order_cases[i].name);
        g_test_add_data_func(n, &order_cases[i], test_virtual_order);
    }
    ADD("/scsi-disk/ordered", test_ordered);
    ADD("/scsi-disk/latency", test_latency_model);
    return g_test_run();
}
