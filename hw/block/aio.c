/* SPDX-License-Identifier: MIT */
/*
 * Host I/O engines for the block backends: io_uring, a thread pool, and
 * two synchronous variants for tests and fuzzing (see aio.h). Only the
 * machine thread calls in here; the pool's workers touch nothing but the
 * ops they are handed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-host.h"
#include "hw/block/aio.h"
#include "system/error.h"
#include "system/trace.h"

#ifdef CONFIG_URING
#include <liburing.h>
#endif

#define AIO_URING_ENTRIES 256
#define AIO_THREADS       4

static AioEngine cur_engine = AIO_ENGINE_AUTO;
static bool started;
bool aio_sync_started;
static unsigned in_flight;
static unsigned plug_depth;

/* Run one op with blocking system calls (pool workers, sync engines). */
static int64_t aio_op_exec(AioOp *op)
{
    ssize_t r;

    switch (op->type) {
    case AIO_OP_READ:
        r = preadv2(op->fd, op->iov, op->iovcnt, (off_t)op->offset, 0);
        break;
    case AIO_OP_WRITE:
        r = pwritev2(op->fd, op->iov, op->iovcnt, (off_t)op->offset,
                     op->rw_flags);
        break;
    case AIO_OP_FDATASYNC:
        r = fdatasync(op->fd);
        break;
    case AIO_OP_FALLOCATE:
        r = fallocate(op->fd, op->mode, (off_t)op->offset, (off_t)op->len);
        break;
    default:
        g_assert_not_reached();
    }
    return aio_exec_result(r);
}

/* ---- thread pool ------------------------------------------------------ */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static AioOp *pool_head, *pool_tail;
static pthread_t pool_threads[AIO_THREADS];
static unsigned pool_nthreads;
static bool pool_quit;

static void *pool_worker(void *arg)
{
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        AioOp *op;
        int64_t r;

        while (!pool_head && !pool_quit) {
            pthread_cond_wait(&pool_work, &pool_lock);
        }
        if (!pool_head) {
            break;
        }
        op = pool_head;
        pool_head = op->next;
        if (!pool_head) {
            pool_tail = NULL;
        }
        pthread_mutex_unlock(&pool_lock);
        r = aio_op_exec(op);
        pthread_mutex_lock(&pool_lock);
        op->result = r;
        op->done = true;
        pthread_cond_broadcast(&pool_done);
    }
    pthread_mutex_unlock(&pool_lock);
    return NULL;
}

static bool pool_start(GError **errp)
{
    pool_quit = false;
    for (pool_nthreads = 0; pool_nthreads < AIO_THREADS; pool_nthreads++) {
        int err = pthread_create(&pool_threads[pool_nthreads], NULL,
                                 pool_worker, NULL);
        if (err) {
            if (pool_nthreads > 0) {
                break; /* fewer workers still work */
            }
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                        "block I/O thread pool: cannot start a thread: %s",
                        g_strerror(err));
            return false;
        }
    }
    return true;
}

static void pool_stop(void)
{
    pthread_mutex_lock(&pool_lock);
    pool_quit = true;
    pthread_cond_broadcast(&pool_work);
    pthread_mutex_unlock(&pool_lock);
    for (unsigned i = 0; i < pool_nthreads; i++) {
        pthread_join(pool_threads[i], NULL);
    }
    pool_nthreads = 0;
}

static void pool_submit(AioOp *op)
{
    pthread_mutex_lock(&pool_lock);
    op->next = NULL;
    if (pool_tail) {
        pool_tail->next = op;
    } else {
        pool_head = op;
    }
    pool_tail = op;
    pthread_cond_signal(&pool_work);
    pthread_mutex_unlock(&pool_lock);
}

static void pool_wait(AioOp *op)
{
    pthread_mutex_lock(&pool_lock);
    while (!op->done) {
        pthread_cond_wait(&pool_done, &pool_lock);
    }
    pthread_mutex_unlock(&pool_lock);
}

/* ---- io_uring --------------------------------------------------------- */

