/* SPDX-License-Identifier: MIT */
/*
 * ACPI DMAR parser: Intel VT-d architecture specification rev. 3.x chapter 8
 * "BIOS Considerations" (8.1 DMA Remapping Reporting Structure, 8.2
 * Remapping Structure Types, 8.3 DRHD, 8.3.1 Device Scope Structure).
 *
 * The table is firmware input and is treated as hostile, with the rules of
 * the MADT parser (madt.c): every read is preceded by a check that it lies
 * inside [Table, Table + header Length), the header Length inside the
 * caller's buffer, multi-byte fields read byte by byte (little-endian,
 * unaligned), and the table is walked twice: a checking pass that stores
 * nothing, then, only when the whole table is good, a pass that fills Info.
 * A malformed table therefore leaves Info as it was. Every walk of the
 * remapping structures and of a DRHD's device scopes goes through
 * HlpAcpiNextRecord, with HlpStructureFormat or HlpScopeFormat: the record
 * walker the MADT parser uses too (acpip.h), the one place that checks
 * bounds.
 *
 * Layout (8.1):
 *   0   Signature "DMAR"       4   Length (whole table)
 *   8   Revision               9   Checksum (all Length bytes sum to 0)
 *   10  OEM id, table id, revisions (ACPI 6.x 5.2.6, the common header) ... 36
 *   36  Host Address Width (the DMA address width minus one)
 *   37  Flags: bit 0 INTR_REMAP, bit 1 X2APIC_OPT_OUT, bit 2 DMA_CTRL_PLATFORM_OPT_IN
 *   38  10 reserved bytes
 *   48  remapping structures: Type (16 bits), Length (16 bits), then the body.
 * DRHD (8.3): 4 Flags (bit 0 INCLUDE_PCI_ALL), 5 Size (rev. 3.x; reserved
 * before), 6 Segment (16 bits), 8 Register Base Address (64 bits), 16 device
 * scopes. Device scope (8.3.1): 0 Type, 1 Length, 2 Flags, 3 reserved, 4
 * Enumeration ID, 5 Start Bus Number, 6 Path: (Device, Function) pairs.
 *
 * QEMU 10's table (hw/i386/acpi-build.c, build_dmar_q35) has one DRHD at
 * 0xFED90000 without INCLUDE_PCI_ALL, an I/O APIC scope (id 0, bus 0xFF,
 * device 0 function 0) and one endpoint or bridge scope per PCI device of
 * the root bus; tests/unit/test_dmar.c parses it byte for byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/hl.h>

#include "acpip.h"

#define DMAR_OFFSET_HOST_ADDRESS_WIDTH 36u
#define DMAR_OFFSET_FLAGS 37u
#define DMAR_HEADER_LENGTH 48u
/* A host address width field of 63 means 64 bits: the most an address has. */
#define DMAR_MAX_HOST_ADDRESS_WIDTH_FIELD 63u

/* Every remapping structure starts with Type and Length, 16 bits each (8.2),
 * and is at least those four bytes long. */
static const HLP_ACPI_RECORD_FORMAT HlpStructureFormat = {.FieldSize = 2, .MinimumLength = 4, .LengthGranule = 1};

/* Remapping structure types (8.2, "Remapping Structure Types"). */
#define DMAR_TYPE_DRHD 0u
#define DMAR_TYPE_LAST_KNOWN 6u /* RMRR 1, ATSR 2, RHSA 3, ANDD 4, SATC 5, SIDP 6 (rev. 4.x) */

/* DRHD (8.3). */
#define DRHD_OFFSET_FLAGS 4u
#define DRHD_OFFSET_SEGMENT 6u
#define DRHD_OFFSET_REGISTER_BASE 8u
#define DRHD_HEADER_LENGTH 16u
#define DRHD_FLAG_INCLUDE_PCI_ALL 0x1u
/* The register set is a whole number of 4 KiB pages (8.3 "Register Base
 * Address", 10.4: registers are page aligned). */
