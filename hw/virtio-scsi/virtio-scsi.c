/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi-pci, the SCSI host device (OASIS virtio 1.2/1.3, 5.6): the
 * request queues mapped onto the SCSI bus, the control queue (task
 * management, asynchronous notification) and the event queue, over the
 * modern PCI transport of virtio-pci.c. See virtio-scsi.h and
 * docs/virtio-scsi.md.
 *
 * Life of a command: the driver's doorbell schedules the queue's work
 * event; the work takes every available chain (one batch per event),
 * reads the request header wherever the descriptors put it (any layout,
 * 2.7.4), builds a scatter-gather list that points at the guest's data
 * buffers past the header / response (no data is copied) and submits it
 * to the bus. The bus completes it on the virtual clock; after the
 * device's own latency the response is written, then the used element,
 * and the queue's interrupt event decides whether the driver wants a
 * notification.
 */
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include "hw/core/memory.h"
#include "hw/virtio-scsi/virtio-pci.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "hw/virtio-scsi/virtio-scsi.h"
#include "system/error.h"
#include "system/machine.h"
#include "system/trace.h"

/* A LUN this device cannot address: the bus answers LOGICAL UNIT NOT
 * SUPPORTED for it (or selection timeout without a target). */
#define VSCSI_LUN_INVALID UINT32_MAX
#define VSCSI_EVENTS_MAX  16
#define VSCSI_RESP_HDR    ((uint32_t)sizeof(VirtioScsiCmdRespHdr))
#define VSCSI_REQ_HDR     ((uint32_t)sizeof(VirtioScsiCmdReqHdr))

typedef struct VScsiReq VScsiReq;

/* 16 bytes anywhere in guest memory, for the fixed-size zero fill of
 * vscsi_cmd_finish_inline(). */
typedef uint64_t VScsiVec16
    __attribute__((vector_size(16), aligned(1), may_alias));

/*
 * One command between its pop and its push, with the bus request it
 * becomes (one object for both; the outcome is read in place). Pooled
 * per device.
 */
struct VScsiReq {
    VirtioScsiState *s;
    VScsiReq *next_free;
    /* In flight (between submission and response); @seq orders it among
     * the others. */
    bool linked;
    uint64_t seq;
    bool dropped; /* reset: end without touching guest memory */
    unsigned q;
    VirtQueue *vq; /* queue @q's */
    VirtQueueElement elem;
    SCSIRequest sr;    /* the command on the bus, and its outcome */
    SCSIRequest *sreq; /* &sr while the bus has it */
    DmaSgEntry *data;  /* the data part of the chain, zero-copy */
    unsigned data_cap;
    /* In the device's latency stage after the bus completed: on the
     * device's held list, due at held_due. */
    bool held;
    VScsiReq *held_next;
    uint64_t held_due;
    uint32_t resp_len; /* response bytes, fixed at submission */

    /*
     * The command's tag, address, CDB and direction are read from @sr,
     * where the header is parsed to (the bus never rewrites them), not
     * kept twice. Outcome: the response here, the rest in @sr (status,
     * sense_len, sense, transferred, residual), which vscsi_cmd_fail()
     * and task management set themselves for commands the bus did not end.
     */
    uint8_t response;
};

typedef struct VScsiEvent {
    uint32_t event;
    uint32_t target, lun;
    uint32_t reason;
} VScsiEvent;

struct VirtioScsiState {
    VirtioPCI vp; /* first */
    char *id;
    SCSIBus *bus;
    unsigned num_queues; /* request queues */
    uint16_t queue_size;
    uint64_t latency_ns;
    /*
     * Commands in the latency stage, in the order they entered it: with
     * one latency for all, that is the order they are due in, so one
     * event at the head's time serves them all (commands of a batch
     * complete at the same instant: one event, not one each).
     */
    VScsiReq *held_head, *held_tail;
    Event held_ev;

    uint32_t sense_size; /* device configuration, RW */
    uint32_t cdb_size;
    /* What every command's checks derive from them, kept with them
     * (vscsi_sizes_set()) instead of computed per command. */
    uint64_t req_hdr_len; /* VSCSI_REQ_HDR + cdb_size */
    uint32_t resp_len;    /* VSCSI_RESP_HDR + sense_size */
    unsigned cdb_len;     /* CDB bytes the bus gets */

    /*
     * The commands in flight are the linked ones of all_reqs, in @seq
     * order: no list is kept up to date on every command's path for the
     * queue resets and task management functions that need them in order
     * (vscsi_inflight()).
     */
    unsigned in_flight;
    VScsiReq *free_reqs;
    GPtrArray *all_reqs; /* every VScsiReq */

    VirtQueueElement ctrl_elem;
    VirtQueueElement event_elem;
    VScsiEvent events[VSCSI_EVENTS_MAX];
    unsigned nevents;
    bool events_missed;

    uint8_t *resp_buf; /* VSCSI_RESP_HDR + VSCSI_SENSE_SIZE_MAX */
    uint64_t commands;
    bool hung; /* injected hang (virtio_scsi_fail), until a reset */
};

static GPtrArray *vscsi_devices;

static const PCIDeviceInfo vscsi_pci_info = {
    .vendor_id = VIRTIO_PCI_VENDOR_ID,
    .device_id = VIRTIO_PCI_DEVICE_ID_SCSI,
    .revision = VIRTIO_PCI_REVISION,
    .class_code = VIRTIO_SCSI_PCI_CLASS,
    .subsys_vendor_id = VIRTIO_PCI_SUBSYS_VENDOR_ID,
    .subsys_id = VIRTIO_PCI_SUBSYS_ID,
    .intx_pin = 1,
};

static const uint64_t vscsi_features =
    VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_ANY_LAYOUT) |
    VIRTIO_FEATURE(VIRTIO_F_INDIRECT_DESC) |
    VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX) |
    VIRTIO_FEATURE(VIRTIO_F_ACCESS_PLATFORM) |
    VIRTIO_FEATURE(VIRTIO_F_RING_RESET) |
    VIRTIO_FEATURE(VIRTIO_SCSI_F_HOTPLUG) |
    VIRTIO_FEATURE(VIRTIO_SCSI_F_CHANGE);

static inline VirtioScsiState *vscsi_of(VirtioPCI *vp)
{
    return vp->opaque;
}

static void vscsi_sizes_set(VirtioScsiState *s, uint32_t sense_size,
                            uint32_t cdb_size)
{
    s->sense_size = sense_size;
    s->cdb_size = cdb_size;
    s->req_hdr_len = VSCSI_REQ_HDR + (uint64_t)cdb_size;
    s->resp_len = VSCSI_RESP_HDR + sense_size;
    s->cdb_len = MIN(cdb_size, (uint32_t)SCSI_CDB_MAX);
}

/* ---- request pool -------------------------------------------------------- */

