/*
 * ACPI table discovery: RSDP -> RSDT/XSDT -> MADT (ACPI 6.x section 5.2).
 *
 * Only finding the MADT is kernel business; parsing it is the library's
 * (HlMadtParse, src/hl/madt.c), so host tests and the fuzzer exercise the
 * same parser. Everything read here is firmware input: signatures,
 * checksums and lengths are checked before a table is used, and no table
 * may reach above 4 GiB (the identity map's end).
 */
#include "kernel.h"

/* 5.2.5.1 "Finding the RSDP on IA-PC Systems": the first KiB of the EBDA
 * (its segment is the word at 0x40E of the BIOS data area), then the BIOS
 * ROM area 0xE0000-0xFFFFF, on 16-byte boundaries. */
#define BDA_EBDA_SEGMENT 0x40E
#define EBDA_SEARCH_LENGTH 1024u
#define BIOS_AREA_START 0xE0000u
#define BIOS_AREA_END 0x100000u
#define RSDP_ALIGNMENT 16u

/* 5.2.5.3 "Root System Description Pointer (RSDP) Structure". */
#define RSDP_V1_LENGTH 20u /* the part the first checksum covers */
#define RSDP_V2_LENGTH 36u

typedef struct _ACPI_RSDP {
    char Signature[8]; /* "RSD PTR " */
    uint8_t Checksum;
    char OemId[6];
    uint8_t Revision;  /* 0: ACPI 1.0 (RSDT only); 2: XSDT fields valid */
    uint32_t RsdtAddress;
    uint32_t Length;
    uint64_t XsdtAddress;
    uint8_t ExtendedChecksum;
    uint8_t Reserved[3];
} __attribute__((packed)) ACPI_RSDP;

/* 5.2.6 "System Description Table Header". */
typedef struct _ACPI_TABLE_HEADER {
    char Signature[4];
    uint32_t Length;
    uint8_t Revision;
    uint8_t Checksum;
    char OemId[6];
    char OemTableId[8];
    uint32_t OemRevision;
    uint32_t CreatorId;
    uint32_t CreatorRevision;
} __attribute__((packed)) ACPI_TABLE_HEADER;

_Static_assert(sizeof(ACPI_RSDP) == RSDP_V2_LENGTH, "RSDP layout");
_Static_assert(sizeof(ACPI_TABLE_HEADER) == 36, "SDT header layout");

/* Larger tables than this are taken for garbage. */
#define ACPI_MAX_TABLE_LENGTH (1u << 20)
#define ACPI_ADDRESS_LIMIT 0x100000000ull

HL_MADT_INFO KiMadt;

static uint8_t KiAcpiSum(const void *Bytes, uint32_t Length)
{
    const uint8_t *Byte = Bytes;
    uint8_t Sum = 0;
    for (uint32_t Index = 0; Index < Length; Index++)
        Sum = (uint8_t)(Sum + Byte[Index]);
    return Sum;
}

static bool KiSignatureIs(const char *Field, const char *Signature, uint32_t Length)
{
    return memcmp(Field, Signature, Length) == 0;
}

static const ACPI_RSDP *KiScanForRsdp(uintptr_t Start, uintptr_t End)
{
    for (uintptr_t Address = Start; Address + RSDP_V1_LENGTH <= End; Address += RSDP_ALIGNMENT) {
        const ACPI_RSDP *Rsdp = (const ACPI_RSDP *)Address;
        if (!KiSignatureIs(Rsdp->Signature, "RSD PTR ", 8) || KiAcpiSum(Rsdp, RSDP_V1_LENGTH) != 0)
            continue;
        /* Revision 2+: the extended checksum covers Length bytes (36). */
        if (Rsdp->Revision >= 2 && (Rsdp->Length < RSDP_V2_LENGTH || KiAcpiSum(Rsdp, RSDP_V2_LENGTH) != 0))
            continue;
        return Rsdp;
    }
    return NULL;
}

