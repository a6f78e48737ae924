/* SPDX-License-Identifier: MIT */
/*
 * The I/O APIC: the driver (src/hl/x86/ioapic.c) against the sim's 82093AA
 * model (platform/sim/ioapic_model.c), and the model's registers against the
 * datasheet.
 *
 * No Ke or Io: the sim is created bare, the test thread attached to CPU 0
 * (the driver's lock hooks need a current CPU), and each LAPIC (in xAPIC
 * mode, as firmware left it) is enabled by a raw SVR write so that fixed
 * interrupts are accepted into its IRR. The APIC ids are the sim's default
 * (CPU n has id 2n+1), never the CPU index. The model's refusals (accesses
 * the 82093AA leaves undefined) are caught as faults (TB_EXPECT_FAULT); any
 * other fault fails the test.
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

/* Two I/O APICs: QEMU's 24-pin one at GSI 0, and a 16-pin one at GSI 24. */
#define IOAPIC0_BASE TB_IOAPIC0_BASE
#define IOAPIC1_BASE TB_IOAPIC1_BASE
#define IOAPIC0_ID TB_IOAPIC0_ID
#define IOAPIC1_ID TB_IOAPIC1_ID
#define IOAPIC1_GSI_BASE TB_IOAPIC1_GSI_BASE
#define GSI_LIMIT 40u

/* 82093AA 3.1 and 3.2: memory-mapped and indirect registers. */
#define IOREGSEL 0x00u
#define IOWIN 0x10u
#define IOEOI 0x40u
#define IOAPICID 0x00u
#define IOAPICVER 0x01u
#define IOAPICARB 0x02u
#define IOREDTBL_LOW(Pin) (0x10u + 2u * (Pin))
#define IOREDTBL_HIGH(Pin) (0x11u + 2u * (Pin))
#define REMOTE_IRR (1ull << 14)

/* Local APIC (SDM vol. 3A 11.4.1 table 11-1), xAPIC MMIO. */
#define LAPIC_BASE 0xFEE00000u
#define LAPIC_EOI 0x0B0u
#define LAPIC_SVR 0x0F0u
#define LAPIC_SVR_ENABLE 0x100u

#define HOME_CPU 0u
#define CPU_COUNT 4u
#define VECTOR_A 0x61u
#define VECTOR_B 0x72u


/* ---- Helpers -------------------------------------------------------------------- */

static uint32_t Handled[CPU_COUNT][256];

static void RecordingEntry(uint32_t Cpu, uint8_t Vector)
{
    if (Cpu < CPU_COUNT)
        Handled[Cpu][Vector]++;
}

static uint32_t RawRead(uintptr_t Base, uint32_t Register)
{
    PlatMmioWrite32(Base + IOREGSEL, Register);
    return PlatMmioRead32(Base + IOWIN);
}

static void RawWrite(uintptr_t Base, uint32_t Register, uint32_t Value)
{
    PlatMmioWrite32(Base + IOREGSEL, Register);
    PlatMmioWrite32(Base + IOWIN, Value);
}

static void SwitchCpu(uint32_t Cpu)
{
    SimDetachCpu();
    SimAttachCpu(Cpu);
}

/* Runs on Cpu what it has pending (the recording entry, no EOI). */
static void ServiceCpu(uint32_t Cpu)
{
    SwitchCpu(Cpu);
    SimServicePending();
    SwitchCpu(HOME_CPU);
}

/* An EOI from Cpu's local APIC: for a level vector (TMR set) it is broadcast
 * to the I/O APICs (SDM vol. 3A 11.8.5). */
static void LapicEoi(uint32_t Cpu)
{
    SwitchCpu(Cpu);
    PlatMmioWrite32(LAPIC_BASE + LAPIC_EOI, 0);
    SwitchCpu(HOME_CPU);
}

static void RegisterBoth(void)
{
    assert_int_equal(HlIoApicRegister(IOAPIC0_ID, IOAPIC0_BASE, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC1_BASE, IOAPIC1_GSI_BASE), IRQ_STATUS_SUCCESS);
}

