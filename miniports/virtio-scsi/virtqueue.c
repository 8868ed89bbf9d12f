/* SPDX-License-Identifier: MIT */
/*
 * vioscsi: the device side of the driver. The initialization sequence of
 * virtio 3.1.1 on the modern PCI common configuration (4.1.4.3): reset,
 * ACKNOWLEDGE, DRIVER, feature negotiation with the FEATURES_OK re-read,
 * device configuration, queue set-up with MSI-X vectors (4.1.5.1.2), then
 * DRIVER_OK. And the split virtqueue mechanics of 2.7: making buffers
 * available, deciding whether the device needs a notification (2.7.10,
 * VIRTIO_F_EVENT_IDX's avail_event or the used ring's NO_NOTIFY flag),
 * taking used buffers back and asking for the next interrupt (used_event).
 *
 * Ring memory is in the uncached extension, laid out once in
 * find-adapter; a reset or restart only clears it. Queue locks (the
 * queue's MSI-X spin lock, or the interrupt lock under INTx) are here too,
 * as the rings are what they guard.
 */
#include "vioscsi.h"

/* ---- registers ---- */

static UCHAR VioScsiReadStatus(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    return StorPortReadRegisterUchar(AdapterExtension,
                                     AdapterExtension->CommonCfg +
                                         VIRTIO_PCI_COMMON_STATUS);
}

static VOID VioScsiWriteStatus(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                               UCHAR Status)
{
    StorPortWriteRegisterUchar(
        AdapterExtension,
        AdapterExtension->CommonCfg + VIRTIO_PCI_COMMON_STATUS, Status);
}

static VOID VioScsiWriteCommon16(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 ULONG Offset, USHORT Value)
{
    StorPortWriteRegisterUshort(AdapterExtension,
                                (PUSHORT)(AdapterExtension->CommonCfg + Offset),
                                Value);
}

static USHORT VioScsiReadCommon16(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                  ULONG Offset)
{
    return StorPortReadRegisterUshort(
        AdapterExtension, (PUSHORT)(AdapterExtension->CommonCfg + Offset));
}

static VOID VioScsiWriteCommon32(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 ULONG Offset, ULONG Value)
{
    StorPortWriteRegisterUlong(AdapterExtension,
                               (PULONG)(AdapterExtension->CommonCfg + Offset),
                               Value);
}

static ULONG VioScsiReadCommon32(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 ULONG Offset)
{
    return StorPortReadRegisterUlong(
        AdapterExtension, (PULONG)(AdapterExtension->CommonCfg + Offset));
}

/* 64-bit fields as two 32-bit halves, low first: every transport must
 * accept that (4.1.3.1). */
static VOID VioScsiWriteCommon64(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 ULONG Offset, ULONGLONG Value)
{
    VioScsiWriteCommon32(AdapterExtension, Offset, (ULONG)Value);
    VioScsiWriteCommon32(AdapterExtension, Offset + 4, (ULONG)(Value >> 32));
}

static VOID VioScsiWriteDevice32(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 ULONG Offset, ULONG Value)
{
    StorPortWriteRegisterUlong(AdapterExtension,
                               (PULONG)(AdapterExtension->DeviceCfg + Offset),
                               Value);
}

BOOLEAN VioScsiDeviceReset(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG i;

    VioScsiWriteStatus(AdapterExtension, 0);
    /* 4.1.4.3.2: the reset is complete when the status reads back 0. */
    for (i = 0; i < VIOSCSI_RESET_POLLS; i++) {
        if (VioScsiReadStatus(AdapterExtension) == 0) {
            return TRUE;
        }
        StorPortStallExecution(10);
    }
    StorPortDebugPrint(0, "vioscsi: the device did not finish its reset\n");
    return FALSE;
}

/* Add @Bits to the device status, as 3.1.1 asks: one step at a time. */
static VOID VioScsiAddStatus(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                             UCHAR Bits)
{
    UCHAR status = VioScsiReadStatus(AdapterExtension);

    VioScsiWriteStatus(AdapterExtension, (UCHAR)(status | Bits));
}

