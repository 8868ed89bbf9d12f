/* SPDX-License-Identifier: MIT */
/*
 * Trace records as text (trace-print.h). Decoding is best effort and
 * never trusts the trace: an address that falls in no recorded BAR is
 * printed as a number, a capability list that loops is cut short.
 */
#include <inttypes.h>
#include <string.h>
#include "hw/core/irqchip.h"
#include "hw/virtio-scsi/virtio-scsi-regs.h"
#include "system/trace-print.h"

#define PCI_CAP_MSIX_ID 0x11
#define MAX_REGMAPS     8

/* ---- register maps ---- */

static const TraceRegName vscsi_names[] = {
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_DFSELECT, 4, 4,
     "device_feature_select"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_DF, 4, 4, "device_feature"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_GFSELECT, 4, 4,
     "driver_feature_select"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_GF, 4, 4, "driver_feature"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_MSIX, 2, 2, "config_msix_vector"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ, 2, 2, "num_queues"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS, 1, 1, "device_status"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_CFGGEN, 1, 1, "config_generation"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_SELECT, 2, 2, "queue_select"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_SIZE, 2, 2, "queue_size"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_MSIX, 2, 2, "queue_msix_vector"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 2, "queue_enable"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_NOFF, 2, 2, "queue_notify_off"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_DESCLO, 4, 4, "queue_desc_lo"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_DESCHI, 4, 4, "queue_desc_hi"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 4, "queue_driver_lo"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 4, "queue_driver_hi"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_USEDLO, 4, 4, "queue_device_lo"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_USEDHI, 4, 4, "queue_device_hi"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_NDATA, 2, 2, "queue_notify_data"},
    {VSCSI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_RESET, 2, 2, "queue_reset"},
    {VSCSI_ISR_OFF, 1, 1, "isr_status"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_NUM_QUEUES, 4, 4, "cfg.num_queues"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_SEG_MAX, 4, 4, "cfg.seg_max"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_MAX_SECTORS, 4, 4, "cfg.max_sectors"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_CMD_PER_LUN, 4, 4, "cfg.cmd_per_lun"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_EVENT_INFO_SIZE, 4, 4,
     "cfg.event_info_size"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_SENSE_SIZE, 4, 4, "cfg.sense_size"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_CDB_SIZE, 4, 4, "cfg.cdb_size"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_MAX_CHANNEL, 2, 2, "cfg.max_channel"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_MAX_TARGET, 2, 2, "cfg.max_target"},
    {VSCSI_DEVICE_OFF + VIRTIO_SCSI_CFG_MAX_LUN, 4, 4, "cfg.max_lun"},
    /* queue_notify_off = queue index, times the multiplier */
    {VSCSI_NOTIFY_OFF, 0x1000, VSCSI_NOTIFY_MULTIPLIER, "notify"},
    {0, 0, 0, NULL},
};

static const TraceRegMap vscsi_map = {
    .vendor_id = VIRTIO_PCI_VENDOR_ID,
    .device_id = VIRTIO_PCI_DEVICE_ID_SCSI,
    .bar = VSCSI_BAR_VIRTIO,
    .names = vscsi_names,
};

static const TraceRegMap *regmaps[MAX_REGMAPS] = {&vscsi_map};
static unsigned nregmaps = 1;

void trace_print_add_regmap(const TraceRegMap *map)
{
    for (unsigned i = 0; i < nregmaps; i++) {
        if (regmaps[i] == map) {
            return;
        }
    }
    if (nregmaps < MAX_REGMAPS) {
        regmaps[nregmaps++] = map;
    }
}

/* ---- the printer ---- */

typedef struct FnInfo {
    const TracePciFunction *fn;
    uint16_t vendor, device;
    /* MSI-X, from the recorded capability (0 size: none) */
    int msix_table_bar, msix_pba_bar;
    uint64_t msix_table_off, msix_pba_off;
    unsigned msix_vectors;
} FnInfo;

struct TracePrinter {
    const TraceHeader *h;
    GArray *fns; /* FnInfo */
};

static uint16_t cfg_word(const uint8_t *c, unsigned off)
{
    return (uint16_t)(c[off] | (c[off + 1] << 8));
}

static uint32_t cfg_long(const uint8_t *c, unsigned off)
{
    return (uint32_t)cfg_word(c, off) | ((uint32_t)cfg_word(c, off + 2) << 16);
}

