/* SPDX-License-Identifier: MIT */
/*
 * The routing-policy engine on its own (router.h): each policy's choice
 * (fixed and its offline fallback, round-robin fairness exactly, lowest level
 * with ties rotating, broadcast set, affinity least loaded and sticky),
 * offline CPUs skipped, refused configurations leaving the route unchanged,
 * storage checks, the Windows device-policy mapping; the position rule that
 * ROUND_ROBIN, LOWEST and AFFINITY share (the one Io uses too), and the back
 * ends (IrRouteDecideAndPoint, IrRoutePointAt).
 */
#define _POSIX_C_SOURCE 200809L /* pthread barriers */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <irqroute/router.h>

#include "tb_main.h"

typedef struct _ROUTE_FIXTURE {
    void *Storage;
    IR_ROUTE *Route;
    uint32_t CpuCount;
    IR_CPU_SET Online;
    uint8_t Levels[IR_MAX_CPUS];
    uint32_t Loads[IR_MAX_CPUS];
    IR_ROUTING_INPUTS Inputs;
} ROUTE_FIXTURE;

static ROUTE_FIXTURE *NewFixture(uint32_t CpuCount)
{
    ROUTE_FIXTURE *Fixture = calloc(1, sizeof(*Fixture));
    assert_non_null(Fixture);
    size_t Size = IrRouteQueryStorageSize(CpuCount);
    assert_true(Size > 0);
    Fixture->Storage = aligned_alloc(IR_ROUTE_ALIGNMENT, Size);
    assert_non_null(Fixture->Storage);
    assert_int_equal(IrRouteInitialize(Fixture->Storage, Size, CpuCount, &Fixture->Route), IRQ_STATUS_SUCCESS);
    Fixture->CpuCount = CpuCount;
    IrCpuSetFill(&Fixture->Online, CpuCount);
    Fixture->Inputs.Online = &Fixture->Online;
    Fixture->Inputs.Levels = Fixture->Levels;
    Fixture->Inputs.Loads = Fixture->Loads;
    return Fixture;
}

static void FreeFixture(ROUTE_FIXTURE *Fixture)
{
    free(Fixture->Storage);
    free(Fixture);
}

static int Setup8(void **State)
{
    *State = NewFixture(8);
    return 0;
}

static int Teardown(void **State)
{
    FreeFixture(*State);
    return 0;
}

static IR_CPU_SET SetOf(const uint32_t *Cpus, size_t Count)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    for (size_t Index = 0; Index < Count; Index++)
        IrCpuSetAdd(&Set, Cpus[Index]);
    return Set;
}

static IRQ_STATUS Configure(ROUTE_FIXTURE *Fixture, IR_ROUTING_POLICY Policy, uint32_t Target, const IR_CPU_SET *Mask)
{
    IR_ROUTE_CONFIG Config = {.Policy = Policy, .TargetCpu = Target, .Mask = Mask};
    return IrRouteConfigure(Fixture->Route, &Config, &Fixture->Inputs);
}

static uint32_t Decide(ROUTE_FIXTURE *Fixture)
{
    IR_ROUTING_DECISION Decision;
    assert_int_equal(IrRouteDecide(Fixture->Route, &Fixture->Inputs, &Decision, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decision.CpuCount, 1);
    return Decision.Cpu;
}

/* ---- FIXED ---------------------------------------------------------------------- */

static void test_default_is_fixed_cpu_zero(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    IR_ROUTING_POLICY Policy;
    uint32_t Target = 99;
    IR_CPU_SET Mask, All;
    assert_int_equal(IrRouteQueryConfig(Fixture->Route, &Policy, &Target, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(Policy, IrRoutingFixedCpu);
    assert_int_equal(Target, 0);
    IrCpuSetFill(&All, 8);
    assert_true(IrCpuSetEqual(&Mask, &All));
    for (int Round = 0; Round < 5; Round++)
        assert_int_equal(Decide(Fixture), 0);
}

static void test_fixed_goes_to_its_target(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 5, NULL), IRQ_STATUS_SUCCESS);
    for (int Round = 0; Round < 5; Round++)
        assert_int_equal(Decide(Fixture), 5);
}

/* An offline target is skipped: the next online CPU of the mask after it. */
static void test_fixed_skips_offline_target(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {1, 3, 6};
    IR_CPU_SET Mask = SetOf(Cpus, 3);
    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 6, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decide(Fixture), 6);
    IrCpuSetRemove(&Fixture->Online, 6);
    assert_int_equal(Decide(Fixture), 1); /* wraps past the end */
    IrCpuSetRemove(&Fixture->Online, 1);
    assert_int_equal(Decide(Fixture), 3);
    IrCpuSetAdd(&Fixture->Online, 6);
    assert_int_equal(Decide(Fixture), 6);
}