static BOOLEAN
VioScsiNegotiateFeatures(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONGLONG offered;
    ULONGLONG wanted;

    VioScsiWriteCommon32(AdapterExtension, VIRTIO_PCI_COMMON_DFSELECT, 0);
    offered = VioScsiReadCommon32(AdapterExtension, VIRTIO_PCI_COMMON_DF);
    VioScsiWriteCommon32(AdapterExtension, VIRTIO_PCI_COMMON_DFSELECT, 1);
    offered |=
        (ULONGLONG)VioScsiReadCommon32(AdapterExtension, VIRTIO_PCI_COMMON_DF)
        << 32;
    AdapterExtension->DeviceFeatures = offered;
    if ((offered & VIOSCSI_REQUIRED_FEATURES) != VIOSCSI_REQUIRED_FEATURES) {
        StorPortDebugPrint(0,
                           "vioscsi: the device lacks VERSION_1 or "
                           "INDIRECT_DESC (features 0x%llx)\n",
                           (unsigned long long)offered);
        return FALSE;
    }
    wanted = offered & (VIOSCSI_REQUIRED_FEATURES | VIOSCSI_OPTIONAL_FEATURES);
    if (!AdapterExtension->UseEventIdx) {
        wanted &= ~VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX);
    }
    VioScsiWriteCommon32(AdapterExtension, VIRTIO_PCI_COMMON_GFSELECT, 0);
    VioScsiWriteCommon32(AdapterExtension, VIRTIO_PCI_COMMON_GF, (ULONG)wanted);
    VioScsiWriteCommon32(AdapterExtension, VIRTIO_PCI_COMMON_GFSELECT, 1);
    VioScsiWriteCommon32(AdapterExtension, VIRTIO_PCI_COMMON_GF,
                         (ULONG)(wanted >> 32));
    VioScsiAddStatus(AdapterExtension, VIRTIO_STATUS_FEATURES_OK);
    /* 3.1.1 step 6: the device may refuse the subset; only the re-read
     * tells. */
    if (!(VioScsiReadStatus(AdapterExtension) & VIRTIO_STATUS_FEATURES_OK)) {
        StorPortDebugPrint(0, "vioscsi: the device refused features 0x%llx\n",
                           (unsigned long long)wanted);
        return FALSE;
    }
    AdapterExtension->DriverFeatures = wanted;
    AdapterExtension->EventIdx =
        (wanted & VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX)) != 0;
    return TRUE;
}

/* ---- ring layout ---- */

static ULONG VioScsiAlign(ULONG Value)
{
    return (Value + VIOSCSI_AREA_ALIGN - 1) & ~(ULONG)(VIOSCSI_AREA_ALIGN - 1);
}

static ULONG VioScsiQueueCount(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    return VIOSCSI_FIRST_REQUEST + AdapterExtension->RequestQueues;
}

/*
 * Offsets of every ring, then the TMF and event buffers; the sizes come
 * from find-adapter (Queue->Size). Called again with the same sizes, it
 * gives the same layout.
 */
static ULONG VioScsiLayout(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG offset = 0;
    ULONG i;

    for (i = 0; i < VioScsiQueueCount(AdapterExtension); i++) {
        PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[i];

        queue->DescOffset = offset;
        offset =
            VioScsiAlign(offset + (ULONG)VIRTQ_DESC_TABLE_SIZE(queue->Size));
        queue->AvailOffset = offset;
        offset = VioScsiAlign(offset + (ULONG)VIRTQ_AVAIL_SIZE(queue->Size));
        queue->UsedOffset = offset;
        offset = VioScsiAlign(offset + (ULONG)VIRTQ_USED_SIZE(queue->Size));
    }
    AdapterExtension->TmfCount =
        AdapterExtension->Queues[VIOSCSI_CONTROL_QUEUE].Size / 2;
    if (AdapterExtension->TmfCount > VIOSCSI_MAX_TMF) {
        AdapterExtension->TmfCount = VIOSCSI_MAX_TMF;
    }
    AdapterExtension->EventCount =
        AdapterExtension->Queues[VIOSCSI_EVENT_QUEUE].Size;
    if (AdapterExtension->EventCount > VIOSCSI_MAX_EVENTS) {
        AdapterExtension->EventCount = VIOSCSI_MAX_EVENTS;
    }
    return offset;
}

