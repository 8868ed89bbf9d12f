/* SPDX-License-Identifier: MIT */
/*
 * The table of guest programs. Each program file defines one GuestProgram
 * and is listed here; the references are weak so the table holds while a
 * program is absent from the build.
 */
#include <string.h>
#include "guest-tests/guest.h"
#include "system/options.h"

#define PROGRAM(sym) extern const GuestProgram sym __attribute__((weak))

PROGRAM(guest_program_boot);
PROGRAM(guest_program_verify);
PROGRAM(guest_program_iobench);
PROGRAM(guest_program_scsi);
PROGRAM(guest_program_power);
PROGRAM(guest_program_t_lifecycle);
PROGRAM(guest_program_t_scan);
PROGRAM(guest_program_t_integrity);
PROGRAM(guest_program_t_errors);
PROGRAM(guest_program_t_power);
PROGRAM(guest_program_t_qdepth);
PROGRAM(guest_program_t_multiqueue);

static const GuestProgram *const *table(unsigned *n)
{
    static const GuestProgram *list[16];
    static unsigned count;

    if (!count) {
        const GuestProgram *all[] = {
            &guest_program_boot,     &guest_program_verify,
            &guest_program_iobench,  &guest_program_scsi,
            &guest_program_power,    &guest_program_t_lifecycle,
            &guest_program_t_scan,   &guest_program_t_integrity,
            &guest_program_t_errors, &guest_program_t_power,
            &guest_program_t_qdepth, &guest_program_t_multiqueue,
        };
        for (unsigned i = 0; i < G_N_ELEMENTS(all); i++) {
            if (all[i]) {
                list[count++] = all[i];
            }
        }
    }
    *n = count;
    return list;
}

const GuestProgram *guest_program_find(const char *name)
{
    unsigned n;
    const GuestProgram *const *t = table(&n);

    for (unsigned i = 0; name && i < n; i++) {
        if (!strcmp(t[i]->name, name)) {
            return t[i];
        }
    }
    return NULL;
}

void guest_programs_list(FILE *f)
{
    unsigned n;
    const GuestProgram *const *t = table(&n);

    fprintf(f, "Guest programs (-guest NAME[,KEY=VALUE...]; "
               "-guest NAME,help lists keys):\n");
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, "  %-10s %s\n", t[i]->name, t[i]->help);
    }
}

static const OptsSchema *lookup(const char *name)
{
    const GuestProgram *p = guest_program_find(name);
    return p ? p->schema : NULL;
}

void guest_programs_register(void)
{
    options_set_guest_registry(lookup, guest_programs_list);
}
