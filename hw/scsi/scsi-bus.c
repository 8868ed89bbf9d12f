/* SPDX-License-Identifier: MIT */
/*
 * The SCSI bus (scsi-bus.h): addressing, the request life cycle on the
 * virtual clock, unit attention per I_T nexus (SAM-5 5.14, SPC-5 5.14),
 * task attributes, task management (SAM-5 7) and the commands a target
 * answers for logical units it does not have (SPC-5 6.6.2, 6.33, 6.39).
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "hw/block/block.h"
#include "hw/scsi/scsi-bus.h"
#include "system/error.h"
#include "system/fault.h"
#include "system/trace.h"

struct SCSIBus {
    char *name;
    const SCSIBusOps *ops;
    void *opaque;
    GHashTable *devs;    /* (target << 32 | lun) -> SCSIDevice */
    SCSIReqList orphans; /* requests without a logical unit, in flight */
    /* The device found last: commands come in runs to one LUN. */
    SCSIDevice *last_dev;
    /*
     * Completions due at one time that would run back to back as events
     * of their own (the commands of one doorbell batch, same size, same
     * service time): one event serves them all (event_join), saving an
     * event schedule and a dispatch per command. Submission order.
     */
    Event run_ev;
    SCSIRequest *run_head, *run_tail;
};

/* The rest of the run being served (bus_run_event), which a completion
 * may abort or reset. Handlers do not nest: one for every bus. */
static SCSIRequest *run_serving;

static void bus_run_event(void *opaque);

static GPtrArray *buses;

/*
 * Requests freed by their HBAs, for the next submissions (of any bus: an
 * HBA may free requests after its bus is gone). At most REQ_POOL_MAX are
 * kept.
 */
#define REQ_POOL_MAX 1024
static SCSIRequest *req_pool;
static unsigned req_pool_len;

static const char *const host_status_names[] = {
    [SCSI_HOST_OK] = "ok",
    [SCSI_HOST_NO_TARGET] = "no-target",
    [SCSI_HOST_ABORTED] = "aborted",
    [SCSI_HOST_RESET] = "reset",
    [SCSI_HOST_DMA_ERROR] = "dma-error",
};

static inline uint64_t dev_key(uint32_t target, uint32_t lun)
{
    return (uint64_t)target << 32 | lun;
}

static void reqlist_push(SCSIReqList *l, SCSIRequest *req)
{
    req->list = l;
    req->next = NULL;
    req->prev = l->tail;
    if (l->tail) {
        l->tail->next = req;
    } else {
        l->head = req;
    }
    l->tail = req;
    l->len++;
}

/* The links of a request off its list are left as they are: only a list
 * reads them, and reqlist_push() sets both. */
static void reqlist_remove(SCSIReqList *l, SCSIRequest *req)
{
    SCSIRequest *prev = req->prev, *next = req->next;

    if (prev) {
        prev->next = next;
    } else {
        l->head = next;
    }
    if (next) {
        next->prev = prev;
    } else {
        l->tail = prev;
    }
    l->len--;
}

/* ---- buses ------------------------------------------------------------ */

SCSIBus *scsi_bus_new(const char *name, const SCSIBusOps *ops, void *opaque,
                      GError **errp)
{
    SCSIBus *bus;

    g_assert(name && ops && ops->complete);
    if (buses) {
        for (guint i = 0; i < buses->len; i++) {
            SCSIBus *b = g_ptr_array_index(buses, i);
            if (!strcmp(b->name, name)) {
                g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                            "SCSI bus '%s' exists already; give each HBA "
                            "its own id",
                            name);
                return NULL;
            }
        }
    } else {
        buses = g_ptr_array_new();
    }
    bus = g_new0(SCSIBus, 1);
    bus->name = g_strdup(name);
    bus->ops = ops;
    bus->opaque = opaque;
    bus->devs = g_hash_table_new(g_int64_hash, g_int64_equal);
    event_init(&bus->run_ev, "scsi-run", bus_run_event, bus);
    g_ptr_array_add(buses, bus);
    return bus;
}

/* Devices of @bus (or of one target, @target >= 0), by (target, lun). */
static gint dev_cmp(gconstpointer a, gconstpointer b)
{
    const SCSIDevice *x = *(SCSIDevice *const *)a;
    const SCSIDevice *y = *(SCSIDevice *const *)b;
    uint64_t kx = dev_key(x->target, x->lun), ky = dev_key(y->target, y->lun);

    return kx < ky ? -1 : kx > ky;
}

static GPtrArray *bus_devices(const SCSIBus *bus, int64_t target)
{
    GPtrArray *a = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, bus->devs);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        SCSIDevice *d = value;
        if (target < 0 || d->target == target) {
            g_ptr_array_add(a, d);
        }
    }
    g_ptr_array_sort(a, dev_cmp);
    return a;
}

static void req_abort(SCSIRequest *req, SCSIHostStatus hs);

/* End every request of @q (a snapshot of it: completions may submit). */
static void abort_queue(SCSIReqList *q, SCSIHostStatus hs,
                        bool (*match)(SCSIRequest *, const void *),
                        const void *arg)
{
    g_autoptr(GPtrArray) snap = g_ptr_array_new();

    for (SCSIRequest *r = q->head; r; r = r->next) {
        if (!match || match(r, arg)) {
            g_ptr_array_add(snap, r);
        }
    }
    for (guint i = 0; i < snap->len; i++) {
        SCSIRequest *req = g_ptr_array_index(snap, i);
        if (req->in_flight) {
            req_abort(req, hs);
        }
    }
}