/* ---- ROUND_ROBIN ------------------------------------------------------------------- */

static void test_round_robin_exactly_fair(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {1, 2, 5, 7};
    IR_CPU_SET Mask = SetOf(Cpus, 4);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, &Mask), IRQ_STATUS_SUCCESS);
    uint32_t Counts[8] = {0};
    for (uint32_t K = 1; K <= 25; K++) {
        for (int Step = 0; Step < 4; Step++)
            Counts[Decide(Fixture)]++;
        /* After k*n decisions every CPU of the mask got exactly k, no other any. */
        for (uint32_t Cpu = 0; Cpu < 8; Cpu++)
            assert_int_equal(Counts[Cpu], IrCpuSetContains(&Mask, Cpu) ? K : 0);
    }
}

static void test_round_robin_rotates_in_order(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    for (uint32_t Step = 0; Step < 24; Step++)
        assert_int_equal(Decide(Fixture), Step % 8);
}

static void test_round_robin_skips_offline(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {0, 1, 2, 3};
    IR_CPU_SET Mask = SetOf(Cpus, 4);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, &Mask), IRQ_STATUS_SUCCESS);
    IrCpuSetRemove(&Fixture->Online, 2);
    uint32_t Counts[8] = {0};
    for (int Step = 0; Step < 30; Step++)
        Counts[Decide(Fixture)]++;
    for (uint32_t Cpu = 0; Cpu < 8; Cpu++)
        assert_int_equal(Counts[Cpu], Cpu < 4 && Cpu != 2 ? 10 : 0); /* the online CPUs of the mask, in turn */
}

/* ---- LOWEST_PRIORITY --------------------------------------------------------------- */

/* The first eight CPUs' IRQLs, as the router's caller reports them. */
static void LevelsAre(ROUTE_FIXTURE *Fixture, const uint8_t Levels[8])
{
    for (int Cpu = 0; Cpu < 8; Cpu++)
        Fixture->Levels[Cpu] = Levels[Cpu];
}

