/* SPDX-License-Identifier: MIT */
/*
 * Leaf StorPort* routines, part 4: what a miniport reports about itself.
 * StorPortLogError, StorPortLogSystemEvent, StorPortLogTelemetry(Ex),
 * StorPortMarkDeviceFailed(Ex) and the notifications of storport-misc.c
 * are validated as their DDI pages require and kept in an event log that
 * port_misc_print_log() prints at the end of a run (the system event log
 * of this machine); each also has a trace point. The StorPortEtw*
 * routines publish to the trace only: trace point port_etw, one line per
 * event, enabled with -trace port_etw.
 *
 * Reference: nf-storport-storportlogerror, -storportlogsystemevent,
 * -storportlogtelemetry(ex), ns-storport-_storport_telemetry_event,
 * ns-storport-_stor_log_event_details, -storportetwevent2/4/8,
 * -storportetwchannelevent2/4/8, -storportetwlogbytestream,
 * -storportetwlogerror, -storportmarkdevicefailed(ex).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include "port/storport-misc.h"
#include "system/event.h"
#include "system/trace.h"

#ifndef STOR_CURRENT_LOG_INTERFACE_REVISION
#define STOR_CURRENT_LOG_INTERFACE_REVISION 0x100
#endif
/* Dump data plus strings of one system event: the kernel's event entry
 * leaves the miniport 150 bytes (STOR_LOG_EVENT_DETAILS remarks). */
#define LOG_EVENT_MAX_DATA 150
/* The flag values are not on the DDI pages; these are the kit's bits as
 * far as known, and only their meaning is used here. */
#ifndef STORPORT_MARK_DEVICE_FAILED_FLAG_REMOVE_DEVICE
#define STORPORT_MARK_DEVICE_FAILED_FLAG_REMOVE_DEVICE 0x1
#endif
#ifndef STORPORT_MARK_DEVICE_FAILED_FLAG_PREDICTED_FAILURE
#define STORPORT_MARK_DEVICE_FAILED_FLAG_PREDICTED_FAILURE 0x2
#endif
/* Beyond this many entries the log only counts (a miniport logging on
 * every request must not exhaust host memory). */
#define LOG_MAX_ENTRIES 4096
#define FAIL_REASON_MAX 256
#define HEX_MAX         64

typedef struct LogEntry {
    uint64_t ns;
    char *adapter;
    const char *kind;
    char *text;
} LogEntry;

static GPtrArray *log_entries; /* LogEntry* */
static uint64_t log_dropped;
static uint64_t etw_events;

static void entry_free(gpointer p)
{
    LogEntry *e = p;
    g_free(e->adapter);
    g_free(e->text);
    g_free(e);
}

void misc_log(const char *name, const char *kind, const char *fmt, ...)
{
    LogEntry *e;
    va_list ap;

    if (!log_entries) {
        log_entries = g_ptr_array_new_with_free_func(entry_free);
    }
    if (log_entries->len >= LOG_MAX_ENTRIES) {
        log_dropped++;
        return;
    }
    e = g_new0(LogEntry, 1);
    e->ns = vclock_now();
    e->adapter = g_strdup(name);
    e->kind = kind;
    va_start(ap, fmt);
    e->text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(log_entries, e);
}

unsigned port_misc_log_count(void)
{
    return log_entries ? log_entries->len : 0;
}

void port_misc_print_log(FILE *f)
{
    unsigned n = port_misc_log_count();

    if (n) {
        fprintf(f, "storport event log (%u entr%s):\n", n,
                n == 1 ? "y" : "ies");
    }
    for (unsigned i = 0; i < n; i++) {
        LogEntry *e = g_ptr_array_index(log_entries, i);
        fprintf(f, "  [%" G_GUINT64_FORMAT " ns] %s %s: %s\n", e->ns,
                e->adapter, e->kind, e->text);
    }
    if (log_dropped) {
        fprintf(f, "  ... %" G_GUINT64_FORMAT " more entries not kept\n",
                log_dropped);
    }
    if (etw_events) {
        fprintf(f,
                "storport: %" G_GUINT64_FORMAT " ETW event(s) published "
                "(trace point port_etw)\n",
                etw_events);
    }
}

void misc_log_fini(void)
{
    if (log_entries) {
        g_ptr_array_free(log_entries, TRUE);
        log_entries = NULL;
    }
    log_dropped = 0;
    etw_events = 0;
}

/* ---- StorPortLogError ---- */

