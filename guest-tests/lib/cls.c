/* SPDX-License-Identifier: MIT */
/*
 * The class-driver-like block layer (cls.h): disks, asynchronous queues,
 * the synchronous path, splitting at the adapter's maximum transfer
 * length, and the retry policy. CDB layouts follow SBC-4: READ(16)/
 * WRITE(16) 5.16/5.41, SYNCHRONIZE CACHE(16) 5.28, UNMAP 5.32, READ
 * CAPACITY(16) 5.20 and (10) 5.19; INQUIRY is SPC-5 6.7.
 */
#include <string.h>
#include <storport.h>
#include "guest-tests/lib/cls.h"
#include "hw/core/ram.h"
#include "system/machine.h"
#include "system/event.h"

#define CLS_INQUIRY_LEN    96
#define CLS_UNMAP_LIST_LEN 24
/* Guest RAM a request needs besides its extension (SRB, sense, SG list). */
#define CLS_REQUEST_RAM 4096
/* ClsIo.prep_op when no command is kept for reuse: no ClsOp value. */
#define PREP_NONE 0xff

enum {
    IO_FREE,      /* on the queue's free list */
    IO_HELD,      /* the caller has it, not submitted */
    IO_PORT,      /* an SRB of it is in the port */
    IO_COMPLETED, /* on the done list, not yet looked at */
    IO_DELAYED,   /* waiting for a retry time */
    IO_REJECTED,  /* on the done list, refused before sending */
};

struct ClsQueue {
    ClsDisk *disk;
    unsigned depth;
    ClsIo *ios;
    ClsIo *free_head;
    ClsIo *done_head, *done_tail;
    ClsIo *delayed;       /* sorted by retry_at */
    uint32_t buf_bytes;   /* size of each I/O's own buffer */
    unsigned outstanding; /* submitted, not yet returned to the caller */
    GuestEvent ev;        /* a completion was linked */
};

static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* One byte-swapped store each: these build every I/O's CDB. */
static inline void put_be32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, sizeof(v));
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---- retry policy ---- */

void cls_retry_defaults(ClsRetryPolicy *p)
{
    memset(p, 0, sizeof(*p));
    p->enabled = true;
    /* classpnp's usual budget is four retries; a unit becoming ready and
     * a busy target get longer, spaced out by the delays. */
    p->max[CLS_RETRY_UNIT_ATTENTION] = 4;
    p->max[CLS_RETRY_NOT_READY] = 20;
    p->max[CLS_RETRY_SRB_BUSY] = 20;
    p->max[CLS_RETRY_SCSI_BUSY] = 20;
    p->max[CLS_RETRY_QUEUE_FULL] = 20;
    p->max[CLS_RETRY_ABORTED] = 4;
    p->max[CLS_RETRY_BUS_RESET] = 4;
    p->max[CLS_RETRY_TIMEOUT] = 2;
    p->not_ready_delay_ns = 100 * NS_PER_MS;
    p->busy_delay_ns = 10 * NS_PER_MS;
}

void cls_set_retry(ClsDisk *d, bool enabled)
{
    d->retry.enabled = enabled;
}

/* ---- queues ---- */

/*
 * Host-side objects of a program a machine stop interrupted: the program
 * never reaches its cleanup, so the machine's teardown frees their host
 * memory. It runs after the port and guest RAM are gone, so it frees only
 * what lives on the host heap.
 */
static GHashTable *live_queues; /* ClsQueue* */
static GHashTable *live_disks;  /* ClsDisk* */

static void live_release(void *opaque)
{
    GHashTableIter it;
    gpointer k;

    if (live_queues) {
        g_hash_table_iter_init(&it, live_queues);
        while (g_hash_table_iter_next(&it, &k, NULL)) {
            ClsQueue *q = k;
            g_free(q->ios);
            g_free(q);
        }
        g_hash_table_destroy(live_queues);
    }
    if (live_disks) {
        g_hash_table_iter_init(&it, live_disks);
        while (g_hash_table_iter_next(&it, &k, NULL)) {
            g_free(k);
        }
        g_hash_table_destroy(live_disks);
    }
    live_queues = live_disks = NULL;
}

