/* SPDX-License-Identifier: MIT */
/*
 * The central dispatcher: the one entry for every vector on every CPU, and
 * KeSynchronizeExecution.
 *
 * Entry stubs pass (CPU, vector) because kernel handlers get no context
 * argument: the CPU's vector table (KPRCB.Chains) is the lookup. The chain is
 * walked without a lock under the protocol stated in ki.h.
 *
 * The hot path is a device vector whose chain has one link (an unshared
 * line or message): one locked add announces the dispatch (ki.h says why it
 * must be locked), one XCHG takes the ISR's lock, and the rest is plain
 * loads and stores to lines this CPU owns or only reads (the counters are
 * single-writer adds). Everything else (a shared chain, an empty slot, a
 * system or the spurious vector, a CPU number no CPU has, a nested
 * dispatch, a contended lock, a post-dispatch routine) leaves the straight
 * line through a test whose branch is predicted not taken. So does an ISR
 * that did not claim: storm detection (storm.c) counts only there.
 *
 * DEBUG CHECKS (IRQROUTE_DEBUG_CHECKS=1, src/base/irassert.h) state the
 * rules the dispatcher relies on and compile to nothing otherwise, so the
 * release hot path is the one described above: the entry stub passes the
 * CPU it runs on; a link in a CPU's chain is that CPU's and the vector's; an
 * outermost dispatch of a device vector comes above the CPU's IRQL (the TPR
 * held back the rest, Intel SDM vol. 3A 11.8.3); an ISR returns at the IRQL
 * it was called at, holding the lock it was called with.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

/* Entry of an outermost dispatch: DispatchState becomes odd. The seq_cst
 * read-modify-write orders it before every chain load (ki.h). */
static inline void KipEnterDispatch(KPRCB *Prcb)
{
    atomic_fetch_add_explicit(&Prcb->DispatchState, 1, memory_order_seq_cst);
}

/* Exit: even again, and different from every value a disconnector may have
 * seen while the dispatch ran. Only this CPU writes the word, so the
 * single-writer increment does (no locked instruction); it is a release, so
 * everything the dispatch did with the object comes before it. */
static inline void KipLeaveDispatch(KPRCB *Prcb)
{
    KiBumpRelease(&Prcb->DispatchState);
}

static inline bool KipIsInsideDispatch(const KPRCB *Prcb)
{
    return (atomic_load_explicit(&Prcb->DispatchState, memory_order_relaxed) & KI_DISPATCH_ACTIVE) != 0;
}

/* A move's old links wait for the first interrupt on a newer one (ke.h,
 * KeRetireInterruptLink): this is it when the link is active. */
__attribute__((noinline, cold)) static void KipCallPostDispatch(KPRCB *Prcb, KINTERRUPT *Interrupt,
                                                               const KI_INTERRUPT_LINK *Link)
{
    if (atomic_load_explicit(&Interrupt->ArmedLinks, memory_order_relaxed) != 0 &&
        atomic_load_explicit(&Link->State, memory_order_relaxed) == KiLinkActive)
        KiFireRetireTrigger(Interrupt);
    PKPOST_DISPATCH_ROUTINE PostDispatch = atomic_load_explicit(&Interrupt->PostDispatch, memory_order_acquire);
    if (PostDispatch != NULL)
        PostDispatch(Interrupt, Prcb->Number, Prcb->InterruptedIrql,
                     atomic_load_explicit(&Interrupt->PostDispatchContext, memory_order_relaxed));
}

/* Runs one ISR at its synchronize IRQL under its lock and counts the run.
 * Interrupts are off, so only the recorded IRQL moves (what the router and
 * KeGetCurrentIrql see); writing the TPR here would be wasted work on every
 * interrupt. The object is reached through the link again after each call
 * out, which keeps one register fewer alive across the ISR. */