static VScsiReq *vscsi_req_get(VirtioScsiState *s)
{
    VScsiReq *req = s->free_reqs;

    if (req) {
        s->free_reqs = req->next_free;
    } else {
        /* Grows to at most the sum of the queue sizes, then stays. */
        req = g_new0(VScsiReq, 1);
        req->s = s;
        scsi_req_storage_init(&req->sr);
        g_ptr_array_add(s->all_reqs, req);
    }
    /* vscsi_req_put() took it unlinked, off the bus and not held. */
    req->dropped = false;
    return req;
}

static void vscsi_req_put(VirtioScsiState *s, VScsiReq *req)
{
    g_assert(!req->linked && !req->sreq && !req->held);
    req->next_free = s->free_reqs;
    s->free_reqs = req;
}

static void vscsi_req_link(VirtioScsiState *s, VScsiReq *req)
{
    req->linked = true;
    req->seq = s->commands;
    s->in_flight++;
}

static inline void vscsi_req_unlink(VirtioScsiState *s, VScsiReq *req)
{
    if (req->linked) {
        req->linked = false;
        s->in_flight--;
    }
}

static gint vscsi_req_cmp(gconstpointer a, gconstpointer b)
{
    const VScsiReq *x = *(VScsiReq *const *)a, *y = *(VScsiReq *const *)b;

    if (x->q != y->q) {
        return x->q < y->q ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The commands in flight on queue @q (every queue with @q UINT_MAX), by
 * queue, then oldest first: a walk of every request, for the rare
 * functions that need them.
 */
static GPtrArray *vscsi_inflight(VirtioScsiState *s, unsigned q)
{
    GPtrArray *a = g_ptr_array_new();

    for (guint i = 0; i < s->all_reqs->len; i++) {
        VScsiReq *req = g_ptr_array_index(s->all_reqs, i);

        if (req->linked && (q == UINT_MAX || req->q == q)) {
            g_ptr_array_add(a, req);
        }
    }
    g_ptr_array_sort(a, vscsi_req_cmp);
    return a;
}

/* ---- addressing (5.6.6.1) ------------------------------------------------ */

/*
 * {1, target, LUN (2 bytes), 0, 0, 0, 0}. False when byte 0 is not 1 (no
 * target can be addressed); *@lun is VSCSI_LUN_INVALID for a LUN field
 * this device does not support (address methods other than peripheral
 * bus 0 and flat space, or nonzero bytes 4..7).
 */
static inline __attribute__((always_inline)) bool
vscsi_parse_lun(const uint8_t *l, uint32_t *target, uint32_t *lun)
{
    if (l[0] != VIRTIO_SCSI_LUN_FIRST) {
        return false;
    }
    *target = l[1];
    if (pci_get_long(l + 4)) {
        *lun = VSCSI_LUN_INVALID;
    } else if ((l[2] & 0xc0) == VIRTIO_SCSI_LUN_FLAT) {
        *lun = (uint32_t)(l[2] & 0x3f) << 8 | l[3];
    } else if (l[2] == 0) {
        *lun = l[3]; /* peripheral device addressing, bus 0 */
    } else {
        *lun = VSCSI_LUN_INVALID;
    }
    return true;
}

static void vscsi_put_lun(uint8_t *l, uint32_t target, uint32_t lun)
{
    memset(l, 0, 8);
    l[0] = VIRTIO_SCSI_LUN_FIRST;
    l[1] = (uint8_t)target;
    l[2] = (uint8_t)(VIRTIO_SCSI_LUN_FLAT | ((lun >> 8) & 0x3f));
    l[3] = (uint8_t)lun;
}

/*
 * Whether a target answers at @target. The bus does not expose its
 * target table, so a target counts as present when it has the addressed
 * LUN or LUN 0 (SAM-5 4.6.4: every target has a LUN 0).
 */
static bool vscsi_target_present(VirtioScsiState *s, uint32_t target,
                                 uint32_t lun)
{
    return (lun != VSCSI_LUN_INVALID &&
            scsi_device_find(s->bus, target, lun)) ||
           scsi_device_find(s->bus, target, 0);
}

/* ---- events (5.6.6.3) ---------------------------------------------------- */

static void vscsi_post_event(VirtioScsiState *s, uint32_t event,
                             uint32_t target, uint32_t lun, uint32_t reason)
{
    if (!virtio_pci_running(&s->vp)) {
        /* A driver that is not running scans the bus when it starts. */
        return;
    }
    TRACE(vscsi_event_post, "%s event %u %u:%u reason 0x%x", s->id, event,
          target, lun, reason);
    if (s->nevents == VSCSI_EVENTS_MAX) {
        s->events_missed = true;
    } else {
        s->events[s->nevents++] = (VScsiEvent){event, target, lun, reason};
    }
    virtio_pci_schedule_queue(&s->vp, VIRTIO_SCSI_VQ_EVENT, 0);
}

void virtio_scsi_hotplug(VirtioScsiState *s, uint32_t target, uint32_t lun,
                         bool added)
{
    /* 5.6.6.3.2: RESCAN and REMOVED need VIRTIO_SCSI_F_HOTPLUG. */
    if (virtio_pci_has_feature(&s->vp, VIRTIO_SCSI_F_HOTPLUG)) {
        vscsi_post_event(s, VIRTIO_SCSI_T_TRANSPORT_RESET, target, lun,
                         added ? VIRTIO_SCSI_EVT_RESET_RESCAN
                               : VIRTIO_SCSI_EVT_RESET_REMOVED);
    }
}

void virtio_scsi_param_change(VirtioScsiState *s, uint32_t target, uint32_t lun,
                              uint8_t asc, uint8_t ascq)
{
    if (virtio_pci_has_feature(&s->vp, VIRTIO_SCSI_F_CHANGE)) {
        vscsi_post_event(s, VIRTIO_SCSI_T_PARAM_CHANGE, target, lun,
                         VIRTIO_SCSI_PARAM_REASON(asc, ascq));
    }
}

/*
 * Deliver pending events into the driver's buffers. The device keeps no
 * backlog (5.6.6.3): events that find the queue empty are dropped and the
 * next delivered event carries EVENTS_MISSED (or a NO_EVENT carries it as
 * soon as a buffer arrives).
 */
static void vscsi_event_work(VirtioScsiState *s)
{
    VirtQueue *vq = virtio_pci_queue(&s->vp, VIRTIO_SCSI_VQ_EVENT);
    VirtQueueElement *e = &s->event_elem;

    while (s->nevents || s->events_missed) {
        uint8_t buf[sizeof(VirtioScsiEvent)];
        uint32_t event = VIRTIO_SCSI_T_NO_EVENT;
        uint32_t reason = 0;
        VqPopResult r = vq_pop(vq, e);

        if (r == VQ_POP_EMPTY) {
            if (s->nevents) {
                TRACE(vscsi_event_missed, "%s %u events lost", s->id,
                      s->nevents);
                s->events_missed = true;
                s->nevents = 0;
            }
            return;
        }
        if (r != VQ_POP_OK) {
            return;
        }
        if (e->out_len || e->in_len < sizeof(VirtioScsiEvent)) {
            /* 5.6.6.3.1: device-writable, at least one event long. */
            virtio_pci_guest_error(&s->vp,
                                   "event buffer at head %u: %" PRIu64
                                   " readable and %" PRIu64 " writable "
                                   "bytes",
                                   e->head, e->out_len, e->in_len);
            virtio_pci_set_needs_reset(&s->vp);
            return;
        }
        memset(buf, 0, sizeof(buf));
        if (s->nevents) {
            VScsiEvent *ev = &s->events[0];

            event = ev->event;
            reason = ev->reason;
            vscsi_put_lun(buf + offsetof(VirtioScsiEvent, lun), ev->target,
                          ev->lun);
            memmove(s->events, s->events + 1,
                    (s->nevents - 1) * sizeof(s->events[0]));
            s->nevents--;
        }
        if (s->events_missed) {
            event |= VIRTIO_SCSI_T_EVENTS_MISSED;
            s->events_missed = false;
        }
        pci_set_long(buf + offsetof(VirtioScsiEvent, event), event);
        pci_set_long(buf + offsetof(VirtioScsiEvent, reason), reason);
        TRACE(vscsi_event, "%s head %u event 0x%x reason 0x%x", s->id, e->head,
              event, reason);
        if (!vq_elem_write(vq, e, 0, buf, sizeof(buf)) ||
            !vq_push(vq, e->head, sizeof(buf))) {
            return;
        }
        virtio_pci_queue_used(&s->vp, vq);
    }
}

/* ---- request queues (5.6.6.1) -------------------------------------------- */

/* Write the response, return the chain, drop the request. Inline into
 * vscsi_held_ev(), where every command with the device's latency ends;
 * vscsi_cmd_finish() for the others. */
static inline __attribute__((always_inline)) void
vscsi_cmd_finish_inline(VScsiReq *req, bool bus_master)
{
    VirtioScsiState *s = req->s;
    VirtQueue *vq = req->vq;
    const SCSIRequest *sr = &req->sr;
    uint8_t *r;
    bool in_place;
    bool ok;
    /* Most commands have no sense: a branch, not the two clamps. */
    unsigned sense = G_LIKELY(!sr->sense_len)
                         ? 0
                         : MIN(MIN(sr->sense_len, (unsigned)SCSI_SENSE_MAX),
                               req->resp_len - VSCSI_RESP_HDR);
    uint32_t residual = (uint32_t)MIN(sr->residual, UINT32_MAX);
    uint64_t used = req->resp_len;

    if (s->hung) {
        /* Injected hang: the command stays in flight until a reset. */
        return;
    }
    /* The whole response area is written (sense zero-padded), so the used
     * length below never claims bytes the device did not write. It is
     * built where the driver will read it when it can be (a copy less),
     * else in resp_buf, which past the header is kept zero between
     * responses (the sense copied in is cleared after the write), which
     * saves clearing it all each time. */
    r = vq_respond_map(vq, &req->elem, req->resp_len, bus_master);
    in_place = r != NULL;
    if (!in_place) {
        r = s->resp_buf;
    }
    pci_set_word(r + offsetof(VirtioScsiCmdRespHdr, status_qualifier), 0);
    pci_set_long(r + offsetof(VirtioScsiCmdRespHdr, sense_len), sense);
    pci_set_long(r + offsetof(VirtioScsiCmdRespHdr, residual), residual);
    r[offsetof(VirtioScsiCmdRespHdr, status)] = sr->status;
    r[offsetof(VirtioScsiCmdRespHdr, response)] = req->response;
    if (sense) { /* most commands have none: skip the library call */
        memcpy(r + VSCSI_RESP_HDR, sr->sense, sense);
    }
    if (in_place) {
        unsigned pad = req->resp_len - VSCSI_RESP_HDR - sense;

        if (pad == VIRTIO_SCSI_SENSE_SIZE_DEFAULT) {
            /* The usual case: six stores of one zeroed register. A fixed
             * memset, or a loop gcc turns into one, is a rep stos, and a
             * copy from static zeroes loads them too. */
            VScsiVec16 *z = (VScsiVec16 *)(r + VSCSI_RESP_HDR);

            G_STATIC_ASSERT(VIRTIO_SCSI_SENSE_SIZE_DEFAULT == 6 * 16);
            z[0] = (VScsiVec16){0};
            z[1] = (VScsiVec16){0};
            z[2] = (VScsiVec16){0};
            z[3] = (VScsiVec16){0};
            z[4] = (VScsiVec16){0};
            z[5] = (VScsiVec16){0};
        } else {
            memset(r + VSCSI_RESP_HDR + sense, 0, pad);
        }
    }
    if (sr->dir == SCSI_XFER_FROM_DEV) {
        used += sr->transferred;
    }
    TRACE(vscsi_cmd_end,
          "%s tag=0x%" PRIx64 " q%u response=%u status=0x%02x "
          "sense=%u resid=%u used=%" PRIu64,
          s->id, sr->tag, req->q, req->response, sr->status, sense, residual,
          used);
    vscsi_req_unlink(s, req);
    if (in_place) {
        ok = vq_respond_mapped(vq, &req->elem, req->resp_len,
                               (uint32_t)MIN(used, UINT32_MAX));
    } else {
        ok = vq_respond(vq, &req->elem, r, req->resp_len,
                        (uint32_t)MIN(used, UINT32_MAX));
    }
    if (ok) {
        virtio_pci_queue_used(&s->vp, vq);
    }
    if (sense && !in_place) {
        memset(r + VSCSI_RESP_HDR, 0, sense);
    }
    vscsi_req_put(s, req);
}

static void vscsi_cmd_finish(VScsiReq *req)
{
    vscsi_cmd_finish_inline(req, pci_bus_master_enabled(&req->s->vp.pci));
}

/* ---- the latency stage --------------------------------------------------- */

static void vscsi_hold(VirtioScsiState *s, VScsiReq *req)
{
    req->held = true;
    req->held_next = NULL;
    req->held_due = vclock_now() + s->latency_ns;
    if (s->held_tail) {
        s->held_tail->held_next = req;
    } else {
        s->held_head = req;
        event_schedule(&s->held_ev, req->held_due);
    }
    s->held_tail = req;
}

/* Take @req off the held list (a task management function or a reset
 * ends it early). */
static void vscsi_unhold(VirtioScsiState *s, VScsiReq *req)
{
    VScsiReq **pp = &s->held_head, *prev = NULL;

    while (*pp != req) {
        prev = *pp;
        pp = &(*pp)->held_next;
    }
    *pp = req->held_next;
    if (s->held_tail == req) {
        s->held_tail = prev;
    }
    req->held = false;
    if (!s->held_head) {
        event_cancel(&s->held_ev);
    } else if (s->held_head->held_due != s->held_ev.when) {
        event_schedule(&s->held_ev, s->held_head->held_due);
    }
}

static void vscsi_held_ev(void *opaque)
{
    VirtioScsiState *s = opaque;
    uint64_t now = vclock_now();
    /* Asked once for the batch: see vq_respond_map(). */
    bool bus_master = pci_bus_master_enabled(&s->vp.pci);

    while (s->held_head && s->held_head->held_due <= now) {
        VScsiReq *req = s->held_head;

        s->held_head = req->held_next;
        if (!s->held_head) {
            s->held_tail = NULL;
        }
        req->held = false;
        vscsi_cmd_finish_inline(req, bus_master);
    }
    if (s->held_head && !event_pending(&s->held_ev)) {
        event_schedule(&s->held_ev, s->held_head->held_due);
    }
}

/* Complete without the bus (malformed, unaddressable, bidirectional). */
static void vscsi_cmd_fail(VScsiReq *req, uint8_t response)
{
    req->response = response;
    req->sr.status = 0;
    req->sr.sense_len = 0;
    req->sr.residual = 0;
    req->sr.transferred = 0;
    req->sr.dir = SCSI_XFER_NONE;
    vscsi_cmd_finish(req);
}

static SCSITaskAttr vscsi_task_attr(uint8_t attr)
{
    switch (attr) {
    case VIRTIO_SCSI_S_ORDERED:
        return SCSI_TASK_ORDERED;
    case VIRTIO_SCSI_S_HEAD:
        return SCSI_TASK_HEAD_OF_QUEUE;
    case VIRTIO_SCSI_S_ACA:
        return SCSI_TASK_ACA;
    default:
        /* 5.6.6.1: any attribute may be treated as SIMPLE. */
        return SCSI_TASK_SIMPLE;
    }
}

/* @bus_master: see vq_pop_batch(). */
static void vscsi_handle_cmd(VirtioScsiState *s, VirtQueue *vq, VScsiReq *req,
                             bool bus_master)
{
    VirtQueueElement *e = &req->elem;
    uint8_t hdr_buf[sizeof(VirtioScsiCmdReqHdr) + SCSI_CDB_MAX];
    const uint8_t *hdr;
    uint64_t hdr_len = s->req_hdr_len;
    unsigned cdb_len = s->cdb_len;
    uint64_t out_data, in_data;
    SCSIRequest *sr = &req->sr;
    unsigned nsg;

    req->q = vq->index;
    req->vq = vq;
    req->resp_len = s->resp_len;
    sr->tag = 0; /* traced by a command failed before its header is read */
    s->commands++;

    if (e->in_len < VSCSI_RESP_HDR) {
        /* Nowhere to put a response: the chain cannot be completed. */
        virtio_pci_guest_error(&s->vp,
                               "request at head %u: %" PRIu64
                               " writable bytes cannot hold a response",
                               e->head, e->in_len);
        virtio_pci_set_needs_reset(&s->vp);
        vscsi_req_put(s, req);
        return;
    }
    if (e->in_len < req->resp_len || e->out_len < hdr_len) {
        virtio_pci_guest_error(&s->vp,
                               "request at head %u: %" PRIu64 "/%" PRIu64
                               " readable/writable bytes, the header "
                               "and response need %" PRIu64 "/%u",
                               e->head, e->out_len, e->in_len, hdr_len,
                               req->resp_len);
        req->resp_len = VSCSI_RESP_HDR;
        vscsi_cmd_fail(req, VIRTIO_SCSI_S_FAILURE);
        return;
    }
    /* Read in place when it can be: the CDB is copied into the request
     * below, and the rest is parsed before. */
    hdr = vq_elem_peek(vq, e, hdr_buf, VSCSI_REQ_HDR + cdb_len, bus_master);
    if (!hdr) {
        vscsi_req_put(s, req);
        return;
    }
    sr->tag = pci_get_quad(hdr + offsetof(VirtioScsiCmdReqHdr, id));
    if (!vscsi_parse_lun(hdr, &sr->target, &sr->lun)) {
        vscsi_cmd_fail(req, VIRTIO_SCSI_S_BAD_TARGET);
        return;
    }
    out_data = e->out_len - hdr_len;
    in_data = e->in_len - req->resp_len;
    if (out_data && in_data) {
        /* 5.6.6.1.1: bidirectional needs VIRTIO_SCSI_F_INOUT. */
        vscsi_cmd_fail(req, VIRTIO_SCSI_S_FAILURE);
        return;
    }
    /*
     * The command is built in the bus request itself. Its SG list is used
     * where it is, in the element (or req->data), which neither changes
     * until the response is written: the element's own segments when the
     * data starts a buffer, as it does with every usual layout. The part
     * lengths are the sums of the segments, so the data length is the
     * list's.
     */
    if (out_data) {
        const DmaSgEntry *sg = vq_elem_tail(e, false, hdr_len, &nsg);

        if (!sg) {
            nsg = vq_elem_slice(e, false, hdr_len, &req->data, &req->data_cap);
            sg = req->data;
        }
        sr->dir = SCSI_XFER_TO_DEV;
        scsi_req_set_sg_ref(sr, sg, nsg, out_data);
    } else if (in_data) {
        const DmaSgEntry *sg = vq_elem_tail(e, true, req->resp_len, &nsg);

        if (!sg) {
            nsg = vq_elem_slice(e, true, req->resp_len, &req->data,
                                &req->data_cap);
            sg = req->data;
        }
        sr->dir = SCSI_XFER_FROM_DEV;
        scsi_req_set_sg_ref(sr, sg, nsg, in_data);
    } else {
        sr->dir = SCSI_XFER_NONE;
        scsi_req_set_sg_ref(sr, sr->sg_inline, 0, 0); /* a copied empty list */
    }
    sr->initiator = 0;
    sr->attr = vscsi_task_attr(hdr[offsetof(VirtioScsiCmdReqHdr, task_attr)]);
    scsi_req_set_cdb(sr, hdr + VSCSI_REQ_HDR, cdb_len);

    vscsi_req_link(s, req);
    TRACE(vscsi_cmd_start,
          "%s tag=0x%" PRIx64 " q%u head=%u %u:%u "
          "op=0x%02x dir=%d data=%" PRIu64 "/%u",
          s->id, sr->tag, req->q, e->head, sr->target, sr->lun, sr->cdb[0],
          sr->dir, out_data + in_data, sr->nsg);
    req->sreq = sr;
    scsi_req_submit_prepared(s->bus, sr, req);
}

static uint8_t vscsi_host_response(const SCSIRequest *sreq)
{
    switch (sreq->host_status) {
    case SCSI_HOST_OK:
        /* The CDB needed more data than the buffers held (5.6.6.1.1). */
        return sreq->overrun ? VIRTIO_SCSI_S_OVERRUN : VIRTIO_SCSI_S_OK;
    case SCSI_HOST_NO_TARGET:
        return VIRTIO_SCSI_S_BAD_TARGET;
    case SCSI_HOST_ABORTED:
        return VIRTIO_SCSI_S_ABORTED;
    case SCSI_HOST_RESET:
        return VIRTIO_SCSI_S_RESET;
    case SCSI_HOST_DMA_ERROR:
        return VIRTIO_SCSI_S_FAILURE;
    }
    return VIRTIO_SCSI_S_FAILURE;
}

static void vscsi_bus_complete(SCSIRequest *sreq, void *opaque)
{
    VirtioScsiState *s = opaque;
    VScsiReq *req = sreq->hba_private;
    bool ended_by_tmf;

    req->sreq = NULL;
    if (req->dropped) {
        vscsi_req_put(s, req);
        return;
    }
    /* The rest of the outcome stays in sreq (req->sr), which the bus no
     * longer touches, until the response is written. */
    req->response = vscsi_host_response(sreq);
    ended_by_tmf = sreq->host_status == SCSI_HOST_ABORTED ||
                   sreq->host_status == SCSI_HOST_RESET;

    /* The opcode first: one test rules out nearly every command. */
    if ((sreq->cdb[0] == SCSI_OP_MODE_SELECT_6 ||
         sreq->cdb[0] == SCSI_OP_MODE_SELECT_10) &&
        req->response == VIRTIO_SCSI_S_OK && sreq->status == 0) {
        /* MODE PARAMETERS CHANGED (SPC-5 7.5): tell the driver too. */
        virtio_scsi_param_change(s, sreq->target, sreq->lun, 0x2a, 0x01);
    }
    /*
     * Commands ended by a task management function are returned at once,
     * so that they are used before the function's own response (5.6.6.2).
     */
    if (s->latency_ns && !ended_by_tmf) {
        vscsi_hold(s, req);
    } else {
        vscsi_cmd_finish(req);
    }
}

static const SCSIBusOps vscsi_bus_ops = {
    .complete = vscsi_bus_complete,
};

/* End queue @q's commands without touching guest memory. */
static void vscsi_drop_queue(VirtioScsiState *s, unsigned q)
{
    g_autoptr(GPtrArray) reqs = vscsi_inflight(s, q);

    for (guint i = 0; i < reqs->len; i++) {
        VScsiReq *req = g_ptr_array_index(reqs, i);

        if (!req->linked) {
            continue; /* not possible today: ended by an earlier one */
        }
        vscsi_req_unlink(s, req);
        req->dropped = true;
        TRACE(vscsi_cmd_drop, "%s tag=0x%" PRIx64 " q%u", s->id, req->sr.tag,
              q);
        if (req->sreq) {
            /* The completion callback frees it, before this returns. */
            scsi_req_cancel(req->sreq);
        } else {
            if (req->held) {
                vscsi_unhold(s, req);
            }
            vscsi_req_put(s, req);
        }
    }
}

/* ---- control queue (5.6.6.2) --------------------------------------------- */

static bool vscsi_task_in_flight(VirtioScsiState *s, uint32_t target,
                                 uint32_t lun, bool any, uint64_t tag)
{
    for (guint i = 0; i < s->all_reqs->len; i++) {
        VScsiReq *req = g_ptr_array_index(s->all_reqs, i);

        if (req->linked && req->sr.target == target && req->sr.lun == lun &&
            (any || req->sr.tag == tag)) {
            return true;
        }
    }
    return false;
}

/*
 * Commands the target has finished but the device still holds for its
 * latency belong to the task set too: an abort or reset ends them with
 * @response, before the function's own response is used (5.6.6.2), as it
 * ends the ones still on the bus. SAM allows their effects to have
 * happened already.
 */
static void vscsi_tmf_end_held(VirtioScsiState *s, uint32_t target,
                               uint32_t lun, bool whole_target, bool match_tag,
                               uint64_t tag, uint8_t response)
{
    g_autoptr(GPtrArray) reqs = vscsi_inflight(s, UINT_MAX);
    g_autoptr(GPtrArray) hit = g_ptr_array_new();

    for (guint i = 0; i < reqs->len; i++) {
        VScsiReq *req = g_ptr_array_index(reqs, i);

        if (req->sreq || !req->held || req->sr.target != target ||
            (!whole_target && req->sr.lun != lun) ||
            (match_tag && req->sr.tag != tag)) {
            continue;
        }
        g_ptr_array_add(hit, req);
    }
    for (guint i = 0; i < hit->len; i++) {
        VScsiReq *req = g_ptr_array_index(hit, i);
        vscsi_unhold(s, req);
        req->response = response;
        req->sr.status = 0;
        req->sr.sense_len = 0;
        vscsi_cmd_finish(req);
    }
}

static uint8_t vscsi_tmf(VirtioScsiState *s, uint32_t subtype,
                         const uint8_t *lunb, uint64_t tag)
{
    SCSITmfResponse r;
    uint32_t target, lun;

    if (!vscsi_parse_lun(lunb, &target, &lun) ||
        !vscsi_target_present(s, target, lun)) {
        return VIRTIO_SCSI_S_BAD_TARGET;
    }
    TRACE(vscsi_tmf, "%s subtype %u %u:%u tag=0x%" PRIx64, s->id, subtype,
          target, lun, tag);
    switch (subtype) {
    case VIRTIO_SCSI_T_TMF_ABORT_TASK:
        vscsi_tmf_end_held(s, target, lun, false, true, tag,
                           VIRTIO_SCSI_S_ABORTED);
        r = scsi_bus_tmf(s->bus, SCSI_TMF_ABORT_TASK, target, lun, tag, 0);
        break;
    case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
        vscsi_tmf_end_held(s, target, lun, false, false, 0,
                           VIRTIO_SCSI_S_ABORTED);
        r = scsi_bus_tmf(s->bus, SCSI_TMF_ABORT_TASK_SET, target, lun, 0, 0);
        break;
    case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
        vscsi_tmf_end_held(s, target, lun, false, false, 0,
                           VIRTIO_SCSI_S_ABORTED);
        r = scsi_bus_tmf(s->bus, SCSI_TMF_CLEAR_TASK_SET, target, lun, 0, 0);
        break;
    case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
        /* The only initiator is this HBA: its nexus with the target is
         * every LUN of the target (the LUN field is ignored). */
        vscsi_tmf_end_held(s, target, 0, true, false, 0, VIRTIO_SCSI_S_RESET);
        r = scsi_bus_tmf(s->bus, SCSI_TMF_TARGET_RESET, target, 0, 0, 0);
        break;
    case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
        vscsi_tmf_end_held(s, target, lun, false, false, 0,
                           VIRTIO_SCSI_S_RESET);
        r = scsi_bus_tmf(s->bus, SCSI_TMF_LUN_RESET, target, lun, 0, 0);
        break;
    case VIRTIO_SCSI_T_TMF_QUERY_TASK:
    case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
        /* Asked of the device, which still holds commands the target has
         * finished but the driver has not been given back. */
        if (lun == VSCSI_LUN_INVALID ||
            !scsi_device_find(s->bus, target, lun)) {
            return VIRTIO_SCSI_S_INCORRECT_LUN;
        }
        return vscsi_task_in_flight(s, target, lun,
                                    subtype == VIRTIO_SCSI_T_TMF_QUERY_TASK_SET,
                                    tag)
                   ? VIRTIO_SCSI_S_FUNCTION_SUCCEEDED
                   : VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    case VIRTIO_SCSI_T_TMF_CLEAR_ACA:
    default:
        /* NACA is not supported, so there is never an ACA to clear. */
        return VIRTIO_SCSI_S_FUNCTION_REJECTED;
    }
    switch (r) {
    case SCSI_TMF_RESP_COMPLETE:
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    case SCSI_TMF_RESP_SUCCEEDED:
        return VIRTIO_SCSI_S_FUNCTION_SUCCEEDED;
    case SCSI_TMF_RESP_REJECTED:
        return VIRTIO_SCSI_S_FUNCTION_REJECTED;
    case SCSI_TMF_RESP_INCORRECT_LUN:
        return VIRTIO_SCSI_S_INCORRECT_LUN;
    }
    return VIRTIO_SCSI_S_FAILURE;
}

static void vscsi_ctrl_push(VirtioScsiState *s, VirtQueue *vq,
                            VirtQueueElement *e, const uint8_t *resp,
                            uint32_t len)
{
    if ((len == 0 || vq_elem_write(vq, e, 0, resp, len)) &&
        vq_push(vq, e->head, len)) {
        virtio_pci_queue_used(&s->vp, vq);
    }
}

static void vscsi_handle_ctrl(VirtioScsiState *s, VirtQueue *vq,
                              VirtQueueElement *e)
{
    uint8_t req[sizeof(VirtioScsiCtrlTmfReq)];
    uint8_t resp[sizeof(VirtioScsiCtrlAnResp)] = {0};
    uint32_t type;

    if (e->out_len < sizeof(uint32_t)) {
        virtio_pci_guest_error(&s->vp,
                               "control request at head %u has no "
                               "type",
                               e->head);
        vscsi_ctrl_push(s, vq, e, resp, 0);
        return;
    }
    if (!vq_elem_read(vq, e, 0, req, sizeof(uint32_t))) {
        return;
    }
    type = pci_get_long(req);
    switch (type) {
    case VIRTIO_SCSI_T_TMF:
        if (e->out_len < sizeof(VirtioScsiCtrlTmfReq) ||
            e->in_len < sizeof(VirtioScsiCtrlTmfResp)) {
            virtio_pci_guest_error(&s->vp,
                                   "TMF at head %u: %" PRIu64 "/%" PRIu64
                                   " readable/writable bytes",
                                   e->head, e->out_len, e->in_len);
            resp[0] = VIRTIO_SCSI_S_FAILURE;
            vscsi_ctrl_push(s, vq, e, resp, e->in_len ? 1 : 0);
            return;
        }
        if (!vq_elem_read(vq, e, 0, req, sizeof(VirtioScsiCtrlTmfReq))) {
            return;
        }
        resp[0] = vscsi_tmf(
            s, pci_get_long(req + offsetof(VirtioScsiCtrlTmfReq, subtype)),
            req + offsetof(VirtioScsiCtrlTmfReq, lun),
            pci_get_quad(req + offsetof(VirtioScsiCtrlTmfReq, id)));
        vscsi_ctrl_push(s, vq, e, resp, sizeof(VirtioScsiCtrlTmfResp));
        return;
    case VIRTIO_SCSI_T_AN_QUERY:
    case VIRTIO_SCSI_T_AN_SUBSCRIBE: {
        const unsigned resp_off = offsetof(VirtioScsiCtrlAnResp, response);
        uint32_t target, lun;

        if (e->out_len < sizeof(VirtioScsiCtrlAnReq) ||
            e->in_len < sizeof(VirtioScsiCtrlAnResp)) {
            virtio_pci_guest_error(&s->vp,
                                   "AN request at head %u: %" PRIu64 "/%" PRIu64
                                   " readable/writable bytes",
                                   e->head, e->out_len, e->in_len);
            resp[resp_off] = VIRTIO_SCSI_S_FAILURE;
            vscsi_ctrl_push(s, vq, e, resp,
                            e->in_len >= sizeof(VirtioScsiCtrlAnResp)
                                ? sizeof(VirtioScsiCtrlAnResp)
                                : 0);
            return;
        }
        if (!vq_elem_read(vq, e, 0, req, sizeof(VirtioScsiCtrlAnReq))) {
            return;
        }
        /* No asynchronous event class is supported: event_actual is 0
         * whatever was requested, and a subscription records nothing. */
        if (!vscsi_parse_lun(req + offsetof(VirtioScsiCtrlAnReq, lun), &target,
                             &lun) ||
            !vscsi_target_present(s, target, lun)) {
            resp[resp_off] = VIRTIO_SCSI_S_BAD_TARGET;
        } else {
            resp[resp_off] = VIRTIO_SCSI_S_OK;
        }
        TRACE(
            vscsi_an, "%s type %u requested 0x%x -> response %u", s->id, type,
            pci_get_long(req + offsetof(VirtioScsiCtrlAnReq, event_requested)),
            resp[resp_off]);
        vscsi_ctrl_push(s, vq, e, resp, sizeof(VirtioScsiCtrlAnResp));
        return;
    }
    default:
        virtio_pci_guest_error(&s->vp,
                               "control request at head %u: unknown "
                               "type %u",
                               e->head, type);
        vscsi_ctrl_push(s, vq, e, resp, 0);
        return;
    }
}

/* ---- transport callbacks ------------------------------------------------- */

static void vscsi_queue_work(VirtioPCI *vp, unsigned q)
{
    VirtioScsiState *s = vscsi_of(vp);
    VirtQueue *vq = virtio_pci_queue(vp, q);
    uint16_t avail;
    bool bus_master;

    if (s->hung) {
        return; /* injected hang: nothing is processed until a reset */
    }
    if (q == VIRTIO_SCSI_VQ_EVENT) {
        vscsi_event_work(s);
        return;
    }
    if (q == VIRTIO_SCSI_VQ_CONTROL) {
        while (virtio_pci_running(vp) &&
               vq_pop(vq, &s->ctrl_elem) == VQ_POP_OK) {
            vscsi_handle_ctrl(s, vq, &s->ctrl_elem);
        }
        return;
    }
    /*
     * One batch: everything available now, its host I/O submitted to the
     * kernel together at the unplug. The driver's index is read once: no
     * guest code runs before the batch is over, so it cannot move, and
     * the driver notifies again for what it adds later.
     */
    if (!vq_avail_count(vq, &avail)) {
        return;
    }
    /*
     * Bus mastering is asked once for the batch (vq_respond_map()): only
     * a guest's configuration write changes it. Whether the device runs
     * is asked per request: a request can stop it (DEVICE_NEEDS_RESET).
     */
    bus_master = pci_bus_master_enabled(&vp->pci);
    scsi_bus_plug(s->bus);
    while (avail-- && virtio_pci_running(vp)) {
        VScsiReq *req = vscsi_req_get(s);

        if (vq_pop_batch(vq, &req->elem, bus_master) != VQ_POP_OK) {
            vscsi_req_put(s, req);
            break;
        }
        vscsi_handle_cmd(s, vq, req, bus_master);
    }
    scsi_bus_unplug(s->bus);
}

static void vscsi_reset(VirtioPCI *vp)
{
    VirtioScsiState *s = vscsi_of(vp);

    TRACE(vscsi_reset, "%s, %u commands in flight", s->id, s->in_flight);
    for (unsigned q = VIRTIO_SCSI_VQ_REQUEST; q < vp->num_queues; q++) {
        vscsi_drop_queue(s, q);
    }
    s->hung = false;
    s->nevents = 0;
    s->events_missed = false;
    vscsi_sizes_set(s, VIRTIO_SCSI_SENSE_SIZE_DEFAULT,
                    VIRTIO_SCSI_CDB_SIZE_DEFAULT);
    /* The HBA's reset resets its bus: targets back to their reset state,
     * each reporting 29/00 to the new driver. */
    scsi_bus_reset(s->bus);
}

static void vscsi_queue_reset(VirtioPCI *vp, unsigned q)
{
    VirtioScsiState *s = vscsi_of(vp);

    if (q >= VIRTIO_SCSI_VQ_REQUEST) {
        vscsi_drop_queue(s, q);
    }
}

typedef struct ConfigField {
    uint8_t off;
    uint8_t size;
    const char *name;
} ConfigField;

static const ConfigField config_fields[] = {
    {VIRTIO_SCSI_CFG_NUM_QUEUES, 4, "num_queues"},
    {VIRTIO_SCSI_CFG_SEG_MAX, 4, "seg_max"},
    {VIRTIO_SCSI_CFG_MAX_SECTORS, 4, "max_sectors"},
    {VIRTIO_SCSI_CFG_CMD_PER_LUN, 4, "cmd_per_lun"},
    {VIRTIO_SCSI_CFG_EVENT_INFO_SIZE, 4, "event_info_size"},
    {VIRTIO_SCSI_CFG_SENSE_SIZE, 4, "sense_size"},
    {VIRTIO_SCSI_CFG_CDB_SIZE, 4, "cdb_size"},
    {VIRTIO_SCSI_CFG_MAX_CHANNEL, 2, "max_channel"},
    {VIRTIO_SCSI_CFG_MAX_TARGET, 2, "max_target"},
    {VIRTIO_SCSI_CFG_MAX_LUN, 4, "max_lun"},
};

static const ConfigField *config_field(unsigned off, unsigned size)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(config_fields); i++) {
        if (config_fields[i].off == off && config_fields[i].size == size) {
            return &config_fields[i];
        }
    }
    return NULL;
}

