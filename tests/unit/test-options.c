/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the command line (system/options.c), the default
 * MachineConfig (system/config.c) and the -device table (hw/core/qdev.c):
 * whole argv vectors -> config fields, help and version output, a table of
 * bad command lines with the error each must produce, the availability
 * switches, the guest program registry hook and the -fault value parsers.
 */
#include <string.h>

#include "config-host.h"
#include "hw/core/qdev.h"
#include "hw/core/ram.h"
#include "system/options.h"

static const char *const switched_options[] = {
    "-machine",  "-smp",   "-m",      "-trace",  "-verifier", "-drive",
    "-miniport", "-guest", "-record", "-replay", "-fault",
};

static int fake_creates;

static bool fake_create(Opts *opts, GError **errp)
{
    fake_creates++;
    return true;
}

/* Everything available, as once all subsystems have landed. */
static void all_available(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(switched_options); i++) {
        g_assert_true(options_set_available(switched_options[i], true));
    }
    g_assert_true(qdev_set_create("virtio-scsi-pci", fake_create));
    g_assert_true(qdev_set_create("scsi-hd", fake_create));
}

/* The state of this build before any subsystem registered itself. */
static void built_in_availability(void)
{
    options_reset_available();
    g_assert_true(qdev_set_create("virtio-scsi-pci", NULL));
    g_assert_true(qdev_set_create("scsi-hd", NULL));
}

/*
 * "storemu" + @cmdline split at blanks (no argument here has one); the
 * token '' stands for an empty argument.
 */
static char **make_argv(const char *cmdline, int *argc)
{
    g_autofree char *full = g_strconcat("storemu ", cmdline, NULL);
    g_auto(GStrv) parts = g_strsplit(full, " ", -1);
    GPtrArray *v = g_ptr_array_new();

    for (size_t i = 0; parts[i]; i++) {
        if (strcmp(parts[i], "''") == 0) {
            g_ptr_array_add(v, g_strdup(""));
        } else if (parts[i][0]) {
            g_ptr_array_add(v, g_strdup(parts[i]));
        }
    }
    *argc = (int)v->len;
    g_ptr_array_add(v, NULL);
    return (char **)g_ptr_array_free(v, false);
}

static MachineConfig *parse_ok(const char *cmdline)
{
    g_autoptr(GError) err = NULL;
    MachineConfig *cfg = machine_config_new();
    bool exit_now = true;
    int argc;
    g_auto(GStrv) argv = make_argv(cmdline, &argc);
    bool ok;

    g_test_message("storemu %s", cmdline);
    ok = options_parse(argc, argv, cfg, &exit_now, &err);
    g_assert_no_error(err);
    g_assert_true(ok);
    g_assert_false(exit_now);
    return cfg;
}

/* Runs @cmdline; returns the error (the caller frees it). */
static GError *parse_err(const char *cmdline)
{
    GError *err = NULL;
    g_autoptr(MachineConfig) cfg = machine_config_new();
    bool exit_now = false;
    int argc;
    g_auto(GStrv) argv = make_argv(cmdline, &argc);

    g_test_message("storemu %s", cmdline);
    g_assert_false(options_parse(argc, argv, cfg, &exit_now, &err));
    g_assert_nonnull(err);
    g_assert_false(exit_now);
    return err;
}

/* Runs @cmdline, which must only print; returns what it printed. */
static char *parse_prints(const char *cmdline)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MachineConfig) cfg = machine_config_new();
    bool exit_now = false;
    int argc;
    g_auto(GStrv) argv = make_argv(cmdline, &argc);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bool ok;

    g_test_message("storemu %s", cmdline);
    options_set_output(f);
    ok = options_parse(argc, argv, cfg, &exit_now, &err);
    options_set_output(NULL);
    fclose(f);
    g_assert_no_error(err);
    g_assert_true(ok);
    g_assert_true(exit_now);
    g_assert_cmpuint(len, >, 0);
    return buf;
}

static void assert_contains(const char *text, const char *want)
{
    if (!strstr(text, want)) {
        g_error("\"%s\" lacks \"%s\"", text, want);
    }
}

/* ---- defaults and good command lines ---------------------------------- */

static void test_defaults(void)
{
    g_autoptr(MachineConfig) cfg = NULL;

    built_in_availability();
    cfg = parse_ok("");
    g_assert_cmpuint(cfg->smp, ==, 1);
    g_assert_cmpuint(cfg->mem_size, ==, RAM_DEFAULT_SIZE);
    g_assert_cmpuint(cfg->mem_size, ==, 256ULL << 20);
    g_assert_cmpint(cfg->sched.policy, ==, SCHED_POLICY_FIFO);
    g_assert_cmpuint(cfg->sched.seed, ==, 0);
    g_assert_cmpfloat(cfg->sched.preempt, ==, 0.1);
    g_assert_cmpuint(cfg->sched.pct_depth, ==, 3);
    g_assert_cmpuint(cfg->sched.quantum, ==, 64);
    g_assert_cmpuint(cfg->time_limit_ns, ==, 0);
    g_assert_cmpuint(cfg->drives->len, ==, 0);
    g_assert_cmpuint(cfg->devices->len, ==, 0);
    g_assert_cmpuint(cfg->faults->len, ==, 0);
    g_assert_cmpuint(cfg->trace_patterns->len, ==, 0);
    g_assert_null(cfg->miniport);
    g_assert_null(cfg->guest);
    g_assert_null(cfg->record);
    g_assert_null(cfg->replay);
    g_assert_null(cfg->trace_file);
    g_assert_cmpint(cfg->verifier, ==, VERIFIER_ON);
}

static void test_machine(void)
{
    g_autoptr(MachineConfig) cfg = NULL;

    built_in_availability();
    cfg = parse_ok("-machine smp=4,seed=0x2a,sched=pct,mem=1G,preempt=0.5,"
                   "pct-depth=7,quantum=10,time-limit=5ms");
    g_assert_cmpuint(cfg->smp, ==, 4);
    g_assert_cmpuint(cfg->sched.seed, ==, 42);
    g_assert_cmpint(cfg->sched.policy, ==, SCHED_POLICY_PCT);
    g_assert_cmpuint(cfg->mem_size, ==, 1ULL << 30);
    g_assert_cmpfloat(cfg->sched.preempt, ==, 0.5);
    g_assert_cmpuint(cfg->sched.pct_depth, ==, 7);
    g_assert_cmpuint(cfg->sched.quantum, ==, 10);
    g_assert_cmpuint(cfg->time_limit_ns, ==, 5000000);
    g_clear_pointer(&cfg, machine_config_free);

    cfg = parse_ok("--machine sched=random,mem=4M --machine=mem=3G");
    g_assert_cmpint(cfg->sched.policy, ==, SCHED_POLICY_RANDOM);
    g_assert_cmpuint(cfg->mem_size, ==, 3ULL << 30);
    g_clear_pointer(&cfg, machine_config_free);

    cfg = parse_ok("-machine sched=fifo,smp=64 -machine ''");
    g_assert_cmpint(cfg->sched.policy, ==, SCHED_POLICY_FIFO);
    g_assert_cmpuint(cfg->smp, ==, 64);
}

