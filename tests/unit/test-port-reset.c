/* SPDX-License-Identifier: MIT */
/*
 * Port contract: request time-out, HwStorResetBus and recovery. The test
 * miniport drops READs of one LBA (never gives them to the device). After
 * the SRB's TimeOutValue in virtual seconds the port calls HwStorResetBus
 * at DISPATCH_LEVEL holding the StartIo lock; the miniport resets the
 * device and completes what it held with SRB_STATUS_BUS_RESET
 * (StorPortCompleteRequest), which the class sees; later I/O works. A
 * miniport whose reset does not complete the request gets it abandoned
 * after another time-out: VC_REQUEST_HANG, and the class sees
 * SRB_STATUS_TIMEOUT.
 */
#include <glib.h>
#include "tests/helpers/tp-port.h"

#define DROP_LBA  7
#define TIMEOUT_S 2

/* The low byte of a READ(10)'s LBA, or -1 for any other request. */
static int read_lba(PVOID srb)
{
    PCDB cdb = SrbGetCdb(srb);

    if (SrbGetSrbFunction(srb) != SRB_FUNCTION_EXECUTE_SCSI ||
        cdb->AsByte[0] != SCSIOP_READ) {
        return -1;
    }
    return cdb->CDB10.LogicalBlockByte3;
}

static bool drop_startio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    if (read_lba(srb) != DROP_LBA) {
        return false;
    }
    /* Lost: the device never hears of it. */
    x->saved[0] = srb;
    *ret = TRUE;
    return true;
}

static bool lazy_reset(TpExt *x, ULONG path, BOOLEAN *ret)
{
    /* Claims success but leaves the dropped request where it is. */
    *ret = TRUE;
    return true;
}

/* Every READ from DROP_MANY_LBA on is lost. */
#define DROP_MANY_LBA 100
#define DROP_MANY     12

static bool drop_many_startio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    if (read_lba(srb) < DROP_MANY_LBA) {
        return false;
    }
    *ret = TRUE;
    return true;
}

static const TpHooks recover_hooks = {.startio = drop_startio};
static const TpHooks hang_hooks = {.startio = drop_startio,
                                   .reset = lazy_reset};

static uint8_t lost_status, later_status;
static uint64_t t_submit, t_done;

static void lost_then_more(void *opaque)
{
    t_submit = vclock_now();
    lost_status = tp_io(port_lun_at(0), SCSIOP_READ, DROP_LBA, 1, TIMEOUT_S);
    t_done = vclock_now();
    later_status = tp_io(port_lun_at(0), SCSIOP_READ, 0, 1, TIMEOUT_S);
}

static void run(const TpHooks *h)
{
    TpMachine m = {.verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.hooks = h;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, lost_then_more, NULL, 60), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
}

static void test_reset_recovery(void)
{
    TpEvent *e;
    int i;

    run(&recover_hooks);
    g_assert_cmpuint(tp_log_count(TP_RESET_BUS, TP_ANY), ==, 1);
    i = tp_log_find(TP_RESET_BUS, 0, 0);
    g_assert_cmpint(i, >=, 0);
    e = tp_log_at((guint)i);
    g_assert_cmpuint(e->irql, ==, DISPATCH_LEVEL);
    g_assert_cmphex(e->locks, ==, TP_LOCK_STARTIO);
    /* Time-outs are checked once a second: between 2 and 3 s. */
    g_assert_cmpuint(e->t - t_submit, >=, TIMEOUT_S * NS_PER_SEC);
    g_assert_cmpuint(e->t - t_submit, <=, (TIMEOUT_S + 1) * NS_PER_SEC);
    g_assert_cmpuint(lost_status, ==, SRB_STATUS_BUS_RESET);
    g_assert_cmpuint(t_done, >=, e->t);
    g_assert_cmpuint(later_status, ==, SRB_STATUS_SUCCESS);
    g_assert_cmpuint(tp_dev->resets, >=, 1);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

static void test_reset_hang(void)
{
    PortStats st;

    run(&hang_hooks);
    g_assert_cmpuint(tp_log_count(TP_RESET_BUS, TP_ANY), ==, 1);
    /* Abandoned one time-out after the reset. */
    g_assert_cmpuint(lost_status, ==, SRB_STATUS_TIMEOUT);
    g_assert_cmpuint(t_done - t_submit, >=, 2 * TIMEOUT_S * NS_PER_SEC);
    g_assert_cmpuint(tp_verifier_delta(VC_REQUEST_HANG), ==, 1);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 1);
    port_stats(&st);
    g_assert_cmpuint(st.timeouts, ==, 1);
    g_assert_cmpuint(st.resets, ==, 1);
    /* The adapter still works after the hang. */
    g_assert_cmpuint(later_status, ==, SRB_STATUS_SUCCESS);
    tp_machine_down();
}

static const TpHooks hang_many_hooks = {.startio = drop_many_startio,
                                        .reset = lazy_reset};
static TpBatch many;

static void lost_many(void *opaque)
{
    tp_batch_init(&many);
    for (unsigned i = 0; i < DROP_MANY; i++) {
        tp_batch_submit(&many, port_lun_at(0), SCSIOP_READ, DROP_MANY_LBA + i,
                        1, TIMEOUT_S);
    }
    tp_batch_wait(&many);
}

/*
 * Requests that time out at the same tick are abandoned in the order they
 * were submitted, not in the order of the port's SRB table (a hash of
 * guest addresses): which one is reported first, and which bus is reset,
 * must not depend on where the SRBs sit.
 */
static void test_abandon_order(void)
{
    TpMachine m = {.verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.hooks = &hang_many_hooks;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, lost_many, NULL, 60), ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpuint(tp_log_count(TP_RESET_BUS, TP_ANY), ==, 1);
    g_assert_cmpuint(tp_verifier_delta(VC_REQUEST_HANG), ==, DROP_MANY);
    for (unsigned i = 0; i < DROP_MANY; i++) {
        g_assert_cmpuint(many.status[i], ==, SRB_STATUS_TIMEOUT);
        g_assert_cmpuint(many.done_at[i], ==, many.done_at[0]);
        g_assert_cmpuint(many.done_seq[i], ==, i);
    }
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/reset/timeout-reset-recovery", test_reset_recovery);
    g_test_add_func("/port/reset/request-hang", test_reset_hang);
    g_test_add_func("/port/reset/abandon-order", test_abandon_order);
    return g_test_run();
}
