/* SPDX-License-Identifier: MIT */
/*
 * PCI functions, BARs, capabilities, MSI / MSI-X and the bus they sit on.
 *
 * A PCIDevice is embedded in a device model's state. It owns a 256-byte
 * type-0 configuration header (PCI Local Bus 3.0, ch. 6) with per-byte
 * write masks (read-only fields stay read-only) and write-1-to-clear masks
 * (status error bits), up to six BARs, and a capability list. Guest code
 * (the port's StorPortGetBusData / SetBusData, the firmware) reaches config
 * space only through pci_config_read() / pci_config_write(), which are
 * boundary crossings: recorded, fault-injectable, a yield point. Device
 * models use the unrecorded pci_get_* / pci_set_* helpers on their own
 * config bytes.
 *
 * A BAR decodes in as_memory / as_io (memory.h) only while its decode
 * enable in the command register is set and it holds an address inside
 * the host bridge's window; moving or disabling it remaps or unmaps it.
 * A PCIBarContainer composes one BAR from several regions at offsets
 * (device registers, the MSI-X table, the PBA).
 *
 * Interrupts (irqchip.h): INTx is a level line wired through the bus to a
 * vector; MSI (spec 6.8.1) and MSI-X (6.8.2) send x86-format messages
 * through irqchip_msi(), and only while bus mastering is enabled.
 *
 * Constant names carry a PCI_CFG_ / PCI_CMD_ / PCI_STS_ / PCI_CAP_ ...
 * prefix so that they never collide with the Windows DDI names (PCI_ENABLE_*,
 * PCI_STATUS_*, PCI_CAPABILITY_ID_*) that port/ also sees.
 */
#ifndef HW_CORE_PCI_H
#define HW_CORE_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"

#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_NUM_BARS          6
#define PCI_SLOT_MAX          32
#define PCI_FUNC_MAX          8
#define PCI_DEVFN_MAX         (PCI_SLOT_MAX * PCI_FUNC_MAX)

#define PCI_DEVFN(slot, fn) ((((slot)&0x1f) << 3) | ((fn)&0x07))
#define PCI_SLOT(devfn)     (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn)     ((devfn)&0x07)

/* Type-0 header offsets (PCI 3.0, 6.1). Access / reset value beside each. */
#define PCI_CFG_VENDOR_ID      0x00 /* RO, 16 bits */
#define PCI_CFG_DEVICE_ID      0x02 /* RO, 16 bits */
#define PCI_CFG_COMMAND        0x04 /* RW, 16 bits, reset 0 */
#define PCI_CFG_STATUS         0x06 /* RO + W1C, 16 bits */
#define PCI_CFG_REVISION_ID    0x08 /* RO */
#define PCI_CFG_CLASS_PROG     0x09 /* RO, programming interface */
#define PCI_CFG_CLASS_SUB      0x0a /* RO */
#define PCI_CFG_CLASS_BASE     0x0b /* RO */
#define PCI_CFG_CACHE_LINE     0x0c /* RW, reset 0 */
#define PCI_CFG_LATENCY_TIMER  0x0d /* RO 0 (PCI Express) */
#define PCI_CFG_HEADER_TYPE    0x0e /* RO: 0x00, 0x80 multi-function */
#define PCI_CFG_BIST           0x0f /* RO 0: no BIST */
#define PCI_CFG_BAR0           0x10 /* BARs 0..5, 4 bytes each */
#define PCI_CFG_CARDBUS_CIS    0x28 /* RO 0 */
#define PCI_CFG_SUBSYS_VENDOR  0x2c /* RO */
#define PCI_CFG_SUBSYS_ID      0x2e /* RO */
#define PCI_CFG_ROM_ADDRESS    0x30 /* RO 0: no expansion ROM */
#define PCI_CFG_CAP_PTR        0x34 /* RO */
#define PCI_CFG_INTERRUPT_LINE 0x3c /* RW scratch, written by firmware */
#define PCI_CFG_INTERRUPT_PIN  0x3d /* RO: 0 none, 1..4 INTA..INTD */
#define PCI_CFG_MIN_GNT        0x3e /* RO 0 */
#define PCI_CFG_MAX_LAT        0x3f /* RO 0 */
#define PCI_CFG_HEADER_SIZE    0x40 /* capabilities start here */

#define PCI_CFG_BAR(i)            (PCI_CFG_BAR0 + 4 * (i))
#define PCI_HEADER_MULTI_FUNCTION 0x80

