/* SPDX-License-Identifier: MIT */
/*
 * The PIC service (src/hl/pic.c): line resolution through QEMU's MADT
 * overrides, and GSI routing through the real I/O APIC driver into the
 * sim's 82093AA and local APIC models.
 *
 * The sim is created bare (no Ke/Io), as a kernel's boot does it
 * (platform/sim/simboot.c): LAPIC mode, I/O APICs, QEMU's overrides
 * (IRQ0 -> GSI2 flags 0; IRQ 5, 9, 10, 11 flags 0x0d), then every CPU
 * registers its APIC id (2n+1: never the index) and initialises its local
 * APIC on its own attached thread. The test thread then acts as CPU 0 with
 * interrupts disabled; Service(cpu) takes what is pending on a CPU, as that
 * CPU would, through a recording interrupt entry that sends the EOI.
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
#define CPU_COUNT 4u
#define NO_GSI 0xFFFFFFFFu

/* GSIs of the default 24-pin I/O APIC that no override touches. */
#define GSI_EDGE 4u
#define GSI_EDGE_2 6u
#define GSI_EDGE_3 7u
#define GSI_PCI 20u

/* ---- Fixture ------------------------------------------------------------------------ */


static uint32_t Seen[CPU_COUNT][256];
static uint32_t DeassertOnService = NO_GSI;

/* The sim's IDT: record, let a level device drop its line, EOI. */
static void RecordingEntry(uint32_t Cpu, uint8_t Vector)
{
    if (Cpu < CPU_COUNT)
        Seen[Cpu][Vector]++;
    if (DeassertOnService != NO_GSI)
        SimSetGsi(DeassertOnService, false);
    HlLapicEndOfInterrupt();
}

static void RegisterQemuOverrides(void)
{
    assert_int_equal(HlPicRegisterOverride(0, 2, 0), IRQ_STATUS_SUCCESS);
    static const uint8_t LevelIrqs[] = {5, 9, 10, 11};
    for (unsigned Index = 0; Index < sizeof(LevelIrqs); Index++)
        assert_int_equal(HlPicRegisterOverride(LevelIrqs[Index], LevelIrqs[Index], 0x0d), IRQ_STATUS_SUCCESS);
}

static void BootSim(const SIM_CONFIG *Config)
{
    TbStartHardwareLayer(Config);
    SimSetInterruptEntry(RecordingEntry);
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
        for (uint32_t Vector = 0; Vector < 256; Vector++)
            Seen[Cpu][Vector] = 0;
    DeassertOnService = NO_GSI;

    SimAttachCpu(HOME_CPU);
    if (Config->IoApicCount == 0) {
        assert_int_equal(HlIoApicRegister(0, HL_IOAPIC_DEFAULT_BASE, 0), IRQ_STATUS_SUCCESS);
    } else {
        for (uint32_t Index = 0; Index < Config->IoApicCount; Index++)
            assert_int_equal(HlIoApicRegister(Config->IoApics[Index].Id, Config->IoApics[Index].Address,
                                              Config->IoApics[Index].GsiBase),
                             IRQ_STATUS_SUCCESS);
    }
    RegisterQemuOverrides();
    SimDetachCpu();
    TbStartHardwareCpus(Config->CpuCount, IR_CPU_NONE);
}

/* cmocka fixture: boots the machine *State names (MACHINE_TEST). */
static int SetupMachine(void **State)
{
    BootSim(*State);
    return 0;
}

static const SIM_CONFIG Qemu = {.CpuCount = CPU_COUNT};
static const SIM_CONFIG X2Apic = {.CpuCount = CPU_COUNT, .X2ApicSupported = true};

/* ---- Helpers --------------------------------------------------------------------------- */

/* Takes what is pending on Cpu, as that CPU would, then acts as CPU 0 again. */
static uint32_t Service(uint32_t Cpu)
{
    SimDetachCpu();
    SimAttachCpu(Cpu);
    uint32_t Count = SimServicePending();
    SimDetachCpu();
    SimAttachCpu(HOME_CPU);
    (void)PlatDisableInterrupts();
    return Count;
}

static IOAPIC_REDIRECTION_ENTRY Peek(uint32_t Gsi)
{
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(Gsi)};
    return Entry;
}

static uint32_t CpusWithIrr(uint8_t Vector)
{
    uint32_t Mask = 0;
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++) {
        if (SimLapicIrrIsSet(Cpu, Vector))
            Mask |= 1u << Cpu;
    }
    return Mask;
}

static uint64_t TotalDelivered(void)
{
    uint64_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
        Total += SimDeliveredCount(Cpu);
    return Total;
}

static HL_INTERRUPT_TARGET CpuTarget(uint32_t Cpu)
{
    return (HL_INTERRUPT_TARGET){.Kind = HlTargetCpu, .Cpu = Cpu};
}

