/* SPDX-License-Identifier: MIT */
/*
 * The port's life cycle, in the order STORPORT.md gives: load the miniport
 * (built-in table or a shared object), DriverEntry -> StorPortInitialize,
 * find and configure each adapter (PCI resources from the firmware's BAR
 * assignment, MSI-X programmed as Windows' PCI driver would), HwInitialize,
 * passive initialization, the supported-control-type queries, bus
 * enumeration with INQUIRY / REPORT LUNS, unit start; then power
 * transitions (stop, hibernate, resume) and shutdown with its flush and
 * shutdown requests, leak checks and teardown.
 */
#include <dlfcn.h>
#include "config-host.h"
#include <string.h>
#include "hw/core/irqchip.h"
#include "hw/core/ram.h"
#include "port/port-api.h"
#include "port/port.h"
#include "system/boundary.h"
#include "system/error.h"
#include "system/machine.h"
#include "system/trace.h"

#define DEFAULT_MAX_TRANSFER    (128 * 1024)
#define DEFAULT_PHYSICAL_BREAKS 32
#define MSI_LEVEL_FIRST         6 /* adapter i's messages use level 6 + i */
#define DRAIN_POLL_NS           (100 * NS_PER_US)
#define DRAIN_LIMIT_NS          (60 * NS_PER_SEC)

Port port = {.devext0 = &port.devext0};

/* Keep port.devext0 (port.h) right: called wherever port.nadapters or
 * the first adapter changes. With no adapter it points at itself, a host
 * address that is never a device extension in guest RAM. */
static void port_adapters_changed(void)
{
    port.devext0 =
        port.nadapters ? port.adapters[0]->devext : (PVOID)&port.devext0;
}

typedef struct Builtin {
    const char *name;
    PortDriverEntry *entry;
} Builtin;

static GArray *builtins; /* Builtin */
static GPtrArray *luns;  /* PortLu*: present units, all adapters */

void port_register_builtin(const char *name, PortDriverEntry *entry)
{
    Builtin b = {name, entry};

    if (!builtins) {
        builtins = g_array_new(FALSE, FALSE, sizeof(Builtin));
    }
    for (guint i = 0; i < builtins->len; i++) {
        if (!strcmp(g_array_index(builtins, Builtin, i).name, name)) {
            g_array_index(builtins, Builtin, i).entry = entry;
            return;
        }
    }
    g_array_append_val(builtins, b);
}

bool port_have_builtins(void)
{
    return builtins && builtins->len;
}

static PortDriverEntry *builtin_find(const char *name)
{
    for (guint i = 0; builtins && i < builtins->len; i++) {
        if (!strcmp(g_array_index(builtins, Builtin, i).name, name)) {
            return g_array_index(builtins, Builtin, i).entry;
        }
    }
    return NULL;
}

static GString *builtin_names(void)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; builtins && i < builtins->len; i++) {
        g_string_append_printf(s, "%s%s", i ? ", " : "",
                               g_array_index(builtins, Builtin, i).name);
    }
    if (!s->len) {
        g_string_append(s, "none");
    }
    return s;
}

bool port_load(const Opts *miniport, VerifierMode verifier, GError **errp)
{
    const char *name = opts_get_str(miniport, "name", NULL);
    PortDriver *d;
    const GPtrArray *keys;

    g_assert(!port.loaded);
    if (!name || !*name) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "-miniport: a name or a path is required");
        return false;
    }
    d = g_new0(PortDriver, 1);
    d->name = g_strdup(name);
    d->params = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d->driver_entry = builtin_find(name);
    if (!d->driver_entry) {
        if (!strchr(name, '/') && !g_str_has_suffix(name, ".so")) {
            g_autoptr(GString) known = builtin_names();
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-miniport: no built-in miniport '%s' (built in: "
                        "%s; give a path like ./mine.so to load one)",
                        name, known->str);
            goto fail;
        }
        /* DEEPBIND: the .so's own functions win over same-named ones in
         * the binary (a built-in copy of the same miniport). ASan refuses
         * it, so sanitizer builds rely on -Wl,-Bsymbolic (README). */
#if defined(CONFIG_SANITIZERS) || !defined(RTLD_DEEPBIND)
        d->dl_handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
#else
        d->dl_handle = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
        if (!d->dl_handle) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-miniport: cannot load '%s': %s", name, dlerror());
            goto fail;
        }
        d->driver_entry = (PortDriverEntry *)dlsym(d->dl_handle, "DriverEntry");
        if (!d->driver_entry) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-miniport: '%s' has no DriverEntry symbol", name);
            goto fail;
        }
    }
    keys = opts_keys(miniport);
    for (guint i = 0; i < keys->len; i++) {
        const char *k = g_ptr_array_index(keys, i);
        if (g_str_has_prefix(k, "param.")) {
            g_hash_table_insert(d->params, g_strdup(k + 6),
                                g_strdup(opts_get_str(miniport, k, "")));
        }
    }
    d->tracing = opts_get_bool(miniport, "tracing", false);
    port.drv = d;
    port.srb_map = g_hash_table_new(g_direct_hash, g_direct_equal);
    port.verifier = verifier;
    port.next_request_id = 0;
    port.nadapters = 0;
    port_adapters_changed();
    port.loaded = true;
    luns = g_ptr_array_new();
    verifier_reset();
    mp_reset();
    port_regio_reset();
    port_queue_reset();
    return true;

fail:
    if (d->dl_handle) {
        dlclose(d->dl_handle);
    }
    g_hash_table_destroy(d->params);
    g_free(d->name);
    g_free(d);
    return false;
}

/* ---- adapters ---- */

