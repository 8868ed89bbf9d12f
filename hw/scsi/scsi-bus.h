/* SPDX-License-Identifier: MIT */
/*
 * The SCSI bus: where an HBA model and its targets meet (SAM-5 4.6, the
 * SCSI domain model). The HBA creates a bus with one small const ops
 * struct (SCSIBusOps), submits commands addressed to (target, LUN) with a
 * scatter-gather list of guest-physical buffers, and is called back once
 * per command with its outcome. Targets (SCSIDevice, e.g. scsi-disk.c)
 * attach at (target, LUN) with their own ops (SCSIDeviceOps). The target
 * knows nothing of rings, doorbells or MSI; the HBA knows nothing of SBC.
 *
 * What the bus does on its own: addressing (a missing target is a
 * selection timeout, a missing LUN on an existing target answers INQUIRY,
 * REPORT LUNS and REQUEST SENSE and fails the rest with LOGICAL UNIT NOT
 * SUPPORTED), unit attention conditions per I_T nexus (SAM-5 5.14), the
 * latency model that decides each command's completion time on the
 * virtual clock, task attributes, task management and reset.
 *
 * Timing contract. scsi_req_submit() never completes a request inside the
 * call: the completion is an event at submit time + the target's latency
 * (service time + bytes / bandwidth; defaults 10 us and 4 GB/s). When the
 * event fires, the target finishes its host I/O (waiting for it if the host
 * is late) and the bus calls SCSIBusOps.complete(). Host timing therefore
 * never changes the order or time of completions. A request with the
 * ORDERED task attribute completes no earlier than every request submitted
 * before it to the same LUN, and no later request completes before it.
 *
 * Outcome contract (fields of SCSIRequest valid in complete()):
 *  - host_status SCSI_HOST_OK: the target ran the command; status and
 *    sense (autosense, CHECK CONDITION only) say how it went.
 *  - SCSI_HOST_NO_TARGET: nothing answers at that target id.
 *  - SCSI_HOST_ABORTED: ended by scsi_req_cancel() or an ABORT TASK, ABORT
 *    TASK SET or CLEAR TASK SET function; status TASK ABORTED.
 *  - SCSI_HOST_RESET: ended by a LUN, target or bus reset; status TASK
 *    ABORTED. Writes of an aborted or reset command may or may not have
 *    reached the medium, as SAM allows, but the host I/O is always over
 *    when complete() runs, so guest buffers are free again.
 *  - SCSI_HOST_DMA_ERROR: an SG element the transfer needed lies outside
 *    guest RAM (or a DMA fault was injected); no data moved.
 *  - transferred: bytes moved between target and guest RAM; residual:
 *    SG bytes not used (the SG length minus transferred; an under-run,
 *    e.g. allocation length or data shorter than the buffer); overrun:
 *    bytes the target had to move beyond the SG (the buffer was smaller
 *    than the transfer). Data-in beyond the SG is dropped and the command
 *    still succeeds; a data-out command whose SG is shorter than what it
 *    needs is not executed and ends with CHECK CONDITION, ABORTED COMMAND,
 *    4B/00 DATA PHASE ERROR, overrun = the shortfall.
 *  The SG is used only in the direction the HBA gave: a data-in command
 *  with dir != SCSI_XFER_FROM_DEV moves nothing (all of it is overrun).
 */
#ifndef HW_SCSI_SCSI_BUS_H
#define HW_SCSI_SCSI_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "hw/block/dma-sg.h"
#include "hw/scsi/scsi-defs.h"
#include "system/event.h"

typedef struct SCSIBus SCSIBus;
typedef struct SCSIDevice SCSIDevice;
typedef struct SCSIRequest SCSIRequest;

#define SCSI_CDB_MAX    32
#define SCSI_MAX_TARGET 255
#define SCSI_MAX_LUN    16383      /* flat space addressing (SAM-5 4.7.7) */
#define SCSI_UA_MAX     8          /* unit attentions queued per I_T nexus */
#define SCSI_UA_PENDING UINT64_MAX /* ua_clear: not known to be empty */

/* SG elements a request holds without an allocation. */
#define SCSI_SG_INLINE 4

#define SCSI_DEFAULT_SERVICE_NS    (10 * NS_PER_US)
#define SCSI_DEFAULT_BYTES_PER_SEC 4000000000ULL

