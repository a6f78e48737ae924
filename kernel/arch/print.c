/* SPDX-License-Identifier: MIT */
/*
 * A small printf over the serial console, and the two ways out of the
 * kernel (RkExit, RkPanic).
 *
 * Several CPUs print, so each call takes the console lock with interrupts
 * disabled. The lock records its owner: a CPU that faults while printing
 * (the exception dump) prints through its own lock instead of deadlocking.
 */
#include <stdatomic.h>

#include <irqroute/platform.h>

#include "kernel.h"

#define RK_CONSOLE_FREE 0xFFFFFFFFu
#define QEMU_DEBUG_EXIT_PORT 0xF4

static _Atomic uint32_t RkConsoleOwner = RK_CONSOLE_FREE;
static uint32_t RkConsoleDepth;

/* Returns whether interrupts were enabled. */
bool RkAcquireConsole(void)
{
    bool WasEnabled = PlatDisableInterrupts();
    uint32_t Self = PlatCurrentCpu();
    if (atomic_load_explicit(&RkConsoleOwner, memory_order_relaxed) != Self) {
        uint32_t Expected = RK_CONSOLE_FREE;
        while (!atomic_compare_exchange_weak_explicit(&RkConsoleOwner, &Expected, Self, memory_order_acquire,
                                                      memory_order_relaxed)) {
            Expected = RK_CONSOLE_FREE;
            PlatCpuRelax();
        }
    }
    RkConsoleDepth++;
    return WasEnabled;
}

void RkReleaseConsole(bool WasEnabled)
{
    if (--RkConsoleDepth == 0)
        atomic_store_explicit(&RkConsoleOwner, RK_CONSOLE_FREE, memory_order_release);
    PlatRestoreInterrupts(WasEnabled);
}

/* ---- Formatting ------------------------------------------------------------------ */

typedef struct _RK_FORMAT_SPEC {
    bool ZeroPad;
    bool LeftAlign;
    uint32_t Width;
    uint32_t LongCount; /* 'l' / 'z' modifiers */
} RK_FORMAT_SPEC;

/* Where formatted text goes: the serial console (Buffer NULL) or a buffer
 * (always NUL-terminated, excess dropped). */
typedef struct _RK_OUTPUT {
    char *Buffer;
    size_t Size;
    size_t Length;
} RK_OUTPUT;

static void RkPutChar(RK_OUTPUT *Output, char Character)
{
    if (Output->Buffer != NULL) {
        if (Output->Length + 1 < Output->Size)
            Output->Buffer[Output->Length++] = Character;
        return;
    }
    if (Character == '\n')
        RkSerialPutChar('\r');
    RkSerialPutChar(Character);
}

static void RkPutPadded(RK_OUTPUT *Output, const char *Text, uint32_t Length, const RK_FORMAT_SPEC *Spec, bool Negative)
{
    uint32_t Total = Length + (Negative ? 1u : 0u);
    uint32_t Pad = Spec->Width > Total ? Spec->Width - Total : 0;
    if (!Spec->LeftAlign && !Spec->ZeroPad)
        for (uint32_t Index = 0; Index < Pad; Index++)
            RkPutChar(Output, ' ');
    if (Negative)
        RkPutChar(Output, '-');
    if (!Spec->LeftAlign && Spec->ZeroPad)
        for (uint32_t Index = 0; Index < Pad; Index++)
            RkPutChar(Output, '0');
    for (uint32_t Index = 0; Index < Length; Index++)
        RkPutChar(Output, Text[Index]);
    if (Spec->LeftAlign)
        for (uint32_t Index = 0; Index < Pad; Index++)
            RkPutChar(Output, ' ');
}

static void RkPutNumber(RK_OUTPUT *Output, uint64_t Value, uint32_t Base, bool Negative, const RK_FORMAT_SPEC *Spec)
{
    static const char Digits[] = "0123456789abcdef";
    char Buffer[24];
    uint32_t Length = 0;
    do {
        Buffer[sizeof(Buffer) - 1 - Length++] = Digits[Value % Base];
        Value /= Base;
    } while (Value != 0);
    RkPutPadded(Output, &Buffer[sizeof(Buffer) - Length], Length, Spec, Negative);
}

static void RkPutString(RK_OUTPUT *Output, const char *Text, const RK_FORMAT_SPEC *Spec)
{
    if (Text == NULL)
        Text = "(null)";
    uint32_t Length = 0;
    while (Text[Length] != '\0')
        Length++;
    RkPutPadded(Output, Text, Length, Spec, false);
}

