/* SPDX-License-Identifier: MIT */
/*
 * Local APIC driver: Intel SDM vol. 3A chapter 11 "Advanced Programmable
 * Interrupt Controller (APIC)".
 *
 * One driver for both register interfaces, chosen once at boot:
 *  - xAPIC: 32-bit registers 16 bytes apart in a 4 KiB MMIO page (11.4.1,
 *    table 11-1), 8-bit APIC ids, ICR written as two dwords;
 *  - x2APIC: the same registers as MSRs 0x800 + offset / 16 (11.12.1.2,
 *    table 11-6), 32-bit ids, the ICR one 64-bit MSR, LDR read-only.
 * Every access goes through the platform hooks, so the sim's model and real
 * hardware see exactly the same register traffic.
 *
 * The mode and base are written by HlLapicSelectMode before any CPU touches
 * its local APIC and are only read afterwards (relaxed atomics: the boot
 * sequence orders the write before every other CPU starts). Once a CPU has
 * enabled its local APIC or registered, HlLapicSelectMode refuses.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "hlp.h"

/* ---- Register map (SDM vol. 3A 11.4.1 table 11-1; x2APIC: 11.12.1.2 table 11-6) */

#define LAPIC_ID 0x020u       /* xAPIC: bits 31:24; x2APIC: all 32 bits (11.4.6, 11.12.5.1) */
#define LAPIC_TPR 0x080u      /* 11.8.3.1: bits 7:0 */
#define LAPIC_EOI 0x0B0u      /* 11.8.5: write 0 */
#define LAPIC_LDR 0x0D0u      /* 11.6.2.2: xAPIC bits 31:24; x2APIC read-only (11.12.10.2) */
#define LAPIC_DFR 0x0E0u      /* 11.6.2.2: bits 31:28 model; xAPIC only */
#define LAPIC_SVR 0x0F0u      /* 11.9: spurious vector 7:0, software enable 8 */
#define LAPIC_ISR 0x100u      /* 11.8.4: eight 32-bit registers, 16 bytes apart */
#define LAPIC_IRR 0x200u      /* 11.8.4: the same layout */
#define LAPIC_ESR 0x280u      /* 11.5.3: write before read */
#define LAPIC_ICR_LOW 0x300u  /* 11.6.1 */
#define LAPIC_ICR_HIGH 0x310u /* 11.6.1: destination in bits 31:24 (xAPIC only) */
#define LAPIC_LVT_LINT0 0x350u /* 11.5.1 */
#define LAPIC_LVT_LINT1 0x360u

#define X2APIC_MSR_BASE 0x800u /* MSR = 0x800 + offset / 16 */
#define X2APIC_MSR_ICR 0x830u  /* the whole 64-bit ICR (11.12.9) */
#define IA32_APIC_BASE 0x01Bu  /* 11.4.4: global enable and x2APIC enable */

#define IA32_APIC_BASE_EXTD (1ull << 10) /* x2APIC mode (11.12.1) */
#define IA32_APIC_BASE_EN (1ull << 11)   /* APIC global enable */

#define LAPIC_ID_SHIFT 24u
#define LAPIC_LDR_SHIFT 24u
#define LAPIC_DFR_FLAT 0xFFFFFFFFu /* model 1111b, the rest reserved as ones */
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_LVT_MODE_NMI (4u << 8)

/* ICR low dword (11.6.1, figure 11-12). */
#define ICR_VECTOR_MASK 0xFFu
#define ICR_DELIVERY_MODE_SHIFT 8u
#define ICR_DELIVERY_STATUS (1u << 12) /* xAPIC only: 1 = send pending */
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_SHORTHAND_SHIFT 18u
#define ICR_DESTINATION_SHIFT 24u /* of the xAPIC high dword */

/* The flat logical model has one bit per CPU in LDR[31:24] (11.6.2.2). */
#define HLP_FLAT_LOGICAL_CPUS 8u
/* 0xFF is the xAPIC physical broadcast; ids above it need x2APIC. */
#define HLP_XAPIC_MAX_DESTINATION 0xFFu
/* Vectors 0-15 are illegal in a fixed message (11.5.3, "Send Illegal
 * Vector"); 0-31 are the CPU's exceptions and cannot be the spurious vector. */
#define HLP_FIRST_LEGAL_VECTOR 0x10u
#define HLP_FIRST_SPURIOUS_VECTOR 0x20u
/* Polls of the delivery status before an xAPIC ICR write. QEMU never shows
 * it busy; real hardware clears it within microseconds. */
#define HLP_ICR_IDLE_POLLS 1000000u
/* A base must be page aligned (IA32_APIC_BASE bits 35:12). */
#define HLP_XAPIC_BASE_ALIGN 0x1000u

