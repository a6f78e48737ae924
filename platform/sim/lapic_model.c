/*
 * Sim model of the local APIC (Intel SDM vol. 3A chapter 11), one per CPU,
 * as QEMU 7.2 presents it: version 0x14 with six LVT entries and no
 * EOI-broadcast suppression (version register 0x00050014). The same register
 * file is reached as xAPIC MMIO (11.4.1, table 11-1) or as x2APIC MSRs
 * (11.12.1.2, table 11-6); which one is fixed when the sim is created.
 *
 * What is modelled:
 *  - IRR/ISR/TMR (11.8.4), TPR/APR/PPR (11.8.3.1), EOI with the broadcast to
 *    the I/O APICs for level vectors (11.8.5), SVR and the software-disabled
 *    state (11.4.7.2), ESR (11.5.3), LDR/DFR (11.6.2.2; x2APIC: derived LDR,
 *    11.12.10.2), the ICR and SELF IPI (11.6.1, 11.12.11);
 *  - the LVT registers are stored (mask rules included) but nothing fires
 *    through them: there are no LINT pins, no timer countdown (the current
 *    count reads 0), no thermal or performance events;
 *  - NMI, SMI, ExtINT, INIT and start-up messages are recorded, not acted on:
 *    a CPU here is a host thread and cannot be reset or started. As QEMU
 *    does, a start-up IPI counts only after an INIT (the CPU is then in
 *    wait-for-SIPI) and a second one is ignored.
 *
 * Software-disabled (SVR bit 8 clear, the reset state): the APIC "will
 * respond normally to INIT, NMI, SMI and start-up messages" (11.4.7.2); fixed
 * and lowest-priority messages are refused and never enter the IRR (they are
 * not counted as delivered), and vectors already in the IRR are held, not
 * accepted by the CPU, until software enables the APIC again (QEMU's
 * apic_get_interrupt does the same). The LVT mask bits are set and stay set.
 *
 * Concurrency. Any thread may deliver a message to any LAPIC; only the CPU's
 * owner (the thread attached to it or its service thread, sim_cpu.c) reads
 * or writes its registers, acknowledges and EOIs. Hence:
 *  - IRR bits are set with an atomic OR by anyone and cleared (IRR -> ISR)
 *    with an atomic AND by the owner; the TMR bit is written before the IRR
 *    bit is published (release), so the owner's acquire of IRR sees it;
 *  - ISR and every register are written by the owner only; they are atomics
 *    because the bus (logical match, lowest-priority arbitration) and the
 *    inspection functions read them from other threads.
 * No lock is taken here, so the model can be called with an I/O APIC's
 * mutex held and never calls back into a caller's lock (the EOI broadcast
 * goes to the I/O APIC model from the owner, which holds no sim lock).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"
#include "sim_internal.h"

/* ---- Register map (SDM vol. 3A 11.4.1 table 11-1; MSR = 0x800 + offset / 16) ---- */

#define LAPIC_ID 0x020u
#define LAPIC_VERSION 0x030u
#define LAPIC_TPR 0x080u
#define LAPIC_APR 0x090u /* xAPIC only */
#define LAPIC_PPR 0x0A0u
#define LAPIC_EOI 0x0B0u /* write-only */
#define LAPIC_RRD 0x0C0u /* remote read: not supported on Pentium 4 and later */
#define LAPIC_LDR 0x0D0u
#define LAPIC_DFR 0x0E0u /* xAPIC only */
#define LAPIC_SVR 0x0F0u
#define LAPIC_ISR 0x100u /* 8 registers, 0x100-0x170 */
#define LAPIC_TMR 0x180u /* 0x180-0x1F0 */
#define LAPIC_IRR 0x200u /* 0x200-0x270 */
#define LAPIC_ESR 0x280u
#define LAPIC_ICR_LOW 0x300u
#define LAPIC_ICR_HIGH 0x310u /* xAPIC only */
#define LAPIC_LVT_TIMER 0x320u
#define LAPIC_LVT_THERMAL 0x330u
#define LAPIC_LVT_PERF 0x340u
#define LAPIC_LVT_LINT0 0x350u
#define LAPIC_LVT_LINT1 0x360u
#define LAPIC_LVT_ERROR 0x370u
#define LAPIC_TIMER_INITIAL 0x380u
#define LAPIC_TIMER_CURRENT 0x390u
#define LAPIC_TIMER_DIVIDE 0x3E0u
#define LAPIC_SELF_IPI 0x3F0u /* x2APIC only, write-only (11.12.11) */
#define LAPIC_REGISTER_SPACE 0x400u

#define X2APIC_MSR_FIRST 0x800u
#define X2APIC_MSR_LAST 0x8FFu
#define X2APIC_MSR_ICR 0x830u

