/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes -> HlMadtParse (src/hl/madt.c).
 *
 * Built with -fsanitize=fuzzer,address,undefined. The input is copied into a
 * malloc of exactly its size, so any read past the caller's buffer is an
 * AddressSanitizer report. Beyond "no crash", each input is checked against
 * a reference walk written here from ACPI 6.x section 5.2.12 (the MADT
 * layout and the sizes of the structure types), independently of the parser:
 *  - the status is SUCCESS exactly when the reference accepts the table,
 *    else MALFORMED_TABLE (or INSUFFICIENT_RESOURCES when a fixed array of
 *    HL_MADT_INFO would overflow, as status.h documents);
 *  - processor and NMI entries follow hl.h's rules for HlMadtParse: entries
 *    with the "no processor" ids and x2APIC entries below 255 beside usable
 *    LAPIC ones are skipped and counted, recorded processors have distinct
 *    APIC ids (else MALFORMED_TABLE), NMIs for a UID no recorded processor
 *    has are skipped and counted. The reference keeps the recorded
 *    processors in an array; the parser, which has no memory, rescans the
 *    table;
 *  - a refused table leaves Info byte for byte as it was;
 *  - an accepted one fills the counts and every array entry below them as
 *    the reference reads them, and leaves the entries past the counts alone;
 *  - parsing is deterministic (a second parse gives the same Info).
 * A mismatch aborts, which libFuzzer reports as a crash with the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/hl.h>

#define FUZZER_NAME "fuzz_madt"
#include "fuzz_table.h"

/* ACPI 6.x 5.2.12: the minimum length of each structure type this library
 * knows; 0 for a type it skips. */
static uint32_t MinimumLength(uint8_t Type)
{
    switch (Type) {
    case 0x0: return 8;   /* Processor Local APIC */
    case 0x1: return 12;  /* I/O APIC */
    case 0x2: return 10;  /* Interrupt Source Override */
    case 0x3: return 8;   /* NMI Source */
    case 0x4: return 6;   /* Local APIC NMI */
    case 0x5: return 12;  /* Local APIC Address Override */
    case 0x9: return 16;  /* Processor Local x2APIC */
    case 0xA: return 12;  /* Local x2APIC NMI */
    default: return 0;
    }
}

/* A processor entry (type 0 or 9, at least its size), decoded. */
static bool DecodeProcessor(const uint8_t *Entry, HL_MADT_PROCESSOR *Cpu, uint32_t *Flags)
{
    if (Entry[0] == 0x0 && Entry[1] >= 8) {
        *Flags = Le32(Entry + 4);
        *Cpu = (HL_MADT_PROCESSOR){.AcpiUid = Entry[2], .ApicId = Entry[3], .Enabled = *Flags & 1u,
                                   .OnlineCapable = (*Flags >> 1) & 1u, .X2Apic = false};
        return true;
    }
    if (Entry[0] == 0x9 && Entry[1] >= 16) {
        *Flags = Le32(Entry + 8);
        *Cpu = (HL_MADT_PROCESSOR){.ApicId = Le32(Entry + 4), .Enabled = *Flags & 1u,
                                   .OnlineCapable = (*Flags >> 1) & 1u, .AcpiUid = Le32(Entry + 12), .X2Apic = true};
        return true;
    }
    return false;
}

static bool NoProcessorId(const HL_MADT_PROCESSOR *Cpu)
{
    return Cpu->X2Apic ? Cpu->ApicId == 0xFFFFFFFFu : Cpu->ApicId == 0xFFu;
}

/* ACPI 5.2.12.12: ids below 255 belong in type 0 entries. */
static bool Skipped(const HL_MADT_PROCESSOR *Cpu, bool HasLapic)
{
    return NoProcessorId(Cpu) || (Cpu->X2Apic && Cpu->ApicId < 255 && HasLapic);
}

/* The reference: fills *Out (pre-filled with FUZZ_FILL_BYTE) and returns the
 * status the parser must give. The table's structure is checked first (every
 * entry in bounds and at least its type's size), then the entries in order. */