void scsi_bus_free(SCSIBus *bus)
{
    g_autoptr(GPtrArray) devs = NULL;

    if (!bus) {
        return;
    }
    abort_queue(&bus->orphans, SCSI_HOST_RESET, NULL, NULL);
    devs = bus_devices(bus, -1);
    for (guint i = 0; i < devs->len; i++) {
        SCSIDevice *d = g_ptr_array_index(devs, i);
        scsi_device_detach(d);
        if (d->ops->destroy) {
            d->ops->destroy(d);
        }
    }
    g_hash_table_destroy(bus->devs);
    g_assert(!bus->run_head);
    event_cancel(&bus->run_ev);
    g_ptr_array_remove(buses, bus);
    if (!buses->len) {
        g_ptr_array_free(buses, TRUE);
        buses = NULL;
    }
    g_free(bus->name);
    g_free(bus);
}

SCSIBus *scsi_bus_find(const char *name)
{
    size_t n;

    if (!buses || !buses->len) {
        return NULL;
    }
    if (!name) {
        return g_ptr_array_index(buses, 0);
    }
    n = strlen(name);
    for (guint i = 0; i < buses->len; i++) {
        SCSIBus *b = g_ptr_array_index(buses, i);
        size_t bn = strlen(b->name);

        if (!strcmp(b->name, name)) {
            return b;
        }
        /* "hba0.0" names bus 0 of HBA hba0, which is the bus "hba0". */
        if (n == bn + 2 && !strncmp(name, b->name, bn) &&
            !strcmp(name + bn, ".0")) {
            return b;
        }
    }
    return NULL;
}

const char *scsi_bus_name(const SCSIBus *bus)
{
    return bus->name;
}

unsigned scsi_bus_in_flight(const SCSIBus *bus)
{
    unsigned n = bus->orphans.len;
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, bus->devs);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        n += ((SCSIDevice *)value)->requests.len;
    }
    return n;
}

void scsi_bus_plug(SCSIBus *bus)
{
    blk_io_plug();
}

void scsi_bus_unplug(SCSIBus *bus)
{
    blk_io_unplug();
}

static bool target_exists(const SCSIBus *bus, uint32_t target)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, bus->devs);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (((SCSIDevice *)value)->target == target) {
            return true;
        }
    }
    return false;
}

/* ---- devices and unit attention --------------------------------------- */

static GArray *ua_queue_new(void)
{
    return g_array_new(FALSE, FALSE, sizeof(SCSISense));
}

/* The UA queue of an I_T nexus, created from the "new nexus" queue the
 * first time the initiator shows up. */
static GArray *ua_queue(SCSIDevice *dev, uint32_t initiator)
{
    GArray *q;

    if (dev->ua_last && dev->ua_last_initiator == initiator) {
        return dev->ua_last;
    }
    q = g_hash_table_lookup(dev->nexus, GUINT_TO_POINTER(initiator));
    if (!q) {
        q = ua_queue_new();
        g_array_append_vals(q, dev->ua_new->data, dev->ua_new->len);
        g_hash_table_insert(dev->nexus, GUINT_TO_POINTER(initiator), q);
    }
    /* Queues live as long as the device is attached. */
    dev->ua_last = q;
    dev->ua_last_initiator = initiator;
    return q;
}

/* What ua_clear is for the queues as they are now. */
static uint64_t ua_clear_of(const SCSIDevice *dev)
{
    return dev->ua_last && !dev->ua_last->len ? dev->ua_last_initiator
                                              : SCSI_UA_PENDING;
}

/* After a change of ua_last or of what a queue holds. */
static void ua_note(SCSIDevice *dev)
{
    dev->ua_clear = ua_clear_of(dev);
}

static void ua_push(GArray *q, SCSISense s)
{
    if (s.asc == 0x29) {
        /* A reset supersedes everything queued before it. */
        g_array_set_size(q, 0);
    }
    for (guint i = 0; i < q->len; i++) {
        if (scsi_sense_eq(g_array_index(q, SCSISense, i), s)) {
            return;
        }
    }
    if (q->len < SCSI_UA_MAX) {
        g_array_append_val(q, s);
    }
}

void scsi_device_queue_ua(SCSIDevice *dev, SCSISense s, bool except_initiator,
                          uint32_t initiator)
{
    GHashTableIter it;
    gpointer key, value;

    if (except_initiator) {
        ua_queue(dev, initiator); /* so it is not created with @s */
    }
    g_hash_table_iter_init(&it, dev->nexus);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (!except_initiator || GPOINTER_TO_UINT(key) != initiator) {
            ua_push(value, s);
        }
    }
    ua_push(dev->ua_new, s);
    ua_note(dev);
    TRACE(scsi_ua_set, "%u:%u %x/%02x/%02x%s", dev->target, dev->lun, s.key,
          s.asc, s.ascq, except_initiator ? " (not for the sender)" : "");
}

