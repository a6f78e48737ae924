/* SPDX-License-Identifier: MIT */
/*
 * MSI composition (src/hl/msi.c) against Intel SDM vol. 3A 11.11: exact
 * address and data values, then the same messages written to the sim's
 * APIC bus (SimMsiWrite) to show they reach exactly the CPUs they name.
 *
 * The sim is created bare (no Ke/Io); every CPU registers with the APIC id
 * the sim gave it (2n+1 by default: never the index) and initialises its
 * local APIC through the driver on its own attached thread, which records
 * the flat logical id 1 << n for CPUs 0-7. The test thread then acts as
 * CPU 0 with interrupts disabled, so nothing it sends is taken behind its
 * back: IRR bits stay where the message put them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "sim.h"
#include "testbed.h"
#include "tb_main.h"

#define HOME_CPU 0u
#define CPU_COUNT 4u

#define MSI_BASE 0xFEE00000ull
#define MSI_LOGICAL (1ull << 2)
#define MSI_REDIRECTION_HINT (1ull << 3)
#define MSI_LEVEL_ASSERT (1u << 14)
#define MSI_TRIGGER_LEVEL (1u << 15)
#define MSI_LOWEST_PRIORITY (1u << 8)

static const HL_MSI_MESSAGE Sentinel = {.Address = 0x1234, .Data = 0x5678};

/* ---- Fixture ------------------------------------------------------------------------ */

static const SIM_CONFIG FourXApic = {.CpuCount = CPU_COUNT};

/* ---- Helpers ------------------------------------------------------------------------- */

static HL_INTERRUPT_TARGET CpuTarget(uint32_t Cpu)
{
    return (HL_INTERRUPT_TARGET){.Kind = HlTargetCpu, .Cpu = Cpu};
}

static HL_INTERRUPT_TARGET SetTarget(HL_TARGET_KIND Kind, const IR_CPU_SET *Set)
{
    return (HL_INTERRUPT_TARGET){.Kind = Kind, .CpuSet = Set};
}

static uint32_t CpusWithIrr(uint8_t Vector, uint32_t CpuCount)
{
    uint32_t Mask = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (SimLapicIrrIsSet(Cpu, Vector))
            Mask |= 1u << Cpu;
    }
    return Mask;
}

/* HlMsiComposeMessage, which must succeed. */
static HL_MSI_MESSAGE Compose(const HL_INTERRUPT_TARGET *Target, uint8_t Vector, HL_TRIGGER_MODE Trigger)
{
    HL_MSI_MESSAGE Message = Sentinel;
    assert_int_equal(HlMsiComposeMessage(Target, Vector, Trigger, &Message), IRQ_STATUS_SUCCESS);
    return Message;
}

/* Compose for Target, which must give exactly Address and Data. */
static HL_MSI_MESSAGE ComposeExactly(HL_INTERRUPT_TARGET Target, uint8_t Vector, HL_TRIGGER_MODE Trigger,
                                     uint64_t Address, uint32_t Data)
{
    HL_MSI_MESSAGE Message = Compose(&Target, Vector, Trigger);
    assert_int_equal(Message.Address, Address);
    assert_int_equal(Message.Data, Data);
    return Message;
}

/* Writes Message as its device would; returns the CPUs (of the first
 * CpuCount) whose IRR then holds its vector (data bits 7:0, SDM 11.11.2). */
static uint32_t Deliver(HL_MSI_MESSAGE Message, uint32_t CpuCount)
{
    SimMsiWrite(Message.Address, Message.Data);
    return CpusWithIrr((uint8_t)(Message.Data & 0xFFu), CpuCount);
}

static void AssertFails(const HL_INTERRUPT_TARGET *Target, uint8_t Vector, HL_TRIGGER_MODE Trigger,
                        IRQ_STATUS Expected)
{
    HL_MSI_MESSAGE Message = Sentinel;
    assert_int_equal(HlMsiComposeMessage(Target, Vector, Trigger, &Message), Expected);
    assert_int_equal(Message.Address, Sentinel.Address);
    assert_int_equal(Message.Data, Sentinel.Data);
}