static void test_lowest_picks_lowest_level(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint8_t Levels[8] = {9, 7, 3, 8, 4, 6, 5, 9};
    LevelsAre(Fixture, Levels);
    assert_int_equal(Configure(Fixture, IrRoutingLowestPriority, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decide(Fixture), 2);
    assert_int_equal(Decide(Fixture), 2); /* no tie: stays */
    Fixture->Levels[2] = 10;
    assert_int_equal(Decide(Fixture), 4);
}

static void test_lowest_ties_rotate(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint8_t Levels[8] = {5, 2, 6, 2, 7, 2, 9, 9};
    LevelsAre(Fixture, Levels);
    assert_int_equal(Configure(Fixture, IrRoutingLowestPriority, 0, NULL), IRQ_STATUS_SUCCESS);
    static const uint32_t Expected[] = {1, 3, 5, 1, 3, 5, 1};
    for (size_t Step = 0; Step < sizeof(Expected) / sizeof(Expected[0]); Step++)
        assert_int_equal(Decide(Fixture), Expected[Step]);
}

static void test_lowest_all_equal_rotates_over_mask(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {2, 4, 6};
    IR_CPU_SET Mask = SetOf(Cpus, 3);
    assert_int_equal(Configure(Fixture, IrRoutingLowestPriority, 0, &Mask), IRQ_STATUS_SUCCESS);
    for (int Step = 0; Step < 9; Step++)
        assert_int_equal(Decide(Fixture), Cpus[Step % 3]);
}

static void test_lowest_skips_offline(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    LevelsAre(Fixture, (const uint8_t[8]){8, 8, 8, 8, 8, 8, 8, 8});
    Fixture->Levels[3] = 1;
    assert_int_equal(Configure(Fixture, IrRoutingLowestPriority, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decide(Fixture), 3);
    IrCpuSetRemove(&Fixture->Online, 3);
    uint32_t Cpu = Decide(Fixture);
    assert_int_not_equal(Cpu, 3);
    assert_int_equal(Fixture->Levels[Cpu], 8);
}

/* ---- BROADCAST ------------------------------------------------------------------- */

static void test_broadcast_names_every_online_cpu_of_mask(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {1, 4, 5, 7};
    IR_CPU_SET Mask = SetOf(Cpus, 4);
    assert_int_equal(Configure(Fixture, IrRoutingBroadcast, 0, &Mask), IRQ_STATUS_SUCCESS);
    IrCpuSetRemove(&Fixture->Online, 5);
    IR_ROUTING_DECISION Decision;
    IR_CPU_SET Result;
    IrCpuSetFill(&Result, IR_MAX_CPUS); /* must be overwritten entirely */
    assert_int_equal(IrRouteDecide(Fixture->Route, &Fixture->Inputs, &Decision, &Result), IRQ_STATUS_SUCCESS);
    static const uint32_t ExpectedCpus[] = {1, 4, 7};
    IR_CPU_SET Expected = SetOf(ExpectedCpus, 3);
    assert_true(IrCpuSetEqual(&Result, &Expected));
    assert_int_equal(Decision.Policy, IrRoutingBroadcast);
    assert_int_equal(Decision.CpuCount, 3);
    assert_int_equal(Decision.Cpu, 1);
}

/* A non-broadcast decision leaves the caller's set alone. */
static void test_single_cpu_decision_leaves_set_untouched(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    IR_CPU_SET Result, Copy;
    static const uint32_t Cpus[] = {3, 60};
    Result = SetOf(Cpus, 2);
    Copy = Result;
    IR_ROUTING_DECISION Decision;
    assert_int_equal(IrRouteDecide(Fixture->Route, &Fixture->Inputs, &Decision, &Result), IRQ_STATUS_SUCCESS);
    assert_true(IrCpuSetEqual(&Result, &Copy));
}

/* ---- AFFINITY --------------------------------------------------------------------- */

/* The first eight CPUs' loads (interrupts routed there). */
static void LoadsAre(ROUTE_FIXTURE *Fixture, const uint32_t Loads[8])
{
    for (int Cpu = 0; Cpu < 8; Cpu++)
        Fixture->Loads[Cpu] = Loads[Cpu];
}

static void test_affinity_least_loaded(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Loads[8] = {5, 3, 4, 2, 6, 9, 2, 7};
    LoadsAre(Fixture, Loads);
    static const uint32_t Cpus[] = {0, 1, 2, 4};
    IR_CPU_SET Mask = SetOf(Cpus, 4);
    assert_int_equal(Configure(Fixture, IrRoutingAffinity, 0, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decide(Fixture), 1); /* 3 and 6 are lighter but outside the mask */
    Fixture->Loads[1] = 8;
    assert_int_equal(Decide(Fixture), 2);
}

/* Among equally loaded CPUs the previous choice stays (warm caches). */
static void test_affinity_sticks_on_ties(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    LoadsAre(Fixture, (const uint32_t[8]){4, 4, 4, 4, 4, 4, 4, 4});
    assert_int_equal(Configure(Fixture, IrRoutingAffinity, 0, NULL), IRQ_STATUS_SUCCESS);
    uint32_t First = Decide(Fixture);
    for (int Step = 0; Step < 5; Step++)
        assert_int_equal(Decide(Fixture), First);
    Fixture->Loads[6] = 1;
    assert_int_equal(Decide(Fixture), 6);
    Fixture->Loads[6] = 4;
    assert_int_equal(Decide(Fixture), 6);
}

static void test_affinity_skips_offline(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    LoadsAre(Fixture, (const uint32_t[8]){5, 5, 5, 5, 5, 5, 5, 5});
    Fixture->Loads[4] = 0;
    assert_int_equal(Configure(Fixture, IrRoutingAffinity, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decide(Fixture), 4);
    IrCpuSetRemove(&Fixture->Online, 4);
    assert_int_not_equal(Decide(Fixture), 4);
}

/* ---- Refused configurations and decisions ------------------------------------------------ */

static void AssertConfig(ROUTE_FIXTURE *Fixture, IR_ROUTING_POLICY Policy, uint32_t Target, const IR_CPU_SET *Mask)
{
    IR_ROUTING_POLICY NowPolicy;
    uint32_t NowTarget;
    IR_CPU_SET NowMask;
    assert_int_equal(IrRouteQueryConfig(Fixture->Route, &NowPolicy, &NowTarget, &NowMask), IRQ_STATUS_SUCCESS);
    assert_int_equal(NowPolicy, Policy);
    assert_int_equal(NowTarget, Target);
    assert_true(IrCpuSetEqual(&NowMask, Mask));
}

static void test_refusals_leave_route_unchanged(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {2, 3};
    IR_CPU_SET Mask = SetOf(Cpus, 2);
    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 3, &Mask), IRQ_STATUS_SUCCESS);

    IR_CPU_SET Empty;
    IrCpuSetZero(&Empty);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, &Empty), IRQ_STATUS_EMPTY_AFFINITY);
    static const uint32_t OfflineCpus[] = {6, 7};
    IR_CPU_SET Offline = SetOf(OfflineCpus, 2);
    IrCpuSetRemove(&Fixture->Online, 6);
    IrCpuSetRemove(&Fixture->Online, 7);
    assert_int_equal(Configure(Fixture, IrRoutingAffinity, 0, &Offline), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 8, NULL), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 7, NULL), IRQ_STATUS_INVALID_CPU); /* offline */
    static const uint32_t OutOfRange[] = {1, 8};
    IR_CPU_SET TooBig = SetOf(OutOfRange, 2);
    assert_int_equal(Configure(Fixture, IrRoutingBroadcast, 0, &TooBig), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Configure(Fixture, (IR_ROUTING_POLICY)IrRoutingPolicyCount, 0, NULL),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrRouteConfigure(Fixture->Route, NULL, &Fixture->Inputs), IRQ_STATUS_INVALID_PARAMETER);

    AssertConfig(Fixture, IrRoutingFixedCpu, 3, &Mask);
    assert_int_equal(Decide(Fixture), 3);
}

