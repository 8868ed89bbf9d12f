/* SPDX-License-Identifier: MIT */
/*
 * storemu: parse the command line, build and run the machine, exit with
 * the documented code (system/config.h, README "Exit codes").
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "system/config.h"
#include "system/machine.h"
#include "system/options.h"
#include "port/port.h"
#include "system/replay.h"

/*
 * The main job: with no arguments at all, boot a temporary 64 MiB disk
 * behind a virtio-scsi controller with the virtio-scsi miniport, so a
 * first run shows the whole stack working.
 */
static char *default_argv[] = {
    "storemu",
    "-drive",
    "id=d0,size=64M",
    "-device",
    "virtio-scsi-pci,id=hba0",
    "-device",
    "scsi-hd,drive=d0,bus=hba0",
    "-miniport",
    "virtio-scsi",
    "-guest",
    "boot",
    NULL,
};

/*
 * Warnings and messages from the machine as one "storemu: " line each on
 * stderr, like every other diagnostic. glib's default writer prefixes
 * them with "** Message:" and the host's wall-clock time, which also made
 * the output of two identical runs differ. Debug and info output keeps
 * glib's handling (G_MESSAGES_DEBUG).
 */
static GLogWriterOutput log_writer(GLogLevelFlags level,
                                   const GLogField *fields, gsize n,
                                   gpointer data)
{
    const char *msg = NULL;

    if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) {
        return g_log_writer_default(level, fields, n, data);
    }
    for (gsize i = 0; i < n; i++) {
        if (!strcmp(fields[i].key, "MESSAGE") && fields[i].length < 0) {
            msg = fields[i].value;
        }
    }
    if (!msg) {
        return g_log_writer_default(level, fields, n, data);
    }
    fflush(stdout); /* keep the order the two streams were written in */
    fprintf(stderr, "storemu: %s%s\n",
            level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL) ? "error: "
            : level & G_LOG_LEVEL_WARNING                      ? "warning: "
                                                               : "",
            msg);
    return G_LOG_WRITER_HANDLED;
}

int main(int argc, char **argv)
{
    g_autoptr(MachineConfig) cfg = machine_config_new();
    g_autoptr(GError) err = NULL;
    bool exit_now = false;

    g_log_set_writer_func(log_writer, NULL, NULL);
    /* Subsystems that are built announce themselves before parsing, so
     * the command line can refuse what is not. */
    machine_register_types();
    if (argc == 1 && port_have_builtins()) {
        printf("storemu: no options given: running the default machine "
               "(-drive id=d0,size=64M -device virtio-scsi-pci,id=hba0 "
               "-device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi "
               "-guest boot)\n");
        argv = default_argv;
        argc = (int)G_N_ELEMENTS(default_argv) - 1;
    }
    if (!options_parse(argc, argv, cfg, &exit_now, &err)) {
        g_printerr("storemu: %s\n", err->message);
        g_printerr("Try 'storemu --help' for more information.\n");
        return EXIT_USAGE;
    }
    if (exit_now) {
        return EXIT_OK;
    }
    if (cfg->replay && !replay_check_command_line(argc, argv, &err)) {
        g_printerr("storemu: %s\n", err->message);
        return EXIT_USAGE;
    }
    return machine_main(cfg);
}
