/* SPDX-License-Identifier: MIT */
/*
 * Requests and queues: SRB allocation in guest memory, per-LU queues with
 * a queue depth, the start path (HwStorBuildIo + HwStorStartIo through
 * miniport-call.c), completion (RequestComplete records, a per-vCPU DPC
 * finishes), SRB_STATUS_BUSY retry with a fresh SRB extension, adapter and
 * device busy/pause, per-request time-outs with HwStorResetBus, and the
 * poisoning that catches a miniport touching an SRB after completing it.
 */
#include <string.h>
#include "hw/core/ram.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/trace.h"

#define BUSY_RETRY_NS  (NS_PER_MS)
#define BUSY_RETRY_MAX 100

typedef struct CompletionQueue {
    PortWork work; /* first: the work item that drains it */
    unsigned cpu;
    PortRequest *head, *tail;
} CompletionQueue;

static CompletionQueue cq[VCPU_MAX];

/* ---- SRB layout ---- */

#define ALIGN8(x) (((x) + 7u) & ~7u)

typedef struct SrbLayout {
    uint32_t addr_off, cdb_off, total;
} SrbLayout;

/* The port's own extended SRB: the block, its BTL8 address, its CDB16
 * block, each 8-byte aligned. */
#define SRBEX_ADDR_OFF ALIGN8((uint32_t)sizeof(STORAGE_REQUEST_BLOCK))
#define SRBEX_CDB_OFF  ALIGN8(SRBEX_ADDR_OFF + (uint32_t)sizeof(STOR_ADDR_BTL8))
#define SRBEX_TOTAL    (SRBEX_CDB_OFF + (uint32_t)sizeof(SRBEX_DATA_SCSI_CDB16))

static SrbLayout extended_layout(void)
{
    return (SrbLayout){SRBEX_ADDR_OFF, SRBEX_CDB_OFF, SRBEX_TOTAL};
}

static bool use_extended(const PortAdapter *a)
{
    return a->cfg->SrbType == SRB_TYPE_STORAGE_REQUEST_BLOCK;
}

/*
 * Large fills go to libc's memset in chunks below its rep-stosb threshold
 * (2 KiB), where it runs a vector loop: that is as fast on hardware, and
 * callgrind, which the benchmark counts instructions with, counts a rep
 * string instruction once per element. The call goes through a volatile
 * pointer so the compiler cannot expand it inline as rep stosq.
 */
static void *(*volatile fill_fn)(void *, int, size_t) = memset;

static inline void fill_words(void *p, size_t n, uint8_t byte)
{
    uint8_t *b = p;

    for (; n > 2048; b += 2048, n -= 2048) {
        fill_fn(b, byte, 2048);
    }
    if (n) {
        fill_fn(b, byte, n);
    }
}

static void poison_fill(void *p, size_t n)
{
    fill_words(p, n, PORT_POISON_BYTE);
}

/* A 64-byte-aligned SRB of the extended layout (extended_layout().total
 * bytes, a constant): a dozen inline vector stores, not a memset call per
 * I/O. */
typedef uint64_t PoisonVec __attribute__((vector_size(16)));
#define POISON_WORD (0x0101010101010101ULL * PORT_POISON_BYTE)

static inline void poison_fill_srbex(void *srb, size_t total)
{
    const PoisonVec v = {POISON_WORD, POISON_WORD};
    PoisonVec *d = srb;
    size_t i;

    for (i = 0; i < total / 16; i++) {
        d[i] = v;
    }
    if (total % 16) {
        memset((uint8_t *)srb + total - total % 16, PORT_POISON_BYTE,
               total % 16);
    }
}

/* The SRB cache (port.h): SRBs are 64-byte aligned, so the bits above
 * that pick the slot. It only ever holds pairs that are in the map, or
 * an empty slot's address that cannot be looked up there. */
PortSrbCacheSlot port_srb_cache[PORT_SRB_CACHE_SLOTS] = {
    [0] = {.srb = PORT_SRB_CACHE_EMPTY0},
};

static void srb_cache_empty(PortSrbCacheSlot *c)
{
    c->srb = c == port_srb_cache ? PORT_SRB_CACHE_EMPTY0 : NULL;
    c->req = NULL;
}

static void srb_map_insert(PortRequest *req)
{
    PortSrbCacheSlot *c = port_srb_cache_slot(req->srb);

    g_hash_table_insert(port.srb_map, req->srb, req);
    c->srb = req->srb;
    c->req = req;
}

static void srb_map_remove(PortRequest *req)
{
    PortSrbCacheSlot *c = port_srb_cache_slot(req->srb);

    g_hash_table_remove(port.srb_map, req->srb);
    if (c->srb == req->srb) {
        srb_cache_empty(c);
    }
}

/*
 * Storport promises nothing about an SRB extension's contents: a miniport
 * sets what it relies on. So the port never clears one. With the verifier
 * a new extension is poison (and stays so at each start: "Extension
 * poisoning" below), so a field read before it was written reads poison,
 * not a zero that happens to work.
 */
static void *alloc_extension(PortAdapter *a)
{
    ULONG n = a->srb_ext_size;
    void *ext = n ? ram_alloc(n, 64, 0, "srb-extension") : NULL;

    if (ext && port.verifier != VERIFIER_OFF) {
        poison_fill(ext, n);
    }
    return ext;
}

/* What every fill of the request's SRB starts from: zeroes, the layout,
 * the unit's address, OriginalRequest and PENDING. It never changes, so
 * port_request_new builds it once on the host and a fill copies it. */
static void build_srb_base(PortRequest *req, void *srb)
{
    PortLu *lu = req->lu;

    memset(srb, 0, req->srb_bytes);
    if (req->extended) {
        PSTORAGE_REQUEST_BLOCK s = srb;
        SrbLayout l = extended_layout();
        PSTOR_ADDR_BTL8 addr = (PSTOR_ADDR_BTL8)((uint8_t *)s + l.addr_off);
        PSRBEX_DATA_SCSI_CDB16 cdb =
            (PSRBEX_DATA_SCSI_CDB16)((uint8_t *)s + l.cdb_off);

        s->Length = sizeof(STORAGE_REQUEST_BLOCK_HEADER);
        s->Function = SRB_FUNCTION_STORAGE_REQUEST_BLOCK;
        s->Signature = SRB_SIGNATURE;
        s->Version = STORAGE_REQUEST_BLOCK_VERSION_1;
        s->SrbLength = l.total;
        s->AddressOffset = l.addr_off;
        s->NumSrbExData = 1;
        s->SrbExDataOffset[0] = l.cdb_off;
        s->OriginalRequest = req;
        addr->Type = STOR_ADDRESS_TYPE_BTL8;
        addr->AddressLength = STOR_ADDR_BTL8_ADDRESS_LENGTH;
        addr->Path = lu->path;
        addr->Target = lu->target;
        addr->Lun = lu->lun;
        cdb->Type = SrbExDataTypeScsiCdb16;
        cdb->Length = SRBEX_DATA_SCSI_CDB16_LENGTH;
    } else {
        PSCSI_REQUEST_BLOCK s = srb;
        s->Length = sizeof(SCSI_REQUEST_BLOCK);
        s->PathId = lu->path;
        s->TargetId = lu->target;
        s->Lun = lu->lun;
        s->OriginalRequest = req;
    }
    SrbSetSrbStatus(srb, SRB_STATUS_PENDING);
}

static inline bool poison_simd(void);

PortRequest *port_request_new(PortLu *lu)
{
    PortAdapter *a = lu->adapter;
    PortRequest *req = g_new0(PortRequest, 1);
    unsigned elems = a->cfg->NumberOfPhysicalBreaks + 1;
    uint32_t sgl_bytes;

    elems = CLAMP(elems, 1u, 1024u);
    req->lu = lu;
    req->extended = use_extended(a);
    req->poison_avx2 = poison_simd();
    req->srb_bytes = req->extended ? extended_layout().total
                                   : (uint32_t)sizeof(SCSI_REQUEST_BLOCK);
    req->srb = ram_alloc(req->srb_bytes, 64, 0, "srb");
    req->sense = ram_alloc(PORT_SENSE_SIZE, 16, 0, "sense");
    sgl_bytes = (uint32_t)(sizeof(STOR_SCATTER_GATHER_LIST) +
                           elems * sizeof(STOR_SCATTER_GATHER_ELEMENT));
    req->sgl = ram_alloc(sgl_bytes, 16, 0, "sg-list");
    req->sgl_max = elems;
    req->srb_ext = alloc_extension(a);
    if (!req->srb || !req->sense || !req->sgl ||
        (a->srb_ext_size && !req->srb_ext)) {
        void *parts[] = {req->srb, req->sense, req->sgl, req->srb_ext};
        for (unsigned i = 0; i < G_N_ELEMENTS(parts); i++) {
            if (parts[i]) {
                ram_free(parts[i]);
            }
        }
        g_free(req);
        return NULL;
    }
    guest_event_init(&req->event, "request", false);
    req->state = REQ_IDLE;
    req->srb_base = g_malloc(req->srb_bytes);
    build_srb_base(req, req->srb_base);
    srb_map_insert(req);
    return req;
}

/* What poison looks like, for memcmp: the largest piece compared at once. */
static const uint8_t poison[4096] = {[0 ... 4095] = PORT_POISON_BYTE};

/* Offset of the first byte of [p, p+n) that is not poison, or -1. */
static long poison_mismatch_slow(const uint8_t *b, ULONG n)
{
    /* memcmp per 4 KiB piece (vectorized); find the byte only on a miss. */
    for (ULONG off = 0; b && off < n; off += sizeof(poison)) {
        ULONG len = MIN(n - off, (ULONG)sizeof(poison));
        if (memcmp(b + off, poison, len) != 0) {
            for (ULONG i = 0; i < len; i++) {
                if (b[off + i] != PORT_POISON_BYTE) {
                    return (long)(off + i);
                }
            }
        }
    }
    return -1;
}

static inline long poison_mismatch(const void *p, ULONG n)
{
    if (p && n <= sizeof(poison) && memcmp(p, poison, n) == 0) {
        return -1;
    }
    return poison_mismatch_slow(p, n);
}

