/* SPDX-License-Identifier: MIT */
/*
 * Block backends: raw disk images behind the emulated disks (the -drive
 * option, docs/block.md).
 *
 * A BlockBackend is one open image: a file or block device, a temporary
 * sparse file (size= without file=), optionally with a temporary overlay
 * that keeps every write away from the image (snapshot=on). Requests move
 * data straight between the image and caller-supplied host iovecs (guest
 * RAM, mapped by hw/block/dma-sg.h), asynchronously through hw/block/aio.h:
 * blk_submit() issues the host I/O and returns at once, blk_wait() waits for
 * it. Requests that touch the same bytes (with at least one writer) act in
 * submission order whatever the host does, so results never depend on host
 * timing. With mmap=on, reads are instead copied out of a read-only shared
 * mapping of the image (the same page cache, no system call).
 *
 * The backend also models the disk's volatile write cache. With it enabled
 * a write is acknowledged "from the cache": only a flush or a FUA write
 * makes it durable, and blk_power_cut() undoes exactly the writes that were
 * not. The model keeps the data of cached writes in memory (per 4 KiB
 * block, with a mask of the sectors held) and reads look there first; the
 * image file only receives durable data, so a power cut just forgets the
 * cache. The cache is bounded (blk_set_cache_limit): a write that would
 * exceed the bound first writes the cache back, as a real cache may do at
 * any time.
 *
 * Configuration errors (GError) say what is wrong and what to do; host I/O
 * errors come back from blk_wait() as -errno for the device to turn into
 * its own error status. Return convention: constructors return a pointer
 * or NULL with @errp set; I/O returns 0 or -errno.
 */
#ifndef HW_BLOCK_BLOCK_H
#define HW_BLOCK_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>
#include "system/opts.h"

typedef struct BlockBackend BlockBackend;
typedef struct BlkRequest BlkRequest;

/* blk_open() / blk_new_temp() flags. */
enum {
    BLK_OPEN_READONLY = 1u << 0, /* the guest may not write */
    BLK_OPEN_SNAPSHOT = 1u << 1, /* writes go to a temporary overlay */
    BLK_OPEN_NOCACHE = 1u << 2,  /* cache=none: O_DIRECT, bounce if needed */
    BLK_OPEN_UNSAFE = 1u << 3,   /* cache=unsafe: host flushes skipped */
    BLK_OPEN_MMAP = 1u << 4,     /* mmap=on: reads copy from a mapping */
};

typedef enum BlkOp {
    BLK_OP_READ,
    BLK_OP_WRITE,
    BLK_OP_FLUSH,
    BLK_OP_DISCARD,      /* punch a hole; reads return zeros after */
    BLK_OP_WRITE_ZEROES, /* write zeros, keeping the range allocated */
    BLK_OP_COUNT
} BlkOp;

#define BLK_OP_BIT(op) (1u << (op))
/* Request flags. */
#define BLK_REQ_FUA                                                            \
    (1u << 0) /* durable on completion (reads: write back
                                   cached data of the range first) */

/* Image sizes are multiples of this; the overlay map's granularity. */
#define BLK_SECTOR_SIZE 512u
/* Block size of the write cache (it tracks 512-byte sectors inside). */
#define BLK_CACHE_BLOCK 4096u
/* Default bound on write-cache memory (blk_set_cache_limit). */
#define BLK_CACHE_LIMIT_DEFAULT (32ULL << 20)

/* ---- creation ------------------------------------------------------- */

/*
 * Open the raw image at @path. Fails with a message saying what to do when
 * the file is missing, unreadable, read-only with writes requested (use
 * readonly=on or snapshot=on), empty, not a multiple of 512 bytes, locked
 * by another storemu (STOREMU_ERROR_BUSY), when cache=none is not
 * supported by its file system, or when BLK_OPEN_MMAP comes with
 * BLK_OPEN_NOCACHE (a mapping reads the page cache O_DIRECT bypasses) or
 * the image cannot be mapped.
 *
 * Locking (fcntl open file description locks, whole file): a write lock
 * for a writable image, a read lock for readonly and snapshot opens, so
 * any number of readers share an image and a writer excludes everyone.
 */