typedef enum SCSIXferDir {
    SCSI_XFER_NONE,
    SCSI_XFER_FROM_DEV, /* data-in: target to guest memory */
    SCSI_XFER_TO_DEV,   /* data-out: guest memory to target */
} SCSIXferDir;

typedef enum SCSITaskAttr {
    SCSI_TASK_SIMPLE,
    SCSI_TASK_ORDERED,
    SCSI_TASK_HEAD_OF_QUEUE, /* run as SIMPLE */
    SCSI_TASK_ACA,           /* run as SIMPLE (NACA is not supported) */
} SCSITaskAttr;

typedef enum SCSIHostStatus {
    SCSI_HOST_OK,
    SCSI_HOST_NO_TARGET,
    SCSI_HOST_ABORTED,
    SCSI_HOST_RESET,
    SCSI_HOST_DMA_ERROR,
} SCSIHostStatus;

/* A command as the HBA hands it over; everything is copied. */
typedef struct SCSICommand {
    uint32_t target;
    uint32_t lun;
    uint64_t tag;       /* the HBA's; the trace correlator */
    uint32_t initiator; /* initiator port: the I_T nexus for UAs */
    SCSITaskAttr attr;
    const uint8_t *cdb;
    unsigned cdb_len; /* bytes valid in @cdb (<= SCSI_CDB_MAX) */
    SCSIXferDir dir;
    const DmaSgEntry *sg;
    unsigned nsg;
} SCSICommand;

/*
 * Requests in flight on one logical unit (or on the bus without one), in
 * submission order, linked through the requests themselves.
 */
typedef struct SCSIReqList {
    SCSIRequest *head, *tail;
    unsigned len;
} SCSIReqList;

/*
 * Requests are recycled: scsi_req_free() keeps them for later submissions,
 * so in the steady state a command costs no allocation. An HBA may also
 * keep a request inside its own per-command state (scsi_req_submit_in()).
 * A recycled request is not cleared: req_init() in scsi-bus.c sets each
 * field above sg_inline but sense[] and done_ev (set up once, when the
 * storage is), in_run (false whenever a request is not on a run;
 * run_next counts only on one), list, prev and next (set when it is put
 * on a list, read only there), residual (computed by every completion)
 * and data_in (NULL on a request not in flight; data_in_len counts only
 * with it), so a new field needs a line there (in req_init_state() unless
 * it is part of the command).
 */
struct SCSIRequest {
    /* The command (read-only for everyone after submit). */
    SCSIBus *bus;
    SCSIDevice *dev; /* NULL: no logical unit at the address */
    uint32_t target, lun, initiator;
    uint64_t tag;
    SCSITaskAttr attr;
    uint8_t cdb[SCSI_CDB_MAX];
    unsigned cdb_len;
    SCSIXferDir dir;
    const DmaSgEntry *sg; /* sg_inline, sg_heap or the HBA's (prepared) */
    unsigned nsg;
    uint64_t sg_len;
    void *hba_private;

    /* The outcome, valid in SCSIBusOps.complete(). */
    SCSIHostStatus host_status;
    uint8_t status;
    uint8_t sense[SCSI_SENSE_MAX];
    unsigned sense_len;
    uint64_t transferred;
    uint64_t residual;
    uint64_t overrun;

    /* Bus and target state. */
    Event done_ev;
    uint64_t due;     /* completion time */
    uint8_t *data_in; /* buffered data-in, copied at completion */
    uint64_t data_in_len;
    void *dev_private; /* the target's per-request state */
    bool in_flight;
    /* Completion on the bus's run of completions due at one time (its
     * done_ev, see scsi_req_schedule) instead of done_ev. */
    bool in_run;
    /* The list it is on while in flight (its device's requests or the
     * bus's orphans): its completion takes it off without the choice. */
    SCSIReqList *list;
    SCSIRequest *prev, *next; /* in its SCSIReqList, or the pool (next) */
    SCSIRequest *run_next;    /* in the run, if in_run */

    /* Storage for the SG list, kept with the request when it is reused. */
    DmaSgEntry sg_inline[SCSI_SG_INLINE];
    DmaSgEntry *sg_heap;
    unsigned sg_cap;
    bool hba_owned; /* scsi_req_storage_init()'s, never pooled */
};