/* Capability at or covering @off, walking the recorded list; 0 if none. */
static unsigned find_cap(const uint8_t *c, uint8_t id, unsigned *covering,
                         unsigned off)
{
    unsigned p = c[0x34] & 0xfc;

    for (unsigned n = 0; p >= 0x40 && p < TRACE_PCI_CONFIG - 1 && n < 48; n++) {
        unsigned next = c[p + 1] & 0xfc;
        /* Lists need not be sorted: the nearest start below wins. */
        if (covering && off >= p && p > *covering) {
            *covering = p;
        }
        if (id && c[p] == id) {
            return p;
        }
        p = next;
    }
    return 0;
}

TracePrinter *trace_printer_new(const TraceHeader *h)
{
    TracePrinter *p = g_new0(TracePrinter, 1);

    p->h = h;
    p->fns = g_array_new(FALSE, TRUE, sizeof(FnInfo));
    for (guint i = 0; h->functions && i < h->functions->len; i++) {
        const TracePciFunction *fn =
            &g_array_index(h->functions, TracePciFunction, i);
        FnInfo fi = {.fn = fn, .msix_table_bar = -1, .msix_pba_bar = -1};
        unsigned cap;

        fi.vendor = cfg_word(fn->config, 0);
        fi.device = cfg_word(fn->config, 2);
        cap = find_cap(fn->config, PCI_CAP_MSIX_ID, NULL, 0);
        if (cap && cap + 12 <= TRACE_PCI_CONFIG) {
            uint32_t t = cfg_long(fn->config, cap + 4);
            uint32_t b = cfg_long(fn->config, cap + 8);
            fi.msix_vectors = (cfg_word(fn->config, cap + 2) & 0x7ff) + 1;
            fi.msix_table_bar = (int)(t & 7);
            fi.msix_table_off = t & ~7u;
            fi.msix_pba_bar = (int)(b & 7);
            fi.msix_pba_off = b & ~7u;
        }
        g_array_append_val(p->fns, fi);
    }
    return p;
}

void trace_printer_free(TracePrinter *p)
{
    if (p) {
        g_array_free(p->fns, TRUE);
        g_free(p);
    }
}

static bool name_from_map(const TraceRegMap *m, uint64_t off, GString *out)
{
    for (const TraceRegName *n = m->names; n->name; n++) {
        if (off >= n->offset && off - n->offset < n->size) {
            uint64_t rel = off - n->offset;
            if (n->size > n->stride && n->stride) {
                g_string_append_printf(out, " %s[%" PRIu64 "]", n->name,
                                       rel / n->stride);
                rel %= n->stride;
            } else {
                g_string_append_printf(out, " %s", n->name);
            }
            if (rel) {
                g_string_append_printf(out, "+%" PRIu64, rel);
            }
            return true;
        }
    }
    return false;
}

static void msix_name(const FnInfo *fi, int bar, uint64_t off, GString *out)
{
    static const char *const field[] = {"addr_lo", "addr_hi", "data", "ctrl"};

    if (bar == fi->msix_table_bar && off >= fi->msix_table_off &&
        off - fi->msix_table_off < (uint64_t)fi->msix_vectors * 16) {
        uint64_t rel = off - fi->msix_table_off;
        g_string_append_printf(out, " msix[%" PRIu64 "].%s", rel / 16,
                               field[(rel % 16) / 4]);
    } else if (bar == fi->msix_pba_bar && off >= fi->msix_pba_off &&
               off - fi->msix_pba_off < (fi->msix_vectors + 63) / 64 * 8) {
        g_string_append_printf(out, " msix-pba+0x%" PRIx64,
                               off - fi->msix_pba_off);
    }
}

static const char *const cfg_header_names[0x40] = {
    [0x00] = "vendor_id",  [0x02] = "device_id",   [0x04] = "command",
    [0x06] = "status",     [0x08] = "revision",    [0x09] = "class",
    [0x0c] = "cache_line", [0x0d] = "latency",     [0x0e] = "header_type",
    [0x0f] = "bist",       [0x10] = "bar0",        [0x14] = "bar1",
    [0x18] = "bar2",       [0x1c] = "bar3",        [0x20] = "bar4",
    [0x24] = "bar5",       [0x28] = "cardbus_cis", [0x2c] = "subsys_vendor",
    [0x2e] = "subsys_id",  [0x30] = "rom",         [0x34] = "cap_ptr",
    [0x3c] = "int_line",   [0x3d] = "int_pin",     [0x3e] = "min_gnt",
    [0x3f] = "max_lat",
};