static IOAPIC_REDIRECTION_ENTRY MakeEntry(uint8_t Vector, uint32_t Cpu, HL_TRIGGER_MODE Trigger, bool Masked)
{
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = 0};
    Entry.Bits.Vector = Vector;
    Entry.Bits.DeliveryMode = HlDeliveryFixed;
    Entry.Bits.DestinationMode = 0;
    Entry.Bits.TriggerMode = Trigger;
    Entry.Bits.Mask = Masked;
    Entry.Bits.Destination = (uint8_t)SimCpuApicId(Cpu);
    return Entry;
}

static void Program(uint32_t Gsi, IOAPIC_REDIRECTION_ENTRY Entry)
{
    assert_int_equal(HlIoApicWriteEntry(Gsi, Entry), IRQ_STATUS_SUCCESS);
}

static uint64_t ReadEntry(uint32_t Gsi)
{
    IOAPIC_REDIRECTION_ENTRY Entry;
    assert_int_equal(HlIoApicReadEntry(Gsi, &Entry), IRQ_STATUS_SUCCESS);
    return Entry.Value;
}

typedef struct _SNAPSHOT {
    uint64_t Entries[GSI_LIMIT];
} SNAPSHOT;

static void TakeSnapshot(SNAPSHOT *Snapshot)
{
    for (uint32_t Gsi = 0; Gsi < GSI_LIMIT; Gsi++)
        Snapshot->Entries[Gsi] = SimIoApicPeekEntry(Gsi);
}

static void AssertUnchanged(const SNAPSHOT *Before)
{
    SNAPSHOT After;
    TakeSnapshot(&After);
    assert_memory_equal(After.Entries, Before->Entries, sizeof(After.Entries));
}

/* ---- Fixture ---------------------------------------------------------------------- */

static int Setup(void **State)
{
    (void)State;
    assert_int_equal(SimCreate(&TbTwoIoApicConfig), 0);
    TbCatchFaults();
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++) {
        for (uint32_t Vector = 0; Vector < 256; Vector++)
            Handled[Cpu][Vector] = 0;
    }
    SimSetInterruptEntry(RecordingEntry);
    /* Software-enable every LAPIC (SDM 11.4.7.2), spurious vector 0xFF. */
    for (uint32_t Cpu = CPU_COUNT; Cpu-- > 0;) {
        SimAttachCpu(Cpu);
        PlatMmioWrite32(LAPIC_BASE + LAPIC_SVR, LAPIC_SVR_ENABLE | 0xFFu);
        if (Cpu != HOME_CPU)
            SimDetachCpu();
    }
    HlResetHardwareLayer();
    return 0;
}

/* Setup, then both I/O APICs registered with the driver. */
static int SetupRegistered(void **State)
{
    int Status = Setup(State);
    if (Status == 0)
        RegisterBoth();
    return Status;
}

static int Teardown(void **State)
{
    (void)State;
    HlResetHardwareLayer();
    SimDetachCpu();
    SimDestroy();
    return 0;
}

/* ---- The model's registers, raw (82093AA 3.1, 3.2) ------------------------------- */

