/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, private to system/fault*.c: the armed faults, their
 * triggers, the machine they act on, and the requests they touched.
 *
 *   fault.c         arming, triggers, firing (trace + record), the request
 *                   follow-up behind the summary, replay checks
 *   fault-device.c  the boundary hook: interrupts, DMA, doorbells, removal
 *   fault-scsi.c    the SCSI bus hooks and the backend faults
 *   fault-guest.c   pool, timers and power transitions
 */
#ifndef SYSTEM_FAULT_INT_H
#define SYSTEM_FAULT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/block/block.h"
#include "hw/core/pci.h"
#include "hw/scsi/scsi-bus.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/error.h"
#include "system/event.h"
#include "system/fault.h"
#include "system/options.h"
#include "system/rng.h"

/* In options_fault_kind_names() order (checked at fault_init). */
typedef enum FaultKind {
    FK_IRQ_DROP,
    FK_IRQ_DELAY,
    FK_IRQ_SPURIOUS,
    FK_IRQ_DUPLICATE,
    FK_DMA_ERROR,
    FK_DOORBELL_IGNORE,
    FK_HANG,
    FK_FATAL,
    FK_SURPRISE_REMOVE,
    FK_LATENCY,
    FK_REORDER,
    FK_CHECK_CONDITION,
    FK_BUSY,
    FK_TASK_SET_FULL,
    FK_SHORT_TRANSFER,
    FK_CORRUPT,
    FK_UNIT_ATTENTION,
    FK_EIO,
    FK_ENOSPC,
    FK_POWER_CUT,
    FK_POOL_FAIL,
    FK_TIMER_JITTER,
    FK_POWER,
    FK_COUNT
} FaultKind;

/* Where a kind finds its opportunities (docs/faults.md, "Triggers"). */
typedef enum FaultStage {
    FS_SUBMIT,   /* a SCSI command going to its target */
    FS_COMPLETE, /* a SCSI command whose outcome is final */
    FS_DOORBELL, /* a doorbell write */
    FS_ALLOC,    /* a port memory allocation */
    FS_TIMER,    /* a guest timer being set */
    FS_SRB,      /* an SRB the port completed (any miniport) */
} FaultStage;

/* The power transitions of kind "power" (same order as the option). */
typedef enum FaultPower {
    FP_STOP,
    FP_HIBERNATE,
    FP_RESUME,
    FP_SURPRISE_REMOVAL,
} FaultPower;

/* How many affected requests a fault follows up in detail. */
#define FAULT_TRACK_MAX 8

/* A request a fault touched, followed until the guest is done with it. */
typedef struct FaultReq {
    char effect[80]; /* what the fault did, e.g. "CHECK CONDITION 3/11/00" */
    uint64_t first;  /* the port's request id; 0: not known (no port) */
    uint64_t req;    /* the attempt followed now (retries get new ids) */
    unsigned hits;   /* attempts of this request the fault hit */
    uint8_t target, lun;
    uint8_t cdb[16];
    uint8_t cdb_len;
    bool done;    /* the first attempt completed */
    bool settled; /* a later attempt succeeded, or none followed */
    uint8_t srb_status, scsi_status;
    bool sense_valid;
    uint8_t sense_key, asc, ascq;
    bool info_valid; /* the sense's INFORMATION field */
    uint64_t info;
    bool timed_out;   /* the port timed it out (and reset the bus) */
    unsigned retries; /* the same command sent again afterwards */
    uint8_t final_srb_status, final_scsi_status;
} FaultReq;

typedef struct Fault {
    unsigned index; /* 0-based, -fault order */
    FaultKind kind;
    FaultStage stage;
    char *text; /* the -fault argument as given */

    /* triggers */
    bool has_at, at_time;
    uint64_t at;
    uint64_t after, every;
    bool has_p;
    double p;
    uint64_t count; /* 0: unlimited */
    bool has_lba;
    uint64_t lba_first, lba_last;
    bool has_lun;
    uint32_t lun;
    bool has_op;
    OptionsFaultOp op;
    uint8_t opcode;
    bool has_queue;
    unsigned queue;
    bool has_vcpu;
    unsigned vcpu;

    /* parameters */
    uint64_t ns;
    uint8_t sense_key, asc, ascq;
    bool has_info;
    uint64_t info;
    bool has_bytes;
    uint64_t bytes;
    FaultPower power;

    Rng rng;
    uint64_t seen;  /* matching opportunities since the arming point */
    uint64_t fired; /* firings */
    Event point_ev; /* at=: the arming point of a point-in-time kind */
    bool point_done;

    unsigned power_failures; /* power: transitions that failed */

    GPtrArray *reqs;  /* FaultReq*, at most FAULT_TRACK_MAX */
    GPtrArray *notes; /* char*: the first firings, said in words */
    uint64_t untracked;
} Fault;

