/* SPDX-License-Identifier: MIT */
/*
 * Raw image backends (block.h): opening and locking images, the snapshot
 * overlay, O_DIRECT bounce handling, the request path onto the AIO engine,
 * the volatile write-cache model and error injection. docs/block.md has
 * the user-facing semantics.
 *
 * Request life: blk_submit() (1) applies injected errors, (2) finishes the
 * host I/O of earlier requests it conflicts with (overlapping bytes, one
 * of them writing; a flush conflicts with everything), so data results
 * follow submission order, (3) updates the write-cache model, (4) turns
 * the request into AIO ops (split by the snapshot map, by IOV_MAX, or
 * routed through a bounce buffer) and submits them. blk_wait() reaps the
 * ops, turns short transfers into errors and copies bounced reads out.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/block/aio.h"
#include "hw/block/block.h"
#include "system/error.h"
#include "system/trace.h"

#define BLK_ZERO_BUF_SIZE  (64 * 1024)
#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))

typedef struct BlkErrorRule {
    int err;
    unsigned op_mask;
    uint64_t offset, len; /* len 0: to the end */
    unsigned count;       /* 0: unlimited */
} BlkErrorRule;

typedef struct PreImage {
    uint64_t len;
    uint8_t data[];
} PreImage;

struct BlockBackend {
    char *id;
    char *filename;
    char *owner;
    int fd;            /* the image; read-only in snapshot mode */
    int ovl_fd;        /* snapshot overlay, or -1 */
    uint64_t *ovl_map; /* snapshot: one bit per sector written */
    uint64_t size;
    unsigned flags;
    bool readonly;      /* guest writes refused */
    uint32_t dio_align; /* @fd is O_DIRECT with this alignment, or 0 */
    bool no_punch;      /* hole punching unsupported: write zeros */

    bool wce;
    GHashTable *pre; /* cache block index -> PreImage */
    uint64_t pre_bytes;
    uint64_t cache_limit;

    GQueue inflight; /* BlkRequest whose host I/O is not reaped */
    GArray *rules;   /* BlkErrorRule */
    BlkStats stats;
};

typedef struct BlkSlot {
    AioOp aio;
    uint64_t expect;   /* bytes a read/write op must move */
    struct iovec *iov; /* owned */
} BlkSlot;

struct BlkRequest {
    BlockBackend *blk;
    BlkOp op;
    unsigned flags;
    uint64_t offset, bytes;
    int ret;
    uint64_t err_offset;
    bool submitted;     /* ops handed to the engine */
    bool finished;      /* host I/O reaped */
    bool tracked;       /* in blk->inflight */
    GArray *slots;      /* BlkSlot; not resized once submitted */
    void *bounce;       /* aligned buffer for O_DIRECT */
    GArray *copy_iov;   /* read through bounce: copy out to these */
    uint64_t copy_skip; /* ... from bounce + copy_skip */
};

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

/* Append to @out the part [skip, skip + len) of @iov. */
static void iov_slice(const struct iovec *iov, unsigned niov, uint64_t skip,
                      uint64_t len, GArray *out)
{
    for (unsigned i = 0; i < niov && len > 0; i++) {
        struct iovec v;

        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        v.iov_base = (uint8_t *)iov[i].iov_base + skip;
        v.iov_len = MIN(iov[i].iov_len - skip, len);
        g_array_append_val(out, v);
        len -= v.iov_len;
        skip = 0;
    }
    g_assert(len == 0);
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
    for (uint64_t s = offset / BLK_SECTOR_SIZE;
         s < DIV_ROUND_UP(offset + len, BLK_SECTOR_SIZE); s++) {
        blk->ovl_map[s / 64] |= 1ULL << (s % 64);
    }
}

/* ---- building requests ------------------------------------------------ */

static BlkRequest *req_new(BlockBackend *blk, BlkOp op, uint64_t offset,
                           uint64_t bytes, unsigned flags)
{
    BlkRequest *req = g_new0(BlkRequest, 1);

    req->blk = blk;
    req->op = op;
    req->offset = offset;
    req->bytes = bytes;
    req->flags = flags;
    req->err_offset = offset;
    req->slots = g_array_new(FALSE, TRUE, sizeof(BlkSlot));
    return req;
}

static void req_free(BlkRequest *req)
{
    for (guint i = 0; i < req->slots->len; i++) {
        g_free(g_array_index(req->slots, BlkSlot, i).iov);
    }
    g_array_free(req->slots, TRUE);
    if (req->copy_iov) {
        g_array_free(req->copy_iov, TRUE);
    }
    free(req->bounce);
    g_free(req);
}

