/* SPDX-License-Identifier: MIT */
/*
 * The recorder (record.h), in two halves.
 *
 * The hot half runs in the boundary hook, on the machine's thread, inside
 * the crossing: it fills a slot of a single-producer single-consumer ring
 * with the crossing or annotation as it is (DMA payloads copied into a
 * byte ring, since guest memory changes afterwards) and moves on. It
 * reads the virtual clock and the crossing, never host state, so
 * recording does not change what the machine does.
 *
 * The cold half is a writer thread: it hashes DMA payloads, encodes the
 * records with the delta codec (trace-format.c) into a large buffer of
 * chunks, seals a chunk (length, checksum) once its payload passes
 * TRACE_CHUNK_TARGET, and writes the buffer with one write() when the
 * next record would not fit, and at the end. It handles the records in
 * ring order, so the file is the same byte for byte whatever the host's
 * timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include "system/boundary.h"
#include "system/error.h"
#include "system/event.h"
#include "system/record.h"
#include "system/trace-format.h"
#include "system/trace-machine.h"
#include "system/trace-print.h"

#define RECORD_BUFFER (4u << 20)   /* encoded output, written at once */
#define RING_SLOTS    4096         /* records in flight to the writer */
#define INLINE_SLOTS  128          /* without one: a batch that stays cached */
#define DATA_RING     (2u << 20)   /* DMA payloads in flight */
#define DATA_BIG      (256u << 10) /* larger ones get their own copy */
#define WAKE_BATCH    (RING_SLOTS / 8)

typedef struct RingSlot {
    TraceEvent e;
    uint64_t data_end; /* where its payload ends in the data ring */
    void *heap;        /* or its own copy of a large payload */
    bool hashed;       /* e.hash was taken when the DMA happened */
} RingSlot;

#define CACHE_LINE 64

typedef struct Recorder {
    bool active;
    bool threaded;  /* a writer thread; else batches drain inline */
    uint64_t slots; /* ring size (a power of two) */
    uint64_t batch; /* records per wake-up or inline drain */
    int fd;
    char *path;
    bool full_data;
    RingSlot *ring;
    uint8_t *data;
    GMutex lock;
    GCond more, space;
    GThread *writer;

    /* Machine thread only; the tails are its last look at the writer's,
     * so it reads the shared ones only when the ring seems full. */
    struct {
        uint64_t head, tail, data_head, data_tail;
        uint64_t since_checkpoint;
        RecordStats st;
        int64_t host_start;
    } __attribute__((aligned(CACHE_LINE))) p;

    /* Shared, one line each: no false sharing between the threads. */
    _Atomic uint64_t head __attribute__((aligned(CACHE_LINE)));
    _Atomic uint64_t tail __attribute__((aligned(CACHE_LINE)));
    _Atomic uint64_t data_tail __attribute__((aligned(CACHE_LINE)));
    _Atomic bool writer_idle __attribute__((aligned(CACHE_LINE)));
    _Atomic bool producer_waiting, stop;
    _Atomic uint64_t written;

    /* Writer thread only. */
    struct {
        uint8_t *buf;
        size_t cap, len;
        size_t chunk; /* offset of the open chunk's header */
        uint64_t chunk_index, chunk_time;
        TraceCodec codec;
        int write_errno;
        uint64_t t; /* records encoded */
    } __attribute__((aligned(CACHE_LINE))) w;
} Recorder;

static Recorder rec = {.fd = -1};

/* ---- the writer thread ---- */

static void write_all(Recorder *r, const uint8_t *p, size_t n)
{
    while (n && !r->w.write_errno) {
        ssize_t w = write(r->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            r->w.write_errno = errno;
            return;
        }
        p += w;
        n -= (size_t)w;
        atomic_fetch_add(&r->written, (uint64_t)w);
    }
}

static void open_chunk(Recorder *r)
{
    r->w.chunk = r->w.len;
    r->w.len += TRACE_CHUNK_HDR;
    r->w.chunk_index = r->w.codec.index;
    r->w.chunk_time = r->w.codec.time;
    trace_codec_reset(&r->w.codec, r->w.chunk_index, r->w.chunk_time);
}

/* Seal the open chunk; an empty one is taken back instead. */
static void seal_chunk(Recorder *r)
{
    size_t payload = r->w.len - r->w.chunk - TRACE_CHUNK_HDR;

    if (!payload) {
        r->w.len = r->w.chunk;
        return;
    }
    trace_chunk_seal(r->w.buf + r->w.chunk, (uint32_t)payload, r->w.chunk_index,
                     r->w.chunk_time);
}

