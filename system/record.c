/* SPDX-License-Identifier: MIT */
/*
 * The recorder (record.h). It runs in the boundary hook, on the machine's
 * thread, inside the crossing: it encodes the crossing or annotation with
 * the delta codec (trace-format.c) straight into a large buffer of
 * chunks, seals a chunk (length, checksum) once its payload passes
 * TRACE_CHUNK_TARGET, and writes the buffer with one write() when the
 * next record would not fit, and at the end. It reads the virtual clock
 * and the crossing, never host state, so recording does not change what
 * the machine does, and the file is the same byte for byte whatever the
 * host's timing.
 *
 * With data=hash a DMA payload longer than TRACE_DMA_SMALL is hashed
 * where it happens, into the digest of its run of DMAs; the
 * digest record goes out before the next record that is not a DMA.
 *
 * (An earlier version handed records to a writer thread through a ring.
 * Encoding in place costs less than filling the ring slot did, and the
 * thread's cache traffic made a recorded run slower on two cores than on
 * one.)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include "system/boundary.h"
#include "system/error.h"
#include "system/event.h"
#include "system/record.h"
#include "system/trace-codec.h"
#include "system/trace-format.h"
#include "system/trace-machine.h"
#include "system/trace-print.h"

#define RECORD_BUFFER (4u << 20) /* encoded output, written at once */
/* Bytes a record without a payload may take at most. */
#define BOUND (64 + TRACE_CDB_MAX)

typedef struct Recorder {
    bool active;
    bool full_data;
    int fd;
    char *path;
    int write_errno;
    uint64_t written;

    uint8_t *buf;
    size_t cap, len;
    size_t limit; /* below it, a record of BOUND bytes needs no check */
    size_t chunk; /* offset of the open chunk's header */
    uint64_t chunk_index, chunk_time;
    TraceCodec codec;

    bool digest_pending; /* DMAs in the digest since the last one */
    TraceDigest digest;
    TraceDigest digest_start; /* a new digest: copied, not computed */
    uint64_t next_checkpoint; /* crossings (codec index) that call for one */
    uint64_t kinds[BND_KIND_COUNT]; /* crossings by kind */
    RecordStats st; /* records other than crossings; the rest of the
                     * crossings figures come from kinds[] when asked */
    int64_t host_start;
} Recorder;

static Recorder rec = {.fd = -1};

/* ---- the output buffer ---- */

static void write_all(Recorder *r, const uint8_t *p, size_t n)
{
    while (n && !r->write_errno) {
        ssize_t w = write(r->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            r->write_errno = errno;
            return;
        }
        p += w;
        n -= (size_t)w;
        r->written += (uint64_t)w;
    }
}

static void open_chunk(Recorder *r)
{
    r->chunk = r->len;
    r->len += TRACE_CHUNK_HDR;
    r->chunk_index = r->codec.index;
    r->chunk_time = r->codec.time;
    trace_enc_reset(&r->codec, r->chunk_index, r->chunk_time);
}

/* Seal the open chunk; an empty one is taken back instead. */
static void seal_chunk(Recorder *r)
{
    size_t payload = r->len - r->chunk - TRACE_CHUNK_HDR;

    if (!payload) {
        r->len = r->chunk;
        return;
    }
    trace_chunk_seal(r->buf + r->chunk, (uint32_t)payload, r->chunk_index,
                     r->chunk_time);
}

static void flush_buffer(Recorder *r)
{
    write_all(r, r->buf, r->len);
    r->len = 0;
}

/* Room for @bound more bytes in the open chunk: seal it once its payload
 * has reached the target, write the buffer out when it is full. */
