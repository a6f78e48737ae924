/* SPDX-License-Identifier: MIT */
/*
 * The scenario runner (runner.h). Time is simulated: interval i covers
 * [i * Interval, (i + 1) * Interval) of scenario time, during which each
 * device raises Rate * Interval interrupts (divided by the run's scale, the
 * remainder carried to the next interval so that none is lost). Loads are
 * measured, never predicted: what Ke counted per CPU (KeQueryInterruptCount)
 * times the device's cost, as cost-weighted interrupts per second.
 *
 * A phase is the stretch between two changes of the offered load (the
 * start, an event, a burst starting or ending). The balancing outcome is
 * judged at the end of every phase: the highest CPU load of its last
 * interval against the bound, and the round of the phase in which the last
 * move was made.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner.h"
#include "strategy.h"
#include "system.h"

typedef struct _IRSP_RUN {
    const IRS_SCENARIO *Scenario;
    const IRS_RUN_OPTIONS *Options;
    const IRS_STRATEGY *Strategy;
    IRS_RESULT *Result;
    IRS_SYSTEM System;
    uint32_t CpuCount, DeviceCount;
    uint64_t *Raise;         /* per device, this interval */
    uint64_t *Delta;         /* per CPU, one device's interrupts this interval */
    double *CpuLoad;         /* per CPU, this interval */
    uint64_t *CpuInterrupts; /* per CPU, this interval */
    double *DeviceLoad;      /* per device, this interval */
    double *WindowLoad;      /* per device, summed over the balancer window */
    uint32_t WindowIntervals;
    uint32_t NextEvent;
    uint32_t PhaseRound, PhaseLastMoveRound;
    bool OneShotDone;
    double Interval;
} IRSP_RUN;

static double IrspNow(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (double)Now.tv_sec + (double)Now.tv_nsec * 1e-9;
}

static double IrspPeakRate(const IRS_SCENARIO *Scenario, uint32_t Device)
{
    const IRS_DEVICE *Spec = &Scenario->Devices[Device];
    double Peak = Spec->Rate;
    for (uint32_t Index = 0; Index < Spec->BurstCount; Index++)
        Peak = fmax(Peak, Spec->Bursts[Index].Rate);
    for (uint32_t Index = 0; Index < Scenario->EventCount; Index++)
        if (Scenario->Events[Index].Kind == IrsEventStorm && Scenario->Events[Index].Device == Device)
            Peak = fmax(Peak, Scenario->Events[Index].Rate);
    return Peak;
}

double IrsRunScale(const IRS_SCENARIO *Scenario, uint64_t MaxRaises)
{
    double Total = 0;
    for (uint32_t Device = 0; Device < Scenario->DeviceCount; Device++)
        Total += IrspPeakRate(Scenario, Device) * Scenario->Interval;
    return MaxRaises == 0 || Total <= (double)MaxRaises ? 1.0 : ceil(Total / (double)MaxRaises);
}

static double IrspRateAt(const IRSP_RUN *Run, uint32_t Device, double T)
{
    const IRS_LIVE_DEVICE *Live = &Run->System.Devices[Device];
    if (Live->Storming && Live->StormRate > 0)
        return Live->StormRate;
    return IrsDeviceRateAt(Live->Spec, T);
}


static void IrspNewPhase(IRSP_RUN *Run)
{
    Run->PhaseRound = 0;
    Run->PhaseLastMoveRound = 0;
    Run->Result->Phases++;
}

/* ---- Events --------------------------------------------------------------------- */

/* A CPU going offline: its interrupts go to the least-loaded online CPU of
 * their affinity (issue 15: until Ke can take a CPU offline itself, the
 * runner does the migration with IoSetInterruptTarget and counts it apart
 * from the strategy's moves). */
