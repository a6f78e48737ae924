/* SPDX-License-Identifier: MIT */
/*
 * Sim model of the local APIC (Intel SDM vol. 3A chapter 11), one per CPU,
 * as QEMU 10 presents it (hw/intc/apic.c; docs/qemu.md): version 0x14 with
 * six LVT entries and no EOI-broadcast suppression (version register
 * 0x00050014).
 *
 * Mode, per CPU. Each CPU has its own IA32_APIC_BASE (11.4.4): the base of
 * the xAPIC MMIO page, EN (global enable), EXTD (x2APIC) and BSP. Firmware
 * hands it over in SIM_CONFIG.FirmwareMode; software moves it with the
 * transitions of 11.12.5.1 (figure 11-27):
 *     disabled -> xAPIC, xAPIC -> x2APIC, xAPIC or x2APIC -> disabled,
 *     and writing the current mode again;
 * and the CPU answers with #GP(0), changing nothing, for: EXTD on a CPU that
 * does not offer x2APIC (CPUID.01H:ECX[21]), EXTD with EN clear (the invalid
 * state), disabled -> x2APIC in one write, x2APIC -> xAPIC without passing
 * through disabled, and reserved bits (7:0, 9, MAXPHYADDR and up). BSP is
 * the hardware's: a write leaves it (as QEMU). INIT does not touch the MSR.
 *  - Entering x2APIC derives the read-only LDR from the id, (id >> 4) << 16
 *    | 1 << (id & 15) (11.12.10.2), and drops the ICR high half (11.12.5.1,
 *    "State Changes From xAPIC Mode to x2APIC Mode").
 *  - Disabling (EN clear) takes the APIC off the bus: it takes no message of
 *    any kind, and its registers go back to their power-up values, SVR bit 8
 *    clear among them. The SDM keeps nothing but the id across the
 *    transitions (11.12.5.1); QEMU only clears SVR bit 8, so no driver may
 *    rely on anything surviving, and here nothing does.
 * The register file is reached as xAPIC MMIO (11.4.1, table 11-1) only in
 * xAPIC mode and as x2APIC MSRs (11.12.1.2, table 11-6) only in x2APIC mode;
 * the bus (sim_bus.c) checks the accessing CPU's mode first.
 *
 * Faults (SimFault). In x2APIC mode every refusal of table 11-6 is a #GP:
 * an index with no register (0x800-0x8FF; the APR, RRD, DFR, ICR high and
 * LVT CMCI included), a write to a read-only register (ID, version, LDR,
 * PPR, ISR/TMR/IRR, current count), a read of a write-only one (EOI, SELF
 * IPI), bits 63:32 set (but in the ICR), and a reserved bit set (11.12.1.3):
 * EOI and ESR take 0 only, TPR bits 31:8, SVR bits 31:10 (12 included: no
 * EOI-broadcast suppression here), LVT and divide-configuration reserved
 * bits, ICR bits 12, 13, 16, 17 and 20-31 (11.12.9), SELF IPI bits 31:8.
 * QEMU is lenient on some (reserved bits, reads of the APR and ICR high):
 * the model follows the SDM, so a driver that passes here passes on both.
 * In xAPIC mode the hardware does not fault: an access to a register that
 * does not exist reads 0 and sets the ESR's illegal-register bit (11.5.3),
 * writes to read-only registers and reserved bits are ignored.
 *
 * What is modelled besides:
 *  - IRR/ISR/TMR (11.8.4), TPR/APR/PPR (11.8.3.1), EOI with the broadcast to
 *    the I/O APICs for level vectors (11.8.5), SVR and the software-disabled
 *    state (11.4.7.2), ESR (11.5.3), LDR/DFR (11.6.2.2), the ICR and SELF IPI
 *    (11.6.1, 11.12.11);
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
 * or writes its registers and IA32_APIC_BASE, acknowledges and EOIs. Hence:
 *  - IRR bits are set with an atomic OR by anyone and cleared (IRR -> ISR)
 *    with an atomic AND by the owner; the TMR bit is written before the IRR
 *    bit is published (release), so the owner's acquire of IRR sees it;
 *  - ISR, IA32_APIC_BASE and every register are written by the owner only;
 *    they are atomics because the bus (the receiver's mode, logical match,
 *    lowest-priority arbitration) and the inspection functions read them
 *    from other threads. Entering x2APIC stores the derived LDR before it
 *    publishes EXTD (release), so a sender that sees the mode sees the LDR.
 * No lock is taken here, so the model can be called with an I/O APIC's
 * mutex held and never calls back into a caller's lock (the EOI broadcast
 * goes to the I/O APIC model from the owner, which holds no sim lock).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"
#include "sim_internal.h"

/* ---- Register map (SDM vol. 3A 11.4.1 table 11-1; x2APIC MSR = 0x800 + offset / 16, table 11-6) */

