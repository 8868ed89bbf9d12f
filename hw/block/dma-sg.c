/* SPDX-License-Identifier: MIT */
/*
 * Scatter-gather mapping and boundary reporting for zero-copy DMA between
 * disk images and guest RAM (see dma-sg.h).
 */
#include "hw/block/dma-sg.h"
#include "hw/core/ram.h"
#include "hw/core/memory.h"

uint64_t dma_sg_size(const DmaSgEntry *sg, unsigned nsg)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < nsg; i++) {
        if (sg[i].len > UINT64_MAX - total) {
            return UINT64_MAX;
        }
        total += sg[i].len;
    }
    return total;
}

/*
 * Walk the chunks of the list that cover [skip, skip + len); @fn gets each
 * chunk's guest address and length and stops the walk by returning false.
 * Returns false when @fn stopped it or the list ended before @len bytes.
 */
typedef bool SgChunkFunc(uint64_t gpa, uint64_t len, void *opaque);

static bool sg_walk(const DmaSgEntry *sg, unsigned nsg, uint64_t skip,
                    uint64_t len, SgChunkFunc *fn, void *opaque)
{
    for (unsigned i = 0; i < nsg && len > 0; i++) {
        uint64_t elen = sg[i].len;
        uint64_t n;

        if (skip >= elen) {
            skip -= elen;
            continue;
        }
        n = MIN(elen - skip, len);
        /* A wrapping address is passed on as one that no RAM holds. */
        if (!fn(sg[i].addr > UINT64_MAX - skip ? UINT64_MAX : sg[i].addr + skip,
                n, opaque)) {
            return false;
        }
        skip = 0;
        len -= n;
    }
    return len == 0;
}

int dma_sg_map_walk(const DmaSgEntry *sg, unsigned nsg, uint64_t skip,
                    uint64_t len, struct iovec *iov, unsigned max_iov,
                    uint64_t *bad_gpa, unsigned *chunks)
{
    uint64_t end_gpa = 0;
    unsigned n = 0, c = 0;

    for (unsigned i = 0; i < nsg && len > 0; i++) {
        uint64_t elen = sg[i].len;
        uint64_t chunk, gpa;
        uint8_t *host;

        if (skip >= elen) {
            skip -= elen;
            continue;
        }
        chunk = MIN(elen - skip, len);
        gpa = sg[i].addr > UINT64_MAX - skip ? UINT64_MAX : sg[i].addr + skip;
        host = ram_ptr(gpa, chunk);
        if (!host || chunk > SIZE_MAX) {
            *bad_gpa = gpa;
            return -1;
        }
        if (n && (uint8_t *)iov[n - 1].iov_base + iov[n - 1].iov_len == host) {
            /* Adjacent in guest RAM: one iovec for the host. */
            iov[n - 1].iov_len += chunk;
        } else {
            g_assert(n < max_iov);
            iov[n].iov_base = host;
            iov[n].iov_len = chunk;
            n++;
        }
        skip = 0;
        len -= chunk;
        end_gpa = sg[i].addr + sg[i].len;
        c++;
    }
    if (len) {
        /* The list is too short for @len. */
        *bad_gpa = end_gpa;
        return -1;
    }
    if (chunks) {
        *chunks = c;
    }
    return (int)n;
}

typedef struct BndWalk {
    BndKind kind;
    bool refused;
} BndWalk;

static bool bnd_begin_chunk(uint64_t gpa, uint64_t len, void *opaque)
{
    BndWalk *w = opaque;
    BndAccess a = {
        .kind = w->kind,
        .cpu = -1,
        .addr = gpa,
        .len = len,
        .data = ram_ptr(gpa, len),
    };

    if (bnd_before(&a) && !a.ok) {
        w->refused = true;
        return false;
    }
    return true;
}

