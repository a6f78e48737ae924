/* SPDX-License-Identifier: MIT */
/*
 * The MADT parser (src/hl/madt.c) against ACPI 6.x 5.2.12.
 *
 * The reference table is QEMU 7.2's MADT for `-smp 4` on the `pc` machine,
 * written out byte by byte below as QEMU builds it (hw/i386/acpi-common.c:
 * revision 1, OEM "BOCHS "/"BXPC    ", four LAPIC entries, I/O APIC id 0 at
 * 0xFEC00000 with GSI base 0, overrides IRQ0->GSI2 flags 0 and IRQ 5, 9,
 * 10, 11 flags 0x0d, one LAPIC NMI for all processors on LINT1). The other
 * tables are made with a small builder; each malformation of the spec's
 * list gets its own test. Every parse reads from a heap copy of exactly the
 * table's size, so an address-sanitizer build catches any read past it.
 *
 * Seed corpus: `test_madt --write-corpus DIR` writes the valid tables used
 * here as binary files (tests/fuzz/madt_corpus/ holds the result):
 *   qemu-pc-smp4.bin            the QEMU table above
 *   x2apic-ids-above-255.bin    LAPIC and x2APIC entries, both NMI kinds, a
 *                               local APIC address override
 *   two-ioapics-unknown.bin     I/O APICs at GSI 0 and 24, an NMI source,
 *                               unknown types, disabled/online-capable CPUs
 *   minimal-ioapic-only.bin     header and one I/O APIC, nothing else
 *   long-entries-trailing.bin   entries longer than their type's size and
 *                               bytes after the table's Length
 *   qemu-q35-smp288-x2apic.bin  QEMU's layout for 288 CPUs: LAPIC entries for
 *                               ids 0-254, x2APIC entries for 255-287, both
 *                               NMI kinds for all processors
 *   skipped-processors-nmis.bin placeholder ids (0xFF, 0xFFFFFFFF), x2APIC
 *                               entries below 255 beside LAPIC ones, NMIs for
 *                               UIDs nobody has
 *   x2apic-only-low-ids.bin     x2APIC entries only, ids 0-3 (accepted)
 *   duplicate-apic-ids.bin      a LAPIC id listed twice (refused: a seed for
 *                               the checks the fuzzer should mutate around)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <irqroute/hl.h>

#include "acpi_builder.h"

/* ---- QEMU 7.2, pc, -smp 4 ------------------------------------------------------- */

static const uint8_t QemuMadt[] = {
    /* Header (ACPI 6.x 5.2.6): "APIC", Length 0x90, revision 1, checksum 0x4b */
    'A', 'P', 'I', 'C', 0x90, 0x00, 0x00, 0x00, 0x01, 0x4b,
    ACPI_QEMU_HEADER_IDS,
    0x00, 0x00, 0xe0, 0xfe,                         /* local APIC address 0xFEE00000 */
    0x01, 0x00, 0x00, 0x00,                         /* flags: PCAT_COMPAT */
    /* Processor local APIC: UID n, APIC id n, enabled */
    0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x08, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x08, 0x02, 0x02, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x08, 0x03, 0x03, 0x01, 0x00, 0x00, 0x00,
    /* I/O APIC id 0 at 0xFEC00000, GSI base 0 */
    0x01, 0x0c, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xfe, 0x00, 0x00, 0x00, 0x00,
    /* Interrupt source overrides: ISA IRQ0 -> GSI 2 flags 0; 5, 9, 10, 11 level high */
    0x02, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x0a, 0x00, 0x05, 0x05, 0x00, 0x00, 0x00, 0x0d, 0x00,
    0x02, 0x0a, 0x00, 0x09, 0x09, 0x00, 0x00, 0x00, 0x0d, 0x00,
    0x02, 0x0a, 0x00, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x00,
    0x02, 0x0a, 0x00, 0x0b, 0x0b, 0x00, 0x00, 0x00, 0x0d, 0x00,
    /* Local APIC NMI: all processors (0xFF), flags 0, LINT1 */
    0x04, 0x06, 0xff, 0x00, 0x00, 0x01,
};

/* ---- Table builder ------------------------------------------------------------------ */

/* 4100 x2APIC entries (more than HL_MADT_MAX_PROCESSORS) plus slack. */
#define BUILDER_CAPACITY (44u + 4100u * 16u + 256u)

typedef struct _MADT_BUILDER {
    uint8_t Bytes[BUILDER_CAPACITY];
    size_t Length;
} MADT_BUILDER;

static MADT_BUILDER Builder;

static void Put8(MADT_BUILDER *B, uint32_t Value)
{
    assert_true(B->Length < BUILDER_CAPACITY);
    B->Bytes[B->Length++] = (uint8_t)Value;
}

static void Put16(MADT_BUILDER *B, uint32_t Value)
{
    Put8(B, Value & 0xFF);
    Put8(B, Value >> 8);
}

static void Put32(MADT_BUILDER *B, uint32_t Value)
{
    Put16(B, Value & 0xFFFF);
    Put16(B, Value >> 16);
}

static void Put64(MADT_BUILDER *B, uint64_t Value)
{
    Put32(B, (uint32_t)Value);
    Put32(B, (uint32_t)(Value >> 32));
}

static void PutText(MADT_BUILDER *B, const char *Text, size_t Length)
{
    for (size_t Index = 0; Index < Length; Index++)
        Put8(B, (uint8_t)Text[Index]);
}

/* QEMU's header fields; Length and checksum are filled by Finish. */
static void Begin(MADT_BUILDER *B)
{
    B->Length = 0;
    PutText(B, "APIC", 4);
    Put32(B, 0);
    Put8(B, 1);
    Put8(B, 0);
    PutText(B, "BOCHS ", 6);
    PutText(B, "BXPC    ", 8);
    Put32(B, 1);
    PutText(B, "BXPC", 4);
    Put32(B, 1);
    Put32(B, 0xFEE00000u);
    Put32(B, 1);
}

