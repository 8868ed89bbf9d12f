/* SPDX-License-Identifier: MIT */
/*
 * The ramdisk miniport (miniports/ramdisk) driven through the port, the
 * way the class layer drives it: enumeration per "luns", INQUIRY and
 * capacity, pattern write/read at many LBAs and sizes from every vCPU with
 * every READ/WRITE CDB size, the three completion contexts and both SRB
 * kinds, CHECK CONDITION sense data for each error (SPC-4/SBC-3 sense
 * codes), residuals of short transfers, UNMAP/VERIFY/SYNCHRONIZE CACHE,
 * bus resets (queued requests, and a real request time-out with the
 * reset deferred behind a running work item), stop/hibernate/restart with
 * I/O in flight, parameter errors, and shutdown freeing every pool block.
 * Every run must end with zero verifier violations. The data and I/O
 * tests run under fifo and random scheduling with several seeds and 2-4
 * vCPUs.
 */
#include <string.h>
#include <glib.h>
#include "hw/core/memory.h"
#include "hw/core/ram.h"
#include "miniports/ramdisk/ramdisk.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/cpu.h"
#include "system/event.h"

/* The built-in miniport's entry point (Makefile: DriverEntry renamed). */
extern ULONG ramdisk_DriverEntry(PVOID DriverObject, PVOID RegistryPath);

#define RD_BLOCKS_16M (16u * 1024 * 1024 / 512)
#define RUN_LIMIT_NS  (3600 * NS_PER_SEC)

/* ---- harness ---- */

typedef struct RdCase {
    const char *path;   /* test path */
    const char *params; /* miniport option string */
    unsigned smp;
    SchedPolicy policy;
    uint64_t seed;
} RdCase;

static const OptDesc mp_desc[] = {
    {"name", OPT_STRING, "miniport"},
    {"tracing", OPT_BOOL, "tracing"},
    {NULL},
};
static const OptsSchema mp_schema = {
    .option = "-miniport",
    .implied = "name",
    .desc = mp_desc,
    .wildcard_prefix = "param",
};

