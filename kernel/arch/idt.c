/* SPDX-License-Identifier: MIT */
/*
 * The interrupt descriptor table and the C side of the common entry path.
 *
 * All 256 gates point at the stubs of interrupt.S (64-bit interrupt gates,
 * SDM vol. 3A 6.14.1 figure 6-8: IF is cleared on entry, which the
 * library's dispatcher requires). Exceptions (0-31) print a register dump
 * and end the run; vectors 32-255 go to KeDispatchInterrupt, the library's
 * one entry for devices, IPIs and the spurious vector.
 */
#include <irqroute/ke.h>

#include "kernel.h"

#define RK_IDT_ENTRIES 256u
#define RK_FIRST_EXTERNAL_VECTOR 32u
#define RK_STUB_SIZE 16u
#define IDT_TYPE_INTERRUPT_GATE 0x8E /* P=1, DPL=0, type 1110b */

typedef struct _RK_IDT_ENTRY {
    uint16_t OffsetLow;
    uint16_t Selector;
    uint8_t Ist;
    uint8_t TypeAttributes;
    uint16_t OffsetMiddle;
    uint32_t OffsetHigh;
    uint32_t Reserved;
} __attribute__((packed)) RK_IDT_ENTRY;

typedef struct _RK_DESCRIPTOR_POINTER {
    uint16_t Limit;
    uint64_t Base;
} __attribute__((packed)) RK_DESCRIPTOR_POINTER;

_Static_assert(sizeof(RK_IDT_ENTRY) == 16, "64-bit gate descriptors are 16 bytes");
_Static_assert(sizeof(RK_TRAP_FRAME) == 22 * 8, "interrupt.S pushes 15 registers, vector and error code");

extern const uint8_t RkInterruptStubs[];

static RK_IDT_ENTRY RkIdt[RK_IDT_ENTRIES] __attribute__((aligned(16)));

static const char *const RkExceptionNames[RK_FIRST_EXTERNAL_VECTOR] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualization", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security", "reserved 31",
};

/* NMI, #DF and #MC may arrive on a stack that cannot be trusted. */
static bool RkUsesFaultStack(uint32_t Vector)
{
    return Vector == 2 || Vector == 8 || Vector == 18;
}

void RkInitializeIdt(void)
{
    for (uint32_t Vector = 0; Vector < RK_IDT_ENTRIES; Vector++) {
        uint64_t Stub = (uint64_t)(uintptr_t)&RkInterruptStubs[Vector * RK_STUB_SIZE];
        RkIdt[Vector] = (RK_IDT_ENTRY){
            .OffsetLow = (uint16_t)Stub,
            .Selector = RK_SELECTOR_CODE64,
            .Ist = RkUsesFaultStack(Vector) ? RK_IST_FAULT : 0,
            .TypeAttributes = IDT_TYPE_INTERRUPT_GATE,
            .OffsetMiddle = (uint16_t)(Stub >> 16),
            .OffsetHigh = (uint32_t)(Stub >> 32),
        };
    }
}

void RkLoadIdt(void)
{
    RK_DESCRIPTOR_POINTER Pointer = {.Limit = sizeof(RkIdt) - 1, .Base = (uint64_t)(uintptr_t)RkIdt};
    __asm__ volatile("lidt %0" : : "m"(Pointer));
}

static uint64_t RkReadCr2(void)
{
    uint64_t Value;
    __asm__ volatile("movq %%cr2, %0" : "=r"(Value));
    return Value;
}

__attribute__((noreturn)) static void RkReportException(uint32_t Cpu, uint32_t Vector, const RK_TRAP_FRAME *Frame)
{
    RkPrint("\n*** EXCEPTION %u (%s) on cpu %u, error code 0x%lx\n", Vector, RkExceptionNames[Vector], Cpu,
            Frame->ErrorCode);
    RkPrint("RIP %016lx CS %04lx RFLAGS %016lx RSP %016lx SS %04lx CR2 %016lx\n", Frame->Rip, Frame->Cs,
            Frame->Rflags, Frame->Rsp, Frame->Ss, RkReadCr2());
    RkPrint("RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", Frame->Rax, Frame->Rbx, Frame->Rcx, Frame->Rdx);
    RkPrint("RSI %016lx RDI %016lx RBP %016lx R8  %016lx\n", Frame->Rsi, Frame->Rdi, Frame->Rbp, Frame->R8);
    RkPrint("R9  %016lx R10 %016lx R11 %016lx R12 %016lx\n", Frame->R9, Frame->R10, Frame->R11, Frame->R12);
    RkPrint("R13 %016lx R14 %016lx R15 %016lx\n", Frame->R13, Frame->R14, Frame->R15);
    RkPrint("KTEST exception FAIL vector %u at rip 0x%lx on cpu %u\n", Vector, Frame->Rip, Cpu);
    RkExit(RK_EXIT_PANIC);
}

void RkInterruptEntry(uint32_t Cpu, uint32_t Vector, RK_TRAP_FRAME *Frame)
{
    if (Vector < RK_FIRST_EXTERNAL_VECTOR)
        RkReportException(Cpu, Vector, Frame);
    KeDispatchInterrupt(Cpu, (uint8_t)Vector);
}