/* Add read or write ops for @iov at @offset, at most AIO_IOV_MAX each. */
static void req_add_rw(BlkRequest *req, AioOpType type, int fd, uint64_t offset,
                       const struct iovec *iov, unsigned niov, int rw_flags)
{
    while (niov > 0) {
        unsigned n = MIN(niov, AIO_IOV_MAX);
        BlkSlot s = {0};

        s.iov = g_memdup2(iov, n * sizeof(*iov));
        s.expect = iov_bytes(iov, n);
        s.aio.type = type;
        s.aio.fd = fd;
        s.aio.offset = offset;
        s.aio.iov = s.iov;
        s.aio.iovcnt = n;
        s.aio.rw_flags = rw_flags;
        if (s.expect) {
            g_array_append_val(req->slots, s);
        } else {
            g_free(s.iov);
        }
        offset += s.expect;
        iov += n;
        niov -= n;
    }
}

static void req_add_simple(BlkRequest *req, AioOpType type, int fd, int mode,
                           uint64_t offset, uint64_t len)
{
    BlkSlot s = {0};

    s.aio.type = type;
    s.aio.fd = fd;
    s.aio.mode = mode;
    s.aio.offset = offset;
    s.aio.len = len;
    g_array_append_val(req->slots, s);
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
               iov->len, rw_flags);
}

/* Reads from the image as the guest sees it: overlay sectors where the
 * snapshot map says so, the image elsewhere. */
static void req_add_read_merged(BlkRequest *req, uint64_t offset,
                                const struct iovec *iov, unsigned niov,
                                uint64_t len)
{
    BlockBackend *blk = req->blk;
    uint64_t pos = offset, end = offset + len;

    if (!blk->ovl_map) {
        req_add_rw(req, AIO_OP_READ, blk->fd, offset, iov, niov, 0);
        return;
    }
    while (pos < end) {
        bool in_ovl = map_test(blk, pos / BLK_SECTOR_SIZE);
        uint64_t run_end = (pos / BLK_SECTOR_SIZE + 1) * BLK_SECTOR_SIZE;
        g_autoptr(GArray) part =
            g_array_new(FALSE, FALSE, sizeof(struct iovec));

        while (run_end < end &&
               map_test(blk, run_end / BLK_SECTOR_SIZE) == in_ovl) {
            run_end += BLK_SECTOR_SIZE;
        }
        run_end = MIN(run_end, end);
        iov_slice(iov, niov, pos - offset, run_end - pos, part);
        req_add_rw(req, AIO_OP_READ, in_ovl ? blk->ovl_fd : blk->fd, pos,
                   (struct iovec *)part->data, part->len, 0);
        pos = run_end;
    }
}

static int blk_run_internal(BlkRequest *req);

/* Synchronous read of the guest-visible contents, bypassing the request
 * machinery's ordering and cache model (callers drained conflicts). */
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
        b.iov_base = req->bounce;
        b.iov_len = hi - lo;
        req->copy_iov = g_array_new(FALSE, FALSE, sizeof(struct iovec));
        g_array_append_val(req->copy_iov, v);
        req->copy_skip = offset - lo;
        req_add_read_merged(req, lo, &b, 1, hi - lo);
    } else {
        req_add_read_merged(req, offset, &v, 1, len);
    }
    return blk_run_internal(req);
}

static bool want_durable_host(const BlockBackend *blk)
{
    return !(blk->flags & BLK_OPEN_UNSAFE) && !blk->ovl_map;
}

/*
 * Build the ops of a write of @iov (@len bytes, sector-aligned) at
 * @offset. Returns 0 or -errno (a read-modify-write that failed).
 */
