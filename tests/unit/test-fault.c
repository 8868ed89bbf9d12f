/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (system/fault.h): the trigger arithmetic (at, after,
 * every, p, count) on a bare fault, CDB decoding, and faults fired into a
 * whole machine (virtio-scsi HBA, scsi-hd, the virtio-scsi miniport),
 * checked through what the guest's class layer got back: status, sense
 * and INFORMATION, retries, resets, the data, and the exit summary. Also
 * the verify program's read-back of an earlier run's data
 * (wl_job_assume_written), which the power-cut check relies on.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/work.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-defs.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/config.h"
#include "system/event.h"
#include "system/fault-int.h"
#include "system/options.h"
#include "tests/helpers/gt-harness.h"

/* ---- triggers (no machine) ---- */

static Fault *parse_fault(const char *spec, uint64_t seed)
{
    g_autofree char *line = g_strdup_printf("storemu -fault %s", spec);
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) err = NULL;
    MachineConfig *cfg = machine_config_new();
    bool exit_now = false;
    int argc;
    Fault *f;

    options_reset_available();
    options_set_available("-fault", true);
    g_assert_true(g_shell_parse_argv(line, &argc, &argv, NULL));
    g_assert_true(options_parse(argc, argv, cfg, &exit_now, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->faults->len, ==, 1);
    f = fault_new(g_ptr_array_index(cfg->faults, 0), 0, seed);
    machine_config_free(cfg);
    options_reset_available();
    return f;
}

typedef struct TriggerCase {
    const char *spec;
    /* one character per opportunity: '1' fires, '0' does not; the clock
     * is at opportunity index * 1 us */
    const char *want;
} TriggerCase;

static const TriggerCase trigger_cases[] = {
    {"busy", "1111111111"},
    {"busy,count=3", "1110000000"},
    {"busy,after=2", "0011111111"},
    {"busy,every=3", "1001001001"},
    {"busy,after=1,every=2,count=2", "0101000000"},
    {"busy,at=5us", "0000010000"},
    {"busy,at=5us,count=2,every=2", "0000010100"},
    {"busy,p=0", "0000000000"},
    {"busy,p=1,count=4", "1111000000"},
    {"busy,at=3us,after=2,count=3", "0000011100"},
};

static void test_triggers(gconstpointer data)
{
    const TriggerCase *c = data;
    Fault *f = parse_fault(c->spec, 0);
    char got[32] = {0};

    event_loop_init();
    for (size_t i = 0; i < strlen(c->want); i++) {
        vclock_ns = i * NS_PER_US;
        got[i] = '0';
        if (fault_try(f)) {
            /* As the hooks do: a firing is counted (count=). */
            fault_fire(f, "opportunity %zu", i);
            got[i] = '1';
        }
    }
    g_assert_cmpstr(got, ==, c->want);
    event_loop_fini();
    fault_free(f);
}

/* p= draws from a stream of the machine seed: the same seed, the same
 * firings; another seed, others; and about p of them fire. */
static void test_probability_seeded(void)
{
    char a[201] = {0}, b[201] = {0}, c[201] = {0};
    Fault *fa = parse_fault("busy,p=0.3", 7);
    Fault *fb = parse_fault("busy,p=0.3", 7);
    Fault *fc = parse_fault("busy,p=0.3", 8);
    unsigned ones = 0;

    for (unsigned i = 0; i < 200; i++) {
        a[i] = fault_try(fa) ? '1' : '0';
        b[i] = fault_try(fb) ? '1' : '0';
        c[i] = fault_try(fc) ? '1' : '0';
        ones += a[i] == '1';
    }
    g_assert_cmpstr(a, ==, b);
    g_assert_cmpstr(a, !=, c);
    g_assert_cmpuint(ones, >, 30);
    g_assert_cmpuint(ones, <, 90);
    fault_free(fa);
    fault_free(fb);
    fault_free(fc);
}