static inline bool KipCallServiceRoutine(KPRCB *Prcb, KI_INTERRUPT_LINK *Link)
{
    KINTERRUPT *Interrupt = Link->Interrupt;
    IR_ASSERT(Link->Cpu == Prcb->Number && Interrupt->Signature == KI_INTERRUPT_SIGNATURE);
    KiSetRecordedIrql(Prcb, Interrupt->SynchronizeIrql);
    KiAcquireSpinLock(Interrupt->ActualLock);
    Interrupt = Link->Interrupt;
    bool Claimed = Interrupt->ServiceRoutine(Interrupt, Interrupt->ServiceContext);
    IR_ASSERT_TEXT(atomic_load_explicit(&Prcb->Irql, memory_order_relaxed) == Link->Interrupt->SynchronizeIrql,
                   "an ISR returns at the IRQL it was called at (its SynchronizeIrql)");
    KiReleaseSpinLock(Link->Interrupt->ActualLock);
    KiBumpCounter(&Link->Count);
    KiAddCounter(&Link->Claimed, Claimed); /* no branch: it is 0 or 1 */
    return Claimed;
}

/* After the run's counts (a post-dispatch routine may read them). */
static inline void KipPostDispatch(KPRCB *Prcb, KI_INTERRUPT_LINK *Link)
{
    KINTERRUPT *Interrupt = Link->Interrupt;
    if (__builtin_expect(atomic_load_explicit(&Interrupt->PostDispatch, memory_order_relaxed) != NULL, 0))
        KipCallPostDispatch(Prcb, Interrupt, Link);
}

/* Level-triggered lines stop at the first claim: the line stays asserted if
 * another device also wants service, so it comes back after EOI. Edge lines
 * run every ISR, since a second edge merged into this one would be lost. */
static inline bool KipChainEnds(const KI_INTERRUPT_LINK *Link, bool Claimed)
{
    return Claimed && Link->Interrupt->Mode == LevelSensitive;
}

/* The rest of a shared chain: Link ran first (Claimed: whether it claimed)
 * and Next followed it. Counts the dispatch as unclaimed if no ISR claims. */
__attribute__((noinline)) static void KipRunRestOfChain(KPRCB *Prcb, uint8_t Vector, KI_INTERRUPT_LINK *Link,
                                                        KI_INTERRUPT_LINK *Next, bool Claimed)
{
    while (Next != NULL && !KipChainEnds(Link, Claimed)) {
        Link = Next;
        Claimed |= KipCallServiceRoutine(Prcb, Link);
        KipPostDispatch(Prcb, Link);
        Next = atomic_load_explicit(&Link->Next, memory_order_seq_cst);
    }
    if (!Claimed)
        KiNoteUnclaimed(Prcb, Vector, Link->Interrupt);
}

/* A one-link chain whose ISR did not claim: counted for the vector (the
 * link's; it stays valid while the dispatch runs) and for its storm window
 * (storm.c), here and not on the claimed path. */
__attribute__((noinline, cold)) static void KipCountUnclaimed(KPRCB *Prcb, const KI_INTERRUPT_LINK *Link)
{
    KiNoteUnclaimed(Prcb, Link->Vector, Link->Interrupt);
}

/* A device vector's chain, once the dispatch is announced (or covered by the
 * outer dispatch's announcement). The delivery is counted first and the
 * interrupted IRQL waits in the CPU block, so that only the block and the
 * first link live across the ISR call; the common case, one link that
 * claims, is a straight line. */
static inline void KipDispatchChain(KPRCB *Prcb, uint8_t Vector, KI_INTERRUPT_LINK *First)
{
    IR_ASSERT(First->Vector == Vector && KiIsDeviceVector(Vector));
    Prcb->InterruptedIrql = atomic_load_explicit(&Prcb->Irql, memory_order_relaxed);
    KiBumpCounter(&Prcb->Dispatched[Vector]);
    bool Claimed = KipCallServiceRoutine(Prcb, First);
    KipPostDispatch(Prcb, First);
    KI_INTERRUPT_LINK *Next = atomic_load_explicit(&First->Next, memory_order_seq_cst);
    if (__builtin_expect(Next != NULL, 0))
        KipRunRestOfChain(Prcb, Vector, First, Next, Claimed);
    else if (__builtin_expect(!Claimed, 0))
        KipCountUnclaimed(Prcb, First);
    KiSetRecordedIrql(Prcb, Prcb->InterruptedIrql);
}

__attribute__((noinline, cold)) static void KipDispatchSystemVector(KPRCB *Prcb, uint8_t Vector)
{
    KI_SYSTEM_VECTOR *Entry = &KiSystem.SystemVectors[Vector];
    PKSYSTEM_VECTOR_HANDLER Handler = atomic_load_explicit(&Entry->Handler, memory_order_acquire);
    KiBumpCounter(&Prcb->Dispatched[Vector]);
    if (Handler != NULL)
        Handler(Prcb->Number, Vector, Entry->Context);
    else
        KiBumpCounter(&Prcb->Unclaimed[Vector]);
}

