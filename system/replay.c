/* SPDX-License-Identifier: MIT */
/*
 * Replay (replay.h). The replayer keeps the next record of the trace as
 * "expected" and moves past it as the machine produces the same thing:
 * crossings through the boundary hook's after(), annotations through its
 * note(). Checkpoints are checked against the machine when they come up;
 * fault and note records are informational.
 *
 * Without device models (device=off) the replayer also plays the
 * devices: before() answers register and config reads from the trace,
 * an Event brings the machine to the recorded time of the next device
 * crossing and performs it (irqchip_msi/irqchip_intx, dma_write,
 * dma_read), and the yield oracle makes each vCPU return to the main loop
 * exactly where the recorded one did. Device crossings that a register
 * access caused synchronously (an interrupt line dropping when a status
 * register is read) are performed in that access's before(): in the
 * trace they come before the access, at its start time.
 */
#include <inttypes.h>
#include <string.h>
#include "config-host.h"
#include "hw/core/irqchip.h"
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "system/boundary.h"
#include "system/error.h"
#include "system/event.h"
#include "system/machine.h"
#include "system/options.h"
#include "system/replay.h"
#include "system/trace-machine.h"
#include "system/trace-print.h"
#include "system/trace-reader.h"

#define HISTORY      12
#define REPORT_LINES 10

typedef struct InFlight {
    TraceEvent start;
    uint64_t after_event; /* crossings checked when it started */
} InFlight;

typedef struct ReplayState {
    bool loaded, active;
    ReplayOptions opt;
    char *path;
    TraceReader *rd;
    TracePrinter *printer;

    TraceEvent exp; /* the next record */
    TraceReadStatus exp_st;
    bool checking; /* false after a divergence, stop-at or the end */

    TraceEvent hist[HISTORY];
    unsigned hist_len, hist_next;
    GHashTable *inflight; /* request id -> InFlight */

    bool diverged, stopped_at, damaged;
    uint64_t diverged_at;
    uint64_t events;
    GString *report;
    int64_t host_start, host_us;
    int recorded_exit;
    bool complete;

    /* device=off */
    Event inject;
    bool injecting;
    uint8_t *scratch;
    size_t scratch_len;
    uint64_t oracle_records; /* records consumed when the answer was cached */
    bool oracle_cached;
    uint64_t oracle_yield; /* the yield point the vCPU leaves at, 0: none */
    uint64_t records;

    /* data=hash: the DMAs since the last digest record */
    TraceDigest digest;
    uint64_t digest_events, digest_first;
} ReplayState;

static ReplayState rs;

static void rep_advance(ReplayState *s);

/* ---- reporting ---- */

static void history_push(ReplayState *s, const TraceEvent *e)
{
    s->hist[s->hist_next] = *e;
    s->hist_next = (s->hist_next + 1) % HISTORY;
    if (s->hist_len < HISTORY) {
        s->hist_len++;
    }
}

static void report_context(ReplayState *s, GString *r)
{
    unsigned n = MIN(s->hist_len, REPORT_LINES);

    if (n) {
        g_string_append(r, "  preceding records:\n");
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned k = (s->hist_next + HISTORY - n + i) % HISTORY;
        g_string_append(r, "    ");
        trace_print_event(s->printer, &s->hist[k], r);
        g_string_append_c(r, '\n');
    }
    g_string_append_printf(r, "  requests in flight: %u\n",
                           g_hash_table_size(s->inflight));
    {
        /* In start order: the ids increase. */
        g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        GHashTableIter it;
        gpointer key, val;
        g_hash_table_iter_init(&it, s->inflight);
        while (g_hash_table_iter_next(&it, &key, &val)) {
            uint64_t id = ((InFlight *)val)->start.req;
            g_array_append_val(ids, id);
        }
        for (guint i = 1; i < ids->len; i++) {
            for (guint j = i; j > 0 && g_array_index(ids, uint64_t, j) <
                                           g_array_index(ids, uint64_t, j - 1);
                 j--) {
                uint64_t t = g_array_index(ids, uint64_t, j);
                g_array_index(ids, uint64_t, j) =
                    g_array_index(ids, uint64_t, j - 1);
                g_array_index(ids, uint64_t, j - 1) = t;
            }
        }
        for (guint i = 0; i < ids->len && i < 32; i++) {
            uint64_t id = g_array_index(ids, uint64_t, i);
            InFlight *f = g_hash_table_lookup(s->inflight, &id);
            g_string_append_printf(r, "    req %" PRIu64 " cpu%d %u:%u:%u ", id,
                                   f->start.cpu, f->start.path, f->start.target,
                                   f->start.lun);
            if (f->start.function == 0) {
                trace_print_cdb(f->start.cdb, f->start.cdb_len, r);
            } else {
                trace_print_srb_function(f->start.function, r);
            }
            g_string_append_printf(
                r, ", started at %" PRIu64 " ns before event %" PRIu64 "\n",
                f->start.time, f->after_event);
        }
    }
}

