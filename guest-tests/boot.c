/* SPDX-License-Identifier: MIT */
/*
 * boot: the default guest program. With the port up, it opens every
 * logical unit the way a class driver does (INQUIRY, READ CAPACITY),
 * prints the inventory, and reads the first and the last blocks of each
 * disk. Exit 1 when there is no logical unit or a read fails.
 */
#include <stdio.h>
#include <storport.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "hw/core/ram.h"

#define BOOT_READS_DEFAULT 8

static const OptDesc boot_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"reads", OPT_UINT,
     "blocks read at the start and at the end of each disk (default 8; "
     "0: no reads)",
     .max = 4096},
    {"retry", OPT_BOOL,
     "retry unit attention, not ready, busy and resets like a class "
     "driver (default on)"},
    {NULL},
};

static const OptsSchema boot_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = boot_desc,
};

static const char *device_type_name(uint8_t t)
{
    switch (t) {
    case 0x00:
        return "disk";
    case 0x01:
        return "tape";
    case 0x05:
        return "cdrom";
    case 0x07:
        return "optical";
    case 0x0c:
        return "raid";
    case 0x0d:
        return "encl";
    case 0x0e:
        return "rbc";
    default:
        return "other";
    }
}

static void print_inventory_line(const ClsDisk *d)
{
    char where[24], cap[128];

    g_snprintf(where, sizeof(where), "%u:%u:%u", d->path, d->target, d->lun);
    if (d->blocks) {
        g_autofree char *human = gt_size_str(d->blocks * d->block_size);
        g_snprintf(cap, sizeof(cap),
                   "%" G_GUINT64_FORMAT " x %u = %s "
                   "(%" G_GUINT64_FORMAT " bytes)",
                   d->blocks, d->block_size, human, d->blocks * d->block_size);
    } else {
        char why[160];
        g_snprintf(cap, sizeof(cap), "unknown: %s",
                   cls_result_str(&d->capacity_error, why, sizeof(why)));
    }
    printf("  %-3u %-7u %-8s %-6s %-8s %-16s %-4s  %s\n", d->index, d->adapter,
           where, device_type_name(d->peripheral_type), d->vendor, d->product,
           d->revision, cap);
}

/* Read @n blocks at @lba; false (and a message) on failure. */
static bool boot_read(ClsDisk *d, uint64_t lba, uint32_t n, void *buf)
{
    ClsResult r;
    char msg[200];

    if (cls_read(d, lba, n, buf, &r)) {
        printf("boot: LUN %u: read LBA %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
               ": ok\n",
               d->index, lba, lba + n - 1);
        return true;
    }
    printf("boot: LUN %u: read LBA %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
           ": FAILED: %s\n",
           d->index, lba, lba + n - 1, cls_result_str(&r, msg, sizeof(msg)));
    return false;
}

static int boot_main(const Opts *args)
{
    unsigned n = cls_lun_count();
    uint64_t reads = gt_opt_uint(args, "reads", BOOT_READS_DEFAULT);
    bool retry = gt_opt_bool(args, "retry", true);
    unsigned failures = 0, done = 0;
    g_autoptr(GPtrArray) disks =
        g_ptr_array_new_with_free_func((GDestroyNotify)cls_close);

    if (!port_is_loaded()) {
        /* Run by default with no miniport: nothing to enumerate. With an
         * explicit -guest boot it is a usage error, as for any program
         * that drives a miniport. */
        if (!args) {
            printf("boot: no miniport given (-miniport NAME): nothing to "
                   "enumerate\n");
            return GT_EXIT_OK;
        }
        return gt_usage("boot", NULL,
                        "drives a miniport: give one with -miniport NAME");
    }
    if (!n) {
        printf("boot: FAILED: no logical unit found\n");
        return GT_EXIT_FAILED;
    }
    printf("boot: %u logical unit%s\n", n, n == 1 ? "" : "s");
    printf("  %-3s %-7s %-8s %-6s %-8s %-16s %-4s  %s\n", "LUN", "adapter",
           "b:t:l", "type", "vendor", "product", "rev",
           "capacity (blocks x block size)");
    for (unsigned i = 0; i < n; i++) {
        ClsDisk *d = cls_open(i);
        cls_set_retry(d, retry);
        g_ptr_array_add(disks, d);
        print_inventory_line(d);
        if (!d->blocks) {
            failures++;
        }
    }
    for (unsigned i = 0; i < n && reads; i++) {
        ClsDisk *d = g_ptr_array_index(disks, i);
        uint32_t count = (uint32_t)MIN(reads, d->blocks);
        void *buf;

        if (!d->blocks) {
            continue;
        }
        buf = ram_alloc((uint64_t)count * d->block_size, GUEST_PAGE_SIZE, 0,
                        "boot-read");
        if (!buf) {
            printf("boot: LUN %u: no guest RAM for a %u-block read\n", i,
                   count);
            failures++;
            continue;
        }
        failures += !boot_read(d, 0, count, buf);
        done++;
        if (d->blocks > count) {
            failures += !boot_read(d, d->blocks - count, count, buf);
            done++;
        }
        ram_free(buf);
    }
    for (unsigned i = 0; i < n; i++) {
        ClsDisk *d = g_ptr_array_index(disks, i);
        char rs[200];
        if (cls_retries_total(&d->count)) {
            printf("boot: LUN %u: retries: %s\n", i,
                   cls_retry_summary(&d->count, rs, sizeof(rs)));
        }
    }
    if (failures) {
        printf("boot: FAILED: %u problem%s\n", failures,
               failures == 1 ? "" : "s");
        return GT_EXIT_FAILED;
    }
    printf("boot: ok: %u logical unit%s, %u read%s\n", n, n == 1 ? "" : "s",
           done, done == 1 ? "" : "s");
    return GT_EXIT_OK;
}

const GuestProgram guest_program_boot = {
    .name = "boot",
    .help = "enumerate, print the LUN inventory, read first/last blocks "
            "(the default)",
    .schema = &boot_schema,
    .main = boot_main,
    .needs_port = false,
};