bool scsi_device_take_ua(SCSIDevice *dev, uint32_t initiator, SCSISense *s)
{
    GArray *q;

    /* Off the usual path: check here that every writer kept the word. */
    g_assert(dev->ua_clear == ua_clear_of(dev));
    q = ua_queue(dev, initiator);
    if (!q->len) {
        ua_note(dev);
        return false;
    }
    *s = g_array_index(q, SCSISense, 0);
    g_array_remove_index(q, 0);
    ua_note(dev);
    TRACE(scsi_ua_report, "%u:%u initiator %u: %x/%02x/%02x", dev->target,
          dev->lun, initiator, s->key, s->asc, s->ascq);
    return true;
}

bool scsi_device_attach(SCSIBus *bus, SCSIDevice *dev, const SCSIDeviceOps *ops,
                        uint32_t target, uint32_t lun, GError **errp)
{
    uint64_t key = dev_key(target, lun);

    if (target > SCSI_MAX_TARGET || lun > SCSI_MAX_LUN) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "SCSI address %u:%u is out of range (target 0-%u, lun "
                    "0-%u)",
                    target, lun, SCSI_MAX_TARGET, SCSI_MAX_LUN);
        return false;
    }
    if (g_hash_table_contains(bus->devs, &key)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "SCSI bus '%s': target %u lun %u is taken already; "
                    "use another target= or lun=",
                    bus->name, target, lun);
        return false;
    }
    dev->ops = ops;
    dev->bus = bus;
    dev->target = target;
    dev->lun = lun;
    memset(&dev->requests, 0, sizeof(dev->requests));
    dev->ua_last = NULL;
    dev->nexus = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                       (GDestroyNotify)g_array_unref);
    dev->ua_new = ua_queue_new();
    ua_note(dev);
    scsi_device_set_latency(dev, SCSI_DEFAULT_SERVICE_NS,
                            SCSI_DEFAULT_BYTES_PER_SEC);
    dev->barrier = 0;
    dev->last_due = 0;
    /* Power on (SAM-5 5.14): every initiator sees 29/00 first. */
    ua_push(dev->ua_new, SENSE_RESET);
    g_hash_table_insert(bus->devs, g_memdup2(&key, sizeof(key)), dev);
    bus->last_dev = NULL;
    return true;
}

void scsi_device_detach(SCSIDevice *dev)
{
    uint64_t key = dev_key(dev->target, dev->lun);
    gpointer orig_key;

    if (!dev->bus) {
        return;
    }
    abort_queue(&dev->requests, SCSI_HOST_RESET, NULL, NULL);
    dev->bus->last_dev = NULL;
    if (g_hash_table_lookup_extended(dev->bus->devs, &key, &orig_key, NULL)) {
        g_hash_table_remove(dev->bus->devs, &key);
        g_free(orig_key);
    }
    g_hash_table_destroy(dev->nexus);
    g_array_unref(dev->ua_new);
    dev->ua_last = NULL;
    ua_note(dev);
    dev->nexus = NULL;
    dev->ua_new = NULL;
    dev->bus = NULL;
}

SCSIDevice *scsi_device_find(SCSIBus *bus, uint32_t target, uint32_t lun)
{
    SCSIDevice *dev = bus->last_dev;
    uint64_t key;

    if (dev && dev->target == target && dev->lun == lun) {
        return dev;
    }
    key = dev_key(target, lun);
    dev = g_hash_table_lookup(bus->devs, &key);
    if (dev) {
        bus->last_dev = dev;
    }
    return dev;
}

/* The latency model's service + transfer time of @bytes, saturating. */
static uint64_t latency_cost(uint64_t service, uint64_t bps, uint64_t bytes)
{
    uint64_t xfer = 0;

    if (bps && bytes <= UINT64_MAX / NS_PER_SEC) {
        xfer = bytes * NS_PER_SEC / bps; /* no 128-bit division */
    } else if (bps) {
        unsigned __int128 x = (unsigned __int128)bytes * NS_PER_SEC / bps;

        xfer = x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
    }
    return service > UINT64_MAX - xfer ? UINT64_MAX : service + xfer;
}

void scsi_device_set_latency(SCSIDevice *dev, uint64_t service_ns,
                             uint64_t bytes_per_sec)
{
    dev->service_ns = service_ns;
    dev->bytes_per_sec = bytes_per_sec;
    dev->cost_bytes = 0;
    dev->cost = latency_cost(service_ns, bytes_per_sec, 0);
}

void scsi_device_reset(SCSIDevice *dev)
{
    TRACE(scsi_lun_reset, "%s %u:%u, %u requests in flight", dev->bus->name,
          dev->target, dev->lun, dev->requests.len);
    abort_queue(&dev->requests, SCSI_HOST_RESET, NULL, NULL);
    if (dev->ops->reset) {
        dev->ops->reset(dev);
    }
    dev->barrier = 0;
    scsi_device_queue_ua(dev, SENSE_RESET, false, 0);
}

/* ---- request outcome helpers ------------------------------------------ */

void scsi_req_set_sense(SCSIRequest *req, const SCSISenseInfo *si)
{
    bool desc = req->dev && req->dev->desc_sense;

    req->status = SCSI_STATUS_CHECK_CONDITION;
    req->sense_len = scsi_sense_build(req->sense, sizeof(req->sense), si, desc);
    g_clear_pointer(&req->data_in, g_free);
    req->data_in_len = 0;
    TRACE(scsi_sense, "tag=0x%" PRIx64 " %x/%02x/%02x%s", req->tag,
          si->sense.key, si->sense.asc, si->sense.ascq,
          si->field.valid ? " (field pointer)" : "");
}

