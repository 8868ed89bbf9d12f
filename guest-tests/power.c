/* SPDX-License-Identifier: MIT */
/*
 * power: cycles of stop/resume and hibernate/resume (port_power) while a
 * writer thread keeps asynchronous writes of self-verifying patterns
 * going; after every resume all data written so far is read back and
 * checked. The port's shutdown (flush + SHUTDOWN) follows when the
 * program returns. Exit 1 if a transition fails, a write completes while
 * the adapters are down, or any data is wrong.
 */
#include <stdio.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/cycle.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/work.h"
#include "system/cpu.h"

#define POWER_REGION_MAX (4 * 1024 * 1024)

static const OptDesc power_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"lun", OPT_UINT,
     "logical unit, by its index in the boot inventory "
     "(default 0)",
     .max = 4095},
    {"cycles", OPT_UINT,
     "stop/resume + hibernate/resume cycles "
     "(default 2)",
     .min = 1, .max = 1000},
    {"ios", OPT_UINT, "writes issued across each transition (default 64)",
     .min = 1, .max = 1000000},
    {"bs", OPT_SIZE,
     "bytes per write, a multiple of the block size "
     "(default 4K)",
     .min = 512, .max = 1024 * 1024, .check = gt_check_block_multiple},
    {"iodepth", OPT_UINT, "writes in flight (default 4)", .min = 1, .max = 256},
    {"size", OPT_SIZE,
     "region from LBA 0 the writes go to (default: the "
     "disk, at most 4M)",
     .check = gt_check_block_multiple},
    {"retry", OPT_BOOL, "class-driver retries (default on)"},
    {NULL},
};

static const OptsSchema power_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = power_desc,
};

static void print_step(unsigned cycle, const GtCycleStep *s)
{
    const char *name = gt_power_action_name(s->action);

    if (!s->down_ok) {
        printf("power: cycle %u: %s: FAILED: %s\n", cycle, name, s->error);
        return;
    }
    if (!s->up_ok) {
        printf("power: cycle %u: %s: ok, resume: FAILED: %s\n", cycle, name,
               s->error);
        return;
    }
    printf("power: cycle %u: %s: ok (%" G_GUINT64_FORMAT " writes done so "
           "far, %" G_GUINT64_FORMAT " completed while down), resume: ok, "
           "verify: %" G_GUINT64_FORMAT " blocks, %" G_GUINT64_FORMAT
           " bad, %" G_GUINT64_FORMAT " I/O errors%s\n",
           cycle, name, s->done_before, s->done_while_down, s->verified_blocks,
           s->bad_blocks, s->errors,
           s->done_while_down ? " -- FAILED: I/O completed while the "
                                "adapters were down"
                              : "");
}

static int power_run(ClsDisk *d, const Opts *args)
{
    WlConfig cfg = {0};
    unsigned cycles = (unsigned)gt_opt_uint(args, "cycles", 2);
    uint64_t ios = gt_opt_uint(args, "ios", 64);
    uint64_t bs = gt_opt_uint(args, "bs", 4096);
    uint64_t size =
        gt_opt_uint(args, "size",
                    MIN(d->blocks * d->block_size, (uint64_t)POWER_REGION_MAX));
    unsigned cpu = cpus_count() > 1 ? 1 : 0;
    unsigned failures = 0, steps = 0;
    g_autofree char *why = NULL, *human = NULL, *bs_human = NULL;
    const WlStats *st;
    WlJob *w;
    char rs[200];

    if (bs % d->block_size) {
        return gt_usage("power", "bs",
                        "'%s' is not a multiple of LUN %u's "
                        "%u-byte blocks",
                        gt_opt_str(args, "bs", ""), d->index, d->block_size);
    }
    if (size % d->block_size || size / d->block_size > d->blocks) {
        return gt_usage("power", "size",
                        "'%s' is not a multiple of %u-byte "
                        "blocks within LUN %u",
                        gt_opt_str(args, "size", ""), d->block_size, d->index);
    }
    cfg.name = "power";
    cfg.blocks = size / d->block_size;
    cfg.bs_blocks = (uint32_t)(bs / d->block_size);
    cfg.iodepth = (unsigned)gt_opt_uint(args, "iodepth", 4);
    cfg.rw = WL_RANDWRITE;
    cfg.verify = true;
    cfg.seed = gt_machine_seed();
    cfg.report_max = 10;
    if (!wl_config_check(&cfg, d, &why)) {
        return gt_usage("power", NULL, "%s", why);
    }
    w = wl_job_new(d, &cfg);
    if (!w) {
        return gt_usage("power", "iodepth",
                        "the writes do not fit in guest "
                        "RAM (raise -m)");
    }
    st = wl_job_stats(w);
    human = gt_size_str(size);
    bs_human = gt_size_str(bs);
    printf("power: LUN %u (%u:%u:%u), region %s, bs=%s, iodepth=%u, "
           "%" G_GUINT64_FORMAT " writes per transition, writer on vCPU %u, %u "
           "cycle%s\n",
           d->index, d->path, d->target, d->lun, human, bs_human, cfg.iodepth,
           ios, cpu, cycles, cycles == 1 ? "" : "s");
    for (unsigned c = 1; c <= cycles; c++) {
        static const PortPowerAction down[] = {PORT_POWER_STOP,
                                               PORT_POWER_HIBERNATE};
        for (unsigned i = 0; i < G_N_ELEMENTS(down); i++) {
            GtCycleStep s;
            bool ok = gt_cycle_step(w, cpu, down[i], ios, &s);
            steps++;
            print_step(c, &s);
            failures += !ok;
            if (s.writer_stuck) {
                /* Its requests can never finish: the job stays allocated
                 * (its thread still waits on it) and the run ends here. */
                printf("power: FAILED: the adapters did not come back\n");
                return GT_EXIT_FAILED;
            }
        }
    }
    cls_retry_summary(&d->count, rs, sizeof(rs));
    if (failures) {
        printf("power: FAILED: %u of %u transitions, %" G_GUINT64_FORMAT
               " writes, %" G_GUINT64_FORMAT " bad blocks, %" G_GUINT64_FORMAT
               " I/O errors, retries: %s\n",
               failures, steps, st->ios[WL_DIR_WRITE], st->mismatches,
               st->errors, rs);
    } else {
        printf("power: ok: %u cycle%s, %u transitions, %" G_GUINT64_FORMAT
               " writes, %" G_GUINT64_FORMAT " blocks verified, 0 bad, "
               "retries: %s\n",
               cycles, cycles == 1 ? "" : "s", steps, st->ios[WL_DIR_WRITE],
               st->verified_blocks, rs);
    }
    wl_job_free(w);
    return failures ? GT_EXIT_FAILED : GT_EXIT_OK;
}

static int power_main(const Opts *args)
{
    int rc;
    ClsDisk *d = gt_open_lun("power", args, true, &rc);

    if (!d) {
        return rc;
    }
    rc = power_run(d, args);
    cls_close(d);
    return rc;
}

const GuestProgram guest_program_power = {
    .name = "power",
    .help = "stop/hibernate/resume cycles under async I/O, verifying data "
            "after each",
    .schema = &power_schema,
    .main = power_main,
    .needs_port = true,
};
