/* SPDX-License-Identifier: MIT */
/*
 * Replay (system/replay.h), on the rr fixture (tests/helpers/rr.h) and on
 * storemu runs in-process: a recorded run replays event for event with
 * the device models (device=on) and without them (device=off); a change
 * in what the guest does is reported as a divergence with its context;
 * stop-at stops at the event; a different image is refused; a damaged
 * trace replays up to the damage; and the fixture's timing bug, found by
 * sweeping seeds, reproduces at the same event on every replay, without
 * the device too, and the fix shows up as a divergence.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include "system/machine.h"
#include "system/trace-reader.h"
#include "tests/helpers/gt-harness.h"
#include "tests/helpers/rr.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static const RrIoLoad light_load = {
    .threads = 2,
    .rounds = 20,
    .depth = 4,
    .blocks = 8,
    .writes = true,
};

/* A run the bug cannot show in: fifo, and the fix on anyway. */
static void record_clean(const char *path, RecordData data, RrOutcome *out)
{
    RrRun r = {
        .msix = 2,
        .verifier = VERIFIER_ON,
        .record = path,
        .data = data,
        .body = rr_body_io,
        .opaque = (void *)&light_load,
    };

    rr_fix = true;
    rr_run(&r, out);
    g_assert_cmpint(out->rc, ==, EXIT_OK);
    g_assert_cmpuint(out->verifier, ==, 0);
    g_assert_cmpuint(out->rec.events, ==, out->events);
    g_assert_cmpuint(out->rec.events, >, 1000);
}

static void replay_clean(const char *path, bool device_off, const RrIoLoad *l,
                         RrOutcome *out)
{
    RrRun r = {
        .msix = 2,
        .verifier = VERIFIER_ON,
        .replay = path,
        .device_off = device_off,
        .body = rr_body_io,
        .opaque = (void *)l,
    };

    rr_run(&r, out);
}

static void test_device_on(void)
{
    g_autofree char *path = tmp_path("on.trc");
    RrOutcome rec, rep;

    record_clean(path, RECORD_DATA_HASH, &rec);
    replay_clean(path, false, &light_load, &rep);
    if (!rep.replay.complete) {
        g_printerr("%s", rep.report);
    }
    g_assert_true(rep.replay.complete);
    g_assert_false(rep.replay.diverged);
    g_assert_cmpint(rep.rc, ==, EXIT_OK);
    g_assert_cmpint(rep.replay.recorded_exit, ==, EXIT_OK);
    g_assert_cmpuint(rep.replay.events, ==, rec.rec.events);
    g_assert_cmpuint(rep.vtime, ==, rec.vtime);
    g_assert_cmpuint(rep.fingerprint, ==, rec.fingerprint);
    rr_outcome_clear(&rec);
    rr_outcome_clear(&rep);
}

static void test_device_off(void)
{
    g_autofree char *path = tmp_path("off.trc");
    RrOutcome rec, rep;

    record_clean(path, RECORD_DATA_FULL, &rec);
    replay_clean(path, true, &light_load, &rep);
    if (!rep.replay.complete) {
        g_printerr("%s", rep.report);
    }
    g_assert_true(rep.replay.complete);
    g_assert_cmpint(rep.rc, ==, EXIT_OK);
    g_assert_cmpuint(rep.replay.events, ==, rec.rec.events);
    g_assert_cmpuint(rep.vtime, ==, rec.vtime);
    g_assert_cmpuint(rep.fingerprint, ==, rec.fingerprint);
    rr_outcome_clear(&rec);
    rr_outcome_clear(&rep);
}

static void test_device_off_needs_data(void)
{
    g_autofree char *path = tmp_path("off-hash.trc");
    g_autoptr(GError) err = NULL;
    ReplayOptions ro = {.path = path, .device = false, .quiet = true};
    RrOutcome rec;

    record_clean(path, RECORD_DATA_HASH, &rec);
    g_assert_false(replay_open(&ro, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "data=full"));
    g_assert_false(replay_loaded());
    rr_outcome_clear(&rec);
}

/* The guest does something else (one round more): the report says
 * where, what was expected and what happened, and what was in flight. */
