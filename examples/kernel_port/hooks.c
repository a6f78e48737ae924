/* SPDX-License-Identifier: MIT */
/*
 * Every platform hook of irqroute/platform.h, as a kernel port writes them,
 * here over a fake machine so that the port runs as an ordinary program:
 *
 *  - one Intel 82093AA I/O APIC: IOREGSEL at 0xFEC00000 and IOWIN at
 *    0xFEC00010 (82093AA 3.1), version register 0x00170011 (version 0x11,
 *    maximum redirection entry 0x17: 24 pins; 3.2.2), 24 redirection entries
 *    masked at reset (3.2.4);
 *  - one CPU, index 0, whose local APIC firmware left enabled in xAPIC mode
 *    (IA32_APIC_BASE = 0xFEE00000 | EN | BSP) and which offers x2APIC, so
 *    the port selects x2APIC and every local APIC access is an MSR (Intel
 *    SDM vol. 3A 11.12): IA32_APIC_BASE (0x1B), and 0x800 + offset/16 for
 *    the ID, version, TPR, EOI, LDR, SVR, ESR, ICR and LINT0/1 registers;
 *  - memory from malloc.
 *
 * Above each hook: what a real kernel does there, and in which context the
 * library calls it (docs/porting.md has the whole contract). The fake
 * enforces what the drivers must respect, so a port that breaks a rule
 * fails here as it would on hardware: an x2APIC MSR before IA32_APIC_BASE
 * .EXTD is set is a #GP (SDM 11.12.1.2), a write to a read-only register
 * is a #GP, an access outside the I/O APIC's two registers hits nothing.
 * "Faults" end the program with a message.
 *
 * Simplified: no interrupt is ever delivered by this fake; the port plays
 * the CPU's part itself by calling KeDispatchInterrupt, as an IDT stub
 * would after the CPU accepted the vector. The x2APIC ICR is recorded and
 * nothing more (one CPU: nobody to send an IPI to).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/platform.h>

#include "fake_machine.h"

/* ---- The fake hardware ------------------------------------------------------------- */

#define FAKE_IOREGSEL (FAKE_IOAPIC_BASE + 0x00u)
#define FAKE_IOWIN (FAKE_IOAPIC_BASE + 0x10u)
#define FAKE_IOAPIC_VERSION 0x00170011u
#define FAKE_IOREDTBL 0x10u
#define FAKE_RTE_MASK (1u << 16)
/* Delivery status (12) and Remote IRR (14) are read-only (82093AA 3.2.4). */
#define FAKE_RTE_READ_ONLY ((1u << 12) | (1u << 14))

#define MSR_IA32_APIC_BASE 0x1Bu
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
#define X2APIC_ID 0x802u
#define X2APIC_VERSION 0x803u
#define X2APIC_TPR 0x808u
#define X2APIC_EOI 0x80Bu
#define X2APIC_LDR 0x80Du
#define X2APIC_SVR 0x80Fu
#define X2APIC_ESR 0x828u
#define X2APIC_ICR 0x830u
#define X2APIC_LINT0 0x835u
#define X2APIC_LINT1 0x836u

static struct {
    uint32_t IoRegSel;
    uint32_t IoApicId;
    uint32_t Redirection[FAKE_IOAPIC_PINS * 2]; /* low, high dword per pin */
    uint64_t ApicBase;
    uint32_t Tpr, Svr, Esr, Lint0, Lint1;
    uint64_t Icr;
    uint64_t Eoi;
    bool InterruptFlag;
    bool Initialised;
} Fake;

static void FakeFault(const char *Hook, uint64_t Where, const char *Why)
{
    fprintf(stderr, "kernel_port: fault in %s at 0x%llx: %s\n", Hook, (unsigned long long)Where, Why);
    exit(3);
}

/* Power-on state, as firmware hands the machine over. */
static void FakePowerOn(void)
{
    if (Fake.Initialised)
        return;
    Fake.Initialised = true;
    for (uint32_t Pin = 0; Pin < FAKE_IOAPIC_PINS; Pin++)
        Fake.Redirection[2 * Pin] = FAKE_RTE_MASK;
    Fake.ApicBase = 0xFEE00000u | APIC_BASE_EN | APIC_BASE_BSP;
    Fake.Lint0 = Fake.Lint1 = 1u << 16;
    Fake.InterruptFlag = true; /* a running kernel, interrupts on */
}