static void IrspEvacuate(IRSP_RUN *Run, uint32_t Cpu, double T)
{
    for (uint32_t Index = 0; Index < Run->DeviceCount; Index++) {
        IRS_LIVE_DEVICE *Live = &Run->System.Devices[Index];
        if (Live->Cpu != Cpu)
            continue;
        uint32_t Best = IR_CPU_NONE;
        for (uint32_t Each = IrCpuSetFirstAnd(&Live->Affinity, &Run->System.Online); Each != IR_CPU_NONE;
             Each = IrCpuSetNext(&Live->Affinity, Each))
            if (IrCpuSetContains(&Run->System.Online, Each) && (Best == IR_CPU_NONE || Run->CpuLoad[Each] < Run->CpuLoad[Best]))
                Best = Each;
        char Detail[96];
        if (Best == IR_CPU_NONE || IrsSystemMove(&Run->System, Index, Best) != IRQ_STATUS_SUCCESS) {
            printf("irqsim: t=%.3f s: %s stays on offline CPU %u (no other online CPU in its affinity)\n", T,
                   Live->Spec->Name, Cpu);
            continue;
        }
        Run->CpuLoad[Best] += Run->DeviceLoad[Index];
        Run->Result->Forced++;
        if (Run->Options->Trace != NULL) {
            snprintf(Detail, sizeof(Detail), "%s: CPU %u -> %u (offline)", Live->Spec->Name, Cpu, Best);
            IrsTraceInstant(Run->Options->Trace, T, Best, "move", Detail);
        }
    }
}

static void IrspApplyEvent(IRSP_RUN *Run, const IRS_EVENT *Event, double T)
{
    static const char *const Names[] = {"cpu offline", "cpu online", "storm", "storm end"};
    char Detail[96];
    uint32_t Where = Event->Cpu;
    if (Event->Kind == IrsEventOffline) {
        IrCpuSetRemove(&Run->System.Online, Event->Cpu);
        IrspEvacuate(Run, Event->Cpu, T);
        snprintf(Detail, sizeof(Detail), "CPU %u", Event->Cpu);
    } else if (Event->Kind == IrsEventOnline) {
        IrCpuSetAdd(&Run->System.Online, Event->Cpu);
        snprintf(Detail, sizeof(Detail), "CPU %u", Event->Cpu);
    } else {
        IRS_LIVE_DEVICE *Live = &Run->System.Devices[Event->Device];
        Live->Storming = Event->Kind == IrsEventStorm;
        Live->StormRate = Event->Rate;
        Where = Live->Cpu;
        snprintf(Detail, sizeof(Detail), "%s", Live->Spec->Name);
    }
    if (Run->Options->Trace != NULL)
        IrsTraceInstant(Run->Options->Trace, T, Where, Names[Event->Kind], Detail);
}

/* True when the offered load changes at T: an event, or a burst edge. */
static bool IrspApplyEventsAt(IRSP_RUN *Run, double T)
{
    bool Changed = false;
    const IRS_SCENARIO *Scenario = Run->Scenario;
    while (Run->NextEvent < Scenario->EventCount && Scenario->Events[Run->NextEvent].At <= T + 1e-9) {
        IrspApplyEvent(Run, &Scenario->Events[Run->NextEvent++], T);
        Changed = true;
    }
    for (uint32_t Device = 0; Device < Run->DeviceCount && T > 0; Device++)
        if (IrsDeviceRateAt(&Scenario->Devices[Device], T) != IrsDeviceRateAt(&Scenario->Devices[Device], T - Run->Interval))
            Changed = true;
    return Changed;
}

/* ---- One interval ---------------------------------------------------------------- */

static void IrspOffer(IRSP_RUN *Run, double T)
{
    double Scale = Run->Result->Scale;
    for (uint32_t Device = 0; Device < Run->DeviceCount; Device++) {
        IRS_LIVE_DEVICE *Live = &Run->System.Devices[Device];
        double Owed = IrspRateAt(Run, Device, T) * Run->Interval / Scale + Live->Carry;
        double Whole = floor(Owed + 1e-9);
        Live->Carry = Owed - Whole;
        Run->Raise[Device] = (uint64_t)Whole;
    }
    IrsSystemDrive(&Run->System, Run->Raise);
}