static void test_decision_with_every_cpu_offline_is_refused(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {2, 3};
    IR_CPU_SET Mask = SetOf(Cpus, 2);
    for (IR_ROUTING_POLICY Policy = 0; Policy < IrRoutingPolicyCount; Policy++) {
        IrCpuSetFill(&Fixture->Online, 8);
        assert_int_equal(Configure(Fixture, Policy, 2, &Mask), IRQ_STATUS_SUCCESS);
        IrCpuSetRemove(&Fixture->Online, 2);
        IrCpuSetRemove(&Fixture->Online, 3);
        IR_ROUTING_DECISION Decision;
        assert_int_equal(IrRouteDecide(Fixture->Route, &Fixture->Inputs, &Decision, NULL),
                         IRQ_STATUS_EMPTY_AFFINITY);
        assert_int_equal(Decision.CpuCount, 0);
    }
    assert_int_equal(IrRouteDecide(NULL, &Fixture->Inputs, NULL, NULL), IRQ_STATUS_INVALID_PARAMETER);
}

static void test_storage_checks(void **State)
{
    (void)State;
    assert_int_equal(IrRouteQueryStorageSize(0), 0);
    assert_int_equal(IrRouteQueryStorageSize(IR_MAX_CPUS + 1u), 0);
    size_t Size = IrRouteQueryStorageSize(4);
    void *Storage = aligned_alloc(IR_ROUTE_ALIGNMENT, Size + IR_ROUTE_ALIGNMENT);
    IR_ROUTE *Route = NULL;
    assert_int_equal(IrRouteInitialize(Storage, Size - 1u, 4, &Route), IRQ_STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(IrRouteInitialize((char *)Storage + 8, Size, 4, &Route), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrRouteInitialize(Storage, Size, 0, &Route), IRQ_STATUS_INVALID_CPU);
    assert_null(Route);
    assert_int_equal(IrRouteInitialize(Storage, Size, 4, &Route), IRQ_STATUS_SUCCESS);
    assert_ptr_equal(Route, Storage);
    free(Storage);
}

/* ---- 4096 CPUs: word edges ------------------------------------------------------------- */

static void test_many_cpus_word_edges(void **State)
{
    (void)State;
    ROUTE_FIXTURE *Fixture = NewFixture(IR_MAX_CPUS);
    static const uint32_t Cpus[] = {63, 64, 2047, 4095};
    IR_CPU_SET Mask = SetOf(Cpus, 4);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, &Mask), IRQ_STATUS_SUCCESS);
    for (int Step = 0; Step < 8; Step++)
        assert_int_equal(Decide(Fixture), Cpus[Step % 4]);
    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 4095, &Mask), IRQ_STATUS_SUCCESS);
    IrCpuSetRemove(&Fixture->Online, 4095);
    assert_int_equal(Decide(Fixture), 63); /* the fallback wraps from the last CPU */
    for (uint32_t Cpu = 0; Cpu < IR_MAX_CPUS; Cpu++)
        Fixture->Levels[Cpu] = 3;
    Fixture->Levels[2047] = 1;
    assert_int_equal(Configure(Fixture, IrRoutingLowestPriority, 0, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decide(Fixture), 2047);
    FreeFixture(Fixture);
}