static void test_model_registers_match_datasheet(void **State)
{
    (void)State;
    /* IOAPICVER: version 0x20 (QEMU 7.2), max redirection entry = pins - 1. */
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICVER), 0x00170020u);
    assert_int_equal(RawRead(IOAPIC1_BASE, IOAPICVER), 0x000F0020u);
    /* IOAPICID and IOAPICARB: the id in bits 27:24. */
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICID), IOAPIC0_ID << 24);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICARB), IOAPIC0_ID << 24);
    assert_int_equal(RawRead(IOAPIC1_BASE, IOAPICID), IOAPIC1_ID << 24);
    /* Only bits 27:24 of IOAPICID are writable (the reserved ones are
     * ignored); IOAPICARB follows it (3.2.3). */
    RawWrite(IOAPIC0_BASE, IOAPICID, 0xFFFFFFFFu);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICID), 0x0F000000u);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICARB), 0x0F000000u);
    RawWrite(IOAPIC0_BASE, IOAPICID, IOAPIC0_ID << 24);
    /* IOAPICVER and IOAPICARB are read-only: a write to either is a fault. */
    TB_EXPECT_FAULT(RawWrite(IOAPIC0_BASE, IOAPICVER, 0), "read-only");
    TB_EXPECT_FAULT(RawWrite(IOAPIC0_BASE, IOAPICARB, 0x05000000u), "read-only");
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICVER), 0x00170020u);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICARB), IOAPIC0_ID << 24);
    /* IOREGSEL holds bits 7:0 only; 31:8 are ignored. */
    PlatMmioWrite32(IOAPIC0_BASE + IOREGSEL, 0x12345678u);
    assert_int_equal(PlatMmioRead32(IOAPIC0_BASE + IOREGSEL), 0x78u);
    /* Every entry comes out of reset masked (3.2.4). */
    for (uint32_t Pin = 0; Pin < 24; Pin++) {
        assert_int_equal(RawRead(IOAPIC0_BASE, IOREDTBL_LOW(Pin)), 0x00010000u);
        assert_int_equal(RawRead(IOAPIC0_BASE, IOREDTBL_HIGH(Pin)), 0);
    }
    /* Writable: low 11:0, 13, 15, 16; high 63:56. Delivery Status, Remote IRR
     * and the reserved bits read 0 whatever was written. */
    RawWrite(IOAPIC0_BASE, IOREDTBL_LOW(3), 0xFFFFFFFFu);
    RawWrite(IOAPIC0_BASE, IOREDTBL_HIGH(3), 0xFFFFFFFFu);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOREDTBL_LOW(3)), 0x0001AFFFu);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOREDTBL_HIGH(3)), 0xFF000000u);
    assert_true(SimIoApicPeekEntry(3) == 0xFF0000000001AFFFull);
    /* The second I/O APIC's pin 0 is GSI 24. */
    RawWrite(IOAPIC1_BASE, IOREDTBL_HIGH(0), 0x42000000u);
    assert_true(SimIoApicPeekEntry(IOAPIC1_GSI_BASE) == 0x4200000000010000ull);
}

/* Accesses whose result the 82093AA leaves undefined, or that QEMU and the
 * chip answer differently, fault and change nothing (ioapic_model.c): a
 * width other than 32 bits (3.0), an offset with no register, a read of the
 * write-only EOI register, EOI bits 31:8, IOWIN with no register selected
 * (0x03-0x0F, past the last entry). A fault leaves the chip usable. */
static void test_model_refusals(void **State)
{
    (void)State;
    RawWrite(IOAPIC1_BASE, IOREDTBL_LOW(2), 0x0000A061u); /* level, unmasked, vector 0x61 */
    SimSetGsi(IOAPIC1_GSI_BASE + 2, true);
    assert_true((SimIoApicPeekEntry(IOAPIC1_GSI_BASE + 2) & REMOTE_IRR) != 0);
    SNAPSHOT Before;
    TakeSnapshot(&Before);
    PlatMmioWrite32(IOAPIC0_BASE + IOREGSEL, IOAPICVER);

    TB_EXPECT_FAULT((void)SimMmioRead(IOAPIC0_BASE + IOWIN, 1), "32-bit");
    TB_EXPECT_FAULT((void)SimMmioRead(IOAPIC0_BASE + IOWIN, 2), "32-bit");
    TB_EXPECT_FAULT((void)SimMmioRead(IOAPIC0_BASE + IOREGSEL, 8), "32-bit");
    TB_EXPECT_FAULT(SimMmioWrite(IOAPIC0_BASE + IOREGSEL, 1, IOREDTBL_LOW(0)), "32-bit");
    TB_EXPECT_FAULT(SimMmioWrite(IOAPIC1_BASE + IOEOI, 2, 0x61), "32-bit");
    static const uint32_t NoRegister[] = {0x04, 0x08, 0x14, 0x20, 0x30, 0x44, 0x100, 0x110, 0xFFC};
    for (volatile uint32_t Index = 0; Index < sizeof(NoRegister) / sizeof(NoRegister[0]); Index++) {
        TB_EXPECT_FAULT((void)PlatMmioRead32(IOAPIC0_BASE + NoRegister[Index]), "no register at this offset");
        TB_EXPECT_FAULT(PlatMmioWrite32(IOAPIC0_BASE + NoRegister[Index], 0), "no register at this offset");
        assert_int_equal(TbFaultWhere, IOAPIC0_BASE + NoRegister[Index]);
    }
    TB_EXPECT_FAULT((void)PlatMmioRead32(IOAPIC1_BASE + IOEOI), "write-only");
    TB_EXPECT_FAULT(PlatMmioWrite32(IOAPIC1_BASE + IOEOI, 0x100u | 0x61u), "EOI register bits 31:8");
    assert_int_equal(PlatMmioRead32(IOAPIC0_BASE + IOREGSEL), IOAPICVER);

    static const struct { uintptr_t Base; uint32_t Select; } Unselected[] = {
        {IOAPIC0_BASE, 0x03}, {IOAPIC0_BASE, 0x0F}, {IOAPIC0_BASE, IOREDTBL_LOW(24)},
        {IOAPIC1_BASE, IOREDTBL_LOW(16)}, {IOAPIC1_BASE, IOREDTBL_HIGH(16)}, {IOAPIC0_BASE, 0xFF},
    };
    for (volatile uint32_t Index = 0; Index < sizeof(Unselected) / sizeof(Unselected[0]); Index++) {
        PlatMmioWrite32(Unselected[Index].Base + IOREGSEL, Unselected[Index].Select);
        TB_EXPECT_FAULT((void)PlatMmioRead32(Unselected[Index].Base + IOWIN), "selects no register");
        TB_EXPECT_FAULT(PlatMmioWrite32(Unselected[Index].Base + IOWIN, 0), "selects no register");
    }
    AssertUnchanged(&Before);
    assert_true((SimIoApicPeekEntry(IOAPIC1_GSI_BASE + 2) & REMOTE_IRR) != 0);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOAPICVER), 0x00170020u);

    /* Nothing decodes the page past the second chip's. */
    TB_EXPECT_FAULT((void)PlatMmioRead32(IOAPIC1_BASE + 0x1000u), "no device");
    /* And a valid EOI still works after all that. */
    SimSetGsi(IOAPIC1_GSI_BASE + 2, false);
    PlatMmioWrite32(IOAPIC1_BASE + IOEOI, 0x61u);
    assert_true((SimIoApicPeekEntry(IOAPIC1_GSI_BASE + 2) & REMOTE_IRR) == 0);
}

