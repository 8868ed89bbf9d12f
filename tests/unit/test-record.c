/* SPDX-License-Identifier: MIT */
/*
 * The trace format and the recorder (system/trace-format.h,
 * trace-reader.h, record.h): the hash, numbers, every record type through
 * the codec and back, the header, a reader that rejects truncated and
 * corrupt files with the offset of the damage and keeps what came before,
 * and recordings of real runs: complete (every crossing, the requests,
 * checkpoints, external records), deterministic (same seed, same bytes;
 * another seed, another interleaving with the same verified data) and
 * compact (bytes per 4 KiB I/O).
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include "hw/core/irqchip.h"
#include "system/boundary.h"
#include "system/record.h"
#include "system/trace-format.h"
#include "system/trace-reader.h"
#include "tests/helpers/gt-harness.h"
#include "tests/helpers/rr.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* ---- primitives ---- */

static void test_hash(void)
{
    g_autofree uint8_t *buf = g_malloc(8192);
    g_autofree uint8_t *swapped = g_malloc(8192);
    uint64_t h;

    for (unsigned i = 0; i < 8192; i++) {
        buf[i] = (uint8_t)(i * 7 + (i >> 8));
    }
    h = trace_hash64(buf, 8192, 0);
    g_assert_cmpuint(h, ==, trace_hash64(buf, 8192, 0));
    g_assert_cmpuint(h, !=, trace_hash64(buf, 8192, 1));
    g_assert_cmpuint(h, !=, trace_hash64(buf, 8191, 0));
    /* Any one changed byte, anywhere (every lane and the tail). */
    for (unsigned i = 0; i < 8192; i += 61) {
        buf[i] ^= 0x40;
        g_assert_cmpuint(trace_hash64(buf, 8192, 0), !=, h);
        buf[i] ^= 0x40;
    }
    /* Two 4 KiB halves swapped: the order of blocks matters. */
    memcpy(swapped, buf + 4096, 4096);
    memcpy(swapped + 4096, buf, 4096);
    g_assert_cmpuint(trace_hash64(swapped, 8192, 0), !=, h);
    /* Short inputs, empty included. */
    g_assert_cmpuint(trace_hash64(buf, 0, 0), !=, trace_hash64(buf, 1, 0));
    g_assert_cmpuint(trace_hash64("ab", 2, 0), !=, trace_hash64("ba", 2, 0));
    /* Two 32-byte stripes swapped (the vector lanes' unit). */
    memcpy(swapped, buf, 8192);
    memcpy(swapped, buf + 32, 32);
    memcpy(swapped + 32, buf, 32);
    g_assert_cmpuint(trace_hash64(swapped, 8192, 0), !=, h);
}

/* Bytes that repeat no short pattern, for the implementations' tests. */
static void fill_pattern(uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)(i * 131 + (i >> 7) * 17 + 5);
    }
}

/*
 * Every implementation of the hash gives the same answer, for every
 * length around the stripe and word sizes, at odd alignments, with
 * seeds; and the answer is the one the format fixed (a trace recorded
 * on one host is checked on another).
 */
static void test_hash_impls(void)
{
    g_autofree uint8_t *buf = g_malloc(4200);
    static const struct {
        size_t n;
        uint64_t seed, want;
    } known[] = {
        {0, 0, 0x11a097859f8312d9ULL},     {7, 1, 0x34c63fe35db3097cULL},
        {32, 0, 0x38e7ed476fbd6272ULL},    {4096, 0, 0x329b0ad21e80423fULL},
        {4133, 99, 0xe4c01da472d902adULL},
    };
    unsigned tried = 0;

    fill_pattern(buf, 4200);
    for (TraceHashImpl impl = TRACE_HASH_SCALAR; impl <= TRACE_HASH_AVX2;
         impl++) {
        if (!trace_hash_impl_available(impl)) {
            continue;
        }
        tried++;
        for (size_t n = 0; n <= 200; n++) {
            for (unsigned off = 0; off < 3; off++) {
                uint64_t seed = n * 0x1234567ULL + off;
                g_assert_cmphex(
                    trace_hash64_with(buf + off, n, seed, impl), ==,
                    trace_hash64_with(buf + off, n, seed, TRACE_HASH_SCALAR));
            }
        }
        for (size_t n = 4000; n < 4200 - 3; n += 37) {
            g_assert_cmphex(
                trace_hash64_with(buf + 3, n, 7, impl), ==,
                trace_hash64_with(buf + 3, n, 7, TRACE_HASH_SCALAR));
        }
    }
    g_assert_cmpuint(tried, >=, 1);
    for (unsigned i = 0; i < G_N_ELEMENTS(known); i++) {
        g_assert_cmphex(trace_hash64(buf, known[i].n, known[i].seed), ==,
                        known[i].want);
    }
}

/* The DMA digest of @pieces pieces of @buf, lengths @len, with @impl. */
static uint64_t digest_of(const uint8_t *buf, const size_t *len, size_t pieces,
                          TraceHashImpl impl)
{
    TraceDigest d;

    trace_digest_init(&d, 0);
    for (size_t i = 0; i < pieces; i++) {
        trace_digest_add_with(&d, buf, len[i], impl);
        buf += len[i];
    }
    return trace_digest_final(&d);
}

/*
 * Every implementation of the DMA digest gives the same answer, for one
 * piece of every length around the stripe, word and vector-loop sizes at
 * odd alignments, and for runs of pieces like a request's (descriptor,
 * header, data, response); and the answer is the one the format fixed.
 */
static void test_digest_impls(void)
{
    g_autofree uint8_t *buf = g_malloc(4600);
    static const size_t run[] = {16, 16, 51, 4096, 108, 7, 33, 0, 260};
    static const struct {
        size_t n;
        uint64_t want;
    } known[] = {
        {0, 0x77975055df6a80ffULL},    {7, 0x81e46bd03374d060ULL},
        {51, 0xb4a48deaf4a53596ULL},   {4096, 0xfaba4f073f0bba8cULL},
        {4133, 0xc4391d67c585d21fULL},
    };
    unsigned tried = 0;

    fill_pattern(buf, 4600);
    for (TraceHashImpl impl = TRACE_HASH_SCALAR; impl <= TRACE_HASH_AVX2;
         impl++) {
        if (!trace_hash_impl_available(impl)) {
            continue;
        }
        tried++;
        for (size_t n = 0; n <= 700; n++) {
            for (unsigned off = 0; off < 3; off++) {
                g_assert_cmphex(digest_of(buf + off, &n, 1, impl), ==,
                                digest_of(buf + off, &n, 1, TRACE_HASH_SCALAR));
            }
        }
        for (size_t n = 4000; n < 4200; n += 37) {
            g_assert_cmphex(digest_of(buf + 1, &n, 1, impl), ==,
                            digest_of(buf + 1, &n, 1, TRACE_HASH_SCALAR));
        }
        g_assert_cmphex(
            digest_of(buf, run, G_N_ELEMENTS(run), impl), ==,
            digest_of(buf, run, G_N_ELEMENTS(run), TRACE_HASH_SCALAR));
    }
    g_assert_cmpuint(tried, >=, 1);
    for (unsigned i = 0; i < G_N_ELEMENTS(known); i++) {
        TraceDigest d;

        trace_digest_init(&d, 0);
        trace_digest_add(&d, buf, known[i].n);
        g_assert_cmphex(trace_digest_final(&d), ==, known[i].want);
    }
}

