/* SPDX-License-Identifier: MIT */
/*
 * The guest-side class layer (guest-tests/lib): data patterns and their
 * verdicts, the latency histogram, the block layer against the gt-vdisk
 * miniport (inventory, splitting, 10-byte fallback, the retry policy by
 * cause, raw pass-through, queue depth), workload jobs on several vCPUs
 * and a power transition under load.
 */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/cycle.h"
#include "guest-tests/lib/pattern.h"
#include "guest-tests/lib/work.h"
#include "hw/core/ram.h"
#include "system/event.h"
#include "tests/helpers/gt-harness.h"
#include "tests/helpers/gt-vdisk.h"

#define TAG 0x1234567890abcdefULL

/* ---- patterns (no machine needed) ---- */

typedef enum Mangle {
    M_NONE,
    M_ZERO,
    M_FLIP_PAYLOAD,
    M_FLIP_HEADER,
    M_OTHER_SEED,
    M_OTHER_LBA,
    M_OLDER_GEN,
    M_NEWER_GEN,
} Mangle;

typedef struct PatCase {
    const char *name;
    Mangle mangle;
    PatKind want;
    const char *says; /* in pat_describe()'s text */
} PatCase;

static const PatCase pat_cases[] = {
    {"intact", M_NONE, PAT_OK, NULL},
    {"zeros", M_ZERO, PAT_ZEROS, "never written"},
    {"payload-bit", M_FLIP_PAYLOAD, PAT_CORRUPT, "offset 300"},
    {"header-bit", M_FLIP_HEADER, PAT_CORRUPT, "offset 9"},
    {"other-seed", M_OTHER_SEED, PAT_FOREIGN, "another run"},
    {"other-lba", M_OTHER_LBA, PAT_MISDIRECTED, "data of LBA 55"},
    {"older-generation", M_OLDER_GEN, PAT_LOST_WRITE,
     "lost write (holds generation 6, expected 7)"},
    {"newer-generation", M_NEWER_GEN, PAT_NEWER, "holds generation 8"},
};

static void test_pattern_kinds(gconstpointer data)
{
    const PatCase *c = data;
    uint8_t buf[4 * 512];
    uint64_t counts[PAT_KINDS] = {0};
    PatCheck first;
    unsigned bad;
    char msg[200];

    /* Four 512-byte blocks at LBA 100, generation 7; block 2 is mangled. */
    pat_fill(buf, 100, 4, 512, 7, TAG);
    switch (c->mangle) {
    case M_NONE:
        break;
    case M_ZERO:
        memset(buf + 1024, 0, 512);
        break;
    case M_FLIP_PAYLOAD:
        buf[1024 + 300] ^= 1;
        break;
    case M_FLIP_HEADER:
        buf[1024 + 9] ^= 0x80;
        break;
    case M_OTHER_SEED:
        pat_fill(buf + 1024, 102, 1, 512, 7, TAG + 1);
        break;
    case M_OTHER_LBA:
        pat_fill(buf + 1024, 55, 1, 512, 7, TAG);
        break;
    case M_OLDER_GEN:
        pat_fill(buf + 1024, 102, 1, 512, 6, TAG);
        break;
    case M_NEWER_GEN:
        pat_fill(buf + 1024, 102, 1, 512, 8, TAG);
        break;
    }
    bad = pat_check(buf, 100, 4, 512, 7, TAG, counts, &first);
    if (c->want == PAT_OK) {
        g_assert_cmpuint(bad, ==, 0);
        return;
    }
    g_assert_cmpuint(bad, ==, 1);
    g_assert_cmpuint(counts[c->want], ==, 1);
    g_assert_cmpint(first.kind, ==, c->want);
    g_assert_cmpuint(first.lba, ==, 102);
    pat_describe(&first, msg, sizeof(msg));
    g_assert_nonnull(strstr(msg, "LBA 102"));
    g_assert_nonnull(strstr(msg, c->says));
    if (c->mangle == M_OTHER_LBA) {
        g_assert_cmpuint(first.found_lba, ==, 55);
    }
    if (c->mangle == M_OLDER_GEN) {
        g_assert_cmpuint(first.found_gen, ==, 6);
        g_assert_cmpuint(first.expected_gen, ==, 7);
    }
    if (c->mangle == M_FLIP_PAYLOAD) {
        g_assert_cmpuint(first.bad_offset, ==, 300);
    }
}

