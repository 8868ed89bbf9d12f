/* SPDX-License-Identifier: MIT */
/*
 * The trace codec's hot path, inline: a crossing that is a plain hit
 * (the slot predicts its address, time, vCPU, size, length and value)
 * is coded as its tag without a call. Shared by the codec
 * (trace-format.c), which owns everything else about records, and the
 * recorder (record.c), where the hit path runs in the boundary hook.
 * Only these two include it; the format is docs/trace-format.md.
 */
#ifndef STOREMU_TRACE_CODEC_H
#define STOREMU_TRACE_CODEC_H

#include <string.h>
#include "system/trace-format.h"

/* For code where gcc's pairing of scalar operations into vector
 * registers costs more than it saves (sums and stores it would send
 * through the stack). */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_SLP __attribute__((optimize("no-tree-slp-vectorize")))
#else
#define NO_SLP
#endif

#define T_TYPE_MASK   0x0f
#define T_FIELD_SHIFT 4
#define T_FIELD_MASK  0x7
#define T_EXT         0x80

/* Virtual time each crossing charges before it is recorded. */
static const uint64_t tc_type_cost[BND_KIND_COUNT] = {
    [BND_MMIO_READ] = BND_MMIO_READ_NS, [BND_MMIO_WRITE] = BND_MMIO_WRITE_NS,
    [BND_PIO_READ] = BND_MMIO_READ_NS,  [BND_PIO_WRITE] = BND_MMIO_WRITE_NS,
    [BND_CFG_READ] = BND_MMIO_READ_NS,  [BND_CFG_WRITE] = BND_MMIO_WRITE_NS,
};

static inline int16_t tc_predict_cpu(const TraceCodec *c, unsigned t)
{
    switch (t) {
    case TT_IRQ_RAISE:
        return c->irq_cpu;
    case TT_DMA_READ:
    case TT_DMA_WRITE:
        return -1;
    default:
        return c->guest_cpu;
    }
}

/* A value repeats, goes on changing by its last step (ring indices), or,
 * having gone back to the one before, alternates (a status poll). */
static inline uint64_t tc_predict_value(const TraceSlot *sl)
{
    if (!sl) {
        return 0;
    }
    return sl->alt ? sl->prev_value : 2 * sl->value - sl->prev_value;
}

static inline void tc_slot_value(TraceSlot *sl, uint64_t value)
{
    sl->alt = value == sl->prev_value && value != sl->value;
    sl->prev_value = sl->value;
    sl->value = value;
}

static inline uint64_t tc_slot_next(const TraceSlot *sl)
{
    return sl->next;
}

/* What any use of a slot changes in it (a hit changes nothing else). */
static inline void tc_slot_use(TraceCodec *c, TraceSlot *sl, uint64_t addr,
                               uint64_t time, uint64_t value)
{
    tc_slot_value(sl, value);
    sl->addr = addr;
    sl->next = addr + (uint64_t)sl->stride;
    sl->dt = time - c->time;
    sl->stamp = ++c->stamp;
}

/* What every crossing moves on: the clock, the index, who runs. */
static inline void tc_commit_common(TraceCodec *c, unsigned t, int16_t cpu,
                                    uint64_t addr, uint64_t time,
                                    uint64_t value, uint64_t len)
{
    c->time = time;
    c->index++;
    switch (t) {
    case TT_IRQ_RAISE:
        c->irq_cpu = cpu;
        break;
    case TT_DMA_READ:
    case TT_DMA_WRITE:
        break;
    case TT_SCHED:
        c->guest_cpu = (int16_t)value;
        if (len) {
            c->sched_yield = len;
        }
        break;
    case TT_IRQ_DELIVER:
        c->guest_cpu = cpu;
        if (cpu >= 0 && cpu < TRACE_SMP_MAX &&
            c->in_service_depth[cpu] < TRACE_IRQ_NEST) {
            c->in_service[cpu][c->in_service_depth[cpu]++] = (uint8_t)addr;
        }
        break;
    default:
        c->guest_cpu = cpu;
        break;
    }
}

static inline unsigned tc_map_index(uint64_t addr, uint32_t devfn)
{
    return (unsigned)(((addr ^ ((uint64_t)devfn << 40)) *
                       0x9e3779b97f4a7c15ULL) >>
                      52) &
           (TRACE_SLOT_MAP - 1);
}

/* What the fast path reads of a crossing, whether it comes as a
 * TraceEvent or straight from the boundary (the recorder). */
typedef struct TraceXing {
    unsigned type;
    bool ok;
    bool has_data;
    uint8_t size;
    int16_t cpu;
    uint32_t devfn;
    uint64_t time, addr, len;
    uint64_t value; /* short DMA payloads as their value */
} TraceXing;

