/* SPDX-License-Identifier: MIT */
/*
 * Trace records as text, one line each: the format of `storemu-trace
 * dump`, of the replay's divergence report and of its stop-at report.
 * Register addresses are decoded against the PCI functions in the trace
 * header (which BAR of which function, then the device's register map:
 * virtio-scsi from hw/virtio-scsi/virtio-scsi-regs.h, MSI-X tables from
 * the recorded capability, maps added with trace_print_add_regmap());
 * config-space offsets against the PCI header and capability list; CDBs
 * as command names with their LBA and length.
 */
#ifndef SYSTEM_TRACE_PRINT_H
#define SYSTEM_TRACE_PRINT_H

#include <stdint.h>
#include <glib.h>
#include "system/trace-format.h"

/* A device's register names, for functions with this vendor:device. */
typedef struct TraceRegName {
    uint64_t offset;
    uint64_t size; /* bytes the name covers; an array when > the stride */
    uint64_t stride;
    const char *name;
} TraceRegName;

typedef struct TraceRegMap {
    uint16_t vendor_id, device_id;
    int bar;                   /* -1: any BAR */
    const TraceRegName *names; /* terminated by a NULL name */
} TraceRegMap;

/* Register a map (static storage; at most a handful). */
void trace_print_add_regmap(const TraceRegMap *map);

typedef struct TracePrinter TracePrinter;

TracePrinter *trace_printer_new(const TraceHeader *h);
void trace_printer_free(TracePrinter *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TracePrinter, trace_printer_free)

/* Append one line for @e to @out (no newline). */
void trace_print_event(const TracePrinter *p, const TraceEvent *e,
                       GString *out);
/* Append a register's name: "tp-device bar0+0x04 DOORBELL". */
void trace_print_register(const TracePrinter *p, unsigned type, uint64_t addr,
                          uint32_t devfn, GString *out);
/* Append "READ(10) lba=N blocks=M" for a CDB. */
void trace_print_cdb(const uint8_t *cdb, unsigned len, GString *out);
/* Append the name of an SRB function ("EXECUTE_SCSI", "FLUSH"...). */
void trace_print_srb_function(uint8_t function, GString *out);
/* True for READ/WRITE commands of any size: what counts as an I/O. */
bool trace_cdb_is_io(const uint8_t *cdb, unsigned len);

#endif
