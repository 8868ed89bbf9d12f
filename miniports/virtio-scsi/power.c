/* SPDX-License-Identifier: MIT */
/*
 * vioscsi: resets and power.
 *
 * Task management (virtio 5.6.6.2) carries the resets. A unit reset
 * (SRB_FUNCTION_RESET_LOGICAL_UNIT) is a LOGICAL UNIT RESET, a device
 * reset (SRB_FUNCTION_RESET_DEVICE) an I_T NEXUS RESET, and the SRB
 * completes with the function's response. HwStorResetBus, the port's
 * recovery after a time-out, sends an I_T NEXUS RESET to every target
 * with requests in flight; the device returns those requests with
 * VIRTIO_SCSI_S_RESET before it answers the function (5.6.6.2), so they
 * complete through the ordinary DPC path, once. If the functions are not
 * answered within VIOSCSI_RESET_WATCHDOG_US, or there are not enough
 * control slots, the device itself is reset (status 0): it then drops
 * everything without writing to the rings, and everything it held
 * completes here with SRB_STATUS_BUS_RESET before the device starts
 * again. A DEVICE_NEEDS_RESET configuration interrupt does the same.
 *
 * ScsiStopAdapter resets the device and keeps every piece of memory, so
 * ScsiRestartAdapter only runs the initialization sequence again.
 */
#include "vioscsi.h"

/* ---- task management functions ---- */

static UCHAR VioScsiTmfSrbStatus(UCHAR Response)
{
    switch (Response) {
    case VIRTIO_SCSI_S_FUNCTION_COMPLETE:
    case VIRTIO_SCSI_S_FUNCTION_SUCCEEDED:
        return SRB_STATUS_SUCCESS;
    case VIRTIO_SCSI_S_INCORRECT_LUN:
        return SRB_STATUS_INVALID_LUN;
    case VIRTIO_SCSI_S_BAD_TARGET:
        return SRB_STATUS_SELECTION_TIMEOUT;
    default:
        return SRB_STATUS_ERROR;
    }
}

/* Make a TMF available on the control queue; the caller holds its lock
 * and has checked for a free slot. */
static VOID VioScsiPostTmf(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                           PVOID Srb, UCHAR Subtype, UCHAR Target, UCHAR Lun,
                           BOOLEAN BusReset)
{
    PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[VIOSCSI_CONTROL_QUEUE];
    USHORT slot = queue->FreeStack[--queue->FreeCount];
    PVIOSCSI_TMF tmf = &AdapterExtension->Tmf[slot];
    PVIOSCSI_TMF_BUFFER buffer = &AdapterExtension->TmfBuffers[slot];

    tmf->Srb = Srb;
    tmf->BusReset = BusReset;
    tmf->Subtype = Subtype;
    tmf->Target = Target;
    tmf->Lun = Lun;
    RtlZeroMemory(buffer, sizeof(*buffer));
    buffer->Request.type = VIRTIO_SCSI_T_TMF;
    buffer->Request.subtype = Subtype;
    buffer->Request.lun[0] = VIRTIO_SCSI_LUN_FIRST;
    buffer->Request.lun[1] = Target;
    buffer->Request.lun[2] = VIRTIO_SCSI_LUN_FLAT;
    buffer->Request.lun[3] = Lun;
    /* Not a response code: tells an unanswered function apart. */
    buffer->Response.response = 0xff;
    queue->Context[2 * slot] = tmf;
    VioScsiVqAdd(queue, (USHORT)(2 * slot));
    InterlockedIncrement(&AdapterExtension->Stats.TmfSubmitted);
}

