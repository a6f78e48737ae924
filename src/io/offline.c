/* SPDX-License-Identifier: MIT */
/*
 * Taking a CPU out of device interrupt routing and back: IoSetProcessorOffline
 * and IoSetProcessorOnline (io.h).
 *
 * OFFLINE, under IopLock, so that no connect or disconnect runs meanwhile:
 *  1. Refused, with nothing changed, while an interrupt Io cannot move is on
 *     the CPU: a connection without a route (a fixed CPU, an affinity
 *     chosen once, a broadcast) or a shareable line that would have to
 *     leave its affinity. Ke refuses for its own callers' objects and for
 *     the last online CPU (KeSetProcessorOffline), which also stops the
 *     allocator choosing the CPU.
 *  2. Every movable interrupt leaves it, under its route lock: the CPU
 *     leaves the route's set, an interrupt delivered there moves to the
 *     least loaded CPU left in the set (in two phases, src/io/move.c), and
 *     a spread route gives up its link there. An interrupt with no other
 *     online CPU in its affinity gets every online CPU its source reaches,
 *     as Linux does when it breaks affinity, and the caller is told.
 *  3. Outside IopLock: KeDrainRetiringLinks, which returns once the CPU has
 *     retired every link the moves left on it, after dispatching whatever
 *     was still pending in its IRR there. From then on no device interrupt
 *     can reach it.
 * If a move fails midway the CPU is put online again; what moved stays
 * where it went (each move is whole).
 *
 * ONLINE gives the CPU back to every route whose affinity holds it and whose
 * source reaches it; a route whose affinity was broken goes back into its
 * own affinity (moved to the least loaded CPU of it). A spread route links
 * the CPU with its vector when that vector is free there, else leaves the
 * CPU out of its set until its policy changes.
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "iop.h"

static bool IopIsOn(const KINTERRUPT *Interrupt, uint32_t Cpu)
{
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    return IrCpuSetContains(&Cpus, Cpu);
}

/* The route's owner speaks for the route: each route is handled once. */
static bool IopOwnsRoute(const IOP_CONNECTION *Connection)
{
    return Connection->Route != NULL &&
           atomic_load_explicit(&Connection->Route->Owner, memory_order_relaxed) == Connection->Interrupt;
}

/* Step 1's test for one record (under IopLock). */
static bool IopBlocksOffline(const IOP_CONNECTION *Connection, uint32_t Cpu)
{
    if (Connection->Route == NULL)
        return IopIsOn(Connection->Interrupt, Cpu);
    const IOP_ROUTE *Route = Connection->Route;
    if (!Route->Shareable || !IrCpuSetContains(&Route->Set, Cpu))
        return false;
    return IrCpuSetWeight(&Route->Set) == 1u; /* its sharers would have to move off their vector */
}

static KINTERRUPT *IopFindBlocker(uint32_t Cpu)
{
    for (IOP_CONNECTION *Connection = IopFirstConnection(); Connection != NULL; Connection = Connection->Next) {
        if (IopBlocksOffline(Connection, Cpu))
            return Connection->Interrupt;
    }
    return NULL;
}

static uint32_t IopLeastLoaded(const IR_CPU_SET *Cpus)
{
    uint32_t Cpu;
    return KeQueryLeastLoadedProcessor(Cpus, &Cpu) == IRQ_STATUS_SUCCESS ? Cpu : IrCpuSetFirst(Cpus);
}

/* Every sharer of a spread route gives up its link on Cpu (a sharer's
 * object is linked wherever the route's vector is). */
static void IopRetireSharersOn(const IOP_ROUTE *Route, uint32_t Cpu)
{
    for (IOP_CONNECTION *Connection = IopFirstConnection(); Connection != NULL; Connection = Connection->Next) {
        if (Connection->Route == Route)
            (void)KeRetireInterruptLink(Connection->Interrupt, KeInterruptOwnerIo, Cpu, Route->Vector);
    }
}

/* The set without Cpu; if nothing is left, every online CPU the source
 * reaches (affinity broken). */
static IRQ_STATUS IopSetWithout(IOP_ROUTE *Route, uint32_t Cpu, IR_CPU_SET *Rest, bool *Broken)
{
    IrCpuSetCopy(Rest, &Route->Set);
    IrCpuSetRemove(Rest, Cpu);
    *Broken = IrCpuSetIsEmpty(Rest);
    if (!*Broken)
        return IRQ_STATUS_SUCCESS;
    KeQueryOnlineProcessors(Rest); /* Cpu is offline already */
    IopRemoveUnreachableForRoute(Route, Rest);
    return IrCpuSetIsEmpty(Rest) ? IRQ_STATUS_NOT_SUPPORTED : IRQ_STATUS_SUCCESS;
}

/* Step 2 for one route, under its lock. */
static IRQ_STATUS IopEvacuate(IOP_ROUTE *Route, uint32_t Cpu, void *Context)
{
    IO_PROCESSOR_OFFLINE_RESULT *Result = Context;
    uint32_t Here = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    if (!Route->Live || (!IrCpuSetContains(&Route->Set, Cpu) && Here != Cpu))
        return IRQ_STATUS_SUCCESS;
    IR_CPU_SET Rest;
    bool Broken;
    IRQ_STATUS Status = IopSetWithout(Route, Cpu, &Rest, &Broken);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Broken && Route->Spread)
        Route->Spread = false; /* spread over Cpu alone: its one link is there */
    if (Here == Cpu) {
        uint32_t Target = IopLeastLoaded(&Rest);
        Status = Route->Spread ? IopWriteRoute(Route, Target, Route->Vector) : IopMoveToCpu(Route, Target);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
        atomic_store_explicit(&Route->Cpu, Target, memory_order_relaxed);
        Result->Moved++;
    }
    if (Route->Spread)
        IopRetireSharersOn(Route, Cpu);
    IrCpuSetCopy(&Route->Set, &Rest);
    if (Broken) {
        Route->AffinityBroken = true;
        Result->AffinityBroken++;
        if (Result->FirstBroken == NULL)
            Result->FirstBroken = atomic_load_explicit(&Route->Owner, memory_order_relaxed);
    }
    return IopRefreshRouter(Route);
}