static G_GNUC_NO_INLINE uint8_t *reserve_slow(Recorder *r, size_t bound)
{
    if (r->len - r->chunk - TRACE_CHUNK_HDR >= TRACE_CHUNK_TARGET) {
        seal_chunk(r);
        open_chunk(r);
    }
    if (r->len + bound > r->cap) {
        seal_chunk(r);
        flush_buffer(r);
        if (TRACE_CHUNK_HDR + bound > r->cap) {
            /* A DMA larger than the buffer in data=full mode. */
            r->cap = TRACE_CHUNK_HDR + bound;
            r->buf = g_realloc(r->buf, r->cap);
        }
        open_chunk(r);
    }
    /* Below this neither of the above can happen to a record of up to
     * BOUND bytes: one comparison on the hot path. */
    r->limit =
        MIN(r->chunk + TRACE_CHUNK_HDR + TRACE_CHUNK_TARGET, r->cap - BOUND);
    return r->buf + r->len;
}

static inline uint8_t *reserve(Recorder *r, size_t bound)
{
    if (G_LIKELY(r->len < r->limit && bound <= BOUND)) {
        return r->buf + r->len;
    }
    return reserve_slow(r, bound);
}

static G_GNUC_NO_INLINE void put_digest(Recorder *r)
{
    r->len += trace_encode_digest(reserve(r, 16),
                                  (uint32_t)trace_digest_final(&r->digest));
    r->digest = r->digest_start;
    r->digest_pending = false;
    r->st.records++;
}

/* Encode @e; @bound: bytes it may take (at least 64 + TRACE_CDB_MAX). */
static inline void emit(Recorder *r, const TraceEvent *e, size_t bound)
{
    if (r->digest_pending && !trace_type_is_dma(e->type)) {
        put_digest(r);
    }
    r->len += trace_encode(&r->codec, e, reserve(r, bound));
    r->st.records++;
}

/* ---- the hook ---- */

static G_GNUC_NO_INLINE void put_checkpoint(Recorder *r)
{
    TraceEvent e = {
        .type = TT_CHECKPOINT,
        .cpu = -1,
        .time = vclock_now(),
        .ck_events = event_count(),
        .ck_yields = sched_yields(),
        .ck_switches = sched_switches(),
        .ck_fingerprint = sched_fingerprint(),
    };

    emit(r, &e, BOUND);
    r->next_checkpoint = r->codec.index + RECORD_CHECKPOINT_INTERVAL;
}

/* The hook's body; @dma: the crossing is a DMA (two hooks, one for DMA
 * and one for the rest, so each knows which it is). */
static inline __attribute__((always_inline)) void
rec_after_as(Recorder *r, const BndAccess *a, bool dma)
{
    uint64_t value = a->value;
    const uint8_t *full = NULL;
    size_t bound = BOUND;

    r->kinds[a->kind]++;
    if (dma) {
        if (a->ok && a->data) {
            if (a->len <= TRACE_DMA_SMALL) {
                /* Coded as a value: no hash. */
                value = trace_small_value(a->data, a->len);
            } else if (r->full_data) {
                /* Encoded before the guest can change it: no copy. */
                full = a->data;
                bound += a->len;
            } else {
                trace_digest_add(&r->digest, a->data, a->len);
                r->digest_pending = true;
            }
        }
    } else if (r->digest_pending) {
        put_digest(r);
    }
    r->len += trace_encode_access_as(&r->codec, a, vclock_now(), value, full,
                                     reserve(r, bound), dma);
    if (G_UNLIKELY(r->codec.index >= r->next_checkpoint)) {
        put_checkpoint(r);
    }
}

static void rec_after_dma(const BndAccess *a, void *opaque)
{
    rec_after_as(opaque, a, true);
}

/* rec_dma() when the record is not a plain hit or the buffer needs
 * attention: the whole of it. */
static G_GNUC_NO_INLINE void rec_dma_slow(Recorder *r, BndKind kind,
                                          uint64_t gpa, const void *data,
                                          uint64_t len)
{
    BndAccess a = {
        .kind = kind,
        .cpu = -1,
        .addr = gpa,
        .len = len,
        .data = data,
        .ok = true,
    };

    rec_after_as(r, &a, true);
}

