/* SPDX-License-Identifier: MIT */
/*
 * Replay (-replay FILE[,device=on|off][,stop-at=N]): re-run a recorded
 * machine and check every crossing against the trace.
 *
 * device=on (default): the machine is rebuilt from the configuration in
 * the trace header and runs as usual; a boundary hook compares each
 * crossing (kind, address, size, value, vCPU, virtual time, DMA length
 * and data hash) with the next record and dictates every scheduler pick.
 * The first difference stops the run with EXIT_DIVERGED and a report:
 * the event, expected against actual, the events before it and the
 * requests in flight.
 *
 * device=off: no device model and no image. The PCI functions the
 * miniport sees are synthesized from the header (same identity, config
 * space, BAR sizes and addresses, INTx route); register and config reads
 * return the recorded values, writes are checked; interrupts and device
 * DMA are injected at their recorded points (device-to-guest data needs
 * a data=full trace), device reads of guest memory are checked against
 * the recorded data; the recording decides at every yield point whether
 * the vCPU returns to the main loop, and virtual time advances to the
 * recorded time of the next injected event.
 *
 * stop-at=N: after event N is checked, the replay prints where it is
 * (the event, the records before it, the requests in flight) and calls
 * storemu_replay_stop(N), a breakpoint target; then it carries on checking
 * to the end, so a debugger's "continue" goes on with the replay.
 *
 * Life cycle: replay_open() (reads the trace), replay_build_config() (the
 * recorded configuration), machine_init() (which asks
 * replay_devices_off() and calls replay_create_functions()),
 * replay_start() (identity checks, hooks), the run, replay_finish(),
 * machine_fini(), replay_close().
 */
#ifndef SYSTEM_REPLAY_H
#define SYSTEM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/core/pci.h"
#include "system/config.h"
#include "system/cpu.h"
#include "system/opts.h"
#include "system/trace-format.h"

typedef struct ReplayOptions {
    const char *path;
    bool device;      /* device models on (default) */
    bool has_stop_at; /* stop after event stop_at */
    uint64_t stop_at;
    bool quiet; /* no summary line at the end (tests) */
} ReplayOptions;

/* Open the trace and read its header; with device=off the trace must
 * carry DMA data (data=full). */
bool replay_open(const ReplayOptions *o, GError **errp);
/* The same from the -replay option's Opts. */
bool replay_open_opts(const Opts *o, GError **errp);
bool replay_loaded(void);
const TraceHeader *replay_header(void);
/* Close the trace (after machine_fini). */
void replay_close(void);

/*
 * The configuration the trace was recorded with, parsed as storemu
 * arguments, with @cli's -trace settings. @out is a new MachineConfig.
 */
bool replay_build_config(const MachineConfig *cli, MachineConfig **out,
                         GError **errp);

/* True while a device=off replay is loaded: machine_init() then builds
 * no drive and no device and calls replay_create_functions(). */
bool replay_devices_off(void);
bool replay_create_functions(PCIBusState *bus, GError **errp);

/*
 * Check the assembled machine against the header (image identity and PCI
 * layout with device=on; the synthesized functions with device=off) and
 * attach the replay. A different image is refused with a message naming
 * it.
 */
bool replay_start(const MachineConfig *cfg, GError **errp);

typedef struct ReplayResult {
    bool diverged;
    bool stopped_at;      /* stop-at=N reached */
    bool damaged;         /* the trace ended early (truncated or corrupt) */
    bool complete;        /* reached the end record, same exit code */
    uint64_t events;      /* crossings checked */
    uint64_t diverged_at; /* event index of the divergence */
    int recorded_exit;    /* from the end record, -1 if none */
    int64_t host_us;
    const char *report; /* divergence or stop-at report ("" if none) */
} ReplayResult;

/*
 * Detach, compare how the run ended with the recording and return the
 * exit code: EXIT_DIVERGED on any difference, the run's own @rc when it
 * reproduced the recording, EXIT_USAGE when the
 * trace was damaged before the run ended. Prints the report and a
 * summary (events checked, events per host second) unless quiet.
 */
int replay_finish(int rc, MachineStop stop);
/* The outcome of the last replay (valid until the next replay_open). */
void replay_get_result(ReplayResult *r);

/* Only -trace may accompany -replay on the command line. */
bool replay_check_command_line(int argc, char **argv, GError **errp);

/*
 * Called at event stop-at=N (docs/trace-format.md, "Debugging"): put a
 * breakpoint here (gdb -ex 'break storemu_replay_stop'); the guest's
 * stack is the caller's when the event was a guest crossing.
 */
void storemu_replay_stop(uint64_t event);

#endif
