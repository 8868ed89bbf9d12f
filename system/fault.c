/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, the core (fault.h, docs/faults.md): arming each -fault
 * on the assembled machine, evaluating triggers, firing (trace + record),
 * following the guest requests a fault touched up to the outcome the guest
 * saw, the summary at exit and the replay's check of every firing.
 *
 * Triggers. A fault is armed from its at= point on (an event index: the
 * trace's crossing count; or a virtual time). Each kind has a stream of
 * opportunities (fault-int.h, FaultStage): SCSI commands at submission or
 * completion that pass the request filters (lba, lun, op, queue), doorbell
 * writes, allocations, timer arms or SRB completions. Counting from the
 * arming point, the first after=N opportunities are skipped, then every
 * every=N-th one is a candidate, which fires with probability p= (a draw
 * from the fault's own random stream, seeded from -machine seed and the
 * fault's position), at most count= times. Kinds that make sense at a
 * point in time (hang, fatal, surprise-remove, irq-spurious, power-cut,
 * power) also take the at= point itself as their first opportunity.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include "hw/scsi/scsi-defs.h"
#include "hw/virtio-scsi/virtio-scsi.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/fault-int.h"
#include "system/machine.h"
#include "system/record.h"
#include "system/replay.h"
#include "system/trace-reader.h"
#include "system/trace.h"

FaultState fault_state;
bool fault_scsi_armed;
bool fault_pool_armed;
bool fault_timer_armed;

/* Stream numbers of the faults' random draws: far from the scheduler's
 * and the guest programs' streams. */
#define FAULT_RNG_STREAM 0x6661756c74000000ULL

/* Record codes: fault index << 8 | kind, bit 7 for an effect record. */
#define FAULT_CODE_EFFECT 0x80u

typedef struct KindInfo {
    const char *name;
    FaultStage stage;
    bool point; /* at= is also a firing point */
} KindInfo;

static const KindInfo kinds[FK_COUNT] = {
    [FK_IRQ_DROP] = {"irq-drop", FS_COMPLETE, false},
    [FK_IRQ_DELAY] = {"irq-delay", FS_COMPLETE, false},
    [FK_IRQ_SPURIOUS] = {"irq-spurious", FS_COMPLETE, true},
    [FK_IRQ_DUPLICATE] = {"irq-duplicate", FS_COMPLETE, false},
    [FK_DMA_ERROR] = {"dma-error", FS_SUBMIT, false},
    [FK_DOORBELL_IGNORE] = {"doorbell-ignore", FS_DOORBELL, false},
    [FK_HANG] = {"hang", FS_COMPLETE, true},
    [FK_FATAL] = {"fatal", FS_COMPLETE, true},
    [FK_SURPRISE_REMOVE] = {"surprise-remove", FS_COMPLETE, true},
    [FK_LATENCY] = {"latency", FS_COMPLETE, false},
    [FK_REORDER] = {"reorder", FS_COMPLETE, false},
    [FK_CHECK_CONDITION] = {"check-condition", FS_SUBMIT, false},
    [FK_BUSY] = {"busy", FS_SUBMIT, false},
    [FK_TASK_SET_FULL] = {"task-set-full", FS_SUBMIT, false},
    [FK_SHORT_TRANSFER] = {"short-transfer", FS_COMPLETE, false},
    [FK_CORRUPT] = {"corrupt", FS_COMPLETE, false},
    [FK_UNIT_ATTENTION] = {"unit-attention", FS_SUBMIT, false},
    [FK_EIO] = {"eio", FS_SUBMIT, false},
    [FK_ENOSPC] = {"enospc", FS_SUBMIT, false},
    [FK_POWER_CUT] = {"power-cut", FS_COMPLETE, true},
    [FK_POOL_FAIL] = {"pool-fail", FS_ALLOC, false},
    [FK_TIMER_JITTER] = {"timer-jitter", FS_TIMER, false},
    [FK_POWER] = {"power", FS_SRB, true},
};

const char *fault_kind_name(FaultKind k)
{
    return k < FK_COUNT ? kinds[k].name : "?";
}

bool fault_kind_is_point(FaultKind k)
{
    return kinds[k].point;
}

/* ---- the SRBs the port has in flight (from its annotations) ---- */

typedef struct FaultSrb {
    uint64_t id;
    int cpu;
    uint8_t target, lun;
    uint8_t cdb_len;
    uint8_t cdb[16];
} FaultSrb;

static uint64_t be(const uint8_t *p, unsigned n);

/* FaultReq* still followed (not settled), in the order they were made. */
static GPtrArray *watching;

static bool srb_same_command(const FaultSrb *s, uint8_t target, uint8_t lun,
                             const uint8_t *cdb, unsigned cdb_len)
{
    return s->target == target && s->lun == lun && s->cdb_len &&
           s->cdb_len <= cdb_len && memcmp(s->cdb, cdb, s->cdb_len) == 0;
}

/* The newest SRB in flight that carries this command. */
static FaultSrb *srb_find(uint8_t target, uint8_t lun, const uint8_t *cdb,
                          unsigned cdb_len)
{
    FaultSrb *best = NULL;
    GHashTableIter it;
    gpointer v;

    if (!fault_state.srbs) {
        return NULL;
    }
    g_hash_table_iter_init(&it, fault_state.srbs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        FaultSrb *s = v;
        if (srb_same_command(s, target, lun, cdb, cdb_len) &&
            (!best || s->id > best->id)) {
            best = s;
        }
    }
    return best;
}

int fault_req_cpu(const SCSIRequest *req)
{
    FaultSrb *s = srb_find((uint8_t)req->target, (uint8_t)req->lun, req->cdb,
                           req->cdb_len);

    return s ? s->cpu : -1;
}

static PortRequest *port_req_by_id(uint64_t id)
{
    GHashTableIter it;
    gpointer v;

    if (!port.loaded || !port.srb_map) {
        return NULL;
    }
    g_hash_table_iter_init(&it, port.srb_map);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        PortRequest *r = v;
        if (r->id == id) {
            return r;
        }
    }
    return NULL;
}

bool fault_req_internal(const SCSIRequest *req)
{
    FaultSrb *s = srb_find((uint8_t)req->target, (uint8_t)req->lun, req->cdb,
                           req->cdb_len);
    PortRequest *pr = s ? port_req_by_id(s->id) : NULL;

    return pr && pr->internal;
}

static bool srb_ok(uint8_t srb_status, uint8_t scsi_status)
{
    return SRB_STATUS(srb_status) == SRB_STATUS_SUCCESS &&
           scsi_status == SCSISTAT_GOOD;
}

static bool srb_internal(uint64_t id)
{
    PortRequest *pr = port_req_by_id(id);

    return pr && pr->internal;
}

/* Sense data as the guest got it: fixed (70h/71h, SPC-5 4.4.3) or
 * descriptor format (72h/73h, 4.4.2, information descriptor type 0). */
static void sense_parse(FaultReq *r, const uint8_t *sense, unsigned len)
{
    if (len >= 14 && (sense[0] & 0x7e) == 0x70) {
        r->sense_valid = true;
        r->sense_key = sense[2] & 0xf;
        r->asc = sense[12];
        r->ascq = sense[13];
        r->info_valid = sense[0] & 0x80;
        r->info = be(sense + 3, 4);
    } else if (len >= 8 && (sense[0] & 0x7e) == 0x72) {
        unsigned end = MIN(len, 8u + sense[7]);

        r->sense_valid = true;
        r->sense_key = sense[1] & 0xf;
        r->asc = sense[2];
        r->ascq = sense[3];
        for (unsigned d = 8; d + 2 <= end && d + 2 + sense[d + 1] <= end;
             d += 2 + sense[d + 1]) {
            if (sense[d] == 0x00 && sense[d + 1] >= 10) {
                r->info_valid = sense[d + 2] & 0x80;
                r->info = be(sense + d + 4, 8);
            }
        }
    }
}

static void note_start(const BndNote *n)
{
    FaultSrb *s = g_new0(FaultSrb, 1);

    s->id = n->req;
    s->cpu = n->cpu;
    s->target = n->target;
    s->lun = n->lun;
    s->cdb_len = (uint8_t)MIN(n->cdb_len, sizeof(s->cdb));
    if (n->cdb && s->cdb_len) {
        memcpy(s->cdb, n->cdb, s->cdb_len);
    }
    g_hash_table_replace(fault_state.srbs, &s->id, s);
    /* The same command again after a failed attempt: a retry. */
    for (guint i = 0; watching && i < watching->len; i++) {
        FaultReq *r = g_ptr_array_index(watching, i);
        if (r->done && !r->settled &&
            srb_same_command(s, r->target, r->lun, r->cdb, r->cdb_len)) {
            r->retries++;
            r->req = s->id;
            r->done = false;
            break;
        }
    }
}

static void note_done(const BndNote *n)
{
    for (guint i = 0; watching && i < watching->len;) {
        FaultReq *r = g_ptr_array_index(watching, i);
        PortRequest *pr;

        if (r->req != n->req || r->done) {
            i++;
            continue;
        }
        r->done = true;
        r->final_srb_status = n->srb_status;
        r->final_scsi_status = n->scsi_status;
        if (!r->retries) {
            r->srb_status = n->srb_status;
            r->scsi_status = n->scsi_status;
            pr = port_req_by_id(n->req);
            if (pr) {
                unsigned len = 0;
                const uint8_t *sense = port_request_sense(pr, &len);
                sense_parse(r, sense, len);
            }
        }
        pr = port_req_by_id(n->req);
        if ((pr && pr->reset_seen) ||
            SRB_STATUS(n->srb_status) == SRB_STATUS_TIMEOUT) {
            r->timed_out = true;
        }
        if (srb_ok(n->srb_status, n->scsi_status)) {
            r->settled = true;
            g_ptr_array_remove_index(watching, i);
            continue;
        }
        i++;
    }
    g_hash_table_remove(fault_state.srbs, &n->req);
}

void fault_note(const BndNote *n)
{
    if (!fault_state.srbs) {
        return;
    }
    switch (n->kind) {
    case BND_NOTE_SRB_START:
        note_start(n);
        break;
    case BND_NOTE_SRB_DONE:
        note_done(n);
        for (guint i = 0; i < fault_state.faults->len; i++) {
            Fault *f = g_ptr_array_index(fault_state.faults, i);
            /* Opportunities: the guest's requests, not the port's own. */
            if (f->stage == FS_SRB && !srb_internal(n->req) && fault_try(f)) {
                fault_power_kick(f);
            }
        }
        break;
    case BND_NOTE_IRQ_RETURN:
        break;
    }
}

static FaultReq *track_new(Fault *f, const char *effect)
{
    FaultReq *r;

    if (f->reqs->len >= FAULT_TRACK_MAX) {
        f->untracked++;
        return NULL;
    }
    r = g_new0(FaultReq, 1);
    g_strlcpy(r->effect, effect, sizeof(r->effect));
    g_ptr_array_add(f->reqs, r);
    return r;
}

FaultReq *fault_track(Fault *f, const SCSIRequest *req, const char *effect)
{
    FaultSrb *s = srb_find((uint8_t)req->target, (uint8_t)req->lun, req->cdb,
                           req->cdb_len);
    FaultReq *r;

    /* A retry of a request this fault hit already: the same request. */
    for (guint i = 0; s && i < f->reqs->len; i++) {
        r = g_ptr_array_index(f->reqs, i);
        if (r->req == s->id) {
            r->hits++;
            return r;
        }
    }
    r = track_new(f, effect);
    if (!r) {
        return NULL;
    }
    r->hits = 1;
    r->target = (uint8_t)req->target;
    r->lun = (uint8_t)req->lun;
    r->cdb_len = (uint8_t)MIN(req->cdb_len, sizeof(r->cdb));
    memcpy(r->cdb, req->cdb, r->cdb_len);
    if (s) {
        r->req = r->first = s->id;
        r->cdb_len = s->cdb_len;
        g_ptr_array_add(watching, r);
    } else {
        r->settled = true; /* not a request the port knows (no port) */
    }
    return r;
}

static gint srb_cmp_id(gconstpointer a, gconstpointer b)
{
    const FaultSrb *x = *(FaultSrb *const *)a, *y = *(FaultSrb *const *)b;

    return x->id < y->id ? -1 : x->id > y->id;
}

static void track_srb(Fault *f, const FaultSrb *s, const char *effect)
{
    FaultReq *r;

    for (guint j = 0; j < f->reqs->len; j++) {
        r = g_ptr_array_index(f->reqs, j);
        if (r->req == s->id) {
            r->hits++;
            return;
        }
    }
    if (!s->cdb_len || !(r = track_new(f, effect))) {
        return;
    }
    r->req = r->first = s->id;
    r->hits = 1;
    r->target = s->target;
    r->lun = s->lun;
    r->cdb_len = s->cdb_len;
    memcpy(r->cdb, s->cdb, s->cdb_len);
    g_ptr_array_add(watching, r);
}

void fault_track_in_flight(Fault *f, const char *effect)
{
    g_autoptr(GPtrArray) all = g_ptr_array_new();
    GHashTableIter it;
    gpointer v;

    if (!fault_state.srbs) {
        return;
    }
    g_hash_table_iter_init(&it, fault_state.srbs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        g_ptr_array_add(all, v);
    }
    /* In request order, whatever the table's layout. */
    g_ptr_array_sort(all, srb_cmp_id);
    for (guint i = 0; i < all->len; i++) {
        track_srb(f, g_ptr_array_index(all, i), effect);
    }
}

void fault_track_srb(Fault *f, uint64_t id, const char *effect)
{
    FaultSrb *s =
        fault_state.srbs ? g_hash_table_lookup(fault_state.srbs, &id) : NULL;

    if (s) {
        track_srb(f, s, effect);
    }
}

/* ---- CDBs ---- */

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

bool fault_cdb_range(const uint8_t *cdb, unsigned len, uint64_t *lba,
                     uint64_t *blocks)
{
    if (!len) {
        return false;
    }
    switch (cdb[0]) {
    case SCSI_OP_READ_6:
    case SCSI_OP_WRITE_6:
        if (len < 6) {
            return false;
        }
        *lba = be(cdb + 1, 3) & 0x1fffff;
        *blocks = cdb[4] ? cdb[4] : 256;
        return true;
    case SCSI_OP_READ_10:
    case SCSI_OP_WRITE_10:
    case SCSI_OP_WRITE_VERIFY_10:
    case SCSI_OP_VERIFY_10:
    case SCSI_OP_SYNCHRONIZE_CACHE_10:
    case SCSI_OP_WRITE_SAME_10:
        if (len < 10) {
            return false;
        }
        *lba = be(cdb + 2, 4);
        *blocks = be(cdb + 7, 2);
        break;
    case SCSI_OP_READ_12:
    case SCSI_OP_WRITE_12:
    case SCSI_OP_WRITE_VERIFY_12:
    case SCSI_OP_VERIFY_12:
        if (len < 12) {
            return false;
        }
        *lba = be(cdb + 2, 4);
        *blocks = be(cdb + 6, 4);
        return true;
    case SCSI_OP_READ_16:
    case SCSI_OP_WRITE_16:
    case SCSI_OP_WRITE_VERIFY_16:
    case SCSI_OP_VERIFY_16:
    case SCSI_OP_SYNCHRONIZE_CACHE_16:
    case SCSI_OP_WRITE_SAME_16:
        if (len < 16) {
            return false;
        }
        *lba = be(cdb + 2, 8);
        *blocks = be(cdb + 10, 4);
        break;
    default:
        return false;
    }
    if (!*blocks && (cdb[0] == SCSI_OP_SYNCHRONIZE_CACHE_10 ||
                     cdb[0] == SCSI_OP_SYNCHRONIZE_CACHE_16)) {
        /* 0 blocks: to the end of the medium (SBC-4 5.24). */
        *blocks = UINT64_MAX - *lba;
    }
    return true;
}

const char *fault_cdb_name(const uint8_t *cdb)
{
    static const struct {
        uint8_t op;
        const char *name;
    } names[] = {
        {SCSI_OP_TEST_UNIT_READY, "TEST UNIT READY"},
        {SCSI_OP_REQUEST_SENSE, "REQUEST SENSE"},
        {SCSI_OP_READ_6, "READ(6)"},
        {SCSI_OP_WRITE_6, "WRITE(6)"},
        {SCSI_OP_INQUIRY, "INQUIRY"},
        {SCSI_OP_MODE_SENSE_6, "MODE SENSE(6)"},
        {SCSI_OP_READ_CAPACITY_10, "READ CAPACITY(10)"},
        {SCSI_OP_READ_10, "READ(10)"},
        {SCSI_OP_WRITE_10, "WRITE(10)"},
        {SCSI_OP_SYNCHRONIZE_CACHE_10, "SYNCHRONIZE CACHE(10)"},
        {SCSI_OP_UNMAP, "UNMAP"},
        {SCSI_OP_MODE_SENSE_10, "MODE SENSE(10)"},
        {SCSI_OP_READ_16, "READ(16)"},
        {SCSI_OP_WRITE_16, "WRITE(16)"},
        {SCSI_OP_SYNCHRONIZE_CACHE_16, "SYNCHRONIZE CACHE(16)"},
        {SCSI_OP_SERVICE_ACTION_IN_16, "SERVICE ACTION IN(16)"},
        {SCSI_OP_REPORT_LUNS, "REPORT LUNS"},
        {SCSI_OP_READ_12, "READ(12)"},
        {SCSI_OP_WRITE_12, "WRITE(12)"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].op == cdb[0]) {
            return names[i].name;
        }
    }
    return NULL;
}