typedef struct SCSIBusOps {
    /*
     * @req is over (see the outcome contract above). Called from the event
     * loop at the request's completion time, or from inside
     * scsi_req_cancel(), scsi_bus_tmf() and scsi_bus_reset() for the
     * requests they end. After it returns the bus never touches @req
     * again; the HBA frees it with scsi_req_free(), in the callback or
     * later.
     */
    void (*complete)(SCSIRequest *req, void *opaque);
} SCSIBusOps;

/* ---- HBA side --------------------------------------------------------- */

/* A bus named @name (the HBA's id, for -device scsi-hd,bus=NAME). */
SCSIBus *scsi_bus_new(const char *name, const SCSIBusOps *ops, void *opaque,
                      GError **errp);
/* Reset the bus (ending requests with SCSI_HOST_RESET), destroy the
 * devices on it and forget it. */
void scsi_bus_free(SCSIBus *bus);
/*
 * The bus called @name, accepting "ID" and "ID.0" for a bus called ID;
 * with @name NULL the first bus created. NULL when there is none.
 */
SCSIBus *scsi_bus_find(const char *name);
const char *scsi_bus_name(const SCSIBus *bus);

SCSIRequest *scsi_req_submit(SCSIBus *bus, const SCSICommand *cmd,
                             void *hba_private);
/*
 * The same with a request the HBA keeps in its own per-command state (as
 * QEMU sizes a SCSIRequest with the HBA's part): one object per command
 * instead of two, no pool round trip, and the outcome is read where the
 * bus left it. The storage is set up once with scsi_req_storage_init(),
 * carries one command at a time (submit again only after complete() ran
 * for the last one), is never passed to scsi_req_free(), and is released
 * with scsi_req_storage_fini() when no command is in flight on it.
 */
void scsi_req_storage_init(SCSIRequest *req);
void scsi_req_submit_in(SCSIBus *bus, SCSIRequest *req, const SCSICommand *cmd,
                        void *hba_private);
void scsi_req_storage_fini(SCSIRequest *req);
/*
 * Or such a request built in place, with nothing to copy: the HBA sets
 * target, lun, initiator, tag, attr and dir, the CDB with
 * scsi_req_set_cdb() and the SG list with scsi_req_set_sg_ref(), then
 * submits it with scsi_req_submit_prepared(), which sets up the rest and
 * runs the same checks in the same order as scsi_req_submit_in().
 */
void scsi_req_submit_prepared(SCSIBus *bus, SCSIRequest *req,
                              void *hba_private);

/* The CDB into @req, the bytes after it zero: the usual sizes as fixed
 * copies the compiler inlines. */
static inline __attribute__((always_inline)) void
scsi_req_set_cdb(SCSIRequest *req, const uint8_t *cdb, unsigned len)
{
    if (len >= SCSI_CDB_MAX) {
        /* virtio-scsi always passes its whole CDB field; the bytes past
         * SCSI_CDB_MAX are cut in the same test. */
        req->cdb_len = SCSI_CDB_MAX;
        memcpy(req->cdb, cdb, SCSI_CDB_MAX);
        return;
    }
    req->cdb_len = len;
    memset(req->cdb, 0, sizeof(req->cdb));
    switch (len) {
    case 16:
        memcpy(req->cdb, cdb, 16);
        break;
    case 10:
        memcpy(req->cdb, cdb, 10);
        break;
    case 6:
        memcpy(req->cdb, cdb, 6);
        break;
    case 0:
        break;
    default:
        memcpy(req->cdb, cdb, len);
        break;
    }
}

/*
 * The SG list of a prepared request, used where it is instead of copied:
 * @sg must stay as it is until complete() ran. @len is the sum of the
 * elements' lengths, which the HBA has at hand (a virtqueue element's part
 * length), so the bus need not add them up again.
 */
static inline void scsi_req_set_sg_ref(SCSIRequest *req, const DmaSgEntry *sg,
                                       unsigned nsg, uint64_t len)
{
    req->sg = sg;
    req->nsg = nsg;
    req->sg_len = len;
}
/* Abort one request (ABORT TASK): complete() runs before this returns.
 * False if it was not in flight. */
