/* SPDX-License-Identifier: MIT */
/*
 * t-integrity: data written comes back intact, at every size that
 * matters to the path (one block, one SRB at the adapter's maximum
 * transfer, just over it and several times over it, so the class layer
 * splits), at both ends of the disk, when overwritten with a newer
 * generation, with many writes in flight at random places, across a
 * flush, and around an UNMAP when the unit supports it.
 */
#include <stdio.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/pattern.h"
#include "guest-tests/lib/work.h"
#include "hw/core/ram.h"

#define INTEG_MAX_BLOCKS 16384

typedef enum Size {
    SZ_FIXED, /* n blocks */
    SZ_MAX,   /* the split size, + n blocks, times mul */
} Size;

typedef struct Case {
    const char *what;
    bool from_end; /* lba counts back from the last block */
    uint64_t lba;
    Size size;
    uint32_t n;
    uint32_t mul;
} Case;

static const Case cases[] = {
    {"one block at LBA 0", false, 0, SZ_FIXED, 1, 0},
    {"8 blocks at LBA 1", false, 1, SZ_FIXED, 8, 0},
    {"the last block", true, 1, SZ_FIXED, 1, 0},
    {"the last 64 blocks", true, 64, SZ_FIXED, 64, 0},
    {"one maximum transfer", false, 100, SZ_MAX, 0, 1},
    {"a maximum transfer + 1 block (split)", false, 333, SZ_MAX, 1, 1},
    {"3 maximum transfers + 5 blocks (split)", false, 1000, SZ_MAX, 5, 3},
};

static uint32_t case_blocks(const Case *c, const ClsDisk *d)
{
    uint32_t split = cls_split_bytes(d) / d->block_size;
    uint64_t n = c->n;

    if (!split) {
        split = 256; /* no limit: still a sizeable transfer */
    }
    if (c->size == SZ_MAX) {
        n = (uint64_t)split * c->mul + c->n;
    }
    return (uint32_t)MIN(MIN(n, (uint64_t)INTEG_MAX_BLOCKS), d->blocks);
}

static void run_case(ClsDisk *d, const Case *c, uint8_t *buf, uint64_t *gen,
                     uint64_t tag)
{
    uint32_t n = case_blocks(c, d);
    uint64_t lba = c->from_end ? d->blocks - MIN(c->lba, d->blocks)
                               : MIN(c->lba, d->blocks - n);
    ClsResult r;
    char msg[200];

    for (int round = 0; round < 2; round++) {
        uint64_t g = ++*gen;
        uint64_t srbs = d->count.srbs;
        PatCheck first;
        unsigned bad;
        bool ok;

        pat_fill(buf, lba, n, d->block_size, g, tag);
        ok = cls_write(d, lba, n, buf, &r);
        if (!gt_report(ok,
                       "%s: write %u blocks at LBA %" G_GUINT64_FORMAT
                       " in %" G_GUINT64_FORMAT " SRB(s): %s",
                       c->what, n, lba, d->count.srbs - srbs,
                       cls_result_str(&r, msg, sizeof(msg)))) {
            return;
        }
        ok = cls_read(d, lba, n, buf, &r);
        bad = ok ? pat_check(buf, lba, n, d->block_size, g, tag, NULL, &first)
                 : 0;
        if (bad) {
            pat_describe(&first, msg, sizeof(msg));
        } else {
            cls_result_str(&r, msg, sizeof(msg));
        }
        gt_report(ok && !bad,
                  "%s: %s generation %" G_GUINT64_FORMAT " reads back: %s",
                  c->what, round ? "newer" : "first", g, msg);
    }
}

