/* SPDX-License-Identifier: MIT */
/*
 * Port contract: concurrent channels (StorPortInitializePerfOpts with
 * STOR_PERF_CONCURRENT_CHANNELS). The port then takes no StartIo lock and
 * may call HwStorStartIo on several processors at once; without the flag
 * a full-duplex StartIo is serialized by the StartIo lock. Guest threads
 * on every vCPU submit reads at once while StartIo stalls a little; the
 * miniport counts how many StartIo calls overlap. Run on 2 and 4 vCPUs,
 * with the FIFO scheduler and with seeded random preemption.
 */
#include <string.h>
#include <glib.h>
#include "tests/helpers/tp-port.h"

#define PER_THREAD 6

typedef struct ChannelCase {
    const char *name;
    unsigned smp;
    SchedPolicy policy;
    uint64_t seed;
    bool channels;
} ChannelCase;

static const ChannelCase cases[] = {
    {"smp2-fifo", 2, SCHED_POLICY_FIFO, 0, true},
    {"smp4-fifo", 4, SCHED_POLICY_FIFO, 0, true},
    {"smp2-random-seed1", 2, SCHED_POLICY_RANDOM, 1, true},
    {"smp2-random-seed2", 2, SCHED_POLICY_RANDOM, 2, true},
    {"smp4-random-seed3", 4, SCHED_POLICY_RANDOM, 3, true},
    {"smp4-random-seed4", 4, SCHED_POLICY_RANDOM, 4, true},
    /* The control: the StartIo lock serializes without the flag. */
    {"smp4-fifo-no-channels", 4, SCHED_POLICY_FIFO, 0, false},
    {"smp4-random-no-channels", 4, SCHED_POLICY_RANDOM, 5, false},
};

/*
 * What HwStorBuildIo and HwStorStartIo see of the port's routine stack:
 * their own routine and request on top, one deep above the caller's
 * frames (with concurrent channels the port rewrites BuildIo's frame for
 * StartIo in place; without, StartIo's lock comes between the two).
 */
static unsigned frame_checks, frame_errors;
static unsigned buildio_depth[8];

static bool frames_buildio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    frame_errors += mp_current() != MP_BUILDIO;
    frame_errors += mp_current_request() != port_request_from_srb(srb);
    frame_errors += mp_in_half_duplex_startio();
    buildio_depth[cpu_index()] = mp_depth();
    return false;
}

static bool frames_startio(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    frame_checks++;
    frame_errors += mp_current() != MP_STARTIO;
    frame_errors += mp_current_request() != port_request_from_srb(srb);
    frame_errors += mp_in_half_duplex_startio();
    frame_errors += mp_depth() != buildio_depth[cpu_index()];
    frame_errors += strcmp(mp_current_name(), "HwStorStartIo") != 0;
    return false;
}

static const TpHooks frame_hooks = {.buildio = frames_buildio,
                                    .startio = frames_startio};

static GuestEvent workers_done;
static unsigned workers_left;
static unsigned failures;

static void worker(void *opaque)
{
    TpBatch b;

    tp_batch_init(&b);
    for (unsigned i = 0; i < PER_THREAD; i++) {
        tp_batch_submit(&b, port_lun_at(0), SCSIOP_READ,
                        GPOINTER_TO_UINT(opaque) * 100 + i, 1, 0);
    }
    tp_batch_wait(&b);
    for (unsigned i = 0; i < PER_THREAD; i++) {
        failures += b.status[i] != SRB_STATUS_SUCCESS;
    }
    if (--workers_left == 0) {
        guest_event_set(&workers_done);
    }
}

static void spread_io(void *opaque)
{
    unsigned n = cpus_count();

    guest_event_init(&workers_done, "workers", false);
    workers_left = n;
    for (unsigned c = 0; c < n; c++) {
        guest_thread_create(c, "tp-worker", worker, GUINT_TO_POINTER(c));
    }
    guest_event_wait(&workers_done);
}