static void PatchLength(MADT_BUILDER *B, uint32_t Length)
{
    B->Bytes[4] = (uint8_t)Length;
    B->Bytes[5] = (uint8_t)(Length >> 8);
    B->Bytes[6] = (uint8_t)(Length >> 16);
    B->Bytes[7] = (uint8_t)(Length >> 24);
}

/* Sets byte 9 so that the first Length bytes sum to zero. */
static void FixChecksum(uint8_t *Bytes, size_t Length)
{
    uint8_t Sum = 0;
    Bytes[9] = 0;
    for (size_t Index = 0; Index < Length; Index++)
        Sum = (uint8_t)(Sum + Bytes[Index]);
    Bytes[9] = (uint8_t)(0x100u - Sum);
}

static void Finish(MADT_BUILDER *B)
{
    PatchLength(B, (uint32_t)B->Length);
    FixChecksum(B->Bytes, B->Length);
}

static void AddLapic(MADT_BUILDER *B, uint8_t Uid, uint8_t ApicId, uint32_t Flags)
{
    Put8(B, 0), Put8(B, 8), Put8(B, Uid), Put8(B, ApicId), Put32(B, Flags);
}

static void AddIoApic(MADT_BUILDER *B, uint8_t Id, uint32_t Address, uint32_t GsiBase)
{
    Put8(B, 1), Put8(B, 12), Put8(B, Id), Put8(B, 0), Put32(B, Address), Put32(B, GsiBase);
}

static void AddOverride(MADT_BUILDER *B, uint8_t Irq, uint32_t Gsi, uint16_t Flags)
{
    Put8(B, 2), Put8(B, 10), Put8(B, 0), Put8(B, Irq), Put32(B, Gsi), Put16(B, Flags);
}

static void AddNmiSource(MADT_BUILDER *B, uint16_t Flags, uint32_t Gsi)
{
    Put8(B, 3), Put8(B, 8), Put16(B, Flags), Put32(B, Gsi);
}

static void AddLapicNmi(MADT_BUILDER *B, uint8_t Uid, uint16_t Flags, uint8_t Lint)
{
    Put8(B, 4), Put8(B, 6), Put8(B, Uid), Put16(B, Flags), Put8(B, Lint);
}

static void AddAddressOverride(MADT_BUILDER *B, uint64_t Address)
{
    Put8(B, 5), Put8(B, 12), Put16(B, 0), Put64(B, Address);
}

static void AddX2Apic(MADT_BUILDER *B, uint32_t ApicId, uint32_t Flags, uint32_t Uid)
{
    Put8(B, 9), Put8(B, 16), Put16(B, 0), Put32(B, ApicId), Put32(B, Flags), Put32(B, Uid);
}

static void AddX2ApicNmi(MADT_BUILDER *B, uint16_t Flags, uint32_t Uid, uint8_t Lint)
{
    Put8(B, 0xA), Put8(B, 12), Put16(B, Flags), Put32(B, Uid), Put8(B, Lint), Put8(B, 0), Put16(B, 0);
}

/* An entry of any type and length, body filled with Fill. */
static void AddRaw(MADT_BUILDER *B, uint8_t Type, uint8_t Length, uint8_t Fill)
{
    Put8(B, Type);
    Put8(B, Length);
    for (uint32_t Index = 2; Index < Length; Index++)
        Put8(B, Fill);
}

static void BuildQemuTable(MADT_BUILDER *B)
{
    Begin(B);
    for (uint8_t Cpu = 0; Cpu < 4; Cpu++)
        AddLapic(B, Cpu, Cpu, 1);
    AddIoApic(B, 0, 0xFEC00000u, 0);
    AddOverride(B, 0, 2, 0);
    static const uint8_t LevelIrqs[] = {5, 9, 10, 11};
    for (size_t Index = 0; Index < sizeof(LevelIrqs); Index++)
        AddOverride(B, LevelIrqs[Index], LevelIrqs[Index], 0x0d);
    AddLapicNmi(B, 0xFF, 0, 1);
    Finish(B);
}

static void BuildX2ApicTable(MADT_BUILDER *B)
{
    Begin(B);
    AddLapic(B, 0, 0, 1);
    AddLapic(B, 1, 2, 1);
    AddX2Apic(B, 0x100, 1, 2);
    AddX2Apic(B, 0x101, 1, 3);
    AddX2Apic(B, 0x1FFFF, 2, 4); /* online capable, not enabled */
    AddIoApic(B, 0, 0xFEC00000u, 0);
    AddOverride(B, 0, 2, 0);
    AddLapicNmi(B, 0xFF, 0x5, 1);
    AddX2ApicNmi(B, 0x0, 0xFFFFFFFFu, 1);
    AddAddressOverride(B, 0x00000012FEE00000ull);
    Finish(B);
}

static void BuildTwoIoApicTable(MADT_BUILDER *B)
{
    Begin(B);
    AddLapic(B, 0, 1, 1);
    AddLapic(B, 1, 3, 0); /* disabled */
    AddLapic(B, 2, 5, 2); /* online capable */
    AddIoApic(B, 2, 0xFEC00000u, 0);
    AddRaw(B, 0x7F, 2, 0);    /* unknown, smallest legal entry */
    AddIoApic(B, 3, 0xFEC01000u, 24);
    AddNmiSource(B, 0xD, 23);
    AddRaw(B, 0x6, 16, 0xEE); /* I/O SAPIC: not ours */
    AddOverride(B, 9, 20, 0xF);
    AddRaw(B, 0xB, 80, 0x11); /* GICC: not ours */
    Finish(B);
}

/* QEMU 10 q35 with -smp 288 (hw/i386/acpi-common.c): a LAPIC entry for each
 * APIC id below 255 and an x2APIC entry for the rest, UID = APIC id, then
 * the I/O APIC, the LAPIC NMI and the x2APIC NMI for all processors. */
#define QEMU_288_CPUS 288u

static void BuildQemu288Table(MADT_BUILDER *B)
{
    Begin(B);
    for (uint32_t Id = 0; Id < QEMU_288_CPUS; Id++) {
        if (Id < 255)
            AddLapic(B, (uint8_t)Id, (uint8_t)Id, 1);
        else
            AddX2Apic(B, Id, 1, Id);
    }
    AddIoApic(B, 0, 0xFEC00000u, 0);
    AddOverride(B, 0, 2, 0);
    AddLapicNmi(B, 0xFF, 0, 1);
    AddX2ApicNmi(B, 0, 0xFFFFFFFFu, 1);
    Finish(B);
}

