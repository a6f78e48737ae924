/* SPDX-License-Identifier: MIT */
/*
 * A Vic CPU going offline (vic.h, VicSetCpuOnline): its pending device
 * interrupts move to where their routes send them now, each claimed exactly
 * once on the other CPUs; a BROADCAST copy merges into another online CPU's
 * pending copy or moves to the next online CPU of the broadcast; the CPU's
 * own state (software interrupts, the IPI and its messages, clock,
 * performance counters, power fail, machine check, ASTs) stays on it; an
 * interrupt whose route has no online CPU stays until a CPU comes online.
 * A raise that decided before the call and lands after it moves itself; the
 * same race with threads: test_conc_vic_offline.c.
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
#define DEVICES (4u * VIC_ALPHA_DEVICES_PER_LEVEL)

static void SetRoute(VIC *Vic, uint32_t Source, IR_ROUTING_POLICY Policy, uint32_t Target, uint64_t MaskBits)
{
    IR_CPU_SET Mask = TbCpuSetOf(MaskBits);
    IR_ROUTE_CONFIG Config = {.Policy = Policy, .TargetCpu = Target, .Mask = MaskBits != 0 ? &Mask : NULL};
    assert_int_equal(VicSetRoute(Vic, Source, &Config), IRQ_STATUS_SUCCESS);
}

static uint32_t Device(uint32_t Index)
{
    return VIC_ALPHA_DEVICE(20u + Index / VIC_ALPHA_DEVICES_PER_LEVEL, Index % VIC_ALPHA_DEVICES_PER_LEVEL);
}

/* Claims everything deliverable on Cpu (claim and end of interrupt), adding
 * one to Claims[source] for each. */
static uint32_t DrainCpu(VIC *Vic, uint32_t Cpu, uint32_t Claims[VIC_ALPHA_SOURCE_COUNT])
{
    uint32_t Count = 0;
    VIC_CLAIM Claim;
    while (VicClaim(Vic, Cpu, &Claim) == IRQ_STATUS_SUCCESS) {
        assert_true(Claim.Source < VIC_ALPHA_SOURCE_COUNT);
        Claims[Claim.Source]++;
        Count++;
        assert_int_equal(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
    }
    TbVicAssertNothingToClaim(Vic, Cpu);
    return Count;
}

/* A FIXED_CPU route to the CPU going offline goes on to the next online CPU
 * of its mask; the default route (FIXED_CPU 0) takes what was raised on the
 * CPU directly. Direct sources and pending-word sources alike. */
static void test_offline_moves_device_interrupts_where_routes_go(void **State)
{
    VIC *Vic = *State;
    const uint32_t Direct = VIC_ALPHA_DEVICE(20, 0), InWord = VIC_ALPHA_DEVICE(21, 7);
    const uint32_t Fixed = VIC_ALPHA_DEVICE(22, 9), Default = VIC_ALPHA_DEVICE(23, 0);
    SetRoute(Vic, Fixed, IrRoutingFixedCpu, 2, 0xCu); /* CPU 2, else CPU 3 */
    assert_int_equal(VicRaise(Vic, Fixed), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, Direct, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, InWord, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, Default, 2), IRQ_STATUS_SUCCESS);
    VIC_COUNTERS Before = TbVicCounters(Vic, VIC_ALL_CPUS);

    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Fixed, CPUS), 1u << 3);
    assert_int_equal(TbVicPendingOn(Vic, Direct, CPUS), 1u << 0);
    assert_int_equal(TbVicPendingOn(Vic, InWord, CPUS), 1u << 0);
    assert_int_equal(TbVicPendingOn(Vic, Default, CPUS), 1u << 0);
    assert_false(VicIsDeliverable(Vic, 2));
    assert_int_equal(TbVicCounters(Vic, 2).Migrated, 4);
    assert_int_equal(TbVicCounters(Vic, 2).Pending, 0);
    VIC_COUNTERS After = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(After.Raised, Before.Raised + 4); /* raised again where they went */
    assert_int_equal(After.Pending, Before.Pending);
    assert_int_equal(After.Cleared, 0);
    TbVicAssertConserved(Vic);

    uint32_t Claims[VIC_ALPHA_SOURCE_COUNT] = {0};
    assert_int_equal(DrainCpu(Vic, 0, Claims), 3);
    assert_int_equal(DrainCpu(Vic, 3, Claims), 1);
    assert_int_equal(DrainCpu(Vic, 2, Claims), 0);
    assert_int_equal(Claims[Fixed] + Claims[Direct] + Claims[InWord] + Claims[Default], 4);
    assert_int_equal(Claims[Fixed] * Claims[Direct] * Claims[InWord] * Claims[Default], 1);
    TbVicAssertConserved(Vic);

    /* Back online, the CPU keeps what is raised on it again. */
    assert_int_equal(VicSetCpuOnline(Vic, 2, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, Direct, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, InWord, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Direct, CPUS) | TbVicPendingOn(Vic, InWord, CPUS), 1u << 2);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, InWord);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, Direct);
    TbVicAssertConserved(Vic);
}

