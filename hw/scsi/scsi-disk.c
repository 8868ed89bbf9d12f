/* SPDX-License-Identifier: MIT */
/*
 * scsi-hd: an SBC-4 direct-access logical unit over a block backend.
 *
 * Every command is described by one row of sdisk_cmds[]: operation code,
 * service action, CDB length and CDB usage data (SPC-5 6.35.3). The same
 * usage bits drive the reserved-field check (a bit outside them fails the
 * command with 05/24/00 and a field pointer at that bit) and the REPORT
 * SUPPORTED OPERATION CODES answer, so the two cannot disagree.
 *
 * Media commands move data straight between the image and guest RAM: the
 * SG list is mapped onto host iovecs (hw/block/dma-sg.h), the backend I/O
 * is issued at submit time, and the bus's completion event waits for it.
 * Everything else builds its data in a buffer that the bus copies to the
 * guest at completion time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config-host.h"
#include "hw/core/memory.h"
#include "hw/scsi/scsi-disk.h"
#include "system/error.h"
#include "system/trace.h"

#define SDISK_VENDOR      "STOREMU"
#define SDISK_PRODUCT     "STOREMU HARDDISK"
#define SDISK_PATTERN_BUF (64 * 1024)

/* Command flags. */
#define SDISK_F_MEDIA (1u << 0) /* NOT READY while stopped */

/* Mode pages (SBC-4 6.5). */
typedef struct SDiskReq SDiskReq;

#define MODE_PAGE_CACHING     0x08
#define MODE_PAGE_CACHING_LEN 20
#define MODE_PAGE_CONTROL     0x0a
#define MODE_PAGE_CONTROL_LEN 12
#define MODE_PAGE_ALL         0x3f
#define CACHING_WCE           0x04
#define CONTROL_D_SENSE       0x04

struct SCSIDiskState {
    SCSIDevice dev;
    char *name; /* for messages and traces */
    BlockBackend *blk;
    uint32_t block_size;
    uint64_t nblocks;
    uint32_t max_xfer_blocks;
    uint32_t max_ws_blocks;
    uint32_t max_unmap_blocks;
    bool readonly;
    char vendor[9];
    char product[17];
    char revision[5];
    char *serial;
    uint64_t naa;

    bool wce_default;
    /* Reset state (LUN reset, power on). */
    bool wce;
    bool d_sense;
    bool stopped;
    bool prevent;

    SDiskReq *free_reqs; /* per-request state, recycled */
};

typedef enum SDiskIo {
    SDISK_IO_READ,
    SDISK_IO_WRITE,
    SDISK_IO_VERIFY,
    SDISK_IO_WRITE_VERIFY,
    SDISK_IO_FLUSH,
    SDISK_IO_DISCARD, /* UNMAP, WRITE SAME */
} SDiskIo;

/* Backend requests and iovecs a command holds without an allocation. */
#define SDISK_IO_INLINE  2
#define SDISK_IOV_INLINE 8

/*
 * Per-request state of a command that has backend I/O in flight. Recycled
 * through the disk's free list; grown arrays are kept with it.
 */
struct SDiskReq {
    SDiskReq *next_free;
    SDiskIo kind;
    BlkRequest **io; /* io_inline or a heap array of io_cap */
    unsigned nio, io_cap;
    struct iovec *iov; /* iov_inline or a heap array of iov_cap: host
                          iovecs into guest RAM or buffers */
    unsigned niov, iov_cap;
    BndKind dma_kind;
    uint64_t dma_len;    /* zero-copy bytes announced to the boundary */
    unsigned dma_chunks; /* SG elements they cross */
    uint64_t want;       /* data-in the command had */
    uint64_t xfer;       /* data moved with the guest (zero copy) */
    /* Verify and write-and-verify only, which set them: the medium range
     * and BYTCHK their finish compares by. */
    uint64_t lba;
    uint32_t nblocks;
    int bytchk;
    uint8_t *buf;  /* medium data (verify), data-out copy */
    uint8_t *cmp;  /* data-out to compare with (verify) */
    void *pattern; /* WRITE SAME: page-aligned, free() */
    BlkRequest *io_inline[SDISK_IO_INLINE];
    struct iovec iov_inline[SDISK_IOV_INLINE];
    /* A READ's or WRITE's backend request, kept here rather than in the
     * backend's pool (zeroed with the rest at allocation). */
    BlkRequestStorage rw_io;
};

typedef struct SDiskCmd SDiskCmd;
typedef uint64_t SDiskExec(SCSIDiskState *s, SCSIRequest *req);

struct SDiskCmd {
    uint8_t opcode;
    int16_t sa; /* service action, or -1 */
    uint8_t cdb_len;
    unsigned flags;
    const char *name;
    SDiskExec *exec;
    uint8_t usage[16]; /* CDB usage data; SA bits open */
};

static inline SCSIDiskState *to_disk(SCSIDevice *dev)
{
    /* dev is the first member */
    return (SCSIDiskState *)((char *)dev - offsetof(SCSIDiskState, dev));
}

/* ---- helpers ---------------------------------------------------------- */

/* @dr, the first of the pool, taken from it. */
static inline __attribute__((always_inline)) void
sdisk_req_pop(SCSIDiskState *s, SDiskReq *dr)
{
    s->free_reqs = dr->next_free;
}

/* @dr, pooled or new, set up as @req's state for a command of @kind. */
static inline __attribute__((always_inline)) void
sdisk_req_init(SCSIRequest *req, SDiskReq *dr, SDiskIo kind)
{
    dr->kind = kind;
    dr->nio = 0;
    dr->niov = 0;
    dr->dma_len = 0;
    dr->want = dr->xfer = 0;
    req->dev_private = dr;
}

/* Inline: every media command's path. */
static inline __attribute__((always_inline)) SDiskReq *
sdisk_req_new(SCSIRequest *req, SDiskIo kind)
{
    SCSIDiskState *s = to_disk(req->dev);
    SDiskReq *dr = s->free_reqs;

    if (dr) {
        sdisk_req_pop(s, dr);
    } else {
        dr = g_new0(SDiskReq, 1);
        dr->io = dr->io_inline;
        dr->io_cap = SDISK_IO_INLINE;
        dr->iov = dr->iov_inline;
        dr->iov_cap = SDISK_IOV_INLINE;
    }
    sdisk_req_init(req, dr, kind);
    return dr;
}

/* sdisk_req_free() of @dr, holding no buffer: back to the pool. */
static inline __attribute__((always_inline)) void
sdisk_req_release(SCSIDiskState *s, SCSIRequest *req, SDiskReq *dr)
{
    dr->next_free = s->free_reqs;
    s->free_reqs = dr;
    req->dev_private = NULL;
}

static inline __attribute__((always_inline)) void
sdisk_req_free(SCSIRequest *req)
{
    SDiskReq *dr = req->dev_private;

    if (!dr) {
        return;
    }
    g_assert(dr->nio == 0);
    /* Only verify, write-and-verify and WRITE SAME (SDISK_IO_DISCARD)
     * hold buffers: a read or write has none to look at. */
    if (G_UNLIKELY(dr->kind > SDISK_IO_WRITE)) {
        g_clear_pointer(&dr->buf, g_free);
        g_clear_pointer(&dr->cmp, g_free);
        g_clear_pointer(&dr->pattern, free);
    }
    sdisk_req_release(to_disk(req->dev), req, dr);
}

static void sdisk_req_pool_free(SCSIDiskState *s)
{
    while (s->free_reqs) {
        SDiskReq *dr = s->free_reqs;

        s->free_reqs = dr->next_free;
        if (dr->io != dr->io_inline) {
            g_free(dr->io);
        }
        if (dr->iov != dr->iov_inline) {
            g_free(dr->iov);
        }
        g_free(dr);
    }
}

static G_GNUC_NO_INLINE void sdisk_iov_grow(SDiskReq *dr, unsigned n)
{
    if (dr->iov != dr->iov_inline) {
        g_free(dr->iov);
    }
    dr->iov_cap = MAX(n, 2 * dr->iov_cap);
    dr->iov = g_new(struct iovec, dr->iov_cap);
}

/* Room for @n iovecs in dr->iov (its contents are not kept). Inline: a
 * media command's path, which nearly always has the room. */
static inline void sdisk_iov_reserve(SDiskReq *dr, unsigned n)
{
    if (G_UNLIKELY(n > dr->iov_cap)) {
        sdisk_iov_grow(dr, n);
    }
}

static void sdisk_iov_append(SDiskReq *dr, void *base, size_t len)
{
    if (dr->niov == dr->iov_cap) {
        unsigned cap = 2 * dr->iov_cap;

        if (dr->iov == dr->iov_inline) {
            dr->iov = g_memdup2(dr->iov_inline, sizeof(dr->iov_inline));
        }
        dr->iov = g_renew(struct iovec, dr->iov, cap);
        dr->iov_cap = cap;
    }
    dr->iov[dr->niov].iov_base = base;
    dr->iov[dr->niov].iov_len = len;
    dr->niov++;
}

static G_GNUC_NO_INLINE void sdisk_io_grow(SDiskReq *dr)
{
    unsigned cap = 2 * dr->io_cap;

    if (dr->io == dr->io_inline) {
        dr->io = g_memdup2(dr->io_inline, sizeof(dr->io_inline));
    }
    dr->io = g_renew(BlkRequest *, dr->io, cap);
    dr->io_cap = cap;
}

/* Inline: a media command's one backend request, on every I/O's path. */
static inline __attribute__((always_inline)) void
sdisk_submit_io(SCSIDiskState *s, SDiskReq *dr, BlkOp op, uint64_t offset,
                uint64_t bytes, const struct iovec *iov, unsigned niov,
                unsigned flags)
{
    if (G_UNLIKELY(dr->nio == dr->io_cap)) {
        sdisk_io_grow(dr);
    }
    dr->io[dr->nio++] = blk_submit(s->blk, op, offset, bytes, iov, niov, flags);
}

/* Wait for every backend request; the first error wins. Inline for the
 * one request of a read or write. */
