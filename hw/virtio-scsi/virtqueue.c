/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, device side (OASIS virtio 1.2/1.3, 2.7): chain
 * walking with indirect tables, the used ring, notification suppression,
 * and the checks that keep a hostile driver from looping the device or
 * steering its DMA outside guest RAM (see virtqueue.h).
 */
#include <inttypes.h>
#include <string.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "hw/virtio-scsi/virtqueue.h"
#include "system/trace.h"

/* Break the queue: count, trace (formatting only when traced), report. */
static void G_GNUC_PRINTF(2, 3) vq_fail(VirtQueue *vq, const char *fmt, ...)
{
    bool first = !vq->broken;

    vq->broken = true;
    if (vq->guest_errors) {
        (*vq->guest_errors)++;
    }
    if (TRACE_ON(guest_error)) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        guest_error("%s: virtqueue %u: %s", vq->owner, vq->index, msg);
    } else {
        guest_error("virtqueue");
    }
    if (first && vq->on_error) {
        vq->on_error(vq, vq->opaque);
    }
}

/* Inline: with the DMA fast path a ring index access is a few
 * instructions, and the call around it cost as much again. */
static inline bool vq_read16(VirtQueue *vq, uint64_t gpa, uint16_t *v)
{
    uint8_t b[2];

    if (G_UNLIKELY(!pci_dma_read(vq->dev, gpa, b, sizeof(b)))) {
        vq_fail(vq, "ring read at 0x%" PRIx64 " failed", gpa);
        return false;
    }
    *v = pci_get_word(b);
    return true;
}

static inline bool vq_write16(VirtQueue *vq, uint64_t gpa, uint16_t v)
{
    uint8_t b[2];

    pci_set_word(b, v);
    if (G_UNLIKELY(!pci_dma_write(vq->dev, gpa, b, sizeof(b)))) {
        vq_fail(vq, "ring write at 0x%" PRIx64 " failed", gpa);
        return false;
    }
    return true;
}

void vq_init(VirtQueue *vq, PCIDevice *dev, const char *owner, uint16_t index,
             uint16_t max_size, uint64_t *guest_errors)
{
    g_assert(max_size >= 1 && max_size <= VIRTQ_SIZE_MAX_SPLIT &&
             (max_size & (max_size - 1)) == 0);
    memset(vq, 0, sizeof(*vq));
    vq->dev = dev;
    vq->owner = owner;
    vq->index = index;
    vq->max_size = max_size;
    vq->guest_errors = guest_errors;
    vq_reset(vq);
}

void vq_reset(VirtQueue *vq)
{
    vq->size = vq->max_size;
    vq->msix_vector = VIRTIO_MSI_NO_VECTOR;
    vq->enabled = false;
    vq->desc = vq->avail = vq->used = 0;
    vq->event_idx = vq->indirect = false;
    vq->last_avail_idx = 0;
    vq->shadow_avail_idx = 0;
    vq->used_idx = 0;
    vq->published_idx = 0;
    vq->ahead_n = 0;
    vq->signalled_used = 0;
    vq->signalled_valid = false;
    vq->broken = false;
    vq->irq_wanted = false;
    vq->quiet_gen = vq->loud_gen = 0;
}

bool vq_validate(VirtQueue *vq)
{
    vq->quiet_gen = vq->loud_gen = 0; /* the rings may have moved */
    if ((vq->desc % VIRTQ_DESC_ALIGN) || (vq->avail % VIRTQ_AVAIL_ALIGN) ||
        (vq->used % VIRTQ_USED_ALIGN)) {
        vq_fail(vq,
                "misaligned areas: desc 0x%" PRIx64 " avail 0x%" PRIx64
                " used 0x%" PRIx64 " (2.7: 16, 2 and 4 bytes)",
                vq->desc, vq->avail, vq->used);
        return false;
    }
    if (!ram_ptr(vq->desc, VIRTQ_DESC_TABLE_SIZE(vq->size)) ||
        !ram_ptr(vq->avail, VIRTQ_AVAIL_SIZE(vq->size)) ||
        !ram_ptr(vq->used, VIRTQ_USED_SIZE(vq->size))) {
        vq_fail(vq,
                "areas outside guest RAM: desc 0x%" PRIx64 " avail 0x%" PRIx64
                " used 0x%" PRIx64 " for %u entries",
                vq->desc, vq->avail, vq->used, vq->size);
        return false;
    }
    return true;
}

