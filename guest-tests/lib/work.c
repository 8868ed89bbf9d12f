/* SPDX-License-Identifier: MIT */
/*
 * Workload jobs (work.h). The per-I/O path is: pick a slot, maybe fill a
 * pattern, cls_submit(); on return from cls_wait(), one histogram add and
 * maybe a pattern check. Offsets and the read/write mix come from a
 * seeded stream, so the same seed issues the same I/O in the same order.
 */
#include <stdio.h>
#include <string.h>
#include "guest-tests/lib/work.h"
#include "system/event.h"
#include "system/rng.h"

/* runtime= needs a moving clock: after this many I/Os completed at one
 * virtual instant the job stops instead of spinning forever. */
#define WL_STALL_IOS 100000

/* WlJob.limit of a job without a count: never reached, so that
 * can_issue() needs one comparison for both cases. */
#define WL_NO_LIMIT UINT64_MAX

const char *const wl_rw_names[] = {
    "read", "write", "randread", "randwrite", "randrw", NULL,
};

struct WlJob {
    WlConfig cfg;
    char name[32];
    ClsDisk *disk;
    ClsQueue *q;
    ClsIo *io0; /* the queue's I/Os are an array from here */
    unsigned depth;
    Rng rng;
    uint64_t tag;
    uint64_t nslots;
    RngBound slot_bound; /* nslots, for random picks */
    uint64_t next_seq;
    uint32_t next_gen;
    uint32_t *slot_gen;  /* verify: generation on disk, 0 = unknown */
    uint8_t *slot_busy;  /* verify: an I/O is in flight on the slot */
    uint32_t *io_gen;    /* verify: generation a write carries */
    uint32_t block_size; /* the disk's, kept here for the I/O path */
    uint64_t written_slots;
    WlStats st;
    uint64_t issued, completed, limit;
    uint64_t run_start;
    uint64_t stall_clock, stall_count;
    unsigned reported;
    bool running, verify_after;
    GuestEvent done_ev;
};

/* ---- histogram ---- */

/* 64 + (e - 6) * 32 + the 5 bits under the top one, for a top bit e >= 6:
 * the top 6 bits are 32 + those 5, which folds the mask and two constants
 * into one, and in 64 bits that one goes into the bucket's address. */
static inline uint64_t hist_index(uint64_t v)
{
    unsigned e;

    if (v < 64) {
        return v;
    }
    e = 63u ^ (unsigned)__builtin_clzll(v);
    return (uint64_t)e * 32 - 160 + (v >> (e - 5));
}

static uint64_t hist_mid(unsigned i)
{
    unsigned e, sub;

    if (i < 64) {
        return i;
    }
    e = (i - 64) / 32 + 6;
    sub = (i - 64) % 32;
    return ((1ULL << e) | ((uint64_t)sub << (e - 5))) + (1ULL << (e - 6));
}

void wl_hist_reset(WlHist *h)
{
    memset(h, 0, sizeof(*h));
}

/* The job's completion path adds through this directly, not a call. */
static inline void hist_add(WlHist *h, uint64_t v)
{
    if (!h->n || v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
    h->n++;
    h->sum += v;
    h->bucket[hist_index(v)]++;
}

void wl_hist_add(WlHist *h, uint64_t v)
{
    hist_add(h, v);
}

void wl_hist_merge(WlHist *dst, const WlHist *src)
{
    if (!src->n) {
        return;
    }
    if (!dst->n || src->min < dst->min) {
        dst->min = src->min;
    }
    dst->max = MAX(dst->max, src->max);
    dst->n += src->n;
    dst->sum += src->sum;
    for (unsigned i = 0; i < WL_HIST_BUCKETS; i++) {
        dst->bucket[i] += src->bucket[i];
    }
}

uint64_t wl_hist_pct(const WlHist *h, double pct)
{
    uint64_t rank, seen = 0;

    if (!h->n) {
        return 0;
    }
    /* The smallest value with at least pct% of the samples at or below. */
    rank = (uint64_t)((pct / 100.0) * (double)h->n + 0.999999);
    rank = CLAMP(rank, 1, h->n);
    for (unsigned i = 0; i < WL_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            return CLAMP(hist_mid(i), h->min, h->max);
        }
    }
    return h->max;
}

