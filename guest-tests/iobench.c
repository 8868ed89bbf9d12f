/* SPDX-License-Identifier: MIT */
/*
 * iobench: a fio-like workload on one disk. jobs guest threads, job j on
 * vCPU j, each with iodepth I/Os in flight over its share of the region.
 * Reports per direction the I/O count, IOPS and bandwidth over virtual
 * time and the latency distribution in virtual time (min, avg, p50, p99,
 * p99.9, max), and, on the host side, I/Os per host second and host ns
 * per I/O.
 *
 * Host time is read here and only here (g_get_monotonic_time around the
 * run, in the program, outside any machine decision): it is printed and
 * never influences what the guest does. Everything the I/O path needs is
 * allocated before the clock starts (lib/work.h).
 */
#include <stdio.h>
#include "guest-tests/guest.h"
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/gt.h"
#include "guest-tests/lib/work.h"
#include "system/cpu.h"
#include "system/event.h"

#define IOBENCH_REPORT_MAX 10

static const char *const iobench_formats[] = {"text", "json", NULL};

static const OptDesc iobench_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true},
    {"lun", OPT_UINT,
     "logical unit, by its index in the boot inventory "
     "(default 0)",
     .max = 4095},
    {"rw", OPT_ENUM, "access pattern (default randread)", wl_rw_names},
    {"bs", OPT_SIZE,
     "bytes per I/O, a multiple of the block size "
     "(default 4K)",
     .min = 512, .max = 64 * 1024 * 1024, .check = gt_check_block_multiple},
    {"iodepth", OPT_UINT, "I/Os in flight per job (default 1)", .min = 1,
     .max = 1024},
    {"jobs", OPT_UINT,
     "jobs, one guest thread each on vCPUs 0..jobs-1 "
     "(default 1; at most -smp)",
     .min = 1, .max = VCPU_MAX},
    {"size", OPT_SIZE,
     "region from LBA 0 the jobs share, split evenly "
     "(default: the whole disk)",
     .check = gt_check_block_multiple},
    {"count", OPT_UINT,
     "I/Os per job (default: one pass over its share "
     "unless runtime= is given)",
     .check = gt_check_nonzero},
    {"runtime", OPT_TIME,
     "virtual time to run for (with count=: whichever "
     "ends first)",
     .check = gt_check_nonzero},
    {"rwmixread", OPT_UINT, "rw=randrw: percentage of reads (default 50)",
     .max = 100},
    {"verify", OPT_BOOL,
     "write self-verifying patterns, check every read "
     "and read everything written back at the end "
     "(default off)"},
    {"format", OPT_ENUM, "output: text or one JSON line (default text)",
     iobench_formats},
    {"retry", OPT_BOOL, "class-driver retries (default on)"},
    {NULL},
};

static const OptsSchema iobench_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = iobench_desc,
};

typedef struct Bench {
    ClsDisk *disk;
    WlRw rw;
    unsigned rwmixread, iodepth, jobs;
    uint64_t bs, region_blocks, count, runtime;
    bool verify, json;
    WlJob *job[VCPU_MAX];
    /* results */
    WlHist lat[2];
    uint64_t ios[2], bytes[2];
    uint64_t errors, verified, mismatches, mismatch[PAT_KINDS];
    uint64_t unverified;
    uint64_t t_start, t_end;
    bool stalled;
    int64_t host_us;
} Bench;

static bool rw_reads_only(WlRw rw)
{
    return rw == WL_READ || rw == WL_RANDREAD;
}

