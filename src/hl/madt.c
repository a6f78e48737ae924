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
 * The walk runs twice: a checking pass that stores nothing, then, only when
 * the whole table is good, a pass that fills Info. So a malformed table
 * leaves Info as it was, and both passes share one set of checks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/hl.h>

#define MADT_SIGNATURE_LENGTH 4u
#define MADT_OFFSET_LENGTH 4u
#define MADT_OFFSET_LOCAL_APIC_ADDRESS 36u
#define MADT_OFFSET_FLAGS 40u
#define MADT_HEADER_LENGTH 44u

/* Every structure starts with Type (byte 0) and Length (byte 1). */
#define MADT_ENTRY_HEADER_LENGTH 2u

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

/* Local APIC flags (5.2.12.2, "Local APIC Flags"); x2APIC entries use the same. */
#define MADT_LAPIC_ENABLED 0x1u
#define MADT_LAPIC_ONLINE_CAPABLE 0x2u

typedef struct _HLP_MADT_WALK {
    HL_MADT_INFO *Info; /* NULL in the checking pass */
    uint64_t LocalApicAddress;
    uint32_t ProcessorCount;
    uint32_t IoApicCount;
    uint32_t OverrideCount;
    uint32_t NmiCount;
    uint32_t UnknownEntryCount;
} HLP_MADT_WALK;

typedef IRQ_STATUS (*HLP_MADT_ENTRY_PARSER)(const uint8_t *Entry, HLP_MADT_WALK *Walk);

typedef struct _HLP_MADT_ENTRY_TYPE {
    uint8_t Type;
    uint8_t MinimumLength;
    HLP_MADT_ENTRY_PARSER Parse;
} HLP_MADT_ENTRY_TYPE;

/* ---- Unaligned little-endian reads (the caller has checked the bounds) ---------- */

static uint16_t HlpRead16(const uint8_t *Bytes)
{
    return (uint16_t)(Bytes[0] | Bytes[1] << 8);
}

static uint32_t HlpRead32(const uint8_t *Bytes)
{
    return (uint32_t)Bytes[0] | (uint32_t)Bytes[1] << 8 | (uint32_t)Bytes[2] << 16 | (uint32_t)Bytes[3] << 24;
}

static uint64_t HlpRead64(const uint8_t *Bytes)
{
    return (uint64_t)HlpRead32(Bytes) | (uint64_t)HlpRead32(Bytes + 4) << 32;
}

/* ---- Entries --------------------------------------------------------------------- */

/* Stores a processor (both entry kinds). Disabled processors are recorded
 * too, with Enabled false: whether to bring them up is the kernel's call
 * (an online-capable one may be hot-added later, 5.2.12.2). */
static IRQ_STATUS HlpAddProcessor(HLP_MADT_WALK *Walk, uint32_t ApicId, uint32_t AcpiUid, uint32_t Flags, bool X2Apic)
{
    if (Walk->ProcessorCount >= HL_MADT_MAX_PROCESSORS)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Walk->Info != NULL) {
        HL_MADT_PROCESSOR *Processor = &Walk->Info->Processors[Walk->ProcessorCount];
        Processor->ApicId = ApicId;
        Processor->AcpiUid = AcpiUid;
        Processor->Enabled = (Flags & MADT_LAPIC_ENABLED) != 0;
        Processor->OnlineCapable = (Flags & MADT_LAPIC_ONLINE_CAPABLE) != 0;
        Processor->X2Apic = X2Apic;
    }
    Walk->ProcessorCount++;
    return IRQ_STATUS_SUCCESS;
}

/* 5.2.12.2: UID at 2, APIC id at 3, flags at 4. */
static IRQ_STATUS HlpParseLocalApic(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    return HlpAddProcessor(Walk, Entry[3], Entry[2], HlpRead32(Entry + 4), false);
}

/* 5.2.12.12: reserved at 2, x2APIC id at 4, flags at 8, UID at 12. */
static IRQ_STATUS HlpParseLocalX2Apic(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    return HlpAddProcessor(Walk, HlpRead32(Entry + 4), HlpRead32(Entry + 12), HlpRead32(Entry + 8), true);
}

