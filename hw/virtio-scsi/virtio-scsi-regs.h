/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi over PCI: the guest ABI, and with it the device's register
 * specification. Everything a driver sees is here: the PCI identity and
 * capability layouts (OASIS virtio 1.2/1.3, 4.1 "Virtio Over PCI Bus"),
 * the common configuration registers (4.1.4.3), device status and feature
 * bits (2.1, 6), the split virtqueue layouts (2.7), the SCSI host device's
 * configuration, requests, responses, task management, asynchronous
 * notification and events (5.6), and where this device model puts its
 * structures in its BARs.
 *
 * All multi-byte fields are little-endian; the structs are packed,
 * fixed-width and checked by static assertions, so a driver may overlay
 * them on guest memory. This header is the only one from hw/ that
 * miniports include: it depends on <stdint.h> and <stddef.h> alone.
 */
#ifndef HW_VIRTIO_SCSI_VIRTIO_SCSI_REGS_H
#define HW_VIRTIO_SCSI_VIRTIO_SCSI_REGS_H

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_REGS_ASSERT(cond) _Static_assert(cond, #cond)

/* ---- PCI identity (4.1.2, 5.6.1) ----------------------------------------- */

#define VIRTIO_PCI_VENDOR_ID 0x1af4
#define VIRTIO_ID_SCSI       8
/* Non-transitional ids are 0x1040 + the virtio device id. */
#define VIRTIO_PCI_DEVICE_ID_SCSI (0x1040 + VIRTIO_ID_SCSI) /* 0x1048 */
/* Non-transitional devices: revision >= 1, subsystem id >= 0x40 (4.1.2.1).
 * 1AF4:1100 is the subsystem real virtio-scsi drivers (vioscsi) match. */
#define VIRTIO_PCI_REVISION         1
#define VIRTIO_PCI_SUBSYS_VENDOR_ID 0x1af4
#define VIRTIO_PCI_SUBSYS_ID        0x1100
#define VIRTIO_SCSI_PCI_CLASS       0x010000 /* mass storage, SCSI */

/* ---- virtio structure capabilities (4.1.4) ------------------------------- */

/* cfg_type values. */
#define VIRTIO_PCI_CAP_COMMON_CFG        1
#define VIRTIO_PCI_CAP_NOTIFY_CFG        2
#define VIRTIO_PCI_CAP_ISR_CFG           3
#define VIRTIO_PCI_CAP_DEVICE_CFG        4
#define VIRTIO_PCI_CAP_PCI_CFG           5
#define VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8
#define VIRTIO_PCI_CAP_VENDOR_CFG        9

#pragma pack(push, 1)

/* All fields RO for the driver, except in the PCI_CFG capability. */
typedef struct VirtioPciCap {
    uint8_t cap_vndr; /* 0x09, PCI_CAP_ID_VNDR */
    uint8_t cap_next;
    uint8_t cap_len;  /* whole capability, extra data included */
    uint8_t cfg_type; /* VIRTIO_PCI_CAP_* */
    uint8_t bar;      /* 0..5 */
    uint8_t id;
    uint8_t padding[2];
    uint32_t offset; /* of the structure within the BAR */
    uint32_t length; /* of the structure, bytes */
} VirtioPciCap;

/* 4.1.4.4: the notify capability carries the multiplier. */
typedef struct VirtioPciNotifyCap {
    VirtioPciCap cap;
    uint32_t notify_off_multiplier;
} VirtioPciNotifyCap;

/* 4.1.4.9: a window into the BARs through configuration space.
 * cap.bar, cap.offset, cap.length and pci_cfg_data are RW. */
typedef struct VirtioPciCfgCap {
    VirtioPciCap cap;
    uint8_t pci_cfg_data[4];
} VirtioPciCfgCap;

#pragma pack(pop)

VIRTIO_REGS_ASSERT(sizeof(VirtioPciCap) == 16);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCap, cfg_type) == 3);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCap, bar) == 4);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCap, id) == 5);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCap, offset) == 8);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCap, length) == 12);
VIRTIO_REGS_ASSERT(sizeof(VirtioPciNotifyCap) == 20);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciNotifyCap, notify_off_multiplier) == 16);
VIRTIO_REGS_ASSERT(sizeof(VirtioPciCfgCap) == 20);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCfgCap, pci_cfg_data) == 16);

