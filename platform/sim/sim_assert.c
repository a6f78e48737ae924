/* SPDX-License-Identifier: MIT */
/*
 * The sim's debug-check hooks (include/irqroute/platform.h, "Debug checks"):
 * the CPU a lock records as its owner, and what a failed check does.
 *
 * A failed check prints "irqroute: assertion failed at FILE:LINE: EXPR" on
 * stderr and aborts, so a test that breaks an invariant crashes with the
 * message (CTest shows it). A test that provokes a check on purpose installs
 * a handler (SimSetAssertHandler, sim.h) that leaves by longjmp.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqroute/platform.h>

#include "sim.h"

static _Atomic(SIM_ASSERT_HANDLER) SimpAssertHandler;

void SimSetAssertHandler(SIM_ASSERT_HANDLER Handler)
{
    atomic_store_explicit(&SimpAssertHandler, Handler, memory_order_release);
}

/* The thread's simulated CPU, or none: boot code and device threads run on
 * no CPU (sim.h, "Threads and CPUs"), and PlatCurrentCpu would abort there. */
uint32_t PlatDebugCurrentCpu(void)
{
    uint32_t Cpu = SimAttachedCpu();
    return Cpu == SIM_NO_CPU ? PLAT_NO_CPU : Cpu;
}

_Noreturn void PlatAssertionFailed(const char *File, uint32_t Line, const char *Expression)
{
    SIM_ASSERT_HANDLER Handler = atomic_load_explicit(&SimpAssertHandler, memory_order_acquire);
    if (Handler != NULL)
        Handler(File, Line, Expression);
    fprintf(stderr, "irqroute: assertion failed at %s:%u: %s\n", File, Line, Expression);
    fflush(stderr);
    abort();
}
