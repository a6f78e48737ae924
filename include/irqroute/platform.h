/* SPDX-License-Identifier: MIT */
/*
 * Platform hooks: the handful of functions a port implements.
 *
 * The core (src/ and the x86 drivers in platform/x86/) is freestanding C11 and
 * calls nothing but these. platform/x86/hw_access.c implements them for a real
 * x86-64 CPU (the reference kernel supplies memory and the CPU number);
 * platform/sim/ implements them on host threads, where MMIO and MSR accesses
 * reach register-accurate I/O APIC and local APIC models. docs/porting.md says
 * what each must guarantee. The freestanding check (tests/freestanding) allows
 * exactly these undefined symbols in the core objects.
 */
#ifndef IRQROUTE_PLATFORM_H
#define IRQROUTE_PLATFORM_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

IRQROUTE_BEGIN_DECLS

/* ---- CPU identity ---------------------------------------------------------- */

/* Index (0 .. count-1) of the CPU executing the caller. Must be stable while
 * interrupts are disabled. */
uint32_t PlatCurrentCpu(void);

/* ---- Interrupt flag -------------------------------------------------------- */

/* Disables interrupts on this CPU; returns true when they were enabled. */
bool PlatDisableInterrupts(void);
/* Re-enables interrupts if WasEnabled (the value PlatDisableInterrupts returned). */
void PlatRestoreInterrupts(bool WasEnabled);

/* Spin-wait hint (PAUSE on x86). A simulated CPU may service interrupts here
 * when its interrupt flag is set, as a real CPU would between instructions. */
void PlatCpuRelax(void);

/* ---- Register access ---------------------------------------------------------
 * The x86 I/O APIC and local APIC drivers touch registers only through these.
 * Addresses are physical (0xFEC00000, 0xFEE00000 ...): a real kernel maps them
 * 1:1 uncached; the sim decodes them to its models. */
uint32_t PlatMmioRead32(uintptr_t Address);
/* One aligned 32-bit store of Value at the physical Address (uncached). */
void PlatMmioWrite32(uintptr_t Address, uint32_t Value);
/* RDMSR: the value of model-specific register Msr on the calling CPU. */
uint64_t PlatReadMsr(uint32_t Msr);
/* WRMSR: writes Value to model-specific register Msr on the calling CPU;
 * ordered after the caller's earlier memory accesses (a compiler barrier). */
void PlatWriteMsr(uint32_t Msr, uint64_t Value);

/* ---- Memory ------------------------------------------------------------------
 * Used for per-CPU tables at initialisation and for interrupt objects that the
 * I/O manager allocates. Returns zeroed memory aligned to Alignment (a power of
 * two up to 4096), or NULL. May be called at IRQL 0 only. */
void *PlatAllocateMemory(size_t Size, size_t Alignment);
/* Gives back memory PlatAllocateMemory returned, with the Size it was asked
 * for (the core never passes NULL). Called in the same contexts as
 * PlatAllocateMemory. */
void PlatFreeMemory(void *Memory, size_t Size);

/* ---- Debug checks --------------------------------------------------------------
 * Referenced only when the core is built with IRQROUTE_DEBUG_CHECKS=1
 * (src/base/irassert.h); a release build needs neither. */

/* PlatDebugCurrentCpu's answer for a caller that is no CPU. */
#define PLAT_NO_CPU 0xFFFFFFFFu

/* PlatCurrentCpu for the lock-ownership records (src/base/irlock.h), which
 * are also taken where no CPU is running yet: the CPU executing the caller,
 * or PLAT_NO_CPU for a caller that is none (boot code before its CPU is set
 * up, a host thread of an emulator). Any context, interrupts enabled or not;
 * must not take a lock of the core nor fail. */
uint32_t PlatDebugCurrentCpu(void);

/* A debug check failed: Expression (its source text) was false at File:Line.
 * Reports the three (the console, stderr) and stops the system (a kernel
 * halts, a hosted port aborts); it never returns to the core, which would
 * carry on with broken state. Called in any context (interrupt context,
 * under any lock of the core, interrupts disabled), so it must not take a
 * lock the core may hold nor allocate; a hosted test harness may leave by
 * longjmp instead of stopping (platform/sim/sim.h, SimSetAssertHandler). */
IRQROUTE_NORETURN void PlatAssertionFailed(const char *File, uint32_t Line, const char *Expression);

IRQROUTE_END_DECLS

#endif