typedef IRQ_STATUS (*IOP_ROUTE_ACTION)(IOP_ROUTE *Route, uint32_t Cpu, void *Context);

/* Action on every route once (through its owner), under the route's lock,
 * until one fails (under IopLock). */
static IRQ_STATUS IopForEachRoute(IOP_ROUTE_ACTION Action, uint32_t Cpu, void *Context)
{
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    for (IOP_CONNECTION *Connection = IopFirstConnection(); Connection != NULL && Status == IRQ_STATUS_SUCCESS;
         Connection = Connection->Next) {
        if (!IopOwnsRoute(Connection))
            continue;
        IOP_ROUTE *Route = Connection->Route;
        bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
        Status = Action(Route, Cpu, Context);
        IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
    }
    return Status;
}

IRQ_STATUS IoSetProcessorOffline(uint32_t Cpu, IO_PROCESSOR_OFFLINE_RESULT *Result)
{
    if (KeQueryProcessorCount() == 0)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Result == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    *Result = (IO_PROCESSOR_OFFLINE_RESULT){0};
    if (Cpu >= KeQueryProcessorCount())
        return IRQ_STATUS_INVALID_CPU;
    IrLockAcquire(&IopLock);
    Result->Blocking = IopFindBlocker(Cpu);
    IRQ_STATUS Status = Result->Blocking != NULL ? IRQ_STATUS_ACCESS_DENIED : KeSetProcessorOffline(Cpu);
    if (Status == IRQ_STATUS_SUCCESS) {
        Status = IopForEachRoute(IopEvacuate, Cpu, Result);
        if (Status != IRQ_STATUS_SUCCESS)
            (void)KeSetProcessorOnline(Cpu);
    }
    IrLockRelease(&IopLock);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KeDrainRetiringLinks(Cpu);
    return Status;
}

/* ---- Online ---------------------------------------------------------------------------------- */

/* Every sharer linked on Cpu with the route's vector, if Cpu has it free;
 * false (nothing linked) otherwise. */
static bool IopLinkSharersOn(const IOP_ROUTE *Route, uint32_t Cpu)
{
    if (KeReserveVector(Cpu, Route->Vector) != IRQ_STATUS_SUCCESS)
        return false;
    for (IOP_CONNECTION *Connection = IopFirstConnection(); Connection != NULL; Connection = Connection->Next) {
        if (Connection->Route == Route)
            (void)KeAddInterruptLink(Connection->Interrupt, KeInterruptOwnerIo, Cpu, Route->Vector);
    }
    return true;
}

/* A broken route goes back into its own affinity: the online CPUs of it
 * its source reaches, moved to the least loaded of them. */
static IRQ_STATUS IopMendAffinity(IOP_ROUTE *Route)
{
    IR_CPU_SET Set;
    KeQueryOnlineProcessors(&Set);
    IrCpuSetAnd(&Set, &Set, &Route->Mask);
    IopRemoveUnreachableForRoute(Route, &Set);
    if (IrCpuSetIsEmpty(&Set) || Route->Spread)
        return IRQ_STATUS_SUCCESS; /* a spread route stays where it was put */
    uint32_t Target = IopLeastLoaded(&Set);
    IRQ_STATUS Status = IopMoveToCpu(Route, Target);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IrCpuSetCopy(&Route->Set, &Set);
    Route->AffinityBroken = false;
    return IopRefreshRouter(Route);
}

static IRQ_STATUS IopRejoin(IOP_ROUTE *Route, uint32_t Cpu, void *Context)
{
    (void)Context;
    IR_CPU_SET One;
    IrCpuSetZero(&One);
    IrCpuSetAdd(&One, Cpu);
    IopRemoveUnreachableForRoute(Route, &One);
    if (!Route->Live || !IrCpuSetContains(&Route->Mask, Cpu) || IrCpuSetIsEmpty(&One))
        return IRQ_STATUS_SUCCESS;
    if (Route->AffinityBroken)
        return IopMendAffinity(Route);
    if (IrCpuSetContains(&Route->Set, Cpu) || (Route->Spread && !IopLinkSharersOn(Route, Cpu)))
        return IRQ_STATUS_SUCCESS;
    IrCpuSetAdd(&Route->Set, Cpu);
    return IopRefreshRouter(Route);
}

IRQ_STATUS IoSetProcessorOnline(uint32_t Cpu)
{
    if (KeQueryProcessorCount() == 0)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Cpu >= KeQueryProcessorCount())
        return IRQ_STATUS_INVALID_CPU;
    if (KeIsProcessorOnline(Cpu))
        return IRQ_STATUS_INVALID_STATE;
    IrLockAcquire(&IopLock);
    IRQ_STATUS Status = KeSetProcessorOnline(Cpu);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IopForEachRoute(IopRejoin, Cpu, NULL);
    IrLockRelease(&IopLock);
    return Status;
}
