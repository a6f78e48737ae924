/* SPDX-License-Identifier: MIT */
/*
 * Builds ACPI tables byte by byte for parser tests (ACPI 6.x 5.2.6, the
 * common 36-byte header): a header, little-endian fields, lengths patched in
 * afterwards, and the checksum last. A table that would not fit fails the
 * test (cmocka) rather than being cut short.
 */
#ifndef IRQROUTE_TEST_ACPI_BUILDER_H
#define IRQROUTE_TEST_ACPI_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_BUILDER_CAPACITY 8192u
#define ACPI_HEADER_LENGTH 36u

/* Header bytes 10..35 as QEMU (7.2 and 10.0.2, the captures in the tests)
 * writes them in its MADT and DMAR (ACPI 6.x 5.2.6): OEM id "BOCHS ", OEM
 * table id "BXPC    ", OEM revision 1, creator id "BXPC", revision 1. */
#define ACPI_QEMU_HEADER_IDS                                              \
    'B', 'O', 'C', 'H', 'S', ' ',               /* OEM id */              \
    'B', 'X', 'P', 'C', ' ', ' ', ' ', ' ',     /* OEM table id */        \
    0x01, 0x00, 0x00, 0x00,                     /* OEM revision */        \
    'B', 'X', 'P', 'C', 0x01, 0x00, 0x00, 0x00 /* creator id, revision */

typedef struct _ACPI_BUILDER {
    uint8_t Bytes[ACPI_BUILDER_CAPACITY];
    uint32_t Length;
} ACPI_BUILDER;

/* The common header: Signature, Length 0 (AcpiFinish sets it), Revision,
 * checksum 0, OEM id "IRQRTE", table id "TESTTABL", revisions 1, creator
 * "IRQR". */
void AcpiBegin(ACPI_BUILDER *Builder, const char *Signature, uint8_t Revision);
void AcpiPut8(ACPI_BUILDER *Builder, uint8_t Value);
void AcpiPut16(ACPI_BUILDER *Builder, uint16_t Value);
void AcpiPut32(ACPI_BUILDER *Builder, uint32_t Value);
void AcpiPut64(ACPI_BUILDER *Builder, uint64_t Value);
void AcpiPutZeros(ACPI_BUILDER *Builder, uint32_t Count);
void AcpiPutBytes(ACPI_BUILDER *Builder, const void *Bytes, uint32_t Count);
/* Little-endian stores at an offset already written. */
void AcpiPatch8(ACPI_BUILDER *Builder, uint32_t Offset, uint8_t Value);
void AcpiPatch16(ACPI_BUILDER *Builder, uint32_t Offset, uint16_t Value);
void AcpiPatch32(ACPI_BUILDER *Builder, uint32_t Offset, uint32_t Value);
/* Sets the header's Length to everything written and makes the checksum
 * right. */
void AcpiFinish(ACPI_BUILDER *Builder);
/* Recomputes only the checksum (after a deliberate corruption). */
void AcpiFixChecksum(ACPI_BUILDER *Builder);
/* A heap copy of exactly Length bytes (free it): an address-sanitizer build
 * catches a parser reading one byte past it. */
uint8_t *AcpiCopy(const void *Bytes, size_t Length);

/* ---- DMAR (Intel VT-d rev. 3.x ch. 8) ------------------------------------------ */
/* Header fields after the common header (8.1). */
void AcpiDmarBegin(ACPI_BUILDER *Builder, uint8_t HostAddressWidthField, uint8_t Flags);
/* A DRHD (8.3) whose Length AcpiDmarEndStructure patches; returns its offset. */
uint32_t AcpiDmarBeginDrhd(ACPI_BUILDER *Builder, uint8_t Flags, uint16_t Segment, uint64_t RegisterBase);
/* Any other remapping structure: Type, Length patched later, Body bytes of zeros. */
uint32_t AcpiDmarBeginStructure(ACPI_BUILDER *Builder, uint16_t Type, uint32_t BodyLength);
void AcpiDmarEndStructure(ACPI_BUILDER *Builder, uint32_t Offset);
/* A device scope (8.3.1) with a one-entry path. */
void AcpiDmarScope(ACPI_BUILDER *Builder, uint8_t Type, uint8_t EnumerationId, uint8_t StartBus, uint8_t Device,
                   uint8_t Function);

#endif