static void machine_up(const RdCase *c)
{
    SchedConfig sc = {
        .policy = c->policy,
        .seed = c->seed,
        .preempt = 0.2,
        .pct_depth = 3,
        .quantum = 16,
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(Opts) o = opts_parse(&mp_schema, c->params, &err);

    g_assert_no_error(err);
    event_loop_init();
    memory_init();
    g_assert_true(ram_init(256 << 20, &err));
    g_assert_true(cpus_init(c->smp, &sc, &err));
    port_register_builtin("ramdisk", ramdisk_DriverEntry);
    g_assert_true(port_load(o, VERIFIER_ON, &err));
    g_assert_no_error(err);
}

static void machine_down(void)
{
    port_unload();
    cpus_fini();
    ram_fini();
    memory_fini();
    event_loop_fini();
}

/* Run @prog on vCPU 0 until it stops the machine; no violations allowed.
 * Returns the scheduler's fingerprint of the run. */
static uint64_t run_program(const RdCase *c, GuestThreadFunc *prog)
{
    MachineStop st;
    uint64_t fingerprint;

    machine_up(c);
    guest_thread_create(0, "program", prog, (void *)c);
    st = cpus_run(RUN_LIMIT_NS);
    if (st != MACHINE_STOP_REQUESTED) {
        g_printerr("machine stopped with %d: %s\n", st, cpus_stop_report());
    }
    g_assert_cmpint(st, ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, 0);
    g_assert_cmpuint(verifier_total(), ==, 0);
    fingerprint = sched_fingerprint() ^ vclock_now();
    machine_down();
    return fingerprint;
}

static PRAMDISK_ADAPTER_EXTENSION rd_ext(void)
{
    g_assert_cmpuint(port.nadapters, ==, 1);
    return port.adapters[0]->devext;
}

static void start_port(void)
{
    g_autoptr(GError) err = NULL;

    if (!port_start(&err)) {
        g_error("port_start: %s", err->message);
    }
}

/* Shut the port down and check the miniport released everything. */
static void shutdown_and_check(void)
{
    PRAMDISK_ADAPTER_EXTENSION x = rd_ext();
    ULONG luns = x->LunCount;

    port_shutdown();
    g_assert_cmpint(x->Stats.Shutdowns, ==, (LONG)luns);
    g_assert_cmpint(x->Stats.Flushes, >=, (LONG)luns);
    for (ULONG i = 0; i < RAMDISK_MAX_LUNS; i++) {
        g_assert_null(x->Units[i].Data);
    }
    g_assert_cmpuint(verifier_count(VC_POOL_LEAK), ==, 0);
    g_assert_cmpuint(verifier_total(), ==, 0);
}

/* ---- CDBs and commands ---- */

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* READ/WRITE CDB of @size (6, 10, 12, 16) bytes; returns the length. */
static unsigned cdb_rw(uint8_t *cdb, bool write, unsigned size, uint64_t lba,
                       uint32_t blocks)
{
    memset(cdb, 0, 16);
    switch (size) {
    case 6:
        g_assert(lba < (1u << 21) && blocks >= 1 && blocks <= 256);
        cdb[0] = write ? SCSIOP_WRITE6 : SCSIOP_READ6;
        put_be(cdb + 1, lba, 3);
        cdb[4] = (uint8_t)blocks; /* 256 encodes as 0 */
        return 6;
    case 10:
        cdb[0] = write ? SCSIOP_WRITE : SCSIOP_READ;
        put_be(cdb + 2, lba, 4);
        put_be(cdb + 7, blocks, 2);
        return 10;
    case 12:
        cdb[0] = write ? SCSIOP_WRITE12 : SCSIOP_READ12;
        put_be(cdb + 2, lba, 4);
        put_be(cdb + 6, blocks, 4);
        return 12;
    default:
        cdb[0] = write ? SCSIOP_WRITE16 : SCSIOP_READ16;
        put_be(cdb + 2, lba, 8);
        put_be(cdb + 10, blocks, 4);
        return 16;
    }
}

/* Deterministic contents of block @lba of unit @lun written with @seed. */
static void pattern(uint8_t *buf, unsigned lun, uint64_t lba, uint32_t blocks,
                    uint32_t seed)
{
    for (uint32_t b = 0; b < blocks; b++) {
        uint64_t x = (lba + b) * 0x9e3779b97f4a7c15ULL ^
                     ((uint64_t)seed << 32) ^ ((uint64_t)lun << 56);
        for (unsigned i = 0; i < 512; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(buf + b * 512 + i, &x, 8);
        }
    }
}

/* Execute one command synchronously; the request stays for inspection. */
static uint8_t exec(PortRequest *req, const uint8_t *cdb, unsigned cdb_len,
                    void *buf, uint32_t len, PortXfer dir)
{
    port_request_scsi(req, cdb, cdb_len, buf, len, dir, 0);
    port_execute(req);
    return port_request_srb_status(req);
}

static uint8_t rw(PortLu *lu, bool write, unsigned size, uint64_t lba,
                  uint32_t blocks, void *buf)
{
    PortRequest *req = port_request_new(lu);
    uint8_t cdb[16];
    unsigned n = cdb_rw(cdb, write, size, lba, blocks);
    uint8_t st = exec(req, cdb, n, buf, blocks * 512,
                      write ? PORT_XFER_OUT : PORT_XFER_IN);

    g_assert_cmpuint(port_request_transferred(req), ==, blocks * 512);
    port_request_free(req);
    return st;
}

/* ---- enumeration ---- */

static void enumerate_program(void *opaque)
{
    const RdCase *c = opaque;
    PRAMDISK_ADAPTER_EXTENSION x;
    uint8_t *buf = ram_alloc(4096, 16, 0, "buf");
    unsigned expect_luns = 1;
    uint64_t expect_blocks = RD_BLOCKS_16M;
    const char *p;

    if ((p = strstr(c->params, "luns="))) {
        expect_luns = (unsigned)g_ascii_strtoull(p + 5, NULL, 10);
    }
    if ((p = strstr(c->params, "size="))) {
        /* The cases spell sizes as NM, NK or 0xHEX. */
        char *end = NULL;
        uint64_t v = g_ascii_strtoull(p + 5, &end, 0);
        if (*end == 'M' || *end == 'm') {
            v <<= 20;
        } else if (*end == 'K' || *end == 'k') {
            v <<= 10;
        }
        expect_blocks = v / 512;
    }
    start_port();
    x = rd_ext();
    g_assert_cmpuint(port_lun_count(), ==, expect_luns);
    g_assert_cmpuint(x->LunCount, ==, expect_luns);
    for (unsigned i = 0; i < expect_luns; i++) {
        PortLu *lu = port_lun_at(i);
        PortRequest *req = port_request_new(lu);
        const uint8_t *inq = port_lun_inquiry(lu);
        uint8_t rc10[10] = {SCSIOP_READ_CAPACITY};
        uint8_t rc16[16] = {SCSIOP_READ_CAPACITY16,
                            SERVICE_ACTION_READ_CAPACITY16};
        uint8_t vpd[6] = {SCSIOP_INQUIRY, 1, 0, 0, 255, 0};
        unsigned path, target, lun;

        port_lun_address(lu, &path, &target, &lun);
        g_assert_cmpuint(path, ==, 0);
        g_assert_cmpuint(target, ==, 0);
        g_assert_cmpuint(lun, ==, i);
        g_assert_cmpuint(inq[0], ==, DIRECT_ACCESS_DEVICE);
        g_assert_cmpmem(inq + 8, 8, "STOREMU ", 8);
        g_assert_cmpmem(inq + 16, 16, "RAMDISK         ", 16);
        g_assert_cmpmem(inq + 32, 4, "1.0 ", 4);
        g_assert_true(x->Units[i].Started); /* ScsiUnitStart */

        g_assert_cmpuint(exec(req, rc10, 10, buf, 8, PORT_XFER_IN), ==,
                         SRB_STATUS_SUCCESS);
        g_assert_cmpuint(get_be(buf, 4), ==, expect_blocks - 1);
        g_assert_cmpuint(get_be(buf + 4, 4), ==, 512);
        put_be(rc16 + 10, 32, 4);
        g_assert_cmpuint(exec(req, rc16, 16, buf, 32, PORT_XFER_IN), ==,
                         SRB_STATUS_SUCCESS);
        g_assert_cmpuint(get_be(buf, 8), ==, expect_blocks - 1);
        g_assert_cmpuint(get_be(buf + 8, 4), ==, 512);
        g_assert_cmpuint(buf[14] & 0xc0, ==, 0xc0); /* LBPME, LBPRZ */

        /* VPD 00h lists 00 80 83 B0 B1 B2; the serial names the unit. */
        exec(req, vpd, 6, buf, 255, PORT_XFER_IN);
        g_assert_cmpuint(port_request_transferred(req), ==, 10);
        g_assert_cmpmem(buf + 4, 6, "\x00\x80\x83\xb0\xb1\xb2", 6);
        vpd[2] = VPD_SERIAL_NUMBER;
        exec(req, vpd, 6, buf, 255, PORT_XFER_IN);
        g_assert_cmpuint(buf[1], ==, 0x80);
        g_assert_cmpuint(buf[3], ==, 8);
        g_assert_cmpmem(buf + 4, 7, "RAMDISK", 7);
        g_assert_cmpuint(buf[11], ==, '0' + i);
        vpd[2] = VPD_DEVICE_IDENTIFIERS;
        exec(req, vpd, 6, buf, 255, PORT_XFER_IN);
        g_assert_cmpuint(buf[1], ==, 0x83);
        g_assert_cmpuint(get_be(buf + 2, 2), ==, 4 + 16 + 4 + 8);
        g_assert_cmpmem(buf + 8, 8, "STOREMU ", 8);
        g_assert_cmpuint(buf[4 + 20 + 4 + 7], ==, i); /* NAA, LUN last */
        vpd[2] = VPD_BLOCK_LIMITS;
        exec(req, vpd, 6, buf, 255, PORT_XFER_IN);
        g_assert_cmpuint(get_be(buf + 8, 4), ==, RAMDISK_MAX_TRANSFER / 512);
        g_assert_cmpuint(get_be(buf + 24, 4), ==,
                         RAMDISK_MAX_UNMAP_DESCRIPTORS);
        vpd[2] = VPD_BLOCK_DEVICE_CHARACTERISTICS;
        exec(req, vpd, 6, buf, 255, PORT_XFER_IN);
        g_assert_cmpuint(get_be(buf + 4, 2), ==, 1); /* non-rotating */
        vpd[2] = VPD_LOGICAL_BLOCK_PROVISIONING;
        exec(req, vpd, 6, buf, 255, PORT_XFER_IN);
        g_assert_cmpuint(buf[5] & 0x84, ==, 0x84); /* LBPU, LBPRZ */
        port_request_free(req);
    }
    /* REPORT LUNS lists exactly the configured units. */
    {
        PortRequest *req = port_request_new(port_lun_at(0));
        uint8_t rl[12] = {SCSIOP_REPORT_LUNS};

        put_be(rl + 6, 4096, 4);
        exec(req, rl, 12, buf, 4096, PORT_XFER_IN);
        g_assert_cmpuint(get_be(buf, 4), ==, 8 * expect_luns);
        for (unsigned i = 0; i < expect_luns; i++) {
            g_assert_cmpuint(get_be(buf + 8 + 8 * i, 8), ==, (uint64_t)i << 48);
        }
        port_request_free(req);
    }
    ram_free(buf);
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_enumerate(gconstpointer data)
{
    run_program(data, enumerate_program);
}

/* ---- data: every vCPU writes and reads its own slots ---- */

#define SLOTS       12
#define SLOT_STRIDE 300 /* blocks between slot starts */

typedef struct Worker {
    unsigned index;
    unsigned lun;
    uint64_t base; /* first LBA of its region */
    GuestEvent done;
    unsigned errors;
} Worker;

static const unsigned cdb_sizes[] = {6, 10, 12, 16};

static uint32_t slot_blocks(unsigned w, unsigned s)
{
    /* 1..256 blocks, the largest 128 KiB. */
    return 1 + (w * 37 + s * 53) % 256;
}

static void slot_io(Worker *w, unsigned s, bool write, uint8_t *buf,
                    uint8_t *expect)
{
    PortLu *lu = port_lun_at(w->lun);
    uint64_t lba = w->base + (uint64_t)s * SLOT_STRIDE;
    uint32_t n = slot_blocks(w->index, s);
    unsigned size = cdb_sizes[(w->index + s + (write ? 0 : 1)) % 4];

    pattern(expect, w->lun, lba, n, w->index * 100 + s);
    if (write) {
        memcpy(buf, expect, n * 512);
    } else {
        memset(buf, 0xee, n * 512);
    }
    if (rw(lu, write, size, lba, n, buf) != SRB_STATUS_SUCCESS) {
        w->errors++;
        return;
    }
    if (!write && memcmp(buf, expect, n * 512)) {
        g_printerr("worker %u slot %u: data mismatch at lba %" G_GUINT64_FORMAT
                   "\n",
                   w->index, s, lba);
        w->errors++;
    }
}

static void worker_main(void *opaque)
{
    Worker *w = opaque;
    uint8_t *buf = ram_alloc(256 * 512, 16, 0, "worker-buf");
    uint8_t *expect = g_malloc(256 * 512);

    /* Write every slot, read each back at once, then all again. */
    for (unsigned s = 0; s < SLOTS; s++) {
        slot_io(w, s, true, buf, expect);
        slot_io(w, s, false, buf, expect);
    }
    for (unsigned s = 0; s < SLOTS; s++) {
        slot_io(w, s, false, buf, expect);
    }
    g_free(expect);
    ram_free(buf);
    guest_event_set(&w->done);
}

/* Start one worker per vCPU, spread over the units; wait for them. */
static unsigned run_workers(unsigned first_index)
{
    unsigned n = cpus_count();
    unsigned luns = port_lun_count();
    Worker *w = g_new0(Worker, n);
    unsigned errors = 0;

    for (unsigned i = 0; i < n; i++) {
        w[i].index = first_index + i;
        w[i].lun = i % luns;
        w[i].base = (uint64_t)(i / luns) * SLOTS * SLOT_STRIDE + 7;
        guest_event_init(&w[i].done, "worker-done", false);
        guest_thread_create(i, "worker", worker_main, &w[i]);
    }
    for (unsigned i = 0; i < n; i++) {
        guest_event_wait(&w[i].done);
        errors += w[i].errors;
    }
    g_free(w);
    return errors;
}

static void data_program(void *opaque)
{
    const RdCase *c = opaque;
    PRAMDISK_ADAPTER_EXTENSION x;
    bool scsi = strstr(c->params, "srb=scsi") != NULL;
    LONG reads, writes;

    start_port();
    x = rd_ext();
    g_assert_cmpuint(port.adapters[0]->cfg->SrbType, ==,
                     scsi ? SRB_TYPE_SCSI_REQUEST_BLOCK
                          : SRB_TYPE_STORAGE_REQUEST_BLOCK);
    g_assert_cmpuint(run_workers(0), ==, 0);

    /* Each worker: SLOTS writes and 2 * SLOTS reads. */
    writes = x->Stats.Writes;
    reads = x->Stats.Reads;
    g_assert_cmpint(writes, ==, (LONG)(cpus_count() * SLOTS));
    g_assert_cmpint(reads, ==, (LONG)(cpus_count() * 2 * SLOTS));
    /* The configured context completed the commands. */
    switch (x->CompletionMode) {
    case RamDiskCompleteInline:
        g_assert_cmpint(x->Stats.DpcCompletions, ==, 0);
        g_assert_cmpint(x->Stats.WorkItemCompletions, ==, 0);
        break;
    case RamDiskCompleteDpc:
        g_assert_cmpint(x->Stats.DpcCompletions, >=, reads + writes);
        g_assert_cmpint(x->Stats.WorkItemCompletions, ==, 0);
        break;
    case RamDiskCompleteWorkItem:
        g_assert_cmpint(x->Stats.WorkItemCompletions, >=, reads + writes);
        g_assert_cmpint(x->Stats.DpcCompletions, ==, 0);
        break;
    }
    g_assert_cmpint(x->Stats.CheckConditions, ==, 0);
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_data(gconstpointer data)
{
    run_program(data, data_program);
}

/* Same options and seed, same run: the miniport adds no host
 * non-determinism (time, randomness, addresses) to the schedule. */
static void test_deterministic(gconstpointer data)
{
    uint64_t first = run_program(data, data_program);

    g_assert_cmpuint(run_program(data, data_program), ==, first);
}

/* ---- sense data ---- */

typedef struct SenseCase {
    const char *name;
    uint8_t cdb[16];
    unsigned cdb_len;
    uint32_t len; /* data buffer */
    PortXfer dir;
    uint8_t key, asc, ascq;
} SenseCase;

#define LAST_LBA (RD_BLOCKS_16M - 1)

static const SenseCase sense_cases[] = {
    {"vendor opcode", {0xc5}, 6, 0, PORT_XFER_NONE, 5, 0x20, 0},
    {"FORMAT UNIT unsupported",
     {SCSIOP_FORMAT_UNIT},
     6,
     0,
     PORT_XFER_NONE,
     5,
     0x20,
     0},
    {"READ(10) past the end",
     {SCSIOP_READ, 0, 0, 0, 0x80, 0x00, 0, 0, 1},
     10,
     512,
     PORT_XFER_IN,
     5,
     0x21,
     0},
    {"READ(10) straddles the end",
     {SCSIOP_READ, 0, 0, 0, 0x7f, 0xff, 0, 0, 2},
     10,
     1024,
     PORT_XFER_IN,
     5,
     0x21,
     0},
    {"WRITE(16) huge LBA",
     {SCSIOP_WRITE16, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     16,
     512,
     PORT_XFER_OUT,
     5,
     0x21,
     0},
    {"READ(6) beyond capacity",
     {SCSIOP_READ6, 0x1f, 0xff, 0xff, 1},
     6,
     512,
     PORT_XFER_IN,
     5,
     0x21,
     0},
    {"READ(12) past the end",
     {SCSIOP_READ12, 0, 0, 0, 0x80, 0, 0, 0, 0, 1},
     12,
     512,
     PORT_XFER_IN,
     5,
     0x21,
     0},
    {"READ(10) RDPROTECT",
     {SCSIOP_READ, 0x20, 0, 0, 0, 0, 0, 0, 1},
     10,
     512,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"INQUIRY unknown VPD page",
     {SCSIOP_INQUIRY, 1, 0x99, 0, 255},
     6,
     255,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"INQUIRY page without EVPD",
     {SCSIOP_INQUIRY, 0, 0x80, 0, 255},
     6,
     255,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"INQUIRY CmdDt",
     {SCSIOP_INQUIRY, 2, 0, 0, 255},
     6,
     255,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"READ CAPACITY(10) LBA without PMI",
     {SCSIOP_READ_CAPACITY, 0, 0, 0, 0, 1},
     10,
     8,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"SERVICE ACTION IN(16) GET LBA STATUS",
     {SCSIOP_SERVICE_ACTION_IN16, SERVICE_ACTION_GET_LBA_STATUS, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 32},
     16,
     32,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"MODE SENSE(6) unknown page",
     {SCSIOP_MODE_SENSE, 0, 0x1c, 0, 255},
     6,
     255,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"MODE SENSE(6) saved values",
     {SCSIOP_MODE_SENSE, 0, 0xc8, 0, 255},
     6,
     255,
     PORT_XFER_IN,
     5,
     0x39,
     0},
    {"MODE SENSE(10) subpage",
     {SCSIOP_MODE_SENSE10, 0, 0x08, 1, 0, 0, 0, 0, 255},
     10,
     255,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"REPORT LUNS allocation 15",
     {SCSIOP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 15},
     12,
     15,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"REPORT LUNS select 3",
     {SCSIOP_REPORT_LUNS, 0, 3, 0, 0, 0, 0, 0, 0x10, 0},
     12,
     4096,
     PORT_XFER_IN,
     5,
     0x24,
     0},
    {"START STOP UNIT eject",
     {SCSIOP_START_STOP_UNIT, 0, 0, 0, 2},
     6,
     0,
     PORT_XFER_NONE,
     5,
     0x24,
     0},
    {"UNMAP anchored",
     {SCSIOP_UNMAP, 1, 0, 0, 0, 0, 0, 0, 24},
     10,
     24,
     PORT_XFER_OUT,
     5,
     0x24,
     0},
    {"UNMAP short parameter list",
     {SCSIOP_UNMAP, 0, 0, 0, 0, 0, 0, 0, 4},
     10,
     4,
     PORT_XFER_OUT,
     5,
     0x1a,
     0},
    {"VERIFY(10) BYTCHK 2",
     {SCSIOP_VERIFY, 4, 0, 0, 0, 0, 0, 0, 1},
     10,
     512,
     PORT_XFER_OUT,
     5,
     0x24,
     0},
    {"VERIFY(16) past the end",
     {SCSIOP_VERIFY16, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 1},
     16,
     0,
     PORT_XFER_NONE,
     5,
     0x21,
     0},
    {"SYNCHRONIZE CACHE(10) past the end",
     {SCSIOP_SYNCHRONIZE_CACHE, 0, 0, 0, 0x80, 1},
     10,
     0,
     PORT_XFER_NONE,
     5,
     0x21,
     0},
    /* The buffer holds 0xa5 bytes, block 100 holds zeros. */
    {"VERIFY(10) BYTCHK 1 miscompare",
     {SCSIOP_VERIFY, 2, 0, 0, 0, 100, 0, 0, 1},
     10,
     512,
     PORT_XFER_OUT,
     0x0e,
     0x1d,
     0},
};

static void check_sense(PortRequest *req, uint8_t key, uint8_t asc,
                        uint8_t ascq, const char *what)
{
    unsigned len;
    const uint8_t *sense = port_request_sense(req, &len);

    if (port_request_srb_status(req) !=
            (SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID) ||
        port_request_scsi_status(req) != SCSISTAT_CHECK_CONDITION ||
        len != 18 || sense[0] != 0x70 || (sense[2] & 0xf) != key ||
        sense[7] != 10 || sense[12] != asc || sense[13] != ascq ||
        port_request_transferred(req) != 0) {
        g_error("%s: srb 0x%02x scsi 0x%02x sense len %u key %x asc %02x "
                "ascq %02x, expected key %x asc %02x ascq %02x",
                what, port_request_srb_status(req),
                port_request_scsi_status(req), len, len ? sense[2] & 0xf : 0,
                len > 12 ? sense[12] : 0, len > 13 ? sense[13] : 0, key, asc,
                ascq);
    }
}

static void sense_program(void *opaque)
{
    uint8_t *buf = ram_alloc(4096, 16, 0, "buf");
    PortRequest *req;
    uint8_t tur[6] = {SCSIOP_TEST_UNIT_READY};
    uint8_t ssu[6] = {SCSIOP_START_STOP_UNIT};
    uint8_t inq[6] = {SCSIOP_INQUIRY, 0, 0, 0, 36};
    uint8_t rd[10] = {SCSIOP_READ, 0, 0, 0, 0, 0, 0, 0, 1};
    unsigned len;

    start_port();
    req = port_request_new(port_lun_at(0));
    for (unsigned i = 0; i < G_N_ELEMENTS(sense_cases); i++) {
        const SenseCase *s = &sense_cases[i];
        memset(buf, 0xa5, 4096);
        exec(req, s->cdb, s->cdb_len, s->len ? buf : NULL, s->len, s->dir);
        check_sense(req, s->key, s->asc, s->ascq, s->name);
    }
    g_assert_cmpint(rd_ext()->Stats.CheckConditions, ==,
                    (LONG)G_N_ELEMENTS(sense_cases));

    /* STOP UNIT: medium commands answer NOT READY, INITIALIZING COMMAND
     * REQUIRED until START UNIT; INQUIRY keeps working. */
    g_assert_cmpuint(exec(req, ssu, 6, NULL, 0, PORT_XFER_NONE), ==,
                     SRB_STATUS_SUCCESS);
    exec(req, tur, 6, NULL, 0, PORT_XFER_NONE);
    check_sense(req, SCSI_SENSE_NOT_READY, 0x04, 0x02, "TUR while stopped");
    exec(req, rd, 10, buf, 512, PORT_XFER_IN);
    check_sense(req, SCSI_SENSE_NOT_READY, 0x04, 0x02, "READ while stopped");
    g_assert_cmpuint(exec(req, inq, 6, buf, 36, PORT_XFER_IN), ==,
                     SRB_STATUS_SUCCESS);
    ssu[4] = 1; /* START */
    g_assert_cmpuint(exec(req, ssu, 6, NULL, 0, PORT_XFER_NONE), ==,
                     SRB_STATUS_SUCCESS);
    g_assert_cmpuint(exec(req, tur, 6, NULL, 0, PORT_XFER_NONE), ==,
                     SRB_STATUS_SUCCESS);
    g_assert_cmpuint(port_request_scsi_status(req), ==, SCSISTAT_GOOD);

    /* Autosense disabled: CHECK CONDITION without sense data. */
    port_request_scsi(req, sense_cases[0].cdb, 6, NULL, 0, PORT_XFER_NONE, 0);
    SrbSetSrbFlags(req->srb, SRB_FLAGS_DISABLE_AUTOSENSE);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_ERROR);
    g_assert_cmpuint(port_request_scsi_status(req), ==,
                     SCSISTAT_CHECK_CONDITION);
    (void)port_request_sense(req, &len);
    g_assert_cmpuint(len, ==, 0);

    /* A short sense buffer gets the first bytes only. */
    port_request_scsi(req, sense_cases[0].cdb, 6, NULL, 0, PORT_XFER_NONE, 0);
    SrbSetSenseInfoBufferLength(req->srb, 8);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==,
                     SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
    g_assert_cmpuint(port_request_sense(req, &len)[0], ==, 0x70);
    g_assert_cmpuint(len, ==, 8);

    /* REQUEST SENSE: nothing pending with autosense. */
    {
        uint8_t rs[6] = {SCSIOP_REQUEST_SENSE, 0, 0, 0, 18};
        g_assert_cmpuint(exec(req, rs, 6, buf, 18, PORT_XFER_IN), ==,
                         SRB_STATUS_SUCCESS);
        g_assert_cmpuint(buf[0], ==, 0x70);
        g_assert_cmpuint(buf[2], ==, SCSI_SENSE_NO_SENSE);
    }
    port_request_free(req);
    ram_free(buf);
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_sense(gconstpointer data)
{
    run_program(data, sense_program);
}

/* ---- residuals and command data ---- */

typedef struct ResidCase {
    const char *name;
    uint8_t cdb[16];
    unsigned cdb_len;
    uint32_t len;
    PortXfer dir;
    uint8_t status;
    uint32_t transferred;
} ResidCase;

static const ResidCase resid_cases[] = {
    {"READ(10) one block into 4 KiB",
     {SCSIOP_READ, 0, 0, 0, 0, 0, 0, 0, 1},
     10,
     4096,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     512},
    {"READ(10) 8 blocks into 2 KiB",
     {SCSIOP_READ, 0, 0, 0, 0, 0, 0, 0, 8},
     10,
     2048,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     2048},
    {"READ(10) 8 blocks exact",
     {SCSIOP_READ, 0, 0, 0, 0, 0, 0, 0, 8},
     10,
     4096,
     PORT_XFER_IN,
     SRB_STATUS_SUCCESS,
     4096},
    {"READ(10) zero blocks",
     {SCSIOP_READ, 0, 0, 0, 0, 0, 0, 0, 0},
     10,
     0,
     PORT_XFER_NONE,
     SRB_STATUS_SUCCESS,
     0},
    {"WRITE(10) 2 blocks from 1.5",
     {SCSIOP_WRITE, 0, 0, 0, 0, 50, 0, 0, 2},
     10,
     768,
     PORT_XFER_OUT,
     SRB_STATUS_DATA_OVERRUN,
     512},
    {"INQUIRY 36 of 255",
     {SCSIOP_INQUIRY, 0, 0, 0, 255},
     6,
     255,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     36},
    {"INQUIRY exact 36",
     {SCSIOP_INQUIRY, 0, 0, 0, 36},
     6,
     36,
     PORT_XFER_IN,
     SRB_STATUS_SUCCESS,
     36},
    {"INQUIRY allocation 16",
     {SCSIOP_INQUIRY, 0, 0, 0, 16},
     6,
     96,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     16},
    {"MODE SENSE(6) all pages",
     {SCSIOP_MODE_SENSE, 0, 0x3f, 0, 255},
     6,
     255,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     4 + 8 + 20 + 12},
    {"MODE SENSE(10) caching, no block descriptor",
     {SCSIOP_MODE_SENSE10, 8, 0x08, 0, 0, 0, 0, 1, 0},
     10,
     256,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     8 + 20},
    {"MODE SENSE(6) cut by allocation length",
     {SCSIOP_MODE_SENSE, 8, 0x08, 0, 8},
     6,
     8,
     PORT_XFER_IN,
     SRB_STATUS_SUCCESS,
     8},
    {"READ CAPACITY(16) 12 bytes",
     {SCSIOP_READ_CAPACITY16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12},
     16,
     12,
     PORT_XFER_IN,
     SRB_STATUS_SUCCESS,
     12},
    {"REPORT LUNS",
     {SCSIOP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0x10, 0},
     12,
     4096,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     8 + 8 * 2},
    {"REPORT LUNS well-known only",
     {SCSIOP_REPORT_LUNS, 0, 1, 0, 0, 0, 0, 0, 0, 16},
     12,
     16,
     PORT_XFER_IN,
     SRB_STATUS_DATA_OVERRUN,
     8},
    {"TEST UNIT READY",
     {SCSIOP_TEST_UNIT_READY},
     6,
     0,
     PORT_XFER_NONE,
     SRB_STATUS_SUCCESS,
     0},
    {"START UNIT power condition",
     {SCSIOP_START_STOP_UNIT, 0, 0, 0, 0x30},
     6,
     0,
     PORT_XFER_NONE,
     SRB_STATUS_SUCCESS,
     0},
    {"SYNCHRONIZE CACHE(16) all",
     {SCSIOP_SYNCHRONIZE_CACHE16},
     16,
     0,
     PORT_XFER_NONE,
     SRB_STATUS_SUCCESS,
     0},
    {"VERIFY(10) range only",
     {SCSIOP_VERIFY, 0, 0, 0, 0, 0, 0, 0, 64},
     10,
     0,
     PORT_XFER_NONE,
     SRB_STATUS_SUCCESS,
     0},
};

static void resid_program(void *opaque)
{
    uint8_t *buf = ram_alloc(4096, 16, 0, "buf");
    PortRequest *req;

    start_port();
    g_assert_cmpuint(port_lun_count(), ==, 2);
    req = port_request_new(port_lun_at(0));
    for (unsigned i = 0; i < G_N_ELEMENTS(resid_cases); i++) {
        const ResidCase *r = &resid_cases[i];
        uint8_t st =
            exec(req, r->cdb, r->cdb_len, r->len ? buf : NULL, r->len, r->dir);
        if (st != r->status ||
            port_request_transferred(req) != r->transferred) {
            g_error("%s: status 0x%02x transferred %u, expected 0x%02x %u",
                    r->name, st, port_request_transferred(req), r->status,
                    r->transferred);
        }
    }
    /* The MODE SENSE header counts the data it could not return. */
    {
        uint8_t ms[6] = {SCSIOP_MODE_SENSE, 0, 0x3f, 0, 4};
        exec(req, ms, 6, buf, 4, PORT_XFER_IN);
        g_assert_cmpuint(buf[0], ==, 4 + 8 + 20 + 12 - 1);
        g_assert_cmpuint(buf[2], ==, MODE_DSP_FUA_SUPPORTED);
        g_assert_cmpuint(buf[3], ==, 8);
    }
    port_request_free(req);
    ram_free(buf);
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_resid(gconstpointer data)
{
    run_program(data, resid_program);
}

/* ---- UNMAP, VERIFY, SYNCHRONIZE CACHE on data ---- */

static void unmap_program(void *opaque)
{
    PortLu *lu;
    PortRequest *req;
    uint8_t *buf = ram_alloc(64 * 512, 16, 0, "buf");
    uint8_t *expect = g_malloc(64 * 512);
    uint8_t *list = ram_alloc(8 + 16 * 3, 16, 0, "unmap-list");
    uint8_t unmap[10] = {SCSIOP_UNMAP};
    uint8_t verify[16] = {SCSIOP_VERIFY16, 2};
    uint8_t sync10[10] = {SCSIOP_SYNCHRONIZE_CACHE};
    PRAMDISK_ADAPTER_EXTENSION x;

    start_port();
    x = rd_ext();
    lu = port_lun_at(0);
    req = port_request_new(lu);

    pattern(expect, 0, 1000, 64, 7);
    memcpy(buf, expect, 64 * 512);
    g_assert_cmpuint(rw(lu, true, 10, 1000, 64, buf), ==, SRB_STATUS_SUCCESS);

    /* VERIFY with BYTCHK=1 against the same data passes. */
    put_be(verify + 2, 1000, 8);
    put_be(verify + 10, 64, 4);
    g_assert_cmpuint(exec(req, verify, 16, buf, 64 * 512, PORT_XFER_OUT), ==,
                     SRB_STATUS_SUCCESS);
    /* BYTCHK=3: one block against each; block 1000 vs 1000..1000 passes,
     * against 1000..1001 it miscompares. */
    verify[1] = 6;
    put_be(verify + 10, 1, 4);
    g_assert_cmpuint(exec(req, verify, 16, buf, 512, PORT_XFER_OUT), ==,
                     SRB_STATUS_SUCCESS);
    put_be(verify + 10, 2, 4);
    exec(req, verify, 16, buf, 512, PORT_XFER_OUT);
    check_sense(req, SCSI_SENSE_MISCOMPARE, 0x1d, 0, "VERIFY BYTCHK 3");

    /* UNMAP blocks 1010..1019 and 1050..1051, then the end of the disk. */
    memset(list, 0, 8 + 16 * 3);
    put_be(list, 6 + 16 * 3, 2);
    put_be(list + 2, 16 * 3, 2);
    put_be(list + 8, 1010, 8);
    put_be(list + 16, 10, 4);
    put_be(list + 24, 1050, 8);
    put_be(list + 32, 2, 4);
    put_be(list + 40, RD_BLOCKS_16M - 1, 8);
    put_be(list + 48, 1, 4);
    put_be(unmap + 7, 8 + 16 * 3, 2);
    g_assert_cmpuint(exec(req, unmap, 10, list, 8 + 16 * 3, PORT_XFER_OUT), ==,
                     SRB_STATUS_SUCCESS);
    g_assert_cmpint(x->Stats.Unmaps, ==, 1);
    memset(expect + 10 * 512, 0, 10 * 512);
    memset(expect + 50 * 512, 0, 2 * 512);
    g_assert_cmpuint(rw(lu, false, 16, 1000, 64, buf), ==, SRB_STATUS_SUCCESS);
    g_assert_cmpmem(buf, 64 * 512, expect, 64 * 512);

    /* A range past the end fails the whole list: nothing is unmapped. */
    put_be(list + 40, RD_BLOCKS_16M - 1, 8);
    put_be(list + 48, 2, 4);
    put_be(list + 8, 1020, 8);
    exec(req, unmap, 10, list, 8 + 16 * 3, PORT_XFER_OUT);
    check_sense(req, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0, "UNMAP past end");
    g_assert_cmpuint(rw(lu, false, 16, 1000, 64, buf), ==, SRB_STATUS_SUCCESS);
    g_assert_cmpmem(buf, 64 * 512, expect, 64 * 512);

    /* More descriptors than VPD B0h allows. */
    put_be(unmap + 7, 8 + 16 * (RAMDISK_MAX_UNMAP_DESCRIPTORS + 1), 2);
    {
        uint32_t n = 8 + 16 * (RAMDISK_MAX_UNMAP_DESCRIPTORS + 1);
        uint8_t *big = ram_alloc(n, 16, 0, "big-list");
        put_be(big + 2, n - 8, 2);
        exec(req, unmap, 10, big, n, PORT_XFER_OUT);
        check_sense(req, SCSI_SENSE_ILLEGAL_REQUEST, 0x26, 0,
                    "UNMAP too many descriptors");
        ram_free(big);
    }

    /* SYNCHRONIZE CACHE(10) over a range and to the end. */
    put_be(sync10 + 2, 1000, 4);
    put_be(sync10 + 7, 64, 2);
    g_assert_cmpuint(exec(req, sync10, 10, NULL, 0, PORT_XFER_NONE), ==,
                     SRB_STATUS_SUCCESS);
    put_be(sync10 + 7, 0, 2);
    g_assert_cmpuint(exec(req, sync10, 10, NULL, 0, PORT_XFER_NONE), ==,
                     SRB_STATUS_SUCCESS);
    g_assert_cmpint(x->Stats.SyncCaches, ==, 2);

    /* SRB functions the port sends on its own. */
    port_request_function(req, SRB_FUNCTION_RESET_LOGICAL_UNIT);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_SUCCESS);
    port_request_function(req, SRB_FUNCTION_RESET_DEVICE);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_SUCCESS);
    port_request_function(req, SRB_FUNCTION_RESET_BUS);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_SUCCESS);
    g_assert_cmpint(x->Stats.LunResets, ==, 3);
    port_request_function(req, SRB_FUNCTION_FLUSH);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==, SRB_STATUS_SUCCESS);
    port_request_function(req, SRB_FUNCTION_IO_CONTROL);
    port_execute(req);
    g_assert_cmpuint(port_request_srb_status(req), ==,
                     SRB_STATUS_INVALID_REQUEST);

    port_request_free(req);
    ram_free(list);
    ram_free(buf);
    g_free(expect);
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_unmap(gconstpointer data)
{
    run_program(data, unmap_program);
}

/* ---- asynchronous batches ---- */

typedef struct Batch {
    unsigned n;
    PortRequest **req;
    uint8_t **buf;
    uint64_t *lba;
    uint32_t blocks;
    unsigned done;
    unsigned callbacks; /* more than n: a request completed twice */
    GuestEvent all_done;
} Batch;

static void batch_done(PortRequest *req, void *opaque)
{
    Batch *b = opaque;

    b->callbacks++;
    if (++b->done == b->n) {
        guest_event_set(&b->all_done);
    }
}

static Batch *batch_new(PortLu *lu, unsigned n, uint32_t blocks)
{
    Batch *b = g_new0(Batch, 1);

    b->n = n;
    b->blocks = blocks;
    b->req = g_new0(PortRequest *, n);
    b->buf = g_new0(uint8_t *, n);
    b->lba = g_new0(uint64_t, n);
    for (unsigned i = 0; i < n; i++) {
        b->req[i] = port_request_new(lu);
        b->buf[i] = ram_alloc(blocks * 512, 16, 0, "batch");
    }
    guest_event_init(&b->all_done, "batch", false);
    return b;
}

static void batch_free(Batch *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        port_request_free(b->req[i]);
        ram_free(b->buf[i]);
    }
    g_free(b->req);
    g_free(b->buf);
    g_free(b->lba);
    g_free(b);
}

/* Submit writes of seed @seed at LBAs 5000 + i * 97 without waiting. */
static void batch_submit_writes(Batch *b, uint32_t seed, unsigned timeout_s)
{
    b->done = 0;
    b->callbacks = 0;
    guest_event_clear(&b->all_done);
    for (unsigned i = 0; i < b->n; i++) {
        uint8_t cdb[16];
        unsigned len;

        b->lba[i] = 5000 + (uint64_t)i * 97;
        pattern(b->buf[i], 0, b->lba[i], b->blocks, seed);
        len = cdb_rw(cdb, true, 16, b->lba[i], b->blocks);
        port_request_scsi(b->req[i], cdb, len, b->buf[i], b->blocks * 512,
                          PORT_XFER_OUT, timeout_s);
        port_submit(b->req[i], batch_done, b);
    }
}

static void batch_verify(Batch *b, PortLu *lu, uint32_t seed)
{
    uint8_t *buf = ram_alloc(b->blocks * 512, 16, 0, "verify");
    uint8_t *expect = g_malloc(b->blocks * 512);

    for (unsigned i = 0; i < b->n; i++) {
        pattern(expect, 0, b->lba[i], b->blocks, seed);
        g_assert_cmpuint(rw(lu, false, 10, b->lba[i], b->blocks, buf), ==,
                         SRB_STATUS_SUCCESS);
        g_assert_cmpmem(buf, b->blocks * 512, expect, b->blocks * 512);
    }
    g_free(expect);
    ram_free(buf);
}

/* ---- stop / hibernate / restart with I/O in flight ---- */

static void power_program(void *opaque)
{
    g_autoptr(GError) err = NULL;
    PRAMDISK_ADAPTER_EXTENSION x;
    PortLu *lu;
    Batch *b;
    unsigned cycles = 0;

    start_port();
    x = rd_ext();
    lu = port_lun_at(0);
    b = batch_new(lu, 16, 8);

    for (unsigned round = 0; round < 2; round++) {
        PortPowerAction action = round ? PORT_POWER_HIBERNATE : PORT_POWER_STOP;
        uint32_t seed = 40 + round;

        /* In flight when the stop arrives: the port drains them first. */
        batch_submit_writes(b, seed, 0);
        g_assert_true(port_power(action, &err));
        g_assert_no_error(err);
        cycles++;
        g_assert_cmpuint(b->done, ==, b->n);
        g_assert_cmpuint(b->callbacks, ==, b->n);
        for (unsigned i = 0; i < b->n; i++) {
            g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                             SRB_STATUS_SUCCESS);
        }
        g_assert_true(x->Stopped);
        g_assert_cmpint(x->Stats.Stops, ==, (LONG)cycles);
        /* Requests submitted while stopped wait for the restart. */
        batch_submit_writes(b, seed + 10, 0);
        guest_sleep(NS_PER_MS);
        g_assert_cmpuint(b->done, ==, 0);
        g_assert_cmpint(x->Stats.Writes, ==, (LONG)(b->n * (2 * round + 1)));
        g_assert_true(port_power(PORT_POWER_RESUME, &err));
        g_assert_no_error(err);
        g_assert_false(x->Stopped);
        g_assert_cmpint(x->Stats.Restarts, ==, (LONG)cycles);
        guest_event_wait(&b->all_done);
        for (unsigned i = 0; i < b->n; i++) {
            g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                             SRB_STATUS_SUCCESS);
        }
        batch_verify(b, lu, seed + 10);
    }
    batch_free(b);

    /* The other vCPUs keep doing I/O across one more stop and restart. */
    {
        unsigned n = cpus_count();
        Worker *w = g_new0(Worker, n);
        for (unsigned i = 1; i < n; i++) {
            w[i].index = 50 + i;
            w[i].lun = 0;
            w[i].base = 20000 + (uint64_t)i * SLOTS * SLOT_STRIDE;
            guest_event_init(&w[i].done, "worker-done", false);
            guest_thread_create(i, "worker", worker_main, &w[i]);
        }
        guest_sleep(200 * NS_PER_US);
        g_assert_true(port_power(PORT_POWER_STOP, &err));
        guest_sleep(NS_PER_MS);
        g_assert_true(port_power(PORT_POWER_RESUME, &err));
        for (unsigned i = 1; i < n; i++) {
            guest_event_wait(&w[i].done);
            g_assert_cmpuint(w[i].errors, ==, 0);
        }
        g_free(w);
    }
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_power(gconstpointer data)
{
    run_program(data, power_program);
}

