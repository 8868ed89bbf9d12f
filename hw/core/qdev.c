/* SPDX-License-Identifier: MIT */
/*
 * The table of -device types and their option schemas (hw/core/qdev.h).
 * The built-in entries describe every device this project plans; each
 * starts without a create function ("not available yet") until its device
 * file registers one from machine init. Property names follow QEMU's
 * virtio-scsi-pci and scsi-hd where they exist, so command lines read the
 * same; docs/options.md lists every property.
 */
#include <string.h>

#include "hw/core/qdev.h"
#include "system/event.h"

bool qdev_check_power_of_2(const char *value, char **why)
{
    uint64_t v;

    if (!parse_uint(value, &v) || v == 0 || (v & (v - 1)) != 0) {
        *why = g_strdup("is not a power of 2");
        return false;
    }
    return true;
}

bool qdev_check_bus(const char *value, char **why)
{
    g_autofree char *id = g_strdup(value);
    char *dot = strchr(id, '.');
    uint64_t n;

    if (dot) {
        *dot = '\0';
        if (!parse_uint(dot + 1, &n)) {
            *why = g_strdup("is not a bus (use ID or ID.N, e.g. hba0.0)");
            return false;
        }
    }
    if (!opts_check_id(id, why)) {
        g_free(*why);
        *why = g_strdup("is not a bus (use ID or ID.N, e.g. hba0.0)");
        return false;
    }
    return true;
}

static bool check_block_size(const char *value, char **why)
{
    uint64_t v;

    if (!parse_uint(value, &v) || (v != 512 && v != 4096)) {
        *why = g_strdup("is not a supported block size (512 or 4096)");
        return false;
    }
    return true;
}

/* Printable ASCII of at most @max characters (INQUIRY/VPD text fields). */
static bool check_ascii(const char *value, size_t max, char **why)
{
    size_t n = strlen(value);

    if (n == 0 || n > max) {
        *why = g_strdup_printf("must be 1 to %zu characters", max);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (value[i] < 0x20 || value[i] > 0x7e) {
            *why = g_strdup("must be printable ASCII");
            return false;
        }
    }
    return true;
}

/* SPC-4 7.8.18: the unit serial number page; 36 keeps it QEMU-sized. */
static bool check_serial(const char *value, char **why)
{
    return check_ascii(value, 36, why);
}

/* SPC-4 6.6.2: INQUIRY PRODUCT IDENTIFICATION is 16 bytes. */
static bool check_product(const char *value, char **why)
{
    return check_ascii(value, 16, why);
}

static const OptDesc virtio_scsi_pci_desc[] = {
    {"driver", OPT_STRING, "device type"},
    {"id", OPT_STRING, "device id (scsi-hd bus=ID.0 refers to it)",
     .check = opts_check_id},
    {"num_queues", OPT_UINT, "request queues (default 1)", NULL, 1, 16},
    {"queue_size", OPT_UINT, "entries per queue, a power of 2 (default 256)",
     NULL, 2, 1024, .check = qdev_check_power_of_2},
    {"msix", OPT_BOOL, "offer MSI-X; off leaves INTx only (default on)"},
    /* A minute outlasts any request time-out a test wants to provoke; the
     * bound keeps now + latency from wrapping round to the past. */
    {"latency", OPT_TIME, "per-command device overhead (default 2us)", NULL, 0,
     60 * NS_PER_SEC},
    {"fetch_delay", OPT_TIME,
     "doorbell to taking the queue's requests (default 1us)", NULL, 0,
     NS_PER_SEC},
    {NULL},
};

static const OptsSchema virtio_scsi_pci_schema = {
    .option = "-device virtio-scsi-pci",
    .implied = "driver",
    .desc = virtio_scsi_pci_desc,
};

