/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, device side (OASIS virtio 1.2/1.3, 2.7): taking
 * descriptor chains off the available ring (direct and indirect, 2.7.5),
 * returning them on the used ring (2.7.8), and used-buffer notification
 * suppression by VIRTQ_AVAIL_F_NO_INTERRUPT or VIRTIO_F_EVENT_IDX
 * (2.7.7, 2.7.10).
 *
 * Everything the driver wrote is untrusted. A ring the device cannot
 * follow (an index out of range, a descriptor loop, a chain longer than
 * the queue, a total length past 2^32, a buffer outside guest RAM, a
 * device-readable buffer after a device-writable one, a malformed
 * indirect table, the available index running ahead by more than the
 * queue size) breaks the queue: the failure is a traced guest error,
 * counted, and the owner's on_error callback runs (the transport sets
 * DEVICE_NEEDS_RESET). Ring memory is reached by pci_dma_read/write, so
 * every access is bounds-checked, recorded and gated by bus mastering; a
 * chain's buffers are checked once, when it is popped (RAM does not
 * move), and their accesses are recorded and gated the same way.
 */
#ifndef HW_VIRTIO_SCSI_VIRTQUEUE_H
#define HW_VIRTIO_SCSI_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/block/dma-sg.h"
#include "hw/core/pci.h"
#include "hw/core/ram.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "system/boundary.h"
#include "system/event.h"
#include "system/trace.h"

typedef struct VirtQueue VirtQueue;

typedef enum VqPopResult {
    VQ_POP_EMPTY, /* nothing available */
    VQ_POP_OK,    /* @elem holds a chain */
    VQ_POP_ERROR, /* the queue is broken (reported) */
} VqPopResult;

/*
 * One descriptor chain: its device-readable buffers ("out") then its
 * device-writable ones ("in"), as guest-physical segments already checked
 * to lie in guest RAM. @sg grows on demand and is kept across pops, so a
 * reused element costs no allocation.
 */
typedef struct VirtQueueElement {
    uint16_t head;
    unsigned n_out;   /* sg[0 .. n_out) */
    unsigned n_in;    /* sg[n_out .. n_out + n_in) */
    uint64_t out_len; /* bytes */
    uint64_t in_len;
    DmaSgEntry *sg;
    unsigned sg_cap;
} VirtQueueElement;

struct VirtQueue {
    /* Configuration, from the common configuration registers. */
    uint16_t index;
    uint16_t size; /* a power of two, <= max_size */
    uint16_t max_size;
    uint16_t msix_vector;
    bool enabled;
    uint64_t desc;  /* descriptor area */
    uint64_t avail; /* driver area */
    uint64_t used;  /* device area */

    /* Negotiated features that change the ring's behaviour. */
    bool event_idx;
    bool indirect;

    /* Ring state. */
    uint16_t last_avail_idx;   /* next available entry to take */
    uint16_t shadow_avail_idx; /* the driver's index as last read */
    uint16_t used_idx;         /* next used entry to fill */
    uint16_t published_idx;    /* used_idx as last written to the ring */
    uint16_t signalled_used;   /* used_idx at the last notification check */
    bool signalled_valid;
    bool broken;

    /* Owner: DMA through @dev, errors counted in *@guest_errors. */
    PCIDevice *dev;
    const char *owner;
    uint64_t *guest_errors;
    void (*on_error)(VirtQueue *vq, void *opaque);
    void *opaque;

    /* Transport events: queue work after a doorbell, used interrupt. */
    Event notify_ev;
    Event irq_ev;
    bool irq_wanted; /* used entries pushed since the last check */

    uint64_t pops;
    uint64_t pushes;

    /* The bnd_dma_gen at which the rings were last found to need no hook
     * (vq_rings_quiet()), and the one at which they were found to need
     * one; 0 when not since the queue was enabled. */
    uint64_t quiet_gen, loud_gen;

    /* Available-ring entries read ahead in one DMA, for this batch only
     * (vq_batch_end() drops them): heads[ahead_pos .. ahead_pos +
     * ahead_n) are the entries from last_avail_idx on. */
#define VQ_AHEAD_MAX 64
    uint16_t ahead[VQ_AHEAD_MAX];
    uint16_t ahead_pos, ahead_n;

    /* An indirect table as read from the guest, kept for the next one. */
    uint8_t *ind_buf;
    size_t ind_cap;
};

void vq_init(VirtQueue *vq, PCIDevice *dev, const char *owner, uint16_t index,
             uint16_t max_size, uint64_t *guest_errors);
/* Back to the reset state (2.6.1): disabled, maximum size, no vector,
 * addresses 0, indices 0. Events are the transport's to cancel. */
void vq_reset(VirtQueue *vq);
/*
 * Called when the driver enables the queue: the areas must be aligned
 * (2.7, table) and lie in guest RAM. False (and the queue broken) if not.
 */
bool vq_validate(VirtQueue *vq);