static IR_CPU_SET TargetSet;

static HL_INTERRUPT_TARGET SetTarget(HL_TARGET_KIND Kind, uint64_t Cpus)
{
    IrCpuSetZero(&TargetSet);
    IrCpuSetFromAffinity(&TargetSet, Cpus);
    return (HL_INTERRUPT_TARGET){.Kind = Kind, .CpuSet = &TargetSet};
}

/* Allocates Gsi, which must succeed. */
static void AssertAllocated(uint32_t Gsi, uint8_t Vector, const HL_INTERRUPT_TARGET *Target, HL_TRIGGER_MODE Trigger,
                            HL_POLARITY Polarity)
{
    assert_int_equal(HlPicAllocateSystemInterrupt(Gsi, Vector, Target, Trigger, Polarity), IRQ_STATUS_SUCCESS);
}

static void AssertResolves(HL_INTERRUPT_LINE Line, uint32_t Gsi, HL_TRIGGER_MODE Trigger, HL_POLARITY Polarity)
{
    HL_RESOLVED_LINE Resolved;
    assert_int_equal(HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_SUCCESS);
    assert_int_equal(Resolved.Gsi, Gsi);
    assert_int_equal(Resolved.Trigger, Trigger);
    assert_int_equal(Resolved.Polarity, Polarity);
}

static void AssertResolveFails(HL_INTERRUPT_LINE Line, IRQ_STATUS Expected)
{
    HL_RESOLVED_LINE Resolved = {.Gsi = 0xABCD};
    assert_int_equal(HlPicResolveLine(&Line, &Resolved), Expected);
    assert_int_equal(Resolved.Gsi, 0xABCD);
}

static HL_INTERRUPT_LINE IsaLine(uint32_t Irq)
{
    return (HL_INTERRUPT_LINE){.Bus = HlBusIsa, .Number = Irq};
}

static void AssertRoutedPhysical(uint32_t Gsi, uint8_t Vector, uint32_t Cpu, HL_TRIGGER_MODE Trigger,
                                 HL_POLARITY Polarity)
{
    IOAPIC_REDIRECTION_ENTRY Entry = Peek(Gsi);
    assert_int_equal(Entry.Bits.Mask, 0);
    assert_int_equal(Entry.Bits.Vector, Vector);
    assert_int_equal(Entry.Bits.Destination, SimCpuApicId(Cpu));
    assert_int_equal(Entry.Bits.DestinationMode, 0);
    assert_int_equal(Entry.Bits.DeliveryMode, HlDeliveryFixed);
    assert_int_equal(Entry.Bits.TriggerMode, Trigger);
    assert_int_equal(Entry.Bits.Polarity, Polarity);
    /* Bits 55:48 stay zero (QEMU reads them as an extended destination). */
    assert_int_equal((Entry.Value >> 48) & 0xFF, 0);
}

/* An unmasked entry with a logical destination (82093AA 3.2.4: bit 11
 * set, bits 63:56 the logical id) and DeliveryMode. */
static void AssertRoutedLogical(uint32_t Gsi, uint8_t Destination, HL_DELIVERY_MODE DeliveryMode)
{
    IOAPIC_REDIRECTION_ENTRY Entry = Peek(Gsi);
    assert_int_equal(Entry.Bits.Mask, 0);
    assert_int_equal(Entry.Bits.DestinationMode, 1);
    assert_int_equal(Entry.Bits.Destination, Destination);
    assert_int_equal(Entry.Bits.DeliveryMode, DeliveryMode);
    assert_int_equal((Entry.Value >> 48) & 0xFF, 0);
}

/* ---- Line resolution ------------------------------------------------------------------------ */

static void test_isa_lines_through_qemu_overrides(void **State)
{
    (void)State;
    /* The PIT: IRQ0 is GSI2, flags 0 = ISA's edge, active high. */
    AssertResolves(IsaLine(0), 2, HlTriggerEdge, HlPolarityActiveHigh);
    /* IRQ 9 (the ACPI SCI) and the PCI-routed 5, 10, 11: level, active high. */
    AssertResolves(IsaLine(9), 9, HlTriggerLevel, HlPolarityActiveHigh);
    AssertResolves(IsaLine(5), 5, HlTriggerLevel, HlPolarityActiveHigh);
    AssertResolves(IsaLine(10), 10, HlTriggerLevel, HlPolarityActiveHigh);
    AssertResolves(IsaLine(11), 11, HlTriggerLevel, HlPolarityActiveHigh);
    /* No override: identity, edge, active high (RTC, COM1, keyboard). */
    AssertResolves(IsaLine(8), 8, HlTriggerEdge, HlPolarityActiveHigh);
    AssertResolves(IsaLine(4), 4, HlTriggerEdge, HlPolarityActiveHigh);
    AssertResolves(IsaLine(1), 1, HlTriggerEdge, HlPolarityActiveHigh);
    AssertResolves(IsaLine(15), 15, HlTriggerEdge, HlPolarityActiveHigh);
}