#ifdef CONFIG_URING
static struct io_uring ring;
static unsigned ring_cq_entries;

/*
 * Registered files. An op on a file the ring holds keeps the kernel from
 * looking the descriptor up and releasing it again for every op (fget and
 * fput, ~2% of a 4 KiB read from the page cache). A file is registered
 * the first time an op names it; block backends call aio_forget_fd()
 * before they close one, because the kernel reuses descriptor numbers.
 */
#define URING_FILES  64
#define URING_MAX_FD 65536
static bool files_on;
static uint8_t *slot_of_fd; /* by fd: its slot + 1, 0 if none */
static unsigned slot_of_fd_len;
static int slot_fd[URING_FILES]; /* by slot: its fd + 1, 0 if free */

/*
 * Only the machine thread uses the ring, and it always waits for its
 * completions with io_uring_submit_and_wait(): the kernel may then keep
 * completion work until that call (DEFER_TASKRUN) rather than interrupt
 * the thread for it, and skip the locking a shared ring needs
 * (SINGLE_ISSUER). Measured on randread qd32 from the page cache, ~2% of
 * wall clock. Kernels before 6.1 refuse the flags: a plain ring then.
 */
#define URING_FLAGS (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)

static bool uring_start(GError **errp)
{
    int r = io_uring_queue_init(AIO_URING_ENTRIES, &ring, URING_FLAGS);

    if (r == -EINVAL) {
        r = io_uring_queue_init(AIO_URING_ENTRIES, &ring, 0);
    }
    if (r < 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_UNAVAILABLE,
                    "io_uring is not usable here: %s", g_strerror(-r));
        return false;
    }
    ring_cq_entries = ring.cq.ring_entries;
    files_on = io_uring_register_files_sparse(&ring, URING_FILES) == 0;
    return true;
}

static void uring_stop(void)
{
    io_uring_queue_exit(&ring);
    files_on = false;
    g_clear_pointer(&slot_of_fd, g_free);
    slot_of_fd_len = 0;
    memset(slot_fd, 0, sizeof(slot_fd));
}

/* In slot_of_fd: registration was tried and failed (no free slot, or
 * the kernel refused). Not tried again until the fd is forgotten, so such
 * a file costs no system call per op. */
#define FD_NO_SLOT 0xff

/* The ring's slot for @fd, registering it on first sight; -1 when the
 * table is full or the kernel refuses (the op then names the fd). */
static int uring_file_slot(int fd)
{
    uint8_t v = (unsigned)fd < slot_of_fd_len ? slot_of_fd[fd] : 0;
    int slot;

    if (v) {
        return v == FD_NO_SLOT ? -1 : v - 1;
    }
    if (!files_on || fd < 0 || fd >= URING_MAX_FD) {
        return -1;
    }
    if ((unsigned)fd >= slot_of_fd_len) {
        unsigned n = MAX((unsigned)fd + 1, slot_of_fd_len * 2);
        slot_of_fd = g_renew(uint8_t, slot_of_fd, n);
        memset(slot_of_fd + slot_of_fd_len, 0, n - slot_of_fd_len);
        slot_of_fd_len = n;
    }
    for (slot = 0; slot < URING_FILES && slot_fd[slot]; slot++) {
    }
    if (slot == URING_FILES ||
        io_uring_register_files_update(&ring, (unsigned)slot, &fd, 1) != 1) {
        slot_of_fd[fd] = FD_NO_SLOT;
        return -1;
    }
    slot_of_fd[fd] = (uint8_t)(slot + 1);
    slot_fd[slot] = fd + 1;
    return slot;
}

static void uring_file_forget(int fd)
{
    int none = -1;
    uint8_t v = (unsigned)fd < slot_of_fd_len ? slot_of_fd[fd] : 0;

    if (v && v != FD_NO_SLOT) {
        /* Ops already in flight hold their own reference to the file. */
        io_uring_register_files_update(&ring, v - 1u, &none, 1);
        slot_fd[v - 1] = 0;
    }
    if (v) {
        slot_of_fd[fd] = 0;
    }
}

