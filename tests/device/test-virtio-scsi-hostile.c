/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi-pci against a malicious or broken driver. Every case must
 * end in the spec's behaviour or in DEVICE_NEEDS_RESET (virtio 2.1.2)
 * with a configuration change interrupt, a counted guest error, no used
 * element for the bad chain, no access outside guest RAM and no crash;
 * and a device reset must bring the device back. Covers descriptor loops,
 * indices out of range, chains longer than the queue, length overflow,
 * buffers outside RAM (and in the MSI window), malformed indirect tables,
 * misordered buffers, the available index running away, rings outside
 * RAM or misaligned, bus mastering off, short requests and responses,
 * bad event buffers, and register misuse (read-only fields, access sizes,
 * unknown offsets, bad doorbells).
 */
#include <string.h>
#include <glib.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-defs.h"
#include "system/boundary.h"
#include "system/event.h"
#include "system/trace.h"
#include "tests/device/virtio-driver.h"

#define Q_CTRL   VIRTIO_SCSI_VQ_CONTROL
#define Q_EVENT  VIRTIO_SCSI_VQ_EVENT
#define Q_REQ    VIRTIO_SCSI_VQ_REQUEST
#define VEC_BASE 0x40
#define F(bit)   VIRTIO_FEATURE(bit)
#define QS       256
#define HI                                                                     \
    200 /* raw descriptors go from here: the helper's own
                        allocator only ever hands out low indices */
#define NEXT     VIRTQ_DESC_F_NEXT
#define WRITE    VIRTQ_DESC_F_WRITE
#define INDIRECT VIRTQ_DESC_F_INDIRECT

static const uint64_t all_features =
    F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_F_EVENT_IDX) |
    F(VIRTIO_F_RING_RESET) | F(VIRTIO_SCSI_F_HOTPLUG) | F(VIRTIO_SCSI_F_CHANGE);

typedef struct T {
    VDrvFixture fx;
    VDrv *d;
    VDrvDisk *disk;
    uint64_t features;
    uint64_t req, resp; /* a well-formed TEST UNIT READY */
} T;

