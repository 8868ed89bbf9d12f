/* SPDX-License-Identifier: MIT */
/*
 * Block backends (hw/block/block.h, aio.h): configuration errors, image
 * locking, temporary images, the snapshot overlay, the write-cache model
 * under power cuts, error injection, O_DIRECT bouncing, reads from a mapped
 * image (mmap=on), the AIO engines and request ordering independent of host
 * completion order.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "hw/block/aio.h"
#include "hw/block/block.h"
#include "system/error.h"
#include "system/opts.h"

static char *tmpdir;

/* A file of @size bytes under the test directory, byte i = pattern(i). */
static char *make_image(const char *name, uint64_t size, uint8_t seed)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_autofree uint8_t *buf = g_malloc(size ? size : 1);

    for (uint64_t i = 0; i < size; i++) {
        buf[i] = (uint8_t)(i * 7 + seed + (i >> 9));
    }
    g_assert_true(g_file_set_contents(path, (char *)buf, size, NULL));
    return path;
}

static uint8_t *file_bytes(const char *path, gsize *len)
{
    gchar *data = NULL;

    g_assert_true(g_file_get_contents(path, &data, len, NULL));
    return (uint8_t *)data;
}

static void fill(uint8_t *p, size_t n, uint8_t v)
{
    memset(p, v, n);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            return false;
        }
    }
    return true;
}

/* ---- configuration errors ------------------------------------------- */

typedef struct OpenErrorCase {
    const char *name;
    int kind; /* what to create */
    unsigned flags;
    const char *needle; /* part of the message */
    int code;
} OpenErrorCase;

enum {
    MISSING,
    DIRECTORY,
    EMPTY,
    ODD_SIZE,
    READONLY_FILE,
    READONLY_OK,
    SNAPSHOT_OF_READONLY
};

static const OpenErrorCase open_cases[] = {
    {"missing", MISSING, 0, "does not exist", STOREMU_ERROR_CONFIG},
    {"directory", DIRECTORY, 0, "neither a regular file", STOREMU_ERROR_CONFIG},
    {"empty", EMPTY, 0, "is empty", STOREMU_ERROR_CONFIG},
    {"odd-size", ODD_SIZE, 0, "not a multiple of 512", STOREMU_ERROR_CONFIG},
    {"readonly-file", READONLY_FILE, 0, "use readonly=on",
     STOREMU_ERROR_CONFIG},
    {"readonly-file-readonly-on", READONLY_OK, BLK_OPEN_READONLY, NULL, 0},
    {"readonly-file-snapshot", SNAPSHOT_OF_READONLY, BLK_OPEN_SNAPSHOT, NULL,
     0},
};

