/* SPDX-License-Identifier: MIT */
/*
 * The modern virtio PCI transport (OASIS virtio 1.2/1.3, 4.1): virtio
 * structure capabilities, common configuration, notifications, ISR,
 * device configuration, the PCI configuration access window, feature
 * negotiation, the device status state machine, queue configuration and
 * reset, and interrupt delivery by MSI-X or INTx. See virtio-pci.h.
 */
#include <inttypes.h>
#include <string.h>
#include "hw/core/memory.h"
#include "hw/virtio-scsi/virtio-pci.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "system/error.h"
#include "system/trace.h"

enum {
    VP_REGION_COMMON,
    VP_REGION_ISR,
    VP_REGION_DEVICE,
    VP_REGION_NOTIFY,
    VP_REGION_COUNT,
};

static const char *const region_names[VP_REGION_COUNT] = {
    "common",
    "isr",
    "device",
    "notify",
};

void virtio_pci_guest_error(VirtioPCI *vp, const char *fmt, ...)
{
    vp->guest_errors++;
    if (TRACE_ON(guest_error)) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        guest_error("%s: %s", vp->pci.name, msg);
    } else {
        guest_error("virtio");
    }
}

/* ---- interrupts (4.1.5.3, 4.1.5.4) --------------------------------------- */

static void vp_raise_intx(VirtioPCI *vp, uint8_t bits)
{
    vp->isr |= bits;
    /* With MSI-X enabled the ISR is unused and INTx stays quiet. */
    if (!msix_enabled(&vp->pci)) {
        pci_set_irq(&vp->pci, true);
    }
}

static void vp_queue_irq(VirtioPCI *vp, VirtQueue *vq)
{
    vp->interrupts++;
    if (msix_enabled(&vp->pci)) {
        TRACE(virtio_pci_irq, "%s q%u msix vector %u", vp->pci.name, vq->index,
              vq->msix_vector);
        /* 4.1.5.4: no vector mapped, no interrupt. */
        if (vq->msix_vector != VIRTIO_MSI_NO_VECTOR) {
            msix_notify(&vp->pci, vq->msix_vector);
        }
    } else {
        TRACE(virtio_pci_irq, "%s q%u intx", vp->pci.name, vq->index);
        vp_raise_intx(vp, VIRTIO_PCI_ISR_QUEUE);
    }
}

static void vp_queue_irq_ev(void *opaque)
{
    VirtQueue *vq = opaque;
    VirtioPCI *vp = vq->opaque;

    if (vq_publish(vq) && vq->irq_wanted && vq_should_notify(vq)) {
        vp_queue_irq(vp, vq);
    }
}

static void vp_config_ev(void *opaque)
{
    VirtioPCI *vp = opaque;

    vp->interrupts++;
    TRACE(virtio_pci_config_irq, "%s vector %u", vp->pci.name,
          vp->config_vector);
    /* 4.1.4.5.1: the config bit is set before any notification. */
    vp->isr |= VIRTIO_PCI_ISR_CONFIG;
    if (msix_enabled(&vp->pci)) {
        if (vp->config_vector != VIRTIO_MSI_NO_VECTOR) {
            msix_notify(&vp->pci, vp->config_vector);
        }
    } else {
        vp_raise_intx(vp, VIRTIO_PCI_ISR_CONFIG);
    }
}

/* A configuration change interrupt, from an event, once DRIVER_OK is set
 * (before it the driver reads the configuration anyway). */
static void vp_schedule_config_irq(VirtioPCI *vp)
{
    if ((vp->status & VIRTIO_STATUS_DRIVER_OK) &&
        !event_pending(&vp->config_ev)) {
        event_schedule(&vp->config_ev, vclock_now());
    }
}

void virtio_pci_config_changed(VirtioPCI *vp)
{
    vp->config_changed = true;
    vp_schedule_config_irq(vp);
}

void virtio_pci_set_needs_reset(VirtioPCI *vp)
{
    if (vp->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        return;
    }
    TRACE(virtio_pci_needs_reset, "%s status 0x%02x", vp->pci.name, vp->status);
    vp->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    /* 2.1.2: with DRIVER_OK set, tell the driver by a config change. */
    vp_schedule_config_irq(vp);
}

static void vp_vq_error(VirtQueue *vq, void *opaque)
{
    virtio_pci_set_needs_reset(opaque);
}

/* ---- queue work ---------------------------------------------------------- */

static void vp_queue_work_ev(void *opaque)
{
    VirtQueue *vq = opaque;
    VirtioPCI *vp = vq->opaque;

    if (!virtio_pci_running(vp) || !vq->enabled || vq->broken) {
        return;
    }
    vp->ops->queue_work(vp, vq->index);
    vq_batch_end(vq);
    vq_update_avail_event(vq);
}