/*
 * What the digest is for: a different payload gives a different digest.
 * Any one byte changed, anywhere (in whole stripes, the end stripe, the
 * overlap); stripes, words or pieces that trade places; the same bytes
 * cut into other pieces; zeros of other lengths.
 */
static void test_digest_changes(void)
{
    g_autofree uint8_t *buf = g_malloc(8192);
    g_autofree uint8_t *other = g_malloc(8192);
    size_t one = 4133, halves[] = {4096, 4096}, cut[] = {4000, 4192};
    size_t shorts[] = {16, 16};
    uint64_t h, ab;

    for (unsigned i = 0; i < 8192; i++) {
        buf[i] = (uint8_t)(i * 29 + (i >> 9));
    }
    h = digest_of(buf, &one, 1, TRACE_HASH_SCALAR);
    for (size_t i = 0; i < one; i++) {
        memcpy(other, buf, one);
        other[i] ^= 0x40;
        g_assert_cmphex(digest_of(other, &one, 1, TRACE_HASH_SCALAR), !=, h);
    }
    /* Two stripes, two words in a stripe, two words a stripe apart. */
    static const struct {
        size_t x, y, len;
    } swaps[] = {{0, 64, 32}, {0, 8, 8}, {8, 40, 8}, {4064, 0, 32}};
    for (unsigned i = 0; i < G_N_ELEMENTS(swaps); i++) {
        memcpy(other, buf, one);
        memcpy(other + swaps[i].x, buf + swaps[i].y, swaps[i].len);
        memcpy(other + swaps[i].y, buf + swaps[i].x, swaps[i].len);
        g_assert_cmphex(digest_of(other, &one, 1, TRACE_HASH_SCALAR), !=, h);
    }

    ab = digest_of(buf, halves, 2, TRACE_HASH_SCALAR);
    memcpy(other, buf + 4096, 4096);
    memcpy(other + 4096, buf, 4096);
    g_assert_cmphex(digest_of(other, halves, 2, TRACE_HASH_SCALAR), !=, ab);
    g_assert_cmphex(digest_of(buf, cut, 2, TRACE_HASH_SCALAR), !=, ab);
    ab = digest_of(buf, shorts, 2, TRACE_HASH_SCALAR);
    memcpy(other, buf + 16, 16);
    memcpy(other + 16, buf, 16);
    g_assert_cmphex(digest_of(other, shorts, 2, TRACE_HASH_SCALAR), !=, ab);

    memset(other, 0, 64);
    for (size_t n = 0; n < 64; n++) {
        size_t m = n + 1;
        g_assert_cmphex(digest_of(other, &n, 1, TRACE_HASH_SCALAR), !=,
                        digest_of(other, &m, 1, TRACE_HASH_SCALAR));
    }
}

static void test_varint(void)
{
    static const uint64_t values[] = {
        0,          1,          127,
        128,        300,        16383,
        16384,      1ULL << 32, (1ULL << 63) - 1,
        1ULL << 63, UINT64_MAX,
    };
    static const int64_t signed_values[] = {
        0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN,
    };
    uint8_t buf[16];
    uint64_t v = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        size_t n = trace_put_varint(buf, values[i]);
        g_assert_cmpuint(n, <=, 10);
        g_assert_cmpuint(trace_get_varint(buf, n, &v), ==, n);
        g_assert_cmpuint(v, ==, values[i]);
        /* One byte short: incomplete, never a wrong value. */
        g_assert_cmpuint(trace_get_varint(buf, n - 1, &v), ==, 0);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(signed_values); i++) {
        g_assert_cmpint(trace_unzigzag(trace_zigzag(signed_values[i])), ==,
                        signed_values[i]);
    }
    g_assert_cmpuint(trace_zigzag(-1), ==, 1);
    /* Eleven continuation bytes, or a tenth byte over 1: rejected. */
    memset(buf, 0x80, sizeof(buf));
    g_assert_cmpuint(trace_get_varint(buf, sizeof(buf), &v), ==, 0);
    buf[9] = 0x02;
    g_assert_cmpuint(trace_get_varint(buf, 10, &v), ==, 0);
}

/* ---- the codec ---- */

static TraceEvent crossing(unsigned type, int cpu, uint64_t t, uint64_t addr,
                           uint64_t value, uint8_t size)
{
    TraceEvent e = {
        .type = (uint8_t)type,
        .cpu = (int16_t)cpu,
        .time = t,
        .addr = addr,
        .value = value,
        .size = size,
        .ok = true,
    };
    return e;
}

/* A DMA of @len bytes with its data (@value for one of up to 8 bytes). */
static TraceEvent dma_event(unsigned type, uint64_t t, uint64_t addr,
                            uint32_t len, uint64_t value)
{
    TraceEvent e = crossing(type, -1, t, addr, value, 0);

    e.len = len;
    e.has_data = true;
    return e;
}