#define DRHD_REGISTER_ALIGNMENT 0x1000u

/* Device scope (8.3.1). */
#define SCOPE_OFFSET_TYPE 0u
#define SCOPE_OFFSET_ENUMERATION_ID 4u
#define SCOPE_OFFSET_START_BUS 5u
#define SCOPE_HEADER_LENGTH 6u
#define SCOPE_PATH_ENTRY_LENGTH 2u
#define SCOPE_MINIMUM_LENGTH (SCOPE_HEADER_LENGTH + SCOPE_PATH_ENTRY_LENGTH)
#define SCOPE_TYPE_FIRST 1u /* PCI endpoint */
#define SCOPE_TYPE_LAST 5u  /* ACPI namespace device */

/* A scope has its header and at least one path entry, a whole number of them. */
static const HLP_ACPI_RECORD_FORMAT HlpScopeFormat = {
    .FieldSize = 1, .MinimumLength = SCOPE_MINIMUM_LENGTH, .LengthGranule = SCOPE_PATH_ENTRY_LENGTH};

/* PCI: 32 devices of 8 functions on a bus; a requester id is bus 15:8,
 * device 7:3, function 2:0 (VT-d 5.1.1; PCI Express base spec 2.2.6.2). */
#define PCI_MAX_DEVICE 31u
#define PCI_MAX_FUNCTION 7u

typedef struct _HLP_DMAR_WALK {
    const HLP_ACPI_SPAN *Table;
    HL_DMAR_INFO *Info; /* NULL in the checking pass */
    uint32_t UnitCount;
    uint32_t SkippedStructureCount;
    uint32_t UnknownStructureCount;
} HLP_DMAR_WALK;

/* ---- Structures ---------------------------------------------------------------------- */

static uint16_t HlpStructureType(const HLP_ACPI_SPAN *Structure)
{
    return HlpAcpiRead16(Structure->Bytes);
}

static bool HlpIsDrhd(const HLP_ACPI_SPAN *Structure)
{
    return HlpStructureType(Structure) == DMAR_TYPE_DRHD;
}

/* ---- Device scopes ------------------------------------------------------------------ */

static bool HlpScopeTypeIsKnown(uint8_t Type)
{
    return Type >= SCOPE_TYPE_FIRST && Type <= SCOPE_TYPE_LAST;
}

static uint32_t HlpPathLength(const HLP_ACPI_SPAN *Scope)
{
    return (Scope->Length - SCOPE_HEADER_LENGTH) / SCOPE_PATH_ENTRY_LENGTH;
}

static HL_DMAR_PATH_ENTRY HlpPathEntry(const HLP_ACPI_SPAN *Scope, uint32_t Index)
{
    const uint8_t *Entry = Scope->Bytes + SCOPE_HEADER_LENGTH + Index * SCOPE_PATH_ENTRY_LENGTH;
    return (HL_DMAR_PATH_ENTRY){.Device = Entry[0], .Function = Entry[1]};
}

/* Every path entry names a PCI device and function that can exist. */
static bool HlpPathIsValid(const HLP_ACPI_SPAN *Scope)
{
    for (uint32_t Index = 0; Index < HlpPathLength(Scope); Index++) {
        HL_DMAR_PATH_ENTRY Entry = HlpPathEntry(Scope, Index);
        if (Entry.Device > PCI_MAX_DEVICE || Entry.Function > PCI_MAX_FUNCTION)
            return false;
    }
    return true;
}

static uint16_t HlpSourceId(uint8_t Bus, HL_DMAR_PATH_ENTRY Entry)
{
    return (uint16_t)(Bus << 8 | Entry.Device << 3 | Entry.Function);
}

