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

#define KI_IDT_ENTRIES 256u
#define KI_FIRST_EXTERNAL_VECTOR 32u
#define KI_STUB_SIZE 16u
#define IDT_TYPE_INTERRUPT_GATE 0x8E /* P=1, DPL=0, type 1110b */

typedef struct _KIDT_ENTRY {
    uint16_t OffsetLow;
    uint16_t Selector;
    uint8_t Ist;
    uint8_t TypeAttributes;
    uint16_t OffsetMiddle;
    uint32_t OffsetHigh;
    uint32_t Reserved;
} __attribute__((packed)) KIDT_ENTRY;

typedef struct _KDESCRIPTOR_POINTER {
    uint16_t Limit;
    uint64_t Base;
} __attribute__((packed)) KDESCRIPTOR_POINTER;

_Static_assert(sizeof(KIDT_ENTRY) == 16, "64-bit gate descriptors are 16 bytes");
_Static_assert(sizeof(KTRAP_FRAME) == 22 * 8, "interrupt.S pushes 15 registers, vector and error code");

extern const uint8_t KiInterruptStubs[];

static KIDT_ENTRY KiIdt[KI_IDT_ENTRIES] __attribute__((aligned(16)));

static const char *const KiExceptionNames[KI_FIRST_EXTERNAL_VECTOR] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualization", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security", "reserved 31",
};

/* NMI, #DF and #MC may arrive on a stack that cannot be trusted. */
static bool KiUsesFaultStack(uint32_t Vector)
{
    return Vector == 2 || Vector == 8 || Vector == 18;
}

void KiInitializeIdt(void)
{
    for (uint32_t Vector = 0; Vector < KI_IDT_ENTRIES; Vector++) {
        uint64_t Stub = (uint64_t)(uintptr_t)&KiInterruptStubs[Vector * KI_STUB_SIZE];
        KiIdt[Vector] = (KIDT_ENTRY){
            .OffsetLow = (uint16_t)Stub,
            .Selector = KI_SELECTOR_CODE64,
            .Ist = KiUsesFaultStack(Vector) ? KI_IST_FAULT : 0,
            .TypeAttributes = IDT_TYPE_INTERRUPT_GATE,
            .OffsetMiddle = (uint16_t)(Stub >> 16),
            .OffsetHigh = (uint32_t)(Stub >> 32),
        };
    }
}

void KiLoadIdt(void)
{
    KDESCRIPTOR_POINTER Pointer = {.Limit = sizeof(KiIdt) - 1, .Base = (uint64_t)(uintptr_t)KiIdt};
    __asm__ volatile("lidt %0" : : "m"(Pointer));
}

static uint64_t KiReadCr2(void)
{
    uint64_t Value;
    __asm__ volatile("movq %%cr2, %0" : "=r"(Value));
    return Value;
}

__attribute__((noreturn)) static void KiReportException(uint32_t Cpu, uint32_t Vector, const KTRAP_FRAME *Frame)
{
    KiPrint("\n*** EXCEPTION %u (%s) on cpu %u, error code 0x%lx\n", Vector, KiExceptionNames[Vector], Cpu,
            Frame->ErrorCode);
    KiPrint("RIP %016lx CS %04lx RFLAGS %016lx RSP %016lx SS %04lx CR2 %016lx\n", Frame->Rip, Frame->Cs,
            Frame->Rflags, Frame->Rsp, Frame->Ss, KiReadCr2());
    KiPrint("RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", Frame->Rax, Frame->Rbx, Frame->Rcx, Frame->Rdx);
    KiPrint("RSI %016lx RDI %016lx RBP %016lx R8  %016lx\n", Frame->Rsi, Frame->Rdi, Frame->Rbp, Frame->R8);
    KiPrint("R9  %016lx R10 %016lx R11 %016lx R12 %016lx\n", Frame->R9, Frame->R10, Frame->R11, Frame->R12);
    KiPrint("R13 %016lx R14 %016lx R15 %016lx\n", Frame->R13, Frame->R14, Frame->R15);
    KiPrint("KTEST exception FAIL vector %u at rip 0x%lx on cpu %u\n", Vector, Frame->Rip, Cpu);
    KiExit(KI_EXIT_PANIC);
}

void KiInterruptEntry(uint32_t Cpu, uint32_t Vector, KTRAP_FRAME *Frame)
{
    if (Vector < KI_FIRST_EXTERNAL_VECTOR)
        KiReportException(Cpu, Vector, Frame);
    KeDispatchInterrupt(Cpu, (uint8_t)Vector);
}