/* Every position of a full word and across words: 130 CPUs in order, twice. */
static void test_round_robin_visits_every_cpu_in_order(void **State)
{
    (void)State;
    ROUTE_FIXTURE *Fixture = NewFixture(130);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    for (uint32_t Step = 0; Step < 260; Step++)
        assert_int_equal(Decide(Fixture), Step % 130u);
    /* Every other CPU offline: the rest in order. */
    for (uint32_t Cpu = 1; Cpu < 130; Cpu += 2)
        IrCpuSetRemove(&Fixture->Online, Cpu);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    for (uint32_t Step = 0; Step < 130; Step++)
        assert_int_equal(Decide(Fixture), (2u * Step) % 130u);
    FreeFixture(Fixture);
}

/* ---- Windows IRQ_DEVICE_POLICY -------------------------------------------------------- */

static void test_device_policies_map(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    IR_ROUTE_CONFIG Config;
    IR_CPU_SET Mask;
    static const uint32_t CloseCpus[] = {4, 5, 6, 7};
    IR_CPU_SET Close = SetOf(CloseCpus, 4);
    static const uint32_t SpecifiedCpus[] = {1, 2};
    IR_CPU_SET Specified = SetOf(SpecifiedCpus, 2);
    IR_DEVICE_POLICY_REQUEST Request = {.Close = &Close, .Specified = &Specified};

    Request.Policy = IrqPolicyMachineDefault;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Config.Policy, IrRoutingFixedCpu);
    assert_int_equal(Config.TargetCpu, 0);

    Request.Policy = IrqPolicyAllCloseProcessors;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Config.Policy, IrRoutingAffinity);
    assert_true(IrCpuSetEqual(Config.Mask, &Close));

    IrCpuSetRemove(&Fixture->Online, 4);
    Request.Policy = IrqPolicyOneCloseProcessor;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Config.Policy, IrRoutingFixedCpu);
    assert_int_equal(Config.TargetCpu, 5); /* the first online close CPU */

    Request.Policy = IrqPolicyAllProcessorsInMachine;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Config.Policy, IrRoutingAffinity);
    assert_int_equal(IrCpuSetWeight(Config.Mask), 7);

    Request.Policy = IrqPolicySpecifiedProcessors;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Config.Policy, IrRoutingAffinity);
    assert_true(IrCpuSetEqual(Config.Mask, &Specified));

    /* Messages 0..6 of a device land on the 7 online CPUs once each; 7 wraps. */
    Request.Policy = IrqPolicySpreadMessagesAcrossAllProcessors;
    IR_CPU_SET Seen;
    IrCpuSetZero(&Seen);
    for (uint32_t Message = 0; Message < 7; Message++) {
        Request.MessageIndex = Message;
        assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                         IRQ_STATUS_SUCCESS);
        assert_int_equal(Config.Policy, IrRoutingFixedCpu);
        assert_false(IrCpuSetContains(&Seen, Config.TargetCpu));
        IrCpuSetAdd(&Seen, Config.TargetCpu);
    }
    assert_false(IrCpuSetContains(&Seen, 4));
    Request.MessageIndex = 7;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Config.TargetCpu, 0);

    /* Refusals leave the caller's config alone. */
    IR_ROUTE_CONFIG Before = Config;
    Request.Policy = IrqPolicySpecifiedProcessors;
    Request.Specified = NULL;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_INVALID_PARAMETER);
    IR_CPU_SET OfflineClose;
    IrCpuSetZero(&OfflineClose);
    IrCpuSetAdd(&OfflineClose, 4);
    Request.Policy = IrqPolicyOneCloseProcessor;
    Request.Close = &OfflineClose;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_EMPTY_AFFINITY);
    Request.Policy = IrqPolicyCount;
    assert_int_equal(IrRouteConfigFromDevicePolicy(Fixture->Route, &Request, &Fixture->Inputs, &Config, &Mask),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(Config.Policy, Before.Policy);
    assert_int_equal(Config.TargetCpu, Before.TargetCpu);
}

/* ---- The position: one rotation rule for every consumer ------------------------------- */

/* ROUND_ROBIN goes on after the previous choice: a CPU that goes offline
 * mid-rotation is skipped and the order is kept (no CPU skipped or repeated
 * because the count of candidates changed). */
