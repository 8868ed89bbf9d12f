/* SPDX-License-Identifier: MIT */
/*
 * scsi: send one CDB to one logical unit and show what came back, in the
 * manner of sg_raw: SRB and SCSI status, the sense data decoded (key,
 * ASC/ASCQ by name for the common ones) and the data as a hex dump. The
 * CDB goes out exactly as given, without splitting and, unless retry=on,
 * without retries. Exit 1 when the command did not complete with GOOD.
 */
#include <stdio.h>
#include <string.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "hw/core/ram.h"

#define SCSI_DUMP_MAX (64 * 1024)
#define SCSI_IN_MAX   (16 * 1024 * 1024)

static bool parse_cdb(const char *s, uint8_t *cdb, unsigned *len)
{
    unsigned n = 0, digits = 0;
    uint8_t cur = 0;

    for (; *s; s++) {
        int v = g_ascii_xdigit_value(*s);
        if (v < 0) {
            /* Separators between bytes only. */
            if (!strchr(" :.-_", *s) || digits) {
                return false;
            }
            continue;
        }
        cur = (uint8_t)(cur << 4 | v);
        if (++digits == 2) {
            if (n == 16) {
                return false;
            }
            cdb[n++] = cur;
            cur = 0;
            digits = 0;
        }
    }
    *len = n;
    return !digits && n > 0;
}

static bool check_cdb(const char *value, char **why)
{
    uint8_t cdb[16];
    unsigned len;

    if (!parse_cdb(value, cdb, &len)) {
        *why = g_strdup("is not a CDB: 1 to 16 bytes as pairs of hex "
                        "digits, optionally separated by ':', '.', '-', '_' "
                        "or blanks");
        return false;
    }
    return true;
}

static const OptDesc scsi_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"cdb", OPT_STRING,
     "the command as hex bytes, e.g. 120000002400 "
     "or 12:00:00:00:24:00",
     .required = true, .check = check_cdb},
    {"in", OPT_SIZE, "bytes to read from the device (data-in)", .min = 1,
     .max = SCSI_IN_MAX},
    {"out", OPT_STRING, "host file whose bytes are sent (data-out)"},
    {"lun", OPT_UINT,
     "logical unit, by its index in the boot inventory "
     "(default 0)",
     .max = 4095},
    {"timeout", OPT_UINT,
     "seconds before the port times the command out "
     "(default 10)",
     .min = 1, .max = 3600},
    {"retry", OPT_BOOL,
     "class-driver retries (default off: the raw "
     "result)"},
    {NULL},
};

static const OptsSchema scsi_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = scsi_desc,
};

static void hex_dump(const uint8_t *p, uint32_t len)
{
    uint32_t shown = MIN(len, (uint32_t)SCSI_DUMP_MAX);

    for (uint32_t off = 0; off < shown; off += 16) {
        char ascii[17];
        printf(" %04x ", off);
        for (uint32_t i = 0; i < 16; i++) {
            if (i == 8) {
                printf(" ");
            }
            if (off + i < shown) {
                uint8_t c = p[off + i];
                printf(" %02x", c);
                ascii[i] = g_ascii_isprint(c) ? (char)c : '.';
            } else {
                printf("   ");
                ascii[i] = ' ';
            }
        }
        ascii[16] = '\0';
        printf("   %s\n", ascii);
    }
    if (shown < len) {
        printf(" ... %u more bytes not shown\n", len - shown);
    }
}

static void print_sense(const ClsResult *r)
{
    const char *asc;

    printf("sense (%u bytes):\n", r->sense_len);
    hex_dump(r->sense, r->sense_len);
    if (!r->sense_valid) {
        printf("sense: not fixed or descriptor format (response code "
               "0x%02x)\n",
               r->sense_len ? r->sense[0] & 0x7f : 0);
        return;
    }
    asc = cls_asc_name(r->asc, r->ascq);
    printf("sense: key 0x%x %s, ASC/ASCQ 0x%02x/0x%02x%s%s\n", r->sense_key,
           cls_sense_key_name(r->sense_key), r->asc, r->ascq, asc ? " " : "",
           asc ? asc : "");
}

