/* SPDX-License-Identifier: MIT */
/*
 * The kit's srbhelper.h: accessors that work on both SCSI_REQUEST_BLOCK and
 * STORAGE_REQUEST_BLOCK (SrbGetCdb, SrbGetDataTransferLength, ...).  They
 * live in srb.h here so that every miniport that includes storport.h has
 * them; this header exists so that sources written as
 * "#include <srbhelper.h>" build unchanged.
 */
#ifndef STOREMU_SRBHELPER_H
#define STOREMU_SRBHELPER_H

#include "storport_types.h"
#include "scsi.h"
#include "srb.h"

#ifndef _SRBHELPER_H_
#define _SRBHELPER_H_
#endif

#endif /* STOREMU_SRBHELPER_H */
