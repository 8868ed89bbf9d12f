/* SPDX-License-Identifier: MIT */
/*
 * Record/replay test fixtures (test code only, never in the product):
 *
 *  - "rr", a full-duplex physical miniport for tp-device
 *    (tests/helpers/tp-device.h) that serves a disk well enough for the
 *    class layer and the guest programs (INQUIRY, REPORT LUNS, READ
 *    CAPACITY, READ/WRITE through the device by tag, a READ's data DMA'd
 *    by the device), with a genuine timing bug: its tags come from a free
 *    stack shared by HwStorStartIo and the interrupt routine, and the
 *    interrupt routine updates the stack's index from a copy taken before
 *    it reads the completion queue. A StartIo on another vCPU that takes a
 *    tag while the routine is between those reads has its update
 *    overwritten, the tag is handed out twice, and a completion then
 *    reaches the port for an SRB that is not there (a verifier violation).
 *    Only schedules that put a StartIo in that window expose it.
 *    rr_fix = true makes the routine update the index per tag.
 *
 *  - the machine harness: tp-device + "rr" on a bare machine, optionally
 *    recording or replaying (device on or off), a guest body run between
 *    port start and shutdown, and the outcome.
 */
#ifndef TESTS_HELPERS_RR_H
#define TESTS_HELPERS_RR_H

#include <stdbool.h>
#include <stdint.h>
#include <storport.h>
#include "system/config.h"
#include "system/record.h"
#include "system/replay.h"

/* ---- the miniport ---- */

#define RR_TAGS     32
#define RR_BLOCK    512
#define RR_BLOCKS   (64 * 1024) /* a 32 MiB disk */
#define RR_MAX_XFER (64 * 1024)

extern bool rr_fix;
/* Completions the miniport sent for an SRB it no longer had (the bug). */
extern unsigned rr_stale_completions;
/* The crossing count (bnd_seq) when a tag in flight was handed out again,
 * and when the first stale completion went to the port (0: never). */
extern uint64_t rr_bug_seq;
extern uint64_t rr_stale_seq;

ULONG rr_driver_entry(PVOID DriverObject, PVOID RegistryPath);

/* ---- the machine ---- */

typedef struct RrRun {
    unsigned smp;       /* default 2 */
    SchedPolicy policy; /* default fifo */
    uint64_t seed;
    double preempt; /* sched=random; 0: the default */
    unsigned msix;  /* MSI-X messages of the device; 0: INTx */
    VerifierMode verifier;
    uint64_t limit_ns; /* virtual-time limit; 0: 60 s */

    const char *record; /* record into this file */
    RecordData data;

    const char *replay; /* or replay this one */
    bool device_off;
    bool has_stop_at;
    uint64_t stop_at;

    void (*body)(void *opaque); /* runs on vCPU 0 after port start */
    void *opaque;
} RrRun;

typedef struct RrOutcome {
    int rc; /* as storemu would exit */
    MachineStop stop;
    uint64_t verifier;    /* violations */
    unsigned stale;       /* rr_stale_completions */
    uint64_t bug_event;   /* event index of the double tag (0: none) */
    uint64_t stale_event; /* event index of the first stale completion */
    uint64_t events;      /* crossings during the run */
    uint64_t vtime;
    uint64_t fingerprint; /* sched_fingerprint() */
    RecordStats rec;
    ReplayResult replay;
    char *report; /* the replay report, g_free */
} RrOutcome;

void rr_run(const RrRun *r, RrOutcome *out);
void rr_outcome_clear(RrOutcome *o);

/* Bodies */
typedef struct RrIoLoad {
    unsigned threads; /* guest threads, one per vCPU from 0 */
    unsigned rounds;  /* batches per thread */
    unsigned depth;   /* requests per batch */
    unsigned blocks;  /* per request */
    bool writes;      /* alternate READ and WRITE */
} RrIoLoad;

/* Batches of requests from @threads threads through the port. */
void rr_body_io(void *opaque);
/* A guest program ("iobench,count=...") run as the body. */
void rr_body_program(void *opaque);

#endif
