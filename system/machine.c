/* SPDX-License-Identifier: MIT */
/*
 * Machine assembly: trace set-up, the virtual clock, guest RAM, register
 * address spaces, vCPUs and scheduler, the PCI bus with firmware-style
 * resource assignment, the devices, then the run and its verdict.
 */
#include <errno.h>
#include <stdio.h>
#include "hw/block/aio.h"
#include "hw/block/block.h"
#include "hw/core/memory.h"
#include "hw/core/pci.h"
#include "hw/core/qdev.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-disk.h"
#include "hw/virtio-scsi/virtio-scsi.h"
#include "guest-tests/guest.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/error.h"
#include "system/event.h"
#include "system/fault.h"
#include "system/machine.h"
#include "system/options.h"
#include "system/record.h"
#include "system/replay.h"
#include "system/trace.h"

typedef struct Cleanup {
    void (*fn)(void *opaque);
    void *opaque;
} Cleanup;

static PCIBusState *root_bus;
static FILE *trace_file;
static GArray *cleanups; /* Cleanup, run last to first */
static uint64_t seed;

void machine_add_cleanup(void (*fn)(void *opaque), void *opaque)
{
    Cleanup c = {fn, opaque};

    if (!cleanups) {
        cleanups = g_array_new(FALSE, FALSE, sizeof(Cleanup));
    }
    g_array_append_val(cleanups, c);
}

PCIBusState *machine_pci_bus(void)
{
    return root_bus;
}

void machine_register_types(void)
{
    /* Device models, the port and guest programs register here as they
     * land (qdev_set_create, options_set_available). */
    options_set_available("-drive", true);
    qdev_set_create("scsi-hd", scsi_hd_create);
    qdev_set_create("virtio-scsi-pci", virtio_scsi_pci_create);
    port_register_builtins();
    options_set_available("-miniport", true);
    guest_programs_register();
    options_set_available("-guest", true);
    options_set_available("-record", true);
    options_set_available("-replay", true);
    options_set_available("-fault", true);
}

static bool setup_trace(const MachineConfig *cfg, GError **errp)
{
    trace_reset();
    if (cfg->trace_file) {
        trace_file = fopen(cfg->trace_file, "w");
        if (!trace_file) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-trace: cannot open '%s' for writing: %s",
                        cfg->trace_file, g_strerror(errno));
            return false;
        }
        setvbuf(trace_file, NULL, _IOFBF, 1 << 16);
        trace_set_output(trace_file);
    }
    for (guint i = 0; cfg->trace_patterns && i < cfg->trace_patterns->len;
         i++) {
        if (!trace_enable(g_ptr_array_index(cfg->trace_patterns, i), errp)) {
            return false;
        }
    }
    return true;
}

uint64_t machine_seed(void)
{
    return seed;
}

bool machine_init(const MachineConfig *cfg, GError **errp)
{
    seed = cfg->sched.seed;
    if (!setup_trace(cfg, errp)) {
        return false;
    }
    event_loop_init();
    memory_init();
    bnd_hooks_clear();
    if (!ram_init(cfg->mem_size, errp)) {
        return false;
    }
    if (!cpus_init(cfg->smp, &cfg->sched, errp)) {
        return false;
    }
    root_bus = pci_bus_new();
    if (replay_devices_off()) {
        /* Replay without devices: no image, no model; the functions the
         * miniport finds are rebuilt from the trace (replay.h). */
        if (!replay_create_functions(root_bus, errp)) {
            return false;
        }
    }
    for (guint i = 0;
         !replay_devices_off() && cfg->drives && i < cfg->drives->len; i++) {
        if (!blk_new_from_opts(g_ptr_array_index(cfg->drives, i), errp)) {
            return false;
        }
    }
    for (guint i = 0;
         !replay_devices_off() && cfg->devices && i < cfg->devices->len; i++) {
        if (!qdev_create(g_ptr_array_index(cfg->devices, i), errp)) {
            return false;
        }
    }
    /* Firmware: place BARs, enable decode, route INTx. */
    if (!pci_bus_assign(root_bus, errp)) {
        return false;
    }
    if (cfg->miniport && !port_load(cfg->miniport, cfg->verifier, errp)) {
        return false;
    }
    /* -fault: armed on the assembled machine (system/fault.h). */
    return fault_init(cfg, errp);
}

void machine_fini(void)
{
    /* Faults first: they hold requests and events of what goes next. */
    fault_fini();
    port_unload();
    if (cleanups) {
        for (guint i = cleanups->len; i > 0; i--) {
            Cleanup *c = &g_array_index(cleanups, Cleanup, i - 1);
            c->fn(c->opaque);
        }
        g_array_free(cleanups, TRUE);
        cleanups = NULL;
    }
    if (root_bus) {
        PCIDevice *d;
        while ((d = pci_bus_next(root_bus, NULL))) {
            pci_device_fini(d);
        }
        pci_bus_free(root_bus);
        root_bus = NULL;
    }
    /* HBAs (cleanups above) released their disks; now the images. */
    blk_close_all();
    aio_shutdown();
    cpus_fini();
    ram_fini();
    memory_fini();
    event_loop_fini();
    bnd_hooks_clear();
    trace_reset();
    if (trace_file) {
        trace_set_output(NULL);
        fclose(trace_file);
        trace_file = NULL;
    }
}

static const char *sched_name(SchedPolicy p)
{
    switch (p) {
    case SCHED_POLICY_FIFO:
        return "fifo";
    case SCHED_POLICY_RANDOM:
        return "random";
    case SCHED_POLICY_PCT:
        return "pct";
    }
    return "?";
}

