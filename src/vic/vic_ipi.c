/* SPDX-License-Identifier: MIT */
/*
 * Inter-processor interrupts on the Vic.
 *
 * A message is a bit in the target's message word; the interrupt is the
 * Vic's IPI source raised on the target, at the IPI level (22 on Alpha), so
 * it is masked by the level like any interrupt. Messages sent before the
 * target claims coalesce into one interrupt and none is lost: the claim of
 * the IPI source takes the whole word with one exchange (vic_pending.c).
 * The bit is set before the raise, so the interrupt never arrives ahead of
 * its message. A sender whose raise merges into a pending IPI set its bit
 * before it saw the pending bit set, and the claim clears the pending bit
 * before it takes the word; with seq_cst on all four accesses the claim
 * sees the message.
 *
 * Targets are checked before anything is sent, so a refused IPI changes no
 * state (as KeSendIpi does for real CPUs).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/vic.h>

#include "vicp.h"

/* Sets the message bit, then raises the IPI source: the order the claim's
 * hand-over relies on (header comment). */
static void VicpPostIpi(VIC *Vic, uint32_t Cpu, uint32_t Message)
{
    atomic_fetch_or_explicit(&VicpCpu(Vic, Cpu)->IpiMessages, 1u << Message, memory_order_seq_cst);
    VicpRaiseOnCpu(Vic, Vic->IpiSource, Cpu);
}

static bool VicpIsOnlineCpu(const VIC *Vic, uint32_t Cpu)
{
    return Cpu < Vic->CpuCount && VicpIsOnline(Vic, Cpu);
}

/* Every CPU of Set exists and is online; Set is not empty. */
static IRQ_STATUS VicpCheckSet(const VIC *Vic, const IR_CPU_SET *Set)
{
    bool Empty = true;
    for (uint32_t Word = 0; Word < IR_CPU_SET_WORDS; Word++) {
        uint64_t Bits = Set->Bits[Word];
        if (Bits == 0)
            continue;
        Empty = false;
        if (Word >= Vic->CpuWords)
            return IRQ_STATUS_INVALID_CPU;
        uint64_t Online = atomic_load_explicit(&Vic->Online[Word], memory_order_relaxed);
        if ((Bits & ~Online) != 0)
            return IRQ_STATUS_INVALID_CPU; /* offline, or beyond the CPU count (never online) */
    }
    return Empty ? IRQ_STATUS_EMPTY_AFFINITY : IRQ_STATUS_SUCCESS;
}

/* The targets of a set or of all / all-but-self, one word at a time. */
static IRQ_STATUS VicpResolveWords(const VIC *Vic, const VIC_IPI_TARGET *Target, uint64_t *Words)
{
    if (Target->Kind == VicIpiTargetSet) {
        if (Target->Cpus == NULL)
            return IRQ_STATUS_INVALID_PARAMETER;
        IRQ_STATUS Status = VicpCheckSet(Vic, Target->Cpus);
        for (uint32_t Word = 0; Status == IRQ_STATUS_SUCCESS && Word < Vic->CpuWords; Word++)
            Words[Word] = Target->Cpus->Bits[Word];
        return Status;
    }
    if (Target->Kind != VicIpiTargetAll && Target->Kind != VicIpiTargetAllButSelf)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Target->Kind == VicIpiTargetAllButSelf && Target->Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    for (uint32_t Word = 0; Word < Vic->CpuWords; Word++)
        Words[Word] = atomic_load_explicit(&Vic->Online[Word], memory_order_relaxed);
    if (Target->Kind == VicIpiTargetAllButSelf)
        Words[Target->Cpu / 64u] &= ~((uint64_t)1 << (Target->Cpu % 64u));
    /* A uniprocessor's all-but-self names nobody: nothing to send, no error. */
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS VicSendIpi(VIC *Handle, const VIC_IPI_TARGET *Target, uint32_t Message)
{
    VIC *Vic = VicpOf(Handle);
    if (Vic == NULL || Target == NULL || Message >= VIC_IPI_MESSAGE_COUNT)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Vic->IpiSource == VICP_NONE)
        return IRQ_STATUS_NOT_SUPPORTED;
    if (Target->Kind == VicIpiTargetCpu) {
        if (!VicpIsOnlineCpu(Vic, Target->Cpu))
            return IRQ_STATUS_INVALID_CPU;
        VicpPostIpi(Vic, Target->Cpu, Message);
        return IRQ_STATUS_SUCCESS;
    }
    uint64_t Words[IR_CPU_SET_WORDS];
    IRQ_STATUS Status = VicpResolveWords(Vic, Target, Words);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    for (uint32_t Word = 0; Word < Vic->CpuWords; Word++) {
        for (uint64_t Bits = Words[Word]; Bits != 0; Bits &= Bits - 1u)
            VicpPostIpi(Vic, Word * 64u + (uint32_t)__builtin_ctzll(Bits), Message);
    }
    return IRQ_STATUS_SUCCESS;
}

uint64_t VicQueryIpiCount(const VIC *Handle, uint32_t Cpu, uint32_t Message)
{
    const VIC *Vic = VicpOfConst(Handle);
    if (Vic == NULL || Cpu >= Vic->CpuCount || Message >= VIC_IPI_MESSAGE_COUNT)
        return 0;
    return atomic_load_explicit(&VicpCpu(Vic, Cpu)->IpiCounts[Message], memory_order_relaxed);
}
