/* SPDX-License-Identifier: MIT */
/*
 * Every delivery-gating rule of the reference text, one test each:
 * level strictly above the CPU's level, interrupts enabled, no serialised
 * barrier, not in PAL mode; machine checks override all of them (PAL mode
 * included) and the level; IPIs respect the level; software interrupts 1-15
 * (SIRR sets, SISR shows) follow the same rules; ASTs at level 2 gated by
 * ASTEN/ASTSR per mode against the current mode, most privileged first;
 * masked interrupts stay pending and are never lost.
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

#define CPU 1u
#define DEV20 VIC_ALPHA_DEVICE(20, 0)
#define DEV21 VIC_ALPHA_DEVICE(21, 0)
#define DEV23 VIC_ALPHA_DEVICE(23, 0)
#define MCHK VIC_ALPHA_MACHINE_CHECK
#define ALL_MODES 0xFu

static uint32_t ClaimSource(VIC *Vic)
{
    return TbVicClaim(Vic, CPU).Source;
}

static void AssertNothing(VIC *Vic)
{
    TbVicAssertNothingToClaim(Vic, CPU);
}

static bool IsPending(VIC *Vic, uint32_t Source)
{
    return TbVicIsPending(Vic, Source, CPU);
}

/* ---- Level -------------------------------------------------------------------------- */

/* Deliverable only when the source's level is strictly above the CPU's. */
static void test_level_must_be_above_current_level(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetLevel(Vic, CPU, 21, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, CPU), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic); /* equal: masked */
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, CPU), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic); /* below: masked */
    uint32_t Previous;
    assert_int_equal(VicSetLevel(Vic, CPU, 20, &Previous), IRQ_STATUS_SUCCESS);
    assert_int_equal(Previous, 21);
    assert_true(VicIsDeliverable(Vic, CPU));
    assert_int_equal(ClaimSource(Vic), DEV21);
    assert_true(IsPending(Vic, DEV20)); /* still masked, still there */
}

/* Higher IPL masks lower-priority interrupts, at every level. */
static void test_every_level_masks_those_at_or_below(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    for (uint32_t Level = 0; Level < 32; Level++) {
        assert_int_equal(VicSetLevel(Vic, CPU, Level, NULL), IRQ_STATUS_SUCCESS);
        if (Level < 23)
            assert_true(VicIsDeliverable(Vic, CPU));
        else
            assert_false(VicIsDeliverable(Vic, CPU));
    }
}

/* ---- Gates ----------------------------------------------------------------------------- */

static void test_interrupts_disabled_holds_off(void **State)
{
    VIC *Vic = *State;
    bool Previous;
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, false, &Previous), IRQ_STATUS_SUCCESS);
    assert_true(Previous);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_true(IsPending(Vic, DEV23));
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, true, &Previous), IRQ_STATUS_SUCCESS);
    assert_false(Previous);
    assert_int_equal(ClaimSource(Vic), DEV23);
}

static void test_serialized_barrier_holds_off(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetBarrier(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    VIC_CPU_STATE CpuState;
    assert_int_equal(VicQueryCpuState(Vic, CPU, &CpuState), IRQ_STATUS_SUCCESS);
    assert_true(CpuState.InBarrier);
    assert_int_equal(VicSetBarrier(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(ClaimSource(Vic), DEV23);
}

static void test_pal_mode_holds_off(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_POWER_FAIL, CPU), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(ClaimSource(Vic), VIC_ALPHA_POWER_FAIL);
}

/* Each gate on its own is enough; all must be open. */
static void test_gates_combine(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, CPU), IRQ_STATUS_SUCCESS);
    for (uint32_t Gates = 0; Gates < 8; Gates++) {
        assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, (Gates & 1u) == 0, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetBarrier(Vic, CPU, (Gates & 2u) != 0), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetPalMode(Vic, CPU, (Gates & 4u) != 0), IRQ_STATUS_SUCCESS);
        if (Gates == 0)
            assert_true(VicIsDeliverable(Vic, CPU));
        else
            assert_false(VicIsDeliverable(Vic, CPU));
    }
}

/* ---- Machine checks ------------------------------------------------------------------------ */

static void test_machine_check_overrides_pal_mode(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, MCHK, CPU), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, CPU));
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, CPU, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, MCHK);
    assert_int_equal(Claim.Kind, VicSourceMachineCheck);
    AssertNothing(Vic); /* the device still waits for PAL mode to end */
}

static void test_machine_check_overrides_every_gate_and_level(void **State)
{
    TbVicAssertMachineCheckOverridesGates(*State, CPU, false);
}

/* ---- IPIs respect the level --------------------------------------------------------------- */

static void test_ipi_respects_level(void **State)
{
    TbVicAssertIpiWaitsForLevel(*State, CPU, 1u << VicIpiReschedule, false);
}

/* ---- Software interrupts (SIRR / SISR) ------------------------------------------------------ */