/* Per-CPU and per-device load of the interval, from Ke's counters. */
static void IrspMeasure(IRSP_RUN *Run)
{
    double PerInterrupt = Run->Result->Scale / Run->Interval;
    memset(Run->CpuLoad, 0, Run->CpuCount * sizeof(*Run->CpuLoad));
    memset(Run->CpuInterrupts, 0, Run->CpuCount * sizeof(*Run->CpuInterrupts));
    for (uint32_t Device = 0; Device < Run->DeviceCount; Device++) {
        const IRS_LIVE_DEVICE *Live = &Run->System.Devices[Device];
        memset(Run->Delta, 0, Run->CpuCount * sizeof(*Run->Delta));
        IrsSystemCollect(&Run->System, Device, Run->Delta);
        uint64_t Total = 0;
        for (uint32_t Cpu = 0; Cpu < Run->CpuCount; Cpu++) {
            if (Run->Delta[Cpu] == 0)
                continue;
            Total += Run->Delta[Cpu];
            Run->CpuInterrupts[Cpu] += Run->Delta[Cpu];
            Run->CpuLoad[Cpu] += (double)Run->Delta[Cpu] * Live->Spec->Cost * PerInterrupt;
        }
        Run->DeviceLoad[Device] = (double)Total * Live->Spec->Cost * PerInterrupt;
        Run->WindowLoad[Device] += Run->DeviceLoad[Device];
    }
    Run->WindowIntervals++;
}

/* max(mean load over the online CPUs, the largest single interrupt): no
 * placement can do better, since one interrupt runs on one CPU at a time. */
static double IrspBound(const IRSP_RUN *Run, double *MaxLoad)
{
    double Sum = 0, Largest = 0;
    *MaxLoad = 0;
    for (uint32_t Cpu = 0; Cpu < Run->CpuCount; Cpu++) {
        Sum += Run->CpuLoad[Cpu];
        *MaxLoad = fmax(*MaxLoad, Run->CpuLoad[Cpu]);
    }
    for (uint32_t Device = 0; Device < Run->DeviceCount; Device++)
        Largest = fmax(Largest, Run->DeviceLoad[Device]);
    uint32_t Online = IrCpuSetWeight(&Run->System.Online);
    return fmax(Online != 0 ? Sum / Online : Sum, Largest);
}

static void IrspRecord(IRSP_RUN *Run, uint32_t Interval, double T, double Bound, double MaxLoad)
{
    for (uint32_t Cpu = 0; Cpu < Run->CpuCount; Cpu++) {
        if (Run->Options->Csv != NULL)
            fprintf(Run->Options->Csv, "%u,%.6f,%u,%.3f,%llu,%d,%.3f,%.3f\n", Interval, T, Cpu, Run->CpuLoad[Cpu],
                    (unsigned long long)Run->CpuInterrupts[Cpu], IrCpuSetContains(&Run->System.Online, Cpu), Bound,
                    MaxLoad);
        /* Counters only where something happens: 4096 idle rows per
         * interval would bury the busy ones. */
        if (Run->Options->Trace != NULL && (Run->CpuInterrupts[Cpu] != 0 || Interval == 0))
            IrsTraceCounter(Run->Options->Trace, T, Cpu, Run->CpuLoad[Cpu], Run->CpuInterrupts[Cpu]);
    }
}

/* ---- Balancing ------------------------------------------------------------------ */