static void test_pattern_units(void)
{
    uint8_t buf[2 * 4096], tmp[512];
    PatCheck first;

    /* 4 KiB blocks: eight units each, every one knows its place. */
    pat_fill(buf, 9, 2, 4096, 3, TAG);
    g_assert_cmpuint(pat_check(buf, 9, 2, 4096, 3, TAG, NULL, NULL), ==, 0);
    memcpy(tmp, buf + 512, 512);
    memcpy(buf + 512, buf + 1024, 512);
    memcpy(buf + 1024, tmp, 512);
    g_assert_cmpuint(pat_check(buf, 9, 2, 4096, 3, TAG, NULL, &first), ==, 1);
    g_assert_cmpint(first.kind, ==, PAT_MISDIRECTED);
    g_assert_cmpuint(first.unit, ==, 1);
    g_assert_cmpuint(first.found_unit, ==, 2);
    /* Different seeds give different tags; the tag is never 0. */
    g_assert_cmpuint(pat_seed_tag(1), !=, pat_seed_tag(2));
    g_assert_cmpuint(pat_seed_tag(0), !=, 0);
}

static void test_crc32c(void)
{
    /* The standard check value of CRC-32C. */
    g_assert_cmphex(pat_crc32c(0, "123456789", 9), ==, 0xe3069283u);
    g_assert_cmphex(pat_crc32c(0, "", 0), ==, 0);
}

static void test_histogram(void)
{
    WlHist a, b;

    wl_hist_reset(&a);
    wl_hist_reset(&b);
    for (uint64_t v = 1; v <= 1000; v++) {
        wl_hist_add(v <= 500 ? &a : &b, v * 1000);
    }
    wl_hist_merge(&a, &b);
    g_assert_cmpuint(a.n, ==, 1000);
    g_assert_cmpuint(a.min, ==, 1000);
    g_assert_cmpuint(a.max, ==, 1000000);
    /* Buckets are 1/32 of a power of two wide. */
    g_assert_cmpfloat(fabs((double)wl_hist_pct(&a, 50) - 500000), <, 16000);
    g_assert_cmpfloat(fabs((double)wl_hist_pct(&a, 99) - 990000), <, 32000);
    g_assert_cmpuint(wl_hist_pct(&a, 100), ==, 1000000);
    g_assert_cmpuint(wl_hist_pct(&a, 0), ==, 1000);
    /* Small values are exact. */
    wl_hist_reset(&b);
    for (int i = 0; i < 10; i++) {
        wl_hist_add(&b, 7);
    }
    wl_hist_add(&b, 9);
    g_assert_cmpuint(wl_hist_pct(&b, 50), ==, 7);
    g_assert_cmpuint(wl_hist_pct(&b, 99.9), ==, 9);
}

/* The bucket layout is part of every printed percentile: pin it to its
 * definition (exact below 64, then 32 buckets per power of two) at both
 * edges of every bucket, so a faster index cannot move a value. */
static unsigned hist_bucket_of(uint64_t v)
{
    unsigned e = 63;

    if (v < 64) {
        return (unsigned)v;
    }
    while (!(v >> e)) {
        e--;
    }
    return 64 + (e - 6) * 32 + (unsigned)((v >> (e - 5)) & 31);
}

static void test_histogram_buckets(void)
{
    g_autofree WlHist *h = g_new0(WlHist, 1);

    for (unsigned e = 0; e < 64; e++) {
        for (unsigned sub = 0; sub < 32; sub++) {
            uint64_t lo = e < 6 ? (uint64_t)sub << 1 | (1ULL << e)
                                : (1ULL << e) | ((uint64_t)sub << (e - 5));
            uint64_t hi = e < 6 ? lo : lo + (1ULL << (e - 5)) - 1;
            uint64_t vals[] = {lo, hi, lo - 1};

            for (unsigned k = 0; k < G_N_ELEMENTS(vals); k++) {
                unsigned want = hist_bucket_of(vals[k]);
                wl_hist_reset(h);
                wl_hist_add(h, vals[k]);
                g_assert_cmpuint(want, <, WL_HIST_BUCKETS);
                g_assert_cmpuint(h->bucket[want], ==, 1);
            }
        }
    }
}

/* ---- the block layer ---- */

static void inventory_body(void *opaque)
{
    ClsDisk *d;

    g_assert_cmpuint(cls_lun_count(), ==, 2);
    d = cls_open(1);
    g_assert_nonnull(d);
    g_assert_cmpstr(d->vendor, ==, "STOREMU");
    g_assert_cmpstr(d->product, ==, "GT VDISK");
    g_assert_cmpstr(d->revision, ==, "0001");
    g_assert_cmpuint(d->peripheral_type, ==, 0);
    g_assert_cmpuint(d->target, ==, 1);
    g_assert_cmpuint(d->blocks, ==, 8192);
    g_assert_cmpuint(d->block_size, ==, 512);
    g_assert_true(d->capacity16);
    g_assert_true(d->lbpme && d->lbprz);
    g_assert_cmpuint(d->max_transfer, ==, 64 * 1024);
    g_assert_null(cls_open(2));
    cls_close(d);
}

static void test_inventory(void)
{
    gt_vdisk_reset();
    gt_vdisk_config.targets = 2;
    g_assert_cmpint(gt_harness_run("-miniport gt-vdisk", inventory_body, NULL),
                    ==, MACHINE_STOP_REQUESTED);
}

