/* SPDX-License-Identifier: MIT */
/*
 * The machine configuration: what the command line (system/options.c)
 * produces and machine assembly (system/machine.c) consumes. Complete
 * enough to be stored in a trace header and rebuild the same machine.
 */
#ifndef SYSTEM_CONFIG_H
#define SYSTEM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "system/cpu.h"
#include "system/opts.h"

/* Process exit codes (README, --help). */
enum {
    EXIT_OK = 0,
    EXIT_GUEST_FAILED = 1, /* the guest program reported failures */
    EXIT_USAGE = 2,        /* usage or configuration error */
    EXIT_VERIFIER = 3,     /* verifier violation (strict mode) */
    EXIT_DIVERGED = 4,     /* replay divergence */
    EXIT_DEADLOCK = 5,     /* deadlock or hang detected */
};

typedef enum VerifierMode {
    VERIFIER_OFF,
    VERIFIER_ON,     /* report and count violations */
    VERIFIER_STRICT, /* first violation stops the run, exit 3 */
} VerifierMode;

typedef struct MachineConfig {
    unsigned smp;           /* 1..VCPU_MAX, default 1 */
    uint64_t mem_size;      /* bytes, default RAM_DEFAULT_SIZE */
    SchedConfig sched;      /* policy, seed, preempt, pct depth */
    uint64_t time_limit_ns; /* virtual-time limit, 0 = none */

    GPtrArray *drives;         /* Opts* per -drive */
    GPtrArray *devices;        /* Opts* per -device */
    GPtrArray *faults;         /* Opts* per -fault */
    Opts *miniport;            /* -miniport NAME|PATH[,...] or NULL */
    Opts *guest;               /* -guest NAME[,...] or NULL */
    Opts *record;              /* -record FILE[,...] or NULL */
    Opts *replay;              /* -replay FILE[,...] or NULL */
    GPtrArray *trace_patterns; /* char* per -trace */
    char *trace_file;          /* -trace file=PATH */
    VerifierMode verifier;
} MachineConfig;

MachineConfig *machine_config_new(void);
void machine_config_free(MachineConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MachineConfig, machine_config_free)

#endif