/* A stream of every kind of record with awkward values. */
static GArray *sample_events(bool full)
{
    static uint8_t big[300];
    static const uint8_t cdb16[16] = {0x88, 0,    0, 0, 0, 0, 0, 0,
                                      0x12, 0x34, 0, 0, 0, 8, 0, 0};
    GArray *a = g_array_new(FALSE, TRUE, sizeof(TraceEvent));
    TraceEvent e;
    uint64_t t = 1000;

    for (unsigned i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 13);
    }
    for (unsigned round = 0; round < 3; round++) {
        e = crossing(TT_MMIO_WRITE, 0, t += 40, 0xe0001004, 0x10000 + round, 4);
        g_array_append_val(a, e);
        e = crossing(TT_MMIO_READ, 0, t += 200, 0xe0001040, round, 4);
        g_array_append_val(a, e);
        e = crossing(TT_MMIO_READ, 0, t += 200, 0xe0001040, 0xffffffff, 4);
        g_array_append_val(a, e);
        e = crossing(TT_MMIO_READ, 1, t += 999, 0xe0001000, UINT64_MAX, 8);
        g_array_append_val(a, e);
        e = crossing(TT_PIO_WRITE, 1, t += 40, 0xcf8, 0x80000000, 4);
        e.ok = false;
        g_array_append_val(a, e);
        e = crossing(TT_CFG_READ, 0, t += 200, 0x3d, 1, 1);
        e.devfn = 0x18;
        g_array_append_val(a, e);
        e = crossing(TT_CFG_WRITE, -1, t += 40, 0x04, 0x7, 2);
        e.devfn = 0x100;
        g_array_append_val(a, e);
        e = crossing(TT_IRQ_RAISE, 1, t += 10000, 0x51, IRQCHIP_BND_ASSERT, 0);
        g_array_append_val(a, e);
        e = crossing(TT_IRQ_RAISE, 0, t, 0x50,
                     IRQCHIP_BND_LEVEL | IRQCHIP_BND_ASSERT, 0);
        g_array_append_val(a, e);
        e = crossing(TT_IRQ_DELIVER, 1, t, 0x51, 2, 0);
        g_array_append_val(a, e);
        e = (TraceEvent){.type = TT_EXT,
                         .cpu = 1,
                         .time = t + 400,
                         .ext_kind = TRACE_EXT_IRQ_RETURN,
                         .ext_code = 0x51};
        g_array_append_val(a, e);
        /* A return whose delivery was not seen (explicit vector). */
        e.ext_code = 0x2f;
        g_array_append_val(a, e);
        t += 400;
        e = crossing(TT_DMA_WRITE, -1, t += 7, 0x12340, 0, 0);
        e.len = sizeof(big);
        e.has_data = true;
        e.data = big;
        e.hash = trace_hash64(big, sizeof(big), 0);
        g_array_append_val(a, e);
        if (!full) {
            /* What the recorder writes after a run of hashed DMAs. */
            e = (TraceEvent){.type = TT_DIGEST,
                             .cpu = -1,
                             .time = t,
                             .value = 0x89abcdefu - round};
            g_array_append_val(a, e);
        }
        e = dma_event(TT_DMA_READ, t, 0x2000 + round * 2, 2, 0x1234 + round);
        g_array_append_val(a, e);
        e = crossing(TT_DMA_READ, -1, t, 0xfee00000, 0, 0);
        e.len = 1ULL << 20;
        e.ok = false;
        g_array_append_val(a, e);
        e = crossing(TT_DMA_WRITE, -1, t, 0x4000, 0, 0);
        e.len = 64;
        e.has_data = false; /* accepted, no payload */
        g_array_append_val(a, e);
        e = crossing(TT_SCHED, 1, t, 0x3, 1, 0);
        e.len = round ? 1000 * round : 0;
        g_array_append_val(a, e);
        e = crossing(TT_SCHED, 0, t += 5, 0x3, 0, 0);
        e.len = round == 1 ? 10 : 0; /* a yield point before the last */
        g_array_append_val(a, e);
        e = (TraceEvent){.type = TT_SRB_START,
                         .cpu = 0,
                         .time = t,
                         .req = 10 + round,
                         .path = 0,
                         .target = 1,
                         .lun = (uint8_t)round,
                         .function = 0,
                         .cdb_len = 16,
                         .xfer = 4096};
        memcpy(e.cdb, cdb16, 16);
        e.cdb[9] = (uint8_t)round;
        g_array_append_val(a, e);
        e = (TraceEvent){.type = TT_SRB_START,
                         .cpu = 0,
                         .time = t,
                         .req = 100,
                         .function = 0x08};
        g_array_append_val(a, e);
        e = (TraceEvent){.type = TT_SRB_DONE,
                         .cpu = 1,
                         .time = t + 3,
                         .req = 10 + round,
                         .xfer = 4096,
                         .srb_status = 0x01};
        g_array_append_val(a, e);
        e = (TraceEvent){.type = TT_SRB_DONE,
                         .cpu = 0,
                         .time = t + 3,
                         .req = 100,
                         .srb_status = 0x84,
                         .scsi_status = 2};
        g_array_append_val(a, e);
        t += 3;
        e = (TraceEvent){.type = TT_EXT,
                         .cpu = 0,
                         .time = t,
                         .ext_kind = TRACE_EXT_FAULT,
                         .ext_code = 7,
                         .ext_len = 5,
                         .ext_data = (const uint8_t *)"irq-d"};
        g_array_append_val(a, e);
        e = (TraceEvent){.type = TT_CHECKPOINT,
                         .cpu = -1,
                         .time = t,
                         .ck_events = 5 + round,
                         .ck_yields = 77,
                         .ck_switches = 3,
                         .ck_fingerprint = 0xfeedULL};
        g_array_append_val(a, e);
    }
    e = (TraceEvent){.type = TT_END,
                     .cpu = -1,
                     .time = t + 1,
                     .exit_code = -3,
                     .stop_reason = 2};
    g_array_append_val(a, e);
    return a;
}

static void assert_same(const TraceEvent *x, const TraceEvent *y, bool full)
{
    g_assert_cmpuint(x->type, ==, y->type);
    g_assert_cmpint(x->cpu, ==, y->cpu);
    g_assert_cmpuint(x->time, ==, y->time);
    switch (x->type) {
    case TT_SRB_START:
        g_assert_cmpuint(x->req, ==, y->req);
        g_assert_cmpuint(x->lun, ==, y->lun);
        g_assert_cmpuint(x->target, ==, y->target);
        g_assert_cmpuint(x->function, ==, y->function);
        g_assert_cmpuint(x->cdb_len, ==, y->cdb_len);
        g_assert_cmpmem(x->cdb, x->cdb_len, y->cdb, y->cdb_len);
        g_assert_cmpuint(x->xfer, ==, y->xfer);
        return;
    case TT_SRB_DONE:
        g_assert_cmpuint(x->req, ==, y->req);
        g_assert_cmpuint(x->xfer, ==, y->xfer);
        g_assert_cmpuint(x->srb_status, ==, y->srb_status);
        g_assert_cmpuint(x->scsi_status, ==, y->scsi_status);
        return;
    case TT_EXT:
        g_assert_cmpuint(x->ext_kind, ==, y->ext_kind);
        g_assert_cmpuint(x->ext_code, ==, y->ext_code);
        g_assert_cmpmem(x->ext_data, x->ext_len, y->ext_data, y->ext_len);
        return;
    case TT_CHECKPOINT:
        g_assert_cmpuint(x->ck_events, ==, y->ck_events);
        g_assert_cmpuint(x->ck_yields, ==, y->ck_yields);
        g_assert_cmpuint(x->ck_fingerprint, ==, y->ck_fingerprint);
        return;
    case TT_END:
        g_assert_cmpint(x->exit_code, ==, y->exit_code);
        g_assert_cmpuint(x->stop_reason, ==, y->stop_reason);
        return;
    case TT_DIGEST:
        g_assert_cmpuint(x->value, ==, y->value);
        return;
    }
    g_assert_cmpuint(x->addr, ==, y->addr);
    g_assert_cmpuint(x->ok, ==, y->ok);
    if (trace_type_is_dma(x->type)) {
        g_assert_cmpuint(x->len, ==, y->len);
        g_assert_cmpuint(x->has_data && x->ok, ==, y->has_data);
        if (y->has_data && x->len > TRACE_DMA_SMALL) {
            /* data=hash: the digest record after it has the data. */
            g_assert_cmpint(y->digested, ==, !full);
            if (full) {
                g_assert_cmpuint(x->hash, ==, y->hash);
                g_assert_cmpmem(x->data, x->len, y->data, y->len);
            }
        } else if (y->has_data) {
            g_assert_cmpuint(x->value, ==, y->value);
        }
        return;
    }
    g_assert_cmpuint(x->value, ==, y->value);
    g_assert_cmpuint(x->size, ==, y->size);
    g_assert_cmpuint(x->devfn, ==, y->devfn);
    if (x->type == TT_SCHED) {
        g_assert_cmpuint(x->len, ==, y->len);
    }
}

