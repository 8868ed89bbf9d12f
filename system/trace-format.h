/* SPDX-License-Identifier: MIT */
/*
 * The record/replay trace format (docs/trace-format.md): the file header,
 * the chunks, and the records, with the state both the writer
 * (system/record.c) and the reader (system/trace-reader.c) keep to
 * delta-encode them. One codec serves both sides, so what the writer
 * predicts the reader predicts the same way.
 *
 * A record is a boundary crossing (system/boundary.h: its type is the
 * BndKind) or one of the non-crossing records: SRB annotations, state
 * checkpoints, external records (faults fired, external inputs, interrupt
 * returns, notes) and the end record. Crossings carry the event index
 * implicitly: the n-th crossing of the trace is event n (from 0).
 */
#ifndef SYSTEM_TRACE_FORMAT_H
#define SYSTEM_TRACE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "system/boundary.h"

/* File header: magic, version, header length, TLV fields, checksum. */
#define TRACE_MAGIC        "STMUTRC\n"
#define TRACE_MAGIC_LEN    8
#define TRACE_VERSION      4
#define TRACE_FILE_HDR_LEN 16 /* magic + u32 version + u32 fields length */
#define TRACE_HEADER_MAX   (16u << 20)
#define TRACE_CHECKSUM_LEN 8

/* Chunks: u32 magic, u32 payload length, u64 first event index, u64 time
 * before the first record, u64 checksum; then the payload (records). */
#define TRACE_CHUNK_MAGIC  0x4b4e4843u /* "CHNK" little-endian */
#define TRACE_CHUNK_HDR    32
#define TRACE_CHUNK_TARGET (64u * 1024) /* the writer closes a chunk here */
#define TRACE_CHUNK_MAX    (1u << 30)   /* the reader's limit */

/* Limits the reader enforces on record fields. */
#define TRACE_DMA_MAX  (1ULL << 30)
#define TRACE_EXT_MAX  (1u << 20)
#define TRACE_CDB_MAX  16
#define TRACE_SMP_MAX  64
#define TRACE_ARGV_MAX 4096
#define TRACE_STR_MAX  65536

/* Header TLV tags (docs/trace-format.md, "Header"). */
enum {
    TRACE_TAG_BUILD_ID = 1,
    TRACE_TAG_ARGV = 2,
    TRACE_TAG_SEED = 3,
    TRACE_TAG_SMP = 4,
    TRACE_TAG_DATA_MODE = 5,
    TRACE_TAG_IMAGE = 6,
    TRACE_TAG_PCI_FUNCTION = 7,
    TRACE_TAG_BASE = 8,
    TRACE_TAG_CHECKPOINT_INTERVAL = 9,
    TRACE_TAG_MEM_SIZE = 10,
};

/* Record types: 0..10 are the BndKind values. */
typedef enum TraceType {
    TT_MMIO_READ = BND_MMIO_READ,
    TT_MMIO_WRITE = BND_MMIO_WRITE,
    TT_PIO_READ = BND_PIO_READ,
    TT_PIO_WRITE = BND_PIO_WRITE,
    TT_CFG_READ = BND_CFG_READ,
    TT_CFG_WRITE = BND_CFG_WRITE,
    TT_IRQ_RAISE = BND_IRQ_RAISE,
    TT_IRQ_DELIVER = BND_IRQ_DELIVER,
    TT_DMA_READ = BND_DMA_READ,
    TT_DMA_WRITE = BND_DMA_WRITE,
    TT_SCHED = BND_SCHED,
    TT_SRB_START = 11,
    TT_SRB_DONE = 12,
    TT_CHECKPOINT = 13,
    TT_EXT = 14,
    TT_END = 15,
    /* Not a tag type: a checkpoint tag with its digest flag. */
    TT_DIGEST = 16,
    TT_COUNT = 17
} TraceType;

G_STATIC_ASSERT(BND_KIND_COUNT == 11);
G_STATIC_ASSERT(BND_SCHED == 10);

/* TT_EXT sub-types. */
typedef enum TraceExtKind {
    TRACE_EXT_FAULT = 0,      /* a fault fired: code, description */
    TRACE_EXT_INPUT = 1,      /* an external input entered the machine */
    TRACE_EXT_NOTE = 2,       /* free text */
    TRACE_EXT_IRQ_RETURN = 3, /* an interrupt handler returned: vector */
    TRACE_EXT_KINDS = 4
} TraceExtKind;

/* End record: how the recorded run stopped (MachineStop values). */

static inline bool trace_type_is_crossing(unsigned t)
{
    return t < BND_KIND_COUNT;
}