static const char *cap_name(uint8_t id)
{
    switch (id) {
    case 0x01:
        return "pm";
    case 0x05:
        return "msi";
    case 0x09:
        return "vendor";
    case 0x10:
        return "pcie";
    case 0x11:
        return "msix";
    }
    return "cap";
}

static const FnInfo *fn_by_bdf(const TracePrinter *p, uint32_t bdf)
{
    for (guint i = 0; i < p->fns->len; i++) {
        const FnInfo *fi = &g_array_index(p->fns, FnInfo, i);
        if (fi->fn->bdf == bdf) {
            return fi;
        }
    }
    return NULL;
}

void trace_print_register(const TracePrinter *p, unsigned type, uint64_t addr,
                          uint32_t devfn, GString *out)
{
    bool io = type == TT_PIO_READ || type == TT_PIO_WRITE;

    if (type == TT_CFG_READ || type == TT_CFG_WRITE) {
        const FnInfo *fi = fn_by_bdf(p, devfn);
        g_string_append_printf(out, "%02x:%02x.%x", (devfn >> 8) & 0xff,
                               (devfn >> 3) & 0x1f, devfn & 7);
        if (fi) {
            g_string_append_printf(out, " %s", fi->fn->name);
        }
        g_string_append_printf(out, " cfg+0x%02" PRIx64, addr);
        if (addr < 0x40 && cfg_header_names[addr]) {
            g_string_append_printf(out, " %s", cfg_header_names[addr]);
        } else if (fi && addr < TRACE_PCI_CONFIG) {
            unsigned cap = 0;
            find_cap(fi->fn->config, 0, &cap, (unsigned)addr);
            if (cap) {
                g_string_append_printf(out, " %s+0x%" PRIx64,
                                       cap_name(fi->fn->config[cap]),
                                       addr - cap);
            }
        }
        return;
    }
    for (guint i = 0; i < p->fns->len; i++) {
        const FnInfo *fi = &g_array_index(p->fns, FnInfo, i);
        for (int b = 0; b < TRACE_PCI_BARS; b++) {
            uint64_t base = fi->fn->bar_addr[b], size = fi->fn->bar_size[b];
            bool bar_io = fi->fn->bar_type[b] & 1;
            if (!size || bar_io != io || addr < base || addr - base >= size) {
                continue;
            }
            g_string_append_printf(out, "%s bar%d+0x%02" PRIx64, fi->fn->name,
                                   b, addr - base);
            for (unsigned m = 0; m < nregmaps; m++) {
                const TraceRegMap *map = regmaps[m];
                if (map->vendor_id == fi->vendor &&
                    map->device_id == fi->device &&
                    (map->bar < 0 || map->bar == b) &&
                    name_from_map(map, addr - base, out)) {
                    return;
                }
            }
            msix_name(fi, b, addr - base, out);
            return;
        }
    }
    g_string_append_printf(out, "%s 0x%" PRIx64, io ? "port" : "gpa", addr);
}

/* ---- SCSI ---- */

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static const char *op_name(uint8_t op)
{
    switch (op) {
    case 0x00:
        return "TEST_UNIT_READY";
    case 0x03:
        return "REQUEST_SENSE";
    case 0x08:
        return "READ(6)";
    case 0x0a:
        return "WRITE(6)";
    case 0x12:
        return "INQUIRY";
    case 0x1a:
        return "MODE_SENSE(6)";
    case 0x1b:
        return "START_STOP_UNIT";
    case 0x25:
        return "READ_CAPACITY(10)";
    case 0x28:
        return "READ(10)";
    case 0x2a:
        return "WRITE(10)";
    case 0x2f:
        return "VERIFY(10)";
    case 0x35:
        return "SYNCHRONIZE_CACHE(10)";
    case 0x41:
        return "WRITE_SAME(10)";
    case 0x42:
        return "UNMAP";
    case 0x5a:
        return "MODE_SENSE(10)";
    case 0x88:
        return "READ(16)";
    case 0x8a:
        return "WRITE(16)";
    case 0x91:
        return "SYNCHRONIZE_CACHE(16)";
    case 0x93:
        return "WRITE_SAME(16)";
    case 0x9e:
        return "SERVICE_ACTION_IN(16)";
    case 0xa0:
        return "REPORT_LUNS";
    case 0xa8:
        return "READ(12)";
    case 0xaa:
        return "WRITE(12)";
    }
    return NULL;
}

