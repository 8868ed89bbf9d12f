/* SPDX-License-Identifier: MIT */
/*
 * Leaf StorPort* routines, part 3: the registry. A miniport's registry is
 * the table of its parameters, "-miniport NAME,param.KEY=VALUE" on the
 * command line (PortDriver.params); writes change the table for the rest
 * of the run. Values are strings there and get their type when read:
 *
 *   MINIPORT_REG_SZ        the string, NUL-terminated ("converted to
 *                          ASCII" as the DDI says: strings stay 8-bit)
 *   MINIPORT_REG_DWORD     decimal, or hex with a 0x prefix; 4 bytes LE
 *   MINIPORT_REG_BINARY    hex digit pairs, optionally separated by ':',
 *                          '-' or blanks ("0a:1b:ff")
 *   MINIPORT_REG_MULTI_SZ  strings separated by ';' ("a;b" reads as
 *                          "a\0b\0\0"; an empty value as "\0")
 *
 * Keys (names compare case-insensitively, as in the registry):
 *   Global != 0 (Parameters\Device)             NAME
 *   Global == 0 (Parameters\Device<N>)          DeviceN.NAME, else NAME
 *   adapter key [SubKey] (Enum\...\Device Parameters)
 *                                               DeviceN.[SUB.]NAME, else
 *                                               [SUB.]NAME
 *   StorPortReadRegistryKey(Path, Name)         PATH\NAME (verbatim)
 * where N is the adapter's index: one command-line value serves every
 * adapter unless a DeviceN. value overrides it; writes always go to the
 * scoped name.
 *
 * Reference: nf-storport-storportregistryread, -storportregistrywrite,
 * -storportallocateregistrybuffer, -storportregistryreadadapterkey,
 * -storportreadregistrykey (MicrosoftDocs/windows-driver-docs-ddi).
 */
#include <string.h>
#include "hw/core/ram.h"
#include "port/storport-misc.h"
#include "system/fault.h"
#include "system/trace.h"

#ifndef REG_DWORD
#define REG_DWORD MINIPORT_REG_DWORD
#endif

/* Longest value name looked at (the registry's own limit is 16383). */
#define NAME_MAX_LEN 255

/* ---- the table ---- */

/* The table's own key for @name: exact spelling first, else the
 * case-insensitive match that sorts first (a stable choice). */
static const char *lookup_key(GHashTable *t, const char *name)
{
    GHashTableIter it;
    gpointer k, v;
    const char *best = NULL;

    if (g_hash_table_contains(t, name)) {
        return name;
    }
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!g_ascii_strcasecmp(k, name) && (!best || strcmp(k, best) < 0)) {
            best = k;
        }
    }
    return best;
}

static const char *value_of(const char *name)
{
    GHashTable *t = port.drv ? port.drv->params : NULL;
    const char *k = t ? lookup_key(t, name) : NULL;
    return k ? g_hash_table_lookup(t, k) : NULL;
}

/* Look @name up scoped to adapter @a first, then unscoped. */
static const char *value_for(PortAdapter *a, const char *name, bool scoped)
{
    const char *v = NULL;

    if (scoped) {
        g_autofree char *k = g_strdup_printf("Device%u.%s", a->index, name);
        v = value_of(k);
    }
    return v ? v : value_of(name);
}

static void set_value(PortAdapter *a, const char *name, bool scoped,
                      char *value)
{
    GHashTable *t = port.drv->params;
    g_autofree char *k = scoped ? g_strdup_printf("Device%u.%s", a->index, name)
                                : g_strdup(name);
    const char *old;

    /* One spelling per name: drop the others. */
    while ((old = lookup_key(t, k))) {
        g_hash_table_remove(t, old);
    }
    TRACE(port_registry_write, "%s %s=%s", a->name, k, value);
    g_hash_table_insert(t, g_steal_pointer(&k), value);
}

/* ---- typed values ---- */

