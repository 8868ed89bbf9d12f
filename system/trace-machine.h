/* SPDX-License-Identifier: MIT */
/*
 * What a trace header says about the machine, taken from the running
 * machine: the configuration as an argument list that rebuilds it, the
 * identity of each disk image (size and content hash), and each PCI
 * function's config space, BARs and INTx route. The recorder writes it;
 * replay compares it with the machine it built.
 */
#ifndef SYSTEM_TRACE_MACHINE_H
#define SYSTEM_TRACE_MACHINE_H

#include <glib.h>
#include "hw/core/pci.h"
#include "system/config.h"
#include "system/trace-format.h"

/*
 * @cfg as storemu arguments (no argv[0]): -machine with every scheduler
 * and size setting spelled out, -verifier, then -drive, -device, -fault,
 * -miniport and -guest with their original text. -trace, -record and
 * -replay are left out: they do not shape the machine.
 */
GPtrArray *trace_machine_argv(const MachineConfig *cfg);

/* Size and content hash of the -drive with id @id (reads the image). */
bool trace_machine_image(const char *id, TraceImage *im, GError **errp);

/* A function's identity as the header stores it. */
void trace_machine_function(PCIDevice *d, TracePciFunction *fn);

/*
 * Fill @h (from trace_header_init) for the machine built from @cfg:
 * configuration, seed, vCPUs, RAM, images, PCI functions, and the
 * crossing count and virtual time now.
 */
bool trace_machine_describe(TraceHeader *h, const MachineConfig *cfg,
                            GError **errp);

#endif
