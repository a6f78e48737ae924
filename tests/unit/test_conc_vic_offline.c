/* SPDX-License-Identifier: MIT */
/*
 * A Vic CPU taken offline and back while raisers fire at it (run under
 * ThreadSanitizer by `make tsan`: label "concurrency").
 *
 * CPU 1 has no owner: whatever is raised there can only be claimed
 * elsewhere, after a VicSetCpuOnline(1, false) moved it. Two raisers fire
 * device sources whose routes go to CPU 1 (FIXED_CPU 1, so the mirror's fast
 * path; ROUND_ROBIN over CPUs 1 and 3) and direct raises at CPU 1
 * (VicRaiseOnCpu), direct and pending-word sources; the main thread takes CPU 1 offline and online again and again;
 * owners of CPUs 0, 2 and 3 take what comes. A raiser that read the route
 * (or the online bit) just before an offline call lands on CPU 1 after the
 * call's sweep: its own raise must move it (vicp.h, OFFLINE PROTOCOL).
 * Afterwards, with CPU 1 offline and the owners drained: nothing is pending
 * anywhere, CPU 1 claimed nothing, and every successful raise call was
 * claimed exactly once or merged into one that was:
 *   calls == claims + merges, raised == claimed + migrated.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>

#include <irqroute/router.h>
#include <irqroute/vic.h>

#include "testbed.h"
#include "vic_fixture.h"
#include "tb_main.h"

#define CPUS 4u
#define OFFLINE_CPU 1u
#define RAISERS 2u
#define TOGGLES 3000u
#define SOURCE_COUNT 6u

/* Direct sources (DEV(20,0), DEV(23,0)) and pending-word ones. */
static const uint32_t Sources[SOURCE_COUNT] = {
    VIC_ALPHA_DEVICE(20, 0), VIC_ALPHA_DEVICE(20, 6), VIC_ALPHA_DEVICE(21, 9),
    VIC_ALPHA_DEVICE(22, 2), VIC_ALPHA_DEVICE(23, 0), VIC_ALPHA_DEVICE(23, 11),
};

static VIC *Vic;
static _Atomic bool StopRaisers;
static _Atomic bool StopOwners;
static _Atomic uint64_t Claims[CPUS];

static void *OwnerThread(void *Argument)
{
    uint32_t Cpu = (uint32_t)(uintptr_t)Argument;
    uint64_t Count = 0;
    VIC_CLAIM Claim;
    for (;;) {
        bool Stopping = atomic_load(&StopOwners);
        if (VicTakeInterrupt(Vic, Cpu, &Claim) == IRQ_STATUS_SUCCESS) {
            Count++;
            continue;
        }
        if (Stopping)
            break; /* nothing left after the stop: the raisers are joined */
        sched_yield();
    }
    atomic_store(&Claims[Cpu], Count);
    return NULL;
}

static void *RaiserThread(void *Argument)
{
    uint64_t *Calls = Argument;
    uint32_t Seed = (uint32_t)(uintptr_t)Calls * 2654435761u;
    while (!atomic_load(&StopRaisers)) {
        Seed = Seed * 1103515245u + 12345u;
        uint32_t Source = Sources[(Seed >> 16) % SOURCE_COUNT];
        IRQ_STATUS Status = (Seed >> 8) % 4u == 0 ? VicRaiseOnCpu(Vic, Source, OFFLINE_CPU) : VicRaise(Vic, Source);
        if (Status == IRQ_STATUS_SUCCESS)
            (*Calls)++;
        else
            assert_int_equal(Status, IRQ_STATUS_INVALID_CPU); /* VicRaiseOnCpu at the offline CPU */
    }
    return NULL;
}

static void SetRoutes(void)
{
    IR_CPU_SET Pair = TbCpuSetOf(0xAu);
    for (uint32_t Index = 0; Index < SOURCE_COUNT; Index++) {
        IR_ROUTE_CONFIG Config = {.Policy = Index % 3u == 2u ? IrRoutingRoundRobin : IrRoutingFixedCpu,
                                  .TargetCpu = OFFLINE_CPU,
                                  .Mask = Index % 3u == 2u ? &Pair : NULL};
        assert_int_equal(VicSetRoute(Vic, Sources[Index], &Config), IRQ_STATUS_SUCCESS);
    }
}

