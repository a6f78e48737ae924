/* SPDX-License-Identifier: MIT */
/*
 * Interrupt storms: a vector that keeps arriving on a CPU while no ISR
 * claims it (a level line held asserted by a device nobody serves, a stray
 * MSI source) would keep that CPU in the dispatcher for good. Counted per
 * (CPU, vector) over a window of dispatches; a window that ends with nearly
 * every dispatch unclaimed is reported to the storm handler (Io's masks the
 * line or message: src/io/storm.c). docs/storms.md has the whole design.
 *
 * WHERE THE COUNTING IS. Only on the unclaimed paths, which are out of line
 * and cold (src/ke/dispatch.c): the claimed path runs not one instruction
 * more. The window's length needs no counting of its own: KPRCB.Dispatched
 * already counts every delivery of the vector, so a window is "the
 * Dispatched value before its first dispatch". A window begins with an
 * unclaimed dispatch (claimed ones before it, a previous user's of the
 * vector included, are no part of it) and ends at the first unclaimed
 * dispatch at or past the window size, so a line nobody claims is judged
 * on exactly WindowSize dispatches. A window that ran long (claimed
 * dispatches carried it past the size with no unclaimed one to end it) is
 * judged by two rules that agree on a window of exactly the size: at least
 * Threshold unclaimed, and at most WindowSize - Threshold claimed. So a
 * line that claims more than that in any window is never masked, however
 * many unclaimed dispatches it collected over a long time.
 *
 * NO CLOCK. Linux also forgets the unhandled count when the last unhandled
 * interrupt is over 100 ms old (kernel/irq/spurious.c), so that the odd
 * unclaimed interrupt of a healthy line never adds up to a storm. The core
 * has no time source (include/irqroute/platform.h), so the caller supplies
 * one: KeAdvanceStormEpoch, called every period (Io's poll does). An
 * unclaimed dispatch two or more epochs after the vector's previous one
 * (more than one whole period, whatever the phase) begins a new window.
 * Without the clock the rules above still hold.
 *
 * STATE. KI_STORM_WINDOW per (CPU, vector), written only by that CPU's
 * dispatcher with interrupts disabled; a nested dispatch cannot interleave
 * (KiNoteUnclaimed runs after the ISR returned, interrupts off). The pair of
 * thresholds is one 64-bit word so that a dispatcher never mixes an old
 * window size with a new threshold.
 */
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

static uint64_t KipPackStormLimits(uint32_t WindowSize, uint32_t Threshold)
{
    return (uint64_t)WindowSize << 32 | Threshold;
}

void KiResetStormDetection(void)
{
    atomic_store_explicit(&KiSystem.StormLimits,
                          KipPackStormLimits(KE_STORM_DEFAULT_WINDOW, KE_STORM_DEFAULT_THRESHOLD),
                          memory_order_relaxed);
    atomic_store_explicit(&KiSystem.StormEpoch, 0, memory_order_relaxed);
    atomic_store_explicit(&KiSystem.StormHandler, NULL, memory_order_relaxed);
    atomic_store_explicit(&KiSystem.StormContext, NULL, memory_order_relaxed);
}

static KI_STORM_WINDOW *KipStormWindow(const KPRCB *Prcb, uint8_t Vector)
{
    return &KiSystem.StormWindows[(size_t)Prcb->Number * 256u + Vector];
}

__attribute__((noinline, cold)) static void KipReportStorm(KPRCB *Prcb, uint8_t Vector, KINTERRUPT *Interrupt,
                                                           uint64_t Dispatched, uint64_t Unclaimed)
{
    PKSTORM_HANDLER Handler = atomic_load_explicit(&KiSystem.StormHandler, memory_order_acquire);
    if (Handler == NULL)
        return;
    KE_STORM_REPORT Report = {
        .Cpu = Prcb->Number,
        .Vector = Vector,
        .Interrupt = Interrupt,
        .Dispatched = Dispatched,
        .Unclaimed = Unclaimed,
    };
    Handler(&Report, atomic_load_explicit(&KiSystem.StormContext, memory_order_relaxed));
}

