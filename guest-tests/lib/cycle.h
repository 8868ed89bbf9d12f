/* SPDX-License-Identifier: MIT */
/*
 * One power transition under load, shared by the power and t-power
 * programs: a writer job (verify on) runs in its own thread while the
 * adapters go down (stop or hibernate, port_power()) and come back
 * (resume); the writes caught by the transition must wait, none may
 * complete while the adapters are down, and afterwards everything written
 * so far must read back intact.
 */
#ifndef GUEST_TESTS_LIB_CYCLE_H
#define GUEST_TESTS_LIB_CYCLE_H

#include <stdbool.h>
#include <stdint.h>
#include "guest-tests/lib/work.h"
#include "system/event.h"

/* Virtual time the writer runs before the transition starts. */
#define GT_CYCLE_LEAD_NS (50 * NS_PER_US)
/* Virtual time the adapters stay down. */
#define GT_CYCLE_DOWN_NS (1 * NS_PER_MS)

typedef struct GtCycleStep {
    PortPowerAction action; /* PORT_POWER_STOP or _HIBERNATE */
    bool down_ok, up_ok;
    char error[200];          /* port_power()'s message on failure */
    bool writer_stuck;        /* resume failed: the writer cannot end */
    uint64_t done_before;     /* writer I/Os completed when down */
    uint64_t done_while_down; /* completed while down: must be 0 */
    uint64_t done_after;      /* completed by the end of the step */
    uint64_t verified_blocks; /* read back after the resume */
    uint64_t bad_blocks;
    uint64_t errors; /* I/O errors during the step */
} GtCycleStep;

/*
 * Run @ios more writes of @writer on vCPU @cpu across @action + resume,
 * then verify. Thread context (PASSIVE_LEVEL). True when every check held.
 */
bool gt_cycle_step(WlJob *writer, unsigned cpu, PortPowerAction action,
                   uint64_t ios, GtCycleStep *st);
const char *gt_power_action_name(PortPowerAction a);

#endif
