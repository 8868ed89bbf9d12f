/* SPDX-License-Identifier: MIT */
/*
 * The trace reader (trace-reader.h): maps the file, validates the header
 * and then each chunk as iteration reaches it, and decodes records with
 * the shared codec (trace-format.c). A failure is sticky and carries the
 * byte offset; the chunks before it were complete and checksummed.
 */
#include <inttypes.h>
#include <string.h>
#include "system/error.h"
#include "system/trace-reader.h"

typedef struct TraceCursor {
    size_t pos;       /* next byte to read */
    size_t chunk_end; /* end of the current chunk's payload */
    bool in_chunk;
    bool seen_end;
    bool truncated; /* the current chunk runs past the end of the file */
    size_t chunk_start;
    uint32_t chunk_len;
    uint64_t next_index, next_time; /* what the next chunk must start at */
    size_t last_record;
    TraceCodec codec;
} TraceCursor;

/* A record decoded ahead of trace_reader_next() (peek, scan). */
typedef struct Ahead {
    TraceEvent e;
    TraceReadStatus st;
    size_t offset; /* of the record */
    char *msg;     /* TRACE_READ_ERROR: what, and where */
    uint64_t at;
} Ahead;

/* Records kept decoded ahead; a scan that goes further looks on with a
 * copy of the cursor instead. */
#define AHEAD_MAX 4096

struct TraceReader {
    GMappedFile *map;
    const uint8_t *data;
    size_t len;
    char *name;
    TraceHeader hdr;
    size_t header_len;
    TraceCursor cur; /* after the records in ahead */
    GArray *ahead;   /* Ahead, oldest first from ahead_head */
    guint ahead_head;
    size_t last_record; /* offset of the record next() returned last */
    bool failed;
    char *error;
    uint64_t error_offset;
};

static TraceReader *reader_init(const uint8_t *data, size_t len,
                                const char *name, GError **errp)
{
    TraceReader *r = g_new0(TraceReader, 1);
    g_autoptr(GError) err = NULL;

    r->data = data;
    r->len = len;
    r->name = g_strdup(name ? name : "trace");
    trace_header_init(&r->hdr);
    r->header_len = trace_header_decode(data, len, &r->hdr, &err);
    if (!r->header_len) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED, "%s: %s",
                    r->name, err->message);
        trace_reader_free(r);
        return NULL;
    }
    r->ahead = g_array_new(FALSE, FALSE, sizeof(Ahead));
    r->cur.pos = r->header_len;
    r->cur.next_index = 0;
    r->cur.next_time = r->hdr.start_time;
    r->cur.codec.full_data = r->hdr.full_data;
    r->cur.codec.smp = r->hdr.smp;
    return r;
}

TraceReader *trace_reader_new(const uint8_t *data, size_t len, const char *name,
                              GError **errp)
{
    return reader_init(data, len, name, errp);
}

TraceReader *trace_reader_open(const char *path, GError **errp)
{
    g_autoptr(GError) err = NULL;
    GMappedFile *map = g_mapped_file_new(path, FALSE, &err);
    TraceReader *r;

    if (!map) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "cannot read trace: %s", err->message);
        return NULL;
    }
    r = reader_init((const uint8_t *)g_mapped_file_get_contents(map),
                    g_mapped_file_get_length(map), path, errp);
    if (!r) {
        g_mapped_file_unref(map);
        return NULL;
    }
    r->map = map;
    return r;
}

void trace_reader_free(TraceReader *r)
{
    if (!r) {
        return;
    }
    trace_header_clear(&r->hdr);
    if (r->ahead) {
        for (guint i = r->ahead_head; i < r->ahead->len; i++) {
            g_free(g_array_index(r->ahead, Ahead, i).msg);
        }
        g_array_free(r->ahead, TRUE);
    }
    if (r->map) {
        g_mapped_file_unref(r->map);
    }
    g_free(r->name);
    g_free(r->error);
    g_free(r);
}

const TraceHeader *trace_reader_header(const TraceReader *r)
{
    return &r->hdr;
}

typedef struct Failure {
    char *msg;
    uint64_t offset;
} Failure;

