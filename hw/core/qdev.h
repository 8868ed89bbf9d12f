/* SPDX-License-Identifier: MIT */
/*
 * The -device types: their names, help, option schemas (system/opts.h) and
 * the function that instantiates one. The command line (system/options.c)
 * validates "-device DRIVER,props" against the schema of DRIVER; machine
 * assembly calls qdev_create() for every -device in order.
 *
 * A type whose create function is NULL is known but "not available yet in
 * this build": its options parse, and the command line then rejects it.
 * Device files fill in their create function from machine init with
 * qdev_set_create(), or add a whole new type with qdev_register(); no
 * constructor functions are involved.
 */
#ifndef HW_CORE_QDEV_H
#define HW_CORE_QDEV_H

#include <stdbool.h>
#include <stdio.h>
#include <glib.h>
#include "system/opts.h"

typedef bool DeviceCreateFunc(Opts *opts, GError **errp);

typedef struct DeviceType {
    const char *name;         /* "virtio-scsi-pci" */
    const char *help;         /* one line for "-device help" */
    const OptsSchema *schema; /* implied key "driver" */
    bool (*create)(Opts *opts, GError **errp);
} DeviceType;

#define QDEV_MAX_TYPES 32

/* The type called @name, or NULL. */
const DeviceType *qdev_find(const char *name);
/* Iteration in registration order (built-in types first). */
unsigned qdev_type_count(void);
const DeviceType *qdev_type_at(unsigned i);
static inline bool qdev_type_available(const DeviceType *t)
{
    return t->create != NULL;
}

/*
 * Make @name instantiable (or, with NULL, not available again, for tests).
 * False if no such type exists.
 */
bool qdev_set_create(const char *name, DeviceCreateFunc *create);
/*
 * Add a type; @type is copied (its strings and schema must outlive the
 * process, i.e. be static). Fails on a duplicate name, a schema whose
 * implied key is not "driver", or when the table is full.
 */
bool qdev_register(const DeviceType *type, GError **errp);

/* "-device help": one line per type, marking the unavailable ones. */
void qdev_print_list(FILE *f);

/* Instantiate the device described by @opts (parsed by options.c). */
bool qdev_create(Opts *opts, GError **errp);

/* OptDesc.check helpers shared by device schemas. */
bool qdev_check_power_of_2(const char *value, char **why);
/* "ID" or "ID.N" (a device id, optionally with a bus number). */
bool qdev_check_bus(const char *value, char **why);

#endif
