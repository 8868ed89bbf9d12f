/* SPDX-License-Identifier: MIT */
/*
 * storemu-trace: look at record/replay traces (docs/trace-format.md).
 *
 *   storemu-trace dump FILE [--from N] [--count N]
 *   storemu-trace stats FILE
 *   storemu-trace diff A B
 *   storemu-trace export --perfetto FILE [-o OUT]
 *
 * Exit codes: 0 done (diff: identical), 1 diff found a difference or the
 * trace is damaged (what was read before the damage is still printed),
 * 2 usage or unreadable file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "config-host.h"
#include "hw/core/irqchip.h"
#include "system/trace-format.h"
#include "system/trace-print.h"
#include "system/trace-reader.h"

#define TOOL_OK      0
#define TOOL_DIFFER  1
#define TOOL_USAGE   2
#define DIFF_CONTEXT 10

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: storemu-trace COMMAND ...\n"
            "  dump FILE [--from N] [--count N]  one line per record\n"
            "  stats FILE                        events by kind, I/Os, "
            "interrupts, vCPUs\n"
            "  diff A B                          the first difference, with "
            "context\n"
            "  export --perfetto FILE [-o OUT]   Chrome/Perfetto trace JSON\n"
            "  --version\n");
}

static TraceReader *open_or_complain(const char *path)
{
    g_autoptr(GError) err = NULL;
    TraceReader *r = trace_reader_open(path, &err);

    if (!r) {
        fprintf(stderr, "storemu-trace: %s\n", err->message);
    }
    return r;
}

/* Report the reader's damage, if any; 0 or TOOL_DIFFER. */
static int finish_reading(TraceReader *r, TraceReadStatus st)
{
    if (st == TRACE_READ_ERROR) {
        fprintf(stderr, "storemu-trace: %s\n", trace_reader_error(r));
        return TOOL_DIFFER;
    }
    return TOOL_OK;
}

static void print_header(const TraceHeader *h, FILE *f)
{
    fprintf(f, "# storemu trace, format %u, build %s, data=%s\n", h->version,
            h->build_id, h->full_data ? "full" : "hash");
    fprintf(f, "# seed %" PRIu64 ", %u vCPU%s, %" PRIu64 " MiB RAM\n", h->seed,
            h->smp, h->smp == 1 ? "" : "s", h->mem_size >> 20);
    fprintf(f, "# configuration:");
    for (guint i = 0; i < h->argv->len; i++) {
        g_autofree char *q = g_shell_quote(g_ptr_array_index(h->argv, i));
        fprintf(f, " %s", q);
    }
    fprintf(f, "\n");
    for (guint i = 0; i < h->images->len; i++) {
        const TraceImage *im = &g_array_index(h->images, TraceImage, i);
        fprintf(
            f, "# image %s: %s, %" PRIu64 " bytes, hash 0x%016" PRIx64 "%s%s\n",
            im->id, im->filename[0] ? im->filename : "(temporary)", im->size,
            im->hash, im->flags & TRACE_IMAGE_READONLY ? ", read-only" : "",
            im->flags & TRACE_IMAGE_SNAPSHOT ? ", snapshot" : "");
    }
    for (guint i = 0; i < h->functions->len; i++) {
        const TracePciFunction *fn =
            &g_array_index(h->functions, TracePciFunction, i);
        fprintf(f, "# pci %02x.%x %s %04x:%04x", (fn->bdf >> 3) & 0x1f,
                fn->bdf & 7, fn->name, fn->config[0] | (fn->config[1] << 8),
                fn->config[2] | (fn->config[3] << 8));
        for (unsigned b = 0; b < TRACE_PCI_BARS; b++) {
            if (fn->bar_size[b]) {
                fprintf(f, " bar%u=0x%" PRIx64 "+0x%" PRIx64, b,
                        fn->bar_addr[b], fn->bar_size[b]);
            }
        }
        if (fn->intx_routed) {
            fprintf(f, " intx=cpu%u/0x%02x", fn->intx_cpu, fn->intx_vector);
        }
        fprintf(f, "\n");
    }
}

static bool parse_u64_arg(const char *s, uint64_t *v)
{
    char *end = NULL;

    if (!s || !g_ascii_isdigit(s[0])) {
        return false;
    }
    *v = g_ascii_strtoull(s, &end, 0);
    return end && !*end;
}