bool vq_rings_check(VirtQueue *vq)
{
    const uint32_t dma = BND_BIT(BND_DMA_READ) | BND_BIT(BND_DMA_WRITE);
    uint64_t desc = VIRTQ_DESC_TABLE_SIZE(vq->size);
    uint64_t avail = VIRTQ_AVAIL_SIZE(vq->size);
    uint64_t used = VIRTQ_USED_SIZE(vq->size);
    /* An area outside RAM (a queue that failed vq_validate()) is never
     * quiet; bnd_dma_quiet_covers() holds for ranges in RAM only. */
    bool quiet =
        ram_range_ok(vq->desc, desc) && ram_range_ok(vq->avail, avail) &&
        ram_range_ok(vq->used, used) && !(bnd_before_kinds & dma) &&
        (!(bnd_after_kinds & dma) || (bnd_dma_quiet_covers(vq->desc, desc) &&
                                      bnd_dma_quiet_covers(vq->avail, avail) &&
                                      bnd_dma_quiet_covers(vq->used, used)));

    if (quiet) {
        vq->quiet_gen = bnd_dma_gen;
    } else {
        vq->loud_gen = bnd_dma_gen;
    }
    return quiet;
}

bool vq_avail_count(VirtQueue *vq, uint16_t *count)
{
    uint16_t idx;

    if (vq->broken || !vq_read16(vq, vq->avail + VIRTQ_AVAIL_IDX, &idx)) {
        return false;
    }
    *count = (uint16_t)(idx - vq->last_avail_idx);
    vq->shadow_avail_idx = idx;
    if (*count > vq->size) {
        /* 2.7.13: the driver cannot have more heads out than entries. */
        vq_fail(vq,
                "available index %u is %u entries past %u, more than "
                "the queue size %u",
                idx, *count, vq->last_avail_idx, vq->size);
        return false;
    }
    return true;
}

static inline void vq_decode_desc(const uint8_t *raw, VirtqDesc *d)
{
    d->addr = pci_get_quad(raw + offsetof(VirtqDesc, addr));
    d->len = pci_get_long(raw + offsetof(VirtqDesc, len));
    d->flags = pci_get_word(raw + offsetof(VirtqDesc, flags));
    d->next = pci_get_word(raw + offsetof(VirtqDesc, next));
}

/*
 * A DMA read of [@gpa, @gpa + @len), which lies in RAM at @host (the
 * caller checked it with ram_ptr(), now or when it took the range from
 * the ring: RAM does not move), done where the bytes are: when no hook
 * may answer a DMA read, the hooks after it see the same crossing as
 * pci_dma_read()'s (address, length, bytes) and only the copy is saved.
 * NULL when a hook may answer it or bus mastering is off: the caller
 * then copies with pci_dma_read(). The bytes cannot change while the
 * caller uses them: no guest code runs before it is done.
 */
static inline __attribute__((always_inline)) const uint8_t *
vq_map_read(VirtQueue *vq, uint64_t gpa, const uint8_t *host, uint64_t len)
{
    if (G_UNLIKELY(!pci_bus_master_enabled(vq->dev) ||
                   (bnd_before_kinds & BND_BIT(BND_DMA_READ)))) {
        return NULL;
    }
    dma_done_inline(BND_DMA_READ, gpa, host, len);
    return host;
}

static bool vq_read_desc(VirtQueue *vq, uint64_t table, unsigned i,
                         VirtqDesc *d)
{
    uint8_t raw[sizeof(VirtqDesc)];
    uint64_t gpa = table + (uint64_t)i * sizeof(VirtqDesc);

    if (!pci_dma_read(vq->dev, gpa, raw, sizeof(raw))) {
        vq_fail(vq, "descriptor read at 0x%" PRIx64 " failed", gpa);
        return false;
    }
    vq_decode_desc(raw, d);
    return true;
}

/*
 * Read a whole indirect table (@len bytes, in RAM: checked) with one DMA:
 * every entry of it is the driver's description of this chain
 * (2.7.5.3), and one transfer costs less than one per descriptor.
 */
static const uint8_t *vq_read_indirect(VirtQueue *vq, uint64_t gpa,
                                       const uint8_t *in_ram, uint32_t len)
{
    const uint8_t *host = vq_map_read(vq, gpa, in_ram, len);

    if (G_LIKELY(host)) {
        return host;
    }
    if (len > vq->ind_cap) {
        g_free(vq->ind_buf);
        vq->ind_cap = MAX((size_t)len, 16 * sizeof(VirtqDesc));
        vq->ind_buf = g_malloc(vq->ind_cap);
    }
    if (!pci_dma_read(vq->dev, gpa, vq->ind_buf, len)) {
        vq_fail(vq, "indirect table read at 0x%" PRIx64 " failed", gpa);
        return NULL;
    }
    return vq->ind_buf;
}