/* ---- Physical ---------------------------------------------------------------------------- */

static void test_physical_edge_to_each_cpu(void **State)
{
    (void)State;
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++) {
        uint8_t Vector = (uint8_t)(0x41u + 0x10u * Cpu);
        HL_INTERRUPT_TARGET Target = CpuTarget(Cpu);
        HL_MSI_MESSAGE Message = Compose(&Target, Vector, HlTriggerEdge);
        uint32_t ApicId = SimCpuApicId(Cpu);
        assert_int_not_equal(ApicId, Cpu);
        assert_int_equal(Message.Address, MSI_BASE | (uint64_t)ApicId << 12);
        assert_int_equal(Message.Data, Vector);

        assert_int_equal(Deliver(Message, CPU_COUNT), 1u << Cpu);
        assert_false(SimLapicTmrIsSet(Cpu, Vector));
    }
}

static void test_exact_values_for_qemu_style_ids(void **State)
{
    (void)State;
    /* CPU 2 has APIC id 5: address 0xFEE05000, data 0x61. */
    (void)ComposeExactly(CpuTarget(2), 0x61, HlTriggerEdge, 0xFEE05000ull, 0x0061u);
}

static void test_apic_id_target_level(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetApicId, .ApicId = SimCpuApicId(3)};
    HL_MSI_MESSAGE Message = Compose(&Target, 0x92, HlTriggerLevel);
    assert_int_equal(Message.Address, 0xFEE07000ull);
    /* Level: trigger bit 15 and the assert bit 14 (11.11.2). */
    assert_int_equal(Message.Data, 0xC092u);
    assert_int_equal(Message.Data, MSI_TRIGGER_LEVEL | MSI_LEVEL_ASSERT | 0x92u);

    assert_int_equal(Deliver(Message, CPU_COUNT), 1u << 3);
    assert_true(SimLapicTmrIsSet(3, 0x92));
}

/* ---- Logical ------------------------------------------------------------------------------ */

static void test_logical_fixed_set(void **State)
{
    (void)State;
    IR_CPU_SET Set = TbCpuList((const uint32_t[]){0, 2}, 2);
    /* Flat logical ids 0x01 | 0x04, destination mode logical, no hint. */
    HL_MSI_MESSAGE Message =
        ComposeExactly(SetTarget(HlTargetCpuSetFixed, &Set), 0x73, HlTriggerEdge, 0xFEE05004ull, 0x73u);
    assert_int_equal(Message.Address, MSI_BASE | 0x05u << 12 | MSI_LOGICAL);

    assert_int_equal(Deliver(Message, CPU_COUNT), 0x5u);
}

static void test_lowest_priority_set_sets_hint(void **State)
{
    (void)State;
    IR_CPU_SET Set = TbCpuList((const uint32_t[]){1, 3}, 2);
    HL_MSI_MESSAGE Message =
        ComposeExactly(SetTarget(HlTargetCpuSetLowestPriority, &Set), 0x84, HlTriggerEdge, 0xFEE0A00Cull, 0x0184u);
    assert_int_equal(Message.Address, MSI_BASE | 0x0Au << 12 | MSI_REDIRECTION_HINT | MSI_LOGICAL);
    assert_int_equal(Message.Data, MSI_LOWEST_PRIORITY | 0x84u);

    /* One CPU of the set takes it, never one outside. */
    uint32_t Took = Deliver(Message, CPU_COUNT);
    assert_true(Took == 0x2u || Took == 0x8u);
}

static void test_lowest_priority_level(void **State)
{
    (void)State;
    IR_CPU_SET Set = TbCpuList((const uint32_t[]){0}, 1);
    (void)ComposeExactly(SetTarget(HlTargetCpuSetLowestPriority, &Set), 0x55, HlTriggerLevel, 0xFEE0100Cull, 0xC155u);
}