static int hexval(char c)
{
    return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* The bytes a read of @type returns for the table string @s; NULL when
 * @s does not parse as that type. */
static GByteArray *encode(const char *s, ULONG type)
{
    GByteArray *out = g_byte_array_new();
    static const guint8 nul = 0;

    switch (type) {
    case MINIPORT_REG_SZ:
        g_byte_array_append(out, (const guint8 *)s, strlen(s) + 1);
        return out;
    case MINIPORT_REG_DWORD: {
        bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
        const char *digits = hex ? s + 2 : s;
        char *end = NULL;
        guint64 v;
        guint8 le[4];

        if (!*digits ||
            !(hex ? g_ascii_isxdigit(*digits) : g_ascii_isdigit(*digits))) {
            break;
        }
        v = g_ascii_strtoull(digits, &end, hex ? 16 : 10);
        if (*end || v > G_MAXUINT32) {
            break;
        }
        for (int i = 0; i < 4; i++) {
            le[i] = (guint8)(v >> (8 * i));
        }
        g_byte_array_append(out, le, 4);
        return out;
    }
    case MINIPORT_REG_BINARY:
        for (const char *p = s; *p;) {
            guint8 b;
            if (*p == ':' || *p == '-' || *p == ' ' || *p == '\t') {
                p++;
                continue;
            }
            if (hexval(p[0]) < 0 || hexval(p[1]) < 0) {
                g_byte_array_free(out, TRUE);
                return NULL;
            }
            b = (guint8)(hexval(p[0]) << 4 | hexval(p[1]));
            g_byte_array_append(out, &b, 1);
            p += 2;
        }
        return out;
    case MINIPORT_REG_MULTI_SZ:
        if (*s) {
            g_auto(GStrv) parts = g_strsplit(s, ";", -1);
            for (char **p = parts; *p; p++) {
                g_byte_array_append(out, (const guint8 *)*p, strlen(*p) + 1);
            }
        }
        g_byte_array_append(out, &nul, 1);
        return out;
    default:
        break;
    }
    g_byte_array_free(out, TRUE);
    return NULL;
}

/* The table string for @len bytes of @type at @data; NULL when the data
 * cannot be stored as that type. */
static char *decode(const UCHAR *data, ULONG len, ULONG type)
{
    switch (type) {
    case MINIPORT_REG_SZ:
        return g_strndup((const char *)data, len);
    case MINIPORT_REG_DWORD: {
        guint32 v = 0;
        if (len < 4) {
            return NULL;
        }
        for (int i = 0; i < 4; i++) {
            v |= (guint32)data[i] << (8 * i);
        }
        return g_strdup_printf("0x%x", v);
    }
    case MINIPORT_REG_BINARY: {
        GString *s = g_string_new(NULL);
        misc_hex(s, data, len, len);
        return g_string_free(s, FALSE);
    }
    case MINIPORT_REG_MULTI_SZ: {
        GString *s = g_string_new(NULL);
        ULONG i = 0;
        bool first = true;

        /* Strings up to the empty one (or the end of the data). */
        while (i < len && data[i]) {
            ULONG n = 0;
            while (i + n < len && data[i + n]) {
                n++;
            }
            if (memchr(data + i, ';', n)) {
                g_string_free(s, TRUE);
                return NULL; /* ';' separates the table's strings */
            }
            g_string_append_printf(s, "%s%.*s", first ? "" : ";", (int)n,
                                   (const char *)data + i);
            first = false;
            i += n + 1;
        }
        return g_string_free(s, FALSE);
    }
    default:
        return NULL;
    }
}

/* A value name from the miniport: ASCII, NUL-terminated, bounded. */
static char *name_of(const UCHAR *name)
{
    size_t n;

    if (!name) {
        return NULL;
    }
    n = strnlen((const char *)name, NAME_MAX_LEN + 1);
    if (!n || n > NAME_MAX_LEN) {
        return NULL;
    }
    return g_strndup((const char *)name, n);
}

static char *adapter_key_name(const UCHAR *sub, const UCHAR *value)
{
    g_autofree char *v = name_of(value);
    g_autofree char *s = sub ? name_of(sub) : NULL;

    if (!v || (sub && !s)) {
        return NULL;
    }
    return s ? g_strdup_printf("%s.%s", s, v) : g_steal_pointer(&v);
}

/* A buffer the miniport hands in: when it is guest RAM, all of it must
 * be (host memory, e.g. its stack, cannot be checked). */
static bool buffer_ok(const void *buf, ULONG len, const char *fn)
{
    uint64_t gpa;

    if (len && ram_gpa(buf, &gpa) && !ram_contains(buf, len)) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "%s: %lu bytes at %p run past guest RAM", fn,
                        (unsigned long)len, buf);
        return false;
    }
    return true;
}

/* ---- the registry buffer ---- */

