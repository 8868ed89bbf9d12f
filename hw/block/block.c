/* SPDX-License-Identifier: MIT */
/*
 * Raw image backends (block.h): opening and locking images, the snapshot
 * overlay, O_DIRECT bounce handling, the request path onto the AIO engine,
 * the volatile write cache and error injection. docs/block.md has the
 * user-facing semantics.
 *
 * Request life: blk_submit() (1) applies injected errors; (2) serves what
 * the write cache can serve from memory: a cached write is copied into the
 * cache and is over at once, a read of cached data only is copied out of
 * it; (3) otherwise finishes the host I/O of earlier requests it conflicts
 * with (overlapping bytes, one of them writing; a flush conflicts with
 * everything), so data results follow submission order; (4) turns the
 * request into AIO ops (split by the snapshot map, by IOV_MAX, or routed
 * through a bounce buffer) and submits them. blk_wait() reaps the ops,
 * turns short transfers into errors and copies bounced reads out.
 *
 * Cost per request in the steady state: requests come from a per-backend
 * free list and carry their first AIO op inline, pointed at the caller's
 * iovec array (which block.h requires to live until blk_wait()), so a read
 * allocates nothing and costs one host system call, and a cached write
 * costs none. With mmap=on a read costs no system call either: after (2)
 * and (3) it is a copy out of a shared mapping of the image (see "mapped
 * reads" below), over at once like a cache hit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/block/aio.h"
#include "hw/block/block.h"
#include "system/error.h"
#include "system/trace.h"

#define BLK_ZERO_BUF_SIZE  (64 * 1024)
#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))

/* Sectors per write-cache block, and the "none" slot / list end. */
#define CACHE_SECTORS (BLK_CACHE_BLOCK / BLK_SECTOR_SIZE)
#define CACHE_NONE    UINT32_MAX
/* Write-back goes to the host in batches of at most this many ops (one
 * io_uring submission each) and AIO_IOV_MAX iovecs. */
#define WB_BATCH_OPS 256
/* Pooled requests keep a grown op array up to this size for reuse. */
#define REQ_SLOTS_KEEP 64

G_STATIC_ASSERT(CACHE_SECTORS <= 8); /* a uint8_t sector mask per block */

/* Page tables of a mapped image are populated in chunks of this size. */
#define MAP_CHUNK_SHIFT 21
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older libc headers lack it */
#endif

typedef struct BlkErrorRule {
    int err;
    unsigned op_mask;
    uint64_t offset, len; /* len 0: to the end */
    unsigned count;       /* 0: unlimited */
} BlkErrorRule;

/*
 * One block of the write cache: the data of cached writes to image block
 * @idx (its 4 KiB of the cache arena), which of its sectors the cache
 * holds (@mask) and which of those were discarded (@zmask: zeros in the
 * arena, punched rather than written at write-back).
 */
typedef struct CacheSlot {
    uint64_t idx;
    uint32_t next; /* hash chain, or the free list */
    uint8_t mask;
    uint8_t zmask;
} CacheSlot;

/*
 * The volatile write cache (see "write cache" below). Arrays are allocated
 * at the first cached write and sized by the cache limit: @nslots blocks
 * of data, a chained hash of @nbuckets heads (a power of two) from block
 * index to slot.
 */
typedef struct WriteCache {
    uint8_t *data; /* nslots * BLK_CACHE_BLOCK, 4 KiB aligned */
    CacheSlot *slots;
    uint32_t *buckets;
    uint32_t *scratch;  /* nslots: slot lists for write-back */
    uint32_t *scratch2; /* nslots: room to sort them */
    uint32_t nslots, nbuckets;
    uint32_t high;  /* slots [0, high) used since the cache was emptied */
    uint32_t free;  /* free list among those */
    uint32_t live;  /* blocks held */
    uint64_t bytes; /* their bytes of the image */
} WriteCache;

struct BlockBackend {
    char *id;
    char *filename;
    char *owner;
    int fd;            /* the image; read-only in snapshot mode */
    int ovl_fd;        /* snapshot overlay, or -1 */
    uint64_t *ovl_map; /* snapshot: one bit per sector written */
    /* @ovl_map once a sector is in the overlay, NULL before: until the
     * guest writes, a snapshot's reads go to the image without a look. */
    const uint64_t *ovl_reads;
    uint64_t size;
    unsigned flags;
    bool readonly;      /* guest writes refused */
    bool temporary;     /* blk_new_temp(): a private file gone at exit */
    uint32_t dio_align; /* @fd is O_DIRECT with this alignment, or 0 */
    bool no_punch;      /* hole punching unsupported: write zeros */

    /* mmap=on: @fd mapped read-only over @size bytes, or NULL; a bit per
     * 2 MiB chunk whose page tables were populated (or tried). */
    uint8_t *map;
    uint64_t *map_chunks;
    bool map_populate; /* MADV_POPULATE_READ is worth trying */
    bool map_warned;   /* the file was found shrunk (said once) */

    bool wce;
    uint64_t cache_limit;
    WriteCache cache;

    /* Requests whose host I/O is not reaped: readers, and requests that
     * change the image (writes, discards, flushes), in submission order. */
    BlkRequest *readers, *writers;
    /* Nothing but the file to read: no cached block, no mapping, no
     * bounce alignment, no overlay sector, no error rule (see
     * read_path_update(); writers in flight are tested apart). */
    bool reads_plain;
    BlkRequest *free_reqs; /* pool */
    GArray *rules;         /* BlkErrorRule */
    BlkStats stats;
};

/*
 * Recompute blk->reads_plain; called wherever one of its conditions
 * changes, so that a read asks one question instead of five.
 */
static void read_path_update(BlockBackend *blk)
{
    blk->reads_plain = !blk->cache.live && !blk->map && !blk->dio_align &&
                       !blk->ovl_reads && (!blk->rules || !blk->rules->len);
}

typedef struct BlkSlot {
    AioOp aio;
    uint64_t expect;       /* bytes a read/write op must move */
    struct iovec *own_iov; /* aio.iov when it is a private copy */
} BlkSlot;

struct BlkRequest {
    BlockBackend *blk;
    BlkRequest *prev, *next; /* in-flight list, or the pool (next) */
    BlkRequest **list;       /* the in-flight list holding it, or NULL */
    BlkOp op;
    unsigned flags;
    uint64_t offset, bytes;
    /* Bytes a write may touch, for conflicts (set for writes only: a
     * read touches exactly [offset, offset + bytes)). */
    uint64_t span_lo, span_hi;
    int ret;
    uint64_t err_offset;
    bool finished;  /* host I/O reaped */
    BlkSlot *slots; /* &slot0, or a heap array */
    unsigned nslots, slots_cap;
    BlkSlot slot0;
    void *bounce;           /* aligned buffer for O_DIRECT */
    struct iovec *copy_iov; /* read through bounce: copy out to these */
    unsigned copy_niov;
    uint64_t copy_skip; /* ... from bounce + copy_skip */
    /* Something for req_free() to release: a private iovec copy, a
     * bounce buffer or copy-out list, a grown slot array. A plain read or
     * write (its one op on the caller's iovecs) has none. */
    bool extras;
    bool embedded; /* in a caller's BlkRequestStorage, not the pool */
};

/* The caller's storage must hold a request and be aligned for it. */
G_STATIC_ASSERT(sizeof(BlkRequest) <= sizeof(BlkRequestStorage));
G_STATIC_ASSERT(G_ALIGNOF(BlkRequest) <= G_ALIGNOF(BlkRequestStorage));

static GHashTable *registry; /* id -> BlockBackend */
static uint8_t zero_buf[BLK_ZERO_BUF_SIZE] __attribute__((aligned(4096)));

static const char *const op_names[BLK_OP_COUNT] = {
    "read", "write", "flush", "discard", "write-zeroes",
};

/* ---- iovec helpers ---------------------------------------------------- */

static uint64_t iov_bytes(const struct iovec *iov, unsigned niov)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < niov; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

/*
 * Store at @out the part [skip, skip + len) of @iov (never more iovecs than
 * @niov; empty ones are left out) and return how many.
 */
static unsigned iov_slice(const struct iovec *iov, unsigned niov, uint64_t skip,
                          uint64_t len, struct iovec *out)
{
    unsigned n = 0;

    for (unsigned i = 0; i < niov && len > 0; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
        out[n].iov_len = MIN(iov[i].iov_len - skip, len);
        len -= out[n].iov_len;
        n++;
        skip = 0;
    }
    g_assert(len == 0);
    return n;
}

/* Copy between a flat buffer and [skip, skip + len) of @iov. */
static void iov_copy(const struct iovec *iov, unsigned niov, uint64_t skip,
                     void *buf, uint64_t len, bool to_iov)
{
    uint8_t *p = buf;

    for (unsigned i = 0; i < niov && len > 0; i++) {
        uint64_t n;
        uint8_t *base;

        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        base = (uint8_t *)iov[i].iov_base + skip;
        n = MIN(iov[i].iov_len - skip, len);
        if (to_iov) {
            memcpy(base, p, n);
        } else {
            memcpy(p, base, n);
        }
        p += n;
        len -= n;
        skip = 0;
    }
}

/* A position in an iovec array, for copies that walk it front to back. */
typedef struct IovCursor {
    const struct iovec *iov;
    unsigned niov, i;
    size_t off;
} IovCursor;

static void cursor_copy(IovCursor *c, uint8_t *buf, uint64_t len, bool to_iov)
{
    while (len > 0) {
        const struct iovec *v;
        size_t n;

        g_assert(c->i < c->niov);
        v = &c->iov[c->i];
        n = MIN(v->iov_len - c->off, len);
        if (to_iov) {
            memcpy((uint8_t *)v->iov_base + c->off, buf, n);
        } else {
            memcpy(buf, (uint8_t *)v->iov_base + c->off, n);
        }
        buf += n;
        len -= n;
        c->off += n;
        if (c->off == v->iov_len) {
            c->i++;
            c->off = 0;
        }
    }
}

static bool iov_aligned(const struct iovec *iov, unsigned niov, uint32_t a)
{
    for (unsigned i = 0; i < niov; i++) {
        if ((uintptr_t)iov[i].iov_base % a || iov[i].iov_len % a) {
            return false;
        }
    }
    return true;
}

static void *aligned_alloc_or_die(uint64_t align, uint64_t len)
{
    void *p = NULL;

    if (posix_memalign(&p, MAX(align, sizeof(void *)), MAX(len, 1)) != 0) {
        g_error("out of memory allocating a %" PRIu64 "-byte I/O buffer", len);
    }
    return p;
}

/* ---- snapshot overlay map --------------------------------------------- */

static inline bool map_test(const BlockBackend *blk, uint64_t sector)
{
    return blk->ovl_map[sector / 64] & (1ULL << (sector % 64));
}

static void map_set(BlockBackend *blk, uint64_t offset, uint64_t len)
{
    if (!blk->ovl_reads) {
        blk->ovl_reads = blk->ovl_map;
        read_path_update(blk);
    }
    for (uint64_t s = offset / BLK_SECTOR_SIZE;
         s < DIV_ROUND_UP(offset + len, BLK_SECTOR_SIZE); s++) {
        blk->ovl_map[s / 64] |= 1ULL << (s % 64);
    }
}

/*
 * The end of the run of sectors from @pos (capped at @end) that are all in
 * the overlay or all not, as *@in_ovl says. Whole words of the map at a
 * time: a read is one run in the common case of an overlay that holds
 * none (or all) of it.
 */
static uint64_t map_run_end(const BlockBackend *blk, uint64_t pos, uint64_t end,
                            bool *in_ovl)
{
    uint64_t s = pos / BLK_SECTOR_SIZE;
    uint64_t last = DIV_ROUND_UP(end, BLK_SECTOR_SIZE); /* exclusive */
    bool set = map_test(blk, s);
    uint64_t w = s / 64;
    /* Bits that differ from the run's, from sector s on. */
    uint64_t diff =
        (set ? ~blk->ovl_map[w] : blk->ovl_map[w]) & (~0ULL << (s % 64));

    *in_ovl = set;
    while (!diff) {
        if (++w * 64 >= last) {
            return end;
        }
        diff = set ? ~blk->ovl_map[w] : blk->ovl_map[w];
    }
    return MIN(end, (w * 64 + __builtin_ctzll(diff)) * BLK_SECTOR_SIZE);
}

