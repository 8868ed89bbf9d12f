/* SPDX-License-Identifier: MIT */
/*
 * What every guest program shares: reading its keys (the Opts may be NULL
 * when storemu runs the default program with no -guest at all), usage
 * errors that name the key (exit 2, like the command line's own), the
 * machine seed that data patterns derive from, and kvm-unit-tests-style
 * reporting for the t-* test programs: gt_report() per check, a summary
 * line, exit 0 when every check held and 1 otherwise.
 */
#ifndef GUEST_TESTS_LIB_GT_H
#define GUEST_TESTS_LIB_GT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "guest-tests/lib/cls.h"
#include "system/opts.h"

/* Exit codes a program's main returns (system/config.h has the list). */
#define GT_EXIT_OK     0
#define GT_EXIT_FAILED 1
#define GT_EXIT_USAGE  2

/* Key getters that accept a NULL Opts (the default run) and give @def. */
const char *gt_opt_str(const Opts *o, const char *key, const char *def);
uint64_t gt_opt_uint(const Opts *o, const char *key, uint64_t def);
bool gt_opt_bool(const Opts *o, const char *key, bool def);
bool gt_opt_has(const Opts *o, const char *key);

/*
 * Print "storemu: -guest PROG: KEY: message" on stderr, the way the
 * command line words its errors, and return GT_EXIT_USAGE so a program
 * can "return gt_usage(...)".
 */
int gt_usage(const char *prog, const char *key, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/*
 * Open the logical unit chosen by key "lun" (default 0) with retries per
 * key "retry" when the program has it (else @retry_default), its capacity
 * known. On failure
 * prints why, sets *@rc (GT_EXIT_FAILED: no LUN or no capacity;
 * GT_EXIT_USAGE: no such LUN) and returns NULL.
 */
ClsDisk *gt_open_lun(const char *prog, const Opts *args, bool retry_default,
                     int *rc);

/*
 * The seed data patterns derive from: the machine's -machine seed when the
 * machine exports it, else 0. Never host randomness.
 */
uint64_t gt_machine_seed(void);

/* The schema of a test program whose only key is "lun" (default 0). */
extern const OptsSchema gt_schema_lun;

/* OptDesc.check helpers for program schemas. */
bool gt_check_lba_range(const char *value, char **why);
/* A size that is a non-zero multiple of 512 bytes. */
bool gt_check_block_multiple(const char *value, char **why);
/* A number or time that is not zero. */
bool gt_check_nonzero(const char *value, char **why);

/* Human sizes for output: "64 MiB", "4 KiB", "1.5 GiB" (g_malloc'd). */
char *gt_size_str(uint64_t bytes);

/* ---- report()/summary for the t-* programs ---- */

/* Start a report for program @name (resets the counters). */
void gt_report_begin(const char *name);
/* One check: prints "PASS: name: msg" or "FAIL: name: msg". */
bool gt_report(bool pass, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* A check that could not run here: "SKIP: name: msg". */
void gt_report_skip(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* A line of context between checks: "INFO: name: msg". */
void gt_report_info(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Print "SUMMARY: N tests, F unexpected failures, S skipped" and return
 * the exit code (GT_EXIT_OK only if no check failed). */
int gt_report_summary(void);
unsigned gt_report_failures(void);

#endif
