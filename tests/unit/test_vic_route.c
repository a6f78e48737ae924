/* SPDX-License-Identifier: MIT */
/*
 * Routed raises on the Vic: each policy decides per interrupt from the Vic's
 * own per-CPU state (online CPUs, effective levels, queued work); offline
 * CPUs skipped; empty or offline masks refused with the route unchanged;
 * routes changed while the source is live.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <irqroute/vic.h>

#include "testbed.h"
#include "vic_fixture.h"
#include "tb_main.h"

#define CPUS 4u
#define SOURCE VIC_ALPHA_DEVICE(21, 2)

static IRQ_STATUS Route(VIC *Vic, IR_ROUTING_POLICY Policy, uint32_t Target, const IR_CPU_SET *Mask)
{
    IR_ROUTE_CONFIG Config = {.Policy = Policy, .TargetCpu = Target, .Mask = Mask};
    return VicSetRoute(Vic, SOURCE, &Config);
}

/* The CPUs SOURCE is pending on, as a bit mask. */
static uint32_t PendingOn(VIC *Vic)
{
    return TbVicPendingOn(Vic, SOURCE, CPUS);
}

/* Raises once and returns the one CPU it went to, after claiming it there. */
static uint32_t RaiseAndTake(VIC *Vic)
{
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_SUCCESS);
    uint32_t Mask = PendingOn(Vic);
    assert_int_equal(__builtin_popcount(Mask), 1);
    uint32_t Cpu = (uint32_t)__builtin_ctz(Mask);
    assert_int_equal(TbVicClaimAndEnd(Vic, Cpu).Source, SOURCE);
    return Cpu;
}

/* Each CPU's current level (VicSetLevel) from a list. */
static void LevelsAre(VIC *Vic, const uint32_t Levels[CPUS])
{
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        assert_int_equal(VicSetLevel(Vic, Cpu, Levels[Cpu], NULL), IRQ_STATUS_SUCCESS);
}

/* A FIXED route does not rotate: three raises in a row are all taken on Cpu. */
static void AssertRaisesStayOn(VIC *Vic, uint32_t Cpu)
{
    for (int Round = 0; Round < 3; Round++)
        assert_int_equal(RaiseAndTake(Vic), Cpu);
}