/* Version register (11.4.8): version 0x14, max LVT entry 5, bit 24 (EOI-
 * broadcast suppression) clear. */
#define LAPIC_VERSION_VALUE 0x00050014u

#define LAPIC_ID_SHIFT 24u
#define LAPIC_TPR_MASK 0xFFu
#define LAPIC_CLASS_MASK 0xF0u
#define LAPIC_LDR_XAPIC_MASK 0xFF000000u
#define LAPIC_DFR_WRITABLE 0xF0000000u
#define LAPIC_DFR_RESET 0xFFFFFFFFu
#define LAPIC_SVR_RESET 0x000000FFu
#define LAPIC_SVR_ENABLE (1u << 8)
/* Vector, enable, focus processor checking; bit 12 (EOI-broadcast
 * suppression) is reserved on this version. */
#define LAPIC_SVR_WRITABLE 0x000003FFu
#define LAPIC_TIMER_DIVIDE_WRITABLE 0x0000000Bu

/* ESR bits (11.5.3, figure 11-9). */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECEIVE_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

/* LVT (11.5.1, figure 11-8). */
#define LVT_MASKED (1u << 16)
#define LVT_RESET LVT_MASKED
#define LVT_COUNT 6u

/* ICR (11.6.1, figure 11-12). */
#define ICR_VECTOR_MASK 0xFFu
#define ICR_DELIVERY_MODE_SHIFT 8u
#define ICR_DELIVERY_MODE_MASK 0x7u
#define ICR_DESTINATION_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_SHORTHAND_SHIFT 18u
#define ICR_SHORTHAND_MASK 0x3u
/* Vector, delivery mode, destination mode, level, trigger, shorthand; the
 * delivery status (12) reads 0: a message leaves at the write. */
#define ICR_LOW_WRITABLE 0x000CCFFFu
#define ICR_HIGH_XAPIC_WRITABLE 0xFF000000u

#define MODE_FIXED 0u
#define MODE_LOWEST_PRIORITY 1u
#define MODE_INIT 5u
#define MODE_STARTUP 6u
#define MODE_COUNT 8u

/* Vectors 0-15 are illegal in a message (11.5.3). */
#define FIRST_LEGAL_VECTOR 0x10u
#define VECTOR_WORDS 8u

typedef struct _SIMP_LVT_REGISTER {
    uint32_t Offset;
    uint32_t Writable; /* figure 11-8; read-only status bits excluded */
} SIMP_LVT_REGISTER;

static const SIMP_LVT_REGISTER SimpLvtRegisters[LVT_COUNT] = {
    {LAPIC_LVT_TIMER, 0x000700FFu},   /* vector, mask, timer mode */
    {LAPIC_LVT_THERMAL, 0x000107FFu}, /* vector, delivery mode, mask */
    {LAPIC_LVT_PERF, 0x000107FFu},
    {LAPIC_LVT_LINT0, 0x0001A7FFu},   /* + polarity, trigger mode */
    {LAPIC_LVT_LINT1, 0x0001A7FFu},
    {LAPIC_LVT_ERROR, 0x000100FFu},   /* vector, mask */
};

typedef struct _SIMP_LAPIC {
    uint32_t ApicId; /* fixed at creation: the model does not let software move it */
    _Atomic uint32_t Irr[VECTOR_WORDS];
    _Atomic uint32_t Isr[VECTOR_WORDS];
    _Atomic uint32_t Tmr[VECTOR_WORDS];
    _Atomic uint32_t Tpr;
    _Atomic uint32_t Ldr; /* xAPIC; x2APIC derives it from the id */
    _Atomic uint32_t Dfr;
    _Atomic uint32_t Svr;
    _Atomic uint32_t Esr;          /* what software reads */
    _Atomic uint32_t EsrPending;   /* errors since the last ESR write */
    _Atomic uint32_t IcrLow;
    _Atomic uint32_t IcrHigh;      /* xAPIC bits 31:24, x2APIC the whole destination */
    _Atomic uint32_t Lvt[LVT_COUNT];
    _Atomic uint32_t TimerInitial;
    _Atomic uint32_t TimerDivide;
    _Atomic bool WaitForStartup;   /* INIT received, no start-up IPI since */
    _Atomic uint32_t StartupVector;
    _Atomic uint64_t Received[MODE_COUNT]; /* messages taken, by delivery mode */
    _Atomic uint64_t DeviceDelivered;      /* from an I/O APIC or MSI, into the IRR */
    _Atomic uint64_t EoiCount;
} SIMP_LAPIC;

static SIMP_LAPIC *SimpLapics;
static uint32_t SimpLapicCount;
static bool SimpX2Apic;

static SIMP_LAPIC *SimpLapic(uint32_t Cpu)
{
    if (Cpu >= SimpLapicCount) {
        fprintf(stderr, "sim: CPU %u has no local APIC (the sim has %u CPUs)\n", Cpu, SimpLapicCount);
        abort();
    }
    return &SimpLapics[Cpu];
}