BOOLEAN VioScsiStartUnitReset(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                              PVOID Srb, UCHAR Subtype)
{
    PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[VIOSCSI_CONTROL_QUEUE];
    UCHAR path = 0, target = 0, lun = 0;
    UCHAR refusal = SRB_STATUS_PENDING;
    VIOSCSI_LOCK lock;
    USHORT old;

    SrbGetPathTargetLun(Srb, &path, &target, &lun);
    VioScsiLockQueue(AdapterExtension, queue, &lock);
    if (!AdapterExtension->Running) {
        refusal =
            AdapterExtension->Failed ? SRB_STATUS_NO_HBA : SRB_STATUS_BUSY;
    } else if (queue->FreeCount == 0) {
        refusal = SRB_STATUS_BUSY; /* nothing sent yet */
    } else {
        old = queue->NextAvail;
        VioScsiPostTmf(AdapterExtension, Srb, Subtype, target, lun, FALSE);
        VioScsiVqKick(AdapterExtension, queue, old);
    }
    VioScsiUnlockQueue(AdapterExtension, &lock);
    if (refusal != SRB_STATUS_PENDING) {
        VioScsiCompleteSrb(AdapterExtension, Srb, refusal);
    }
    return TRUE;
}

VOID VioScsiControlDpc(PSTOR_DPC Dpc, PVOID HwDeviceExtension,
                       PVOID SystemArgument1, PVOID SystemArgument2)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = HwDeviceExtension;
    PVIOSCSI_QUEUE queue = &adapterExtension->Queues[VIOSCSI_CONTROL_QUEUE];
    PVOID srbs[VIOSCSI_MAX_TMF];
    UCHAR statuses[VIOSCSI_MAX_TMF];
    ULONG count = 0;
    VIOSCSI_LOCK lock;
    USHORT head;
    ULONG length;
    ULONG i;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);

    InterlockedIncrement(&queue->Stats.DpcRuns);
    VioScsiLockQueue(adapterExtension, queue, &lock);
    if (adapterExtension->Running) {
        do {
            while (VioScsiVqPop(queue, &head, &length)) {
                PVIOSCSI_TMF tmf = head < queue->Size && !(head & 1)
                                       ? queue->Context[head]
                                       : NULL;
                USHORT slot = (USHORT)(head / 2);
                UCHAR response;

                if (tmf == NULL) {
                    InterlockedIncrement(&queue->Stats.BadUsed);
                    continue;
                }
                response =
                    length >= sizeof(VirtioScsiCtrlTmfResp)
                        ? adapterExtension->TmfBuffers[slot].Response.response
                        : VIRTIO_SCSI_S_FAILURE;
                if (tmf->BusReset &&
                    adapterExtension->BusResetTmfPending != 0) {
                    adapterExtension->BusResetTmfPending--;
                }
                if (tmf->Srb != NULL && count < VIOSCSI_MAX_TMF) {
                    srbs[count] = tmf->Srb;
                    statuses[count] = VioScsiTmfSrbStatus(response);
                    count++;
                }
                tmf->Srb = NULL;
                queue->Context[head] = NULL;
                queue->FreeStack[queue->FreeCount++] = slot;
                InterlockedIncrement(&adapterExtension->Stats.TmfCompleted);
            }
        } while (VioScsiVqArm(adapterExtension, queue));
    }
    VioScsiUnlockQueue(adapterExtension, &lock);
    for (i = 0; i < count; i++) {
        VioScsiCompleteSrb(adapterExtension, srbs[i], statuses[i]);
    }
}

/* ---- bus reset ---- */

BOOLEAN VioScsiHwResetBus(PVOID DeviceExtension, ULONG PathId)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;

    UNREFERENCED_PARAMETER(PathId); /* one bus */
    InterlockedIncrement(&adapterExtension->Stats.BusResets);
    VioScsiResetBus(adapterExtension);
    return TRUE;
}

/*
 * Look at every request in the device: mark its target in @Targets (if
 * given) and count those made available before reset epoch @Epoch.
 */