static void test_isa_irq_above_15(void **State)
{
    (void)State;
    AssertResolveFails(IsaLine(16), IRQ_STATUS_INVALID_GSI);
    AssertResolveFails(IsaLine(0xFFFFFFFFu), IRQ_STATUS_INVALID_GSI);
}

static void test_pci_defaults(void **State)
{
    (void)State;
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusPci, .Number = 16}, 16, HlTriggerLevel, HlPolarityActiveLow);
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusPci, .Number = 23}, 23, HlTriggerLevel, HlPolarityActiveLow);
    /* PCI takes the GSI as it is, even below 16. */
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusPci, .Number = 11}, 11, HlTriggerLevel, HlPolarityActiveLow);
}

static void test_gsi_bus_defaults(void **State)
{
    (void)State;
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = 3}, 3, HlTriggerEdge, HlPolarityActiveHigh);
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = 2}, 2, HlTriggerEdge, HlPolarityActiveHigh);
    /* GSI 9 is where the IRQ 9 override lands: its flags describe it. */
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = 9}, 9, HlTriggerLevel, HlPolarityActiveHigh);
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = GSI_PCI}, GSI_PCI, HlTriggerLevel,
                   HlPolarityActiveLow);
}

static void test_gsi_not_covered(void **State)
{
    (void)State;
    AssertResolveFails((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = 24}, IRQ_STATUS_INVALID_GSI);
    AssertResolveFails((HL_INTERRUPT_LINE){.Bus = HlBusPci, .Number = 24}, IRQ_STATUS_INVALID_GSI);
    AssertResolveFails((HL_INTERRUPT_LINE){.Bus = HlBusPci, .Number = 0xFFFFFFFFu}, IRQ_STATUS_INVALID_GSI);
    /* An override to a GSI no I/O APIC has is refused, and IRQ 3 keeps its
     * identity-mapped pin. */
    assert_int_equal(HlPicRegisterOverride(3, 40, 0), IRQ_STATUS_INVALID_GSI);
    AssertResolves(IsaLine(3), 3, HlTriggerEdge, HlPolarityActiveHigh);
}

static void test_explicit_options_win(void **State)
{
    (void)State;
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusPci, .Number = 16, .Trigger = HlLineEdge,
                                       .Polarity = HlLineActiveHigh},
                   16, HlTriggerEdge, HlPolarityActiveHigh);
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusIsa, .Number = 9, .Trigger = HlLineEdge}, 9, HlTriggerEdge,
                   HlPolarityActiveHigh);
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusIsa, .Number = 4, .Trigger = HlLineLevel,
                                       .Polarity = HlLineActiveLow},
                   4, HlTriggerLevel, HlPolarityActiveLow);
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = GSI_PCI, .Trigger = HlLineEdge}, GSI_PCI,
                   HlTriggerEdge, HlPolarityActiveLow);
}

static void test_bad_lines(void **State)
{
    (void)State;
    HL_RESOLVED_LINE Resolved;
    HL_INTERRUPT_LINE Line = IsaLine(4);
    assert_int_equal(HlPicResolveLine(NULL, &Resolved), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlPicResolveLine(&Line, NULL), IRQ_STATUS_INVALID_PARAMETER);
    AssertResolveFails((HL_INTERRUPT_LINE){.Bus = HlBusIsa, .Number = 4, .Trigger = HlLineActiveHigh},
                       IRQ_STATUS_INVALID_PARAMETER);
    AssertResolveFails((HL_INTERRUPT_LINE){.Bus = HlBusIsa, .Number = 4, .Polarity = HlLineLevel},
                       IRQ_STATUS_INVALID_PARAMETER);
    AssertResolveFails((HL_INTERRUPT_LINE){.Bus = (HL_LINE_BUS)7, .Number = 4}, IRQ_STATUS_INVALID_PARAMETER);
}

