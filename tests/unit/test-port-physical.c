/* SPDX-License-Identifier: MIT */
/*
 * Port contract: StorPortGetPhysicalAddress on a request's SRB extension.
 * The extension is one physically contiguous allocation, so with the SRB
 * named the length runs to the end of that extension, however many pages
 * it spans; without the SRB, or with another request's, the port knows
 * nothing of the buffer and the length stops at the page end. Device DMA
 * anywhere in the extension is then legal for the verifier.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/ram.h"
#include "tests/helpers/tp-port.h"

#define EXT_SIZE 9000 /* spans two or three guest pages */

enum {
    S_LEN_START, /* from the extension's start, SRB named */
    S_LEN_INNER, /* from 5000 bytes in, SRB named */
    S_LEN_NOSRB, /* from the start, no SRB */
    S_PA_OK,     /* the address is the extension's guest-physical one */
    S_PAGE_END,  /* bytes from the start to its page end */
    S_LEN_AGAIN, /* from the start again, SRB named: the mapped case */
    S_PA_AGAIN,  /* that answer's address is the first one's */
    S_LEN_DATA,  /* from the start with the data buffer pointed there */
};

static bool is_read(PVOID srb)
{
    return SrbGetSrbFunction(srb) == SRB_FUNCTION_EXECUTE_SCSI &&
           SrbGetCdb(srb)->AsByte[0] == SCSIOP_READ;
}

static bool inner_first; /* ask for ext + 5000 before the start */

static bool ext_startio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    PUCHAR ext = SrbGetMiniportContext(srb);
    STOR_PHYSICAL_ADDRESS pa;
    uint64_t gpa = 0;
    ULONG len = 0;

    if (!is_read(srb)) {
        return false;
    }
    if (inner_first) {
        /* Only these two calls map anything: the device then writes the
         * extension's first 64 bytes. */
        StorPortGetPhysicalAddress(x, srb, ext + 5000, &len);
        pa = StorPortGetPhysicalAddress(x, srb, ext, &len);
        x->scratch[S_LEN_START] = len;
        ram_gpa(ext, &gpa);
        g_assert_true(tp_mp_submit(x, srb, gpa, 64, 0));
        *ret = TRUE;
        return true;
    }
    pa = StorPortGetPhysicalAddress(x, srb, ext, &len);
    x->scratch[S_LEN_START] = len;
    x->scratch[S_PA_OK] = ram_gpa(ext, &gpa) && (uint64_t)pa.QuadPart == gpa;
    x->scratch[S_PAGE_END] =
        (ULONG)(GUEST_PAGE_SIZE - (gpa & (GUEST_PAGE_SIZE - 1)));
    StorPortGetPhysicalAddress(x, srb, ext + 5000, &len);
    x->scratch[S_LEN_INNER] = len;
    StorPortGetPhysicalAddress(x, NULL, ext, &len);
    x->scratch[S_LEN_NOSRB] = len;
    len = 0;
    x->scratch[S_PA_AGAIN] =
        StorPortGetPhysicalAddress(x, srb, ext, &len).QuadPart == pa.QuadPart;
    x->scratch[S_LEN_AGAIN] = len;
    {
        /* A data buffer in the extension answers first, mapped or not. */
        PVOID buf = SrbGetDataBuffer(srb);
        ULONG n = SrbGetDataTransferLength(srb);

        SrbSetDataBuffer(srb, ext);
        SrbSetDataTransferLength(srb, 512);
        StorPortGetPhysicalAddress(x, srb, ext, &len);
        x->scratch[S_LEN_DATA] = len;
        SrbSetDataBuffer(srb, buf);
        SrbSetDataTransferLength(srb, n);
    }
    /* The device writes the extension's last 64 bytes: quiet. */
    g_assert_true(tp_mp_submit(x, srb, gpa + EXT_SIZE - 64, 64, 0));
    *ret = TRUE;
    return true;
}

static const TpHooks hooks = {
    .startio = ext_startio,
};

static uint8_t read_status;

static void one_read(void *opaque)
{
    read_status = tp_io(port_lun_at(0), SCSIOP_READ, 3, 1, 0);
}

static void run_extension_length(bool inner)
{
    TpMachine m = {.verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.hooks = &hooks;
    tp_mp.srbext = EXT_SIZE;
    inner_first = inner;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, one_read, NULL, 10), ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    g_assert_cmpuint(read_status, ==, SRB_STATUS_SUCCESS);
    g_assert_cmpuint(tp_ext->scratch[S_LEN_START], ==, EXT_SIZE);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    if (inner) {
        tp_machine_down();
        return;
    }
    g_assert_cmpuint(tp_ext->scratch[S_PA_OK], ==, 1);
    g_assert_cmpuint(tp_ext->scratch[S_LEN_START], ==, EXT_SIZE);
    g_assert_cmpuint(tp_ext->scratch[S_LEN_INNER], ==, EXT_SIZE - 5000);
    g_assert_cmpuint(tp_ext->scratch[S_LEN_NOSRB], ==,
                     tp_ext->scratch[S_PAGE_END]);
    g_assert_cmpuint(tp_ext->scratch[S_LEN_NOSRB], <, EXT_SIZE);
    g_assert_cmpuint(tp_ext->scratch[S_PA_AGAIN], ==, 1);
    g_assert_cmpuint(tp_ext->scratch[S_LEN_AGAIN], ==, EXT_SIZE);
    g_assert_cmpuint(tp_ext->scratch[S_LEN_DATA], ==, 512);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

static void test_extension_length(void)
{
    run_extension_length(false);
}

/* The port remembers what it mapped of a request's extension for the
 * verifier; a later call for an earlier part must still map that part. */
static void test_extension_inner_first(void)
{
    run_extension_length(true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/physical/extension-length", test_extension_length);
    g_test_add_func("/port/physical/extension-inner-first",
                    test_extension_inner_first);
    return g_test_run();
}
