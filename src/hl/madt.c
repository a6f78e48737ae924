/* SPDX-License-Identifier: MIT */
/*
 * ACPI MADT parser: ACPI 6.x section 5.2.12 "Multiple APIC Description
 * Table (MADT)".
 *
 * The table is firmware input, so it is treated as hostile: a fuzzer feeds
 * it arbitrary bytes. Every read is preceded by a check that it lies inside
 * [Table, Table + header Length), and the header Length itself inside the
 * caller's buffer. Multi-byte fields are read byte by byte, little-endian:
 * entries are packed and their fields are not aligned.
 *
 * Layout (5.2.12, "Multiple APIC Description Table (MADT) Format"):
 *   0   Signature "APIC"        4   Length (whole table)
 *   8   Revision                9   Checksum (all Length bytes sum to 0)
 *   10  OEM id, table id, revisions (5.2.6, the common header) ... 36
 *   36  Local Interrupt Controller Address (32 bits)
 *   40  Flags (bit 0 PCAT_COMPAT)
 *   44  interrupt controller structures: Type, Length, then the body.
 *
 * The table is walked three times: a structure pass (every entry inside the
 * table, every known entry at least its type's size), a checking pass that
 * stores nothing, then, only when the whole table is good, a pass that fills
 * Info. So a malformed table leaves Info as it was. Every walk, and every
 * look-up of one entry's neighbours, goes through HlpAcpiNextRecord, the
 * record walker the DMAR parser uses too (acpip.h): the one place that
 * checks an entry's bounds.
 *
 * What this parser does with the content the spec constrains (5.2.12.2,
 * 5.2.12.7, 5.2.12.12, 5.2.12.13), each documented in hl.h:
 *  - processor structures whose APIC id names no processor (type 0 id 0xFF,
 *    type 9 id 0xFFFFFFFF: firmware lists absent processors that way) and
 *    type 9 structures with an id below 255 in a table that has usable
 *    type 0 processors (the spec says processors below 255 are described by
 *    type 0, so such an entry describes one of them a second time) are
 *    skipped and counted;
 *  - two recorded processors with one APIC id make the table malformed: a
 *    destination would reach both;
 *  - NMI structures whose processor UID matches no recorded processor (nor
 *    "all") are skipped and counted: they apply to nothing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/hl.h>

#include "acpip.h"

#define MADT_OFFSET_LOCAL_APIC_ADDRESS 36u
#define MADT_OFFSET_FLAGS 40u
#define MADT_HEADER_LENGTH 44u

/* Every structure starts with Type (byte 0) and Length (byte 1), and is
 * at least those two bytes long. */
static const HLP_ACPI_RECORD_FORMAT HlpMadtEntryFormat = {.FieldSize = 1, .MinimumLength = 2, .LengthGranule = 1};

/* Interrupt controller structure types (5.2.12, "Interrupt Controller
 * Structure Types") and their sizes in ACPI 6.x. A longer entry is accepted
 * (a later revision may append fields) and skipped by its Length. */
#define MADT_TYPE_LOCAL_APIC 0x0u          /* 5.2.12.2, 8 bytes */
#define MADT_TYPE_IOAPIC 0x1u              /* 5.2.12.3, 12 bytes */
#define MADT_TYPE_SOURCE_OVERRIDE 0x2u     /* 5.2.12.5, 10 bytes */
#define MADT_TYPE_NMI_SOURCE 0x3u          /* 5.2.12.6, 8 bytes */
#define MADT_TYPE_LOCAL_APIC_NMI 0x4u      /* 5.2.12.7, 6 bytes */
#define MADT_TYPE_ADDRESS_OVERRIDE 0x5u    /* 5.2.12.8, 12 bytes */
#define MADT_TYPE_LOCAL_X2APIC 0x9u        /* 5.2.12.12, 16 bytes */
#define MADT_TYPE_LOCAL_X2APIC_NMI 0xAu    /* 5.2.12.13, 12 bytes */