#define LAPIC_ID 0x020u
#define LAPIC_VERSION 0x030u
#define LAPIC_TPR 0x080u
#define LAPIC_APR 0x090u         /* xAPIC only */
#define LAPIC_PPR 0x0A0u
#define LAPIC_EOI 0x0B0u         /* write-only */
#define LAPIC_LDR 0x0D0u         /* read-only in x2APIC mode */
#define LAPIC_DFR 0x0E0u         /* xAPIC only */
#define LAPIC_SVR 0x0F0u
#define LAPIC_ISR 0x100u         /* 8 registers, 0x100-0x170 */
#define LAPIC_TMR 0x180u         /* 0x180-0x1F0 */
#define LAPIC_IRR 0x200u         /* 0x200-0x270 */
#define LAPIC_ESR 0x280u
#define LAPIC_ICR_LOW 0x300u     /* x2APIC: the whole 64-bit ICR (MSR 0x830) */
#define LAPIC_ICR_HIGH 0x310u    /* xAPIC only */
#define LAPIC_LVT_TIMER 0x320u   /* LVT: 0x320-0x370, six entries */
#define LAPIC_LVT_THERMAL 0x330u
#define LAPIC_LVT_PERF 0x340u
#define LAPIC_LVT_LINT0 0x350u
#define LAPIC_LVT_LINT1 0x360u
#define LAPIC_LVT_ERROR 0x370u
#define LAPIC_TIMER_INITIAL 0x380u
#define LAPIC_TIMER_CURRENT 0x390u
#define LAPIC_TIMER_DIVIDE 0x3E0u
#define LAPIC_SELF_IPI 0x3F0u    /* x2APIC only, write-only (11.12.11) */
#define LAPIC_REGISTER_STRIDE 16u

#define X2APIC_MSR_FIRST 0x800u
#define X2APIC_MSR_LAST 0x8FFu
#define X2APIC_MSR_ICR 0x830u
#define IA32_APIC_BASE 0x01Bu

/* How each register may be accessed in each mode (tables 11-1 and 11-6).
 * An access missing from Modes' bits: xAPIC, a read gives 0 (with the ESR
 * error if the register does not exist at all) and a write is ignored (the
 * same); x2APIC, #GP. Writable bits are stored; Status bits are read-only
 * and ignored by a write; every other bit is reserved (#GP in x2APIC mode
 * when set, 11.12.1.3; ignored in xAPIC mode). */
#define ACCESS_READ 1u
#define ACCESS_WRITE 2u
#define ACCESS_RW (ACCESS_READ | ACCESS_WRITE)

typedef struct _SIMP_REGISTER {
    uint32_t Offset;   /* MMIO offset of the first */
    uint32_t Count;    /* registers 16 bytes apart (ISR, TMR, IRR: 8) */
    const char *Name;
    uint8_t XApic;     /* ACCESS_* in xAPIC mode; 0: not there */
    uint8_t X2Apic;    /* ACCESS_* in x2APIC mode; 0: not there (#GP) */
    uint32_t Writable;
    uint32_t Status;
} SIMP_REGISTER;

#define LVT_STATUS (1u << 12)               /* delivery status (figure 11-8) */
#define LVT_LINT_STATUS (LVT_STATUS | 1u << 14) /* + remote IRR */
#define ICR_DELIVERY_STATUS (1u << 12)      /* xAPIC only (11.12.9: gone in x2APIC) */
/* Vector, delivery mode, destination mode, level, trigger, shorthand. */
#define ICR_LOW_WRITABLE 0x000CCFFFu

static const SIMP_REGISTER SimpRegisters[] = {
    {LAPIC_ID, 1, "ID", ACCESS_READ, ACCESS_READ, 0, 0}, /* xAPIC: ID writes ignored, see SimpReadRegister */
    {LAPIC_VERSION, 1, "version", ACCESS_READ, ACCESS_READ, 0, 0},
    {LAPIC_TPR, 1, "TPR", ACCESS_RW, ACCESS_RW, 0x000000FFu, 0},
    {LAPIC_APR, 1, "APR", ACCESS_READ, 0, 0, 0},
    {LAPIC_PPR, 1, "PPR", ACCESS_READ, ACCESS_READ, 0, 0},
    {LAPIC_EOI, 1, "EOI", ACCESS_WRITE, ACCESS_WRITE, 0, 0}, /* x2APIC: 0 only */
    {LAPIC_LDR, 1, "LDR", ACCESS_RW, ACCESS_READ, 0xFF000000u, 0},
    {LAPIC_DFR, 1, "DFR", ACCESS_RW, 0, 0xF0000000u, 0},
    /* Vector, software enable, focus checking; 12 (EOI-broadcast suppression)
     * is reserved with version bit 24 clear (11.8.5, figure 11-23). */
    {LAPIC_SVR, 1, "SVR", ACCESS_RW, ACCESS_RW, 0x000003FFu, 0},
    {LAPIC_ISR, 8, "ISR", ACCESS_READ, ACCESS_READ, 0, 0},
    {LAPIC_TMR, 8, "TMR", ACCESS_READ, ACCESS_READ, 0, 0},
    {LAPIC_IRR, 8, "IRR", ACCESS_READ, ACCESS_READ, 0, 0},
    {LAPIC_ESR, 1, "ESR", ACCESS_RW, ACCESS_RW, 0, 0}, /* a write latches the errors; x2APIC: 0 only */
    {LAPIC_ICR_LOW, 1, "ICR", ACCESS_RW, ACCESS_RW, ICR_LOW_WRITABLE, ICR_DELIVERY_STATUS},
    {LAPIC_ICR_HIGH, 1, "ICR high", ACCESS_RW, 0, 0xFF000000u, 0},
    {LAPIC_LVT_TIMER, 1, "LVT timer", ACCESS_RW, ACCESS_RW, 0x000700FFu, LVT_STATUS}, /* vector, mask, mode */
    {LAPIC_LVT_THERMAL, 1, "LVT thermal", ACCESS_RW, ACCESS_RW, 0x000107FFu, LVT_STATUS}, /* + delivery mode */
    {LAPIC_LVT_PERF, 1, "LVT performance", ACCESS_RW, ACCESS_RW, 0x000107FFu, LVT_STATUS},
    {LAPIC_LVT_LINT0, 1, "LVT LINT0", ACCESS_RW, ACCESS_RW, 0x0001A7FFu, LVT_LINT_STATUS}, /* + polarity, trigger */
    {LAPIC_LVT_LINT1, 1, "LVT LINT1", ACCESS_RW, ACCESS_RW, 0x0001A7FFu, LVT_LINT_STATUS},
    {LAPIC_LVT_ERROR, 1, "LVT error", ACCESS_RW, ACCESS_RW, 0x000100FFu, LVT_STATUS},
    {LAPIC_TIMER_INITIAL, 1, "initial count", ACCESS_RW, ACCESS_RW, 0xFFFFFFFFu, 0},
    {LAPIC_TIMER_CURRENT, 1, "current count", ACCESS_READ, ACCESS_READ, 0, 0},
    {LAPIC_TIMER_DIVIDE, 1, "divide configuration", ACCESS_RW, ACCESS_RW, 0x0000000Bu, 0}, /* figure 11-10 */
    {LAPIC_SELF_IPI, 1, "SELF IPI", 0, ACCESS_WRITE, 0x000000FFu, 0},
};