typedef struct LastWins {
    const char *cmdline;
    unsigned smp;
    uint64_t mem;
    uint64_t seed;
} LastWins;

static const LastWins last_wins[] = {
    {"-smp 2 -machine smp=3", 3, RAM_DEFAULT_SIZE, 0},
    {"-machine smp=3 -smp 2", 2, RAM_DEFAULT_SIZE, 0},
    {"-smp 2 -smp 5", 5, RAM_DEFAULT_SIZE, 0},
    /* a later -machine refines, it does not reset */
    {"-machine smp=2,seed=9 -machine seed=5", 2, RAM_DEFAULT_SIZE, 5},
    {"-m 512 -machine mem=1G", 1, 1ULL << 30, 0},
    {"-machine mem=1G -m 512", 1, 512ULL << 20, 0},
    {"-m 64M", 1, 64ULL << 20, 0},
    {"-m 2G", 1, 2ULL << 30, 0},
    {"-m 4", 1, 4ULL << 20, 0},
    {"-m 3072", 1, 3ULL << 30, 0},
    {"--smp=8 --m=1024", 8, 1ULL << 30, 0},
};

static void test_last_wins(gconstpointer data)
{
    const LastWins *c = data;
    g_autoptr(MachineConfig) cfg = NULL;

    built_in_availability();
    cfg = parse_ok(c->cmdline);
    g_assert_cmpuint(cfg->smp, ==, c->smp);
    g_assert_cmpuint(cfg->mem_size, ==, c->mem);
    g_assert_cmpuint(cfg->sched.seed, ==, c->seed);
}

static void test_trace_verifier(void)
{
    g_autoptr(MachineConfig) cfg = NULL;

    built_in_availability();
    cfg = parse_ok("-trace pci_* -trace file=a.log -trace -sched_* "
                   "-trace enable=msix_*,file=b.log -verifier strict");
    g_assert_cmpuint(cfg->trace_patterns->len, ==, 3);
    g_assert_cmpstr(cfg->trace_patterns->pdata[0], ==, "pci_*");
    g_assert_cmpstr(cfg->trace_patterns->pdata[1], ==, "-sched_*");
    g_assert_cmpstr(cfg->trace_patterns->pdata[2], ==, "msix_*");
    g_assert_cmpstr(cfg->trace_file, ==, "b.log");
    g_assert_cmpint(cfg->verifier, ==, VERIFIER_STRICT);
    g_clear_pointer(&cfg, machine_config_free);

    cfg = parse_ok("-verifier off -verifier on");
    g_assert_cmpint(cfg->verifier, ==, VERIFIER_ON);
    g_clear_pointer(&cfg, machine_config_free);
    cfg = parse_ok("--verifier=off");
    g_assert_cmpint(cfg->verifier, ==, VERIFIER_OFF);
}

static void test_storage(void)
{
    g_autoptr(MachineConfig) cfg = NULL;
    Opts *d0, *d1, *hba, *disk;

    all_available();
    cfg = parse_ok("-drive id=d0,file=a,,b.img,cache=none,snapshot=on "
                   "-drive id=d1,size=64M,readonly=on "
                   "-device virtio-scsi-pci,id=hba0,num_queues=4,"
                   "queue_size=128,msix=off,latency=20us "
                   "-device scsi-hd,drive=d0,bus=hba0.0,lun=3,target=1,"
                   "serial=SN1,,2,logical_block_size=4096,product=DISK "
                   "-device driver=scsi-hd,drive=d1,wce=off");
    g_assert_cmpuint(cfg->drives->len, ==, 2);
    d0 = cfg->drives->pdata[0];
    d1 = cfg->drives->pdata[1];
    g_assert_cmpstr(opts_get_str(d0, "file", NULL), ==, "a,b.img");
    g_assert_cmpuint(opts_get_uint(d0, "cache", 0), ==, 1); /* none */
    g_assert_true(opts_get_bool(d0, "snapshot", false));
    g_assert_cmpuint(opts_get_uint(d1, "size", 0), ==, 64ULL << 20);
    g_assert_true(opts_get_bool(d1, "readonly", false));
    g_assert_false(opts_has(d1, "file"));

    g_assert_cmpuint(cfg->devices->len, ==, 3);
    hba = cfg->devices->pdata[0];
    disk = cfg->devices->pdata[1];
    g_assert_cmpstr(opts_get_str(hba, "driver", NULL), ==, "virtio-scsi-pci");
    g_assert_cmpuint(opts_get_uint(hba, "num_queues", 1), ==, 4);
    g_assert_cmpuint(opts_get_uint(hba, "queue_size", 256), ==, 128);
    g_assert_false(opts_get_bool(hba, "msix", true));
    g_assert_cmpuint(opts_get_uint(hba, "latency", 0), ==, 20000);
    g_assert_cmpstr(opts_get_str(disk, "driver", NULL), ==, "scsi-hd");
    g_assert_cmpuint(opts_get_uint(disk, "lun", 0), ==, 3);
    g_assert_cmpuint(opts_get_uint(disk, "target", 0), ==, 1);
    g_assert_cmpstr(opts_get_str(disk, "serial", NULL), ==, "SN1,2");
    g_assert_cmpuint(opts_get_uint(disk, "logical_block_size", 512), ==, 4096);
    g_assert_true(opts_schema(disk) == qdev_find("scsi-hd")->schema);
    g_assert_cmpstr(opts_get_str(cfg->devices->pdata[2], "driver", NULL), ==,
                    "scsi-hd");
    g_assert_false(opts_get_bool(cfg->devices->pdata[2], "wce", true));
    built_in_availability();
}

static void test_guest_side(void)
{
    g_autoptr(MachineConfig) cfg = NULL;

    all_available();
    cfg = parse_ok("-miniport ramdisk,tracing=on,param.size=64M,"
                   "param.Queues=2 -guest verify,lba=0-100,pattern=abc "
                   "-record run.log,data=full");
    g_assert_cmpstr(opts_get_str(cfg->miniport, "name", NULL), ==, "ramdisk");
    g_assert_true(opts_get_bool(cfg->miniport, "tracing", false));
    g_assert_cmpstr(opts_get_str(cfg->miniport, "param.size", NULL), ==, "64M");
    g_assert_cmpstr(opts_get_str(cfg->miniport, "param.Queues", NULL), ==, "2");
    g_assert_cmpstr(opts_get_str(cfg->guest, "name", NULL), ==, "verify");
    g_assert_cmpstr(opts_get_str(cfg->guest, "lba", NULL), ==, "0-100");
    g_assert_cmpstr(opts_get_str(cfg->record, "file", NULL), ==, "run.log");
    g_assert_cmpuint(opts_get_uint(cfg->record, "data", 0), ==, 1);
    g_assert_null(cfg->replay);
    g_clear_pointer(&cfg, machine_config_free);

    cfg = parse_ok("-miniport /opt/x/mini.so -replay run.log,device=off,"
                   "stop-at=5000");
    g_assert_cmpstr(opts_get_str(cfg->miniport, "name", NULL), ==,
                    "/opt/x/mini.so");
    g_assert_cmpstr(opts_get_str(cfg->replay, "file", NULL), ==, "run.log");
    g_assert_false(opts_get_bool(cfg->replay, "device", true));
    g_assert_cmpuint(opts_get_uint(cfg->replay, "stop-at", 0), ==, 5000);
    built_in_availability();
}