/* ---- set-up ---- */

bool wl_config_check(const WlConfig *cfg, const ClsDisk *d, char **why)
{
    uint64_t bytes = (uint64_t)cfg->bs_blocks * d->block_size;

    if (!d->blocks) {
        *why = g_strdup("the LUN's capacity is unknown");
        return false;
    }
    if (!cfg->bs_blocks || bytes > 64 * 1024 * 1024) {
        *why = g_strdup("the I/O size must be 1 block to 64 MiB");
        return false;
    }
    if (!cfg->blocks || cfg->first_lba >= d->blocks ||
        cfg->blocks > d->blocks - cfg->first_lba) {
        *why = g_strdup_printf("the region (LBA %" G_GUINT64_FORMAT
                               ", %" G_GUINT64_FORMAT " blocks) is outside the "
                               "LUN (%" G_GUINT64_FORMAT " blocks)",
                               cfg->first_lba, cfg->blocks, d->blocks);
        return false;
    }
    if (!cfg->iodepth || cfg->rwmixread > 100) {
        *why = g_strdup("iodepth must be at least 1, rwmixread 0..100");
        return false;
    }
    return true;
}

WlJob *wl_job_new(ClsDisk *d, const WlConfig *cfg)
{
    WlJob *j = g_new0(WlJob, 1);
    uint32_t bytes = cfg->bs_blocks * d->block_size;

    j->cfg = *cfg;
    g_strlcpy(j->name, cfg->name ? cfg->name : "job", sizeof(j->name));
    j->cfg.name = j->name;
    j->disk = d;
    j->block_size = d->block_size;
    j->nslots = (cfg->blocks + cfg->bs_blocks - 1) / cfg->bs_blocks;
    j->slot_bound = rng_bound(j->nslots);
    j->depth = cfg->iodepth;
    if (cfg->verify) {
        /* Never two I/Os on one slot: the depth cannot exceed the slots. */
        j->depth = (unsigned)MIN((uint64_t)j->depth, j->nslots);
    }
    j->q = cls_queue_new(d, j->depth, bytes);
    if (!j->q) {
        g_free(j);
        return NULL;
    }
    j->io0 = cls_queue_io(j->q, 0);
    rng_seed(&j->rng, cfg->seed, 0x10b0u + cfg->stream);
    j->tag = pat_seed_tag(cfg->seed);
    if (cfg->verify) {
        j->slot_gen = g_new0(uint32_t, j->nslots);
        j->slot_busy = g_new0(uint8_t, j->nslots);
        j->io_gen = g_new0(uint32_t, j->depth);
    }
    j->limit = cfg->count;
    if (!cfg->count) {
        j->limit = cfg->runtime_ns ? WL_NO_LIMIT : j->nslots;
    }
    guest_event_init(&j->done_ev, "wl-done", false);
    return j;
}

void wl_job_free(WlJob *j)
{
    if (!j) {
        return;
    }
    cls_queue_free(j->q);
    g_free(j->slot_gen);
    g_free(j->slot_busy);
    g_free(j->io_gen);
    g_free(j);
}

const WlStats *wl_job_stats(const WlJob *j)
{
    return &j->st;
}

ClsQueue *wl_job_queue(WlJob *j)
{
    return j->q;
}

uint64_t wl_job_completed(const WlJob *j)
{
    return j->completed;
}

uint64_t wl_job_written_slots(const WlJob *j)
{
    return j->written_slots;
}

/* ---- the I/O path ---- */

static inline uint32_t slot_blocks(const WlJob *j, uint64_t slot)
{
    uint64_t left = j->cfg.blocks - slot * j->cfg.bs_blocks;
    return (uint32_t)MIN(left, (uint64_t)j->cfg.bs_blocks);
}

static inline uint64_t slot_lba(const WlJob *j, uint64_t slot)
{
    return j->cfg.first_lba + slot * j->cfg.bs_blocks;
}

/* run_loop_as()'s @rw for the copy that reads it from the job. */
#define WL_RW_JOB (-1)