/*
 * Extension poisoning. Poisoning a whole SRB extension at every completion
 * and checking it at the next start costs two passes over it per I/O, and
 * extensions are large and mostly idle: virtio-scsi's is 2.3 KiB, nearly
 * all an indirect descriptor table of which a 4 KiB request uses three
 * entries. A miniport that keeps using an extension after completing its
 * request writes the fields it writes while it owns one, so the port
 * poisons and checks only the chunks that miniport or device have been
 * seen to write. An extension is poison when allocated and its written
 * chunks are poisoned again at each completion, so a start finds it all
 * poison without a fill, and a chunk was written when it is not poison at
 * completion. The port looks at every completion while the adapter is
 * young and at every EXT_LOOK_EVERY-th after that: a request that writes
 * a new part of the extension (a larger transfer, a rare command) adds it
 * from then on (until then that part keeps what was written there). A
 * BUSY completion poisons the whole extension: the retry replaces it with
 * a new, poisoned one, and nothing may write the old one any more.
 */
#define EXT_CHUNKS      64 /* bits in ext_written */
#define EXT_CHUNK_MIN   64
#define EXT_LOOK_ALWAYS 256
#define EXT_LOOK_EVERY  64
/* Written chunks this close together are poisoned as one run: comparing
 * the bytes between costs less than another memcmp call. */
#define EXT_RUN_GAP 128

static ULONG ext_chunk(ULONG n)
{
    ULONG c = (n + EXT_CHUNKS - 1) / EXT_CHUNKS;
    return MAX((ULONG)EXT_CHUNK_MIN, (c + 63u) & ~63u);
}

static uint64_t ext_all_chunks(ULONG n)
{
    ULONG k = (n + ext_chunk(n) - 1) / ext_chunk(n);
    return k >= EXT_CHUNKS ? ~0ULL : (1ULL << k) - 1;
}

static bool is_poison(const uint8_t *p, ULONG n)
{
    for (ULONG off = 0; off < n; off += sizeof(poison)) {
        if (memcmp(p + off, poison, MIN(n - off, (ULONG)sizeof(poison)))) {
            return false;
        }
    }
    return true;
}

/* The chunks of @ext outside @known that are not poison, @poison_at
 * telling whether a piece is. Unwritten ones are the common case: look at
 * each stretch of unknown chunks at once, and chunk by chunk only in a
 * stretch that is not all poison. */
static inline __attribute__((always_inline)) uint64_t
ext_written_chunks_with(const uint8_t *ext, ULONG n, uint64_t known,
                        bool (*poison_at)(const uint8_t *, ULONG))
{
    ULONG chunk = ext_chunk(n);
    uint64_t unknown = ext_all_chunks(n) & ~known, found = 0;

    while (unknown) {
        unsigned i = (unsigned)__builtin_ctzll(unknown);
        /* unknown >> i has its top i bits clear: the complement is 0 only
         * when every chunk is unknown. */
        uint64_t after = ~(unknown >> i);
        unsigned j = after ? i + (unsigned)__builtin_ctzll(after) : 64;

        if (!poison_at(ext + i * chunk, MIN(j * chunk, n) - i * chunk)) {
            for (unsigned k = i; k < j; k++) {
                ULONG off = k * chunk;
                if (!poison_at(ext + off, MIN(chunk, n - off))) {
                    found |= 1ULL << k;
                }
            }
        }
        unknown = j < 64 ? unknown & (~0ULL << j) : 0;
    }
    return found;
}

static uint64_t ext_written_chunks(const uint8_t *ext, ULONG n, uint64_t known)
{
    return ext_written_chunks_with(ext, n, known, is_poison);
}

/* A chunk mask as byte ranges, kept for the last mask asked about: every
 * request of an adapter uses the same one once it has been learnt. */
typedef struct ExtRuns {
    uint64_t mask;
    ULONG size;
    unsigned count;
    bool short_runs; /* every run 32 to 256 bytes: span_tail() alone */
    ULONG off[EXT_CHUNKS / 2], len[EXT_CHUNKS / 2];
    /* For short runs, worked out once here rather than at each fill and
     * check: the offset of a run's last 32-byte block and how many blocks
     * come before it (SPAN_SHORT). */
    ULONG last[EXT_CHUNKS / 2];
    uint8_t head_blocks[EXT_CHUNKS / 2];
} ExtRuns;

static ExtRuns ext_runs_cache;
/* Counts the builds of ext_runs_cache, from 2: PortRequest.poisoned. */
static uint64_t ext_runs_gen = 2;

static const ExtRuns *G_GNUC_NO_INLINE ext_runs_build(uint64_t mask, ULONG n)
{
    ExtRuns *r = &ext_runs_cache;
    ULONG chunk;

    ext_runs_gen++;
    chunk = ext_chunk(n);
    r->mask = mask;
    r->size = n;
    r->count = 0;
    for (ULONG i = 0; i < EXT_CHUNKS && i * chunk < n; i++) {
        ULONG off = i * chunk, end = MIN(off + chunk, n);
        if (!(mask & (1ULL << i))) {
            continue;
        }
        if (r->count && off - (r->off[r->count - 1] + r->len[r->count - 1]) <=
                            EXT_RUN_GAP) {
            r->len[r->count - 1] = end - r->off[r->count - 1];
        } else {
            r->off[r->count] = off;
            r->len[r->count] = end - off;
            r->count++;
        }
    }
    r->short_runs = true;
    for (unsigned i = 0; i < r->count; i++) {
        r->short_runs &= r->len[i] >= 32 && r->len[i] <= 256;
        r->last[i] = r->off[i] + r->len[i] - MIN(r->len[i], 32u);
        r->head_blocks[i] = (uint8_t)(MIN(r->len[i], 256u) - 1) / 32;
    }
    return r;
}

/* Asked twice per I/O, nearly always for the mask asked last. */
static inline const ExtRuns *ext_runs(uint64_t mask, ULONG n)
{
    if (ext_runs_cache.mask == mask && ext_runs_cache.size == n) {
        return &ext_runs_cache;
    }
    return ext_runs_build(mask, n);
}

/* Offset of the first byte of the @mask chunks of @ext that is not
 * poison, or -1. */
static long chunks_mismatch(const uint8_t *ext, ULONG n, uint64_t mask)
{
    const ExtRuns *r = ext_runs(mask, n);

    for (unsigned i = 0; i < r->count; i++) {
        long bad = poison_mismatch(ext + r->off[i], r->len[i]);
        if (bad >= 0) {
            return (long)r->off[i] + bad;
        }
    }
    return -1;
}

/*
 * The SRB and the extension's runs in one call each at a completion and at
 * the next fill, where the generic path makes a memcmp or memset call per
 * piece: 32-byte loads and stores, two to a round, the last one of a
 * piece overlapping the one before (a piece is at least that long; a
 * shorter one, only possible as an extension's last chunk, a byte at a
 * time). The check only says whether all of it is poison; on a miss the
 * generic path finds the byte to report. A request asks poison_simd() once,
 * when it is made (PortRequest.poison_avx2).
 */
bool port_poison_generic;

#if defined(__x86_64__)
#include <immintrin.h>

static inline bool poison_simd(void)
{
    return !port_poison_generic && __builtin_cpu_supports("avx2");
}

/*
 * OP(offset) over a piece in 32-byte blocks: 256-byte rounds while more
 * than 256 bytes are left (moving @p on), then a jump into a run of
 * blocks whose last ends at the end of the piece, overlapping the one
 * before it (a piece is at least 32 bytes).
 */
#define SPAN_ROUNDS(OP, p, n)                                                  \
    for (; (n) > 256; (p) += 256, (n) -= 256) {                                \
        OP(0), OP(32), OP(64), OP(96);                                         \
        OP(128), OP(160), OP(192), OP(224);                                    \
    }
/* The blocks of a piece of at most 256 bytes before its last: @blocks,
 * (length - 1) / 32, of them. A short run of ext_runs_cache has the count
 * worked out by ext_runs_build(), so no arithmetic and no range test come
 * before the jump. */
#define SPAN_HEAD(OP, blocks)                                                  \
    switch (blocks) {                                                          \
    case 7:                                                                    \
        OP(192);                                                               \
        G_GNUC_FALLTHROUGH;                                                    \
    case 6:                                                                    \
        OP(160);                                                               \
        G_GNUC_FALLTHROUGH;                                                    \
    case 5:                                                                    \
        OP(128);                                                               \
        G_GNUC_FALLTHROUGH;                                                    \
    case 4:                                                                    \
        OP(96);                                                                \
        G_GNUC_FALLTHROUGH;                                                    \
    case 3:                                                                    \
        OP(64);                                                                \
        G_GNUC_FALLTHROUGH;                                                    \
    case 2:                                                                    \
        OP(32);                                                                \
        G_GNUC_FALLTHROUGH;                                                    \
    case 1:                                                                    \
        OP(0);                                                                 \
        G_GNUC_FALLTHROUGH;                                                    \
    case 0:                                                                    \
        break;                                                                 \
    default:                                                                   \
        __builtin_unreachable();                                               \
    }
#define SPAN_TAIL(OP, n)                                                       \
    do {                                                                       \
        SPAN_HEAD(OP, ((n)-1) / 32);                                           \
        OP((long)(n)-32);                                                      \
    } while (0)

/* @acc with the bits of [@p, @p+@n) that differ from poison or'ed in.
 * Up to 256 bytes at a time without a loop: a jump into a run of
 * 32-byte blocks, the last of which ends at the end (the SRB, the
 * extension's runs are a few blocks each, where a loop would cost more
 * than the blocks). */
#define DIFF(off)                                                              \
    acc = _mm256_or_si256(                                                     \
        acc, _mm256_xor_si256(                                                 \
                 _mm256_loadu_si256((const __m256i *)(p + (off))), pv))

