/* SPDX-License-Identifier: MIT */
/*
 * The register-script interpreter (regscript.h). Freestanding C11: it is
 * compiled into the host's unit test and into the reference kernel, and
 * calls nothing but the platform hooks, Hl, Ke and the adapter.
 *
 * Interrupts. The run keeps the CPU's interrupt flag clear, so an IPI or a
 * device message stays in the IRR where the next step can read it (SDM vol.
 * 3A 11.8.4: the local APIC holds a vector in the IRR until the processor
 * accepts it, which needs RFLAGS.IF). An accept step sets the flag for a
 * moment; every script vector is a Ke system vector whose handler (below)
 * snapshots the priority and vector registers at entry, before
 * KeDispatchInterrupt's EOI, so later steps can check what the local APIC
 * held while the interrupt was in service.
 *
 * One run at a time (the snapshot state is static): RegcheckRun refuses a
 * second concurrent one.
 *
 * Mode. The register interface is the running CPU's IA32_APIC_BASE (SDM
 * vol. 3A 11.4.4), re-read after every write to it: EXTD, x2APIC MSRs
 * (11.12.1.2); EN alone, xAPIC MMIO at the base it holds; neither, no
 * register (a disabled local APIC decodes none, 11.4.3). A transition the
 * SDM refuses with #GP (11.12.5.1, figure 11-27) is never written: the step
 * fails instead, so a wrong script cannot fault the CPU it runs on.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "regscript.h"

/* ---- Architecture constants ------------------------------------------------------- */

#define IA32_APIC_BASE 0x01Bu                  /* SDM vol. 3A 11.4.4 */
#define IA32_APIC_BASE_ADDRESS 0xFFFFFF000ull  /* bits 35:12 */
#define IA32_APIC_BASE_EN ((uint64_t)REGCHECK_APIC_BASE_EN)
#define IA32_APIC_BASE_EXTD ((uint64_t)REGCHECK_APIC_BASE_EXTD)
#define IA32_APIC_BASE_MODE (IA32_APIC_BASE_EN | IA32_APIC_BASE_EXTD)
#define X2APIC_MSR_BASE 0x800u                 /* 11.12.1.2: MSR = 0x800 + offset / 16 */
#define LAPIC_REGISTER_STRIDE 0x10u
#define LAPIC_VECTOR_WORDS 8u
#define LAPIC_APR 0x090u

#define IOAPIC_IOREGSEL 0x00u /* 82093AA 3.1.1 */
#define IOAPIC_IOWIN 0x10u    /* 3.1.2 */
#define IOAPIC_IOEOI 0x40u    /* I/O xAPIC (version 0x20) EOI register */

/* VT-d invalidation wait descriptor (VT-d 6.5.2.8): type 5, SW (status
 * write) 5, status data 63:32; the high half is the status address. */
#define VTD_DESC_WAIT 0x5ull
#define VTD_DESC_WAIT_SW (1ull << 5)
#define VTD_DESC_SIZE 16u

/* A compatibility-format MSI to a physical destination (SDM 11.11.1):
 * 0xFEE in bits 31:20, the 8-bit destination id in 19:12. */
#define MSI_ADDRESS_BASE 0xFEE00000ull
#define MSI_DESTINATION_SHIFT 12u
#define XAPIC_MAX_DESTINATION 0xFEu /* 0xFF is the broadcast */
#define DESTINATION8_SHIFT 24u

/* ---- Limits ----------------------------------------------------------------------- */

/* Interrupts one accept step can record. */
#define REGCHECKP_MAX_TAKEN 8u
/* PlatCpuRelax rounds a polling read or an accept waits before it gives
 * up; only a failing step waits that long (a local message is in the IRR
 * before the instruction that sent it completes). */
#define REGCHECKP_POLL_LIMIT 1000000u
/* Rounds an accept step keeps interrupts enabled after the last expected
 * interrupt, so that one too many is seen too. */
#define REGCHECKP_SETTLE_ROUNDS 256u

/* ---- Run state -------------------------------------------------------------------- */

/* What the handler saw at entry of one interrupt. */
typedef struct _REGCHECKP_SNAPSHOT {
    uint32_t Vector;
    uint32_t Tpr;
    uint32_t Ppr;
    uint32_t Isr[LAPIC_VECTOR_WORDS];
    uint32_t Tmr[LAPIC_VECTOR_WORDS];
    uint32_t Irr[LAPIC_VECTOR_WORDS];
} REGCHECKP_SNAPSHOT;

typedef struct _REGCHECKP_STATE {
    /* The CPU's IA32_APIC_BASE now: EXTD (x2APIC), EN, the xAPIC base. */
    bool X2Apic;
    bool Enabled;
    uintptr_t LapicBase;
    uint32_t Cpu;
    uint32_t ApicId;
    const REGCHECK_ADAPTER *Adapter;
    /* Written by the handler (interrupt context on this CPU), read by the
     * accept loop: atomics so the compiler re-reads them. */
    _Atomic uint32_t Taken;
    _Atomic uint32_t StrayCpu; /* handler runs on another CPU */
    uint32_t TakenInLastAccept;
    REGCHECKP_SNAPSHOT Snapshots[REGCHECKP_MAX_TAKEN];
    /* The VT-d steps' memory (NULL: the script has none). */
    void *IommuTable;
    _Atomic uint64_t *IommuQueue;
    _Atomic uint32_t *IommuWaitStatus;
} REGCHECKP_STATE;

static REGCHECKP_STATE RegcheckpState;
static _Atomic bool RegcheckpRunning;

/* ---- Register access -------------------------------------------------------------- */

static uint32_t RegcheckpReadLapic(const REGCHECKP_STATE *State, uint32_t Offset)
{
    if (State->X2Apic)
        return (uint32_t)PlatReadMsr(X2APIC_MSR_BASE + Offset / LAPIC_REGISTER_STRIDE);
    return PlatMmioRead32(State->LapicBase + Offset);
}