static uint32_t Sisr(VIC *Vic)
{
    uint32_t Summary = 0xDEAD;
    assert_int_equal(VicReadSoftwareSummary(Vic, CPU, &Summary), IRQ_STATUS_SUCCESS);
    return Summary;
}

static void test_sirr_sets_sisr(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(Sisr(Vic), 0);
    assert_int_equal(VicSetLevel(Vic, CPU, 31, NULL), IRQ_STATUS_SUCCESS); /* nothing delivered meanwhile */
    for (uint32_t Level = 1; Level <= 15; Level++) {
        assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, Level), IRQ_STATUS_SUCCESS);
        assert_int_equal(Sisr(Vic), ((1u << (Level + 1u)) - 1u) & ~1u);
    }
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, 16), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, 0), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 2, 5), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Sisr(Vic), 0xFFFEu);
}

/* A software interrupt at level n is masked by IPL >= n, like any other. */
static void test_software_interrupts_follow_level(void **State)
{
    TbVicAssertSoftwareFollowsLevel(*State, CPU, false);
}

static void test_software_interrupts_gated_like_devices(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, false, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, 4), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, true, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(ClaimSource(Vic), VIC_ALPHA_SOFTWARE(4));
}

/* ---- ASTs ------------------------------------------------------------------------------------- */

/* Every mode M x every current mode x ASTSR<M> x ASTEN<M>: eligible exactly
 * when both bits are set and the current mode is M or less privileged. */
static void test_ast_each_mode_and_enable_combination(void **State)
{
    VIC *Vic = *State;
    for (uint32_t Case = 0; Case < TB_VIC_AST_CASES; Case++) {
        uint32_t AstMode;
        bool Eligible = TbVicSetAstCase(Vic, CPU, Case, &AstMode);
        assert_int_equal(VicIsDeliverable(Vic, CPU), Eligible);
        if (!Eligible) {
            AssertNothing(Vic);
            continue;
        }
        VIC_CLAIM Claim = TbVicClaimAndEnd(Vic, CPU);
        TbVicAssertAstClaim(&Claim, AstMode);
        assert_int_equal(TbVicCpuState(Vic, CPU).AstSummary, 0); /* initiating the AST cleared ASTSR<M> */
    }
}

/* Gated at level 2: IPL 2 or above holds ASTs off, IPL 1 lets them in. */
static void test_ast_gated_at_level_two(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, ALL_MODES, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetLevel(Vic, CPU, 2, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, CPU, ALL_MODES, 1u << VicModeKernel, NULL), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetLevel(Vic, CPU, 1, NULL), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, CPU));
    assert_int_equal(VicSetLevel(Vic, CPU, 5, NULL), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, CPU));
    assert_int_equal(VicSetLevel(Vic, CPU, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(ClaimSource(Vic), VIC_SOURCE_AST);
}

static void test_ast_respects_gates(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, ALL_MODES, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, ALL_MODES, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, false, NULL), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, true, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetBarrier(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetBarrier(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, CPU));
}

/* All four requested and enabled, in user mode: kernel, executive,
 * supervisor, user, in that order; the in-service AST level holds the next
 * one off until it ends. */
static void test_ast_most_privileged_first(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetMode(Vic, CPU, VicModeUser), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, ALL_MODES, NULL), IRQ_STATUS_SUCCESS);
    uint32_t Previous;
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, ALL_MODES, &Previous), IRQ_STATUS_SUCCESS);
    assert_int_equal(Previous, 0);
    for (uint32_t Mode = 0; Mode < 4; Mode++) {
        VIC_CLAIM Claim;
        assert_int_equal(VicClaim(Vic, CPU, &Claim), IRQ_STATUS_SUCCESS);
        assert_int_equal(Claim.AstMode, Mode);
        AssertNothing(Vic);
        assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    }
    AssertNothing(Vic);
    VIC_COUNTERS Count = TbVicCounters(Vic, CPU);
    assert_int_equal(Count.Raised, 4);
    assert_int_equal(Count.Claimed, 4);
}

/* In executive mode only kernel and executive ASTs are eligible; user and
 * supervisor wait for the mode to drop to theirs. */
static void test_ast_waits_for_its_mode(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetMode(Vic, CPU, VicModeExecutive), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, ALL_MODES, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, 1u << VicModeUser | 1u << VicModeSupervisor, NULL),
                     IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetMode(Vic, CPU, VicModeSupervisor), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, CPU, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.AstMode, VicModeSupervisor);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetMode(Vic, CPU, VicModeUser), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicClaim(Vic, CPU, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.AstMode, VicModeUser);
}

