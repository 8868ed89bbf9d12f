/* SPDX-License-Identifier: MIT */
/*
 * t-lifecycle: the port's life cycle as the class layer sees it, in order
 * (STORPORT.md "Life cycle"): the adapters are up and their units
 * enumerated before the program runs, with nothing in flight; I/O works;
 * a stop drains what is in flight and holds what arrives until the
 * resume; hibernate does the same; SYNCHRONIZE CACHE works; the verifier
 * saw nothing. The shutdown itself follows when the program returns.
 */
#include <stdio.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/cycle.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/pattern.h"
#include "hw/core/ram.h"
#include "system/event.h"

/* How long a request submitted to a stopped adapter is watched. */
#define HOLD_NS (10 * NS_PER_MS)

static void check_io(ClsDisk *d, uint8_t *buf, uint64_t gen)
{
    uint64_t tag = pat_seed_tag(gt_machine_seed());
    uint64_t lba = d->blocks / 2;
    ClsResult r;
    char msg[200];
    bool ok;

    pat_fill(buf, lba, 8, d->block_size, gen, tag);
    ok = cls_write(d, lba, 8, buf, &r);
    gt_report(ok, "write 8 blocks at LBA %" G_GUINT64_FORMAT ": %s", lba,
              cls_result_str(&r, msg, sizeof(msg)));
    ok = cls_read(d, lba, 8, buf, &r);
    gt_report(ok &&
                  !pat_check(buf, lba, 8, d->block_size, gen, tag, NULL, NULL),
              "read back generation %" G_GUINT64_FORMAT ": %s", gen,
              cls_result_str(&r, msg, sizeof(msg)));
}

/* A write submitted while the adapters are down completes only after the
 * resume. */
static void check_held(ClsDisk *d, PortPowerAction action)
{
    const char *name = gt_power_action_name(action);
    ClsQueue *q = cls_queue_new(d, 1, d->block_size);
    g_autoptr(GError) err = NULL;
    PortStats ps;
    ClsIo *io, *early;
    bool ok;

    if (!q) {
        gt_report(false, "%s: no guest RAM for a request", name);
        return;
    }
    ok = port_power(action, &err);
    gt_report(ok, "%s: %s", name, ok ? "ok" : err->message);
    if (!ok) {
        cls_queue_free(q);
        return;
    }
    port_stats(&ps);
    gt_report(ps.started == ps.completed,
              "%s: nothing left in the miniport "
              "(%" G_GUINT64_FORMAT " started, %" G_GUINT64_FORMAT
              " completed)",
              name, ps.started, ps.completed);
    io = cls_io_get(q);
    pat_fill(io->buf, 0, 1, d->block_size, 1, pat_seed_tag(0));
    cls_io_set_rw(io, CLS_WRITE, 0, 1, io->buf);
    cls_submit(io);
    guest_sleep(HOLD_NS);
    early = cls_poll(q);
    gt_report(!early,
              "%s: a write submitted while down is held "
              "(%u ms)",
              name, (unsigned)(HOLD_NS / NS_PER_MS));
    ok = port_power(PORT_POWER_RESUME, &err);
    gt_report(ok, "resume after %s: %s", name, ok ? "ok" : err->message);
    if (!ok) {
        /* The write can never finish: leave the queue to the machine. */
        return;
    }
    io = early ? early : cls_wait(q);
    gt_report(io && io->res.status == CLS_OK &&
                  io->done_ns >= io->submit_ns + HOLD_NS,
              "%s: the held write completes after the resume", name);
    if (io) {
        cls_io_put(io);
    }
    cls_queue_free(q);
}

static int t_lifecycle_main(const Opts *args)
{
    unsigned lun = (unsigned)gt_opt_uint(args, "lun", 0);
    PortStats ps;
    ClsDisk *d;
    ClsResult r;
    uint8_t *buf;
    char msg[200];
    bool ok;

    gt_report_begin("t-lifecycle");
    port_stats(&ps);
    gt_report(cls_lun_count() > 0,
              "the port enumerated %u logical unit(s) "
              "before the program started",
              cls_lun_count());
    if (lun >= cls_lun_count()) {
        gt_report(false, "LUN %u exists", lun);
        return gt_report_summary();
    }
    gt_report(ps.started == ps.completed,
              "no request in flight at start "
              "(%" G_GUINT64_FORMAT " started, %" G_GUINT64_FORMAT
              " completed)",
              ps.started, ps.completed);
    d = cls_open(lun);
    gt_report(d->blocks > 0,
              "READ CAPACITY: %" G_GUINT64_FORMAT " blocks "
              "of %u bytes",
              d->blocks, d->block_size);
    if (!d->blocks) {
        cls_close(d);
        return gt_report_summary();
    }
    buf = ram_alloc(8ULL * d->block_size, GUEST_PAGE_SIZE, 0, "t-lifecycle");
    check_io(d, buf, 1);
    check_held(d, PORT_POWER_STOP);
    check_io(d, buf, 2);
    check_held(d, PORT_POWER_HIBERNATE);
    check_io(d, buf, 3);
    ok = cls_flush(d, &r);
    gt_report(ok, "SYNCHRONIZE CACHE: %s",
              cls_result_str(&r, msg, sizeof(msg)));
    port_stats(&ps);
    gt_report(ps.violations == 0,
              "verifier: %" G_GUINT64_FORMAT " violation(s)", ps.violations);
    ram_free(buf);
    cls_close(d);
    return gt_report_summary();
}

const GuestProgram guest_program_t_lifecycle = {
    .name = "t-lifecycle",
    .help = "test: start, I/O, stop/hibernate hold and resume, flush, in "
            "order",
    .schema = &gt_schema_lun,
    .main = t_lifecycle_main,
    .needs_port = true,
};
