/* SPDX-License-Identifier: MIT */
/*
 * The storemu command line (system/options.h): a table of QEMU-style
 * options, each parsed into MachineConfig by its handler, then the checks
 * that span options (-device drive= names a -drive, -record excludes
 * -replay...), then the availability switches of subsystems not built yet.
 * Every error is a GError naming the option and, for sub-options, the key;
 * main() prints it and exits with EXIT_USAGE. docs/options.md is the user
 * documentation of everything here and must change with it.
 */
#include <string.h>

#include "config-host.h"
#include "hw/core/qdev.h"
#include "hw/core/ram.h"
#include "system/event.h"
#include "system/options.h"

typedef struct OptionUse {
    const char *option;       /* availability switch name */
    const DeviceType *device; /* for -device: availability from qdev */
} OptionUse;

typedef struct OptionsState {
    MachineConfig *cfg;
    FILE *out;
    bool exit_now;
    GArray *uses; /* OptionUse, command-line order */
} OptionsState;

static FILE *options_out;
static OptionsGuestLookup *guest_lookup;
static OptionsGuestList *guest_list;

/* ---- availability ----------------------------------------------------- */

static struct {
    const char *option;
    bool available;
    bool built_in; /* the default, restored by options_reset_available */
} availability[] = {
    {"-machine", true, true},    {"-smp", true, true},
    {"-m", true, true},          {"-trace", true, true},
    {"-verifier", true, true},   {"-drive", false, false},
    {"-miniport", false, false}, {"-guest", false, false},
    {"-record", false, false},   {"-replay", false, false},
    {"-fault", false, false},
};

bool options_set_available(const char *option, bool available)
{
    for (size_t i = 0; i < G_N_ELEMENTS(availability); i++) {
        if (strcmp(availability[i].option, option) == 0) {
            availability[i].available = available;
            return true;
        }
    }
    return false;
}

bool options_is_available(const char *option)
{
    for (size_t i = 0; i < G_N_ELEMENTS(availability); i++) {
        if (strcmp(availability[i].option, option) == 0) {
            return availability[i].available;
        }
    }
    /* Options without a switch (--help, -device) are always parsed. */
    return true;
}

void options_reset_available(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(availability); i++) {
        availability[i].available = availability[i].built_in;
    }
}

void options_set_output(FILE *f)
{
    options_out = f;
}

void options_set_guest_registry(OptionsGuestLookup *lookup,
                                OptionsGuestList *list)
{
    guest_lookup = lookup;
    guest_list = list;
}

static void note_use(OptionsState *st, const char *option,
                     const DeviceType *device)
{
    OptionUse u = {option, device};

    g_array_append_val(st->uses, u);
}

/* ---- value checks used by the schemas --------------------------------- */

static bool check_nonempty(const char *value, char **why)
{
    if (!*value) {
        *why = g_strdup("must not be empty");
        return false;
    }
    return true;
}

/* Guest RAM is handed out in pages (hw/core/ram.h). */
static bool check_mem_size(const char *value, char **why)
{
    uint64_t v;

    if (parse_size(value, &v) && v % GUEST_PAGE_SIZE) {
        *why = g_strdup("is not a multiple of 4K");
        return false;
    }
    return true;
}

/* Images are addressed in 512-byte sectors at least. */
static bool check_drive_size(const char *value, char **why)
{
    uint64_t v;

    if (parse_size(value, &v) && v % 512) {
        *why = g_strdup("is not a multiple of 512");
        return false;
    }
    return true;
}

static bool check_trace_pattern(const char *value, char **why)
{
    if (!*value || strcmp(value, "-") == 0) {
        *why = g_strdup("is not a trace pattern (e.g. 'pci_*', '-sched_*')");
        return false;
    }
    return true;
}

/* A hex byte for sense data: 1 or 2 hex digits, "0x" optional. */
static bool parse_hex_byte(const char *s, unsigned max, uint8_t *out)
{
    uint64_t v = 0;
    size_t n;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    n = strlen(s);
    if (n < 1 || n > 2) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!g_ascii_isxdigit(s[i])) {
            return false;
        }
        v = v * 16 + (uint64_t)g_ascii_xdigit_value(s[i]);
    }
    if (v > max) {
        return false;
    }
    *out = (uint8_t)v;
    return true;
}

bool options_parse_sense(const char *s, uint8_t *key, uint8_t *asc,
                         uint8_t *ascq)
{
    g_auto(GStrv) part = g_strsplit(s, "/", -1);
    uint8_t k, a, q;

    if (g_strv_length(part) != 3 || !parse_hex_byte(part[0], 0xf, &k) ||
        !parse_hex_byte(part[1], 0xff, &a) ||
        !parse_hex_byte(part[2], 0xff, &q)) {
        return false;
    }
    *key = k;
    *asc = a;
    *ascq = q;
    return true;
}

bool options_parse_asc(const char *s, uint8_t *asc, uint8_t *ascq)
{
    g_auto(GStrv) part = g_strsplit(s, "/", -1);
    uint8_t a, q;

    if (g_strv_length(part) != 2 || !parse_hex_byte(part[0], 0xff, &a) ||
        !parse_hex_byte(part[1], 0xff, &q)) {
        return false;
    }
    *asc = a;
    *ascq = q;
    return true;
}

bool options_parse_fault_at(const char *s, bool *is_time, uint64_t *value)
{
    uint64_t v;
    size_t n = strlen(s);

    if (parse_uint(s, &v)) {
        *is_time = false;
        *value = v;
        return true;
    }
    /* A time must say its unit, or it would read as an event index. */
    if (n && g_ascii_isalpha(s[n - 1]) && parse_time_ns(s, &v)) {
        *is_time = true;
        *value = v;
        return true;
    }
    return false;
}

