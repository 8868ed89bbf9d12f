/* SPDX-License-Identifier: MIT */
/*
 * SCSI constants shared by the bus, the targets and HBA models: operation
 * codes (SPC-5, SBC-4), status codes (SAM-5 5.3), sense keys and the
 * additional sense codes this emulator reports (SPC-5 4.4, annex F), and
 * sense data construction in both formats (SPC-5 4.4.2 descriptor, 4.4.3
 * fixed).
 */
#ifndef HW_SCSI_SCSI_DEFS_H
#define HW_SCSI_SCSI_DEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Operation codes. */
enum {
    SCSI_OP_TEST_UNIT_READY = 0x00,
    SCSI_OP_REQUEST_SENSE = 0x03,
    SCSI_OP_READ_6 = 0x08,
    SCSI_OP_WRITE_6 = 0x0a,
    SCSI_OP_INQUIRY = 0x12,
    SCSI_OP_MODE_SELECT_6 = 0x15,
    SCSI_OP_MODE_SENSE_6 = 0x1a,
    SCSI_OP_START_STOP_UNIT = 0x1b,
    SCSI_OP_PREVENT_ALLOW = 0x1e,
    SCSI_OP_READ_CAPACITY_10 = 0x25,
    SCSI_OP_READ_10 = 0x28,
    SCSI_OP_WRITE_10 = 0x2a,
    SCSI_OP_WRITE_VERIFY_10 = 0x2e,
    SCSI_OP_VERIFY_10 = 0x2f,
    SCSI_OP_SYNCHRONIZE_CACHE_10 = 0x35,
    SCSI_OP_WRITE_SAME_10 = 0x41,
    SCSI_OP_UNMAP = 0x42,
    SCSI_OP_MODE_SELECT_10 = 0x55,
    SCSI_OP_MODE_SENSE_10 = 0x5a,
    SCSI_OP_READ_16 = 0x88,
    SCSI_OP_WRITE_16 = 0x8a,
    SCSI_OP_WRITE_VERIFY_16 = 0x8e,
    SCSI_OP_VERIFY_16 = 0x8f,
    SCSI_OP_SYNCHRONIZE_CACHE_16 = 0x91,
    SCSI_OP_WRITE_SAME_16 = 0x93,
    SCSI_OP_SERVICE_ACTION_IN_16 = 0x9e,
    SCSI_OP_REPORT_LUNS = 0xa0,
    SCSI_OP_MAINTENANCE_IN = 0xa3,
    SCSI_OP_READ_12 = 0xa8,
    SCSI_OP_WRITE_12 = 0xaa,
    SCSI_OP_WRITE_VERIFY_12 = 0xae,
    SCSI_OP_VERIFY_12 = 0xaf,
};

/* Service actions. */
#define SCSI_SAI_READ_CAPACITY_16        0x10
#define SCSI_MI_REPORT_SUPPORTED_OPCODES 0x0c

/* Status codes (SAM-5 5.3.1). */
enum {
    SCSI_STATUS_GOOD = 0x00,
    SCSI_STATUS_CHECK_CONDITION = 0x02,
    SCSI_STATUS_CONDITION_MET = 0x04,
    SCSI_STATUS_BUSY = 0x08,
    SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
    SCSI_STATUS_TASK_SET_FULL = 0x28,
    SCSI_STATUS_ACA_ACTIVE = 0x30,
    SCSI_STATUS_TASK_ABORTED = 0x40,
};

/* Sense keys (SPC-5 4.4.8). */
enum {
    SCSI_SK_NO_SENSE = 0x0,
    SCSI_SK_RECOVERED_ERROR = 0x1,
    SCSI_SK_NOT_READY = 0x2,
    SCSI_SK_MEDIUM_ERROR = 0x3,
    SCSI_SK_HARDWARE_ERROR = 0x4,
    SCSI_SK_ILLEGAL_REQUEST = 0x5,
    SCSI_SK_UNIT_ATTENTION = 0x6,
    SCSI_SK_DATA_PROTECT = 0x7,
    SCSI_SK_ABORTED_COMMAND = 0xb,
    SCSI_SK_MISCOMPARE = 0xe,
};

typedef struct SCSISense {
    uint8_t key, asc, ascq;
} SCSISense;

#define SCSI_SENSE(k, a, q) ((SCSISense){(k), (a), (q)})