/* Everything the parser skips and counts, around two processors it keeps:
 *  - LAPIC UID 0 id 0 and UID 1 id 1 (kept);
 *  - LAPIC id 0xFF twice, enabled and not (placeholders: skipped, and not
 *    duplicates of each other);
 *  - x2APIC id 0xFFFFFFFF twice (skipped);
 *  - x2APIC id 1 UID 9 (processor 1 again) and id 7 UID 10: below 255
 *    beside LAPIC entries (skipped);
 *  - an NMI for UID 1 that comes before its processor (kept), for UID 5
 *    (nobody), for UID 9 (a skipped entry's UID) and an x2APIC NMI for
 *    UID 0x1234 (nobody): three skipped. */
static void BuildSkippedTable(MADT_BUILDER *B)
{
    Begin(B);
    AddLapicNmi(B, 1, 0, 1);
    AddLapic(B, 0, 0, 1);
    AddLapic(B, 2, 0xFF, 1);
    AddLapic(B, 3, 0xFF, 0);
    AddX2Apic(B, 0xFFFFFFFFu, 0, 4);
    AddX2Apic(B, 0xFFFFFFFFu, 1, 5);
    AddX2Apic(B, 1, 1, 9);
    AddX2Apic(B, 7, 1, 10);
    AddIoApic(B, 0, 0xFEC00000u, 0);
    AddLapicNmi(B, 5, 0, 1);
    AddLapicNmi(B, 9, 0, 1);
    AddX2ApicNmi(B, 0, 0x1234, 1);
    AddLapic(B, 1, 1, 1);
    Finish(B);
}

/* No LAPIC entries: firmware that lists every processor as x2APIC. */
static void BuildX2ApicOnlyTable(MADT_BUILDER *B)
{
    Begin(B);
    for (uint32_t Id = 0; Id < 4; Id++)
        AddX2Apic(B, Id, 1, 0x100 + Id);
    AddIoApic(B, 0, 0xFEC00000u, 0);
    AddX2ApicNmi(B, 0, 0x102, 1);
    Finish(B);
}

static void BuildDuplicateTable(MADT_BUILDER *B)
{
    Begin(B);
    AddLapic(B, 0, 0, 1);
    AddLapic(B, 1, 3, 1);
    AddIoApic(B, 0, 0xFEC00000u, 0);
    AddLapic(B, 2, 3, 0);
    Finish(B);
}

static void BuildMinimalTable(MADT_BUILDER *B)
{
    Begin(B);
    AddIoApic(B, 0, 0xFEC00000u, 0);
    Finish(B);
}

/* LAPIC entries of 10 bytes and an I/O APIC entry of 16 (a later revision
 * may append fields), then 5 bytes after the table that are not part of it. */
static void BuildLongEntryTable(MADT_BUILDER *B)
{
    Begin(B);
    for (uint8_t Cpu = 0; Cpu < 2; Cpu++) {
        Put8(B, 0), Put8(B, 10), Put8(B, Cpu), Put8(B, (uint8_t)(Cpu + 4)), Put32(B, 1), Put16(B, 0xBEEF);
    }
    Put8(B, 1), Put8(B, 16), Put8(B, 7), Put8(B, 0), Put32(B, 0xFEC00000u), Put32(B, 0), Put32(B, 0xCAFE);
    Finish(B);
    for (uint32_t Index = 0; Index < 5; Index++)
        Put8(B, 0x02); /* looks like the start of an override */
}

/* ---- Parsing helpers ------------------------------------------------------------------ */

static HL_MADT_INFO Info;

/* Parses a heap copy of exactly Length bytes at an odd address (the
 * parser must not rely on alignment). */
static IRQ_STATUS Parse(const uint8_t *Bytes, size_t Length)
{
    uint8_t *Block = malloc(Length + 1);
    assert_non_null(Block);
    uint8_t *Copy = Block + 1;
    if (Length > 0)
        memcpy(Copy, Bytes, Length);
    IRQ_STATUS Status = HlMadtParse(Copy, Length, &Info);
    free(Block);
    return Status;
}

static IRQ_STATUS ParseBuilder(const MADT_BUILDER *B)
{
    return Parse(B->Bytes, B->Length);
}

static uint8_t *CopyQemu(size_t Extra)
{
    uint8_t *Copy = calloc(1, sizeof(QemuMadt) + Extra);
    assert_non_null(Copy);
    memcpy(Copy, QemuMadt, sizeof(QemuMadt));
    return Copy;
}

#define SENTINEL 0xA5A5A5A5u

static void FillSentinel(void)
{
    memset(&Info, 0xA5, sizeof(Info));
}

static void AssertInfoUntouched(void)
{
    assert_int_equal(Info.ProcessorCount, SENTINEL);
    assert_int_equal(Info.IoApicCount, SENTINEL);
    assert_int_equal(Info.OverrideCount, SENTINEL);
    assert_int_equal(Info.NmiCount, SENTINEL);
    assert_int_equal(Info.UnknownEntryCount, SENTINEL);
    assert_int_equal(Info.Processors[0].ApicId, SENTINEL);
}

static void AssertMalformed(const uint8_t *Bytes, size_t Length)
{
    FillSentinel();
    assert_int_equal(Parse(Bytes, Length), IRQ_STATUS_MALFORMED_TABLE);
    AssertInfoUntouched();
}

/* ---- The QEMU table ------------------------------------------------------------------------ */

static void test_qemu_table_checksum_is_zero(void **State)
{
    (void)State;
    uint8_t Sum = 0;
    for (size_t Index = 0; Index < sizeof(QemuMadt); Index++)
        Sum = (uint8_t)(Sum + QemuMadt[Index]);
    assert_int_equal(Sum, 0);
    assert_int_equal(sizeof(QemuMadt), 0x90);
}

