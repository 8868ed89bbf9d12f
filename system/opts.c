/* SPDX-License-Identifier: MIT */
/*
 * QEMU-style sub-option strings ("id=d0,file=a.img,cache=none") parsed and
 * checked against an OptsSchema (system/opts.h). Parsing is done in three
 * passes so that errors come out in a predictable order: split the text
 * into elements (",," is a literal comma), check the structure of every
 * element (keys known, not repeated, "KEY=VALUE" form), then check every
 * value by type in command-line order and finally the required keys.
 * Values are kept as text; the typed getters convert on demand, which is
 * cheap and keeps one source of truth for what the user wrote.
 *
 * The grammar and the exact error messages are documented in
 * docs/options.md ("Sub-option syntax", "Value types").
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "system/opts.h"

struct Opts {
    const OptsSchema *schema;
    char *text;
    GPtrArray *keys;    /* char*, command-line order */
    GHashTable *values; /* key -> value text */
    bool help;
    char *help_key;
};

typedef enum ParseResult {
    PARSE_OK,
    PARSE_SYNTAX,
    PARSE_OVERFLOW,
} ParseResult;

G_DEFINE_QUARK(storemu_opts_error, opts_error)

/* ---- value parsers ---------------------------------------------------- */

/* Leading decimal digits of @s into *out; *end after them. */
static ParseResult parse_decimal_prefix(const char *s, uint64_t *out,
                                        const char **end)
{
    uint64_t v = 0;
    const char *p = s;

    if (!g_ascii_isdigit(*p)) {
        return PARSE_SYNTAX;
    }
    for (; g_ascii_isdigit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            /* Keep scanning so the caller sees a well-formed number. */
            while (g_ascii_isdigit(*p)) {
                p++;
            }
            *end = p;
            return PARSE_OVERFLOW;
        }
        v = v * 10 + d;
    }
    *out = v;
    *end = p;
    return PARSE_OK;
}

static ParseResult parse_uint_full(const char *s, uint64_t *out)
{
    const char *end;
    ParseResult r;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        uint64_t v = 0;
        const char *p = s + 2;
        if (!g_ascii_isxdigit(*p)) {
            return PARSE_SYNTAX;
        }
        for (; g_ascii_isxdigit(*p); p++) {
            if (v >> 60) {
                while (g_ascii_isxdigit(*p)) {
                    p++;
                }
                return *p ? PARSE_SYNTAX : PARSE_OVERFLOW;
            }
            v = (v << 4) | (uint64_t)g_ascii_xdigit_value(*p);
        }
        if (*p) {
            return PARSE_SYNTAX;
        }
        *out = v;
        return PARSE_OK;
    }
    r = parse_decimal_prefix(s, out, &end);
    if (r == PARSE_SYNTAX || *end) {
        return PARSE_SYNTAX;
    }
    return r;
}

static ParseResult mul_checked(uint64_t v, uint64_t mult, uint64_t *out)
{
    if (mult && v > UINT64_MAX / mult) {
        return PARSE_OVERFLOW;
    }
    *out = v * mult;
    return PARSE_OK;
}

static ParseResult parse_size_full(const char *s, uint64_t *out)
{
    static const char units[] = "KMGT";
    const char *end, *u;
    uint64_t v = 0, mult = 1;
    ParseResult r = parse_decimal_prefix(s, &v, &end);

    if (r == PARSE_SYNTAX) {
        return r;
    }
    if (*end == 'B' && end[1] == '\0') {
        end++;
    } else if (*end) {
        u = strchr(units, g_ascii_toupper(*end));
        if (!u) {
            return PARSE_SYNTAX;
        }
        mult = 1ULL << (10 * (u - units + 1));
        end++;
        if (strcmp(end, "B") == 0 || strcmp(end, "iB") == 0) {
            end += strlen(end);
        }
    }
    if (*end) {
        return PARSE_SYNTAX;
    }
    if (r == PARSE_OVERFLOW) {
        return r;
    }
    return mul_checked(v, mult, out);
}

static ParseResult parse_time_full(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"", 1}, {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000},
    };
    const char *end;
    uint64_t v = 0;
    ParseResult r = parse_decimal_prefix(s, &v, &end);

    if (r == PARSE_SYNTAX) {
        return r;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (r == PARSE_OVERFLOW) {
                return r;
            }
            return mul_checked(v, units[i].mult, out);
        }
    }
    return PARSE_SYNTAX;
}

