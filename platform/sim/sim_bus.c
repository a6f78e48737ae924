/* SPDX-License-Identifier: MIT */
/*
 * The sim's buses: address decode for the register-access hooks
 * (PlatMmio*, PlatReadMsr/PlatWriteMsr), the APIC bus that carries a message
 * from an I/O APIC, an MSI write or an ICR to the local APIC(s) it
 * addresses (Intel SDM vol. 3A 11.6.2 "Determining IPI Destination",
 * 11.6.2.4 lowest-priority delivery), MSI writes (11.11), and faults.
 *
 * Decode follows the accessing CPU's own mode (IA32_APIC_BASE is per CPU,
 * lapic_model.c): its xAPIC MMIO page is decoded only while it is in xAPIC
 * mode, at its IA32_APIC_BASE address; the x2APIC MSRs 0x800-0x8FF answer
 * only while it is in x2APIC mode; IA32_APIC_BASE itself always. I/O APIC
 * windows are decoded first and for any thread (a device, or boot before
 * a CPU is attached).
 *
 * Faults. Every access the hardware refuses goes to SimFault (sim.h,
 * SimSetFaultHandler), exactly where the CPU would refuse it:
 *  - RDMSR/WRMSR of 0x800-0x8FF while this CPU's APIC is in xAPIC mode or
 *    disabled: #GP (11.12.1.2); in x2APIC mode, the model's #GP rules;
 *  - an invalid IA32_APIC_BASE write: #GP (lapic_model.c, 11.12.5);
 *  - xAPIC MMIO while this CPU's APIC is in x2APIC mode or disabled: the
 *    page is not decoded (11.12.1.2, 11.4.3), the access reaches no APIC;
 *  - an xAPIC access that is not an aligned 32-bit one (11.4.1: "model
 *    specific ... not guaranteed to work");
 *  - an address no device decodes, an MSR the sim does not model.
 * Using the sim wrongly (a register access from a thread attached to no
 * CPU) is not a hardware refusal: it aborts, handler or not.
 *
 * Routing follows the SDM and, where the SDM leaves it open, QEMU 10's
 * hw/intc/apic.c (docs/qemu.md). Each receiving LAPIC matches in its own
 * mode, which matters while CPUs are brought up one by one:
 *  - physical: 0xFFFFFFFF reaches every LAPIC (11.12.9); 0xFF every
 *    xAPIC-mode LAPIC (11.6.2.1); otherwise an x2APIC-mode LAPIC compares
 *    its 32-bit id, an xAPIC-mode one the low 8 bits of destination and id;
 *  - logical, x2APIC mode: cluster (bits 31:16) equal and a common member
 *    bit (11.12.10.2); xAPIC mode: the 8-bit destination against LDR[31:24]
 *    as the DFR model says (11.6.2.2), flat any common bit, cluster the
 *    cluster nibble equal (0xF: every cluster) and a common member bit;
 *  - I/O APIC entries and MSIs carry 8 bits, zero-extended: an x2APIC-mode
 *    LAPIC above id 254 (or outside logical cluster 0) is out of their reach;
 *  - lowest priority is a real arbitration (QEMU picks the lowest-numbered
 *    APIC): the addressed, enabled LAPIC with the lowest TPR class wins,
 *    ties going to the lowest APIC id. There is no focus processor (SVR bit
 *    9 is stored, not used), as on Pentium 4 and later processors.
 *
 * Nothing here keeps state or takes a lock: messages are routed on the
 * sender's thread with the LAPIC model's atomics.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqroute/platform.h>

#include "sim.h"
#include "sim_internal.h"

/* ---- Address map ----------------------------------------------------------------- */

#define LAPIC_DEFAULT_BASE 0xFEE00000u /* xAPIC registers (11.4.1), one 4 KiB page */
#define LAPIC_WINDOW_SIZE 0x1000u
#define LAPIC_REGISTER_ALIGN 0x10u     /* registers sit on 16-byte boundaries */
#define LAPIC_ACCESS_SIZE 4u           /* 32-bit loads and stores only (11.4.1) */
#define LAPIC_TPR 0x080u