/* ---- Registration ------------------------------------------------------------------ */

static void test_register_reads_pin_count(void **State)
{
    (void)State;
    assert_int_equal(HlIoApicGetCount(), 0);
    RegisterBoth();
    assert_int_equal(HlIoApicGetCount(), 2);
    uint32_t Index = 99, Pin = 99;
    assert_int_equal(HlIoApicLookupGsi(23, &Index, &Pin), IRQ_STATUS_SUCCESS);
    assert_int_equal(Index, 0);
    assert_int_equal(Pin, 23);
    /* 16 pins read from IOAPICVER: GSI 39 is the last. */
    assert_int_equal(HlIoApicLookupGsi(39, &Index, &Pin), IRQ_STATUS_SUCCESS);
    assert_int_equal(Index, 1);
    assert_int_equal(Pin, 15);
    assert_int_equal(HlIoApicLookupGsi(40, &Index, &Pin), IRQ_STATUS_INVALID_GSI);
}

/* Firmware may leave entries unmasked: registration masks them all, keeping
 * their other fields. */
static void test_register_masks_every_entry(void **State)
{
    (void)State;
    RawWrite(IOAPIC0_BASE, IOREDTBL_LOW(0), 0x00000031u);
    RawWrite(IOAPIC0_BASE, IOREDTBL_LOW(23), 0x0000A041u);
    RawWrite(IOAPIC1_BASE, IOREDTBL_LOW(7), 0x00000051u);
    RegisterBoth();
    for (uint32_t Gsi = 0; Gsi < GSI_LIMIT; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Entry = {.Value = ReadEntry(Gsi)};
        assert_int_equal(Entry.Bits.Mask, 1);
        assert_true(SimIoApicPeekEntry(Gsi) == Entry.Value);
    }
    assert_int_equal(RawRead(IOAPIC0_BASE, IOREDTBL_LOW(23)), 0x0001A041u);
    assert_int_equal(RawRead(IOAPIC1_BASE, IOREDTBL_LOW(7)), 0x00010051u);
}

