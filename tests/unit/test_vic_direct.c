/* SPDX-License-Identifier: MIT */
/*
 * Direct sources: the lowest slots of each level keep their pending bit in
 * the check word itself (include/irqroute/vic.h, THE CHECK WORD), the others in their level's
 * pending word. These tests pin down which sources are direct (that is
 * where the fast raise -> take comes from), and that the two kinds share a
 * level without changing any rule: the highest slot first, the level's
 * summary held while either kind is pending, clears and claims of one kind
 * leaving the other deliverable, two direct sources at one level, the
 * level put in service by a direct claim, the counters, the wake-up hook,
 * and the configurations the threshold encoding refuses.
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
#define CLASS3_LAST (0x30u + 15u) /* x86: the last vector of priority class 3 */

/* Raises Source on CPU, which must succeed. */
static void Raise(VIC *Vic, uint32_t Source)
{
    assert_int_equal(VicRaiseOnCpu(Vic, Source, CPU), IRQ_STATUS_SUCCESS);
}

static uint64_t Word(VIC *Vic)
{
    return TbVicWord(Vic, CPU);
}

/* The Direct bits a raise of Source sets on CPU (0: a pending-word source). */
static uint64_t DirectBitOf(VIC *Vic, uint32_t Source)
{
    uint64_t Before = Word(Vic) & VIC_CHECK_DIRECT_BITS;
    Raise(Vic, Source);
    uint64_t Bit = (Word(Vic) & VIC_CHECK_DIRECT_BITS) & ~Before;
    assert_int_equal(VicClear(Vic, Source, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(Word(Vic) & VIC_CHECK_DIRECT_BITS, Before);
    return Bit;
}

static VIC_CLAIM Take(VIC *Vic)
{
    return TbVicTake(Vic, CPU);
}

static VIC_CLAIM ClaimAndEnd(VIC *Vic)
{
    return TbVicClaimAndEnd(Vic, CPU);
}

static void AssertNothingLeft(VIC *Vic)
{
    TbVicAssertNothingToTake(Vic, CPU);
    assert_int_equal(Word(Vic) & VIC_CHECK_SUMMARY_BITS, 0); /* no Summary bit left over */
    assert_int_equal(Word(Vic) & VIC_CHECK_WORDS_BIT, 0);    /* Words goes with the last one */
}

/* Alpha: slot 0 of every level with sources (22 levels), then slot 1 of the
 * top levels that have one (29, 23, 22): the 25 Direct bits. */
static void test_alpha_direct_sources(void **State)
{
    VIC *Vic = *State;
    const uint32_t Direct[] = {
        VIC_ALPHA_SOFTWARE(1),  VIC_ALPHA_SOFTWARE(2),  VIC_ALPHA_SOFTWARE(3),  VIC_ALPHA_SOFTWARE(4),
        VIC_ALPHA_SOFTWARE(5),  VIC_ALPHA_SOFTWARE(6),  VIC_ALPHA_SOFTWARE(7),  VIC_ALPHA_SOFTWARE(8),
        VIC_ALPHA_SOFTWARE(9),  VIC_ALPHA_SOFTWARE(10), VIC_ALPHA_SOFTWARE(11), VIC_ALPHA_SOFTWARE(12),
        VIC_ALPHA_SOFTWARE(13), VIC_ALPHA_SOFTWARE(14), VIC_ALPHA_SOFTWARE(15), VIC_ALPHA_DEVICE(20, 0),
        VIC_ALPHA_DEVICE(21, 0), VIC_ALPHA_IPI,         VIC_ALPHA_CLOCK,        VIC_ALPHA_DEVICE(23, 0),
        VIC_ALPHA_DEVICE(23, 1), VIC_ALPHA_PERFORMANCE0, VIC_ALPHA_PERFORMANCE1, VIC_ALPHA_POWER_FAIL,
        VIC_ALPHA_MACHINE_CHECK,
    };
    uint64_t Seen = 0;
    for (size_t Index = 0; Index < sizeof(Direct) / sizeof(Direct[0]); Index++) {
        uint64_t Bit = DirectBitOf(Vic, Direct[Index]);
        assert_int_equal(__builtin_popcountll(Bit), 1);
        assert_int_equal(Seen & Bit, 0);
        Seen |= Bit;
    }
    assert_int_equal(Seen, VIC_CHECK_DIRECT_BITS);
    const uint32_t InWord[] = {VIC_ALPHA_DEVICE(20, 1), VIC_ALPHA_DEVICE(21, 1), VIC_ALPHA_DEVICE(22, 0),
                               VIC_ALPHA_DEVICE(23, 2), VIC_ALPHA_DEVICE(23, 15)};
    for (size_t Index = 0; Index < sizeof(InWord) / sizeof(InWord[0]); Index++)
        assert_int_equal(DirectBitOf(Vic, InWord[Index]), 0);
    TbVicAssertConserved(Vic);
}

/* DEV(21,5) (pending word, slot 5) goes before DEV(21,0) (direct, slot 0),
 * whichever was raised first, for take and for claim alike. */
static void test_mixed_level_highest_slot_first(void **State)
{
    VIC *Vic = *State;
    const uint32_t Low = VIC_ALPHA_DEVICE(21, 0);
    const uint32_t High = VIC_ALPHA_DEVICE(21, 5);
    for (int Order = 0; Order < 4; Order++) {
        bool UseClaim = Order >= 2;
        Raise(Vic, Order % 2 ? High : Low);
        Raise(Vic, Order % 2 ? Low : High);
        VIC_CLAIM First = UseClaim ? ClaimAndEnd(Vic) : Take(Vic);
        assert_int_equal(First.Source, High);
        assert_true(VicIsDeliverable(Vic, CPU));
        VIC_CLAIM Second = UseClaim ? ClaimAndEnd(Vic) : Take(Vic);
        assert_int_equal(Second.Source, Low);
        assert_int_equal(Second.Level, 21);
        AssertNothingLeft(Vic);
    }
    TbVicAssertConserved(Vic);
}

/* Clearing one kind leaves the level deliverable for the other. */
static void test_clear_one_kind_keeps_the_other(void **State)
{
    VIC *Vic = *State;
    const uint32_t Direct = VIC_ALPHA_DEVICE(21, 0);
    const uint32_t InWord = VIC_ALPHA_DEVICE(21, 7);
    const uint32_t Cleared[2] = {InWord, Direct};
    const uint32_t Left[2] = {Direct, InWord};
    for (int Case = 0; Case < 2; Case++) {
        Raise(Vic, Direct);
        Raise(Vic, InWord);
        assert_int_equal(VicClear(Vic, Cleared[Case], CPU), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicClear(Vic, Cleared[Case], CPU), IRQ_STATUS_NOT_PENDING);
        assert_true(VicIsDeliverable(Vic, CPU));
        bool Pending = false;
        assert_int_equal(VicIsPending(Vic, Left[Case], CPU, &Pending), IRQ_STATUS_SUCCESS);
        assert_true(Pending);
        assert_int_equal(Take(Vic).Source, Left[Case]);
        AssertNothingLeft(Vic);
    }
    TbVicAssertConserved(Vic);
}

/* PERF1 (slot 1) before PERF0 (slot 0), both direct at level 29; a merge
 * of a pending direct source is counted and changes nothing. */
static void test_two_direct_sources_at_one_level(void **State)
{
    VIC *Vic = *State;
    Raise(Vic, VIC_ALPHA_PERFORMANCE0);
    Raise(Vic, VIC_ALPHA_PERFORMANCE1);
    uint64_t Before = Word(Vic);
    Raise(Vic, VIC_ALPHA_PERFORMANCE1);
    assert_int_equal(Word(Vic), Before);
    VIC_COUNTERS Counters = TbVicCounters(Vic, CPU);
    assert_int_equal(Counters.Merged, 1);
    assert_int_equal(Counters.Pending, 2);
    assert_int_equal(Take(Vic).Source, VIC_ALPHA_PERFORMANCE1);
    assert_true(VicIsDeliverable(Vic, CPU));
    assert_int_equal(ClaimAndEnd(Vic).Source, VIC_ALPHA_PERFORMANCE0);
    AssertNothingLeft(Vic);
    TbVicAssertConserved(Vic);
}

/* A direct claim puts its level in service: lower levels wait, higher ones
 * and machine checks do not; the end of interrupt gives the level back. */
static void test_direct_claim_puts_level_in_service(void **State)
{
    VIC *Vic = *State;
    VIC_CLAIM Claim;
    TbVicRaiseAndClaim(Vic, VIC_ALPHA_DEVICE(21, 0), CPU);
    VIC_CPU_STATE Cpu;
    assert_int_equal(VicQueryCpuState(Vic, CPU, &Cpu), IRQ_STATUS_SUCCESS);
    assert_int_equal(Cpu.InService, 1u << 21);
    assert_int_equal(Cpu.EffectiveLevel, 21);

    Raise(Vic, VIC_ALPHA_DEVICE(20, 0));
    Raise(Vic, VIC_ALPHA_DEVICE(21, 0));
    assert_false(VicIsDeliverable(Vic, CPU));
    assert_int_equal(VicClaim(Vic, CPU, &Claim), IRQ_STATUS_NOTHING_PENDING);
    assert_int_equal(VicSetPalMode(Vic, CPU, true), IRQ_STATUS_SUCCESS);
    Raise(Vic, VIC_ALPHA_MACHINE_CHECK);
    assert_true(VicIsDeliverable(Vic, CPU));
    assert_int_equal(VicClaim(Vic, CPU, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, VIC_ALPHA_MACHINE_CHECK);
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetPalMode(Vic, CPU, false), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, CPU));

    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS); /* level 21 ends */
    assert_int_equal(ClaimAndEnd(Vic).Source, VIC_ALPHA_DEVICE(21, 0));
    assert_int_equal(ClaimAndEnd(Vic).Source, VIC_ALPHA_DEVICE(20, 0));
    AssertNothingLeft(Vic);
    TbVicAssertConserved(Vic);
}

