/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio PCI driver for device tests (tests/helpers/vdrv-virtio.c):
 * it finds the virtio structures by walking the capability list in config
 * space as a real driver does (OASIS virtio 4.1.4), talks to them through
 * recorded MMIO (bnd_mmio_read/write), lays out split rings in guest RAM
 * and reads the used rings back. It trusts nothing the device does and
 * performs no checks of its own beyond what a test asks for, so tests can
 * also drive it into every misuse the device must survive.
 *
 * Symbols carry the vdrv_ prefix: every .c in tests/helpers/ is linked into
 * every test binary.
 */
#ifndef TESTS_DEVICE_VIRTIO_DRIVER_H
#define TESTS_DEVICE_VIRTIO_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/core/pci.h"
#include "hw/scsi/scsi-bus.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "hw/virtio-scsi/virtio-scsi.h"

#define VDRV_QUEUES_MAX 32

typedef struct VDrvQueue {
    bool set_up;
    uint16_t index;
    uint16_t size;
    uint16_t notify_off;
    uint64_t desc, avail, used; /* guest-physical */
    uint8_t *desc_p, *avail_p, *used_p;
    uint16_t avail_idx;  /* next entry the driver fills */
    uint16_t last_used;  /* next used entry to read */
    uint16_t *next_free; /* free descriptor list */
    uint16_t free_head;
    unsigned num_free;
    uint16_t *chain_len; /* per head: descriptors to free */
    uint64_t *indirect;  /* per head: indirect table or 0 */
} VDrvQueue;

typedef struct VDrv {
    PCIDevice *pci;
    /* From the capabilities: guest-physical addresses of the structures. */
    uint8_t cap_common, cap_notify, cap_isr, cap_device, cap_pci_cfg;
    uint8_t cap_msix;
    uint64_t common, notify, isr, device;
    uint32_t common_len, notify_len, isr_len, device_len;
    uint32_t notify_mult;
    uint64_t msix_table; /* MSI-X table address, 0 if none */
    unsigned msix_size;
    uint64_t features; /* written to driver_feature */
    /* With EVENT_IDX, vdrv_get_used() re-arms used_event to the next
     * entry, as a driver that wants every interrupt does; tests of the
     * suppression itself set this and write used_event themselves. */
    bool manual_used_event;
    VDrvQueue q[VDRV_QUEUES_MAX];
} VDrv;

/* A buffer of a chain: device-readable, or device-writable if @write. */
typedef struct VDrvBuf {
    uint64_t gpa;
    uint32_t len;
    bool write;
} VDrvBuf;

/* Walk the capabilities and locate every structure; false if any of the
 * four required ones is missing. */
bool vdrv_probe(VDrv *d, PCIDevice *pci);
void vdrv_fini(VDrv *d);

/* Registers (recorded MMIO). @off is within the structure. */
uint64_t vdrv_common_read(VDrv *d, unsigned off, unsigned size);
void vdrv_common_write(VDrv *d, unsigned off, uint64_t val, unsigned size);
uint64_t vdrv_device_read(VDrv *d, unsigned off, unsigned size);
void vdrv_device_write(VDrv *d, unsigned off, uint64_t val, unsigned size);
uint8_t vdrv_isr_read(VDrv *d);
void vdrv_notify(VDrv *d, unsigned q);

uint8_t vdrv_status(VDrv *d);
void vdrv_set_status(VDrv *d, uint8_t status);
/* Write 0 and wait (read) until the status reads 0. */
void vdrv_reset(VDrv *d);
uint64_t vdrv_device_features(VDrv *d);
void vdrv_write_features(VDrv *d, uint64_t features);
/*
 * The usual init sequence up to FEATURES_OK (3.1.1): reset, ACKNOWLEDGE,
 * DRIVER, accept @features, FEATURES_OK. True when FEATURES_OK stuck.
 */
bool vdrv_negotiate(VDrv *d, uint64_t features);
/* Select queue @q, shrink it to @size (0: keep), allocate and zero its
 * rings, map @vector, enable it. Returns the size in use. */
uint16_t vdrv_queue_setup(VDrv *d, unsigned q, uint16_t size, uint16_t vector);
/* Set DRIVER_OK. */
void vdrv_driver_ok(VDrv *d);

/* MSI-X: enable the capability and program entry @entry to send @vector
 * to vCPU @cpu, unmasked. */
void vdrv_msix_enable(VDrv *d);
void vdrv_msix_program(VDrv *d, unsigned entry, unsigned cpu, unsigned vector);
void vdrv_msix_mask(VDrv *d, unsigned entry, bool masked);

/*
 * Place a chain of @n buffers (indirect: in one indirect table) and
 * publish it on the available ring. Returns the head; no doorbell.
 */
uint16_t vdrv_add_chain(VDrv *d, unsigned q, const VDrvBuf *bufs, unsigned n,
                        bool indirect);
/* Take the next used element; false when there is none. Frees the chain's
 * descriptors. */
bool vdrv_get_used(VDrv *d, unsigned q, uint32_t *id, uint32_t *len);
/* Used elements not yet taken. */
uint16_t vdrv_used_pending(VDrv *d, unsigned q);
/* Driver-side ring fields (for suppression and hostile tests). */
void vdrv_set_avail_flags(VDrv *d, unsigned q, uint16_t flags);
void vdrv_set_used_event(VDrv *d, unsigned q, uint16_t v);
uint16_t vdrv_avail_event(VDrv *d, unsigned q);
/* Raw access to the rings, for hostile tests. */
void vdrv_write_desc(VDrv *d, unsigned q, uint16_t i, uint64_t addr,
                     uint32_t len, uint16_t flags, uint16_t next);