bool options_parse_lba_range(const char *s, uint64_t *first, uint64_t *last)
{
    const char *dash = strchr(s, '-');
    uint64_t a, b;

    if (!dash) {
        if (!parse_uint(s, &a)) {
            return false;
        }
        b = a;
    } else {
        g_autofree char *lo = g_strndup(s, (gsize)(dash - s));
        if (!parse_uint(lo, &a) || !parse_uint(dash + 1, &b) || a > b) {
            return false;
        }
    }
    *first = a;
    *last = b;
    return true;
}

bool options_parse_fault_op(const char *s, OptionsFaultOp *op, uint8_t *opcode)
{
    static const char *const names[] = {
        [OPTIONS_OP_READ] = "read",
        [OPTIONS_OP_WRITE] = "write",
        [OPTIONS_OP_FLUSH] = "flush",
        [OPTIONS_OP_UNMAP] = "unmap",
    };
    uint64_t v;

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *op = (OptionsFaultOp)i;
            *opcode = 0;
            return true;
        }
    }
    if (!parse_uint(s, &v) || v > 0xff) {
        return false;
    }
    *op = OPTIONS_OP_OPCODE;
    *opcode = (uint8_t)v;
    return true;
}

static bool check_fault_at(const char *value, char **why)
{
    bool is_time;
    uint64_t v;

    if (!options_parse_fault_at(value, &is_time, &v)) {
        *why = g_strdup("is not an event index or a time with a unit "
                        "(e.g. at=1000 or at=5ms)");
        return false;
    }
    return true;
}

static bool check_lba(const char *value, char **why)
{
    uint64_t a, b;

    if (!options_parse_lba_range(value, &a, &b)) {
        *why = g_strdup("is not an LBA range (use A-B with A <= B, or A)");
        return false;
    }
    return true;
}

static bool check_op(const char *value, char **why)
{
    OptionsFaultOp op;
    uint8_t code;

    if (!options_parse_fault_op(value, &op, &code)) {
        *why = g_strdup("is not an operation (read, write, flush, unmap "
                        "or an opcode 0..255)");
        return false;
    }
    return true;
}

static bool check_sense(const char *value, char **why)
{
    uint8_t k, a, q;

    if (!options_parse_sense(value, &k, &a, &q)) {
        *why = g_strdup("is not sense data (use KEY/ASC/ASCQ in hex, "
                        "e.g. 3/11/00)");
        return false;
    }
    return true;
}

static bool check_asc(const char *value, char **why)
{
    uint8_t a, q;

    if (!options_parse_asc(value, &a, &q)) {
        *why = g_strdup("is not an additional sense code (use ASC/ASCQ in "
                        "hex, e.g. 29/00)");
        return false;
    }
    return true;
}

/* ---- schemas ---------------------------------------------------------- */

static const char *const sched_values[] = {"fifo", "random", "pct", NULL};
/* Same order as sched_values. */
static const SchedPolicy sched_policies[] = {
    SCHED_POLICY_FIFO,
    SCHED_POLICY_RANDOM,
    SCHED_POLICY_PCT,
};
G_STATIC_ASSERT(G_N_ELEMENTS(sched_values) == G_N_ELEMENTS(sched_policies) + 1);

static const OptDesc machine_desc[] = {
    {"smp", OPT_UINT, "number of vCPUs (default 1)", NULL, 1, VCPU_MAX},
    {"seed", OPT_UINT, "seed of every random choice (default 0)"},
    {"sched", OPT_ENUM, "scheduler policy (default fifo)", sched_values},
    {"mem", OPT_SIZE, "guest RAM, a multiple of 4K (default 256M)", NULL,
     RAM_MIN_SIZE, RAM_MAX_SIZE, .check = check_mem_size},
    {"preempt", OPT_PROB,
     "sched=random: preemption probability per yield point (default 0.1)"},
    {"pct-depth", OPT_UINT, "sched=pct: d-1 priority changes (default 3)", NULL,
     1, SCHED_PCT_MAX_DEPTH},
    {"quantum", OPT_UINT, "sched=fifo: yield points per turn (default 64)",
     NULL, 1, 1000000},
    {"time-limit", OPT_TIME,
     "stop after this much virtual time, 0 = none (default 0)"},
    {NULL},
};

static const OptsSchema machine_schema = {
    .option = "-machine",
    .desc = machine_desc,
};

static const char *const drive_formats[] = {"raw", NULL};
static const char *const drive_caches[] = {"writeback", "none", "unsafe", NULL};

static const OptDesc drive_desc[] = {
    {"id", OPT_STRING, "drive name, for -device ...,drive=ID", .required = true,
     .check = opts_check_id},
    {"file", OPT_STRING,
     "disk image path (or give size= for a scratch disk in memory)",
     .check = check_nonempty},
    {"format", OPT_ENUM, "image format (default raw)", drive_formats},
    {"snapshot", OPT_BOOL,
     "writes go to a temporary overlay, the image is untouched (default off)"},
    {"cache", OPT_ENUM, "host cache mode (default writeback)", drive_caches},
    {"readonly", OPT_BOOL, "refuse writes (default off)"},
    {"mmap", OPT_BOOL,
     "reads copy from a mapping of the image, no system call (default off; "
     "not with cache=none)"},
    /* A host file offset is signed: its largest multiple of 512. */
    {"size", OPT_SIZE, "disk size, a multiple of 512", NULL, 512,
     INT64_MAX & ~(uint64_t)511, .check = check_drive_size},
    {NULL},
};

static const OptsSchema drive_schema = {
    .option = "-drive",
    .desc = drive_desc,
};

