/* SPDX-License-Identifier: MIT */
/*
 * The DMAR parser (src/hl/dmar.c) against the Intel VT-d specification rev.
 * 3.x chapter 8, and its queries.
 *
 * The reference table is the one QEMU 10.0.2 gives a guest started with
 *   -machine q35,kernel-irqchip=split -m 128M -display none
 *   -device intel-iommu,intremap=on,eim=on -device edu
 * (the KTEST boot's devices), read out of guest memory after SeaBIOS had
 * installed it and written out byte by byte below: hw/i386/acpi-build.c
 * build_dmar_q35 emits one DRHD at 0xFED90000 *without* INCLUDE_PCI_ALL, an
 * I/O APIC scope (id 0, start bus 0xFF, path 00.0: source id 0xFF00) and
 * one endpoint scope per device of the root bus (host bridge 00.0, VGA 01.0,
 * e1000e 02.0, edu 03.0, LPC 1f.0, SATA 1f.2, SMBus 1f.3), no ATSR (device
 * IOTLB off) and no X2APIC_OPT_OUT. Every other table is made with the
 * builder of tests/support/acpi_builder.h; each malformation of issue 14's
 * "Bad input" list gets its own test, and every refusal is checked to leave
 * Info byte for byte as it was. Every parse reads from a heap copy of
 * exactly the table's size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <irqroute/hl.h>

#include "acpi_builder.h"
#include "tb_main.h"

/* ---- QEMU 10.0.2, q35 + intel-iommu + edu ---------------------------------------- */

static const uint8_t QemuDmar[] = {
    /* Header (8.1): "DMAR", Length 0x80, revision 1, checksum 0xe8 */
    'D', 'M', 'A', 'R', 0x80, 0x00, 0x00, 0x00, 0x01, 0xe8,
    ACPI_QEMU_HEADER_IDS,
    0x2f,                                           /* host address width 48 - 1 */
    0x01,                                           /* flags: INTR_REMAP */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* DRHD (8.3): type 0, length 0x50, flags 0, size 0, segment 0, base 0xFED90000 */
    0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xd9, 0xfe, 0x00, 0x00, 0x00, 0x00,
    /* Device scopes (8.3.1): type, length 8, flags, reserved, enumeration id, bus, device, function */
    0x03, 0x08, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, /* I/O APIC id 0 at ff:00.0 */
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 00:00.0 host bridge */
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* 00:01.0 VGA */
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, /* 00:02.0 e1000e */
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, /* 00:03.0 edu */
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, /* 00:1f.0 LPC */
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x02, /* 00:1f.2 SATA */
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x03, /* 00:1f.3 SMBus */
};

#define FILL 0x5A

static HL_DMAR_INFO Info;
static HL_DMAR_INFO Pattern;
static ACPI_BUILDER Builder;

static IRQ_STATUS ParseBytes(const void *Bytes, size_t Length)
{
    uint8_t *Copy = AcpiCopy(Bytes, Length);
    IRQ_STATUS Status = HlDmarParse(Copy, Length, &Info);
    free(Copy);
    return Status;
}

static IRQ_STATUS ParseBuilt(void)
{
    return ParseBytes(Builder.Bytes, Builder.Length);
}

static int FillInfo(void **State)
{
    (void)State;
    memset(&Info, FILL, sizeof(Info));
    memset(&Pattern, FILL, sizeof(Pattern));
    return 0;
}

/* A refused table changes nothing. */
static void AssertRefused(IRQ_STATUS Status, IRQ_STATUS Expected)
{
    assert_int_equal(Status, Expected);
    assert_memory_equal(&Info, &Pattern, sizeof(Info));
}

