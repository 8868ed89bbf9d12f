/* SPDX-License-Identifier: MIT */
/*
 * QEMU-style "key=value,key=value" sub-option parsing against a schema.
 * Every key must be in the schema; values are checked by type (string,
 * bool on/off, unsigned number, size with K/M/G/T suffix, virtual time with
 * ns/us/ms/s suffix, enum, probability 0..1). Errors name the option and
 * the key, e.g. "-drive: size: 'abc' is not a size (use e.g. 64M)".
 */
#ifndef SYSTEM_OPTS_H
#define SYSTEM_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef enum OptType {
    OPT_STRING,
    OPT_BOOL,
    OPT_UINT,   /* decimal or 0x hex, within [min, max] when max != 0 */
    OPT_SIZE,   /* bytes; suffixes K M G T (powers of 1024) */
    OPT_TIME,   /* nanoseconds; suffixes ns us ms s (default ns) */
    OPT_ENUM,   /* one of enum_values */
    OPT_PROB,   /* real number in [0, 1] */
} OptType;

typedef struct OptDesc {
    const char *name;
    OptType type;
    const char *help;
    const char *const *enum_values; /* NULL-terminated, for OPT_ENUM */
    uint64_t min, max;              /* for OPT_UINT/SIZE/TIME; max 0 = none */
} OptDesc;

typedef struct OptsSchema {
    const char *option;     /* "-drive", for messages */
    const char *implied;    /* key of a bare first value ("-fault irq-drop"
                               -> kind=irq-drop), or NULL */
    const OptDesc *desc;    /* terminated by a { NULL } entry */
    /* Accept keys matching "prefix.*" as strings (param.KEY=VALUE). */
    const char *wildcard_prefix;
} OptsSchema;

typedef struct Opts Opts;

/* Parse @str against @schema; NULL with @errp set on any bad input. */
Opts *opts_parse(const OptsSchema *schema, const char *str, GError **errp);
void opts_free(Opts *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Opts, opts_free)

bool opts_has(const Opts *o, const char *key);
const char *opts_get_str(const Opts *o, const char *key, const char *def);
bool opts_get_bool(const Opts *o, const char *key, bool def);
uint64_t opts_get_uint(const Opts *o, const char *key, uint64_t def);
double opts_get_prob(const Opts *o, const char *key, double def);
/* Keys in the order given on the command line. */
const GPtrArray *opts_keys(const Opts *o);
const OptsSchema *opts_schema(const Opts *o);
/* The original text, for error messages and trace headers. */
const char *opts_text(const Opts *o);

/* Standalone value parsers (also used by -m, -smp shorthands). */
bool parse_size(const char *s, uint64_t *out);
bool parse_time_ns(const char *s, uint64_t *out);
bool parse_uint(const char *s, uint64_t *out);
bool parse_bool(const char *s, bool *out);

/* Print a schema's keys and help, one per line (for "-device NAME,help"). */
void opts_print_help(const OptsSchema *schema, FILE *f);

#endif
