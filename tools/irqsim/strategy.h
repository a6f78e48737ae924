/* SPDX-License-Identifier: MIT */
/*
 * Balancing strategies: each plans moves from one snapshot of measured load
 * (per interrupt: its load over the last balancer window, where it is, where
 * it may go); the runner applies the moves with IoSetInterruptTarget and
 * counts them. A strategy never touches the library itself, so every one is
 * measured on the same footing.
 */
#ifndef IRQSIM_STRATEGY_H
#define IRQSIM_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/balance.h>
#include <irqroute/cpuset.h>

#include "scenario.h"

typedef struct _IRS_SNAPSHOT_INTERRUPT {
    double Load;                /* cost-weighted interrupts per second, measured */
    uint32_t Cpu;               /* where it is delivered now */
    const IR_CPU_SET *Affinity; /* where it may go (IoQueryInterruptAffinity) */
    bool Pinned;                /* never moved */
} IRS_SNAPSHOT_INTERRUPT;

typedef struct _IRS_SNAPSHOT {
    uint32_t CpuCount;
    const IR_CPU_SET *Eligible; /* online and not banned: where a move may go */
    uint32_t InterruptCount;
    const IRS_SNAPSHOT_INTERRUPT *Interrupts;
    double MinimumGain;         /* balancer settings (a strategy may ignore them) */
    uint32_t MaxMoves;          /* 0: no limit */
} IRS_SNAPSHOT;

typedef struct _IRS_MOVE {
    uint32_t Interrupt; /* index into Snapshot->Interrupts */
    uint32_t Cpu;
} IRS_MOVE;

/* Writes at most Capacity moves; returns how many, or -1 when the strategy
 * cannot run (Why then says why). */
typedef int32_t (*IRS_PLAN)(const IRS_SNAPSHOT *Snapshot, IRS_MOVE *Moves, uint32_t Capacity, const char **Why);

typedef struct _IRS_STRATEGY {
    IRS_STRATEGY_ID Id;
    const char *Name;
    const char *Summary;
    IRS_PLAN Plan;  /* NULL for "none" and "library" */
    bool InLibrary; /* the library's own balancer: it measures and moves itself (IrsLibrary*) */
} IRS_STRATEGY;

const IRS_STRATEGY *IrsStrategyGet(IRS_STRATEGY_ID Id);
bool IrsStrategyFind(const char *Name, IRS_STRATEGY_ID *Id);

/* Each CPU's summed load (Loads has CpuCount entries). */
void IrsSnapshotCpuLoads(const IRS_SNAPSHOT *Snapshot, double *Loads);
/* The lightest CPU of Eligible & Affinity, ties to Prefer, then the lowest
 * number; IR_CPU_NONE when there is none. */
uint32_t IrsLightestCpu(const IRS_SNAPSHOT *Snapshot, const double *Loads, const IR_CPU_SET *Affinity,
                        uint32_t Prefer);

int32_t IrsPlanGreedy(const IRS_SNAPSHOT *Snapshot, IRS_MOVE *Moves, uint32_t Capacity, const char **Why);
int32_t IrsPlanIrqbalance(const IRS_SNAPSHOT *Snapshot, IRS_MOVE *Moves, uint32_t Capacity, const char **Why);

/* ---- The library's balancer (strategy_library.c) ------------------------------------
 * Not a planner over the snapshot: IrBalancerRound (include/irqroute/balance.h)
 * reads Ke's counters and moves through Io itself, in the same program and
 * on the same machine as the baselines. The runner calls IrsLibraryRound at
 * the same points as it plans a baseline's round, and once right after the
 * boot (the balancer's first round only samples), so that the balancer's
 * window is the runner's. */
typedef struct _IRS_LIBRARY IRS_LIBRARY;
struct _IRS_SYSTEM;

/* The load unit of one interrupt of cost 1 for the balancer (its weights
 * are integers): weight = round(cost x IRS_LIBRARY_WEIGHT_UNIT). */
#define IRS_LIBRARY_WEIGHT_UNIT 1000u

/* A balancer over every device of System, with the scenario's settings
 * (banned CPUs, one-shot, minimum gain, moves per round; a pinned device
 * gets IrBalanceHintPin). NULL with Error on failure. */
IRS_LIBRARY *IrsLibraryCreate(const IRS_SCENARIO *Scenario, struct _IRS_SYSTEM *System, char *Error,
                              size_t ErrorSize);
/* One IrBalancerRound (on CPU 0); Report->Moves holds every move tried.
 * Then the devices' CPUs are read again (IrsSystemRefresh). */
IRQ_STATUS IrsLibraryRound(IRS_LIBRARY *Library, IR_BALANCE_REPORT *Report);
/* The device of a move in the report, or IR_CPU_NONE. */
uint32_t IrsLibraryDeviceOf(const IRS_LIBRARY *Library, const KINTERRUPT *Interrupt);
uint32_t IrsLibraryWeight(double Cost);
void IrsLibraryDestroy(IRS_LIBRARY *Library);

#endif