/* A minimal good table: one INCLUDE_PCI_ALL unit with an I/O APIC scope. */
static void BuildMinimal(uint8_t Flags)
{
    AcpiDmarBegin(&Builder, 38, Flags);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
    AcpiDmarScope(&Builder, HlDmarScopeIoApic, 2, 0xF0, 0x1F, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
}

/* ---- Good tables -------------------------------------------------------------------- */

static void test_qemu_table(void **State)
{
    (void)State;
    assert_int_equal(ParseBytes(QemuDmar, sizeof(QemuDmar)), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.HostAddressWidth, 48);
    assert_int_equal(Info.Flags, HL_DMAR_FLAG_INTR_REMAP);
    assert_int_equal(Info.UnitCount, 1);
    assert_int_equal(Info.SkippedStructureCount, 0);
    assert_int_equal(Info.UnknownStructureCount, 0);
    const HL_DMAR_UNIT *Unit = &Info.Units[0];
    assert_int_equal(Unit->RegisterBase, 0xFED90000u);
    assert_int_equal(Unit->Segment, 0);
    assert_false(Unit->IncludePciAll);
    assert_int_equal(Unit->ScopeCount, 8);
    assert_int_equal(Unit->SkippedScopeCount, 0);
    assert_int_equal(Unit->Scopes[0].Type, HlDmarScopeIoApic);
    assert_int_equal(Unit->Scopes[0].EnumerationId, 0);
    assert_int_equal(Unit->Scopes[0].StartBus, 0xFF);
    assert_int_equal(Unit->Scopes[0].PathLength, 1);
    assert_true(Unit->Scopes[0].SourceIdKnown);
    assert_int_equal(Unit->Scopes[0].SourceId, 0xFF00);
    static const uint16_t Endpoints[] = {0x0000, 0x0008, 0x0010, 0x0018, 0x00F8, 0x00FA, 0x00FB};
    for (uint32_t Index = 0; Index < 7; Index++) {
        assert_int_equal(Unit->Scopes[Index + 1].Type, HlDmarScopePciEndpoint);
        assert_int_equal(Unit->Scopes[Index + 1].SourceId, Endpoints[Index]);
    }
    assert_int_equal(Unit->Scopes[7].Path[0].Device, 0x1F);
    assert_int_equal(Unit->Scopes[7].Path[0].Function, 3);
}

static void test_qemu_table_queries(void **State)
{
    (void)State;
    assert_int_equal(ParseBytes(QemuDmar, sizeof(QemuDmar)), IRQ_STATUS_SUCCESS);
    uint32_t UnitIndex = 99;
    uint16_t SourceId = 0;
    assert_int_equal(HlDmarFindIoApicUnit(&Info, 0, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 0);
    assert_int_equal(HlDmarGetIoApicSourceId(&Info, 0, &SourceId), IRQ_STATUS_SUCCESS);
    assert_int_equal(SourceId, 0xFF00);
    /* No INCLUDE_PCI_ALL: what is not listed is not under the unit. */
    UnitIndex = 99;
    assert_int_equal(HlDmarFindIoApicUnit(&Info, 1, &UnitIndex), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(UnitIndex, 99);
    assert_int_equal(HlDmarGetIoApicSourceId(&Info, 1, &SourceId), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 3, 0, &UnitIndex), IRQ_STATUS_SUCCESS); /* edu */
    assert_int_equal(UnitIndex, 0);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 0x1F, 3, &UnitIndex), IRQ_STATUS_SUCCESS);
    UnitIndex = 99;
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 4, 0, &UnitIndex), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 0x1F, 1, &UnitIndex), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(HlDmarFindPciUnit(&Info, 1, 0, 3, 0, &UnitIndex), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(UnitIndex, 99);
}

/* Two units, every structure type the parser skips, a reserved scope type. */
static void BuildTwoUnits(void)
{
    AcpiDmarBegin(&Builder, 45, HL_DMAR_FLAG_INTR_REMAP | HL_DMAR_FLAG_X2APIC_OPT_OUT);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 0, 0, 0xFED91000u);
    AcpiDmarScope(&Builder, HlDmarScopePciEndpoint, 0, 0, 2, 0);
    AcpiDmarScope(&Builder, HlDmarScopePciBridge, 0, 0, 0x1C, 0);
    AcpiDmarScope(&Builder, HlDmarScopeIoApic, 1, 0xF1, 0, 0);
    AcpiDmarScope(&Builder, 7, 0, 0, 0, 0); /* reserved scope type */
    AcpiDmarEndStructure(&Builder, Drhd);
    /* RMRR with a scope, ATSR, RHSA, ANDD, SATC: skipped by their Length. */
    uint32_t Rmrr = AcpiDmarBeginStructure(&Builder, 1, 20);
    AcpiDmarScope(&Builder, HlDmarScopePciEndpoint, 0, 0, 0x14, 0);
    AcpiDmarEndStructure(&Builder, Rmrr);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 2, 4));
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 3, 16));
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 4, 9));
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 5, 4));
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 0x40, 3)); /* reserved type */
    /* The INCLUDE_PCI_ALL unit last (8.3), with an I/O APIC and an HPET. */
    Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
    AcpiDmarScope(&Builder, HlDmarScopeIoApic, 2, 0xF0, 0x1F, 7);
    AcpiDmarScope(&Builder, HlDmarScopeHpet, 0, 0xF0, 0x0F, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
}