/* ---- 256-bit vector registers ------------------------------------------------ */

static uint32_t SimpVectorBit(uint8_t Vector)
{
    return 1u << (Vector % 32u);
}

static bool SimpTestVector(_Atomic uint32_t *Words, uint8_t Vector)
{
    return (atomic_load_explicit(&Words[Vector / 32u], memory_order_acquire) & SimpVectorBit(Vector)) != 0;
}

/* Highest set vector, or -1. */
static int SimpHighestVector(_Atomic uint32_t *Words)
{
    for (int Word = VECTOR_WORDS - 1; Word >= 0; Word--) {
        uint32_t Bits = atomic_load_explicit(&Words[Word], memory_order_acquire);
        if (Bits != 0)
            return Word * 32 + 31 - __builtin_clz(Bits);
    }
    return -1;
}

/* ---- Priorities (11.8.3.1) ----------------------------------------------------- */

static uint32_t SimpTpr(SIMP_LAPIC *Lapic)
{
    return atomic_load_explicit(&Lapic->Tpr, memory_order_relaxed);
}

/* The priority class (bits 7:4) of a vector, 0 for none. */
static uint32_t SimpClass(int Vector)
{
    return Vector < 0 ? 0u : (uint32_t)Vector & LAPIC_CLASS_MASK;
}

/* PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4: the CPU takes a
 * vector only when its class is above this one. */
static uint32_t SimpPpr(SIMP_LAPIC *Lapic)
{
    uint32_t Tpr = SimpTpr(Lapic);
    uint32_t IsrClass = SimpClass(SimpHighestVector(Lapic->Isr));
    return (Tpr & LAPIC_CLASS_MASK) >= IsrClass ? Tpr : IsrClass;
}

/* APR (11.8.3, figure 11-15, P6 family arbitration): TPR when it is at or
 * above both the highest IRR and ISR classes, else the highest of the three
 * classes. Only read back here: arbitration uses the TPR class (sim_bus.c). */
static uint32_t SimpApr(SIMP_LAPIC *Lapic)
{
    uint32_t Tpr = SimpTpr(Lapic);
    uint32_t IrrClass = SimpClass(SimpHighestVector(Lapic->Irr));
    uint32_t IsrClass = SimpClass(SimpHighestVector(Lapic->Isr));
    uint32_t TprClass = Tpr & LAPIC_CLASS_MASK;
    if (TprClass >= IrrClass && TprClass > IsrClass)
        return Tpr;
    uint32_t Highest = TprClass > IrrClass ? TprClass : IrrClass;
    return Highest > IsrClass ? Highest : IsrClass;
}

static bool SimpSoftwareEnabled(SIMP_LAPIC *Lapic)
{
    return (atomic_load_explicit(&Lapic->Svr, memory_order_relaxed) & LAPIC_SVR_ENABLE) != 0;
}

static uint32_t SimpLogicalDestination(SIMP_LAPIC *Lapic)
{
    /* x2APIC logical id (11.12.10.2): cluster id<<16 | bit (id & 15). */
    if (SimpX2Apic)
        return (Lapic->ApicId >> 4) << 16 | 1u << (Lapic->ApicId & 0xFu);
    return atomic_load_explicit(&Lapic->Ldr, memory_order_relaxed);
}

static void SimpRecordError(SIMP_LAPIC *Lapic, uint32_t Error)
{
    atomic_fetch_or_explicit(&Lapic->EsrPending, Error, memory_order_relaxed);
}

/* ---- Acceptance (11.8.4) ---------------------------------------------------------- */

/* "Upon acceptance of an interrupt into the IRR, the corresponding TMR bit is
 * cleared for edge-triggered interrupts and set for level-triggered
 * interrupts." The TMR write is ordered before the IRR bit by the release. */
void SimLapicModelAccept(uint32_t Cpu, uint8_t Vector, bool Level)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint32_t Bit = SimpVectorBit(Vector);
    if (Level)
        atomic_fetch_or_explicit(&Lapic->Tmr[Vector / 32u], Bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&Lapic->Tmr[Vector / 32u], ~Bit, memory_order_relaxed);
    atomic_fetch_or_explicit(&Lapic->Irr[Vector / 32u], Bit, memory_order_release);
    SimCpuKick(Cpu);
}

static bool SimpReceiveVectored(SIMP_LAPIC *Lapic, uint32_t Cpu, const SIM_APIC_MESSAGE *Message)
{
    if (!SimpSoftwareEnabled(Lapic))
        return false;
    if (Message->Vector < FIRST_LEGAL_VECTOR) {
        SimpRecordError(Lapic, ESR_RECEIVE_ILLEGAL_VECTOR);
        return false;
    }
    SimLapicModelAccept(Cpu, Message->Vector, Message->Level);
    if (Message->SourceCpu == SIM_NO_CPU)
        atomic_fetch_add_explicit(&Lapic->DeviceDelivered, 1, memory_order_relaxed);
    return true;
}

