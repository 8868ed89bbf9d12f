/* SPDX-License-Identifier: MIT */
/*
 * The built-in miniports: "-miniport NAME" finds them here. Each lives in
 * miniports/NAME/ and is compiled with its DriverEntry renamed to
 * NAME_DriverEntry (Makefile); the references are weak so the table stays
 * valid while a miniport is absent from the build.
 */
#include "port/port.h"

#define BUILTIN(sym) extern ULONG sym(PVOID, PVOID) __attribute__((weak))

BUILTIN(virtio_scsi_DriverEntry);
BUILTIN(ramdisk_DriverEntry);

void port_register_builtins(void)
{
    if (virtio_scsi_DriverEntry) {
        port_register_builtin("virtio-scsi", virtio_scsi_DriverEntry);
    }
    if (ramdisk_DriverEntry) {
        port_register_builtin("ramdisk", ramdisk_DriverEntry);
    }
}