static void describe_expected(ReplayState *s, GString *r)
{
    if (s->exp_st == TRACE_READ_EVENT && s->exp.type != TT_END) {
        trace_print_event(s->printer, &s->exp, r);
    } else if (s->exp_st == TRACE_READ_ERROR) {
        g_string_append_printf(r, "(the trace is damaged here: %s)",
                               trace_reader_error(s->rd));
    } else {
        g_string_append(r, "(the end of the recording)");
    }
}

static void stop_checking(ReplayState *s, int exit_code)
{
    s->checking = false;
    bnd_yield_oracle = NULL;
    event_cancel(&s->inject);
    machine_request_stop(exit_code);
}

/* The first difference: report it and stop the machine. */
static void diverge(ReplayState *s, const TraceEvent *actual, const char *what)
{
    GString *r = s->report;
    uint64_t index = s->exp_st == TRACE_READ_EVENT ? s->exp.index : s->events;
    uint64_t t = actual ? actual->time : vclock_now();
    int cpu = actual ? actual->cpu : cpu_index();

    if (!s->checking) {
        return;
    }
    s->diverged = true;
    s->diverged_at = index;
    g_string_truncate(r, 0);
    g_string_append_printf(r,
                           "storemu: replay diverged at event %" PRIu64
                           " (virtual time %" PRIu64 " ns, ",
                           index, t);
    if (cpu >= 0) {
        g_string_append_printf(r, "vCPU %d", cpu);
    } else {
        g_string_append(r, "device");
    }
    g_string_append_printf(r, "): %s\n  expected: ", what);
    describe_expected(s, r);
    g_string_append(r, "\n  actual:   ");
    if (actual) {
        trace_print_event(s->printer, actual, r);
    } else {
        g_string_append(r, "(the run ended here)");
    }
    g_string_append_c(r, '\n');
    report_context(s, r);
    g_printerr("%s", r->str);
    stop_checking(s, EXIT_DIVERGED);
}

static void damaged(ReplayState *s)
{
    if (!s->checking) {
        return;
    }
    s->damaged = true;
    g_string_printf(
        s->report, "storemu: replay cannot go on after event %" PRIu64 ": %s\n",
        s->events, trace_reader_error(s->rd));
    g_printerr("%s", s->report->str);
    stop_checking(s, EXIT_USAGE);
}

__attribute__((noinline, used, visibility("default"))) void
storemu_replay_stop(uint64_t event)
{
    /* Keep the call and its argument visible to a debugger. */
    __asm__ __volatile__("" : : "r"(event) : "memory");
}

static void stop_at(ReplayState *s, const TraceEvent *e)
{
    GString *r = s->report;

    s->stopped_at = true;
    g_string_truncate(r, 0);
    g_string_append_printf(r,
                           "storemu: replay reached event %" PRIu64
                           " (stop-at), virtual time %" PRIu64 " ns:\n    ",
                           e->index, e->time);
    trace_print_event(s->printer, e, r);
    g_string_append_c(r, '\n');
    report_context(s, r);
    if (!s->opt.quiet) {
        g_printerr("%s", r->str);
    }
    /* The breakpoint target; then the replay goes on checking, so a
     * debugger's "continue" carries on to the end or the divergence. */
    storemu_replay_stop(e->index);
}

/* ---- comparing ---- */