static void test_open_errors(gconstpointer data)
{
    const OpenErrorCase *c = data;
    g_autofree char *path = g_build_filename(tmpdir, c->name, NULL);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;

    switch (c->kind) {
    case MISSING:
        break;
    case DIRECTORY:
        g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
        break;
    case EMPTY:
        g_assert_true(g_file_set_contents(path, "", 0, NULL));
        break;
    case ODD_SIZE:
        g_assert_true(g_file_set_contents(path, "abc", 3, NULL));
        break;
    default:
        g_free(make_image(c->name, 4096, 1));
        g_assert_cmpint(chmod(path, 0444), ==, 0);
        break;
    }
    blk = blk_open(path, c->flags, &err);
    if (c->needle) {
        g_assert_null(blk);
        g_assert_error(err, STOREMU_ERROR, c->code);
        g_assert_nonnull(strstr(err->message, c->needle));
    } else {
        g_assert_no_error(err);
        g_assert_nonnull(blk);
        g_assert_cmpuint(blk_size(blk), ==, 4096);
        g_assert_cmpint(blk_is_readonly(blk), ==,
                        !!(c->flags & BLK_OPEN_READONLY));
        if (c->kind == SNAPSHOT_OF_READONLY) {
            uint8_t buf[512];
            fill(buf, sizeof(buf), 0x5a);
            g_assert_cmpint(blk_pwrite(blk, 0, buf, 512, 0), ==, 0);
        } else {
            uint8_t buf[512] = {0};
            g_assert_cmpint(blk_pwrite(blk, 0, buf, 512, 0), ==, -EROFS);
        }
        blk_close(blk);
    }
    if (c->kind == DIRECTORY) {
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static void test_temp_errors(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(blk_new_temp(0, 0, &err));
    g_assert_nonnull(strstr(err->message, "empty"));
    g_clear_error(&err);
    g_assert_null(blk_new_temp(1000, 0, &err));
    g_assert_nonnull(strstr(err->message, "multiple of 512"));
}

static void test_temp_image(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_new_temp(1 << 20, 0, &err);
    uint8_t buf[4096], out[4096];

    g_assert_no_error(err);
    g_assert_cmpuint(blk_size(blk), ==, 1 << 20);
    g_assert_cmpint(blk_pread(blk, 0, out, sizeof(out)), ==, 0);
    g_assert_true(all_bytes(out, sizeof(out), 0));
    fill(buf, sizeof(buf), 0xa5);
    g_assert_cmpint(blk_pwrite(blk, 8192, buf, sizeof(buf), 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, 8192, out, sizeof(out)), ==, 0);
    g_assert_true(all_bytes(out, sizeof(out), 0xa5));
    /* Out of range and unaligned writes are refused, not crashes. */
    g_assert_cmpint(blk_pread(blk, (1 << 20) - 512, out, 1024), ==, -EINVAL);
    g_assert_cmpint(blk_pwrite(blk, 100, buf, 512, 0), ==, -EINVAL);
    blk_close(blk);
}

/* ---- locking ------------------------------------------------------- */

typedef struct LockCase {
    const char *name;
    unsigned first, second;
    bool second_ok;
} LockCase;

static const LockCase lock_cases[] = {
    {"rw-rw", 0, 0, false},
    {"rw-ro", 0, BLK_OPEN_READONLY, false},
    {"ro-rw", BLK_OPEN_READONLY, 0, false},
    {"rw-snapshot", 0, BLK_OPEN_SNAPSHOT, false},
    {"ro-ro", BLK_OPEN_READONLY, BLK_OPEN_READONLY, true},
    {"snapshot-snapshot", BLK_OPEN_SNAPSHOT, BLK_OPEN_SNAPSHOT, true},
    {"ro-snapshot", BLK_OPEN_READONLY, BLK_OPEN_SNAPSHOT, true},
};

static void test_lock(gconstpointer data)
{
    const LockCase *c = data;
    g_autofree char *path = make_image(c->name, 64 * 1024, 2);
    g_autoptr(GError) err = NULL;
    BlockBackend *a = blk_open(path, c->first, &err);
    BlockBackend *b;

    g_assert_no_error(err);
    b = blk_open(path, c->second, &err);
    if (c->second_ok) {
        g_assert_no_error(err);
        g_assert_nonnull(b);
        blk_close(b);
    } else {
        g_assert_null(b);
        g_assert_error(err, STOREMU_ERROR, STOREMU_ERROR_BUSY);
        g_assert_nonnull(strstr(err->message, "in use by another storemu"));
        g_clear_error(&err);
    }
    /* Closing releases the lock. */
    blk_close(a);
    b = blk_open(path, c->second, &err);
    g_assert_no_error(err);
    blk_close(b);
    g_unlink(path);
}

/* ---- -drive options ------------------------------------------------- */

static const OptDesc drive_desc[] = {{"id", OPT_STRING, "id"},
                                     {"file", OPT_STRING, "file"},
                                     {"format", OPT_STRING, "format"},
                                     {"snapshot", OPT_BOOL, "snapshot"},
                                     {"cache", OPT_STRING, "cache"},
                                     {"readonly", OPT_BOOL, "readonly"},
                                     {"size", OPT_SIZE, "size"},
                                     {"mmap", OPT_BOOL, "mmap"},
                                     {NULL}};

static const OptsSchema drive_schema = {
    .option = "-drive",
    .desc = drive_desc,
};

typedef struct DriveCase {
    const char *opts;
    const char *needle; /* NULL: success */
} DriveCase;

static const DriveCase drive_cases[] = {
    {"size=1M", "id= is required"},
    {"id=d0", "needs file=PATH"},
    {"id=d0,size=1M,format=qcow2", "format 'qcow2' is not supported"},
    {"id=d0,size=1M,cache=sometimes", "cache 'sometimes'"},
    {"id=d0,size=1M,file=/x", "either file= or size="},
    {"id=d0,size=1000", "multiple of 512"},
    {"id=d0,file=/nonexistent/img", "does not exist"},
    {"id=d0,size=1M", NULL},
    {"id=d0,size=64K,format=raw,cache=unsafe,snapshot=off", NULL},
    {"id=d0,size=1M,cache=none,mmap=on", "mmap=on cannot go with cache=none"},
    {"id=d0,size=64K,mmap=on", NULL},
    {"id=d0,size=64K,cache=unsafe,mmap=off", NULL},
};

static void test_drive_opts(gconstpointer data)
{
    const DriveCase *c = data;
    g_autoptr(GError) err = NULL;
    Opts *o = opts_parse(&drive_schema, c->opts, &err);
    BlockBackend *blk;

    g_assert_no_error(err);
    blk = blk_new_from_opts(o, &err);
    if (c->needle) {
        g_assert_null(blk);
        g_assert_nonnull(err);
        if (!strstr(err->message, c->needle)) {
            g_error("'%s': expected '%s' in '%s'", c->opts, c->needle,
                    err->message);
        }
    } else {
        g_assert_no_error(err);
        g_assert_true(blk_find("d0") == blk);
        g_assert_cmpstr(blk_id(blk), ==, "d0");
        /* The id is taken now. */
        g_assert_null(blk_new_from_opts(o, &err));
        g_assert_nonnull(strstr(err->message, "used twice"));
        blk_close(blk);
        g_assert_null(blk_find("d0"));
    }
    opts_free(o);
}

static void test_attach_once(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_new_temp(4096, 0, &err);

    g_assert_true(blk_attach(blk, "disk0", &err));
    g_assert_false(blk_attach(blk, "disk1", &err));
    g_assert_nonnull(strstr(err->message, "already used by disk0"));
    blk_detach(blk);
    g_clear_error(&err);
    g_assert_true(blk_attach(blk, "disk1", &err));
    blk_close(blk);
}

/* ---- snapshot overlay ---------------------------------------------- */

static void test_snapshot_overlay(void)
{
    const uint64_t size = 256 * 1024;
    g_autofree char *path = make_image("snap.img", size, 3);
    g_autofree uint8_t *orig = NULL, *after = NULL;
    g_autofree uint8_t *view = g_malloc(size);
    g_autoptr(GError) err = NULL;
    gsize olen, alen;
    BlockBackend *blk;
    uint8_t w[1536];

    orig = file_bytes(path, &olen);
    blk = blk_open(path, BLK_OPEN_SNAPSHOT, &err);
    g_assert_no_error(err);
    g_assert_true(blk_is_snapshot(blk));
    fill(w, sizeof(w), 0xee);
    /* Writes of odd sector runs, a discard and a FUA write. */
    g_assert_cmpint(blk_pwrite(blk, 512, w, 1024, 0), ==, 0);
    g_assert_cmpint(blk_pwrite(blk, 4096 + 1536, w, 1536, BLK_REQ_FUA), ==, 0);
    g_assert_cmpint(
        blk_wait(blk_submit(blk, BLK_OP_DISCARD, 65536, 8192, NULL, 0, 0),
                 NULL),
        ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    /* A read spanning image and overlay sectors merges them. */
    g_assert_cmpint(blk_pread(blk, 0, view, size), ==, 0);
    for (uint64_t i = 0; i < size; i++) {
        uint8_t want = orig[i];
        if ((i >= 512 && i < 1536) || (i >= 5632 && i < 7168)) {
            want = 0xee;
        } else if (i >= 65536 && i < 73728) {
            want = 0;
        }
        if (view[i] != want) {
            g_error("byte %" G_GUINT64_FORMAT ": 0x%02x, expected 0x%02x", i,
                    view[i], want);
        }
    }
    /* Unaligned small read inside a written sector and across. */
    g_assert_cmpint(blk_pread(blk, 1500, view, 100), ==, 0);
    g_assert_true(all_bytes(view, 36, 0xee));
    g_assert_cmpint(view[36], ==, orig[1536]);
    blk_close(blk);
    after = file_bytes(path, &alen);
    g_assert_cmpuint(alen, ==, olen);
    g_assert_true(memcmp(orig, after, olen) == 0);
    g_unlink(path);
}

/*
 * Overlay reads through scattered iovecs: runs that start and end inside
 * and across the map's 64-sector words, reads wholly in the overlay or
 * wholly outside it, and more iovecs than a run keeps on the stack.
 */
typedef struct OverlayReadCase {
    uint64_t offset, len;
    unsigned piece; /* iovec size (0: one iovec); odd ones split sectors */
} OverlayReadCase;

static const OverlayReadCase overlay_read_cases[] = {
    {0, 128 * 1024, 0},           /* every run of the map */
    {0, 128 * 1024, 1000},        /* the same through 132 iovecs */
    {30 * 512, 40 * 512, 333},    /* across the word boundary at 64 */
    {64 * 512, 64 * 512, 0},      /* one whole word, partly written */
    {128 * 512, 64 * 512, 700},   /* a word all in the overlay */
    {140 * 512 + 3, 4096, 512},   /* inside that word, unaligned */
    {200 * 512, 8 * 512, 0},      /* outside the overlay */
    {190 * 512 + 100, 20000, 97}, /* overlay to image, many iovecs */
    {250 * 512, 6 * 512, 1024},   /* ends just before the last run */
    {255 * 512, 512, 0},          /* the single written sector */
};

static void test_snapshot_overlay_runs(void)
{
    const uint64_t size = 256 * 1024;
    /* Written sector runs: [63, 66), [100, 101), [128, 192), [255]. */
    static const uint64_t runs[][2] = {
        {63, 66}, {100, 101}, {128, 192}, {255, 256}};
    g_autofree char *path = make_image("snap-runs.img", size, 5);
    g_autofree uint8_t *orig = NULL;
    g_autofree uint8_t *want = NULL;
    g_autoptr(GError) err = NULL;
    gsize olen;
    BlockBackend *blk;

    orig = file_bytes(path, &olen);
    want = g_memdup2(orig, olen);
    blk = blk_open(path, BLK_OPEN_SNAPSHOT, &err);
    g_assert_no_error(err);
    for (unsigned i = 0; i < G_N_ELEMENTS(runs); i++) {
        uint64_t off = runs[i][0] * 512, len = (runs[i][1] - runs[i][0]) * 512;
        g_autofree uint8_t *w = g_malloc(len);

        fill(w, len, 0xa0 + i);
        g_assert_cmpint(blk_pwrite(blk, off, w, len, 0), ==, 0);
        memcpy(want + off, w, len);
    }
    for (unsigned c = 0; c < G_N_ELEMENTS(overlay_read_cases); c++) {
        const OverlayReadCase *rc = &overlay_read_cases[c];
        unsigned piece = rc->piece ? rc->piece : (unsigned)rc->len;
        unsigned niov = (rc->len + piece - 1) / piece;
        g_autofree uint8_t *buf = g_malloc0(rc->len);
        g_autofree struct iovec *iov = g_new(struct iovec, niov);

        for (unsigned i = 0; i < niov; i++) {
            iov[i].iov_base = buf + (uint64_t)i * piece;
            iov[i].iov_len = MIN(piece, rc->len - (uint64_t)i * piece);
        }
        g_assert_cmpint(blk_wait(blk_submit(blk, BLK_OP_READ, rc->offset,
                                            rc->len, iov, niov, 0),
                                 NULL),
                        ==, 0);
        if (memcmp(buf, want + rc->offset, rc->len)) {
            g_error("case %u: read differs from the merged image", c);
        }
    }
    blk_close(blk);
    g_unlink(path);
}

/* ---- write cache and power cut ------------------------------------- */

typedef enum {
    STEP_WRITE,
    STEP_WRITE_FUA,
    STEP_FLUSH,
    STEP_WCE_OFF,
    STEP_WCE_ON,
    STEP_DISCARD,
    STEP_READ_FUA,
    STEP_END
} StepKind;

typedef struct CacheStep {
    StepKind kind;
    uint64_t offset, len;
    uint8_t value;
} CacheStep;

typedef struct CacheCase {
    const char *name;
    bool snapshot;
    CacheStep steps[8];
    /* After the power cut: expected bytes in these ranges (the rest is
     * the original pattern). */
    CacheStep expect[4];
} CacheCase;

#define W(o, l, v)                                                             \
    {                                                                          \
        STEP_WRITE, (o), (l), (v)                                              \
    }
#define WF(o, l, v)                                                            \
    {                                                                          \
        STEP_WRITE_FUA, (o), (l), (v)                                          \
    }
#define E(o, l, v)                                                             \
    {                                                                          \
        STEP_WRITE, (o), (l), (v)                                              \
    }
#define FLUSH                                                                  \
    {                                                                          \
        STEP_FLUSH                                                             \
    }
#define END                                                                    \
    {                                                                          \
        STEP_END                                                               \
    }

static const CacheCase cache_cases[] = {
    {"unflushed-lost", false, {W(0, 4096, 1), W(8192, 512, 2), END}, {END}},
    {"flushed-kept",
     false,
     {W(0, 4096, 1), FLUSH, W(8192, 512, 2), END},
     {E(0, 4096, 1), END}},
    {"fua-kept",
     false,
     {W(0, 4096, 1), WF(512, 1024, 3), END},
     {E(512, 1024, 3), END}},
    {"fua-then-cached",
     false,
     {WF(0, 1024, 3), W(512, 512, 4), END},
     {E(0, 1024, 3), END}},
    {"wce-off-durable",
     false,
     {{STEP_WCE_OFF}, W(0, 2048, 5), END},
     {E(0, 2048, 5), END}},
    {"wce-off-flushes",
     false,
     {W(0, 2048, 5), {STEP_WCE_OFF}, {STEP_WCE_ON}, W(4096, 512, 6), END},
     {E(0, 2048, 5), END}},
    {"discard-lost", false, {{STEP_DISCARD, 0, 8192}, END}, {END}},
    {"fua-read-writes-back",
     false,
     {W(0, 512, 7), {STEP_READ_FUA, 0, 512}, W(16384, 512, 8), END},
     {E(0, 512, 7), END}},
    {"snapshot-unflushed-lost",
     true,
     {W(0, 4096, 1), FLUSH, W(4096, 512, 9), END},
     {E(0, 4096, 1), END}},
    /* A FUA write into a cached block: only its sectors are durable. */
    {"fua-inside-cached-block",
     false,
     {W(0, 4096, 1), WF(1024, 512, 2), END},
     {E(1024, 512, 2), END}},
    /* Cached data over durable data, then flushed: the newest wins. */
    {"cached-over-fua-flushed",
     false,
     {WF(0, 1024, 3), W(0, 512, 4), FLUSH, W(2048, 512, 5), END},
     {E(0, 512, 4), E(512, 512, 3), END}},
    {"discard-flushed",
     false,
     {{STEP_DISCARD, 4096, 8192}, FLUSH, W(0, 512, 6), END},
     {E(4096, 8192, 0), END}},
};

static void test_power_cut(gconstpointer data)
{
    const CacheCase *c = data;
    const uint64_t size = 64 * 1024;
    g_autofree char *path = make_image(c->name, size, 4);
    g_autofree uint8_t *orig = NULL, *img = NULL;
    g_autofree uint8_t *view = g_malloc(size);
    g_autofree uint8_t *buf = g_malloc(size);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    gsize olen, ilen;
    BlkStats st;

    orig = file_bytes(path, &olen);
    blk = blk_open(path, c->snapshot ? BLK_OPEN_SNAPSHOT : 0, &err);
    g_assert_no_error(err);
    g_assert_true(blk_write_cache(blk));
    for (const CacheStep *s = c->steps; s->kind != STEP_END; s++) {
        fill(buf, s->len, s->value);
        switch (s->kind) {
        case STEP_WRITE:
        case STEP_WRITE_FUA:
            g_assert_cmpint(
                blk_pwrite(blk, s->offset, buf, s->len,
                           s->kind == STEP_WRITE_FUA ? BLK_REQ_FUA : 0),
                ==, 0);
            break;
        case STEP_FLUSH:
            g_assert_cmpint(blk_flush(blk), ==, 0);
            break;
        case STEP_WCE_OFF:
            blk_set_write_cache(blk, false);
            break;
        case STEP_WCE_ON:
            blk_set_write_cache(blk, true);
            break;
        case STEP_DISCARD:
            g_assert_cmpint(blk_wait(blk_submit(blk, BLK_OP_DISCARD, s->offset,
                                                s->len, NULL, 0, 0),
                                     NULL),
                            ==, 0);
            break;
        case STEP_READ_FUA: {
            struct iovec v = {view, s->len};
            g_assert_cmpint(blk_wait(blk_submit(blk, BLK_OP_READ, s->offset,
                                                s->len, &v, 1, BLK_REQ_FUA),
                                     NULL),
                            ==, 0);
            break;
        }
        default:
            g_assert_not_reached();
        }
    }
    /* Before the cut every write is visible. */
    for (const CacheStep *s = c->steps; s->kind != STEP_END; s++) {
        if (s->kind == STEP_WRITE || s->kind == STEP_WRITE_FUA) {
            g_assert_cmpint(blk_pread(blk, s->offset, view, s->len), ==, 0);
        }
    }
    blk_power_cut(blk);
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.power_cuts, ==, 1);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, view, size), ==, 0);
    memcpy(buf, orig, size);
    for (const CacheStep *e = c->expect; e->kind != STEP_END; e++) {
        memset(buf + e->offset, e->value, e->len);
    }
    for (uint64_t i = 0; i < size; i++) {
        if (view[i] != buf[i]) {
            g_error("%s: byte %" G_GUINT64_FORMAT " is 0x%02x, expected "
                    "0x%02x",
                    c->name, i, view[i], buf[i]);
        }
    }
    blk_close(blk);
    /* The file itself holds what survived (or, with a snapshot, nothing
     * new at all). */
    img = file_bytes(path, &ilen);
    g_assert_true(memcmp(img, c->snapshot ? orig : buf, size) == 0);
    g_unlink(path);
}