void virtio_pci_schedule_queue(VirtioPCI *vp, unsigned q, uint64_t delay_ns)
{
    VirtQueue *vq = virtio_pci_queue(vp, q);
    uint64_t when = vclock_now() + delay_ns;

    if (vq && (!event_pending(&vq->notify_ev) || vq->notify_ev.when > when)) {
        event_schedule(&vq->notify_ev, when);
    }
}

static void vp_sync_queue_features(VirtioPCI *vp, VirtQueue *vq)
{
    vq->event_idx = virtio_pci_has_feature(vp, VIRTIO_F_EVENT_IDX);
    vq->indirect = virtio_pci_has_feature(vp, VIRTIO_F_INDIRECT_DESC);
}

static void vp_queue_enable(VirtioPCI *vp, VirtQueue *vq)
{
    if (vq->enabled) {
        return;
    }
    vq->enabled = true;
    vp_sync_queue_features(vp, vq);
    TRACE(virtio_pci_queue_enable,
          "%s q%u size %u desc 0x%" PRIx64 " avail 0x%" PRIx64
          " used 0x%" PRIx64 " vector %u",
          vp->pci.name, vq->index, vq->size, vq->desc, vq->avail, vq->used,
          vq->msix_vector);
    if (vq_validate(vq) && virtio_pci_running(vp)) {
        virtio_pci_schedule_queue(vp, vq->index, 0);
    }
}

static void vp_queue_reset(VirtioPCI *vp, VirtQueue *vq)
{
    TRACE(virtio_pci_queue_reset, "%s q%u", vp->pci.name, vq->index);
    vp->ops->queue_reset(vp, vq->index);
    event_cancel(&vq->notify_ev);
    event_cancel(&vq->irq_ev);
    vq_reset(vq);
}

/* ---- device status and reset (2.1, 3.1) ---------------------------------- */

static void vp_reset(VirtioPCI *vp)
{
    TRACE(virtio_pci_reset, "%s", vp->pci.name);
    vp->ops->reset(vp);
    for (unsigned q = 0; q < vp->num_queues; q++) {
        VirtQueue *vq = &vp->vqs[q];

        event_cancel(&vq->notify_ev);
        event_cancel(&vq->irq_ev);
        vq_reset(vq);
    }
    event_cancel(&vp->config_ev);
    vp->driver_features = 0;
    vp->features = 0;
    vp->device_feature_select = 0;
    vp->driver_feature_select = 0;
    vp->driver_features_unknown = false;
    vp->status = 0;
    vp->queue_select = 0;
    vp->config_vector = VIRTIO_MSI_NO_VECTOR;
    vp->isr = 0;
    pci_set_irq(&vp->pci, false);
    /* Interrupts latched before the reset must not reach the new driver. */
    for (unsigned v = 0; v < vp->msix_vectors; v++) {
        msix_clear_pending(&vp->pci, v);
    }
}

/* FEATURES_OK (3.1.1, 6.1): VERSION_1 required, nothing unoffered. */
static bool vp_features_acceptable(VirtioPCI *vp)
{
    uint64_t unknown = vp->driver_features & ~vp->device_features;

    if (!(vp->driver_features & VIRTIO_FEATURE(VIRTIO_F_VERSION_1))) {
        virtio_pci_guest_error(vp, "FEATURES_OK refused: VIRTIO_F_VERSION_1 "
                                   "not accepted (legacy drivers are not "
                                   "supported)");
        return false;
    }
    if (unknown & VIRTIO_FEATURE(VIRTIO_F_RING_PACKED)) {
        virtio_pci_guest_error(vp, "FEATURES_OK refused: VIRTIO_F_RING_PACKED "
                                   "was not offered");
        return false;
    }
    if (unknown || vp->driver_features_unknown) {
        virtio_pci_guest_error(
            vp,
            "FEATURES_OK refused: feature bits 0x%" PRIx64
            "%s were not offered",
            unknown, vp->driver_features_unknown ? " (and bits above 63)" : "");
        return false;
    }
    return true;
}

