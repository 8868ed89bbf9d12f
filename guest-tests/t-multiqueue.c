/* SPDX-License-Identifier: MIT */
/*
 * t-multiqueue: one job on every vCPU, all at once, each with 8 mixed
 * reads and writes in flight on its own part of the disk with verify on.
 * Every job must finish all its I/O without errors or bad data; how many
 * completions ran on a vCPU other than the submitter's is reported.
 */
#include <stdio.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/work.h"
#include "system/cpu.h"

#define MQ_IOS 400

static int t_multiqueue_main(const Opts *args)
{
    unsigned jobs = cpus_count();
    WlJob *job[VCPU_MAX] = {0};
    uint64_t share;
    ClsDisk *d;
    int rc;

    gt_report_begin("t-multiqueue");
    d = gt_open_lun("t-multiqueue", args, true, &rc);
    if (!d) {
        gt_report(false, "a LUN to test");
        gt_report_summary();
        return rc;
    }
    if (jobs == 1) {
        gt_report_skip("one vCPU: give -smp 2 or more for several queues");
    }
    share = MIN(d->blocks / jobs, 8192ULL);
    gt_report_info("%u jobs, %u I/Os each, 8 in flight, %" G_GUINT64_FORMAT
                   " blocks each",
                   jobs, MQ_IOS, share);
    for (unsigned j = 0; j < jobs; j++) {
        char name[24];
        WlConfig cfg = {
            .first_lba = share * j,
            .blocks = share,
            .bs_blocks = (uint32_t)MIN(8ULL, share),
            .iodepth = 8,
            .rw = WL_RANDRW,
            .rwmixread = 50,
            .count = MQ_IOS,
            .verify = true,
            .seed = gt_machine_seed(),
            .stream = j,
            .report_max = 3,
        };
        g_snprintf(name, sizeof(name), "t-multiqueue job %u", j);
        cfg.name = name;
        job[j] = wl_job_new(d, &cfg);
        if (!gt_report(job[j] != NULL, "job %u fits in guest RAM", j)) {
            break;
        }
        wl_job_start(job[j], j, true);
    }
    for (unsigned j = 0; j < jobs && job[j]; j++) {
        const WlStats *st = wl_job_stats(job[j]);
        wl_job_join(job[j]);
        gt_report(
            st->ios[0] + st->ios[1] == MQ_IOS && !st->errors,
            "job %u on vCPU %u: %" G_GUINT64_FORMAT " reads, %" G_GUINT64_FORMAT
            " writes, %" G_GUINT64_FORMAT " errors",
            j, j, st->ios[WL_DIR_READ], st->ios[WL_DIR_WRITE], st->errors);
        gt_report(!st->mismatches && st->verified_blocks,
                  "job %u: %" G_GUINT64_FORMAT
                  " blocks verified, %" G_GUINT64_FORMAT " bad",
                  j, st->verified_blocks, st->mismatches);
        /* port-api.h promises completion on the submitting vCPU; the
         * port completes where the miniport called RequestComplete, as
         * Windows does without DPC redirection. Reported, not judged. */
        gt_report_info("job %u: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                       " completions ran on another vCPU",
                       j, st->done_elsewhere, st->ios[0] + st->ios[1]);
        wl_job_free(job[j]);
    }
    cls_close(d);
    return gt_report_summary();
}

const GuestProgram guest_program_t_multiqueue = {
    .name = "t-multiqueue",
    .help = "test: a verified job on every vCPU at once",
    .schema = &gt_schema_lun,
    .main = t_multiqueue_main,
    .needs_port = true,
};