/* INIT puts the CPU in wait-for-SIPI; the first start-up IPI after it is
 * taken (its vector is the start page) and any further one ignored. */
static bool SimpReceiveStartup(SIMP_LAPIC *Lapic, const SIM_APIC_MESSAGE *Message)
{
    if (!atomic_exchange_explicit(&Lapic->WaitForStartup, false, memory_order_relaxed))
        return false;
    atomic_store_explicit(&Lapic->StartupVector, Message->Vector, memory_order_relaxed);
    return true;
}

bool SimLapicModelReceive(uint32_t Cpu, const SIM_APIC_MESSAGE *Message)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint32_t Mode = Message->DeliveryMode & ICR_DELIVERY_MODE_MASK;
    bool Taken = true;
    bool IntoIrr = false;
    if (Mode == MODE_FIXED || Mode == MODE_LOWEST_PRIORITY)
        Taken = IntoIrr = SimpReceiveVectored(Lapic, Cpu, Message);
    else if (Mode == MODE_STARTUP)
        Taken = SimpReceiveStartup(Lapic, Message);
    else if (Mode == MODE_INIT)
        atomic_store_explicit(&Lapic->WaitForStartup, true, memory_order_relaxed);
    if (Taken)
        atomic_fetch_add_explicit(&Lapic->Received[Mode], 1, memory_order_relaxed);
    return IntoIrr;
}

int SimLapicModelDeliverable(uint32_t Cpu)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    if (!SimpSoftwareEnabled(Lapic))
        return -1;
    int Irrv = SimpHighestVector(Lapic->Irr);
    if (Irrv < 0 || SimpClass(Irrv) <= (SimpPpr(Lapic) & LAPIC_CLASS_MASK))
        return -1;
    return Irrv;
}

/* INTA: the owner moves the vector IRR -> ISR. A message for the same vector
 * that arrives after the clear sets the IRR bit again: one held in the IRR
 * and one in service, as on hardware. */
int SimLapicModelAcknowledge(uint32_t Cpu)
{
    int Vector = SimLapicModelDeliverable(Cpu);
    if (Vector < 0)
        return -1;
    SIMP_LAPIC *Lapic = &SimpLapics[Cpu];
    uint32_t Bit = SimpVectorBit((uint8_t)Vector);
    atomic_fetch_and_explicit(&Lapic->Irr[Vector / 32], ~Bit, memory_order_acq_rel);
    atomic_fetch_or_explicit(&Lapic->Isr[Vector / 32], Bit, memory_order_release);
    return Vector;
}

/* EOI (11.8.5): clears the highest ISR bit; a level vector (TMR set) is
 * broadcast to the I/O APICs, which clear Remote IRR. */
static void SimpEndOfInterrupt(SIMP_LAPIC *Lapic)
{
    atomic_fetch_add_explicit(&Lapic->EoiCount, 1, memory_order_relaxed);
    int Vector = SimpHighestVector(Lapic->Isr);
    if (Vector < 0)
        return;
    uint32_t Bit = SimpVectorBit((uint8_t)Vector);
    atomic_fetch_and_explicit(&Lapic->Isr[Vector / 32], ~Bit, memory_order_release);
    if (SimpTestVector(Lapic->Tmr, (uint8_t)Vector))
        SimIoApicModelEoi((uint8_t)Vector);
}

/* ---- Sending (11.6.1) ---------------------------------------------------------------- */

/* Sends what the ICR holds. IPIs are edge messages: the trigger bit only
 * qualifies INIT level de-assert, which (unsupported since the Pentium 4)
 * reaches no CPU. A fixed or lowest-priority vector below 16 is not sent and
 * sets "send illegal vector". The delivery status never reads busy. */
