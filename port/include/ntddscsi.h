/* SPDX-License-Identifier: MIT */
/*
 * The part of the kit's ntddscsi.h a Storport miniport uses: the
 * SRB_IO_CONTROL header that starts the data buffer of an
 * SRB_FUNCTION_IO_CONTROL request (IOCTL_SCSI_MINIPORT), and the I/O
 * control codes built with CTL_CODE.
 */
#ifndef STOREMU_NTDDSCSI_H
#define STOREMU_NTDDSCSI_H

#include "storport_types.h"

/* --- I/O control code construction (devioctl.h) --------------------------- */

#define CTL_CODE(DeviceType, Function, Method, Access)                         \
    (((ULONG)(DeviceType) << 16) | ((ULONG)(Access) << 14) |                   \
     ((ULONG)(Function) << 2) | (ULONG)(Method))
#define DEVICE_TYPE_FROM_CTL_CODE(ctrlCode)                                    \
    (((ULONG)(ctrlCode)&0xffff0000) >> 16)
#define METHOD_FROM_CTL_CODE(ctrlCode) ((ULONG)((ctrlCode)&3))

#define METHOD_BUFFERED   0
#define METHOD_IN_DIRECT  1
#define METHOD_OUT_DIRECT 2
#define METHOD_NEITHER    3

#define FILE_ANY_ACCESS   0
#define FILE_READ_ACCESS  0x0001
#define FILE_WRITE_ACCESS 0x0002

#define FILE_DEVICE_CONTROLLER   0x00000004
#define FILE_DEVICE_DISK         0x00000007
#define FILE_DEVICE_SCSI         0x0000001b
#define FILE_DEVICE_MASS_STORAGE 0x0000002d

/* --- SCSI port I/O controls ----------------------------------------------- */

#define IOCTL_SCSI_BASE FILE_DEVICE_CONTROLLER

#define IOCTL_SCSI_PASS_THROUGH                                                \
    CTL_CODE(IOCTL_SCSI_BASE, 0x0401, METHOD_BUFFERED,                         \
             FILE_READ_ACCESS | FILE_WRITE_ACCESS)
#define IOCTL_SCSI_MINIPORT                                                    \
    CTL_CODE(IOCTL_SCSI_BASE, 0x0402, METHOD_BUFFERED,                         \
             FILE_READ_ACCESS | FILE_WRITE_ACCESS)
#define IOCTL_SCSI_GET_INQUIRY_DATA                                            \
    CTL_CODE(IOCTL_SCSI_BASE, 0x0403, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SCSI_GET_CAPABILITIES                                            \
    CTL_CODE(IOCTL_SCSI_BASE, 0x0404, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SCSI_PASS_THROUGH_DIRECT                                         \
    CTL_CODE(IOCTL_SCSI_BASE, 0x0405, METHOD_BUFFERED,                         \
             FILE_READ_ACCESS | FILE_WRITE_ACCESS)
#define IOCTL_SCSI_GET_ADDRESS                                                 \
    CTL_CODE(IOCTL_SCSI_BASE, 0x0406, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SCSI_RESCAN_BUS                                                  \
    CTL_CODE(IOCTL_SCSI_BASE, 0x0407, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* Miniport-defined control codes carried inside IOCTL_SCSI_MINIPORT. */
#define IOCTL_SCSI_MINIPORT_SMART_VERSION ((FILE_DEVICE_SCSI << 16) + 0x0500)
#define IOCTL_SCSI_MINIPORT_IDENTIFY      ((FILE_DEVICE_SCSI << 16) + 0x0501)
#define IOCTL_SCSI_MINIPORT_READ_SMART_ATTRIBS                                 \
    ((FILE_DEVICE_SCSI << 16) + 0x0502)
#define IOCTL_SCSI_MINIPORT_READ_SMART_THRESHOLDS                              \
    ((FILE_DEVICE_SCSI << 16) + 0x0503)
#define IOCTL_SCSI_MINIPORT_ENABLE_SMART  ((FILE_DEVICE_SCSI << 16) + 0x0504)
#define IOCTL_SCSI_MINIPORT_DISABLE_SMART ((FILE_DEVICE_SCSI << 16) + 0x0505)
#define IOCTL_SCSI_MINIPORT_RETURN_STATUS ((FILE_DEVICE_SCSI << 16) + 0x0506)

/*
 * Header at the start of an IOCTL_SCSI_MINIPORT data buffer.  Signature
 * identifies the miniport the request is meant for (8 bytes, not
 * terminated); Length counts the bytes after the header.
 */
typedef struct _SRB_IO_CONTROL {
    ULONG HeaderLength;
    UCHAR Signature[8];
    ULONG Timeout;
    ULONG ControlCode;
    ULONG ReturnCode;
    ULONG Length;
} SRB_IO_CONTROL, *PSRB_IO_CONTROL;

_Static_assert(sizeof(SRB_IO_CONTROL) == 28, "SRB_IO_CONTROL is 28 bytes");

#endif /* STOREMU_NTDDSCSI_H */