static void RegcheckpWriteLapic(const REGCHECKP_STATE *State, uint32_t Offset, uint32_t Value)
{
    if (State->X2Apic)
        PlatWriteMsr(X2APIC_MSR_BASE + Offset / LAPIC_REGISTER_STRIDE, Value);
    else
        PlatMmioWrite32(State->LapicBase + Offset, Value);
}

static uint32_t RegcheckpReadIoApic(const REGCHECKP_STATE *State, uint32_t Index)
{
    PlatMmioWrite32(State->Adapter->IoApicAddress + IOAPIC_IOREGSEL, Index);
    return PlatMmioRead32(State->Adapter->IoApicAddress + IOAPIC_IOWIN);
}

static void RegcheckpWriteIoApic(const REGCHECKP_STATE *State, uint32_t Index, uint32_t Value)
{
    PlatMmioWrite32(State->Adapter->IoApicAddress + IOAPIC_IOREGSEL, Index);
    PlatMmioWrite32(State->Adapter->IoApicAddress + IOAPIC_IOWIN, Value);
}

static uint32_t RegcheckpReadIommu32(const REGCHECKP_STATE *State, uint32_t Offset)
{
    return PlatMmioRead32(State->Adapter->IommuAddress + Offset);
}

/* 64-bit registers as two aligned doublewords, low first (VT-d 10.2). */
static uint64_t RegcheckpReadIommu64(const REGCHECKP_STATE *State, uint32_t Offset)
{
    uint64_t Low = RegcheckpReadIommu32(State, Offset);
    return Low | (uint64_t)RegcheckpReadIommu32(State, Offset + 4u) << 32;
}

static void RegcheckpWriteIommu(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, uint64_t Value)
{
    uintptr_t Address = State->Adapter->IommuAddress + Step->Register;
    PlatMmioWrite32(Address, (uint32_t)Value);
    if (Step->Kind == RegcheckWriteIommu64)
        PlatMmioWrite32(Address + 4u, (uint32_t)(Value >> 32));
}

/* ---- IA32_APIC_BASE ------------------------------------------------------------------ */

/* The interface the CPU decodes now. */
static void RegcheckpSyncMode(REGCHECKP_STATE *State)
{
    uint64_t ApicBase = PlatReadMsr(IA32_APIC_BASE);
    State->Enabled = (ApicBase & IA32_APIC_BASE_EN) != 0;
    State->X2Apic = (ApicBase & IA32_APIC_BASE_EXTD) != 0;
    State->LapicBase = (uintptr_t)(ApicBase & IA32_APIC_BASE_ADDRESS);
}

/* Why the CPU would refuse IA32_APIC_BASE = Old with EN and EXTD replaced
 * by Wanted (a #GP, SDM 11.12.5.1 and figure 11-27), or NULL. */
static const char *RegcheckpApicBaseRefusal(const REGCHECKP_STATE *State, uint64_t Old, uint64_t Wanted)
{
    if ((Wanted & ~IA32_APIC_BASE_MODE) != 0)
        return "a value with bits other than EN and EXTD";
    if ((Wanted & IA32_APIC_BASE_EXTD) == 0) {
        if ((Old & IA32_APIC_BASE_EXTD) != 0 && Wanted == IA32_APIC_BASE_EN)
            return "x2APIC -> xAPIC without disabling first (#GP)";
        return NULL;
    }
    if (!State->Adapter->X2ApicOffered)
        return "EXTD on a CPU that does not offer x2APIC (#GP)";
    if ((Wanted & IA32_APIC_BASE_EN) == 0)
        return "EXTD with EN clear, the invalid state (#GP)";
    if ((Old & IA32_APIC_BASE_EN) == 0)
        return "disabled -> x2APIC in one write (#GP): xAPIC first";
    return NULL;
}

/* EN and EXTD set to Wanted, the base and BSP kept as read; NULL, or why
 * not (nothing written). */
static const char *RegcheckpSetApicBase(REGCHECKP_STATE *State, uint64_t Wanted)
{
    uint64_t Old = PlatReadMsr(IA32_APIC_BASE);
    const char *Refusal = RegcheckpApicBaseRefusal(State, Old, Wanted);
    if (Refusal != NULL)
        return Refusal;
    PlatWriteMsr(IA32_APIC_BASE, (Old & ~IA32_APIC_BASE_MODE) | Wanted);
    RegcheckpSyncMode(State);
    return NULL;
}

/* Back to the EN and EXTD found at the start, by allowed transitions only:
 * x2APIC is left through disabled and entered from xAPIC. */
static void RegcheckpRestoreApicBase(REGCHECKP_STATE *State, uint64_t Found)
{
    uint64_t Target = Found & IA32_APIC_BASE_MODE;
    uint64_t Now = PlatReadMsr(IA32_APIC_BASE) & IA32_APIC_BASE_MODE;
    if (Now == Target)
        return;
    if ((Now & IA32_APIC_BASE_EXTD) != 0 || Target == 0) {
        (void)RegcheckpSetApicBase(State, 0);
        Now = 0;
    }
    if (Target != 0 && Now == 0)
        (void)RegcheckpSetApicBase(State, IA32_APIC_BASE_EN);
    if (Target == IA32_APIC_BASE_MODE)
        (void)RegcheckpSetApicBase(State, IA32_APIC_BASE_MODE);
}

/* ---- The handler ------------------------------------------------------------------- */

/* Runs inside KeDispatchInterrupt, interrupts disabled, before its EOI: the
 * vector is in the ISR and PPR reflects it (11.8.3.1). */