static ULONG VioScsiScanInFlight(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 PUCHAR Targets, ULONG Epoch)
{
    VIOSCSI_LOCK lock;
    ULONG older = 0;
    ULONG q;
    ULONG h;

    for (q = 0; q < AdapterExtension->RequestQueues; q++) {
        PVIOSCSI_QUEUE queue =
            &AdapterExtension->Queues[VIOSCSI_FIRST_REQUEST + q];

        VioScsiLockQueue(AdapterExtension, queue, &lock);
        for (h = 0; h < queue->Size; h++) {
            PVIOSCSI_SRB_EXTENSION srbExt = queue->Context[h];
            UCHAR target;

            if (srbExt == NULL) {
                continue;
            }
            target = srbExt->Request.hdr.lun[1];
            if (Targets != NULL) {
                Targets[target / 8] |= (UCHAR)(1u << (target % 8));
            }
            if ((LONG)(srbExt->Epoch - Epoch) < 0) {
                older++;
            }
        }
        VioScsiUnlockQueue(AdapterExtension, &lock);
    }
    return older;
}

VOID VioScsiResetBus(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    PVIOSCSI_QUEUE control = &AdapterExtension->Queues[VIOSCSI_CONTROL_QUEUE];
    UCHAR targets[256 / 8];
    ULONG count = 0;
    BOOLEAN escalate = FALSE;
    BOOLEAN armed = FALSE;
    VIOSCSI_LOCK lock;
    ULONG t;

    /* Which targets have requests in the device. */
    RtlZeroMemory(targets, sizeof(targets));
    VioScsiScanInFlight(AdapterExtension, targets, 0);

    VioScsiLockQueue(AdapterExtension, control, &lock);
    if (AdapterExtension->Running &&
        AdapterExtension->BusResetTmfPending == 0) {
        /* A unit reset that is itself stuck is part of the problem. */
        for (t = 0; t < AdapterExtension->TmfCount; t++) {
            PVIOSCSI_TMF tmf = &AdapterExtension->Tmf[t];

            if (control->Context[2 * t] != NULL && tmf->Srb != NULL) {
                targets[tmf->Target / 8] |= (UCHAR)(1u << (tmf->Target % 8));
            }
        }
        for (t = 0; t < 256; t++) {
            if (targets[t / 8] & (1u << (t % 8))) {
                count++;
            }
        }
        if (count > control->FreeCount) {
            escalate = TRUE;
        } else if (count != 0) {
            USHORT old = control->NextAvail;

            /* Requests started from now on are not this reset's concern. */
            AdapterExtension->ResetEpoch++;
            for (t = 0; t < 256; t++) {
                if (targets[t / 8] & (1u << (t % 8))) {
                    VioScsiPostTmf(AdapterExtension, NULL,
                                   VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, (UCHAR)t,
                                   0, TRUE);
                    AdapterExtension->BusResetTmfPending++;
                }
            }
            VioScsiVqKick(AdapterExtension, control, old);
            armed = TRUE;
        }
    }
    VioScsiUnlockQueue(AdapterExtension, &lock);

    if (escalate) {
        VioScsiHardReset(AdapterExtension);
    } else if (armed) {
        StorPortNotification(RequestTimerCall, AdapterExtension,
                             VioScsiResetWatchdog,
                             (ULONG)VIOSCSI_RESET_WATCHDOG_US);
    }
}

/*
 * The bus reset had its time. It worked if its functions came back and no
 * request from before it is still in the device: a target reset ends every
 * command of the target, so one that is left is lost in the device (a
 * missed doorbell, a dropped completion), and only a device reset gets it
 * back before the port gives up on it.
 */
VOID VioScsiResetWatchdog(PVOID DeviceExtension)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = DeviceExtension;
    PVIOSCSI_QUEUE control = &adapterExtension->Queues[VIOSCSI_CONTROL_QUEUE];
    BOOLEAN running;
    ULONG pending;
    ULONG epoch;
    ULONG older;
    VIOSCSI_LOCK lock;

    VioScsiLockQueue(adapterExtension, control, &lock);
    running = adapterExtension->Running;
    pending = adapterExtension->BusResetTmfPending;
    epoch = adapterExtension->ResetEpoch;
    VioScsiUnlockQueue(adapterExtension, &lock);
    if (!running) {
        return;
    }
    older = VioScsiScanInFlight(adapterExtension, NULL, epoch);
    if (pending != 0 || older != 0) {
        StorPortDebugPrint(0,
                           "vioscsi: bus reset incomplete (%lu function(s) "
                           "unanswered, %lu request(s) left); resetting the "
                           "device\n",
                           (unsigned long)pending, (unsigned long)older);
        VioScsiHardReset(adapterExtension);
    }
}

