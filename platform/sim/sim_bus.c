/*
 * The sim's buses: address decode for the register-access hooks
 * (PlatMmio*, PlatReadMsr/PlatWriteMsr), the APIC bus that carries a message
 * from an I/O APIC, an MSI write or an ICR to the local APIC(s) it
 * addresses (Intel SDM vol. 3A 11.6.2 "Determining IPI Destination",
 * 11.6.2.4 lowest-priority delivery), and MSI writes (11.11).
 *
 * An access nothing decodes is a bug in the sim or in the driver that made
 * it: the sim stops with a message rather than read back zeros that a test
 * would mistake for hardware behaviour.
 *
 * Routing follows the SDM; where QEMU 7.2 differs and a test could come to
 * depend on it (../shared/qemu-notes.md), the difference is named:
 *  - logical cluster destination 0xFF is not a broadcast (as QEMU);
 *  - lowest priority is a real arbitration (QEMU picks the lowest-numbered
 *    APIC): the addressed, software-enabled LAPIC with the lowest TPR class
 *    wins, ties going to the lowest APIC id. There is no focus processor
 *    (SVR bit 9 is stored, not used), as on Pentium 4 and later processors.
 *
 * Nothing here keeps state or takes a lock: messages are routed on the
 * sender's thread with the LAPIC model's atomics.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqroute/platform.h>

#include "sim.h"
#include "sim_internal.h"

/* ---- Address map ----------------------------------------------------------------- */

#define LAPIC_WINDOW_BASE 0xFEE00000u /* xAPIC registers (11.4.1), one 4 KiB page */
#define LAPIC_WINDOW_SIZE 0x1000u
#define LAPIC_REGISTER_ALIGN 0x10u    /* registers sit on 16-byte boundaries */
#define LAPIC_TPR 0x080u
#define LAPIC_DFR 0x0E0u

#define IA32_APIC_BASE 0x01Bu         /* 11.4.4 */
#define IA32_APIC_BASE_BSP (1ull << 8)
#define IA32_APIC_BASE_EXTD (1ull << 10)
#define IA32_APIC_BASE_EN (1ull << 11)
#define X2APIC_MSR_FIRST 0x800u       /* 11.12.1.2 */
#define X2APIC_MSR_LAST 0x8FFu
#define X2APIC_MSR_TPR 0x808u

/* The bootstrap processor is CPU 0. */
#define SIMP_BSP_CPU 0u

/* ---- Messages (11.6.1, 11.6.2) -------------------------------------------------------- */

#define SHORTHAND_NONE 0u
#define SHORTHAND_SELF 1u
#define SHORTHAND_ALL 2u
#define SHORTHAND_ALL_BUT_SELF 3u

#define MODE_FIXED 0u
#define MODE_LOWEST_PRIORITY 1u

#define XAPIC_BROADCAST 0xFFu
#define X2APIC_BROADCAST 0xFFFFFFFFu
#define DFR_MODEL_SHIFT 28u
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

static _Noreturn void SimpBusFault(const char *Hook, uint64_t Where, const char *Why)
{
    fprintf(stderr, "sim: %s(0x%" PRIx64 "): %s\n", Hook, Where, Why);
    abort();
}

/* The LAPIC a register access reaches is the caller's own. */
static uint32_t SimpAccessingCpu(const char *Hook, uint64_t Where)
{
    uint32_t Cpu = SimAttachedCpu();
    if (Cpu == SIM_NO_CPU)
        SimpBusFault(Hook, Where, "local APIC access from a thread not attached to a CPU (SimAttachCpu first)");
    return Cpu;
}

/* ---- MMIO ---------------------------------------------------------------------------------- */

static bool SimpIsLapicWindow(uintptr_t Address)
{
    return Address >= LAPIC_WINDOW_BASE && Address - LAPIC_WINDOW_BASE < LAPIC_WINDOW_SIZE;
}

/* In x2APIC mode the MMIO page is not decoded (11.12.1.2); a misaligned
 * access hits no register. Both are driver bugs. */