static void HlpStoreScope(const HLP_ACPI_SPAN *Scope, HL_DMAR_SCOPE *Out)
{
    uint32_t PathLength = HlpPathLength(Scope);
    Out->Type = (HL_DMAR_SCOPE_TYPE)Scope->Bytes[SCOPE_OFFSET_TYPE];
    Out->EnumerationId = Scope->Bytes[SCOPE_OFFSET_ENUMERATION_ID];
    Out->StartBus = Scope->Bytes[SCOPE_OFFSET_START_BUS];
    Out->PathLength = (uint8_t)PathLength;
    for (uint32_t Index = 0; Index < PathLength; Index++)
        Out->Path[Index] = HlpPathEntry(Scope, Index);
    /* With one entry the device sits on the start bus (8.3.1.1). */
    Out->SourceIdKnown = PathLength == 1;
    Out->SourceId = HlpSourceId(Out->StartBus, Out->Path[0]);
}

static bool HlpIsIoApicScope(const HLP_ACPI_SPAN *Scope, uint8_t IoApicId)
{
    return Scope->Bytes[SCOPE_OFFSET_TYPE] == HlDmarScopeIoApic &&
           Scope->Bytes[SCOPE_OFFSET_ENUMERATION_ID] == IoApicId;
}

/* Whether an I/O APIC scope before Before (a table offset) names IoApicId.
 * A scan of the table, not of Info: the checking pass has nowhere to keep
 * what it saw, and the parser has no memory of its own. */
static bool HlpIoApicListedBefore(const HLP_ACPI_SPAN *Table, uint32_t Before, uint8_t IoApicId)
{
    uint32_t Offset = DMAR_HEADER_LENGTH;
    HLP_ACPI_SPAN Structure;
    while (Offset < Before && HlpAcpiNextRecord(Table, &HlpStructureFormat, &Offset, &Structure)) {
        if (!HlpIsDrhd(&Structure))
            continue;
        uint32_t ScopeOffset = DRHD_HEADER_LENGTH;
        HLP_ACPI_SPAN Scope;
        while (HlpAcpiNextRecord(&Structure, &HlpScopeFormat, &ScopeOffset, &Scope) && Scope.Offset < Before) {
            if (HlpIsIoApicScope(&Scope, IoApicId))
                return true;
        }
    }
    return false;
}

/* A scope the checking pass has found inside its DRHD: a known type is
 * checked and, in the filling pass, stored; a reserved type is skipped and
 * counted (8.3.1 reserves types 0 and 6 and up). */
static IRQ_STATUS HlpParseScope(const HLP_DMAR_WALK *Walk, const HLP_ACPI_SPAN *Scope, HL_DMAR_UNIT *Unit,
                                uint32_t *ScopeCount, uint32_t *SkippedCount)
{
    uint8_t Type = Scope->Bytes[SCOPE_OFFSET_TYPE];
    if (!HlpScopeTypeIsKnown(Type)) {
        (*SkippedCount)++;
        return IRQ_STATUS_SUCCESS;
    }
    if (!HlpPathIsValid(Scope))
        return IRQ_STATUS_MALFORMED_TABLE;
    /* One I/O APIC in two scopes would have two source ids (8.3.1.1). */
    if (Type == HlDmarScopeIoApic &&
        HlpIoApicListedBefore(Walk->Table, Scope->Offset, Scope->Bytes[SCOPE_OFFSET_ENUMERATION_ID]))
        return IRQ_STATUS_MALFORMED_TABLE;
    if (HlpPathLength(Scope) > HL_DMAR_MAX_PATH || *ScopeCount >= HL_DMAR_MAX_SCOPES_PER_UNIT)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Unit != NULL)
        HlpStoreScope(Scope, &Unit->Scopes[*ScopeCount]);
    (*ScopeCount)++;
    return IRQ_STATUS_SUCCESS;
}

/* ---- DRHD ------------------------------------------------------------------------------- */

static uint64_t HlpRegisterBase(const HLP_ACPI_SPAN *Drhd)
{
    return HlpAcpiRead64(Drhd->Bytes + DRHD_OFFSET_REGISTER_BASE);
}

static uint16_t HlpSegment(const HLP_ACPI_SPAN *Drhd)
{
    return HlpAcpiRead16(Drhd->Bytes + DRHD_OFFSET_SEGMENT);
}