static void test_cache_limit(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_new_temp(1 << 20, 0, &err);
    g_autofree uint8_t *buf = g_malloc(64 * 1024);
    g_autofree uint8_t *view = g_malloc(64 * 1024);
    BlkStats st;

    blk_set_cache_limit(blk, 16 * 1024);
    fill(buf, 64 * 1024, 0x11);
    /* Four 4 KiB writes fill the cache; the fifth flushes it first. */
    for (int i = 0; i < 5; i++) {
        g_assert_cmpint(blk_pwrite(blk, i * 4096, buf, 4096, 0), ==, 0);
        g_assert_cmpuint(blk_cache_dirty_bytes(blk), <=, 16 * 1024);
    }
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.implicit_flushes, ==, 1);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 4096);
    /* A write bigger than the cache goes through, durable. */
    fill(buf, 64 * 1024, 0x22);
    g_assert_cmpint(blk_pwrite(blk, 256 * 1024, buf, 64 * 1024, 0), ==, 0);
    blk_power_cut(blk);
    g_assert_cmpint(blk_pread(blk, 0, view, 4 * 4096), ==, 0);
    g_assert_true(all_bytes(view, 4 * 4096, 0x11)); /* written back */
    g_assert_cmpint(blk_pread(blk, 4 * 4096, view, 4096), ==, 0);
    g_assert_true(all_bytes(view, 4096, 0)); /* lost */
    g_assert_cmpint(blk_pread(blk, 256 * 1024, view, 64 * 1024), ==, 0);
    g_assert_true(all_bytes(view, 64 * 1024, 0x22)); /* write-through */
    blk_close(blk);
}

/* ---- error injection ------------------------------------------------ */

/* Requests in the caller's storage: the same results as blk_submit(),
 * many-op requests and injected errors included, and the storage reused
 * on another backend. */
static void test_submit_in(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *a = blk_new_temp(1 << 20, 0, &err);
    BlockBackend *b = blk_new_temp(1 << 20, 0, &err);
    g_autofree BlkRequestStorage *st = g_new0(BlkRequestStorage, 1);
    enum { N = 1500, LEN = N * 512 }; /* more iovecs than one host op */
    g_autofree uint8_t *wbuf = g_malloc(LEN);
    g_autofree uint8_t *rbuf = g_malloc0(LEN);
    g_autofree struct iovec *wv = g_new(struct iovec, N);
    g_autofree struct iovec *rv = g_new(struct iovec, N);
    uint64_t off = 0;
    BlkStats stats;

    g_assert_nonnull(a);
    g_assert_nonnull(b);
    for (unsigned i = 0; i < N; i++) {
        wv[i] = (struct iovec){wbuf + i * 512, 512};
        rv[i] = (struct iovec){rbuf + i * 512, 512};
    }
    fill(wbuf, LEN, 0x5a);
    /* Through the host (no write cache), then from the cache. */
    blk_set_write_cache(a, false);
    g_assert_cmpint(
        blk_wait(blk_submit_in(st, a, BLK_OP_WRITE, 4096, LEN, wv, N, 0), NULL),
        ==, 0);
    g_assert_cmpint(
        blk_wait(blk_submit_in(st, a, BLK_OP_READ, 4096, LEN, rv, N, 0), NULL),
        ==, 0);
    g_assert_true(memcmp(rbuf, wbuf, LEN) == 0);
    blk_set_write_cache(a, true);
    fill(wbuf, 4096, 0x6b);
    g_assert_cmpint(
        blk_wait(blk_submit_in(st, a, BLK_OP_WRITE, 0, 4096, wv, 8, 0), NULL),
        ==, 0);
    memset(rbuf, 0, LEN);
    g_assert_cmpint(
        blk_wait(blk_submit_in(st, a, BLK_OP_READ, 0, 4096, rv, 8, 0), NULL),
        ==, 0);
    g_assert_true(all_bytes(rbuf, 4096, 0x6b));
    /* An injected error, as blk_submit() reports it. */
    blk_inject_error(a, EIO, BLK_OP_BIT(BLK_OP_READ), 10000, 1, 1);
    g_assert_cmpint(
        blk_wait(blk_submit_in(st, a, BLK_OP_READ, 8192, 4096, rv, 8, 0), &off),
        ==, -EIO);
    g_assert_cmpuint(off, ==, 10000);
    blk_get_stats(a, &stats);
    g_assert_cmpuint(stats.ops[BLK_OP_READ], ==, 3);
    g_assert_cmpuint(stats.ops[BLK_OP_WRITE], ==, 2);
    g_assert_cmpuint(stats.injected, ==, 1);
    /* The same storage on another backend. */
    g_assert_cmpint(
        blk_wait(blk_submit_in(st, b, BLK_OP_READ, 4096, LEN, rv, N, 0), NULL),
        ==, 0);
    g_assert_true(all_bytes(rbuf, LEN, 0));
    blk_close(a);
    blk_close(b);
}

static void test_inject(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_new_temp(1 << 20, 0, &err);
    uint8_t buf[4096];
    uint64_t off = 0;
    BlkStats st;
    struct iovec v = {buf, sizeof(buf)};

    fill(buf, sizeof(buf), 0x33);
    g_assert_cmpint(blk_pwrite(blk, 8192, buf, 4096, 0), ==, 0);
    /* Reads touching [10000, 10001) fail once, with the offset. */
    blk_inject_error(blk, EIO, BLK_OP_BIT(BLK_OP_READ), 10000, 1, 1);
    g_assert_cmpint(blk_pread(blk, 0, buf, 4096), ==, 0); /* no overlap */
    g_assert_cmpint(
        blk_wait(blk_submit(blk, BLK_OP_READ, 8192, 4096, &v, 1, 0), &off), ==,
        -EIO);
    g_assert_cmpuint(off, ==, 10000);
    g_assert_cmpint(blk_pread(blk, 8192, buf, 4096), ==, 0);
    g_assert_true(all_bytes(buf, 4096, 0x33));
    /* ENOSPC on writes anywhere, twice; the data is not written. */
    blk_inject_error(blk, ENOSPC, BLK_OP_BIT(BLK_OP_WRITE), 0, 0, 2);
    fill(buf, sizeof(buf), 0x44);
    g_assert_cmpint(blk_pwrite(blk, 8192, buf, 4096, 0), ==, -ENOSPC);
    g_assert_cmpint(blk_pwrite(blk, 8192, buf, 4096, 0), ==, -ENOSPC);
    g_assert_cmpint(blk_pread(blk, 8192, buf, 4096), ==, 0);
    g_assert_true(all_bytes(buf, 4096, 0x33));
    fill(buf, sizeof(buf), 0x44);
    g_assert_cmpint(blk_pwrite(blk, 8192, buf, 4096, 0), ==, 0);
    /* Flushes fail until cleared. */
    blk_inject_error(blk, EIO, BLK_OP_BIT(BLK_OP_FLUSH), 0, 0, 0);
    g_assert_cmpint(blk_flush(blk), ==, -EIO);
    g_assert_cmpint(blk_flush(blk), ==, -EIO);
    blk_clear_injected_errors(blk);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.injected, ==, 5);
    g_assert_cmpuint(st.errors, ==, 5);
    blk_close(blk);
}