/* span_diff() of a piece of 32 to 256 bytes. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
span_diff_short(__m256i acc, const uint8_t *p, ULONG n, __m256i pv)
{
    SPAN_TAIL(DIFF, n);
    return acc;
}

__attribute__((target("avx2"), always_inline)) static inline __m256i
span_diff(__m256i acc, const uint8_t *p, ULONG n, __m256i pv)
{
    if (G_UNLIKELY(n - 32 > 256 - 32)) {
        if (n < 32) {
            uint8_t d = 0;
            for (ULONG i = 0; i < n; i++) {
                d |= p[i] ^ PORT_POISON_BYTE;
            }
            return _mm256_or_si256(acc, _mm256_set1_epi8((char)d));
        }
        SPAN_ROUNDS(DIFF, p, n);
    }
    return span_diff_short(acc, p, n, pv);
}

/* @acc with the bits of the short runs @r of @ext that differ from poison
 * or'ed in. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
runs_diff_short(__m256i acc, const uint8_t *ext, const ExtRuns *r, __m256i pv)
{
    for (unsigned i = 0; i < r->count; i++) {
        const uint8_t *p = ext + r->off[i];
        SPAN_HEAD(DIFF, r->head_blocks[i]);
        p = ext + r->last[i];
        DIFF(0);
    }
    return acc;
}
#undef DIFF

/* Whether the @srb_n bytes at @srb and the runs @r of @ext are all
 * poison. */
__attribute__((target("avx2"))) static bool all_poison_avx2(const uint8_t *srb,
                                                            ULONG srb_n,
                                                            const uint8_t *ext,
                                                            const ExtRuns *r)
{
    __m256i pv = _mm256_set1_epi8((char)PORT_POISON_BYTE), acc;

    /* In a register for good: gcc would build the constant again for each
     * block. */
    __asm__("" : "+x"(pv));
    /* An extended SRB is a constant size: straight-line blocks. */
    acc = srb_n == extended_layout().total
              ? span_diff(_mm256_setzero_si256(), srb, extended_layout().total,
                          pv)
              : span_diff(_mm256_setzero_si256(), srb, srb_n, pv);

    for (unsigned i = 0; r && i < r->count; i++) {
        acc = span_diff(acc, ext + r->off[i], r->len[i], pv);
    }
    return _mm256_testz_si256(acc, acc);
}

/* [@p, @p+@n) made poison, as span_diff() reads it. */
#define FILL(off) _mm256_storeu_si256((__m256i *)(p + (off)), pv)

/* span_fill() of a piece of 32 to 256 bytes. */
__attribute__((target("avx2"), always_inline)) static inline void
span_fill_short(uint8_t *p, ULONG n, __m256i pv)
{
    SPAN_TAIL(FILL, n);
}

__attribute__((target("avx2"), always_inline)) static inline void
span_fill(uint8_t *p, ULONG n, __m256i pv)
{
    if (G_UNLIKELY(n - 32 > 256 - 32)) {
        if (n < 32) {
            memset(p, PORT_POISON_BYTE, n);
            return;
        }
        SPAN_ROUNDS(FILL, p, n);
    }
    span_fill_short(p, n, pv);
}

/* The short runs @r of @ext made poison. */
__attribute__((target("avx2"), always_inline)) static inline void
runs_fill_short(uint8_t *ext, const ExtRuns *r, __m256i pv)
{
    for (unsigned i = 0; i < r->count; i++) {
        uint8_t *p = ext + r->off[i];
        SPAN_HEAD(FILL, r->head_blocks[i]);
        p = ext + r->last[i];
        FILL(0);
    }
}
#undef FILL

/* Poison the @srb_n bytes at @srb and the runs @r of @ext. */
__attribute__((target("avx2"))) static void
fill_poison_avx2(uint8_t *srb, ULONG srb_n, uint8_t *ext, const ExtRuns *r)
{
    __m256i pv = _mm256_set1_epi8((char)PORT_POISON_BYTE);

    __asm__("" : "+x"(pv)); /* as in all_poison_avx2() */
    if (srb_n == extended_layout().total) {
        span_fill(srb, extended_layout().total, pv);
    } else {
        span_fill(srb, srb_n, pv);
    }
    for (unsigned i = 0; r && i < r->count; i++) {
        span_fill(ext + r->off[i], r->len[i], pv);
    }
}
/* is_poison(), a 32-byte block at a time with no call. */
__attribute__((target("avx2"), always_inline)) static inline bool
is_poison_avx2(const uint8_t *p, ULONG n)
{
    __m256i pv = _mm256_set1_epi8((char)PORT_POISON_BYTE), acc;

    acc = span_diff(_mm256_setzero_si256(), p, n, pv);
    return _mm256_testz_si256(acc, acc);
}

#else
static inline bool poison_simd(void)
{
    return false;
}

static bool all_poison_avx2(const uint8_t *srb, ULONG srb_n, const uint8_t *ext,
                            const ExtRuns *r)
{
    g_assert_not_reached();
}

static void fill_poison_avx2(uint8_t *srb, ULONG srb_n, uint8_t *ext,
                             const ExtRuns *r)
{
    g_assert_not_reached();
}
#endif

/* The runs of the request's extension to poison at its completion: what
 * a miniport could still be writing, the whole of it when @all. */
/* Whether the @k-th completion of an adapter looks at which extension
 * chunks the miniport writes, rather than trusting what it learnt. */
static inline bool ext_look_due(uint64_t k)
{
    return k < EXT_LOOK_ALWAYS || k % EXT_LOOK_EVERY == 0;
}

static const ExtRuns *ext_poison_runs(PortRequest *req, bool all)
{
    PortAdapter *a = req->lu->adapter;
    ULONG n = port_request_ext_size(req);

    if (all) {
        req->poison_mask = ext_all_chunks(n);
    } else {
        uint64_t k = a->ext_looks++;
        if (ext_look_due(k)) {
            a->ext_written |=
                ext_written_chunks(req->srb_ext, n, a->ext_written);
        }
        req->poison_mask = a->ext_written;
    }
    return ext_runs(req->poison_mask, n);
}

/* A BUSY retry's replaced extension: any write to it after the retry is a
 * write to memory the miniport no longer owns. */
static void check_stale_extension(PortRequest *req)
{
    long bad;

    if (!req->stale_ext) {
        return;
    }
    /* Not poisoned when the verifier is off (capture_results); all of it
     * otherwise (a BUSY completion). */
    bad = req->poisoned_stale
              ? poison_mismatch(req->stale_ext, port_request_ext_size(req))
              : -1;
    if (bad >= 0) {
        verifier_report(VC_SRB_AFTER_COMPLETION, req,
                        "the SRB extension replaced by a BUSY retry was "
                        "written afterwards (byte %lu changed)",
                        (unsigned long)bad);
    }
    ram_free(req->stale_ext);
    req->stale_ext = NULL;
}

static void check_poison(PortRequest *req)
{
    long bad;

    if (req->stale_ext) {
        check_stale_extension(req);
    }
    if (!req->poisoned) {
        return;
    }
    req->poisoned = 0;
    if (req->poison_avx2 &&
        all_poison_avx2(req->srb, req->srb_bytes, req->srb_ext,
                        req->srb_ext ? ext_runs(req->poison_mask,
                                                port_request_ext_size(req))
                                     : NULL)) {
        return;
    }
    bad = poison_mismatch(req->srb, req->srb_bytes);
    if (bad >= 0) {
        verifier_report(VC_SRB_AFTER_COMPLETION, req,
                        "the SRB was written after it was completed "
                        "(byte %lu changed)",
                        (unsigned long)bad);
        return;
    }
    bad = req->srb_ext
              ? chunks_mismatch(req->srb_ext, port_request_ext_size(req),
                                req->poison_mask)
              : -1;
    if (bad >= 0) {
        verifier_report(VC_SRB_AFTER_COMPLETION, req,
                        "the SRB extension was written after the request "
                        "completed (byte %lu changed)",
                        (unsigned long)bad);
    }
}

void port_request_release(PortRequest *req)
{
    verifier_sg_unmap(req);
    g_free(req->vr);
    g_free(req->srb_save);
    g_free(req->srb_base);
    g_free(req);
}

void port_request_free(PortRequest *req)
{
    if (!req) {
        return;
    }
    g_assert(req->state == REQ_IDLE || req->state == REQ_DONE ||
             req->state == REQ_ABANDONED);
    check_poison(req);
    if (req->state != REQ_ABANDONED) {
        /* An abandoned SRB stays known so a late completion is named. */
        srb_map_remove(req);
        ram_free(req->srb);
        ram_free(req->sense);
        ram_free(req->sgl);
        if (req->srb_ext) {
            ram_free(req->srb_ext);
        }
        port_request_release(req);
    } else {
        req->done = NULL;
    }
}

static void fill_common(PortRequest *req)
{
    check_poison(req);
    memcpy(req->srb, req->srb_base, req->srb_bytes);
}

/* A CDB (6 to 16 bytes) into the zeroed CDB field: two overlapping 8-byte
 * moves from 8 bytes up, not the compiler's ladder of sizes for a
 * variable-length copy. */
static inline void copy_cdb(uint8_t *dst, const uint8_t *src, unsigned n)
{
    if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else {
        memcpy(dst, src, n);
    }
}

/* fill_scsi for an SRB_TYPE_SCSI_REQUEST_BLOCK adapter: apart, as its
 * accessors' register needs would make every fill save registers. */
static G_GNUC_NO_INLINE void fill_scsi_srb(PortRequest *req, const uint8_t *cdb,
                                           unsigned cdb_len, void *buf,
                                           uint32_t len, ULONG flags,
                                           unsigned timeout_s)
{
    memcpy(req->srb, req->srb_base, sizeof(SCSI_REQUEST_BLOCK));
    ((PSCSI_REQUEST_BLOCK)req->srb)->Function = SRB_FUNCTION_EXECUTE_SCSI;
    ((PSCSI_REQUEST_BLOCK)req->srb)->QueueAction = SRB_SIMPLE_TAG_REQUEST;
    SrbAssignSrbFlags(req->srb, flags);
    SrbSetCdbLength(req->srb, (UCHAR)cdb_len);
    copy_cdb(SrbGetCdb(req->srb)->AsByte, cdb, cdb_len);
    SrbSetDataBuffer(req->srb, len ? buf : NULL);
    SrbSetDataTransferLength(req->srb, len);
    SrbSetTimeOutValue(req->srb,
                       timeout_s ? timeout_s : PORT_DEFAULT_TIMEOUT_S);
    SrbSetSenseInfoBuffer(req->srb, req->sense);
    SrbSetSenseInfoBufferLength(req->srb, PORT_SENSE_SIZE);
}

