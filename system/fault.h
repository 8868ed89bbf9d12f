/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (-fault KIND[,trigger...][,parameter...], docs/faults.md):
 * the machine breaks the way real hardware and real systems break, at a
 * chosen point, reproducibly. Every fault is armed from the command line
 * (system/options.c parses and validates the grammar), decides from its
 * triggers and a random stream derived from the machine seed, and acts at
 * one of these points:
 *
 *  - the boundary layer (system/boundary.h), through a BndHook: interrupts
 *    dropped, delayed, duplicated or raised for nothing, device DMA
 *    failed, doorbell writes ignored, a function that reads all ones;
 *  - the SCSI bus (hw/scsi/scsi-bus.c), where a command is submitted to
 *    its target and where its outcome is final: status faults, unit
 *    attentions, backend errors, latency, reordering, short transfers,
 *    corrupted read data, and the device faults that follow a request;
 *  - the guest services of the port (port/kernel.c and friends): pool
 *    allocations that fail, timers that fire late, power transitions run
 *    on a guest thread of their own.
 *
 * Every firing is traced (fault_fire) and recorded (record_fault); a
 * replay re-arms the same faults from the trace header, so they fire at
 * the same points, and checks each firing against the recording. At the
 * end of the run fault_print_summary() says, per fault, how often it
 * fired and what became of the requests it touched as the guest saw them.
 *
 * Life cycle: fault_init() at the end of machine_init() (devices and port
 * exist), fault_print_summary() after the run, fault_fini() from
 * machine_fini(). With no -fault the hooks below cost one predicted
 * branch.
 */
#ifndef SYSTEM_FAULT_H
#define SYSTEM_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>
#include "system/config.h"

typedef struct SCSIRequest SCSIRequest;

/*
 * Arm the faults of @cfg (cfg->faults, validated by options_parse()) on
 * the assembled machine. False with @errp set when a fault cannot act on
 * this machine at all (e.g. a device fault without a device), which is a
 * configuration error.
 */
bool fault_init(const MachineConfig *cfg, GError **errp);
void fault_fini(void);
/* Faults are armed (fault_init ran with at least one -fault). */
bool fault_active(void);

/* At exit (stderr): per fault, its firings and the affected requests. */
void fault_print_summary(FILE *f);

/*
 * Replay: check every firing against the fault records of the trace at
 * @path (the -replay file). fault_replay_verdict() then turns the
 * replay's exit code into EXIT_DIVERGED, with a report on @f, when the
 * faults fired differently (another kind, place or time, one missing or
 * one too many).
 */
void fault_replay_expect(const char *path);
int fault_replay_verdict(int rc, FILE *f);

/* ---- hooks (one predicted branch each when no fault needs them) ---- */

extern bool fault_scsi_armed;
extern bool fault_pool_armed;
extern bool fault_timer_armed;

bool fault_scsi_submit_slow(SCSIRequest *req);
bool fault_scsi_complete_slow(SCSIRequest *req);
bool fault_pool_fail_slow(const char *routine, uint64_t bytes);
uint64_t fault_timer_jitter_slow(uint64_t ns);

/*
 * scsi-bus.c, a command about to go to its target: true when a fault
 * answered it (status and sense are set; the bus completes it after the
 * latency of a command that moves nothing). May also arm an error for the
 * command's host I/O or DMA, or queue a unit attention it then reports.
 */
static inline bool fault_scsi_submit(SCSIRequest *req)
{
    return G_UNLIKELY(fault_scsi_armed) && fault_scsi_submit_slow(req);
}

/*
 * scsi-bus.c, a command's outcome is final (data moved, residual known):
 * a fault may rewrite it, corrupt the read data (as device DMA), or hold
 * the request (true), finishing it later with scsi_req_release().
 */
static inline bool fault_scsi_complete(SCSIRequest *req)
{
    return G_UNLIKELY(fault_scsi_armed) && fault_scsi_complete_slow(req);
}

/* The port's memory services (StorPortAllocatePool and friends): true
 * when this allocation must fail. */
static inline bool fault_pool_fail(const char *routine, uint64_t bytes)
{
    return G_UNLIKELY(fault_pool_armed) && fault_pool_fail_slow(routine, bytes);
}

/* port_timer_set(): extra delay for a guest timer due in @ns. */
static inline uint64_t fault_timer_jitter(uint64_t ns)
{
    return G_UNLIKELY(fault_timer_armed) ? fault_timer_jitter_slow(ns) : 0;
}

#endif
