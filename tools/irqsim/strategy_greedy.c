/* SPDX-License-Identifier: MIT */
/*
 * The greedy baseline, written from the SBalance driver's published
 * description: take the heaviest CPU and move its interrupts, one at a time,
 * to the lightest CPU, until it is no longer the heaviest. Two rules make it
 * a fair baseline rather than a ping-pong: a move must leave the target
 * lighter than the source was (otherwise it only relabels the maximum), and
 * the heaviest interrupt that may go is tried first. Interrupts on a CPU that
 * is banned or offline go first, to the lightest CPU they may use.
 */
#include <stdlib.h>

#include "strategy.h"

static bool IrspMayMove(const IRS_SNAPSHOT *Snapshot, uint32_t Index)
{
    return !Snapshot->Interrupts[Index].Pinned;
}

static uint32_t IrspHeaviestCpu(const IRS_SNAPSHOT *Snapshot, const double *Loads)
{
    uint32_t Heaviest = 0;
    for (uint32_t Cpu = 1; Cpu < Snapshot->CpuCount; Cpu++)
        if (Loads[Cpu] > Loads[Heaviest])
            Heaviest = Cpu;
    return Heaviest;
}

static int32_t IrspRecord(const IRS_SNAPSHOT *Snapshot, double *Loads, uint32_t *Where, IRS_MOVE *Moves,
                          int32_t Count, uint32_t Index, uint32_t Cpu)
{
    double Load = Snapshot->Interrupts[Index].Load;
    Loads[Where[Index]] -= Load;
    Loads[Cpu] += Load;
    Where[Index] = Cpu;
    Moves[Count] = (IRS_MOVE){.Interrupt = Index, .Cpu = Cpu};
    return Count + 1;
}

/* The heaviest movable interrupt on Cpu whose lightest allowed target ends
 * below Loads[Cpu]; false when there is none. */
static bool IrspPickMove(const IRS_SNAPSHOT *Snapshot, const double *Loads, const uint32_t *Where, uint32_t Cpu,
                         uint32_t *Index, uint32_t *Target)
{
    bool Found = false;
    for (uint32_t Each = 0; Each < Snapshot->InterruptCount; Each++) {
        const IRS_SNAPSHOT_INTERRUPT *Interrupt = &Snapshot->Interrupts[Each];
        if (Where[Each] != Cpu || !IrspMayMove(Snapshot, Each) || (Found && Interrupt->Load <= Snapshot->Interrupts[*Index].Load))
            continue;
        uint32_t Lightest = IrsLightestCpu(Snapshot, Loads, Interrupt->Affinity, Cpu);
        if (Lightest == IR_CPU_NONE || Lightest == Cpu || Loads[Lightest] + Interrupt->Load >= Loads[Cpu])
            continue;
        *Index = Each, *Target = Lightest, Found = true;
    }
    return Found;
}

int32_t IrsPlanGreedy(const IRS_SNAPSHOT *Snapshot, IRS_MOVE *Moves, uint32_t Capacity, const char **Why)
{
    (void)Why;
    double *Loads = calloc(Snapshot->CpuCount, sizeof(*Loads));
    uint32_t *Where = calloc(Snapshot->InterruptCount + 1u, sizeof(*Where));
    if (Loads == NULL || Where == NULL) {
        free(Loads), free(Where);
        *Why = "out of memory";
        return -1;
    }
    uint32_t Limit = Snapshot->MaxMoves != 0 && Snapshot->MaxMoves < Capacity ? Snapshot->MaxMoves : Capacity;
    IrsSnapshotCpuLoads(Snapshot, Loads);
    for (uint32_t Index = 0; Index < Snapshot->InterruptCount; Index++)
        Where[Index] = Snapshot->Interrupts[Index].Cpu;
    int32_t Count = 0;
    /* First off the CPUs no interrupt may stay on. */
    for (uint32_t Index = 0; Index < Snapshot->InterruptCount && (uint32_t)Count < Limit; Index++) {
        if (IrCpuSetContains(Snapshot->Eligible, Where[Index]) || !IrspMayMove(Snapshot, Index))
            continue;
        uint32_t Target = IrsLightestCpu(Snapshot, Loads, Snapshot->Interrupts[Index].Affinity, IR_CPU_NONE);
        if (Target != IR_CPU_NONE)
            Count = IrspRecord(Snapshot, Loads, Where, Moves, Count, Index, Target);
    }
    /* Then the heaviest CPU, until it is no longer the heaviest. */
    uint32_t Heaviest = IrspHeaviestCpu(Snapshot, Loads);
    uint32_t Index = 0, Target = 0;
    while ((uint32_t)Count < Limit && IrspHeaviestCpu(Snapshot, Loads) == Heaviest &&
           IrspPickMove(Snapshot, Loads, Where, Heaviest, &Index, &Target))
        Count = IrspRecord(Snapshot, Loads, Where, Moves, Count, Index, Target);
    free(Loads);
    free(Where);
    return Count;
}
