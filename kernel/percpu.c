/*
 * Per-CPU state: the control region KPCR that GS points at, the CPU stacks,
 * and the library's PlatCurrentCpu hook.
 *
 * The CPU index is the kernel's choice (BSP 0, then APs in MADT order), not
 * the APIC id: QEMU's -smp 6,sockets=2,cores=3 gives ids 0-2 and 4-6.
 */
#include <stddef.h>

#include <irqroute/platform.h>

#include "kernel.h"

#define MSR_GS_BASE 0xC0000101u /* IA32_GS_BASE, SDM vol. 4 table 2-2 */

_Static_assert(offsetof(KPCR, Number) == KI_PCR_NUMBER, "interrupt.S reads KPCR.Number at KI_PCR_NUMBER");

KPCR KiPcr[KI_MAX_CPUS];
uint8_t KiStacks[KI_MAX_CPUS][KI_STACK_SIZE] __attribute__((aligned(16)));

void KiInitializePcr(uint32_t Cpu, uint32_t ApicId)
{
    KPCR *Pcr = &KiPcr[Cpu];
    Pcr->Self = Pcr;
    Pcr->Number = Cpu;
    Pcr->ApicId = ApicId;
    Pcr->StackTop = KiStackTopOf(Cpu);
    PlatWriteMsr(MSR_GS_BASE, (uint64_t)(uintptr_t)Pcr);
}

KPCR *KiGetPcr(void)
{
    KPCR *Pcr;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(Pcr));
    return Pcr;
}

uint64_t KiStackTopOf(uint32_t Cpu)
{
    return (uint64_t)(uintptr_t)&KiStacks[Cpu][KI_STACK_SIZE];
}

/* One GS-relative load: valid in any context, since GS never changes
 * after KiInitializePcr. */
uint32_t PlatCurrentCpu(void)
{
    uint32_t Cpu;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(Cpu) : "i"(KI_PCR_NUMBER));
    return Cpu;
}

/* ---- Task-state segments: only for the interrupt stack table ------------------------ */

/* The 64-bit TSS (SDM vol. 3A 7.7, figure 7-11). */
typedef struct _KTSS {
    uint32_t Reserved0;
    uint64_t Rsp[3];
    uint64_t Reserved1;
    uint64_t Ist[7]; /* Ist[0] is IST1 */
    uint64_t Reserved2;
    uint16_t Reserved3;
    uint16_t IoMapBase;
} __attribute__((packed)) KTSS;

_Static_assert(sizeof(KTSS) == 104, "64-bit TSS is 104 bytes");

#define TSS_TYPE_AVAILABLE 0x89 /* P=1, DPL 0, type 1001b: available 64-bit TSS */

extern uint64_t KiGdt[];
extern uint8_t KiGdtTssDescriptors[];

static KTSS KiTss[KI_MAX_CPUS];
static uint8_t KiFaultStacks[KI_MAX_CPUS][KI_FAULT_STACK_SIZE] __attribute__((aligned(16)));

/* A system-segment descriptor (SDM 7.2.3, figure 7-4): 16 bytes. */
static void KiWriteTssDescriptor(uint32_t Cpu)
{
    uint64_t Base = (uint64_t)(uintptr_t)&KiTss[Cpu];
    uint64_t Limit = sizeof(KTSS) - 1;
    uint64_t *Descriptor = (uint64_t *)(void *)&KiGdtTssDescriptors[Cpu * 16];
    Descriptor[0] = (Limit & 0xFFFF) | (Base & 0xFFFFFF) << 16 | (uint64_t)TSS_TYPE_AVAILABLE << 40 |
                    ((Limit >> 16) & 0xF) << 48 | ((Base >> 24) & 0xFF) << 56;
    Descriptor[1] = Base >> 32;
}

void KiInitializeTss(uint32_t Cpu)
{
    KiTss[Cpu].Ist[KI_IST_FAULT - 1] = (uint64_t)(uintptr_t)&KiFaultStacks[Cpu][KI_FAULT_STACK_SIZE];
    KiTss[Cpu].IoMapBase = sizeof(KTSS); /* no I/O permission bitmap */
    KiWriteTssDescriptor(Cpu);
    struct {
        uint16_t Limit;
        uint64_t Base;
    } __attribute__((packed)) Gdtr = {
        .Limit = KI_GDT_ENTRIES * 8 + KI_MAX_CPUS * 16 - 1,
        .Base = (uint64_t)(uintptr_t)KiGdt,
    };
    __asm__ volatile("lgdt %0" : : "m"(Gdtr) : "memory");
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)KI_SELECTOR_TSS(Cpu)) : "memory");
}