/* For "-device" text without a driver: help, or the right error. */
static const OptDesc device_peek_desc[] = {
    {"driver", OPT_STRING, "device type (-device help lists them)"},
    {NULL},
};

static const OptsSchema device_peek_schema = {
    .option = "-device",
    .implied = "driver",
    .desc = device_peek_desc,
    .wildcard_prefix = "",
};

static const OptDesc miniport_desc[] = {
    {"name", OPT_STRING, "built-in miniport name, or a path to a .so",
     .required = true, .check = check_nonempty},
    {"tracing", OPT_BOOL,
     "trace every call across the port/miniport boundary (default off)"},
    {NULL},
};

static const OptsSchema miniport_schema = {
    .option = "-miniport",
    .implied = "name",
    .desc = miniport_desc,
    .wildcard_prefix = "param",
};

static const OptDesc guest_desc[] = {
    {"name", OPT_STRING, "guest program to run", .required = true,
     .check = check_nonempty},
    {NULL},
};

static const OptsSchema guest_schema = {
    .option = "-guest",
    .implied = "name",
    .desc = guest_desc,
    .wildcard_prefix = "",
};

static const char *const record_data[] = {"hash", "full", NULL};

static const OptDesc record_desc[] = {
    {"file", OPT_STRING, "log file to write", .required = true,
     .check = check_nonempty},
    {"data", OPT_ENUM, "DMA payloads as a hash or in full (default hash)",
     record_data},
    {NULL},
};

static const OptsSchema record_schema = {
    .option = "-record",
    .implied = "file",
    .desc = record_desc,
};

static const OptDesc replay_desc[] = {
    {"file", OPT_STRING, "log file to replay", .required = true,
     .check = check_nonempty},
    {"device", OPT_BOOL,
     "run the device models too; off answers the "
     "miniport from the log alone (default on)"},
    {"stop-at", OPT_UINT, "stop at this event index (default: the end)"},
    {NULL},
};

static const OptsSchema replay_schema = {
    .option = "-replay",
    .implied = "file",
    .desc = replay_desc,
};

static const OptDesc trace_desc[] = {
    {"enable", OPT_STRING,
     "glob of trace points to enable; a leading '-' disables",
     .check = check_trace_pattern},
    {"file", OPT_STRING, "write trace output here (default stderr)",
     .check = check_nonempty},
    {NULL},
};

static const OptsSchema trace_schema = {
    .option = "-trace",
    .implied = "enable",
    .desc = trace_desc,
};

/* ---- -fault ----------------------------------------------------------- */

/* Parameters that only some kinds use. */
enum {
    FP_NS = 1 << 0,
    FP_SENSE = 1 << 1,
    FP_INFO = 1 << 2,
    FP_BYTES = 1 << 3,
    FP_ASC = 1 << 4,
    FP_POWER = 1 << 5,
};

static const struct {
    const char *key;
    unsigned bit;
} fault_params[] = {
    {"ns", FP_NS},       {"sense", FP_SENSE}, {"info", FP_INFO},
    {"bytes", FP_BYTES}, {"asc", FP_ASC},     {"power", FP_POWER},
};

/* Filters on the request a fault acts on. */
enum {
    FF_REQUEST = 1 << 0, /* lba, lun, op */
    FF_QUEUE = 1 << 1,   /* queue */
    FF_ALL = FF_REQUEST | FF_QUEUE,
};

static const char *const fault_kind_names[] = {
    "irq-drop",      "irq-delay",      "irq-spurious",
    "irq-duplicate", "dma-error",      "doorbell-ignore",
    "hang",          "fatal",          "surprise-remove",
    "latency",       "reorder",        "check-condition",
    "busy",          "task-set-full",  "short-transfer",
    "corrupt",       "unit-attention", "eio",
    "enospc",        "power-cut",      "pool-fail",
    "timer-jitter",  "power",          NULL};

typedef struct FaultKindInfo {
    const char *layer;
    const char *help;
    unsigned params;   /* FP_* the kind uses */
    unsigned required; /* FP_* it cannot do without */
    unsigned filters;  /* FF_* that make sense for it */
} FaultKindInfo;

/* Same order as fault_kind_names. */
static const FaultKindInfo fault_kinds[] = {
    {"device", "a completion interrupt is not raised", 0, 0, FF_ALL},
    {"device", "a completion interrupt is raised ns=TIME late", FP_NS, FP_NS,
     FF_ALL},
    {"device", "an interrupt with no completion behind it", 0, 0, 0},
    {"device", "a completion interrupt is raised twice", 0, 0, FF_ALL},
    {"device", "a DMA transfer fails; the request ends in error", 0, 0, FF_ALL},
    {"device", "a doorbell write is ignored", 0, 0, FF_QUEUE},
    {"device", "the device stops processing requests", 0, 0, FF_ALL},
    {"device", "the device reports a fatal error and needs a reset", 0, 0,
     FF_ALL},
    {"device", "the device disappears from the bus (reads all ones)", 0, 0,
     FF_ALL},
    {"backend", "the backend completes ns=TIME later than modelled", FP_NS,
     FP_NS, FF_ALL},
    {"device", "requests complete out of submission order", 0, 0, FF_ALL},
    {"scsi",
     "CHECK CONDITION with sense=K/ASC/ASCQ (default 3/11/00), info=LBA",
     FP_SENSE | FP_INFO, 0, FF_ALL},
    {"scsi", "BUSY status", 0, 0, FF_ALL},
    {"scsi", "TASK SET FULL status", 0, 0, FF_ALL},
    {"scsi", "only bytes=N of the data are transferred (residual reported)",
     FP_BYTES, 0, FF_ALL},
    {"scsi", "read data are corrupted on the way to the guest", 0, 0, FF_ALL},
    {"scsi", "UNIT ATTENTION with asc=ASC/ASCQ (default 29/00)", FP_ASC, 0,
     FF_ALL},
    {"backend", "the host I/O fails with EIO (MEDIUM ERROR)", 0, 0, FF_ALL},
    {"backend", "the host I/O fails with ENOSPC", 0, 0, FF_ALL},
    {"backend", "power is cut: the volatile write cache is lost", 0, 0, FF_ALL},
    {"guest", "a pool allocation (StorPortAllocatePool) fails", 0, 0, 0},
    {"guest", "a guest timer fires up to ns=TIME late", FP_NS, FP_NS, 0},
    {"guest", "a power transition power=stop|hibernate|resume|surprise-removal",
     FP_POWER, FP_POWER, 0},
};
G_STATIC_ASSERT(G_N_ELEMENTS(fault_kind_names) ==
                G_N_ELEMENTS(fault_kinds) + 1);

