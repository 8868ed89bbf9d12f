/* SPDX-License-Identifier: MIT */
/*
 * t-qdepth: queue depth limits. Far more requests than the unit's queue
 * depth are submitted at once, writes then reads; the port must keep at
 * most its per-unit depth inside the miniport, hold the rest, and finish
 * every one, with the data intact. The depth and the count in the
 * miniport are read from the port (port_lun_outstanding), as a debugger
 * would: the class layer has no business knowing them.
 */
#include <stdio.h>
#include <storport.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/pattern.h"

static const OptDesc t_qdepth_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"lun", OPT_UINT,
     "logical unit, by its index in the boot inventory "
     "(default 0)",
     .max = 4095},
    {"depth", OPT_UINT, "requests submitted at once (default 256)", .min = 1,
     .max = 4096},
    {NULL},
};

static const OptsSchema t_qdepth_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = t_qdepth_desc,
};

typedef struct Round {
    unsigned completed, failed, bad;
    unsigned max_in_miniport;
    bool over_depth;
} Round;

static void note_depth(const ClsDisk *d, Round *r)
{
    const PortLu *lu = d->lu;

    r->max_in_miniport = MAX(r->max_in_miniport, port_lun_outstanding(lu));
    r->over_depth |= port_lun_outstanding(lu) > port_lun_queue_depth(lu);
}

/* Submit one request per slot of @q at once, then reap them all. */
static void run_round(ClsDisk *d, ClsQueue *q, ClsOp op, uint32_t blocks,
                      uint64_t tag, Round *r)
{
    unsigned depth = cls_queue_depth(q);
    ClsIo *io;

    for (unsigned i = 0; i < depth; i++) {
        uint64_t lba = (uint64_t)i * blocks;
        io = cls_io_get(q);
        if (op == CLS_WRITE) {
            pat_fill(io->buf, lba, blocks, d->block_size, 1, tag);
        }
        cls_io_set_rw(io, op, lba, blocks, io->buf);
        cls_submit(io);
        note_depth(d, r);
    }
    while ((io = cls_wait(q))) {
        note_depth(d, r);
        r->completed++;
        if (io->res.status != CLS_OK) {
            r->failed++;
        } else if (op == CLS_READ &&
                   pat_check(io->buf, io->lba, io->blocks, d->block_size, 1,
                             tag, NULL, NULL)) {
            r->bad++;
        }
        cls_io_put(io);
    }
}

static int t_qdepth_main(const Opts *args)
{
    unsigned want = (unsigned)gt_opt_uint(args, "depth", 256);
    uint64_t tag = pat_seed_tag(gt_machine_seed());
    static const ClsOp ops[] = {CLS_WRITE, CLS_READ};
    uint32_t blocks;
    ClsQueue *q;
    ClsDisk *d;
    int rc;

    gt_report_begin("t-qdepth");
    d = gt_open_lun("t-qdepth", args, true, &rc);
    if (!d) {
        gt_report(false, "a LUN to test");
        gt_report_summary();
        return rc;
    }
    blocks = (uint32_t)MAX(1u, 4096u / d->block_size);
    want = (unsigned)MIN((uint64_t)want, d->blocks / blocks);
    q = cls_queue_new(d, want, blocks * d->block_size);
    if (!gt_report(q != NULL, "%u requests fit in guest RAM", want)) {
        cls_close(d);
        return gt_report_summary();
    }
    gt_report_info("LUN %u: queue depth %u in the port, %u requests at "
                   "once",
                   d->index, port_lun_queue_depth(d->lu), want);
    for (unsigned i = 0; i < G_N_ELEMENTS(ops); i++) {
        const char *name = cls_op_name(ops[i]);
        Round r = {0};

        run_round(d, q, ops[i], blocks, tag, &r);
        gt_report(r.completed == want, "%s: %u of %u requests completed", name,
                  r.completed, want);
        gt_report(!r.failed, "%s: %u failed", name, r.failed);
        gt_report(!r.over_depth,
                  "%s: at most the queue depth (%u) inside "
                  "the miniport; the most seen was %u",
                  name, port_lun_queue_depth(d->lu), r.max_in_miniport);
        if (ops[i] == CLS_READ) {
            gt_report(!r.bad,
                      "read: every block came back as written (%u "
                      "requests wrong)",
                      r.bad);
        }
    }
    gt_report(cls_queue_outstanding(q) == 0, "nothing left outstanding");
    cls_queue_free(q);
    cls_close(d);
    return gt_report_summary();
}

const GuestProgram guest_program_t_qdepth = {
    .name = "t-qdepth",
    .help = "test: many more requests than the queue depth, all complete",
    .schema = &t_qdepth_schema,
    .main = t_qdepth_main,
    .needs_port = true,
};