static void rw_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    uint32_t n = 300; /* 150 KiB: three SRBs at 64 KiB */
    uint8_t *w = ram_alloc(n * 512, 4096, 0, "w");
    uint8_t *r = ram_alloc(n * 512, 4096, 0, "r");
    ClsResult res;
    uint64_t srbs;

    pat_fill(w, 1000, n, 512, 1, TAG);
    srbs = d->count.srbs;
    g_assert_true(cls_write(d, 1000, n, w, &res));
    g_assert_cmpuint(d->count.srbs - srbs, ==, 3);
    g_assert_cmpuint(d->count.splits, ==, 2);
    g_assert_cmpuint(res.transferred, ==, n * 512);
    g_assert_true(cls_read(d, 1000, n, r, &res));
    g_assert_cmpmem(w, n * 512, r, n * 512);
    g_assert_true(cls_flush(d, &res));
    g_assert_cmpuint(gt_vdisk_stats.flushes, ==, 1);
    g_assert_true(cls_unmap(d, 1100, 10, &res));
    g_assert_true(cls_read(d, 1000, n, r, &res));
    g_assert_cmpuint(pat_check(r, 1000, n, 512, 1, TAG, NULL, NULL), ==, 10);
    for (unsigned i = 100 * 512; i < 110 * 512; i++) {
        g_assert_cmpuint(r[i], ==, 0);
    }
    g_assert_cmpuint(gt_vdisk_stats.cdb16, >, 0);
    g_assert_cmpuint(gt_vdisk_stats.cdb10, ==, 0);
    ram_free(w);
    ram_free(r);
    cls_close(d);
}

static void test_read_write_split(void)
{
    gt_vdisk_reset();
    g_assert_cmpint(gt_harness_run("-miniport gt-vdisk", rw_body, NULL), ==,
                    MACHINE_STOP_REQUESTED);
}

static void fallback_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    uint8_t *buf = ram_alloc(8 * 512, 4096, 0, "b");
    ClsResult res;

    pat_fill(buf, 40, 8, 512, 2, TAG);
    g_assert_true(cls_write(d, 40, 8, buf, &res));
    g_assert_true(d->use_cdb10);
    memset(buf, 0, 8 * 512);
    g_assert_true(cls_read(d, 40, 8, buf, &res));
    g_assert_cmpuint(pat_check(buf, 40, 8, 512, 2, TAG, NULL, NULL), ==, 0);
    g_assert_true(cls_flush(d, &res));
    g_assert_true(d->sync_cache10);
    g_assert_cmpuint(d->count.cdb10_fallbacks, ==, 2);
    g_assert_cmpuint(d->count.errors, ==, 0);
    g_assert_cmpuint(gt_vdisk_stats.cdb10, ==, 2);
    ram_free(buf);
    cls_close(d);
}

static void test_cdb10_fallback(void)
{
    gt_vdisk_reset();
    gt_vdisk_config.no_cdb16 = true;
    g_assert_cmpint(gt_harness_run("-miniport gt-vdisk", fallback_body, NULL),
                    ==, MACHINE_STOP_REQUESTED);
}

/* One queued I/O sent again and again: a READ(16)/WRITE(16) kept for
 * reuse carries the new LBA, and a new length, buffer or op, a range off
 * the disk or the switch to 10-byte CDBs are not sent with the old one. */
static void one_io(ClsQueue *q, ClsOp op, uint64_t lba, uint32_t blocks,
                   void *buf, ClsStatus want)
{
    ClsIo *io = cls_io_get(q);

    g_assert_nonnull(io);
    cls_io_set_rw(io, op, lba, blocks, buf ? buf : io->buf);
    cls_submit(io);
    g_assert_true(cls_wait(q) == io);
    g_assert_cmpint(io->res.status, ==, want);
    if (want == CLS_OK) {
        g_assert_cmpuint(io->res.transferred, ==, blocks * 512);
    }
    cls_io_put(io);
}