PortAdapter *port_adapter_find(PVOID devext)
{
    for (unsigned i = 0; devext && i < port.nadapters; i++) {
        if (port.adapters[i]->devext == devext) {
            return port.adapters[i];
        }
    }
    return NULL;
}

PortAdapter *port_adapter_for_caller_slow(PVOID devext, const char *routine)
{
    PortAdapter *a = port_adapter_find(devext);

    if (!a && port.loaded) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s with %p, which is no adapter's device extension",
                        routine, devext);
    }
    return a;
}

static PortAdapter *adapter_new(PCIDevice *pci)
{
    PortDriver *d = port.drv;
    PortAdapter *a = g_new0(PortAdapter, 1);
    PPORT_CONFIGURATION_INFORMATION cfg;

    a->drv = d;
    a->index = port.nadapters;
    a->pci = pci;
    {
        /* "virtio-scsi0"; a shared object is named by its file name. */
        g_autofree char *base = g_path_get_basename(d->name);
        if (g_str_has_suffix(base, ".so")) {
            base[strlen(base) - 3] = 0;
        }
        snprintf(a->name, sizeof(a->name), "%s%u", base, a->index);
    }
    a->devext =
        ram_alloc(d->hw.DeviceExtensionSize ? d->hw.DeviceExtensionSize : 16,
                  16, 0, "device-extension");
    a->cfg = cfg =
        ram_alloc(sizeof(*cfg) + PORT_MAX_RANGES * sizeof(ACCESS_RANGE), 16, 0,
                  "port-config");
    if (!a->devext || !a->cfg) {
        /* The miniport asked for more than guest RAM holds. */
        if (a->devext) {
            ram_free(a->devext);
        }
        if (a->cfg) {
            ram_free(a->cfg);
        }
        g_free(a);
        return NULL;
    }
    a->pool = g_hash_table_new(g_direct_hash, g_direct_equal);
    a->dpc_locks = g_ptr_array_new_with_free_func(g_free);
    a->lus = g_ptr_array_new();
    a->lu_map = g_hash_table_new(g_direct_hash, g_direct_equal);
    a->workers = g_ptr_array_new();
    g_queue_init(&a->work_items);
    guest_spin_lock_init(&a->interrupt_lock, "InterruptLock");
    guest_spin_lock_init(&a->startio_lock, "StartIoLock");
    a->timer.adapter = a;
    port_queue_init_adapter(a);
    port.adapters[port.nadapters++] = a;
    port_adapters_changed();
    return a;
}

static void fill_config(PortAdapter *a)
{
    PortDriver *d = a->drv;
    PPORT_CONFIGURATION_INFORMATION c = a->cfg;
    ACCESS_RANGE *ranges = (ACCESS_RANGE *)(c + 1);

    memset(c, 0, sizeof(*c) + PORT_MAX_RANGES * sizeof(ACCESS_RANGE));
    c->Length = sizeof(*c);
    c->AdapterInterfaceType = a->pci ? PCIBus : Internal;
    c->MaximumTransferLength = SP_UNINITIALIZED_VALUE;
    c->NumberOfPhysicalBreaks = SP_UNINITIALIZED_VALUE;
    c->DmaChannel = SP_UNINITIALIZED_VALUE;
    c->DmaPort = SP_UNINITIALIZED_VALUE;
    c->NumberOfAccessRanges = d->hw.NumberOfAccessRanges;
    c->AccessRanges = (ACCESS_RANGE(*)[])ranges;
    c->NumberOfBuses = 1;
    c->ScatterGather = TRUE;
    c->Master = TRUE;
    c->Dma32BitAddresses = TRUE;
    c->Dma64BitAddresses = SCSI_DMA64_SYSTEM_SUPPORTED;
    c->MapBuffers = d->hw.MapBuffers;
    c->NeedPhysicalAddresses = d->hw.NeedPhysicalAddresses;
    c->TaggedQueuing = d->hw.TaggedQueuing;
    c->AutoRequestSense = d->hw.AutoRequestSense;
    c->MultipleRequestPerLu = d->hw.MultipleRequestPerLu;
    c->MaximumNumberOfTargets = SCSI_MAXIMUM_TARGETS_PER_BUS;
    c->MaximumNumberOfLogicalUnits = SCSI_MAXIMUM_LOGICAL_UNITS;
    c->DeviceExtensionSize = d->hw.DeviceExtensionSize;
    c->SpecificLuExtensionSize = d->hw.SpecificLuExtensionSize;
    c->SrbExtensionSize = d->hw.SrbExtensionSize;
    c->SynchronizationModel = StorSynchronizeHalfDuplex;
    c->InterruptSynchronizationMode = InterruptSupportNone;
    c->VirtualDevice = d->virtual_miniport;
    c->BusResetHoldTime = PORT_RESET_HOLD_S * 1000000;
    c->InitialLunQueueDepth = 0;
    c->MaxNumberOfIO = PORT_DEFAULT_MAX_IO;
    c->MaxIOsPerLun = PORT_DEFAULT_MAX_IOS_PER_LUN;
    c->SrbType = SRB_TYPE_SCSI_REQUEST_BLOCK;

    a->nranges = 0;
    if (a->pci) {
        unsigned cpu, vector;
        c->SystemIoBusNumber = 0;
        c->SlotNumber = pci_device_bdf(a->pci);
        if (pci_intx_route(a->pci, &cpu, &vector)) {
            c->BusInterruptLevel = vector_level(vector);
            c->BusInterruptVector = vector;
            c->InterruptMode = LevelSensitive;
        }
        for (unsigned i = 0; i < 6 && a->nranges < PORT_MAX_RANGES; i++) {
            uint64_t size = pci_bar_size(a->pci, i);
            if (!size) {
                continue;
            }
            PortRange *r = &a->ranges[a->nranges];
            r->gpa = pci_bar_addr(a->pci, i);
            r->size = size;
            r->io = pci_bar_type(a->pci, i) & PCI_BAR_IO;
            if (a->nranges < d->hw.NumberOfAccessRanges) {
                ranges[a->nranges].RangeStart.QuadPart = (LONGLONG)r->gpa;
                ranges[a->nranges].RangeLength = (ULONG)size;
                ranges[a->nranges].RangeInMemory = !r->io;
            }
            a->nranges++;
            if (pci_bar_type(a->pci, i) & PCI_BAR_MEM64) {
                i++;
            }
        }
    }
}

