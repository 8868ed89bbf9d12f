/* SPDX-License-Identifier: MIT */
/*
 * Port contract: timers and DPCs in virtual time.
 *
 *  - StorPortNotification(RequestTimerCall, routine, us): HwStorTimer runs
 *    once, at the requested virtual time, at DISPATCH_LEVEL with the
 *    StartIo lock (full duplex); a value of 0 cancels it; a new request
 *    replaces the pending one.
 *  - StorPortIssueDpc from the ISR: the DPC runs after the ISR returned,
 *    at DISPATCH_LEVEL on the same processor; a second IssueDpc while the
 *    DPC is still queued returns FALSE and the DPC runs once.
 *  - The DPC lock (StorPortAcquireSpinLock(DpcLock, &dpc)) and
 *    StorPortSynchronizeAccess from the DPC (the routine runs at DIRQL
 *    under the interrupt lock and its BOOLEAN comes back).
 */
#include <glib.h>
#include "tests/helpers/tp-port.h"

#define TIMER_SLACK_NS (5 * NS_PER_US)

/* ---- RequestTimerCall ---- */

typedef struct TimerCase {
    const char *name;
    ULONG first_us;  /* first request */
    ULONG second_us; /* then this one (0: cancel), unless no_second */
    bool no_second;
    unsigned fires;
    uint64_t at_ns; /* when it fires, after the request */
} TimerCase;

static const TimerCase timer_cases[] = {
    {"fires-once", 250, 0, true, 1, 250 * NS_PER_US},
    {"zero-cancels", 250, 0, false, 0, 0},
    {"replaces", 100, 300, false, 1, 300 * NS_PER_US},
};

static const TimerCase *tcase;
static uint64_t t_request;

static VOID hw_timer(PVOID DeviceExtension)
{
    tp_log_add(DeviceExtension, TP_TIMER, 0);
}

static bool timer_startio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    if (SrbGetSrbFunction(srb) != SRB_FUNCTION_EXECUTE_SCSI ||
        SrbGetCdb(srb)->AsByte[0] != SCSIOP_TEST_UNIT_READY) {
        return false;
    }
    t_request = vclock_now();
    StorPortNotification(RequestTimerCall, x, hw_timer, tcase->first_us);
    if (!tcase->no_second) {
        StorPortNotification(RequestTimerCall, x, hw_timer, tcase->second_us);
    }
    tp_mp_complete(x, srb, SRB_STATUS_SUCCESS);
    *ret = TRUE;
    return true;
}

static const TpHooks timer_hooks = {.startio = timer_startio};

static void tur_then_wait(void *opaque)
{
    g_assert_cmpuint(tp_io(port_lun_at(0), SCSIOP_TEST_UNIT_READY, 0, 0, 0), ==,
                     SRB_STATUS_SUCCESS);
    guest_sleep(2 * NS_PER_MS);
}