static void test_overlapping_or_bad_registration_refused(void **State)
{
    (void)State;
    assert_int_equal(HlIoApicRegister(IOAPIC0_ID, IOAPIC0_BASE, 0), IRQ_STATUS_SUCCESS);
    /* GSIs 16..31 would overlap 0..23; so would a range ending inside it. */
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC1_BASE, 16), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC1_BASE, 23), IRQ_STATUS_INVALID_GSI);
    /* A range that would pass 2^32. */
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC1_BASE, 0xFFFFFFF8u), IRQ_STATUS_INVALID_GSI);
    /* The same chip twice, no address, a misaligned address. */
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC0_BASE, 100), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, 0, 100), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC1_BASE + 4, 100), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlIoApicGetCount(), 1);
    assert_int_equal(HlIoApicLookupGsi(IOAPIC1_GSI_BASE, NULL, NULL), IRQ_STATUS_INVALID_GSI);
    /* A refused registration touched nothing: the second chip is still as reset. */
    RawWrite(IOAPIC1_BASE, IOREDTBL_LOW(0), 0x00000031u);
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC1_BASE, 20), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(RawRead(IOAPIC1_BASE, IOREDTBL_LOW(0)), 0x00000031u);
    /* Adjacent is fine. */
    assert_int_equal(HlIoApicRegister(IOAPIC1_ID, IOAPIC1_BASE, 24), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlIoApicGetCount(), 2);
}

static void test_two_ioapics_lookup_and_program(void **State)
{
    (void)State;
    static const struct { uint32_t Gsi, Index, Pin; } Cases[] = {
        {0, 0, 0}, {9, 0, 9}, {23, 0, 23}, {24, 1, 0}, {30, 1, 6}, {39, 1, 15},
    };
    for (size_t Case = 0; Case < sizeof(Cases) / sizeof(Cases[0]); Case++) {
        uint32_t Index = 99, Pin = 99;
        assert_int_equal(HlIoApicLookupGsi(Cases[Case].Gsi, &Index, &Pin), IRQ_STATUS_SUCCESS);
        assert_int_equal(Index, Cases[Case].Index);
        assert_int_equal(Pin, Cases[Case].Pin);
    }
    /* GSI 30 is the second chip's pin 6, not the first's. */
    Program(30, MakeEntry(VECTOR_A, 1, HlTriggerEdge, true));
    assert_int_equal(RawRead(IOAPIC1_BASE, IOREDTBL_LOW(6)), 0x00010000u | VECTOR_A);
    assert_int_equal(RawRead(IOAPIC1_BASE, IOREDTBL_HIGH(6)), SimCpuApicId(1) << 24);
    assert_int_equal(RawRead(IOAPIC0_BASE, IOREDTBL_LOW(6)), 0x00010000u);
}

/* ---- Entries through the driver ----------------------------------------------------- */

/* Every field, on every pin of both chips, reads back as written. */
static void test_entry_fields_round_trip(void **State)
{
    (void)State;
    static const uint8_t Modes[] = {HlDeliveryFixed, HlDeliveryLowestPriority, HlDeliverySmi,
                                    HlDeliveryNmi,   HlDeliveryInit,           HlDeliveryExtInt};
    for (uint32_t Gsi = 0; Gsi < GSI_LIMIT; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Entry = {.Value = 0};
        Entry.Bits.Vector = 0x10u + (Gsi * 7u) % 0xEFu;
        Entry.Bits.DeliveryMode = Modes[Gsi % 6u];
        Entry.Bits.DestinationMode = Gsi & 1u;
        Entry.Bits.Polarity = (Gsi >> 1) & 1u;
        Entry.Bits.TriggerMode = (Gsi >> 2) & 1u;
        Entry.Bits.Mask = (Gsi >> 3) & 1u;
        Entry.Bits.Destination = (uint8_t)(0xFFu - Gsi * 5u);
        Program(Gsi, Entry);
        assert_true(ReadEntry(Gsi) == Entry.Value);
        assert_true(SimIoApicPeekEntry(Gsi) == Entry.Value);
    }
    /* Extremes: vectors 10h and FEh, destination 0 and FF. */
    IOAPIC_REDIRECTION_ENTRY Low = MakeEntry(0x10, 0, HlTriggerEdge, false);
    Low.Bits.Destination = 0;
    Program(5, Low);
    assert_true(ReadEntry(5) == Low.Value);
    IOAPIC_REDIRECTION_ENTRY High = MakeEntry(0xFE, 0, HlTriggerEdge, false);
    High.Bits.Destination = 0xFF;
    Program(5, High);
    assert_true(ReadEntry(5) == High.Value);
    /* SetMask flips bit 16 only. */
    assert_int_equal(HlIoApicSetMask(5, true), IRQ_STATUS_SUCCESS);
    assert_true(ReadEntry(5) == (High.Value | (1ull << 16)));
    assert_int_equal(HlIoApicSetMask(5, false), IRQ_STATUS_SUCCESS);
    assert_true(ReadEntry(5) == High.Value);
}