#define MADT_LOCAL_APIC_LENGTH 8u
#define MADT_LOCAL_X2APIC_LENGTH 16u

/* Local APIC flags (5.2.12.2, "Local APIC Flags"); x2APIC entries use the same. */
#define MADT_LAPIC_ENABLED 0x1u
#define MADT_LAPIC_ONLINE_CAPABLE 0x2u

/* APIC ids that name no processor: the xAPIC and x2APIC broadcast ids
 * (Intel SDM vol. 3A 11.6.2.1, 11.12.9), which firmware writes into the
 * entries of processors that are not there. */
#define MADT_LOCAL_APIC_NO_PROCESSOR 0xFFu
#define MADT_LOCAL_X2APIC_NO_PROCESSOR 0xFFFFFFFFu
/* 5.2.12.12: "Logical processors with APIC ID values less than 255 (whether
 * in XAPIC or X2APIC mode) must use the Processor Local APIC structure". */
#define MADT_X2APIC_FIRST_ID 0xFFu
/* Processor UIDs meaning "all processors" (5.2.12.7, 5.2.12.13). */
#define MADT_LOCAL_APIC_NMI_ALL 0xFFu
#define MADT_LOCAL_X2APIC_NMI_ALL 0xFFFFFFFFu

/* A processor structure of either type, decoded. */
typedef struct _HLP_MADT_CPU {
    uint32_t ApicId;
    uint32_t AcpiUid;
    uint32_t Flags;
    bool X2Apic;
} HLP_MADT_CPU;

typedef struct _HLP_MADT_WALK {
    const HLP_ACPI_SPAN *Table;
    HL_MADT_INFO *Info; /* NULL in the checking pass */
    bool HasLocalApicProcessors; /* a usable type 0 processor is in the table */
    uint64_t LocalApicAddress;
    uint32_t ProcessorCount;
    uint32_t IoApicCount;
    uint32_t OverrideCount;
    uint32_t NmiCount;
    uint32_t UnknownEntryCount;
    uint32_t IgnoredProcessorCount;
    uint32_t UnmatchedNmiCount;
} HLP_MADT_WALK;

typedef IRQ_STATUS (*HLP_MADT_ENTRY_PARSER)(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk);

typedef struct _HLP_MADT_ENTRY_TYPE {
    uint8_t Type;
    uint8_t MinimumLength;
    HLP_MADT_ENTRY_PARSER Parse;
} HLP_MADT_ENTRY_TYPE;

/* ---- Processors -------------------------------------------------------------------- */

/* 5.2.12.2: UID at 2, APIC id at 3, flags at 4. 5.2.12.12: reserved at 2,
 * x2APIC id at 4, flags at 8, UID at 12. False for any other entry, or one
 * shorter than its type. */
static bool HlpDecodeProcessor(const HLP_ACPI_SPAN *Entry, HLP_MADT_CPU *Cpu)
{
    if (Entry->Bytes[0] == MADT_TYPE_LOCAL_APIC && Entry->Length >= MADT_LOCAL_APIC_LENGTH) {
        *Cpu = (HLP_MADT_CPU){.ApicId = Entry->Bytes[3], .AcpiUid = Entry->Bytes[2],
                              .Flags = HlpAcpiRead32(Entry->Bytes + 4), .X2Apic = false};
        return true;
    }
    if (Entry->Bytes[0] == MADT_TYPE_LOCAL_X2APIC && Entry->Length >= MADT_LOCAL_X2APIC_LENGTH) {
        *Cpu = (HLP_MADT_CPU){.ApicId = HlpAcpiRead32(Entry->Bytes + 4), .AcpiUid = HlpAcpiRead32(Entry->Bytes + 12),
                              .Flags = HlpAcpiRead32(Entry->Bytes + 8), .X2Apic = true};
        return true;
    }
    return false;
}

static bool HlpNamesNoProcessor(const HLP_MADT_CPU *Cpu)
{
    return Cpu->ApicId == (Cpu->X2Apic ? MADT_LOCAL_X2APIC_NO_PROCESSOR : MADT_LOCAL_APIC_NO_PROCESSOR);
}