static int iobench_setup(Bench *b, const Opts *args)
{
    ClsDisk *d = b->disk;
    uint64_t size;
    g_autofree char *why = NULL;

    b->rw = (WlRw)gt_opt_uint(args, "rw", WL_RANDREAD);
    b->bs = gt_opt_uint(args, "bs", 4096);
    b->iodepth = (unsigned)gt_opt_uint(args, "iodepth", 1);
    b->jobs = (unsigned)gt_opt_uint(args, "jobs", 1);
    b->count = gt_opt_uint(args, "count", 0);
    b->runtime = gt_opt_uint(args, "runtime", 0);
    b->rwmixread = (unsigned)gt_opt_uint(args, "rwmixread", 50);
    b->verify = gt_opt_bool(args, "verify", false);
    b->json = gt_opt_uint(args, "format", 0) == 1;
    if (b->jobs > cpus_count()) {
        return gt_usage("iobench", "jobs",
                        "%u jobs need %u vCPUs; the "
                        "machine has %u (-smp)",
                        b->jobs, b->jobs, cpus_count());
    }
    if (b->bs % d->block_size) {
        return gt_usage("iobench", "bs",
                        "'%s' is not a multiple of LUN %u's "
                        "%u-byte blocks",
                        gt_opt_str(args, "bs", ""), d->index, d->block_size);
    }
    size = gt_opt_uint(args, "size", d->blocks * d->block_size);
    if (size % d->block_size || size / d->block_size > d->blocks) {
        return gt_usage("iobench", "size",
                        "'%s' is not a multiple of "
                        "%u-byte blocks within LUN %u (%" G_GUINT64_FORMAT
                        " bytes)",
                        gt_opt_str(args, "size", ""), d->block_size, d->index,
                        d->blocks * d->block_size);
    }
    b->region_blocks = size / d->block_size;
    if (b->region_blocks / b->jobs < b->bs / d->block_size) {
        return gt_usage("iobench", "size",
                        "a region of %" G_GUINT64_FORMAT
                        " bytes holds less than one %" G_GUINT64_FORMAT
                        "-byte I/O per job (jobs=%u)",
                        size, b->bs, b->jobs);
    }
    for (unsigned j = 0; j < b->jobs; j++) {
        WlConfig cfg = {0};
        uint64_t share = b->region_blocks / b->jobs;
        char name[16];

        g_snprintf(name, sizeof(name), "job %u", j);
        cfg.name = name;
        cfg.first_lba = share * j;
        cfg.blocks = j + 1 == b->jobs ? b->region_blocks - share * j : share;
        cfg.bs_blocks = (uint32_t)(b->bs / d->block_size);
        cfg.iodepth = b->iodepth;
        cfg.rw = b->rw;
        cfg.rwmixread = b->rwmixread;
        cfg.count = b->count;
        cfg.runtime_ns = b->runtime;
        cfg.verify = b->verify;
        cfg.seed = gt_machine_seed();
        cfg.stream = j;
        cfg.report_max = IOBENCH_REPORT_MAX;
        if (!wl_config_check(&cfg, d, &why)) {
            return gt_usage("iobench", NULL, "%s", why);
        }
        b->job[j] = wl_job_new(d, &cfg);
        if (!b->job[j]) {
            return gt_usage("iobench", "iodepth",
                            "%u jobs x %u I/Os of %" G_GUINT64_FORMAT
                            " bytes do not fit in guest "
                            "RAM (raise -m)",
                            b->jobs, b->iodepth, b->bs);
        }
    }
    return GT_EXIT_OK;
}

static void iobench_collect(Bench *b)
{
    for (unsigned j = 0; j < b->jobs; j++) {
        const WlStats *s = wl_job_stats(b->job[j]);
        for (unsigned dir = 0; dir < 2; dir++) {
            wl_hist_merge(&b->lat[dir], &s->lat[dir]);
            b->ios[dir] += s->ios[dir];
            b->bytes[dir] += s->bytes[dir];
        }
        b->errors += s->errors;
        b->verified += s->verified_blocks;
        b->unverified += s->unverified_reads;
        b->mismatches += s->mismatches;
        for (unsigned k = 0; k < PAT_KINDS; k++) {
            b->mismatch[k] += s->mismatch[k];
        }
        b->t_start = j ? MIN(b->t_start, s->t_start) : s->t_start;
        b->t_end = MAX(b->t_end, s->t_end);
        b->stalled |= s->clock_stalled;
    }
}

/* Per-second rates over virtual time; 0 when no virtual time passed. */
static double per_sec(uint64_t n, uint64_t ns)
{
    return ns ? (double)n * 1e9 / (double)ns : 0.0;
}