/* Room for @need segments in @e. */
static inline void elem_reserve(VirtQueueElement *e, unsigned need)
{
    if (G_UNLIKELY(need > e->sg_cap)) {
        unsigned cap = e->sg_cap ? e->sg_cap : 8;

        while (cap < need) {
            cap *= 2;
        }
        e->sg_cap = cap;
        e->sg = g_renew(DmaSgEntry, e->sg, cap);
    }
}

/*
 * A chain being walked: what the checks of later descriptors depend on,
 * and the element's counts and segment array as locals, stored into the
 * element once at the end (vq_walk_end()). The build does not assume
 * strict aliasing, so the element's fields, updated in place, were
 * loaded and stored again around every segment written.
 */
typedef struct VqWalk {
    uint16_t head;
    bool seen_writable;
    unsigned ndesc;
    uint64_t total;
    DmaSgEntry *sg; /* the element's, room reserved by the caller */
    unsigned n_out, n_in;
    uint64_t out_len, in_len;
} VqWalk;

/* The element's counts, from a walk (vq_walk_end()) or the fast pop. */
static inline __attribute__((always_inline)) void
elem_set_counts(VirtQueueElement *e, unsigned n_out, unsigned n_in,
                uint64_t out_len, uint64_t in_len)
{
    e->n_out = n_out;
    e->n_in = n_in;
    e->out_len = out_len;
    e->in_len = in_len;
}

static inline __attribute__((always_inline)) void
vq_walk_end(const VqWalk *w, VirtQueueElement *e)
{
    elem_set_counts(e, w->n_out, w->n_in, w->out_len, w->in_len);
}

/*
 * One buffer descriptor (not INDIRECT) of the chain: the checks every one
 * passes, in this order, then its segment (room reserved by the caller).
 */
static inline __attribute__((always_inline)) bool
vq_take_desc(VirtQueue *vq, VqWalk *w, const VirtqDesc *d, bool count)
{
    if (count && ++w->ndesc > vq->size) {
        vq_fail(vq, "chain at head %u is longer than the queue size %u",
                w->head, vq->size);
        return false;
    }
    if (d->flags & VIRTQ_DESC_F_WRITE) {
        w->seen_writable = true;
    } else if (w->seen_writable) {
        /* 2.7.4.2: readable elements come first. */
        vq_fail(vq,
                "chain at head %u: device-readable buffer after a "
                "device-writable one",
                w->head);
        return false;
    }
    w->total += d->len;
    if (w->total > UINT32_MAX) {
        vq_fail(vq, "chain at head %u is longer than 2^32 bytes", w->head);
        return false;
    }
    if (d->len) {
        DmaSgEntry *sg;

        if (!ram_range_ok(d->addr, d->len)) {
            vq_fail(vq,
                    "chain at head %u: buffer 0x%" PRIx64 "+%u "
                    "outside guest RAM",
                    w->head, d->addr, d->len);
            return false;
        }
        sg = &w->sg[w->n_out + w->n_in];
        sg->addr = d->addr;
        sg->len = d->len;
        if (d->flags & VIRTQ_DESC_F_WRITE) {
            w->n_in++;
            w->in_len += d->len;
        } else {
            w->n_out++;
            w->out_len += d->len;
        }
    }
    return true;
}

/*
 * The rest of the chain in an indirect table of @n entries (checked to be
 * at most the queue size), from its entry 0. Each entry is visited at
 * most once, which stops loops; room for every entry's segment is made
 * once, as the walk cannot take more.
 */
static inline __attribute__((always_inline)) bool
vq_walk_table_loop(VirtQueue *vq, VqWalk *w, const uint8_t *ind, unsigned n,
                   bool count)
{
    unsigned i = 0;
    VirtqDesc d;

    for (unsigned visits = n;; visits--) {
        if (visits == 0) {
            vq_fail(vq,
                    "chain at head %u loops (more than %u descriptors in "
                    "one table)",
                    w->head, n);
            return false;
        }
        vq_decode_desc(ind + (size_t)i * sizeof(VirtqDesc), &d);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            vq_fail(vq,
                    "chain at head %u: indirect descriptor inside an "
                    "indirect table",
                    w->head);
            return false;
        }
        if (!vq_take_desc(vq, w, &d, count)) {
            return false;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT)) {
            return true;
        }
        if (d.next >= n) {
            vq_fail(vq,
                    "chain at head %u: next index %u out of range (%u "
                    "entries)",
                    w->head, d.next, n);
            return false;
        }
        i = d.next;
    }
}

