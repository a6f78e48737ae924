/* SPDX-License-Identifier: MIT */
/* ACPI table builder for parser tests: see acpi_builder.h. */
#include "acpi_builder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void AcpiRoom(const ACPI_BUILDER *Builder, uint32_t Count)
{
    assert_true(Builder->Length + Count <= ACPI_BUILDER_CAPACITY);
}

void AcpiPut8(ACPI_BUILDER *Builder, uint8_t Value)
{
    AcpiRoom(Builder, 1);
    Builder->Bytes[Builder->Length++] = Value;
}

void AcpiPut16(ACPI_BUILDER *Builder, uint16_t Value)
{
    AcpiPut8(Builder, (uint8_t)Value);
    AcpiPut8(Builder, (uint8_t)(Value >> 8));
}

void AcpiPut32(ACPI_BUILDER *Builder, uint32_t Value)
{
    AcpiPut16(Builder, (uint16_t)Value);
    AcpiPut16(Builder, (uint16_t)(Value >> 16));
}

void AcpiPut64(ACPI_BUILDER *Builder, uint64_t Value)
{
    AcpiPut32(Builder, (uint32_t)Value);
    AcpiPut32(Builder, (uint32_t)(Value >> 32));
}

void AcpiPutZeros(ACPI_BUILDER *Builder, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++)
        AcpiPut8(Builder, 0);
}

void AcpiPutBytes(ACPI_BUILDER *Builder, const void *Bytes, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++)
        AcpiPut8(Builder, ((const uint8_t *)Bytes)[Index]);
}

void AcpiPatch8(ACPI_BUILDER *Builder, uint32_t Offset, uint8_t Value)
{
    assert_true(Offset < Builder->Length);
    Builder->Bytes[Offset] = Value;
}

void AcpiPatch16(ACPI_BUILDER *Builder, uint32_t Offset, uint16_t Value)
{
    AcpiPatch8(Builder, Offset, (uint8_t)Value);
    AcpiPatch8(Builder, Offset + 1, (uint8_t)(Value >> 8));
}

void AcpiPatch32(ACPI_BUILDER *Builder, uint32_t Offset, uint32_t Value)
{
    AcpiPatch16(Builder, Offset, (uint16_t)Value);
    AcpiPatch16(Builder, Offset + 2, (uint16_t)(Value >> 16));
}

void AcpiBegin(ACPI_BUILDER *Builder, const char *Signature, uint8_t Revision)
{
    Builder->Length = 0;
    AcpiPutBytes(Builder, Signature, 4);
    AcpiPut32(Builder, 0); /* Length, set by AcpiFinish */
    AcpiPut8(Builder, Revision);
    AcpiPut8(Builder, 0); /* checksum */
    AcpiPutBytes(Builder, "IRQRTE", 6);
    AcpiPutBytes(Builder, "TESTTABL", 8);
    AcpiPut32(Builder, 1);
    AcpiPutBytes(Builder, "IRQR", 4);
    AcpiPut32(Builder, 1);
}

void AcpiFixChecksum(ACPI_BUILDER *Builder)
{
    uint32_t Length = (uint32_t)Builder->Bytes[4] | (uint32_t)Builder->Bytes[5] << 8 |
                      (uint32_t)Builder->Bytes[6] << 16 | (uint32_t)Builder->Bytes[7] << 24;
    if (Length > Builder->Length)
        Length = Builder->Length;
    uint8_t Sum = 0;
    Builder->Bytes[9] = 0;
    for (uint32_t Index = 0; Index < Length; Index++)
        Sum = (uint8_t)(Sum + Builder->Bytes[Index]);
    Builder->Bytes[9] = (uint8_t)(0u - Sum);
}

void AcpiFinish(ACPI_BUILDER *Builder)
{
    AcpiPatch32(Builder, 4, Builder->Length);
    AcpiFixChecksum(Builder);
}

uint8_t *AcpiCopy(const void *Bytes, size_t Length)
{
    uint8_t *Copy = malloc(Length == 0 ? 1 : Length);
    assert_non_null(Copy);
    if (Length != 0)
        memcpy(Copy, Bytes, Length);
    return Copy;
}

/* ---- DMAR ---------------------------------------------------------------------------- */

void AcpiDmarBegin(ACPI_BUILDER *Builder, uint8_t HostAddressWidthField, uint8_t Flags)
{
    AcpiBegin(Builder, "DMAR", 1);
    AcpiPut8(Builder, HostAddressWidthField);
    AcpiPut8(Builder, Flags);
    AcpiPutZeros(Builder, 10);
}

uint32_t AcpiDmarBeginDrhd(ACPI_BUILDER *Builder, uint8_t Flags, uint16_t Segment, uint64_t RegisterBase)
{
    uint32_t Offset = Builder->Length;
    AcpiPut16(Builder, 0); /* DRHD */
    AcpiPut16(Builder, 0); /* Length */
    AcpiPut8(Builder, Flags);
    AcpiPut8(Builder, 0); /* Size (rev. 3.x) */
    AcpiPut16(Builder, Segment);
    AcpiPut64(Builder, RegisterBase);
    return Offset;
}

uint32_t AcpiDmarBeginStructure(ACPI_BUILDER *Builder, uint16_t Type, uint32_t BodyLength)
{
    uint32_t Offset = Builder->Length;
    AcpiPut16(Builder, Type);
    AcpiPut16(Builder, 0);
    AcpiPutZeros(Builder, BodyLength);
    return Offset;
}

void AcpiDmarEndStructure(ACPI_BUILDER *Builder, uint32_t Offset)
{
    AcpiPatch16(Builder, Offset + 2, (uint16_t)(Builder->Length - Offset));
}

void AcpiDmarScope(ACPI_BUILDER *Builder, uint8_t Type, uint8_t EnumerationId, uint8_t StartBus, uint8_t Device,
                   uint8_t Function)
{
    AcpiPut8(Builder, Type);
    AcpiPut8(Builder, 8);
    AcpiPut8(Builder, 0); /* flags */
    AcpiPut8(Builder, 0); /* reserved */
    AcpiPut8(Builder, EnumerationId);
    AcpiPut8(Builder, StartBus);
    AcpiPut8(Builder, Device);
    AcpiPut8(Builder, Function);
}