static bool HlpIncludesPciAll(const HLP_ACPI_SPAN *Drhd)
{
    return (Drhd->Bytes[DRHD_OFFSET_FLAGS] & DRHD_FLAG_INCLUDE_PCI_ALL) != 0;
}

/* Whether a DRHD before this one has its register base, or is the
 * INCLUDE_PCI_ALL unit of its segment when this one is too (8.3: "at most
 * one" such unit per segment). */
static bool HlpConflictsWithEarlierUnit(const HLP_ACPI_SPAN *Table, const HLP_ACPI_SPAN *Drhd)
{
    uint32_t Offset = DMAR_HEADER_LENGTH;
    HLP_ACPI_SPAN Earlier;
    while (Offset < Drhd->Offset && HlpAcpiNextRecord(Table, &HlpStructureFormat, &Offset, &Earlier)) {
        if (!HlpIsDrhd(&Earlier))
            continue;
        if (HlpRegisterBase(&Earlier) == HlpRegisterBase(Drhd))
            return true;
        if (HlpIncludesPciAll(&Earlier) && HlpIncludesPciAll(Drhd) && HlpSegment(&Earlier) == HlpSegment(Drhd))
            return true;
    }
    return false;
}

/* The DRHD's own fields; its scopes have been checked for bounds already. */
static bool HlpDrhdIsValid(const HLP_ACPI_SPAN *Table, const HLP_ACPI_SPAN *Drhd)
{
    uint64_t Base = HlpRegisterBase(Drhd);
    if (Base == 0 || Base % DRHD_REGISTER_ALIGNMENT != 0)
        return false;
    return !HlpConflictsWithEarlierUnit(Table, Drhd);
}

static IRQ_STATUS HlpParseDrhd(HLP_DMAR_WALK *Walk, const HLP_ACPI_SPAN *Drhd)
{
    if (!HlpDrhdIsValid(Walk->Table, Drhd))
        return IRQ_STATUS_MALFORMED_TABLE;
    if (Walk->UnitCount >= HL_DMAR_MAX_UNITS)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    HL_DMAR_UNIT *Unit = Walk->Info != NULL ? &Walk->Info->Units[Walk->UnitCount] : NULL;
    uint32_t ScopeCount = 0, SkippedCount = 0;
    uint32_t Offset = DRHD_HEADER_LENGTH;
    HLP_ACPI_SPAN Scope;
    while (HlpAcpiNextRecord(Drhd, &HlpScopeFormat, &Offset, &Scope)) {
        IRQ_STATUS Status = HlpParseScope(Walk, &Scope, Unit, &ScopeCount, &SkippedCount);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
    }
    if (Unit != NULL) {
        Unit->RegisterBase = HlpRegisterBase(Drhd);
        Unit->Segment = HlpSegment(Drhd);
        Unit->IncludePciAll = HlpIncludesPciAll(Drhd);
        Unit->ScopeCount = ScopeCount;
        Unit->SkippedScopeCount = SkippedCount;
    }
    Walk->UnitCount++;
    return IRQ_STATUS_SUCCESS;
}

/* ---- The walks ------------------------------------------------------------------------- */

/* The structure pass: every remapping structure inside the table, every
 * DRHD at least its fixed part with every scope inside it. The later
 * look-ups (HlpIoApicListedBefore, HlpConflictsWithEarlierUnit) walk
 * structures freely, so this runs first. */
static bool HlpStructureFits(const HLP_ACPI_SPAN *Structure)
{
    if (!HlpIsDrhd(Structure))
        return true;
    return Structure->Length >= DRHD_HEADER_LENGTH &&
           HlpAcpiRecordsFill(Structure, DRHD_HEADER_LENGTH, &HlpScopeFormat, NULL);
}

static IRQ_STATUS HlpCheckStructures(const HLP_ACPI_SPAN *Table)
{
    return HlpAcpiRecordsFill(Table, DMAR_HEADER_LENGTH, &HlpStructureFormat, HlpStructureFits)
               ? IRQ_STATUS_SUCCESS
               : IRQ_STATUS_MALFORMED_TABLE;
}