static void test_two_units_skipped_structures(void **State)
{
    (void)State;
    BuildTwoUnits();
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.HostAddressWidth, 46);
    assert_int_equal(Info.Flags, HL_DMAR_FLAG_INTR_REMAP | HL_DMAR_FLAG_X2APIC_OPT_OUT);
    assert_int_equal(Info.UnitCount, 2);
    assert_int_equal(Info.SkippedStructureCount, 5);
    assert_int_equal(Info.UnknownStructureCount, 1);
    assert_int_equal(Info.Units[0].RegisterBase, 0xFED91000u);
    assert_false(Info.Units[0].IncludePciAll);
    assert_int_equal(Info.Units[0].ScopeCount, 3);
    assert_int_equal(Info.Units[0].SkippedScopeCount, 1);
    assert_int_equal(Info.Units[0].Scopes[1].Type, HlDmarScopePciBridge);
    assert_int_equal(Info.Units[1].RegisterBase, 0xFED90000u);
    assert_true(Info.Units[1].IncludePciAll);
    assert_int_equal(Info.Units[1].ScopeCount, 2);
    assert_int_equal(Info.Units[1].Scopes[0].SourceId, 0xF0FF); /* f0:1f.7 */
    assert_int_equal(Info.Units[1].Scopes[1].Type, HlDmarScopeHpet);
    /* Array entries past the counts are not written. */
    assert_int_equal(Info.Units[0].Scopes[3].StartBus, FILL);
    assert_int_equal(Info.Units[2].Segment, (uint16_t)(FILL << 8 | FILL));
}

static void test_two_units_queries(void **State)
{
    (void)State;
    BuildTwoUnits();
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    uint32_t UnitIndex = 99;
    uint16_t SourceId = 0;
    assert_int_equal(HlDmarFindIoApicUnit(&Info, 1, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 0);
    assert_int_equal(HlDmarFindIoApicUnit(&Info, 2, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 1);
    /* Listed nowhere: the INCLUDE_PCI_ALL unit, but no source id. */
    UnitIndex = 99;
    assert_int_equal(HlDmarFindIoApicUnit(&Info, 9, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 1);
    assert_int_equal(HlDmarGetIoApicSourceId(&Info, 9, &SourceId), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(HlDmarGetIoApicSourceId(&Info, 1, &SourceId), IRQ_STATUS_SUCCESS);
    assert_int_equal(SourceId, 0xF100);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 2, 0, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 0);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 0x1C, 0, &UnitIndex), IRQ_STATUS_SUCCESS); /* the bridge */
    assert_int_equal(UnitIndex, 0);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 5, 0, 0, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 1);
    /* The RMRR's scope names no unit's device. */
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 0x14, 0, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 1);
    UnitIndex = 99;
    assert_int_equal(HlDmarFindPciUnit(&Info, 1, 0, 2, 0, &UnitIndex), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(UnitIndex, 99);
}

/* A scope whose path crosses a bridge: kept, but its source id is unknown. */
static void test_bridged_path(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 0, 0, 0xFED90000u);
    static const uint8_t Scope[] = {HlDmarScopeIoApic, 10, 0, 0, 4, 0x00, 0x1C, 0x00, 0x00, 0x03};
    AcpiPutBytes(&Builder, Scope, sizeof(Scope));
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    const HL_DMAR_SCOPE *Parsed = &Info.Units[0].Scopes[0];
    assert_int_equal(Parsed->PathLength, 2);
    assert_int_equal(Parsed->Path[1].Function, 3);
    assert_false(Parsed->SourceIdKnown);
    uint32_t UnitIndex = 99;
    uint16_t SourceId = 0x1234;
    assert_int_equal(HlDmarFindIoApicUnit(&Info, 4, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlDmarGetIoApicSourceId(&Info, 4, &SourceId), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(SourceId, 0x1234);
}

/* The header's INTR_REMAP clear: parsed as it is, the flag says so. */
static void test_no_interrupt_remapping_flag(void **State)
{
    (void)State;
    BuildMinimal(0);
    AcpiFinish(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.Flags & HL_DMAR_FLAG_INTR_REMAP, 0);
    assert_int_equal(Info.HostAddressWidth, 39);
}

/* Bytes after the table's Length belong to someone else. */
static void test_trailing_bytes_ignored(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiFinish(&Builder);
    AcpiPut32(&Builder, 0xFFFFFFFFu);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.UnitCount, 1);
}