static IRQ_STATUS ReferenceParse(const uint8_t *Table, size_t Size, HL_MADT_INFO *Out)
{
    uint32_t Length;
    if (!FuzzHeaderIsSound(Table, Size, "APIC", 44, &Length))
        return IRQ_STATUS_MALFORMED_TABLE;

    /* Structure, and whether a usable LAPIC processor is present. */
    bool HasLapic = false;
    uint32_t Offset = 44;
    while (Offset < Length) {
        if (Length - Offset < 2)
            return IRQ_STATUS_MALFORMED_TABLE;
        const uint8_t *Entry = Table + Offset;
        if (Entry[1] < 2 || Entry[1] > Length - Offset || Entry[1] < MinimumLength(Entry[0]))
            return IRQ_STATUS_MALFORMED_TABLE;
        HL_MADT_PROCESSOR Cpu;
        uint32_t Flags;
        if (DecodeProcessor(Entry, &Cpu, &Flags) && !Cpu.X2Apic && !NoProcessorId(&Cpu) && (Flags & 3u) != 0)
            HasLapic = true;
        Offset += Entry[1];
    }
    /* The UIDs of every recorded processor, for the NMI entries (which may
     * come before their processor). */
    static uint32_t Uids[65536];
    uint32_t UidCount = 0;
    for (Offset = 44; Offset < Length; Offset += Table[Offset + 1]) {
        HL_MADT_PROCESSOR Cpu;
        uint32_t Flags;
        if (DecodeProcessor(Table + Offset, &Cpu, &Flags) && !Skipped(&Cpu, HasLapic) && UidCount < 65536)
            Uids[UidCount++] = Cpu.AcpiUid;
    }

    HL_MADT_INFO *Work = Out;
    uint32_t Processors = 0, IoApics = 0, Overrides = 0, Nmis = 0, Unknown = 0, Ignored = 0, Unmatched = 0;
    uint64_t LocalApicAddress = Le32(Table + 36);
    bool Full = false;
    for (Offset = 44; Offset < Length;) {
        const uint8_t *Entry = Table + Offset;
        uint32_t EntryLength = Entry[1];
        uint32_t Minimum = MinimumLength(Entry[0]);
        if (Minimum == 0) {
            Unknown++;
        } else {
            HL_MADT_PROCESSOR Cpu;
            uint32_t Flags;
            uint32_t Uid = 0, All = 0;
            bool Matched = false;
            switch (Entry[0]) {
            case 0x0:
            case 0x9:
                (void)DecodeProcessor(Entry, &Cpu, &Flags);
                if (Skipped(&Cpu, HasLapic)) {
                    Ignored++;
                    break;
                }
                for (uint32_t Index = 0; Index < Processors; Index++) {
                    if (Work->Processors[Index].ApicId == Cpu.ApicId)
                        return IRQ_STATUS_MALFORMED_TABLE;
                }
                if (Processors == HL_MADT_MAX_PROCESSORS) {
                    Full = true;
                    break;
                }
                Work->Processors[Processors++] = Cpu;
                break;
            case 0x1:
                if (IoApics == HL_MAX_IOAPICS) {
                    Full = true;
                    break;
                }
                Work->IoApics[IoApics++] =
                    (HL_MADT_IOAPIC){.Id = Entry[2], .Address = Le32(Entry + 4), .GsiBase = Le32(Entry + 8)};
                break;
            case 0x2:
                if (Overrides == HL_MADT_MAX_OVERRIDES) {
                    Full = true;
                    break;
                }
                Work->Overrides[Overrides++] = (HL_MADT_OVERRIDE){
                    .Bus = Entry[2], .SourceIrq = Entry[3], .Gsi = Le32(Entry + 4), .Flags = (uint16_t)Le16(Entry + 8)};
                break;
            case 0x4:
            case 0xA:
                Uid = Entry[0] == 0x4 ? Entry[2] : Le32(Entry + 4);
                All = Entry[0] == 0x4 ? 0xFFu : 0xFFFFFFFFu;
                Matched = Uid == All;
                for (uint32_t Index = 0; Index < UidCount && !Matched; Index++)
                    Matched = Uids[Index] == Uid;
                if (!Matched) {
                    Unmatched++;
                    break;
                }
                if (Nmis == HL_MADT_MAX_NMIS) {
                    Full = true;
                    break;
                }
                if (Entry[0] == 0x4)
                    Work->Nmis[Nmis++] =
                        (HL_MADT_NMI){.AcpiUid = Entry[2], .Flags = (uint16_t)Le16(Entry + 3), .Lint = Entry[5]};
                else
                    Work->Nmis[Nmis++] = (HL_MADT_NMI){
                        .Flags = (uint16_t)Le16(Entry + 2), .AcpiUid = Le32(Entry + 4), .Lint = Entry[8]};
                break;
            case 0x5:
                LocalApicAddress = Le64(Entry + 4);
                break;
            default: /* 0x3: known, not recorded */
                break;
            }
            if (Full)
                return IRQ_STATUS_INSUFFICIENT_RESOURCES;
        }
        Offset += EntryLength;
    }
    if (IoApics == 0)
        return IRQ_STATUS_MALFORMED_TABLE;
    Work->LocalApicAddress = LocalApicAddress;
    Work->Flags = Le32(Table + 40);
    Work->ProcessorCount = Processors;
    Work->IoApicCount = IoApics;
    Work->OverrideCount = Overrides;
    Work->NmiCount = Nmis;
    Work->UnknownEntryCount = Unknown;
    Work->IgnoredProcessorCount = Ignored;
    Work->UnmatchedNmiCount = Unmatched;
    return IRQ_STATUS_SUCCESS;
}

