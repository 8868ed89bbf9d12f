/* SPDX-License-Identifier: MIT */
/*
 * Port contract: the life cycle of a physical miniport, in the order
 * STORPORT.md ("Life cycle") and the DDI pages give it. The "tp" test
 * miniport logs every routine with its IRQL (StorPortGetCurrentIrql), its
 * vCPU and the port locks it holds; the whole sequence of one run (start,
 * one READ, shutdown) is compared with a table: DriverEntry, FindAdapter,
 * HwInitialize at DIRQL under the interrupt lock, passive initialization
 * at PASSIVE, the supported-control-types query, enumeration (INQUIRY and
 * REPORT LUNS through BuildIo/StartIo), the unit control query and
 * ScsiUnitStart per unit, the I/O path (StartIo, ISR, DPC), then flush and
 * shutdown per unit and ScsiStopAdapter at DIRQL under the interrupt lock.
 * Also: what HwStorFindAdapter is told about the PCI function.
 */
#include <glib.h>
#include "hw/core/pci.h"
#include "tests/helpers/tp-port.h"

#define PASSIVE  0
#define DISPATCH 2
#define DIRQL    5 /* INTx wire A: vector 0x50, level 5 */
#define ILOCK    TP_LOCK_INTERRUPT
#define SLOCK    TP_LOCK_STARTIO
#define FN(f)    TP_ARG_FUNCTION(f)

typedef struct Step {
    TpCall call;
    uint32_t arg;
    uint8_t irql;
    unsigned locks;
} Step;

/* Start with two units, one READ on unit 0, shut down. */
static const Step expected[] = {
    {TP_DRIVER_ENTRY, 0, PASSIVE, 0},
    {TP_FIND_ADAPTER, 0, PASSIVE, 0},
    {TP_INITIALIZE, 0, DIRQL, ILOCK},
    {TP_PASSIVE_INIT, 0, PASSIVE, 0},
    {TP_ADAPTER_CONTROL, ScsiQuerySupportedControlTypes, PASSIVE, 0},
    /* Enumeration: INQUIRY and REPORT LUNS to LUN 0, INQUIRY to LUN 1. */
    {TP_BUILDIO, SCSIOP_INQUIRY, DISPATCH, 0},
    {TP_STARTIO, SCSIOP_INQUIRY, DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_BUILDIO, SCSIOP_REPORT_LUNS, DISPATCH, 0},
    {TP_STARTIO, SCSIOP_REPORT_LUNS, DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_BUILDIO, SCSIOP_INQUIRY, DISPATCH, 0},
    {TP_STARTIO, SCSIOP_INQUIRY, DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_UNIT_CONTROL, ScsiQuerySupportedUnitControlTypes, PASSIVE, 0},
    {TP_UNIT_CONTROL, ScsiUnitStart, PASSIVE, 0},
    {TP_UNIT_CONTROL, ScsiUnitStart, PASSIVE, 0},
    /* I/O: the device finishes, the ISR queues the DPC, it completes. */
    {TP_BUILDIO, SCSIOP_READ, DISPATCH, 0},
    {TP_STARTIO, SCSIOP_READ, DISPATCH, SLOCK},
    {TP_INTERRUPT, 0, DIRQL, ILOCK},
    {TP_DPC, 0, DISPATCH, 0},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, 0},
    /* Shutdown: flush + shutdown per unit, then stop. */
    {TP_BUILDIO, FN(SRB_FUNCTION_FLUSH), DISPATCH, 0},
    {TP_STARTIO, FN(SRB_FUNCTION_FLUSH), DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_BUILDIO, FN(SRB_FUNCTION_SHUTDOWN), DISPATCH, 0},
    {TP_STARTIO, FN(SRB_FUNCTION_SHUTDOWN), DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_BUILDIO, FN(SRB_FUNCTION_FLUSH), DISPATCH, 0},
    {TP_STARTIO, FN(SRB_FUNCTION_FLUSH), DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_BUILDIO, FN(SRB_FUNCTION_SHUTDOWN), DISPATCH, 0},
    {TP_STARTIO, FN(SRB_FUNCTION_SHUTDOWN), DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_ADAPTER_CONTROL, ScsiStopAdapter, DIRQL, ILOCK},
    {TP_FREE_RESOURCES, 0, PASSIVE, 0},
};

static uint8_t read_status;

static void one_read(void *opaque)
{
    g_assert_cmpuint(port_lun_count(), ==, 2);
    read_status = tp_io(port_lun_at(0), SCSIOP_READ, 0, 8, 0);
}