/* A file shrunk behind our back: reads past its end are errors. */
static void test_short_read(void)
{
    g_autofree char *path = make_image("short.img", 64 * 1024, 5);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_open(path, BLK_OPEN_READONLY, &err);
    uint8_t buf[4096];

    g_assert_no_error(err);
    g_assert_cmpint(truncate(path, 32 * 1024), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, buf, 4096), ==, 0);
    g_assert_cmpint(blk_pread(blk, 30 * 1024, buf, 4096), ==, -EIO);
    blk_close(blk);
    g_unlink(path);
}

/* ---- discard and write-zeroes ---------------------------------------- */

static void test_discard(void)
{
    g_autofree char *path = make_image("discard.img", 1 << 20, 6);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_open(path, 0, &err);
    g_autofree uint8_t *buf = g_malloc(65536);
    struct stat st1, st2;

    g_assert_no_error(err);
    g_assert_cmpint(stat(path, &st1), ==, 0);
    g_assert_cmpint(blk_wait(blk_submit(blk, BLK_OP_DISCARD, 65536, 65536, NULL,
                                        0, BLK_REQ_FUA),
                             NULL),
                    ==, 0);
    g_assert_cmpint(blk_wait(blk_submit(blk, BLK_OP_WRITE_ZEROES, 0, 4096, NULL,
                                        0, BLK_REQ_FUA),
                             NULL),
                    ==, 0);
    g_assert_cmpint(blk_pread(blk, 65536, buf, 65536), ==, 0);
    g_assert_true(all_bytes(buf, 65536, 0));
    g_assert_cmpint(blk_pread(blk, 0, buf, 4096), ==, 0);
    g_assert_true(all_bytes(buf, 4096, 0));
    g_assert_cmpint(blk_pread(blk, 4096, buf, 1), ==, 0);
    g_assert_cmpint(buf[0], !=, 0);
    blk_close(blk);
    /* The hole is real (the file holds fewer blocks) and the size kept. */
    g_assert_cmpint(stat(path, &st2), ==, 0);
    g_assert_cmpint(st2.st_size, ==, st1.st_size);
    g_assert_cmpint(st2.st_blocks, <, st1.st_blocks);
    g_unlink(path);
}

/* ---- cache=none ------------------------------------------------------ */

static void test_nocache(void)
{
    g_autofree char *path = make_image("direct.img", 1 << 20, 7);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_open(path, BLK_OPEN_NOCACHE, &err);
    g_autofree uint8_t *raw = g_malloc(3 * 4096 + 1);
    uint8_t *odd = raw + 1; /* deliberately misaligned */
    g_autofree uint8_t *orig = NULL;
    gsize olen;
    BlkStats st;

    if (!blk && strstr(err->message, "O_DIRECT")) {
        g_test_skip(err->message);
        g_unlink(path);
        return;
    }
    g_assert_no_error(err);
    orig = file_bytes(path, &olen);
    g_assert_cmpint(blk_pread(blk, 512, odd, 3 * 4096), ==, 0);
    g_assert_true(memcmp(odd, orig + 512, 3 * 4096) == 0);
    g_assert_cmpint(blk_pread(blk, 1000, odd, 77), ==, 0); /* unaligned */
    g_assert_true(memcmp(odd, orig + 1000, 77) == 0);
    fill(odd, 4096, 0x77);
    g_assert_cmpint(blk_pwrite(blk, 4096 + 512, odd, 4096, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.bounced, >=, 3);
    blk_close(blk);
    g_free(orig);
    orig = file_bytes(path, &olen);
    g_assert_true(all_bytes(orig + 4096 + 512, 4096, 0x77));
    g_unlink(path);
}

/* snapshot=on with cache=none: the image read with O_DIRECT under the
 * overlay and under cached writes. */
static void test_snapshot_nocache(void)
{
    g_autofree char *path = make_image("snapdirect.img", 1 << 20, 8);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk =
        blk_open(path, BLK_OPEN_SNAPSHOT | BLK_OPEN_NOCACHE, &err);
    g_autofree uint8_t *orig = NULL, *after = NULL;
    g_autofree uint8_t *raw = g_malloc(8192 + 1);
    uint8_t *odd = raw + 1;
    gsize olen, alen;

    if (!blk && strstr(err->message, "O_DIRECT")) {
        g_test_skip(err->message);
        g_unlink(path);
        return;
    }
    g_assert_no_error(err);
    orig = file_bytes(path, &olen);
    fill(odd, 512, 0x42);
    /* A cached write of one sector holds its 4 KiB block in the cache; a
     * read around it merges it with the O_DIRECT image, read into an
     * unaligned buffer. */
    g_assert_cmpint(blk_pwrite(blk, 4096 + 512, odd, 512, 0), ==, 0);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 4096);
    g_assert_cmpint(blk_pread(blk, 4000, odd, 2000), ==, 0);
    g_assert_true(memcmp(odd, orig + 4000, 608) == 0);
    g_assert_true(all_bytes(odd + 608, 512, 0x42));
    g_assert_true(memcmp(odd + 1120, orig + 5120, 880) == 0);
    blk_power_cut(blk);
    g_assert_cmpint(blk_pread(blk, 4096, odd, 4096), ==, 0);
    g_assert_true(memcmp(odd, orig + 4096, 4096) == 0);
    blk_close(blk);
    after = file_bytes(path, &alen);
    g_assert_true(memcmp(orig, after, olen) == 0);
    g_unlink(path);
}

/* ---- the write cache ------------------------------------------------- */

/* What a backend of @size bytes over @orig should read, kept in step with
 * the writes a test makes. */
/* A write through the backend, and the same into the model of the file. */
static void write_both(BlockBackend *blk, uint8_t *model, uint64_t off,
                       const uint8_t *data, uint64_t len)
{
    g_assert_cmpint(blk_pwrite(blk, off, data, len, 0), ==, 0);
    memcpy(model + off, data, len);
}

static void assert_view(BlockBackend *blk, const uint8_t *model, uint64_t off,
                        uint64_t len)
{
    g_autofree uint8_t *view = g_malloc(len);

    g_assert_cmpint(blk_pread(blk, off, view, len), ==, 0);
    for (uint64_t i = 0; i < len; i++) {
        if (view[i] != model[off + i]) {
            g_error("read at %" G_GUINT64_FORMAT ": byte %" G_GUINT64_FORMAT
                    " is 0x%02x, expected 0x%02x",
                    off, off + i, view[i], model[off + i]);
        }
    }
}

/* Reads see cached writes, whole or in part, with any alignment; the
 * image file is not written before a flush, and is after. */
static void test_cache_reads(void)
{
    const uint64_t size = 64 * 1024;
    g_autofree char *path = make_image("cache-reads.img", size, 9);
    g_autofree uint8_t *orig = NULL, *img = NULL;
    g_autofree uint8_t *model = NULL;
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    uint8_t a[1024], b[4096], c[512];
    gsize len;
    static const struct {
        uint64_t off, len;
    } reads[] = {
        {4096, 4096},   /* one cached block */
        {600, 10},      /* inside a cached sector */
        {1000, 1000},   /* cached sectors and the image's */
        {0, 64 * 1024}, /* everything */
        {12000, 2000},  /* across a block boundary */
        {20480, 4096},  /* nothing cached */
    };

    orig = file_bytes(path, &len);
    model = g_memdup2(orig, size);
    blk = blk_open(path, 0, &err);
    g_assert_no_error(err);
    fill(a, sizeof(a), 0xa1);
    fill(b, sizeof(b), 0xb2);
    fill(c, sizeof(c), 0xc3);
    write_both(blk, model, 512, a, sizeof(a));
    write_both(blk, model, 4096, b, sizeof(b));
    write_both(blk, model, 12288 + 1024, c, sizeof(c));
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 3 * 4096);
    for (unsigned i = 0; i < G_N_ELEMENTS(reads); i++) {
        assert_view(blk, model, reads[i].off, reads[i].len);
    }
    /* Nothing reached the file yet. */
    img = file_bytes(path, &len);
    g_assert_true(memcmp(img, orig, size) == 0);
    g_free(img);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 0);
    img = file_bytes(path, &len);
    g_assert_true(memcmp(img, model, size) == 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(reads); i++) {
        assert_view(blk, model, reads[i].off, reads[i].len);
    }
    blk_close(blk);
    g_unlink(path);
}

/* A cached write is over without any host I/O; a FUA one is not. */
static void test_cache_no_host_io(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    uint8_t buf[4096];
    struct iovec v = {buf, sizeof(buf)};
    BlkRequest *req;

    g_assert_true(aio_set_engine(AIO_ENGINE_DEFERRED, &err));
    blk = blk_new_temp(1 << 20, 0, &err);
    g_assert_no_error(err);
    fill(buf, sizeof(buf), 0x5e);
    req = blk_submit(blk, BLK_OP_WRITE, 8192, sizeof(buf), &v, 1, 0);
    g_assert_cmpuint(aio_in_flight(), ==, 0);
    g_assert_cmpint(blk_wait(req, NULL), ==, 0);
    /* Read back from the cache: no host I/O either. */
    memset(buf, 0, sizeof(buf));
    req = blk_submit(blk, BLK_OP_READ, 8192, sizeof(buf), &v, 1, 0);
    g_assert_cmpuint(aio_in_flight(), ==, 0);
    g_assert_cmpint(blk_wait(req, NULL), ==, 0);
    g_assert_true(all_bytes(buf, sizeof(buf), 0x5e));
    req = blk_submit(blk, BLK_OP_WRITE, 0, sizeof(buf), &v, 1, BLK_REQ_FUA);
    g_assert_cmpuint(aio_in_flight(), ==, 1);
    g_assert_cmpint(blk_wait(req, NULL), ==, 0);
    g_assert_cmpuint(aio_in_flight(), ==, 0);
    blk_close(blk);
    aio_shutdown();
}

