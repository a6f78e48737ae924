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

/* Every CPU of Set exists and is online; Set is not empty. */
static IRQ_STATUS VicpCheckSet(const VIC *Vic, const IR_CPU_SET *Set)
{
    if (IrCpuSetIsEmpty(Set))
        return IRQ_STATUS_EMPTY_AFFINITY;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Set) {
        if (Cpu >= Vic->View.CpuCount || !VicpIsOnline(Vic, Cpu))
            return IRQ_STATUS_INVALID_CPU;
    }
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS VicpResolveTargets(const VIC *Vic, const VIC_IPI_TARGET *Target, IR_CPU_SET *Cpus)
{
    IrCpuSetZero(Cpus);
    switch (Target->Kind) {
    case VicIpiTargetCpu:
        if (Target->Cpu >= Vic->View.CpuCount)
            return IRQ_STATUS_INVALID_CPU;
        IrCpuSetAdd(Cpus, Target->Cpu);
        return VicpCheckSet(Vic, Cpus);
    case VicIpiTargetSet:
        if (Target->Cpus == NULL)
            return IRQ_STATUS_INVALID_PARAMETER;
        IrCpuSetCopy(Cpus, Target->Cpus);
        return VicpCheckSet(Vic, Cpus);
    case VicIpiTargetAll:
    case VicIpiTargetAllButSelf:
        if (Target->Kind == VicIpiTargetAllButSelf && Target->Cpu >= Vic->View.CpuCount)
            return IRQ_STATUS_INVALID_CPU;
        for (uint32_t Word = 0; Word < IR_CPU_SET_WORDS; Word++)
            Cpus->Bits[Word] = atomic_load_explicit(&Vic->Online[Word], memory_order_relaxed);
        if (Target->Kind == VicIpiTargetAllButSelf)
            IrCpuSetRemove(Cpus, Target->Cpu);
        return IRQ_STATUS_SUCCESS; /* a uniprocessor's all-but-self names nobody: nothing to send */
    default:
        return IRQ_STATUS_INVALID_PARAMETER;
    }
}

IRQ_STATUS VicSendIpi(VIC *Vic, const VIC_IPI_TARGET *Target, uint32_t Message)
{
    if (Vic == NULL || Target == NULL || Message >= VIC_IPI_MESSAGE_COUNT)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Vic->IpiSource == VICP_NONE)
        return IRQ_STATUS_NOT_SUPPORTED;
    IR_CPU_SET Cpus;
    IRQ_STATUS Status = VicpResolveTargets(Vic, Target, &Cpus);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Cpus) {
        atomic_fetch_or_explicit(&VicpCpu(Vic, Cpu)->IpiMessages, 1u << Message, memory_order_seq_cst);
        VicpRaiseOnCpu(Vic, Vic->IpiSource, Cpu);
    }
    return IRQ_STATUS_SUCCESS;
}

uint64_t VicQueryIpiCount(const VIC *Vic, uint32_t Cpu, uint32_t Message)
{
    if (Vic == NULL || Cpu >= Vic->View.CpuCount || Message >= VIC_IPI_MESSAGE_COUNT)
        return 0;
    return atomic_load_explicit(&VicpCpu(Vic, Cpu)->IpiCounts[Message], memory_order_relaxed);
}
