/* SPDX-License-Identifier: MIT */
/*
 * The Vic's pending state: creation and its refusals, raise / claim / clear /
 * end of interrupt, claim order, merging, the counters, the wake-up hook,
 * the x86 class layout, and bad input leaving the state unchanged.
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

#include "vic_fixture.h"
#include "tb_main.h"

#define DEV20 VIC_ALPHA_DEVICE(20, 0)
#define DEV21 VIC_ALPHA_DEVICE(21, 0)
#define DEV23 VIC_ALPHA_DEVICE(23, 0)

/* ---- Creation --------------------------------------------------------------------- */

static void test_config_refusals(void **State)
{
    (void)State;
    VIC_SOURCE_DESCRIPTOR Sources[40];
    VIC_CONFIG Config = {.CpuCount = 2, .LevelCount = 8, .SourceCount = 2, .Sources = Sources};
    size_t Size = 0;
    Sources[0] = (VIC_SOURCE_DESCRIPTOR){3, VicSourceDevice};
    Sources[1] = (VIC_SOURCE_DESCRIPTOR){7, VicSourceMachineCheck};
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_SUCCESS);
    assert_true(Size > 0);

    assert_int_equal(VicQueryStorageSize(NULL, &Size), IRQ_STATUS_INVALID_PARAMETER);
    Config.CpuCount = 0;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
    Config.CpuCount = VIC_MAX_CPUS + 1u;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
    Config.CpuCount = 2;
    Config.LevelCount = 1;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_IRQL);
    Config.LevelCount = 33;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_IRQL);
    Config.LevelCount = 8;
    Config.AstLevel = 8;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_IRQL);
    Config.AstLevel = 0;
    Sources[0].Level = 8; /* unknown level */
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_IRQL);
    Sources[0] = (VIC_SOURCE_DESCRIPTOR){3, VicSourceAst}; /* not a source kind */
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
    Sources[0] = (VIC_SOURCE_DESCRIPTOR){7, VicSourceDevice}; /* shares the machine check's level */
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
    Sources[0] = (VIC_SOURCE_DESCRIPTOR){3, VicSourceIpi};
    Sources[1] = (VIC_SOURCE_DESCRIPTOR){4, VicSourceIpi}; /* a second IPI source */
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
    Sources[0] = (VIC_SOURCE_DESCRIPTOR){3, VicSourceSoftware};
    Sources[1] = (VIC_SOURCE_DESCRIPTOR){3, VicSourceSoftware}; /* two at one level */
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
    for (int Index = 0; Index < 33; Index++)
        Sources[Index] = (VIC_SOURCE_DESCRIPTOR){5, VicSourceDevice};
    Config.SourceCount = 33;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INSUFFICIENT_RESOURCES);
    Config.SourceCount = 32;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_SUCCESS);
    Config.SourceCount = VIC_MAX_SOURCES + 1u;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INSUFFICIENT_RESOURCES);
    Config.SourceCount = 0;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_INVALID_PARAMETER);
}

static void test_storage_refusals(void **State)
{
    (void)State;
    VIC_CONFIG Config;
    VicAlphaConfig(&Config, 2);
    size_t Size;
    assert_int_equal(VicQueryStorageSize(&Config, &Size), IRQ_STATUS_SUCCESS);
    void *Storage = aligned_alloc(VIC_STORAGE_ALIGNMENT, Size + VIC_STORAGE_ALIGNMENT);
    VIC *Vic = NULL;
    assert_int_equal(VicInitialize(Storage, Size - 1u, &Config, &Vic), IRQ_STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(VicInitialize((char *)Storage + 16, Size, &Config, &Vic), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(VicInitialize(NULL, Size, &Config, &Vic), IRQ_STATUS_INVALID_PARAMETER);
    assert_null(Vic);
    assert_int_equal(VicInitialize(Storage, Size, &Config, &Vic), IRQ_STATUS_SUCCESS);
    assert_non_null(Vic);
    free(Storage);
}

static void test_initial_state(void **State)
{
    VIC *Vic = *State;
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        assert_false(VicIsDeliverable(Vic, Cpu));
        VIC_CPU_STATE CpuState;
        assert_int_equal(VicQueryCpuState(Vic, Cpu, &CpuState), IRQ_STATUS_SUCCESS);
        assert_int_equal(CpuState.Level, 0);
        assert_int_equal(CpuState.InService, 0);
        assert_true(CpuState.InterruptsEnabled);
        assert_false(CpuState.InBarrier);
        assert_false(CpuState.InPalMode);
        assert_true(CpuState.Online);
        assert_int_equal(CpuState.Mode, VicModeKernel);
        assert_int_equal(CpuState.AstEnable, 0);
        assert_int_equal(CpuState.AstSummary, 0);
        VIC_COUNTERS Zero = TbVicCounters(Vic, Cpu);
        assert_int_equal(Zero.Raised + Zero.Merged + Zero.Claimed + Zero.Cleared + Zero.Migrated + Zero.Pending, 0);
    }
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_NOTHING_PENDING);
}