/* "READ(16) lba 100+8" or "opcode 0x12" into @buf. */
static const char *cdb_str(const uint8_t *cdb, unsigned len, char *buf,
                           size_t n)
{
    const char *name = len ? fault_cdb_name(cdb) : NULL;
    uint64_t lba, blocks;
    int k;

    if (!len) {
        g_strlcpy(buf, "(no CDB)", n);
        return buf;
    }
    k = name ? snprintf(buf, n, "%s", name)
             : snprintf(buf, n, "opcode 0x%02x", cdb[0]);
    if (k >= 0 && (size_t)k < n && fault_cdb_range(cdb, len, &lba, &blocks) &&
        blocks < UINT64_MAX - lba) {
        snprintf(buf + k, n - (size_t)k, " lba %" PRIu64 "+%" PRIu64, lba,
                 blocks);
    }
    return buf;
}

/* ---- triggers ---- */

bool fault_armed(const Fault *f)
{
    if (!f->has_at) {
        return true;
    }
    return f->at_time ? vclock_now() >= f->at
                      : bnd_seq() - fault_state.seq_base >= f->at;
}

bool fault_try(Fault *f)
{
    uint64_t n;

    if (f->count && f->fired >= f->count) {
        return false;
    }
    if (!fault_armed(f)) {
        return false;
    }
    n = ++f->seen;
    if (n <= f->after || (n - f->after - 1) % f->every) {
        return false;
    }
    /* The draw comes last, so the stream advances once per candidate:
     * the same opportunities give the same draws. */
    if (f->has_p && !rng_chance(&f->rng, f->p)) {
        return false;
    }
    return true;
}

