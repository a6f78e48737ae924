/* SPDX-License-Identifier: MIT */
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

typedef struct _RK_ACPI_RSDP {
    char Signature[8]; /* "RSD PTR " */
    uint8_t Checksum;
    char OemId[6];
    uint8_t Revision;  /* 0: ACPI 1.0 (RSDT only); 2: XSDT fields valid */
    uint32_t RsdtAddress;
    uint32_t Length;
    uint64_t XsdtAddress;
    uint8_t ExtendedChecksum;
    uint8_t Reserved[3];
} __attribute__((packed)) RK_ACPI_RSDP;

/* 5.2.6 "System Description Table Header". */
typedef struct _RK_ACPI_TABLE_HEADER {
    char Signature[4];
    uint32_t Length;
    uint8_t Revision;
    uint8_t Checksum;
    char OemId[6];
    char OemTableId[8];
    uint32_t OemRevision;
    uint32_t CreatorId;
    uint32_t CreatorRevision;
} __attribute__((packed)) RK_ACPI_TABLE_HEADER;

_Static_assert(sizeof(RK_ACPI_RSDP) == RSDP_V2_LENGTH, "RSDP layout");
_Static_assert(sizeof(RK_ACPI_TABLE_HEADER) == 36, "SDT header layout");

/* Larger tables than this are taken for garbage. */
#define ACPI_MAX_TABLE_LENGTH (1u << 20)
#define ACPI_ADDRESS_LIMIT 0x100000000ull

HL_MADT_INFO RkMadt;

static uint8_t RkAcpiSum(const void *Bytes, uint32_t Length)
{
    const uint8_t *Byte = Bytes;
    uint8_t Sum = 0;
    for (uint32_t Index = 0; Index < Length; Index++)
        Sum = (uint8_t)(Sum + Byte[Index]);
    return Sum;
}

static bool RkSignatureIs(const char *Field, const char *Signature, uint32_t Length)
{
    return memcmp(Field, Signature, Length) == 0;
}

static const RK_ACPI_RSDP *RkScanForRsdp(uintptr_t Start, uintptr_t End)
{
    for (uintptr_t Address = Start; Address + RSDP_V1_LENGTH <= End; Address += RSDP_ALIGNMENT) {
        const RK_ACPI_RSDP *Rsdp = (const RK_ACPI_RSDP *)Address;
        if (!RkSignatureIs(Rsdp->Signature, "RSD PTR ", 8) || RkAcpiSum(Rsdp, RSDP_V1_LENGTH) != 0)
            continue;
        /* Revision 2+: the extended checksum covers Length bytes (36). */
        if (Rsdp->Revision >= 2 && (Rsdp->Length < RSDP_V2_LENGTH || RkAcpiSum(Rsdp, RSDP_V2_LENGTH) != 0))
            continue;
        return Rsdp;
    }
    return NULL;
}

static const RK_ACPI_RSDP *RkFindRsdp(void)
{
    uintptr_t Ebda = (uintptr_t)*(const volatile uint16_t *)RkPhysical(BDA_EBDA_SEGMENT) << 4;
    const RK_ACPI_RSDP *Rsdp = NULL;
    if (Ebda >= 0x400 && Ebda < BIOS_AREA_START)
        Rsdp = RkScanForRsdp(Ebda, Ebda + EBDA_SEARCH_LENGTH);
    if (Rsdp == NULL)
        Rsdp = RkScanForRsdp(BIOS_AREA_START, BIOS_AREA_END);
    return Rsdp;
}

/* A table is usable when it lies below 4 GiB, its length is sane and its
 * bytes sum to zero. */