/* ---- request pool ----------------------------------------------------- */

static inline bool op_writes(BlkOp op)
{
    /* One mask test: every request asks, some more than once. */
    return BLK_OP_BIT(op) &
           (BLK_OP_BIT(BLK_OP_WRITE) | BLK_OP_BIT(BLK_OP_DISCARD) |
            BLK_OP_BIT(BLK_OP_WRITE_ZEROES));
}

/*
 * Set up a free request: from the pool, or in a caller's storage after
 * its blk_wait(). Either is off every list (req_free() checks) with prev
 * NULL (req_untrack() leaves it so, an untracked request never sets it)
 * and no ops: only next, the pool's link, needs clearing.
 */
static inline __attribute__((always_inline)) void
req_init(BlkRequest *req, BlkOp op, uint64_t offset, uint64_t bytes,
         unsigned flags)
{
    /* next is set by whatever list takes the request (req_track(), the
     * pool), and read only there. */
    req->op = op;
    req->flags = flags;
    req->offset = offset;
    req->bytes = bytes;
    /* Writes may touch whole blocks around them (O_DIRECT read-modify-
     * write), so they conflict at that granularity. */
    if (op_writes(op)) {
        req->span_lo = offset / BLK_CACHE_BLOCK * BLK_CACHE_BLOCK;
        req->span_hi =
            DIV_ROUND_UP(offset + bytes, BLK_CACHE_BLOCK) * BLK_CACHE_BLOCK;
    }
    req->ret = 0;
    req->err_offset = offset;
    req->finished = false;
}

/* A request from the pool, or a new one. Inline: blk_submit() is the
 * path of every I/O. */
static inline __attribute__((always_inline)) BlkRequest *
req_new(BlockBackend *blk, BlkOp op, uint64_t offset, uint64_t bytes,
        unsigned flags)
{
    BlkRequest *req = blk->free_reqs;

    if (req) {
        blk->free_reqs = req->next;
    } else {
        req = g_new0(BlkRequest, 1);
        req->blk = blk;
        req->slots = &req->slot0;
        req->slots_cap = 1;
    }
    req_init(req, op, offset, bytes, flags);
    return req;
}

/* Forget the ops of @req (they are reaped or were never submitted). */
static void req_clear_slots(BlkRequest *req)
{
    for (unsigned i = 0; i < req->nslots; i++) {
        g_clear_pointer(&req->slots[i].own_iov, g_free);
    }
    req->nslots = 0;
}

static G_GNUC_NO_INLINE void req_free_extras(BlkRequest *req)
{
    req_clear_slots(req);
    /* A caller's storage is not ours to keep memory in: it may be freed
     * without a word to us once its request is waited for. */
    if (req->slots_cap > REQ_SLOTS_KEEP || req->embedded) {
        g_free(req->slots);
        req->slots = &req->slot0;
        req->slots_cap = 1;
    }
    g_clear_pointer(&req->copy_iov, g_free);
    req->copy_niov = 0;
    g_clear_pointer(&req->bounce, free);
    req->extras = false;
}

/* Inline: blk_wait() ends every request with it. */
/* req_free() of a request off every list and with no extras. */
static inline __attribute__((always_inline)) void req_release(BlkRequest *req)
{
    BlockBackend *blk;

    req->nslots = 0;
    if (req->embedded) {
        return;
    }
    blk = req->blk;
    req->next = blk->free_reqs;
    blk->free_reqs = req;
}

static inline __attribute__((always_inline)) void req_free(BlkRequest *req)
{
    g_assert(!req->list);
    if (G_UNLIKELY(req->extras)) {
        req_free_extras(req);
    }
    req_release(req);
}

static void pool_release(BlockBackend *blk)
{
    while (blk->free_reqs) {
        BlkRequest *req = blk->free_reqs;

        blk->free_reqs = req->next;
        if (req->slots != &req->slot0) {
            g_free(req->slots);
        }
        g_free(req);
    }
}

/* A new, zeroed op of @req. */
static BlkSlot *req_add_slot(BlkRequest *req)
{
    BlkSlot *s;

    if (req->nslots == req->slots_cap) {
        unsigned cap = MAX(8u, req->slots_cap * 2);

        req->extras = true;
        if (req->slots == &req->slot0) {
            req->slots = g_new(BlkSlot, cap);
            req->slots[0] = req->slot0;
        } else {
            req->slots = g_renew(BlkSlot, req->slots, cap);
        }
        req->slots_cap = cap;
    }
    s = &req->slots[req->nslots++];
    memset(s, 0, sizeof(*s));
    return s;
}

/* ---- in-flight lists -------------------------------------------------- */

static void req_track(BlkRequest *req)
{
    BlockBackend *blk = req->blk;
    BlkRequest **list = req->op == BLK_OP_READ ? &blk->readers : &blk->writers;

    /* Lists are short (the queue depth): appending walks to the tail so
     * that draining keeps submission order. */
    req->list = list;
    req->next = NULL;
    if (!*list) {
        req->prev = req; /* the head's prev is the tail */
        *list = req;
    } else {
        BlkRequest *tail = (*list)->prev;

        tail->next = req;
        req->prev = tail;
        (*list)->prev = req;
    }
}

static void req_untrack(BlkRequest *req)
{
    BlkRequest **list = req->list;
    BlkRequest *head = *list;

    if (req == head) {
        *list = req->next;
        if (req->next) {
            req->next->prev = req->prev;
        }
    } else {
        req->prev->next = req->next;
        if (req->next) {
            req->next->prev = req->prev;
        } else {
            head->prev = req->prev;
        }
    }
    req->list = NULL;
    req->prev = req->next = NULL;
}

/* ---- building requests ------------------------------------------------ */

/*
 * Add read or write ops for @iov at @offset, at most AIO_IOV_MAX iovecs
 * each. With @borrow the ops point at @iov itself, which then must live
 * until they are reaped; otherwise they get private copies.
 */
static void req_add_rw(BlkRequest *req, AioOpType type, int fd, uint64_t offset,
                       const struct iovec *iov, unsigned niov, int rw_flags,
                       bool borrow)
{
    while (niov > 0) {
        unsigned n = MIN(niov, AIO_IOV_MAX);
        uint64_t bytes = iov_bytes(iov, n);

        if (bytes) {
            BlkSlot *s = req_add_slot(req);

            if (borrow) {
                s->aio.iov = iov;
            } else {
                s->own_iov = g_memdup2(iov, n * sizeof(*iov));
                s->aio.iov = s->own_iov;
                req->extras = true;
            }
            s->expect = bytes;
            s->aio.type = type;
            s->aio.fd = fd;
            s->aio.offset = offset;
            s->aio.iovcnt = n;
            s->aio.rw_flags = rw_flags;
        }
        offset += bytes;
        iov += n;
        niov -= n;
    }
}

/*
 * req_add_rw() with borrowed iovecs known to hold @len bytes, the usual
 * read or write: when they fit one op, that op without counting them
 * again or clearing it first.
 */
static inline __attribute__((always_inline)) void
req_add_rw_exact(BlkRequest *req, AioOpType type, int fd, uint64_t offset,
                 const struct iovec *iov, unsigned niov, uint64_t len,
                 int rw_flags)
{
    BlkSlot *s;

    if (niov > AIO_IOV_MAX || len == 0 || req->nslots == req->slots_cap) {
        req_add_rw(req, type, fd, offset, iov, niov, rw_flags, true);
        return;
    }
    s = &req->slots[req->nslots++];
    /* Only the fields a read or write uses: aio_submit() sets the
     * engine's, and mode and len are for fallocate alone. */
    s->aio.type = type;
    s->aio.fd = fd;
    s->aio.rw_flags = rw_flags;
    s->aio.offset = offset;
    s->aio.iov = iov;
    s->aio.iovcnt = (int)niov;
    s->expect = len;
    s->own_iov = NULL;
}

static void req_add_simple(BlkRequest *req, AioOpType type, int fd, int mode,
                           uint64_t offset, uint64_t len)
{
    BlkSlot *s = req_add_slot(req);

    s->aio.type = type;
    s->aio.fd = fd;
    s->aio.mode = mode;
    s->aio.offset = offset;
    s->aio.len = len;
}

/* Write zeros over [offset, offset + len) of @fd from the shared buffer. */
static void req_add_zero_write(BlkRequest *req, int fd, uint64_t offset,
                               uint64_t len, int rw_flags)
{
    g_autoptr(GArray) iov = g_array_new(FALSE, FALSE, sizeof(struct iovec));

    for (uint64_t done = 0; done < len; done += BLK_ZERO_BUF_SIZE) {
        struct iovec v = {zero_buf,
                          MIN(len - done, (uint64_t)BLK_ZERO_BUF_SIZE)};
        g_array_append_val(iov, v);
    }
    req_add_rw(req, AIO_OP_WRITE, fd, offset, (struct iovec *)iov->data,
               iov->len, rw_flags, false);
}

/*
 * Whether [pos, end) is all in the overlay or all not (*@in_ovl says
 * which). A read within one word of the map, the usual case, is decided
 * here with a mask; others scan.
 */
static inline bool map_one_run(const BlockBackend *blk, uint64_t pos,
                               uint64_t end, bool *in_ovl)
{
    uint64_t first = pos / BLK_SECTOR_SIZE;
    uint64_t last = (end - 1) / BLK_SECTOR_SIZE;

    if (first / 64 == last / 64) {
        uint64_t mask = (~0ULL << (first % 64)) & (~0ULL >> (63 - last % 64));
        uint64_t bits = blk->ovl_map[first / 64] & mask;

        *in_ovl = bits != 0;
        return bits == 0 || bits == mask;
    }
    return map_run_end(blk, pos, end, in_ovl) == end;
}

/* Iovecs of a run of an overlay read kept on the stack; longer slices
 * take an allocation. */
#define BLK_SLICE_INLINE 16

/* req_add_read_merged() for a range that spans the overlay and the
 * image: a read op per run. Out of line, with its iovec array. */
static G_GNUC_NO_INLINE void req_add_read_split(BlkRequest *req,
                                                uint64_t offset,
                                                const struct iovec *iov,
                                                unsigned niov, uint64_t len)
{
    BlockBackend *blk = req->blk;
    uint64_t pos = offset, end = offset + len;
    struct iovec part_inline[BLK_SLICE_INLINE];
    g_autofree struct iovec *part_heap = NULL;
    struct iovec *part = part_inline;
    bool in_ovl;

    if (niov > BLK_SLICE_INLINE) {
        part_heap = g_new(struct iovec, niov);
        part = part_heap;
    }
    while (pos < end) {
        uint64_t run_end = map_run_end(blk, pos, end, &in_ovl);
        unsigned n = iov_slice(iov, niov, pos - offset, run_end - pos, part);

        req_add_rw(req, AIO_OP_READ, in_ovl ? blk->ovl_fd : blk->fd, pos, part,
                   n, 0, false);
        pos = run_end;
    }
}

/* Reads from the image as the guest sees it: overlay sectors where the
 * snapshot map says so, the image elsewhere. @iov holds exactly @len
 * bytes; @borrow as for req_add_rw(). Inline: the read path of every I/O
 * is the one-file case. */
static inline __attribute__((always_inline)) void
req_add_read_merged(BlkRequest *req, uint64_t offset, const struct iovec *iov,
                    unsigned niov, uint64_t len, bool borrow)
{
    BlockBackend *blk = req->blk;
    bool in_ovl;

    if (!blk->ovl_reads ||
        (len && map_one_run(blk, offset, offset + len, &in_ovl))) {
        /* All of it from one file: no slicing. */
        int fd = blk->ovl_reads && in_ovl ? blk->ovl_fd : blk->fd;

        if (borrow) {
            req_add_rw_exact(req, AIO_OP_READ, fd, offset, iov, niov, len, 0);
        } else {
            req_add_rw(req, AIO_OP_READ, fd, offset, iov, niov, 0, false);
        }
        return;
    }
    req_add_read_split(req, offset, iov, niov, len);
}

static int blk_run_internal(BlkRequest *req);

/* Synchronous read of the image as stored (the overlay merged, the write
 * cache not), bypassing request ordering (callers drained conflicts). */