bool dma_sg_begin_watched(BndKind kind, const DmaSgEntry *sg, unsigned nsg,
                          uint64_t skip, uint64_t len)
{
    BndWalk w = {.kind = kind};

    sg_walk(sg, nsg, skip, len, bnd_begin_chunk, &w);
    return !w.refused;
}

/* One finished piece in RAM: counted and shown to the after-hooks, the
 * hooks' DMA entry with no access record. Without dma_done_inline()'s
 * quiet-map test: data buffers are not in it, and the verifier makes the
 * test itself. */
static inline __attribute__((always_inline)) void
sg_done(BndKind kind, uint64_t addr, const void *data, uint64_t len)
{
    bnd_counts[kind]++;
    if (bnd_after_kinds & BND_BIT(kind)) {
        bnd_after_dma(kind, addr, data, len);
    }
}

/*
 * The walk of sg_walk() written out: the after side runs for every disk
 * transfer with the verifier on, and one access record, of which only
 * the chunk's place changes, serves every chunk.
 */
void dma_sg_end_watched(BndKind kind, const DmaSgEntry *sg, unsigned nsg,
                        uint64_t skip, uint64_t len, bool ok)
{
    BndAccess a = {.kind = kind, .cpu = -1, .ok = ok};

    if (nsg == 1 && skip == 0 && len && len <= sg[0].len && ok) {
        /* The usual transfer, one buffer: no walk. */
        void *data = ram_ptr(sg[0].addr, len);

        if (data) {
            sg_done(kind, sg[0].addr, data, len);
            return;
        }
    }
    for (unsigned i = 0; i < nsg && len > 0; i++) {
        uint64_t elen = sg[i].len;

        if (skip >= elen) {
            skip -= elen;
            continue;
        }
        a.len = MIN(elen - skip, len);
        /* A wrapping address is passed on as one that no RAM holds. */
        a.addr =
            sg[i].addr > UINT64_MAX - skip ? UINT64_MAX : sg[i].addr + skip;
        a.data = ram_ptr(a.addr, a.len);
        if (ok && a.data) {
            /* Nearly every one. */
            sg_done(kind, a.addr, a.data, a.len);
        } else {
            bnd_after(&a);
        }
        skip = 0;
        len -= a.len;
    }
}

unsigned dma_sg_chunks(const DmaSgEntry *sg, unsigned nsg, uint64_t skip,
                       uint64_t len)
{
    unsigned n = 0;

    for (unsigned i = 0; i < nsg && len > 0; i++) {
        if (skip >= sg[i].len) {
            skip -= sg[i].len;
            continue;
        }
        len -= MIN(sg[i].len - skip, len);
        skip = 0;
        n++;
    }
    return n;
}

typedef struct CopyWalk {
    uint8_t *buf;
    bool to_guest;
    bool failed;
} CopyWalk;

static bool copy_chunk(uint64_t gpa, uint64_t len, void *opaque)
{
    CopyWalk *c = opaque;
    bool ok =
        c->to_guest ? dma_write(gpa, c->buf, len) : dma_read(gpa, c->buf, len);

    if (!ok) {
        c->failed = true;
        return false;
    }
    c->buf += len;
    return true;
}

static int64_t sg_copy(const DmaSgEntry *sg, unsigned nsg, void *buf,
                       uint64_t len, bool to_guest)
{
    CopyWalk c = {.buf = buf, .to_guest = to_guest};
    uint64_t n = MIN(len, dma_sg_size(sg, nsg));

    g_assert(n <= INT64_MAX);
    sg_walk(sg, nsg, 0, n, copy_chunk, &c);
    return c.failed ? -1 : (int64_t)n;
}

int64_t dma_sg_copy_to_guest(const DmaSgEntry *sg, unsigned nsg,
                             const void *buf, uint64_t len)
{
    return sg_copy(sg, nsg, (void *)buf, len, true);
}

int64_t dma_sg_copy_from_guest(const DmaSgEntry *sg, unsigned nsg, void *buf,
                               uint64_t len)
{
    return sg_copy(sg, nsg, buf, len, false);
}