static void IrspApplyMoves(IRSP_RUN *Run, const IRS_MOVE *Moves, int32_t Count, double T)
{
    for (int32_t Index = 0; Index < Count; Index++) {
        IRS_LIVE_DEVICE *Live = &Run->System.Devices[Moves[Index].Interrupt];
        uint32_t From = Live->Cpu;
        if (IrsSystemMove(&Run->System, Moves[Index].Interrupt, Moves[Index].Cpu) != IRQ_STATUS_SUCCESS) {
            Run->Result->FailedMoves++;
            continue;
        }
        Run->Result->Moves++;
        if (Run->Options->Trace != NULL) {
            char Detail[96];
            snprintf(Detail, sizeof(Detail), "%s: CPU %u -> %u", Live->Spec->Name, From, Moves[Index].Cpu);
            IrsTraceInstant(Run->Options->Trace, T, Moves[Index].Cpu, "move", Detail);
        }
    }
}

static void IrspRound(IRSP_RUN *Run, double T)
{
    IRS_RESULT *Result = Run->Result;
    IRS_SNAPSHOT_INTERRUPT *Interrupts = calloc(Run->DeviceCount, sizeof(*Interrupts));
    IRS_MOVE *Moves = calloc(Run->DeviceCount, sizeof(*Moves));
    IR_CPU_SET Eligible;
    IrCpuSetAndNot(&Eligible, &Run->System.Online, &Run->Scenario->Balancer.Banned);
    for (uint32_t Device = 0; Device < Run->DeviceCount && Interrupts != NULL; Device++) {
        const IRS_LIVE_DEVICE *Live = &Run->System.Devices[Device];
        Interrupts[Device] = (IRS_SNAPSHOT_INTERRUPT){.Load = Run->WindowLoad[Device] / Run->WindowIntervals,
                                                      .Cpu = Live->Cpu, .Affinity = &Live->Affinity,
                                                      .Pinned = Live->Spec->Pinned};
    }
    IRS_SNAPSHOT Snapshot = {.CpuCount = Run->CpuCount, .Eligible = &Eligible, .InterruptCount = Run->DeviceCount,
                             .Interrupts = Interrupts, .MinimumGain = Run->Scenario->Balancer.MinimumGain,
                             .MaxMoves = Run->Scenario->Balancer.MaxMoves};
    const char *Why = "out of memory";
    int32_t Count = Interrupts != NULL && Moves != NULL ? Run->Strategy->Plan(&Snapshot, Moves, Run->DeviceCount, &Why)
                                                        : -1;
    Result->Rounds++;
    Run->PhaseRound++;
    if (Count < 0) {
        Result->Ran = false;
        Result->Why = Why;
    } else {
        IrspApplyMoves(Run, Moves, Count, T);
        if (Count > 0) {
            Run->PhaseLastMoveRound = Run->PhaseRound;
            Result->QuietRounds = 0;
        } else {
            Result->QuietRounds++;
        }
        if (Run->Options->Trace != NULL)
            IrsTraceRound(Run->Options->Trace, T, Run->WindowIntervals * Run->Interval, Result->Rounds,
                          (uint32_t)Count);
    }
    memset(Run->WindowLoad, 0, Run->DeviceCount * sizeof(*Run->WindowLoad));
    Run->WindowIntervals = 0;
    free(Interrupts);
    free(Moves);
}

static bool IrspRoundDue(const IRSP_RUN *Run, uint32_t Interval)
{
    const IRS_BALANCER *Balancer = &Run->Scenario->Balancer;
    if (Run->Strategy->Plan == NULL || !Balancer->Enabled || (Balancer->OneShot && Run->OneShotDone))
        return false;
    uint32_t Every = (uint32_t)llround(Balancer->Interval / Run->Interval);
    return (Interval + 1u) % (Every != 0 ? Every : 1u) == 0;
}

/* The phase ends after this interval: judge it. */
static void IrspEndPhase(IRSP_RUN *Run, double Bound, double MaxLoad)
{
    IRS_RESULT *Result = Run->Result;
    double Excess = Bound > 0 ? MaxLoad / Bound - 1.0 : 0.0;
    if (Result->Phases == 1 || Excess >= Result->WorstExcess) {
        Result->WorstExcess = Excess;
        Result->Bound = Bound;
        Result->MaxLoad = MaxLoad;
    }
    if (Run->PhaseLastMoveRound > Result->SettledRound)
        Result->SettledRound = Run->PhaseLastMoveRound;
}