static void test_override_registration(void **State)
{
    (void)State;
    assert_int_equal(HlPicRegisterOverride(16, 16, 0), IRQ_STATUS_INVALID_GSI);
    /* Polarity 10b and trigger 10b are reserved encodings. */
    assert_int_equal(HlPicRegisterOverride(4, 4, 0x2), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlPicRegisterOverride(4, 4, 0x8), IRQ_STATUS_INVALID_PARAMETER);
    AssertResolves(IsaLine(4), 4, HlTriggerEdge, HlPolarityActiveHigh);

    /* The last override of an IRQ wins. */
    assert_int_equal(HlPicRegisterOverride(4, 7, 0xF), IRQ_STATUS_SUCCESS);
    AssertResolves(IsaLine(4), 7, HlTriggerLevel, HlPolarityActiveLow);
    assert_int_equal(HlPicRegisterOverride(4, 6, 0x5), IRQ_STATUS_SUCCESS);
    AssertResolves(IsaLine(4), 6, HlTriggerEdge, HlPolarityActiveHigh);
    /* Polarity low, trigger "conforms" (ISA: edge). */
    assert_int_equal(HlPicRegisterOverride(3, 3, 0x3), IRQ_STATUS_SUCCESS);
    AssertResolves(IsaLine(3), 3, HlTriggerEdge, HlPolarityActiveLow);
    /* Level, polarity "conforms" (ISA: high). */
    assert_int_equal(HlPicRegisterOverride(12, 12, 0xC), IRQ_STATUS_SUCCESS);
    AssertResolves(IsaLine(12), 12, HlTriggerLevel, HlPolarityActiveHigh);
}

/* ---- Routing ------------------------------------------------------------------------------ */

/* The seed kernel sent everything to the BSP; here each CPU in turn gets
 * the line, and only that CPU's LAPIC sees the edge. */
static void test_gsi_to_each_cpu_in_turn(void **State)
{
    (void)State;
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++) {
        uint8_t Vector = (uint8_t)(0x51u + 0x10u * Cpu);
        HL_INTERRUPT_TARGET Target = CpuTarget(Cpu);
        AssertAllocated(GSI_EDGE, Vector, &Target, HlTriggerEdge, HlPolarityActiveHigh);
        AssertRoutedPhysical(GSI_EDGE, Vector, Cpu, HlTriggerEdge, HlPolarityActiveHigh);

        uint64_t Before = SimDeliveredCount(Cpu);
        SimPulseGsi(GSI_EDGE);
        assert_int_equal(CpusWithIrr(Vector), 1u << Cpu);
        assert_int_equal(SimDeliveredCount(Cpu), Before + 1);
        assert_false(SimLapicTmrIsSet(Cpu, Vector));
        assert_int_equal(Service(Cpu), 1);
        assert_int_equal(Seen[Cpu][Vector], 1);
        assert_int_equal(CpusWithIrr(Vector), 0);
    }
}

static void test_isa_pit_line_routed(void **State)
{
    (void)State;
    HL_RESOLVED_LINE Resolved;
    HL_INTERRUPT_LINE Line = IsaLine(0);
    assert_int_equal(HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_SUCCESS);
    HL_INTERRUPT_TARGET Target = CpuTarget(3);
    AssertAllocated(Resolved.Gsi, 0x62, &Target, Resolved.Trigger, Resolved.Polarity);
    AssertRoutedPhysical(2, 0x62, 3, HlTriggerEdge, HlPolarityActiveHigh);
    SimPulseGsi(2);
    assert_int_equal(CpusWithIrr(0x62), 1u << 3);
}

static void test_level_line_routed(void **State)
{
    (void)State;
    HL_RESOLVED_LINE Resolved;
    HL_INTERRUPT_LINE Line = IsaLine(9);
    assert_int_equal(HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_SUCCESS);
    HL_INTERRUPT_TARGET Target = CpuTarget(2);
    AssertAllocated(9, 0x93, &Target, Resolved.Trigger, Resolved.Polarity);
    AssertRoutedPhysical(9, 0x93, 2, HlTriggerLevel, HlPolarityActiveHigh);

    SimSetGsi(9, true);
    assert_int_equal(CpusWithIrr(0x93), 1u << 2);
    assert_true(SimLapicTmrIsSet(2, 0x93));
    assert_int_equal(Peek(9).Bits.RemoteIrr, 1);
    DeassertOnService = 9;
    assert_int_equal(Service(2), 1);
    assert_int_equal(Peek(9).Bits.RemoteIrr, 0);
    assert_int_equal(Seen[2][0x93], 1);
}