/* Command register bits (6.2.2). */
#define PCI_CMD_IO           0x0001
#define PCI_CMD_MEM          0x0002
#define PCI_CMD_MASTER       0x0004
#define PCI_CMD_PARITY       0x0040
#define PCI_CMD_SERR         0x0100
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_CMD_WRITABLE                                                       \
    (PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_PARITY |              \
     PCI_CMD_SERR | PCI_CMD_INTX_DISABLE)

/* Status register bits (6.2.3). */
#define PCI_STS_INTERRUPT        0x0008 /* RO: INTx asserted inside */
#define PCI_STS_CAP_LIST         0x0010 /* RO: capability list present */
#define PCI_STS_MASTER_PARITY    0x0100 /* W1C */
#define PCI_STS_SIG_TARGET_ABORT 0x0800 /* W1C */
#define PCI_STS_REC_TARGET_ABORT 0x1000 /* W1C */
#define PCI_STS_REC_MASTER_ABORT 0x2000 /* W1C */
#define PCI_STS_SIG_SYSTEM_ERROR 0x4000 /* W1C */
#define PCI_STS_DETECTED_PARITY  0x8000 /* W1C */
#define PCI_STS_W1C                                                            \
    (PCI_STS_MASTER_PARITY | PCI_STS_SIG_TARGET_ABORT |                        \
     PCI_STS_REC_TARGET_ABORT | PCI_STS_REC_MASTER_ABORT |                     \
     PCI_STS_SIG_SYSTEM_ERROR | PCI_STS_DETECTED_PARITY)

/* BAR low bits (6.2.5.1); also the @type argument of pci_register_bar. */
#define PCI_BAR_MEM32          0x0
#define PCI_BAR_IO             0x1
#define PCI_BAR_MEM64          0x4
#define PCI_BAR_PREFETCH       0x8 /* OR into a memory type */
#define PCI_BAR_MEM_TYPE_MASK  0x6
#define PCI_BAR_MEM_FLAGS_MASK 0xfULL
#define PCI_BAR_IO_FLAGS_MASK  0x3ULL
#define PCI_BAR_MEM_MIN_SIZE   16
#define PCI_BAR_IO_MIN_SIZE    4
#define PCI_BAR_UNMAPPED       UINT64_MAX

/* Capability IDs (PCI Code and ID Assignment, ch. 2). */
#define PCI_CAP_ID_PM    0x01
#define PCI_CAP_ID_MSI   0x05
#define PCI_CAP_ID_VNDR  0x09
#define PCI_CAP_ID_EXP   0x10
#define PCI_CAP_ID_MSIX  0x11
#define PCI_CAP_ID_OFF   0x00 /* offsets inside a capability */
#define PCI_CAP_NEXT_OFF 0x01

/* Power management capability (PCI PM 1.2, ch. 3). */
#define PCI_PM_SIZE               8
#define PCI_PM_PMC                0x02   /* RO: version 3, no D1/D2, no PME */
#define PCI_PM_CTRL               0x04   /* PMCSR */
#define PCI_PM_CTRL_STATE_MASK    0x0003 /* RW: D0..D3hot */
#define PCI_PM_CTRL_NO_SOFT_RESET 0x0008 /* RO 1: state kept in D3hot */
#define PCI_PM_CTRL_PME_STATUS    0x8000 /* W1C */
#define PCI_PM_PMC_VERSION        0x0003
#define PCI_PM_STATE_D0           0
#define PCI_PM_STATE_D3HOT        3

/* Vendor-specific capability: id, next, length, then the body. */
#define PCI_VNDR_LEN  0x02
#define PCI_VNDR_BODY 0x03

/* PCI Express capability, version 2, endpoint (PCIe 3.0, 7.8). */
#define PCI_EXP_SIZE           0x3c
#define PCI_EXP_FLAGS          0x02 /* RO: version 2, type endpoint */
#define PCI_EXP_DEVCAP         0x04 /* RO */
#define PCI_EXP_DEVCTL         0x08 /* RW */
#define PCI_EXP_DEVSTA         0x0a /* W1C bits 0..3 */
#define PCI_EXP_LNKCAP         0x0c /* RO: 2.5 GT/s x1 */
#define PCI_EXP_LNKCTL         0x10 /* RW */
#define PCI_EXP_LNKSTA         0x12 /* RO: 2.5 GT/s x1 */
#define PCI_EXP_DEVCAP2        0x24
#define PCI_EXP_DEVCTL2        0x28
#define PCI_EXP_LNKCAP2        0x2c
#define PCI_EXP_LNKCTL2        0x30
#define PCI_EXP_FLAGS_VERSION2 0x0002
#define PCI_EXP_TYPE_ENDPOINT  0x0
#define PCI_EXP_DEVSTA_W1C     0x000f

