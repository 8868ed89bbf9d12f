/* SPDX-License-Identifier: MIT */
/*
 * The port end to end with a small virtual miniport written in this file
 * against port/include, as a Windows driver author would: DriverEntry ->
 * StorPortInitialize, VirtualHwStorFindAdapter, HwStorInitialize, bus
 * enumeration, reads and writes, flush and shutdown, plus the verifier on
 * a miniport that completes a request twice.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/cpu.h"
#include "system/event.h"

#define TVM_BLOCKS 256
#define TVM_BLOCK  512

typedef struct TvmExtension {
    PUCHAR disk;
    ULONG reads, writes, flushes, shutdowns;
    BOOLEAN double_complete; /* misbehave: complete READs twice */
} TvmExtension;

static HW_INITIALIZE tvm_initialize;
static HW_STARTIO tvm_startio;
static HW_RESET_BUS tvm_reset_bus;
static HW_ADAPTER_CONTROL tvm_adapter_control;
static VIRTUAL_HW_FIND_ADAPTER tvm_find_adapter;

static TvmExtension *last_ext;
static bool misbehave;
static bool huge_extension; /* DeviceExtensionSize beyond guest RAM */
static unsigned nest_depth; /* SynchronizeAccess nesting, 0 = off */

static ULONG tvm_find_adapter(PVOID DeviceExtension, PVOID HwContext,
                              PVOID BusInformation, PVOID LowerDevice,
                              PCHAR ArgumentString,
                              PPORT_CONFIGURATION_INFORMATION ConfigInfo,
                              PBOOLEAN Again)
{
    TvmExtension *x = DeviceExtension;

    ConfigInfo->NumberOfBuses = 1;
    ConfigInfo->MaximumNumberOfTargets = 2;
    ConfigInfo->MaximumNumberOfLogicalUnits = 1;
    ConfigInfo->MaximumTransferLength = 64 * 1024;
    if (StorPortAllocatePool(DeviceExtension, TVM_BLOCKS * TVM_BLOCK, 'kDvT',
                             (PVOID *)&x->disk) != STOR_STATUS_SUCCESS) {
        return SP_RETURN_ERROR;
    }
    RtlZeroMemory(x->disk, TVM_BLOCKS * TVM_BLOCK);
    x->double_complete = misbehave;
    last_ext = x;
    return SP_RETURN_FOUND;
}

static BOOLEAN tvm_initialize(PVOID DeviceExtension)
{
    return TRUE;
}

static VOID complete(PVOID ext, PSCSI_REQUEST_BLOCK srb, UCHAR status)
{
    srb->SrbStatus = status;
    StorPortNotification(RequestComplete, ext, srb);
}

static unsigned nested;

/* Calls itself through StorPortSynchronizeAccess nest_depth times. */
static BOOLEAN tvm_nest(PVOID DeviceExtension, PVOID Context)
{
    if (++nested < nest_depth) {
        StorPortSynchronizeAccess(DeviceExtension, tvm_nest, Context);
    }
    return TRUE;
}