#define IA32_APIC_BASE 0x01Bu          /* 11.4.4 */
#define X2APIC_MSR_FIRST 0x800u        /* 11.12.1.2 */
#define X2APIC_MSR_LAST 0x8FFu
#define X2APIC_MSR_TPR 0x808u

/* ---- Messages (11.6.1, 11.6.2) -------------------------------------------------------- */

#define SHORTHAND_NONE 0u
#define SHORTHAND_SELF 1u
#define SHORTHAND_ALL 2u
#define SHORTHAND_ALL_BUT_SELF 3u

#define MODE_FIXED 0u
#define MODE_LOWEST_PRIORITY 1u

#define XAPIC_BROADCAST 0xFFu
#define X2APIC_BROADCAST 0xFFFFFFFFu
#define DFR_MODEL_FLAT 0xFu
#define DFR_MODEL_CLUSTER 0x0u

/* ---- MSI (11.11.1 address, 11.11.2 data) ----------------------------------------------- */

#define MSI_ADDRESS_WINDOW_MASK 0xFFFFFFFFFFF00000ull
#define MSI_ADDRESS_WINDOW 0xFEE00000ull
#define MSI_ADDRESS_DESTINATION_SHIFT 12u
#define MSI_ADDRESS_DESTINATION_MASK 0xFFu
#define MSI_ADDRESS_REDIRECTION_HINT (1u << 3)
#define MSI_ADDRESS_DESTINATION_LOGICAL (1u << 2)
#define MSI_DATA_VECTOR_MASK 0xFFu
#define MSI_DATA_DELIVERY_MODE_SHIFT 8u
#define MSI_DATA_DELIVERY_MODE_MASK 0x7u
#define MSI_DATA_LEVEL_ASSERT (1u << 14)
#define MSI_DATA_TRIGGER_LEVEL (1u << 15)
#define MSI_MODE_RESERVED_3 3u
#define MSI_MODE_RESERVED_6 6u

/* ---- Faults --------------------------------------------------------------------------------- */

static _Atomic(SIM_FAULT_HANDLER) SimpFaultHandler;
/* The fault's text, per thread: the handler may keep the pointer until the
 * next fault on its thread. */
static _Thread_local char SimpFaultText[512];

void SimSetFaultHandler(SIM_FAULT_HANDLER Handler)
{
    atomic_store_explicit(&SimpFaultHandler, Handler, memory_order_release);
}

void SimFault(const char *Hook, uint64_t Where, const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(SimpFaultText, sizeof(SimpFaultText), Format, Arguments);
    va_end(Arguments);
    SIM_FAULT_HANDLER Handler = atomic_load_explicit(&SimpFaultHandler, memory_order_acquire);
    if (Handler != NULL) {
        Handler(Hook, Where, SimpFaultText);
        return;
    }
    fprintf(stderr, "sim: %s(0x%" PRIx64 "): %s\n", Hook, Where, SimpFaultText);
    abort();
}

/* Using the sim wrongly, not something hardware refuses: always stops. */
static _Noreturn void SimpMisuse(const char *Hook, uint64_t Where, const char *Why)
{
    fprintf(stderr, "sim: %s(0x%" PRIx64 "): %s\n", Hook, Where, Why);
    abort();
}

/* The LAPIC a register access reaches is the caller's own. */
static uint32_t SimpAccessingCpu(const char *Hook, uint64_t Where)
{
    uint32_t Cpu = SimAttachedCpu();
    if (Cpu == SIM_NO_CPU)
        SimpMisuse(Hook, Where, "local APIC access from a thread not attached to a CPU (SimAttachCpu first)");
    return Cpu;
}

static const char *SimpModeName(SIM_LAPIC_MODE Mode)
{
    switch (Mode) {
    case SimLapicXApic: return "xAPIC mode";
    case SimLapicX2Apic: return "x2APIC mode";
    default: return "disabled (IA32_APIC_BASE.EN clear)";
    }
}

