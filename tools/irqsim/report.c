/* SPDX-License-Identifier: MIT */
/* Reports and checks (report.h). */
#include <stdio.h>

#include "report.h"
#include "strategy.h"

void IrsReportHeader(const IRS_SCENARIO *Scenario, double Scale)
{
    printf("scenario %s: %u CPUs, %u devices, %g s in intervals of %g s, balancer every %g s%s\n", Scenario->Name,
           Scenario->CpuCount, Scenario->DeviceCount, Scenario->Duration, Scenario->Interval,
           Scenario->Balancer.Interval, Scenario->Balancer.Enabled ? "" : " (disabled)");
    if (Scale > 1)
        printf("scaled: each raised interrupt stands for %g (loads are shown at full rate)\n", Scale);
}

void IrsReportResult(const IRS_SCENARIO *Scenario, const IRS_RESULT *Result)
{
    const char *Name = IrsStrategyGet(Result->Strategy)->Name;
    if (!Result->Ran) {
        printf("  %-10s not run: %s\n", Name, Result->Why);
        return;
    }
    printf("  %-10s bound %.0f, max load %.0f (%+.1f%%), moves %u (+%u forced off offline CPUs%s), settled in round "
           "%u, %u quiet rounds at the end; %llu interrupts in %.2f s\n",
           Name, Result->Bound, Result->MaxLoad, Result->WorstExcess * 100.0, Result->Moves, Result->Forced,
           Result->FailedMoves != 0 ? ", some refused" : "", Result->SettledRound, Result->QuietRounds,
           (unsigned long long)Result->Raised, Result->WallSeconds);
    if (Result->WallSeconds > Scenario->Duration)
        printf("  note: slower than scenario time (%.2f s of wall time for %g s)\n", Result->WallSeconds,
               Scenario->Duration);
}

static void IrspCell(char *Cell, size_t Size, const IRS_RESULT *Result, bool Done)
{
    if (!Done || !Result->Ran)
        snprintf(Cell, Size, "not run");
    else
        snprintf(Cell, Size, "%.0f (%+.1f%%)", Result->MaxLoad, Result->WorstExcess * 100.0);
}

static void IrspMoves(char *Cell, size_t Size, const IRS_RESULT *Result, bool Done)
{
    if (!Done || !Result->Ran)
        snprintf(Cell, Size, "-");
    else
        snprintf(Cell, Size, "%u", Result->Moves);
}

/* One row: each strategy's maximum load at the end of its worst phase (and
 * how far above that phase's bound), the bound of the balancer's worst
 * phase, and the moves each strategy made (forced moves apart). */
void IrsReportTable(const IRS_SCENARIO *Scenario, const IRS_RESULT *Results, const bool *Done)
{
    char Library[48], Greedy[48], Irqbalance[48], Moves[3][16];
    IrspCell(Library, sizeof(Library), &Results[IrsStrategyLibrary], Done[IrsStrategyLibrary]);
    IrspCell(Greedy, sizeof(Greedy), &Results[IrsStrategyGreedy], Done[IrsStrategyGreedy]);
    IrspCell(Irqbalance, sizeof(Irqbalance), &Results[IrsStrategyIrqbalance], Done[IrsStrategyIrqbalance]);
    IrspMoves(Moves[0], sizeof(Moves[0]), &Results[IrsStrategyLibrary], Done[IrsStrategyLibrary]);
    IrspMoves(Moves[1], sizeof(Moves[1]), &Results[IrsStrategyGreedy], Done[IrsStrategyGreedy]);
    IrspMoves(Moves[2], sizeof(Moves[2]), &Results[IrsStrategyIrqbalance], Done[IrsStrategyIrqbalance]);
    const IRS_RESULT *Bound = Done[IrsStrategyLibrary] && Results[IrsStrategyLibrary].Ran ? &Results[IrsStrategyLibrary]
                                                                                          : &Results[IrsStrategyGreedy];
    printf("\n| scenario | bound | balancer | greedy baseline | irqbalance-like baseline | moves "
           "(balancer/greedy/irqbalance) |\n|---|---|---|---|---|---|\n");
    printf("| %s | %.0f | %s | %s | %s | %s/%s/%s |\n", Scenario->Name, Bound->Bound, Library, Greedy, Irqbalance,
           Moves[0], Moves[1], Moves[2]);
}

static bool IrspFail(const IRS_SCENARIO *Scenario, const char *Strategy, const char *What)
{
    printf("CHECK FAILED %s (%s): %s\n", Scenario->Name, Strategy, What);
    return false;
}

/* The moves of the better baseline: the one whose maximum load ends nearer
 * the bound (its worst phase), ties (within 0.5%) to the fewer moves; -1
 * when either did not run. Fewer moves that leave the load further from the
 * bound are not a better result: in many-small.yaml no placement within 5%
 * of the bound is 12 moves away from the start, and the greedy mover's 12
 * end 9.4% above it. */
