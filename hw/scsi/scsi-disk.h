/* SPDX-License-Identifier: MIT */
/*
 * scsi-hd: a direct-access block device (SBC-4) on a SCSI bus, backed by a
 * block backend. docs/scsi-disk.md lists the commands it implements and
 * where it differs from SBC-4 / SPC-5.
 */
#ifndef HW_SCSI_SCSI_DISK_H
#define HW_SCSI_SCSI_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/block/block.h"
#include "hw/scsi/scsi-bus.h"
#include "system/opts.h"

typedef struct SCSIDiskState SCSIDiskState;

/* Largest transfer of one READ/WRITE/VERIFY (Block Limits VPD). */
#define SDISK_MAX_XFER_BYTES (8ULL << 20)
/* Largest WRITE SAME (MAXIMUM WRITE SAME LENGTH). */
#define SDISK_MAX_WS_BYTES (64ULL << 20)
/* Largest UNMAP, in total, and its descriptor count. */
#define SDISK_MAX_UNMAP_BYTES (1ULL << 30)
#define SDISK_MAX_UNMAP_DESC  256

typedef struct SCSIDiskProps {
    bool wce;                    /* volatile write cache enabled at reset */
    const char *serial;          /* VPD 80h; NULL: the drive id */
    const char *product;         /* INQUIRY product; NULL: "STOREMU HARDDISK" */
    uint32_t logical_block_size; /* 512 or 4096; 0 means 512 */
    const char *id;              /* device id for messages; may be NULL */
} SCSIDiskProps;

#define SCSI_DISK_PROPS_DEFAULT                                                \
    {                                                                          \
        .wce = true, .logical_block_size = 512                                 \
    }

/*
 * Create a disk on @bus at (@target, @lun) over @blk, which it attaches
 * (one disk per backend). The image size must be a multiple of the logical
 * block size. The disk is destroyed with scsi_disk_free(), or by
 * scsi_bus_free() of its bus; @blk must outlive it.
 */
SCSIDiskState *scsi_disk_new(SCSIBus *bus, uint32_t target, uint32_t lun,
                             BlockBackend *blk, const SCSIDiskProps *props,
                             GError **errp);
void scsi_disk_free(SCSIDiskState *s);
SCSIDevice *scsi_disk_device(SCSIDiskState *s);

/* -device scsi-hd,drive=ID[,bus=HBA][,target=N][,lun=N][,wce=on|off]
 * [,serial=S][,logical_block_size=512|4096][,product=P][,id=ID] */
bool scsi_hd_create(Opts *opts, GError **errp);

#endif