static const char *const fault_power_values[] = {"stop", "hibernate", "resume",
                                                 "surprise-removal", NULL};

static const OptDesc fault_desc[] = {
    {"kind", OPT_ENUM, "what goes wrong (see the list above)", fault_kind_names,
     .required = true},
    {"at", OPT_STRING,
     "armed from this event index, or virtual time with "
     "a unit (5ms) (default: from the start)",
     .check = check_fault_at},
    {"after", OPT_UINT, "skip the first N matching opportunities"},
    {"every", OPT_UINT, "fire on every Nth matching opportunity", NULL, 1, 0},
    {"p", OPT_PROB, "fire with this probability, seeded (default 1)"},
    {"count", OPT_UINT,
     "stop after N firings (default: 1 with at=, else unlimited)", NULL, 1, 0},
    {"lba", OPT_STRING, "only requests touching LBA range A-B",
     .check = check_lba},
    {"lun", OPT_UINT, "only requests to this LUN", NULL, 0, 16383},
    {"op", OPT_STRING,
     "only read|write|flush|unmap requests, or one CDB opcode",
     .check = check_op},
    {"queue", OPT_UINT, "only this request queue", NULL, 0, 15},
    {"vcpu", OPT_UINT, "only on this vCPU", NULL, 0, VCPU_MAX - 1},
    /* A minute outlasts any request time-out a test waits for; the bound
     * keeps now + ns (and timer-jitter's draw below ns + 1) from wrapping. */
    {"ns", OPT_TIME, "delay for irq-delay, latency, timer-jitter", NULL, 0,
     60 * NS_PER_SEC},
    {"sense", OPT_STRING, "check-condition: sense key/ASC/ASCQ in hex",
     .check = check_sense},
    {"info", OPT_UINT, "check-condition: INFORMATION field (an LBA)"},
    {"bytes", OPT_UINT, "short-transfer: bytes actually transferred"},
    {"asc", OPT_STRING, "unit-attention: ASC/ASCQ in hex", .check = check_asc},
    {"power", OPT_ENUM, "power: the transition", fault_power_values},
    {NULL},
};

static const OptsSchema fault_schema = {
    .option = "-fault",
    .implied = "kind",
    .desc = fault_desc,
};

const char *const *options_fault_kind_names(void)
{
    return fault_kind_names;
}

static char *fault_kinds_using(unsigned bit)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(fault_kinds); i++) {
        if (fault_kinds[i].params & bit) {
            g_string_append_printf(s, "%s%s", s->len ? ", " : "",
                                   fault_kind_names[i]);
        }
    }
    return g_string_free(s, false);
}

/* The keys of @o that make sense depend on its kind. */
static bool fault_check_kind(const Opts *o, GError **errp)
{
    static const char *const request_keys[] = {"lba", "lun", "op"};
    unsigned k = (unsigned)opts_get_uint(o, "kind", 0);
    const FaultKindInfo *info = &fault_kinds[k];
    const char *name = fault_kind_names[k];

    for (size_t i = 0; i < G_N_ELEMENTS(fault_params); i++) {
        const char *key = fault_params[i].key;
        unsigned bit = fault_params[i].bit;
        if (opts_has(o, key) && !(info->params & bit)) {
            g_autofree char *users = fault_kinds_using(bit);
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                        "-fault: %s: not used by kind '%s' (only by %s)", key,
                        name, users);
            return false;
        }
        if (!opts_has(o, key) && (info->required & bit)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_MISSING,
                        "-fault: %s: missing; kind '%s' requires it (%s=...)",
                        key, name, key);
            return false;
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(request_keys); i++) {
        if (opts_has(o, request_keys[i]) && !(info->filters & FF_REQUEST)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                        "-fault: %s: not used by kind '%s' (it does not act "
                        "on one request)",
                        request_keys[i], name);
            return false;
        }
    }
    if (opts_has(o, "queue") && !(info->filters & FF_QUEUE)) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                    "-fault: queue: not used by kind '%s' (it does not act "
                    "on a queue)",
                    name);
        return false;
    }
    return true;
}

static void fault_print_help(FILE *f)
{
    fprintf(f, "-fault KIND[,TRIGGER...][,PARAMETER...] (repeatable)\n"
               "Kinds:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(fault_kinds); i++) {
        g_autofree char *left = g_strdup_printf(
            "  %-16s %s", fault_kind_names[i], fault_kinds[i].layer);
        opts_print_columns(f, left, fault_kinds[i].help);
    }
    fprintf(f, "Triggers at, after, every, p, count and vcpu apply to every "
               "kind; lba, lun,\nop and queue only to kinds that act on a "
               "request.\n");
    opts_print_help(&fault_schema, f);
}