static int blk_read_internal(BlockBackend *blk, uint64_t offset, void *buf,
                             uint64_t len)
{
    BlkRequest *req = req_new(blk, BLK_OP_READ, offset, len, 0);
    struct iovec v = {buf, len};

    /* The image may be O_DIRECT under an overlay too: bounce whenever the
     * buffer or range is not aligned. */
    if (blk->dio_align && (offset % blk->dio_align || len % blk->dio_align ||
                           (uintptr_t)buf % blk->dio_align)) {
        uint32_t a = blk->dio_align;
        uint64_t lo = offset / a * a;
        uint64_t hi = MIN(DIV_ROUND_UP(offset + len, a) * a, blk->size);
        struct iovec b;

        req->bounce = aligned_alloc_or_die(a, hi - lo);
        req->extras = true;
        b.iov_base = req->bounce;
        b.iov_len = hi - lo;
        req->copy_iov = g_memdup2(&v, sizeof(v));
        req->copy_niov = 1;
        req->copy_skip = offset - lo;
        req_add_read_merged(req, lo, &b, 1, hi - lo, false);
    } else {
        req_add_read_merged(req, offset, &v, 1, len, false);
    }
    return blk_run_internal(req);
}

static bool want_durable_host(const BlockBackend *blk)
{
    return !(blk->flags & BLK_OPEN_UNSAFE) && !blk->ovl_map;
}

/*
 * Build the ops of a write of @iov (@len bytes, sector-aligned) at
 * @offset; @borrow as for req_add_rw(). Returns 0 or -errno (a read-
 * modify-write that failed).
 */
static int req_build_write(BlkRequest *req, const struct iovec *iov,
                           unsigned niov, uint64_t offset, uint64_t len,
                           bool durable, bool borrow)
{
    BlockBackend *blk = req->blk;
    int rw_flags = durable && want_durable_host(blk) ? RWF_DSYNC : 0;
    uint32_t a = blk->dio_align;

    if (blk->ovl_map) {
        map_set(blk, offset, len);
        if (borrow) {
            req_add_rw_exact(req, AIO_OP_WRITE, blk->ovl_fd, offset, iov, niov,
                             len, 0);
        } else {
            req_add_rw(req, AIO_OP_WRITE, blk->ovl_fd, offset, iov, niov, 0,
                       false);
        }
        return 0;
    }
    if (a && (offset % a || len % a)) {
        /* O_DIRECT with an alignment above the request's: merge into the
         * surrounding aligned blocks first. Only with 4 KiB host sectors
         * under a 512-byte guest block size. */
        uint64_t lo = offset / a * a;
        uint64_t hi = DIV_ROUND_UP(offset + len, a) * a;
        struct iovec b;
        int r;

        g_assert(!req->bounce);
        req->bounce = aligned_alloc_or_die(a, hi - lo);
        req->extras = true;
        r = blk_read_internal(blk, lo, req->bounce, hi - lo);
        if (r < 0) {
            return r;
        }
        iov_copy(iov, niov, 0, (uint8_t *)req->bounce + (offset - lo), len,
                 false);
        b.iov_base = req->bounce;
        b.iov_len = hi - lo;
        blk->stats.bounced++;
        req_add_rw(req, AIO_OP_WRITE, blk->fd, lo, &b, 1, rw_flags, false);
        return 0;
    }
    if (a && !iov_aligned(iov, niov, a)) {
        struct iovec b;

        g_assert(!req->bounce);
        req->bounce = aligned_alloc_or_die(a, len);
        req->extras = true;
        iov_copy(iov, niov, 0, req->bounce, len, false);
        b.iov_base = req->bounce;
        b.iov_len = len;
        blk->stats.bounced++;
        req_add_rw(req, AIO_OP_WRITE, blk->fd, offset, &b, 1, rw_flags, false);
        return 0;
    }
    if (borrow) {
        req_add_rw_exact(req, AIO_OP_WRITE, blk->fd, offset, iov, niov, len,
                         rw_flags);
    } else {
        req_add_rw(req, AIO_OP_WRITE, blk->fd, offset, iov, niov, rw_flags,
                   false);
    }
    return 0;
}

/*
 * The iovecs of @iov that hold its first @len bytes: *@n of them, which
 * hold the bytes returned. Exactly @len when the last one ends there,
 * more when it must be cut short in a copy, less when @iov is too short.
 */
static uint64_t iov_prefix(const struct iovec *iov, unsigned niov, uint64_t len,
                           unsigned *n)
{
    uint64_t sum = 0;
    unsigned i = 0;

    while (i < niov && sum < len) {
        sum += iov[i++].iov_len;
    }
    *n = i;
    return sum;
}

/* @n and @exact: the prefix of @iov that holds the read (iov_prefix()),
 * and whether it holds exactly the read's bytes. */
static void req_build_read(BlkRequest *req, const struct iovec *iov,
                           unsigned niov, unsigned n, bool exact)
{
    BlockBackend *blk = req->blk;
    uint32_t a = blk->dio_align;
    uint64_t offset = req->offset, len = req->bytes;

    if (a && (offset % a || len % a || !iov_aligned(iov, niov, a))) {
        uint64_t lo = offset / a * a;
        uint64_t hi = MIN(DIV_ROUND_UP(offset + len, a) * a, blk->size);
        struct iovec b;

        req->bounce = aligned_alloc_or_die(a, hi - lo);
        req->extras = true;
        req->copy_iov = g_new(struct iovec, MAX(niov, 1u));
        req->copy_niov = iov_slice(iov, niov, 0, len, req->copy_iov);
        req->copy_skip = offset - lo;
        b.iov_base = req->bounce;
        b.iov_len = hi - lo;
        blk->stats.bounced++;
        req_add_read_merged(req, lo, &b, 1, hi - lo, false);
        return;
    }
    if (exact) {
        /* The common case: the caller's array as it is. */
        req_add_read_merged(req, offset, iov, n, len, true);
    } else {
        g_autofree struct iovec *part = g_new(struct iovec, n);

        n = iov_slice(iov, n, 0, len, part);
        req_add_read_merged(req, offset, part, n, len, false);
    }
}

/* Discard (or, @zeroes, write zeros over) [offset, offset + len). */
static void req_add_discard(BlkRequest *req, uint64_t offset, uint64_t len,
                            bool zeroes, bool durable)
{
    BlockBackend *blk = req->blk;
    int fd = blk->ovl_map ? blk->ovl_fd : blk->fd;
    int rw_flags = durable && want_durable_host(blk) ? RWF_DSYNC : 0;

    if (blk->ovl_map) {
        map_set(blk, offset, len);
    }
    if (zeroes || blk->no_punch) {
        req_add_zero_write(req, fd, offset, len, rw_flags);
    } else {
        req_add_simple(req, AIO_OP_FALLOCATE, fd,
                       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
    }
}

/* ---- completing requests ---------------------------------------------- */

/* Finish a write the kernel did only in part, to learn why (ENOSPC). */
static int64_t write_rest(BlkSlot *s, uint64_t done)
{
    g_autofree struct iovec *rest = g_new(struct iovec, s->aio.iovcnt);
    uint64_t off = s->aio.offset + done;
    unsigned n;

    n = iov_slice(s->aio.iov, s->aio.iovcnt, done, s->expect - done, rest);
    while (done < s->expect) {
        ssize_t r =
            pwritev(s->aio.fd, rest, MIN(n, (unsigned)AIO_IOV_MAX), (off_t)off);
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            return -EIO;
        }
        done += r;
        off += r;
        n = iov_slice(s->aio.iov, s->aio.iovcnt, done, s->expect - done, rest);
    }
    return 0;
}

/* A discard the file system cannot punch: zeros do the same for reads. */
static int64_t punch_fallback(BlockBackend *blk, BlkSlot *s)
{
    BlkRequest *z =
        req_new(blk, BLK_OP_WRITE_ZEROES, s->aio.offset, s->aio.len, 0);

    blk->no_punch = true;
    TRACE(blk_no_punch, "hole punching unsupported on %s; writing zeros",
          blk->filename);
    req_add_zero_write(z, s->aio.fd, s->aio.offset, s->aio.len, 0);
    return blk_run_internal(z);
}

/* Out of req_reap(): its array would make every single-op reap pay for
 * a large stack frame. */
static G_GNUC_NO_INLINE void req_wait_all(BlkRequest *req)
{
    AioOp *stack_ops[WB_BATCH_OPS] = {NULL};
    AioOp **ops =
        req->nslots <= WB_BATCH_OPS ? stack_ops : g_new(AioOp *, req->nslots);

    for (unsigned i = 0; i < req->nslots; i++) {
        ops[i] = &req->slots[i].aio;
    }
    aio_wait_all(ops, req->nslots);
    if (ops != stack_ops) {
        g_free(ops);
    }
}

/* The outcome of @s, reaped, into @req's (the first error wins). */
static inline __attribute__((always_inline)) void slot_reap(BlkRequest *req,
                                                            BlkSlot *s)
{
    int64_t r = s->aio.result;

    switch (s->aio.type) {
    case AIO_OP_READ:
        if (r >= 0 && (uint64_t)r < s->expect) {
            r = -EIO; /* the file ends early: shrunk under us */
        }
        break;
    case AIO_OP_WRITE:
        if (r >= 0 && (uint64_t)r < s->expect) {
            r = write_rest(s, r);
        }
        break;
    case AIO_OP_FALLOCATE:
        if (r == -EOPNOTSUPP || r == -ENOSYS) {
            r = punch_fallback(req->blk, s);
        }
        break;
    case AIO_OP_FDATASYNC:
        break;
    }
    if (r < 0 && req->ret == 0) {
        req->ret = (int)r;
        req->err_offset = s->aio.offset;
    }
}

/* Inline into blk_wait(), where every request ends; req_reap() for the
 * rest. */
static inline __attribute__((always_inline)) void
req_reap_inline(BlkRequest *req)
{
    if (req->finished) {
        return;
    }
    if (req->nslots == 1) {
        /* A read or write: one op, no loop. */
        aio_wait(&req->slots[0].aio);
        slot_reap(req, &req->slots[0]);
    } else {
        if (req->nslots > 1) {
            req_wait_all(req);
        }
        for (unsigned i = 0; i < req->nslots; i++) {
            slot_reap(req, &req->slots[i]);
        }
    }
    if (req->ret == 0 && req->copy_iov) {
        iov_copy(req->copy_iov, req->copy_niov, 0,
                 (uint8_t *)req->bounce + req->copy_skip, req->bytes, true);
    }
    req->finished = true;
    if (req->list) {
        req_untrack(req);
    }
}

static void req_reap(BlkRequest *req)
{
    req_reap_inline(req);
}

static void req_submit_ops(BlkRequest *req)
{
    if (req->nslots == 1) {
        /* A read or write: no loop. */
        aio_submit(&req->slots[0].aio);
        return;
    }
    for (unsigned i = 0; i < req->nslots; i++) {
        aio_submit(&req->slots[i].aio);
    }
}

static int blk_run_internal(BlkRequest *req)
{
    int ret;

    req_submit_ops(req);
    req_reap(req);
    ret = req->ret;
    req_free(req);
    return ret;
}

/* ---- ordering --------------------------------------------------------- */

/* The bytes @r may touch; only asked of reads and writes. */
static inline uint64_t req_span_lo(const BlkRequest *r)
{
    return op_writes(r->op) ? r->span_lo : r->offset;
}

static inline uint64_t req_span_hi(const BlkRequest *r)
{
    return op_writes(r->op) ? r->span_hi : r->offset + r->bytes;
}

static bool req_conflict(const BlkRequest *a, const BlkRequest *b)
{
    if (a->op == BLK_OP_FLUSH || b->op == BLK_OP_FLUSH) {
        return true;
    }
    if (!op_writes(a->op) && !op_writes(b->op)) {
        return false;
    }
    return req_span_lo(a) < req_span_hi(b) && req_span_lo(b) < req_span_hi(a);
}

static void drain_list(BlkRequest *l, const BlkRequest *req)
{
    while (l) {
        BlkRequest *x = l;

        l = l->next; /* reaping unlinks x */
        if (req_conflict(x, req)) {
            req_reap(x);
        }
    }
}

/* Reap earlier requests whose host I/O @req must come after. A read only
 * looks at requests that change the image. */
static void drain_conflicts(BlockBackend *blk, const BlkRequest *req)
{
    if (req->op != BLK_OP_READ && blk->readers) {
        drain_list(blk->readers, req);
    }
    if (blk->writers) {
        drain_list(blk->writers, req);
    }
}