static const char *compare(const TraceEvent *x, const TraceEvent *a,
                           bool answered)
{
    if (x->type != a->type) {
        return "a different kind of event";
    }
    if (x->cpu != a->cpu) {
        return "a different vCPU";
    }
    switch (x->type) {
    case TT_MMIO_READ:
    case TT_MMIO_WRITE:
    case TT_PIO_READ:
    case TT_PIO_WRITE:
    case TT_CFG_READ:
    case TT_CFG_WRITE:
        if (x->addr != a->addr || x->devfn != a->devfn) {
            return "a different register";
        }
        if (x->size != a->size) {
            return "a different access size";
        }
        if (x->value != a->value) {
            return "a different value";
        }
        if (!answered && x->ok != a->ok) {
            return "accepted in one run, refused in the other";
        }
        break;
    case TT_IRQ_RAISE:
    case TT_IRQ_DELIVER:
        if (x->addr != a->addr) {
            return "a different vector";
        }
        if (x->value != a->value) {
            return x->type == TT_IRQ_RAISE ? "a different interrupt kind"
                                           : "a different previous level";
        }
        if (x->ok != a->ok) {
            return "accepted in one run, refused in the other";
        }
        break;
    case TT_DMA_READ:
    case TT_DMA_WRITE:
        if (x->addr != a->addr) {
            return "a different DMA address";
        }
        if (x->len != a->len) {
            return "a different DMA length";
        }
        if (x->ok != a->ok) {
            return "accepted in one run, refused in the other";
        }
        if (x->has_data && a->has_data && !x->digested && x->hash != a->hash) {
            return "different DMA data";
        }
        break;
    case TT_SCHED:
        if (x->addr != a->addr) {
            return "a different set of ready vCPUs";
        }
        if (x->value != a->value) {
            return "a different scheduler pick";
        }
        break;
    case TT_SRB_START:
        if (x->req != a->req) {
            return "a different request";
        }
        if (x->path != a->path || x->target != a->target || x->lun != a->lun ||
            x->function != a->function || x->cdb_len != a->cdb_len ||
            memcmp(x->cdb, a->cdb, x->cdb_len) != 0 || x->xfer != a->xfer) {
            return "a different request content";
        }
        break;
    case TT_SRB_DONE:
        if (x->req != a->req) {
            return "a different request completed";
        }
        if (x->srb_status != a->srb_status ||
            x->scsi_status != a->scsi_status || x->xfer != a->xfer) {
            return "a different completion";
        }
        break;
    case TT_EXT:
        if (x->ext_kind != a->ext_kind || x->ext_code != a->ext_code) {
            return "a different interrupt return";
        }
        break;
    }
    if (x->time != a->time) {
        return "a different virtual time";
    }
    return NULL;
}

static void live_event(ReplayState *s, const BndAccess *a, TraceEvent *e)
{
    memset(e, 0, sizeof(*e));
    trace_event_from_access(e, a, vclock_now());
    e->index = s->events;
    if (e->has_data) {
        e->has_data = a->ok;
        /* A payload the recording digests is checked in its digest. */
        if (a->ok && !s->exp.digested) {
            e->hash = trace_hash64(a->data, a->len, 0);
        }
    }
}

/* Consume the expected record after it matched. */
static void consumed(ReplayState *s, const TraceEvent *e)
{
    history_push(s, e);
    s->records++;
    if (trace_type_is_crossing(e->type)) {
        s->events++;
        if (s->opt.has_stop_at && e->index == s->opt.stop_at) {
            stop_at(s, e);
        }
    }
    rep_advance(s);
}

static bool expect_ready(ReplayState *s, const TraceEvent *actual)
{
    if (s->exp_st == TRACE_READ_ERROR) {
        damaged(s);
        return false;
    }
    if (s->exp_st != TRACE_READ_EVENT || s->exp.type == TT_END) {
        diverge(s, actual, "the run goes on past the end of the recording");
        return false;
    }
    return true;
}

static bool answered_kind(const ReplayState *s, unsigned kind)
{
    return !s->opt.device && trace_type_is_register(kind);
}

static void rep_after(const BndAccess *a, void *opaque)
{
    ReplayState *s = opaque;
    TraceEvent live;
    const char *why;

    if (!s->checking) {
        return;
    }
    live_event(s, a, &live);
    if (!expect_ready(s, &live)) {
        return;
    }
    if (!trace_type_is_crossing(s->exp.type)) {
        diverge(s, &live,
                "a boundary crossing where the recording has an "
                "annotation");
        return;
    }
    why = compare(&s->exp, &live, answered_kind(s, a->kind));
    if (why) {
        diverge(s, &live, why);
        return;
    }
    if (s->exp.digested) {
        /* Checked with its run of DMAs at the digest record. */
        trace_digest_add(&s->digest, a->data, a->len);
        if (!s->digest_events++) {
            s->digest_first = s->exp.index;
        }
    }
    consumed(s, &s->exp);
}

static void note_event(const BndNote *n, TraceEvent *e)
{
    memset(e, 0, sizeof(*e));
    e->time = vclock_now();
    e->cpu = n->cpu;
    switch (n->kind) {
    case BND_NOTE_SRB_START:
        e->type = TT_SRB_START;
        e->req = n->req;
        e->path = n->path;
        e->target = n->target;
        e->lun = n->lun;
        e->function = n->function;
        e->cdb_len = n->cdb ? MIN(n->cdb_len, TRACE_CDB_MAX) : 0;
        if (e->cdb_len) {
            memcpy(e->cdb, n->cdb, e->cdb_len);
        }
        e->xfer = n->data_len;
        break;
    case BND_NOTE_SRB_DONE:
        e->type = TT_SRB_DONE;
        e->req = n->req;
        e->xfer = n->data_len;
        e->srb_status = n->srb_status;
        e->scsi_status = n->scsi_status;
        break;
    case BND_NOTE_IRQ_RETURN:
        e->type = TT_EXT;
        e->ext_kind = TRACE_EXT_IRQ_RETURN;
        e->ext_code = n->vector;
        break;
    }
}

