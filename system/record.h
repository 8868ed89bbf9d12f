/* SPDX-License-Identifier: MIT */
/*
 * Recording (-record FILE[,data=hash|full]): a boundary hook that writes
 * every crossing, every annotation and periodic checkpoints to a trace
 * file (docs/trace-format.md). Records are encoded into one large buffer
 * that goes to the file with a single write() when it fills and at the
 * end, so the run itself makes no system calls.
 *
 * Life cycle: record_start() after the machine is assembled (after
 * machine_init(), before the guest runs), record_finish() when the run
 * stopped, before machine_fini().
 */
#ifndef SYSTEM_RECORD_H
#define SYSTEM_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "system/config.h"
#include "system/cpu.h"
#include "system/opts.h"

typedef enum RecordData {
    RECORD_DATA_HASH, /* DMA data as a digest per run of DMAs */
    RECORD_DATA_FULL, /* the data itself (needed by replay device=off) */
} RecordData;

/* Checkpoint every this many crossings. */
#define RECORD_CHECKPOINT_INTERVAL 65536

typedef struct RecordStats {
    uint64_t events;  /* crossings */
    uint64_t records; /* all records, annotations included */
    uint64_t bytes;   /* file size so far (header included) */
    uint64_t ios;     /* READ/WRITE requests started */
    uint64_t srbs;    /* requests started */
    uint64_t irqs;    /* interrupts raised */
    uint64_t dmas;
    int64_t host_us; /* host time since record_start (for reports) */
} RecordStats;

/*
 * Start recording the assembled machine built from @cfg into @path.
 * Fails (nothing attached) when the file cannot be created or an image
 * cannot be read for its identity. Warns once on stderr when an image is
 * writable without snapshot=on: a replay needs the image as it was.
 */
bool record_start(const char *path, RecordData data, const MachineConfig *cfg,
                  GError **errp);
/* The same from the -record option's Opts. */
bool record_start_opts(const Opts *o, const MachineConfig *cfg, GError **errp);
bool record_active(void);
/*
 * Write the end record (the run's exit code and how it stopped), flush,
 * close and detach. False with @errp set when any write failed: the file
 * is then incomplete (a reader says where it ends).
 */
bool record_finish(int exit_code, MachineStop stop, GError **errp);
/* Statistics of the current or last recording. */
void record_get_stats(RecordStats *st);

/* External records for layers that feed the machine (docs/trace-format.md,
 * "External records"); no-ops when not recording. */
void record_fault(uint32_t code, const char *what);
void record_input(uint32_t code, const void *data, size_t len);
void record_note(const char *text);

#endif