static bool vq_walk_table(VirtQueue *vq, VqWalk *w, VirtQueueElement *e,
                          const uint8_t *ind, unsigned n)
{
    bool ok;

    elem_reserve(e, w->n_out + w->n_in + n);
    w->sg = e->sg;
    /* The table is visited at most @n times: when the descriptors before
     * it leave room for @n more, the chain cannot outgrow the queue and
     * the count need not be kept (the usual chain: an indirect head). */
    if (w->ndesc + n <= vq->size) {
        ok = vq_walk_table_loop(vq, w, ind, n, false);
    } else {
        ok = vq_walk_table_loop(vq, w, ind, n, true);
    }
    vq_walk_end(w, e);
    return ok;
}

/*
 * Descriptor @i of the ring's table, decoded. The table was checked to
 * lie in RAM when the queue was enabled (vq_validate(); the areas cannot
 * change while it is) and @i is below the queue size, so it is read in
 * place when no hook may answer a DMA read.
 */
static inline __attribute__((always_inline)) bool
vq_ring_desc(VirtQueue *vq, unsigned i, VirtqDesc *d)
{
    uint64_t gpa = vq->desc + (uint64_t)i * sizeof(VirtqDesc);
    const uint8_t *raw;

    if (G_LIKELY(vq_rings_quiet(vq) && pci_bus_master_enabled(vq->dev))) {
        bnd_counts[BND_DMA_READ]++; /* all a hook-free DMA read does */
        vq_decode_desc(ram_base + gpa, d);
        return true;
    }
    raw = vq_map_read(vq, gpa, ram_base + gpa, sizeof(*d));
    if (G_UNLIKELY(!raw)) {
        return vq_read_desc(vq, vq->desc, i, d);
    }
    vq_decode_desc(raw, d);
    return true;
}

/*
 * A buffer of @len bytes at @gpa that is not empty and lies in RAM of
 * @ram (ram_size, which a caller checking several buffers loads once: the
 * build does not assume strict aliasing, so the segment stores between
 * the checks would reload it): ram_range_ok() with the empty buffer
 * refused. @len is below 2^32, so the end wraps past 2^64 exactly when
 * it is not above @gpa, as it is not when @len is 0: one compare for
 * both, and the end within RAM puts @gpa there too.
 */
static inline __attribute__((always_inline)) bool
buf_in_ram(uint64_t gpa, uint32_t len, uint64_t ram)
{
    uint64_t end = gpa + len;

    return gpa < end && end <= ram;
}

/*
 * Whether @d, an INDIRECT descriptor of the ring's table, names a table
 * the walk may read: every test of vq_walk_chain() at once, which tells
 * the failures apart only when one fails.
 */
static inline __attribute__((always_inline)) bool
vq_indirect_ok(const VirtQueue *vq, const VirtqDesc *d, uint64_t ram)
{
    return vq->indirect && !(d->flags & VIRTQ_DESC_F_NEXT) &&
           d->len % sizeof(VirtqDesc) == 0 &&
           d->len <= vq->size * sizeof(VirtqDesc) &&
           buf_in_ram(d->addr, d->len, ram);
}

/*
 * Walk the chain at @head. Two budgets bound the walk: each table (the
 * ring's, then at most one indirect table) is visited at most once per
 * entry, which stops loops; and the chain may not describe more buffers
 * than the queue has entries (2.7.5.3.1).
 */