/* The kind-specific defaults the documentation states. */
static void test_defaults(void)
{
    Fault *cc = parse_fault("check-condition", 0);
    Fault *ua = parse_fault("unit-attention", 0);
    Fault *ua2 = parse_fault("unit-attention,asc=2a/01", 0);
    Fault *at = parse_fault("hang,at=100", 0);

    g_assert_cmpuint(cc->kind, ==, FK_CHECK_CONDITION);
    g_assert_cmpuint(cc->sense_key, ==, 3);
    g_assert_cmpuint(cc->asc, ==, 0x11);
    g_assert_cmpuint(cc->ascq, ==, 0);
    g_assert_cmpuint(cc->count, ==, 0); /* unlimited without at= */
    g_assert_cmpuint(ua->sense_key, ==, SCSI_SK_UNIT_ATTENTION);
    g_assert_cmpuint(ua->asc, ==, 0x29);
    g_assert_cmpuint(ua2->asc, ==, 0x2a);
    g_assert_cmpuint(ua2->ascq, ==, 0x01);
    g_assert_true(at->has_at);
    g_assert_false(at->at_time);
    g_assert_cmpuint(at->at, ==, 100);
    g_assert_cmpuint(at->count, ==, 1); /* 1 with at= */
    g_assert_true(fault_kind_is_point(FK_HANG));
    g_assert_false(fault_kind_is_point(FK_BUSY));
    fault_free(cc);
    fault_free(ua);
    fault_free(ua2);
    fault_free(at);
}

/* ---- CDBs ---- */

typedef struct CdbCase {
    const char *name;
    uint8_t cdb[16];
    unsigned len;
    bool has_range;
    uint64_t lba, blocks;
} CdbCase;

static const CdbCase cdb_cases[] = {
    {"read6", {0x08, 0x1f, 0xff, 0xfe, 0}, 6, true, 0x1ffffe, 256},
    {"write10", {0x2a, 0, 0, 0, 0, 0x10, 0, 0, 8, 0}, 10, true, 16, 8},
    {"read12", {0xa8, 0, 0, 0, 0, 7, 0, 0, 1, 0, 0, 0}, 12, true, 7, 256},
    {"read16",
     {0x88, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0},
     16,
     true,
     1ULL << 32,
     128},
    {"sync16-all",
     {0x91, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0},
     16,
     true,
     5,
     UINT64_MAX - 5},
    {"inquiry", {0x12, 0, 0, 0, 36, 0}, 6, false, 0, 0},
    {"short16", {0x88, 0, 0}, 3, false, 0, 0},
};

static void test_cdb_range(gconstpointer data)
{
    const CdbCase *c = data;
    uint64_t lba = 0, blocks = 0;

    g_assert_cmpint(fault_cdb_range(c->cdb, c->len, &lba, &blocks), ==,
                    c->has_range);
    if (c->has_range) {
        g_assert_cmpuint(lba, ==, c->lba);
        g_assert_cmpuint(blocks, ==, c->blocks);
    }
}

/* ---- on a machine ---- */

#define VIRTIO_MACHINE                                                         \
    "-drive id=d0,size=16M -device virtio-scsi-pci,id=hba0 "                   \
    "-device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi "

/* INFORMATION of fixed-format sense (SPC-5 4.4.3), -1 when not valid. */
static int64_t sense_info(const ClsResult *r)
{
    const uint8_t *s = r->sense;

    if (r->sense_len < 7 || (s[0] & 0x7f) != 0x70 || !(s[0] & 0x80)) {
        return -1;
    }
    return (int64_t)((uint32_t)s[3] << 24 | s[4] << 16 | s[5] << 8 | s[6]);
}

/* The exit summary, as a string (from inside the run). */
static char *summary(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    g_assert_nonnull(f);
    fault_print_summary(f);
    fclose(f);
    return text;
}

typedef struct Expect {
    /* filled by the body */
    bool first_ok, second_ok;
    ClsResult first, second;
    ClsCounters count;
    PortStats ps;
    char *summary;
    bool data_ok;
} Expect;

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed + i * 7);
    }
}

/* Read LBA 96..103 with retries off, then again. */
static void body_read_twice(void *opaque)
{
    Expect *e = opaque;
    ClsDisk *d = cls_open(0);
    uint8_t *buf = ram_alloc(4096, 512, 0, "test");

    g_assert_nonnull(d);
    cls_set_retry(d, false);
    e->first_ok = cls_read(d, 96, 8, buf, &e->first);
    e->second_ok = cls_read(d, 96, 8, buf, &e->second);
    e->count = d->count;
    e->summary = summary();
    ram_free(buf);
    cls_close(d);
}

