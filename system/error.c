/* SPDX-License-Identifier: MIT */
/* The project's GError domain (error.h). */
#include "system/error.h"

G_DEFINE_QUARK(storemu - error - quark, storemu_error)
