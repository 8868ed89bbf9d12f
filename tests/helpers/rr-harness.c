/* SPDX-License-Identifier: MIT */
/*
 * The record/replay machine harness (rr.h): a bare machine with tp-device
 * and the "rr" miniport, assembled the way storemu's main does it, with
 * recording or replay attached around the run. With device=off the
 * machine gets no tp-device: machine_init() builds the recorded PCI
 * function from the trace instead.
 */
#include <glib.h>
#include <string.h>
#include "guest-tests/guest.h"
#include "hw/core/ram.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/machine.h"
#include "tests/helpers/rr.h"
#include "tests/helpers/tp-device.h"

static const OptDesc rr_mp_desc[] = {
    {"name", OPT_STRING, "miniport"},
    {"tracing", OPT_BOOL, "tracing"},
    {NULL},
};

static const OptsSchema rr_mp_schema = {
    .option = "-miniport",
    .implied = "name",
    .desc = rr_mp_desc,
    .wildcard_prefix = "param",
};

static void device_cleanup(void *opaque)
{
    tp_device_free(opaque);
}

typedef struct RrMain {
    const RrRun *r;
} RrMain;

static void rr_main(void *opaque)
{
    RrMain *m = opaque;
    g_autoptr(GError) err = NULL;

    if (!port_start(&err)) {
        g_printerr("# port_start: %s\n", err->message);
        machine_request_stop(EXIT_GUEST_FAILED);
        return;
    }
    if (m->r->body) {
        m->r->body(m->r->opaque);
    }
    port_shutdown();
    machine_request_stop(EXIT_OK);
}

static int exit_code(MachineStop st)
{
    switch (st) {
    case MACHINE_STOP_REQUESTED:
        return machine_requested_exit_code();
    case MACHINE_STOP_IDLE:
    case MACHINE_STOP_NONE:
        return EXIT_OK;
    default:
        return EXIT_DEADLOCK;
    }
}

void rr_run(const RrRun *r, RrOutcome *out)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(Opts) mp = NULL;
    MachineConfig *cfg = machine_config_new();
    VerifierMode vm = r->verifier;
    RrMain m = {r};
    uint64_t v0, base;

    memset(out, 0, sizeof(*out));
    rr_stale_completions = 0;
    rr_bug_seq = 0;
    rr_stale_seq = 0;
    cfg->smp = r->smp ? r->smp : 2;
    cfg->mem_size = 64ULL << 20;
    cfg->sched.policy = r->policy;
    cfg->sched.seed = r->seed;
    if (r->preempt > 0) {
        cfg->sched.preempt = r->preempt;
    }
    cfg->verifier = vm;
    if (r->replay) {
        ReplayOptions ro = {
            .path = r->replay,
            .device = !r->device_off,
            .has_stop_at = r->has_stop_at,
            .stop_at = r->stop_at,
            .quiet = true,
        };
        g_assert_true(replay_open(&ro, &err));
        g_assert_no_error(err);
    }
    g_assert_true(machine_init(cfg, &err));
    g_assert_no_error(err);
    if (!r->replay || !r->device_off) {
        TpDevice *d = tp_device_new(machine_pci_bus(), r->msix, &err);
        g_assert_no_error(err);
        machine_add_cleanup(device_cleanup, d);
        g_assert_true(pci_bus_assign(machine_pci_bus(), &err));
        g_assert_no_error(err);
    }
    port_register_builtin("rr", rr_driver_entry);
    mp = opts_parse(&rr_mp_schema, "rr", &err);
    g_assert_no_error(err);
    g_assert_true(port_load(mp, vm, &err));
    g_assert_no_error(err);
    v0 = verifier_total();
    if (r->record) {
        g_assert_true(record_start(r->record, r->data, cfg, &err));
        g_assert_no_error(err);
    }
    if (r->replay) {
        g_assert_true(replay_start(cfg, &err));
        g_assert_no_error(err);
    }
    guest_thread_create(0, "rr-main", rr_main, &m);
    /* Event indices count from here, in the recording and the replay. */
    base = bnd_seq();
    out->stop = cpus_run(r->limit_ns ? r->limit_ns : 60 * NS_PER_SEC);
    out->events = bnd_seq() - base;
    out->bug_event = rr_bug_seq ? rr_bug_seq - base : 0;
    out->stale_event = rr_stale_seq ? rr_stale_seq - base : 0;
    out->rc = exit_code(out->stop);
    out->verifier = verifier_total() - v0;
    out->stale = rr_stale_completions;
    out->vtime = vclock_now();
    out->fingerprint = sched_fingerprint();
    if (r->record) {
        g_assert_true(record_finish(out->rc, out->stop, &err));
        g_assert_no_error(err);
        record_get_stats(&out->rec);
    }
    if (r->replay) {
        out->rc = replay_finish(out->rc, out->stop);
        replay_get_result(&out->replay);
        out->report = g_strdup(out->replay.report);
        out->replay.report = out->report;
    }
    machine_fini();
    if (r->replay) {
        replay_close();
    }
    machine_config_free(cfg);
}

