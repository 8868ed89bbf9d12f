/* SPDX-License-Identifier: MIT */
/*
 * Fault injection on the SCSI bus (hw/scsi/scsi-bus.c calls in twice per
 * command) and the faults that follow a request to the device and the
 * backend.
 *
 * At submission, before the target sees the command:
 *   check-condition, busy, task-set-full  answer it: the target never runs
 *       it (SAM-5 5.3: a target may refuse a command with a status), and
 *       the bus completes it after the service time of an empty command;
 *   unit-attention  queues the condition on the logical unit for every
 *       I_T nexus (scsi_device_queue_ua); the bus then reports it to this
 *       command, or to the next one if this one is exempt (INQUIRY...);
 *   eio, enospc  arm the backend (blk_inject_error) for exactly this
 *       command's host I/O, which then fails; the disk turns the errno
 *       into its sense (MEDIUM ERROR with the LBA, or SPACE ALLOCATION
 *       FAILED);
 *   dma-error  fails this command's data transfer at the boundary.
 *
 * At completion, when the outcome is final (only commands that ended
 * normally, host status OK, are opportunities):
 *   short-transfer  cuts the bytes reported moved (residual grows);
 *   corrupt  flips one bit of the read data, written to guest memory as a
 *       device DMA (so a recording carries it);
 *   latency, reorder  hold the request and finish it later
 *       (scsi_req_release): ns later, or right after the next command of
 *       the bus completes (at the latest 1 ms later);
 *   irq-drop, irq-delay, irq-duplicate  act on the device's next
 *       interrupt (fault-device.c);
 *   hang, fatal, surprise-remove  fail the HBA; power-cut cuts the power.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "hw/core/ram.h"
#include "hw/scsi/scsi-defs.h"
#include "hw/virtio-scsi/virtio-scsi.h"
#include "system/cpu.h"
#include "system/fault-int.h"
#include "system/trace.h"

/* reorder: how long a held request waits for another completion. */
#define FAULT_REORDER_MAX_NS NS_PER_MS

typedef struct Held {
    SCSIRequest *req;
    Fault *f;
    Event ev;
    bool releasing; /* the next filter call lets it through */
    bool reorder;   /* released by the next completion of its bus */
    GList link;     /* in held_order */
} Held;

static GHashTable *held; /* SCSIRequest* -> Held* */
/* The same, oldest first: reordered requests of a bus are released in the
 * order they were held. The table's order follows host addresses, which
 * change from run to run. */
static GQueue held_order = G_QUEUE_INIT;
/* eio/enospc: the command whose host I/O was armed to fail. */
static SCSIRequest *blk_armed_req;
static BlockBackend *blk_armed;

/* ---- matching ---- */

static bool op_matches(const Fault *f, uint8_t opcode)
{
    switch (f->op) {
    case OPTIONS_OP_READ:
        return opcode == SCSI_OP_READ_6 || opcode == SCSI_OP_READ_10 ||
               opcode == SCSI_OP_READ_12 || opcode == SCSI_OP_READ_16;
    case OPTIONS_OP_WRITE:
        return opcode == SCSI_OP_WRITE_6 || opcode == SCSI_OP_WRITE_10 ||
               opcode == SCSI_OP_WRITE_12 || opcode == SCSI_OP_WRITE_16;
    case OPTIONS_OP_FLUSH:
        return opcode == SCSI_OP_SYNCHRONIZE_CACHE_10 ||
               opcode == SCSI_OP_SYNCHRONIZE_CACHE_16;
    case OPTIONS_OP_UNMAP:
        return opcode == SCSI_OP_UNMAP;
    case OPTIONS_OP_OPCODE:
        return opcode == f->opcode;
    }
    return false;
}

/* The request filters (lba, lun, op, queue, vcpu) of @f against @req. */
static bool req_matches(const Fault *f, const SCSIRequest *req)
{
    uint64_t lba, blocks;

    if (f->has_lun && req->lun != f->lun) {
        return false;
    }
    if (f->has_op && (!req->cdb_len || !op_matches(f, req->cdb[0]))) {
        return false;
    }
    if (f->has_lba) {
        /* Commands without an LBA range (and UNMAP, whose ranges are in
         * its parameter list) do not touch a range. */
        if (!fault_cdb_range(req->cdb, req->cdb_len, &lba, &blocks) ||
            !blocks || lba > f->lba_last || lba + (blocks - 1) < f->lba_first) {
            return false;
        }
    }
    if (f->has_queue) {
        FaultHba *h = fault_hba_of_bus(req->bus);
        if (!h || virtio_scsi_req_queue(req) != f->queue) {
            return false;
        }
    }
    if (f->has_vcpu && f->kind != FK_IRQ_DROP && f->kind != FK_IRQ_DELAY &&
        f->kind != FK_IRQ_DUPLICATE && fault_req_cpu(req) != (int)f->vcpu) {
        return false;
    }
    /* The port's own requests (the bus scan, the flush before a stop or
     * the shutdown) only when op= asks for their command. */
    return f->has_op || !fault_req_internal(req);
}