static void SimpSendIcr(SIMP_LAPIC *Lapic, uint32_t Cpu)
{
    uint32_t Low = atomic_load_explicit(&Lapic->IcrLow, memory_order_relaxed);
    uint32_t High = atomic_load_explicit(&Lapic->IcrHigh, memory_order_relaxed);
    SIM_APIC_MESSAGE Message = {
        .Destination = SimpX2Apic ? High : High >> LAPIC_ID_SHIFT,
        .Logical = (Low & ICR_DESTINATION_LOGICAL) != 0,
        .DeliveryMode = (uint8_t)((Low >> ICR_DELIVERY_MODE_SHIFT) & ICR_DELIVERY_MODE_MASK),
        .Vector = (uint8_t)(Low & ICR_VECTOR_MASK),
        .Level = false,
        .Shorthand = (uint8_t)((Low >> ICR_SHORTHAND_SHIFT) & ICR_SHORTHAND_MASK),
        .SourceCpu = Cpu,
    };
    bool Vectored = Message.DeliveryMode == MODE_FIXED || Message.DeliveryMode == MODE_LOWEST_PRIORITY;
    if (Vectored && Message.Vector < FIRST_LEGAL_VECTOR) {
        SimpRecordError(Lapic, ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    bool InitDeassert = Message.DeliveryMode == MODE_INIT && (Low & ICR_LEVEL_ASSERT) == 0 &&
                        (Low & ICR_TRIGGER_LEVEL) != 0;
    if (InitDeassert)
        return;
    (void)SimBusDeliver(&Message);
}

/* SELF IPI (11.12.11): a fixed, edge interrupt to this APIC. */
static void SimpSendSelf(SIMP_LAPIC *Lapic, uint32_t Cpu, uint32_t Vector)
{
    SIM_APIC_MESSAGE Message = {
        .Destination = Lapic->ApicId,
        .DeliveryMode = MODE_FIXED,
        .Vector = (uint8_t)(Vector & ICR_VECTOR_MASK),
        .Shorthand = 1,
        .SourceCpu = Cpu,
    };
    if (Message.Vector < FIRST_LEGAL_VECTOR) {
        SimpRecordError(Lapic, ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    (void)SimBusDeliver(&Message);
}

/* ---- Registers -------------------------------------------------------------------------- */

static const SIMP_LVT_REGISTER *SimpFindLvt(uint32_t Offset, uint32_t *Index)
{
    for (uint32_t Lvt = 0; Lvt < LVT_COUNT; Lvt++) {
        if (SimpLvtRegisters[Lvt].Offset == Offset) {
            *Index = Lvt;
            return &SimpLvtRegisters[Lvt];
        }
    }
    return NULL;
}

/* ISR, TMR and IRR: eight read-only registers each. */
static _Atomic uint32_t *SimpFindVectorRegister(SIMP_LAPIC *Lapic, uint32_t Offset)
{
    if (Offset >= LAPIC_ISR && Offset < LAPIC_TMR)
        return &Lapic->Isr[(Offset - LAPIC_ISR) / 16u];
    if (Offset >= LAPIC_TMR && Offset < LAPIC_IRR)
        return &Lapic->Tmr[(Offset - LAPIC_TMR) / 16u];
    if (Offset >= LAPIC_IRR && Offset < LAPIC_ESR)
        return &Lapic->Irr[(Offset - LAPIC_IRR) / 16u];
    return NULL;
}

/* Registers that exist in one mode only (tables 11-1 and 11-6). */
static bool SimpRegisterExists(uint32_t Offset)
{
    switch (Offset) {
    case LAPIC_APR:
    case LAPIC_DFR:
    case LAPIC_ICR_HIGH:
        return !SimpX2Apic;
    case LAPIC_SELF_IPI:
        return SimpX2Apic;
    case LAPIC_RRD:
        return false;
    default:
        return true;
    }
}

/* Reads a register that holds a plain value; false when there is none at
 * Offset (write-only registers included). */
static bool SimpReadRegister(SIMP_LAPIC *Lapic, uint32_t Offset, uint32_t *Value)
{
    uint32_t Index;
    _Atomic uint32_t *Vectors = SimpFindVectorRegister(Lapic, Offset);
    if (Vectors != NULL) {
        *Value = atomic_load_explicit(Vectors, memory_order_acquire);
        return true;
    }
    if (SimpFindLvt(Offset, &Index) != NULL) {
        *Value = atomic_load_explicit(&Lapic->Lvt[Index], memory_order_relaxed);
        return true;
    }
    if (!SimpRegisterExists(Offset))
        return false;
    switch (Offset) {
    case LAPIC_ID: *Value = SimpX2Apic ? Lapic->ApicId : Lapic->ApicId << LAPIC_ID_SHIFT; return true;
    case LAPIC_VERSION: *Value = LAPIC_VERSION_VALUE; return true;
    case LAPIC_TPR: *Value = SimpTpr(Lapic); return true;
    case LAPIC_APR: *Value = SimpApr(Lapic); return true;
    case LAPIC_PPR: *Value = SimpPpr(Lapic); return true;
    case LAPIC_LDR: *Value = SimpLogicalDestination(Lapic); return true;
    case LAPIC_DFR: *Value = atomic_load_explicit(&Lapic->Dfr, memory_order_relaxed); return true;
    case LAPIC_SVR: *Value = atomic_load_explicit(&Lapic->Svr, memory_order_relaxed); return true;
    case LAPIC_ESR: *Value = atomic_load_explicit(&Lapic->Esr, memory_order_relaxed); return true;
    case LAPIC_ICR_LOW: *Value = atomic_load_explicit(&Lapic->IcrLow, memory_order_relaxed); return true;
    case LAPIC_ICR_HIGH: *Value = atomic_load_explicit(&Lapic->IcrHigh, memory_order_relaxed); return true;
    case LAPIC_TIMER_INITIAL: *Value = atomic_load_explicit(&Lapic->TimerInitial, memory_order_relaxed); return true;
    case LAPIC_TIMER_CURRENT: *Value = 0; return true;
    case LAPIC_TIMER_DIVIDE: *Value = atomic_load_explicit(&Lapic->TimerDivide, memory_order_relaxed); return true;
    default: return false;
    }
}

/* Clearing the software enable masks every LVT entry; while disabled no
 * mask bit can be cleared (11.4.7.2). */
static void SimpWriteSvr(SIMP_LAPIC *Lapic, uint32_t Value)
{
    uint32_t Svr = Value & LAPIC_SVR_WRITABLE;
    atomic_store_explicit(&Lapic->Svr, Svr, memory_order_relaxed);
    if ((Svr & LAPIC_SVR_ENABLE) == 0) {
        for (uint32_t Lvt = 0; Lvt < LVT_COUNT; Lvt++)
            atomic_fetch_or_explicit(&Lapic->Lvt[Lvt], LVT_MASKED, memory_order_relaxed);
    }
}

static void SimpWriteLvt(SIMP_LAPIC *Lapic, uint32_t Index, const SIMP_LVT_REGISTER *Lvt, uint32_t Value)
{
    Value &= Lvt->Writable;
    if (!SimpSoftwareEnabled(Lapic))
        Value |= LVT_MASKED;
    atomic_store_explicit(&Lapic->Lvt[Index], Value, memory_order_relaxed);
}

/* A write to the ESR makes the errors collected since the previous write
 * readable and starts collecting afresh (11.5.3). */
static void SimpWriteEsr(SIMP_LAPIC *Lapic)
{
    uint32_t Errors = atomic_exchange_explicit(&Lapic->EsrPending, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->Esr, Errors, memory_order_relaxed);
}

/* Writes a register; false when Offset names nothing writable. The ICR is
 * handled by the callers (its width differs between the modes). */
static bool SimpWriteRegister(SIMP_LAPIC *Lapic, uint32_t Offset, uint32_t Value)
{
    uint32_t Index;
    const SIMP_LVT_REGISTER *Lvt = SimpFindLvt(Offset, &Index);
    if (Lvt != NULL) {
        SimpWriteLvt(Lapic, Index, Lvt, Value);
        return true;
    }
    if (!SimpRegisterExists(Offset))
        return false;
    switch (Offset) {
    case LAPIC_TPR: atomic_store_explicit(&Lapic->Tpr, Value & LAPIC_TPR_MASK, memory_order_relaxed); return true;
    case LAPIC_EOI: SimpEndOfInterrupt(Lapic); return true;
    case LAPIC_LDR:
        if (SimpX2Apic)
            return false;
        atomic_store_explicit(&Lapic->Ldr, Value & LAPIC_LDR_XAPIC_MASK, memory_order_relaxed);
        return true;
    case LAPIC_DFR:
        atomic_store_explicit(&Lapic->Dfr, (Value & LAPIC_DFR_WRITABLE) | ~LAPIC_DFR_WRITABLE, memory_order_relaxed);
        return true;
    case LAPIC_SVR: SimpWriteSvr(Lapic, Value); return true;
    case LAPIC_ESR: SimpWriteEsr(Lapic); return true;
    case LAPIC_TIMER_INITIAL: atomic_store_explicit(&Lapic->TimerInitial, Value, memory_order_relaxed); return true;
    case LAPIC_TIMER_DIVIDE:
        atomic_store_explicit(&Lapic->TimerDivide, Value & LAPIC_TIMER_DIVIDE_WRITABLE, memory_order_relaxed);
        return true;
    default: return false;
    }
}

/* ---- xAPIC MMIO ------------------------------------------------------------------------- */

/* Reads of a register that does not exist, or is write-only, return 0 and
 * set "illegal register address" (11.5.3). */
uint32_t SimLapicModelMmioRead(uint32_t Cpu, uint32_t Offset)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint32_t Value = 0;
    if (Offset == LAPIC_EOI)
        return 0;
    if (Offset >= LAPIC_REGISTER_SPACE || !SimpReadRegister(Lapic, Offset, &Value))
        SimpRecordError(Lapic, ESR_ILLEGAL_REGISTER);
    return Value;
}

/* The low ICR write sends; the high one only stores the destination.
 * Writes to read-only registers are ignored; to no register, an error. */
void SimLapicModelMmioWrite(uint32_t Cpu, uint32_t Offset, uint32_t Value)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    if (Offset == LAPIC_ICR_LOW) {
        atomic_store_explicit(&Lapic->IcrLow, Value & ICR_LOW_WRITABLE, memory_order_relaxed);
        SimpSendIcr(Lapic, Cpu);
        return;
    }
    if (Offset == LAPIC_ICR_HIGH) {
        atomic_store_explicit(&Lapic->IcrHigh, Value & ICR_HIGH_XAPIC_WRITABLE, memory_order_relaxed);
        return;
    }
    uint32_t Ignored;
    if (Offset < LAPIC_REGISTER_SPACE && !SimpWriteRegister(Lapic, Offset, Value) &&
        !SimpReadRegister(Lapic, Offset, &Ignored))
        SimpRecordError(Lapic, ESR_ILLEGAL_REGISTER);
}

/* ---- x2APIC MSRs (11.12.1.2) ------------------------------------------------------------- */

/* An access the x2APIC answers with #GP(0): a driver bug, so the sim stops. */
static _Noreturn void SimpGeneralProtection(uint32_t Cpu, const char *Access, uint32_t Msr)
{
    fprintf(stderr, "sim: local APIC of CPU %u: #GP on x2APIC %s MSR 0x%X\n", Cpu, Access, Msr);
    abort();
}

static uint32_t SimpMsrOffset(uint32_t Cpu, uint32_t Msr)
{
    if (Msr < X2APIC_MSR_FIRST || Msr > X2APIC_MSR_LAST)
        SimpGeneralProtection(Cpu, "access to", Msr);
    return (Msr - X2APIC_MSR_FIRST) * 16u;
}

uint64_t SimLapicModelMsrRead(uint32_t Cpu, uint32_t Msr)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint32_t Offset = SimpMsrOffset(Cpu, Msr);
    if (Msr == X2APIC_MSR_ICR)
        return (uint64_t)atomic_load_explicit(&Lapic->IcrHigh, memory_order_relaxed) << 32 |
               atomic_load_explicit(&Lapic->IcrLow, memory_order_relaxed);
    uint32_t Value;
    if (!SimpReadRegister(Lapic, Offset, &Value))
        SimpGeneralProtection(Cpu, "read of", Msr);
    return Value;
}

/* The reserved upper half of every MSR but the ICR must be 0; EOI and the
 * ESR take 0 only (11.12.1.2, table 11-6 notes). */
void SimLapicModelMsrWrite(uint32_t Cpu, uint32_t Msr, uint64_t Value)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint32_t Offset = SimpMsrOffset(Cpu, Msr);
    if (Msr == X2APIC_MSR_ICR) {
        atomic_store_explicit(&Lapic->IcrHigh, (uint32_t)(Value >> 32), memory_order_relaxed);
        atomic_store_explicit(&Lapic->IcrLow, (uint32_t)Value & ICR_LOW_WRITABLE, memory_order_relaxed);
        SimpSendIcr(Lapic, Cpu);
        return;
    }
    if (Value >> 32 != 0 || ((Offset == LAPIC_EOI || Offset == LAPIC_ESR) && Value != 0))
        SimpGeneralProtection(Cpu, "write (reserved bits or non-zero EOI/ESR) of", Msr);
    if (Offset == LAPIC_SELF_IPI) {
        SimpSendSelf(Lapic, Cpu, (uint32_t)Value);
        return;
    }
    if (!SimpWriteRegister(Lapic, Offset, (uint32_t)Value))
        SimpGeneralProtection(Cpu, "write of", Msr);
}

