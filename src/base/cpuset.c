/* SPDX-License-Identifier: MIT */
/*
 * CPU sets (include/irqroute/cpuset.h): a fixed bitmap of IR_MAX_CPUS bits.
 *
 * Every operation is a loop over at most IR_CPU_SET_WORDS words; the scans
 * stop at the first word with a hit. Trailing-zero counts use the compiler
 * builtin, which becomes one instruction (BSF/TZCNT) on every target we know.
 * The population count does not: without -mpopcnt GCC turns
 * __builtin_popcountll into a call to libgcc's __popcountdi2, a symbol a
 * freestanding kernel does not have, so it is written out here.
 */
#include <irqroute/cpuset.h>

#define IRP_ALL_ONES (~(uint64_t)0)

/* Bits set in Word (the classic SWAR reduction: pairs, nibbles, bytes). */
static uint32_t IrpPopulation(uint64_t Word)
{
    Word = Word - ((Word >> 1) & 0x5555555555555555ull);
    Word = (Word & 0x3333333333333333ull) + ((Word >> 2) & 0x3333333333333333ull);
    Word = (Word + (Word >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (uint32_t)((Word * 0x0101010101010101ull) >> 56);
}

/* CPU number of the lowest bit of a non-zero word of index WordIndex. */
static uint32_t IrpCpuOfLowestBit(uint32_t WordIndex, uint64_t Word)
{
    return WordIndex * 64u + (uint32_t)__builtin_ctzll(Word);
}

/* Lowest CPU at or above Cpu (which must be < IR_MAX_CPUS), no wrap. */
static uint32_t IrpFindFrom(const IR_CPU_SET *Set, uint32_t Cpu)
{
    uint32_t WordIndex = Cpu / 64u;
    /* Drop the bits below Cpu in its own word, then continue word by word. */
    uint64_t Word = Set->Bits[WordIndex] & (IRP_ALL_ONES << (Cpu % 64u));
    for (;;) {
        if (Word != 0)
            return IrpCpuOfLowestBit(WordIndex, Word);
        if (++WordIndex == IR_CPU_SET_WORDS)
            return IR_CPU_NONE;
        Word = Set->Bits[WordIndex];
    }
}

void IrCpuSetZero(IR_CPU_SET *Set)
{
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++)
        Set->Bits[Index] = 0;
}

void IrCpuSetFill(IR_CPU_SET *Set, uint32_t Count)
{
    if (Count > IR_MAX_CPUS)
        Count = IR_MAX_CPUS;
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++) {
        uint32_t First = Index * 64u;
        if (Count >= First + 64u)
            Set->Bits[Index] = IRP_ALL_ONES;
        else if (Count > First)
            Set->Bits[Index] = IRP_ALL_ONES >> (64u - (Count - First));
        else
            Set->Bits[Index] = 0;
    }
}

void IrCpuSetCopy(IR_CPU_SET *Destination, const IR_CPU_SET *Source)
{
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++)
        Destination->Bits[Index] = Source->Bits[Index];
}

void IrCpuSetFromAffinity(IR_CPU_SET *Set, KAFFINITY Affinity)
{
    IrCpuSetZero(Set);
    Set->Bits[0] = Affinity;
}

KAFFINITY IrCpuSetToAffinity(const IR_CPU_SET *Set)
{
    return Set->Bits[0];
}

bool IrCpuSetIsEmpty(const IR_CPU_SET *Set)
{
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++) {
        if (Set->Bits[Index] != 0)
            return false;
    }
    return true;
}

bool IrCpuSetEqual(const IR_CPU_SET *A, const IR_CPU_SET *B)
{
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++) {
        if (A->Bits[Index] != B->Bits[Index])
            return false;
    }
    return true;
}

uint32_t IrCpuSetWeight(const IR_CPU_SET *Set)
{
    uint32_t Weight = 0;
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++)
        Weight += IrpPopulation(Set->Bits[Index]);
    return Weight;
}

uint32_t IrCpuSetFirst(const IR_CPU_SET *Set)
{
    return IrpFindFrom(Set, 0);
}

uint32_t IrCpuSetNext(const IR_CPU_SET *Set, uint32_t Cpu)
{
    /* IR_CPU_NONE and the last CPU have no successor (and Cpu + 1 would wrap). */
    if (Cpu >= IR_MAX_CPUS - 1u)
        return IR_CPU_NONE;
    return IrpFindFrom(Set, Cpu + 1u);
}