static void reuse_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    ClsQueue *q = cls_queue_new(d, 1, 8 * 512);
    uint8_t *own = cls_queue_io(q, 0)->buf;
    uint8_t *other = ram_alloc(8 * 512, 4096, 0, "other");
    uint64_t srbs;

    for (unsigned i = 0; i < 4; i++) {
        pat_fill(own, i * 8, 8, 512, 1, TAG);
        one_io(q, CLS_WRITE, i * 8, 8, NULL, CLS_OK);
    }
    for (unsigned i = 0; i < 4; i++) {
        memset(own, 0, 8 * 512);
        one_io(q, CLS_READ, i * 8, 8, NULL, CLS_OK);
        g_assert_cmpuint(pat_check(own, i * 8, 8, 512, 1, TAG, NULL, NULL), ==,
                         0);
    }
    memset(own, 0, 8 * 512);
    one_io(q, CLS_READ, 20, 4, NULL, CLS_OK);
    g_assert_cmpuint(pat_check(own, 20, 4, 512, 1, TAG, NULL, NULL), ==, 0);
    g_assert_cmpuint(own[4 * 512], ==, 0);
    one_io(q, CLS_READ, 8, 8, other, CLS_OK);
    g_assert_cmpuint(pat_check(other, 8, 8, 512, 1, TAG, NULL, NULL), ==, 0);
    srbs = d->count.srbs;
    one_io(q, CLS_READ, d->blocks - 4, 8, other, CLS_ERR_PARAM);
    one_io(q, CLS_READ, d->blocks, 8, other, CLS_ERR_PARAM);
    one_io(q, CLS_READ, 0, 0, other, CLS_ERR_PARAM);
    g_assert_cmpuint(d->count.srbs, ==, srbs);
    one_io(q, CLS_READ, d->blocks - 8, 8, other, CLS_OK);
    g_assert_cmpuint(gt_vdisk_stats.reads, ==, 7);
    g_assert_cmpuint(gt_vdisk_stats.writes, ==, 4);
    g_assert_cmpuint(gt_vdisk_stats.cdb10, ==, 0);
    ram_free(other);
    cls_queue_free(q);
    cls_close(d);
}

static void test_reuse(void)
{
    gt_vdisk_reset();
    g_assert_cmpint(gt_harness_run("-miniport gt-vdisk", reuse_body, NULL), ==,
                    MACHINE_STOP_REQUESTED);
}

/* A WRITE(16) kept for reuse when the device refused it is not sent
 * again once the disk uses 10-byte CDBs. */
static void reuse_fallback_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    ClsQueue *q = cls_queue_new(d, 1, 8 * 512);
    uint8_t *own = cls_queue_io(q, 0)->buf;

    for (unsigned i = 0; i < 3; i++) {
        pat_fill(own, 16, 8, 512, 3 + i, TAG);
        one_io(q, CLS_WRITE, 16, 8, NULL, CLS_OK);
        g_assert_true(d->use_cdb10);
    }
    memset(own, 0, 8 * 512);
    one_io(q, CLS_READ, 16, 8, NULL, CLS_OK);
    g_assert_cmpuint(pat_check(own, 16, 8, 512, 5, TAG, NULL, NULL), ==, 0);
    g_assert_cmpuint(d->count.cdb10_fallbacks, ==, 1);
    g_assert_cmpuint(gt_vdisk_stats.cdb10, ==, 4);
    cls_queue_free(q);
    cls_close(d);
}

static void test_reuse_fallback(void)
{
    gt_vdisk_reset();
    gt_vdisk_config.no_cdb16 = true;
    g_assert_cmpint(
        gt_harness_run("-miniport gt-vdisk", reuse_fallback_body, NULL), ==,
        MACHINE_STOP_REQUESTED);
}

typedef struct RetryCase {
    const char *name;
    GtVdiskFaults faults; /* counters only; LBA faults are -1 */
    bool retry;
    ClsStatus status;
    int cause; /* counter expected to move, or -1 */
    unsigned retries;
    uint8_t key, asc, ascq; /* final sense when status is CHECK */
    uint64_t min_ns;        /* virtual time the read must take at least */
    bool exhausted;
} RetryCase;

#define NO_LBA_FAULTS                                                          \
    .lose_write_lba = -1, .misdirect_lba = -1, .corrupt_read_lba = -1

static const RetryCase retry_cases[] = {
    {"unit-attention",
     {.unit_attention = 2, NO_LBA_FAULTS},
     true,
     CLS_OK,
     CLS_RETRY_UNIT_ATTENTION,
     2},
    {"not-ready",
     {.not_ready = 2, NO_LBA_FAULTS},
     true,
     CLS_OK,
     CLS_RETRY_NOT_READY,
     2,
     .min_ns = 200 * NS_PER_MS},
    {"scsi-busy",
     {.scsi_busy = 1, NO_LBA_FAULTS},
     true,
     CLS_OK,
     CLS_RETRY_SCSI_BUSY,
     1,
     .min_ns = 10 * NS_PER_MS},
    {"queue-full",
     {.queue_full = 3, NO_LBA_FAULTS},
     true,
     CLS_OK,
     CLS_RETRY_QUEUE_FULL,
     3,
     .min_ns = 30 * NS_PER_MS},
    {"aborted",
     {.aborted = 1, NO_LBA_FAULTS},
     true,
     CLS_OK,
     CLS_RETRY_ABORTED,
     1},
    {"bus-reset",
     {.bus_reset = 1, NO_LBA_FAULTS},
     true,
     CLS_OK,
     CLS_RETRY_BUS_RESET,
     1},
    {"recovered", {.recovered = 1, NO_LBA_FAULTS}, true, CLS_OK, -1, 0},
    {"medium-error-final",
     {.medium_error = 1, NO_LBA_FAULTS},
     true,
     CLS_ERR_CHECK,
     -1,
     0,
     0x3,
     0x11,
     0x00},
    {"unit-attention-exhausted",
     {.unit_attention = 10, NO_LBA_FAULTS},
     true,
     CLS_ERR_CHECK,
     CLS_RETRY_UNIT_ATTENTION,
     4,
     0x6,
     0x29,
     0x00,
     .exhausted = true},
    {"retry-off",
     {.unit_attention = 1, NO_LBA_FAULTS},
     false,
     CLS_ERR_CHECK,
     -1,
     0,
     0x6,
     0x29,
     0x00},
    {"retry-off-busy",
     {.scsi_busy = 1, NO_LBA_FAULTS},
     false,
     CLS_ERR_SCSI,
     -1,
     0},
};