/* ---- Raise, claim, end of interrupt -------------------------------------------------- */

static void test_raise_claim_eoi(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, 2), IRQ_STATUS_SUCCESS);
    assert_true(TbVicIsPending(Vic, DEV21, 2));
    assert_true(VicIsDeliverable(Vic, 2));
    assert_true(VicWordIsDeliverable(VicGetDeliveryWord(Vic, 2)));
    assert_false(VicIsDeliverable(Vic, 1));

    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 2, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, DEV21);
    assert_int_equal(Claim.Level, 21);
    assert_int_equal(Claim.Kind, VicSourceDevice);
    assert_false(TbVicIsPending(Vic, DEV21, 2));
    assert_false(VicIsDeliverable(Vic, 2));

    VIC_CPU_STATE CpuState;
    assert_int_equal(VicQueryCpuState(Vic, 2, &CpuState), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState.InService, 1u << 21);
    assert_int_equal(CpuState.EffectiveLevel, 21);
    assert_int_equal(VicEndOfInterrupt(Vic, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicQueryCpuState(Vic, 2, &CpuState), IRQ_STATUS_SUCCESS);
    assert_int_equal(CpuState.InService, 0);
    assert_int_equal(CpuState.EffectiveLevel, 0);
    assert_int_equal(VicEndOfInterrupt(Vic, 2), IRQ_STATUS_INVALID_STATE);

    VIC_COUNTERS Count = TbVicCounters(Vic, 2);
    assert_int_equal(Count.Raised, 1);
    assert_int_equal(Count.Claimed, 1);
    assert_int_equal(Count.Pending, 0);
}

/* Highest level first; within a level the highest-numbered source. */
static void test_claim_order(void **State)
{
    VIC *Vic = *State;
    static const uint32_t Raised[] = {VIC_ALPHA_SOFTWARE(3), DEV20, VIC_ALPHA_DEVICE(21, 4), DEV21,
                                      VIC_ALPHA_DEVICE(21, 9), DEV23, VIC_ALPHA_POWER_FAIL};
    static const uint32_t Expected[] = {VIC_ALPHA_POWER_FAIL, DEV23, VIC_ALPHA_DEVICE(21, 9),
                                        VIC_ALPHA_DEVICE(21, 4), DEV21, DEV20, VIC_ALPHA_SOFTWARE(3)};
    for (size_t Index = 0; Index < 7; Index++)
        assert_int_equal(VicRaiseOnCpu(Vic, Raised[Index], 0), IRQ_STATUS_SUCCESS);
    for (size_t Index = 0; Index < 7; Index++) {
        VIC_CLAIM Claim;
        assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
        assert_int_equal(Claim.Source, Expected[Index]);
        /* End it at once so the next, lower one can come in. */
        assert_int_equal(VicEndOfInterrupt(Vic, 0), IRQ_STATUS_SUCCESS);
    }
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_NOTHING_PENDING);
    TbVicAssertConserved(Vic);
}

