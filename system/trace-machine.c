/* SPDX-License-Identifier: MIT */
/*
 * The machine's side of a trace header (trace-machine.h). An image's
 * identity is its size and a hash of its content read in 1 MiB pieces,
 * each piece's hash seeding the next (docs/trace-format.md, "Images").
 */
#include <inttypes.h>
#include <string.h>
#include "config-host.h"
#include "hw/block/block.h"
#include "system/boundary.h"
#include "system/error.h"
#include "system/event.h"
#include "system/machine.h"
#include "system/trace-machine.h"

#define IMAGE_PIECE (1u << 20)

static const char *sched_policy_name(SchedPolicy p)
{
    switch (p) {
    case SCHED_POLICY_RANDOM:
        return "random";
    case SCHED_POLICY_PCT:
        return "pct";
    case SCHED_POLICY_FIFO:
        break;
    }
    return "fifo";
}

static void add_opts(GPtrArray *argv, const char *option, const Opts *o)
{
    if (o) {
        g_ptr_array_add(argv, g_strdup(option));
        g_ptr_array_add(argv, g_strdup(opts_text(o)));
    }
}

GPtrArray *trace_machine_argv(const MachineConfig *cfg)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    char preempt[G_ASCII_DTOSTR_BUF_SIZE];
    static const char *const verifier[] = {
        [VERIFIER_OFF] = "off",
        [VERIFIER_ON] = "on",
        [VERIFIER_STRICT] = "strict",
    };

    /* Printed so that strtod gives back the same double. */
    g_ascii_dtostr(preempt, sizeof(preempt), cfg->sched.preempt);
    g_ptr_array_add(argv, g_strdup("-machine"));
    g_ptr_array_add(argv,
                    g_strdup_printf("smp=%u,mem=%" PRIu64 ",seed=%" PRIu64
                                    ",sched=%s,"
                                    "preempt=%s,pct-depth=%u,quantum=%u,"
                                    "time-limit=%" PRIu64,
                                    cfg->smp, cfg->mem_size, cfg->sched.seed,
                                    sched_policy_name(cfg->sched.policy),
                                    preempt, cfg->sched.pct_depth,
                                    cfg->sched.quantum, cfg->time_limit_ns));
    g_ptr_array_add(argv, g_strdup("-verifier"));
    g_ptr_array_add(argv, g_strdup(verifier[cfg->verifier]));
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        add_opts(argv, "-drive", g_ptr_array_index(cfg->drives, i));
    }
    for (guint i = 0; cfg->devices && i < cfg->devices->len; i++) {
        add_opts(argv, "-device", g_ptr_array_index(cfg->devices, i));
    }
    for (guint i = 0; cfg->faults && i < cfg->faults->len; i++) {
        add_opts(argv, "-fault", g_ptr_array_index(cfg->faults, i));
    }
    add_opts(argv, "-miniport", cfg->miniport);
    add_opts(argv, "-guest", cfg->guest);
    return argv;
}

bool trace_machine_image(const char *id, TraceImage *im, GError **errp)
{
    BlockBackend *blk = blk_find(id);
    g_autofree uint8_t *buf = NULL;
    uint64_t size, h;

    if (!blk) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "no image with drive id '%s'", id);
        return false;
    }
    size = blk_size(blk);
    h = size;
    buf = g_malloc(IMAGE_PIECE);
    for (uint64_t off = 0; off < size; off += IMAGE_PIECE) {
        uint64_t n = MIN((uint64_t)IMAGE_PIECE, size - off);
        int ret = blk_pread(blk, off, buf, n);
        if (ret < 0) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "drive '%s': cannot read the image at byte %" PRIu64
                        ": %s",
                        id, off, g_strerror(-ret));
            return false;
        }
        h = trace_hash64(buf, n, h);
    }
    im->id = g_strdup(id);
    /* A temporary image has no file name: "" says so in the header. */
    im->filename = g_strdup(
        blk_filename(blk) && !blk_is_temporary(blk) ? blk_filename(blk) : "");
    im->size = size;
    im->hash = h;
    im->flags = (blk_is_readonly(blk) ? TRACE_IMAGE_READONLY : 0) |
                (blk_is_snapshot(blk) ? TRACE_IMAGE_SNAPSHOT : 0);
    return true;
}

void trace_machine_function(PCIDevice *d, TracePciFunction *fn)
{
    unsigned cpu = 0, vector = 0;

    memset(fn, 0, sizeof(*fn));
    fn->bdf = pci_device_bdf(d);
    fn->name = g_strdup(d->name ? d->name : "pci");
    memcpy(fn->config, d->config, TRACE_PCI_CONFIG);
    for (unsigned b = 0; b < TRACE_PCI_BARS; b++) {
        fn->bar_size[b] = pci_bar_size(d, b);
        if (fn->bar_size[b]) {
            fn->bar_type[b] = (uint8_t)pci_bar_type(d, b);
            fn->bar_addr[b] = pci_bar_addr(d, b);
        }
    }
    fn->intx_routed = pci_intx_route(d, &cpu, &vector);
    fn->intx_cpu = cpu;
    fn->intx_vector = vector;
}

bool trace_machine_describe(TraceHeader *h, const MachineConfig *cfg,
                            GError **errp)
{
    PCIBusState *bus = machine_pci_bus();
    GPtrArray *argv = trace_machine_argv(cfg);

    g_ptr_array_free(h->argv, TRUE);
    h->argv = argv;
    g_free(h->build_id);
    h->build_id = g_strdup(STOREMU_BUILD_ID);
    h->seed = cfg->sched.seed;
    h->smp = cfg->smp;
    h->mem_size = cfg->mem_size;
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const char *id =
            opts_get_str(g_ptr_array_index(cfg->drives, i), "id", NULL);
        TraceImage im = {0};
        if (!id) {
            continue;
        }
        if (!trace_machine_image(id, &im, errp)) {
            return false;
        }
        g_array_append_val(h->images, im);
    }
    for (PCIDevice *d = bus ? pci_bus_next(bus, NULL) : NULL; d;
         d = pci_bus_next(bus, d)) {
        TracePciFunction fn;
        trace_machine_function(d, &fn);
        g_array_append_val(h->functions, fn);
    }
    h->base_seq = bnd_seq();
    h->start_time = vclock_now();
    return true;
}