static bool vq_walk_chain(VirtQueue *vq, uint16_t head, VirtQueueElement *e)
{
    VqWalk w = {.head = head};
    unsigned visits = vq->size;
    unsigned i = head;
    VirtqDesc d;

    e->head = head;
    for (;;) {
        if (visits == 0) {
            vq_fail(vq,
                    "chain at head %u loops (more than %u descriptors in "
                    "one table)",
                    head, vq->size);
            break;
        }
        visits--;
        if (!vq_ring_desc(vq, i, &d)) {
            break;
        }
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            const uint8_t *ind;

            if (G_LIKELY(vq_indirect_ok(vq, &d, ram_size))) {
                /* The WRITE flag of the table descriptor is ignored
                 * (2.7.5.3.2). */
                ind = vq_read_indirect(vq, d.addr, ram_base + d.addr, d.len);
                if (!ind) {
                    break;
                }
                return vq_walk_table(vq, &w, e, ind, d.len / sizeof(VirtqDesc));
            }
            if (!vq->indirect) {
                vq_fail(vq,
                        "chain at head %u: indirect descriptor without "
                        "VIRTIO_F_INDIRECT_DESC",
                        head);
                break;
            }
            if (d.flags & VIRTQ_DESC_F_NEXT) {
                vq_fail(vq, "chain at head %u: INDIRECT together with NEXT",
                        head);
                break;
            }
            if (d.len == 0 || d.len % sizeof(VirtqDesc) ||
                d.len / sizeof(VirtqDesc) > vq->size) {
                vq_fail(vq,
                        "chain at head %u: indirect table of %u bytes "
                        "(a multiple of 16, at most %u entries)",
                        head, d.len, vq->size);
                break;
            }
            vq_fail(vq,
                    "chain at head %u: indirect table 0x%" PRIx64
                    "+%u outside guest RAM",
                    head, d.addr, d.len);
            break;
        }
        elem_reserve(e, w.n_out + w.n_in + 1);
        w.sg = e->sg;
        if (!vq_take_desc(vq, &w, &d, true)) {
            break;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT)) {
            vq_walk_end(&w, e);
            return true;
        }
        if (d.next >= vq->size) {
            vq_fail(vq,
                    "chain at head %u: next index %u out of range (%u "
                    "entries)",
                    head, d.next, vq->size);
            break;
        }
        i = d.next;
    }
    vq_walk_end(&w, e);
    return false;
}

/*
 * The usual chain, taken in one pass: an INDIRECT head whose table lists
 * its buffers in order (entry i + 1 after entry i), none empty, the
 * readable ones first, all in RAM, with the rings quiet, bus mastering
 * on (@bus_master, see vq_pop_batch()) and room for the segments in @e
 * (the element's first pop makes it). Anything else (false) takes
 * vq_walk_chain(), which finds the same chain or tells what is wrong
 * with it: nothing a caller or the walk
 * reads has changed by then, no crossing has been counted or shown, and
 * the element's segments are the walk's to write again. Entries visited
 * in order cannot loop, and the table's at most queue-size entries of
 * at most 2^32 - 1 bytes cannot overflow the total. The table is read in
 * place before its crossing is shown: after-hooks only look at it, and
 * no guest code runs in between.
 */
static inline __attribute__((always_inline)) bool
vq_pop_fast(VirtQueue *vq, uint16_t head, VirtQueueElement *e, bool bus_master)
{
    uint64_t total = 0, out_len = 0, gpa;
    unsigned n_out = 0, n, i;
    const uint8_t *ind;
    DmaSgEntry *sg;
    VirtqDesc d, t;

    /* Quiet rings also mean no before-hook on DMA reads (vq_rings_check()),
     * so the table may be read in place like vq_map_read() does. */
    if (G_UNLIKELY(!bus_master || !vq_rings_quiet(vq))) {
        return false;
    }
    vq_decode_desc(ram_base + vq->desc + (uint64_t)head * sizeof(VirtqDesc),
                   &d);
    n = d.len / sizeof(VirtqDesc);
    /* No allocation here: the element's first pop takes the walk, which
     * makes the room, and the usual pop keeps a call off its path. */
    if (G_UNLIKELY(!(d.flags & VIRTQ_DESC_F_INDIRECT) ||
                   !vq_indirect_ok(vq, &d, ram_size) || n > e->sg_cap)) {
        return false;
    }
    /* Only the table's address and @n stay live through the loop: the
     * rest of what it ends with is worked out from them again, which costs
     * less than the registers saved and spilled for it (ram_size too is
     * read where it is tested, not kept). The walk sets the head again if
     * the loop gives up. */
    gpa = d.addr;
    ind = ram_base + gpa;
    e->head = head;
    sg = e->sg;
    for (i = 0;; i++) {
        vq_decode_desc(ind + (size_t)i * sizeof(VirtqDesc), &t);
        if (G_UNLIKELY((t.flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE)) ||
                       !buf_in_ram(t.addr, t.len, ram_size))) {
            return false;
        }
        /* The two halves of the segment stored on either side of a
         * branch: stored together, gcc pairs them in a vector register,
         * two instructions more. */
        sg[i].addr = t.addr;
        if (!(t.flags & VIRTQ_DESC_F_WRITE)) {
            if (G_UNLIKELY(n_out != i)) {
                return false;
            }
            n_out++;
            out_len += t.len;
        }
        sg[i].len = t.len;
        total += t.len;
        if (!(t.flags & VIRTQ_DESC_F_NEXT)) {
            break;
        }
        if (G_UNLIKELY(t.next != i + 1 || i + 1 >= n)) {
            return false;
        }
    }
    if (G_UNLIKELY(total > UINT32_MAX)) {
        return false;
    }
    bnd_counts[BND_DMA_READ]++; /* the head, as vq_ring_desc() counts it */
    dma_done_inline(BND_DMA_READ, gpa, ram_base + gpa,
                    n * (uint32_t)sizeof(VirtqDesc));
    elem_set_counts(e, n_out, i + 1 - n_out, out_len, total - out_len);
    return true;
}