/* ---- device reset ---- */

typedef struct _VIOSCSI_TAKEN_BACK {
    PVIOSCSI_SRB_EXTENSION Commands; /* linked through NextCompleted */
    PVOID TmfSrbs[VIOSCSI_MAX_TMF];
    ULONG TmfSrbCount;
} VIOSCSI_TAKEN_BACK, *PVIOSCSI_TAKEN_BACK;

/*
 * After a device reset (the device writes nothing more to the rings):
 * take back every request and reset SRB the queues held. The caller holds
 * every queue lock; the ring state itself is cleared by the next start.
 */
static VOID VioScsiTakeBackAll(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                               PVIOSCSI_TAKEN_BACK Taken)
{
    PVIOSCSI_QUEUE control = &AdapterExtension->Queues[VIOSCSI_CONTROL_QUEUE];
    PVIOSCSI_SRB_EXTENSION *tail = &Taken->Commands;
    ULONG q;
    ULONG h;

    Taken->Commands = NULL;
    Taken->TmfSrbCount = 0;
    for (q = 0; q < AdapterExtension->RequestQueues; q++) {
        PVIOSCSI_QUEUE queue =
            &AdapterExtension->Queues[VIOSCSI_FIRST_REQUEST + q];

        for (h = 0; h < queue->Size; h++) {
            PVIOSCSI_SRB_EXTENSION srbExt = queue->Context[h];

            if (srbExt != NULL) {
                queue->Context[h] = NULL;
                srbExt->NextCompleted = NULL;
                *tail = srbExt;
                tail = &srbExt->NextCompleted;
            }
        }
    }
    for (h = 0; h < AdapterExtension->TmfCount; h++) {
        PVIOSCSI_TMF tmf = control->Context[2 * h];

        if (tmf != NULL && tmf->Srb != NULL) {
            Taken->TmfSrbs[Taken->TmfSrbCount++] = tmf->Srb;
        }
        control->Context[2 * h] = NULL;
    }
    AdapterExtension->BusResetTmfPending = 0;
}

static VOID
VioScsiCompleteTakenBack(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                         PVIOSCSI_TAKEN_BACK Taken, UCHAR SrbStatus)
{
    PVIOSCSI_SRB_EXTENSION srbExt = Taken->Commands;
    ULONG i;

    while (srbExt != NULL) {
        PVIOSCSI_SRB_EXTENSION next = srbExt->NextCompleted;

        VioScsiCompleteSrb(AdapterExtension, srbExt->Srb, SrbStatus);
        srbExt = next;
    }
    for (i = 0; i < Taken->TmfSrbCount; i++) {
        VioScsiCompleteSrb(AdapterExtension, Taken->TmfSrbs[i], SrbStatus);
    }
}