static void test_logical_set_reaches_every_member(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = SetTarget(HlTargetCpuSetFixed, 0xA);
    AssertAllocated(GSI_EDGE_2, 0x74, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    AssertRoutedLogical(GSI_EDGE_2, 0x0A, HlDeliveryFixed);

    SimPulseGsi(GSI_EDGE_2);
    assert_int_equal(CpusWithIrr(0x74), 0xAu);
    assert_int_equal(Service(1), 1);
    assert_int_equal(Service(3), 1);
    assert_int_equal(Seen[1][0x74], 1);
    assert_int_equal(Seen[3][0x74], 1);
    assert_int_equal(Seen[0][0x74] + Seen[2][0x74], 0);
}

static void test_lowest_priority_set_reaches_one_member(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = SetTarget(HlTargetCpuSetLowestPriority, 0x5);
    AssertAllocated(GSI_EDGE_3, 0x75, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    AssertRoutedLogical(GSI_EDGE_3, 0x05, HlDeliveryLowestPriority);
    SimPulseGsi(GSI_EDGE_3);
    uint32_t Took = CpusWithIrr(0x75);
    assert_true(Took == 0x1u || Took == 0x4u);
}

/* ---- Moving a live line ------------------------------------------------------------------- */

/* The device fires at least MIN_PULSES times and keeps firing until the
 * line has moved at least MIN_MOVES times, while the test thread moves it
 * until the device stops: the two overlap however the host schedules them. */
#define MIN_PULSES 20000u
#define MIN_MOVES 200u

static _Atomic bool PulserDone;
static _Atomic uint32_t MovesMade;
static _Atomic uint32_t MaskedSamples;
static uint32_t PulsesSent;

/* A device that keeps firing while the line moves; it also watches the
 * entry and counts every time it finds it masked. */
static void *Pulser(void *Argument)
{
    (void)Argument;
    uint32_t Pulses = 0;
    while (Pulses < MIN_PULSES || atomic_load(&MovesMade) < MIN_MOVES) {
        SimPulseGsi(GSI_EDGE);
        Pulses++;
        if (Peek(GSI_EDGE).Bits.Mask != 0)
            atomic_fetch_add(&MaskedSamples, 1);
    }
    PulsesSent = Pulses;
    atomic_store(&PulserDone, true);
    return NULL;
}

static void test_retarget_live_edge_loses_nothing(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(0);
    AssertAllocated(GSI_EDGE, 0x61, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    uint64_t Before = TotalDelivered();
    atomic_store(&PulserDone, false);
    atomic_store(&MovesMade, 0);
    atomic_store(&MaskedSamples, 0);
    pthread_t Thread;
    assert_int_equal(pthread_create(&Thread, NULL, Pulser, NULL), 0);
    /* Every other move changes the vector too (0x61 <-> 0x71): both kinds
     * of move rewrite the entry in place. */
    uint32_t Moves = 0;
    uint8_t Vector = 0x61;
    while (!atomic_load(&PulserDone)) {
        Moves++;
        Target = CpuTarget(Moves % CPU_COUNT);
        if (Moves % 2 == 0)
            Vector = Vector == 0x61 ? 0x71 : 0x61;
        assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, Vector, &Target), IRQ_STATUS_SUCCESS);
        atomic_store(&MovesMade, Moves);
    }
    pthread_join(Thread, NULL);
    print_message("%u moves during %u pulses\n", Moves, PulsesSent);

    /* Every edge reached some CPU: none arrived on a masked entry. */
    assert_true(Moves >= MIN_MOVES);
    assert_true(PulsesSent >= MIN_PULSES);
    assert_int_equal(TotalDelivered() - Before, PulsesSent);
    assert_int_equal(atomic_load(&MaskedSamples), 0);
    AssertRoutedPhysical(GSI_EDGE, Vector, Moves % CPU_COUNT, HlTriggerEdge, HlPolarityActiveHigh);
}

static void test_retarget_moves_vector_and_destination(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(0);
    AssertAllocated(GSI_EDGE, 0x61, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    Target = CpuTarget(2);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, 0x71, &Target), IRQ_STATUS_SUCCESS);
    AssertRoutedPhysical(GSI_EDGE, 0x71, 2, HlTriggerEdge, HlPolarityActiveHigh);
    SimPulseGsi(GSI_EDGE);
    assert_int_equal(CpusWithIrr(0x71), 1u << 2);
    assert_int_equal(CpusWithIrr(0x61), 0);
}

static void test_retarget_keeps_trigger_polarity_and_mask(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(0);
    AssertAllocated(GSI_PCI, 0x81, &Target, HlTriggerLevel, HlPolarityActiveLow);
    assert_int_equal(HlPicFreeSystemInterrupt(GSI_PCI), IRQ_STATUS_SUCCESS);
    Target = CpuTarget(1);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_PCI, 0x82, &Target), IRQ_STATUS_SUCCESS);
    IOAPIC_REDIRECTION_ENTRY Entry = Peek(GSI_PCI);
    assert_int_equal(Entry.Bits.Mask, 1);
    assert_int_equal(Entry.Bits.TriggerMode, 1);
    assert_int_equal(Entry.Bits.Polarity, 1);
    assert_int_equal(Entry.Bits.Vector, 0x82);
    assert_int_equal(Entry.Bits.Destination, SimCpuApicId(1));
    /* Still masked: an asserted line is not sent. */
    SimSetGsi(GSI_PCI, true);
    assert_int_equal(CpusWithIrr(0x82), 0);
}