static void flush_buffer(Recorder *r)
{
    write_all(r, r->w.buf, r->w.len);
    r->w.len = 0;
}

/* Room for @bound more bytes in the open chunk. */
static uint8_t *reserve(Recorder *r, size_t bound)
{
    if (r->w.len - r->w.chunk - TRACE_CHUNK_HDR >= TRACE_CHUNK_TARGET) {
        seal_chunk(r);
        open_chunk(r);
    }
    if (r->w.len + bound > r->w.cap) {
        seal_chunk(r);
        flush_buffer(r);
        if (TRACE_CHUNK_HDR + bound > r->w.cap) {
            /* A DMA larger than the buffer in data=full mode. */
            r->w.cap = TRACE_CHUNK_HDR + bound;
            r->w.buf = g_realloc(r->w.buf, r->w.cap);
        }
        open_chunk(r);
    }
    return r->w.buf + r->w.len;
}

static void encode(Recorder *r, RingSlot *sl)
{
    TraceEvent *e = &sl->e;
    size_t bound = 64 + TRACE_CDB_MAX;

    if (trace_type_is_dma(e->type) && e->ok && e->has_data) {
        if (r->full_data) {
            bound = trace_encode_bound(&r->w.codec, e);
        } else if (!sl->hashed) {
            e->hash = trace_hash64(e->data, e->len, 0);
        }
    } else if (e->type == TT_EXT) {
        bound = trace_encode_bound(&r->w.codec, e);
    }
    r->w.len += trace_encode(&r->w.codec, e, reserve(r, bound));
}

/* Encode the records published up to @h; hand their room back. */
static void drain(Recorder *r, uint64_t h)
{
    uint64_t data_end = 0;

    for (; r->w.t != h; r->w.t++) {
        RingSlot *sl = &r->ring[r->w.t & (r->slots - 1)];
        encode(r, sl);
        if (sl->heap) {
            g_free(sl->heap);
            sl->heap = NULL;
        } else if (sl->data_end) {
            data_end = sl->data_end;
        }
    }
    /* Once per batch, not per record: the lines stay where they are. */
    if (data_end) {
        atomic_store_explicit(&r->data_tail, data_end, memory_order_release);
    }
    atomic_store_explicit(&r->tail, h, memory_order_release);
}

static gpointer writer_main(gpointer opaque)
{
    Recorder *r = opaque;

    for (;;) {
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);

        if (h == r->w.t) {
            g_mutex_lock(&r->lock);
            atomic_store(&r->writer_idle, true);
            h = atomic_load(&r->head);
            while (h == r->w.t && !atomic_load(&r->stop)) {
                /* Under the lock: a producer that waits for room is
                 * told before the writer sleeps. */
                if (atomic_load(&r->producer_waiting)) {
                    g_cond_signal(&r->space);
                }
                g_cond_wait(&r->more, &r->lock);
                h = atomic_load(&r->head);
            }
            atomic_store(&r->writer_idle, false);
            g_mutex_unlock(&r->lock);
            if (h == r->w.t) {
                break; /* stopped with nothing left */
            }
        }
        drain(r, h);
        if (atomic_load(&r->producer_waiting)) {
            g_mutex_lock(&r->lock);
            g_cond_signal(&r->space);
            g_mutex_unlock(&r->lock);
        }
    }
    return NULL;
}

/* ---- the machine's side ---- */

static void wake_writer(Recorder *r)
{
    g_mutex_lock(&r->lock);
    g_cond_signal(&r->more);
    g_mutex_unlock(&r->lock);
}

/* Wait until @ok(r) holds, the writer working meanwhile. */
static void wait_for(Recorder *r, bool (*ok)(Recorder *r, uint64_t n),
                     uint64_t n)
{
    if (!r->threaded) {
        drain(r, r->p.head);
        g_assert(ok(r, n));
        return;
    }
    g_mutex_lock(&r->lock);
    atomic_store(&r->producer_waiting, true);
    while (!ok(r, n)) {
        g_cond_signal(&r->more);
        g_cond_wait(&r->space, &r->lock);
    }
    atomic_store(&r->producer_waiting, false);
    g_mutex_unlock(&r->lock);
}

static bool slot_free(Recorder *r, uint64_t unused)
{
    r->p.tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return r->p.head - r->p.tail < r->slots;
}

