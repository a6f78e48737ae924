/* SPDX-License-Identifier: MIT */
/*
 * What the ACPI table parsers of Hl (madt.c, dmar.c) share: the common table
 * header (ACPI 6.x 5.2.6), unaligned little-endian reads, and the one
 * bounds-checked walker of a table's variable-length records.
 *
 * A table is firmware input and is treated as hostile. HlpAcpiCheckHeader
 * admits a table only when its header Length lies inside the caller's buffer;
 * from then on every span is a sub-range of the table, and every record a
 * walker returns lies inside its parent span, so a parser reads a field only
 * after checking that the record is long enough for it.
 */
#ifndef IRQROUTE_ACPIP_H
#define IRQROUTE_ACPIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/status.h>

/* The common header (5.2.6): Signature at 0, Length at 4, Checksum at 9, up
 * to byte 36; each table's own fields follow. */
#define ACPI_SIGNATURE_LENGTH 4u
#define ACPI_COMMON_HEADER_LENGTH 36u

/* Bytes that lie inside the table: the table itself (Offset 0), a record, or
 * a record inside a record. Offset is always from the table's start. */
typedef struct _HLP_ACPI_SPAN {
    const uint8_t *Bytes;
    uint32_t Offset;
    uint32_t Length;
} HLP_ACPI_SPAN;

/* A kind of record: Type, then Length, each FieldSize bytes (1: the MADT's
 * structures, 5.2.12, and VT-d device scopes; 2: VT-d remapping structures,
 * VT-d 8.2). A record is at least MinimumLength bytes (at least its Type and
 * Length, so that a walk always advances), and LengthGranule divides what it
 * has beyond MinimumLength (1: any length). */
typedef struct _HLP_ACPI_RECORD_FORMAT {
    uint8_t FieldSize;
    uint8_t MinimumLength;
    uint8_t LengthGranule;
} HLP_ACPI_RECORD_FORMAT;

/* A check of one record the structure pass of a parser makes. */
typedef bool (*HLP_ACPI_RECORD_CHECK)(const HLP_ACPI_SPAN *Record);

uint16_t HlpAcpiRead16(const uint8_t *Bytes);
uint32_t HlpAcpiRead32(const uint8_t *Bytes);
uint64_t HlpAcpiRead64(const uint8_t *Bytes);

/* The table at Bytes, BufferLength bytes long: MALFORMED_TABLE unless its
 * signature is Signature, its header Length is at least FixedLength (the
 * table's fixed part) and at most BufferLength, and all Length bytes sum to
 * zero (5.2.6). On success *Table spans the header Length, no more. */
IRQ_STATUS HlpAcpiCheckHeader(const uint8_t *Bytes, size_t BufferLength,
                              const uint8_t Signature[ACPI_SIGNATURE_LENGTH], uint32_t FixedLength,
                              HLP_ACPI_SPAN *Table);

/* The record of Parent at *Offset (from Parent's start), which then moves
 * past it. False at the end of Parent (*Offset == Parent->Length) and for a
 * record that Format refuses or that does not end inside Parent (*Offset
 * left as it was): the one place a record's bounds are checked. */
bool HlpAcpiNextRecord(const HLP_ACPI_SPAN *Parent, const HLP_ACPI_RECORD_FORMAT *Format, uint32_t *Offset,
                       HLP_ACPI_SPAN *Record);

/* Whether the records of Parent from First on fill it exactly, each one
 * passing Check (NULL: no check beyond its bounds). */
bool HlpAcpiRecordsFill(const HLP_ACPI_SPAN *Parent, uint32_t First, const HLP_ACPI_RECORD_FORMAT *Format,
                        HLP_ACPI_RECORD_CHECK Check);

#endif /* IRQROUTE_ACPIP_H */