/* ---- bus reset ---- */

/*
 * Requests queued for the DPC or work item when HwStorResetBus runs all
 * complete with SRB_STATUS_BUS_RESET, once. Submitting at DISPATCH_LEVEL
 * keeps this vCPU's DPC and the worker thread (also on vCPU 0) from
 * running until the reset is done.
 */
static void reset_queued_program(void *opaque)
{
    PRAMDISK_ADAPTER_EXTENSION x;
    PortLu *lu;
    Batch *b;
    KIRQL old;

    start_port();
    x = rd_ext();
    lu = port_lun_at(0);
    b = batch_new(lu, 6, 4);

    old = cpu_raise_level(DISPATCH_LEVEL);
    batch_submit_writes(b, 1, 0);
    g_assert_cmpuint(x->Queued, ==, b->n);
    g_assert_true(mp_reset_bus(port.adapters[0], 0));
    g_assert_cmpuint(x->Queued, ==, 0);
    cpu_lower_level(old);
    guest_event_wait(&b->all_done);
    g_assert_cmpuint(b->callbacks, ==, b->n);
    for (unsigned i = 0; i < b->n; i++) {
        g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                         SRB_STATUS_BUS_RESET);
    }
    g_assert_cmpint(x->Stats.BusResets, ==, 1);
    g_assert_cmpint(x->Stats.ResetCompletions, ==, 1);

    /* The adapter works on after the reset. */
    batch_submit_writes(b, 2, 0);
    guest_event_wait(&b->all_done);
    for (unsigned i = 0; i < b->n; i++) {
        g_assert_cmpuint(port_request_srb_status(b->req[i]), ==,
                         SRB_STATUS_SUCCESS);
    }
    batch_verify(b, lu, 2);
    batch_free(b);
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_reset_queued(gconstpointer data)
{
    run_program(data, reset_queued_program);
}