static void test_divergence_report(void)
{
    g_autofree char *path = tmp_path("div.trc");
    RrIoLoad longer = light_load;
    RrIoLoad other = light_load;
    RrOutcome rec, rep;

    record_clean(path, RECORD_DATA_HASH, &rec);
    longer.rounds++;
    replay_clean(path, false, &longer, &rep);
    g_assert_true(rep.replay.diverged);
    g_assert_cmpint(rep.rc, ==, EXIT_DIVERGED);
    g_assert_nonnull(strstr(rep.report, "diverged at event"));
    /* The extra request is what the recording does not have. */
    g_assert_nonnull(strstr(rep.report, "actual:"));
    g_assert_nonnull(strstr(rep.report, "srb-start"));
    rr_outcome_clear(&rep);

    /* Writes where the recording has reads: the request annotation is
     * the first difference, with its neighbours and the requests. */
    other.writes = false;
    replay_clean(path, false, &other, &rep);
    g_assert_true(rep.replay.diverged);
    g_assert_cmpint(rep.rc, ==, EXIT_DIVERGED);
    g_assert_cmpuint(rep.replay.diverged_at, <, rec.rec.events);
    g_assert_nonnull(strstr(rep.report, "expected:"));
    g_assert_nonnull(strstr(rep.report, "actual:"));
    g_assert_nonnull(strstr(rep.report, "srb-start"));
    g_assert_nonnull(strstr(rep.report, "preceding records:"));
    g_assert_nonnull(strstr(rep.report, "requests in flight:"));
    rr_outcome_clear(&rep);
    rr_outcome_clear(&rec);
}

/*
 * DMA data that differs while everything else is the same: the digest
 * record after the run of DMAs catches it, before anything else crosses
 * the boundary. The trace is doctored (one digest flipped, its chunk
 * resealed) so that only the data seems to differ.
 */
static void test_digest_divergence(void)
{
    g_autofree char *path = tmp_path("digest.trc");
    g_autofree gchar *bytes = NULL;
    gsize len;
    uint64_t at = 0, digest_index = 0;
    unsigned seen = 0;
    size_t pos;
    RrOutcome rec, rep;

    record_clean(path, RECORD_DATA_HASH, &rec);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    {
        g_autoptr(TraceReader) r =
            trace_reader_new((const uint8_t *)bytes, len, "t", NULL);
        TraceEvent e;
        g_assert_nonnull(r);
        pos = trace_reader_header_size(r);
        while (trace_reader_next(r, &e) == TRACE_READ_EVENT) {
            if (e.type == TT_DIGEST && ++seen == 5) {
                at = trace_reader_record_offset(r);
                digest_index = e.index;
                break;
            }
        }
    }
    g_assert_cmpuint(seen, ==, 5);
    bytes[at + 1] ^= 0x40; /* the digest's low byte */
    for (;;) {
        TraceChunk c;
        g_assert_cmpuint(pos + TRACE_CHUNK_HDR, <=, len);
        g_assert_true(trace_chunk_parse((const uint8_t *)bytes + pos, &c));
        if (at < pos + TRACE_CHUNK_HDR + c.len) {
            trace_chunk_seal((uint8_t *)bytes + pos, c.len, c.base_index,
                             c.base_time);
            break;
        }
        pos += TRACE_CHUNK_HDR + c.len;
    }
    g_assert_true(g_file_set_contents(path, bytes, (gssize)len, NULL));

    replay_clean(path, false, &light_load, &rep);
    g_assert_true(rep.replay.diverged);
    g_assert_cmpint(rep.rc, ==, EXIT_DIVERGED);
    g_assert_cmpuint(rep.replay.diverged_at, ==, digest_index);
    g_assert_nonnull(strstr(rep.report, "different DMA data"));
    g_assert_nonnull(strstr(rep.report, "dma-digest"));
    rr_outcome_clear(&rep);
    rr_outcome_clear(&rec);
}

static void test_stop_at(void)
{
    g_autofree char *path = tmp_path("stop.trc");
    RrOutcome rec, rep;
    RrRun r = {
        .msix = 2,
        .verifier = VERIFIER_ON,
        .replay = path,
        .has_stop_at = true,
        .body = rr_body_io,
        .opaque = (void *)&light_load,
    };

    record_clean(path, RECORD_DATA_FULL, &rec);
    for (int off = 0; off < 2; off++) {
        r.stop_at = rec.rec.events / 2;
        r.device_off = off;
        rr_run(&r, &rep);
        g_assert_true(rep.replay.stopped_at);
        g_assert_false(rep.replay.diverged);
        g_assert_cmpint(rep.rc, ==, EXIT_OK);
        /* The report is about event N; then the replay went on. */
        g_assert_nonnull(strstr(rep.report, "reached event"));
        g_assert_true(rep.replay.complete);
        g_assert_cmpuint(rep.replay.events, ==, rec.rec.events);
        rr_outcome_clear(&rep);
    }
    rr_outcome_clear(&rec);
}

