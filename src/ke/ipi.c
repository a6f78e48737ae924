/* SPDX-License-Identifier: MIT */
/*
 * Inter-processor interrupts.
 *
 * A message is a bit in the target's KPRCB.IpiPending plus one fixed IPI on
 * the layout's IPI vector through the local APIC ICR (Intel SDM vol. 3A
 * 11.6). Several messages sent before the target runs coalesce into one
 * interrupt, which is why the pending word, not the interrupt, carries them:
 * the handler takes the whole word with one exchange. The bit is set before
 * the ICR write, so the interrupt can never arrive ahead of its message.
 *
 * KeIpiGenericCall posts one call descriptor (serialised by a lock, as NT
 * does), sends KeIpiCallFunction to the targets and waits for a countdown.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

typedef struct _KI_IPI_HANDLER {
    _Atomic(PKIPI_MESSAGE_HANDLER) Handler;
    void *Context;
} KI_IPI_HANDLER;

typedef struct _KI_GENERIC_CALL {
    IR_LOCK Lock;
    PKIPI_WORKER Worker;
    void *Context;
    _Atomic uint32_t Remaining;
} KI_GENERIC_CALL;

static KI_IPI_HANDLER KipIpiHandlers[KeIpiMessageCount];
static KI_GENERIC_CALL KipGenericCall;

static void KipRunGenericCall(uint32_t Cpu)
{
    KipGenericCall.Worker(Cpu, KipGenericCall.Context);
    atomic_fetch_sub_explicit(&KipGenericCall.Remaining, 1, memory_order_release);
}

static void KipDeliverMessage(KPRCB *Prcb, KE_IPI_MESSAGE Message)
{
    KiBumpCounter(&Prcb->IpiCounts[Message]);
    if (Message == KeIpiCallFunction) {
        KipRunGenericCall(Prcb->Number);
        return;
    }
    KI_IPI_HANDLER *Entry = &KipIpiHandlers[Message];
    PKIPI_MESSAGE_HANDLER Handler = atomic_load_explicit(&Entry->Handler, memory_order_acquire);
    if (Handler != NULL)
        Handler(Prcb->Number, Message, Entry->Context);
}

/* The IPI vector's system handler. */
static void KipIpiInterrupt(uint32_t Cpu, uint8_t Vector, void *Context)
{
    (void)Vector;
    (void)Context;
    KPRCB *Prcb = KiGetPrcb(Cpu);
    uint32_t Pending = atomic_exchange_explicit(&Prcb->IpiPending, 0, memory_order_acquire);
    for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++) {
        if ((Pending >> Message) & 1u)
            KipDeliverMessage(Prcb, (KE_IPI_MESSAGE)Message);
    }
    if ((Pending >> KI_IPI_RETIRE_LINKS) & 1u)
        KiRetireLinksOnThisCpu(Prcb);
}

void KiInitializeIpi(void)
{
    for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++)
        atomic_store_explicit(&KipIpiHandlers[Message].Handler, NULL, memory_order_relaxed);
    IrLockInitialize(&KipGenericCall.Lock);
    /* KeInitializeSystem checked that the IPI vector is a system vector. */
    if (KiSystem.Layout->IpiVector != 0)
        KiInstallSystemVector(KiSystem.Layout->IpiVector, KipIpiInterrupt, NULL);
}

IRQ_STATUS KeSetIpiMessageHandler(KE_IPI_MESSAGE Message, PKIPI_MESSAGE_HANDLER Handler, void *Context)
{
    if ((unsigned)Message >= KeIpiMessageCount || Message == KeIpiCallFunction)
        return IRQ_STATUS_INVALID_PARAMETER;
    KipIpiHandlers[Message].Context = Context;
    atomic_store_explicit(&KipIpiHandlers[Message].Handler, Handler, memory_order_release);
    return IRQ_STATUS_SUCCESS;
}

/* The CPUs a target names, all online; the sender is excluded only by
 * AllButSelf. */
static IRQ_STATUS KipResolveTargets(const KE_IPI_TARGET *Target, uint32_t Self, IR_CPU_SET *Cpus)
{
    IR_CPU_SET Online;
    KeQueryOnlineProcessors(&Online);
    switch (Target->Kind) {
    case KeIpiTargetCpu:
        if (Target->Cpu >= IR_MAX_CPUS)
            return IRQ_STATUS_INVALID_CPU;
        IrCpuSetZero(Cpus);
        IrCpuSetAdd(Cpus, Target->Cpu);
        break;
    case KeIpiTargetSet:
        if (Target->Cpus == NULL)
            return IRQ_STATUS_INVALID_PARAMETER;
        IrCpuSetCopy(Cpus, Target->Cpus);
        break;
    case KeIpiTargetAll:
    case KeIpiTargetAllButSelf:
        IrCpuSetCopy(Cpus, &Online);
        if (Target->Kind == KeIpiTargetAllButSelf)
            IrCpuSetRemove(Cpus, Self);
        return IRQ_STATUS_SUCCESS;
    default:
        return IRQ_STATUS_INVALID_PARAMETER;
    }
    if (IrCpuSetIsEmpty(Cpus))
        return IRQ_STATUS_EMPTY_AFFINITY;
    IR_CPU_SET Offline;
    IrCpuSetAndNot(&Offline, Cpus, &Online);
    return IrCpuSetIsEmpty(&Offline) ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_CPU;
}