static void read_back_config(PortAdapter *a)
{
    PPORT_CONFIGURATION_INFORMATION c = a->cfg;
    PortDriver *d = a->drv;

    if (c->MaximumTransferLength == SP_UNINITIALIZED_VALUE ||
        !c->MaximumTransferLength) {
        c->MaximumTransferLength = DEFAULT_MAX_TRANSFER;
    }
    if (c->NumberOfPhysicalBreaks == SP_UNINITIALIZED_VALUE) {
        c->NumberOfPhysicalBreaks = DEFAULT_PHYSICAL_BREAKS;
    }
    if (!c->NumberOfBuses) {
        c->NumberOfBuses = 1;
    }
    if (!c->MaximumNumberOfLogicalUnits) {
        c->MaximumNumberOfLogicalUnits = 1;
    }
    if (c->SrbType == SRB_TYPE_STORAGE_REQUEST_BLOCK &&
        !(d->hw.SrbTypeFlags & SRB_TYPE_FLAG_STORAGE_REQUEST_BLOCK)) {
        verifier_report(VC_BAD_CALL, NULL,
                        "ConfigInfo->SrbType asks for STORAGE_REQUEST_BLOCK "
                        "but HW_INITIALIZATION_DATA.SrbTypeFlags does not "
                        "offer it; using SCSI_REQUEST_BLOCK");
        c->SrbType = SRB_TYPE_SCSI_REQUEST_BLOCK;
    }
    a->sync = d->virtual_miniport ? StorSynchronizeFullDuplex
                                  : c->SynchronizationModel;
    a->isync = c->InterruptSynchronizationMode;
    a->srb_ext_size = c->SrbExtensionSize;
    port_set_max_io(a, c->MaxNumberOfIO);
    port_set_max_ios_per_lun(a, c->MaxIOsPerLun);
}

void port_set_max_io(PortAdapter *a, ULONG max_io)
{
    PPORT_CONFIGURATION_INFORMATION c = a->cfg;
    bool full64 =
        c->Dma64BitAddresses == SCSI_DMA64_MINIPORT_FULL64BIT_SUPPORTED ||
        c->Dma64BitAddresses ==
            SCSI_DMA64_MINIPORT_FULL64BIT_NO_BOUNDARY_REQ_SUPPORTED;

    /* PORT_CONFIGURATION_INFORMATION: MaxNumberOfIO defaults to 1000, and
     * more than that needs one of the full 64-bit DMA modes. */
    if (!max_io) {
        max_io = PORT_DEFAULT_MAX_IO;
    } else if (max_io > PORT_DEFAULT_MAX_IO && !full64) {
        g_message("storport: %s: MaxNumberOfIO %lu needs full 64-bit DMA "
                  "(Dma64BitAddresses); using %u",
                  a->name, (unsigned long)max_io, PORT_DEFAULT_MAX_IO);
        max_io = PORT_DEFAULT_MAX_IO;
    }
    c->MaxNumberOfIO = max_io;
    a->max_io = max_io;
    if (c->MaxIOsPerLun > max_io) {
        c->MaxIOsPerLun = max_io;
    }
}

/*
 * MaxIOsPerLun is the most requests a unit supports at once (255 unless
 * the miniport lowers it), at most MaxNumberOfIO, and more than 255 only
 * with STORAGE_REQUEST_BLOCK. It bounds each unit's queue depth: the
 * initial one (InitialLunQueueDepth) and StorPortSetDeviceQueueDepth's.
 */
void port_set_max_ios_per_lun(PortAdapter *a, ULONG n)
{
    PPORT_CONFIGURATION_INFORMATION c = a->cfg;

    if (!n) {
        n = PORT_DEFAULT_MAX_IOS_PER_LUN;
    }
    if (n > PORT_DEFAULT_MAX_IOS_PER_LUN &&
        c->SrbType != SRB_TYPE_STORAGE_REQUEST_BLOCK) {
        g_message("storport: %s: MaxIOsPerLun %lu needs SrbType "
                  "STORAGE_REQUEST_BLOCK; using %u",
                  a->name, (unsigned long)n, PORT_DEFAULT_MAX_IOS_PER_LUN);
        n = PORT_DEFAULT_MAX_IOS_PER_LUN;
    }
    if (n > c->MaxNumberOfIO) {
        g_message("storport: %s: MaxIOsPerLun %lu is more than "
                  "MaxNumberOfIO; using %lu",
                  a->name, (unsigned long)n, (unsigned long)c->MaxNumberOfIO);
        n = c->MaxNumberOfIO;
    }
    c->MaxIOsPerLun = n;
}

/* ---- interrupts ---- */