static void check_sequence(const Step *want, unsigned n)
{
    bool ok = tp_log->len == n;

    for (unsigned i = 0; ok && i < n; i++) {
        TpEvent *e = tp_log_at(i);
        ok = e->call == want[i].call && e->arg == want[i].arg &&
             e->irql == want[i].irql && e->locks == want[i].locks &&
             e->cpu == 0;
        if (!ok) {
            g_printerr("# step %u: got %s arg=0x%x irql=%u locks=0x%x, "
                       "want %s arg=0x%x irql=%u locks=0x%x\n",
                       i, tp_call_name(e->call), e->arg, e->irql, e->locks,
                       tp_call_name(want[i].call), want[i].arg, want[i].irql,
                       want[i].locks);
        }
    }
    if (!ok) {
        tp_log_dump();
    }
    g_assert_true(ok);
}

static void test_sequence(void)
{
    TpMachine m = {.verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.passive_init = true;
    tp_mp.unit_control = true;
    tp_mp.luns = 2;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, one_read, NULL, 10), ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    g_assert_cmpuint(read_status, ==, SRB_STATUS_SUCCESS);
    check_sequence(expected, G_N_ELEMENTS(expected));
    /* A miniport that follows every rule: the verifier stays quiet. */
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

/* Without passive initialization, unit control or BuildIo the port skips
 * those steps and still runs the rest in the same order. */
static const Step expected_minimal[] = {
    {TP_DRIVER_ENTRY, 0, PASSIVE, 0},
    {TP_FIND_ADAPTER, 0, PASSIVE, 0},
    {TP_INITIALIZE, 0, DIRQL, ILOCK},
    {TP_ADAPTER_CONTROL, ScsiQuerySupportedControlTypes, PASSIVE, 0},
    {TP_STARTIO, SCSIOP_INQUIRY, DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_STARTIO, SCSIOP_REPORT_LUNS, DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_STARTIO, FN(SRB_FUNCTION_FLUSH), DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_STARTIO, FN(SRB_FUNCTION_SHUTDOWN), DISPATCH, SLOCK},
    {TP_COMPLETE, SRB_STATUS_SUCCESS, DISPATCH, SLOCK},
    {TP_ADAPTER_CONTROL, ScsiStopAdapter, DIRQL, ILOCK},
    {TP_FREE_RESOURCES, 0, PASSIVE, 0},
};

static void test_minimal_sequence(void)
{
    TpMachine m = {.verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.buildio = false;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, NULL, NULL, 10), ==, MACHINE_STOP_REQUESTED);
    check_sequence(expected_minimal, G_N_ELEMENTS(expected_minimal));
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

/* HwStorFindAdapter's PORT_CONFIGURATION_INFORMATION describes the PCI
 * function: its BARs as access ranges, its INTx route as the interrupt. */
static void test_find_adapter_config(void)
{
    TpMachine m = {.verifier = VERIFIER_ON};
    unsigned cpu, vector;

    tp_mp_defaults();
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, NULL, NULL, 10), ==, MACHINE_STOP_REQUESTED);
    g_assert_true(tp_found.valid);
    g_assert_cmpint(tp_found.interface, ==, PCIBus);
    g_assert_cmpuint(tp_found.number_of_access_ranges, ==, 2);
    g_assert_cmphex(tp_found.range0_start, ==, pci_bar_addr(&tp_dev->pci, 0));
    g_assert_cmpuint(tp_found.range0_length, ==, TP_REGS_SIZE);
    g_assert_true(tp_found.range0_in_memory);
    g_assert_true(pci_intx_route(&tp_dev->pci, &cpu, &vector));
    g_assert_cmpuint(tp_found.bus_interrupt_vector, ==, vector);
    g_assert_cmpuint(tp_found.bus_interrupt_level, ==, vector_level(vector));
    g_assert_cmpuint(tp_found.bus_interrupt_level, ==, DIRQL);
    g_assert_cmpint(tp_found.interrupt_mode, ==, LevelSensitive);
    g_assert_cmpuint(tp_found.slot, ==, pci_device_bdf(&tp_dev->pci));
    /* The miniport mapped BAR 0 and talked to the device through it. */
    g_assert_cmpuint(tp_dev->reg_reads, >, 0);
    g_assert_cmpuint(tp_dev->errors, ==, 0);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/lifecycle/sequence", test_sequence);
    g_test_add_func("/port/lifecycle/minimal-sequence", test_minimal_sequence);
    g_test_add_func("/port/lifecycle/find-adapter-config",
                    test_find_adapter_config);
    return g_test_run();
}
