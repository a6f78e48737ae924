/* SPDX-License-Identifier: MIT */
/*
 * The core's text formatter (irfmt.h).
 */
#include "irfmt.h"

void IrFormatStart(IR_FORMAT *Format, char *Buffer, size_t Size)
{
    Format->Buffer = Buffer;
    Format->Size = Buffer == NULL ? 0 : Size;
    Format->Length = 0;
    Format->Truncated = Format->Size == 0;
    if (Format->Size != 0)
        Buffer[0] = '\0';
}

static void IrpFormatCharacter(IR_FORMAT *Format, char Character)
{
    if (Format->Size == 0 || Format->Length + 1u >= Format->Size) {
        Format->Truncated = true;
        return;
    }
    Format->Buffer[Format->Length++] = Character;
    Format->Buffer[Format->Length] = '\0';
}

void IrFormatText(IR_FORMAT *Format, const char *Text)
{
    if (Text == NULL)
        return;
    for (; *Text != '\0'; Text++)
        IrpFormatCharacter(Format, *Text);
}

/* Digits of Value in Base, most significant first, at least MinimumDigits. */
static void IrpFormatDigits(IR_FORMAT *Format, uint64_t Value, uint32_t Base, uint32_t MinimumDigits)
{
    static const char Digits[] = "0123456789abcdef";
    char Reversed[64];
    uint32_t Count = 0;
    do {
        Reversed[Count++] = Digits[Value % Base];
        Value /= Base;
    } while (Value != 0);
    while (Count < MinimumDigits && Count < sizeof(Reversed))
        Reversed[Count++] = '0';
    while (Count != 0)
        IrpFormatCharacter(Format, Reversed[--Count]);
}

void IrFormatDecimal(IR_FORMAT *Format, uint64_t Value)
{
    IrpFormatDigits(Format, Value, 10u, 1u);
}

void IrFormatHex(IR_FORMAT *Format, uint64_t Value, uint32_t MinimumDigits)
{
    IrFormatText(Format, "0x");
    IrpFormatDigits(Format, Value, 16u, MinimumDigits > 16u ? 16u : MinimumDigits);
}

void IrFormatCpuSet(IR_FORMAT *Format, const IR_CPU_SET *Set)
{
    IrpFormatCharacter(Format, '{');
    bool First = true;
    uint32_t Cpu = IrCpuSetFirst(Set);
    while (Cpu != IR_CPU_NONE) {
        /* The run Cpu .. Last of consecutive CPUs. */
        uint32_t Last = Cpu;
        uint32_t Next = IrCpuSetNext(Set, Cpu);
        while (Next != IR_CPU_NONE && Next == Last + 1u) {
            Last = Next;
            Next = IrCpuSetNext(Set, Last);
        }
        if (!First)
            IrpFormatCharacter(Format, ',');
        First = false;
        IrFormatDecimal(Format, Cpu);
        if (Last - Cpu >= 2u) {
            IrpFormatCharacter(Format, '-');
            IrFormatDecimal(Format, Last);
        } else if (Last != Cpu) {
            IrpFormatCharacter(Format, ',');
            IrFormatDecimal(Format, Last);
        }
        Cpu = Next;
    }
    IrpFormatCharacter(Format, '}');
}