uint32_t IrCpuSetNextWrap(const IR_CPU_SET *Set, uint32_t Cpu)
{
    /* A start beyond the set's range is a start past the end: wrap to 0. */
    uint32_t Found = Cpu < IR_MAX_CPUS ? IrpFindFrom(Set, Cpu) : IR_CPU_NONE;
    return Found != IR_CPU_NONE ? Found : IrpFindFrom(Set, 0);
}

void IrCpuSetAnd(IR_CPU_SET *Result, const IR_CPU_SET *A, const IR_CPU_SET *B)
{
    /* Word by word, reading both inputs before writing: aliasing is safe. */
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++)
        Result->Bits[Index] = A->Bits[Index] & B->Bits[Index];
}

void IrCpuSetOr(IR_CPU_SET *Result, const IR_CPU_SET *A, const IR_CPU_SET *B)
{
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++)
        Result->Bits[Index] = A->Bits[Index] | B->Bits[Index];
}

void IrCpuSetAndNot(IR_CPU_SET *Result, const IR_CPU_SET *A, const IR_CPU_SET *B)
{
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++)
        Result->Bits[Index] = A->Bits[Index] & ~B->Bits[Index];
}

bool IrCpuSetIntersects(const IR_CPU_SET *A, const IR_CPU_SET *B)
{
    return IrCpuSetFirstAnd(A, B) != IR_CPU_NONE;
}

uint32_t IrCpuSetFirstAnd(const IR_CPU_SET *A, const IR_CPU_SET *B)
{
    for (uint32_t Index = 0; Index < IR_CPU_SET_WORDS; Index++) {
        uint64_t Common = A->Bits[Index] & B->Bits[Index];
        if (Common != 0)
            return IrpCpuOfLowestBit(Index, Common);
    }
    return IR_CPU_NONE;
}

/* ---- The text form ("1-3", "0,2-3", "all") ---------------------------------- */

/* Reads decimal digits at *Text into *Value; false when there are none or the
 * number reaches IR_MAX_CPUS (no CPU has it, and the value cannot overflow). */
static bool IrpParseCpuNumber(const char **Text, uint32_t *Value)
{
    const char *At = *Text;
    uint32_t Number = 0;
    if (*At < '0' || *At > '9')
        return false;
    while (*At >= '0' && *At <= '9') {
        Number = Number * 10u + (uint32_t)(*At++ - '0');
        if (Number >= IR_MAX_CPUS)
            return false;
    }
    *Text = At;
    *Value = Number;
    return true;
}

static bool IrpTextIs(const char *Text, const char *Word)
{
    while (*Word != 0 && *Text == *Word)
        Text++, Word++;
    return *Text == *Word;
}

/* Adds the list at Text (no "all") to Set; false at the first mistake. */
static bool IrpParseCpuList(const char *Text, uint32_t CpuCount, IR_CPU_SET *Set)
{
    for (;;) {
        uint32_t First, Last;
        if (!IrpParseCpuNumber(&Text, &First))
            return false;
        Last = First;
        if (*Text == '-') {
            Text++;
            if (!IrpParseCpuNumber(&Text, &Last))
                return false;
        }
        if (Last < First || Last >= CpuCount)
            return false;
        for (uint32_t Cpu = First; Cpu <= Last; Cpu++)
            IrCpuSetAdd(Set, Cpu);
        if (*Text == 0)
            return true;
        if (*Text++ != ',')
            return false;
    }
}

IRQ_STATUS IrCpuSetParse(const char *Text, uint32_t CpuCount, IR_CPU_SET *Set)
{
    if (Text == NULL || Set == NULL || CpuCount == 0 || CpuCount > IR_MAX_CPUS)
        return IRQ_STATUS_INVALID_PARAMETER;
    IR_CPU_SET Parsed;
    IrCpuSetZero(&Parsed);
    if (IrpTextIs(Text, "all"))
        IrCpuSetFill(&Parsed, CpuCount);
    else if (!IrpParseCpuList(Text, CpuCount, &Parsed))
        return IRQ_STATUS_INVALID_PARAMETER;
    IrCpuSetCopy(Set, &Parsed);
    return IRQ_STATUS_SUCCESS;
}