/* Crossings the device side makes (the rest are the guest's). */
static inline bool trace_type_is_device(unsigned t)
{
    return t == TT_IRQ_RAISE || t == TT_DMA_READ || t == TT_DMA_WRITE;
}

static inline bool trace_type_is_dma(unsigned t)
{
    return t == TT_DMA_READ || t == TT_DMA_WRITE;
}

/* Register-like crossings: carry an access size. */
static inline bool trace_type_is_register(unsigned t)
{
    return t <= TT_CFG_WRITE;
}

/*
 * One decoded record. Which fields mean something depends on the type
 * (docs/trace-format.md, "Records"); the rest are zero.
 */
typedef struct TraceEvent {
    uint8_t type;
    uint8_t size;  /* register access size */
    bool ok;       /* crossings: the machine accepted it */
    bool has_data; /* DMA: the payload (hash, or bytes) is present */
    int16_t cpu;   /* -1: device context */
    uint32_t devfn;
    uint64_t index; /* crossings: the event index; others: the next one */
    uint64_t time;  /* virtual ns */
    uint64_t addr;
    uint64_t value;
    uint64_t len;        /* DMA length */
    uint64_t hash;       /* DMA: data hash (not in the trace with data=hash) */
    const uint8_t *data; /* DMA with data=full: len bytes */
    bool digested;       /* DMA, data=hash: the next digest covers it */

    /* SRB annotations */
    uint64_t req;
    uint32_t xfer; /* start: bytes to move; done: bytes moved */
    uint8_t path, target, lun, function;
    uint8_t cdb_len;
    uint8_t cdb[TRACE_CDB_MAX];
    uint8_t srb_status, scsi_status;

    /* checkpoints; a digest record's value is its digest */
    uint64_t ck_events, ck_yields, ck_switches, ck_fingerprint;

    /* external records */
    uint8_t ext_kind;
    uint32_t ext_code;
    uint32_t ext_len;
    const uint8_t *ext_data;

    /* end */
    int32_t exit_code;
    uint32_t stop_reason;
} TraceEvent;

/*
 * A crossing as a record (without DMA payload: the caller hashes or
 * points at the data). Normalizes what the machine leaves unset: a
 * delivered interrupt is always "ok", a scheduler pick's vCPU is the
 * pick. Shared by the recorder and replay so both see the same record.
 */
static inline void trace_event_from_access(TraceEvent *e, const BndAccess *a,
                                           uint64_t time)
{
    bool dma = a->kind == BND_DMA_READ || a->kind == BND_DMA_WRITE;

    /* Every field a crossing's record has is written: no memset on the
     * recorder's hot path. */
    e->type = (uint8_t)a->kind;
    e->size = a->size;
    e->ok = a->ok || a->kind == BND_IRQ_DELIVER;
    e->has_data = dma && a->data != NULL;
    e->cpu = a->kind == BND_SCHED ? (int16_t)a->value : a->cpu;
    e->devfn = a->devfn;
    e->index = 0;
    e->time = time;
    e->addr = a->addr;
    e->value = a->value;
    e->len = dma || a->kind == BND_SCHED ? a->len : 0;
    e->hash = 0;
    e->data = NULL;
    e->digested = false;
}

/* DMA payloads this short are coded as a value (delta to the last one at
 * the same address), not hashed: a ring index costs a byte, not eight. */
#define TRACE_DMA_SMALL 8

/* The DMA payload of @e: its bytes in the trace, or rebuilt into @tmp
 * for a short one; NULL when the record has none (data=hash, longer). */
const uint8_t *trace_event_payload(const TraceEvent *e,
                                   uint8_t tmp[TRACE_DMA_SMALL]);