/* ---- Queries for the bus and the CPUs ------------------------------------------------------- */

uint32_t SimLapicModelApicId(uint32_t Cpu)
{
    return SimpLapic(Cpu)->ApicId;
}

/* As hlp.h records it: xAPIC LDR[31:24], x2APIC the whole derived LDR. */
uint32_t SimLapicModelLogicalId(uint32_t Cpu)
{
    uint32_t Ldr = SimpLogicalDestination(SimpLapic(Cpu));
    return SimpX2Apic ? Ldr : Ldr >> LAPIC_ID_SHIFT;
}

uint8_t SimLapicModelTprClass(uint32_t Cpu)
{
    return (uint8_t)(SimpTpr(SimpLapic(Cpu)) >> 4);
}

bool SimLapicModelEnabled(uint32_t Cpu)
{
    return SimpSoftwareEnabled(SimpLapic(Cpu));
}

bool SimLapicModelX2Apic(void)
{
    return SimpX2Apic;
}

/* ---- Inspection (sim.h) ------------------------------------------------------------------------ */

bool SimLapicIrrIsSet(uint32_t Cpu, uint8_t Vector)
{
    return SimpTestVector(SimpLapic(Cpu)->Irr, Vector);
}

bool SimLapicIsrIsSet(uint32_t Cpu, uint8_t Vector)
{
    return SimpTestVector(SimpLapic(Cpu)->Isr, Vector);
}

