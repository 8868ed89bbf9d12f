/* SPDX-License-Identifier: MIT */
/*
 * Port contract: SRB_STATUS_BUSY ("Completion statuses that change port
 * behaviour" in STORPORT.md, HW_STARTIO). BUSY from HwStorStartIo sends
 * the same SRB through HwStorBuildIo and HwStorStartIo again with a fresh
 * SRB extension (Storport does not clear extensions; with the verifier it
 * is all poison); the class never sees the BUSY. Writing the old
 * extension afterwards is a use after free the verifier reports. BUSY
 * after StartIo returned (mid-transaction) is a VC_BUSY_MID_TRANSACTION
 * violation.
 */
#include <string.h>
#include <glib.h>
#include "tests/helpers/tp-port.h"

enum {
    S_ATTEMPTS,      /* StartIo calls for the READ */
    S_NEW_EXTENSION, /* the retry got another extension */
    S_POISONED,      /* ... and it was all poison (the verifier is on) */
    S_WRITE_STALE,   /* misbehave: write the old extension on retry */
    S_BUSY_IN_DPC,   /* misbehave: complete with BUSY from the DPC */
    S_BAD_BUFFER,    /* misbehave: leave a buffer outside RAM in the SRB */
};

/* Host memory that is not guest RAM. */
static uint8_t not_ram[4096];

static bool is_read(PVOID srb)
{
    return SrbGetSrbFunction(srb) == SRB_FUNCTION_EXECUTE_SCSI &&
           SrbGetCdb(srb)->AsByte[0] == SCSIOP_READ;
}

static bool busy_once_startio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    PUCHAR ext = SrbGetMiniportContext(srb);

    if (!is_read(srb) || x->scratch[S_BUSY_IN_DPC]) {
        return false;
    }
    if (x->scratch[S_ATTEMPTS]++ == 0) {
        /* Adapter resources busy: fill our extension, then give up. */
        memset(ext, 0xa5, tp_mp.srbext);
        x->saved[0] = ext;
        if (x->scratch[S_BAD_BUFFER]) {
            SrbSetDataBuffer(srb, not_ram);
        }
        tp_mp_complete(x, srb, SRB_STATUS_BUSY);
        *ret = TRUE;
        return true;
    }
    x->scratch[S_NEW_EXTENSION] = ext != x->saved[0];
    x->scratch[S_POISONED] = 1;
    for (ULONG i = 0; i < tp_mp.srbext; i++) {
        if (ext[i] != PORT_POISON_BYTE) {
            x->scratch[S_POISONED] = 0;
        }
    }
    if (x->scratch[S_WRITE_STALE]) {
        /* The bug: state kept in the extension of the first attempt. */
        ((PUCHAR)x->saved[0])[8] = 0x42;
    }
    return false; /* the standard path sends it to the device */
}

static bool busy_in_dpc(TpExt *x, PVOID srb)
{
    if (!x->scratch[S_BUSY_IN_DPC] || !is_read(srb) ||
        x->scratch[S_ATTEMPTS]++ != 0) {
        return false;
    }
    /* The device started the READ, then the miniport says BUSY. */
    tp_mp_complete(x, srb, SRB_STATUS_BUSY);
    return true;
}

static uint32_t flags;

static void set_flags(TpExt *x)
{
    x->scratch[S_WRITE_STALE] = flags & 1;
    x->scratch[S_BUSY_IN_DPC] = (flags >> 1) & 1;
    x->scratch[S_BAD_BUFFER] = (flags >> 2) & 1;
}

static void set_flags_find(TpExt *x, PPORT_CONFIGURATION_INFORMATION cfg)
{
    set_flags(x);
}

static const TpHooks hooks = {
    .find = set_flags_find,
    .startio = busy_once_startio,
    .complete = busy_in_dpc,
};

static uint8_t read_status;

static void one_read(void *opaque)
{
    read_status = tp_io(port_lun_at(0), SCSIOP_READ, 3, 2, 0);
}

