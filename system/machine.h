/* SPDX-License-Identifier: MIT */
/*
 * Machine assembly and the top-level run: builds RAM, the address spaces,
 * the vCPUs and scheduler, the PCI bus and the devices from a
 * MachineConfig, runs the guest program, and turns the outcome into the
 * process exit code (config.h).
 */
#ifndef SYSTEM_MACHINE_H
#define SYSTEM_MACHINE_H

#include <glib.h>
#include "system/config.h"

/* Make the built subsystems known to the command line (device create
 * functions, option availability). Call once, before options_parse(). */
void machine_register_types(void);

/* Build, run and tear down a machine; returns a process exit code. */
int machine_main(const MachineConfig *cfg);

/* Assembly steps, also used by tests that want a bare machine. */
bool machine_init(const MachineConfig *cfg, GError **errp);
void machine_fini(void);

/*
 * Register a teardown step for something assembly created (a device, a
 * backend). Steps run in reverse order of registration at machine_fini(),
 * before the vCPUs, RAM and address spaces go away.
 */
void machine_add_cleanup(void (*fn)(void *opaque), void *opaque);

/* -machine seed=N: guest programs derive their data patterns from it. */
uint64_t machine_seed(void);

/* The root PCI bus of the running machine. */
struct PCIBus *machine_pci_bus(void);

#endif