static int scsi_send(ClsDisk *d, const uint8_t *cdb, unsigned cdb_len,
                     uint8_t *buf, uint32_t len, PortXfer dir, unsigned timeout)
{
    ClsResult r;
    bool ok;

    printf("scsi: LUN %u (%u:%u:%u) cdb:", d->index, d->path, d->target,
           d->lun);
    for (unsigned i = 0; i < cdb_len; i++) {
        printf(" %02x", cdb[i]);
    }
    printf(", %s %u bytes\n",
           dir == PORT_XFER_IN    ? "data-in"
           : dir == PORT_XFER_OUT ? "data-out"
                                  : "no data",
           len);
    ok = cls_raw(d, cdb, cdb_len, buf, len, dir, timeout, &r);
    if (r.status == CLS_ERR_PARAM) {
        printf("scsi: FAILED: the command could not be sent\n");
        return GT_EXIT_FAILED;
    }
    printf("status: %s (0x%02x), SRB status %s (0x%02x), %u bytes "
           "transferred",
           cls_scsi_status_name(r.scsi_status), r.scsi_status,
           cls_srb_status_name(r.srb_status), r.srb_status, r.transferred);
    if (r.retries) {
        printf(", %u retr%s", r.retries, r.retries == 1 ? "y" : "ies");
    }
    printf("\n");
    if (r.sense_len) {
        print_sense(&r);
    }
    if (dir == PORT_XFER_IN && r.transferred) {
        printf("data (%u bytes):\n", MIN(r.transferred, len));
        hex_dump(buf, MIN(r.transferred, len));
    }
    return ok ? GT_EXIT_OK : GT_EXIT_FAILED;
}

static int scsi_main(const Opts *args)
{
    unsigned n = cls_lun_count();
    unsigned lun = (unsigned)gt_opt_uint(args, "lun", 0);
    unsigned timeout = (unsigned)gt_opt_uint(args, "timeout", 0);
    const char *out = gt_opt_str(args, "out", NULL);
    uint8_t cdb[16];
    unsigned cdb_len = 0;
    g_autofree char *file = NULL;
    gsize file_len = 0;
    uint32_t len = 0;
    PortXfer dir = PORT_XFER_NONE;
    uint8_t *buf = NULL;
    ClsDisk *d;
    int rc;

    if (!parse_cdb(gt_opt_str(args, "cdb", ""), cdb, &cdb_len)) {
        return gt_usage("scsi", "cdb", "a CDB is required (cdb=HEX)");
    }
    if (gt_opt_has(args, "in") && out) {
        return gt_usage("scsi", "out", "give in= or out=, not both");
    }
    if (out) {
        g_autoptr(GError) err = NULL;
        if (!g_file_get_contents(out, &file, &file_len, &err)) {
            return gt_usage("scsi", "out", "cannot read '%s': %s", out,
                            err->message);
        }
        if (!file_len || file_len > SCSI_IN_MAX) {
            return gt_usage("scsi", "out",
                            "'%s' has %" G_GSIZE_FORMAT
                            " bytes; 1 to 16M can be sent",
                            out, file_len);
        }
        len = (uint32_t)file_len;
        dir = PORT_XFER_OUT;
    } else if (gt_opt_has(args, "in")) {
        len = (uint32_t)gt_opt_uint(args, "in", 0);
        dir = PORT_XFER_IN;
    }
    if (!n) {
        printf("scsi: FAILED: no logical unit found\n");
        return GT_EXIT_FAILED;
    }
    if (lun >= n) {
        return gt_usage("scsi", "lun",
                        "no LUN %u (%u found; see boot's "
                        "inventory)",
                        lun, n);
    }
    if (len) {
        buf = ram_alloc(len, GUEST_PAGE_SIZE, 0, "scsi-data");
        if (!buf) {
            return gt_usage("scsi", dir == PORT_XFER_IN ? "in" : "out",
                            "%u bytes do not fit in guest RAM (raise -m)", len);
        }
        if (dir == PORT_XFER_OUT) {
            memcpy(buf, file, len);
        }
    }
    /* Nothing but this CDB goes to the unit. */
    d = cls_attach(lun);
    cls_set_retry(d, gt_opt_bool(args, "retry", false));
    rc = scsi_send(d, cdb, cdb_len, buf, len, dir, timeout);
    cls_close(d);
    if (buf) {
        ram_free(buf);
    }
    return rc;
}

const GuestProgram guest_program_scsi = {
    .name = "scsi",
    .help = "send one CDB; print status, decoded sense and data (like "
            "sg_raw)",
    .schema = &scsi_schema,
    .main = scsi_main,
    .needs_port = true,
};