static void RegcheckpHandler(uint32_t Cpu, uint8_t Vector, void *Context)
{
    REGCHECKP_STATE *State = Context;
    if (Cpu != State->Cpu) {
        atomic_fetch_add_explicit(&State->StrayCpu, 1, memory_order_relaxed);
        return;
    }
    uint32_t Index = atomic_load_explicit(&State->Taken, memory_order_relaxed);
    if (Index < REGCHECKP_MAX_TAKEN) {
        REGCHECKP_SNAPSHOT *Snapshot = &State->Snapshots[Index];
        Snapshot->Vector = Vector;
        Snapshot->Tpr = RegcheckpReadLapic(State, REGCHECK_LAPIC_TPR);
        Snapshot->Ppr = RegcheckpReadLapic(State, REGCHECK_LAPIC_PPR);
        for (uint32_t Word = 0; Word < LAPIC_VECTOR_WORDS; Word++) {
            uint32_t Stride = Word * LAPIC_REGISTER_STRIDE;
            Snapshot->Isr[Word] = RegcheckpReadLapic(State, REGCHECK_LAPIC_ISR0 + Stride);
            Snapshot->Tmr[Word] = RegcheckpReadLapic(State, REGCHECK_LAPIC_TMR0 + Stride);
            Snapshot->Irr[Word] = RegcheckpReadLapic(State, REGCHECK_LAPIC_IRR0 + Stride);
        }
    }
    atomic_store_explicit(&State->Taken, Index + 1u, memory_order_relaxed);
}

/* The snapshot value of a register, false when the handler does not record it. */
static bool RegcheckpSnapshotRegister(const REGCHECKP_SNAPSHOT *Snapshot, uint32_t Register, uint32_t *Value)
{
    uint32_t Word = (Register % 0x80u) / LAPIC_REGISTER_STRIDE;
    if (Register == REGCHECK_TAKEN_VECTOR)
        *Value = Snapshot->Vector;
    else if (Register == REGCHECK_LAPIC_TPR)
        *Value = Snapshot->Tpr;
    else if (Register == REGCHECK_LAPIC_PPR)
        *Value = Snapshot->Ppr;
    else if (Register % LAPIC_REGISTER_STRIDE != 0 || Register < REGCHECK_LAPIC_ISR0 ||
             Register >= REGCHECK_LAPIC_ESR)
        return false;
    else if (Register < REGCHECK_LAPIC_TMR0)
        *Value = Snapshot->Isr[Word];
    else if (Register < REGCHECK_LAPIC_IRR0)
        *Value = Snapshot->Tmr[Word];
    else
        *Value = Snapshot->Irr[Word];
    return true;
}

/* ---- Steps ------------------------------------------------------------------------- */

static bool RegcheckpStepApplies(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step)
{
    switch (Step->Mode) {
    case RegcheckXApicOnly:
        return State->Enabled && !State->X2Apic;
    case RegcheckX2ApicOnly:
        return State->X2Apic;
    case RegcheckX2ApicOffered:
        return State->Adapter->X2ApicOffered;
    case RegcheckDisabledOnly:
        return !State->Enabled;
    default:
        return true;
    }
}

/* The number a step means; false when the running CPU cannot give it (an
 * APIC id that does not fit an 8-bit destination field). */
static bool RegcheckpResolve(const REGCHECKP_STATE *State, REGCHECK_SYMBOL Symbol, uint64_t Number, uint64_t *Value)
{
    uint32_t Id = State->ApicId;
    switch (Symbol) {
    case RegcheckLiteral:
        *Value = Number;
        return true;
    case RegcheckSelfIdRegister:
        *Value = State->X2Apic ? Id : (uint64_t)Id << DESTINATION8_SHIFT;
        return State->X2Apic || Id <= XAPIC_MAX_DESTINATION;
    case RegcheckSelfDestination8:
        *Value = (uint64_t)Id << DESTINATION8_SHIFT;
        return Id <= XAPIC_MAX_DESTINATION;
    case RegcheckSelfFlatLdr:
        *Value = State->Cpu < 8u ? (uint64_t)(1u << State->Cpu) << DESTINATION8_SHIFT : 0u;
        return true;
    case RegcheckSelfClusterLdr:
        *Value = (uint64_t)(Id >> 4) << 16 | 1u << (Id & 0xFu);
        return true;
    case RegcheckVectorBit:
        *Value = 1ull << (Number % 32u);
        return true;
    case RegcheckIommuTable:
        *Value = (uint64_t)(uintptr_t)State->IommuTable | Number;
        return State->IommuTable != NULL;
    case RegcheckIommuQueue:
        *Value = (uint64_t)(uintptr_t)State->IommuQueue | Number;
        return State->IommuQueue != NULL;
    default:
        return false;
    }
}

/* Outcome of one step, filled in only on failure. */
typedef struct _REGCHECKP_OUTCOME {
    bool Failed;
    bool Compared;
    uint64_t Read;
    uint64_t Expected;
    const char *Why;
} REGCHECKP_OUTCOME;

static void RegcheckpFail(REGCHECKP_OUTCOME *Outcome, const char *Why)
{
    Outcome->Failed = true;
    Outcome->Why = Why;
}

static void RegcheckpCompare(REGCHECKP_OUTCOME *Outcome, uint64_t Read, uint64_t Expected, uint64_t Mask)
{
    if ((Read & Mask) == (Expected & Mask))
        return;
    Outcome->Failed = true;
    Outcome->Compared = true;
    Outcome->Read = Read & Mask;
    Outcome->Expected = Expected & Mask;
}

static uint64_t RegcheckpReadOnce(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step)
{
    switch (Step->Kind) {
    case RegcheckReadLapic:
        return RegcheckpReadLapic(State, Step->Register);
    case RegcheckReadIoApic:
        return RegcheckpReadIoApic(State, Step->Register);
    case RegcheckReadIommu32:
        return RegcheckpReadIommu32(State, Step->Register);
    case RegcheckReadIommu64:
        return RegcheckpReadIommu64(State, Step->Register);
    case RegcheckReadWaitStatus:
        return atomic_load_explicit(State->IommuWaitStatus, memory_order_acquire);
    default:
        return PlatReadMsr(IA32_APIC_BASE);
    }
}

/* The value a read step expects or a write step writes (Given, resolved
 * against Step->Symbol) into *Value. Fails the outcome instead when the step
 * needs the local APIC (OnLapic) and it is disabled, or when the value needs
 * an APIC id above 0xFE. */