/* ---- firing, recording, replay checks ---- */

typedef struct Expected {
    uint64_t time;
    uint64_t index;
    uint32_t code;
    char *text;
} Expected;

static struct {
    char *path;
    GArray *exp; /* Expected, in trace order */
    guint next;
    GString *report; /* the first difference */
    bool loaded;
    /* device=off: crossing index -> FaultKind + 1 of a recorded effect
     * the boundary must act out again */
    GHashTable *effects;
    /* Crossings before the replay started: trace indexes count from it. */
    uint64_t base;
} rp;

static bool kind_in_guest(FaultKind k)
{
    FaultStage st = kinds[k].stage;

    return st == FS_ALLOC || st == FS_TIMER || st == FS_SRB;
}

bool fault_replay_effect_at(uint64_t index, FaultKind *kind)
{
    gpointer v;

    index -= rp.base;
    if (!rp.effects ||
        !g_hash_table_lookup_extended(rp.effects, &index, NULL, &v)) {
        return false;
    }
    *kind = (FaultKind)(GPOINTER_TO_UINT(v) - 1);
    return true;
}

static void expected_clear(gpointer p)
{
    g_free(((Expected *)p)->text);
}

static void replay_load(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TraceReader) rd = NULL;
    TraceEvent e;

    rp.exp = g_array_new(FALSE, TRUE, sizeof(Expected));
    g_array_set_clear_func(rp.exp, expected_clear);
    rp.next = 0;
    rp.loaded = true;
    /* fault_init runs last in machine_init: the replay starts here. */
    rp.base = bnd_seq();
    rp.effects =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    rd = trace_reader_open(rp.path, &err);
    if (!rd) {
        /* The replay itself reports an unreadable trace. */
        return;
    }
    while (trace_reader_next(rd, &e) == TRACE_READ_EVENT) {
        if (e.type == TT_EXT && e.ext_kind == TRACE_EXT_FAULT) {
            FaultKind k = (FaultKind)(e.ext_code & 0x7f);
            if (fault_state.devices_off && k < FK_COUNT && !kind_in_guest(k)) {
                /* No device: only what the boundary suppressed is acted
                 * out; the rest of the device's doings is in the trace. */
                if ((e.ext_code & FAULT_CODE_EFFECT) &&
                    (k == FK_IRQ_DROP || k == FK_IRQ_DELAY ||
                     k == FK_DMA_ERROR)) {
                    uint64_t *key = g_new(uint64_t, 1);
                    *key = e.index;
                    g_hash_table_replace(rp.effects, key,
                                         GUINT_TO_POINTER(k + 1));
                }
                continue;
            }
            Expected x = {
                .time = e.time,
                .index = e.index,
                .code = e.ext_code,
                .text = g_strndup((const char *)e.ext_data, e.ext_len),
            };
            g_array_append_val(rp.exp, x);
        }
    }
}

