/* SPDX-License-Identifier: MIT */
/*
 * VicTakeInterrupt: the claim that puts nothing in service (the Alpha way:
 * PALcode raises the IPL itself). It must choose exactly what VicClaim
 * chooses under every gating rule (level, interrupts enabled, serialised
 * barrier, PAL mode, machine checks overriding all of them, IPIs, software
 * interrupts, ASTs per mode), clear what it takes, count it as claimed, leave
 * the in-service mask alone, and refuse bad input without changing anything.
 * The last test drives two Vics with the same random script, one taking,
 * one claiming and ending at once, and requires the same answers throughout,
 * each of them the one the reference model (tests/support/vic_model.h)
 * names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqroute/vic.h>

#include "testbed.h"
#include "vic_fixture.h"
#include "vic_model.h"
#include "tb_main.h"

#define CPU 1u
#define DEV20 VIC_ALPHA_DEVICE(20, 0)
#define DEV21 VIC_ALPHA_DEVICE(21, 0)
#define DEV21B VIC_ALPHA_DEVICE(21, 9)
#define DEV23 VIC_ALPHA_DEVICE(23, 0)
#define MCHK VIC_ALPHA_MACHINE_CHECK
#define ALL_MODES 0xFu

static VIC_CLAIM Take(VIC *Vic)
{
    return TbVicTake(Vic, CPU);
}

static uint32_t TakeSource(VIC *Vic)
{
    return Take(Vic).Source;
}

static void AssertNothingToTake(VIC *Vic)
{
    TbVicAssertNothingToTake(Vic, CPU);
}

static bool IsPending(VIC *Vic, uint32_t Source)
{
    return TbVicIsPending(Vic, Source, CPU);
}

static VIC_CPU_STATE CpuState(VIC *Vic)
{
    return TbVicCpuState(Vic, CPU);
}

static VIC_COUNTERS Counters(VIC *Vic)
{
    return TbVicCounters(Vic, CPU);
}

/* ---- What a take does ------------------------------------------------------------------ */

static void test_take_clears_counts_and_puts_nothing_in_service(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, CPU), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, CPU));
    VIC_CLAIM Claim = Take(Vic);
    assert_int_equal(Claim.Source, DEV21);
    assert_int_equal(Claim.Level, 21);
    assert_int_equal(Claim.Kind, VicSourceDevice);
    assert_int_equal(Claim.AstMode, 0);
    assert_int_equal(Claim.IpiMessages, 0);
    assert_false(IsPending(Vic, DEV21));
    assert_false(VicIsDeliverable(Vic, CPU)); /* the check word followed the emptied level */
    VIC_CPU_STATE Cpu = CpuState(Vic);
    assert_int_equal(Cpu.InService, 0);
    assert_int_equal(Cpu.Level, 0);
    assert_int_equal(Cpu.EffectiveLevel, 0);
    /* Nothing to end. */
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_INVALID_STATE);
    VIC_COUNTERS Count = Counters(Vic);
    assert_int_equal(Count.Raised, 1);
    assert_int_equal(Count.Claimed, 1);
    assert_int_equal(Count.Pending, 0);
    TbVicAssertConserved(Vic);
}

/* Highest level first, then the highest slot; without an in-service level,
 * what is left stays deliverable, the taken level included. */
static void test_take_order_and_nothing_masked_after(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21B, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeSource(Vic), DEV23);
    assert_true(VicIsDeliverable(Vic, CPU));
    assert_int_equal(TakeSource(Vic), DEV21B);
    assert_true(VicIsDeliverable(Vic, CPU)); /* DEV21, same level: no in-service mask holds it */
    assert_int_equal(TakeSource(Vic), DEV21);
    assert_int_equal(TakeSource(Vic), DEV20);
    AssertNothingToTake(Vic);
    assert_int_equal(Counters(Vic).Claimed, 4);
    TbVicAssertConserved(Vic);
}