/* A trace cut short replays what it has, then says where it ends. */
static void test_damaged_trace(void)
{
    g_autofree char *path = tmp_path("cut.trc");
    g_autofree char *cut = tmp_path("cut2.trc");
    g_autofree gchar *bytes = NULL;
    gsize len;
    RrOutcome rec, rep;

    record_clean(path, RECORD_DATA_HASH, &rec);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    g_assert_true(g_file_set_contents(cut, bytes, (gssize)(len * 2 / 3), NULL));
    replay_clean(cut, false, &light_load, &rep);
    g_assert_true(rep.replay.damaged);
    g_assert_false(rep.replay.complete);
    g_assert_cmpint(rep.rc, ==, EXIT_USAGE);
    g_assert_cmpuint(rep.replay.events, >, 0);
    g_assert_cmpuint(rep.replay.events, <, rec.rec.events);
    g_assert_nonnull(strstr(rep.report, "truncated at byte"));
    rr_outcome_clear(&rep);
    rr_outcome_clear(&rec);
}

/* ---- the timing bug ---- */

static const RrIoLoad race_load = {
    .threads = 2,
    .rounds = 30,
    .depth = 8,
    .blocks = 8,
    .writes = true,
};

static RrRun race_run(uint64_t seed)
{
    RrRun r = {
        .msix = 2,
        .policy = SCHED_POLICY_RANDOM,
        .seed = seed,
        .verifier = VERIFIER_ON,
        .body = rr_body_io,
        .opaque = (void *)&race_load,
    };
    return r;
}

static void test_race_reproduced(void)
{
    g_autofree char *path = tmp_path("race.trc");
    uint64_t seed, clean = 0;
    RrOutcome o, rec;
    RrRun r;

    /* Sweep seeds until a schedule exposes the bug, and one that does
     * not: only some interleavings put a StartIo in the window. */
    rr_fix = false;
    seed = 0;
    for (uint64_t s = 1; s <= 200 && (!seed || !clean); s++) {
        r = race_run(s);
        rr_run(&r, &o);
        g_assert_cmpint(o.stop, ==, MACHINE_STOP_REQUESTED);
        if (o.stale) {
            g_assert_cmpuint(o.verifier, >, 0);
            seed = seed ? seed : s;
        } else {
            g_assert_cmpuint(o.verifier, ==, 0);
            clean = clean ? clean : s;
        }
        rr_outcome_clear(&o);
    }
    g_assert_cmpuint(seed, !=, 0);
    g_assert_cmpuint(clean, !=, 0);
    if (g_test_verbose()) {
        g_printerr("# the bug shows with seed %" G_GUINT64_FORMAT
                   ", not with seed %" G_GUINT64_FORMAT "\n",
                   seed, clean);
    }

    /* Record that seed: the same failure, at the same event. */
    r = race_run(seed);
    r.record = path;
    r.data = RECORD_DATA_FULL;
    rr_run(&r, &rec);
    g_assert_cmpuint(rec.verifier, >, 0);
    g_assert_cmpuint(rec.stale, >, 0);
    g_assert_cmpuint(rec.bug_event, >, 0);
    g_assert_cmpuint(rec.stale_event, >, rec.bug_event);

    /* Twenty replays: identical failure at the identical event. */
    for (int i = 0; i < 20; i++) {
        r = race_run(seed);
        r.replay = path;
        rr_run(&r, &o);
        if (!o.replay.complete) {
            g_printerr("%s", o.report);
        }
        g_assert_true(o.replay.complete);
        g_assert_cmpint(o.rc, ==, rec.rc);
        g_assert_cmpuint(o.verifier, ==, rec.verifier);
        g_assert_cmpuint(o.stale, ==, rec.stale);
        g_assert_cmpuint(o.bug_event, ==, rec.bug_event);
        g_assert_cmpuint(o.stale_event, ==, rec.stale_event);
        g_assert_cmpuint(o.replay.events, ==, rec.rec.events);
        rr_outcome_clear(&o);
    }

    /* Without the device model: the same again. */
    r = race_run(seed);
    r.replay = path;
    r.device_off = true;
    rr_run(&r, &o);
    if (!o.replay.complete) {
        g_printerr("%s", o.report);
    }
    g_assert_true(o.replay.complete);
    g_assert_cmpuint(o.verifier, ==, rec.verifier);
    g_assert_cmpuint(o.bug_event, ==, rec.bug_event);
    g_assert_cmpuint(o.stale_event, ==, rec.stale_event);
    rr_outcome_clear(&o);

    /* With the fix the driver hands out another tag where the recording
     * reused one: the replay reports that, before the stale completion. */
    rr_fix = true;
    r = race_run(seed);
    r.replay = path;
    rr_run(&r, &o);
    rr_fix = false;
    g_assert_true(o.replay.diverged);
    g_assert_cmpint(o.rc, ==, EXIT_DIVERGED);
    g_assert_cmpuint(o.replay.diverged_at, <=, rec.stale_event);
    g_assert_cmpuint(o.stale, ==, 0);
    g_assert_nonnull(strstr(o.report, "diverged at event"));
    if (g_test_verbose()) {
        g_printerr("%s", o.report);
    }
    rr_outcome_clear(&o);
    rr_outcome_clear(&rec);
}