static void vp_write_status(VirtioPCI *vp, uint8_t val)
{
    const uint8_t driver_bits = VIRTIO_STATUS_ACKNOWLEDGE |
                                VIRTIO_STATUS_DRIVER |
                                VIRTIO_STATUS_FEATURES_OK |
                                VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED;
    uint8_t old = vp->status;
    uint8_t set = val & ~old & driver_bits;

    TRACE(virtio_pci_status, "%s 0x%02x -> 0x%02x", vp->pci.name, old, val);
    if (val == 0) {
        vp_reset(vp);
        return;
    }
    if (old & ~val & driver_bits) {
        /* 2.1.1: only a reset clears status bits. */
        virtio_pci_guest_error(vp,
                               "status write 0x%02x clears bits of 0x%02x "
                               "without a reset",
                               val, old);
    }
    if (val & ~(driver_bits | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
        virtio_pci_guest_error(vp, "status write 0x%02x sets reserved bits",
                               val);
    }
    if ((val & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
        !(old & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
        virtio_pci_guest_error(vp,
                               "status write 0x%02x sets "
                               "DEVICE_NEEDS_RESET, which only the device "
                               "sets",
                               val);
    }
    if (set & VIRTIO_STATUS_ACKNOWLEDGE) {
        vp->status |= VIRTIO_STATUS_ACKNOWLEDGE;
    }
    if (set & VIRTIO_STATUS_DRIVER) {
        if (vp->status & VIRTIO_STATUS_ACKNOWLEDGE) {
            vp->status |= VIRTIO_STATUS_DRIVER;
        } else {
            virtio_pci_guest_error(vp, "DRIVER before ACKNOWLEDGE (3.1.1)");
        }
    }
    if (set & VIRTIO_STATUS_FEATURES_OK) {
        if (!(vp->status & VIRTIO_STATUS_DRIVER)) {
            virtio_pci_guest_error(vp, "FEATURES_OK before DRIVER (3.1.1)");
        } else if (vp_features_acceptable(vp)) {
            vp->features = vp->driver_features;
            vp->status |= VIRTIO_STATUS_FEATURES_OK;
            TRACE(virtio_pci_features, "%s accepted 0x%" PRIx64, vp->pci.name,
                  vp->features);
        }
    }
    if (set & VIRTIO_STATUS_DRIVER_OK) {
        if (!(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
            virtio_pci_guest_error(vp, "DRIVER_OK without FEATURES_OK "
                                       "(3.1.1): ignored");
        } else {
            vp->status |= VIRTIO_STATUS_DRIVER_OK;
            /* Buffers made available before DRIVER_OK are taken now
             * (3.1.1: the device consumes nothing before it). */
            for (unsigned q = 0; q < vp->num_queues; q++) {
                VirtQueue *vq = &vp->vqs[q];

                vp_sync_queue_features(vp, vq);
                if (vq->enabled && !vq->broken) {
                    virtio_pci_schedule_queue(vp, q, 0);
                }
            }
            if (vp->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
                /* It broke before DRIVER_OK: say so now (2.1.2). */
                vp_schedule_config_irq(vp);
            }
        }
    }
    if (set & VIRTIO_STATUS_FAILED) {
        vp->status |= VIRTIO_STATUS_FAILED;
    }
}

/* ---- common configuration (4.1.4.3) -------------------------------------- */

typedef struct CommonField {
    uint8_t off;
    uint8_t size;
    bool ro;
    const char *name;
} CommonField;

static const CommonField common_fields[] = {
    {VIRTIO_PCI_COMMON_DFSELECT, 4, false, "device_feature_select"},
    {VIRTIO_PCI_COMMON_DF, 4, true, "device_feature"},
    {VIRTIO_PCI_COMMON_GFSELECT, 4, false, "driver_feature_select"},
    {VIRTIO_PCI_COMMON_GF, 4, false, "driver_feature"},
    {VIRTIO_PCI_COMMON_MSIX, 2, false, "config_msix_vector"},
    {VIRTIO_PCI_COMMON_NUMQ, 2, true, "num_queues"},
    {VIRTIO_PCI_COMMON_STATUS, 1, false, "device_status"},
    {VIRTIO_PCI_COMMON_CFGGEN, 1, true, "config_generation"},
    {VIRTIO_PCI_COMMON_Q_SELECT, 2, false, "queue_select"},
    {VIRTIO_PCI_COMMON_Q_SIZE, 2, false, "queue_size"},
    {VIRTIO_PCI_COMMON_Q_MSIX, 2, false, "queue_msix_vector"},
    {VIRTIO_PCI_COMMON_Q_ENABLE, 2, false, "queue_enable"},
    {VIRTIO_PCI_COMMON_Q_NOFF, 2, true, "queue_notify_off"},
    {VIRTIO_PCI_COMMON_Q_DESCLO, 8, false, "queue_desc"},
    {VIRTIO_PCI_COMMON_Q_AVAILLO, 8, false, "queue_driver"},
    {VIRTIO_PCI_COMMON_Q_USEDLO, 8, false, "queue_device"},
    {VIRTIO_PCI_COMMON_Q_NDATA, 2, true, "queue_notify_data"},
    {VIRTIO_PCI_COMMON_Q_RESET, 2, false, "queue_reset"},
};

/*
 * The field an access hits, if the access is one the spec allows
 * (4.1.3.1): the field's own width, or either 32-bit half of a 64-bit
 * field; a 64-bit access to a 64-bit field is accepted too.
 */
static const CommonField *common_field(VirtioPCI *vp, uint64_t off,
                                       unsigned size, bool write, bool peek)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(common_fields); i++) {
        const CommonField *f = &common_fields[i];

        if (off < f->off || off >= (uint64_t)f->off + f->size) {
            continue;
        }
        if ((off == f->off && size == f->size) ||
            (f->size == 8 && size == 4 && (off - f->off) % 4 == 0)) {
            return f;
        }
        if (!peek) {
            virtio_pci_guest_error(
                vp,
                "common config: %u-byte %s at 0x%" PRIx64 " in %s (%u bytes)",
                size, write ? "write" : "read", off, f->name, f->size);
        }
        return NULL;
    }
    if (!peek) {
        virtio_pci_guest_error(vp,
                               "common config: %u-byte %s at unknown "
                               "offset 0x%" PRIx64,
                               size, write ? "write" : "read", off);
    }
    return NULL;
}

static VirtQueue *selected_queue(VirtioPCI *vp)
{
    return virtio_pci_queue(vp, vp->queue_select);
}

static uint64_t common_get(VirtioPCI *vp, const CommonField *f)
{
    VirtQueue *vq = selected_queue(vp);

    switch (f->off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        return vp->device_feature_select;
    case VIRTIO_PCI_COMMON_DF:
        return vp->device_feature_select < 2
                   ? (uint32_t)(vp->device_features >>
                                (32 * vp->device_feature_select))
                   : 0;
    case VIRTIO_PCI_COMMON_GFSELECT:
        return vp->driver_feature_select;
    case VIRTIO_PCI_COMMON_GF:
        return vp->driver_feature_select < 2
                   ? (uint32_t)(vp->driver_features >>
                                (32 * vp->driver_feature_select))
                   : 0;
    case VIRTIO_PCI_COMMON_MSIX:
        return vp->config_vector;
    case VIRTIO_PCI_COMMON_NUMQ:
        return vp->num_queues;
    case VIRTIO_PCI_COMMON_STATUS:
        return vp->status;
    case VIRTIO_PCI_COMMON_CFGGEN:
        return vp->config_generation;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        return vp->queue_select;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return vq ? vq->size : 0; /* 0: no such queue */
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return vq ? vq->enabled : 0;
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return vq ? vq->index : 0;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
        return vq ? vq->desc : 0;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
        return vq ? vq->avail : 0;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        return vq ? vq->used : 0;
    case VIRTIO_PCI_COMMON_Q_NDATA:
        /* VIRTIO_F_NOTIF_CONFIG_DATA is not offered. */
        return 0;
    case VIRTIO_PCI_COMMON_Q_RESET:
        /* A queue reset completes within the write. */
        return 0;
    }
    g_assert_not_reached();
}

/* 4.1.5.1.2.1: map @v, or read back NO_VECTOR when it cannot be mapped. */
static uint16_t map_vector(VirtioPCI *vp, const char *what, uint16_t v)
{
    if (v == VIRTIO_MSI_NO_VECTOR || v < vp->msix_vectors) {
        return v;
    }
    virtio_pci_guest_error(vp,
                           "%s %u is outside the MSI-X table (%u "
                           "entries): not mapped",
                           what, v, vp->msix_vectors);
    return VIRTIO_MSI_NO_VECTOR;
}

/* Queue fields the driver sets up before queue_enable (4.1.4.3.2). */
static VirtQueue *queue_for_setup(VirtioPCI *vp, const CommonField *f)
{
    VirtQueue *vq = selected_queue(vp);

    if (!vq) {
        virtio_pci_guest_error(vp,
                               "%s written for queue %u, which does not "
                               "exist",
                               f->name, vp->queue_select);
        return NULL;
    }
    if (vq->enabled && f->off != VIRTIO_PCI_COMMON_Q_MSIX) {
        virtio_pci_guest_error(vp,
                               "%s written for queue %u while it is "
                               "enabled",
                               f->name, vq->index);
        return NULL;
    }
    return vq;
}

static void common_set(VirtioPCI *vp, const CommonField *f, uint64_t val)
{
    VirtQueue *vq;

    switch (f->off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        vp->device_feature_select = (uint32_t)val;
        break;
    case VIRTIO_PCI_COMMON_GFSELECT:
        vp->driver_feature_select = (uint32_t)val;
        break;
    case VIRTIO_PCI_COMMON_GF:
        if (vp->status & VIRTIO_STATUS_FEATURES_OK) {
            virtio_pci_guest_error(vp, "driver_feature written after "
                                       "FEATURES_OK: ignored");
        } else if (vp->driver_feature_select < 2) {
            unsigned shift = 32 * vp->driver_feature_select;

            vp->driver_features &= ~(0xffffffffULL << shift);
            vp->driver_features |= val << shift;
        } else if (val) {
            /* Nothing is offered there: remembered, refused later. */
            vp->driver_features_unknown = true;
        }
        break;
    case VIRTIO_PCI_COMMON_MSIX:
        vp->config_vector = map_vector(vp, "config_msix_vector", (uint16_t)val);
        break;
    case VIRTIO_PCI_COMMON_STATUS:
        vp_write_status(vp, (uint8_t)val);
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        vp->queue_select = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        if (!(vq = queue_for_setup(vp, f))) {
            break;
        }
        if (val == 0 || (val & (val - 1)) || val > vq->max_size) {
            virtio_pci_guest_error(vp,
                                   "queue %u: size %" PRIu64 " is not a "
                                   "power of 2 up to %u",
                                   vq->index, val, vq->max_size);
            break;
        }
        vq->size = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        if ((vq = queue_for_setup(vp, f))) {
            vq->msix_vector =
                map_vector(vp, "queue_msix_vector", (uint16_t)val);
        }
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        if (!(vq = selected_queue(vp))) {
            virtio_pci_guest_error(vp,
                                   "queue_enable for queue %u, which "
                                   "does not exist",
                                   vp->queue_select);
        } else if (val != 1) {
            /* 4.1.4.3.2: only 1 may be written; queue_reset disables. */
            virtio_pci_guest_error(vp,
                                   "queue %u: queue_enable written with "
                                   "%" PRIu64,
                                   vq->index, val);
        } else {
            vp_queue_enable(vp, vq);
        }
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
        if ((vq = queue_for_setup(vp, f))) {
            vq->desc = val;
        }
        break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
        if ((vq = queue_for_setup(vp, f))) {
            vq->avail = val;
        }
        break;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        if ((vq = queue_for_setup(vp, f))) {
            vq->used = val;
        }
        break;
    case VIRTIO_PCI_COMMON_Q_RESET:
        if (!(vq = selected_queue(vp))) {
            virtio_pci_guest_error(vp,
                                   "queue_reset for queue %u, which does "
                                   "not exist",
                                   vp->queue_select);
        } else if (!virtio_pci_has_feature(vp, VIRTIO_F_RING_RESET)) {
            virtio_pci_guest_error(vp, "queue_reset without "
                                       "VIRTIO_F_RING_RESET");
        } else if (val != 1) {
            virtio_pci_guest_error(vp,
                                   "queue %u: queue_reset written with "
                                   "%" PRIu64,
                                   vq->index, val);
        } else {
            vp_queue_reset(vp, vq);
        }
        break;
    default:
        g_assert_not_reached();
    }
}

static uint64_t common_read(VirtioPCI *vp, uint64_t off, unsigned size,
                            bool peek)
{
    const CommonField *f = common_field(vp, off, size, false, peek);
    uint64_t v;

    if (!f) {
        return 0;
    }
    v = common_get(vp, f);
    if (size < 8) {
        v = (v >> (8 * (off - f->off))) & ((1ULL << (8 * size)) - 1);
    }
    return v;
}

static void common_write(VirtioPCI *vp, uint64_t off, uint64_t val,
                         unsigned size)
{
    const CommonField *f = common_field(vp, off, size, true, false);

    if (!f) {
        return;
    }
    if (f->ro) {
        virtio_pci_guest_error(vp, "write of 0x%" PRIx64 " to read-only %s",
                               val, f->name);
        return;
    }
    if (f->size == 8 && size == 4) {
        /* 4.1.3.1: the two halves of a 64-bit field are independent. */
        unsigned shift = 8 * (unsigned)(off - f->off);
        VirtQueue *vq = selected_queue(vp);
        uint64_t old = vq ? common_get(vp, f) : 0;

        val = (old & ~(0xffffffffULL << shift)) | (val << shift);
    }
    common_set(vp, f, val);
}

/* ---- the other structures ------------------------------------------------ */

static uint64_t isr_read(VirtioPCI *vp, uint64_t off, unsigned size, bool peek)
{
    uint8_t v;

    if (off != 0 || size != 1) {
        if (!peek) {
            virtio_pci_guest_error(vp, "ISR: %u-byte read at 0x%" PRIx64, size,
                                   off);
        }
        return 0;
    }
    v = vp->isr;
    if (!peek) {
        /* 4.1.4.5: reading clears the status and deasserts INTx. */
        vp->isr = 0;
        pci_set_irq(&vp->pci, false);
    }
    return v;
}

static uint64_t device_read(VirtioPCI *vp, uint64_t off, unsigned size,
                            bool peek)
{
    uint64_t v;

    if (off >= vp->config_size) {
        if (!peek) {
            virtio_pci_guest_error(vp,
                                   "device config: %u-byte read at 0x%" PRIx64
                                   " past its %u bytes",
                                   size, off, vp->config_size);
        }
        return 0;
    }
    if (!vp->ops->config_read(vp, (unsigned)off, size, &v)) {
        if (!peek) {
            virtio_pci_guest_error(vp,
                                   "device config: %u-byte read at 0x%" PRIx64
                                   " is not one field at its width",
                                   size, off);
        }
        return 0;
    }
    if (!peek && vp->config_changed) {
        /* 4.1.4.3.1: the generation moves when the driver reads a
         * configuration that changed since it last looked. */
        vp->config_generation++;
        vp->config_changed = false;
    }
    return v;
}

static void notify_write(VirtioPCI *vp, uint64_t off, uint64_t val,
                         unsigned size)
{
    uint64_t q = off / VSCSI_NOTIFY_MULTIPLIER;
    VirtQueue *vq =
        virtio_pci_queue(vp, q < UINT16_MAX ? (unsigned)q : UINT16_MAX);

    if (off % VSCSI_NOTIFY_MULTIPLIER || !vq || size != 2) {
        virtio_pci_guest_error(vp,
                               "notify: %u-byte write of 0x%" PRIx64
                               " at 0x%" PRIx64 " is no queue's notify "
                               "address",
                               size, val, off);
        return;
    }
    if (val != vq->index) {
        /* 4.1.5.2: the driver writes the queue's own index there. */
        virtio_pci_guest_error(vp,
                               "notify: queue %u's address written with "
                               "%" PRIu64 ": ignored",
                               vq->index, val);
        return;
    }
    TRACE(virtio_pci_notify, "%s q%u", vp->pci.name, vq->index);
    vp->notifications++;
    if (!vq->enabled || !virtio_pci_running(vp)) {
        /* Taken at DRIVER_OK or when the queue is enabled. */
        return;
    }
    /*
     * A doorbell only schedules the queue's work, fetch_delay from now: the
     * time a device takes to come and look. Doorbells rung before it runs
     * add nothing, and with EVENT_IDX the driver sees avail_event unmoved
     * and does not ring them at all: what it made available meanwhile is
     * taken as one batch.
     */
    virtio_pci_schedule_queue(vp, vq->index, vp->fetch_delay_ns);
}

static uint64_t region_read(VirtioPCI *vp, unsigned region, uint64_t off,
                            unsigned size, bool peek)
{
    uint64_t v = 0;

    switch (region) {
    case VP_REGION_COMMON:
        v = common_read(vp, off, size, peek);
        break;
    case VP_REGION_ISR:
        v = isr_read(vp, off, size, peek);
        break;
    case VP_REGION_DEVICE:
        v = device_read(vp, off, size, peek);
        break;
    case VP_REGION_NOTIFY:
        if (!peek) {
            virtio_pci_guest_error(
                vp, "notify: %u-byte read at 0x%" PRIx64 " (write-only)", size,
                off);
        }
        break;
    }
    if (!peek) {
        TRACE(virtio_pci_read, "%s %s+0x%" PRIx64 "/%u -> 0x%" PRIx64,
              vp->pci.name, region_names[region], off, size, v);
    }
    return v;
}

/* Inline, so that each region's write entry (VP_REGION_OPS) is its own
 * case: the doorbell is written once a request. */
static inline void region_write(VirtioPCI *vp, unsigned region, uint64_t off,
                                uint64_t val, unsigned size)
{
    TRACE(virtio_pci_write, "%s %s+0x%" PRIx64 "/%u <- 0x%" PRIx64,
          vp->pci.name, region_names[region], off, size, val);
    switch (region) {
    case VP_REGION_COMMON:
        common_write(vp, off, val, size);
        break;
    case VP_REGION_ISR:
        virtio_pci_guest_error(vp,
                               "ISR: write of 0x%" PRIx64 " to the "
                               "read-only status",
                               val);
        break;
    case VP_REGION_DEVICE:
        if (off >= vp->config_size) {
            virtio_pci_guest_error(vp,
                                   "device config: %u-byte write at 0x%" PRIx64
                                   " past its %u bytes",
                                   size, off, vp->config_size);
        } else {
            vp->ops->config_write(vp, (unsigned)off, val, size);
        }
        break;
    case VP_REGION_NOTIFY:
        notify_write(vp, off, val, size);
        break;
    }
}

#define VP_REGION_OPS(name, idx)                                               \
    static uint64_t name##_mr_read(void *opaque, uint64_t off, unsigned size)  \
    {                                                                          \
        return region_read(opaque, idx, off, size, false);                     \
    }                                                                          \
    static void name##_mr_write(void *opaque, uint64_t off, uint64_t val,      \
                                unsigned size)                                 \
    {                                                                          \
        region_write(opaque, idx, off, val, size);                             \
    }                                                                          \
    static const MemoryRegionOps name##_ops = {                                \
        .read = name##_mr_read,                                                \
        .write = name##_mr_write,                                              \
        .min_access_size = 1,                                                  \
        .max_access_size = 8,                                                  \
    }

