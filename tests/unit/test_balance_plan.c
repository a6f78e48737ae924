/* SPDX-License-Identifier: MIT */
/*
 * The balancer's planner (balance.h, IrBalancePlan) on numbers alone: the
 * bound reached on mixed loads within a few rounds and then no move, no
 * more moves than a greedy heaviest-to-lightest mover, affinity, banned and
 * offline CPUs, pinned interrupts, free vectors per class, the minimum
 * gain, the cap, one huge interrupt alone, a swap where no move helps,
 * ties to the lowest CPU, and bad input refused with nothing written.
 */
#include "tb_main.h"

#include <stdlib.h>
#include <string.h>

#include <irqroute/balance.h>

#define MAX_INTERRUPTS 512u
#define MAX_MOVES 512u

/* A planner run and the state it works on: the test applies the moves to
 * Interrupts[].Cpu between rounds, as the driver's IoSetInterruptTarget does. */
typedef struct _PLAN_CASE {
    IR_BALANCE_CPUS Cpus;
    IR_BALANCE_INTERRUPT Interrupts[MAX_INTERRUPTS];
    uint32_t Count;
    IR_BALANCE_OPTIONS Options;
    IR_BALANCE_MOVE Moves[MAX_MOVES];
    IR_BALANCE_PLAN Plan;
    uint64_t Scratch[8192];
} PLAN_CASE;

static PLAN_CASE Case;

static void StartCase(uint32_t CpuCount)
{
    memset(&Case, 0, sizeof(Case));
    Case.Cpus.Count = CpuCount;
    Case.Options.MaxMoves = MAX_MOVES;
    Case.Options.MinimumGain = 1;
}

static uint32_t AddInterrupt(uint64_t Load, uint32_t Cpu)
{
    assert_true(Case.Count < MAX_INTERRUPTS);
    IR_BALANCE_INTERRUPT *Interrupt = &Case.Interrupts[Case.Count];
    Interrupt->Load = Load;
    Interrupt->Cpu = Cpu;
    Interrupt->Class = 5;
    return Case.Count++;
}

static IRQ_STATUS RunPlan(void)
{
    Case.Plan.Moves = Case.Moves;
    Case.Plan.MoveCapacity = MAX_MOVES;
    return IrBalancePlan(&Case.Cpus, Case.Interrupts, Case.Count, &Case.Options, Case.Scratch,
                         sizeof(Case.Scratch), &Case.Plan);
}

/* Plans once, checks each move against the rules every plan keeps, applies
 * the moves; returns how many there were. */
static uint32_t PlanAndApply(void)
{
    assert_int_equal(RunPlan(), IRQ_STATUS_SUCCESS);
    for (uint32_t Index = 0; Index < Case.Plan.MoveCount; Index++) {
        const IR_BALANCE_MOVE *Move = &Case.Moves[Index];
        IR_BALANCE_INTERRUPT *Interrupt = &Case.Interrupts[Move->Interrupt];
        assert_int_equal(Move->From, Interrupt->Cpu);
        assert_int_equal(Interrupt->Flags & IR_BALANCE_PINNED, 0);
        assert_true(Move->To < Case.Cpus.Count);
        if (Interrupt->Affinity != NULL)
            assert_true(IrCpuSetContains(Interrupt->Affinity, Move->To));
        if (Case.Cpus.Banned != NULL)
            assert_false(IrCpuSetContains(Case.Cpus.Banned, Move->To));
        if (Case.Cpus.Online != NULL)
            assert_true(IrCpuSetContains(Case.Cpus.Online, Move->To));
        Interrupt->Cpu = Move->To;
    }
    return Case.Plan.MoveCount;
}

static uint64_t CpuLoad(uint32_t Cpu)
{
    uint64_t Load = 0;
    for (uint32_t Index = 0; Index < Case.Count; Index++) {
        if (Case.Interrupts[Index].Cpu == Cpu)
            Load += Case.Interrupts[Index].Load;
    }
    return Load;
}

static uint64_t MaxLoad(void)
{
    uint64_t Max = 0;
    for (uint32_t Cpu = 0; Cpu < Case.Cpus.Count; Cpu++) {
        if (CpuLoad(Cpu) > Max)
            Max = CpuLoad(Cpu);
    }
    return Max;
}