/* ---- storemu runs ---- */

static void test_cli_replay_uses_header(void)
{
    g_autofree char *path = tmp_path("cli.trc");
    g_autofree char *args = NULL;
    g_autofree char *replay = NULL;

    args = g_strdup_printf("-smp 2 -machine sched=random,seed=7 -miniport "
                           "ramdisk -guest iobench,count=300,jobs=2,"
                           "rw=randrw,verify=on -record %s",
                           path);
    g_assert_cmpint(gt_harness_storemu(args), ==, EXIT_OK);
    /* Nothing but the trace: smp, seed, program all come from it. */
    replay = g_strdup_printf("-replay %s", path);
    g_assert_cmpint(gt_harness_storemu(replay), ==, EXIT_OK);
    g_free(replay);
    replay = g_strdup_printf("-replay %s,device=off", path);
    /* data=hash: refused before anything runs. */
    g_assert_cmpint(gt_harness_storemu(replay), ==, EXIT_USAGE);
}

static void test_cli_command_line(void)
{
    g_autoptr(GError) err = NULL;
    char *ok[] = {"storemu", "-replay", "x.trc", "-trace", "pci_*", NULL};
    char *bad[] = {"storemu", "-replay", "x.trc", "-smp", "2", NULL};

    g_assert_true(replay_check_command_line(5, ok, &err));
    g_assert_no_error(err);
    g_assert_false(replay_check_command_line(5, bad, &err));
    g_assert_nonnull(strstr(err->message, "-smp"));
}

static void test_image_identity(void)
{
    g_autofree char *img = tmp_path("disk.img");
    g_autofree char *path = tmp_path("img.trc");
    g_autofree char *args = NULL;
    g_autofree char *replay = NULL;
    g_autofree char *changed = NULL;
    gsize len = 1 << 20;

    changed = g_malloc0(len);
    g_assert_true(g_file_set_contents(img, changed, (gssize)len, NULL));
    args = g_strdup_printf("-drive id=d0,file=%s,snapshot=on -miniport "
                           "ramdisk -guest boot -record %s,data=full",
                           img, path);
    g_assert_cmpint(gt_harness_storemu(args), ==, EXIT_OK);
    replay = g_strdup_printf("-replay %s", path);
    g_assert_cmpint(gt_harness_storemu(replay), ==, EXIT_OK);
    /* One byte of the image changes: the replay is refused. */
    changed[4096] = 1;
    g_assert_true(g_file_set_contents(img, changed, (gssize)len, NULL));
    g_assert_cmpint(gt_harness_storemu(replay), ==, EXIT_USAGE);
    /* device=off opens no image: the changed one does not matter. */
    g_free(replay);
    replay = g_strdup_printf("-replay %s,device=off", path);
    g_assert_cmpint(gt_harness_storemu(replay), ==, EXIT_OK);
    g_unlink(img);
    g_assert_cmpint(gt_harness_storemu(replay), ==, EXIT_OK);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    gt_harness_init();
    tmpdir = g_dir_make_tmp("storemu-replay-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_test_add_func("/replay/device-on", test_device_on);
    g_test_add_func("/replay/device-off", test_device_off);
    g_test_add_func("/replay/device-off-needs-data",
                    test_device_off_needs_data);
    g_test_add_func("/replay/divergence-report", test_divergence_report);
    g_test_add_func("/replay/digest-divergence", test_digest_divergence);
    g_test_add_func("/replay/stop-at", test_stop_at);
    g_test_add_func("/replay/damaged-trace", test_damaged_trace);
    g_test_add_func("/replay/race-reproduced", test_race_reproduced);
    g_test_add_func("/replay/cli/header-config", test_cli_replay_uses_header);
    g_test_add_func("/replay/cli/command-line", test_cli_command_line);
    g_test_add_func("/replay/cli/image-identity", test_image_identity);
    rc = g_test_run();
    {
        g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(tmpdir, n, NULL);
            g_unlink(p);
        }
        g_rmdir(tmpdir);
        g_free(tmpdir);
    }
    return rc;
}