void KiNoteUnclaimed(KPRCB *Prcb, uint8_t Vector, KINTERRUPT *Interrupt)
{
    KiBumpCounter(&Prcb->Unclaimed[Vector]);
    KI_STORM_WINDOW *Window = KipStormWindow(Prcb, Vector);
    uint32_t Epoch = atomic_load_explicit(&KiSystem.StormEpoch, memory_order_relaxed);
    if (Epoch - Window->LastUnclaimedEpoch >= 2u)
        Window->Unclaimed = 0; /* the previous one is over a period old */
    Window->LastUnclaimedEpoch = Epoch;
    uint64_t Now = atomic_load_explicit(&Prcb->Dispatched[Vector], memory_order_relaxed);
    if (Window->Unclaimed == 0)
        Window->Start = Now - 1; /* a window begins with its first unclaimed dispatch */
    Window->Unclaimed++;

    uint64_t Limits = atomic_load_explicit(&KiSystem.StormLimits, memory_order_relaxed);
    uint32_t WindowSize = (uint32_t)(Limits >> 32);
    uint32_t Threshold = (uint32_t)Limits;
    uint64_t Dispatched = Now - Window->Start;
    if (Dispatched < WindowSize)
        return;
    uint64_t Unclaimed = Window->Unclaimed;
    Window->Unclaimed = 0; /* the next unclaimed dispatch begins the next window */
    if (Unclaimed >= Threshold && Dispatched - Unclaimed <= WindowSize - Threshold)
        KipReportStorm(Prcb, Vector, Interrupt, Dispatched, Unclaimed);
}

IRQ_STATUS KeSetStormHandler(PKSTORM_HANDLER Handler, void *Context)
{
    if (KiSystem.Prcbs == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    /* Context first: a dispatcher that sees the handler sees its context. */
    atomic_store_explicit(&KiSystem.StormContext, Context, memory_order_relaxed);
    atomic_store_explicit(&KiSystem.StormHandler, Handler, memory_order_release);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS KeSetStormThresholds(uint32_t WindowSize, uint32_t Threshold)
{
    if (KiSystem.Prcbs == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (WindowSize == 0 || Threshold == 0 || Threshold > WindowSize)
        return IRQ_STATUS_INVALID_PARAMETER;
    atomic_store_explicit(&KiSystem.StormLimits, KipPackStormLimits(WindowSize, Threshold), memory_order_relaxed);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS KeQueryStormThresholds(uint32_t *WindowSize, uint32_t *Threshold)
{
    if (KiSystem.Prcbs == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    uint64_t Limits = atomic_load_explicit(&KiSystem.StormLimits, memory_order_relaxed);
    if (WindowSize != NULL)
        *WindowSize = (uint32_t)(Limits >> 32);
    if (Threshold != NULL)
        *Threshold = (uint32_t)Limits;
    return IRQ_STATUS_SUCCESS;
}

void KeAdvanceStormEpoch(void)
{
    atomic_fetch_add_explicit(&KiSystem.StormEpoch, 1, memory_order_relaxed);
}

typedef struct _KIP_POLL {
    KINTERRUPT *Interrupt;
    bool Claimed;
} KIP_POLL;

/* KeSynchronizeExecution's routine: the ISR, under the lock it takes. */
static bool KipRunServiceRoutine(void *Context)
{
    KIP_POLL *Poll = Context;
    Poll->Claimed = Poll->Interrupt->ServiceRoutine(Poll->Interrupt, Poll->Interrupt->ServiceContext);
    return Poll->Claimed;
}

IRQ_STATUS KePollInterrupt(KINTERRUPT *Interrupt, bool *Claimed)
{
    if (Interrupt == NULL || Claimed == NULL || Interrupt->Signature != KI_INTERRUPT_SIGNATURE)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (atomic_load_explicit(&Interrupt->Owner, memory_order_acquire) == KeInterruptOwnerNone)
        return IRQ_STATUS_NOT_CONNECTED;
    if (KeGetCurrentIrql() > Interrupt->SynchronizeIrql)
        return IRQ_STATUS_INVALID_IRQL;
    KIP_POLL Poll = {.Interrupt = Interrupt, .Claimed = false};
    (void)KeSynchronizeExecution(Interrupt, KipRunServiceRoutine, &Poll);
    *Claimed = Poll.Claimed;
    return IRQ_STATUS_SUCCESS;
}