/* The out-of-line parts (trace-format.c): a scheduler pick's hit, and
 * trace_encode_access_as() when the record is not a plain hit. */
size_t trace_enc_fast_sched(TraceCodec *restrict c, TraceXing x, unsigned s,
                            uint8_t *restrict out);
size_t trace_encode_access_slow(TraceCodec *c, const BndAccess *a,
                                uint64_t time, uint64_t value,
                                const uint8_t *data, uint8_t *out);
/* The slot (+ 1) whose next address is @addr when the map's hint is not
 * it: the first such, as the encoder's own look finds, and the map then
 * points to it. 0: none. */
unsigned trace_enc_find_next(TraceCodec *c, unsigned t, uint64_t addr,
                             uint32_t devfn);

/* The end of a hit on slot @mi - 1: the map points at the slot's next
 * address, and the record is the tag (and a slot byte past the tag's
 * slots), written last, as @out could alias anything. */
static inline __attribute__((always_inline)) size_t
tc_hit_record(TraceCodec *restrict c, unsigned t, unsigned mi,
              const TraceSlot *sl, uint32_t devfn, uint8_t *restrict out)
{
    unsigned s = mi - 1;

    if (sl->stride) {
        c->map[t][tc_map_index(sl->next, devfn)] = (uint8_t)mi;
    }
    out[0] = (uint8_t)(t | MIN(s, (unsigned)TRACE_SLOT_BYTE) << T_FIELD_SHIFT);
    if (s >= TRACE_TAG_SLOTS) {
        out[1] = (uint8_t)s;
        return 2;
    }
    return 1;
}

/*
 * The common case: the address is what a slot predicts and so is every
 * other field, which makes the record its tag (and a slot byte past the
 * tag's slots). It writes what enc_crossing() would and changes only what
 * a hit changes. Returns 0 when the general path is needed.
 */
static inline __attribute__((always_inline)) size_t
trace_enc_fast_as(TraceCodec *restrict c, const TraceXing *x,
                  uint8_t *restrict out, bool dma)
{
    unsigned t = x->type;
    unsigned mi = c->map[t][tc_map_index(x->addr, x->devfn)];
    TraceSlot *restrict sl;
    uint64_t value = x->value;
    unsigned s;

    if (!mi || mi > c->used[t] || !x->ok) {
        return 0;
    }
    s = mi - 1;
    sl = &c->slot[t][s];
    if (!dma && t == TT_SCHED) {
        return trace_enc_fast_sched(c, *x, s, out);
    }
    if (tc_slot_next(sl) != x->addr || sl->devfn != x->devfn ||
        x->time !=
            c->time +
                ((dma || trace_type_is_device(t)) ? sl->dt : tc_type_cost[t]) ||
        x->cpu != (dma ? -1 : tc_predict_cpu(c, t)) ||
        x->size != (!dma && trace_type_is_register(t) ? sl->size : 0)) {
        return 0;
    }
    if (dma) {
        if (x->len != sl->len || !x->has_data) {
            return 0;
        }
        if (x->len > TRACE_DMA_SMALL) {
            if (c->full_data) {
                return 0;
            }
            value = 0; /* hashed: no value to predict */
        } else if (value != tc_predict_value(sl)) {
            return 0;
        }
    } else if (value != tc_predict_value(sl)) {
        return 0;
    }
    /* commit_crossing() for a hit, less the fields a hit leaves as
     * they are; the output last, as it could alias anything */
    sl->pinned |= sl->stride == 0;
    tc_slot_use(c, sl, x->addr, x->time, value);
    if (dma) {
        /* tc_commit_common() for a DMA */
        c->time = x->time;
        c->index++;
    } else {
        tc_commit_common(c, t, x->cpu, x->addr, x->time, value, x->len);
    }
    return tc_hit_record(c, t, mi, sl, x->devfn, out);
}

/* The slot (+ 1) for a DMA at @addr (devfn 0) if the map's hint is it,
 * else 0 (trace_enc_find_next() then knows). */
static inline unsigned trace_enc_dma_hint(const TraceCodec *c, unsigned t,
                                          uint64_t addr)
{
    unsigned mi = c->map[t][tc_map_index(addr, 0)];

    if (!mi || mi > c->used[t] || c->slot[t][mi - 1].next != addr ||
        c->slot[t][mi - 1].devfn) {
        return 0;
    }
    return mi;
}