/* Every target must have an APIC id before the first IPI leaves, so that an
 * unregistered CPU fails the call with nothing sent. */
static IRQ_STATUS KipCheckApicIds(const IR_CPU_SET *Cpus)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        if (!HlIsProcessorRegistered(Cpu))
            return IRQ_STATUS_INVALID_CPU; /* HlGetProcessorApicId's status for it */
    }
    return IRQ_STATUS_SUCCESS;
}

/* The bit first, then the interrupt: it can never arrive ahead of its
 * request. Cpu has an APIC id (checked by the caller). */
static IRQ_STATUS KipSendOne(uint32_t Cpu, uint32_t Request)
{
    uint32_t ApicId;
    (void)HlGetProcessorApicId(Cpu, &ApicId);
    atomic_fetch_or_explicit(&KiGetPrcb(Cpu)->IpiPending, 1u << Request, memory_order_release);
    return HlLapicSendIpi(ApicId, HlIpiNoShorthand, HlDeliveryFixed, KiSystem.Layout->IpiVector);
}

/* Only the local APIC can fail a send once the ids are checked (an xAPIC
 * ICR that stays busy): *Sent counts the CPUs the IPI did reach. */
static IRQ_STATUS KipSendToSet(const IR_CPU_SET *Cpus, KE_IPI_MESSAGE Message, uint32_t *Sent)
{
    *Sent = 0;
    IRQ_STATUS Status = KipCheckApicIds(Cpus);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        Status = KipSendOne(Cpu, (uint32_t)Message);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
        (*Sent)++;
    }
    return IRQ_STATUS_SUCCESS;
}

/* Ke's own requests (KI_IPI_RETIRE_LINKS), to one CPU, at any IRQL. */
IRQ_STATUS KiSendIpiRequest(uint32_t Cpu, uint32_t Request)
{
    if (Cpu >= KiSystem.ProcessorCount || !HlIsProcessorRegistered(Cpu))
        return IRQ_STATUS_INVALID_CPU;
    bool WasEnabled = PlatDisableInterrupts();
    IRQ_STATUS Status = KipSendOne(Cpu, Request);
    PlatRestoreInterrupts(WasEnabled);
    return Status;
}

IRQ_STATUS KeSendIpi(const KE_IPI_TARGET *Target, KE_IPI_MESSAGE Message)
{
    if (KiSystem.Layout == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    /* KeIpiCallFunction belongs to KeIpiGenericCall: sent on its own it would
     * make the targets run whatever worker the last generic call left. */
    if (Target == NULL || (unsigned)Message >= KeIpiMessageCount || Message == KeIpiCallFunction ||
        KiSystem.Layout->IpiVector == 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    IR_CPU_SET Cpus;
    uint32_t Sent;
    bool WasEnabled = PlatDisableInterrupts();
    IRQ_STATUS Status = KipResolveTargets(Target, PlatCurrentCpu(), &Cpus);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KipSendToSet(&Cpus, Message, &Sent);
    PlatRestoreInterrupts(WasEnabled);
    return Status;
}

IRQ_STATUS KeIpiGenericCall(const KE_IPI_TARGET *Target, PKIPI_WORKER Worker, void *Context)
{
    if (KiSystem.Layout == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Target == NULL || Worker == NULL || KiSystem.Layout->IpiVector == 0)
        return IRQ_STATUS_INVALID_PARAMETER;

    /* Spinning with interrupts enabled lets this CPU answer another CPU's
     * generic call while it waits for the lock: no deadlock between two. */
    IrLockAcquire(&KipGenericCall.Lock);
    bool WasEnabled = PlatDisableInterrupts();
    uint32_t Self = PlatCurrentCpu();
    IR_CPU_SET Cpus;
    IRQ_STATUS Status = KipResolveTargets(Target, Self, &Cpus);
    bool Resolved = Status == IRQ_STATUS_SUCCESS;
    bool RunHere = Resolved && IrCpuSetContains(&Cpus, Self);
    if (Resolved) {
        IrCpuSetRemove(&Cpus, Self);
        uint32_t Count = IrCpuSetWeight(&Cpus);
        uint32_t Sent;
        KipGenericCall.Worker = Worker;
        KipGenericCall.Context = Context;
        atomic_store_explicit(&KipGenericCall.Remaining, Count, memory_order_release);
        Status = KipSendToSet(&Cpus, KeIpiCallFunction, &Sent);
        /* The CPUs never reached will not answer; the others will, and run
         * Worker with Context: the call must outlive them even when it fails. */
        atomic_fetch_sub_explicit(&KipGenericCall.Remaining, Count - Sent, memory_order_relaxed);
        RunHere = RunHere && Status == IRQ_STATUS_SUCCESS;
    }
    if (RunHere)
        Worker(Self, Context);
    PlatRestoreInterrupts(WasEnabled);
    while (Resolved && atomic_load_explicit(&KipGenericCall.Remaining, memory_order_acquire) != 0)
        PlatCpuRelax();
    IrLockRelease(&KipGenericCall.Lock);
    return Status;
}

uint64_t KeQueryIpiCount(uint32_t Cpu, KE_IPI_MESSAGE Message)
{
    if (KiSystem.Prcbs == NULL || Cpu >= KiSystem.ProcessorCount || (unsigned)Message >= KeIpiMessageCount)
        return 0;
    return atomic_load_explicit(&KiGetPrcb(Cpu)->IpiCounts[Message], memory_order_relaxed);
}
