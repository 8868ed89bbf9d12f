/* SPDX-License-Identifier: MIT */
/*
 * The machine harness and call log of the port contract tests (see
 * tp-port.h): a bare machine built by machine_init from a MachineConfig
 * without devices, tp-device plugged into its root bus and assigned by the
 * firmware pass, the port loaded with a built-in test miniport, and the
 * class-side request helpers the test bodies use.
 */
#include <stdio.h>
#include <string.h>
#include "hw/core/ram.h"
#include "system/machine.h"
#include "tests/helpers/tp-port.h"

GArray *tp_log;
TpDevice *tp_dev;
bool tp_skip_shutdown;

static MachineConfig *tp_cfg;
static uint64_t tp_base[VC_COUNT];

static const char *const tp_call_names[TP_CALL_COUNT] = {
    [TP_DRIVER_ENTRY] = "DriverEntry",
    [TP_FIND_ADAPTER] = "FindAdapter",
    [TP_INITIALIZE] = "Initialize",
    [TP_PASSIVE_INIT] = "PassiveInit",
    [TP_ADAPTER_CONTROL] = "AdapterControl",
    [TP_UNIT_CONTROL] = "UnitControl",
    [TP_BUILDIO] = "BuildIo",
    [TP_STARTIO] = "StartIo",
    [TP_INTERRUPT] = "Interrupt",
    [TP_MSI] = "MSInterrupt",
    [TP_DPC] = "Dpc",
    [TP_TIMER] = "Timer",
    [TP_RESET_BUS] = "ResetBus",
    [TP_FREE_RESOURCES] = "FreeResources",
    [TP_COMPLETE] = "Complete",
    [TP_MARK] = "Mark",
};

const char *tp_call_name(TpCall c)
{
    return c < TP_CALL_COUNT ? tp_call_names[c] : "?";
}

/* ---- the call log ---- */

void tp_log_reset(void)
{
    if (!tp_log) {
        tp_log = g_array_new(FALSE, TRUE, sizeof(TpEvent));
    }
    g_array_set_size(tp_log, 0);
}

unsigned tp_locks_held(PVOID devext)
{
    PortAdapter *a = port_adapter_from_devext(devext);
    unsigned held = 0;

    if (!a) {
        return 0;
    }
    if (guest_spin_held_by_me(&a->interrupt_lock)) {
        held |= TP_LOCK_INTERRUPT;
    }
    if (guest_spin_held_by_me(&a->startio_lock)) {
        held |= TP_LOCK_STARTIO;
    }
    for (unsigned m = 0; m < a->nmsg; m++) {
        if (guest_spin_held_by_me(&a->msg[m].lock)) {
            held |= TP_LOCK_MSG;
        }
    }
    for (guint i = 0; i < a->dpc_locks->len; i++) {
        if (guest_spin_held_by_me(g_ptr_array_index(a->dpc_locks, i))) {
            held |= TP_LOCK_DPC;
        }
    }
    return held;
}

void tp_log_add(PVOID devext, TpCall call, uint32_t arg)
{
    TpEvent e = {.call = call, .arg = arg};
    PROCESSOR_NUMBER pn;
    KIRQL irql = 0;

    if (!tp_log) {
        tp_log_reset();
    }
    StorPortGetCurrentIrql(devext, &irql);
    e.irql = irql;
    e.cpu =
        StorPortGetCurrentProcessorNumber(devext, &pn) == STOR_STATUS_SUCCESS
            ? pn.Number
            : -1;
    e.locks = tp_locks_held(devext);
    e.t = vclock_now();
    g_array_append_val(tp_log, e);
}

TpEvent *tp_log_at(guint i)
{
    return i < tp_log->len ? &g_array_index(tp_log, TpEvent, i) : NULL;
}

static bool tp_match(const TpEvent *e, TpCall call, uint32_t arg)
{
    return e->call == call && (arg == TP_ANY || e->arg == arg);
}