static ParseResult parse_prob_full(const char *s, double *out)
{
    char *end = NULL;
    double v;

    /* strtod would skip blanks and accept "nan"/"inf" and hex floats. */
    if (!(g_ascii_isdigit(s[0]) || s[0] == '.') ||
        s[strspn(s, "0123456789.eE+-")] != '\0') {
        return PARSE_SYNTAX;
    }
    errno = 0;
    v = g_ascii_strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) {
        return PARSE_SYNTAX;
    }
    if (v < 0.0 || v > 1.0) {
        return PARSE_OVERFLOW;
    }
    *out = v;
    return PARSE_OK;
}

bool parse_uint(const char *s, uint64_t *out)
{
    uint64_t v;

    if (!s || parse_uint_full(s, &v) != PARSE_OK) {
        return false;
    }
    *out = v;
    return true;
}

bool parse_size(const char *s, uint64_t *out)
{
    uint64_t v;

    if (!s || parse_size_full(s, &v) != PARSE_OK) {
        return false;
    }
    *out = v;
    return true;
}

bool parse_size_overflows(const char *s)
{
    uint64_t v;

    return s && parse_size_full(s, &v) == PARSE_OVERFLOW;
}

bool parse_time_ns(const char *s, uint64_t *out)
{
    uint64_t v;

    if (!s || parse_time_full(s, &v) != PARSE_OK) {
        return false;
    }
    *out = v;
    return true;
}

bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true"};
    static const char *const no[] = {"off", "no", "false"};

    if (!s) {
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool parse_prob(const char *s, double *out)
{
    double v;

    if (!s || parse_prob_full(s, &v) != PARSE_OK) {
        return false;
    }
    *out = v;
    return true;
}

char *opts_format_size(uint64_t bytes)
{
    static const char units[] = "KMGT";

    if (bytes == 0) {
        return g_strdup("0");
    }
    for (int i = 3; i >= 0; i--) {
        uint64_t mult = 1ULL << (10 * (i + 1));
        if (bytes % mult == 0) {
            return g_strdup_printf("%" G_GUINT64_FORMAT "%c", bytes / mult,
                                   units[i]);
        }
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
}

char *opts_format_time(uint64_t ns)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"s", 1000000000},
        {"ms", 1000000},
        {"us", 1000},
    };

    if (ns == 0) {
        return g_strdup("0");
    }
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (ns % units[i].mult == 0) {
            return g_strdup_printf("%" G_GUINT64_FORMAT "%s",
                                   ns / units[i].mult, units[i].suffix);
        }
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT "ns", ns);
}

/* ---- schema helpers --------------------------------------------------- */

static const char *schema_option(const OptsSchema *schema)
{
    return schema->option ? schema->option : "option";
}

const OptDesc *opts_schema_find(const OptsSchema *schema, const char *key)
{
    for (const OptDesc *d = schema->desc; d && d->name; d++) {
        if (strcmp(d->name, key) == 0) {
            return d;
        }
    }
    return NULL;
}

static bool schema_wildcard_match(const OptsSchema *schema, const char *key)
{
    const char *prefix = schema->wildcard_prefix;
    size_t n;

    if (!prefix) {
        return false;
    }
    if (!prefix[0]) {
        return true;
    }
    n = strlen(prefix);
    return strncmp(key, prefix, n) == 0 && key[n] == '.' && key[n + 1];
}

static char *schema_key_list(const OptsSchema *schema)
{
    GString *s = g_string_new(NULL);

    for (const OptDesc *d = schema->desc; d && d->name; d++) {
        g_string_append_printf(s, "%s%s", s->len ? ", " : "", d->name);
    }
    if (schema->wildcard_prefix && schema->wildcard_prefix[0]) {
        g_string_append_printf(s, "%s%s.*", s->len ? ", " : "",
                               schema->wildcard_prefix);
    }
    return g_string_free(s, false);
}

static char *enum_list(const char *const *values, const char *sep)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; values && values[i]; i++) {
        g_string_append_printf(s, "%s%s", i ? sep : "", values[i]);
    }
    return g_string_free(s, false);
}