static void test_builder_reproduces_qemu_table(void **State)
{
    (void)State;
    BuildQemuTable(&Builder);
    assert_int_equal(Builder.Length, sizeof(QemuMadt));
    assert_memory_equal(Builder.Bytes, QemuMadt, sizeof(QemuMadt));
}

static void test_qemu_table_parses(void **State)
{
    (void)State;
    FillSentinel();
    assert_int_equal(Parse(QemuMadt, sizeof(QemuMadt)), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.LocalApicAddress, 0xFEE00000u);
    assert_int_equal(Info.Flags, 1);
    assert_int_equal(Info.ProcessorCount, 4);
    assert_int_equal(Info.IoApicCount, 1);
    assert_int_equal(Info.OverrideCount, 5);
    assert_int_equal(Info.NmiCount, 1);
    assert_int_equal(Info.UnknownEntryCount, 0);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        assert_int_equal(Info.Processors[Cpu].ApicId, Cpu);
        assert_int_equal(Info.Processors[Cpu].AcpiUid, Cpu);
        assert_true(Info.Processors[Cpu].Enabled);
        assert_false(Info.Processors[Cpu].OnlineCapable);
        assert_false(Info.Processors[Cpu].X2Apic);
    }
}

static void test_qemu_table_ioapic_overrides_nmi(void **State)
{
    (void)State;
    assert_int_equal(Parse(QemuMadt, sizeof(QemuMadt)), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.IoApics[0].Id, 0);
    assert_int_equal(Info.IoApics[0].Address, 0xFEC00000u);
    assert_int_equal(Info.IoApics[0].GsiBase, 0);

    assert_int_equal(Info.Overrides[0].Bus, 0);
    assert_int_equal(Info.Overrides[0].SourceIrq, 0);
    assert_int_equal(Info.Overrides[0].Gsi, 2);
    assert_int_equal(Info.Overrides[0].Flags, 0);
    static const uint8_t LevelIrqs[] = {5, 9, 10, 11};
    for (uint32_t Index = 0; Index < 4; Index++) {
        assert_int_equal(Info.Overrides[1 + Index].Bus, 0);
        assert_int_equal(Info.Overrides[1 + Index].SourceIrq, LevelIrqs[Index]);
        assert_int_equal(Info.Overrides[1 + Index].Gsi, LevelIrqs[Index]);
        assert_int_equal(Info.Overrides[1 + Index].Flags, 0x0d);
    }

    assert_int_equal(Info.Nmis[0].AcpiUid, 0xFF);
    assert_int_equal(Info.Nmis[0].Flags, 0);
    assert_int_equal(Info.Nmis[0].Lint, 1);
}

/* ---- Other valid tables -------------------------------------------------------------------- */

static void test_x2apic_entries_and_address_override(void **State)
{
    (void)State;
    BuildX2ApicTable(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 5);
    assert_false(Info.Processors[1].X2Apic);
    assert_int_equal(Info.Processors[1].ApicId, 2);
    assert_true(Info.Processors[2].X2Apic);
    assert_int_equal(Info.Processors[2].ApicId, 0x100);
    assert_int_equal(Info.Processors[2].AcpiUid, 2);
    assert_true(Info.Processors[2].Enabled);
    assert_int_equal(Info.Processors[4].ApicId, 0x1FFFF);
    assert_int_equal(Info.Processors[4].AcpiUid, 4);
    assert_false(Info.Processors[4].Enabled);
    assert_true(Info.Processors[4].OnlineCapable);

    assert_int_equal(Info.NmiCount, 2);
    assert_int_equal(Info.Nmis[0].AcpiUid, 0xFF);
    assert_int_equal(Info.Nmis[0].Flags, 0x5);
    assert_int_equal(Info.Nmis[1].AcpiUid, 0xFFFFFFFFu);
    assert_int_equal(Info.Nmis[1].Lint, 1);
    /* The 64-bit override replaces the header's 32-bit address. */
    assert_int_equal(Info.LocalApicAddress, 0x00000012FEE00000ull);
    assert_int_equal(Info.UnknownEntryCount, 0);
    assert_int_equal(Info.IgnoredProcessorCount, 0);
    assert_int_equal(Info.UnmatchedNmiCount, 0);
}

/* ---- Processor and NMI content (5.2.12.2, .7, .12, .13) -------------------------------- */

static void test_qemu_288_cpus_mixes_lapic_and_x2apic(void **State)
{
    (void)State;
    BuildQemu288Table(&Builder);
    FillSentinel();
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, QEMU_288_CPUS);
    for (uint32_t Index = 0; Index < QEMU_288_CPUS; Index++) {
        assert_int_equal(Info.Processors[Index].ApicId, Index);
        assert_int_equal(Info.Processors[Index].AcpiUid, Index);
        assert_true(Info.Processors[Index].Enabled);
        assert_int_equal(Info.Processors[Index].X2Apic, Index >= 255);
    }
    assert_int_equal(Info.IgnoredProcessorCount, 0);
    assert_int_equal(Info.NmiCount, 2);
    assert_int_equal(Info.Nmis[0].AcpiUid, 0xFF);
    assert_int_equal(Info.Nmis[1].AcpiUid, 0xFFFFFFFFu);
    assert_int_equal(Info.UnmatchedNmiCount, 0);
    /* Past the count nothing was written. */
    assert_int_equal(Info.Processors[QEMU_288_CPUS].ApicId, SENTINEL);
}

static void test_skipped_processors_and_nmis_are_counted(void **State)
{
    (void)State;
    BuildSkippedTable(&Builder);
    FillSentinel();
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 2);
    assert_int_equal(Info.Processors[0].ApicId, 0);
    assert_int_equal(Info.Processors[1].ApicId, 1);
    assert_int_equal(Info.Processors[1].AcpiUid, 1);
    assert_false(Info.Processors[1].X2Apic);
    /* Two 0xFF LAPICs, two 0xFFFFFFFF x2APICs, x2APIC ids 1 and 7. */
    assert_int_equal(Info.IgnoredProcessorCount, 6);
    assert_int_equal(Info.NmiCount, 1);
    assert_int_equal(Info.Nmis[0].AcpiUid, 1);
    assert_int_equal(Info.UnmatchedNmiCount, 3);
    assert_int_equal(Info.Nmis[1].AcpiUid, SENTINEL);
    assert_int_equal(Info.IoApicCount, 1);
}