ULONG VioScsiUncachedSize(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG rings = VioScsiLayout(AdapterExtension);

    return rings +
           VioScsiAlign(AdapterExtension->TmfCount *
                        sizeof(VIOSCSI_TMF_BUFFER)) +
           VioScsiAlign(AdapterExtension->EventCount * sizeof(VirtioScsiEvent));
}

VOID VioScsiLayoutQueues(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG rings = VioScsiLayout(AdapterExtension);
    ULONG events = rings + VioScsiAlign(AdapterExtension->TmfCount *
                                        sizeof(VIOSCSI_TMF_BUFFER));
    PUCHAR base = AdapterExtension->Uncached;
    ULONGLONG pa = AdapterExtension->UncachedPa;
    ULONG i;

    for (i = 0; i < VioScsiQueueCount(AdapterExtension); i++) {
        PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[i];

        queue->Desc = (VirtqDesc *)(base + queue->DescOffset);
        queue->Avail = base + queue->AvailOffset;
        queue->Used = base + queue->UsedOffset;
        queue->DescPa = pa + queue->DescOffset;
        queue->AvailPa = pa + queue->AvailOffset;
        queue->UsedPa = pa + queue->UsedOffset;
    }
    AdapterExtension->TmfBuffers = (PVIOSCSI_TMF_BUFFER)(base + rings);
    AdapterExtension->TmfPa = pa + rings;
    AdapterExtension->Events = (VirtioScsiEvent *)(base + events);
    AdapterExtension->EventsPa = pa + events;
}

static VOID VioScsiSetDesc(VirtqDesc *Desc, ULONGLONG Address, ULONG Length,
                           USHORT Flags, USHORT Next)
{
    Desc->addr = Address;
    Desc->len = Length;
    Desc->flags = Flags;
    Desc->next = Next;
}

/*
 * Clear a queue's rings and bookkeeping. Control and event queues get
 * their fixed descriptors here: TMF slot s is the chain 2s -> 2s+1
 * (request, then the one-byte response), event buffer e is descriptor e.
 */
static VOID VioScsiVqReset(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                           PVIOSCSI_QUEUE Queue)
{
    USHORT i;

    RtlZeroMemory(Queue->Desc, (SIZE_T)VIRTQ_DESC_TABLE_SIZE(Queue->Size));
    RtlZeroMemory((PVOID)Queue->Avail, (SIZE_T)VIRTQ_AVAIL_SIZE(Queue->Size));
    RtlZeroMemory((PVOID)Queue->Used, (SIZE_T)VIRTQ_USED_SIZE(Queue->Size));
    RtlZeroMemory(Queue->Context, sizeof(Queue->Context));
    Queue->NextAvail = 0;
    Queue->LastUsed = 0;
    if (Queue->Index == VIOSCSI_CONTROL_QUEUE) {
        Queue->Slots = (USHORT)AdapterExtension->TmfCount;
        for (i = 0; i < Queue->Slots; i++) {
            ULONGLONG pa = AdapterExtension->TmfPa +
                           (ULONGLONG)i * sizeof(VIOSCSI_TMF_BUFFER);

            VioScsiSetDesc(&Queue->Desc[2 * i], pa,
                           sizeof(VirtioScsiCtrlTmfReq), VIRTQ_DESC_F_NEXT,
                           (USHORT)(2 * i + 1));
            VioScsiSetDesc(&Queue->Desc[2 * i + 1],
                           pa + FIELD_OFFSET(VIOSCSI_TMF_BUFFER, Response),
                           sizeof(VirtioScsiCtrlTmfResp), VIRTQ_DESC_F_WRITE,
                           0);
        }
        RtlZeroMemory(AdapterExtension->Tmf, sizeof(AdapterExtension->Tmf));
        AdapterExtension->BusResetTmfPending = 0;
    } else if (Queue->Index == VIOSCSI_EVENT_QUEUE) {
        Queue->Slots = (USHORT)AdapterExtension->EventCount;
        for (i = 0; i < Queue->Slots; i++) {
            VioScsiSetDesc(&Queue->Desc[i],
                           AdapterExtension->EventsPa +
                               (ULONGLONG)i * sizeof(VirtioScsiEvent),
                           sizeof(VirtioScsiEvent), VIRTQ_DESC_F_WRITE, 0);
        }
    } else {
        Queue->Slots = Queue->Size;
    }
    /* Free slots are handed out lowest first. */
    Queue->FreeCount = Queue->Slots;
    for (i = 0; i < Queue->Slots; i++) {
        Queue->FreeStack[i] = (USHORT)(Queue->Slots - 1 - i);
    }
}