static int cmd_dump(int argc, char **argv)
{
    g_autoptr(TraceReader) r = NULL;
    g_autoptr(TracePrinter) p = NULL;
    g_autoptr(GString) line = g_string_new(NULL);
    uint64_t from = 0, count = UINT64_MAX, shown = 0;
    const char *path = NULL;
    TraceReadStatus st;
    TraceEvent e;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            if (!parse_u64_arg(argv[++i], &from)) {
                fprintf(stderr, "storemu-trace: --from: not a number\n");
                return TOOL_USAGE;
            }
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            if (!parse_u64_arg(argv[++i], &count)) {
                fprintf(stderr, "storemu-trace: --count: not a number\n");
                return TOOL_USAGE;
            }
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            usage(stderr);
            return TOOL_USAGE;
        }
    }
    if (!path) {
        usage(stderr);
        return TOOL_USAGE;
    }
    r = open_or_complain(path);
    if (!r) {
        return TOOL_USAGE;
    }
    p = trace_printer_new(trace_reader_header(r));
    print_header(trace_reader_header(r), stdout);
    while ((st = trace_reader_next(r, &e)) == TRACE_READ_EVENT) {
        if (e.index < from || shown >= count) {
            continue;
        }
        g_string_truncate(line, 0);
        trace_print_event(p, &e, line);
        puts(line->str);
        shown++;
    }
    fflush(stdout);
    return finish_reading(r, st);
}

/* ---- stats ---- */

typedef struct CpuStats {
    uint64_t crossings, picks, delivered, srbs;
} CpuStats;