static void test_x2apic_only_table_keeps_low_ids(void **State)
{
    (void)State;
    BuildX2ApicOnlyTable(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 4);
    for (uint32_t Index = 0; Index < 4; Index++) {
        assert_int_equal(Info.Processors[Index].ApicId, Index);
        assert_int_equal(Info.Processors[Index].AcpiUid, 0x100 + Index);
        assert_true(Info.Processors[Index].X2Apic);
    }
    assert_int_equal(Info.IgnoredProcessorCount, 0);
    /* The x2APIC NMI names the third processor's 32-bit UID. */
    assert_int_equal(Info.NmiCount, 1);
    assert_int_equal(Info.Nmis[0].AcpiUid, 0x102);
    assert_int_equal(Info.UnmatchedNmiCount, 0);
}

/* Only usable LAPIC processors (enabled or online capable) make x2APIC
 * entries below 255 redundant; placeholders and unusable ones do not. */
static void test_low_x2apic_kept_when_no_usable_lapic(void **State)
{
    (void)State;
    BuildMinimalTable(&Builder);
    AddLapic(&Builder, 0, 0xFF, 1); /* placeholder */
    AddLapic(&Builder, 1, 4, 0);    /* unusable */
    AddX2Apic(&Builder, 2, 1, 2);
    Finish(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 2);
    assert_int_equal(Info.Processors[0].ApicId, 4);
    assert_false(Info.Processors[0].Enabled);
    assert_int_equal(Info.Processors[1].ApicId, 2);
    assert_true(Info.Processors[1].X2Apic);
    assert_int_equal(Info.IgnoredProcessorCount, 1);

    /* With one usable LAPIC processor anywhere in the table, it is skipped. */
    AddLapic(&Builder, 3, 6, 2); /* online capable */
    Finish(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 2);
    assert_int_equal(Info.Processors[1].ApicId, 6);
    assert_int_equal(Info.IgnoredProcessorCount, 2);
}

static void test_duplicate_apic_ids_refused(void **State)
{
    (void)State;
    /* Two LAPIC entries for id 3 (the second one disabled). */
    BuildDuplicateTable(&Builder);
    AssertMalformed(Builder.Bytes, Builder.Length);

    /* Two x2APIC entries for 0x100. */
    BuildMinimalTable(&Builder);
    AddLapic(&Builder, 0, 0, 1);
    AddX2Apic(&Builder, 0x100, 1, 1);
    AddX2Apic(&Builder, 0x100, 0, 2);
    Finish(&Builder);
    AssertMalformed(Builder.Bytes, Builder.Length);

    /* Across types: an unusable LAPIC id 4 and a recorded x2APIC id 4. */
    BuildMinimalTable(&Builder);
    AddLapic(&Builder, 0, 4, 0);
    AddX2Apic(&Builder, 4, 1, 1);
    Finish(&Builder);
    AssertMalformed(Builder.Bytes, Builder.Length);

    /* The same ids once each are fine. */
    BuildMinimalTable(&Builder);
    AddLapic(&Builder, 0, 4, 0);
    AddX2Apic(&Builder, 5, 1, 1);
    AddX2Apic(&Builder, 0x104, 1, 2);
    Finish(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 3);
}

static void test_nmi_uids_matched_against_processors(void **State)
{
    (void)State;
    BuildMinimalTable(&Builder);
    AddLapic(&Builder, 7, 1, 1);
    AddX2Apic(&Builder, 0x200, 1, 0x300);
    AddLapicNmi(&Builder, 7, 0x5, 0);        /* LAPIC UID 7 */
    AddLapicNmi(&Builder, 8, 0, 1);          /* nobody */
    AddX2ApicNmi(&Builder, 0xD, 0x300, 1);   /* x2APIC UID 0x300 */
    AddX2ApicNmi(&Builder, 0, 0x301, 1);     /* nobody */
    AddX2ApicNmi(&Builder, 0, 7, 0);         /* a 32-bit UID naming the LAPIC processor */
    AddLapicNmi(&Builder, 0xFF, 0, 1);       /* all */
    Finish(&Builder);
    FillSentinel();
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.NmiCount, 4);
    assert_int_equal(Info.Nmis[0].AcpiUid, 7);
    assert_int_equal(Info.Nmis[0].Flags, 0x5);
    assert_int_equal(Info.Nmis[1].AcpiUid, 0x300);
    assert_int_equal(Info.Nmis[1].Flags, 0xD);
    assert_int_equal(Info.Nmis[2].AcpiUid, 7);
    assert_int_equal(Info.Nmis[2].Lint, 0);
    assert_int_equal(Info.Nmis[3].AcpiUid, 0xFF);
    assert_int_equal(Info.UnmatchedNmiCount, 2);
}

/* Skipped entries take no slot: a full NMI table plus unmatched NMIs, and a
 * full processor table plus placeholders, still parse. */
static void test_skipped_entries_take_no_slot(void **State)
{
    (void)State;
    BuildMinimalTable(&Builder);
    for (uint32_t Index = 0; Index < HL_MADT_MAX_NMIS; Index++)
        AddLapicNmi(&Builder, 0xFF, 0, 1);
    for (uint32_t Index = 0; Index < 5; Index++)
        AddLapicNmi(&Builder, (uint8_t)(0x10 + Index), 0, 1);
    Finish(&Builder);
    FillSentinel();
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.NmiCount, HL_MADT_MAX_NMIS);
    assert_int_equal(Info.UnmatchedNmiCount, 5);

    BuildMinimalTable(&Builder);
    for (uint32_t Index = 0; Index < 255; Index++)
        AddLapic(&Builder, (uint8_t)Index, (uint8_t)Index, 1);
    for (uint32_t Index = 255; Index < HL_MADT_MAX_PROCESSORS; Index++)
        AddX2Apic(&Builder, Index, 1, Index);
    AddX2Apic(&Builder, 0xFFFFFFFFu, 0, 0);
    AddLapic(&Builder, 0, 0xFF, 0);
    Finish(&Builder);
    FillSentinel();
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, HL_MADT_MAX_PROCESSORS);
    assert_int_equal(Info.IgnoredProcessorCount, 2);
    assert_int_equal(Info.Processors[HL_MADT_MAX_PROCESSORS - 1u].ApicId, HL_MADT_MAX_PROCESSORS - 1u);
}

