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
    uint32_t *OldCpu;        /* per device, before an offline/online call or a library round */
    IRS_LIBRARY *Library;    /* the library strategy's balancer */
    IR_BALANCER_MOVE *LibraryMoves; /* per device: a round moves each at most once */
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

/* Traces the devices whose CPU changed (OldCpu against now) and returns
 * how many did. */
static uint32_t IrspTraceChanges(IRSP_RUN *Run, const char *Why, double T)
{
    uint32_t Changed = 0;
    for (uint32_t Index = 0; Index < Run->DeviceCount; Index++) {
        const IRS_LIVE_DEVICE *Live = &Run->System.Devices[Index];
        if (Live->Cpu == Run->OldCpu[Index])
            continue;
        Changed++;
        if (Run->Options->Trace != NULL) {
            char Detail[96];
            snprintf(Detail, sizeof(Detail), "%s: CPU %u -> %u (%s)", Live->Spec->Name, Run->OldCpu[Index], Live->Cpu,
                     Why);
            IrsTraceInstant(Run->Options->Trace, T, Live->Cpu, "move", Detail);
        }
    }
    return Changed;
}

/* A CPU going offline: IoSetProcessorOffline moves its interrupts to the
 * least loaded online CPU of their affinity (src/io/offline.c); those moves
 * are the "forced" ones, counted apart from the strategy's. Coming back
 * online, an interrupt whose affinity was broken goes back into it (forced
 * too); the rest is the strategy's to spread. */
static void IrspOffline(IRSP_RUN *Run, uint32_t Cpu, double T)
{
    IO_PROCESSOR_OFFLINE_RESULT Offline;
    IRQ_STATUS Status = IrsSystemOffline(&Run->System, Cpu, &Offline, Run->OldCpu);
    uint32_t Changed = IrspTraceChanges(Run, "offline", T);
    if (Status != IRQ_STATUS_SUCCESS) {
        printf("irqsim: t=%.3f s: CPU %u offline: %s (%u interrupts moved)\n", T, Cpu, IrStatusName(Status), Changed);
        Run->Result->Forced += Changed;
        return;
    }
    Run->Result->Forced += Offline.Moved;
    Run->Result->AffinityBroken += Offline.AffinityBroken;
    if (Offline.AffinityBroken != 0)
        printf("irqsim: t=%.3f s: CPU %u offline: %u interrupt%s had no other online CPU in its affinity (broken)\n",
               T, Cpu, Offline.AffinityBroken, Offline.AffinityBroken == 1 ? "" : "s");
}

static void IrspOnline(IRSP_RUN *Run, uint32_t Cpu, double T)
{
    IRQ_STATUS Status = IrsSystemOnline(&Run->System, Cpu, Run->OldCpu);
    Run->Result->Forced += IrspTraceChanges(Run, "online", T);
    if (Status != IRQ_STATUS_SUCCESS)
        printf("irqsim: t=%.3f s: CPU %u online: %s\n", T, Cpu, IrStatusName(Status));
}