/*
 * A flush writes many blocks back in batches (more than one batch of host
 * ops, runs of adjacent blocks, partial blocks, discards) and syncs the
 * host once; the file then holds exactly what the guest sees.
 */
static void test_cache_write_back(void)
{
    const uint64_t size = 8 << 20;
    g_autofree char *path = make_image("cache-wb.img", size, 10);
    g_autofree uint8_t *img = NULL, *model = NULL;
    g_autofree uint8_t *buf = g_malloc(64 * 1024);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    BlkStats st;
    gsize len;

    model = file_bytes(path, &len);
    blk = blk_open(path, 0, &err);
    g_assert_no_error(err);
    /* 700 separate blocks: several batches of host writes. */
    for (unsigned i = 0; i < 700; i++) {
        uint64_t off = (uint64_t)i * 2 * 4096;

        fill(buf, 4096, (uint8_t)(i * 3 + 1));
        write_both(blk, model, off, buf, 4096);
    }
    /* One run of adjacent blocks, written in odd pieces. */
    for (unsigned i = 0; i < 40; i++) {
        uint64_t off = (6ULL << 20) + i * 1536;

        fill(buf, 1536, (uint8_t)(0x80 + i));
        write_both(blk, model, off, buf, 1536);
    }
    /* Adjacent blocks cached in reverse order: written back in order. */
    for (unsigned i = 0; i < 24; i++) {
        uint64_t off = (6ULL << 20) + (256 - 1 - i) * 4096ULL;

        fill(buf, 4096, (uint8_t)(0x40 + i));
        write_both(blk, model, off, buf, 4096);
    }
    /* Single sectors and a discard among cached blocks. */
    fill(buf, 512, 0x77);
    write_both(blk, model, (7ULL << 20) + 512, buf, 512);
    write_both(blk, model, (7ULL << 20) + 3584, buf, 512);
    g_assert_cmpint(blk_wait(blk_submit(blk, BLK_OP_DISCARD, 4096 * 3, 4096 * 4,
                                        NULL, 0, 0),
                             NULL),
                    ==, 0);
    memset(model + 4096 * 3, 0, 4096 * 4);
    assert_view(blk, model, 0, size);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.host_flushes, ==, 1);
    g_assert_cmpuint(st.implicit_flushes, ==, 0);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 0);
    img = file_bytes(path, &len);
    g_assert_cmpuint(len, ==, size);
    g_assert_true(memcmp(img, model, size) == 0);
    /* Nothing is left to lose. */
    blk_power_cut(blk);
    assert_view(blk, model, 0, size);
    blk_close(blk);
    g_unlink(path);
}

/* The cache's bound writes it back without asking the host for
 * durability (the host's page cache is the model's medium). */
static void test_cache_bound_no_sync(void)
{
    g_autofree char *path = make_image("cache-bound.img", 256 * 1024, 11);
    g_autofree uint8_t *orig = NULL, *img = NULL;
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    uint8_t buf[4096];
    BlkStats st;
    gsize len;

    orig = file_bytes(path, &len);
    blk = blk_open(path, 0, &err);
    g_assert_no_error(err);
    blk_set_cache_limit(blk, 16 * 1024);
    for (int i = 0; i < 5; i++) {
        fill(buf, sizeof(buf), (uint8_t)(0x10 + i));
        g_assert_cmpint(blk_pwrite(blk, i * 8192, buf, 4096, 0), ==, 0);
    }
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.implicit_flushes, ==, 1);
    g_assert_cmpuint(st.host_flushes, ==, 0);
    /* The first four are in the file, the fifth only in the cache. */
    img = file_bytes(path, &len);
    for (int i = 0; i < 4; i++) {
        g_assert_true(all_bytes(img + i * 8192, 4096, (uint8_t)(0x10 + i)));
    }
    g_assert_true(memcmp(img + 4 * 8192, orig + 4 * 8192, 4096) == 0);
    blk_power_cut(blk);
    g_assert_cmpint(blk_pread(blk, 4 * 8192, buf, 4096), ==, 0);
    g_assert_true(memcmp(buf, orig + 4 * 8192, 4096) == 0);
    g_assert_cmpint(blk_pread(blk, 3 * 8192, buf, 4096), ==, 0);
    g_assert_true(all_bytes(buf, 4096, 0x13));
    blk_close(blk);
    g_unlink(path);
}

/* The bound changes while data is cached: a larger one keeps the data, a
 * smaller one than what is cached writes it back first. */
static void test_cache_limit_change(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_new_temp(4 << 20, 0, &err);
    g_autofree uint8_t *model = g_malloc0(4 << 20);
    uint8_t buf[4096];
    BlkStats st;

    g_assert_no_error(err);
    blk_set_cache_limit(blk, 64 * 1024);
    for (int i = 0; i < 12; i++) {
        fill(buf, sizeof(buf), (uint8_t)(i + 1));
        write_both(blk, model, i * 12288, buf, 4096);
    }
    blk_set_cache_limit(blk, 1 << 20);
    for (int i = 12; i < 100; i++) {
        fill(buf, sizeof(buf), (uint8_t)(i + 1));
        write_both(blk, model, i * 12288, buf, 4096);
    }
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.implicit_flushes, ==, 0);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 100 * 4096);
    assert_view(blk, model, 0, 4 << 20);
    blk_set_cache_limit(blk, 8192);
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.implicit_flushes, ==, 1);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 0);
    blk_power_cut(blk);
    assert_view(blk, model, 0, 4 << 20);
    blk_close(blk);
}

/* A cached discard punches its hole when written back. */
static void test_cache_discard_punch(void)
{
    g_autofree char *path = make_image("cache-punch.img", 1 << 20, 12);
    g_autoptr(GError) err = NULL;
    BlockBackend *blk = blk_open(path, 0, &err);
    g_autofree uint8_t *buf = g_malloc(65536);
    struct stat st1, st2, st3;

    g_assert_no_error(err);
    g_assert_cmpint(stat(path, &st1), ==, 0);
    g_assert_cmpint(
        blk_wait(blk_submit(blk, BLK_OP_DISCARD, 65536, 65536, NULL, 0, 0),
                 NULL),
        ==, 0);
    g_assert_cmpint(blk_pread(blk, 65536, buf, 65536), ==, 0);
    g_assert_true(all_bytes(buf, 65536, 0));
    g_assert_cmpint(stat(path, &st2), ==, 0);
    g_assert_cmpint(st2.st_blocks, ==, st1.st_blocks);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    g_assert_cmpint(stat(path, &st3), ==, 0);
    g_assert_cmpint(st3.st_blocks, <, st1.st_blocks);
    g_assert_cmpint(blk_pread(blk, 65536, buf, 65536), ==, 0);
    g_assert_true(all_bytes(buf, 65536, 0));
    blk_close(blk);
    g_unlink(path);
}

/* ---- mmap=on ------------------------------------------------------------ */

static uint64_t mapped_reads(BlockBackend *blk)
{
    BlkStats st;

    blk_get_stats(blk, &st);
    return st.mapped_reads;
}

/* Reads of a mapped image return what preadv returns, at any offset and
 * length, across 2 MiB chunks, into any iovec layout, and write nothing
 * past the request. */
static void test_mmap_reads(void)
{
    const uint64_t size = 5 << 20;
    g_autofree char *path = make_image("mmap-reads.img", size, 13);
    g_autofree uint8_t *orig = NULL;
    g_autofree uint8_t *a = g_malloc(size + 64), *b = g_malloc(size + 64);
    g_autoptr(GError) err = NULL;
    BlockBackend *mapped, *plain;
    uint8_t x[100], y[3000], z[8192], w[16];
    struct iovec v[4] = {
        {x, sizeof(x)}, {y, sizeof(y)}, {z, sizeof(z)}, {w, sizeof(w)}};
    const uint64_t vlen = sizeof(x) + sizeof(y) + 5000;
    gsize len;
    static const struct {
        uint64_t off, len;
    } reads[] = {
        {0, 4096},
        {1, 1},
        {511, 1025},
        {12388, 9000},
        {(2 << 20) - 1000, 3000}, /* across a chunk boundary */
        {(5 << 20) - 512, 512},   /* the last sector */
        {0, 5 << 20},             /* everything */
    };

    orig = file_bytes(path, &len);
    /* Read locks: both open the image at once. */
    mapped = blk_open(path, BLK_OPEN_READONLY | BLK_OPEN_MMAP, &err);
    g_assert_no_error(err);
    plain = blk_open(path, BLK_OPEN_READONLY, &err);
    g_assert_no_error(err);
    for (unsigned i = 0; i < G_N_ELEMENTS(reads); i++) {
        uint64_t off = reads[i].off, n = reads[i].len;

        fill(a, n + 64, 0xee);
        fill(b, n + 64, 0xee);
        g_assert_cmpint(blk_pread(mapped, off, a, n), ==, 0);
        g_assert_cmpint(blk_pread(plain, off, b, n), ==, 0);
        g_assert_true(memcmp(a, b, n + 64) == 0);
        g_assert_true(memcmp(a, orig + off, n) == 0);
        g_assert_true(all_bytes(a + n, 64, 0xee));
    }
    g_assert_cmpuint(mapped_reads(mapped), ==, G_N_ELEMENTS(reads));
    g_assert_cmpuint(mapped_reads(plain), ==, 0);
    /* Several iovecs, the third longer than what is left of the request,
     * a fourth past its end. */
    fill(x, sizeof(x), 0xee);
    fill(y, sizeof(y), 0xee);
    fill(z, sizeof(z), 0xee);
    fill(w, sizeof(w), 0xee);
    g_assert_cmpint(
        blk_wait(blk_submit(mapped, BLK_OP_READ, 777, vlen, v, 4, 0), NULL), ==,
        0);
    g_assert_true(memcmp(x, orig + 777, sizeof(x)) == 0);
    g_assert_true(memcmp(y, orig + 777 + sizeof(x), sizeof(y)) == 0);
    g_assert_true(memcmp(z, orig + 777 + sizeof(x) + sizeof(y), 5000) == 0);
    g_assert_true(all_bytes(z + 5000, sizeof(z) - 5000, 0xee));
    g_assert_true(all_bytes(w, sizeof(w), 0xee));
    g_assert_cmpuint(mapped_reads(mapped), ==, G_N_ELEMENTS(reads) + 1);
    blk_close(plain);
    blk_close(mapped);
    g_unlink(path);
}

