/* SPDX-License-Identifier: MIT */
/*
 * t-scan: what bus enumeration found, checked against the units
 * themselves: every address unique, standard INQUIRY data sane and equal
 * to a fresh INQUIRY (SPC-5 6.7.2), TEST UNIT READY good, READ CAPACITY
 * (16) and (10) agreeing (SBC-4 5.19, 5.20), and REPORT LUNS (SPC-5 6.33)
 * listing exactly the units the port found on each target.
 */
#include <stdio.h>
#include <string.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "hw/core/ram.h"

#define SCAN_BUF 4096

static const OptDesc t_scan_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {NULL},
};

static const OptsSchema t_scan_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = t_scan_desc,
};

static bool printable(const uint8_t *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void scan_unit(ClsDisk *d, uint8_t *buf)
{
    const uint8_t *cached = port_lun_inquiry(d->lu);
    uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
    uint8_t tur[6] = {0};
    uint8_t rc10[10] = {0x25};
    ClsResult r;
    char msg[200];
    bool ok;

    ok = cls_raw(d, inq, 6, buf, 96, PORT_XFER_IN, 0, &r);
    gt_report(ok && r.transferred >= 36,
              "LUN %u: INQUIRY returns %u bytes "
              "(36 at least)",
              d->index, r.transferred);
    if (ok && r.transferred >= 36) {
        gt_report((buf[0] >> 5) == 0,
                  "LUN %u: peripheral qualifier 0 "
                  "(connected), got %u",
                  d->index, buf[0] >> 5);
        gt_report(printable(buf + 8, 28),
                  "LUN %u: vendor, product and "
                  "revision are printable ASCII",
                  d->index);
        gt_report(!memcmp(buf, cached, 36),
                  "LUN %u: fresh INQUIRY equals "
                  "the data enumeration kept",
                  d->index);
        gt_report(buf[4] + 5 >= 36,
                  "LUN %u: ADDITIONAL LENGTH %u covers "
                  "the standard data",
                  d->index, buf[4]);
    }
    ok = cls_raw(d, tur, 6, NULL, 0, PORT_XFER_NONE, 0, &r);
    gt_report(ok, "LUN %u: TEST UNIT READY: %s", d->index,
              cls_result_str(&r, msg, sizeof(msg)));
    if (d->peripheral_type != 0) {
        gt_report_skip("LUN %u: not a direct-access unit (type 0x%02x): no "
                       "capacity checks",
                       d->index, d->peripheral_type);
        return;
    }
    gt_report(d->blocks > 0 && d->block_size >= 512,
              "LUN %u: capacity %" G_GUINT64_FORMAT " blocks of %u bytes",
              d->index, d->blocks, d->block_size);
    ok = cls_raw(d, rc10, 10, buf, 8, PORT_XFER_IN, 0, &r);
    gt_report(ok && r.transferred == 8, "LUN %u: READ CAPACITY(10): %s",
              d->index, cls_result_str(&r, msg, sizeof(msg)));
    if (ok && r.transferred == 8) {
        uint64_t last = be32(buf);
        uint64_t want =
            d->blocks - 1 > 0xffffffffULL ? 0xffffffffULL : d->blocks - 1;
        gt_report(last == want && be32(buf + 4) == d->block_size,
                  "LUN %u: READ CAPACITY(10) says last LBA %" G_GUINT64_FORMAT
                  " x %u, the class layer %" G_GUINT64_FORMAT " x %u",
                  d->index, last, be32(buf + 4), want, d->block_size);
    }
    if (!d->capacity16) {
        gt_report_skip("LUN %u: READ CAPACITY(16) not supported", d->index);
    }
}

/* REPORT LUNS on each target must list what the port enumerated. */
static void scan_report_luns(ClsDisk **disks, unsigned n, uint8_t *buf)
{
    for (unsigned i = 0; i < n; i++) {
        ClsDisk *d = disks[i];
        uint8_t cdb[12] = {0xa0};
        g_autoptr(GArray) want = g_array_new(FALSE, FALSE, sizeof(unsigned));
        g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(unsigned));
        bool first_on_target = true, same = true;
        ClsResult r;
        uint32_t len;

        for (unsigned k = 0; k < i; k++) {
            if (disks[k]->adapter == d->adapter && disks[k]->path == d->path &&
                disks[k]->target == d->target) {
                first_on_target = false;
            }
        }
        if (!first_on_target) {
            continue;
        }
        for (unsigned k = 0; k < n; k++) {
            if (disks[k]->adapter == d->adapter && disks[k]->path == d->path &&
                disks[k]->target == d->target) {
                g_array_append_val(want, disks[k]->lun);
            }
        }
        cdb[6] = (SCAN_BUF >> 24) & 0xff;
        cdb[7] = (SCAN_BUF >> 16) & 0xff;
        cdb[8] = (SCAN_BUF >> 8) & 0xff;
        cdb[9] = SCAN_BUF & 0xff;
        if (!cls_raw(d, cdb, 12, buf, SCAN_BUF, PORT_XFER_IN, 0, &r)) {
            if (r.status == CLS_ERR_CHECK && r.sense_key == 0x5) {
                gt_report_skip("target %u:%u: REPORT LUNS not supported",
                               d->path, d->target);
            } else {
                char msg[200];
                gt_report(false, "target %u:%u: REPORT LUNS: %s", d->path,
                          d->target, cls_result_str(&r, msg, sizeof(msg)));
            }
            continue;
        }
        len = MIN(be32(buf), (uint32_t)(SCAN_BUF - 8));
        for (uint32_t off = 8; off + 8 <= len + 8 && off + 8 <= r.transferred;
             off += 8) {
            unsigned l = ((buf[off] & 0x3f) << 8) | buf[off + 1];
            g_array_append_val(got, l);
        }
        same = got->len == want->len;
        for (unsigned a = 0; same && a < want->len; a++) {
            bool found = false;
            for (unsigned b = 0; b < got->len; b++) {
                found |= g_array_index(got, unsigned, b) ==
                         g_array_index(want, unsigned, a);
            }
            same = found;
        }
        gt_report(same,
                  "target %u:%u: REPORT LUNS lists %u unit(s), the "
                  "port enumerated %u, the same numbers",
                  d->path, d->target, got->len, want->len);
    }
}