static void test_timer(gconstpointer data)
{
    TpMachine m = {.smp = 2, .verifier = VERIFIER_ON};
    int i;

    tcase = data;
    tp_mp_defaults();
    tp_mp.hooks = &timer_hooks;
    tp_machine_up(&m);
    /* The request comes from vCPU 1; the timer runs on vCPU 0. */
    g_assert_cmpint(tp_run(1, tur_then_wait, NULL, 10), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpuint(tp_log_count(TP_TIMER, TP_ANY), ==, tcase->fires);
    i = tp_log_find(TP_TIMER, TP_ANY, 0);
    if (tcase->fires) {
        TpEvent *e = tp_log_at((guint)i);
        g_assert_cmpuint(e->t - t_request, >=, tcase->at_ns);
        g_assert_cmpuint(e->t - t_request, <, tcase->at_ns + TIMER_SLACK_NS);
        g_assert_cmpuint(e->irql, ==, DISPATCH_LEVEL);
        g_assert_cmphex(e->locks, ==, TP_LOCK_STARTIO);
    }
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

/* ---- DPCs ---- */

enum { S_ISSUE1, S_ISSUE2, S_DPC_LOCKS, S_SYNC_IRQL, S_SYNC_LOCKS, S_SYNC_RET };

static void isr_issue_twice(TpExt *x)
{
    BOOLEAN a = StorPortIssueDpc(x, &x->dpc, x, NULL);
    BOOLEAN b = StorPortIssueDpc(x, &x->dpc, x, NULL);

    x->scratch[S_ISSUE1] += a;
    x->scratch[S_ISSUE2] += b;
    tp_log_add(x, TP_MARK, ((ULONG)a << 1) | b);
}

static BOOLEAN sync_routine(PVOID DeviceExtension, PVOID Context)
{
    TpExt *x = DeviceExtension;
    KIRQL irql = 0;

    StorPortGetCurrentIrql(x, &irql);
    x->scratch[S_SYNC_IRQL] = irql;
    x->scratch[S_SYNC_LOCKS] = tp_locks_held(x);
    return Context != NULL;
}

static void dpc_locks(TpExt *x)
{
    STOR_LOCK_HANDLE h;

    StorPortAcquireSpinLock(x, DpcLock, &x->dpc, &h);
    x->scratch[S_DPC_LOCKS] = tp_locks_held(x);
    StorPortReleaseSpinLock(x, &h);
    /* Returns what the routine returned, both ways. */
    x->scratch[S_SYNC_RET] =
        (ULONG)StorPortSynchronizeAccess(x, sync_routine, x) << 1 |
        StorPortSynchronizeAccess(x, sync_routine, NULL);
}

static const TpHooks dpc_hooks = {.isr = isr_issue_twice, .dpc = dpc_locks};

static void three_reads(void *opaque)
{
    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmpuint(tp_io(port_lun_at(0), SCSIOP_READ, i, 1, 0), ==,
                         SRB_STATUS_SUCCESS);
    }
}

static void test_dpc_after_isr(void)
{
    TpMachine m = {.smp = 2, .verifier = VERIFIER_ON};
    unsigned isrs = 0, dpcs = 0;

    tp_mp_defaults();
    tp_mp.hooks = &dpc_hooks;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(1, three_reads, NULL, 10), ==,
                    MACHINE_STOP_REQUESTED);
    for (guint i = 0; i < tp_log->len; i++) {
        TpEvent *e = tp_log_at(i);
        TpEvent *mark, *dpc;
        int j;
        if (e->call != TP_INTERRUPT) {
            continue;
        }
        isrs++;
        /* The ISR's two IssueDpc calls: TRUE, then FALSE (queued). */
        j = tp_log_find(TP_MARK, TP_ANY, i);
        g_assert_cmpint(j, >, (int)i);
        mark = tp_log_at((guint)j);
        g_assert_cmpuint(mark->arg, ==, 2);
        g_assert_cmpuint(mark->irql, ==, 5);
        /* The DPC: next, after the ISR, at DISPATCH on the same vCPU. */
        j = tp_log_find(TP_DPC, TP_ANY, (guint)j);
        g_assert_cmpint(j, >, 0);
        dpc = tp_log_at((guint)j);
        g_assert_cmpuint(dpc->irql, ==, DISPATCH_LEVEL);
        g_assert_cmpint(dpc->cpu, ==, e->cpu);
        g_assert_cmphex(dpc->locks, ==, 0);
        g_assert_cmpuint(dpc->t, >=, e->t);
        g_assert_cmpint(tp_log_find(TP_INTERRUPT, TP_ANY, i + 1) < 0 ||
                            tp_log_find(TP_INTERRUPT, TP_ANY, i + 1) > j,
                        ==, TRUE);
    }
    dpcs = tp_log_count(TP_DPC, TP_ANY);
    g_assert_cmpuint(isrs, ==, 3);
    g_assert_cmpuint(dpcs, ==, 3);
    g_assert_cmpuint(tp_ext->scratch[S_ISSUE1], ==, 3);
    g_assert_cmpuint(tp_ext->scratch[S_ISSUE2], ==, 0);
    /* The base ISR's own IssueDpc after the hook found it queued too. */
    g_assert_cmpuint(tp_ext->dpc_issue_false, ==, 3);
    /* DPC lock held inside; SynchronizeAccess at DIRQL, interrupt lock,
     * and its result returned. */
    g_assert_cmphex(tp_ext->scratch[S_DPC_LOCKS], ==, TP_LOCK_DPC);
    g_assert_cmpuint(tp_ext->scratch[S_SYNC_IRQL], ==, 5);
    g_assert_cmphex(tp_ext->scratch[S_SYNC_LOCKS], ==, TP_LOCK_INTERRUPT);
    g_assert_cmpuint(tp_ext->scratch[S_SYNC_RET], ==, 2);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (unsigned i = 0; i < G_N_ELEMENTS(timer_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/port/timer/%s", timer_cases[i].name);
        g_test_add_data_func(path, &timer_cases[i], test_timer);
    }
    g_test_add_func("/port/dpc/after-isr-once", test_dpc_after_isr);
    return g_test_run();
}
