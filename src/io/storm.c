/* SPDX-License-Identifier: MIT */
/*
 * Interrupt storms, Io's part: masking a source that Ke reported in a storm
 * (src/ke/storm.c), polling it with back-off, and giving it back once a
 * device claims again. docs/storms.md has the whole design.
 *
 * FINDING THE SOURCE FROM INTERRUPT CONTEXT. Ke reports a vector on a CPU
 * and one object linked there. Io's records are under IopLock, a plain lock
 * a CPU holds with interrupts enabled, which interrupt context must never
 * take (that CPU may be the holder). So every connection is also on a list
 * of storm sources under IopStormLock, always taken with interrupts
 * disabled; the handler finds the object's record there by address (never
 * reading the object), and masks what the record names. The list changes
 * under both locks, so the poll (which holds IopLock) may walk it with
 * IopLock alone.
 *
 * LOCK ORDER: IopLock, IopStormLock, a route's lock, the I/O APIC driver's
 * lock. A movable source's mask bit is written under its route's lock, the
 * one that serialises writes to its entry (src/io/route.c): a move of a
 * level line masks the entry around the change and then restores the mask
 * it read, so a mask written by another CPU between the two would be
 * undone. Under the route lock the move reads the storm's mask and keeps it.
 *
 * SHARED LINES. The whole line is masked, as Linux does: a healthy sharer
 * is not served while its line is masked, and the poll runs its ISR with
 * the others', so its device is served at the poll's rate until the line
 * comes back. A level line cannot be masked for one device only.
 *
 * WHY THE POLL UNMASKS ON A CLAIM. A storm is nobody claiming; a claim is
 * the sign a driver serves the device again (a driver reloaded, a device
 * reset that stopped asserting). If the line storms again, it is masked
 * again after another window.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "iop.h"

static IR_LOCK IopStormLock;
static IOP_CONNECTION *IopStormSources; /* IopLock and IopStormLock to change; either to walk */
static uint64_t IopPollCount;           /* IopLock */

/* The records that share Connection's source: its line's sharers, or
 * itself. */
static bool IopSameSource(const IOP_CONNECTION *A, const IOP_CONNECTION *B)
{
    return A == B || (A->Line != NULL && A->Line == B->Line);
}

/* Whether Io can mask the source: a line's entry, or an MSI-X entry Io
 * programmed. */
static bool IopCanMask(const IOP_CONNECTION *Connection)
{
    return Connection->Line != NULL || Connection->Msix;
}

/* Sets the source's mask bit, under the route lock for a movable one (the
 * header comment). A route that retired is being disconnected: left alone
 * (its disconnect masks it). */
static bool IopSetSourceMask(const IOP_CONNECTION *Connection, bool Masked)
{
    IOP_ROUTE *Route = Connection->Route;
    bool WasEnabled = false;
    if (Route != NULL)
        WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    IRQ_STATUS Status = IRQ_STATUS_INVALID_STATE;
    if (Route == NULL || Route->Live) {
        if (Connection->Line != NULL)
            Status = HlIoApicSetMask(Connection->Line->Gsi, Masked);
        else
            Status = HlMsixSetMask(&Connection->MsixTable, Connection->MsixEntry, Masked);
    }
    if (Route != NULL)
        IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
    return Status == IRQ_STATUS_SUCCESS;
}

static IOP_CONNECTION *IopFindStormSource(const KINTERRUPT *Interrupt)
{
    for (IOP_CONNECTION *Connection = IopStormSources; Connection != NULL; Connection = Connection->Storm.Next) {
        if (Connection->Interrupt == Interrupt)
            return Connection;
    }
    return NULL;
}

/* Under IopStormLock: every record of Source's source takes State. */
static void IopSetSourceState(const IOP_CONNECTION *Source, const IOP_STORM *State)
{
    for (IOP_CONNECTION *Connection = IopStormSources; Connection != NULL; Connection = Connection->Storm.Next) {
        if (IopSameSource(Source, Connection)) {
            IOP_CONNECTION *Next = Connection->Storm.Next;
            Connection->Storm = *State;
            Connection->Storm.Next = Next;
        }
    }
}

/* Under IopStormLock, in interrupt context. A source already masked is not
 * masked again (a dispatch in flight on another CPU may still end a
 * window). */