/* Byte offsets inside a capability, from its first byte. */
#define VIRTIO_PCI_CAP_CFG_TYPE    3
#define VIRTIO_PCI_CAP_BAR         4
#define VIRTIO_PCI_CAP_ID          5
#define VIRTIO_PCI_CAP_OFFSET      8
#define VIRTIO_PCI_CAP_LENGTH      12
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16
#define VIRTIO_PCI_CFG_CAP_DATA    16

/* ---- common configuration (4.1.4.3) -------------------------------------- */

#pragma pack(push, 1)
typedef struct VirtioPciCommonCfg {
    uint32_t device_feature_select; /* RW, reset 0 */
    uint32_t device_feature;        /* RO: offered bits, 32 per window */
    uint32_t driver_feature_select; /* RW, reset 0 */
    uint32_t driver_feature;        /* RW, reset 0 */
    uint16_t config_msix_vector;    /* RW, reset NO_VECTOR */
    uint16_t num_queues;            /* RO */
    uint8_t device_status;          /* RW, reset 0; write 0 = reset */
    uint8_t config_generation;      /* RO */
    uint16_t queue_select;          /* RW, reset 0 */
    uint16_t queue_size;            /* RW, reset max; 0: no such queue */
    uint16_t queue_msix_vector;     /* RW, reset NO_VECTOR */
    uint16_t queue_enable;          /* RW (write 1 only), reset 0 */
    uint16_t queue_notify_off;      /* RO */
    uint64_t queue_desc;            /* RW, reset 0 */
    uint64_t queue_driver;          /* RW, reset 0 (split: avail ring) */
    uint64_t queue_device;          /* RW, reset 0 (split: used ring) */
    uint16_t queue_notify_data;     /* RO (VIRTIO_F_NOTIF_CONFIG_DATA) */
    uint16_t queue_reset;           /* RW (VIRTIO_F_RING_RESET), reset 0 */
} VirtioPciCommonCfg;
#pragma pack(pop)

#define VIRTIO_PCI_COMMON_DFSELECT  0x00 /* device_feature_select */
#define VIRTIO_PCI_COMMON_DF        0x04 /* device_feature */
#define VIRTIO_PCI_COMMON_GFSELECT  0x08 /* driver_feature_select */
#define VIRTIO_PCI_COMMON_GF        0x0c /* driver_feature */
#define VIRTIO_PCI_COMMON_MSIX      0x10 /* config_msix_vector */
#define VIRTIO_PCI_COMMON_NUMQ      0x12 /* num_queues */
#define VIRTIO_PCI_COMMON_STATUS    0x14 /* device_status */
#define VIRTIO_PCI_COMMON_CFGGEN    0x15 /* config_generation */
#define VIRTIO_PCI_COMMON_Q_SELECT  0x16 /* queue_select */
#define VIRTIO_PCI_COMMON_Q_SIZE    0x18 /* queue_size */
#define VIRTIO_PCI_COMMON_Q_MSIX    0x1a /* queue_msix_vector */
#define VIRTIO_PCI_COMMON_Q_ENABLE  0x1c /* queue_enable */
#define VIRTIO_PCI_COMMON_Q_NOFF    0x1e /* queue_notify_off */
#define VIRTIO_PCI_COMMON_Q_DESCLO  0x20 /* queue_desc, low dword */
#define VIRTIO_PCI_COMMON_Q_DESCHI  0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28 /* queue_driver */
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO  0x30 /* queue_device */
#define VIRTIO_PCI_COMMON_Q_USEDHI  0x34
#define VIRTIO_PCI_COMMON_Q_NDATA   0x38 /* queue_notify_data */
#define VIRTIO_PCI_COMMON_Q_RESET   0x3a /* queue_reset */
#define VIRTIO_PCI_COMMON_CFG_LEN   0x3c /* what this device presents */

