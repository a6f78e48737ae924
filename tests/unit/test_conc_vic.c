/* SPDX-License-Identifier: MIT */
/*
 * The Vic and the router under concurrency (run under ThreadSanitizer by
 * `make tsan`).
 *
 *  1. Conservation: 8 threads (4 CPU owners claiming and ending, or taking
 *     (VicTakeInterrupt: nothing in service), and moving their level, gates,
 *     mode and AST registers; 2 raisers making 1e6 raise calls
 *     through routes, direct raises, SIRR writes and IPIs; 2 clearers, one of
 *     them also changing routes). Afterwards, exactly: every raise call
 *     became a pending interrupt or merged into one; raised == claimed +
 *     cleared + pending (a take counts as claimed); the library's counts
 *     equal the threads' own; and
 *     once drained, nothing is pending or deliverable.
 *  2. IPI messages are never lost (the owner claims and takes in turn):
 *     senders wait for each message to be seen while a third thread raises the IPI source without messages (so
 *     sends merge into pending IPIs).
 *  3. A route reconfigured while deciders decide: every decision matches one
 *     whole configuration, never a mixture.
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
#define RAISERS 2u
#define RAISE_CALLS 1000000u
#define SOURCE_COUNT 11u

/* Direct sources (their pending bit in the check word: DEV(20,0), DEV(21,0),
 * the clock, DEV(23,1)) share each level with pending-word ones, so that
 * both kinds race for the level's summary bit. */
static const uint32_t Sources[SOURCE_COUNT] = {
    VIC_ALPHA_DEVICE(20, 0), VIC_ALPHA_DEVICE(20, 5), VIC_ALPHA_DEVICE(21, 0), VIC_ALPHA_DEVICE(21, 1),
    VIC_ALPHA_DEVICE(21, 2), VIC_ALPHA_CLOCK,         VIC_ALPHA_DEVICE(22, 3), VIC_ALPHA_DEVICE(22, 4),
    VIC_ALPHA_DEVICE(23, 1), VIC_ALPHA_DEVICE(23, 7), VIC_ALPHA_DEVICE(23, 15),
};

static VIC *Vic;
static _Atomic bool StopOwners;
static _Atomic bool StopClearers;

/* ---- 1. Conservation ------------------------------------------------------------------ */

typedef struct _OWNER_RESULT {
    uint32_t Cpu;
    uint64_t Claimed; /* claims and takes */
    uint64_t Taken;
    uint64_t AstRaised;
    uint64_t AstCleared;
    uint64_t Spurious; /* the check said yes, the claim found nothing */
} OWNER_RESULT;