/* ---- MMIO ---------------------------------------------------------------------------------- */

static bool SimpInWindow(uintptr_t Address, uint64_t Base)
{
    return Address >= Base && Address - Base < LAPIC_WINDOW_SIZE;
}

/* Where this CPU's xAPIC page would be: its IA32_APIC_BASE address, or the
 * default, where drivers look for it. */
static bool SimpIsLapicAddress(uint32_t Cpu, uintptr_t Address)
{
    return SimpInWindow(Address, SimLapicModelMmioBase(Cpu)) || SimpInWindow(Address, LAPIC_DEFAULT_BASE);
}

/* The register offset of an xAPIC access by Cpu, or false after a fault:
 * the page is decoded in xAPIC mode only (in x2APIC mode "any access to
 * the MMIO interface will behave similar to that of a legacy xAPIC in
 * globally disabled state", 11.12.1.2), and takes 32-bit accesses on
 * 16-byte boundaries (11.4.1). */
static bool SimpLapicMmioOffset(const char *Hook, uint32_t Cpu, uintptr_t Address, uint32_t Size, uint32_t *Offset)
{
    SIM_LAPIC_MODE Mode = SimLapicModelMode(Cpu);
    uint64_t Base = SimLapicModelMmioBase(Cpu);
    if (Mode != SimLapicXApic || !SimpInWindow(Address, Base)) {
        SimFault(Hook, Address, "xAPIC MMIO access on CPU %u, whose local APIC is %s%s: the page is not decoded", Cpu,
                 SimpModeName(Mode), Mode == SimLapicXApic ? " at another base" : "");
        return false;
    }
    *Offset = (uint32_t)(Address - Base);
    if (Size != LAPIC_ACCESS_SIZE || *Offset % LAPIC_REGISTER_ALIGN != 0) {
        SimFault(Hook, Address,
                 "local APIC access of %u bytes at offset 0x%X: only aligned 32-bit accesses (SDM 11.4.1)", Size,
                 *Offset);
        return false;
    }
    return true;
}

/* A TPR write is a point where the CPU notices newly deliverable interrupts
 * (sim.h): with IF set it takes them before the next "instruction". */
static void SimpAfterTprWrite(uint32_t Cpu)
{
    if (SimCpuInterruptsEnabled(Cpu))
        (void)SimServicePending();
}

static bool SimpValidSize(uint32_t Size)
{
    return Size == 1u || Size == 2u || Size == 4u || Size == 8u;
}

/* One load or store: an I/O APIC window, a VT-d unit's register page
 * (iommu_model.c), an MSI-X table or PBA (msix_model.c), else the
 * accessing CPU's local APIC, else nothing (a fault). A read that faults
 * gives 0. */
static void SimpMmioAccess(const char *Hook, uintptr_t Address, uint32_t Size, bool Write, uint64_t *Value)
{
    if (!SimpValidSize(Size))
        SimpMisuse(Hook, Address, "access size must be 1, 2, 4 or 8");
    if (SimIoApicModelAccess(Hook, Address, Size, Write, Value))
        return;
    if (SimIommuModelAccess(Hook, Address, Size, Write, Value))
        return;
    if (SimMsixModelAccess(Hook, Address, Size, Write, Value))
        return;
    if (!Write)
        *Value = 0;
    uint32_t Cpu = SimAttachedCpu();
    bool LapicAddress =
        Cpu != SIM_NO_CPU ? SimpIsLapicAddress(Cpu, Address) : SimpInWindow(Address, LAPIC_DEFAULT_BASE);
    if (!LapicAddress) {
        SimFault(Hook, Address, "no device at this address");
        return;
    }
    Cpu = SimpAccessingCpu(Hook, Address);
    uint32_t Offset;
    if (!SimpLapicMmioOffset(Hook, Cpu, Address, Size, &Offset))
        return;
    if (!Write) {
        *Value = SimLapicModelMmioRead(Cpu, Offset);
        return;
    }
    SimLapicModelMmioWrite(Cpu, Offset, (uint32_t)*Value);
    if (Offset == LAPIC_TPR)
        SimpAfterTprWrite(Cpu);
}