static int enum_index(const char *const *values, const char *v)
{
    for (int i = 0; values && values[i]; i++) {
        if (strcmp(values[i], v) == 0) {
            return i;
        }
    }
    return -1;
}

static bool is_help_word(const char *s)
{
    return strcmp(s, "help") == 0 || strcmp(s, "?") == 0;
}

/* Bounds of an OPT_UINT/SIZE/TIME key, in the unit the user writes. */
static char *format_bound(const OptDesc *d, uint64_t v)
{
    switch (d->type) {
    case OPT_SIZE:
        return opts_format_size(v);
    case OPT_TIME:
        return opts_format_time(v);
    default:
        return g_strdup_printf("%" G_GUINT64_FORMAT, v);
    }
}

static bool range_error(const OptsSchema *schema, const OptDesc *d,
                        const char *value, bool overflow, GError **errp)
{
    g_autofree char *lo = format_bound(d, d->min);
    g_autofree char *hi = d->max ? format_bound(d, d->max) : NULL;

    if (overflow) {
        /* Say why, not just the range (or "at least" its minimum). */
        g_autofree char *top = hi ? g_strdup(hi) : format_bound(d, UINT64_MAX);
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "%s: %s: '%s' is too large: it overflows 64 bits "
                    "(%s..%s)",
                    schema_option(schema), d->name, value, lo, top);
    } else if (hi) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "%s: %s: '%s' is out of range (%s..%s)",
                    schema_option(schema), d->name, value, lo, hi);
    } else {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                    "%s: %s: '%s' is out of range (at least %s)",
                    schema_option(schema), d->name, value, lo);
    }
    return false;
}

/* Check @value against @d; the error names option, key and value. */
static bool check_value(const OptsSchema *schema, const OptDesc *d,
                        const char *value, GError **errp)
{
    const char *opt = schema_option(schema);
    uint64_t u = 0;
    double p;
    bool b;
    ParseResult r;

    switch (d->type) {
    case OPT_STRING:
        break;
    case OPT_BOOL:
        if (!parse_bool(value, &b)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                        "%s: %s: '%s' is not a boolean (use on or off)", opt,
                        d->name, value);
            return false;
        }
        break;
    case OPT_UINT:
    case OPT_SIZE:
    case OPT_TIME:
        if (d->type == OPT_UINT) {
            r = parse_uint_full(value, &u);
        } else if (d->type == OPT_SIZE) {
            r = parse_size_full(value, &u);
        } else {
            r = parse_time_full(value, &u);
        }
        if (r == PARSE_SYNTAX) {
            static const char *const what[] = {
                [OPT_UINT] = "is not a number (use decimal or 0x hex)",
                [OPT_SIZE] = "is not a size (use e.g. 64M; units K M G T)",
                [OPT_TIME] = "is not a time (use e.g. 10us; units ns us ms s)",
            };
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE, "%s: %s: '%s' %s",
                        opt, d->name, value, what[d->type]);
            return false;
        }
        if (r == PARSE_OVERFLOW || u < d->min || (d->max && u > d->max)) {
            return range_error(schema, d, value, r == PARSE_OVERFLOW, errp);
        }
        break;
    case OPT_ENUM:
        if (enum_index(d->enum_values, value) < 0) {
            g_autofree char *list = enum_list(d->enum_values, ", ");
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                        "%s: %s: '%s' is not one of: %s", opt, d->name, value,
                        list);
            return false;
        }
        break;
    case OPT_PROB:
        r = parse_prob_full(value, &p);
        if (r == PARSE_SYNTAX) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                        "%s: %s: '%s' is not a probability (use a number "
                        "from 0 to 1, e.g. 0.25)",
                        opt, d->name, value);
            return false;
        }
        if (r == PARSE_OVERFLOW) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE,
                        "%s: %s: '%s' is out of range (0..1)", opt, d->name,
                        value);
            return false;
        }
        break;
    default:
        g_assert_not_reached();
    }
    if (d->check) {
        char *why = NULL;
        if (!d->check(value, &why)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_VALUE, "%s: %s: '%s' %s",
                        opt, d->name, value, why ? why : "is not valid");
            g_free(why);
            return false;
        }
        g_free(why);
    }
    return true;
}

/* ---- parsing ---------------------------------------------------------- */