VP_REGION_OPS(common, VP_REGION_COMMON);
VP_REGION_OPS(isr, VP_REGION_ISR);
VP_REGION_OPS(device, VP_REGION_DEVICE);
VP_REGION_OPS(notify, VP_REGION_NOTIFY);

/* ---- PCI configuration access window (4.1.4.9) --------------------------- */

/*
 * The window's BAR access, or false when cap.bar / cap.offset /
 * cap.length do not name an aligned 1, 2 or 4 byte access inside BAR 4.
 */
static bool cfg_window(VirtioPCI *vp, unsigned *region, uint64_t *off,
                       unsigned *len)
{
    const uint8_t *c = vp->pci.config + vp->cap_pci_cfg;
    uint32_t o = pci_get_long(c + VIRTIO_PCI_CAP_OFFSET);
    uint32_t l = pci_get_long(c + VIRTIO_PCI_CAP_LENGTH);

    if (c[VIRTIO_PCI_CAP_BAR] != VSCSI_BAR_VIRTIO ||
        (l != 1 && l != 2 && l != 4) || o % l || o >= VSCSI_BAR_VIRTIO_SIZE) {
        return false;
    }
    *region = o / VSCSI_REGION_SIZE;
    *off = o % VSCSI_REGION_SIZE;
    *len = l;
    return true;
}