bool scsi_req_cancel(SCSIRequest *req);
void scsi_req_free(SCSIRequest *req);
/* Fault injection (system/fault.h): finish a request whose completion the
 * fault layer held back (an added latency, a reordering). */
void scsi_req_release(SCSIRequest *req);

typedef enum SCSITmf {
    SCSI_TMF_ABORT_TASK,     /* the request with @tag from @initiator */
    SCSI_TMF_ABORT_TASK_SET, /* every request from @initiator */
    SCSI_TMF_CLEAR_TASK_SET, /* every request on the LUN */
    SCSI_TMF_LUN_RESET,
    SCSI_TMF_TARGET_RESET, /* every LUN of the target */
    SCSI_TMF_QUERY_TASK,   /* is @tag from @initiator in flight? */
} SCSITmf;

typedef enum SCSITmfResponse {
    SCSI_TMF_RESP_COMPLETE,      /* FUNCTION COMPLETE */
    SCSI_TMF_RESP_SUCCEEDED,     /* FUNCTION SUCCEEDED (query: found) */
    SCSI_TMF_RESP_REJECTED,      /* FUNCTION REJECTED */
    SCSI_TMF_RESP_INCORRECT_LUN, /* no such logical unit / target */
} SCSITmfResponse;

/*
 * Task management (SAM-5 7). The requests it ends complete (aborts with
 * SCSI_HOST_ABORTED, resets with SCSI_HOST_RESET) in submission order
 * before it returns. A reset also restores the logical units' reset state
 * and establishes a 29/00 unit attention for every initiator.
 */
SCSITmfResponse scsi_bus_tmf(SCSIBus *bus, SCSITmf tmf, uint32_t target,
                             uint32_t lun, uint64_t tag, uint32_t initiator);
/* Hard reset of every target on the bus (the HBA's own reset). */
void scsi_bus_reset(SCSIBus *bus);
/* Requests in flight on the bus. */
unsigned scsi_bus_in_flight(const SCSIBus *bus);
/*
 * Batch host I/O: between plug and unplug (e.g. around the processing of
 * one doorbell's worth of ring entries) the backends queue their host
 * submissions and hand them to the kernel together at the last unplug.
 * Nests; affects host timing only.
 */
void scsi_bus_plug(SCSIBus *bus);
void scsi_bus_unplug(SCSIBus *bus);

/* ---- target side ------------------------------------------------------ */

typedef struct SCSIDeviceOps {
    const char *type;
    /* Start @req (addressing and unit attention already handled). The
     * target sets up its work and calls scsi_req_schedule() exactly once. */
    void (*submit)(SCSIDevice *dev, SCSIRequest *req);
    /*
     * Or, instead of submit: set up the work and return the bytes the
     * command moves; the bus schedules its completion as
     * scsi_req_schedule(req, bytes) would, in the same call as the rest
     * of the command's start (the target must not call it itself).
     */
    uint64_t (*start)(SCSIDevice *dev, SCSIRequest *req);
    /* The completion time of @req came: wait for its host I/O and set
     * status, sense, data and transfer counts. */
    void (*finish)(SCSIDevice *dev, SCSIRequest *req);
    /* Abort or reset: finish the host work of @req now and release what
     * the target holds for it; the outcome is set by the bus. */
    void (*cancel)(SCSIDevice *dev, SCSIRequest *req);
    /* LUN reset or power on, after every request was ended: back to the
     * reset state (mode parameters, started, and so on). */
    void (*reset)(SCSIDevice *dev);
    /* Free the device (it is detached already). */
    void (*destroy)(SCSIDevice *dev);
} SCSIDeviceOps;

struct SCSIDevice {
    const SCSIDeviceOps *ops;
    SCSIBus *bus;
    uint32_t target, lun;
    SCSIReqList requests; /* in flight, submission order */
    GHashTable *nexus;    /* initiator -> UA queue (GArray) */
    GArray *ua_new;       /* UAs for initiators not yet seen */
    /* The UA queue of the initiator seen last (a lookup saved per
     * command); NULL when not known. */
    GArray *ua_last;
    uint32_t ua_last_initiator;
    /* ua_last_initiator while its queue (ua_last) is empty, else
     * SCSI_UA_PENDING, which no initiator matches: the usual command's
     * "no unit attention to report" is one compare. Kept by every writer
     * of the queues or of ua_last (ua_note()). */
    uint64_t ua_clear;
    bool desc_sense;     /* D_SENSE: descriptor-format sense */
    uint64_t service_ns; /* latency model */
    uint64_t bytes_per_sec;
    /* The model's service + transfer time (saturating) for a command of
     * @cost_bytes, the size the commands before came with: a lookup
     * instead of a division per command. Set with the model. */
    uint64_t cost_bytes, cost;
    uint64_t barrier;  /* completion of the last ORDERED request */
    uint64_t last_due; /* latest completion scheduled */
};

