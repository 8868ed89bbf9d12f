/* SPDX-License-Identifier: MIT */
/*
 * Leaf StorPort* routines, part 1: the per-adapter side table shared by
 * storport-*.c, processors/groups/NUMA nodes (one group, one node,
 * cpus_count() processors), request information, unit attributes, state
 * change and asynchronous notifications, configuration queries and
 * updates, MSI-X masking, and the routines that cannot mean anything
 * here (PoFx runtime power, inline crypto, ACPI, live dumps, service
 * IRPs), which say so once and return their documented failure value.
 *
 * Reference: the DDI pages in MicrosoftDocs/windows-driver-docs-ddi,
 * wdk-ddi-src/content/storport/nf-storport-<routine>.md; docs/port.md
 * lists what each routine does here.
 */
#include <string.h>
#include "hw/core/pci.h"
#include "hw/core/ram.h"
#include "port/storport-misc.h"
#include "system/boundary.h"
#include "system/trace.h"

#ifndef STOR_REQUEST_INFO_VER_1
#define STOR_REQUEST_INFO_VER_1 1
#endif
#ifndef STOR_REQUEST_INFO_VER_2
#define STOR_REQUEST_INFO_VER_2 2
#endif

/* The one device-management class the DDI defines for
 * StorPortIsDeviceOperationAllowed. */
static const GUID secure_reprovision_guid = {
    0xdcaf9c10,
    0x895f,
    0x481f,
    {0xa4, 0x92, 0xd4, 0xce, 0xd2, 0xf5, 0x56, 0x33}};

static GHashTable *misc_tab; /* PortAdapter* -> MiscAdapter* */

/* ---- the side table ---- */

MiscAdapter *misc_adapter(PortAdapter *a)
{
    MiscAdapter *m;

    if (!misc_tab) {
        misc_tab = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    m = g_hash_table_lookup(misc_tab, a);
    if (m) {
        return m;
    }
    m = g_new0(MiscAdapter, 1);
    m->a = a;
    g_strlcpy(m->name, a->name, sizeof(m->name));
    m->blocks = g_array_new(FALSE, FALSE, sizeof(MiscBlock));
    m->sg_lists = g_ptr_array_new();
    m->sg_pending = g_ptr_array_new();
    m->unit_attrs = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_insert(misc_tab, a, m);
    return m;
}

static void misc_free(MiscAdapter *m)
{
    misc_memory_teardown(m);
    misc_registry_teardown(m);
    misc_sync_teardown(m);
    if (m->state_change) {
        /* Its DPC may still be queued: orphan it, the DPC frees it. */
        m->state_change->m = NULL;
    }
    g_array_free(m->blocks, TRUE);
    g_ptr_array_free(m->sg_lists, TRUE);
    g_ptr_array_free(m->sg_pending, TRUE);
    g_hash_table_destroy(m->unit_attrs);
    g_free(m);
}

void port_misc_adapter_teardown(PortAdapter *a)
{
    MiscAdapter *m = misc_tab ? g_hash_table_lookup(misc_tab, a) : NULL;

    if (!m) {
        return;
    }
    g_hash_table_remove(misc_tab, a);
    misc_free(m);
}

static gint by_name(gconstpointer x, gconstpointer y)
{
    const MiscAdapter *const *p = x, *const *q = y;
    return strcmp((*p)->name, (*q)->name);
}

void port_misc_fini(void)
{
    if (misc_tab) {
        /* Report in name order, not in the hash table's pointer order,
         * so two runs print the same. */
        GPtrArray *left = g_ptr_array_new();
        GHashTableIter it;
        gpointer k, v;

        g_hash_table_iter_init(&it, misc_tab);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            g_ptr_array_add(left, v);
        }
        g_ptr_array_sort(left, by_name);
        for (guint i = 0; i < left->len; i++) {
            misc_free(g_ptr_array_index(left, i));
        }
        g_ptr_array_free(left, TRUE);
        g_hash_table_destroy(misc_tab);
        misc_tab = NULL;
    }
    misc_sync_fini();
    misc_log_fini();
}