/* 5.2.12.3: id at 2, reserved at 3, address at 4, GSI base at 8. */
static IRQ_STATUS HlpParseIoApic(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    if (Walk->IoApicCount >= HL_MAX_IOAPICS)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Walk->Info != NULL) {
        HL_MADT_IOAPIC *IoApic = &Walk->Info->IoApics[Walk->IoApicCount];
        IoApic->Id = Entry[2];
        IoApic->Address = HlpRead32(Entry + 4);
        IoApic->GsiBase = HlpRead32(Entry + 8);
    }
    Walk->IoApicCount++;
    return IRQ_STATUS_SUCCESS;
}

/* 5.2.12.5: bus at 2 (0 = ISA), source IRQ at 3, GSI at 4, MPS INTI flags at 8. */
static IRQ_STATUS HlpParseSourceOverride(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    if (Walk->OverrideCount >= HL_MADT_MAX_OVERRIDES)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Walk->Info != NULL) {
        HL_MADT_OVERRIDE *Override = &Walk->Info->Overrides[Walk->OverrideCount];
        Override->Bus = Entry[2];
        Override->SourceIrq = Entry[3];
        Override->Gsi = HlpRead32(Entry + 4);
        Override->Flags = HlpRead16(Entry + 8);
    }
    Walk->OverrideCount++;
    return IRQ_STATUS_SUCCESS;
}

/* 5.2.12.6: a GSI wired to NMI. No I/O APIC pin here is programmed as NMI,
 * so the entry is known (checked for size) but not recorded. */
