/* SPDX-License-Identifier: MIT */
/*
 * The guest programs end to end, in-process: storemu's command line and
 * machine with the gt-vdisk miniport, each run in a subprocess so its
 * output can be matched. A table gives the arguments, the miniport set-up
 * (faults, latency, units), the exit code and what the output must say.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "tests/helpers/gt-harness.h"
#include "tests/helpers/gt-vdisk.h"

typedef enum Setup {
    SET_PLAIN,
    SET_LATENCY,    /* 20 us per request: time moves, I/O overlaps */
    SET_MANY_UNITS, /* 3 targets x 2 LUNs */
    SET_NO_UNITS,
    SET_UA,           /* one UNIT ATTENTION */
    SET_LOSE_WRITE,   /* LBA 100's first write is lost */
    SET_CORRUPT_READ, /* LBA 5 reads back with a flipped byte */
    SET_MEDIUM_ERROR, /* one unrecoverable read error */
    SET_SMALL_RAM_IO, /* nothing special: the RAM limit is the point */
} Setup;

typedef struct ProgCase {
    const char *path;
    const char *args;
    Setup setup;
    int exit_code;
    const char *out[4]; /* globs the stdout must match */
    const char *err;    /* glob the stderr must match, or NULL */
} ProgCase;

#define VD "-miniport gt-vdisk "