static void test_two_ioapics_unknown_types_skipped(void **State)
{
    (void)State;
    BuildTwoIoApicTable(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.IoApicCount, 2);
    assert_int_equal(Info.IoApics[0].Id, 2);
    assert_int_equal(Info.IoApics[1].Id, 3);
    assert_int_equal(Info.IoApics[1].Address, 0xFEC01000u);
    assert_int_equal(Info.IoApics[1].GsiBase, 24);
    /* 0x7F, I/O SAPIC and GICC; the NMI source is known, not counted. */
    assert_int_equal(Info.UnknownEntryCount, 3);
    assert_int_equal(Info.NmiCount, 0);
    assert_int_equal(Info.OverrideCount, 1);
    assert_int_equal(Info.Overrides[0].Gsi, 20);
    assert_int_equal(Info.Overrides[0].Flags, 0xF);
    assert_int_equal(Info.ProcessorCount, 3);
    assert_false(Info.Processors[1].Enabled);
    assert_false(Info.Processors[1].OnlineCapable);
    assert_false(Info.Processors[2].Enabled);
    assert_true(Info.Processors[2].OnlineCapable);
}

static void test_minimal_table(void **State)
{
    (void)State;
    BuildMinimalTable(&Builder);
    assert_int_equal(Builder.Length, 44 + 12);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 0);
    assert_int_equal(Info.IoApicCount, 1);
    assert_int_equal(Info.OverrideCount, 0);
}

static void test_long_entries_and_trailing_bytes(void **State)
{
    (void)State;
    BuildLongEntryTable(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 2);
    assert_int_equal(Info.Processors[1].ApicId, 5);
    assert_int_equal(Info.IoApicCount, 1);
    assert_int_equal(Info.IoApics[0].Id, 7);
    /* The trailing bytes are outside the header's Length: not an entry. */
    assert_int_equal(Info.OverrideCount, 0);
    assert_int_equal(Info.UnknownEntryCount, 0);
}

static void test_buffer_longer_than_table(void **State)
{
    (void)State;
    uint8_t *Copy = CopyQemu(64);
    memset(Copy + sizeof(QemuMadt), 0xFF, 64);
    assert_int_equal(Parse(Copy, sizeof(QemuMadt) + 64), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.ProcessorCount, 4);
    assert_int_equal(Info.UnknownEntryCount, 0);
    free(Copy);
}

/* ---- Header malformations -------------------------------------------------------------------- */

static void test_null_arguments(void **State)
{
    (void)State;
    assert_int_equal(HlMadtParse(NULL, sizeof(QemuMadt), &Info), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMadtParse(QemuMadt, sizeof(QemuMadt), NULL), IRQ_STATUS_INVALID_PARAMETER);
}

static void test_buffer_shorter_than_header(void **State)
{
    (void)State;
    AssertMalformed(QemuMadt, 43);
    AssertMalformed(QemuMadt, 4);
    AssertMalformed(QemuMadt, 0);
}

static void test_bad_signature(void **State)
{
    (void)State;
    uint8_t *Copy = CopyQemu(0);
    Copy[3] = 'X';
    FixChecksum(Copy, sizeof(QemuMadt));
    AssertMalformed(Copy, sizeof(QemuMadt));
    free(Copy);
}

static void test_bad_checksum(void **State)
{
    (void)State;
    uint8_t *Copy = CopyQemu(0);
    Copy[9]++;
    AssertMalformed(Copy, sizeof(QemuMadt));
    /* A changed body byte with the old checksum. */
    Copy[9]--;
    Copy[44 + 3] = 9;
    AssertMalformed(Copy, sizeof(QemuMadt));
    free(Copy);
}

static void test_header_length_below_44(void **State)
{
    (void)State;
    uint8_t *Copy = CopyQemu(0);
    for (uint32_t Length = 0; Length < 44; Length += 11) {
        Copy[4] = (uint8_t)Length;
        FixChecksum(Copy, sizeof(QemuMadt));
        AssertMalformed(Copy, sizeof(QemuMadt));
    }
    Copy[4] = 43;
    FixChecksum(Copy, sizeof(QemuMadt));
    AssertMalformed(Copy, sizeof(QemuMadt));
    free(Copy);
}

static void test_header_length_beyond_buffer(void **State)
{
    (void)State;
    /* The table says 0x90 bytes; the buffer holds one less. */
    AssertMalformed(QemuMadt, sizeof(QemuMadt) - 1);
    /* A huge Length must not be believed either. */
    uint8_t *Copy = CopyQemu(0);
    Copy[7] = 0x80;
    FixChecksum(Copy, sizeof(QemuMadt));
    AssertMalformed(Copy, sizeof(QemuMadt));
    free(Copy);
}

static void test_header_only_has_no_ioapic(void **State)
{
    (void)State;
    Begin(&Builder);
    Finish(&Builder);
    assert_int_equal(Builder.Length, 44);
    AssertMalformed(Builder.Bytes, Builder.Length);
}

/* ---- Entry malformations ----------------------------------------------------------------------- */

static void test_entry_length_zero(void **State)
{
    (void)State;
    Begin(&Builder);
    AddIoApic(&Builder, 0, 0xFEC00000u, 0);
    AddRaw(&Builder, 0x7F, 4, 0);
    Builder.Bytes[Builder.Length - 3] = 0; /* the unknown entry's Length */
    Finish(&Builder);
    AssertMalformed(Builder.Bytes, Builder.Length);
}