static void retry_body(void *opaque)
{
    const RetryCase *c = opaque;
    ClsDisk *d = cls_open(0);
    uint8_t *buf = ram_alloc(4 * 512, 4096, 0, "b");
    ClsResult res;
    uint64_t t0, total;
    bool ok;

    /* Arm the faults only now: opening the disk must not eat them. */
    gt_vdisk_faults = c->faults;
    cls_set_retry(d, c->retry);
    t0 = vclock_now();
    ok = cls_read(d, 16, 4, buf, &res);
    g_assert_cmpint(ok, ==, c->status == CLS_OK);
    g_assert_cmpint(res.status, ==, c->status);
    g_assert_cmpuint(res.retries, ==, c->retries);
    total = cls_retries_total(&d->count);
    g_assert_cmpuint(total, ==, c->retries);
    if (c->cause >= 0) {
        g_assert_cmpuint(d->count.retries[c->cause], ==, c->retries);
    }
    if (c->status == CLS_ERR_CHECK) {
        g_assert_true(res.sense_valid);
        g_assert_cmphex(res.sense_key, ==, c->key);
        g_assert_cmphex(res.asc, ==, c->asc);
        g_assert_cmphex(res.ascq, ==, c->ascq);
    }
    if (c->faults.recovered) {
        g_assert_cmpuint(d->count.recovered, ==, 1);
        g_assert_cmpuint(res.transferred, ==, 4 * 512);
    }
    g_assert_cmpuint(vclock_now() - t0, >=, c->min_ns);
    g_assert_cmpuint(d->count.exhausted, ==, c->exhausted ? 1 : 0);
    /* The next I/O on the same request starts with a whole retry budget
     * again, whatever the last one used of it. */
    gt_vdisk_faults = c->faults;
    ok = cls_read(d, 16, 4, buf, &res);
    g_assert_cmpint(res.status, ==, c->status);
    g_assert_cmpuint(res.retries, ==, c->retries);
    g_assert_cmpuint(cls_retries_total(&d->count), ==, 2 * c->retries);
    ram_free(buf);
    cls_close(d);
}

static void test_retry(gconstpointer data)
{
    gt_vdisk_reset();
    g_assert_cmpint(
        gt_harness_run("-miniport gt-vdisk", retry_body, (void *)data), ==,
        MACHINE_STOP_REQUESTED);
}