static IRQ_STATUS HlpParseStructure(HLP_DMAR_WALK *Walk, const HLP_ACPI_SPAN *Structure)
{
    uint16_t Type = HlpStructureType(Structure);
    if (Type == DMAR_TYPE_DRHD)
        return HlpParseDrhd(Walk, Structure);
    if (Type <= DMAR_TYPE_LAST_KNOWN)
        Walk->SkippedStructureCount++;
    else
        Walk->UnknownStructureCount++;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS HlpWalkStructures(HLP_DMAR_WALK *Walk)
{
    uint32_t Offset = DMAR_HEADER_LENGTH;
    HLP_ACPI_SPAN Structure;
    while (HlpAcpiNextRecord(Walk->Table, &HlpStructureFormat, &Offset, &Structure)) {
        IRQ_STATUS Status = HlpParseStructure(Walk, &Structure);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
    }
    /* 8.1: a DMAR reports at least one remapping unit. */
    return Walk->UnitCount == 0 ? IRQ_STATUS_MALFORMED_TABLE : IRQ_STATUS_SUCCESS;
}

/* ---- Header -------------------------------------------------------------------------------- */

/* The common header (acpip.h), then the host address width. */
static IRQ_STATUS HlpCheckDmarHeader(const uint8_t *Bytes, size_t BufferLength, HLP_ACPI_SPAN *Table)
{
    static const uint8_t Signature[ACPI_SIGNATURE_LENGTH] = {'D', 'M', 'A', 'R'};
    IRQ_STATUS Status = HlpAcpiCheckHeader(Bytes, BufferLength, Signature, DMAR_HEADER_LENGTH, Table);
    if (Status == IRQ_STATUS_SUCCESS && Bytes[DMAR_OFFSET_HOST_ADDRESS_WIDTH] > DMAR_MAX_HOST_ADDRESS_WIDTH_FIELD)
        return IRQ_STATUS_MALFORMED_TABLE;
    return Status;
}

IRQ_STATUS HlDmarParse(const void *Table, size_t Length, HL_DMAR_INFO *Info)
{
    if (Table == NULL || Info == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    HLP_ACPI_SPAN Dmar;
    IRQ_STATUS Status = HlpCheckDmarHeader(Table, Length, &Dmar);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlpCheckStructures(&Dmar);
    HLP_DMAR_WALK Walk = {.Table = &Dmar, .Info = NULL};
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlpWalkStructures(&Walk);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* The table is good: the same walk again, storing. */
    Walk = (HLP_DMAR_WALK){.Table = &Dmar, .Info = Info};
    Status = HlpWalkStructures(&Walk);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status; /* cannot happen: the checking pass saw the same table */
    Info->HostAddressWidth = (uint32_t)Dmar.Bytes[DMAR_OFFSET_HOST_ADDRESS_WIDTH] + 1u;
    Info->Flags = Dmar.Bytes[DMAR_OFFSET_FLAGS];
    Info->UnitCount = Walk.UnitCount;
    Info->SkippedStructureCount = Walk.SkippedStructureCount;
    Info->UnknownStructureCount = Walk.UnknownStructureCount;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Queries ------------------------------------------------------------------------------------ */

static bool HlpFindScope(const HL_DMAR_INFO *Info, HL_DMAR_SCOPE_TYPE Type, uint8_t EnumerationId,
                         uint32_t *UnitIndex, const HL_DMAR_SCOPE **Found)
{
    uint32_t Units = Info->UnitCount < HL_DMAR_MAX_UNITS ? Info->UnitCount : HL_DMAR_MAX_UNITS;
    for (uint32_t Index = 0; Index < Units; Index++) {
        const HL_DMAR_UNIT *Unit = &Info->Units[Index];
        uint32_t Scopes = Unit->ScopeCount < HL_DMAR_MAX_SCOPES_PER_UNIT ? Unit->ScopeCount
                                                                          : HL_DMAR_MAX_SCOPES_PER_UNIT;
        for (uint32_t ScopeIndex = 0; ScopeIndex < Scopes; ScopeIndex++) {
            const HL_DMAR_SCOPE *Scope = &Unit->Scopes[ScopeIndex];
            if (Scope->Type == Type && Scope->EnumerationId == EnumerationId) {
                *UnitIndex = Index;
                *Found = Scope;
                return true;
            }
        }
    }
    return false;
}

static bool HlpFindIncludeAllUnit(const HL_DMAR_INFO *Info, uint16_t Segment, uint32_t *UnitIndex)
{
    uint32_t Units = Info->UnitCount < HL_DMAR_MAX_UNITS ? Info->UnitCount : HL_DMAR_MAX_UNITS;
    for (uint32_t Index = 0; Index < Units; Index++) {
        if (Info->Units[Index].IncludePciAll && Info->Units[Index].Segment == Segment) {
            *UnitIndex = Index;
            return true;
        }
    }
    return false;
}

IRQ_STATUS HlDmarFindIoApicUnit(const HL_DMAR_INFO *Info, uint8_t IoApicId, uint32_t *UnitIndex)
{
    if (Info == NULL || UnitIndex == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    const HL_DMAR_SCOPE *Scope;
    if (HlpFindScope(Info, HlDmarScopeIoApic, IoApicId, UnitIndex, &Scope))
        return IRQ_STATUS_SUCCESS;
    return HlpFindIncludeAllUnit(Info, 0, UnitIndex) ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED;
}

IRQ_STATUS HlDmarGetIoApicSourceId(const HL_DMAR_INFO *Info, uint8_t IoApicId, uint16_t *SourceId)
{
    if (Info == NULL || SourceId == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t UnitIndex;
    const HL_DMAR_SCOPE *Scope;
    if (!HlpFindScope(Info, HlDmarScopeIoApic, IoApicId, &UnitIndex, &Scope) || !Scope->SourceIdKnown)
        return IRQ_STATUS_NOT_SUPPORTED;
    *SourceId = Scope->SourceId;
    return IRQ_STATUS_SUCCESS;
}

static bool HlpScopeIsRequester(const HL_DMAR_SCOPE *Scope, uint16_t SourceId)
{
    return (Scope->Type == HlDmarScopePciEndpoint || Scope->Type == HlDmarScopePciBridge) && Scope->SourceIdKnown &&
           Scope->SourceId == SourceId;
}

IRQ_STATUS HlDmarFindPciUnit(const HL_DMAR_INFO *Info, uint16_t Segment, uint8_t Bus, uint8_t Device,
                             uint8_t Function, uint32_t *UnitIndex)
{
    if (Info == NULL || UnitIndex == NULL || Device > PCI_MAX_DEVICE || Function > PCI_MAX_FUNCTION)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint16_t SourceId = HlpSourceId(Bus, (HL_DMAR_PATH_ENTRY){.Device = Device, .Function = Function});
    uint32_t Units = Info->UnitCount < HL_DMAR_MAX_UNITS ? Info->UnitCount : HL_DMAR_MAX_UNITS;
    for (uint32_t Index = 0; Index < Units; Index++) {
        const HL_DMAR_UNIT *Unit = &Info->Units[Index];
        if (Unit->Segment != Segment)
            continue;
        uint32_t Scopes = Unit->ScopeCount < HL_DMAR_MAX_SCOPES_PER_UNIT ? Unit->ScopeCount
                                                                          : HL_DMAR_MAX_SCOPES_PER_UNIT;
        for (uint32_t ScopeIndex = 0; ScopeIndex < Scopes; ScopeIndex++) {
            if (HlpScopeIsRequester(&Unit->Scopes[ScopeIndex], SourceId)) {
                *UnitIndex = Index;
                return IRQ_STATUS_SUCCESS;
            }
        }
    }
    return HlpFindIncludeAllUnit(Info, Segment, UnitIndex) ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED;
}
