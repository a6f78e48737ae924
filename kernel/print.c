/*
 * A small printf over the serial console, and the two ways out of the
 * kernel (KiExit, KiPanic).
 *
 * Several CPUs print, so each call takes the console lock with interrupts
 * disabled. The lock records its owner: a CPU that faults while printing
 * (the exception dump) prints through its own lock instead of deadlocking.
 */
#include <stdatomic.h>

#include <irqroute/platform.h>

#include "kernel.h"

#define KI_CONSOLE_FREE 0xFFFFFFFFu
#define QEMU_DEBUG_EXIT_PORT 0xF4

static _Atomic uint32_t KiConsoleOwner = KI_CONSOLE_FREE;
static uint32_t KiConsoleDepth;

/* Returns whether interrupts were enabled. */
bool KiAcquireConsole(void)
{
    bool WasEnabled = PlatDisableInterrupts();
    uint32_t Self = PlatCurrentCpu();
    if (atomic_load_explicit(&KiConsoleOwner, memory_order_relaxed) != Self) {
        uint32_t Expected = KI_CONSOLE_FREE;
        while (!atomic_compare_exchange_weak_explicit(&KiConsoleOwner, &Expected, Self, memory_order_acquire,
                                                      memory_order_relaxed)) {
            Expected = KI_CONSOLE_FREE;
            PlatCpuRelax();
        }
    }
    KiConsoleDepth++;
    return WasEnabled;
}

void KiReleaseConsole(bool WasEnabled)
{
    if (--KiConsoleDepth == 0)
        atomic_store_explicit(&KiConsoleOwner, KI_CONSOLE_FREE, memory_order_release);
    PlatRestoreInterrupts(WasEnabled);
}

/* ---- Formatting ------------------------------------------------------------------ */

typedef struct _KI_FORMAT_SPEC {
    bool ZeroPad;
    bool LeftAlign;
    uint32_t Width;
    uint32_t LongCount; /* 'l' / 'z' modifiers */
} KI_FORMAT_SPEC;

/* Where formatted text goes: the serial console (Buffer NULL) or a buffer
 * (always NUL-terminated, excess dropped). */
typedef struct _KI_OUTPUT {
    char *Buffer;
    size_t Size;
    size_t Length;
} KI_OUTPUT;

static void KiPutChar(KI_OUTPUT *Output, char Character)
{
    if (Output->Buffer != NULL) {
        if (Output->Length + 1 < Output->Size)
            Output->Buffer[Output->Length++] = Character;
        return;
    }
    if (Character == '\n')
        KiSerialPutChar('\r');
    KiSerialPutChar(Character);
}

static void KiPutPadded(KI_OUTPUT *Output, const char *Text, uint32_t Length, const KI_FORMAT_SPEC *Spec, bool Negative)
{
    uint32_t Total = Length + (Negative ? 1u : 0u);
    uint32_t Pad = Spec->Width > Total ? Spec->Width - Total : 0;
    if (!Spec->LeftAlign && !Spec->ZeroPad)
        for (uint32_t Index = 0; Index < Pad; Index++)
            KiPutChar(Output, ' ');
    if (Negative)
        KiPutChar(Output, '-');
    if (!Spec->LeftAlign && Spec->ZeroPad)
        for (uint32_t Index = 0; Index < Pad; Index++)
            KiPutChar(Output, '0');
    for (uint32_t Index = 0; Index < Length; Index++)
        KiPutChar(Output, Text[Index]);
    if (Spec->LeftAlign)
        for (uint32_t Index = 0; Index < Pad; Index++)
            KiPutChar(Output, ' ');
}

static void KiPutNumber(KI_OUTPUT *Output, uint64_t Value, uint32_t Base, bool Negative, const KI_FORMAT_SPEC *Spec)
{
    static const char Digits[] = "0123456789abcdef";
    char Buffer[24];
    uint32_t Length = 0;
    do {
        Buffer[sizeof(Buffer) - 1 - Length++] = Digits[Value % Base];
        Value /= Base;
    } while (Value != 0);
    KiPutPadded(Output, &Buffer[sizeof(Buffer) - Length], Length, Spec, Negative);
}

static void KiPutString(KI_OUTPUT *Output, const char *Text, const KI_FORMAT_SPEC *Spec)
{
    if (Text == NULL)
        Text = "(null)";
    uint32_t Length = 0;
    while (Text[Length] != '\0')
        Length++;
    KiPutPadded(Output, Text, Length, Spec, false);
}

