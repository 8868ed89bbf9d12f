/* SPDX-License-Identifier: MIT */
/*
 * Interrupt controller: x86 MSI decode (Intel SDM vol. 3, 10.11) and
 * INTx lines, each crossing the boundary layer before it reaches the
 * vCPU's interrupt request state in system/cpu.c.
 *
 * Only physical destination mode and fixed delivery are modelled: the
 * destination field names a vCPU index; redirection hint, destination
 * mode and the delivery-mode / trigger bits of the data are ignored, as
 * the port driver programs only fixed, edge-triggered messages.
 */
#include "hw/core/irqchip.h"
#include "system/boundary.h"
#include "system/cpu.h"
#include "system/trace.h"

static uint64_t n_delivered;
static uint64_t n_malformed;
static uint64_t n_suppressed;

bool irqchip_msi_decode(uint64_t addr, uint32_t data, unsigned *cpu,
                        unsigned *vector)
{
    unsigned dest, vec;

    if (addr < MSI_ADDR_BASE || addr - MSI_ADDR_BASE >= MSI_ADDR_SIZE) {
        return false;
    }
    dest = (unsigned)((addr >> MSI_ADDR_DEST_SHIFT) & MSI_ADDR_DEST_MASK);
    vec = data & MSI_DATA_VECTOR_MASK;
    if (dest >= cpus_count() || vec < MSI_VECTOR_MIN) {
        return false;
    }
    *cpu = dest;
    *vector = vec;
    return true;
}

bool irqchip_msi(uint64_t addr, uint32_t data)
{
    unsigned cpu, vector;
    BndAccess a = {.kind = BND_IRQ_RAISE, .value = IRQCHIP_BND_ASSERT};

    if (!irqchip_msi_decode(addr, data, &cpu, &vector)) {
        n_malformed++;
        guest_error(
            "irqchip: MSI 0x%" G_GINT64_MODIFIER "x <- 0x%x dropped: "
            "%s",
            addr, data,
            (addr < MSI_ADDR_BASE || addr - MSI_ADDR_BASE >= MSI_ADDR_SIZE)
                ? "address outside the MSI window"
            : (data & MSI_DATA_VECTOR_MASK) < MSI_VECTOR_MIN ? "reserved vector"
                                                             : "no such vCPU");
        return false;
    }
    a.cpu = (int16_t)cpu;
    a.addr = vector;
    if (bnd_before(&a)) {
        n_suppressed++;
        TRACE(irqchip_msi_suppressed, "cpu %u vector 0x%x", cpu, vector);
        a.ok = true; /* answered by the hook, as in boundary.c */
    } else {
        TRACE(irqchip_msi, "cpu %u vector 0x%x", cpu, vector);
        irq_raise(cpu, vector);
        n_delivered++;
        a.ok = true;
    }
    bnd_after(&a);
    return true;
}

void irqchip_intx(unsigned cpu, unsigned vector, bool level)
{
    BndAccess a = {
        .kind = BND_IRQ_RAISE,
        .cpu = (int16_t)cpu,
        .addr = vector,
        .value = IRQCHIP_BND_LEVEL | (level ? IRQCHIP_BND_ASSERT : 0),
    };

    /* Routes come from the firmware, never from the guest: a bad one is
     * a machine-assembly bug. */
    g_assert(vector < IRQ_VECTORS);
    if (cpu >= cpus_count()) {
        TRACE(irqchip_intx_unwired, "cpu %u vector 0x%x: no such vCPU", cpu,
              vector);
        return;
    }
    if (bnd_before(&a)) {
        n_suppressed++;
        TRACE(irqchip_intx_suppressed, "cpu %u vector 0x%x %s", cpu, vector,
              level ? "assert" : "release");
        a.ok = true;
    } else {
        TRACE(irqchip_intx, "cpu %u vector 0x%x %s", cpu, vector,
              level ? "asserted" : "released");
        irq_set_line(cpu, vector, level);
        a.ok = true;
    }
    bnd_after(&a);
}

uint64_t irqchip_msi_delivered(void)
{
    return n_delivered;
}

uint64_t irqchip_msi_malformed(void)
{
    return n_malformed;
}

uint64_t irqchip_suppressed(void)
{
    return n_suppressed;
}