void scsi_req_check_condition(SCSIRequest *req, SCSISense s)
{
    SCSISenseInfo si = {.sense = s};

    scsi_req_set_sense(req, &si);
}

static void req_field_error(SCSIRequest *req, SCSISense s, bool cdb,
                            unsigned byte, int bit)
{
    SCSISenseInfo si = {
        .sense = s,
        .field = {.valid = true, .cdb = cdb, .byte = byte, .bit = bit},
    };

    scsi_req_set_sense(req, &si);
}

void scsi_req_invalid_field(SCSIRequest *req, unsigned byte, int bit)
{
    req_field_error(req, SENSE_INVALID_FIELD, true, byte, bit);
}

void scsi_req_invalid_param(SCSIRequest *req, unsigned byte, int bit)
{
    req_field_error(req, SENSE_INVALID_PARAM, false, byte, bit);
}

static int top_bit(uint8_t v)
{
    return 31 - __builtin_clz(v);
}

static bool word_clean(const uint8_t *cdb, const uint8_t *usage, unsigned i)
{
    uint64_t c, u;

    memcpy(&c, cdb + i, 8);
    memcpy(&u, usage + i, 8);
    return !(c & ~u);
}

/* Bytes 1 to len - 2 of a CDB of @len >= 10 bytes use only @usage bits,
 * checked eight bytes at a time (a last word, if any bytes are left,
 * overlaps the one before; a 10-byte CDB needs none). */
static bool cdb_words_clean(const uint8_t *cdb, const uint8_t *usage,
                            unsigned len)
{
    unsigned i;

    for (i = 1; i + 8 <= len - 1; i += 8) {
        if (!word_clean(cdb, usage, i)) {
            return false;
        }
    }
    return i == len - 1 || word_clean(cdb, usage, len - 9);
}

bool scsi_req_check_cdb(SCSIRequest *req, const uint8_t *usage, unsigned len)
{
    uint8_t ctrl;

    if (req->cdb_len < len) {
        /* The operation code implies a longer CDB than was sent. */
        scsi_req_invalid_field(req, 0, -1);
        return false;
    }
    /* The byte loop finds the offending bit; clean long CDBs skip it. */
    if (len < 10 || !cdb_words_clean(req->cdb, usage, len)) {
        for (unsigned i = 1; i + 1 < len; i++) {
            uint8_t bad = req->cdb[i] & ~usage[i];
            if (bad) {
                scsi_req_invalid_field(req, i, top_bit(bad));
                return false;
            }
        }
    }
    /* Control byte (SAM-5 5.2): vendor bits 7-6 are ignored; NACA (bit 2)
     * is not supported, the rest is reserved or obsolete. */
    ctrl = req->cdb[len - 1] & 0x3f;
    if (ctrl) {
        scsi_req_invalid_field(req, len - 1, top_bit(ctrl));
        return false;
    }
    return true;
}

void scsi_req_set_data_in(SCSIRequest *req, uint8_t *buf, uint64_t len)
{
    g_free(req->data_in);
    req->data_in = buf;
    req->data_in_len = len;
}

bool scsi_req_data_out_ok(SCSIRequest *req, uint64_t needed)
{
    uint64_t avail = req->dir == SCSI_XFER_TO_DEV ? req->sg_len : 0;

    if (avail >= needed) {
        return true;
    }
    req->overrun = needed - avail;
    scsi_req_check_condition(req, SENSE_DATA_PHASE_ERROR);
    return false;
}

void scsi_req_dma_error(SCSIRequest *req, uint64_t gpa)
{
    req->host_status = SCSI_HOST_DMA_ERROR;
    req->status = SCSI_STATUS_GOOD;
    req->sense_len = 0;
    g_clear_pointer(&req->data_in, g_free);
    req->data_in_len = 0;
    TRACE(scsi_dma_error, "tag=0x%" PRIx64 " gpa=0x%" PRIx64, req->tag, gpa);
}

bool scsi_req_read_data_out(SCSIRequest *req, void *buf, uint64_t len)
{
    int64_t n;

    if (req->dir != SCSI_XFER_TO_DEV || req->sg_len < len) {
        return scsi_req_data_out_ok(req, len);
    }
    n = dma_sg_copy_from_guest(req->sg, req->nsg, buf, len);
    if (n < 0 || (uint64_t)n < len) {
        scsi_req_dma_error(req, 0);
        return false;
    }
    req->transferred += n;
    return true;
}

/*
 * The completion of @req at @due: on the bus's run when it would come
 * right after it anyway (event.h: event_join), else as an event of its
 * own; a new run when the bus has none. @due is never before now
 * (req_schedule(): now plus a cost, raised by barriers), so the join
 * test needs no clamp (event_join_ahead).
 */
static inline void req_schedule_done(SCSIRequest *req, uint64_t due)
{
    SCSIBus *bus = req->bus;

    if (!bus->run_head) {
        req->in_run = true;
        req->run_next = NULL;
        bus->run_head = bus->run_tail = req;
        event_schedule_run(&bus->run_ev, due);
    } else if (event_join_ahead(&bus->run_ev, due)) {
        req->in_run = true;
        req->run_next = NULL;
        bus->run_tail->run_next = req;
        bus->run_tail = req;
    } else {
        event_schedule(&req->done_ev, due);
    }
}