/* ---- handlers --------------------------------------------------------- */

/* Print the help asked for in @o, if any; true when it did. */
static bool handle_help(OptionsState *st, const Opts *o)
{
    const OptsSchema *schema = opts_schema(o);
    const char *key = opts_help_key(o);

    if (!opts_help_requested(o)) {
        return false;
    }
    if (!key || !opts_print_help_key(schema, key, st->out)) {
        opts_print_help(schema, st->out);
    }
    st->exit_now = true;
    return true;
}

static bool opt_machine(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&machine_schema, arg, errp);
    MachineConfig *cfg = st->cfg;

    if (!o) {
        return false;
    }
    if (handle_help(st, o)) {
        return true;
    }
    note_use(st, "-machine", NULL);
    /* Only what was given: a later -machine refines an earlier one. */
    cfg->smp = (unsigned)opts_get_uint(o, "smp", cfg->smp);
    cfg->sched.seed = opts_get_uint(o, "seed", cfg->sched.seed);
    if (opts_has(o, "sched")) {
        cfg->sched.policy = sched_policies[opts_get_uint(o, "sched", 0)];
    }
    cfg->mem_size = opts_get_uint(o, "mem", cfg->mem_size);
    cfg->sched.preempt = opts_get_prob(o, "preempt", cfg->sched.preempt);
    cfg->sched.pct_depth =
        (unsigned)opts_get_uint(o, "pct-depth", cfg->sched.pct_depth);
    cfg->sched.quantum =
        (unsigned)opts_get_uint(o, "quantum", cfg->sched.quantum);
    cfg->time_limit_ns = opts_get_uint(o, "time-limit", cfg->time_limit_ns);
    return true;
}

static bool opt_smp(OptionsState *st, const char *arg, GError **errp)
{
    uint64_t n;

    if (!parse_uint(arg, &n)) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "-smp: '%s' is not a number of vCPUs (1..%d)", arg,
                    VCPU_MAX);
        return false;
    }
    if (n < 1 || n > VCPU_MAX) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "-smp: '%s' is out of range (1..%d)", arg, VCPU_MAX);
        return false;
    }
    note_use(st, "-smp", NULL);
    st->cfg->smp = (unsigned)n;
    return true;
}

static bool opt_m(OptionsState *st, const char *arg, GError **errp)
{
    g_autofree char *lo = opts_format_size(RAM_MIN_SIZE);
    g_autofree char *hi = opts_format_size(RAM_MAX_SIZE);
    uint64_t n;
    bool ok;

    /* As in QEMU, "-m 512" means 512 MiB. */
    if (parse_uint(arg, &n)) {
        ok = n <= (UINT64_MAX >> 20);
        n <<= 20;
    } else {
        ok = parse_size(arg, &n);
        if (!ok && parse_size_overflows(arg)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                        "-m: '%s' is too large: it overflows 64 bits "
                        "(%s..%s)",
                        arg, lo, hi);
            return false;
        }
        if (!ok) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                        "-m: '%s' is not a size (use e.g. 512M; a bare "
                        "number is MiB)",
                        arg);
            return false;
        }
    }
    if (!ok || n < RAM_MIN_SIZE || n > RAM_MAX_SIZE) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "-m: '%s' is out of range (%s..%s)", arg, lo, hi);
        return false;
    }
    if (n % GUEST_PAGE_SIZE) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "-m: '%s' is not a multiple of 4K", arg);
        return false;
    }
    note_use(st, "-m", NULL);
    st->cfg->mem_size = n;
    return true;
}

static bool opt_drive(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&drive_schema, arg, errp);
    const char *id;

    if (!o) {
        return false;
    }
    if (handle_help(st, o)) {
        return true;
    }
    if (!opts_has(o, "file") && !opts_has(o, "size")) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_MISSING,
                    "-drive: file: missing; give file=PATH, or size=SIZE "
                    "for a scratch disk");
        return false;
    }
    id = opts_get_str(o, "id", NULL);
    for (guint i = 0; i < st->cfg->drives->len; i++) {
        if (strcmp(opts_get_str(st->cfg->drives->pdata[i], "id", ""), id) ==
            0) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                        "-drive: id: '%s' is already used by another -drive",
                        id);
            return false;
        }
    }
    note_use(st, "-drive", NULL);
    g_ptr_array_add(st->cfg->drives, g_steal_pointer(&o));
    return true;
}

static bool opt_device(OptionsState *st, const char *arg, GError **errp)
{
    g_autofree char *driver =
        opts_peek_value(&device_peek_schema, arg, "driver");
    g_autoptr(Opts) o = NULL;
    const DeviceType *type;
    const char *id;

    if (driver && (strcmp(driver, "help") == 0 || strcmp(driver, "?") == 0)) {
        qdev_print_list(st->out);
        st->exit_now = true;
        return true;
    }
    if (!driver) {
        /* Report malformed text first, then a help request, then this. */
        o = opts_parse(&device_peek_schema, arg, errp);
        if (!o) {
            return false;
        }
        if (opts_help_requested(o)) {
            qdev_print_list(st->out);
            st->exit_now = true;
            return true;
        }
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_MISSING,
                    "-device: driver: missing (e.g. -device scsi-hd,"
                    "drive=d0; see -device help)");
        return false;
    }
    type = qdev_find(driver);
    if (!type) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "-device: driver: '%s' is not a known device "
                    "(see -device help)",
                    driver);
        return false;
    }
    o = opts_parse(type->schema, arg, errp);
    if (!o) {
        return false;
    }
    if (handle_help(st, o)) {
        return true;
    }
    id = opts_get_str(o, "id", NULL);
    for (guint i = 0; id && i < st->cfg->devices->len; i++) {
        const char *other =
            opts_get_str(st->cfg->devices->pdata[i], "id", NULL);
        if (other && strcmp(other, id) == 0) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                        "%s: id: '%s' is already used by another -device",
                        type->schema->option, id);
            return false;
        }
    }
    note_use(st, "-device", type);
    g_ptr_array_add(st->cfg->devices, g_steal_pointer(&o));
    return true;
}