static const char *sp_error_name(ULONG code)
{
    static const char *const names[] = {
        [SP_BUS_PARITY_ERROR] = "SP_BUS_PARITY_ERROR",
        [SP_UNEXPECTED_DISCONNECT] = "SP_UNEXPECTED_DISCONNECT",
        [SP_INVALID_RESELECTION] = "SP_INVALID_RESELECTION",
        [SP_BUS_TIME_OUT] = "SP_BUS_TIME_OUT",
        [SP_PROTOCOL_ERROR] = "SP_PROTOCOL_ERROR",
        [SP_INTERNAL_ADAPTER_ERROR] = "SP_INTERNAL_ADAPTER_ERROR",
        [SP_REQUEST_TIMEOUT] = "SP_REQUEST_TIMEOUT",
        [SP_IRQ_NOT_RESPONDING] = "SP_IRQ_NOT_RESPONDING",
        [SP_BAD_FW_WARNING] = "SP_BAD_FW_WARNING",
        [SP_BAD_FW_ERROR] = "SP_BAD_FW_ERROR",
        [SP_LOST_WMI_MINIPORT_REQUEST] = "SP_LOST_WMI_MINIPORT_REQUEST",
    };
    return code < G_N_ELEMENTS(names) && names[code] ? names[code]
                                                     : "miniport code";
}

VOID NTAPI StorPortLogError(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb,
                            UCHAR PathId, UCHAR TargetId, UCHAR Lun,
                            ULONG ErrorCode, ULONG UniqueId)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortLogError");
    PortRequest *req = port_request_from_srb(Srb);
    char reqtext[48] = "";

    if (!a) {
        return;
    }
    misc_yield("StorPortLogError");
    if (req) {
        snprintf(reqtext, sizeof(reqtext), " request #%" G_GUINT64_FORMAT,
                 req->id);
    }
    TRACE(port_log_error, "%s %u:%u:%u code=0x%lx (%s) unique=0x%lx%s", a->name,
          PathId, TargetId, Lun, (unsigned long)ErrorCode,
          sp_error_name(ErrorCode), (unsigned long)UniqueId, reqtext);
    misc_log(a->name, "LogError", "%u:%u:%u %s (0x%lx) unique id 0x%lx%s",
             PathId, TargetId, Lun, sp_error_name(ErrorCode),
             (unsigned long)ErrorCode, (unsigned long)UniqueId, reqtext);
}

/* ---- StorPortLogSystemEvent ---- */

