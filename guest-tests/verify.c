/* SPDX-License-Identifier: MIT */
/*
 * verify: write self-verifying patterns (guest-tests/lib/pattern.h) over
 * a range of one disk, read the range back and report every bad block by
 * kind: never written, corrupted, foreign, misdirected, lost write. Each
 * pass writes a new generation, so a second pass also catches writes that
 * were acknowledged but never reached the medium. Destroys the data in
 * the range. Exit 1 on any mismatch or I/O error.
 */
#include <stdio.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/work.h"
#include "system/options.h"

#define VERIFY_BS_DEFAULT (64 * 1024)
#define VERIFY_QD_DEFAULT 4
#define VERIFY_REPORT_MAX 20

static const OptDesc verify_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"lun", OPT_UINT,
     "logical unit, by its index in the boot inventory "
     "(default 0)",
     .max = 4095},
    {"lba", OPT_STRING,
     "range A-B (inclusive) or a single LBA A "
     "(default: the whole disk)",
     .check = gt_check_lba_range},
    {"size", OPT_SIZE,
     "bytes from LBA 0, instead of lba= (a multiple of "
     "the block size)",
     .check = gt_check_block_multiple},
    {"bs", OPT_SIZE,
     "bytes per I/O, a multiple of the block size "
     "(default 64K)",
     .min = 512, .max = 64 * 1024 * 1024, .check = gt_check_block_multiple},
    {"qd", OPT_UINT, "I/Os in flight (default 4)", .min = 1, .max = 256},
    {"passes", OPT_UINT,
     "write+read passes, each a new generation "
     "(default 1)",
     .min = 1, .max = 1000},
    {"flush", OPT_BOOL,
     "SYNCHRONIZE CACHE between writing and reading "
     "back (default on)"},
    {"retry", OPT_BOOL, "class-driver retries (default on)"},
    {"check", OPT_UINT,
     "write nothing: read back and expect what pass N of a verify with "
     "the same range, bs and seed left (after a power cut...)",
     .min = 1, .max = 1000},
    {NULL},
};

static const OptsSchema verify_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = verify_desc,
};

static void print_kinds(const uint64_t *mismatch)
{
    bool first = true;

    for (unsigned k = PAT_OK + 1; k < PAT_KINDS; k++) {
        if (!mismatch[k]) {
            continue;
        }
        printf("%s%s %" G_GUINT64_FORMAT, first ? " (" : ", ", pat_kind_name(k),
               mismatch[k]);
        first = false;
    }
    if (!first) {
        printf(")");
    }
}