/* For the options that configure one thing: a second one is an error. */
static bool set_once(Opts **slot, Opts *o, const char *option, GError **errp)
{
    if (*slot) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                    "%s: given more than once (first: '%s')", option,
                    opts_text(*slot));
        opts_free(o);
        return false;
    }
    *slot = o;
    return true;
}

static bool opt_miniport(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&miniport_schema, arg, errp);

    if (!o) {
        return false;
    }
    if (handle_help(st, o)) {
        return true;
    }
    note_use(st, "-miniport", NULL);
    return set_once(&st->cfg->miniport, g_steal_pointer(&o), "-miniport", errp);
}

static bool opt_guest(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&guest_schema, arg, errp);
    const OptsSchema *schema;

    if (!o) {
        return false;
    }
    if (opts_help_requested(o) && !opts_has(o, "name")) {
        if (guest_list) {
            guest_list(st->out);
        } else {
            fprintf(st->out, "No guest program registry in this build.\n");
            opts_print_help(&guest_schema, st->out);
        }
        st->exit_now = true;
        return true;
    }
    if (guest_lookup && opts_has(o, "name")) {
        const char *name = opts_get_str(o, "name", "");
        schema = guest_lookup(name);
        if (!schema) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                        "-guest: name: '%s' is not a known guest program "
                        "(see -guest help)",
                        name);
            return false;
        }
        opts_free(g_steal_pointer(&o));
        o = opts_parse(schema, arg, errp);
        if (!o) {
            return false;
        }
    }
    if (handle_help(st, o)) {
        return true;
    }
    note_use(st, "-guest", NULL);
    return set_once(&st->cfg->guest, g_steal_pointer(&o), "-guest", errp);
}

static bool opt_record(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&record_schema, arg, errp);

    if (!o) {
        return false;
    }
    if (handle_help(st, o)) {
        return true;
    }
    note_use(st, "-record", NULL);
    return set_once(&st->cfg->record, g_steal_pointer(&o), "-record", errp);
}

static bool opt_replay(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&replay_schema, arg, errp);

    if (!o) {
        return false;
    }
    if (handle_help(st, o)) {
        return true;
    }
    note_use(st, "-replay", NULL);
    return set_once(&st->cfg->replay, g_steal_pointer(&o), "-replay", errp);
}

static bool opt_fault(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&fault_schema, arg, errp);
    const char *key;

    if (!o) {
        return false;
    }
    if (opts_help_requested(o)) {
        key = opts_help_key(o);
        if (!key || strcmp(key, "kind") == 0) {
            fault_print_help(st->out);
        } else {
            opts_print_help_key(&fault_schema, key, st->out);
        }
        st->exit_now = true;
        return true;
    }
    if (!fault_check_kind(o, errp)) {
        return false;
    }
    note_use(st, "-fault", NULL);
    g_ptr_array_add(st->cfg->faults, g_steal_pointer(&o));
    return true;
}

static bool opt_trace(OptionsState *st, const char *arg, GError **errp)
{
    g_autoptr(Opts) o = opts_parse(&trace_schema, arg, errp);

    if (!o) {
        return false;
    }
    if (opts_help_requested(o)) {
        fprintf(st->out, "-trace PATTERN enables the trace points whose name "
                         "matches the glob\n(-trace '-PATTERN' disables); "
                         "docs/tracing.md lists them.\n");
        opts_print_help(&trace_schema, st->out);
        st->exit_now = true;
        return true;
    }
    if (!opts_has(o, "enable") && !opts_has(o, "file")) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_MISSING,
                    "-trace: enable: missing; give a PATTERN or file=PATH");
        return false;
    }
    note_use(st, "-trace", NULL);
    if (opts_has(o, "enable")) {
        g_ptr_array_add(st->cfg->trace_patterns,
                        g_strdup(opts_get_str(o, "enable", NULL)));
    }
    if (opts_has(o, "file")) {
        g_free(st->cfg->trace_file);
        st->cfg->trace_file = g_strdup(opts_get_str(o, "file", NULL));
    }
    return true;
}

static bool opt_verifier(OptionsState *st, const char *arg, GError **errp)
{
    static const struct {
        const char *name;
        VerifierMode mode;
    } modes[] = {
        {"off", VERIFIER_OFF},
        {"on", VERIFIER_ON},
        {"strict", VERIFIER_STRICT},
    };

    if (strcmp(arg, "help") == 0 || strcmp(arg, "?") == 0) {
        fprintf(st->out,
                "-verifier off|on|strict\n"
                "  off     no DDI contract checks\n"
                "  on      report and count violations (default)\n"
                "  strict  the first violation stops the run, exit code 3\n");
        st->exit_now = true;
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (strcmp(arg, modes[i].name) == 0) {
            note_use(st, "-verifier", NULL);
            st->cfg->verifier = modes[i].mode;
            return true;
        }
    }
    g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                "-verifier: '%s' is not one of: off, on, strict", arg);
    return false;
}

static bool opt_help(OptionsState *st, const char *arg, GError **errp)
{
    options_print_help(st->out);
    st->exit_now = true;
    return true;
}

static bool opt_version(OptionsState *st, const char *arg, GError **errp)
{
    options_print_version(st->out);
    st->exit_now = true;
    return true;
}