/* A level in service holds off itself and lower levels; a higher one nests. */
static void test_in_service_masks_until_eoi(void **State)
{
    VIC *Vic = *State;
    VIC_CLAIM Claim;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(21, 1), 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 0), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, 0));
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_NOTHING_PENDING);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, 0), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, 0));
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, DEV23);
    assert_false(VicIsDeliverable(Vic, 0));
    assert_int_equal(VicEndOfInterrupt(Vic, 0), IRQ_STATUS_SUCCESS); /* ends 23 */
    assert_false(VicIsDeliverable(Vic, 0));                           /* 21 still in service */
    assert_int_equal(VicEndOfInterrupt(Vic, 0), IRQ_STATUS_SUCCESS); /* ends 21 */
    assert_true(VicIsDeliverable(Vic, 0));
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, VIC_ALPHA_DEVICE(21, 1));
    assert_int_equal(VicEndOfInterrupt(Vic, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, DEV20);
    TbVicAssertConserved(Vic);
}

static void test_raise_on_pending_merges(void **State)
{
    VIC *Vic = *State;
    for (int Round = 0; Round < 3; Round++)
        assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 1), IRQ_STATUS_SUCCESS);
    VIC_COUNTERS Count = TbVicCounters(Vic, 1);
    assert_int_equal(Count.Raised, 1);
    assert_int_equal(Count.Merged, 2);
    assert_int_equal(Count.Pending, 1);
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 1, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicEndOfInterrupt(Vic, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicClaim(Vic, 1, &Claim), IRQ_STATUS_NOTHING_PENDING);
    /* Raised again after the claim: a new interrupt, not a merge. */
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 1), IRQ_STATUS_SUCCESS);
    Count = TbVicCounters(Vic, 1);
    assert_int_equal(Count.Raised, 2);
    assert_int_equal(Count.Merged, 2);
    TbVicAssertConserved(Vic);
}

static void test_clear(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 3), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(20, 1), 3), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicClear(Vic, DEV20, 3), IRQ_STATUS_SUCCESS);
    assert_false(TbVicIsPending(Vic, DEV20, 3));
    assert_true(VicIsDeliverable(Vic, 3)); /* the other source of the level */
    assert_int_equal(VicClear(Vic, VIC_ALPHA_DEVICE(20, 1), 3), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, 3));
    VIC_COUNTERS Before = TbVicCounters(Vic, 3);
    assert_int_equal(Before.Cleared, 2);
    assert_int_equal(VicClear(Vic, DEV20, 3), IRQ_STATUS_NOT_PENDING);
    VIC_COUNTERS After = TbVicCounters(Vic, 3);
    assert_memory_equal(&Before, &After, sizeof(Before));
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 3, &Claim), IRQ_STATUS_NOTHING_PENDING);
    TbVicAssertConserved(Vic);
}

/* ---- Bad input: the documented status, nothing changed ---------------------------------- */

static void test_bad_input_changes_nothing(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, 1), IRQ_STATUS_SUCCESS);
    VIC_COUNTERS Before = TbVicCounters(Vic, VIC_ALL_CPUS);
    VIC_CPU_STATE StateBefore, StateAfter;
    assert_int_equal(VicQueryCpuState(Vic, 1, &StateBefore), IRQ_STATUS_SUCCESS);
    uint64_t WordBefore = VicLoadCheckWord(VicGetDeliveryWord(Vic, 1));

    VIC_CLAIM Claim;
    uint32_t Previous;
    assert_int_equal(VicRaise(Vic, 0), IRQ_STATUS_INVALID_VECTOR); /* a hole */
    assert_int_equal(VicRaise(Vic, VIC_ALPHA_SOURCE_COUNT), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(VicRaiseOnCpu(Vic, 9999, 1), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 4), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 0xFFFFFFFFu), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicClear(Vic, DEV20, 1), IRQ_STATUS_NOT_PENDING);
    assert_int_equal(VicClear(Vic, 0, 1), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(VicClear(Vic, DEV21, 7), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicClaim(Vic, 4, &Claim), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicClaim(Vic, 1, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_NOTHING_PENDING);
    assert_int_equal(VicEndOfInterrupt(Vic, 1), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(VicSetLevel(Vic, 1, 32, &Previous), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicSetLevel(Vic, 4, 3, &Previous), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicSetMode(Vic, 1, (VIC_PROCESSOR_MODE)4), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 1, 0), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 1, 16), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 1, 99), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicQueryCounters(Vic, 4, &Before), IRQ_STATUS_INVALID_CPU);
    assert_false(VicIsDeliverable(Vic, 4));
    assert_false(VicIsDeliverable(Vic, 0xFFFFFFFFu));
    assert_int_equal(VicRaise(NULL, DEV20), IRQ_STATUS_INVALID_PARAMETER);

    VIC_COUNTERS After = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_memory_equal(&Before, &After, sizeof(Before));
    assert_int_equal(VicQueryCpuState(Vic, 1, &StateAfter), IRQ_STATUS_SUCCESS);
    assert_memory_equal(&StateBefore, &StateAfter, sizeof(StateBefore));
    assert_int_equal(VicLoadCheckWord(VicGetDeliveryWord(Vic, 1)), WordBefore);
    assert_true(TbVicIsPending(Vic, DEV21, 1));
}

