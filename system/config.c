/* SPDX-License-Identifier: MIT */
/*
 * MachineConfig construction with the documented defaults (docs/options.md)
 * and its release. The command line (system/options.c) only overrides what
 * the user gave, so every default lives here and nowhere else.
 */
#include "system/config.h"
#include "hw/core/ram.h"

MachineConfig *machine_config_new(void)
{
    MachineConfig *cfg = g_new0(MachineConfig, 1);

    cfg->smp = 1;
    cfg->mem_size = RAM_DEFAULT_SIZE;
    cfg->sched = (SchedConfig){
        .policy = SCHED_POLICY_FIFO,
        .seed = 0,
        .preempt = 0.1,
        .pct_depth = 3,
        .quantum = 64,
    };
    cfg->time_limit_ns = 0;
    cfg->drives = g_ptr_array_new_with_free_func((GDestroyNotify)opts_free);
    cfg->devices = g_ptr_array_new_with_free_func((GDestroyNotify)opts_free);
    cfg->faults = g_ptr_array_new_with_free_func((GDestroyNotify)opts_free);
    cfg->trace_patterns = g_ptr_array_new_with_free_func(g_free);
    cfg->verifier = VERIFIER_ON;
    return cfg;
}

void machine_config_free(MachineConfig *cfg)
{
    if (!cfg) {
        return;
    }
    g_ptr_array_unref(cfg->drives);
    g_ptr_array_unref(cfg->devices);
    g_ptr_array_unref(cfg->faults);
    opts_free(cfg->miniport);
    opts_free(cfg->guest);
    opts_free(cfg->record);
    opts_free(cfg->replay);
    g_ptr_array_unref(cfg->trace_patterns);
    g_free(cfg->trace_file);
    g_free(cfg);
}