static void track_request(ReplayState *s, const TraceEvent *e)
{
    if (e->type == TT_SRB_START) {
        InFlight *f = g_new0(InFlight, 1);
        f->start = *e;
        f->after_event = s->events;
        g_hash_table_replace(s->inflight, &f->start.req, f);
    } else if (e->type == TT_SRB_DONE) {
        g_hash_table_remove(s->inflight, &e->req);
    }
}

static void rep_note(const BndNote *n, void *opaque)
{
    ReplayState *s = opaque;
    TraceEvent live;
    const char *why;

    note_event(n, &live);
    live.index = s->events;
    /* Requests are tracked even after the checks stopped: the report
     * lists what the run had in flight. */
    track_request(s, &live);
    if (!s->checking || !expect_ready(s, &live)) {
        return;
    }
    if (trace_type_is_crossing(s->exp.type)) {
        diverge(s, &live,
                "an annotation where the recording has a boundary "
                "crossing");
        return;
    }
    why = compare(&s->exp, &live, false);
    if (why) {
        diverge(s, &live, why);
        return;
    }
    consumed(s, &s->exp);
}

/* ---- device=off: answering and injecting ---- */

static uint64_t all_ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static void inject_one(ReplayState *s);

/* Device crossings the coming register access caused in the recording. */
static void inject_synchronous(ReplayState *s)
{
    while (s->checking && s->exp_st == TRACE_READ_EVENT &&
           trace_type_is_device(s->exp.type) && s->exp.time <= vclock_now()) {
        inject_one(s);
    }
}

static bool same_access(const TraceEvent *x, const BndAccess *a)
{
    return x->type == a->kind && x->addr == a->addr && x->size == a->size &&
           x->devfn == a->devfn;
}

static bool rep_before(BndAccess *a, void *opaque)
{
    ReplayState *s = opaque;

    if (!s->opt.device && trace_type_is_register(a->kind)) {
        if (s->checking) {
            inject_synchronous(s);
        }
        /* No device is behind the register: the trace answers, or, once
         * the checks stopped, all ones (a device that went away). */
        if (s->checking && s->exp_st == TRACE_READ_EVENT &&
            same_access(&s->exp, a)) {
            if (a->kind == BND_MMIO_READ || a->kind == BND_PIO_READ ||
                a->kind == BND_CFG_READ) {
                a->value = s->exp.value;
            }
        } else if (a->kind == BND_MMIO_READ || a->kind == BND_PIO_READ ||
                   a->kind == BND_CFG_READ) {
            a->value = all_ones(a->size);
        }
        return true;
    }
    if (a->kind == BND_SCHED && s->checking && s->exp_st == TRACE_READ_EVENT &&
        s->exp.type == TT_SCHED) {
        a->value = s->exp.value;
        return true;
    }
    return false;
}

static bool exp_is_msi_window_write(const TraceEvent *e)
{
    return e->type == TT_DMA_WRITE && e->len == 4 && e->addr >= MSI_ADDR_BASE &&
           e->addr - MSI_ADDR_BASE < MSI_ADDR_SIZE;
}

static void *scratch(ReplayState *s, size_t len)
{
    if (s->scratch_len < len) {
        g_free(s->scratch);
        s->scratch = g_malloc0(len);
        s->scratch_len = len;
    }
    return s->scratch;
}

static void inject_one(ReplayState *s)
{
    const TraceEvent *x = &s->exp;
    uint64_t before = s->records;
    TraceEvent next;

    s->injecting = true;
    switch (x->type) {
    case TT_IRQ_RAISE:
        if (x->value & IRQCHIP_BND_LEVEL) {
            irqchip_intx((unsigned)x->cpu, (unsigned)x->addr,
                         x->value & IRQCHIP_BND_ASSERT);
        } else if (trace_reader_peek(s->rd, 0, &next) == TRACE_READ_EVENT &&
                   exp_is_msi_window_write(&next) && next.has_data) {
            /* A device DMA that hit the MSI window: the write raises it. */
            uint8_t small[TRACE_DMA_SMALL];
            dma_write(next.addr, trace_event_payload(&next, small), 4);
        } else {
            irqchip_msi(irqchip_msi_address((unsigned)x->cpu),
                        irqchip_msi_data((unsigned)x->addr));
        }
        break;
    case TT_DMA_WRITE: {
        uint8_t small[TRACE_DMA_SMALL];
        const uint8_t *data = trace_event_payload(x, small);
        if (x->ok && !data) {
            diverge(s, NULL,
                    "device=off cannot write this DMA: the trace "
                    "has no data for it");
            break;
        }
        dma_write(x->addr, data ? data : scratch(s, x->len), x->len);
        break;
    }
    case TT_DMA_READ:
        /* The device read guest memory: read it now and let after()
         * compare it with what the device saw. */
        dma_read(x->addr, scratch(s, x->len), x->len);
        break;
    }
    s->injecting = false;
    if (s->checking && s->records == before) {
        diverge(s, NULL, "the recorded device event could not be performed");
    }
}