static void test_codec_roundtrip(gconstpointer data)
{
    bool full = GPOINTER_TO_INT(data);
    g_autoptr(GArray) ev = sample_events(full);
    g_autofree uint8_t *buf = g_malloc(1 << 20);
    TraceCodec enc = {.full_data = full, .smp = 2}, dec = enc;
    size_t n = 0, pos = 0;

    trace_codec_reset(&enc, 0, 1000);
    trace_codec_reset(&dec, 0, 1000);
    for (guint i = 0; i < ev->len; i++) {
        TraceEvent *e = &g_array_index(ev, TraceEvent, i);
        g_assert_cmpuint(trace_encode_bound(&enc, e), <=, (1 << 20) - n);
        n += trace_encode(&enc, e, buf + n);
    }
    for (guint i = 0; i < ev->len; i++) {
        TraceEvent x = g_array_index(ev, TraceEvent, i), y;
        const char *why = NULL;
        size_t m = trace_decode(&dec, buf + pos, n - pos, &y, &why);
        if (!m) {
            g_error("record %u: %s", i, why);
        }
        assert_same(&x, &y, full);
        pos += m;
    }
    g_assert_cmpuint(pos, ==, n);
    g_assert_cmpuint(dec.index, ==, enc.index);
}

/*
 * Slots under pressure: fixed registers, two rings walked by stride (one
 * next to a fixed index), 200 buffers taking turns (more than the slots
 * hold), wrap-around. Everything round-trips, and once warm a ring entry
 * or an index costs one byte.
 */
static void test_codec_slots(void)
{
    g_autofree uint8_t *buf = g_malloc(1 << 22);
    g_autoptr(GArray) ev = g_array_new(FALSE, TRUE, sizeof(TraceEvent));
    TraceCodec *enc = g_new0(TraceCodec, 1), *dec = g_new0(TraceCodec, 1);
    size_t n = 0, pos = 0, warm = 0, warm_records = 0;
    uint64_t t = 0;

    for (unsigned i = 0; i < 3000; i++) {
        TraceEvent e;
        /* the index just before its ring, as virtio has it */
        e = dma_event(TT_DMA_READ, t, 0x10000, 2, i & 0xffff);
        g_array_append_val(ev, e);
        e = dma_event(TT_DMA_READ, t, 0x10002 + 2 * (i % 256), 2, i % 256);
        g_array_append_val(ev, e);
        e = dma_event(TT_DMA_WRITE, t, 0x20000 + 4096 * (i % 200), 4096, 0);
        g_array_append_val(ev, e);
        e = dma_event(TT_DMA_WRITE, t, 0x30004 + 8 * (i % 256), 8,
                      (uint64_t)(i % 256) << 32 | 4096);
        g_array_append_val(ev, e);
        e = dma_event(TT_DMA_WRITE, t, 0x30002, 2, i & 0xffff);
        g_array_append_val(ev, e);
        e = crossing(TT_MMIO_WRITE, 0, t += 40, 0xe0003008 + 4 * (i % 9), 2, 2);
        g_array_append_val(ev, e);
    }
    trace_codec_reset(enc, 0, 0);
    trace_codec_reset(dec, 0, 0);
    for (guint i = 0; i < ev->len; i++) {
        TraceEvent *e = &g_array_index(ev, TraceEvent, i);
        size_t m = trace_encode(enc, e, buf + n);
        /* the fixed index and the two rings after the first wrap (but
         * not the two entries after a wrap: their values jump) */
        if (i / 6 > 300 && i / 6 % 256 > 1 &&
            (i % 6 == 0 || i % 6 == 1 || i % 6 == 4)) {
            warm += m;
            warm_records++;
        }
        n += m;
    }
    g_assert_cmpuint(warm, ==, warm_records);
    for (guint i = 0; i < ev->len; i++) {
        TraceEvent x = g_array_index(ev, TraceEvent, i), y;
        const char *why = NULL;
        size_t m = trace_decode(dec, buf + pos, n - pos, &y, &why);
        if (!m) {
            g_error("record %u: %s", i, why);
        }
        assert_same(&x, &y, false);
        pos += m;
    }
    g_assert_cmpuint(pos, ==, n);
    g_free(enc);
    g_free(dec);
}

/*
 * The recorder's reset at a chunk leaves the encoder as the full reset
 * does: the same bytes after it, the same codec to the byte, with resets
 * after a few records and after slots have run out and been reused.
 */
static void test_codec_enc_reset(void)
{
    g_autoptr(GArray) ev = sample_events(false);
    g_autofree uint8_t *ba = g_malloc(1 << 16), *bb = g_malloc(1 << 16);
    TraceCodec *a = g_new0(TraceCodec, 1), *b = g_new0(TraceCodec, 1);
    uint64_t t = 0;

    for (unsigned i = 0; i < 400; i++) {
        /* more buffers than slots, a ring, a register */
        TraceEvent e =
            dma_event(TT_DMA_WRITE, t, 0x20000 + 4096 * (i % 150), 4096, 0);
        g_array_append_val(ev, e);
        e = dma_event(TT_DMA_READ, t, 0x10002 + 2 * (i % 64), 2, i % 64);
        g_array_append_val(ev, e);
        e = crossing(TT_MMIO_WRITE, 0, t += 40, 0xe0003008 + 4 * (i % 3), 2, 2);
        g_array_append_val(ev, e);
    }
    a->smp = b->smp = 2;
    trace_codec_reset(a, 0, 1000);
    trace_codec_reset(b, 0, 1000);
    for (unsigned every = 1; every < 700; every = every * 3 + 1) {
        for (guint i = 0; i < ev->len; i++) {
            TraceEvent *e = &g_array_index(ev, TraceEvent, i);
            size_t na, nb;

            if (i % every == 0) {
                trace_codec_reset(a, a->index, a->time);
                trace_enc_reset(b, b->index, b->time);
                g_assert_cmpmem(a, sizeof(*a), b, sizeof(*b));
            }
            na = trace_encode(a, e, ba);
            nb = trace_encode(b, e, bb);
            g_assert_cmpmem(ba, na, bb, nb);
        }
    }
    g_free(a);
    g_free(b);
}

/* Every prefix of a valid stream is refused cleanly (never a crash, never
 * a record made of bytes beyond the prefix). */
static void test_codec_truncated_records(void)
{
    g_autoptr(GArray) ev = sample_events(true);
    g_autofree uint8_t *buf = g_malloc(1 << 20);
    TraceCodec enc = {.full_data = true, .smp = 2};
    size_t n = 0;

    trace_codec_reset(&enc, 0, 1000);
    for (guint i = 0; i < ev->len; i++) {
        TraceEvent *e = &g_array_index(ev, TraceEvent, i);
        TraceCodec before = enc;
        size_t m = trace_encode(&enc, e, buf + n);
        for (size_t cut = 0; cut < m; cut++) {
            TraceCodec c = before;
            TraceEvent y;
            const char *why = NULL;
            g_assert_cmpuint(trace_decode(&c, buf + n, cut, &y, &why), ==, 0);
            g_assert_nonnull(why);
        }
        n += m;
    }
}

