/* SPDX-License-Identifier: MIT */
/*
 * What the ACPI table fuzzers (fuzz_madt.c, fuzz_dmar.c) share: a check that
 * turns a failed expectation into a libFuzzer crash naming the line, and
 * little-endian field readers for their reference walks (ACPI tables are
 * little-endian, ACPI 6.x 5.2).
 *
 * Define FUZZER_NAME (a string) before including it.
 */
#ifndef IRQROUTE_FUZZ_TABLE_H
#define IRQROUTE_FUZZ_TABLE_H

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

#endif
