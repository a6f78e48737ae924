/* SPDX-License-Identifier: MIT */
/*
 * The kernel's debug-check hooks (include/irqroute/platform.h, "Debug
 * checks"), needed when the library is built with IRQROUTE_DEBUG_CHECKS=1.
 *
 * A failed check goes the panic path (RkPanic, arch/print.c): the message on
 * the serial console, then QEMU ends with the panic status. RkPanic prints
 * through the console lock, which records its owner, so a check that fails
 * while this CPU prints still reaches the console.
 */
#include <irqroute/platform.h>

#include "kernel.h"

/* Every CPU has its per-CPU block (GS) before the library runs on it. */
uint32_t PlatDebugCurrentCpu(void)
{
    return PlatCurrentCpu();
}

_Noreturn void PlatAssertionFailed(const char *File, uint32_t Line, const char *Expression)
{
    RkPanic("assertion failed at %s:%u: %s", File, Line, Expression);
}
