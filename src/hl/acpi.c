/* SPDX-License-Identifier: MIT */
/*
 * The parts of the ACPI table parsers (madt.c, dmar.c) that do not depend on
 * the table: the common header check (ACPI 6.x 5.2.6), unaligned
 * little-endian reads, and the bounds-checked record walker (acpip.h says
 * what each promises).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpip.h"

#define ACPI_OFFSET_LENGTH 4u

/* ---- Unaligned little-endian reads (the caller has checked the bounds) ---------- */

uint16_t HlpAcpiRead16(const uint8_t *Bytes)
{
    return (uint16_t)(Bytes[0] | Bytes[1] << 8);
}

uint32_t HlpAcpiRead32(const uint8_t *Bytes)
{
    return (uint32_t)Bytes[0] | (uint32_t)Bytes[1] << 8 | (uint32_t)Bytes[2] << 16 | (uint32_t)Bytes[3] << 24;
}

uint64_t HlpAcpiRead64(const uint8_t *Bytes)
{
    return (uint64_t)HlpAcpiRead32(Bytes) | (uint64_t)HlpAcpiRead32(Bytes + 4) << 32;
}

/* ---- The common header ---------------------------------------------------------------- */

static bool HlpSignatureMatches(const uint8_t *Bytes, const uint8_t Signature[ACPI_SIGNATURE_LENGTH])
{
    for (uint32_t Index = 0; Index < ACPI_SIGNATURE_LENGTH; Index++) {
        if (Bytes[Index] != Signature[Index])
            return false;
    }
    return true;
}

/* 5.2.6: "the entire table, including the checksum field, must add to zero". */
static bool HlpChecksumIsZero(const uint8_t *Bytes, uint32_t Length)
{
    uint8_t Sum = 0;
    for (uint32_t Index = 0; Index < Length; Index++)
        Sum = (uint8_t)(Sum + Bytes[Index]);
    return Sum == 0;
}

/* The table's own Length must cover the fixed part and lie inside the
 * caller's buffer; bytes of the buffer past it are not the table's. */
IRQ_STATUS HlpAcpiCheckHeader(const uint8_t *Bytes, size_t BufferLength,
                              const uint8_t Signature[ACPI_SIGNATURE_LENGTH], uint32_t FixedLength,
                              HLP_ACPI_SPAN *Table)
{
    if (BufferLength < FixedLength || !HlpSignatureMatches(Bytes, Signature))
        return IRQ_STATUS_MALFORMED_TABLE;
    uint32_t Length = HlpAcpiRead32(Bytes + ACPI_OFFSET_LENGTH);
    if (Length < FixedLength || Length > BufferLength)
        return IRQ_STATUS_MALFORMED_TABLE;
    if (!HlpChecksumIsZero(Bytes, Length))
        return IRQ_STATUS_MALFORMED_TABLE;
    *Table = (HLP_ACPI_SPAN){.Bytes = Bytes, .Offset = 0, .Length = Length};
    return IRQ_STATUS_SUCCESS;
}

/* ---- Records -------------------------------------------------------------------------- */

/* Length follows Type and has its size. */
static uint32_t HlpRecordLength(const uint8_t *Record, const HLP_ACPI_RECORD_FORMAT *Format)
{
    const uint8_t *Field = Record + Format->FieldSize;
    return Format->FieldSize == 2 ? HlpAcpiRead16(Field) : Field[0];
}

/* The Type and Length fields must lie inside Parent before Length is read; a
 * Length below the minimum (zero among them) would not advance the walk. */
bool HlpAcpiNextRecord(const HLP_ACPI_SPAN *Parent, const HLP_ACPI_RECORD_FORMAT *Format, uint32_t *Offset,
                       HLP_ACPI_SPAN *Record)
{
    if (*Offset >= Parent->Length)
        return false;
    uint32_t Remaining = Parent->Length - *Offset;
    if (Remaining < 2u * Format->FieldSize)
        return false;
    uint32_t Length = HlpRecordLength(Parent->Bytes + *Offset, Format);
    if (Length < Format->MinimumLength || Length > Remaining ||
        (Length - Format->MinimumLength) % Format->LengthGranule != 0)
        return false;
    *Record = (HLP_ACPI_SPAN){.Bytes = Parent->Bytes + *Offset, .Offset = Parent->Offset + *Offset, .Length = Length};
    *Offset += Length;
    return true;
}

bool HlpAcpiRecordsFill(const HLP_ACPI_SPAN *Parent, uint32_t First, const HLP_ACPI_RECORD_FORMAT *Format,
                        HLP_ACPI_RECORD_CHECK Check)
{
    uint32_t Offset = First;
    HLP_ACPI_SPAN Record;
    while (HlpAcpiNextRecord(Parent, Format, &Offset, &Record)) {
        if (Check != NULL && !Check(&Record))
            return false;
    }
    return Offset == Parent->Length;
}