static void live_track(GHashTable **table, void *p)
{
    if (!live_queues && !live_disks) {
        machine_add_cleanup(live_release, NULL);
    }
    if (!*table) {
        *table = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    g_hash_table_add(*table, p);
}

static void live_forget(GHashTable *table, void *p)
{
    if (table) {
        g_hash_table_remove(table, p);
    }
}

ClsQueue *cls_queue_new(ClsDisk *d, unsigned depth, uint32_t buf_bytes)
{
    ClsQueue *q;
    RamStats rs;
    uint64_t ext = port_lun_srb_extension_size(d->lu);

    g_assert(depth > 0);
    q = g_new0(ClsQueue, 1);
    q->disk = d;
    q->depth = depth;
    q->buf_bytes = buf_bytes;
    q->ios = g_new0(ClsIo, depth);
    guest_event_init(&q->ev, "cls-queue", true);
    for (unsigned i = 0; i < depth; i++) {
        ClsIo *io = &q->ios[i];
        io->q = q;
        io->state = IO_FREE;
        io->prep_op = PREP_NONE;
        io->unmap_list = ram_alloc(CLS_UNMAP_LIST_LEN, 16, 0, "cls-unmap");
        if (buf_bytes) {
            io->own_buf =
                ram_alloc(buf_bytes, GUEST_PAGE_SIZE, 0, "cls-buffer");
        }
        if (!io->unmap_list || (buf_bytes && !io->own_buf)) {
            goto fail;
        }
        io->buf = io->own_buf;
    }
    /* The port cannot fail a request allocation gracefully: make sure
     * its SRBs, sense buffers and extensions will fit first. */
    ram_stats(&rs);
    if (rs.largest_free < (uint64_t)depth * (CLS_REQUEST_RAM + ext)) {
        goto fail;
    }
    for (unsigned i = depth; i > 0; i--) {
        ClsIo *io = &q->ios[i - 1];
        io->req = port_request_new(d->lu);
        io->next = q->free_head;
        q->free_head = io;
    }
    live_track(&live_queues, q);
    return q;

fail:
    for (unsigned i = 0; i < depth; i++) {
        if (q->ios[i].unmap_list) {
            ram_free(q->ios[i].unmap_list);
        }
        if (q->ios[i].own_buf) {
            ram_free(q->ios[i].own_buf);
        }
    }
    g_free(q->ios);
    g_free(q);
    return NULL;
}

void cls_queue_free(ClsQueue *q)
{
    if (!q) {
        return;
    }
    g_assert(q->outstanding == 0);
    live_forget(live_queues, q);
    for (unsigned i = 0; i < q->depth; i++) {
        ClsIo *io = &q->ios[i];
        port_request_free(io->req);
        ram_free(io->unmap_list);
        if (io->own_buf) {
            ram_free(io->own_buf);
        }
    }
    g_free(q->ios);
    g_free(q);
}

ClsDisk *cls_queue_disk(const ClsQueue *q)
{
    return q->disk;
}

unsigned cls_queue_depth(const ClsQueue *q)
{
    return q->depth;
}

unsigned cls_queue_outstanding(const ClsQueue *q)
{
    return q->outstanding;
}

ClsIo *cls_queue_io(ClsQueue *q, unsigned i)
{
    g_assert(i < q->depth);
    return &q->ios[i];
}

ClsIo *cls_io_get(ClsQueue *q)
{
    ClsIo *io = q->free_head;

    if (io) {
        q->free_head = io->next;
        io->next = NULL;
        io->state = IO_HELD;
    }
    return io;
}

void cls_io_put(ClsIo *io)
{
    ClsQueue *q = io->q;

    g_assert(io->state == IO_HELD || io->state == IO_FREE);
    if (io->state == IO_FREE) {
        return;
    }
    io->state = IO_FREE;
    io->next = q->free_head;
    q->free_head = io;
}

void cls_io_set_flush(ClsIo *io)
{
    io->op = CLS_FLUSH;
    io->lba = 0;
    io->blocks = 0;
}

void cls_io_set_unmap(ClsIo *io, uint64_t lba, uint32_t blocks)
{
    io->op = CLS_UNMAP;
    io->lba = lba;
    io->blocks = blocks;
}

void cls_io_set_raw(ClsIo *io, const uint8_t *cdb, unsigned cdb_len, void *buf,
                    uint32_t len, PortXfer dir, unsigned timeout_s)
{
    io->op = CLS_RAW;
    io->cdb_len = (uint8_t)MIN(cdb_len, sizeof(io->cdb));
    memcpy(io->cdb, cdb, io->cdb_len);
    io->buf = buf;
    io->raw_len = len;
    io->raw_dir = dir;
    io->timeout_s = timeout_s;
}

/* ---- sending ---- */

uint32_t cls_split_bytes(const ClsDisk *d)
{
    uint32_t bs = d->block_size ? d->block_size : 512;
    uint32_t max = d->max_transfer;

    if (!max) {
        return 0;
    }
    return max < bs ? bs : max - max % bs;
}

static uint32_t chunk_limit_blocks(const ClsDisk *d)
{
    uint32_t split = cls_split_bytes(d);
    uint32_t n = split ? split / d->block_size : UINT32_MAX;

    if (d->use_cdb10) {
        n = MIN(n, 0xffffu);
    }
    return MAX(n, 1u);
}

static void link_done(ClsQueue *q, ClsIo *io)
{
    io->next = NULL;
    if (q->done_tail) {
        q->done_tail->next = io;
    } else {
        q->done_head = io;
    }
    q->done_tail = io;
}

/* DISPATCH_LEVEL, on the submitting vCPU: record and hand to the thread. */
static void on_port_done(PortRequest *req, void *opaque)
{
    ClsIo *io = opaque;
    ClsQueue *q = io->q;

    io->done_ns = vclock_now();
    io->done_cpu = cpu_index();
    io->state = IO_COMPLETED;
    link_done(q, io);
    guest_event_set(&q->ev);
}

static unsigned build_rw(const ClsDisk *d, uint8_t *cdb, bool write,
                         uint64_t lba, uint32_t n)
{
    if (d->use_cdb10) {
        memset(cdb, 0, 10);
        cdb[0] = write ? SCSIOP_WRITE : SCSIOP_READ;
        put_be32(cdb + 2, (uint32_t)lba);
        put_be16(cdb + 7, (uint16_t)n);
        return 10;
    }
    memset(cdb, 0, 16);
    cdb[0] = write ? SCSIOP_WRITE16 : SCSIOP_READ16;
    put_be64(cdb + 2, lba);
    put_be32(cdb + 10, n);
    return 16;
}

static void send_chunk(ClsIo *io)
{
    ClsQueue *q = io->q;
    ClsDisk *d = q->disk;
    uint8_t cdb[16];
    unsigned len = 0;
    void *buf = NULL;
    uint32_t bytes = 0;
    PortXfer dir = PORT_XFER_NONE;
    unsigned timeout = 0;

    io->clean_key = PORT_CLEAN_NEVER;
    if (io->replace_req) {
        /* A timed-out request may have been abandoned by the port, which
         * keeps it to catch a late completion: never reuse it. */
        port_request_free(io->req);
        io->req = port_request_new(d->lu);
        io->replace_req = false;
    }
    switch (io->op) {
    case CLS_READ:
    case CLS_WRITE: {
        uint64_t lba = io->lba + io->done_blocks;
        uint32_t n = io->blocks - io->done_blocks;
        /* What is left fits one command (the common case: no split) when
         * it is within the transfer limit and a (10) CDB's count; only
         * then is the limit not worked out. */
        if ((d->max_transfer &&
             (uint64_t)n * d->block_size > d->max_transfer) ||
            n > 0xffffu) {
            n = MIN(n, chunk_limit_blocks(d));
        }
        io->chunk_blocks = n;
        len = build_rw(d, cdb, io->op == CLS_WRITE, lba, n);
        buf = (uint8_t *)io->buf + (size_t)io->done_blocks * d->block_size;
        bytes = n * d->block_size;
        dir = io->op == CLS_WRITE ? PORT_XFER_OUT : PORT_XFER_IN;
        if (io->done_blocks + n == io->blocks) {
            io->clean_key = port_clean_key(bytes);
        }
        if (n == io->blocks && len == 16) {
            /* The whole I/O in one (16) command: what rw_reusable()
             * lets the next I/O of this size on this buffer send again. */
            memcpy(io->prep_cdb, cdb, 16);
            io->prep_op = (uint8_t)io->op;
            io->prep_blocks = n;
            io->prep_buf = io->buf;
            io->prep_bytes = bytes;
            io->prep_clean_key = io->clean_key;
            io->prep_lba_max = d->blocks - n;
            io->prep_dir = dir;
        }
        break;
    }
    case CLS_FLUSH:
        /* LBA 0, 0 blocks: the whole medium. */
        if (d->sync_cache10) {
            memset(cdb, 0, 10);
            cdb[0] = SCSIOP_SYNCHRONIZE_CACHE;
            len = 10;
        } else {
            memset(cdb, 0, 16);
            cdb[0] = SCSIOP_SYNCHRONIZE_CACHE16;
            len = 16;
        }
        break;
    case CLS_UNMAP: {
        uint8_t *l = io->unmap_list;
        memset(cdb, 0, 10);
        cdb[0] = SCSIOP_UNMAP;
        put_be16(cdb + 7, CLS_UNMAP_LIST_LEN);
        memset(l, 0, CLS_UNMAP_LIST_LEN);
        put_be16(l, CLS_UNMAP_LIST_LEN - 2);
        put_be16(l + 2, 16);
        put_be64(l + 8, io->lba);
        put_be32(l + 16, io->blocks);
        len = 10;
        buf = l;
        bytes = CLS_UNMAP_LIST_LEN;
        dir = PORT_XFER_OUT;
        break;
    }
    case CLS_RAW:
        len = io->cdb_len;
        memcpy(cdb, io->cdb, len);
        buf = io->raw_len ? io->buf : NULL;
        bytes = io->raw_len;
        dir = io->raw_dir;
        timeout = io->timeout_s;
        break;
    }
    port_request_scsi(io->req, cdb, len, buf, bytes, dir, timeout);
    io->state = IO_PORT;
    d->count.srbs++;
    port_submit(io->req, on_port_done, io);
}

/* Whether @bytes at @buf are guest RAM the port can map. */
static bool buf_valid(const ClsIo *io, uint64_t bytes)
{
    /* The queue's own buffer is guest RAM by construction: no lookup. */
    if (io->buf == io->own_buf && bytes <= io->q->buf_bytes) {
        return true;
    }
    return io->buf && ram_contains(io->buf, bytes);
}

static bool io_valid(const ClsIo *io)
{
    const ClsDisk *d = io->q->disk;
    uint64_t bytes;

    switch (io->op) {
    case CLS_READ:
    case CLS_WRITE:
        bytes = (uint64_t)io->blocks * d->block_size;
        return d->blocks && io->blocks && io->lba < d->blocks &&
               io->blocks <= d->blocks - io->lba && buf_valid(io, bytes);
    case CLS_UNMAP:
        return d->blocks && io->blocks && io->lba < d->blocks &&
               io->blocks <= d->blocks - io->lba;
    case CLS_FLUSH:
        return true;
    case CLS_RAW:
        if (!io->cdb_len || (io->raw_dir == PORT_XFER_NONE) != !io->raw_len) {
            return false;
        }
        return !io->raw_len || (io->buf && ram_contains(io->buf, io->raw_len));
    }
    return false;
}

/*
 * Whether @io is a READ/WRITE that send_chunk() sent whole before with
 * the same op, length and buffer, and its range is on the disk: then the
 * command kept from that time, with the new LBA, is what send_chunk()
 * would build, and the length and buffer checks it passed still hold
 * (the block size, capacity and transfer limit are fixed once the disk is
 * open, so io_valid()'s range check is one comparison with the last LBA
 * that length may start at).
 */
static inline bool rw_reusable(const ClsIo *io, const ClsDisk *d)
{
    return io->op == io->prep_op && io->blocks == io->prep_blocks &&
           io->buf == io->prep_buf && !d->use_cdb10 &&
           io->lba <= io->prep_lba_max;
}

/* send_chunk() for an I/O rw_reusable() accepted: no split, no choice of
 * CDB, no new request. */
static inline void send_reused(ClsIo *io, ClsDisk *d)
{
    put_be64(io->prep_cdb + 2, io->lba);
    io->chunk_blocks = io->blocks;
    io->clean_key = io->prep_clean_key;
    port_request_scsi(io->req, io->prep_cdb, 16, io->buf, io->prep_bytes,
                      io->prep_dir, 0);
    io->state = IO_PORT;
    d->count.srbs++;
    port_submit(io->req, on_port_done, io);
}

/* A chunk's first attempt has used no retries: the memset only after an
 * attempt that did, which nearly no I/O has. */
static inline void tries_reset(ClsIo *io)
{
    if (io->tries_used) {
        memset(io->tries, 0, sizeof(io->tries));
        io->tries_used = false;
    }
}

/* What cls_sense_parse() says of no sense, without the call: the case
 * of nearly every attempt. */
static inline void result_no_sense(ClsResult *r)
{
    r->sense_len = 0;
    r->sense_key = r->asc = r->ascq = 0;
    r->sense_valid = false;
}

void cls_submit(ClsIo *io)
{
    ClsQueue *q = io->q;
    ClsResult *r = &io->res;

    g_assert(io->state == IO_HELD);
    /* Reset only what accumulates over attempts: every attempt's result
     * (read_result) sets the status fields and the sense length, and the
     * sense copy is sized by sense_len, so it needs no clearing; finish()
     * sets the status and each completion done_cpu (a rejection -1). */
    r->transferred = 0;
    r->retries = 0;
    tries_reset(io);
    io->done_blocks = 0;
    io->submit_ns = vclock_now();
    io->submit_cpu = cpu_index();
    q->outstanding++;
    if (rw_reusable(io, q->disk)) {
        send_reused(io, q->disk);
        return;
    }
    if (!io_valid(io)) {
        /* Never sent: no attempt sets the result. */
        r->srb_status = 0;
        r->scsi_status = 0;
        result_no_sense(r);
        r->status = CLS_ERR_PARAM;
        io->done_ns = io->submit_ns;
        io->done_cpu = -1;
        io->clean_key = PORT_CLEAN_NEVER;
        io->state = IO_REJECTED;
        link_done(q, io);
        return;
    }
    send_chunk(io);
}

/* ---- completion processing (thread context) ---- */

static void insert_delayed(ClsQueue *q, ClsIo *io)
{
    ClsIo **pp = &q->delayed;

    /* Equal times keep their arrival order: deterministic retries. */
    while (*pp && (*pp)->retry_at <= io->retry_at) {
        pp = &(*pp)->next;
    }
    io->next = *pp;
    *pp = io;
    io->state = IO_DELAYED;
}

static bool fallback_possible(const ClsIo *io)
{
    const ClsDisk *d = io->q->disk;

    switch (io->op) {
    case CLS_READ:
    case CLS_WRITE:
        return !d->use_cdb10 && io->lba + io->blocks <= 0x100000000ULL;
    case CLS_FLUSH:
        return !d->sync_cache10;
    default:
        return false;
    }
}

/* Why an attempt failed, as a retry cause; -1 when it is final. */
static int retry_cause(const ClsResult *r, uint64_t *delay,
                       const ClsRetryPolicy *p)
{
    *delay = 0;
    if (r->scsi_status == SCSISTAT_CHECK_CONDITION) {
        if (!r->sense_valid) {
            return -1;
        }
        switch (r->sense_key) {
        case SCSI_SENSE_UNIT_ATTENTION:
            return CLS_RETRY_UNIT_ATTENTION;
        case SCSI_SENSE_NOT_READY:
            /* Cause not reportable / becoming ready: it will be ready
             * soon. Manual intervention, no medium and the like will not. */
            if (r->asc == SCSI_ADSENSE_LUN_NOT_READY && r->ascq <= 0x01) {
                *delay = p->not_ready_delay_ns;
                return CLS_RETRY_NOT_READY;
            }
            return -1;
        case SCSI_SENSE_ABORTED_COMMAND:
            return CLS_RETRY_ABORTED;
        default:
            return -1;
        }
    }
    if (r->scsi_status == SCSISTAT_BUSY) {
        *delay = p->busy_delay_ns;
        return CLS_RETRY_SCSI_BUSY;
    }
    if (r->scsi_status == SCSISTAT_QUEUE_FULL) {
        *delay = p->busy_delay_ns;
        return CLS_RETRY_QUEUE_FULL;
    }
    switch (r->srb_status) {
    case SRB_STATUS_BUSY:
        *delay = p->busy_delay_ns;
        return CLS_RETRY_SRB_BUSY;
    case SRB_STATUS_BUS_RESET:
        return CLS_RETRY_BUS_RESET;
    case SRB_STATUS_TIMEOUT:
    case SRB_STATUS_COMMAND_TIMEOUT:
        return CLS_RETRY_TIMEOUT;
    case SRB_STATUS_ABORTED:
    case SRB_STATUS_REQUEST_FLUSHED:
        return CLS_RETRY_ABORTED;
    default:
        return -1;
    }
}

static bool is_invalid_opcode(const ClsResult *r)
{
    if (r->scsi_status == SCSISTAT_CHECK_CONDITION) {
        return r->sense_valid && r->sense_key == SCSI_SENSE_ILLEGAL_REQUEST &&
               r->asc == SCSI_ADSENSE_ILLEGAL_COMMAND;
    }
    return r->scsi_status == SCSISTAT_GOOD &&
           (r->srb_status == SRB_STATUS_INVALID_REQUEST ||
            r->srb_status == SRB_STATUS_BAD_FUNCTION);
}

static void read_result(ClsIo *io, uint32_t *xfer)
{
    ClsResult *r = &io->res;
    PortResults pr;

    port_request_results(io->req, &pr);
    r->srb_status = SRB_STATUS(pr.srb_status);
    r->scsi_status = pr.scsi_status;
    *xfer = pr.transferred;
    r->sense_len = MIN(pr.sense_len, (unsigned)CLS_SENSE_MAX);
    if (r->sense_len) {
        memcpy(r->sense, pr.sense, r->sense_len);
        r->sense_valid = cls_sense_parse(r->sense, r->sense_len, &r->sense_key,
                                         &r->asc, &r->ascq);
    } else {
        result_no_sense(r);
    }
    if (r->srb_status == SRB_STATUS_TIMEOUT ||
        r->srb_status == SRB_STATUS_COMMAND_TIMEOUT) {
        io->replace_req = true;
        /* send_chunk() replaces the request first. */
        io->prep_op = PREP_NONE;
    }
}

static bool finish(ClsQueue *q, ClsIo *io, ClsStatus st)
{
    io->res.status = st;
    q->disk->count.ios++;
    if (st != CLS_OK) {
        q->disk->count.errors++;
    }
    return true;
}

/* An attempt that counts as a success moved @xfer bytes: finish, or send
 * the next chunk. True when @io is finished. */
static inline bool attempt_good(ClsQueue *q, ClsIo *io, uint32_t xfer)
{
    ClsDisk *d = q->disk;

    io->res.transferred += xfer;
    if (io->op != CLS_READ && io->op != CLS_WRITE) {
        return finish(q, io, CLS_OK);
    }
    if (xfer < io->chunk_blocks * d->block_size) {
        return finish(q, io, CLS_ERR_SHORT);
    }
    io->done_blocks += io->chunk_blocks;
    if (io->done_blocks < io->blocks) {
        d->count.splits++;
        tries_reset(io);
        send_chunk(io);
        return false;
    }
    return finish(q, io, CLS_OK);
}

/*
 * An attempt that did not end in SUCCESS and GOOD: still a success, a
 * retry, or final. Out of line, so the common path through process()
 * does not carry its registers.
 */
static G_GNUC_NO_INLINE bool attempt_not_clean(ClsQueue *q, ClsIo *io,
                                               uint32_t xfer)
{
    ClsDisk *d = q->disk;
    ClsResult *r = &io->res;
    int cause;
    uint64_t delay;

    if (r->scsi_status == SCSISTAT_GOOD &&
        r->srb_status == SRB_STATUS_DATA_OVERRUN) {
        /* Windows reports an underrun as DATA_OVERRUN with the length
         * cut down; the length check decides. */
        return attempt_good(q, io, xfer);
    }
    if (r->scsi_status == SCSISTAT_CHECK_CONDITION && r->sense_valid &&
        r->sense_key == SCSI_SENSE_RECOVERED_ERROR) {
        d->count.recovered++;
        return attempt_good(q, io, xfer);
    }
    if (is_invalid_opcode(r) && fallback_possible(io)) {
        /* The device does not know the 16-byte CDB: use (10) from now on,
         * as a class driver does for a small disk. */
        if (io->op == CLS_FLUSH) {
            d->sync_cache10 = true;
        } else {
            d->use_cdb10 = true;
        }
        d->count.cdb10_fallbacks++;
        send_chunk(io);
        return false;
    }
    cause = retry_cause(r, &delay, &d->retry);
    if (cause >= 0 && d->retry.enabled) {
        if (io->tries[cause] < d->retry.max[cause]) {
            io->tries[cause]++;
            io->tries_used = true;
            r->retries++;
            d->count.retries[cause]++;
            if (delay) {
                io->retry_at = vclock_now() + delay;
                insert_delayed(q, io);
            } else {
                send_chunk(io);
            }
            return false;
        }
        d->count.exhausted++;
    }
    r->transferred += xfer;
    if (r->scsi_status == SCSISTAT_CHECK_CONDITION) {
        return finish(q, io, CLS_ERR_CHECK);
    }
    if (r->scsi_status != SCSISTAT_GOOD) {
        return finish(q, io, CLS_ERR_SCSI);
    }
    return finish(q, io, CLS_ERR_SRB);
}

/* One attempt came back: retry, go on with the next chunk, or finish.
 * True when @io is finished. */
static bool process(ClsQueue *q, ClsIo *io)
{
    ClsResult *r = &io->res;
    uint32_t xfer;

    read_result(io, &xfer);
    if (r->srb_status == SRB_STATUS_SUCCESS &&
        r->scsi_status == SCSISTAT_GOOD) {
        return attempt_good(q, io, xfer);
    }
    return attempt_not_clean(q, io, xfer);
}

/* Take the done list's head off it. */
static inline void done_unlink_head(ClsQueue *q)
{
    ClsIo *io = q->done_head;

    q->done_head = io->next;
    if (!q->done_head) {
        q->done_tail = NULL;
    }
}

/* A finished I/O goes back to the caller. */
static inline void hand_back(ClsQueue *q, ClsIo *io)
{
    io->state = IO_HELD;
    q->outstanding--;
}

static ClsIo *next_finished(ClsQueue *q, bool block)
{
    for (;;) {
        ClsIo *io = q->done_head;

        if (io) {
            bool done;
            done_unlink_head(q);
            done = io->state == IO_REJECTED || process(q, io);
            if (done) {
                if (io->state == IO_REJECTED) {
                    finish(q, io, CLS_ERR_PARAM);
                }
                hand_back(q, io);
                return io;
            }
            continue;
        }
        if (q->delayed && q->delayed->retry_at <= vclock_now()) {
            io = q->delayed;
            q->delayed = io->next;
            io->next = NULL;
            send_chunk(io);
            continue;
        }
        if (!q->outstanding || !block) {
            return NULL;
        }
        if (q->delayed) {
            guest_event_wait_timeout(&q->ev,
                                     q->delayed->retry_at - vclock_now());
        } else {
            guest_event_wait(&q->ev);
        }
    }
}

/*
 * The I/O at the head of the done list if its attempt was the last one
 * and clean: a READ/WRITE whose last chunk ended in SUCCESS and GOOD
 * without sense and moved all it asked. Its clean_key says all that but
 * the port's part in one comparison (it is PORT_CLEAN_NEVER for any other
 * attempt, and for a rejected I/O, whose request did not take part). It
 * gets what read_result(), attempt_good() and next_finished() would give
 * it, with no call to the retry and split logic around them; but
 * done_blocks, which only those read and cls_submit() resets, is left as
 * it is. NULL, with nothing changed, for anything else.
 */
static inline ClsIo *take_clean(ClsQueue *q)
{
    ClsIo *io = q->done_head;
    ClsResult *r;
    uint32_t transferred;

    if (!io || !port_request_clean_covers(io->req, io->clean_key)) {
        return NULL;
    }
    port_request_finished_clean(io->req, &transferred);
    done_unlink_head(q);
    r = &io->res;
    r->srb_status = SRB_STATUS_SUCCESS;
    r->scsi_status = SCSISTAT_GOOD;
    result_no_sense(r);
    r->transferred += transferred;
    finish(q, io, CLS_OK);
    hand_back(q, io);
    return io;
}

ClsIo *cls_wait(ClsQueue *q)
{
    ClsIo *io = take_clean(q);

    return io ? io : next_finished(q, true);
}

ClsIo *cls_poll(ClsQueue *q)
{
    ClsIo *io = take_clean(q);

    return io ? io : next_finished(q, false);
}

/* ---- synchronous path ---- */

typedef struct SyncCtx {
    ClsQueue *q;
    bool temporary;
} SyncCtx;

static bool sync_begin(ClsDisk *d, SyncCtx *s)
{
    if (!d->sync_busy) {
        if (!d->sync_q) {
            d->sync_q = cls_queue_new(d, 1, 0);
        }
        s->q = d->sync_q;
        s->temporary = false;
        if (s->q) {
            d->sync_busy = true;
        }
    } else {
        /* Another thread is in the synchronous path of this disk. */
        s->q = cls_queue_new(d, 1, 0);
        s->temporary = true;
    }
    return s->q != NULL;
}

static bool sync_end(ClsDisk *d, SyncCtx *s, ClsIo *io, ClsResult *res)
{
    bool ok = io->res.status == CLS_OK;

    if (res) {
        *res = io->res;
    }
    cls_io_put(io);
    if (s->temporary) {
        cls_queue_free(s->q);
    } else {
        d->sync_busy = false;
    }
    return ok;
}

static void no_memory(ClsResult *res)
{
    if (res) {
        memset(res, 0, sizeof(*res));
        res->status = CLS_ERR_PARAM;
    }
}

#define SYNC_RUN(d, res, setup)                                                \
    do {                                                                       \
        SyncCtx s_;                                                            \
        ClsIo *io_;                                                            \
        if (!sync_begin((d), &s_)) {                                           \
            no_memory(res);                                                    \
            return false;                                                      \
        }                                                                      \
        io_ = cls_io_get(s_.q);                                                \
        setup;                                                                 \
        cls_submit(io_);                                                       \
        io_ = cls_wait(s_.q);                                                  \
        return sync_end((d), &s_, io_, (res));                                 \
    } while (0)

bool cls_read(ClsDisk *d, uint64_t lba, uint32_t blocks, void *buf,
              ClsResult *res)
{
    SYNC_RUN(d, res, cls_io_set_rw(io_, CLS_READ, lba, blocks, buf));
}

bool cls_write(ClsDisk *d, uint64_t lba, uint32_t blocks, void *buf,
               ClsResult *res)
{
    SYNC_RUN(d, res, cls_io_set_rw(io_, CLS_WRITE, lba, blocks, buf));
}

bool cls_flush(ClsDisk *d, ClsResult *res)
{
    SYNC_RUN(d, res, cls_io_set_flush(io_));
}

bool cls_unmap(ClsDisk *d, uint64_t lba, uint32_t blocks, ClsResult *res)
{
    SYNC_RUN(d, res, cls_io_set_unmap(io_, lba, blocks));
}

bool cls_raw(ClsDisk *d, const uint8_t *cdb, unsigned cdb_len, void *buf,
             uint32_t len, PortXfer dir, unsigned timeout_s, ClsResult *res)
{
    SYNC_RUN(d, res,
             cls_io_set_raw(io_, cdb, cdb_len, buf, len, dir, timeout_s));
}

/* ---- disks ---- */

unsigned cls_lun_count(void)
{
    return port_lun_count();
}

static void copy_ascii(char *dst, const uint8_t *src, size_t n)
{
    size_t len = n;

    for (size_t i = 0; i < n; i++) {
        dst[i] = g_ascii_isprint(src[i]) ? (char)src[i] : '.';
    }
    /* INQUIRY pads its text fields with spaces. */
    while (len && dst[len - 1] == ' ') {
        len--;
    }
    dst[len] = '\0';
}

static void read_inventory(ClsDisk *d, const uint8_t *inq)
{
    d->peripheral_type = inq[0] & 0x1f;
    d->qualifier = inq[0] >> 5;
    copy_ascii(d->vendor, inq + 8, 8);
    copy_ascii(d->product, inq + 16, 16);
    copy_ascii(d->revision, inq + 32, 4);
}

static bool read_capacity(ClsDisk *d, uint8_t *buf)
{
    uint8_t cdb[16] = {0};
    ClsResult r;

    cdb[0] = SCSIOP_READ_CAPACITY16;
    cdb[1] = 0x10; /* SERVICE ACTION: READ CAPACITY(16) */
    put_be32(cdb + 10, 32);
    memset(buf, 0, 32);
    if (cls_raw(d, cdb, 16, buf, 32, PORT_XFER_IN, 0, &r) &&
        r.transferred >= 12) {
        uint64_t last = get_be64(buf);
        d->block_size = get_be32(buf + 8);
        d->blocks = last + 1;
        d->capacity16 = true;
        if (r.transferred >= 15) {
            d->lbpme = (buf[14] & 0x80) != 0;
            d->lbprz = (buf[14] & 0x40) != 0;
        }
    } else {
        uint8_t cdb10[10] = {SCSIOP_READ_CAPACITY};
        memset(buf, 0, 8);
        if (!cls_raw(d, cdb10, 10, buf, 8, PORT_XFER_IN, 0, &r) ||
            r.transferred < 8) {
            if (r.status == CLS_OK) {
                r.status = CLS_ERR_SHORT;
            }
            d->capacity_error = r;
            return false;
        }
        /* FFFFFFFFh means "too big for (10)", and (16) did not answer:
         * use what fits. */
        d->blocks = (uint64_t)get_be32(buf) + 1;
        d->block_size = get_be32(buf + 4);
    }
    if (!d->block_size || d->block_size % 512 || d->block_size > 65536) {
        memset(&d->capacity_error, 0, sizeof(d->capacity_error));
        d->capacity_error.status = CLS_ERR_PARAM;
        d->blocks = 0;
        return false;
    }
    return true;
}

ClsDisk *cls_attach(unsigned index)
{
    PortLu *lu = port_lun_at(index);
    ClsDisk *d;

    if (!lu) {
        return NULL;
    }
    d = g_new0(ClsDisk, 1);
    live_track(&live_disks, d);
    d->lu = lu;
    d->index = index;
    d->adapter = port_lun_adapter(lu);
    port_lun_address(lu, &d->path, &d->target, &d->lun);
    /* The one limit the port's upper edge does not export. */
    d->max_transfer = port_lun_max_transfer(lu);
    cls_retry_defaults(&d->retry);
    read_inventory(d, port_lun_inquiry(lu));
    return d;
}

ClsDisk *cls_open(unsigned index)
{
    ClsDisk *d = cls_attach(index);
    uint8_t *buf;
    uint8_t cdb[6] = {SCSIOP_INQUIRY, 0, 0, 0, CLS_INQUIRY_LEN, 0};
    ClsResult r;

    if (!d) {
        return NULL;
    }

    buf = ram_alloc(CLS_INQUIRY_LEN, 16, 0, "cls-inventory");
    if (!buf) {
        d->capacity_error.status = CLS_ERR_PARAM;
        return d;
    }
    /* Ask again, as a class driver does, rather than trusting the copy
     * the port kept from enumeration. */
    if (cls_raw(d, cdb, 6, buf, CLS_INQUIRY_LEN, PORT_XFER_IN, 0, &r) &&
        r.transferred >= 36) {
        read_inventory(d, buf);
    }
    read_capacity(d, buf);
    ram_free(buf);
    return d;
}

void cls_close(ClsDisk *d)
{
    if (!d) {
        return;
    }
    g_assert(!d->sync_busy);
    cls_queue_free(d->sync_q);
    live_forget(live_disks, d);
    g_free(d);
}
