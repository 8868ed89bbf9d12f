/* SPDX-License-Identifier: MIT */
/*
 * Guest programs: what "-guest NAME[,key=value...]" runs. A program's
 * main runs on vCPU 0 in a guest thread at PASSIVE_LEVEL, after the port
 * has started every adapter of the miniport (when one is configured) and
 * before the port shuts them down. It returns 0 when everything it checked
 * held and 1 when it reported failures (the process exit codes of
 * system/config.h).
 *
 * Programs register in guest-tests/programs.c; their keys are validated
 * against their schema by the command line (implied key "name").
 */
#ifndef GUEST_TESTS_GUEST_H
#define GUEST_TESTS_GUEST_H

#include <stdbool.h>
#include <stdio.h>
#include "system/opts.h"

typedef struct GuestProgram {
    const char *name;
    const char *help;         /* one line for "-guest help" */
    const OptsSchema *schema; /* implied key "name" */
    int (*main)(const Opts *args);
    bool needs_port; /* false: runs on the bare machine */
} GuestProgram;

const GuestProgram *guest_program_find(const char *name);
void guest_programs_list(FILE *f);
/* Hook the registry into the command line (options_set_guest_registry). */
void guest_programs_register(void);
/* The program run when no -guest is given. */
#define GUEST_DEFAULT_PROGRAM "boot"

#endif