static void setup_queues(T *t)
{
    vdrv_common_write(t->d, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    for (unsigned q = 0; q < 3; q++) {
        vdrv_queue_setup(t->d, q, 0, q + 1);
    }
    vdrv_driver_ok(t->d);
    vdrv_run();
    vdrv_clear_ua(t->d, Q_REQ, 0, 0);
}

static void t_start(T *t, uint64_t features)
{
    VirtioScsiProps p = VIRTIO_SCSI_PROPS_DEFAULT;
    uint8_t *h;

    p.id = "vscsi0";
    vdrv_fx_init(&t->fx, &p);
    t->d = &t->fx.d;
    t->features = features;
    t->disk = vdrv_disk_attach(virtio_scsi_bus(t->fx.s), 0, 0, 64);
    g_assert_true(vdrv_negotiate(t->d, features));
    vdrv_msix_enable(t->d);
    for (unsigned e = 0; e < 4; e++) {
        vdrv_msix_program(t->d, e, 0, VEC_BASE + e);
    }
    setup_queues(t);
    t->req = vdrv_alloc(sizeof(VirtioScsiCmdReq));
    t->resp = vdrv_alloc(sizeof(VirtioScsiCmdResp));
    h = vdrv_ptr(t->req);
    vdrv_scsi_lun(h, 0, 0);
    vdrv_irq_log_clear();
    t->disk->commands = 0;
}

static void t_stop(T *t)
{
    vdrv_fx_fini(&t->fx);
}

static uint64_t errors(T *t)
{
    return virtio_scsi_guest_errors(t->fx.s);
}

static void desc(T *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
    vdrv_write_desc(t->d, Q_REQ, i, addr, len, flags, next);
}

static void put(uint8_t *table, unsigned i, uint64_t addr, uint32_t len,
                uint16_t flags, uint16_t next)
{
    uint8_t *p = table + 16 * i;

    pci_set_quad(p, addr);
    pci_set_long(p + 8, len);
    pci_set_word(p + 12, flags);
    pci_set_word(p + 14, next);
}

/* A TEST UNIT READY through the helper: does the device still answer? */
static bool device_answers(T *t)
{
    static const uint8_t tur[6] = {0};
    VDrvIo io;

    vdrv_io_init(&io, VDRV_LAYOUT_SIMPLE, 0, 0, 0xabc, tur, 6, 0, false, 0, 0);
    vdrv_io_submit(t->d, Q_REQ, &io);
    vdrv_notify(t->d, Q_REQ);
    vdrv_run();
    return vdrv_used_pending(t->d, Q_REQ) != 0;
}

/* Back from NEEDS_RESET: a reset and a new init, then I/O works. */
static void recover(T *t)
{
    vdrv_reset(t->d);
    g_assert_cmpuint(vdrv_status(t->d), ==, 0);
    g_assert_true(vdrv_negotiate(t->d, t->features));
    setup_queues(t);
    vdrv_irq_log_clear();
    g_assert_true(device_answers(t));
    g_assert_false(vdrv_status(t->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* The device gave up on the driver as the spec says it should. */
static void expect_needs_reset(T *t, uint64_t e0)
{
    g_assert_true(vdrv_status(t->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_cmpuint(errors(t), >, e0);
    /* One configuration change interrupt, on the config vector only. */
    g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE], ==, 1);
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 1);
    g_assert_cmpuint(vdrv_used_pending(t->d, Q_REQ), ==, 0);
    g_assert_cmpuint(virtio_scsi_in_flight(t->fx.s), ==, 0);
    g_assert_cmpuint(t->disk->commands, ==, 0);
    /* A device that needs a reset takes no more requests. */
    g_assert_false(device_answers(t));
    recover(t);
}

/* ---- chains the device must refuse --------------------------------------- */

typedef struct ChainCase {
    const char *name;
    void (*build)(T *t);
    uint64_t features; /* 0: all_features */
} ChainCase;

static void publish(T *t, uint16_t head)
{
    vdrv_publish(t->d, Q_REQ, head);
}

static void build_loop(T *t)
{
    desc(t, HI, t->req, 51, NEXT, HI + 1);
    desc(t, HI + 1, t->resp, 108, WRITE | NEXT, HI);
    publish(t, HI);
}

static void build_self_loop(T *t)
{
    desc(t, HI, t->req, 51, NEXT, HI);
    publish(t, HI);
}

static void build_head_out_of_range(T *t)
{
    publish(t, QS + 3);
}

static void build_next_out_of_range(T *t)
{
    desc(t, HI, t->req, 51, NEXT, QS);
    publish(t, HI);
}

static uint64_t indirect_table(unsigned n)
{
    uint64_t table = vdrv_alloc(16 * (uint64_t)n);
    uint8_t *p = vdrv_ptr(table);
    uint64_t data = vdrv_alloc(16);

    /* A well-formed chain of @n buffers, the last device-writable. */
    for (unsigned i = 0; i < n; i++) {
        put(p, i, data, 1, (i + 1 < n ? NEXT : 0) | (i + 1 == n ? WRITE : 0),
            (uint16_t)(i + 1));
    }
    return table;
}

static void build_indirect_too_long(T *t)
{
    desc(t, HI, indirect_table(QS + 1), 16 * (QS + 1), INDIRECT, 0);
    publish(t, HI);
}

static void build_mixed_too_long(T *t)
{
    /* Two direct descriptors, then a table of size - 1: size + 1 in all. */
    desc(t, HI, t->req, 51, NEXT, HI + 1);
    desc(t, HI + 1, t->req, 1, NEXT, HI + 2);
    desc(t, HI + 2, indirect_table(QS - 1), 16 * (QS - 1), INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_loop(T *t)
{
    uint64_t table = vdrv_alloc(16 * 4);
    uint8_t *p = vdrv_ptr(table);

    put(p, 0, t->req, 51, NEXT, 1);
    put(p, 1, t->resp, 108, WRITE | NEXT, 2);
    put(p, 2, t->resp, 8, WRITE | NEXT, 3);
    put(p, 3, t->resp, 8, WRITE | NEXT, 1);
    desc(t, HI, table, 64, INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_next_out_of_range(T *t)
{
    uint64_t table = vdrv_alloc(32);
    uint8_t *p = vdrv_ptr(table);

    put(p, 0, t->req, 51, NEXT, 5);
    put(p, 1, t->resp, 108, WRITE, 0);
    desc(t, HI, table, 32, INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_nested(T *t)
{
    uint64_t inner = indirect_table(2);
    uint64_t table = vdrv_alloc(32);
    uint8_t *p = vdrv_ptr(table);

    put(p, 0, t->req, 51, NEXT, 1);
    put(p, 1, inner, 32, INDIRECT, 0);
    desc(t, HI, table, 32, INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_with_next(T *t)
{
    desc(t, HI, indirect_table(2), 32, INDIRECT | NEXT, HI + 1);
    desc(t, HI + 1, t->resp, 108, WRITE, 0);
    publish(t, HI);
}

static void build_indirect_bad_len(T *t)
{
    desc(t, HI, indirect_table(2), 24, INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_zero_len(T *t)
{
    desc(t, HI, indirect_table(2), 0, INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_outside_ram(T *t)
{
    desc(t, HI, 0xf0000000ULL, 32, INDIRECT, 0);
    publish(t, HI);
}

/* The checks of vq_walk_chain(), in an indirect table: the device's quick
 * way with a table gives any of these to the walk, which refuses them. */
static void build_table(T *t, unsigned n, const uint64_t *addr,
                        const uint32_t *len, const uint16_t *flags)
{
    uint64_t table = vdrv_alloc(16 * (uint64_t)n);

    for (unsigned i = 0; i < n; i++) {
        put(vdrv_ptr(table), i, addr[i], len[i], flags[i], (uint16_t)(i + 1));
    }
    desc(t, HI, table, 16 * n, INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_length_overflow(T *t)
{
    build_table(t, 2, (uint64_t[]){t->req, t->resp},
                (uint32_t[]){0x80000000u, 0x80000000u},
                (uint16_t[]){NEXT, WRITE});
}

static void build_indirect_buffer_outside_ram(T *t)
{
    build_table(t, 3, (uint64_t[]){t->req, t->resp, 1ULL << 32},
                (uint32_t[]){51, 108, 512},
                (uint16_t[]){NEXT, WRITE | NEXT, WRITE});
}

/* The quick way's one-compare range test, at its edges: an end past
 * 2^64 and one past RAM, in the table's entries and of the table. */
static void build_indirect_buffer_address_wraps(T *t)
{
    build_table(t, 2, (uint64_t[]){t->req, 0xffffffffffffff00ULL},
                (uint32_t[]){51, 0x200}, (uint16_t[]){NEXT, WRITE});
}

static void build_indirect_buffer_straddles_ram_end(T *t)
{
    build_table(t, 2, (uint64_t[]){t->req, ram_size - 16}, (uint32_t[]){51, 64},
                (uint16_t[]){NEXT, WRITE});
}

static void build_indirect_table_address_wraps(T *t)
{
    desc(t, HI, 0xfffffffffffffff0ULL, 32, INDIRECT, 0);
    publish(t, HI);
}

static void build_indirect_readable_after_writable(T *t)
{
    build_table(t, 3, (uint64_t[]){t->req, t->resp, t->req},
                (uint32_t[]){51, 108, 16}, (uint16_t[]){NEXT, WRITE | NEXT, 0});
}

static void build_indirect_next_past_end(T *t)
{
    /* The last entry goes on to entry 2 of a table of 2. */
    build_table(t, 2, (uint64_t[]){t->req, t->resp}, (uint32_t[]){51, 108},
                (uint16_t[]){NEXT, WRITE | NEXT});
}

static void build_length_overflow(T *t)
{
    desc(t, HI, t->req, 0x80000000u, NEXT, HI + 1);
    desc(t, HI + 1, t->resp, 0x80000000u, WRITE, 0);
    publish(t, HI);
}

static void build_buffer_outside_ram(T *t)
{
    desc(t, HI, t->req, 51, NEXT, HI + 1);
    desc(t, HI + 1, t->resp, 108, WRITE | NEXT, HI + 2);
    desc(t, HI + 2, 1ULL << 32, 512, WRITE, 0);
    publish(t, HI);
}

static void build_buffer_straddles_ram_end(T *t)
{
    desc(t, HI, t->req, 51, NEXT, HI + 1);
    desc(t, HI + 1, ram_size - 16, 64, WRITE, 0);
    publish(t, HI);
}

static void build_buffer_in_msi_window(T *t)
{
    /* A device write there would be an interrupt message. */
    desc(t, HI, t->req, 51, NEXT, HI + 1);
    desc(t, HI + 1, t->resp, 108, WRITE | NEXT, HI + 2);
    desc(t, HI + 2, MSI_ADDR_BASE, 4, WRITE, 0);
    publish(t, HI);
}

static void build_buffer_address_wraps(T *t)
{
    desc(t, HI, 0xffffffffffffff00ULL, 0x200, 0, 0);
    publish(t, HI);
}

static void build_readable_after_writable(T *t)
{
    desc(t, HI, t->req, 51, NEXT, HI + 1);
    desc(t, HI + 1, t->resp, 108, WRITE | NEXT, HI + 2);
    desc(t, HI + 2, t->req, 16, 0, 0);
    publish(t, HI);
}

static void build_avail_jump(T *t)
{
    vdrv_set_avail_idx(t->d, Q_REQ, t->d->q[Q_REQ].avail_idx + QS + 1);
}

static void build_avail_backwards(T *t)
{
    vdrv_set_avail_idx(t->d, Q_REQ, t->d->q[Q_REQ].avail_idx - 1);
}

static void build_response_too_small(T *t)
{
    desc(t, HI, t->req, 51, NEXT, HI + 1);
    desc(t, HI + 1, t->resp, 11, WRITE, 0);
    publish(t, HI);
}

static void build_indirect_not_negotiated(T *t)
{
    desc(t, HI, indirect_table(2), 32, INDIRECT, 0);
    publish(t, HI);
}

static const ChainCase chain_cases[] = {
    {"descriptor-loop", build_loop},
    {"descriptor-self-loop", build_self_loop},
    {"head-out-of-range", build_head_out_of_range},
    {"next-out-of-range", build_next_out_of_range},
    {"indirect-longer-than-queue", build_indirect_too_long},
    {"chain-longer-than-queue", build_mixed_too_long},
    {"indirect-loop", build_indirect_loop},
    {"indirect-next-out-of-range", build_indirect_next_out_of_range},
    {"indirect-nested", build_indirect_nested},
    {"indirect-with-next", build_indirect_with_next},
    {"indirect-bad-length", build_indirect_bad_len},
    {"indirect-zero-length", build_indirect_zero_len},
    {"indirect-outside-ram", build_indirect_outside_ram},
    {"indirect-not-negotiated", build_indirect_not_negotiated,
     F(VIRTIO_F_VERSION_1)},
    {"indirect-length-overflow", build_indirect_length_overflow},
    {"indirect-buffer-outside-ram", build_indirect_buffer_outside_ram},
    {"indirect-buffer-address-wraps", build_indirect_buffer_address_wraps},
    {"indirect-buffer-straddles-ram-end",
     build_indirect_buffer_straddles_ram_end},
    {"indirect-table-address-wraps", build_indirect_table_address_wraps},
    {"indirect-readable-after-writable",
     build_indirect_readable_after_writable},
    {"indirect-next-past-end", build_indirect_next_past_end},
    {"length-overflow", build_length_overflow},
    {"buffer-outside-ram", build_buffer_outside_ram},
    {"buffer-straddles-ram-end", build_buffer_straddles_ram_end},
    {"buffer-in-msi-window", build_buffer_in_msi_window},
    {"buffer-address-wraps", build_buffer_address_wraps},
    {"readable-after-writable", build_readable_after_writable},
    {"avail-idx-jump", build_avail_jump},
    {"avail-idx-backwards", build_avail_backwards},
    {"response-too-small", build_response_too_small},
};

static void test_chain(gconstpointer data)
{
    const ChainCase *c = data;
    uint64_t e0, faults0;
    T t;

    t_start(&t, c->features ? c->features : all_features);
    e0 = errors(&t);
    faults0 = dma_faults();
    c->build(&t);
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    expect_needs_reset(&t, e0);
    /* Refused before any DMA: the device never tried to reach outside. */
    g_assert_cmpuint(dma_faults(), ==, faults0);
    t_stop(&t);
}

/* ---- requests the device answers with an error --------------------------- */

static void test_short_request(void)
{
    uint32_t id, len;
    uint8_t *r;
    uint64_t e0;
    T t;

    t_start(&t, all_features);
    /* Header shorter than lun..cdb: VIRTIO_SCSI_S_FAILURE, only the fixed
     * part of the response written. */
    e0 = errors(&t);
    memset(vdrv_ptr(t.resp), 0xa5, 108);
    {
        VDrvBuf b[2] = {{t.req, 20, false}, {t.resp, 108, true}};
        vdrv_add_chain(t.d, Q_REQ, b, 2, false);
    }
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
    r = vdrv_ptr(t.resp);
    g_assert_cmpuint(len, ==, 12);
    g_assert_cmpuint(r[11], ==, VIRTIO_SCSI_S_FAILURE);
    g_assert_cmpuint(pci_get_long(r), ==, 0);
    g_assert_cmphex(r[12], ==, 0xa5);
    g_assert_cmpuint(errors(&t), ==, e0 + 1);
    /* Response area shorter than 12 + sense_size: the same. */
    memset(vdrv_ptr(t.resp), 0xa5, 108);
    {
        VDrvBuf b[2] = {{t.req, 51, false}, {t.resp, 50, true}};
        vdrv_add_chain(t.d, Q_REQ, b, 2, false);
    }
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
    g_assert_cmpuint(len, ==, 12);
    g_assert_cmpuint(r[11], ==, VIRTIO_SCSI_S_FAILURE);
    g_assert_cmpuint(errors(&t), ==, e0 + 2);
    g_assert_cmpuint(t.disk->commands, ==, 0);
    /* Not a reason to give up on the driver. */
    g_assert_false(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_true(device_answers(&t));
    t_stop(&t);
}

/* Zero-length and oddly split descriptors are legal (2.7.4). */
static void test_odd_but_legal(void)
{
    uint32_t id, len;
    uint8_t *r;
    T t;

    t_start(&t, all_features);
    memset(vdrv_ptr(t.resp), 0xa5, 108);
    {
        VDrvBuf b[7] = {
            {t.req, 0, false},       {t.req, 1, false}, {t.req + 1, 0, false},
            {t.req + 1, 50, false},  {t.resp, 0, true}, {t.resp, 11, true},
            {t.resp + 11, 97, true},
        };
        vdrv_add_chain(t.d, Q_REQ, b, 7, false);
    }
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
    r = vdrv_ptr(t.resp);
    g_assert_cmpuint(len, ==, 108);
    g_assert_cmpuint(r[11], ==, VIRTIO_SCSI_S_OK);
    g_assert_cmpuint(r[10], ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(errors(&t), ==, 0);
    t_stop(&t);
}

/*
 * Indirect tables that are legal but not in the usual shape (entries out
 * of order, an empty buffer, entries past the chain's end), and the usual
 * shape itself: each gets the same answer, whichever way the device
 * takes it.
 */
static void test_indirect_odd_but_legal(void)
{
    static const struct {
        const char *what;
        uint8_t order[4]; /* table entry of the k-th (0 first) */
        uint32_t len[4];  /* request, response, response rest, spare */
        unsigned n;       /* table entries */
        unsigned used;    /* chain buffers */
    } cases[] = {
        {"usual", {0, 1, 2}, {51, 108, 0}, 2, 2},
        {"usual-split", {0, 1, 2}, {51, 11, 97}, 3, 3},
        {"out-of-order", {0, 2, 1}, {51, 11, 97}, 3, 3},
        {"jumps", {0, 3, 1, 2}, {51, 11, 97, 4}, 4, 3},
        {"empty-buffer", {0, 1, 2}, {51, 0, 108}, 3, 3},
        {"entries-past-chain", {0, 1, 2, 3}, {51, 108, 4, 4}, 4, 2},
    };
    T t;

    t_start(&t, all_features);
    for (unsigned c = 0; c < G_N_ELEMENTS(cases); c++) {
        uint64_t table = vdrv_alloc(16 * 4);
        uint64_t resp_off = 0;
        uint32_t id, len;
        uint8_t *r;

        g_test_message("%s", cases[c].what);
        memset(vdrv_ptr(t.resp), 0xa5, 108);
        for (unsigned k = 0; k < cases[c].n; k++) {
            unsigned e = cases[c].order[k];
            bool last = k + 1 >= cases[c].used;
            uint64_t addr = k == 0 ? t.req : t.resp + resp_off;

            /* Entries past the chain point at the response: unused. */
            put(vdrv_ptr(table), e, k < cases[c].used ? addr : t.resp,
                cases[c].len[k], (k ? WRITE : 0) | (last ? 0 : NEXT),
                last ? 0 : cases[c].order[k + 1]);
            resp_off += k ? cases[c].len[k] : 0;
        }
        desc(&t, HI, table, 16 * cases[c].n, INDIRECT, 0);
        publish(&t, HI);
        vdrv_notify(t.d, Q_REQ);
        vdrv_run();
        g_assert_true(vdrv_get_used(t.d, Q_REQ, &id, &len));
        g_assert_cmpuint(id, ==, HI);
        r = vdrv_ptr(t.resp);
        g_assert_cmpuint(len, ==, 108);
        g_assert_cmpuint(r[11], ==, VIRTIO_SCSI_S_OK);
        g_assert_cmpuint(r[10], ==, SCSI_STATUS_GOOD);
        g_assert_cmpuint(errors(&t), ==, 0);
    }
    g_assert_cmpuint(t.disk->commands, ==, G_N_ELEMENTS(cases));
    t_stop(&t);
}

static void test_bad_control(void)
{
    static const struct {
        const char *what;
        uint32_t type;
        uint32_t req_len, resp_len;
        uint32_t used; /* expected used length */
        bool failure;  /* FAILURE written at the response */
    } cases[] = {
        {"no type", 0, 2, 1, 0, false},
        {"unknown type", 77, 24, 1, 0, false},
        {"short TMF", VIRTIO_SCSI_T_TMF, 10, 1, 1, true},
        {"TMF without response", VIRTIO_SCSI_T_TMF, 24, 0, 0, false},
        {"short AN", VIRTIO_SCSI_T_AN_QUERY, 8, 5, 5, true},
        {"AN with short response", VIRTIO_SCSI_T_AN_SUBSCRIBE, 16, 3, 0, false},
    };
    T t;

    t_start(&t, all_features);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t rq = vdrv_alloc(32), rs = vdrv_alloc(8);
        VDrvBuf b[2] = {{rq, cases[i].req_len, false},
                        {rs, cases[i].resp_len, true}};
        uint64_t e0 = errors(&t);
        uint32_t id, len;
        uint8_t *resp = vdrv_ptr(rs);

        pci_set_long(vdrv_ptr(rq), cases[i].type);
        memset(resp, 0xee, 8);
        vdrv_add_chain(t.d, Q_CTRL, b, cases[i].resp_len ? 2 : 1, false);
        vdrv_notify(t.d, Q_CTRL);
        vdrv_run();
        g_test_message("%s", cases[i].what);
        g_assert_true(vdrv_get_used(t.d, Q_CTRL, &id, &len));
        g_assert_cmpuint(len, ==, cases[i].used);
        g_assert_cmpuint(errors(&t), ==, e0 + 1);
        if (cases[i].failure) {
            g_assert_cmpuint(resp[cases[i].used - 1], ==,
                             VIRTIO_SCSI_S_FAILURE);
        } else {
            g_assert_cmphex(resp[0], ==, 0xee);
        }
    }
    g_assert_false(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_true(device_answers(&t));
    t_stop(&t);
}

static void test_bad_event_buffers(void)
{
    static const struct {
        const char *what;
        uint32_t readable, writable;
    } cases[] = {
        {"device-readable", 16, 16},
        {"too small", 0, 8},
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t buf, e0;
        VDrvBuf b[2];
        unsigned n = 0;
        T t;

        t_start(&t, all_features);
        buf = vdrv_alloc(32);
        if (cases[i].readable) {
            b[n++] = (VDrvBuf){buf, cases[i].readable, false};
        }
        b[n++] = (VDrvBuf){buf + 16, cases[i].writable, true};
        vdrv_add_chain(t.d, Q_EVENT, b, n, false);
        vdrv_notify(t.d, Q_EVENT);
        vdrv_run();
        g_test_message("%s", cases[i].what);
        e0 = errors(&t);
        /* Found out only when there is an event to deliver. */
        g_assert_false(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        virtio_scsi_hotplug(t.fx.s, 0, 1, true);
        vdrv_run();
        g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        g_assert_cmpuint(errors(&t), ==, e0 + 1);
        g_assert_cmpuint(vdrv_used_pending(t.d, Q_EVENT), ==, 0);
        g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE], ==, 1);
        recover(&t);
        t_stop(&t);
    }
}

/* ---- rings the device cannot use ----------------------------------------- */

static void test_bad_rings(void)
{
    static const struct {
        const char *what;
        uint64_t desc_delta, avail_delta, used_delta;
        uint64_t desc_abs;
    } cases[] = {
        {"descriptor table misaligned", 8, 0, 0, 0},
        {"avail ring misaligned", 0, 1, 0, 0},
        {"used ring misaligned", 0, 0, 2, 0},
        {"descriptor table outside RAM", 0, 0, 0, 0x7ffff0000ULL},
        {"descriptor table past RAM end", 0, 0, 0, 0},
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t e0, base, desc_addr;
        T t;

        t_start(&t, all_features);
        vdrv_reset(t.d);
        g_assert_true(vdrv_negotiate(t.d, all_features));
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_MSIX, 0, 2);
        vdrv_queue_setup(t.d, Q_CTRL, 0, 1);
        vdrv_queue_setup(t.d, Q_EVENT, 0, 2);
        vdrv_driver_ok(t.d);
        vdrv_run();
        vdrv_irq_log_clear();
        e0 = errors(&t);
        base = vdrv_alloc(0x4000);
        desc_addr =
            cases[i].desc_abs ? cases[i].desc_abs : base + cases[i].desc_delta;
        if (i == 4) {
            desc_addr = ram_size - 16 * 8;
        }
        g_test_message("%s", cases[i].what);
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, Q_REQ, 2);
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_MSIX, Q_REQ + 1, 2);
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_DESCLO, desc_addr, 8);
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_AVAILLO,
                          base + 0x1000 + cases[i].avail_delta, 8);
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_USEDLO,
                          base + 0x2000 + cases[i].used_delta, 8);
        vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
        /* The interrupt is an event, not part of the register write. */
        g_assert_cmpuint(vdrv_irqs.msi_total, ==, 0);
        vdrv_run();
        g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        g_assert_cmpuint(errors(&t), ==, e0 + 1);
        g_assert_cmpuint(vdrv_irqs.msi[VEC_BASE], ==, 1);
        recover(&t);
        t_stop(&t);
    }
}

static void test_bus_master_off(void)
{
    PCIDevice *pci;
    uint16_t cmd;
    uint64_t e0;
    T t;

    t_start(&t, all_features);
    pci = virtio_scsi_pci(t.fx.s);
    e0 = errors(&t);
    cmd = pci_config_read(pci, PCI_CFG_COMMAND, 2);
    pci_config_write(pci, PCI_CFG_COMMAND, cmd & ~PCI_CMD_MASTER, 2);
    g_assert_false(device_answers(&t));
    g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_cmpuint(errors(&t), >, e0);
    /* The message is a memory write too: lost while mastering is off. */
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 0);
    pci_config_write(pci, PCI_CFG_COMMAND, cmd, 2);
    recover(&t);
    t_stop(&t);
}

/* ---- register misuse ----------------------------------------------------- */

static void test_read_only_fields(void)
{
    static const struct {
        bool device; /* device config, else common config */
        unsigned off, size;
        uint64_t val;
    } writes[] = {
        {false, VIRTIO_PCI_COMMON_DF, 4, 0xffffffff},
        {false, VIRTIO_PCI_COMMON_NUMQ, 2, 100},
        {false, VIRTIO_PCI_COMMON_CFGGEN, 1, 9},
        {false, VIRTIO_PCI_COMMON_Q_NOFF, 2, 7},
        {false, VIRTIO_PCI_COMMON_Q_NDATA, 2, 7},
        {true, VIRTIO_SCSI_CFG_NUM_QUEUES, 4, 16},
        {true, VIRTIO_SCSI_CFG_SEG_MAX, 4, 1},
        {true, VIRTIO_SCSI_CFG_MAX_SECTORS, 4, 1},
        {true, VIRTIO_SCSI_CFG_CMD_PER_LUN, 4, 1},
        {true, VIRTIO_SCSI_CFG_EVENT_INFO_SIZE, 4, 1},
        {true, VIRTIO_SCSI_CFG_MAX_CHANNEL, 2, 1},
        {true, VIRTIO_SCSI_CFG_MAX_TARGET, 2, 1},
        {true, VIRTIO_SCSI_CFG_MAX_LUN, 4, 1},
        /* Writable, but not with these values. */
        {true, VIRTIO_SCSI_CFG_SENSE_SIZE, 4, 1u << 20},
        {true, VIRTIO_SCSI_CFG_CDB_SIZE, 4, 0xffffffff},
    };
    T t;

    t_start(&t, all_features);
    vdrv_common_write(t.d, VIRTIO_PCI_COMMON_Q_SELECT, Q_REQ, 2);
    for (unsigned i = 0; i < G_N_ELEMENTS(writes); i++) {
        unsigned off = writes[i].off, size = writes[i].size;
        uint64_t before, e0 = errors(&t);

        before = writes[i].device ? vdrv_device_read(t.d, off, size)
                                  : vdrv_common_read(t.d, off, size);
        if (writes[i].device) {
            vdrv_device_write(t.d, off, writes[i].val, size);
        } else {
            vdrv_common_write(t.d, off, writes[i].val, size);
        }
        g_assert_cmpuint(errors(&t), ==, e0 + 1);
        g_assert_cmphex(writes[i].device ? vdrv_device_read(t.d, off, size)
                                         : vdrv_common_read(t.d, off, size),
                        ==, before);
    }
    /* The ISR is read-only as well. */
    bnd_mmio_write(t.d->isr, 1, 1);
    g_assert_cmpuint(errors(&t), ==, G_N_ELEMENTS(writes) + 1);
    g_assert_false(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_true(device_answers(&t));
    t_stop(&t);
}

static void test_bad_accesses(void)
{
    static const struct {
        const char *what;
        int region; /* 0 common, 1 isr, 2 device, 3 notify */
        bool write;
        unsigned off, size;
        uint64_t val;
    } cases[] = {
        {"status as dword", 0, false, VIRTIO_PCI_COMMON_STATUS, 4, 0},
        {"status as word", 0, true, VIRTIO_PCI_COMMON_STATUS, 2, 0},
        {"queue_select as byte", 0, false, VIRTIO_PCI_COMMON_Q_SELECT, 1, 0},
        {"device_feature as word", 0, false, VIRTIO_PCI_COMMON_DF, 2, 0},
        {"queue_desc as word", 0, false, VIRTIO_PCI_COMMON_Q_DESCLO, 2, 0},
        {"past common config", 0, false, VIRTIO_PCI_COMMON_CFG_LEN, 2, 0},
        {"far past common config", 0, true, 0x800, 4, 1},
        {"isr as dword", 1, false, 0, 4, 0},
        {"isr byte 1", 1, false, 1, 1, 0},
        {"num_queues as word", 2, false, VIRTIO_SCSI_CFG_NUM_QUEUES, 2, 0},
        {"sense_size as byte", 2, true, VIRTIO_SCSI_CFG_SENSE_SIZE, 1, 8},
        {"past device config", 2, false, VIRTIO_SCSI_CFG_SIZE, 4, 0},
        {"notify read", 3, false, 0, 2, 0},
        {"notify as dword", 3, true, 4 * Q_REQ, 4, Q_REQ},
        {"notify as byte", 3, true, 4 * Q_REQ, 1, Q_REQ},
        {"notify between queues", 3, true, 4 * Q_REQ + 2, 2, Q_REQ},
        {"notify past the queues", 3, true, 4 * 3, 2, 3},
        {"notify with another index", 3, true, 4 * Q_REQ, 2, Q_CTRL},
    };
    T t;

    t_start(&t, all_features);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t base[] = {t.d->common, t.d->isr, t.d->device, t.d->notify};
        uint64_t gpa = base[cases[i].region] + cases[i].off;
        uint64_t e0 = errors(&t);
        uint8_t st = vdrv_status(t.d);

        g_test_message("%s", cases[i].what);
        if (cases[i].write) {
            bnd_mmio_write(gpa, cases[i].val, cases[i].size);
        } else {
            g_assert_cmphex(bnd_mmio_read(gpa, cases[i].size), ==, 0);
        }
        vdrv_run();
        g_assert_cmpuint(errors(&t), ==, e0 + 1);
        g_assert_cmphex(vdrv_status(t.d), ==, st);
    }
    g_assert_cmpuint(vdrv_device_read(t.d, VIRTIO_SCSI_CFG_SENSE_SIZE, 4), ==,
                     96);
    g_assert_true(device_answers(&t));
    t_stop(&t);
}

/* A doorbell with a valid request on a device that gave up is ignored
 * until the reset, and the reset clears everything. */
static void test_needs_reset_sticks(void)
{
    uint64_t e0;
    T t;

    t_start(&t, all_features);
    e0 = errors(&t);
    build_avail_jump(&t);
    vdrv_notify(t.d, Q_REQ);
    vdrv_run();
    g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    g_assert_cmpuint(errors(&t), ==, e0 + 1);
    /* More doorbells, more junk: no further errors, no more interrupts. */
    vdrv_notify(t.d, Q_REQ);
    vdrv_notify(t.d, Q_CTRL);
    vdrv_run();
    g_assert_cmpuint(errors(&t), ==, e0 + 1);
    g_assert_cmpuint(vdrv_irqs.msi_total, ==, 1);
    /* Setting DRIVER_OK again does not clear it; only a reset does. */
    vdrv_set_status(t.d, vdrv_status(t.d));
    g_assert_true(vdrv_status(t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    recover(&t);
    t_stop(&t);
}

int main(int argc, char **argv)
{
    FILE *sink;

    g_test_init(&argc, &argv, NULL);
    sink = fopen("/dev/null", "w");
    g_assert_nonnull(sink);
    trace_set_output(sink);
    g_assert_true(trace_enable("*", NULL));

    for (unsigned i = 0; i < G_N_ELEMENTS(chain_cases); i++) {
        g_autofree char *path = g_strdup_printf("/virtio-scsi-hostile/chain/%s",
                                                chain_cases[i].name);
        g_test_add_data_func(path, &chain_cases[i], test_chain);
    }
    g_test_add_func("/virtio-scsi-hostile/short-request", test_short_request);
    g_test_add_func("/virtio-scsi-hostile/odd-but-legal", test_odd_but_legal);
    g_test_add_func("/virtio-scsi-hostile/indirect-odd-but-legal",
                    test_indirect_odd_but_legal);
    g_test_add_func("/virtio-scsi-hostile/bad-control", test_bad_control);
    g_test_add_func("/virtio-scsi-hostile/bad-event-buffers",
                    test_bad_event_buffers);
    g_test_add_func("/virtio-scsi-hostile/bad-rings", test_bad_rings);
    g_test_add_func("/virtio-scsi-hostile/bus-master-off", test_bus_master_off);
    g_test_add_func("/virtio-scsi-hostile/read-only-fields",
                    test_read_only_fields);
    g_test_add_func("/virtio-scsi-hostile/bad-accesses", test_bad_accesses);
    g_test_add_func("/virtio-scsi-hostile/needs-reset-sticks",
                    test_needs_reset_sticks);
    return g_test_run();
}