static void test_retarget_destination_mode_on_live_edge_refused(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(1);
    AssertAllocated(GSI_EDGE, 0x61, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    uint64_t Before = SimIoApicPeekEntry(GSI_EDGE);
    HL_INTERRUPT_TARGET Set = SetTarget(HlTargetCpuSetFixed, 0x6);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, 0x61, &Set), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(SimIoApicPeekEntry(GSI_EDGE), Before);

    /* Masked, the same change is a plain rewrite. */
    assert_int_equal(HlPicFreeSystemInterrupt(GSI_EDGE), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, 0x61, &Set), IRQ_STATUS_SUCCESS);
    IOAPIC_REDIRECTION_ENTRY Entry = Peek(GSI_EDGE);
    assert_int_equal(Entry.Bits.Mask, 1);
    assert_int_equal(Entry.Bits.DestinationMode, 1);
    assert_int_equal(Entry.Bits.Destination, 0x06);
}

/* A level line in service (Remote IRR set) can change destination, not
 * vector: the EOI still to come carries the old vector. */
static void test_retarget_level_line_in_service(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(0);
    AssertAllocated(9, 0x71, &Target, HlTriggerLevel, HlPolarityActiveHigh);
    SimSetGsi(9, true);
    assert_int_equal(CpusWithIrr(0x71), 1u << 0);
    assert_int_equal(Peek(9).Bits.RemoteIrr, 1);

    uint64_t Before = SimIoApicPeekEntry(9);
    Target = CpuTarget(1);
    assert_int_equal(HlPicRetargetSystemInterrupt(9, 0x81, &Target), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(SimIoApicPeekEntry(9), Before);

    assert_int_equal(HlPicRetargetSystemInterrupt(9, 0x71, &Target), IRQ_STATUS_SUCCESS);
    AssertRoutedPhysical(9, 0x71, 1, HlTriggerLevel, HlPolarityActiveHigh);
    assert_int_equal(Peek(9).Bits.RemoteIrr, 1);

    /* CPU 0 EOIs; the line is still asserted, so it is sent again - to CPU 1. */
    assert_int_equal(Service(0), 1);
    assert_int_equal(CpusWithIrr(0x71), 1u << 1);
    DeassertOnService = 9;
    assert_int_equal(Service(1), 1);
    assert_int_equal(Peek(9).Bits.RemoteIrr, 0);

    /* Idle now: the vector may change too. */
    Target = CpuTarget(2);
    assert_int_equal(HlPicRetargetSystemInterrupt(9, 0x81, &Target), IRQ_STATUS_SUCCESS);
    AssertRoutedPhysical(9, 0x81, 2, HlTriggerLevel, HlPolarityActiveHigh);
    DeassertOnService = NO_GSI;
    SimSetGsi(9, true);
    assert_int_equal(CpusWithIrr(0x81), 1u << 2);
}

/* ---- Free and bad input ----------------------------------------------------------------------- */

static void test_free_masks_the_line(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(1);
    AssertAllocated(GSI_EDGE, 0x63, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    assert_int_equal(HlPicFreeSystemInterrupt(GSI_EDGE), IRQ_STATUS_SUCCESS);
    assert_int_equal(Peek(GSI_EDGE).Bits.Mask, 1);
    uint64_t Before = TotalDelivered();
    SimPulseGsi(GSI_EDGE);
    assert_int_equal(TotalDelivered(), Before);
    assert_int_equal(CpusWithIrr(0x63), 0);
    assert_int_equal(HlPicFreeSystemInterrupt(24), IRQ_STATUS_INVALID_GSI);
}

/* The previous user's last interrupt was never EOIed (its vector was freed
 * with the interrupt in flight): the next allocation must not inherit the
 * Remote IRR, or the line would never deliver on its new vector. */
static void test_reallocation_clears_stale_remote_irr(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(0);
    AssertAllocated(9, 0x71, &Target, HlTriggerLevel, HlPolarityActiveHigh);
    SimSetGsi(9, true);
    assert_int_equal(CpusWithIrr(0x71), 1u << 0);
    assert_int_equal(HlPicFreeSystemInterrupt(9), IRQ_STATUS_SUCCESS);
    assert_int_equal(Peek(9).Bits.RemoteIrr, 1);

    Target = CpuTarget(1);
    AssertAllocated(9, 0x81, &Target, HlTriggerLevel, HlPolarityActiveHigh);
    AssertRoutedPhysical(9, 0x81, 1, HlTriggerLevel, HlPolarityActiveHigh);
    /* Still asserted: sent again on the new vector, and that sets Remote IRR anew. */
    assert_int_equal(CpusWithIrr(0x81), 1u << 1);
    assert_int_equal(Peek(9).Bits.RemoteIrr, 1);
    DeassertOnService = 9;
    assert_int_equal(Service(1), 1);
    assert_int_equal(Peek(9).Bits.RemoteIrr, 0);
}

static void test_allocate_bad_input_changes_nothing(void **State)
{
    (void)State;
    uint64_t Before = SimIoApicPeekEntry(GSI_EDGE);
    assert_int_equal(Before & (1ull << 16), 1ull << 16);
    HL_INTERRUPT_TARGET Good = CpuTarget(1);
    assert_int_equal(HlPicAllocateSystemInterrupt(24, 0x61, &Good, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0x0F, &Good, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0xFF, &Good, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0x61, NULL, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0x61, &Good, (HL_TRIGGER_MODE)2, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0x61, &Good, HlTriggerEdge, (HL_POLARITY)2),
                     IRQ_STATUS_INVALID_PARAMETER);
    HL_INTERRUPT_TARGET Offline = CpuTarget(CPU_COUNT);
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0x61, &Offline, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_CPU);
    HL_INTERRUPT_TARGET NoApic = {.Kind = HlTargetApicId, .ApicId = 2};
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0x61, &NoApic, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_CPU);
    HL_INTERRUPT_TARGET Empty = SetTarget(HlTargetCpuSetFixed, 0);
    assert_int_equal(HlPicAllocateSystemInterrupt(GSI_EDGE, 0x61, &Empty, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(SimIoApicPeekEntry(GSI_EDGE), Before);

    assert_int_equal(HlPicRetargetSystemInterrupt(24, 0x61, &Good), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, 0x0F, &Good), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, 0x61, &Offline), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, 0x61, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(SimIoApicPeekEntry(GSI_EDGE), Before);
}

/* ---- Two I/O APICs ------------------------------------------------------------------------------ */

static void test_two_ioapics(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(3);
    AssertAllocated(30, 0xA1, &Target, HlTriggerLevel, HlPolarityActiveLow);
    AssertRoutedPhysical(30, 0xA1, 3, HlTriggerLevel, HlPolarityActiveLow);
    /* Pin 6 of the second chip; the first chip's pin 6 is untouched. */
    assert_int_equal(Peek(6).Bits.Mask, 1);
    SimSetGsi(30, true);
    assert_int_equal(CpusWithIrr(0xA1), 1u << 3);

    Target = CpuTarget(1);
    AssertAllocated(2, 0xA2, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    SimPulseGsi(2);
    assert_int_equal(CpusWithIrr(0xA2), 1u << 1);

    /* The first and last pins of the second chip, and one past it. */
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusPci, .Number = 24}, 24, HlTriggerLevel, HlPolarityActiveLow);
    AssertResolves((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = 39}, 39, HlTriggerLevel, HlPolarityActiveLow);
    AssertResolveFails((HL_INTERRUPT_LINE){.Bus = HlBusGsi, .Number = 40}, IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlPicAllocateSystemInterrupt(40, 0xA3, &Target, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_INVALID_GSI);
    AssertAllocated(39, 0xA3, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    SimPulseGsi(39);
    assert_int_equal(CpusWithIrr(0xA3), 1u << 1);
}

/* ---- x2APIC --------------------------------------------------------------------------------------- */

/* The sim's x2APIC ids are 1, 3, 5, 7: all in cluster 0 with member bits
 * below 8, so both physical and logical destinations fit the entry. */
static void test_x2apic_physical_and_cluster0_logical(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Target = CpuTarget(3);
    AssertAllocated(GSI_EDGE, 0x64, &Target, HlTriggerEdge, HlPolarityActiveHigh);
    AssertRoutedPhysical(GSI_EDGE, 0x64, 3, HlTriggerEdge, HlPolarityActiveHigh);
    SimPulseGsi(GSI_EDGE);
    assert_int_equal(CpusWithIrr(0x64), 1u << 3);

    /* CPUs 0 and 1 (ids 1 and 3): cluster 0, members 1 and 3, 0x0A. */
    HL_INTERRUPT_TARGET Set = SetTarget(HlTargetCpuSetFixed, 0x3);
    AssertAllocated(GSI_EDGE_2, 0x65, &Set, HlTriggerEdge, HlPolarityActiveHigh);
    AssertRoutedLogical(GSI_EDGE_2, 0x0A, HlDeliveryFixed);
    SimPulseGsi(GSI_EDGE_2);
    assert_int_equal(CpusWithIrr(0x65), 0x3u);
}

/* x2APIC ids 1 and 7 (cluster 0, members 1 and 7), 8 (member 8) and 0x100
 * (cluster 16): an 8-bit logical destination reaches members 0-7 of
 * cluster 0 only (it is zero-extended, SDM vol. 3A 11.12), and no physical
 * one reaches 0x100. */
static const uint32_t ClusterEdgeIds[CPU_COUNT] = {0x01, 0x07, 0x08, 0x100};

static const SIM_CONFIG X2ApicClusterEdge = {.CpuCount = CPU_COUNT, .X2ApicSupported = true, .ApicIds = ClusterEdgeIds};

static void AssertAllocateRefused(uint32_t Gsi, HL_INTERRUPT_TARGET Target)
{
    uint64_t Before = SimIoApicPeekEntry(Gsi);
    assert_int_equal(HlPicAllocateSystemInterrupt(Gsi, 0x66, &Target, HlTriggerEdge, HlPolarityActiveHigh),
                     IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(SimIoApicPeekEntry(Gsi), Before);
}

static void test_x2apic_logical_fits_members_0_to_7(void **State)
{
    (void)State;
    HL_INTERRUPT_TARGET Low = SetTarget(HlTargetCpuSetFixed, 0x3);
    AssertAllocated(GSI_EDGE, 0x67, &Low, HlTriggerEdge, HlPolarityActiveHigh);
    AssertRoutedLogical(GSI_EDGE, 0x82, HlDeliveryFixed);
    SimPulseGsi(GSI_EDGE);
    assert_int_equal(CpusWithIrr(0x67), 0x3u);

    HL_INTERRUPT_TARGET Lowest = SetTarget(HlTargetCpuSetLowestPriority, 0x2);
    AssertAllocated(GSI_EDGE_3, 0x68, &Lowest, HlTriggerEdge, HlPolarityActiveHigh);
    assert_int_equal(Peek(GSI_EDGE_3).Bits.Destination, 0x80);
    assert_int_equal(Peek(GSI_EDGE_3).Bits.DeliveryMode, HlDeliveryLowestPriority);
    SimPulseGsi(GSI_EDGE_3);
    assert_int_equal(CpusWithIrr(0x68), 0x2u);

    /* Member 8 is 0x100, cluster 16 is 0x10000 | bit: neither has 8 bits. */
    AssertAllocateRefused(GSI_EDGE_2, SetTarget(HlTargetCpuSetFixed, 0x4));
    AssertAllocateRefused(GSI_EDGE_2, SetTarget(HlTargetCpuSetFixed, 0x6));
    AssertAllocateRefused(GSI_EDGE_2, SetTarget(HlTargetCpuSetLowestPriority, 0x8));
    AssertAllocateRefused(GSI_EDGE_2, CpuTarget(3));
    /* A live line cannot be moved there either. */
    uint64_t Before = SimIoApicPeekEntry(GSI_EDGE);
    HL_INTERRUPT_TARGET Member8 = SetTarget(HlTargetCpuSetFixed, 0x4);
    assert_int_equal(HlPicRetargetSystemInterrupt(GSI_EDGE, 0x67, &Member8), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(SimIoApicPeekEntry(GSI_EDGE), Before);
}

/* A cmocka test run on a freshly booted Config (SetupMachine). */
#define MACHINE_TEST(Test, Config) \
    cmocka_unit_test_prestate_setup_teardown(Test, SetupMachine, TbTeardownHardwareLayer, (void *)(Config))
/* The same on the QEMU-like machine. */
#define QEMU_MACHINE_TEST(Test) MACHINE_TEST(Test, &Qemu)

TB_TEST_MAIN(
    QEMU_MACHINE_TEST(test_isa_lines_through_qemu_overrides),
    QEMU_MACHINE_TEST(test_isa_irq_above_15),
    QEMU_MACHINE_TEST(test_pci_defaults),
    QEMU_MACHINE_TEST(test_gsi_bus_defaults),
    QEMU_MACHINE_TEST(test_gsi_not_covered),
    QEMU_MACHINE_TEST(test_explicit_options_win),
    QEMU_MACHINE_TEST(test_bad_lines),
    QEMU_MACHINE_TEST(test_override_registration),
    QEMU_MACHINE_TEST(test_gsi_to_each_cpu_in_turn),
    QEMU_MACHINE_TEST(test_isa_pit_line_routed),
    QEMU_MACHINE_TEST(test_level_line_routed),
    QEMU_MACHINE_TEST(test_logical_set_reaches_every_member),
    QEMU_MACHINE_TEST(test_lowest_priority_set_reaches_one_member),
    QEMU_MACHINE_TEST(test_retarget_live_edge_loses_nothing),
    QEMU_MACHINE_TEST(test_retarget_moves_vector_and_destination),
    QEMU_MACHINE_TEST(test_retarget_keeps_trigger_polarity_and_mask),
    QEMU_MACHINE_TEST(test_retarget_destination_mode_on_live_edge_refused),
    QEMU_MACHINE_TEST(test_retarget_level_line_in_service),
    QEMU_MACHINE_TEST(test_reallocation_clears_stale_remote_irr),
    QEMU_MACHINE_TEST(test_free_masks_the_line),
    QEMU_MACHINE_TEST(test_allocate_bad_input_changes_nothing),
    MACHINE_TEST(test_two_ioapics, &TbTwoIoApicConfig),
    MACHINE_TEST(test_x2apic_physical_and_cluster0_logical, &X2Apic),
    MACHINE_TEST(test_x2apic_logical_fits_members_0_to_7, &X2ApicClusterEdge))