/* 5.2.12.2: a processor with neither flag set is unusable. */
static bool HlpIsUsable(const HLP_MADT_CPU *Cpu)
{
    return (Cpu->Flags & (MADT_LAPIC_ENABLED | MADT_LAPIC_ONLINE_CAPABLE)) != 0;
}

/* Whether a processor structure is skipped rather than recorded: its id
 * names no processor, or it is a type 9 entry for an id below 255 while type
 * 0 entries describe the processors below 255 (5.2.12.12). A table of type 9
 * entries only (some firmware lists every processor so) is taken as it is. */
static bool HlpIsIgnoredProcessor(const HLP_MADT_CPU *Cpu, bool HasLocalApicProcessors)
{
    if (HlpNamesNoProcessor(Cpu))
        return true;
    return Cpu->X2Apic && Cpu->ApicId < MADT_X2APIC_FIRST_ID && HasLocalApicProcessors;
}

/* Whether a processor structure, decoded into *Cpu, is recorded. */
static bool HlpRecordedProcessor(const HLP_ACPI_SPAN *Entry, bool HasLocalApicProcessors, HLP_MADT_CPU *Cpu)
{
    return HlpDecodeProcessor(Entry, Cpu) && !HlpIsIgnoredProcessor(Cpu, HasLocalApicProcessors);
}

static bool HlpHasLocalApicProcessors(const HLP_ACPI_SPAN *Table)
{
    uint32_t Offset = MADT_HEADER_LENGTH;
    HLP_ACPI_SPAN Entry;
    while (HlpAcpiNextRecord(Table, &HlpMadtEntryFormat, &Offset, &Entry)) {
        HLP_MADT_CPU Cpu;
        if (HlpDecodeProcessor(&Entry, &Cpu) && !Cpu.X2Apic && !HlpNamesNoProcessor(&Cpu) && HlpIsUsable(&Cpu))
            return true;
    }
    return false;
}

/* Whether a recorded processor before Before has ApicId. A scan of the
 * table, not of Info: the checking pass has nowhere to keep the ids, and
 * the parser has no memory of its own. */
static bool HlpApicIdRecordedBefore(const HLP_MADT_WALK *Walk, uint32_t Before, uint32_t ApicId)
{
    uint32_t Offset = MADT_HEADER_LENGTH;
    HLP_ACPI_SPAN Entry;
    while (Offset < Before && HlpAcpiNextRecord(Walk->Table, &HlpMadtEntryFormat, &Offset, &Entry)) {
        HLP_MADT_CPU Cpu;
        if (HlpRecordedProcessor(&Entry, Walk->HasLocalApicProcessors, &Cpu) && Cpu.ApicId == ApicId)
            return true;
    }
    return false;
}

/* Stores a processor (both entry kinds). Disabled processors are recorded
 * too, with Enabled false: whether to bring them up is the kernel's call
 * (an online-capable one may be hot-added later, 5.2.12.2). Two with one
 * APIC id are refused in the checking pass, which the filling pass follows
 * only when the table is good. */
static IRQ_STATUS HlpAddProcessor(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    HLP_MADT_CPU Cpu;
    if (!HlpDecodeProcessor(Entry, &Cpu))
        return IRQ_STATUS_MALFORMED_TABLE; /* HlpParseEntry checked the size */
    if (HlpIsIgnoredProcessor(&Cpu, Walk->HasLocalApicProcessors)) {
        Walk->IgnoredProcessorCount++;
        return IRQ_STATUS_SUCCESS;
    }
    if (Walk->Info == NULL && HlpApicIdRecordedBefore(Walk, Entry->Offset, Cpu.ApicId))
        return IRQ_STATUS_MALFORMED_TABLE;
    if (Walk->ProcessorCount >= HL_MADT_MAX_PROCESSORS)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Walk->Info != NULL) {
        HL_MADT_PROCESSOR *Processor = &Walk->Info->Processors[Walk->ProcessorCount];
        Processor->ApicId = Cpu.ApicId;
        Processor->AcpiUid = Cpu.AcpiUid;
        Processor->Enabled = (Cpu.Flags & MADT_LAPIC_ENABLED) != 0;
        Processor->OnlineCapable = (Cpu.Flags & MADT_LAPIC_ONLINE_CAPABLE) != 0;
        Processor->X2Apic = Cpu.X2Apic;
    }
    Walk->ProcessorCount++;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Other entries ------------------------------------------------------------------- */