bool SimLapicTmrIsSet(uint32_t Cpu, uint8_t Vector)
{
    return SimpTestVector(SimpLapic(Cpu)->Tmr, Vector);
}

uint8_t SimLapicTpr(uint32_t Cpu)
{
    return (uint8_t)SimpTpr(SimpLapic(Cpu));
}

uint64_t SimDeliveredCount(uint32_t Cpu)
{
    return atomic_load_explicit(&SimpLapic(Cpu)->DeviceDelivered, memory_order_relaxed);
}

uint64_t SimEoiCount(uint32_t Cpu)
{
    return atomic_load_explicit(&SimpLapic(Cpu)->EoiCount, memory_order_relaxed);
}

uint64_t SimLapicReceivedCount(uint32_t Cpu, uint8_t DeliveryMode)
{
    if (DeliveryMode >= MODE_COUNT)
        return 0;
    return atomic_load_explicit(&SimpLapic(Cpu)->Received[DeliveryMode], memory_order_relaxed);
}

uint8_t SimLapicStartupVector(uint32_t Cpu)
{
    return (uint8_t)atomic_load_explicit(&SimpLapic(Cpu)->StartupVector, memory_order_relaxed);
}

/* ---- Lifetime ---------------------------------------------------------------------------------- */

/* Power-up state (11.4.7.1): IRR, ISR, TMR, ICR, LDR, TPR and the timer
 * registers 0; DFR all ones; every LVT masked; SVR 0xFF (software-disabled). */