static bool RegcheckpStepValue(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, bool OnLapic, bool Write,
                               uint64_t Given, uint64_t *Value, REGCHECKP_OUTCOME *Outcome)
{
    if (OnLapic && !State->Enabled) {
        RegcheckpFail(Outcome, Write ? "the local APIC is disabled (IA32_APIC_BASE.EN clear): no register to write"
                                     : "the local APIC is disabled (IA32_APIC_BASE.EN clear): no register to read");
        return false;
    }
    if (!RegcheckpResolve(State, Step->Symbol, Given, Value)) {
        RegcheckpFail(Outcome, Write ? "the value needs an APIC id above 0xFE"
                                     : "the expected value needs an APIC id above 0xFE");
        return false;
    }
    return true;
}

static bool RegcheckpIsIommuStep(REGCHECK_KIND Kind)
{
    return Kind == RegcheckReadIommu32 || Kind == RegcheckReadIommu64 || Kind == RegcheckWriteIommu32 ||
           Kind == RegcheckWriteIommu64 || Kind == RegcheckQueueWait || Kind == RegcheckReadWaitStatus;
}

/* A VT-d step needs the adapter's unit and the interpreter's memory. */
static bool RegcheckpIommuReady(const REGCHECKP_STATE *State, REGCHECKP_OUTCOME *Outcome)
{
    if (State->Adapter->IommuAddress == 0) {
        RegcheckpFail(Outcome, "no VT-d unit (REGCHECK_ADAPTER.IommuAddress)");
        return false;
    }
    return true;
}

/* The descriptor goes in high half first, then the low half that makes it
 * a wait descriptor; the status word is cleared before, so a later read
 * sees the unit's write only. */
static void RegcheckpQueueWait(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, REGCHECKP_OUTCOME *Outcome)
{
    if (!RegcheckpIommuReady(State, Outcome))
        return;
    if (Step->Register >= REGCHECK_IOMMU_PAGE / VTD_DESC_SIZE) {
        RegcheckpFail(Outcome, "a queue slot past the queue's page");
        return;
    }
    atomic_store_explicit(State->IommuWaitStatus, 0u, memory_order_release);
    _Atomic uint64_t *Descriptor = &State->IommuQueue[Step->Register * 2u];
    atomic_store_explicit(&Descriptor[1], (uint64_t)(uintptr_t)State->IommuWaitStatus, memory_order_release);
    atomic_store_explicit(&Descriptor[0], VTD_DESC_WAIT | VTD_DESC_WAIT_SW | (uint64_t)Step->Value << 32,
                          memory_order_release);
}

/* A read step: once, or (REGCHECK_FLAG_POLL) until it matches or the poll
 * limit passes, with interrupts still disabled. */
static void RegcheckpRead(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, REGCHECKP_OUTCOME *Outcome)
{
    uint64_t Expected;
    if (RegcheckpIsIommuStep(Step->Kind) && !RegcheckpIommuReady(State, Outcome))
        return;
    if (!RegcheckpStepValue(State, Step, Step->Kind == RegcheckReadLapic, false, Step->Expected, &Expected, Outcome))
        return;
    uint64_t Read = RegcheckpReadOnce(State, Step);
    if ((Step->Flags & REGCHECK_FLAG_POLL) != 0) {
        for (uint32_t Round = 0; Round < REGCHECKP_POLL_LIMIT && (Read & Step->Mask) != (Expected & Step->Mask);
             Round++) {
            PlatCpuRelax();
            Read = RegcheckpReadOnce(State, Step);
        }
    }
    RegcheckpCompare(Outcome, Read, Expected, Step->Mask);
}

static void RegcheckpReadInService(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step,
                                   REGCHECKP_OUTCOME *Outcome)
{
    uint64_t Expected;
    uint32_t Value;
    if (Step->Value >= State->TakenInLastAccept || Step->Value >= REGCHECKP_MAX_TAKEN) {
        RegcheckpFail(Outcome, "the last accept step took no such interrupt");
        return;
    }
    if (!RegcheckpSnapshotRegister(&State->Snapshots[Step->Value], Step->Register, &Value)) {
        RegcheckpFail(Outcome, "the handler does not record this register (TPR, PPR, ISR, TMR, IRR, vector)");
        return;
    }
    if (!RegcheckpStepValue(State, Step, false, false, Step->Expected, &Expected, Outcome))
        return;
    RegcheckpCompare(Outcome, Value, Expected, Step->Mask);
}

/* Interrupts on for a moment: until Value interrupts were taken (any number
 * with REGCHECK_ANY_COUNT), then a few more rounds to catch one too many. */
static void RegcheckpAccept(REGCHECKP_STATE *State, const REGCHECK_STEP *Step, REGCHECKP_OUTCOME *Outcome)
{
    uint32_t Wanted = Step->Value;
    atomic_store_explicit(&State->Taken, 0, memory_order_relaxed);
    PlatRestoreInterrupts(true);
    for (uint32_t Round = 0; Wanted != REGCHECK_ANY_COUNT && Round < REGCHECKP_POLL_LIMIT &&
                             atomic_load_explicit(&State->Taken, memory_order_relaxed) < Wanted;
         Round++)
        PlatCpuRelax();
    for (uint32_t Round = 0; Round < REGCHECKP_SETTLE_ROUNDS; Round++)
        PlatCpuRelax();
    (void)PlatDisableInterrupts();
    uint32_t Taken = atomic_load_explicit(&State->Taken, memory_order_relaxed);
    State->TakenInLastAccept = Taken;
    if (Wanted != REGCHECK_ANY_COUNT)
        RegcheckpCompare(Outcome, Taken, Wanted, UINT64_MAX);
    if (!Outcome->Failed && atomic_load_explicit(&State->StrayCpu, memory_order_relaxed) != 0)
        RegcheckpFail(Outcome, "a script vector was taken on another CPU");
}

