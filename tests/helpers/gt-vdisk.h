/* SPDX-License-Identifier: MIT */
/*
 * gt-vdisk: a small virtual miniport for testing the guest-side class
 * layer and programs (guest-tests/) without any device model: RAM disks
 * on a configurable number of targets and LUNs, a maximum transfer length
 * to force splitting, an optional completion latency (so virtual time
 * moves and requests overlap), and one-shot error injection (unit
 * attention, not ready, busy, queue full, aborted, bus reset, medium
 * error, lost / misdirected writes, corrupted reads).
 *
 * Register it in a test with
 *     port_register_builtin("gt-vdisk", gt_vdisk_DriverEntry);
 * after setting gt_vdisk_config (gt_vdisk_reset() gives the defaults).
 */
#ifndef TESTS_HELPERS_GT_VDISK_H
#define TESTS_HELPERS_GT_VDISK_H

#include <stdbool.h>
#include <stdint.h>
#include <storport.h>

typedef struct GtVdiskConfig {
    unsigned targets; /* targets 0..targets-1 on bus 0 */
    unsigned luns;    /* LUNs 0..luns-1 on every target */
    uint64_t blocks;  /* per LUN */
    uint32_t block_size;
    uint32_t max_transfer; /* MaximumTransferLength, bytes */
    uint64_t latency_us;   /* 0: complete inside HwStorStartIo */
    bool no_cdb16;         /* refuse the 16-byte READ/WRITE/SYNC CACHE */
    unsigned queue_depth;  /* InitialLunQueueDepth; 0 = the port's */
    bool no_units;         /* an adapter with nothing behind it */
} GtVdiskConfig;

/* One-shot faults: each counter fails that many data commands (READ,
 * WRITE, SYNCHRONIZE CACHE, UNMAP); the LBA ones fire once. */
typedef struct GtVdiskFaults {
    unsigned unit_attention;  /* CHECK CONDITION 06/29/00 */
    unsigned not_ready;       /* CHECK CONDITION 02/04/01 */
    unsigned scsi_busy;       /* SCSI status BUSY */
    unsigned queue_full;      /* SCSI status TASK SET FULL */
    unsigned aborted;         /* CHECK CONDITION 0B/00/00 */
    unsigned bus_reset;       /* SRB_STATUS_BUS_RESET */
    unsigned medium_error;    /* CHECK CONDITION 03/11/00 */
    unsigned recovered;       /* CHECK CONDITION 01/17/00, data moved */
    int64_t lose_write_lba;   /* acknowledge, store nothing; -1 = off */
    int64_t misdirect_lba;    /* store this block at LBA + 1; -1 = off */
    int64_t corrupt_read_lba; /* flip a byte of it when read; -1 = off */
} GtVdiskFaults;

typedef struct GtVdiskStats {
    uint64_t commands, reads, writes, flushes, unmaps, shutdowns;
    uint64_t cdb16, cdb10;
    unsigned outstanding, max_outstanding;
    uint64_t stops, restarts;
    uint64_t faults_fired;
} GtVdiskStats;

extern GtVdiskConfig gt_vdisk_config;
extern GtVdiskFaults gt_vdisk_faults;
extern GtVdiskStats gt_vdisk_stats;

/* Defaults: 1 target, 1 LUN, 8192 blocks of 512 bytes, 64 KiB maximum
 * transfer, no latency, no faults; statistics zeroed. */
void gt_vdisk_reset(void);

ULONG gt_vdisk_DriverEntry(PVOID DriverObject, PVOID RegistryPath);

#endif