/* 5.2.12.3: id at 2, reserved at 3, address at 4, GSI base at 8. */
static IRQ_STATUS HlpParseIoApic(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    if (Walk->IoApicCount >= HL_MAX_IOAPICS)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Walk->Info != NULL) {
        HL_MADT_IOAPIC *IoApic = &Walk->Info->IoApics[Walk->IoApicCount];
        IoApic->Id = Entry->Bytes[2];
        IoApic->Address = HlpAcpiRead32(Entry->Bytes + 4);
        IoApic->GsiBase = HlpAcpiRead32(Entry->Bytes + 8);
    }
    Walk->IoApicCount++;
    return IRQ_STATUS_SUCCESS;
}

/* 5.2.12.5: bus at 2 (0 = ISA), source IRQ at 3, GSI at 4, MPS INTI flags at 8. */
static IRQ_STATUS HlpParseSourceOverride(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    if (Walk->OverrideCount >= HL_MADT_MAX_OVERRIDES)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Walk->Info != NULL) {
        HL_MADT_OVERRIDE *Override = &Walk->Info->Overrides[Walk->OverrideCount];
        Override->Bus = Entry->Bytes[2];
        Override->SourceIrq = Entry->Bytes[3];
        Override->Gsi = HlpAcpiRead32(Entry->Bytes + 4);
        Override->Flags = HlpAcpiRead16(Entry->Bytes + 8);
    }
    Walk->OverrideCount++;
    return IRQ_STATUS_SUCCESS;
}

/* 5.2.12.6: a GSI wired to NMI. No I/O APIC pin here is programmed as NMI,
 * so the entry is known (checked for size) but not recorded. */
static IRQ_STATUS HlpParseNmiSource(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    (void)Entry;
    (void)Walk;
    return IRQ_STATUS_SUCCESS;
}

/* Whether an NMI structure's UID names a recorded processor of either type
 * (both kinds of UID are the processor objects' _UID, 5.2.12.7 and
 * 5.2.12.13), or all of them. The processor may come later in the table. */
static bool HlpNmiHasProcessor(const HLP_MADT_WALK *Walk, uint32_t AcpiUid, uint32_t AllProcessors)
{
    if (AcpiUid == AllProcessors)
        return true;
    uint32_t Offset = MADT_HEADER_LENGTH;
    HLP_ACPI_SPAN Entry;
    while (HlpAcpiNextRecord(Walk->Table, &HlpMadtEntryFormat, &Offset, &Entry)) {
        HLP_MADT_CPU Cpu;
        if (HlpRecordedProcessor(&Entry, Walk->HasLocalApicProcessors, &Cpu) && Cpu.AcpiUid == AcpiUid)
            return true;
    }
    return false;
}

/* An NMI for no processor is skipped and counted, and takes no slot:
 * firmware lists NMI connections for processors that are not there. */
static IRQ_STATUS HlpAddNmi(HLP_MADT_WALK *Walk, uint32_t AcpiUid, uint32_t AllProcessors, uint16_t Flags,
                            uint8_t Lint)
{
    if (!HlpNmiHasProcessor(Walk, AcpiUid, AllProcessors)) {
        Walk->UnmatchedNmiCount++;
        return IRQ_STATUS_SUCCESS;
    }
    if (Walk->NmiCount >= HL_MADT_MAX_NMIS)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Walk->Info != NULL) {
        HL_MADT_NMI *Nmi = &Walk->Info->Nmis[Walk->NmiCount];
        Nmi->AcpiUid = AcpiUid;
        Nmi->Flags = Flags;
        Nmi->Lint = Lint;
    }
    Walk->NmiCount++;
    return IRQ_STATUS_SUCCESS;
}

