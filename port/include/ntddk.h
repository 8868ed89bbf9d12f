/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for the kit's ntddk.h.  A Storport miniport may include it for the
 * base types, but must not call kernel routines outside the StorPort*
 * interface, so only the base types and helpers of storport_types.h are
 * provided; a call to anything else fails to compile, which is the point.
 */
#ifndef STOREMU_NTDDK_H
#define STOREMU_NTDDK_H

#include "storport_types.h"

#endif /* STOREMU_NTDDK_H */