/*
 * Called after every guest config write. A write to pci_cfg_data performs
 * the BAR write. The spec has the device perform the BAR read when the
 * driver reads pci_cfg_data; pci.h offers no config-read hook, so the
 * window is refreshed without side effects whenever cap.bar, cap.offset
 * or cap.length change and after each write through it (an ISR read
 * through the window therefore does not clear the ISR).
 */
static void vp_config_write_hook(PCIDevice *dev, uint32_t off, uint32_t old_val,
                                 uint32_t new_val, unsigned size)
{
    VirtioPCI *vp = (VirtioPCI *)dev;
    uint32_t cap = vp->cap_pci_cfg;
    uint8_t *data = dev->config + cap + VIRTIO_PCI_CFG_CAP_DATA;
    unsigned region, len;
    uint64_t roff, v;

    if (!cap || off + size <= cap + VIRTIO_PCI_CAP_BAR ||
        off >= cap + sizeof(VirtioPciCfgCap)) {
        return;
    }
    if (!cfg_window(vp, &region, &roff, &len)) {
        if (off + size > cap + VIRTIO_PCI_CFG_CAP_DATA) {
            virtio_pci_guest_error(vp, "pci_cfg_data written while the "
                                       "window names no valid access");
        }
        return;
    }
    if (off + size > cap + VIRTIO_PCI_CFG_CAP_DATA) {
        v = pci_get_long(data) &
            (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1);
        region_write(vp, region, roff, v, len);
    }
    v = region_read(vp, region, roff, len, true);
    for (unsigned i = 0; i < len; i++) {
        data[i] = (uint8_t)(v >> (8 * i));
    }
}

