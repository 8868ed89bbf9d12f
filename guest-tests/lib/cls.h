/* SPDX-License-Identifier: MIT */
/*
 * A small class-driver-like block layer over the port's upper edge
 * (port/port-api.h), in the role Windows' disk.sys/classpnp play:
 *
 *  - ClsDisk: one logical unit, with its inventory read the way a class
 *    driver reads it (INQUIRY, READ CAPACITY(16) falling back to (10)) and
 *    the adapter's maximum transfer length, at which I/O is split.
 *  - ClsQueue/ClsIo: asynchronous I/O. A queue preallocates its requests
 *    (and, if asked, one data buffer each) in guest RAM, so the I/O path
 *    allocates nothing. Requests are SRBs built with READ/WRITE(16),
 *    SYNCHRONIZE CACHE(16) and UNMAP; a device that refuses the 16-byte
 *    CDBs gets the 10-byte ones from then on.
 *  - Synchronous read/write/flush/unmap and raw CDB pass-through (data and
 *    sense back), built on a queue of depth one.
 *  - A retry policy like a class driver's, with counters by cause:
 *      UNIT ATTENTION (06/xx)                 retried at once
 *      NOT READY, becoming ready (02/04/00-01) retried after a delay
 *      SRB_STATUS_BUSY, SCSI BUSY, QUEUE FULL  retried after a delay
 *      ABORTED COMMAND (0B/xx), bus reset,
 *      time-out, aborted/flushed SRBs          retried at once, a few times
 *    Anything else (ILLEGAL REQUEST, MEDIUM ERROR, no device...) is final.
 *    RECOVERED ERROR (01/xx) counts as success. A program can switch the
 *    policy off (retry=off) to see every error as the device reported it.
 *
 * Threading: a queue belongs to one guest thread, which submits and waits;
 * the port completes on the submitting vCPU at DISPATCH_LEVEL, where the
 * queue only links the I/O onto its done list and wakes the thread. Guest
 * code changes vCPU only at yield points, so the list needs no lock.
 * Retries and the next chunk of a split I/O are issued from cls_wait() in
 * the thread, never from the completion callback.
 */
#ifndef GUEST_TESTS_LIB_CLS_H
#define GUEST_TESTS_LIB_CLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "port/port-api.h"
#include "system/cpu.h"

#define CLS_SENSE_MAX 255

typedef enum ClsStatus {
    CLS_OK,
    CLS_ERR_CHECK, /* CHECK CONDITION: sense_key/asc/ascq say why */
    CLS_ERR_SCSI,  /* another SCSI status (BUSY, QUEUE FULL, ...) */
    CLS_ERR_SRB,   /* the port or miniport failed the SRB: srb_status */
    CLS_ERR_SHORT, /* success, but fewer bytes moved than asked */
    CLS_ERR_PARAM, /* refused before sending: range, buffer, length */
} ClsStatus;

typedef struct ClsResult {
    ClsStatus status;
    uint8_t srb_status; /* SRB_STATUS() of the last attempt (no flags) */
    uint8_t scsi_status;
    uint8_t sense_key, asc, ascq;
    bool sense_valid;
    uint32_t transferred; /* bytes, summed over the chunks */
    unsigned retries;     /* retries this I/O needed */
    unsigned sense_len;
    uint8_t sense[CLS_SENSE_MAX];
} ClsResult;

typedef enum ClsRetryCause {
    CLS_RETRY_UNIT_ATTENTION,
    CLS_RETRY_NOT_READY,
    CLS_RETRY_SRB_BUSY,
    CLS_RETRY_SCSI_BUSY,
    CLS_RETRY_QUEUE_FULL,
    CLS_RETRY_ABORTED,
    CLS_RETRY_BUS_RESET,
    CLS_RETRY_TIMEOUT,
    CLS_RETRY_CAUSES
} ClsRetryCause;

typedef struct ClsRetryPolicy {
    bool enabled;
    unsigned max[CLS_RETRY_CAUSES]; /* retries per attempt of one chunk */
    uint64_t not_ready_delay_ns;
    uint64_t busy_delay_ns;
} ClsRetryPolicy;

typedef struct ClsCounters {
    uint64_t ios;    /* I/Os finished */
    uint64_t errors; /* finished with an error */
    uint64_t srbs;   /* SRBs sent, retries included */
    uint64_t splits; /* extra SRBs from splitting */
    uint64_t retries[CLS_RETRY_CAUSES];
    uint64_t exhausted;       /* gave up: the cause's limit hit */
    uint64_t recovered;       /* RECOVERED ERROR taken as success */
    uint64_t cdb10_fallbacks; /* 16-byte CDB refused, 10 used */
} ClsCounters;

