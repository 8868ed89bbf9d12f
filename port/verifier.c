/* SPDX-License-Identifier: MIT */
/*
 * The port verifier: checks the miniport against the DDI contract and
 * reports each violation with the request, the miniport routine running
 * and the IRQL. Strict mode stops the machine at the first violation
 * (exit code 3); otherwise violations are counted and the run goes on.
 *
 * Checks that need to see device DMA (a transfer outside every range the
 * port mapped for DMA) hook the boundary layer here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "hw/core/ram.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/trace.h"

static const char *const check_names[VC_COUNT] = {
    [VC_DOUBLE_COMPLETION] = "double-completion",
    [VC_UNKNOWN_SRB] = "unknown-srb",
    [VC_SRB_AFTER_COMPLETION] = "srb-after-completion",
    [VC_BUSY_MID_TRANSACTION] = "busy-mid-transaction",
    [VC_IRQL] = "irql",
    [VC_LOCK_ORDER] = "lock-order",
    [VC_LOCK_RECURSION] = "lock-recursion",
    [VC_LOCK_RELEASE] = "lock-release",
    [VC_REGISTER_RANGE] = "register-range",
    [VC_DMA_RANGE] = "dma-range",
    [VC_STALL_TOO_LONG] = "stall-too-long",
    [VC_REQUEST_HANG] = "request-hang",
    [VC_POOL_LEAK] = "pool-leak",
    [VC_BAD_CALL] = "bad-call",
};

static uint64_t counts[VC_COUNT];
static GHashTable *not_implemented;

/*
 * What the device may DMA to, checked on every device DMA:
 *  - permanent ranges the port handed out physical addresses for
 *    (uncached extension, StorPortGetPhysicalAddress, DMA memory): sorted,
 *    disjoint, merged on insert, searched by bisection behind a two-entry
 *    cache of the last ranges hit (ring and header DMAs hit the same few);
 *  - the SG elements of the requests inside the miniport: each request keeps
 *    its own copy, on a list in start order. Devices mostly move data in
 *    the order they take or finish requests, so a walk that starts after
 *    the last request hit usually stops at the first one, and mapping or
 *    unmapping is O(1) plus the copy.
 * In front of both, a map over guest RAM in 64-byte granules, set for
 * each granule wholly inside a permanent range: ring, descriptor table
 * and SRB extension DMAs are a few granules that are all set, one byte
 * test instead of a search (BndQuietMap). What it does not settle is
 * mostly SG data, so the SG walk comes next and the exact range search
 * last (a DMA touching a granule a permanent range only partly covers).
 */
typedef struct VerifierRange Range;
static GArray *dma_ranges; /* Range, sorted, disjoint */
#define GRANULE_SHIFT BND_QUIET_SHIFT
/* The granules wholly inside dma_ranges; also the boundary's quiet
 * map (the inline DMA path makes dma_check()'s first test itself). */
static BndQuietMap quiet;
static guint mru[2]; /* indexes into dma_ranges of the last hits */
/* The mapped requests (port.h): the list, and where the walk starts (the
 * request after the last one hit, or NULL). */
PortRequest *verifier_sg_head, *verifier_sg_tail, *verifier_sg_hint;
static bool hooked;
/* From 1: a request's zeroed ext_fast_epoch (port.h) is none. */
uint64_t verifier_map_epoch = 1;

const char *verifier_check_name(VerifierCheck c)
{
    return c < VC_COUNT ? check_names[c] : "?";
}

void verifier_report(VerifierCheck c, PortRequest *req, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;
    MpRoutine r = mp_current();

    g_assert(c < VC_COUNT);
    counts[c]++;
    if (port.verifier == VERIFIER_OFF) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "storemu: verifier: %s: %s", check_names[c], msg);
    if (req) {
        fprintf(stderr, " [SRB %p, request #%" G_GUINT64_FORMAT "]", req->srb,
                req->id);
    }
    if (cpu_in_guest()) {
        fprintf(stderr, " (in %s on vCPU%d at IRQL %u)", mp_routine_name(r),
                cpu_index(), cpu_level());
    }
    fputc('\n', stderr);
    TRACE(verifier_violation, "%s: %s", check_names[c], msg);
    if (port.verifier == VERIFIER_STRICT) {
        machine_request_stop(EXIT_VERIFIER);
    }
}

uint64_t verifier_count(VerifierCheck c)
{
    return c < VC_COUNT ? counts[c] : 0;
}

uint64_t verifier_total(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < VC_COUNT; i++) {
        n += counts[i];
    }
    return n;
}

/* The map, empty, for all of RAM: whole (BndQuietMap), so the inline DMA
 * path tests it without a bound. A byte per granule of the largest RAM,
 * zeroed pages the kernel provides on first touch: only those holding
 * mapped granules become resident. */
static void quiet_alloc(void)
{
    quiet.n = ram_size >> GRANULE_SHIFT;
    quiet.runs = g_new0(uint8_t, BND_QUIET_ROOM);
    quiet.whole = true;
}

