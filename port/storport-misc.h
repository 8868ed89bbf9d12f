/* SPDX-License-Identifier: MIT */
/*
 * The "leaf" StorPort* routines (storport-*.c): state the port keeps on
 * the side for them, per adapter, and the helpers they share. PortAdapter
 * is the core's; everything these routines need beyond it lives in a
 * MiscAdapter found through the adapter pointer, so the core files need
 * no field of ours.
 *
 * Files: storport-memory.c (contiguous/DMA memory, MDLs, S/G lists),
 * storport-registry.c (the miniport's registry parameters),
 * storport-log.c (event log, telemetry, ETW, failed devices),
 * storport-sync.c (lists, SLists, events, threads, affinity),
 * storport-misc.c (this table, processors, requests, unit attributes,
 * state changes, the routines refused as not implemented).
 *
 * Life cycle: port_misc_adapter_teardown() at adapter removal reports what
 * the miniport never released (verifier: pool-leak) and frees it;
 * port_misc_fini() at unload drops what is left, including the event log.
 */
#ifndef PORT_STORPORT_MISC_H
#define PORT_STORPORT_MISC_H

#include <stdio.h>
#include "port/port.h"

/* ---- interface to the rest of the port ---- */

/* Report (VC_POOL_LEAK) and free what @a's miniport left allocated
 * through these routines. Call at adapter removal, before ram_fini(). */
void port_misc_adapter_teardown(PortAdapter *a);
/* Print the event log (StorPortLogError, LogSystemEvent, telemetry,
 * failed devices, notifications) collected so far; nothing if empty. */
void port_misc_print_log(FILE *f);
/* Number of entries in the event log (for summaries and tests). */
unsigned port_misc_log_count(void);
/* Forget everything: remaining adapters' records (reported as leaks
 * like a teardown), threads that ended, the event log. */
void port_misc_fini(void);

/* ---- shared by storport-*.c ---- */

/* One block from StorPortAllocateContiguousMemorySpecifyCacheNode or
 * StorPortAllocateDmaMemory. */
typedef struct MiscBlock {
    void *p;
    uint64_t gpa;
    SIZE_T bytes; /* as requested: Free must pass the same */
    MEMORY_CACHING_TYPE cache;
    bool dma; /* StorPortAllocateDmaMemory */
} MiscBlock;

typedef struct MiscAdapter MiscAdapter;

/* A StorPortStateChangeDetected notification waiting for its DPC. */
typedef struct MiscStateChange {
    PortWork work; /* first: the DPC queue links it */
    MiscAdapter *m;
    PHW_STATE_CHANGE fn;
    PVOID context;
    PSTOR_ADDRESS address;
} MiscStateChange;

struct MiscAdapter {
    PortAdapter *a;
    char name[32];  /* copy: the adapter may be gone at fini */
    GArray *blocks; /* MiscBlock, in allocation order */
    PUCHAR regbuf;  /* the one registry buffer, guest RAM */
    ULONG regbuf_len;
    GPtrArray *sg_lists;    /* built and not yet put back */
    GPtrArray *sg_pending;  /* MiscSgExec* whose DPC has not run */
    GHashTable *unit_attrs; /* BTL key -> STOR_UNIT_ATTRIBUTES bits */
    unsigned threads;       /* system threads running */
    ULONG bus_type;         /* StorPortSetAdapterBusType */
    bool bus_type_set;
    BOOLEAN features[StorportFeatureMax];
    MiscStateChange *state_change; /* queued, not yet called back */
};

/* The side record of @a, created on first use. */
MiscAdapter *misc_adapter(PortAdapter *a);

/* A yield point when running as guest code (port calls touching shared
 * state are yield points, DESIGN.md). */
void misc_yield(const char *why);
/* False (and a VC_IRQL report naming @fn) when the IRQL is above @max. */
bool misc_irql_at_most(KIRQL max, const char *fn);

/* Key of a unit address, as port_lu_find() spells it. */
static inline guint misc_btl_key(UCHAR path, UCHAR target, UCHAR lun)
{
    return ((guint)path << 16) | ((guint)target << 8) | lun;
}
/* Decode @addr as a STOR_ADDR_BTL8; false when it is not one. */
bool misc_btl(PSTOR_ADDRESS addr, UCHAR *path, UCHAR *target, UCHAR *lun);
/* Describe a unit address ("adapter" for NULL) into @buf. */
const char *misc_address_text(PSTOR_ADDRESS addr, char *buf, size_t len);

/* UTF-8 copy of the UTF-16 string @s, reading at most @max units before
 * its terminator; *too_long (optional) says the terminator was not found
 * within @max. NULL for a NULL @s. g_free the result. */
char *misc_wstr(PCWSTR s, size_t max, bool *too_long);
/* Append @n bytes of @p as hex ("0a1b..."), at most @max of them. */
void misc_hex(GString *s, const void *p, size_t n, size_t max);

/* Append an event-log entry for adapter @name (storport-log.c). */
void misc_log(const char *name, const char *kind, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Per-file teardown/fini hooks, called from storport-misc.c. */
void misc_memory_teardown(MiscAdapter *m);
void misc_registry_teardown(MiscAdapter *m);
void misc_sync_teardown(MiscAdapter *m);
void misc_sync_fini(void);
void misc_log_fini(void);

#endif
