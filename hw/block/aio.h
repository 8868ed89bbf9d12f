/* SPDX-License-Identifier: MIT */
/*
 * The asynchronous host I/O engine under the block backends. An AioOp is
 * one host system call's worth of work (preadv2, pwritev2, fdatasync,
 * fallocate) that the machine thread submits and later waits for. The
 * engine only moves bytes; *when* the guest learns about a completion is
 * decided by the device's latency model on the virtual clock, and the
 * device simply waits for the op at that virtual time if the host is late.
 * So no engine, and no host timing, can change the machine's schedule.
 *
 * Engines:
 *  - io_uring (liburing, CONFIG_URING): one ring on the machine thread.
 *    A submission is one io_uring_submit() (or none while plugged: the
 *    whole batch goes in at unplug); waiting first reaps what is already
 *    in the completion queue without a system call and only then enters
 *    the kernel with io_uring_submit_and_wait(). No other thread.
 *  - threads: a small pool of workers doing the blocking calls; used when
 *    liburing is missing or the kernel refuses io_uring.
 *  - sync: the op runs inside aio_submit() (fuzzing, debugging).
 *  - deferred: ops are held until waited for or until aio_deferred_run()
 *    runs them in an order the caller forces (tests of completion order).
 * STOREMU_AIO=uring|threads|sync in the environment overrides "auto".
 */
#ifndef HW_BLOCK_AIO_H
#define HW_BLOCK_AIO_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>

typedef enum AioOpType {
    AIO_OP_READ,      /* preadv2(fd, iov, iovcnt, offset) */
    AIO_OP_WRITE,     /* pwritev2(..., rw_flags) */
    AIO_OP_FDATASYNC, /* fdatasync(fd) */
    AIO_OP_FALLOCATE, /* fallocate(fd, mode, offset, len) */
} AioOpType;

/* Most iovecs one read/write op may carry (the kernel's IOV_MAX). */
#define AIO_IOV_MAX 1024

typedef struct AioOp {
    AioOpType type;
    int fd;
    int rw_flags; /* RWF_* for writes (RWF_DSYNC for FUA) */
    int mode;     /* fallocate mode */
    uint64_t offset;
    uint64_t len; /* fallocate length */
    const struct iovec *iov;
    int iovcnt; /* 1..AIO_IOV_MAX for reads and writes */
    /* Filled by the engine: bytes transferred (0 for sync/fallocate) or
     * -errno. Valid once aio_wait() returned. */
    int64_t result;
    bool done;
    bool waited;        /* engine-private */
    struct AioOp *next; /* engine queue link */
} AioOp;

typedef enum AioEngine {
    AIO_ENGINE_AUTO,
    AIO_ENGINE_URING,
    AIO_ENGINE_THREADS,
    AIO_ENGINE_SYNC,
    AIO_ENGINE_DEFERRED,
} AioEngine;

/*
 * Choose the engine (AUTO: io_uring if available, else threads). Only
 * with nothing in flight; false with @errp set when the engine cannot be
 * used here (io_uring not built in or refused by the kernel).
 */
bool aio_set_engine(AioEngine engine, GError **errp);
/* The engine in use (starting "auto" if none was chosen yet). */
AioEngine aio_engine(void);
const char *aio_engine_name(AioEngine engine);

/* Start @op. True when it is done already (the sync engine runs it
 * inside the call): nothing can be waiting on its host I/O any more. */
bool aio_submit(AioOp *op);

/* Engine-private: the sync engine is the one started, so that
 * aio_submit_read() runs its read in the caller's frame. */
extern bool aio_sync_started;

/* A system call's return as an op's result. */
static inline int64_t aio_exec_result(ssize_t r)
{
    return r < 0 ? -errno : r;
}

/* @op ran on the calling thread with @result: done, and never counted in
 * flight, so there is nothing to wait or count out for it. */
static inline void aio_op_ran(AioOp *op, int64_t result)
{
    op->result = result;
    op->done = true;
    op->waited = true;
}

/* Run read @op now with a blocking preadv2(). */
static inline __attribute__((always_inline)) void aio_run_read(AioOp *op)
{
    aio_op_ran(op, aio_exec_result(preadv2(op->fd, op->iov, op->iovcnt,
                                           (off_t)op->offset, 0)));
}

/* aio_submit_read() with an engine that may hold the op. */
bool aio_submit_read_engine(AioOp *op);
/*
 * aio_submit() of an AIO_OP_READ with 1..AIO_IOV_MAX iovecs, which its
 * caller vouches for (a bug of the caller otherwise: not checked again).
 * Inline: with the sync engine, the read of nearly every I/O without a
 * call of its own.
 */
static inline __attribute__((always_inline)) bool aio_submit_read(AioOp *op)
{
    if (aio_sync_started) {
        aio_run_read(op);
        return true;
    }
    return aio_submit_read_engine(op);
}
/*
 * Run @op at once with a blocking system call on the calling thread,
 * whatever the engine; aio_wait() then returns at once. For work the
 * kernel finishes inline anyway (buffered writes into the page cache),
 * where handing it to the engine only adds a thread switch.
 */
void aio_run_now(AioOp *op);
/* Block until @op is done (reaping others that completed meanwhile). */
void aio_wait(AioOp *op);
/* Block until every op of @ops is done; io_uring enters the kernel once
 * for all of them, not once per op. */
void aio_wait_all(AioOp *const *ops, unsigned n);
/* Ops submitted and not yet waited for or reaped. */
unsigned aio_in_flight(void);

/* Batch submissions: while plugged, io_uring queues without entering the
 * kernel; the last unplug submits them all with one system call. */
void aio_plug(void);
void aio_unplug(void);

/* Deferred engine: run every held op now, oldest first or newest first;
 * returns how many ran. */
unsigned aio_deferred_run(bool newest_first);

/* Call before closing a file ops have named: the io_uring engine keeps a
 * reference to each such file, and a later file given the same descriptor
 * number must not reach the old one. */
void aio_forget_fd(int fd);

/* Wait for everything in flight and release the ring or the threads; the
 * next submission starts the engine again. */
void aio_shutdown(void);

#endif