/* The job's WlRw, or @rw where a copy of the loop has it as a constant
 * (see run_loop()). */
static inline __attribute__((always_inline)) WlRw job_rw(const WlJob *j, int rw)
{
    return rw == WL_RW_JOB ? j->cfg.rw : (WlRw)rw;
}

/* @verify is j->slot_busy != NULL, a constant in each copy of the loop
 * (see run_loop()). */
static inline __attribute__((always_inline)) uint64_t
pick_slot(WlJob *j, bool verify, int rw)
{
    uint64_t s;

    switch (job_rw(j, rw)) {
    case WL_READ:
    case WL_WRITE:
        s = j->next_seq++ % j->nslots;
        break;
    default:
        s = rng_below_bound(&j->rng, &j->slot_bound);
        break;
    }
    if (verify) {
        /* At most depth - 1 slots are busy, and depth <= slots. */
        while (j->slot_busy[s]) {
            s = s + 1 == j->nslots ? 0 : s + 1;
        }
    }
    return s;
}

static inline __attribute__((always_inline)) bool pick_write(WlJob *j, int rw)
{
    switch (job_rw(j, rw)) {
    case WL_READ:
    case WL_RANDREAD:
        return false;
    case WL_RANDRW:
        return rng_below(&j->rng, 100) >= j->cfg.rwmixread;
    default:
        return true;
    }
}

/* @timed is j->cfg.runtime_ns != 0, which no one changes while the loop
 * runs: there it is a register, not a load per test. */
static inline __attribute__((always_inline)) bool can_issue(const WlJob *j,
                                                            bool timed)
{
    if (j->st.clock_stalled) {
        return false;
    }
    if (j->issued >= j->limit) {
        return false;
    }
    return !timed || vclock_now() - j->run_start < j->cfg.runtime_ns;
}

/* Inlined, with the two above, into run_loop(), which issues once per
 * I/O: out of line each was a call and a frame for a few loads, stores
 * and the random draw. */
static inline __attribute__((always_inline)) void issue(WlJob *j, ClsIo *io,
                                                        bool verify, int rw)
{
    uint64_t slot = pick_slot(j, verify, rw);
    uint64_t lba = slot_lba(j, slot);
    uint32_t n = slot_blocks(j, slot);
    bool write = pick_write(j, rw);

    if (verify) {
        j->slot_busy[slot] = 1;
        if (write) {
            uint32_t gen = ++j->next_gen;
            j->io_gen[io - j->io0] = gen;
            pat_fill(io->buf, lba, n, j->block_size, gen, j->tag);
        }
    }
    cls_io_set_rw(io, write ? CLS_WRITE : CLS_READ, lba, n, io->buf);
    io->tag = slot;
    j->issued++;
    cls_submit(io);
}

static void note_error(WlJob *j, const ClsIo *io)
{
    char msg[256];

    j->st.errors++;
    if (!j->st.first_error_valid) {
        j->st.first_error = io->res;
        j->st.first_error_valid = true;
    }
    if (j->reported < j->cfg.report_max) {
        j->reported++;
        printf("%s: %s of LBA %" G_GUINT64_FORMAT " (%u blocks) failed: %s\n",
               j->name, cls_op_name(io->op), io->lba, io->blocks,
               cls_result_str(&io->res, msg, sizeof(msg)));
    }
}

static uint64_t check_read(WlJob *j, const ClsIo *io, uint64_t slot)
{
    uint32_t gen = j->slot_gen[slot];
    PatCheck first;
    unsigned bad;

    if (!gen) {
        j->st.unverified_reads++;
        return 0;
    }
    bad = pat_check(io->buf, io->lba, io->blocks, j->block_size, gen, j->tag,
                    j->st.mismatch, &first);
    j->st.verified_blocks += io->blocks;
    if (bad) {
        char msg[200];
        if (!j->st.mismatches) {
            j->st.first_bad = first;
        }
        j->st.mismatches += bad;
        if (j->reported < j->cfg.report_max) {
            j->reported++;
            pat_describe(&first, msg, sizeof(msg));
            printf("%s: %s%s\n", j->name, msg,
                   bad > 1 ? " (and more in this I/O)" : "");
        }
    }
    return bad;
}