/* ---- Vectors and bad input ------------------------------------------------------------------ */

static void test_vector_range(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(1);
    AssertFails(&Target, 0x00, HlTriggerEdge, IRQ_STATUS_INVALID_VECTOR);
    AssertFails(&Target, 0x0F, HlTriggerEdge, IRQ_STATUS_INVALID_VECTOR);
    AssertFails(&Target, 0xFF, HlTriggerEdge, IRQ_STATUS_INVALID_VECTOR);
    HL_MSI_MESSAGE Message;
    assert_int_equal(HlMsiComposeMessage(&Target, 0x10, HlTriggerEdge, &Message), IRQ_STATUS_SUCCESS);
    assert_int_equal(Message.Data, 0x10u);
    assert_int_equal(HlMsiComposeMessage(&Target, 0xFE, HlTriggerEdge, &Message), IRQ_STATUS_SUCCESS);
    assert_int_equal(Message.Data, 0xFEu);
}

static void test_bad_parameters(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(1);
    HL_MSI_MESSAGE Message;
    assert_int_equal(HlMsiComposeMessage(NULL, 0x40, HlTriggerEdge, &Message), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsiComposeMessage(&Target, 0x40, HlTriggerEdge, NULL), IRQ_STATUS_INVALID_PARAMETER);
    AssertFails(&Target, 0x40, (HL_TRIGGER_MODE)2, IRQ_STATUS_INVALID_PARAMETER);
    HL_INTERRUPT_TARGET BadKind = {.Kind = (HL_TARGET_KIND)9};
    AssertFails(&BadKind, 0x40, HlTriggerEdge, IRQ_STATUS_INVALID_PARAMETER);
    HL_INTERRUPT_TARGET NoSet = SetTarget(HlTargetCpuSetFixed, NULL);
    AssertFails(&NoSet, 0x40, HlTriggerEdge, IRQ_STATUS_INVALID_PARAMETER);
}

static void test_unknown_targets(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Unregistered = CpuTarget(CPU_COUNT);
    AssertFails(&Unregistered, 0x40, HlTriggerEdge, IRQ_STATUS_INVALID_CPU);
    HL_INTERRUPT_TARGET NoSuchApic = {.Kind = HlTargetApicId, .ApicId = 2}; /* ids are odd */
    AssertFails(&NoSuchApic, 0x40, HlTriggerEdge, IRQ_STATUS_INVALID_CPU);

    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    HL_INTERRUPT_TARGET Empty = SetTarget(HlTargetCpuSetFixed, &Set);
    AssertFails(&Empty, 0x40, HlTriggerEdge, IRQ_STATUS_EMPTY_AFFINITY);
    IrCpuSetAdd(&Set, 1);
    IrCpuSetAdd(&Set, 6);
    HL_INTERRUPT_TARGET Offline = SetTarget(HlTargetCpuSetLowestPriority, &Set);
    AssertFails(&Offline, 0x40, HlTriggerEdge, IRQ_STATUS_INVALID_CPU);
}

/* ---- Destinations that do not fit 8 bits -------------------------------------------------------- */

/* CPUs 0-3 on both sides of the 8-bit physical limit; CPUs 4 and 5 are
 * x2APIC cluster 0 members 7 and 8, on both sides of the logical one. */
static const uint32_t WideApicIds[] = {0x01, 0xFE, 0xFF, 0x100, 0x07, 0x08};
#define WIDE_CPUS 6u

static const SIM_CONFIG X2ApicWide = {.CpuCount = WIDE_CPUS, .ApicIds = WideApicIds, .X2ApicSupported = true};

static void test_x2apic_physical_up_to_fe(void **State)
{
    (void)State;
    HL_MSI_MESSAGE Message = ComposeExactly(CpuTarget(1), 0x66, HlTriggerEdge, 0xFEEFE000ull, 0x66u);
    assert_int_equal(Deliver(Message, WIDE_CPUS), 1u << 1);
}