static int req_build_write(BlkRequest *req, const struct iovec *iov,
                           unsigned niov, uint64_t offset, uint64_t len,
                           bool durable)
{
    BlockBackend *blk = req->blk;
    int rw_flags = durable && want_durable_host(blk) ? RWF_DSYNC : 0;
    uint32_t a = blk->dio_align;

    if (blk->ovl_map) {
        map_set(blk, offset, len);
        req_add_rw(req, AIO_OP_WRITE, blk->ovl_fd, offset, iov, niov, 0);
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

        req->bounce = aligned_alloc_or_die(a, hi - lo);
        r = blk_read_internal(blk, lo, req->bounce, hi - lo);
        if (r < 0) {
            return r;
        }
        iov_copy(iov, niov, 0, (uint8_t *)req->bounce + (offset - lo), len,
                 false);
        b.iov_base = req->bounce;
        b.iov_len = hi - lo;
        blk->stats.bounced++;
        req_add_rw(req, AIO_OP_WRITE, blk->fd, lo, &b, 1, rw_flags);
        return 0;
    }
    if (a && !iov_aligned(iov, niov, a)) {
        struct iovec b;

        req->bounce = aligned_alloc_or_die(a, len);
        iov_copy(iov, niov, 0, req->bounce, len, false);
        b.iov_base = req->bounce;
        b.iov_len = len;
        blk->stats.bounced++;
        req_add_rw(req, AIO_OP_WRITE, blk->fd, offset, &b, 1, rw_flags);
        return 0;
    }
    req_add_rw(req, AIO_OP_WRITE, blk->fd, offset, iov, niov, rw_flags);
    return 0;
}

static void req_build_read(BlkRequest *req, const struct iovec *iov,
                           unsigned niov)
{
    BlockBackend *blk = req->blk;
    uint32_t a = blk->dio_align;
    uint64_t offset = req->offset, len = req->bytes;

    if (a && (offset % a || len % a || !iov_aligned(iov, niov, a))) {
        uint64_t lo = offset / a * a;
        uint64_t hi = MIN(DIV_ROUND_UP(offset + len, a) * a, blk->size);
        struct iovec b;

        req->bounce = aligned_alloc_or_die(a, hi - lo);
        req->copy_iov = g_array_new(FALSE, FALSE, sizeof(struct iovec));
        iov_slice(iov, niov, 0, len, req->copy_iov);
        req->copy_skip = offset - lo;
        b.iov_base = req->bounce;
        b.iov_len = hi - lo;
        blk->stats.bounced++;
        req_add_read_merged(req, lo, &b, 1, hi - lo);
        return;
    }
    {
        g_autoptr(GArray) part =
            g_array_new(FALSE, FALSE, sizeof(struct iovec));
        iov_slice(iov, niov, 0, len, part);
        req_add_read_merged(req, offset, (struct iovec *)part->data, part->len,
                            len);
    }
}

static void req_build_discard(BlkRequest *req, bool zeroes, bool durable)
{
    BlockBackend *blk = req->blk;
    int fd = blk->ovl_map ? blk->ovl_fd : blk->fd;
    int rw_flags = durable && want_durable_host(blk) ? RWF_DSYNC : 0;

    if (blk->ovl_map) {
        map_set(blk, req->offset, req->bytes);
    }
    if (zeroes || blk->no_punch) {
        req_add_zero_write(req, fd, req->offset, req->bytes, rw_flags);
    } else {
        req_add_simple(req, AIO_OP_FALLOCATE, fd,
                       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, req->offset,
                       req->bytes);
    }
}

/* ---- completing requests ---------------------------------------------- */