typedef struct OptionDef {
    const char *name;    /* without dashes */
    const char *example; /* for "missing argument"; NULL: no argument */
    bool (*handler)(OptionsState *st, const char *arg, GError **errp);
} OptionDef;

static const OptionDef option_defs[] = {
    {"machine", "-machine smp=2,seed=1", opt_machine},
    {"smp", "-smp 2", opt_smp},
    {"m", "-m 512M", opt_m},
    {"drive", "-drive id=d0,file=disk.img", opt_drive},
    {"device", "-device scsi-hd,drive=d0", opt_device},
    {"miniport", "-miniport NAME", opt_miniport},
    {"guest", "-guest NAME", opt_guest},
    {"record", "-record FILE", opt_record},
    {"replay", "-replay FILE", opt_replay},
    {"fault", "-fault irq-drop,p=0.1", opt_fault},
    {"trace", "-trace 'pci_*'", opt_trace},
    {"verifier", "-verifier strict", opt_verifier},
    {"help", NULL, opt_help},
    {"h", NULL, opt_help},
    {"version", NULL, opt_version},
};

static const OptionDef *option_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(option_defs); i++) {
        if (strcmp(option_defs[i].name, name) == 0) {
            return &option_defs[i];
        }
    }
    return NULL;
}

/* ---- checks across options -------------------------------------------- */

static Opts *find_drive(const MachineConfig *cfg, const char *id)
{
    for (guint i = 0; i < cfg->drives->len; i++) {
        Opts *d = cfg->drives->pdata[i];
        if (strcmp(opts_get_str(d, "id", ""), id) == 0) {
            return d;
        }
    }
    return NULL;
}

static Opts *find_device(const MachineConfig *cfg, const char *id)
{
    for (guint i = 0; i < cfg->devices->len; i++) {
        Opts *d = cfg->devices->pdata[i];
        const char *did = opts_get_str(d, "id", NULL);
        if (did && strcmp(did, id) == 0) {
            return d;
        }
    }
    return NULL;
}

static bool check_references(const MachineConfig *cfg, GError **errp)
{
    g_autoptr(GHashTable) used = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < cfg->devices->len; i++) {
        Opts *dev = cfg->devices->pdata[i];
        const char *option = opts_schema(dev)->option;
        const char *drive = opts_get_str(dev, "drive", NULL);
        const char *bus = opts_get_str(dev, "bus", NULL);

        if (drive && !find_drive(cfg, drive)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                        "%s: drive: '%s' does not name a -drive id", option,
                        drive);
            return false;
        }
        if (drive && !g_hash_table_add(used, (gpointer)drive)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                        "%s: drive: '%s' is already used by another -device",
                        option, drive);
            return false;
        }
        if (bus) {
            g_autofree char *id = g_strdup(bus);
            Opts *hba;
            char *dot = strchr(id, '.');
            if (dot) {
                *dot = '\0';
            }
            hba = find_device(cfg, id);
            if (!hba || hba == dev) {
                g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                            "%s: bus: '%s' does not name another -device id",
                            option, bus);
                return false;
            }
        }
    }
    if (cfg->record && cfg->replay) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                    "-record: cannot be combined with -replay (replay "
                    "verifies against its log; record a new run separately)");
        return false;
    }
    return true;
}

static bool check_available(const OptionsState *st, GError **errp)
{
    for (guint i = 0; i < st->uses->len; i++) {
        const OptionUse *u = &g_array_index(st->uses, OptionUse, i);
        if (u->device && !qdev_type_available(u->device)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_UNAVAILABLE,
                        "-device %s: not available yet in this build",
                        u->device->name);
            return false;
        }
        if (!u->device && !options_is_available(u->option)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_UNAVAILABLE,
                        "%s: not available yet in this build", u->option);
            return false;
        }
    }
    return true;
}

/* ---- entry points ----------------------------------------------------- */

bool options_parse(int argc, char **argv, MachineConfig *cfg, bool *exit_now,
                   GError **errp)
{
    OptionsState st = {
        .cfg = cfg,
        .out = options_out ? options_out : stdout,
    };
    g_autoptr(GArray) uses = g_array_new(false, false, sizeof(OptionUse));
    bool ok = true;

    st.uses = uses;
    *exit_now = false;
    for (int i = 1; i < argc && ok && !st.exit_now; i++) {
        const char *a = argv[i];
        g_autofree char *name = NULL;
        const char *inline_arg = NULL;
        const OptionDef *def;

        if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_USAGE,
                        "'%s': unexpected argument; storemu takes only "
                        "options (see --help)",
                        a);
            return false;
        }
        name = g_strdup(a[1] == '-' ? a + 2 : a + 1);
        if (a[1] == '-') {
            /* GNU style "--smp=2"; single-dash options never take '='. */
            char *eq = strchr(name, '=');
            if (eq) {
                *eq = '\0';
                inline_arg = a + 2 + (eq - name) + 1;
            }
        }
        def = option_find(name);
        if (!def) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_USAGE,
                        "unknown option '%s' (see --help)", a);
            return false;
        }
        if (!def->example) {
            if (inline_arg) {
                g_set_error(errp, OPTS_ERROR, OPTS_ERROR_USAGE,
                            "--%s: takes no argument", def->name);
                return false;
            }
            ok = def->handler(&st, NULL, errp);
            continue;
        }
        if (!inline_arg) {
            if (i + 1 >= argc) {
                g_set_error(errp, OPTS_ERROR, OPTS_ERROR_MISSING,
                            "-%s: missing argument (e.g. %s)", def->name,
                            def->example);
                return false;
            }
            inline_arg = argv[++i];
        }
        ok = def->handler(&st, inline_arg, errp);
    }
    if (!ok) {
        return false;
    }
    if (st.exit_now) {
        *exit_now = true;
        return true;
    }
    return check_references(cfg, errp) && check_available(&st, errp);
}