bool trace_cdb_is_io(const uint8_t *cdb, unsigned len)
{
    if (!len) {
        return false;
    }
    switch (cdb[0]) {
    case 0x08:
    case 0x0a:
    case 0x28:
    case 0x2a:
    case 0x88:
    case 0x8a:
    case 0xa8:
    case 0xaa:
        return true;
    }
    return false;
}

void trace_print_cdb(const uint8_t *cdb, unsigned len, GString *out)
{
    const char *name;
    uint64_t lba = 0, blocks = 0;
    bool rw = true;

    if (!len) {
        g_string_append(out, "(no CDB)");
        return;
    }
    name = op_name(cdb[0]);
    if (name) {
        g_string_append(out, name);
    } else {
        g_string_append_printf(out, "op=0x%02x", cdb[0]);
    }
    if (cdb[0] == 0x9e && len >= 2 && (cdb[1] & 0x1f) == 0x10) {
        g_string_append(out, " READ_CAPACITY(16)");
    }
    switch (cdb[0]) {
    case 0x08:
    case 0x0a:
        if (len >= 5) {
            lba = be(cdb + 1, 3) & 0x1fffff;
            blocks = cdb[4] ? cdb[4] : 256;
        }
        break;
    case 0x28:
    case 0x2a:
    case 0x2f:
    case 0x41:
        if (len >= 9) {
            lba = be(cdb + 2, 4);
            blocks = be(cdb + 7, 2);
        }
        break;
    case 0xa8:
    case 0xaa:
        if (len >= 10) {
            lba = be(cdb + 2, 4);
            blocks = be(cdb + 6, 4);
        }
        break;
    case 0x88:
    case 0x8a:
    case 0x93:
        if (len >= 14) {
            lba = be(cdb + 2, 8);
            blocks = be(cdb + 10, 4);
        }
        break;
    default:
        rw = false;
        break;
    }
    if (rw) {
        g_string_append_printf(out, " lba=%" PRIu64 " blocks=%" PRIu64, lba,
                               blocks);
    }
}

void trace_print_srb_function(uint8_t function, GString *out)
{
    static const struct {
        uint8_t code;
        const char *name;
    } names[] = {
        {0x00, "EXECUTE_SCSI"},  {0x02, "IO_CONTROL"},
        {0x07, "SHUTDOWN"},      {0x08, "FLUSH"},
        {0x10, "ABORT_COMMAND"}, {0x12, "RESET_BUS"},
        {0x13, "RESET_DEVICE"},  {0x20, "RESET_LOGICAL_UNIT"},
        {0x24, "POWER"},         {0x25, "PNP"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].code == function) {
            g_string_append(out, names[i].name);
            return;
        }
    }
    g_string_append_printf(out, "function=0x%02x", function);
}

/* ---- events ---- */

static void print_level(unsigned level, GString *out)
{
    switch (level) {
    case 0:
        g_string_append(out, "PASSIVE");
        return;
    case 1:
        g_string_append(out, "APC");
        return;
    case 2:
        g_string_append(out, "DISPATCH");
        return;
    }
    g_string_append_printf(out, "%u", level);
}

static void print_mask(uint64_t mask, GString *out)
{
    bool first = true;

    g_string_append_c(out, '{');
    for (unsigned i = 0; i < 64; i++) {
        if (mask & (1ULL << i)) {
            g_string_append_printf(out, first ? "%u" : ",%u", i);
            first = false;
        }
    }
    g_string_append_c(out, '}');
}