static const ProgCase cases[] = {
    {"boot/inventory",
     VD "-guest boot",
     SET_PLAIN,
     0,
     {"*1 logical unit*", "*STOREMU  GT VDISK*8192 x 512 = 4 MiB*",
      "*read LBA 8184-8191: ok*", "*boot: ok*"}},
    {"boot/many-units",
     VD "-guest boot,reads=1",
     SET_MANY_UNITS,
     0,
     {"*6 logical units*", "*2:1*", "*boot: ok*"}},
    {"boot/no-units",
     VD "-guest boot",
     SET_NO_UNITS,
     1,
     {"*no logical unit found*"}},
    {"boot/unit-attention-retried",
     VD "-guest boot",
     SET_UA,
     0,
     {"*retries: unit-attention 1*", "*boot: ok*"}},
    {"boot/retry-off",
     VD "-guest boot,retry=off",
     SET_UA,
     1,
     {"*FAILED: CHECK CONDITION: UNIT ATTENTION 06/29/00*"}},
    {"boot/no-miniport",
     "-guest boot",
     SET_PLAIN,
     2,
     {NULL},
     "*boot: drives a miniport*"},
    {"verify/ok",
     VD "-guest verify,bs=16K,qd=8,passes=2",
     SET_LATENCY,
     0,
     {"*LBA 0-8191 (4 MiB)*", "*pass 2*8192 blocks: 0 bad*",
      "*verify: ok: 16384 blocks verified*"}},
    {"verify/lost-write",
     VD "-guest verify,bs=4K",
     SET_LOSE_WRITE,
     1,
     {"*LBA 100: never written*", "*FAILED: 1 bad block (never written*"}},
    {"verify/corrupt-read",
     VD "-guest verify,lba=0-63",
     SET_CORRUPT_READ,
     1,
     {"*LBA 5: corrupted*", "*(corrupted 1)*"}},
    {"verify/io-error",
     VD "-guest verify,retry=off,size=64K",
     SET_MEDIUM_ERROR,
     1,
     {"*MEDIUM ERROR 03/11/00*", "*1 I/O error*"}},
    {"verify/lba-beyond",
     VD "-guest verify,lba=0-9000",
     SET_PLAIN,
     2,
     {NULL},
     "*verify: lba: '0-9000' goes beyond*8191*"},
    {"verify/lba-and-size",
     VD "-guest verify,lba=0-9,size=1M",
     SET_PLAIN,
     2,
     {NULL},
     "*verify: size: give lba= or size=*"},
    {"verify/no-such-lun",
     VD "-guest verify,lun=3",
     SET_PLAIN,
     2,
     {NULL},
     "*verify: lun: no LUN 3 (1 found*"},
    {"iobench/randrw-verify",
     VD "-guest iobench,rw=randrw,iodepth=8,count=300,verify=on",
     SET_LATENCY,
     0,
     {"*read : ios=*IOPS=*", "*write: ios=*lat (us): min=*p99.9=*",
      "*host: 300 I/Os in*host ns per I/O*",
      "*verify: * blocks checked, "
      "0 bad*"}},
    {"iobench/json",
     VD "-guest iobench,count=50,format=json",
     SET_LATENCY,
     0,
     {"*\n{\"program\":\"iobench\",*\"read\":{\"ios\":50,*\"p99.9\":*}\n*",
      "*\"host\":{\"ios\":50,*"}},
    {"iobench/jobs-need-vcpus",
     VD "-guest iobench,jobs=2",
     SET_PLAIN,
     2,
     {NULL},
     "*iobench: jobs: 2 jobs need 2 vCPUs; the machine has 1*"},
    {"iobench/two-jobs",
     "-smp 2 " VD "-guest iobench,jobs=2,iodepth=4,count=100,rw=randwrite",
     SET_LATENCY,
     0,
     {"*jobs=2*", "*write: ios=200 *"}},
    {"iobench/runtime",
     VD "-guest iobench,runtime=5ms,iodepth=4",
     SET_LATENCY,
     0,
     {"*virtual: * I/Os in 0.00*"}},
    {"iobench/runtime-frozen-clock",
     VD "-guest iobench,runtime=5ms",
     SET_PLAIN,
     0,
     {"*the virtual clock did not move*"}},
    {"iobench/region-too-small",
     VD "-guest iobench,bs=16M",
     SET_PLAIN,
     2,
     {NULL},
     "*iobench: size: a region of 4194304 bytes holds less than "
     "one 16777216-byte I/O per job (jobs=1)*"},
    {"iobench/io-error",
     VD "-guest iobench,count=20,retry=off,rw=read",
     SET_MEDIUM_ERROR,
     1,
     {"*job 0: read of LBA * failed: CHECK CONDITION: MEDIUM ERROR*",
      "*errors: 1*"}},
    {"iobench/too-big-for-ram",
     "-m 64M " VD "-guest iobench,iodepth=128,bs=1M",
     SET_PLAIN,
     2,
     {NULL},
     "*iobench: iodepth: * do not fit in guest RAM*"},
    {"scsi/inquiry",
     VD "-guest scsi,cdb=120000002400,in=36",
     SET_PLAIN,
     0,
     {"*cdb: 12 00 00 00 24 00, data-in 36 bytes*",
      "*status: GOOD (0x00)*36 bytes transferred*",
      "*0000  00 00 06 02 1f 00 00 02  53 54 4f 52 45 4d 55 20*"}},
    {"scsi/lba-out-of-range",
     VD "-guest scsi,cdb=88:00:00:00:00:00:00:00:20:00:00:00:00:01:00:00,"
        "in=512",
     SET_PLAIN,
     1,
     {"*CHECK CONDITION (0x02)*",
      "*key 0x5 ILLEGAL REQUEST, ASC/ASCQ 0x21/0x00 LOGICAL BLOCK ADDRESS "
      "OUT OF RANGE*"}},
    {"scsi/bad-opcode-no-retry",
     VD "-guest scsi,cdb=ff0000000000",
     SET_PLAIN,
     1,
     {"*INVALID COMMAND OPERATION CODE*"}},
    {"scsi/write-from-file",
     VD "-guest scsi,cdb=2a:00:00:00:00:10:00:00:01:00,out=@FILE@",
     SET_PLAIN,
     0,
     {"*cdb: 2a 00 00 00 00 10 00 00 01 00, data-out 512 bytes*",
      "*status: GOOD (0x00), SRB status SUCCESS (0x01), 512 bytes*"}},
    {"scsi/in-and-out",
     VD "-guest scsi,cdb=00,in=1,out=/dev/null",
     SET_PLAIN,
     2,
     {NULL},
     "*scsi: out: give in= or out=*"},
    {"scsi/out-missing",
     VD "-guest scsi,cdb=2a000000000000000100,out=/nonexistent/x",
     SET_PLAIN,
     2,
     {NULL},
     "*scsi: out: cannot read '/nonexistent/x'*"},
    {"power/cycles",
     "-smp 2 " VD "-guest power,cycles=2,ios=32",
     SET_LATENCY,
     0,
     {"*cycle 2: hibernate: ok*0 completed while down*",
      "*power: ok: 2 cycles, 4 transitions, 128 writes*"}},
    {"t-lifecycle",
     VD "-guest t-lifecycle",
     SET_LATENCY,
     0,
     {"*held write completes after the resume*",
      "*SUMMARY: t-lifecycle: * 0 unexpected failures*"}},
    {"t-scan",
     VD "-guest t-scan",
     SET_MANY_UNITS,
     0,
     {"*REPORT LUNS lists 2 unit(s)*", "*SUMMARY: t-scan: * 0 unexpected "
                                       "failures*"}},
    {"t-integrity",
     VD "-guest t-integrity",
     SET_PLAIN,
     0,
     {"*in 4 SRB(s)*", "*unmapped blocks read as zeros*",
      "*SUMMARY: t-integrity: * 0 unexpected failures*"}},
    {"t-errors",
     VD "-guest t-errors",
     SET_PLAIN,
     0,
     {"*SUMMARY: t-errors: * 0 unexpected failures, 0 skipped*"}},
    {"t-power",
     "-smp 2 " VD "-guest t-power,cycles=2",
     SET_LATENCY,
     0,
     {"*SUMMARY: t-power: * 0 unexpected failures*"}},
    {"t-qdepth",
     VD "-guest t-qdepth,depth=100",
     SET_LATENCY,
     0,
     {"*the most seen was 32*", "*SUMMARY: t-qdepth: * 0 unexpected "
                                "failures*"}},
    {"t-multiqueue",
     "-smp 4 -machine sched=random,seed=2 " VD "-guest t-multiqueue",
     SET_LATENCY,
     0,
     {"*4 jobs*", "*SUMMARY: t-multiqueue: * 0 unexpected failures, "
                  "0 skipped*"}},
};

