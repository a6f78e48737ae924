/* SPDX-License-Identifier: MIT */
/*
 * A scenario: what irqsim simulates (docs/irqsim.md, "Scenario files").
 * Loaded from YAML by IrsScenarioLoad (scenario_load.c); everything here is
 * plain data, checked once at load time so that the runner never sees a bad
 * value.
 */
#ifndef IRQSIM_SCENARIO_H
#define IRQSIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/cpuset.h>

#define IRS_MAX_DEVICES 256u
#define IRS_MAX_BURSTS 8u
#define IRS_MAX_EVENTS 64u
#define IRS_NAME_MAX 32u
#define IRS_ERROR_MAX 512u

typedef enum { IrsDeviceMsi, IrsDeviceLine } IRS_DEVICE_KIND;

typedef struct _IRS_BURST {
    double Start, End; /* seconds of scenario time, Start < End */
    double Rate;       /* interrupts per second while Start <= t < End */
} IRS_BURST;

/* The affinity is kept as text until the CPU count is known (--cpus may
 * change it after loading): IrsScenarioResolve parses it. */
typedef struct _IRS_DEVICE {
    char Name[IRS_NAME_MAX];
    IRS_DEVICE_KIND Kind;
    double Rate;    /* interrupts per second */
    double Cost;    /* load weight of one interrupt (default 1) */
    char AffinityText[64];
    uint32_t AffinityLine;
    IR_CPU_SET Affinity;
    bool Pinned;    /* no strategy moves it */
    uint32_t BurstCount;
    IRS_BURST Bursts[IRS_MAX_BURSTS];
} IRS_DEVICE;

typedef enum { IrsEventOffline, IrsEventOnline, IrsEventStorm, IrsEventStormEnd } IRS_EVENT_KIND;

typedef struct _IRS_EVENT {
    double At;
    IRS_EVENT_KIND Kind;
    uint32_t Cpu;      /* offline / online */
    uint32_t Device;   /* storm / storm-end: index into Devices */
    double Rate;       /* storm: the storm's rate (0: the device's own) */
    uint32_t Line;
} IRS_EVENT;

typedef struct _IRS_BALANCER {
    bool Enabled;
    double Interval;     /* seconds between rounds (a multiple of the scenario's interval) */
    double MinimumGain;  /* percent of the maximum load a round must win; -1: not given (the
                            library keeps its default) */
    uint32_t MaxMoves;   /* per round; 0: no limit */
    char BannedText[64];
    uint32_t BannedLine;
    IR_CPU_SET Banned;
    bool OneShot;        /* one round only, at the first balancing time */
} IRS_BALANCER;

/* What must hold for one strategy (negative / zero: not checked). */
typedef struct _IRS_EXPECT {
    bool Present;
    double MaxLoadWithin;   /* percent above the bound, at the end of every phase */
    int32_t SettledWithin;  /* rounds after a change, -1: not checked */
    int32_t QuietRounds;    /* no move in the last K rounds, 0: not checked */
    int32_t MovesAtMost;    /* -1: not checked */
    bool MovesNotAboveBaselines; /* no more moves than the better baseline (--strategy all) */
} IRS_EXPECT;

typedef enum {
    IrsStrategyNone,
    IrsStrategyGreedy,
    IrsStrategyIrqbalance,
    IrsStrategyLibrary,
    IrsStrategyCount
} IRS_STRATEGY_ID;

typedef struct _IRS_SCENARIO {
    char Name[64];
    char Path[256];
    uint32_t CpuCount;
    double Duration;
    double Interval;
    uint32_t DeviceCount;
    IRS_DEVICE Devices[IRS_MAX_DEVICES];
    IRS_BALANCER Balancer;
    uint32_t EventCount;
    IRS_EVENT Events[IRS_MAX_EVENTS];
    IRS_EXPECT Expect[IrsStrategyCount];
} IRS_SCENARIO;

/* Reads Path into Scenario. False on any mistake, with "path:line: what is
 * wrong" in Error; Scenario is then unusable. */
bool IrsScenarioLoad(const char *Path, IRS_SCENARIO *Scenario, char Error[IRS_ERROR_MAX]);
/* Sets the CPU count (CpuCount 0: keep the file's) and parses the CPU lists
 * against it (IrCpuSetParse). False with "path:line: ..." as above. */
bool IrsScenarioResolve(IRS_SCENARIO *Scenario, uint32_t CpuCount, char Error[IRS_ERROR_MAX]);
/* The device's rate at time T (a burst replaces the base rate). */
double IrsDeviceRateAt(const IRS_DEVICE *Device, double T);

#endif