static bool vscsi_config_read(VirtioPCI *vp, unsigned off, unsigned size,
                              uint64_t *val)
{
    VirtioScsiState *s = vscsi_of(vp);

    if (!config_field(off, size)) {
        return false;
    }
    switch (off) {
    case VIRTIO_SCSI_CFG_NUM_QUEUES:
        *val = s->num_queues;
        break;
    case VIRTIO_SCSI_CFG_SEG_MAX:
        /* Header and response take two descriptors of a chain that may be
         * at most queue_size long (2.7.5.3.1). */
        *val = s->queue_size - 2u;
        break;
    case VIRTIO_SCSI_CFG_MAX_SECTORS:
        *val = VSCSI_MAX_SECTORS;
        break;
    case VIRTIO_SCSI_CFG_CMD_PER_LUN:
        *val = s->queue_size;
        break;
    case VIRTIO_SCSI_CFG_EVENT_INFO_SIZE:
        *val = sizeof(VirtioScsiEvent);
        break;
    case VIRTIO_SCSI_CFG_SENSE_SIZE:
        *val = s->sense_size;
        break;
    case VIRTIO_SCSI_CFG_CDB_SIZE:
        *val = s->cdb_size;
        break;
    case VIRTIO_SCSI_CFG_MAX_CHANNEL:
        *val = 0;
        break;
    case VIRTIO_SCSI_CFG_MAX_TARGET:
        *val = SCSI_MAX_TARGET;
        break;
    case VIRTIO_SCSI_CFG_MAX_LUN:
        *val = SCSI_MAX_LUN;
        break;
    }
    return true;
}