/* vq_rings_quiet()'s question asked of the boundary, the answer kept. */
bool vq_rings_check(VirtQueue *vq);
/*
 * May the queue's ring accesses (descriptor table, available and used
 * rings: fixed while it is enabled) be made in place and only counted,
 * no hook wanting any DMA there? Asked again only when bnd_dma_gen moves,
 * which a compare of it answers where the hook tests of each access took
 * three times as long. Bus mastering is the caller's to test.
 */
static inline __attribute__((always_inline)) bool vq_rings_quiet(VirtQueue *vq)
{
    return G_LIKELY(vq->quiet_gen == bnd_dma_gen) ||
           (vq->loud_gen != bnd_dma_gen && vq_rings_check(vq));
}

/* Entries the driver has made available and the device has not taken;
 * reads the driver's index (vq_pop() reads it again only once the entries
 * seen here are taken). */
bool vq_avail_count(VirtQueue *vq, uint16_t *count);
VqPopResult vq_pop(VirtQueue *vq, VirtQueueElement *elem);
/* vq_pop() with @bus_master, pci_bus_master_enabled() of the queue's
 * device, asked once by a caller popping a batch in one event (see
 * vq_respond_map()): the usual chain is then taken without it. */
VqPopResult vq_pop_batch(VirtQueue *vq, VirtQueueElement *elem,
                         bool bus_master);
/* Return chain @head with @len bytes written: the used element is written
 * now, the index that publishes it by vq_publish(). False on a DMA
 * failure. */
bool vq_push(VirtQueue *vq, uint16_t head, uint32_t len);
/* vq_elem_write() of @len bytes at offset 0 of the writable part, then
 * vq_push() of the chain with @used bytes: a request's end in one call.
 * False on a DMA failure (the push is not made if the write failed). */
bool vq_respond(VirtQueue *vq, const VirtQueueElement *elem, const void *buf,
                uint32_t len, uint32_t used);
/* The virtqueue_push trace point, kept in virtqueue.c with the others
 * (the trace point list is made from the .c files). */
void vq_trace_push(const VirtQueue *vq, uint16_t head, uint32_t len);
/*
 * The bookkeeping of a used element written (vq_push(), vq_used_put()):
 * vq_publish() writes the index, the transport's event notifies.
 */
static inline __attribute__((always_inline)) void
vq_used_done(VirtQueue *vq, uint16_t head, uint32_t len)
{
    vq->used_idx++;
    vq->pushes++;
    vq->irq_wanted = true;
    if (G_UNLIKELY(trace_any)) {
        vq_trace_push(vq, head, len);
    }
}
/* Where the next used element goes. The used area was checked to lie in
 * RAM when the queue was enabled (vq_validate(); it cannot change while
 * it is) and its size is a power of two (the transport refuses any
 * other). */
static inline uint64_t vq_used_elem_gpa(const VirtQueue *vq)
{
    return vq->used + VIRTQ_USED_RING(vq->used_idx & (uint16_t)(vq->size - 1));
}
/*
 * vq_push() with the rings quiet and bus mastering on (the caller's to
 * test): the used element built in place, the crossing only counted.
 */
static inline __attribute__((always_inline)) void
vq_used_put(VirtQueue *vq, uint16_t head, uint32_t len)
{
    uint8_t *el = ram_base + vq_used_elem_gpa(vq);

    pci_set_long(el + offsetof(VirtqUsedElem, id), head);
    pci_set_long(el + offsetof(VirtqUsedElem, len), len);
    bnd_counts[BND_DMA_WRITE]++; /* all a hook-free DMA write does */
    vq_used_done(vq, head, len);
}
/*
 * Where the first @len bytes of the chain's writable part may be written
 * in place for vq_respond_mapped(): in the part's first buffer (checked to
 * lie in RAM when the chain was popped) when it holds them and no hook may
 * answer a DMA write. NULL otherwise: the caller then uses vq_respond().
 * @bus_master is pci_bus_master_enabled() of the queue's device, which a
 * caller ending a batch of requests in one event may ask once for all:
 * only a guest's configuration write changes it, and no guest code runs
 * inside an event. Nothing may cross the boundary between the two calls.
 */
static inline __attribute__((always_inline)) uint8_t *
vq_respond_map(VirtQueue *vq, const VirtQueueElement *elem, uint32_t len,
               bool bus_master)
{
    const DmaSgEntry *s = &elem->sg[elem->n_out];

    /* Quiet rings mean no before-hook on DMA writes (vq_rings_check()),
     * and the compare is the one vq_respond_mapped() makes again. */
    if (G_LIKELY(bus_master && elem->n_in && len && len <= s->len &&
                 (vq_rings_quiet(vq) ||
                  !(bnd_before_kinds & BND_BIT(BND_DMA_WRITE))))) {
        return ram_base + s->addr;
    }
    return NULL;
}
/*
 * vq_respond() of the @len bytes the caller wrote where vq_respond_map()
 * said: the write's crossing as vq_respond() makes it, then the push's.
 * Inline, with the used element built in place when no hook wants its
 * crossing: every command ends here, and the call cost as much as the
 * push. Bus mastering was on at vq_respond_map() and stays on (no guest
 * code runs in between).
 */