static uint64_t KiTakeUnsigned(va_list *Arguments, const KI_FORMAT_SPEC *Spec)
{
    if (Spec->LongCount > 0)
        return va_arg(*Arguments, uint64_t);
    return va_arg(*Arguments, unsigned int);
}

static int64_t KiTakeSigned(va_list *Arguments, const KI_FORMAT_SPEC *Spec)
{
    if (Spec->LongCount > 0)
        return va_arg(*Arguments, int64_t);
    return va_arg(*Arguments, int);
}

/* Reads flags, width and length modifiers; returns the conversion character. */
static const char *KiParseSpec(const char *Format, KI_FORMAT_SPEC *Spec)
{
    *Spec = (KI_FORMAT_SPEC){0};
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

static void KiFormatOne(KI_OUTPUT *Output, char Conversion, va_list *Arguments, const KI_FORMAT_SPEC *Spec)
{
    switch (Conversion) {
    case 'd':
    case 'i': {
        int64_t Value = KiTakeSigned(Arguments, Spec);
        KiPutNumber(Output, Value < 0 ? (uint64_t)0 - (uint64_t)Value : (uint64_t)Value, 10, Value < 0, Spec);
        break;
    }
    case 'u':
        KiPutNumber(Output, KiTakeUnsigned(Arguments, Spec), 10, false, Spec);
        break;
    case 'x':
        KiPutNumber(Output, KiTakeUnsigned(Arguments, Spec), 16, false, Spec);
        break;
    case 'p': {
        KI_FORMAT_SPEC Pointer = {.ZeroPad = true, .Width = 16};
        KiPutString(Output, "0x", &(KI_FORMAT_SPEC){0});
        KiPutNumber(Output, (uint64_t)(uintptr_t)va_arg(*Arguments, void *), 16, false, &Pointer);
        break;
    }
    case 's':
        KiPutString(Output, va_arg(*Arguments, const char *), Spec);
        break;
    case 'c':
        KiPutChar(Output, (char)va_arg(*Arguments, int));
        break;
    default:
        KiPutChar(Output, '%');
        if (Conversion != '%')
            KiPutChar(Output, Conversion);
        break;
    }
}

static void KiFormat(KI_OUTPUT *Output, const char *Format, va_list *Arguments)
{
    while (*Format != '\0') {
        if (*Format != '%') {
            KiPutChar(Output, *Format++);
            continue;
        }
        KI_FORMAT_SPEC Spec;
        Format = KiParseSpec(Format + 1, &Spec);
        if (*Format == '\0')
            break;
        KiFormatOne(Output, *Format++, Arguments, &Spec);
    }
    if (Output->Buffer != NULL && Output->Size > 0)
        Output->Buffer[Output->Length] = '\0';
}

void KiVPrint(const char *Format, va_list Arguments)
{
    KI_OUTPUT Console = {0};
    va_list Copy;
    va_copy(Copy, Arguments);
    bool WasEnabled = KiAcquireConsole();
    KiFormat(&Console, Format, &Copy);
    KiReleaseConsole(WasEnabled);
    va_end(Copy);
}

size_t KiFormatString(char *Buffer, size_t Size, const char *Format, ...)
{
    KI_OUTPUT Output = {.Buffer = Buffer, .Size = Size};
    va_list Arguments;
    va_start(Arguments, Format);
    KiFormat(&Output, Format, &Arguments);
    va_end(Arguments);
    return Output.Length;
}

void KiPrint(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    KiVPrint(Format, Arguments);
    va_end(Arguments);
}

/* ---- Leaving the kernel ------------------------------------------------------------- */

void KiExit(uint32_t Value)
{
    PlatDisableInterrupts();
    /* QEMU's isa-debug-exit ends the emulator with status (Value << 1) | 1. */
    KiOutLong(QEMU_DEBUG_EXIT_PORT, Value);
    for (;;)
        KiHalt();
}

void KiPanic(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    KiPrint("\n*** PANIC on cpu %u: ", PlatCurrentCpu());
    KiVPrint(Format, Arguments);
    KiPrint("\n");
    va_end(Arguments);
    KiExit(KI_EXIT_PANIC);
}