static int cmd_stats(int argc, char **argv)
{
    g_autoptr(TraceReader) r = NULL;
    uint64_t by_type[TT_COUNT] = {0}, bytes_by_type[TT_COUNT] = {0};
    uint64_t prev_off = 0;
    unsigned prev_type = TT_COUNT;
    uint64_t ext[TRACE_EXT_KINDS] = {0};
    uint64_t ios = 0, io_bytes = 0, dma_bytes[2] = {0}, done = 0, errors = 0;
    uint64_t msi = 0, intx = 0, events = 0, first_t = 0, last_t = 0;
    uint64_t vectors[256] = {0};
    CpuStats cpu[TRACE_SMP_MAX] = {{0}};
    const TraceHeader *h;
    TraceReadStatus st;
    TraceEvent e;
    bool have_t = false;
    int exit_code = -1;

    if (argc != 1) {
        usage(stderr);
        return TOOL_USAGE;
    }
    r = open_or_complain(argv[0]);
    if (!r) {
        return TOOL_USAGE;
    }
    h = trace_reader_header(r);
    while ((st = trace_reader_next(r, &e)) == TRACE_READ_EVENT) {
        uint64_t off = trace_reader_record_offset(r);
        /* A record's size: up to the next one (chunk headers excepted). */
        if (prev_type < TT_COUNT && off > prev_off &&
            off - prev_off < TRACE_CHUNK_TARGET) {
            bytes_by_type[prev_type] += off - prev_off;
        }
        prev_off = off;
        prev_type = e.type;
        by_type[e.type]++;
        if (!have_t) {
            first_t = e.time;
            have_t = true;
        }
        last_t = e.time;
        if (trace_type_is_crossing(e.type)) {
            events++;
            if (e.cpu >= 0 && e.cpu < TRACE_SMP_MAX &&
                !trace_type_is_device(e.type)) {
                cpu[e.cpu].crossings++;
            }
        }
        switch (e.type) {
        case TT_IRQ_RAISE:
            if (e.value & IRQCHIP_BND_LEVEL) {
                intx += (e.value & IRQCHIP_BND_ASSERT) != 0;
            } else {
                msi++;
            }
            break;
        case TT_IRQ_DELIVER:
            vectors[e.addr & 0xff]++;
            if (e.cpu >= 0 && e.cpu < TRACE_SMP_MAX) {
                cpu[e.cpu].delivered++;
            }
            break;
        case TT_DMA_READ:
        case TT_DMA_WRITE:
            dma_bytes[e.type == TT_DMA_WRITE] += e.len;
            break;
        case TT_SCHED:
            if (e.cpu >= 0 && e.cpu < TRACE_SMP_MAX) {
                cpu[e.cpu].picks++;
            }
            break;
        case TT_SRB_START:
            if (e.function == 0 && trace_cdb_is_io(e.cdb, e.cdb_len)) {
                ios++;
                io_bytes += e.xfer;
            }
            if (e.cpu >= 0 && e.cpu < TRACE_SMP_MAX) {
                cpu[e.cpu].srbs++;
            }
            break;
        case TT_SRB_DONE:
            done++;
            errors += (e.srb_status & 0x3f) != 0x01;
            break;
        case TT_EXT:
            ext[e.ext_kind]++;
            break;
        case TT_END:
            exit_code = e.exit_code;
            break;
        }
    }
    printf("trace: %s, %" PRIu64 " bytes (header %" PRIu64 "), data=%s, "
           "seed %" PRIu64 ", %u vCPU%s\n",
           argv[0], trace_reader_size(r), trace_reader_header_size(r),
           h->full_data ? "full" : "hash", h->seed, h->smp,
           h->smp == 1 ? "" : "s");
    printf("virtual time: %" PRIu64 " .. %" PRIu64 " ns\n", first_t, last_t);
    printf("events: %" PRIu64 "\n", events);
    for (unsigned t = 0; t < TT_COUNT; t++) {
        if (by_type[t]) {
            printf("  %-12s %10" PRIu64 "  %10" PRIu64
                   " bytes, %.2f per record\n",
                   trace_type_name(t), by_type[t], bytes_by_type[t],
                   (double)bytes_by_type[t] / (double)by_type[t]);
        }
    }
    for (unsigned k = 0; k < TRACE_EXT_KINDS; k++) {
        if (ext[k]) {
            printf("  ext %-8s %" PRIu64 "\n", trace_ext_name(k), ext[k]);
        }
    }
    printf("I/Os: %" PRIu64 " (%" PRIu64 " bytes), requests completed %" PRIu64
           ", not successful %" PRIu64 "\n",
           ios, io_bytes, done, errors);
    if (ios) {
        printf("bytes per I/O: %.1f\n",
               (double)trace_reader_size(r) / (double)ios);
    }
    printf("DMA: %" PRIu64 " bytes read from guest memory, %" PRIu64
           " written to it\n",
           dma_bytes[0], dma_bytes[1]);
    printf("interrupts raised: %" PRIu64 " MSI, %" PRIu64 " INTx assertions\n",
           msi, intx);
    for (unsigned v = 0; v < 256; v++) {
        if (vectors[v]) {
            printf("  vector 0x%02x delivered %" PRIu64 "\n", v, vectors[v]);
        }
    }
    for (unsigned c = 0; c < MIN(h->smp, (unsigned)TRACE_SMP_MAX); c++) {
        printf("vCPU %u: %" PRIu64 " crossings, %" PRIu64 " times picked, "
               "%" PRIu64 " interrupts, %" PRIu64 " requests started\n",
               c, cpu[c].crossings, cpu[c].picks, cpu[c].delivered,
               cpu[c].srbs);
    }
    if (exit_code >= 0 || st == TRACE_READ_END) {
        printf("recorded exit code: %d\n", exit_code);
    }
    return finish_reading(r, st);
}

/* ---- diff ---- */

static bool same_event(const TraceEvent *a, const TraceEvent *b)
{
    if (a->type != b->type || a->cpu != b->cpu || a->time != b->time ||
        a->index != b->index) {
        return false;
    }
    switch (a->type) {
    case TT_SRB_START:
        return a->req == b->req && a->path == b->path &&
               a->target == b->target && a->lun == b->lun &&
               a->function == b->function && a->cdb_len == b->cdb_len &&
               memcmp(a->cdb, b->cdb, a->cdb_len) == 0 && a->xfer == b->xfer;
    case TT_SRB_DONE:
        return a->req == b->req && a->xfer == b->xfer &&
               a->srb_status == b->srb_status &&
               a->scsi_status == b->scsi_status;
    case TT_CHECKPOINT:
        return a->ck_events == b->ck_events && a->ck_yields == b->ck_yields &&
               a->ck_switches == b->ck_switches &&
               a->ck_fingerprint == b->ck_fingerprint;
    case TT_EXT:
        return a->ext_kind == b->ext_kind && a->ext_code == b->ext_code &&
               a->ext_len == b->ext_len &&
               (!a->ext_len ||
                memcmp(a->ext_data, b->ext_data, a->ext_len) == 0);
    case TT_END:
        return a->exit_code == b->exit_code && a->stop_reason == b->stop_reason;
    }
    return a->size == b->size && a->ok == b->ok && a->devfn == b->devfn &&
           a->addr == b->addr && a->value == b->value && a->len == b->len &&
           a->has_data == b->has_data && a->hash == b->hash;
}

