/* SPDX-License-Identifier: MIT */
/*
 * Port contract: each synchronization model's IRQL and locking for
 * HwStorStartIo and the ISR (HW_STARTIO, "StartIo rules" in STORPORT.md).
 *
 *  - Full duplex: StartIo at DISPATCH_LEVEL holding the StartIo lock, not
 *    the interrupt lock; the ISR may run at the same time on another
 *    processor. With -smp 2 the guest thread (and so StartIo) runs on
 *    vCPU 1 while INTx is routed to vCPU 0; StartIo rings the doorbell and
 *    stalls, and the ISR is seen running inside that window.
 *  - Half duplex: StartIo at DIRQL holding the interrupt lock, so the ISR
 *    never overlaps it; StorPortAllocatePool and StorPortAcquireSpinLock
 *    in it are verifier VC_IRQL violations, while the same calls in a
 *    full-duplex StartIo are quiet.
 *  - Virtual miniport: StartIo at the caller's IRQL (<= DISPATCH_LEVEL)
 *    with no port lock; it may allocate pool and take its own locks.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/ram.h"
#include "tests/helpers/tp-port.h"

/* ---- physical: StartIo rings the doorbell and stalls ---- */

static ULONG stall_us = 20;
static bool alloc_in_startio, lock_in_startio;

static bool slow_startio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    if (SrbGetSrbFunction(srb) != SRB_FUNCTION_EXECUTE_SCSI ||
        SrbGetCdb(srb)->AsByte[0] != SCSIOP_READ) {
        return false;
    }
    if (alloc_in_startio) {
        PVOID p = NULL;
        if (StorPortAllocatePool(x, 32, 'tsTp', &p) == STOR_STATUS_SUCCESS) {
            StorPortFreePool(x, p);
        }
    }
    if (lock_in_startio) {
        STOR_LOCK_HANDLE h;
        StorPortAcquireSpinLock(x, DpcLock, &x->dpc, &h);
        StorPortReleaseSpinLock(x, &h);
    }
    g_assert_true(tp_mp_submit(x, srb, 0, 0, 0));
    /* The device finishes during this stall; its interrupt goes to
     * vCPU 0 while this StartIo still runs on vCPU 1. */
    StorPortStallExecution(stall_us);
    *ret = TRUE;
    return true;
}

static const TpHooks slow_hooks = {.startio = slow_startio};

static void four_reads(void *opaque)
{
    for (unsigned i = 0; i < 4; i++) {
        g_assert_cmpuint(tp_io(port_lun_at(0), SCSIOP_READ, i, 1, 0), ==,
                         SRB_STATUS_SUCCESS);
    }
}