static uint32_t *FakeIoApicRegister(uint32_t Index)
{
    if (Index >= FAKE_IOREDTBL && Index < FAKE_IOREDTBL + 2 * FAKE_IOAPIC_PINS)
        return &Fake.Redirection[Index - FAKE_IOREDTBL];
    return NULL;
}

static uint32_t FakeIoApicRead(uint32_t Index)
{
    if (Index == 0x00)
        return Fake.IoApicId;
    if (Index == 0x01)
        return FAKE_IOAPIC_VERSION;
    if (Index == 0x02)
        return Fake.IoApicId; /* IOAPICARB mirrors the id after reset */
    uint32_t *Register = FakeIoApicRegister(Index);
    if (Register == NULL)
        FakeFault("PlatMmioRead32", FAKE_IOWIN, "IOREGSEL selects no register (82093AA 3.1.1)");
    return *Register;
}

static void FakeIoApicWrite(uint32_t Index, uint32_t Value)
{
    if (Index == 0x00) {
        Fake.IoApicId = Value & 0x0F000000u;
        return;
    }
    uint32_t *Register = FakeIoApicRegister(Index);
    if (Register == NULL)
        FakeFault("PlatMmioWrite32", FAKE_IOWIN, "IOREGSEL selects no writable register");
    bool Low = (Index - FAKE_IOREDTBL) % 2 == 0;
    *Register = Low ? (*Register & FAKE_RTE_READ_ONLY) | (Value & ~FAKE_RTE_READ_ONLY) : Value;
}

static bool FakeInX2ApicMode(void)
{
    return (Fake.ApicBase & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD);
}

/* x2APIC logical id (SDM 11.12.10.2): cluster id<<16 | 1 << (id & 15). */
static uint32_t FakeLogicalId(void)
{
    return (FAKE_APIC_ID >> 4) << 16 | 1u << (FAKE_APIC_ID & 15u);
}

/* ---- CPU identity --------------------------------------------------------------------
 * Real kernel: one load from per-CPU data (a GS-relative load on x86-64,
 * tp/sscratch elsewhere); kernel/arch/percpu.c. Called in every context,
 * interrupt handlers and spin-lock paths included, so it must not take a
 * lock, allocate or fault; stable while interrupts are disabled. */
uint32_t PlatCurrentCpu(void)
{
    return 0;
}

/* ---- Interrupt flag ------------------------------------------------------------------
 * Real kernel: PUSHFQ/CLI and STI (platform/x86/hw_access.c has them). Called
 * around every spin lock and register pair, in any context, interrupt
 * handlers included (where interrupts are off already and stay off). */
bool PlatDisableInterrupts(void)
{
    FakePowerOn();
    bool WasEnabled = Fake.InterruptFlag;
    Fake.InterruptFlag = false;
    return WasEnabled;
}

void PlatRestoreInterrupts(bool WasEnabled)
{
    if (WasEnabled)
        Fake.InterruptFlag = true;
}

/* Real kernel: PAUSE. Called in spin-wait loops (a contended lock, a
 * disconnect waiting for an ISR to finish on another CPU). */
void PlatCpuRelax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* ---- Register access -----------------------------------------------------------------
 * Real kernel: a volatile 32-bit load or store through an uncached mapping
 * of the physical address (the I/O APIC at 0xFEC00000, and the xAPIC page
 * at 0xFEE00000 in xAPIC mode), mapped 1:1 or translated here. Called from
 * any context, with interrupts disabled around every IOREGSEL/IOWIN pair. */
uint32_t PlatMmioRead32(uintptr_t Address)
{
    FakePowerOn();
    if (Address == FAKE_IOREGSEL)
        return Fake.IoRegSel;
    if (Address == FAKE_IOWIN)
        return FakeIoApicRead(Fake.IoRegSel);
    FakeFault("PlatMmioRead32", Address, "nothing is mapped there in this fake machine");
    return 0;
}

void PlatMmioWrite32(uintptr_t Address, uint32_t Value)
{
    FakePowerOn();
    if (Address == FAKE_IOREGSEL)
        Fake.IoRegSel = Value & 0xFFu; /* IOREGSEL is eight bits (82093AA 3.1.1) */
    else if (Address == FAKE_IOWIN)
        FakeIoApicWrite(Fake.IoRegSel, Value);
    else
        FakeFault("PlatMmioWrite32", Address, "nothing is mapped there in this fake machine");
}

