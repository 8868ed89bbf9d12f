/* SPDX-License-Identifier: MIT */
/*
 * Port contract: what an SRB extension holds when HwStorBuildIo gets it.
 * Storport promises nothing (STORPORT.md and the DDI pages are silent), so
 * a miniport sets every field it reads. The port never clears an
 * extension: without the verifier a reused one holds what the last
 * request left there; with it, every start finds the whole extension
 * poison (PORT_POISON_BYTE), the first from the allocation and later ones
 * because completion poisons again what the miniport wrote. A miniport
 * that relies on a zeroed extension reads poison there. The same request
 * is sent twice, so the second start reuses the first one's extension.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/ram.h"
#include "tests/helpers/tp-port.h"

/* Several of the verifier's chunks (port/queue.c, "Extension poisoning"),
 * of which the miniport writes two apart from each other. */
#define EXT_SIZE   1024
#define MARK_A     0
#define MARK_B     700
#define MARK_BYTE  0x5a
#define MARK_BYTES 16

enum {
    S_STARTS,       /* BuildIo calls for the READ */
    S_ALL_POISON,   /* ... that found the extension all poison */
    S_MARKED,       /* ... that found the last start's marks */
    S_NONZERO_SEEN, /* ... that found a byte that is not zero */
};

static bool is_read(PVOID srb)
{
    return SrbGetSrbFunction(srb) == SRB_FUNCTION_EXECUTE_SCSI &&
           SrbGetCdb(srb)->AsByte[0] == SCSIOP_READ;
}

static bool marked(const UCHAR *p)
{
    for (unsigned i = 0; i < MARK_BYTES; i++) {
        if (p[i] != MARK_BYTE) {
            return false;
        }
    }
    return true;
}

static bool look_buildio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    PUCHAR ext = SrbGetMiniportContext(srb);
    bool poison = true, nonzero = false;

    if (!is_read(srb)) {
        return false;
    }
    if (x->scratch[S_STARTS]++ == 0) {
        x->saved[0] = ext;
    } else {
        /* The same request again: the same extension. */
        g_assert_true(ext == x->saved[0]);
    }
    for (ULONG i = 0; i < EXT_SIZE; i++) {
        poison &= ext[i] == PORT_POISON_BYTE;
        nonzero |= ext[i] != 0;
    }
    x->scratch[S_ALL_POISON] += poison;
    x->scratch[S_NONZERO_SEEN] += nonzero;
    x->scratch[S_MARKED] += marked(ext + MARK_A) && marked(ext + MARK_B);
    /* Per-request state the miniport keeps in its extension. */
    memset(ext + MARK_A, MARK_BYTE, MARK_BYTES);
    memset(ext + MARK_B, MARK_BYTE, MARK_BYTES);
    return false;
}

static const TpHooks hooks = {
    .buildio = look_buildio,
};

static uint8_t status[2];

static void read_twice(void *opaque)
{
    PortRequest *req = port_request_new(port_lun_at(0));
    void *buf = ram_alloc(TP_MP_BLOCK, 16, 0, "tp-io");
    uint8_t cdb[10] = {SCSIOP_READ, 0, 0, 0, 0, 3, 0, 0, 1, 0};

    for (unsigned i = 0; i < G_N_ELEMENTS(status); i++) {
        port_request_scsi(req, cdb, sizeof(cdb), buf, TP_MP_BLOCK, PORT_XFER_IN,
                          0);
        port_execute(req);
        status[i] = port_request_srb_status(req);
        /* The class layer's in-place test agrees. */
        {
            uint32_t moved = 0;

            g_assert(port_request_finished_clean(req, &moved));
            g_assert_cmpuint(moved, ==, port_request_transferred(req));
        }
    }
    port_request_free(req);
    ram_free(buf);
}

static void run(VerifierMode v)
{
    TpMachine m = {.verifier = v};

    tp_mp_defaults();
    tp_mp.hooks = &hooks;
    tp_mp.srbext = EXT_SIZE;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, read_twice, NULL, 10), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    g_assert_cmpuint(status[0], ==, SRB_STATUS_SUCCESS);
    g_assert_cmpuint(status[1], ==, SRB_STATUS_SUCCESS);
    g_assert_cmpuint(tp_ext->scratch[S_STARTS], ==, 2);
}

static void test_verifier_poison(void)
{
    run(VERIFIER_ON);
    /* Poison at both starts: the fresh allocation and the reused one,
     * where the marks were poisoned again, not zeroed. */
    g_assert_cmpuint(tp_ext->scratch[S_ALL_POISON], ==, 2);
    g_assert_cmpuint(tp_ext->scratch[S_NONZERO_SEEN], ==, 2);
    g_assert_cmpuint(tp_ext->scratch[S_MARKED], ==, 0);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

static void test_no_verifier_left_as_is(void)
{
    run(VERIFIER_OFF);
    /* The second start finds what the first one wrote. */
    g_assert_cmpuint(tp_ext->scratch[S_MARKED], ==, 1);
    g_assert_cmpuint(tp_ext->scratch[S_ALL_POISON], ==, 0);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/port/extension/verifier-poison", test_verifier_poison);
    g_test_add_func("/port/extension/no-verifier-left-as-is",
                    test_no_verifier_left_as_is);
    return g_test_run();
}
