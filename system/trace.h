/* SPDX-License-Identifier: MIT */
/*
 * Named trace points, enabled by glob pattern (-trace 'pci_*'). Without a
 * pattern that enables something (the usual run) every site is off, and
 * a trace point costs one test of trace_any. Otherwise each TRACE site
 * keeps a cached on/off bit refreshed only when the pattern set changes.
 * Output: one line per hit, "[virtual-ns] name: message", to the trace
 * sink (stderr unless -trace file=... says otherwise).
 *
 * Trace point names are lower_snake with a module prefix (pci_, msix_,
 * sched_, sdisk_, vscsi_, port_...). docs/tracing.md lists them.
 */
#ifndef SYSTEM_TRACE_H
#define SYSTEM_TRACE_H

#include <stdbool.h>
#include <stdio.h>
#include <glib.h>

typedef struct TraceSite {
    const char *name;
    unsigned gen; /* trace_generation when 'on' was computed */
    bool on;
} TraceSite;

extern unsigned trace_generation;
/* Some pattern enables a trace point: the sites need a look. */
extern bool trace_any;

/* Add an enabling pattern ("-" prefix disables); false on a bad pattern. */
bool trace_enable(const char *pattern, GError **errp);
void trace_reset(void);
void trace_set_output(FILE *f);
bool trace_site_refresh(TraceSite *site);
void trace_emit(const char *name, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static inline bool trace_site_on(TraceSite *site)
{
    if (G_LIKELY(!trace_any)) {
        return false;
    }
    if (G_UNLIKELY(site->gen != trace_generation)) {
        return trace_site_refresh(site);
    }
    return site->on;
}

#define TRACE(tp, fmt, ...)                                                    \
    do {                                                                       \
        static TraceSite trace_site_ = {#tp, 0, false};                        \
        if (G_UNLIKELY(trace_site_on(&trace_site_))) {                         \
            trace_emit(#tp, fmt, ##__VA_ARGS__);                               \
        }                                                                      \
    } while (0)

#define TRACE_ON(tp)                                                           \
    ({                                                                         \
        static TraceSite trace_site_ = {#tp, 0, false};                        \
        trace_site_on(&trace_site_);                                           \
    })

#endif