static void SimpResetLapic(SIMP_LAPIC *Lapic, uint32_t ApicId)
{
    Lapic->ApicId = ApicId;
    for (uint32_t Word = 0; Word < VECTOR_WORDS; Word++) {
        atomic_init(&Lapic->Irr[Word], 0);
        atomic_init(&Lapic->Isr[Word], 0);
        atomic_init(&Lapic->Tmr[Word], 0);
    }
    atomic_init(&Lapic->Tpr, 0);
    atomic_init(&Lapic->Ldr, 0);
    atomic_init(&Lapic->Dfr, LAPIC_DFR_RESET);
    atomic_init(&Lapic->Svr, LAPIC_SVR_RESET);
    atomic_init(&Lapic->Esr, 0);
    atomic_init(&Lapic->EsrPending, 0);
    atomic_init(&Lapic->IcrLow, 0);
    atomic_init(&Lapic->IcrHigh, 0);
    for (uint32_t Lvt = 0; Lvt < LVT_COUNT; Lvt++)
        atomic_init(&Lapic->Lvt[Lvt], LVT_RESET);
    atomic_init(&Lapic->TimerInitial, 0);
    atomic_init(&Lapic->TimerDivide, 0);
    atomic_init(&Lapic->WaitForStartup, false);
    atomic_init(&Lapic->StartupVector, 0);
    for (uint32_t Mode = 0; Mode < MODE_COUNT; Mode++)
        atomic_init(&Lapic->Received[Mode], 0);
    atomic_init(&Lapic->DeviceDelivered, 0);
    atomic_init(&Lapic->EoiCount, 0);
}

/* xAPIC ids are 8 bits and 0xFF is the broadcast; x2APIC's broadcast is
 * 0xFFFFFFFF (11.12.9). Ids must be unique for physical delivery to mean
 * anything. */
static bool SimpApicIdsAreValid(uint32_t CpuCount, const uint32_t *ApicIds, bool X2Apic)
{
    uint32_t Limit = X2Apic ? 0xFFFFFFFEu : 0xFEu;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (ApicIds[Cpu] > Limit)
            return false;
        for (uint32_t Other = 0; Other < Cpu; Other++) {
            if (ApicIds[Other] == ApicIds[Cpu])
                return false;
        }
    }
    return true;
}

int SimLapicModelCreate(uint32_t CpuCount, const uint32_t *ApicIds, bool X2Apic)
{
    if (CpuCount == 0 || CpuCount > SIM_MAX_CPUS || (!X2Apic && CpuCount > 0xFFu) || ApicIds == NULL ||
        !SimpApicIdsAreValid(CpuCount, ApicIds, X2Apic))
        return -1;
    SimLapicModelDestroy();
    SIMP_LAPIC *Lapics = calloc(CpuCount, sizeof(SIMP_LAPIC));
    if (Lapics == NULL)
        return -1;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        SimpResetLapic(&Lapics[Cpu], ApicIds[Cpu]);
    SimpLapics = Lapics;
    SimpLapicCount = CpuCount;
    SimpX2Apic = X2Apic;
    return 0;
}

void SimLapicModelDestroy(void)
{
    free(SimpLapics);
    SimpLapics = NULL;
    SimpLapicCount = 0;
    SimpX2Apic = false;
}