VIRTIO_REGS_ASSERT(sizeof(VirtioPciCommonCfg) == VIRTIO_PCI_COMMON_CFG_LEN);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, device_feature_select) ==
                   VIRTIO_PCI_COMMON_DFSELECT);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, device_feature) ==
                   VIRTIO_PCI_COMMON_DF);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, driver_feature_select) ==
                   VIRTIO_PCI_COMMON_GFSELECT);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, driver_feature) ==
                   VIRTIO_PCI_COMMON_GF);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, config_msix_vector) ==
                   VIRTIO_PCI_COMMON_MSIX);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, num_queues) ==
                   VIRTIO_PCI_COMMON_NUMQ);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, device_status) ==
                   VIRTIO_PCI_COMMON_STATUS);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, config_generation) ==
                   VIRTIO_PCI_COMMON_CFGGEN);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_select) ==
                   VIRTIO_PCI_COMMON_Q_SELECT);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_size) ==
                   VIRTIO_PCI_COMMON_Q_SIZE);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_msix_vector) ==
                   VIRTIO_PCI_COMMON_Q_MSIX);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_enable) ==
                   VIRTIO_PCI_COMMON_Q_ENABLE);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_notify_off) ==
                   VIRTIO_PCI_COMMON_Q_NOFF);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_desc) ==
                   VIRTIO_PCI_COMMON_Q_DESCLO);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_driver) ==
                   VIRTIO_PCI_COMMON_Q_AVAILLO);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_device) ==
                   VIRTIO_PCI_COMMON_Q_USEDLO);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_notify_data) ==
                   VIRTIO_PCI_COMMON_Q_NDATA);
VIRTIO_REGS_ASSERT(offsetof(VirtioPciCommonCfg, queue_reset) ==
                   VIRTIO_PCI_COMMON_Q_RESET);

/* 4.1.4.3 / 4.1.5.1.2: "no vector" for config_msix_vector and
 * queue_msix_vector; also what a refused mapping reads back as. */
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* ISR status (4.1.4.5): one byte, RO, read-to-clear (deasserts INTx). */
#define VIRTIO_PCI_ISR_QUEUE  0x1 /* a used buffer notification */
#define VIRTIO_PCI_ISR_CONFIG 0x2 /* a configuration change */

/* ---- device status (2.1) ------------------------------------------------- */

#define VIRTIO_STATUS_ACKNOWLEDGE        0x01
#define VIRTIO_STATUS_DRIVER             0x02
#define VIRTIO_STATUS_DRIVER_OK          0x04
#define VIRTIO_STATUS_FEATURES_OK        0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40 /* set by the device only */
#define VIRTIO_STATUS_FAILED             0x80

/* ---- feature bits (6, 5.6.3), as bit numbers ----------------------------- */

#define VIRTIO_SCSI_F_INOUT        0 /* not offered */
#define VIRTIO_SCSI_F_HOTPLUG      1
#define VIRTIO_SCSI_F_CHANGE       2
#define VIRTIO_SCSI_F_T10_PI       3  /* not offered */
#define VIRTIO_F_ANY_LAYOUT        27 /* implied by VERSION_1 */
#define VIRTIO_F_INDIRECT_DESC     28
#define VIRTIO_F_EVENT_IDX         29
#define VIRTIO_F_VERSION_1         32 /* required */
#define VIRTIO_F_ACCESS_PLATFORM   33
#define VIRTIO_F_RING_PACKED       34 /* not offered: refused */
#define VIRTIO_F_IN_ORDER          35
#define VIRTIO_F_ORDER_PLATFORM    36
#define VIRTIO_F_SR_IOV            37
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#define VIRTIO_F_RING_RESET        40
#define VIRTIO_F_ADMIN_VQ          41

#define VIRTIO_FEATURE(bit) (1ULL << (bit))

/* ---- split virtqueues (2.7) ---------------------------------------------- */