static void vscsi_config_write(VirtioPCI *vp, unsigned off, uint64_t val,
                               unsigned size)
{
    VirtioScsiState *s = vscsi_of(vp);
    const ConfigField *f = config_field(off, size);
    uint32_t *field;
    uint32_t max;

    if (!f) {
        virtio_pci_guest_error(vp,
                               "device config: %u-byte write at 0x%x is "
                               "not one field at its width",
                               size, off);
        return;
    }
    if (off == VIRTIO_SCSI_CFG_SENSE_SIZE) {
        field = &s->sense_size;
        max = VSCSI_SENSE_SIZE_MAX;
    } else if (off == VIRTIO_SCSI_CFG_CDB_SIZE) {
        field = &s->cdb_size;
        max = VSCSI_CDB_SIZE_MAX;
    } else {
        /* 5.6.4.1: only sense_size and cdb_size are the driver's. */
        virtio_pci_guest_error(vp, "write of 0x%" PRIx64 " to read-only %s",
                               val, f->name);
        return;
    }
    if (val > max) {
        virtio_pci_guest_error(vp,
                               "%s %" PRIu64 " is larger than %u: "
                               "ignored",
                               f->name, val, max);
        return;
    }
    *field = (uint32_t)val;
    vscsi_sizes_set(s, s->sense_size, s->cdb_size);
}