void blk_drain(BlockBackend *blk)
{
    while (blk->readers) {
        req_reap(blk->readers);
    }
    while (blk->writers) {
        req_reap(blk->writers);
    }
}

/* ---- write cache ------------------------------------------------------- */

/*
 * The volatile write cache holds the data of cached writes themselves:
 * the image file only ever receives data that is durable in the model.
 * So a power cut just forgets the cache, and making data durable (a
 * flush, the cache's bound, a FUA read of cached data) writes it back.
 * Reads look in the cache first. A cached write costs a copy into the
 * cache and no host I/O; write-back batches the blocks into few host
 * submissions. The data is kept per 4 KiB block of the image with a mask
 * of the 512-byte sectors held, so a partial write needs no read.
 */

static uint64_t cache_block_len(const BlockBackend *blk, uint64_t idx)
{
    return MIN((uint64_t)BLK_CACHE_BLOCK, blk->size - idx * BLK_CACHE_BLOCK);
}

static uint8_t cache_full_mask(const BlockBackend *blk, uint64_t idx)
{
    return (uint8_t)(0xffu >> (CACHE_SECTORS -
                               cache_block_len(blk, idx) / BLK_SECTOR_SIZE));
}

/* Sectors of block @idx that bytes [lo, hi) touch (hi > block start). */
static uint8_t sector_mask(uint64_t idx, uint64_t lo, uint64_t hi)
{
    uint64_t b = idx * BLK_CACHE_BLOCK;
    unsigned s = (unsigned)((MAX(lo, b) - b) / BLK_SECTOR_SIZE);
    unsigned e = (unsigned)DIV_ROUND_UP(MIN(hi, b + BLK_CACHE_BLOCK) - b,
                                        BLK_SECTOR_SIZE);

    return (uint8_t)((0xffu >> (CACHE_SECTORS - e)) & (0xffu << s));
}

static inline uint32_t cache_hash(const WriteCache *c, uint64_t idx)
{
    return (uint32_t)((idx * 0x9e3779b97f4a7c15ULL) >> 32) & (c->nbuckets - 1);
}

static inline uint8_t *cache_data(const WriteCache *c, uint32_t slot)
{
    return c->data + (size_t)slot * BLK_CACHE_BLOCK;
}

static uint32_t cache_find(const WriteCache *c, uint64_t idx)
{
    uint32_t s;

    if (!c->live) {
        return CACHE_NONE;
    }
    for (s = c->buckets[cache_hash(c, idx)]; s != CACHE_NONE;
         s = c->slots[s].next) {
        if (c->slots[s].idx == idx) {
            return s;
        }
    }
    return CACHE_NONE;
}

static void cache_link(WriteCache *c, uint32_t s)
{
    uint32_t h = cache_hash(c, c->slots[s].idx);

    c->slots[s].next = c->buckets[h];
    c->buckets[h] = s;
}

/* Forget everything the cache holds: empty the chains of the blocks held
 * (cheaper than clearing every bucket when few are). */
static void cache_clear(BlockBackend *blk)
{
    WriteCache *c = &blk->cache;

    for (uint32_t s = 0; s < c->high; s++) {
        if (c->slots[s].mask) {
            c->buckets[cache_hash(c, c->slots[s].idx)] = CACHE_NONE;
            c->slots[s].mask = 0;
        }
    }
    c->high = 0;
    c->free = CACHE_NONE;
    c->live = 0;
    c->bytes = 0;
    read_path_update(blk);
}

/* Free the arrays; they are allocated again at the next cached write. */
static void cache_release(WriteCache *c)
{
    free(c->data);
    g_free(c->slots);
    g_free(c->buckets);
    g_free(c->scratch);
    g_free(c->scratch2);
    memset(c, 0, sizeof(*c));
    c->free = CACHE_NONE;
}

/*
 * Room for the blocks the limit allows: every cached block but one (the
 * image's last, which may be shorter) takes BLK_CACHE_BLOCK bytes of the
 * limit. Grows the arrays, keeping what is cached, when the limit grew.
 */
static void cache_reserve(BlockBackend *blk)
{
    WriteCache *c = &blk->cache;
    uint32_t want = (uint32_t)MIN(blk->cache_limit / BLK_CACHE_BLOCK + 1,
                                  (uint64_t)UINT32_MAX / 4);
    uint32_t nb = 1;
    uint8_t *data;

    if (c->nslots >= want) {
        return;
    }
    while (nb < 2 * want) {
        nb <<= 1;
    }
    data =
        aligned_alloc_or_die(BLK_CACHE_BLOCK, (uint64_t)want * BLK_CACHE_BLOCK);
    if (c->high) {
        memcpy(data, c->data, (size_t)c->high * BLK_CACHE_BLOCK);
    }
    free(c->data);
    c->data = data;
    c->slots = g_renew(CacheSlot, c->slots, want);
    g_free(c->scratch);
    c->scratch = g_new(uint32_t, want);
    g_free(c->scratch2);
    c->scratch2 = g_new(uint32_t, want);
    g_free(c->buckets);
    c->buckets = g_new(uint32_t, nb);
    c->nbuckets = nb;
    c->nslots = want;
    memset(c->buckets, 0xff, nb * sizeof(*c->buckets));
    /* Rehash what is held (free slots have a zero mask). */
    for (uint32_t s = 0; s < c->high; s++) {
        if (c->slots[s].mask) {
            cache_link(c, s);
        }
    }
}

static uint32_t cache_insert(BlockBackend *blk, uint64_t idx)
{
    WriteCache *c = &blk->cache;
    uint32_t s = c->free;

    if (s != CACHE_NONE) {
        c->free = c->slots[s].next;
    } else {
        g_assert(c->high < c->nslots);
        s = c->high++;
    }
    c->slots[s].idx = idx;
    c->slots[s].mask = 0;
    c->slots[s].zmask = 0;
    cache_link(c, s);
    if (c->live++ == 0) {
        read_path_update(blk);
    }
    c->bytes += cache_block_len(blk, idx);
    return s;
}

static void cache_remove(BlockBackend *blk, uint32_t s)
{
    WriteCache *c = &blk->cache;
    uint32_t *pp = &c->buckets[cache_hash(c, c->slots[s].idx)];

    while (*pp != s) {
        pp = &c->slots[*pp].next;
    }
    *pp = c->slots[s].next;
    c->slots[s].mask = 0;
    c->slots[s].next = c->free;
    c->free = s;
    if (--c->live == 0) {
        read_path_update(blk);
    }
    c->bytes -= cache_block_len(blk, c->slots[s].idx);
}

/*
 * The slots holding blocks [first, last] into c->scratch; returns how
 * many. Looks the blocks up one by one when there are fewer of them than
 * blocks held, else scans the held blocks.
 */
static uint32_t cache_gather(BlockBackend *blk, uint64_t first, uint64_t last)
{
    WriteCache *c = &blk->cache;
    uint32_t n = 0;

    if (!c->live) {
        return 0;
    }
    if (last - first < c->live) {
        for (uint64_t idx = first; idx <= last; idx++) {
            uint32_t s = cache_find(c, idx);

            if (s != CACHE_NONE) {
                c->scratch[n++] = s;
            }
        }
        return n;
    }
    for (uint32_t s = 0; s < c->high; s++) {
        if (c->slots[s].mask && c->slots[s].idx >= first &&
            c->slots[s].idx <= last) {
            c->scratch[n++] = s;
        }
    }
    return n;
}

/* Write-back of a batch: run its ops, reap them. */
static int wb_run(BlkRequest *wb)
{
    int r;

    if (!wb->nslots) {
        return 0;
    }
    if (!wb->blk->dio_align) {
        /*
         * Buffered: the kernel copies into the page cache, CPU work this
         * thread does fastest itself. io_uring hands buffered writes that
         * cannot be done without blocking (all of them on some file
         * systems, ext4 among them) to kernel worker threads, a switch
         * per write.
         */
        for (unsigned i = 0; i < wb->nslots; i++) {
            aio_run_now(&wb->slots[i].aio);
        }
    } else {
        /* O_DIRECT: the device's queue depth matters; one submission. */
        aio_plug();
        req_submit_ops(wb);
        aio_unplug();
    }
    req_reap(wb);
    r = wb->ret;
    req_clear_slots(wb);
    free(wb->bounce);
    wb->bounce = NULL;
    wb->finished = false;
    wb->ret = 0;
    return r;
}

/*
 * Under O_DIRECT with host blocks larger than a sector, a block written
 * back in part would need a read-modify-write per run: complete it from
 * the image first, so it goes out whole.
 */
static int cache_fill_block(BlockBackend *blk, uint32_t s, uint8_t *tmp)
{
    CacheSlot *cs = &blk->cache.slots[s];
    uint8_t full = cache_full_mask(blk, cs->idx);
    uint8_t *d = cache_data(&blk->cache, s);
    int r;

    if (cs->mask == full) {
        return 0;
    }
    r = blk_read_internal(blk, cs->idx * BLK_CACHE_BLOCK, tmp,
                          cache_block_len(blk, cs->idx));
    if (r < 0) {
        return r;
    }
    for (unsigned i = 0; i < CACHE_SECTORS; i++) {
        if ((full & ~cs->mask) & (1u << i)) {
            memcpy(d + i * BLK_SECTOR_SIZE, tmp + i * BLK_SECTOR_SIZE,
                   BLK_SECTOR_SIZE);
        }
    }
    cs->mask = full;
    if (cs->zmask != full) {
        cs->zmask = 0; /* written as data, zeros and all */
    }
    return 0;
}

/* Write-back state: the pending run of adjacent data sectors (iovecs in
 * @iov from @run_iov on) and of adjacent discarded ones. */
typedef struct WbState {
    BlkRequest *req;
    struct iovec iov[AIO_IOV_MAX];
    unsigned niov;
    unsigned run_iov;
    uint64_t run_off, run_len;
    uint64_t punch_off, punch_len;
    int err;
} WbState;

static void wb_error(WbState *w, int r)
{
    if (r < 0 && !w->err) {
        w->err = r;
    }
}

/* Turn the pending runs into ops; run the batch once it is full. */
static void wb_emit(WbState *w)
{
    if (w->run_len) {
        wb_error(w, req_build_write(w->req, &w->iov[w->run_iov],
                                    w->niov - w->run_iov, w->run_off,
                                    w->run_len, false, true));
        w->run_len = 0;
    }
    if (w->punch_len) {
        req_add_discard(w->req, w->punch_off, w->punch_len, false, false);
        w->punch_len = 0;
    }
    w->run_iov = w->niov;
    if (w->req->nslots >= WB_BATCH_OPS ||
        w->niov + CACHE_SECTORS > AIO_IOV_MAX) {
        wb_error(w, wb_run(w->req));
        w->niov = w->run_iov = 0;
    }
}

static void wb_data(WbState *w, uint8_t *p, uint64_t off, uint64_t len)
{
    if (w->run_len && w->run_off + w->run_len == off) {
        struct iovec *last = &w->iov[w->niov - 1];

        if ((uint8_t *)last->iov_base + last->iov_len == p) {
            last->iov_len += len;
            w->run_len += len;
            return;
        }
        if (w->niov < AIO_IOV_MAX) {
            w->iov[w->niov].iov_base = p;
            w->iov[w->niov].iov_len = len;
            w->niov++;
            w->run_len += len;
            return;
        }
    }
    if (w->run_len) {
        wb_emit(w);
    }
    w->run_off = off;
    w->run_iov = w->niov;
    w->iov[w->niov].iov_base = p;
    w->iov[w->niov].iov_len = len;
    w->niov++;
    w->run_len = len;
}

static void wb_punch(WbState *w, uint64_t off, uint64_t len)
{
    if (w->punch_len && w->punch_off + w->punch_len != off) {
        wb_emit(w);
    }
    if (!w->punch_len) {
        w->punch_off = off;
    }
    w->punch_len += len;
}

/*
 * Sort the @n slots in c->scratch by block (a radix sort, 11 bits a pass:
 * two passes for images up to 32 GiB). Write-back in image order is much
 * cheaper for the host (its page cache keeps large folios whose
 * bookkeeping a random 4 KiB write pays for anew) and lets adjacent
 * blocks share one pwritev.
 */