static int t_scan_main(const Opts *args)
{
    unsigned n = cls_lun_count();
    g_autofree ClsDisk **disks = g_new0(ClsDisk *, MAX(n, 1u));
    uint8_t *buf = ram_alloc(SCAN_BUF, GUEST_PAGE_SIZE, 0, "t-scan");
    bool unique = true;

    gt_report_begin("t-scan");
    gt_report(n > 0, "enumeration found %u logical unit(s)", n);
    for (unsigned i = 0; i < n; i++) {
        disks[i] = cls_open(i);
        printf("INFO: t-scan: LUN %u: adapter %u, %u:%u:%u, %s %s %s\n", i,
               disks[i]->adapter, disks[i]->path, disks[i]->target,
               disks[i]->lun, disks[i]->vendor, disks[i]->product,
               disks[i]->revision);
        for (unsigned k = 0; k < i; k++) {
            if (disks[k]->adapter == disks[i]->adapter &&
                disks[k]->path == disks[i]->path &&
                disks[k]->target == disks[i]->target &&
                disks[k]->lun == disks[i]->lun) {
                unique = false;
            }
        }
    }
    if (n) {
        gt_report(unique, "every unit has its own adapter:bus:target:lun");
    }
    for (unsigned i = 0; i < n; i++) {
        scan_unit(disks[i], buf);
    }
    scan_report_luns(disks, n, buf);
    for (unsigned i = 0; i < n; i++) {
        cls_close(disks[i]);
    }
    ram_free(buf);
    return gt_report_summary();
}

const GuestProgram guest_program_t_scan = {
    .name = "t-scan",
    .help = "test: enumeration against INQUIRY, READ CAPACITY, REPORT LUNS",
    .schema = &t_scan_schema,
    .main = t_scan_main,
    .needs_port = true,
};
