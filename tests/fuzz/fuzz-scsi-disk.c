/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the SCSI bus and the scsi-hd target: arbitrary
 * CDBs, CDB lengths, directions, task attributes, initiators, addresses
 * and scatter-gather lists (including elements outside guest RAM), mixed
 * with virtual time passing, aborts, task management, injected backend
 * errors and power cuts, against a disk on a small temporary image.
 *
 * Every input starts from a fresh machine (event loop, bus, disk, image),
 * so a crash reproduces from its input alone. The I/O engine is the
 * synchronous one: deterministic and free of threads.
 *
 * Input: a stream of actions, each introduced by one byte (see below);
 * running out of bytes ends the input, after which every request is run
 * to completion and everything is torn down (leaks are findings too).
 *
 * Build and run: make fuzz; build/fuzz/fuzz-scsi-disk
 * tests/fuzz/corpus/scsi-disk -max_total_time=600
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "hw/block/aio.h"
#include "hw/block/block.h"
#include "hw/core/ram.h"
#include "hw/scsi/scsi-bus.h"
#include "hw/scsi/scsi-disk.h"
#include "system/event.h"

#define FUZZ_RAM          (4ULL << 20)
#define FUZZ_IMG          (1ULL << 20)
#define FUZZ_MAX_INFLIGHT 16
#define FUZZ_DATA_GPA     (256 * 1024) /* where fill actions write */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

static bool take(Input *in, void *out, size_t n)
{
    if (in->left < n) {
        return false;
    }
    memcpy(out, in->p, n);
    in->p += n;
    in->left -= n;
    return true;
}

static uint8_t take8(Input *in)
{
    uint8_t v = 0;

    take(in, &v, 1);
    return v;
}

static uint32_t take16(Input *in)
{
    uint8_t b[2] = {0, 0};

    take(in, b, 2);
    return b[0] | b[1] << 8;
}

static GPtrArray *inflight;

static void fuzz_complete(SCSIRequest *req, void *opaque)
{
    /* Outcome sanity: what the bus promises. */
    g_assert(!req->in_flight);
    g_assert(req->sense_len <= SCSI_SENSE_MAX);
    g_assert(req->transferred <= req->sg_len || req->dir == SCSI_XFER_NONE);
    if (req->status == SCSI_STATUS_CHECK_CONDITION) {
        SCSISenseInfo si;
        g_assert(scsi_sense_parse(req->sense, req->sense_len, &si));
    }
    g_ptr_array_remove(inflight, req);
    scsi_req_free(req);
}

static const SCSIBusOps fuzz_ops = {
    .complete = fuzz_complete,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    bool ok = ram_init(FUZZ_RAM, NULL);

    ok = ok && aio_set_engine(AIO_ENGINE_SYNC, NULL);
    g_assert(ok);
    inflight = g_ptr_array_new();
    return 0;
}

static void step_events(void)
{
    if (event_advance_to_next()) {
        event_run_due();
    }
}

static void submit_one(Input *in, SCSIBus *bus)
{
    uint8_t cdb[SCSI_CDB_MAX] = {0};
    DmaSgEntry sg[4];
    uint8_t flags = take8(in);
    uint8_t addr = take8(in);
    unsigned cdb_len = take8(in) % (SCSI_CDB_MAX + 1);
    unsigned nsg = (flags >> 6) & 3;
    SCSICommand cmd = {
        .dir = (flags & 3) % 3,
        .attr = (flags >> 2) & 3,
        .initiator = (flags >> 4) & 3,
        /* Mostly the disk at 0:0; sometimes a missing LUN or target. */
        .target = addr & 0x80 ? (addr >> 4) & 3 : 0,
        .lun = addr & 0x40 ? addr & 0x0f : 0,
        .tag = in->left,
        .cdb = cdb,
        .sg = sg,
    };

    for (unsigned i = 0; i < nsg; i++) {
        uint32_t a = take16(in), l = take16(in);
        /* Addresses in 64-byte steps over RAM and a little beyond it;
         * the top value is far outside. */
        sg[i].addr = a == 0xffff ? UINT64_MAX - 100 : (uint64_t)a * 64;
        sg[i].len = l * 4 + (a & 3);
    }
    cmd.nsg = nsg;
    take(in, cdb, MIN(cdb_len, in->left));
    cmd.cdb_len = cdb_len;
    if (inflight->len < FUZZ_MAX_INFLIGHT) {
        g_ptr_array_add(inflight, scsi_req_submit(bus, &cmd, NULL));
    }
}