static void RegcheckpSendIpi(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, bool ToOwnId,
                             REGCHECKP_OUTCOME *Outcome)
{
    if (!State->Enabled || State->X2Apic != (HlLapicGetMode() == HlLapicModeX2Apic)) {
        RegcheckpFail(Outcome, "the CPU is not in the mode Hl selected: HlLapicSendIpi would use the other interface");
        return;
    }
    IRQ_STATUS Status = ToOwnId ? HlLapicSendIpi(State->ApicId, HlIpiNoShorthand, HlDeliveryFixed, (uint8_t)Step->Value)
                                : HlLapicSendIpi(0, HlIpiSelf, HlDeliveryFixed, (uint8_t)Step->Value);
    if (Status != IRQ_STATUS_SUCCESS)
        RegcheckpFail(Outcome, "HlLapicSendIpi refused the IPI");
}

static void RegcheckpSetPin(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, bool Asserted,
                            REGCHECKP_OUTCOME *Outcome)
{
    const REGCHECK_ADAPTER *Adapter = State->Adapter;
    if (Adapter->SetPin == NULL || !Adapter->SetPin(Adapter->Context, Step->Value, Asserted))
        RegcheckpFail(Outcome, "the platform cannot drive this I/O APIC input");
}

static void RegcheckpSendMsi(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, REGCHECKP_OUTCOME *Outcome)
{
    const REGCHECK_ADAPTER *Adapter = State->Adapter;
    if (State->ApicId > XAPIC_MAX_DESTINATION) {
        RegcheckpFail(Outcome, "an MSI cannot reach an APIC id above 0xFE without interrupt remapping");
        return;
    }
    uint64_t Address = MSI_ADDRESS_BASE | (uint64_t)State->ApicId << MSI_DESTINATION_SHIFT;
    if (Adapter->SendMsi == NULL || !Adapter->SendMsi(Adapter->Context, Address, Step->Value))
        RegcheckpFail(Outcome, "the platform cannot send an MSI");
}

static void RegcheckpWrite(const REGCHECKP_STATE *State, const REGCHECK_STEP *Step, REGCHECKP_OUTCOME *Outcome)
{
    uint64_t Value;
    if (RegcheckpIsIommuStep(Step->Kind) && !RegcheckpIommuReady(State, Outcome))
        return;
    if (!RegcheckpStepValue(State, Step, Step->Kind == RegcheckWriteLapic, true, Step->Value, &Value, Outcome))
        return;
    if (RegcheckpIsIommuStep(Step->Kind))
        RegcheckpWriteIommu(State, Step, Value);
    else if (Step->Kind == RegcheckWriteLapic)
        RegcheckpWriteLapic(State, Step->Register, (uint32_t)Value);
    else if (Step->Kind == RegcheckWriteIoApic)
        RegcheckpWriteIoApic(State, Step->Register, (uint32_t)Value);
    else
        PlatMmioWrite32(State->Adapter->IoApicAddress + IOAPIC_IOEOI, (uint32_t)Value);
}

static void RegcheckpWriteApicBase(REGCHECKP_STATE *State, const REGCHECK_STEP *Step, REGCHECKP_OUTCOME *Outcome)
{
    const char *Refusal = RegcheckpSetApicBase(State, Step->Value);
    if (Refusal != NULL)
        RegcheckpFail(Outcome, Refusal);
}

static void RegcheckpRunStep(REGCHECKP_STATE *State, const REGCHECK_STEP *Step, REGCHECKP_OUTCOME *Outcome)
{
    switch (Step->Kind) {
    case RegcheckReadLapic:
    case RegcheckReadApicBase:
    case RegcheckReadIoApic:
    case RegcheckReadIommu32:
    case RegcheckReadIommu64:
    case RegcheckReadWaitStatus:
        RegcheckpRead(State, Step, Outcome);
        break;
    case RegcheckWriteLapic:
    case RegcheckWriteIoApic:
    case RegcheckWriteIoApicEoi:
    case RegcheckWriteIommu32:
    case RegcheckWriteIommu64:
        RegcheckpWrite(State, Step, Outcome);
        break;
    case RegcheckQueueWait:
        RegcheckpQueueWait(State, Step, Outcome);
        break;
    case RegcheckWriteApicBase:
        RegcheckpWriteApicBase(State, Step, Outcome);
        break;
    case RegcheckSendSelfIpi:
    case RegcheckSendIpiToSelfId:
        RegcheckpSendIpi(State, Step, Step->Kind == RegcheckSendIpiToSelfId, Outcome);
        break;
    case RegcheckAssertPin:
    case RegcheckDeassertPin:
        RegcheckpSetPin(State, Step, Step->Kind == RegcheckAssertPin, Outcome);
        break;
    case RegcheckSendMsi:
        RegcheckpSendMsi(State, Step, Outcome);
        break;
    case RegcheckAccept:
        RegcheckpAccept(State, Step, Outcome);
        break;
    case RegcheckReadInService:
        RegcheckpReadInService(State, Step, Outcome);
        break;
    default:
        RegcheckpFail(Outcome, "unknown step kind");
        break;
    }
}

/* ---- Handlers for the script's vectors --------------------------------------------- */

static void RegcheckpRemoveHandlers(const REGCHECK_SCRIPT *Script, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++)
        (void)KeSetSystemVectorHandler(Script->Vectors[Index], NULL, NULL);
}

static IRQ_STATUS RegcheckpInstallHandlers(const REGCHECK_SCRIPT *Script, REGCHECKP_STATE *State)
{
    for (uint32_t Index = 0; Index < Script->VectorCount; Index++) {
        IRQ_STATUS Status = KeSetSystemVectorHandler(Script->Vectors[Index], RegcheckpHandler, State);
        if (Status != IRQ_STATUS_SUCCESS) {
            RegcheckpRemoveHandlers(Script, Index);
            return Status == IRQ_STATUS_NOT_INITIALIZED ? Status : IRQ_STATUS_INVALID_VECTOR;
        }
    }
    return IRQ_STATUS_SUCCESS;
}