/* Delivery Status and Remote IRR are read-only and the reserved bits stay
 * zero (55:48 included), whatever the caller's entry holds. */
static void test_read_only_bits_preserved(void **State)
{
    (void)State;
    IOAPIC_REDIRECTION_ENTRY Entry = MakeEntry(VECTOR_A, 1, HlTriggerLevel, true);
    IOAPIC_REDIRECTION_ENTRY Dirty = Entry;
    Dirty.Bits.DeliveryStatus = 1;
    Dirty.Bits.RemoteIrr = 1;
    Dirty.Bits.Reserved = 0x7FFFFFFFFFull;
    Program(7, Dirty);
    assert_true(ReadEntry(7) == Entry.Value);

    /* Remote IRR set by a delivery survives a rewrite that has it clear. */
    SimSetGsi(7, true);
    assert_int_equal(HlIoApicSetMask(7, false), IRQ_STATUS_SUCCESS);
    assert_true((ReadEntry(7) & REMOTE_IRR) != 0);
    Entry.Bits.Mask = 0;
    Entry.Bits.Destination = (uint8_t)SimCpuApicId(2);
    Program(7, Entry);
    assert_true(ReadEntry(7) == (Entry.Value | REMOTE_IRR));
    assert_int_equal(HlIoApicSetMask(7, true), IRQ_STATUS_SUCCESS);
    assert_true((ReadEntry(7) & REMOTE_IRR) != 0);
    SimSetGsi(7, false);
}

/* Bad input: the documented status, and no entry changes. */
static void test_bad_input_changes_nothing(void **State)
{
    (void)State;
    Program(4, MakeEntry(VECTOR_A, 1, HlTriggerEdge, true));
    SNAPSHOT Before;
    TakeSnapshot(&Before);
    IOAPIC_REDIRECTION_ENTRY Entry = MakeEntry(VECTOR_B, 1, HlTriggerEdge, false);

    /* GSIs no I/O APIC covers. */
    assert_int_equal(HlIoApicWriteEntry(GSI_LIMIT, Entry), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlIoApicWriteEntry(0xFFFFFFFFu, Entry), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlIoApicSetMask(GSI_LIMIT, false), IRQ_STATUS_INVALID_GSI);
    IOAPIC_REDIRECTION_ENTRY Read;
    assert_int_equal(HlIoApicReadEntry(GSI_LIMIT, &Read), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlIoApicLookupGsi(GSI_LIMIT, NULL, NULL), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlIoApicReadEntry(4, NULL), IRQ_STATUS_INVALID_PARAMETER);

    /* Reserved delivery modes 011 and 110 (3.2.4). */
    IOAPIC_REDIRECTION_ENTRY Reserved = Entry;
    Reserved.Bits.DeliveryMode = 3;
    assert_int_equal(HlIoApicWriteEntry(4, Reserved), IRQ_STATUS_INVALID_PARAMETER);
    Reserved.Bits.DeliveryMode = 6;
    assert_int_equal(HlIoApicWriteEntry(4, Reserved), IRQ_STATUS_INVALID_PARAMETER);

    /* An unmasked fixed entry needs a vector in 10h..FEh (3.2.4). */
    IOAPIC_REDIRECTION_ENTRY BadVector = Entry;
    BadVector.Bits.Vector = 0x0F;
    assert_int_equal(HlIoApicWriteEntry(4, BadVector), IRQ_STATUS_INVALID_VECTOR);
    BadVector.Bits.Vector = 0xFF;
    assert_int_equal(HlIoApicWriteEntry(4, BadVector), IRQ_STATUS_INVALID_VECTOR);
    AssertUnchanged(&Before);

    /* ... and unmasking an entry that holds such a vector is refused too. */
    BadVector.Bits.Vector = 0x00;
    BadVector.Bits.Mask = 1;
    Program(4, BadVector);
    TakeSnapshot(&Before);
    assert_int_equal(HlIoApicSetMask(4, false), IRQ_STATUS_INVALID_VECTOR);
    AssertUnchanged(&Before);
}

