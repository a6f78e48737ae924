/*
 * The central dispatcher: the one entry for every vector on every CPU, and
 * KeSynchronizeExecution.
 *
 * Entry stubs pass (CPU, vector) because kernel handlers get no context
 * argument: the CPU's vector table (KPRCB.Slots) is the lookup. The chain is
 * walked without a lock under the protocol stated in ki.h.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

/* Dispatch entry: the seq_cst store orders the depth before every chain load
 * (ki.h). Only this CPU writes its DispatchState. */
static inline void KipEnterDispatch(KPRCB *Prcb)
{
    uint64_t State = atomic_load_explicit(&Prcb->DispatchState, memory_order_relaxed);
    atomic_store_explicit(&Prcb->DispatchState, State + 1, memory_order_relaxed);
}

/* The outermost exit clears the depth and moves the generation on, which is
 * what a waiting disconnect looks for. */
static inline void KipLeaveDispatch(KPRCB *Prcb)
{
    uint64_t State = atomic_load_explicit(&Prcb->DispatchState, memory_order_relaxed);
    uint64_t Depth = State & KI_DISPATCH_DEPTH_MASK;
    uint64_t Next = Depth == 1 ? (State & ~KI_DISPATCH_DEPTH_MASK) + KI_DISPATCH_GENERATION_ONE : State - 1;
    atomic_store_explicit(&Prcb->DispatchState, Next, memory_order_release);
}

/* Runs one ISR at its synchronize IRQL under its lock. Interrupts are off, so
 * only the recorded IRQL moves (what the router and KeGetCurrentIrql see);
 * writing the TPR here would be wasted work on every interrupt. */
static inline bool KipRunServiceRoutine(KPRCB *Prcb, KI_INTERRUPT_LINK *Link, KIRQL InterruptedIrql)
{
    KINTERRUPT *Interrupt = Link->Interrupt;
    KiSetRecordedIrql(Prcb, Interrupt->SynchronizeIrql);
    KiAcquireSpinLock(Interrupt->ActualLock);
    bool Claimed = Interrupt->ServiceRoutine(Interrupt, Interrupt->ServiceContext);
    KiReleaseSpinLock(Interrupt->ActualLock);
    KiBumpCounter(&Link->Count);
    if (Claimed)
        KiBumpCounter(&Link->Claimed);
    PKPOST_DISPATCH_ROUTINE PostDispatch = atomic_load_explicit(&Interrupt->PostDispatch, memory_order_acquire);
    if (__builtin_expect(PostDispatch != NULL, 0))
        PostDispatch(Interrupt, Prcb->Number, InterruptedIrql,
                     atomic_load_explicit(&Interrupt->PostDispatchContext, memory_order_relaxed));
    return Claimed;
}

/* Level-triggered lines stop at the first claim: the line stays asserted if
 * another device also wants service, so it comes back after EOI. Edge lines
 * run every ISR, since a second edge merged into this one would be lost. */
static void KipDispatchDeviceVector(KPRCB *Prcb, uint8_t Vector)
{
    KI_VECTOR_SLOT *Slot = &Prcb->Slots[Vector];
    KIRQL PreviousIrql = atomic_load_explicit(&Prcb->Irql, memory_order_relaxed);
    bool Claimed = false;

    KipEnterDispatch(Prcb);
    for (KI_INTERRUPT_LINK *Link = atomic_load_explicit(&Slot->Head, memory_order_seq_cst); Link != NULL;
         Link = atomic_load_explicit(&Link->Next, memory_order_seq_cst)) {
        if (KipRunServiceRoutine(Prcb, Link, PreviousIrql)) {
            Claimed = true;
            if (Link->Interrupt->Mode == LevelSensitive)
                break;
        }
    }
    KipLeaveDispatch(Prcb);

    KiSetRecordedIrql(Prcb, PreviousIrql);
    KiBumpCounter(&Slot->Dispatched);
    if (!Claimed)
        KiBumpCounter(&Slot->Unclaimed);
}

