/* SPDX-License-Identifier: MIT */
/*
 * QEMU-style "key=value,key=value" sub-option parsing against a schema.
 * Every key must be in the schema; values are checked by type (string,
 * bool on/off, unsigned number, size with K/M/G/T suffix, virtual time with
 * ns/us/ms/s suffix, enum, probability 0..1). Errors name the option and
 * the key, e.g. "-drive: size: 'abc' is not a size (use e.g. 64M)".
 *
 * Syntax (docs/options.md, "Sub-option syntax"):
 *  - Elements are separated by ','; ",," inside an element is a literal
 *    comma (as in QEMU), so "file=a,,b" is the file "a,b".
 *  - The first element may omit "KEY=" when the schema has an implied key.
 *  - A bare "help" or "?" element, an implied value "help", or "KEY=help"
 *    asks for help instead: opts_parse() then succeeds without checking
 *    values or required keys, and opts_help_requested() is true.
 */
#ifndef SYSTEM_OPTS_H
#define SYSTEM_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

typedef enum OptType {
    OPT_STRING,
    OPT_BOOL,
    OPT_UINT, /* decimal or 0x hex, within [min, max] when max != 0 */
    OPT_SIZE, /* bytes; suffixes K M G T (powers of 1024) */
    OPT_TIME, /* nanoseconds; suffixes ns us ms s (default ns) */
    OPT_ENUM, /* one of enum_values */
    OPT_PROB, /* real number in [0, 1] */
} OptType;

typedef struct OptDesc {
    const char *name;
    OptType type;
    const char *help;
    const char *const *enum_values; /* NULL-terminated, for OPT_ENUM */
    uint64_t min, max;              /* for OPT_UINT/SIZE/TIME; max 0 = none */
    /* Parsing fails when a required key is missing (not for help). */
    bool required;
    /*
     * Extra check run after the type check passed. Return false and set
     * *why to a g_malloc'd phrase completing "'VALUE' ...", e.g.
     * "is not a power of 2"; opts_parse() owns and frees it.
     */
    bool (*check)(const char *value, char **why);
} OptDesc;

typedef struct OptsSchema {
    const char *option;  /* "-drive", for messages */
    const char *implied; /* key of a bare first value ("-fault irq-drop"
                               -> kind=irq-drop), or NULL */
    const OptDesc *desc; /* terminated by a { NULL } entry */
    /*
     * Accept keys matching "prefix.*" as strings (param.KEY=VALUE): with
     * "param", any "param.X" with a non-empty X. The empty string "" accepts
     * every key (for options whose keys are validated later, e.g. -guest).
     * NULL: only the keys in @desc.
     */
    const char *wildcard_prefix;
} OptsSchema;

/* Errors from opts_parse() and options_parse() (system/options.h). */
#define OPTS_ERROR (opts_error_quark())
GQuark opts_error_quark(void);
typedef enum OptsErrorCode {
    OPTS_ERROR_SYNTAX,      /* malformed element, unknown/duplicate key */
    OPTS_ERROR_VALUE,       /* a value of the wrong type or out of range */
    OPTS_ERROR_MISSING,     /* a required key or argument is missing */
    OPTS_ERROR_CONFLICT,    /* options that contradict each other */
    OPTS_ERROR_USAGE,       /* unknown option, positional argument */
    OPTS_ERROR_UNAVAILABLE, /* the subsystem is not in this build yet */
} OptsErrorCode;

typedef struct Opts Opts;

/* Parse @str against @schema; NULL with @errp set on any bad input. */
Opts *opts_parse(const OptsSchema *schema, const char *str, GError **errp);
void opts_free(Opts *o);
/*
 * The value of @key in @str (given as KEY=VALUE or as the implied first
 * element), unescaped, without checking anything else; NULL if absent.
 * For options whose schema depends on one key (-device DRIVER,...).
 */
char *opts_peek_value(const OptsSchema *schema, const char *str,
                      const char *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Opts, opts_free)

bool opts_has(const Opts *o, const char *key);
/*
 * Typed getters; @def when the key is absent. opts_get_str() returns the
 * text of any key. opts_get_uint() serves OPT_UINT, OPT_SIZE (bytes),
 * OPT_TIME (ns) and OPT_ENUM (index into enum_values). A getter of the
 * wrong type for a schema key is a programming error (g_assert). On a
 * wildcard key the text is parsed as asked; if it does not parse, a
 * warning naming option and key is logged and @def returned.
 */
const char *opts_get_str(const Opts *o, const char *key, const char *def);
bool opts_get_bool(const Opts *o, const char *key, bool def);
uint64_t opts_get_uint(const Opts *o, const char *key, uint64_t def);
double opts_get_prob(const Opts *o, const char *key, double def);
/* Keys in the order given on the command line. */
const GPtrArray *opts_keys(const Opts *o);
const OptsSchema *opts_schema(const Opts *o);
/* The original text, for error messages and trace headers. */
const char *opts_text(const Opts *o);

/* Help was asked for ("help", "?", implied value "help" or KEY=help). */
bool opts_help_requested(const Opts *o);
/* The KEY of "KEY=help", or NULL when help for every key was asked. */
const char *opts_help_key(const Opts *o);
/* The schema entry for @key, or NULL (wildcard or unknown key). */
const OptDesc *opts_schema_find(const OptsSchema *schema, const char *key);

/*
 * Standalone value parsers (also used by -m, -smp shorthands). All reject
 * empty strings, signs, blanks and overflow; *out is untouched on failure.
 *  parse_uint:    decimal (leading zeros allowed, not octal) or 0x hex.
 *  parse_size:    decimal integer + optional suffix: B, or K M G T (either
 *                 case) optionally followed by "B" or "iB"; all powers of
 *                 1024 (64M = 64MB = 64MiB). No fractions.
 *  parse_time_ns: decimal integer + optional suffix ns (default), us, ms, s.
 *  parse_bool:    on/yes/true and off/no/false (lower case).
 *  parse_prob:    a real number in [0, 1] ("0.25", "1", "1e-3").
 */
bool parse_size(const char *s, uint64_t *out);
/* Whether @s is written as a size but is more than 64 bits can hold
 * (parse_size refused it for that, not for its syntax). */
bool parse_size_overflows(const char *s);
bool parse_time_ns(const char *s, uint64_t *out);
bool parse_uint(const char *s, uint64_t *out);
bool parse_bool(const char *s, bool *out);
bool parse_prob(const char *s, double *out);

/*
 * OptDesc.check for ids (-drive id=, -device id=): a letter, then letters,
 * digits, '-' or '_', at most 63 characters. No '.', so "bus=ID.N" is
 * unambiguous.
 */
bool opts_check_id(const char *value, char **why);

/* Human forms of sizes and times ("64M", "1500us"), g_malloc'd. */
char *opts_format_size(uint64_t bytes);
char *opts_format_time(uint64_t ns);

/* Print a schema's keys and help, one per line (for "-device NAME,help"). */
void opts_print_help(const OptsSchema *schema, FILE *f);
/* One help entry: @left padded to a column, then @text word-wrapped. */
void opts_print_columns(FILE *f, const char *left, const char *text);
/* Print one key's line (for "KEY=help"); false if @key is not in @schema. */
bool opts_print_help_key(const OptsSchema *schema, const char *key, FILE *f);

#endif