static void IopDeclareStorm(IOP_CONNECTION *Connection)
{
    IOP_STORM State = Connection->Storm;
    State.Storms++;
    if (!State.Masked && IopCanMask(Connection))
        State.Masked = IopSetSourceMask(Connection, true);
    State.Stormed = true;
    State.Interval = 1;
    State.NextPoll = IopPollCount + 1;
    State.Polls = 0;
    IopSetSourceState(Connection, &State);
}

/* Ke's storm handler (ke.h, PKSTORM_HANDLER). A storm on a vector with
 * nothing linked (a stray message), or on an object not in the list (one
 * being disconnected), has no source Io could mask: Ke's counts
 * (KeQueryVectorStatistics) are its record. */
static void IopStormHandler(const KE_STORM_REPORT *Report, void *Context)
{
    (void)Context;
    if (Report->Interrupt == NULL)
        return;
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    IOP_CONNECTION *Connection = IopFindStormSource(Report->Interrupt);
    if (Connection != NULL)
        IopDeclareStorm(Connection);
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
}

void IopRegisterStormSource(IOP_CONNECTION *Connection)
{
    IrLockAssertHeld(&IopLock);
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    /* A new sharer of a line masked for a storm shares its state. */
    IOP_CONNECTION *Sharer = NULL;
    for (IOP_CONNECTION *Other = IopStormSources; Other != NULL && Sharer == NULL; Other = Other->Storm.Next) {
        if (IopSameSource(Connection, Other))
            Sharer = Other;
    }
    Connection->Storm = Sharer != NULL ? Sharer->Storm : (IOP_STORM){0};
    Connection->Storm.Next = IopStormSources;
    IopStormSources = Connection;
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
}

void IopUnregisterStormSource(IOP_CONNECTION *Connection)
{
    IrLockAssertHeld(&IopLock);
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    IOP_CONNECTION **Link = &IopStormSources;
    while (*Link != NULL && *Link != Connection)
        Link = &(*Link)->Storm.Next;
    if (*Link != NULL)
        *Link = Connection->Storm.Next;
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
}

void IopResetStorms(void)
{
    IrLockAssertHeld(&IopLock);
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    IopStormSources = NULL;
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
    IopPollCount = 0;
    (void)KeSetStormHandler(IopStormHandler, NULL); /* NOT_INITIALIZED without a Ke system: nothing to report */
}

/* ---- The poll --------------------------------------------------------------- */

static bool IopIsPollDue(const IOP_CONNECTION *Connection)
{
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    bool Due = Connection->Storm.Masked && Connection->Storm.NextPoll <= IopPollCount;
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
    return Due;
}

/* Under IopLock (no sharer can leave): every ISR of the source once, all
 * of them as Linux's poll does (a level chain would stop at the first
 * claim; here each device gets its chance). */
static bool IopRunSourceIsrs(const IOP_CONNECTION *Source)
{
    bool AnyClaimed = false;
    for (IOP_CONNECTION *Connection = IopStormSources; Connection != NULL; Connection = Connection->Storm.Next) {
        bool Claimed = false;
        if (IopSameSource(Source, Connection) && KePollInterrupt(Connection->Interrupt, &Claimed) == IRQ_STATUS_SUCCESS)
            AnyClaimed |= Claimed;
    }
    return AnyClaimed;
}

/* Under IopLock: unmasks a source that claimed, or backs off. */
static bool IopFinishPoll(IOP_CONNECTION *Source, bool Claimed)
{
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    IOP_STORM State = Source->Storm;
    State.Polls++;
    bool Unmasked = Claimed && IopSetSourceMask(Source, false);
    if (Unmasked) {
        State.Stormed = false;
        State.Masked = false;
        State.Interval = 0;
    } else {
        State.Interval = State.Interval >= IO_STORM_POLL_INTERVAL_CAP / 2 ? IO_STORM_POLL_INTERVAL_CAP
                                                                            : State.Interval * 2;
    }
    State.NextPoll = IopPollCount + State.Interval;
    IopSetSourceState(Source, &State);
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
    return Unmasked;
}

/* ---- The rate limit (io.h, IoSetInterruptRateLimit) ----------------------------- */

