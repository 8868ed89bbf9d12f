/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi-pci: a virtio SCSI host device (OASIS virtio 1.2/1.3, 5.6
 * "SCSI Host Device") on the modern PCI transport (virtio-pci.h). Its
 * request queues carry virtio_scsi_cmd_req/resp to the SCSI bus
 * (hw/scsi/scsi-bus.h) with zero-copy scatter-gather lists; the control
 * queue carries task management and asynchronous notification requests;
 * the event queue reports hot-plug, parameter changes and lost events.
 * The guest ABI is virtio-scsi-regs.h; docs/virtio-scsi.md describes the
 * model, its limits and its guest-error cases.
 *
 * -device virtio-scsi-pci,id=ID[,num_queues=N][,queue_size=N][,msix=on|off]
 *         [,latency=TIME][,fetch_delay=TIME]
 */
#ifndef HW_VIRTIO_SCSI_VIRTIO_SCSI_H
#define HW_VIRTIO_SCSI_VIRTIO_SCSI_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/core/pci.h"
#include "hw/scsi/scsi-bus.h"
#include "system/opts.h"

typedef struct VirtioScsiState VirtioScsiState;

#define VSCSI_NUM_QUEUES_MAX     16
#define VSCSI_QUEUE_SIZE_MIN     2
#define VSCSI_QUEUE_SIZE_MAX     1024
#define VSCSI_QUEUE_SIZE_DEFAULT 256
/* Device overhead per command, on top of the target's latency model. */
#define VSCSI_LATENCY_DEFAULT_NS (2 * NS_PER_US)
/*
 * From a doorbell to the device taking the queue's available requests:
 * requests made available meanwhile are taken (and, with the same
 * latency, completed and reported) as one batch.
 */
#define VSCSI_FETCH_DELAY_DEFAULT_NS (1 * NS_PER_US)
/* Largest sense_size / cdb_size the driver may configure. */
#define VSCSI_SENSE_SIZE_MAX 4096
#define VSCSI_CDB_SIZE_MAX   4096
/* max_sectors hint: 8 MiB transfers. */
#define VSCSI_MAX_SECTORS 16384

typedef struct VirtioScsiProps {
    const char *id;          /* device and SCSI bus name */
    unsigned num_queues;     /* request queues, 1..16 */
    unsigned queue_size;     /* per queue, a power of 2 in 2..1024 */
    bool msix;               /* offer MSI-X (else INTx only) */
    uint64_t latency_ns;     /* per-command device overhead */
    uint64_t fetch_delay_ns; /* doorbell to taking the available requests */
} VirtioScsiProps;

#define VIRTIO_SCSI_PROPS_DEFAULT                                              \
    {                                                                          \
        .num_queues = 1, .queue_size = VSCSI_QUEUE_SIZE_DEFAULT, .msix = true, \
        .latency_ns = VSCSI_LATENCY_DEFAULT_NS,                                \
        .fetch_delay_ns = VSCSI_FETCH_DELAY_DEFAULT_NS,                        \
    }

/*
 * Create the function (not yet on a bus: pci_bus_add its virtio_scsi_pci())
 * and its SCSI bus, named @props->id. NULL with @errp set on bad
 * properties or a bus name in use.
 */
VirtioScsiState *virtio_scsi_new(const VirtioScsiProps *props, GError **errp);
/* Drop everything in flight, free the SCSI bus and its devices, unplug. */
void virtio_scsi_free(VirtioScsiState *s);

PCIDevice *virtio_scsi_pci(VirtioScsiState *s);
SCSIBus *virtio_scsi_bus(VirtioScsiState *s);
/* The device called @id among those created, or NULL. */
VirtioScsiState *virtio_scsi_find(const char *id);

/*
 * Events for the driver (5.6.6.3). A logical unit was attached (@added)
 * or detached: a TRANSPORT_RESET RESCAN / REMOVED event, sent only when
 * VIRTIO_SCSI_F_HOTPLUG was negotiated. A unit's parameters changed
 * (@asc/@ascq as in the unit attention): PARAM_CHANGE, only with
 * VIRTIO_SCSI_F_CHANGE. Both are delivered from an event; with no buffer
 * on the event queue they are lost and the next event carries
 * VIRTIO_SCSI_T_EVENTS_MISSED.
 */
void virtio_scsi_hotplug(VirtioScsiState *s, uint32_t target, uint32_t lun,
                         bool added);
void virtio_scsi_param_change(VirtioScsiState *s, uint32_t target, uint32_t lun,
                              uint8_t asc, uint8_t ascq);

/* Guest errors of this device (ring and register misuse), commands in
 * flight (submitted, not yet returned to the driver). */
uint64_t virtio_scsi_guest_errors(const VirtioScsiState *s);
unsigned virtio_scsi_in_flight(const VirtioScsiState *s);

/*
 * Fault injection (system/fault.c, docs/faults.md). VSCSI_FAIL_HANG: the
 * device stops processing (doorbells are not acted on, commands the bus
 * completes are not returned to the driver) until the driver resets it;
 * the reset drops what it held, as any reset does. VSCSI_FAIL_FATAL: the
 * device enters DEVICE_NEEDS_RESET (2.1.2) and tells the driver.
 */
typedef enum VirtioScsiFailure {
    VSCSI_FAIL_HANG,
    VSCSI_FAIL_FATAL,
} VirtioScsiFailure;
void virtio_scsi_fail(VirtioScsiState *s, VirtioScsiFailure f);
bool virtio_scsi_hung(const VirtioScsiState *s);
/* The request queue (0 = the first) that carried @sreq, a command this
 * device submitted to its bus. */
unsigned virtio_scsi_req_queue(const SCSIRequest *sreq);

/* -device virtio-scsi-pci: create, plug into machine_pci_bus(), register
 * the teardown with machine_add_cleanup(). */
bool virtio_scsi_pci_create(Opts *opts, GError **errp);

#endif