static uint32_t SimpLapicMmioCpu(const char *Hook, uintptr_t Address, uint32_t *Offset)
{
    uint32_t Cpu = SimpAccessingCpu(Hook, Address);
    if (SimLapicModelX2Apic())
        SimpBusFault(Hook, Address, "xAPIC MMIO access while the local APICs are in x2APIC mode");
    *Offset = (uint32_t)(Address - LAPIC_WINDOW_BASE);
    if (*Offset % LAPIC_REGISTER_ALIGN != 0)
        SimpBusFault(Hook, Address, "local APIC register access not on a 16-byte boundary");
    return Cpu;
}

/* A TPR write is a point where the CPU notices newly deliverable interrupts
 * (sim.h): with IF set it takes them before the next "instruction". */
static void SimpAfterTprWrite(uint32_t Cpu)
{
    if (SimCpuInterruptsEnabled(Cpu))
        (void)SimServicePending();
}

uint32_t PlatMmioRead32(uintptr_t Address)
{
    uint32_t Value;
    if (SimIoApicModelAccess(Address, false, &Value))
        return Value;
    if (!SimpIsLapicWindow(Address))
        SimpBusFault("PlatMmioRead32", Address, "no device at this address");
    uint32_t Offset;
    uint32_t Cpu = SimpLapicMmioCpu("PlatMmioRead32", Address, &Offset);
    return SimLapicModelMmioRead(Cpu, Offset);
}

void PlatMmioWrite32(uintptr_t Address, uint32_t Value)
{
    if (SimIoApicModelAccess(Address, true, &Value))
        return;
    if (!SimpIsLapicWindow(Address))
        SimpBusFault("PlatMmioWrite32", Address, "no device at this address");
    uint32_t Offset;
    uint32_t Cpu = SimpLapicMmioCpu("PlatMmioWrite32", Address, &Offset);
    SimLapicModelMmioWrite(Cpu, Offset, Value);
    if (Offset == LAPIC_TPR)
        SimpAfterTprWrite(Cpu);
}

/* ---- MSRs ------------------------------------------------------------------------------------ */

/* IA32_APIC_BASE as the sim's fixed configuration has it: base 0xFEE00000,
 * globally enabled, EXTD in x2APIC mode, BSP flag on CPU 0. */
static uint64_t SimpApicBase(uint32_t Cpu)
{
    uint64_t Value = LAPIC_WINDOW_BASE | IA32_APIC_BASE_EN;
    if (SimLapicModelX2Apic())
        Value |= IA32_APIC_BASE_EXTD;
    if (Cpu == SIMP_BSP_CPU)
        Value |= IA32_APIC_BASE_BSP;
    return Value;
}

static bool SimpIsX2ApicMsr(uint32_t Msr)
{
    return Msr >= X2APIC_MSR_FIRST && Msr <= X2APIC_MSR_LAST;
}

/* The x2APIC MSRs #GP in xAPIC mode (11.12.1.2). */
static uint32_t SimpX2ApicMsrCpu(const char *Hook, uint32_t Msr)
{
    uint32_t Cpu = SimpAccessingCpu(Hook, Msr);
    if (!SimLapicModelX2Apic())
        SimpBusFault(Hook, Msr, "#GP: x2APIC MSR access while the local APICs are in xAPIC mode");
    return Cpu;
}

uint64_t PlatReadMsr(uint32_t Msr)
{
    if (Msr == IA32_APIC_BASE)
        return SimpApicBase(SimpAccessingCpu("PlatReadMsr", Msr));
    if (!SimpIsX2ApicMsr(Msr))
        SimpBusFault("PlatReadMsr", Msr, "MSR not modelled by the sim");
    return SimLapicModelMsrRead(SimpX2ApicMsrCpu("PlatReadMsr", Msr), Msr);
}

/* The APIC mode is fixed when the sim is created: a write to IA32_APIC_BASE
 * may only confirm it (enabling what is enabled already). */
void PlatWriteMsr(uint32_t Msr, uint64_t Value)
{
    if (Msr == IA32_APIC_BASE) {
        if (Value != SimpApicBase(SimpAccessingCpu("PlatWriteMsr", Msr)))
            SimpBusFault("PlatWriteMsr", Value,
                         "IA32_APIC_BASE change not modelled (base, global enable and x2APIC mode are fixed by "
                         "SimCreate)");
        return;
    }
    if (!SimpIsX2ApicMsr(Msr))
        SimpBusFault("PlatWriteMsr", Msr, "MSR not modelled by the sim");
    uint32_t Cpu = SimpX2ApicMsrCpu("PlatWriteMsr", Msr);
    SimLapicModelMsrWrite(Cpu, Msr, Value);
    if (Msr == X2APIC_MSR_TPR)
        SimpAfterTprWrite(Cpu);
}