void options_print_version(FILE *f)
{
    fprintf(f, "storemu " STOREMU_VERSION " (build " STOREMU_BUILD_ID ")\n");
}

void options_print_help(FILE *f)
{
    static const struct {
        int code;
        const char *meaning;
    } exit_codes[] = {
        {EXIT_OK, "success"},
        {EXIT_GUEST_FAILED, "the guest program reported failures"},
        {EXIT_USAGE, "usage or configuration error"},
        {EXIT_VERIFIER, "verifier violation (-verifier strict)"},
        {EXIT_DIVERGED, "replay divergence"},
        {EXIT_DEADLOCK, "deadlock or hang detected"},
    };
    g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);

    /* The text is laid out as it prints. */
    /* clang-format off */
    fputs(
"Usage: storemu [options]\n"
"\n"
"Runs a Storport miniport driver against emulated PCI SCSI hardware,\n"
"deterministically. Sub-options are QEMU-style KEY=VALUE lists separated\n"
"by ','; ',,' is a literal comma. '-OPTION help' lists an option's keys,\n"
"'-OPTION KEY=help' one key. docs/options.md has the details.\n"
"\n"
"Machine:\n"
"  -machine [smp=N][,seed=N][,sched=fifo|random|pct][,mem=SIZE]\n"
"           [,preempt=PROB][,pct-depth=N][,quantum=N][,time-limit=TIME]\n"
"      smp=N          vCPUs, 1..64 (default 1)\n"
"      seed=N         seed of every random choice (default 0)\n"
"      sched=POLICY   fifo: a vCPU runs quantum yield points per turn;\n"
"                     random: preempt with probability preempt per yield\n"
"                     point; pct: PCT with pct-depth - 1 priority changes\n"
"                     (default fifo)\n"
"      mem=SIZE       guest RAM, 4M..3G, a multiple of 4K (default 256M)\n"
"      preempt=PROB   0..1 (default 0.1)\n"
"      pct-depth=N    1..17 (default 3)\n"
"      quantum=N      1..1000000 (default 64)\n"
"      time-limit=TIME  stop after this much virtual time (default 0:\n"
"                     no limit)\n"
"  -smp N             same as -machine smp=N; the last of the two wins\n"
"  -m SIZE            same as -machine mem=SIZE; a bare number is MiB\n"
"\n"
"Storage:\n"
"  -drive id=ID,file=PATH|size=SIZE[,format=raw][,snapshot=on|off]\n"
"         [,cache=writeback|none|unsafe][,readonly=on|off]  (repeatable)\n"
"  -device DRIVER[,PROP=VALUE...]   (repeatable) '-device help' lists the\n"
"                     drivers, '-device DRIVER,help' their properties\n"
"\n"
"Guest:\n"
"  -miniport NAME|PATH.so[,tracing=on|off][,param.KEY=VALUE...]\n"
"  -guest NAME[,KEY=VALUE...]   the guest program to run and its keys\n"
"  -verifier off|on|strict      port verifier (default on; strict stops at\n"
"                     the first violation with exit code 3)\n"
"\n"
"Record, replay and faults:\n"
"  -record FILE[,data=hash|full]\n"
"  -replay FILE[,device=on|off][,stop-at=N]\n"
"  -fault KIND[,at=EVENT|TIME][,after=N][,every=N][,p=PROB][,count=N]\n"
"         [,lba=A-B][,lun=N][,op=read|write|flush|unmap|OPCODE][,queue=N]\n"
"         [,vcpu=N][,ns=TIME][,sense=K/ASC/ASCQ][,info=LBA][,bytes=N]\n"
"         [,asc=ASC/ASCQ][,power=stop|hibernate|resume|surprise-removal]\n"
"                     (repeatable) '-fault help' lists the kinds\n"
"\n"
"Diagnostics:\n"
"  -trace PATTERN     enable trace points matching a glob; '-PATTERN'\n"
"                     disables (repeatable)\n"
"  -trace file=PATH   write the trace to PATH (default stderr)\n"
"  -h, --help         print this text\n"
"  -version, --version  print the version and build id\n"
"\n"
"Values: SIZE 512, 64K, 64M, 2G (powers of 1024); TIME 100 (ns), 10us,\n"
"5ms, 2s; booleans on|off|yes|no|true|false; numbers decimal or 0x hex.\n"
"\n"
"Exit codes:\n", f);
    /* clang-format on */
    for (size_t i = 0; i < G_N_ELEMENTS(exit_codes); i++) {
        fprintf(f, "  %d  %s\n", exit_codes[i].code, exit_codes[i].meaning);
    }

    for (size_t i = 0; i < G_N_ELEMENTS(availability); i++) {
        if (!availability[i].available) {
            g_ptr_array_add(missing, g_strdup(availability[i].option));
        }
    }
    for (unsigned i = 0; i < qdev_type_count(); i++) {
        const DeviceType *t = qdev_type_at(i);
        if (!qdev_type_available(t)) {
            g_ptr_array_add(missing, g_strdup_printf("-device %s", t->name));
        }
    }
    if (missing->len) {
        int col = 2;
        fprintf(f, "\nNot available yet in this build:\n ");
        for (guint i = 0; i < missing->len; i++) {
            const char *m = missing->pdata[i];
            int n = (int)strlen(m) + 1;
            if (col + n > 78) {
                fprintf(f, "\n ");
                col = 2;
            }
            fprintf(f, " %s", m);
            col += n;
        }
        fputc('\n', f);
    }
}