static void test_round_robin_goes_on_after_previous_choice(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {0, 1, 2, 3};
    IR_CPU_SET Mask = SetOf(Cpus, 4);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(Decide(Fixture), 0);
    assert_int_equal(Decide(Fixture), 1);
    assert_int_equal(Decide(Fixture), 2);
    IrCpuSetRemove(&Fixture->Online, 1);
    static const uint32_t After[] = {3, 0, 2, 3, 0, 2};
    for (uint32_t Step = 0; Step < 6; Step++)
        assert_int_equal(Decide(Fixture), After[Step]);
    IrCpuSetAdd(&Fixture->Online, 1); /* back: it is next after 0 again */
    assert_int_equal(Decide(Fixture), 3);
    assert_int_equal(Decide(Fixture), 0);
    assert_int_equal(Decide(Fixture), 1);
}

/* Concurrent deciders: each decision is one step of one rotation, so after
 * k*n decisions in all each CPU got exactly k, however they interleaved. */
enum { RACE_THREADS = 4, RACE_DECISIONS = 100000 };

static pthread_barrier_t RaceStart;

typedef struct _RACE {
    ROUTE_FIXTURE *Fixture;
    uint32_t Counts[8];
} RACE;

static void *RaceDecider(void *Argument)
{
    RACE *Race = Argument;
    (void)pthread_barrier_wait(&RaceStart); /* all decide at once */
    for (uint32_t Step = 0; Step < RACE_DECISIONS; Step++) {
        IR_ROUTING_DECISION Decision;
        if (IrRouteDecide(Race->Fixture->Route, &Race->Fixture->Inputs, &Decision, NULL) != IRQ_STATUS_SUCCESS ||
            Decision.Cpu >= 8)
            return Argument; /* checked by the joiner */
        Race->Counts[Decision.Cpu]++;
    }
    return NULL;
}

static void test_round_robin_exact_with_concurrent_deciders(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {1, 2, 5, 7};
    IR_CPU_SET Mask = SetOf(Cpus, 4);
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, &Mask), IRQ_STATUS_SUCCESS);
    RACE Races[RACE_THREADS] = {{0}};
    pthread_t Threads[RACE_THREADS];
    assert_int_equal(pthread_barrier_init(&RaceStart, NULL, RACE_THREADS), 0);
    for (uint32_t Index = 0; Index < RACE_THREADS; Index++) {
        Races[Index].Fixture = Fixture;
        assert_int_equal(pthread_create(&Threads[Index], NULL, RaceDecider, &Races[Index]), 0);
    }
    uint32_t Counts[8] = {0};
    for (uint32_t Index = 0; Index < RACE_THREADS; Index++) {
        void *Result;
        assert_int_equal(pthread_join(Threads[Index], &Result), 0);
        assert_null(Result);
        for (uint32_t Cpu = 0; Cpu < 8; Cpu++)
            Counts[Cpu] += Races[Index].Counts[Cpu];
    }
    (void)pthread_barrier_destroy(&RaceStart);
    for (uint32_t Cpu = 0; Cpu < 8; Cpu++)
        assert_int_equal(Counts[Cpu], IrCpuSetContains(&Mask, Cpu) ? RACE_THREADS * RACE_DECISIONS / 4 : 0);
}

/* ---- Back ends -------------------------------------------------------------------------- */

typedef struct _TEST_SOURCE {
    uint32_t Cpu;          /* where the source points */
    uint32_t Calls;
    uint32_t SetCalls;
    IR_CPU_SET Set;
    IRQ_STATUS Fail;       /* what PointAt returns (it then leaves Cpu alone) */
} TEST_SOURCE;