unsigned tp_log_count(TpCall call, uint32_t arg)
{
    unsigned n = 0;

    for (guint i = 0; tp_log && i < tp_log->len; i++) {
        n += tp_match(tp_log_at(i), call, arg);
    }
    return n;
}

int tp_log_find(TpCall call, uint32_t arg, guint from)
{
    for (guint i = from; tp_log && i < tp_log->len; i++) {
        if (tp_match(tp_log_at(i), call, arg)) {
            return (int)i;
        }
    }
    return -1;
}

void tp_log_dump(void)
{
    for (guint i = 0; tp_log && i < tp_log->len; i++) {
        TpEvent *e = tp_log_at(i);
        g_printerr("# %3u %-15s arg=0x%-4x irql=%u cpu=%d locks=0x%x "
                   "t=%" G_GUINT64_FORMAT "\n",
                   i, tp_call_name(e->call), e->arg, e->irql, e->cpu, e->locks,
                   e->t);
    }
}

/* ---- the machine ---- */

static const OptDesc tp_mp_desc[] = {
    {"name", OPT_STRING, "miniport"},
    {"tracing", OPT_BOOL, "tracing"},
    {NULL},
};

static const OptsSchema tp_mp_schema = {
    .option = "-miniport",
    .implied = "name",
    .desc = tp_mp_desc,
    .wildcard_prefix = "param",
};

static void tp_device_cleanup(void *opaque)
{
    tp_device_free(opaque);
}

void tp_machine_up(const TpMachine *m)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(Opts) o = NULL;
    const char *name = m->miniport ? m->miniport : "tp";

    tp_cfg = machine_config_new();
    tp_cfg->smp = m->smp ? m->smp : 1;
    tp_cfg->mem_size = 64ULL << 20;
    tp_cfg->sched.policy = m->policy;
    tp_cfg->sched.seed = m->seed;
    if (m->preempt > 0) {
        tp_cfg->sched.preempt = m->preempt;
    }
    tp_cfg->verifier = m->verifier;
    g_assert_true(machine_init(tp_cfg, &err));
    g_assert_no_error(err);
    tp_dev = NULL;
    if (!m->no_device) {
        tp_dev = tp_device_new(machine_pci_bus(), m->msix, &err);
        g_assert_no_error(err);
        machine_add_cleanup(tp_device_cleanup, tp_dev);
        /* The firmware pass again, now that the function is plugged in. */
        g_assert_true(pci_bus_assign(machine_pci_bus(), &err));
        g_assert_no_error(err);
    }
    port_register_builtin(name, m->entry ? m->entry : tp_driver_entry);
    o = opts_parse(&tp_mp_schema, name, &err);
    g_assert_no_error(err);
    g_assert_true(port_load(o, m->verifier, &err));
    g_assert_no_error(err);
    for (unsigned c = 0; c < VC_COUNT; c++) {
        tp_base[c] = verifier_count(c);
    }
    tp_log_reset();
    tp_ext = NULL;
    tp_skip_shutdown = false;
}

void tp_machine_down(void)
{
    machine_fini();
    machine_config_free(tp_cfg);
    tp_cfg = NULL;
    tp_dev = NULL;
    tp_ext = NULL;
}

uint64_t tp_verifier_delta(VerifierCheck c)
{
    return verifier_count(c) - tp_base[c];
}

uint64_t tp_verifier_total_delta(void)
{
    uint64_t n = 0;

    for (unsigned c = 0; c < VC_COUNT; c++) {
        n += tp_verifier_delta(c);
    }
    return n;
}

typedef struct TpRun {
    TpBody *body;
    void *opaque;
} TpRun;

static void tp_main(void *opaque)
{
    TpRun *r = opaque;
    g_autoptr(GError) err = NULL;

    if (!port_start(&err)) {
        g_printerr("# port_start: %s\n", err->message);
        machine_request_stop(EXIT_GUEST_FAILED);
        return;
    }
    if (r->body) {
        r->body(r->opaque);
    }
    if (!tp_skip_shutdown) {
        port_shutdown();
    }
    machine_request_stop(EXIT_OK);
}