/* Field by field (the structures have padding that the parser need not write). */
static void CompareInfo(const HL_MADT_INFO *A, const HL_MADT_INFO *B)
{
    CHECK(A->LocalApicAddress == B->LocalApicAddress);
    CHECK(A->Flags == B->Flags);
    CHECK(A->ProcessorCount == B->ProcessorCount);
    CHECK(A->IoApicCount == B->IoApicCount);
    CHECK(A->OverrideCount == B->OverrideCount);
    CHECK(A->NmiCount == B->NmiCount);
    CHECK(A->UnknownEntryCount == B->UnknownEntryCount);
    CHECK(A->IgnoredProcessorCount == B->IgnoredProcessorCount);
    CHECK(A->UnmatchedNmiCount == B->UnmatchedNmiCount);
    for (uint32_t Index = 0; Index < A->ProcessorCount; Index++) {
        const HL_MADT_PROCESSOR *P = &A->Processors[Index], *Q = &B->Processors[Index];
        CHECK(P->ApicId == Q->ApicId && P->AcpiUid == Q->AcpiUid && P->Enabled == Q->Enabled &&
              P->OnlineCapable == Q->OnlineCapable && P->X2Apic == Q->X2Apic);
    }
    for (uint32_t Index = 0; Index < A->IoApicCount; Index++) {
        const HL_MADT_IOAPIC *P = &A->IoApics[Index], *Q = &B->IoApics[Index];
        CHECK(P->Id == Q->Id && P->Address == Q->Address && P->GsiBase == Q->GsiBase);
    }
    for (uint32_t Index = 0; Index < A->OverrideCount; Index++) {
        const HL_MADT_OVERRIDE *P = &A->Overrides[Index], *Q = &B->Overrides[Index];
        CHECK(P->Bus == Q->Bus && P->SourceIrq == Q->SourceIrq && P->Gsi == Q->Gsi && P->Flags == Q->Flags);
    }
    for (uint32_t Index = 0; Index < A->NmiCount; Index++) {
        const HL_MADT_NMI *P = &A->Nmis[Index], *Q = &B->Nmis[Index];
        CHECK(P->AcpiUid == Q->AcpiUid && P->Flags == Q->Flags && P->Lint == Q->Lint);
    }
}

/* The reference's Info, and the arrays past the counts left as they were. */
static void CheckInfo(const HL_MADT_INFO *Info, const HL_MADT_INFO *Referenced, const uint8_t *Table, size_t Size)
{
    (void)Table;
    (void)Size;
    CompareInfo(Info, Referenced);
    CHECK(FuzzTailIsFill(Info->Processors, sizeof(Info->Processors[0]), Info->ProcessorCount, HL_MADT_MAX_PROCESSORS));
    CHECK(FuzzTailIsFill(Info->IoApics, sizeof(Info->IoApics[0]), Info->IoApicCount, HL_MAX_IOAPICS));
    CHECK(FuzzTailIsFill(Info->Overrides, sizeof(Info->Overrides[0]), Info->OverrideCount, HL_MADT_MAX_OVERRIDES));
    CHECK(FuzzTailIsFill(Info->Nmis, sizeof(Info->Nmis[0]), Info->NmiCount, HL_MADT_MAX_NMIS));
}

FUZZ_TABLE_FUZZER(HL_MADT_INFO, HlMadtParse, ReferenceParse, CheckInfo)