static void setup(Setup s)
{
    gt_vdisk_reset();
    switch (s) {
    case SET_PLAIN:
    case SET_SMALL_RAM_IO:
        break;
    case SET_LATENCY:
        gt_vdisk_config.latency_us = 20;
        break;
    case SET_MANY_UNITS:
        gt_vdisk_config.targets = 3;
        gt_vdisk_config.luns = 2;
        gt_vdisk_config.blocks = 1024;
        break;
    case SET_NO_UNITS:
        gt_vdisk_config.no_units = true;
        break;
    case SET_UA:
        gt_vdisk_faults.unit_attention = 1;
        break;
    case SET_LOSE_WRITE:
        gt_vdisk_faults.lose_write_lba = 100;
        break;
    case SET_CORRUPT_READ:
        gt_vdisk_faults.corrupt_read_lba = 5;
        break;
    case SET_MEDIUM_ERROR:
        gt_vdisk_faults.medium_error = 1;
        break;
    }
}

static void test_program(gconstpointer data)
{
    const ProgCase *c = data;
    g_autofree char *want_exit = NULL;

    if (g_test_subprocess()) {
        g_autofree char *args = g_strdup(c->args);
        g_autofree char *path = NULL;
        char *at = strstr(args, "@FILE@");
        int rc;

        if (at) {
            /* A host file of one block for out=. */
            char block[512];
            int fd = g_file_open_tmp("gt-scsi-XXXXXX", &path, NULL);
            char *full;
            g_assert_cmpint(fd, >=, 0);
            memset(block, 0xa5, sizeof(block));
            g_assert_cmpint(write(fd, block, sizeof(block)), ==, 512);
            close(fd);
            *at = '\0';
            full = g_strconcat(args, path, at + 6, NULL);
            g_free(args);
            args = full;
        }
        setup(c->setup);
        rc = gt_harness_storemu(args);
        if (path) {
            g_unlink(path);
        }
        fflush(stdout);
        printf("\nexit code %d\n", rc);
        return;
    }
    g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC,
                           G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    want_exit = g_strdup_printf("*\nexit code %d\n", c->exit_code);
    g_test_trap_assert_stdout(want_exit);
    for (unsigned i = 0; i < G_N_ELEMENTS(c->out) && c->out[i]; i++) {
        g_test_trap_assert_stdout(c->out[i]);
    }
    if (c->err) {
        g_test_trap_assert_stderr(c->err);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *p =
            g_strdup_printf("/guest/program/%s", cases[i].path);
        g_test_add_data_func(p, &cases[i], test_program);
    }
    return g_test_run();
}