void rr_outcome_clear(RrOutcome *o)
{
    g_free(o->report);
    memset(o, 0, sizeof(*o));
}

/* ---- bodies ---- */

typedef struct IoThread {
    const RrIoLoad *load;
    unsigned index;
    unsigned left;
    GuestEvent wake;
    GuestEvent done;
} IoThread;

static void io_done(PortRequest *req, void *opaque)
{
    IoThread *t = opaque;

    t->left--;
    guest_event_set(&t->wake);
}

static void io_thread(void *opaque)
{
    IoThread *t = opaque;
    const RrIoLoad *l = t->load;
    PortLu *lu = port_lun_count() ? port_lun_at(0) : NULL;
    uint32_t len = l->blocks * RR_BLOCK;
    PortRequest *req[16];
    void *buf[16];
    unsigned depth = MIN(l->depth, 16u);

    g_assert_nonnull(lu);
    for (unsigned i = 0; i < depth; i++) {
        req[i] = port_request_new(lu);
        buf[i] = ram_alloc(len, 16, 0, "rr-io");
    }
    for (unsigned round = 0; round < l->rounds; round++) {
        t->left = depth;
        for (unsigned i = 0; i < depth; i++) {
            bool write = l->writes && ((round + i) & 1);
            uint32_t lba = (t->index * 4096 + round * 64 + i * 8) % RR_BLOCKS;
            uint8_t cdb[10] = {write ? 0x2a : 0x28};
            cdb[2] = (uint8_t)(lba >> 24);
            cdb[3] = (uint8_t)(lba >> 16);
            cdb[4] = (uint8_t)(lba >> 8);
            cdb[5] = (uint8_t)lba;
            cdb[8] = (uint8_t)l->blocks;
            port_request_scsi(req[i], cdb, 10, buf[i], len,
                              write ? PORT_XFER_OUT : PORT_XFER_IN, 5);
            port_submit(req[i], io_done, t);
        }
        while (t->left) {
            guest_event_wait(&t->wake);
        }
    }
    for (unsigned i = 0; i < depth; i++) {
        port_request_free(req[i]);
        ram_free(buf[i]);
    }
    guest_event_set(&t->done);
}

void rr_body_io(void *opaque)
{
    const RrIoLoad *l = opaque;
    IoThread t[8];
    unsigned n = MIN(MAX(l->threads, 1u), MIN(cpus_count(), 8u));

    for (unsigned i = 0; i < n; i++) {
        t[i].load = l;
        t[i].index = i;
        t[i].left = 0;
        guest_event_init(&t[i].wake, "rr-io-wake", true);
        guest_event_init(&t[i].done, "rr-io-done", false);
    }
    for (unsigned i = 1; i < n; i++) {
        guest_thread_create(i, "rr-io", io_thread, &t[i]);
    }
    io_thread(&t[0]);
    for (unsigned i = 1; i < n; i++) {
        guest_event_wait(&t[i].done);
    }
}

void rr_body_program(void *opaque)
{
    const char *text = opaque;
    g_autoptr(GError) err = NULL;
    g_autofree char *name = g_strndup(text, strcspn(text, ","));
    const GuestProgram *p = guest_program_find(name);
    g_autoptr(Opts) args = NULL;
    int rc;

    g_assert_nonnull(p);
    args = opts_parse(p->schema, text, &err);
    g_assert_no_error(err);
    rc = p->main(args);
    if (rc != 0) {
        machine_request_stop(rc);
    }
}