typedef struct ClsQueue ClsQueue;

typedef struct ClsDisk {
    PortLu *lu;
    unsigned index; /* port_lun_at() index */
    unsigned adapter, path, target, lun;
    uint8_t peripheral_type; /* INQUIRY byte 0, bits 4..0 */
    uint8_t qualifier;       /* INQUIRY byte 0, bits 7..5 */
    char vendor[9], product[17], revision[5];
    uint64_t blocks; /* capacity; 0 if READ CAPACITY failed */
    uint32_t block_size;
    bool capacity16;          /* READ CAPACITY(16) answered */
    bool lbpme, lbprz;        /* thin provisioning; unmapped read 0 */
    ClsResult capacity_error; /* why READ CAPACITY failed */
    uint32_t max_transfer;    /* bytes per SRB; 0 = no limit */
    bool use_cdb10;           /* the device refused 16-byte CDBs */
    bool sync_cache10;
    ClsRetryPolicy retry;
    ClsCounters count;
    ClsQueue *sync_q; /* private: the synchronous path */
    bool sync_busy;
} ClsDisk;

typedef enum ClsOp {
    CLS_READ,
    CLS_WRITE,
    CLS_FLUSH,
    CLS_UNMAP,
    CLS_RAW,
} ClsOp;

typedef struct ClsIo ClsIo;

struct ClsIo {
    /* Set by the caller (cls_io_set_rw() and friends). */
    ClsOp op;
    uint64_t lba;
    uint32_t blocks;
    void *buf;    /* guest RAM (ram_alloc) */
    void *user;   /* the caller's, untouched */
    uint64_t tag; /* the caller's, untouched */

    /* Results, valid when cls_wait() returned the I/O. */
    ClsResult res;
    uint64_t submit_ns; /* virtual time at cls_submit() */
    uint64_t done_ns;   /* virtual time of the final completion */
    int submit_cpu;     /* vCPU that submitted */
    int done_cpu;       /* vCPU the port completed on */

    /* Raw pass-through (CLS_RAW). */
    uint8_t cdb[16];
    uint8_t cdb_len;
    uint32_t raw_len;
    PortXfer raw_dir;
    unsigned timeout_s; /* 0: the port's default */

    /* Private to cls.c. */
    ClsQueue *q;
    PortRequest *req;
    void *own_buf;       /* the queue's buffer for this I/O, or NULL */
    uint8_t *unmap_list; /* guest RAM, the UNMAP parameter list */
    uint32_t done_blocks;
    uint32_t chunk_blocks;
    /* port_clean_key() of the attempt in flight when it is the I/O's last
     * READ/WRITE chunk, else PORT_CLEAN_NEVER: what cls_wait() needs to
     * know the I/O finished with it. */
    uint64_t clean_key;
    unsigned tries[CLS_RETRY_CAUSES];
    bool tries_used; /* some tries[] may be non-zero */
    uint64_t retry_at;
    uint8_t state;
    bool replace_req;
    ClsIo *next;
    /* The READ(16)/WRITE(16) last sent whole for this I/O: sent again
     * with only its LBA changed while the op, length and buffer stay the
     * same (see rw_reusable()); prep_op is no ClsOp while there is none. */
    uint8_t prep_op;
    uint8_t prep_cdb[16];
    PortXfer prep_dir;
    uint32_t prep_blocks;
    uint32_t prep_bytes;
    uint64_t prep_clean_key;
    uint64_t prep_lba_max; /* the last LBA it may start at on the disk */
    void *prep_buf;
};

/* ---- disks ---- */

unsigned cls_lun_count(void);
/*
 * Open logical unit @index (port enumeration order): INQUIRY, READ
 * CAPACITY(16)/(10), the adapter's limits, the default retry policy.
 * PASSIVE_LEVEL. NULL only when @index is out of range; a unit whose
 * capacity could not be read has blocks == 0 and capacity_error set.
 */
ClsDisk *cls_open(unsigned index);
/* Like cls_open() but sends nothing: the inventory is the port's copy
 * from enumeration and the capacity is unknown (for raw pass-through). */
ClsDisk *cls_attach(unsigned index);
void cls_close(ClsDisk *d);
void cls_retry_defaults(ClsRetryPolicy *p);
void cls_set_retry(ClsDisk *d, bool enabled);
/* Bytes of data one SRB may carry for @d (the split size). */
uint32_t cls_split_bytes(const ClsDisk *d);

