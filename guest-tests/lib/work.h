/* SPDX-License-Identifier: MIT */
/*
 * Workload jobs: the I/O engine behind iobench, verify, power and the
 * t-* programs. A job owns one ClsQueue (iodepth I/Os, one buffer each,
 * all preallocated in guest RAM), a region of a disk cut into bs-sized
 * slots, and a seeded random stream; it issues reads and writes until a
 * count, a virtual run time or a stop request ends it, and keeps latency
 * histograms in fixed buckets. Nothing is allocated per I/O.
 *
 * With verify on, every write carries a fresh generation of the
 * self-verifying pattern (pattern.h), the job remembers the generation of
 * each slot, never has two I/Os on one slot at once, checks every read of
 * a slot it wrote and can read the whole region back (wl_job_verify()).
 */
#ifndef GUEST_TESTS_LIB_WORK_H
#define GUEST_TESTS_LIB_WORK_H

#include <stdbool.h>
#include <stdint.h>
#include "guest-tests/lib/cls.h"
#include "guest-tests/lib/pattern.h"

/*
 * Latency histogram: values below 64 ns exactly, above in 32 buckets per
 * power of two (at most 1/32 = 3% relative error on a percentile).
 */
#define WL_HIST_BUCKETS (64 + 58 * 32)

typedef struct WlHist {
    uint64_t n, sum, min, max;
    uint64_t bucket[WL_HIST_BUCKETS];
} WlHist;

void wl_hist_reset(WlHist *h);
void wl_hist_add(WlHist *h, uint64_t v);
void wl_hist_merge(WlHist *dst, const WlHist *src);
/* The value at percentile @pct (0..100), 0 when empty. */
uint64_t wl_hist_pct(const WlHist *h, double pct);

typedef enum WlRw {
    WL_READ,
    WL_WRITE,
    WL_RANDREAD,
    WL_RANDWRITE,
    WL_RANDRW,
} WlRw;

/* "read", "write", ... in WlRw order, NULL-terminated (for OPT_ENUM). */
extern const char *const wl_rw_names[];

enum { WL_DIR_READ, WL_DIR_WRITE };

typedef struct WlConfig {
    const char *name;   /* message prefix: "job 0", "verify" */
    uint64_t first_lba; /* the region */
    uint64_t blocks;
    uint32_t bs_blocks; /* blocks per I/O (the last slot may be short) */
    unsigned iodepth;
    WlRw rw;
    unsigned rwmixread;  /* WL_RANDRW: percentage of reads */
    uint64_t count;      /* I/Os to issue; 0 and no runtime: one pass */
    uint64_t runtime_ns; /* virtual; 0 = none */
    bool verify;
    uint64_t seed;       /* pattern tag and offsets */
    unsigned stream;     /* random stream, e.g. the job number */
    unsigned report_max; /* error and mismatch lines printed */
} WlConfig;

typedef struct WlStats {
    WlHist lat[2]; /* virtual ns, per WL_DIR_* */
    uint64_t ios[2], bytes[2];
    uint64_t errors; /* I/Os that failed after retries */
    ClsResult first_error;
    bool first_error_valid;
    uint64_t verified_blocks;
    uint64_t unverified_reads; /* reads of slots this run never wrote */
    uint64_t mismatches;       /* bad blocks, all kinds */
    uint64_t mismatch[PAT_KINDS];
    PatCheck first_bad;
    uint64_t t_start, t_end; /* virtual ns of the last wl_job_run() */
    bool clock_stalled;      /* runtime= with a clock that never moved */
    uint64_t done_elsewhere; /* completions not on the submitting vCPU */
} WlStats;

typedef struct WlJob WlJob;

/* Check @cfg against @d: NULL with a message in @why (g_malloc'd). */
bool wl_config_check(const WlConfig *cfg, const ClsDisk *d, char **why);
/* NULL when guest RAM cannot hold the queue and its buffers. */
WlJob *wl_job_new(ClsDisk *d, const WlConfig *cfg);
void wl_job_free(WlJob *j);

/* Run in the calling thread until the count or the run time is reached
 * and every I/O has come back. */
void wl_job_run(WlJob *j);
/* Allow @count more I/Os (0: one more pass over the region). */
void wl_job_extend(WlJob *j, uint64_t count);
/* Verify on: write every slot once with patterns, outside the
 * statistics (so a read workload has something to check). */
void wl_job_prefill(WlJob *j);
/*
 * Verify on, rw=write: take the region as holding what @passes whole write
 * passes of this job would have left (the generations wl_job_run() gives
 * them), without writing anything, so that wl_job_verify() checks data an
 * earlier run wrote with the same configuration and seed (after a power
 * cut, for instance). No effect on other jobs or with @passes 0.
 */
void wl_job_assume_written(WlJob *j, unsigned passes);
/* Read back every slot written so far and check it; the number of bad
 * blocks found. Only while the job is not running. */
uint64_t wl_job_verify(WlJob *j);

/* Run the job in a new guest thread on @cpu, then wl_job_verify() if
 * @verify_after; wl_job_join() waits for the end. */
void wl_job_start(WlJob *j, unsigned cpu, bool verify_after);
void wl_job_join(WlJob *j);

const WlStats *wl_job_stats(const WlJob *j);
ClsQueue *wl_job_queue(WlJob *j);
uint64_t wl_job_completed(const WlJob *j);
/* Slots written at least once (verify on). */
uint64_t wl_job_written_slots(const WlJob *j);

#endif