/* Load a short payload as the little-endian value records code it as. */
static inline uint64_t trace_small_value(const void *data, uint64_t len)
{
    const uint8_t *p = data;
    uint16_t v16;
    uint32_t v32;
    uint64_t v = 0;

    /* Ring indices, used elements and descriptors: whole loads. */
    switch (len) {
    case 2:
        memcpy(&v16, p, 2);
        return GUINT16_FROM_LE(v16);
    case 4:
        memcpy(&v32, p, 4);
        return GUINT32_FROM_LE(v32);
    case 8:
        memcpy(&v, p, 8);
        return GUINT64_FROM_LE(v);
    default:
        break;
    }
    for (uint64_t i = 0; i < len && i < TRACE_DMA_SMALL; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

/*
 * Slots: addresses used recently, per crossing type, with their last
 * values, size and length, so a repeated register or ring access costs
 * no address. A slot also predicts a stride: after a move (a miss coded
 * against it) it expects its next address one stride further on, which
 * is how a ring's entries are walked. Slots 0-5 are named in the tag,
 * the others in a byte; the least recently used one is reused.
 */
#define TRACE_SLOTS     128
#define TRACE_TAG_SLOTS 6    /* slots the tag names directly */
#define TRACE_SLOT_BYTE 6    /* tag field: the slot follows in a byte */
#define TRACE_SLOT_MISS 7    /* tag field: the address follows */
#define TRACE_SLOT_MAP  1024 /* encoder's address -> slot lookup */
#define TRACE_IRQ_NEST  16

typedef struct TraceSlot {
    uint64_t addr;
    uint64_t next; /* addr + stride: where the next use is predicted */
    int64_t stride;
    uint64_t value;
    uint64_t prev_value; /* the value before it: polls alternate */
    uint64_t dt;         /* time since the record before, last time */
    uint64_t len;
    uint64_t stamp; /* when last used, for reuse */
    uint32_t devfn;
    uint8_t size;
    bool pinned; /* hit at the same address: not moved by a miss */
    bool alt;    /* the value went back to the one before: a poll */
} TraceSlot;

typedef struct TraceCodec {
    /* configuration, kept across resets */
    bool full_data;
    unsigned smp; /* vCPUs, for validation (0: unchecked) */

    uint64_t index; /* event index of the next crossing */
    uint64_t time;  /* time of the last record */
    uint64_t stamp; /* crossings coded since the reset */
    int16_t guest_cpu;
    int16_t irq_cpu;
    TraceSlot slot[BND_KIND_COUNT][TRACE_SLOTS];
    uint8_t used[BND_KIND_COUNT];
    /* of the last miss (a record naming its address) of each type */
    uint64_t last_addr[BND_KIND_COUNT];
    uint64_t last_len[BND_KIND_COUNT];
    uint32_t last_devfn[BND_KIND_COUNT];
    uint8_t last_size[BND_KIND_COUNT];
    uint64_t sched_yield; /* last non-zero yield point of a pick */
    /* Vectors in service per vCPU: an interrupt return names the top. */
    uint8_t in_service[TRACE_SMP_MAX][TRACE_IRQ_NEST];
    uint8_t in_service_depth[TRACE_SMP_MAX];

    uint64_t start_req, done_req;
    uint32_t start_xfer, done_xfer;
    uint8_t path, target, lun, function, cdb_len;
    uint8_t cdb[TRACE_CDB_MAX];

    /* Encoder only: predicted address -> slot + 1 (a hint, checked). */
    uint8_t map[BND_KIND_COUNT][TRACE_SLOT_MAP];
} TraceCodec;

/*
 * DMA digests (data=hash): a DMA record with a payload longer than
 * TRACE_DMA_SMALL carries no hash of its own; the payloads of a run of
 * such DMAs go into a digest, written as a digest record before the next
 * record that is not a DMA (docs/trace-format.md). The record keeps the
 * low 32 bits. A digest is a Fletcher sum of the payloads one after
 * the other, each ended by its length: much cheaper than the hash, which
 * it would otherwise run over every byte a device moves.
 */
typedef struct TraceDigest {
    uint64_t a[4]; /* the words' sums, lane by lane */
    uint64_t b[4]; /* the sums of a after each stripe */
} TraceDigest;
void trace_digest_init(TraceDigest *d, uint64_t seed);
void trace_digest_add(TraceDigest *d, const void *data, size_t n);
uint64_t trace_digest_final(const TraceDigest *d);

/* trace_encode() of the SRB start or done record of @note at @time,
 * without building it (the recorder's notes). */
size_t trace_encode_srb_start(TraceCodec *c, const BndNote *note, uint64_t time,
                              uint8_t *out);
size_t trace_encode_srb_done(TraceCodec *c, const BndNote *note, uint64_t time,
                             uint8_t *out);

/* Start a chunk: index and time of the records before it. */
void trace_codec_reset(TraceCodec *c, uint64_t index, uint64_t time);
/* The same for an encoder that only trace_codec_reset() and this have
 * reset: it leaves the codec as trace_codec_reset() would, at a cost
 * that grows with the slots used, not with the codec's size. */
void trace_enc_reset(TraceCodec *c, uint64_t index, uint64_t time);

/* Bytes trace_encode() may write for @e at most. */
size_t trace_encode_bound(const TraceCodec *c, const TraceEvent *e);
/* Encode @e at @out (room for trace_encode_bound); returns bytes written.
 * Crossings take their index from the codec. */
size_t trace_encode(TraceCodec *c, const TraceEvent *e, uint8_t *out);

/*
 * Decode one record from @p (@n bytes available). Returns the bytes
 * consumed, or 0 with *why set to a static description when the bytes do
 * not form a valid record (truncated, reserved bits, out of range); the
 * codec is then in no defined state. Reads nothing past @n.
 */
size_t trace_decode(TraceCodec *c, const uint8_t *p, size_t n, TraceEvent *e,
                    const char **why);

/* ---- the header ---- */

typedef struct TraceImage {
    char *id;
    char *filename; /* "" for a temporary image */
    uint64_t size;
    uint64_t hash;
    unsigned flags; /* TRACE_IMAGE_* */
} TraceImage;

#define TRACE_IMAGE_READONLY 0x1
#define TRACE_IMAGE_SNAPSHOT 0x2

#define TRACE_PCI_CONFIG 256
#define TRACE_PCI_BARS   6

typedef struct TracePciFunction {
    uint32_t bdf;
    char *name;
    uint8_t config[TRACE_PCI_CONFIG];
    uint64_t bar_size[TRACE_PCI_BARS];
    uint8_t bar_type[TRACE_PCI_BARS];
    uint64_t bar_addr[TRACE_PCI_BARS];
    bool intx_routed;
    uint32_t intx_cpu, intx_vector;
} TracePciFunction;

typedef struct TraceHeader {
    uint32_t version;
    char *build_id;
    GPtrArray *argv; /* char *: the configuration, without argv[0] */
    uint64_t seed;
    unsigned smp;
    uint64_t mem_size;
    bool full_data;
    GArray *images;      /* TraceImage */
    GArray *functions;   /* TracePciFunction */
    uint64_t base_seq;   /* crossings before recording started */
    uint64_t start_time; /* virtual time when it started */
    uint64_t checkpoint_interval;
} TraceHeader;

void trace_header_init(TraceHeader *h);
void trace_header_clear(TraceHeader *h);
/* The whole file header (magic to checksum) appended to @out. */
void trace_header_encode(const TraceHeader *h, GByteArray *out);
/*
 * Parse the file header at the start of @p. Returns the bytes it takes,
 * or 0 with @errp set ("at byte N: ...").
 */
size_t trace_header_decode(const uint8_t *p, size_t n, TraceHeader *h,
                           GError **errp);

/* ---- chunks ---- */

typedef struct TraceChunk {
    uint32_t len;
    uint64_t base_index;
    uint64_t base_time;
    uint64_t checksum;
} TraceChunk;

/* Fill the 32-byte chunk header at @hdr for the payload after it. */
void trace_chunk_seal(uint8_t *hdr, uint32_t len, uint64_t base_index,
                      uint64_t base_time);
/* Parse a chunk header (false: bad magic). */
bool trace_chunk_parse(const uint8_t *hdr, TraceChunk *c);
/* The checksum the chunk at @hdr (header + @len payload bytes) should have. */
uint64_t trace_chunk_checksum(const uint8_t *hdr, uint32_t len);

/* ---- primitives ---- */

/*
 * A fast 64-bit hash of @n bytes (docs/trace-format.md, "Hash"): DMA
 * payloads, image identity, checksums. Not cryptographic; position
 * dependent, so reordered blocks hash differently.
 */
uint64_t trace_hash64(const void *data, size_t n, uint64_t seed);

/* The implementations of trace_hash64(), all with the same result; it
 * picks the fastest the host has. Named for the tests that hold them to
 * the same answer. */
typedef enum TraceHashImpl {
    TRACE_HASH_SCALAR,
    TRACE_HASH_SSE2,
    TRACE_HASH_AVX2,
} TraceHashImpl;
bool trace_hash_impl_available(TraceHashImpl impl);
uint64_t trace_hash64_with(const void *data, size_t n, uint64_t seed,
                           TraceHashImpl impl);
/* trace_digest_add() with a given implementation, for the same tests. */
void trace_digest_add_with(TraceDigest *d, const void *data, size_t n,
                           TraceHashImpl impl);

static inline uint64_t trace_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t trace_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline size_t trace_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Decode a varint; 0 when truncated or longer than 64 bits. */
static inline size_t trace_get_varint(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n && i < 10; i++) {
        uint64_t b = p[i] & 0x7f;
        if (i == 9 && b > 1) {
            return 0;
        }
        v |= b << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

static inline void trace_put_u64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint64_t trace_get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static inline void trace_put_u32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint32_t trace_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Names: "mmio-read", "srb-start"... */
const char *trace_type_name(unsigned type);
const char *trace_ext_name(unsigned kind);

#endif