MachineStop tp_run(unsigned cpu, TpBody *body, void *opaque, unsigned limit_s)
{
    static TpRun run;
    MachineStop st;

    run.body = body;
    run.opaque = opaque;
    guest_thread_create(cpu, "tp-main", tp_main, &run);
    st = cpus_run((uint64_t)limit_s * NS_PER_SEC);
    if (st != MACHINE_STOP_REQUESTED) {
        g_printerr("# machine stopped (%d): %s\n", st, cpus_stop_report());
    }
    return st;
}

/* ---- class-side requests ---- */

static void tp_fill_cdb(uint8_t *cdb, uint8_t op, uint32_t lba, unsigned blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    cdb[2] = (uint8_t)(lba >> 24);
    cdb[3] = (uint8_t)(lba >> 16);
    cdb[4] = (uint8_t)(lba >> 8);
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(blocks >> 8);
    cdb[8] = (uint8_t)blocks;
}

static PortXfer tp_dir(uint8_t op)
{
    return op == SCSIOP_READ    ? PORT_XFER_IN
           : op == SCSIOP_WRITE ? PORT_XFER_OUT
                                : PORT_XFER_NONE;
}

uint8_t tp_io(PortLu *lu, uint8_t op, uint32_t lba, unsigned blocks,
              unsigned timeout_s)
{
    PortRequest *req = port_request_new(lu);
    PortXfer dir = tp_dir(op);
    uint32_t len = dir == PORT_XFER_NONE ? 0 : blocks * TP_MP_BLOCK;
    void *buf = len ? ram_alloc(len, 16, 0, "tp-io") : NULL;
    uint8_t cdb[10];
    uint8_t st;

    tp_fill_cdb(cdb, op, lba, blocks);
    port_request_scsi(req, cdb, 10, buf, len, dir, timeout_s);
    port_execute(req);
    st = port_request_srb_status(req);
    port_request_free(req);
    if (buf) {
        ram_free(buf);
    }
    return st;
}

static void tp_batch_done(PortRequest *req, void *opaque)
{
    TpBatch *b = opaque;

    for (unsigned i = 0; i < b->submitted; i++) {
        if (b->req[i] == req) {
            b->status[i] = port_request_srb_status(req);
            b->done_at[i] = vclock_now();
            b->done_seq[i] = b->completed;
        }
    }
    b->completed++;
    guest_event_set(&b->event);
}

void tp_batch_init(TpBatch *b)
{
    memset(b, 0, sizeof(*b));
    guest_event_init(&b->event, "tp-batch", true);
}

void tp_batch_submit(TpBatch *b, PortLu *lu, uint8_t op, uint32_t lba,
                     unsigned blocks, unsigned timeout_s)
{
    unsigned i = b->submitted;
    PortXfer dir = tp_dir(op);
    uint32_t len = dir == PORT_XFER_NONE ? 0 : blocks * TP_MP_BLOCK;
    uint8_t cdb[10];

    g_assert_cmpuint(i, <, TP_BATCH_MAX);
    b->req[i] = port_request_new(lu);
    b->buf[i] = len ? ram_alloc(len, 16, 0, "tp-batch") : NULL;
    b->status[i] = SRB_STATUS_PENDING;
    tp_fill_cdb(cdb, op, lba, blocks);
    port_request_scsi(b->req[i], cdb, 10, b->buf[i], len, dir, timeout_s);
    b->submitted++;
    port_submit(b->req[i], tp_batch_done, b);
}

void tp_batch_wait(TpBatch *b)
{
    while (b->completed < b->submitted) {
        guest_event_wait(&b->event);
    }
    for (unsigned i = 0; i < b->submitted; i++) {
        port_request_free(b->req[i]);
        b->req[i] = NULL;
        if (b->buf[i]) {
            ram_free(b->buf[i]);
            b->buf[i] = NULL;
        }
    }
}