static void arm_injection(ReplayState *s)
{
    if (!s->opt.device && s->checking && !s->injecting &&
        s->exp_st == TRACE_READ_EVENT && trace_type_is_device(s->exp.type)) {
        event_schedule(&s->inject, s->exp.time);
    }
}

static void inject_event(void *opaque)
{
    ReplayState *s = opaque;

    /* The main loop at the recorded time: the devices' events ran here. */
    inject_synchronous(s);
    arm_injection(s);
}

/* Where the device records at the head of the trace lead: to a
 * scheduler pick (its yield point), or to something else (0). */
static bool scan_for_pick(const TraceEvent *e, void *opaque)
{
    uint64_t *yield = opaque;

    if (trace_type_is_device(e->type) || e->type == TT_CHECKPOINT ||
        e->type == TT_DIGEST ||
        (e->type == TT_EXT && e->ext_kind != TRACE_EXT_IRQ_RETURN)) {
        return true;
    }
    *yield = e->type == TT_SCHED ? e->len : 0;
    return false;
}

/*
 * Does the vCPU go back to the main loop at this yield point? Each pick
 * in the trace says at which yield point (counted machine-wide) the vCPU
 * before it gave the CPU back, or that it blocked. The next pick, or the
 * first pick after device records at the head of the trace (events the
 * main loop ran before picking), decides; device records followed by
 * anything else belong to the vCPU's next register access.
 */
static bool rep_oracle(unsigned cpu)
{
    ReplayState *s = &rs;

    (void)cpu;
    if (!s->checking || s->exp_st != TRACE_READ_EVENT) {
        return true;
    }
    if (!s->oracle_cached || s->oracle_records != s->records) {
        s->oracle_yield = 0;
        if (s->exp.type == TT_SCHED) {
            s->oracle_yield = s->exp.len;
        } else if (trace_type_is_device(s->exp.type)) {
            trace_reader_scan(s->rd, scan_for_pick, &s->oracle_yield, 1u << 20);
        }
        s->oracle_cached = true;
        s->oracle_records = s->records;
    }
    return s->oracle_yield && s->oracle_yield == sched_yields();
}

/* ---- moving through the trace ---- */

static void check_checkpoint(ReplayState *s, const TraceEvent *c)
{
    const char *why = NULL;

    if (c->time != vclock_now()) {
        why = "checkpoint: a different virtual time";
    } else if (s->opt.device && c->ck_events != event_count()) {
        why = "checkpoint: a different number of machine events";
    } else if (c->ck_yields != sched_yields()) {
        why = "checkpoint: a different number of yield points";
    } else if (c->ck_switches != sched_switches() ||
               c->ck_fingerprint != sched_fingerprint()) {
        why = "checkpoint: a different schedule";
    }
    if (why) {
        TraceEvent live = *c;
        live.time = vclock_now();
        live.ck_events = event_count();
        live.ck_yields = sched_yields();
        live.ck_switches = sched_switches();
        live.ck_fingerprint = sched_fingerprint();
        diverge(s, &live, why);
    }
}

/*
 * The data of the DMAs since the last digest: checked before anything
 * else crosses the boundary, so before the guest can have acted on it.
 * The run of DMAs is named; which of them differs, the digest cannot
 * say (record with data=full to see the bytes).
 */
static void check_digest(ReplayState *s, const TraceEvent *d)
{
    uint64_t mine = (uint32_t)trace_digest_final(&s->digest);

    if (mine != d->value) {
        g_autofree char *why = g_strdup_printf(
            "different DMA data: the digest of the %" PRIu64
            " DMA payload%s from event %" PRIu64 " to %" PRIu64
            " is 0x%08" PRIx64 ", the recording has 0x%08" PRIx64,
            s->digest_events, s->digest_events == 1 ? "" : "s", s->digest_first,
            s->events ? s->events - 1 : 0, mine, d->value);
        TraceEvent live = *d;
        live.value = mine;
        diverge(s, &live, why);
        return;
    }
    history_push(s, d);
    trace_digest_init(&s->digest, 0);
    s->digest_events = 0;
}

static void rep_advance(ReplayState *s)
{
    for (;;) {
        s->exp_st = trace_reader_next(s->rd, &s->exp);
        if (s->exp_st != TRACE_READ_EVENT) {
            if (s->exp_st == TRACE_READ_END) {
                /* Only reachable after the end record was consumed. */
                s->exp.type = TT_END;
            }
            return;
        }
        if (s->exp.type == TT_DIGEST) {
            check_digest(s, &s->exp);
            if (!s->checking) {
                return;
            }
            continue;
        }
        if (s->exp.type == TT_CHECKPOINT) {
            history_push(s, &s->exp);
            check_checkpoint(s, &s->exp);
            if (!s->checking) {
                return;
            }
            continue;
        }
        if (s->exp.type == TT_EXT && s->exp.ext_kind != TRACE_EXT_IRQ_RETURN) {
            /* Faults, notes: the machine re-creates them itself. */
            history_push(s, &s->exp);
            continue;
        }
        if (s->exp.type == TT_END) {
            s->recorded_exit = s->exp.exit_code;
        }
        break;
    }
    arm_injection(s);
}