/* Split at single commas; ",," is a comma inside the element. */
static GPtrArray *split_elements(const char *str)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);

    if (!*str) {
        g_string_free(cur, true);
        return out;
    }
    for (const char *p = str;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',' || *p == '\0') {
            g_ptr_array_add(out, g_string_free(cur, false));
            if (*p == '\0') {
                break;
            }
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    return out;
}

static void opts_add(Opts *o, const char *key, const char *value)
{
    g_ptr_array_add(o->keys, g_strdup(key));
    g_hash_table_insert(o->values, g_strdup(key), g_strdup(value));
}

/*
 * One element: "KEY=VALUE", an implied value (first element only), or a
 * help word. Structure errors only; values are checked later.
 */
static bool parse_element(Opts *o, const char *elem, bool first,
                          const char *str, GError **errp)
{
    const OptsSchema *schema = o->schema;
    const char *opt = schema_option(schema);
    const char *eq = strchr(elem, '=');
    g_autofree char *key = NULL;
    const char *value;
    const OptDesc *d;

    if (!eq && is_help_word(elem)) {
        o->help = true;
        return true;
    }
    if (!*elem) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_SYNTAX,
                    "%s: empty element in '%s' (a stray ',')", opt, str);
        return false;
    }
    if (!eq) {
        if (first && schema->implied) {
            key = g_strdup(schema->implied);
            value = elem;
        } else {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_SYNTAX,
                        "%s: %s: missing '=' (write %s=VALUE)", opt, elem,
                        elem);
            return false;
        }
    } else {
        key = g_strndup(elem, (gsize)(eq - elem));
        value = eq + 1;
    }
    if (!*key) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_SYNTAX,
                    "%s: empty key in '%s' (write KEY=VALUE)", opt, elem);
        return false;
    }
    d = opts_schema_find(schema, key);
    if (!d && !schema_wildcard_match(schema, key)) {
        g_autofree char *list = schema_key_list(schema);
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_SYNTAX,
                    "%s: %s: unknown key (valid keys: %s)", opt, key,
                    *list ? list : "none");
        return false;
    }
    if (g_hash_table_contains(o->values, key)) {
        g_set_error(errp, OPTS_ERROR, OPTS_ERROR_SYNTAX,
                    "%s: %s: given more than once", opt, key);
        return false;
    }
    /*
     * "help" as the value of a typed key (where it can never be valid) asks
     * for help on that key; a string key keeps it literally. (A bare or
     * implied "help" was handled at the top.)
     */
    if (d && d->type != OPT_STRING && is_help_word(value)) {
        o->help = true;
        g_free(o->help_key);
        o->help_key = g_strdup(key);
        return true;
    }
    opts_add(o, key, value);
    return true;
}

Opts *opts_parse(const OptsSchema *schema, const char *str, GError **errp)
{
    g_autoptr(Opts) o = g_new0(Opts, 1);
    g_autoptr(GPtrArray) elems = NULL;

    g_assert(schema);
    if (!str) {
        str = "";
    }
    o->schema = schema;
    o->text = g_strdup(str);
    o->keys = g_ptr_array_new_with_free_func(g_free);
    o->values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    elems = split_elements(str);
    for (guint i = 0; i < elems->len; i++) {
        if (!parse_element(o, elems->pdata[i], i == 0, str, errp)) {
            return NULL;
        }
    }
    if (o->help) {
        return g_steal_pointer(&o);
    }
    for (guint i = 0; i < o->keys->len; i++) {
        const char *key = o->keys->pdata[i];
        const OptDesc *d = opts_schema_find(schema, key);
        if (d && !check_value(schema, d, g_hash_table_lookup(o->values, key),
                              errp)) {
            return NULL;
        }
    }
    for (const OptDesc *d = schema->desc; d && d->name; d++) {
        if (d->required && !g_hash_table_contains(o->values, d->name)) {
            g_set_error(errp, OPTS_ERROR, OPTS_ERROR_MISSING,
                        "%s: %s: missing; this key is required (%s=...)",
                        schema_option(schema), d->name, d->name);
            return NULL;
        }
    }
    return g_steal_pointer(&o);
}