static void test_entry_length_one(void **State)
{
    (void)State;
    Begin(&Builder);
    AddIoApic(&Builder, 0, 0xFEC00000u, 0);
    AddRaw(&Builder, 0x7F, 4, 0);
    Builder.Bytes[Builder.Length - 3] = 1;
    Finish(&Builder);
    AssertMalformed(Builder.Bytes, Builder.Length);
}

static void test_entry_running_past_table(void **State)
{
    (void)State;
    /* The last entry (the LAPIC NMI, 6 bytes) claims 7. */
    uint8_t *Copy = CopyQemu(0);
    Copy[sizeof(QemuMadt) - 5] = 7;
    FixChecksum(Copy, sizeof(QemuMadt));
    AssertMalformed(Copy, sizeof(QemuMadt));
    /* ... and 255. */
    Copy[sizeof(QemuMadt) - 5] = 255;
    FixChecksum(Copy, sizeof(QemuMadt));
    AssertMalformed(Copy, sizeof(QemuMadt));
    free(Copy);
}

static void test_entry_cut_by_table_length(void **State)
{
    (void)State;
    /* Shrinking the header's Length cuts the last entry in two; the bytes
     * are still in the buffer but no longer in the table. */
    for (uint32_t Cut = 1; Cut < 6; Cut++) {
        uint8_t *Copy = CopyQemu(0);
        uint32_t Length = (uint32_t)sizeof(QemuMadt) - Cut;
        Copy[4] = (uint8_t)Length;
        FixChecksum(Copy, Length);
        AssertMalformed(Copy, sizeof(QemuMadt));
        free(Copy);
    }
}

static void test_single_trailing_byte(void **State)
{
    (void)State;
    /* One byte left: a Type with no Length byte. */
    BuildMinimalTable(&Builder);
    Put8(&Builder, 0);
    Finish(&Builder);
    AssertMalformed(Builder.Bytes, Builder.Length);
}

static void test_known_types_below_minimum_size(void **State)
{
    (void)State;
    static const struct {
        uint8_t Type;
        uint8_t Minimum;
    } Types[] = {{0, 8}, {1, 12}, {2, 10}, {3, 8}, {4, 6}, {5, 12}, {9, 16}, {0xA, 12}};
    for (size_t Index = 0; Index < sizeof(Types) / sizeof(Types[0]); Index++) {
        /* At the minimum the entry is accepted ... */
        BuildMinimalTable(&Builder);
        AddRaw(&Builder, Types[Index].Type, Types[Index].Minimum, 0);
        Finish(&Builder);
        assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
        /* ... one byte short it is not, even though a valid (unknown, 2-byte)
         * entry follows, so reading the full size would stay in the table. */
        BuildMinimalTable(&Builder);
        AddRaw(&Builder, Types[Index].Type, (uint8_t)(Types[Index].Minimum - 1u), 0);
        AddRaw(&Builder, 0x7F, 2, 0);
        Finish(&Builder);
        print_message("type %u length %u\n", Types[Index].Type, Types[Index].Minimum - 1u);
        AssertMalformed(Builder.Bytes, Builder.Length);
    }
}

static void test_unknown_type_any_length_skipped(void **State)
{
    (void)State;
    BuildMinimalTable(&Builder);
    AddRaw(&Builder, 0x80, 2, 0);
    AddRaw(&Builder, 0xFF, 255, 0xFF);
    AddRaw(&Builder, 0x10, 3, 0x01);
    Finish(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.UnknownEntryCount, 3);
    assert_int_equal(Info.IoApicCount, 1);
}

static void test_no_ioapic(void **State)
{
    (void)State;
    Begin(&Builder);
    for (uint8_t Cpu = 0; Cpu < 4; Cpu++)
        AddLapic(&Builder, Cpu, Cpu, 1);
    AddOverride(&Builder, 0, 2, 0);
    Finish(&Builder);
    AssertMalformed(Builder.Bytes, Builder.Length);
}

/* ---- Capacity ------------------------------------------------------------------------------------ */

static void AssertFullAt(void (*Add)(MADT_BUILDER *, uint32_t), uint32_t Capacity)
{
    BuildMinimalTable(&Builder);
    for (uint32_t Index = 0; Index < Capacity; Index++)
        Add(&Builder, Index);
    Finish(&Builder);
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_SUCCESS);

    BuildMinimalTable(&Builder);
    for (uint32_t Index = 0; Index <= Capacity; Index++)
        Add(&Builder, Index);
    Finish(&Builder);
    FillSentinel();
    assert_int_equal(ParseBuilder(&Builder), IRQ_STATUS_INSUFFICIENT_RESOURCES);
    AssertInfoUntouched();
}

static void AddNthIoApic(MADT_BUILDER *B, uint32_t Index)
{
    /* The minimal table has one already: Index 0 is the second. */
    AddIoApic(B, (uint8_t)(Index + 1), 0xFEC01000u + Index * 0x1000u, 24u * (Index + 1));
}

static void AddNthOverride(MADT_BUILDER *B, uint32_t Index)
{
    AddOverride(B, (uint8_t)(Index % 16), Index, 0);
}

static void AddNthNmi(MADT_BUILDER *B, uint32_t Index)
{
    /* "All processors": an NMI for a UID nobody has would be skipped. */
    AddLapicNmi(B, 0xFF, 0, (uint8_t)(Index & 1u));
}

/* Distinct APIC ids, as QEMU numbers them: LAPIC below 255, x2APIC above. */
static void AddNthProcessor(MADT_BUILDER *B, uint32_t Index)
{
    if (Index < 255)
        AddLapic(B, (uint8_t)Index, (uint8_t)Index, 1);
    else
        AddX2Apic(B, Index, 1, Index);
}

static void test_too_many_ioapics(void **State)
{
    (void)State;
    AssertFullAt(AddNthIoApic, HL_MAX_IOAPICS - 1u);
}

static void test_too_many_overrides(void **State)
{
    (void)State;
    AssertFullAt(AddNthOverride, HL_MADT_MAX_OVERRIDES);
}

static void test_too_many_nmis(void **State)
{
    (void)State;
    AssertFullAt(AddNthNmi, HL_MADT_MAX_NMIS);
}