static const ACPI_RSDP *KiFindRsdp(void)
{
    uintptr_t Ebda = (uintptr_t)*(const volatile uint16_t *)KiPhysical(BDA_EBDA_SEGMENT) << 4;
    const ACPI_RSDP *Rsdp = NULL;
    if (Ebda >= 0x400 && Ebda < BIOS_AREA_START)
        Rsdp = KiScanForRsdp(Ebda, Ebda + EBDA_SEARCH_LENGTH);
    if (Rsdp == NULL)
        Rsdp = KiScanForRsdp(BIOS_AREA_START, BIOS_AREA_END);
    return Rsdp;
}

/* A table is usable when it lies below 4 GiB, its length is sane and its
 * bytes sum to zero. */
static const ACPI_TABLE_HEADER *KiMapTable(uint64_t Address)
{
    if (Address == 0 || Address + sizeof(ACPI_TABLE_HEADER) > ACPI_ADDRESS_LIMIT)
        return NULL;
    const ACPI_TABLE_HEADER *Table = (const ACPI_TABLE_HEADER *)(uintptr_t)Address;
    if (Table->Length < sizeof(ACPI_TABLE_HEADER) || Table->Length > ACPI_MAX_TABLE_LENGTH ||
        Address + Table->Length > ACPI_ADDRESS_LIMIT)
        return NULL;
    if (KiAcpiSum(Table, Table->Length) != 0) {
        KiPrint("ACPI: table %c%c%c%c at 0x%lx: bad checksum, ignored\n", Table->Signature[0],
                Table->Signature[1], Table->Signature[2], Table->Signature[3], Address);
        return NULL;
    }
    return Table;
}

/* Entry Index of the RSDT (32-bit entries) or XSDT (64-bit entries). */
static uint64_t KiRootEntry(const ACPI_TABLE_HEADER *Root, bool Extended, uint32_t Index)
{
    const uint8_t *Entries = (const uint8_t *)Root + sizeof(ACPI_TABLE_HEADER);
    uint64_t Value = 0;
    uint32_t Width = Extended ? 8u : 4u;
    memcpy(&Value, Entries + (uint64_t)Index * Width, Width);
    return Value;
}

bool KiAcpiFindMadt(const void **Madt, uint32_t *Length)
{
    const ACPI_RSDP *Rsdp = KiFindRsdp();
    if (Rsdp == NULL) {
        KiPrint("ACPI: no RSDP found\n");
        return false;
    }
    bool Extended = Rsdp->Revision >= 2 && Rsdp->XsdtAddress != 0;
    const ACPI_TABLE_HEADER *Root = KiMapTable(Extended ? Rsdp->XsdtAddress : Rsdp->RsdtAddress);
    if (Root == NULL && Extended) {
        Extended = false; /* an unusable XSDT: fall back to the RSDT */
        Root = KiMapTable(Rsdp->RsdtAddress);
    }
    if (Root == NULL || !KiSignatureIs(Root->Signature, Extended ? "XSDT" : "RSDT", 4)) {
        KiPrint("ACPI: RSDP at %p (revision %u) names no usable root table\n", (const void *)Rsdp,
                Rsdp->Revision);
        return false;
    }
    uint32_t Count = (Root->Length - (uint32_t)sizeof(ACPI_TABLE_HEADER)) / (Extended ? 8u : 4u);
    KiPrint("ACPI: RSDP at %p revision %u, %s at %p with %u tables:", (const void *)Rsdp, Rsdp->Revision,
            Extended ? "XSDT" : "RSDT", (const void *)Root, Count);

    *Madt = NULL;
    for (uint32_t Index = 0; Index < Count; Index++) {
        const ACPI_TABLE_HEADER *Table = KiMapTable(KiRootEntry(Root, Extended, Index));
        if (Table == NULL)
            continue;
        KiPrint(" %c%c%c%c", Table->Signature[0], Table->Signature[1], Table->Signature[2], Table->Signature[3]);
        if (*Madt == NULL && KiSignatureIs(Table->Signature, "APIC", 4)) {
            *Madt = Table;
            *Length = Table->Length;
        }
    }
    KiPrint("\n");
    return *Madt != NULL;
}