static const VirtioPCIOps vscsi_vp_ops = {
    .queue_work = vscsi_queue_work,
    .reset = vscsi_reset,
    .queue_reset = vscsi_queue_reset,
    .config_read = vscsi_config_read,
    .config_write = vscsi_config_write,
};

/* ---- construction -------------------------------------------------------- */

VirtioScsiState *virtio_scsi_new(const VirtioScsiProps *props, GError **errp)
{
    VirtioScsiState *s;
    VirtioPCIProps vpp;

    if (!props->id || !*props->id) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "virtio-scsi-pci: an id is required");
        return NULL;
    }
    if (props->num_queues < 1 || props->num_queues > VSCSI_NUM_QUEUES_MAX) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "virtio-scsi-pci '%s': num_queues=%u is out of range "
                    "(1-%u)",
                    props->id, props->num_queues, VSCSI_NUM_QUEUES_MAX);
        return NULL;
    }
    if (props->queue_size < VSCSI_QUEUE_SIZE_MIN ||
        props->queue_size > VSCSI_QUEUE_SIZE_MAX ||
        (props->queue_size & (props->queue_size - 1))) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "virtio-scsi-pci '%s': queue_size=%u must be a power of "
                    "2 in %u-%u",
                    props->id, props->queue_size, VSCSI_QUEUE_SIZE_MIN,
                    VSCSI_QUEUE_SIZE_MAX);
        return NULL;
    }

    s = g_new0(VirtioScsiState, 1);
    s->id = g_strdup(props->id);
    s->num_queues = props->num_queues;
    s->queue_size = (uint16_t)props->queue_size;
    s->latency_ns = props->latency_ns;
    vscsi_sizes_set(s, VIRTIO_SCSI_SENSE_SIZE_DEFAULT,
                    VIRTIO_SCSI_CDB_SIZE_DEFAULT);
    s->bus = scsi_bus_new(s->id, &vscsi_bus_ops, s, errp);
    if (!s->bus) {
        g_free(s->id);
        g_free(s);
        return NULL;
    }
    vpp = (VirtioPCIProps){
        .name = s->id,
        .info = &vscsi_pci_info,
        .features = vscsi_features,
        .num_queues = VIRTIO_SCSI_VQ_REQUEST + s->num_queues,
        .queue_size = s->queue_size,
        .config_size = VIRTIO_SCSI_CFG_SIZE,
        .msix = props->msix,
        .fetch_delay_ns = props->fetch_delay_ns,
    };
    if (!virtio_pci_init(&s->vp, &vpp, &vscsi_vp_ops, s, errp)) {
        scsi_bus_free(s->bus);
        g_free(s->id);
        g_free(s);
        return NULL;
    }
    s->all_reqs = g_ptr_array_new();
    s->resp_buf = g_malloc0(VSCSI_RESP_HDR + VSCSI_SENSE_SIZE_MAX);
    event_init(&s->held_ev, "vscsi-done", vscsi_held_ev, s);
    if (!vscsi_devices) {
        vscsi_devices = g_ptr_array_new();
    }
    g_ptr_array_add(vscsi_devices, s);
    return s;
}

