/* SPDX-License-Identifier: MIT */
/*
 * Self-verifying data patterns (layout in pattern.h). The payload is a
 * splitmix64 stream keyed by (tag, LBA, unit, generation): cheap to make
 * and to re-make when checking, and different for every write, so even a
 * stale copy of the right LBA with a forged header would not match.
 */
#include <string.h>
#include <glib.h>
#include "guest-tests/lib/pattern.h"

#define PAT_MAGIC         0x31545053u /* "SPT1" little endian */
#define PAT_OFF_UNIT      4
#define PAT_OFF_LBA       8
#define PAT_OFF_GEN       16
#define PAT_OFF_TAG       24
#define PAT_OFF_BSIZE     32
#define PAT_OFF_PAYLOAD   36
#define PAT_OFF_CRC       508
#define PAT_PAYLOAD_WORDS ((PAT_OFF_CRC - PAT_OFF_PAYLOAD) / 8)

G_STATIC_ASSERT(PAT_OFF_PAYLOAD + PAT_PAYLOAD_WORDS * 8 == PAT_OFF_CRC);

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t pat_seed_tag(uint64_t seed)
{
    /* Never 0, so a zeroed unit can never carry a valid tag. */
    uint64_t t = mix64(seed ^ 0x5354524d55504154ULL);
    return t ? t : 1;
}