/* Finish a write the kernel did only in part, to learn why (ENOSPC). */
static int64_t write_rest(BlkSlot *s, uint64_t done)
{
    g_autoptr(GArray) rest = g_array_new(FALSE, FALSE, sizeof(struct iovec));
    uint64_t off = s->aio.offset + done;

    iov_slice(s->iov, s->aio.iovcnt, done, s->expect - done, rest);
    while (done < s->expect) {
        ssize_t r = pwritev(s->aio.fd, (struct iovec *)rest->data,
                            MIN(rest->len, (guint)AIO_IOV_MAX), (off_t)off);
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            return -EIO;
        }
        done += r;
        off += r;
        g_array_set_size(rest, 0);
        iov_slice(s->iov, s->aio.iovcnt, done, s->expect - done, rest);
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

static void req_reap(BlkRequest *req)
{
    BlockBackend *blk = req->blk;

    if (req->finished) {
        return;
    }
    for (guint i = 0; i < req->slots->len; i++) {
        aio_wait(&g_array_index(req->slots, BlkSlot, i).aio);
    }
    for (guint i = 0; i < req->slots->len; i++) {
        BlkSlot *s = &g_array_index(req->slots, BlkSlot, i);
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
                r = punch_fallback(blk, s);
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
    if (req->ret == 0 && req->copy_iov) {
        iov_copy((struct iovec *)req->copy_iov->data, req->copy_iov->len, 0,
                 (uint8_t *)req->bounce + req->copy_skip, req->bytes, true);
    }
    req->finished = true;
    if (req->tracked) {
        g_queue_remove(&blk->inflight, req);
        req->tracked = false;
    }
}

static void req_submit_ops(BlkRequest *req)
{
    for (guint i = 0; i < req->slots->len; i++) {
        aio_submit(&g_array_index(req->slots, BlkSlot, i).aio);
    }
    req->submitted = true;
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

static bool op_writes(BlkOp op)
{
    return op == BLK_OP_WRITE || op == BLK_OP_DISCARD ||
           op == BLK_OP_WRITE_ZEROES;
}

/* The bytes a request may touch, widened for writes to whole cache blocks
 * (pre-images and O_DIRECT read-modify-write read around them). */
static void req_span(const BlkRequest *r, uint64_t *lo, uint64_t *hi)
{
    *lo = r->offset;
    *hi = r->offset + r->bytes;
    if (op_writes(r->op)) {
        *lo = *lo / BLK_CACHE_BLOCK * BLK_CACHE_BLOCK;
        *hi = DIV_ROUND_UP(*hi, BLK_CACHE_BLOCK) * BLK_CACHE_BLOCK;
    }
}

static bool req_conflict(const BlkRequest *a, const BlkRequest *b)
{
    uint64_t alo, ahi, blo, bhi;

    if (a->op == BLK_OP_FLUSH || b->op == BLK_OP_FLUSH) {
        return true;
    }
    if (!op_writes(a->op) && !op_writes(b->op)) {
        return false;
    }
    req_span(a, &alo, &ahi);
    req_span(b, &blo, &bhi);
    return alo < bhi && blo < ahi;
}

static void drain_conflicts(BlockBackend *blk, const BlkRequest *req)
{
    GList *l = blk->inflight.head;

    while (l) {
        BlkRequest *x = l->data;

        l = l->next; /* reaping unlinks x */
        if (req_conflict(x, req)) {
            req_reap(x);
        }
    }
}

void blk_drain(BlockBackend *blk)
{
    while (blk->inflight.head) {
        req_reap(blk->inflight.head->data);
    }
}

/* ---- write cache model ------------------------------------------------ */

static uint64_t cache_block_len(const BlockBackend *blk, uint64_t idx)
{
    return MIN((uint64_t)BLK_CACHE_BLOCK, blk->size - idx * BLK_CACHE_BLOCK);
}

static void cache_drop_all(BlockBackend *blk)
{
    g_hash_table_remove_all(blk->pre);
    blk->pre_bytes = 0;
}

/* Make everything written so far durable: in the model and on the host. */
static int cache_writeback(BlockBackend *blk)
{
    int r = 0;

    cache_drop_all(blk);
    if (want_durable_host(blk) && !blk->readonly) {
        blk->stats.host_flushes++;
        if (fdatasync(blk->fd) < 0) {
            r = -errno;
        }
    }
    return r;
}

/* Pre-image data covering [offset, offset + len) becomes @data (@data
 * NULL: zeros): that data is now what survives a power cut. */
static void cache_make_durable(BlockBackend *blk, uint64_t offset, uint64_t len,
                               const struct iovec *iov, unsigned niov)
{
    if (!g_hash_table_size(blk->pre)) {
        return;
    }
    for (uint64_t idx = offset / BLK_CACHE_BLOCK;
         idx * BLK_CACHE_BLOCK < offset + len; idx++) {
        PreImage *p = g_hash_table_lookup(blk->pre, &idx);
        uint64_t bstart = idx * BLK_CACHE_BLOCK;
        uint64_t lo, hi;

        if (!p) {
            continue;
        }
        lo = MAX(bstart, offset);
        hi = MIN(bstart + p->len, offset + len);
        if (lo >= hi) {
            continue;
        }
        if (iov) {
            iov_copy(iov, niov, lo - offset, p->data + (lo - bstart), hi - lo,
                     false);
        } else {
            memset(p->data + (lo - bstart), 0, hi - lo);
        }
    }
}

/* A FUA read writes cached data of its range back first: drop the
 * pre-images it touches (whole blocks; writing back more is allowed). */
static void cache_forget(BlockBackend *blk, uint64_t offset, uint64_t len)
{
    for (uint64_t idx = offset / BLK_CACHE_BLOCK;
         idx * BLK_CACHE_BLOCK < offset + len; idx++) {
        PreImage *p = g_hash_table_lookup(blk->pre, &idx);

        if (p) {
            blk->pre_bytes -= p->len;
            g_hash_table_remove(blk->pre, &idx);
        }
    }
}

/*
 * Keep the pre-images of the blocks a cached write of [offset, offset +
 * len) touches for the first time since the last flush. False when the
 * write must be made durable instead: it alone exceeds the cache bound,
 * or its pre-image cannot be read.
 */
static bool cache_capture(BlockBackend *blk, uint64_t offset, uint64_t len)
{
    uint64_t first = offset / BLK_CACHE_BLOCK;
    uint64_t last = (offset + len - 1) / BLK_CACHE_BLOCK;
    uint64_t need = 0;

    for (uint64_t idx = first; idx <= last; idx++) {
        if (!g_hash_table_contains(blk->pre, &idx)) {
            need += cache_block_len(blk, idx);
        }
    }
    if (need == 0) {
        return true;
    }
    if (need > blk->cache_limit) {
        return false;
    }
    if (blk->pre_bytes + need > blk->cache_limit) {
        /* A full cache writes back; a real one may do so at any time. */
        blk->stats.implicit_flushes++;
        TRACE(blk_cache_full, "%s: %" PRIu64 " bytes cached, writing back",
              blk->filename, blk->pre_bytes);
        cache_writeback(blk);
    }
    for (uint64_t idx = first; idx <= last; idx++) {
        uint64_t blen = cache_block_len(blk, idx);
        PreImage *p;

        if (g_hash_table_contains(blk->pre, &idx)) {
            continue;
        }
        p = g_malloc(sizeof(*p) + blen);
        p->len = blen;
        if (blk_read_internal(blk, idx * BLK_CACHE_BLOCK, p->data, blen) < 0) {
            g_free(p);
            return false;
        }
        g_hash_table_insert(blk->pre, g_memdup2(&idx, sizeof(idx)), p);
        blk->pre_bytes += blen;
    }
    return true;
}

void blk_set_write_cache(BlockBackend *blk, bool enabled)
{
    if (blk->wce && !enabled) {
        blk_drain(blk);
        cache_writeback(blk);
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
    if (blk->pre_bytes > blk->cache_limit) {
        blk_drain(blk);
        blk->stats.implicit_flushes++;
        cache_writeback(blk);
    }
}

uint64_t blk_cache_dirty_bytes(const BlockBackend *blk)
{
    return blk->pre_bytes;
}

void blk_power_cut(BlockBackend *blk)
{
    GHashTableIter it;
    gpointer key, value;
    uint64_t n = 0;

    blk_drain(blk);
    g_hash_table_iter_init(&it, blk->pre);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        uint64_t idx = *(uint64_t *)key;
        PreImage *p = value;
        BlkRequest *req =
            req_new(blk, BLK_OP_WRITE, idx * BLK_CACHE_BLOCK, p->len, 0);
        struct iovec v = {p->data, p->len};
        int r = req_build_write(req, &v, 1, req->offset, p->len, false);

        if (r == 0) {
            r = blk_run_internal(req);
        } else {
            req_free(req);
        }
        if (r < 0) {
            g_warning("power cut on %s: rolling back block %" PRIu64
                      " failed: %s",
                      blk->filename, idx, g_strerror(-r));
        }
        n++;
    }
    cache_drop_all(blk);
    blk->stats.power_cuts++;
    blk->stats.blocks_rolled_back += n;
    TRACE(blk_power_cut, "%s: %" PRIu64 " cached blocks lost", blk->filename,
          n);
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
}

void blk_clear_injected_errors(BlockBackend *blk)
{
    g_array_set_size(blk->rules, 0);
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

BlkRequest *blk_submit(BlockBackend *blk, BlkOp op, uint64_t offset,
                       uint64_t bytes, const struct iovec *iov, unsigned niov,
                       unsigned flags)
{
    BlkRequest *req = req_new(blk, op, offset, bytes, flags);
    bool durable;

    g_assert(op < BLK_OP_COUNT);
    blk->stats.ops[op]++;
    TRACE(blk_submit, "%s %s off=%" PRIu64 " len=%" PRIu64 "%s",
          blk->id ? blk->id : blk->filename, op_names[op], offset, bytes,
          flags & BLK_REQ_FUA ? " fua" : "");
    if (op != BLK_OP_FLUSH &&
        (offset > blk->size || bytes > blk->size - offset)) {
        return req_fail_now(req, -EINVAL);
    }
    if (op_writes(op) && blk->readonly) {
        return req_fail_now(req, -EROFS);
    }
    if (op_writes(op) &&
        (offset % BLK_SECTOR_SIZE || bytes % BLK_SECTOR_SIZE)) {
        return req_fail_now(req, -EINVAL);
    }
    if ((op == BLK_OP_READ || op == BLK_OP_WRITE) &&
        iov_bytes(iov, niov) < bytes) {
        return req_fail_now(req, -EINVAL);
    }
    if (inject_match(blk, req)) {
        blk->stats.injected++;
        req->finished = true;
        return req;
    }
    if (bytes == 0 && op != BLK_OP_FLUSH) {
        req->finished = true;
        return req;
    }

    drain_conflicts(blk, req);
    switch (op) {
    case BLK_OP_READ:
        if (flags & BLK_REQ_FUA) {
            cache_forget(blk, offset, bytes);
        }
        req_build_read(req, iov, niov);
        break;
    case BLK_OP_WRITE:
    case BLK_OP_DISCARD:
    case BLK_OP_WRITE_ZEROES:
        durable = (flags & BLK_REQ_FUA) || !blk->wce;
        if (!durable && !cache_capture(blk, offset, bytes)) {
            durable = true;
        }
        if (durable) {
            cache_make_durable(blk, offset, bytes,
                               op == BLK_OP_WRITE ? iov : NULL, niov);
        }
        if (op == BLK_OP_WRITE) {
            int r = req_build_write(req, iov, niov, offset, bytes, durable);
            if (r < 0) {
                return req_fail_now(req, r);
            }
        } else {
            req_build_discard(req, op == BLK_OP_WRITE_ZEROES, durable);
        }
        break;
    case BLK_OP_FLUSH:
        cache_drop_all(blk);
        if (want_durable_host(blk) && !blk->readonly) {
            blk->stats.host_flushes++;
            req_add_simple(req, AIO_OP_FDATASYNC, blk->fd, 0, 0, 0);
        }
        break;
    default:
        g_assert_not_reached();
    }
    g_queue_push_tail(&blk->inflight, req);
    req->tracked = true;
    req_submit_ops(req);
    return req;
}

int blk_wait(BlkRequest *req, uint64_t *err_offset)
{
    BlockBackend *blk = req->blk;
    int ret;

    req_reap(req);
    ret = req->ret;
    if (ret < 0) {
        blk->stats.errors++;
        TRACE(blk_error, "%s %s off=%" PRIu64 " len=%" PRIu64 ": %s",
              blk->id ? blk->id : blk->filename, op_names[req->op], req->offset,
              req->bytes, g_strerror(-ret));
    } else if (req->op == BLK_OP_READ) {
        blk->stats.bytes_read += req->bytes;
    } else if (req->op == BLK_OP_WRITE) {
        blk->stats.bytes_written += req->bytes;
    }
    if (err_offset) {
        *err_offset = req->err_offset;
    }
    req_free(req);
    return ret;
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
    blk->pre =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    blk->rules = g_array_new(FALSE, TRUE, sizeof(BlkErrorRule));
    g_queue_init(&blk->inflight);
    return blk;
}

static void blk_release(BlockBackend *blk)
{
    if (blk->fd >= 0) {
        close(blk->fd);
    }
    if (blk->ovl_fd >= 0) {
        close(blk->ovl_fd);
    }
    g_free(blk->ovl_map);
    g_hash_table_destroy(blk->pre);
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
            if (!lock_image(blk, false, errp)) {
                goto fail;
            }
        }
    }
    TRACE(blk_open, "%s size=%" PRIu64 "%s%s%s", path, blk->size,
          blk->readonly ? " readonly" : "", snapshot ? " snapshot" : "",
          blk->dio_align ? " direct" : "");
    return blk;

fail:
    blk_release(blk);
    return NULL;
}

BlockBackend *blk_new_temp(uint64_t size, unsigned flags, GError **errp)
{
    BlockBackend *blk;

    if (!check_size("(temporary)", size, errp)) {
        return NULL;
    }
    /* The temporary file is private: no overlay, lock or O_DIRECT. */
    blk = blk_alloc("(temporary)",
                    flags & ~(BLK_OPEN_SNAPSHOT | BLK_OPEN_NOCACHE));
    blk->readonly = flags & BLK_OPEN_READONLY;
    blk->size = size;
    blk->fd = temp_file(size, "temporary image", errp);
    if (blk->fd < 0) {
        blk_release(blk);
        return NULL;
    }
    TRACE(blk_open, "temporary image size=%" PRIu64, size);
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
    if (blk->wce && blk->pre_bytes) {
        cache_writeback(blk);
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