static void OwnerMoveState(uint32_t Cpu, uint32_t *Seed, OWNER_RESULT *Result)
{
    static const uint32_t Levels[] = {0, 0, 0, 1, 3, 20, 21, 22, 31};
    uint32_t Choice = TbNextRandom(Seed);
    assert_int_equal(VicSetLevel(Vic, Cpu, Levels[Choice % 9u], NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetInterruptsEnabled(Vic, Cpu, (Choice >> 8) % 4u != 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetPalMode(Vic, Cpu, (Choice >> 10) % 8u == 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetBarrier(Vic, Cpu, (Choice >> 13) % 8u == 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetMode(Vic, Cpu, (VIC_PROCESSOR_MODE)((Choice >> 16) % 4u)), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstEnable(Vic, Cpu, 0, (Choice >> 18) & 0xFu, NULL), IRQ_STATUS_SUCCESS);
    uint32_t Old;
    uint32_t Set = (Choice >> 22) & 0xFu, Keep = (Choice >> 26) & 0xFu;
    assert_int_equal(VicWriteAstSummary(Vic, Cpu, Keep, Set, &Old), IRQ_STATUS_SUCCESS);
    uint32_t New = (Old & Keep) | Set;
    Result->AstRaised += (uint64_t)__builtin_popcount(New & ~Old);
    Result->AstCleared += (uint64_t)__builtin_popcount(Old & ~New);
}

/* One CPU: claims what is deliverable and ends it, or takes it (one in
 * three), and keeps moving its state. */
static void *OwnerThread(void *Argument)
{
    OWNER_RESULT *Result = Argument;
    uint32_t Cpu = Result->Cpu;
    uint32_t Seed = 0x9E3779B9u * (Cpu + 1u);
    for (uint64_t Iteration = 0; !atomic_load_explicit(&StopOwners, memory_order_acquire); Iteration++) {
        if (VicIsDeliverable(Vic, Cpu)) {
            VIC_CLAIM Claim;
            bool Take = TbNextRandom(&Seed) % 3u == 0;
            IRQ_STATUS Status = Take ? VicTakeInterrupt(Vic, Cpu, &Claim) : VicClaim(Vic, Cpu, &Claim);
            if (Status == IRQ_STATUS_SUCCESS) {
                Result->Claimed++;
                if (Take)
                    Result->Taken++;
                else
                    assert_int_equal(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
            } else {
                assert_int_equal(Status, IRQ_STATUS_NOTHING_PENDING);
                Result->Spurious++;
            }
        } else {
            sched_yield();
        }
        if (Iteration % 16u == 0)
            OwnerMoveState(Cpu, &Seed, Result);
    }
    return NULL;
}

typedef struct _RAISER_RESULT {
    uint32_t Seed;
    uint64_t Deliveries; /* successful calls: each made one interrupt pending or merged */
} RAISER_RESULT;

static void *RaiserThread(void *Argument)
{
    RAISER_RESULT *Result = Argument;
    for (uint32_t Call = 0; Call < RAISE_CALLS / RAISERS; Call++) {
        uint32_t Choice = TbNextRandom(&Result->Seed);
        uint32_t Source = Sources[Choice % SOURCE_COUNT];
        uint32_t Cpu = (Choice >> 8) % CPUS;
        uint32_t Kind = (Choice >> 12) % 20u;
        IRQ_STATUS Status;
        if (Kind < 14) {
            Status = VicRaise(Vic, Source);
        } else if (Kind < 17) {
            Status = VicRaiseOnCpu(Vic, Source, Cpu);
        } else if (Kind < 19) {
            Status = VicWriteSoftwareRequest(Vic, Cpu, 1u + (Choice >> 16) % 15u);
        } else {
            VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = Cpu};
            Status = VicSendIpi(Vic, &Target, (Choice >> 16) % VIC_IPI_MESSAGE_COUNT);
        }
        assert_int_equal(Status, IRQ_STATUS_SUCCESS);
        Result->Deliveries++;
        /* Let the owners run on a host with fewer cores than threads, or
         * nearly every raise would merge into one nobody has claimed yet. */
        if (Call % 4u == 0)
            sched_yield();
    }
    return NULL;
}

typedef struct _CLEARER_RESULT {
    uint32_t Seed;
    bool ChangesRoutes;
    uint64_t Cleared;
} CLEARER_RESULT;

static void ChangeRoute(uint32_t Choice)
{
    static const IR_ROUTING_POLICY Policies[] = {IrRoutingFixedCpu, IrRoutingRoundRobin, IrRoutingLowestPriority,
                                                 IrRoutingAffinity};
    IR_CPU_SET Mask;
    IrCpuSetZero(&Mask);
    IrCpuSetAdd(&Mask, Choice % CPUS);
    IrCpuSetAdd(&Mask, (Choice >> 4) % CPUS);
    IR_ROUTE_CONFIG Config = {.Policy = Policies[(Choice >> 8) % 4u], .TargetCpu = Choice % CPUS, .Mask = &Mask};
    assert_int_equal(VicSetRoute(Vic, Sources[(Choice >> 12) % SOURCE_COUNT], &Config), IRQ_STATUS_SUCCESS);
}

static void *ClearerThread(void *Argument)
{
    CLEARER_RESULT *Result = Argument;
    for (uint64_t Iteration = 0; !atomic_load_explicit(&StopClearers, memory_order_acquire); Iteration++) {
        uint32_t Choice = TbNextRandom(&Result->Seed);
        IRQ_STATUS Status;
        if (Choice % 8u == 0)
            Status = VicClear(Vic, VIC_ALPHA_SOFTWARE(1u + (Choice >> 4) % 15u), (Choice >> 8) % CPUS);
        else
            Status = VicClear(Vic, Sources[(Choice >> 4) % SOURCE_COUNT], (Choice >> 8) % CPUS);
        if (Status == IRQ_STATUS_SUCCESS)
            Result->Cleared++;
        else
            assert_int_equal(Status, IRQ_STATUS_NOT_PENDING);
        if (Result->ChangesRoutes && Iteration % 512u == 0)
            ChangeRoute(TbNextRandom(&Result->Seed));
        if (Iteration % 4u == 0)
            sched_yield();
    }
    return NULL;
}

static VIC_COUNTERS AllCounters(void)
{
    VIC_COUNTERS Counters;
    assert_int_equal(VicQueryCounters(Vic, VIC_ALL_CPUS, &Counters), IRQ_STATUS_SUCCESS);
    return Counters;
}

/* After the owners are joined this thread owns every CPU: open everything and take it all. */
static uint64_t DrainEveryCpu(void)
{
    uint64_t Claimed = 0;
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++) {
        assert_int_equal(VicSetLevel(Vic, Cpu, 0, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetInterruptsEnabled(Vic, Cpu, true, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetPalMode(Vic, Cpu, false), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetBarrier(Vic, Cpu, false), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicSetMode(Vic, Cpu, VicModeUser), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicWriteAstEnable(Vic, Cpu, 0, 0xFu, NULL), IRQ_STATUS_SUCCESS);
        VIC_CLAIM Claim;
        while (VicClaim(Vic, Cpu, &Claim) == IRQ_STATUS_SUCCESS) {
            Claimed++;
            assert_int_equal(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
        }
        assert_false(VicIsDeliverable(Vic, Cpu));
    }
    return Claimed;
}

static void SetInitialRoutes(void)
{
    for (uint32_t Index = 0; Index < SOURCE_COUNT; Index++)
        ChangeRoute(Index * 0x1111u + Index);
}

static void test_conservation_under_concurrency(void **State)
{
    (void)State;
    Vic = TbCreateAlphaVic(CPUS);
    SetInitialRoutes();
    atomic_store(&StopOwners, false);
    atomic_store(&StopClearers, false);

    pthread_t Owners[CPUS], Raisers[RAISERS], Clearers[2];
    OWNER_RESULT OwnerResults[CPUS] = {{0}};
    RAISER_RESULT RaiserResults[RAISERS] = {{.Seed = 12345u}, {.Seed = 67890u}};
    CLEARER_RESULT ClearerResults[2] = {{.Seed = 424242u, .ChangesRoutes = true}, {.Seed = 777u}};
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++) {
        OwnerResults[Cpu].Cpu = Cpu;
        assert_int_equal(pthread_create(&Owners[Cpu], NULL, OwnerThread, &OwnerResults[Cpu]), 0);
    }
    for (uint32_t Index = 0; Index < 2; Index++)
        assert_int_equal(pthread_create(&Clearers[Index], NULL, ClearerThread, &ClearerResults[Index]), 0);
    for (uint32_t Index = 0; Index < RAISERS; Index++)
        assert_int_equal(pthread_create(&Raisers[Index], NULL, RaiserThread, &RaiserResults[Index]), 0);

    for (uint32_t Index = 0; Index < RAISERS; Index++)
        assert_int_equal(pthread_join(Raisers[Index], NULL), 0);
    atomic_store_explicit(&StopClearers, true, memory_order_release);
    for (uint32_t Index = 0; Index < 2; Index++)
        assert_int_equal(pthread_join(Clearers[Index], NULL), 0);
    atomic_store_explicit(&StopOwners, true, memory_order_release);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        assert_int_equal(pthread_join(Owners[Cpu], NULL), 0);

    uint64_t Deliveries = 0, Cleared = 0, Claimed = 0, Taken = 0, AstRaised = 0, AstCleared = 0, Spurious = 0;
    for (uint32_t Index = 0; Index < RAISERS; Index++)
        Deliveries += RaiserResults[Index].Deliveries;
    for (uint32_t Index = 0; Index < 2; Index++)
        Cleared += ClearerResults[Index].Cleared;
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++) {
        Claimed += OwnerResults[Cpu].Claimed;
        Taken += OwnerResults[Cpu].Taken;
        AstRaised += OwnerResults[Cpu].AstRaised;
        AstCleared += OwnerResults[Cpu].AstCleared;
        Spurious += OwnerResults[Cpu].Spurious;
    }
    assert_int_equal(Deliveries, RAISE_CALLS);

    VIC_COUNTERS Count = AllCounters();
    /* Every call made an interrupt pending or merged into a pending one. */
    assert_int_equal(Count.Raised + Count.Merged, Deliveries + AstRaised);
    assert_int_equal(Count.Claimed, Claimed);
    assert_int_equal(Count.Cleared, Cleared + AstCleared);
    assert_int_equal(Count.Raised, Count.Claimed + Count.Cleared + Count.Migrated + Count.Pending);
    assert_true(Claimed > Taken);
    assert_true(Taken > 0);
    assert_true(Cleared > 0);
    assert_true(Count.Merged > 0);

    uint64_t Drained = DrainEveryCpu();
    VIC_COUNTERS Final = AllCounters();
    assert_int_equal(Drained, Count.Pending);
    assert_int_equal(Final.Pending, 0);
    assert_int_equal(Final.Raised, Final.Claimed + Final.Cleared + Final.Migrated);
    print_message("raise calls %llu: raised %llu merged %llu claimed %llu (taken %llu) cleared %llu "
                  "pending-at-stop %llu (spurious checks %llu)\n",
                  (unsigned long long)Deliveries, (unsigned long long)Count.Raised,
                  (unsigned long long)Count.Merged, (unsigned long long)Count.Claimed, (unsigned long long)Taken,
                  (unsigned long long)Count.Cleared, (unsigned long long)Count.Pending,
                  (unsigned long long)Spurious);
    free(Vic);
}

/* ---- 2. IPI messages never lost ------------------------------------------------------------- */

#define IPI_TARGET 1u
#define IPI_ROUNDS 20000u
#define IPI_SENDERS 2u

static _Atomic uint64_t Seen[IPI_SENDERS];
static _Atomic bool StopIpiNoise;

static void *IpiOwnerThread(void *Argument)
{
    (void)Argument;
    for (uint64_t Round = 0; !atomic_load_explicit(&StopOwners, memory_order_acquire); Round++) {
        VIC_CLAIM Claim;
        bool Take = (Round & 1u) != 0;
        IRQ_STATUS Status = Take ? VicTakeInterrupt(Vic, IPI_TARGET, &Claim) : VicClaim(Vic, IPI_TARGET, &Claim);
        if (Status != IRQ_STATUS_SUCCESS) {
            sched_yield();
            continue;
        }
        for (uint32_t Sender = 0; Sender < IPI_SENDERS; Sender++)
            if ((Claim.IpiMessages >> (VicIpiUser + Sender)) & 1u)
                atomic_fetch_add_explicit(&Seen[Sender], 1, memory_order_release);
        if (!Take)
            assert_int_equal(VicEndOfInterrupt(Vic, IPI_TARGET), IRQ_STATUS_SUCCESS);
    }
    return NULL;
}

/* Sends one message and waits until the owner has seen it: a lost message
 * would hang here (and fail by the test's time limit). */
static void *IpiSenderThread(void *Argument)
{
    uint32_t Sender = (uint32_t)(uintptr_t)Argument;
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = IPI_TARGET};
    for (uint64_t Round = 1; Round <= IPI_ROUNDS; Round++) {
        assert_int_equal(VicSendIpi(Vic, &Target, VicIpiUser + Sender), IRQ_STATUS_SUCCESS);
        while (atomic_load_explicit(&Seen[Sender], memory_order_acquire) < Round)
            sched_yield();
        assert_int_equal(atomic_load_explicit(&Seen[Sender], memory_order_acquire), Round);
    }
    return NULL;
}

/* Raises the IPI source with no message, so that sends merge into it. */
static void *IpiNoiseThread(void *Argument)
{
    (void)Argument;
    while (!atomic_load_explicit(&StopIpiNoise, memory_order_acquire)) {
        assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_IPI, IPI_TARGET), IRQ_STATUS_SUCCESS);
        sched_yield();
    }
    return NULL;
}

static void test_ipi_messages_never_lost(void **State)
{
    (void)State;
    Vic = TbCreateAlphaVic(CPUS);
    atomic_store(&StopOwners, false);
    atomic_store(&StopIpiNoise, false);
    for (uint32_t Sender = 0; Sender < IPI_SENDERS; Sender++)
        atomic_store(&Seen[Sender], 0);
    pthread_t Owner, Noise, Senders[IPI_SENDERS];
    assert_int_equal(pthread_create(&Owner, NULL, IpiOwnerThread, NULL), 0);
    assert_int_equal(pthread_create(&Noise, NULL, IpiNoiseThread, NULL), 0);
    for (uint32_t Sender = 0; Sender < IPI_SENDERS; Sender++)
        assert_int_equal(pthread_create(&Senders[Sender], NULL, IpiSenderThread, (void *)(uintptr_t)Sender), 0);
    for (uint32_t Sender = 0; Sender < IPI_SENDERS; Sender++)
        assert_int_equal(pthread_join(Senders[Sender], NULL), 0);
    atomic_store_explicit(&StopIpiNoise, true, memory_order_release);
    assert_int_equal(pthread_join(Noise, NULL), 0);
    atomic_store_explicit(&StopOwners, true, memory_order_release);
    assert_int_equal(pthread_join(Owner, NULL), 0);
    for (uint32_t Sender = 0; Sender < IPI_SENDERS; Sender++) {
        assert_int_equal(atomic_load(&Seen[Sender]), IPI_ROUNDS);
        assert_int_equal(VicQueryIpiCount(Vic, IPI_TARGET, VicIpiUser + Sender), IPI_ROUNDS);
    }
    free(Vic);
}

/* ---- 3. Route changes are atomic for deciders ----------------------------------------------- */

#define ROUTE_CPUS 16u
#define DECIDERS 3u
#define DECISIONS 200000u

static IR_ROUTE *SharedRoute;
static IR_ROUTING_INPUTS SharedInputs;
static _Atomic bool StopWriter;

/* Three configurations; a mixture (say FIXED with A's mask and B's target,
 * or BROADCAST over A's mask) gives a decision none of them can. */
static void ConfigureShape(uint32_t Shape)
{
    IR_CPU_SET Mask;
    IrCpuSetZero(&Mask);
    IR_ROUTE_CONFIG Config = {.Mask = &Mask};
    switch (Shape) {
    case 0: /* A: FIXED to 5 */
        IrCpuSetAdd(&Mask, 5);
        Config.Policy = IrRoutingFixedCpu;
        Config.TargetCpu = 5;
        break;
    case 1: /* B: BROADCAST to 9 and 10 */
        IrCpuSetAdd(&Mask, 9);
        IrCpuSetAdd(&Mask, 10);
        Config.Policy = IrRoutingBroadcast;
        break;
    default: /* C: ROUND_ROBIN over 1 and 2 */
        IrCpuSetAdd(&Mask, 1);
        IrCpuSetAdd(&Mask, 2);
        Config.Policy = IrRoutingRoundRobin;
        break;
    }
    assert_int_equal(IrRouteConfigure(SharedRoute, &Config, &SharedInputs), IRQ_STATUS_SUCCESS);
}

static void *RouteWriterThread(void *Argument)
{
    (void)Argument;
    for (uint32_t Flip = 0; !atomic_load_explicit(&StopWriter, memory_order_acquire); Flip++) {
        ConfigureShape(Flip % 3u);
        if (Flip % 8u == 0)
            sched_yield();
    }
    return NULL;
}

static void *RouteDeciderThread(void *Argument)
{
    uint64_t *Shapes = Argument;
    for (uint32_t Decision = 0; Decision < DECISIONS; Decision++) {
        IR_ROUTING_DECISION Result;
        IR_CPU_SET Cpus;
        assert_int_equal(IrRouteDecide(SharedRoute, &SharedInputs, &Result, &Cpus), IRQ_STATUS_SUCCESS);
        switch (Result.Policy) {
        case IrRoutingFixedCpu:
            assert_int_equal(Result.Cpu, 5);
            Shapes[0]++;
            break;
        case IrRoutingBroadcast:
            assert_int_equal(Result.CpuCount, 2);
            assert_int_equal(Result.Cpu, 9);
            assert_int_equal(IrCpuSetWeight(&Cpus), 2);
            assert_true(IrCpuSetContains(&Cpus, 10));
            Shapes[1]++;
            break;
        case IrRoutingRoundRobin:
            assert_true(Result.Cpu == 1 || Result.Cpu == 2);
            Shapes[2]++;
            break;
        default:
            fail_msg("decision under a policy never configured: %d", (int)Result.Policy);
        }
    }
    return NULL;
}

static void test_route_change_atomic_for_deciders(void **State)
{
    (void)State;
    size_t Size = IrRouteQueryStorageSize(ROUTE_CPUS);
    void *Storage = aligned_alloc(IR_ROUTE_ALIGNMENT, Size);
    assert_int_equal(IrRouteInitialize(Storage, Size, ROUTE_CPUS, &SharedRoute), IRQ_STATUS_SUCCESS);
    SharedInputs = (IR_ROUTING_INPUTS){0};
    ConfigureShape(0);
    atomic_store(&StopWriter, false);
    pthread_t Writer, Deciders[DECIDERS];
    uint64_t Shapes[DECIDERS][3] = {{0}};
    assert_int_equal(pthread_create(&Writer, NULL, RouteWriterThread, NULL), 0);
    for (uint32_t Index = 0; Index < DECIDERS; Index++)
        assert_int_equal(pthread_create(&Deciders[Index], NULL, RouteDeciderThread, Shapes[Index]), 0);
    for (uint32_t Index = 0; Index < DECIDERS; Index++)
        assert_int_equal(pthread_join(Deciders[Index], NULL), 0);
    atomic_store_explicit(&StopWriter, true, memory_order_release);
    assert_int_equal(pthread_join(Writer, NULL), 0);
    uint64_t Total = 0;
    for (uint32_t Index = 0; Index < DECIDERS; Index++)
        Total += Shapes[Index][0] + Shapes[Index][1] + Shapes[Index][2];
    assert_int_equal(Total, (uint64_t)DECIDERS * DECISIONS);
    free(Storage);
}

TB_TEST_MAIN(
    cmocka_unit_test(test_conservation_under_concurrency),
    cmocka_unit_test(test_ipi_messages_never_lost),
    cmocka_unit_test(test_route_change_atomic_for_deciders))