static void test_x2apic_wide_ids_need_remapping(void **State)
{
    (void)State;
    /* 0xFF is the xAPIC broadcast in an 8-bit field; 0x100 does not fit. */
    HL_INTERRUPT_TARGET Broadcast = CpuTarget(2);
    AssertFails(&Broadcast, 0x66, HlTriggerEdge, IRQ_STATUS_NOT_SUPPORTED);
    HL_INTERRUPT_TARGET Wide = CpuTarget(3);
    AssertFails(&Wide, 0x66, HlTriggerEdge, IRQ_STATUS_NOT_SUPPORTED);
    HL_INTERRUPT_TARGET WideById = {.Kind = HlTargetApicId, .ApicId = 0x100};
    AssertFails(&WideById, 0x66, HlTriggerEdge, IRQ_STATUS_NOT_SUPPORTED);
}

/* The 8-bit destination is zero-extended (SDM vol. 3A 11.12), so an x2APIC
 * cluster destination (11.12.10.2) fits when it is cluster 0 with member
 * bits 0-7: x2APIC ids 0-7. */
static void test_x2apic_logical_cluster0_members_0_to_7(void **State)
{
    (void)State;
    IR_CPU_SET Set = TbCpuList((const uint32_t[]){0, 4}, 2);
    HL_INTERRUPT_TARGET Target = SetTarget(HlTargetCpuSetFixed, &Set);
    HL_MSI_MESSAGE Message = Compose(&Target, 0x67, HlTriggerEdge);
    assert_int_equal(Message.Address, MSI_BASE | 0x82u << 12 | MSI_LOGICAL);
    assert_int_equal(Message.Data, 0x67u);
    assert_int_equal(Deliver(Message, WIDE_CPUS), 0x11u);

    HL_INTERRUPT_TARGET Lowest = SetTarget(HlTargetCpuSetLowestPriority, &Set);
    Message = Compose(&Lowest, 0x68, HlTriggerLevel);
    assert_int_equal(Message.Address, MSI_BASE | 0x82u << 12 | MSI_REDIRECTION_HINT | MSI_LOGICAL);

    /* Member 8 (0x100), cluster 15 (id 0xFE: 0xF4000) and a set with
     * either do not fit. */
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, 5);
    AssertFails(&Target, 0x66, HlTriggerEdge, IRQ_STATUS_NOT_SUPPORTED);
    IrCpuSetAdd(&Set, 4);
    AssertFails(&Target, 0x66, HlTriggerEdge, IRQ_STATUS_NOT_SUPPORTED);
    AssertFails(&Lowest, 0x66, HlTriggerEdge, IRQ_STATUS_NOT_SUPPORTED);
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, 1);
    AssertFails(&Target, 0x66, HlTriggerEdge, IRQ_STATUS_NOT_SUPPORTED);
}

/* A cmocka test run on four freshly started xAPIC CPUs, or on the x2APIC
 * CPUs with ids on both sides of 0xFF. */
#define XAPIC_TEST(Test) TB_HARDWARE_TEST(Test, &FourXApic)
#define X2APIC_WIDE_TEST(Test) TB_HARDWARE_TEST(Test, &X2ApicWide)

TB_TEST_MAIN(
    XAPIC_TEST(test_physical_edge_to_each_cpu),
    XAPIC_TEST(test_exact_values_for_qemu_style_ids),
    XAPIC_TEST(test_apic_id_target_level),
    XAPIC_TEST(test_logical_fixed_set),
    XAPIC_TEST(test_lowest_priority_set_sets_hint),
    XAPIC_TEST(test_lowest_priority_level),
    XAPIC_TEST(test_vector_range),
    XAPIC_TEST(test_bad_parameters),
    XAPIC_TEST(test_unknown_targets),
    X2APIC_WIDE_TEST(test_x2apic_physical_up_to_fe),
    X2APIC_WIDE_TEST(test_x2apic_wide_ids_need_remapping),
    X2APIC_WIDE_TEST(test_x2apic_logical_cluster0_members_0_to_7))