static const char *req_str(const SCSIRequest *req, char *buf, size_t n)
{
    const char *name = req->cdb_len ? fault_cdb_name(req->cdb) : NULL;
    uint64_t lba, blocks;

    if (req->cdb_len &&
        fault_cdb_range(req->cdb, req->cdb_len, &lba, &blocks) &&
        blocks < UINT64_MAX - lba) {
        snprintf(buf, n, "%s lba %" PRIu64 "+%" PRIu64 " on %u:%u",
                 name ? name : "command", lba, blocks, req->target, req->lun);
    } else if (name) {
        snprintf(buf, n, "%s on %u:%u", name, req->target, req->lun);
    } else {
        snprintf(buf, n, "opcode 0x%02x on %u:%u",
                 req->cdb_len ? req->cdb[0] : 0, req->target, req->lun);
    }
    return buf;
}

/* ---- at submission ---- */

static bool has_backend_io(uint8_t op)
{
    switch (op) {
    case SCSI_OP_READ_6:
    case SCSI_OP_READ_10:
    case SCSI_OP_READ_12:
    case SCSI_OP_READ_16:
    case SCSI_OP_WRITE_6:
    case SCSI_OP_WRITE_10:
    case SCSI_OP_WRITE_12:
    case SCSI_OP_WRITE_16:
    case SCSI_OP_WRITE_VERIFY_10:
    case SCSI_OP_WRITE_VERIFY_12:
    case SCSI_OP_WRITE_VERIFY_16:
    case SCSI_OP_VERIFY_10:
    case SCSI_OP_VERIFY_12:
    case SCSI_OP_VERIFY_16:
    case SCSI_OP_SYNCHRONIZE_CACHE_10:
    case SCSI_OP_SYNCHRONIZE_CACHE_16:
    case SCSI_OP_WRITE_SAME_10:
    case SCSI_OP_WRITE_SAME_16:
    case SCSI_OP_UNMAP:
        return true;
    default:
        return false;
    }
}

static bool is_flush(uint8_t op)
{
    return op == SCSI_OP_SYNCHRONIZE_CACHE_10 ||
           op == SCSI_OP_SYNCHRONIZE_CACHE_16;
}

/* Eligible commands of a submit-stage kind, before the filters. */
static bool submit_eligible(const Fault *f, const SCSIRequest *req)
{
    switch (f->kind) {
    case FK_EIO:
    case FK_ENOSPC:
        return req->cdb_len && has_backend_io(req->cdb[0]) &&
               fault_disk_of(req->dev) && fault_disk_of(req->dev)->blk;
    case FK_DMA_ERROR:
        return req->sg_len > 0 && req->dir != SCSI_XFER_NONE;
    default:
        return true;
    }
}

static void arm_backend(Fault *f, SCSIRequest *req, int err)
{
    FaultDisk *d = fault_disk_of(req->dev);
    uint64_t lba = 0, blocks = 0;
    uint64_t off = 0, len = 0;
    char what[96];

    if (!is_flush(req->cdb[0]) &&
        fault_cdb_range(req->cdb, req->cdb_len, &lba, &blocks) && blocks) {
        off = lba * d->block_size;
        len = blocks * d->block_size;
    }
    /* Every op, this command's range, once: its own host I/O is the next
     * backend request in range (the target submits it before returning). */
    blk_inject_error(d->blk, err,
                     BLK_OP_BIT(BLK_OP_READ) | BLK_OP_BIT(BLK_OP_WRITE) |
                         BLK_OP_BIT(BLK_OP_FLUSH) | BLK_OP_BIT(BLK_OP_DISCARD) |
                         BLK_OP_BIT(BLK_OP_WRITE_ZEROES),
                     off, len, 1);
    blk_armed_req = req;
    blk_armed = d->blk;
    req_str(req, what, sizeof(what));
    fault_fire(f, "%s: host I/O fails with %s", what,
               err == EIO ? "EIO" : "ENOSPC");
}