/* Take @req off the run it is on, the bus's or the rest of the one being
 * served (aborts are rare: a walk); a run with nothing left has no event
 * either, as the events it stands for would all be cancelled. */
static void req_leave_run(SCSIRequest *req)
{
    SCSIBus *bus = req->bus;
    SCSIRequest **pp = &bus->run_head, *prev = NULL;

    while (*pp && *pp != req) {
        prev = *pp;
        pp = &prev->run_next;
    }
    if (*pp) {
        *pp = req->run_next;
        if (bus->run_tail == req) {
            bus->run_tail = prev;
        }
        if (!bus->run_head) {
            event_cancel(&bus->run_ev);
        }
    } else {
        for (pp = &run_serving; *pp != req; pp = &(*pp)->run_next) {
            g_assert(*pp);
        }
        *pp = req->run_next;
    }
    req->in_run = false;
}

/* scsi_req_schedule() without its check; inline into req_start(), which
 * schedules what a target's start() returns. */
static inline __attribute__((always_inline)) void req_schedule(SCSIRequest *req,
                                                               uint64_t bytes)
{
    SCSIDevice *dev = req->dev;
    uint64_t now = vclock_now(), cost, due;

    if (!dev) {
        cost = latency_cost(SCSI_DEFAULT_SERVICE_NS, SCSI_DEFAULT_BYTES_PER_SEC,
                            bytes);
    } else if (bytes == dev->cost_bytes) {
        cost = dev->cost;
    } else {
        cost = latency_cost(dev->service_ns, dev->bytes_per_sec, bytes);
        dev->cost_bytes = bytes;
        dev->cost = cost;
    }
    /* A saturated cost is past any room left, and so is its sum. */
    due = cost >= VTIME_NEVER - now ? VTIME_NEVER - 1 : now + cost;
    if (dev) {
        /* One test of the task attribute: SIMPLE is the usual one. */
        if (G_UNLIKELY(req->attr == SCSI_TASK_ORDERED)) {
            due = MAX(MAX(due, dev->last_due), dev->barrier);
            dev->barrier = due;
        } else {
            due = MAX(due, dev->barrier);
        }
        dev->last_due = MAX(dev->last_due, due);
    }
    req->due = due;
    req_schedule_done(req, due);
}

void scsi_req_schedule(SCSIRequest *req, uint64_t bytes)
{
    g_assert(!event_pending(&req->done_ev) && !req->in_run);
    req_schedule(req, bytes);
}

/* ---- request life cycle ----------------------------------------------- */

/* Inline into req_done_event(), the end of every command the bus
 * completes on time; req_finalize() for the others. */
static inline __attribute__((always_inline)) void
req_finalize_inline(SCSIRequest *req)
{
    SCSIBus *bus = req->bus;

    /* Buffered data-in is the exception (a media command moves its data
     * itself): one test for the usual command. */
    if (G_UNLIKELY(req->data_in)) {
        if (req->host_status != SCSI_HOST_OK) {
            /* dropped */
        } else if (req->dir == SCSI_XFER_FROM_DEV) {
            int64_t n = dma_sg_copy_to_guest(req->sg, req->nsg, req->data_in,
                                             req->data_in_len);
            if (n < 0) {
                scsi_req_dma_error(req, 0);
            } else {
                req->transferred = n;
                req->overrun = req->data_in_len - n;
            }
        } else {
            req->overrun = req->data_in_len;
        }
        g_clear_pointer(&req->data_in, g_free);
        req->data_in_len = 0;
    }
    if (req->host_status != SCSI_HOST_OK) {
        req->transferred = 0;
    }
    req->residual = req->dir == SCSI_XFER_NONE
                        ? 0
                        : req->sg_len - MIN(req->transferred, req->sg_len);
    /* Fault injection (system/fault.h) may rewrite the outcome, or hold
     * the request and finish it later with scsi_req_release(). */
    if (fault_scsi_complete(req)) {
        return;
    }
    reqlist_remove(req->list, req);
    req->in_flight = false;
    TRACE(scsi_req_complete,
          "tag=0x%" PRIx64 " host=%s status=0x%02x "
          "xfer=%" PRIu64 " resid=%" PRIu64 " over=%" PRIu64,
          req->tag, host_status_names[req->host_status], req->status,
          req->transferred, req->residual, req->overrun);
    bus->ops->complete(req, bus->opaque);
}

static void req_finalize(SCSIRequest *req)
{
    req_finalize_inline(req);
}

void scsi_req_release(SCSIRequest *req)
{
    g_assert(req->in_flight);
    req_finalize(req);
}

/* A request's completion time came: the target finishes it, the bus
 * ends it. Inline into bus_run_event(), which serves nearly every one. */
static inline __attribute__((always_inline)) void req_done(SCSIRequest *req)
{
    if (req->dev) {
        req->dev->ops->finish(req->dev, req);
    }
    req_finalize_inline(req);
}

static void req_done_event(void *opaque)
{
    req_done(opaque);
}

/*
 * A run of completions, each as its event would have been: in order,
 * counted as an event (checkpoints read the count in between), with what
 * a completion does to the rest (abort, reset) seen by the next. The run
 * is taken off the bus first: a completion made at this time while it is
 * served comes after it, as its event would, on a new run.
 */