#pragma pack(push, 1)
/* Descriptor table entry (2.7.5). */
typedef struct VirtqDesc {
    uint64_t addr; /* guest-physical */
    uint32_t len;
    uint16_t flags; /* VIRTQ_DESC_F_* */
    uint16_t next;  /* valid with VIRTQ_DESC_F_NEXT */
} VirtqDesc;

/* Available ring header (2.7.6); ring[queue size] and, with EVENT_IDX,
 * used_event follow. Written by the driver only. */
typedef struct VirtqAvail {
    uint16_t flags; /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    uint16_t idx;   /* free-running */
} VirtqAvail;

/* Used ring element (2.7.8). */
typedef struct VirtqUsedElem {
    uint32_t id;  /* head of the chain */
    uint32_t len; /* bytes written into the device-writable part */
} VirtqUsedElem;

/* Used ring header; ring[queue size] and, with EVENT_IDX, avail_event
 * follow. Written by the device only. */
typedef struct VirtqUsed {
    uint16_t flags; /* VIRTQ_USED_F_NO_NOTIFY */
    uint16_t idx;   /* free-running */
} VirtqUsed;
#pragma pack(pop)

VIRTIO_REGS_ASSERT(sizeof(VirtqDesc) == 16);
VIRTIO_REGS_ASSERT(offsetof(VirtqDesc, len) == 8);
VIRTIO_REGS_ASSERT(offsetof(VirtqDesc, flags) == 12);
VIRTIO_REGS_ASSERT(offsetof(VirtqDesc, next) == 14);
VIRTIO_REGS_ASSERT(sizeof(VirtqAvail) == 4);
VIRTIO_REGS_ASSERT(offsetof(VirtqAvail, idx) == 2);
VIRTIO_REGS_ASSERT(sizeof(VirtqUsedElem) == 8);
VIRTIO_REGS_ASSERT(offsetof(VirtqUsedElem, len) == 4);
VIRTIO_REGS_ASSERT(sizeof(VirtqUsed) == 4);
VIRTIO_REGS_ASSERT(offsetof(VirtqUsed, idx) == 2);

#define VIRTQ_DESC_F_NEXT          0x1
#define VIRTQ_DESC_F_WRITE         0x2 /* device-writable */
#define VIRTQ_DESC_F_INDIRECT      0x4 /* addr/len is a descriptor table */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 0x1
#define VIRTQ_USED_F_NO_NOTIFY     0x1

/* Offsets inside the rings of a queue of @qs entries. */
#define VIRTQ_AVAIL_FLAGS          0
#define VIRTQ_AVAIL_IDX            2
#define VIRTQ_AVAIL_RING(i)        (4 + 2 * (uint64_t)(i))
#define VIRTQ_AVAIL_USED_EVENT(qs) VIRTQ_AVAIL_RING(qs)
#define VIRTQ_USED_FLAGS           0
#define VIRTQ_USED_IDX             2
#define VIRTQ_USED_RING(i)         (4 + 8 * (uint64_t)(i))
#define VIRTQ_USED_AVAIL_EVENT(qs) VIRTQ_USED_RING(qs)

/* Sizes (2.7, table) with the event fields, and alignments. */
#define VIRTQ_DESC_TABLE_SIZE(qs) (16 * (uint64_t)(qs))
#define VIRTQ_AVAIL_SIZE(qs)      (6 + 2 * (uint64_t)(qs))
#define VIRTQ_USED_SIZE(qs)       (6 + 8 * (uint64_t)(qs))
#define VIRTQ_DESC_ALIGN          16
#define VIRTQ_AVAIL_ALIGN         2
#define VIRTQ_USED_ALIGN          4
#define VIRTQ_SIZE_MAX_SPLIT      32768

/* ---- SCSI host device: configuration (5.6.4) ----------------------------- */

