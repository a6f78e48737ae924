/* SPDX-License-Identifier: MIT */
/*
 * VicEndOfInterrupt after VicClaim: the highest level in service ends, and
 * the CPU's check word and state are what the rules give for what is left.
 * A claim whose level goes above everything in service records the end of
 * interrupt that undoes it (vicp.h: UndoKey), used when nothing else has
 * changed since; these tests hold both ways to the same answers:
 *  - a claim then its end of interrupt gives back the word as it was;
 *  - nested claims end from the top;
 *  - a machine check claimed again while in service, and a lower
 *    machine-check level claimed under a higher one, end correctly;
 *  - a level or gate changed in the handler counts at the end;
 *  - a random script: after every end of interrupt, the owner's bits equal
 *    a recomputation from scratch (VicSetLevel to the same level rewrites
 *    them from the rules, so it must change nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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

static uint64_t Word(VIC *Vic)
{
    return TbVicWord(Vic, CPU);
}

static VIC_CPU_STATE CpuState(VIC *Vic)
{
    return TbVicCpuState(Vic, CPU);
}

static uint32_t RaiseAndClaim(VIC *Vic, uint32_t Source)
{
    return TbVicRaiseAndClaim(Vic, Source, CPU).Level;
}

/* The owner's bits as the rules give them now: rewriting the level with
 * its own value recomputes them. */
static void AssertOwnerBitsAsRecomputed(VIC *Vic)
{
    uint64_t Before = Word(Vic);
    uint32_t Level = CpuState(Vic).Level;
    assert_int_equal(VicSetLevel(Vic, CPU, Level, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Word(Vic), Before);
}

static void test_end_gives_back_the_word(void **State)
{
    VIC *Vic = *State;
    const uint32_t Sources[] = {VIC_ALPHA_DEVICE(20, 0), VIC_ALPHA_DEVICE(21, 5), VIC_ALPHA_CLOCK,
                                VIC_ALPHA_SOFTWARE(3), VIC_ALPHA_MACHINE_CHECK};
    for (size_t Index = 0; Index < sizeof(Sources) / sizeof(Sources[0]); Index++) {
        uint64_t Before = Word(Vic);
        uint32_t Level = RaiseAndClaim(Vic, Sources[Index]);
        assert_int_equal(CpuState(Vic).InService, 1u << Level);
        assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
        assert_int_equal(Word(Vic), Before);
        assert_int_equal(CpuState(Vic).InService, 0);
        assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_INVALID_STATE);
    }
}

static void test_nested_claims_end_from_the_top(void **State)
{
    VIC *Vic = *State;
    uint64_t Before = Word(Vic);
    RaiseAndClaim(Vic, VIC_ALPHA_DEVICE(20, 0));
    uint64_t Inside20 = Word(Vic);
    RaiseAndClaim(Vic, VIC_ALPHA_DEVICE(23, 0));
    assert_int_equal(CpuState(Vic).InService, (1u << 20) | (1u << 23));
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState(Vic).InService, 1u << 20);
    assert_int_equal(Word(Vic), Inside20);
    AssertOwnerBitsAsRecomputed(Vic);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState(Vic).InService, 0);
    assert_int_equal(Word(Vic), Before);
}

/* A machine check is taken while one is in service (in PAL mode too): two
 * claims, one in-service bit, so the first end of interrupt ends it. */
static void test_machine_check_claimed_again_in_service(void **State)
{
    VIC *Vic = *State;
    uint64_t Before = Word(Vic);
    RaiseAndClaim(Vic, VIC_ALPHA_MACHINE_CHECK);
    assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    RaiseAndClaim(Vic, VIC_ALPHA_MACHINE_CHECK);
    assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    RaiseAndClaim(Vic, VIC_ALPHA_MACHINE_CHECK); /* and with nothing changed in between */
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState(Vic).InService, 0);
    assert_int_equal(Word(Vic), Before);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_INVALID_STATE);
}

/* Two machine-check levels (6 and 7 of 8): 6 is claimed while 7 is in
 * service, and the first end of interrupt ends 7. */
