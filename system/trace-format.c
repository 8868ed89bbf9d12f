/* SPDX-License-Identifier: MIT */
/*
 * The trace format's codec (docs/trace-format.md): the hash, the record
 * encoder and decoder with their shared predictions, the file header and
 * the chunk headers.
 *
 * Every record starts with a tag byte: the type in bits 0..3, a type-
 * specific field in bits 4..6 (for crossings, the address slot), and in
 * bit 7 whether an extension byte follows saying which fields the
 * predictions got wrong. A register access that hits a slot at the
 * predicted time, on the predicted vCPU, costs the tag and a one-byte
 * value delta.
 */
#include <string.h>
#include "system/error.h"
#include "system/trace-codec.h"
#include "system/trace-format.h"

/* ---- the hash ---- */

#define H_K0 0x9e3779b97f4a7c15ULL
#define H_K1 0xc2b2ae3d27d4eb4fULL
#define H_K2 0x165667b19e3779f9ULL
#define H_K3 0xd6e8feb86659fd93ULL
#define H_K4 0xff51afd7ed558ccdULL

static inline uint64_t rotl64(uint64_t v, unsigned r)
{
    return (v << r) | (v >> (64 - r));
}

/* 64x64->128 multiply, halves folded together. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    __uint128_t p = (__uint128_t)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return GUINT64_FROM_LE(v);
}

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return GUINT32_FROM_LE(v);
}

static inline uint16_t load16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return GUINT16_FROM_LE(v);
}

/* 1-7 bytes as a little-endian number. */
static inline uint64_t load_short(const uint8_t *p, size_t r)
{
    uint64_t v = 0;
    size_t i = 0;
    unsigned sh = 0;

    if (r & 4) {
        v = load32(p);
        i = 4;
        sh = 32;
    }
    if (r & 2) {
        v |= (uint64_t)load16(p + i) << sh;
        i += 2;
        sh += 16;
    }
    if (r & 1) {
        v |= (uint64_t)p[i] << sh;
    }
    return v;
}

/*
 * The bulk of the input goes in 32-byte stripes over four 64-bit lanes.
 * Word i of a stripe, d, is XORed with a key k_i that steps by a constant
 * from stripe to stripe (so the same words at another place give other
 * products: the order of stripes matters); the product of the two halves
 * of d ^ k_i is added to lane i and d itself to its neighbour lane i ^ 1
 * (so a word whose low half XORs to zero still counts). Sums commute, so
 * the scalar, SSE2 and AVX2 versions below give the same lanes; the
 * vector ones do a stripe in a handful of instructions.
 */
static const uint64_t stripe_key[4] = {H_K0, H_K1, H_K2, H_K3};
static const uint64_t stripe_step[4] = {H_K4, H_K2 ^ H_K3, H_K1 + H_K4,
                                        H_K0 ^ H_K4};

/* Each takes the keys where the stripes before left them and leaves them
 * where the next stripe starts. */