static inline __attribute__((always_inline)) ULONG scsi_flags(PortXfer dir)
{
    ULONG flags = SRB_FLAGS_QUEUE_ACTION_ENABLE;

    if (dir == PORT_XFER_IN) {
        flags |= SRB_FLAGS_DATA_IN;
    } else if (dir == PORT_XFER_OUT) {
        flags |= SRB_FLAGS_DATA_OUT;
    } else {
        flags |= SRB_FLAGS_NO_DATA_TRANSFER;
    }
    return flags;
}

/* An extended SRB's own fields, once srb_base is copied in. The port lays
 * this SRB out itself: write the CDB block directly rather than searching
 * the SrbExData list for it once per field. */
static inline __attribute__((always_inline)) void
fill_scsi_ex(PortRequest *req, const uint8_t *cdb, unsigned cdb_len, void *buf,
             uint32_t len, ULONG flags, unsigned timeout_s)
{
    PSTORAGE_REQUEST_BLOCK s = req->srb;
    PSRBEX_DATA_SCSI_CDB16 d =
        (PSRBEX_DATA_SCSI_CDB16)((uint8_t *)s + extended_layout().cdb_off);

    s->SrbFunction = SRB_FUNCTION_EXECUTE_SCSI;
    s->SrbFlags = flags;
    s->DataBuffer = len ? buf : NULL;
    s->DataTransferLength = len;
    s->TimeOutValue = timeout_s ? timeout_s : PORT_DEFAULT_TIMEOUT_S;
    d->CdbLength = (UCHAR)cdb_len;
    copy_cdb(d->Cdb, cdb, cdb_len);
    d->SenseInfoBuffer = req->sense;
    d->SenseInfoBufferLength = PORT_SENSE_SIZE;
}

/* port_request_scsi's SRB fill, once the old contents are checked. */
static inline __attribute__((always_inline)) void
fill_scsi(PortRequest *req, const uint8_t *cdb, unsigned cdb_len, void *buf,
          uint32_t len, PortXfer dir, unsigned timeout_s)
{
    /* fill_common, with the size of the copy known here so that it is
     * inline moves, not a memcpy call per I/O. */
    if (req->extended) {
        memcpy(req->srb, req->srb_base, extended_layout().total);
        fill_scsi_ex(req, cdb, cdb_len, buf, len, scsi_flags(dir), timeout_s);
        return;
    }
    fill_scsi_srb(req, cdb, cdb_len, buf, len, scsi_flags(dir), timeout_s);
}

static inline __attribute__((always_inline)) void
request_scsi_asserts(PortRequest *req, unsigned cdb_len)
{
    g_assert(req->state == REQ_IDLE || req->state == REQ_DONE);
    g_assert(cdb_len <= 16);
    /* That @buf is guest memory (port-api.h) is tested as the request
     * starts, by build_sgl, which must look at it then anyway. */
}

/* port_request_scsi's direction and time-out in one argument for the
 * checked paths: with a seventh argument, on the stack, the AVX2 fast
 * path's tail call to the generic one makes gcc realign its stack and
 * save half the registers (some 20 instructions per I/O). */
typedef uint64_t ScsiHow;

static inline ScsiHow scsi_how(PortXfer dir, unsigned timeout_s)
{
    return (uint64_t)timeout_s << 32 | (uint32_t)dir;
}

static inline PortXfer how_dir(ScsiHow how)
{
    return (PortXfer)(uint32_t)how;
}

static inline unsigned how_timeout(ScsiHow how)
{
    return (unsigned)(how >> 32);
}

/* A request whose SRB may hold poison or a stale extension to check
 * first (with the verifier, every request after its first), and one
 * with nothing to check, which then makes no call and saves no
 * registers: port_request_scsi picks one and jumps to it. */
static G_GNUC_NO_INLINE void request_scsi_checked(PortRequest *req,
                                                  const uint8_t *cdb,
                                                  unsigned cdb_len, void *buf,
                                                  uint32_t len, ScsiHow how)
{
    request_scsi_asserts(req, cdb_len);
    check_poison(req);
    fill_scsi(req, cdb, cdb_len, buf, len, how_dir(how), how_timeout(how));
}

static G_GNUC_NO_INLINE void
request_scsi_clean(PortRequest *req, const uint8_t *cdb, unsigned cdb_len,
                   void *buf, uint32_t len, PortXfer dir, unsigned timeout_s)
{
    request_scsi_asserts(req, cdb_len);
    fill_scsi(req, cdb, cdb_len, buf, len, dir, timeout_s);
}

#if defined(__x86_64__)
/* The fast paths below copy and fill the SRB in one run of blocks. */
G_STATIC_ASSERT(SRBEX_TOTAL >= 32 && SRBEX_TOTAL <= 256);

/*
 * request_scsi_checked for the usual poisoned request, one capture_fast
 * poisoned under the runs still cached (so an extended SRB, AVX2, runs
 * of 32 to 256 bytes; port_request_scsi tells by req->poisoned alone),
 * with no stale extension: the check inline, so the request's arguments
 * stay in their registers across it rather than being saved around two
 * calls. Anything else, or poison that is not intact, goes to
 * request_scsi_checked, which looks again and reports: as a tail call,
 * nothing here lives across a call.
 */
__attribute__((target("avx2"))) static G_GNUC_NO_INLINE void
request_scsi_checked_avx2(PortRequest *req, const uint8_t *cdb,
                          unsigned cdb_len, void *buf, uint32_t len,
                          ScsiHow how)
{
    __m256i pv = _mm256_set1_epi8((char)PORT_POISON_BYTE), acc;
    const uint8_t *ext = req->srb_ext;
    const ExtRuns *r = &ext_runs_cache;

    if (G_UNLIKELY(req->stale_ext)) {
        request_scsi_checked(req, cdb, cdb_len, buf, len, how);
        return;
    }
    __asm__("" : "+x"(pv)); /* as in all_poison_avx2() */
    acc = span_diff(_mm256_setzero_si256(), req->srb, extended_layout().total,
                    pv);
    if (ext) {
        acc = runs_diff_short(acc, ext, r, pv);
    }
    if (G_UNLIKELY(!_mm256_testz_si256(acc, acc))) {
        request_scsi_checked(req, cdb, cdb_len, buf, len, how);
        return;
    }
    request_scsi_asserts(req, cdb_len);
    req->poisoned = 0;
    {
        /* srb_base in 32-byte moves (the compiler's memcpy makes 16-byte
         * ones), the last overlapping the one before: no rounds, as the
         * SRB is 32 to 256 bytes (asserted above). */
        const uint8_t *b = req->srb_base;
        uint8_t *d = req->srb;
        ULONG n = extended_layout().total;
#define COPY(off)                                                              \
    _mm256_storeu_si256((__m256i *)(d + (off)),                                \
                        _mm256_loadu_si256((const __m256i *)(b + (off))))
        SPAN_TAIL(COPY, n);
#undef COPY
    }
    fill_scsi_ex(req, cdb, cdb_len, buf, len, scsi_flags(how_dir(how)),
                 how_timeout(how));
}
#else
static void request_scsi_checked_avx2(PortRequest *req, const uint8_t *cdb,
                                      unsigned cdb_len, void *buf, uint32_t len,
                                      ScsiHow how)
{
    g_assert_not_reached();
}
#endif

void port_request_scsi(PortRequest *req, const uint8_t *cdb, unsigned cdb_len,
                       void *buf, uint32_t len, PortXfer dir,
                       unsigned timeout_s)
{
    /* What check_poison looks at. */
    if (req->poisoned == ext_runs_gen) {
        request_scsi_checked_avx2(req, cdb, cdb_len, buf, len,
                                  scsi_how(dir, timeout_s));
    } else if (req->stale_ext || req->poisoned) {
        request_scsi_checked(req, cdb, cdb_len, buf, len,
                             scsi_how(dir, timeout_s));
    } else {
        request_scsi_clean(req, cdb, cdb_len, buf, len, dir, timeout_s);
    }
}

void port_request_function(PortRequest *req, uint8_t function)
{
    g_assert(req->state == REQ_IDLE || req->state == REQ_DONE);
    fill_common(req);
    if (req->extended) {
        ((PSTORAGE_REQUEST_BLOCK)req->srb)->SrbFunction = function;
    } else {
        ((PSCSI_REQUEST_BLOCK)req->srb)->Function = function;
    }
    SrbAssignSrbFlags(req->srb, SRB_FLAGS_NO_DATA_TRANSFER);
    SrbSetTimeOutValue(req->srb, PORT_DEFAULT_TIMEOUT_S);
}

UCHAR port_request_opcode(const PortRequest *req)
{
    PCDB cdb = SrbGetCdbLength(req->srb) ? SrbGetCdb(req->srb) : NULL;
    return cdb ? cdb->AsByte[0] : 0;
}

/* Out of line even here: inlined, its call and registers would be paid
 * on the cache hit of StorPortGetScatterGatherList and
 * port_complete_from_miniport, once per I/O each. */
G_GNUC_NO_INLINE PortRequest *port_request_from_srb_slow(PVOID srb)
{
    PortSrbCacheSlot *c;
    PortRequest *req;

    if (!srb) {
        return NULL;
    }
    req = g_hash_table_lookup(port.srb_map, srb);
    if (req) {
        c = port_srb_cache_slot(srb);
        c->srb = srb;
        c->req = req;
    }
    return req;
}

/* ---- starting ---- */

/* The unit's pending queue: intrusive, so queueing allocates nothing. */
static void pending_push_tail(PortLu *lu, PortRequest *req)
{
    req->qnext = NULL;
    lu->adapter->pending++;
    if (lu->pending_tail) {
        lu->pending_tail->qnext = req;
    } else {
        lu->pending_head = req;
    }
    lu->pending_tail = req;
}

static void pending_push_head(PortLu *lu, PortRequest *req)
{
    lu->adapter->pending++;
    req->qnext = lu->pending_head;
    lu->pending_head = req;
    if (!lu->pending_tail) {
        lu->pending_tail = req;
    }
}

static PortRequest *pending_pop(PortLu *lu)
{
    PortRequest *req = lu->pending_head;

    if (req) {
        lu->adapter->pending--;
        lu->pending_head = req->qnext;
        if (!lu->pending_head) {
            lu->pending_tail = NULL;
        }
        req->qnext = NULL;
    }
    return req;
}

