/* SPDX-License-Identifier: MIT */
/*
 * Port contract: stopping and restarting the adapter (HW_ADAPTER_CONTROL:
 * "the Storport driver ensures that there are no uncompleted requests and
 * issues an SRB_FUNCTION_FLUSH request ... before calling" ScsiStopAdapter
 * at DIRQL with the interrupt lock; ScsiRestartAdapter at DIRQL with the
 * interrupt lock, or HwStorFindAdapter + HwStorInitialize again when the
 * miniport does not support it). port_power() is called with reads still
 * in flight; a read submitted while stopped waits and runs after resume.
 */
#include <glib.h>
#include "tests/helpers/tp-port.h"

#define LATENCY_NS (1 * NS_PER_MS)

typedef struct PowerCase {
    const char *name;
    PortPowerAction action;
    bool restart_supported;
} PowerCase;

static const PowerCase cases[] = {
    {"stop-restart", PORT_POWER_STOP, true},
    {"hibernate-restart", PORT_POWER_HIBERNATE, true},
    {"stop-reinitialize", PORT_POWER_STOP, false},
};

static const PowerCase *pc;
static unsigned in_flight_at_stop, failures;
static unsigned startio_reads_while_stopped;
static uint8_t waiting_status, after_status;

static void power_body(void *opaque)
{
    g_autoptr(GError) err = NULL;
    TpBatch b, w;

    tp_batch_init(&b);
    for (unsigned i = 0; i < 4; i++) {
        tp_batch_submit(&b, port_lun_at(0), SCSIOP_READ, i, 1, 0);
    }
    in_flight_at_stop = b.submitted - b.completed;
    g_assert_true(port_power(pc->action, &err));
    g_assert_no_error(err);
    /* The stop waited for every request. */
    failures += b.completed != 4;
    tp_batch_wait(&b);
    for (unsigned i = 0; i < 4; i++) {
        failures += b.status[i] != SRB_STATUS_SUCCESS;
    }
    /* Submitted while stopped: held by the port. */
    tp_batch_init(&w);
    tp_batch_submit(&w, port_lun_at(0), SCSIOP_READ, 9, 1, 0);
    guest_sleep(5 * LATENCY_NS);
    startio_reads_while_stopped = tp_log_count(TP_STARTIO, SCSIOP_READ) - 4;
    g_assert_true(port_power(PORT_POWER_RESUME, &err));
    g_assert_no_error(err);
    tp_batch_wait(&w);
    waiting_status = w.status[0];
    after_status = tp_io(port_lun_at(0), SCSIOP_READ, 1, 1, 0);
}

static void test_power(gconstpointer data)
{
    TpMachine m = {.verifier = VERIFIER_ON};
    int stop, restart, flush, last_dpc;
    TpEvent *e;

    pc = data;
    tp_mp_defaults();
    tp_mp.support_restart = pc->restart_supported;
    failures = 0;
    tp_machine_up(&m);
    tp_dev->latency = LATENCY_NS;
    g_assert_cmpint(tp_run(0, power_body, NULL, 30), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    g_assert_cmpuint(in_flight_at_stop, ==, 4);
    g_assert_cmpuint(failures, ==, 0);
    g_assert_cmpuint(startio_reads_while_stopped, ==, 0);
    g_assert_cmpuint(waiting_status, ==, SRB_STATUS_SUCCESS);
    g_assert_cmpuint(after_status, ==, SRB_STATUS_SUCCESS);

    /* Order: the four reads complete, a flush, then ScsiStopAdapter. */
    stop = tp_log_find(TP_ADAPTER_CONTROL, ScsiStopAdapter, 0);
    g_assert_cmpint(stop, >, 0);
    e = tp_log_at((guint)stop);
    g_assert_cmpuint(e->irql, ==, 5);
    g_assert_cmphex(e->locks, ==, TP_LOCK_INTERRUPT);
    flush = tp_log_find(TP_STARTIO, TP_ARG_FUNCTION(SRB_FUNCTION_FLUSH), 0);
    g_assert_cmpint(flush, >, 0);
    g_assert_cmpint(flush, <, stop);
    last_dpc = -1;
    for (int i = 0; i < stop; i++) {
        if (tp_log_at((guint)i)->call == TP_DPC) {
            last_dpc = i;
        }
    }
    g_assert_cmpint(last_dpc, >, 0);
    g_assert_cmpint(last_dpc, <, flush);
    g_assert_cmpuint(tp_log_count(TP_COMPLETE, SRB_STATUS_SUCCESS), >=, 4);

    restart = tp_log_find(TP_ADAPTER_CONTROL, ScsiRestartAdapter, 0);
    if (pc->restart_supported) {
        g_assert_cmpint(restart, >, stop);
        e = tp_log_at((guint)restart);
        g_assert_cmpuint(e->irql, ==, 5);
        g_assert_cmphex(e->locks, ==, TP_LOCK_INTERRUPT);
        g_assert_cmpuint(tp_log_count(TP_FIND_ADAPTER, TP_ANY), ==, 1);
        g_assert_cmpuint(tp_log_count(TP_INITIALIZE, TP_ANY), ==, 1);
    } else {
        /* The initialization sequence again, after the stop. */
        int find2, init2;
        g_assert_cmpint(restart, <, 0);
        g_assert_cmpuint(tp_log_count(TP_FIND_ADAPTER, TP_ANY), ==, 2);
        g_assert_cmpuint(tp_log_count(TP_INITIALIZE, TP_ANY), ==, 2);
        find2 = tp_log_find(TP_FIND_ADAPTER, TP_ANY, (guint)stop);
        init2 = tp_log_find(TP_INITIALIZE, TP_ANY, (guint)stop);
        g_assert_cmpint(find2, >, stop);
        g_assert_cmpint(init2, >, find2);
        g_assert_cmpuint(tp_log_at((guint)find2)->irql, ==, PASSIVE_LEVEL);
        g_assert_cmpuint(tp_log_at((guint)init2)->irql, ==, 5);
        g_assert_cmphex(tp_log_at((guint)init2)->locks, ==, TP_LOCK_INTERRUPT);
    }
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

static bool resumed;
static char *resume_error;

static void resize_body(void *opaque)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpuint(tp_io(port_lun_at(0), SCSIOP_READ, 1, 1, 0), ==,
                     SRB_STATUS_SUCCESS);
    g_assert_true(port_power(PORT_POWER_STOP, &err));
    resumed = port_power(PORT_POWER_RESUME, &err);
    resume_error = err ? g_strdup(err->message) : NULL;
}

/* A miniport without ScsiRestartAdapter whose second HwStorFindAdapter
 * asks for a larger SRB extension: existing requests keep theirs, so the
 * resume fails and says why, rather than the miniport writing past them. */
static void test_reinitialize_resized_extension(void)
{
    TpMachine m = {.verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.support_restart = false;
    tp_mp.srbext_refind = 256;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, resize_body, NULL, 30), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_false(resumed);
    g_assert_nonnull(resume_error);
    g_assert_nonnull(strstr(resume_error, "256-byte SRB extension"));
    g_assert_nonnull(strstr(resume_error, "64 bytes before"));
    g_assert_cmpuint(port_lun_srb_extension_size(port_lun_at(0)), ==, 64);
    g_clear_pointer(&resume_error, g_free);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/power/reinitialize-resized-extension",
                    test_reinitialize_resized_extension);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/port/power/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], test_power);
    }
    return g_test_run();
}