static void run_random(ClsDisk *d)
{
    WlConfig cfg = {
        .name = "t-integrity",
        .first_lba = 0,
        .blocks = MIN(d->blocks, (uint64_t)8192),
        .bs_blocks = 8,
        .iodepth = 16,
        .rw = WL_RANDWRITE,
        .verify = true,
        .seed = gt_machine_seed(),
        .report_max = 5,
    };
    const WlStats *st;
    WlJob *j;

    cfg.bs_blocks = (uint32_t)MIN((uint64_t)cfg.bs_blocks, cfg.blocks);
    cfg.count = 4 * ((cfg.blocks + cfg.bs_blocks - 1) / cfg.bs_blocks);
    j = wl_job_new(d, &cfg);
    if (!gt_report(j != NULL, "16 writes in flight fit in guest RAM")) {
        return;
    }
    st = wl_job_stats(j);
    wl_job_run(j);
    wl_job_verify(j);
    gt_report(!st->errors && !st->mismatches,
              "%" G_GUINT64_FORMAT
              " random writes, 16 in flight, read back: %" G_GUINT64_FORMAT
              " bad blocks, %" G_GUINT64_FORMAT " errors",
              st->ios[WL_DIR_WRITE], st->mismatches, st->errors);
    wl_job_free(j);

    /* Mixed, after writing everything once: every read is checked as it
     * completes, against the newest write of its slot. */
    cfg.rw = WL_RANDRW;
    cfg.rwmixread = 50;
    j = wl_job_new(d, &cfg);
    if (!j) {
        return;
    }
    st = wl_job_stats(j);
    wl_job_prefill(j);
    wl_job_run(j);
    gt_report(!st->errors && !st->mismatches && st->verified_blocks,
              "%" G_GUINT64_FORMAT " random reads among %" G_GUINT64_FORMAT
              " writes: %" G_GUINT64_FORMAT
              " blocks checked, %" G_GUINT64_FORMAT " bad",
              st->ios[WL_DIR_READ], st->ios[WL_DIR_WRITE], st->verified_blocks,
              st->mismatches);
    wl_job_free(j);
}

static void run_unmap(ClsDisk *d, uint8_t *buf, uint64_t tag)
{
    uint64_t lba = d->blocks / 3;
    ClsResult r;
    char msg[200];
    bool ok;

    if (!d->lbpme) {
        gt_report_skip("UNMAP: the unit is not thin provisioned (LBPME 0)");
        return;
    }
    pat_fill(buf, lba, 16, d->block_size, 1, tag);
    ok = cls_write(d, lba, 16, buf, &r) && cls_unmap(d, lba + 4, 8, &r);
    gt_report(ok, "UNMAP of 8 blocks: %s",
              cls_result_str(&r, msg, sizeof(msg)));
    if (!ok || !cls_read(d, lba, 16, buf, &r)) {
        return;
    }
    gt_report(!pat_check(buf, lba, 4, d->block_size, 1, tag, NULL, NULL) &&
                  !pat_check(buf + 12ULL * d->block_size, lba + 12, 4,
                             d->block_size, 1, tag, NULL, NULL),
              "UNMAP leaves the blocks around the range intact");
    if (!d->lbprz) {
        gt_report_skip("UNMAP: unmapped blocks need not read as zeros "
                       "(LBPRZ 0)");
        return;
    }
    {
        uint64_t kinds[PAT_KINDS] = {0};
        pat_check(buf + 4ULL * d->block_size, lba + 4, 8, d->block_size, 1, tag,
                  kinds, NULL);
        gt_report(kinds[PAT_ZEROS] == 8,
                  "unmapped blocks read as zeros "
                  "(LBPRZ 1): %" G_GUINT64_FORMAT " of 8",
                  kinds[PAT_ZEROS]);
    }
}

static int t_integrity_main(const Opts *args)
{
    uint64_t tag = pat_seed_tag(gt_machine_seed());
    uint64_t gen = 0;
    ClsResult r;
    char msg[200];
    uint8_t *buf;
    bool ok;
    int rc;
    ClsDisk *d;

    gt_report_begin("t-integrity");
    d = gt_open_lun("t-integrity", args, true, &rc);
    if (!d) {
        gt_report(false, "a LUN to test");
        gt_report_summary();
        return rc;
    }
    gt_report_info("LUN %u: %" G_GUINT64_FORMAT " blocks of %u bytes, "
                   "maximum transfer %u bytes",
                   d->index, d->blocks, d->block_size, d->max_transfer);
    buf = ram_alloc((uint64_t)INTEG_MAX_BLOCKS * d->block_size, GUEST_PAGE_SIZE,
                    0, "t-integrity");
    if (!gt_report(buf != NULL, "a %u-block buffer fits in guest RAM",
                   INTEG_MAX_BLOCKS)) {
        cls_close(d);
        return gt_report_summary();
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        run_case(d, &cases[i], buf, &gen, tag);
    }
    run_random(d);
    ok = cls_flush(d, &r);
    gt_report(ok, "SYNCHRONIZE CACHE: %s",
              cls_result_str(&r, msg, sizeof(msg)));
    run_unmap(d, buf, tag);
    ram_free(buf);
    cls_close(d);
    return gt_report_summary();
}

const GuestProgram guest_program_t_integrity = {
    .name = "t-integrity",
    .help = "test: data comes back intact at every size, split or not",
    .schema = &gt_schema_lun,
    .main = t_integrity_main,
    .needs_port = true,
};