/* What a failure needs to be understood: the CPU's check word (Summary bits
 * from bit VIC_CHECK_SUMMARY_BASE + level, Words, Direct bits, Shift) and
 * which of the test's sources are pending there. */
static void PrintCpu(uint32_t Cpu)
{
    uint64_t Word = VicLoadCheckWord(VicGetDeliveryWord(Vic, Cpu));
    print_message("CPU %u deliverable: check word %#018llx (summary levels %#x, words %u, direct %#llx, shift %u)\n",
                  Cpu, (unsigned long long)Word, (unsigned)(Word >> VIC_CHECK_SUMMARY_BASE) & ~1u,
                  (unsigned)((Word & VIC_CHECK_WORDS_BIT) != 0),
                  (unsigned long long)((Word & VIC_CHECK_DIRECT_BITS) >> VIC_CHECK_DIRECT_FIRST),
                  (unsigned)(Word & VIC_CHECK_SHIFT_MASK));
    for (uint32_t Index = 0; Index < SOURCE_COUNT; Index++)
        print_message("  source %u: pending on CPUs %#x\n", Sources[Index], TbVicPendingOn(Vic, Sources[Index], CPUS));
}

static void test_offline_loses_nothing_under_raises(void **State)
{
    (void)State;
    Vic = TbCreateAlphaVic(CPUS);
    SetRoutes();
    atomic_store(&StopRaisers, false);
    atomic_store(&StopOwners, false);
    pthread_t Owners[CPUS], Raisers[RAISERS];
    uint64_t Calls[RAISERS] = {0};
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++) {
        if (Cpu != OFFLINE_CPU)
            assert_int_equal(pthread_create(&Owners[Cpu], NULL, OwnerThread, (void *)(uintptr_t)Cpu), 0);
    }
    for (uint32_t Index = 0; Index < RAISERS; Index++)
        assert_int_equal(pthread_create(&Raisers[Index], NULL, RaiserThread, &Calls[Index]), 0);
    for (uint32_t Toggle = 0; Toggle < TOGGLES; Toggle++) {
        assert_int_equal(VicSetCpuOnline(Vic, OFFLINE_CPU, false), IRQ_STATUS_SUCCESS);
        if (Toggle + 1u < TOGGLES)
            assert_int_equal(VicSetCpuOnline(Vic, OFFLINE_CPU, true), IRQ_STATUS_SUCCESS);
        sched_yield();
    }
    /* CPU 1 stays offline from here: the raisers stop, then the owners. */
    atomic_store(&StopRaisers, true);
    for (uint32_t Index = 0; Index < RAISERS; Index++)
        assert_int_equal(pthread_join(Raisers[Index], NULL), 0);
    atomic_store(&StopOwners, true);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++) {
        if (Cpu != OFFLINE_CPU)
            assert_int_equal(pthread_join(Owners[Cpu], NULL), 0);
    }

    uint64_t AllCalls = Calls[0] + Calls[1], AllClaims = 0;
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        AllClaims += atomic_load(&Claims[Cpu]);
    VIC_COUNTERS All = TbVicCounters(Vic, VIC_ALL_CPUS);
    VIC_COUNTERS Offline = TbVicCounters(Vic, OFFLINE_CPU);
    print_message("offline: %llu raise calls, %llu claims, %llu merged, %llu migrated\n",
                  (unsigned long long)AllCalls, (unsigned long long)AllClaims, (unsigned long long)All.Merged,
                  (unsigned long long)All.Migrated);
    assert_int_equal(Offline.Pending, 0);
    assert_int_equal(Offline.Claimed, 0);
    assert_int_equal(All.Pending, 0);
    assert_int_equal(All.Cleared, 0);
    assert_int_equal(All.Claimed, AllClaims);
    assert_int_equal(AllCalls, AllClaims + All.Merged);
    assert_int_equal(All.Raised, All.Claimed + All.Migrated);
    assert_true(Offline.Migrated > 0);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++) {
        if (VicIsDeliverable(Vic, Cpu))
            PrintCpu(Cpu);
        assert_false(VicIsDeliverable(Vic, Cpu));
    }
    free(Vic);
}

TB_TEST_MAIN(cmocka_unit_test(test_offline_loses_nothing_under_raises))
