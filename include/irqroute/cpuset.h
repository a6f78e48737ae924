/* SPDX-License-Identifier: MIT */
/*
 * CPU sets: the affinity type of irqroute.
 *
 * IR_CPU_SET is a bitmap of up to IR_MAX_CPUS (4096) CPU *indices* (never APIC
 * ids: the Hl layer maps an index to the APIC id recorded at CPU start-up).
 * KAFFINITY is the single-word fast form for the first 64 CPUs, as NT has it;
 * IrCpuSetFromAffinity/IrCpuSetToAffinity convert.
 *
 * All operations are plain (non-atomic) and bounded by the 64 words of a set;
 * the scanning ones stop at the first hit. A set that is read while another
 * thread writes it must be protected by the caller.
 */
#ifndef IRQROUTE_CPUSET_H
#define IRQROUTE_CPUSET_H

#include <irqroute/config.h>
#include <irqroute/status.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

IRQROUTE_BEGIN_DECLS

#define IR_MAX_CPUS 4096u
#define IR_CPU_SET_WORDS (IR_MAX_CPUS / 64u)
/* Returned by the scanning functions when no (further) CPU is in the set. */
#define IR_CPU_NONE 0xFFFFFFFFu

typedef uint64_t KAFFINITY;

typedef struct _IR_CPU_SET {
    uint64_t Bits[IR_CPU_SET_WORDS];
} IR_CPU_SET;

/* Empties Set. */
void IrCpuSetZero(IR_CPU_SET *Set);
/* Sets CPUs 0 .. Count-1 (Count is clamped to IR_MAX_CPUS). */
void IrCpuSetFill(IR_CPU_SET *Set, uint32_t Count);
/* Destination = Source (the whole set, every word). */
void IrCpuSetCopy(IR_CPU_SET *Destination, const IR_CPU_SET *Source);
/* Set = the CPUs of Affinity (CPUs 0-63); every CPU above 63 is removed. */
void IrCpuSetFromAffinity(IR_CPU_SET *Set, KAFFINITY Affinity);
/* The first 64 CPUs of Set as a word. */
KAFFINITY IrCpuSetToAffinity(const IR_CPU_SET *Set);

/* Adds Cpu to Set; a Cpu at or above IR_MAX_CPUS is ignored. */
static inline void IrCpuSetAdd(IR_CPU_SET *Set, uint32_t Cpu)
{
    if (Cpu < IR_MAX_CPUS)
        Set->Bits[Cpu / 64u] |= (uint64_t)1 << (Cpu % 64u);
}

/* Removes Cpu from Set; a Cpu at or above IR_MAX_CPUS is ignored. */
static inline void IrCpuSetRemove(IR_CPU_SET *Set, uint32_t Cpu)
{
    if (Cpu < IR_MAX_CPUS)
        Set->Bits[Cpu / 64u] &= ~((uint64_t)1 << (Cpu % 64u));
}

/* True when Cpu is in Set (false for a Cpu at or above IR_MAX_CPUS). */
static inline bool IrCpuSetContains(const IR_CPU_SET *Set, uint32_t Cpu)
{
    return Cpu < IR_MAX_CPUS && (Set->Bits[Cpu / 64u] >> (Cpu % 64u)) & 1u;
}

/* True when Set holds no CPU. */
bool IrCpuSetIsEmpty(const IR_CPU_SET *Set);
/* True when A and B hold the same CPUs. */
bool IrCpuSetEqual(const IR_CPU_SET *A, const IR_CPU_SET *B);
/* Number of CPUs in the set. */
uint32_t IrCpuSetWeight(const IR_CPU_SET *Set);
/* Lowest CPU in the set, or IR_CPU_NONE. */
uint32_t IrCpuSetFirst(const IR_CPU_SET *Set);
/* Lowest CPU in the set above Cpu, or IR_CPU_NONE. */
uint32_t IrCpuSetNext(const IR_CPU_SET *Set, uint32_t Cpu);
/* Lowest CPU at or above Cpu, wrapping to the start; IR_CPU_NONE if empty. */
uint32_t IrCpuSetNextWrap(const IR_CPU_SET *Set, uint32_t Cpu);
/* Result = A & B (Result may alias A or B). */
void IrCpuSetAnd(IR_CPU_SET *Result, const IR_CPU_SET *A, const IR_CPU_SET *B);
/* Result = A | B (Result may alias A or B). */
void IrCpuSetOr(IR_CPU_SET *Result, const IR_CPU_SET *A, const IR_CPU_SET *B);
/* Result = A & ~B (Result may alias A or B). */
void IrCpuSetAndNot(IR_CPU_SET *Result, const IR_CPU_SET *A, const IR_CPU_SET *B);
/* True when A and B have a CPU in common. */
bool IrCpuSetIntersects(const IR_CPU_SET *A, const IR_CPU_SET *B);
/* Lowest CPU in A & B, or IR_CPU_NONE, without building the intersection. */
uint32_t IrCpuSetFirstAnd(const IR_CPU_SET *A, const IR_CPU_SET *B);

/* Parses a CPU list as the kernel demo's commands and irqsim's scenario
 * files write it: "3", "1-3", "0,2-3" (numbers, ranges First-Last with
 * First <= Last, joined by commas, no blanks) or "all" (CPUs 0 ..
 * CpuCount-1). Every CPU named must be below CpuCount.
 *   SUCCESS            Set holds exactly the CPUs named
 *   INVALID_PARAMETER  Text or Set NULL; CpuCount 0 or above IR_MAX_CPUS;
 *                      Text empty, not such a list, a range backwards, or a
 *                      CPU at or above CpuCount
 * Set is written only on success. */
IRQ_STATUS IrCpuSetParse(const char *Text, uint32_t CpuCount, IR_CPU_SET *Set);

/* for (Cpu = first; Cpu != IR_CPU_NONE; Cpu = next) over the set. */
#define IR_CPU_SET_FOR_EACH(Cpu, Set) \
    for ((Cpu) = IrCpuSetFirst(Set); (Cpu) != IR_CPU_NONE; (Cpu) = IrCpuSetNext((Set), (Cpu)))

IRQROUTE_END_DECLS

#endif