static IRQ_STATUS TestPointAt(void *Source, uint32_t Cpu)
{
    TEST_SOURCE *Test = Source;
    Test->Calls++;
    if (Test->Fail != IRQ_STATUS_SUCCESS)
        return Test->Fail;
    Test->Cpu = Cpu;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS TestPointAtSet(void *Source, const IR_CPU_SET *Cpus)
{
    TEST_SOURCE *Test = Source;
    Test->SetCalls++;
    IrCpuSetCopy(&Test->Set, Cpus);
    return IRQ_STATUS_SUCCESS;
}

static const IR_ROUTE_BACKEND TestBackend = {.PointAt = TestPointAt};
static const IR_ROUTE_BACKEND TestBroadcaster = {.PointAt = TestPointAt, .PointAtSet = TestPointAtSet};

static uint32_t DecideAndPoint(ROUTE_FIXTURE *Fixture, TEST_SOURCE *Source)
{
    IR_ROUTING_DECISION Decision;
    assert_int_equal(IrRouteDecideAndPoint(Fixture->Route, &Fixture->Inputs, &TestBackend, Source, &Decision),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Source->Cpu, Decision.Cpu);
    return Decision.Cpu;
}

/* The decision is carried out by the back end; a failed move puts the
 * position back, so the next decision makes the same choice again. */
static void test_decide_and_point(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    TEST_SOURCE Source = {.Cpu = IR_CPU_NONE};
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(DecideAndPoint(Fixture, &Source), 0);
    assert_int_equal(DecideAndPoint(Fixture, &Source), 1);
    Source.Fail = IRQ_STATUS_NOT_CONNECTED;
    IR_ROUTING_DECISION Decision;
    assert_int_equal(IrRouteDecideAndPoint(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, &Decision),
                     IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(Source.Cpu, 1);
    Source.Fail = IRQ_STATUS_SUCCESS;
    assert_int_equal(DecideAndPoint(Fixture, &Source), 2); /* not 3: the failed step was undone */
    assert_int_equal(Source.Calls, 4);

    /* BROADCAST: the set, to a back end that can broadcast; refused otherwise. */
    static const uint32_t Cpus[] = {2, 6};
    IR_CPU_SET Mask = SetOf(Cpus, 2);
    assert_int_equal(Configure(Fixture, IrRoutingBroadcast, 0, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrRouteDecideAndPoint(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, &Decision),
                     IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(Source.Calls, 4);
    assert_int_equal(IrRouteDecideAndPoint(Fixture->Route, &Fixture->Inputs, &TestBroadcaster, &Source, &Decision),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Source.SetCalls, 1);
    assert_true(IrCpuSetEqual(&Source.Set, &Mask));
    assert_int_equal(Source.Calls, 4);

    IR_ROUTE_BACKEND NoPointAt = {0};
    assert_int_equal(IrRouteDecideAndPoint(Fixture->Route, &Fixture->Inputs, &NoPointAt, &Source, &Decision),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrRouteDecideAndPoint(Fixture->Route, &Fixture->Inputs, NULL, &Source, &Decision),
                     IRQ_STATUS_INVALID_PARAMETER);
}

/* An explicit move keeps the route in step with the source: under
 * ROUND_ROBIN the rotation goes on after it, LOWEST's ties rotate from it,
 * AFFINITY keeps it on ties, and a FIXED_CPU target becomes it. */
static void test_point_at_moves_the_position(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    TEST_SOURCE Source = {.Cpu = 0};
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 5), IRQ_STATUS_SUCCESS);
    assert_int_equal(Source.Cpu, 5);
    assert_int_equal(DecideAndPoint(Fixture, &Source), 6);
    assert_int_equal(DecideAndPoint(Fixture, &Source), 7);
    assert_int_equal(DecideAndPoint(Fixture, &Source), 0);

    assert_int_equal(Configure(Fixture, IrRoutingLowestPriority, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 3), IRQ_STATUS_SUCCESS);
    assert_int_equal(DecideAndPoint(Fixture, &Source), 4); /* all at 0: the first after 3 */

    assert_int_equal(Configure(Fixture, IrRoutingAffinity, 0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 6), IRQ_STATUS_SUCCESS);
    assert_int_equal(DecideAndPoint(Fixture, &Source), 6); /* all equal: it stays */

    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 2, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 4), IRQ_STATUS_SUCCESS);
    IR_ROUTING_POLICY Policy;
    uint32_t Target;
    IR_CPU_SET Mask, All;
    assert_int_equal(IrRouteQueryConfig(Fixture->Route, &Policy, &Target, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(Policy, IrRoutingFixedCpu);
    assert_int_equal(Target, 4);
    IrCpuSetFill(&All, 8);
    assert_true(IrCpuSetEqual(&Mask, &All)); /* the mask is kept */
    assert_int_equal(DecideAndPoint(Fixture, &Source), 4);
}

/* Refused moves: a status, the source not touched, the route unchanged. */
static void test_point_at_refusals_change_nothing(void **State)
{
    ROUTE_FIXTURE *Fixture = *State;
    static const uint32_t Cpus[] = {1, 2, 3};
    IR_CPU_SET Mask = SetOf(Cpus, 3);
    TEST_SOURCE Source = {.Cpu = 2};
    assert_int_equal(Configure(Fixture, IrRoutingFixedCpu, 2, &Mask), IRQ_STATUS_SUCCESS);
    IrCpuSetRemove(&Fixture->Online, 3);
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 0),
                     IRQ_STATUS_INVALID_CPU); /* outside the mask */
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 3),
                     IRQ_STATUS_INVALID_CPU); /* offline */
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 8),
                     IRQ_STATUS_INVALID_CPU); /* beyond the route */
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, IR_CPU_NONE),
                     IRQ_STATUS_INVALID_CPU);
    assert_int_equal(IrRoutePointAt(NULL, &Fixture->Inputs, &TestBackend, &Source, 1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, NULL, &Source, 1),
                     IRQ_STATUS_INVALID_PARAMETER);
    Source.Fail = IRQ_STATUS_NOT_CONNECTED;
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 1),
                     IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(Source.Calls, 1);
    assert_int_equal(Source.Cpu, 2);
    uint32_t Target;
    assert_int_equal(IrRouteQueryConfig(Fixture->Route, NULL, &Target, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Target, 2);
    assert_int_equal(Decide(Fixture), 2);

    /* A failed move under ROUND_ROBIN leaves the rotation where it was. */
    Source.Fail = IRQ_STATUS_SUCCESS;
    assert_int_equal(Configure(Fixture, IrRoutingRoundRobin, 0, &Mask), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 1), IRQ_STATUS_SUCCESS);
    Source.Fail = IRQ_STATUS_NOT_CONNECTED;
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 2),
                     IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(Decide(Fixture), 2); /* after 1, not after 2 */

    assert_int_equal(Configure(Fixture, IrRoutingBroadcast, 0, &Mask), IRQ_STATUS_SUCCESS);
    Source.Fail = IRQ_STATUS_SUCCESS;
    uint32_t Calls = Source.Calls;
    assert_int_equal(IrRoutePointAt(Fixture->Route, &Fixture->Inputs, &TestBackend, &Source, 1),
                     IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(Source.Calls, Calls);
}

