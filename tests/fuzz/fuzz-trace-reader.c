/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the record/replay trace reader
 * (system/trace-reader.h): any byte string is parsed as a trace, every
 * record it yields is printed the way `storemu-trace dump` prints it, and
 * the look-ahead paths replay uses (peek, scan) are run at every step. The
 * reader must end with the end record or an error naming an offset inside
 * the input, and never read outside it (ASan) or misbehave (UBSan).
 *
 * Every input is read twice: as it is (the checksums turn most mutations
 * into "corrupt chunk"), and with the header and chunk checksums made
 * right first, so that mutated records reach the record decoder.
 *
 * Seeds: tests/fuzz/corpus/trace-reader/ (small recordings, some cut
 * short, one with a flipped byte).
 *   make fuzz && build/fuzz/fuzz-trace-reader tests/fuzz/corpus/trace-reader
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "system/trace-print.h"
#include "system/trace-reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool count_one(const TraceEvent *e, void *opaque)
{
    unsigned *n = opaque;

    (void)e;
    return ++*n < 8;
}

/* Recompute the checksums the input's own lengths point at. */
static void repair_checksums(uint8_t *p, size_t size)
{
    size_t pos, flen;

    if (size < TRACE_FILE_HDR_LEN ||
        memcmp(p, TRACE_MAGIC, TRACE_MAGIC_LEN) != 0) {
        return;
    }
    flen = trace_get_u32(p + 12);
    pos = TRACE_FILE_HDR_LEN + flen;
    if (flen > size || pos + TRACE_CHECKSUM_LEN > size) {
        return;
    }
    trace_put_u64(p + pos, trace_hash64(p, pos, 0));
    pos += TRACE_CHECKSUM_LEN;
    while (pos + TRACE_CHUNK_HDR <= size) {
        uint32_t len = trace_get_u32(p + pos + 4);
        if (!len || len > size - pos - TRACE_CHUNK_HDR) {
            return;
        }
        trace_put_u64(p + pos + 24, trace_chunk_checksum(p + pos, len));
        pos += TRACE_CHUNK_HDR + len;
    }
}

static void read_trace(const uint8_t *data, size_t size, bool repair);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_trace(data, size, false);
    read_trace(data, size, true);
    return 0;
}

static void read_trace(const uint8_t *data, size_t size, bool repair)
{
    /* A copy of exactly @size bytes, so ASan sees any read past it. */
    uint8_t *copy = g_memdup2(data, size ? size : 1);
    GError *err = NULL;
    TraceReader *r;
    GString *line = g_string_new(NULL);
    TracePrinter *p;
    TraceReadStatus st;
    TraceEvent e, ahead;
    unsigned steps = 0;

    if (repair) {
        repair_checksums(copy, size);
    }
    r = trace_reader_new(copy, size, "fuzz", &err);
    if (!r) {
        if (!err || !err->message[0]) {
            abort();
        }
        g_error_free(err);
        g_string_free(line, TRUE);
        g_free(copy);
        return;
    }
    p = trace_printer_new(trace_reader_header(r));
    for (;;) {
        unsigned n = 0;
        trace_reader_peek(r, steps % 3, &ahead);
        trace_reader_scan(r, count_one, &n, 16);
        st = trace_reader_next(r, &e);
        if (st != TRACE_READ_EVENT) {
            break;
        }
        if (trace_reader_record_offset(r) >= size) {
            abort();
        }
        g_string_truncate(line, 0);
        trace_print_event(p, &e, line);
        steps++;
    }
    if (st == TRACE_READ_ERROR &&
        (trace_reader_error_offset(r) > size || !trace_reader_error(r)[0])) {
        abort();
    }
    trace_printer_free(p);
    trace_reader_free(r);
    g_string_free(line, TRUE);
    g_free(copy);
}