static void test_codec_rejects(void)
{
    static const struct {
        uint8_t bytes[4];
        size_t len;
        const char *why;
    } bad[] = {
        /* mmio-read hitting slot 2 of an empty codec */
        {{TT_MMIO_READ | 2 << 4, 0}, 2, "slot"},
        /* an extension byte with nothing in it */
        {{TT_MMIO_READ | 7 << 4 | 0x80, 0x00, 0, 0}, 4, "extension"},
        /* a checkpoint with flag bits other than the digest's */
        {{TT_CHECKPOINT | 0x20, 0, 0, 0}, 4, "reserved"},
        /* a digest cut short */
        {{TT_CHECKPOINT | 0x10, 0, 0, 0}, 4, "truncated"},
        /* a value on a record that has none (a DMA without payload) */
        {{TT_DMA_READ | 7 << 4 | 0x80, 0x80 | 0x08, 0, 0}, 4, "value"},
        /* a slot byte naming a slot the tag could have named */
        {{TT_MMIO_READ | 6 << 4, 3, 0, 0}, 4, "slot byte"},
        /* a miss that moves a slot not in use */
        {{TT_DMA_READ | 7 << 4 | 0x80, 0x08, 0x01, 5}, 4, "not in use"},
        /* an interrupt return with nothing in service */
        {{TT_EXT | TRACE_EXT_IRQ_RETURN << 4, 0}, 1, "in service"},
        /* an external record of an unknown kind */
        {{TT_EXT | 5 << 4, 0, 0}, 3, "kind"},
        /* a scheduler pick of vCPU 5 of 2: mask 1, no yield point, a
         * value follows (delta 5, even code) */
        {{TT_SCHED | 7 << 4, 0x02, 0x01, 20}, 4, "pick"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        TraceCodec c = {.smp = 2};
        TraceEvent e;
        const char *why = NULL;

        trace_codec_reset(&c, 0, 0);
        g_assert_cmpuint(trace_decode(&c, bad[i].bytes, bad[i].len, &e, &why),
                         ==, 0);
        if (!strstr(why, bad[i].why)) {
            g_error("case %zu: '%s' does not mention '%s'", i, why, bad[i].why);
        }
    }
}

static void test_header_roundtrip(void)
{
    TraceHeader h, back;
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    TraceImage im = {.id = g_strdup("d0"),
                     .filename = g_strdup("a,b.img"),
                     .size = 1 << 20,
                     .hash = 0x1234,
                     .flags = 2};
    TracePciFunction fn = {.bdf = 0x18,
                           .name = g_strdup("hba0"),
                           .intx_routed = true,
                           .intx_cpu = 1,
                           .intx_vector = 0x50};
    size_t n;

    trace_header_init(&h);
    h.build_id = g_strdup("test-build");
    g_ptr_array_add(h.argv, g_strdup("-smp"));
    g_ptr_array_add(h.argv, g_strdup("2"));
    h.seed = 99;
    h.smp = 2;
    h.mem_size = 64 << 20;
    h.full_data = true;
    fn.config[0] = 0x34;
    fn.bar_size[0] = 0x100;
    fn.bar_addr[0] = 0xe0000000;
    g_array_append_val(h.images, im);
    g_array_append_val(h.functions, fn);
    h.base_seq = 12;
    h.start_time = 34;
    h.checkpoint_interval = 1000;
    trace_header_encode(&h, b);

    trace_header_init(&back);
    n = trace_header_decode(b->data, b->len, &back, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, b->len);
    g_assert_cmpstr(back.build_id, ==, "test-build");
    g_assert_cmpuint(back.argv->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(back.argv, 1), ==, "2");
    g_assert_cmpuint(back.seed, ==, 99);
    g_assert_cmpuint(back.smp, ==, 2);
    g_assert_true(back.full_data);
    g_assert_cmpuint(back.images->len, ==, 1);
    g_assert_cmpstr(g_array_index(back.images, TraceImage, 0).filename, ==,
                    "a,b.img");
    g_assert_cmpuint(g_array_index(back.images, TraceImage, 0).hash, ==,
                     0x1234);
    g_assert_cmpuint(
        g_array_index(back.functions, TracePciFunction, 0).intx_vector, ==,
        0x50);
    g_assert_cmpuint(
        g_array_index(back.functions, TracePciFunction, 0).config[0], ==, 0x34);
    g_assert_cmpuint(back.base_seq, ==, 12);
    g_assert_cmpuint(back.start_time, ==, 34);

    /* Every byte of the header is covered by its checksum. */
    for (guint i = 0; i < b->len; i += 7) {
        TraceHeader x;
        g_autoptr(GError) e2 = NULL;
        b->data[i] ^= 1;
        trace_header_init(&x);
        g_assert_cmpuint(trace_header_decode(b->data, b->len, &x, &e2), ==, 0);
        g_assert_nonnull(e2);
        trace_header_clear(&x);
        b->data[i] ^= 1;
    }
    trace_header_clear(&back);
    trace_header_clear(&h);
}

/* ---- recordings ---- */

static const RrIoLoad load = {
    .threads = 2,
    .rounds = 200,
    .depth = 8,
    .blocks = 8,
    .writes = true,
};

static const RrIoLoad big_load = {
    .threads = 2,
    .rounds = 1000,
    .depth = 8,
    .blocks = 8,
    .writes = true,
};

static void record_rr_load(const char *path, SchedPolicy policy, uint64_t seed,
                           RecordData data, const RrIoLoad *l, RrOutcome *out)
{
    RrRun r = {
        .msix = 2,
        .policy = policy,
        .seed = seed,
        .verifier = VERIFIER_ON,
        .record = path,
        .data = data,
        .body = rr_body_io,
        .opaque = (void *)l,
    };

    rr_fix = true;
    rr_run(&r, out);
    g_assert_cmpint(out->rc, ==, EXIT_OK);
    g_assert_cmpuint(out->verifier, ==, 0);
}

static void record_rr(const char *path, SchedPolicy policy, uint64_t seed,
                      RecordData data, RrOutcome *out)
{
    record_rr_load(path, policy, seed, data, &load, out);
}

typedef struct Read {
    GArray *events; /* TraceEvent, without pointers into the file */
    TraceReadStatus last;
    char *error;
    uint64_t error_offset;
} Read;

static void read_all(const uint8_t *data, size_t len, Read *out)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TraceReader) r = trace_reader_new(data, len, "t", &err);
    TraceEvent e;

    out->events = g_array_new(FALSE, FALSE, sizeof(TraceEvent));
    out->error = NULL;
    if (!r) {
        out->last = TRACE_READ_ERROR;
        out->error = g_strdup(err->message);
        return;
    }
    while ((out->last = trace_reader_next(r, &e)) == TRACE_READ_EVENT) {
        e.data = NULL;
        e.ext_data = NULL;
        g_array_append_val(out->events, e);
    }
    if (out->last == TRACE_READ_ERROR) {
        out->error = g_strdup(trace_reader_error(r));
        out->error_offset = trace_reader_error_offset(r);
    }
}

static void read_clear(Read *r)
{
    g_array_free(r->events, TRUE);
    g_free(r->error);
}

