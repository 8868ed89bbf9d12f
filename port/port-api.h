/* SPDX-License-Identifier: MIT */
/*
 * The port's upper edge: what the class layer (guest-tests/lib) and guest
 * programs use, in the role Windows' disk class driver plays. Everything
 * here runs in guest context (a guest thread or DPC), never in the
 * machine's main loop.
 *
 * Life cycle: port_start() runs the miniport's DriverEntry, finds and
 * initializes every adapter it supports and enumerates their logical
 * units; port_power() stops and restarts adapters; port_shutdown() sends
 * the flush and shutdown requests and removes the adapters.
 */
#ifndef PORT_PORT_API_H
#define PORT_PORT_API_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef struct PortLu PortLu;
typedef struct PortRequest PortRequest;
typedef struct PortAdapter PortAdapter;

typedef void PortDoneFunc(PortRequest *req, void *opaque);

/* PASSIVE_LEVEL, on a guest thread. False when no adapter started. */
bool port_start(GError **errp);

unsigned port_lun_count(void);
PortLu *port_lun_at(unsigned i);
void port_lun_address(const PortLu *lu, unsigned *path, unsigned *target,
                      unsigned *lun);
/* The standard INQUIRY data read at enumeration (36 bytes at least). */
const uint8_t *port_lun_inquiry(const PortLu *lu);
unsigned port_lun_adapter(const PortLu *lu);
/* The adapter's limits and the unit's queue, as a class driver learns
 * them (IOCTL_STORAGE_QUERY_PROPERTY, adapter descriptor). */
uint32_t port_lun_max_transfer(const PortLu *lu);
uint32_t port_lun_srb_extension_size(const PortLu *lu);
unsigned port_lun_queue_depth(const PortLu *lu);
/* Requests of the unit inside the miniport right now. */
unsigned port_lun_outstanding(const PortLu *lu);
/* True once a miniport is loaded (port_start may be called). */
bool port_is_loaded(void);

/* Requests: allocate once, reuse for many I/Os. */
PortRequest *port_request_new(PortLu *lu);
void port_request_free(PortRequest *req);

typedef enum PortXfer {
    PORT_XFER_NONE,
    PORT_XFER_IN,  /* device to memory */
    PORT_XFER_OUT, /* memory to device */
} PortXfer;

/*
 * Set @req up as an SRB_FUNCTION_EXECUTE_SCSI request. @buf must be guest
 * memory (ram_alloc): one that is not is refused as the request starts
 * (SRB_STATUS_INVALID_REQUEST). @timeout_s 0 means the default (10 s).
 */
void port_request_scsi(PortRequest *req, const uint8_t *cdb, unsigned cdb_len,
                       void *buf, uint32_t len, PortXfer dir,
                       unsigned timeout_s);
/* Set @req up as another SRB function (SRB_FUNCTION_FLUSH, ...). */
void port_request_function(PortRequest *req, uint8_t function);

/* Queue @req; @done runs at DISPATCH_LEVEL on the vCPU where the miniport
 * completed it (the vCPU of its ISR or DPC), as without DPC redirection. */
void port_submit(PortRequest *req, PortDoneFunc *done, void *opaque);
/* Submit and wait (PASSIVE_LEVEL). */
void port_execute(PortRequest *req);

uint8_t port_request_srb_status(const PortRequest *req);
uint8_t port_request_scsi_status(const PortRequest *req);
uint32_t port_request_transferred(const PortRequest *req);
/* Sense data the miniport returned (autosense), its length. */
const uint8_t *port_request_sense(const PortRequest *req, unsigned *len);
uint64_t port_request_id(const PortRequest *req);
/* All four results of a finished request in one call, as a class driver
 * reads them after every completion. */
typedef struct PortResults {
    uint8_t srb_status;
    uint8_t scsi_status;
    uint32_t transferred;
    const uint8_t *sense; /* the autosense copy, sense_len bytes */
    unsigned sense_len;
} PortResults;
void port_request_results(const PortRequest *req, PortResults *out);

/* The first member of every PortRequest: the one result a class driver
 * asks of nearly every completion, readable in place with no call. */
typedef struct PortRequestHead {
    /* Set as the request finishes: transferred + 2^32 when it finished
     * clean (SRB_STATUS_SUCCESS, SCSISTAT_GOOD, no sense data), else 0. */
    uint64_t clean;
} PortRequestHead;

/* Whether a finished request finished clean, and then how much it moved:
 * port_request_results() tells the rest of any other. */
static inline bool port_request_finished_clean(const PortRequest *req,
                                               uint32_t *transferred)
{
    uint64_t c = ((const PortRequestHead *)req)->clean;

    *transferred = (uint32_t)c;
    return c >> 32;
}

/* A key for port_request_clean_covers(): finished clean, @bytes moved at
 * least. PORT_CLEAN_NEVER is covered by no request. */
#define PORT_CLEAN_NEVER UINT64_MAX
static inline uint64_t port_clean_key(uint32_t bytes)
{
    return (uint64_t)1 << 32 | bytes;
}

/* Whether a finished request finished clean having moved at least the
 * bytes in @key: one comparison of the word in place, as the clean flag
 * sits above the length. */
static inline bool port_request_clean_covers(const PortRequest *req,
                                             uint64_t key)
{
    return ((const PortRequestHead *)req)->clean >= key;
}

typedef enum PortPowerAction {
    PORT_POWER_STOP,      /* device removal/disable: ScsiStopAdapter */
    PORT_POWER_HIBERNATE, /* flush, then ScsiStopAdapter */
    PORT_POWER_RESUME,    /* ScsiRestartAdapter, queues resume */
} PortPowerAction;

/* PASSIVE_LEVEL: waits for I/O in flight before stopping. */
bool port_power(PortPowerAction action, GError **errp);
/* PASSIVE_LEVEL: flush + shutdown requests, stop, free, leak checks. */
void port_shutdown(void);

/* Counters for reports. */
typedef struct PortStats {
    uint64_t started, completed, busy_returns, resets, timeouts;
    uint64_t interrupts, spurious_interrupts;
    uint64_t violations;
} PortStats;
void port_stats(PortStats *st);

#endif