/*
 * trace_enc_fast() of a DMA the machine performed wholly in RAM in device
 * context (ok, with its payload, devfn 0, no vCPU or size), the recorder's
 * usual DMA, for slot @mi - 1, whose next address is @addr (devfn 0):
 * @value is a short payload's value, 0 for a longer one. Only the tests
 * that such a DMA can fail; what a hit changes, in the same way. 0: not a
 * plain hit.
 */
static inline __attribute__((always_inline)) size_t
trace_enc_dma_hit(TraceCodec *restrict c, unsigned t, unsigned mi,
                  uint64_t addr, uint64_t len, uint64_t value, uint64_t time,
                  uint8_t *restrict out)
{
    unsigned s = mi - 1;
    TraceSlot *restrict sl = &c->slot[t][s];

    /* Held in a register: gcc would form it anew at each use (a multiply
     * and three adds) rather than keep it. */
    __asm__("" : "+r"(sl));
    if (len != sl->len || time != c->time + sl->dt) {
        return 0;
    }
    if (len > TRACE_DMA_SMALL ? c->full_data : value != tc_predict_value(sl)) {
        return 0;
    }
    sl->pinned |= sl->stride == 0;
    tc_slot_value(sl, value);
    sl->addr = addr;
    sl->next = addr + (uint64_t)sl->stride;
    /* sl->dt stays: time - c->time is what it predicted (tc_slot_use()
     * less that store) */
    sl->stamp = ++c->stamp;
    c->time = time;
    c->index++;
    return tc_hit_record(c, t, mi, sl, 0, out);
}

/* The same, with the DMA case's tests folded where the caller knows. */
static inline __attribute__((always_inline)) size_t
trace_enc_fast(TraceCodec *restrict c, const TraceXing *x,
               uint8_t *restrict out)
{
    return trace_type_is_dma(x->type) ? trace_enc_fast_as(c, x, out, true)
                                      : trace_enc_fast_as(c, x, out, false);
}

/* The normalization trace_event_from_access() does, into the encoder's
 * form. @kind is @a->kind, passed so that a caller that knows it can
 * make it a constant; @dma: it is a DMA. */
static inline __attribute__((always_inline)) TraceXing
trace_xing_from_access(const BndAccess *a, BndKind kind, uint64_t time,
                       uint64_t value, bool dma)
{
    bool sched = !dma && kind == BND_SCHED;

    return (TraceXing){
        .type = kind,
        .ok = a->ok || (!dma && kind == BND_IRQ_DELIVER),
        .has_data = dma && a->data != NULL,
        .size = a->size,
        .cpu = sched ? (int16_t)a->value : a->cpu,
        .devfn = a->devfn,
        .time = time,
        .addr = a->addr,
        .len = dma || sched ? a->len : 0,
        .value = value,
    };
}

/* trace_encode() of the record trace_event_from_access(@a, @time) with
 * @value (a short DMA payload's value) and @data (a data=full payload,
 * else NULL): a plain hit without building the record. @dma: @a is a
 * DMA (a constant where the caller knows it). */
static inline __attribute__((always_inline)) size_t
trace_encode_access_as(TraceCodec *c, const BndAccess *a, uint64_t time,
                       uint64_t value, const uint8_t *data, uint8_t *out,
                       bool dma)
{
    TraceXing x = trace_xing_from_access(a, a->kind, time, value, dma);
    size_t n = trace_enc_fast_as(c, &x, out, dma);

    return n ? n : trace_encode_access_slow(c, a, time, value, data, out);
}

/* A digest record (data=hash): tag and the digest's low 32 bits. */
#define K_DIGEST 0x1 /* checkpoint tag field: a DMA digest record */
static inline size_t trace_encode_digest(uint8_t *out, uint32_t digest)
{
    out[0] = TT_CHECKPOINT | K_DIGEST << T_FIELD_SHIFT;
    trace_put_u32(out + 1, digest);
    return 5;
}

/* An interrupt return at the time and on the vCPU of the record before,
 * for the vector on top of that vCPU's in-service stack (the usual one)
 * is its tag: what trace_encode() writes for it, without building the
 * record. 0: not such a one. */
static inline size_t trace_encode_irq_return_hit(TraceCodec *c, int cpu,
                                                 unsigned vector, uint64_t time,
                                                 uint8_t *out)
{
    unsigned depth;

    if (time != c->time || cpu != c->guest_cpu || cpu < 0 ||
        cpu >= TRACE_SMP_MAX) {
        return 0;
    }
    depth = c->in_service_depth[cpu];
    if (!depth || c->in_service[cpu][depth - 1] != vector) {
        return 0;
    }
    c->in_service_depth[cpu] = (uint8_t)(depth - 1);
    out[0] = TT_EXT | TRACE_EXT_IRQ_RETURN << T_FIELD_SHIFT;
    return 1;
}

#endif