static int cmd_diff(int argc, char **argv)
{
    g_autoptr(TraceReader) a = NULL;
    g_autoptr(TraceReader) b = NULL;
    g_autoptr(TracePrinter) pa = NULL;
    g_autoptr(TracePrinter) pb = NULL;
    g_autoptr(GString) line = g_string_new(NULL);
    TraceEvent hist[DIFF_CONTEXT], ea, eb;
    unsigned nhist = 0;
    uint64_t n = 0;
    const TraceHeader *ha, *hb;

    if (argc != 2) {
        usage(stderr);
        return TOOL_USAGE;
    }
    a = open_or_complain(argv[0]);
    b = a ? open_or_complain(argv[1]) : NULL;
    if (!a || !b) {
        return TOOL_USAGE;
    }
    ha = trace_reader_header(a);
    hb = trace_reader_header(b);
    pa = trace_printer_new(ha);
    pb = trace_printer_new(hb);
    if (ha->seed != hb->seed) {
        printf("note: seeds differ: %" PRIu64 " and %" PRIu64 "\n", ha->seed,
               hb->seed);
    }
    for (guint i = 0; i < MAX(ha->argv->len, hb->argv->len); i++) {
        const char *x = i < ha->argv->len ? g_ptr_array_index(ha->argv, i) : "";
        const char *y = i < hb->argv->len ? g_ptr_array_index(hb->argv, i) : "";
        if (strcmp(x, y) != 0) {
            printf("note: configurations differ: '%s' and '%s'\n", x, y);
            break;
        }
    }
    for (;;) {
        TraceReadStatus sa = trace_reader_next(a, &ea);
        TraceReadStatus sb = trace_reader_next(b, &eb);

        if (sa == TRACE_READ_END && sb == TRACE_READ_END) {
            printf("identical: %" PRIu64 " records\n", n);
            return TOOL_OK;
        }
        if (sa == TRACE_READ_ERROR || sb == TRACE_READ_ERROR) {
            fprintf(stderr, "storemu-trace: %s\n",
                    trace_reader_error(sa == TRACE_READ_ERROR ? a : b));
            printf("identical for %" PRIu64 " records, then %s is damaged\n", n,
                   sa == TRACE_READ_ERROR ? argv[0] : argv[1]);
            return TOOL_DIFFER;
        }
        if (sa == TRACE_READ_EVENT && sb == TRACE_READ_EVENT &&
            same_event(&ea, &eb)) {
            hist[n % DIFF_CONTEXT] = ea;
            nhist = MIN(nhist + 1, DIFF_CONTEXT);
            n++;
            continue;
        }
        printf(
            "first difference at record %" PRIu64 " (event %" PRIu64 "):\n", n,
            sa == TRACE_READ_EVENT ? ea.index
                                   : (sb == TRACE_READ_EVENT ? eb.index : 0));
        printf("  %s:\n    ", argv[0]);
        g_string_truncate(line, 0);
        if (sa == TRACE_READ_EVENT) {
            trace_print_event(pa, &ea, line);
        } else {
            g_string_append(line, "(ends here)");
        }
        printf("%s\n  %s:\n    ", line->str, argv[1]);
        g_string_truncate(line, 0);
        if (sb == TRACE_READ_EVENT) {
            trace_print_event(pb, &eb, line);
        } else {
            g_string_append(line, "(ends here)");
        }
        printf("%s\n", line->str);
        if (nhist) {
            printf("  preceding records (both):\n");
        }
        for (unsigned i = 0; i < nhist; i++) {
            g_string_truncate(line, 0);
            trace_print_event(pa, &hist[(n - nhist + i) % DIFF_CONTEXT], line);
            printf("    %s\n", line->str);
        }
        return TOOL_DIFFER;
    }
}