static const RK_ACPI_TABLE_HEADER *RkMapTable(uint64_t Address)
{
    if (Address == 0 || Address + sizeof(RK_ACPI_TABLE_HEADER) > ACPI_ADDRESS_LIMIT)
        return NULL;
    const RK_ACPI_TABLE_HEADER *Table = (const RK_ACPI_TABLE_HEADER *)(uintptr_t)Address;
    if (Table->Length < sizeof(RK_ACPI_TABLE_HEADER) || Table->Length > ACPI_MAX_TABLE_LENGTH ||
        Address + Table->Length > ACPI_ADDRESS_LIMIT)
        return NULL;
    if (RkAcpiSum(Table, Table->Length) != 0) {
        RkPrint("ACPI: table %c%c%c%c at 0x%lx: bad checksum, ignored\n", Table->Signature[0],
                Table->Signature[1], Table->Signature[2], Table->Signature[3], Address);
        return NULL;
    }
    return Table;
}

/* Entry Index of the RSDT (32-bit entries) or XSDT (64-bit entries). */
static uint64_t RkRootEntry(const RK_ACPI_TABLE_HEADER *Root, bool Extended, uint32_t Index)
{
    const uint8_t *Entries = (const uint8_t *)Root + sizeof(RK_ACPI_TABLE_HEADER);
    uint64_t Value = 0;
    uint32_t Width = Extended ? 8u : 4u;
    memcpy(&Value, Entries + (uint64_t)Index * Width, Width);
    return Value;
}

/* The root table (XSDT, else RSDT) the RSDP names; NULL if none is usable. */
static const RK_ACPI_TABLE_HEADER *RkFindRoot(bool *Extended, bool Quiet)
{
    const RK_ACPI_RSDP *Rsdp = RkFindRsdp();
    if (Rsdp == NULL) {
        if (!Quiet)
            RkPrint("ACPI: no RSDP found\n");
        return NULL;
    }
    *Extended = Rsdp->Revision >= 2 && Rsdp->XsdtAddress != 0;
    const RK_ACPI_TABLE_HEADER *Root = RkMapTable(*Extended ? Rsdp->XsdtAddress : Rsdp->RsdtAddress);
    if (Root == NULL && *Extended) {
        *Extended = false; /* an unusable XSDT: fall back to the RSDT */
        Root = RkMapTable(Rsdp->RsdtAddress);
    }
    if (Root == NULL || !RkSignatureIs(Root->Signature, *Extended ? "XSDT" : "RSDT", 4)) {
        if (!Quiet)
            RkPrint("ACPI: RSDP at %p (revision %u) names no usable root table\n", (const void *)Rsdp,
                    Rsdp->Revision);
        return NULL;
    }
    if (!Quiet)
        RkPrint("ACPI: RSDP at %p revision %u, %s at %p with %u tables:", (const void *)Rsdp, Rsdp->Revision,
                *Extended ? "XSDT" : "RSDT", (const void *)Root,
                (Root->Length - (uint32_t)sizeof(RK_ACPI_TABLE_HEADER)) / (*Extended ? 8u : 4u));
    return Root;
}

/* The first table with Signature; Listing prints every table's signature. */
static bool RkFindTable(const char *Signature, bool Listing, const void **Found, uint32_t *Length)
{
    bool Extended;
    const RK_ACPI_TABLE_HEADER *Root = RkFindRoot(&Extended, !Listing);
    if (Root == NULL)
        return false;
    uint32_t Count = (Root->Length - (uint32_t)sizeof(RK_ACPI_TABLE_HEADER)) / (Extended ? 8u : 4u);
    *Found = NULL;
    for (uint32_t Index = 0; Index < Count; Index++) {
        const RK_ACPI_TABLE_HEADER *Table = RkMapTable(RkRootEntry(Root, Extended, Index));
        if (Table == NULL)
            continue;
        if (Listing)
            RkPrint(" %c%c%c%c", Table->Signature[0], Table->Signature[1], Table->Signature[2], Table->Signature[3]);
        if (*Found == NULL && RkSignatureIs(Table->Signature, Signature, 4)) {
            *Found = Table;
            *Length = Table->Length;
        }
    }
    if (Listing)
        RkPrint("\n");
    return *Found != NULL;
}

