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

/* DMA ranges the port handed out physical addresses for: [start, end). */
typedef struct Range {
    uint64_t start, end;
} Range;
static GArray *dma_ranges;
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

void verifier_map_range(uint64_t gpa, uint64_t len)
{
    Range r = {gpa, gpa + len};

    if (!dma_ranges) {
        dma_ranges = g_array_new(FALSE, FALSE, sizeof(Range));
    }
    /* Merge with every overlapping or adjacent range (transitively). */
    for (guint i = 0; i < dma_ranges->len;) {
        Range *o = &g_array_index(dma_ranges, Range, i);
        if (r.start <= o->end && o->start <= r.end) {
            r.start = MIN(o->start, r.start);
            r.end = MAX(o->end, r.end);
            g_array_remove_index_fast(dma_ranges, i);
            continue;
        }
        i++;
    }
    g_array_append_val(dma_ranges, r);
}

static bool in_request_sg(uint64_t gpa, uint64_t len)
{
    GHashTableIter it;
    gpointer k, v;

    if (!port.srb_map) {
        return false;
    }
    g_hash_table_iter_init(&it, port.srb_map);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        PortRequest *req = v;
        if (req->state < REQ_STARTING || req->state > REQ_COMPLETING ||
            !req->sgl) {
            continue;
        }
        for (ULONG i = 0; i < req->sgl->NumberOfElements; i++) {
            STOR_SCATTER_GATHER_ELEMENT *e = &req->sgl->List[i];
            uint64_t s = (uint64_t)e->PhysicalAddress.QuadPart;
            if (gpa >= s && gpa + len <= s + e->Length) {
                return true;
            }
        }
    }
    return false;
}

static void dma_check(const BndAccess *a, void *opaque)
{
    if ((a->kind != BND_DMA_READ && a->kind != BND_DMA_WRITE) || !a->ok ||
        !port.loaded) {
        return;
    }
    for (guint i = 0; dma_ranges && i < dma_ranges->len; i++) {
        Range *r = &g_array_index(dma_ranges, Range, i);
        if (a->addr >= r->start && a->addr + a->len <= r->end) {
            return;
        }
    }
    if (in_request_sg(a->addr, a->len)) {
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
}