void fault_replay_expect(const char *path)
{
    g_free(rp.path);
    rp.path = g_strdup(path);
}

static void replay_check(uint32_t code, const char *what)
{
    Expected *x;

    if (!rp.loaded || rp.report) {
        return;
    }
    if (rp.next >= rp.exp->len) {
        rp.report = g_string_new(NULL);
        g_string_printf(rp.report,
                        "a fault fired that the recording does not have: "
                        "'%s' at %" PRIu64 " ns",
                        what, vclock_now());
        return;
    }
    x = &g_array_index(rp.exp, Expected, rp.next++);
    if (x->code != code || strcmp(x->text, what) != 0 ||
        x->time != vclock_now()) {
        rp.report = g_string_new(NULL);
        g_string_printf(rp.report,
                        "fault firing %u differs:\n"
                        "  expected: %" PRIu64 " ns '%s'\n"
                        "  actual:   %" PRIu64 " ns '%s'",
                        rp.next, x->time, x->text, vclock_now(), what);
    }
}

int fault_replay_verdict(int rc, FILE *f)
{
    ReplayResult r;

    if (!rp.loaded) {
        return rc;
    }
    replay_get_result(&r);
    if (!rp.report && r.complete && rp.next < rp.exp->len) {
        Expected *x = &g_array_index(rp.exp, Expected, rp.next);
        rp.report = g_string_new(NULL);
        g_string_printf(rp.report,
                        "%u recorded fault firing(s) did not happen, the "
                        "first: '%s' at %" PRIu64 " ns",
                        rp.exp->len - rp.next, x->text, x->time);
    }
    if (rp.report && rc != EXIT_DIVERGED) {
        fprintf(f, "storemu: replay: faults diverged: %s\n", rp.report->str);
        return EXIT_DIVERGED;
    }
    if (!rp.report && rp.exp->len && r.complete) {
        fprintf(f, "storemu: replay: %u fault firing(s) as recorded\n",
                rp.exp->len);
    }
    return rc;
}