static void bus_run_event(void *opaque)
{
    SCSIBus *bus = opaque;
    SCSIRequest *req = bus->run_head;

    bus->run_head = bus->run_tail = NULL;
    for (;;) {
        run_serving = req->run_next;
        req->in_run = false;
        req_done(req);
        req = run_serving;
        if (!req) {
            break;
        }
        event_count_add(1);
    }
}

static void req_abort(SCSIRequest *req, SCSIHostStatus hs)
{
    if (req->in_run) {
        req_leave_run(req);
    }
    event_cancel(&req->done_ev);
    if (req->dev && req->dev->ops->cancel) {
        req->dev->ops->cancel(req->dev, req);
    }
    g_clear_pointer(&req->data_in, g_free);
    req->data_in_len = 0;
    req->host_status = hs;
    req->status = SCSI_STATUS_TASK_ABORTED;
    req->sense_len = 0;
    req->overrun = 0;
    req_finalize(req);
}

bool scsi_req_cancel(SCSIRequest *req)
{
    if (!req->in_flight) {
        return false;
    }
    TRACE(scsi_req_cancel, "tag=0x%" PRIx64, req->tag);
    req_abort(req, SCSI_HOST_ABORTED);
    return true;
}

void scsi_req_free(SCSIRequest *req)
{
    if (!req) {
        return;
    }
    g_assert(!req->in_flight && !req->hba_owned);
    g_clear_pointer(&req->data_in, g_free);
    if (req_pool_len >= REQ_POOL_MAX) {
        g_free(req->sg_heap);
        g_free(req);
        return;
    }
    req->next = req_pool;
    req_pool = req;
    req_pool_len++;
}

void scsi_req_storage_init(SCSIRequest *req)
{
    memset(req, 0, sizeof(*req));
    req->hba_owned = true;
    event_init(&req->done_ev, "scsi-req", req_done_event, req);
}

void scsi_req_storage_fini(SCSIRequest *req)
{
    g_assert(!req->in_flight && req->hba_owned);
    g_clear_pointer(&req->data_in, g_free);
    g_clear_pointer(&req->sg_heap, g_free);
    req->sg_cap = 0;
}

/* A request from the pool, as its last user left it (req_init() sets it
 * up), or a new one. */
static SCSIRequest *req_alloc(void)
{
    SCSIRequest *req = req_pool;

    if (!req) {
        /* The completion event is the same for every use of the request:
         * set up once here, not per command. */
        req = g_new0(SCSIRequest, 1);
        event_init(&req->done_ev, "scsi-req", req_done_event, req);
        return req;
    }
    req_pool = req->next;
    req_pool_len--;
    return req;
}

/* Copy the command's SG list into @req's storage and size it (as
 * dma_sg_size() does, in the same pass). */
static inline __attribute__((always_inline)) void
req_set_sg(SCSIRequest *req, const DmaSgEntry *sg, unsigned nsg)
{
    uint64_t total = 0;
    DmaSgEntry *to = req->sg_inline;

    if (nsg > SCSI_SG_INLINE) {
        if (nsg > req->sg_cap) {
            g_free(req->sg_heap);
            req->sg_heap = g_new(DmaSgEntry, nsg);
            req->sg_cap = nsg;
        }
        to = req->sg_heap;
    }
    req->sg = to;
    for (unsigned i = 0; i < nsg; i++) {
        to[i] = sg[i];
        total = sg[i].len > UINT64_MAX - total ? UINT64_MAX : total + sg[i].len;
    }
    req->nsg = nsg;
    req->sg_len = total;
}

/* ---- commands for a missing logical unit ------------------------------- */

static void put_lun(uint8_t *p, uint32_t lun)
{
    memset(p, 0, 8);
    if (lun < 256) {
        p[1] = lun; /* peripheral device addressing, bus 0 */
    } else {
        p[0] = 0x40 | (lun >> 8); /* flat space addressing */
        p[1] = lun & 0xff;
    }
}

void scsi_bus_report_luns(SCSIRequest *req)
{
    static const uint8_t usage[12] = {
        0xff, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x04,
    };
    g_autoptr(GPtrArray) devs = NULL;
    uint8_t select;
    uint32_t alloc;
    uint8_t *buf;
    uint64_t len;

    if (!scsi_req_check_cdb(req, usage, sizeof(usage))) {
        return;
    }
    select = req->cdb[2];
    alloc = scsi_be32(req->cdb + 6);
    if (select > 0x02) {
        /* 10h-12h (administrative LUs) are not supported. */
        scsi_req_invalid_field(req, 2, -1);
        return;
    }
    if (alloc < 16) {
        scsi_req_invalid_field(req, 6, -1);
        return;
    }
    /* 01h asks for well-known LUs only, of which there are none. */
    devs =
        select == 0x01 ? g_ptr_array_new() : bus_devices(req->bus, req->target);
    len = 8 + 8 * (uint64_t)devs->len;
    buf = g_malloc0(len);
    scsi_put_be32(buf, devs->len * 8);
    for (guint i = 0; i < devs->len; i++) {
        put_lun(buf + 8 + 8 * i, ((SCSIDevice *)devs->pdata[i])->lun);
    }
    scsi_req_set_data_in(req, buf, MIN(len, alloc));
}