PortRequest *port_lu_pending_pop(PortLu *lu)
{
    return pending_pop(lu);
}

static G_GNUC_NO_INLINE bool lu_can_start_held(PortLu *lu)
{
    PortAdapter *a = lu->adapter;
    PortRequest *head = lu->pending_head;

    if (a->holding) {
        /* Power transition: the port's flush and shutdown requests (put
         * at the head) go through; class requests wait. */
        return head && head->internal && a->state == ADAPTER_RUNNING &&
               lu->outstanding < lu->depth && a->outstanding < a->max_io;
    }
    /* MaxNumberOfIO: the rest wait here; a completion on any unit
     * restarts every queue (finish_request). */
    return a->state == ADAPTER_RUNNING && !a->paused && !a->busy &&
           !a->resetting && vclock_now() >= a->reset_hold_until &&
           !lu->paused && !lu->busy && !lu->retry_hold &&
           lu->outstanding < lu->depth && a->outstanding < a->max_io;
}

/* The four flags of each held_any word fill it, no more. */
G_STATIC_ASSERT(sizeof(bool) == 1);
G_STATIC_ASSERT(sizeof(((PortLu *)0)->held_any) == 4 * sizeof(bool));

/* Asked for every request: with no adapter flag set (held_any) the test
 * above without them (lu_can_start_unheld()), inline;
 * lu_can_start_held() answers the rest. */
static inline __attribute__((always_inline)) bool
lu_can_start_unheld(PortLu *lu, PortAdapter *a)
{
    return a->state == ADAPTER_RUNNING && !lu->held_any &&
           lu->outstanding < lu->depth && a->outstanding < a->max_io &&
           vclock_now() >= a->reset_hold_until;
}

static inline __attribute__((always_inline)) bool lu_can_start(PortLu *lu)
{
    PortAdapter *a = lu->adapter;

    if (G_LIKELY(!a->held_any)) {
        return lu_can_start_unheld(lu, a);
    }
    return lu_can_start_held(lu);
}

/* A data buffer that is not @len bytes of guest memory: the class
 * layer's (port-api.h), or one a miniport left in an SRB it returned
 * BUSY, or wrote into an SRB it kept after completing it. Refused, or,
 * for NULL, sent without an SG list; it is guest input either way, so
 * never an abort. Out of line: no valid buffer pays for it. */
static G_GNUC_NO_INLINE int build_sgl_bad(PVOID buf)
{
    return buf ? -1 : 0;
}

/* Build the SG list for the request's data buffer, @len bytes at @buf.
 * Guest RAM is one physically contiguous region, so a buffer is one
 * element, as a DMA adapter would merge contiguous pages. Returns the
 * number of elements (0 without data; then *@gpa is the element's
 * address), or -1 for a buffer outside guest RAM. */
static inline __attribute__((always_inline)) int
build_sgl(PortRequest *req, PVOID buf, ULONG len, uint64_t *gpa)
{
    PSTOR_SCATTER_GATHER_LIST sgl = req->sgl;

    sgl->NumberOfElements = 0;
    if (!len) {
        return 0;
    }
    if (G_UNLIKELY(!buf || !ram_gpa(buf, gpa) || !ram_contains(buf, len))) {
        return build_sgl_bad(buf);
    }
    sgl->List[0].PhysicalAddress.QuadPart = (LONGLONG)*gpa;
    sgl->List[0].Length = len;
    sgl->NumberOfElements = 1;
    return 1;
}

static void finish_request(PortRequest *req);

/*
 * Whether an extended SRB of an EXECUTE_SCSI request still has the layout
 * the port gave it (fill_common): then its CDB block is where the port put
 * it, and what SrbGetScsiData would find by walking the SrbExData list.
 * A miniport that rewrote the header gets the walk.
 */
static inline bool srbex_as_built(PVOID srb)
{
    PSTORAGE_REQUEST_BLOCK s = srb;
    SrbLayout l = extended_layout();
    PSRBEX_DATA d = (PSRBEX_DATA)((uint8_t *)s + l.cdb_off);

    return s->Function == SRB_FUNCTION_STORAGE_REQUEST_BLOCK &&
           s->SrbFunction == SRB_FUNCTION_EXECUTE_SCSI &&
           s->SrbLength == l.total && s->NumSrbExData == 1 &&
           s->SrbExDataOffset[0] == l.cdb_off &&
           d->Type == SrbExDataTypeScsiCdb16;
}

/*
 * RequestComplete: the request is the port's again. Take the results out
 * of the SRB now and poison it (and what is used of the extension), so a
 * miniport that touches either afterwards is caught, however soon after.
 * A BUSY request will be sent again: keep a snapshot of its SRB to
 * restore.
 */
/* The results of an extended SRB laid out as the port built it (the CDB
 * block where it put it); returns the sense buffer length. */
static inline UCHAR capture_built(PortRequest *req, PSTORAGE_REQUEST_BLOCK s)
{
    PSRBEX_DATA_SCSI_CDB16 d =
        (PSRBEX_DATA_SCSI_CDB16)((uint8_t *)s + extended_layout().cdb_off);

    req->srb_status = s->SrbStatus;
    req->scsi_status = d->ScsiStatus;
    req->transferred = s->DataTransferLength;
    return d->SenseInfoBufferLength;
}

static inline __attribute__((always_inline)) void
capture_results_body(PortRequest *req, bool verify)
{
    PVOID srb = req->srb;
    UCHAR sense_len = 0;

    if (req->extended && srbex_as_built(srb)) {
        sense_len = capture_built(req, srb);
    } else {
        req->srb_status = SrbGetSrbStatus(srb);
        if (req->extended) {
            /* One walk of the SrbExData list for both fields. */
            SrbGetScsiData(srb, NULL, NULL, &req->scsi_status, NULL,
                           &sense_len);
        } else {
            req->scsi_status = SrbGetScsiStatus(srb);
            sense_len = SrbGetSenseInfoBufferLength(srb);
        }
        req->transferred = SrbGetDataTransferLength(srb);
    }
    req->sense_len = 0;
    if (req->srb_status & SRB_STATUS_AUTOSENSE_VALID) {
        req->sense_len = MIN(sense_len, PORT_SENSE_SIZE);
        memcpy(req->sense_copy, req->sense, req->sense_len);
    }
    if (SRB_STATUS(req->srb_status) == SRB_STATUS_BUSY) {
        if (!req->srb_save) {
            req->srb_save = g_malloc(req->srb_bytes);
        }
        memcpy(req->srb_save, srb, req->srb_bytes);
    }
    /* Poisoning is the verifier's check: a run without it does not pay for
     * three passes over every SRB and extension. */
    if (verify) {
        const ExtRuns *r =
            req->srb_ext ? ext_poison_runs(req, SRB_STATUS(req->srb_status) ==
                                                    SRB_STATUS_BUSY)
                         : NULL;

        if (req->poison_avx2) {
            fill_poison_avx2(srb, req->srb_bytes, req->srb_ext, r);
        } else {
            if (req->extended) {
                poison_fill_srbex(srb, extended_layout().total);
            } else {
                poison_fill(srb, req->srb_bytes);
            }
            for (unsigned i = 0; r && i < r->count; i++) {
                poison_fill((uint8_t *)req->srb_ext + r->off[i], r->len[i]);
            }
        }
        req->poisoned = 1;
    }
    if (req->sg_mapped) {
        verifier_sg_unmap(req);
    }
    req->state = REQ_COMPLETING;
}

static G_GNUC_NO_INLINE void capture_results(PortRequest *req)
{
    capture_results_body(req, port.verifier != VERIFIER_OFF);
}

#if defined(__x86_64__)
/* Whether the runs @r, cached, are those of @mask for an extension of @n
 * bytes, each short: the fast paths' blocks. */
static inline bool ext_runs_fast(const ExtRuns *r, uint64_t mask, ULONG n)
{
    return r->mask == mask && r->size == n && r->short_runs;
}

/* The fast capture and fill, once capture_results_avx2 (or its look) has
 * found it applies: the fill inline, with no call for anything, where
 * the generic path saves registers and makes a call per piece. */
__attribute__((target("avx2"), always_inline)) static inline void
capture_fast(PortRequest *req, PortAdapter *a, uint8_t *ext, const ExtRuns *r,
             uint64_t k)
{
    __m256i pv;

    capture_built(req, req->srb);
    req->sense_len = 0;
    if (ext) {
        a->ext_looks = k + 1;
        req->poison_mask = a->ext_written;
    }
    pv = _mm256_set1_epi8((char)PORT_POISON_BYTE);
    __asm__("" : "+x"(pv)); /* as in all_poison_avx2() */
    span_fill_short(req->srb, SRBEX_TOTAL, pv);
    if (ext) {
        runs_fill_short(ext, r, pv);
    }
    req->poisoned = ext_runs_gen;
    verifier_sg_unmap(req);
    req->state = REQ_COMPLETING;
}

/* capture_results_avx2 at a completion due a look (ext_poison_runs): a
 * call apart, so that the usual completion saves no registers for it. A
 * look that finds nothing new leaves the runs as they are; one that does
 * (rare) is made again by capture_results, which learns it. */
__attribute__((target("avx2"))) static G_GNUC_NO_INLINE void
capture_results_looking(PortRequest *req, PortAdapter *a, uint8_t *ext,
                        uint64_t k)
{
    const ExtRuns *r = &ext_runs_cache;
    ULONG n = port_request_ext_size(req);

    if (ext_written_chunks_with(ext, n, a->ext_written, is_poison_avx2) ||
        !ext_runs_fast(r, a->ext_written, n)) {
        capture_results(req);
        return;
    }
    capture_fast(req, a, ext, r, k);
}

/*
 * capture_results for the usual completion with the verifier on: an
 * extended SRB as the port built it, without sense data, not BUSY, and an
 * extension whose runs are the cached ones (and, when a look is due, in
 * which the look finds no new chunk written). Anything else goes to
 * capture_results.
 */