/* The end of rec_dma() when a checkpoint is due: it comes after the
 * DMA's payload is in the digest (which it writes out). */
static G_GNUC_NO_INLINE void rec_dma_checkpoint(Recorder *r, const void *data,
                                                uint64_t len)
{
    if (len > TRACE_DMA_SMALL) {
        trace_digest_add(&r->digest, data, len);
        r->digest_pending = true;
    }
    put_checkpoint(r);
}

/* rec_dma() once the slot is known: code a plain hit, then hash. */
static inline __attribute__((always_inline)) void
rec_dma_at(Recorder *r, BndKind kind, unsigned mi, uint64_t gpa,
           const void *data, uint64_t len, uint64_t value)
{
    size_t n = trace_enc_dma_hit(&r->codec, kind, mi, gpa, len, value,
                                 vclock_now(), r->buf + r->len);

    if (G_UNLIKELY(!n)) {
        rec_dma_slow(r, kind, gpa, data, len);
        return;
    }
    r->len += n;
    r->kinds[kind]++;
    if (G_UNLIKELY(r->codec.index >= r->next_checkpoint)) {
        rec_dma_checkpoint(r, data, len);
    } else if (len > TRACE_DMA_SMALL) {
        r->digest_pending = true;
        trace_digest_add(&r->digest, data, len);
    }
}

/* rec_dma() when the map's hint is not the slot: ring walks write the
 * map at each step and so overwrite other slots' hints, and a look
 * through the slots is still far short of the general path. */
/* NO_SLP: gcc pairs the slot's stores through a vector register,
 * which takes more instructions than it saves here. */
static G_GNUC_NO_INLINE NO_SLP void rec_dma_look(Recorder *r, BndKind kind,
                                                 uint64_t gpa, const void *data,
                                                 uint64_t len, uint64_t value)
{
    unsigned mi = trace_enc_find_next(&r->codec, kind, gpa, 0);

    if (!mi) {
        rec_dma_slow(r, kind, gpa, data, len);
        return;
    }
    rec_dma_at(r, kind, mi, gpa, data, len, value);
}

/*
 * The hook's DMA entry (BndHook.after_dma) for a DMA of kind @kind:
 * rec_after_dma() of a DMA in RAM in device context, nearly every one. A
 * plain hit is coded first and the payload hashed last, so that the path
 * ends in a tail call and holds nothing across a call; anything else is
 * rec_dma_slow()'s.
 */
static inline __attribute__((always_inline)) void
rec_dma_as(Recorder *r, BndKind kind, uint64_t gpa, const void *data,
           uint64_t len)
{
    uint64_t value = 0;
    unsigned mi;

    if (len <= TRACE_DMA_SMALL) {
        value = trace_small_value(data, len);
    }
    if (G_UNLIKELY(r->len >= r->limit)) {
        rec_dma_slow(r, kind, gpa, data, len);
        return;
    }
    mi = trace_enc_dma_hint(&r->codec, kind, gpa);
    if (G_UNLIKELY(!mi)) {
        rec_dma_look(r, kind, gpa, data, len, value);
        return;
    }
    rec_dma_at(r, kind, mi, gpa, data, len, value);
}

/* A copy per kind: with the kind a constant, the codec's tables for it
 * are at fixed offsets and it takes no register on the path. */
static NO_SLP void rec_dma(BndKind kind, uint64_t gpa, const void *data,
                           uint64_t len, void *opaque)
{
    if (kind == BND_DMA_READ) {
        rec_dma_as(opaque, BND_DMA_READ, gpa, data, len);
    } else {
        rec_dma_as(opaque, BND_DMA_WRITE, gpa, data, len);
    }
}

/*
 * rec_after_as() of a crossing of kind @k, not a DMA: what
 * trace_encode_access_as() does, with the kind a constant, so that the
 * codec's switches and table look-ups on it fold away. The crossing is
 * read before the first store, which could alias it and would make the
 * compiler read it again after each.
 */
