/* SPDX-License-Identifier: MIT */
/*
 * IRQL and spin locks.
 *
 * A CPU's IRQL is recorded in its KPRCB (so the router can read where every
 * CPU stands) and mirrored into the local APIC TPR, which makes the hardware
 * hold back every interrupt whose priority class is at or below it (Intel
 * SDM vol. 3A 11.8.3). The TPR value for each IRQL comes from the platform's
 * vector layout.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "irassert.h"
#include "ki.h"

static void KipWriteIrql(KPRCB *Prcb, KIRQL Irql)
{
    atomic_store_explicit(&Prcb->Irql, Irql, memory_order_relaxed);
    HlLapicWriteTaskPriority(KiSystem.Layout->TprOfIrql[Irql]);
}

KIRQL KeGetCurrentIrql(void)
{
    bool WasEnabled = PlatDisableInterrupts();
    KIRQL Irql = atomic_load_explicit(&KiGetPrcb(PlatCurrentCpu())->Irql, memory_order_relaxed);
    PlatRestoreInterrupts(WasEnabled);
    return Irql;
}

/* Interrupts are disabled around the change so the CPU cannot change under
 * us between reading its KPRCB and writing its TPR. Raising above the
 * current IRQL only: a request to "raise" lower leaves the IRQL alone (NT
 * would bug-check; a library must not crash its host). */
KIRQL KeRaiseIrql(KIRQL NewIrql)
{
    if (NewIrql > HIGH_LEVEL)
        NewIrql = HIGH_LEVEL;
    bool WasEnabled = PlatDisableInterrupts();
    KPRCB *Prcb = KiGetPrcb(PlatCurrentCpu());
    KIRQL OldIrql = atomic_load_explicit(&Prcb->Irql, memory_order_relaxed);
    if (NewIrql > OldIrql)
        KipWriteIrql(Prcb, NewIrql);
    PlatRestoreInterrupts(WasEnabled);
    return OldIrql;
}

/* Lowering may make pending interrupts deliverable: they are taken when
 * interrupts are enabled again (on the sim, right at the TPR write or the
 * restore, as a real CPU would). */
void KeLowerIrql(KIRQL NewIrql)
{
    bool WasEnabled = PlatDisableInterrupts();
    KPRCB *Prcb = KiGetPrcb(PlatCurrentCpu());
    if (NewIrql < atomic_load_explicit(&Prcb->Irql, memory_order_relaxed))
        KipWriteIrql(Prcb, NewIrql);
    PlatRestoreInterrupts(WasEnabled);
}

KIRQL KeQueryProcessorIrql(uint32_t Cpu)
{
    if (Cpu >= KiSystem.ProcessorCount)
        return HIGH_LEVEL;
    return atomic_load_explicit(&KiGetPrcb(Cpu)->Irql, memory_order_relaxed);
}

void KeInitializeSpinLock(KSPIN_LOCK *SpinLock)
{
    atomic_store_explicit(KiSpinLockWord(SpinLock), 0, memory_order_relaxed);
}

/* The lock word is 0 or its owner's word, as an IR_LOCK's (src/base/irlock.h,
 * OWNER): 1 in a release build, the CPU + 1 with debug checks, so that
 * KiSpinLockAssertHeld (ki.h) can say who holds it. */
bool KeTryToAcquireSpinLockAtDpcLevel(KSPIN_LOCK *SpinLock)
{
    return atomic_load_explicit(KiSpinLockWord(SpinLock), memory_order_relaxed) == 0 &&
           IrLockWordTryTake(KiSpinLockWord(SpinLock));
}

void KeAcquireSpinLockAtDpcLevel(KSPIN_LOCK *SpinLock)
{
    /* Spinning on a lock this CPU holds never ends (an ISR that takes the
     * lock its own KeSynchronizeExecution caller holds, say). */
    IR_ASSERT_TEXT(!KiSpinLockIsHeldByCallerCpu(SpinLock), "KeAcquireSpinLock: this CPU holds the lock already");
    while (!IrLockWordTryTake(KiSpinLockWord(SpinLock))) {
        while (atomic_load_explicit(KiSpinLockWord(SpinLock), memory_order_relaxed) != 0)
            PlatCpuRelax();
    }
}

void KeReleaseSpinLockFromDpcLevel(KSPIN_LOCK *SpinLock)
{
    KiSpinLockAssertHeld(SpinLock);
    atomic_store_explicit(KiSpinLockWord(SpinLock), 0, memory_order_release);
}

KIRQL KeAcquireSpinLock(KSPIN_LOCK *SpinLock)
{
    KIRQL OldIrql = KeRaiseIrql(DISPATCH_LEVEL);
    KeAcquireSpinLockAtDpcLevel(SpinLock);
    return OldIrql;
}

void KeReleaseSpinLock(KSPIN_LOCK *SpinLock, KIRQL OldIrql)
{
    KeReleaseSpinLockFromDpcLevel(SpinLock);
    KeLowerIrql(OldIrql);
}
