/* SPDX-License-Identifier: MIT */
/*
 * What the ACPI table fuzzers (fuzz_madt.c, fuzz_dmar.c) share: a check that
 * turns a failed expectation into a libFuzzer crash naming the line,
 * little-endian field readers for their reference walks (ACPI tables are
 * little-endian, ACPI 6.x 5.2), and FuzzTableOneInput, the one oracle both
 * run a parser under: the reference's status and Info, the same Info again,
 * the table refused in a buffer shorter than its Length, and Info untouched
 * whenever a table is refused.
 *
 * Define FUZZER_NAME (a string) before including it.
 */
#ifndef IRQROUTE_FUZZ_TABLE_H
#define IRQROUTE_FUZZ_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/status.h>

#define CHECK(Condition)                                                                          \
    do {                                                                                          \
        if (!(Condition)) {                                                                       \
            fprintf(stderr, FUZZER_NAME ": check failed at line %d: %s\n", __LINE__, #Condition); \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* The parser and the reference walk must agree on the status. */
#define CHECK_SAME_STATUS(Parser, Reference)                                                      \
    do {                                                                                          \
        if ((Parser) != (Reference)) {                                                            \
            fprintf(stderr, FUZZER_NAME ": parser says %s, the reference %s\n", IrStatusName(Parser), \
                    IrStatusName(Reference));                                                     \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* The input in a heap block of exactly its size, so that a read one byte
 * past the end is outside the allocation (AddressSanitizer reports it);
 * NULL when out of memory. */
static inline uint8_t *FuzzExactCopy(const uint8_t *Data, size_t Size)
{
    uint8_t *Table = malloc(Size == 0 ? 1 : Size);
    if (Table != NULL && Size != 0)
        memcpy(Table, Data, Size);
    return Table;
}

/* Every Info buffer starts as this byte, so what a parser did not write shows. */
#define FUZZ_FILL_BYTE 0xA5

/* Whether the elements of an array from Used to Capacity still hold the fill. */
static inline bool FuzzTailIsFill(const void *Array, size_t ElementSize, uint32_t Used, uint32_t Capacity)
{
    const uint8_t *Bytes = (const uint8_t *)Array + (size_t)Used * ElementSize;
    for (size_t Index = 0; Index < (size_t)(Capacity - Used) * ElementSize; Index++) {
        if (Bytes[Index] != FUZZ_FILL_BYTE)
            return false;
    }
    return true;
}

static inline uint32_t Le16(const uint8_t *Bytes)
{
    return (uint32_t)Bytes[0] | (uint32_t)Bytes[1] << 8;
}

static inline uint32_t Le32(const uint8_t *Bytes)
{
    return Le16(Bytes) | Le16(Bytes + 2) << 16;
}

static inline uint64_t Le64(const uint8_t *Bytes)
{
    return (uint64_t)Le32(Bytes) | (uint64_t)Le32(Bytes + 4) << 32;
}

/* The reference's check of the common header (ACPI 6.x 5.2.6), written
 * apart from the parser's: Signature, a Length from FixedLength to Size,
 * all Length bytes summing to zero. *Length is set when it is sound. */
static inline bool FuzzHeaderIsSound(const uint8_t *Table, size_t Size, const char Signature[4], uint32_t FixedLength,
                                     uint32_t *Length)
{
    if (Size < FixedLength || memcmp(Table, Signature, 4) != 0)
        return false;
    *Length = Le32(Table + 4);
    if (*Length < FixedLength || *Length > Size)
        return false;
    uint8_t Sum = 0;
    for (uint32_t Index = 0; Index < *Length; Index++)
        Sum = (uint8_t)(Sum + Table[Index]);
    return Sum == 0;
}

/* A parser under test: Parse and Reference fill an Info of InfoSize bytes
 * (HlMadtParse's or HlDmarParse's, through a wrapper); CheckParsed compares
 * a parsed Info with the reference's and checks what else the fuzzer knows
 * (Table is the input, Size bytes). Info, Expected, Again and Pattern are
 * the fuzzer's four buffers of InfoSize bytes. */
typedef struct _FUZZ_TABLE_PARSER {
    IRQ_STATUS (*Parse)(const void *Table, size_t Length, void *Info);
    IRQ_STATUS (*Reference)(const uint8_t *Table, size_t Size, void *Expected);
    void (*CheckParsed)(const void *Info, const void *Expected, const uint8_t *Table, size_t Size);
    size_t InfoSize;
    void *Info, *Expected, *Again, *Pattern;
} FUZZ_TABLE_PARSER;

static inline void FuzzTableOneInput(const FUZZ_TABLE_PARSER *Parser, const uint8_t *Data, size_t Size)
{
    uint8_t *Table = FuzzExactCopy(Data, Size);
    if (Table == NULL)
        return;
    memset(Parser->Info, FUZZ_FILL_BYTE, Parser->InfoSize);
    memset(Parser->Expected, FUZZ_FILL_BYTE, Parser->InfoSize);
    memset(Parser->Pattern, FUZZ_FILL_BYTE, Parser->InfoSize);
    IRQ_STATUS Status = Parser->Parse(Table, Size, Parser->Info);
    IRQ_STATUS Reference = Parser->Reference(Table, Size, Parser->Expected);
    CHECK_SAME_STATUS(Status, Reference);
    if (Status == IRQ_STATUS_SUCCESS) {
        Parser->CheckParsed(Parser->Info, Parser->Expected, Table, Size);
        /* Parsing is a function of the bytes: the same Info again. */
        memset(Parser->Again, FUZZ_FILL_BYTE, Parser->InfoSize);
        CHECK(Parser->Parse(Table, Size, Parser->Again) == IRQ_STATUS_SUCCESS);
        CHECK(memcmp(Parser->Again, Parser->Info, Parser->InfoSize) == 0);
        /* The same table in a buffer one byte shorter than its Length is
         * refused, and leaves Info as it was. */
        memset(Parser->Again, FUZZ_FILL_BYTE, Parser->InfoSize);
        CHECK(Parser->Parse(Table, Le32(Table + 4) - 1u, Parser->Again) == IRQ_STATUS_MALFORMED_TABLE);
        CHECK(memcmp(Parser->Again, Parser->Pattern, Parser->InfoSize) == 0);
    } else {
        /* A refused table leaves Info as it was. */
        CHECK(memcmp(Parser->Info, Parser->Pattern, Parser->InfoSize) == 0);
    }
    CHECK(Parser->Parse(NULL, Size, Parser->Info) == IRQ_STATUS_INVALID_PARAMETER);
    CHECK(Parser->Parse(Table, Size, NULL) == IRQ_STATUS_INVALID_PARAMETER);
    free(Table);
}

/* A table fuzzer's entry point, FuzzTableOneInput over four static InfoType
 * buffers: ParseFunction (HlMadtParse, HlDmarParse), ReferenceFunction (the
 * fuzzer's own walk, same signature) and CheckFunction (InfoType parsed,
 * InfoType expected, the table, its size). */
#define FUZZ_TABLE_FUZZER(InfoType, ParseFunction, ReferenceFunction, CheckFunction)                          \
    static InfoType FuzzInfo, FuzzExpected, FuzzAgain, FuzzPattern;                                           \
    static IRQ_STATUS FuzzParse(const void *Table, size_t Length, void *Out)                                  \
    {                                                                                                         \
        return ParseFunction(Table, Length, Out);                                                             \
    }                                                                                                         \
    static IRQ_STATUS FuzzReference(const uint8_t *Table, size_t Size, void *Out)                             \
    {                                                                                                         \
        return ReferenceFunction(Table, Size, Out);                                                           \
    }                                                                                                         \
    static void FuzzCheckParsed(const void *Parsed, const void *Expected, const uint8_t *Table, size_t Size)   \
    {                                                                                                         \
        CheckFunction(Parsed, Expected, Table, Size);                                                         \
    }                                                                                                         \
    int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size);                                             \
    int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)                                              \
    {                                                                                                         \
        static const FUZZ_TABLE_PARSER Parser = {.Parse = FuzzParse,                                          \
                                                 .Reference = FuzzReference,                                  \
                                                 .CheckParsed = FuzzCheckParsed,                              \
                                                 .InfoSize = sizeof(InfoType),                                \
                                                 .Info = &FuzzInfo,                                           \
                                                 .Expected = &FuzzExpected,                                   \
                                                 .Again = &FuzzAgain,                                         \
                                                 .Pattern = &FuzzPattern};                                    \
        FuzzTableOneInput(&Parser, Data, Size);                                                               \
        return 0;                                                                                             \
    }

#endif