ULONG NTAPI StorPortLogSystemEvent(PVOID HwDeviceExtension,
                                   PSTOR_LOG_EVENT_DETAILS LogDetails,
                                   PULONG MaximumSize)
{
    static const char *const assoc[] = {"adapter", "unit", "target"};
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortLogSystemEvent");
    PSTOR_LOG_EVENT_DETAILS d = LogDetails;
    g_autoptr(GString) s = NULL;
    size_t total;

    if (!misc_irql_at_most(DISPATCH_LEVEL, "StorPortLogSystemEvent")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!a || !d) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    /* Only the three high bytes of the revision must match; the low one
     * marks compatible variations. */
    if ((d->InterfaceRevision & ~0xffu) >
        (STOR_CURRENT_LOG_INTERFACE_REVISION & ~0xffu)) {
        d->InterfaceRevision = STOR_CURRENT_LOG_INTERFACE_REVISION;
        return STOR_STATUS_UNSUPPORTED_VERSION;
    }
    if (d->Size < sizeof(*d) || d->Flags ||
        (unsigned)d->EventAssociation >= StorEventInvalidAssociation ||
        (d->DumpDataSize && !d->DumpData) ||
        (d->StringCount && !d->StringList)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    total = d->DumpDataSize;
    for (ULONG i = 0; i < d->StringCount && total <= LOG_EVENT_MAX_DATA; i++) {
        size_t n = 0;
        if (!d->StringList[i]) {
            return STOR_STATUS_INVALID_PARAMETER;
        }
        /* Count UTF-16 units, terminator included, without reading past
         * what could still fit. */
        while (n <= LOG_EVENT_MAX_DATA / 2 && d->StringList[i][n]) {
            n++;
        }
        total += (n + 1) * sizeof(WCHAR);
    }
    if (total > LOG_EVENT_MAX_DATA) {
        if (MaximumSize) {
            *MaximumSize = LOG_EVENT_MAX_DATA;
        }
        return STOR_STATUS_INVALID_BUFFER_SIZE;
    }
    misc_yield("StorPortLogSystemEvent");
    s = g_string_new(NULL);
    /* Addresses are 8-bit in Storport: wider values are truncated. */
    g_string_append_printf(
        s, "%s %u:%u:%u%s error 0x%lx unique id 0x%lx",
        assoc[d->EventAssociation], (UCHAR)d->PathId, (UCHAR)d->TargetId,
        (UCHAR)d->LunId, d->StorportSpecificErrorCode ? " storport" : "",
        (unsigned long)d->ErrorCode, (unsigned long)d->UniqueId);
    if (d->DumpDataSize) {
        g_string_append(s, " data ");
        misc_hex(s, d->DumpData, d->DumpDataSize, HEX_MAX);
    }
    for (ULONG i = 0; i < d->StringCount; i++) {
        g_autofree char *u =
            misc_wstr(d->StringList[i], LOG_EVENT_MAX_DATA / 2, NULL);
        g_string_append_printf(s, " \"%s\"", u);
    }
    TRACE(port_log_system_event, "%s %s", a->name, s->str);
    misc_log(a->name, "LogSystemEvent", "%s", s->str);
    return STOR_STATUS_SUCCESS;
}

/* ---- telemetry ---- */

/* A fixed-size name field: up to @max bytes, NUL-terminated or not. */
static char *field_str(const UCHAR *p, size_t max)
{
    size_t n = strnlen((const char *)p, max);
    char *s = g_strndup((const char *)p, n);

    for (char *c = s; *c; c++) {
        if (!g_ascii_isprint(*c)) {
            *c = '?';
        }
    }
    return s;
}

static ULONG telemetry(PVOID ext, PSTOR_ADDRESS addr,
                       PSTORPORT_TELEMETRY_EVENT ev, const char *category,
                       const char *fn)
{
    PortAdapter *a = port_adapter_for_caller(ext, fn);
    const UCHAR *names[8];
    ULONGLONG values[8];
    g_autoptr(GString) s = NULL;
    g_autofree char *evname = NULL;
    char where[40];
    UCHAR p, t, l;

    if (!a || !ev || (addr && !misc_btl(addr, &p, &t, &l))) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (ev->EventBufferLength > EVENT_BUFFER_MAX_LENGTH) {
        return STOR_STATUS_INVALID_BUFFER_SIZE;
    }
    if (!ev->EventBuffer != !ev->EventBufferLength) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield(fn);
    names[0] = ev->ParameterName0;
    values[0] = ev->ParameterValue0;
    names[1] = ev->ParameterName1;
    values[1] = ev->ParameterValue1;
    names[2] = ev->ParameterName2;
    values[2] = ev->ParameterValue2;
    names[3] = ev->ParameterName3;
    values[3] = ev->ParameterValue3;
    names[4] = ev->ParameterName4;
    values[4] = ev->ParameterValue4;
    names[5] = ev->ParameterName5;
    values[5] = ev->ParameterValue5;
    names[6] = ev->ParameterName6;
    values[6] = ev->ParameterValue6;
    names[7] = ev->ParameterName7;
    values[7] = ev->ParameterValue7;
    evname = field_str(ev->EventName, EVENT_NAME_MAX_LENGTH);
    s = g_string_new(NULL);
    g_string_append_printf(
        s, "%s%s \"%s\" id %lu version %lu driver 0x%lx", category,
        misc_address_text(addr, where, sizeof(where)), evname,
        (unsigned long)ev->EventId, (unsigned long)ev->EventVersion,
        (unsigned long)ev->DriverVersion);
    for (int i = 0; i < 8; i++) {
        g_autofree char *n = field_str(names[i], EVENT_MAX_PARAM_NAME_LEN);
        /* Unnamed parameters are left out (the DDI zeroes their value). */
        if (*n) {
            g_string_append_printf(s, " %s=%" G_GUINT64_FORMAT, n,
                                   (guint64)values[i]);
        }
    }
    if (ev->EventBufferLength) {
        g_string_append_printf(s, " buffer[%lu] ",
                               (unsigned long)ev->EventBufferLength);
        misc_hex(s, ev->EventBuffer, ev->EventBufferLength, HEX_MAX);
    }
    TRACE(port_telemetry, "%s %s", a->name, s->str);
    misc_log(a->name, "Telemetry", "%s", s->str);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortLogTelemetry(PVOID HwDeviceExtension,
                                 PSTOR_ADDRESS StorAddress,
                                 PSTORPORT_TELEMETRY_EVENT Event)
{
    return telemetry(HwDeviceExtension, StorAddress, Event, "",
                     "StorPortLogTelemetry");
}

ULONG NTAPI StorPortLogTelemetryEx(PVOID HwDeviceExtension,
                                   PSTOR_ADDRESS StorAddress,
                                   PSTORPORT_TELEMETRY_EVENT Event,
                                   STOR_TELEMETRY_CATEGORY Category)
{
    if (Category != StorTelemetryCategory && Category != StorMeasuresCategory) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    return telemetry(HwDeviceExtension, StorAddress, Event,
                     Category == StorMeasuresCategory ? "measures "
                                                      : "telemetry ",
                     "StorPortLogTelemetryEx");
}

/* ---- failed devices ---- */

static void mark_failed(PortAdapter *a, PSTOR_ADDRESS addr, ULONG flags,
                        const char *reason, const char *extra)
{
    char where[40];
    bool predicted_only =
        (flags & STORPORT_MARK_DEVICE_FAILED_FLAG_PREDICTED_FAILURE) &&
        !(flags & STORPORT_MARK_DEVICE_FAILED_FLAG_REMOVE_DEVICE);

    misc_address_text(addr, where, sizeof(where));
    misc_log(a->name, predicted_only ? "PredictedFailure" : "DeviceFailed",
             "%s flags 0x%lx: %s%s", where, (unsigned long)flags,
             reason ? reason : "(no reason given)", extra ? extra : "");
    TRACE(port_device_failed, "%s %s flags=0x%lx", a->name, where,
          (unsigned long)flags);
    if (predicted_only) {
        return;
    }
    /* Failing the adapter stops new requests (port_submit answers
     * SRB_STATUS_NO_DEVICE) and those waiting in its queues; a failed
     * unit is only recorded. */
    if (!addr) {
        port_adapter_failed(a);
    }
    g_message("storport: %s: the miniport marked %s failed: %s", a->name, where,
              reason ? reason : "(no reason given)");
}

VOID NTAPI StorPortMarkDeviceFailed(PVOID HwDeviceExtension,
                                    PSTOR_ADDRESS StorAddress, ULONG Flags,
                                    PWSTR FailReason)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortMarkDeviceFailed");
    g_autofree char *reason = misc_wstr(FailReason, FAIL_REASON_MAX, NULL);

    if (!a) {
        return;
    }
    misc_yield("StorPortMarkDeviceFailed");
    mark_failed(a, StorAddress, Flags, reason, NULL);
}

ULONG NTAPI StorPortMarkDeviceFailedEx(
    PVOID HwDeviceExtension, PSTOR_ADDRESS StorAddress, ULONG Flags,
    USHORT FaultCode, PWSTR FaultDescription, USHORT AdditionalDataSize,
    PUCHAR AdditionalData, USHORT CriticalDataSize, PUCHAR CriticalData)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortMarkDeviceFailedEx");
    g_autofree char *reason = NULL;
    g_autoptr(GString) extra = NULL;

    if (!a || AdditionalDataSize > STORPORT_MAX_ADDITIONAL_DATA_SIZE ||
        CriticalDataSize > STORPORT_MAX_CRITICAL_DATA_SIZE ||
        (AdditionalDataSize && !AdditionalData) ||
        (CriticalDataSize && !CriticalData)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortMarkDeviceFailedEx");
    reason = misc_wstr(FaultDescription, FAIL_REASON_MAX, NULL);
    extra = g_string_new(NULL);
    g_string_append_printf(extra, " (fault code 0x%04x", FaultCode);
    if (CriticalDataSize) {
        g_string_append(extra, ", critical ");
        misc_hex(extra, CriticalData, CriticalDataSize, HEX_MAX);
    }
    if (AdditionalDataSize) {
        g_string_append(extra, ", additional ");
        misc_hex(extra, AdditionalData, AdditionalDataSize, HEX_MAX);
    }
    g_string_append_c(extra, ')');
    mark_failed(a, StorAddress, Flags, reason, extra->str);
    return STOR_STATUS_SUCCESS;
}

/* ---- ETW ---- */

typedef struct EtwParam {
    PWSTR name;
    ULONGLONG value;
} EtwParam;

static ULONG etw_event(PVOID ext, PSTOR_ADDRESS addr, int channel, ULONG id,
                       PWSTR desc, ULONGLONG keywords, STORPORT_ETW_LEVEL level,
                       STORPORT_ETW_EVENT_OPCODE opcode,
                       PSCSI_REQUEST_BLOCK srb, const EtwParam *params,
                       unsigned nparams, const void *data, size_t len,
                       const char *fn)
{
    static const char *const channels[] = {"diagnostic", "operational",
                                           "health", "io-performance"};
    PortAdapter *a = port_adapter_for_caller(ext, fn);
    g_autofree char *d = NULL;
    g_autoptr(GString) s = NULL;
    PortRequest *req = port_request_from_srb(srb);
    char where[40], reqtext[40] = "";
    bool long_text;

    if (!a || (channel >= 0 && (unsigned)channel >= G_N_ELEMENTS(channels)) ||
        (unsigned)level > StorportEtwLevelMax) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    d = misc_wstr(desc, STORPORT_ETW_MAX_DESCRIPTION_LENGTH, &long_text);
    if (!d || long_text) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    s = g_string_new(NULL);
    for (unsigned i = 0; i < nparams; i++) {
        g_autofree char *n = misc_wstr(
            params[i].name, STORPORT_ETW_MAX_PARAM_NAME_LENGTH, &long_text);
        if (long_text) {
            return STOR_STATUS_INVALID_PARAMETER;
        }
        /* An unnamed parameter is published with the value 0 (DDI). */
        g_string_append_printf(s, " %s=%" G_GUINT64_FORMAT, n ? n : "(unnamed)",
                               n ? (guint64)params[i].value : 0);
    }
    if (len) {
        g_string_append_printf(s, " data[%zu] ", len);
        misc_hex(s, data, len, HEX_MAX);
    }
    if (req) {
        snprintf(reqtext, sizeof(reqtext), " request #%" G_GUINT64_FORMAT,
                 req->id);
    }
    misc_irql_at_most(DISPATCH_LEVEL, fn);
    misc_yield(fn);
    etw_events++;
    TRACE(port_etw,
          "%s %s channel=%s id=%lu level=%u opcode=%u keywords=0x%" PRIx64
          "%s \"%s\"%s",
          a->name, misc_address_text(addr, where, sizeof(where)),
          channels[channel < 0 ? 0 : channel], (unsigned long)id,
          (unsigned)level, (unsigned)opcode, (uint64_t)keywords, reqtext, d,
          s->str);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortEtwEvent2(PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
                              ULONG EventId, PWSTR EventDescription,
                              ULONGLONG EventKeywords,
                              STORPORT_ETW_LEVEL EventLevel,
                              STORPORT_ETW_EVENT_OPCODE EventOpcode,
                              PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name,
                              ULONGLONG Parameter1Value, PWSTR Parameter2Name,
                              ULONGLONG Parameter2Value)
{
    const EtwParam p[] = {{Parameter1Name, Parameter1Value},
                          {Parameter2Name, Parameter2Value}};

    return etw_event(HwDeviceExtension, Address, -1, EventId, EventDescription,
                     EventKeywords, EventLevel, EventOpcode, Srb, p,
                     G_N_ELEMENTS(p), NULL, 0, "StorPortEtwEvent2");
}

ULONG NTAPI StorPortEtwEvent4(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value)
{
    const EtwParam p[] = {{Parameter1Name, Parameter1Value},
                          {Parameter2Name, Parameter2Value},
                          {Parameter3Name, Parameter3Value},
                          {Parameter4Name, Parameter4Value}};

    return etw_event(HwDeviceExtension, Address, -1, EventId, EventDescription,
                     EventKeywords, EventLevel, EventOpcode, Srb, p,
                     G_N_ELEMENTS(p), NULL, 0, "StorPortEtwEvent4");
}

ULONG NTAPI StorPortEtwEvent8(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value,
    PWSTR Parameter5Name, ULONGLONG Parameter5Value, PWSTR Parameter6Name,
    ULONGLONG Parameter6Value, PWSTR Parameter7Name, ULONGLONG Parameter7Value,
    PWSTR Parameter8Name, ULONGLONG Parameter8Value)
{
    const EtwParam p[] = {
        {Parameter1Name, Parameter1Value}, {Parameter2Name, Parameter2Value},
        {Parameter3Name, Parameter3Value}, {Parameter4Name, Parameter4Value},
        {Parameter5Name, Parameter5Value}, {Parameter6Name, Parameter6Value},
        {Parameter7Name, Parameter7Value}, {Parameter8Name, Parameter8Value}};

    return etw_event(HwDeviceExtension, Address, -1, EventId, EventDescription,
                     EventKeywords, EventLevel, EventOpcode, Srb, p,
                     G_N_ELEMENTS(p), NULL, 0, "StorPortEtwEvent8");
}

ULONG NTAPI StorPortEtwChannelEvent2(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
    STORPORT_ETW_EVENT_CHANNEL EventChannel, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value)
{
    const EtwParam p[] = {{Parameter1Name, Parameter1Value},
                          {Parameter2Name, Parameter2Value}};

    return etw_event(HwDeviceExtension, Address, (int)EventChannel, EventId,
                     EventDescription, EventKeywords, EventLevel, EventOpcode,
                     Srb, p, G_N_ELEMENTS(p), NULL, 0,
                     "StorPortEtwChannelEvent2");
}

ULONG NTAPI StorPortEtwChannelEvent4(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
    STORPORT_ETW_EVENT_CHANNEL EventChannel, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value)
{
    const EtwParam p[] = {{Parameter1Name, Parameter1Value},
                          {Parameter2Name, Parameter2Value},
                          {Parameter3Name, Parameter3Value},
                          {Parameter4Name, Parameter4Value}};

    return etw_event(HwDeviceExtension, Address, (int)EventChannel, EventId,
                     EventDescription, EventKeywords, EventLevel, EventOpcode,
                     Srb, p, G_N_ELEMENTS(p), NULL, 0,
                     "StorPortEtwChannelEvent4");
}

ULONG NTAPI StorPortEtwChannelEvent8(
    PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
    STORPORT_ETW_EVENT_CHANNEL EventChannel, ULONG EventId,
    PWSTR EventDescription, ULONGLONG EventKeywords,
    STORPORT_ETW_LEVEL EventLevel, STORPORT_ETW_EVENT_OPCODE EventOpcode,
    PSCSI_REQUEST_BLOCK Srb, PWSTR Parameter1Name, ULONGLONG Parameter1Value,
    PWSTR Parameter2Name, ULONGLONG Parameter2Value, PWSTR Parameter3Name,
    ULONGLONG Parameter3Value, PWSTR Parameter4Name, ULONGLONG Parameter4Value,
    PWSTR Parameter5Name, ULONGLONG Parameter5Value, PWSTR Parameter6Name,
    ULONGLONG Parameter6Value, PWSTR Parameter7Name, ULONGLONG Parameter7Value,
    PWSTR Parameter8Name, ULONGLONG Parameter8Value)
{
    const EtwParam p[] = {
        {Parameter1Name, Parameter1Value}, {Parameter2Name, Parameter2Value},
        {Parameter3Name, Parameter3Value}, {Parameter4Name, Parameter4Value},
        {Parameter5Name, Parameter5Value}, {Parameter6Name, Parameter6Value},
        {Parameter7Name, Parameter7Value}, {Parameter8Name, Parameter8Value}};

    return etw_event(HwDeviceExtension, Address, (int)EventChannel, EventId,
                     EventDescription, EventKeywords, EventLevel, EventOpcode,
                     Srb, p, G_N_ELEMENTS(p), NULL, 0,
                     "StorPortEtwChannelEvent8");
}

ULONG NTAPI StorPortEtwLogByteStream(PVOID HwDeviceExtension,
                                     PSTOR_ADDRESS Address,
                                     STORPORT_ETW_EVENT_CHANNEL EventChannel,
                                     ULONG EventId, PWSTR EventDescription,
                                     ULONGLONG EventKeywords,
                                     STORPORT_ETW_LEVEL EventLevel,
                                     STORPORT_ETW_EVENT_OPCODE EventOpcode,
                                     USHORT DataLength, PUCHAR Data)
{
    if (!Data || !DataLength) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    return etw_event(HwDeviceExtension, Address, (int)EventChannel, EventId,
                     EventDescription, EventKeywords, EventLevel, EventOpcode,
                     NULL, NULL, 0, Data, DataLength,
                     "StorPortEtwLogByteStream");
}

ULONG NTAPI StorPortEtwLogError(PVOID HwDeviceExtension, PSTOR_ADDRESS Address,
                                ULONG Id, PWSTR Description,
                                ULONG DataBufferLength, PVOID DataBuffer)
{
    if (!Description || !DataBuffer || !DataBufferLength) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    return etw_event(HwDeviceExtension, Address, StorportEtwEventOperational,
                     Id, Description, 0, StorportEtwLevelError,
                     StorportEtwEventOpcodeInfo, NULL, NULL, 0, DataBuffer,
                     DataBufferLength, "StorPortEtwLogError");
}