static const OptDesc scsi_hd_desc[] = {
    {"driver", OPT_STRING, "device type"},
    {"drive", OPT_STRING, "-drive id of the backing image", .required = true,
     .check = opts_check_id},
    {"bus", OPT_STRING, "HBA to attach to, ID or ID.0 (default: the only HBA)",
     .check = qdev_check_bus},
    {"target", OPT_UINT, "SCSI target id (default 0)", NULL, 0, 255},
    {"lun", OPT_UINT, "logical unit number (default 0)", NULL, 0, 16383},
    {"wce", OPT_BOOL, "volatile write cache enabled (default on)"},
    {"serial", OPT_STRING, "unit serial number, VPD page 0x80",
     .check = check_serial},
    {"logical_block_size", OPT_UINT, "512 or 4096 (default 512)",
     .check = check_block_size},
    {"product", OPT_STRING, "INQUIRY product id, at most 16 characters",
     .check = check_product},
    {"id", OPT_STRING, "device id", .check = opts_check_id},
    {NULL},
};

static const OptsSchema scsi_hd_schema = {
    .option = "-device scsi-hd",
    .implied = "driver",
    .desc = scsi_hd_desc,
};

static DeviceType qdev_types[QDEV_MAX_TYPES] = {
    {"virtio-scsi-pci", "virtio SCSI host bus adapter (PCI, virtio 1.x)",
     &virtio_scsi_pci_schema, NULL},
    {"scsi-hd", "SCSI disk (SBC) backed by a -drive", &scsi_hd_schema, NULL},
};
static unsigned qdev_ntypes = 2;

static DeviceType *qdev_find_mutable(const char *name)
{
    for (unsigned i = 0; i < qdev_ntypes; i++) {
        if (strcmp(qdev_types[i].name, name) == 0) {
            return &qdev_types[i];
        }
    }
    return NULL;
}

const DeviceType *qdev_find(const char *name)
{
    return qdev_find_mutable(name);
}

unsigned qdev_type_count(void)
{
    return qdev_ntypes;
}

const DeviceType *qdev_type_at(unsigned i)
{
    return i < qdev_ntypes ? &qdev_types[i] : NULL;
}

bool qdev_set_create(const char *name, DeviceCreateFunc *create)
{
    DeviceType *t = qdev_find_mutable(name);

    if (!t) {
        return false;
    }
    t->create = create;
    return true;
}

bool qdev_register(const DeviceType *type, GError **errp)
{
    const OptsSchema *s = type->schema;

    if (!type->name || !type->name[0] || !s) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                    "device type without a name or schema");
        return false;
    }
    if (qdev_find(type->name)) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                    "device type '%s' is already registered", type->name);
        return false;
    }
    if (!s->implied || strcmp(s->implied, "driver") != 0 ||
        !opts_schema_find(s, "driver")) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                    "device type '%s': its schema needs the implied key "
                    "'driver'",
                    type->name);
        return false;
    }
    if (qdev_ntypes == QDEV_MAX_TYPES) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_CONFLICT,
                    "device type '%s': the table is full (QDEV_MAX_TYPES)",
                    type->name);
        return false;
    }
    qdev_types[qdev_ntypes++] = *type;
    return true;
}

void qdev_print_list(FILE *f)
{
    fprintf(f, "Devices (-device DRIVER,help lists the properties):\n");
    for (unsigned i = 0; i < qdev_ntypes; i++) {
        const DeviceType *t = &qdev_types[i];
        g_autofree char *left = g_strdup_printf("  %s", t->name);
        g_autofree char *text =
            g_strdup_printf("%s%s", t->help ? t->help : "",
                            t->create ? "" : " [not available yet]");
        opts_print_columns(f, left, text);
    }
}

bool qdev_create(Opts *opts, GError **errp)
{
    const char *driver = opts_get_str(opts, "driver", NULL);
    const DeviceType *t = driver ? qdev_find(driver) : NULL;

    if (!t) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "-device: driver: '%s' is not a known device "
                    "(see -device help)",
                    driver ? driver : "");
        return false;
    }
    if (!t->create) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_UNAVAILABLE,
                    "-device %s: not available yet in this build", t->name);
        return false;
    }
    return t->create(opts, errp);
}