static IRQ_STATUS HlpParseNmiSource(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    (void)Entry;
    (void)Walk;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS HlpAddNmi(HLP_MADT_WALK *Walk, uint32_t AcpiUid, uint16_t Flags, uint8_t Lint)
{
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
static IRQ_STATUS HlpParseLocalApicNmi(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    return HlpAddNmi(Walk, Entry[2], HlpRead16(Entry + 3), Entry[5]);
}

/* 5.2.12.13: flags at 2, UID at 4 (0xFFFFFFFF = all processors), LINT# at 8. */
static IRQ_STATUS HlpParseLocalX2ApicNmi(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    return HlpAddNmi(Walk, HlpRead32(Entry + 4), HlpRead16(Entry + 2), Entry[8]);
}

/* 5.2.12.8: reserved at 2, the 64-bit local APIC address at 4, which
 * replaces the header's 32-bit one. */
static IRQ_STATUS HlpParseAddressOverride(const uint8_t *Entry, HLP_MADT_WALK *Walk)
{
    Walk->LocalApicAddress = HlpRead64(Entry + 4);
    return IRQ_STATUS_SUCCESS;
}

static const HLP_MADT_ENTRY_TYPE HlpMadtEntryTypes[] = {
    {MADT_TYPE_LOCAL_APIC, 8, HlpParseLocalApic},
    {MADT_TYPE_IOAPIC, 12, HlpParseIoApic},
    {MADT_TYPE_SOURCE_OVERRIDE, 10, HlpParseSourceOverride},
    {MADT_TYPE_NMI_SOURCE, 8, HlpParseNmiSource},
    {MADT_TYPE_LOCAL_APIC_NMI, 6, HlpParseLocalApicNmi},
    {MADT_TYPE_ADDRESS_OVERRIDE, 12, HlpParseAddressOverride},
    {MADT_TYPE_LOCAL_X2APIC, 16, HlpParseLocalX2Apic},
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

/* One entry of EntryLength bytes, all inside the table. Types this parser
 * does not know (SAPIC, GIC, later additions) are skipped and counted. */
static IRQ_STATUS HlpParseEntry(const uint8_t *Entry, uint32_t EntryLength, HLP_MADT_WALK *Walk)
{
    const HLP_MADT_ENTRY_TYPE *Type = HlpFindEntryType(Entry[0]);
    if (Type == NULL) {
        Walk->UnknownEntryCount++;
        return IRQ_STATUS_SUCCESS;
    }
    if (EntryLength < Type->MinimumLength)
        return IRQ_STATUS_MALFORMED_TABLE;
    return Type->Parse(Entry, Walk);
}

/* ---- The walk ------------------------------------------------------------------------ */

/* Entries from byte 44 to the header's Length. An entry must have room for
 * its Type and Length bytes, a Length of at least 2 (a zero Length would
 * never advance) and end inside the table. */
static IRQ_STATUS HlpWalkEntries(const uint8_t *Table, uint32_t Length, HLP_MADT_WALK *Walk)
{
    uint32_t Offset = MADT_HEADER_LENGTH;
    while (Offset < Length) {
        uint32_t Remaining = Length - Offset;
        if (Remaining < MADT_ENTRY_HEADER_LENGTH)
            return IRQ_STATUS_MALFORMED_TABLE;
        uint32_t EntryLength = Table[Offset + 1];
        if (EntryLength < MADT_ENTRY_HEADER_LENGTH || EntryLength > Remaining)
            return IRQ_STATUS_MALFORMED_TABLE;
        IRQ_STATUS Status = HlpParseEntry(Table + Offset, EntryLength, Walk);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
        Offset += EntryLength;
    }
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS HlpWalkTable(const uint8_t *Table, uint32_t Length, HL_MADT_INFO *Info, HLP_MADT_WALK *Walk)
{
    Walk->Info = Info;
    Walk->LocalApicAddress = HlpRead32(Table + MADT_OFFSET_LOCAL_APIC_ADDRESS);
    Walk->ProcessorCount = 0;
    Walk->IoApicCount = 0;
    Walk->OverrideCount = 0;
    Walk->NmiCount = 0;
    Walk->UnknownEntryCount = 0;
    IRQ_STATUS Status = HlpWalkEntries(Table, Length, Walk);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* Every interrupt this library routes goes through an I/O APIC. */
    return Walk->IoApicCount == 0 ? IRQ_STATUS_MALFORMED_TABLE : IRQ_STATUS_SUCCESS;
}

/* ---- Header ----------------------------------------------------------------------------- */

static bool HlpSignatureIsApic(const uint8_t *Table)
{
    static const uint8_t Signature[MADT_SIGNATURE_LENGTH] = {'A', 'P', 'I', 'C'};
    for (uint32_t Index = 0; Index < MADT_SIGNATURE_LENGTH; Index++) {
        if (Table[Index] != Signature[Index])
            return false;
    }
    return true;
}

/* 5.2.6: "the entire table, including the checksum field, must add to zero". */
static bool HlpChecksumIsZero(const uint8_t *Table, uint32_t Length)
{
    uint8_t Sum = 0;
    for (uint32_t Index = 0; Index < Length; Index++)
        Sum = (uint8_t)(Sum + Table[Index]);
    return Sum == 0;
}

/* The table's own Length must cover the fixed part and lie inside the
 * caller's buffer; bytes of the buffer past it are not the table's. */
static IRQ_STATUS HlpCheckHeader(const uint8_t *Table, size_t BufferLength, uint32_t *Length)
{
    if (BufferLength < MADT_HEADER_LENGTH || !HlpSignatureIsApic(Table))
        return IRQ_STATUS_MALFORMED_TABLE;
    uint32_t TableLength = HlpRead32(Table + MADT_OFFSET_LENGTH);
    if (TableLength < MADT_HEADER_LENGTH || TableLength > BufferLength)
        return IRQ_STATUS_MALFORMED_TABLE;
    if (!HlpChecksumIsZero(Table, TableLength))
        return IRQ_STATUS_MALFORMED_TABLE;
    *Length = TableLength;
    return IRQ_STATUS_SUCCESS;
}

/* Info's counts and the array entries below them are written; the arrays
 * past the counts are left as they were (the structure is large and the
 * core has no memset). */
static void HlpStoreSummary(const uint8_t *Table, const HLP_MADT_WALK *Walk, HL_MADT_INFO *Info)
{
    Info->LocalApicAddress = Walk->LocalApicAddress;
    Info->Flags = HlpRead32(Table + MADT_OFFSET_FLAGS);
    Info->ProcessorCount = Walk->ProcessorCount;
    Info->IoApicCount = Walk->IoApicCount;
    Info->OverrideCount = Walk->OverrideCount;
    Info->NmiCount = Walk->NmiCount;
    Info->UnknownEntryCount = Walk->UnknownEntryCount;
}

IRQ_STATUS HlMadtParse(const void *Table, size_t Length, HL_MADT_INFO *Info)
{
    if (Table == NULL || Info == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    const uint8_t *Bytes = Table;
    uint32_t TableLength;
    IRQ_STATUS Status = HlpCheckHeader(Bytes, Length, &TableLength);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;

    HLP_MADT_WALK Walk;
    Status = HlpWalkTable(Bytes, TableLength, NULL, &Walk);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* The table is good: the second pass cannot fail. */
    (void)HlpWalkTable(Bytes, TableLength, Info, &Walk);
    HlpStoreSummary(Bytes, &Walk, Info);
    return IRQ_STATUS_SUCCESS;
}
