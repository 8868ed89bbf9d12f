/* SPDX-License-Identifier: MIT */
/*
 * Guest program helpers: NULL-safe key getters, usage errors worded like
 * the command line's, the machine seed, and the report()/summary counters
 * the t-* programs print with (see gt.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include "guest-tests/lib/gt.h"
#include "system/machine.h"
#include "system/options.h"

const char *gt_opt_str(const Opts *o, const char *key, const char *def)
{
    return o ? opts_get_str(o, key, def) : def;
}

uint64_t gt_opt_uint(const Opts *o, const char *key, uint64_t def)
{
    return o ? opts_get_uint(o, key, def) : def;
}

bool gt_opt_bool(const Opts *o, const char *key, bool def)
{
    return o ? opts_get_bool(o, key, def) : def;
}

bool gt_opt_has(const Opts *o, const char *key)
{
    return o && opts_has(o, key);
}

int gt_usage(const char *prog, const char *key, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (key) {
        g_printerr("storemu: -guest %s: %s: %s\n", prog, key, msg);
    } else {
        g_printerr("storemu: -guest %s: %s\n", prog, msg);
    }
    return GT_EXIT_USAGE;
}

ClsDisk *gt_open_lun(const char *prog, const Opts *args, bool retry_default,
                     int *rc)
{
    unsigned n = cls_lun_count();
    unsigned lun = (unsigned)gt_opt_uint(args, "lun", 0);
    ClsDisk *d;
    char why[200];

    if (!n) {
        printf("%s: FAILED: no logical unit found\n", prog);
        *rc = GT_EXIT_FAILED;
        return NULL;
    }
    if (lun >= n) {
        *rc = gt_usage(prog, "lun",
                       "no LUN %u (%u found; see boot's "
                       "inventory)",
                       lun, n);
        return NULL;
    }
    d = cls_open(lun);
    /* Not every program has the key: the test programs always retry. */
    if (args && opts_schema_find(opts_schema(args), "retry")) {
        retry_default = gt_opt_bool(args, "retry", retry_default);
    }
    cls_set_retry(d, retry_default);
    if (!d->blocks) {
        printf("%s: FAILED: LUN %u: capacity unknown: %s\n", prog, lun,
               cls_result_str(&d->capacity_error, why, sizeof(why)));
        cls_close(d);
        *rc = GT_EXIT_FAILED;
        return NULL;
    }
    return d;
}

uint64_t gt_machine_seed(void)
{
    return machine_seed();
}

static const OptDesc lun_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"lun", OPT_UINT,
     "logical unit, by its index in the boot inventory "
     "(default 0)",
     .max = 4095},
    {NULL},
};

const OptsSchema gt_schema_lun = {
    .option = "-guest",
    .implied = "name",
    .desc = lun_desc,
};

bool gt_check_lba_range(const char *value, char **why)
{
    uint64_t a, b;

    if (!options_parse_lba_range(value, &a, &b)) {
        *why = g_strdup("is not an LBA range (use A-B with A <= B, or A)");
        return false;
    }
    return true;
}

bool gt_check_block_multiple(const char *value, char **why)
{
    uint64_t v;

    if (!parse_size(value, &v) || v == 0 || v % 512) {
        *why = g_strdup("is not a non-zero multiple of 512 bytes");
        return false;
    }
    return true;
}

bool gt_check_nonzero(const char *value, char **why)
{
    uint64_t v;

    /* Runs after the type check: one of the two parsers accepts it. */
    if ((parse_uint(value, &v) || parse_time_ns(value, &v)) && v == 0) {
        *why = g_strdup("is zero; give at least 1");
        return false;
    }
    return true;
}

char *gt_size_str(uint64_t bytes)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB",
                                       "GiB",   "TiB", "PiB"};
    unsigned u = 0;
    uint64_t whole = bytes;

    while (whole >= 1024 && u + 1 < G_N_ELEMENTS(unit)) {
        whole /= 1024;
        u++;
    }
    if (u == 0) {
        return g_strdup_printf("%" G_GUINT64_FORMAT " bytes", bytes);
    }
    if (bytes % (1ULL << (10 * u)) == 0) {
        return g_strdup_printf("%" G_GUINT64_FORMAT " %s", whole, unit[u]);
    }
    return g_strdup_printf("%.1f %s",
                           (double)bytes / (double)(1ULL << (10 * u)), unit[u]);
}

/* ---- report()/summary ---- */

static struct {
    char name[32];
    unsigned tests, failures, skipped;
} rep;

void gt_report_begin(const char *name)
{
    g_strlcpy(rep.name, name, sizeof(rep.name));
    rep.tests = rep.failures = rep.skipped = 0;
}

static void report_line(const char *tag, const char *fmt, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);

    printf("%s: %s: %s\n", tag, rep.name, msg);
}

bool gt_report(bool pass, const char *fmt, ...)
{
    va_list ap;

    rep.tests++;
    if (!pass) {
        rep.failures++;
    }
    va_start(ap, fmt);
    report_line(pass ? "PASS" : "FAIL", fmt, ap);
    va_end(ap);
    return pass;
}

void gt_report_skip(const char *fmt, ...)
{
    va_list ap;

    rep.tests++;
    rep.skipped++;
    va_start(ap, fmt);
    report_line("SKIP", fmt, ap);
    va_end(ap);
}

void gt_report_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_line("INFO", fmt, ap);
    va_end(ap);
}

int gt_report_summary(void)
{
    printf("SUMMARY: %s: %u tests, %u unexpected failures, %u skipped\n",
           rep.name, rep.tests, rep.failures, rep.skipped);
    fflush(stdout);
    return rep.failures ? GT_EXIT_FAILED : GT_EXIT_OK;
}

unsigned gt_report_failures(void)
{
    return rep.failures;
}