/* The Alpha sequence: take, raise the IPL to the interrupt's level, lower it at REI. */
static void test_take_then_set_level_masks_like_palcode(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, CPU), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim = Take(Vic);
    uint32_t Previous;
    assert_int_equal(VicSetLevel(Vic, CPU, Claim.Level, &Previous), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21B, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, CPU), IRQ_STATUS_SUCCESS);
    AssertNothingToTake(Vic);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeSource(Vic), DEV23); /* a higher level nests */
    assert_int_equal(VicSetLevel(Vic, CPU, Previous, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeSource(Vic), DEV21B);
    assert_int_equal(TakeSource(Vic), DEV20);
    AssertNothingToTake(Vic);
}

/* A level another interrupt holds in service (VicClaim) masks takes too. */
static void test_take_respects_levels_in_service(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, CPU, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, CPU), IRQ_STATUS_SUCCESS);
    AssertNothingToTake(Vic);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeSource(Vic), DEV21);
    assert_int_equal(CpuState(Vic).InService, 0);
}

/* ---- Gating rules ----------------------------------------------------------------------- */

static void test_take_level_must_be_above_current_level(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetLevel(Vic, CPU, 21, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, CPU), IRQ_STATUS_SUCCESS);
    AssertNothingToTake(Vic);
    assert_true(IsPending(Vic, DEV21));
    assert_int_equal(VicSetLevel(Vic, CPU, 20, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeSource(Vic), DEV21);
    AssertNothingToTake(Vic); /* DEV20 is at the level: still masked, still there */
    assert_true(IsPending(Vic, DEV20));
}

/* Each gate alone holds everything but machine checks off; the interrupt
 * waits, pending, and is taken once the gate opens. */
static void test_take_each_gate_holds_off(void **State)
{
    VIC *Vic = *State;
    for (uint32_t Gate = 0; Gate < 3; Gate++) {
        assert_int_equal(VicRaiseOnCpu(Vic, DEV23, CPU), IRQ_STATUS_SUCCESS);
        if (Gate == 0)
            assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, false, NULL), IRQ_STATUS_SUCCESS);
        else if (Gate == 1)
            assert_int_equal(VicSetBarrier(Vic, CPU, true), IRQ_STATUS_SUCCESS);
        else
            assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
        AssertNothingToTake(Vic);
        assert_true(IsPending(Vic, DEV23));
        assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, true, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetBarrier(Vic, CPU, false), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
        assert_int_equal(TakeSource(Vic), DEV23);
    }
}

static void test_take_machine_check_overrides_every_gate_and_level(void **State)
{
    TbVicAssertMachineCheckOverridesGates(*State, CPU, true);
}

/* The IPI source goes the general way: its messages come with it. */
static void test_take_ipi_respects_level_and_brings_messages(void **State)
{
    VIC *Vic = *State;
    uint32_t Messages = (1u << VicIpiReschedule) | (1u << VicIpiTlbShootdown);
    VIC_CLAIM Claim = TbVicAssertIpiWaitsForLevel(Vic, CPU, Messages, true);
    assert_int_equal(Claim.Kind, VicSourceIpi);
    assert_int_equal(VicQueryIpiCount(Vic, CPU, VicIpiTlbShootdown), 1);
    AssertNothingToTake(Vic);
}

/* As test_vic_gates.c's test_software_interrupts_follow_level, by takes. */
static void test_take_software_interrupts_follow_level(void **State)
{
    TbVicAssertSoftwareFollowsLevel(*State, CPU, true);
}

/* Eligible exactly when ASTSR<M> and ASTEN<M> are set and the current mode
 * is M or less privileged; a take clears ASTSR<M> and leaves no level in service. */