/* ---- Delivery ------------------------------------------------------------------------- */

/* A rising edge reaches the LAPIC whose APIC id is the destination (CPU 2
 * has id 5; no CPU 5 exists), and only that one. */
static void test_edge_delivered_to_destination_lapic(void **State)
{
    (void)State;
    assert_int_not_equal(SimCpuApicId(2), 2);
    Program(3, MakeEntry(VECTOR_A, 2, HlTriggerEdge, false));
    SimPulseGsi(3);
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, VECTOR_A), Cpu == 2);
    assert_false(SimLapicTmrIsSet(2, VECTOR_A));
    assert_int_equal(SimDeliveredCount(2), 1);

    /* One message per rising edge: holding the line high sends nothing more. */
    SimSetGsi(3, true);
    SimSetGsi(3, true);
    assert_int_equal(SimDeliveredCount(2), 2);
    SimSetGsi(3, false);

    /* A GSI on the second chip, to CPU 3. */
    Program(IOAPIC1_GSI_BASE + 2, MakeEntry(VECTOR_B, 3, HlTriggerEdge, false));
    SimPulseGsi(IOAPIC1_GSI_BASE + 2);
    assert_true(SimLapicIrrIsSet(3, VECTOR_B));
    assert_false(SimLapicIrrIsSet(2, VECTOR_B));
    ServiceCpu(2);
    assert_int_equal(Handled[2][VECTOR_A], 1);
}

/* An edge that arrives while the entry is masked is dropped, not held
 * (82093AA 3.2.4, bit 16). */
static void test_edge_while_masked_is_lost(void **State)
{
    (void)State;
    Program(3, MakeEntry(VECTOR_A, 1, HlTriggerEdge, true));
    SimPulseGsi(3);
    assert_int_equal(HlIoApicSetMask(3, false), IRQ_STATUS_SUCCESS);
    assert_false(SimLapicIrrIsSet(1, VECTOR_A));
    assert_int_equal(SimDeliveredCount(1), 0);
    SimPulseGsi(3);
    assert_true(SimLapicIrrIsSet(1, VECTOR_A));
    assert_int_equal(SimDeliveredCount(1), 1);
}

/* A level line asserted while masked is delivered when the entry is unmasked. */
static void test_level_latched_while_masked(void **State)
{
    (void)State;
    Program(9, MakeEntry(VECTOR_A, 1, HlTriggerLevel, true));
    SimSetGsi(9, true);
    assert_false(SimLapicIrrIsSet(1, VECTOR_A));
    assert_true((SimIoApicPeekEntry(9) & REMOTE_IRR) == 0);
    assert_int_equal(HlIoApicSetMask(9, false), IRQ_STATUS_SUCCESS);
    assert_true(SimLapicIrrIsSet(1, VECTOR_A));
    assert_true(SimLapicTmrIsSet(1, VECTOR_A));
    assert_true((SimIoApicPeekEntry(9) & REMOTE_IRR) != 0);
    SimSetGsi(9, false);
}

/* Remote IRR is set on delivery; further assertions are swallowed until the
 * EOI; after the EOI a line still asserted is delivered again, a released
 * one is not. */
static void test_level_remote_irr_and_eoi(void **State)
{
    (void)State;
    Program(10, MakeEntry(VECTOR_B, 2, HlTriggerLevel, false));
    SimSetGsi(10, true);
    assert_int_equal(SimDeliveredCount(2), 1);
    assert_true((ReadEntry(10) & REMOTE_IRR) != 0);

    SimSetGsi(10, false);
    SimSetGsi(10, true);
    assert_int_equal(SimDeliveredCount(2), 1);

    /* CPU 2 takes the interrupt and EOIs with the line still asserted. */
    ServiceCpu(2);
    assert_int_equal(Handled[2][VECTOR_B], 1);
    assert_false(SimLapicIrrIsSet(2, VECTOR_B));
    LapicEoi(2);
    assert_int_equal(SimDeliveredCount(2), 2);
    assert_true(SimLapicIrrIsSet(2, VECTOR_B));
    assert_true((ReadEntry(10) & REMOTE_IRR) != 0);

    /* This time the device is serviced before the EOI. */
    ServiceCpu(2);
    assert_int_equal(Handled[2][VECTOR_B], 2);
    SimSetGsi(10, false);
    LapicEoi(2);
    assert_int_equal(SimDeliveredCount(2), 2);
    assert_true((ReadEntry(10) & REMOTE_IRR) == 0);
    assert_false(SimLapicIrrIsSet(2, VECTOR_B));
}