__attribute__((target("avx2"))) static G_GNUC_NO_INLINE void
capture_results_avx2(PortRequest *req)
{
    PSTORAGE_REQUEST_BLOCK s = req->srb;
    PortAdapter *a = req->lu->adapter;
    const ExtRuns *r = &ext_runs_cache;
    uint8_t *ext = req->srb_ext;
    uint64_t k = a->ext_looks;

    if (G_UNLIKELY(!req->extended || !srbex_as_built(s) ||
                   (s->SrbStatus & SRB_STATUS_AUTOSENSE_VALID) ||
                   SRB_STATUS(s->SrbStatus) == SRB_STATUS_BUSY)) {
        capture_results(req);
        return;
    }
    if (ext) {
        if (G_UNLIKELY(ext_look_due(k))) {
            capture_results_looking(req, a, ext, k);
            return;
        }
        if (G_UNLIKELY(!ext_runs_fast(r, a->ext_written,
                                      port_request_ext_size(req)))) {
            capture_results(req);
            return;
        }
    }
    capture_fast(req, a, ext, r, k);
}
#else
static void capture_results_avx2(PortRequest *req)
{
    g_assert_not_reached();
}
#endif

/* A request start_one() will not hand to the miniport: INVALID_REQUEST,
 * finished as one that was outstanding. */
static G_GNUC_NO_INLINE void start_refused(PortRequest *req)
{
    SrbSetSrbStatus(req->srb, SRB_STATUS_INVALID_REQUEST);
    capture_results(req);
    req->lu->outstanding++;
    req->lu->adapter->outstanding++;
    finish_request(req);
}

/* Inline in port_submit(), which starts nearly every request itself. */
static inline __attribute__((always_inline)) void start_one(PortRequest *req)
{
    PortLu *lu = req->lu;
    PortAdapter *a = lu->adapter;
    ULONG len = SrbGetDataTransferLength(req->srb);
    uint64_t gpa = 0;
    int nsg;

    BND_NOTE_SRB_START(req->id, cpu_index(), lu->path, lu->target, lu->lun,
                       (uint8_t)SrbGetSrbFunction(req->srb),
                       SrbGetCdbLength(req->srb) ? SrbGetCdb(req->srb) : NULL,
                       SrbGetCdbLength(req->srb), len);
    if (a->cfg->MaximumTransferLength && len > a->cfg->MaximumTransferLength) {
        /* The class layer must split; the port refuses, as Windows'
         * would fail an oversized request. */
        start_refused(req);
        return;
    }
    nsg = build_sgl(req, SrbGetDataBuffer(req->srb), len, &gpa);
    if (nsg < 0) {
        start_refused(req);
        return;
    }
    /* Mapped as the list is built, from what was written to it: nothing
     * from here to the miniport's call makes a DMA or yields, so the
     * verifier sees the same ranges as if it were mapped last. */
    if (port.verifier != VERIFIER_OFF && nsg) {
        verifier_sg_map_one(req, gpa, len);
    }
    if (req->extended) {
        ((PSTORAGE_REQUEST_BLOCK)req->srb)->MiniportContext = req->srb_ext;
    } else {
        ((PSCSI_REQUEST_BLOCK)req->srb)->SrbExtension = req->srb_ext;
    }
    req->deadline =
        vclock_now() + (uint64_t)SrbGetTimeOutValue(req->srb) * NS_PER_SEC;
    lu->outstanding++;
    a->outstanding++;
    a->started++;
    lu->started_requests++;
    TRACE(port_start, "req=%" G_GUINT64_FORMAT " lu=%u:%u:%u op=0x%02x",
          req->id, lu->path, lu->target, lu->lun, port_request_opcode(req));
    port_tick_arm(a);
    mp_start_request(a, req);
}

void port_start_next(PortLu *lu)
{
    while (lu->pending_head && lu_can_start(lu)) {
        start_one(pending_pop(lu));
    }
}

void port_restart_all_queues(PortAdapter *a)
{
    GHashTableIter it;
    gpointer k, v;

    if (!a->pending) {
        return; /* the common case after a completion: nothing waits */
    }
    /* Every unit the port knows, including one being probed during
     * enumeration, which is not in a->lus yet. */
    g_hash_table_iter_init(&it, a->lu_map);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        port_start_next(v);
    }
}

void port_submit(PortRequest *req, PortDoneFunc *done, void *opaque)
{
    PortLu *lu = req->lu;
    PortAdapter *a = lu->adapter;
    int cpu = cpu_index();

    g_assert(cpu >= 0);
    cpu_yield("port_submit");
    g_assert(req->state == REQ_IDLE || req->state == REQ_DONE);
    req->done = done;
    req->opaque = opaque;
    req->cpu = (unsigned)cpu;
    req->id = ++port.next_request_id;
    req->busy_retries = 0;
    req->reset_seen = false;
    guest_event_clear(&req->event);
    /* Nearly every request: nothing holds the adapter, so no power
     * transition puts this one at the head; it runs, so it is neither
     * failed nor removed; nothing waits on the unit and it can start one.
     * What the tests and the queue below would do, without them. */
    if (G_LIKELY(!a->held_any && !lu->pending_head &&
                 lu_can_start_unheld(lu, a))) {
        req->state = REQ_QUEUED;
        start_one(req);
        return;
    }
    if (a->state == ADAPTER_FAILED || a->state == ADAPTER_REMOVED) {
        check_poison(req);
        SrbSetSrbStatus(req->srb, SRB_STATUS_NO_DEVICE);
        capture_results(req);
        lu->outstanding++;
        a->outstanding++;
        finish_request(req);
        return;
    }
    req->state = REQ_QUEUED;
    /* The unit could not start it at once (tested above, and nothing
     * changed since): it waits, unless the queue lets it through. */
    if (req->internal && a->holding) {
        pending_push_head(lu, req);
    } else {
        pending_push_tail(lu, req);
    }
    port_start_next(lu);
}

static void wake_waiter(PortRequest *req, void *opaque)
{
    guest_event_set(&req->event);
}

void port_execute(PortRequest *req)
{
    port_submit(req, wake_waiter, NULL);
    guest_event_wait(&req->event);
}

/* ---- completion ---- */

void port_complete_from_miniport(PortAdapter *a, PVOID srb)
{
    PortRequest *req = port_request_from_srb(srb);
    UCHAR st;
    int cpu = cpu_index();
    CompletionQueue *q;

    if (!req || req->lu->adapter != a) {
        verifier_report(VC_UNKNOWN_SRB, NULL,
                        "RequestComplete for SRB %p, which the port never "
                        "gave this adapter",
                        srb);
        return;
    }
    switch (req->state) {
    case REQ_STARTING:
    case REQ_ACTIVE:
        break;
    case REQ_ABANDONED:
        verifier_report(VC_REQUEST_HANG, req,
                        "RequestComplete for a request the port already "
                        "failed after its time-out and reset");
        return;
    case REQ_QUEUED:
    case REQ_IDLE:
        verifier_report(VC_UNKNOWN_SRB, req,
                        "RequestComplete for a request the miniport was "
                        "never given");
        return;
    default:
        verifier_report(VC_DOUBLE_COMPLETION, req,
                        "RequestComplete for a request already completed");
        return;
    }
    st = SRB_STATUS(SrbGetSrbStatus(srb));
    if (st == SRB_STATUS_PENDING) {
        verifier_report(VC_BAD_CALL, req,
                        "RequestComplete with SRB_STATUS_PENDING");
    } else if (st == SRB_STATUS_BUSY && !req->in_startio) {
        verifier_report(VC_BUSY_MID_TRANSACTION, req,
                        "SRB_STATUS_BUSY after HwStorStartIo returned: "
                        "the transaction had started");
    }
    if (port.verifier == VERIFIER_OFF) {
        /* Without the poisoning, inline: one call less per I/O. */
        capture_results_body(req, false);
    } else if (req->poison_avx2) {
        capture_results_avx2(req);
    } else {
        capture_results(req);
    }
    TRACE(port_complete, "req=%" G_GUINT64_FORMAT " status=0x%02x", req->id,
          req->srb_status);
    q = &cq[cpu < 0 ? 0 : cpu];
    if (q->tail) {
        q->tail->next = req;
    } else {
        q->head = req;
    }
    q->tail = req;
    /* Queued already for the earlier completions of a DPC's batch. */
    if (!q->work.queued) {
        port_work_queue(&q->work, q->cpu);
    }
}

static void busy_retry(PortRequest *req)
{
    PortLu *lu = req->lu;
    PortAdapter *a = lu->adapter;

    a->busy_returns++;
    if (++req->busy_retries > BUSY_RETRY_MAX) {
        /* Give up and let the class driver see BUSY. */
        return;
    }
    /* The SRB goes back as it was; the extension is a fresh one, and the
     * old one stays poisoned until the request completes, so a write to
     * it in between is caught. */
    memcpy(req->srb, req->srb_save, req->srb_bytes);
    SrbSetSrbStatus(req->srb, SRB_STATUS_PENDING);
    check_stale_extension(req);
    req->poisoned_stale = req->poisoned != 0;
    req->poisoned = 0;
    req->stale_ext = req->srb_ext;
    req->srb_ext = alloc_extension(a);
    req->state = REQ_QUEUED;
    pending_push_head(lu, req);
    /* Hold the unit until one of its requests completes (the miniport
     * had no room: retrying at once would only meet BUSY again), or, with
     * none in flight, for a short time. */
    lu->retry_hold = true;
    if (!lu->outstanding && !event_pending(&lu->retry_ev)) {
        event_schedule_in(&lu->retry_ev, BUSY_RETRY_NS);
    }
}

/* The head's clean word of the results a finishing request hands back
 * (port-api.h): set once per request, read by the class layer in place. */
G_STATIC_ASSERT(G_STRUCT_OFFSET(PortRequest, head) == 0);

static inline void note_clean(PortRequest *req)
{
    bool clean = SRB_STATUS(req->srb_status) == SRB_STATUS_SUCCESS &&
                 req->scsi_status == SCSISTAT_GOOD && !req->sense_len;

    req->head.clean = clean ? (uint64_t)1 << 32 | req->transferred : 0;
}

/* Inline in drain_completions(), which finishes nearly every request;
 * finish_request() for the rest. */