static inline __attribute__((always_inline)) bool
vq_respond_mapped(VirtQueue *vq, const VirtQueueElement *elem, uint32_t len,
                  uint32_t used)
{
    uint64_t gpa = elem->sg[elem->n_out].addr;

    dma_done_inline(BND_DMA_WRITE, gpa, ram_base + gpa, len);
    /* Tested after the response's crossing, whose after-hooks have run. */
    if (G_UNLIKELY(!vq_rings_quiet(vq))) {
        return vq_push(vq, elem->head, used);
    }
    vq_used_put(vq, elem->head, used);
    return true;
}
/* Write the used index once for every vq_push() since the last call
 * (2.7.8.2: after the elements). False on a DMA failure. */
bool vq_publish(VirtQueue *vq);
/* The queue's work is over for now: entries read ahead are dropped (the
 * driver may reuse the ring slots before the next doorbell). */
static inline void vq_batch_end(VirtQueue *vq)
{
    vq->ahead_n = 0;
}
/* Whether the driver wants a used-buffer notification now (2.7.7, 2.7.10);
 * to be called once per batch of vq_push(), after vq_publish(). */
bool vq_should_notify(VirtQueue *vq);
/* With EVENT_IDX, ask to be notified from the next entry on (2.7.10). */
void vq_update_avail_event(VirtQueue *vq);

/* Copy bytes at @off of the chain's readable part to @buf, or @buf to the
 * writable part. The range must lie within the part (callers check the
 * lengths first); false on a DMA failure, which breaks the queue. */
bool vq_elem_read(VirtQueue *vq, const VirtQueueElement *elem, uint64_t off,
                  void *buf, uint64_t len);
bool vq_elem_write(VirtQueue *vq, const VirtQueueElement *elem, uint64_t off,
                   const void *buf, uint64_t len);
/*
 * The first @len readable bytes (at most the part): where the driver put
 * them when they lie in its first buffer and no boundary hook may answer
 * a DMA read (the hooks after it see what vq_elem_read() shows them),
 * else copied to @buf. Valid until guest code runs or the device writes
 * guest memory. NULL on a DMA failure, which breaks the queue.
 */
const uint8_t *vq_elem_peek_copy(VirtQueue *vq, const VirtQueueElement *elem,
                                 void *buf, uint64_t len);
/* Inline: a request's header is peeked once a command, and the call and
 * its checks cost as much as the crossing. @bus_master as for
 * vq_respond_map(). */
static inline __attribute__((always_inline)) const uint8_t *
vq_elem_peek(VirtQueue *vq, const VirtQueueElement *elem, void *buf,
             uint64_t len, bool bus_master)
{
    /* A first readable buffer that holds @len bytes (the part is at least
     * @len long, so a nonzero @len means the part has one) was checked
     * to lie in RAM when the chain was popped: a DMA read in place, as
     * the hooks after it see it, when no hook may answer one. */
    if (G_LIKELY(bus_master && len && len <= elem->out_len &&
                 len <= elem->sg[0].len &&
                 !(bnd_before_kinds & BND_BIT(BND_DMA_READ)))) {
        uint64_t gpa = elem->sg[0].addr;

        dma_done_inline(BND_DMA_READ, gpa, ram_base + gpa, len);
        return ram_base + gpa;
    }
    return vq_elem_peek_copy(vq, elem, buf, len);
}
/*
 * Segments of the readable (@writable false) or writable part past its
 * first @skip bytes, into *@sg (grown as needed, *@cap entries). Returns
 * the number of segments; no data is copied.
 */
unsigned vq_elem_slice(const VirtQueueElement *elem, bool writable,
                       uint64_t skip, DmaSgEntry **sg, unsigned *cap);
/*
 * The same segments as vq_elem_slice() without a copy, when @skip ends
 * where a segment does (a driver that gives the request header or the
 * response a buffer of its own): a pointer into @elem, with *@n set, valid
 * until the element is popped again. NULL when @skip ends inside a
 * segment or past the part.
 */
static inline const DmaSgEntry *vq_elem_tail(const VirtQueueElement *elem,
                                             bool writable, uint64_t skip,
                                             unsigned *n)
{
    unsigned k = writable ? elem->n_out : 0;
    unsigned end = k + (writable ? elem->n_in : elem->n_out);

    /* The usual layout: @skip is the part's first buffer (segments are
     * never empty, so @skip 0 takes the loop's way). */
    if (k + 1 < end && elem->sg[k].len == skip) {
        *n = end - k - 1;
        return &elem->sg[k + 1];
    }
    while (skip && k < end && skip >= elem->sg[k].len) {
        skip -= elem->sg[k].len;
        k++;
    }
    if (skip || k == end) {
        return NULL;
    }
    *n = end - k;
    return &elem->sg[k];
}
void vq_elem_free(VirtQueueElement *elem);
/* Free what the queue allocated (its indirect table buffer). */
void vq_fini(VirtQueue *vq);

#endif