static void cache_sort(BlockBackend *blk, uint32_t n)
{
    WriteCache *c = &blk->cache;
    uint64_t max_idx = (blk->size - 1) / BLK_CACHE_BLOCK;
    uint32_t *a = c->scratch, *b = c->scratch2;
    uint32_t count[1u << 11];

    if (n < 2) {
        return;
    }
    for (unsigned shift = 0; shift < 64 && (max_idx >> shift); shift += 11) {
        uint32_t *t;
        uint32_t sum = 0;

        memset(count, 0, sizeof(count));
        for (uint32_t i = 0; i < n; i++) {
            count[(c->slots[a[i]].idx >> shift) & 2047]++;
        }
        for (unsigned d = 0; d < G_N_ELEMENTS(count); d++) {
            uint32_t k = count[d];

            count[d] = sum;
            sum += k;
        }
        for (uint32_t i = 0; i < n; i++) {
            b[count[(c->slots[a[i]].idx >> shift) & 2047]++] = a[i];
        }
        t = a;
        a = b;
        b = t;
    }
    if (a != c->scratch) {
        memcpy(c->scratch, a, n * sizeof(*a));
    }
}

/*
 * Write the cached sectors of blocks [first, last] to the image and drop
 * them from the cache; everything in flight reaches the image first. The
 * host is not asked to make them durable (callers that must, fdatasync).
 * Returns 0 or the first -errno; the blocks are dropped either way.
 */
static int cache_write_back(BlockBackend *blk, uint64_t first, uint64_t last)
{
    WriteCache *c = &blk->cache;
    g_autofree WbState *w = NULL;
    void *tmp = NULL;
    uint32_t n;

    n = cache_gather(blk, first, last);
    if (!n) {
        return 0;
    }
    cache_sort(blk, n);
    blk_drain(blk);
    w = g_new0(WbState, 1);
    w->req = req_new(blk, BLK_OP_WRITE, 0, 0, 0);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t s = c->scratch[k];
        CacheSlot *cs = &c->slots[s];
        uint64_t b = cs->idx * BLK_CACHE_BLOCK;
        uint8_t *d = cache_data(c, s);

        if (blk->dio_align > BLK_SECTOR_SIZE) {
            if (!tmp) {
                tmp = aligned_alloc_or_die(BLK_CACHE_BLOCK, BLK_CACHE_BLOCK);
            }
            wb_error(w, cache_fill_block(blk, s, tmp));
        }
        if (!cs->zmask && cs->mask == cache_full_mask(blk, cs->idx)) {
            /* The common case: a whole block of data. */
            wb_data(w, d, b, cache_block_len(blk, cs->idx));
            continue;
        }
        for (unsigned i = 0; i < CACHE_SECTORS; i++) {
            uint64_t off = b + i * BLK_SECTOR_SIZE;

            if (!(cs->mask & (1u << i))) {
                continue;
            }
            if (cs->zmask & (1u << i)) {
                wb_punch(w, off, BLK_SECTOR_SIZE);
            } else {
                wb_data(w, d + i * BLK_SECTOR_SIZE, off, BLK_SECTOR_SIZE);
            }
        }
    }
    wb_emit(w);
    wb_error(w, wb_run(w->req));
    req_free(w->req);
    free(tmp);
    if (n == c->live) {
        cache_clear(blk);
    } else {
        for (uint32_t k = 0; k < n; k++) {
            cache_remove(blk, c->scratch[k]);
        }
    }
    return w->err;
}

/* Make everything written so far durable: in the model and on the host. */
static int cache_flush(BlockBackend *blk)
{
    int r = cache_write_back(blk, 0, UINT64_MAX);

    if (want_durable_host(blk) && !blk->readonly) {
        blk->stats.host_flushes++;
        if (fdatasync(blk->fd) < 0 && r == 0) {
            r = -errno;
        }
    }
    return r;
}

/* A durable write of [offset, offset + len) supersedes cached data there. */
static void cache_invalidate(BlockBackend *blk, uint64_t offset, uint64_t len)
{
    WriteCache *c = &blk->cache;
    uint32_t n = cache_gather(blk, offset / BLK_CACHE_BLOCK,
                              (offset + len - 1) / BLK_CACHE_BLOCK);

    for (uint32_t k = 0; k < n; k++) {
        uint32_t s = c->scratch[k];
        uint8_t m = sector_mask(c->slots[s].idx, offset, offset + len);

        c->slots[s].mask &= ~m;
        c->slots[s].zmask &= ~m;
        if (!c->slots[s].mask) {
            cache_remove(blk, s);
        }
    }
}

/*
 * Take a cached write of [offset, offset + len) into the cache: the data
 * of @iov, or (@iov NULL) zeros, discarded ones with @punch. Returns 1 when
 * cached, 0 when it must be written through instead (it alone exceeds the
 * cache's bound), or -errno when the write-back that made room failed.
 */
static int cache_write(BlockBackend *blk, uint64_t offset, uint64_t len,
                       const struct iovec *iov, unsigned niov, bool punch)
{
    WriteCache *c = &blk->cache;
    uint64_t first = offset / BLK_CACHE_BLOCK;
    uint64_t last = (offset + len - 1) / BLK_CACHE_BLOCK;
    uint64_t span =
        (last - first) * BLK_CACHE_BLOCK + cache_block_len(blk, last);
    uint64_t need = span;
    IovCursor cur = {.iov = iov, .niov = niov};

    if (c->live && span <= blk->cache_limit + c->bytes) {
        for (uint64_t idx = first; idx <= last; idx++) {
            if (cache_find(c, idx) != CACHE_NONE) {
                need -= cache_block_len(blk, idx);
            }
        }
    }
    if (need > blk->cache_limit) {
        return 0;
    }
    if (c->bytes + need > blk->cache_limit) {
        /* A full cache writes back; a real one may do so at any time.
         * The host need not make it durable: in the model the host's
         * page cache is the medium. */
        int r;

        blk->stats.implicit_flushes++;
        TRACE(blk_cache_full, "%s: %" PRIu64 " bytes cached, writing back",
              blk->filename, c->bytes);
        r = cache_write_back(blk, 0, UINT64_MAX);
        if (r < 0) {
            return r;
        }
    }
    cache_reserve(blk);
    for (uint64_t idx = first; idx <= last; idx++) {
        uint64_t b = idx * BLK_CACHE_BLOCK;
        uint64_t lo = MAX(offset, b);
        uint64_t hi = MIN(offset + len, b + BLK_CACHE_BLOCK);
        uint32_t s = cache_find(c, idx);
        uint8_t m = sector_mask(idx, lo, hi);
        uint8_t *d;

        if (s == CACHE_NONE) {
            s = cache_insert(blk, idx);
        }
        d = cache_data(c, s) + (lo - b);
        if (iov) {
            cursor_copy(&cur, d, hi - lo, false);
        } else {
            memset(d, 0, hi - lo);
        }
        c->slots[s].mask |= m;
        if (punch) {
            c->slots[s].zmask |= m;
        } else {
            c->slots[s].zmask &= ~m;
        }
    }
    return 1;
}

typedef enum CacheHit {
    CACHE_MISS,    /* nothing of the range is cached */
    CACHE_HIT,     /* all of it is */
    CACHE_PARTIAL, /* some */
} CacheHit;

static CacheHit cache_lookup(BlockBackend *blk, uint64_t offset, uint64_t len)
{
    WriteCache *c = &blk->cache;
    uint64_t first = offset / BLK_CACHE_BLOCK;
    uint64_t last = (offset + len - 1) / BLK_CACHE_BLOCK;
    bool any = false, all = true;

    if (!c->live) {
        return CACHE_MISS;
    }
    if (last - first >= c->live) {
        /* More blocks than the cache holds: some are missing. */
        return cache_gather(blk, first, last) ? CACHE_PARTIAL : CACHE_MISS;
    }
    for (uint64_t idx = first; idx <= last; idx++) {
        uint32_t s = cache_find(c, idx);
        uint8_t need = sector_mask(idx, offset, offset + len);
        uint8_t have = s == CACHE_NONE ? 0 : c->slots[s].mask;

        any |= (need & have) != 0;
        all &= (need & ~have) == 0;
    }
    return all ? CACHE_HIT : any ? CACHE_PARTIAL : CACHE_MISS;
}

/* Copy [offset, offset + len), all of it cached, to @iov. */
static void cache_read_all(BlockBackend *blk, uint64_t offset, uint64_t len,
                           const struct iovec *iov, unsigned niov)
{
    WriteCache *c = &blk->cache;
    IovCursor cur = {.iov = iov, .niov = niov};
    uint64_t end = offset + len;

    for (uint64_t idx = offset / BLK_CACHE_BLOCK; idx * BLK_CACHE_BLOCK < end;
         idx++) {
        uint64_t b = idx * BLK_CACHE_BLOCK;
        uint64_t lo = MAX(offset, b), hi = MIN(end, b + BLK_CACHE_BLOCK);

        cursor_copy(&cur, cache_data(c, cache_find(c, idx)) + (lo - b), hi - lo,
                    true);
    }
}

/* Copy the cached sectors of [offset, offset + len) over @iov (which holds
 * the image's data for the range). */
static void cache_read_patch(BlockBackend *blk, uint64_t offset, uint64_t len,
                             const struct iovec *iov, unsigned niov)
{
    WriteCache *c = &blk->cache;
    uint64_t end = offset + len;
    uint32_t n = cache_gather(blk, offset / BLK_CACHE_BLOCK,
                              (end - 1) / BLK_CACHE_BLOCK);

    for (uint32_t k = 0; k < n; k++) {
        uint32_t s = c->scratch[k];
        uint64_t b = c->slots[s].idx * BLK_CACHE_BLOCK;

        for (unsigned i = 0; i < CACHE_SECTORS; i++) {
            uint64_t lo = MAX(offset, b + i * BLK_SECTOR_SIZE);
            uint64_t hi = MIN(end, b + (i + 1) * BLK_SECTOR_SIZE);

            if ((c->slots[s].mask & (1u << i)) && lo < hi) {
                iov_copy(iov, niov, lo - offset, cache_data(c, s) + (lo - b),
                         hi - lo, true);
            }
        }
    }
}

void blk_set_write_cache(BlockBackend *blk, bool enabled)
{
    if (blk->wce && !enabled) {
        blk_drain(blk);
        cache_flush(blk);
    }
    blk->wce = enabled;
}

bool blk_write_cache(const BlockBackend *blk)
{
    return blk->wce;
}

void blk_set_cache_limit(BlockBackend *blk, uint64_t bytes)
{
    blk->cache_limit =
        MAX(DIV_ROUND_UP(bytes, BLK_CACHE_BLOCK) * BLK_CACHE_BLOCK,
            (uint64_t)BLK_CACHE_BLOCK);
    if (blk->cache.bytes > blk->cache_limit) {
        blk->stats.implicit_flushes++;
        cache_write_back(blk, 0, UINT64_MAX);
    }
    if (!blk->cache.live) {
        /* Sized again for the new limit at the next cached write. */
        cache_release(&blk->cache);
    }
}

uint64_t blk_cache_dirty_bytes(const BlockBackend *blk)
{
    return blk->cache.bytes;
}

void blk_power_cut(BlockBackend *blk)
{
    uint64_t n;

    /* Durable writes in flight complete; cached ones never reached the
     * image, so forgetting the cache undoes exactly them. */
    blk_drain(blk);
    n = blk->cache.live;
    cache_clear(blk);
    blk->stats.power_cuts++;
    blk->stats.blocks_rolled_back += n;
    TRACE(blk_power_cut, "%s: %" PRIu64 " cached blocks lost", blk->filename,
          n);
}

/* ---- mapped reads (mmap=on) ------------------------------------------- */

/*
 * With mmap=on the image is also mapped read-only and shared: the mapping
 * shows the host's page cache, the very data preadv would copy, so a read
 * becomes a memcpy into guest RAM with no system call. Writes still go
 * through the fd (and land in the same page cache), so only reads change.
 *
 * Touching a page the process never mapped costs a minor fault per 64 KiB
 * (the kernel's fault-around), which would cost random 4 KiB reads more
 * than the system call saved. So the first read of each 2 MiB chunk asks
 * the kernel to map all of it (MADV_POPULATE_READ): at most two system
 * calls per chunk over a run (see map_populate()). MAP_POPULATE would read
 * a whole image in at start.
 *
 * If another process shrinks the file, touching the mapping past the new
 * end raises SIGBUS. A handler, installed at the first mapping, jumps back
 * into the copy that faulted when that thread has armed a recovery point
 * covering the address; the read then fails with EIO as a short preadv
 * does. Any other SIGBUS goes to whoever handled it before us.
 */