static _Atomic uint32_t HlpLapicMode = HlLapicModeXApic;
static _Atomic uintptr_t HlpLapicBase = HL_LAPIC_DEFAULT_BASE;
/* Set by the first CPU that enables its local APIC in the selected mode;
 * from then on the mode and base are fixed (until HlResetHardwareLayer). */
static _Atomic bool HlpLapicInUse;

/* ---- Register access ---------------------------------------------------------- */

static bool HlpIsX2Apic(void)
{
    return atomic_load_explicit(&HlpLapicMode, memory_order_relaxed) == HlLapicModeX2Apic;
}

static uint32_t HlpLapicRead(uint32_t Offset)
{
    if (HlpIsX2Apic())
        return (uint32_t)PlatReadMsr(X2APIC_MSR_BASE + Offset / 16u);
    return PlatMmioRead32(atomic_load_explicit(&HlpLapicBase, memory_order_relaxed) + Offset);
}

static void HlpLapicWrite(uint32_t Offset, uint32_t Value)
{
    if (HlpIsX2Apic())
        PlatWriteMsr(X2APIC_MSR_BASE + Offset / 16u, Value);
    else
        PlatMmioWrite32(atomic_load_explicit(&HlpLapicBase, memory_order_relaxed) + Offset, Value);
}

/* ---- Mode --------------------------------------------------------------------- */

/* Whether a CPU is already running on the selection: one enabled its local
 * APIC (in that mode, at that base), or one was registered (its APIC id was
 * checked against that mode, HlRegisterProcessor). Moving either under it
 * would leave its APIC in the other mode, or its register accesses going to
 * a page that is not its APIC. */
static bool HlpLapicSelectionInUse(void)
{
    return atomic_load_explicit(&HlpLapicInUse, memory_order_relaxed) || HlGetProcessorLimit() != 0;
}

IRQ_STATUS HlLapicSelectMode(HL_LAPIC_MODE Mode, uintptr_t XApicBase)
{
    if (Mode != HlLapicModeXApic && Mode != HlLapicModeX2Apic)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Mode == HlLapicModeXApic && (XApicBase == 0 || XApicBase % HLP_XAPIC_BASE_ALIGN != 0))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (HlpLapicSelectionInUse())
        return IRQ_STATUS_INVALID_STATE;
    if (Mode == HlLapicModeXApic)
        atomic_store_explicit(&HlpLapicBase, XApicBase, memory_order_relaxed);
    atomic_store_explicit(&HlpLapicMode, (uint32_t)Mode, memory_order_relaxed);
    return IRQ_STATUS_SUCCESS;
}

HL_LAPIC_MODE HlLapicGetMode(void)
{
    return HlpIsX2Apic() ? HlLapicModeX2Apic : HlLapicModeXApic;
}

void HlpResetLapic(void)
{
    atomic_store_explicit(&HlpLapicInUse, false, memory_order_relaxed);
}

/* ---- Processor initialisation ------------------------------------------------- */

/* The IA32_APIC_BASE state machine (SDM 11.12.5, figure 11-27): from reset
 * the APIC is enabled in xAPIC mode; x2APIC is entered from xAPIC by setting
 * EXTD with EN still set (from disabled, EN and EXTD together #GP); x2APIC
 * is left only through disabled (EN and EXTD clear), which resets the APIC.
 * Firmware may hand over a CPU disabled, in xAPIC mode, or already in
 * x2APIC mode (SeaBIOS does so with more than 255 CPUs, and INIT keeps the
 * mode). Until this CPU is in the selected mode, neither the x2APIC MSRs
 * (#GP in xAPIC mode, 11.12.1.2) nor the MMIO page (not decoded in x2APIC
 * mode) may be touched: this is the first access every CPU makes. */
IRQ_STATUS HlLapicEnable(void)
{
    uint64_t Base = PlatReadMsr(IA32_APIC_BASE);
    bool InX2Apic = (Base & IA32_APIC_BASE_EXTD) != 0;
    if (InX2Apic && !HlpIsX2Apic())
        return IRQ_STATUS_INVALID_STATE;
    if ((Base & IA32_APIC_BASE_EN) == 0) {
        Base |= IA32_APIC_BASE_EN;
        PlatWriteMsr(IA32_APIC_BASE, Base);
    }
    if (HlpIsX2Apic() && !InX2Apic)
        PlatWriteMsr(IA32_APIC_BASE, Base | IA32_APIC_BASE_EXTD);
    atomic_store_explicit(&HlpLapicInUse, true, memory_order_relaxed);
    return IRQ_STATUS_SUCCESS;
}