/* Every device source pending on a CPU, under every policy but broadcast:
 * after the CPU goes offline each one is claimed exactly once, on the
 * others. */
static void test_every_device_claimed_once_elsewhere(void **State)
{
    VIC *Vic = *State;
    static const IR_ROUTING_POLICY Policies[] = {IrRoutingFixedCpu, IrRoutingRoundRobin, IrRoutingLowestPriority,
                                                 IrRoutingAffinity};
    for (uint32_t Index = 0; Index < DEVICES; Index++) {
        IR_ROUTING_POLICY Policy = Policies[Index % 4u];
        SetRoute(Vic, Device(Index), Policy, 1, Index % 8u < 4u ? 0 : 0xBu);
        assert_int_equal(VicRaiseOnCpu(Vic, Device(Index), 1), IRQ_STATUS_SUCCESS);
    }
    assert_int_equal(VicSetCpuOnline(Vic, 1, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicCounters(Vic, 1).Migrated, DEVICES);
    uint32_t Claims[VIC_ALPHA_SOURCE_COUNT] = {0};
    uint32_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        Total += DrainCpu(Vic, Cpu, Claims);
    assert_int_equal(Total, DEVICES);
    for (uint32_t Index = 0; Index < DEVICES; Index++)
        assert_int_equal(Claims[Device(Index)], 1);
    assert_int_equal(TbVicCounters(Vic, 1).Claimed, 0);
    VIC_COUNTERS All = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(All.Pending, 0);
    assert_int_equal(All.Claimed, DEVICES);
    TbVicAssertConserved(Vic);
}

/* The CPU's own state stays: software interrupt, IPI with its message,
 * clock, performance counter, power fail, machine check and an AST, all
 * delivered on the CPU once it is back. */
static void test_cpu_own_state_stays(void **State)
{
    VIC *Vic = *State;
    static const uint32_t Own[] = {VIC_ALPHA_CLOCK, VIC_ALPHA_PERFORMANCE0, VIC_ALPHA_POWER_FAIL,
                                   VIC_ALPHA_MACHINE_CHECK};
    assert_int_equal(VicWriteSoftwareRequest(Vic, 2, 4), IRQ_STATUS_SUCCESS);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = 2};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiTlbShootdown), IRQ_STATUS_SUCCESS);
    for (uint32_t Index = 0; Index < sizeof(Own) / sizeof(Own[0]); Index++)
        assert_int_equal(VicRaiseOnCpu(Vic, Own[Index], 2), IRQ_STATUS_SUCCESS);
    TbVicSetAsts(Vic, 2, VicModeKernel, 0x1u, 0x1u);
    VIC_COUNTERS Before = TbVicCounters(Vic, 2);

    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    VIC_COUNTERS After = TbVicCounters(Vic, 2);
    assert_memory_equal(&After, &Before, sizeof(After));
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++) {
        if (Cpu != 2)
            TbVicAssertNothingToClaim(Vic, Cpu);
    }
    assert_int_equal(VicSetCpuOnline(Vic, 2, true), IRQ_STATUS_SUCCESS);
    /* Highest level first: machine check 31, power fail 30, performance 29,
     * the IPI (22, above the clock's slot), the clock, software 4, the AST. */
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, VIC_ALPHA_MACHINE_CHECK);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, VIC_ALPHA_POWER_FAIL);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, VIC_ALPHA_PERFORMANCE0);
    VIC_CLAIM Claim = TbVicClaimAndEnd(Vic, 2);
    VIC_CLAIM Next = TbVicClaimAndEnd(Vic, 2);
    VIC_CLAIM Ipi = Claim.Source == VIC_ALPHA_IPI ? Claim : Next;
    assert_int_equal(Claim.Source + Next.Source, VIC_ALPHA_IPI + VIC_ALPHA_CLOCK);
    assert_int_equal(Ipi.IpiMessages, 1u << VicIpiTlbShootdown);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, VIC_ALPHA_SOFTWARE(4));
    VIC_CLAIM Ast = TbVicClaimAndEnd(Vic, 2);
    TbVicAssertAstClaim(&Ast, VicModeKernel);
    TbVicAssertNothingToClaim(Vic, 2);
    TbVicAssertConserved(Vic);
}

