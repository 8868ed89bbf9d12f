/* SPDX-License-Identifier: MIT */
/*
 * The storemu command line: argv -> MachineConfig (system/config.h), plus
 * the --help and --version text. QEMU style: single-dash options ("-smp 2")
 * with "key=value,..." sub-options parsed by system/opts.h; "--smp 2" and
 * "--smp=2" are accepted too. docs/options.md documents every option.
 *
 * Subsystems land one by one, so each option has an availability switch:
 * an option whose subsystem is not built yet is still parsed and validated
 * in full, and then rejected ("-record: not available yet in this build",
 * exit code 2) once the whole command line has been read. -device follows
 * the create function of each device type (hw/core/qdev.h) instead.
 */
#ifndef SYSTEM_OPTIONS_H
#define SYSTEM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>
#include "system/config.h"
#include "system/opts.h"

/*
 * Fill @cfg (from machine_config_new()) from @argv[1..argc-1].
 * Returns false with @errp set (OPTS_ERROR domain) on a usage or
 * configuration error: the caller prints it and exits with EXIT_USAGE.
 * Returns true with *exit_now set when the command line asked only for
 * text (--help, --version, "-device help", "-machine smp=help"...) which
 * has been printed: the caller exits with EXIT_OK.
 */
bool options_parse(int argc, char **argv, MachineConfig *cfg, bool *exit_now,
                   GError **errp);

/*
 * Availability switches, by option name with one dash ("-record").
 * Built-in defaults: -machine -smp -m -trace -verifier available; -drive
 * -miniport -guest -record -replay -fault not yet. options_set_available()
 * returns false for an option that has no switch (e.g. -device, --help).
 */
bool options_set_available(const char *option, bool available);
bool options_is_available(const char *option);
void options_reset_available(void);

/* Where --help, --version and help listings go (NULL: stdout). */
void options_set_output(FILE *f);

void options_print_help(FILE *f);
void options_print_version(FILE *f);

/*
 * Guest program registry hook. Until one is set, "-guest NAME,KEY=VALUE"
 * accepts any keys as strings and leaves validation to the program. Once
 * set, "-guest NAME" is looked up: NULL means unknown program (an error),
 * otherwise the arguments are re-parsed against the returned schema, which
 * must have the implied key "name" and a "name" entry. @list prints the
 * programs for "-guest help". Passing NULL, NULL removes the hook.
 */
typedef const OptsSchema *OptionsGuestLookup(const char *name);
typedef void OptionsGuestList(FILE *f);
void options_set_guest_registry(OptionsGuestLookup *lookup,
                                OptionsGuestList *list);

/*
 * -fault grammar, for the fault layer. opts_get_uint(o, "kind") is an index
 * into options_fault_kind_names() (NULL-terminated, "-fault help" order).
 */
const char *const *options_fault_kind_names(void);

typedef enum OptionsFaultOp {
    OPTIONS_OP_READ,   /* any READ(6/10/12/16) */
    OPTIONS_OP_WRITE,  /* any WRITE(6/10/12/16) */
    OPTIONS_OP_FLUSH,  /* SYNCHRONIZE CACHE(10/16) */
    OPTIONS_OP_UNMAP,  /* UNMAP */
    OPTIONS_OP_OPCODE, /* exactly the CDB operation code given */
} OptionsFaultOp;

/* "at=": a bare number is an event index, a time needs a unit (5ms). */
bool options_parse_fault_at(const char *s, bool *is_time, uint64_t *value);
/* "lba=A-B" or "lba=A" (A-A); A <= B. */
bool options_parse_lba_range(const char *s, uint64_t *first, uint64_t *last);
/* "op=read|write|flush|unmap|OPCODE" (OPCODE 0..255, decimal or 0x). */
bool options_parse_fault_op(const char *s, OptionsFaultOp *op, uint8_t *opcode);
/* "sense=K/ASC/ASCQ" and "asc=ASC/ASCQ", all hex (0x optional). */
bool options_parse_sense(const char *s, uint8_t *key, uint8_t *asc,
                         uint8_t *ascq);
bool options_parse_asc(const char *s, uint8_t *asc, uint8_t *ascq);

#endif