static inline RingSlot *slot_get(Recorder *r)
{
    if (G_UNLIKELY(r->p.head - r->p.tail >= r->slots) && !slot_free(r, 0)) {
        wait_for(r, slot_free, 0);
    }
    return &r->ring[r->p.head & (r->slots - 1)];
}

static inline void slot_put(Recorder *r)
{
    uint64_t h = ++r->p.head;

    atomic_store_explicit(&r->head, h, memory_order_release);
    /* A sleeping writer is looked at once per batch: the fence pairs with
     * the writer's "idle, then look at head" so one of the two sees the
     * other (no fence, and no line shared with the writer, per record).
     * Without a writer thread the batch is encoded here, in one go. */
    if (G_UNLIKELY((h & (r->batch - 1)) == 0)) {
        if (!r->threaded) {
            drain(r, h);
            r->p.tail = h;
        } else {
            atomic_thread_fence(memory_order_seq_cst);
            if (atomic_load_explicit(&r->writer_idle, memory_order_relaxed)) {
                wake_writer(r);
            }
        }
    }
    r->p.st.records++;
}

static bool data_room(Recorder *r, uint64_t end)
{
    if (end - r->p.data_tail <= DATA_RING) {
        return true;
    }
    r->p.data_tail = atomic_load_explicit(&r->data_tail, memory_order_acquire);
    return end - r->p.data_tail <= DATA_RING;
}

/* Copy a payload for the writer: into the data ring, or a heap copy. */
static const uint8_t *copy_payload(Recorder *r, RingSlot *sl, const void *src,
                                   size_t len)
{
    uint64_t start = r->p.data_head, end;

    sl->heap = NULL;
    sl->data_end = 0;
    if (!len) {
        return NULL;
    }
    if (len > DATA_BIG) {
        sl->heap = g_memdup2(src, len);
        return sl->heap;
    }
    if (start / DATA_RING != (start + len - 1) / DATA_RING) {
        /* It would wrap: start at the ring's beginning instead. */
        start = (start / DATA_RING + 1) * DATA_RING;
    }
    end = start + len;
    if (!data_room(r, end)) {
        wait_for(r, data_room, end);
    }
    memcpy(r->data + start % DATA_RING, src, len);
    r->p.data_head = end;
    sl->data_end = end;
    return r->data + start % DATA_RING;
}

static void put_checkpoint(Recorder *r)
{
    RingSlot *sl = slot_get(r);
    TraceEvent *e = &sl->e;

    memset(e, 0, sizeof(*e));
    e->type = TT_CHECKPOINT;
    e->cpu = -1;
    e->time = vclock_now();
    e->ck_events = event_count();
    e->ck_yields = sched_yields();
    e->ck_switches = sched_switches();
    e->ck_fingerprint = sched_fingerprint();
    sl->heap = NULL;
    sl->data_end = 0;
    sl->hashed = false;
    slot_put(r);
    r->p.since_checkpoint = 0;
}

static void rec_after(const BndAccess *a, void *opaque)
{
    Recorder *r = opaque;
    RingSlot *sl = slot_get(r);
    TraceEvent *e = &sl->e;

    trace_event_from_access(e, a, vclock_now());
    sl->heap = NULL;
    sl->data_end = 0;
    sl->hashed = false;
    if (a->kind == BND_DMA_READ || a->kind == BND_DMA_WRITE) {
        if (a->ok && a->data && a->len <= TRACE_DMA_SMALL) {
            /* Coded as a value: no copy, no hash. */
            e->value = trace_small_value(a->data, a->len);
            sl->hashed = true;
        } else if (a->ok && a->data) {
            if (!r->threaded && !r->full_data) {
                /* Cheaper than a copy to hash later on the same core. */
                e->hash = trace_hash64(a->data, a->len, 0);
                sl->hashed = true;
            } else {
                e->data = copy_payload(r, sl, a->data, a->len);
            }
        }
        r->p.st.dmas++;
    } else if (a->kind == BND_IRQ_RAISE) {
        r->p.st.irqs++;
    }
    slot_put(r);
    r->p.st.events++;
    if (++r->p.since_checkpoint >= RECORD_CHECKPOINT_INTERVAL) {
        put_checkpoint(r);
    }
}