static inline __attribute__((always_inline)) void
finish_request_inline(PortRequest *req)
{
    PortLu *lu = req->lu;
    PortAdapter *a = lu->adapter;
    UCHAR st = req->srb_status;

    g_assert(req->state == REQ_COMPLETING);
    g_assert(lu->outstanding > 0 && a->outstanding > 0);
    if (SRB_STATUS(st) == SRB_STATUS_BUSY &&
        (a->state == ADAPTER_FAILED || a->state == ADAPTER_REMOVED)) {
        /* A retry would wait in a queue that never starts again
         * (fail_queued may have run already): fail it as port_submit
         * fails a new request. */
        st = req->srb_status = SRB_STATUS_NO_DEVICE;
        req->scsi_status = 0;
        req->transferred = 0;
        req->sense_len = 0;
    }
    BND_NOTE_SRB_DONE(req->id, cpu_index(), st, req->scsi_status,
                      req->transferred);
    lu->outstanding--;
    a->outstanding--;
    a->completed++;
    lu->completed_requests++;
    /* Any completion on the unit ends a BUSY retry's hold (a retry that
     * needs one more sets it again below). */
    lu->retry_hold = false;
    /* A request sent back with BUSY is not one of the completions a
     * StorPortBusy / StorPortDeviceBusy count waits for. */
    if (SRB_STATUS(st) != SRB_STATUS_BUSY) {
        if (a->busy && a->busy_count && --a->busy_count == 0) {
            a->busy = false;
        }
        if (lu->busy && lu->busy_count && --lu->busy_count == 0) {
            lu->busy = false;
        }
    }
    if (SRB_STATUS(st) == SRB_STATUS_BUSY &&
        req->busy_retries < BUSY_RETRY_MAX) {
        busy_retry(req);
        port_restart_all_queues(a);
        return;
    }
    if (req->stale_ext) {
        check_stale_extension(req);
    }
    if (SRB_STATUS(st) == SRB_STATUS_TIMEOUT ||
        SRB_STATUS(st) == SRB_STATUS_COMMAND_TIMEOUT) {
        a->timeouts++;
    }
    req->state = REQ_DONE;
    TRACE(port_done, "req=%" G_GUINT64_FORMAT " srb=0x%02x scsi=0x%02x len=%lu",
          req->id, req->srb_status, req->scsi_status,
          (unsigned long)req->transferred);
    note_clean(req);
    if (req->done) {
        req->done(req, req->opaque);
    }
    /* Nothing waits after nearly every completion: no call for that. */
    if (a->pending) {
        port_restart_all_queues(a);
    }
}

static void finish_request(PortRequest *req)
{
    finish_request_inline(req);
}

static void drain_completions(PortWork *w)
{
    CompletionQueue *q = (CompletionQueue *)w;
    PortRequest *req;

    while ((req = q->head)) {
        q->head = req->next;
        if (!q->head) {
            q->tail = NULL;
        }
        req->next = NULL;
        finish_request_inline(req);
    }
}

/* g_ptr_array_sort() order of requests: as they were submitted. The SRB
 * table is a hash of guest addresses; what is found in it is put in this
 * order before it is acted on. */
static gint by_submission(gconstpointer a, gconstpointer b)
{
    const PortRequest *x = *(PortRequest *const *)a;
    const PortRequest *y = *(PortRequest *const *)b;

    return x->id < y->id ? -1 : x->id > y->id;
}

void port_complete_all(PortAdapter *a, UCHAR path, UCHAR target, UCHAR lun,
                       UCHAR status)
{
    GHashTableIter it;
    gpointer k, v;
    GPtrArray *hit = g_ptr_array_new();

    g_hash_table_iter_init(&it, port.srb_map);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        PortRequest *req = v;
        PortLu *lu = req->lu;
        if (lu->adapter != a ||
            (req->state != REQ_ACTIVE && req->state != REQ_STARTING)) {
            continue;
        }
        if ((path != SP_UNTAGGED && path != lu->path) ||
            (target != SP_UNTAGGED && target != lu->target) ||
            (lun != SP_UNTAGGED && lun != lu->lun)) {
            continue;
        }
        g_ptr_array_add(hit, req);
    }
    /* Complete in submission order so the result does not depend on the
     * hash table's layout. */
    g_ptr_array_sort(hit, by_submission);
    for (guint i = 0; i < hit->len; i++) {
        PortRequest *req = g_ptr_array_index(hit, i);
        SrbSetSrbStatus(req->srb, status);
        port_complete_from_miniport(a, req->srb);
    }
    g_ptr_array_free(hit, TRUE);
}

/* ---- time-outs ---- */

static void tick_event(void *opaque)
{
    PortAdapter *a = opaque;
    port_work_queue(&a->tick_work, 0);
}

void port_tick_arm(PortAdapter *a)
{
    if (!event_pending(&a->tick_ev)) {
        event_schedule_in(&a->tick_ev, PORT_TICK_NS);
    }
}

static void abandon(PortRequest *req)
{
    PortAdapter *a = req->lu->adapter;

    verifier_report(VC_REQUEST_HANG, req,
                    "request never completed: timed out again after "
                    "HwStorResetBus (opcode 0x%02x)",
                    port_request_opcode(req));
    a->timeouts++;
    req->lu->outstanding--;
    a->outstanding--;
    req->srb_status = SRB_STATUS_TIMEOUT;
    req->scsi_status = 0;
    req->transferred = 0;
    req->sense_len = 0;
    verifier_sg_unmap(req);
    req->state = REQ_ABANDONED;
    note_clean(req);
    if (req->done) {
        req->done(req, req->opaque);
    }
}

static void tick_work(PortWork *w)
{
    PortAdapter *a =
        G_STRUCT_MEMBER_P(w, -(glong)G_STRUCT_OFFSET(PortAdapter, tick_work));
    GHashTableIter it;
    gpointer k, v;
    g_autoptr(GPtrArray) expired = g_ptr_array_new();
    uint64_t now = vclock_now();
    bool need_reset = false;
    ULONG path = 0;

    g_hash_table_iter_init(&it, port.srb_map);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        PortRequest *req = v;
        if (req->lu->adapter == a &&
            (req->state == REQ_ACTIVE || req->state == REQ_STARTING) &&
            req->deadline && req->deadline <= now) {
            g_ptr_array_add(expired, req);
        }
    }
    /* Abandoned, traced and the bus to reset chosen in submission order,
     * whatever the table's. */
    g_ptr_array_sort(expired, by_submission);
    for (guint i = 0; i < expired->len; i++) {
        PortRequest *req = g_ptr_array_index(expired, i);
        if (req->reset_seen) {
            abandon(req);
        } else {
            req->reset_seen = true;
            req->deadline =
                now + (uint64_t)SrbGetTimeOutValue(req->srb) * NS_PER_SEC;
            need_reset = true;
            path = req->lu->path;
            TRACE(port_timeout, "req=%" G_GUINT64_FORMAT, req->id);
        }
    }
    if (need_reset && a->state == ADAPTER_RUNNING) {
        BOOLEAN ok;
        a->resets++;
        a->resetting = true;
        ok = mp_reset_bus(a, path);
        a->resetting = false;
        a->reset_hold_until =
            now + (uint64_t)(a->cfg->BusResetHoldTime
                                 ? a->cfg->BusResetHoldTime
                                 : PORT_RESET_HOLD_S * 1000000ULL) *
                      NS_PER_US;
        TRACE(port_reset_bus, "adapter=%s ok=%d", a->name, ok);
        if (!ok) {
            verifier_report(VC_REQUEST_HANG, NULL,
                            "HwStorResetBus failed on adapter %s after a "
                            "request time-out",
                            a->name);
        }
        /* Queues start again once the reset hold has passed. */
        event_schedule(&a->reset_ev, a->reset_hold_until);
    }
    if (a->outstanding) {
        port_tick_arm(a);
    }
}

/* ---- queue control exported to the miniport ---- */

/*
 * Queues released by the miniport start again from a DPC on this vCPU,
 * never inline: the caller may hold the StartIo lock (HwStorTimer,
 * HwStorStartIo), and starting a request inline would re-enter
 * HwStorStartIo under it.
 */
static void defer_adapter_restart(PortAdapter *a)
{
    int cpu = cpu_index();
    port_work_queue(&a->resume_work, cpu < 0 ? 0 : (unsigned)cpu);
}

static void defer_lu_restart(PortLu *lu)
{
    int cpu = cpu_index();
    port_work_queue(&lu->resume_work, cpu < 0 ? 0 : (unsigned)cpu);
}

/* Requests queued on a failed adapter: never started, they complete as
 * port_submit completes new ones. */
static void fail_queued(PortAdapter *a)
{
    GHashTableIter it;
    gpointer k, v;
    PortRequest *req;

    g_hash_table_iter_init(&it, a->lu_map);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        PortLu *lu = v;
        while ((req = pending_pop(lu))) {
            SrbSetSrbStatus(req->srb, SRB_STATUS_NO_DEVICE);
            capture_results(req);
            lu->outstanding++;
            a->outstanding++;
            finish_request(req);
        }
    }
}

/* Not inside the miniport's call: the class layer's completion routines
 * run from the DPC, as for any other completion. */
void port_adapter_failed(PortAdapter *a)
{
    a->state = ADAPTER_FAILED;
    a->marked_failed = true;
    defer_adapter_restart(a);
}

static void adapter_resume_work(PortWork *w)
{
    PortAdapter *a =
        G_STRUCT_MEMBER_P(w, -(glong)G_STRUCT_OFFSET(PortAdapter, resume_work));

    if (a->state == ADAPTER_FAILED) {
        fail_queued(a);
        return;
    }
    port_restart_all_queues(a);
}

static void lu_resume_work(PortWork *w)
{
    PortLu *lu =
        G_STRUCT_MEMBER_P(w, -(glong)G_STRUCT_OFFSET(PortLu, resume_work));
    port_start_next(lu);
}

/* The event handlers run in the main loop: they change state and leave
 * the restart to a DPC on vCPU 0. */
static void adapter_pause_over(void *opaque)
{
    PortAdapter *a = opaque;
    a->paused = false;
    port_work_queue(&a->resume_work, 0);
}

static void adapter_busy_over(void *opaque)
{
    PortAdapter *a = opaque;
    a->busy = false;
    a->busy_count = 0;
    port_work_queue(&a->resume_work, 0);
}