uint64_t SimMmioRead(uintptr_t Address, uint32_t Size)
{
    uint64_t Value = 0;
    SimpMmioAccess("SimMmioRead", Address, Size, false, &Value);
    return Value;
}

void SimMmioWrite(uintptr_t Address, uint32_t Size, uint64_t Value)
{
    SimpMmioAccess("SimMmioWrite", Address, Size, true, &Value);
}

uint32_t PlatMmioRead32(uintptr_t Address)
{
    uint64_t Value = 0;
    SimpMmioAccess("PlatMmioRead32", Address, 4, false, &Value);
    return (uint32_t)Value;
}

void PlatMmioWrite32(uintptr_t Address, uint32_t Value)
{
    uint64_t Wide = Value;
    SimpMmioAccess("PlatMmioWrite32", Address, 4, true, &Wide);
}

/* ---- MSRs ------------------------------------------------------------------------------------ */

static bool SimpIsX2ApicMsr(uint32_t Msr)
{
    return Msr >= X2APIC_MSR_FIRST && Msr <= X2APIC_MSR_LAST;
}

/* The x2APIC MSRs raise #GP unless this CPU's APIC is in x2APIC mode
 * (11.12.1.2): false after the fault. */
static bool SimpX2ApicMsrReachable(bool Write, uint32_t Cpu, uint32_t Msr)
{
    SIM_LAPIC_MODE Mode = SimLapicModelMode(Cpu);
    if (Mode == SimLapicX2Apic)
        return true;
    SimFault(Write ? "PlatWriteMsr" : "PlatReadMsr", Msr,
             "#GP(0): %s of x2APIC MSR 0x%X on CPU %u, whose local APIC is %s (SDM 11.12.1.2)",
             Write ? "WRMSR" : "RDMSR", Msr, Cpu, SimpModeName(Mode));
    return false;
}

uint64_t PlatReadMsr(uint32_t Msr)
{
    uint32_t Cpu = SimpAccessingCpu("PlatReadMsr", Msr);
    if (Msr == IA32_APIC_BASE)
        return SimLapicModelReadApicBase(Cpu);
    if (!SimpIsX2ApicMsr(Msr)) {
        SimFault("PlatReadMsr", Msr, "MSR not modelled by the sim");
        return 0;
    }
    if (!SimpX2ApicMsrReachable(false, Cpu, Msr))
        return 0;
    return SimLapicModelMsrRead(Cpu, Msr);
}

void PlatWriteMsr(uint32_t Msr, uint64_t Value)
{
    uint32_t Cpu = SimpAccessingCpu("PlatWriteMsr", Msr);
    if (Msr == IA32_APIC_BASE) {
        SimLapicModelWriteApicBase(Cpu, Value);
        return;
    }
    if (!SimpIsX2ApicMsr(Msr)) {
        SimFault("PlatWriteMsr", Msr, "MSR not modelled by the sim");
        return;
    }
    if (!SimpX2ApicMsrReachable(true, Cpu, Msr))
        return;
    SimLapicModelMsrWrite(Cpu, Msr, Value);
    if (Msr == X2APIC_MSR_TPR)
        SimpAfterTprWrite(Cpu);
}

/* ---- Destination matching (11.6.2), in the receiving LAPIC's mode ---------------------------------- */

/* 0xFFFFFFFF reaches every LAPIC, 0xFF every xAPIC-mode one (11.12.9;
 * hw/intc/apic.c apic_get_delivery_bitmask); otherwise an xAPIC-mode LAPIC
 * compares 8 bits (its xAPIC id is the low byte of the id). */