/* ---- Running ------------------------------------------------------------------------ */

static void RegcheckpRunSteps(REGCHECKP_STATE *State, const REGCHECK_SCRIPT *Script, REGCHECK_RESULT *Result)
{
    for (uint32_t Index = 0; Index < Script->StepCount; Index++) {
        const REGCHECK_STEP *Step = &Script->Steps[Index];
        if (!RegcheckpStepApplies(State, Step)) {
            Result->StepsSkipped++;
            continue;
        }
        REGCHECKP_OUTCOME Outcome = {0};
        bool X2Apic = State->X2Apic;
        RegcheckpRunStep(State, Step, &Outcome);
        Result->StepsRun++;
        Result->StepsInX2Apic += X2Apic ? 1u : 0u;
        if (Outcome.Failed) {
            Result->Passed = false;
            Result->FailedIndex = Index;
            Result->FailedStep = Step;
            Result->FailedInX2Apic = X2Apic;
            Result->Compared = Outcome.Compared;
            Result->Read = Outcome.Read;
            Result->Expected = Outcome.Expected;
            Result->Why = Outcome.Why;
            return;
        }
    }
}

static void RegcheckpRunCleanup(REGCHECKP_STATE *State, const REGCHECK_SCRIPT *Script)
{
    for (uint32_t Index = 0; Index < Script->CleanupStepCount; Index++) {
        const REGCHECK_STEP *Step = &Script->CleanupSteps[Index];
        REGCHECKP_OUTCOME Ignored = {0};
        if (RegcheckpStepApplies(State, Step))
            RegcheckpRunStep(State, Step, &Ignored);
    }
}

static bool RegcheckpScriptUsesIommu(const REGCHECK_SCRIPT *Script)
{
    for (uint32_t Index = 0; Index < Script->StepCount; Index++)
        if (RegcheckpIsIommuStep(Script->Steps[Index].Kind))
            return true;
    for (uint32_t Index = 0; Index < Script->CleanupStepCount; Index++)
        if (RegcheckpIsIommuStep(Script->CleanupSteps[Index].Kind))
            return true;
    return false;
}

static void RegcheckpFreeIommuMemory(REGCHECKP_STATE *State)
{
    if (State->IommuTable != NULL)
        PlatFreeMemory(State->IommuTable, REGCHECK_IOMMU_PAGE);
    if (State->IommuQueue != NULL)
        PlatFreeMemory((void *)(uintptr_t)State->IommuQueue, REGCHECK_IOMMU_PAGE);
    if (State->IommuWaitStatus != NULL)
        PlatFreeMemory((void *)(uintptr_t)State->IommuWaitStatus, sizeof(*State->IommuWaitStatus));
    State->IommuTable = NULL;
    State->IommuQueue = NULL;
    State->IommuWaitStatus = NULL;
}

/* Page-aligned table and queue (IRTA, IQA: base 63:12), both zeroed (an
 * empty table, no stale descriptor), and the status word. */
static bool RegcheckpAllocateIommuMemory(REGCHECKP_STATE *State)
{
    State->IommuTable = PlatAllocateMemory(REGCHECK_IOMMU_PAGE, REGCHECK_IOMMU_PAGE);
    State->IommuQueue = PlatAllocateMemory(REGCHECK_IOMMU_PAGE, REGCHECK_IOMMU_PAGE);
    State->IommuWaitStatus = PlatAllocateMemory(sizeof(*State->IommuWaitStatus), 64u);
    if (State->IommuTable == NULL || State->IommuQueue == NULL || State->IommuWaitStatus == NULL) {
        RegcheckpFreeIommuMemory(State);
        return false;
    }
    for (uint32_t Index = 0; Index < REGCHECK_IOMMU_PAGE / sizeof(uint64_t); Index++) {
        ((uint64_t *)State->IommuTable)[Index] = 0;
        atomic_store_explicit(&State->IommuQueue[Index], 0, memory_order_relaxed);
    }
    atomic_store_explicit(State->IommuWaitStatus, 0u, memory_order_relaxed);
    return true;
}

/* The mode and registers of the calling CPU; false when it has no APIC id. */
static bool RegcheckpPrepare(REGCHECKP_STATE *State, const REGCHECK_ADAPTER *Adapter)
{
    State->Adapter = Adapter;
    State->Cpu = PlatCurrentCpu();
    RegcheckpSyncMode(State);
    State->TakenInLastAccept = 0;
    atomic_store_explicit(&State->Taken, 0, memory_order_relaxed);
    atomic_store_explicit(&State->StrayCpu, 0, memory_order_relaxed);
    if (Adapter->ApicId != NULL) {
        State->ApicId = *Adapter->ApicId;
        return true;
    }
    return HlGetProcessorApicId(State->Cpu, &State->ApicId) == IRQ_STATUS_SUCCESS;
}

IRQ_STATUS RegcheckRun(const REGCHECK_SCRIPT *Script, const REGCHECK_ADAPTER *Adapter, REGCHECK_RESULT *Result)
{
    if (Script == NULL || Adapter == NULL || Result == NULL || (Script->StepCount != 0 && Script->Steps == NULL) ||
        (Script->CleanupStepCount != 0 && Script->CleanupSteps == NULL) ||
        (Script->VectorCount != 0 && Script->Vectors == NULL))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (atomic_exchange_explicit(&RegcheckpRunning, true, memory_order_acquire))
        return IRQ_STATUS_INVALID_STATE;
    REGCHECKP_STATE *State = &RegcheckpState;
    bool WasEnabled = PlatDisableInterrupts();
    uint64_t FoundApicBase = PlatReadMsr(IA32_APIC_BASE);
    IRQ_STATUS Status = RegcheckpPrepare(State, Adapter) ? RegcheckpInstallHandlers(Script, State)
                                                         : IRQ_STATUS_INVALID_CPU;
    if (Status == IRQ_STATUS_SUCCESS && RegcheckpScriptUsesIommu(Script) && !RegcheckpAllocateIommuMemory(State)) {
        RegcheckpRemoveHandlers(Script, Script->VectorCount);
        Status = IRQ_STATUS_INSUFFICIENT_RESOURCES;
    }
    if (Status == IRQ_STATUS_SUCCESS) {
        *Result = (REGCHECK_RESULT){.Passed = true, .X2Apic = State->X2Apic};
        RegcheckpRunSteps(State, Script, Result);
        RegcheckpRunCleanup(State, Script);
        RegcheckpRestoreApicBase(State, FoundApicBase);
        RegcheckpRemoveHandlers(Script, Script->VectorCount);
        RegcheckpFreeIommuMemory(State);
    }
    PlatRestoreInterrupts(WasEnabled);
    atomic_store_explicit(&RegcheckpRunning, false, memory_order_release);
    return Status;
}