static void test_medium_error(void)
{
    Expect e = {0};

    g_assert_cmpint(gt_harness_run(VIRTIO_MACHINE
                                   "-fault check-condition,lba=100,op=read,"
                                   "sense=3/11/00,count=1",
                                   body_read_twice, &e),
                    ==, MACHINE_STOP_REQUESTED);
    /* SRB_STATUS_ERROR with the sense intact: key, ASC, ASCQ and the
     * INFORMATION field naming the first LBA of the range. */
    g_assert_false(e.first_ok);
    g_assert_cmpint(e.first.status, ==, CLS_ERR_CHECK);
    g_assert_cmpuint(e.first.srb_status, ==, SRB_STATUS_ERROR);
    g_assert_cmpuint(e.first.scsi_status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_true(e.first.sense_valid);
    g_assert_cmpuint(e.first.sense_key, ==, 3);
    g_assert_cmpuint(e.first.asc, ==, 0x11);
    g_assert_cmpuint(e.first.ascq, ==, 0x00);
    g_assert_cmpint(sense_info(&e.first), ==, 100);
    /* count=1: the next read is fine. */
    g_assert_true(e.second_ok);
    g_assert_nonnull(strstr(e.summary, "fired 1 time"));
    g_assert_nonnull(strstr(e.summary, "the guest saw SRB_STATUS_ERROR, SCSI "
                                       "CHECK CONDITION, sense 3/11/00 info "
                                       "100"));
    free(e.summary);
}

static void test_backend_eio(void)
{
    Expect e = {0};

    g_assert_cmpint(gt_harness_run(VIRTIO_MACHINE
                                   "-fault eio,op=read,lba=99,count=1",
                                   body_read_twice, &e),
                    ==, MACHINE_STOP_REQUESTED);
    /* The disk's own sense for a failed host read: MEDIUM ERROR with the
     * LBA of the failed range. */
    g_assert_false(e.first_ok);
    g_assert_cmpuint(e.first.sense_key, ==, 3);
    g_assert_cmpuint(e.first.asc, ==, 0x11);
    g_assert_cmpint(sense_info(&e.first), ==, 96);
    g_assert_true(e.second_ok);
    g_assert_nonnull(strstr(e.summary, "host I/O error EIO"));
    free(e.summary);
}

/* Write LBA 0..7 and read it back (retries on), with counters. */
static void body_write_read(void *opaque)
{
    Expect *e = opaque;
    ClsDisk *d = cls_open(0);
    uint8_t *w = ram_alloc(4096, 512, 0, "test");
    uint8_t *r = ram_alloc(4096, 512, 0, "test");

    g_assert_nonnull(d);
    fill(w, 4096, 0x5a);
    e->first_ok = cls_write(d, 0, 8, w, &e->first);
    e->second_ok = cls_read(d, 0, 8, r, &e->second);
    e->data_ok = e->second_ok && memcmp(w, r, 4096) == 0;
    e->count = d->count;
    port_stats(&e->ps);
    e->summary = summary();
    ram_free(w);
    ram_free(r);
    cls_close(d);
}

static void test_enospc(void)
{
    Expect e = {0};

    g_assert_cmpint(gt_harness_run(VIRTIO_MACHINE
                                   "-fault enospc,op=write,count=1",
                                   body_write_read, &e),
                    ==, MACHINE_STOP_REQUESTED);
    g_assert_false(e.first_ok);
    g_assert_cmpuint(e.first.sense_key, ==, 7);
    g_assert_cmpuint(e.first.asc, ==, 0x27);
    g_assert_cmpuint(e.first.ascq, ==, 0x07);
    free(e.summary);
}

static void test_busy_retried(void)
{
    Expect e = {0};

    g_assert_cmpint(gt_harness_run(VIRTIO_MACHINE
                                   "-fault busy,op=write,count=2",
                                   body_write_read, &e),
                    ==, MACHINE_STOP_REQUESTED);
    g_assert_true(e.first_ok);
    g_assert_cmpuint(e.first.retries, ==, 2);
    g_assert_cmpuint(e.count.retries[CLS_RETRY_SCSI_BUSY], ==, 2);
    g_assert_true(e.data_ok);
    g_assert_nonnull(strstr(e.summary, "BUSY (2 attempts hit)"));
    g_assert_nonnull(strstr(e.summary, "retried 2 times, then succeeded"));
    free(e.summary);
}

/* A lost completion interrupt and a hung device: the port times the
 * request out, calls HwStorResetBus, the miniport recovers the device
 * and the retried write lands; nothing acknowledged is lost. */
static void test_recovery(gconstpointer data)
{
    const char *fault = data;
    g_autofree char *args = g_strdup_printf(VIRTIO_MACHINE "-fault %s", fault);
    Expect e = {0};

    g_assert_cmpint(gt_harness_run(args, body_write_read, &e), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_true(e.first_ok);
    g_assert_cmpuint(e.count.retries[CLS_RETRY_BUS_RESET], >=, 1);
    g_assert_cmpuint(e.ps.resets, ==, 1);
    g_assert_true(e.second_ok);
    g_assert_true(e.data_ok);
    g_assert_nonnull(strstr(e.summary, "SRB_STATUS_BUS_RESET"));
    g_assert_nonnull(strstr(e.summary, "timed out; retried"));
    g_assert_nonnull(strstr(e.summary, "then succeeded"));
    free(e.summary);
}

/* pool-fail at HwStorFindAdapter: the adapter fails, nothing leaks. */
static void test_pool_fail_find_adapter(void)
{
    g_assert_cmpint(gt_harness_storemu(VIRTIO_MACHINE "-fault pool-fail "
                                                      "-verifier strict "
                                                      "-guest boot"),
                    ==, EXIT_GUEST_FAILED);
    /* Only the registry buffers fail: the parameters read as absent and
     * the adapter starts. */
    g_assert_cmpint(gt_harness_storemu(VIRTIO_MACHINE
                                       "-fault pool-fail,count=1 "
                                       "-verifier strict -guest boot"),
                    ==, EXIT_OK);
}

/* ---- the verify program's read-back (work.h) ---- */

typedef struct AssumeCase {
    unsigned passes_written, passes_assumed;
    uint64_t bad; /* blocks */
} AssumeCase;

static void body_assume(void *opaque)
{
    AssumeCase *c = opaque;
    ClsDisk *d = cls_open(0);
    WlConfig cfg = {
        .name = "t",
        .blocks = 64,
        .bs_blocks = 8,
        .iodepth = 2,
        .rw = WL_WRITE,
        .verify = true,
        .seed = 3,
    };
    WlJob *w = wl_job_new(d, &cfg), *r;

    for (unsigned p = 0; p < c->passes_written; p++) {
        if (p) {
            wl_job_extend(w, 0);
        }
        wl_job_run(w);
    }
    wl_job_free(w);
    /* Another job, as another run would: it only reads. */
    r = wl_job_new(d, &cfg);
    wl_job_assume_written(r, c->passes_assumed);
    c->bad = wl_job_verify(r);
    g_assert_cmpuint(wl_job_stats(r)->ios[WL_DIR_WRITE], ==, 0);
    g_assert_cmpuint(wl_job_stats(r)->verified_blocks, ==, 64);
    wl_job_free(r);
    cls_close(d);
}

static void test_assume_written(void)
{
    AssumeCase same = {2, 2, 0}, older = {2, 1, 0}, newer = {1, 2, 0};

    gt_harness_run("-miniport ramdisk", body_assume, &same);
    g_assert_cmpuint(same.bad, ==, 0);
    /* Pass 2 overwrote pass 1: expecting pass 1 finds newer data. */
    gt_harness_run("-miniport ramdisk", body_assume, &older);
    g_assert_cmpuint(older.bad, ==, 64);
    /* Only pass 1 was written: expecting pass 2 finds lost writes. */
    gt_harness_run("-miniport ramdisk", body_assume, &newer);
    g_assert_cmpuint(newer.bad, ==, 64);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(trigger_cases); i++) {
        g_autofree char *name =
            g_strdup_printf("/fault/trigger/%s", trigger_cases[i].spec);
        g_test_add_data_func(name, &trigger_cases[i], test_triggers);
    }
    g_test_add_func("/fault/trigger/probability-seeded",
                    test_probability_seeded);
    g_test_add_func("/fault/defaults", test_defaults);
    for (size_t i = 0; i < G_N_ELEMENTS(cdb_cases); i++) {
        g_autofree char *name =
            g_strdup_printf("/fault/cdb-range/%s", cdb_cases[i].name);
        g_test_add_data_func(name, &cdb_cases[i], test_cdb_range);
    }
    g_test_add_func("/fault/scsi/medium-error", test_medium_error);
    g_test_add_func("/fault/backend/eio", test_backend_eio);
    g_test_add_func("/fault/backend/enospc", test_enospc);
    g_test_add_func("/fault/scsi/busy-retried", test_busy_retried);
    g_test_add_data_func("/fault/recovery/irq-drop",
                         "irq-drop,op=write,count=1", test_recovery);
    g_test_add_data_func("/fault/recovery/hang", "hang,op=write,count=1",
                         test_recovery);
    g_test_add_data_func("/fault/recovery/doorbell-ignore",
                         "doorbell-ignore,count=1,after=2", test_recovery);
    g_test_add_func("/fault/guest/pool-fail-find-adapter",
                    test_pool_fail_find_adapter);
    g_test_add_func("/fault/work/assume-written", test_assume_written);
    return g_test_run();
}