/* ---- set-up ---- */

bool replay_open(const ReplayOptions *o, GError **errp)
{
    ReplayState *s = &rs;
    TraceReader *rd;
    const TraceHeader *h;

    g_assert(!s->active);
    replay_close();
    rd = trace_reader_open(o->path, errp);
    if (!rd) {
        g_prefix_error(errp, "-replay: ");
        return false;
    }
    h = trace_reader_header(rd);
    if (!o->device && !h->full_data) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-replay: device=off needs the DMA data in the trace: "
                    "'%s' was recorded with data=hash (record again with "
                    "-record FILE,data=full)",
                    o->path);
        trace_reader_free(rd);
        return false;
    }
    if (g_strcmp0(h->build_id, STOREMU_BUILD_ID) != 0 && !o->quiet) {
        g_printerr("storemu: warning: -replay: '%s' was recorded by build %s, "
                   "this is build %s; the replay may diverge\n",
                   o->path, h->build_id, STOREMU_BUILD_ID);
    }
    memset(s, 0, sizeof(*s));
    trace_digest_init(&s->digest, 0);
    s->loaded = true;
    s->opt = *o;
    s->path = g_strdup(o->path);
    s->opt.path = s->path;
    s->rd = rd;
    s->printer = trace_printer_new(trace_reader_header(rd));
    s->report = g_string_new(NULL);
    s->inflight =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    s->recorded_exit = -1;
    return true;
}

bool replay_open_opts(const Opts *o, GError **errp)
{
    ReplayOptions ro = {
        .path = opts_get_str(o, "file", NULL),
        .device = opts_get_bool(o, "device", true),
        .has_stop_at = opts_has(o, "stop-at"),
        .stop_at = opts_get_uint(o, "stop-at", 0),
    };

    return replay_open(&ro, errp);
}

bool replay_loaded(void)
{
    return rs.loaded;
}

const TraceHeader *replay_header(void)
{
    return rs.loaded ? trace_reader_header(rs.rd) : NULL;
}

void replay_close(void)
{
    ReplayState *s = &rs;

    if (!s->loaded) {
        return;
    }
    trace_printer_free(s->printer);
    trace_reader_free(s->rd);
    g_hash_table_destroy(s->inflight);
    g_string_free(s->report, TRUE);
    g_free(s->scratch);
    g_free(s->path);
    memset(s, 0, sizeof(*s));
}

bool replay_build_config(const MachineConfig *cli, MachineConfig **out,
                         GError **errp)
{
    const TraceHeader *h = replay_header();
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    MachineConfig *cfg;
    bool exit_now = false;

    g_assert(h);
    g_ptr_array_add(argv, (gpointer) "storemu");
    for (guint i = 0; i < h->argv->len; i++) {
        g_ptr_array_add(argv, g_ptr_array_index(h->argv, i));
    }
    g_ptr_array_add(argv, NULL);
    cfg = machine_config_new();
    if (!options_parse((int)argv->len - 1, (char **)argv->pdata, cfg, &exit_now,
                       errp) ||
        exit_now) {
        if (exit_now) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "the configuration asks for help text only");
        }
        g_prefix_error(errp, "-replay: the recorded configuration: ");
        machine_config_free(cfg);
        return false;
    }
    for (guint i = 0; cli->trace_patterns && i < cli->trace_patterns->len;
         i++) {
        g_ptr_array_add(cfg->trace_patterns,
                        g_strdup(g_ptr_array_index(cli->trace_patterns, i)));
    }
    cfg->trace_file = g_strdup(cli->trace_file);
    *out = cfg;
    return true;
}

bool replay_check_command_line(int argc, char **argv, GError **errp)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *name = a + (a[0] == '-' && a[1] == '-' ? 2 : 1);
        size_t n = strcspn(name, "=");
        bool has_inline = name[n] == '=';

        if ((n == 6 && strncmp(name, "replay", 6) == 0) ||
            (n == 5 && strncmp(name, "trace", 5) == 0)) {
            i += has_inline ? 0 : 1;
            continue;
        }
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-replay: '%s' cannot be given with -replay: the "
                    "configuration comes from the trace (only -trace may be "
                    "added)",
                    a);
        return false;
    }
    return true;
}

bool replay_devices_off(void)
{
    return rs.loaded && !rs.opt.device;
}