static void test_lower_machine_check_under_a_higher_one(void **State)
{
    (void)State;
    VIC_SOURCE_DESCRIPTOR Sources[3] = {{3, VicSourceDevice}, {6, VicSourceMachineCheck}, {7, VicSourceMachineCheck}};
    VIC_CONFIG Config = {.CpuCount = 2, .LevelCount = 8, .SourceCount = 3, .Sources = Sources};
    VIC *Vic = TbCreateVic(&Config);
    uint64_t Before = Word(Vic);
    RaiseAndClaim(Vic, 2);
    RaiseAndClaim(Vic, 1);
    assert_int_equal(CpuState(Vic).InService, (1u << 6) | (1u << 7));
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState(Vic).InService, 1u << 6);
    AssertOwnerBitsAsRecomputed(Vic);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState(Vic).InService, 0);
    assert_int_equal(Word(Vic), Before);
    free(Vic);
}

/* The handler moved the level and closed a gate: the end of interrupt
 * keeps both. */
static void test_changes_in_the_handler_count(void **State)
{
    VIC *Vic = *State;
    RaiseAndClaim(Vic, VIC_ALPHA_DEVICE(21, 0));
    assert_int_equal(VicSetLevel(Vic, CPU, 5, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    VIC_CPU_STATE After = CpuState(Vic);
    assert_int_equal(After.InService, 0);
    assert_int_equal(After.EffectiveLevel, 5);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_SOFTWARE(6), CPU), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, CPU));
    RaiseAndClaim(Vic, VIC_ALPHA_SOFTWARE(6));

    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, false, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(23, 0), CPU), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, CPU));
    AssertOwnerBitsAsRecomputed(Vic);
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, true, NULL), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, CPU));
}

/* Raises of direct and pending-word sources, claims, takes, ends, level,
 * gate, mode and AST changes, at random; after every end of interrupt the
 * owner's bits are what the rules give. */
static void test_random_ends_match_the_rules(void **State)
{
    VIC *Vic = *State;
    const uint32_t Sources[] = {VIC_ALPHA_DEVICE(20, 0), VIC_ALPHA_DEVICE(20, 3), VIC_ALPHA_DEVICE(21, 0),
                                VIC_ALPHA_DEVICE(22, 1), VIC_ALPHA_CLOCK,         VIC_ALPHA_DEVICE(23, 0),
                                VIC_ALPHA_SOFTWARE(1),   VIC_ALPHA_SOFTWARE(7),   VIC_ALPHA_MACHINE_CHECK};
    uint32_t Seed = 0xC0FFEEu;
    uint32_t Ends = 0;
    for (int Step = 0; Step < 20000; Step++) {
        uint32_t Choice = TbNextRandom(&Seed);
        VIC_CLAIM Claim;
        switch (Choice % 10u) {
        case 0:
        case 1:
        case 2:
            assert_int_equal(VicRaiseOnCpu(Vic, Sources[(Choice >> 8) % 9u], CPU), IRQ_STATUS_SUCCESS);
            break;
        case 3:
        case 4:
            (void)VicClaim(Vic, CPU, &Claim);
            break;
        case 5:
            (void)VicTakeInterrupt(Vic, CPU, &Claim);
            break;
        case 6:
        case 7:
            if (VicEndOfInterrupt(Vic, CPU) == IRQ_STATUS_SUCCESS) {
                Ends++;
                AssertOwnerBitsAsRecomputed(Vic);
            }
            break;
        case 8:
            assert_int_equal(VicSetLevel(Vic, CPU, (Choice >> 8) % 24u, NULL), IRQ_STATUS_SUCCESS);
            break;
        default:
            assert_int_equal(VicSetPalMode(Vic, CPU, (Choice >> 8) % 4u == 0), IRQ_STATUS_SUCCESS);
            assert_int_equal(VicSetMode(Vic, CPU, (VIC_PROCESSOR_MODE)((Choice >> 12) % 4u)), IRQ_STATUS_SUCCESS);
            assert_int_equal(VicWriteAstEnable(Vic, CPU, 0, (Choice >> 16) & 0xFu, NULL), IRQ_STATUS_SUCCESS);
            assert_int_equal(VicWriteAstSummary(Vic, CPU, 0xFu, (Choice >> 20) & 0x3u, NULL), IRQ_STATUS_SUCCESS);
            break;
        }
    }
    assert_true(Ends > 1000);
}

TB_TEST_MAIN(
    TB_VIC_ALPHA2_TEST(test_end_gives_back_the_word),
    TB_VIC_ALPHA2_TEST(test_nested_claims_end_from_the_top),
    TB_VIC_ALPHA2_TEST(test_machine_check_claimed_again_in_service),
    cmocka_unit_test(test_lower_machine_check_under_a_higher_one),
    TB_VIC_ALPHA2_TEST(test_changes_in_the_handler_count),
    TB_VIC_ALPHA2_TEST(test_random_ends_match_the_rules))