#pragma pack(push, 1)
typedef struct VirtioScsiConfig {
    uint32_t num_queues;      /* RO: request queues */
    uint32_t seg_max;         /* RO: data segments per command */
    uint32_t max_sectors;     /* RO: transfer size hint, 512-byte units */
    uint32_t cmd_per_lun;     /* RO */
    uint32_t event_info_size; /* RO: sizeof(VirtioScsiEvent) */
    uint32_t sense_size;      /* RW, reset 96 */
    uint32_t cdb_size;        /* RW, reset 32 */
    uint16_t max_channel;     /* RO: 0 */
    uint16_t max_target;      /* RO: 255 */
    uint32_t max_lun;         /* RO: 16383 */
} VirtioScsiConfig;
#pragma pack(pop)

#define VIRTIO_SCSI_CFG_NUM_QUEUES      0x00
#define VIRTIO_SCSI_CFG_SEG_MAX         0x04
#define VIRTIO_SCSI_CFG_MAX_SECTORS     0x08
#define VIRTIO_SCSI_CFG_CMD_PER_LUN     0x0c
#define VIRTIO_SCSI_CFG_EVENT_INFO_SIZE 0x10
#define VIRTIO_SCSI_CFG_SENSE_SIZE      0x14
#define VIRTIO_SCSI_CFG_CDB_SIZE        0x18
#define VIRTIO_SCSI_CFG_MAX_CHANNEL     0x1c
#define VIRTIO_SCSI_CFG_MAX_TARGET      0x1e
#define VIRTIO_SCSI_CFG_MAX_LUN         0x20
#define VIRTIO_SCSI_CFG_SIZE            0x24

VIRTIO_REGS_ASSERT(sizeof(VirtioScsiConfig) == VIRTIO_SCSI_CFG_SIZE);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, seg_max) ==
                   VIRTIO_SCSI_CFG_SEG_MAX);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, max_sectors) ==
                   VIRTIO_SCSI_CFG_MAX_SECTORS);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, cmd_per_lun) ==
                   VIRTIO_SCSI_CFG_CMD_PER_LUN);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, event_info_size) ==
                   VIRTIO_SCSI_CFG_EVENT_INFO_SIZE);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, sense_size) ==
                   VIRTIO_SCSI_CFG_SENSE_SIZE);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, cdb_size) ==
                   VIRTIO_SCSI_CFG_CDB_SIZE);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, max_channel) ==
                   VIRTIO_SCSI_CFG_MAX_CHANNEL);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, max_target) ==
                   VIRTIO_SCSI_CFG_MAX_TARGET);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiConfig, max_lun) ==
                   VIRTIO_SCSI_CFG_MAX_LUN);

#define VIRTIO_SCSI_SENSE_SIZE_DEFAULT 96
#define VIRTIO_SCSI_CDB_SIZE_DEFAULT   32

/* Virtqueue numbers (5.6.2). */
#define VIRTIO_SCSI_VQ_CONTROL 0
#define VIRTIO_SCSI_VQ_EVENT   1
#define VIRTIO_SCSI_VQ_REQUEST 2 /* first request queue */

/* ---- request queues (5.6.6.1) -------------------------------------------- */

/*
 * LUN addressing: {1, target, single-level LUN (2 bytes, SAM flat or
 * peripheral addressing), 0, 0, 0, 0}. The REPORT LUNS well-known LU is
 * {0xc1, 0x01, 0...}.
 */
#define VIRTIO_SCSI_LUN_FIRST      1
#define VIRTIO_SCSI_LUN_FLAT       0x40 /* address method 01b in byte 2 */
#define VIRTIO_SCSI_LUN_WLUN_BYTE0 0xc1

#pragma pack(push, 1)
/* The device-readable header; cdb is cdb_size bytes (32 by default). */
typedef struct VirtioScsiCmdReqHdr {
    uint8_t lun[8];
    uint64_t id; /* the tag */
    uint8_t task_attr;
    uint8_t prio;
    uint8_t crn;
} VirtioScsiCmdReqHdr;

typedef struct VirtioScsiCmdReq {
    VirtioScsiCmdReqHdr hdr;
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE_DEFAULT];
} VirtioScsiCmdReq;