/* ---- device=off: PCI functions from the header ---- */

typedef struct ReplayStub {
    PCIDevice pci;
    MemoryRegion bar[TRACE_PCI_BARS];
    char *bar_name[TRACE_PCI_BARS];
} ReplayStub;

/* Only reached once the replay stopped answering (after a divergence). */
static uint64_t stub_read(void *opaque, uint64_t off, unsigned size)
{
    return all_ones(size);
}

static void stub_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
}

static const MemoryRegionOps stub_ops = {
    .read = stub_read,
    .write = stub_write,
    .min_access_size = 1,
    .max_access_size = 8,
};

static void stub_free(void *opaque)
{
    ReplayStub *st = opaque;

    pci_device_fini(&st->pci);
    for (unsigned b = 0; b < TRACE_PCI_BARS; b++) {
        g_free(st->bar_name[b]);
    }
    g_free(st);
}

static uint16_t cfg16(const uint8_t *c, unsigned off)
{
    return (uint16_t)(c[off] | (c[off + 1] << 8));
}

bool replay_create_functions(PCIBusState *bus, GError **errp)
{
    const TraceHeader *h = replay_header();

    for (guint i = 0; h && i < h->functions->len; i++) {
        const TracePciFunction *fn =
            &g_array_index(h->functions, TracePciFunction, i);
        const uint8_t *c = fn->config;
        ReplayStub *st = g_new0(ReplayStub, 1);
        PCIDeviceInfo info = {
            .vendor_id = cfg16(c, 0x00),
            .device_id = cfg16(c, 0x02),
            .revision = c[0x08],
            .class_code = (uint32_t)c[0x09] | ((uint32_t)c[0x0a] << 8) |
                          ((uint32_t)c[0x0b] << 16),
            .subsys_vendor_id = cfg16(c, 0x2c),
            .subsys_id = cfg16(c, 0x2e),
            .intx_pin = c[0x3d] <= 4 ? c[0x3d] : 0,
        };

        pci_device_init(&st->pci, fn->name, &info);
        for (unsigned b = 0; b < TRACE_PCI_BARS; b++) {
            uint64_t size = fn->bar_size[b];
            if (!size) {
                continue;
            }
            st->bar_name[b] = g_strdup_printf("%s-replay-bar%u", fn->name, b);
            memory_region_init(&st->bar[b], st->bar_name[b], &stub_ops, st,
                               size);
            pci_register_bar(&st->pci, b, fn->bar_type[b], &st->bar[b]);
            if (fn->bar_type[b] & PCI_BAR_MEM64) {
                b++;
            }
        }
        /* Capabilities and the rest of the identity as recorded; the
         * registers firmware programs (command, BARs, line) as it does. */
        memcpy(st->pci.config + 0x40, c + 0x40, TRACE_PCI_CONFIG - 0x40);
        st->pci.config[PCI_CFG_CAP_PTR] = c[PCI_CFG_CAP_PTR];
        st->pci.config[PCI_CFG_HEADER_TYPE] = c[PCI_CFG_HEADER_TYPE];
        st->pci.config[PCI_CFG_STATUS] |= c[PCI_CFG_STATUS] & PCI_STS_CAP_LIST;
        if (!pci_bus_add(bus, &st->pci, (int)(fn->bdf & 0xff), errp)) {
            g_prefix_error(errp,
                           "-replay: device=off: function %s: ", fn->name);
            stub_free(st);
            return false;
        }
        machine_add_cleanup(stub_free, st);
    }
    return true;
}

/* ---- start and finish ---- */

static bool check_images(const TraceHeader *h, GError **errp)
{
    for (guint i = 0; i < h->images->len; i++) {
        const TraceImage *want = &g_array_index(h->images, TraceImage, i);
        TraceImage have = {0};
        bool same;

        if (!trace_machine_image(want->id, &have, errp)) {
            g_prefix_error(errp, "-replay: ");
            return false;
        }
        same = have.size == want->size && have.hash == want->hash;
        if (!same) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-replay: image '%s' (%s) is not the one recorded: "
                        "%" PRIu64 " bytes, content hash 0x%016" PRIx64
                        "; the trace has %" PRIu64 " bytes, 0x%016" PRIx64
                        " (the image changed since; record with snapshot=on "
                        "to keep it, or replay with device=off)",
                        want->id,
                        have.filename[0] ? have.filename : "temporary",
                        have.size, have.hash, want->size, want->hash);
        }
        g_free(have.id);
        g_free(have.filename);
        if (!same) {
            return false;
        }
    }
    return true;
}