/* 5.2.12.7: UID at 2 (0xFF = all processors), flags at 3, LINT# at 5. */
static IRQ_STATUS HlpParseLocalApicNmi(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    return HlpAddNmi(Walk, Entry->Bytes[2], MADT_LOCAL_APIC_NMI_ALL, HlpAcpiRead16(Entry->Bytes + 3), Entry->Bytes[5]);
}

/* 5.2.12.13: flags at 2, UID at 4 (0xFFFFFFFF = all processors), LINT# at 8. */
static IRQ_STATUS HlpParseLocalX2ApicNmi(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    return HlpAddNmi(Walk, HlpAcpiRead32(Entry->Bytes + 4), MADT_LOCAL_X2APIC_NMI_ALL, HlpAcpiRead16(Entry->Bytes + 2),
                     Entry->Bytes[8]);
}

/* 5.2.12.8: reserved at 2, the 64-bit local APIC address at 4, which
 * replaces the header's 32-bit one. */
static IRQ_STATUS HlpParseAddressOverride(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    Walk->LocalApicAddress = HlpAcpiRead64(Entry->Bytes + 4);
    return IRQ_STATUS_SUCCESS;
}

static const HLP_MADT_ENTRY_TYPE HlpMadtEntryTypes[] = {
    {MADT_TYPE_LOCAL_APIC, MADT_LOCAL_APIC_LENGTH, HlpAddProcessor},
    {MADT_TYPE_IOAPIC, 12, HlpParseIoApic},
    {MADT_TYPE_SOURCE_OVERRIDE, 10, HlpParseSourceOverride},
    {MADT_TYPE_NMI_SOURCE, 8, HlpParseNmiSource},
    {MADT_TYPE_LOCAL_APIC_NMI, 6, HlpParseLocalApicNmi},
    {MADT_TYPE_ADDRESS_OVERRIDE, 12, HlpParseAddressOverride},
    {MADT_TYPE_LOCAL_X2APIC, MADT_LOCAL_X2APIC_LENGTH, HlpAddProcessor},
    {MADT_TYPE_LOCAL_X2APIC_NMI, 12, HlpParseLocalX2ApicNmi},
};

static const HLP_MADT_ENTRY_TYPE *HlpFindEntryType(uint8_t Type)
{
    for (size_t Index = 0; Index < sizeof(HlpMadtEntryTypes) / sizeof(HlpMadtEntryTypes[0]); Index++) {
        if (HlpMadtEntryTypes[Index].Type == Type)
            return &HlpMadtEntryTypes[Index];
    }
    return NULL;
}

/* A known entry must be at least its type's size; unknown ones (SAPIC,
 * GIC, later additions) may be any size. */
static bool HlpEntryIsLongEnough(const HLP_ACPI_SPAN *Entry)
{
    const HLP_MADT_ENTRY_TYPE *Type = HlpFindEntryType(Entry->Bytes[0]);
    return Type == NULL || Entry->Length >= Type->MinimumLength;
}

/* Types this parser does not know are skipped and counted. */
static IRQ_STATUS HlpParseEntry(const HLP_ACPI_SPAN *Entry, HLP_MADT_WALK *Walk)
{
    const HLP_MADT_ENTRY_TYPE *Type = HlpFindEntryType(Entry->Bytes[0]);
    if (Type == NULL) {
        Walk->UnknownEntryCount++;
        return IRQ_STATUS_SUCCESS;
    }
    if (Entry->Length < Type->MinimumLength)
        return IRQ_STATUS_MALFORMED_TABLE;
    return Type->Parse(Entry, Walk);
}

/* ---- The walks ------------------------------------------------------------------------ */