/* MSI capability (6.8.1). Data and mask offsets depend on 64-bit. */
#define PCI_MSI_CTRL           0x02
#define PCI_MSI_ADDR_LO        0x04
#define PCI_MSI_ADDR_HI        0x08 /* 64-bit only */
#define PCI_MSI_DATA_32        0x08
#define PCI_MSI_DATA_64        0x0c
#define PCI_MSI_MASK_32        0x0c
#define PCI_MSI_MASK_64        0x10
#define PCI_MSI_PENDING_32     0x10
#define PCI_MSI_PENDING_64     0x14
#define PCI_MSI_CTRL_ENABLE    0x0001 /* RW */
#define PCI_MSI_CTRL_MMC_MASK  0x000e /* RO: log2(vectors capable) */
#define PCI_MSI_CTRL_MMC_SHIFT 1
#define PCI_MSI_CTRL_MME_MASK  0x0070 /* RW: log2(vectors enabled) */
#define PCI_MSI_CTRL_MME_SHIFT 4
#define PCI_MSI_CTRL_64BIT     0x0080 /* RO */
#define PCI_MSI_CTRL_MASKABLE  0x0100 /* RO: per-vector masking */
#define PCI_MSI_VECTORS_MAX    32

/* MSI-X capability (6.8.2). */
#define PCI_MSIX_CAP_SIZE       12
#define PCI_MSIX_CTRL           0x02
#define PCI_MSIX_TABLE_OFF      0x04   /* RO: offset | BIR */
#define PCI_MSIX_PBA_OFF        0x08   /* RO: offset | BIR */
#define PCI_MSIX_CTRL_SIZE_MASK 0x07ff /* RO: table size - 1 */
#define PCI_MSIX_CTRL_MASKALL   0x4000 /* RW: function mask */
#define PCI_MSIX_CTRL_ENABLE    0x8000 /* RW */
#define PCI_MSIX_BIR_MASK       0x7
#define PCI_MSIX_VECTORS_MAX    2048
/* Table entry, 16 bytes, accessed as 4 or 8 bytes. */
#define PCI_MSIX_ENTRY_SIZE      16
#define PCI_MSIX_ENTRY_ADDR_LO   0x0
#define PCI_MSIX_ENTRY_ADDR_HI   0x4
#define PCI_MSIX_ENTRY_DATA      0x8
#define PCI_MSIX_ENTRY_CTRL      0xc
#define PCI_MSIX_ENTRY_CTRL_MASK 0x1

typedef struct PCIDevice PCIDevice;
/*
 * The struct tag is PCIBus (machine.h refers to struct PCIBus); the
 * typedef is PCIBusState because the Windows DDI that port/ compiles
 * against has an INTERFACE_TYPE enumerator named PCIBus.
 */
typedef struct PCIBus PCIBusState;

/*
 * Called after the default handling of a guest config write of @size
 * bytes at @off; @old_val / @new_val are those bytes before and after
 * (so a device can react to command, power-state or its own register
 * changes).
 */
typedef void PCIConfigWriteFunc(PCIDevice *dev, uint32_t off, uint32_t old_val,
                                uint32_t new_val, unsigned size);

typedef struct PCIBar {
    MemoryRegion *mr;      /* NULL: no BAR at this index */
    uint64_t size;         /* decoded size, a power of two */
    uint8_t type;          /* PCI_BAR_* low bits as read from config */
    bool upper_half;       /* the high dword of the 64-bit BAR below */
    uint64_t mapped_addr;  /* PCI_BAR_UNMAPPED while not decoding */
    uint64_t refused_addr; /* last address a map was refused at */
} PCIBar;

/* A BAR built from child regions at offsets; holes read 0. */
typedef struct PCIBarContainer {
    MemoryRegion mr;  /* register this one with pci_register_bar */
    GArray *children; /* PCIBarChild, sorted by offset */
    guint last_hit;   /* child index that answered last, a lookup hint */
    char *name;
} PCIBarContainer;