/* Hand every completion already queued to its op; no system call. */
static unsigned uring_reap(void)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    io_uring_for_each_cqe(&ring, head, cqe)
    {
        AioOp *op = io_uring_cqe_get_data(cqe);

        if (cqe->res == -EAGAIN || cqe->res == -EINTR) {
            /* Rare on regular files; finishing it here keeps the
             * engine free of resubmission state. */
            op->result = aio_op_exec(op);
        } else {
            op->result = cqe->res;
        }
        op->done = true;
        in_flight--;
        n++;
    }
    io_uring_cq_advance(&ring, n);
    return n;
}

/* Submit what is queued and wait for @n completions (at most what is in
 * flight, so that they come). */
static void uring_enter_wait(unsigned n)
{
    int r;

    do {
        r = io_uring_submit_and_wait(&ring, MAX(1u, MIN(n, in_flight)));
    } while (r == -EINTR);
    g_assert(r >= 0 || r == -EBUSY);
}

/* One buffer goes as a plain read or write: the kernel then has no
 * iovec array to copy in. */
static void uring_prep_rw(struct io_uring_sqe *sqe, const AioOp *op)
{
    int slot = uring_file_slot(op->fd);
    int fd = slot >= 0 ? slot : op->fd;

    bool one = op->iovcnt == 1 && op->iov[0].iov_len <= UINT_MAX;

    if (one && op->type == AIO_OP_READ) {
        io_uring_prep_read(sqe, fd, op->iov[0].iov_base,
                           (unsigned)op->iov[0].iov_len, op->offset);
    } else if (one) {
        io_uring_prep_write(sqe, fd, op->iov[0].iov_base,
                            (unsigned)op->iov[0].iov_len, op->offset);
    } else if (op->type == AIO_OP_READ) {
        io_uring_prep_readv(sqe, fd, op->iov, (unsigned)op->iovcnt, op->offset);
    } else {
        io_uring_prep_writev(sqe, fd, op->iov, (unsigned)op->iovcnt,
                             op->offset);
    }
    sqe->rw_flags = op->type == AIO_OP_WRITE ? op->rw_flags : 0;
    if (slot >= 0) {
        sqe->flags |= IOSQE_FIXED_FILE;
    }
}