/* ---- shared helpers ---- */

void misc_yield(const char *why)
{
    if (cpu_in_guest()) {
        cpu_yield(why);
    }
}

bool misc_irql_at_most(KIRQL max, const char *fn)
{
    static const char *const names[] = {"PASSIVE_LEVEL", "APC_LEVEL",
                                        "DISPATCH_LEVEL"};

    if (cpu_level() <= max) {
        return true;
    }
    verifier_report(VC_IRQL, mp_current_request(), "%s at IRQL %u (%s at most)",
                    fn, cpu_level(),
                    max < G_N_ELEMENTS(names) ? names[max] : "DIRQL");
    return false;
}

bool misc_btl(PSTOR_ADDRESS addr, UCHAR *path, UCHAR *target, UCHAR *lun)
{
    PSTOR_ADDR_BTL8 b = (PSTOR_ADDR_BTL8)addr;

    if (!addr || addr->Type != STOR_ADDRESS_TYPE_BTL8 ||
        addr->AddressLength < STOR_ADDR_BTL8_ADDRESS_LENGTH) {
        return false;
    }
    *path = b->Path;
    *target = b->Target;
    *lun = b->Lun;
    return true;
}

const char *misc_address_text(PSTOR_ADDRESS addr, char *buf, size_t len)
{
    UCHAR p, t, l;

    if (!addr) {
        g_strlcpy(buf, "adapter", len);
    } else if (misc_btl(addr, &p, &t, &l)) {
        snprintf(buf, len, "unit %u:%u:%u", p, t, l);
    } else {
        snprintf(buf, len, "address of type %u", addr->Type);
    }
    return buf;
}

char *misc_wstr(PCWSTR s, size_t max, bool *too_long)
{
    size_t n = 0;
    char *u;

    if (too_long) {
        *too_long = false;
    }
    if (!s) {
        return NULL;
    }
    while (n <= max && s[n]) {
        n++;
    }
    if (n > max) {
        if (too_long) {
            *too_long = true;
        }
        n = max;
    }
    u = g_utf16_to_utf8((const gunichar2 *)s, (glong)n, NULL, NULL, NULL);
    return u ? u : g_strdup("(not UTF-16)");
}

void misc_hex(GString *s, const void *p, size_t n, size_t max)
{
    const uint8_t *b = p;

    for (size_t i = 0; b && i < n && i < max; i++) {
        g_string_append_printf(s, "%02x", b[i]);
    }
    if (n > max) {
        g_string_append_printf(s, "...(%zu bytes)", n);
    }
}

/* The adapter and, when @addr names one, the unit it addresses. */
static bool unit_of(PortAdapter *a, PSTOR_ADDRESS addr, PortLu **lu)
{
    UCHAR p, t, l;

    *lu = NULL;
    if (!misc_btl(addr, &p, &t, &l)) {
        return false;
    }
    *lu = port_lu_find(a, p, t, l);
    return *lu != NULL;
}

/* ---- processors, groups and NUMA nodes ---- */

static KAFFINITY all_cpus(void)
{
    unsigned n = cpus_count();
    return n >= 64 ? ~(KAFFINITY)0 : ((KAFFINITY)1 << n) - 1;
}