char *opts_peek_value(const OptsSchema *schema, const char *str,
                      const char *key)
{
    g_autoptr(GPtrArray) elems = split_elements(str ? str : "");

    for (guint i = 0; i < elems->len; i++) {
        const char *elem = elems->pdata[i];
        const char *eq = strchr(elem, '=');
        if (!eq && i == 0 && schema->implied &&
            strcmp(schema->implied, key) == 0) {
            return g_strdup(elem);
        }
        if (eq && (size_t)(eq - elem) == strlen(key) &&
            strncmp(elem, key, strlen(key)) == 0) {
            return g_strdup(eq + 1);
        }
    }
    return NULL;
}

void opts_free(Opts *o)
{
    if (!o) {
        return;
    }
    if (o->keys) {
        g_ptr_array_unref(o->keys);
    }
    if (o->values) {
        g_hash_table_unref(o->values);
    }
    g_free(o->text);
    g_free(o->help_key);
    g_free(o);
}

/* ---- getters ---------------------------------------------------------- */

/* The schema entry of @key; asserts that the key can exist at all. */
static const OptDesc *getter_desc(const Opts *o, const char *key)
{
    const OptDesc *d = opts_schema_find(o->schema, key);

    g_assert(d || schema_wildcard_match(o->schema, key));
    return d;
}

static void getter_warn(const Opts *o, const char *key, const char *value,
                        const char *what)
{
    g_warning("%s: %s: '%s' is not %s; using the default",
              schema_option(o->schema), key, value, what);
}

bool opts_has(const Opts *o, const char *key)
{
    return g_hash_table_contains(o->values, key);
}

const char *opts_get_str(const Opts *o, const char *key, const char *def)
{
    const char *v = g_hash_table_lookup(o->values, key);

    return v ? v : def;
}

bool opts_get_bool(const Opts *o, const char *key, bool def)
{
    const OptDesc *d = getter_desc(o, key);
    const char *v = g_hash_table_lookup(o->values, key);
    bool b;

    g_assert(!d || d->type == OPT_BOOL);
    if (!v) {
        return def;
    }
    if (!parse_bool(v, &b)) {
        getter_warn(o, key, v, "a boolean");
        return def;
    }
    return b;
}

uint64_t opts_get_uint(const Opts *o, const char *key, uint64_t def)
{
    const OptDesc *d = getter_desc(o, key);
    const char *v = g_hash_table_lookup(o->values, key);
    uint64_t u = 0;
    bool ok;

    if (!v) {
        return def;
    }
    if (!d) {
        if (!parse_uint(v, &u)) {
            getter_warn(o, key, v, "a number");
            return def;
        }
        return u;
    }
    /* opts_parse() checked the value, so these conversions succeed. */
    switch (d->type) {
    case OPT_UINT:
        ok = parse_uint(v, &u);
        break;
    case OPT_SIZE:
        ok = parse_size(v, &u);
        break;
    case OPT_TIME:
        ok = parse_time_ns(v, &u);
        break;
    case OPT_ENUM: {
        int i = enum_index(d->enum_values, v);
        ok = i >= 0;
        u = (uint64_t)i;
        break;
    }
    default:
        g_assert_not_reached();
    }
    g_assert(ok);
    return u;
}

double opts_get_prob(const Opts *o, const char *key, double def)
{
    const OptDesc *d = getter_desc(o, key);
    const char *v = g_hash_table_lookup(o->values, key);
    double p;

    g_assert(!d || d->type == OPT_PROB);
    if (!v) {
        return def;
    }
    if (!parse_prob(v, &p)) {
        getter_warn(o, key, v, "a probability");
        return def;
    }
    return p;
}

const GPtrArray *opts_keys(const Opts *o)
{
    return o->keys;
}

const OptsSchema *opts_schema(const Opts *o)
{
    return o->schema;
}

const char *opts_text(const Opts *o)
{
    return o->text;
}

bool opts_help_requested(const Opts *o)
{
    return o->help;
}

const char *opts_help_key(const Opts *o)
{
    return o->help_key;
}

/* ---- help ------------------------------------------------------------- */

static char *type_text(const OptDesc *d)
{
    g_autofree char *lo = NULL, *hi = NULL;

    switch (d->type) {
    case OPT_STRING:
        return g_strdup("STR");
    case OPT_BOOL:
        return g_strdup("on|off");
    case OPT_PROB:
        return g_strdup("PROB(0..1)");
    case OPT_ENUM:
        return enum_list(d->enum_values, "|");
    case OPT_UINT:
    case OPT_SIZE:
    case OPT_TIME: {
        static const char *const name[] = {
            [OPT_UINT] = "NUM",
            [OPT_SIZE] = "SIZE",
            [OPT_TIME] = "TIME",
        };
        if (!d->min && !d->max) {
            return g_strdup(name[d->type]);
        }
        lo = format_bound(d, d->min);
        hi = d->max ? format_bound(d, d->max) : g_strdup("");
        return g_strdup_printf("%s(%s..%s)", name[d->type], lo, hi);
    }
    default:
        g_assert_not_reached();
    }
}