static void text_lat(const WlHist *h)
{
    const char *unit = "ns";
    double div = 1.0;

    if (h->max >= 10 * NS_PER_MS) {
        unit = "ms";
        div = 1e6;
    } else if (h->max >= 10 * NS_PER_US) {
        unit = "us";
        div = 1e3;
    }
    printf("         lat (%s): min=%.3f, avg=%.3f, p50=%.3f, p99=%.3f, "
           "p99.9=%.3f, max=%.3f\n",
           unit, (double)h->min / div, (double)h->sum / (double)h->n / div,
           (double)wl_hist_pct(h, 50) / div, (double)wl_hist_pct(h, 99) / div,
           (double)wl_hist_pct(h, 99.9) / div, (double)h->max / div);
}

static void print_text(const Bench *b)
{
    static const char *const dname[2] = {"read ", "write"};
    uint64_t vt = b->t_end - b->t_start;
    uint64_t total = b->ios[0] + b->ios[1];
    double host_s = (double)b->host_us / 1e6;
    g_autofree char *bs = gt_size_str(b->bs);
    g_autofree char *region =
        gt_size_str(b->region_blocks * b->disk->block_size);
    char rs[200];

    printf("iobench: LUN %u (%s %s, %u:%u:%u), rw=%s", b->disk->index,
           b->disk->vendor, b->disk->product, b->disk->path, b->disk->target,
           b->disk->lun, wl_rw_names[b->rw]);
    if (b->rw == WL_RANDRW) {
        printf(" rwmixread=%u", b->rwmixread);
    }
    printf(", bs=%s, iodepth=%u, jobs=%u, region %s\n", bs, b->iodepth, b->jobs,
           region);
    for (unsigned dir = 0; dir < 2; dir++) {
        g_autofree char *amount = NULL;
        double bw = per_sec(b->bytes[dir], vt);

        if (!b->ios[dir]) {
            continue;
        }
        amount = gt_size_str(b->bytes[dir]);
        printf("  %s: ios=%" G_GUINT64_FORMAT " (%s), IOPS=%.1f, "
               "BW=%.1f MiB/s (%.1f MB/s)\n",
               dname[dir], b->ios[dir], amount, per_sec(b->ios[dir], vt),
               bw / (1024.0 * 1024.0), bw / 1e6);
        text_lat(&b->lat[dir]);
    }
    printf("  virtual: %" G_GUINT64_FORMAT " I/Os in %.6f s%s\n", total,
           (double)vt / 1e9,
           vt ? ""
              : " (the clock did not move: IOPS "
                "and bandwidth are 0)");
    printf("  host: %" G_GUINT64_FORMAT " I/Os in %.6f s: %.0f I/Os per host "
           "second, %.0f host ns per I/O\n",
           total, host_s, host_s > 0 ? (double)total / host_s : 0.0,
           total ? (double)b->host_us * 1e3 / (double)total : 0.0);
    printf("  errors: %" G_GUINT64_FORMAT ", retries: %s\n", b->errors,
           cls_retry_summary(&b->disk->count, rs, sizeof(rs)));
    if (b->verify) {
        printf("  verify: %" G_GUINT64_FORMAT
               " blocks checked, %" G_GUINT64_FORMAT " bad",
               b->verified, b->mismatches);
        for (unsigned k = PAT_OK + 1; k < PAT_KINDS; k++) {
            if (b->mismatch[k]) {
                printf(", %s %" G_GUINT64_FORMAT, pat_kind_name(k),
                       b->mismatch[k]);
            }
        }
        printf("\n");
    }
    if (b->stalled) {
        printf("  warning: runtime= needs a device whose I/O takes virtual "
               "time; the virtual clock did not move, so every job stopped "
               "early\n");
    }
}

static void json_dir(GString *s, const char *name, const Bench *b, unsigned dir,
                     uint64_t vt)
{
    const WlHist *h = &b->lat[dir];

    g_string_append_printf(
        s,
        "\"%s\":{\"ios\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT
        ",\"iops\":%.3f,\"bw_bytes\":%.3f,\"lat_ns\":{\"min\":"
        "%" G_GUINT64_FORMAT ",\"avg\":%.3f,\"p50\":%" G_GUINT64_FORMAT
        ",\"p99\":%" G_GUINT64_FORMAT ",\"p99.9\":%" G_GUINT64_FORMAT
        ",\"max\":%" G_GUINT64_FORMAT "}},",
        name, b->ios[dir], b->bytes[dir], per_sec(b->ios[dir], vt),
        per_sec(b->bytes[dir], vt), h->min,
        h->n ? (double)h->sum / (double)h->n : 0.0, wl_hist_pct(h, 50),
        wl_hist_pct(h, 99), wl_hist_pct(h, 99.9), h->max);
}