/* ---- construction -------------------------------------------------------- */

static uint8_t add_virtio_cap(VirtioPCI *vp, uint8_t cfg_type, uint32_t offset,
                              uint32_t length, const uint8_t *extra,
                              size_t extra_len, GError **errp)
{
    /* The body starts at cfg_type: pci.c fills vendor id, next, length. */
    uint8_t body[sizeof(VirtioPciCfgCap) - PCI_VNDR_BODY];
    size_t len = sizeof(VirtioPciCap) - PCI_VNDR_BODY + extra_len;

    g_assert(len <= sizeof(body));
    memset(body, 0, sizeof(body));
    body[VIRTIO_PCI_CAP_CFG_TYPE - PCI_VNDR_BODY] = cfg_type;
    body[VIRTIO_PCI_CAP_BAR - PCI_VNDR_BODY] = VSCSI_BAR_VIRTIO;
    pci_set_long(body + VIRTIO_PCI_CAP_OFFSET - PCI_VNDR_BODY, offset);
    pci_set_long(body + VIRTIO_PCI_CAP_LENGTH - PCI_VNDR_BODY, length);
    if (extra_len) {
        memcpy(body + sizeof(VirtioPciCap) - PCI_VNDR_BODY, extra, extra_len);
    }
    return pci_add_vendor_capability(&vp->pci, body, len, errp);
}