static inline __attribute__((always_inline)) int
sdisk_wait_io(SDiskReq *dr, uint64_t *err_offset)
{
    int err = 0;

    if (G_LIKELY(dr->nio == 1)) {
        dr->nio = 0;
        return blk_wait(dr->io[0], err_offset);
    }

    for (unsigned i = 0; i < dr->nio; i++) {
        uint64_t off;
        int r = blk_wait(dr->io[i], &off);

        if (r < 0 && !err) {
            err = r;
            *err_offset = off;
        }
    }
    dr->nio = 0;
    return err;
}

/* Host errors to sense data (SBC-4 4.18, SPC-5 annex F). */
static void sdisk_io_error(SCSIDiskState *s, SCSIRequest *req, int err,
                           uint64_t err_offset, bool write)
{
    SCSISenseInfo si = {0};

    switch (-err) {
    case ENOSPC:
    case EDQUOT:
        si.sense = SENSE_SPACE_ALLOC_FAILED;
        break;
    case EROFS:
        si.sense = SENSE_WRITE_PROTECTED;
        break;
    default:
        si.sense = write ? SENSE_WRITE_ERROR : SENSE_READ_ERROR;
        /* INFORMATION: the first LBA that failed (not for a flush). */
        si.info_valid = err_offset != UINT64_MAX;
        si.info = si.info_valid ? err_offset / s->block_size : 0;
        break;
    }
    TRACE(sdisk_io_error, "%s tag=0x%" PRIx64 ": %s", s->name, req->tag,
          g_strerror(-err));
    scsi_req_set_sense(req, &si);
}

/* @n blocks at @lba lie on the medium. An LBA past the last one is out
 * of range even with no blocks. */
static inline __attribute__((always_inline)) bool
lba_range_ok(const SCSIDiskState *s, uint64_t lba, uint64_t n)
{
    return lba < s->nblocks && n <= s->nblocks - lba;
}

static bool check_lba_range(SCSIDiskState *s, SCSIRequest *req, uint64_t lba,
                            uint64_t n)
{
    if (!lba_range_ok(s, lba, n)) {
        scsi_req_check_condition(req, SENSE_LBA_OUT_OF_RANGE);
        return false;
    }
    return true;
}

static bool check_writable(SCSIDiskState *s, SCSIRequest *req)
{
    if (s->readonly) {
        scsi_req_check_condition(req, SENSE_WRITE_PROTECTED);
        return false;
    }
    return true;
}

/* LBA, block count and the byte of the count field of a CDB of @len
 * bytes (scsi_cdb_length() of its operation code). */
static inline __attribute__((always_inline)) void
rw_decode(const uint8_t *cdb, unsigned len, uint64_t *lba, uint32_t *n,
          unsigned *len_byte)
{
    switch (len) {
    case 6:
        *lba = scsi_be24(cdb + 1) & 0x1fffff;
        *n = cdb[4] ? cdb[4] : 256; /* SBC-4 5.16: 0 means 256 */
        *len_byte = 4;
        break;
    case 10:
        *lba = scsi_be32(cdb + 2);
        *n = scsi_be16(cdb + 7);
        *len_byte = 7;
        break;
    case 12:
        *lba = scsi_be32(cdb + 2);
        *n = scsi_be32(cdb + 6);
        *len_byte = 6;
        break;
    default:
        *lba = scsi_be64(cdb + 2);
        *n = scsi_be32(cdb + 10);
        *len_byte = 10;
        break;
    }
}

/* The FUA bit of a CDB rw_decode() found the count of at @len_byte, as
 * a block flag. READ(6)/WRITE(6) (count at byte 4) have none. */
static inline __attribute__((always_inline)) unsigned rw_fua(const uint8_t *cdb,
                                                             unsigned len_byte)
{
    return len_byte != 4 && (cdb[1] & 0x08) ? BLK_REQ_FUA : 0;
}

/* The LBA and block count of a READ/WRITE/VERIFY CDB, checked; with @fua
 * non-NULL its FUA bit as a block flag, from the same decoding. Inline
 * into each command: a READ or WRITE is decoded, checked and started in
 * one function. */
/* rw_args() for a CDB of @len bytes: a constant where the operation code
 * is known, which leaves one decoding. */
static inline __attribute__((always_inline)) bool
rw_args_len(SCSIDiskState *s, SCSIRequest *req, unsigned len, uint64_t *lba,
            uint32_t *n, unsigned *fua)
{
    unsigned len_byte;

    rw_decode(req->cdb, len, lba, n, &len_byte);
    if (fua) {
        *fua = rw_fua(req->cdb, len_byte);
    }
    if (*n > s->max_xfer_blocks) {
        /* SBC-4 4.x: beyond MAXIMUM TRANSFER LENGTH. */
        scsi_req_invalid_field(req, len_byte, -1);
        return false;
    }
    return check_lba_range(s, req, *lba, *n);
}

static inline __attribute__((always_inline)) bool
rw_args(SCSIDiskState *s, SCSIRequest *req, uint64_t *lba, uint32_t *n,
        unsigned *fua)
{
    return rw_args_len(s, req, scsi_cdb_length(req->cdb[0]), lba, n, fua);
}

/* The data-in a READ of @bytes moves: as much as the SG holds. */
static inline __attribute__((always_inline)) uint64_t
read_xfer(const SCSIRequest *req, uint64_t bytes)
{
    return MIN(bytes, req->dir == SCSI_XFER_FROM_DEV ? req->sg_len : 0);
}

/*
 * The end of start_rw(): @dr holds the @niov iovecs of the @xfer bytes at
 * @lba and their DMA of @kind has begun; the backend I/O starts.
 * rw_args() checked the range (the image holds s->nblocks blocks),
 * exec_write() that the disk is writable, dma_sg_map() mapped exactly
 * @xfer bytes, and @xfer is whole blocks for a write: the backend need
 * not check again. A fresh dr has no request yet.
 */
static inline __attribute__((always_inline)) void
rw_go(SCSIDiskState *s, SDiskReq *dr, BndKind kind, uint64_t lba, uint64_t xfer,
      unsigned niov, bool write, unsigned flags)
{
    dr->dma_kind = kind;
    dr->niov = niov;
    dr->dma_len = xfer;
    dr->io[0] = blk_storage_request(&dr->rw_io);
    dr->nio = 1;
    if (!write && !flags) {
        blk_read_in(&dr->rw_io, s->blk, lba * s->block_size, xfer, dr->iov,
                    niov);
    } else {
        blk_submit_in(&dr->rw_io, s->blk, write ? BLK_OP_WRITE : BLK_OP_READ,
                      lba * s->block_size, xfer, dr->iov, niov, flags);
    }
}

/*
 * Zero-copy read or write of @n blocks at @lba. Data-in moves as much as
 * the SG holds; data-out needs all of it. Inline into exec_read() and
 * exec_write(), each of which then has one direction. Returns the
 * command's bytes, which the bus schedules by whatever the outcome: one
 * value live across the backend's call.
 */
static inline __attribute__((always_inline)) uint64_t
start_rw(SCSIDiskState *s, SCSIRequest *req, uint64_t lba, uint32_t n,
         bool write, unsigned flags)
{
    uint64_t bytes = (uint64_t)n * s->block_size;
    uint64_t xfer;
    SDiskReq *dr;
    uint64_t bad;
    BndKind kind;
    int niov;

    if (write) {
        if (!scsi_req_data_out_ok(req, bytes)) {
            return bytes;
        }
        xfer = bytes;
    } else {
        xfer = read_xfer(req, bytes);
    }
    dr = sdisk_req_new(req, write ? SDISK_IO_WRITE : SDISK_IO_READ);
    dr->want = bytes;
    dr->xfer = xfer;
    TRACE(sdisk_rw,
          "%s tag=0x%" PRIx64 " %s lba=%" PRIu64 " n=%u xfer=%" PRIu64 "%s",
          s->name, req->tag, write ? "write" : "read", lba, n, xfer,
          flags & BLK_REQ_FUA ? " fua" : "");
    if (!xfer) {
        return bytes;
    }
    sdisk_iov_reserve(dr, req->nsg);
    niov = dma_sg_map(req->sg, req->nsg, 0, xfer, dr->iov, dr->iov_cap, &bad,
                      &dr->dma_chunks);
    if (niov < 0) {
        guest_error("%s: SG element outside guest RAM at 0x%" PRIx64
                    " (tag 0x%" PRIx64 ")",
                    s->name, bad, req->tag);
        scsi_req_dma_error(req, bad);
        sdisk_req_free(req);
        return bytes;
    }
    kind = write ? BND_DMA_READ : BND_DMA_WRITE;
    if (!dma_sg_begin(kind, req->sg, req->nsg, 0, xfer)) {
        dma_sg_end(kind, req->sg, req->nsg, 0, xfer, false);
        scsi_req_dma_error(req, req->sg[0].addr);
        sdisk_req_free(req);
        return bytes;
    }
    rw_go(s, dr, kind, lba, xfer, (unsigned)niov, write, flags);
    return bytes;
}

static uint8_t *alloc_data(uint64_t len)
{
    return g_malloc0(MAX(len, 1));
}

static void set_data_in(SCSIRequest *req, uint8_t *buf, uint64_t len,
                        uint64_t alloc)
{
    scsi_req_set_data_in(req, buf, MIN(len, alloc));
}

static void pad_copy(char *dst, const char *src, size_t n)
{
    size_t l = strlen(src);

    memset(dst, ' ', n);
    memcpy(dst, src, MIN(l, n));
}

/* ---- TEST UNIT READY, REQUEST SENSE, START STOP, PREVENT ALLOW --------- */

static uint64_t exec_tur(SCSIDiskState *s, SCSIRequest *req)
{
    return 0; /* SDISK_F_MEDIA did the work */
}

static uint64_t exec_request_sense(SCSIDiskState *s, SCSIRequest *req)
{
    SCSISenseInfo si = {.sense = SENSE_NO_SENSE};
    uint8_t *buf = alloc_data(32);
    size_t len;

    /* SPC-5 6.39: a pending unit attention is returned, and cleared, as
     * parameter data with GOOD status. */
    if (!scsi_device_take_ua(&s->dev, req->initiator, &si.sense) &&
        s->stopped) {
        si.sense = SENSE_NOT_READY_START_REQUIRED;
    }
    len = scsi_sense_build(buf, 32, &si, req->cdb[1] & 0x01);
    set_data_in(req, buf, len, req->cdb[4]);
    return 0;
}