static void intx_isr(unsigned cpu, unsigned vector, void *opaque)
{
    PortAdapter *a = opaque;

    /* A miniport that marked its adapter failed still owns the device
     * and acknowledges its interrupts (requests it holds complete from
     * them); ignoring a level-triggered line would be a storm. */
    if (a->state != ADAPTER_RUNNING && a->state != ADAPTER_NEW &&
        !(a->state == ADAPTER_FAILED && a->marked_failed)) {
        return;
    }
    if (!mp_interrupt(a)) {
        a->spurious_interrupts++;
    }
}

static void msi_isr(unsigned cpu, unsigned vector, void *opaque)
{
    PortAdapter *a = opaque;
    unsigned slot = vector & 0xf;
    ULONG m = slot * cpus_count() + cpu;

    if (m >= a->nmsg || a->state == ADAPTER_STOPPED) {
        a->spurious_interrupts++;
        return;
    }
    a->msg[m].count++;
    if (!mp_message_interrupt(a, m)) {
        a->spurious_interrupts++;
    }
}

/* Program MSI-X the way the OS's PCI driver does before the driver's
 * start: one table entry per message, spread over the vCPUs. */
static bool connect_msix(PortAdapter *a)
{
    PCIDevice *dev = a->pci;
    uint8_t cap = 0, ptr;
    unsigned n, ncpu = cpus_count(), level = MSI_LEVEL_FIRST + a->index;
    uint32_t table, bir;
    uint64_t table_gpa;
    uint16_t ctrl;

    for (ptr = (uint8_t)pci_config_read(dev, PCI_CFG_CAP_PTR, 1); ptr >= 0x40;
         ptr = (uint8_t)pci_config_read(dev, ptr + 1, 1)) {
        if (pci_config_read(dev, ptr, 1) == PCI_CAP_ID_MSIX) {
            cap = ptr;
            break;
        }
    }
    if (!cap || level > LEVEL_DIRQL_MAX) {
        return false;
    }
    ctrl = (uint16_t)pci_config_read(dev, cap + PCI_MSIX_CTRL, 2);
    n = (ctrl & PCI_MSIX_CTRL_SIZE_MASK) + 1u;
    n = MIN(n, MIN(16u * ncpu, (unsigned)PORT_MAX_MESSAGES));
    table = pci_config_read(dev, cap + PCI_MSIX_TABLE_OFF, 4);
    bir = table & PCI_MSIX_BIR_MASK;
    table_gpa = pci_bar_addr(dev, bir) + (table & ~PCI_MSIX_BIR_MASK);
    for (unsigned m = 0; m < n; m++) {
        PortMessage *pm = &a->msg[m];
        uint64_t e = table_gpa + (uint64_t)m * PCI_MSIX_ENTRY_SIZE;
        pm->cpu = m % ncpu;
        pm->vector = level * 16 + m / ncpu;
        pm->addr = irqchip_msi_address(pm->cpu);
        pm->data = irqchip_msi_data(pm->vector);
        pm->adapter = a;
        pm->id = m;
        guest_spin_lock_init(&pm->lock, "MSILock");
        bnd_mmio_write(e + PCI_MSIX_ENTRY_ADDR_LO, (uint32_t)pm->addr, 4);
        bnd_mmio_write(e + PCI_MSIX_ENTRY_ADDR_HI, pm->addr >> 32, 4);
        bnd_mmio_write(e + PCI_MSIX_ENTRY_DATA, pm->data, 4);
        bnd_mmio_write(e + PCI_MSIX_ENTRY_CTRL, 0, 4);
        irq_set_handler(pm->vector, msi_isr, a, a->name);
    }
    pci_config_write(dev, cap + PCI_MSIX_CTRL,
                     (ctrl & ~PCI_MSIX_CTRL_MASKALL) | PCI_MSIX_CTRL_ENABLE, 2);
    a->nmsg = n;
    a->use_msi = true;
    a->dirql = (uint8_t)level;
    return true;
}

static void connect_interrupts(PortAdapter *a)
{
    unsigned cpu, vector;

    if (!a->pci) {
        a->dirql = DISPATCH_LEVEL;
        return;
    }
    if (a->cfg->HwMSInterruptRoutine && connect_msix(a)) {
        if (a->isync == InterruptSupportNone) {
            a->isync = InterruptSynchronizeAll;
        }
        return;
    }
    if (pci_intx_route(a->pci, &cpu, &vector)) {
        a->intx = true;
        a->intx_cpu = cpu;
        a->intx_vector = vector;
        a->dirql = vector_level(vector);
        irq_set_handler(vector, intx_isr, a, a->name);
    } else {
        a->dirql = LEVEL_DIRQL_MIN;
    }
}

/* ---- start-up ---- */

static bool query_control_types(PortAdapter *a, bool unit)
{
    ULONG max = unit ? ScsiUnitControlMax : ScsiAdapterControlMax;
    PSCSI_SUPPORTED_CONTROL_TYPE_LIST list =
        ram_alloc(sizeof(*list) + max + 1, 16, 0, "control-types");
    bool *dst = unit ? a->unit_ctl : a->adapter_ctl;

    if (!list) {
        return false;
    }
    list->MaxControlType = max;
    if (unit) {
        mp_unit_control(a, ScsiQuerySupportedUnitControlTypes, list);
    } else {
        mp_adapter_control(a, ScsiQuerySupportedControlTypes, list);
    }
    for (ULONG i = 0; i < max; i++) {
        dst[i] = list->SupportedTypeList[i];
    }
    ram_free(list);
    return true;
}

