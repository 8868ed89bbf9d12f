/* SPDX-License-Identifier: MIT */
/*
 * The virtio PCI transport, modern interface only (OASIS virtio 1.2/1.3,
 * 4.1 "Virtio Over PCI Bus"): the vendor capabilities that locate the
 * common configuration, notification, ISR and device configuration
 * structures (4.1.4) plus the configuration-space access window
 * (4.1.4.9); feature negotiation through the 32-bit select windows and
 * the device status state machine (2.1, 3.1); queue configuration and
 * queue reset (4.1.4.3, 2.6.1); notifications in (doorbells) and out
 * (MSI-X per queue and for configuration changes, or INTx with the
 * read-to-clear ISR, 4.1.5).
 *
 * The device model on top (virtio-scsi.c) supplies a small ops table and
 * never sees registers. A doorbell only schedules the queue's work as an
 * event; used-buffer and configuration interrupts are events too, so
 * nothing is ever completed or raised inside the driver's register write.
 *
 * BAR layout and vector count: virtio-scsi-regs.h ("this device's
 * layout"). Guest errors (bad sizes, unknown offsets, writes to read-only
 * fields, refused mappings, broken rings) are traced and counted in
 * VirtioPCI.guest_errors; a broken ring sets DEVICE_NEEDS_RESET.
 */
#ifndef HW_VIRTIO_SCSI_VIRTIO_PCI_H
#define HW_VIRTIO_SCSI_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/core/pci.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "hw/virtio-scsi/virtqueue.h"
#include "system/event.h"

typedef struct VirtioPCI VirtioPCI;

typedef struct VirtioPCIOps {
    /*
     * Process queue @q: called from the queue's event after a doorbell,
     * after DRIVER_OK and when a queue is enabled while the device runs.
     * Only while the device runs (DRIVER_OK, not FAILED or NEEDS_RESET)
     * and the queue is enabled and unbroken.
     */
    void (*queue_work)(VirtioPCI *vp, unsigned q);
    /*
     * Device reset (0 written to device_status): end everything in flight
     * without touching guest memory and return to the reset state. The
     * transport resets its own registers and the queues afterwards.
     */
    void (*reset)(VirtioPCI *vp);
    /* Queue reset (VIRTIO_F_RING_RESET): drop what queue @q has in flight,
     * without touching guest memory. */
    void (*queue_reset)(VirtioPCI *vp, unsigned q);
    /*
     * Device-specific configuration (@off < config_size, @size 1, 2, 4 or
     * 8). config_read has no side effects and returns false for an access
     * that is not one field at its width (the transport reports it);
     * config_write reports its own guest errors (read-only fields).
     */
    bool (*config_read)(VirtioPCI *vp, unsigned off, unsigned size,
                        uint64_t *val);
    void (*config_write)(VirtioPCI *vp, unsigned off, uint64_t val,
                         unsigned size);
} VirtioPCIOps;

typedef struct VirtioPCIProps {
    const char *name; /* the PCI function's name (device id) */
    const PCIDeviceInfo *info;
    uint64_t features;       /* offered; must include VERSION_1 */
    unsigned num_queues;     /* all virtqueues */
    uint16_t queue_size;     /* maximum size of each */
    unsigned config_size;    /* bytes of device-specific configuration */
    bool msix;               /* MSI-X: num_queues + 1 vectors */
    uint64_t fetch_delay_ns; /* doorbell to taking the queue's buffers */
} VirtioPCIProps;

/* Most virtqueues a function may have. */
#define VIRTIO_PCI_QUEUES_MAX 64

struct VirtioPCI {
    PCIDevice pci; /* first: the config-write hook finds us through it */
    const VirtioPCIOps *ops;
    void *opaque; /* the device model */
    PCIBarContainer bar;
    MemoryRegion common_mr;
    MemoryRegion isr_mr;
    MemoryRegion device_mr;
    MemoryRegion notify_mr;
    uint8_t cap_pci_cfg; /* VIRTIO_PCI_CAP_PCI_CFG capability */

    unsigned num_queues;
    VirtQueue *vqs;
    unsigned msix_vectors; /* 0 without an MSI-X capability */
    unsigned config_size;
    uint64_t fetch_delay_ns;

    /* Feature negotiation (4.1.4.3). */
    uint64_t device_features;
    uint64_t driver_features; /* as written by the driver */
    uint64_t features;        /* accepted at FEATURES_OK */
    uint32_t device_feature_select;
    uint32_t driver_feature_select;
    bool driver_features_unknown; /* bits written past the known windows */

    uint8_t status;
    uint8_t isr;
    uint8_t config_generation;
    bool config_changed; /* bump the generation at the next read */
    uint16_t queue_select;
    uint16_t config_vector;
    Event config_ev; /* configuration change interrupt */

    uint64_t guest_errors;
    uint64_t notifications; /* doorbells taken */
    uint64_t interrupts;    /* used / config interrupts requested */
};

bool virtio_pci_init(VirtioPCI *vp, const VirtioPCIProps *props,
                     const VirtioPCIOps *ops, void *opaque, GError **errp);
/* Unplug and free; the device model must have quiesced first. */
void virtio_pci_fini(VirtioPCI *vp);

static inline VirtQueue *virtio_pci_queue(VirtioPCI *vp, unsigned q)
{
    return q < vp->num_queues ? &vp->vqs[q] : NULL;
}

/* A negotiated feature (valid from FEATURES_OK on). */
static inline bool virtio_pci_has_feature(const VirtioPCI *vp, unsigned bit)
{
    return (vp->features >> bit) & 1;
}

/* DRIVER_OK set and neither FAILED nor DEVICE_NEEDS_RESET. Inline: the
 * request queue's work asks before every command it takes (one may set
 * DEVICE_NEEDS_RESET), and the call cost more than the test. */
static inline bool virtio_pci_running(const VirtioPCI *vp)
{
    return (vp->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(vp->status &
             (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET));
}

/* Run queue @q's work from an event @delay_ns from now (or sooner, if it
 * is already scheduled sooner) if the device runs. */
void virtio_pci_schedule_queue(VirtioPCI *vp, unsigned q, uint64_t delay_ns);
/*
 * Entries were pushed on @vq: decide and send its interrupt from an
 * event. Completions due at the same instant share one interrupt
 * decision: the event runs after every completion already queued for
 * now. Inline: every completion calls it, and only its batch's first
 * schedules the event.
 */
static inline void virtio_pci_queue_used(VirtioPCI *vp, VirtQueue *vq)
{
    if (!event_pending(&vq->irq_ev)) {
        event_schedule(&vq->irq_ev, vclock_now());
    }
}
/* The device configuration changed (4.1.5.3): interrupt from an event. */
void virtio_pci_config_changed(VirtioPCI *vp);
/* Enter DEVICE_NEEDS_RESET (2.1.2): stop taking requests, tell the
 * driver with a configuration change interrupt if DRIVER_OK is set. */
void virtio_pci_set_needs_reset(VirtioPCI *vp);

/* Count and trace a guest error of this function. */
void virtio_pci_guest_error(VirtioPCI *vp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

#endif
