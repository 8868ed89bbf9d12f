/* SPDX-License-Identifier: MIT */
/*
 * Sense data in fixed (SPC-5 4.4.3) and descriptor (SPC-5 4.4.2) format,
 * with the INFORMATION field and the sense-key specific field pointer, and
 * CDB lengths by operation code group.
 */
#include <string.h>

#include "hw/scsi/scsi-defs.h"

#define FIXED_VALID 0x80
#define SKS_SKSV    0x80
#define SKS_CD      0x40
#define SKS_BPV     0x08

/* The three sense-key specific bytes of a field pointer. */
static void sks_encode(const SCSIFieldPointer *fp, uint8_t out[3])
{
    out[0] = SKS_SKSV | (fp->cdb ? SKS_CD : 0);
    if (fp->bit >= 0) {
        out[0] |= SKS_BPV | (fp->bit & 7);
    }
    out[1] = fp->byte >> 8;
    out[2] = fp->byte;
}

static void sks_decode(const uint8_t in[3], SCSIFieldPointer *fp)
{
    fp->valid = in[0] & SKS_SKSV;
    fp->cdb = in[0] & SKS_CD;
    fp->bit = (in[0] & SKS_BPV) ? (in[0] & 7) : -1;
    fp->byte = scsi_be16(in + 1);
}

size_t scsi_sense_build(uint8_t *buf, size_t size, const SCSISenseInfo *si,
                        bool desc)
{
    uint8_t tmp[32] = {0};
    size_t len;

    if (desc) {
        uint8_t *d = tmp + 8;

        tmp[0] = 0x72;
        tmp[1] = si->sense.key & 0x0f;
        tmp[2] = si->sense.asc;
        tmp[3] = si->sense.ascq;
        if (si->info_valid) {
            /* Information descriptor (SPC-5 4.4.2.2). */
            d[0] = 0x00;
            d[1] = 0x0a;
            d[2] = 0x80;
            scsi_put_be64(d + 4, si->info);
            d += 12;
        }
        if (si->field.valid) {
            /* Sense key specific descriptor (SPC-5 4.4.2.5). */
            d[0] = 0x02;
            d[1] = 0x06;
            sks_encode(&si->field, d + 4);
            d += 8;
        }
        len = d - tmp;
        tmp[7] = len - 8;
    } else {
        tmp[0] = 0x70;
        tmp[2] = si->sense.key & 0x0f;
        /* Fixed format holds 32 bits; a larger value is "not valid". */
        if (si->info_valid && si->info <= UINT32_MAX) {
            tmp[0] |= FIXED_VALID;
            scsi_put_be32(tmp + 3, (uint32_t)si->info);
        }
        tmp[7] = SCSI_SENSE_FIXED_LEN - 8;
        tmp[12] = si->sense.asc;
        tmp[13] = si->sense.ascq;
        if (si->field.valid) {
            sks_encode(&si->field, tmp + 15);
        }
        len = SCSI_SENSE_FIXED_LEN;
    }
    len = len < size ? len : size;
    memcpy(buf, tmp, len);
    return len;
}

bool scsi_sense_parse(const uint8_t *buf, size_t len, SCSISenseInfo *si)
{
    memset(si, 0, sizeof(*si));
    si->field.bit = -1;
    if (len < 4) {
        return false;
    }
    switch (buf[0] & 0x7f) {
    case 0x70:
    case 0x71:
        if (len < 14) {
            return false;
        }
        si->sense.key = buf[2] & 0x0f;
        si->sense.asc = buf[12];
        si->sense.ascq = buf[13];
        if (buf[0] & FIXED_VALID) {
            si->info_valid = true;
            si->info = scsi_be32(buf + 3);
        }
        if (len >= 18 && (buf[15] & SKS_SKSV)) {
            sks_decode(buf + 15, &si->field);
        }
        return true;
    case 0x72:
    case 0x73: {
        size_t end = 8 + (len >= 8 ? buf[7] : 0);
        size_t off = 8;

        si->sense.key = buf[1] & 0x0f;
        si->sense.asc = buf[2];
        si->sense.ascq = buf[3];
        end = end < len ? end : len;
        while (off + 2 <= end) {
            const uint8_t *d = buf + off;
            size_t dlen = 2 + d[1];

            if (off + dlen > end) {
                break;
            }
            if (d[0] == 0x00 && dlen >= 12 && (d[2] & 0x80)) {
                si->info_valid = true;
                si->info = scsi_be64(d + 4);
            } else if (d[0] == 0x02 && dlen >= 7 && (d[4] & SKS_SKSV)) {
                sks_decode(d + 4, &si->field);
            }
            off += dlen;
        }
        return true;
    }
    default:
        return false;
    }
}