static _Thread_local sigjmp_buf *volatile map_jmp;
static _Thread_local volatile uintptr_t map_lo, map_hi, map_fault;
static struct sigaction map_prev_action;

static void map_sigbus(int sig, siginfo_t *si, void *ctx)
{
    sigjmp_buf *env = map_jmp;
    uintptr_t a = (uintptr_t)si->si_addr;

    if (env && a >= map_lo && a < map_hi) {
        map_jmp = NULL;
        map_fault = a;
        siglongjmp(*env, 1);
    }
    /* Not a mapped read's: back to the previous disposition (the default
     * dumps core). A fault recurs when the instruction runs again on
     * return; a SIGBUS that was sent must be sent again. */
    sigaction(SIGBUS, &map_prev_action, NULL);
    if (si->si_code <= 0) {
        raise(sig);
    }
}

static void map_install_handler(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = map_sigbus;
        /* SA_NODEFER: the jump out of the handler does not restore the
         * signal mask (saving it would cost a system call per read), so
         * SIGBUS must not be blocked while the handler runs. */
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, &map_prev_action);
        g_once_init_leave(&done, 1);
    }
}

static bool map_image(BlockBackend *blk, GError **errp)
{
    uint64_t nchunks = DIV_ROUND_UP(blk->size, (uint64_t)1 << MAP_CHUNK_SHIFT);
    void *p;

    if (!blk->size) {
        return true;
    }
    p = mmap(NULL, blk->size, PROT_READ, MAP_SHARED, blk->fd, 0);
    if (p == MAP_FAILED) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "mmap=on: cannot map image '%s' (%s); use mmap=off",
                    blk->filename, g_strerror(errno));
        return false;
    }
    blk->map = p;
    read_path_update(blk);
    /* Reads are random: no readahead around a faulting page. */
    madvise(p, blk->size, MADV_RANDOM);
    blk->map_chunks = g_new0(uint64_t, DIV_ROUND_UP(nchunks, 64));
    blk->map_populate = true;
    map_install_handler();
    return true;
}

static void unmap_image(BlockBackend *blk)
{
    if (blk->map) {
        munmap(blk->map, blk->size);
        blk->map = NULL;
        read_path_update(blk);
    }
    g_clear_pointer(&blk->map_chunks, g_free);
}

/* Map the page tables of the chunks [offset, offset + len) touches, once
 * per chunk. */
static void map_populate(BlockBackend *blk, uint64_t offset, uint64_t len)
{
    uint64_t last = (offset + len - 1) >> MAP_CHUNK_SHIFT;

    for (uint64_t c = offset >> MAP_CHUNK_SHIFT; c <= last && blk->map_populate;
         c++) {
        uint64_t lo = c << MAP_CHUNK_SHIFT;
        uint64_t n = MIN((uint64_t)1 << MAP_CHUNK_SHIFT, blk->size - lo);

        if (blk->map_chunks[c / 64] & (1ULL << (c % 64))) {
            continue;
        }
        blk->map_chunks[c / 64] |= 1ULL << (c % 64);
        /* Start reading the chunk in as one request if it is not in the
         * page cache: populating faults page by page under MADV_RANDOM. */
        madvise(blk->map + lo, n, MADV_WILLNEED);
        if (madvise(blk->map + lo, n, MADV_POPULATE_READ) < 0 &&
            errno == EINVAL) {
            /* Before Linux 5.14: faults will do. Other errors (a file
             * shrunk under us) show in the copy. */
            blk->map_populate = false;
        }
    }
}

/*
 * Copy [offset, offset + len) of the mapping to @iov. False when the copy
 * hit the end of a file shrunk under us (map_fault says where). Nothing
 * that changes after sigsetjmp() is used after the jump back.
 */
static bool map_copy(BlockBackend *blk, uint64_t offset, uint64_t len,
                     const struct iovec *iov, unsigned niov)
{
    sigjmp_buf env;

    if (sigsetjmp(env, 0)) {
        return false;
    }
    map_lo = (uintptr_t)blk->map;
    map_hi = (uintptr_t)blk->map + blk->size;
    map_jmp = &env;
    /* The handler must see the recovery point armed before the copy
     * starts and in place until it ends. */
    atomic_signal_fence(memory_order_seq_cst);
    iov_copy(iov, niov, 0, blk->map + offset, len, true);
    atomic_signal_fence(memory_order_seq_cst);
    map_jmp = NULL;
    return true;
}

/* Whether a read of [offset, offset + len) can come from the mapping: not
 * when any of it is in the snapshot overlay. */
static bool map_serves(const BlockBackend *blk, uint64_t offset, uint64_t len)
{
    if (!blk->map) {
        return false;
    }
    if (blk->ovl_reads) {
        for (uint64_t s = offset / BLK_SECTOR_SIZE;
             s < DIV_ROUND_UP(offset + len, BLK_SECTOR_SIZE); s++) {
            if (map_test(blk, s)) {
                return false;
            }
        }
    }
    return true;
}

/* A read served from the mapping; @hit says whether the write cache holds
 * some of the range (it holds none or part of it). Over on return. */
static BlkRequest *submit_read_mapped(BlkRequest *req, const struct iovec *iov,
                                      unsigned niov, CacheHit hit)
{
    BlockBackend *blk = req->blk;
    uint64_t offset = req->offset, bytes = req->bytes;

    /* Writes to the range still in flight on the host reach the page
     * cache, and so the mapping, once reaped. */
    drain_conflicts(blk, req);
    map_populate(blk, offset, bytes);
    blk->stats.mapped_reads++;
    if (!map_copy(blk, offset, bytes, iov, niov)) {
        req->ret = -EIO; /* the file ends early: shrunk under us */
        req->err_offset = MAX(offset, (uint64_t)(map_fault - map_lo));
        if (!blk->map_warned) {
            blk->map_warned = true;
            g_warning("image '%s' shrank below its size at open (%" PRIu64
                      " bytes) while mapped: reads past its end fail",
                      blk->filename, blk->size);
        }
    } else if (hit == CACHE_PARTIAL) {
        cache_read_patch(blk, offset, bytes, iov, niov);
    }
    req->finished = true;
    return req;
}

/* ---- error injection -------------------------------------------------- */

void blk_inject_error(BlockBackend *blk, int err, unsigned op_mask,
                      uint64_t offset, uint64_t len, unsigned count)
{
    BlkErrorRule r = {
        .err = err > 0 ? err : EIO,
        .op_mask = op_mask ? op_mask
                           : BLK_OP_BIT(BLK_OP_READ) | BLK_OP_BIT(BLK_OP_WRITE),
        .offset = offset,
        .len = len,
        .count = count,
    };

    g_array_append_val(blk->rules, r);
    read_path_update(blk);
}

void blk_clear_injected_errors(BlockBackend *blk)
{
    g_array_set_size(blk->rules, 0);
    read_path_update(blk);
}

/* Apply the first matching rule to @req; true if it failed it. */
static bool inject_match(BlockBackend *blk, BlkRequest *req)
{
    for (guint i = 0; i < blk->rules->len; i++) {
        BlkErrorRule *r = &g_array_index(blk->rules, BlkErrorRule, i);
        uint64_t rhi = r->len ? r->offset + r->len : UINT64_MAX;

        if (!(r->op_mask & BLK_OP_BIT(req->op))) {
            continue;
        }
        if (req->op != BLK_OP_FLUSH &&
            (req->bytes == 0 || req->offset >= rhi ||
             r->offset >= req->offset + req->bytes)) {
            continue;
        }
        req->ret = -r->err;
        req->err_offset =
            req->op == BLK_OP_FLUSH ? 0 : MAX(req->offset, r->offset);
        if (r->count && --r->count == 0) {
            g_array_remove_index(blk->rules, i);
            read_path_update(blk);
        }
        return true;
    }
    return false;
}

/* ---- the request path ------------------------------------------------- */

static BlkRequest *req_fail_now(BlkRequest *req, int err)
{
    req->ret = err;
    req->finished = true;
    return req;
}

/* Start @req now that it is known to go to the host. */
static BlkRequest *req_start(BlkRequest *req)
{
    req_track(req);
    req_submit_ops(req);
    return req;
}

static BlkRequest *submit_read(BlkRequest *req, const struct iovec *iov,
                               unsigned niov, unsigned n, bool exact)
{
    BlockBackend *blk = req->blk;
    uint64_t offset = req->offset, bytes = req->bytes;
    CacheHit hit = CACHE_MISS;

    if (blk->cache.live) {
        if (req->flags & BLK_REQ_FUA) {
            /* FUA: cached data of the range is written back first. */
            int r = cache_write_back(blk, offset / BLK_CACHE_BLOCK,
                                     (offset + bytes - 1) / BLK_CACHE_BLOCK);
            if (r < 0) {
                return req_fail_now(req, r);
            }
        }
        hit = cache_lookup(blk, offset, bytes);
        if (hit == CACHE_HIT) {
            cache_read_all(blk, offset, bytes, iov, niov);
            req->finished = true;
            return req;
        }
    }
    if (map_serves(blk, offset, bytes)) {
        return submit_read_mapped(req, iov, niov, hit);
    }
    drain_conflicts(blk, req);
    req_build_read(req, iov, niov, n, exact);
    req_start(req);
    if (hit == CACHE_PARTIAL) {
        /* Read the image's data now and put the cached sectors over it,
         * before anything can change the cache. */
        req_reap(req);
        if (req->ret == 0) {
            cache_read_patch(blk, offset, bytes, iov, niov);
        }
    }
    return req;
}

static BlkRequest *submit_write(BlkRequest *req, const struct iovec *iov,
                                unsigned niov, unsigned n, bool exact)
{
    BlockBackend *blk = req->blk;
    BlkOp op = req->op;
    uint64_t offset = req->offset, bytes = req->bytes;
    bool durable = (req->flags & BLK_REQ_FUA) || !blk->wce;
    int r;

    if (!durable) {
        r = cache_write(blk, offset, bytes, op == BLK_OP_WRITE ? iov : NULL,
                        niov, op == BLK_OP_DISCARD);
        if (r < 0) {
            return req_fail_now(req, r);
        }
        if (r > 0) {
            uint32_t a = blk->dio_align;

            /* The cache is the aligned buffer such a write needed. */
            if (a && op == BLK_OP_WRITE &&
                (offset % a || bytes % a || !iov_aligned(iov, niov, a))) {
                blk->stats.bounced++;
            }
            req->finished = true;
            return req;
        }
        durable = true; /* larger than the whole cache: write through */
    }
    cache_invalidate(blk, offset, bytes);
    drain_conflicts(blk, req);
    if (op == BLK_OP_WRITE) {
        g_autofree struct iovec *part = NULL;

        if (!exact) {
            part = g_new(struct iovec, n);
            n = iov_slice(iov, n, 0, bytes, part);
            iov = part;
        }
        r = req_build_write(req, iov, n, offset, bytes, durable, exact);
        if (r < 0) {
            return req_fail_now(req, r);
        }
    } else {
        req_add_discard(req, offset, bytes, op == BLK_OP_WRITE_ZEROES, durable);
    }
    return req_start(req);
}

static BlkRequest *submit_flush(BlkRequest *req)
{
    BlockBackend *blk = req->blk;
    int r = cache_write_back(blk, 0, UINT64_MAX);

    if (r < 0) {
        return req_fail_now(req, r);
    }
    drain_conflicts(blk, req);
    if (want_durable_host(blk) && !blk->readonly) {
        blk->stats.host_flushes++;
        req_add_simple(req, AIO_OP_FDATASYNC, blk->fd, 0, 0, 0);
    }
    return req_start(req);
}

/* Count and trace a request being submitted. */
static inline __attribute__((always_inline)) void
submit_note(BlockBackend *blk, BlkOp op, uint64_t offset, uint64_t bytes,
            unsigned flags)
{
    blk->stats.ops[op]++;
    TRACE(blk_submit, "%s %s off=%" PRIu64 " len=%" PRIu64 "%s",
          blk->id ? blk->id : blk->filename, op_names[op], offset, bytes,
          flags & BLK_REQ_FUA ? " fua" : "");
}