static BOOLEAN tvm_startio(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    TvmExtension *x = DeviceExtension;
    PCDB cdb = (PCDB)Srb->Cdb;
    PUCHAR buf = Srb->DataBuffer;
    ULONG lba, n;

    if (nest_depth && !nested) {
        StorPortSynchronizeAccess(DeviceExtension, tvm_nest, NULL);
    }
    if (Srb->Function == SRB_FUNCTION_FLUSH) {
        x->flushes++;
        complete(x, Srb, SRB_STATUS_SUCCESS);
        return TRUE;
    }
    if (Srb->Function == SRB_FUNCTION_SHUTDOWN) {
        x->shutdowns++;
        complete(x, Srb, SRB_STATUS_SUCCESS);
        return TRUE;
    }
    if (Srb->Function != SRB_FUNCTION_EXECUTE_SCSI) {
        complete(x, Srb, SRB_STATUS_INVALID_REQUEST);
        return TRUE;
    }
    if (Srb->TargetId != 0 || Srb->Lun != 0) {
        complete(x, Srb, SRB_STATUS_SELECTION_TIMEOUT);
        return TRUE;
    }
    switch (cdb->AsByte[0]) {
    case SCSIOP_INQUIRY: {
        PINQUIRYDATA inq = (PINQUIRYDATA)buf;
        RtlZeroMemory(buf, Srb->DataTransferLength);
        inq->DeviceType = DIRECT_ACCESS_DEVICE;
        inq->AdditionalLength = 31;
        RtlCopyMemory(inq->VendorId, "STOREMU ", 8);
        RtlCopyMemory(inq->ProductId, "TEST VIRTUAL    ", 16);
        Srb->DataTransferLength = MIN(Srb->DataTransferLength, 36);
        complete(x, Srb, SRB_STATUS_SUCCESS);
        return TRUE;
    }
    case SCSIOP_REPORT_LUNS:
        complete(x, Srb, SRB_STATUS_INVALID_REQUEST);
        return TRUE;
    case SCSIOP_READ:
    case SCSIOP_WRITE:
        lba = (ULONG)cdb->CDB10.LogicalBlockByte0 << 24 |
              (ULONG)cdb->CDB10.LogicalBlockByte1 << 16 |
              (ULONG)cdb->CDB10.LogicalBlockByte2 << 8 |
              cdb->CDB10.LogicalBlockByte3;
        n = (ULONG)cdb->CDB10.TransferBlocksMsb << 8 |
            cdb->CDB10.TransferBlocksLsb;
        if (lba + n > TVM_BLOCKS) {
            complete(x, Srb, SRB_STATUS_ERROR);
            return TRUE;
        }
        if (cdb->AsByte[0] == SCSIOP_READ) {
            RtlCopyMemory(buf, x->disk + lba * TVM_BLOCK, n * TVM_BLOCK);
            x->reads++;
        } else {
            RtlCopyMemory(x->disk + lba * TVM_BLOCK, buf, n * TVM_BLOCK);
            x->writes++;
        }
        /* Decide before completing: the SRB is the port's afterwards. */
        if (x->double_complete && cdb->AsByte[0] == SCSIOP_READ) {
            complete(x, Srb, SRB_STATUS_SUCCESS);
            StorPortNotification(RequestComplete, x, Srb);
            return TRUE;
        }
        complete(x, Srb, SRB_STATUS_SUCCESS);
        return TRUE;
    default:
        complete(x, Srb, SRB_STATUS_INVALID_REQUEST);
        return TRUE;
    }
}

static BOOLEAN tvm_reset_bus(PVOID DeviceExtension, ULONG PathId)
{
    return TRUE;
}

static SCSI_ADAPTER_CONTROL_STATUS
tvm_adapter_control(PVOID DeviceExtension,
                    SCSI_ADAPTER_CONTROL_TYPE ControlType, PVOID Parameters)
{
    TvmExtension *x = DeviceExtension;

    if (ControlType == ScsiQuerySupportedControlTypes) {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST l = Parameters;
        l->SupportedTypeList[ScsiQuerySupportedControlTypes] = TRUE;
        l->SupportedTypeList[ScsiStopAdapter] = TRUE;
        l->SupportedTypeList[ScsiRestartAdapter] = TRUE;
    } else if (ControlType == ScsiStopAdapter && x->disk &&
               !x->double_complete) {
        /* Final stop frees what FindAdapter allocated. */
    }
    return ScsiAdapterControlSuccess;
}

static ULONG tvm_driver_entry(PVOID DriverObject, PVOID RegistryPath)
{
    HW_INITIALIZATION_DATA hw;

    RtlZeroMemory(&hw, sizeof(hw));
    hw.HwInitializationDataSize = sizeof(hw);
    hw.AdapterInterfaceType = Internal;
    hw.HwInitialize = tvm_initialize;
    hw.HwStartIo = tvm_startio;
    hw.HwFindAdapter = (PHW_FIND_ADAPTER)(void *)tvm_find_adapter;
    hw.HwResetBus = tvm_reset_bus;
    hw.HwAdapterControl = tvm_adapter_control;
    hw.DeviceExtensionSize =
        huge_extension ? 0xf0000000u : (ULONG)sizeof(TvmExtension);
    hw.SrbExtensionSize = 32;
    hw.FeatureSupport = STOR_FEATURE_VIRTUAL_MINIPORT;
    hw.MapBuffers = STOR_MAP_ALL_BUFFERS;
    return StorPortInitialize(DriverObject, RegistryPath, &hw, NULL);
}

