/* SPDX-License-Identifier: MIT */
/*
 * storemu: parse the command line, build and run the machine, exit with
 * the documented code (system/config.h, README "Exit codes").
 */
#include <stdio.h>
#include <glib.h>
#include "system/config.h"
#include "system/machine.h"
#include "system/options.h"

int main(int argc, char **argv)
{
    g_autoptr(MachineConfig) cfg = machine_config_new();
    g_autoptr(GError) err = NULL;
    bool exit_now = false;

    /* Subsystems that are built announce themselves before parsing, so
     * the command line can refuse what is not. */
    machine_register_types();
    if (!options_parse(argc, argv, cfg, &exit_now, &err)) {
        g_printerr("storemu: %s\n", err->message);
        g_printerr("Try 'storemu --help' for more information.\n");
        return EXIT_USAGE;
    }
    if (exit_now) {
        return EXIT_OK;
    }
    return machine_main(cfg);
}