/* A successful I/O's latency and size, in the statistics of @dir. */
static inline __attribute__((always_inline)) void
count_done(WlJob *j, const ClsIo *io, unsigned dir)
{
    hist_add(&j->st.lat[dir], io->done_ns - io->submit_ns);
    j->st.ios[dir]++;
    j->st.bytes[dir] += (uint64_t)io->blocks * j->block_size;
}

/* The direction of @io, which a copy of the loop that only reads or only
 * writes knows without looking: every I/O it waits for, it issued. */
static inline __attribute__((always_inline)) unsigned io_dir(const ClsIo *io,
                                                             int rw)
{
    switch (rw) {
    case WL_READ:
    case WL_RANDREAD:
        return WL_DIR_READ;
    case WL_WRITE:
    case WL_RANDWRITE:
        return WL_DIR_WRITE;
    default:
        return io->op == CLS_WRITE ? WL_DIR_WRITE : WL_DIR_READ;
    }
}

static inline __attribute__((always_inline)) void
complete(WlJob *j, ClsIo *io, bool verify, int rw, bool timed)
{
    uint64_t slot = io->tag;
    unsigned dir = io_dir(io, rw);

    j->completed++;
    if (io->done_cpu != io->submit_cpu) {
        j->st.done_elsewhere++;
    }
    if (io->res.status != CLS_OK) {
        note_error(j, io);
        if (verify) {
            if (dir == WL_DIR_WRITE && j->slot_gen[slot]) {
                /* What a failed write left behind is unknown. */
                j->slot_gen[slot] = 0;
                j->written_slots--;
            }
            j->slot_busy[slot] = 0;
        }
        return;
    }
    /* A constant direction in each call: the histogram and counters are
     * then at fixed offsets in the job, not recomputed from the index at
     * every access. */
    if (dir == WL_DIR_WRITE) {
        count_done(j, io, WL_DIR_WRITE);
    } else {
        count_done(j, io, WL_DIR_READ);
    }
    if (verify) {
        if (dir == WL_DIR_WRITE) {
            if (!j->slot_gen[slot]) {
                j->written_slots++;
            }
            j->slot_gen[slot] = j->io_gen[io - j->io0];
        } else {
            check_read(j, io, slot);
        }
        j->slot_busy[slot] = 0;
    }
    if (timed) {
        if (io->done_ns != j->stall_clock) {
            j->stall_clock = io->done_ns;
            j->stall_count = 0;
        } else if (++j->stall_count >= WL_STALL_IOS) {
            j->st.clock_stalled = true;
        }
    }
}

static inline __attribute__((always_inline)) void
run_loop_as(WlJob *j, bool verify, int rw)
{
    /* Whether the queue's free list may hold an I/O: only this loop takes
     * from it and gives back to it, so it is empty from the first
     * cls_io_get() that fails until the next cls_io_put(). */
    bool maybe_free = true;
    bool timed = j->cfg.runtime_ns != 0;

    j->run_start = vclock_now();
    j->st.t_start = j->run_start;
    j->stall_clock = j->run_start;
    j->stall_count = 0;
    j->running = true;
    for (;;) {
        ClsIo *io;

        while (maybe_free && can_issue(j, timed)) {
            io = cls_io_get(j->q);
            if (!io) {
                maybe_free = false;
                break;
            }
            issue(j, io, verify, rw);
        }
        io = cls_wait(j->q);
        if (!io) {
            break;
        }
        complete(j, io, verify, rw, timed);
        /* Giving the I/O back would put it at the head of the free list,
         * where the next cls_io_get() takes it: send it again at once. */
        if (can_issue(j, timed)) {
            issue(j, io, verify, rw);
        } else {
            cls_io_put(io);
            maybe_free = true;
        }
    }
    j->running = false;
    j->st.t_end = vclock_now();
}

/*
 * One copy of the loop per verify setting, which is fixed for the job:
 * the copy without it tests nothing of it per I/O. Without verify, where
 * the I/O path is short, one copy per rw as well, which then decides
 * neither how to pick the slot nor whether to write per I/O; with it, the
 * pattern work dwarfs those two tests.
 */