/* Mapped reads see the write cache (all of a range, part of it, FUA
 * reads writing it back first) and writes made durable at once. */
static void test_mmap_writes(void)
{
    const uint64_t size = 1 << 20;
    g_autofree char *path = make_image("mmap-writes.img", size, 14);
    g_autofree uint8_t *model = NULL, *img = NULL;
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    uint8_t a[1024], b[4096], c[1536];
    uint64_t n0;
    gsize len;

    model = file_bytes(path, &len);
    blk = blk_open(path, BLK_OPEN_MMAP, &err);
    g_assert_no_error(err);
    g_assert_true(blk_write_cache(blk));
    fill(a, sizeof(a), 0xa1);
    fill(b, sizeof(b), 0xb2);
    write_both(blk, model, 512, a, sizeof(a));
    write_both(blk, model, 8192, b, sizeof(b));
    n0 = mapped_reads(blk);
    assert_view(blk, model, 8192, 4096); /* all cached: not mapped */
    g_assert_cmpuint(mapped_reads(blk), ==, n0);
    assert_view(blk, model, 6000, 4096); /* in part: mapped, patched */
    assert_view(blk, model, 0, 4096);
    assert_view(blk, model, 300, 700);
    g_assert_cmpuint(mapped_reads(blk), ==, n0 + 3);
    assert_view(blk, model, 0, size);
    /* FUA: the range's cached data goes to the image, then the copy. */
    {
        g_autofree uint8_t *view = g_malloc(8192);
        struct iovec v = {view, 8192};

        g_assert_cmpint(
            blk_wait(blk_submit(blk, BLK_OP_READ, 0, 8192, &v, 1, BLK_REQ_FUA),
                     NULL),
            ==, 0);
        g_assert_true(memcmp(view, model, 8192) == 0);
    }
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 4096);
    img = file_bytes(path, &len);
    g_assert_true(memcmp(img, model, 8192) == 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    assert_view(blk, model, 0, size);
    /* Write-through: the data is in the page cache the mapping shows. */
    blk_set_write_cache(blk, false);
    fill(c, sizeof(c), 0xc3);
    write_both(blk, model, 65536 + 512, c, sizeof(c));
    n0 = mapped_reads(blk);
    assert_view(blk, model, 65536, 8192);
    g_assert_cmpint(
        blk_wait(blk_submit(blk, BLK_OP_DISCARD, 131072, 8192, NULL, 0, 0),
                 NULL),
        ==, 0);
    memset(model + 131072, 0, 8192);
    assert_view(blk, model, 131072 - 512, 8192 + 1024);
    g_assert_cmpuint(mapped_reads(blk), ==, n0 + 2);
    blk_close(blk);
    g_free(img);
    img = file_bytes(path, &len);
    g_assert_true(memcmp(img, model, size) == 0);
    g_unlink(path);
}

/* A mapped read after a write still in flight on the host waits for it
 * (only if they overlap); a temporary image can be mapped too. */
static void test_mmap_in_flight(void)
{
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    uint8_t buf[4096], out[4096];
    struct iovec v = {buf, sizeof(buf)}, o = {out, sizeof(out)};
    BlkRequest *w, *r;

    g_assert_true(aio_set_engine(AIO_ENGINE_DEFERRED, &err));
    blk = blk_new_temp(1 << 20, BLK_OPEN_MMAP, &err);
    g_assert_no_error(err);
    blk_set_write_cache(blk, false);
    fill(buf, sizeof(buf), 0x6b);
    w = blk_submit(blk, BLK_OP_WRITE, 8192, sizeof(buf), &v, 1, 0);
    g_assert_cmpuint(aio_in_flight(), ==, 1);
    /* Elsewhere: no wait, no host I/O, over at once. */
    fill(out, sizeof(out), 0xee);
    r = blk_submit(blk, BLK_OP_READ, 16384, sizeof(out), &o, 1, 0);
    g_assert_cmpuint(aio_in_flight(), ==, 1);
    g_assert_cmpint(blk_wait(r, NULL), ==, 0);
    g_assert_true(all_bytes(out, sizeof(out), 0));
    /* Over the write: it lands first. */
    r = blk_submit(blk, BLK_OP_READ, 8192 + 512, 1024, &o, 1, 0);
    g_assert_cmpuint(aio_in_flight(), ==, 0);
    g_assert_cmpint(blk_wait(r, NULL), ==, 0);
    g_assert_true(all_bytes(out, 1024, 0x6b));
    g_assert_cmpint(blk_wait(w, NULL), ==, 0);
    g_assert_cmpuint(mapped_reads(blk), ==, 2);
    blk_close(blk);
    aio_shutdown();
}

/* snapshot=on: reads touching the overlay take the normal path, the
 * others the mapping; the image is never written. */
static void test_mmap_snapshot(void)
{
    const uint64_t size = 1 << 20;
    g_autofree char *path = make_image("mmap-snap.img", size, 15);
    g_autofree uint8_t *orig = NULL, *model = NULL, *after = NULL;
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    uint8_t a[1024], b[4096];
    uint64_t n0;
    gsize len;

    orig = file_bytes(path, &len);
    model = g_memdup2(orig, size);
    blk = blk_open(path, BLK_OPEN_SNAPSHOT | BLK_OPEN_MMAP, &err);
    g_assert_no_error(err);
    blk_set_write_cache(blk, false); /* straight to the overlay */
    fill(a, sizeof(a), 0x5a);
    write_both(blk, model, 4096 + 512, a, sizeof(a));
    n0 = mapped_reads(blk);
    assert_view(blk, model, 0, 4096);           /* image only */
    assert_view(blk, model, 4096 + 1536, 2560); /* image only, after it */
    g_assert_cmpuint(mapped_reads(blk), ==, n0 + 2);
    assert_view(blk, model, 4096, 4096);       /* both */
    assert_view(blk, model, 4096 + 512, 1024); /* overlay only */
    assert_view(blk, model, 0, size);
    g_assert_cmpuint(mapped_reads(blk), ==, n0 + 2);
    /* Cached writes over the image: mapped and patched until the flush
     * moves them to the overlay. */
    blk_set_write_cache(blk, true);
    fill(b, sizeof(b), 0xb5);
    write_both(blk, model, 65536, b, sizeof(b));
    assert_view(blk, model, 65536 - 2048, 8192);
    g_assert_cmpuint(mapped_reads(blk), ==, n0 + 3);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    assert_view(blk, model, 65536 - 2048, 8192);
    g_assert_cmpuint(mapped_reads(blk), ==, n0 + 3);
    blk_close(blk);
    after = file_bytes(path, &len);
    g_assert_true(memcmp(after, orig, size) == 0);
    g_unlink(path);
}

/* mmap=on reads the page cache that cache=none bypasses: refused, naming
 * the conflict (and the drive, from -drive options). */
static void test_mmap_nocache(void)
{
    g_autofree char *path = make_image("mmap-direct.img", 64 * 1024, 16);
    g_autofree char *opts =
        g_strdup_printf("id=d0,file=%s,cache=none,mmap=on", path);
    g_autoptr(GError) err = NULL;
    Opts *o;

    g_assert_null(blk_open(path, BLK_OPEN_NOCACHE | BLK_OPEN_MMAP, &err));
    g_assert_error(err, STOREMU_ERROR, STOREMU_ERROR_CONFIG);
    g_assert_nonnull(strstr(err->message, "mmap=on cannot go with cache=none"));
    g_clear_error(&err);
    g_assert_null(blk_new_temp(4096, BLK_OPEN_NOCACHE | BLK_OPEN_MMAP, &err));
    g_assert_error(err, STOREMU_ERROR, STOREMU_ERROR_CONFIG);
    g_clear_error(&err);
    o = opts_parse(&drive_schema, opts, &err);
    g_assert_no_error(err);
    g_assert_null(blk_new_from_opts(o, &err));
    g_assert_error(err, STOREMU_ERROR, STOREMU_ERROR_CONFIG);
    g_assert_true(g_str_has_prefix(err->message, "-drive d0: mmap=on"));
    g_assert_nonnull(strstr(err->message, "cache=writeback"));
    g_assert_null(blk_find("d0"));
    opts_free(o);
    /* The image is not left locked. */
    g_clear_error(&err);
    blk_close(blk_open(path, 0, &err));
    g_assert_no_error(err);
    g_unlink(path);
}

/* The file shrinks under a mapped backend: reads past the new end fail
 * with EIO (SIGBUS caught), the rest still read, one warning. */