/* Rounds until one makes no move; fails past MaxRounds. Returns the moves. */
static uint32_t SettleWithin(uint32_t MaxRounds, uint32_t *Rounds)
{
    uint32_t Total = 0;
    for (uint32_t Round = 1; Round <= MaxRounds + 1u; Round++) {
        uint32_t Moves = PlanAndApply();
        if (Moves == 0) {
            *Rounds = Round - 1u;
            return Total;
        }
        Total += Moves;
    }
    fail_msg("still moving after %u rounds", MaxRounds);
    return Total;
}

static void AssertNoMoveFor(uint32_t Rounds)
{
    for (uint32_t Round = 0; Round < Rounds; Round++)
        assert_int_equal(PlanAndApply(), 0);
}

/* max(ceil(mean), largest), computed here independently. */
static uint64_t ExpectedBound(void)
{
    uint64_t Total = 0, Largest = 0;
    for (uint32_t Index = 0; Index < Case.Count; Index++) {
        Total += Case.Interrupts[Index].Load;
        if (Case.Interrupts[Index].Load > Largest)
            Largest = Case.Interrupts[Index].Load;
    }
    uint64_t Mean = (Total + Case.Cpus.Count - 1u) / Case.Cpus.Count;
    return Mean > Largest ? Mean : Largest;
}

static void AssertWithinFivePercent(uint64_t Bound)
{
    uint64_t Max = MaxLoad();
    if (Max * 100u > Bound * 105u)
        fail_msg("max load %llu is more than 5%% above the bound %llu", (unsigned long long)Max,
                 (unsigned long long)Bound);
}

/* The baseline: a greedy mover that takes the heaviest CPU's largest
 * interrupt that fits to the lightest CPU, while one fits (how many moves
 * it makes from the same start). */
static uint32_t GreedyMoves(const IR_BALANCE_INTERRUPT *Start, uint32_t Count, uint32_t CpuCount)
{
    static uint32_t Where[MAX_INTERRUPTS];
    static uint64_t Load[64];
    assert_true(CpuCount <= 64u);
    memset(Load, 0, sizeof(Load));
    for (uint32_t Index = 0; Index < Count; Index++) {
        Where[Index] = Start[Index].Cpu;
        Load[Where[Index]] += Start[Index].Load;
    }
    for (uint32_t Moves = 0;; Moves++) {
        uint32_t High = 0, Low = 0;
        for (uint32_t Cpu = 1; Cpu < CpuCount; Cpu++) {
            if (Load[Cpu] > Load[High])
                High = Cpu;
            if (Load[Cpu] < Load[Low])
                Low = Cpu;
        }
        uint32_t Best = UINT32_MAX;
        for (uint32_t Index = 0; Index < Count; Index++) {
            if (Where[Index] == High && Start[Index].Load > 0 && Load[Low] + Start[Index].Load < Load[High] &&
                (Best == UINT32_MAX || Start[Index].Load > Start[Best].Load))
                Best = Index;
        }
        if (Best == UINT32_MAX)
            return Moves;
        Load[High] -= Start[Best].Load;
        Load[Low] += Start[Best].Load;
        Where[Best] = Low;
    }
}

/* ---- The bound and settling ---------------------------------------------------------------- */

/* Sixteen mixed loads piled on CPU 0 of four: within 5% of the bound in at
 * most three rounds, the plan's own numbers right, then ten rounds without a
 * move. The greedy mover stops after 7 moves at 150, 13.6% above the bound
 * of 132; the planner needs one more to end within 5% (135, first-fit onto
 * the bound: docs/balancer.md), and no more than that. */