static inline __attribute__((always_inline)) void
rec_after_kind(Recorder *r, const BndAccess *a, BndKind k)
{
    TraceXing x = trace_xing_from_access(a, k, vclock_now(), a->value, false);
    uint8_t *out;
    size_t n;

    r->kinds[k]++;
    if (r->digest_pending) {
        put_digest(r);
    }
    out = reserve(r, BOUND);
    n = trace_enc_fast_as(&r->codec, &x, out, false);
    if (!n) {
        n = trace_encode_access_slow(&r->codec, a, x.time, x.value, NULL, out);
    }
    r->len += n;
    if (G_UNLIKELY(r->codec.index >= r->next_checkpoint)) {
        put_checkpoint(r);
    }
}

/* The kinds every request crosses, each with its own copy of the hook's
 * body: with the kind known, the codec's switches on it and its table
 * look-ups are gone from the path. */
static NO_SLP void rec_after(const BndAccess *a, void *opaque)
{
    switch (a->kind) {
    case BND_IRQ_DELIVER:
        rec_after_kind(opaque, a, BND_IRQ_DELIVER);
        break;
    case BND_IRQ_RAISE:
        rec_after_kind(opaque, a, BND_IRQ_RAISE);
        break;
    case BND_MMIO_WRITE:
        rec_after_kind(opaque, a, BND_MMIO_WRITE);
        break;
    case BND_SCHED:
        rec_after_kind(opaque, a, BND_SCHED);
        break;
    default:
        rec_after_as(opaque, a, false);
        break;
    }
}

/* SRB notes are coded from the note itself, with no TraceEvent between. */
static void rec_note(const BndNote *n, void *opaque)
{
    Recorder *r = opaque;
    uint64_t time = vclock_now();
    TraceEvent e;
    uint8_t *out;
    size_t n_hit;

    if (r->digest_pending) {
        put_digest(r);
    }
    out = reserve(r, BOUND);
    r->st.records++;
    switch (n->kind) {
    case BND_NOTE_SRB_START:
        r->len += trace_encode_srb_start(&r->codec, n, time, out);
        r->st.srbs++;
        /* READ/WRITE(6/10/12/16): opcodes 0x08 0x0a 0x28 0x2a 0x88 0x8a
         * 0xa8 0xaa: bit 3 set, bits 0, 2, 4 and 6 clear. */
        r->st.ios += n->function == 0 && n->cdb && n->cdb_len &&
                     (n->cdb[0] & 0x5d) == 0x08;
        return;
    case BND_NOTE_SRB_DONE:
        r->len += trace_encode_srb_done(&r->codec, n, time, out);
        return;
    case BND_NOTE_IRQ_RETURN:
    default:
        n_hit = trace_encode_irq_return_hit(&r->codec, n->cpu, n->vector, time,
                                            out);
        if (n_hit) {
            r->len += n_hit;
            return;
        }
        break;
    }
    /* Only what the encoder reads for this record is filled in. */
    e.time = time;
    e.cpu = n->cpu;
    e.type = TT_EXT;
    e.ext_kind = TRACE_EXT_IRQ_RETURN;
    e.ext_code = n->vector;
    e.ext_len = 0;
    e.ext_data = NULL;
    r->len += trace_encode(&r->codec, &e, out);
}

#define REC_DMA_KINDS (BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE))
static const BndHook rec_hook = {
    .name = "record",
    .kinds = BND_ALL_KINDS & ~REC_DMA_KINDS,
    .after = rec_after,
    .note = rec_note,
};
static const BndHook rec_dma_hook = {
    .name = "record-dma",
    .kinds = REC_DMA_KINDS,
    .after = rec_after_dma,
    .after_dma = rec_dma,
};