/*
 * A real time-out: with delay=1500000 the work item spends 1.5 s on each
 * request, the SRBs time out after 1 s, the port calls HwStorResetBus
 * while the work item is inside a request, the reset waits for it, then
 * completes the rest with BUS_RESET. Every request completes exactly once.
 */
static void reset_timeout_program(void *opaque)
{
    PRAMDISK_ADAPTER_EXTENSION x;
    PortLu *lu;
    Batch *b;
    unsigned ok = 0, reset = 0;
    PortStats st;

    start_port();
    x = rd_ext();
    lu = port_lun_at(0);
    b = batch_new(lu, 4, 2);
    batch_submit_writes(b, 3, 1);
    guest_event_wait(&b->all_done);
    g_assert_cmpuint(b->callbacks, ==, b->n);
    for (unsigned i = 0; i < b->n; i++) {
        uint8_t s = port_request_srb_status(b->req[i]);
        if (s == SRB_STATUS_SUCCESS) {
            ok++;
        } else if (s == SRB_STATUS_BUS_RESET) {
            reset++;
        } else {
            g_error("request %u: status 0x%02x", i, s);
        }
    }
    /* The one inside the work item finished; the queued ones were reset. */
    g_assert_cmpuint(ok, ==, 1);
    g_assert_cmpuint(reset, ==, b->n - 1);
    g_assert_cmpint(x->Stats.BusResets, ==, 1);
    g_assert_cmpint(x->Stats.ResetCompletions, ==, 1);
    g_assert_false(x->ResetPending);
    port_stats(&st);
    g_assert_cmpuint(st.resets, ==, 1);
    g_assert_cmpuint(st.timeouts, ==, 0);
    batch_free(b);
    shutdown_and_check();
    machine_request_stop(0);
}