/* Whether an injected error rule fails @req (it is then over). */
static inline __attribute__((always_inline)) bool
submit_injected(BlockBackend *blk, BlkRequest *req)
{
    if (blk->rules->len && inject_match(blk, req)) {
        blk->stats.injected++;
        req->finished = true;
        return true;
    }
    return false;
}

/* Storage a request of another backend used, or zeroed storage: free
 * either way, so set up afresh. */
static void req_embed(BlkRequest *req, BlockBackend *blk)
{
    memset(req, 0, sizeof(*req));
    req->blk = blk;
    req->slots = &req->slot0;
    req->slots_cap = 1;
    req->embedded = true;
}

/* blk_submit_in() for everything but its plain read. */
static G_GNUC_NO_INLINE BlkRequest *
blk_submit_in_slow(BlkRequestStorage *st, BlockBackend *blk, BlkOp op,
                   uint64_t offset, uint64_t bytes, const struct iovec *iov,
                   unsigned niov, unsigned flags)
{
    BlkRequest *req = (BlkRequest *)st;

    g_assert(op == BLK_OP_READ || op == BLK_OP_WRITE);
    if (req->blk != blk) {
        req_embed(req, blk);
    }
    req_init(req, op, offset, bytes, flags);
    submit_note(blk, op, offset, bytes, flags);
    /* The caller vouched for range, alignment, iovecs and a writable
     * image: blk_submit()'s checks could not fail. */
    if (submit_injected(blk, req)) {
        return req;
    }
    if (op != BLK_OP_READ) {
        return submit_write(req, iov, niov, niov, true);
    }
    return submit_read(req, iov, niov, niov, true);
}

/* blk_submit_in() of a READ: inline into it and into blk_read_in(), whose
 * caller passes no op and no flags, the two arguments that would go on
 * the stack. */
static inline __attribute__((always_inline)) BlkRequest *
submit_in_read(BlkRequestStorage *st, BlockBackend *blk, uint64_t offset,
               uint64_t bytes, const struct iovec *iov, unsigned niov,
               unsigned flags)
{
    const BlkOp op = BLK_OP_READ;
    BlkRequest *req = (BlkRequest *)st;
    BlkSlot *s = &req->slot0;

    if (G_UNLIKELY(req->blk != blk || !blk->reads_plain || blk->writers ||
                   niov > AIO_IOV_MAX)) {
        return blk_submit_in_slow(st, blk, op, offset, bytes, iov, niov, flags);
    }
    /*
     * What submit_read() comes to with nothing cached, no mapping, no
     * write to wait for, no bounce, one file to read and no error rule
     * (reads_plain): the one op on the caller's iovecs (req_free() left
     * no ops, and the first slot is slot0 in a caller's storage),
     * started. Counted and traced once it is set up, so that the
     * arguments need not outlive the trace's call (in saved registers).
     */
    req_init(req, op, offset, bytes, flags);
    req->nslots = 1;
    s->aio.type = AIO_OP_READ;
    s->aio.fd = blk->fd;
    s->aio.rw_flags = 0;
    s->aio.offset = offset;
    s->aio.iov = iov;
    s->aio.iovcnt = (int)niov;
    s->expect = bytes;
    s->own_iov = NULL;
    submit_note(blk, op, offset, bytes, flags);
    /* A read the engine ran inside the call has no host I/O a later
     * write could have to wait for: it stays off the readers list. The
     * op is a read of 1..AIO_IOV_MAX iovecs (the contract says @bytes is
     * not 0 and @iov holds it), so the engine need not check it again. */
    if (!aio_submit_read(&s->aio)) {
        req_track(req);
    }
    return req;
}

BlkRequest *blk_submit_in(BlkRequestStorage *st, BlockBackend *blk, BlkOp op,
                          uint64_t offset, uint64_t bytes,
                          const struct iovec *iov, unsigned niov,
                          unsigned flags)
{
    if (G_UNLIKELY(op != BLK_OP_READ)) {
        return blk_submit_in_slow(st, blk, op, offset, bytes, iov, niov, flags);
    }
    return submit_in_read(st, blk, offset, bytes, iov, niov, flags);
}

void blk_read_in(BlkRequestStorage *st, BlockBackend *blk, uint64_t offset,
                 uint64_t bytes, const struct iovec *iov, unsigned niov)
{
    submit_in_read(st, blk, offset, bytes, iov, niov, 0);
}

BlkRequest *blk_submit(BlockBackend *blk, BlkOp op, uint64_t offset,
                       uint64_t bytes, const struct iovec *iov, unsigned niov,
                       unsigned flags)
{
    BlkRequest *req = req_new(blk, op, offset, bytes, flags);
    unsigned n = 0;    /* iovecs holding the data */
    uint64_t have = 0; /* their bytes */

    g_assert(op < BLK_OP_COUNT);
    submit_note(blk, op, offset, bytes, flags);
    if (op != BLK_OP_FLUSH &&
        (offset > blk->size || bytes > blk->size - offset)) {
        return req_fail_now(req, -EINVAL);
    }
    if (op_writes(op)) {
        if (blk->readonly) {
            return req_fail_now(req, -EROFS);
        }
        if (offset % BLK_SECTOR_SIZE || bytes % BLK_SECTOR_SIZE) {
            return req_fail_now(req, -EINVAL);
        }
    }
    if (op == BLK_OP_READ || op == BLK_OP_WRITE) {
        have = iov_prefix(iov, niov, bytes, &n);
        if (have < bytes) {
            return req_fail_now(req, -EINVAL);
        }
    }
    if (submit_injected(blk, req)) {
        return req;
    }
    if (bytes == 0 && op != BLK_OP_FLUSH) {
        req->finished = true;
        return req;
    }
    switch (op) {
    case BLK_OP_READ:
        return submit_read(req, iov, niov, n, have == bytes);
    case BLK_OP_WRITE:
    case BLK_OP_DISCARD:
    case BLK_OP_WRITE_ZEROES:
        return submit_write(req, iov, niov, n, have == bytes);
    case BLK_OP_FLUSH:
        return submit_flush(req);
    default:
        g_assert_not_reached();
    }
    return req;
}

/* The bytes a request that went well moved, in the statistics. */
static inline void count_done(BlockBackend *blk, const BlkRequest *req)
{
    if (req->op == BLK_OP_READ) {
        blk->stats.bytes_read += req->bytes;
    } else if (req->op == BLK_OP_WRITE) {
        blk->stats.bytes_written += req->bytes;
    }
}

/* blk_wait() for everything but a one-op request that went well. */
static G_GNUC_NO_INLINE int blk_wait_slow(BlkRequest *req, uint64_t *err_offset)
{
    BlockBackend *blk = req->blk;
    int ret;

    req_reap_inline(req);
    ret = req->ret;
    if (ret < 0) {
        blk->stats.errors++;
        TRACE(blk_error, "%s %s off=%" PRIu64 " len=%" PRIu64 ": %s",
              blk->id ? blk->id : blk->filename, op_names[req->op], req->offset,
              req->bytes, g_strerror(-ret));
    } else {
        count_done(blk, req);
    }
    if (err_offset) {
        *err_offset = req->err_offset;
    }
    req_free(req);
    return ret;
}

/* The end of a one-op request whose op moved every byte, off every
 * list: blk_wait()'s usual end, whichever way it waited. Released at
 * once, so finished is not set: only a request in flight is asked, and
 * the next submission in this storage starts it afresh (req_init()). */
static inline __attribute__((always_inline)) int wait_done(BlkRequest *req)
{
    count_done(req->blk, req);
    req_release(req); /* off every list, no extras */
    return 0;
}

/* blk_wait() of a one-op request on a list: its host I/O may still be
 * going on. Out of line, so that blk_wait() itself makes no call for the
 * read the engine ran inside blk_submit_in(), and saves no registers. */
static G_GNUC_NO_INLINE int blk_wait_listed(BlkRequest *req,
                                            uint64_t *err_offset)
{
    BlkSlot *s = req->slots;

    aio_wait(&s->aio);
    if (G_UNLIKELY(s->aio.result != (int64_t)s->expect)) {
        return blk_wait_slow(req, err_offset);
    }
    req_untrack(req);
    return wait_done(req);
}

int blk_wait(BlkRequest *req, uint64_t *err_offset)
{
    BlkSlot *s = req->slots;

    /*
     * The usual request: one op, no bounce to copy out of (extras), and
     * it moved every byte it should (so slot_reap() finds no error). The
     * rest, and a short or failed op, take the whole path, which waits
     * again at no cost.
     */
    if (G_UNLIKELY(req->finished || req->nslots != 1 || req->extras)) {
        return blk_wait_slow(req, err_offset);
    }
    /* An unfinished request is on a list from its start until reaped,
     * but for blk_submit_in()'s read that the engine ran inside the call:
     * that one has its result already, and nothing to wait for. */
    if (req->list) {
        return blk_wait_listed(req, err_offset);
    }
    if (G_UNLIKELY(s->aio.result != (int64_t)s->expect)) {
        return blk_wait_slow(req, err_offset);
    }
    return wait_done(req);
}

int blk_pread(BlockBackend *blk, uint64_t offset, void *buf, uint64_t len)
{
    struct iovec v = {buf, len};

    return blk_wait(blk_submit(blk, BLK_OP_READ, offset, len, &v, 1, 0), NULL);
}

int blk_pwrite(BlockBackend *blk, uint64_t offset, const void *buf,
               uint64_t len, unsigned flags)
{
    struct iovec v = {(void *)buf, len};

    return blk_wait(blk_submit(blk, BLK_OP_WRITE, offset, len, &v, 1, flags),
                    NULL);
}

int blk_flush(BlockBackend *blk)
{
    return blk_wait(blk_submit(blk, BLK_OP_FLUSH, 0, 0, NULL, 0, 0), NULL);
}

void blk_io_plug(void)
{
    aio_plug();
}

void blk_io_unplug(void)
{
    aio_unplug();
}

/* ---- opening images --------------------------------------------------- */

static BlockBackend *blk_alloc(const char *filename, unsigned flags)
{
    BlockBackend *blk = g_new0(BlockBackend, 1);

    blk->filename = g_strdup(filename);
    blk->flags = flags;
    blk->fd = -1;
    blk->ovl_fd = -1;
    blk->wce = true;
    blk->cache_limit = BLK_CACHE_LIMIT_DEFAULT;
    blk->cache.free = CACHE_NONE;
    blk->rules = g_array_new(FALSE, TRUE, sizeof(BlkErrorRule));
    read_path_update(blk);
    return blk;
}

static void blk_release(BlockBackend *blk)
{
    unmap_image(blk);
    if (blk->fd >= 0) {
        aio_forget_fd(blk->fd);
        close(blk->fd);
    }
    if (blk->ovl_fd >= 0) {
        aio_forget_fd(blk->ovl_fd);
        close(blk->ovl_fd);
    }
    g_free(blk->ovl_map);
    cache_release(&blk->cache);
    pool_release(blk);
    g_array_free(blk->rules, TRUE);
    g_free(blk->filename);
    g_free(blk->owner);
    g_free(blk->id);
    g_free(blk);
}

/* A sparse, already unlinked file of @size bytes in the temporary dir. */
static int temp_file(uint64_t size, const char *what, GError **errp)
{
    g_autofree char *path =
        g_build_filename(g_get_tmp_dir(), "storemu-XXXXXX", NULL);
    int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "cannot create the %s in %s: %s (set TMPDIR to a "
                    "writable directory)",
                    what, g_get_tmp_dir(), g_strerror(errno));
        return -1;
    }
    unlink(path);
    if (ftruncate(fd, (off_t)size) < 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "cannot size the %s to %" PRIu64 " bytes in %s: %s", what,
                    size, g_get_tmp_dir(), g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool check_size(const char *name, uint64_t size, GError **errp)
{
    if (size == 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "image '%s' is empty (0 bytes); a disk needs at least "
                    "one sector",
                    name);
        return false;
    }
    if (size % BLK_SECTOR_SIZE) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "image '%s' has %" PRIu64 " bytes, not a multiple of "
                    "%u; resize it (truncate -s) to whole sectors",
                    name, size, BLK_SECTOR_SIZE);
        return false;
    }
    return true;
}

/*
 * Lock the whole image the way QEMU does, with locks that belong to the
 * open file description (so a second open in this very process conflicts
 * too): writers take a write lock, readers a read lock.
 */