bool RkAcpiFindMadt(const void **Madt, uint32_t *Length)
{
    return RkFindTable("APIC", true, Madt, Length);
}

bool RkAcpiFindTable(const char *Signature, const void **Table, uint32_t *Length)
{
    return RkFindTable(Signature, false, Table, Length);
}

/* Whether Next continues the run of processor entries that ends with
 * Previous: same entry type and flags, uid and APIC id one higher. */
static bool RkContinuesRun(const HL_MADT_PROCESSOR *Previous, const HL_MADT_PROCESSOR *Next)
{
    return Next->X2Apic == Previous->X2Apic && Next->Enabled == Previous->Enabled &&
           Next->OnlineCapable == Previous->OnlineCapable && Next->AcpiUid == Previous->AcpiUid + 1u &&
           Next->ApicId == Previous->ApicId + 1u;
}

/* One line for the processor entries from First on that form a run (a
 * machine with 1024 CPUs gets two lines, not 1024); returns the index
 * after the run. */
static uint32_t RkPrintProcessorRun(const HL_MADT_INFO *Info, uint32_t First)
{
    uint32_t Last = First;
    while (Last + 1u < Info->ProcessorCount && RkContinuesRun(&Info->Processors[Last], &Info->Processors[Last + 1u]))
        Last++;
    const HL_MADT_PROCESSOR *Start = &Info->Processors[First];
    const HL_MADT_PROCESSOR *End = &Info->Processors[Last];
    const char *Flags = Start->Enabled ? (Start->OnlineCapable ? " enabled online-capable" : " enabled")
                                       : (Start->OnlineCapable ? " online-capable" : "");
    if (First == Last)
        RkPrint("  %s uid %u APIC id %u%s\n", Start->X2Apic ? "x2APIC" : "LAPIC ", Start->AcpiUid, Start->ApicId,
                Flags);
    else
        RkPrint("  %s uid %u-%u APIC id %u-%u%s (%u entries)\n", Start->X2Apic ? "x2APIC" : "LAPIC ",
                Start->AcpiUid, End->AcpiUid, Start->ApicId, End->ApicId, Flags, Last - First + 1u);
    return Last + 1u;
}

void RkAcpiPrintMadt(const HL_MADT_INFO *Info)
{
    RkPrint("MADT: local APIC at 0x%lx, flags 0x%x%s, %u processors, %u I/O APICs, %u overrides, %u NMIs",
            Info->LocalApicAddress, Info->Flags, (Info->Flags & 1u) ? " (PCAT_COMPAT)" : "",
            Info->ProcessorCount, Info->IoApicCount, Info->OverrideCount, Info->NmiCount);
    if (Info->UnknownEntryCount != 0)
        RkPrint(", %u unknown entries skipped", Info->UnknownEntryCount);
    RkPrint("\n");
    for (uint32_t Index = 0; Index < Info->ProcessorCount;)
        Index = RkPrintProcessorRun(Info, Index);
    for (uint32_t Index = 0; Index < Info->IoApicCount; Index++)
        RkPrint("  I/O APIC id %u at 0x%x, GSI base %u\n", Info->IoApics[Index].Id, Info->IoApics[Index].Address,
                Info->IoApics[Index].GsiBase);
    for (uint32_t Index = 0; Index < Info->OverrideCount; Index++)
        RkPrint("  override bus %u IRQ %u -> GSI %u, flags 0x%x\n", Info->Overrides[Index].Bus,
                Info->Overrides[Index].SourceIrq, Info->Overrides[Index].Gsi, Info->Overrides[Index].Flags);
    for (uint32_t Index = 0; Index < Info->NmiCount; Index++)
        RkPrint("  local NMI uid 0x%x LINT%u, flags 0x%x\n", Info->Nmis[Index].AcpiUid, Info->Nmis[Index].Lint,
                Info->Nmis[Index].Flags);
}