static void test_faults(void)
{
    g_autoptr(MachineConfig) cfg = NULL;
    const char *const *kinds = options_fault_kind_names();
    Opts *f;

    all_available();
    cfg = parse_ok("-fault irq-drop,p=0.1 "
                   "-fault check-condition,lba=100-200,op=read,"
                   "sense=3/11/00,info=150,count=2,lun=1 "
                   "-fault irq-delay,ns=50us,vcpu=1,queue=2 "
                   "-fault power,at=5ms,power=hibernate "
                   "-fault kind=short-transfer,bytes=512,after=3,every=2 "
                   "-fault unit-attention,asc=29/00,at=1000 "
                   "-fault eio,op=0x2a");
    g_assert_cmpuint(cfg->faults->len, ==, 7);
    f = cfg->faults->pdata[0];
    g_assert_cmpstr(kinds[opts_get_uint(f, "kind", 99)], ==, "irq-drop");
    g_assert_cmpfloat(opts_get_prob(f, "p", 1), ==, 0.1);
    f = cfg->faults->pdata[1];
    g_assert_cmpstr(opts_get_str(f, "kind", NULL), ==, "check-condition");
    g_assert_cmpstr(opts_get_str(f, "sense", NULL), ==, "3/11/00");
    g_assert_cmpuint(opts_get_uint(f, "info", 0), ==, 150);
    f = cfg->faults->pdata[2];
    g_assert_cmpuint(opts_get_uint(f, "ns", 0), ==, 50000);
    f = cfg->faults->pdata[3];
    g_assert_cmpstr(opts_get_str(f, "power", NULL), ==, "hibernate");
    g_assert_cmpstr(opts_get_str(f, "at", NULL), ==, "5ms");
    f = cfg->faults->pdata[4];
    g_assert_cmpstr(kinds[opts_get_uint(f, "kind", 99)], ==, "short-transfer");
    g_assert_cmpuint(opts_get_uint(f, "every", 0), ==, 2);
    built_in_availability();
}

static void test_fault_kinds_all_parse(void)
{
    const char *const *kinds = options_fault_kind_names();
    size_t n = 0;

    all_available();
    for (; kinds[n]; n++) {
        g_autoptr(MachineConfig) cfg = NULL;
        g_autofree char *cmd = NULL;
        /* The minimal form of each kind. */
        if (strcmp(kinds[n], "power") == 0) {
            cmd = g_strdup("-fault power,power=stop");
        } else if (g_str_equal(kinds[n], "irq-delay") ||
                   g_str_equal(kinds[n], "latency") ||
                   g_str_equal(kinds[n], "timer-jitter")) {
            cmd = g_strdup_printf("-fault %s,ns=1ms", kinds[n]);
        } else {
            cmd = g_strdup_printf("-fault %s", kinds[n]);
        }
        cfg = parse_ok(cmd);
        g_assert_cmpuint(cfg->faults->len, ==, 1);
        g_assert_cmpuint(opts_get_uint(cfg->faults->pdata[0], "kind", 99), ==,
                         n);
    }
    g_assert_cmpuint(n, ==, 23);
    built_in_availability();
}

/* ---- printing --------------------------------------------------------- */

static void test_help_text(void)
{
    static const char *const options[] = {
        "-machine",  "-smp",        "-m ",       "-drive",    "-device",
        "-miniport", "-guest",      "-record",   "-replay",   "-fault",
        "-trace",    "-verifier",   "--help",    "--version", "smp=",
        "seed=",     "sched=",      "mem=",      "preempt=",  "pct-depth=",
        "quantum=",  "time-limit=", "snapshot=", "cache=",    "readonly=",
        "data=",     "device=",     "stop-at=",  "tracing=",  "param.KEY",
    };
    g_autofree char *h = NULL;
    g_auto(GStrv) lines = NULL;
    char code[8];

    built_in_availability();
    h = parse_prints("--help");
    g_assert_true(g_str_has_prefix(h, "Usage: storemu"));
    for (size_t i = 0; i < G_N_ELEMENTS(options); i++) {
        assert_contains(h, options[i]);
    }
    for (int c = EXIT_OK; c <= EXIT_DEADLOCK; c++) {
        g_snprintf(code, sizeof(code), "  %d  ", c);
        assert_contains(h, code);
    }
    assert_contains(h, "replay divergence");
    assert_contains(h, "deadlock or hang");
    assert_contains(h, "Not available yet in this build:");
    assert_contains(h, "-record");
    lines = g_strsplit(h, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_assert_cmpuint(strlen(lines[i]), <=, 80);
    }
    g_free(h);

    /* Everything there: the "not available" paragraph disappears. */
    all_available();
    h = parse_prints("-h");
    g_assert_null(strstr(h, "Not available yet"));
    built_in_availability();

    /* --help stops parsing: what follows is not looked at. */
    g_free(h);
    h = parse_prints("-help -nonsense");
    g_assert_true(g_str_has_prefix(h, "Usage: storemu"));
}

static void test_version(void)
{
    static const char *const forms[] = {"--version", "-version"};

    for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autofree char *v = parse_prints(forms[i]);
        g_assert_cmpstr(v, ==,
                        "storemu " STOREMU_VERSION " (build " STOREMU_BUILD_ID
                        ")\n");
    }
}

typedef struct HelpCase {
    const char *cmdline;
    const char *want[4];
    const char *not_want;
} HelpCase;