/* Words (vicp.h: the words protocol) is set by a raise that makes a pending word
 * non-empty, stays while other levels keep summary bits, and goes with the
 * last summary bit, whether a take, a claim or a clear takes that out; a
 * direct source is taken the same way with Words set or clear. */
static void test_words_bit_follows_pending_words(void **State)
{
    VIC *Vic = *State;
    const uint32_t InWord = VIC_ALPHA_DEVICE(21, 5);
    const uint32_t Direct = VIC_ALPHA_DEVICE(20, 0);
    Raise(Vic, Direct);
    assert_int_equal(Word(Vic) & VIC_CHECK_WORDS_BIT, 0);
    Raise(Vic, InWord);
    assert_int_not_equal(Word(Vic) & VIC_CHECK_WORDS_BIT, 0);
    assert_int_equal(Take(Vic).Source, InWord);
    assert_int_not_equal(Word(Vic) & VIC_CHECK_WORDS_BIT, 0); /* level 20's summary bit is still set */
    assert_int_equal(Take(Vic).Source, Direct);
    AssertNothingLeft(Vic);

    Raise(Vic, InWord);
    assert_int_equal(VicClear(Vic, InWord, CPU), IRQ_STATUS_SUCCESS);
    AssertNothingLeft(Vic);

    Raise(Vic, InWord);
    Raise(Vic, Direct);
    assert_int_equal(ClaimAndEnd(Vic).Source, InWord);
    assert_int_equal(VicClear(Vic, Direct, CPU), IRQ_STATUS_SUCCESS);
    AssertNothingLeft(Vic);

    /* The lone direct source, with Words clear: its claim sets the threshold too. */
    assert_int_equal(TbVicRaiseAndClaim(Vic, Direct, CPU).Level, 20);
    Raise(Vic, Direct);
    assert_false(VicIsDeliverable(Vic, CPU));
    assert_int_equal(VicEndOfInterrupt(Vic, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(Take(Vic).Source, Direct);
    AssertNothingLeft(Vic);
    TbVicAssertConserved(Vic);
}

/* The lone direct source is not taken past the gates: below the current
 * level, with interrupts off, or while an AST is eligible at a level it
 * does not beat. */
static void test_lone_direct_respects_gates(void **State)
{
    VIC *Vic = *State;
    VIC_CLAIM Claim;
    assert_int_equal(VicSetLevel(Vic, CPU, 21, NULL), IRQ_STATUS_SUCCESS);
    Raise(Vic, VIC_ALPHA_DEVICE(21, 0));
    assert_int_equal(VicTakeInterrupt(Vic, CPU, &Claim), IRQ_STATUS_NOTHING_PENDING);
    assert_int_equal(VicSetLevel(Vic, CPU, 20, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, false, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicTakeInterrupt(Vic, CPU, &Claim), IRQ_STATUS_NOTHING_PENDING);
    assert_int_equal(VicSetInterruptsEnabled(Vic, CPU, true, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Take(Vic).Source, VIC_ALPHA_DEVICE(21, 0));

    /* Software interrupt 1 is below the AST level (2): an eligible AST goes first. */
    assert_int_equal(VicSetLevel(Vic, CPU, 0, NULL), IRQ_STATUS_SUCCESS);
    TbVicSetAsts(Vic, CPU, VicModeUser, 1u << VicModeUser, 1u << VicModeUser);
    Raise(Vic, VIC_ALPHA_SOFTWARE(1));
    assert_int_equal(Take(Vic).Source, VIC_SOURCE_AST);
    assert_int_equal(Take(Vic).Source, VIC_ALPHA_SOFTWARE(1));
    AssertNothingLeft(Vic);
}

static uint32_t Wakes;

static void CountWake(void *Context, uint32_t Cpu)
{
    (void)Context;
    assert_int_equal(Cpu, CPU);
    Wakes++;
}

/* Raises Source on CPU; the wake callback has then run Expected times. */
static void RaiseExpectWakes(VIC *Vic, uint32_t Source, uint32_t Expected)
{
    assert_int_equal(VicRaiseOnCpu(Vic, Source, CPU), IRQ_STATUS_SUCCESS);
    assert_int_equal(Wakes, Expected);
}

/* A direct raise wakes the CPU when it becomes deliverable, not when it
 * merges, and not while the level is masked. */
static void test_direct_raise_wakes(void **State)
{
    (void)State;
    VIC *Vic = TbCreateAlphaVicWaking(2, CountWake, NULL, false);
    Wakes = 0;
    RaiseExpectWakes(Vic, VIC_ALPHA_DEVICE(21, 0), 1);
    RaiseExpectWakes(Vic, VIC_ALPHA_DEVICE(21, 0), 1);
    assert_int_equal(Take(Vic).Source, VIC_ALPHA_DEVICE(21, 0));
    assert_int_equal(VicSetLevel(Vic, CPU, 21, NULL), IRQ_STATUS_SUCCESS);
    RaiseExpectWakes(Vic, VIC_ALPHA_DEVICE(21, 0), 1);
    RaiseExpectWakes(Vic, VIC_ALPHA_DEVICE(23, 0), 2);
    free(Vic);
}

/* With WakeOnPending: a wake when a level becomes pending, whichever kind
 * of source makes it so, and none when the other kind joins it. */
static void test_wake_on_pending_mixed_level(void **State)
{
    (void)State;
    VIC *Vic = TbCreateAlphaVicWaking(2, CountWake, NULL, true);
    assert_int_equal(VicSetLevel(Vic, CPU, 31, NULL), IRQ_STATUS_SUCCESS); /* all masked */
    Wakes = 0;
    for (int Order = 0; Order < 2; Order++) {
        uint32_t First = Order == 0 ? VIC_ALPHA_DEVICE(21, 0) : VIC_ALPHA_DEVICE(21, 5);
        uint32_t Second = Order == 0 ? VIC_ALPHA_DEVICE(21, 5) : VIC_ALPHA_DEVICE(21, 0);
        RaiseExpectWakes(Vic, First, (uint32_t)Order + 1u);
        RaiseExpectWakes(Vic, Second, (uint32_t)Order + 1u);
        assert_int_equal(VicClear(Vic, First, CPU), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicClear(Vic, Second, CPU), IRQ_STATUS_SUCCESS);
    }
    /* A pending word at another level already set Words: still a wake. */
    RaiseExpectWakes(Vic, VIC_ALPHA_DEVICE(20, 5), 3);
    RaiseExpectWakes(Vic, VIC_ALPHA_DEVICE(21, 5), 4);
    free(Vic);
}

/* x86: the first vector of each class is direct; the class's highest vector
 * still goes first. */
static void test_x86_classes(void **State)
{
    (void)State;
    static VIC_SOURCE_DESCRIPTOR Sources[VIC_X86_SOURCE_COUNT];
    VIC_CONFIG Config;
    VicX86Config(&Config, 2, Sources);
    VIC *Vic = TbCreateVic(&Config);
    assert_int_not_equal(DirectBitOf(Vic, 0x30), 0);
    assert_int_not_equal(DirectBitOf(Vic, 0xE0), 0);
    assert_int_equal(DirectBitOf(Vic, CLASS3_LAST), 0);
    Raise(Vic, 0x30);
    Raise(Vic, CLASS3_LAST);
    Raise(Vic, 0x20);
    assert_int_equal(ClaimAndEnd(Vic).Source, CLASS3_LAST);
    assert_int_equal(ClaimAndEnd(Vic).Source, 0x30);
    assert_int_equal(ClaimAndEnd(Vic).Source, 0x20);
    AssertNothingLeft(Vic);
    TbVicAssertConserved(Vic);
    free(Vic);
}

/* Machine checks are enabled as "every level from the lowest machine-check
 * level up", so nothing else may sit there. */
static void test_machine_check_must_be_on_top(void **State)
{
    (void)State;
    VIC_SOURCE_DESCRIPTOR Sources[3] = {{3, VicSourceDevice}, {5, VicSourceMachineCheck}, {7, VicSourceDevice}};
    VIC_CONFIG Config = {.CpuCount = 1, .LevelCount = 8, .SourceCount = 3, .Sources = Sources};
    size_t Size = 0;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
    Sources[2].Level = 4;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_SUCCESS);
    Sources[2] = (VIC_SOURCE_DESCRIPTOR){7, VicSourceMachineCheck};
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_SUCCESS);
}

TB_TEST_MAIN(
    TB_VIC_ALPHA2_TEST(test_alpha_direct_sources),
    TB_VIC_ALPHA2_TEST(test_mixed_level_highest_slot_first),
    TB_VIC_ALPHA2_TEST(test_clear_one_kind_keeps_the_other),
    TB_VIC_ALPHA2_TEST(test_two_direct_sources_at_one_level),
    TB_VIC_ALPHA2_TEST(test_direct_claim_puts_level_in_service),
    TB_VIC_ALPHA2_TEST(test_words_bit_follows_pending_words),
    TB_VIC_ALPHA2_TEST(test_lone_direct_respects_gates),
    cmocka_unit_test(test_direct_raise_wakes),
    cmocka_unit_test(test_wake_on_pending_mixed_level),
    cmocka_unit_test(test_x86_classes),
    cmocka_unit_test(test_machine_check_must_be_on_top))