static void emit(Fault *f, bool effect, const char *what)
{
    uint32_t code =
        (uint32_t)f->index << 8 | f->kind | (effect ? FAULT_CODE_EFFECT : 0);
    g_autofree char *text =
        g_strdup_printf("#%u %s: %s", f->index + 1, kinds[f->kind].name, what);

    if (effect) {
        TRACE(fault_effect, "%s", text);
    } else {
        TRACE(fault_fire, "%s", text);
    }
    record_fault(code, text);
    replay_check(code, text);
}

void fault_fire(Fault *f, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    f->fired++;
    if (f->notes->len < FAULT_TRACK_MAX) {
        g_ptr_array_add(f->notes, g_strdup(what));
    }
    emit(f, false, what);
}

void fault_effect(Fault *f, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    emit(f, true, what);
}

/* ---- the at= point of point-in-time kinds ---- */

static void point_event(void *opaque)
{
    Fault *f = opaque;

    if (f->point_done) {
        return;
    }
    f->point_done = true;
    if (fault_try(f)) {
        fault_point_act(f);
    }
}

void fault_check_points(void)
{
    for (guint i = 0; i < fault_state.faults->len; i++) {
        Fault *f = g_ptr_array_index(fault_state.faults, i);
        if (f->has_at && !f->at_time && !f->point_done &&
            kinds[f->kind].point && !event_pending(&f->point_ev) &&
            bnd_seq() - fault_state.seq_base >= f->at) {
            /* Not inside the crossing: from the main loop, now. */
            event_schedule(&f->point_ev, vclock_now());
        }
    }
}

/* ---- the machine the faults act on ---- */

FaultHba *fault_hba_of_bus(const SCSIBus *bus)
{
    for (guint i = 0; fault_state.hbas && i < fault_state.hbas->len; i++) {
        FaultHba *h = g_ptr_array_index(fault_state.hbas, i);
        if (h->bus == bus) {
            return h;
        }
    }
    return NULL;
}

FaultDisk *fault_disk_of(const SCSIDevice *dev)
{
    for (guint i = 0; fault_state.disks && i < fault_state.disks->len; i++) {
        FaultDisk *d = g_ptr_array_index(fault_state.disks, i);
        if (d->dev == dev) {
            return d;
        }
    }
    return NULL;
}

void fault_hba_fail(FaultHba *h, int how)
{
    virtio_scsi_fail(h->vs, (VirtioScsiFailure)how);
}