static void test_mixed_loads_reach_the_bound(void **State)
{
    (void)State;
    static const uint64_t Loads[] = {90, 70, 60, 55, 50, 40, 35, 30, 25, 20, 15, 10, 10, 5, 5, 5};
    StartCase(4);
    for (uint32_t Index = 0; Index < sizeof(Loads) / sizeof(Loads[0]); Index++)
        AddInterrupt(Loads[Index], 0);
    uint32_t Greedy = GreedyMoves(Case.Interrupts, Case.Count, 4);
    uint64_t Bound = ExpectedBound();
    assert_int_equal(RunPlan(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Case.Plan.Bound, Bound);
    assert_int_equal(Case.Plan.MaxLoadBefore, 525);
    uint32_t Rounds = 0;
    uint32_t Moves = SettleWithin(3, &Rounds);
    AssertWithinFivePercent(Bound);
    assert_int_equal(Greedy, 7);
    assert_int_equal(Moves, 8);
    assert_int_equal(MaxLoad(), 135);
    AssertNoMoveFor(10);
}

/* Two hundred random loads on eight CPUs, placed at random (seeded), with a
 * minimum gain of 2%: the same three promises (the 2% keeps the planner
 * from polishing the last percent with moves the greedy mover never makes). */
static void test_random_loads_reach_the_bound(void **State)
{
    (void)State;
    uint32_t Seed = 0x2545F491u;
    for (uint32_t Trial = 0; Trial < 20u; Trial++) {
        StartCase(8);
        for (uint32_t Index = 0; Index < 200u; Index++) {
            Seed ^= Seed << 13;
            Seed ^= Seed >> 17;
            Seed ^= Seed << 5;
            AddInterrupt(1u + Seed % 1000u, (Seed >> 12) % 8u);
        }
        Case.Options.MinimumGainPercent = 2;
        uint32_t Greedy = GreedyMoves(Case.Interrupts, Case.Count, 8);
        uint64_t Bound = ExpectedBound();
        uint32_t Rounds = 0;
        uint32_t Moves = SettleWithin(3, &Rounds);
        AssertWithinFivePercent(Bound);
        assert_true(Moves <= Greedy);
        AssertNoMoveFor(10);
    }
}

/* One interrupt heavier than all the rest together, by default: one move
 * (the huge one, the largest gain) and the maximum is its load; the rest
 * stays together on CPU 0, since spreading it would lower no maximum. */
static void test_single_huge_interrupt_one_move(void **State)
{
    (void)State;
    StartCase(4);
    uint32_t Huge = AddInterrupt(1000, 0);
    for (uint32_t Index = 0; Index < 12u; Index++)
        AddInterrupt(10, 0);
    uint32_t Rounds = 0;
    assert_int_equal(SettleWithin(3, &Rounds), 1);
    assert_int_not_equal(Case.Interrupts[Huge].Cpu, 0);
    assert_int_equal(MaxLoad(), 1000);
    assert_int_equal(CpuLoad(0), 120);
    AssertNoMoveFor(10);
}

/* The same with SpreadRest: it ends alone on its CPU, the rest spread over
 * the others, and the maximum is its load. */
static void test_single_huge_interrupt_alone_rest_spread(void **State)
{
    (void)State;
    StartCase(4);
    Case.Options.SpreadRest = true;
    uint32_t Huge = AddInterrupt(1000, 0);
    for (uint32_t Index = 0; Index < 12u; Index++)
        AddInterrupt(10, 0);
    uint32_t Rounds = 0;
    (void)SettleWithin(3, &Rounds);
    uint32_t HugeCpu = Case.Interrupts[Huge].Cpu;
    assert_int_equal(CpuLoad(HugeCpu), 1000);
    assert_int_equal(MaxLoad(), 1000);
    for (uint32_t Cpu = 0; Cpu < 4u; Cpu++) {
        if (Cpu != HugeCpu)
            assert_int_equal(CpuLoad(Cpu), 40);
    }
}

/* 10+10 against 9+9: no single move lowers 20, a swap of a 10 with a 9
 * gives 19 and 19, the bound. */
static void test_swap_when_no_move_helps(void **State)
{
    (void)State;
    StartCase(2);
    AddInterrupt(10, 0);
    AddInterrupt(10, 0);
    AddInterrupt(9, 1);
    AddInterrupt(9, 1);
    assert_int_equal(PlanAndApply(), 2);
    assert_int_equal(Case.Plan.MaxLoadAfter, 19);
    assert_int_equal(MaxLoad(), 19);
    assert_int_equal(Case.Plan.Bound, 19);
    AssertNoMoveFor(3);
}

/* ---- Constraints --------------------------------------------------------------------------- */

/* Interrupts that may only use CPUs 0-1 are balanced there, never on the
 * empty CPUs 2-3; an unrestricted one goes to 2 (the lowest empty CPU). */
static void test_affinity_respected(void **State)
{
    (void)State;
    StartCase(4);
    IR_CPU_SET Low;
    IrCpuSetFill(&Low, 2);
    for (uint32_t Index = 0; Index < 4u; Index++)
        Case.Interrupts[AddInterrupt(10, 0)].Affinity = &Low;
    uint32_t Free = AddInterrupt(10, 0);
    assert_true(PlanAndApply() > 0); /* PlanAndApply checks each move's destination */
    for (uint32_t Index = 0; Index < Case.Count; Index++) {
        if (Index != Free)
            assert_true(Case.Interrupts[Index].Cpu < 2u);
    }
    assert_int_equal(Case.Interrupts[Free].Cpu, 2);
    assert_int_equal(CpuLoad(0), 20);
    assert_int_equal(CpuLoad(1), 20);
}

/* CPU 1 banned and CPU 2 offline: what was on them leaves first (even
 * ahead of gains), nothing goes there, nothing is stranded. */
static void test_banned_and_offline_cpus_emptied(void **State)
{
    (void)State;
    StartCase(4);
    IR_CPU_SET Online, Banned;
    IrCpuSetFill(&Online, 4);
    IrCpuSetRemove(&Online, 2);
    IrCpuSetZero(&Banned);
    IrCpuSetAdd(&Banned, 1);
    Case.Cpus.Online = &Online;
    Case.Cpus.Banned = &Banned;
    AddInterrupt(30, 1);
    AddInterrupt(20, 1);
    AddInterrupt(25, 2);
    AddInterrupt(5, 3);
    Case.Options.MinimumGain = 1000; /* evacuation is not a matter of gain */
    assert_int_equal(PlanAndApply(), 3);
    assert_int_equal(Case.Plan.Stranded, 0);
    assert_int_equal(CpuLoad(1), 0);
    assert_int_equal(CpuLoad(2), 0);
    /* Heaviest first to the least loaded: 30 -> 0 (0 < 5), 25 -> 3 (5 <
     * 30), 20 -> 0 (30 = 30: the lower CPU). */
    assert_int_equal(Case.Interrupts[0].Cpu, 0);
    assert_int_equal(Case.Interrupts[2].Cpu, 3);
    assert_int_equal(Case.Interrupts[1].Cpu, 0);
    /* Bound: (30+20+25+5) over the two eligible CPUs. */
    assert_int_equal(Case.Plan.Bound, 40);
}

/* An interrupt on a banned CPU whose affinity holds only banned CPUs stays
 * and is counted stranded, and its load is left out of the bound: six 10s
 * over the three eligible CPUs make 20 (not 23 with the stranded 9). */
static void test_no_eligible_cpu_in_affinity_is_stranded(void **State)
{
    (void)State;
    StartCase(4);
    IR_CPU_SET Banned, Only1;
    IrCpuSetZero(&Banned);
    IrCpuSetAdd(&Banned, 1);
    IrCpuSetZero(&Only1);
    IrCpuSetAdd(&Only1, 1);
    Case.Cpus.Banned = &Banned;
    uint32_t Stuck = AddInterrupt(9, 1);
    Case.Interrupts[Stuck].Affinity = &Only1;
    for (uint32_t Index = 0; Index < 6u; Index++)
        AddInterrupt(10, 0);
    assert_int_equal(PlanAndApply(), 4);
    assert_int_equal(Case.Plan.Stranded, 1);
    assert_int_equal(Case.Plan.Bound, 20);
    assert_int_equal(Case.Plan.MaxLoadAfter, 20);
    assert_int_equal(Case.Interrupts[Stuck].Cpu, 1);
}

/* A pinned interrupt stays, even the heaviest on the most loaded CPU and
 * even on a banned CPU; the others move around it. */
static void test_pinned_interrupts_stay(void **State)
{
    (void)State;
    StartCase(3);
    IR_CPU_SET Banned;
    IrCpuSetZero(&Banned);
    IrCpuSetAdd(&Banned, 2);
    Case.Cpus.Banned = &Banned;
    uint32_t Heavy = AddInterrupt(50, 0);
    Case.Interrupts[Heavy].Flags = IR_BALANCE_PINNED;
    uint32_t OnBanned = AddInterrupt(5, 2);
    Case.Interrupts[OnBanned].Flags = IR_BALANCE_PINNED;
    AddInterrupt(20, 0);
    AddInterrupt(20, 0);
    assert_int_equal(PlanAndApply(), 2);
    assert_int_equal(Case.Interrupts[Heavy].Cpu, 0);
    assert_int_equal(Case.Interrupts[OnBanned].Cpu, 2);
    assert_int_equal(CpuLoad(1), 40);
    assert_int_equal(Case.Plan.Stranded, 0);
    AssertNoMoveFor(2);
}

/* Free vectors of class 5: one on CPU 1, none on CPU 3, plenty on CPU 2;
 * every other class is free everywhere. */
typedef struct _FREE_VECTORS {
    uint32_t Calls;
    uint32_t OnCpu1;
} FREE_VECTORS;

static uint32_t FreeVectorsOf(void *Context, uint32_t Cpu, uint8_t Class)
{
    FREE_VECTORS *Free = Context;
    Free->Calls++;
    if (Class != 5)
        return 16;
    return Cpu == 1 ? Free->OnCpu1 : Cpu == 3 ? 0 : 16;
}

/* CPU 0 holds four class-5 interrupts (30 20 20 20), CPU 1 a pinned 1,
 * CPU 2 a pinned 50, CPU 3 nothing. The 30 goes to CPU 1, not to the
 * lighter CPU 3 (no class-5 vector there); after it, CPU 1's one vector is
 * taken, so no 20 follows it (which would gain 9), and nothing else gains. */
static void test_no_free_vector_in_class_not_chosen(void **State)
{
    (void)State;
    FREE_VECTORS Free = {.Calls = 0, .OnCpu1 = 1};
    StartCase(4);
    Case.Cpus.FreeVectors = FreeVectorsOf;
    Case.Cpus.FreeVectorsContext = &Free;
    uint32_t First = AddInterrupt(30, 0);
    AddInterrupt(20, 0);
    AddInterrupt(20, 0);
    AddInterrupt(20, 0);
    uint32_t Small = AddInterrupt(1, 1);
    uint32_t Big = AddInterrupt(50, 2);
    Case.Interrupts[Small].Flags = IR_BALANCE_PINNED;
    Case.Interrupts[Small].Class = 7;
    Case.Interrupts[Big].Flags = IR_BALANCE_PINNED;
    Case.Interrupts[Big].Class = 7;
    assert_int_equal(PlanAndApply(), 1);
    assert_true(Free.Calls > 0);
    assert_int_equal(Case.Interrupts[First].Cpu, 1);
    assert_int_equal(CpuLoad(3), 0);
    Free.OnCpu1 = 0; /* the move took it */
    AssertNoMoveFor(2);
}

/* ---- Hysteresis and the cap --------------------------------------------------------------- */

/* The same input twice: the second plan (after the first's moves) makes
 * none. And a move that would gain less than the minimum is not made. */
static void test_same_input_twice_second_round_no_move(void **State)
{
    (void)State;
    StartCase(3);
    for (uint32_t Index = 0; Index < 9u; Index++)
        AddInterrupt(10u + Index, 0);
    assert_true(PlanAndApply() > 0);
    assert_int_equal(PlanAndApply(), 0);
    assert_int_equal(Case.Plan.MaxLoadBefore, Case.Plan.MaxLoadAfter);
}

static void test_minimum_gain_refuses_small_moves(void **State)
{
    (void)State;
    StartCase(2);
    AddInterrupt(10, 0);
    AddInterrupt(4, 0);
    AddInterrupt(10, 1);
    /* 14 vs 10: moving the 4 gives 10/14 (no gain); nothing else helps. */
    assert_int_equal(PlanAndApply(), 0);
    /* 14 vs 6 (the 10 on CPU 1 is now 6): moving the 4 lowers 14 to 10,
     * a gain of 4: refused at a minimum of 5, made at 4. */
    Case.Interrupts[2].Load = 6;
    Case.Options.MinimumGain = 5;
    assert_int_equal(PlanAndApply(), 0);
    Case.Options.MinimumGain = 4;
    assert_int_equal(PlanAndApply(), 1);
    /* Back to 14 vs 6, the minimum as a share of 14: 36% is 5 (rounded
     * down), above the gain of 4; 28% is 3. */
    Case.Interrupts[1].Cpu = 0;
    Case.Options.MinimumGain = 0;
    Case.Options.MinimumGainPercent = 36;
    assert_int_equal(PlanAndApply(), 0);
    Case.Options.MinimumGainPercent = 28;
    assert_int_equal(PlanAndApply(), 1);
}

/* Ten interrupts on CPU 0 of four with a cap of three: three moves, and
 * the next round goes on. */
static void test_cap_respected(void **State)
{
    (void)State;
    StartCase(4);
    for (uint32_t Index = 0; Index < 10u; Index++)
        AddInterrupt(10, 0);
    Case.Options.MaxMoves = 3;
    assert_int_equal(PlanAndApply(), 3);
    assert_int_equal(PlanAndApply(), 3);
    /* The plan's capacity caps it as well. */
    Case.Options.MaxMoves = 100;
    Case.Plan.Moves = Case.Moves;
    Case.Plan.MoveCapacity = 1;
    assert_int_equal(IrBalancePlan(&Case.Cpus, Case.Interrupts, Case.Count, &Case.Options, Case.Scratch,
                                   sizeof(Case.Scratch), &Case.Plan),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Case.Plan.MoveCount, 1);
}

/* Ties go to the lowest CPU: the two halves of CPU 0 go to 1, then to 2
 * (equal gains, equal loads), and the first move is the lowest index. */
static void test_ties_to_the_lowest_cpu(void **State)
{
    (void)State;
    StartCase(4);
    AddInterrupt(10, 0);
    AddInterrupt(10, 0);
    AddInterrupt(10, 0);
    assert_int_equal(RunPlan(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Case.Plan.MoveCount, 2);
    assert_int_equal(Case.Moves[0].Interrupt, 0);
    assert_int_equal(Case.Moves[0].To, 1);
    assert_int_equal(Case.Moves[1].Interrupt, 1);
    assert_int_equal(Case.Moves[1].To, 2);
}

/* ---- Bad input ----------------------------------------------------------------------------- */

static void AssertRefusedUntouched(IRQ_STATUS Expected, size_t ScratchSize)
{
    IR_BALANCE_MOVE Moves[4];
    memset(Moves, 0xAB, sizeof(Moves));
    IR_BALANCE_PLAN Plan;
    memset(&Plan, 0xCD, sizeof(Plan));
    Plan.Moves = Moves;
    Plan.MoveCapacity = 4;
    IR_BALANCE_PLAN Before = Plan;
    memset(Case.Scratch, 0xEF, sizeof(Case.Scratch));
    assert_int_equal(IrBalancePlan(&Case.Cpus, Case.Interrupts, Case.Count, &Case.Options, Case.Scratch,
                                   ScratchSize, &Plan),
                     Expected);
    assert_memory_equal(&Plan, &Before, sizeof(Plan));
    for (size_t Byte = 0; Byte < sizeof(Moves); Byte++)
        assert_int_equal(((uint8_t *)Moves)[Byte], 0xAB);
    for (size_t Byte = 0; Byte < sizeof(Case.Scratch); Byte++)
        assert_int_equal(((uint8_t *)Case.Scratch)[Byte], 0xEF);
}

static void test_bad_input_refused_outputs_untouched(void **State)
{
    (void)State;
    size_t Scratch = sizeof(Case.Scratch);
    StartCase(4);
    AddInterrupt(10, 0);
    AddInterrupt(10, 0);
    assert_int_equal(IrBalanceQueryPlanScratchSize(0, 2), 0);
    assert_int_equal(IrBalanceQueryPlanScratchSize(IR_MAX_CPUS + 1u, 2), 0);
    assert_true(IrBalanceQueryPlanScratchSize(4, 2) > 0);
    assert_true(IrBalanceQueryPlanScratchSize(4, 2) <= sizeof(Case.Scratch));

    assert_int_equal(IrBalancePlan(NULL, Case.Interrupts, 2, &Case.Options, Case.Scratch, Scratch, &Case.Plan),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancePlan(&Case.Cpus, NULL, 2, &Case.Options, Case.Scratch, Scratch, &Case.Plan),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancePlan(&Case.Cpus, Case.Interrupts, 2, NULL, Case.Scratch, Scratch, &Case.Plan),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancePlan(&Case.Cpus, Case.Interrupts, 2, &Case.Options, Case.Scratch, Scratch, NULL),
                     IRQ_STATUS_INVALID_PARAMETER);

    Case.Options.MaxMoves = 0;
    AssertRefusedUntouched(IRQ_STATUS_INVALID_PARAMETER, Scratch);
    Case.Options.MaxMoves = 4;
    Case.Options.MinimumGainPercent = 101;
    AssertRefusedUntouched(IRQ_STATUS_INVALID_PARAMETER, Scratch);
    Case.Options.MinimumGainPercent = 0;
    Case.Interrupts[1].Class = IR_BALANCE_CLASS_COUNT;
    AssertRefusedUntouched(IRQ_STATUS_INVALID_PARAMETER, Scratch);
    Case.Interrupts[1].Class = 5;
    Case.Interrupts[1].Flags = 0x80;
    AssertRefusedUntouched(IRQ_STATUS_INVALID_PARAMETER, Scratch);
    Case.Interrupts[1].Flags = 0;
    Case.Interrupts[1].Load = UINT64_MAX - 5u; /* the sum overflows */
    AssertRefusedUntouched(IRQ_STATUS_INVALID_PARAMETER, Scratch);
    Case.Interrupts[1].Load = 10;
    Case.Interrupts[1].Cpu = 4;
    AssertRefusedUntouched(IRQ_STATUS_INVALID_CPU, Scratch);
    Case.Interrupts[1].Cpu = 0;
    Case.Cpus.Count = 0;
    AssertRefusedUntouched(IRQ_STATUS_INVALID_CPU, Scratch);
    Case.Cpus.Count = IR_MAX_CPUS + 1u;
    AssertRefusedUntouched(IRQ_STATUS_INVALID_CPU, Scratch);
    Case.Cpus.Count = 4;
    AssertRefusedUntouched(IRQ_STATUS_BUFFER_TOO_SMALL, IrBalanceQueryPlanScratchSize(4, 2) - 1u);
    IR_CPU_SET Banned;
    IrCpuSetFill(&Banned, 4);
    Case.Cpus.Banned = &Banned;
    AssertRefusedUntouched(IRQ_STATUS_EMPTY_AFFINITY, Scratch);
    Case.Cpus.Banned = NULL;
    /* The same input, repaired, plans. */
    assert_int_equal(RunPlan(), IRQ_STATUS_SUCCESS);
}

TB_TEST_MAIN(cmocka_unit_test(test_mixed_loads_reach_the_bound), cmocka_unit_test(test_random_loads_reach_the_bound),
             cmocka_unit_test(test_single_huge_interrupt_one_move),
        cmocka_unit_test(test_single_huge_interrupt_alone_rest_spread),
             cmocka_unit_test(test_swap_when_no_move_helps), cmocka_unit_test(test_affinity_respected),
             cmocka_unit_test(test_banned_and_offline_cpus_emptied),
             cmocka_unit_test(test_no_eligible_cpu_in_affinity_is_stranded),
             cmocka_unit_test(test_pinned_interrupts_stay), cmocka_unit_test(test_no_free_vector_in_class_not_chosen),
             cmocka_unit_test(test_same_input_twice_second_round_no_move),
             cmocka_unit_test(test_minimum_gain_refuses_small_moves), cmocka_unit_test(test_cap_respected),
             cmocka_unit_test(test_ties_to_the_lowest_cpu), cmocka_unit_test(test_bad_input_refused_outputs_untouched))