static void uring_submit(AioOp *op)
{
    struct io_uring_sqe *sqe;

    /* Never let more ops be outstanding than the CQ ring holds. */
    while (in_flight >= ring_cq_entries) {
        if (!uring_reap()) {
            uring_enter_wait(1);
        }
    }
    sqe = io_uring_get_sqe(&ring);
    if (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
        g_assert(sqe);
    }
    switch (op->type) {
    case AIO_OP_READ:
    case AIO_OP_WRITE:
        uring_prep_rw(sqe, op);
        break;
    case AIO_OP_FDATASYNC:
        io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
        break;
    case AIO_OP_FALLOCATE:
        io_uring_prep_fallocate(sqe, op->fd, op->mode, (off_t)op->offset,
                                (off_t)op->len);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
    if (!plug_depth) {
        io_uring_submit(&ring);
    }
}

static void uring_wait(AioOp *op)
{
    while (!op->done) {
        if (!uring_reap()) {
            uring_enter_wait(1);
        }
    }
}

static void uring_wait_all(AioOp *const *ops, unsigned n)
{
    for (;;) {
        unsigned left = 0;

        uring_reap();
        for (unsigned i = 0; i < n; i++) {
            left += !ops[i]->done;
        }
        if (!left) {
            return;
        }
        uring_enter_wait(left);
    }
}
#endif

/* ---- deferred (tests) ------------------------------------------------- */

static AioOp *defer_head, *defer_tail;

static void defer_unlink(AioOp *op)
{
    AioOp **pp = &defer_head, *prev = NULL;

    while (*pp && *pp != op) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    g_assert(*pp);
    *pp = op->next;
    if (defer_tail == op) {
        defer_tail = prev;
    }
}

static void defer_run(AioOp *op)
{
    defer_unlink(op);
    op->result = aio_op_exec(op);
    op->done = true;
    in_flight--;
}

unsigned aio_deferred_run(bool newest_first)
{
    unsigned n = 0;

    while (defer_head) {
        AioOp *op = defer_head;

        if (newest_first) {
            op = defer_tail;
        }
        defer_run(op);
        n++;
    }
    return n;
}

/* ---- engine selection and the common entry points --------------------- */

const char *aio_engine_name(AioEngine engine)
{
    static const char *const names[] = {
        [AIO_ENGINE_AUTO] = "auto",         [AIO_ENGINE_URING] = "io_uring",
        [AIO_ENGINE_THREADS] = "threads",   [AIO_ENGINE_SYNC] = "sync",
        [AIO_ENGINE_DEFERRED] = "deferred",
    };
    return names[engine];
}

static void engine_stop(void)
{
    if (!started) {
        return;
    }
    switch (cur_engine) {
#ifdef CONFIG_URING
    case AIO_ENGINE_URING:
        uring_stop();
        break;
#endif
    case AIO_ENGINE_THREADS:
        pool_stop();
        break;
    default:
        break;
    }
    started = false;
    aio_sync_started = false;
}

static bool engine_start(AioEngine engine, GError **errp)
{
    switch (engine) {
    case AIO_ENGINE_URING:
#ifdef CONFIG_URING
        if (!uring_start(errp)) {
            return false;
        }
        break;
#else
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_UNAVAILABLE,
                    "io_uring is not built in (apt-get install "
                    "liburing-dev, then ./configure)");
        return false;
#endif
    case AIO_ENGINE_THREADS:
        if (!pool_start(errp)) {
            return false;
        }
        break;
    case AIO_ENGINE_SYNC:
    case AIO_ENGINE_DEFERRED:
        break;
    case AIO_ENGINE_AUTO:
        g_assert_not_reached();
    }
    cur_engine = engine;
    started = true;
    aio_sync_started = engine == AIO_ENGINE_SYNC;
    TRACE(blk_aio_engine, "engine %s", aio_engine_name(engine));
    return true;
}

static AioEngine engine_from_env(void)
{
    const char *e = getenv("STOREMU_AIO");

    if (!e) {
        return AIO_ENGINE_AUTO;
    }
    if (!strcmp(e, "uring") || !strcmp(e, "io_uring")) {
        return AIO_ENGINE_URING;
    }
    if (!strcmp(e, "threads")) {
        return AIO_ENGINE_THREADS;
    }
    if (!strcmp(e, "sync")) {
        return AIO_ENGINE_SYNC;
    }
    return AIO_ENGINE_AUTO;
}

static void engine_start_auto(void)
{
    AioEngine want = engine_from_env();

    if (want != AIO_ENGINE_AUTO && engine_start(want, NULL)) {
        return;
    }
#ifdef CONFIG_URING
    if (engine_start(AIO_ENGINE_URING, NULL)) {
        return;
    }
#endif
    if (engine_start(AIO_ENGINE_THREADS, NULL)) {
        return;
    }
    /* Not even one thread: run the I/O inline rather than not at all. */
    engine_start(AIO_ENGINE_SYNC, NULL);
}

bool aio_set_engine(AioEngine engine, GError **errp)
{
    g_assert(in_flight == 0);
    engine_stop();
    if (engine == AIO_ENGINE_AUTO) {
        engine_start_auto();
        return true;
    }
    return engine_start(engine, errp);
}

AioEngine aio_engine(void)
{
    if (!started) {
        engine_start_auto();
    }
    return cur_engine;
}

void aio_forget_fd(int fd)
{
#ifdef CONFIG_URING
    if (started && cur_engine == AIO_ENGINE_URING) {
        uring_file_forget(fd);
    }
#else
    (void)fd;
#endif
}

unsigned aio_in_flight(void)
{
    return in_flight;
}

/* The engines that hold an op for later; out of aio_submit(), whose
 * frame then stays small for the sync engine's inline run. */