static const HelpCase help_cases[] = {
    {"-device help", {"virtio-scsi-pci", "scsi-hd", "not available"}},
    {"-device ?", {"virtio-scsi-pci", "scsi-hd"}},
    {"-device scsi-hd,help",
     {"-device scsi-hd keys:", "drive=", "logical_block_size=", "(required)"},
     "num_queues"},
    {"-device virtio-scsi-pci,?",
     {"num_queues=NUM(1..16)", "queue_size=NUM(2..1024)", "msix=on|off",
      "latency=TIME"}},
    {"-device scsi-hd,lun=help", {"lun=NUM(0..16383)"}, "drive="},
    {"-machine help",
     {"-machine keys:", "smp=NUM(1..64)", "mem=SIZE(4M..3G)",
      "time-limit=TIME"}},
    {"-machine sched=help", {"sched=fifo|random|pct"}, "smp="},
    {"-drive help", {"id=", "file=", "cache=writeback|none|unsafe"}},
    {"-fault help", {"irq-drop", "power-cut", "timer-jitter", "sense="}},
    {"-fault kind=help", {"irq-spurious", "task-set-full"}},
    {"-fault p=help", {"p=PROB(0..1)"}, "irq-drop"},
    {"-fault eio,help", {"check-condition"}},
    {"-miniport help", {"[name=]STR", "tracing=on|off", "param.KEY=STR"}},
    {"-guest help", {"[name=]STR", "KEY=STR"}},
    {"-record help", {"[file=]STR", "data=hash|full"}},
    {"-replay help", {"device=on|off", "stop-at=NUM"}},
    {"-trace help", {"[enable=]STR", "file=STR"}},
    {"-verifier help", {"strict"}},
    /* help stops parsing even with errors later on the line */
    {"-machine help -bogus", {"-machine keys:"}},
};

static void test_help_listing(gconstpointer data)
{
    const HelpCase *c = data;
    g_autofree char *out = NULL;

    built_in_availability();
    out = parse_prints(c->cmdline);
    for (size_t i = 0; i < G_N_ELEMENTS(c->want) && c->want[i]; i++) {
        assert_contains(out, c->want[i]);
    }
    if (c->not_want) {
        g_assert_null(strstr(out, c->not_want));
    }
}

/* ---- bad command lines ------------------------------------------------ */

typedef struct BadCase {
    const char *cmdline;
    OptsErrorCode code;
    const char *want; /* substring of the message */
    bool available;   /* with every subsystem available */
} BadCase;