/* ---- split ring operations (2.7.13, 2.7.14) ---- */

VOID VioScsiVqAdd(PVIOSCSI_QUEUE Queue, USHORT Head)
{
    VioScsiVqAddInline(Queue, Head);
}

VOID VioScsiVqKick(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                   PVIOSCSI_QUEUE Queue, USHORT OldAvail)
{
    VioScsiVqKickInline(AdapterExtension, Queue, OldAvail);
}

ULONG VioScsiVqPopMany(PVIOSCSI_QUEUE Queue, PVIOSCSI_USED Used, ULONG Max)
{
    /* Locals, not Queue's fields: the stores to Used could alias them. */
    volatile UCHAR *ring = Queue->Used;
    USHORT size = Queue->Size;
    USHORT last = Queue->LastUsed;
    USHORT ready = VioScsiVqUsedReady(Queue);
    ULONG count = ready < Max ? ready : Max;
    ULONG i;

    if (count == 0) {
        return 0;
    }
    for (i = 0; i < count; i++, last++) {
        Used[i] = VioScsiVqUsedElement(ring, size, last);
    }
    VioScsiVqUsedTaken(Queue, last, count);
    return count;
}

BOOLEAN VioScsiVqPop(PVIOSCSI_QUEUE Queue, PUSHORT Head, PULONG Length)
{
    VIOSCSI_USED used;

    if (VioScsiVqPopMany(Queue, &used, 1) == 0) {
        return FALSE;
    }
    *Head = used.Head;
    *Length = used.Length;
    return TRUE;
}

BOOLEAN VioScsiVqArm(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                     PVIOSCSI_QUEUE Queue)
{
    if (AdapterExtension->EventIdx) {
        /* Interrupt when the device uses the entry after the last one we
         * took (2.7.10). */
        VioScsiWrite16(Queue->Avail, VIRTQ_AVAIL_USED_EVENT(Queue->Size),
                       Queue->LastUsed);
    }
    /* The request must be visible before we check for entries that raced
     * with it: either we see them now or the device interrupts. */
    KeMemoryBarrier();
    return VioScsiRead16(Queue->Used, VIRTQ_USED_IDX) != Queue->LastUsed;
}

/* ---- queue set-up ---- */

static USHORT VioScsiQueueVector(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 ULONG QueueIndex)
{
    switch (AdapterExtension->InterruptMode) {
    case VioScsiInterruptPerQueue:
        if (QueueIndex == VIOSCSI_CONTROL_QUEUE) {
            return VIOSCSI_MSG_CONTROL;
        }
        if (QueueIndex == VIOSCSI_EVENT_QUEUE) {
            return VIOSCSI_MSG_EVENT;
        }
        return (USHORT)(VIOSCSI_MSG_FIRST_REQUEST + QueueIndex -
                        VIOSCSI_FIRST_REQUEST);
    case VioScsiInterruptShared:
        return 0;
    default:
        return VIRTIO_MSI_NO_VECTOR;
    }
}