static void run_model(STOR_SYNCHRONIZATION_MODEL model)
{
    TpMachine m = {.smp = 2, .verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.sync = model;
    tp_mp.hooks = &slow_hooks;
    tp_machine_up(&m);
    tp_dev->latency = 1000; /* 1 us: well inside the StartIo stall */
    g_assert_cmpint(tp_run(1, four_reads, NULL, 10), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
}

static void check_startio_and_isr(uint8_t startio_irql, unsigned startio_locks,
                                  uint8_t isr_irql)
{
    unsigned reads = 0, isrs = 0;

    for (guint i = 0; i < tp_log->len; i++) {
        TpEvent *e = tp_log_at(i);
        if (e->call == TP_STARTIO) {
            g_assert_cmpint(e->cpu, ==, 1);
            g_assert_cmpuint(e->irql, ==, startio_irql);
            g_assert_cmphex(e->locks, ==, startio_locks);
            reads += e->arg == SCSIOP_READ;
        } else if (e->call == TP_INTERRUPT) {
            /* INTx is routed to vCPU 0. */
            g_assert_cmpint(e->cpu, ==, 0);
            g_assert_cmpuint(e->irql, ==, isr_irql);
            g_assert_cmphex(e->locks, ==, TP_LOCK_INTERRUPT);
            isrs++;
        }
    }
    g_assert_cmpuint(reads, ==, 4);
    g_assert_cmpuint(isrs, >=, 4);
}

static void test_full_duplex(void)
{
    run_model(StorSynchronizeFullDuplex);
    check_startio_and_isr(DISPATCH_LEVEL, TP_LOCK_STARTIO, 5);
    /* The ISR ran on vCPU 0 while StartIo was inside its stall on vCPU 1,
     * for every one of the four reads. */
    g_assert_cmpuint(tp_ext->isr_during_startio, ==, 4);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

static void test_half_duplex(void)
{
    run_model(StorSynchronizeHalfDuplex);
    /* StartIo at DIRQL under the interrupt lock, exclusive with the ISR. */
    check_startio_and_isr(5, TP_LOCK_INTERRUPT, 5);
    g_assert_cmpuint(tp_ext->isr_during_startio, ==, 0);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

typedef struct DdiCase {
    const char *name;
    STOR_SYNCHRONIZATION_MODEL model;
    bool alloc, lock;
    uint64_t irql_violations; /* per read: allocate and free both count */
} DdiCase;

static const DdiCase ddi_cases[] = {
    {"half-duplex-allocate-pool", StorSynchronizeHalfDuplex, true, false, 2},
    {"half-duplex-acquire-lock", StorSynchronizeHalfDuplex, false, true, 1},
    {"full-duplex-allocate-pool", StorSynchronizeFullDuplex, true, false, 0},
    {"full-duplex-acquire-lock", StorSynchronizeFullDuplex, false, true, 0},
};

static void test_ddi_in_startio(gconstpointer data)
{
    const DdiCase *c = data;

    alloc_in_startio = c->alloc;
    lock_in_startio = c->lock;
    run_model(c->model);
    g_assert_cmpuint(tp_verifier_delta(VC_IRQL), ==, 4 * c->irql_violations);
    if (!c->irql_violations) {
        g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    }
    alloc_in_startio = lock_in_startio = false;
    tp_machine_down();
}

/* ---- virtual: StartIo at the caller's IRQL, no port lock ---- */

typedef struct VmExt {
    ULONG lun_count;
} VmExt;

static HW_INITIALIZE vm_initialize;
static HW_STARTIO vm_startio;
static HW_RESET_BUS vm_reset_bus;
static HW_ADAPTER_CONTROL vm_adapter_control;
static VIRTUAL_HW_FIND_ADAPTER vm_find_adapter;
static HW_FREE_ADAPTER_RESOURCES vm_free_resources;

static ULONG vm_find_adapter(PVOID DeviceExtension, PVOID HwContext,
                             PVOID BusInformation, PVOID LowerDevice,
                             PCHAR ArgumentString,
                             PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                             PBOOLEAN Again)
{
    tp_log_add(DeviceExtension, TP_FIND_ADAPTER, 0);
    ConfigInfo->NumberOfBuses = 1;
    ConfigInfo->MaximumNumberOfTargets = 1;
    ConfigInfo->MaximumNumberOfLogicalUnits = 1;
    *Again = FALSE;
    return SP_RETURN_FOUND;
}

static BOOLEAN vm_initialize(PVOID DeviceExtension)
{
    tp_log_add(DeviceExtension, TP_INITIALIZE, 0);
    return TRUE;
}

static BOOLEAN vm_startio(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    PVOID p = NULL;
    UCHAR status = SRB_STATUS_SUCCESS;

    tp_log_add(DeviceExtension, TP_STARTIO,
               Srb->Function == SRB_FUNCTION_EXECUTE_SCSI
                   ? Srb->Cdb[0]
                   : TP_ARG_FUNCTION(Srb->Function));
    /* Allowed in a virtual miniport's StartIo: pool. */
    if (StorPortAllocatePool(DeviceExtension, 64, 'mvTp', &p) ==
        STOR_STATUS_SUCCESS) {
        StorPortFreePool(DeviceExtension, p);
    }
    if (Srb->Function == SRB_FUNCTION_EXECUTE_SCSI &&
        Srb->Cdb[0] == SCSIOP_INQUIRY) {
        PINQUIRYDATA inq = Srb->DataBuffer;
        RtlZeroMemory(inq, Srb->DataTransferLength);
        inq->DeviceType = DIRECT_ACCESS_DEVICE;
        inq->AdditionalLength = 31;
        Srb->DataTransferLength = 36;
    } else if (Srb->Function == SRB_FUNCTION_EXECUTE_SCSI &&
               Srb->Cdb[0] == SCSIOP_REPORT_LUNS) {
        status = SRB_STATUS_INVALID_REQUEST;
    }
    Srb->SrbStatus = status;
    StorPortNotification(RequestComplete, DeviceExtension, Srb);
    return TRUE;
}

static BOOLEAN vm_reset_bus(PVOID DeviceExtension, ULONG PathId)
{
    return TRUE;
}

static SCSI_ADAPTER_CONTROL_STATUS
vm_adapter_control(PVOID DeviceExtension, SCSI_ADAPTER_CONTROL_TYPE ControlType,
                   PVOID Parameters)
{
    if (ControlType == ScsiQuerySupportedControlTypes) {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST l = Parameters;
        l->SupportedTypeList[ScsiQuerySupportedControlTypes] = TRUE;
    }
    return ScsiAdapterControlSuccess;
}

static VOID vm_free_resources(PVOID DeviceExtension)
{
}

static ULONG vm_driver_entry(PVOID DriverObject, PVOID RegistryPath)
{
    HW_INITIALIZATION_DATA hw;

    RtlZeroMemory(&hw, sizeof(hw));
    hw.HwInitializationDataSize = sizeof(hw);
    hw.AdapterInterfaceType = Internal;
    hw.HwInitialize = vm_initialize;
    hw.HwStartIo = vm_startio;
    hw.HwFindAdapter = (PHW_FIND_ADAPTER)(void *)vm_find_adapter;
    hw.HwResetBus = vm_reset_bus;
    hw.HwAdapterControl = vm_adapter_control;
    hw.HwFreeAdapterResources = vm_free_resources;
    hw.DeviceExtensionSize = sizeof(VmExt);
    hw.SrbExtensionSize = 16;
    hw.FeatureSupport = STOR_FEATURE_VIRTUAL_MINIPORT;
    hw.MapBuffers = STOR_MAP_ALL_BUFFERS;
    return StorPortInitialize(DriverObject, RegistryPath, &hw, NULL);
}

static void virtual_io(void *opaque)
{
    KIRQL old;

    g_assert_cmpuint(tp_io(port_lun_at(0), SCSIOP_TEST_UNIT_READY, 0, 0, 0), ==,
                     SRB_STATUS_SUCCESS);
    /* Submitted at DISPATCH_LEVEL: StartIo runs there, no lower. */
    old = port_raise(DISPATCH_LEVEL);
    {
        PortRequest *req = port_request_new(port_lun_at(0));
        static const uint8_t tur[6] = {SCSIOP_TEST_UNIT_READY};
        port_request_scsi(req, tur, 6, NULL, 0, PORT_XFER_NONE, 0);
        port_submit(req, NULL, NULL);
        port_lower(old);
        g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_SUCCESS);
        port_request_free(req);
    }
}

static void test_virtual(void)
{
    TpMachine m = {
        .smp = 2,
        .verifier = VERIFIER_ON,
        .miniport = "tp-virtual",
        .entry = vm_driver_entry,
        .no_device = true,
    };
    unsigned passive = 0, dispatch = 0;

    tp_machine_up(&m);
    g_assert_cmpint(tp_run(1, virtual_io, NULL, 10), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    for (guint i = 0; i < tp_log->len; i++) {
        TpEvent *e = tp_log_at(i);
        if (e->call == TP_STARTIO) {
            g_assert_cmpuint(e->irql, <=, DISPATCH_LEVEL);
            g_assert_cmphex(e->locks, ==, 0);
            passive += e->irql == PASSIVE_LEVEL;
            dispatch += e->irql == DISPATCH_LEVEL;
        } else if (e->call == TP_INITIALIZE) {
            g_assert_cmpuint(e->irql, <=, DISPATCH_LEVEL);
            g_assert_cmphex(e->locks, ==, 0);
        }
    }
    /* Enumeration, the TUR, flush and shutdown came from PASSIVE_LEVEL;
     * the second TUR from DISPATCH_LEVEL. */
    g_assert_cmpuint(passive, >=, 4);
    g_assert_cmpuint(dispatch, ==, 1);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/sync/full-duplex", test_full_duplex);
    g_test_add_func("/port/sync/half-duplex", test_half_duplex);
    for (unsigned i = 0; i < G_N_ELEMENTS(ddi_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/port/sync/ddi-in-startio/%s", ddi_cases[i].name);
        g_test_add_data_func(path, &ddi_cases[i], test_ddi_in_startio);
    }
    g_test_add_func("/port/sync/virtual", test_virtual);
    return g_test_run();
}
