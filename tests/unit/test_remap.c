/* SPDX-License-Identifier: MIT */
/*
 * The VT-d interrupt remapping driver (src/hl/x86/remap.c) against the sim's
 * model of a remapping unit (platform/sim/iommu_model.c), which caches
 * present entries until an invalidation and faults where the unit would
 * refuse an access: a driver that skips a step of the enabling order or an
 * invalidation is caught by what the unit then delivers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <irqroute/hl.h>

#include "sim.h"
#include "testbed.h"
#include "tb_main.h"

#define UNIT_BASE SIM_IOMMU_DEFAULT_BASE
#define EDU_SOURCE_ID 0x0018u   /* 00:03.0, as QEMU lists edu */
#define IOAPIC_SOURCE_ID 0xFF00u /* FF:00.0, QEMU's I/O APIC */
#define VECTOR 0x51u

/* CPU 1's APIC id is beyond any 8-bit destination in x2APIC mode. */
static const uint32_t ApicIdsX2Apic[2] = {1, 300};
static const uint32_t ApicIdsXApic[2] = {1, 3};
#define IOAPIC_ID 0u
#define LINE_GSI 5u

/* Two CPUs, one I/O xAPIC behind the unit (as QEMU's q35 with
 * intel-iommu,intremap=on), one unit. */
static void StartMachine(bool X2Apic, bool ExtendedInterruptMode)
{
    SIM_CONFIG Config = {.CpuCount = 2, .ApicIds = X2Apic ? ApicIdsX2Apic : ApicIdsXApic,
                         .X2ApicSupported = X2Apic, .FirmwareMode = SimLapicXApic, .IoApicCount = 1,
                         .IoApics = {{.Id = IOAPIC_ID, .Address = HL_IOAPIC_DEFAULT_BASE, .GsiBase = 0,
                                      .PinCount = 24, .BehindIommu = true, .IommuUnit = 0,
                                      .SourceId = IOAPIC_SOURCE_ID}}};
    TbStartHardwareLayer(&Config);
    assert_int_equal(HlIoApicRegister(IOAPIC_ID, HL_IOAPIC_DEFAULT_BASE, 0), IRQ_STATUS_SUCCESS);
    SIM_IOMMU_CONFIG Unit = {.Address = UNIT_BASE, .ExtendedInterruptMode = ExtendedInterruptMode,
                             .FaultRecordCount = 4};
    assert_int_equal(SimIommuCreate(&Unit, 1), 0);
    TbStartHardwareCpus(2, IR_CPU_NONE);
}

static int Teardown(void **State)
{
    HlResetHardwareLayer();
    SimIommuDestroy();
    return TbTeardownHardwareLayer(State);
}

static int SetupX2Apic(void **State)
{
    (void)State;
    StartMachine(true, true);
    assert_int_equal(HlRemapRegisterUnit(0, UNIT_BASE), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlRemapEnable(0), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlRemapAssignIoApic(IOAPIC_ID, 0, IOAPIC_SOURCE_ID), IRQ_STATUS_SUCCESS);
    return 0;
}

static HL_REMAP_ENTRY EduEntry(uint32_t Destination, uint8_t Vector)
{
    return (HL_REMAP_ENTRY){.Destination = Destination, .Vector = Vector, .Trigger = HlTriggerEdge,
                            .SourceId = EDU_SOURCE_ID, .SourceValidation = HlRemapVerifyRequester};
}

/* What the unit makes of the MSI the driver composed for Index. */
static SIM_IOMMU_OUTCOME SendMsi(uint32_t Index, uint16_t SourceId, SIM_IOMMU_INTERRUPT *Interrupt)
{
    HL_MSI_MESSAGE Message;
    assert_int_equal(HlRemapComposeMsi(Index, &Message), IRQ_STATUS_SUCCESS);
    return SimIommuRemapMsi(0, Message.Address, Message.Data, SourceId, Interrupt);
}

static uint32_t WriteEduEntry(uint32_t Destination, uint8_t Vector)
{
    uint32_t Index;
    assert_int_equal(HlRemapAllocateEntry(0, &Index), IRQ_STATUS_SUCCESS);
    HL_REMAP_ENTRY Entry = EduEntry(Destination, Vector);
    assert_int_equal(HlRemapWriteEntry(0, Index, &Entry), IRQ_STATUS_SUCCESS);
    return Index;
}

static void test_enable_follows_the_order_and_remaps(void **State)
{
    (void)State;
    assert_true(HlRemapIsEnabled(0));
    uint32_t Index = WriteEduEntry(300, VECTOR);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SendMsi(Index, EDU_SOURCE_ID, &Interrupt), SimIommuRemapped);
    /* EIME: the full 32-bit destination reaches an APIC id above 255. */
    assert_int_equal(Interrupt.Destination, 300);
    assert_int_equal(Interrupt.Vector, VECTOR);
    assert_false(Interrupt.Logical);
    assert_false(Interrupt.Level);
}