typedef struct PCIMsiState {
    uint8_t cap; /* offset in config space, 0 when absent */
    uint8_t cap_size;
    bool is64;
    bool maskable;
    unsigned vectors; /* vectors the function is capable of */
} PCIMsiState;

typedef struct PCIMsixState {
    uint8_t cap; /* offset in config space, 0 when absent */
    unsigned vectors;
    uint8_t *table; /* vectors * 16 bytes, little-endian */
    uint8_t *pba;   /* pba_size bytes, one bit per vector */
    uint64_t pba_size;
    MemoryRegion table_mr;
    MemoryRegion pba_mr;
    PCIBarContainer *owned[2]; /* containers msix_init created itself */
} PCIMsixState;

struct PCIDevice {
    char *name;
    PCIBusState *bus; /* NULL until pci_bus_add */
    uint8_t devfn;

    /*
     * The config bytes and their masks. wmask: bits the guest may write;
     * w1cmask: bits a guest write of 1 clears. A device model may adjust
     * the masks of its own capabilities after adding them.
     */
    uint8_t config[PCI_CONFIG_SPACE_SIZE];
    uint8_t wmask[PCI_CONFIG_SPACE_SIZE];
    uint8_t w1cmask[PCI_CONFIG_SPACE_SIZE];
    uint8_t used[PCI_CONFIG_SPACE_SIZE]; /* header + capability bytes */
    uint8_t cap_last; /* last capability in the list, 0 if none */
    uint8_t pm_cap;   /* power management capability, 0 if none */

    PCIBar bars[PCI_NUM_BARS];

    /* INTx */
    bool intx_level;  /* the device's internal interrupt state */
    bool intx_driven; /* currently asserting its routed line */
    bool intx_routed;
    unsigned intx_cpu;
    unsigned intx_vector;
    unsigned intx_wire; /* bus line 0..3 after the swizzle */

    PCIMsiState msi;
    PCIMsixState msix;

    PCIConfigWriteFunc *config_write;
    void *opaque; /* for the device model's callbacks */
    uint64_t guest_errors;
    uint64_t msgs_sent; /* MSI / MSI-X messages sent */
    uint64_t msgs_lost; /* dropped: bus mastering disabled */
};

typedef struct PCIDeviceInfo {
    uint16_t vendor_id;
    uint16_t device_id;
    uint8_t revision;
    uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
    uint16_t subsys_vendor_id;
    uint16_t subsys_id;
    uint8_t intx_pin; /* 0 none, 1..4 INTA..INTD */
} PCIDeviceInfo;

/* Life cycle */
void pci_device_init(PCIDevice *dev, const char *name,
                     const PCIDeviceInfo *info);
/* Detaches from the bus, unmaps BARs, drops INTx, frees MSI-X state. */
void pci_device_fini(PCIDevice *dev);
/* Function-level reset: command, status, BARs, MSI/MSI-X, power state. */
void pci_device_reset(PCIDevice *dev);
uint32_t pci_device_bdf(const PCIDevice *dev);

/* Unrecorded little-endian accessors on config bytes (device side). */
static inline uint8_t pci_get_byte(const uint8_t *p)
{
    return p[0];
}