static void test_recording_complete(void)
{
    g_autofree char *path = tmp_path("complete.trc");
    g_autofree gchar *bytes = NULL;
    gsize len;
    RrOutcome o;
    Read rd;
    uint64_t crossings = 0, starts = 0, dones = 0, delivers = 0, returns = 0;
    uint64_t checkpoints = 0, irqs = 0, dmas = 0;

    record_rr(path, SCHED_POLICY_RANDOM, 3, RECORD_DATA_HASH, &o);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    g_assert_cmpuint(len, ==, o.rec.bytes);
    read_all((const uint8_t *)bytes, len, &rd);
    g_assert_cmpint(rd.last, ==, TRACE_READ_END);
    for (guint i = 0; i < rd.events->len; i++) {
        const TraceEvent *e = &g_array_index(rd.events, TraceEvent, i);
        if (trace_type_is_crossing(e->type)) {
            g_assert_cmpuint(e->index, ==, crossings);
            crossings++;
        }
        starts += e->type == TT_SRB_START;
        dones += e->type == TT_SRB_DONE;
        delivers += e->type == TT_IRQ_DELIVER;
        returns += e->type == TT_EXT && e->ext_kind == TRACE_EXT_IRQ_RETURN;
        checkpoints += e->type == TT_CHECKPOINT;
        irqs += e->type == TT_IRQ_RAISE;
        dmas += trace_type_is_dma(e->type);
    }
    /* Every crossing the machine made during the run, in order. */
    g_assert_cmpuint(crossings, ==, o.events);
    g_assert_cmpuint(crossings, ==, o.rec.events);
    g_assert_cmpuint(irqs, ==, o.rec.irqs);
    g_assert_cmpuint(dmas, ==, o.rec.dmas);
    /* Every request starts and completes; every handler returns. */
    g_assert_cmpuint(starts, ==, o.rec.srbs);
    g_assert_cmpuint(starts, ==, dones);
    g_assert_cmpuint(delivers, ==, returns);
    g_assert_cmpuint(checkpoints, ==, crossings / RECORD_CHECKPOINT_INTERVAL);
    g_assert_cmpuint(
        g_array_index(rd.events, TraceEvent, rd.events->len - 1).type, ==,
        TT_END);
    read_clear(&rd);
}

static void test_deterministic(void)
{
    g_autofree char *a = tmp_path("det-a.trc");
    g_autofree char *b = tmp_path("det-b.trc");
    g_autofree char *c = tmp_path("det-c.trc");
    g_autofree gchar *ba = NULL, *bb = NULL, *bc = NULL;
    gsize la, lb, lc;
    RrOutcome oa, ob, oc;

    record_rr(a, SCHED_POLICY_RANDOM, 11, RECORD_DATA_FULL, &oa);
    record_rr(b, SCHED_POLICY_RANDOM, 11, RECORD_DATA_FULL, &ob);
    record_rr(c, SCHED_POLICY_RANDOM, 12, RECORD_DATA_FULL, &oc);
    g_assert_true(g_file_get_contents(a, &ba, &la, NULL));
    g_assert_true(g_file_get_contents(b, &bb, &lb, NULL));
    g_assert_true(g_file_get_contents(c, &bc, &lc, NULL));
    /* Same options and seed: byte-identical. */
    g_assert_cmpmem(ba, la, bb, lb);
    g_assert_cmpuint(oa.fingerprint, ==, ob.fingerprint);
    /* Another seed: another interleaving. */
    g_assert_cmpuint(oa.fingerprint, !=, oc.fingerprint);
    g_assert_false(la == lc && memcmp(ba, bc, la) == 0);
}

/* Another interleaving, the same data: iobench verifies every read and
 * reads everything back at the end, on two vCPUs, under two seeds. */
static void test_seeds_same_data(void)
{
    g_autofree char *a = tmp_path("seed1.trc");
    g_autofree char *b = tmp_path("seed2.trc");
    g_autofree gchar *ba = NULL, *bb = NULL;
    gsize la, lb;

    for (int i = 0; i < 2; i++) {
        g_autofree char *args = g_strdup_printf(
            "-smp 2 -machine sched=random,seed=%d -miniport ramdisk -guest "
            "iobench,count=400,jobs=2,iodepth=4,rw=randrw,verify=on,size=1M "
            "-record %s",
            i + 1, i ? b : a);
        g_assert_cmpint(gt_harness_storemu(args), ==, EXIT_OK);
    }
    g_assert_true(g_file_get_contents(a, &ba, &la, NULL));
    g_assert_true(g_file_get_contents(b, &bb, &lb, NULL));
    g_assert_false(la == lb && memcmp(ba, bb, la) == 0);
}

/* Bytes of trace per 4 KiB I/O in hash mode: the RAM disk, virtio-scsi
 * and the test device under iobench (docs/trace-format.md, "Size"). */
static void test_bytes_per_io(void)
{
    g_autofree char *ram = tmp_path("ram.trc");
    g_autofree char *dev = tmp_path("dev.trc");
    g_autofree char *vio = tmp_path("vio.trc");
    g_autofree char *args = NULL;
    RrOutcome o;
    GStatBuf st;
    RrRun r = {
        .smp = 1,
        .msix = 1,
        .verifier = VERIFIER_ON,
        .record = dev,
        .body = rr_body_program,
        .opaque = (void *)"iobench,count=4000",
    };

    args = g_strdup_printf("-miniport ramdisk -guest iobench,count=4000 "
                           "-record %s",
                           ram);
    g_assert_cmpint(gt_harness_storemu(args), ==, EXIT_OK);
    g_assert_cmpint(g_stat(ram, &st), ==, 0);
    g_assert_cmpfloat((double)st.st_size / 4000, <=, 48.0);

    /* virtio-scsi: eleven ring and data DMAs per request, at iodepth 1
     * and 32 (the target of docs/trace-format.md, "Size and cost"). */
    for (unsigned qd = 1; qd <= 32; qd += 31) {
        g_free(args);
        args = g_strdup_printf(
            "-drive id=d0,size=64M -device virtio-scsi-pci,id=hba0 "
            "-device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi "
            "-guest iobench,rw=randread,iodepth=%u,count=20000 -record %s",
            qd, vio);
        g_assert_cmpint(gt_harness_storemu(args), ==, EXIT_OK);
        g_assert_cmpint(g_stat(vio, &st), ==, 0);
        if (g_test_verbose()) {
            g_printerr("# virtio-scsi iodepth %u: %.1f bytes per I/O\n", qd,
                       (double)st.st_size / 20000);
        }
        /* Start-up (enumeration, inquiries) included. */
        g_assert_cmpfloat((double)st.st_size / 20000, <=, 48.0);
    }
    g_assert_cmpint(g_stat(ram, &st), ==, 0);

    rr_fix = true;
    rr_run(&r, &o);
    g_assert_cmpint(o.rc, ==, EXIT_OK);
    g_assert_cmpuint(o.rec.ios, ==, 4000);
    if (g_test_verbose()) {
        g_printerr("# RAM disk %.1f, test device %.1f bytes per I/O\n",
                   (double)st.st_size / 4000,
                   (double)o.rec.bytes / (double)o.rec.ios);
    }
    g_assert_cmpfloat((double)o.rec.bytes / (double)o.rec.ios, <=, 48.0);
    rr_outcome_clear(&o);
}

/* ---- the reader against damage ---- */