static void raw_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    uint8_t *buf = ram_alloc(4096, 4096, 0, "b");
    uint8_t read16[16] = {0x88};
    uint8_t bogus[6] = {0xee};
    uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
    ClsResult res;
    char msg[200];

    /* One block at LBA 8192: just past the end. */
    read16[9] = 0x00;
    read16[8] = 0x20;
    read16[13] = 1;
    g_assert_false(cls_raw(d, read16, 16, buf, 512, PORT_XFER_IN, 0, &res));
    g_assert_cmpint(res.status, ==, CLS_ERR_CHECK);
    g_assert_cmphex(res.sense_key, ==, 0x5);
    g_assert_cmphex(res.asc, ==, 0x21);
    g_assert_cmphex(res.ascq, ==, 0x00);
    g_assert_cmpuint(res.sense_len, ==, 18);
    g_assert_cmpstr(cls_asc_name(res.asc, res.ascq), ==,
                    "LOGICAL BLOCK ADDRESS OUT OF RANGE");
    cls_result_str(&res, msg, sizeof(msg));
    g_assert_nonnull(strstr(msg, "ILLEGAL REQUEST 05/21/00"));
    /* ILLEGAL REQUEST is final: no retry. */
    g_assert_cmpuint(res.retries, ==, 0);

    g_assert_false(cls_raw(d, bogus, 6, NULL, 0, PORT_XFER_NONE, 0, &res));
    g_assert_cmphex(res.asc, ==, 0x20);

    g_assert_true(cls_raw(d, inq, 6, buf, 96, PORT_XFER_IN, 0, &res));
    g_assert_cmpuint(res.transferred, ==, 36);
    g_assert_cmpmem(buf + 8, 8, "STOREMU ", 8);
    /* The same I/O as the CHECK CONDITION before: nothing of its sense
     * is left over. */
    g_assert_false(res.sense_valid);
    g_assert_cmpuint(res.sense_len, ==, 0);
    g_assert_cmphex(res.sense_key, ==, 0);
    g_assert_cmphex(res.asc, ==, 0);
    g_assert_cmphex(res.ascq, ==, 0);

    /* Refused before sending: outside the disk, or not guest memory. */
    {
        uint64_t srbs = d->count.srbs;
        uint8_t host[512];
        g_assert_false(cls_raw(d, read16, 16, buf, 512, PORT_XFER_IN, 0, &res));
        g_assert_true(res.sense_valid);
        /* A refused I/O reports no status or sense of an earlier one. */
        g_assert_false(cls_read(d, 8190, 4, buf, &res));
        g_assert_cmpint(res.status, ==, CLS_ERR_PARAM);
        g_assert_cmphex(res.srb_status, ==, 0);
        g_assert_cmphex(res.scsi_status, ==, 0);
        g_assert_false(res.sense_valid);
        g_assert_cmpuint(res.sense_len, ==, 0);
        g_assert_cmphex(res.sense_key, ==, 0);
        g_assert_cmphex(res.asc, ==, 0);
        g_assert_cmphex(res.ascq, ==, 0);
        g_assert_cmpuint(res.transferred, ==, 0);
        srbs = d->count.srbs;
        g_assert_false(cls_read(d, 0, 1, host, &res));
        g_assert_cmpint(res.status, ==, CLS_ERR_PARAM);
        g_assert_false(cls_raw(d, inq, 6, buf, 0, PORT_XFER_IN, 0, &res));
        g_assert_cmpuint(d->count.srbs, ==, srbs);
    }
    ram_free(buf);
    cls_close(d);
}

static void test_raw(void)
{
    gt_vdisk_reset();
    g_assert_cmpint(gt_harness_run("-miniport gt-vdisk", raw_body, NULL), ==,
                    MACHINE_STOP_REQUESTED);
}

typedef struct DepthCase {
    unsigned lu_depth; /* 0: the port's default (32) */
    unsigned qd;
    unsigned want_max;
} DepthCase;

static const DepthCase depth_cases[] = {
    {0, 24, 24},
    {8, 24, 8},
    {0, 64, 32},
};

static void depth_body(void *opaque)
{
    const DepthCase *c = opaque;
    ClsDisk *d = cls_open(0);
    ClsQueue *q = cls_queue_new(d, c->qd, 4096);
    unsigned done = 0;
    ClsIo *io;

    gt_vdisk_stats.max_outstanding = 0;
    for (unsigned i = 0; i < c->qd; i++) {
        io = cls_io_get(q);
        g_assert_nonnull(io);
        cls_io_set_rw(io, CLS_READ, i * 8, 8, io->buf);
        cls_submit(io);
    }
    g_assert_null(cls_io_get(q));
    g_assert_cmpuint(cls_queue_outstanding(q), ==, c->qd);
    while ((io = cls_wait(q))) {
        g_assert_cmpint(io->res.status, ==, CLS_OK);
        /* The miniport holds every request for its latency. */
        g_assert_cmpuint(io->done_ns - io->submit_ns, >=, 100 * NS_PER_US);
        g_assert_cmpint(io->done_cpu, >=, 0);
        cls_io_put(io);
        done++;
    }
    g_assert_cmpuint(done, ==, c->qd);
    g_assert_cmpuint(gt_vdisk_stats.max_outstanding, ==, c->want_max);
    cls_queue_free(q);
    cls_close(d);
}

static void test_queue_depth(gconstpointer data)
{
    const DepthCase *c = data;

    gt_vdisk_reset();
    gt_vdisk_config.latency_us = 100;
    gt_vdisk_config.queue_depth = c->lu_depth;
    g_assert_cmpint(
        gt_harness_run("-miniport gt-vdisk", depth_body, (void *)data), ==,
        MACHINE_STOP_REQUESTED);
}

/* ---- workload jobs ---- */