static bool SimpPhysicalMatch(uint32_t Cpu, bool X2Apic, uint32_t Destination)
{
    uint32_t Id = SimLapicModelApicId(Cpu);
    if (Destination == X2APIC_BROADCAST)
        return true;
    if (X2Apic)
        return Destination == Id;
    return Destination == XAPIC_BROADCAST || (Destination & XAPIC_BROADCAST) == (Id & XAPIC_BROADCAST);
}

/* xAPIC logical (11.6.2.2): the DFR model decides how the 8-bit message
 * destination is compared with LDR[31:24]. Flat: any common bit. Cluster:
 * the upper nibbles (cluster) equal, or the message's 0xF (every cluster),
 * and a common bit in the lower ones. Reserved models match nothing. */
static bool SimpLogicalMatchXApic(uint32_t Cpu, uint32_t Destination)
{
    uint32_t Mda = Destination & XAPIC_BROADCAST;
    uint32_t LogicalId = SimLapicModelLogicalId(Cpu);
    uint32_t Model = SimLapicModelDestinationModel(Cpu);
    if (Model == DFR_MODEL_FLAT)
        return (Mda & LogicalId) != 0;
    if (Model == DFR_MODEL_CLUSTER)
        return ((Mda >> 4) == 0xFu || (Mda >> 4) == (LogicalId >> 4)) && (Mda & LogicalId & 0xFu) != 0;
    return false;
}

/* x2APIC logical (11.12.10): cluster in bits 31:16 equal and a common bit in
 * the 16-bit member mask; 0xFFFFFFFF is the broadcast (11.12.9). */
static bool SimpLogicalMatchX2Apic(uint32_t Cpu, uint32_t Destination)
{
    if (Destination == X2APIC_BROADCAST)
        return true;
    uint32_t LogicalId = SimLapicModelLogicalId(Cpu);
    return (Destination >> 16) == (LogicalId >> 16) && (Destination & LogicalId & 0xFFFFu) != 0;
}

/* (A globally disabled LAPIC takes no message at all: lapic_model.c.) */
static bool SimpDestinationMatch(uint32_t Cpu, const SIM_APIC_MESSAGE *Message)
{
    bool X2Apic = SimLapicModelMode(Cpu) == SimLapicX2Apic;
    if (!Message->Logical)
        return SimpPhysicalMatch(Cpu, X2Apic, Message->Destination);
    if (X2Apic)
        return SimpLogicalMatchX2Apic(Cpu, Message->Destination);
    return SimpLogicalMatchXApic(Cpu, Message->Destination);
}

/* A shorthand (ICR only) replaces the destination field (11.6.1). */
static bool SimpAddressed(uint32_t Cpu, const SIM_APIC_MESSAGE *Message)
{
    switch (Message->Shorthand) {
    case SHORTHAND_SELF:
        return Cpu == Message->SourceCpu;
    case SHORTHAND_ALL:
        return true;
    case SHORTHAND_ALL_BUT_SELF:
        return Cpu != Message->SourceCpu;
    default:
        return SimpDestinationMatch(Cpu, Message);
    }
}

/* ---- Delivery -------------------------------------------------------------------------------------- */

/* Lowest priority (11.6.2.4): among the addressed LAPICs that can take a
 * fixed interrupt (enabled), the lowest TPR class wins; ties go to the
 * lowest APIC id. */
static uint32_t SimpArbitrate(const SIM_APIC_MESSAGE *Message)
{
    uint32_t Winner = SIM_NO_CPU;
    uint8_t WinnerClass = 0;
    uint32_t WinnerId = 0;
    for (uint32_t Cpu = 0; Cpu < SimCpuCount(); Cpu++) {
        if (!SimpAddressed(Cpu, Message) || !SimLapicModelEnabled(Cpu))
            continue;
        uint8_t Class = SimLapicModelTprClass(Cpu);
        uint32_t Id = SimLapicModelApicId(Cpu);
        if (Winner == SIM_NO_CPU || Class < WinnerClass || (Class == WinnerClass && Id < WinnerId)) {
            Winner = Cpu;
            WinnerClass = Class;
            WinnerId = Id;
        }
    }
    return Winner;
}

