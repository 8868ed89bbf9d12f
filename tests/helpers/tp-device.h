/* SPDX-License-Identifier: MIT */
/*
 * tp-device: a tiny PCI mass-storage function for the port's contract
 * tests. It has no SCSI target behind it: a doorbell write starts a
 * "command" that completes after a programmable virtual latency, by
 * pushing its tag on a completion queue and raising INTx (level, while a
 * queue holds tags) or the queue's MSI-X message (edge). A command may
 * also DMA a pattern to a guest-physical address when it completes, so the
 * verifier's DMA check has something to see.
 *
 * Register block (BAR 0, 32-bit accesses only):
 *   0x00 ID        RO   TP_DEVICE_MAGIC
 *   0x04 DOORBELL  WO   tag (bits 0..15) | queue (bits 16..19): start one
 *                       command; it captures LATENCY and DMA_* as they are
 *   0x08 STATUS    RO   bit n set while completion queue n holds tags
 *   0x0c LATENCY   RW   completion latency in ns (reset TP_DEVICE_LATENCY)
 *   0x10 DMA_LO    RW   guest-physical address for the next command's DMA
 *   0x14 DMA_HI    RW
 *   0x18 DMA_LEN   RW   bytes the next command writes there (0: none)
 *   0x1c CTRL      WO   TP_CTRL_RESET drops every command in flight and
 *                       empties the queues
 *   0x40 + 4n CQ   RO   pop the oldest tag of queue n, TP_CQ_EMPTY if none
 * MSI-X (optional): table and PBA in BAR 2, message n for queue n.
 */
#ifndef TESTS_HELPERS_TP_DEVICE_H
#define TESTS_HELPERS_TP_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/core/pci.h"
#include "system/event.h"

#define TP_DEVICE_MAGIC   0x54504456u /* "TPDV" */
#define TP_DEVICE_LATENCY (10 * NS_PER_US)
#define TP_DEVICE_VENDOR  0x1234
#define TP_DEVICE_ID      0x7470
#define TP_DEVICE_CLASS   0x010000 /* mass storage, SCSI */

#define TP_REG_ID       0x00
#define TP_REG_DOORBELL 0x04
#define TP_REG_STATUS   0x08
#define TP_REG_LATENCY  0x0c
#define TP_REG_DMA_LO   0x10
#define TP_REG_DMA_HI   0x14
#define TP_REG_DMA_LEN  0x18
#define TP_REG_CTRL     0x1c
#define TP_REG_CQ(n)    (0x40 + 4 * (n))
#define TP_REGS_SIZE    0x100

#define TP_DOORBELL(tag, queue) (((uint32_t)(queue) << 16) | ((tag)&0xffff))
#define TP_CTRL_RESET           0x1
#define TP_CQ_EMPTY             0xffffffffu
#define TP_QUEUES               16
#define TP_SLOTS                128
#define TP_CQ_DEPTH             256

typedef struct TpDevice TpDevice;

typedef struct TpSlot {
    TpDevice *dev;
    Event ev;
    bool busy;
    uint16_t tag;
    uint8_t queue;
    uint64_t dma_addr;
    uint32_t dma_len;
} TpSlot;

struct TpDevice {
    PCIDevice pci;
    MemoryRegion regs;
    unsigned msix_vectors;
    uint32_t latency;
    uint64_t dma_addr;
    uint32_t dma_len;
    TpSlot slots[TP_SLOTS];
    uint16_t cq[TP_QUEUES][TP_CQ_DEPTH];
    unsigned cq_head[TP_QUEUES], cq_count[TP_QUEUES];

    /* statistics, for assertions */
    uint64_t doorbells, completions, resets, dmas, dma_failures, errors;
    uint64_t reg_reads, reg_writes;
};

/* Create one function with @msix_vectors messages (0: INTx only) and
 * plug it into @bus (call pci_bus_assign afterwards). */
TpDevice *tp_device_new(PCIBusState *bus, unsigned msix_vectors, GError **errp);
/* Unplug and free (pci_device_fini included). */
void tp_device_free(TpDevice *d);
/* Commands started and not completed yet. */
unsigned tp_device_in_flight(const TpDevice *d);

#endif
