/* SPDX-License-Identifier: MIT */
/*
 * Trace point enabling and output. Patterns are glob-style (g_pattern);
 * they are applied in order and the last one that matches a name decides,
 * so "-trace 'pci_*' -trace '-pci_config_read'" enables all PCI points but
 * one. Sites re-evaluate only when the pattern set changes.
 */
#include <stdarg.h>
#include <string.h>
#include "system/event.h"
#include "system/trace.h"

typedef struct TracePattern {
    GPatternSpec *spec;
    bool enable;
} TracePattern;

unsigned trace_generation = 1;
/* No pattern enables anything, so no name can match one that does. */
bool trace_any;
static GArray *patterns; /* TracePattern */
static FILE *trace_out;

bool trace_enable(const char *pattern, GError **errp)
{
    TracePattern tp;

    if (!pattern || !*pattern || (pattern[0] == '-' && !pattern[1])) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "-trace: empty pattern");
        return false;
    }
    for (const char *c = pattern; *c; c++) {
        if (!g_ascii_isalnum(*c) && !strchr("_*?-", *c)) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "-trace: '%s': names use letters, digits and _; "
                        "patterns * and ?; a leading - disables",
                        pattern);
            return false;
        }
    }
    if (!patterns) {
        patterns = g_array_new(FALSE, FALSE, sizeof(TracePattern));
    }
    tp.enable = pattern[0] != '-';
    tp.spec = g_pattern_spec_new(tp.enable ? pattern : pattern + 1);
    g_array_append_val(patterns, tp);
    trace_any |= tp.enable;
    trace_generation++;
    return true;
}

void trace_reset(void)
{
    if (patterns) {
        for (guint i = 0; i < patterns->len; i++) {
            g_pattern_spec_free(g_array_index(patterns, TracePattern, i).spec);
        }
        g_array_free(patterns, TRUE);
        patterns = NULL;
    }
    trace_any = false;
    trace_generation++;
}

void trace_set_output(FILE *f)
{
    trace_out = f;
}

bool trace_site_refresh(TraceSite *site)
{
    bool on = false;

    if (patterns) {
        for (guint i = 0; i < patterns->len; i++) {
            TracePattern *tp = &g_array_index(patterns, TracePattern, i);
            if (g_pattern_spec_match_string(tp->spec, site->name)) {
                on = tp->enable;
            }
        }
    }
    site->on = on;
    site->gen = trace_generation;
    return on;
}

void trace_emit(const char *name, const char *fmt, ...)
{
    FILE *f = trace_out ? trace_out : stderr;
    va_list ap;

    fprintf(f, "[%" G_GUINT64_FORMAT "] %s: ", vclock_now(), name);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}