static bool find_adapter(PortAdapter *a, GError **errp)
{
    BOOLEAN again = FALSE;
    ULONG st;

    fill_config(a);
    st = mp_find_adapter(a, &again);
    switch (st) {
    case SP_RETURN_FOUND:
        read_back_config(a);
        return true;
    case SP_RETURN_NOT_FOUND:
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: HwStorFindAdapter did not find an adapter", a->name);
        return false;
    default:
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: HwStorFindAdapter failed (%s)", a->name,
                    st == SP_RETURN_BAD_CONFIG ? "SP_RETURN_BAD_CONFIG"
                                               : "SP_RETURN_ERROR");
        return false;
    }
}

static bool initialize_adapter(PortAdapter *a, GError **errp)
{
    a->state = ADAPTER_NEW;
    if (!mp_initialize(a)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: HwStorInitialize returned FALSE", a->name);
        return false;
    }
    if (a->passive_init && !mp_passive_initialize(a)) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: HwStorPassiveInitializeRoutine returned FALSE",
                    a->name);
        return false;
    }
    return true;
}

static PortRequest *probe_req;

static bool probe(PortLu *lu, const uint8_t *cdb, unsigned cdb_len, void *buf,
                  uint32_t len)
{
    PortRequest *req = port_request_new(lu);
    bool ok;

    if (!req) {
        TRACE(port_no_memory, "probe of %u:%u:%u not sent", lu->path,
              lu->target, lu->lun);
        return false;
    }
    req->internal = true;
    port_request_scsi(req, cdb, cdb_len, buf, len, PORT_XFER_IN, 0);
    probe_req = req;
    port_execute(req);
    ok = SRB_STATUS(req->srb_status) == SRB_STATUS_SUCCESS ||
         (SRB_STATUS(req->srb_status) == SRB_STATUS_DATA_OVERRUN &&
          req->transferred);
    probe_req = NULL;
    port_request_free(req);
    return ok;
}

static bool probe_lun(PortAdapter *a, PortLu *lu, uint8_t *buf)
{
    static const uint8_t inquiry[6] = {SCSIOP_INQUIRY, 0, 0, 0, 96, 0};

    memset(buf, 0, 96);
    if (!probe(lu, inquiry, 6, buf, 96)) {
        return false;
    }
    /* Peripheral qualifier 0: a device is connected at this LUN. */
    if ((buf[0] >> 5) != 0) {
        return false;
    }
    memcpy(&lu->inquiry, buf, MIN(sizeof(lu->inquiry), 96));
    lu->present = true;
    return true;
}

static void forget_lu(PortAdapter *a, PortLu *lu)
{
    guint key = ((guint)lu->path << 16) | ((guint)lu->target << 8) | lu->lun;

    g_hash_table_remove(a->lu_map, GUINT_TO_POINTER(key + 1));
    if (lu->luext) {
        ram_free(lu->luext);
    }
    event_cancel(&lu->pause_ev);
    event_cancel(&lu->retry_ev);
    port_work_cancel(&lu->resume_work);
    g_free(lu);
}

static void add_present(PortAdapter *a, PortLu *lu)
{
    g_ptr_array_add(a->lus, lu);
    g_ptr_array_add(luns, lu);
    TRACE(port_lun_found, "%s %u:%u:%u type=0x%x", a->name, lu->path,
          lu->target, lu->lun, lu->inquiry.DeviceType);
}

static void enumerate(PortAdapter *a)
{
    PPORT_CONFIGURATION_INFORMATION c = a->cfg;
    uint8_t *buf = ram_alloc(4096, 16, 0, "enumeration");

    if (!buf) {
        g_warning("storport: %s: guest RAM exhausted: bus not enumerated",
                  a->name);
        return;
    }

    for (UCHAR path = 0; path < c->NumberOfBuses; path++) {
        for (unsigned t = 0; t < c->MaximumNumberOfTargets; t++) {
            PortLu *lu0 = port_lu_get(a, path, (UCHAR)t, 0);
            uint8_t rl[16] = {SCSIOP_REPORT_LUNS};
            bool have0 = probe_lun(a, lu0, buf);
            bool listed = false;

            if (have0) {
                add_present(a, lu0);
            }
            /* REPORT LUNS to LUN 0 lists the others (SPC: LUN 0 answers
             * it even when no device is attached there). */
            rl[8] = 0x10; /* allocation length 4096, big-endian 6..9 */
            memset(buf, 0, 4096);
            if (probe(lu0, rl, 12, buf, 4096)) {
                uint32_t n = ((uint32_t)buf[0] << 24 | buf[1] << 16 |
                              buf[2] << 8 | buf[3]) /
                             8;
                g_autofree uint8_t *copy = g_memdup2(buf, 4096);
                listed = true;
                for (uint32_t i = 0; i < n && i < 511; i++) {
                    const uint8_t *e = copy + 8 + i * 8;
                    unsigned lun = ((e[0] & 0x3f) << 8) | e[1];
                    if (lun == 0 || lun >= c->MaximumNumberOfLogicalUnits ||
                        lun > 255) {
                        continue;
                    }
                    PortLu *lu = port_lu_get(a, path, (UCHAR)t, (UCHAR)lun);
                    if (probe_lun(a, lu, buf)) {
                        add_present(a, lu);
                    } else {
                        forget_lu(a, lu);
                    }
                }
            }
            if (!listed && have0) {
                for (unsigned l = 1;
                     l < c->MaximumNumberOfLogicalUnits && l < 256; l++) {
                    PortLu *lu = port_lu_get(a, path, (UCHAR)t, (UCHAR)l);
                    if (probe_lun(a, lu, buf)) {
                        add_present(a, lu);
                    } else {
                        forget_lu(a, lu);
                    }
                }
            }
            if (!have0) {
                forget_lu(a, lu0);
            }
        }
    }
    ram_free(buf);
}