static void test_too_many_processors(void **State)
{
    (void)State;
    AssertFullAt(AddNthProcessor, HL_MADT_MAX_PROCESSORS);
}

/* ---- Robustness: every truncation and every single-byte change ------------------------------------ */

/* A table cut anywhere, its Length field kept, is never accepted; a table
 * cut anywhere with Length and checksum fixed up either parses or is
 * reported malformed. Neither may read outside the copy. */
static void test_every_truncation(void **State)
{
    (void)State;
    for (size_t Length = 0; Length < sizeof(QemuMadt); Length++)
        assert_int_equal(Parse(QemuMadt, Length), IRQ_STATUS_MALFORMED_TABLE);
    for (size_t Length = 44; Length < sizeof(QemuMadt); Length++) {
        uint8_t *Copy = CopyQemu(0);
        Copy[4] = (uint8_t)Length;
        FixChecksum(Copy, Length);
        IRQ_STATUS Status = Parse(Copy, Length);
        assert_true(Status == IRQ_STATUS_SUCCESS || Status == IRQ_STATUS_MALFORMED_TABLE);
        free(Copy);
    }
}

static void test_every_byte_flip_with_fixed_checksum(void **State)
{
    (void)State;
    for (size_t Offset = 0; Offset < sizeof(QemuMadt); Offset++) {
        if (Offset == 9)
            continue;
        for (uint32_t Bit = 0; Bit < 8; Bit++) {
            uint8_t *Copy = CopyQemu(0);
            Copy[Offset] ^= (uint8_t)(1u << Bit);
            FixChecksum(Copy, sizeof(QemuMadt));
            IRQ_STATUS Status = Parse(Copy, sizeof(QemuMadt));
            assert_true(Status == IRQ_STATUS_SUCCESS || Status == IRQ_STATUS_MALFORMED_TABLE ||
                        Status == IRQ_STATUS_INSUFFICIENT_RESOURCES);
            if (Status == IRQ_STATUS_SUCCESS)
                assert_true(Info.IoApicCount >= 1);
            free(Copy);
        }
    }
}

/* ---- Corpus ------------------------------------------------------------------------------------------ */

static int WriteFile(const char *Directory, const char *Name, const uint8_t *Bytes, size_t Length)
{
    char Path[4096];
    snprintf(Path, sizeof(Path), "%s/%s", Directory, Name);
    FILE *File = fopen(Path, "wb");
    if (File == NULL || fwrite(Bytes, 1, Length, File) != Length) {
        perror(Path);
        if (File != NULL)
            fclose(File);
        return 1;
    }
    fclose(File);
    printf("wrote %s (%zu bytes)\n", Path, Length);
    return 0;
}

static int WriteBuilt(const char *Directory, const char *Name, void (*Build)(MADT_BUILDER *))
{
    Build(&Builder);
    return WriteFile(Directory, Name, Builder.Bytes, Builder.Length);
}

static int WriteCorpus(const char *Directory)
{
    int Failures = WriteFile(Directory, "qemu-pc-smp4.bin", QemuMadt, sizeof(QemuMadt));
    Failures += WriteBuilt(Directory, "x2apic-ids-above-255.bin", BuildX2ApicTable);
    Failures += WriteBuilt(Directory, "two-ioapics-unknown.bin", BuildTwoIoApicTable);
    Failures += WriteBuilt(Directory, "minimal-ioapic-only.bin", BuildMinimalTable);
    Failures += WriteBuilt(Directory, "long-entries-trailing.bin", BuildLongEntryTable);
    Failures += WriteBuilt(Directory, "qemu-q35-smp288-x2apic.bin", BuildQemu288Table);
    Failures += WriteBuilt(Directory, "skipped-processors-nmis.bin", BuildSkippedTable);
    Failures += WriteBuilt(Directory, "x2apic-only-low-ids.bin", BuildX2ApicOnlyTable);
    Failures += WriteBuilt(Directory, "duplicate-apic-ids.bin", BuildDuplicateTable);
    return Failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return WriteCorpus(argv[2]);

    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_qemu_table_checksum_is_zero),
        cmocka_unit_test(test_builder_reproduces_qemu_table),
        cmocka_unit_test(test_qemu_table_parses),
        cmocka_unit_test(test_qemu_table_ioapic_overrides_nmi),
        cmocka_unit_test(test_x2apic_entries_and_address_override),
        cmocka_unit_test(test_qemu_288_cpus_mixes_lapic_and_x2apic),
        cmocka_unit_test(test_skipped_processors_and_nmis_are_counted),
        cmocka_unit_test(test_x2apic_only_table_keeps_low_ids),
        cmocka_unit_test(test_low_x2apic_kept_when_no_usable_lapic),
        cmocka_unit_test(test_duplicate_apic_ids_refused),
        cmocka_unit_test(test_nmi_uids_matched_against_processors),
        cmocka_unit_test(test_skipped_entries_take_no_slot),
        cmocka_unit_test(test_two_ioapics_unknown_types_skipped),
        cmocka_unit_test(test_minimal_table),
        cmocka_unit_test(test_long_entries_and_trailing_bytes),
        cmocka_unit_test(test_buffer_longer_than_table),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_buffer_shorter_than_header),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_bad_checksum),
        cmocka_unit_test(test_header_length_below_44),
        cmocka_unit_test(test_header_length_beyond_buffer),
        cmocka_unit_test(test_header_only_has_no_ioapic),
        cmocka_unit_test(test_entry_length_zero),
        cmocka_unit_test(test_entry_length_one),
        cmocka_unit_test(test_entry_running_past_table),
        cmocka_unit_test(test_entry_cut_by_table_length),
        cmocka_unit_test(test_single_trailing_byte),
        cmocka_unit_test(test_known_types_below_minimum_size),
        cmocka_unit_test(test_unknown_type_any_length_skipped),
        cmocka_unit_test(test_no_ioapic),
        cmocka_unit_test(test_too_many_ioapics),
        cmocka_unit_test(test_too_many_overrides),
        cmocka_unit_test(test_too_many_nmis),
        cmocka_unit_test(test_too_many_processors),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_every_byte_flip_with_fixed_checksum),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
