/* SPDX-License-Identifier: MIT */
/*
 * Vic IPIs: to one CPU, a set, all, all-but-self; delivered into the
 * target's pending state at the IPI level; messages coalesce into one
 * interrupt without being lost; bad targets refused with nothing sent.
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

/* Claims the IPI on Cpu and ends it; returns its messages. */
static uint32_t TakeIpi(VIC *Vic, uint32_t Cpu)
{
    VIC_CLAIM Claim = TbVicClaimAndEnd(Vic, Cpu);
    assert_int_equal(Claim.Source, VIC_ALPHA_IPI);
    assert_int_equal(Claim.Kind, VicSourceIpi);
    assert_int_equal(Claim.Level, 22);
    return Claim.IpiMessages;
}

static uint32_t PendingMask(VIC *Vic)
{
    return TbVicPendingOn(Vic, VIC_ALPHA_IPI, CPUS);
}

static void test_ipi_to_one_cpu(void **State)
{
    VIC *Vic = *State;
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = 2};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiTlbShootdown), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingMask(Vic), 1u << 2);
    assert_true(VicIsDeliverable(Vic, 2));
    assert_int_equal(TakeIpi(Vic, 2), 1u << VicIpiTlbShootdown);
    assert_int_equal(VicQueryIpiCount(Vic, 2, VicIpiTlbShootdown), 1);
    assert_int_equal(VicQueryIpiCount(Vic, 2, VicIpiReschedule), 0);
    assert_int_equal(VicQueryIpiCount(Vic, 1, VicIpiTlbShootdown), 0);
}

static void test_ipi_to_set(void **State)
{
    VIC *Vic = *State;
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, 0);
    IrCpuSetAdd(&Set, 3);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetSet, .Cpus = &Set};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiCallFunction), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingMask(Vic), 1u << 0 | 1u << 3);
    assert_int_equal(TakeIpi(Vic, 0), 1u << VicIpiCallFunction);
    assert_int_equal(TakeIpi(Vic, 3), 1u << VicIpiCallFunction);
}

static void test_ipi_to_all_includes_sender(void **State)
{
    VIC *Vic = *State;
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetAll, .Cpu = 1};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiHalt), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingMask(Vic), 0xFu);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        assert_int_equal(TakeIpi(Vic, Cpu), 1u << VicIpiHalt);
}

static void test_ipi_to_all_but_self(void **State)
{
    VIC *Vic = *State;
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetAllButSelf, .Cpu = 1};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingMask(Vic), 0xFu & ~(1u << 1));
    assert_false(VicIsDeliverable(Vic, 1));
}

/* "All" means the online CPUs. */
static void test_ipi_all_skips_offline(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetAll};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_int_equal(PendingMask(Vic), 0xFu & ~(1u << 2));
    Target.Kind = VicIpiTargetAllButSelf;
    Target.Cpu = 0;
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiHalt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeIpi(Vic, 3), 1u << VicIpiReschedule | 1u << VicIpiHalt);
    assert_int_equal(TakeIpi(Vic, 0), 1u << VicIpiReschedule);
}

/* Several messages before the claim: one interrupt carrying all of them. */
static void test_messages_coalesce_never_lost(void **State)
{
    VIC *Vic = *State;
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = 1};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiTlbShootdown), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiUser + 3u), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeIpi(Vic, 1), 1u << VicIpiReschedule | 1u << VicIpiTlbShootdown | 1u << (VicIpiUser + 3u));
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 1, &Claim), IRQ_STATUS_NOTHING_PENDING);
    VIC_COUNTERS Count = TbVicCounters(Vic, 1);
    assert_int_equal(Count.Raised, 1);
    assert_int_equal(Count.Merged, 3);
    assert_int_equal(VicQueryIpiCount(Vic, 1, VicIpiUser + 3u), 1);
    assert_int_equal(VicQueryIpiCount(Vic, 1, VicIpiReschedule), 1);
}

/* The IPI waits at level 22 like any interrupt, messages and all. */
static void test_ipi_masked_by_level_stays_pending(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetLevel(Vic, 3, 22, NULL), IRQ_STATUS_SUCCESS);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = 3};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiHalt), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, 3));
    assert_true(TbVicIsPending(Vic, VIC_ALPHA_IPI, 3));
    assert_int_equal(VicSetLevel(Vic, 3, 21, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(TakeIpi(Vic, 3), 1u << VicIpiHalt);
}

static void test_bad_targets_send_nothing(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = 2};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_INVALID_CPU);
    Target.Cpu = CPUS;
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_INVALID_CPU);
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    Target.Kind = VicIpiTargetSet;
    Target.Cpus = &Set;
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_EMPTY_AFFINITY);
    IrCpuSetAdd(&Set, 0);
    IrCpuSetAdd(&Set, 2); /* offline: the whole send is refused, CPU 0 gets nothing */
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_INVALID_CPU);
    IrCpuSetRemove(&Set, 2);
    IrCpuSetAdd(&Set, 100); /* out of range */
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_INVALID_CPU);
    Target.Cpus = NULL;
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_INVALID_PARAMETER);
    Target.Kind = VicIpiTargetAllButSelf;
    Target.Cpu = CPUS;
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_INVALID_CPU);
    Target.Kind = (VIC_IPI_TARGET_KIND)9;
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_INVALID_PARAMETER);
    Target.Kind = VicIpiTargetAll;
    assert_int_equal(VicSendIpi(Vic, &Target, VIC_IPI_MESSAGE_COUNT), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(VicSendIpi(Vic, NULL, VicIpiReschedule), IRQ_STATUS_INVALID_PARAMETER);

    assert_int_equal(PendingMask(Vic), 0);
    VIC_COUNTERS Count = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(Count.Raised + Count.Merged, 0);
}