static void rec_note(const BndNote *n, void *opaque)
{
    Recorder *r = opaque;
    RingSlot *sl = slot_get(r);
    TraceEvent *e = &sl->e;

    /* Only what the encoder reads for these records is filled in. */
    sl->heap = NULL;
    sl->data_end = 0;
    sl->hashed = false;
    e->time = vclock_now();
    e->cpu = n->cpu;
    switch (n->kind) {
    case BND_NOTE_SRB_START:
        e->type = TT_SRB_START;
        e->req = n->req;
        e->path = n->path;
        e->target = n->target;
        e->lun = n->lun;
        e->function = n->function;
        e->cdb_len = n->cdb ? MIN(n->cdb_len, TRACE_CDB_MAX) : 0;
        memset(e->cdb, 0, sizeof(e->cdb));
        if (e->cdb_len) {
            memcpy(e->cdb, n->cdb, e->cdb_len);
        }
        e->xfer = n->data_len;
        r->p.st.srbs++;
        /* READ/WRITE(6/10/12/16): opcodes 0x08 0x0a 0x28 0x2a 0x88 0x8a
         * 0xa8 0xaa: bit 3 set, bits 0, 2, 4 and 6 clear. */
        r->p.st.ios +=
            e->function == 0 && e->cdb_len && (e->cdb[0] & 0x5d) == 0x08;
        break;
    case BND_NOTE_SRB_DONE:
        e->type = TT_SRB_DONE;
        e->req = n->req;
        e->xfer = n->data_len;
        e->srb_status = n->srb_status;
        e->scsi_status = n->scsi_status;
        break;
    case BND_NOTE_IRQ_RETURN:
    default:
        e->type = TT_EXT;
        e->ext_kind = TRACE_EXT_IRQ_RETURN;
        e->ext_code = n->vector;
        e->ext_len = 0;
        e->ext_data = NULL;
        break;
    }
    slot_put(r);
}

static const BndHook rec_hook = {
    .name = "record",
    .after = rec_after,
    .note = rec_note,
};

static void put_ext(TraceExtKind kind, uint32_t code, const void *data,
                    size_t len)
{
    Recorder *r = &rec;
    RingSlot *sl;
    TraceEvent *e;

    if (!r->active) {
        return;
    }
    sl = slot_get(r);
    e = &sl->e;
    memset(e, 0, sizeof(*e));
    e->type = TT_EXT;
    e->time = vclock_now();
    e->cpu = (int16_t)cpu_index();
    e->ext_kind = (uint8_t)kind;
    e->ext_code = code;
    e->ext_len = (uint32_t)MIN(len, (size_t)TRACE_EXT_MAX);
    e->ext_data = copy_payload(r, sl, data, e->ext_len);
    sl->hashed = false;
    slot_put(r);
}

void record_fault(uint32_t code, const char *what)
{
    put_ext(TRACE_EXT_FAULT, code, what, what ? strlen(what) : 0);
}

void record_input(uint32_t code, const void *data, size_t len)
{
    put_ext(TRACE_EXT_INPUT, code, data, len);
}

void record_note(const char *text)
{
    put_ext(TRACE_EXT_NOTE, 0, text, text ? strlen(text) : 0);
}

/* ---- start and finish ---- */

/* Replay starts from the image's content: say so once when the run may
 * change it for good. */
static void warn_writable_images(const TraceHeader *h)
{
    g_autoptr(GString) names = g_string_new(NULL);

    for (guint i = 0; i < h->images->len; i++) {
        const TraceImage *im = &g_array_index(h->images, TraceImage, i);
        if (!(im->flags & (TRACE_IMAGE_READONLY | TRACE_IMAGE_SNAPSHOT)) &&
            im->filename[0]) {
            g_string_append_printf(names, "%s'%s' (%s)", names->len ? ", " : "",
                                   im->id, im->filename);
        }
    }
    if (names->len) {
        g_printerr("storemu: warning: -record: image %s is writable without "
                   "snapshot=on; the run will change it and a replay needs "
                   "it as it is now (copy it, or add snapshot=on)\n",
                   names->str);
    }
}

static unsigned usable_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return 1;
    }
    return (unsigned)CPU_COUNT(&set);
}

static void release(Recorder *r)
{
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    g_clear_pointer(&r->w.buf, g_free);
    g_clear_pointer(&r->ring, g_free);
    g_clear_pointer(&r->data, g_free);
    g_clear_pointer(&r->path, g_free);
}

