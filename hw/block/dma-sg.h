/* SPDX-License-Identifier: MIT */
/*
 * Scatter-gather lists of guest-physical (address, length) pairs and the
 * one place where a device moves data between a disk image and guest RAM
 * without a copy. A list is mapped onto host iovecs that point straight
 * into guest RAM (hw/core/ram.h); an element outside RAM makes the mapping
 * fail, which the device turns into its DMA error status.
 *
 * Zero-copy transfers bypass dma_read()/dma_write(), so they report
 * themselves to the boundary layer (system/boundary.h) here instead:
 * dma_sg_begin() consults the before-hooks when the transfer is set up and
 * dma_sg_end() runs the after-hooks once the data has moved, one BndAccess
 * per SG element, exactly as ram.c does for a copied DMA. Small transfers
 * (INQUIRY data, parameter lists) go through dma_sg_copy_*(), which use
 * dma_read()/dma_write() and so are counted by ram.c itself.
 */
#ifndef HW_BLOCK_DMA_SG_H
#define HW_BLOCK_DMA_SG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>
#include "hw/core/ram.h"
#include "system/boundary.h"

typedef struct DmaSgEntry {
    uint64_t addr; /* guest-physical */
    uint64_t len;  /* bytes */
} DmaSgEntry;

/* Total length of the list, saturating at UINT64_MAX. */
uint64_t dma_sg_size(const DmaSgEntry *sg, unsigned nsg);

/*
 * Map bytes [@skip, @skip + @len) of the list onto host iovecs at @iov,
 * which has room for @max_iov of them: never more than one per element
 * (elements of length zero take none, elements adjacent in guest RAM
 * share one). Returns how many, or -1 with *@bad_gpa set to the first
 * offending guest address when part of the range lies outside guest RAM
 * or past the end of the list (@iov then holds a partial mapping, which
 * the caller discards). On success *@chunks (if not NULL) is the number of
 * elements the range crosses, what dma_sg_chunks() would say, for
 * dma_sg_end_counted().
 */
static inline int dma_sg_map(const DmaSgEntry *sg, unsigned nsg, uint64_t skip,
                             uint64_t len, struct iovec *iov, unsigned max_iov,
                             uint64_t *bad_gpa, unsigned *chunks);
/* Its walk of the list, for every case but the one below. */
int dma_sg_map_walk(const DmaSgEntry *sg, unsigned nsg, uint64_t skip,
                    uint64_t len, struct iovec *iov, unsigned max_iov,
                    uint64_t *bad_gpa, unsigned *chunks);

/* The host address of bytes [0, @len) of a list of one element in RAM
 * that holds them all, as a 4 KiB I/O usually comes; else NULL (also for
 * @len 0), and dma_sg_map_walk() knows the answer. */
static inline void *dma_sg_host_one(const DmaSgEntry *sg, unsigned nsg,
                                    uint64_t len)
{
    return nsg == 1 && len && len <= sg[0].len ? ram_ptr(sg[0].addr, len)
                                               : NULL;
}

/* dma_sg_map()'s answer for what dma_sg_host_one() found at @host. */
static inline int dma_sg_map_one(void *host, uint64_t len, struct iovec *iov,
                                 unsigned *chunks)
{
    iov[0].iov_base = host;
    iov[0].iov_len = len;
    if (chunks) {
        *chunks = 1;
    }
    return 1;
}

/* Inline: one buffer in RAM holding the whole range costs a bounds test
 * rather than a call and a walk. */
static inline int dma_sg_map(const DmaSgEntry *sg, unsigned nsg, uint64_t skip,
                             uint64_t len, struct iovec *iov, unsigned max_iov,
                             uint64_t *bad_gpa, unsigned *chunks)
{
    if (skip == 0 && max_iov) {
        void *host = dma_sg_host_one(sg, nsg, len);

        if (host) {
            return dma_sg_map_one(host, len, iov, chunks);
        }
    }
    return dma_sg_map_walk(sg, nsg, skip, len, iov, max_iov, bad_gpa, chunks);
}

/*
 * Boundary notifications for a zero-copy transfer of bytes [@skip, @skip +
 * @len) of the list. @kind is BND_DMA_WRITE for data going into guest RAM
 * (a disk read) and BND_DMA_READ for data coming out of it (a disk write).
 * dma_sg_begin() returns false when a before-hook refused an element (an
 * injected DMA error); the device then fails the request without moving
 * data and still calls dma_sg_end() with ok = false so every before() has
 * its after(). A hook that answers with ok = true lets the transfer go on.
 */
