/* SPDX-License-Identifier: MIT */
/*
 * The processor registry (src/hl/processor.c) and target resolution
 * (src/hl/target.c) on the sim.
 *
 * The sim is created bare (no Ke/Io). Each CPU registers the APIC id the sim
 * gave it (2n+1 by default, so never its index) and initialises its local
 * APIC through the driver on its own attached thread, which is where the
 * logical ids come from: xAPIC flat model 1 << n for CPUs 0-7 and nothing
 * for the others (SDM vol. 3A 11.6.2.2); x2APIC the derived LDR, cluster
 * id >> 4 in bits 31:16 and 1 << (id & 0xF) below (11.12.10.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "sim.h"
#include "testbed.h"
#include "tb_main.h"

#define HOME_CPU 0u
#define NO_CPU 0xFFFFFFFFu

static const HL_DESTINATION Sentinel = {.Destination = 0xDEAD, .Logical = true, .DeliveryMode = HlDeliveryNmi};

/* ---- Fixture ------------------------------------------------------------------------ */

/* The machines the tests run on (TB_HARDWARE_TEST). */
static const SIM_CONFIG Four = {.CpuCount = 4};
static const SIM_CONFIG Ten = {.CpuCount = 10};
static const SIM_CONFIG X2ApicFour = {.CpuCount = 4, .X2ApicSupported = true};
static const SIM_CONFIG X2Apic40 = {.CpuCount = 40, .X2ApicSupported = true};

/* Four CPUs, CPU 3 registered but its local APIC never initialised. */
static int SetupFourLapic3Down(void **State)
{
    (void)State;
    TbStartHardwareLayer(&Four);
    TbStartHardwareCpus(Four.CpuCount, 3);
    return 0;
}

/* x2APIC ids on both sides of what an 8-bit device destination can name. */
static const uint32_t WideApicIds[] = {0x01, 0xFE, 0xFF, 0x100, 0x12345};
#define WIDE_CPUS 5u

static const SIM_CONFIG X2ApicWide = {.CpuCount = WIDE_CPUS, .X2ApicSupported = true, .ApicIds = WideApicIds};

/* ---- Helpers ------------------------------------------------------------------------- */

static IR_CPU_SET Set;

static const IR_CPU_SET *MakeSet(uint64_t Cpus)
{
    IrCpuSetZero(&Set);
    IrCpuSetFromAffinity(&Set, Cpus);
    return &Set;
}

static IRQ_STATUS Resolve(HL_INTERRUPT_TARGET Target, HL_DESTINATION *Destination)
{
    *Destination = Sentinel;
    return HlResolveTarget(&Target, Destination);
}

/* Target resolves to Destination: logical or physical, with Mode. */
static void AssertResolves(HL_INTERRUPT_TARGET Target, uint32_t Destination, bool Logical, HL_DELIVERY_MODE Mode)
{
    HL_DESTINATION Resolved;
    assert_int_equal(Resolve(Target, &Resolved), IRQ_STATUS_SUCCESS);
    assert_int_equal(Resolved.Destination, Destination);
    assert_int_equal(Resolved.Logical, Logical);
    assert_int_equal(Resolved.DeliveryMode, Mode);
}

/* A physical target: one CPU, fixed delivery. */
static HL_INTERRUPT_TARGET CpuTarget(uint32_t Cpu)
{
    return (HL_INTERRUPT_TARGET){.Kind = HlTargetCpu, .Cpu = Cpu};
}

static void AssertFails(HL_INTERRUPT_TARGET Target, IRQ_STATUS Expected)
{
    HL_DESTINATION Destination;
    assert_int_equal(Resolve(Target, &Destination), Expected);
    assert_int_equal(Destination.Destination, Sentinel.Destination);
    assert_int_equal(Destination.Logical, Sentinel.Logical);
    assert_int_equal(Destination.DeliveryMode, Sentinel.DeliveryMode);
}