static void print_json(const Bench *b)
{
    g_autoptr(GString) s = g_string_new("{");
    uint64_t vt = b->t_end - b->t_start;
    uint64_t total = b->ios[0] + b->ios[1];
    double host_s = (double)b->host_us / 1e6;
    const ClsCounters *c = &b->disk->count;

    g_string_append_printf(
        s,
        "\"program\":\"iobench\",\"lun\":%u,\"rw\":\"%s\",\"rwmixread\":%u,"
        "\"bs\":%" G_GUINT64_FORMAT ",\"iodepth\":%u,\"jobs\":%u,"
        "\"region_bytes\":%" G_GUINT64_FORMAT
        ",\"virtual_ns\":%" G_GUINT64_FORMAT ",",
        b->disk->index, wl_rw_names[b->rw], b->rwmixread, b->bs, b->iodepth,
        b->jobs, b->region_blocks * b->disk->block_size, vt);
    json_dir(s, "read", b, WL_DIR_READ, vt);
    json_dir(s, "write", b, WL_DIR_WRITE, vt);
    g_string_append_printf(
        s,
        "\"host\":{\"ios\":%" G_GUINT64_FORMAT ",\"seconds\":%.6f,"
        "\"ios_per_sec\":%.1f,\"ns_per_io\":%.1f},\"errors\":%" G_GUINT64_FORMAT
        ",\"retries\":{",
        total, host_s, host_s > 0 ? (double)total / host_s : 0.0,
        total ? (double)b->host_us * 1e3 / (double)total : 0.0, b->errors);
    for (unsigned i = 0; i < CLS_RETRY_CAUSES; i++) {
        g_string_append_printf(s, "%s\"%s\":%" G_GUINT64_FORMAT, i ? "," : "",
                               cls_retry_cause_name(i), c->retries[i]);
    }
    g_string_append_printf(
        s,
        "},\"verify\":{\"enabled\":%s,\"blocks\":%" G_GUINT64_FORMAT
        ",\"bad\":%" G_GUINT64_FORMAT "},\"clock_stalled\":%s}",
        b->verify ? "true" : "false", b->verified, b->mismatches,
        b->stalled ? "true" : "false");
    printf("%s\n", s->str);
}

static int iobench_main(const Opts *args)
{
    ClsDisk *d;
    Bench *b;
    int rc;
    int64_t t0, t1;

    d = gt_open_lun("iobench", args, true, &rc);
    if (!d) {
        return rc;
    }
    b = g_new0(Bench, 1);
    b->disk = d;
    rc = iobench_setup(b, args);
    if (rc != GT_EXIT_OK) {
        goto out;
    }
    if (b->verify && rw_reads_only(b->rw)) {
        /* Give the reads something to check; not measured. */
        for (unsigned j = 0; j < b->jobs; j++) {
            wl_job_prefill(b->job[j]);
        }
    }
    t0 = g_get_monotonic_time();
    for (unsigned j = 0; j < b->jobs; j++) {
        wl_job_start(b->job[j], j, false);
    }
    for (unsigned j = 0; j < b->jobs; j++) {
        wl_job_join(b->job[j]);
    }
    t1 = g_get_monotonic_time();
    b->host_us = t1 - t0;
    if (b->verify) {
        for (unsigned j = 0; j < b->jobs; j++) {
            wl_job_verify(b->job[j]);
        }
    }
    iobench_collect(b);
    if (b->json) {
        print_json(b);
    } else {
        print_text(b);
    }
    rc = b->errors || b->mismatches ? GT_EXIT_FAILED : GT_EXIT_OK;
out:
    for (unsigned j = 0; j < b->jobs; j++) {
        wl_job_free(b->job[j]);
    }
    cls_close(b->disk);
    g_free(b);
    return rc;
}

const GuestProgram guest_program_iobench = {
    .name = "iobench",
    .help = "fio-like workload: IOPS, bandwidth, virtual latency, host cost "
            "per I/O",
    .schema = &iobench_schema,
    .main = iobench_main,
    .needs_port = true,
};