static void task_management(Input *in, SCSIBus *bus)
{
    uint8_t v = take8(in);
    SCSIRequest *req;

    switch (v % 8) {
    case 0:
        if (inflight->len) {
            req = g_ptr_array_index(inflight, (v >> 3) % inflight->len);
            scsi_req_cancel(req);
        }
        break;
    case 1:
        if (inflight->len) {
            req = g_ptr_array_index(inflight, (v >> 3) % inflight->len);
            scsi_bus_tmf(bus, SCSI_TMF_ABORT_TASK, req->target, req->lun,
                         req->tag, req->initiator);
        }
        break;
    default:
        scsi_bus_tmf(bus, (SCSITmf)(v % 6), (v >> 3) & 1, (v >> 4) & 1, v,
                     (v >> 5) & 3);
        break;
    case 7:
        scsi_bus_reset(bus);
        break;
    }
}

static void backend_action(Input *in, BlockBackend *blk)
{
    uint8_t v = take8(in);
    static const int errs[] = {5 /* EIO */, 28 /* ENOSPC */, 122, 30};

    switch (v % 4) {
    case 0:
        blk_inject_error(blk, errs[(v >> 2) & 3], (v >> 4) & 0x1f,
                         (uint64_t)take16(in) * 512, take16(in) * 512,
                         (v >> 6) + 1);
        break;
    case 1:
        blk_clear_injected_errors(blk);
        break;
    case 2:
        blk_power_cut(blk);
        break;
    case 3:
        blk_set_cache_limit(blk, (uint64_t)(v >> 2) * 4096);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = {data, size};
    SCSIDiskProps props = SCSI_DISK_PROPS_DEFAULT;
    uint8_t setup = take8(&in);
    BlockBackend *blk;
    SCSIDiskState *disk;
    SCSIBus *bus;

    event_loop_init();
    memset(ram_base, 0, FUZZ_RAM);
    bus = scsi_bus_new("hba0", &fuzz_ops, NULL, NULL);
    blk = blk_new_temp(FUZZ_IMG, setup & 0x04 ? BLK_OPEN_READONLY : 0, NULL);
    g_assert(bus && blk);
    props.wce = !(setup & 0x01);
    props.logical_block_size = setup & 0x02 ? 4096 : 512;
    disk = scsi_disk_new(bus, 0, 0, blk, &props, NULL);
    g_assert(disk);
    if (setup & 0x08) {
        scsi_device_set_latency(scsi_disk_device(disk), 0, 0);
    }

    while (in.left > 0) {
        uint8_t action = take8(&in);

        switch (action % 8) {
        case 0:
        case 1:
        case 2:
        case 3:
            submit_one(&in, bus);
            break;
        case 4:
            step_events();
            break;
        case 5: {
            /* Parameter data for MODE SELECT, UNMAP, WRITE... */
            unsigned n = MIN((unsigned)take8(&in) * 2, in.left);
            take(&in, ram_base + FUZZ_DATA_GPA + (action >> 3) * 256, n);
            break;
        }
        case 6:
            task_management(&in, bus);
            break;
        case 7:
            backend_action(&in, blk);
            break;
        }
    }
    while (event_queued()) {
        step_events();
    }
    g_assert(inflight->len == 0);
    g_assert(aio_in_flight() == 0);
    scsi_bus_free(bus); /* destroys the disk */
    blk_close(blk);
    event_loop_fini();
    return 0;
}