static uint64_t RkTakeUnsigned(va_list *Arguments, const RK_FORMAT_SPEC *Spec)
{
    if (Spec->LongCount > 0)
        return va_arg(*Arguments, uint64_t);
    return va_arg(*Arguments, unsigned int);
}

static int64_t RkTakeSigned(va_list *Arguments, const RK_FORMAT_SPEC *Spec)
{
    if (Spec->LongCount > 0)
        return va_arg(*Arguments, int64_t);
    return va_arg(*Arguments, int);
}

/* Reads flags, width and length modifiers; returns the conversion character. */
static const char *RkParseSpec(const char *Format, RK_FORMAT_SPEC *Spec)
{
    *Spec = (RK_FORMAT_SPEC){0};
    for (;; Format++) {
        if (*Format == '0')
            Spec->ZeroPad = true;
        else if (*Format == '-')
            Spec->LeftAlign = true;
        else
            break;
    }
    while (*Format >= '0' && *Format <= '9')
        Spec->Width = Spec->Width * 10u + (uint32_t)(*Format++ - '0');
    while (*Format == 'l' || *Format == 'z')
        Spec->LongCount++, Format++;
    return Format;
}

static void RkFormatOne(RK_OUTPUT *Output, char Conversion, va_list *Arguments, const RK_FORMAT_SPEC *Spec)
{
    switch (Conversion) {
    case 'd':
    case 'i': {
        int64_t Value = RkTakeSigned(Arguments, Spec);
        RkPutNumber(Output, Value < 0 ? (uint64_t)0 - (uint64_t)Value : (uint64_t)Value, 10, Value < 0, Spec);
        break;
    }
    case 'u':
        RkPutNumber(Output, RkTakeUnsigned(Arguments, Spec), 10, false, Spec);
        break;
    case 'x':
        RkPutNumber(Output, RkTakeUnsigned(Arguments, Spec), 16, false, Spec);
        break;
    case 'p': {
        RK_FORMAT_SPEC Pointer = {.ZeroPad = true, .Width = 16};
        RkPutString(Output, "0x", &(RK_FORMAT_SPEC){0});
        RkPutNumber(Output, (uint64_t)(uintptr_t)va_arg(*Arguments, void *), 16, false, &Pointer);
        break;
    }
    case 's':
        RkPutString(Output, va_arg(*Arguments, const char *), Spec);
        break;
    case 'c':
        RkPutChar(Output, (char)va_arg(*Arguments, int));
        break;
    default:
        RkPutChar(Output, '%');
        if (Conversion != '%')
            RkPutChar(Output, Conversion);
        break;
    }
}

static void RkFormat(RK_OUTPUT *Output, const char *Format, va_list *Arguments)
{
    while (*Format != '\0') {
        if (*Format != '%') {
            RkPutChar(Output, *Format++);
            continue;
        }
        RK_FORMAT_SPEC Spec;
        Format = RkParseSpec(Format + 1, &Spec);
        if (*Format == '\0')
            break;
        RkFormatOne(Output, *Format++, Arguments, &Spec);
    }
    if (Output->Buffer != NULL && Output->Size > 0)
        Output->Buffer[Output->Length] = '\0';
}

void RkVPrint(const char *Format, va_list Arguments)
{
    RK_OUTPUT Console = {0};
    va_list Copy;
    va_copy(Copy, Arguments);
    bool WasEnabled = RkAcquireConsole();
    RkFormat(&Console, Format, &Copy);
    RkReleaseConsole(WasEnabled);
    va_end(Copy);
}

size_t RkFormatString(char *Buffer, size_t Size, const char *Format, ...)
{
    RK_OUTPUT Output = {.Buffer = Buffer, .Size = Size};
    va_list Arguments;
    va_start(Arguments, Format);
    RkFormat(&Output, Format, &Arguments);
    va_end(Arguments);
    return Output.Length;
}

void RkPrint(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    RkVPrint(Format, Arguments);
    va_end(Arguments);
}

/* ---- Leaving the kernel ------------------------------------------------------------- */

void RkExit(uint32_t Value)
{
    PlatDisableInterrupts();
    /* QEMU's isa-debug-exit ends the emulator with status (Value << 1) | 1. */
    RkOutLong(QEMU_DEBUG_EXIT_PORT, Value);
    for (;;)
        RkHalt();
}

void RkPanic(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    RkPrint("\n*** PANIC on cpu %u: ", PlatCurrentCpu());
    RkVPrint(Format, Arguments);
    RkPrint("\n");
    va_end(Arguments);
    RkExit(RK_EXIT_PANIC);
}