static void test_offline_cpu_refused_as_direct_target(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 3), IRQ_STATUS_INVALID_CPU);
    assert_false(TbVicIsPending(Vic, DEV20, 3));
    assert_int_equal(VicSetCpuOnline(Vic, 3, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 3), IRQ_STATUS_SUCCESS);
    assert_true(TbVicIsPending(Vic, DEV20, 3));
    assert_int_equal(VicSetCpuOnline(Vic, 4, true), IRQ_STATUS_INVALID_CPU);
}

/* A device interrupt pending on a CPU that goes offline is not lost: it
 * moves where its route goes (the default, CPU 0); test_vic_offline.c has
 * the rest of the rules. */
static void test_pending_survives_offline(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetCpuOnline(Vic, 2, false), IRQ_STATUS_SUCCESS);
    assert_false(TbVicIsPending(Vic, DEV20, 2));
    assert_int_equal(VicSetCpuOnline(Vic, 2, true), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 2, &Claim), IRQ_STATUS_NOTHING_PENDING);
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, DEV20);
}

/* ---- Counters -------------------------------------------------------------------------- */

static void test_conservation_single_thread(void **State)
{
    VIC *Vic = *State;
    uint32_t Calls = 0;
    for (uint32_t Round = 0; Round < 2000; Round++) {
        uint32_t Cpu = Round % 4;
        uint32_t Source = VIC_ALPHA_DEVICE(20 + Round % 4, (Round / 4) % 16);
        assert_int_equal(VicRaiseOnCpu(Vic, Source, Cpu), IRQ_STATUS_SUCCESS);
        Calls++;
        if (Round % 3 == 0)
            (void)VicClear(Vic, Source, Cpu);
        if (Round % 5 == 0) {
            VIC_CLAIM Claim;
            if (VicClaim(Vic, Cpu, &Claim) == IRQ_STATUS_SUCCESS)
                assert_int_equal(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
        }
        TbVicAssertConserved(Vic);
    }
    VIC_COUNTERS All = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(All.Raised + All.Merged, Calls);
    assert_true(All.Pending > 0);
    assert_true(All.Cleared > 0);
    assert_true(All.Claimed > 0);
}

/* ---- Wake-up hook ---------------------------------------------------------------------- */

static uint32_t WakeCalls[4];

static void CountWake(void *Context, uint32_t Cpu)
{
    assert_ptr_equal(Context, WakeCalls);
    WakeCalls[Cpu]++;
}

static void test_wake_when_deliverable(void **State)
{
    (void)State;
    VIC *Vic = TbCreateAlphaVicWaking(4, CountWake, WakeCalls, false);
    memset(WakeCalls, 0, sizeof(WakeCalls));

    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(WakeCalls[1], 1);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(20, 1), 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(WakeCalls[1], 1); /* already deliverable: no second kick */
    /* Masked: pending, but nothing to wake for. */
    assert_int_equal(VicSetLevel(Vic, 2, 22, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(WakeCalls[2], 0);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(WakeCalls[2], 1);
    assert_int_equal(WakeCalls[0] + WakeCalls[3], 0);
    free(Vic);
}

static void test_wake_on_pending(void **State)
{
    (void)State;
    VIC *Vic = TbCreateAlphaVicWaking(4, CountWake, WakeCalls, true);
    memset(WakeCalls, 0, sizeof(WakeCalls));
    assert_int_equal(VicSetInterruptsEnabled(Vic, 0, false, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV20, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(WakeCalls[0], 1);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV21, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(WakeCalls[0], 2);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_DEVICE(21, 3), 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(WakeCalls[0], 2); /* the level was pending already */
    free(Vic);
}

/* ---- x86 classes -------------------------------------------------------------------------- */

static void test_x86_classes(void **State)
{
    (void)State;
    VIC_CONFIG Config;
    VIC_SOURCE_DESCRIPTOR Sources[VIC_X86_SOURCE_COUNT];
    VicX86Config(&Config, 2, Sources);
    VIC *Vic = TbCreateVic(&Config);
    assert_int_equal(VicRaiseOnCpu(Vic, 0x0E, 0), IRQ_STATUS_INVALID_VECTOR); /* an exception vector */
    assert_int_equal(VicSetLevel(Vic, 0, 6, NULL), IRQ_STATUS_SUCCESS);     /* TPR class 6 */
    assert_int_equal(VicRaiseOnCpu(Vic, 0x61, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicRaiseOnCpu(Vic, 0x6F, 0), IRQ_STATUS_SUCCESS);
    assert_false(VicIsDeliverable(Vic, 0)); /* class 6 <= TPR 6 */
    assert_int_equal(VicRaiseOnCpu(Vic, 0x71, 0), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, 0x71);
    assert_int_equal(Claim.Level, 7);
    assert_int_equal(VicEndOfInterrupt(Vic, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetLevel(Vic, 0, 5, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicClaim(Vic, 0, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, 0x6F); /* the higher vector of the class first */
    assert_int_equal(VicSetLevel(Vic, 0, 16, NULL), IRQ_STATUS_INVALID_IRQL);
    uint32_t Previous;
    assert_int_equal(VicWriteAstEnable(Vic, 0, 0, 1, &Previous), IRQ_STATUS_NOT_SUPPORTED);
    free(Vic);
}

/* ---- 4096 CPUs ------------------------------------------------------------------------- */

static void test_max_cpus(void **State)
{
    (void)State;
    VIC_CONFIG Config;
    VicAlphaConfig(&Config, VIC_MAX_CPUS);
    VIC *Vic = TbCreateVic(&Config);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, 4095), IRQ_STATUS_SUCCESS);
    assert_true(VicIsDeliverable(Vic, 4095));
    assert_false(VicIsDeliverable(Vic, 4094));
    assert_false(VicIsDeliverable(Vic, 4096));
    VIC_CLAIM Claim;
    assert_int_equal(VicClaim(Vic, 4095, &Claim), IRQ_STATUS_SUCCESS);
    assert_int_equal(Claim.Source, DEV23);
    assert_int_equal(VicRaiseOnCpu(Vic, DEV23, 4096), IRQ_STATUS_INVALID_CPU);
    free(Vic);
}

TB_TEST_MAIN(
    cmocka_unit_test(test_config_refusals),
    cmocka_unit_test(test_storage_refusals),
    TB_VIC_ALPHA4_TEST(test_initial_state),
    TB_VIC_ALPHA4_TEST(test_raise_claim_eoi),
    TB_VIC_ALPHA4_TEST(test_claim_order),
    TB_VIC_ALPHA4_TEST(test_in_service_masks_until_eoi),
    TB_VIC_ALPHA4_TEST(test_raise_on_pending_merges),
    TB_VIC_ALPHA4_TEST(test_clear),
    TB_VIC_ALPHA4_TEST(test_bad_input_changes_nothing),
    TB_VIC_ALPHA4_TEST(test_offline_cpu_refused_as_direct_target),
    TB_VIC_ALPHA4_TEST(test_pending_survives_offline),
    TB_VIC_ALPHA4_TEST(test_conservation_single_thread),
    cmocka_unit_test(test_wake_when_deliverable),
    cmocka_unit_test(test_wake_on_pending),
    cmocka_unit_test(test_x86_classes),
    cmocka_unit_test(test_max_cpus))