/* HwStorUnitControl(@type) with the unit's STOR_ADDR_BTL8 address in
 * guest memory; false when it failed or memory ran out. */
static bool unit_control(PortAdapter *a, PortLu *lu,
                         SCSI_UNIT_CONTROL_TYPE type)
{
    PSTOR_ADDR_BTL8 addr = ram_alloc(sizeof(*addr), 16, 0, "unit-addr");
    bool ok;

    if (!addr) {
        return false;
    }
    addr->Type = STOR_ADDRESS_TYPE_BTL8;
    addr->AddressLength = STOR_ADDR_BTL8_ADDRESS_LENGTH;
    addr->Path = lu->path;
    addr->Target = lu->target;
    addr->Lun = lu->lun;
    ok = mp_unit_control(a, type, addr) == ScsiUnitControlSuccess;
    ram_free(addr);
    return ok;
}

static void start_units(PortAdapter *a)
{
    if (!a->drv->hw.HwUnitControl) {
        return;
    }
    query_control_types(a, true);
    if (!a->unit_ctl[ScsiUnitStart]) {
        return;
    }
    for (guint i = 0; i < a->lus->len; i++) {
        PortLu *lu = g_ptr_array_index(a->lus, i);
        lu->started = unit_control(a, lu, ScsiUnitStart);
    }
}

static bool start_adapter(PortAdapter *a, GError **errp)
{
    if (!find_adapter(a, errp)) {
        return false;
    }
    connect_interrupts(a);
    if (!initialize_adapter(a, errp)) {
        return false;
    }
    query_control_types(a, false);
    if (a->drv->tracing) {
        mp_tracing_enabled(a, TRUE);
    }
    a->state = ADAPTER_RUNNING;
    enumerate(a);
    start_units(a);
    return true;
}

static void discard_adapter(PortAdapter *a);

static void no_room(const PortDriver *d, GError **errp)
{
    g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                "%s: guest RAM exhausted creating an adapter (device "
                "extension of %lu bytes); give the machine more memory "
                "with -m",
                d->name, (unsigned long)d->hw.DeviceExtensionSize);
}

bool port_start(GError **errp)
{
    PortDriver *d = port.drv;
    ULONG st;
    g_autoptr(GError) first = NULL;

    g_assert(port.loaded && cpu_in_guest());
    port_kernel_init();
    verifier_attach();
    st = mp_driver_entry(d);
    if (!NT_SUCCESS((NTSTATUS)st) || !d->initialized) {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: DriverEntry failed (status 0x%08lx)%s", d->name,
                    (unsigned long)st,
                    d->initialized ? ""
                                   : "; StorPortInitialize did not "
                                     "succeed");
        return false;
    }
    if (d->virtual_miniport) {
        PortAdapter *a = adapter_new(NULL);
        if (!a) {
            no_room(d, errp);
            return false;
        }
        if (!start_adapter(a, &first)) {
            a->state = ADAPTER_FAILED;
        }
    } else {
        PCIBusState *bus = machine_pci_bus();
        for (PCIDevice *dev = bus ? pci_bus_next(bus, NULL) : NULL;
             dev && port.nadapters < PORT_MAX_ADAPTERS;
             dev = pci_bus_next(bus, dev)) {
            uint32_t class = pci_config_read(dev, PCI_CFG_REVISION_ID, 4) >> 16;
            GError *err = NULL;
            if ((class >> 8) != 0x01) {
                continue; /* not a mass-storage controller */
            }
            PortAdapter *a = adapter_new(dev);
            if (!a) {
                if (!first) {
                    no_room(d, &first);
                }
                continue;
            }
            if (!start_adapter(a, &err)) {
                bool not_found = a->state == ADAPTER_NEW &&
                                 strstr(err->message, "did not find");
                if (!first) {
                    first = err;
                } else {
                    g_error_free(err);
                }
                if (not_found) {
                    discard_adapter(a);
                } else {
                    a->state = ADAPTER_FAILED;
                }
            }
        }
    }
    for (unsigned i = 0; i < port.nadapters; i++) {
        if (port.adapters[i]->state == ADAPTER_RUNNING) {
            return true;
        }
    }
    if (first) {
        g_propagate_error(errp, g_steal_pointer(&first));
    } else {
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                    "%s: no adapter for this miniport (no mass-storage PCI "
                    "device on the bus)",
                    d->name);
    }
    return false;
}

unsigned port_lun_count(void)
{
    return luns ? luns->len : 0;
}

PortLu *port_lun_at(unsigned i)
{
    return i < port_lun_count() ? g_ptr_array_index(luns, i) : NULL;
}

void port_lun_address(const PortLu *lu, unsigned *path, unsigned *target,
                      unsigned *lun)
{
    *path = lu->path;
    *target = lu->target;
    *lun = lu->lun;
}

const uint8_t *port_lun_inquiry(const PortLu *lu)
{
    return (const uint8_t *)&lu->inquiry;
}

unsigned port_lun_adapter(const PortLu *lu)
{
    return lu->adapter->index;
}

uint32_t port_lun_max_transfer(const PortLu *lu)
{
    return lu->adapter->cfg->MaximumTransferLength;
}

uint32_t port_lun_srb_extension_size(const PortLu *lu)
{
    return lu->adapter->srb_ext_size;
}

unsigned port_lun_queue_depth(const PortLu *lu)
{
    return lu->depth;
}

unsigned port_lun_outstanding(const PortLu *lu)
{
    return lu->outstanding;
}

bool port_is_loaded(void)
{
    return port.loaded;
}

/* ---- power ---- */