/* xAPIC flat model (11.6.2.2): DFR model 1111b and one LDR bit per CPU for
 * the first eight; the others get no logical id and are reached physically.
 * x2APIC: the LDR is derived from the id and read-only (11.12.10.2). Both
 * are programmed while the APIC is still software-disabled, before any
 * logical message could be matched against a half-written LDR. */
static uint32_t HlpProgramLogicalId(uint32_t Cpu)
{
    if (HlpIsX2Apic())
        return HlpLapicRead(LAPIC_LDR);
    uint32_t LogicalId = Cpu < HLP_FLAT_LOGICAL_CPUS ? 1u << Cpu : 0u;
    HlpLapicWrite(LAPIC_DFR, LAPIC_DFR_FLAT);
    HlpLapicWrite(LAPIC_LDR, LogicalId << LAPIC_LDR_SHIFT);
    return LogicalId;
}

/* LINT0 is masked because SeaBIOS leaves ExtINT (the 8259) there on the BSP
 * and the 8259 is not used; LINT1 stays the NMI input, which is what the
 * MADT's LAPIC NMI entry says. LVT mask bits cannot be
 * cleared while the APIC is software-disabled (11.4.7.2), so this runs after
 * the SVR write. */
static void HlpProgramLocalInterrupts(void)
{
    HlpLapicWrite(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
    HlpLapicWrite(LAPIC_LVT_LINT1, LAPIC_LVT_MODE_NMI);
}

IRQ_STATUS HlLapicInitializeProcessor(uint32_t Cpu, uint8_t SpuriousVector)
{
    if (Cpu >= IR_MAX_CPUS)
        return IRQ_STATUS_INVALID_CPU;
    if (SpuriousVector < HLP_FIRST_SPURIOUS_VECTOR)
        return IRQ_STATUS_INVALID_VECTOR;
    IRQ_STATUS Status = HlLapicEnable();
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    HlpLapicWrite(LAPIC_TPR, 0);
    uint32_t LogicalId = HlpProgramLogicalId(Cpu);
    HlpLapicWrite(LAPIC_SVR, LAPIC_SVR_ENABLE | SpuriousVector);
    HlpProgramLocalInterrupts();
    /* The ESR latches errors on a write (11.5.3): clear what firmware left. */
    HlpLapicWrite(LAPIC_ESR, 0);
    HlpSetProcessorLogicalId(Cpu, LogicalId);
    return IRQ_STATUS_SUCCESS;
}

/* ---- Per-CPU registers --------------------------------------------------------- */

uint32_t HlLapicReadId(void)
{
    uint32_t Id = HlpLapicRead(LAPIC_ID);
    return HlpIsX2Apic() ? Id : Id >> LAPIC_ID_SHIFT;
}

/* The logical destination registers as this CPU's local APIC holds them
 * (SDM 11.6.2.2): what logical fixed delivery matches against. x2APIC has
 * no DFR (its LDR is the cluster form, 11.12.10.2): Dfr reads 0 there. */
IRQ_STATUS HlLapicReadLogicalDestination(uint32_t *Ldr, uint32_t *Dfr)
{
    if (Ldr == NULL || Dfr == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    *Ldr = HlpLapicRead(LAPIC_LDR);
    *Dfr = HlpIsX2Apic() ? 0u : HlpLapicRead(LAPIC_DFR);
    return IRQ_STATUS_SUCCESS;
}

void HlLapicEndOfInterrupt(void)
{
    HlpLapicWrite(LAPIC_EOI, 0);
}

void HlLapicWriteTaskPriority(uint8_t Tpr)
{
    HlpLapicWrite(LAPIC_TPR, Tpr);
}

/* Vector v is bit v % 32 of the (v / 32)th register of each array. */
bool HlLapicIsVectorPending(uint8_t Vector)
{
    uint32_t Offset = (uint32_t)(Vector / 32u) * 16u;
    uint32_t Bit = 1u << (Vector % 32u);
    return ((HlpLapicRead(LAPIC_IRR + Offset) | HlpLapicRead(LAPIC_ISR + Offset)) & Bit) != 0;
}

uint8_t HlLapicReadTaskPriority(void)
{
    return (uint8_t)HlpLapicRead(LAPIC_TPR);
}

/* ---- Inter-processor interrupts (11.6) ------------------------------------------ */

static bool HlpDeliveryModeIsValid(HL_DELIVERY_MODE Mode)
{
    /* ICR delivery modes 011 and 111 are reserved (11.6.1). */
    return Mode == HlDeliveryFixed || Mode == HlDeliveryLowestPriority || Mode == HlDeliverySmi ||
           Mode == HlDeliveryNmi || Mode == HlDeliveryInit || Mode == HlDeliveryStartup;
}

/* The self and all-including-self shorthands carry fixed interrupts only
 * (11.6.1, "Valid Combinations for the Pentium 4 and Intel Xeon Processors'
 * Local xAPIC Interrupt Command Register"). */
static bool HlpShorthandIsValid(HL_IPI_SHORTHAND Shorthand, HL_DELIVERY_MODE Mode)
{
    switch (Shorthand) {
    case HlIpiNoShorthand:
    case HlIpiAllExcludingSelf:
        return true;
    case HlIpiSelf:
    case HlIpiAllIncludingSelf:
        return Mode == HlDeliveryFixed;
    default:
        return false;
    }
}

/* Fixed and lowest-priority IPIs carry an interrupt vector; a start-up IPI
 * carries the page number of the AP's entry (vector VV starts it at
 * 0xVV000); SMI's vector "must be 00H", NMI's and INIT's is ignored. */
static IRQ_STATUS HlpIpiVectorField(HL_DELIVERY_MODE Mode, uint8_t Vector, uint32_t *Field)
{
    *Field = 0;
    if (Mode == HlDeliveryStartup) {
        *Field = Vector;
    } else if (Mode == HlDeliveryFixed || Mode == HlDeliveryLowestPriority) {
        if (Vector < HLP_FIRST_LEGAL_VECTOR)
            return IRQ_STATUS_INVALID_VECTOR;
        *Field = Vector;
    }
    return IRQ_STATUS_SUCCESS;
}

/* Physical destination mode, edge. The level bit must be 1 for every mode
 * but INIT level de-assert (11.6.1), which Pentium 4 and later processors
 * do not support and this API does not offer: INIT here is the assert form
 * that starts the INIT-SIPI-SIPI sequence (8.4.4.1). */
static uint32_t HlpIcrLow(HL_IPI_SHORTHAND Shorthand, HL_DELIVERY_MODE Mode, uint32_t VectorField)
{
    return VectorField | (uint32_t)Mode << ICR_DELIVERY_MODE_SHIFT | ICR_LEVEL_ASSERT |
           (uint32_t)Shorthand << ICR_SHORTHAND_SHIFT;
}

static bool HlpWaitIcrIdle(void)
{
    for (uint32_t Poll = 0; Poll < HLP_ICR_IDLE_POLLS; Poll++) {
        if ((HlpLapicRead(LAPIC_ICR_LOW) & ICR_DELIVERY_STATUS) == 0)
            return true;
        PlatCpuRelax();
    }
    return false;
}

/* xAPIC: two writes, high dword first because the low write sends. An
 * interrupt handler that sent an IPI between them would replace the
 * destination, so the pair (and the wait before it) runs with interrupts
 * disabled. A previous IPI still pending after the bounded wait is reported
 * rather than overwritten. */
static IRQ_STATUS HlpSendXApic(uint32_t Destination, uint32_t IcrLow)
{
    bool WasEnabled = PlatDisableInterrupts();
    bool Idle = HlpWaitIcrIdle();
    if (Idle) {
        HlpLapicWrite(LAPIC_ICR_HIGH, Destination << ICR_DESTINATION_SHIFT);
        HlpLapicWrite(LAPIC_ICR_LOW, IcrLow);
    }
    PlatRestoreInterrupts(WasEnabled);
    return Idle ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_STATE;
}

/* x2APIC: one WRMSR of the whole ICR, destination in bits 63:32; there is
 * no delivery status to wait for (11.12.9). */
static void HlpSendX2Apic(uint32_t Destination, uint32_t IcrLow)
{
    PlatWriteMsr(X2APIC_MSR_ICR, (uint64_t)Destination << 32 | IcrLow);
}

IRQ_STATUS HlLapicSendIpi(uint32_t DestinationApicId, HL_IPI_SHORTHAND Shorthand, HL_DELIVERY_MODE DeliveryMode,
                          uint8_t Vector)
{
    if (!HlpDeliveryModeIsValid(DeliveryMode) || !HlpShorthandIsValid(Shorthand, DeliveryMode))
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t VectorField;
    IRQ_STATUS Status = HlpIpiVectorField(DeliveryMode, Vector, &VectorField);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* With a shorthand the destination field is ignored (11.6.1). */
    uint32_t Destination = Shorthand == HlIpiNoShorthand ? DestinationApicId : 0u;
    uint32_t IcrLow = HlpIcrLow(Shorthand, DeliveryMode, VectorField);
    if (HlpIsX2Apic()) {
        HlpSendX2Apic(Destination, IcrLow);
        return IRQ_STATUS_SUCCESS;
    }
    if (Destination > HLP_XAPIC_MAX_DESTINATION)
        return IRQ_STATUS_INVALID_CPU;
    return HlpSendXApic(Destination, IcrLow);
}