static void run_status(uint32_t f, uint8_t status)
{
    TpMachine m = {.verifier = VERIFIER_ON};
    PortStats st;

    tp_mp_defaults();
    tp_mp.hooks = &hooks;
    flags = f;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, one_read, NULL, 10), ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    /* The class sees the retried request succeed, never the BUSY. */
    g_assert_cmpuint(read_status, ==, status);
    port_stats(&st);
    g_assert_cmpuint(st.busy_returns, ==, 1);
}

static void run(uint32_t f)
{
    run_status(f, SRB_STATUS_SUCCESS);
}

static void test_retry_fresh_extension(void)
{
    run(0);
    /* Twice through BuildIo and StartIo, the second time with a new
     * extension: poison, nothing of the first attempt's 0xa5. */
    g_assert_cmpuint(tp_log_count(TP_BUILDIO, SCSIOP_READ), ==, 2);
    g_assert_cmpuint(tp_log_count(TP_STARTIO, SCSIOP_READ), ==, 2);
    g_assert_cmpuint(tp_ext->scratch[S_ATTEMPTS], ==, 2);
    g_assert_cmpuint(tp_ext->scratch[S_NEW_EXTENSION], ==, 1);
    g_assert_cmpuint(tp_ext->scratch[S_POISONED], ==, 1);
    /* BUSY from inside StartIo is legal. */
    g_assert_cmpuint(tp_verifier_delta(VC_BUSY_MID_TRANSACTION), ==, 0);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

/*
 * After a BUSY retry the old extension stays poisoned until the request
 * completes, and a write to it in between is reported there.
 */
static void test_stale_extension_write(void)
{
    run(1);
    g_assert_cmpuint(tp_ext->scratch[S_NEW_EXTENSION], ==, 1);
    g_assert_cmpuint(tp_verifier_delta(VC_SRB_AFTER_COMPLETION), ==, 1);
    tp_machine_down();
}

static void test_busy_mid_transaction(void)
{
    run(2);
    g_assert_cmpuint(tp_verifier_delta(VC_BUSY_MID_TRANSACTION), ==, 1);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 1);
    /* The port still retried it: two starts of the READ. */
    g_assert_cmpuint(tp_log_count(TP_STARTIO, SCSIOP_READ), ==, 2);
    tp_machine_down();
}

/*
 * A data buffer outside guest RAM that the miniport left in the SRB it
 * returned BUSY: the retry is refused (INVALID_REQUEST), not started.
 */
static void test_busy_bad_buffer(void)
{
    run_status(4, SRB_STATUS_INVALID_REQUEST);
    g_assert_cmpuint(tp_log_count(TP_STARTIO, SCSIOP_READ), ==, 1);
    tp_machine_down();
}

/* The class layer's buffer must be guest memory (port-api.h): one that
 * is not is refused as the request starts, with no call to the
 * miniport. */
static void bad_class_buffer(void *opaque)
{
    PortRequest *req = port_request_new(port_lun_at(0));
    uint8_t cdb[10] = {SCSIOP_READ, 0, 0, 0, 0, 3, 0, 0, 1};
    uint8_t *status = opaque;

    port_request_scsi(req, cdb, 10, not_ram, TP_MP_BLOCK, PORT_XFER_IN, 0);
    port_execute(req);
    *status = port_request_srb_status(req);
    port_request_free(req);
}

static void test_class_bad_buffer(void)
{
    TpMachine m = {.verifier = VERIFIER_ON};
    uint8_t status = SRB_STATUS_PENDING;

    tp_mp_defaults();
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, bad_class_buffer, &status, 10), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpuint(status, ==, SRB_STATUS_INVALID_REQUEST);
    g_assert_cmpuint(tp_log_count(TP_STARTIO, SCSIOP_READ), ==, 0);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/busy/retry-fresh-extension",
                    test_retry_fresh_extension);
    g_test_add_func("/port/busy/stale-extension-write",
                    test_stale_extension_write);
    g_test_add_func("/port/busy/busy-mid-transaction",
                    test_busy_mid_transaction);
    g_test_add_func("/port/busy/bad-buffer", test_busy_bad_buffer);
    g_test_add_func("/port/busy/class-bad-buffer", test_class_bad_buffer);
    return g_test_run();
}
