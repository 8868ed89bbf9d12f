/* SPDX-License-Identifier: MIT */
/*
 * The interrupt controller between devices and vCPUs: decodes message
 * signalled interrupts in the x86 local APIC format (Intel SDM vol. 3,
 * 10.11: address 0xFEExxxxx with the destination APIC ID in bits 12..19,
 * data bits 0..7 the vector, edge-triggered, fixed delivery) and drives
 * the level-triggered INTx lines. Every raise and line change crosses the
 * boundary layer (BND_IRQ_RAISE), so it is recorded and a fault hook can
 * suppress it; then system/cpu.h pends it on the target vCPU.
 *
 * In BND_IRQ_RAISE crossings: cpu = target vCPU, addr = vector, value =
 * IRQCHIP_BND_ASSERT (1) for an MSI edge; for a line, value carries
 * IRQCHIP_BND_LEVEL plus IRQCHIP_BND_ASSERT while asserted.
 */
#ifndef HW_CORE_IRQCHIP_H
#define HW_CORE_IRQCHIP_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/core/memory.h"

#define MSI_ADDR_DEST_SHIFT  12
#define MSI_ADDR_DEST_MASK   0xffULL
#define MSI_DATA_VECTOR_MASK 0xffU
/* Vectors 0..15 are reserved for exceptions: never a valid message. */
#define MSI_VECTOR_MIN 0x10

#define IRQCHIP_BND_ASSERT 0x1
#define IRQCHIP_BND_LEVEL  0x2

/* The message a device must send to reach @vector on vCPU @cpu. */
static inline uint64_t irqchip_msi_address(unsigned cpu)
{
    return MSI_ADDR_BASE |
           ((uint64_t)(cpu & MSI_ADDR_DEST_MASK) << MSI_ADDR_DEST_SHIFT);
}

static inline uint32_t irqchip_msi_data(unsigned vector)
{
    return vector & MSI_DATA_VECTOR_MASK;
}

/*
 * Decode a message without side effects: true with *cpu / *vector set
 * when it is well formed for this machine (address in the MSI window,
 * destination an existing vCPU, vector >= MSI_VECTOR_MIN).
 */
bool irqchip_msi_decode(uint64_t addr, uint32_t data, unsigned *cpu,
                        unsigned *vector);

/*
 * Deliver a message (a device's MSI / MSI-X write, or a DMA write that hit
 * the MSI window). A malformed one is a traced guest error, dropped, and
 * false is returned. A well-formed one returns true, also when a boundary
 * hook suppressed it (an injected dropped interrupt).
 */
bool irqchip_msi(uint64_t addr, uint32_t data);

/* Drive the level-triggered line feeding @vector on @cpu. */
void irqchip_intx(unsigned cpu, unsigned vector, bool level);

/* Statistics since start (messages delivered, malformed, suppressed). */
uint64_t irqchip_msi_delivered(void);
uint64_t irqchip_msi_malformed(void);
uint64_t irqchip_suppressed(void);

#endif
