/* SPDX-License-Identifier: MIT */
/*
 * What every API fuzzer here shares: reading its input, failing (an abort:
 * a libFuzzer crash, with the operation under way and the reason), and the
 * CPU masks that bytes stand for.
 *
 * Define FUZZER_NAME (a string) before including it, once per fuzzer. Each
 * fuzzer sets CurrentOp to name what it is doing.
 */
#ifndef IRQROUTE_FUZZ_INPUT_H
#define IRQROUTE_FUZZ_INPUT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqroute/cpuset.h>
#include <irqroute/status.h>

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size);
int LLVMFuzzerInitialize(int *Argc, char ***Argv);

/* Nothing to set up once: each input builds what it fuzzes. */
int LLVMFuzzerInitialize(int *Argc, char ***Argv)
{
    (void)Argc;
    (void)Argv;
    return 0;
}

static const char *CurrentOp = "boot";

static inline _Noreturn void Fail(const char *Format, ...) __attribute__((format(printf, 1, 2)));
static inline _Noreturn void Fail(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    fprintf(stderr, FUZZER_NAME ": during %s: ", CurrentOp);
    vfprintf(stderr, Format, Arguments);
    fputc('\n', stderr);
    va_end(Arguments);
    abort();
}

#define CHECK(Condition)                                       \
    do {                                                       \
        if (!(Condition))                                      \
            Fail("line %d: %s", __LINE__, #Condition);          \
    } while (0)

#define CHECK_STATUS(Status, Expected)                                                        \
    do {                                                                                     \
        IRQ_STATUS Got_ = (Status), Want_ = (Expected);                                       \
        if (Got_ != Want_)                                                                   \
            Fail("line %d: %s returned %s, expected %s", __LINE__, #Status, IrStatusName(Got_), \
                 IrStatusName(Want_));                                                       \
    } while (0)

#define COUNT_OF(Array) (sizeof(Array) / sizeof((Array)[0]))

/* A failed call returned one of the statuses its header documents for it. */
static inline void RequireDocumented(IRQ_STATUS Status, const IRQ_STATUS *Allowed, size_t AllowedCount)
{
    for (size_t Index = 0; Index < AllowedCount; Index++)
        if (Allowed[Index] == Status)
            return;
    Fail("status %s is not one this call documents", IrStatusName(Status));
}

/* ---- Input --------------------------------------------------------------------------- */

typedef struct _READER {
    const uint8_t *Data;
    size_t Size;
    size_t Position;
} READER;

static inline bool More(const READER *Reader)
{
    return Reader->Position < Reader->Size;
}

/* Past the end every byte reads as 0. */
static inline uint8_t U8(READER *Reader)
{
    return Reader->Position < Reader->Size ? Reader->Data[Reader->Position++] : 0;
}

static inline uint32_t U32(READER *Reader)
{
    uint32_t Value = 0;
    for (int Index = 0; Index < 4; Index++)
        Value |= (uint32_t)U8(Reader) << (8 * Index);
    return Value;
}

static inline bool Bit(READER *Reader)
{
    return U8(Reader) & 1u;
}

/* ---- CPU masks (the fuzzers run at most 8 CPUs) ------------------------------------------- */

static inline IR_CPU_SET SetOfMask(uint64_t Mask)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    Set.Bits[0] = Mask;
    return Set;
}

/* A CPU mask from one byte: any subset of 8, offline and absent CPUs included. */
static inline uint64_t MaskFromByte(uint8_t Byte)
{
    return Byte;
}

#endif
