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
 * What the device may DMA to, checked on every device DMA, so both sets
 * answer with binary searches:
 *  - permanent ranges the port handed out physical addresses for
 *    (uncached extension, StorPortGetPhysicalAddress, DMA memory): sorted,
 *    disjoint, merged on insert;
 *  - the SG elements of requests inside the miniport: a sorted multiset
 *    with the running maximum of their ends, so "is [a, a+len) inside some
 *    element" is "max end of the elements starting at or before a >= a+len".
 */
typedef struct Range {
    uint64_t start, end;
} Range;
static GArray *dma_ranges; /* Range, sorted, disjoint */
static GArray *sg_elems;   /* Range, sorted by start */
static GArray *sg_maxend;  /* uint64_t, prefix maximum of sg_elems end */
static bool hooked;

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

void verifier_reset(void)
{
    memset(counts, 0, sizeof(counts));
    if (not_implemented) {
        g_hash_table_remove_all(not_implemented);
    }
    if (dma_ranges) {
        g_array_set_size(dma_ranges, 0);
    }
    if (sg_elems) {
        g_array_set_size(sg_elems, 0);
        g_array_set_size(sg_maxend, 0);
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

void verifier_map_range(uint64_t gpa, uint64_t len)
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
}

static void sg_recompute(guint from)
{
    g_array_set_size(sg_maxend, sg_elems->len);
    for (guint i = from; i < sg_elems->len; i++) {
        uint64_t e = g_array_index(sg_elems, Range, i).end;
        uint64_t prev = i ? g_array_index(sg_maxend, uint64_t, i - 1) : 0;
        g_array_index(sg_maxend, uint64_t, i) = MAX(prev, e);
    }
}

void verifier_sg_map(const PSTOR_SCATTER_GATHER_LIST sgl)
{
    if (!sg_elems) {
        sg_elems = g_array_new(FALSE, FALSE, sizeof(Range));
        sg_maxend = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    }
    for (ULONG k = 0; sgl && k < sgl->NumberOfElements; k++) {
        uint64_t s = (uint64_t)sgl->List[k].PhysicalAddress.QuadPart;
        Range r = {s, s + sgl->List[k].Length};
        long i = floor_index(sg_elems, s) + 1;
        g_array_insert_val(sg_elems, (guint)i, r);
        sg_recompute((guint)i);
    }
}

void verifier_sg_unmap(const PSTOR_SCATTER_GATHER_LIST sgl)
{
    for (ULONG k = 0; sg_elems && sgl && k < sgl->NumberOfElements; k++) {
        uint64_t s = (uint64_t)sgl->List[k].PhysicalAddress.QuadPart;
        uint64_t e = s + sgl->List[k].Length;
        for (long i = floor_index(sg_elems, s); i >= 0; i--) {
            Range *r = &g_array_index(sg_elems, Range, i);
            if (r->start != s) {
                break;
            }
            if (r->end == e) {
                g_array_remove_index(sg_elems, (guint)i);
                sg_recompute((guint)i);
                break;
            }
        }
    }
}

static bool covered(uint64_t gpa, uint64_t len)
{
    long i;

    if (dma_ranges) {
        i = floor_index(dma_ranges, gpa);
        if (i >= 0 && g_array_index(dma_ranges, Range, i).end >= gpa + len) {
            return true;
        }
    }
    if (sg_elems) {
        i = floor_index(sg_elems, gpa);
        if (i >= 0 && g_array_index(sg_maxend, uint64_t, i) >= gpa + len) {
            return true;
        }
    }
    return false;
}

static void dma_check(const BndAccess *a, void *opaque)
{
    if ((a->kind != BND_DMA_READ && a->kind != BND_DMA_WRITE) || !a->ok ||
        !port.loaded || covered(a->addr, a->len)) {
        return;
    }
    verifier_report(VC_DMA_RANGE, NULL,
                    "device %s %" G_GUINT64_FORMAT " bytes at guest-physical "
                    "0x%" G_GINT64_MODIFIER "x, which the port never mapped "
                    "for DMA",
                    a->kind == BND_DMA_READ ? "read" : "wrote", a->len,
                    a->addr);
}

static const BndHook dma_hook = {.name = "verifier", .after = dma_check};

void verifier_attach(void)
{
    if (!hooked && port.verifier != VERIFIER_OFF) {
        hooked = bnd_hook_add(&dma_hook);
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
    if (sg_elems) {
        g_array_free(sg_elems, TRUE);
        g_array_free(sg_maxend, TRUE);
        sg_elems = sg_maxend = NULL;
    }
}