static const BadCase bad_cases[] = {
    /* usage */
    {"-bogus", OPTS_ERROR_USAGE, "unknown option '-bogus' (see --help)"},
    {"--bogus=1", OPTS_ERROR_USAGE, "unknown option '--bogus=1'"},
    {"disk.img", OPTS_ERROR_USAGE, "'disk.img': unexpected argument"},
    {"-smp 2 extra", OPTS_ERROR_USAGE, "'extra': unexpected argument"},
    {"-", OPTS_ERROR_USAGE, "'-': unexpected argument"},
    {"--", OPTS_ERROR_USAGE, "'--': unexpected argument"},
    {"--help=yes", OPTS_ERROR_USAGE, "--help: takes no argument"},
    {"-machine", OPTS_ERROR_MISSING, "-machine: missing argument"},
    {"-smp 2 -drive", OPTS_ERROR_MISSING, "-drive: missing argument"},
    {"-fault", OPTS_ERROR_MISSING, "-fault: missing argument"},
    {"-m", OPTS_ERROR_MISSING, "-m: missing argument (e.g. -m 512M)"},
    /* -machine */
    {"-machine smp=0", OPTS_ERROR_VALUE,
     "-machine: smp: '0' is out of range (1..64)"},
    {"-machine smp=65", OPTS_ERROR_VALUE,
     "-machine: smp: '65' is out of range (1..64)"},
    {"-machine smp=two", OPTS_ERROR_VALUE,
     "-machine: smp: 'two' is not a number"},
    {"-machine sched=lifo", OPTS_ERROR_VALUE,
     "-machine: sched: 'lifo' is not one of: fifo, random, pct"},
    {"-machine mem=2M", OPTS_ERROR_VALUE,
     "-machine: mem: '2M' is out of range (4M..3G)"},
    {"-machine mem=4G", OPTS_ERROR_VALUE,
     "-machine: mem: '4G' is out of range (4M..3G)"},
    {"-machine mem=4098K", OPTS_ERROR_VALUE,
     "-machine: mem: '4098K' is not a multiple of 4K"},
    {"-machine mem=lots", OPTS_ERROR_VALUE,
     "-machine: mem: 'lots' is not a size"},
    {"-machine preempt=2", OPTS_ERROR_VALUE,
     "-machine: preempt: '2' is out of range (0..1)"},
    {"-machine quantum=0", OPTS_ERROR_VALUE,
     "-machine: quantum: '0' is out of range (1..1000000)"},
    {"-machine pct-depth=18", OPTS_ERROR_VALUE,
     "-machine: pct-depth: '18' is out of range (1..17)"},
    {"-machine pct-depth=0", OPTS_ERROR_VALUE,
     "-machine: pct-depth: '0' is out of range (1..17)"},
    {"-machine time-limit=5min", OPTS_ERROR_VALUE,
     "-machine: time-limit: '5min' is not a time"},
    {"-machine seed=-1", OPTS_ERROR_VALUE,
     "-machine: seed: '-1' is not a number"},
    {"-machine smp=2,smp=3", OPTS_ERROR_SYNTAX,
     "-machine: smp: given more than once"},
    {"-machine cpus=2", OPTS_ERROR_SYNTAX,
     "-machine: cpus: unknown key (valid keys: smp, seed, sched"},
    {"-machine 2", OPTS_ERROR_SYNTAX, "-machine: 2: missing '='"},
    {"-machine smp=2,", OPTS_ERROR_SYNTAX, "-machine: empty element"},
    {"-machine =2", OPTS_ERROR_SYNTAX, "-machine: empty key in '=2'"},
    /* shorthands */
    {"-smp 0", OPTS_ERROR_VALUE, "-smp: '0' is out of range (1..64)"},
    {"-smp 65", OPTS_ERROR_VALUE, "-smp: '65' is out of range (1..64)"},
    {"-smp many", OPTS_ERROR_VALUE, "-smp: 'many' is not a number"},
    {"-m 3", OPTS_ERROR_VALUE, "-m: '3' is out of range (4M..3G)"},
    {"-m 3073", OPTS_ERROR_VALUE, "-m: '3073' is out of range (4M..3G)"},
    {"-m 99999999999999999", OPTS_ERROR_VALUE, "is out of range"},
    {"-m 1T", OPTS_ERROR_VALUE, "-m: '1T' is out of range"},
    {"-m 5002K", OPTS_ERROR_VALUE, "-m: '5002K' is not a multiple of 4K"},
    {"-m lots", OPTS_ERROR_VALUE, "-m: 'lots' is not a size"},
    /* Overflow is "too large", not "not a size". */
    {"-m 99999999999999999999G", OPTS_ERROR_VALUE,
     "-m: '99999999999999999999G' is too large: it overflows 64 bits "
     "(4M..3G)"},
    {"-m 99999999999999999999", OPTS_ERROR_VALUE,
     "-m: '99999999999999999999' is too large: it overflows 64 bits"},
    {"-m 16777216T", OPTS_ERROR_VALUE, "-m: '16777216T' is too large"},
    /* -trace, -verifier */
    {"-trace file=", OPTS_ERROR_VALUE, "-trace: file: '' must not be empty"},
    {"-trace -", OPTS_ERROR_VALUE, "-trace: enable: '-' is not a trace"},
    {"-trace level=3", OPTS_ERROR_SYNTAX, "-trace: level: unknown key"},
    {"-verifier loud", OPTS_ERROR_VALUE,
     "-verifier: 'loud' is not one of: off, on, strict"},
    /* -drive */
    {"-drive file=a.img", OPTS_ERROR_MISSING,
     "-drive: id: missing; this key is required"},
    {"-drive id=d0", OPTS_ERROR_MISSING,
     "-drive: file: missing; give file=PATH, or size=SIZE"},
    {"-drive a.img", OPTS_ERROR_SYNTAX, "-drive: a.img: missing '='"},
    {"-drive id=0d,file=a", OPTS_ERROR_VALUE, "-drive: id: '0d' is not an id"},
    {"-drive id=d0,file=", OPTS_ERROR_VALUE,
     "-drive: file: '' must not be empty"},
    {"-drive id=d0,file=a,format=qcow2", OPTS_ERROR_VALUE,
     "-drive: format: 'qcow2' is not one of: raw"},
    {"-drive id=d0,file=a,cache=always", OPTS_ERROR_VALUE,
     "-drive: cache: 'always' is not one of: writeback, none, unsafe"},
    {"-drive id=d0,file=a,snapshot=maybe", OPTS_ERROR_VALUE,
     "-drive: snapshot: 'maybe' is not a boolean"},
    {"-drive id=d0,file=a,readonly=2", OPTS_ERROR_VALUE,
     "-drive: readonly: '2' is not a boolean"},
    {"-drive id=d0,size=1000", OPTS_ERROR_VALUE,
     "-drive: size: '1000' is not a multiple of 512"},
    {"-drive id=d0,size=0", OPTS_ERROR_VALUE,
     "-drive: size: '0' is out of range (512..9223372036854775296)"},
    /* Past 64 bits: not "at least 512" for these. */
    {"-drive id=d0,size=99999999999999999999G", OPTS_ERROR_VALUE,
     "-drive: size: '99999999999999999999G' is too large: it overflows 64 "
     "bits (512..9223372036854775296)"},
    /* A host file offset is signed: 2^63 fits 64 bits but no file. */
    {"-drive id=d0,size=9223372036854775808", OPTS_ERROR_VALUE,
     "-drive: size: '9223372036854775808' is out of range "
     "(512..9223372036854775296)"},
    {"-drive id=d0,size=18446744073709551616", OPTS_ERROR_VALUE,
     "-drive: size: '18446744073709551616' is too large: it overflows 64 "
     "bits"},
    {"-drive id=d0,size=16777216T", OPTS_ERROR_VALUE,
     "-drive: size: '16777216T' is too large"},
    {"-drive id=d0,size=2X", OPTS_ERROR_VALUE,
     "-drive: size: '2X' is not a size"},
    {"-drive id=d0,file=a -drive id=d0,file=b", OPTS_ERROR_CONFLICT,
     "-drive: id: 'd0' is already used by another -drive"},
    /* -device */
    {"-device", OPTS_ERROR_MISSING, "-device: missing argument"},
    {"-device lun=1", OPTS_ERROR_MISSING, "-device: driver: missing"},
    {"-device nvme", OPTS_ERROR_VALUE,
     "-device: driver: 'nvme' is not a known device (see -device help)"},
    {"-device virtio-scsi-pci,num_queues=0", OPTS_ERROR_VALUE,
     "-device virtio-scsi-pci: num_queues: '0' is out of range (1..16)"},
    {"-device virtio-scsi-pci,num_queues=17", OPTS_ERROR_VALUE,
     "-device virtio-scsi-pci: num_queues: '17' is out of range (1..16)"},
    {"-device virtio-scsi-pci,queue_size=100", OPTS_ERROR_VALUE,
     "-device virtio-scsi-pci: queue_size: '100' is not a power of 2"},
    {"-device virtio-scsi-pci,queue_size=2048", OPTS_ERROR_VALUE,
     "-device virtio-scsi-pci: queue_size: '2048' is out of range (2..1024)"},
    {"-device virtio-scsi-pci,queue_size=1", OPTS_ERROR_VALUE,
     "queue_size: '1' is out of range (2..1024)"},
    {"-device virtio-scsi-pci,msix=maybe", OPTS_ERROR_VALUE,
     "-device virtio-scsi-pci: msix: 'maybe' is not a boolean"},
    {"-device virtio-scsi-pci,latency=fast", OPTS_ERROR_VALUE,
     "-device virtio-scsi-pci: latency: 'fast' is not a time"},
    {"-device virtio-scsi-pci,drive=d0", OPTS_ERROR_SYNTAX,
     "-device virtio-scsi-pci: drive: unknown key"},
    {"-device scsi-hd", OPTS_ERROR_MISSING,
     "-device scsi-hd: drive: missing; this key is required"},
    {"-device scsi-hd,drive=d0,lun=16384", OPTS_ERROR_VALUE,
     "-device scsi-hd: lun: '16384' is out of range (0..16383)"},
    {"-device scsi-hd,drive=d0,target=256", OPTS_ERROR_VALUE,
     "-device scsi-hd: target: '256' is out of range (0..255)"},
    {"-device scsi-hd,drive=d0,logical_block_size=1024", OPTS_ERROR_VALUE,
     "-device scsi-hd: logical_block_size: '1024' is not a supported "
     "block size (512 or 4096)"},
    {"-device scsi-hd,drive=d0,wce=1", OPTS_ERROR_VALUE,
     "-device scsi-hd: wce: '1' is not a boolean"},
    {"-device scsi-hd,drive=d0,product=ABCDEFGHIJKLMNOPQ", OPTS_ERROR_VALUE,
     "-device scsi-hd: product: 'ABCDEFGHIJKLMNOPQ' must be 1 to 16 "
     "characters"},
    {"-device scsi-hd,drive=d0,bus=hba0.x", OPTS_ERROR_VALUE,
     "-device scsi-hd: bus: 'hba0.x' is not a bus"},
    {"-device scsi-hd,drive=d0,drive=d1", OPTS_ERROR_SYNTAX,
     "-device scsi-hd: drive: given more than once"},
    {"-device scsi-hd,drive=d0", OPTS_ERROR_CONFLICT,
     "-device scsi-hd: drive: 'd0' does not name a -drive id", true},
    {"-drive id=d0,size=1M -device scsi-hd,drive=d0 -device scsi-hd,drive=d0",
     OPTS_ERROR_CONFLICT,
     "-device scsi-hd: drive: 'd0' is already used by another -device", true},
    {"-drive id=d0,size=1M -device scsi-hd,drive=d0,bus=hba9.0",
     OPTS_ERROR_CONFLICT,
     "-device scsi-hd: bus: 'hba9.0' does not name another -device id", true},
    {"-device virtio-scsi-pci,id=h -device virtio-scsi-pci,id=h",
     OPTS_ERROR_CONFLICT,
     "-device virtio-scsi-pci: id: 'h' is already used by another -device"},
    /* -miniport, -guest, -record, -replay */
    {"-miniport tracing=on", OPTS_ERROR_MISSING, "-miniport: name: missing"},
    {"-miniport ramdisk,queues=2", OPTS_ERROR_SYNTAX,
     "-miniport: queues: unknown key (valid keys: name, tracing, param.*)"},
    {"-miniport ramdisk,tracing=loud", OPTS_ERROR_VALUE,
     "-miniport: tracing: 'loud' is not a boolean"},
    {"-miniport a -miniport b", OPTS_ERROR_CONFLICT,
     "-miniport: given more than once (first: 'a')"},
    {"-guest lba=1", OPTS_ERROR_MISSING, "-guest: name: missing"},
    {"-guest a -guest b", OPTS_ERROR_CONFLICT, "-guest: given more than once"},
    {"-record data=full", OPTS_ERROR_MISSING, "-record: file: missing"},
    {"-record x.log,data=some", OPTS_ERROR_VALUE,
     "-record: data: 'some' is not one of: hash, full"},
    {"-record a -record b", OPTS_ERROR_CONFLICT,
     "-record: given more than once"},
    {"-replay x.log,device=no-way", OPTS_ERROR_VALUE,
     "-replay: device: 'no-way' is not a boolean"},
    {"-replay x.log,stop-at=soon", OPTS_ERROR_VALUE,
     "-replay: stop-at: 'soon' is not a number"},
    {"-record a.log -replay b.log", OPTS_ERROR_CONFLICT,
     "-record: cannot be combined with -replay"},
    /* -fault */
    {"-fault p=0.5", OPTS_ERROR_MISSING, "-fault: kind: missing"},
    {"-fault irq-lost", OPTS_ERROR_VALUE,
     "-fault: kind: 'irq-lost' is not one of: irq-drop, irq-delay"},
    {"-fault irq-drop,p=1.5", OPTS_ERROR_VALUE,
     "-fault: p: '1.5' is out of range (0..1)"},
    {"-fault irq-drop,p=often", OPTS_ERROR_VALUE,
     "-fault: p: 'often' is not a probability"},
    {"-fault irq-drop,every=0", OPTS_ERROR_VALUE,
     "-fault: every: '0' is out of range (at least 1)"},
    {"-fault irq-drop,count=0", OPTS_ERROR_VALUE,
     "-fault: count: '0' is out of range (at least 1)"},
    {"-fault irq-drop,after=x", OPTS_ERROR_VALUE,
     "-fault: after: 'x' is not a number"},
    {"-fault irq-drop,at=soon", OPTS_ERROR_VALUE,
     "-fault: at: 'soon' is not an event index or a time"},
    {"-fault irq-drop,at=5m", OPTS_ERROR_VALUE,
     "-fault: at: '5m' is not an event index"},
    {"-fault eio,lba=200-100", OPTS_ERROR_VALUE,
     "-fault: lba: '200-100' is not an LBA range"},
    {"-fault eio,lba=1-", OPTS_ERROR_VALUE,
     "-fault: lba: '1-' is not an LBA range"},
    {"-fault eio,op=erase", OPTS_ERROR_VALUE,
     "-fault: op: 'erase' is not an operation"},
    {"-fault eio,op=256", OPTS_ERROR_VALUE,
     "-fault: op: '256' is not an operation"},
    {"-fault eio,lun=16384", OPTS_ERROR_VALUE,
     "-fault: lun: '16384' is out of range (0..16383)"},
    {"-fault eio,queue=16", OPTS_ERROR_VALUE,
     "-fault: queue: '16' is out of range (0..15)"},
    {"-fault eio,vcpu=64", OPTS_ERROR_VALUE,
     "-fault: vcpu: '64' is out of range (0..63)"},
    {"-fault latency,ns=fast", OPTS_ERROR_VALUE,
     "-fault: ns: 'fast' is not a time"},
    {"-fault check-condition,sense=3/11", OPTS_ERROR_VALUE,
     "-fault: sense: '3/11' is not sense data"},
    {"-fault check-condition,sense=10/11/00", OPTS_ERROR_VALUE,
     "-fault: sense: '10/11/00' is not sense data"},
    {"-fault check-condition,sense=3/111/00", OPTS_ERROR_VALUE,
     "-fault: sense: '3/111/00' is not sense data"},
    {"-fault unit-attention,asc=29", OPTS_ERROR_VALUE,
     "-fault: asc: '29' is not an additional sense code"},
    {"-fault power,power=reboot", OPTS_ERROR_VALUE,
     "-fault: power: 'reboot' is not one of: stop, hibernate, resume, "
     "surprise-removal"},
    {"-fault irq-delay", OPTS_ERROR_MISSING,
     "-fault: ns: missing; kind 'irq-delay' requires it"},
    {"-fault power", OPTS_ERROR_MISSING,
     "-fault: power: missing; kind 'power' requires it"},
    {"-fault eio,sense=3/11/00", OPTS_ERROR_CONFLICT,
     "-fault: sense: not used by kind 'eio' (only by check-condition)"},
    {"-fault busy,ns=1us", OPTS_ERROR_CONFLICT,
     "-fault: ns: not used by kind 'busy' (only by irq-delay, latency, "
     "timer-jitter)"},
    {"-fault eio,power=stop", OPTS_ERROR_CONFLICT,
     "-fault: power: not used by kind 'eio'"},
    {"-fault pool-fail,lba=1-2", OPTS_ERROR_CONFLICT,
     "-fault: lba: not used by kind 'pool-fail'"},
    {"-fault timer-jitter,ns=1us,op=read", OPTS_ERROR_CONFLICT,
     "-fault: op: not used by kind 'timer-jitter'"},
    {"-fault doorbell-ignore,lun=1", OPTS_ERROR_CONFLICT,
     "-fault: lun: not used by kind 'doorbell-ignore'"},
    {"-fault irq-spurious,queue=1", OPTS_ERROR_CONFLICT,
     "-fault: queue: not used by kind 'irq-spurious'"},
    {"-fault eio,eio=1", OPTS_ERROR_SYNTAX, "-fault: eio: unknown key"},
    {"-fault eio,kind=busy", OPTS_ERROR_SYNTAX,
     "-fault: kind: given more than once"},
    /* subsystems not built yet: parsed, then rejected */
    {"-drive id=d0,file=a.img", OPTS_ERROR_UNAVAILABLE,
     "-drive: not available yet in this build"},
    {"-device virtio-scsi-pci", OPTS_ERROR_UNAVAILABLE,
     "-device virtio-scsi-pci: not available yet in this build"},
    {"-drive id=d0,size=1M -device scsi-hd,drive=d0", OPTS_ERROR_UNAVAILABLE,
     "-drive: not available yet in this build"},
    {"-miniport ramdisk", OPTS_ERROR_UNAVAILABLE,
     "-miniport: not available yet in this build"},
    {"-guest verify", OPTS_ERROR_UNAVAILABLE,
     "-guest: not available yet in this build"},
    {"-record x.log", OPTS_ERROR_UNAVAILABLE,
     "-record: not available yet in this build"},
    {"-replay x.log", OPTS_ERROR_UNAVAILABLE,
     "-replay: not available yet in this build"},
    {"-fault irq-drop", OPTS_ERROR_UNAVAILABLE,
     "-fault: not available yet in this build"},
    /* an unavailable option does not hide a syntax error after it */
    {"-record x.log -smp 0", OPTS_ERROR_VALUE, "-smp: '0' is out of range"},
};