/* The model keeps the old entry until it is invalidated: the move is seen
 * only because the driver invalidated the index and waited for it. */
static void test_move_is_seen_after_the_invalidation(void **State)
{
    (void)State;
    uint32_t Index = WriteEduEntry(1, VECTOR);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SendMsi(Index, EDU_SOURCE_ID, &Interrupt), SimIommuRemapped); /* now cached */
    HL_REMAP_ENTRY Moved = EduEntry(3, VECTOR + 1);
    assert_int_equal(HlRemapWriteEntry(0, Index, &Moved), IRQ_STATUS_SUCCESS);
    assert_int_equal(SendMsi(Index, EDU_SOURCE_ID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 3);
    assert_int_equal(Interrupt.Vector, VECTOR + 1);
}

static void test_wrong_requester_faults_and_is_collected(void **State)
{
    (void)State;
    uint32_t Index = WriteEduEntry(1, VECTOR);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SendMsi(Index, 0x0020u, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x26); /* source-id mismatch */
    HL_REMAP_FAULT Faults[4];
    uint32_t Count = 0;
    assert_int_equal(HlRemapCollectFaults(0, Faults, 4, &Count), IRQ_STATUS_SUCCESS);
    assert_int_equal(Count, 1);
    assert_int_equal(Faults[0].Reason, 0x26);
    assert_int_equal(Faults[0].SourceId, 0x0020u);
    assert_int_equal(Faults[0].Index, Index);
    assert_int_equal(HlRemapQueryFaultCount(0), 1);
    /* Taken out: a second collection finds nothing. */
    assert_int_equal(HlRemapCollectFaults(0, Faults, 4, &Count), IRQ_STATUS_SUCCESS);
    assert_int_equal(Count, 0);
}

static void test_freed_entry_is_not_present(void **State)
{
    (void)State;
    uint32_t Index = WriteEduEntry(1, VECTOR);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SendMsi(Index, EDU_SOURCE_ID, &Interrupt), SimIommuRemapped);
    assert_int_equal(HlRemapFreeEntry(0, Index), IRQ_STATUS_SUCCESS);
    assert_int_equal(SendMsi(Index, EDU_SOURCE_ID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x22); /* not present */
    HL_REMAP_ENTRY Entry = EduEntry(1, VECTOR);
    assert_int_equal(HlRemapWriteEntry(0, Index, &Entry), IRQ_STATUS_INVALID_PARAMETER);
}

static void test_compatibility_format_is_blocked(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = 0};
    HL_MSI_MESSAGE Message;
    assert_int_equal(HlMsiComposeMessage(&Target, VECTOR, HlTriggerEdge, &Message), IRQ_STATUS_SUCCESS);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SimIommuRemapMsi(0, Message.Address, Message.Data, EDU_SOURCE_ID, &Interrupt),
                     SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x25);
}