static void adapter_reset_over(void *opaque)
{
    PortAdapter *a = opaque;
    port_work_queue(&a->resume_work, 0);
}

static void lu_pause_over(void *opaque)
{
    PortLu *lu = opaque;
    lu->paused = false;
    port_work_queue(&lu->resume_work, 0);
}

static void lu_retry(void *opaque)
{
    PortLu *lu = opaque;
    lu->retry_hold = false;
    lu->busy = false;
    lu->busy_count = 0;
    port_work_queue(&lu->resume_work, 0);
}

/* A new machine: completions left queued by a stopped one are gone. */
void port_queue_reset(void)
{
    memset(cq, 0, sizeof(cq));
    for (unsigned i = 0; i < PORT_SRB_CACHE_SLOTS; i++) {
        srb_cache_empty(&port_srb_cache[i]);
    }
}

void port_queue_init_adapter(PortAdapter *a)
{
    event_init(&a->tick_ev, "port_tick", tick_event, a);
    a->tick_work.fn = tick_work;
    event_init(&a->pause_ev, "port_pause", adapter_pause_over, a);
    event_init(&a->busy_ev, "port_busy", adapter_busy_over, a);
    event_init(&a->reset_ev, "port_reset_hold", adapter_reset_over, a);
    a->resume_work.fn = adapter_resume_work;
    for (unsigned c = 0; c < cpus_count(); c++) {
        cq[c].work.fn = drain_completions;
        cq[c].cpu = c;
    }
}

PortLu *port_lu_find(PortAdapter *a, UCHAR path, UCHAR target, UCHAR lun)
{
    guint key = ((guint)path << 16) | ((guint)target << 8) | lun;
    return g_hash_table_lookup(a->lu_map, GUINT_TO_POINTER(key + 1));
}

PortLu *port_lu_get(PortAdapter *a, UCHAR path, UCHAR target, UCHAR lun)
{
    guint key = ((guint)path << 16) | ((guint)target << 8) | lun;
    PortLu *lu = port_lu_find(a, path, target, lun);

    if (lu) {
        return lu;
    }
    lu = g_new0(PortLu, 1);
    lu->adapter = a;
    lu->path = path;
    lu->target = target;
    lu->lun = lun;
    lu->depth = a->cfg->InitialLunQueueDepth ? a->cfg->InitialLunQueueDepth
                                             : PORT_DEFAULT_QUEUE_DEPTH;
    /* No deeper than the unit supports (MaxIOsPerLun). */
    if (a->cfg->MaxIOsPerLun) {
        lu->depth = MIN(lu->depth, a->cfg->MaxIOsPerLun);
    }
    if (a->drv->hw.SpecificLuExtensionSize) {
        lu->luext = ram_alloc(a->drv->hw.SpecificLuExtensionSize, 16, 0,
                              "lu-extension");
    }
    event_init(&lu->pause_ev, "lu_pause", lu_pause_over, lu);
    event_init(&lu->retry_ev, "lu_retry", lu_retry, lu);
    lu->resume_work.fn = lu_resume_work;
    g_hash_table_insert(a->lu_map, GUINT_TO_POINTER(key + 1), lu);
    return lu;
}

/*
 * The unit a per-unit queue routine names, or NULL (reported when the
 * device extension is no adapter's). A yield point, as every port call
 * that touches shared state.
 */
static PortLu *lu_for_caller(PVOID devext, UCHAR path, UCHAR target, UCHAR lun,
                             const char *routine)
{
    PortAdapter *a = port_adapter_for_caller(devext, routine);
    PortLu *lu = a ? port_lu_find(a, path, target, lun) : NULL;

    if (lu) {
        cpu_yield(routine);
    }
    return lu;
}

BOOLEAN NTAPI StorPortBusy(PVOID HwDeviceExtension, ULONG RequestsToComplete)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension, "StorPortBusy");
    if (!a) {
        return FALSE;
    }
    cpu_yield("StorPortBusy");
    /* Busy until that many of the outstanding requests complete; with
     * none outstanding, no completion can end it, so a short hold does. */
    a->busy = true;
    a->busy_count = MIN(RequestsToComplete, a->outstanding);
    if (!a->busy_count) {
        event_schedule_in(&a->busy_ev, BUSY_RETRY_NS);
    }
    return TRUE;
}

BOOLEAN NTAPI StorPortReady(PVOID HwDeviceExtension)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortReady");
    if (!a) {
        return FALSE;
    }
    cpu_yield("StorPortReady");
    event_cancel(&a->busy_ev);
    a->busy = false;
    a->busy_count = 0;
    defer_adapter_restart(a);
    return TRUE;
}

BOOLEAN NTAPI StorPortDeviceBusy(PVOID HwDeviceExtension, UCHAR PathId,
                                 UCHAR TargetId, UCHAR Lun,
                                 ULONG RequestsToComplete)
{
    PortLu *lu = lu_for_caller(HwDeviceExtension, PathId, TargetId, Lun,
                               "StorPortDeviceBusy");

    if (!lu) {
        return FALSE;
    }
    lu->busy = true;
    lu->busy_count = MIN(RequestsToComplete, lu->outstanding);
    if (!lu->busy_count) {
        event_schedule_in(&lu->retry_ev, BUSY_RETRY_NS);
    }
    return TRUE;
}

BOOLEAN NTAPI StorPortDeviceReady(PVOID HwDeviceExtension, UCHAR PathId,
                                  UCHAR TargetId, UCHAR Lun)
{
    PortLu *lu = lu_for_caller(HwDeviceExtension, PathId, TargetId, Lun,
                               "StorPortDeviceReady");

    if (!lu) {
        return FALSE;
    }
    event_cancel(&lu->retry_ev);
    lu->busy = false;
    lu->busy_count = 0;
    defer_lu_restart(lu);
    return TRUE;
}

BOOLEAN NTAPI StorPortPause(PVOID HwDeviceExtension, ULONG TimeOut)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortPause");
    if (!a) {
        return FALSE;
    }
    cpu_yield("StorPortPause");
    a->paused = true;
    event_schedule_in(&a->pause_ev, (uint64_t)TimeOut * NS_PER_SEC);
    return TRUE;
}

BOOLEAN NTAPI StorPortResume(PVOID HwDeviceExtension)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortResume");
    if (!a) {
        return FALSE;
    }
    cpu_yield("StorPortResume");
    event_cancel(&a->pause_ev);
    a->paused = false;
    defer_adapter_restart(a);
    return TRUE;
}

BOOLEAN NTAPI StorPortPauseDevice(PVOID HwDeviceExtension, UCHAR PathId,
                                  UCHAR TargetId, UCHAR Lun, ULONG TimeOut)
{
    PortLu *lu = lu_for_caller(HwDeviceExtension, PathId, TargetId, Lun,
                               "StorPortPauseDevice");

    if (!lu) {
        return FALSE;
    }
    lu->paused = true;
    event_schedule_in(&lu->pause_ev, (uint64_t)TimeOut * NS_PER_SEC);
    return TRUE;
}

BOOLEAN NTAPI StorPortResumeDevice(PVOID HwDeviceExtension, UCHAR PathId,
                                   UCHAR TargetId, UCHAR Lun)
{
    PortLu *lu = lu_for_caller(HwDeviceExtension, PathId, TargetId, Lun,
                               "StorPortResumeDevice");

    if (!lu) {
        return FALSE;
    }
    event_cancel(&lu->pause_ev);
    lu->paused = false;
    defer_lu_restart(lu);
    return TRUE;
}

BOOLEAN NTAPI StorPortSetDeviceQueueDepth(PVOID HwDeviceExtension, UCHAR PathId,
                                          UCHAR TargetId, UCHAR Lun,
                                          ULONG Depth)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortSetDeviceQueueDepth");
    PortLu *lu = a ? port_lu_find(a, PathId, TargetId, Lun) : NULL;

    /* Beyond MaxIOsPerLun, what the unit supports, is refused. */
    if (!lu || Depth == 0 || Depth > a->cfg->MaxIOsPerLun) {
        return FALSE;
    }
    lu->depth = Depth;
    defer_lu_restart(lu);
    return TRUE;
}

VOID NTAPI StorPortCompleteRequest(PVOID HwDeviceExtension, UCHAR PathId,
                                   UCHAR TargetId, UCHAR Lun, UCHAR SrbStatus)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortCompleteRequest");
    if (a) {
        cpu_yield("StorPortCompleteRequest");
        port_complete_all(a, PathId, TargetId, Lun, SrbStatus);
    }
}

PVOID NTAPI StorPortGetLogicalUnit(PVOID HwDeviceExtension, UCHAR PathId,
                                   UCHAR TargetId, UCHAR Lun)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortGetLogicalUnit");
    PortLu *lu = a ? port_lu_find(a, PathId, TargetId, Lun) : NULL;
    return lu ? lu->luext : NULL;
}

PSTOR_SCATTER_GATHER_LIST NTAPI
StorPortGetScatterGatherList(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb)
{
    PortRequest *req = port_request_from_srb(Srb);

    if (!req || (req->state != REQ_STARTING && req->state != REQ_ACTIVE)) {
        verifier_report(VC_BAD_CALL, req,
                        "StorPortGetScatterGatherList for an SRB that is not "
                        "active in the miniport");
        return NULL;
    }
    return req->sgl->NumberOfElements ? req->sgl : NULL;
}

/* ---- class-facing accessors ---- */

uint8_t port_request_srb_status(const PortRequest *req)
{
    return req->srb_status;
}

uint8_t port_request_scsi_status(const PortRequest *req)
{
    return req->scsi_status;
}

uint32_t port_request_transferred(const PortRequest *req)
{
    return req->transferred;
}

const uint8_t *port_request_sense(const PortRequest *req, unsigned *len)
{
    *len = req->sense_len;
    return req->sense_copy;
}

void port_request_results(const PortRequest *req, PortResults *out)
{
    out->srb_status = req->srb_status;
    out->scsi_status = req->scsi_status;
    out->transferred = req->transferred;
    out->sense = req->sense_copy;
    out->sense_len = req->sense_len;
}

uint64_t port_request_id(const PortRequest *req)
{
    return req->id;
}