static BOOLEAN VioScsiSetupQueue(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                                 PVIOSCSI_QUEUE Queue)
{
    USHORT vector = VioScsiQueueVector(AdapterExtension, Queue->Index);
    USHORT max;
    ULONG notifyOffset;

    VioScsiWriteCommon16(AdapterExtension, VIRTIO_PCI_COMMON_Q_SELECT,
                         Queue->Index);
    max = VioScsiReadCommon16(AdapterExtension, VIRTIO_PCI_COMMON_Q_SIZE);
    if (max < Queue->Size) {
        StorPortDebugPrint(0, "vioscsi: queue %u shrank to %u entries\n",
                           Queue->Index, max);
        return FALSE;
    }
    VioScsiVqReset(AdapterExtension, Queue);
    VioScsiWriteCommon16(AdapterExtension, VIRTIO_PCI_COMMON_Q_SIZE,
                         Queue->Size);
    VioScsiWriteCommon16(AdapterExtension, VIRTIO_PCI_COMMON_Q_MSIX, vector);
    /* A vector the device could not map reads back NO_VECTOR
     * (4.1.5.1.2.1). */
    if (VioScsiReadCommon16(AdapterExtension, VIRTIO_PCI_COMMON_Q_MSIX) !=
        vector) {
        StorPortDebugPrint(0, "vioscsi: queue %u: MSI-X vector %u refused\n",
                           Queue->Index, vector);
        return FALSE;
    }
    Queue->Vector = vector;
    notifyOffset =
        (ULONG)VioScsiReadCommon16(AdapterExtension, VIRTIO_PCI_COMMON_Q_NOFF) *
        AdapterExtension->NotifyMultiplier;
    if (notifyOffset > AdapterExtension->NotifyLength ||
        AdapterExtension->NotifyLength - notifyOffset < sizeof(USHORT)) {
        StorPortDebugPrint(0,
                           "vioscsi: queue %u: doorbell at 0x%lx outside "
                           "the notification area\n",
                           Queue->Index, (unsigned long)notifyOffset);
        return FALSE;
    }
    Queue->Notify = (PUSHORT)(AdapterExtension->NotifyBase + notifyOffset);
    VioScsiWriteCommon64(AdapterExtension, VIRTIO_PCI_COMMON_Q_DESCLO,
                         Queue->DescPa);
    VioScsiWriteCommon64(AdapterExtension, VIRTIO_PCI_COMMON_Q_AVAILLO,
                         Queue->AvailPa);
    VioScsiWriteCommon64(AdapterExtension, VIRTIO_PCI_COMMON_Q_USEDLO,
                         Queue->UsedPa);
    VioScsiWriteCommon16(AdapterExtension, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
    return TRUE;
}

/* Make every event buffer available (5.6.6.3: keep the queue stocked). */
static VOID VioScsiPostEvents(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[VIOSCSI_EVENT_QUEUE];
    USHORT old = queue->NextAvail;

    RtlZeroMemory(AdapterExtension->Events,
                  AdapterExtension->EventCount * sizeof(VirtioScsiEvent));
    while (queue->FreeCount != 0) {
        USHORT head = queue->FreeStack[--queue->FreeCount];

        queue->Context[head] = &AdapterExtension->Events[head];
        VioScsiVqAdd(queue, head);
    }
    VioScsiVqArm(AdapterExtension, queue);
    VioScsiVqKick(AdapterExtension, queue, old);
}

BOOLEAN VioScsiDeviceStart(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension)
{
    ULONG i;

    AdapterExtension->Running = FALSE;
    if (!VioScsiDeviceReset(AdapterExtension)) {
        goto failed; /* gone (reads all ones) or wedged: it is not ours */
    }
    VioScsiAddStatus(AdapterExtension, VIRTIO_STATUS_ACKNOWLEDGE);
    VioScsiAddStatus(AdapterExtension, VIRTIO_STATUS_DRIVER);
    if (!VioScsiNegotiateFeatures(AdapterExtension)) {
        goto failed;
    }
    /* The request layout in the SRB extension assumes these sizes; they
     * are the reset values, set here so a device left otherwise by an
     * earlier driver is fine too. */
    VioScsiWriteDevice32(AdapterExtension, VIRTIO_SCSI_CFG_CDB_SIZE,
                         VIRTIO_SCSI_CDB_SIZE_DEFAULT);
    VioScsiWriteDevice32(AdapterExtension, VIRTIO_SCSI_CFG_SENSE_SIZE,
                         VIRTIO_SCSI_SENSE_SIZE_DEFAULT);
    if (AdapterExtension->InterruptMode != VioScsiInterruptLine) {
        VioScsiWriteCommon16(AdapterExtension, VIRTIO_PCI_COMMON_MSIX,
                             VIOSCSI_MSG_CONFIG);
        if (VioScsiReadCommon16(AdapterExtension, VIRTIO_PCI_COMMON_MSIX) !=
            VIOSCSI_MSG_CONFIG) {
            StorPortDebugPrint(0, "vioscsi: configuration vector refused\n");
            goto failed;
        }
    }
    for (i = 0; i < VioScsiQueueCount(AdapterExtension); i++) {
        if (!VioScsiSetupQueue(AdapterExtension,
                               &AdapterExtension->Queues[i])) {
            goto failed;
        }
    }
    VioScsiAddStatus(AdapterExtension, VIRTIO_STATUS_DRIVER_OK);
    if (VioScsiReadStatus(AdapterExtension) &
        VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        StorPortDebugPrint(0, "vioscsi: the device needs a reset at start\n");
        goto failed;
    }
    AdapterExtension->Running = TRUE;
    AdapterExtension->Failed = FALSE;
    VioScsiPostEvents(AdapterExtension);
    return TRUE;

failed:
    VioScsiAddStatus(AdapterExtension, VIRTIO_STATUS_FAILED);
    AdapterExtension->Failed = TRUE;
    return FALSE;
}

/* ---- queue locks ---- */

/*
 * Why these locks: with concurrent channels the port takes no StartIo
 * lock, so each request queue needs its own; the StartIo lock would
 * serialize every channel again. A DPC lock would do for StartIo and the
 * DPC (both DISPATCH_LEVEL), but stop, restart and HwStorInitialize run
 * at DIRQL with the interrupt lock and must exclude the DPCs too, which a
 * DISPATCH_LEVEL lock cannot do from there. The queue's MSI-X spin lock
 * is per queue, taken at DIRQL from any of those contexts, and is the
 * lock the port holds around that queue's interrupt routine. Under INTx
 * there is one interrupt, so one lock: the interrupt lock.
 * VioScsiLockQueue/VioScsiUnlockQueue (inline, vioscsi.h) take one
 * queue's; VioScsiLockAll takes every one.
 */
VOID VioScsiLockAll(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                    BOOLEAN InterruptLockHeld, PVIOSCSI_ALL_LOCKS Locks)
{
    ULONG last = 0;
    ULONG i;

    Locks->Count = 0;
    if (AdapterExtension->InterruptMode == VioScsiInterruptLine) {
        if (!InterruptLockHeld) {
            VioScsiLockQueue(AdapterExtension,
                             &AdapterExtension->Queues[VIOSCSI_CONTROL_QUEUE],
                             &Locks->Locks[Locks->Count++]);
        }
        return;
    }
    /* Queue lock messages ascend with the queue index (control 1, event
     * 2, requests 3..; or all 0), so this order is the global one. */
    for (i = 0; i < VioScsiQueueCount(AdapterExtension); i++) {
        PVIOSCSI_QUEUE queue = &AdapterExtension->Queues[i];

        if (Locks->Count != 0 && queue->LockMessage == last) {
            continue;
        }
        last = queue->LockMessage;
        VioScsiLockQueue(AdapterExtension, queue,
                         &Locks->Locks[Locks->Count++]);
    }
}

VOID VioScsiUnlockAll(PVIOSCSI_ADAPTER_EXTENSION AdapterExtension,
                      PVIOSCSI_ALL_LOCKS Locks)
{
    while (Locks->Count != 0) {
        VioScsiUnlockQueue(AdapterExtension, &Locks->Locks[--Locks->Count]);
    }
}