bool virtio_pci_init(VirtioPCI *vp, const VirtioPCIProps *props,
                     const VirtioPCIOps *ops, void *opaque, GError **errp)
{
    uint8_t mult[4], window[4] = {0};
    uint8_t *wm;

    g_assert(props->num_queues >= 1 &&
             props->num_queues <= VIRTIO_PCI_QUEUES_MAX);
    g_assert(props->features & VIRTIO_FEATURE(VIRTIO_F_VERSION_1));
    g_assert(props->config_size <= VSCSI_REGION_SIZE);
    memset(vp, 0, sizeof(*vp));
    vp->ops = ops;
    vp->opaque = opaque;
    vp->device_features = props->features;
    vp->num_queues = props->num_queues;
    vp->config_size = props->config_size;
    vp->fetch_delay_ns = props->fetch_delay_ns;
    vp->config_vector = VIRTIO_MSI_NO_VECTOR;

    pci_device_init(&vp->pci, props->name, props->info);
    vp->pci.config_write = vp_config_write_hook;
    vp->pci.opaque = opaque;

    memory_region_init(&vp->common_mr, "virtio-common", &common_ops, vp,
                       VSCSI_REGION_SIZE);
    memory_region_init(&vp->isr_mr, "virtio-isr", &isr_ops, vp,
                       VSCSI_REGION_SIZE);
    memory_region_init(&vp->device_mr, "virtio-device", &device_ops, vp,
                       VSCSI_REGION_SIZE);
    memory_region_init(&vp->notify_mr, "virtio-notify", &notify_ops, vp,
                       VSCSI_REGION_SIZE);
    pci_bar_container_init(&vp->bar, "virtio-bar4", VSCSI_BAR_VIRTIO_SIZE);
    if (!pci_bar_container_add(&vp->bar, VSCSI_COMMON_OFF, &vp->common_mr,
                               errp) ||
        !pci_bar_container_add(&vp->bar, VSCSI_ISR_OFF, &vp->isr_mr, errp) ||
        !pci_bar_container_add(&vp->bar, VSCSI_DEVICE_OFF, &vp->device_mr,
                               errp) ||
        !pci_bar_container_add(&vp->bar, VSCSI_NOTIFY_OFF, &vp->notify_mr,
                               errp)) {
        goto fail;
    }
    pci_register_bar(&vp->pci, VSCSI_BAR_VIRTIO, PCI_BAR_MEM64, &vp->bar.mr);

    /* Virtio structures first, in the order drivers look for them. */
    pci_set_long(mult, VSCSI_NOTIFY_MULTIPLIER);
    if (!add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VSCSI_COMMON_OFF,
                        VIRTIO_PCI_COMMON_CFG_LEN, NULL, 0, errp) ||
        !add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VSCSI_NOTIFY_OFF,
                        VSCSI_NOTIFY_MULTIPLIER * vp->num_queues, mult,
                        sizeof(mult), errp) ||
        !add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VSCSI_ISR_OFF, 1, NULL, 0,
                        errp) ||
        !add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VSCSI_DEVICE_OFF,
                        vp->config_size, NULL, 0, errp)) {
        goto fail;
    }
    vp->cap_pci_cfg = add_virtio_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, window,
                                     sizeof(window), errp);
    if (!vp->cap_pci_cfg) {
        goto fail;
    }
    /* 4.1.4.9: cap.bar, cap.offset, cap.length and the data are RW. */
    wm = vp->pci.wmask + vp->cap_pci_cfg;
    wm[VIRTIO_PCI_CAP_BAR] = 0xff;
    memset(wm + VIRTIO_PCI_CAP_OFFSET, 0xff, 8);
    memset(wm + VIRTIO_PCI_CFG_CAP_DATA, 0xff, 4);

    if (props->msix) {
        vp->msix_vectors = vp->num_queues + 1;
        if (!msix_init(&vp->pci, vp->msix_vectors, VSCSI_BAR_MSIX,
                       VSCSI_MSIX_TABLE_OFF, VSCSI_BAR_MSIX, VSCSI_MSIX_PBA_OFF,
                       errp)) {
            vp->msix_vectors = 0;
            goto fail;
        }
    }
    if (!pci_add_pm_capability(&vp->pci, errp) ||
        !pci_add_express_capability(&vp->pci, errp)) {
        goto fail;
    }

    vp->vqs = g_new0(VirtQueue, vp->num_queues);
    for (unsigned q = 0; q < vp->num_queues; q++) {
        VirtQueue *vq = &vp->vqs[q];

        vq_init(vq, &vp->pci, vp->pci.name, q, props->queue_size,
                &vp->guest_errors);
        vq->on_error = vp_vq_error;
        vq->opaque = vp;
        event_init(&vq->notify_ev, "virtio-queue", vp_queue_work_ev, vq);
        event_init(&vq->irq_ev, "virtio-irq", vp_queue_irq_ev, vq);
    }
    event_init(&vp->config_ev, "virtio-config", vp_config_ev, vp);
    return true;

fail:
    pci_device_fini(&vp->pci);
    pci_bar_container_destroy(&vp->bar);
    return false;
}

void virtio_pci_fini(VirtioPCI *vp)
{
    for (unsigned q = 0; q < vp->num_queues; q++) {
        event_cancel(&vp->vqs[q].notify_ev);
        event_cancel(&vp->vqs[q].irq_ev);
        vq_fini(&vp->vqs[q]);
    }
    event_cancel(&vp->config_ev);
    pci_device_fini(&vp->pci);
    pci_bar_container_destroy(&vp->bar);
    g_free(vp->vqs);
    vp->vqs = NULL;
}