static uint64_t exec_start_stop(SCSIDiskState *s, SCSIRequest *req)
{
    uint8_t b4 = req->cdb[4];

    if (b4 & 0x02) {
        /* LOEJ: the medium is not removable (RMB = 0). */
        scsi_req_invalid_field(req, 4, 1);
        return 0;
    }
    if (b4 & 0x01) {
        s->stopped = false;
        return 0;
    }
    if (!(b4 & 0x04) && s->wce) {
        /* SBC-4 5.25: stopping writes the cache back unless NO_FLUSH. */
        SDiskReq *dr = sdisk_req_new(req, SDISK_IO_FLUSH);
        sdisk_submit_io(s, dr, BLK_OP_FLUSH, 0, 0, NULL, 0, 0);
    }
    s->stopped = true;
    return 0;
}

static uint64_t exec_prevent_allow(SCSIDiskState *s, SCSIRequest *req)
{
    uint8_t prevent = req->cdb[4] & 0x03;

    if (prevent > 1) {
        /* 10b and 11b are obsolete (SBC-4 5.11). */
        scsi_req_invalid_field(req, 4, 1);
        return 0;
    }
    s->prevent = prevent;
    return 0;
}

/* ---- INQUIRY ---------------------------------------------------------- */

static const uint8_t vpd_pages[] = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};

static uint64_t inquiry_standard(SCSIDiskState *s, uint8_t *buf)
{
    static const uint16_t versions[] = {
        0x00a0, /* SAM-5 */
        0x05c0, /* SPC-5 */
        0x0600, /* SBC-4 */
    };
    const uint64_t len = 96;

    buf[0] = 0x00;        /* peripheral qualifier 0, direct access */
    buf[1] = 0x00;        /* RMB = 0 */
    buf[2] = 0x07;        /* SPC-5 */
    buf[3] = 0x10 | 0x02; /* HISUP, response data format 2 */
    buf[4] = len - 5;
    buf[7] = 0x02; /* CMDQUE */
    pad_copy((char *)buf + 8, s->vendor, 8);
    pad_copy((char *)buf + 16, s->product, 16);
    pad_copy((char *)buf + 32, s->revision, 4);
    for (unsigned i = 0; i < G_N_ELEMENTS(versions); i++) {
        scsi_put_be16(buf + 58 + 2 * i, versions[i]);
    }
    return len;
}

static uint64_t vpd_device_id(SCSIDiskState *s, uint8_t *p)
{
    uint8_t *d = p + 4;
    size_t sl = strlen(s->serial);

    /* NAA designator, type 3, binary, associated with the LU. */
    d[0] = 0x01;
    d[1] = 0x03;
    d[3] = 8;
    scsi_put_be64(d + 4, s->naa);
    d += 12;
    /* T10 vendor ID designator, type 1, ASCII: vendor + product + serial. */
    d[0] = 0x02;
    d[1] = 0x01;
    d[3] = 8 + 16 + sl;
    pad_copy((char *)d + 4, s->vendor, 8);
    pad_copy((char *)d + 12, s->product, 16);
    memcpy(d + 28, s->serial, sl);
    d += 4 + d[3];
    return d - p;
}

static uint64_t inquiry_vpd(SCSIDiskState *s, SCSIRequest *req, uint8_t *p)
{
    uint64_t len;

    p[1] = req->cdb[2];
    switch (req->cdb[2]) {
    case 0x00:
        memcpy(p + 4, vpd_pages, sizeof(vpd_pages));
        len = 4 + sizeof(vpd_pages);
        break;
    case 0x80:
        len = 4 + strlen(s->serial);
        memcpy(p + 4, s->serial, len - 4);
        break;
    case 0x83:
        len = vpd_device_id(s, p);
        break;
    case 0xb0:
        /* Block Limits (SBC-4 6.6.4). */
        len = 0x40;
        p[4] = 0x01; /* WSNZ: WRITE SAME of zero blocks is refused */
        scsi_put_be16(p + 6, MAX(4096 / s->block_size, 1u));
        scsi_put_be32(p + 8, s->max_xfer_blocks);
        scsi_put_be32(p + 12, MIN(s->max_xfer_blocks,
                                  (uint32_t)((256 << 10) / s->block_size)));
        scsi_put_be32(p + 20, s->max_unmap_blocks);
        scsi_put_be32(p + 24, SDISK_MAX_UNMAP_DESC);
        scsi_put_be32(p + 28, MAX(4096 / s->block_size, 1u));
        scsi_put_be64(p + 36, s->max_ws_blocks);
        break;
    case 0xb1:
        /* Block Device Characteristics (SBC-4 6.6.2): non-rotating. */
        len = 0x40;
        scsi_put_be16(p + 4, 0x0001);
        break;
    case 0xb2:
        /* Logical Block Provisioning (SBC-4 6.6.6): thin, UNMAP and
         * WRITE SAME(10/16) unmap, unmapped blocks read as zeros. */
        len = 8;
        p[5] = 0x80 | 0x40 | 0x20 | (0x01 << 2);
        p[6] = 0x02;
        break;
    default:
        scsi_req_invalid_field(req, 2, -1);
        return 0;
    }
    scsi_put_be16(p + 2, len - 4);
    return len;
}

static uint64_t exec_inquiry(SCSIDiskState *s, SCSIRequest *req)
{
    uint8_t *buf = alloc_data(256);
    uint64_t len;

    if (req->cdb[1] & 0x01) {
        len = inquiry_vpd(s, req, buf);
    } else if (req->cdb[2]) {
        /* A page code without EVPD (SPC-5 6.7.1). */
        scsi_req_invalid_field(req, 2, -1);
        len = 0;
    } else {
        len = inquiry_standard(s, buf);
    }
    if (req->status != SCSI_STATUS_GOOD) {
        g_free(buf);
        return 0;
    }
    set_data_in(req, buf, len, scsi_be16(req->cdb + 3));
    return 0;
}

/* ---- READ CAPACITY ---------------------------------------------------- */

static uint64_t exec_read_capacity_10(SCSIDiskState *s, SCSIRequest *req)
{
    uint8_t *buf;

    /* LBA without PMI is invalid (SBC-3; obsolete in SBC-4). */
    if (!(req->cdb[8] & 0x01) && scsi_be32(req->cdb + 2)) {
        scsi_req_invalid_field(req, 2, -1);
        return 0;
    }
    buf = alloc_data(8);
    scsi_put_be32(buf, MIN(s->nblocks - 1, (uint64_t)UINT32_MAX));
    scsi_put_be32(buf + 4, s->block_size);
    scsi_req_set_data_in(req, buf, 8);
    return 0;
}

static uint64_t exec_read_capacity_16(SCSIDiskState *s, SCSIRequest *req)
{
    uint8_t *buf;

    if (!(req->cdb[14] & 0x01) && scsi_be64(req->cdb + 2)) {
        scsi_req_invalid_field(req, 2, -1);
        return 0;
    }
    buf = alloc_data(32);
    scsi_put_be64(buf, s->nblocks - 1);
    scsi_put_be32(buf + 8, s->block_size);
    buf[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
    set_data_in(req, buf, 32, scsi_be32(req->cdb + 10));
    return 0;
}

/* ---- READ, WRITE, VERIFY, WRITE AND VERIFY ------------------------------ */

/* exec_read() of a CDB of @len bytes (scsi_cdb_length() of its code). */
static inline __attribute__((always_inline)) uint64_t
exec_read_len(SCSIDiskState *s, SCSIRequest *req, unsigned len)
{
    uint64_t lba;
    uint32_t n;
    unsigned fua;

    if (!rw_args_len(s, req, len, &lba, &n, &fua)) {
        return 0;
    }
    return start_rw(s, req, lba, n, false, fua);
}

/* Inline into sdisk_start() too: the command nearly every I/O is. */
static inline __attribute__((always_inline)) uint64_t
exec_read(SCSIDiskState *s, SCSIRequest *req)
{
    return exec_read_len(s, req, scsi_cdb_length(req->cdb[0]));
}

static uint64_t exec_write(SCSIDiskState *s, SCSIRequest *req)
{
    uint64_t lba;
    uint32_t n;
    unsigned fua;

    if (!rw_args(s, req, &lba, &n, &fua) || !check_writable(s, req)) {
        return 0;
    }
    return start_rw(s, req, lba, n, true, fua);
}

static uint64_t exec_verify(SCSIDiskState *s, SCSIRequest *req)
{
    int bytchk = (req->cdb[1] >> 1) & 0x03;
    uint64_t lba, bytes, cmp_len;
    uint32_t n;
    SDiskReq *dr;
    struct iovec v;

    if (bytchk == 2) {
        scsi_req_invalid_field(req, 1, 2);
        return 0;
    }
    if (!rw_args(s, req, &lba, &n, NULL) || n == 0) {
        return 0;
    }
    bytes = (uint64_t)n * s->block_size;
    cmp_len = bytchk == 1 ? bytes : bytchk == 3 ? s->block_size : 0;
    if (cmp_len && !scsi_req_data_out_ok(req, cmp_len)) {
        return 0;
    }
    dr = sdisk_req_new(req, SDISK_IO_VERIFY);
    dr->bytchk = bytchk;
    dr->lba = lba;
    dr->nblocks = n;
    if (cmp_len) {
        dr->cmp = alloc_data(cmp_len);
        if (!scsi_req_read_data_out(req, dr->cmp, cmp_len)) {
            sdisk_req_free(req);
            return 0;
        }
    }
    dr->buf = alloc_data(bytes);
    v.iov_base = dr->buf;
    v.iov_len = bytes;
    sdisk_submit_io(s, dr, BLK_OP_READ, lba * s->block_size, bytes, &v, 1, 0);
    return bytes;
}

static uint64_t exec_write_verify(SCSIDiskState *s, SCSIRequest *req)
{
    int bytchk = (req->cdb[1] >> 1) & 0x03;
    uint64_t lba, bytes;
    uint32_t n;
    SDiskReq *dr;
    struct iovec v;

    if (bytchk > 1) {
        scsi_req_invalid_field(req, 1, 2);
        return 0;
    }
    if (!rw_args(s, req, &lba, &n, NULL) || !check_writable(s, req) || n == 0) {
        return 0;
    }
    bytes = (uint64_t)n * s->block_size;
    if (!scsi_req_data_out_ok(req, bytes)) {
        return 0;
    }
    dr = sdisk_req_new(req, SDISK_IO_WRITE_VERIFY);
    dr->bytchk = bytchk;
    dr->lba = lba;
    dr->nblocks = n;
    /* Keep the data: the verification compares the medium with it. */
    dr->cmp = alloc_data(bytes);
    if (!scsi_req_read_data_out(req, dr->cmp, bytes)) {
        sdisk_req_free(req);
        return 0;
    }
    v.iov_base = dr->cmp;
    v.iov_len = bytes;
    /* The verify step reads the medium, so the data must be there. */
    sdisk_submit_io(s, dr, BLK_OP_WRITE, lba * s->block_size, bytes, &v, 1,
                    BLK_REQ_FUA);
    return 2 * bytes;
}

/* First differing byte of two buffers, or -1. */
static int64_t first_diff(const uint8_t *a, const uint8_t *b, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++) {
        if (a[i] != b[i]) {
            return i;
        }
    }
    return -1;
}