static void test_reader_truncated(void)
{
    g_autofree char *path = tmp_path("trunc.trc");
    g_autofree gchar *bytes = NULL;
    gsize len;
    RrOutcome o;
    Read full;
    size_t header;

    record_rr_load(path, SCHED_POLICY_FIFO, 0, RECORD_DATA_HASH, &big_load, &o);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    read_all((const uint8_t *)bytes, len, &full);
    g_assert_cmpint(full.last, ==, TRACE_READ_END);
    {
        g_autoptr(TraceReader) r =
            trace_reader_new((const uint8_t *)bytes, len, "t", NULL);
        header = trace_reader_header_size(r);
    }
    g_assert_cmpuint(len, >, 4 * TRACE_CHUNK_TARGET);
    /* Every cut inside the header, cuts around each chunk header, and a
     * sample of cuts inside the chunks. */
    g_autoptr(GArray) cuts = g_array_new(FALSE, FALSE, sizeof(size_t));
    for (size_t cut = 0; cut < header; cut++) {
        g_array_append_val(cuts, cut);
    }
    for (size_t pos = header; pos + TRACE_CHUNK_HDR <= len;) {
        static const size_t around[] = {0, 1, 8, 31, 32, 33, 100};
        TraceChunk c;
        for (size_t i = 0; i < G_N_ELEMENTS(around); i++) {
            size_t cut = pos + around[i];
            g_array_append_val(cuts, cut);
        }
        g_assert_true(trace_chunk_parse((const uint8_t *)bytes + pos, &c));
        pos += TRACE_CHUNK_HDR + c.len;
    }
    for (size_t cut = header; cut < len; cut += len / 97) {
        g_array_append_val(cuts, cut);
    }
    for (guint k = 0; k < cuts->len; k++) {
        size_t cut = g_array_index(cuts, size_t, k);
        Read part;
        if (cut >= len) {
            continue;
        }
        read_all((const uint8_t *)bytes, cut, &part);
        g_assert_cmpint(part.last, ==, TRACE_READ_ERROR);
        g_assert_nonnull(part.error);
        if (cut >= header) {
            /* Damage at the end: named with its offset; everything before
             * it is what the whole file says. */
            g_assert_cmpuint(part.error_offset, <=, cut);
            g_assert_nonnull(strstr(part.error, "truncated at byte")
                                 ?: strstr(part.error, "no end record"));
            g_assert_cmpuint(part.events->len, <=, full.events->len);
            for (guint i = 0; i < part.events->len; i++) {
                g_assert_cmpmem(&g_array_index(part.events, TraceEvent, i),
                                sizeof(TraceEvent),
                                &g_array_index(full.events, TraceEvent, i),
                                sizeof(TraceEvent));
            }
            /* A cut at a chunk's end keeps all the chunks before it. */
            g_assert_cmpuint(part.events->len + 200, >=,
                             full.events->len * (cut - header) / len);
        }
        read_clear(&part);
    }
    read_clear(&full);
    rr_outcome_clear(&o);
}

static void test_reader_corrupt(void)
{
    g_autofree char *path = tmp_path("corrupt.trc");
    g_autofree gchar *bytes = NULL;
    gsize len;
    RrOutcome o;
    Read full;

    record_rr(path, SCHED_POLICY_FIFO, 0, RECORD_DATA_HASH, &o);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    read_all((const uint8_t *)bytes, len, &full);
    for (size_t pos = 3; pos < len; pos += len / 37) {
        Read part;
        bytes[pos] ^= 0x5a;
        read_all((const uint8_t *)bytes, len, &part);
        bytes[pos] ^= 0x5a;
        g_assert_cmpint(part.last, ==, TRACE_READ_ERROR);
        if (!strstr(part.error, "corrupt") &&
            !strstr(part.error, "not a storemu trace") &&
            !strstr(part.error, "version")) {
            g_error("byte %zu: %s", pos, part.error);
        }
        if (part.events->len) {
            /* The damaged chunk is refused whole; its offset is at or
             * before the flipped byte, and the records before it stand. */
            g_assert_cmpuint(part.error_offset, <=, pos);
            g_assert_cmpuint(part.error_offset + TRACE_CHUNK_TARGET + 64, >,
                             pos);
            for (guint i = 0; i < part.events->len; i++) {
                g_assert_cmpmem(&g_array_index(part.events, TraceEvent, i),
                                sizeof(TraceEvent),
                                &g_array_index(full.events, TraceEvent, i),
                                sizeof(TraceEvent));
            }
        }
        read_clear(&part);
    }
    read_clear(&full);
    rr_outcome_clear(&o);
}

static bool count_records(const TraceEvent *e, void *opaque)
{
    (*(unsigned *)opaque)++;
    return e->type != TT_END;
}

/*
 * Looking ahead (peek, scan: what replay without devices does before each
 * record) changes nothing next() hands out: the same records at the same
 * offsets, and a damaged trace's error at the same place. Scans reach
 * past the records the reader keeps decoded ahead.
 */
static void test_reader_look_ahead(void)
{
    g_autofree char *path = tmp_path("ahead.trc");
    g_autofree gchar *bytes = NULL;
    gsize len;
    RrOutcome o;

    record_rr_load(path, SCHED_POLICY_FIFO, 0, RECORD_DATA_HASH, &big_load, &o);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    for (int cut = 0; cut < 2; cut++) {
        size_t n = cut ? len * 2 / 3 : len;
        g_autoptr(TraceReader) ref =
            trace_reader_new((const uint8_t *)bytes, n, "t", NULL);
        g_autoptr(TraceReader) r =
            trace_reader_new((const uint8_t *)bytes, n, "t", NULL);
        TraceReadStatus want, got;
        unsigned steps = 0;

        do {
            TraceEvent x, y, p;
            TraceReadStatus ps = trace_reader_peek(r, 0, &p);
            if (steps % 97 == 0) {
                TraceEvent p3;
                unsigned seen = 0;
                trace_reader_peek(r, 3, &p3);
                trace_reader_scan(r, count_records, &seen, 6000);
                g_assert_cmpuint(seen, >, 0);
            }
            want = trace_reader_next(ref, &x);
            got = trace_reader_next(r, &y);
            g_assert_cmpint(got, ==, want);
            g_assert_cmpint(ps, ==, want);
            if (want == TRACE_READ_EVENT) {
                g_assert_cmpuint(y.type, ==, x.type);
                g_assert_cmpuint(y.index, ==, x.index);
                g_assert_cmpuint(y.time, ==, x.time);
                g_assert_cmpuint(y.addr, ==, x.addr);
                g_assert_cmpuint(y.value, ==, x.value);
                g_assert_cmpuint(p.type, ==, x.type);
                g_assert_cmpuint(p.time, ==, x.time);
                g_assert_cmpuint(p.addr, ==, x.addr);
                g_assert_cmpuint(trace_reader_record_offset(r), ==,
                                 trace_reader_record_offset(ref));
            }
            steps++;
        } while (want == TRACE_READ_EVENT);
        g_assert_cmpint(want, ==, cut ? TRACE_READ_ERROR : TRACE_READ_END);
        if (cut) {
            g_assert_cmpstr(trace_reader_error(r), ==, trace_reader_error(ref));
            g_assert_cmpuint(trace_reader_error_offset(r), ==,
                             trace_reader_error_offset(ref));
        }
        g_assert_cmpuint(steps, >, 2 * 4096);
    }
    rr_outcome_clear(&o);
}