#define HELP_COLUMN 32
#define HELP_WIDTH  78

/* Words of @text from column @col on, wrapping to HELP_COLUMN. */
static void print_wrapped(FILE *f, int col, const char *text)
{
    g_auto(GStrv) words = g_strsplit(text, " ", -1);
    bool line_empty = true;

    for (size_t i = 0; words[i]; i++) {
        int n = (int)strlen(words[i]);
        if (!n) {
            continue;
        }
        if (!line_empty && col + 1 + n > HELP_WIDTH) {
            fprintf(f, "\n%*s", HELP_COLUMN, "");
            col = HELP_COLUMN;
            line_empty = true;
        }
        if (!line_empty) {
            fputc(' ', f);
            col++;
        }
        fputs(words[i], f);
        col += n;
        line_empty = false;
    }
    fputc('\n', f);
}

void opts_print_columns(FILE *f, const char *left, const char *text)
{
    int n = (int)strlen(left);

    if (n > HELP_COLUMN - 2) {
        fprintf(f, "%s\n%*s", left, HELP_COLUMN, "");
    } else {
        fprintf(f, "%-*s", HELP_COLUMN, left);
    }
    print_wrapped(f, HELP_COLUMN, text ? text : "");
}

static void print_key(const OptsSchema *schema, const OptDesc *d, FILE *f)
{
    g_autofree char *type = type_text(d);
    g_autoptr(GString) left = g_string_new("  ");
    g_autoptr(GString) help = g_string_new(NULL);
    bool long_enum = d->type == OPT_ENUM && strlen(type) > 26;

    if (schema->implied && strcmp(schema->implied, d->name) == 0) {
        g_string_append_printf(left, "[%s=]", d->name);
    } else {
        g_string_append_printf(left, "%s=", d->name);
    }
    /* A long enum list goes after the help text instead. */
    g_string_append(left, long_enum ? "VALUE" : type);
    g_string_append(help, d->help ? d->help : "");
    if (d->required) {
        g_string_append(help, " (required)");
    }
    if (long_enum) {
        g_autofree char *list = enum_list(d->enum_values, ", ");
        g_string_append_printf(help, "; one of: %s", list);
    }
    opts_print_columns(f, left->str, help->str);
}

void opts_print_help(const OptsSchema *schema, FILE *f)
{
    fprintf(f, "%s keys:\n", schema_option(schema));
    for (const OptDesc *d = schema->desc; d && d->name; d++) {
        print_key(schema, d, f);
    }
    if (schema->wildcard_prefix) {
        if (schema->wildcard_prefix[0]) {
            g_autofree char *left =
                g_strdup_printf("  %s.KEY=STR", schema->wildcard_prefix);
            opts_print_columns(f, left, "passed on as a string");
        } else {
            opts_print_columns(f, "  KEY=STR",
                               "other keys are passed on as strings");
        }
    }
}

bool opts_print_help_key(const OptsSchema *schema, const char *key, FILE *f)
{
    const OptDesc *d = opts_schema_find(schema, key);

    if (!d) {
        return false;
    }
    print_key(schema, d, f);
    return true;
}

bool opts_check_id(const char *value, char **why)
{
    size_t n = strlen(value);

    if (n == 0 || n > 63 || !g_ascii_isalpha(value[0])) {
        *why = g_strdup("is not an id (a letter, then letters, digits, "
                        "'-' or '_'; at most 63 characters)");
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        if (!g_ascii_isalnum(value[i]) && value[i] != '-' && value[i] != '_') {
            *why =
                g_ascii_isprint(value[i])
                    ? g_strdup_printf("is not an id (character '%c' is not "
                                      "allowed; use letters, digits, '-', '_')",
                                      value[i])
                    : g_strdup("is not an id (control or non-ASCII character)");
            return false;
        }
    }
    return true;
}