void virtio_scsi_free(VirtioScsiState *s)
{
    if (!s) {
        return;
    }
    for (unsigned q = VIRTIO_SCSI_VQ_REQUEST; q < s->vp.num_queues; q++) {
        vscsi_drop_queue(s, q);
    }
    scsi_bus_free(s->bus);
    g_assert(!s->held_head);
    event_cancel(&s->held_ev);
    virtio_pci_fini(&s->vp);
    for (guint i = 0; i < s->all_reqs->len; i++) {
        VScsiReq *req = g_ptr_array_index(s->all_reqs, i);

        vq_elem_free(&req->elem);
        scsi_req_storage_fini(&req->sr);
        g_free(req->data);
        g_free(req);
    }
    g_ptr_array_free(s->all_reqs, TRUE);
    vq_elem_free(&s->ctrl_elem);
    vq_elem_free(&s->event_elem);
    g_free(s->resp_buf);
    g_ptr_array_remove(vscsi_devices, s);
    if (!vscsi_devices->len) {
        g_ptr_array_free(vscsi_devices, TRUE);
        vscsi_devices = NULL;
    }
    g_free(s->id);
    g_free(s);
}

PCIDevice *virtio_scsi_pci(VirtioScsiState *s)
{
    return &s->vp.pci;
}

