/* SPDX-License-Identifier: MIT */
/*
 * Test harness for the guest side (gt-harness.h): the same assembly
 * storemu's main performs, with the gt-vdisk miniport added to the
 * built-in table.
 */
#include <glib.h>
#include "port/port-api.h"
#include "port/port.h"
#include "system/config.h"
#include "system/event.h"
#include "system/machine.h"
#include "system/options.h"
#include "tests/helpers/gt-harness.h"
#include "tests/helpers/gt-vdisk.h"

typedef struct HarnessCtx {
    void (*body)(void *opaque);
    void *opaque;
    bool started;
} HarnessCtx;

void gt_harness_init(void)
{
    static bool done;

    if (!done) {
        machine_register_types();
        port_register_builtin("gt-vdisk", gt_vdisk_DriverEntry);
        done = true;
    }
}

static MachineConfig *parse(const char *args)
{
    MachineConfig *cfg = machine_config_new();
    g_autofree char *line = g_strdup_printf("storemu %s", args);
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) err = NULL;
    bool exit_now = false;
    int argc;

    g_assert_true(g_shell_parse_argv(line, &argc, &argv, NULL));
    if (!options_parse(argc, argv, cfg, &exit_now, &err)) {
        machine_config_free(cfg);
        g_printerr("storemu %s: %s\n", args, err->message);
        return NULL;
    }
    g_assert_false(exit_now);
    return cfg;
}

static void harness_thread(void *opaque)
{
    HarnessCtx *h = opaque;
    g_autoptr(GError) err = NULL;

    if (!port_start(&err)) {
        g_printerr("port_start: %s\n", err->message);
        machine_request_stop(EXIT_GUEST_FAILED);
        return;
    }
    h->started = true;
    h->body(h->opaque);
    port_shutdown();
    machine_request_stop(EXIT_OK);
}

MachineStop gt_harness_run(const char *args, void (*body)(void *opaque),
                           void *opaque)
{
    g_autoptr(GError) err = NULL;
    HarnessCtx h = {body, opaque, false};
    MachineConfig *cfg;
    MachineStop st;

    gt_harness_init();
    cfg = parse(args);
    g_assert_nonnull(cfg);
    g_assert_true(machine_init(cfg, &err));
    guest_thread_create(0, "test", harness_thread, &h);
    st = cpus_run(600 * NS_PER_SEC);
    if (st != MACHINE_STOP_REQUESTED) {
        g_printerr("machine stopped: %s\n", cpus_stop_report());
    }
    machine_fini();
    machine_config_free(cfg);
    g_assert_true(h.started);
    return st;
}

int gt_harness_storemu(const char *args)
{
    MachineConfig *cfg;
    int rc;

    gt_harness_init();
    cfg = parse(args);
    if (!cfg) {
        return EXIT_USAGE;
    }
    rc = machine_main(cfg);
    machine_config_free(cfg);
    return rc;
}