/* Real kernel: RDMSR / WRMSR (hw_access.c). The local APIC driver calls
 * them on the CPU whose APIC it means (x2APIC registers are per CPU), in any
 * context: EOI from the dispatcher, TPR from KeRaiseIrql/KeLowerIrql. */
uint64_t PlatReadMsr(uint32_t Msr)
{
    FakePowerOn();
    if (Msr == MSR_IA32_APIC_BASE)
        return Fake.ApicBase;
    if (!FakeInX2ApicMode())
        FakeFault("PlatReadMsr", Msr, "#GP: x2APIC MSR outside x2APIC mode (SDM 11.12.1.2)");
    switch (Msr) {
    case X2APIC_ID: return FAKE_APIC_ID;
    case X2APIC_VERSION: return 0x00050014u; /* version 0x14, 6 LVT entries */
    case X2APIC_TPR: return Fake.Tpr;
    case X2APIC_LDR: return FakeLogicalId();
    case X2APIC_SVR: return Fake.Svr;
    case X2APIC_ESR: return Fake.Esr;
    case X2APIC_ICR: return Fake.Icr;
    case X2APIC_LINT0: return Fake.Lint0;
    case X2APIC_LINT1: return Fake.Lint1;
    default: FakeFault("PlatReadMsr", Msr, "#GP: not a register of this fake CPU");
    }
    return 0;
}

void PlatWriteMsr(uint32_t Msr, uint64_t Value)
{
    FakePowerOn();
    if (Msr == MSR_IA32_APIC_BASE) {
        /* SDM 11.12.5: EXTD may only be set with EN (xAPIC -> x2APIC). */
        if ((Value & APIC_BASE_EXTD) && !(Value & APIC_BASE_EN))
            FakeFault("PlatWriteMsr", Msr, "#GP: EXTD without EN is invalid");
        Fake.ApicBase = Value;
        return;
    }
    if (!FakeInX2ApicMode())
        FakeFault("PlatWriteMsr", Msr, "#GP: x2APIC MSR outside x2APIC mode (SDM 11.12.1.2)");
    switch (Msr) {
    case X2APIC_TPR: Fake.Tpr = (uint32_t)Value & 0xFFu; break;
    case X2APIC_EOI:
        if (Value != 0)
            FakeFault("PlatWriteMsr", Msr, "#GP: a non-zero EOI write (SDM 11.12.1.2)");
        Fake.Eoi++;
        break;
    case X2APIC_SVR: Fake.Svr = (uint32_t)Value; break;
    case X2APIC_ESR: Fake.Esr = 0; break; /* a write clears the latched errors */
    case X2APIC_ICR: Fake.Icr = Value; break;
    case X2APIC_LINT0: Fake.Lint0 = (uint32_t)Value; break;
    case X2APIC_LINT1: Fake.Lint1 = (uint32_t)Value; break;
    default: FakeFault("PlatWriteMsr", Msr, "#GP: read-only or absent register");
    }
}

/* ---- Memory ---------------------------------------------------------------------------
 * Real kernel: its pool allocator (kernel/arch/memory.c). Called at IRQL 0
 * only: KeInitializeSystem's per-CPU tables, and the interrupt objects
 * IoConnectInterrupt* allocates (IoDisconnectInterrupt frees them). Must
 * return zeroed memory aligned to Alignment (a power of two up to 4096). */
void *PlatAllocateMemory(size_t Size, size_t Alignment)
{
    if (Alignment < sizeof(void *))
        Alignment = sizeof(void *);
    size_t Rounded = (Size + Alignment - 1) / Alignment * Alignment;
    void *Memory = aligned_alloc(Alignment, Rounded == 0 ? Alignment : Rounded);
    if (Memory != NULL)
        memset(Memory, 0, Rounded);
    return Memory;
}

void PlatFreeMemory(void *Memory, size_t Size)
{
    (void)Size; /* a pool allocator without headers needs it; free() does not */
    free(Memory);
}

/* ---- Inspection (fake_machine.h) ------------------------------------------------------ */

uint64_t FakeIoApicPeekEntry(uint32_t Pin)
{
    FakePowerOn();
    return (uint64_t)Fake.Redirection[2 * Pin + 1] << 32 | Fake.Redirection[2 * Pin];
}

uint64_t FakeLapicEoiCount(void)
{
    return Fake.Eoi;
}

uint32_t FakeLapicTpr(void)
{
    return Fake.Tpr;
}

bool FakeInterruptsEnabled(void)
{
    FakePowerOn();
    return Fake.InterruptFlag;
}