static void quiet_free(void)
{
    g_clear_pointer(&quiet.runs, g_free);
    quiet.n = 0;
    quiet.whole = false;
}

void verifier_reset(void)
{
    memset(counts, 0, sizeof(counts));
    if (not_implemented) {
        g_hash_table_remove_all(not_implemented);
    }
    if (dma_ranges) {
        g_array_set_size(dma_ranges, 0);
    }
    quiet_free();
    if (hooked) {
        quiet_alloc();
        bnd_quiet_changed();
    }
    verifier_map_epoch++;
    while (verifier_sg_head) {
        verifier_sg_unmap(verifier_sg_head);
    }
}

void port_not_implemented(const char *routine)
{
    if (!not_implemented) {
        not_implemented = g_hash_table_new(g_str_hash, g_str_equal);
    }
    if (!g_hash_table_contains(not_implemented, routine)) {
        g_hash_table_add(not_implemented, (gpointer)routine);
        g_message("storport: %s is not implemented; returning its "
                  "documented failure value",
                  routine);
    }
}

/* ---- DMA ranges ---- */

/* Index of the last range with start <= @addr, or -1. */
static long floor_index(const GArray *arr, uint64_t addr)
{
    long lo = 0, hi = (long)arr->len - 1, found = -1;

    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (g_array_index(arr, Range, mid).start <= addr) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

/* Whether every granule in [@first, @last] is set: a run at a time. An
 * empty or wrapped range (@first past @last) counts as set. */
static bool granules_set(uint64_t first, uint64_t last)
{
    if (last >= quiet.n) {
        return false;
    }
    if (first > last) {
        return true;
    }
    for (;;) {
        unsigned r = quiet.runs[first];

        if (last - first < r) {
            return true;
        }
        if (r < BND_QUIET_RUN_MAX) {
            return false;
        }
        first += BND_QUIET_RUN_MAX; /* still <= last */
    }
}

/* Set the granules wholly inside @r. */
static void granules_add(const Range *r)
{
    uint64_t first = (r->start + (1u << GRANULE_SHIFT) - 1) >> GRANULE_SHIFT;

    bnd_quiet_add(&quiet, first, r->end >> GRANULE_SHIFT);
}

static void G_GNUC_NO_INLINE map_range_slow(uint64_t gpa, uint64_t len)
{
    Range r = {gpa, gpa + len};
    long i;

    if (!dma_ranges) {
        dma_ranges = g_array_new(FALSE, FALSE, sizeof(Range));
    }
    i = floor_index(dma_ranges, gpa);
    if (i >= 0 && g_array_index(dma_ranges, Range, i).end >= r.end) {
        return; /* already covered: the common case */
    }
    /* Merge with every overlapping or adjacent range. */
    if (i < 0 || g_array_index(dma_ranges, Range, i).end < r.start) {
        i++;
    }
    while ((guint)i < dma_ranges->len) {
        Range *o = &g_array_index(dma_ranges, Range, i);
        if (o->start > r.end) {
            break;
        }
        r.start = MIN(r.start, o->start);
        r.end = MAX(r.end, o->end);
        g_array_remove_index(dma_ranges, (guint)i);
    }
    g_array_insert_val(dma_ranges, (guint)i, r);
    granules_add(&r);
}

/* Called for every physical address handed out, nearly always for memory
 * mapped before: that test alone, without the slow path's register saves. */
void verifier_map_range(uint64_t gpa, uint64_t len)
{
    if (!hooked) {
        return; /* nothing will check a DMA against it */
    }
    if (len && quiet.runs &&
        granules_set(gpa >> GRANULE_SHIFT, (gpa + len - 1) >> GRANULE_SHIFT)) {
        return; /* already covered: the common case */
    }
    map_range_slow(gpa, len);
}

/* verifier_sg_map() for a list that is not one element (port.h). */
void verifier_sg_map_slow(PortRequest *req)
{
    PSTOR_SCATTER_GATHER_LIST sgl = req->sgl;
    ULONG n = sgl ? MIN(sgl->NumberOfElements, req->sgl_max) : 0;

    if (req->sg_mapped || n == 0) {
        return;
    }
    if (!req->vr) {
        req->vr = g_new(Range, req->sgl_max);
    }
    for (ULONG k = 0; k < n; k++) {
        uint64_t s = (uint64_t)sgl->List[k].PhysicalAddress.QuadPart;
        req->vr[k].start = s;
        req->vr[k].end = s + sgl->List[k].Length;
    }
    verifier_sg_link(req, n);
}

static inline bool range_has(const GArray *arr, guint i, uint64_t gpa,
                             uint64_t end)
{
    const Range *r;

    if (i >= arr->len) {
        return false;
    }
    r = &g_array_index(arr, Range, i);
    return r->start <= gpa && r->end >= end;
}

static inline bool sg_has(const PortRequest *req, uint64_t gpa, uint64_t end)
{
    for (unsigned k = 0; k < req->vr_count; k++) {
        if (req->vr[k].start <= gpa && req->vr[k].end >= end) {
            return true;
        }
    }
    return false;
}

static bool covered(uint64_t gpa, uint64_t len)
{
    uint64_t end = gpa + len;
    long i;

    if (end < gpa) {
        return false;
    }
    if (len && granules_set(gpa >> GRANULE_SHIFT, (end - 1) >> GRANULE_SHIFT)) {
        return true;
    }
    /* Devices move data in the order they take or finish requests, so
     * the walk starts after the request hit last and wraps around. */
    for (PortRequest *req = verifier_sg_hint ? verifier_sg_hint
                                             : verifier_sg_head,
                     *stop = req;
         req;) {
        if (sg_has(req, gpa, end)) {
            verifier_sg_hint = req->vr_next;
            return true;
        }
        req = req->vr_next ? req->vr_next : verifier_sg_head;
        if (req == stop) {
            break;
        }
    }
    if (dma_ranges) {
        if (range_has(dma_ranges, mru[0], gpa, end)) {
            return true;
        }
        if (range_has(dma_ranges, mru[1], gpa, end)) {
            guint t = mru[0];
            mru[0] = mru[1];
            mru[1] = t;
            return true;
        }
        i = floor_index(dma_ranges, gpa);
        if (i >= 0 && g_array_index(dma_ranges, Range, i).end >= end) {
            mru[1] = mru[0];
            mru[0] = (guint)i;
            return true;
        }
    }
    return false;
}

static void G_GNUC_NO_INLINE dma_check_slow(BndKind kind, uint64_t gpa,
                                            uint64_t len, bool ok)
{
    if (!ok || !port.loaded || covered(gpa, len)) {
        return;
    }
    verifier_report(VC_DMA_RANGE, NULL,
                    "device %s %" G_GUINT64_FORMAT " bytes at guest-physical "
                    "0x%" G_GINT64_MODIFIER "x, which the port never mapped "
                    "for DMA",
                    kind == BND_DMA_READ ? "read" : "wrote", len, gpa);
}

/*
 * Ring entries, descriptors, headers, responses: a few granules, all set,
 * is nearly every DMA, and the answer whatever else holds; the rest
 * (longer than the map's runs count, or not all set) out of line, so
 * this path saves no registers.
 */
static inline bool dma_quiet(uint64_t gpa, uint64_t len)
{
    return bnd_quiet_covers(&quiet, gpa, len);
}

static void dma_check(const BndAccess *a, void *opaque)
{
    if (!dma_quiet(a->addr, a->len)) {
        dma_check_slow(a->kind, a->addr, a->len, a->ok);
    }
}

/* The boundary's DMA entry (BndHook.after_dma). The boundary tests the
 * quiet map before it calls, except for a request's data (dma-sg.c), so
 * this comes nearly only for data, and data is nearly always the next
 * request covered() would try first (it moves in the order requests were
 * taken or finished): that one request is tested first, the same test and
 * the same hint update as the walk's, then the map, so only a DMA neither
 * covers pays for the full check. Either answer settles it, so the order
 * changes nothing but the cost. */
static void dma_check_ram(BndKind kind, uint64_t gpa, const void *data,
                          uint64_t len, void *opaque)
{
    PortRequest *req;
    uint64_t end = gpa + len; /* in RAM: no wrap */

    req = verifier_sg_hint ? verifier_sg_hint : verifier_sg_head;
    /* A listed request has an element (verifier_sg_link): the first,
     * nearly always the only one, is tested without the loop's count. */
    if (req && ((req->vr[0].start <= gpa && req->vr[0].end >= end) ||
                sg_has(req, gpa, end))) {
        verifier_sg_hint = req->vr_next;
        return;
    }
    if (dma_quiet(gpa, len)) {
        return;
    }
    dma_check_slow(kind, gpa, len, true);
}

static const BndHook dma_hook = {
    .name = "verifier",
    .kinds = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE),
    .after = dma_check,
    .dma_quiet = &quiet,
    .after_dma = dma_check_ram,
};

void verifier_attach(void)
{
    if (!hooked && port.verifier != VERIFIER_OFF) {
        /* Before the hook: the boundary takes the runs as it adds it. */
        quiet_alloc();
        hooked = bnd_hook_add(&dma_hook);
        if (!hooked) {
            quiet_free();
        }
        /* Unhooked, verifier_map_range mapped nothing. */
        verifier_map_epoch++;
    }
}

void verifier_detach(void)
{
    if (hooked) {
        bnd_hook_remove(&dma_hook);
        hooked = false;
    }
    if (dma_ranges) {
        g_array_free(dma_ranges, TRUE);
        dma_ranges = NULL;
    }
    quiet_free(); /* the hook is gone: nothing reads it */
    verifier_map_epoch++;
    while (verifier_sg_head) {
        verifier_sg_unmap(verifier_sg_head);
    }
}