SCSIBus *virtio_scsi_bus(VirtioScsiState *s)
{
    return s->bus;
}

VirtioScsiState *virtio_scsi_find(const char *id)
{
    for (guint i = 0; vscsi_devices && i < vscsi_devices->len; i++) {
        VirtioScsiState *s = g_ptr_array_index(vscsi_devices, i);

        if (!strcmp(s->id, id)) {
            return s;
        }
    }
    return NULL;
}

uint64_t virtio_scsi_guest_errors(const VirtioScsiState *s)
{
    return s->vp.guest_errors;
}

unsigned virtio_scsi_in_flight(const VirtioScsiState *s)
{
    return s->in_flight;
}

void virtio_scsi_fail(VirtioScsiState *s, VirtioScsiFailure f)
{
    TRACE(vscsi_fail, "%s %s", s->id,
          f == VSCSI_FAIL_HANG ? "hang" : "needs-reset");
    if (f == VSCSI_FAIL_HANG) {
        s->hung = true;
    } else {
        virtio_pci_set_needs_reset(&s->vp);
    }
}

bool virtio_scsi_hung(const VirtioScsiState *s)
{
    return s->hung;
}

unsigned virtio_scsi_req_queue(const SCSIRequest *sreq)
{
    const VScsiReq *req = sreq->hba_private;

    return req->q - VIRTIO_SCSI_VQ_REQUEST;
}

