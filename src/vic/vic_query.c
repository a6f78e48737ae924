/* SPDX-License-Identifier: MIT */
/*
 * Vic queries: a CPU's state, a source's pending bit, the counters.
 *
 * Any thread may ask. Each field is read atomically, but a query is not a
 * snapshot of the whole CPU: the answer is exact when no call for that CPU is
 * in flight (the conservation check in the tests asks after joining).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/vic.h>

#include "vicp.h"

IRQ_STATUS VicQueryCpuState(const VIC *Handle, uint32_t Cpu, VIC_CPU_STATE *State)
{
    const VIC *Vic = VicpOfConst(Handle);
    if (Vic == NULL || State == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    uint64_t Control = atomic_load_explicit(&VicpCpu(Vic, Cpu)->Control, memory_order_relaxed);
    uint32_t Gates = VicpGates(Control);
    State->Level = VicpCurrentLevel(Control);
    State->EffectiveLevel = VicpEffectiveLevel(Control);
    State->InService = VicpInService(Control);
    State->InterruptsEnabled = (Gates & VICP_GATE_INTERRUPTS_OFF) == 0;
    State->InBarrier = (Gates & VICP_GATE_BARRIER) != 0;
    State->InPalMode = (Gates & VICP_GATE_PAL_MODE) != 0;
    State->Online = VicpIsOnline(Vic, Cpu);
    State->Mode = (VIC_PROCESSOR_MODE)VicpMode(Control);
    State->AstEnable = VicpAstEnable(Control);
    State->AstSummary = VicpAstSummary(Control);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS VicIsPending(const VIC *Handle, uint32_t Source, uint32_t Cpu, bool *Pending)
{
    const VIC *Vic = VicpOfConst(Handle);
    if (Vic == NULL || Pending == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!VicpIsSource(Vic, Source))
        return IRQ_STATUS_INVALID_VECTOR;
    if (Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    *Pending = VicpSourcePending(Vic, VicpCpu(Vic, Cpu), Source);
    return IRQ_STATUS_SUCCESS;
}

/* Raised = what claims, clears and migrations harvested + the takes that
 * harvested one raise (TakenOnce) + the counts still in the pending words and
 * the Direct bits still set (vicp.h) + ASTSR bits set; Claimed = the owner's
 * other claims and ASTs + TakenOnce (one counter for both halves of a take
 * that harvested one raise). */
static void VicpAddCounters(const VIC *Vic, uint32_t Cpu, VIC_COUNTERS *Counters)
{
    const VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t TakenOnce = atomic_load_explicit(&Block->TakenOnce, memory_order_relaxed);
    uint64_t Raised = atomic_load_explicit(&Block->RaisedByOwner, memory_order_relaxed) +
                      atomic_load_explicit(&Block->RaisedHarvestedByClear, memory_order_relaxed) + TakenOnce;
    uint64_t Control = atomic_load_explicit(&Block->Control, memory_order_relaxed);
    uint64_t Pending = VicpPopulation(VicpAstSummary(Control));
    uint32_t DirectPending =
        VicpPopulation(VicpDirectBits(atomic_load_explicit(&Block->State, memory_order_acquire)));
    Raised += DirectPending;
    Pending += DirectPending;
    for (uint32_t Level = 0; Level < Vic->LevelCount; Level++) {
        uint64_t Word = atomic_load_explicit(&Block->Pending[Level], memory_order_acquire);
        Raised += VicpPendingRaises(Word);
        Pending += VicpPopulation(VicpPendingSlots(Word));
    }
    Counters->Raised += Raised;
    Counters->Merged += atomic_load_explicit(&Block->Merged, memory_order_relaxed);
    Counters->Claimed += atomic_load_explicit(&Block->Claimed, memory_order_relaxed) + TakenOnce;
    Counters->Cleared += atomic_load_explicit(&Block->Cleared, memory_order_relaxed);
    Counters->Migrated += atomic_load_explicit(&Block->Migrated, memory_order_relaxed);
    Counters->Pending += Pending;
}

IRQ_STATUS VicQueryCounters(const VIC *Handle, uint32_t Cpu, VIC_COUNTERS *Counters)
{
    const VIC *Vic = VicpOfConst(Handle);
    if (Vic == NULL || Counters == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu != VIC_ALL_CPUS && Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    Counters->Raised = Counters->Merged = Counters->Claimed = Counters->Cleared = Counters->Migrated =
        Counters->Pending = 0;
    uint32_t First = Cpu == VIC_ALL_CPUS ? 0 : Cpu;
    uint32_t Last = Cpu == VIC_ALL_CPUS ? Vic->CpuCount - 1u : Cpu;
    for (uint32_t Index = First; Index <= Last; Index++)
        VicpAddCounters(Vic, Index, Counters);
    return IRQ_STATUS_SUCCESS;
}