static void test_reader_trailing_and_magic(void)
{
    g_autofree char *path = tmp_path("trail.trc");
    g_autofree gchar *bytes = NULL;
    g_autofree uint8_t *more = NULL;
    gsize len;
    RrOutcome o;
    Read rd;

    record_rr(path, SCHED_POLICY_FIFO, 0, RECORD_DATA_HASH, &o);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    more = g_malloc0(len + 3);
    memcpy(more, bytes, len);
    read_all(more, len + 3, &rd);
    g_assert_cmpint(rd.last, ==, TRACE_READ_ERROR);
    g_assert_nonnull(strstr(rd.error, "after the end record"));
    g_assert_cmpuint(rd.error_offset, ==, len);
    read_clear(&rd);
    more[0] = 'X';
    read_all(more, len, &rd);
    g_assert_cmpint(rd.last, ==, TRACE_READ_ERROR);
    g_assert_nonnull(strstr(rd.error, "not a storemu trace"));
    g_assert_cmpuint(rd.events->len, ==, 0);
    read_clear(&rd);
    more[0] = bytes[0];
    more[8] = 9; /* version */
    read_all(more, len, &rd);
    g_assert_nonnull(strstr(rd.error, "version"));
    read_clear(&rd);
    rr_outcome_clear(&o);
}

/* External records, written by the layers that feed the machine. */
static void fault_body(void *opaque)
{
    record_fault(3, "dropped interrupt");
    record_note("hello");
    record_input(1, "\x01\x02", 2);
    rr_body_io(opaque);
}

static void test_external_records(void)
{
    g_autofree char *path = tmp_path("ext.trc");
    g_autofree gchar *bytes = NULL;
    gsize len;
    RrOutcome o;
    Read rd;
    bool fault = false, note = false, input = false;
    RrRun r = {
        .msix = 2,
        .verifier = VERIFIER_ON,
        .record = path,
        .body = fault_body,
        .opaque = (void *)&load,
    };

    rr_fix = true;
    rr_run(&r, &o);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    read_all((const uint8_t *)bytes, len, &rd);
    g_assert_cmpint(rd.last, ==, TRACE_READ_END);
    for (guint i = 0; i < rd.events->len; i++) {
        const TraceEvent *e = &g_array_index(rd.events, TraceEvent, i);
        if (e->type != TT_EXT) {
            continue;
        }
        fault |= e->ext_kind == TRACE_EXT_FAULT && e->ext_code == 3 &&
                 e->ext_len == strlen("dropped interrupt");
        note |= e->ext_kind == TRACE_EXT_NOTE && e->ext_len == 5;
        input |= e->ext_kind == TRACE_EXT_INPUT && e->ext_len == 2;
    }
    g_assert_true(fault && note && input);
    read_clear(&rd);
    rr_outcome_clear(&o);
}

/*
 * The recorder codes SRB notes straight from the BndNote: the same bytes
 * as trace_encode() of the record, for every CDB length (none, short,
 * READ(16), longer than the codec keeps), addresses, shapes, request ids,
 * statuses, times and vCPUs that change or do not.
 */
static void test_codec_srb_notes(void)
{
    static TraceCodec a, b;
    static const uint8_t lens[] = {16, 16, 10, 6, 0, 20, 16, 12};
    uint8_t cdb[20], ba[128], bb[128];
    uint64_t time = 1000;

    trace_codec_reset(&a, 0, 0);
    trace_codec_reset(&b, 0, 0);
    for (unsigned i = 0; i < 400; i++) {
        BndNote n = {
            .kind = i % 3 == 2 ? BND_NOTE_SRB_DONE : BND_NOTE_SRB_START,
            .cpu = (int16_t)(i % 7 == 0),
            .req = i / 3 + (i % 11 == 0 ? 5 : 0),
            .target = (uint8_t)(i % 13 == 0),
            .lun = (uint8_t)(i % 17 == 0),
            .function = (uint8_t)(i % 19 == 0 ? 0x20 : 0),
            .cdb_len = lens[i % 8],
            .cdb = i % 23 == 0 ? NULL : cdb,
            .data_len = i % 5 == 0 ? 512 : 4096,
            .srb_status = (uint8_t)(i % 9 == 0 ? 4 : 1),
            .scsi_status = (uint8_t)(i % 18 == 0 ? 2 : 0),
        };
        TraceEvent e;
        size_t na, nb;

        for (unsigned k = 0; k < sizeof(cdb); k++) {
            cdb[k] = (uint8_t)(k == 0 ? 0x88 : (i * 37 + k) >> (k % 4));
        }
        time += i % 4 == 0 ? 0 : 100;
        memset(&e, 0, sizeof(e));
        e.time = time;
        e.cpu = n.cpu;
        e.req = n.req;
        e.xfer = n.data_len;
        if (n.kind == BND_NOTE_SRB_START) {
            e.type = TT_SRB_START;
            e.target = n.target;
            e.lun = n.lun;
            e.function = n.function;
            e.cdb_len = n.cdb ? MIN(n.cdb_len, TRACE_CDB_MAX) : 0;
            memcpy(e.cdb, cdb, e.cdb_len);
            nb = trace_encode_srb_start(&b, &n, time, bb);
        } else {
            e.type = TT_SRB_DONE;
            e.srb_status = n.srb_status;
            e.scsi_status = n.scsi_status;
            nb = trace_encode_srb_done(&b, &n, time, bb);
        }
        na = trace_encode(&a, &e, ba);
        g_assert_cmpmem(ba, na, bb, nb);
    }
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    gt_harness_init();
    tmpdir = g_dir_make_tmp("storemu-record-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_test_add_func("/record/hash", test_hash);
    g_test_add_func("/record/hash/implementations", test_hash_impls);
    g_test_add_func("/record/digest/implementations", test_digest_impls);
    g_test_add_func("/record/digest/changes", test_digest_changes);
    g_test_add_func("/record/varint", test_varint);
    g_test_add_data_func("/record/codec/roundtrip-hash", GINT_TO_POINTER(0),
                         test_codec_roundtrip);
    g_test_add_data_func("/record/codec/roundtrip-full", GINT_TO_POINTER(1),
                         test_codec_roundtrip);
    g_test_add_func("/record/codec/truncated-records",
                    test_codec_truncated_records);
    g_test_add_func("/record/codec/rejects", test_codec_rejects);
    g_test_add_func("/record/codec/slots", test_codec_slots);
    g_test_add_func("/record/codec/enc-reset", test_codec_enc_reset);
    g_test_add_func("/record/codec/srb-notes", test_codec_srb_notes);
    g_test_add_func("/record/header/roundtrip", test_header_roundtrip);
    g_test_add_func("/record/recording/complete", test_recording_complete);
    g_test_add_func("/record/recording/deterministic", test_deterministic);
    g_test_add_func("/record/recording/seeds-same-data", test_seeds_same_data);
    g_test_add_func("/record/recording/bytes-per-io", test_bytes_per_io);
    g_test_add_func("/record/recording/external", test_external_records);
    g_test_add_func("/record/reader/truncated", test_reader_truncated);
    g_test_add_func("/record/reader/corrupt", test_reader_corrupt);
    g_test_add_func("/record/reader/look-ahead", test_reader_look_ahead);
    g_test_add_func("/record/reader/trailing-and-magic",
                    test_reader_trailing_and_magic);
    rc = g_test_run();
    {
        g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(tmpdir, n, NULL);
            g_unlink(p);
        }
        g_rmdir(tmpdir);
        g_free(tmpdir);
    }
    return rc;
}