/* ---- harness ---- */

static const OptDesc mp_desc[] = {
    {"name", OPT_STRING, "miniport"},
    {"tracing", OPT_BOOL, "tracing"},
    {NULL},
};
static const OptsSchema mp_schema = {
    .option = "-miniport",
    .implied = "name",
    .desc = mp_desc,
    .wildcard_prefix = "param",
};

static void machine_up(VerifierMode v)
{
    SchedConfig sc = {.policy = SCHED_POLICY_FIFO, .quantum = 64};
    g_autoptr(GError) err = NULL;
    g_autoptr(Opts) o = opts_parse(&mp_schema, "tvm,param.x=1", &err);

    g_assert_no_error(err);
    event_loop_init();
    memory_init();
    g_assert_true(ram_init(64 << 20, &err));
    g_assert_true(cpus_init(2, &sc, &err));
    port_register_builtin("tvm", tvm_driver_entry);
    g_assert_true(port_load(o, v, &err));
    g_assert_no_error(err);
}

static void machine_down(void)
{
    port_unload();
    cpus_fini();
    ram_fini();
    memory_fini();
    event_loop_fini();
}

static int failures;

static void read_write_program(void *opaque)
{
    g_autoptr(GError) err = NULL;
    PortLu *lu;
    PortRequest *req;
    uint8_t *buf;
    uint8_t cdb[10] = {0};
    unsigned p, t, l;
    unsigned len;

    if (!port_start(&err)) {
        g_printerr("port_start: %s\n", err->message);
        failures++;
        return;
    }
    g_assert_cmpuint(port_lun_count(), ==, 1);
    lu = port_lun_at(0);
    port_lun_address(lu, &p, &t, &l);
    g_assert_cmpuint(t, ==, 0);
    g_assert_cmpmem(port_lun_inquiry(lu) + 8, 8, "STOREMU ", 8);

    buf = ram_alloc(4096, 4096, 0, "test-buffer");
    req = port_request_new(lu);
    for (unsigned i = 0; i < 4096; i++) {
        buf[i] = (uint8_t)(i * 7 + 1);
    }
    cdb[0] = SCSIOP_WRITE;
    cdb[5] = 10; /* LBA 10 */
    cdb[8] = 8;  /* 8 blocks */
    port_request_scsi(req, cdb, 10, buf, 4096, PORT_XFER_OUT, 0);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_SUCCESS);
    memset(buf, 0, 4096);
    cdb[0] = SCSIOP_READ;
    port_request_scsi(req, cdb, 10, buf, 4096, PORT_XFER_IN, 0);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_SUCCESS);
    g_assert_cmpuint(port_request_transferred(req), ==, 4096);
    for (unsigned i = 0; i < 4096; i++) {
        if (buf[i] != (uint8_t)(i * 7 + 1)) {
            failures++;
            break;
        }
    }
    /* An out-of-range read fails with the miniport's status. */
    cdb[5] = 0xff;
    port_request_scsi(req, cdb, 10, buf, 4096, PORT_XFER_IN, 0);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_ERROR);
    /* Larger than MaximumTransferLength: refused by the port. */
    port_request_free(req);
    ram_free(buf);
    buf = ram_alloc(128 * 1024, 4096, 0, "big");
    req = port_request_new(lu);
    cdb[5] = 0;
    port_request_scsi(req, cdb, 10, buf, 128 * 1024, PORT_XFER_IN, 0);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==,
                     SRB_STATUS_INVALID_REQUEST);
    (void)port_request_sense(req, &len);
    g_assert_cmpuint(len, ==, 0);
    port_request_free(req);
    ram_free(buf);

    g_assert_true(port_power(PORT_POWER_STOP, &err));
    g_assert_true(port_power(PORT_POWER_RESUME, &err));
    port_shutdown();
    g_assert_cmpuint(last_ext->flushes, ==, 2); /* stop + shutdown */
    g_assert_cmpuint(last_ext->shutdowns, ==, 1);
    g_assert_cmpuint(last_ext->reads, ==, 1);
    g_assert_cmpuint(last_ext->writes, ==, 1);
    machine_request_stop(0);
}

