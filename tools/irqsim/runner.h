/* SPDX-License-Identifier: MIT */
/*
 * One run of a scenario under one strategy, on a freshly booted machine:
 * simulated time in intervals, events applied at their time, each device's
 * interrupts raised and serviced, per-CPU load measured from Ke's counters,
 * and at each balancer interval the strategy's moves applied.
 */
#ifndef IRQSIM_RUNNER_H
#define IRQSIM_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario.h"
#include "trace.h"

typedef struct _IRS_RUN_OPTIONS {
    IRS_STRATEGY_ID Strategy;
    uint64_t MaxRaises; /* per interval, over every device; more is scaled down */
    FILE *Csv;          /* NULL: none */
    IRS_TRACE *Trace;   /* NULL: none */
} IRS_RUN_OPTIONS;

typedef struct _IRS_RESULT {
    IRS_STRATEGY_ID Strategy;
    bool Ran;                /* false: the strategy is not available (Why) */
    const char *Why;
    double Scale;            /* interrupts each raised one stands for */
    uint32_t Intervals, Rounds, Phases;
    uint32_t Moves;          /* the strategy's */
    uint32_t Forced;         /* made by IoSetProcessorOffline (Result.Moved), and by
                                IoSetProcessorOnline mending a broken affinity: not the strategy's */
    uint32_t FailedMoves;    /* IoSetInterruptTarget refused */
    uint32_t RetryLater;     /* of those, the library's INVALID_STATE / VECTOR_EXHAUSTED */
    uint32_t AffinityBroken; /* IoSetProcessorOffline's Result.AffinityBroken, summed */
    uint64_t Unplaced;       /* interrupts Ke's total counted that its per-CPU counts missed (0) */
    double WindowDisagreement; /* library: max relative difference of the balancer's max load
                                  and the runner's over the same window */
    double Bound;            /* at the end of the worst phase: max(mean load, largest interrupt) */
    double MaxLoad;          /* the highest CPU load then */
    double WorstExcess;      /* max over phase ends of MaxLoad / Bound - 1 */
    uint32_t SettledRound;   /* max over phases: the phase's round of its last move (0: none) */
    uint32_t QuietRounds;    /* rounds without a move at the end */
    double WallSeconds;
    uint64_t Raised;
} IRS_RESULT;

/* False (with Error) when the machine could not boot; a strategy that is
 * not available gives true with Result->Ran false. */
bool IrsRun(const IRS_SCENARIO *Scenario, const IRS_RUN_OPTIONS *Options, IRS_RESULT *Result, char *Error,
            size_t ErrorSize);
/* The scale factor IrsRun will use (the peak of raises per interval over MaxRaises). */
double IrsRunScale(const IRS_SCENARIO *Scenario, uint64_t MaxRaises);

#endif