__attribute__((noinline, cold)) static void KipDispatchSystemVector(KPRCB *Prcb, uint8_t Vector)
{
    KI_SYSTEM_VECTOR *Entry = &KiSystem.SystemVectors[Vector];
    PKSYSTEM_VECTOR_HANDLER Handler = atomic_load_explicit(&Entry->Handler, memory_order_acquire);
    KiBumpCounter(&Prcb->Slots[Vector].Dispatched);
    if (Handler != NULL)
        Handler(Prcb->Number, Vector, Entry->Context);
    else
        KiBumpCounter(&Prcb->Slots[Vector].Unclaimed);
}

/* Everything but a device vector: the spurious vector, system vectors, and a
 * CPU number no CPU has. Kept out of line so the device path stays short. */
__attribute__((noinline, cold)) static void KipDispatchOther(uint32_t Cpu, uint8_t Vector)
{
    if (Cpu >= KiSystem.ProcessorCount)
        return; /* a platform bug; nothing here can be trusted to EOI */
    KPRCB *Prcb = KiGetPrcb(Cpu);
    /* A spurious interrupt sets no ISR bit, so it must not be EOId (SDM 11.9). */
    if (Vector == KiSystem.Layout->SpuriousVector) {
        KiBumpCounter(&Prcb->SpuriousCount);
        return;
    }
    KipDispatchSystemVector(Prcb, Vector);
    HlLapicEndOfInterrupt();
}

void KeDispatchInterrupt(uint32_t Cpu, uint8_t Vector)
{
    /* The spurious vector is never a device vector (KipBuildVectorTables). */
    if (__builtin_expect(!KiIsDeviceVector(Vector) || Cpu >= KiSystem.ProcessorCount, 0)) {
        KipDispatchOther(Cpu, Vector);
        return;
    }
    KipDispatchDeviceVector(KiGetPrcb(Cpu), Vector);
    HlLapicEndOfInterrupt();
}

IRQ_STATUS KeSetInterruptPostDispatch(KINTERRUPT *Interrupt, PKPOST_DISPATCH_ROUTINE Routine, void *Context)
{
    if (Interrupt == NULL || Interrupt->Signature != KI_INTERRUPT_SIGNATURE)
        return IRQ_STATUS_INVALID_PARAMETER;
    /* Context first: a dispatcher that sees the routine sees its context. */
    atomic_store_explicit(&Interrupt->PostDispatchContext, Context, memory_order_relaxed);
    atomic_store_explicit(&Interrupt->PostDispatch, Routine, memory_order_release);
    return IRQ_STATUS_SUCCESS;
}

bool KeSynchronizeExecution(KINTERRUPT *Interrupt, PKSYNCHRONIZE_ROUTINE Routine, void *SynchronizeContext)
{
    if (Interrupt == NULL || Interrupt->Signature != KI_INTERRUPT_SIGNATURE || Routine == NULL)
        return false;
    /* Raising to the synchronize IRQL holds the vector off on this CPU, so
     * the ISR cannot interrupt us and spin on the lock we hold. */
    KIRQL OldIrql = KeRaiseIrql(Interrupt->SynchronizeIrql);
    KeAcquireSpinLockAtDpcLevel(Interrupt->ActualLock);
    bool Result = Routine(SynchronizeContext);
    KeReleaseSpinLockFromDpcLevel(Interrupt->ActualLock);
    KeLowerIrql(OldIrql);
    return Result;
}

IRQ_STATUS KeQueryVectorStatistics(uint32_t Cpu, uint8_t Vector, KE_VECTOR_STATISTICS *Statistics)
{
    if (KiSystem.Prcbs == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Statistics == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= KiSystem.ProcessorCount)
        return IRQ_STATUS_INVALID_CPU;
    KI_VECTOR_SLOT *Slot = &KiGetPrcb(Cpu)->Slots[Vector];
    Statistics->Dispatched = atomic_load_explicit(&Slot->Dispatched, memory_order_relaxed);
    Statistics->Unclaimed = atomic_load_explicit(&Slot->Unclaimed, memory_order_relaxed);
    return IRQ_STATUS_SUCCESS;
}

uint64_t KeQuerySpuriousCount(uint32_t Cpu)
{
    if (KiSystem.Prcbs == NULL || Cpu >= KiSystem.ProcessorCount)
        return 0;
    return atomic_load_explicit(&KiGetPrcb(Cpu)->SpuriousCount, memory_order_relaxed);
}