/* ---- export ---- */

typedef struct Json {
    FILE *f;
    bool first;
} Json;

static void json_event(Json *j, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void json_event(Json *j, const char *fmt, ...)
{
    va_list ap;

    fputs(j->first ? "\n" : ",\n", j->f);
    j->first = false;
    va_start(ap, fmt);
    vfprintf(j->f, fmt, ap);
    va_end(ap);
}

/* Virtual ns as the microseconds the format counts in. */
static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static char *json_string(const char *s)
{
    GString *g = g_string_new("\"");

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            g_string_append_c(g, '\\');
            g_string_append_c(g, (char)c);
        } else if (c < 0x20 || c >= 0x7f) {
            g_string_append_printf(g, "\\u%04x", c);
        } else {
            g_string_append_c(g, (char)c);
        }
    }
    g_string_append_c(g, '"');
    return g_string_free(g, FALSE);
}

#define TID_DEVICE 1000

typedef struct OpenSrb {
    int tid;
    char *name; /* JSON string */
} OpenSrb;

static void open_srb_free(gpointer p)
{
    OpenSrb *o = p;

    g_free(o->name);
    g_free(o);
}

static int cmd_export(int argc, char **argv)
{
    g_autoptr(TraceReader) r = NULL;
    g_autoptr(TracePrinter) p = NULL;
    g_autoptr(GString) name = g_string_new(NULL);
    g_autoptr(GHashTable) req_tid = g_hash_table_new_full(
        g_int64_hash, g_int64_equal, g_free, open_srb_free);
    const char *path = NULL, *out = NULL;
    bool perfetto = false;
    const TraceHeader *h;
    TraceReadStatus st;
    TraceEvent e;
    Json j = {0};
    /* Open interrupt levels per vCPU, to close the bands. */
    unsigned depth[TRACE_SMP_MAX] = {0};

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--perfetto") == 0) {
            perfetto = true;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            usage(stderr);
            return TOOL_USAGE;
        }
    }
    if (!perfetto || !path) {
        usage(stderr);
        return TOOL_USAGE;
    }
    r = open_or_complain(path);
    if (!r) {
        return TOOL_USAGE;
    }
    h = trace_reader_header(r);
    p = trace_printer_new(h);
    j.f = out ? fopen(out, "w") : stdout;
    if (!j.f) {
        fprintf(stderr, "storemu-trace: cannot write '%s': %s\n", out,
                g_strerror(errno));
        return TOOL_USAGE;
    }
    j.first = true;
    fprintf(j.f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    json_event(&j, "{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\","
                   "\"args\":{\"name\":\"storemu\"}}");
    for (unsigned c = 0; c < MIN(h->smp, (unsigned)TRACE_SMP_MAX); c++) {
        json_event(&j,
                   "{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":"
                   "\"thread_name\",\"args\":{\"name\":\"vCPU %u\"}}",
                   c, c);
    }
    json_event(&j,
               "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":"
               "\"thread_name\",\"args\":{\"name\":\"devices\"}}",
               TID_DEVICE);
    while ((st = trace_reader_next(r, &e)) == TRACE_READ_EVENT) {
        int tid = e.cpu >= 0 && e.cpu < TRACE_SMP_MAX ? e.cpu : TID_DEVICE;
        g_autofree char *q = NULL;

        g_string_truncate(name, 0);
        switch (e.type) {
        case TT_SRB_START: {
            uint64_t *key = g_new(uint64_t, 1);
            OpenSrb *o = g_new0(OpenSrb, 1);
            if (e.function == 0) {
                trace_print_cdb(e.cdb, e.cdb_len, name);
            } else {
                trace_print_srb_function(e.function, name);
            }
            q = json_string(name->str);
            json_event(&j,
                       "{\"ph\":\"b\",\"cat\":\"srb\",\"id\":%" PRIu64
                       ",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"name\":%s,"
                       "\"args\":{\"req\":%" PRIu64 ",\"len\":%u}}",
                       e.req, tid, us(e.time), q, e.req, e.xfer);
            *key = e.req;
            o->tid = tid;
            o->name = g_steal_pointer(&q);
            g_hash_table_replace(req_tid, key, o);
            break;
        }
        case TT_SRB_DONE: {
            OpenSrb *o = g_hash_table_lookup(req_tid, &e.req);
            if (!o) {
                break;
            }
            json_event(&j,
                       "{\"ph\":\"e\",\"cat\":\"srb\",\"id\":%" PRIu64
                       ",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"name\":%s,"
                       "\"args\":{\"srb_status\":%u,\"scsi_status\":%u,"
                       "\"moved\":%u}}",
                       e.req, o->tid, us(e.time), o->name, e.srb_status,
                       e.scsi_status, e.xfer);
            g_hash_table_remove(req_tid, &e.req);
            break;
        }
        case TT_IRQ_DELIVER:
            /* An IRQL band: the handler runs at the vector's level. */
            g_string_append_printf(name, "IRQL %u (vector 0x%02" PRIx64 ")",
                                   (unsigned)(e.addr >> 4), e.addr);
            q = json_string(name->str);
            json_event(&j,
                       "{\"ph\":\"B\",\"cat\":\"irql\",\"pid\":1,\"tid\":%d,"
                       "\"ts\":%.3f,\"name\":%s}",
                       tid, us(e.time), q);
            if (tid != TID_DEVICE) {
                depth[tid]++;
            }
            break;
        case TT_EXT:
            if (e.ext_kind == TRACE_EXT_IRQ_RETURN && tid != TID_DEVICE &&
                depth[tid]) {
                depth[tid]--;
                json_event(&j,
                           "{\"ph\":\"E\",\"cat\":\"irql\",\"pid\":1,"
                           "\"tid\":%d,\"ts\":%.3f}",
                           tid, us(e.time));
            } else if (e.ext_kind != TRACE_EXT_IRQ_RETURN) {
                trace_print_event(p, &e, name);
                q = json_string(name->str);
                json_event(&j,
                           "{\"ph\":\"i\",\"s\":\"g\",\"cat\":\"ext\","
                           "\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"name\":%s}",
                           tid, us(e.time), q);
            }
            break;
        case TT_IRQ_RAISE:
            g_string_append_printf(name, "irq 0x%02" PRIx64 " %s", e.addr,
                                   !(e.value & IRQCHIP_BND_LEVEL) ? "msi"
                                   : e.value & IRQCHIP_BND_ASSERT
                                       ? "intx assert"
                                       : "intx release");
            q = json_string(name->str);
            json_event(&j,
                       "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"interrupt\","
                       "\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"name\":%s}",
                       TID_DEVICE, us(e.time), q);
            break;
        case TT_MMIO_WRITE:
        case TT_PIO_WRITE:
            /* Doorbells and every other register write. */
            trace_print_register(p, e.type, e.addr, e.devfn, name);
            g_string_append_printf(name, " <- 0x%" PRIx64, e.value);
            q = json_string(name->str);
            json_event(&j,
                       "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"doorbell\","
                       "\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"name\":%s}",
                       tid, us(e.time), q);
            break;
        case TT_DMA_READ:
        case TT_DMA_WRITE:
            g_string_append_printf(name, "%s 0x%" PRIx64 "+%" PRIu64,
                                   trace_type_name(e.type), e.addr, e.len);
            q = json_string(name->str);
            json_event(&j,
                       "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"dma\",\"pid\":1,"
                       "\"tid\":%d,\"ts\":%.3f,\"name\":%s}",
                       TID_DEVICE, us(e.time), q);
            break;
        }
    }
    fprintf(j.f, "\n]}\n");
    if (out) {
        fclose(j.f);
    } else {
        fflush(stdout);
    }
    return finish_reading(r, st);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("storemu-trace " STOREMU_VERSION " (build " STOREMU_BUILD_ID
               "), trace format %d\n",
               TRACE_VERSION);
        return TOOL_OK;
    }
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return TOOL_OK;
    }
    if (argc < 3) {
        usage(stderr);
        return TOOL_USAGE;
    }
    if (strcmp(argv[1], "dump") == 0) {
        return cmd_dump(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "stats") == 0) {
        return cmd_stats(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "diff") == 0) {
        return cmd_diff(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "export") == 0) {
        return cmd_export(argc - 2, argv + 2);
    }
    fprintf(stderr, "storemu-trace: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return TOOL_USAGE;
}
