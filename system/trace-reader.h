/* SPDX-License-Identifier: MIT */
/*
 * Reading a record/replay trace (docs/trace-format.md): the header, then
 * the records one at a time, each chunk checked (magic, length, checksum,
 * continuity of event index and time) before any of its records is
 * handed out. A damaged or truncated file ends the iteration with an
 * error that names the byte offset of the damage; every record returned
 * before it stays valid. Records come from checksummed chunks, except in
 * a last chunk cut short by the end of the file (a recording that did not
 * finish), whose complete records are handed out before the truncation
 * is reported.
 *
 * No input crashes the reader (tests/fuzz/fuzz-trace-reader.c).
 */
#ifndef SYSTEM_TRACE_READER_H
#define SYSTEM_TRACE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "system/trace-format.h"

typedef struct TraceReader TraceReader;

typedef enum TraceReadStatus {
    TRACE_READ_EVENT, /* *e holds the next record */
    TRACE_READ_END,   /* the end record was read and nothing follows */
    TRACE_READ_ERROR, /* damage: trace_reader_error() says where */
} TraceReadStatus;

/* Map @path and parse its header; NULL with @errp set (naming the file
 * and the offset) when it cannot be read or the header is damaged. */
TraceReader *trace_reader_open(const char *path, GError **errp);
/* The same over @len bytes at @data, which must outlive the reader. */
TraceReader *trace_reader_new(const uint8_t *data, size_t len, const char *name,
                              GError **errp);
void trace_reader_free(TraceReader *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TraceReader, trace_reader_free)

const TraceHeader *trace_reader_header(const TraceReader *r);

/* The next record. Pointers in *e (DMA data, external payloads) point
 * into the file and stay valid while the reader lives. */
TraceReadStatus trace_reader_next(TraceReader *r, TraceEvent *e);
/* The record @ahead places after the next one (0: the next), without
 * consuming anything; errors are not remembered. */
TraceReadStatus trace_reader_peek(TraceReader *r, unsigned ahead,
                                  TraceEvent *e);

/*
 * Look ahead without consuming: call @fn on the records after the next
 * one's position (the next one first) until it returns false, the trace
 * ends or @max records were seen. Returns the status of the last step.
 */
typedef bool TraceScanFunc(const TraceEvent *e, void *opaque);
TraceReadStatus trace_reader_scan(TraceReader *r, TraceScanFunc *fn,
                                  void *opaque, unsigned max);

/* After TRACE_READ_ERROR: the message (with the offset) and the offset. */
const char *trace_reader_error(const TraceReader *r);
uint64_t trace_reader_error_offset(const TraceReader *r);

/* File offset of the record last returned by trace_reader_next(). */
uint64_t trace_reader_record_offset(const TraceReader *r);
uint64_t trace_reader_size(const TraceReader *r);
/* Bytes of the header (where the first chunk starts). */
uint64_t trace_reader_header_size(const TraceReader *r);

#endif