static void test_mmap_shrunk(void)
{
    const uint64_t size = 8 << 20;
    g_autofree char *path = make_image("mmap-shrunk.img", size, 17);
    g_autofree uint8_t *orig = NULL;
    g_autofree uint8_t *buf = g_malloc(8192);
    g_autoptr(GError) err = NULL;
    struct iovec v = {buf, 8192};
    BlockBackend *blk;
    uint64_t err_off = 0;
    gsize len;
    int fd;

    orig = file_bytes(path, &len);
    blk = blk_open(path, BLK_OPEN_READONLY | BLK_OPEN_MMAP, &err);
    g_assert_no_error(err);
    /* Chunks mapped before the truncation fault as well after it. */
    g_assert_cmpint(blk_pread(blk, 0, buf, 4096), ==, 0);
    g_assert_cmpint(blk_pread(blk, 5 << 20, buf, 4096), ==, 0);
    g_assert_true(memcmp(buf, orig + (5 << 20), 4096) == 0);
    fd = open(path, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 32 * 1024), ==, 0);
    close(fd);
    g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*shrank*");
    g_assert_cmpint(
        blk_wait(blk_submit(blk, BLK_OP_READ, 30 * 1024, 4096, &v, 1, 0),
                 &err_off),
        ==, -EIO);
    g_test_assert_expected_messages();
    g_assert_cmpuint(err_off, ==, 32 * 1024);
    /* Again, in a populated chunk and in a new one: no new warning. */
    g_assert_cmpint(blk_pread(blk, 5 << 20, buf, 4096), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, 7 << 20, buf, 8192), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, 4096, buf, 8192), ==, 0);
    g_assert_true(memcmp(buf, orig + 4096, 8192) == 0);
    g_assert_cmpuint(mapped_reads(blk), ==, 6);
    blk_close(blk);
    g_unlink(path);
}

/* Any other SIGBUS still ends the process, a fault as well as a sent
 * signal: the handler passes on what it does not own. */