static bool lock_image(BlockBackend *blk, bool write, GError **errp)
{
    struct flock fl = {
        .l_type = write ? F_WRLCK : F_RDLCK,
        .l_whence = SEEK_SET,
    };

    if (fcntl(blk->fd, F_OFD_SETLK, &fl) == 0) {
        return true;
    }
    if (errno == EAGAIN || errno == EACCES) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_BUSY,
                    "image '%s' is in use by another storemu (it holds a "
                    "%s lock); stop that one first%s",
                    blk->filename, write ? "conflicting" : "write",
                    write ? ", or open both with readonly=on" : "");
        return false;
    }
    /* File systems without lock support (some network mounts): go on
     * unprotected, as QEMU does, but say so. */
    g_warning("image '%s': cannot lock it (%s); another process could "
              "write it at the same time",
              blk->filename, g_strerror(errno));
    return true;
}

/* Find the O_DIRECT alignment by reading the first sector(s). */
static bool probe_dio(BlockBackend *blk, GError **errp)
{
    static const uint32_t sizes[] = {512, 4096};
    void *buf = aligned_alloc_or_die(4096, 4096);

    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        if (pread(blk->fd, buf, sizes[i], 0) >= 0 || errno != EINVAL) {
            blk->dio_align = sizes[i];
            read_path_update(blk);
            break;
        }
    }
    free(buf);
    if (!blk->dio_align) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "cache=none: O_DIRECT reads of '%s' fail with any "
                    "alignment; use cache=writeback",
                    blk->filename);
        return false;
    }
    if (blk->size % blk->dio_align) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "cache=none: image '%s' (%" PRIu64 " bytes) is not a "
                    "multiple of the host's %u-byte direct I/O block; "
                    "resize it or use cache=writeback",
                    blk->filename, blk->size, blk->dio_align);
        return false;
    }
    return true;
}

static bool open_overlay(BlockBackend *blk, GError **errp)
{
    uint64_t sectors = blk->size / BLK_SECTOR_SIZE;

    blk->ovl_fd = temp_file(blk->size, "snapshot overlay", errp);
    if (blk->ovl_fd < 0) {
        return false;
    }
    /* Calloc'd: pages of the map are only backed once written. */
    blk->ovl_map = g_new0(uint64_t, DIV_ROUND_UP(sectors, 64));
    return true;
}

/* mmap=on reads the page cache, which cache=none keeps out of the way. */
static bool check_mmap_flags(unsigned flags, GError **errp)
{
    if ((flags & BLK_OPEN_MMAP) && (flags & BLK_OPEN_NOCACHE)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "mmap=on cannot go with cache=none: a mapping reads "
                    "the host page cache, which O_DIRECT bypasses; use "
                    "cache=writeback (or unsafe) with mmap=on, or mmap=off");
        return false;
    }
    return true;
}

static int open_image_fd(const char *path, bool write, bool direct)
{
    int fl = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (direct ? O_DIRECT : 0);

    return open(path, fl);
}

BlockBackend *blk_open(const char *path, unsigned flags, GError **errp)
{
    bool snapshot = flags & BLK_OPEN_SNAPSHOT;
    bool write = !(flags & BLK_OPEN_READONLY) && !snapshot;
    bool direct = flags & BLK_OPEN_NOCACHE;
    BlockBackend *blk;
    struct stat st;

    if (!path || !*path) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "no image file given (file=PATH, or size=SIZE for a "
                    "temporary one)");
        return NULL;
    }
    if (!check_mmap_flags(flags, errp)) {
        return NULL;
    }
    if (stat(path, &st) < 0) {
        g_set_error(
            errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
            errno == ENOENT
                ? "image '%s' does not exist (create it "
                  "with truncate -s SIZE, or use size=SIZE for a temporary "
                  "image)"
                : "image '%s': %s",
            path, g_strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "image '%s' is neither a regular file nor a block "
                    "device",
                    path);
        return NULL;
    }
    /* A file nobody may write is read-only even to root. */
    if (write && S_ISREG(st.st_mode) && !(st.st_mode & 0222)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "image '%s' is read-only but the disk would be "
                    "writable: use readonly=on, or snapshot=on to keep "
                    "writes in a temporary overlay",
                    path);
        return NULL;
    }

    blk = blk_alloc(path, flags);
    blk->readonly = flags & BLK_OPEN_READONLY;
    blk->fd = open_image_fd(path, write, direct);
    if (blk->fd < 0 && direct && errno == EINVAL) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "cache=none: the file system holding '%s' does not "
                    "support O_DIRECT; use cache=writeback",
                    path);
        goto fail;
    }
    if (blk->fd < 0) {
        int err = errno;

        if (write && (err == EACCES || err == EROFS || err == EPERM)) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "image '%s' cannot be opened for writing (%s): use "
                        "readonly=on, or snapshot=on to keep writes in a "
                        "temporary overlay",
                        path, g_strerror(err));
        } else {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "cannot open image '%s': %s", path, g_strerror(err));
        }
        goto fail;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(blk->fd, BLKGETSIZE64, &blk->size) < 0) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "cannot get the size of block device '%s': %s", path,
                        g_strerror(errno));
            goto fail;
        }
    } else {
        blk->size = st.st_size;
    }
    if (!check_size(path, blk->size, errp) || !lock_image(blk, write, errp)) {
        goto fail;
    }
    if (direct && !probe_dio(blk, errp)) {
        goto fail;
    }
    if (snapshot && !open_overlay(blk, errp)) {
        goto fail;
    }
    if (snapshot && blk->dio_align > BLK_SECTOR_SIZE) {
        /* The overlay map splits reads at sector boundaries, which
         * O_DIRECT with a larger block cannot take: read through the page
         * cache instead (the image is never written anyway). */
        int fd = open_image_fd(path, false, false);
        if (fd >= 0) {
            close(blk->fd);
            blk->fd = fd;
            blk->dio_align = 0;
            read_path_update(blk);
            if (!lock_image(blk, false, errp)) {
                goto fail;
            }
        }
    }
    /* Last: the fd may have been replaced above. */
    if ((flags & BLK_OPEN_MMAP) && !map_image(blk, errp)) {
        goto fail;
    }
    TRACE(blk_open, "%s size=%" PRIu64 "%s%s%s%s", path, blk->size,
          blk->readonly ? " readonly" : "", snapshot ? " snapshot" : "",
          blk->dio_align ? " direct" : "", blk->map ? " mmap" : "");
    return blk;

fail:
    blk_release(blk);
    return NULL;
}

BlockBackend *blk_new_temp(uint64_t size, unsigned flags, GError **errp)
{
    BlockBackend *blk;

    if (!check_size("(temporary)", size, errp) ||
        !check_mmap_flags(flags, errp)) {
        return NULL;
    }
    /* The temporary file is private: no overlay, lock or O_DIRECT. */
    blk = blk_alloc("(temporary)",
                    flags & ~(BLK_OPEN_SNAPSHOT | BLK_OPEN_NOCACHE));
    blk->readonly = flags & BLK_OPEN_READONLY;
    blk->temporary = true;
    blk->size = size;
    blk->fd = temp_file(size, "temporary image", errp);
    if (blk->fd < 0 || ((flags & BLK_OPEN_MMAP) && !map_image(blk, errp))) {
        blk_release(blk);
        return NULL;
    }
    TRACE(blk_open, "temporary image size=%" PRIu64 "%s", size,
          blk->map ? " mmap" : "");
    return blk;
}

BlockBackend *blk_new_from_opts(const Opts *o, GError **errp)
{
    const char *id = opts_has(o, "id") ? opts_get_str(o, "id", NULL) : NULL;
    const char *file =
        opts_has(o, "file") ? opts_get_str(o, "file", NULL) : NULL;
    const char *format =
        opts_has(o, "format") ? opts_get_str(o, "format", NULL) : NULL;
    const char *cache =
        opts_has(o, "cache") ? opts_get_str(o, "cache", NULL) : NULL;
    unsigned flags = 0;
    BlockBackend *blk;

    if (!id || !*id) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-drive: id= is required (scsi-hd drive=ID refers "
                    "to it)");
        return NULL;
    }
    if (blk_find(id)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-drive: id '%s' is used twice", id);
        return NULL;
    }
    if (format && strcmp(format, "raw") != 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-drive %s: format '%s' is not supported (only raw; "
                    "convert with qemu-img convert -O raw)",
                    id, format);
        return NULL;
    }
    if (cache && !strcmp(cache, "none")) {
        flags |= BLK_OPEN_NOCACHE;
    } else if (cache && !strcmp(cache, "unsafe")) {
        flags |= BLK_OPEN_UNSAFE;
    } else if (cache && strcmp(cache, "writeback") != 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-drive %s: cache '%s' is not one of writeback, none, "
                    "unsafe",
                    id, cache);
        return NULL;
    }
    if (opts_has(o, "snapshot") && opts_get_bool(o, "snapshot", false)) {
        flags |= BLK_OPEN_SNAPSHOT;
    }
    if (opts_has(o, "readonly") && opts_get_bool(o, "readonly", false)) {
        flags |= BLK_OPEN_READONLY;
    }
    if (opts_has(o, "mmap") && opts_get_bool(o, "mmap", false)) {
        flags |= BLK_OPEN_MMAP;
    }
    if (file && opts_has(o, "size")) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-drive %s: give either file= or size= (size= makes a "
                    "temporary image)",
                    id);
        return NULL;
    }
    if (file) {
        blk = blk_open(file, flags, errp);
    } else if (opts_has(o, "size")) {
        blk = blk_new_temp(opts_get_uint(o, "size", 0), flags, errp);
    } else {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-drive %s: needs file=PATH, or size=SIZE for a "
                    "temporary image",
                    id);
        return NULL;
    }
    if (!blk) {
        g_prefix_error(errp, "-drive %s: ", id);
        return NULL;
    }
    if (!blk_register(blk, id, errp)) {
        blk_close(blk);
        return NULL;
    }
    return blk;
}

bool blk_register(BlockBackend *blk, const char *id, GError **errp)
{
    if (!registry) {
        registry = g_hash_table_new(g_str_hash, g_str_equal);
    }
    if (g_hash_table_contains(registry, id)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-drive: id '%s' is used twice", id);
        return false;
    }
    g_assert(!blk->id);
    blk->id = g_strdup(id);
    g_hash_table_insert(registry, blk->id, blk);
    return true;
}

BlockBackend *blk_find(const char *id)
{
    return registry && id ? g_hash_table_lookup(registry, id) : NULL;
}

void blk_close(BlockBackend *blk)
{
    if (!blk) {
        return;
    }
    blk_drain(blk);
    /* An orderly shutdown writes the cache back, as a disk does. */
    if (blk->cache.live) {
        cache_flush(blk);
    }
    if (blk->id && registry) {
        g_hash_table_remove(registry, blk->id);
    }
    TRACE(blk_close, "%s", blk->filename);
    blk_release(blk);
}

void blk_close_all(void)
{
    if (!registry) {
        return;
    }
    while (g_hash_table_size(registry)) {
        GHashTableIter it;
        gpointer key, value;

        g_hash_table_iter_init(&it, registry);
        g_hash_table_iter_next(&it, &key, &value);
        blk_close(value);
    }
    g_hash_table_destroy(registry);
    registry = NULL;
}

const char *blk_id(const BlockBackend *blk)
{
    return blk->id;
}

const char *blk_filename(const BlockBackend *blk)
{
    return blk->filename;
}

uint64_t blk_size(const BlockBackend *blk)
{
    return blk->size;
}

bool blk_is_readonly(const BlockBackend *blk)
{
    return blk->readonly;
}

bool blk_is_snapshot(const BlockBackend *blk)
{
    return blk->ovl_map != NULL;
}

bool blk_is_temporary(const BlockBackend *blk)
{
    return blk->temporary;
}

bool blk_attach(BlockBackend *blk, const char *owner, GError **errp)
{
    if (blk->owner) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "drive '%s' is already used by %s; give each disk its "
                    "own -drive",
                    blk->id ? blk->id : blk->filename, blk->owner);
        return false;
    }
    blk->owner = g_strdup(owner);
    return true;
}

void blk_detach(BlockBackend *blk)
{
    g_clear_pointer(&blk->owner, g_free);
}

void blk_get_stats(const BlockBackend *blk, BlkStats *st)
{
    *st = blk->stats;
}