BlockBackend *blk_open(const char *path, unsigned flags, GError **errp);
/* A sparse temporary image of @size bytes, unlinked at once. Of the
 * flags only READONLY and MMAP apply (MMAP with NOCACHE is refused). */
BlockBackend *blk_new_temp(uint64_t size, unsigned flags, GError **errp);
/*
 * From -drive options: id (required), file, format (raw), snapshot,
 * cache (writeback|none|unsafe), readonly, mmap, size (a temporary image
 * when there is no file). The backend is registered under its id.
 */
BlockBackend *blk_new_from_opts(const Opts *o, GError **errp);

/* The registry of -drive ids. */
bool blk_register(BlockBackend *blk, const char *id, GError **errp);
BlockBackend *blk_find(const char *id);

/* Finish in-flight I/O, release the image and its lock, unregister. */
void blk_close(BlockBackend *blk);
/* Close every registered backend (machine teardown). */
void blk_close_all(void);

const char *blk_id(const BlockBackend *blk); /* NULL if unregistered */
const char *blk_filename(const BlockBackend *blk);
uint64_t blk_size(const BlockBackend *blk);
bool blk_is_readonly(const BlockBackend *blk);
bool blk_is_snapshot(const BlockBackend *blk);
/* Made by blk_new_temp(): it starts as zeros every time, has no name. */
bool blk_is_temporary(const BlockBackend *blk);

/* One device per backend: a second attach fails naming the first owner. */
bool blk_attach(BlockBackend *blk, const char *owner, GError **errp);
void blk_detach(BlockBackend *blk);

/* ---- I/O ------------------------------------------------------------ */

/*
 * Start a request. READ and WRITE move @bytes between the image at
 * @offset and @iov (which must stay valid until blk_wait() and hold at
 * least @bytes); FLUSH ignores the range; DISCARD and WRITE_ZEROES take
 * no iov. Reads may have any offset and length; writes, discards and
 * write-zeroes must be whole 512-byte sectors. A request the write cache
 * serves is over on return (no host I/O), and so is a read of a mapped
 * image (BLK_OPEN_MMAP) outside the snapshot overlay. Never returns NULL: a
 * request that cannot run (read-only image, range outside the image or
 * misaligned, an injected error) fails in blk_wait() (-EROFS, -EINVAL, the
 * injected errno).
 */
BlkRequest *blk_submit(BlockBackend *blk, BlkOp op, uint64_t offset,
                       uint64_t bytes, const struct iovec *iov, unsigned niov,
                       unsigned flags);
/*
 * Room for a request its caller keeps, in its own per-command state:
 * blk_submit_in() then takes nothing from the backend's pool. Zero it
 * before its first request; after that request's blk_wait() it is free
 * for the next one (on any backend), and holds no memory to release.
 */
typedef union BlkRequestStorage {
    uint8_t bytes[256];
    uint64_t align_u64;
    void *align_ptr;
} BlkRequestStorage;

/*
 * blk_submit() of a READ or WRITE, in @st, for a caller that has checked
 * everything blk_submit() would fail with -EINVAL or -EROFS: @offset and
 * @bytes (not 0) lie inside the image, a write is whole sectors on a
 * writable image, and @iov holds exactly @bytes in @niov iovecs. Injected
 * errors and everything after are as for blk_submit(); blk_wait() ends it.
 * Breaking the contract is a bug of the caller (it is not checked again).
 */
BlkRequest *blk_submit_in(BlkRequestStorage *st, BlockBackend *blk, BlkOp op,
                          uint64_t offset, uint64_t bytes,
                          const struct iovec *iov, unsigned niov,
                          unsigned flags);