static HL_INTERRUPT_TARGET FixedSet(uint64_t Cpus)
{
    return (HL_INTERRUPT_TARGET){.Kind = HlTargetCpuSetFixed, .CpuSet = MakeSet(Cpus)};
}

/* SDM 11.12.10.2: the x2APIC logical id derived from the x2APIC id. */
static uint32_t X2ApicLogicalId(uint32_t ApicId)
{
    return (ApicId >> 4) << 16 | 1u << (ApicId & 0xFu);
}

/* ---- Registry -------------------------------------------------------------------------- */

static void test_registry_records_apic_ids(void **State)
{
    (void)State;
    assert_int_equal(HlGetProcessorLimit(), 4);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        uint32_t ApicId = 0;
        uint32_t Found = NO_CPU;
        assert_true(HlIsProcessorRegistered(Cpu));
        assert_int_equal(HlGetProcessorApicId(Cpu, &ApicId), IRQ_STATUS_SUCCESS);
        assert_int_equal(ApicId, SimCpuApicId(Cpu));
        assert_int_not_equal(ApicId, Cpu);
        assert_int_equal(HlFindProcessorByApicId(ApicId, &Found), IRQ_STATUS_SUCCESS);
        assert_int_equal(Found, Cpu);
    }
    assert_false(HlIsProcessorRegistered(4));
}

static void test_registry_refuses_conflicts(void **State)
{
    (void)State;
    uint32_t ApicId = SimCpuApicId(1);
    /* Another CPU with CPU 1's APIC id. */
    assert_int_equal(HlRegisterProcessor(5, ApicId), IRQ_STATUS_INVALID_CPU);
    assert_false(HlIsProcessorRegistered(5));
    assert_int_equal(HlGetProcessorLimit(), 4);
    /* The same pair again is fine. */
    assert_int_equal(HlRegisterProcessor(1, ApicId), IRQ_STATUS_SUCCESS);
    /* CPU 1 with another id is not, and keeps its id. */
    assert_int_equal(HlRegisterProcessor(1, 0x42), IRQ_STATUS_INVALID_CPU);
    uint32_t Recorded = 0;
    assert_int_equal(HlGetProcessorApicId(1, &Recorded), IRQ_STATUS_SUCCESS);
    assert_int_equal(Recorded, ApicId);
    uint32_t Found = NO_CPU;
    assert_int_equal(HlFindProcessorByApicId(0x42, &Found), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Found, NO_CPU);
}

