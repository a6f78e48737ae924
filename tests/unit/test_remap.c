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

#define UNIT_BASE SIM_IOMMU_DEFAULT_BASE
#define EDU_SOURCE_ID 0x0018u   /* 00:03.0, as QEMU lists edu */
#define IOAPIC_SOURCE_ID 0xFF00u /* FF:00.0, QEMU's I/O APIC */
#define VECTOR 0x51u

static void StartMachine(bool X2Apic, bool ExtendedInterruptMode)
{
    SIM_CONFIG Config = {.CpuCount = 2, .X2ApicSupported = X2Apic,
                         .FirmwareMode = SimLapicXApic};
    TbStartHardwareLayer(&Config);
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
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = 1};
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

int main(void)
{
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup_teardown(test_enable_follows_the_order_and_remaps, SetupX2Apic, Teardown),
        cmocka_unit_test_setup_teardown(test_move_is_seen_after_the_invalidation, SetupX2Apic, Teardown),
        cmocka_unit_test_setup_teardown(test_wrong_requester_faults_and_is_collected, SetupX2Apic, Teardown),
        cmocka_unit_test_setup_teardown(test_freed_entry_is_not_present, SetupX2Apic, Teardown),
        cmocka_unit_test_setup_teardown(test_compatibility_format_is_blocked, SetupX2Apic, Teardown),
        cmocka_unit_test_setup_teardown(test_ioapic_entry_in_remappable_format, SetupX2Apic, Teardown),
        cmocka_unit_test_setup_teardown(test_entry_refusals_change_nothing, SetupX2Apic, Teardown),
        cmocka_unit_test_teardown(test_x2apic_needs_extended_interrupt_mode, Teardown),
        cmocka_unit_test_teardown(test_xapic_destinations_are_eight_bits, Teardown),
        cmocka_unit_test_teardown(test_register_refusals, Teardown),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