#define REGISTER_COUNT (sizeof(SimpRegisters) / sizeof(SimpRegisters[0]))

/* ---- IA32_APIC_BASE (11.4.4, figure 11-5) ------------------------------------------ */

#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
/* MAXPHYADDR of QEMU's TCG CPU models (CPUID.80000008H:EAX[7:0] = 40). */
#define SIMP_MAXPHYADDR 40u
#define APIC_BASE_ADDRESS_MASK (((1ull << SIMP_MAXPHYADDR) - 1u) & ~0xFFFull)
#define APIC_BASE_DEFINED (APIC_BASE_BSP | APIC_BASE_EXTD | APIC_BASE_EN | APIC_BASE_ADDRESS_MASK)
#define APIC_BASE_DEFAULT 0xFEE00000ull

/* ---- Other fields ------------------------------------------------------------------ */

/* Version register (11.4.8): version 0x14, max LVT entry 5, bit 24 (EOI-
 * broadcast suppression) clear. */
#define LAPIC_VERSION_VALUE 0x00050014u

#define LAPIC_ID_SHIFT 24u
#define XAPIC_ID_MASK 0xFFu
#define LAPIC_CLASS_MASK 0xF0u
#define LAPIC_DFR_WRITABLE 0xF0000000u
#define LAPIC_DFR_RESET 0xFFFFFFFFu
#define LAPIC_SVR_RESET 0x000000FFu
#define LAPIC_SVR_ENABLE (1u << 8)

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

#define MODE_FIXED 0u
#define MODE_LOWEST_PRIORITY 1u
#define MODE_INIT 5u
#define MODE_STARTUP 6u
#define MODE_COUNT 8u

/* Vectors 0-15 are illegal in a message (11.5.3). */
#define FIRST_LEGAL_VECTOR 0x10u
#define VECTOR_WORDS 8u