static void test_ioapic_entry_in_remappable_format(void **State)
{
    (void)State;
    uint32_t Index;
    assert_int_equal(HlRemapAllocateEntry(0, &Index), IRQ_STATUS_SUCCESS);
    HL_REMAP_ENTRY Entry = {.Destination = 3, .Vector = VECTOR, .Trigger = HlTriggerLevel,
                            .SourceId = IOAPIC_SOURCE_ID, .SourceValidation = HlRemapVerifyRequester};
    assert_int_equal(HlRemapWriteEntry(0, Index, &Entry), IRQ_STATUS_SUCCESS);
    IOAPIC_REDIRECTION_ENTRY Rte;
    assert_int_equal(HlRemapComposeIoApicEntry(Index, VECTOR, HlTriggerLevel, HlPolarityActiveLow, &Rte),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(Rte.Bits.Mask, 1);
    assert_int_equal(Rte.Bits.Vector, VECTOR);
    assert_int_equal(Rte.Bits.TriggerMode, 1);
    assert_int_equal(Rte.Bits.Polarity, 1);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SimIommuRemapIoApicEntry(0, Rte.Value, IOAPIC_SOURCE_ID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 3);
    assert_int_equal(Interrupt.Vector, VECTOR);
    assert_true(Interrupt.Level);
    assert_int_equal(Interrupt.Index, Index);
}

static void test_entry_refusals_change_nothing(void **State)
{
    (void)State;
    uint32_t Index = WriteEduEntry(1, VECTOR);
    HL_REMAP_ENTRY Bad = EduEntry(2, 0x0F);
    assert_int_equal(HlRemapWriteEntry(0, Index, &Bad), IRQ_STATUS_INVALID_PARAMETER);
    Bad = EduEntry(2, VECTOR);
    Bad.Trigger = (HL_TRIGGER_MODE)7;
    assert_int_equal(HlRemapWriteEntry(0, Index, &Bad), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlRemapWriteEntry(0, Index, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlRemapWriteEntry(0, 4095, &Bad), IRQ_STATUS_INVALID_PARAMETER); /* not allocated */
    assert_int_equal(HlRemapWriteEntry(1, Index, &Bad), IRQ_STATUS_NOT_INITIALIZED);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SendMsi(Index, EDU_SOURCE_ID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 1);
    assert_int_equal(Interrupt.Vector, VECTOR);
    assert_int_equal(HlRemapEnable(0), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(HlRemapRegisterUnit(0, UNIT_BASE), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(HlRemapAllocateEntry(0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlRemapComposeMsi(4096, &(HL_MSI_MESSAGE){0}), IRQ_STATUS_INVALID_PARAMETER);
}

/* x2APIC mode with a unit that has no extended interrupt mode: its
 * destinations are 8 bits, so it cannot serve (9.10, ECAP.EIM). */
static void test_x2apic_needs_extended_interrupt_mode(void **State)
{
    (void)State;
    StartMachine(true, false);
    assert_int_equal(HlRemapRegisterUnit(0, UNIT_BASE), IRQ_STATUS_NOT_SUPPORTED);
    assert_false(HlRemapIsEnabled(0));
    assert_int_equal(HlRemapEnable(0), IRQ_STATUS_INVALID_PARAMETER);
}

static void test_xapic_destinations_are_eight_bits(void **State)
{
    (void)State;
    StartMachine(false, false);
    assert_int_equal(HlRemapRegisterUnit(0, UNIT_BASE), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlRemapEnable(0), IRQ_STATUS_SUCCESS);
    uint32_t Index;
    assert_int_equal(HlRemapAllocateEntry(0, &Index), IRQ_STATUS_SUCCESS);
    HL_REMAP_ENTRY Wide = EduEntry(256, VECTOR);
    assert_int_equal(HlRemapWriteEntry(0, Index, &Wide), IRQ_STATUS_NOT_SUPPORTED);
    HL_REMAP_ENTRY Entry = EduEntry(0xFE, VECTOR);
    assert_int_equal(HlRemapWriteEntry(0, Index, &Entry), IRQ_STATUS_SUCCESS);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SendMsi(Index, EDU_SOURCE_ID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 0xFE);
}

static void test_register_refusals(void **State)
{
    (void)State;
    StartMachine(true, true);
    assert_int_equal(HlRemapRegisterUnit(HL_REMAP_MAX_UNITS, UNIT_BASE), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlRemapRegisterUnit(0, 0), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlRemapRegisterUnit(0, UNIT_BASE + 0x10), IRQ_STATUS_INVALID_PARAMETER);
    assert_false(HlRemapIsEnabled(0));
    assert_int_equal(HlRemapAllocateEntry(0, &(uint32_t){0}), IRQ_STATUS_NOT_INITIALIZED);
}

/* ---- I/O APIC lines through the unit (src/hl/pic.c, REMAPPED LINES) ---------------- */

static IRQ_STATUS RouteLineTo(uint32_t Cpu, uint8_t Vector)
{
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = Cpu};
    return HlPicAllocateSystemInterrupt(LINE_GSI, Vector, &Target, HlTriggerEdge, HlPolarityActiveHigh);
}

static void test_line_reaches_apic_id_above_255(void **State)
{
    (void)State;
    assert_int_equal(RouteLineTo(1, VECTOR), IRQ_STATUS_SUCCESS);
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(LINE_GSI)};
    assert_int_equal(Entry.Value >> 48 & 1u, 1); /* remappable format */
    assert_int_equal(Entry.Bits.Mask, 0);
    SimPulseGsi(LINE_GSI);
    assert_true(SimLapicIrrIsSet(1, VECTOR));
    assert_false(SimLapicIrrIsSet(0, VECTOR));
}

/* A move with the same vector rewrites the table entry only: the
 * redirection entry stays as it was, and the next edge reaches the new CPU. */
static void test_line_move_rewrites_only_the_table_entry(void **State)
{
    (void)State;
    assert_int_equal(RouteLineTo(1, VECTOR), IRQ_STATUS_SUCCESS);
    SimPulseGsi(LINE_GSI); /* the unit now caches the entry */
    uint64_t Before = SimIoApicPeekEntry(LINE_GSI);
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = 0};
    assert_int_equal(HlPicRetargetSystemInterrupt(LINE_GSI, VECTOR, &Target), IRQ_STATUS_SUCCESS);
    assert_int_equal(SimIoApicPeekEntry(LINE_GSI), Before);
    SimPulseGsi(LINE_GSI);
    assert_true(SimLapicIrrIsSet(0, VECTOR));
}

static void test_line_move_to_new_vector_updates_both(void **State)
{
    (void)State;
    assert_int_equal(RouteLineTo(1, VECTOR), IRQ_STATUS_SUCCESS);
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = 0};
    assert_int_equal(HlPicRetargetSystemInterrupt(LINE_GSI, VECTOR + 0x10, &Target), IRQ_STATUS_SUCCESS);
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(LINE_GSI)};
    assert_int_equal(Entry.Bits.Vector, VECTOR + 0x10); /* a level EOI would match on it */
    SimPulseGsi(LINE_GSI);
    assert_true(SimLapicIrrIsSet(0, VECTOR + 0x10));
    assert_false(SimLapicIrrIsSet(1, VECTOR));
}

