/* SPDX-License-Identifier: MIT */
/*
 * Running guest-side code in tests: a machine built from storemu
 * command-line words (with the gt-vdisk miniport registered), a guest
 * thread that starts the port, runs the test body and shuts the port
 * down; or a whole storemu run in-process, as main() does it.
 */
#ifndef TESTS_HELPERS_GT_HARNESS_H
#define TESTS_HELPERS_GT_HARNESS_H

#include "system/cpu.h"

/* Register the machine's types and the gt-vdisk miniport (once). */
void gt_harness_init(void);

/*
 * Build the machine from @args (e.g. "-smp 2 -miniport gt-vdisk"), run
 * @body(@opaque) on vCPU 0 at PASSIVE_LEVEL between port_start() and
 * port_shutdown(), tear everything down. Fails the test if the command
 * line or the port start fails; returns how the machine stopped.
 */
MachineStop gt_harness_run(const char *args, void (*body)(void *opaque),
                           void *opaque);

/* storemu with @args, in-process: the process exit code it would give. */
int gt_harness_storemu(const char *args);

#endif