/* ---- Formatting (no libc) -------------------------------------------------------------- */

typedef struct _REGCHECKP_TEXT {
    char *Buffer;
    size_t Size;
    size_t Used;
} REGCHECKP_TEXT;

static void RegcheckpPutChar(REGCHECKP_TEXT *Text, char Character)
{
    if (Text->Size != 0 && Text->Used + 1 < Text->Size) {
        Text->Buffer[Text->Used++] = Character;
        Text->Buffer[Text->Used] = 0;
    }
}

static void RegcheckpPutString(REGCHECKP_TEXT *Text, const char *String)
{
    for (; String != NULL && *String != 0; String++)
        RegcheckpPutChar(Text, *String);
}

/* 0x and at least MinimumDigits lower-case hex digits. */
static void RegcheckpPutHex(REGCHECKP_TEXT *Text, uint64_t Value, uint32_t MinimumDigits)
{
    uint32_t Digits = 1;
    while (Digits < 16u && (Value >> (4u * Digits)) != 0)
        Digits++;
    if (Digits < MinimumDigits)
        Digits = MinimumDigits;
    RegcheckpPutString(Text, "0x");
    while (Digits-- > 0)
        RegcheckpPutChar(Text, "0123456789abcdef"[(Value >> (4u * Digits)) & 0xFu]);
}

static void RegcheckpPutDecimal(REGCHECKP_TEXT *Text, uint64_t Value)
{
    char Digits[20];
    uint32_t Count = 0;
    do {
        Digits[Count++] = (char)('0' + Value % 10u);
        Value /= 10u;
    } while (Value != 0);
    while (Count > 0)
        RegcheckpPutChar(Text, Digits[--Count]);
}

typedef struct _REGCHECKP_REGISTER_NAME {
    uint32_t Offset;
    const char *Name;
} REGCHECKP_REGISTER_NAME;

/* SDM vol. 3A table 11-1. */
static const REGCHECKP_REGISTER_NAME RegcheckpLapicNames[] = {
    {0x020, "ID"},           {0x030, "version"},      {0x080, "TPR"},         {LAPIC_APR, "APR"},
    {0x0A0, "PPR"},          {0x0B0, "EOI"},          {0x0C0, "RRD"},         {0x0D0, "LDR"},
    {0x0E0, "DFR"},          {0x0F0, "SVR"},          {0x280, "ESR"},         {0x2F0, "LVT CMCI"},
    {0x300, "ICR low"},      {0x310, "ICR high"},     {0x320, "LVT timer"},   {0x330, "LVT thermal"},
    {0x340, "LVT perf"},     {0x350, "LVT LINT0"},    {0x360, "LVT LINT1"},   {0x370, "LVT error"},
    {0x380, "timer initial count"}, {0x390, "timer current count"}, {0x3E0, "timer divide"},
    {0x3F0, "SELF IPI"},
};

static void RegcheckpPutLapicName(REGCHECKP_TEXT *Text, uint32_t Offset)
{
    static const char *const VectorRegisters[] = {"ISR", "TMR", "IRR"};
    if (Offset >= REGCHECK_LAPIC_ISR0 && Offset < REGCHECK_LAPIC_ESR) {
        RegcheckpPutString(Text, VectorRegisters[(Offset - REGCHECK_LAPIC_ISR0) / 0x80u]);
        RegcheckpPutChar(Text, '[');
        RegcheckpPutDecimal(Text, (Offset % 0x80u) / LAPIC_REGISTER_STRIDE);
        RegcheckpPutChar(Text, ']');
        return;
    }
    for (uint32_t Index = 0; Index < sizeof(RegcheckpLapicNames) / sizeof(RegcheckpLapicNames[0]); Index++) {
        if (RegcheckpLapicNames[Index].Offset == Offset) {
            RegcheckpPutString(Text, RegcheckpLapicNames[Index].Name);
            return;
        }
    }
    RegcheckpPutString(Text, "register");
}

static void RegcheckpPutLapic(REGCHECKP_TEXT *Text, uint32_t Offset, bool X2Apic)
{
    RegcheckpPutString(Text, "LAPIC ");
    RegcheckpPutLapicName(Text, Offset);
    RegcheckpPutString(Text, " (");
    RegcheckpPutHex(Text, Offset, 3);
    if (X2Apic) {
        RegcheckpPutString(Text, ", MSR ");
        RegcheckpPutHex(Text, X2APIC_MSR_BASE + Offset / LAPIC_REGISTER_STRIDE, 3);
    }
    RegcheckpPutChar(Text, ')');
}

static void RegcheckpPutIoApic(REGCHECKP_TEXT *Text, uint32_t Index)
{
    RegcheckpPutString(Text, "IOAPIC ");
    if (Index == REGCHECK_IOAPIC_ID) {
        RegcheckpPutString(Text, "ID");
    } else if (Index == REGCHECK_IOAPIC_VERSION) {
        RegcheckpPutString(Text, "version");
    } else if (Index == REGCHECK_IOAPIC_ARBITRATION) {
        RegcheckpPutString(Text, "arbitration");
    } else if (Index >= REGCHECK_IOAPIC_RTE_LOW(0)) {
        RegcheckpPutString(Text, "RTE ");
        RegcheckpPutDecimal(Text, (Index - REGCHECK_IOAPIC_RTE_LOW(0)) / 2u);
        RegcheckpPutString(Text, (Index & 1u) ? " high" : " low");
    } else {
        RegcheckpPutString(Text, "register");
    }
    RegcheckpPutString(Text, " (index ");
    RegcheckpPutHex(Text, Index, 2);
    RegcheckpPutChar(Text, ')');
}