static int64_t IrspBestBaselineMoves(const IRS_RESULT *Results, const bool *Done)
{
    if (!Done[IrsStrategyGreedy] || !Done[IrsStrategyIrqbalance] || !Results[IrsStrategyGreedy].Ran ||
        !Results[IrsStrategyIrqbalance].Ran)
        return -1;
    const IRS_RESULT *Greedy = &Results[IrsStrategyGreedy], *Irqbalance = &Results[IrsStrategyIrqbalance];
    if (Greedy->WorstExcess < Irqbalance->WorstExcess - 0.005)
        return Greedy->Moves;
    if (Irqbalance->WorstExcess < Greedy->WorstExcess - 0.005)
        return Irqbalance->Moves;
    return Greedy->Moves < Irqbalance->Moves ? Greedy->Moves : Irqbalance->Moves;
}

static bool IrspCheckOne(const IRS_SCENARIO *Scenario, const IRS_RESULT *Results, const bool *Done, uint32_t Id)
{
    const IRS_EXPECT *Expect = &Scenario->Expect[Id];
    const IRS_RESULT *Result = &Results[Id];
    const char *Name = IrsStrategyGet(Id)->Name;
    char What[160];
    bool Ok = true;
    if (Expect->MaxLoadWithin >= 0 && Result->WorstExcess * 100.0 > Expect->MaxLoadWithin + 1e-9) {
        snprintf(What, sizeof(What), "max load %.0f is %.1f%% above the bound %.0f (expected within %g%%)",
                 Result->MaxLoad, Result->WorstExcess * 100.0, Result->Bound, Expect->MaxLoadWithin);
        Ok = IrspFail(Scenario, Name, What);
    }
    if (Expect->SettledWithin >= 0 && Result->SettledRound > (uint32_t)Expect->SettledWithin) {
        snprintf(What, sizeof(What), "settled in round %u (expected within %d)", Result->SettledRound,
                 Expect->SettledWithin);
        Ok = IrspFail(Scenario, Name, What);
    }
    if (Expect->QuietRounds > 0 && Result->QuietRounds < (uint32_t)Expect->QuietRounds) {
        snprintf(What, sizeof(What), "only %u rounds without a move at the end (expected %d)", Result->QuietRounds,
                 Expect->QuietRounds);
        Ok = IrspFail(Scenario, Name, What);
    }
    if (Expect->MovesAtMost >= 0 && Result->Moves > (uint32_t)Expect->MovesAtMost) {
        snprintf(What, sizeof(What), "%u moves (expected at most %d)", Result->Moves, Expect->MovesAtMost);
        Ok = IrspFail(Scenario, Name, What);
    }
    if (Result->Unplaced != 0) {
        snprintf(What, sizeof(What), "%llu interrupts counted in Ke's total but on no CPU",
                 (unsigned long long)Result->Unplaced);
        Ok = IrspFail(Scenario, Name, What);
    }
    if (Result->WindowDisagreement > 0.005) {
        snprintf(What, sizeof(What), "the balancer's maximum load and the runner's differ by %.2f%% over one window",
                 Result->WindowDisagreement * 100.0);
        Ok = IrspFail(Scenario, Name, What);
    }
    int64_t Best = IrspBestBaselineMoves(Results, Done);
    if (Expect->MovesNotAboveBaselines && Best < 0)
        printf("check %s (%s): moves against the baselines need --strategy all: not checked\n", Scenario->Name, Name);
    else if (Expect->MovesNotAboveBaselines && Result->Moves > (uint64_t)Best) {
        snprintf(What, sizeof(What), "%u moves, more than the better baseline's %lld", Result->Moves, (long long)Best);
        Ok = IrspFail(Scenario, Name, What);
    }
    return Ok;
}

bool IrsReportCheck(const IRS_SCENARIO *Scenario, const IRS_RESULT *Results, const bool *Done)
{
    bool Ok = true;
    uint32_t Checked = 0;
    for (uint32_t Id = 0; Id < IrsStrategyCount; Id++) {
        if (!Done[Id] || !Scenario->Expect[Id].Present)
            continue;
        if (!Results[Id].Ran) {
            printf("check %s (%s): not run (%s): not checked\n", Scenario->Name, IrsStrategyGet(Id)->Name,
                   Results[Id].Why);
            continue;
        }
        Ok = IrspCheckOne(Scenario, Results, Done, Id) && Ok;
        Checked++;
    }
    printf("check %s: %s (%u strateg%s checked)\n", Scenario->Name, Ok ? "ok" : "FAILED", Checked,
           Checked == 1 ? "y" : "ies");
    return Ok;
}