static bool drain(PortAdapter *a)
{
    uint64_t until = vclock_now() + DRAIN_LIMIT_NS;

    while (a->outstanding && vclock_now() < until) {
        guest_sleep(DRAIN_POLL_NS);
    }
    return a->outstanding == 0;
}

static void send_function(PortLu *lu, uint8_t function)
{
    PortRequest *req = port_request_new(lu);

    if (!req) {
        g_warning("storport: %s: guest RAM exhausted: SRB function 0x%02x "
                  "not sent to %u:%u:%u",
                  lu->adapter->name, function, lu->path, lu->target, lu->lun);
        return;
    }
    req->internal = true;
    port_request_function(req, function);
    port_execute(req);
    port_request_free(req);
}

static bool stop_adapter(PortAdapter *a, GError **errp)
{
    if (a->state != ADAPTER_RUNNING) {
        return true;
    }
    /* Hold new requests, let the ones in flight finish, flush. */
    a->holding = true;
    if (!drain(a)) {
        a->holding = false;
        port_restart_all_queues(a);
        g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                    "%s: %u request(s) still outstanding after %llu s; not "
                    "stopping",
                    a->name, a->outstanding,
                    (unsigned long long)(DRAIN_LIMIT_NS / NS_PER_SEC));
        return false;
    }
    for (guint i = 0; i < a->lus->len; i++) {
        send_function(g_ptr_array_index(a->lus, i), SRB_FUNCTION_FLUSH);
    }
    if (a->adapter_ctl[ScsiStopAdapter]) {
        mp_adapter_control(a, ScsiStopAdapter, NULL);
    }
    a->state = ADAPTER_STOPPED;
    a->holding = false;
    TRACE(port_adapter_stop, "%s", a->name);
    return true;
}

/*
 * Every request keeps the SRB extension it was made with, allocated at
 * the size the first HwStorFindAdapter asked for: a second one (the
 * re-initialization of a miniport without ScsiRestartAdapter) that asks
 * for another size fails the restart, rather than leaving the miniport
 * writing past extensions smaller than it now expects.
 */
static bool same_srb_extension_size(PortAdapter *a, GError **errp)
{
    if (a->cfg->SrbExtensionSize == a->srb_ext_size) {
        return true;
    }
    g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                "%s: HwStorFindAdapter asked for a %lu-byte SRB extension on "
                "re-initialization, %lu bytes before: the extensions of "
                "existing requests cannot change size",
                a->name, (unsigned long)a->cfg->SrbExtensionSize,
                (unsigned long)a->srb_ext_size);
    return false;
}

static bool restart_adapter(PortAdapter *a, GError **errp)
{
    if (a->state != ADAPTER_STOPPED) {
        return true;
    }
    if (a->adapter_ctl[ScsiRestartAdapter]) {
        if (a->adapter_ctl[ScsiSetRunningConfig]) {
            mp_adapter_control(a, ScsiSetRunningConfig, NULL);
        }
        if (mp_adapter_control(a, ScsiRestartAdapter, NULL) !=
            ScsiAdapterControlSuccess) {
            a->state = ADAPTER_FAILED;
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                        "%s: ScsiRestartAdapter failed", a->name);
            return false;
        }
    } else {
        /* No restart support: the full initialization again. */
        BOOLEAN again = FALSE;
        if (mp_find_adapter(a, &again) != SP_RETURN_FOUND ||
            !same_srb_extension_size(a, errp) || !initialize_adapter(a, errp)) {
            a->state = ADAPTER_FAILED;
            if (errp && !*errp) {
                g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_FAILED,
                            "%s: re-initialization failed", a->name);
            }
            return false;
        }
    }
    a->state = ADAPTER_RUNNING;
    TRACE(port_adapter_restart, "%s", a->name);
    port_restart_all_queues(a);
    return true;
}

bool port_power(PortPowerAction action, GError **errp)
{
    g_assert(cpu_in_guest() && cpu_level() == PASSIVE_LEVEL);
    for (unsigned i = 0; i < port.nadapters; i++) {
        PortAdapter *a = port.adapters[i];
        bool ok = action == PORT_POWER_RESUME ? restart_adapter(a, errp)
                                              : stop_adapter(a, errp);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* ---- surprise removal ---- */

void port_surprise_removal(PortAdapter *a)
{
    g_assert(cpu_in_guest() && cpu_level() == PASSIVE_LEVEL);
    if (a->state != ADAPTER_RUNNING && a->state != ADAPTER_STOPPED) {
        return;
    }
    /* New requests wait while the miniport lets go of the adapter. */
    a->holding = true;
    for (guint i = 0; a->drv->hw.HwUnitControl &&
                      a->unit_ctl[ScsiUnitSurpriseRemoval] && i < a->lus->len;
         i++) {
        unit_control(a, g_ptr_array_index(a->lus, i), ScsiUnitSurpriseRemoval);
    }
    if (a->state == ADAPTER_RUNNING && a->adapter_ctl[ScsiStopAdapter]) {
        mp_adapter_control(a, ScsiStopAdapter, NULL);
    }
    a->state = ADAPTER_REMOVED;
    a->holding = false;
    TRACE(port_surprise_removal, "%s", a->name);
    /* What the miniport still holds is gone with the device. */
    port_complete_all(a, SP_UNTAGGED, SP_UNTAGGED, SP_UNTAGGED,
                      SRB_STATUS_NO_DEVICE);
    /* Requests still queued: submitted again, the port refuses them. */
    for (guint j = 0; j < a->lus->len; j++) {
        PortLu *lu = g_ptr_array_index(a->lus, j);
        PortRequest *req;
        while ((req = port_lu_pending_pop(lu))) {
            req->state = REQ_IDLE;
            port_submit(req, req->done, req->opaque);
        }
    }
}

/* ---- shutdown and teardown ---- */

static void report_leaks(PortAdapter *a)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, a->pool);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        guint32 tag = GPOINTER_TO_UINT(v);
        char t[5] = {(char)(tag & 0xff), (char)(tag >> 8 & 0xff),
                     (char)(tag >> 16 & 0xff), (char)(tag >> 24), 0};
        for (int i = 0; i < 4; i++) {
            if (!g_ascii_isprint(t[i])) {
                t[i] = '.';
            }
        }
        verifier_report(VC_POOL_LEAK, NULL,
                        "%s: %" G_GUINT64_FORMAT " bytes of pool (tag '%s') "
                        "never freed",
                        a->name, ram_alloc_size(k), t);
        ram_free(k);
    }
    g_hash_table_remove_all(a->pool);
}