PUCHAR NTAPI StorPortAllocateRegistryBuffer(PVOID HwDeviceExtension,
                                            PULONG Length)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortAllocateRegistryBuffer");
    MiscAdapter *m;

    if (!a || !Length || !*Length) {
        return NULL;
    }
    misc_yield("StorPortAllocateRegistryBuffer");
    misc_irql_at_most(PASSIVE_LEVEL, "StorPortAllocateRegistryBuffer");
    m = misc_adapter(a);
    if (m->regbuf) {
        /* One registry buffer per miniport instance at a time (DDI). */
        return NULL;
    }
    /* -fault pool-fail (system/fault.h): no memory to be had. */
    if (fault_pool_fail("StorPortAllocateRegistryBuffer", *Length)) {
        return NULL;
    }
    m->regbuf = ram_alloc(*Length, 16, 0, "registry-buffer");
    if (!m->regbuf) {
        return NULL;
    }
    m->regbuf_len = *Length;
    return m->regbuf;
}

VOID NTAPI StorPortFreeRegistryBuffer(PVOID HwDeviceExtension, PUCHAR Buffer)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortFreeRegistryBuffer");
    MiscAdapter *m;

    if (!a) {
        return;
    }
    misc_yield("StorPortFreeRegistryBuffer");
    misc_irql_at_most(PASSIVE_LEVEL, "StorPortFreeRegistryBuffer");
    m = misc_adapter(a);
    if (!Buffer || Buffer != m->regbuf) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortFreeRegistryBuffer(%p): not the registry "
                        "buffer StorPortAllocateRegistryBuffer returned",
                        (void *)Buffer);
        return;
    }
    ram_free(m->regbuf);
    m->regbuf = NULL;
    m->regbuf_len = 0;
}

/* ---- StorPortRegistryRead / Write ---- */

BOOLEAN NTAPI StorPortRegistryRead(PVOID HwDeviceExtension, PUCHAR ValueName,
                                   ULONG Global, ULONG Type, PUCHAR Buffer,
                                   PULONG BufferLength)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortRegistryRead");
    g_autofree char *name = name_of(ValueName);
    g_autoptr(GByteArray) bytes = NULL;
    MiscAdapter *m;
    const char *v;
    ULONG room;

    if (!BufferLength) {
        return FALSE;
    }
    room = *BufferLength;
    /* FALSE with a zero length: an error other than "too small". */
    *BufferLength = 0;
    if (!a || !name || !Buffer) {
        return FALSE;
    }
    misc_yield("StorPortRegistryRead");
    misc_irql_at_most(PASSIVE_LEVEL, "StorPortRegistryRead");
    m = misc_adapter(a);
    if (Buffer != m->regbuf) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortRegistryRead(%s) into %p, not the buffer "
                        "StorPortAllocateRegistryBuffer returned",
                        name, (void *)Buffer);
        return FALSE;
    }
    if (room > m->regbuf_len) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortRegistryRead(%s): length %lu is larger "
                        "than the %lu-byte registry buffer",
                        name, (unsigned long)room,
                        (unsigned long)m->regbuf_len);
        room = m->regbuf_len;
    }
    v = value_for(a, name, !Global);
    bytes = v ? encode(v, Type) : NULL;
    TRACE(port_registry_read, "%s %s%s type=%lu -> %s", a->name,
          Global ? "" : "(adapter) ", name, (unsigned long)Type,
          v ? (bytes ? v : "(not of that type)") : "(none)");
    if (!bytes) {
        return FALSE;
    }
    *BufferLength = bytes->len;
    if (bytes->len > room) {
        return FALSE; /* too small: *BufferLength says what is needed */
    }
    memcpy(Buffer, bytes->data, bytes->len);
    return TRUE;
}

BOOLEAN NTAPI StorPortRegistryWrite(PVOID HwDeviceExtension, PUCHAR ValueName,
                                    ULONG Global, ULONG Type, PUCHAR Buffer,
                                    ULONG BufferLength)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortRegistryWrite");
    g_autofree char *name = name_of(ValueName);
    MiscAdapter *m;
    char *value;

    if (!a || !name || (!Buffer && BufferLength)) {
        return FALSE;
    }
    misc_yield("StorPortRegistryWrite");
    misc_irql_at_most(PASSIVE_LEVEL, "StorPortRegistryWrite");
    m = misc_adapter(a);
    if (Buffer == m->regbuf && BufferLength > m->regbuf_len) {
        verifier_report(VC_BAD_CALL, mp_current_request(),
                        "StorPortRegistryWrite(%s): %lu bytes from the "
                        "%lu-byte registry buffer",
                        name, (unsigned long)BufferLength,
                        (unsigned long)m->regbuf_len);
        return FALSE;
    }
    if (!buffer_ok(Buffer, BufferLength, "StorPortRegistryWrite")) {
        return FALSE;
    }
    value = decode(Buffer, BufferLength, Type);
    if (!value) {
        return FALSE;
    }
    set_value(a, name, !Global, value);
    return TRUE;
}

