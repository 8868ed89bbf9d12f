/* SPDX-License-Identifier: MIT */
/*
 * Self-verifying data patterns. Every 512-byte unit of a written block
 * carries who it is and which write put it there, so a read-back names
 * the exact failure instead of "data differs":
 *
 *   offset  size  field
 *        0     4  magic "SPT1"
 *        4     2  unit index inside the logical block (0 for 512-byte LBAs)
 *        6     2  reserved, 0
 *        8     8  LBA (little endian)
 *       16     8  write generation (little endian, >= 1)
 *       24     8  seed tag: a hash of the machine seed (which run wrote it)
 *       32     4  logical block size
 *       36   472  payload derived from (tag, LBA, unit, generation)
 *      508     4  CRC-32C of bytes 0..507
 *
 * Reading a unit back and comparing against what was expected gives one
 * of the PatKind verdicts below: all zeros = never written, bad checksum
 * or magic = corruption, another run's tag = foreign data, another LBA =
 * misdirected write, an older generation = lost write, a newer one = a
 * write the program never saw complete. Deterministic: everything derives
 * from the seed, nothing from the host.
 */
#ifndef GUEST_TESTS_LIB_PATTERN_H
#define GUEST_TESTS_LIB_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAT_UNIT 512u

typedef enum PatKind {
    PAT_OK,
    PAT_ZEROS,       /* all zeros: never written */
    PAT_CORRUPT,     /* bad magic, checksum or payload */
    PAT_FOREIGN,     /* a valid unit from another run (other seed) */
    PAT_MISDIRECTED, /* a valid unit of another LBA */
    PAT_LOST_WRITE,  /* the right LBA, an older generation */
    PAT_NEWER,       /* the right LBA, a generation never acknowledged */
    PAT_KINDS
} PatKind;

/* What one bad unit held, for messages. */
typedef struct PatCheck {
    PatKind kind;
    uint64_t lba; /* where it was read from */
    unsigned unit;
    uint64_t expected_gen;
    uint64_t found_lba; /* valid units only */
    unsigned found_unit;
    uint64_t found_gen;
    uint64_t found_tag;
    unsigned bad_offset; /* PAT_CORRUPT: first byte that differs */
} PatCheck;

/* The tag stored in every unit, from the machine seed. */
uint64_t pat_seed_tag(uint64_t seed);

/* Fill @blocks logical blocks of @block_size bytes (a multiple of
 * PAT_UNIT) starting at @lba with generation @gen. */
void pat_fill(void *buf, uint64_t lba, uint32_t blocks, uint32_t block_size,
              uint64_t gen, uint64_t tag);

/* Check one unit against (lba, unit, gen, tag); fills @out when not OK. */
PatKind pat_check_unit(const uint8_t *p, uint64_t lba, unsigned unit,
                       uint32_t block_size, uint64_t gen, uint64_t tag,
                       PatCheck *out);

/*
 * Check @blocks logical blocks. Each bad block is counted once in
 * @counts[kind] (by its first bad unit) when @counts is not NULL; the
 * first bad one is described in @first. Returns the number of bad blocks.
 */
unsigned pat_check(const void *buf, uint64_t lba, uint32_t blocks,
                   uint32_t block_size, uint64_t gen, uint64_t tag,
                   uint64_t counts[PAT_KINDS], PatCheck *first);

const char *pat_kind_name(PatKind k);
/* "LBA 17: lost write (holds generation 3, expected 5)" into @buf. */
void pat_describe(const PatCheck *c, char *buf, size_t n);

/* CRC-32C (Castagnoli), as iSCSI and ext4 use it. */
uint32_t pat_crc32c(uint32_t crc, const void *p, size_t n);

#endif