static TraceReadStatus fail(const TraceReader *r, Failure *f, uint64_t offset,
                            const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static TraceReadStatus fail(const TraceReader *r, Failure *f, uint64_t offset,
                            const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    f->msg = g_strdup_printf("%s: %s", r->name, what);
    f->offset = offset;
    return TRACE_READ_ERROR;
}

/* Enter the chunk at cur->pos after checking it. */
static TraceReadStatus enter_chunk(const TraceReader *r, TraceCursor *cur,
                                   Failure *f)
{
    size_t pos = cur->pos;
    size_t avail = r->len - pos;
    TraceChunk c;

    if (avail == 0) {
        return fail(r, f, pos,
                    "truncated at byte %zu: no end record (the recording "
                    "did not finish)",
                    pos);
    }
    if (avail < TRACE_CHUNK_HDR) {
        return fail(r, f, pos,
                    "truncated at byte %zu: partial chunk header (%zu of %d "
                    "bytes)",
                    r->len, avail, TRACE_CHUNK_HDR);
    }
    if (!trace_chunk_parse(r->data + pos, &c)) {
        return fail(r, f, pos, "corrupt at byte %zu: no chunk header here",
                    pos);
    }
    if (c.len == 0 || c.len > TRACE_CHUNK_MAX) {
        return fail(r, f, pos + 4,
                    "corrupt at byte %zu: chunk length %u out of range",
                    pos + 4, c.len);
    }
    cur->truncated = c.len > avail - TRACE_CHUNK_HDR;
    cur->chunk_start = pos;
    cur->chunk_len = c.len;
    if (cur->truncated) {
        /* The file ends inside this chunk (a recording that did not
         * finish): its complete records are still handed out, unchecked,
         * and the end of the file is reported after them. */
    } else if (trace_chunk_checksum(r->data + pos, c.len) != c.checksum) {
        return fail(r, f, pos,
                    "corrupt at bytes %zu..%zu: chunk checksum mismatch", pos,
                    pos + TRACE_CHUNK_HDR + c.len - 1);
    }
    if (c.base_index != cur->next_index || c.base_time != cur->next_time) {
        return fail(r, f, pos + 8,
                    "corrupt at byte %zu: chunk starts at event %" PRIu64
                    ", %" PRIu64 " ns; the previous one ended at event "
                    "%" PRIu64 ", %" PRIu64 " ns",
                    pos + 8, c.base_index, c.base_time, cur->next_index,
                    cur->next_time);
    }
    trace_codec_reset(&cur->codec, c.base_index, c.base_time);
    cur->pos = pos + TRACE_CHUNK_HDR;
    cur->chunk_end = cur->truncated ? r->len : cur->pos + c.len;
    cur->in_chunk = true;
    return TRACE_READ_EVENT;
}

static TraceReadStatus fail_truncated(const TraceReader *r,
                                      const TraceCursor *cur, Failure *f)
{
    return fail(r, f, r->len,
                "truncated at byte %zu: the chunk at byte %zu needs %u bytes, "
                "%zu are present",
                r->len, cur->chunk_start, cur->chunk_len,
                r->len - cur->chunk_start - TRACE_CHUNK_HDR);
}

static TraceReadStatus step(const TraceReader *r, TraceCursor *cur,
                            TraceEvent *e, Failure *f)
{
    const char *why = NULL;
    size_t m;

    if (cur->seen_end) {
        if (cur->pos < r->len) {
            return fail(r, f, cur->pos,
                        "corrupt at byte %zu: data after the end record",
                        cur->pos);
        }
        return TRACE_READ_END;
    }
    if (!cur->in_chunk && enter_chunk(r, cur, f) == TRACE_READ_ERROR) {
        return TRACE_READ_ERROR;
    }
    if (cur->truncated && cur->pos == cur->chunk_end) {
        return fail_truncated(r, cur, f);
    }
    m = trace_decode(&cur->codec, r->data + cur->pos, cur->chunk_end - cur->pos,
                     e, &why);
    if (!m && cur->truncated) {
        return fail_truncated(r, cur, f);
    }
    if (!m) {
        return fail(r, f, cur->pos, "corrupt at byte %zu: %s", cur->pos, why);
    }
    cur->last_record = cur->pos;
    cur->pos += m;
    if (cur->pos == cur->chunk_end && !cur->truncated) {
        cur->in_chunk = false;
        cur->next_index = cur->codec.index;
        cur->next_time = cur->codec.time;
    }
    if (e->type == TT_END) {
        if (cur->in_chunk) {
            return fail(r, f, cur->pos,
                        "corrupt at byte %zu: records after the end record",
                        cur->pos);
        }
        cur->seen_end = true;
    }
    return TRACE_READ_EVENT;
}

static guint ahead_count(const TraceReader *r)
{
    return r->ahead->len - r->ahead_head;
}

/* Decode one more record into the look-ahead (the cursor moves on). */
static void fetch(TraceReader *r)
{
    Ahead a = {0};
    Failure f = {0};

    if (r->ahead_head == r->ahead->len) {
        g_array_set_size(r->ahead, 0);
        r->ahead_head = 0;
    } else if (r->ahead_head >= AHEAD_MAX) {
        /* Never drained (a peek ahead of every next()): drop what was
         * handed out. */
        g_array_remove_range(r->ahead, 0, r->ahead_head);
        r->ahead_head = 0;
    }
    a.st = step(r, &r->cur, &a.e, &f);
    a.offset = r->cur.last_record;
    a.msg = f.msg;
    a.at = f.offset;
    g_array_append_val(r->ahead, a);
}

/* The look-ahead's entry @i (0: the next record, i < AHEAD_MAX),
 * decoding up to it; NULL when it lies past an error or the end. */
static const Ahead *ahead_at(TraceReader *r, guint i)
{
    while (ahead_count(r) <= i) {
        const Ahead *last =
            ahead_count(r) ? &g_array_index(r->ahead, Ahead, r->ahead->len - 1)
                           : NULL;
        if (last && last->st != TRACE_READ_EVENT) {
            return NULL;
        }
        fetch(r);
    }
    return &g_array_index(r->ahead, Ahead, r->ahead_head + i);
}

TraceReadStatus trace_reader_next(TraceReader *r, TraceEvent *e)
{
    Failure f = {0};
    TraceReadStatus st;

    if (r->failed) {
        return TRACE_READ_ERROR;
    }
    if (ahead_count(r)) {
        Ahead *a = &g_array_index(r->ahead, Ahead, r->ahead_head++);
        *e = a->e;
        r->last_record = a->offset;
        st = a->st;
        f.msg = a->msg;
        f.offset = a->at;
        a->msg = NULL;
    } else {
        st = step(r, &r->cur, e, &f);
        r->last_record = r->cur.last_record;
    }
    if (st == TRACE_READ_ERROR) {
        r->failed = true;
        r->error = f.msg;
        r->error_offset = f.offset;
    } else {
        g_free(f.msg);
    }
    return st;
}

TraceReadStatus trace_reader_scan(TraceReader *r, TraceScanFunc *fn,
                                  void *opaque, unsigned max)
{
    TraceCursor *cur;
    TraceReadStatus st = TRACE_READ_ERROR;
    TraceEvent e;
    unsigned i = 0;

    if (r->failed) {
        return TRACE_READ_ERROR;
    }
    for (; i < max && i < AHEAD_MAX; i++) {
        const Ahead *a = ahead_at(r, i);
        if (a->st != TRACE_READ_EVENT || !fn(&a->e, opaque)) {
            return a->st;
        }
    }
    if (i == max) {
        return TRACE_READ_EVENT;
    }
    /* Further than the look-ahead keeps: on with a copy of the cursor
     * (the look-ahead ends where r->cur is). */
    cur = g_memdup2(&r->cur, sizeof(*cur));
    for (; i < max; i++) {
        Failure f = {0};
        st = step(r, cur, &e, &f);
        g_free(f.msg);
        if (st != TRACE_READ_EVENT || !fn(&e, opaque)) {
            break;
        }
    }
    g_free(cur);
    return st;
}

typedef struct PeekAt {
    unsigned left; /* records to pass before the one wanted */
    TraceEvent *e;
} PeekAt;

static bool peek_one(const TraceEvent *e, void *opaque)
{
    PeekAt *p = opaque;

    *p->e = *e;
    return p->left-- > 0;
}

TraceReadStatus trace_reader_peek(TraceReader *r, unsigned ahead, TraceEvent *e)
{
    PeekAt p = {.left = ahead, .e = e};

    return trace_reader_scan(r, peek_one, &p, ahead + 1);
}

const char *trace_reader_error(const TraceReader *r)
{
    return r->error ? r->error : "";
}

uint64_t trace_reader_error_offset(const TraceReader *r)
{
    return r->error_offset;
}

uint64_t trace_reader_record_offset(const TraceReader *r)
{
    return r->last_record;
}

uint64_t trace_reader_size(const TraceReader *r)
{
    return r->len;
}

uint64_t trace_reader_header_size(const TraceReader *r)
{
    return r->header_len;
}
