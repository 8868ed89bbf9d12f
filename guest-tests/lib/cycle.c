/* SPDX-License-Identifier: MIT */
/*
 * A power transition under load (cycle.h). The order matters: the writer
 * thread is created first but runs only when this thread blocks, so the
 * sleep before port_power() is what lets its I/O get under way; with a
 * device that completes at once the writer may finish its share before
 * the transition, and the step still checks that nothing is lost.
 */
#include <string.h>
#include "guest-tests/lib/cycle.h"
#include "system/event.h"

const char *gt_power_action_name(PortPowerAction a)
{
    switch (a) {
    case PORT_POWER_STOP:
        return "stop";
    case PORT_POWER_HIBERNATE:
        return "hibernate";
    case PORT_POWER_RESUME:
        return "resume";
    }
    return "?";
}

bool gt_cycle_step(WlJob *writer, unsigned cpu, PortPowerAction action,
                   uint64_t ios, GtCycleStep *st)
{
    const WlStats *ws = wl_job_stats(writer);
    uint64_t errors0 = ws->errors, verified0 = ws->verified_blocks;
    g_autoptr(GError) err = NULL;

    memset(st, 0, sizeof(*st));
    st->action = action;
    wl_job_extend(writer, ios);
    wl_job_start(writer, cpu, false);
    guest_sleep(GT_CYCLE_LEAD_NS);

    st->down_ok = port_power(action, &err);
    if (!st->down_ok) {
        g_strlcpy(st->error, err->message, sizeof(st->error));
        wl_job_join(writer);
        st->errors = ws->errors - errors0;
        return false;
    }
    st->done_before = wl_job_completed(writer);
    guest_sleep(GT_CYCLE_DOWN_NS);
    st->done_while_down = wl_job_completed(writer) - st->done_before;

    st->up_ok = port_power(PORT_POWER_RESUME, &err);
    if (!st->up_ok) {
        /* Requests held for the adapter will never start: leave the
         * writer waiting rather than wait for it forever. */
        g_strlcpy(st->error, err->message, sizeof(st->error));
        st->writer_stuck = true;
        return false;
    }
    wl_job_join(writer);
    st->done_after = wl_job_completed(writer);
    st->bad_blocks = wl_job_verify(writer);
    st->verified_blocks = ws->verified_blocks - verified0;
    st->errors = ws->errors - errors0;
    return !st->done_while_down && !st->bad_blocks && !st->errors;
}