static void put_ext(TraceExtKind kind, uint32_t code, const void *data,
                    size_t len)
{
    Recorder *r = &rec;
    TraceEvent e = {
        .type = TT_EXT,
        .ext_kind = (uint8_t)kind,
        .ext_code = code,
        .ext_len = (uint32_t)MIN(len, (size_t)TRACE_EXT_MAX),
        .ext_data = data,
    };

    if (!r->active) {
        return;
    }
    e.time = vclock_now();
    e.cpu = (int16_t)cpu_index();
    emit(r, &e, BOUND + e.ext_len);
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

static void release(Recorder *r)
{
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    g_clear_pointer(&r->buf, g_free);
    g_clear_pointer(&r->path, g_free);
}

bool record_start(const char *path, RecordData data, const MachineConfig *cfg,
                  GError **errp)
{
    TraceHeader h;
    g_autoptr(GByteArray) hdr = g_byte_array_new();
    Recorder *r = &rec;
    BndHook hook = rec_hook, dma_hook = rec_dma_hook;

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
    r->write_errno = 0;
    r->written = 0;
    r->digest_pending = false;
    trace_digest_init(&r->digest_start, 0);
    r->digest = r->digest_start;
    r->next_checkpoint = RECORD_CHECKPOINT_INTERVAL;
    memset(r->kinds, 0, sizeof(r->kinds));
    memset(&r->st, 0, sizeof(r->st));
    write_all(r, hdr->data, hdr->len);
    r->full_data = h.full_data;
    r->codec.full_data = h.full_data;
    r->codec.smp = h.smp;
    trace_codec_reset(&r->codec, 0, h.start_time);
    trace_header_clear(&h);
    r->cap = RECORD_BUFFER;
    r->buf = g_malloc(r->cap);
    r->len = 0;
    open_chunk(r);
    r->path = g_strdup(path);
    hook.opaque = r;
    dma_hook.opaque = r;
    if (!bnd_hook_add(&hook)) {
        goto too_many;
    }
    if (!bnd_hook_add(&dma_hook)) {
        bnd_hook_remove(&hook);
        goto too_many;
    }
    r->active = true;
    r->host_start = g_get_monotonic_time();
    return true;

too_many:
    g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                "-record: too many boundary hooks");
    release(r);
    return false;
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
    BndHook hook = rec_hook, dma_hook = rec_dma_hook;
    TraceEvent end = {
        .type = TT_END,
        .cpu = -1,
        .exit_code = exit_code,
        .stop_reason = (uint32_t)stop,
    };
    bool ok;

    if (!r->active) {
        return true;
    }
    hook.opaque = r;
    dma_hook.opaque = r;
    bnd_hook_remove(&hook);
    bnd_hook_remove(&dma_hook);
    end.time = vclock_now();
    emit(r, &end, BOUND);
    seal_chunk(r);
    flush_buffer(r);
    if (close(r->fd) < 0 && !r->write_errno) {
        r->write_errno = errno;
    }
    r->fd = -1;
    r->active = false;
    r->st.bytes = r->written;
    r->st.host_us = g_get_monotonic_time() - r->host_start;
    ok = !r->write_errno;
    if (!ok) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "-record: writing '%s' failed: %s; the trace is "
                    "incomplete",
                    r->path, g_strerror(r->write_errno));
    }
    release(r);
    return ok;
}

void record_get_stats(RecordStats *st)
{
    *st = rec.st;
    /* The hook counts crossings by kind only. */
    st->events = 0;
    for (unsigned k = 0; k < BND_KIND_COUNT; k++) {
        st->events += rec.kinds[k];
    }
    st->records += st->events;
    st->dmas = rec.kinds[BND_DMA_READ] + rec.kinds[BND_DMA_WRITE];
    st->irqs = rec.kinds[BND_IRQ_RAISE];
    if (rec.active) {
        /* What is written so far, and what waits in the buffer. */
        st->bytes = rec.written + rec.len;
        st->host_us = g_get_monotonic_time() - rec.host_start;
    }
}