/* The EOI register at +0x40 (version 0x20) clears Remote IRR of this I/O
 * APIC's level entries with the written vector. */
static void test_eoi_register(void **State)
{
    (void)State;
    Program(IOAPIC1_GSI_BASE + 1, MakeEntry(VECTOR_A, 1, HlTriggerLevel, false));
    SimSetGsi(IOAPIC1_GSI_BASE + 1, true);
    assert_int_equal(SimDeliveredCount(1), 1);

    /* Another vector, or the other chip's EOI register: no effect. */
    PlatMmioWrite32(IOAPIC1_BASE + IOEOI, VECTOR_B);
    PlatMmioWrite32(IOAPIC0_BASE + IOEOI, VECTOR_A);
    assert_true((SimIoApicPeekEntry(IOAPIC1_GSI_BASE + 1) & REMOTE_IRR) != 0);
    assert_int_equal(SimDeliveredCount(1), 1);

    /* The right one: Remote IRR clears, the asserted line is sent again. */
    PlatMmioWrite32(IOAPIC1_BASE + IOEOI, VECTOR_A);
    assert_int_equal(SimDeliveredCount(1), 2);
    assert_true((SimIoApicPeekEntry(IOAPIC1_GSI_BASE + 1) & REMOTE_IRR) != 0);

    SimSetGsi(IOAPIC1_GSI_BASE + 1, false);
    PlatMmioWrite32(IOAPIC1_BASE + IOEOI, VECTOR_A);
    assert_true((SimIoApicPeekEntry(IOAPIC1_GSI_BASE + 1) & REMOTE_IRR) == 0);
    assert_int_equal(SimDeliveredCount(1), 2);
}

/* An unmasking write sends to the new destination, never the stale one: the
 * driver writes the high dword (destination) before the low one. */
static void test_unmasking_write_uses_new_destination(void **State)
{
    (void)State;
    Program(11, MakeEntry(VECTOR_A, 1, HlTriggerLevel, true));
    SimSetGsi(11, true);
    Program(11, MakeEntry(VECTOR_A, 3, HlTriggerLevel, false));
    assert_true(SimLapicIrrIsSet(3, VECTOR_A));
    assert_false(SimLapicIrrIsSet(1, VECTOR_A));
    assert_int_equal(SimDeliveredCount(1), 0);
    SimSetGsi(11, false);
}

/* A cmocka test run on a freshly created two-I/O-APIC sim (Setup). */
#define IOAPIC_TEST(Test) cmocka_unit_test_setup_teardown(Test, Setup, Teardown)
/* The same with both I/O APICs registered (SetupRegistered). */
#define REGISTERED_TEST(Test) cmocka_unit_test_setup_teardown(Test, SetupRegistered, Teardown)

TB_TEST_MAIN(
    IOAPIC_TEST(test_model_registers_match_datasheet),
    IOAPIC_TEST(test_model_refusals),
    IOAPIC_TEST(test_register_reads_pin_count),
    IOAPIC_TEST(test_register_masks_every_entry),
    IOAPIC_TEST(test_overlapping_or_bad_registration_refused),
    REGISTERED_TEST(test_two_ioapics_lookup_and_program),
    REGISTERED_TEST(test_entry_fields_round_trip),
    REGISTERED_TEST(test_read_only_bits_preserved),
    REGISTERED_TEST(test_bad_input_changes_nothing),
    REGISTERED_TEST(test_edge_delivered_to_destination_lapic),
    REGISTERED_TEST(test_edge_while_masked_is_lost),
    REGISTERED_TEST(test_level_latched_while_masked),
    REGISTERED_TEST(test_level_remote_irr_and_eoi),
    REGISTERED_TEST(test_eoi_register),
    REGISTERED_TEST(test_unmasking_write_uses_new_destination))
