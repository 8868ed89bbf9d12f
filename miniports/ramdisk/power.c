/* SPDX-License-Identifier: MIT */
/*
 * ramdisk: resets and power. RamDiskHwResetBus is the port's recovery
 * after a request time-out: every request the miniport holds completes
 * with SRB_STATUS_BUS_RESET through StorPortCompleteRequest (deferred to
 * the drainer while one is executing a request outside the queue lock).
 * ScsiStopAdapter / ScsiRestartAdapter (from HwStorAdapterControl) mark
 * the adapter stopped and running again; a stop for power keeps the
 * disks, which are only freed at final removal
 * (RamDiskHwFreeAdapterResources). RamDiskHwUnitControl answers unit
 * start, unit power and removal.
 */
#include "ramdisk.h"

BOOLEAN RamDiskHwResetBus(PVOID DeviceExtension, ULONG PathId)
{
    PRAMDISK_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    STOR_LOCK_HANDLE lockHandle;

    InterlockedIncrement(&adapterExtension->Stats.BusResets);
    RamDiskAcquireQueueLock(adapterExtension, &lockHandle);
    if (adapterExtension->ActiveDrainers != 0) {
        /* A DPC or work item is in the middle of a request: it finishes
         * that one, then the last of them does the reset. */
        adapterExtension->ResetPending = TRUE;
        adapterExtension->ResetPathId = (UCHAR)PathId;
    } else {
        RamDiskResetLocked(adapterExtension, (UCHAR)PathId);
    }
    RamDiskReleaseQueueLock(adapterExtension, &lockHandle);
    return TRUE;
}

/*
 * The port stops an adapter only once its queues are drained, so there is
 * no request to fail here. Memory stays: a restart (resume from a sleep or
 * hibernation) finds the disks as they were.
 */
SCSI_ADAPTER_CONTROL_STATUS
RamDiskStopAdapter(PRAMDISK_ADAPTER_EXTENSION AdapterExtension)
{
    AdapterExtension->Stopped = TRUE;
    InterlockedIncrement(&AdapterExtension->Stats.Stops);
    return ScsiAdapterControlSuccess;
}

SCSI_ADAPTER_CONTROL_STATUS
RamDiskRestartAdapter(PRAMDISK_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG i;

    for (i = 0; i < AdapterExtension->LunCount; i++) {
        if (AdapterExtension->Units[i].Data == NULL) {
            return ScsiAdapterControlUnsuccessful;
        }
    }
    AdapterExtension->Stopped = FALSE;
    InterlockedIncrement(&AdapterExtension->Stats.Restarts);
    return ScsiAdapterControlSuccess;
}

/* The unit an address names, or NULL if it is not one of ours. */
static PRAMDISK_LOGICAL_UNIT
RamDiskUnitFromAddress(PRAMDISK_ADAPTER_EXTENSION AdapterExtension,
                       PSTOR_ADDRESS Address)
{
    PSTOR_ADDR_BTL8 btl = (PSTOR_ADDR_BTL8)Address;

    if (Address == NULL || Address->Type != STOR_ADDRESS_TYPE_BTL8 ||
        btl->Path != 0 || btl->Target != 0 ||
        btl->Lun >= AdapterExtension->LunCount) {
        return NULL;
    }
    return &AdapterExtension->Units[btl->Lun];
}

SCSI_UNIT_CONTROL_STATUS
RamDiskHwUnitControl(PVOID DeviceExtension, SCSI_UNIT_CONTROL_TYPE ControlType,
                     PVOID Parameters)
{
    PRAMDISK_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    PRAMDISK_LOGICAL_UNIT unit;

    switch (ControlType) {
    case ScsiQuerySupportedUnitControlTypes: {
        PSCSI_SUPPORTED_CONTROL_TYPE_LIST list = Parameters;
        static const SCSI_UNIT_CONTROL_TYPE supported[] = {
            ScsiQuerySupportedUnitControlTypes,
            ScsiUnitStart,
            ScsiUnitPower,
            ScsiUnitRemove,
            ScsiUnitSurpriseRemoval,
        };
        ULONG i;

        for (i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
            if ((ULONG)supported[i] < list->MaxControlType) {
                list->SupportedTypeList[supported[i]] = TRUE;
            }
        }
        return ScsiUnitControlSuccess;
    }
    case ScsiUnitStart:
        unit = RamDiskUnitFromAddress(adapterExtension, Parameters);
        if (unit == NULL) {
            return ScsiUnitControlUnsuccessful;
        }
        unit->Started = TRUE;
        return ScsiUnitControlSuccess;
    case ScsiUnitPower: {
        PSTOR_UNIT_CONTROL_POWER power = Parameters;

        unit = power != NULL
                   ? RamDiskUnitFromAddress(adapterExtension, power->Address)
                   : NULL;
        if (unit == NULL) {
            return ScsiUnitControlUnsuccessful;
        }
        /* RAM needs no spin-up: remember the state for debugging. */
        unit->PowerState = power->PowerState;
        return ScsiUnitControlSuccess;
    }
    case ScsiUnitRemove:
    case ScsiUnitSurpriseRemoval:
        unit = RamDiskUnitFromAddress(adapterExtension, Parameters);
        if (unit == NULL) {
            return ScsiUnitControlUnsuccessful;
        }
        unit->Started = FALSE;
        return ScsiUnitControlSuccess;
    default:
        return ScsiUnitControlUnsuccessful;
    }
}