static void lost_write_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    WlConfig cfg = {
        .name = "t",
        .first_lba = 0,
        .blocks = 256,
        .bs_blocks = 1,
        .iodepth = 4,
        .rw = WL_WRITE,
        .verify = true,
        .seed = 5,
    };
    WlJob *j = wl_job_new(d, &cfg);
    const WlStats *st = wl_job_stats(j);

    wl_job_run(j);
    g_assert_cmpuint(wl_job_written_slots(j), ==, 256);
    g_assert_cmpuint(wl_job_verify(j), ==, 0);
    g_assert_cmpuint(st->verified_blocks, ==, 256);
    /* Second pass: LBA 77's write is acknowledged but never stored, LBA
     * 99 reads back with a flipped byte. */
    gt_vdisk_faults.lose_write_lba = 77;
    wl_job_extend(j, 0);
    wl_job_run(j);
    gt_vdisk_faults.corrupt_read_lba = 99;
    g_assert_cmpuint(wl_job_verify(j), ==, 2);
    g_assert_cmpuint(st->mismatch[PAT_LOST_WRITE], ==, 1);
    g_assert_cmpuint(st->mismatch[PAT_CORRUPT], ==, 1);
    g_assert_cmpuint(st->first_bad.lba, ==, 77);
    g_assert_cmpint(st->first_bad.kind, ==, PAT_LOST_WRITE);
    g_assert_cmpuint(st->errors, ==, 0);
    wl_job_free(j);
    cls_close(d);
}

static void test_job_lost_write(void)
{
    gt_vdisk_reset();
    g_assert_cmpint(gt_harness_run("-miniport gt-vdisk", lost_write_body, NULL),
                    ==, MACHINE_STOP_REQUESTED);
}

static void misdirect_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    uint8_t *buf = ram_alloc(512, 512, 0, "b");
    ClsResult res;
    PatCheck c;

    pat_fill(buf, 11, 1, 512, 1, TAG);
    g_assert_true(cls_write(d, 11, 1, buf, &res));
    gt_vdisk_faults.misdirect_lba = 10;
    pat_fill(buf, 10, 1, 512, 1, TAG);
    g_assert_true(cls_write(d, 10, 1, buf, &res));
    g_assert_true(cls_read(d, 11, 1, buf, &res));
    g_assert_cmpint(pat_check_unit(buf, 11, 0, 512, 1, TAG, &c), ==,
                    PAT_MISDIRECTED);
    g_assert_cmpuint(c.found_lba, ==, 10);
    g_assert_true(cls_read(d, 10, 1, buf, &res));
    g_assert_cmpint(pat_check_unit(buf, 10, 0, 512, 1, TAG, &c), ==, PAT_ZEROS);
    ram_free(buf);
    cls_close(d);
}

static void test_misdirected_write(void)
{
    gt_vdisk_reset();
    g_assert_cmpint(gt_harness_run("-miniport gt-vdisk", misdirect_body, NULL),
                    ==, MACHINE_STOP_REQUESTED);
}

#define MQ_JOBS 4

static void multi_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    WlJob *job[MQ_JOBS];

    for (unsigned i = 0; i < MQ_JOBS; i++) {
        WlConfig cfg = {
            .name = "mq",
            .first_lba = i * 2048,
            .blocks = 2048,
            .bs_blocks = 8,
            .iodepth = 8,
            .rw = WL_RANDRW,
            .rwmixread = 30,
            .count = 300,
            .verify = true,
            .seed = 9,
            .stream = i,
        };
        job[i] = wl_job_new(d, &cfg);
        g_assert_nonnull(job[i]);
        wl_job_start(job[i], i, true);
    }
    for (unsigned i = 0; i < MQ_JOBS; i++) {
        const WlStats *st = wl_job_stats(job[i]);
        wl_job_join(job[i]);
        g_assert_cmpuint(st->ios[0] + st->ios[1], ==, 300);
        g_assert_cmpuint(st->ios[WL_DIR_WRITE], >, 100);
        g_assert_cmpuint(st->errors, ==, 0);
        g_assert_cmpuint(st->mismatches, ==, 0);
        g_assert_cmpuint(st->verified_blocks, >, 0);
        g_assert_cmpuint(st->lat[0].min, >=, 50 * NS_PER_US);
        wl_job_free(job[i]);
    }
    /* Four jobs of depth 8 kept the miniport busy beyond one job's. */
    g_assert_cmpuint(gt_vdisk_stats.max_outstanding, >, 8);
    cls_close(d);
}

static void test_jobs_on_every_vcpu(void)
{
    gt_vdisk_reset();
    gt_vdisk_config.latency_us = 50;
    g_assert_cmpint(gt_harness_run("-smp 4 -machine sched=random,seed=3 "
                                   "-miniport gt-vdisk",
                                   multi_body, NULL),
                    ==, MACHINE_STOP_REQUESTED);
}

typedef struct Determinism {
    uint64_t lat_sum, ios_read, last_done;
} Determinism;

static void determinism_body(void *opaque)
{
    Determinism *out = opaque;
    ClsDisk *d = cls_open(0);
    WlConfig cfg = {
        .name = "det",
        .blocks = 4096,
        .bs_blocks = 8,
        .iodepth = 16,
        .rw = WL_RANDRW,
        .rwmixread = 50,
        .count = 500,
        .seed = 77,
    };
    WlJob *j = wl_job_new(d, &cfg);
    const WlStats *st = wl_job_stats(j);

    wl_job_run(j);
    out->lat_sum = st->lat[0].sum + st->lat[1].sum;
    out->ios_read = st->ios[WL_DIR_READ];
    out->last_done = st->t_end;
    wl_job_free(j);
    cls_close(d);
}