static void test_take_ast_each_mode_and_enable_combination(void **State)
{
    VIC *Vic = *State;
    for (uint32_t Case = 0; Case < TB_VIC_AST_CASES; Case++) {
        uint32_t AstMode;
        if (!TbVicSetAstCase(Vic, CPU, Case, &AstMode)) {
            AssertNothingToTake(Vic);
            continue;
        }
        VIC_CLAIM Claim = Take(Vic);
        TbVicAssertAstClaim(&Claim, AstMode);
        VIC_CPU_STATE Cpu = CpuState(Vic);
        assert_int_equal(Cpu.AstSummary, 0);
        assert_int_equal(Cpu.InService, 0);
        AssertNothingToTake(Vic);
    }
    TbVicAssertConserved(Vic);
}

/* With no level in service the next eligible mode is there at once:
 * kernel, executive, supervisor, user. IPL 2 holds them all off. */
static void test_take_ast_most_privileged_first_and_gated(void **State)
{
    VIC *Vic = *State;
    TbVicSetAsts(Vic, CPU, VicModeUser, ALL_MODES, ALL_MODES);
    assert_int_equal(VicSetLevel(Vic, CPU, VIC_ALPHA_AST_LEVEL, NULL), IRQ_STATUS_SUCCESS);
    AssertNothingToTake(Vic);
    assert_int_equal(VicSetLevel(Vic, CPU, 1, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    AssertNothingToTake(Vic);
    assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    for (uint32_t Mode = 0; Mode < 4; Mode++) {
        assert_true(VicIsDeliverable(Vic, CPU));
        assert_int_equal(Take(Vic).AstMode, Mode);
    }
    AssertNothingToTake(Vic);
    VIC_COUNTERS Count = Counters(Vic);
    assert_int_equal(Count.Raised, 4);
    assert_int_equal(Count.Claimed, 4);
}

/* At the AST level a pending source goes before an AST. */
static void test_take_source_at_ast_level_goes_first(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, ALL_MODES, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, CPU, 0, 1u << VicModeKernel, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteSoftwareRequest(Vic, CPU, VIC_ALPHA_AST_LEVEL), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeSource(Vic), VIC_ALPHA_SOFTWARE(VIC_ALPHA_AST_LEVEL));
    assert_int_equal(TakeSource(Vic), VIC_SOURCE_AST);
    assert_int_equal(TakeSource(Vic), VIC_ALPHA_SOFTWARE(1));
    AssertNothingToTake(Vic);
}

/* ---- Bad input -------------------------------------------------------------------------- */

static void test_take_bad_input_changes_nothing(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetLevel(Vic, CPU, 21, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, CPU), IRQ_STATUS_SUCCESS); /* masked on CPU */
    VIC_COUNTERS Before = TbVicCounters(Vic, VIC_ALL_CPUS);
    VIC_CLAIM Claim, Untouched;
    memset(&Claim, 0x5A, sizeof(Claim));
    memcpy(&Untouched, &Claim, sizeof(Claim));

    assert_int_equal(VicTakeInterrupt(NULL, 0, &Claim), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(VicTakeInterrupt(Vic, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(VicTakeInterrupt(Vic, 2, &Claim), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicTakeInterrupt(Vic, 0xFFFFFFFFu, &Claim), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicTakeInterrupt(Vic, CPU, &Claim), IRQ_STATUS_NOTHING_PENDING);
    assert_memory_equal(&Claim, &Untouched, sizeof(Claim));

    VIC_COUNTERS After = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_memory_equal(&Before, &After, sizeof(Before));
    assert_true(IsPending(Vic, DEV21));
    bool Pending;
    assert_int_equal(VicIsPending(Vic, DEV21, 0, &Pending), IRQ_STATUS_SUCCESS);
    assert_true(Pending);
    assert_true(VicIsDeliverable(Vic, 0));
    assert_false(VicIsDeliverable(Vic, CPU));
    VIC_CPU_STATE Cpu = CpuState(Vic);
    assert_int_equal(Cpu.Level, 21);
    assert_int_equal(Cpu.InService, 0);
}

/* ---- Take == claim + end of interrupt ------------------------------------------------------ */

/* One random step of the script, applied to a Vic. */
static void ApplyStep(VIC *Vic, uint32_t Choice)
{
    /* Direct and pending-word sources, two of the latter at 21 and at 22. */
    static const uint32_t Sources[] = {DEV20,         DEV21, DEV21B, DEV23, MCHK, VIC_ALPHA_POWER_FAIL, VIC_ALPHA_CLOCK,
                                       VIC_ALPHA_DEVICE(22, 3), VIC_ALPHA_DEVICE(21, 5), VIC_ALPHA_DEVICE(22, 7)};
    const uint32_t SourceCount = sizeof(Sources) / sizeof(Sources[0]);
    uint32_t Cpu = (Choice >> 4) & 1u;
    switch (Choice % 10u) {
    case 0:
    case 1:
    case 2:
        assert_int_equal(VicRaiseOnCpu(Vic, Sources[(Choice >> 8) % SourceCount], Cpu), IRQ_STATUS_SUCCESS);
        break;
    case 3:
        assert_int_equal(VicWriteSoftwareRequest(Vic, Cpu, 1u + (Choice >> 8) % 15u), IRQ_STATUS_SUCCESS);
        break;
    case 4: {
        VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = Cpu};
        assert_int_equal(VicSendIpi(Vic, &Target, (Choice >> 8) % VIC_IPI_MESSAGE_COUNT), IRQ_STATUS_SUCCESS);
        break;
    }
    case 5: {
        static const uint32_t Levels[] = {0, 0, 1, 2, 3, 20, 21, 22, 23, 31};
        assert_int_equal(VicSetLevel(Vic, Cpu, Levels[(Choice >> 8) % 10u], NULL), IRQ_STATUS_SUCCESS);
        break;
    }
    case 6:
        assert_int_equal(VicSetInterruptsEnabled(Vic, Cpu, (Choice >> 8) % 4u != 0, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetPalMode(Vic, Cpu, (Choice >> 10) % 6u == 0), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetBarrier(Vic, Cpu, (Choice >> 13) % 6u == 0), IRQ_STATUS_SUCCESS);
        break;
    case 7:
        assert_int_equal(VicSetMode(Vic, Cpu, (VIC_PROCESSOR_MODE)((Choice >> 8) % 4u)), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicWriteAstEnable(Vic, Cpu, 0, (Choice >> 12) & 0xFu, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicWriteAstSummary(Vic, Cpu, 0xFu, (Choice >> 16) & 0xFu, NULL), IRQ_STATUS_SUCCESS);
        break;
    default: {
        uint32_t Source = Sources[(Choice >> 8) % SourceCount];
        IRQ_STATUS Status = VicClear(Vic, Source, Cpu);
        assert_true(Status == IRQ_STATUS_SUCCESS || Status == IRQ_STATUS_NOT_PENDING);
        break;
    }
    }
}

/* The IPI messages a step sends (ApplyStep's case 4), by CPU. */
static void RecordMessages(uint32_t Choice, uint32_t Sent[2])
{
    if (Choice % 10u == 4u)
        Sent[(Choice >> 4) & 1u] |= 1u << ((Choice >> 8) % VIC_IPI_MESSAGE_COUNT);
}

/* The taker against the reference model (tests/support/vic_model.h): its
 * invariants after every step, and each take what the rules name. */
static void CheckAgainstModel(const VIC *Vic, const VIC_CONFIG *Config)
{
    REF_VIC_SNAPSHOT Snapshot;
    const char *Why = RefVicTakeSnapshot(Vic, Config, &Snapshot);
    if (Why == NULL)
        Why = RefVicCheckInvariants(Vic, Config, &Snapshot);
    if (Why != NULL)
        fail_msg("%s", Why);
}

static REF_VIC_EXPECTED ExpectedTake(const VIC *Vic, const VIC_CONFIG *Config, uint32_t Cpu)
{
    REF_VIC_SNAPSHOT Snapshot;
    const char *Why = RefVicTakeSnapshot(Vic, Config, &Snapshot);
    if (Why != NULL)
        fail_msg("%s", Why);
    return RefVicExpectedClaim(Config, &Snapshot, Cpu);
}

static void test_take_matches_claim_then_end(void **State)
{
    (void)State;
    VIC *Taker = TbCreateAlphaVic(2), *Claimer = TbCreateAlphaVic(2);
    VIC_CONFIG Config;
    VicAlphaConfig(&Config, 2);
    uint32_t Sent[2] = {0, 0};
    uint32_t Seed = 0xC0FFEEu;
    uint64_t Taken = 0;
    for (uint32_t Step = 0; Step < 20000; Step++) {
        uint32_t Choice = TbNextRandom(&Seed);
        ApplyStep(Taker, Choice);
        ApplyStep(Claimer, Choice);
        RecordMessages(Choice, Sent);
        CheckAgainstModel(Taker, &Config);
        for (uint32_t Cpu = 0; Cpu < 2; Cpu++) {
            assert_int_equal(VicIsDeliverable(Taker, Cpu), VicIsDeliverable(Claimer, Cpu));
            if ((TbNextRandom(&Seed) & 1u) == 0)
                continue;
            REF_VIC_EXPECTED Expected = ExpectedTake(Taker, &Config, Cpu);
            VIC_CLAIM Take, Claim;
            IRQ_STATUS TakeStatus = VicTakeInterrupt(Taker, Cpu, &Take);
            IRQ_STATUS ClaimStatus = VicClaim(Claimer, Cpu, &Claim);
            const char *Why = RefVicCheckClaim(&Config, &Expected, TakeStatus, &Take, Sent[Cpu]);
            if (Why != NULL)
                fail_msg("step %u CPU %u: %s", Step, Cpu, Why);
            assert_int_equal(TakeStatus, ClaimStatus);
            if (ClaimStatus != IRQ_STATUS_SUCCESS)
                continue;
            if (Take.Kind == VicSourceIpi)
                Sent[Cpu] = 0;
            assert_int_equal(VicEndOfInterrupt(Claimer, Cpu), IRQ_STATUS_SUCCESS);
            assert_memory_equal(&Take, &Claim, sizeof(Take));
            Taken++;
        }
    }
    for (uint32_t Cpu = 0; Cpu < 2; Cpu++) {
        VIC_COUNTERS A = TbVicCounters(Taker, Cpu), B = TbVicCounters(Claimer, Cpu);
        assert_memory_equal(&A, &B, sizeof(A));
        assert_int_equal(A.Raised, A.Claimed + A.Cleared + A.Migrated + A.Pending);
    }
    assert_true(Taken > 1000);
    free(Taker);
    free(Claimer);
}

TB_TEST_MAIN(
    TB_VIC_ALPHA2_TEST(test_take_clears_counts_and_puts_nothing_in_service),
    TB_VIC_ALPHA2_TEST(test_take_order_and_nothing_masked_after),
    TB_VIC_ALPHA2_TEST(test_take_then_set_level_masks_like_palcode),
    TB_VIC_ALPHA2_TEST(test_take_respects_levels_in_service),
    TB_VIC_ALPHA2_TEST(test_take_level_must_be_above_current_level),
    TB_VIC_ALPHA2_TEST(test_take_each_gate_holds_off),
    TB_VIC_ALPHA2_TEST(test_take_machine_check_overrides_every_gate_and_level),
    TB_VIC_ALPHA2_TEST(test_take_ipi_respects_level_and_brings_messages),
    TB_VIC_ALPHA2_TEST(test_take_software_interrupts_follow_level),
    TB_VIC_ALPHA2_TEST(test_take_ast_each_mode_and_enable_combination),
    TB_VIC_ALPHA2_TEST(test_take_ast_most_privileged_first_and_gated),
    TB_VIC_ALPHA2_TEST(test_take_source_at_ast_level_goes_first),
    TB_VIC_ALPHA2_TEST(test_take_bad_input_changes_nothing),
    cmocka_unit_test(test_take_matches_claim_then_end))