static void find_machine(const MachineConfig *cfg)
{
    FaultState *s = &fault_state;

    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const char *id =
            opts_get_str(g_ptr_array_index(cfg->drives, i), "id", NULL);
        BlockBackend *b = id ? blk_find(id) : NULL;
        if (b) {
            g_ptr_array_add(s->blks, b);
        }
    }
    for (guint i = 0; cfg->devices && i < cfg->devices->len; i++) {
        const Opts *o = g_ptr_array_index(cfg->devices, i);
        const char *drv = opts_get_str(o, "driver", "");

        if (!strcmp(drv, "virtio-scsi-pci")) {
            FaultHba *h;
            VirtioScsiState *vs = NULL;
            const char *id = opts_get_str(o, "id", NULL);
            if (id) {
                vs = virtio_scsi_find(id);
            } else {
                /* Unnamed: the n-th unnamed one is virtio-scsiN... take
                 * them in creation order through their buses. */
                g_autofree char *auto_id = NULL;
                for (unsigned n = 0; n < 64 && !vs; n++) {
                    g_free(auto_id);
                    auto_id = g_strdup_printf("virtio-scsi%u", n);
                    vs = virtio_scsi_find(auto_id);
                    for (guint j = 0; vs && j < s->hbas->len; j++) {
                        if (((FaultHba *)g_ptr_array_index(s->hbas, j))->vs ==
                            vs) {
                            vs = NULL;
                        }
                    }
                }
            }
            if (!vs) {
                continue;
            }
            h = g_new0(FaultHba, 1);
            h->vs = vs;
            h->pci = virtio_scsi_pci(vs);
            h->bus = virtio_scsi_bus(vs);
            g_ptr_array_add(s->hbas, h);
        } else if (!strcmp(drv, "scsi-hd")) {
            const char *bus_name =
                opts_has(o, "bus") ? opts_get_str(o, "bus", NULL) : NULL;
            SCSIBus *bus = scsi_bus_find(bus_name);
            const char *drive = opts_get_str(o, "drive", "");
            SCSIDevice *dev =
                bus ? scsi_device_find(bus,
                                       (uint32_t)opts_get_uint(o, "target", 0),
                                       (uint32_t)opts_get_uint(o, "lun", 0))
                    : NULL;
            FaultDisk *d;

            if (!dev) {
                continue;
            }
            d = g_new0(FaultDisk, 1);
            d->bus = bus;
            d->dev = dev;
            d->blk = blk_find(drive);
            d->block_size =
                (uint32_t)opts_get_uint(o, "logical_block_size", 512);
            g_ptr_array_add(s->disks, d);
        }
    }
}

/* ---- arming ---- */

void fault_free(gpointer p)
{
    Fault *f = p;

    event_cancel(&f->point_ev);
    g_clear_pointer(&f->reqs, g_ptr_array_unref);
    g_clear_pointer(&f->notes, g_ptr_array_unref);
    g_free(f->text);
    g_free(f);
}

Fault *fault_new(const Opts *o, unsigned index, uint64_t seed)
{
    Fault *f = g_new0(Fault, 1);
    const char *v;

    f->index = index;
    f->kind = (FaultKind)opts_get_uint(o, "kind", 0);
    f->stage = kinds[f->kind].stage;
    f->text = g_strdup(opts_text(o));
    if ((v = opts_get_str(o, "at", NULL))) {
        f->has_at = options_parse_fault_at(v, &f->at_time, &f->at);
    }
    f->after = opts_get_uint(o, "after", 0);
    f->every = opts_get_uint(o, "every", 1);
    f->has_p = opts_has(o, "p");
    f->p = opts_get_prob(o, "p", 1.0);
    f->count = opts_get_uint(o, "count", f->has_at ? 1 : 0);
    if ((v = opts_get_str(o, "lba", NULL))) {
        f->has_lba = options_parse_lba_range(v, &f->lba_first, &f->lba_last);
    }
    f->has_lun = opts_has(o, "lun");
    f->lun = (uint32_t)opts_get_uint(o, "lun", 0);
    if ((v = opts_get_str(o, "op", NULL))) {
        f->has_op = options_parse_fault_op(v, &f->op, &f->opcode);
    }
    f->has_queue = opts_has(o, "queue");
    f->queue = (unsigned)opts_get_uint(o, "queue", 0);
    f->has_vcpu = opts_has(o, "vcpu");
    f->vcpu = (unsigned)opts_get_uint(o, "vcpu", 0);
    f->ns = opts_get_uint(o, "ns", 0);
    f->sense_key = SCSI_SK_MEDIUM_ERROR;
    f->asc = 0x11;
    f->ascq = 0x00;
    if ((v = opts_get_str(o, "sense", NULL))) {
        options_parse_sense(v, &f->sense_key, &f->asc, &f->ascq);
    }
    if (f->kind == FK_UNIT_ATTENTION) {
        f->sense_key = SCSI_SK_UNIT_ATTENTION;
        f->asc = 0x29;
        f->ascq = 0x00;
        if ((v = opts_get_str(o, "asc", NULL))) {
            options_parse_asc(v, &f->asc, &f->ascq);
        }
    }
    f->has_info = opts_has(o, "info");
    f->info = opts_get_uint(o, "info", 0);
    f->has_bytes = opts_has(o, "bytes");
    f->bytes = opts_get_uint(o, "bytes", 0);
    f->power = (FaultPower)opts_get_uint(o, "power", 0);
    rng_seed(&f->rng, seed, FAULT_RNG_STREAM + index);
    f->reqs = g_ptr_array_new_with_free_func(g_free);
    f->notes = g_ptr_array_new_with_free_func(g_free);
    event_init(&f->point_ev, "fault-point", point_event, f);
    return f;
}