static void test_virtual_read_write(void)
{
    MachineStop st;

    machine_up(VERIFIER_ON);
    misbehave = false;
    failures = 0;
    guest_thread_create(0, "program", read_write_program, NULL);
    st = cpus_run(60 * NS_PER_SEC);
    g_assert_cmpint(st, ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(failures, ==, 0);
    /* The disk was allocated with StorPortAllocatePool and never freed:
     * the leak check names it. */
    g_assert_cmpuint(verifier_count(VC_POOL_LEAK), ==, 1);
    g_assert_cmpuint(verifier_total(), ==, 1);
    machine_down();
}

static void double_program(void *opaque)
{
    g_autoptr(GError) err = NULL;
    PortRequest *req;
    uint8_t *buf;
    uint8_t cdb[10] = {SCSIOP_READ, 0, 0, 0, 0, 1, 0, 0, 1, 0};

    g_assert_true(port_start(&err));
    buf = ram_alloc(512, 512, 0, "b");
    req = port_request_new(port_lun_at(0));
    port_request_scsi(req, cdb, 10, buf, 512, PORT_XFER_IN, 0);
    port_execute(req);
    machine_request_stop(0);
}

static void test_verifier_double_completion(void)
{
    machine_up(VERIFIER_STRICT);
    misbehave = true;
    guest_thread_create(0, "program", double_program, NULL);
    g_assert_cmpint(cpus_run(60 * NS_PER_SEC), ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_VERIFIER);
    g_assert_cmpuint(verifier_count(VC_DOUBLE_COMPLETION), ==, 1);
    machine_down();
}

static void huge_program(void *opaque)
{
    g_autoptr(GError) err = NULL;

    /* Regression: this aborted the emulator (g_error) instead of failing
     * the start with a message the user can act on. */
    g_assert_false(port_start(&err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "guest RAM exhausted"));
    g_assert_nonnull(strstr(err->message, "-m"));
    g_assert_cmpuint(port_lun_count(), ==, 0);
    machine_request_stop(0);
}

static void test_device_extension_too_big(void)
{
    machine_up(VERIFIER_ON);
    misbehave = false;
    huge_extension = true;
    guest_thread_create(0, "program", huge_program, NULL);
    g_assert_cmpint(cpus_run(60 * NS_PER_SEC), ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, 0);
    huge_extension = false;
    machine_down();
}

static void nest_program(void *opaque)
{
    g_autoptr(GError) err = NULL;

    /* Enumeration's first INQUIRY nests 40 deep and stops the machine. */
    port_start(&err);
    machine_request_stop(0);
}

static void test_unbounded_nesting_is_reported(void)
{
    machine_up(VERIFIER_ON);
    misbehave = false;
    nest_depth = 40;
    nested = 0;
    guest_thread_create(0, "program", nest_program, NULL);
    g_assert_cmpint(cpus_run(60 * NS_PER_SEC), ==, MACHINE_STOP_REQUESTED);
    /* Reported and stopped (exit 3), not an assertion abort. */
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_VERIFIER);
    g_assert_cmpuint(verifier_count(VC_BAD_CALL), ==, 1);
    g_assert_cmpuint(nested, ==, 40);
    nest_depth = 0;
    machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/virtual/read-write", test_virtual_read_write);
    g_test_add_func("/port/virtual/verifier-double-completion",
                    test_verifier_double_completion);
    g_test_add_func("/port/virtual/device-extension-too-big",
                    test_device_extension_too_big);
    g_test_add_func("/port/virtual/unbounded-nesting",
                    test_unbounded_nesting_is_reported);
    return g_test_run();
}