static void no_lun_inquiry(SCSIRequest *req)
{
    static const uint8_t usage[6] = {0xff, 0x01, 0xff, 0xff, 0xff, 0x04};
    uint16_t alloc;
    uint8_t *buf;
    uint64_t len;

    if (!scsi_req_check_cdb(req, usage, sizeof(usage))) {
        return;
    }
    alloc = scsi_be16(req->cdb + 3);
    /* Peripheral qualifier 011b, type 1Fh: no logical unit here
     * (SPC-5 6.6.2). */
    if (req->cdb[1] & 0x01) {
        len = 4;
        buf = g_malloc0(len);
        buf[0] = 0x7f;
        buf[1] = req->cdb[2];
    } else {
        len = 36;
        buf = g_malloc0(len);
        buf[0] = 0x7f;
        buf[2] = 0x07; /* SPC-5 */
        buf[3] = 0x02; /* response data format */
        buf[4] = len - 5;
        memset(buf + 8, ' ', 28);
    }
    scsi_req_set_data_in(req, buf, MIN(len, alloc));
}

static void no_lun_request_sense(SCSIRequest *req)
{
    static const uint8_t usage[6] = {0xff, 0x01, 0x00, 0x00, 0xff, 0x04};
    SCSISenseInfo si = {.sense = SENSE_LUN_NOT_SUPPORTED};
    uint8_t *buf;
    size_t len;

    if (!scsi_req_check_cdb(req, usage, sizeof(usage))) {
        return;
    }
    buf = g_malloc0(32);
    len = scsi_sense_build(buf, 32, &si, req->cdb[1] & 0x01);
    scsi_req_set_data_in(req, buf, MIN(len, req->cdb[4]));
}

static void no_lun_command(SCSIRequest *req)
{
    switch (req->cdb[0]) {
    case SCSI_OP_INQUIRY:
        no_lun_inquiry(req);
        break;
    case SCSI_OP_REPORT_LUNS:
        scsi_bus_report_luns(req);
        break;
    case SCSI_OP_REQUEST_SENSE:
        no_lun_request_sense(req);
        break;
    default:
        scsi_req_check_condition(req, SENSE_LUN_NOT_SUPPORTED);
        break;
    }
}

/* ---- submission and task management ------------------------------------ */

/* The initiator seen last has no unit attention queued: the usual answer,
 * without the call. */
static inline bool ua_none_known(const SCSIDevice *dev, uint32_t initiator)
{
    return dev->ua_clear == initiator;
}

static bool ua_exempt(uint8_t opcode)
{
    /* SAM-5 5.14: these neither report nor clear a unit attention
     * (REQUEST SENSE returns it as its data instead). */
    return opcode == SCSI_OP_INQUIRY || opcode == SCSI_OP_REPORT_LUNS ||
           opcode == SCSI_OP_REQUEST_SENSE;
}

/*
 * Every field of a pooled request but the command's, the device
 * (req_start() sets it from its look-up), the sense buffer
 * (sense_len says what of it counts), the SG storage, the completion
 * event (idle, and set up by req_alloc()), the list links (reqlist_push()
 * sets them), residual (every completion computes it before complete())
 * and data_in (NULL on every request not in flight: only the bus sets it,
 * and clears it before complete(); data_in_len counts only with it), one
 * store each: cheaper than clearing the whole request and then filling it
 * in.
 */
static inline __attribute__((always_inline)) void
req_init_state(SCSIRequest *req, SCSIBus *bus, void *hba_private)
{
    req->bus = bus;
    req->hba_private = hba_private;

    req->host_status = SCSI_HOST_OK;
    req->status = SCSI_STATUS_GOOD;
    req->sense_len = 0;
    req->transferred = 0;
    req->overrun = 0;

    req->dev_private = NULL;
    req->in_flight = true;
}

/* The command copied in, and the rest as req_init_state() sets it. */
static inline __attribute__((always_inline)) void
req_init(SCSIRequest *req, SCSIBus *bus, const SCSICommand *cmd,
         void *hba_private)
{
    req->target = cmd->target;
    req->lun = cmd->lun;
    req->initiator = cmd->initiator;
    req->tag = cmd->tag;
    req->attr = cmd->attr;
    scsi_req_set_cdb(req, cmd->cdb, cmd->cdb_len);
    req->dir = cmd->dir;
    req_set_sg(req, cmd->sg, cmd->nsg);
    req_init_state(req, bus, hba_private);
}