/* ---- adapter keys ---- */

ULONG NTAPI StorPortRegistryReadAdapterKey(PVOID HwDeviceExtension,
                                           PUCHAR SubKeyName, PUCHAR ValueName,
                                           ULONG ValueType, PVOID *ValueData,
                                           PULONG ValueDataLength)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortRegistryReadAdapterKey");
    g_autofree char *name = adapter_key_name(SubKeyName, ValueName);
    g_autoptr(GByteArray) bytes = NULL;
    const char *v;

    if (!a || !name || !ValueData || !*ValueData || !ValueDataLength) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortRegistryReadAdapterKey");
    if (!misc_irql_at_most(PASSIVE_LEVEL, "StorPortRegistryReadAdapterKey")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    v = value_for(a, name, true);
    if (!v) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    bytes = encode(v, ValueType);
    if (!bytes) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (bytes->len > *ValueDataLength) {
        *ValueDataLength = bytes->len;
        return STOR_STATUS_BUFFER_TOO_SMALL;
    }
    if (!buffer_ok(*ValueData, bytes->len, "StorPort registry read")) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    memcpy(*ValueData, bytes->data, bytes->len);
    *ValueDataLength = bytes->len;
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortRegistryWriteAdapterKey(PVOID HwDeviceExtension,
                                            PUCHAR SubKeyName, PUCHAR ValueName,
                                            ULONG ValueType, PVOID ValueData,
                                            ULONG ValueDataLength)
{
    PortAdapter *a = port_adapter_for_caller(HwDeviceExtension,
                                             "StorPortRegistryWriteAdapterKey");
    g_autofree char *name = adapter_key_name(SubKeyName, ValueName);
    char *value;

    if (!a || !name || (!ValueData && ValueDataLength)) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortRegistryWriteAdapterKey");
    if (!misc_irql_at_most(PASSIVE_LEVEL, "StorPortRegistryWriteAdapterKey")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    if (!buffer_ok(ValueData, ValueDataLength,
                   "StorPortRegistryWriteAdapterKey")) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    value = decode(ValueData, ValueDataLength, ValueType);
    if (!value) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    set_value(a, name, true, value);
    return STOR_STATUS_SUCCESS;
}

ULONG NTAPI StorPortReadRegistryKey(PVOID HwDeviceExtension, PWSTR AbsolutePath,
                                    PWSTR KeyName, ULONG ValueType,
                                    PVOID *ValueData, PULONG ValueDataLength)
{
    PortAdapter *a =
        port_adapter_for_caller(HwDeviceExtension, "StorPortReadRegistryKey");
    g_autofree char *path = misc_wstr(AbsolutePath, NAME_MAX_LEN, NULL);
    g_autofree char *key = misc_wstr(KeyName, NAME_MAX_LEN, NULL);
    g_autofree char *name = NULL;
    g_autoptr(GByteArray) bytes = NULL;
    const char *v;

    /* Only REG_DWORD values can be read this way (DDI). */
    if (!a || !path || !key || ValueType != REG_DWORD || !ValueData ||
        !*ValueData || !ValueDataLength) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    misc_yield("StorPortReadRegistryKey");
    if (!misc_irql_at_most(PASSIVE_LEVEL, "StorPortReadRegistryKey")) {
        return STOR_STATUS_INVALID_IRQL;
    }
    name = g_strdup_printf("%s\\%s", path, key);
    v = value_of(name);
    if (!v) {
        return STOR_STATUS_UNSUCCESSFUL;
    }
    bytes = encode(v, REG_DWORD);
    if (!bytes) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    if (*ValueDataLength < bytes->len) {
        *ValueDataLength = bytes->len;
        return STOR_STATUS_BUFFER_TOO_SMALL;
    }
    if (!buffer_ok(*ValueData, bytes->len, "StorPort registry read")) {
        return STOR_STATUS_INVALID_PARAMETER;
    }
    memcpy(*ValueData, bytes->data, bytes->len);
    *ValueDataLength = bytes->len;
    return STOR_STATUS_SUCCESS;
}

void misc_registry_teardown(MiscAdapter *m)
{
    if (m->regbuf) {
        verifier_report(VC_POOL_LEAK, NULL,
                        "%s: the %lu-byte registry buffer was never freed "
                        "(StorPortFreeRegistryBuffer)",
                        m->name, (unsigned long)m->regbuf_len);
        ram_free(m->regbuf);
        m->regbuf = NULL;
    }
}