bool record_start(const char *path, RecordData data, const MachineConfig *cfg,
                  GError **errp)
{
    TraceHeader h;
    g_autoptr(GByteArray) hdr = g_byte_array_new();
    Recorder *r = &rec;
    BndHook hook = rec_hook;

    g_assert(!r->active);
    trace_header_init(&h);
    h.full_data = data == RECORD_DATA_FULL;
    h.checkpoint_interval = RECORD_CHECKPOINT_INTERVAL;
    if (!trace_machine_describe(&h, cfg, errp)) {
        trace_header_clear(&h);
        g_prefix_error(errp, "-record: ");
        return false;
    }
    r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (r->fd < 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-record: cannot create '%s': %s", path, g_strerror(errno));
        trace_header_clear(&h);
        return false;
    }
    warn_writable_images(&h);
    trace_header_encode(&h, hdr);
    memset(&r->p, 0, sizeof(r->p));
    memset(&r->w, 0, sizeof(r->w));
    atomic_store(&r->written, 0);
    write_all(r, hdr->data, hdr->len);
    r->full_data = h.full_data;
    r->w.codec.full_data = h.full_data;
    r->w.codec.smp = h.smp;
    trace_codec_reset(&r->w.codec, 0, h.start_time);
    trace_header_clear(&h);
    r->w.cap = RECORD_BUFFER;
    r->w.buf = g_malloc(r->w.cap);
    r->w.len = 0;
    open_chunk(r);
    /* A writer thread only pays off with a core of its own (make bench
     * pins storemu to one). */
    r->threaded = usable_cpus() > 1;
    r->slots = r->threaded ? RING_SLOTS : INLINE_SLOTS;
    r->batch = r->threaded ? WAKE_BATCH : INLINE_SLOTS / 2;
    r->ring = g_new0(RingSlot, r->slots);
    r->data = g_malloc(DATA_RING);
    atomic_store(&r->head, 0);
    atomic_store(&r->tail, 0);
    atomic_store(&r->data_tail, 0);
    atomic_store(&r->writer_idle, false);
    atomic_store(&r->producer_waiting, false);
    atomic_store(&r->stop, false);
    r->path = g_strdup(path);
    hook.opaque = r;
    if (!bnd_hook_add(&hook)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-record: too many boundary hooks");
        release(r);
        return false;
    }
    g_mutex_init(&r->lock);
    g_cond_init(&r->more);
    g_cond_init(&r->space);
    if (r->threaded) {
        r->writer = g_thread_new("storemu-record", writer_main, r);
    }
    r->active = true;
    r->p.host_start = g_get_monotonic_time();
    return true;
}

bool record_start_opts(const Opts *o, const MachineConfig *cfg, GError **errp)
{
    return record_start(opts_get_str(o, "file", NULL),
                        opts_get_uint(o, "data", 0) == 1 ? RECORD_DATA_FULL
                                                         : RECORD_DATA_HASH,
                        cfg, errp);
}

bool record_active(void)
{
    return rec.active;
}

bool record_finish(int exit_code, MachineStop stop, GError **errp)
{
    Recorder *r = &rec;
    BndHook hook = rec_hook;
    RingSlot *sl;
    bool ok;

    if (!r->active) {
        return true;
    }
    hook.opaque = r;
    bnd_hook_remove(&hook);
    sl = slot_get(r);
    memset(&sl->e, 0, sizeof(sl->e));
    sl->e.type = TT_END;
    sl->e.cpu = -1;
    sl->e.time = vclock_now();
    sl->e.exit_code = exit_code;
    sl->e.stop_reason = (uint32_t)stop;
    sl->heap = NULL;
    sl->data_end = 0;
    sl->hashed = false;
    slot_put(r);
    if (r->threaded) {
        g_mutex_lock(&r->lock);
        atomic_store(&r->stop, true);
        g_cond_signal(&r->more);
        g_mutex_unlock(&r->lock);
        g_thread_join(r->writer);
        r->writer = NULL;
    } else {
        drain(r, r->p.head);
    }
    seal_chunk(r);
    flush_buffer(r);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->more);
    g_cond_clear(&r->space);
    if (close(r->fd) < 0 && !r->w.write_errno) {
        r->w.write_errno = errno;
    }
    r->fd = -1;
    r->active = false;
    r->p.st.bytes = atomic_load(&r->written);
    r->p.st.host_us = g_get_monotonic_time() - r->p.host_start;
    ok = !r->w.write_errno;
    if (!ok) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "-record: writing '%s' failed: %s; the trace is "
                    "incomplete",
                    r->path, g_strerror(r->w.write_errno));
    }
    release(r);
    return ok;
}

void record_get_stats(RecordStats *st)
{
    *st = rec.p.st;
    if (rec.active) {
        st->bytes = atomic_load(&rec.written);
        st->host_us = g_get_monotonic_time() - rec.p.host_start;
    }
}
