/* SPDX-License-Identifier: MIT */
/*
 * t-power: stop/resume and hibernate/resume under load (lib/cycle.h),
 * checked one property at a time: the transition succeeds, no write
 * completes while the adapters are down, the resume succeeds, every write
 * of the step completes, the data reads back intact, and the verifier
 * stays quiet.
 */
#include <stdio.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/cycle.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/work.h"
#include "system/cpu.h"

#define T_POWER_IOS 48

static const OptDesc t_power_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"lun", OPT_UINT,
     "logical unit, by its index in the boot inventory "
     "(default 0)",
     .max = 4095},
    {"cycles", OPT_UINT,
     "stop/resume + hibernate/resume cycles "
     "(default 1)",
     .min = 1, .max = 100},
    {NULL},
};

static const OptsSchema t_power_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = t_power_desc,
};

static bool check_step(unsigned cycle, WlJob *w, unsigned cpu,
                       PortPowerAction action)
{
    const char *name = gt_power_action_name(action);
    uint64_t before = wl_job_completed(w);
    GtCycleStep s;

    gt_cycle_step(w, cpu, action, T_POWER_IOS, &s);
    gt_report(s.down_ok, "cycle %u: %s: %s", cycle, name,
              s.down_ok ? "ok" : s.error);
    if (!s.down_ok) {
        return true;
    }
    gt_report(!s.done_while_down,
              "cycle %u: %s: no write completes while "
              "down (%" G_GUINT64_FORMAT " did)",
              cycle, name, s.done_while_down);
    gt_report(s.up_ok, "cycle %u: resume after %s: %s", cycle, name,
              s.up_ok ? "ok" : s.error);
    if (!s.up_ok) {
        return !s.writer_stuck;
    }
    gt_report(s.done_after - before == T_POWER_IOS,
              "cycle %u: %s: all %u "
              "writes of the step completed (%" G_GUINT64_FORMAT ")",
              cycle, name, T_POWER_IOS, s.done_after - before);
    gt_report(!s.bad_blocks && !s.errors && s.verified_blocks,
              "cycle %u: %s: %" G_GUINT64_FORMAT
              " blocks read back, %" G_GUINT64_FORMAT " bad, %" G_GUINT64_FORMAT
              " I/O errors",
              cycle, name, s.verified_blocks, s.bad_blocks, s.errors);
    return true;
}

static int t_power_main(const Opts *args)
{
    unsigned cycles = (unsigned)gt_opt_uint(args, "cycles", 1);
    unsigned cpu = cpus_count() > 1 ? 1 : 0;
    WlConfig cfg = {0};
    PortStats ps;
    ClsDisk *d;
    WlJob *w;
    int rc;

    gt_report_begin("t-power");
    d = gt_open_lun("t-power", args, true, &rc);
    if (!d) {
        gt_report(false, "a LUN to test");
        gt_report_summary();
        return rc;
    }
    cfg.name = "t-power";
    cfg.blocks = MIN(d->blocks, 4096 * 512ULL / d->block_size);
    cfg.bs_blocks = (uint32_t)MIN(8ULL, cfg.blocks);
    cfg.iodepth = 4;
    cfg.rw = WL_RANDWRITE;
    cfg.verify = true;
    cfg.seed = gt_machine_seed();
    cfg.report_max = 5;
    w = wl_job_new(d, &cfg);
    if (!gt_report(w != NULL, "the writer fits in guest RAM")) {
        cls_close(d);
        return gt_report_summary();
    }
    gt_report_info("writer on vCPU %u, %u writes in flight, %u writes per "
                   "transition",
                   cpu, cfg.iodepth, T_POWER_IOS);
    for (unsigned c = 1; c <= cycles; c++) {
        if (!check_step(c, w, cpu, PORT_POWER_STOP) ||
            !check_step(c, w, cpu, PORT_POWER_HIBERNATE)) {
            /* The writer waits for adapters that never came back. */
            return gt_report_summary();
        }
    }
    port_stats(&ps);
    gt_report(ps.violations == 0,
              "verifier: %" G_GUINT64_FORMAT " violation(s)", ps.violations);
    wl_job_free(w);
    cls_close(d);
    return gt_report_summary();
}

const GuestProgram guest_program_t_power = {
    .name = "t-power",
    .help = "test: stop/hibernate/resume under load, data intact",
    .schema = &t_power_schema,
    .main = t_power_main,
    .needs_port = true,
};