/* The device-writable header; sense is sense_size bytes (96 default). */
typedef struct VirtioScsiCmdRespHdr {
    uint32_t sense_len; /* bytes written to sense */
    uint32_t residual;  /* data length - bytes transferred */
    uint16_t status_qualifier;
    uint8_t status;   /* SAM status */
    uint8_t response; /* VIRTIO_SCSI_S_* */
} VirtioScsiCmdRespHdr;

typedef struct VirtioScsiCmdResp {
    VirtioScsiCmdRespHdr hdr;
    uint8_t sense[VIRTIO_SCSI_SENSE_SIZE_DEFAULT];
} VirtioScsiCmdResp;
#pragma pack(pop)

VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCmdReqHdr) == 19);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdReqHdr, id) == 8);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdReqHdr, task_attr) == 16);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdReqHdr, prio) == 17);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdReqHdr, crn) == 18);
VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCmdReq) == 51);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdReq, cdb) == 19);
VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCmdRespHdr) == 12);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdRespHdr, residual) == 4);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdRespHdr, status_qualifier) == 8);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdRespHdr, status) == 10);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdRespHdr, response) == 11);
VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCmdResp) == 108);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCmdResp, sense) == 12);

/* response codes (5.6.6.1.1) */
#define VIRTIO_SCSI_S_OK                0
#define VIRTIO_SCSI_S_OVERRUN           1
#define VIRTIO_SCSI_S_ABORTED           2
#define VIRTIO_SCSI_S_BAD_TARGET        3
#define VIRTIO_SCSI_S_RESET             4
#define VIRTIO_SCSI_S_BUSY              5
#define VIRTIO_SCSI_S_TRANSPORT_FAILURE 6
#define VIRTIO_SCSI_S_TARGET_FAILURE    7
#define VIRTIO_SCSI_S_NEXUS_FAILURE     8
#define VIRTIO_SCSI_S_FAILURE           9
/* controlq only */
#define VIRTIO_SCSI_S_FUNCTION_COMPLETE  0
#define VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10
#define VIRTIO_SCSI_S_FUNCTION_REJECTED  11
#define VIRTIO_SCSI_S_INCORRECT_LUN      12

/* task_attr */
#define VIRTIO_SCSI_S_SIMPLE  0
#define VIRTIO_SCSI_S_ORDERED 1
#define VIRTIO_SCSI_S_HEAD    2
#define VIRTIO_SCSI_S_ACA     3

/* ---- control queue (5.6.6.2) --------------------------------------------- */

#define VIRTIO_SCSI_T_TMF          0
#define VIRTIO_SCSI_T_AN_QUERY     1
#define VIRTIO_SCSI_T_AN_SUBSCRIBE 2

#define VIRTIO_SCSI_T_TMF_ABORT_TASK         0
#define VIRTIO_SCSI_T_TMF_ABORT_TASK_SET     1
#define VIRTIO_SCSI_T_TMF_CLEAR_ACA          2
#define VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET     3
#define VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET    4
#define VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET 5
#define VIRTIO_SCSI_T_TMF_QUERY_TASK         6
#define VIRTIO_SCSI_T_TMF_QUERY_TASK_SET     7

#pragma pack(push, 1)
typedef struct VirtioScsiCtrlTmfReq {
    uint32_t type;    /* VIRTIO_SCSI_T_TMF */
    uint32_t subtype; /* VIRTIO_SCSI_T_TMF_* */
    uint8_t lun[8];
    uint64_t id; /* for ABORT TASK / QUERY TASK */
} VirtioScsiCtrlTmfReq;

typedef struct VirtioScsiCtrlTmfResp {
    uint8_t response;
} VirtioScsiCtrlTmfResp;

typedef struct VirtioScsiCtrlAnReq {
    uint32_t type; /* VIRTIO_SCSI_T_AN_QUERY / _SUBSCRIBE */
    uint8_t lun[8];
    uint32_t event_requested;
} VirtioScsiCtrlAnReq;

typedef struct VirtioScsiCtrlAnResp {
    uint32_t event_actual;
    uint8_t response;
} VirtioScsiCtrlAnResp;
#pragma pack(pop)

VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCtrlTmfReq) == 24);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCtrlTmfReq, subtype) == 4);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCtrlTmfReq, lun) == 8);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCtrlTmfReq, id) == 16);
VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCtrlTmfResp) == 1);
VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCtrlAnReq) == 16);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCtrlAnReq, lun) == 4);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCtrlAnReq, event_requested) == 12);
VIRTIO_REGS_ASSERT(sizeof(VirtioScsiCtrlAnResp) == 5);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiCtrlAnResp, response) == 4);

/* Asynchronous notification event classes (MMC 6.6, A.6). */
#define VIRTIO_SCSI_EVT_ASYNC_OPERATIONAL_CHANGE 0x02
#define VIRTIO_SCSI_EVT_ASYNC_POWER_MGMT         0x04
#define VIRTIO_SCSI_EVT_ASYNC_EXTERNAL_REQUEST   0x08
#define VIRTIO_SCSI_EVT_ASYNC_MEDIA_CHANGE       0x10
#define VIRTIO_SCSI_EVT_ASYNC_MULTI_HOST         0x20
#define VIRTIO_SCSI_EVT_ASYNC_DEVICE_BUSY        0x40

/* ---- event queue (5.6.6.3) ----------------------------------------------- */

#pragma pack(push, 1)
typedef struct VirtioScsiEvent {
    uint32_t event; /* VIRTIO_SCSI_T_*, bit 31: events were missed */
    uint8_t lun[8];
    uint32_t reason;
} VirtioScsiEvent;
#pragma pack(pop)

VIRTIO_REGS_ASSERT(sizeof(VirtioScsiEvent) == 16);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiEvent, lun) == 4);
VIRTIO_REGS_ASSERT(offsetof(VirtioScsiEvent, reason) == 12);

#define VIRTIO_SCSI_T_EVENTS_MISSED   0x80000000u
#define VIRTIO_SCSI_T_NO_EVENT        0
#define VIRTIO_SCSI_T_TRANSPORT_RESET 1
#define VIRTIO_SCSI_T_ASYNC_NOTIFY    2
#define VIRTIO_SCSI_T_PARAM_CHANGE    3

#define VIRTIO_SCSI_EVT_RESET_HARD    0
#define VIRTIO_SCSI_EVT_RESET_RESCAN  1
#define VIRTIO_SCSI_EVT_RESET_REMOVED 2

/* PARAM_CHANGE reason: ASC in bits 0..7, ASCQ in bits 8..15. */
#define VIRTIO_SCSI_PARAM_REASON(asc, ascq)                                    \
    ((uint32_t)(asc) | ((uint32_t)(ascq) << 8))

/* ---- this device's layout (storemu virtio-scsi-pci) ---------------------- */

/*
 * BAR 4 (64-bit memory, 16 KiB) holds the four virtio structures, one
 * page each; BAR 1 (32-bit memory, 4 KiB, only with msix=on) holds the
 * MSI-X table and PBA. MSI-X vectors: num_queues + 3 (control, event,
 * each request queue, and one for configuration changes).
 */
#define VSCSI_BAR_VIRTIO        4
#define VSCSI_BAR_VIRTIO_SIZE   0x4000
#define VSCSI_BAR_MSIX          1
#define VSCSI_MSIX_TABLE_OFF    0x0000
#define VSCSI_MSIX_PBA_OFF      0x0800
#define VSCSI_COMMON_OFF        0x0000 /* length VIRTIO_PCI_COMMON_CFG_LEN */
#define VSCSI_ISR_OFF           0x1000 /* length 1 */
#define VSCSI_DEVICE_OFF        0x2000 /* length VIRTIO_SCSI_CFG_SIZE */
#define VSCSI_NOTIFY_OFF        0x3000 /* length 4 * queues */
#define VSCSI_REGION_SIZE       0x1000
#define VSCSI_NOTIFY_MULTIPLIER 4 /* queue_notify_off = queue index */

#endif