void port_shutdown(void)
{
    g_assert(cpu_in_guest() && cpu_level() == PASSIVE_LEVEL);
    for (unsigned i = 0; i < port.nadapters; i++) {
        PortAdapter *a = port.adapters[i];
        if (a->state != ADAPTER_RUNNING) {
            continue;
        }
        a->holding = true;
        drain(a);
        for (guint j = 0; j < a->lus->len; j++) {
            PortLu *lu = g_ptr_array_index(a->lus, j);
            send_function(lu, SRB_FUNCTION_FLUSH);
            send_function(lu, SRB_FUNCTION_SHUTDOWN);
        }
        if (a->adapter_ctl[ScsiStopAdapter]) {
            mp_adapter_control(a, ScsiStopAdapter, NULL);
        }
        if (a->adapter_ctl[ScsiSetBootConfig]) {
            mp_adapter_control(a, ScsiSetBootConfig, NULL);
        }
        mp_free_resources(a);
        a->state = ADAPTER_REMOVED;
        a->holding = false;
        report_leaks(a);
        port_misc_adapter_teardown(a);
        if (a->worker) {
            a->worker_exit = true;
            guest_event_set(&a->worker_ev);
        }
    }
}

static void discard_adapter(PortAdapter *a)
{
    g_assert(port.nadapters && port.adapters[port.nadapters - 1] == a);
    port.nadapters--;
    port_adapters_changed();
    if (a->uncached) {
        ram_free(a->uncached);
    }
    report_leaks(a);
    port_misc_adapter_teardown(a);
    g_hash_table_destroy(a->pool);
    g_ptr_array_free(a->dpc_locks, TRUE);
    g_ptr_array_free(a->lus, TRUE);
    g_hash_table_destroy(a->lu_map);
    g_ptr_array_free(a->workers, TRUE);
    event_cancel(&a->tick_ev);
    event_cancel(&a->pause_ev);
    event_cancel(&a->busy_ev);
    event_cancel(&a->reset_ev);
    ram_free(a->devext);
    ram_free(a->cfg);
    g_free(a);
}

void port_unload(void)
{
    if (!port.loaded) {
        return;
    }
    verifier_detach();
    port_misc_fini();
    for (unsigned i = 0; i < port.nadapters; i++) {
        PortAdapter *a = port.adapters[i];
        port_timer_set(&a->timer, 0);
        for (unsigned t = 0; t < PORT_MAX_TIMERS; t++) {
            if (a->xtimers[t].ev.fn) {
                port_timer_set(&a->xtimers[t], 0);
            }
        }
        event_cancel(&a->tick_ev);
        event_cancel(&a->pause_ev);
        event_cancel(&a->busy_ev);
        event_cancel(&a->reset_ev);
        /* Every unit the port knows: a machine stopped during enumeration
         * leaves the one being probed in lu_map only. */
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, a->lu_map);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            PortLu *lu = v;
            event_cancel(&lu->pause_ev);
            event_cancel(&lu->retry_ev);
            g_free(lu);
        }
        g_ptr_array_free(a->lus, TRUE);
        g_hash_table_destroy(a->lu_map);
        g_hash_table_destroy(a->pool);
        g_ptr_array_free(a->dpc_locks, TRUE);
        for (guint j = 0; j < a->workers->len; j++) {
            g_free(g_ptr_array_index(a->workers, j));
        }
        g_ptr_array_free(a->workers, TRUE);
        g_queue_clear(&a->work_items);
        g_free(a);
    }
    port.nadapters = 0;
    port_adapters_changed();
    if (port.srb_map) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, port.srb_map);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            port_request_release(v);
        }
        g_hash_table_destroy(port.srb_map);
        port.srb_map = NULL;
    }
    if (luns) {
        g_ptr_array_free(luns, TRUE);
        luns = NULL;
    }
    port_kernel_fini();
    mp_reset();
    port_regio_reset();
    port_queue_reset();
    if (port.drv) {
        if (port.drv->dl_handle) {
            dlclose(port.drv->dl_handle);
        }
        g_hash_table_destroy(port.drv->params);
        g_free(port.drv->name);
        g_free(port.drv);
        port.drv = NULL;
    }
    port.loaded = false;
}

void port_stats(PortStats *st)
{
    memset(st, 0, sizeof(*st));
    for (unsigned i = 0; i < port.nadapters; i++) {
        PortAdapter *a = port.adapters[i];
        st->started += a->started;
        st->completed += a->completed;
        st->busy_returns += a->busy_returns;
        st->resets += a->resets;
        st->timeouts += a->timeouts;
        st->spurious_interrupts += a->spurious_interrupts;
        for (unsigned m = 0; m < a->nmsg; m++) {
            st->interrupts += a->msg[m].count;
        }
    }
    st->violations = verifier_total();
}