/* ---- asynchronous I/O ---- */

/*
 * @depth I/Os; with @buf_bytes non-zero each gets its own guest-RAM
 * buffer of that size (io->buf points to it). NULL when guest RAM is too
 * small.
 */
ClsQueue *cls_queue_new(ClsDisk *d, unsigned depth, uint32_t buf_bytes);
/* Every I/O must be idle (returned by cls_wait() or never submitted). */
void cls_queue_free(ClsQueue *q);
ClsDisk *cls_queue_disk(const ClsQueue *q);
unsigned cls_queue_depth(const ClsQueue *q);
/* I/Os submitted and not yet returned by cls_wait()/cls_poll(). */
unsigned cls_queue_outstanding(const ClsQueue *q);
/* The @i-th I/O of the queue (for callers that keep their own order). */
ClsIo *cls_queue_io(ClsQueue *q, unsigned i);

/* An idle I/O, or NULL when all are in use; cls_io_put() gives it back. */
ClsIo *cls_io_get(ClsQueue *q);
void cls_io_put(ClsIo *io);

/* Inline: four stores, done for every I/O a workload issues. */
static inline void cls_io_set_rw(ClsIo *io, ClsOp op, uint64_t lba,
                                 uint32_t blocks, void *buf)
{
    g_assert(op == CLS_READ || op == CLS_WRITE);
    io->op = op;
    io->lba = lba;
    io->blocks = blocks;
    io->buf = buf;
}
void cls_io_set_flush(ClsIo *io);
void cls_io_set_unmap(ClsIo *io, uint64_t lba, uint32_t blocks);
void cls_io_set_raw(ClsIo *io, const uint8_t *cdb, unsigned cdb_len, void *buf,
                    uint32_t len, PortXfer dir, unsigned timeout_s);

/* Start @io. A request that cannot be sent completes with CLS_ERR_PARAM. */
void cls_submit(ClsIo *io);
/* The next finished I/O (retries and splits done); waits. NULL when
 * nothing is outstanding. Thread context (PASSIVE_LEVEL). */
ClsIo *cls_wait(ClsQueue *q);
/* Like cls_wait() but never waits: NULL when nothing has finished. */
ClsIo *cls_poll(ClsQueue *q);

/* ---- synchronous I/O (PASSIVE_LEVEL); true on success ---- */

bool cls_read(ClsDisk *d, uint64_t lba, uint32_t blocks, void *buf,
              ClsResult *res);
bool cls_write(ClsDisk *d, uint64_t lba, uint32_t blocks, void *buf,
               ClsResult *res);
bool cls_flush(ClsDisk *d, ClsResult *res);
bool cls_unmap(ClsDisk *d, uint64_t lba, uint32_t blocks, ClsResult *res);
/* One CDB as given, not split; @res gets status, sense and data length. */
bool cls_raw(ClsDisk *d, const uint8_t *cdb, unsigned cdb_len, void *buf,
             uint32_t len, PortXfer dir, unsigned timeout_s, ClsResult *res);

/* ---- decoding, for messages ---- */

/* Sense key, ASC and ASCQ from fixed (70h/71h) or descriptor (72h/73h)
 * sense data; false if @s is too short or not sense data. */
bool cls_sense_parse(const uint8_t *s, unsigned len, uint8_t *key, uint8_t *asc,
                     uint8_t *ascq);
const char *cls_sense_key_name(uint8_t key);
/* NULL for an ASC/ASCQ pair not in the table. */
const char *cls_asc_name(uint8_t asc, uint8_t ascq);
const char *cls_srb_status_name(uint8_t srb_status);
const char *cls_scsi_status_name(uint8_t scsi_status);
const char *cls_retry_cause_name(ClsRetryCause c);
const char *cls_op_name(ClsOp op);
/* "ok", "CHECK CONDITION: ILLEGAL REQUEST 05/21/00 (LOGICAL BLOCK ADDRESS
 * OUT OF RANGE)", "SRB status SELECTION_TIMEOUT (0x0a)"... into @buf. */
const char *cls_result_str(const ClsResult *r, char *buf, size_t n);
uint64_t cls_retries_total(const ClsCounters *c);
/* "unit-attention 3, srb-busy 1" or "none" into @buf. */
const char *cls_retry_summary(const ClsCounters *c, char *buf, size_t n);

#endif