bool fault_scsi_submit_slow(SCSIRequest *req)
{
    FaultState *s = &fault_state;
    char what[96], eff[80];

    if (!s->faults || !req->dev) {
        return false;
    }
    for (guint i = 0; i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);
        SCSISenseInfo si = {0};

        if (f->stage != FS_SUBMIT || !submit_eligible(f, req) ||
            !req_matches(f, req) || !fault_try(f)) {
            continue;
        }
        req_str(req, what, sizeof(what));
        switch (f->kind) {
        case FK_CHECK_CONDITION:
            si.sense = SCSI_SENSE(f->sense_key, f->asc, f->ascq);
            if (f->has_info) {
                si.info_valid = true;
                si.info = f->info;
            } else if (fault_cdb_range(req->cdb, req->cdb_len, &si.info,
                                       &(uint64_t){0})) {
                /* The first LBA of the range the command touches. */
                si.info_valid = true;
                si.info = f->has_lba ? MAX(si.info, f->lba_first) : si.info;
            }
            scsi_req_set_sense(req, &si);
            if (si.info_valid) {
                snprintf(eff, sizeof(eff),
                         "CHECK CONDITION %x/%02x/%02x info %" PRIu64,
                         f->sense_key, f->asc, f->ascq, si.info);
            } else {
                snprintf(eff, sizeof(eff), "CHECK CONDITION %x/%02x/%02x",
                         f->sense_key, f->asc, f->ascq);
            }
            fault_fire(f, "%s: %s", what, eff);
            fault_track(f, req, eff);
            return true;
        case FK_BUSY:
        case FK_TASK_SET_FULL:
            req->status = f->kind == FK_BUSY ? SCSI_STATUS_BUSY
                                             : SCSI_STATUS_TASK_SET_FULL;
            req->sense_len = 0;
            g_strlcpy(eff, f->kind == FK_BUSY ? "BUSY" : "TASK SET FULL",
                      sizeof(eff));
            fault_fire(f, "%s: %s", what, eff);
            fault_track(f, req, eff);
            return true;
        case FK_UNIT_ATTENTION:
            scsi_device_queue_ua(
                req->dev, SCSI_SENSE(SCSI_SK_UNIT_ATTENTION, f->asc, f->ascq),
                false, 0);
            snprintf(eff, sizeof(eff), "UNIT ATTENTION 6/%02x/%02x", f->asc,
                     f->ascq);
            fault_fire(f, "%s: %s queued", what, eff);
            fault_track(f, req, eff);
            break;
        case FK_EIO:
        case FK_ENOSPC:
            arm_backend(f, req, f->kind == FK_EIO ? EIO : ENOSPC);
            fault_track(f, req,
                        f->kind == FK_EIO ? "host I/O error EIO"
                                          : "host I/O error ENOSPC");
            break;
        case FK_DMA_ERROR:
            fault_fire(f, "%s: its data transfer fails", what);
            fault_dma_arm(f, req);
            fault_track(f, req, "DMA error");
            break;
        default:
            break;
        }
    }
    return false;
}

/* ---- held requests: latency and reorder ---- */

static void held_free(gpointer p)
{
    Held *h = p;

    event_cancel(&h->ev);
    g_queue_unlink(&held_order, &h->link);
    g_free(h);
}

static void held_release(void *opaque)
{
    Held *h = opaque;

    h->releasing = true;
    scsi_req_release(h->req);
}

static void hold(Fault *f, SCSIRequest *req, uint64_t delay, bool reorder)
{
    Held *h = g_new0(Held, 1);

    if (!held) {
        held = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                     held_free);
    }
    h->req = req;
    h->f = f;
    h->reorder = reorder;
    event_init(&h->ev, reorder ? "fault-reorder" : "fault-latency",
               held_release, h);
    g_hash_table_insert(held, req, h);
    h->link.data = h;
    g_queue_push_tail_link(&held_order, &h->link);
    event_schedule(&h->ev, vclock_now() + delay);
}

typedef enum HeldState {
    NOT_HELD,
    RELEASED,   /* its time came: the faults after the holder see it */
    ENDED_HELD, /* aborted or reset while held: let it end */
} HeldState;

/* A held request comes by again; forget it. *@after: the position of the
 * fault that held it. */