/*
 * Read the available entries from last_avail_idx up to the driver's index
 * as last read (at most to the ring's end and VQ_AHEAD_MAX) in one DMA:
 * a batch of requests costs one ring read, not one per request.
 */
static G_GNUC_NO_INLINE bool vq_read_ahead(VirtQueue *vq)
{
    unsigned slot = vq->last_avail_idx % vq->size;
    unsigned n = (uint16_t)(vq->shadow_avail_idx - vq->last_avail_idx);
    uint8_t raw[VQ_AHEAD_MAX * 2];
    uint64_t gpa = vq->avail + VIRTQ_AVAIL_RING(slot);

    n = MIN(MIN(n, vq->size - slot), VQ_AHEAD_MAX);
    if (G_UNLIKELY(!pci_dma_read(vq->dev, gpa, raw, 2 * n))) {
        vq_fail(vq, "ring read at 0x%" PRIx64 " failed", gpa);
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        vq->ahead[i] = pci_get_word(raw + 2 * i);
    }
    vq->ahead_pos = 0;
    vq->ahead_n = (uint16_t)n;
    return true;
}

/* A chain taken: the bookkeeping of every pop. */
static inline __attribute__((always_inline)) VqPopResult
vq_pop_done(VirtQueue *vq, uint16_t head, const VirtQueueElement *elem)
{
    vq->last_avail_idx++;
    vq->pops++;
    TRACE(virtqueue_pop, "%s q%u head=%u out=%" PRIu64 "/%u in=%" PRIu64 "/%u",
          vq->owner, vq->index, head, elem->out_len, elem->n_out, elem->in_len,
          elem->n_in);
    return VQ_POP_OK;
}

/* The chain at @head, taken off the ring, when vq_pop_fast() cannot take
 * it: out of line, so that the usual pop makes no call. */
static G_GNUC_NO_INLINE VqPopResult vq_pop_walk(VirtQueue *vq, uint16_t head,
                                                VirtQueueElement *elem)
{
    if (head >= vq->size) {
        vq_fail(vq,
                "available ring entry %u names head %u, past the %u "
                "descriptors",
                vq->last_avail_idx, head, vq->size);
        return VQ_POP_ERROR;
    }
    if (!vq_walk_chain(vq, head, elem)) {
        return VQ_POP_ERROR;
    }
    return vq_pop_done(vq, head, elem);
}

VqPopResult vq_pop_batch(VirtQueue *vq, VirtQueueElement *elem, bool bus_master)
{
    uint16_t avail, head;

    if (vq->broken) {
        return VQ_POP_ERROR;
    }
    /* Entries seen at the last read of the driver's index are taken
     * without reading it again. */
    if (vq->last_avail_idx == vq->shadow_avail_idx) {
        if (!vq_avail_count(vq, &avail)) {
            return VQ_POP_ERROR;
        }
        if (avail == 0) {
            return VQ_POP_EMPTY;
        }
    }
    if (!vq->ahead_n && !vq_read_ahead(vq)) {
        return VQ_POP_ERROR;
    }
    head = vq->ahead[vq->ahead_pos++];
    vq->ahead_n--;
    if (G_LIKELY(head < vq->size && vq_pop_fast(vq, head, elem, bus_master))) {
        return vq_pop_done(vq, head, elem);
    }
    return vq_pop_walk(vq, head, elem);
}