static inline uint16_t pci_get_word(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t pci_get_long(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t pci_get_quad(const uint8_t *p)
{
    return (uint64_t)pci_get_long(p) | ((uint64_t)pci_get_long(p + 4) << 32);
}

static inline void pci_set_byte(uint8_t *p, uint8_t v)
{
    p[0] = v;
}

static inline void pci_set_word(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void pci_set_long(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void pci_set_quad(uint8_t *p, uint64_t v)
{
    pci_set_long(p, (uint32_t)v);
    pci_set_long(p + 4, (uint32_t)(v >> 32));
}

/*
 * Guest config access: a boundary crossing (BND_CFG_READ / WRITE),
 * charged virtual time, and a yield point in guest context. @size is 1, 2
 * or 4 at any offset with off + size <= 256; anything else reads all ones
 * and is a guest error.
 */
uint32_t pci_config_read(PCIDevice *dev, uint32_t off, unsigned size);
void pci_config_write(PCIDevice *dev, uint32_t off, uint32_t val,
                      unsigned size);

/* Capabilities. Each returns the capability's offset, 0 on error. */
uint8_t pci_add_capability(PCIDevice *dev, uint8_t cap_id, uint8_t size,
                           GError **errp);
/* First capability with @cap_id in list order, 0 if none. */
uint8_t pci_find_capability(const PCIDevice *dev, uint8_t cap_id);
uint8_t pci_add_vendor_capability(PCIDevice *dev, const uint8_t *body,
                                  size_t len, GError **errp);
uint8_t pci_add_express_capability(PCIDevice *dev, GError **errp);
uint8_t pci_add_pm_capability(PCIDevice *dev, GError **errp);

/*
 * BARs. @type: PCI_BAR_MEM32, PCI_BAR_MEM64 (uses @index + 1 too) or
 * PCI_BAR_IO, memory types optionally | PCI_BAR_PREFETCH. The BAR's size
 * is @mr->size rounded up to a power of two (>= 16 memory, >= 4 I/O).
 * Registering twice, a bad index or an empty region is a programming
 * error (assert).
 */
void pci_register_bar(PCIDevice *dev, unsigned index, unsigned type,
                      MemoryRegion *mr);
/* Size of BAR @index; 0 when none (or for the high half of a 64-bit). */
uint64_t pci_bar_size(const PCIDevice *dev, unsigned index);
/* PCI_BAR_* type bits of BAR @index (valid when pci_bar_size != 0). */
unsigned pci_bar_type(const PCIDevice *dev, unsigned index);
/* Address programmed in the BAR, whether or not it decodes. */
uint64_t pci_bar_addr(const PCIDevice *dev, unsigned index);
/* Where the BAR is mapped now, or PCI_BAR_UNMAPPED. */
uint64_t pci_bar_mapped_addr(const PCIDevice *dev, unsigned index);

/* BAR containers: compose one BAR from regions at offsets. */
void pci_bar_container_init(PCIBarContainer *c, const char *name,
                            uint64_t size);
/* Add @child at @offset; it must fit and not overlap another child. */
bool pci_bar_container_add(PCIBarContainer *c, uint64_t offset,
                           MemoryRegion *child, GError **errp);
/* Take @child out again; no effect if it is not a child. */
void pci_bar_container_remove(PCIBarContainer *c, MemoryRegion *child);
/* The container must be unmapped (pci_device_fini first). */
void pci_bar_container_destroy(PCIBarContainer *c);
/* The container behind a BAR's region, or NULL if it is a plain one. */
PCIBarContainer *pci_bar_container_of(MemoryRegion *mr);

/* Command register state, for device models (bus mastering inline:
 * every device DMA asks). */
static inline bool pci_bus_master_enabled(const PCIDevice *dev)
{
    return pci_get_word(dev->config + PCI_CFG_COMMAND) & PCI_CMD_MASTER;
}

bool pci_mem_enabled(const PCIDevice *dev);
bool pci_io_enabled(const PCIDevice *dev);

/*
 * INTx: set the function's internal interrupt state. Status.INTERRUPT
 * follows it; the routed line is asserted while it is set, INTx Disable
 * is clear and neither MSI nor MSI-X is enabled.
 */
void pci_set_irq(PCIDevice *dev, bool level);
/* The line's route; false when the function has no pin or no route. */
bool pci_intx_route(const PCIDevice *dev, unsigned *cpu, unsigned *vector);

/*
 * MSI. @vectors: 1, 2, 4, 8, 16 or 32. Returns the capability offset,
 * 0 on error.
 */
uint8_t msi_init(PCIDevice *dev, unsigned vectors, bool is64, bool maskable,
                 GError **errp);
bool msi_enabled(const PCIDevice *dev);
/* Vectors the guest enabled (Multiple Message Enable), 0 when disabled. */
unsigned msi_vectors_enabled(const PCIDevice *dev);
bool msi_vector_masked(const PCIDevice *dev, unsigned vector);
bool msi_is_pending(const PCIDevice *dev, unsigned vector);
/* Signal @vector: sent, or latched pending while masked. */
void msi_notify(PCIDevice *dev, unsigned vector);

/*
 * MSI-X: @vectors entries, the table at @table_off in BAR @table_bar and
 * the PBA at @pba_off in BAR @pba_bar (offsets 8-byte aligned). A BAR
 * index already registered must hold a PCIBarContainer, which receives
 * the table / PBA as children; an unregistered index gets a container of
 * its own, registered as a 32-bit memory BAR. Entries start masked.
 * Returns the capability offset, 0 on error.
 */
uint8_t msix_init(PCIDevice *dev, unsigned vectors, unsigned table_bar,
                  uint32_t table_off, unsigned pba_bar, uint32_t pba_off,
                  GError **errp);
/* Inline: transports ask before every interrupt which kind to send. */
static inline bool msix_enabled(const PCIDevice *dev)
{
    return dev->msix.cap &&
           (pci_get_word(dev->config + dev->msix.cap + PCI_MSIX_CTRL) &
            PCI_MSIX_CTRL_ENABLE);
}
bool msix_function_masked(const PCIDevice *dev);
bool msix_vector_masked(const PCIDevice *dev, unsigned vector);
bool msix_is_pending(const PCIDevice *dev, unsigned vector);
/* The device withdrew the condition behind a pending vector. */
void msix_clear_pending(PCIDevice *dev, unsigned vector);
/* Signal @vector: sent, or latched in the PBA while masked. */
void msix_notify(PCIDevice *dev, unsigned vector);

/*
 * Framework-internal (pci.c <-> msi.c / msix.c). Sends one message as a
 * memory write from @dev: lost (traced, counted) without bus mastering.
 */
void pci_msi_send(PCIDevice *dev, uint64_t addr, uint32_t data);
void pci_update_intx(PCIDevice *dev);
void msi_config_written(PCIDevice *dev, uint32_t off, unsigned size,
                        const uint8_t *old_cap);
void msix_config_written(PCIDevice *dev, uint16_t old_ctrl);
void msi_reset(PCIDevice *dev);
void msix_reset(PCIDevice *dev);
void msix_uninit(PCIDevice *dev);

/* Bus 0: 32 slots x 8 functions, addressed by devfn. */
struct PCIBus {
    PCIDevice *devices[PCI_DEVFN_MAX];
    unsigned wire_count[4]; /* functions asserting each INTx wire */
    unsigned ndevices;
};

PCIBusState *pci_bus_new(void);
/* The bus must be empty (pci_device_fini or pci_bus_remove each first). */
void pci_bus_free(PCIBusState *bus);
/* Plug @dev in at @devfn (-1: function 0 of the first free slot). */
bool pci_bus_add(PCIBusState *bus, PCIDevice *dev, int devfn, GError **errp);
/* Unplug: unmaps BARs and drops INTx; @dev stays initialised. Surprise
 * removal as the guest sees it (all-ones reads) is a boundary fault. */
void pci_bus_remove(PCIBusState *bus, PCIDevice *dev);
PCIDevice *pci_bus_find(const PCIBusState *bus, unsigned devfn);
/* Iterate in devfn order: pass NULL to start; NULL at the end. */
PCIDevice *pci_bus_next(const PCIBusState *bus, const PCIDevice *prev);

/*
 * Firmware resource assignment, through the recorded config path: sizes
 * every BAR, gives it a naturally aligned address (largest first) in the
 * MMIO window [PCI_MMIO_BASE, +PCI_MMIO_SIZE) or the I/O window
 * [PCI_PIO_BASE, PIO_SPACE_SIZE), enables decode and bus mastering,
 * routes INTx (see PCI_INTX_VECTOR_BASE) and writes Interrupt Line.
 * Deterministic: the same devices get the same addresses.
 */
#define PCI_INTX_VECTOR_BASE 0x50 /* vector of wire n is base + n */
#define PCI_INTX_CPU         0
bool pci_bus_assign(PCIBusState *bus, GError **errp);

/*
 * Device DMA gated by bus mastering: with the Bus Master Enable bit clear
 * the transfer is not performed (traced) and false is returned; otherwise
 * dma_read / dma_write (ram.h). Inline with them, so that a ring access
 * nobody watches is a few instructions (virtqueues make ten a request).
 */
bool pci_dma_blocked(PCIDevice *dev, const char *what, uint64_t gpa,
                     uint64_t len);

static inline __attribute__((always_inline)) bool
pci_dma_read(PCIDevice *dev, uint64_t gpa, void *buf, uint64_t len)
{
    if (G_UNLIKELY(!pci_bus_master_enabled(dev))) {
        return pci_dma_blocked(dev, "read", gpa, len);
    }
    return dma_read(gpa, buf, len);
}

static inline __attribute__((always_inline)) bool
pci_dma_write(PCIDevice *dev, uint64_t gpa, const void *buf, uint64_t len)
{
    if (G_UNLIKELY(!pci_bus_master_enabled(dev))) {
        return pci_dma_blocked(dev, "write", gpa, len);
    }
    return dma_write(gpa, buf, len);
}

#endif