/* ---- CRC-32C, reflected polynomial 0x82F63B78 ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
        crc_table[i] = c;
    }
}

uint32_t pat_crc32c(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;

    /* Idempotent; the machine runs on one host thread. */
    if (!crc_table[1]) {
        crc_init();
    }
    crc = ~crc;
    while (n--) {
        crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

static uint64_t payload_key(uint64_t tag, uint64_t lba, unsigned unit,
                            uint64_t gen)
{
    return mix64(tag ^ mix64(lba * 0x9e3779b97f4a7c15ULL + unit) ^
                 (gen * 0xd6e8feb86659fd93ULL));
}

static void fill_unit(uint8_t *p, uint64_t lba, unsigned unit,
                      uint32_t block_size, uint64_t gen, uint64_t tag)
{
    uint64_t k = payload_key(tag, lba, unit, gen);

    put_le32(p, PAT_MAGIC);
    put_le16(p + PAT_OFF_UNIT, (uint16_t)unit);
    put_le16(p + 6, 0);
    put_le64(p + PAT_OFF_LBA, lba);
    put_le64(p + PAT_OFF_GEN, gen);
    put_le64(p + PAT_OFF_TAG, tag);
    put_le32(p + PAT_OFF_BSIZE, block_size);
    for (unsigned i = 0; i < PAT_PAYLOAD_WORDS; i++) {
        k += 0x9e3779b97f4a7c15ULL;
        put_le64(p + PAT_OFF_PAYLOAD + 8 * i, mix64(k));
    }
    put_le32(p + PAT_OFF_CRC, pat_crc32c(0, p, PAT_OFF_CRC));
}

void pat_fill(void *buf, uint64_t lba, uint32_t blocks, uint32_t block_size,
              uint64_t gen, uint64_t tag)
{
    uint8_t *p = buf;
    unsigned units = block_size / PAT_UNIT;

    g_assert(block_size && block_size % PAT_UNIT == 0);
    for (uint32_t b = 0; b < blocks; b++) {
        for (unsigned u = 0; u < units; u++) {
            fill_unit(p, lba + b, u, block_size, gen, tag);
            p += PAT_UNIT;
        }
    }
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static unsigned first_difference(const uint8_t *a, const uint8_t *b)
{
    for (unsigned i = 0; i < PAT_UNIT; i++) {
        if (a[i] != b[i]) {
            return i;
        }
    }
    return 0;
}

PatKind pat_check_unit(const uint8_t *p, uint64_t lba, unsigned unit,
                       uint32_t block_size, uint64_t gen, uint64_t tag,
                       PatCheck *out)
{
    PatCheck c = {.lba = lba, .unit = unit, .expected_gen = gen};
    uint8_t want[PAT_UNIT];

    /* The common case first: exactly what was written. */
    fill_unit(want, lba, unit, block_size, gen, tag);
    if (!memcmp(p, want, PAT_UNIT)) {
        return PAT_OK;
    }
    if (all_zero(p, PAT_UNIT)) {
        c.kind = PAT_ZEROS;
    } else if (get_le32(p) != PAT_MAGIC ||
               get_le32(p + PAT_OFF_CRC) != pat_crc32c(0, p, PAT_OFF_CRC)) {
        c.kind = PAT_CORRUPT;
        c.bad_offset = first_difference(p, want);
    } else {
        /* A self-consistent unit: whose is it? */
        c.found_lba = get_le64(p + PAT_OFF_LBA);
        c.found_unit = get_le16(p + PAT_OFF_UNIT);
        c.found_gen = get_le64(p + PAT_OFF_GEN);
        c.found_tag = get_le64(p + PAT_OFF_TAG);
        if (c.found_tag != tag) {
            c.kind = PAT_FOREIGN;
        } else if (c.found_lba != lba || c.found_unit != unit) {
            c.kind = PAT_MISDIRECTED;
        } else if (c.found_gen < gen) {
            c.kind = PAT_LOST_WRITE;
        } else if (c.found_gen > gen) {
            c.kind = PAT_NEWER;
        } else {
            /* Right header and checksum, wrong payload. */
            c.kind = PAT_CORRUPT;
            c.bad_offset = first_difference(p, want);
        }
    }
    if (out) {
        *out = c;
    }
    return c.kind;
}

unsigned pat_check(const void *buf, uint64_t lba, uint32_t blocks,
                   uint32_t block_size, uint64_t gen, uint64_t tag,
                   uint64_t counts[PAT_KINDS], PatCheck *first)
{
    const uint8_t *p = buf;
    unsigned units = block_size / PAT_UNIT;
    unsigned bad = 0;

    g_assert(block_size && block_size % PAT_UNIT == 0);
    for (uint32_t b = 0; b < blocks; b++) {
        for (unsigned u = 0; u < units; u++) {
            PatCheck c;
            PatKind k = pat_check_unit(p + (size_t)(b * units + u) * PAT_UNIT,
                                       lba + b, u, block_size, gen, tag, &c);
            if (k == PAT_OK) {
                continue;
            }
            if (!bad && first) {
                *first = c;
            }
            bad++;
            if (counts) {
                counts[k]++;
            }
            break; /* one verdict per logical block */
        }
    }
    return bad;
}

const char *pat_kind_name(PatKind k)
{
    switch (k) {
    case PAT_OK:
        return "ok";
    case PAT_ZEROS:
        return "never written (zeros)";
    case PAT_CORRUPT:
        return "corrupted";
    case PAT_FOREIGN:
        return "foreign data (another run)";
    case PAT_MISDIRECTED:
        return "misdirected write";
    case PAT_LOST_WRITE:
        return "lost write";
    case PAT_NEWER:
        return "unacknowledged newer write";
    case PAT_KINDS:
        break;
    }
    return "?";
}

void pat_describe(const PatCheck *c, char *buf, size_t n)
{
    char where[48];

    if (c->unit) {
        g_snprintf(where, sizeof(where),
                   "LBA %" G_GUINT64_FORMAT " (+%u bytes)", c->lba,
                   c->unit * PAT_UNIT);
    } else {
        g_snprintf(where, sizeof(where), "LBA %" G_GUINT64_FORMAT, c->lba);
    }
    switch (c->kind) {
    case PAT_ZEROS:
        g_snprintf(buf, n,
                   "%s: never written (all zeros, expected "
                   "generation %" G_GUINT64_FORMAT ")",
                   where, c->expected_gen);
        break;
    case PAT_CORRUPT:
        g_snprintf(buf, n,
                   "%s: corrupted (first bad byte at offset %u of "
                   "the 512-byte unit)",
                   where, c->bad_offset);
        break;
    case PAT_FOREIGN:
        g_snprintf(buf, n,
                   "%s: foreign data (seed tag %016" G_GINT64_MODIFIER
                   "x, another run's pattern)",
                   where, c->found_tag);
        break;
    case PAT_MISDIRECTED:
        g_snprintf(
            buf, n,
            "%s: misdirected write (holds the data of LBA %" G_GUINT64_FORMAT
            "%s, generation %" G_GUINT64_FORMAT ")",
            where, c->found_lba, c->found_unit ? " (unit)" : "", c->found_gen);
        break;
    case PAT_LOST_WRITE:
        g_snprintf(buf, n,
                   "%s: lost write (holds generation %" G_GUINT64_FORMAT
                   ", expected %" G_GUINT64_FORMAT ")",
                   where, c->found_gen, c->expected_gen);
        break;
    case PAT_NEWER:
        g_snprintf(buf, n,
                   "%s: unacknowledged newer write (holds generation "
                   "%" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT ")",
                   where, c->found_gen, c->expected_gen);
        break;
    default:
        g_snprintf(buf, n, "%s: ok", where);
        break;
    }
}