/* The structure pass: entries from byte 44 to the header's Length, each
 * inside the table and at least its type's size. The look-ups of the later
 * passes (HlpHasLocalApicProcessors, HlpNmiHasProcessor) read entries ahead
 * of the one being parsed, so this runs first. */
static IRQ_STATUS HlpCheckEntries(const HLP_ACPI_SPAN *Table)
{
    return HlpAcpiRecordsFill(Table, MADT_HEADER_LENGTH, &HlpMadtEntryFormat, HlpEntryIsLongEnough)
               ? IRQ_STATUS_SUCCESS
               : IRQ_STATUS_MALFORMED_TABLE;
}

static IRQ_STATUS HlpWalkEntries(HLP_MADT_WALK *Walk)
{
    uint32_t Offset = MADT_HEADER_LENGTH;
    HLP_ACPI_SPAN Entry;
    while (HlpAcpiNextRecord(Walk->Table, &HlpMadtEntryFormat, &Offset, &Entry)) {
        IRQ_STATUS Status = HlpParseEntry(&Entry, Walk);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
    }
    return Offset == Walk->Table->Length ? IRQ_STATUS_SUCCESS : IRQ_STATUS_MALFORMED_TABLE;
}

static IRQ_STATUS HlpWalkTable(const HLP_ACPI_SPAN *Table, bool HasLocalApicProcessors, HL_MADT_INFO *Info,
                               HLP_MADT_WALK *Walk)
{
    *Walk = (HLP_MADT_WALK){
        .Table = Table,
        .Info = Info,
        .HasLocalApicProcessors = HasLocalApicProcessors,
        .LocalApicAddress = HlpAcpiRead32(Table->Bytes + MADT_OFFSET_LOCAL_APIC_ADDRESS),
    };
    IRQ_STATUS Status = HlpWalkEntries(Walk);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* Every interrupt this library routes goes through an I/O APIC. */
    return Walk->IoApicCount == 0 ? IRQ_STATUS_MALFORMED_TABLE : IRQ_STATUS_SUCCESS;
}

/* Info's counts and the array entries below them are written; the arrays
 * past the counts are left as they were (the structure is large and the
 * core has no memset). */
static void HlpStoreSummary(const uint8_t *Table, const HLP_MADT_WALK *Walk, HL_MADT_INFO *Info)
{
    Info->LocalApicAddress = Walk->LocalApicAddress;
    Info->Flags = HlpAcpiRead32(Table + MADT_OFFSET_FLAGS);
    Info->ProcessorCount = Walk->ProcessorCount;
    Info->IoApicCount = Walk->IoApicCount;
    Info->OverrideCount = Walk->OverrideCount;
    Info->NmiCount = Walk->NmiCount;
    Info->UnknownEntryCount = Walk->UnknownEntryCount;
    Info->IgnoredProcessorCount = Walk->IgnoredProcessorCount;
    Info->UnmatchedNmiCount = Walk->UnmatchedNmiCount;
}

IRQ_STATUS HlMadtParse(const void *Table, size_t Length, HL_MADT_INFO *Info)
{
    if (Table == NULL || Info == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    static const uint8_t Signature[ACPI_SIGNATURE_LENGTH] = {'A', 'P', 'I', 'C'};
    HLP_ACPI_SPAN Madt;
    IRQ_STATUS Status = HlpAcpiCheckHeader(Table, Length, Signature, MADT_HEADER_LENGTH, &Madt);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlpCheckEntries(&Madt);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;

    bool HasLocalApicProcessors = HlpHasLocalApicProcessors(&Madt);
    HLP_MADT_WALK Walk;
    Status = HlpWalkTable(&Madt, HasLocalApicProcessors, NULL, &Walk);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* The table is good: the second pass cannot fail. */
    (void)HlpWalkTable(&Madt, HasLocalApicProcessors, Info, &Walk);
    HlpStoreSummary(Madt.Bytes, &Walk, Info);
    return IRQ_STATUS_SUCCESS;
}
