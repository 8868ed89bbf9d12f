/* SPDX-License-Identifier: MIT */
/*
 * The project's GError domain for configuration and host errors that have
 * no better-fitting glib domain (G_FILE_ERROR for files, G_OPTION_ERROR for
 * command-line syntax).
 */
#ifndef SYSTEM_ERROR_H
#define SYSTEM_ERROR_H

#include <glib.h>

#define STOREMU_ERROR (storemu_error_quark())

typedef enum StoremuError {
    STOREMU_ERROR_FAILED,      /* anything else */
    STOREMU_ERROR_CONFIG,      /* a configuration that cannot work */
    STOREMU_ERROR_UNAVAILABLE, /* a subsystem not built yet */
    STOREMU_ERROR_BUSY,        /* resource in use (image lock, slot) */
} StoremuError;

GQuark storemu_error_quark(void);

#endif
