/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU state: the control region RK_PCR that GS points at, each CPU's
 * stacks, GDT and TSS, and the library's PlatCurrentCpu hook.
 *
 * The CPU index is the kernel's choice (BSP 0, then APs in MADT order), not
 * the APIC id: QEMU's -smp 6,sockets=2,cores=3 gives ids 0-2 and 4-6.
 *
 * Only RkPcr is a static array of RK_MAX_CPUS (a few dozen bytes each). The
 * rest is allocated from the pool by RkAllocateProcessor for the CPUs that
 * are actually started: 24 KiB of stacks per CPU would be 96 MiB for the
 * cap, most of it for CPUs that do not exist.
 */
#include <stddef.h>

#include <irqroute/cpuset.h>
#include <irqroute/platform.h>

#include "kernel.h"

#define MSR_GS_BASE 0xC0000101u /* IA32_GS_BASE, SDM vol. 4 table 2-2 */

_Static_assert(offsetof(RK_PCR, Number) == RK_PCR_NUMBER, "interrupt.S reads RK_PCR.Number at RK_PCR_NUMBER");
_Static_assert(RK_MAX_CPUS <= IR_MAX_CPUS, "the kernel cannot start more CPUs than the library numbers");

RK_PCR RkPcr[RK_MAX_CPUS];
/* The BSP's stack (boot.S switches to it); the APs' come from the pool. */
uint8_t RkBootStack[RK_BOOT_STACK_SIZE] __attribute__((aligned(16)));

void RkInitializePcr(uint32_t Cpu, uint32_t ApicId)
{
    RK_PCR *Pcr = &RkPcr[Cpu];
    Pcr->Self = Pcr;
    Pcr->Number = Cpu;
    Pcr->ApicId = ApicId;
    PlatWriteMsr(MSR_GS_BASE, (uint64_t)(uintptr_t)Pcr);
}

RK_PCR *RkGetPcr(void)
{
    RK_PCR *Pcr;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(Pcr));
    return Pcr;
}

/* One GS-relative load: valid in any context, since GS never changes
 * after RkInitializePcr. */
uint32_t PlatCurrentCpu(void)
{
    uint32_t Cpu;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(Cpu) : "i"(RK_PCR_NUMBER));
    return Cpu;
}

/* ---- Task-state segment and GDT: only for the interrupt stack table ------------------ */

/* The 64-bit TSS (SDM vol. 3A 7.7, figure 7-11). */
typedef struct _RK_TSS {
    uint32_t Reserved0;
    uint64_t Rsp[3];
    uint64_t Reserved1;
    uint64_t Ist[7]; /* Ist[0] is IST1 */
    uint64_t Reserved2;
    uint16_t Reserved3;
    uint16_t IoMapBase;
} __attribute__((packed)) RK_TSS;

_Static_assert(sizeof(RK_TSS) == 104, "64-bit TSS is 104 bytes");

#define TSS_TYPE_AVAILABLE 0x89 /* P=1, DPL 0, type 1001b: available 64-bit TSS */
#define RK_GDT_QUADS (RK_GDT_ENTRIES + 2) /* the boot entries, then one 16-byte TSS descriptor */

/* Each CPU has a GDT of its own: the boot entries (same selectors on every
 * CPU) and its TSS descriptor at RK_SELECTOR_TSS. One shared GDT with a
 * descriptor per CPU would outgrow the 16-bit GDTR limit (SDM 3.5.1) at
 * 4094 CPUs. */
typedef struct _RK_PROCESSOR_TABLES {
    uint64_t Gdt[RK_GDT_QUADS];
    RK_TSS Tss;
} RK_PROCESSOR_TABLES;

extern const uint64_t RkGdt[RK_GDT_ENTRIES];

static void *RkAllocateStack(size_t Size)
{
    return PlatAllocateMemory(Size, 16);
}

bool RkAllocateProcessor(uint32_t Cpu)
{
    if (Cpu >= RK_MAX_CPUS)
        return false;
    RK_PCR *Pcr = &RkPcr[Cpu];
    uint8_t *Stack = Cpu == 0 ? NULL : RkAllocateStack(RK_STACK_SIZE);
    uint8_t *FaultStack = RkAllocateStack(RK_FAULT_STACK_SIZE);
    RK_PROCESSOR_TABLES *Tables = PlatAllocateMemory(sizeof(RK_PROCESSOR_TABLES), 16);
    if ((Cpu != 0 && Stack == NULL) || FaultStack == NULL || Tables == NULL) {
        PlatFreeMemory(Stack, RK_STACK_SIZE);
        PlatFreeMemory(FaultStack, RK_FAULT_STACK_SIZE);
        PlatFreeMemory(Tables, sizeof(RK_PROCESSOR_TABLES));
        return false;
    }
    Pcr->StackTop = Cpu == 0 ? (uint64_t)(uintptr_t)&RkBootStack[RK_BOOT_STACK_SIZE]
                             : (uint64_t)(uintptr_t)&Stack[RK_STACK_SIZE];
    Tables->Tss.Ist[RK_IST_FAULT - 1] = (uint64_t)(uintptr_t)&FaultStack[RK_FAULT_STACK_SIZE];
    Tables->Tss.IoMapBase = sizeof(RK_TSS); /* no I/O permission bitmap */
    memcpy(Tables->Gdt, RkGdt, sizeof(RkGdt));
    Pcr->Tables = Tables;
    return true;
}

/* A system-segment descriptor (SDM 7.2.3, figure 7-4): 16 bytes. */
static void RkWriteTssDescriptor(RK_PROCESSOR_TABLES *Tables)
{
    uint64_t Base = (uint64_t)(uintptr_t)&Tables->Tss;
    uint64_t Limit = sizeof(RK_TSS) - 1;
    uint64_t *Descriptor = &Tables->Gdt[RK_SELECTOR_TSS / 8];
    Descriptor[0] = (Limit & 0xFFFF) | (Base & 0xFFFFFF) << 16 | (uint64_t)TSS_TYPE_AVAILABLE << 40 |
                    ((Limit >> 16) & 0xF) << 48 | ((Base >> 24) & 0xFF) << 56;
    Descriptor[1] = Base >> 32;
}

/* The segment registers keep their selectors across the LGDT: the new
 * table holds the same code and data descriptors at the same offsets. */
void RkInitializeTss(uint32_t Cpu)
{
    RK_PROCESSOR_TABLES *Tables = RkPcr[Cpu].Tables;
    if (Tables == NULL)
        RkPanic("cpu %u: no GDT and TSS allocated", Cpu);
    RkWriteTssDescriptor(Tables);
    struct {
        uint16_t Limit;
        uint64_t Base;
    } __attribute__((packed)) Gdtr = {
        .Limit = sizeof(Tables->Gdt) - 1,
        .Base = (uint64_t)(uintptr_t)Tables->Gdt,
    };
    __asm__ volatile("lgdt %0" : : "m"(Gdtr) : "memory");
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)RK_SELECTOR_TSS) : "memory");
}
