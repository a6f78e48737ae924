/* SPDX-License-Identifier: MIT */
/*
 * The `library` strategy (strategy.h): the library's own balancer
 * (include/irqroute/balance.h, docs/balancer.md) on the booted machine. It
 * reads Ke's counters and moves through Io itself; this file only builds
 * it from the scenario, runs its rounds on CPU 0 and reads back where the
 * devices went.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqroute/balance.h>

#include "sim.h"
#include "strategy.h"
#include "system.h"

struct _IRS_LIBRARY {
    IRS_SYSTEM *System;
    IR_BALANCER *Balancer;
    void *Storage;
};

uint32_t IrsLibraryWeight(double Cost)
{
    double Weight = llround(Cost * IRS_LIBRARY_WEIGHT_UNIT);
    return Weight < 1 ? 1u : Weight > UINT32_MAX ? UINT32_MAX : (uint32_t)Weight;
}

/* The scenario's settings; a minimum gain the file leaves out (negative)
 * keeps the library's default (docs/balancer.md, "Options"). */
static IR_BALANCER_OPTIONS IrspOptions(const IRS_SCENARIO *Scenario)
{
    const IRS_BALANCER *Settings = &Scenario->Balancer;
    IR_BALANCER_OPTIONS Options = {.MinimumGainPercent = IR_BALANCER_DEFAULT_GAIN_PERCENT,
                                   .MaxMovesPerRound = IR_BALANCER_DEFAULT_MAX_MOVES};
    Options.OneShot = Settings->OneShot;
    Options.Banned = &Settings->Banned;
    if (Settings->MinimumGain >= 0)
        Options.MinimumGainPercent = (uint32_t)ceil(Settings->MinimumGain);
    if (Settings->MaxMoves != 0)
        Options.MaxMovesPerRound = Settings->MaxMoves;
    return Options;
}

IRS_LIBRARY *IrsLibraryCreate(const IRS_SCENARIO *Scenario, IRS_SYSTEM *System, char *Error, size_t ErrorSize)
{
    IRS_LIBRARY *Library = calloc(1, sizeof(*Library));
    uint32_t Count = System->DeviceCount != 0 ? System->DeviceCount : 1u;
    size_t Size = 0;
    IRQ_STATUS Status = Library == NULL ? IRQ_STATUS_INSUFFICIENT_RESOURCES : IrBalancerQueryStorageSize(Count, &Size);
    if (Status == IRQ_STATUS_SUCCESS) {
        Library->System = System;
        Library->Storage = aligned_alloc(8, (Size + 7u) & ~(size_t)7u);
        if (Library->Storage == NULL)
            Status = IRQ_STATUS_INSUFFICIENT_RESOURCES;
    }
    IR_BALANCER_OPTIONS Options = IrspOptions(Scenario);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IrBalancerInitialize(Library->Storage, Size, Count, &Options, &Library->Balancer);
    SimAttachCpu(0);
    for (uint32_t Index = 0; Index < System->DeviceCount && Status == IRQ_STATUS_SUCCESS; Index++) {
        const IRS_LIVE_DEVICE *Live = &System->Devices[Index];
        Status = IrBalancerAddInterrupt(Library->Balancer, Live->Interrupt,
                                        Live->Spec->Pinned ? IrBalanceHintPin : IrBalanceHintBalance,
                                        IrsLibraryWeight(Live->Spec->Cost));
    }
    SimDetachCpu();
    if (Status != IRQ_STATUS_SUCCESS) {
        snprintf(Error, ErrorSize, "the library's balancer: %s", IrStatusName(Status));
        IrsLibraryDestroy(Library);
        return NULL;
    }
    return Library;
}

IRQ_STATUS IrsLibraryRound(IRS_LIBRARY *Library, IR_BALANCE_REPORT *Report)
{
    SimAttachCpu(0);
    IRQ_STATUS Status = IrBalancerRound(Library->Balancer, Report);
    SimDetachCpu();
    (void)IrsSystemRefresh(Library->System, NULL);
    return Status;
}

uint32_t IrsLibraryDeviceOf(const IRS_LIBRARY *Library, const KINTERRUPT *Interrupt)
{
    for (uint32_t Index = 0; Index < Library->System->DeviceCount; Index++) {
        if (Library->System->Devices[Index].Interrupt == Interrupt)
            return Index;
    }
    return IR_CPU_NONE;
}

void IrsLibraryDestroy(IRS_LIBRARY *Library)
{
    if (Library == NULL)
        return;
    free(Library->Storage);
    free(Library);
}
