/* SPDX-License-Identifier: MIT */
/* The strategy table and what every strategy needs (strategy.h). */
#include <string.h>

#include "strategy.h"

static const IRS_STRATEGY IrspStrategies[IrsStrategyCount] = {
    {IrsStrategyNone, "none", "no balancing: interrupts stay where they were connected", NULL, false},
    {IrsStrategyGreedy, "greedy", "SBalance-style: heaviest CPU's interrupts to the lightest CPU", IrsPlanGreedy, false},
    {IrsStrategyIrqbalance, "irqbalance", "irqbalance-like placement by load, heaviest first", IrsPlanIrqbalance, false},
    {IrsStrategyLibrary, "library", "the library's balancer (IrBalancerRound)", NULL, true},
};

const IRS_STRATEGY *IrsStrategyGet(IRS_STRATEGY_ID Id)
{
    return Id < IrsStrategyCount ? &IrspStrategies[Id] : NULL;
}

bool IrsStrategyFind(const char *Name, IRS_STRATEGY_ID *Id)
{
    for (uint32_t Index = 0; Index < IrsStrategyCount; Index++) {
        if (strcmp(IrspStrategies[Index].Name, Name) == 0) {
            *Id = (IRS_STRATEGY_ID)Index;
            return true;
        }
    }
    return false;
}

void IrsSnapshotCpuLoads(const IRS_SNAPSHOT *Snapshot, double *Loads)
{
    for (uint32_t Cpu = 0; Cpu < Snapshot->CpuCount; Cpu++)
        Loads[Cpu] = 0;
    for (uint32_t Index = 0; Index < Snapshot->InterruptCount; Index++)
        Loads[Snapshot->Interrupts[Index].Cpu] += Snapshot->Interrupts[Index].Load;
}

uint32_t IrsLightestCpu(const IRS_SNAPSHOT *Snapshot, const double *Loads, const IR_CPU_SET *Affinity,
                        uint32_t Prefer)
{
    uint32_t Best = IR_CPU_NONE;
    for (uint32_t Cpu = IrCpuSetFirstAnd(Snapshot->Eligible, Affinity); Cpu != IR_CPU_NONE && Cpu < Snapshot->CpuCount;
         Cpu = IrCpuSetNext(Affinity, Cpu)) {
        if (!IrCpuSetContains(Snapshot->Eligible, Cpu))
            continue;
        if (Best == IR_CPU_NONE || Loads[Cpu] < Loads[Best] || (Loads[Cpu] == Loads[Best] && Cpu == Prefer))
            Best = Cpu;
    }
    return Best;
}