/* Freed: masked, and the table entry cleared, so even an entry unmasked by
 * mistake would only fault. */
static void test_line_free_masks_and_clears_the_entry(void **State)
{
    (void)State;
    assert_int_equal(RouteLineTo(1, VECTOR), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlPicFreeSystemInterrupt(LINE_GSI), IRQ_STATUS_SUCCESS);
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(LINE_GSI)};
    assert_int_equal(Entry.Bits.Mask, 1);
    SIM_IOMMU_INTERRUPT Interrupt;
    Entry.Bits.Mask = 0;
    assert_int_equal(SimIommuRemapIoApicEntry(0, Entry.Value, IOAPIC_SOURCE_ID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x22);
}

/* Without remapping, an APIC id above 254 stays out of a device's reach. */
static void test_line_without_remapping_refuses_wide_ids(void **State)
{
    (void)State;
    StartMachine(true, true);
    assert_int_equal(HlRemapRegisterUnit(0, UNIT_BASE), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlRemapAssignIoApic(IOAPIC_ID, 0, IOAPIC_SOURCE_ID), IRQ_STATUS_SUCCESS);
    /* Assigned but not enabled: compatibility format, 8-bit destinations. */
    assert_int_equal(RouteLineTo(1, VECTOR), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(RouteLineTo(0, VECTOR), IRQ_STATUS_SUCCESS);
    SimPulseGsi(LINE_GSI);
    assert_true(SimLapicIrrIsSet(0, VECTOR));
}

static void test_assign_refusals(void **State)
{
    (void)State;
    assert_int_equal(HlRemapAssignIoApic(IOAPIC_ID, 0, IOAPIC_SOURCE_ID), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(HlRemapAssignIoApic(7, 3, IOAPIC_SOURCE_ID), IRQ_STATUS_INVALID_PARAMETER);
}

/* A unit enabled on the two-CPU x2APIC machine, or a test that builds its
 * own machine; either way the teardown resets Hl and the sim. */
#define ENABLED_UNIT_TEST(Test) cmocka_unit_test_setup_teardown(Test, SetupX2Apic, Teardown)
#define OWN_MACHINE_TEST(Test) cmocka_unit_test_teardown(Test, Teardown)

TB_TEST_MAIN(
    ENABLED_UNIT_TEST(test_enable_follows_the_order_and_remaps),
    ENABLED_UNIT_TEST(test_move_is_seen_after_the_invalidation),
    ENABLED_UNIT_TEST(test_wrong_requester_faults_and_is_collected),
    ENABLED_UNIT_TEST(test_freed_entry_is_not_present),
    ENABLED_UNIT_TEST(test_compatibility_format_is_blocked),
    ENABLED_UNIT_TEST(test_ioapic_entry_in_remappable_format),
    ENABLED_UNIT_TEST(test_entry_refusals_change_nothing),
    OWN_MACHINE_TEST(test_x2apic_needs_extended_interrupt_mode),
    OWN_MACHINE_TEST(test_xapic_destinations_are_eight_bits),
    OWN_MACHINE_TEST(test_register_refusals),
    ENABLED_UNIT_TEST(test_line_reaches_apic_id_above_255),
    ENABLED_UNIT_TEST(test_line_move_rewrites_only_the_table_entry),
    ENABLED_UNIT_TEST(test_line_move_to_new_vector_updates_both),
    ENABLED_UNIT_TEST(test_line_free_masks_and_clears_the_entry),
    OWN_MACHINE_TEST(test_line_without_remapping_refuses_wide_ids),
    ENABLED_UNIT_TEST(test_assign_refusals))