/* ---- Destination matching (11.6.2) --------------------------------------------------------------- */

static bool SimpPhysicalBroadcast(uint32_t Destination)
{
    return Destination == (SimLapicModelX2Apic() ? X2APIC_BROADCAST : XAPIC_BROADCAST);
}

static bool SimpPhysicalMatch(uint32_t Cpu, uint32_t Destination)
{
    return SimpPhysicalBroadcast(Destination) || Destination == SimLapicModelApicId(Cpu);
}

/* xAPIC logical (11.6.2.2): the DFR model decides how the 8-bit message
 * destination is compared with LDR[31:24]. Flat: any common bit. Cluster:
 * the upper nibbles (cluster) equal and a common bit in the lower ones;
 * 0xFF is not a broadcast there (QEMU). Reserved models match nothing. */
static bool SimpLogicalMatchXApic(uint32_t Cpu, uint32_t Destination)
{
    uint32_t Mda = Destination & XAPIC_BROADCAST;
    uint32_t LogicalId = SimLapicModelLogicalId(Cpu);
    uint32_t Model = SimLapicModelMmioRead(Cpu, LAPIC_DFR) >> DFR_MODEL_SHIFT;
    if (Model == DFR_MODEL_FLAT)
        return (Mda & LogicalId) != 0;
    if (Model == DFR_MODEL_CLUSTER)
        return (Mda >> 4) == (LogicalId >> 4) && (Mda & LogicalId & 0xFu) != 0;
    return false;
}

/* x2APIC logical (11.12.10): cluster in bits 31:16 equal and a common bit in
 * the 16-bit member mask; 0xFFFFFFFF is the broadcast in both modes (11.12.9). */
static bool SimpLogicalMatchX2Apic(uint32_t Cpu, uint32_t Destination)
{
    if (Destination == X2APIC_BROADCAST)
        return true;
    uint32_t LogicalId = SimLapicModelLogicalId(Cpu);
    return (Destination >> 16) == (LogicalId >> 16) && (Destination & LogicalId & 0xFFFFu) != 0;
}

static bool SimpDestinationMatch(uint32_t Cpu, const SIM_APIC_MESSAGE *Message)
{
    if (!Message->Logical)
        return SimpPhysicalMatch(Cpu, Message->Destination);
    if (SimLapicModelX2Apic())
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

/* Physical ids are unique, so a physical message to one id is done at the
 * first match. */
static bool SimpSingleTarget(const SIM_APIC_MESSAGE *Message)
{
    return Message->Shorthand == SHORTHAND_SELF ||
           (Message->Shorthand == SHORTHAND_NONE && !Message->Logical &&
            !SimpPhysicalBroadcast(Message->Destination));
}

/* ---- Delivery -------------------------------------------------------------------------------------- */

/* Lowest priority (11.6.2.4): among the addressed LAPICs that can take a
 * fixed interrupt (software-enabled), the lowest TPR class wins; ties go to
 * the lowest APIC id. */
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

uint32_t SimBusDeliver(const SIM_APIC_MESSAGE *Message)
{
    if (Message->DeliveryMode == MODE_LOWEST_PRIORITY) {
        uint32_t Winner = SimpArbitrate(Message);
        return Winner != SIM_NO_CPU && SimLapicModelReceive(Winner, Message) ? 1u : 0u;
    }
    uint32_t Accepted = 0;
    bool Single = SimpSingleTarget(Message);
    for (uint32_t Cpu = 0; Cpu < SimCpuCount(); Cpu++) {
        if (!SimpAddressed(Cpu, Message))
            continue;
        if (SimLapicModelReceive(Cpu, Message))
            Accepted++;
        if (Single)
            break;
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
void SimMsiWrite(uint64_t Address, uint32_t Data)
{
    if ((Address & MSI_ADDRESS_WINDOW_MASK) != MSI_ADDRESS_WINDOW)
        SimpBusFault("SimMsiWrite", Address, "not an MSI address (0xFEExxxxx, SDM 11.11.1)");
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