static HeldState held_passes(SCSIRequest *req, unsigned *after)
{
    Held *h = held ? g_hash_table_lookup(held, req) : NULL;
    HeldState st;

    if (!h) {
        return NOT_HELD;
    }
    st = h->releasing ? RELEASED : ENDED_HELD;
    *after = h->f->index + 1;
    if (st == ENDED_HELD) {
        TRACE(fault_held_ended, "tag=0x%" PRIx64 " ended while held", req->tag);
    }
    g_hash_table_remove(held, req);
    return st;
}

/* Another command of @bus completed: reordered ones go after it. True
 * when there was one (this command is then "the next one", not held). */
static bool release_reordered(const SCSIRequest *done)
{
    bool any = false;

    for (GList *l = held_order.head; l; l = l->next) {
        Held *h = l->data;
        if (h->reorder && h->req != done && h->req->bus == done->bus &&
            h->ev.when > vclock_now()) {
            /* From the main loop, after this completion is delivered;
             * the same instant for every one of them. */
            event_schedule(&h->ev, vclock_now());
            any = true;
        }
    }
    return any;
}

/* ---- at completion ---- */

static bool complete_eligible(const Fault *f, const SCSIRequest *req)
{
    if (req->host_status != SCSI_HOST_OK) {
        return false;
    }
    switch (f->kind) {
    case FK_SHORT_TRANSFER:
        return req->status == SCSI_STATUS_GOOD && req->transferred > 0 &&
               req->dir != SCSI_XFER_NONE;
    case FK_CORRUPT:
        return req->status == SCSI_STATUS_GOOD && req->transferred > 0 &&
               req->dir == SCSI_XFER_FROM_DEV;
    default:
        return true;
    }
}

/* The guest address of byte @off of the request's data. */
static bool sg_gpa(const SCSIRequest *req, uint64_t off, uint64_t *gpa)
{
    for (unsigned i = 0; i < req->nsg; i++) {
        if (off < req->sg[i].len) {
            *gpa = req->sg[i].addr + off;
            return true;
        }
        off -= req->sg[i].len;
    }
    return false;
}

static void corrupt(Fault *f, SCSIRequest *req, const char *what)
{
    uint64_t off = rng_below(&f->rng, req->transferred);
    unsigned bit = (unsigned)rng_below(&f->rng, 8);
    uint64_t gpa;
    uint8_t *p, b;

    if (!sg_gpa(req, off, &gpa) || !(p = ram_ptr(gpa, 1))) {
        return;
    }
    b = *p ^ (uint8_t)(1u << bit);
    fault_fire(f, "%s: bit %u of byte %" PRIu64 " of the read data flipped",
               what, bit, off);
    /* As the device: a one-byte DMA write with the damaged value. */
    dma_write(gpa, &b, 1);
    fault_track(f, req, "read data corrupted");
}

static void short_transfer(Fault *f, SCSIRequest *req, const char *what)
{
    uint64_t n = f->has_bytes ? f->bytes : (req->transferred / 2) & ~511ULL;
    char eff[80];

    if (n >= req->transferred) {
        return;
    }
    fault_fire(f, "%s: %" PRIu64 " of %" PRIu64 " bytes reported moved", what,
               n, req->transferred);
    req->transferred = n;
    req->residual = req->sg_len - MIN(n, req->sg_len);
    snprintf(eff, sizeof(eff), "short transfer: %" PRIu64 " bytes", n);
    fault_track(f, req, eff);
}

static void power_cut(Fault *f, const char *what)
{
    FaultState *s = &fault_state;
    uint64_t lost = 0;

    for (guint i = 0; i < s->blks->len; i++) {
        BlockBackend *b = g_ptr_array_index(s->blks, i);
        lost += blk_cache_dirty_bytes(b);
        blk_power_cut(b);
    }
    fault_fire(f, "%s: power cut, %" PRIu64 " bytes of unflushed writes lost",
               what, lost);
    fault_track_in_flight(f, "in flight at the power cut");
    for (guint i = 0; i < s->hbas->len; i++) {
        fault_hba_fail(g_ptr_array_index(s->hbas, i), VSCSI_FAIL_HANG);
    }
    s->power_cuts++;
    /* Nothing runs on after a power loss: the run ends here. */
    machine_request_stop(EXIT_OK);
    fprintf(stderr,
            "storemu: fault: power cut at %" PRIu64 " ns: %" PRIu64
            " bytes of unflushed writes lost; the run ends here\n",
            vclock_now(), lost);
}

