/* SPDX-License-Identifier: MIT */
/*
 * Port contract: MSI-X. The miniport sets HwMSInterruptRoutine in
 * HwStorFindAdapter; the port programs one message per table entry,
 * spread over the vCPUs, and calls the routine per message at DIRQL
 * under the lock the InterruptSynchronizationMode asks for: the
 * adapter's interrupt lock (InterruptSynchronizeAll, also the default)
 * or the message's own lock (InterruptSynchronizePerMessage), in which
 * case two messages' routines may run at the same time on two vCPUs.
 * StorPortGetMSIInfo describes each granted message and fails past the
 * last; StorPortAcquireMSISpinLock takes a message's lock from the DPC.
 */
#include <glib.h>
#include "tests/helpers/tp-port.h"

#define NMSG 4

enum { S_MSI_LOCKS, S_MSI_ACQUIRED, S_INFO_BAD };

static MESSAGE_INTERRUPT_INFORMATION infos[NMSG + 1];
static ULONG info_status_past_end;

static void msix_init_hook(TpExt *x)
{
    for (ULONG m = 0; m < x->nmsg && m < NMSG; m++) {
        if (StorPortGetMSIInfo(x, m, &infos[m]) != STOR_STATUS_SUCCESS) {
            x->scratch[S_INFO_BAD]++;
        }
    }
    info_status_past_end = StorPortGetMSIInfo(x, x->nmsg, &infos[NMSG]);
}

static void dpc_msi_lock(TpExt *x)
{
    ULONG old = 0;

    if (StorPortAcquireMSISpinLock(x, 1, &old) == STOR_STATUS_SUCCESS) {
        x->scratch[S_MSI_LOCKS] |= tp_locks_held(x);
        x->scratch[S_MSI_ACQUIRED]++;
        StorPortReleaseMSISpinLock(x, 1, old);
    }
}

static const TpHooks hooks = {.init = msix_init_hook, .dpc = dpc_msi_lock};

static unsigned failures;

static void eight_reads(void *opaque)
{
    TpBatch b;

    tp_batch_init(&b);
    /* Queues are used round robin: two commands per message. */
    for (unsigned i = 0; i < 8; i++) {
        tp_batch_submit(&b, port_lun_at(0), SCSIOP_READ, i, 1, 0);
    }
    tp_batch_wait(&b);
    for (unsigned i = 0; i < 8; i++) {
        failures += b.status[i] != SRB_STATUS_SUCCESS;
    }
}

static void run(INTERRUPT_SYNCHRONIZATION_MODE mode)
{
    TpMachine m = {.smp = 2, .msix = NMSG, .verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.msix = true;
    tp_mp.isync = mode;
    tp_mp.hooks = &hooks;
    tp_mp.isr_stall_us = 5; /* widen the routines so they can overlap */
    failures = 0;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, eight_reads, NULL, 10), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    g_assert_cmpuint(failures, ==, 0);
}

static void check_messages(unsigned want_locks)
{
    PortAdapter *a = port_adapter_from_devext(tp_ext);
    int cpu_of[NMSG] = {-1, -1, -1, -1};
    unsigned cpus = 0, seen = 0;

    /* Every granted message is described, each with its own (address,
     * data) pair: the same vector may serve two vCPUs. */
    g_assert_cmpuint(tp_ext->nmsg, ==, NMSG);
    g_assert_cmpuint(tp_ext->scratch[S_INFO_BAD], ==, 0);
    g_assert_cmpuint(info_status_past_end, ==, STOR_STATUS_INVALID_PARAMETER);
    for (unsigned i = 0; i < NMSG; i++) {
        g_assert_cmpuint(infos[i].MessageId, ==, i);
        g_assert_cmpuint(infos[i].InterruptLevel, ==, a->dirql);
        g_assert_cmpint(infos[i].InterruptMode, ==, Latched);
        g_assert_cmpuint(infos[i].MessageData & 0xff, ==,
                         infos[i].InterruptVector);
        for (unsigned j = 0; j < i; j++) {
            g_assert_true(infos[i].MessageAddress.QuadPart !=
                              infos[j].MessageAddress.QuadPart ||
                          infos[i].MessageData != infos[j].MessageData);
        }
    }
    /* No line interrupt; the routine per message, at DIRQL, under the
     * lock the mode asks for; each message always on the same vCPU, and
     * the messages spread over both. */
    g_assert_cmpuint(tp_log_count(TP_INTERRUPT, TP_ANY), ==, 0);
    for (guint i = 0; i < tp_log->len; i++) {
        TpEvent *e = tp_log_at(i);
        if (e->call != TP_MSI) {
            continue;
        }
        g_assert_cmpuint(e->arg, <, NMSG);
        g_assert_cmpuint(e->irql, ==, a->dirql);
        g_assert_cmphex(e->locks, ==, want_locks);
        if (cpu_of[e->arg] < 0) {
            cpu_of[e->arg] = e->cpu;
        }
        g_assert_cmpint(cpu_of[e->arg], ==, e->cpu);
        cpus |= 1u << e->cpu;
        seen |= 1u << e->arg;
    }
    g_assert_cmphex(seen, ==, (1u << NMSG) - 1);
    g_assert_cmphex(cpus, ==, 0x3);
    /* ... on the vCPU its message address names (APIC ID, bits 12..19). */
    for (unsigned i = 0; i < NMSG; i++) {
        g_assert_cmpint((infos[i].MessageAddress.QuadPart >> 12) & 0xff, ==,
                        cpu_of[i]);
    }
    /* The DPC took message 1's lock, at DIRQL. */
    g_assert_cmpuint(tp_ext->scratch[S_MSI_ACQUIRED], >, 0);
    g_assert_cmphex(tp_ext->scratch[S_MSI_LOCKS], ==, TP_LOCK_MSG);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
}

static void test_per_message(void)
{
    run(InterruptSynchronizePerMessage);
    check_messages(TP_LOCK_MSG);
    /* Two messages' routines ran at the same time on the two vCPUs. */
    g_assert_cmpuint(tp_ext->max_in_isr, ==, 2);
    tp_machine_down();
}

static void test_synchronize_all(void)
{
    run(InterruptSynchronizeAll);
    check_messages(TP_LOCK_INTERRUPT);
    /* One interrupt lock: never two routines at once. */
    g_assert_cmpuint(tp_ext->max_in_isr, ==, 1);
    tp_machine_down();
}

static void test_default_mode(void)
{
    /* InterruptSupportNone from the miniport: the port synchronizes all
     * messages with the interrupt lock. */
    run(InterruptSupportNone);
    check_messages(TP_LOCK_INTERRUPT);
    g_assert_cmpuint(tp_ext->max_in_isr, ==, 1);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/msix/per-message", test_per_message);
    g_test_add_func("/port/msix/synchronize-all", test_synchronize_all);
    g_test_add_func("/port/msix/default-mode", test_default_mode);
    return g_test_run();
}