VqPopResult vq_pop(VirtQueue *vq, VirtQueueElement *elem)
{
    return vq_pop_batch(vq, elem, pci_bus_master_enabled(vq->dev));
}

/*
 * pci_dma_write() (@write) or pci_dma_read() of [@gpa, @gpa + @len),
 * which lies in RAM at @host (checked by the caller): the same crossing
 * without testing the range again.
 */
static inline __attribute__((always_inline)) bool
vq_dma_ram(VirtQueue *vq, bool write, uint64_t gpa, uint8_t *host, uint8_t *buf,
           uint64_t len)
{
    BndKind kind = write ? BND_DMA_WRITE : BND_DMA_READ;

    if (G_LIKELY(pci_bus_master_enabled(vq->dev) &&
                 !(bnd_before_kinds & BND_BIT(kind)))) {
        if (write) {
            memcpy(host, buf, len);
        } else {
            memcpy(buf, host, len);
        }
        dma_done_inline(kind, gpa, buf, len);
        return true;
    }
    return write ? pci_dma_write(vq->dev, gpa, buf, len)
                 : pci_dma_read(vq->dev, gpa, buf, len);
}

/* Inline: vq_respond() does it right after the response, in one call. */
static inline __attribute__((always_inline)) bool
vq_push_inline(VirtQueue *vq, uint16_t head, uint32_t len)
{
    uint8_t el[sizeof(VirtqUsedElem)];
    uint64_t gpa;

    if (G_LIKELY(vq_rings_quiet(vq) && pci_bus_master_enabled(vq->dev))) {
        vq_used_put(vq, head, len);
        return true;
    }
    gpa = vq_used_elem_gpa(vq);
    pci_set_long(el + offsetof(VirtqUsedElem, id), head);
    pci_set_long(el + offsetof(VirtqUsedElem, len), len);
    if (!vq_dma_ram(vq, true, gpa, ram_base + gpa, el, sizeof(el))) {
        vq_fail(vq, "used ring write at 0x%" PRIx64 " failed", gpa);
        return false;
    }
    vq_used_done(vq, head, len);
    return true;
}

void vq_trace_push(const VirtQueue *vq, uint16_t head, uint32_t len)
{
    TRACE(virtqueue_push, "%s q%u head=%u len=%u used_idx=%u", vq->owner,
          vq->index, head, len, vq->used_idx);
}

bool vq_push(VirtQueue *vq, uint16_t head, uint32_t len)
{
    return vq_push_inline(vq, head, len);
}

bool vq_publish(VirtQueue *vq)
{
    /*
     * 2.7.8.2: the elements (and the buffer contents before them) must be
     * visible before the index that publishes them: on a multi-threaded
     * host this is a store-release of idx. The machine is one thread and
     * the driver only runs between events, so program order suffices; the
     * index is written once for all the elements pushed since the last
     * time (the transport's interrupt event, which runs after every
     * completion due at that instant), as a device may (2.7.8.2).
     */
    if (vq->published_idx == vq->used_idx || vq->broken) {
        return !vq->broken;
    }
    if (!vq_write16(vq, vq->used + VIRTQ_USED_IDX, vq->used_idx)) {
        return false;
    }
    vq->published_idx = vq->used_idx;
    return true;
}