/* Inline into every way of submitting: the path of every command. */
static inline __attribute__((always_inline)) void req_start(SCSIBus *bus,
                                                            SCSIRequest *req)
{
    SCSIDevice *dev;
    SCSISense ua;

    TRACE(scsi_req_submit,
          "tag=0x%" PRIx64 " %s %u:%u op=0x%02x dir=%d "
          "sg=%" PRIu64 " init=%u",
          req->tag, bus->name, req->target, req->lun, req->cdb[0], req->dir,
          req->sg_len, req->initiator);

    dev = scsi_device_find(bus, req->target, req->lun);
    req->dev = dev;
    if (!dev) {
        reqlist_push(&bus->orphans, req);
        if (!target_exists(bus, req->target)) {
            req->host_status = SCSI_HOST_NO_TARGET;
        } else if (!req->cdb_len) {
            scsi_req_invalid_field(req, 0, -1);
        } else {
            no_lun_command(req);
        }
        scsi_req_schedule(req, 0);
        return;
    }
    reqlist_push(&dev->requests, req);
    if (!req->cdb_len) {
        scsi_req_invalid_field(req, 0, -1);
        scsi_req_schedule(req, 0);
        return;
    }
    /* Fault injection may answer the command itself (status faults) or
     * arm what it does next (a backend or DMA error, a unit attention). */
    if (fault_scsi_submit(req)) {
        scsi_req_schedule(req, 0);
        return;
    }
    /* The usual answer, no unit attention known, first. */
    if (!ua_none_known(dev, req->initiator) && !ua_exempt(req->cdb[0]) &&
        scsi_device_take_ua(dev, req->initiator, &ua)) {
        scsi_req_check_condition(req, ua);
        scsi_req_schedule(req, 0);
        return;
    }
    if (dev->ops->start) {
        req_schedule(req, dev->ops->start(dev, req));
        return;
    }
    dev->ops->submit(dev, req);
    g_assert(req->in_run || event_pending(&req->done_ev));
}

static inline __attribute__((always_inline)) void
req_submit(SCSIBus *bus, SCSIRequest *req, const SCSICommand *cmd,
           void *hba_private)
{
    req_init(req, bus, cmd, hba_private);
    req_start(bus, req);
}

SCSIRequest *scsi_req_submit(SCSIBus *bus, const SCSICommand *cmd,
                             void *hba_private)
{
    SCSIRequest *req = req_alloc();

    req_submit(bus, req, cmd, hba_private);
    return req;
}

void scsi_req_submit_in(SCSIBus *bus, SCSIRequest *req, const SCSICommand *cmd,
                        void *hba_private)
{
    g_assert(req->hba_owned && !req->in_flight);
    req_submit(bus, req, cmd, hba_private);
}

void scsi_req_submit_prepared(SCSIBus *bus, SCSIRequest *req, void *hba_private)
{
    g_assert(req->hba_owned && !req->in_flight);
    req_init_state(req, bus, hba_private);
    req_start(bus, req);
}

static bool match_tag(SCSIRequest *req, const void *arg)
{
    const SCSIRequest *key = arg;

    return req->tag == key->tag && req->initiator == key->initiator;
}

static bool match_initiator(SCSIRequest *req, const void *arg)
{
    const SCSIRequest *key = arg;

    return req->initiator == key->initiator;
}

static bool match_target(SCSIRequest *req, const void *arg)
{
    return req->target == *(const uint32_t *)arg;
}

SCSITmfResponse scsi_bus_tmf(SCSIBus *bus, SCSITmf tmf, uint32_t target,
                             uint32_t lun, uint64_t tag, uint32_t initiator)
{
    SCSIRequest key = {.tag = tag, .initiator = initiator};
    SCSIDevice *dev;

    TRACE(scsi_tmf, "%s %u:%u tmf=%d tag=0x%" PRIx64 " init=%u", bus->name,
          target, lun, tmf, tag, initiator);
    if (tmf == SCSI_TMF_TARGET_RESET) {
        g_autoptr(GPtrArray) devs = bus_devices(bus, target);

        if (!devs->len) {
            return SCSI_TMF_RESP_INCORRECT_LUN;
        }
        abort_queue(&bus->orphans, SCSI_HOST_RESET, match_target, &target);
        for (guint i = 0; i < devs->len; i++) {
            scsi_device_reset(g_ptr_array_index(devs, i));
        }
        return SCSI_TMF_RESP_COMPLETE;
    }
    dev = scsi_device_find(bus, target, lun);
    if (!dev) {
        return SCSI_TMF_RESP_INCORRECT_LUN;
    }
    switch (tmf) {
    case SCSI_TMF_ABORT_TASK:
        abort_queue(&dev->requests, SCSI_HOST_ABORTED, match_tag, &key);
        return SCSI_TMF_RESP_COMPLETE;
    case SCSI_TMF_QUERY_TASK:
        for (SCSIRequest *r = dev->requests.head; r; r = r->next) {
            if (match_tag(r, &key)) {
                return SCSI_TMF_RESP_SUCCEEDED;
            }
        }
        return SCSI_TMF_RESP_COMPLETE;
    case SCSI_TMF_ABORT_TASK_SET:
        abort_queue(&dev->requests, SCSI_HOST_ABORTED, match_initiator, &key);
        return SCSI_TMF_RESP_COMPLETE;
    case SCSI_TMF_CLEAR_TASK_SET:
        abort_queue(&dev->requests, SCSI_HOST_ABORTED, NULL, NULL);
        return SCSI_TMF_RESP_COMPLETE;
    case SCSI_TMF_LUN_RESET:
        scsi_device_reset(dev);
        return SCSI_TMF_RESP_COMPLETE;
    default:
        return SCSI_TMF_RESP_REJECTED;
    }
}

void scsi_bus_reset(SCSIBus *bus)
{
    g_autoptr(GPtrArray) devs = bus_devices(bus, -1);

    TRACE(scsi_bus_reset, "%s", bus->name);
    abort_queue(&bus->orphans, SCSI_HOST_RESET, NULL, NULL);
    for (guint i = 0; i < devs->len; i++) {
        scsi_device_reset(g_ptr_array_index(devs, i));
    }
}