/* A BROADCAST copy on the CPU going offline merges into another online
 * CPU's pending copy (counted as a merge there); when no other CPU holds
 * one, it moves to the next online CPU of the broadcast after it. */
static void test_broadcast_copy_merges_or_moves_on(void **State)
{
    VIC *Vic = *State;
    const uint32_t Source = VIC_ALPHA_DEVICE(21, 4);
    SetRoute(Vic, Source, IrRoutingBroadcast, 0, 0xFu);
    assert_int_equal(VicRaise(Vic, Source), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 0xFu);
    /* CPUs 0 and 2 claim theirs; CPU 3's copy is still pending. */
    assert_int_equal(TbVicClaimAndEnd(Vic, 0).Source, Source);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, Source);
    uint64_t Merged3 = TbVicCounters(Vic, 3).Merged;
    assert_int_equal(VicSetCpuOnline(Vic, 1, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 1u << 3);
    assert_int_equal(TbVicCounters(Vic, 3).Merged, Merged3 + 1);
    assert_int_equal(TbVicCounters(Vic, 1).Migrated, 1);
    assert_int_equal(TbVicClaimAndEnd(Vic, 3).Source, Source);
    TbVicAssertConserved(Vic);

    /* Now every online copy is claimed: CPU 3's goes on, to CPU 0 (after 3,
     * cyclic; 1 is offline). */
    assert_int_equal(VicRaise(Vic, Source), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 0xDu);
    assert_int_equal(TbVicClaimAndEnd(Vic, 0).Source, Source);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, Source);
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 1u << 0);
    assert_int_equal(TbVicClaimAndEnd(Vic, 0).Source, Source);
    TbVicAssertConserved(Vic);
}

/* A route with no online CPU left keeps the interrupt on the offline CPU;
 * the call that brings a CPU of the route online moves it there. */