/* Every LAPIC is asked: with modes mixed, one physical destination can
 * match an x2APIC-mode id and an xAPIC-mode low byte at once. */
uint32_t SimBusDeliver(const SIM_APIC_MESSAGE *Message)
{
    if (Message->DeliveryMode == MODE_LOWEST_PRIORITY) {
        uint32_t Winner = SimpArbitrate(Message);
        return Winner != SIM_NO_CPU && SimLapicModelReceive(Winner, Message) ? 1u : 0u;
    }
    uint32_t Accepted = 0;
    for (uint32_t Cpu = 0; Cpu < SimCpuCount(); Cpu++) {
        if (SimpAddressed(Cpu, Message) && SimLapicModelReceive(Cpu, Message))
            Accepted++;
    }
    return Accepted;
}

/* ---- MSI ---------------------------------------------------------------------------------------- */

/* Address (11.11.1): 0xFEE, destination id in 19:12, redirection hint 3,
 * destination mode 2. The destination mode is honoured whatever the hint
 * (as chipsets and QEMU do); the hint asks for lowest-priority redirection
 * among the destinations, so a fixed message with it set is arbitrated.
 * Data (11.11.2): vector 7:0, delivery mode 10:8 (011 and 110 reserved:
 * dropped), level 14, trigger 15. A level-triggered de-assert message
 * carries no interrupt. Without interrupt remapping the destination is 8
 * bits, in x2APIC mode too. */
void SimBusDeliverFromIommu(const SIM_IOMMU_INTERRUPT *Interrupt)
{
    SIM_APIC_MESSAGE Message = {
        .Destination = Interrupt->Destination,
        .Logical = Interrupt->Logical,
        .DeliveryMode = Interrupt->DeliveryMode,
        .Vector = Interrupt->Vector,
        .Level = Interrupt->Level,
        .Shorthand = SHORTHAND_NONE,
        .SourceCpu = SIM_NO_CPU,
    };
    (void)SimBusDeliver(&Message);
}

void SimMsiWriteThroughIommu(uint32_t Unit, uint16_t RequesterId, uint64_t Address, uint32_t Data)
{
    SIM_IOMMU_INTERRUPT Interrupt;
    if (SimIommuRemapMsi(Unit, Address, Data, RequesterId, &Interrupt) != SimIommuBlocked)
        SimBusDeliverFromIommu(&Interrupt);
}

void SimMsiWrite(uint64_t Address, uint32_t Data)
{
    if ((Address & MSI_ADDRESS_WINDOW_MASK) != MSI_ADDRESS_WINDOW) {
        SimFault("SimMsiWrite", Address, "not an MSI address (0xFEExxxxx, SDM 11.11.1)");
        return;
    }
    uint32_t Mode = (Data >> MSI_DATA_DELIVERY_MODE_SHIFT) & MSI_DATA_DELIVERY_MODE_MASK;
    bool Level = (Data & MSI_DATA_TRIGGER_LEVEL) != 0;
    if (Mode == MSI_MODE_RESERVED_3 || Mode == MSI_MODE_RESERVED_6 || (Level && (Data & MSI_DATA_LEVEL_ASSERT) == 0))
        return;
    if ((Address & MSI_ADDRESS_REDIRECTION_HINT) != 0 && Mode == MODE_FIXED)
        Mode = MODE_LOWEST_PRIORITY;
    SIM_APIC_MESSAGE Message = {
        .Destination = (uint32_t)(Address >> MSI_ADDRESS_DESTINATION_SHIFT) & MSI_ADDRESS_DESTINATION_MASK,
        .Logical = (Address & MSI_ADDRESS_DESTINATION_LOGICAL) != 0,
        .DeliveryMode = (uint8_t)Mode,
        .Vector = (uint8_t)(Data & MSI_DATA_VECTOR_MASK),
        .Level = Level,
        .Shorthand = SHORTHAND_NONE,
        .SourceCpu = SIM_NO_CPU,
    };
    (void)SimBusDeliver(&Message);
}