/* Whether Next continues the run of processor entries that ends with
 * Previous: same entry type and flags, uid and APIC id one higher. */
static bool KiContinuesRun(const HL_MADT_PROCESSOR *Previous, const HL_MADT_PROCESSOR *Next)
{
    return Next->X2Apic == Previous->X2Apic && Next->Enabled == Previous->Enabled &&
           Next->OnlineCapable == Previous->OnlineCapable && Next->AcpiUid == Previous->AcpiUid + 1u &&
           Next->ApicId == Previous->ApicId + 1u;
}

/* One line for the processor entries from First on that form a run (a
 * machine with 1024 CPUs gets two lines, not 1024); returns the index
 * after the run. */
static uint32_t KiPrintProcessorRun(const HL_MADT_INFO *Info, uint32_t First)
{
    uint32_t Last = First;
    while (Last + 1u < Info->ProcessorCount && KiContinuesRun(&Info->Processors[Last], &Info->Processors[Last + 1u]))
        Last++;
    const HL_MADT_PROCESSOR *Start = &Info->Processors[First];
    const HL_MADT_PROCESSOR *End = &Info->Processors[Last];
    const char *Flags = Start->Enabled ? (Start->OnlineCapable ? " enabled online-capable" : " enabled")
                                       : (Start->OnlineCapable ? " online-capable" : "");
    if (First == Last)
        KiPrint("  %s uid %u APIC id %u%s\n", Start->X2Apic ? "x2APIC" : "LAPIC ", Start->AcpiUid, Start->ApicId,
                Flags);
    else
        KiPrint("  %s uid %u-%u APIC id %u-%u%s (%u entries)\n", Start->X2Apic ? "x2APIC" : "LAPIC ",
                Start->AcpiUid, End->AcpiUid, Start->ApicId, End->ApicId, Flags, Last - First + 1u);
    return Last + 1u;
}

void KiAcpiPrintMadt(const HL_MADT_INFO *Info)
{
    KiPrint("MADT: local APIC at 0x%lx, flags 0x%x%s, %u processors, %u I/O APICs, %u overrides, %u NMIs",
            Info->LocalApicAddress, Info->Flags, (Info->Flags & 1u) ? " (PCAT_COMPAT)" : "",
            Info->ProcessorCount, Info->IoApicCount, Info->OverrideCount, Info->NmiCount);
    if (Info->UnknownEntryCount != 0)
        KiPrint(", %u unknown entries skipped", Info->UnknownEntryCount);
    KiPrint("\n");
    for (uint32_t Index = 0; Index < Info->ProcessorCount;)
        Index = KiPrintProcessorRun(Info, Index);
    for (uint32_t Index = 0; Index < Info->IoApicCount; Index++)
        KiPrint("  I/O APIC id %u at 0x%x, GSI base %u\n", Info->IoApics[Index].Id, Info->IoApics[Index].Address,
                Info->IoApics[Index].GsiBase);
    for (uint32_t Index = 0; Index < Info->OverrideCount; Index++)
        KiPrint("  override bus %u IRQ %u -> GSI %u, flags 0x%x\n", Info->Overrides[Index].Bus,
                Info->Overrides[Index].SourceIrq, Info->Overrides[Index].Gsi, Info->Overrides[Index].Flags);
    for (uint32_t Index = 0; Index < Info->NmiCount; Index++)
        KiPrint("  local NMI uid 0x%x LINT%u, flags 0x%x\n", Info->Nmis[Index].AcpiUid, Info->Nmis[Index].Lint,
                Info->Nmis[Index].Flags);
}