static void test_bad(gconstpointer data)
{
    const BadCase *c = data;
    g_autoptr(GError) err = NULL;

    if (c->available) {
        all_available();
    } else {
        built_in_availability();
    }
    err = parse_err(c->cmdline);
    if (!strstr(err->message, c->want)) {
        g_error("storemu %s: message \"%s\" lacks \"%s\"", c->cmdline,
                err->message, c->want);
    }
    g_assert_error(err, OPTS_ERROR, (gint)c->code);
    built_in_availability();
}

/* ---- availability switches -------------------------------------------- */

static void test_availability(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MachineConfig) cfg = NULL;

    built_in_availability();
    for (size_t i = 0; i < G_N_ELEMENTS(switched_options); i++) {
        bool want = i < 5; /* -machine -smp -m -trace -verifier */
        g_assert_cmpint(options_is_available(switched_options[i]), ==, want);
    }
    g_assert_false(options_set_available("-device", true));
    g_assert_false(options_set_available("--help", true));
    g_assert_false(options_set_available("record", true));

    g_assert_true(options_set_available("-record", true));
    cfg = parse_ok("-record x.log");
    g_assert_nonnull(cfg->record);
    g_clear_pointer(&cfg, machine_config_free);

    /* One available, one not: the one not available is reported. */
    err = parse_err("-record x.log -fault hang");
    assert_contains(err->message, "-fault: not available yet");
    g_clear_error(&err);

    /* The lead can switch an available option off again. */
    g_assert_true(options_set_available("-smp", false));
    err = parse_err("-smp 2");
    assert_contains(err->message, "-smp: not available yet");
    g_clear_error(&err);

    options_reset_available();
    g_assert_false(options_is_available("-record"));
    g_assert_true(options_is_available("-smp"));

    /* -device follows the device type's create function. */
    g_assert_true(qdev_set_create("virtio-scsi-pci", fake_create));
    cfg = parse_ok("-device virtio-scsi-pci,id=hba0");
    g_assert_cmpuint(cfg->devices->len, ==, 1);
    g_clear_pointer(&cfg, machine_config_free);
    err = parse_err("-device virtio-scsi-pci -device scsi-hd,drive=d0");
    /* The cross check (no such drive) comes before availability. */
    assert_contains(err->message, "drive: 'd0' does not name a -drive id");
    built_in_availability();
}