/* VT-d 10.4. */
static const REGCHECKP_REGISTER_NAME RegcheckpIommuNames[] = {
    {0x000, "VER"},  {0x008, "CAP"}, {0x010, "ECAP"}, {0x018, "GCMD"}, {0x01C, "GSTS"},
    {0x034, "FSTS"}, {0x038, "FECTL"}, {0x080, "IQH"}, {0x088, "IQT"}, {0x090, "IQA"},
    {0x09C, "ICS"},  {0x0B8, "IRTA"},
};

static void RegcheckpPutIommu(REGCHECKP_TEXT *Text, uint32_t Offset)
{
    RegcheckpPutString(Text, "VT-d ");
    const char *Name = "register";
    for (uint32_t Index = 0; Index < sizeof(RegcheckpIommuNames) / sizeof(RegcheckpIommuNames[0]); Index++) {
        if (RegcheckpIommuNames[Index].Offset == Offset)
            Name = RegcheckpIommuNames[Index].Name;
    }
    RegcheckpPutString(Text, Name);
    RegcheckpPutString(Text, " (+");
    RegcheckpPutHex(Text, Offset, 3);
    RegcheckpPutChar(Text, ')');
}

static void RegcheckpPutRegister(REGCHECKP_TEXT *Text, const REGCHECK_STEP *Step, bool X2Apic)
{
    switch (Step->Kind) {
    case RegcheckReadIommu32:
    case RegcheckReadIommu64:
    case RegcheckWriteIommu32:
    case RegcheckWriteIommu64:
        RegcheckpPutIommu(Text, Step->Register);
        break;
    case RegcheckQueueWait:
        RegcheckpPutString(Text, "VT-d invalidation queue slot ");
        RegcheckpPutDecimal(Text, Step->Register);
        break;
    case RegcheckReadWaitStatus:
        RegcheckpPutString(Text, "VT-d wait descriptor status word");
        break;
    case RegcheckReadLapic:
    case RegcheckWriteLapic:
        RegcheckpPutLapic(Text, Step->Register, X2Apic);
        break;
    case RegcheckReadInService:
        if (Step->Register == REGCHECK_TAKEN_VECTOR)
            RegcheckpPutString(Text, "vector taken");
        else
            RegcheckpPutLapic(Text, Step->Register, X2Apic);
        RegcheckpPutString(Text, " in the handler of interrupt #");
        RegcheckpPutDecimal(Text, Step->Value);
        break;
    case RegcheckReadApicBase:
    case RegcheckWriteApicBase:
        RegcheckpPutString(Text, "IA32_APIC_BASE (MSR 0x01b)");
        break;
    case RegcheckReadIoApic:
    case RegcheckWriteIoApic:
        RegcheckpPutIoApic(Text, Step->Register);
        break;
    case RegcheckWriteIoApicEoi:
        RegcheckpPutString(Text, "IOAPIC EOI (+0x40)");
        break;
    case RegcheckSendSelfIpi:
    case RegcheckSendIpiToSelfId:
        RegcheckpPutLapic(Text, REGCHECK_LAPIC_ICR_LOW, X2Apic);
        break;
    case RegcheckAssertPin:
    case RegcheckDeassertPin:
        RegcheckpPutString(Text, "GSI ");
        RegcheckpPutDecimal(Text, Step->Value);
        break;
    case RegcheckSendMsi:
        RegcheckpPutString(Text, "MSI");
        break;
    case RegcheckAccept:
        RegcheckpPutString(Text, "interrupts taken");
        break;
    default:
        RegcheckpPutString(Text, "?");
        break;
    }
}

size_t RegcheckFormatRegister(const REGCHECK_STEP *Step, bool X2Apic, char *Buffer, size_t Size)
{
    REGCHECKP_TEXT Text = {Buffer, Size, 0};
    if (Size != 0)
        Buffer[0] = 0;
    if (Step != NULL)
        RegcheckpPutRegister(&Text, Step, X2Apic);
    return Text.Used;
}

size_t RegcheckFormatFailure(const REGCHECK_RESULT *Result, char *Buffer, size_t Size)
{
    REGCHECKP_TEXT Text = {Buffer, Size, 0};
    if (Size != 0)
        Buffer[0] = 0;
    if (Result == NULL || Result->Passed || Result->FailedStep == NULL)
        return 0;
    const REGCHECK_STEP *Step = Result->FailedStep;
    RegcheckpPutString(&Text, "step ");
    RegcheckpPutString(&Text, Step->Name);
    RegcheckpPutString(&Text, ": ");
    if (!Result->Compared) {
        RegcheckpPutString(&Text, "register ");
        RegcheckpPutRegister(&Text, Step, Result->FailedInX2Apic);
        RegcheckpPutString(&Text, ": ");
        RegcheckpPutString(&Text, Result->Why);
        return Text.Used;
    }
    if (Step->Kind == RegcheckAccept) {
        RegcheckpPutString(&Text, "took ");
        RegcheckpPutDecimal(&Text, Result->Read);
        RegcheckpPutString(&Text, " interrupt(s), expected ");
        RegcheckpPutDecimal(&Text, Result->Expected);
        return Text.Used;
    }
    RegcheckpPutString(&Text, "register ");
    RegcheckpPutRegister(&Text, Step, Result->FailedInX2Apic);
    RegcheckpPutString(&Text, " read ");
    RegcheckpPutHex(&Text, Result->Read, 8);
    RegcheckpPutString(&Text, " expected ");
    RegcheckpPutHex(&Text, Result->Expected, 8);
    return Text.Used;
}