/* A uniprocessor's all-but-self names nobody: nothing to do, no error. */
static void test_all_but_self_on_uniprocessor(void **State)
{
    (void)State;
    VIC *Vic = TbCreateAlphaVic(1);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetAllButSelf, .Cpu = 0};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, 0));
    free(Vic);
}

static void test_no_ipi_source(void **State)
{
    (void)State;
    static const VIC_SOURCE_DESCRIPTOR Sources[] = {{3, VicSourceDevice}};
    VIC_CONFIG Config = {.CpuCount = 2, .LevelCount = 8, .SourceCount = 1, .Sources = Sources};
    size_t Size;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_SUCCESS);
    void *Storage = aligned_alloc(VIC_STORAGE_ALIGNMENT, Size);
    VIC *Vic;
    assert_int_equal(VicInitialize(Storage, Size, &Config, &Vic), IRQ_STATUS_SUCCESS);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetAll};
    assert_int_equal(VicSendIpi(Vic, &Target, VicIpiReschedule), IRQ_STATUS_NOT_SUPPORTED);
    free(Storage);
}

/* Withdrawing the IPI source (VicClear) withdraws its messages (vic.h):
 * a HALT or TLB shoot-down cleared away must not come back with the next,
 * unrelated IPI. */
static void test_vic_clear_of_ipi_withdraws_its_messages(void **State)
{
    VIC *Vic = *State;
    VIC_IPI_TARGET Both = {.Kind = VicIpiTargetSet};
    IR_CPU_SET Set = TbCpuSetOf(0x6u);
    Both.Cpus = &Set;
    assert_int_equal(VicSendIpi(Vic, &Both, VicIpiHalt), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSendIpi(Vic, &Both, VicIpiTlbShootdown), IRQ_STATUS_SUCCESS);
    VIC_COUNTERS Before = TbVicCounters(Vic, 1);

    assert_int_equal(VicClear(Vic, VIC_ALPHA_IPI, 1), IRQ_STATUS_SUCCESS);
    assert_false(TbVicIsPending(Vic, VIC_ALPHA_IPI, 1));
    VIC_COUNTERS After = TbVicCounters(Vic, 1);
    assert_int_equal(After.Cleared, Before.Cleared + 1);
    TbVicAssertNothingToClaim(Vic, 1);
    /* Clearing it again: NOT_PENDING, nothing changes. */
    assert_int_equal(VicClear(Vic, VIC_ALPHA_IPI, 1), IRQ_STATUS_NOT_PENDING);
    VIC_COUNTERS Again = TbVicCounters(Vic, 1);
    assert_memory_equal(&Again, &After, sizeof(Again));

    /* The next, unrelated IPI carries only its own message. */
    VIC_IPI_TARGET One = {.Kind = VicIpiTargetCpu, .Cpu = 1};
    assert_int_equal(VicSendIpi(Vic, &One, VicIpiReschedule), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim = TbVicClaimAndEnd(Vic, 1);
    assert_int_equal(Claim.Source, VIC_ALPHA_IPI);
    assert_int_equal(Claim.IpiMessages, 1u << VicIpiReschedule);
    assert_int_equal(VicQueryIpiCount(Vic, 1, VicIpiHalt), 0);
    assert_int_equal(VicQueryIpiCount(Vic, 1, VicIpiTlbShootdown), 0);

    /* CPU 2's messages were not CPU 1's to withdraw. */
    Claim = TbVicClaimAndEnd(Vic, 2);
    assert_int_equal(Claim.IpiMessages, (1u << VicIpiHalt) | (1u << VicIpiTlbShootdown));
    TbVicAssertConserved(Vic);
}

/* Clearing another source leaves pending IPI messages alone. */
static void test_vic_clear_of_other_source_keeps_ipi_messages(void **State)
{
    VIC *Vic = *State;
    VIC_IPI_TARGET One = {.Kind = VicIpiTargetCpu, .Cpu = 1};
    assert_int_equal(VicSendIpi(Vic, &One, VicIpiHalt), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_CLOCK, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicClear(Vic, VIC_ALPHA_CLOCK, 1), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim = TbVicClaimAndEnd(Vic, 1);
    assert_int_equal(Claim.Source, VIC_ALPHA_IPI);
    assert_int_equal(Claim.IpiMessages, 1u << VicIpiHalt);
    TbVicAssertConserved(Vic);
}

TB_TEST_MAIN(
    TB_VIC_ALPHA4_TEST(test_ipi_to_one_cpu),
    TB_VIC_ALPHA4_TEST(test_vic_clear_of_ipi_withdraws_its_messages),
    TB_VIC_ALPHA4_TEST(test_vic_clear_of_other_source_keeps_ipi_messages),
    TB_VIC_ALPHA4_TEST(test_ipi_to_set),
    TB_VIC_ALPHA4_TEST(test_ipi_to_all_includes_sender),
    TB_VIC_ALPHA4_TEST(test_ipi_to_all_but_self),
    TB_VIC_ALPHA4_TEST(test_ipi_all_skips_offline),
    TB_VIC_ALPHA4_TEST(test_messages_coalesce_never_lost),
    TB_VIC_ALPHA4_TEST(test_ipi_masked_by_level_stays_pending),
    TB_VIC_ALPHA4_TEST(test_bad_targets_send_nothing),
    cmocka_unit_test(test_all_but_self_on_uniprocessor),
    cmocka_unit_test(test_no_ipi_source))