/* A vector with nothing linked: the spurious vector, a system vector, or a
 * device vector whose chain is empty. */
__attribute__((noinline, cold)) static void KipDispatchUnlinked(KPRCB *Prcb, uint8_t Vector)
{
    /* A spurious interrupt sets no ISR bit, so it must not be EOId (SDM 11.9). */
    if (Vector == KiSystem.Layout->SpuriousVector) {
        KiBumpCounter(&Prcb->SpuriousCount);
        return;
    }
    if (KiIsDeviceVector(Vector)) {
        /* Nothing linked (its object is being disconnected, a stray MSI). */
        KiBumpCounter(&Prcb->Dispatched[Vector]);
        KiNoteUnclaimed(Prcb, Vector, NULL); /* a stray source storms too */
    } else {
        KipDispatchSystemVector(Prcb, Vector);
    }
    HlLapicEndOfInterrupt();
}

/* A dispatch inside another on this CPU (an ISR re-enabled interrupts): the
 * outer dispatch's announcement covers it (ki.h), so it leaves
 * DispatchState alone. */
__attribute__((noinline, cold)) static void KipDispatchNested(KPRCB *Prcb, uint8_t Vector)
{
    KI_INTERRUPT_LINK *First = atomic_load_explicit(&Prcb->Chains[Vector], memory_order_seq_cst);
    if (First == NULL) {
        KipDispatchUnlinked(Prcb, Vector);
        return;
    }
    KIRQL OuterInterruptedIrql = Prcb->InterruptedIrql;
    KipDispatchChain(Prcb, Vector, First);
    Prcb->InterruptedIrql = OuterInterruptedIrql;
    HlLapicEndOfInterrupt();
}

/* Only device vectors ever have a chain (KeInitializeInterrupt refuses the
 * others), so a non-empty slot is the device-vector test too; everything
 * else (an empty slot, a system or the spurious vector, a nested dispatch, a
 * CPU number no CPU has) leaves the straight line through a branch
 * predicted not taken. */
void KeDispatchInterrupt(uint32_t Cpu, uint8_t Vector)
{
    if (__builtin_expect(Cpu >= KiSystem.ProcessorCount, 0))
        return; /* a platform bug; nothing here can be trusted to EOI */
    KPRCB *Prcb = KiGetPrcb(Cpu);
    IR_ASSERT_TEXT(Cpu == PlatDebugCurrentCpu(), "KeDispatchInterrupt: Cpu is the CPU that runs it");
    if (__builtin_expect(KipIsInsideDispatch(Prcb), 0)) {
        KipDispatchNested(Prcb, Vector);
        return;
    }
    KipEnterDispatch(Prcb);
    KI_INTERRUPT_LINK *First = atomic_load_explicit(&Prcb->Chains[Vector], memory_order_seq_cst);
    if (__builtin_expect(First == NULL, 0)) {
        KipLeaveDispatch(Prcb);
        KipDispatchUnlinked(Prcb, Vector);
        return;
    }
    IR_ASSERT_TEXT(First->Interrupt->Irql > atomic_load_explicit(&Prcb->Irql, memory_order_relaxed),
                   "a device vector is dispatched only above the CPU's IRQL");
    KipDispatchChain(Prcb, Vector, First);
    KipLeaveDispatch(Prcb);
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
    KiSpinLockAssertHeld(Interrupt->ActualLock);
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
    Statistics->Dispatched = atomic_load_explicit(&KiGetPrcb(Cpu)->Dispatched[Vector], memory_order_relaxed);
    Statistics->Unclaimed = atomic_load_explicit(&KiGetPrcb(Cpu)->Unclaimed[Vector], memory_order_relaxed);
    return IRQ_STATUS_SUCCESS;
}

uint64_t KeQuerySpuriousCount(uint32_t Cpu)
{
    if (KiSystem.Prcbs == NULL || Cpu >= KiSystem.ProcessorCount)
        return 0;
    return atomic_load_explicit(&KiGetPrcb(Cpu)->SpuriousCount, memory_order_relaxed);
}