static int verify_run(ClsDisk *d, const Opts *args)
{
    WlConfig cfg = {0};
    uint64_t first = 0, last = d->blocks - 1, bs;
    unsigned passes = (unsigned)gt_opt_uint(args, "passes", 1);
    bool flush = gt_opt_bool(args, "flush", true);
    g_autofree char *human = NULL, *bs_human = NULL;
    g_autofree char *why = NULL;
    const WlStats *st;
    WlJob *j;
    char rs[200];

    if (gt_opt_has(args, "lba") && gt_opt_has(args, "size")) {
        return gt_usage("verify", "size", "give lba= or size=, not both");
    }
    if (gt_opt_has(args, "lba")) {
        const char *v = gt_opt_str(args, "lba", "");
        options_parse_lba_range(v, &first, &last);
        if (last >= d->blocks) {
            return gt_usage("verify", "lba",
                            "'%s' goes beyond the last LBA "
                            "of LUN %u (%" G_GUINT64_FORMAT ")",
                            v, d->index, d->blocks - 1);
        }
    } else if (gt_opt_has(args, "size")) {
        uint64_t size = gt_opt_uint(args, "size", 0);
        if (size % d->block_size || size / d->block_size > d->blocks) {
            return gt_usage("verify", "size",
                            "'%s' is not a multiple of "
                            "%u-byte blocks within LUN %u (%" G_GUINT64_FORMAT
                            " bytes)",
                            gt_opt_str(args, "size", ""), d->block_size,
                            d->index, d->blocks * d->block_size);
        }
        last = size / d->block_size - 1;
    }
    bs = gt_opt_uint(args, "bs", VERIFY_BS_DEFAULT);
    if (bs % d->block_size) {
        return gt_usage("verify", "bs",
                        "'%s' is not a multiple of LUN %u's "
                        "%u-byte blocks",
                        gt_opt_str(args, "bs", ""), d->index, d->block_size);
    }
    cfg.name = "verify";
    cfg.first_lba = first;
    cfg.blocks = last - first + 1;
    cfg.bs_blocks = (uint32_t)(bs / d->block_size);
    cfg.iodepth = (unsigned)gt_opt_uint(args, "qd", VERIFY_QD_DEFAULT);
    cfg.rw = WL_WRITE;
    cfg.verify = true;
    cfg.seed = gt_machine_seed();
    cfg.report_max = VERIFY_REPORT_MAX;
    if (!wl_config_check(&cfg, d, &why)) {
        return gt_usage("verify", NULL, "%s", why);
    }
    j = wl_job_new(d, &cfg);
    if (!j) {
        return gt_usage("verify", "qd",
                        "%u I/Os of %" G_GUINT64_FORMAT
                        " bytes do not fit in guest RAM (raise -m)",
                        cfg.iodepth, bs);
    }
    st = wl_job_stats(j);
    human = gt_size_str(cfg.blocks * d->block_size);
    bs_human = gt_size_str(bs);
    printf(
        "verify: LUN %u (%u:%u:%u), LBA %" G_GUINT64_FORMAT
        "-%" G_GUINT64_FORMAT
        " (%s), bs=%s, qd=%u, %u pass%s, seed tag %016" G_GINT64_MODIFIER "x\n",
        d->index, d->path, d->target, d->lun, first, last, human, bs_human,
        cfg.iodepth, passes, passes == 1 ? "" : "es", pat_seed_tag(cfg.seed));
    if (gt_opt_has(args, "check")) {
        unsigned pass = (unsigned)gt_opt_uint(args, "check", 1);
        uint64_t bad;

        /* What an earlier run left: nothing is written. */
        wl_job_assume_written(j, pass);
        bad = wl_job_verify(j);
        printf("verify: check of pass %u's data: read back %" G_GUINT64_FORMAT
               " blocks: %" G_GUINT64_FORMAT " bad\n",
               pass, st->verified_blocks, bad);
        passes = 0;
    }
    for (unsigned p = 1; p <= passes; p++) {
        uint64_t writes0 = st->ios[WL_DIR_WRITE], bad;
        uint64_t verified0 = st->verified_blocks;
        ClsResult fr;

        if (p > 1) {
            wl_job_extend(j, 0);
        }
        wl_job_run(j);
        if (flush && !cls_flush(d, &fr)) {
            printf("verify: pass %u: flush FAILED: %s\n", p,
                   cls_result_str(&fr, rs, sizeof(rs)));
            d->count.errors++;
        }
        bad = wl_job_verify(j);
        printf("verify: pass %u: wrote %" G_GUINT64_FORMAT " I/Os, read back "
               "%" G_GUINT64_FORMAT " blocks: %" G_GUINT64_FORMAT " bad\n",
               p, st->ios[WL_DIR_WRITE] - writes0,
               st->verified_blocks - verified0, bad);
    }
    cls_retry_summary(&d->count, rs, sizeof(rs));
    if (st->mismatches || st->errors || d->count.errors) {
        printf("verify: FAILED: %" G_GUINT64_FORMAT " bad block%s",
               st->mismatches, st->mismatches == 1 ? "" : "s");
        print_kinds(st->mismatch);
        printf(", %" G_GUINT64_FORMAT " I/O error%s, retries: %s\n",
               d->count.errors, d->count.errors == 1 ? "" : "s", rs);
        wl_job_free(j);
        return GT_EXIT_FAILED;
    }
    printf("verify: ok: %" G_GUINT64_FORMAT " blocks verified, 0 bad, "
           "0 I/O errors, retries: %s\n",
           st->verified_blocks, rs);
    wl_job_free(j);
    return GT_EXIT_OK;
}

static int verify_main(const Opts *args)
{
    int rc;
    ClsDisk *d = gt_open_lun("verify", args, true, &rc);

    if (!d) {
        return rc;
    }
    rc = verify_run(d, args);
    cls_close(d);
    return rc;
}

const GuestProgram guest_program_verify = {
    .name = "verify",
    .help = "write patterns over a range, read back, report mismatches by "
            "kind",
    .schema = &verify_schema,
    .main = verify_main,
    .needs_port = true,
};