/* The spread rule: the (i mod n)-th CPU of the set. */
static void test_spread_cpu(void **State)
{
    (void)State;
    static const uint32_t Cpus[] = {3, 64, 100};
    IR_CPU_SET Set = SetOf(Cpus, 3);
    for (uint32_t Index = 0; Index < 9; Index++)
        assert_int_equal(IrRouteSpreadCpu(&Set, Index), Cpus[Index % 3]);
    IR_CPU_SET Empty;
    IrCpuSetZero(&Empty);
    assert_int_equal(IrRouteSpreadCpu(&Empty, 0), IR_CPU_NONE);
    assert_int_equal(IrRouteSpreadCpu(NULL, 0), IR_CPU_NONE);
}

/* A cmocka test run on a fresh eight-CPU router (Setup8). */
#define ROUTER_TEST(Test) cmocka_unit_test_setup_teardown(Test, Setup8, Teardown)

TB_TEST_MAIN(
    ROUTER_TEST(test_default_is_fixed_cpu_zero),
    ROUTER_TEST(test_fixed_goes_to_its_target),
    ROUTER_TEST(test_fixed_skips_offline_target),
    ROUTER_TEST(test_round_robin_exactly_fair),
    ROUTER_TEST(test_round_robin_rotates_in_order),
    ROUTER_TEST(test_round_robin_skips_offline),
    ROUTER_TEST(test_lowest_picks_lowest_level),
    ROUTER_TEST(test_lowest_ties_rotate),
    ROUTER_TEST(test_lowest_all_equal_rotates_over_mask),
    ROUTER_TEST(test_lowest_skips_offline),
    ROUTER_TEST(test_broadcast_names_every_online_cpu_of_mask),
    ROUTER_TEST(test_single_cpu_decision_leaves_set_untouched),
    ROUTER_TEST(test_affinity_least_loaded),
    ROUTER_TEST(test_affinity_sticks_on_ties),
    ROUTER_TEST(test_affinity_skips_offline),
    ROUTER_TEST(test_refusals_leave_route_unchanged),
    ROUTER_TEST(test_decision_with_every_cpu_offline_is_refused),
    cmocka_unit_test(test_storage_checks),
    cmocka_unit_test(test_many_cpus_word_edges),
    cmocka_unit_test(test_round_robin_visits_every_cpu_in_order),
    ROUTER_TEST(test_device_policies_map),
    ROUTER_TEST(test_round_robin_goes_on_after_previous_choice),
    ROUTER_TEST(test_round_robin_exact_with_concurrent_deciders),
    ROUTER_TEST(test_decide_and_point),
    ROUTER_TEST(test_point_at_moves_the_position),
    ROUTER_TEST(test_point_at_refusals_change_nothing),
    cmocka_unit_test(test_spread_cpu))