VOID VioScsiHardReset(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    VIOSCSI_ALL_LOCKS locks;
    VIOSCSI_TAKEN_BACK taken;
    BOOLEAN ok;

    VioScsiLockAll(AdapterExtension, FALSE, &locks);
    if (AdapterExtension->Stopped) {
        /* Stop reset the device already; restart will set it up. */
        VioScsiUnlockAll(AdapterExtension, &locks);
        return;
    }
    InterlockedIncrement(&AdapterExtension->Stats.HardResets);
    AdapterExtension->Running = FALSE;
    VioScsiDeviceReset(AdapterExtension);
    VioScsiTakeBackAll(AdapterExtension, &taken);
    ok = VioScsiDeviceStart(AdapterExtension);
    VioScsiUnlockAll(AdapterExtension, &locks);

    if (!ok) {
        /*
         * The device did not come back (surprise removal reads all ones,
         * or it never finished its reset): no retry can succeed, so do
         * not answer BUSY until the port gives up. What it held completes
         * with SRB_STATUS_NO_HBA ("the HBA is not responding", one of the
         * errors a miniport reports, with SP_INTERNAL_ADAPTER_ERROR
         * logged), later starts get the same (VioScsiStartCommand), and
         * StorPortMarkDeviceFailed with REMOVE_DEVICE has Storport stop
         * sending requests and PnP remove the adapter, so no reset hold
         * (ResetDetected) is asked for.
         */
        StorPortLogError(AdapterExtension, NULL, 0, 0, 0,
                         SP_INTERNAL_ADAPTER_ERROR, 1);
        VioScsiCompleteTakenBack(AdapterExtension, &taken, SRB_STATUS_NO_HBA);
        StorPortMarkDeviceFailed(
            AdapterExtension, NULL,
            STORPORT_MARK_DEVICE_FAILED_FLAG_REMOVE_DEVICE,
            (PWSTR)u"vioscsi: the device did not restart after a reset");
        return;
    }
    VioScsiCompleteTakenBack(AdapterExtension, &taken, SRB_STATUS_BUS_RESET);
    /* The targets were reset with the device: the port holds new requests
     * for its reset hold time, as after a bus reset it saw. */
    StorPortNotification(ResetDetected, AdapterExtension);
}

/* A configuration change: this device changes nothing in its
 * configuration, so the news is DEVICE_NEEDS_RESET (2.1.2). */
VOID VioScsiConfigDpc(PSTOR_DPC Dpc, PVOID HwDeviceExtension,
                      PVOID SystemArgument1, PVOID SystemArgument2)
{
    PVIOSCSI_ADAPTER_EXTENSION adapterExtension = HwDeviceExtension;
    UCHAR status;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);

    if (!adapterExtension->Running) {
        return;
    }
    status = StorPortReadRegisterUchar(adapterExtension,
                                       adapterExtension->CommonCfg +
                                           VIRTIO_PCI_COMMON_STATUS);
    if (status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        InterlockedIncrement(&adapterExtension->Stats.ConfigChanges);
        StorPortDebugPrint(0, "vioscsi: the device needs a reset\n");
        VioScsiHardReset(adapterExtension);
    }
}

/* ---- stop and restart ---- */

/*
 * The port has drained its queues and holds new requests; it calls this
 * at DIRQL with the interrupt lock. Reset the device so it stops touching
 * memory and interrupting; keep every allocation for the restart.
 */
SCSI_ADAPTER_CONTROL_STATUS
VioScsiStopAdapter(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    VIOSCSI_ALL_LOCKS locks;
    VIOSCSI_TAKEN_BACK taken;

    VioScsiLockAll(AdapterExtension, TRUE, &locks);
    AdapterExtension->Running = FALSE;
    AdapterExtension->Stopped = TRUE;
    VioScsiDeviceReset(AdapterExtension);
    VioScsiTakeBackAll(AdapterExtension, &taken);
    VioScsiUnlockAll(AdapterExtension, &locks);
    /* A bus reset's watchdog has nothing left to watch. */
    StorPortNotification(RequestTimerCall, AdapterExtension,
                         VioScsiResetWatchdog, (ULONG)0);
    /* Nothing should be left after the port's drain; if something was,
     * it must not be lost. */
    VioScsiCompleteTakenBack(AdapterExtension, &taken, SRB_STATUS_BUS_RESET);
    InterlockedIncrement(&AdapterExtension->Stats.Stops);
    return ScsiAdapterControlSuccess;
}

SCSI_ADAPTER_CONTROL_STATUS
VioScsiRestartAdapter(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    VIOSCSI_ALL_LOCKS locks;
    BOOLEAN ok;

    VioScsiLockAll(AdapterExtension, TRUE, &locks);
    AdapterExtension->Stopped = FALSE;
    ok = VioScsiDeviceStart(AdapterExtension);
    VioScsiUnlockAll(AdapterExtension, &locks);
    InterlockedIncrement(&AdapterExtension->Stats.Restarts);
    return ok ? ScsiAdapterControlSuccess : ScsiAdapterControlUnsuccessful;
}