static G_GNUC_NO_INLINE void engine_submit(AioOp *op)
{
    in_flight++;
    switch (cur_engine) {
#ifdef CONFIG_URING
    case AIO_ENGINE_URING:
        uring_submit(op);
        break;
#endif
    case AIO_ENGINE_THREADS:
        pool_submit(op);
        break;
    case AIO_ENGINE_DEFERRED:
        if (defer_tail) {
            defer_tail->next = op;
        } else {
            defer_head = op;
        }
        defer_tail = op;
        break;
    default:
        g_assert_not_reached();
    }
}

/* aio_submit() of an op known to be valid, and with @read known to be a
 * read (a constant: the sync engine's read then needs no aio_op_exec()
 * frame). */
static inline __attribute__((always_inline)) bool submit_valid(AioOp *op,
                                                               bool read)
{
    if (G_UNLIKELY(!started)) {
        engine_start_auto();
    }
    if (cur_engine == AIO_ENGINE_SYNC) {
        /* Run here, never in flight, never on a queue. */
        if (read) {
            aio_run_read(op);
        } else {
            aio_op_ran(op, aio_op_exec(op));
        }
        return true;
    }
    op->waited = false;
    op->next = NULL;
    op->done = false;
    op->result = 0;
    engine_submit(op);
    return false;
}

bool aio_submit(AioOp *op)
{
    /* Types are READ, WRITE, FDATASYNC, FALLOCATE in that order: only
     * the first two carry iovecs. */
    g_assert(
        (unsigned)op->type <= AIO_OP_FALLOCATE &&
        (op->type > AIO_OP_WRITE || (unsigned)(op->iovcnt - 1) < AIO_IOV_MAX));
    return submit_valid(op, false);
}

bool aio_submit_read_engine(AioOp *op)
{
    return submit_valid(op, true);
}

void aio_run_now(AioOp *op)
{
    g_assert(op->type == AIO_OP_FDATASYNC || op->type == AIO_OP_FALLOCATE ||
             (op->iovcnt > 0 && op->iovcnt <= AIO_IOV_MAX));
    op->next = NULL;
    aio_op_ran(op, aio_op_exec(op));
}

/* aio_wait() for an op that is not known to be done. */
static G_GNUC_NO_INLINE void aio_wait_slow(AioOp *op)
{
    if (cur_engine == AIO_ENGINE_THREADS) {
        /* op->done is written by a worker: read it under the lock, and
         * count the op out here, on the machine thread. */
        if (!op->waited) {
            pool_wait(op);
            op->waited = true;
            in_flight--;
        }
        return;
    }
    if (op->done) {
        return;
    }
    switch (cur_engine) {
#ifdef CONFIG_URING
    case AIO_ENGINE_URING:
        uring_wait(op);
        break;
#endif
    case AIO_ENGINE_DEFERRED:
        defer_run(op);
        break;
    default:
        g_assert_not_reached();
    }
}

void aio_wait(AioOp *op)
{
    /* Done already (the sync engine, a reaped completion): no frame. A
     * worker's op->done is only read under the lock. */
    if (cur_engine != AIO_ENGINE_THREADS && op->done) {
        return;
    }
    aio_wait_slow(op);
}

void aio_wait_all(AioOp *const *ops, unsigned n)
{
#ifdef CONFIG_URING
    if (cur_engine == AIO_ENGINE_URING) {
        uring_wait_all(ops, n);
        return;
    }
#endif
    for (unsigned i = 0; i < n; i++) {
        aio_wait(ops[i]);
    }
}

void aio_plug(void)
{
    plug_depth++;
}

void aio_unplug(void)
{
    g_assert(plug_depth > 0);
    if (--plug_depth == 0 && started) {
#ifdef CONFIG_URING
        if (cur_engine == AIO_ENGINE_URING) {
            io_uring_submit(&ring);
        }
#endif
    }
}

void aio_shutdown(void)
{
    /* Callers wait for their own ops; anything left is a leak upstream. */
    g_assert(in_flight == 0);
    engine_stop();
    cur_engine = AIO_ENGINE_AUTO;
}
