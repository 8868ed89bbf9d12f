/* SPDX-License-Identifier: MIT */
/*
 * t-errors: error surfaces. Commands the unit must refuse come back as
 * CHECK CONDITION with the sense SBC-4/SPC-5 prescribe (an LBA past the
 * end: ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE 05/21/00; an
 * unknown operation code: 05/20/00), in a sense format the class layer
 * can read, without retries; the class layer refuses what it can see is
 * wrong before sending anything; and after all that the unit still works.
 */
#include <stdio.h>
#include <string.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "hw/core/ram.h"

typedef struct Expect {
    const char *what;
    uint8_t cdb[16];
    unsigned cdb_len;
    int64_t lba_from_end; /* patched into the CDB: capacity - this */
    unsigned blocks;      /* data blocks (0: no data) */
    PortXfer dir;
    uint8_t asc; /* ILLEGAL REQUEST 05/asc/00 expected */
} Expect;

static const Expect expects[] = {
    {"READ(16) of the block after the last",
     {0x88},
     16,
     0,
     1,
     PORT_XFER_IN,
     0x21},
    {"READ(16) of 8 blocks across the end",
     {0x88},
     16,
     4,
     8,
     PORT_XFER_IN,
     0x21},
    {"WRITE(16) of 2 blocks from the last",
     {0x8a},
     16,
     1,
     2,
     PORT_XFER_OUT,
     0x21},
    {"READ(10) of the block after the last",
     {0x28},
     10,
     0,
     1,
     PORT_XFER_IN,
     0x21},
    {"operation code FFh", {0xff}, 6, -1, 0, PORT_XFER_NONE, 0x20},
};

static void patch_lba(uint8_t *cdb, unsigned len, uint64_t lba, uint32_t blocks)
{
    if (len == 16) {
        for (int i = 0; i < 8; i++) {
            cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
        }
        for (int i = 0; i < 4; i++) {
            cdb[10 + i] = (uint8_t)(blocks >> (24 - 8 * i));
        }
    } else if (len == 10) {
        for (int i = 0; i < 4; i++) {
            cdb[2 + i] = (uint8_t)(lba >> (24 - 8 * i));
        }
        cdb[7] = (uint8_t)(blocks >> 8);
        cdb[8] = (uint8_t)blocks;
    }
}

static void run_expect(ClsDisk *d, const Expect *e, uint8_t *buf)
{
    uint8_t cdb[16];
    ClsResult r;
    char msg[200];
    bool ok;

    if (e->cdb_len == 10 && d->blocks > 0xffffffffULL) {
        gt_report_skip("%s: the disk is too big for READ(10)", e->what);
        return;
    }
    memcpy(cdb, e->cdb, sizeof(cdb));
    if (e->lba_from_end >= 0) {
        patch_lba(cdb, e->cdb_len, d->blocks - (uint64_t)e->lba_from_end,
                  e->blocks);
    }
    ok = cls_raw(d, cdb, e->cdb_len, e->blocks ? buf : NULL,
                 e->blocks * d->block_size, e->dir, 0, &r);
    cls_result_str(&r, msg, sizeof(msg));
    gt_report(!ok && r.status == CLS_ERR_CHECK, "%s: CHECK CONDITION (%s)",
              e->what, msg);
    gt_report(r.sense_valid && r.sense_len >= 8,
              "%s: fixed or descriptor "
              "sense data, %u bytes",
              e->what, r.sense_len);
    gt_report(r.sense_key == 0x5 && r.asc == e->asc && r.ascq == 0,
              "%s: sense 05/%02x/00 %s, got %02x/%02x/%02x", e->what, e->asc,
              cls_asc_name(e->asc, 0), r.sense_key, r.asc, r.ascq);
    gt_report(r.retries == 0,
              "%s: ILLEGAL REQUEST is not retried (%u "
              "retries)",
              e->what, r.retries);
}

static int t_errors_main(const Opts *args)
{
    ClsDisk *d;
    uint8_t *buf;
    ClsResult r;
    char msg[200];
    uint64_t srbs;
    bool ok;
    int rc;

    gt_report_begin("t-errors");
    d = gt_open_lun("t-errors", args, true, &rc);
    if (!d) {
        gt_report(false, "a LUN to test");
        gt_report_summary();
        return rc;
    }
    buf = ram_alloc(8ULL * d->block_size, GUEST_PAGE_SIZE, 0, "t-errors");
    for (unsigned i = 0; i < G_N_ELEMENTS(expects); i++) {
        run_expect(d, &expects[i], buf);
    }

    srbs = d->count.srbs;
    cls_read(d, d->blocks - 1, 2, buf, &r);
    gt_report(r.status == CLS_ERR_PARAM && d->count.srbs == srbs,
              "the class layer refuses a read past the end without sending "
              "it: %s",
              cls_result_str(&r, msg, sizeof(msg)));
    cls_read(d, 0, 0, buf, &r);
    gt_report(r.status == CLS_ERR_PARAM && d->count.srbs == srbs,
              "the class layer refuses a read of 0 blocks");

    /* Evaluated before the report reads the result. */
    ok = cls_read(d, d->blocks - 8, 8, buf, &r);
    gt_report(ok, "the unit still reads its last 8 blocks after the errors: %s",
              cls_result_str(&r, msg, sizeof(msg)));
    gt_report(d->count.exhausted == 0, "no retry budget was used up");
    ram_free(buf);
    cls_close(d);
    return gt_report_summary();
}

const GuestProgram guest_program_t_errors = {
    .name = "t-errors",
    .help = "test: bad LBAs and opcodes give the right CHECK CONDITION",
    .schema = &gt_schema_lun,
    .main = t_errors_main,
    .needs_port = true,
};