/*
 * The request blk_submit_in() and blk_read_in() start in @st, which is
 * always the one they return: a caller may take it before the call and
 * keep nothing live across it.
 */
static inline BlkRequest *blk_storage_request(BlkRequestStorage *st)
{
    return (BlkRequest *)st;
}
/* blk_submit_in() of a BLK_OP_READ without flags (no FUA): fewer
 * arguments, none on the stack, for the read of nearly every I/O. */
void blk_read_in(BlkRequestStorage *st, BlockBackend *blk, uint64_t offset,
                 uint64_t bytes, const struct iovec *iov, unsigned niov);
/*
 * Wait for the host I/O of @req and free it. Returns 0 or -errno (EIO for
 * reads past the end of a shrunken file); with @err_offset non-NULL and
 * an error, the image offset of the first byte known to have failed (the
 * request's offset when the host does not say). On success *@err_offset
 * may be left as it was.
 */
int blk_wait(BlkRequest *req, uint64_t *err_offset);

/* Synchronous conveniences: submit + wait. */
int blk_pread(BlockBackend *blk, uint64_t offset, void *buf, uint64_t len);
int blk_pwrite(BlockBackend *blk, uint64_t offset, const void *buf,
               uint64_t len, unsigned flags);
int blk_flush(BlockBackend *blk);

/* Finish the host I/O of every request in flight (they stay valid for
 * their blk_wait(), which then returns at once). */
void blk_drain(BlockBackend *blk);

/* Batch the host submissions of everything started in between. */
void blk_io_plug(void);
void blk_io_unplug(void);

/* ---- volatile write cache model ------------------------------------- */

/* Enable or disable the cache; disabling flushes it first. */
void blk_set_write_cache(BlockBackend *blk, bool enabled);
bool blk_write_cache(const BlockBackend *blk);
/* Bound on the cache's memory, rounded up to BLK_CACHE_BLOCK; a smaller
 * bound than what is cached writes the cache back. */
void blk_set_cache_limit(BlockBackend *blk, uint64_t bytes);
/* Bytes of the image the cache holds data for (whole 4 KiB blocks). */
uint64_t blk_cache_dirty_bytes(const BlockBackend *blk);
/*
 * Power cut: every write acknowledged since the last flush that was not
 * FUA (or made durable otherwise) is lost. In-flight host I/O (durable
 * writes) finishes first; the cache is forgotten.
 */
void blk_power_cut(BlockBackend *blk);

/* ---- error injection ------------------------------------------------- */

/*
 * Make the next @count requests (0: every one, until cleared) whose op is
 * in @op_mask (BLK_OP_BIT(...); 0 means reads and writes) and which touch
 * [@offset, @offset + @len) (@len 0: to the end of the image; flushes match
 * any range) fail with -@err instead of touching the image.
 */
void blk_inject_error(BlockBackend *blk, int err, unsigned op_mask,
                      uint64_t offset, uint64_t len, unsigned count);
void blk_clear_injected_errors(BlockBackend *blk);

typedef struct BlkStats {
    uint64_t ops[BLK_OP_COUNT]; /* requests submitted, per op */
    uint64_t bytes_read, bytes_written;
    uint64_t errors;           /* requests that failed */
    uint64_t injected;         /* of which injected */
    uint64_t host_flushes;     /* fdatasync calls issued */
    uint64_t implicit_flushes; /* cache written back for its bound */
    /* O_DIRECT requests whose buffers or range were not aligned, copied
     * through an aligned buffer (a bounce buffer or the write cache). */
    uint64_t bounced;
    uint64_t power_cuts;
    uint64_t blocks_rolled_back; /* cached blocks lost to power cuts */
    /* mmap=on: reads copied out of the image's mapping (counted in ops[]
     * too), those the write cache served in part included. */
    uint64_t mapped_reads;
} BlkStats;

void blk_get_stats(const BlockBackend *blk, BlkStats *st);

#endif