static void test_channels(gconstpointer data)
{
    const ChannelCase *c = data;
    TpMachine m = {
        .smp = c->smp,
        .policy = c->policy,
        .seed = c->seed,
        .preempt = 0.2,
        .verifier = VERIFIER_ON,
    };
    PortAdapter *a;
    unsigned startio_cpus = 0;

    tp_mp_defaults();
    tp_mp.channels = c->channels;
    tp_mp.startio_stall_us = 5;
    tp_mp.hooks = &frame_hooks;
    failures = 0;
    frame_checks = frame_errors = 0;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, spread_io, NULL, 10), ==, MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_OK);
    g_assert_cmpuint(failures, ==, 0);
    a = port_adapter_from_devext(tp_ext);
    g_assert_nonnull(a);
    g_assert_cmpint(a->concurrent_channels, ==, c->channels);
    for (guint i = 0; i < tp_log->len; i++) {
        TpEvent *e = tp_log_at(i);
        if (e->call != TP_STARTIO) {
            continue;
        }
        g_assert_cmpuint(e->irql, ==, DISPATCH_LEVEL);
        g_assert_cmphex(e->locks, ==, c->channels ? 0 : TP_LOCK_STARTIO);
        startio_cpus |= 1u << e->cpu;
    }
    /* Requests started on the vCPU that submitted them: all of them. */
    g_assert_cmphex(startio_cpus, ==, (1u << c->smp) - 1);
    if (c->channels) {
        g_assert_cmpuint(tp_ext->max_in_startio, >=, 2);
        g_assert_cmpuint(tp_ext->max_in_startio, <=, c->smp);
    } else {
        g_assert_cmpuint(tp_ext->max_in_startio, ==, 1);
    }
    g_assert_cmpuint(frame_checks, >=, PER_THREAD * c->smp);
    g_assert_cmpuint(frame_errors, ==, 0);
    g_assert_cmpuint(tp_verifier_total_delta(), ==, 0);
    tp_machine_down();
}

/*
 * A request started on a vCPU whose routine stack is full (a miniport
 * nesting routines without bound): BuildIo's and StartIo's pushes are
 * refused and reported, and both routines still run, each seeing the one
 * refused push (BuildIo's popped before StartIo's). The stop the report
 * asks for takes the machine down at the next yield point: inside StartIo
 * with concurrent channels, at the StartIo lock (so before StartIo)
 * without.
 */
static unsigned full_depth_calls, full_depth_errors;
static bool full_depth_armed;

/* BuildIo and StartIo alike: the refused push is all there is above the
 * full stack. */
static bool full_frames(TpExt *x, PVOID srb, BOOLEAN *ret)
{
    if (full_depth_armed) {
        full_depth_calls++;
        full_depth_errors += mp_depth() != MP_MAX_DEPTH;
        full_depth_errors += mp_stacks[cpu_index()].overflow != 1;
    }
    return false;
}

static const TpHooks full_hooks = {.buildio = full_frames,
                                   .startio = full_frames};

static void start_at_full_depth(void *opaque)
{
    TpBatch b;

    tp_batch_init(&b);
    mp_stacks[cpu_index()].depth = MP_MAX_DEPTH;
    full_depth_armed = true;
    tp_batch_submit(&b, port_lun_at(0), SCSIOP_READ, 1, 1, 0);
    full_depth_armed = false;
}

static void test_full_depth(gconstpointer data)
{
    TpMachine m = {.verifier = VERIFIER_ON};

    tp_mp_defaults();
    tp_mp.channels = GPOINTER_TO_INT(data);
    tp_mp.hooks = &full_hooks;
    full_depth_calls = full_depth_errors = 0;
    full_depth_armed = false;
    tp_machine_up(&m);
    g_assert_cmpint(tp_run(0, start_at_full_depth, NULL, 10), ==,
                    MACHINE_STOP_REQUESTED);
    g_assert_cmpint(machine_requested_exit_code(), ==, EXIT_VERIFIER);
    g_assert_cmpuint(full_depth_calls, ==, tp_mp.channels ? 2 : 1);
    g_assert_cmpuint(full_depth_errors, ==, 0);
    /* One report per refused push. */
    g_assert_cmpuint(tp_verifier_delta(VC_BAD_CALL), ==, full_depth_calls);
    tp_machine_down();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/port/channels/full-depth", GINT_TO_POINTER(1),
                         test_full_depth);
    g_test_add_data_func("/port/channels/full-depth-no-channels",
                         GINT_TO_POINTER(0), test_full_depth);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/port/channels/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], test_channels);
    }
    return g_test_run();
}