static void miscompare(SCSIRequest *req, uint64_t offset)
{
    SCSISenseInfo si = {
        .sense = SENSE_MISCOMPARE,
        .info_valid = true,
        .info = offset,
    };

    scsi_req_set_sense(req, &si);
}

static void finish_verify(SCSIDiskState *s, SCSIRequest *req, SDiskReq *dr)
{
    uint64_t bs = s->block_size;

    if (dr->bytchk == 1) {
        int64_t d = first_diff(dr->buf, dr->cmp, dr->nblocks * bs);
        if (d >= 0) {
            miscompare(req, d);
        }
    } else if (dr->bytchk == 3) {
        for (uint32_t i = 0; i < dr->nblocks; i++) {
            int64_t d = first_diff(dr->buf + i * bs, dr->cmp, bs);
            if (d >= 0) {
                /* Offset into the one-block Data-Out Buffer. */
                miscompare(req, d);
                break;
            }
        }
    }
}

static void finish_write_verify(SCSIDiskState *s, SCSIRequest *req,
                                SDiskReq *dr)
{
    uint64_t bytes = (uint64_t)dr->nblocks * s->block_size;
    int r;

    dr->buf = alloc_data(bytes);
    r = blk_pread(s->blk, dr->lba * s->block_size, dr->buf, bytes);
    if (r < 0) {
        sdisk_io_error(s, req, r, dr->lba * s->block_size, false);
        return;
    }
    if (dr->bytchk == 1) {
        int64_t d = first_diff(dr->buf, dr->cmp, bytes);
        if (d >= 0) {
            miscompare(req, d);
        }
    }
}

/* ---- SYNCHRONIZE CACHE, WRITE SAME, UNMAP ------------------------------- */