static void test_reset_timeout(gconstpointer data)
{
    run_program(data, reset_timeout_program);
}

/* ---- parameters ---- */

typedef struct BadParam {
    const char *params;
} BadParam;

static const char *const bad_params[] = {
    "ramdisk,param.size=1K",
    "ramdisk,param.size=3G",
    "ramdisk,param.size=12Q",
    "ramdisk,param.size=",
    "ramdisk,param.size=0x",
    "ramdisk,param.size=99999999999999999999999",
    "ramdisk,param.luns=0",
    "ramdisk,param.luns=9",
    "ramdisk,param.luns=two",
    "ramdisk,param.completion=irq",
    "ramdisk,param.delay=20000000",
    "ramdisk,param.srb=big",
    "ramdisk,param.completion=workitemworkitemworkitemworkitem0",
};

static void bad_param_program(void *opaque)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(port_start(&err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "SP_RETURN_BAD_CONFIG"));
    g_assert_cmpuint(port_lun_count(), ==, 0);
    machine_request_stop(0);
}

static void test_bad_params(void)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(bad_params); i++) {
        RdCase c = {"", bad_params[i], 1, SCHED_POLICY_FIFO, 0};
        run_program(&c, bad_param_program);
    }
}

/* ---- case tables ---- */

typedef struct Sched {
    const char *name;
    unsigned smp;
    SchedPolicy policy;
    uint64_t seed;
} Sched;