/*
 * Attach @dev (embedded in the target's state, with @ops set) at (target,
 * lun). Establishes the power-on unit attention for every initiator.
 * Fails if the address is taken or out of range.
 */
bool scsi_device_attach(SCSIBus *bus, SCSIDevice *dev, const SCSIDeviceOps *ops,
                        uint32_t target, uint32_t lun, GError **errp);
/* End the device's requests (SCSI_HOST_RESET) and detach it. */
void scsi_device_detach(SCSIDevice *dev);
SCSIDevice *scsi_device_find(SCSIBus *bus, uint32_t target, uint32_t lun);

/* Latency model: @service_ns per command plus bytes / @bytes_per_sec
 * (0: no per-byte cost). */
void scsi_device_set_latency(SCSIDevice *dev, uint64_t service_ns,
                             uint64_t bytes_per_sec);

/*
 * Queue unit attention @s for every I_T nexus, except @initiator's when
 * @except_initiator (SPC-5 7.5: a MODE SELECT's own initiator does not
 * get 2A/01). A reset-class condition (ASC 29h) replaces what is queued.
 */
void scsi_device_queue_ua(SCSIDevice *dev, SCSISense s, bool except_initiator,
                          uint32_t initiator);
/* Take the oldest unit attention queued for @initiator (REQUEST SENSE). */
bool scsi_device_take_ua(SCSIDevice *dev, uint32_t initiator, SCSISense *s);
/* LUN reset: end requests (SCSI_HOST_RESET), reset state, queue 29/00. */
void scsi_device_reset(SCSIDevice *dev);

/* Helpers for targets building the outcome of @req. */
void scsi_req_set_sense(SCSIRequest *req, const SCSISenseInfo *si);
void scsi_req_check_condition(SCSIRequest *req, SCSISense s);
/* 05/24/00 (CDB) or 05/26/00 (parameter list) with a field pointer at
 * @byte, @bit (-1: whole byte). */
void scsi_req_invalid_field(SCSIRequest *req, unsigned byte, int bit);
void scsi_req_invalid_param(SCSIRequest *req, unsigned byte, int bit);
/*
 * Check the CDB against @usage (SPC-5 6.35.3 CDB USAGE DATA: the bits a
 * command may set), @len bytes long: a CDB shorter than @len, any reserved
 * bit set, or NACA/LINK in the control byte fails @req with 05/24/00
 * pointing at the first offending bit. True if the CDB is clean.
 */
bool scsi_req_check_cdb(SCSIRequest *req, const uint8_t *usage, unsigned len);
/* Hand buffered data-in (g_malloc'd, taken over) to the bus, which copies
 * it to the SG at completion time. */
void scsi_req_set_data_in(SCSIRequest *req, uint8_t *buf, uint64_t len);
/*
 * Check that the data-out SG holds @needed bytes; else fail @req with the
 * data phase error (see the outcome contract) and return false.
 */
bool scsi_req_data_out_ok(SCSIRequest *req, uint64_t needed);
/* Copy the first @len bytes of data-out to @buf (dma_read); false and
 * SCSI_HOST_DMA_ERROR set when the SG leaves guest RAM. */
bool scsi_req_read_data_out(SCSIRequest *req, void *buf, uint64_t len);
/* Fail @req with SCSI_HOST_DMA_ERROR. */
void scsi_req_dma_error(SCSIRequest *req, uint64_t gpa);
/*
 * Schedule the completion of @req by the latency model, @bytes being the
 * data the command moves (to or from the medium). Called once per request
 * by the target, normally from submit().
 */
void scsi_req_schedule(SCSIRequest *req, uint64_t bytes);

/* REPORT LUNS (SPC-5 6.33) for the target @req addresses. */
void scsi_bus_report_luns(SCSIRequest *req);

#endif