void trace_print_event(const TracePrinter *p, const TraceEvent *e, GString *out)
{
    if (trace_type_is_crossing(e->type)) {
        g_string_append_printf(out, "#%-8" PRIu64, e->index);
    } else {
        g_string_append(out, "         ");
    }
    g_string_append_printf(out, " %12" PRIu64 "ns ", e->time);
    if (e->cpu >= 0) {
        g_string_append_printf(out, "cpu%-2d ", e->cpu);
    } else {
        g_string_append(out, e->type == TT_CHECKPOINT || e->type == TT_END
                                 ? "      "
                                 : "dev   ");
    }
    g_string_append_printf(out, "%-11s ", trace_type_name(e->type));
    switch (e->type) {
    case TT_MMIO_READ:
    case TT_PIO_READ:
    case TT_CFG_READ:
        trace_print_register(p, e->type, e->addr, e->devfn, out);
        g_string_append_printf(out, " -> 0x%" PRIx64 " (%u)", e->value,
                               e->size);
        break;
    case TT_MMIO_WRITE:
    case TT_PIO_WRITE:
    case TT_CFG_WRITE:
        trace_print_register(p, e->type, e->addr, e->devfn, out);
        g_string_append_printf(out, " <- 0x%" PRIx64 " (%u)", e->value,
                               e->size);
        break;
    case TT_IRQ_RAISE:
        g_string_append_printf(out, "vector 0x%02" PRIx64, e->addr);
        if (e->value & IRQCHIP_BND_LEVEL) {
            g_string_append(out, e->value & IRQCHIP_BND_ASSERT
                                     ? " intx asserted"
                                     : " intx released");
        } else {
            g_string_append(out, " msi");
        }
        break;
    case TT_IRQ_DELIVER:
        g_string_append_printf(out, "vector 0x%02" PRIx64 " level ", e->addr);
        print_level((unsigned)e->value, out);
        g_string_append(out, " -> ");
        print_level((unsigned)(e->addr >> 4), out);
        break;
    case TT_DMA_READ:
    case TT_DMA_WRITE:
        g_string_append_printf(out, "gpa 0x%" PRIx64 " len %" PRIu64, e->addr,
                               e->len);
        if (e->has_data && e->len <= TRACE_DMA_SMALL) {
            g_string_append_printf(out, " data 0x%0*" PRIx64, (int)(2 * e->len),
                                   e->value);
        } else if (e->has_data && !e->digested) {
            g_string_append_printf(out, " hash 0x%016" PRIx64, e->hash);
        }
        break;
    case TT_DIGEST:
        g_string_append_printf(out, "0x%08" PRIx64 " (data of the DMAs before)",
                               e->value);
        break;
    case TT_SCHED:
        g_string_append_printf(out, "pick cpu%" PRIu64 " of ", e->value);
        print_mask(e->addr, out);
        break;
    case TT_SRB_START:
        g_string_append_printf(out, "req %" PRIu64 " %u:%u:%u ", e->req,
                               e->path, e->target, e->lun);
        if (e->function == 0) {
            trace_print_cdb(e->cdb, e->cdb_len, out);
        } else {
            trace_print_srb_function(e->function, out);
        }
        g_string_append_printf(out, " len %u", e->xfer);
        break;
    case TT_SRB_DONE:
        g_string_append_printf(out,
                               "req %" PRIu64 " srb 0x%02x scsi 0x%02x "
                               "moved %u",
                               e->req, e->srb_status, e->scsi_status, e->xfer);
        break;
    case TT_CHECKPOINT:
        g_string_append_printf(
            out,
            "events %" PRIu64 " yields %" PRIu64 " switches %" PRIu64
            " fingerprint 0x%016" PRIx64,
            e->ck_events, e->ck_yields, e->ck_switches, e->ck_fingerprint);
        break;
    case TT_EXT:
        g_string_append_printf(out, "%s code %u", trace_ext_name(e->ext_kind),
                               e->ext_code);
        if (e->ext_kind == TRACE_EXT_IRQ_RETURN) {
            break;
        }
        if (e->ext_len) {
            g_string_append(out, " \"");
            for (uint32_t i = 0; i < e->ext_len && i < 200; i++) {
                uint8_t c = e->ext_data[i];
                if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
                    g_string_append_c(out, (char)c);
                } else {
                    g_string_append_printf(out, "\\x%02x", c);
                }
            }
            g_string_append_c(out, '"');
        }
        break;
    case TT_END:
        g_string_append_printf(out, "exit code %d, stop %u, %" PRIu64 " events",
                               e->exit_code, e->stop_reason, e->index);
        break;
    }
    if (trace_type_is_crossing(e->type) && !e->ok) {
        g_string_append(out, " REFUSED");
    }
}