static const Sched scheds[] = {
    {"fifo-2", 2, SCHED_POLICY_FIFO, 0},
    {"random-2-s1", 2, SCHED_POLICY_RANDOM, 1},
    {"random-3-s2", 3, SCHED_POLICY_RANDOM, 2},
    {"random-4-s3", 4, SCHED_POLICY_RANDOM, 3},
    {"pct-3-s4", 3, SCHED_POLICY_PCT, 4},
};

static const char *const modes[] = {"inline", "dpc", "workitem"};
static const char *const srbs[] = {"storage", "scsi"};

static GPtrArray *cases;

static const RdCase *add_case(const char *path, const char *params,
                              const Sched *s)
{
    RdCase *c = g_new0(RdCase, 1);

    c->path = g_strdup(path);
    c->params = g_strdup(params);
    c->smp = s->smp;
    c->policy = s->policy;
    c->seed = s->seed;
    g_ptr_array_add(cases, c);
    return c;
}

static void free_case(gpointer p)
{
    RdCase *c = p;

    g_free((char *)c->path);
    g_free((char *)c->params);
    g_free(c);
}

static void add_matrix(const char *name, const char *extra, GTestDataFunc fn,
                       bool all_scheds)
{
    for (unsigned m = 0; m < G_N_ELEMENTS(modes); m++) {
        for (unsigned k = 0; k < G_N_ELEMENTS(srbs); k++) {
            for (unsigned s = 0; s < G_N_ELEMENTS(scheds); s++) {
                g_autofree char *path = NULL;
                g_autofree char *params = NULL;
                const RdCase *c;

                if (!all_scheds && s != 0 && s != 3) {
                    continue;
                }
                path = g_strdup_printf("/miniport/ramdisk/%s/%s/%s/%s", name,
                                       modes[m], srbs[k], scheds[s].name);
                params = g_strdup_printf("ramdisk,param.completion=%s,"
                                         "param.srb=%s%s",
                                         modes[m], srbs[k], extra);
                c = add_case(path, params, &scheds[s]);
                g_test_add_data_func(c->path, c, fn);
            }
        }
    }
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        const char *params;
    } enum_cases[] = {
        {"default", "ramdisk"},
        {"luns-2", "ramdisk,param.luns=2,param.size=4M"},
        {"luns-8", "ramdisk,param.luns=8,param.size=1M"},
        {"size-hex", "ramdisk,param.size=0x100000"},
        {"size-k", "ramdisk,param.size=640k,param.srb=scsi"},
        {"size-odd", "ramdisk,param.size=100000"},
    };
    int rc;

    g_test_init(&argc, &argv, NULL);
    cases = g_ptr_array_new_with_free_func(free_case);

    for (unsigned i = 0; i < G_N_ELEMENTS(enum_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/miniport/ramdisk/enumerate/%s", enum_cases[i].name);
        const RdCase *c = add_case(path, enum_cases[i].params, &scheds[0]);
        g_test_add_data_func(c->path, c, test_enumerate);
    }
    add_matrix("data", ",param.luns=2", test_data, true);
    add_matrix("sense", "", test_sense, false);
    add_matrix("resid", ",param.luns=2", test_resid, false);
    add_matrix("unmap", "", test_unmap, false);
    add_matrix("power", ",param.delay=50,param.size=32M", test_power, true);
    for (unsigned m = 1; m < G_N_ELEMENTS(modes); m++) {
        for (unsigned s = 0; s < G_N_ELEMENTS(scheds); s += 3) {
            g_autofree char *path =
                g_strdup_printf("/miniport/ramdisk/reset-queued/%s/%s",
                                modes[m], scheds[s].name);
            g_autofree char *params =
                g_strdup_printf("ramdisk,param.completion=%s", modes[m]);
            const RdCase *c = add_case(path, params, &scheds[s]);
            g_test_add_data_func(c->path, c, test_reset_queued);
        }
    }
    for (unsigned s = 0; s < G_N_ELEMENTS(scheds); s++) {
        g_autofree char *path = g_strdup_printf(
            "/miniport/ramdisk/reset-timeout/workitem/%s", scheds[s].name);
        const RdCase *c = add_case(
            path, "ramdisk,param.completion=workitem,param.delay=1500000",
            &scheds[s]);
        g_test_add_data_func(c->path, c, test_reset_timeout);
    }
    for (unsigned m = 0; m < G_N_ELEMENTS(modes); m++) {
        g_autofree char *path =
            g_strdup_printf("/miniport/ramdisk/deterministic/%s", modes[m]);
        g_autofree char *params = g_strdup_printf(
            "ramdisk,param.completion=%s,param.luns=2", modes[m]);
        const RdCase *c = add_case(path, params, &scheds[3]);
        g_test_add_data_func(c->path, c, test_deterministic);
    }
    g_test_add_func("/miniport/ramdisk/bad-params", test_bad_params);
    rc = g_test_run();
    g_ptr_array_free(cases, TRUE);
    return rc;
}