static void test_job_determinism(void)
{
    Determinism a = {0}, b = {0};

    for (int i = 0; i < 2; i++) {
        gt_vdisk_reset();
        gt_vdisk_config.latency_us = 20;
        g_assert_cmpint(
            gt_harness_run("-miniport gt-vdisk", determinism_body, i ? &b : &a),
            ==, MACHINE_STOP_REQUESTED);
    }
    g_assert_cmpuint(a.ios_read, >, 150);
    g_assert_cmpuint(a.ios_read, <, 350);
    g_assert_cmpuint(a.lat_sum, ==, b.lat_sum);
    g_assert_cmpuint(a.ios_read, ==, b.ios_read);
    g_assert_cmpuint(a.last_done, ==, b.last_done);
}

static void power_body(void *opaque)
{
    ClsDisk *d = cls_open(0);
    WlConfig cfg = {
        .name = "w",
        .blocks = 1024,
        .bs_blocks = 8,
        .iodepth = 4,
        .rw = WL_RANDWRITE,
        .verify = true,
        .seed = 1,
    };
    WlJob *w = wl_job_new(d, &cfg);
    GtCycleStep s;

    if (!gt_cycle_step(w, 1, PORT_POWER_STOP, 40, &s)) {
        g_printerr("stop step failed: '%s', %" G_GUINT64_FORMAT " done while "
                   "down, %" G_GUINT64_FORMAT " bad, %" G_GUINT64_FORMAT
                   " errors\n",
                   s.error, s.done_while_down, s.bad_blocks, s.errors);
        g_assert_not_reached();
    }
    g_assert_true(s.down_ok && s.up_ok);
    g_assert_cmpuint(s.done_while_down, ==, 0);
    g_assert_cmpuint(s.done_after, ==, 40);
    g_assert_cmpuint(s.bad_blocks, ==, 0);
    g_assert_cmpuint(s.verified_blocks, >, 0);
    g_assert_true(gt_cycle_step(w, 1, PORT_POWER_HIBERNATE, 40, &s));
    g_assert_cmpuint(s.done_after, ==, 80);
    g_assert_cmpuint(gt_vdisk_stats.stops, ==, 2);
    g_assert_cmpuint(gt_vdisk_stats.restarts, ==, 2);
    wl_job_free(w);
    cls_close(d);
}

static void test_power_step(void)
{
    gt_vdisk_reset();
    gt_vdisk_config.latency_us = 30;
    g_assert_cmpint(
        gt_harness_run("-smp 2 -miniport gt-vdisk", power_body, NULL), ==,
        MACHINE_STOP_REQUESTED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (unsigned i = 0; i < G_N_ELEMENTS(pat_cases); i++) {
        g_autofree char *p =
            g_strdup_printf("/guest/pattern/%s", pat_cases[i].name);
        g_test_add_data_func(p, &pat_cases[i], test_pattern_kinds);
    }
    g_test_add_func("/guest/pattern/units", test_pattern_units);
    g_test_add_func("/guest/pattern/crc32c", test_crc32c);
    g_test_add_func("/guest/histogram", test_histogram);
    g_test_add_func("/guest/histogram/buckets", test_histogram_buckets);
    g_test_add_func("/guest/cls/inventory", test_inventory);
    g_test_add_func("/guest/cls/read-write-split", test_read_write_split);
    g_test_add_func("/guest/cls/cdb10-fallback", test_cdb10_fallback);
    g_test_add_func("/guest/cls/reuse", test_reuse);
    g_test_add_func("/guest/cls/reuse-fallback", test_reuse_fallback);
    for (unsigned i = 0; i < G_N_ELEMENTS(retry_cases); i++) {
        g_autofree char *p =
            g_strdup_printf("/guest/cls/retry/%s", retry_cases[i].name);
        g_test_add_data_func(p, &retry_cases[i], test_retry);
    }
    g_test_add_func("/guest/cls/raw", test_raw);
    for (unsigned i = 0; i < G_N_ELEMENTS(depth_cases); i++) {
        g_autofree char *p =
            g_strdup_printf("/guest/cls/queue-depth/%u-%u",
                            depth_cases[i].lu_depth, depth_cases[i].qd);
        g_test_add_data_func(p, &depth_cases[i], test_queue_depth);
    }
    g_test_add_func("/guest/work/lost-write", test_job_lost_write);
    g_test_add_func("/guest/work/misdirected-write", test_misdirected_write);
    g_test_add_func("/guest/work/jobs-on-every-vcpu", test_jobs_on_every_vcpu);
    g_test_add_func("/guest/work/determinism", test_job_determinism);
    g_test_add_func("/guest/cycle/stop-hibernate", test_power_step);
    return g_test_run();
}