#define SENSE_NO_SENSE                 SCSI_SENSE(SCSI_SK_NO_SENSE, 0x00, 0x00)
#define SENSE_NOT_READY_START_REQUIRED SCSI_SENSE(SCSI_SK_NOT_READY, 0x04, 0x02)
#define SENSE_READ_ERROR               SCSI_SENSE(SCSI_SK_MEDIUM_ERROR, 0x11, 0x00)
#define SENSE_WRITE_ERROR              SCSI_SENSE(SCSI_SK_MEDIUM_ERROR, 0x0c, 0x00)
#define SENSE_INTERNAL_FAILURE         SCSI_SENSE(SCSI_SK_HARDWARE_ERROR, 0x44, 0x00)
#define SENSE_PARAM_LIST_LENGTH        SCSI_SENSE(SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00)
#define SENSE_INVALID_OPCODE           SCSI_SENSE(SCSI_SK_ILLEGAL_REQUEST, 0x20, 0x00)
#define SENSE_LBA_OUT_OF_RANGE         SCSI_SENSE(SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00)
#define SENSE_INVALID_FIELD            SCSI_SENSE(SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00)
#define SENSE_LUN_NOT_SUPPORTED        SCSI_SENSE(SCSI_SK_ILLEGAL_REQUEST, 0x25, 0x00)
#define SENSE_INVALID_PARAM            SCSI_SENSE(SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x00)
#define SENSE_SAVING_NOT_SUPPORTED                                             \
    SCSI_SENSE(SCSI_SK_ILLEGAL_REQUEST, 0x39, 0x00)
#define SENSE_RESET              SCSI_SENSE(SCSI_SK_UNIT_ATTENTION, 0x29, 0x00)
#define SENSE_MODE_CHANGED       SCSI_SENSE(SCSI_SK_UNIT_ATTENTION, 0x2a, 0x01)
#define SENSE_WRITE_PROTECTED    SCSI_SENSE(SCSI_SK_DATA_PROTECT, 0x27, 0x00)
#define SENSE_SPACE_ALLOC_FAILED SCSI_SENSE(SCSI_SK_DATA_PROTECT, 0x27, 0x07)
#define SENSE_DATA_PHASE_ERROR   SCSI_SENSE(SCSI_SK_ABORTED_COMMAND, 0x4b, 0x00)
#define SENSE_MISCOMPARE         SCSI_SENSE(SCSI_SK_MISCOMPARE, 0x1d, 0x00)

static inline bool scsi_sense_eq(SCSISense a, SCSISense b)
{
    return a.key == b.key && a.asc == b.asc && a.ascq == b.ascq;
}

/* Largest sense data a target returns (SPC-5: 252 bytes at most). */
#define SCSI_SENSE_MAX       252
#define SCSI_SENSE_FIXED_LEN 18

/* Sense-key specific field pointer (SPC-5 4.4.2.5): the byte of the CDB
 * (cdb = true) or of the parameter list, and the bit, or -1 for none. */
typedef struct SCSIFieldPointer {
    bool valid;
    bool cdb;
    uint16_t byte;
    int8_t bit;
} SCSIFieldPointer;

typedef struct SCSISenseInfo {
    SCSISense sense;
    SCSIFieldPointer field; /* ILLEGAL REQUEST only */
    bool info_valid;        /* INFORMATION field (LBA, offset) */
    uint64_t info;
} SCSISenseInfo;

/*
 * Build sense data into @buf in descriptor format (response code 72h) when
 * @desc, else fixed (70h), truncated to @size. Returns its length (at most
 * 32 bytes).
 */
size_t scsi_sense_build(uint8_t *buf, size_t size, const SCSISenseInfo *si,
                        bool desc);

/*
 * Decode sense data of either format (for HBAs, tests, traces). Returns
 * false when @buf does not hold sense data. The field pointer and
 * information come back as found.
 */
bool scsi_sense_parse(const uint8_t *buf, size_t len, SCSISenseInfo *si);

/* Helpers to read and write big-endian CDB and data fields. */
static inline uint16_t scsi_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t scsi_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t scsi_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline uint64_t scsi_be64(const uint8_t *p)
{
    return (uint64_t)scsi_be32(p) << 32 | scsi_be32(p + 4);
}

static inline void scsi_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void scsi_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static inline void scsi_put_be64(uint8_t *p, uint64_t v)
{
    scsi_put_be32(p, v >> 32);
    scsi_put_be32(p + 4, (uint32_t)v);
}

/* CDB length from the operation code's group (SPC-5 4.2.5.1); 0 for the
 * reserved and vendor-specific groups. Inline: decoding a READ asks it
 * twice. */
static inline unsigned scsi_cdb_length(uint8_t opcode)
{
    switch (opcode >> 5) {
    case 0:
        return 6;
    case 1:
    case 2:
        return 10;
    case 4:
        return 16;
    case 5:
        return 12;
    default:
        return 0; /* 3: variable/reserved, 6-7: vendor specific */
    }
}

#endif