/* ---- Bad input: the header ------------------------------------------------------------------ */

static void test_null_arguments(void **State)
{
    (void)State;
    assert_int_equal(HlDmarParse(NULL, sizeof(QemuDmar), &Info), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlDmarParse(QemuDmar, sizeof(QemuDmar), NULL), IRQ_STATUS_INVALID_PARAMETER);
    AssertRefused(IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_PARAMETER);
    uint32_t UnitIndex;
    uint16_t SourceId;
    assert_int_equal(HlDmarFindIoApicUnit(NULL, 0, &UnitIndex), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlDmarFindIoApicUnit(&Info, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlDmarGetIoApicSourceId(NULL, 0, &SourceId), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlDmarGetIoApicSourceId(&Info, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlDmarFindPciUnit(NULL, 0, 0, 0, 0, &UnitIndex), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 0, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
}

static void test_query_bad_device_function(void **State)
{
    (void)State;
    assert_int_equal(ParseBytes(QemuDmar, sizeof(QemuDmar)), IRQ_STATUS_SUCCESS);
    uint32_t UnitIndex = 99;
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 32, 0, &UnitIndex), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlDmarFindPciUnit(&Info, 0, 0, 3, 8, &UnitIndex), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(UnitIndex, 99);
}

static void test_short_buffer(void **State)
{
    (void)State;
    AssertRefused(ParseBytes(QemuDmar, 47), IRQ_STATUS_MALFORMED_TABLE);
    /* The header says 0x80 bytes, the buffer has one fewer. */
    AssertRefused(ParseBytes(QemuDmar, sizeof(QemuDmar) - 1), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_header_length_below_header(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiFinish(&Builder);
    AcpiPatch32(&Builder, 4, 40);
    AcpiFixChecksum(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_bad_signature(void **State)
{
    (void)State;
    uint8_t Table[sizeof(QemuDmar)];
    memcpy(Table, QemuDmar, sizeof(Table));
    Table[0] = 'X';
    Table[9] = (uint8_t)(Table[9] + 'D' - 'X'); /* the checksum still adds up */
    AssertRefused(ParseBytes(Table, sizeof(Table)), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_bad_checksum(void **State)
{
    (void)State;
    uint8_t Table[sizeof(QemuDmar)];
    memcpy(Table, QemuDmar, sizeof(Table));
    Table[9]++;
    AssertRefused(ParseBytes(Table, sizeof(Table)), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_host_address_width_too_wide(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiFinish(&Builder);
    AcpiPatch8(&Builder, 36, 64); /* 65 bits */
    AcpiFixChecksum(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    AcpiPatch8(&Builder, 36, 63); /* 64 bits: the widest there is */
    AcpiFixChecksum(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.HostAddressWidth, 64);
}

/* ---- Bad input: remapping structures ---------------------------------------------------------- */

/* A unit whose Length runs past the end of the table. */
static void test_unit_outside_table(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiFinish(&Builder);
    AcpiPatch16(&Builder, 48 + 2, (uint16_t)(Builder.Length - 48 + 1));
    AcpiFixChecksum(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_zero_length_structure(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiDmarBeginStructure(&Builder, 1, 4); /* Length left 0 */
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    /* Length 3: shorter than the Type and Length fields themselves. */
    AcpiPatch16(&Builder, Builder.Length - 6, 3);
    AcpiFixChecksum(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

/* Two bytes left over: no room for a structure header. */
static void test_truncated_structure_header(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiPut16(&Builder, 1);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_drhd_shorter_than_fixed_part(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginStructure(&Builder, 0, 8); /* 12 bytes: the base address is cut */
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_register_base_zero_or_unaligned(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginDrhd(&Builder, 1, 0, 0));
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    AcpiDmarBegin(&Builder, 38, 1);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90800u));
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_duplicate_register_base(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginDrhd(&Builder, 0, 0, 0xFED90000u));
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginDrhd(&Builder, 1, 1, 0xFED90000u));
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_two_include_all_units_one_segment(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u));
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED91000u));
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    /* One per segment is fine. */
    AcpiPatch16(&Builder, 48 + 16 + 6, 1);
    AcpiFixChecksum(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    uint32_t UnitIndex = 99;
    assert_int_equal(HlDmarFindPciUnit(&Info, 1, 3, 0, 0, &UnitIndex), IRQ_STATUS_SUCCESS);
    assert_int_equal(UnitIndex, 1);
}

static void test_no_drhd(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 1, 20));
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    AcpiDmarBegin(&Builder, 38, 1);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

/* An unknown unit type is skipped and counted, not refused. */
static void test_unknown_structure_type_skipped(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 0xFFFF, 12));
    AcpiFinish(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.UnknownStructureCount, 1);
    assert_int_equal(Info.SkippedStructureCount, 0);
    assert_int_equal(Info.UnitCount, 1);
}

static void test_too_many_units(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    for (uint32_t Index = 0; Index <= HL_DMAR_MAX_UNITS; Index++)
        AcpiDmarEndStructure(&Builder, AcpiDmarBeginDrhd(&Builder, 0, 0, 0xFED90000u + Index * 0x1000u));
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_INSUFFICIENT_RESOURCES);
    /* A structural defect after the overflow still wins. */
    AcpiPut16(&Builder, 1);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

/* ---- Bad input: device scopes ----------------------------------------------------------------------- */

/* A scope whose Length runs past its DRHD (while still inside the table). */
static void test_scope_past_structure(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
    AcpiDmarScope(&Builder, HlDmarScopeIoApic, 0, 0xFF, 0, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiDmarEndStructure(&Builder, AcpiDmarBeginStructure(&Builder, 1, 20));
    AcpiFinish(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    memset(&Info, FILL, sizeof(Info));
    AcpiPatch8(&Builder, 48 + 16 + 1, 10);
    AcpiFixChecksum(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

/* Scope entries past the end of the table: the DRHD and its scope both cut. */
static void test_scope_past_table_end(void **State)
{
    (void)State;
    BuildMinimal(1);
    AcpiFinish(&Builder);
    AcpiPatch32(&Builder, 4, Builder.Length - 2);
    AcpiFixChecksum(&Builder);
    AssertRefused(ParseBytes(Builder.Bytes, Builder.Length - 2), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_scope_bad_lengths(void **State)
{
    (void)State;
    static const uint8_t Lengths[] = {0, 1, 6, 7, 9};
    for (uint32_t Index = 0; Index < sizeof(Lengths); Index++) {
        AcpiDmarBegin(&Builder, 38, 1);
        uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
        AcpiDmarScope(&Builder, HlDmarScopeIoApic, 0, 0xFF, 0, 0);
        AcpiPut8(&Builder, 0); /* room for a 9-byte scope */
        AcpiDmarEndStructure(&Builder, Drhd);
        AcpiPatch8(&Builder, 48 + 16 + 1, Lengths[Index]);
        AcpiFinish(&Builder);
        AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    }
}

/* A scope header that starts inside the DRHD but has no room for itself. */
static void test_scope_header_cut(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
    AcpiPut8(&Builder, HlDmarScopeIoApic);
    AcpiPut8(&Builder, 8);
    AcpiPut8(&Builder, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
}

static void test_scope_bad_device_function(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
    AcpiDmarScope(&Builder, HlDmarScopePciEndpoint, 0, 0, 32, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    AcpiPatch8(&Builder, 48 + 16 + 6, 31);
    AcpiPatch8(&Builder, 48 + 16 + 7, 8);
    AcpiFixChecksum(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    AcpiPatch8(&Builder, 48 + 16 + 7, 7);
    AcpiFixChecksum(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
}

/* A reserved scope type is skipped whatever its path says. */
static void test_reserved_scope_type_skipped(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
    AcpiDmarScope(&Builder, 0, 0, 0, 0xEE, 0xEE);
    AcpiDmarScope(&Builder, 6, 0, 0, 0, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    assert_int_equal(Info.Units[0].ScopeCount, 0);
    assert_int_equal(Info.Units[0].SkippedScopeCount, 2);
}

static void test_duplicate_ioapic_scope(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 0, 0, 0xFED91000u);
    AcpiDmarScope(&Builder, HlDmarScopeIoApic, 3, 0xF0, 0, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    Drhd = AcpiDmarBeginDrhd(&Builder, 1, 0, 0xFED90000u);
    AcpiDmarScope(&Builder, HlDmarScopeIoApic, 3, 0xF1, 0, 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_MALFORMED_TABLE);
    /* Another id is fine. */
    AcpiPatch8(&Builder, Builder.Length - 4, 4);
    AcpiFixChecksum(&Builder);
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
}

static void test_too_many_scopes(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 0, 0, 0xFED90000u);
    for (uint32_t Index = 0; Index <= HL_DMAR_MAX_SCOPES_PER_UNIT; Index++)
        AcpiDmarScope(&Builder, HlDmarScopePciEndpoint, 0, (uint8_t)(Index / 32), (uint8_t)(Index % 32), 0);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_INSUFFICIENT_RESOURCES);
}

static void test_path_too_long(void **State)
{
    (void)State;
    AcpiDmarBegin(&Builder, 38, 1);
    uint32_t Drhd = AcpiDmarBeginDrhd(&Builder, 0, 0, 0xFED90000u);
    uint8_t Length = (uint8_t)(6 + 2 * (HL_DMAR_MAX_PATH + 1));
    AcpiPut8(&Builder, HlDmarScopePciEndpoint);
    AcpiPut8(&Builder, Length);
    AcpiPutZeros(&Builder, Length - 2u);
    AcpiDmarEndStructure(&Builder, Drhd);
    AcpiFinish(&Builder);
    AssertRefused(ParseBuilt(), IRQ_STATUS_INSUFFICIENT_RESOURCES);
}

/* ---- Determinism -------------------------------------------------------------------------------------- */

static void test_parse_twice_same_info(void **State)
{
    (void)State;
    BuildTwoUnits();
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    static HL_DMAR_INFO First;
    memcpy(&First, &Info, sizeof(Info));
    assert_int_equal(ParseBuilt(), IRQ_STATUS_SUCCESS);
    assert_memory_equal(&First, &Info, sizeof(Info));
}

#define DMAR_TEST(Name) cmocka_unit_test_setup(Name, FillInfo)

TB_TEST_MAIN(
    DMAR_TEST(test_qemu_table),
    DMAR_TEST(test_qemu_table_queries),
    DMAR_TEST(test_two_units_skipped_structures),
    DMAR_TEST(test_two_units_queries),
    DMAR_TEST(test_bridged_path),
    DMAR_TEST(test_no_interrupt_remapping_flag),
    DMAR_TEST(test_trailing_bytes_ignored),
    DMAR_TEST(test_null_arguments),
    DMAR_TEST(test_query_bad_device_function),
    DMAR_TEST(test_short_buffer),
    DMAR_TEST(test_header_length_below_header),
    DMAR_TEST(test_bad_signature),
    DMAR_TEST(test_bad_checksum),
    DMAR_TEST(test_host_address_width_too_wide),
    DMAR_TEST(test_unit_outside_table),
    DMAR_TEST(test_zero_length_structure),
    DMAR_TEST(test_truncated_structure_header),
    DMAR_TEST(test_drhd_shorter_than_fixed_part),
    DMAR_TEST(test_register_base_zero_or_unaligned),
    DMAR_TEST(test_duplicate_register_base),
    DMAR_TEST(test_two_include_all_units_one_segment),
    DMAR_TEST(test_no_drhd),
    DMAR_TEST(test_unknown_structure_type_skipped),
    DMAR_TEST(test_too_many_units),
    DMAR_TEST(test_scope_past_structure),
    DMAR_TEST(test_scope_past_table_end),
    DMAR_TEST(test_scope_bad_lengths),
    DMAR_TEST(test_scope_header_cut),
    DMAR_TEST(test_scope_bad_device_function),
    DMAR_TEST(test_reserved_scope_type_skipped),
    DMAR_TEST(test_duplicate_ioapic_scope),
    DMAR_TEST(test_too_many_scopes),
    DMAR_TEST(test_path_too_long),
    DMAR_TEST(test_parse_twice_same_info))