/* Kinds that need a virtio-scsi device, or a SCSI disk behind one. */
static bool needs_hba(FaultKind k)
{
    switch (kinds[k].stage) {
    case FS_SUBMIT:
    case FS_COMPLETE:
    case FS_DOORBELL:
        return true;
    default:
        return false;
    }
}

bool fault_active(void)
{
    return fault_state.faults && fault_state.faults->len;
}

bool fault_init(const MachineConfig *cfg, GError **errp)
{
    FaultState *s = &fault_state;
    const char *const *names = options_fault_kind_names();
    g_autofree char *replay_path = g_steal_pointer(&rp.path);

    fault_fini();
    if (!cfg->faults || !cfg->faults->len) {
        return true;
    }
    rp.path = g_steal_pointer(&replay_path);
    for (unsigned k = 0; k < FK_COUNT; k++) {
        /* The option table and this one must list the kinds alike. */
        g_assert(names[k] && !strcmp(names[k], kinds[k].name));
    }
    s->faults = g_ptr_array_new_with_free_func(fault_free);
    s->disks = g_ptr_array_new_with_free_func(g_free);
    s->hbas = g_ptr_array_new_with_free_func(g_free);
    s->blks = g_ptr_array_new();
    s->srbs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    watching = g_ptr_array_new();
    s->seq_base = bnd_seq();
    s->devices_off = replay_devices_off();
    if (!s->devices_off) {
        find_machine(cfg);
    }
    for (guint i = 0; i < cfg->faults->len; i++) {
        Fault *f =
            fault_new(g_ptr_array_index(cfg->faults, i), i, cfg->sched.seed);
        g_ptr_array_add(s->faults, f);
        if (needs_hba(f->kind) && !s->devices_off && !s->hbas->len) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-fault %s: kind '%s' acts on a SCSI HBA's device "
                        "and this machine has none (add -device "
                        "virtio-scsi-pci and a -device scsi-hd)",
                        f->text, kinds[f->kind].name);
            return false;
        }
        switch (f->stage) {
        case FS_SUBMIT:
        case FS_COMPLETE:
            fault_scsi_armed |= !s->devices_off;
            break;
        case FS_ALLOC:
            fault_pool_armed = true;
            break;
        case FS_TIMER:
            fault_timer_armed = true;
            break;
        default:
            break;
        }
        if (f->has_at && f->at_time && kinds[f->kind].point &&
            !(s->devices_off && f->kind != FK_POWER)) {
            event_schedule(&f->point_ev, f->at);
        }
    }
    if (rp.path) {
        replay_load();
    }
    if (!fault_device_attach(errp) || !fault_guest_init(errp)) {
        return false;
    }
    return true;
}

void fault_fini(void)
{
    FaultState *s = &fault_state;

    s->stopping = true;
    fault_guest_fini();
    fault_scsi_fini();
    fault_device_detach();
    fault_scsi_armed = false;
    fault_pool_armed = false;
    fault_timer_armed = false;
    g_clear_pointer(&s->faults, g_ptr_array_unref);
    g_clear_pointer(&s->disks, g_ptr_array_unref);
    g_clear_pointer(&s->hbas, g_ptr_array_unref);
    g_clear_pointer(&s->blks, g_ptr_array_unref);
    g_clear_pointer(&s->srbs, g_hash_table_unref);
    g_clear_pointer(&watching, g_ptr_array_unref);
    s->stopping = false;
    s->power_cuts = 0;
    if (rp.loaded) {
        g_clear_pointer(&rp.exp, g_array_unref);
        g_clear_pointer(&rp.effects, g_hash_table_unref);
        if (rp.report) {
            g_string_free(rp.report, TRUE);
            rp.report = NULL;
        }
        rp.loaded = false;
    }
    g_clear_pointer(&rp.path, g_free);
}

/* ---- the summary ---- */

static const char *srb_name(uint8_t st, char *buf, size_t n)
{
    static const struct {
        uint8_t st;
        const char *name;
    } names[] = {
        {SRB_STATUS_PENDING, "PENDING"},
        {SRB_STATUS_SUCCESS, "SUCCESS"},
        {SRB_STATUS_ABORTED, "ABORTED"},
        {SRB_STATUS_ERROR, "ERROR"},
        {SRB_STATUS_BUSY, "BUSY"},
        {SRB_STATUS_INVALID_REQUEST, "INVALID_REQUEST"},
        {SRB_STATUS_NO_DEVICE, "NO_DEVICE"},
        {SRB_STATUS_NO_HBA, "NO_HBA"},
        {SRB_STATUS_TIMEOUT, "TIMEOUT"},
        {SRB_STATUS_SELECTION_TIMEOUT, "SELECTION_TIMEOUT"},
        {SRB_STATUS_COMMAND_TIMEOUT, "COMMAND_TIMEOUT"},
        {SRB_STATUS_BUS_RESET, "BUS_RESET"},
        {SRB_STATUS_DATA_OVERRUN, "DATA_OVERRUN"},
        {SRB_STATUS_UNEXPECTED_BUS_FREE, "UNEXPECTED_BUS_FREE"},
        {SRB_STATUS_REQUEST_FLUSHED, "REQUEST_FLUSHED"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].st == SRB_STATUS(st)) {
            snprintf(buf, n, "SRB_STATUS_%s", names[i].name);
            return buf;
        }
    }
    snprintf(buf, n, "SRB status 0x%02x", SRB_STATUS(st));
    return buf;
}