static bool check_functions(const TraceHeader *h, GError **errp)
{
    PCIBusState *bus = machine_pci_bus();
    guint n = 0;

    for (PCIDevice *d = bus ? pci_bus_next(bus, NULL) : NULL; d;
         d = pci_bus_next(bus, d)) {
        n++;
    }
    if (n != h->functions->len) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-replay: the machine has %u PCI functions, the "
                    "recording %u",
                    n, h->functions->len);
        return false;
    }
    for (guint i = 0; i < h->functions->len; i++) {
        const TracePciFunction *want =
            &g_array_index(h->functions, TracePciFunction, i);
        PCIDevice *d = pci_bus_find(bus, want->bdf & 0xff);
        TracePciFunction have;
        const char *what = NULL;

        if (!d) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-replay: the recording's function %s at %02x.%x is "
                        "missing",
                        want->name, (want->bdf >> 3) & 0x1f, want->bdf & 7);
            return false;
        }
        trace_machine_function(d, &have);
        if (memcmp(have.config, want->config, 4) != 0) {
            what = "identity (vendor/device)";
        } else if (memcmp(have.bar_size, want->bar_size,
                          sizeof(have.bar_size)) != 0 ||
                   memcmp(have.bar_addr, want->bar_addr,
                          sizeof(have.bar_addr)) != 0) {
            what = "BARs";
        } else if (have.intx_routed != want->intx_routed ||
                   have.intx_cpu != want->intx_cpu ||
                   have.intx_vector != want->intx_vector) {
            what = "interrupt route";
        }
        g_free(have.name);
        if (what) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-replay: PCI function %s at %02x.%x differs from the "
                        "recording: %s",
                        want->name, (want->bdf >> 3) & 0x1f, want->bdf & 7,
                        what);
            return false;
        }
    }
    return true;
}

bool replay_start(const MachineConfig *cfg, GError **errp)
{
    ReplayState *s = &rs;
    const TraceHeader *h = replay_header();
    BndHook hook = {
        .name = "replay",
        .before = rep_before,
        .after = rep_after,
        .note = rep_note,
        .opaque = s,
    };

    g_assert(h && !s->active);
    (void)cfg;
    if (s->opt.device && !check_images(h, errp)) {
        return false;
    }
    if (!check_functions(h, errp)) {
        return false;
    }
    if (vclock_now() != h->start_time) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-replay: the machine starts at %" PRIu64
                    " ns, the recording at %" PRIu64 " ns",
                    vclock_now(), h->start_time);
        return false;
    }
    if (!bnd_hook_add(&hook)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-replay: too many boundary hooks");
        return false;
    }
    event_init(&s->inject, "replay_inject", inject_event, s);
    if (!s->opt.device) {
        bnd_yield_oracle = rep_oracle;
    }
    s->active = true;
    s->checking = true;
    s->host_start = g_get_monotonic_time();
    rep_advance(s);
    return true;
}

int replay_finish(int rc, MachineStop stop)
{
    ReplayState *s = &rs;
    BndHook hook = {.before = rep_before, .after = rep_after, .opaque = s};

    if (!s->active) {
        return rc;
    }
    (void)stop;
    s->host_us = g_get_monotonic_time() - s->host_start;
    if (s->checking) {
        if (s->exp_st == TRACE_READ_ERROR) {
            damaged(s);
        } else if (s->exp_st == TRACE_READ_EVENT && s->exp.type == TT_END) {
            if (s->exp.exit_code == rc) {
                s->complete = true;
            } else {
                g_autofree char *why = g_strdup_printf(
                    "the run ended with exit code %d, the recording with %d",
                    rc, s->exp.exit_code);
                diverge(s, NULL, why);
            }
        } else {
            diverge(s, NULL, "the run ended before the recording did");
        }
    }
    s->checking = false;
    bnd_hook_remove(&hook);
    bnd_yield_oracle = NULL;
    event_cancel(&s->inject);
    s->active = false;
    if (s->diverged) {
        rc = EXIT_DIVERGED;
    } else if (s->damaged) {
        rc = EXIT_USAGE;
    }
    if (!s->opt.quiet) {
        double secs = (double)MAX(s->host_us, 1) / 1e6;
        printf("storemu: replay: %" PRIu64 " events checked (device=%s), "
               "%s; %.0f events per host second\n",
               s->events, s->opt.device ? "on" : "off",
               s->complete   ? "the run ended as recorded"
               : s->diverged ? "diverged"
                             : "the trace ended early",
               (double)s->events / secs);
    }
    return rc;
}

void replay_get_result(ReplayResult *r)
{
    const ReplayState *s = &rs;

    memset(r, 0, sizeof(*r));
    r->diverged = s->diverged;
    r->stopped_at = s->stopped_at;
    r->damaged = s->damaged;
    r->complete = s->complete;
    r->events = s->events;
    r->diverged_at = s->diverged_at;
    r->recorded_exit = s->recorded_exit;
    r->host_us = s->host_us;
    r->report = s->report ? s->report->str : "";
}