static void test_mmap_foreign_sigbus(gconstpointer data)
{
    bool fault = GPOINTER_TO_INT(data);

    if (g_test_subprocess()) {
        g_autoptr(GError) err = NULL;
        BlockBackend *blk = blk_new_temp(1 << 20, BLK_OPEN_MMAP, &err);
        uint8_t buf[512];
        struct rlimit nocore = {0, 0};

        /* A file of our own, mapped past its end. */
        int fd = open(tmpdir, O_TMPFILE | O_RDWR, 0600);
        volatile uint8_t *p;

        g_assert_no_error(err);
        g_assert_cmpint(blk_pread(blk, 0, buf, sizeof(buf)), ==, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(ftruncate(fd, 4096), ==, 0);
        p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
        g_assert_true(p != MAP_FAILED);
        /* This process ends here: leave nothing behind. */
        g_rmdir(tmpdir);
        setrlimit(RLIMIT_CORE, &nocore);
        if (fault) {
            (void)p[4096];
        } else {
            raise(SIGBUS);
        }
        exit(0); /* not reached */
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
}

/* ---- engines and ordering ------------------------------------------ */

typedef struct EngineCase {
    const char *name;
    AioEngine engine;
} EngineCase;

static const EngineCase engine_cases[] = {
    {"io_uring", AIO_ENGINE_URING},
    {"threads", AIO_ENGINE_THREADS},
    {"sync", AIO_ENGINE_SYNC},
    {"deferred", AIO_ENGINE_DEFERRED},
};

/*
 * Many requests in flight at once, overlapping writes among them: the
 * result is what submission order says, with every engine.
 */
static void test_engine(gconstpointer data)
{
    const EngineCase *c = data;
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    enum { N = 64 };
    BlkRequest *reqs[N];
    static uint8_t bufs[N][4096];
    uint8_t out[4096];
    struct iovec v[N];

    if (!aio_set_engine(c->engine, &err)) {
        g_test_skip(err->message);
        return;
    }
    g_assert_cmpint(aio_engine(), ==, c->engine);
    blk = blk_new_temp(1 << 20, 0, &err);
    g_assert_no_error(err);
    /* With the write cache the writes stay in memory; without it they all
     * go to the host at once. */
    for (int pass = 0; pass < 2; pass++) {
        blk_set_write_cache(blk, pass == 0);
        blk_io_plug();
        for (int i = 0; i < N; i++) {
            /* Requests i and i + 8 write the same 4 KiB: the later wins. */
            fill(bufs[i], 4096, (uint8_t)(i + 1 + pass));
            v[i].iov_base = bufs[i];
            v[i].iov_len = 4096;
            reqs[i] = blk_submit(blk, BLK_OP_WRITE, (i % 8) * 4096, 4096, &v[i],
                                 1, 0);
        }
        blk_io_unplug();
        if (pass == 0) {
            g_assert_cmpuint(aio_in_flight(), ==, 0); /* all cached */
        } else if (c->engine == AIO_ENGINE_DEFERRED) {
            /* Each write waited for the earlier one to its block. */
            g_assert_cmpuint(aio_in_flight(), ==, 8);
        }
        if (c->engine == AIO_ENGINE_DEFERRED) {
            /* Host completes newest first: must not change the result. */
            aio_deferred_run(true);
        }
        for (int i = N - 1; i >= 0; i--) {
            g_assert_cmpint(blk_wait(reqs[i], NULL), ==, 0);
        }
        g_assert_cmpuint(aio_in_flight(), ==, 0);
        for (int k = 0; k < 8; k++) {
            g_assert_cmpint(blk_pread(blk, k * 4096, out, 4096), ==, 0);
            g_assert_true(
                all_bytes(out, 4096, (uint8_t)(N - 8 + k + 1 + pass)));
        }
    }
    /* A read submitted after a write sees it, whichever finishes first
     * on the host. */
    fill(bufs[0], 4096, 0xab);
    reqs[0] = blk_submit(blk, BLK_OP_WRITE, 0, 4096, &v[0], 1, 0);
    v[1].iov_base = out;
    reqs[1] = blk_submit(blk, BLK_OP_READ, 0, 4096, &v[1], 1, 0);
    if (c->engine == AIO_ENGINE_DEFERRED) {
        aio_deferred_run(true);
    }
    g_assert_cmpint(blk_wait(reqs[1], NULL), ==, 0);
    g_assert_cmpint(blk_wait(reqs[0], NULL), ==, 0);
    g_assert_true(all_bytes(out, 4096, 0xab));
    blk_close(blk);
    aio_shutdown();
}

/* One 512-byte read of @fd through the engine. */
static int64_t engine_read(int fd, uint8_t *buf)
{
    struct iovec v = {buf, 512};
    AioOp op = {.type = AIO_OP_READ, .fd = fd, .iov = &v, .iovcnt = 1};

    aio_submit(&op);
    aio_wait(&op);
    return op.result;
}

/* blk_submit_in()'s plain read of 4096 bytes at @offset into @v, in
 * @st, waited for: its blk_wait() result (*@err_off as blk_wait sets it). */
static int read_4k(BlkRequestStorage *st, BlockBackend *blk, uint64_t offset,
                   struct iovec *v, uint64_t *err_off)
{
    return blk_wait(blk_submit_in(st, blk, BLK_OP_READ, offset, 4096, v, 1, 0),
                    err_off);
}

/*
 * blk_submit_in()'s plain read (and blk_read_in()'s) follows what can
 * make a read more than a file read: cached data, an error rule
 * (consumed or cleared), and on every engine a write or flush after reads
 * still in flight (or run at submission, which are then not tracked)
 * keeps submission order.
 */
static void test_submit_in_read_path(gconstpointer data)
{
    const EngineCase *c = data;
    g_autoptr(GError) err = NULL;
    BlockBackend *blk;
    enum { N = 8 };
    static BlkRequestStorage st[N];
    static uint8_t bufs[N][4096];
    uint8_t wbuf[4096];
    struct iovec v[N], wv = {wbuf, sizeof(wbuf)};
    BlkRequest *reqs[N], *w;
    uint64_t off = 0;

    if (!aio_set_engine(c->engine, &err)) {
        g_test_skip(err->message);
        return;
    }
    memset(st, 0, sizeof(st));
    blk = blk_new_temp(1 << 20, 0, &err);
    g_assert_no_error(err);
    for (int i = 0; i < N; i++) {
        v[i] = (struct iovec){bufs[i], 4096};
    }
    /* A cached write is seen by the next read; after the flush the read
     * goes to the file again. */
    fill(wbuf, sizeof(wbuf), 0x21);
    g_assert_cmpint(blk_pwrite(blk, 4096, wbuf, 4096, 0), ==, 0);
    g_assert_cmpuint(blk_cache_dirty_bytes(blk), ==, 4096);
    g_assert_cmpint(read_4k(&st[0], blk, 4096, &v[0], NULL), ==, 0);
    g_assert_true(all_bytes(bufs[0], 4096, 0x21));
    /* blk_read_in() is the same read, in the request its storage holds. */
    blk_read_in(&st[1], blk, 4096, 4096, &v[1], 1);
    g_assert_cmpint(blk_wait(blk_storage_request(&st[1]), NULL), ==, 0);
    g_assert_true(all_bytes(bufs[1], 4096, 0x21));
    g_assert_cmpint(blk_flush(blk), ==, 0);
    memset(bufs[0], 0, 4096);
    g_assert_cmpint(read_4k(&st[0], blk, 4096, &v[0], NULL), ==, 0);
    g_assert_true(all_bytes(bufs[0], 4096, 0x21));
    /* A rule for one read: it fails once, then the range reads again. */
    blk_inject_error(blk, EIO, BLK_OP_BIT(BLK_OP_READ), 4096, 1, 1);
    g_assert_cmpint(read_4k(&st[0], blk, 0, &v[0], NULL), ==, 0);
    g_assert_cmpint(read_4k(&st[0], blk, 4096, &v[0], &off), ==, -EIO);
    g_assert_cmpuint(off, ==, 4096);
    memset(bufs[0], 0, 4096);
    g_assert_cmpint(read_4k(&st[0], blk, 4096, &v[0], NULL), ==, 0);
    g_assert_true(all_bytes(bufs[0], 4096, 0x21));
    /* A rule that matches nothing read here, cleared: reads are plain. */
    blk_inject_error(blk, EIO, BLK_OP_BIT(BLK_OP_READ), 1 << 19, 0, 0);
    blk_clear_injected_errors(blk);
    /* Reads in flight, then a write through to the host over them and a
     * flush: the reads see the data from before the write. */
    blk_set_write_cache(blk, false);
    for (int i = 0; i < N; i++) {
        if (i % 2) {
            blk_read_in(&st[i], blk, 4096, 4096, &v[i], 1);
            reqs[i] = blk_storage_request(&st[i]);
            continue;
        }
        reqs[i] =
            blk_submit_in(&st[i], blk, BLK_OP_READ, 4096, 4096, &v[i], 1, 0);
        g_assert_true(reqs[i] == blk_storage_request(&st[i]));
    }
    fill(wbuf, sizeof(wbuf), 0x43);
    w = blk_submit(blk, BLK_OP_WRITE, 4096, 4096, &wv, 1, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    g_assert_cmpint(blk_wait(w, NULL), ==, 0);
    for (int i = 0; i < N; i++) {
        g_assert_cmpint(blk_wait(reqs[i], NULL), ==, 0);
        g_assert_true(all_bytes(bufs[i], 4096, 0x21));
    }
    g_assert_cmpint(read_4k(&st[0], blk, 4096, &v[0], NULL), ==, 0);
    g_assert_true(all_bytes(bufs[0], 4096, 0x43));
    blk_close(blk);
    aio_shutdown();
}

/*
 * blk_submit_in()'s plain read that comes up short (the image shrank
 * under it) fails with -EIO on every engine, whether the engine ran it
 * inside the call (untracked: blk_wait() has nothing to wait for) or
 * holds it; the storage then serves the next read.
 */
static void test_submit_in_short_read(gconstpointer data)
{
    const EngineCase *c = data;
    g_autofree char *path = make_image("short-in.img", 64 * 1024, 7);
    g_autoptr(GError) err = NULL;
    static BlkRequestStorage st;
    uint8_t buf[4096], want[4096];
    struct iovec v = {buf, sizeof(buf)};
    BlockBackend *blk;

    if (!aio_set_engine(c->engine, &err)) {
        g_test_skip(err->message);
        g_unlink(path);
        return;
    }
    memset(&st, 0, sizeof(st));
    blk = blk_open(path, BLK_OPEN_READONLY, &err);
    g_assert_no_error(err);
    g_assert_cmpint(blk_pread(blk, 4096, want, sizeof(want)), ==, 0);
    g_assert_cmpint(truncate(path, 32 * 1024), ==, 0);
    g_assert_cmpint(blk_wait(blk_submit_in(&st, blk, BLK_OP_READ, 30 * 1024,
                                           4096, &v, 1, 0),
                             NULL),
                    ==, -EIO);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(
        blk_wait(blk_submit_in(&st, blk, BLK_OP_READ, 4096, 4096, &v, 1, 0),
                 NULL),
        ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), want, sizeof(want));
    blk_close(blk);
    aio_shutdown();
    g_unlink(path);
}

/*
 * A file closed after ops named it, and another opened with the same
 * descriptor number: ops on the number reach the new file. (io_uring
 * keeps files it has seen registered, and would read the old one.)
 */
static void test_engine_fd_reuse(gconstpointer data)
{
    const EngineCase *c = data;
    g_autoptr(GError) err = NULL;
    g_autofree char *a = g_build_filename(tmpdir, "reuse-a", NULL);
    g_autofree char *b = g_build_filename(tmpdir, "reuse-b", NULL);
    uint8_t buf[512], in[512];
    int fa, fb;

    if (!aio_set_engine(c->engine, &err)) {
        g_test_skip(err->message);
        return;
    }
    memset(buf, 0x11, sizeof(buf));
    g_assert_true(g_file_set_contents(a, (char *)buf, sizeof(buf), NULL));
    memset(buf, 0x22, sizeof(buf));
    g_assert_true(g_file_set_contents(b, (char *)buf, sizeof(buf), NULL));
    fa = open(a, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fa, >=, 0);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(engine_read(fa, in), ==, 512);
        g_assert_true(all_bytes(in, 512, 0x11));
    }
    aio_forget_fd(fa);
    close(fa);
    fb = open(b, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fb, ==, fa); /* the lowest free number */
    g_assert_cmpint(engine_read(fb, in), ==, 512);
    g_assert_true(all_bytes(in, 512, 0x22));
    close(fb);
    g_unlink(a);
    g_unlink(b);
    aio_shutdown();
}

/*
 * More files than io_uring has registration slots (64): the files past
 * the table are read through their descriptors, and each file reads its
 * own bytes, the first time and later, registered or not.
 */
static void test_engine_many_files(gconstpointer data)
{
    const EngineCase *c = data;
    g_autoptr(GError) err = NULL;
    enum { N = 70 };
    int fds[N];
    uint8_t buf[512], in[512];

    if (!aio_set_engine(c->engine, &err)) {
        g_test_skip(err->message);
        return;
    }
    for (int i = 0; i < N; i++) {
        g_autofree char *name = g_strdup_printf("many-%d", i);
        g_autofree char *path = g_build_filename(tmpdir, name, NULL);

        memset(buf, i + 1, sizeof(buf));
        g_assert_true(
            g_file_set_contents(path, (char *)buf, sizeof(buf), NULL));
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fds[i], >=, 0);
        g_unlink(path);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            g_assert_cmpint(engine_read(fds[i], in), ==, 512);
            g_assert_true(all_bytes(in, 512, (uint8_t)(i + 1)));
        }
    }
    for (int i = 0; i < N; i++) {
        aio_forget_fd(fds[i]);
        close(fds[i]);
    }
    aio_shutdown();
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-block-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);

    for (unsigned i = 0; i < G_N_ELEMENTS(open_cases); i++) {
        g_autofree char *n =
            g_strdup_printf("/block/open-error/%s", open_cases[i].name);
        g_test_add_data_func(n, &open_cases[i], test_open_errors);
    }
    g_test_add_func("/block/temp/errors", test_temp_errors);
    g_test_add_func("/block/temp/io", test_temp_image);
    for (unsigned i = 0; i < G_N_ELEMENTS(lock_cases); i++) {
        g_autofree char *n =
            g_strdup_printf("/block/lock/%s", lock_cases[i].name);
        g_test_add_data_func(n, &lock_cases[i], test_lock);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(drive_cases); i++) {
        g_autofree char *n = g_strdup_printf("/block/drive-opts/%u", i);
        g_test_add_data_func(n, &drive_cases[i], test_drive_opts);
    }
    g_test_add_func("/block/attach-once", test_attach_once);
    g_test_add_func("/block/snapshot/overlay", test_snapshot_overlay);
    g_test_add_func("/block/snapshot/overlay-runs", test_snapshot_overlay_runs);
    for (unsigned i = 0; i < G_N_ELEMENTS(cache_cases); i++) {
        g_autofree char *n =
            g_strdup_printf("/block/power-cut/%s", cache_cases[i].name);
        g_test_add_data_func(n, &cache_cases[i], test_power_cut);
    }
    g_test_add_func("/block/cache-limit", test_cache_limit);
    g_test_add_func("/block/cache/reads", test_cache_reads);
    g_test_add_func("/block/cache/no-host-io", test_cache_no_host_io);
    g_test_add_func("/block/cache/write-back", test_cache_write_back);
    g_test_add_func("/block/cache/bound-no-sync", test_cache_bound_no_sync);
    g_test_add_func("/block/cache/limit-change", test_cache_limit_change);
    g_test_add_func("/block/cache/discard-punch", test_cache_discard_punch);
    g_test_add_func("/block/inject", test_inject);
    g_test_add_func("/block/submit-in", test_submit_in);
    g_test_add_func("/block/short-read", test_short_read);
    g_test_add_func("/block/discard", test_discard);
    g_test_add_func("/block/nocache", test_nocache);
    g_test_add_func("/block/snapshot/nocache", test_snapshot_nocache);
    g_test_add_func("/block/mmap/reads", test_mmap_reads);
    g_test_add_func("/block/mmap/writes", test_mmap_writes);
    g_test_add_func("/block/mmap/in-flight", test_mmap_in_flight);
    g_test_add_func("/block/mmap/snapshot", test_mmap_snapshot);
    g_test_add_func("/block/mmap/nocache", test_mmap_nocache);
    g_test_add_func("/block/mmap/shrunk", test_mmap_shrunk);
    g_test_add_data_func("/block/mmap/foreign-sigbus/fault", GINT_TO_POINTER(1),
                         test_mmap_foreign_sigbus);
    g_test_add_data_func("/block/mmap/foreign-sigbus/sent", GINT_TO_POINTER(0),
                         test_mmap_foreign_sigbus);
    for (unsigned i = 0; i < G_N_ELEMENTS(engine_cases); i++) {
        g_autofree char *n =
            g_strdup_printf("/block/engine/%s", engine_cases[i].name);
        g_test_add_data_func(n, &engine_cases[i], test_engine);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(engine_cases); i++) {
        g_autofree char *n = g_strdup_printf("/block/submit-in/read-path/%s",
                                             engine_cases[i].name);
        g_test_add_data_func(n, &engine_cases[i], test_submit_in_read_path);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(engine_cases); i++) {
        g_autofree char *n = g_strdup_printf("/block/submit-in/short-read/%s",
                                             engine_cases[i].name);
        g_test_add_data_func(n, &engine_cases[i], test_submit_in_short_read);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(engine_cases); i++) {
        g_autofree char *n =
            g_strdup_printf("/block/engine/fd-reuse/%s", engine_cases[i].name);
        g_test_add_data_func(n, &engine_cases[i], test_engine_fd_reuse);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(engine_cases); i++) {
        g_autofree char *n = g_strdup_printf("/block/engine/many-files/%s",
                                             engine_cases[i].name);
        g_test_add_data_func(n, &engine_cases[i], test_engine_many_files);
    }
    ret = g_test_run();
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return ret;
}