static void stripes_scalar(uint64_t acc[4], uint64_t k[4], const uint8_t *p,
                           size_t ns)
{
    for (size_t s = 0; s < ns; s++, p += 32) {
        for (unsigned i = 0; i < 4; i++) {
            uint64_t d = load64(p + 8 * i), x = d ^ k[i];
            acc[i] += (x & 0xffffffffu) * (x >> 32);
            acc[i ^ 1] += d;
            k[i] += stripe_step[i];
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/* _mm_shuffle_epi32 order swapping the two 64-bit halves of 128 bits */
#define SWAP64 0x4e

static void stripes_sse2(uint64_t acc[4], uint64_t key[4], const uint8_t *p,
                         size_t ns)
{
    __m128i a0 = _mm_loadu_si128((const __m128i *)acc);
    __m128i a1 = _mm_loadu_si128((const __m128i *)(acc + 2));
    __m128i k0 = _mm_loadu_si128((const __m128i *)key);
    __m128i k1 = _mm_loadu_si128((const __m128i *)(key + 2));
    const __m128i s0 = _mm_loadu_si128((const __m128i *)stripe_step);
    const __m128i s1 = _mm_loadu_si128((const __m128i *)(stripe_step + 2));

    for (size_t s = 0; s < ns; s++, p += 32) {
        __m128i d0 = _mm_loadu_si128((const __m128i *)p);
        __m128i d1 = _mm_loadu_si128((const __m128i *)(p + 16));
        __m128i x0 = _mm_xor_si128(d0, k0), x1 = _mm_xor_si128(d1, k1);
        a0 = _mm_add_epi64(a0, _mm_mul_epu32(x0, _mm_srli_epi64(x0, 32)));
        a1 = _mm_add_epi64(a1, _mm_mul_epu32(x1, _mm_srli_epi64(x1, 32)));
        a0 = _mm_add_epi64(a0, _mm_shuffle_epi32(d0, SWAP64));
        a1 = _mm_add_epi64(a1, _mm_shuffle_epi32(d1, SWAP64));
        k0 = _mm_add_epi64(k0, s0);
        k1 = _mm_add_epi64(k1, s1);
    }
    _mm_storeu_si128((__m128i *)acc, a0);
    _mm_storeu_si128((__m128i *)(acc + 2), a1);
    _mm_storeu_si128((__m128i *)key, k0);
    _mm_storeu_si128((__m128i *)(key + 2), k1);
}

/* gcc's reassociation would pair the sums up again, which costs loads
 * and moves: one addition per word and product is the least there is. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_REASSOC __attribute__((optimize("no-tree-reassoc")))
#else
#define NO_REASSOC
#endif

__attribute__((target("avx2"))) NO_REASSOC static void
stripes_avx2(uint64_t acc[4], uint64_t key[4], const uint8_t *p, size_t ns)
{
    const __m256i step = _mm256_loadu_si256((const __m256i *)stripe_step);
    const __m256i step2 = _mm256_add_epi64(step, step);
    const __m256i step4 = _mm256_add_epi64(step2, step2);
    const uint8_t *end4 = p + (ns & ~(size_t)3) * 32, *end = p + ns * 32;
    __m256i a = _mm256_loadu_si256((const __m256i *)acc);
    /* The words themselves, summed where they lie: lane i ^ 1 takes them
     * once at the end (the swap commutes with the sums), one shuffle for
     * the call instead of one per stripe. */
    __m256i w = _mm256_setzero_si256();
    __m256i k0 = _mm256_loadu_si256((const __m256i *)key);
    __m256i k1 = _mm256_add_epi64(k0, step);
    __m256i k2 = _mm256_add_epi64(k0, step2);
    __m256i k3 = _mm256_add_epi64(k1, step2);

/* One stripe's product added to @to and its words to w. */
#define STRIPE_AVX2(to, d, k)                                                  \
    do {                                                                       \
        __m256i d_ = (d), x_ = _mm256_xor_si256(d_, (k));                      \
        (to) = _mm256_add_epi64(                                               \
            (to), _mm256_mul_epu32(x_, _mm256_srli_epi64(x_, 32)));            \
        w = _mm256_add_epi64(w, d_);                                           \
    } while (0)

    /* Four stripes a round: less loop per stripe. The sums' chains are
     * additions (a cycle each); the products they wait for are not
     * chained. */
    for (; p < end4; p += 128) {
        STRIPE_AVX2(a, _mm256_loadu_si256((const __m256i *)p), k0);
        STRIPE_AVX2(a, _mm256_loadu_si256((const __m256i *)(p + 32)), k1);
        STRIPE_AVX2(a, _mm256_loadu_si256((const __m256i *)(p + 64)), k2);
        STRIPE_AVX2(a, _mm256_loadu_si256((const __m256i *)(p + 96)), k3);
        k0 = _mm256_add_epi64(k0, step4);
        k1 = _mm256_add_epi64(k1, step4);
        k2 = _mm256_add_epi64(k2, step4);
        k3 = _mm256_add_epi64(k3, step4);
    }
    /* 0-3 stripes left: the keys step by one from k0. */
    for (; p < end; p += 32) {
        STRIPE_AVX2(a, _mm256_loadu_si256((const __m256i *)p), k0);
        k0 = _mm256_add_epi64(k0, step);
    }
#undef STRIPE_AVX2
    a = _mm256_add_epi64(a, _mm256_shuffle_epi32(w, SWAP64));
    _mm256_storeu_si256((__m256i *)acc, a);
    _mm256_storeu_si256((__m256i *)key, k0);
}

/* The CPU features are read once at start-up (libgcc's constructor);
 * this is a load and a test. */
static inline bool have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

/* The hash's state between its stripes and its end. */
typedef struct HashState {
    uint64_t lane[4];
    uint64_t chain;  /* the input's length and last 0-31 bytes */
    uint64_t key[4]; /* where the stripes so far left the keys */
} HashState;

static void hash_init(HashState *d, uint64_t seed)
{
    d->lane[0] = seed ^ H_K0;
    d->lane[1] = seed + H_K1;
    d->lane[2] = rotl64(seed, 32) ^ H_K2;
    d->lane[3] = ~seed ^ H_K3;
    d->chain = seed ^ H_K4;
    memcpy(d->key, stripe_key, sizeof(d->key));
}

static void hash_add_with(HashState *d, const uint8_t *p, size_t n,
                          TraceHashImpl impl)
{
    size_t ns = n / 32, i = ns * 32;
    uint64_t t = d->chain, tail = 0;

    if (ns) {
        switch (impl) {
#if defined(__x86_64__)
        case TRACE_HASH_AVX2:
            stripes_avx2(d->lane, d->key, p, ns);
            break;
        case TRACE_HASH_SSE2:
            stripes_sse2(d->lane, d->key, p, ns);
            break;
#endif
        default:
            stripes_scalar(d->lane, d->key, p, ns);
            break;
        }
    }
    /* The last 0-31 bytes: a chain of words, then the odd bytes, as a
     * little-endian number. */
    for (; i + 8 <= n; i += 8) {
        t = fold_mul(t ^ load64(p + i), H_K1) + H_K0;
    }
    if (i < n) {
        tail = load_short(p + i, n - i);
    }
    d->chain = fold_mul(t ^ tail, H_K2 ^ n);
}

/* The end both the hash and the digest take: every bit of @h moves
 * about half the bits of the result. */
static inline uint64_t avalanche(uint64_t h)
{
    h ^= h >> 31;
    h *= H_K4;
    h ^= h >> 29;
    h *= H_K1;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_final(const HashState *d)
{
    return avalanche(fold_mul(d->lane[0] ^ rotl64(d->lane[1], 29), H_K3) ^
                     fold_mul(d->lane[2] ^ rotl64(d->lane[3], 47), H_K4) ^
                     d->chain);
}

static inline TraceHashImpl best_impl(void)
{
#if defined(__x86_64__)
    return have_avx2() ? TRACE_HASH_AVX2 : TRACE_HASH_SSE2;
#else
    return TRACE_HASH_SCALAR;
#endif
}

bool trace_hash_impl_available(TraceHashImpl impl)
{
    switch (impl) {
    case TRACE_HASH_SCALAR:
        return true;
#if defined(__x86_64__)
    case TRACE_HASH_SSE2:
        return true;
    case TRACE_HASH_AVX2:
        return have_avx2();
#endif
    default:
        return false;
    }
}

uint64_t trace_hash64_with(const void *data, size_t n, uint64_t seed,
                           TraceHashImpl impl)
{
    HashState d;

    g_assert(trace_hash_impl_available(impl));
    hash_init(&d, seed);
    hash_add_with(&d, data, n, impl);
    return hash_final(&d);
}

uint64_t trace_hash64(const void *data, size_t n, uint64_t seed)
{
    HashState d;

    hash_init(&d, seed);
    hash_add_with(&d, data, n, best_impl());
    return hash_final(&d);
}

/* ---- the DMA digest ---- */

/*
 * A Fletcher sum over four 64-bit lanes (docs/trace-format.md, "The DMA
 * digest"): word i of each 32-byte stripe is added to a_i and then a_i
 * to b_i, so b weighs each word by the stripes from it to the end: a
 * changed word always changes a, words that trade places change b. Two
 * vector additions a stripe, where the hash takes seven instructions
 * and a multiply: the digest runs over every byte a device moves.
 */
/*
 * A piece's end, when its length n is not a multiple of 32: one more
 * stripe, its last 32 bytes (some counted twice: a load per word instead
 * of byte by byte) or, for a piece shorter than 32, its bytes and zeros
 * after them. Then a stripe of its length, so that where one piece ends
 * and the next begins counts. Word @k of the short case, @p the piece.
 */
static inline uint64_t short_word(const uint8_t *p, size_t n, unsigned k)
{
    size_t at = 8 * k;

    if (at + 8 <= n) {
        return load64(p + at);
    }
    return at < n ? load_short(p + at, n - at) : 0;
}

/* The sums in registers: the payload's bytes may alias anything, so
 * sums left in the TraceDigest would go through memory at every step. */
#define SUM_STRIPE(w0, w1, w2, w3)                                             \
    do {                                                                       \
        a0 += (w0), a1 += (w1), a2 += (w2), a3 += (w3);                        \
        b0 += a0, b1 += a1, b2 += a2, b3 += a3;                                \
    } while (0)

/* The stripes from @ns on, the end, in plain C. */
static NO_SLP void sum_scalar(TraceDigest *d, const uint8_t *p, size_t n,
                              size_t ns)
{
    uint64_t a0 = d->a[0], a1 = d->a[1], a2 = d->a[2], a3 = d->a[3];
    uint64_t b0 = d->b[0], b1 = d->b[1], b2 = d->b[2], b3 = d->b[3];
    const uint8_t *q;

    for (q = p + ns * 32; ns < n / 32; ns++, q += 32) {
        SUM_STRIPE(load64(q), load64(q + 8), load64(q + 16), load64(q + 24));
    }
    if (n % 32 && n >= 32) {
        q = p + n - 32;
        SUM_STRIPE(load64(q), load64(q + 8), load64(q + 16), load64(q + 24));
    } else if (n % 32) {
        SUM_STRIPE(short_word(p, n, 0), short_word(p, n, 1),
                   short_word(p, n, 2), short_word(p, n, 3));
    }
    SUM_STRIPE(n, 0, 0, 0);
    d->a[0] = a0, d->a[1] = a1, d->a[2] = a2, d->a[3] = a3;
    d->b[0] = b0, d->b[1] = b1, d->b[2] = b2, d->b[3] = b3;
}
#undef SUM_STRIPE

/*
 * The vector versions run the even and the odd stripes as two chains,
 * x0/y0 and x1/y1, x0 starting at a: after 2P stripes a is x0 + x1, and
 * b has grown by 2 * (y0 + y1) - x1 (an even stripe 2q counts 2(P - q)
 * times in b, an odd one 2(P - q) - 1: y counts each P - q times). The
 * two chains' additions do not wait for each other.
 */
#if defined(__x86_64__)
/* SSE2 takes the stripes two by two and leaves the rest to plain C. */
static void sum_sse2(TraceDigest *d, const uint8_t *p, size_t n)
{
    size_t pairs = n / 64;
    const uint8_t *q = p, *end2 = p + pairs * 64;
    __m128i x0l = _mm_loadu_si128((const __m128i *)d->a);
    __m128i x0h = _mm_loadu_si128((const __m128i *)(d->a + 2));
    __m128i x1l = _mm_setzero_si128(), x1h = x1l, y0l = x1l, y0h = x1l;
    __m128i y1l = x1l, y1h = x1l;

    if (!pairs) {
        /* Headers, descriptors: nothing for the vector loop to do. */
        sum_scalar(d, p, n, 0);
        return;
    }
    for (; q < end2; q += 64) {
        x0l = _mm_add_epi64(x0l, _mm_loadu_si128((const __m128i *)q));
        x0h = _mm_add_epi64(x0h, _mm_loadu_si128((const __m128i *)(q + 16)));
        x1l = _mm_add_epi64(x1l, _mm_loadu_si128((const __m128i *)(q + 32)));
        x1h = _mm_add_epi64(x1h, _mm_loadu_si128((const __m128i *)(q + 48)));
        y0l = _mm_add_epi64(y0l, x0l);
        y0h = _mm_add_epi64(y0h, x0h);
        y1l = _mm_add_epi64(y1l, x1l);
        y1h = _mm_add_epi64(y1h, x1h);
    }
    y0l = _mm_add_epi64(y0l, y1l);
    y0h = _mm_add_epi64(y0h, y1h);
    _mm_storeu_si128((__m128i *)d->a, _mm_add_epi64(x0l, x1l));
    _mm_storeu_si128((__m128i *)(d->a + 2), _mm_add_epi64(x0h, x1h));
    _mm_storeu_si128(
        (__m128i *)d->b,
        _mm_add_epi64(_mm_loadu_si128((const __m128i *)d->b),
                      _mm_sub_epi64(_mm_add_epi64(y0l, y0l), x1l)));
    _mm_storeu_si128(
        (__m128i *)(d->b + 2),
        _mm_add_epi64(_mm_loadu_si128((const __m128i *)(d->b + 2)),
                      _mm_sub_epi64(_mm_add_epi64(y0h, y0h), x1h)));
    sum_scalar(d, p, n, pairs * 2);
}

/*
 * The end of an AVX2 sum: stripes from @q to @end one after another, the
 * piece's last bytes short of a stripe (a whole stripe ending at its end
 * when there is one before them, else its whole words in a masked load
 * and its last bytes where they are not a whole word), then the length.
 * @a, @b: the running sums; @p, @n: the whole piece.
 */
__attribute__((target("avx2"))) static inline
    __attribute__((always_inline)) void
    sum_avx2_finish(TraceDigest *d, __m256i a, __m256i b, const uint8_t *q,
                    const uint8_t *end, const uint8_t *p, size_t n)
{
    __m256i t;

    for (; q < end; q += 32) {
        a = _mm256_add_epi64(a, _mm256_loadu_si256((const __m256i *)q));
        b = _mm256_add_epi64(b, a);
    }
    if (n % 32) {
        if (n >= 32) {
            t = _mm256_loadu_si256((const __m256i *)(p + n - 32));
        } else {
            __m256i words = _mm256_set1_epi64x((long long)(n / 8));
            __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);

            t = _mm256_maskload_epi64((const long long *)p,
                                      _mm256_cmpgt_epi64(words, lane));
            if (n % 8) {
                t = _mm256_or_si256(
                    t,
                    _mm256_and_si256(_mm256_cmpeq_epi64(words, lane),
                                     _mm256_set1_epi64x((long long)load_short(
                                         p + (n & ~(size_t)7), n % 8))));
            }
        }
        a = _mm256_add_epi64(a, t);
        b = _mm256_add_epi64(b, a);
    }
    a = _mm256_add_epi64(a, _mm256_set_epi64x(0, 0, 0, (long long)n));
    b = _mm256_add_epi64(b, a);
    _mm256_storeu_si256((__m256i *)d->a, a);
    _mm256_storeu_si256((__m256i *)d->b, b);
}

/*
 * AVX2 takes the whole piece in registers. A long one runs as four
 * chains, stripe 4q + c in x_c/y_c (x_0 starting at a): the vector unit
 * has the registers, and the two additions of a stripe are all a pass
 * costs, where two chains paid a register copy and the loop's count for
 * every other stripe. After the loop a is the sum of the x_c, and b has
 * grown by 4 * (y_0 + ... + y_3) - (x_1 + 2 x_2 + 3 x_3): stripe 4q + c
 * counts 4 (P - q) - c times in b, and y_c counts it P - q times.
 */
__attribute__((target("avx2"))) static G_GNUC_NO_INLINE void
sum_avx2_long(TraceDigest *d, const uint8_t *p, size_t n)
{
    const uint8_t *q = p, *end = p + (n & ~(size_t)31);
    __m256i a = _mm256_loadu_si256((const __m256i *)d->a);
    __m256i b = _mm256_loadu_si256((const __m256i *)d->b), t;

    if (n >= 8 * 32) {
        const uint8_t *end4 = p + (n & ~(size_t)127);
        __m256i x1 = _mm256_setzero_si256(), x2 = x1, x3 = x1;
        __m256i y0 = x1, y1 = x1, y2 = x1, y3 = x1;

        /* gcc and clang both take this pragma, and unroll better than
         * a loop written out twice. */
#pragma GCC unroll 2
        for (; q < end4; q += 128) {
            a = _mm256_add_epi64(a, _mm256_loadu_si256((const __m256i *)q));
            y0 = _mm256_add_epi64(y0, a);
            x1 = _mm256_add_epi64(
                x1, _mm256_loadu_si256((const __m256i *)(q + 32)));
            y1 = _mm256_add_epi64(y1, x1);
            x2 = _mm256_add_epi64(
                x2, _mm256_loadu_si256((const __m256i *)(q + 64)));
            y2 = _mm256_add_epi64(y2, x2);
            x3 = _mm256_add_epi64(
                x3, _mm256_loadu_si256((const __m256i *)(q + 96)));
            y3 = _mm256_add_epi64(y3, x3);
        }
        y0 = _mm256_add_epi64(_mm256_add_epi64(y0, y1),
                              _mm256_add_epi64(y2, y3));
        y0 = _mm256_add_epi64(y0, y0);
        y0 = _mm256_add_epi64(y0, y0);
        /* x_1 + 2 x_2 + 3 x_3 as (x_1 + x_2 + x_3) + (x_2 + x_3) + x_3 */
        t = _mm256_add_epi64(x2, x3);
        y1 = _mm256_add_epi64(_mm256_add_epi64(x1, t), _mm256_add_epi64(t, x3));
        a = _mm256_add_epi64(a, _mm256_add_epi64(x1, t));
        b = _mm256_add_epi64(b, _mm256_sub_epi64(y0, y1));
    }
    /* The 0-3 stripes the blocks leave (n is 256 or more here). */
    sum_avx2_finish(d, a, b, q, end, p, n);
}

/*
 * The digest's pieces are mostly short (descriptors, headers, responses:
 * four of five per request, 16 to 108 bytes): for those, the stripes one
 * after another with nothing else to set up, the end of one under 32
 * bytes in two masked loads of its whole words and its last bytes where
 * they are not a whole word. Same sums as sum_avx2_long().
 */
__attribute__((target("avx2"))) static void sum_avx2(TraceDigest *d,
                                                     const uint8_t *p, size_t n)
{
    if (n >= 8 * 32) {
        sum_avx2_long(d, p, n);
        return;
    }
    sum_avx2_finish(d, _mm256_loadu_si256((const __m256i *)d->a),
                    _mm256_loadu_si256((const __m256i *)d->b), p,
                    p + (n & ~(size_t)31), p, n);
}
#endif

void trace_digest_init(TraceDigest *d, uint64_t seed)
{
    d->a[0] = seed ^ H_K0;
    d->a[1] = seed + H_K1;
    d->a[2] = rotl64(seed, 32) ^ H_K2;
    d->a[3] = ~seed ^ H_K3;
    memset(d->b, 0, sizeof(d->b));
}

void trace_digest_add_with(TraceDigest *d, const void *data, size_t n,
                           TraceHashImpl impl)
{
    switch (impl) {
#if defined(__x86_64__)
    case TRACE_HASH_AVX2:
        sum_avx2(d, data, n);
        break;
    case TRACE_HASH_SSE2:
        sum_sse2(d, data, n);
        break;
#endif
    default:
        sum_scalar(d, data, n, 0);
        break;
    }
}

void trace_digest_add(TraceDigest *d, const void *data, size_t n)
{
#if defined(__x86_64__)
    if (have_avx2()) {
        sum_avx2(d, data, n);
        return;
    }
#endif
    trace_digest_add_with(d, data, n, best_impl());
}

uint64_t trace_digest_final(const TraceDigest *d)
{
    return avalanche(fold_mul(d->a[0] ^ rotl64(d->b[1], 29), H_K3) ^
                     fold_mul(d->a[1] ^ rotl64(d->b[0], 17), H_K0) ^
                     fold_mul(d->a[2] ^ rotl64(d->b[3], 47), H_K4) ^
                     fold_mul(d->a[3] ^ rotl64(d->b[2], 11), H_K1));
}

const uint8_t *trace_event_payload(const TraceEvent *e,
                                   uint8_t tmp[TRACE_DMA_SMALL])
{
    if (!e->has_data) {
        return NULL;
    }
    if (e->data) {
        return e->data;
    }
    if (e->len <= TRACE_DMA_SMALL) {
        for (unsigned i = 0; i < TRACE_DMA_SMALL; i++) {
            tmp[i] = (uint8_t)(e->value >> (8 * i));
        }
        return tmp;
    }
    return NULL;
}

/* ---- names ---- */

static const char *const type_names[TT_COUNT] = {
    [TT_MMIO_READ] = "mmio-read",
    [TT_MMIO_WRITE] = "mmio-write",
    [TT_PIO_READ] = "pio-read",
    [TT_PIO_WRITE] = "pio-write",
    [TT_CFG_READ] = "cfg-read",
    [TT_CFG_WRITE] = "cfg-write",
    [TT_IRQ_RAISE] = "irq-raise",
    [TT_IRQ_DELIVER] = "irq-deliver",
    [TT_DMA_READ] = "dma-read",
    [TT_DMA_WRITE] = "dma-write",
    [TT_SCHED] = "sched",
    [TT_SRB_START] = "srb-start",
    [TT_SRB_DONE] = "srb-done",
    [TT_CHECKPOINT] = "checkpoint",
    [TT_DIGEST] = "dma-digest",
    [TT_EXT] = "ext",
    [TT_END] = "end",
};

static const char *const ext_names[TRACE_EXT_KINDS] = {
    [TRACE_EXT_FAULT] = "fault",
    [TRACE_EXT_INPUT] = "input",
    [TRACE_EXT_NOTE] = "note",
    [TRACE_EXT_IRQ_RETURN] = "irq-return",
};

const char *trace_type_name(unsigned type)
{
    return type < TT_COUNT ? type_names[type] : "?";
}

const char *trace_ext_name(unsigned kind)
{
    return kind < TRACE_EXT_KINDS ? ext_names[kind] : "?";
}

/* ---- the codec ---- */

/*
 * The time a crossing is predicted at: a guest access one access cost
 * after the record before it; a device crossing as long after the record
 * before it as the last time at the same address (a device's latency
 * repeats).
 */
/*
 * The encoder clears what a chunk used: it touches only slots below
 * used[] (taken one after another from 0) and the maps of kinds with a
 * slot, so the rest is still zero. Clearing all of it, most of a
 * hundred KiB, cost more than the records of a chunk at iodepth 1.
 */
void trace_enc_reset(TraceCodec *c, uint64_t index, uint64_t time)
{
    uint8_t used[BND_KIND_COUNT];

    memcpy(used, c->used, sizeof(used));
    for (unsigned t = 0; t < BND_KIND_COUNT; t++) {
        if (used[t]) {
            memset(c->slot[t], 0, used[t] * sizeof(TraceSlot));
            memset(c->map[t], 0, sizeof(c->map[t]));
        }
    }
    memset(c->used, 0, offsetof(TraceCodec, map) - offsetof(TraceCodec, used));
    c->stamp = 0;
    c->guest_cpu = 0;
    c->irq_cpu = 0;
    c->index = index;
    c->time = time;
    for (unsigned t = 0; t < BND_KIND_COUNT; t++) {
        c->last_size[t] = trace_type_is_register(t) ? 4 : 0;
    }
}

static uint64_t predict_time(const TraceCodec *c, unsigned t,
                             const TraceSlot *sl);

/* Tag byte */

/* Extension byte of crossings */
#define E_TIME   0x01 /* time delta differs from the predicted cost */
#define E_CPU    0x02 /* vCPU differs from the prediction */
#define E_SIZE   0x04 /* access size differs from the slot's */
#define E_NOTOK  0x08 /* the machine refused the access */
#define E_DEVFN  0x10 /* config space function differs */
#define E_NODATA 0x20 /* DMA accepted but without payload */
#define E_LEN    0x40 /* DMA length differs from the slot's */
#define E_VALUE  0x80 /* a value follows: not the slot's predicted one */
/* Non-crossing records take only the first two. */
#define E_NOTE_RESERVED 0xfc

/* Annotation tag fields */
#define A_ADDR   0x1 /* path, target, lun follow */
#define A_SHAPE  0x2 /* function, CDB length and the full CDB follow */
#define A_NEXT   0x4 /* the next request id, same length: both omitted */
#define D_STATUS 0x1 /* SRB and SCSI status follow */
#define D_NEXT   0x2 /* the next id in completion order, same length */
#define X_VECTOR 0x4 /* interrupt return: the vector follows */

/* A miss coded against a slot moves it when this close (encoder's
 * choice: the record says which slot). */
#define MOVE_RANGE 256u
#define RING_SPAN  (64u << 10) /* and a ring this long wraps in place */

#define SRB_SUCCESS 0x01

void trace_codec_reset(TraceCodec *c, uint64_t index, uint64_t time)
{
    bool full = c->full_data;
    unsigned smp = c->smp;

    memset(c, 0, sizeof(*c));
    c->full_data = full;
    c->smp = smp;
    c->index = index;
    c->time = time;
    c->guest_cpu = 0;
    c->irq_cpu = 0;
    for (unsigned t = 0; t < BND_KIND_COUNT; t++) {
        c->last_size[t] = trace_type_is_register(t) ? 4 : 0;
    }
    c->function = 0; /* SRB_FUNCTION_EXECUTE_SCSI */
}

static uint64_t predict_time(const TraceCodec *c, unsigned t,
                             const TraceSlot *sl)
{
    if (trace_type_is_device(t)) {
        return c->time + (sl ? sl->dt : 0);
    }
    return c->time + tc_type_cost[t];
}

/* Does a crossing of type @t carry a value (else: a scheduler pick, or a
 * DMA without a short payload)? */
static bool has_value(unsigned t, const TraceEvent *e)
{
    if (trace_type_is_dma(t)) {
        return e->ok && e->has_data && e->len <= TRACE_DMA_SMALL;
    }
    return t != TT_SCHED;
}

/* The slot a miss takes: a free one, else the least recently used. */
static unsigned slot_take(TraceCodec *c, unsigned t)
{
    unsigned v = 0;

    if (c->used[t] < TRACE_SLOTS) {
        return c->used[t]++;
    }
    for (unsigned i = 1; i < TRACE_SLOTS; i++) {
        if (c->slot[t][i].stamp < c->slot[t][v].stamp) {
            v = i;
        }
    }
    return v;
}

/* Is @addr what a slot in use predicts (a miss must not be)? */
static bool slot_predicts(const TraceCodec *c, unsigned t, uint64_t addr,
                          uint32_t devfn)
{
    for (unsigned i = 0; i < c->used[t]; i++) {
        const TraceSlot *sl = &c->slot[t][i];
        if (tc_slot_next(sl) == addr && sl->devfn == devfn) {
            return true;
        }
    }
    return false;
}

typedef enum SlotUse { SLOT_HIT, SLOT_MOVE, SLOT_FRESH } SlotUse;

/* The state after a crossing, the same on both sides: slot @s was hit,
 * moved, or taken fresh. */
static void commit_crossing(TraceCodec *c, const TraceEvent *e, unsigned s,
                            SlotUse how, uint64_t value)
{
    unsigned t = e->type;
    TraceSlot *sl = &c->slot[t][s];

    switch (how) {
    case SLOT_HIT:
        sl->pinned |= sl->stride == 0;
        break;
    case SLOT_MOVE:
        /* Back by whole strides is a ring wrapping: the stride stays. */
        if (!(sl->stride > 0 && e->addr < sl->addr &&
              (sl->addr - e->addr) % (uint64_t)sl->stride == 0)) {
            sl->stride = (int64_t)(e->addr - sl->addr);
        }
        sl->pinned = false;
        break;
    case SLOT_FRESH:
        sl->stride = 0;
        sl->pinned = false;
        sl->value = value;
        sl->prev_value = value;
        break;
    }
    tc_slot_use(c, sl, e->addr, e->time, value);
    sl->devfn = e->devfn;
    sl->size = e->size;
    sl->len = e->len;
    if (how != SLOT_HIT) {
        c->last_addr[t] = e->addr;
        c->last_len[t] = e->len;
        c->last_devfn[t] = e->devfn;
        c->last_size[t] = e->size;
    }
    tc_commit_common(c, t, e->cpu, e->addr, e->time, e->value, e->len);
}

/*
 * A register value: an even code 2a is a delta a (zigzag) from the slot's
 * last value, an odd code 2(b+1)+1 a delta b from the value before it (a
 * poll that alternates between data and "empty" costs one byte either
 * way), and code 1 says the value follows whole (deltas too wide).
 */
#define VALUE_RAW 1

static size_t put_value(uint8_t *out, const TraceSlot *sl, uint64_t v)
{
    uint64_t last = sl ? sl->value : 0, prev = sl ? sl->prev_value : 0;
    uint64_t a = trace_zigzag((int64_t)(v - last));
    uint64_t b = trace_zigzag((int64_t)(v - prev));
    bool a_ok = !(a >> 63), b_ok = b < (UINT64_MAX >> 1) - 1;
    size_t n;

    if (a_ok && (!b_ok || a <= b)) {
        return trace_put_varint(out, a << 1);
    }
    if (b_ok) {
        return trace_put_varint(out, ((b + 1) << 1) | 1);
    }
    n = trace_put_varint(out, VALUE_RAW);
    return n + trace_put_varint(out + n, v);
}

/* A pick's yield point: 0 for none, 2d-1 for d > 0 yields after the last
 * one (the usual case), 2(-d)+2 otherwise. */
static uint64_t sched_yield_code(const TraceCodec *c, uint64_t y)
{
    if (!y) {
        return 0;
    }
    if (y > c->sched_yield) {
        return 2 * (y - c->sched_yield) - 1;
    }
    return 2 * (c->sched_yield - y) + 2;
}

static bool sched_yield_decode(const TraceCodec *c, uint64_t v, uint64_t *y)
{
    uint64_t d;

    if (!v) {
        *y = 0;
        return true;
    }
    if (v & 1) {
        d = (v + 1) / 2;
        if (d > UINT64_MAX - c->sched_yield) {
            return false;
        }
        *y = c->sched_yield + d;
        return true;
    }
    d = (v - 2) / 2;
    if (d >= c->sched_yield) {
        return false;
    }
    *y = c->sched_yield - d;
    return true;
}

size_t trace_encode_bound(const TraceCodec *c, const TraceEvent *e)
{
    size_t n = 64 + TRACE_CDB_MAX;

    if (trace_type_is_dma(e->type) && c->full_data && e->ok && e->has_data) {
        n += e->len;
    }
    if (e->type == TT_EXT) {
        n += e->ext_len;
    }
    return n;
}

/*
 * The encoder's slot for @addr: the map's hint if it is right, else a
 * look through the slots, which also finds the slot a miss is best coded
 * against (*base, TRACE_SLOTS for none): the nearest one not pinned to
 * its address. TRACE_SLOTS: a miss.
 */
static unsigned enc_find_slot(TraceCodec *c, unsigned t, uint64_t addr,
                              uint32_t devfn, unsigned *base)
{
    uint8_t *m = &c->map[t][tc_map_index(addr, devfn)];
    uint64_t best = UINT64_MAX;

    *base = TRACE_SLOTS;
    if (*m && *m <= c->used[t]) {
        const TraceSlot *sl = &c->slot[t][*m - 1];
        if (tc_slot_next(sl) == addr && sl->devfn == devfn) {
            return *m - 1u;
        }
    }
    for (unsigned i = 0; i < c->used[t]; i++) {
        const TraceSlot *sl = &c->slot[t][i];
        uint64_t d;
        if (sl->devfn != devfn) {
            continue;
        }
        if (tc_slot_next(sl) == addr) {
            *m = (uint8_t)(i + 1);
            return i;
        }
        d = addr > sl->addr ? addr - sl->addr : sl->addr - addr;
        /* Not a slot pinned to its address, nor one that would go back
         * where it came from (two addresses taking turns want two); a
         * near one, or a ring walked upwards that wraps to its start. */
        if (sl->pinned || d >= best ||
            addr == sl->addr - (uint64_t)sl->stride) {
            continue;
        }
        if (d < MOVE_RANGE ||
            (sl->stride > 0 && addr < sl->addr && d <= RING_SPAN &&
             d % (uint64_t)sl->stride == 0)) {
            best = d;
            *base = i;
        }
    }
    return TRACE_SLOTS;
}

unsigned trace_enc_find_next(TraceCodec *c, unsigned t, uint64_t addr,
                             uint32_t devfn)
{
    const TraceSlot *sl = c->slot[t];

    for (unsigned i = 0, n = c->used[t]; i < n; i++) {
        if (tc_slot_next(&sl[i]) == addr && sl[i].devfn == devfn) {
            c->map[t][tc_map_index(addr, devfn)] = (uint8_t)(i + 1);
            return i + 1;
        }
    }
    return 0;
}

/* trace_enc_fast() of a scheduler pick: its yield point and, if it is not the
 * slot's last, the vCPU follow the tag. */
size_t trace_enc_fast_sched(TraceCodec *restrict c, TraceXing x, unsigned s,
                            uint8_t *restrict out)
{
    TraceSlot *restrict sl = &c->slot[TT_SCHED][s];
    bool same = x.value == sl->value;
    uint64_t code = sched_yield_code(c, x.len) << 1 | !same;
    uint8_t tmp[24];
    size_t n = 1, vn = 0;

    if (tc_slot_next(sl) != x.addr || sl->devfn != x.devfn ||
        x.time != c->time + tc_type_cost[TT_SCHED] || x.size) {
        return 0;
    }
    if (!same) {
        vn = put_value(tmp, sl, x.value);
    }
    sl->pinned |= sl->stride == 0;
    tc_slot_use(c, sl, x.addr, x.time, x.value);
    tc_commit_common(c, TT_SCHED, x.cpu, x.addr, x.time, x.value, x.len);
    if (sl->stride) {
        c->map[TT_SCHED][tc_map_index(sl->next, x.devfn)] = (uint8_t)(s + 1);
    }
    out[0] = (uint8_t)(TT_SCHED | MIN(s, (unsigned)TRACE_SLOT_BYTE)
                                      << T_FIELD_SHIFT);
    if (s >= TRACE_TAG_SLOTS) {
        out[n++] = (uint8_t)s;
    }
    n += trace_put_varint(out + n, code);
    memcpy(out + n, tmp, vn);
    return n + vn;
}

static size_t enc_crossing(TraceCodec *c, const TraceEvent *e, uint8_t *out)
{
    unsigned t = e->type;
    unsigned base;
    unsigned s = enc_find_slot(c, t, e->addr, e->devfn, &base), field;
    const TraceSlot *sl = s == TRACE_SLOTS ? NULL : &c->slot[t][s];
    bool dma = trace_type_is_dma(t);
    bool valued = has_value(t, e);
    uint8_t psize =
        trace_type_is_register(t) ? (sl ? sl->size : c->last_size[t]) : 0;
    uint64_t value = 0;
    uint32_t pdevfn = sl ? sl->devfn : c->last_devfn[t];
    uint8_t ext = 0;
    SlotUse how = SLOT_HIT;
    size_t n = 1;

    if (valued) {
        value = dma && e->data ? trace_small_value(e->data, e->len) : e->value;
    } else if (t == TT_SCHED) {
        value = e->value;
    }
    if (e->time != predict_time(c, t, sl)) {
        ext |= E_TIME;
    }
    if (t != TT_SCHED && e->cpu != tc_predict_cpu(c, t)) {
        ext |= E_CPU;
    }
    if (e->size != psize) {
        ext |= E_SIZE;
    }
    if (!e->ok) {
        ext |= E_NOTOK;
    }
    if (e->devfn != pdevfn) {
        ext |= E_DEVFN;
    }
    if (dma && e->ok && !e->has_data) {
        ext |= E_NODATA;
    }
    if (dma && e->len != (sl ? sl->len : c->last_len[t])) {
        ext |= E_LEN;
    }
    if (valued && value != tc_predict_value(sl)) {
        ext |= E_VALUE;
    }
    field = sl ? MIN(s, (unsigned)TRACE_SLOT_BYTE) : TRACE_SLOT_MISS;
    out[0] = (uint8_t)(t | field << T_FIELD_SHIFT | (ext ? T_EXT : 0));
    if (ext) {
        out[n++] = ext;
    }
    if (sl && s >= TRACE_TAG_SLOTS) {
        out[n++] = (uint8_t)s;
    }
    if (ext & E_TIME) {
        n += trace_put_varint(out + n, e->time - c->time);
    }
    if (ext & E_CPU) {
        n += trace_put_varint(out + n, trace_zigzag(e->cpu));
    }
    if (ext & E_SIZE) {
        out[n++] = e->size;
    }
    if (ext & E_DEVFN) {
        n += trace_put_varint(out + n, e->devfn);
    }
    if (!sl) {
        /* A miss: against the slot it moves, or the type's last address
         * for a fresh slot. */
        if (base < TRACE_SLOTS) {
            uint64_t d = (uint64_t)(e->addr - c->slot[t][base].addr);
            n += trace_put_varint(out + n, trace_zigzag((int64_t)d) << 1 | 1);
            out[n++] = (uint8_t)base;
            s = base;
            how = SLOT_MOVE;
        } else {
            uint64_t d = (uint64_t)(e->addr - c->last_addr[t]);
            n += trace_put_varint(out + n, trace_zigzag((int64_t)d) << 1);
            s = slot_take(c, t);
            how = SLOT_FRESH;
        }
    }
    if (dma) {
        uint64_t plen = sl ? sl->len : c->last_len[t];
        if (ext & E_LEN) {
            n += trace_put_varint(out + n,
                                  trace_zigzag((int64_t)(e->len - plen)));
        }
        if (e->ok && e->has_data && !valued && c->full_data) {
            memcpy(out + n, e->data, e->len);
            n += e->len;
        }
    } else if (t == TT_SCHED) {
        /* The yield point, with a bit saying whether a value follows
         * (the same pick as last time needs none). */
        uint8_t tmp[24];
        size_t vn = put_value(tmp, sl, e->value);
        bool same = vn == 1 && tmp[0] == 0;
        n +=
            trace_put_varint(out + n, sched_yield_code(c, e->len) << 1 | !same);
        if (!same) {
            memcpy(out + n, tmp, vn);
            n += vn;
        }
    }
    if (ext & E_VALUE) {
        n += put_value(out + n, sl, value);
    }
    commit_crossing(c, e, s, how, value);
    if (how != SLOT_HIT || c->slot[t][s].stride) {
        c->map[t][tc_map_index(tc_slot_next(&c->slot[t][s]), e->devfn)] =
            (uint8_t)(s + 1);
    }
    return n;
}

/* Time and vCPU of a non-crossing record: predicted "same time, same
 * vCPU as before". Returns the extension byte and sets out[0]'s bit. */
static inline __attribute__((always_inline)) size_t
enc_note_head_as(TraceCodec *c, uint64_t time, int16_t cpu, uint8_t tag,
                 uint8_t *out)
{
    uint8_t ext = 0;
    size_t n = 1;

    if (time != c->time) {
        ext |= E_TIME;
    }
    if (cpu != c->guest_cpu) {
        ext |= E_CPU;
    }
    out[0] = (uint8_t)(tag | (ext ? T_EXT : 0));
    if (G_UNLIKELY(ext)) {
        out[n++] = ext;
        if (ext & E_TIME) {
            n += trace_put_varint(out + n, time - c->time);
        }
        if (ext & E_CPU) {
            n += trace_put_varint(out + n, trace_zigzag(cpu));
        }
    }
    c->time = time;
    c->guest_cpu = cpu;
    return n;
}

static size_t enc_note_head(TraceCodec *c, const TraceEvent *e, uint8_t tag,
                            uint8_t *out)
{
    return enc_note_head_as(c, e->time, e->cpu, tag, out);
}

/* Bit i set when byte i of the two 8-byte groups differs (branch free:
 * a byte's top bit says "non-zero", one multiply gathers the eight). */
static inline uint64_t cdb_diff8(const uint8_t *a, const uint8_t *b)
{
    uint64_t x, y, t;

    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    x = GUINT64_FROM_LE(x ^ y);
    t = ((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x;
    t &= 0x8080808080808080ULL;
    return (t * 0x0002040810204081ULL) >> 56;
}

/* A request id and length that are not the next id with the same
 * length: both as deltas from the record before of the kind. */
static size_t enc_req_xfer(uint8_t *out, uint64_t req, uint32_t xfer,
                           uint64_t prev_req, uint32_t prev_xfer)
{
    size_t n =
        trace_put_varint(out, trace_zigzag((int64_t)(req - prev_req - 1)));

    return n + trace_put_varint(
                   out + n, trace_zigzag((int64_t)xfer - (int64_t)prev_xfer));
}

/*
 * An SRB start from its fields, for a TraceEvent (enc_srb_start()) and
 * for the recorder's note (trace_encode_srb_start()), which so builds no
 * record. @cdb: TRACE_CDB_MAX bytes, zero past @cdb_len (at most
 * TRACE_CDB_MAX).
 */
static inline __attribute__((always_inline)) size_t
enc_srb_start_as(TraceCodec *c, uint64_t time, int16_t cpu, uint64_t req,
                 uint8_t path, uint8_t target, uint8_t lun, uint8_t function,
                 const uint8_t *cdb, uint8_t cdb_len, uint32_t xfer,
                 uint8_t *out)
{
    unsigned f = 0;
    size_t n;

    if (path != c->path || target != c->target || lun != c->lun) {
        f |= A_ADDR;
    }
    if (function != c->function || cdb_len != c->cdb_len) {
        f |= A_SHAPE;
    }
    if (req == c->start_req + 1 && xfer == c->start_xfer) {
        f |= A_NEXT;
    }
    n = enc_note_head_as(c, time, cpu,
                         (uint8_t)(TT_SRB_START | (f << T_FIELD_SHIFT)), out);
    if (f & A_ADDR) {
        out[n++] = path;
        out[n++] = target;
        out[n++] = lun;
    }
    if (f & A_SHAPE) {
        out[n++] = function;
        out[n++] = cdb_len;
        memcpy(out + n, cdb, cdb_len);
        n += cdb_len;
    } else {
        uint64_t mask =
            (cdb_diff8(cdb, c->cdb) | cdb_diff8(cdb + 8, c->cdb + 8) << 8) &
            ((1u << cdb_len) - 1);
        n += trace_put_varint(out + n, mask);
        for (uint64_t m = mask; m; m &= m - 1) {
            out[n++] = cdb[__builtin_ctzll(m)];
        }
    }
    if (!(f & A_NEXT)) {
        n += enc_req_xfer(out + n, req, xfer, c->start_req, c->start_xfer);
    }
    c->path = path;
    c->target = target;
    c->lun = lun;
    c->function = function;
    c->cdb_len = cdb_len;
    /* Both are zero past the length: the next mask compares all 16. */
    memcpy(c->cdb, cdb, sizeof(c->cdb));
    c->start_req = req;
    c->start_xfer = xfer;
    return n;
}

static size_t enc_srb_start(TraceCodec *c, const TraceEvent *e, uint8_t *out)
{
    return enc_srb_start_as(c, e->time, e->cpu, e->req, e->path, e->target,
                            e->lun, e->function, e->cdb,
                            MIN(e->cdb_len, TRACE_CDB_MAX), e->xfer, out);
}

size_t trace_encode_srb_start(TraceCodec *c, const BndNote *note, uint64_t time,
                              uint8_t *out)
{
    uint8_t cdb_len = note->cdb ? MIN(note->cdb_len, TRACE_CDB_MAX) : 0;
    uint8_t padded[TRACE_CDB_MAX];
    const uint8_t *cdb = note->cdb;

    if (cdb_len != TRACE_CDB_MAX) {
        memset(padded, 0, sizeof(padded));
        if (cdb_len) {
            memcpy(padded, note->cdb, cdb_len);
        }
        cdb = padded;
    }
    return enc_srb_start_as(c, time, note->cpu, note->req, note->path,
                            note->target, note->lun, note->function, cdb,
                            cdb_len, note->data_len, out);
}

static inline __attribute__((always_inline)) size_t
enc_srb_done_as(TraceCodec *c, uint64_t time, int16_t cpu, uint64_t req,
                uint32_t xfer, uint8_t srb_status, uint8_t scsi_status,
                uint8_t *out)
{
    unsigned f = 0;
    size_t n;

    if (srb_status != SRB_SUCCESS || scsi_status != 0) {
        f |= D_STATUS;
    }
    if (req == c->done_req + 1 && xfer == c->done_xfer) {
        f |= D_NEXT;
    }
    n = enc_note_head_as(c, time, cpu,
                         (uint8_t)(TT_SRB_DONE | (f << T_FIELD_SHIFT)), out);
    if (!(f & D_NEXT)) {
        n += enc_req_xfer(out + n, req, xfer, c->done_req, c->done_xfer);
    }
    if (f & D_STATUS) {
        out[n++] = srb_status;
        out[n++] = scsi_status;
    }
    c->done_req = req;
    c->done_xfer = xfer;
    return n;
}

static size_t enc_srb_done(TraceCodec *c, const TraceEvent *e, uint8_t *out)
{
    return enc_srb_done_as(c, e->time, e->cpu, e->req, e->xfer, e->srb_status,
                           e->scsi_status, out);
}

size_t trace_encode_srb_done(TraceCodec *c, const BndNote *note, uint64_t time,
                             uint8_t *out)
{
    return enc_srb_done_as(c, time, note->cpu, note->req, note->data_len,
                           note->srb_status, note->scsi_status, out);
}

/* The vector on top of @cpu's in-service stack, -1 if none. */
static int in_service_top(const TraceCodec *c, int cpu)
{
    if (cpu < 0 || cpu >= TRACE_SMP_MAX || !c->in_service_depth[cpu]) {
        return -1;
    }
    return c->in_service[cpu][c->in_service_depth[cpu] - 1];
}

static void in_service_pop(TraceCodec *c, int cpu, unsigned vector)
{
    if (in_service_top(c, cpu) == (int)vector) {
        c->in_service_depth[cpu]--;
    }
}

/* An interrupt return names the vector only when it is not the one on
 * top of the vCPU's in-service stack (e.g. at the start of a chunk). */
static size_t enc_irq_return(TraceCodec *c, const TraceEvent *e, uint8_t *out)
{
    int cpu = e->cpu;
    bool explicit = in_service_top(c, cpu) != (int)e->ext_code;
    unsigned f = TRACE_EXT_IRQ_RETURN | (explicit ? X_VECTOR : 0);
    size_t n =
        enc_note_head(c, e, (uint8_t)(TT_EXT | (f << T_FIELD_SHIFT)), out);

    if (explicit) {
        n += trace_put_varint(out + n, e->ext_code);
    }
    in_service_pop(c, cpu, e->ext_code);
    return n;
}

size_t trace_encode(TraceCodec *c, const TraceEvent *e, uint8_t *out)
{
    size_t n = 1;

    if (trace_type_is_crossing(e->type)) {
        bool dma = trace_type_is_dma(e->type);
        TraceXing x = {
            .type = e->type,
            .ok = e->ok,
            .has_data = e->has_data,
            .size = e->size,
            .cpu = e->cpu,
            .devfn = e->devfn,
            .time = e->time,
            .addr = e->addr,
            .len = e->len,
            .value = dma && e->data && e->len <= TRACE_DMA_SMALL
                         ? trace_small_value(e->data, e->len)
                         : e->value,
        };
        n = trace_enc_fast(c, &x, out);
        return n ? n : enc_crossing(c, e, out);
    }
    switch (e->type) {
    case TT_SRB_START:
        return enc_srb_start(c, e, out);
    case TT_SRB_DONE:
        return enc_srb_done(c, e, out);
    case TT_DIGEST:
        return trace_encode_digest(out, (uint32_t)e->value);
    case TT_CHECKPOINT:
        out[0] = TT_CHECKPOINT;
        n += trace_put_varint(out + n, c->index);
        n += trace_put_varint(out + n, e->time);
        n += trace_put_varint(out + n, e->ck_events);
        n += trace_put_varint(out + n, e->ck_yields);
        n += trace_put_varint(out + n, e->ck_switches);
        trace_put_u64(out + n, e->ck_fingerprint);
        c->time = MAX(c->time, e->time);
        return n + 8;
    case TT_EXT:
        if (e->ext_kind == TRACE_EXT_IRQ_RETURN) {
            return enc_irq_return(c, e, out);
        }
        n = enc_note_head(
            c, e, (uint8_t)(TT_EXT | ((e->ext_kind & 3u) << T_FIELD_SHIFT)),
            out);
        n += trace_put_varint(out + n, e->ext_code);
        {
            n += trace_put_varint(out + n, e->ext_len);
            if (e->ext_len) {
                memcpy(out + n, e->ext_data, e->ext_len);
            }
            n += e->ext_len;
        }
        return n;
    case TT_END:
        out[0] = TT_END;
        n += trace_put_varint(out + n, trace_zigzag(e->exit_code));
        n += trace_put_varint(out + n, e->stop_reason);
        n += trace_put_varint(out + n, c->index);
        n += trace_put_varint(out + n, e->time);
        c->time = MAX(c->time, e->time);
        return n;
    }
    g_assert_not_reached();
}

/* trace_encode_access_as() when the record is not a plain hit: out of line,
 * so that the hit path does not pay for building the record. */
size_t trace_encode_access_slow(TraceCodec *c, const BndAccess *a,
                                uint64_t time, uint64_t value,
                                const uint8_t *data, uint8_t *out)
{
    TraceEvent e;

    trace_event_from_access(&e, a, time);
    e.value = value;
    e.data = data;
    return enc_crossing(c, &e, out);
}

/* ---- decoding ---- */

typedef struct Cur {
    const uint8_t *p;
    size_t n, i;
    const char *why;
} Cur;

static bool cur_fail(Cur *k, const char *why)
{
    if (!k->why) {
        k->why = why;
    }
    return false;
}

static bool cur_varint(Cur *k, uint64_t *v)
{
    size_t m = trace_get_varint(k->p + k->i, k->n - k->i, v);

    if (!m) {
        return cur_fail(k, k->n - k->i < 10 ? "record truncated"
                                            : "malformed number");
    }
    k->i += m;
    return true;
}

static bool cur_byte(Cur *k, uint8_t *v)
{
    if (k->i >= k->n) {
        return cur_fail(k, "record truncated");
    }
    *v = k->p[k->i++];
    return true;
}

static bool cur_bytes(Cur *k, size_t len, const uint8_t **out)
{
    if (len > k->n - k->i) {
        return cur_fail(k, "record truncated");
    }
    *out = k->p + k->i;
    k->i += len;
    return true;
}

static bool cur_time(Cur *k, TraceCodec *c, uint8_t ext, uint64_t predicted,
                     uint64_t *t)
{
    uint64_t d;

    if (!(ext & E_TIME)) {
        if (predicted < c->time) {
            return cur_fail(k, "virtual time overflows");
        }
        *t = predicted;
        return true;
    }
    if (!cur_varint(k, &d)) {
        return false;
    }
    if (d > UINT64_MAX - c->time) {
        return cur_fail(k, "virtual time overflows");
    }
    *t = c->time + d;
    return true;
}

static bool cpu_valid(const TraceCodec *c, int64_t cpu)
{
    int64_t max = c->smp ? (int64_t)c->smp : TRACE_SMP_MAX;
    return cpu >= -1 && cpu < max;
}

static bool cur_cpu(Cur *k, TraceCodec *c, uint8_t ext, int16_t predicted,
                    int16_t *cpu)
{
    uint64_t z;
    int64_t v;

    if (!(ext & E_CPU)) {
        *cpu = predicted;
        return true;
    }
    if (!cur_varint(k, &z)) {
        return false;
    }
    v = trace_unzigzag(z);
    if (!cpu_valid(c, v)) {
        return cur_fail(k, "vCPU out of range");
    }
    *cpu = (int16_t)v;
    return true;
}

/* A value coded by put_value(). */
static bool cur_small_value(Cur *k, const TraceSlot *sl, uint64_t *v)
{
    uint64_t z;

    if (!cur_varint(k, &z)) {
        return false;
    }
    if (z == VALUE_RAW) {
        return cur_varint(k, v);
    }
    if (z & 1) {
        *v = (sl ? sl->prev_value : 0) + (uint64_t)trace_unzigzag((z >> 1) - 1);
    } else {
        *v = (sl ? sl->value : 0) + (uint64_t)trace_unzigzag(z >> 1);
    }
    return true;
}

static bool dec_crossing(Cur *k, TraceCodec *c, uint8_t tag, TraceEvent *e)
{
    unsigned t = tag & T_TYPE_MASK;
    unsigned s = (tag >> T_FIELD_SHIFT) & T_FIELD_MASK;
    bool miss = s == TRACE_SLOT_MISS;
    bool dma = trace_type_is_dma(t);
    const TraceSlot *sl = NULL;
    SlotUse how = SLOT_HIT;
    uint8_t ext = 0;
    uint64_t z, value = 0;

    if ((tag & T_EXT) && !cur_byte(k, &ext)) {
        return false;
    }
    if ((tag & T_EXT) && !ext) {
        return cur_fail(k, "empty extension byte");
    }
    if (s == TRACE_SLOT_BYTE) {
        uint8_t b;
        if (!cur_byte(k, &b)) {
            return false;
        }
        if (b < TRACE_TAG_SLOTS) {
            return cur_fail(k, "slot byte for a slot the tag names");
        }
        s = b;
    }
    if (!miss) {
        if (s >= c->used[t]) {
            return cur_fail(k, "address slot not in use");
        }
        sl = &c->slot[t][s];
    }
    if ((ext & E_CPU) && t == TT_SCHED) {
        return cur_fail(k, "scheduler record with a vCPU field");
    }
    if ((ext & E_NODATA) && (!dma || (ext & E_NOTOK))) {
        return cur_fail(k, "no-data flag on a record without data");
    }
    if ((ext & E_LEN) && !dma) {
        return cur_fail(k, "length on a record that has none");
    }
    if ((ext & E_SIZE) && !trace_type_is_register(t)) {
        return cur_fail(k, "size on a record that has none");
    }
    e->type = (uint8_t)t;
    e->index = c->index;
    if (!cur_time(k, c, ext, predict_time(c, t, sl), &e->time)) {
        return false;
    }
    if (!cur_cpu(k, c, ext, tc_predict_cpu(c, t), &e->cpu)) {
        return false;
    }
    e->size = trace_type_is_register(t) ? (sl ? sl->size : c->last_size[t]) : 0;
    if ((ext & E_SIZE) && !cur_byte(k, &e->size)) {
        return false;
    }
    if (trace_type_is_register(t) && (e->size < 1 || e->size > 8)) {
        return cur_fail(k, "access size out of range");
    }
    e->devfn = sl ? sl->devfn : c->last_devfn[t];
    if (ext & E_DEVFN) {
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (z > 0xffff) {
            return cur_fail(k, "PCI function out of range");
        }
        e->devfn = (uint32_t)z;
    }
    if (sl) {
        e->addr = tc_slot_next(sl);
        if (sl->devfn != e->devfn) {
            /* The slot key includes the function: a writer never emits
             * a hit with another function. */
            return cur_fail(k, "address slot of another function");
        }
    } else {
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (z & 1) {
            uint8_t j;
            if (!cur_byte(k, &j)) {
                return false;
            }
            if (j >= c->used[t] || c->slot[t][j].devfn != e->devfn) {
                return cur_fail(k, "a miss moves a slot not in use");
            }
            e->addr = c->slot[t][j].addr + (uint64_t)trace_unzigzag(z >> 1);
            s = j;
            how = SLOT_MOVE;
        } else {
            e->addr = c->last_addr[t] + (uint64_t)trace_unzigzag(z >> 1);
            how = SLOT_FRESH;
        }
        if (slot_predicts(c, t, e->addr, e->devfn)) {
            return cur_fail(k, "address given in full while a slot has it");
        }
    }
    e->ok = !(ext & E_NOTOK);
    if (dma) {
        uint64_t plen = sl ? sl->len : c->last_len[t];
        z = 0;
        if ((ext & E_LEN) && !cur_varint(k, &z)) {
            return false;
        }
        e->len = plen + (uint64_t)trace_unzigzag(z);
        if (e->len > TRACE_DMA_MAX) {
            return cur_fail(k, "DMA length out of range");
        }
        e->has_data = e->ok && !(ext & E_NODATA);
        if (e->has_data && e->len > TRACE_DMA_SMALL) {
            if (c->full_data) {
                if (!cur_bytes(k, e->len, &e->data)) {
                    return false;
                }
                e->hash = trace_hash64(e->data, e->len, 0);
            } else {
                e->digested = true;
            }
        }
    } else if (t == TT_SCHED) {
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (!sched_yield_decode(c, z >> 1, &e->len)) {
            return cur_fail(k, "scheduler yield point out of range");
        }
        value = sl ? sl->value : 0;
        if ((z & 1) && !cur_small_value(k, sl, &value)) {
            return false;
        }
    }
    if (has_value(t, e)) {
        value = tc_predict_value(sl);
        if ((ext & E_VALUE) && !cur_small_value(k, sl, &value)) {
            return false;
        }
    } else if (ext & E_VALUE) {
        return cur_fail(k, "value on a record that has none");
    }
    e->value = value;
    if (dma && e->has_data && e->len <= TRACE_DMA_SMALL) {
        uint8_t bytes[TRACE_DMA_SMALL];
        if (e->len < TRACE_DMA_SMALL && e->value >> (8 * e->len)) {
            return cur_fail(k, "DMA value wider than its length");
        }
        for (unsigned i = 0; i < e->len; i++) {
            bytes[i] = (uint8_t)(e->value >> (8 * i));
        }
        e->hash = trace_hash64(bytes, e->len, 0);
    }
    if (t == TT_SCHED) {
        if (!cpu_valid(c, (int64_t)e->value) || e->value > INT16_MAX) {
            return cur_fail(k, "scheduler pick out of range");
        }
        e->cpu = (int16_t)e->value;
    }
    if (how == SLOT_FRESH) {
        s = slot_take(c, t);
    }
    commit_crossing(c, e, s, how, value);
    return true;
}

static bool dec_note_head(Cur *k, TraceCodec *c, uint8_t tag, TraceEvent *e)
{
    uint8_t ext = 0;

    if ((tag & T_EXT) && !cur_byte(k, &ext)) {
        return false;
    }
    if ((tag & T_EXT) && !ext) {
        return cur_fail(k, "empty extension byte");
    }
    if (ext & E_NOTE_RESERVED) {
        return cur_fail(k, "reserved flag bits set");
    }
    e->index = c->index;
    if (!cur_time(k, c, ext, c->time, &e->time) ||
        !cur_cpu(k, c, ext, c->guest_cpu, &e->cpu)) {
        return false;
    }
    c->time = e->time;
    c->guest_cpu = e->cpu;
    return true;
}

/* enc_req_xfer()'s two deltas when @coded, else the next id with the
 * same length. */
static bool dec_req_xfer(Cur *k, TraceEvent *e, bool coded, uint64_t prev_req,
                         uint32_t prev_xfer)
{
    uint64_t z;

    e->req = prev_req + 1;
    e->xfer = prev_xfer;
    if (coded) {
        if (!cur_varint(k, &z)) {
            return false;
        }
        e->req += (uint64_t)trace_unzigzag(z);
        if (!cur_varint(k, &z)) {
            return false;
        }
        e->xfer = (uint32_t)(e->xfer + (uint64_t)trace_unzigzag(z));
    }
    return true;
}

static bool dec_srb_start(Cur *k, TraceCodec *c, uint8_t tag, TraceEvent *e)
{
    unsigned f = (tag >> T_FIELD_SHIFT) & T_FIELD_MASK;
    uint64_t z;

    if (f & ~(unsigned)(A_ADDR | A_SHAPE | A_NEXT)) {
        return cur_fail(k, "reserved flag bits set");
    }
    if (!dec_note_head(k, c, tag, e)) {
        return false;
    }
    e->path = c->path;
    e->target = c->target;
    e->lun = c->lun;
    e->function = c->function;
    e->cdb_len = c->cdb_len;
    memcpy(e->cdb, c->cdb, sizeof(e->cdb));
    if ((f & A_ADDR) && (!cur_byte(k, &e->path) || !cur_byte(k, &e->target) ||
                         !cur_byte(k, &e->lun))) {
        return false;
    }
    if (f & A_SHAPE) {
        const uint8_t *b;
        if (!cur_byte(k, &e->function) || !cur_byte(k, &e->cdb_len)) {
            return false;
        }
        if (e->cdb_len > TRACE_CDB_MAX) {
            return cur_fail(k, "CDB longer than 16 bytes");
        }
        if (!cur_bytes(k, e->cdb_len, &b)) {
            return false;
        }
        memset(e->cdb, 0, sizeof(e->cdb));
        memcpy(e->cdb, b, e->cdb_len);
    } else {
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (z >> e->cdb_len) {
            return cur_fail(k, "CDB change mask beyond the CDB");
        }
        for (unsigned i = 0; i < e->cdb_len; i++) {
            if ((z & (1u << i)) && !cur_byte(k, &e->cdb[i])) {
                return false;
            }
        }
    }
    if (!dec_req_xfer(k, e, !(f & A_NEXT), c->start_req, c->start_xfer)) {
        return false;
    }
    e->type = TT_SRB_START;
    c->path = e->path;
    c->target = e->target;
    c->lun = e->lun;
    c->function = e->function;
    c->cdb_len = e->cdb_len;
    memcpy(c->cdb, e->cdb, sizeof(c->cdb));
    c->start_req = e->req;
    c->start_xfer = e->xfer;
    return true;
}

static bool dec_srb_done(Cur *k, TraceCodec *c, uint8_t tag, TraceEvent *e)
{
    unsigned f = (tag >> T_FIELD_SHIFT) & T_FIELD_MASK;

    if (f & ~(unsigned)(D_STATUS | D_NEXT)) {
        return cur_fail(k, "reserved flag bits set");
    }
    if (!dec_note_head(k, c, tag, e)) {
        return false;
    }
    if (!dec_req_xfer(k, e, !(f & D_NEXT), c->done_req, c->done_xfer)) {
        return false;
    }
    e->srb_status = SRB_SUCCESS;
    e->scsi_status = 0;
    if ((f & D_STATUS) &&
        (!cur_byte(k, &e->srb_status) || !cur_byte(k, &e->scsi_status))) {
        return false;
    }
    e->type = TT_SRB_DONE;
    c->done_req = e->req;
    c->done_xfer = e->xfer;
    return true;
}

static bool dec_irq_return(Cur *k, TraceCodec *c, uint8_t tag, TraceEvent *e)
{
    unsigned f = (tag >> T_FIELD_SHIFT) & T_FIELD_MASK;
    uint64_t z;
    int top;

    if (!dec_note_head(k, c, tag, e)) {
        return false;
    }
    top = in_service_top(c, e->cpu);
    if (f & X_VECTOR) {
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (z >= 256) {
            return cur_fail(k, "interrupt vector out of range");
        }
        if ((int)z == top) {
            return cur_fail(k, "interrupt return names the vector in service");
        }
    } else {
        if (top < 0) {
            return cur_fail(k, "interrupt return with none in service");
        }
        z = (uint64_t)top;
    }
    e->type = TT_EXT;
    e->ext_kind = TRACE_EXT_IRQ_RETURN;
    e->ext_code = (uint32_t)z;
    in_service_pop(c, e->cpu, e->ext_code);
    return true;
}

static bool dec_absolute_time(Cur *k, TraceCodec *c, TraceEvent *e)
{
    uint64_t index;

    if (!cur_varint(k, &index) || !cur_varint(k, &e->time)) {
        return false;
    }
    if (index != c->index) {
        return cur_fail(k, "event index out of sequence");
    }
    if (e->time < c->time) {
        return cur_fail(k, "virtual time goes backwards");
    }
    e->index = index;
    c->time = e->time;
    return true;
}

static bool dec_other(Cur *k, TraceCodec *c, uint8_t tag, TraceEvent *e)
{
    unsigned t = tag & T_TYPE_MASK;
    unsigned f = (tag >> T_FIELD_SHIFT) & T_FIELD_MASK;
    uint64_t z;

    switch (t) {
    case TT_SRB_START:
        return dec_srb_start(k, c, tag, e);
    case TT_SRB_DONE:
        return dec_srb_done(k, c, tag, e);
    case TT_CHECKPOINT: {
        const uint8_t *fp;
        if (tag == (TT_CHECKPOINT | K_DIGEST << T_FIELD_SHIFT)) {
            if (c->full_data) {
                return cur_fail(k, "DMA digest in a trace with the data");
            }
            if (!cur_bytes(k, 4, &fp)) {
                return false;
            }
            e->type = TT_DIGEST;
            e->cpu = -1;
            e->index = c->index;
            e->time = c->time;
            e->value = trace_get_u32(fp);
            return true;
        }
        if (tag != TT_CHECKPOINT) {
            return cur_fail(k, "reserved flag bits set");
        }
        e->type = TT_CHECKPOINT;
        e->cpu = -1;
        if (!dec_absolute_time(k, c, e) || !cur_varint(k, &e->ck_events) ||
            !cur_varint(k, &e->ck_yields) || !cur_varint(k, &e->ck_switches) ||
            !cur_bytes(k, 8, &fp)) {
            return false;
        }
        e->ck_fingerprint = trace_get_u64(fp);
        return true;
    }
    case TT_EXT:
        if ((f & 3u) == TRACE_EXT_IRQ_RETURN) {
            return dec_irq_return(k, c, tag, e);
        }
        if (f >= TRACE_EXT_KINDS) {
            return cur_fail(k, "unknown external record kind");
        }
        if (!dec_note_head(k, c, tag, e) || !cur_varint(k, &z)) {
            return false;
        }
        if (z > UINT32_MAX) {
            return cur_fail(k, "external record code out of range");
        }
        e->type = TT_EXT;
        e->ext_kind = (uint8_t)f;
        e->ext_code = (uint32_t)z;
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (z > TRACE_EXT_MAX) {
            return cur_fail(k, "external record too long");
        }
        e->ext_len = (uint32_t)z;
        return cur_bytes(k, e->ext_len, &e->ext_data);
    case TT_END:
        if (tag != TT_END) {
            return cur_fail(k, "reserved flag bits set");
        }
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (trace_unzigzag(z) < INT32_MIN || trace_unzigzag(z) > INT32_MAX) {
            return cur_fail(k, "exit code out of range");
        }
        e->type = TT_END;
        e->cpu = -1;
        e->exit_code = (int32_t)trace_unzigzag(z);
        if (!cur_varint(k, &z)) {
            return false;
        }
        if (z > UINT32_MAX) {
            return cur_fail(k, "stop reason out of range");
        }
        e->stop_reason = (uint32_t)z;
        return dec_absolute_time(k, c, e);
    }
    return cur_fail(k, "unknown record type");
}

size_t trace_decode(TraceCodec *c, const uint8_t *p, size_t n, TraceEvent *e,
                    const char **why)
{
    Cur k = {.p = p, .n = n};
    uint8_t tag;
    bool ok;

    memset(e, 0, sizeof(*e));
    if (!cur_byte(&k, &tag)) {
        *why = k.why;
        return 0;
    }
    if (trace_type_is_crossing(tag & T_TYPE_MASK)) {
        ok = dec_crossing(&k, c, tag, e);
    } else {
        ok = dec_other(&k, c, tag, e);
    }
    if (!ok) {
        /* The codec may be half updated: the caller stops here. */
        *why = k.why ? k.why : "malformed record";
        return 0;
    }
    return k.i;
}

/* ---- header ---- */

void trace_header_init(TraceHeader *h)
{
    memset(h, 0, sizeof(*h));
    h->version = TRACE_VERSION;
    h->argv = g_ptr_array_new_with_free_func(g_free);
    h->images = g_array_new(FALSE, TRUE, sizeof(TraceImage));
    h->functions = g_array_new(FALSE, TRUE, sizeof(TracePciFunction));
}

void trace_header_clear(TraceHeader *h)
{
    if (h->images) {
        for (guint i = 0; i < h->images->len; i++) {
            TraceImage *im = &g_array_index(h->images, TraceImage, i);
            g_free(im->id);
            g_free(im->filename);
        }
        g_array_free(h->images, TRUE);
    }
    if (h->functions) {
        for (guint i = 0; i < h->functions->len; i++) {
            g_free(g_array_index(h->functions, TracePciFunction, i).name);
        }
        g_array_free(h->functions, TRUE);
    }
    if (h->argv) {
        g_ptr_array_free(h->argv, TRUE);
    }
    g_free(h->build_id);
    memset(h, 0, sizeof(*h));
}

static void put_varint(GByteArray *b, uint64_t v)
{
    uint8_t tmp[10];
    g_byte_array_append(b, tmp, (guint)trace_put_varint(tmp, v));
}

static void put_str(GByteArray *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_varint(b, n);
    g_byte_array_append(b, (const guint8 *)(s ? s : ""), (guint)n);
}

static void put_u64b(GByteArray *b, uint64_t v)
{
    uint8_t tmp[8];
    trace_put_u64(tmp, v);
    g_byte_array_append(b, tmp, 8);
}

static void put_field(GByteArray *out, unsigned tag, GByteArray *val)
{
    put_varint(out, tag);
    put_varint(out, val->len);
    g_byte_array_append(out, val->data, val->len);
    g_byte_array_set_size(val, 0);
}

void trace_header_encode(const TraceHeader *h, GByteArray *out)
{
    g_autoptr(GByteArray) f = g_byte_array_new();
    g_autoptr(GByteArray) v = g_byte_array_new();
    guint start = out->len;
    uint8_t tmp[8];

    put_str(v, h->build_id);
    put_field(f, TRACE_TAG_BUILD_ID, v);
    put_varint(v, h->argv->len);
    for (guint i = 0; i < h->argv->len; i++) {
        put_str(v, g_ptr_array_index(h->argv, i));
    }
    put_field(f, TRACE_TAG_ARGV, v);
    put_varint(v, h->seed);
    put_field(f, TRACE_TAG_SEED, v);
    put_varint(v, h->smp);
    put_field(f, TRACE_TAG_SMP, v);
    put_varint(v, h->mem_size);
    put_field(f, TRACE_TAG_MEM_SIZE, v);
    put_varint(v, h->full_data ? 1 : 0);
    put_field(f, TRACE_TAG_DATA_MODE, v);
    for (guint i = 0; i < h->images->len; i++) {
        const TraceImage *im = &g_array_index(h->images, TraceImage, i);
        put_str(v, im->id);
        put_str(v, im->filename);
        put_varint(v, im->size);
        put_u64b(v, im->hash);
        put_varint(v, im->flags);
        put_field(f, TRACE_TAG_IMAGE, v);
    }
    for (guint i = 0; i < h->functions->len; i++) {
        const TracePciFunction *fn =
            &g_array_index(h->functions, TracePciFunction, i);
        put_varint(v, fn->bdf);
        put_str(v, fn->name);
        g_byte_array_append(v, fn->config, TRACE_PCI_CONFIG);
        for (unsigned b = 0; b < TRACE_PCI_BARS; b++) {
            put_varint(v, fn->bar_size[b]);
            put_varint(v, fn->bar_type[b]);
            put_varint(v, fn->bar_addr[b]);
        }
        put_varint(v, fn->intx_routed);
        put_varint(v, fn->intx_cpu);
        put_varint(v, fn->intx_vector);
        put_field(f, TRACE_TAG_PCI_FUNCTION, v);
    }
    put_varint(v, h->base_seq);
    put_varint(v, h->start_time);
    put_field(f, TRACE_TAG_BASE, v);
    put_varint(v, h->checkpoint_interval);
    put_field(f, TRACE_TAG_CHECKPOINT_INTERVAL, v);

    g_byte_array_append(out, (const guint8 *)TRACE_MAGIC, TRACE_MAGIC_LEN);
    trace_put_u32(tmp, TRACE_VERSION);
    g_byte_array_append(out, tmp, 4);
    trace_put_u32(tmp, f->len);
    g_byte_array_append(out, tmp, 4);
    g_byte_array_append(out, f->data, f->len);
    put_u64b(out, trace_hash64(out->data + start, out->len - start, 0));
}

/* A cursor over header bytes that reports absolute offsets. */
typedef struct HCur {
    const uint8_t *p;
    size_t i, end;
    size_t base; /* file offset of p[0] */
    GError **errp;
    bool failed;
} HCur;

static bool hfail(HCur *k, const char *what)
{
    if (!k->failed) {
        g_set_error(k->errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "corrupt header at byte %zu: %s", k->base + k->i, what);
        k->failed = true;
    }
    return false;
}

static bool hvarint(HCur *k, uint64_t *v)
{
    size_t m = trace_get_varint(k->p + k->i, k->end - k->i, v);

    if (!m) {
        return hfail(k, "malformed number");
    }
    k->i += m;
    return true;
}

static bool hstr(HCur *k, char **s)
{
    uint64_t n;

    if (!hvarint(k, &n)) {
        return false;
    }
    if (n > TRACE_STR_MAX || n > k->end - k->i) {
        return hfail(k, "string too long");
    }
    if (memchr(k->p + k->i, 0, n)) {
        return hfail(k, "string with a NUL byte");
    }
    *s = g_strndup((const char *)k->p + k->i, n);
    k->i += n;
    return true;
}

static bool hu64(HCur *k, uint64_t *v)
{
    if (k->end - k->i < 8) {
        return hfail(k, "field truncated");
    }
    *v = trace_get_u64(k->p + k->i);
    k->i += 8;
    return true;
}

static bool hsmall(HCur *k, uint64_t max, uint64_t *v, const char *what)
{
    if (!hvarint(k, v)) {
        return false;
    }
    if (*v > max) {
        return hfail(k, what);
    }
    return true;
}

static bool dec_image(HCur *k, TraceHeader *h)
{
    TraceImage im = {0};
    uint64_t flags;

    if (!hstr(k, &im.id) || !hstr(k, &im.filename) || !hvarint(k, &im.size) ||
        !hu64(k, &im.hash) ||
        !hsmall(k, 3, &flags, "image flags out of range")) {
        g_free(im.id);
        g_free(im.filename);
        return false;
    }
    im.flags = (unsigned)flags;
    g_array_append_val(h->images, im);
    return true;
}

static bool dec_function(HCur *k, TraceHeader *h)
{
    TracePciFunction fn = {0};
    uint64_t v, routed, cpu, vector;

    if (!hsmall(k, 0xffff, &v, "PCI function number out of range") ||
        !hstr(k, &fn.name)) {
        return false;
    }
    fn.bdf = (uint32_t)v;
    if (k->end - k->i < TRACE_PCI_CONFIG) {
        g_free(fn.name);
        return hfail(k, "config space truncated");
    }
    memcpy(fn.config, k->p + k->i, TRACE_PCI_CONFIG);
    k->i += TRACE_PCI_CONFIG;
    for (unsigned b = 0; b < TRACE_PCI_BARS; b++) {
        uint64_t type;
        if (!hvarint(k, &fn.bar_size[b]) ||
            !hsmall(k, 0xff, &type, "BAR type out of range") ||
            !hvarint(k, &fn.bar_addr[b])) {
            g_free(fn.name);
            return false;
        }
        if (fn.bar_size[b] & (fn.bar_size[b] - 1)) {
            g_free(fn.name);
            return hfail(k, "BAR size not a power of two");
        }
        fn.bar_type[b] = (uint8_t)type;
    }
    if (!hsmall(k, 1, &routed, "INTx flag out of range") ||
        !hsmall(k, TRACE_SMP_MAX - 1, &cpu, "INTx vCPU out of range") ||
        !hsmall(k, 255, &vector, "INTx vector out of range")) {
        g_free(fn.name);
        return false;
    }
    fn.intx_routed = routed;
    fn.intx_cpu = (uint32_t)cpu;
    fn.intx_vector = (uint32_t)vector;
    g_array_append_val(h->functions, fn);
    return true;
}

static bool dec_field(HCur *k, TraceHeader *h, uint64_t tag, unsigned *seen)
{
    uint64_t v, n;

    switch (tag) {
    case TRACE_TAG_BUILD_ID:
        g_free(h->build_id);
        h->build_id = NULL;
        return hstr(k, &h->build_id);
    case TRACE_TAG_ARGV:
        if (!hsmall(k, TRACE_ARGV_MAX, &n, "too many arguments")) {
            return false;
        }
        g_ptr_array_set_size(h->argv, 0);
        for (uint64_t i = 0; i < n; i++) {
            char *s;
            if (!hstr(k, &s)) {
                return false;
            }
            g_ptr_array_add(h->argv, s);
        }
        return true;
    case TRACE_TAG_SEED:
        return hvarint(k, &h->seed);
    case TRACE_TAG_SMP:
        if (!hsmall(k, TRACE_SMP_MAX, &v, "vCPU count out of range")) {
            return false;
        }
        if (v == 0) {
            return hfail(k, "no vCPUs");
        }
        h->smp = (unsigned)v;
        return true;
    case TRACE_TAG_MEM_SIZE:
        return hvarint(k, &h->mem_size);
    case TRACE_TAG_DATA_MODE:
        if (!hsmall(k, 1, &v, "unknown data mode")) {
            return false;
        }
        h->full_data = v == 1;
        return true;
    case TRACE_TAG_IMAGE:
        return dec_image(k, h);
    case TRACE_TAG_PCI_FUNCTION:
        return dec_function(k, h);
    case TRACE_TAG_BASE:
        return hvarint(k, &h->base_seq) && hvarint(k, &h->start_time);
    case TRACE_TAG_CHECKPOINT_INTERVAL:
        return hvarint(k, &h->checkpoint_interval);
    }
    /* A field from a later minor revision: skipped by its length. */
    (void)seen;
    k->i = k->end;
    return true;
}

size_t trace_header_decode(const uint8_t *p, size_t n, TraceHeader *h,
                           GError **errp)
{
    HCur k = {.p = p, .end = n, .errp = errp};
    uint32_t version, flen;
    unsigned seen = 0;
    size_t total;

    if (n < TRACE_FILE_HDR_LEN) {
        hfail(&k, "file shorter than a trace header");
        return 0;
    }
    if (memcmp(p, TRACE_MAGIC, TRACE_MAGIC_LEN) != 0) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "not a storemu trace (bad magic at byte 0)");
        return 0;
    }
    version = trace_get_u32(p + 8);
    if (version != TRACE_VERSION) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "trace format version %u at byte 8: this storemu reads "
                    "version %u",
                    version, TRACE_VERSION);
        return 0;
    }
    flen = trace_get_u32(p + 12);
    if (flen > TRACE_HEADER_MAX) {
        k.i = 12;
        hfail(&k, "header length out of range");
        return 0;
    }
    total = TRACE_FILE_HDR_LEN + (size_t)flen + TRACE_CHECKSUM_LEN;
    if (n < total) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "truncated at byte %zu: the header needs %zu bytes", n,
                    total);
        return 0;
    }
    if (trace_get_u64(p + total - TRACE_CHECKSUM_LEN) !=
        trace_hash64(p, total - TRACE_CHECKSUM_LEN, 0)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "corrupt header: checksum mismatch (bytes 0..%zu)",
                    total - 1);
        return 0;
    }
    h->version = version;
    k.i = TRACE_FILE_HDR_LEN;
    while (k.i < TRACE_FILE_HDR_LEN + (size_t)flen) {
        uint64_t tag, len;
        HCur sub;
        k.end = TRACE_FILE_HDR_LEN + (size_t)flen;
        if (!hvarint(&k, &tag) || !hvarint(&k, &len)) {
            return 0;
        }
        if (len > k.end - k.i) {
            hfail(&k, "field longer than the header");
            return 0;
        }
        sub = (HCur){.p = p, .i = k.i, .end = k.i + len, .errp = errp};
        if (!dec_field(&sub, h, tag, &seen)) {
            return 0;
        }
        if (sub.i != sub.end) {
            k.i = sub.i;
            hfail(&k, "field has trailing bytes");
            return 0;
        }
        if (tag < 32) {
            seen |= 1u << tag;
        }
        k.i += len;
    }
    {
        static const struct {
            unsigned tag;
            const char *name;
        } required[] = {
            {TRACE_TAG_BUILD_ID, "build id"},
            {TRACE_TAG_ARGV, "configuration"},
            {TRACE_TAG_SEED, "seed"},
            {TRACE_TAG_SMP, "vCPU count"},
            {TRACE_TAG_DATA_MODE, "data mode"},
            {TRACE_TAG_BASE, "start point"},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(required); i++) {
            if (!(seen & (1u << required[i].tag))) {
                g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                            "corrupt header: no %s field", required[i].name);
                return 0;
            }
        }
    }
    return total;
}

/* ---- chunks ---- */

uint64_t trace_chunk_checksum(const uint8_t *hdr, uint32_t len)
{
    /* The header fields seed the payload's hash, so both are covered. */
    return trace_hash64(hdr + TRACE_CHUNK_HDR, len, trace_hash64(hdr, 24, 0));
}

void trace_chunk_seal(uint8_t *hdr, uint32_t len, uint64_t base_index,
                      uint64_t base_time)
{
    trace_put_u32(hdr, TRACE_CHUNK_MAGIC);
    trace_put_u32(hdr + 4, len);
    trace_put_u64(hdr + 8, base_index);
    trace_put_u64(hdr + 16, base_time);
    trace_put_u64(hdr + 24, trace_chunk_checksum(hdr, len));
}

bool trace_chunk_parse(const uint8_t *hdr, TraceChunk *c)
{
    if (trace_get_u32(hdr) != TRACE_CHUNK_MAGIC) {
        return false;
    }
    c->len = trace_get_u32(hdr + 4);
    c->base_index = trace_get_u64(hdr + 8);
    c->base_time = trace_get_u64(hdr + 16);
    c->checksum = trace_get_u64(hdr + 24);
    return true;
}