static void test_stranded_interrupt_moves_when_a_cpu_returns(void **State)
{
    VIC *Vic = *State;
    const uint32_t Source = VIC_ALPHA_DEVICE(22, 5);
    SetRoute(Vic, Source, IrRoutingAffinity, 0, 0x6u); /* CPUs 1 and 2 */
    assert_int_equal(VicRaiseOnCpu(Vic, Source, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 1, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 1u << 1);
    assert_int_equal(TbVicCounters(Vic, 1).Migrated, 0);
    /* A CPU outside the route comes online: nowhere to go yet. */
    assert_int_equal(VicSetCpuOnline(Vic, 3, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 1u << 1);
    assert_int_equal(VicSetCpuOnline(Vic, 2, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 1u << 2);
    assert_int_equal(TbVicCounters(Vic, 1).Migrated, 1);
    assert_int_equal(TbVicClaimAndEnd(Vic, 2).Source, Source);
    TbVicAssertConserved(Vic);
}

/* Moving onto a CPU that already has the source pending merges, as two
 * raises before a claim do: one claim for both. */
static void test_move_onto_pending_merges(void **State)
{
    VIC *Vic = *State;
    const uint32_t Source = VIC_ALPHA_DEVICE(20, 3);
    assert_int_equal(VicRaiseOnCpu(Vic, Source, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, Source, 3), IRQ_STATUS_SUCCESS);
    uint64_t Merged = TbVicCounters(Vic, 0).Merged;
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 1u << 0);
    assert_int_equal(TbVicCounters(Vic, 0).Merged, Merged + 1);
    assert_int_equal(TbVicClaimAndEnd(Vic, 0).Source, Source);
    TbVicAssertNothingToClaim(Vic, 0);
    TbVicAssertConserved(Vic);
}

/* The statuses: out of range changes nothing; a second offline call (or an
 * online CPU brought online) succeeds. */
static void test_online_statuses(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(20, 1), 3), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(NULL, 3, false), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(VicSetCpuOnline(Vic, CPUS, false), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicSetCpuOnline(Vic, VIC_ALL_CPUS, false), IRQ_STATUS_INVALID_CPU);
    assert_true(TbVicIsPending(Vic, VIC_ALPHA_DEVICE(20, 1), 3));
    assert_true(TbVicCpuState(Vic, 3).Online);
    assert_int_equal(VicSetCpuOnline(Vic, 0, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    assert_false(TbVicCpuState(Vic, 3).Online);
    assert_int_equal(TbVicPendingOn(Vic, VIC_ALPHA_DEVICE(20, 1), CPUS), 1u << 0);
    TbVicAssertConserved(Vic);
}

/* A raise that decided before the CPU went offline and lands after the
 * call's sweep moves itself (vicp.h, OFFLINE PROTOCOL). Made deterministic
 * with a BROADCAST: the raise decides on CPUs 0-3 and raises on each in
 * turn; the wake-up routine, called in the raise on CPU 0, takes CPU 1
 * offline, whose sweep finds nothing yet; then the raise lands on CPU 1. */
typedef struct _OFFLINE_IN_WAKE {
    VIC *Vic;
    bool Armed;
} OFFLINE_IN_WAKE;

static void OfflineCpu1InWake(void *Context, uint32_t Cpu)
{
    OFFLINE_IN_WAKE *Wake = Context;
    if (Wake->Armed && Cpu == 0) {
        Wake->Armed = false;
        assert_int_equal(VicSetCpuOnline(Wake->Vic, 1, false), IRQ_STATUS_SUCCESS);
    }
}

static void test_raise_landing_after_sweep_moves_itself(void **State)
{
    (void)State;
    /* A direct source and a pending-word source. */
    static const uint32_t Sources[] = {VIC_ALPHA_DEVICE(21, 0), VIC_ALPHA_DEVICE(21, 6)};
    for (uint32_t Index = 0; Index < 2u; Index++) {
        OFFLINE_IN_WAKE Wake = {.Armed = false};
        VIC *Vic = TbCreateAlphaVicWaking(CPUS, OfflineCpu1InWake, &Wake, true);
        Wake.Vic = Vic;
        uint32_t Source = Sources[Index];
        SetRoute(Vic, Source, IrRoutingBroadcast, 0, 0xFu);
        Wake.Armed = true;
        assert_int_equal(VicRaise(Vic, Source), IRQ_STATUS_SUCCESS);
        assert_false(Wake.Armed);
        assert_false(TbVicCpuState(Vic, 1).Online);
        /* CPU 1's copy merged into CPU 0's (the one online CPU holding it
         * when it moved); CPUs 2 and 3 got theirs after. */
        assert_int_equal(TbVicPendingOn(Vic, Source, CPUS), 0xDu);
        assert_int_equal(TbVicCounters(Vic, 1).Migrated, 1);
        assert_int_equal(TbVicCounters(Vic, 0).Merged, 1);
        TbVicAssertConserved(Vic);
        free(Vic);
    }
}

/* The same late landing for the CPU's own state: an IPI to every CPU,
 * posted to CPU 1 after the wake-up routine (in the post to CPU 0) took it
 * offline, stays on CPU 1 with its message. */
static void test_late_ipi_stays_on_offline_cpu(void **State)
{
    (void)State;
    OFFLINE_IN_WAKE Wake = {.Armed = false};
    VIC *Vic = TbCreateAlphaVicWaking(CPUS, OfflineCpu1InWake, &Wake, true);
    Wake.Vic = Vic;
    Wake.Armed = true;
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetAll};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiHalt), IRQ_STATUS_SUCCESS);
    assert_false(Wake.Armed);
    assert_int_equal(TbVicPendingOn(Vic, VIC_ALPHA_IPI, CPUS), 0xFu);
    assert_int_equal(TbVicCounters(Vic, 1).Migrated, 0);
    assert_int_equal(VicSetCpuOnline(Vic, 1, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbVicClaimAndEnd(Vic, 1).IpiMessages, 1u << VicIpiHalt);
    TbVicAssertConserved(Vic);
    free(Vic);
}

TB_TEST_MAIN(
    TB_VIC_ALPHA4_TEST(test_offline_moves_device_interrupts_where_routes_go),
    TB_VIC_ALPHA4_TEST(test_every_device_claimed_once_elsewhere),
    TB_VIC_ALPHA4_TEST(test_cpu_own_state_stays),
    TB_VIC_ALPHA4_TEST(test_broadcast_copy_merges_or_moves_on),
    TB_VIC_ALPHA4_TEST(test_stranded_interrupt_moves_when_a_cpu_returns),
    TB_VIC_ALPHA4_TEST(test_move_onto_pending_merges),
    TB_VIC_ALPHA4_TEST(test_online_statuses),
    cmocka_unit_test(test_raise_landing_after_sweep_moves_itself),
    cmocka_unit_test(test_late_ipi_stays_on_offline_cpu))