static void print_machine(const MachineConfig *cfg)
{
    unsigned ndev = 0;

    for (PCIDevice *d = pci_bus_next(root_bus, NULL); d;
         d = pci_bus_next(root_bus, d)) {
        ndev++;
    }
    printf("storemu: %u vCPU%s, %" G_GUINT64_FORMAT " MiB RAM, sched=%s "
           "seed=%" G_GUINT64_FORMAT ", %u PCI device%s\n",
           cfg->smp, cfg->smp == 1 ? "" : "s", cfg->mem_size >> 20,
           sched_name(cfg->sched.policy), cfg->sched.seed, ndev,
           ndev == 1 ? "" : "s");
}

typedef struct MainThread {
    const GuestProgram *prog;
    const Opts *args;
    bool with_port;
} MainThread;

/* vCPU 0's first thread: bring the port up, run the program, shut the
 * port down, stop the machine with the program's verdict. */
static void main_thread(void *opaque)
{
    MainThread *m = opaque;
    g_autoptr(GError) err = NULL;
    int rc;

    if (m->with_port && !port_start(&err)) {
        g_printerr("storemu: %s\n", err->message);
        machine_request_stop(EXIT_GUEST_FAILED);
        return;
    }
    rc = m->prog->main(m->args);
    if (m->with_port) {
        port_shutdown();
    }
    machine_request_stop(rc);
}

static const GuestProgram *resolve_program(const MachineConfig *cfg,
                                           GError **errp)
{
    const char *name = cfg->guest ? opts_get_str(cfg->guest, "name", NULL)
                                  : GUEST_DEFAULT_PROGRAM;
    const GuestProgram *p = guest_program_find(name);

    if (!p) {
        if (cfg->guest) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-guest: no program '%s' (-guest help lists them)",
                        name);
        }
        return NULL;
    }
    if (p->needs_port && !cfg->miniport) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-guest %s drives a miniport: give one with -miniport "
                    "NAME",
                    p->name);
        return NULL;
    }
    return p;
}

static void print_record_summary(const char *path)
{
    RecordStats st;

    record_get_stats(&st);
    printf("storemu: record: %s: %" G_GUINT64_FORMAT " events, "
           "%" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " I/Os",
           path, st.events, st.bytes, st.ios);
    if (st.ios) {
        printf(", %.1f bytes per I/O", (double)st.bytes / (double)st.ios);
    }
    printf("\n");
}

static int machine_run(const MachineConfig *cfg, bool replaying)
{
    g_autoptr(GError) err = NULL;
    MainThread m = {0};
    MachineStop st;
    int rc = EXIT_OK;

    m.prog = resolve_program(cfg, &err);
    if (err) {
        g_printerr("storemu: %s\n", err->message);
        return EXIT_USAGE;
    }
    if (!machine_init(cfg, &err)) {
        g_printerr("storemu: %s\n", err->message);
        machine_fini();
        return EXIT_USAGE;
    }
    print_machine(cfg);
    if (replaying && !replay_start(cfg, &err)) {
        g_printerr("storemu: %s\n", err->message);
        machine_fini();
        return EXIT_USAGE;
    }
    if (cfg->record && !record_start_opts(cfg->record, cfg, &err)) {
        g_printerr("storemu: %s\n", err->message);
        machine_fini();
        return EXIT_USAGE;
    }
    if (m.prog) {
        m.args = cfg->guest;
        m.with_port = cfg->miniport != NULL;
        guest_thread_create(0, m.prog->name, main_thread, &m);
    } else if (cfg->miniport) {
        g_printerr("storemu: no guest program is built into this binary; "
                   "the miniport has nothing to run\n");
    }
    st = cpus_run(cfg->time_limit_ns);
    switch (st) {
    case MACHINE_STOP_IDLE:
    case MACHINE_STOP_NONE:
        break;
    case MACHINE_STOP_REQUESTED:
        rc = machine_requested_exit_code();
        break;
    case MACHINE_STOP_DEADLOCK:
    case MACHINE_STOP_HANG:
    case MACHINE_STOP_LIMIT:
        g_printerr("storemu: %s", cpus_stop_report());
        rc = EXIT_DEADLOCK;
        break;
    }
    fault_print_summary(stderr);
    if (port.loaded) {
        port_misc_print_log(stderr);
    }
    if (port.loaded && verifier_total()) {
        g_printerr("storemu: %" G_GUINT64_FORMAT " verifier violation(s)\n",
                   verifier_total());
    }
    printf("storemu: stopped at %" G_GUINT64_FORMAT " ns virtual time, "
           "%" G_GUINT64_FORMAT " events, %" G_GUINT64_FORMAT " guest errors\n",
           vclock_now(), event_count(), guest_errors_total());
    if (record_active()) {
        if (!record_finish(rc, st, &err)) {
            g_printerr("storemu: %s\n", err->message);
            g_clear_error(&err);
        }
        print_record_summary(opts_get_str(cfg->record, "file", ""));
    }
    if (replaying) {
        rc = replay_finish(rc, st);
        /* The faults must have fired as recorded, too. */
        rc = fault_replay_verdict(rc, stderr);
    }
    machine_fini();
    return rc;
}

int machine_main(const MachineConfig *cfg)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MachineConfig) rcfg = NULL;
    int rc;

    if (!cfg->replay) {
        return machine_run(cfg, false);
    }
    /* The machine is the recorded one: its configuration comes from the
     * trace header, with the command line's -trace settings. */
    if (!replay_open_opts(cfg->replay, &err) ||
        !replay_build_config(cfg, &rcfg, &err)) {
        g_printerr("storemu: %s\n", err->message);
        replay_close();
        return EXIT_USAGE;
    }
    fault_replay_expect(opts_get_str(cfg->replay, "file", NULL));
    rc = machine_run(rcfg, true);
    replay_close();
    return rc;
}