/* ---- guest program registry hook -------------------------------------- */

static const OptDesc verify_desc[] = {
    {"name", OPT_STRING, "program"},
    {"lba", OPT_STRING, "range"},
    {"passes", OPT_UINT, "passes", NULL, 1, 10},
    {NULL},
};

static const OptsSchema verify_schema = {
    .option = "-guest verify",
    .implied = "name",
    .desc = verify_desc,
};

static const OptsSchema *lookup_guest(const char *name)
{
    return strcmp(name, "verify") == 0 ? &verify_schema : NULL;
}

static void list_guests(FILE *f)
{
    fprintf(f, "verify  checks what it wrote\n");
}

static void test_guest_registry(void)
{
    g_autoptr(MachineConfig) cfg = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;

    all_available();
    options_set_guest_registry(lookup_guest, list_guests);
    cfg = parse_ok("-guest verify,passes=3,lba=0-9");
    g_assert_true(opts_schema(cfg->guest) == &verify_schema);
    g_assert_cmpuint(opts_get_uint(cfg->guest, "passes", 0), ==, 3);

    err = parse_err("-guest verify,passes=11");
    assert_contains(err->message, "-guest verify: passes: '11' is out of "
                                  "range (1..10)");
    g_clear_error(&err);
    err = parse_err("-guest verify,speed=2");
    assert_contains(err->message, "-guest verify: speed: unknown key");
    g_clear_error(&err);
    err = parse_err("-guest stress");
    assert_contains(err->message, "-guest: name: 'stress' is not a known "
                                  "guest program");
    g_clear_error(&err);

    out = parse_prints("-guest help");
    assert_contains(out, "verify  checks what it wrote");
    g_free(out);
    out = parse_prints("-guest verify,help");
    assert_contains(out, "passes=NUM(1..10)");

    options_set_guest_registry(NULL, NULL);
    g_clear_pointer(&cfg, machine_config_free);
    cfg = parse_ok("-guest stress,anything=goes");
    g_assert_cmpstr(opts_get_str(cfg->guest, "anything", NULL), ==, "goes");
    built_in_availability();
}

/* ---- qdev table -------------------------------------------------------- */

static const OptDesc toy_desc[] = {
    {"driver", OPT_STRING, "device type"},
    {"speed", OPT_UINT, "speed", NULL, 1, 3},
    {NULL},
};

static const OptsSchema toy_schema = {
    .option = "-device toy",
    .implied = "driver",
    .desc = toy_desc,
};

static const OptsSchema toy_bad_schema = {
    .option = "-device toy2",
    .desc = toy_desc,
};