typedef struct _SIMP_LAPIC {
    uint32_t ApicId;               /* the initial (x2APIC) id: hardware's, never written */
    bool Bsp;
    _Atomic uint64_t ApicBase;     /* IA32_APIC_BASE: base, EN, EXTD, BSP */
    _Atomic uint32_t Irr[VECTOR_WORDS];
    _Atomic uint32_t Isr[VECTOR_WORDS];
    _Atomic uint32_t Tmr[VECTOR_WORDS];
    _Atomic uint32_t Tpr;
    _Atomic uint32_t Ldr;          /* xAPIC: as written (bits 31:24); x2APIC: derived */
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
static bool SimpX2ApicSupported;

static SIMP_LAPIC *SimpLapic(uint32_t Cpu)
{
    if (Cpu >= SimpLapicCount) {
        fprintf(stderr, "sim: CPU %u has no local APIC (the sim has %u CPUs)\n", Cpu, SimpLapicCount);
        abort();
    }
    return &SimpLapics[Cpu];
}

/* ---- Mode ---------------------------------------------------------------------------- */

static SIM_LAPIC_MODE SimpModeOf(uint64_t ApicBase)
{
    if ((ApicBase & APIC_BASE_EN) == 0)
        return SimLapicDisabled;
    return (ApicBase & APIC_BASE_EXTD) != 0 ? SimLapicX2Apic : SimLapicXApic;
}

static SIM_LAPIC_MODE SimpMode(SIMP_LAPIC *Lapic)
{
    return SimpModeOf(atomic_load_explicit(&Lapic->ApicBase, memory_order_acquire));
}

static bool SimpInX2Apic(SIMP_LAPIC *Lapic)
{
    return SimpMode(Lapic) == SimLapicX2Apic;
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

/* Globally enabled (IA32_APIC_BASE.EN) and software-enabled (SVR bit 8):
 * the only state in which fixed interrupts are taken. */
static bool SimpEnabled(SIMP_LAPIC *Lapic)
{
    return SimpMode(Lapic) != SimLapicDisabled && SimpSoftwareEnabled(Lapic);
}

static uint32_t SimpLogicalDestination(SIMP_LAPIC *Lapic)
{
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

/* A globally disabled APIC is not on the bus: "functionally equivalent to
 * an IA-32 processor without an on-chip APIC" (11.4.3); it takes nothing. */
bool SimLapicModelReceive(uint32_t Cpu, const SIM_APIC_MESSAGE *Message)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    if (SimpMode(Lapic) == SimLapicDisabled)
        return false;
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
    if (!SimpEnabled(Lapic))
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

/* Sends what the ICR holds: the destination is 8 bits (ICR[63:56]) in xAPIC
 * mode, 32 bits (ICR[63:32]) in x2APIC mode (11.12.9). IPIs are edge
 * messages: the trigger bit only qualifies INIT level de-assert, which
 * (unsupported since the Pentium 4) reaches no CPU. A fixed or lowest-
 * priority vector below 16 is not sent and sets "send illegal vector". The
 * delivery status never reads busy. */
static void SimpSendIcr(SIMP_LAPIC *Lapic, uint32_t Cpu)
{
    uint32_t Low = atomic_load_explicit(&Lapic->IcrLow, memory_order_relaxed);
    uint32_t High = atomic_load_explicit(&Lapic->IcrHigh, memory_order_relaxed);
    SIM_APIC_MESSAGE Message = {
        .Destination = SimpInX2Apic(Lapic) ? High : High >> LAPIC_ID_SHIFT,
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

/* ---- Registers: the map ------------------------------------------------------------------ */

/* The register at Offset (16-byte aligned) and its index in a group (ISR,
 * TMR, IRR), or NULL. */
static const SIMP_REGISTER *SimpFindRegister(uint32_t Offset, uint32_t *Index)
{
    for (uint32_t Entry = 0; Entry < REGISTER_COUNT; Entry++) {
        const SIMP_REGISTER *Register = &SimpRegisters[Entry];
        if (Offset >= Register->Offset && Offset < Register->Offset + Register->Count * LAPIC_REGISTER_STRIDE) {
            *Index = (Offset - Register->Offset) / LAPIC_REGISTER_STRIDE;
            return Register;
        }
    }
    return NULL;
}

static uint8_t SimpAccess(const SIMP_REGISTER *Register, bool X2Apic)
{
    if (Register == NULL)
        return 0;
    return X2Apic ? Register->X2Apic : Register->XApic;
}

static uint32_t SimpLvtIndex(uint32_t Offset)
{
    return (Offset - LAPIC_LVT_TIMER) / LAPIC_REGISTER_STRIDE;
}

static bool SimpIsLvt(uint32_t Offset)
{
    return Offset >= LAPIC_LVT_TIMER && Offset <= LAPIC_LVT_ERROR;
}

/* ---- Registers: values ------------------------------------------------------------------- */

/* The xAPIC ID register holds the low 8 bits of the id in bits 31:24; in
 * x2APIC mode the register is the 32-bit id (11.4.6, 11.12.5.1). The xAPIC
 * ID is read-only here (some processors let software write it; QEMU does):
 * the id is the hardware's, as in x2APIC mode. */
static uint32_t SimpReadId(SIMP_LAPIC *Lapic)
{
    if (SimpInX2Apic(Lapic))
        return Lapic->ApicId;
    return (Lapic->ApicId & XAPIC_ID_MASK) << LAPIC_ID_SHIFT;
}

/* The value of a readable register (Index: the word of ISR/TMR/IRR). */
static uint32_t SimpReadRegister(SIMP_LAPIC *Lapic, const SIMP_REGISTER *Register, uint32_t Index)
{
    uint32_t Offset = Register->Offset;
    if (SimpIsLvt(Offset))
        return atomic_load_explicit(&Lapic->Lvt[SimpLvtIndex(Offset)], memory_order_relaxed);
    switch (Offset) {
    case LAPIC_ID: return SimpReadId(Lapic);
    case LAPIC_VERSION: return LAPIC_VERSION_VALUE;
    case LAPIC_TPR: return SimpTpr(Lapic);
    case LAPIC_APR: return SimpApr(Lapic);
    case LAPIC_PPR: return SimpPpr(Lapic);
    case LAPIC_LDR: return SimpLogicalDestination(Lapic);
    case LAPIC_DFR: return atomic_load_explicit(&Lapic->Dfr, memory_order_relaxed);
    case LAPIC_SVR: return atomic_load_explicit(&Lapic->Svr, memory_order_relaxed);
    case LAPIC_ISR: return atomic_load_explicit(&Lapic->Isr[Index], memory_order_acquire);
    case LAPIC_TMR: return atomic_load_explicit(&Lapic->Tmr[Index], memory_order_acquire);
    case LAPIC_IRR: return atomic_load_explicit(&Lapic->Irr[Index], memory_order_acquire);
    case LAPIC_ESR: return atomic_load_explicit(&Lapic->Esr, memory_order_relaxed);
    case LAPIC_ICR_LOW: return atomic_load_explicit(&Lapic->IcrLow, memory_order_relaxed);
    case LAPIC_ICR_HIGH: return atomic_load_explicit(&Lapic->IcrHigh, memory_order_relaxed);
    case LAPIC_TIMER_INITIAL: return atomic_load_explicit(&Lapic->TimerInitial, memory_order_relaxed);
    case LAPIC_TIMER_DIVIDE: return atomic_load_explicit(&Lapic->TimerDivide, memory_order_relaxed);
    default: return 0; /* the current count: no timer runs */
    }
}

/* Clearing the software enable masks every LVT entry; while disabled no
 * mask bit can be cleared (11.4.7.2). */
static void SimpWriteSvr(SIMP_LAPIC *Lapic, uint32_t Svr)
{
    atomic_store_explicit(&Lapic->Svr, Svr, memory_order_relaxed);
    if ((Svr & LAPIC_SVR_ENABLE) == 0) {
        for (uint32_t Lvt = 0; Lvt < LVT_COUNT; Lvt++)
            atomic_fetch_or_explicit(&Lapic->Lvt[Lvt], LVT_MASKED, memory_order_relaxed);
    }
}

static void SimpWriteLvt(SIMP_LAPIC *Lapic, uint32_t Offset, uint32_t Value)
{
    if (!SimpSoftwareEnabled(Lapic))
        Value |= LVT_MASKED;
    atomic_store_explicit(&Lapic->Lvt[SimpLvtIndex(Offset)], Value, memory_order_relaxed);
}

/* A write to the ESR makes the errors collected since the previous write
 * readable and starts collecting afresh (11.5.3). */
static void SimpWriteEsr(SIMP_LAPIC *Lapic)
{
    uint32_t Errors = atomic_exchange_explicit(&Lapic->EsrPending, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->Esr, Errors, memory_order_relaxed);
}

/* Stores a write to a writable register (Value: its writable bits only) and
 * does what the write does: EOI, ESR latch, ICR send (xAPIC: the low half
 * sends; x2APIC's 64-bit ICR is SimpWriteX2ApicIcr), SELF IPI. */
static void SimpWriteRegister(SIMP_LAPIC *Lapic, uint32_t Cpu, uint32_t Offset, uint32_t Value)
{
    if (SimpIsLvt(Offset)) {
        SimpWriteLvt(Lapic, Offset, Value);
        return;
    }
    switch (Offset) {
    case LAPIC_TPR: atomic_store_explicit(&Lapic->Tpr, Value, memory_order_relaxed); break;
    case LAPIC_EOI: SimpEndOfInterrupt(Lapic); break;
    case LAPIC_LDR: atomic_store_explicit(&Lapic->Ldr, Value, memory_order_relaxed); break;
    case LAPIC_DFR: atomic_store_explicit(&Lapic->Dfr, Value | ~LAPIC_DFR_WRITABLE, memory_order_relaxed); break;
    case LAPIC_SVR: SimpWriteSvr(Lapic, Value); break;
    case LAPIC_ESR: SimpWriteEsr(Lapic); break;
    case LAPIC_ICR_LOW:
        atomic_store_explicit(&Lapic->IcrLow, Value, memory_order_relaxed);
        SimpSendIcr(Lapic, Cpu);
        break;
    case LAPIC_ICR_HIGH: atomic_store_explicit(&Lapic->IcrHigh, Value, memory_order_relaxed); break;
    case LAPIC_TIMER_INITIAL: atomic_store_explicit(&Lapic->TimerInitial, Value, memory_order_relaxed); break;
    case LAPIC_TIMER_DIVIDE: atomic_store_explicit(&Lapic->TimerDivide, Value, memory_order_relaxed); break;
    case LAPIC_SELF_IPI: SimpSendSelf(Lapic, Cpu, Value); break;
    default: break;
    }
}

/* ---- Registers: reset and mode changes (11.4.7.1, 11.12.5.1) ------------------------------ */

/* Power-up state (11.4.7.1): IRR, ISR, TMR, ICR, LDR, TPR and the timer
 * registers 0; DFR all ones; every LVT masked; SVR 0xFF (software-disabled).
 * The id, IA32_APIC_BASE and the message counts are not registers. */
static void SimpResetRegisters(SIMP_LAPIC *Lapic)
{
    for (uint32_t Word = 0; Word < VECTOR_WORDS; Word++) {
        atomic_store_explicit(&Lapic->Irr[Word], 0, memory_order_relaxed);
        atomic_store_explicit(&Lapic->Isr[Word], 0, memory_order_relaxed);
        atomic_store_explicit(&Lapic->Tmr[Word], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&Lapic->Tpr, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->Ldr, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->Dfr, LAPIC_DFR_RESET, memory_order_relaxed);
    atomic_store_explicit(&Lapic->Svr, LAPIC_SVR_RESET, memory_order_relaxed);
    atomic_store_explicit(&Lapic->Esr, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->EsrPending, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->IcrLow, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->IcrHigh, 0, memory_order_relaxed);
    for (uint32_t Lvt = 0; Lvt < LVT_COUNT; Lvt++)
        atomic_store_explicit(&Lapic->Lvt[Lvt], LVT_RESET, memory_order_relaxed);
    atomic_store_explicit(&Lapic->TimerInitial, 0, memory_order_relaxed);
    atomic_store_explicit(&Lapic->TimerDivide, 0, memory_order_relaxed);
}

/* The logical x2APIC id (11.12.10.2): cluster id[19:4] in bits 31:16, one
 * bit for id[3:0] in bits 15:0. */
static uint32_t SimpX2ApicLogicalId(uint32_t ApicId)
{
    return (ApicId >> 4) << 16 | 1u << (ApicId & 0xFu);
}

/* xAPIC -> x2APIC keeps the register state but the LDR (now derived and
 * read-only) and the ICR high half (11.12.5.1). */
static void SimpEnterX2Apic(SIMP_LAPIC *Lapic)
{
    atomic_store_explicit(&Lapic->Ldr, SimpX2ApicLogicalId(Lapic->ApicId), memory_order_relaxed);
    atomic_store_explicit(&Lapic->IcrHigh, 0, memory_order_relaxed);
}

/* Why the CPU refuses this IA32_APIC_BASE write with #GP, or NULL. */
static const char *SimpApicBaseRefusal(uint64_t Old, uint64_t New)
{
    if ((New & ~APIC_BASE_DEFINED) != 0)
        return "reserved bits set (7:0, 9, 63:MAXPHYADDR; SDM 11.4.4)";
    if ((New & APIC_BASE_EXTD) != 0 && !SimpX2ApicSupported)
        return "EXTD set, but the CPU does not offer x2APIC (CPUID.01H:ECX[21] clear)";
    if ((New & APIC_BASE_EXTD) != 0 && (New & APIC_BASE_EN) == 0)
        return "EXTD set with EN clear is the invalid state (SDM 11.12.5, figure 11-27)";
    SIM_LAPIC_MODE From = SimpModeOf(Old);
    SIM_LAPIC_MODE To = SimpModeOf(New);
    if (From == SimLapicDisabled && To == SimLapicX2Apic)
        return "disabled -> x2APIC in one write: enable xAPIC mode first (SDM 11.12.5.1)";
    if (From == SimLapicX2Apic && To == SimLapicXApic)
        return "x2APIC -> xAPIC: only through disabled, EN and EXTD clear (SDM 11.12.5.1)";
    return NULL;
}

/* ---- IA32_APIC_BASE ---------------------------------------------------------------------- */

uint64_t SimLapicModelReadApicBase(uint32_t Cpu)
{
    return atomic_load_explicit(&SimpLapic(Cpu)->ApicBase, memory_order_acquire);
}

/* The LDR of x2APIC mode is in place before EXTD is published; a disabled
 * APIC is off the bus before its registers are reset. */
void SimLapicModelWriteApicBase(uint32_t Cpu, uint64_t Value)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint64_t Old = atomic_load_explicit(&Lapic->ApicBase, memory_order_relaxed);
    const char *Refusal = SimpApicBaseRefusal(Old, Value);
    if (Refusal != NULL) {
        SimFault("PlatWriteMsr", IA32_APIC_BASE, "#GP(0): WRMSR IA32_APIC_BASE 0x%" PRIx64 " on CPU %u: %s", Value,
                 Cpu, Refusal);
        return;
    }
    SIM_LAPIC_MODE From = SimpModeOf(Old);
    SIM_LAPIC_MODE To = SimpModeOf(Value);
    if (From == SimLapicXApic && To == SimLapicX2Apic)
        SimpEnterX2Apic(Lapic);
    uint64_t Stored = (Value & (APIC_BASE_ADDRESS_MASK | APIC_BASE_EN | APIC_BASE_EXTD)) | (Old & APIC_BASE_BSP);
    atomic_store_explicit(&Lapic->ApicBase, Stored, memory_order_release);
    if (From != SimLapicDisabled && To == SimLapicDisabled)
        SimpResetRegisters(Lapic);
}

SIM_LAPIC_MODE SimLapicModelMode(uint32_t Cpu)
{
    return SimpMode(SimpLapic(Cpu));
}

uint64_t SimLapicModelMmioBase(uint32_t Cpu)
{
    return SimLapicModelReadApicBase(Cpu) & APIC_BASE_ADDRESS_MASK;
}

/* ---- xAPIC MMIO (11.4.1) ------------------------------------------------------------------- */

/* The register at an xAPIC MMIO Offset and how it may be accessed; an
 * offset with no register gives 0 and sets "illegal register address"
 * (11.5.3). The hardware does not fault in xAPIC mode. */
static uint8_t SimpMmioAccess(SIMP_LAPIC *Lapic, uint32_t Offset, const SIMP_REGISTER **Register, uint32_t *Index)
{
    *Index = 0;
    *Register = SimpFindRegister(Offset, Index);
    uint8_t Access = SimpAccess(*Register, false);
    if (Access == 0)
        SimpRecordError(Lapic, ESR_ILLEGAL_REGISTER);
    return Access;
}

/* A register that exists reads as itself (a write-only one, the EOI, as
 * 0); an offset with no register reads 0. */
uint32_t SimLapicModelMmioRead(uint32_t Cpu, uint32_t Offset)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    const SIMP_REGISTER *Register;
    uint32_t Index;
    uint8_t Access = SimpMmioAccess(Lapic, Offset, &Register, &Index);
    return (Access & ACCESS_READ) != 0 ? SimpReadRegister(Lapic, Register, Index) : 0;
}

/* Writes keep the writable bits (reserved ones are ignored); a write to a
 * read-only register is ignored; one to no register sets the error. */
void SimLapicModelMmioWrite(uint32_t Cpu, uint32_t Offset, uint32_t Value)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    const SIMP_REGISTER *Register;
    uint32_t Index;
    uint8_t Access = SimpMmioAccess(Lapic, Offset, &Register, &Index);
    if ((Access & ACCESS_WRITE) != 0)
        SimpWriteRegister(Lapic, Cpu, Register->Offset, Value & Register->Writable);
}

/* ---- x2APIC MSRs (11.12.1.2, table 11-6; reserved bits 11.12.1.3) ---------------------------- */

/* The #GP(0) that RDMSR/WRMSR raise: reported, and the access dropped. */
static void SimpGeneralProtection(bool Write, uint32_t Cpu, uint32_t Msr, const SIMP_REGISTER *Register,
                                  const char *Why)
{
    SimFault(Write ? "PlatWriteMsr" : "PlatReadMsr", Msr, "#GP(0): %s 0x%X on CPU %u (x2APIC mode): %s%s%s",
             Write ? "WRMSR" : "RDMSR", Msr, Cpu, Register != NULL ? Register->Name : "",
             Register != NULL ? " " : "", Why);
}

/* Why the x2APIC refuses this access to Register, or NULL: no register at
 * the index (the xAPIC-only APR, DFR and ICR high included), or the wrong
 * direction for a read-only or write-only one. */
static const char *SimpX2ApicRefusal(const SIMP_REGISTER *Register, uint8_t Needed)
{
    uint8_t Access = SimpAccess(Register, true);
    if (Register == NULL)
        return "no register at this index (table 11-6)";
    if (Access == 0)
        return "exists in xAPIC mode only (table 11-6)";
    if ((Access & Needed) == 0)
        return Needed == ACCESS_READ ? "is write-only (table 11-6)" : "is read-only (table 11-6)";
    return NULL;
}

static const SIMP_REGISTER *SimpX2ApicRegister(uint32_t Msr, uint32_t *Index)
{
    uint32_t Offset = (Msr - X2APIC_MSR_FIRST) * LAPIC_REGISTER_STRIDE;
    return Msr > X2APIC_MSR_LAST ? NULL : SimpFindRegister(Offset, Index);
}

/* The register an RDMSR (Access ACCESS_READ) or WRMSR (ACCESS_WRITE) of
 * Msr reaches; NULL once the #GP the access raises instead is reported. */
static const SIMP_REGISTER *SimpX2ApicAccess(uint32_t Cpu, uint32_t Msr, uint8_t Access, uint32_t *Index)
{
    *Index = 0;
    const SIMP_REGISTER *Register = SimpX2ApicRegister(Msr, Index);
    const char *Refusal = SimpX2ApicRefusal(Register, Access);
    if (Refusal == NULL)
        return Register;
    SimpGeneralProtection(Access == ACCESS_WRITE, Cpu, Msr, Register, Refusal);
    return NULL;
}

uint64_t SimLapicModelMsrRead(uint32_t Cpu, uint32_t Msr)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint32_t Index;
    const SIMP_REGISTER *Register = SimpX2ApicAccess(Cpu, Msr, ACCESS_READ, &Index);
    if (Register == NULL)
        return 0;
    if (Msr == X2APIC_MSR_ICR)
        return (uint64_t)atomic_load_explicit(&Lapic->IcrHigh, memory_order_relaxed) << 32 |
               atomic_load_explicit(&Lapic->IcrLow, memory_order_relaxed);
    return SimpReadRegister(Lapic, Register, Index);
}

/* One WRMSR of the whole ICR, destination in bits 63:32; bits 12 (no
 * delivery status in x2APIC mode), 13, 16, 17 and 20-31 are reserved
 * (11.12.9, figure 11-28). */
static void SimpWriteX2ApicIcr(SIMP_LAPIC *Lapic, uint32_t Cpu, uint64_t Value)
{
    uint32_t Reserved = (uint32_t)Value & ~ICR_LOW_WRITABLE;
    if (Reserved != 0) {
        SimFault("PlatWriteMsr", X2APIC_MSR_ICR,
                 "#GP(0): WRMSR 0x830 on CPU %u (x2APIC mode): ICR reserved bits 0x%X set (SDM 11.12.9)", Cpu,
                 Reserved);
        return;
    }
    atomic_store_explicit(&Lapic->IcrHigh, (uint32_t)(Value >> 32), memory_order_relaxed);
    atomic_store_explicit(&Lapic->IcrLow, (uint32_t)Value, memory_order_relaxed);
    SimpSendIcr(Lapic, Cpu);
}

/* Bits 63:32 of every register but the ICR are reserved, and so are the
 * bits the register does not define (11.12.1.3): EOI and ESR take 0 only. */
void SimLapicModelMsrWrite(uint32_t Cpu, uint32_t Msr, uint64_t Value)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    uint32_t Index;
    const SIMP_REGISTER *Register = SimpX2ApicAccess(Cpu, Msr, ACCESS_WRITE, &Index);
    if (Register == NULL)
        return;
    if (Msr == X2APIC_MSR_ICR) {
        SimpWriteX2ApicIcr(Lapic, Cpu, Value);
        return;
    }
    uint64_t Reserved = Value & ~(uint64_t)(Register->Writable | Register->Status); /* 63:32 included */
    if (Reserved != 0) {
        SimFault("PlatWriteMsr", Msr,
                 "#GP(0): WRMSR 0x%X on CPU %u (x2APIC mode): %s reserved bits 0x%" PRIx64
                 " set (SDM 11.12.1.3)",
                 Msr, Cpu, Register->Name, Reserved);
        return;
    }
    SimpWriteRegister(Lapic, Cpu, Register->Offset, (uint32_t)Value & Register->Writable);
}

/* ---- Queries for the bus and the CPUs ------------------------------------------------------- */

uint32_t SimLapicModelApicId(uint32_t Cpu)
{
    return SimpLapic(Cpu)->ApicId;
}

/* As hlp.h records it: xAPIC LDR[31:24], x2APIC the whole derived LDR. */
uint32_t SimLapicModelLogicalId(uint32_t Cpu)
{
    SIMP_LAPIC *Lapic = SimpLapic(Cpu);
    bool X2Apic = SimpInX2Apic(Lapic);
    uint32_t Ldr = SimpLogicalDestination(Lapic);
    return X2Apic ? Ldr : Ldr >> LAPIC_ID_SHIFT;
}

uint32_t SimLapicModelDestinationModel(uint32_t Cpu)
{
    return atomic_load_explicit(&SimpLapic(Cpu)->Dfr, memory_order_relaxed) >> 28;
}

uint8_t SimLapicModelTprClass(uint32_t Cpu)
{
    return (uint8_t)(SimpTpr(SimpLapic(Cpu)) >> 4);
}

bool SimLapicModelEnabled(uint32_t Cpu)
{
    return SimpEnabled(SimpLapic(Cpu));
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

SIM_LAPIC_MODE SimLapicMode(uint32_t Cpu)
{
    return SimLapicModelMode(Cpu);
}

/* ---- Lifetime ---------------------------------------------------------------------------------- */

/* As firmware hands the CPU over: registers at their power-up values
 * (calloc'd zeros are every atomic's initial value), IA32_APIC_BASE at the
 * default base with the BSP flag on CPU 0, in FirmwareMode; a CPU handed
 * over in x2APIC mode went through xAPIC mode to get there. */
static void SimpInitializeLapic(SIMP_LAPIC *Lapic, uint32_t ApicId, bool Bsp, SIM_LAPIC_MODE FirmwareMode)
{
    Lapic->ApicId = ApicId;
    Lapic->Bsp = Bsp;
    SimpResetRegisters(Lapic);
    uint64_t Base = APIC_BASE_DEFAULT | (Bsp ? APIC_BASE_BSP : 0u);
    if (FirmwareMode != SimLapicDisabled)
        Base |= APIC_BASE_EN;
    if (FirmwareMode == SimLapicX2Apic) {
        Base |= APIC_BASE_EXTD;
        SimpEnterX2Apic(Lapic);
    }
    atomic_store_explicit(&Lapic->ApicBase, Base, memory_order_relaxed);
}

/* 8-bit ids stop at 0xFE (0xFF is the xAPIC broadcast); x2APIC's broadcast
 * is 0xFFFFFFFF (11.12.9). Ids must be unique for physical delivery to mean
 * anything. */
static bool SimpApicIdsAreValid(uint32_t CpuCount, const uint32_t *ApicIds, bool X2ApicSupported)
{
    uint32_t Limit = X2ApicSupported ? 0xFFFFFFFEu : 0xFEu;
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

static bool SimpFirmwareModeIsValid(SIM_LAPIC_MODE FirmwareMode, bool X2ApicSupported)
{
    if (FirmwareMode == SimLapicX2Apic)
        return X2ApicSupported;
    return FirmwareMode == SimLapicXApic || FirmwareMode == SimLapicDisabled;
}

/* CPU 0 is the bootstrap processor. */
int SimLapicModelCreate(uint32_t CpuCount, const uint32_t *ApicIds, bool X2ApicSupported,
                        SIM_LAPIC_MODE FirmwareMode)
{
    if (CpuCount == 0 || CpuCount > SIM_MAX_CPUS || (!X2ApicSupported && CpuCount > 0xFFu) || ApicIds == NULL ||
        !SimpFirmwareModeIsValid(FirmwareMode, X2ApicSupported) ||
        !SimpApicIdsAreValid(CpuCount, ApicIds, X2ApicSupported))
        return -1;
    SimLapicModelDestroy();
    SIMP_LAPIC *Lapics = calloc(CpuCount, sizeof(SIMP_LAPIC));
    if (Lapics == NULL)
        return -1;
    SimpX2ApicSupported = X2ApicSupported;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        SimpInitializeLapic(&Lapics[Cpu], ApicIds[Cpu], Cpu == 0, FirmwareMode);
    SimpLapics = Lapics;
    SimpLapicCount = CpuCount;
    return 0;
}

void SimLapicModelDestroy(void)
{
    free(SimpLapics);
    SimpLapics = NULL;
    SimpLapicCount = 0;
    SimpX2ApicSupported = false;
}