static void vscsi_cleanup(void *opaque)
{
    virtio_scsi_free(opaque);
}

bool virtio_scsi_pci_create(Opts *opts, GError **errp)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    g_autofree char *auto_id = NULL;
    VirtioScsiState *s;

    p.id = opts_get_str(opts, "id", NULL);
    if (!p.id) {
        /* Unnamed HBAs get virtio-scsi0, virtio-scsi1, ... */
        unsigned n = 0;

        do {
            g_free(auto_id);
            auto_id = g_strdup_printf("virtio-scsi%u", n++);
        } while (scsi_bus_find(auto_id));
        p.id = auto_id;
    }
    p.num_queues = (unsigned)opts_get_uint(opts, "num_queues", p.num_queues);
    p.queue_size = (unsigned)opts_get_uint(opts, "queue_size", p.queue_size);
    p.msix = opts_get_bool(opts, "msix", p.msix);
    p.latency_ns = opts_get_uint(opts, "latency", p.latency_ns);
    p.fetch_delay_ns = opts_get_uint(opts, "fetch_delay", p.fetch_delay_ns);
    s = virtio_scsi_new(&p, errp);
    if (!s) {
        return false;
    }
    if (!pci_bus_add(machine_pci_bus(), virtio_scsi_pci(s), -1, errp)) {
        virtio_scsi_free(s);
        return false;
    }
    machine_add_cleanup(vscsi_cleanup, s);
    return true;
}
