/* SPDX-License-Identifier: MIT */
/*
 * Fault injection in the guest services the port provides: memory that
 * cannot be had (pool-fail: StorPortAllocatePool, the contiguous and DMA
 * memory routines, the uncached extension and registry buffers return
 * failure), timers that fire late (timer-jitter: a RequestTimerCall or
 * StorPortRequestTimer timer is due up to ns later, the delay drawn from
 * the fault's stream), and power transitions at a point in the run.
 *
 * Power transitions are what a PnP or power manager would do to the
 * adapters, so they run as it would: on a guest thread of their own at
 * PASSIVE_LEVEL (on the vCPU the first power fault's vcpu= names, default
 * 0), which sleeps until a power fault fires and then calls port_power()
 * (stop, hibernate, resume). A surprise removal makes the HBA's function
 * disappear (all ones, the device model stopped), then does what Storport
 * does when PnP reports one: ScsiStopAdapter while new requests are held,
 * the adapter marked removed, and every request the miniport did not give
 * back and every queued one completed with SRB_STATUS_NO_DEVICE.
 */
#include <inttypes.h>
#include "port/port-api.h"
#include "port/port.h"
#include "system/cpu.h"
#include "system/fault-int.h"
#include "system/trace.h"

static const char *const power_names[] = {
    [FP_STOP] = "stop",
    [FP_HIBERNATE] = "hibernate",
    [FP_RESUME] = "resume",
    [FP_SURPRISE_REMOVAL] = "surprise-removal",
};

/* ---- memory and timers ---- */

bool fault_pool_fail_slow(const char *routine, uint64_t bytes)
{
    FaultState *s = &fault_state;

    for (guint i = 0; s->faults && i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);

        if (f->stage != FS_ALLOC ||
            (f->has_vcpu && cpu_index() != (int)f->vcpu) || !fault_try(f)) {
            continue;
        }
        fault_fire(f, "%s(%" PRIu64 " bytes) fails", routine, bytes);
        return true;
    }
    return false;
}

uint64_t fault_timer_jitter_slow(uint64_t ns)
{
    FaultState *s = &fault_state;
    uint64_t late = 0;

    for (guint i = 0; s->faults && i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);
        uint64_t d;

        if (f->stage != FS_TIMER ||
            (f->has_vcpu && cpu_index() != (int)f->vcpu) || !fault_try(f)) {
            continue;
        }
        d = rng_below(&f->rng, f->ns + 1);
        fault_fire(f, "a timer due in %" PRIu64 " ns fires %" PRIu64 " ns late",
                   ns, d);
        late += d;
    }
    return late;
}

/* ---- power transitions ---- */

static FaultHba *hba_of_pci(const PCIDevice *pci)
{
    FaultState *s = &fault_state;

    for (guint i = 0; pci && s->hbas && i < s->hbas->len; i++) {
        FaultHba *h = g_ptr_array_index(s->hbas, i);
        if (h->pci == pci) {
            return h;
        }
    }
    return NULL;
}

static void surprise_removal(Fault *f)
{
    for (unsigned i = 0; i < port.nadapters; i++) {
        PortAdapter *a = port.adapters[i];
        FaultHba *h = hba_of_pci(a->pci);

        if (h) {
            fault_hba_remove(f, h);
        }
        port_surprise_removal(a);
    }
}

static bool power_do(Fault *f, GError **errp)
{
    static const PortPowerAction actions[] = {
        [FP_STOP] = PORT_POWER_STOP,
        [FP_HIBERNATE] = PORT_POWER_HIBERNATE,
        [FP_RESUME] = PORT_POWER_RESUME,
    };

    if (!port.loaded) {
        return true;
    }
    if (f->power == FP_SURPRISE_REMOVAL) {
        surprise_removal(f);
        return true;
    }
    return port_power(actions[f->power], errp);
}

/*
 * One thread performs every power fault's transitions, in the order they
 * fired, as a power manager serializes them: a resume that fires while a
 * stop still drains waits for it.
 */
static struct {
    GuestEvent ev;
    GQueue queue; /* Fault*, one entry per firing */
    bool started;
} pw;

static void power_thread(void *opaque)
{
    (void)opaque;
    for (;;) {
        Fault *f;

        guest_event_wait(&pw.ev);
        if (fault_state.stopping || !fault_state.faults) {
            return;
        }
        while ((f = g_queue_pop_head(&pw.queue))) {
            g_autoptr(GError) err = NULL;

            TRACE(fault_power, "#%u %s: begins", f->index + 1,
                  power_names[f->power]);
            if (!power_do(f, &err)) {
                f->power_failures++;
                fault_effect(f, "%s failed: %s", power_names[f->power],
                             err ? err->message : "?");
            } else {
                fault_effect(f, "%s done", power_names[f->power]);
            }
        }
    }
}

void fault_power_kick(Fault *f)
{
    fault_fire(f, "power transition: %s", power_names[f->power]);
    g_queue_push_tail(&pw.queue, f);
    guest_event_set(&pw.ev);
}

bool fault_guest_init(GError **errp)
{
    FaultState *s = &fault_state;
    int cpu = -1;

    g_queue_init(&pw.queue);
    guest_event_init(&pw.ev, "fault-power", true);
    for (guint i = 0; i < s->faults->len; i++) {
        Fault *f = g_ptr_array_index(s->faults, i);

        if (f->has_vcpu && f->vcpu >= cpus_count()) {
            g_set_error(errp, STOREMU_ERROR, STOREMU_ERROR_CONFIG,
                        "-fault %s: vcpu: '%u' is not a vCPU of this machine "
                        "(it has %u; see -smp)",
                        f->text, f->vcpu, cpus_count());
            return false;
        }
        if (f->kind == FK_POWER && cpu < 0) {
            /* The first power fault's vcpu= places the thread. */
            cpu = f->has_vcpu ? (int)f->vcpu : 0;
        }
    }
    if (cpu >= 0) {
        guest_thread_create((unsigned)cpu, "fault-power", power_thread, NULL);
    }
    return true;
}

void fault_guest_fini(void)
{
    /* The power thread waits on its event; it ends with the vCPUs
     * (cpus_fini), never running again. */
    g_queue_clear(&pw.queue);
}