static void test_default_route_is_cpu_zero(void **State)
{
    VIC *Vic = *State;
    IR_ROUTING_POLICY Policy;
    uint32_t Target;
    assert_int_equal(VicQueryRoute(Vic, SOURCE, &Policy, &Target, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Policy, IrRoutingFixedCpu);
    assert_int_equal(Target, 0);
    AssertRaisesStayOn(Vic, 0);
}

static void test_fixed_route(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(Route(Vic, IrRoutingFixedCpu, 3, NULL), IRQ_STATUS_SUCCESS);
    AssertRaisesStayOn(Vic, 3);
    /* Offline target: the next online CPU (wrapping); back online, the target again. */
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(RaiseAndTake(Vic), 0);
    assert_int_equal(RaiseAndTake(Vic), 0);
    assert_int_equal(VicSetCpuOnline(Vic, 3, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(RaiseAndTake(Vic), 3);
    /* A FIXED route to an offline CPU is refused, and the old one stays. */
    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(Route(Vic, IrRoutingFixedCpu, 2, NULL), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(RaiseAndTake(Vic), 3);
}

static void test_round_robin_exactly_fair(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(Route(Vic, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    uint32_t Counts[CPUS] = {0};
    for (uint32_t K = 1; K <= 50; K++) {
        for (uint32_t Step = 0; Step < CPUS; Step++)
            Counts[RaiseAndTake(Vic)]++;
        for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
            assert_int_equal(Counts[Cpu], K);
    }
}

static void test_round_robin_skips_offline(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(Route(Vic, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 1, false), IRQ_STATUS_SUCCESS);
    uint32_t Counts[CPUS] = {0};
    for (int Step = 0; Step < 30; Step++)
        Counts[RaiseAndTake(Vic)]++;
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        assert_int_equal(Counts[Cpu], Cpu != 1 ? 10 : 0); /* the online CPUs in turn */
}

/* LOWEST reads each CPU's effective level, which VicSetLevel and the levels
 * in service set. */
static void test_lowest_follows_cpu_levels(void **State)
{
    VIC *Vic = *State;
    static const uint32_t Levels[CPUS] = {9, 4, 12, 7};
    LevelsAre(Vic, Levels);
    assert_int_equal(Route(Vic, IrRoutingLowestPriority, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(RaiseAndTake(Vic), 1);
    assert_int_equal(VicSetLevel(Vic, 1, 15, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(RaiseAndTake(Vic), 3);
    /* CPU 3 taking an interrupt at 23 counts as level 23 until it ends it. */
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(23, 0), 3), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 3, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingOn(Vic), 1u << 0); /* 9 is now the lowest */
}

static void test_lowest_ties_rotate(void **State)
{
    VIC *Vic = *State;
    static const uint32_t Levels[CPUS] = {3, 8, 3, 3};
    LevelsAre(Vic, Levels);
    assert_int_equal(Route(Vic, IrRoutingLowestPriority, 0, NULL), IRQ_STATUS_SUCCESS);
    static const uint32_t Expected[] = {0, 2, 3, 0, 2, 3};
    for (size_t Step = 0; Step < 6; Step++)
        assert_int_equal(RaiseAndTake(Vic), Expected[Step]);
}

static void test_broadcast_raises_on_every_cpu_of_mask(void **State)
{
    VIC *Vic = *State;
    IR_CPU_SET Mask = TbCpuSetOf(0xDu); /* 0, 2, 3 */
    assert_int_equal(Route(Vic, IrRoutingBroadcast, 0, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingOn(Vic), 0xDu);
    VIC_COUNTERS Count = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(Count.Raised, 3);
    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        (void)VicClear(Vic, SOURCE, Cpu);
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingOn(Vic), 0x9u); /* offline CPU 2 skipped */
}

/* AFFINITY: the CPU with the least queued interrupt work. */
static void test_affinity_least_loaded(void **State)
{
    VIC *Vic = *State;
    /* Load: CPU 0 two pending levels, CPU 1 one, CPU 2 one, CPU 3 one in service. */
    assert_int_equal(VicSetLevel(Vic, 0, 31, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(20, 0), 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(23, 0), 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetLevel(Vic, 1, 31, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(20, 0), 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(23, 0), 3), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 3, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Route(Vic, IrRoutingAffinity, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingOn(Vic), 1u << 2); /* the only idle CPU */
    /* CPU 2 now has one pending level: 1, 2 and 3 tie at 1, and CPU 2, the
     * last choice, keeps it (the raise merges into its pending one). */
    assert_int_equal(VicSetLevel(Vic, 2, 31, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingOn(Vic), 1u << 2);
    VIC_COUNTERS Count = TbVicCounters(Vic, 2);
    assert_int_equal(Count.Merged, 1);
    /* CPU 1 drained: strictly less loaded, it wins. */
    assert_int_equal(VicClear(Vic, VIC_ALPHA_DEVICE(20, 0), 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingOn(Vic), 1u << 1 | 1u << 2);
}

static void test_refused_routes_leave_route_unchanged(void **State)
{
    VIC *Vic = *State;
    IR_CPU_SET Mask = TbCpuSetOf(0x6u);
    assert_int_equal(Route(Vic, IrRoutingRoundRobin, 0, &Mask), IRQ_STATUS_SUCCESS);
    IR_CPU_SET Empty = TbCpuSetOf(0);
    assert_int_equal(Route(Vic, IrRoutingAffinity, 0, &Empty), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    IR_CPU_SET OfflineOnly = TbCpuSetOf(0x8u);
    assert_int_equal(Route(Vic, IrRoutingBroadcast, 0, &OfflineOnly), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(Route(Vic, IrRoutingFixedCpu, 3, NULL), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Route(Vic, IrRoutingFixedCpu, CPUS, NULL), IRQ_STATUS_INVALID_CPU);
    IR_CPU_SET TooBig = TbCpuSetOf(0x12u);
    assert_int_equal(Route(Vic, IrRoutingRoundRobin, 0, &TooBig), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Route(Vic, IrRoutingPolicyCount, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    IR_ROUTE_CONFIG Config = {.Policy = IrRoutingFixedCpu};
    assert_int_equal(VicSetRoute(Vic, 0, &Config), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(VicSetRoute(Vic, VIC_ALPHA_SOURCE_COUNT, &Config), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(VicSetRoute(Vic, SOURCE, NULL), IRQ_STATUS_INVALID_PARAMETER);

    IR_ROUTING_POLICY Policy;
    IR_CPU_SET Now;
    assert_int_equal(VicQueryRoute(Vic, SOURCE, &Policy, NULL, &Now), IRQ_STATUS_SUCCESS);
    assert_int_equal(Policy, IrRoutingRoundRobin);
    assert_true(IrCpuSetEqual(&Now, &Mask));
    assert_int_equal(RaiseAndTake(Vic), 1);
    assert_int_equal(RaiseAndTake(Vic), 2);
}

/* Every CPU of the route gone offline: the raise is refused, nothing pends. */
static void test_raise_with_route_all_offline_refused(void **State)
{
    VIC *Vic = *State;
    IR_CPU_SET Mask = TbCpuSetOf(0x6u);
    assert_int_equal(Route(Vic, IrRoutingAffinity, 0, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 1, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaise(Vic, SOURCE), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(PendingOn(Vic), 0);
    VIC_COUNTERS Count = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(Count.Raised + Count.Merged, 0);
}

/* A live change of policy and target: the next raise follows it. */
static void test_route_changes_while_live(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(RaiseAndTake(Vic), 0);
    assert_int_equal(Route(Vic, IrRoutingFixedCpu, 2, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(RaiseAndTake(Vic), 2);
    assert_int_equal(Route(Vic, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(RaiseAndTake(Vic), 0);
    assert_int_equal(RaiseAndTake(Vic), 1);
    /* Another source's route is its own. */
    assert_int_equal(VicRaise(Vic, VIC_ALPHA_DEVICE(21, 3)), IRQ_STATUS_SUCCESS);
    bool Pending;
    assert_int_equal(VicIsPending(Vic, VIC_ALPHA_DEVICE(21, 3), 0, &Pending), IRQ_STATUS_SUCCESS);
    assert_true(Pending);
}

TB_TEST_MAIN(
    TB_VIC_ALPHA4_TEST(test_default_route_is_cpu_zero),
    TB_VIC_ALPHA4_TEST(test_fixed_route),
    TB_VIC_ALPHA4_TEST(test_round_robin_exactly_fair),
    TB_VIC_ALPHA4_TEST(test_round_robin_skips_offline),
    TB_VIC_ALPHA4_TEST(test_lowest_follows_cpu_levels),
    TB_VIC_ALPHA4_TEST(test_lowest_ties_rotate),
    TB_VIC_ALPHA4_TEST(test_broadcast_raises_on_every_cpu_of_mask),
    TB_VIC_ALPHA4_TEST(test_affinity_least_loaded),
    TB_VIC_ALPHA4_TEST(test_refused_routes_leave_route_unchanged),
    TB_VIC_ALPHA4_TEST(test_raise_with_route_all_offline_refused),
    TB_VIC_ALPHA4_TEST(test_route_changes_while_live))