static inline bool dma_sg_begin(BndKind kind, const DmaSgEntry *sg,
                                unsigned nsg, uint64_t skip, uint64_t len);
static inline void dma_sg_end(BndKind kind, const DmaSgEntry *sg, unsigned nsg,
                              uint64_t skip, uint64_t len, bool ok);

/* The work of the two above when a hook wants their side of @kind, and
 * the number of SG elements the transfer crosses (the crossings counted
 * otherwise). */
bool dma_sg_begin_watched(BndKind kind, const DmaSgEntry *sg, unsigned nsg,
                          uint64_t skip, uint64_t len);
void dma_sg_end_watched(BndKind kind, const DmaSgEntry *sg, unsigned nsg,
                        uint64_t skip, uint64_t len, bool ok);
unsigned dma_sg_chunks(const DmaSgEntry *sg, unsigned nsg, uint64_t skip,
                       uint64_t len);

/*
 * Inline so that a transfer nobody watches costs a test, not a call. Each
 * side tests only its own hooks, as bnd_before() and bnd_after() do: the
 * verifier, say, watches DMA after the fact only.
 */
/* No hook wants to hear before a DMA of @kind: dma_sg_begin() of it
 * passes without a look at the list. */
static inline bool dma_sg_begin_unwatched(BndKind kind)
{
    return !(bnd_before_kinds & BND_BIT(kind));
}

static inline bool dma_sg_begin(BndKind kind, const DmaSgEntry *sg,
                                unsigned nsg, uint64_t skip, uint64_t len)
{
    return dma_sg_begin_unwatched(kind) ||
           dma_sg_begin_watched(kind, sg, nsg, skip, len);
}

static inline void dma_sg_end(BndKind kind, const DmaSgEntry *sg, unsigned nsg,
                              uint64_t skip, uint64_t len, bool ok)
{
    if (bnd_after_kinds & BND_BIT(kind)) {
        dma_sg_end_watched(kind, sg, nsg, skip, len, ok);
        return;
    }
    /* Nobody listens: only the crossings are counted, one per chunk, as
     * bnd_after() would. */
    bnd_counts[kind] += dma_sg_chunks(sg, nsg, skip, len);
}

/* dma_sg_end() for a range dma_sg_map() mapped, with the @chunks it
 * counted: a transfer nobody watches does not walk the list again. */
static inline void dma_sg_end_counted(BndKind kind, const DmaSgEntry *sg,
                                      unsigned nsg, uint64_t skip, uint64_t len,
                                      bool ok, unsigned chunks)
{
    if (bnd_after_kinds & BND_BIT(kind)) {
        dma_sg_end_watched(kind, sg, nsg, skip, len, ok);
        return;
    }
    bnd_counts[kind] += chunks;
}

/*
 * dma_sg_end_counted() for bytes [0, @len) that dma_sg_map() mapped onto
 * @iov. A one-element list's transfer is one iovec at the host address
 * the after-hooks would look up again: they get it at once, without a
 * call (the disk transfer of nearly every command, with the verifier on).
 */
static inline void dma_sg_end_mapped(BndKind kind, const DmaSgEntry *sg,
                                     unsigned nsg, uint64_t len, bool ok,
                                     unsigned chunks, const struct iovec *iov)
{
    if (!(bnd_after_kinds & BND_BIT(kind))) {
        bnd_counts[kind] += chunks;
        return;
    }
    if (nsg == 1 && ok) {
        bnd_counts[kind]++;
        bnd_after_dma(kind, sg[0].addr, iov[0].iov_base, len);
        return;
    }
    dma_sg_end_watched(kind, sg, nsg, 0, len, ok);
}

/*
 * Copy @len bytes between @buf and the list, starting at byte 0 of the
 * list, through dma_write()/dma_read(). Returns the bytes copied (the
 * smaller of @len and the list's size) or -1 when an element lies outside
 * guest RAM or a boundary hook refused it.
 */
int64_t dma_sg_copy_to_guest(const DmaSgEntry *sg, unsigned nsg,
                             const void *buf, uint64_t len);
int64_t dma_sg_copy_from_guest(const DmaSgEntry *sg, unsigned nsg, void *buf,
                               uint64_t len);

#endif