/* Disabling ASTEN<M> holds the request; it stays in ASTSR (never lost). */
static void test_ast_disabled_stays_requested(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, 1u << VicModeKernel, NULL), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    VIC_CPU_STATE CpuState;
    assert_int_equal(VicQueryCpuState(Vic, CPU, &CpuState), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState.AstSummary, 1u << VicModeKernel);
    assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, 1u << VicModeKernel, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(ClaimSource(Vic), VIC_SOURCE_AST);
    /* ASTSR keep-mask clears a request: counted as cleared. */
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, 1u << VicModeUser, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, 0, NULL), IRQ_STATUS_SUCCESS);
    VIC_COUNTERS Count = TbVicCounters(Vic, CPU);
    assert_int_equal(Count.Raised, 2);
    assert_int_equal(Count.Claimed, 1);
    assert_int_equal(Count.Cleared, 1);
    assert_int_equal(Count.Pending, 0);
}

/* At level 2 the software interrupt goes before the AST; anything higher too. */
static void test_ast_after_sources_at_or_above_its_level(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, ALL_MODES, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, 1u, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, 3), IRQ_STATUS_SUCCESS);
    static const uint32_t Order[] = {VIC_ALPHA_SOFTWARE(3), VIC_ALPHA_SOFTWARE(2), VIC_SOURCE_AST,
                                     VIC_ALPHA_SOFTWARE(1)};
    for (int Index = 0; Index < 4; Index++) {
        assert_int_equal(ClaimSource(Vic), Order[Index]);
        assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    }
    AssertNothing(Vic);
}

/* ---- Never lost ---------------------------------------------------------------------------- */

/* Pending interrupts at every level, masked by everything in turn, all
 * arrive once everything opens, highest first. */
static void test_masked_interrupts_never_lost(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetLevel(Vic, CPU, 31, NULL), IRQ_STATUS_SUCCESS);
    static const uint32_t Sources[] = {VIC_ALPHA_SOFTWARE(7), DEV20, DEV21, VIC_ALPHA_CLOCK,
                                       DEV23, VIC_ALPHA_PERFORMANCE0, VIC_ALPHA_POWER_FAIL};
    for (int Index = 0; Index < 7; Index++)
        assert_int_equal(VicRaiseOnCpu(Vic, Sources[Index], CPU), IRQ_STATUS_SUCCESS);
    /* Close and open every gate in turn; nothing may go missing meanwhile. */
    for (uint32_t Round = 0; Round < 3; Round++) {
        assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, Round != 0, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetPalMode(Vic, CPU, Round == 1), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetBarrier(Vic, CPU, Round == 2), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetLevel(Vic, CPU, 25u + Round, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetBarrier(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    }
    assert_int_equal(VicSetLevel(Vic, CPU, 31, NULL), IRQ_STATUS_SUCCESS);
    AssertNothing(Vic);
    assert_int_equal(VicSetLevel(Vic, CPU, 0, NULL), IRQ_STATUS_SUCCESS);
    /* The sources were raised in ascending level order: they come back reversed. */
    for (int Index = 6; Index >= 0; Index--) {
        assert_int_equal(ClaimSource(Vic), Sources[Index]);
        assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    }
    AssertNothing(Vic);
    VIC_COUNTERS Count = TbVicCounters(Vic, CPU);
    assert_int_equal(Count.Raised, 7);
    assert_int_equal(Count.Claimed, 7);
}

TB_TEST_MAIN(
    TB_VIC_ALPHA2_TEST(test_level_must_be_above_current_level),
    TB_VIC_ALPHA2_TEST(test_every_level_masks_those_at_or_below),
    TB_VIC_ALPHA2_TEST(test_interrupts_disabled_holds_off),
    TB_VIC_ALPHA2_TEST(test_serialized_barrier_holds_off),
    TB_VIC_ALPHA2_TEST(test_pal_mode_holds_off),
    TB_VIC_ALPHA2_TEST(test_gates_combine),
    TB_VIC_ALPHA2_TEST(test_machine_check_overrides_pal_mode),
    TB_VIC_ALPHA2_TEST(test_machine_check_overrides_every_gate_and_level),
    TB_VIC_ALPHA2_TEST(test_ipi_respects_level),
    TB_VIC_ALPHA2_TEST(test_sirr_sets_sisr),
    TB_VIC_ALPHA2_TEST(test_software_interrupts_follow_level),
    TB_VIC_ALPHA2_TEST(test_software_interrupts_gated_like_devices),
    TB_VIC_ALPHA2_TEST(test_ast_each_mode_and_enable_combination),
    TB_VIC_ALPHA2_TEST(test_ast_gated_at_level_two),
    TB_VIC_ALPHA2_TEST(test_ast_respects_gates),
    TB_VIC_ALPHA2_TEST(test_ast_most_privileged_first),
    TB_VIC_ALPHA2_TEST(test_ast_waits_for_its_mode),
    TB_VIC_ALPHA2_TEST(test_ast_disabled_stays_requested),
    TB_VIC_ALPHA2_TEST(test_ast_after_sources_at_or_above_its_level),
    TB_VIC_ALPHA2_TEST(test_masked_interrupts_never_lost))