static void test_registry_bounds_and_null(void **State)
{
    (void)State;
    uint32_t Value = 77;
    assert_int_equal(HlRegisterProcessor(IR_MAX_CPUS, 0x300), IRQ_STATUS_INVALID_CPU);
    assert_false(HlIsProcessorRegistered(IR_MAX_CPUS));
    assert_int_equal(HlGetProcessorApicId(IR_MAX_CPUS, &Value), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(HlGetProcessorApicId(7, &Value), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Value, 77);
    assert_int_equal(HlGetProcessorApicId(0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlFindProcessorByApicId(SimCpuApicId(0), NULL), IRQ_STATUS_INVALID_PARAMETER);

    /* The last index is usable and moves the limit; holes stay unregistered. */
    assert_int_equal(HlRegisterProcessor(IR_MAX_CPUS - 1u, 0x300), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlGetProcessorLimit(), IR_MAX_CPUS);
    assert_false(HlIsProcessorRegistered(IR_MAX_CPUS - 2u));
    assert_int_equal(HlFindProcessorByApicId(0x300, &Value), IRQ_STATUS_SUCCESS);
    assert_int_equal(Value, IR_MAX_CPUS - 1u);
}

/* xAPIC ids are eight bits and 0xFF is the broadcast id: no CPU has one
 * of 0xFF or above (SDM vol. 3A 11.4.6, 11.6.2.1). */
static void test_registry_xapic_ids_below_ff(void **State)
{
    (void)State;
    assert_int_equal(HlLapicGetMode(), HlLapicModeXApic);
    static const uint32_t Impossible[] = {0xFF, 0x100, 0x12345, 0xFFFFFFFFu};
    for (uint32_t Index = 0; Index < 4; Index++) {
        uint32_t Found = NO_CPU;
        assert_int_equal(HlRegisterProcessor(5, Impossible[Index]), IRQ_STATUS_INVALID_CPU);
        assert_false(HlIsProcessorRegistered(5));
        assert_int_equal(HlFindProcessorByApicId(Impossible[Index], &Found), IRQ_STATUS_INVALID_CPU);
        assert_int_equal(Found, NO_CPU);
    }
    assert_int_equal(HlGetProcessorLimit(), 4);
    /* 0xFE is the highest xAPIC id a CPU can have. */
    assert_int_equal(HlRegisterProcessor(5, 0xFE), IRQ_STATUS_SUCCESS);
    assert_true(HlIsProcessorRegistered(5));
}

/* In x2APIC mode the same ids are ordinary. */
static void test_registry_x2apic_ids_above_ff(void **State)
{
    (void)State;
    assert_int_equal(HlLapicGetMode(), HlLapicModeX2Apic);
    assert_int_equal(HlRegisterProcessor(5, 0xFF), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlRegisterProcessor(6, 0x100), IRQ_STATUS_SUCCESS);
    uint32_t ApicId = 0;
    assert_int_equal(HlGetProcessorApicId(6, &ApicId), IRQ_STATUS_SUCCESS);
    assert_int_equal(ApicId, 0x100);
    /* The x2APIC broadcast id names every CPU, never one. */
    assert_int_equal(HlRegisterProcessor(7, 0xFFFFFFFFu), IRQ_STATUS_INVALID_CPU);
    assert_false(HlIsProcessorRegistered(7));
    assert_int_equal(HlRegisterProcessor(7, 0xFFFFFFFEu), IRQ_STATUS_SUCCESS);
}

static void test_reset_forgets_everything(void **State)
{
    (void)State;
    assert_int_equal(HlIoApicRegister(0, HL_IOAPIC_DEFAULT_BASE, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlPicRegisterOverride(3, 7, 0xF), IRQ_STATUS_SUCCESS);
    HL_INTERRUPT_LINE Line = {.Bus = HlBusIsa, .Number = 3};
    HL_RESOLVED_LINE Resolved;
    assert_int_equal(HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_SUCCESS);
    assert_int_equal(Resolved.Gsi, 7);

    HlResetHardwareLayer();
    assert_int_equal(HlGetProcessorLimit(), 0);
    assert_false(HlIsProcessorRegistered(0));
    assert_int_equal(HlIoApicGetCount(), 0);
    assert_int_equal(HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_INVALID_GSI);
    AssertFails(CpuTarget(0), IRQ_STATUS_INVALID_CPU);

    /* Back again: the override is gone and so are the logical ids. */
    assert_int_equal(HlIoApicRegister(0, HL_IOAPIC_DEFAULT_BASE, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_SUCCESS);
    assert_int_equal(Resolved.Gsi, 3);
    assert_int_equal(Resolved.Trigger, HlTriggerEdge);
    assert_int_equal(HlRegisterProcessor(0, SimCpuApicId(0)), IRQ_STATUS_SUCCESS);
    AssertFails(FixedSet(0x1), IRQ_STATUS_NOT_INITIALIZED);
}

/* Readers on other threads never see a registered CPU without its APIC id,
 * nor a lookup by id that names the wrong CPU, while one CPU after another
 * registers. */
#define RACE_CPUS 2048u
#define RACE_READERS 3

static _Atomic bool RaceDone;
static _Atomic uint32_t RaceMismatches;

static uint32_t RaceApicId(uint32_t Cpu)
{
    return 0x10000u + 3u * Cpu;
}

static void *RaceReader(void *Argument)
{
    uint32_t Cpu = (uint32_t)(uintptr_t)Argument;
    uint32_t LastLimit = 0;
    while (!atomic_load(&RaceDone)) {
        Cpu = (Cpu * 1103515245u + 12345u) % RACE_CPUS;
        uint32_t Limit = HlGetProcessorLimit();
        if (Limit < LastLimit)
            atomic_fetch_add(&RaceMismatches, 1);
        LastLimit = Limit;
        if (HlIsProcessorRegistered(Cpu)) {
            uint32_t ApicId = 0;
            uint32_t Found = NO_CPU;
            if (HlGetProcessorApicId(Cpu, &ApicId) != IRQ_STATUS_SUCCESS || ApicId != RaceApicId(Cpu))
                atomic_fetch_add(&RaceMismatches, 1);
            if (HlFindProcessorByApicId(RaceApicId(Cpu), &Found) != IRQ_STATUS_SUCCESS || Found != Cpu)
                atomic_fetch_add(&RaceMismatches, 1);
        }
    }
    return NULL;
}

static void test_registry_concurrent_readers(void **State)
{
    (void)State;
    HlResetHardwareLayer();
    atomic_store(&RaceDone, false);
    atomic_store(&RaceMismatches, 0);
    pthread_t Readers[RACE_READERS];
    for (uintptr_t Index = 0; Index < RACE_READERS; Index++)
        assert_int_equal(pthread_create(&Readers[Index], NULL, RaceReader, (void *)(Index + 1)), 0);
    for (uint32_t Cpu = 0; Cpu < RACE_CPUS; Cpu++)
        assert_int_equal(HlRegisterProcessor(Cpu, RaceApicId(Cpu)), IRQ_STATUS_SUCCESS);
    atomic_store(&RaceDone, true);
    for (uint32_t Index = 0; Index < RACE_READERS; Index++)
        pthread_join(Readers[Index], NULL);
    assert_int_equal(atomic_load(&RaceMismatches), 0);
    assert_int_equal(HlGetProcessorLimit(), RACE_CPUS);
}

/* ---- Single targets ------------------------------------------------------------------------ */

static void test_cpu_target_is_physical_apic_id(void **State)
{
    (void)State;
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        AssertResolves(CpuTarget(Cpu), SimCpuApicId(Cpu), false, HlDeliveryFixed);
    }
    AssertFails(CpuTarget(4), IRQ_STATUS_INVALID_CPU);
    AssertFails(CpuTarget(IR_MAX_CPUS), IRQ_STATUS_INVALID_CPU);
}

static void test_apic_id_target_must_be_registered(void **State)
{
    (void)State;
    uint32_t ApicId = SimCpuApicId(2);
    AssertResolves((HL_INTERRUPT_TARGET){.Kind = HlTargetApicId, .ApicId = ApicId}, ApicId, false, HlDeliveryFixed);
    /* The sim's ids are odd: 2 is nobody's. Nor is the index of CPU 2. */
    AssertFails((HL_INTERRUPT_TARGET){.Kind = HlTargetApicId, .ApicId = 2}, IRQ_STATUS_INVALID_CPU);
    AssertFails((HL_INTERRUPT_TARGET){.Kind = HlTargetApicId, .ApicId = 0xFF}, IRQ_STATUS_INVALID_CPU);
}

static void test_bad_arguments(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = 0};
    HL_DESTINATION Destination;
    assert_int_equal(HlResolveTarget(NULL, &Destination), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlResolveTarget(&Target, NULL), IRQ_STATUS_INVALID_PARAMETER);
    AssertFails((HL_INTERRUPT_TARGET){.Kind = (HL_TARGET_KIND)4}, IRQ_STATUS_INVALID_PARAMETER);
    AssertFails((HL_INTERRUPT_TARGET){.Kind = HlTargetCpuSetFixed, .CpuSet = NULL}, IRQ_STATUS_INVALID_PARAMETER);
    AssertFails((HL_INTERRUPT_TARGET){.Kind = HlTargetCpuSetLowestPriority, .CpuSet = NULL},
                IRQ_STATUS_INVALID_PARAMETER);
}

/* ---- Sets: xAPIC flat ---------------------------------------------------------------------- */

static void test_fixed_set_is_flat_logical(void **State)
{
    (void)State;
    AssertResolves(FixedSet(0xB), 0x0B, true, HlDeliveryFixed);
    AssertResolves(FixedSet(0x4), 0x04, true, HlDeliveryFixed);
}

static void test_lowest_priority_set(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpuSetLowestPriority, .CpuSet = MakeSet(0x6)};
    AssertResolves(Target, 0x06, true, HlDeliveryLowestPriority);
}

static void test_set_errors(void **State)
{
    (void)State;
    AssertFails(FixedSet(0), IRQ_STATUS_EMPTY_AFFINITY);
    AssertFails((HL_INTERRUPT_TARGET){.Kind = HlTargetCpuSetLowestPriority, .CpuSet = MakeSet(0)},
                IRQ_STATUS_EMPTY_AFFINITY);
    /* CPU 5 never registered. */
    AssertFails(FixedSet(0x21), IRQ_STATUS_INVALID_CPU);
    /* A CPU far away in the 4096-bit set. */
    IR_CPU_SET Far;
    IrCpuSetZero(&Far);
    IrCpuSetAdd(&Far, 1);
    IrCpuSetAdd(&Far, IR_MAX_CPUS - 1u);
    AssertFails((HL_INTERRUPT_TARGET){.Kind = HlTargetCpuSetFixed, .CpuSet = &Far}, IRQ_STATUS_INVALID_CPU);
}

static void test_member_without_lapic(void **State)
{
    (void)State;
    /* CPU 3 is registered but its local APIC was never initialised: its
     * LDR is 0 and a logical message would miss it. */
    AssertFails(FixedSet(0xC), IRQ_STATUS_NOT_INITIALIZED);
    AssertResolves(FixedSet(0x7), 0x07, true, HlDeliveryFixed);
    /* Physical targets do not need the logical id. */
    AssertResolves(CpuTarget(3), SimCpuApicId(3), false, HlDeliveryFixed);
}

static void test_flat_model_covers_eight_cpus(void **State)
{
    (void)State;
    AssertResolves(FixedSet(0xFF), 0xFF, true, HlDeliveryFixed);
    AssertFails(FixedSet(0x101), IRQ_STATUS_NOT_SUPPORTED);
    AssertFails(FixedSet(0x200), IRQ_STATUS_NOT_SUPPORTED);
    /* CPU 9 alone is still reachable physically. */
    AssertResolves(CpuTarget(9), SimCpuApicId(9), false, HlDeliveryFixed);
}

/* ---- Sets: x2APIC cluster ------------------------------------------------------------------- */

static void test_x2apic_single_cluster(void **State)
{
    (void)State;
    HL_DESTINATION Destination;
    /* CPUs 0-2 have ids 1, 3, 5: cluster 0, members 1, 3, 5. */
    assert_int_equal(Resolve(FixedSet(0x7), &Destination), IRQ_STATUS_SUCCESS);
    assert_int_equal(Destination.Destination, 0x0000002Au);
    assert_int_equal(Destination.Destination,
                     X2ApicLogicalId(SimCpuApicId(0)) | X2ApicLogicalId(SimCpuApicId(1)) |
                         X2ApicLogicalId(SimCpuApicId(2)));
    assert_true(Destination.Logical);
    /* CPUs 8 and 9 have ids 17 and 19: cluster 1. */
    HL_INTERRUPT_TARGET Lowest = {.Kind = HlTargetCpuSetLowestPriority, .CpuSet = MakeSet(0x300)};
    AssertResolves(Lowest, 0x0001000Au, true, HlDeliveryLowestPriority);
}

static void test_x2apic_sets_spanning_clusters(void **State)
{
    (void)State;
    /* CPU 7 (id 15) is cluster 0, CPU 8 (id 17) cluster 1. */
    AssertFails(FixedSet(0x180), IRQ_STATUS_NOT_SUPPORTED);
    AssertFails(FixedSet((uint64_t)1 << 39 | 1), IRQ_STATUS_NOT_SUPPORTED);
    /* Physical ids beyond the flat model's eight CPUs are plain. */
    AssertResolves(CpuTarget(39), 79, false, HlDeliveryFixed);
}

/* ---- Reachability by device interrupts --------------------------------------------------------- */

/* Every registered xAPIC CPU is reachable (its id is at most 0xFE). */
static void test_xapic_cpus_reachable(void **State)
{
    (void)State;
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_true(HlIsProcessorReachableByDevices(Cpu));
    assert_false(HlIsProcessorReachableByDevices(4));
    assert_false(HlIsProcessorReachableByDevices(IR_MAX_CPUS));
    assert_false(HlIsProcessorReachableByDevices(NO_CPU));
}

/* x2APIC ids 0xFE and below are reachable, 0xFF and above are not, nor is
 * an unregistered CPU; a physical target (an IPI's) still resolves. */
static void test_x2apic_reachability_stops_at_fe(void **State)
{
    (void)State;
    static const bool Reachable[WIDE_CPUS] = {true, true, false, false, false};
    for (uint32_t Cpu = 0; Cpu < WIDE_CPUS; Cpu++) {
        assert_int_equal(HlIsProcessorReachableByDevices(Cpu), Reachable[Cpu]);
        AssertResolves(CpuTarget(Cpu), WideApicIds[Cpu], false, HlDeliveryFixed);
    }
    assert_false(HlIsProcessorReachableByDevices(WIDE_CPUS));
    HlResetHardwareLayer();
    assert_false(HlIsProcessorReachableByDevices(0));
}

/* A cmocka test run on four freshly started xAPIC CPUs. */
#define FOUR_CPU_TEST(Test) TB_HARDWARE_TEST(Test, &Four)

TB_TEST_MAIN(
    FOUR_CPU_TEST(test_registry_records_apic_ids),
    FOUR_CPU_TEST(test_registry_refuses_conflicts),
    TB_HARDWARE_TEST(test_registry_bounds_and_null, &X2ApicFour),
    FOUR_CPU_TEST(test_registry_xapic_ids_below_ff),
    TB_HARDWARE_TEST(test_registry_x2apic_ids_above_ff, &X2ApicFour),
    FOUR_CPU_TEST(test_reset_forgets_everything),
    TB_HARDWARE_TEST(test_registry_concurrent_readers, &X2ApicFour),
    FOUR_CPU_TEST(test_cpu_target_is_physical_apic_id),
    FOUR_CPU_TEST(test_apic_id_target_must_be_registered),
    FOUR_CPU_TEST(test_bad_arguments),
    FOUR_CPU_TEST(test_fixed_set_is_flat_logical),
    FOUR_CPU_TEST(test_lowest_priority_set),
    FOUR_CPU_TEST(test_set_errors),
    cmocka_unit_test_setup_teardown(test_member_without_lapic, SetupFourLapic3Down, TbTeardownHardwareLayer),
    TB_HARDWARE_TEST(test_flat_model_covers_eight_cpus, &Ten),
    TB_HARDWARE_TEST(test_x2apic_single_cluster, &X2Apic40),
    TB_HARDWARE_TEST(test_x2apic_sets_spanning_clusters, &X2Apic40),
    FOUR_CPU_TEST(test_xapic_cpus_reachable),
    TB_HARDWARE_TEST(test_x2apic_reachability_stops_at_fe, &X2ApicWide))