ULONG NTAPI StorPortGetActiveGroupCount(PVOID HwDeviceExtension,
                                        PUSHORT NumberGroups)
{
    if (!NumberGroups) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *NumberGroups = 1;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetGroupAffinity(PVOID HwDeviceExtension,
                                     USHORT GroupNumber,
                                     PKAFFINITY GroupAffinityMask)
{
    if (!GroupAffinityMask) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (GroupNumber != 0) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    *GroupAffinityMask = all_cpus();
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetActiveNodeCount(PVOID HwDeviceExtension,
                                       PULONG NumberNodes)
{
    if (!NumberNodes) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *NumberNodes = 1;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetHighestNodeNumber(PVOID HwDeviceExtension,
                                         PULONG HighestNode)
{
    if (!HighestNode) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *HighestNode = 0;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetNodeAffinity(PVOID HwDeviceExtension, ULONG NodeNumber,
                                    PGROUP_AFFINITY NodeAffinityMask)
{
    if (!NodeAffinityMask || NodeNumber > 0xffff) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* A node number that exists nowhere has no active processors, as
     * KeQueryNodeActiveAffinity answers. */
    memset(NodeAffinityMask, 0, sizeof(*NodeAffinityMask));
    NodeAffinityMask->Mask = NodeNumber == 0 ? all_cpus() : 0;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetNodeAffinity2(PVOID HwDeviceExtension, ULONG NodeNumber,
                                     PGROUP_AFFINITY GroupAffinities,
                                     USHORT GroupAffinitiesCount,
                                     PUSHORT GroupAffinitiesCountRequired)
{
    if (NodeNumber != 0 || !GroupAffinitiesCountRequired) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *GroupAffinitiesCountRequired = 1;
    if (!GroupAffinities || GroupAffinitiesCount < 1) {
        return STOR_STATUS_BUFFER_TOO_SMALL;
    }
    memset(&GroupAffinities[0], 0, sizeof(GroupAffinities[0]));
    GroupAffinities[0].Mask = all_cpus();
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetLogicalProcessorRelationship(
    PVOID HwDeviceExtension, PPROCESSOR_NUMBER ProcessorNumber,
    LOGICAL_PROCESSOR_RELATIONSHIP RelationshipType,
    PSYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX Information, PULONG Length)
{
    /* SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX is opaque in port/include:
     * there is no layout to fill. */
    port_not_implemented("StorPortGetLogicalProcessorRelationship");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetMessageInterruptIDFromProcessorIndex(
    PVOID HwDeviceExtension, ULONG ProcessorIndex, PULONG MessageInterruptID)
{
    PortAdapter *a = port_adapter_for_caller(
        HwDeviceExtension, "StorPortGetMessageInterruptIDFromProcessorIndex");

    if (!a || !MessageInterruptID || ProcessorIndex >= cpus_count()) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* The first message the port targeted at that processor (pnp.c
     * spreads messages round-robin over the vCPUs). */
    for (unsigned m = 0; a->use_msi && m < a->nmsg; m++) {
        if (a->msg[m].cpu == ProcessorIndex) {
            *MessageInterruptID = m;
            return STOR_STATUS_SUCCESS;
        }
    }
    return STOR_STATUS_UNSUCCESSFUL;
}

/* ---- requests ---- */

ULONG NTAPI StorPortGetRequestInfo(PVOID HwDeviceExtension,
                                   PSCSI_REQUEST_BLOCK Srb,
                                   PSTOR_REQUEST_INFO RequestInfo)
{
    PortRequest *req = port_request_from_srb(Srb);
    PSTOR_REQUEST_INFO_V1 v1 = (PSTOR_REQUEST_INFO_V1)RequestInfo;
    USHORT size;

    if (!Srb || !RequestInfo) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (v1->Version == STOR_REQUEST_INFO_VER_1) {
        size = sizeof(STOR_REQUEST_INFO_V1);
    } else if (v1->Version == STOR_REQUEST_INFO_VER_2) {
        size = sizeof(STOR_REQUEST_INFO_V2);
    } else {
        return STOR_STATUS_UNSUPPORTED_VERSION;
    }
    if (v1->Size < size) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (!req || (req->state != REQ_STARTING && req->state != REQ_ACTIVE)) {
        verifier_report(VC_BAD_CALL, req,
                        "StorPortGetRequestInfo for an SRB that is not "
                        "active in the miniport");
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* No I/O manager above the port: no priority, file or cache hints. */
    v1->PriorityHint = StorIoPriorityNormal;
    v1->Flags = 0;
    v1->Key = 0;
    v1->Length = SrbGetDataTransferLength(Srb);
    v1->IsWriteRequest =
        (SrbGetSrbFlags(Srb) & SRB_FLAGS_DATA_OUT) ? TRUE : FALSE;
    memset(v1->Reserved, 0, sizeof(v1->Reserved));
    if (v1->Version == STOR_REQUEST_INFO_VER_2) {
        RequestInfo->FileName = NULL;
        RequestInfo->ProcessId = 0;
    }
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetActivityIdSrb(PVOID HwDeviceExtension,
                                     PSCSI_REQUEST_BLOCK Srb, LPGUID ActivityId)
{
    port_not_implemented("StorPortGetActivityIdSrb");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortIsDeviceOperationAllowed(PVOID HwDeviceExtension,
                                             PSTOR_ADDRESS Address,
                                             LPCGUID DeviceOperation,
                                             ULONG *AllowedFlag)
{
    PortAdapter *a = port_adapter_for_caller(
        HwDeviceExtension, "StorPortIsDeviceOperationAllowed");
    PortLu *lu;

    if (!misc_irql_at_most(PASSIVE_LEVEL, "StorPortIsDeviceOperationAllowed")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!a || !AllowedFlag || !DeviceOperation || !unit_of(a, Address, &lu)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (memcmp(DeviceOperation, &secure_reprovision_guid, sizeof(GUID))) {
        return STOR_STATUS_NOT_IMPLEMENTED;
    }
    /* No management policy restricts anything in storemu. */
    *AllowedFlag = TRUE;
    return STOR_STATUS_SUCCESS;
}

/* ---- units: attributes, state changes, notifications ---- */

ULONG NTAPI StorPortSetUnitAttributes(PVOID HwDeviceExtension,
                                      PSTOR_ADDRESS Address,
                                      STOR_UNIT_ATTRIBUTES Attributes)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortSetUnitAttributes");
    UCHAR p, t, l;
    guint32 bits;

    if (!a || !misc_btl(Address, &p, &t, &l) || Attributes.Reserved ||
        !port_lu_find(a, p, t, l)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    memcpy(&bits, &Attributes, sizeof(bits));
    /* Kept by address, not by PortLu: enumeration may drop a unit and
     * create another at the same address. */
    g_hash_table_insert(misc_adapter(a)->unit_attrs,
                        GUINT_TO_POINTER(misc_btl_key(p, t, l) + 1),
                        GUINT_TO_POINTER(bits | 0x80000000u));
    TRACE(port_unit_attributes,
          "%s %u:%u:%u attention=%u async=%u "
          "d3cold_not_supported=%u bypass_io=%u",
          a->name, p, t, l, Attributes.DeviceAttentionSupported,
          Attributes.AsyncNotificationSupported, Attributes.D3ColdNotSupported,
          Attributes.BypassIOSupported);
    return STOR_STATUS_SUCCESS;
}

G_STATIC_ASSERT(sizeof(STOR_UNIT_ATTRIBUTES) == sizeof(guint32));

/* The attributes StorPortSetUnitAttributes registered for a unit. */
static bool unit_attributes(PortAdapter *a, UCHAR p, UCHAR t, UCHAR l,
                            STOR_UNIT_ATTRIBUTES *out)
{
    guint v = GPOINTER_TO_UINT(
        g_hash_table_lookup(misc_adapter(a)->unit_attrs,
                            GUINT_TO_POINTER(misc_btl_key(p, t, l) + 1)));
    guint32 bits = v & 0x7fffffffu;

    memset(out, 0, sizeof(*out));
    if (!v) {
        return false;
    }
    memcpy(out, &bits, sizeof(bits));
    return true;
}

#define ASYNC_FLAGS_ALL                                                        \
    (RAID_ASYNC_NOTIFY_FLAG_MEDIA_STATUS |                                     \
     RAID_ASYNC_NOTIFY_FLAG_DEVICE_STATUS |                                    \
     RAID_ASYNC_NOTIFY_FLAG_DEVICE_OPERATION)

ULONG NTAPI StorPortAsyncNotificationDetected(PVOID HwDeviceExtension,
                                              PSTOR_ADDRESS Address,
                                              ULONGLONG Flags)
{
    PortAdapter *a = port_adapter_for_caller(
        HwDeviceExtension, "StorPortAsyncNotificationDetected");
    STOR_UNIT_ATTRIBUTES attr;
    UCHAR p, t, l;

    if (!a || (Flags & ~(ULONGLONG)ASYNC_FLAGS_ALL) ||
        !misc_btl(Address, &p, &t, &l)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortAsyncNotificationDetected");
    if (!port_lu_find(a, p, t, l) || !unit_attributes(a, p, t, l, &attr) ||
        !attr.AsyncNotificationSupported) {
        return STOR_STATUS_INVALID_DEVICE_REQUEST;
    }
    if (!Flags) {
        Flags = ASYNC_FLAGS_ALL;
    }
    a->notifications[GetExtendedFunctionTable + 1 +
                     (AsyncNotificationDetected -
                      EnablePassiveInitialization)]++;
    /* No class driver above the port to forward it to: it is recorded. */
    misc_log(a->name, "AsyncNotification", "unit %u:%u:%u%s%s%s", p, t, l,
             (Flags & RAID_ASYNC_NOTIFY_FLAG_MEDIA_STATUS) ? " media" : "",
             (Flags & RAID_ASYNC_NOTIFY_FLAG_DEVICE_STATUS) ? " status" : "",
             (Flags & RAID_ASYNC_NOTIFY_FLAG_DEVICE_OPERATION) ? " operation"
                                                               : "");
    return STOR_STATUS_SUCCESS;
}

/* The DPC that finishes a state change: the miniport's callback runs at
 * DISPATCH_LEVEL with the StartIo lock held, as its DDI page says. */
static void state_change_done(PortWork *w)
{
    g_autofree MiscStateChange *sc = (MiscStateChange *)w;
    PortAdapter *a;

    if (!sc->m) {
        return; /* the adapter went away first */
    }
    sc->m->state_change = NULL;
    a = sc->m->a;
    if (!sc->fn) {
        return;
    }
    mp_state_change(a, sc->fn, sc->context, (SHORT)sc->address->Type,
                    sc->address, (ULONG)STATUS_SUCCESS);
}

#define STATE_CHANGE_ALL                                                       \
    (STATE_CHANGE_LUN | STATE_CHANGE_TARGET | STATE_CHANGE_BUS)

ULONG NTAPI StorPortStateChangeDetected(PVOID HwDeviceExtension,
                                        ULONG ChangedEntity,
                                        PSTOR_ADDRESS Address, ULONG Attributes,
                                        PHW_STATE_CHANGE HwStateChange,
                                        PVOID HwStateChangeContext)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortStateChangeDetected");
    MiscAdapter *m;
    MiscStateChange *sc;
    UCHAR p, t, l;
    int cpu = cpu_index();

    if (!a || !ChangedEntity || (ChangedEntity & ~(ULONG)STATE_CHANGE_ALL) ||
        !misc_btl(Address, &p, &t, &l)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortStateChangeDetected");
    m = misc_adapter(a);
    if (m->state_change) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    a->notifications[GetExtendedFunctionTable + 1 +
                     (StateChangeDetectedCall - EnablePassiveInitialization)]++;
    /* Re-enumeration is the bus scan's job: flag it as BusChangeDetected
     * does. The greatest entity flag decides what changed (DDI). */
    a->bus_change_pending = true;
    misc_log(a->name, "StateChange", "%s %u:%u:%u attributes 0x%lx",
             (ChangedEntity & STATE_CHANGE_BUS)      ? "bus"
             : (ChangedEntity & STATE_CHANGE_TARGET) ? "target"
                                                     : "unit",
             p, t, l, (unsigned long)Attributes);
    sc = g_new0(MiscStateChange, 1);
    sc->work.fn = state_change_done;
    sc->m = m;
    sc->fn = HwStateChange;
    sc->context = HwStateChangeContext;
    sc->address = Address;
    m->state_change = sc;
    port_work_queue(&sc->work, cpu < 0 ? 0 : (unsigned)cpu);
    return STOR_STATUS_SUCCESS;
}

/* ---- configuration ---- */

ULONG NTAPI StorPortSetAdapterBusType(PVOID HwDeviceExtension, ULONG BusType)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortSetAdapterBusType");
    MiscAdapter *m;

    if (!a) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (mp_current() != MP_FIND_ADAPTER) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    if (BusType >= BusTypeMax) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    m = misc_adapter(a);
    m->bus_type = BusType;
    m->bus_type_set = true;
    TRACE(port_bus_type, "%s bus type %lu", a->name, (unsigned long)BusType);
    return STOR_STATUS_SUCCESS;
}

static bool in_initialize(void)
{
    MpRoutine r = mp_current();
    return r == MP_INITIALIZE || r == MP_PASSIVE_INIT;
}

ULONG NTAPI StorPortUpdateAdapterMaxIO(PVOID HwDeviceExtension,
                                       ULONG MaxIoCount)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortUpdateAdapterMaxIO");

    if (!a || !MaxIoCount) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (!in_initialize()) {
        return STOR_STATUS_INVALID_DEVICE_REQUEST;
    }
    port_set_max_io(a, MaxIoCount);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortUpdatePortConfigMaxIOInfo(PVOID HwDeviceExtension,
                                              ULONG MaxIoCount,
                                              ULONG MaxIosPerLun)
{
    PortAdapter *a = port_adapter_for_caller(
        HwDeviceExtension, "StorPortUpdatePortConfigMaxIOInfo");

    if (!a || !MaxIoCount || !MaxIosPerLun || MaxIosPerLun > MaxIoCount) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (!in_initialize()) {
        return STOR_STATUS_INVALID_DEVICE_REQUEST;
    }
    port_set_max_io(a, MaxIoCount);
    port_set_max_ios_per_lun(a, MaxIosPerLun);
    /* Units found later start at most this deep (port_lu_get also caps
     * InitialLunQueueDepth by MaxIOsPerLun). */
    if (!a->cfg->InitialLunQueueDepth ||
        a->cfg->InitialLunQueueDepth > a->cfg->MaxIOsPerLun) {
        a->cfg->InitialLunQueueDepth = a->cfg->MaxIOsPerLun;
    }
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortSetFeatureList(PVOID HwDeviceExtension, ULONG FeatureCount,
                                   PBOOLEAN FeatureList)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortSetFeatureList");
    MiscAdapter *m;

    if (!a || (FeatureCount && !FeatureList)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    m = misc_adapter(a);
    memset(m->features, 0, sizeof(m->features));
    /* Entries past the features this port knows are ignored. */
    for (ULONG i = 0; i < FeatureCount && i < StorportFeatureMax; i++) {
        m->features[i] = FeatureList[i] ? TRUE : FALSE;
    }
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetSystemPortNumber(PVOID HwDeviceExtension,
                                        PSTOR_ADDRESS Address)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortGetSystemPortNumber");

    if (!a || !Address || Address->Type != STOR_ADDRESS_TYPE_BTL8 ||
        Address->AddressLength < STOR_ADDR_BTL8_ADDRESS_LENGTH) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    Address->Port = (USHORT)a->index;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortQueryConfiguration(PVOID HwDeviceExtension,
                                       STORPORT_QUERY_CONFIGURATION_TYPE Type,
                                       PBOOLEAN Enabled)
{
    if (!Enabled || (unsigned)Type >= StorportQueryConfigurationMax) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* The platform has no D3 (runtime power-off) support. */
    *Enabled = FALSE;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortIsCurrentOsInstallationUpgrade(PVOID HwDeviceExtension,
                                                   PBOOLEAN Upgrade)
{
    if (!Upgrade) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *Upgrade = FALSE;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortGetD3ColdSupport(PVOID HwDeviceExtension, PVOID Address,
                                     PBOOLEAN Supported)
{
    if (!Supported) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *Supported = FALSE;
    return STOR_STATUS_SUCCESS;
}

BOOLEAN NTAPI StorPortValidateRange(PVOID HwDeviceExtension,
                                    INTERFACE_TYPE BusType,
                                    ULONG SystemIoBusNumber,
                                    STOR_PHYSICAL_ADDRESS IoAddress,
                                    ULONG NumberOfBytes, BOOLEAN InIoSpace)
{
    /* Obsolete; documented to answer TRUE always. */
    return TRUE;
}

ULONG NTAPI StorPortGetDeviceBase2(PVOID HwDeviceExtension,
                                   INTERFACE_TYPE BusType,
                                   ULONG SystemIoBusNumber,
                                   STOR_PHYSICAL_ADDRESS Address,
                                   ULONG NumberOfBytes, BOOLEAN InIoSpace,
                                   ULONG Flags, PVOID *BaseAddress)
{
    /* Only the default mapping (non-cached read/write) exists here. */
    if (!BaseAddress || Flags) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    *BaseAddress =
        StorPortGetDeviceBase(HwDeviceExtension, BusType, SystemIoBusNumber,
                              Address, NumberOfBytes, InIoSpace);
    return *BaseAddress ? STOR_STATUS_SUCCESS : STOR_STATUS_INVALID_PARAMETER;
}

/* ---- interrupts ---- */

ULONG NTAPI StorPortMaskMsixInterrupt(PVOID HwDeviceExtension, ULONG MessageId,
                                      BOOLEAN Mask)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortMaskMsixInterrupt");
    uint8_t cap;
    uint32_t table;
    uint64_t entry;

    if (!a || !a->pci || !a->use_msi || MessageId >= a->nmsg) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    cap = pci_find_capability(a->pci, PCI_CAP_ID_MSIX);
    if (!cap) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    /* The table entry's vector control, through the device's BAR as the
     * OS's PCI driver would write it (a recorded register access). */
    table = pci_config_read(a->pci, cap + PCI_MSIX_TABLE_OFF, 4);
    entry = pci_bar_addr(a->pci, table & PCI_MSIX_BIR_MASK) +
            (table & ~(uint32_t)PCI_MSIX_BIR_MASK) +
            (uint64_t)MessageId * PCI_MSIX_ENTRY_SIZE;
    bnd_mmio_write(entry + PCI_MSIX_ENTRY_CTRL,
                   Mask ? PCI_MSIX_ENTRY_CTRL_MASK : 0, 4);
    TRACE(port_msix_mask, "%s message %lu %s", a->name,
          (unsigned long)MessageId, Mask ? "masked" : "unmasked");
    return STOR_STATUS_SUCCESS;
}

/* ---- not meaningful here ---- */

ULONG NTAPI StorPortInvokeAcpiMethod(PVOID HwDeviceExtension,
                                     PSTOR_ADDRESS Address, ULONG MethodName,
                                     PVOID InputBuffer, ULONG InputBufferLength,
                                     PVOID OutputBuffer,
                                     ULONG OutputBufferLength,
                                     PULONG BytesReturned)
{
    /* The machine has no ACPI namespace. */
    port_not_implemented("StorPortInvokeAcpiMethod");
    if (BytesReturned) {
        *BytesReturned = 0;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetDeviceObjects(PVOID HwDeviceExtension,
                                     PVOID *AdapterDeviceObject,
                                     PVOID *PhysicalDeviceObject,
                                     PVOID *LowerDeviceObject)
{
    /* No Windows device objects exist to hand out. */
    port_not_implemented("StorPortGetDeviceObjects");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortCompleteServiceIrp(PVOID HwDeviceExtension, PVOID Irp)
{
    /* The port never sends service IRPs (no HwProcessServiceRequest). */
    port_not_implemented("StorPortCompleteServiceIrp");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortCaptureLiveDump(PVOID HwDeviceExtension,
                                    PSTOR_ADDRESS StorAddress,
                                    PSTORPORT_CAPTURE_LIVEDUMP CaptureLivedump)
{
    port_not_implemented("StorPortCaptureLiveDump");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortInitializeCryptoEngine(
    PVOID HwDeviceExtension,
    PSTOR_CRYPTO_CAPABILITIES_DATA CryptoCapabilitiesData)
{
    port_not_implemented("StorPortInitializeCryptoEngine");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortGetRequestCryptoInfo(PVOID HwDeviceExtension,
                                         PSCSI_REQUEST_BLOCK Srb,
                                         PSTOR_CRYPTO_KEY_INFO CryptoKeyInfo)
{
    port_not_implemented("StorPortGetRequestCryptoInfo");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortSetPowerSettingNotificationGuids(PVOID HwDeviceExtension,
                                                     ULONG GuidCount,
                                                     LPGUID Guid)
{
    port_not_implemented("StorPortSetPowerSettingNotificationGuids");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortInitializePoFxPower(PVOID HwDeviceExtension,
                                        PSTOR_ADDRESS Address,
                                        PSTOR_POFX_DEVICE Device,
                                        PBOOLEAN D3ColdEnabled)
{
    /* Runtime power management (PoFx) is not modelled: the device is
     * simply not registered, which the DDI allows. */
    port_not_implemented("StorPortInitializePoFxPower");
    if (D3ColdEnabled) {
        *D3ColdEnabled = FALSE;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortPoFxActivateComponent(PVOID HwDeviceExtension,
                                          PSTOR_ADDRESS Address,
                                          PSCSI_REQUEST_BLOCK Srb,
                                          ULONG Component, ULONG Flags)
{
    port_not_implemented("StorPortPoFxActivateComponent");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortPoFxIdleComponent(PVOID HwDeviceExtension,
                                      PSTOR_ADDRESS Address,
                                      PSCSI_REQUEST_BLOCK Srb, ULONG Component,
                                      ULONG Flags)
{
    port_not_implemented("StorPortPoFxIdleComponent");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortPoFxSetComponentLatency(PVOID HwDeviceExtension,
                                            PSTOR_ADDRESS Address,
                                            ULONG Component, ULONGLONG Latency)
{
    port_not_implemented("StorPortPoFxSetComponentLatency");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortPoFxSetComponentResidency(PVOID HwDeviceExtension,
                                              PSTOR_ADDRESS Address,
                                              ULONG Component,
                                              ULONGLONG Residency)
{
    port_not_implemented("StorPortPoFxSetComponentResidency");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortPoFxPowerControl(PVOID HwDeviceExtension,
                                     PSTOR_ADDRESS Address,
                                     LPCGUID PowerControlCode, PVOID InBuffer,
                                     SIZE_T InBufferSize, PVOID OutBuffer,
                                     SIZE_T OutBufferSize,
                                     PSIZE_T BytesReturned)
{
    port_not_implemented("StorPortPoFxPowerControl");
    if (BytesReturned) {
        *BytesReturned = 0;
    }
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortPoFxSetIdleTimeout(PVOID HwDeviceExtension,
                                       PSTOR_ADDRESS Address,
                                       ULONG IdleTimeoutInMS)
{
    port_not_implemented("StorPortPoFxSetIdleTimeout");
    return STOR_STATUS_NOT_IMPLEMENTED;
}

ULONG NTAPI StorPortPoFxSetPerfState(PVOID HwDeviceExtension,
                                     PSTOR_ADDRESS Address, ULONG Component,
                                     ULONG Flags, ULONG SetIndex, ULONG State,
                                     PVOID Context)
{
    port_not_implemented("StorPortPoFxSetPerfState");
    return STOR_STATUS_NOT_IMPLEMENTED;
}