static bool IrspAllocate(IRSP_RUN *Run)
{
    Run->Raise = calloc(Run->DeviceCount, sizeof(*Run->Raise));
    Run->DeviceLoad = calloc(Run->DeviceCount, sizeof(*Run->DeviceLoad));
    Run->WindowLoad = calloc(Run->DeviceCount, sizeof(*Run->WindowLoad));
    Run->Delta = calloc(Run->CpuCount, sizeof(*Run->Delta));
    Run->CpuLoad = calloc(Run->CpuCount, sizeof(*Run->CpuLoad));
    Run->CpuInterrupts = calloc(Run->CpuCount, sizeof(*Run->CpuInterrupts));
    return Run->Raise && Run->DeviceLoad && Run->WindowLoad && Run->Delta && Run->CpuLoad && Run->CpuInterrupts;
}

static void IrspFree(IRSP_RUN *Run)
{
    free(Run->Raise), free(Run->DeviceLoad), free(Run->WindowLoad);
    free(Run->Delta), free(Run->CpuLoad), free(Run->CpuInterrupts);
}

static void IrspLoop(IRSP_RUN *Run)
{
    uint32_t Intervals = (uint32_t)llround(Run->Scenario->Duration / Run->Interval);
    double Bound = 0, MaxLoad = 0;
    for (uint32_t Interval = 0; Interval < Intervals; Interval++) {
        double T = Interval * Run->Interval;
        bool Changed = IrspApplyEventsAt(Run, T);
        if (Changed && Interval > 0)
            IrspEndPhase(Run, Bound, MaxLoad);
        if (Changed || Interval == 0)
            IrspNewPhase(Run);
        IrspOffer(Run, T);
        IrspMeasure(Run);
        Bound = IrspBound(Run, &MaxLoad);
        IrspRecord(Run, Interval, T, Bound, MaxLoad);
        Run->Result->Intervals++;
        if (IrspRoundDue(Run, Interval)) {
            IrspRound(Run, T + Run->Interval);
            Run->OneShotDone = true;
        }
    }
    IrspEndPhase(Run, Bound, MaxLoad);
}

bool IrsRun(const IRS_SCENARIO *Scenario, const IRS_RUN_OPTIONS *Options, IRS_RESULT *Result, char *Error,
            size_t ErrorSize)
{
    *Result = (IRS_RESULT){.Strategy = Options->Strategy, .Ran = true,
                           .Scale = IrsRunScale(Scenario, Options->MaxRaises)};
    IRSP_RUN Run = {.Scenario = Scenario, .Options = Options, .Strategy = IrsStrategyGet(Options->Strategy),
                    .Result = Result, .CpuCount = Scenario->CpuCount, .DeviceCount = Scenario->DeviceCount,
                    .Interval = Scenario->Interval};
    if (!IrspAllocate(&Run)) {
        IrspFree(&Run);
        snprintf(Error, ErrorSize, "out of memory");
        return false;
    }
    double Started = IrspNow();
    if (!IrsSystemBoot(&Run.System, Scenario, Error, ErrorSize)) {
        IrspFree(&Run);
        return false;
    }
    if (Options->Csv != NULL)
        fprintf(Options->Csv, "interval,time_s,cpu,load,interrupts,online,bound,max_load\n");
    IrspLoop(&Run);
    for (uint32_t Device = 0; Device < Run.DeviceCount; Device++)
        Result->Raised += Run.System.Devices[Device].Raised;
    IrsSystemShutdown(&Run.System);
    IrspFree(&Run);
    Result->WallSeconds = IrspNow() - Started;
    return true;
}