static void run_loop(WlJob *j)
{
    if (j->slot_busy) {
        run_loop_as(j, true, WL_RW_JOB);
        return;
    }
    switch (j->cfg.rw) {
    case WL_READ:
        run_loop_as(j, false, WL_READ);
        break;
    case WL_WRITE:
        run_loop_as(j, false, WL_WRITE);
        break;
    case WL_RANDREAD:
        run_loop_as(j, false, WL_RANDREAD);
        break;
    case WL_RANDWRITE:
        run_loop_as(j, false, WL_RANDWRITE);
        break;
    case WL_RANDRW:
        run_loop_as(j, false, WL_RANDRW);
        break;
    default:
        run_loop_as(j, false, WL_RW_JOB);
        break;
    }
}

void wl_job_run(WlJob *j)
{
    run_loop(j);
}

void wl_job_extend(WlJob *j, uint64_t count)
{
    j->limit = j->issued + (count ? count : j->nslots);
}

void wl_job_prefill(WlJob *j)
{
    WlRw rw = j->cfg.rw;
    uint64_t runtime = j->cfg.runtime_ns;
    bool had_limit = j->limit != WL_NO_LIMIT;
    uint64_t left = had_limit ? j->limit - MIN(j->limit, j->issued) : 0;
    g_autofree WlStats *saved = g_memdup2(&j->st, sizeof(j->st));

    if (!j->slot_gen) {
        return;
    }
    j->cfg.rw = WL_WRITE;
    j->cfg.runtime_ns = 0;
    j->next_seq = 0;
    j->limit = j->issued + j->nslots;
    run_loop(j);
    /* Not part of the measurement: only the errors are kept. */
    saved->errors = j->st.errors;
    j->st = *saved;
    j->cfg.rw = rw;
    j->cfg.runtime_ns = runtime;
    j->next_seq = 0;
    j->limit = had_limit ? j->issued + left : WL_NO_LIMIT;
}

void wl_job_assume_written(WlJob *j, unsigned passes)
{
    if (!j->slot_gen || j->cfg.rw != WL_WRITE || !passes) {
        return;
    }
    /* A sequential pass issues slot s as its (s + 1)-th write, and every
     * write takes the next generation. */
    for (uint64_t s = 0; s < j->nslots; s++) {
        j->slot_gen[s] = (uint32_t)((uint64_t)(passes - 1) * j->nslots + s + 1);
    }
    j->written_slots = j->nslots;
    j->next_gen = (uint32_t)((uint64_t)passes * j->nslots);
    j->next_seq = (uint64_t)passes * j->nslots;
}

uint64_t wl_job_verify(WlJob *j)
{
    uint64_t before = j->st.mismatches;
    uint64_t slot = 0;

    if (!j->slot_gen) {
        return 0;
    }
    for (;;) {
        ClsIo *io;

        while (slot < j->nslots && (io = cls_io_get(j->q))) {
            while (slot < j->nslots && !j->slot_gen[slot]) {
                slot++;
            }
            if (slot == j->nslots) {
                cls_io_put(io);
                break;
            }
            cls_io_set_rw(io, CLS_READ, slot_lba(j, slot), slot_blocks(j, slot),
                          io->buf);
            io->tag = slot++;
            cls_submit(io);
        }
        io = cls_wait(j->q);
        if (!io) {
            break;
        }
        if (io->res.status != CLS_OK) {
            note_error(j, io);
        } else {
            check_read(j, io, io->tag);
        }
        cls_io_put(io);
    }
    return j->st.mismatches - before;
}

/* ---- threads and control ---- */

static void job_thread(void *opaque)
{
    WlJob *j = opaque;

    run_loop(j);
    if (j->verify_after) {
        wl_job_verify(j);
    }
    guest_event_set(&j->done_ev);
}

void wl_job_start(WlJob *j, unsigned cpu, bool verify_after)
{
    g_assert(!j->running);
    j->verify_after = verify_after;
    j->running = true;
    guest_event_clear(&j->done_ev);
    guest_thread_create(cpu, j->name, job_thread, j);
}

void wl_job_join(WlJob *j)
{
    guest_event_wait(&j->done_ev);
}