static void IrspApplyEvent(IRSP_RUN *Run, const IRS_EVENT *Event, double T)
{
    static const char *const Names[] = {"cpu offline", "cpu online", "storm", "storm end"};
    char Detail[96];
    uint32_t Where = Event->Cpu;
    if (Event->Kind == IrsEventOffline) {
        IrspOffline(Run, Event->Cpu, T);
        snprintf(Detail, sizeof(Detail), "CPU %u", Event->Cpu);
    } else if (Event->Kind == IrsEventOnline) {
        IrspOnline(Run, Event->Cpu, T);
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
        uint64_t Unplaced = 0;
        uint64_t Total = IrsSystemCollect(&Run->System, Device, Run->Delta, &Unplaced);
        /* Ke's per-CPU counts and its total agree; should they not, the
         * rest is charged where the device is delivered, and said. */
        Run->Delta[Live->Cpu] += Unplaced;
        Run->Result->Unplaced += Unplaced;
        for (uint32_t Cpu = 0; Cpu < Run->CpuCount; Cpu++) {
            if (Run->Delta[Cpu] == 0)
                continue;
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

static bool IrspLibraryRound(IRSP_RUN *Run, double T, uint32_t *Tried);

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
    int32_t Count = -1;
    uint32_t Tried = 0;
    if (Run->Strategy->InLibrary) {
        Count = IrspLibraryRound(Run, T, &Tried) ? (int32_t)Tried : -1;
        Why = Result->Why;
    } else if (Interrupts != NULL && Moves != NULL) {
        Count = Run->Strategy->Plan(&Snapshot, Moves, Run->DeviceCount, &Why);
    }
    Result->Rounds++;
    Run->PhaseRound++;
    if (Count < 0) {
        Result->Ran = false;
        Result->Why = Why;
    } else {
        if (!Run->Strategy->InLibrary)
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

/* The runner's own view of the window the balancer just measured: each
 * device's window load charged to the CPU it is delivered to now (as the
 * balancer charges it), the highest CPU's, in load per second. */
static double IrspWindowMaxLoad(const IRSP_RUN *Run)
{
    double *Loads = calloc(Run->CpuCount, sizeof(*Loads));
    double Max = 0;
    if (Loads == NULL || Run->WindowIntervals == 0) {
        free(Loads);
        return 0;
    }
    for (uint32_t Device = 0; Device < Run->DeviceCount; Device++)
        Loads[Run->System.Devices[Device].Cpu] += Run->WindowLoad[Device] / Run->WindowIntervals;
    for (uint32_t Cpu = 0; Cpu < Run->CpuCount; Cpu++)
        Max = fmax(Max, Loads[Cpu]);
    free(Loads);
    return Max;
}

static void IrspTraceLibraryMoves(IRSP_RUN *Run, const IR_BALANCE_REPORT *Report, double T)
{
    for (uint32_t Index = 0; Index < Report->MovesTried && Index < Report->MoveCapacity; Index++) {
        const IR_BALANCER_MOVE *Move = &Report->Moves[Index];
        uint32_t Device = IrsLibraryDeviceOf(Run->Library, Move->Interrupt);
        char Detail[128];
        snprintf(Detail, sizeof(Detail), "%s: CPU %u -> %u%s%s", Device != IR_CPU_NONE ? Run->Scenario->Devices[Device].Name : "?",
                 Move->From, Move->To, Move->Status == IRQ_STATUS_SUCCESS ? "" : ", refused: ",
                 Move->Status == IRQ_STATUS_SUCCESS ? "" : IrStatusName(Move->Status));
        IrsTraceInstant(Run->Options->Trace, T, Move->To, Move->Status == IRQ_STATUS_SUCCESS ? "move" : "move refused",
                        Detail);
    }
}

/* The library's round: IrBalancerRound measures (Ke's total counts since
 * its last round, which is this runner's window), plans and moves. Its
 * maximum load before the moves is compared with the runner's for the same
 * window: they read the same counters, so they must agree. */
static bool IrspLibraryRound(IRSP_RUN *Run, double T, uint32_t *Tried)
{
    IRS_RESULT *Result = Run->Result;
    double RunnerMax = IrspWindowMaxLoad(Run);
    IR_BALANCE_REPORT Report = {.Moves = Run->LibraryMoves, .MoveCapacity = Run->DeviceCount};
    IRQ_STATUS Status = IrsLibraryRound(Run->Library, &Report);
    if (Status != IRQ_STATUS_SUCCESS) {
        Result->Ran = false;
        Result->Why = "IrBalancerRound failed";
        return false;
    }
    *Tried = Report.MovesTried;
    Result->Moves += Report.MovesTried - Report.MovesFailed;
    Result->FailedMoves += Report.MovesFailed;
    Result->RetryLater += Report.MovesRetryLater;
    if (Report.Planned && Run->WindowIntervals != 0) {
        double Balancer = (double)Report.MaxLoadBefore * Result->Scale /
                          ((double)IRS_LIBRARY_WEIGHT_UNIT * Run->Interval * Run->WindowIntervals);
        double Off = fabs(Balancer - RunnerMax) / fmax(RunnerMax, 1.0);
        Result->WindowDisagreement = fmax(Result->WindowDisagreement, Off);
    }
    if (Run->Options->Trace != NULL)
        IrspTraceLibraryMoves(Run, &Report, T);
    return true;
}

static bool IrspRoundDue(const IRSP_RUN *Run, uint32_t Interval)
{
    const IRS_BALANCER *Balancer = &Run->Scenario->Balancer;
    if ((Run->Strategy->Plan == NULL && !Run->Strategy->InLibrary) || !Balancer->Enabled || (Balancer->OneShot && Run->OneShotDone))
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
    Run->OldCpu = calloc(Run->DeviceCount + 1u, sizeof(*Run->OldCpu));
    Run->LibraryMoves = calloc(Run->DeviceCount + 1u, sizeof(*Run->LibraryMoves));
    return Run->Raise && Run->DeviceLoad && Run->WindowLoad && Run->Delta && Run->CpuLoad && Run->CpuInterrupts &&
           Run->OldCpu && Run->LibraryMoves;
}

static void IrspFree(IRSP_RUN *Run)
{
    free(Run->Raise), free(Run->DeviceLoad), free(Run->WindowLoad);
    free(Run->Delta), free(Run->CpuLoad), free(Run->CpuInterrupts);
    free(Run->OldCpu), free(Run->LibraryMoves);
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

/* The balancer, and its first round right after the boot: it only samples
 * (balance.h), so that its first window is the runner's first. */
static bool IrspStartLibrary(IRSP_RUN *Run, char *Error, size_t ErrorSize)
{
    Run->Library = IrsLibraryCreate(Run->Scenario, &Run->System, Error, ErrorSize);
    if (Run->Library == NULL)
        return false;
    IR_BALANCE_REPORT Report = {.Moves = NULL, .MoveCapacity = 0};
    IRQ_STATUS Status = IrsLibraryRound(Run->Library, &Report);
    if (Status != IRQ_STATUS_SUCCESS || Report.Planned) {
        snprintf(Error, ErrorSize, "the balancer's first round: %s", IrStatusName(Status));
        IrsLibraryDestroy(Run->Library);
        Run->Library = NULL;
        return false;
    }
    return true;
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
    if (Run.Strategy->InLibrary && !IrspStartLibrary(&Run, Error, ErrorSize)) {
        IrsSystemShutdown(&Run.System);
        IrspFree(&Run);
        return false;
    }
    if (Options->Csv != NULL)
        fprintf(Options->Csv, "interval,time_s,cpu,load,interrupts,online,bound,max_load\n");
    IrspLoop(&Run);
    IrsLibraryDestroy(Run.Library);
    for (uint32_t Device = 0; Device < Run.DeviceCount; Device++)
        Result->Raised += Run.System.Devices[Device].Raised;
    IrsSystemShutdown(&Run.System);
    IrspFree(&Run);
    Result->WallSeconds = IrspNow() - Started;
    return true;
}
