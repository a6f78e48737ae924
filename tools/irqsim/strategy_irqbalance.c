/* SPDX-License-Identifier: MIT */
/*
 * The irqbalance-like baseline, written from irqbalance's published
 * description of its placement: every interrupt's load is measured, the
 * interrupts are sorted by load (heaviest first) and each is placed on the
 * least-loaded eligible CPU of its affinity, banned CPUs excluded; pinned
 * interrupts stay and count where they are. A tie keeps the interrupt where
 * it is, so an unchanged load gives an unchanged plan.
 *
 * What it leaves out of irqbalance: the topology tree (NUMA node, package,
 * cache domain, core) that irqbalance places over level by level, its
 * per-class policies (ethernet, storage ...) and hint policies, the
 * power-save mode, and the threshold that keeps it from migrating on a small
 * imbalance. Here every CPU is one flat domain.
 */
#include <stdlib.h>

#include "strategy.h"

static const IRS_SNAPSHOT *IrspSortSnapshot;

/* Heaviest first; equal loads in index order, so the plan is deterministic. */
static int IrspByLoad(const void *Left, const void *Right)
{
    uint32_t A = *(const uint32_t *)Left, B = *(const uint32_t *)Right;
    double LoadA = IrspSortSnapshot->Interrupts[A].Load, LoadB = IrspSortSnapshot->Interrupts[B].Load;
    if (LoadA != LoadB)
        return LoadA > LoadB ? -1 : 1;
    return A < B ? -1 : A > B;
}

int32_t IrsPlanIrqbalance(const IRS_SNAPSHOT *Snapshot, IRS_MOVE *Moves, uint32_t Capacity, const char **Why)
{
    double *Loads = calloc(Snapshot->CpuCount, sizeof(*Loads));
    uint32_t *Order = calloc(Snapshot->InterruptCount + 1u, sizeof(*Order));
    if (Loads == NULL || Order == NULL) {
        free(Loads), free(Order);
        *Why = "out of memory";
        return -1;
    }
    uint32_t Limit = Snapshot->MaxMoves != 0 && Snapshot->MaxMoves < Capacity ? Snapshot->MaxMoves : Capacity;
    uint32_t Movable = 0;
    for (uint32_t Index = 0; Index < Snapshot->InterruptCount; Index++) {
        if (Snapshot->Interrupts[Index].Pinned)
            Loads[Snapshot->Interrupts[Index].Cpu] += Snapshot->Interrupts[Index].Load;
        else
            Order[Movable++] = Index;
    }
    IrspSortSnapshot = Snapshot;
    qsort(Order, Movable, sizeof(*Order), IrspByLoad);
    int32_t Count = 0;
    for (uint32_t Each = 0; Each < Movable; Each++) {
        const IRS_SNAPSHOT_INTERRUPT *Interrupt = &Snapshot->Interrupts[Order[Each]];
        uint32_t Cpu = IrsLightestCpu(Snapshot, Loads, Interrupt->Affinity, Interrupt->Cpu);
        if (Cpu == IR_CPU_NONE)
            Cpu = Interrupt->Cpu; /* nowhere eligible: it stays */
        Loads[Cpu] += Interrupt->Load;
        if (Cpu != Interrupt->Cpu && (uint32_t)Count < Limit)
            Moves[Count++] = (IRS_MOVE){.Interrupt = Order[Each], .Cpu = Cpu};
    }
    free(Loads);
    free(Order);
    return Count;
}