/* What the faults act on, found once at fault_init. */
typedef struct FaultDisk {
    SCSIBus *bus;
    SCSIDevice *dev;
    BlockBackend *blk;
    uint32_t block_size;
} FaultDisk;

typedef struct FaultHba {
    struct VirtioScsiState *vs;
    PCIDevice *pci;
    SCSIBus *bus;
    bool removed; /* surprise-removed: reads all ones, writes dropped */
} FaultHba;

typedef struct FaultState {
    GPtrArray *faults; /* Fault* */
    GPtrArray *disks;  /* FaultDisk* */
    GPtrArray *hbas;   /* FaultHba* */
    GPtrArray *blks;   /* BlockBackend*, every -drive */
    bool devices_off;  /* replay without device models */
    bool hooked;
    bool stopping;    /* fault_fini: guest threads end */
    GHashTable *srbs; /* port request id -> FaultSrb*, in flight */
    uint64_t power_cuts;
    /* Crossings when the faults were armed: at=N counts from here, as the
     * trace's event indexes do (recording starts at the same point). */
    uint64_t seq_base;
} FaultState;

extern FaultState fault_state;

/* fault.c */
/* One -fault's Opts (validated) as an armed fault; its random stream
 * derives from @seed and @index. */
Fault *fault_new(const Opts *o, unsigned index, uint64_t seed);
void fault_free(gpointer f);
bool fault_kind_is_point(FaultKind k);
const char *fault_kind_name(FaultKind k);
/* The arming point (at=) has been reached. */
bool fault_armed(const Fault *f);
/* One matching opportunity: true when the fault fires on it. */
bool fault_try(Fault *f);
/* A firing: count, trace, record. @what says what happened. */
void fault_fire(Fault *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* The effect of an earlier firing (dropped interrupt...): trace + record. */
void fault_effect(Fault *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Start following the guest request behind SCSI command @req. */
FaultReq *fault_track(Fault *f, const SCSIRequest *req, const char *effect);
/* Follow the SRB with port request id @id. */
void fault_track_srb(Fault *f, uint64_t id, const char *effect);
/* Follow every SRB in flight (a hang, a removal). */
void fault_track_in_flight(Fault *f, const char *effect);
/* The SRB behind @req is the port's own (bus scan, flush at a stop). */
bool fault_req_internal(const SCSIRequest *req);
/* The vCPU that started the SRB behind @req, or -1. */
int fault_req_cpu(const SCSIRequest *req);
/* Decode the CDB: LBA and blocks when it addresses a range. */
bool fault_cdb_range(const uint8_t *cdb, unsigned len, uint64_t *lba,
                     uint64_t *blocks);
const char *fault_cdb_name(const uint8_t *cdb);
/* The port's annotations (SRB start and completion), from the hook. */
void fault_note(const BndNote *n);
/* From the hook's after(): at= points given as event indexes. */
void fault_check_points(void);
/* device=off replay: the kind of the recorded effect (a dropped or late
 * interrupt, a failed DMA) at crossing @index; false if none. */
bool fault_replay_effect_at(uint64_t index, FaultKind *kind);
FaultHba *fault_hba_of_bus(const SCSIBus *bus);
FaultDisk *fault_disk_of(const SCSIDevice *dev);
void fault_hba_fail(FaultHba *h, int how);

/* fault-device.c */
bool fault_device_attach(GError **errp);
void fault_device_detach(void);
/* A REQ-stage device fault fired: act on the HBA's next interrupt. */
void fault_irq_arm(Fault *f, FaultHba *h);
/* irq-spurious: an interrupt with nothing behind it, now. */
void fault_irq_spurious(Fault *f, FaultHba *h);
void fault_hba_remove(Fault *f, FaultHba *h);
/* dma-error: fail the data DMA of @req (until it completes). */
void fault_dma_arm(Fault *f, SCSIRequest *req);
void fault_dma_disarm(SCSIRequest *req);

/* fault-scsi.c */
void fault_scsi_fini(void);
/* A point-in-time kind fired with no request (at=): act machine-wide. */
void fault_point_act(Fault *f);

/* fault-guest.c */
bool fault_guest_init(GError **errp);
void fault_guest_fini(void);
/* A power fault fired: wake its thread. */
void fault_power_kick(Fault *f);

#endif