static void test_qdev(void)
{
    const DeviceType toy = {"toy", "a toy", &toy_schema, fake_create};
    const DeviceType toy2 = {"toy2", "bad", &toy_bad_schema, NULL};
    const DeviceType dup = {"scsi-hd", "again", &toy_schema, NULL};
    g_autoptr(GError) err = NULL;
    g_autoptr(MachineConfig) cfg = NULL;
    unsigned before = qdev_type_count();
    const DeviceType *t;

    built_in_availability();
    g_assert_cmpuint(before, >=, 2);
    g_assert_cmpstr(qdev_type_at(0)->name, ==, "virtio-scsi-pci");
    g_assert_cmpstr(qdev_type_at(1)->name, ==, "scsi-hd");
    g_assert_null(qdev_type_at(before));
    t = qdev_find("scsi-hd");
    g_assert_nonnull(t);
    g_assert_false(qdev_type_available(t));
    g_assert_null(qdev_find("nvme"));
    g_assert_false(qdev_set_create("nvme", fake_create));

    g_assert_false(qdev_register(&dup, &err));
    assert_contains(err->message, "'scsi-hd' is already registered");
    g_clear_error(&err);
    g_assert_false(qdev_register(&toy2, &err));
    assert_contains(err->message, "implied key 'driver'");
    g_clear_error(&err);

    /* A registered type is parsed, listed and created like a built-in. */
    g_assert_null(qdev_find("toy"));
    g_assert_true(qdev_register(&toy, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(qdev_type_count(), ==, before + 1);
    g_assert_true(qdev_find("toy") != &toy); /* copied into the table */
    cfg = parse_ok("-device toy,speed=2");
    g_assert_cmpuint(cfg->devices->len, ==, 1);
    err = parse_err("-device toy,speed=4");
    assert_contains(err->message, "-device toy: speed: '4' is out of range");
    g_clear_error(&err);

    fake_creates = 0;
    g_assert_true(qdev_create(cfg->devices->pdata[0], &err));
    g_assert_no_error(err);
    g_assert_cmpint(fake_creates, ==, 1);
    g_clear_pointer(&cfg, machine_config_free);

    /* qdev_create refuses a type without a create function. */
    g_assert_true(qdev_set_create("scsi-hd", fake_create));
    g_assert_true(options_set_available("-drive", true));
    cfg = parse_ok("-drive id=d0,size=1M -device scsi-hd,drive=d0");
    built_in_availability();
    g_assert_false(qdev_create(cfg->devices->pdata[0], &err));
    g_assert_error(err, OPTS_ERROR, OPTS_ERROR_UNAVAILABLE);
    assert_contains(err->message, "-device scsi-hd: not available yet");
    g_assert_cmpint(fake_creates, ==, 1);
}

/* ---- -fault value parsers ---------------------------------------------- */

static void test_fault_parsers(void)
{
    uint64_t a, b;
    bool is_time;
    OptionsFaultOp op;
    uint8_t code, k, asc, ascq;

    g_assert_true(options_parse_lba_range("100-200", &a, &b));
    g_assert_cmpuint(a, ==, 100);
    g_assert_cmpuint(b, ==, 200);
    g_assert_true(options_parse_lba_range("0x10", &a, &b));
    g_assert_cmpuint(a, ==, 16);
    g_assert_cmpuint(b, ==, 16);
    g_assert_true(options_parse_lba_range("5-5", &a, &b));
    g_assert_false(options_parse_lba_range("6-5", &a, &b));
    g_assert_false(options_parse_lba_range("-5", &a, &b));
    g_assert_false(options_parse_lba_range("1-2-3", &a, &b));
    g_assert_false(options_parse_lba_range("", &a, &b));

    g_assert_true(options_parse_fault_at("1000", &is_time, &a));
    g_assert_false(is_time);
    g_assert_cmpuint(a, ==, 1000);
    g_assert_true(options_parse_fault_at("5ms", &is_time, &a));
    g_assert_true(is_time);
    g_assert_cmpuint(a, ==, 5000000);
    g_assert_true(options_parse_fault_at("7ns", &is_time, &a));
    g_assert_true(is_time);
    g_assert_cmpuint(a, ==, 7);
    g_assert_false(options_parse_fault_at("", &is_time, &a));
    g_assert_false(options_parse_fault_at("ms", &is_time, &a));

    g_assert_true(options_parse_fault_op("read", &op, &code));
    g_assert_cmpint(op, ==, OPTIONS_OP_READ);
    g_assert_true(options_parse_fault_op("unmap", &op, &code));
    g_assert_cmpint(op, ==, OPTIONS_OP_UNMAP);
    g_assert_true(options_parse_fault_op("0x35", &op, &code));
    g_assert_cmpint(op, ==, OPTIONS_OP_OPCODE);
    g_assert_cmpuint(code, ==, 0x35);
    g_assert_true(options_parse_fault_op("255", &op, &code));
    g_assert_cmpuint(code, ==, 255);
    g_assert_false(options_parse_fault_op("READ", &op, &code));
    g_assert_false(options_parse_fault_op("0x100", &op, &code));

    g_assert_true(options_parse_sense("3/11/00", &k, &asc, &ascq));
    g_assert_cmpuint(k, ==, 3);
    g_assert_cmpuint(asc, ==, 0x11);
    g_assert_cmpuint(ascq, ==, 0);
    g_assert_true(options_parse_sense("0xE/0x1D/0xff", &k, &asc, &ascq));
    g_assert_cmpuint(k, ==, 0xe);
    g_assert_cmpuint(asc, ==, 0x1d);
    g_assert_cmpuint(ascq, ==, 0xff);
    g_assert_false(options_parse_sense("10/00/00", &k, &asc, &ascq));
    g_assert_false(options_parse_sense("3/100/00", &k, &asc, &ascq));
    g_assert_false(options_parse_sense("3//00", &k, &asc, &ascq));
    g_assert_false(options_parse_sense("3/11/00/1", &k, &asc, &ascq));
    g_assert_false(options_parse_sense("3/1g/00", &k, &asc, &ascq));

    g_assert_true(options_parse_asc("29/02", &asc, &ascq));
    g_assert_cmpuint(asc, ==, 0x29);
    g_assert_cmpuint(ascq, ==, 2);
    g_assert_false(options_parse_asc("29", &asc, &ascq));
    g_assert_false(options_parse_asc("29/02/1", &asc, &ascq));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/options/defaults", test_defaults);
    g_test_add_func("/options/machine", test_machine);
    for (size_t i = 0; i < G_N_ELEMENTS(last_wins); i++) {
        g_autofree char *name = g_strdup_printf("/options/last-wins/%02zu", i);
        g_test_add_data_func(name, &last_wins[i], test_last_wins);
    }
    g_test_add_func("/options/trace-verifier", test_trace_verifier);
    g_test_add_func("/options/storage", test_storage);
    g_test_add_func("/options/guest-side", test_guest_side);
    g_test_add_func("/options/faults", test_faults);
    g_test_add_func("/options/fault-kinds", test_fault_kinds_all_parse);
    g_test_add_func("/options/help", test_help_text);
    g_test_add_func("/options/version", test_version);
    for (size_t i = 0; i < G_N_ELEMENTS(help_cases); i++) {
        g_autofree char *name = g_strdup_printf("/options/help-list/%02zu", i);
        g_test_add_data_func(name, &help_cases[i], test_help_listing);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *name = g_strdup_printf("/options/bad/%03zu", i);
        g_test_add_data_func(name, &bad_cases[i], test_bad);
    }
    g_test_add_func("/options/availability", test_availability);
    g_test_add_func("/options/guest-registry", test_guest_registry);
    g_test_add_func("/options/qdev", test_qdev);
    g_test_add_func("/options/fault-parsers", test_fault_parsers);
    return g_test_run();
}
