/* SPDX-License-Identifier: MIT */
/*
 * Platform hooks for a real x86-64 CPU: the ones that are pure CPU.
 *
 * MMIO, MSRs, the interrupt flag and the spin-wait hint are the same for
 * every kernel on x86-64, so they live here, next to the drivers that use
 * them. The kernel supplies the rest of platform.h (PlatCurrentCpu,
 * PlatAllocateMemory, PlatFreeMemory): which CPU is running and where
 * memory comes from are its own decisions.
 *
 * The caller maps MMIO 1:1 and uncached (the I/O APIC at 0xFEC00000 and the
 * local APIC at 0xFEE00000); a volatile 32-bit access is then exactly one
 * aligned 32-bit bus access, which both devices require (82093AA 3.0:
 * "registers are accessed with 32-bit reads and writes"; Intel SDM vol. 3A
 * 11.4.1: local APIC registers are 128-bit aligned and must be accessed
 * with 32-bit loads and stores).
 */
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/platform.h>

/* RFLAGS.IF (SDM vol. 1 3.4.3.3). */
#define RFLAGS_IF (1ull << 9)

uint32_t PlatMmioRead32(uintptr_t Address)
{
    return *(volatile const uint32_t *)Address;
}

void PlatMmioWrite32(uintptr_t Address, uint32_t Value)
{
    *(volatile uint32_t *)Address = Value;
}

/* RDMSR/WRMSR (SDM vol. 2B): ECX selects, EDX:EAX carry the value. The
 * "memory" clobber keeps compiler-visible stores (an MMIO write before an
 * x2APIC ICR write, say) in program order around them. */
uint64_t PlatReadMsr(uint32_t Msr)
{
    uint32_t Low, High;
    __asm__ volatile("rdmsr" : "=a"(Low), "=d"(High) : "c"(Msr) : "memory");
    return (uint64_t)High << 32 | Low;
}

void PlatWriteMsr(uint32_t Msr, uint64_t Value)
{
    __asm__ volatile("wrmsr" : : "c"(Msr), "a"((uint32_t)Value), "d"((uint32_t)(Value >> 32)) : "memory");
}

/* PUSHFQ reads IF before CLI clears it. Both act as compiler barriers, so
 * no access of the critical section moves above the CLI. */
bool PlatDisableInterrupts(void)
{
    uint64_t Flags;
    __asm__ volatile("pushfq\n\tpopq %0\n\tcli" : "=r"(Flags) : : "memory");
    return (Flags & RFLAGS_IF) != 0;
}

/* STI delays recognition of interrupts until after the next instruction
 * (SDM vol. 2B, "STI"), which does not matter here. */
void PlatRestoreInterrupts(bool WasEnabled)
{
    if (WasEnabled)
        __asm__ volatile("sti" : : : "memory");
}

/* PAUSE (SDM vol. 2B): spin-loop hint. */
void PlatCpuRelax(void)
{
    __asm__ volatile("pause" : : : "memory");
}