static const char *scsi_name(uint8_t st)
{
    switch (st) {
    case SCSI_STATUS_GOOD:
        return "GOOD";
    case SCSI_STATUS_CHECK_CONDITION:
        return "CHECK CONDITION";
    case SCSI_STATUS_BUSY:
        return "BUSY";
    case SCSI_STATUS_TASK_SET_FULL:
        return "TASK SET FULL";
    case SCSI_STATUS_TASK_ABORTED:
        return "TASK ABORTED";
    case SCSI_STATUS_RESERVATION_CONFLICT:
        return "RESERVATION CONFLICT";
    default:
        return "other";
    }
}

static void print_req(FILE *out, const FaultReq *r)
{
    char cdb[64], st[40], fin[40];

    cdb_str(r->cdb, r->cdb_len, cdb, sizeof(cdb));
    if (!r->first) {
        fprintf(out, "storemu:   %s on %u:%u: %s\n", cdb, r->target, r->lun,
                r->effect);
        return;
    }
    fprintf(out, "storemu:   req %" PRIu64 " %s on %u:%u: %s", r->first, cdb,
            r->target, r->lun, r->effect);
    if (r->hits > 1) {
        fprintf(out, " (%u attempts hit)", r->hits);
    }
    if (!r->done && !r->retries) {
        fprintf(out, "; never completed\n");
        return;
    }
    fprintf(out, "; the guest saw %s, SCSI %s",
            srb_name(r->srb_status, st, sizeof(st)), scsi_name(r->scsi_status));
    if (r->sense_valid) {
        fprintf(out, ", sense %x/%02x/%02x", r->sense_key, r->asc, r->ascq);
        if (r->info_valid) {
            fprintf(out, " info %" PRIu64, r->info);
        }
    }
    if (r->timed_out) {
        fprintf(out, ", timed out");
    }
    if (r->retries) {
        fprintf(out, "; retried %u time%s, ", r->retries,
                r->retries == 1 ? "" : "s");
        if (!r->done) {
            fprintf(out, "the last attempt never completed");
        } else {
            fprintf(out, "then %s",
                    srb_ok(r->final_srb_status, r->final_scsi_status)
                        ? "succeeded"
                        : srb_name(r->final_srb_status, fin, sizeof(fin)));
        }
    } else if (!srb_ok(r->srb_status, r->scsi_status)) {
        fprintf(out, "; not retried");
    }
    fprintf(out, "\n");
}

void fault_print_summary(FILE *out)
{
    FaultState *s = &fault_state;
    PortStats ps = {0};
    unsigned timed_out = 0;

    if (!fault_active()) {
        return;
    }
    for (guint i = 0; i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);

        fprintf(out, "storemu: fault #%u %s: fired %" PRIu64 " time%s", i + 1,
                f->text, f->fired, f->fired == 1 ? "" : "s");
        if (f->kind == FK_POWER && f->power_failures) {
            fprintf(out, " (%u transition%s failed)", f->power_failures,
                    f->power_failures == 1 ? "" : "s");
        }
        if (s->devices_off && needs_hba(f->kind)) {
            fprintf(out, " (device=off: acted out from the trace)");
        }
        fprintf(out, "\n");
        for (guint j = 0; j < f->reqs->len; j++) {
            print_req(out, g_ptr_array_index(f->reqs, j));
        }
        /* Faults that touched no request: what each firing did. */
        for (guint j = 0; !f->reqs->len && j < f->notes->len; j++) {
            fprintf(out, "storemu:   %s\n",
                    (const char *)g_ptr_array_index(f->notes, j));
        }
        if (!f->reqs->len && f->fired > f->notes->len) {
            fprintf(out, "storemu:   and %" PRIu64 " more\n",
                    f->fired - f->notes->len);
        }
        if (f->untracked) {
            fprintf(out, "storemu:   and %" PRIu64 " more request%s\n",
                    f->untracked, f->untracked == 1 ? "" : "s");
        }
    }
    for (guint i = 0; i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);
        for (guint j = 0; j < f->reqs->len; j++) {
            timed_out += ((FaultReq *)g_ptr_array_index(f->reqs, j))->timed_out;
        }
    }
    if (port.loaded) {
        port_stats(&ps);
        fprintf(out,
                "storemu: faults: the port reset the bus %" PRIu64
                " time%s (HwStorResetBus); %u request time-out%s above, "
                "%" PRIu64 " request%s abandoned; %" PRIu64
                " BUSY return%s; %" PRIu64 " spurious interrupt%s\n",
                ps.resets, ps.resets == 1 ? "" : "s", timed_out,
                timed_out == 1 ? "" : "s", ps.timeouts,
                ps.timeouts == 1 ? "" : "s", ps.busy_returns,
                ps.busy_returns == 1 ? "" : "s", ps.spurious_interrupts,
                ps.spurious_interrupts == 1 ? "" : "s");
    }
}