static uint64_t exec_sync_cache(SCSIDiskState *s, SCSIRequest *req)
{
    bool is16 = req->cdb[0] == SCSI_OP_SYNCHRONIZE_CACHE_16;
    uint64_t lba = is16 ? scsi_be64(req->cdb + 2) : scsi_be32(req->cdb + 2);
    uint64_t n = is16 ? scsi_be32(req->cdb + 10) : scsi_be16(req->cdb + 7);
    SDiskReq *dr;

    /* A count of 0 means "to the end"; the whole cache is written back
     * whatever the range (the model has one cache for the medium). */
    if (!check_lba_range(s, req, lba, n)) {
        return 0;
    }
    dr = sdisk_req_new(req, SDISK_IO_FLUSH);
    sdisk_submit_io(s, dr, BLK_OP_FLUSH, 0, 0, NULL, 0, 0);
    return 0;
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static uint64_t exec_write_same(SCSIDiskState *s, SCSIRequest *req)
{
    bool is16 = req->cdb[0] == SCSI_OP_WRITE_SAME_16;
    bool unmap = req->cdb[1] & 0x08;
    bool ndob = is16 && (req->cdb[1] & 0x01);
    uint64_t lba = is16 ? scsi_be64(req->cdb + 2) : scsi_be32(req->cdb + 2);
    uint32_t n = is16 ? scsi_be32(req->cdb + 10) : scsi_be16(req->cdb + 7);
    unsigned n_byte = is16 ? 10 : 7;
    uint64_t bs = s->block_size, bytes, chunk;
    g_autofree uint8_t *block = NULL;
    SDiskReq *dr;

    if (n == 0 || n > s->max_ws_blocks) {
        /* WSNZ = 1, and MAXIMUM WRITE SAME LENGTH (SBC-4 5.48). */
        scsi_req_invalid_field(req, n_byte, -1);
        return 0;
    }
    if (!check_lba_range(s, req, lba, n) || !check_writable(s, req)) {
        return 0;
    }
    bytes = (uint64_t)n * bs;
    block = alloc_data(bs);
    if (!ndob) {
        if (!scsi_req_read_data_out(req, block, bs)) {
            return 0;
        }
    }
    dr = sdisk_req_new(req, SDISK_IO_DISCARD);
    if (all_zero(block, bs)) {
        /* LBPRZ = 1: unmapped blocks read as zeros, so UNMAP may
         * deallocate; without it the blocks stay allocated. */
        sdisk_submit_io(s, dr, unmap ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES,
                        lba * bs, bytes, NULL, 0, 0);
        return bytes;
    }
    /* Replicate the block into one buffer, then point every iovec at it;
     * page-aligned so that cache=none needs no bounce copy. */
    chunk = MIN(bytes, MAX((uint64_t)SDISK_PATTERN_BUF, bs));
    if (posix_memalign(&dr->pattern, 4096, chunk) != 0) {
        g_error("out of memory for a WRITE SAME buffer");
    }
    for (uint64_t off = 0; off < chunk; off += bs) {
        memcpy((uint8_t *)dr->pattern + off, block, bs);
    }
    for (uint64_t done = 0; done < bytes; done += chunk) {
        sdisk_iov_append(dr, dr->pattern, MIN(chunk, bytes - done));
    }
    sdisk_submit_io(s, dr, BLK_OP_WRITE, lba * bs, bytes, dr->iov, dr->niov, 0);
    return bytes;
}

static uint64_t exec_unmap(SCSIDiskState *s, SCSIRequest *req)
{
    uint16_t plen = scsi_be16(req->cdb + 7);
    g_autofree uint8_t *p = NULL;
    uint64_t total = 0;
    unsigned ndesc;
    SDiskReq *dr;

    if (plen == 0) {
        return 0;
    }
    if (!check_writable(s, req)) {
        return 0;
    }
    if (plen < 8) {
        scsi_req_check_condition(req, SENSE_PARAM_LIST_LENGTH);
        return 0;
    }
    p = alloc_data(plen);
    if (!scsi_req_read_data_out(req, p, plen)) {
        return 0;
    }
    /* SBC-4 5.32.2: the length fields must fit the parameter list; a
     * trailing partial descriptor is ignored. */
    if ((uint32_t)scsi_be16(p) + 2 > plen) {
        scsi_req_invalid_param(req, 0, -1);
        return 0;
    }
    if ((uint32_t)scsi_be16(p + 2) + 8 > plen) {
        scsi_req_invalid_param(req, 2, -1);
        return 0;
    }
    for (unsigned i = 4; i < 8; i++) {
        if (p[i]) {
            scsi_req_invalid_param(req, i, -1);
            return 0;
        }
    }
    ndesc = scsi_be16(p + 2) / 16;
    if (ndesc > SDISK_MAX_UNMAP_DESC) {
        scsi_req_invalid_param(req, 2, -1);
        return 0;
    }
    for (unsigned i = 0; i < ndesc; i++) {
        const uint8_t *d = p + 8 + 16 * i;
        uint64_t lba = scsi_be64(d);
        uint32_t n = scsi_be32(d + 8);

        if (!check_lba_range(s, req, lba, n)) {
            return 0;
        }
        total += n;
        if (total > s->max_unmap_blocks) {
            scsi_req_invalid_param(req, 8 + 16 * i + 8, -1);
            return 0;
        }
    }
    dr = sdisk_req_new(req, SDISK_IO_DISCARD);
    for (unsigned i = 0; i < ndesc; i++) {
        const uint8_t *d = p + 8 + 16 * i;
        uint64_t n = scsi_be32(d + 8);

        if (n) {
            sdisk_submit_io(s, dr, BLK_OP_DISCARD, scsi_be64(d) * s->block_size,
                            n * s->block_size, NULL, 0, 0);
        }
    }
    return 0;
}

/* ---- MODE SENSE / MODE SELECT ----------------------------------------- */

/* Page contents for page control @pc: 0 current, 1 changeable, 2 default. */
static void page_caching(SCSIDiskState *s, int pc, uint8_t *p)
{
    memset(p, 0, MODE_PAGE_CACHING_LEN);
    p[0] = MODE_PAGE_CACHING;
    p[1] = MODE_PAGE_CACHING_LEN - 2;
    if (pc == 1) {
        p[2] = CACHING_WCE;
    } else if (pc == 0 ? s->wce : s->wce_default) {
        p[2] = CACHING_WCE;
    }
}

static void page_control(SCSIDiskState *s, int pc, uint8_t *p)
{
    memset(p, 0, MODE_PAGE_CONTROL_LEN);
    p[0] = MODE_PAGE_CONTROL;
    p[1] = MODE_PAGE_CONTROL_LEN - 2;
    if (pc == 1) {
        p[2] = CONTROL_D_SENSE;
        return;
    }
    if (pc == 0 && s->d_sense) {
        p[2] = CONTROL_D_SENSE;
    }
    p[3] = 0x10; /* QUEUE ALGORITHM MODIFIER 1: unrestricted reordering */
}

static uint64_t exec_mode_sense(SCSIDiskState *s, SCSIRequest *req)
{
    bool is10 = req->cdb[0] == SCSI_OP_MODE_SENSE_10;
    bool dbd = req->cdb[1] & 0x08;
    bool llbaa = is10 && (req->cdb[1] & 0x10);
    int pc = req->cdb[2] >> 6;
    uint8_t page = req->cdb[2] & 0x3f;
    uint8_t subpage = req->cdb[3];
    uint32_t alloc = is10 ? scsi_be16(req->cdb + 7) : req->cdb[4];
    unsigned hdr = is10 ? 8 : 4;
    unsigned bdlen = dbd ? 0 : llbaa ? 16 : 8;
    uint8_t *buf, *p;
    uint64_t len;

    if (pc == 3) {
        scsi_req_check_condition(req, SENSE_SAVING_NOT_SUPPORTED);
        return 0;
    }
    if (page != MODE_PAGE_CACHING && page != MODE_PAGE_CONTROL &&
        page != MODE_PAGE_ALL) {
        scsi_req_invalid_field(req, 2, 5);
        return 0;
    }
    if (subpage != 0x00 && subpage != 0xff) {
        /* No subpages; FFh (all subpages) returns the page itself. */
        scsi_req_invalid_field(req, 3, -1);
        return 0;
    }
    buf = alloc_data(hdr + 16 + MODE_PAGE_CACHING_LEN + MODE_PAGE_CONTROL_LEN);
    p = buf + hdr;
    if (bdlen == 8) {
        if (pc != 1) {
            scsi_put_be32(p, MIN(s->nblocks, (uint64_t)UINT32_MAX));
            scsi_put_be32(p + 4, s->block_size); /* byte 4 reserved */
            p[4] = 0;
        }
        p += 8;
    } else if (bdlen == 16) {
        if (pc != 1) {
            scsi_put_be64(p, s->nblocks);
            scsi_put_be32(p + 12, s->block_size);
        }
        p += 16;
    }
    if (page == MODE_PAGE_CACHING || page == MODE_PAGE_ALL) {
        page_caching(s, pc, p);
        p += MODE_PAGE_CACHING_LEN;
    }
    if (page == MODE_PAGE_CONTROL || page == MODE_PAGE_ALL) {
        page_control(s, pc, p);
        p += MODE_PAGE_CONTROL_LEN;
    }
    len = p - buf;
    /* Device-specific parameter: WP, DPOFUA (SBC-4 6.5.1). */
    if (is10) {
        scsi_put_be16(buf, len - 2);
        buf[3] = (s->readonly ? 0x80 : 0) | 0x10;
        buf[4] = llbaa && bdlen ? 0x01 : 0;
        scsi_put_be16(buf + 6, bdlen);
    } else {
        buf[0] = len - 1;
        buf[2] = (s->readonly ? 0x80 : 0) | 0x10;
        buf[3] = bdlen;
    }
    set_data_in(req, buf, len, alloc);
    return 0;
}

/* Check a MODE SELECT block descriptor at @bd (@long_lba: 16 bytes). */
static bool select_block_desc(SCSIDiskState *s, SCSIRequest *req,
                              const uint8_t *p, unsigned off, bool long_lba)
{
    const uint8_t *bd = p + off;
    uint64_t n = long_lba ? scsi_be64(bd) : scsi_be32(bd);
    uint32_t bl = long_lba ? scsi_be32(bd + 12) : scsi_be24(bd + 5);
    uint64_t cur =
        long_lba ? s->nblocks : MIN(s->nblocks, (uint64_t)UINT32_MAX);

    if (n != 0 && n != cur) {
        scsi_req_invalid_param(req, off, -1);
        return false;
    }
    for (unsigned i = long_lba ? 8 : 4; i < (long_lba ? 12u : 5u); i++) {
        if (bd[i]) {
            scsi_req_invalid_param(req, off + i, -1);
            return false;
        }
    }
    if (bl != s->block_size) {
        /* Changing the logical block size is not supported. */
        scsi_req_invalid_param(req, off + (long_lba ? 12 : 5), -1);
        return false;
    }
    return true;
}

static uint64_t exec_mode_select(SCSIDiskState *s, SCSIRequest *req)
{
    bool is10 = req->cdb[0] == SCSI_OP_MODE_SELECT_10;
    uint32_t len = is10 ? scsi_be16(req->cdb + 7) : req->cdb[4];
    unsigned hdr = is10 ? 8 : 4;
    g_autofree uint8_t *p = NULL;
    bool wce = s->wce, d_sense = s->d_sense;
    bool long_lba = false;
    unsigned bdlen, off;

    if (req->cdb[1] & 0x01) {
        /* SP: there are no saved pages (SPC-5 6.13). */
        scsi_req_invalid_field(req, 1, 0);
        return 0;
    }
    if (len == 0) {
        return 0;
    }
    p = alloc_data(len);
    if (!scsi_req_read_data_out(req, p, len)) {
        return 0;
    }
    if (len < hdr) {
        scsi_req_check_condition(req, SENSE_PARAM_LIST_LENGTH);
        return 0;
    }
    /* Mode parameter header (SPC-5 7.5.5): the data length is reserved
     * for MODE SELECT, the medium type must be 0; the device-specific
     * parameter (WP, DPOFUA) is ignored. */
    if (is10) {
        if (scsi_be16(p)) {
            scsi_req_invalid_param(req, 0, -1);
            return 0;
        }
        if (p[2]) {
            scsi_req_invalid_param(req, 2, -1);
            return 0;
        }
        if (p[4] & 0xfe) {
            scsi_req_invalid_param(req, 4, 7);
            return 0;
        }
        if (p[5]) {
            scsi_req_invalid_param(req, 5, -1);
            return 0;
        }
        long_lba = p[4] & 0x01;
        bdlen = scsi_be16(p + 6);
    } else {
        if (p[0]) {
            scsi_req_invalid_param(req, 0, -1);
            return 0;
        }
        if (p[1]) {
            scsi_req_invalid_param(req, 1, -1);
            return 0;
        }
        bdlen = p[3];
    }
    if (bdlen != 0 && bdlen != (long_lba ? 16u : 8u)) {
        scsi_req_invalid_param(req, is10 ? 6 : 3, -1);
        return 0;
    }
    if (hdr + bdlen > len) {
        scsi_req_check_condition(req, SENSE_PARAM_LIST_LENGTH);
        return 0;
    }
    if (bdlen && !select_block_desc(s, req, p, hdr, long_lba)) {
        return 0;
    }
    for (off = hdr + bdlen; off < len;) {
        uint8_t cur[MODE_PAGE_CACHING_LEN], mask[MODE_PAGE_CACHING_LEN];
        unsigned plen, want;
        uint8_t page;

        if (len - off < 2) {
            scsi_req_check_condition(req, SENSE_PARAM_LIST_LENGTH);
            return 0;
        }
        page = p[off] & 0x3f;
        if (p[off] & 0x40) {
            /* SPF: sub-page format; no page here has sub-pages. */
            scsi_req_invalid_param(req, off, 6);
            return 0;
        }
        if (page == MODE_PAGE_CACHING) {
            want = MODE_PAGE_CACHING_LEN;
            page_caching(s, 0, cur);
            page_caching(s, 1, mask);
        } else if (page == MODE_PAGE_CONTROL) {
            want = MODE_PAGE_CONTROL_LEN;
            page_control(s, 0, cur);
            page_control(s, 1, mask);
        } else {
            scsi_req_invalid_param(req, off, 5);
            return 0;
        }
        plen = p[off + 1] + 2u;
        if (plen != want) {
            scsi_req_invalid_param(req, off + 1, -1);
            return 0;
        }
        if (off + plen > len) {
            scsi_req_check_condition(req, SENSE_PARAM_LIST_LENGTH);
            return 0;
        }
        /* Fields that are not changeable must keep their current value
         * (SPC-5 7.5.1). Byte 0 is PS/SPF/page code, PS being ignored. */
        for (unsigned i = 2; i < plen; i++) {
            uint8_t bad = (p[off + i] ^ cur[i]) & ~mask[i];
            if (bad) {
                scsi_req_invalid_param(req, off + i, 31 - __builtin_clz(bad));
                return 0;
            }
        }
        if (page == MODE_PAGE_CACHING) {
            wce = p[off + 2] & CACHING_WCE;
        } else {
            d_sense = p[off + 2] & CONTROL_D_SENSE;
        }
        off += plen;
    }
    if (wce != s->wce || d_sense != s->d_sense) {
        TRACE(sdisk_mode_change, "%s wce=%d d_sense=%d", s->name, wce, d_sense);
        if (wce != s->wce) {
            blk_set_write_cache(s->blk, wce);
        }
        s->wce = wce;
        s->d_sense = d_sense;
        s->dev.desc_sense = d_sense;
        /* SPC-5 7.5.1: everyone but the sender learns of the change. */
        scsi_device_queue_ua(&s->dev, SENSE_MODE_CHANGED, true, req->initiator);
    }
    return 0;
}

/* ---- REPORT LUNS, REPORT SUPPORTED OPERATION CODES ----------------------- */

static uint64_t exec_report_luns(SCSIDiskState *s, SCSIRequest *req)
{
    scsi_bus_report_luns(req);
    return 0;
}

static uint64_t exec_rsoc(SCSIDiskState *s, SCSIRequest *req);

#define CTL 0x04 /* control byte usage: NACA is evaluated */

static const SDiskCmd sdisk_cmds[] = {
    {SCSI_OP_TEST_UNIT_READY,
     -1,
     6,
     SDISK_F_MEDIA,
     "TEST UNIT READY",
     exec_tur,
     {0xff, 0, 0, 0, 0, CTL}},
    {SCSI_OP_REQUEST_SENSE,
     -1,
     6,
     0,
     "REQUEST SENSE",
     exec_request_sense,
     {0xff, 0x01, 0, 0, 0xff, CTL}},
    {SCSI_OP_READ_6,
     -1,
     6,
     SDISK_F_MEDIA,
     "READ(6)",
     exec_read,
     {0xff, 0x1f, 0xff, 0xff, 0xff, CTL}},
    {SCSI_OP_WRITE_6,
     -1,
     6,
     SDISK_F_MEDIA,
     "WRITE(6)",
     exec_write,
     {0xff, 0x1f, 0xff, 0xff, 0xff, CTL}},
    {SCSI_OP_INQUIRY,
     -1,
     6,
     0,
     "INQUIRY",
     exec_inquiry,
     {0xff, 0x01, 0xff, 0xff, 0xff, CTL}},
    {SCSI_OP_MODE_SELECT_6,
     -1,
     6,
     0,
     "MODE SELECT(6)",
     exec_mode_select,
     {0xff, 0x11, 0, 0, 0xff, CTL}},
    {SCSI_OP_MODE_SENSE_6,
     -1,
     6,
     0,
     "MODE SENSE(6)",
     exec_mode_sense,
     {0xff, 0x08, 0xff, 0xff, 0xff, CTL}},
    {SCSI_OP_START_STOP_UNIT,
     -1,
     6,
     0,
     "START STOP UNIT",
     exec_start_stop,
     {0xff, 0x01, 0, 0, 0x07, CTL}},
    {SCSI_OP_PREVENT_ALLOW,
     -1,
     6,
     0,
     "PREVENT ALLOW MEDIUM REMOVAL",
     exec_prevent_allow,
     {0xff, 0, 0, 0, 0x03, CTL}},
    {SCSI_OP_READ_CAPACITY_10,
     -1,
     10,
     SDISK_F_MEDIA,
     "READ CAPACITY(10)",
     exec_read_capacity_10,
     {0xff, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, CTL}},
    {SCSI_OP_READ_10,
     -1,
     10,
     SDISK_F_MEDIA,
     "READ(10)",
     exec_read,
     {0xff, 0x1c, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, CTL}},
    {SCSI_OP_WRITE_10,
     -1,
     10,
     SDISK_F_MEDIA,
     "WRITE(10)",
     exec_write,
     {0xff, 0x18, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, CTL}},
    {SCSI_OP_WRITE_VERIFY_10,
     -1,
     10,
     SDISK_F_MEDIA,
     "WRITE AND VERIFY(10)",
     exec_write_verify,
     {0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, CTL}},
    {SCSI_OP_VERIFY_10,
     -1,
     10,
     SDISK_F_MEDIA,
     "VERIFY(10)",
     exec_verify,
     {0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, CTL}},
    {SCSI_OP_SYNCHRONIZE_CACHE_10,
     -1,
     10,
     SDISK_F_MEDIA,
     "SYNCHRONIZE CACHE(10)",
     exec_sync_cache,
     {0xff, 0x02, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, CTL}},
    {SCSI_OP_WRITE_SAME_10,
     -1,
     10,
     SDISK_F_MEDIA,
     "WRITE SAME(10)",
     exec_write_same,
     {0xff, 0x08, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, CTL}},
    {SCSI_OP_UNMAP,
     -1,
     10,
     SDISK_F_MEDIA,
     "UNMAP",
     exec_unmap,
     {0xff, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, CTL}},
    {SCSI_OP_MODE_SELECT_10,
     -1,
     10,
     0,
     "MODE SELECT(10)",
     exec_mode_select,
     {0xff, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, CTL}},
    {SCSI_OP_MODE_SENSE_10,
     -1,
     10,
     0,
     "MODE SENSE(10)",
     exec_mode_sense,
     {0xff, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, CTL}},
    {SCSI_OP_READ_16,
     -1,
     16,
     SDISK_F_MEDIA,
     "READ(16)",
     exec_read,
     {0xff, 0x1c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_WRITE_16,
     -1,
     16,
     SDISK_F_MEDIA,
     "WRITE(16)",
     exec_write,
     {0xff, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_WRITE_VERIFY_16,
     -1,
     16,
     SDISK_F_MEDIA,
     "WRITE AND VERIFY(16)",
     exec_write_verify,
     {0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_VERIFY_16,
     -1,
     16,
     SDISK_F_MEDIA,
     "VERIFY(16)",
     exec_verify,
     {0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_SYNCHRONIZE_CACHE_16,
     -1,
     16,
     SDISK_F_MEDIA,
     "SYNCHRONIZE CACHE(16)",
     exec_sync_cache,
     {0xff, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_WRITE_SAME_16,
     -1,
     16,
     SDISK_F_MEDIA,
     "WRITE SAME(16)",
     exec_write_same,
     {0xff, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_SERVICE_ACTION_IN_16,
     SCSI_SAI_READ_CAPACITY_16,
     16,
     SDISK_F_MEDIA,
     "READ CAPACITY(16)",
     exec_read_capacity_16,
     {0xff, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0x01, CTL}},
    {SCSI_OP_REPORT_LUNS,
     -1,
     12,
     0,
     "REPORT LUNS",
     exec_report_luns,
     {0xff, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, CTL}},
    {SCSI_OP_MAINTENANCE_IN,
     SCSI_MI_REPORT_SUPPORTED_OPCODES,
     12,
     0,
     "REPORT SUPPORTED OPERATION CODES",
     exec_rsoc,
     {0xff, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, CTL}},
    {SCSI_OP_READ_12,
     -1,
     12,
     SDISK_F_MEDIA,
     "READ(12)",
     exec_read,
     {0xff, 0x1c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_WRITE_12,
     -1,
     12,
     SDISK_F_MEDIA,
     "WRITE(12)",
     exec_write,
     {0xff, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_WRITE_VERIFY_12,
     -1,
     12,
     SDISK_F_MEDIA,
     "WRITE AND VERIFY(12)",
     exec_write_verify,
     {0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, CTL}},
    {SCSI_OP_VERIFY_12,
     -1,
     12,
     SDISK_F_MEDIA,
     "VERIFY(12)",
     exec_verify,
     {0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, CTL}},
};

static bool opcode_has_sa(uint8_t opcode)
{
    return opcode == SCSI_OP_SERVICE_ACTION_IN_16 ||
           opcode == SCSI_OP_MAINTENANCE_IN;
}

/* Row + 1 of the first sdisk_cmds[] entry of each operation code, 0 for
 * none: a lookup per command instead of a scan of the table. */
static uint8_t cmd_first[256];

/*
 * Per sdisk_cmds[] row, the bits scsi_req_check_cdb() refuses as two
 * eight-byte masks, one over bytes 1-8 and one over the last eight bytes
 * (the control byte's included): a clean CDB, nearly every one, costs
 * two tests instead of the call and its loops. Built with cmd_first[].
 */
typedef struct SDiskCdbMask {
    uint64_t lo, hi;
    uint8_t hi_at; /* first byte of @hi */
} SDiskCdbMask;

static SDiskCdbMask cmd_mask[G_N_ELEMENTS(sdisk_cmds)];

/*
 * The rows of READ(16) and READ(10), nearly every command, and their
 * masks: sdisk_start() tests their operation codes first and then knows
 * the row, the CDB length (one decoding) and the command (a read of the
 * medium) without the look-up. Set by cmd_index_init().
 */
static const SDiskCmd *cmd_read16, *cmd_read10;
static SDiskCdbMask mask_read16, mask_read10;
/* Their masks with the FUA bit (byte 1, 0x08) set as well: read_fast()
 * leaves a FUA read to the general path with the same test. */
static SDiskCdbMask fast_read16, fast_read10;

/* @m with the FUA bit of byte 1 (0x08) counted as unclean too. */
static SDiskCdbMask mask_with_fua(SDiskCdbMask m)
{
    const uint8_t fua[8] = {0x08}; /* byte 1 first, as in cdb_clean() */
    uint64_t bit;

    memcpy(&bit, fua, sizeof(bit));
    m.lo |= bit;
    return m;
}

static void cmd_index_init(void)
{
    G_STATIC_ASSERT(G_N_ELEMENTS(sdisk_cmds) < 255);
    for (unsigned i = G_N_ELEMENTS(sdisk_cmds); i-- > 0;) {
        const SDiskCmd *c = &sdisk_cmds[i];
        uint8_t bad[SCSI_CDB_MAX] = {0};
        unsigned len = c->cdb_len;

        cmd_first[c->opcode] = (uint8_t)(i + 1);
        g_assert(len >= 2 && len <= 16);
        for (unsigned j = 1; j + 1 < len; j++) {
            bad[j] = (uint8_t)~c->usage[j];
        }
        bad[len - 1] = 0x3f; /* as scsi_req_check_cdb() tests it */
        cmd_mask[i].hi_at = len > 9 ? len - 8 : 1;
        memcpy(&cmd_mask[i].lo, bad + 1, 8);
        memcpy(&cmd_mask[i].hi, bad + cmd_mask[i].hi_at, 8);
    }
    cmd_read16 = &sdisk_cmds[cmd_first[SCSI_OP_READ_16] - 1];
    cmd_read10 = &sdisk_cmds[cmd_first[SCSI_OP_READ_10] - 1];
    /* What sdisk_start()'s READ path takes for granted. */
    g_assert(cmd_read16->opcode == SCSI_OP_READ_16 && cmd_read16->sa < 0 &&
             cmd_read16->cdb_len == 16 && cmd_read16->exec == exec_read &&
             cmd_read16->flags == SDISK_F_MEDIA);
    g_assert(cmd_read10->opcode == SCSI_OP_READ_10 && cmd_read10->sa < 0 &&
             cmd_read10->cdb_len == 10 && cmd_read10->exec == exec_read &&
             cmd_read10->flags == SDISK_F_MEDIA);
    mask_read16 = cmd_mask[cmd_read16 - sdisk_cmds];
    mask_read10 = cmd_mask[cmd_read10 - sdisk_cmds];
    fast_read16 = mask_with_fua(mask_read16);
    fast_read10 = mask_with_fua(mask_read10);
}

/* Whether scsi_req_check_cdb(req, c->usage, c->cdb_len) would pass, for
 * the usual answer: yes. False sends the command to it for the sense. */
static inline __attribute__((always_inline)) bool
cdb_clean(const SCSIRequest *req, const SDiskCmd *c)
{
    const SDiskCdbMask *m = &cmd_mask[c - sdisk_cmds];
    uint64_t lo, hi;

    memcpy(&lo, req->cdb + 1, 8);
    memcpy(&hi, req->cdb + m->hi_at, 8);
    return req->cdb_len >= c->cdb_len && !(lo & m->lo) && !(hi & m->hi);
}

/* cdb_clean() for a row of a CDB of @len bytes, with its mask @m: the
 * place of the last eight bytes a constant. */
static inline __attribute__((always_inline)) bool
cdb_clean_len(const SCSIRequest *req, const SDiskCdbMask *m, unsigned len)
{
    uint64_t lo, hi;

    memcpy(&lo, req->cdb + 1, 8);
    memcpy(&hi, req->cdb + (len > 9 ? len - 8 : 1), 8);
    return req->cdb_len >= len && !(lo & m->lo) && !(hi & m->hi);
}

/* Inline: sdisk_start() looks up every command. */
static inline __attribute__((always_inline)) const SDiskCmd *
find_cmd(uint8_t opcode, int sa)
{
    unsigned first = cmd_first[opcode];

    if (!first) {
        return NULL;
    }
    if (sdisk_cmds[first - 1].sa < 0) {
        /* The usual case: the opcode's only row, for any SA. */
        return &sdisk_cmds[first - 1];
    }
    for (unsigned i = first - 1; i < G_N_ELEMENTS(sdisk_cmds); i++) {
        const SDiskCmd *c = &sdisk_cmds[i];
        if (c->opcode == opcode && (c->sa < 0 || c->sa == sa)) {
            return c;
        }
    }
    return NULL;
}

/* CDB usage data as reported (SPC-5 6.35.3): byte 0 is the operation
 * code and the service action bits hold the service action. */
static void cmd_usage(const SDiskCmd *c, uint8_t *out)
{
    memcpy(out, c->usage, c->cdb_len);
    out[0] = c->opcode;
    if (c->sa >= 0) {
        out[1] = (out[1] & ~0x1f) | c->sa;
    }
}

static uint64_t exec_rsoc(SCSIDiskState *s, SCSIRequest *req)
{
    bool rctd = req->cdb[2] & 0x80;
    uint8_t options = req->cdb[2] & 0x07;
    uint8_t opcode = req->cdb[3];
    uint16_t sa = scsi_be16(req->cdb + 4);
    uint32_t alloc = scsi_be32(req->cdb + 6);
    unsigned tdlen = rctd ? 12 : 0;
    const SDiskCmd *c;
    uint8_t *buf, *p;

    if (options == 0) {
        buf = alloc_data(4 + G_N_ELEMENTS(sdisk_cmds) * (8 + tdlen));
        p = buf + 4;
        for (unsigned i = 0; i < G_N_ELEMENTS(sdisk_cmds); i++) {
            c = &sdisk_cmds[i];
            p[0] = c->opcode;
            scsi_put_be16(p + 2, c->sa < 0 ? 0 : c->sa);
            p[5] = (rctd ? 0x02 : 0) | (c->sa >= 0 ? 0x01 : 0);
            scsi_put_be16(p + 6, c->cdb_len);
            p += 8;
            if (rctd) {
                scsi_put_be16(p, 0x0a); /* timeouts not specified */
                p += 12;
            }
        }
        scsi_put_be32(buf, p - buf - 4);
        set_data_in(req, buf, p - buf, alloc);
        return 0;
    }
    /* SPC-5 6.35.2: one command. 001b: by opcode, which must not have
     * service actions; 010b: by opcode and SA, which it must have; 011b:
     * either. */
    if (options > 3 || (options == 1 && opcode_has_sa(opcode)) ||
        (options == 2 && !opcode_has_sa(opcode))) {
        scsi_req_invalid_field(req, 2, options > 3 ? 2 : -1);
        return 0;
    }
    c = find_cmd(opcode, opcode_has_sa(opcode) ? sa : -1);
    if (c && c->sa >= 0 && c->sa != sa) {
        c = NULL;
    }
    buf = alloc_data(4 + 16 + 12);
    if (c) {
        buf[1] = (rctd ? 0x80 : 0) | 0x03; /* supported per standard */
        scsi_put_be16(buf + 2, c->cdb_len);
        cmd_usage(c, buf + 4);
        p = buf + 4 + c->cdb_len;
        if (rctd) {
            scsi_put_be16(p, 0x0a);
            p += 12;
        }
    } else {
        buf[1] = 0x01; /* not supported */
        p = buf + 4;
    }
    set_data_in(req, buf, p - buf, alloc);
    return 0;
}

/* ---- the device ops --------------------------------------------------- */

/* The bus schedules the completion by the bytes returned. */
/* Whether the READ of row @c (a CDB of @len bytes, mask @m) is clean and
 * the unit started: then traced as the general path traces it. */
static inline __attribute__((always_inline)) bool
read_ready(SCSIDiskState *s, SCSIRequest *req, const SDiskCmd *c,
           const SDiskCdbMask *m, unsigned len)
{
    if (!cdb_clean_len(req, m, len) || s->stopped) {
        return false;
    }
    TRACE(sdisk_cmd, "%s tag=0x%" PRIx64 " %s", s->name, req->tag, c->name);
    return true;
}

/*
 * exec_read_len() of a clean READ of a started unit when nothing rare can
 * happen on its way: tracing off, a pooled per-command state, no FUA (@m
 * is the fast mask, which has its bit), a good range, data-in to one SG
 * element in RAM and no hook before a DMA write. Then it starts as
 * start_rw() starts it, with no call but the backend's, so sdisk_start()
 * saves no registers for the rare ones; false leaves @req as it was, for
 * the general path (which does all of it).
 */
static inline __attribute__((always_inline)) bool
read_fast(SCSIDiskState *s, SCSIRequest *req, const SDiskCdbMask *m,
          unsigned len, uint64_t *bytes_out)
{
    SDiskReq *dr = s->free_reqs;
    uint64_t lba, bytes, xfer;
    unsigned len_byte;
    uint32_t n;
    void *host;

    if (trace_any || !dr || !dma_sg_begin_unwatched(BND_DMA_WRITE) ||
        !cdb_clean_len(req, m, len) || s->stopped) {
        return false;
    }
    rw_decode(req->cdb, len, &lba, &n, &len_byte);
    if (n > s->max_xfer_blocks || !lba_range_ok(s, lba, n)) {
        return false;
    }
    bytes = (uint64_t)n * s->block_size;
    xfer = read_xfer(req, bytes);
    host = dma_sg_host_one(req->sg, req->nsg, xfer);
    if (!host) {
        return false;
    }
    sdisk_req_pop(s, dr);
    sdisk_req_init(req, dr, SDISK_IO_READ);
    dr->want = bytes;
    dr->xfer = xfer;
    /* A pooled state has room for one iovec at least. */
    dma_sg_map_one(host, xfer, dr->iov, &dr->dma_chunks);
    rw_go(s, dr, BND_DMA_WRITE, lba, xfer, 1, false, 0);
    *bytes_out = bytes;
    return true;
}

/* Every command but the ones read_fast() starts. */
static G_GNUC_NO_INLINE uint64_t sdisk_start_any(SCSIDevice *dev,
                                                 SCSIRequest *req)
{
    SCSIDiskState *s = to_disk(dev);
    uint8_t opcode = req->cdb[0];
    int sa = -1;
    const SDiskCmd *c;
    uint64_t bytes = 0;

    /*
     * A clean READ(16) or READ(10) of a started unit, what the general
     * path below comes to for it, in the same order; anything else about
     * it (a bad field, a stopped unit) takes that path for the sense.
     */
    if (G_LIKELY(opcode == SCSI_OP_READ_16)) {
        if (G_LIKELY(read_ready(s, req, cmd_read16, &mask_read16, 16))) {
            return exec_read_len(s, req, 16);
        }
    } else if (opcode == SCSI_OP_READ_10) {
        if (G_LIKELY(read_ready(s, req, cmd_read10, &mask_read10, 10))) {
            return exec_read_len(s, req, 10);
        }
    }
    if (opcode_has_sa(opcode) && req->cdb_len > 1) {
        sa = req->cdb[1] & 0x1f;
    }
    c = find_cmd(opcode, sa);
    if (!c) {
        TRACE(sdisk_cmd, "%s tag=0x%" PRIx64 " op=0x%02x unsupported", s->name,
              req->tag, opcode);
        if (opcode_has_sa(opcode)) {
            scsi_req_invalid_field(req, 1, 4);
        } else {
            scsi_req_check_condition(req, SENSE_INVALID_OPCODE);
        }
        return 0;
    }
    TRACE(sdisk_cmd, "%s tag=0x%" PRIx64 " %s", s->name, req->tag, c->name);
    if (!cdb_clean(req, c) && !scsi_req_check_cdb(req, c->usage, c->cdb_len)) {
        /* fails with the field pointer set */
    } else if ((c->flags & SDISK_F_MEDIA) && s->stopped) {
        scsi_req_check_condition(req, SENSE_NOT_READY_START_REQUIRED);
    } else {
        bytes = c->exec(s, req);
    }
    return bytes;
}

static uint64_t sdisk_start(SCSIDevice *dev, SCSIRequest *req)
{
    SCSIDiskState *s = to_disk(dev);
    uint64_t bytes;

    if (G_LIKELY(req->cdb[0] == SCSI_OP_READ_16)
            ? read_fast(s, req, &fast_read16, 16, &bytes)
            : req->cdb[0] == SCSI_OP_READ_10 &&
                  read_fast(s, req, &fast_read10, 10, &bytes)) {
        return bytes;
    }
    return sdisk_start_any(dev, req);
}

/* The end of a command whose backend I/O is over with @err (its first
 * failed byte at @err_off): the DMA's after-hooks, then the outcome. */
static G_GNUC_NO_INLINE void sdisk_finish_io(SCSIDiskState *s, SCSIRequest *req,
                                             SDiskReq *dr, int err,
                                             uint64_t err_off)
{
    if (dr->dma_len) {
        dma_sg_end_mapped(dr->dma_kind, req->sg, req->nsg, dr->dma_len, !err,
                          dr->dma_chunks, dr->iov);
    }
    if (err) {
        sdisk_io_error(
            s, req, err, dr->kind == SDISK_IO_FLUSH ? UINT64_MAX : err_off,
            dr->kind != SDISK_IO_READ && dr->kind != SDISK_IO_VERIFY);
        sdisk_req_free(req);
        return;
    }
    switch (dr->kind) {
    case SDISK_IO_READ:
        req->transferred = dr->xfer;
        req->overrun = dr->want - dr->xfer;
        break;
    case SDISK_IO_WRITE:
        req->transferred = dr->xfer;
        break;
    case SDISK_IO_VERIFY:
        finish_verify(s, req, dr);
        break;
    case SDISK_IO_WRITE_VERIFY:
        finish_write_verify(s, req, dr);
        break;
    default:
        break;
    }
    TRACE(sdisk_cmd_done, "%s tag=0x%" PRIx64 " status=0x%02x", s->name,
          req->tag, req->status);
    sdisk_req_free(req);
}

/* Wait for every backend request of @dr, then sdisk_finish_io(). */
static G_GNUC_NO_INLINE void sdisk_finish_wait(SCSIDiskState *s,
                                               SCSIRequest *req, SDiskReq *dr)
{
    uint64_t err_off = 0;
    int err = sdisk_wait_io(dr, &err_off);

    sdisk_finish_io(s, req, dr, err, err_off);
}

static void sdisk_finish(SCSIDevice *dev, SCSIRequest *req)
{
    SDiskReq *dr = req->dev_private;
    uint64_t err_off; /* blk_wait() sets it when it fails */
    int err;

    if (!dr) {
        return;
    }
    if (G_UNLIKELY(dr->kind != SDISK_IO_READ || dr->nio != 1)) {
        sdisk_finish_wait(to_disk(dev), req, dr);
        return;
    }
    /* Nearly every command: a read's one backend request, the rest of
     * the work out of line so that this path keeps a small frame. */
    dr->nio = 0;
    err = blk_wait(dr->io[0], &err_off);
    if (G_UNLIKELY(err || TRACE_ON(sdisk_cmd_done))) {
        sdisk_finish_io(to_disk(dev), req, dr, err, err_off);
        return;
    }
    /* A read with backend I/O mapped its xfer bytes (dma_len). */
    dma_sg_end_mapped(BND_DMA_WRITE, req->sg, req->nsg, dr->dma_len, true,
                      dr->dma_chunks, dr->iov);
    req->transferred = dr->xfer;
    req->overrun = dr->want - dr->xfer;
    /* A read holds no buffer, and its one request is waited for. */
    sdisk_req_release(to_disk(dev), req, dr);
}

static void sdisk_cancel(SCSIDevice *dev, SCSIRequest *req)
{
    SDiskReq *dr = req->dev_private;
    uint64_t off;

    if (!dr) {
        return;
    }
    /* The host I/O may be writing guest RAM: it must be over before the
     * HBA hears of the abort. */
    sdisk_wait_io(dr, &off);
    if (dr->dma_len) {
        dma_sg_end_counted(dr->dma_kind, req->sg, req->nsg, 0, dr->dma_len,
                           false, dr->dma_chunks);
    }
    sdisk_req_free(req);
}

static void sdisk_reset(SCSIDevice *dev)
{
    SCSIDiskState *s = to_disk(dev);

    /* Mode parameters return to their defaults (there are no saved
     * ones); the unit is started, as after power on. */
    if (s->wce != s->wce_default) {
        blk_set_write_cache(s->blk, s->wce_default);
    }
    s->wce = s->wce_default;
    s->d_sense = false;
    s->dev.desc_sense = false;
    s->stopped = false;
    s->prevent = false;
}

static void sdisk_destroy(SCSIDevice *dev)
{
    SCSIDiskState *s = to_disk(dev);

    blk_detach(s->blk);
    sdisk_req_pool_free(s);
    g_free(s->serial);
    g_free(s->name);
    g_free(s);
}

static const SCSIDeviceOps sdisk_ops = {
    .type = "scsi-hd",
    .start = sdisk_start,
    .finish = sdisk_finish,
    .cancel = sdisk_cancel,
    .reset = sdisk_reset,
    .destroy = sdisk_destroy,
};

/* ---- creation --------------------------------------------------------- */

/* FNV-1a: a stable identifier from the serial number and address. */
static uint64_t make_naa(const char *serial, uint32_t target, uint32_t lun)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    g_autofree char *key = g_strdup_printf("%s/%u/%u", serial, target, lun);

    for (const char *c = key; *c; c++) {
        h ^= (uint8_t)*c;
        h *= 0x100000001b3ULL;
    }
    /* NAA 3h: locally assigned, 60 bits of value (SPC-5 7.7.6.6.3). */
    return 0x3ULL << 60 | (h & ((1ULL << 60) - 1));
}

SCSIDiskState *scsi_disk_new(SCSIBus *bus, uint32_t target, uint32_t lun,
                             BlockBackend *blk, const SCSIDiskProps *props,
                             GError **errp)
{
    uint32_t bs = props->logical_block_size ? props->logical_block_size : 512;
    g_autofree char *name = props->id
                                ? g_strdup(props->id)
                                : g_strdup_printf("scsi-hd %u:%u", target, lun);
    SCSIDiskState *s;
    size_t vl;

    if (bs != 512 && bs != 4096) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: logical_block_size %u is not supported (512 or "
                    "4096)",
                    name, bs);
        return NULL;
    }
    if (blk_size(blk) % bs || blk_size(blk) < bs) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: image size %" PRIu64 " is not a multiple of the "
                    "logical block size %u; resize the image or use "
                    "logical_block_size=512",
                    name, blk_size(blk), bs);
        return NULL;
    }
    if (!blk_attach(blk, name, errp)) {
        return NULL;
    }
    cmd_index_init();
    s = g_new0(SCSIDiskState, 1);
    s->name = g_steal_pointer(&name);
    s->blk = blk;
    s->block_size = bs;
    s->nblocks = blk_size(blk) / bs;
    s->max_xfer_blocks = SDISK_MAX_XFER_BYTES / bs;
    s->max_ws_blocks = SDISK_MAX_WS_BYTES / bs;
    s->max_unmap_blocks = SDISK_MAX_UNMAP_BYTES / bs;
    s->readonly = blk_is_readonly(blk);
    pad_copy(s->vendor, SDISK_VENDOR, 8);
    s->vendor[8] = '\0';
    g_strlcpy(s->product, props->product ? props->product : SDISK_PRODUCT,
              sizeof(s->product));
    g_strlcpy(s->revision, STOREMU_VERSION, sizeof(s->revision));
    vl = strlen(s->revision);
    if (vl && s->revision[vl - 1] == '.') {
        s->revision[vl - 1] = '\0';
    }
    s->serial = g_strdup(props->serial ? props->serial
                         : blk_id(blk) ? blk_id(blk)
                                       : "STOREMU0");
    if (strlen(s->serial) > 36) {
        s->serial[36] = '\0';
    }
    s->naa = make_naa(s->serial, target, lun);
    s->wce_default = props->wce;
    s->wce = props->wce;
    blk_set_write_cache(blk, props->wce);
    if (!scsi_device_attach(bus, &s->dev, &sdisk_ops, target, lun, errp)) {
        blk_detach(blk);
        g_free(s->serial);
        g_free(s->name);
        g_free(s);
        return NULL;
    }
    TRACE(sdisk_create, "%s on %s %u:%u blocks=%" PRIu64 " bs=%u wce=%d%s",
          s->name, scsi_bus_name(bus), target, lun, s->nblocks, bs, s->wce,
          s->readonly ? " readonly" : "");
    return s;
}

void scsi_disk_free(SCSIDiskState *s)
{
    if (!s) {
        return;
    }
    scsi_device_detach(&s->dev);
    sdisk_destroy(&s->dev);
}

SCSIDevice *scsi_disk_device(SCSIDiskState *s)
{
    return &s->dev;
}

bool scsi_hd_create(Opts *opts, GError **errp)
{
    const char *drive = opts_get_str(opts, "drive", NULL);
    const char *busname =
        opts_has(opts, "bus") ? opts_get_str(opts, "bus", NULL) : NULL;
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    BlockBackend *blk;
    SCSIBus *bus;

    if (!drive) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-device scsi-hd: drive= is required (the id of a "
                    "-drive)");
        return false;
    }
    blk = blk_find(drive);
    if (!blk) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-device scsi-hd: drive '%s' does not exist; define it "
                    "with -drive id=%s,file=...",
                    drive, drive);
        return false;
    }
    bus = scsi_bus_find(busname);
    if (!bus) {
        if (busname) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-device scsi-hd: no SCSI bus '%s'; give the HBA "
                        "that id (-device virtio-scsi-pci,id=%s)",
                        busname, busname);
        } else {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-device scsi-hd: no SCSI HBA to attach to; add "
                        "one first (-device virtio-scsi-pci)");
        }
        return false;
    }
    if (opts_has(opts, "wce")) {
        props.wce = opts_get_bool(opts, "wce", true);
    }
    if (opts_has(opts, "serial")) {
        props.serial = opts_get_str(opts, "serial", NULL);
    }
    if (opts_has(opts, "product")) {
        props.product = opts_get_str(opts, "product", NULL);
    }
    if (opts_has(opts, "logical_block_size")) {
        props.logical_block_size =
            opts_get_uint(opts, "logical_block_size", 512);
    }
    if (opts_has(opts, "id")) {
        props.id = opts_get_str(opts, "id", NULL);
    }
    return scsi_disk_new(
               bus,
               opts_has(opts, "target") ? opts_get_uint(opts, "target", 0) : 0,
               opts_has(opts, "lun") ? opts_get_uint(opts, "lun", 0) : 0, blk,
               &props, errp) != NULL;
}