void vdrv_publish(VDrv *d, unsigned q, uint16_t head);
void vdrv_set_avail_idx(VDrv *d, unsigned q, uint16_t idx);

/* Guest memory for the test: zeroed, aligned to 64 bytes. */
uint64_t vdrv_alloc(uint64_t size);
void *vdrv_ptr(uint64_t gpa);

/* Run the machine: events due now only / until nothing is queued. */
unsigned vdrv_run_now(void);
/* Run every event due within the next @ns of virtual time, and leave the
 * clock @ns later. */
void vdrv_run_for(uint64_t ns);
void vdrv_run(void);

/*
 * Interrupt log through a boundary hook on BND_IRQ_RAISE: MSI messages
 * per vector, INTx assertions and the current line level.
 */
typedef struct VDrvIrqLog {
    unsigned msi[256];
    unsigned msi_total;
    unsigned intx_asserts;
    bool intx_level;
} VDrvIrqLog;

extern VDrvIrqLog vdrv_irqs;
void vdrv_irq_log_start(void);
/* Take the log's hook off (it has a before(), so every DMA takes the
 * hooked path while it is on): for tests of the DMA nothing hooks. */
void vdrv_irq_log_stop(void);
void vdrv_irq_log_clear(void);

/* ---- virtio-scsi fixture (tests/helpers/vdrv-vscsi.c) -------------------- */

/*
 * A small SCSI disk for HBA tests, so they do not depend on scsi-hd: 512-
 * byte blocks in host memory; TEST UNIT READY, INQUIRY, READ CAPACITY(10),
 * READ(10), WRITE(10), REQUEST SENSE, MODE SELECT(6); anything else is
 * INVALID COMMAND OPERATION CODE. Data-in is handed to the bus, data-out
 * read from the SG list, so the HBA's lists are what moves the data.
 */
typedef struct VDrvDisk {
    SCSIDevice dev;
    uint8_t *data;
    uint64_t blocks;
    unsigned commands; /* submitted to this disk */
    unsigned cancels;
} VDrvDisk;

VDrvDisk *vdrv_disk_attach(SCSIBus *bus, uint32_t target, uint32_t lun,
                           uint64_t blocks);

/* A bare machine (RAM, 2 vCPUs, a PCI bus) with one virtio-scsi-pci,
 * firmware-assigned and probed; interrupts are logged. */
typedef struct VDrvFixture {
    PCIBusState *bus;
    VirtioScsiState *s;
    VDrv d;
} VDrvFixture;

void vdrv_fx_init(VDrvFixture *f, const VirtioScsiProps *props);
void vdrv_fx_fini(VDrvFixture *f);

/*
 * One virtio_scsi_cmd_req / resp with its data, laid out in guest RAM as
 * @layout says (5.6.6.1, 2.7.4 "any layout"):
 *  SIMPLE    header | data-out | response | data-in, one descriptor each
 *  SPLIT     header in 3 descriptors, response in 3, data in 2
 *  COMBINED  header + data-out in one descriptor, response + data-in in one
 *  INDIRECT  as SIMPLE, through an indirect table
 *  MANY      as SIMPLE with the data in @nseg descriptors
 * The data buffer is one allocation (io->data) whatever the layout.
 */
typedef enum VDrvLayout {
    VDRV_LAYOUT_SIMPLE,
    VDRV_LAYOUT_SPLIT,
    VDRV_LAYOUT_COMBINED,
    VDRV_LAYOUT_INDIRECT,
    VDRV_LAYOUT_MANY,
} VDrvLayout;

typedef struct VDrvIo {
    VDrvLayout layout;
    unsigned nseg;
    uint64_t req, resp, data; /* guest-physical */
    uint32_t req_len, resp_len, data_len;
    bool data_out;
    uint16_t head;
} VDrvIo;

typedef struct VDrvResp {
    uint32_t sense_len;
    uint32_t residual;
    uint16_t status_qualifier;
    uint8_t status;
    uint8_t response;
    uint8_t sense[256];
} VDrvResp;

/* The 8-byte LUN field {1, target, flat LUN} */
void vdrv_scsi_lun(uint8_t *l, uint8_t target, uint16_t lun);
/* Build (not submit) a command; cdb_size / sense_size as configured in the
 * device (0: the defaults 32 / 96). */
void vdrv_io_init(VDrvIo *io, VDrvLayout layout, uint8_t target, uint16_t lun,
                  uint64_t tag, const uint8_t *cdb, unsigned cdb_len,
                  uint32_t data_len, bool data_out, uint32_t cdb_size,
                  uint32_t sense_size);
uint8_t *vdrv_io_data(const VDrvIo *io);
/* Publish it on queue @q (no doorbell); returns the head. */
uint16_t vdrv_io_submit(VDrv *d, unsigned q, VDrvIo *io);
void vdrv_io_resp(const VDrvIo *io, VDrvResp *r);
/* Submit, ring, run the machine, take the used element (it must be this
 * command's) and decode the response; returns the used length. */
uint32_t vdrv_io_run(VDrv *d, unsigned q, VDrvIo *io, VDrvResp *r);
/* TEST UNIT READY until GOOD: consumes unit attentions. */
void vdrv_clear_ua(VDrv *d, unsigned q, uint8_t target, uint16_t lun);

#endif