/* A device or power fault that acts on the HBA behind @h. */
static void act_on_hba(Fault *f, FaultHba *h, SCSIRequest *req,
                       const char *what)
{
    switch (f->kind) {
    case FK_IRQ_DROP:
    case FK_IRQ_DELAY:
    case FK_IRQ_DUPLICATE:
        fault_fire(f, "%s: its completion interrupt is %s", what,
                   f->kind == FK_IRQ_DROP    ? "dropped"
                   : f->kind == FK_IRQ_DELAY ? "delayed"
                                             : "duplicated");
        fault_irq_arm(f, h);
        if (req) {
            fault_track(f, req,
                        f->kind == FK_IRQ_DROP ? "completion interrupt dropped"
                        : f->kind == FK_IRQ_DELAY ? "completion interrupt late"
                                                  : "interrupt raised twice");
        }
        break;
    case FK_IRQ_SPURIOUS:
        fault_irq_spurious(f, h);
        break;
    case FK_HANG:
        fault_fire(f, "%s%sthe device stops processing", what,
                   *what ? ": " : "");
        fault_hba_fail(h, VSCSI_FAIL_HANG);
        fault_track_in_flight(f, "in the hung device");
        break;
    case FK_FATAL:
        fault_fire(f, "%s%sthe device needs a reset", what, *what ? ": " : "");
        fault_hba_fail(h, VSCSI_FAIL_FATAL);
        fault_track_in_flight(f, "in the failed device");
        break;
    case FK_SURPRISE_REMOVE:
        fault_fire(f, "%s%s%s is removed", what, *what ? ": " : "",
                   h->pci->name);
        fault_track_in_flight(f, "in the removed device");
        fault_hba_remove(f, h);
        break;
    case FK_POWER_CUT:
        power_cut(f, what);
        break;
    default:
        break;
    }
}

bool fault_scsi_complete_slow(SCSIRequest *req)
{
    FaultState *s = &fault_state;
    char what[96];
    bool any = false;
    unsigned first = 0;
    HeldState hs = held_passes(req, &first);
    bool overtakes;

    if (hs == ENDED_HELD) {
        return false;
    }
    fault_dma_disarm(req);
    if (blk_armed_req == req) {
        /* The armed error was not used (the command failed before its
         * host I/O): it must not hit another command. */
        blk_clear_injected_errors(blk_armed);
        blk_armed_req = NULL;
    }
    if (!s->faults) {
        return false;
    }
    /* A command that overtakes a held one is not held itself. */
    overtakes = hs == NOT_HELD && release_reordered(req);
    for (guint i = first; i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);
        FaultHba *h;

        if (f->stage != FS_COMPLETE || (overtakes && f->kind == FK_REORDER) ||
            !complete_eligible(f, req) || !req_matches(f, req) ||
            !fault_try(f)) {
            continue;
        }
        if (!any) {
            req_str(req, what, sizeof(what));
            any = true;
        }
        switch (f->kind) {
        case FK_SHORT_TRANSFER:
            short_transfer(f, req, what);
            break;
        case FK_CORRUPT:
            corrupt(f, req, what);
            break;
        case FK_LATENCY:
        case FK_REORDER:
            fault_fire(f, "%s: %s", what,
                       f->kind == FK_LATENCY ? "completes later"
                                             : "completes after the next one");
            fault_track(f, req,
                        f->kind == FK_LATENCY ? "completed late"
                                              : "completed out of order");
            hold(f, req, f->kind == FK_LATENCY ? f->ns : FAULT_REORDER_MAX_NS,
                 f->kind == FK_REORDER);
            /* Held: the other faults see it when it comes back. */
            return true;
        default:
            h = fault_hba_of_bus(req->bus);
            if (h) {
                act_on_hba(f, h, req, what);
            }
            break;
        }
    }
    return false;
}

/* ---- point-in-time firings (at=) ---- */

void fault_point_act(Fault *f)
{
    FaultState *s = &fault_state;

    if (f->kind == FK_POWER) {
        fault_power_kick(f);
        return;
    }
    if (f->kind == FK_POWER_CUT) {
        power_cut(f, "at the arming point");
        return;
    }
    /* Device kinds at a point in time: every HBA. */
    for (guint i = 0; i < s->hbas->len; i++) {
        act_on_hba(f, g_ptr_array_index(s->hbas, i), NULL, "");
    }
}

void fault_scsi_fini(void)
{
    g_clear_pointer(&held, g_hash_table_unref);
    g_assert(g_queue_is_empty(&held_order));
    blk_armed_req = NULL;
    blk_armed = NULL;
}