/* Whether the limit may apply: a source masked without loss, not shared. */
static bool IopCanRateLimit(const IOP_CONNECTION *Connection)
{
    if (Connection->Line != NULL)
        return Connection->Line->Trigger == HlTriggerLevel && !Connection->Line->Shared;
    return Connection->Msix;
}

/* Under IopLock, at a poll: a source masked for its rate goes free; one
 * over its limit since the last poll is masked until the next. A storm's
 * mask is the storm's business. */
static bool IopIsRateLimited(const IOP_CONNECTION *Connection)
{
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    bool Limited = Connection->Storm.RateLimit != 0 || Connection->Storm.RateMasked;
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
    return Limited;
}

static void IopApplyRateLimit(IOP_CONNECTION *Connection)
{
    if (!IopIsRateLimited(Connection))
        return;
    uint64_t Count = KeQueryInterruptTotalCount(Connection->Interrupt, NULL);
    bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
    IOP_STORM *State = &Connection->Storm;
    uint64_t Since = Count - State->CountAtPoll;
    State->CountAtPoll = Count;
    if (State->RateMasked) {
        State->RateMasked = State->Masked || !IopSetSourceMask(Connection, false);
    } else if (State->RateLimit != 0 && Since > State->RateLimit && !State->Masked &&
               IopSetSourceMask(Connection, true)) {
        State->RateMasked = true;
        State->RateMaskings++;
    }
    IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
}

IRQ_STATUS IoSetInterruptRateLimit(KINTERRUPT *Interrupt, uint64_t MaxPerPoll)
{
    if (Interrupt == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IrLockAcquire(&IopLock);
    IOP_CONNECTION *Connection = IopFindConnection(Interrupt);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (Connection == NULL)
        Status = IopStatusOfUnknownHandle(Interrupt, IRQ_STATUS_NOT_CONNECTED);
    else if (!IopCanRateLimit(Connection))
        Status = IRQ_STATUS_NOT_SUPPORTED;
    if (Status == IRQ_STATUS_SUCCESS) {
        uint64_t Count = KeQueryInterruptTotalCount(Interrupt, NULL);
        bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
        Connection->Storm.RateLimit = MaxPerPoll;
        Connection->Storm.CountAtPoll = Count;
        IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
    }
    IrLockRelease(&IopLock);
    return Status;
}

uint32_t IoPollStormedInterrupts(void)
{
    KeAdvanceStormEpoch();
    uint32_t Unmasked = 0;
    IrLockAcquire(&IopLock);
    IopPollCount++;
    for (IOP_CONNECTION *Connection = IopStormSources; Connection != NULL; Connection = Connection->Storm.Next) {
        /* A sharer's turn comes with its line's first record: the others
         * are no longer due once it has been polled. */
        if (IopIsPollDue(Connection) && IopFinishPoll(Connection, IopRunSourceIsrs(Connection)))
            Unmasked++;
        IopApplyRateLimit(Connection);
    }
    IrLockRelease(&IopLock);
    return Unmasked;
}

IRQ_STATUS IoQueryInterruptStorm(const KINTERRUPT *Interrupt, IO_INTERRUPT_STORM *Storm)
{
    if (Interrupt == NULL || Storm == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IrLockAcquire(&IopLock);
    IOP_CONNECTION *Connection = IopFindConnection(Interrupt);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (Connection == NULL) {
        Status = IopStatusOfUnknownHandle(Interrupt, IRQ_STATUS_NOT_CONNECTED);
    } else {
        bool WasEnabled = IrLockAcquireIrqSave(&IopStormLock);
        IOP_STORM State = Connection->Storm;
        IrLockReleaseIrqRestore(&IopStormLock, WasEnabled);
        *Storm = (IO_INTERRUPT_STORM){
            .Stormed = State.Stormed,
            .Masked = State.Masked,
            .NextPollIn = State.Masked ? (uint32_t)(State.NextPoll - IopPollCount) : 0,
            .Polls = State.Polls,
            .Storms = State.Storms,
            .RateLimit = State.RateLimit,
            .RateMasked = State.RateMasked,
            .RateMaskings = State.RateMaskings,
        };
    }
    IrLockRelease(&IopLock);
    return Status;
}