bool vq_should_notify(VirtQueue *vq)
{
    uint16_t v;

    vq->irq_wanted = false;
    if (vq->event_idx) {
        uint16_t old = vq->signalled_used;
        uint16_t now = vq->used_idx;
        bool valid = vq->signalled_valid;

        vq->signalled_used = now;
        vq->signalled_valid = true;
        if (!valid) {
            return true;
        }
        if (!vq_read16(vq, vq->avail + VIRTQ_AVAIL_USED_EVENT(vq->size), &v)) {
            return false;
        }
        /* 2.7.10: notify when the used index moved past used_event, i.e.
         * used_event lies in [old, now). */
        return (uint16_t)(now - v - 1) < (uint16_t)(now - old);
    }
    if (!vq_read16(vq, vq->avail + VIRTQ_AVAIL_FLAGS, &v)) {
        return false;
    }
    return !(v & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void vq_update_avail_event(VirtQueue *vq)
{
    if (vq->event_idx && !vq->broken) {
        vq_write16(vq, vq->used + VIRTQ_USED_AVAIL_EVENT(vq->size),
                   vq->last_avail_idx);
    }
}

/* Copy between @buf and bytes [@off, @off + @len) of one part. */
static bool elem_copy_walk(VirtQueue *vq, const VirtQueueElement *e,
                           bool writable, uint64_t off, uint8_t *buf,
                           uint64_t len)
{
    unsigned first = writable ? e->n_out : 0;
    unsigned n = writable ? e->n_in : e->n_out;

    for (unsigned k = 0; k < n && len; k++) {
        const DmaSgEntry *s = &e->sg[first + k];
        uint64_t chunk;
        bool ok;

        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        chunk = MIN(s->len - off, len);
        ok = writable ? pci_dma_write(vq->dev, s->addr + off, buf, chunk)
                      : pci_dma_read(vq->dev, s->addr + off, buf, chunk);
        if (!ok) {
            vq_fail(vq, "buffer %s at 0x%" PRIx64 " failed",
                    writable ? "write" : "read", s->addr + off);
            return false;
        }
        buf += chunk;
        len -= chunk;
        off = 0;
    }
    g_assert(len == 0);
    return true;
}

/*
 * Copy [@off, @off + @len) of the element's readable (@writable false) or
 * writable part. Drivers put a request header, and the response, in a
 * buffer of its own: when the range lies in the part's first segment it
 * is one DMA without the walk.
 */
static inline __attribute__((always_inline)) bool
elem_copy(VirtQueue *vq, const VirtQueueElement *e, bool writable, uint64_t off,
          uint8_t *buf, uint64_t len)
{
    unsigned first = writable ? e->n_out : 0;
    unsigned n = writable ? e->n_in : e->n_out;
    const DmaSgEntry *s = &e->sg[first];

    if (n && len && off < s->len && len <= s->len - off) {
        uint64_t gpa = s->addr + off;
        /* Checked to lie in RAM when the chain was popped. */
        bool ok = vq_dma_ram(vq, writable, gpa, ram_base + gpa, buf, len);
        if (G_UNLIKELY(!ok)) {
            vq_fail(vq, "buffer %s at 0x%" PRIx64 " failed",
                    writable ? "write" : "read", gpa);
        }
        return ok;
    }
    return elem_copy_walk(vq, e, writable, off, buf, len);
}

bool vq_elem_read(VirtQueue *vq, const VirtQueueElement *elem, uint64_t off,
                  void *buf, uint64_t len)
{
    g_assert(off <= elem->out_len && len <= elem->out_len - off);
    return elem_copy(vq, elem, false, off, buf, len);
}

bool vq_elem_write(VirtQueue *vq, const VirtQueueElement *elem, uint64_t off,
                   const void *buf, uint64_t len)
{
    g_assert(off <= elem->in_len && len <= elem->in_len - off);
    return elem_copy(vq, elem, true, off, (uint8_t *)buf, len);
}

bool vq_respond(VirtQueue *vq, const VirtQueueElement *elem, const void *buf,
                uint32_t len, uint32_t used)
{
    g_assert(len <= elem->in_len);
    return elem_copy(vq, elem, true, 0, (uint8_t *)buf, len) &&
           vq_push_inline(vq, elem->head, used);
}

const uint8_t *vq_elem_peek_copy(VirtQueue *vq, const VirtQueueElement *elem,
                                 void *buf, uint64_t len)
{
    g_assert(len <= elem->out_len);
    return elem_copy(vq, elem, false, 0, buf, len) ? buf : NULL;
}

unsigned vq_elem_slice(const VirtQueueElement *elem, bool writable,
                       uint64_t skip, DmaSgEntry **sg, unsigned *cap)
{
    unsigned first = writable ? elem->n_out : 0;
    unsigned n = writable ? elem->n_in : elem->n_out;
    unsigned out = 0;

    for (unsigned k = 0; k < n; k++) {
        const DmaSgEntry *s = &elem->sg[first + k];

        if (skip >= s->len) {
            skip -= s->len;
            continue;
        }
        if (out == *cap) {
            *cap = MAX(8u, *cap * 2);
            *sg = g_renew(DmaSgEntry, *sg, *cap);
        }
        (*sg)[out].addr = s->addr + skip;
        (*sg)[out].len = s->len - skip;
        out++;
        skip = 0;
    }
    return out;
}

void vq_elem_free(VirtQueueElement *elem)
{
    g_free(elem->sg);
    elem->sg = NULL;
    elem->sg_cap = 0;
}

void vq_fini(VirtQueue *vq)
{
    g_free(vq->ind_buf);
    vq->ind_buf = NULL;
    vq->ind_cap = 0;
}
