/* SPDX-License-Identifier: MIT */
/*
 * Movable interrupts: IoSetInterruptTarget, IoSetInterruptPolicy and the
 * post-dispatch routine that applies ROUND_ROBIN and LOWEST after each
 * interrupt.
 *
 * ONE ROUTING ENGINE. Io makes no routing decision of its own: each movable
 * interrupt has a router route (router.h) whose mask is its set, and the
 * post-dispatch routine asks the router (IrRouteDecideAndPoint) with the
 * CPUs' IRQLs read through Ke (KeQueryProcessorIrql). The rules are the
 * router's, the same the Vic gets. Io is the router's back end for two kinds
 * of source (IR_ROUTE_BACKEND): an I/O APIC line and an MSI message, each of
 * which knows how to point itself at a CPU. An explicit move
 * (IoSetInterruptTarget) goes through IrRoutePointAt, so the route's
 * position is always the current destination: ROUND_ROBIN goes on with the
 * CPU of the set after it, LOWEST's ties rotate from it.
 *
 * TWO PLACEMENTS. A movable interrupt's set is every CPU it may go to.
 *  - On one CPU (the default): one vector on the CPU the entry points at. A
 *    move to another CPU of the set is a move in two phases
 *    (src/io/move.c): the object linked on the new (CPU, vector), the entry
 *    pointed there, the old link retired once its CPU has nothing pending
 *    on it. One vector, wherever it goes.
 *  - Spread: the same vector on every CPU of the set, the object linked on
 *    all of them, so that a move changes nothing but the destination (the
 *    high word of a redirection entry, 82093AA 3.2.4; the address of an
 *    MSI, SDM vol. 3A 11.11.1): one register write, an edge raised during it
 *    goes to the old CPU or the new one, the entry is never masked (an edge
 *    that arrives while masked is lost, 82093AA 3.2.4), and a level line's
 *    Remote IRR is cleared by the EOI of the same vector, whichever CPU
 *    sends it. This is for ROUND_ROBIN and LOWEST, which move after every
 *    interrupt (IoSetInterruptPolicy spreads the route, FIXED gathers it
 *    again), and for a shareable line, whose sharers join where it is
 *    without a move. It costs one vector per CPU of the set.
 *
 * STATE AND LOCKING. A route (iop.h) holds the destination and the router's
 * route (policy, mask, position). Moves happen in interrupt context (the post-dispatch routine, a driver's
 * ISR), so they never take IopLock, a plain lock that a CPU holds with
 * interrupts enabled: every move and every policy change takes the route's
 * own lock with interrupts disabled, which also serialises the writes to the
 * GSI that HlPicRetargetSystemInterrupt requires of its callers, and every
 * decision (so the router's position moves with the destination). Lock
 * order: IopLock, then a route lock, then the router's writer lock, then the
 * I/O APIC driver's lock. The driver's MSI update routine runs under the
 * route lock.
 *
 * LOOKUP WITHOUT IopLock. IoSetInterruptTarget gets a KINTERRUPT; the route
 * is found in IopMovable, an open-addressing table keyed by the object's
 * address. Writers (connect/disconnect, under IopLock) store the route, then
 * publish the object with a release store; a removed slot becomes a
 * tombstone, never empty again (until IoResetInterruptManager), so a reader
 * probing from the hash to the first empty slot passes every slot that was
 * full when its object was inserted. Readers take no lock.
 *
 * LIFETIME. Disconnect (under IopLock) removes the lookup entry and, for the
 * route's last user, retires the route under its lock: no move after that,
 * and a line route masks the entry there, so a move that raced with the
 * disconnect cannot unmask it again. KeDisconnectInterrupt then waits until
 * no dispatch, and so no post-dispatch routine, can still be using the
 * object; only then is the route's reference dropped and, with the last
 * one, its memory freed.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "iop.h"

/* A power of two. Enough for every vector of a few dozen CPUs. */
#define IOP_MOVABLE_SLOTS 1024u
#define IOP_ROUTE_ALIGNMENT IR_ROUTE_ALIGNMENT

typedef struct _IOP_MOVABLE_SLOT {
    const KINTERRUPT *_Atomic Interrupt; /* NULL: never used; IOP_TOMBSTONE: removed */
    IOP_ROUTE *_Atomic Route;
} IOP_MOVABLE_SLOT;

static IOP_MOVABLE_SLOT IopMovable[IOP_MOVABLE_SLOTS];
static uint32_t IopMovableCount; /* IopLock */
static const char IopTombstoneMarker;
#define IOP_TOMBSTONE ((const KINTERRUPT *)(const void *)&IopTombstoneMarker)

/* ---- Lookup table --------------------------------------------------------------- */

static uint32_t IopMovableHash(const KINTERRUPT *Interrupt)
{
    /* Objects are 64-byte aligned: drop the zero bits, then mix (Fibonacci). */
    uint64_t Key = (uint64_t)(uintptr_t)Interrupt >> 6;
    return (uint32_t)((Key * 0x9E3779B97F4A7C15ull) >> 40) & (IOP_MOVABLE_SLOTS - 1u);
}

static IOP_MOVABLE_SLOT *IopProbe(uint32_t Start, uint32_t Step)
{
    return &IopMovable[(Start + Step) & (IOP_MOVABLE_SLOTS - 1u)];
}

bool IopCanRegisterMovable(void)
{
    return IopMovableCount < IOP_MOVABLE_SLOTS;
}

static void IopInsertMovable(const KINTERRUPT *Interrupt, IOP_ROUTE *Route)
{
    IrLockAssertHeld(&IopLock);
    IR_ASSERT(IopMovableCount < IOP_MOVABLE_SLOTS); /* IopCanRegisterMovable was asked first */
    uint32_t Start = IopMovableHash(Interrupt);
    for (uint32_t Step = 0; Step < IOP_MOVABLE_SLOTS; Step++) {
        IOP_MOVABLE_SLOT *Slot = IopProbe(Start, Step);
        const KINTERRUPT *Current = atomic_load_explicit(&Slot->Interrupt, memory_order_relaxed);
        if (Current == NULL || Current == IOP_TOMBSTONE) {
            atomic_store_explicit(&Slot->Route, Route, memory_order_relaxed);
            atomic_store_explicit(&Slot->Interrupt, Interrupt, memory_order_release);
            IopMovableCount++;
            return;
        }
    }
}

static void IopRemoveMovable(const KINTERRUPT *Interrupt)
{
    IrLockAssertHeld(&IopLock);
    uint32_t Start = IopMovableHash(Interrupt);
    for (uint32_t Step = 0; Step < IOP_MOVABLE_SLOTS; Step++) {
        IOP_MOVABLE_SLOT *Slot = IopProbe(Start, Step);
        const KINTERRUPT *Current = atomic_load_explicit(&Slot->Interrupt, memory_order_relaxed);
        if (Current == Interrupt) {
            atomic_store_explicit(&Slot->Interrupt, IOP_TOMBSTONE, memory_order_release);
            IopMovableCount--;
            return;
        }
        if (Current == NULL)
            return;
    }
}

/* Lock-free: see the header comment. */
static IOP_ROUTE *IopFindMovable(const KINTERRUPT *Interrupt)
{
    uint32_t Start = IopMovableHash(Interrupt);
    for (uint32_t Step = 0; Step < IOP_MOVABLE_SLOTS; Step++) {
        IOP_MOVABLE_SLOT *Slot = IopProbe(Start, Step);
        const KINTERRUPT *Current = atomic_load_explicit(&Slot->Interrupt, memory_order_acquire);
        if (Current == Interrupt)
            return atomic_load_explicit(&Slot->Route, memory_order_relaxed);
        if (Current == NULL)
            return NULL;
    }
    return NULL;
}

void IopResetRoutes(void)
{
    IrLockAssertHeld(&IopLock);
    for (uint32_t Index = 0; Index < IOP_MOVABLE_SLOTS; Index++) {
        atomic_store_explicit(&IopMovable[Index].Interrupt, NULL, memory_order_relaxed);
        atomic_store_explicit(&IopMovable[Index].Route, NULL, memory_order_relaxed);
    }
    IopMovableCount = 0;
}

/* ---- The back ends: "point this line or message at CPU c" (router.h) ------------------ */

/* The driver writes the new message (from a move's intermediate step on,
 * only the address or only the data differs from what it had, so the order
 * of its register writes does not matter: src/io/move.c). A message in an
 * MSI-X table Io programs is rewritten there (masked around the rewrite,
 * HlMsixWriteEntry: what the device raises meanwhile waits in the PBA and
 * goes to the new CPU). A remapped message stays as it is: its remapping
 * table entry moves. */
static IRQ_STATUS IopWriteMessage(IOP_ROUTE *Route, const HL_INTERRUPT_TARGET *Target, uint8_t Vector)
{
    if (Route->Remapped)
        return HlMsiRetargetRemapped(&Route->Remapping, Target, Vector);
    HL_MSI_MESSAGE Message;
    IRQ_STATUS Status = HlMsiComposeMessage(Target, Vector, HlTriggerEdge, &Message);
    if (Status == IRQ_STATUS_SUCCESS && Route->Msix)
        return HlMsixWriteEntry(&Route->MsixTable, Route->MsixEntry, &Message);
    if (Status == IRQ_STATUS_SUCCESS)
        Route->UpdateMessage(atomic_load_explicit(&Route->Owner, memory_order_relaxed), &Message,
                             Route->UpdateContext);
    return Status;
}

IRQ_STATUS IopWriteRoute(IOP_ROUTE *Route, uint32_t Cpu, uint8_t Vector)
{
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = Cpu};
    if (Route->Kind == IopRouteLine)
        return HlPicRetargetSystemInterrupt(Route->Gsi, Vector, &Target);
    return IopWriteMessage(Route, &Target, Vector);
}

/* The router's back end for both kinds of source, under the route lock (the
 * router calls it from Io's calls only). A retired route moves no more; a
 * move to where it is writes nothing; a spread route changes only its
 * destination, a route on one CPU moves in two phases; a failed move leaves
 * it where it was. */
static IRQ_STATUS IopPointAt(void *Source, uint32_t Cpu)
{
    IOP_ROUTE *Route = Source;
    if (!Route->Live)
        return IRQ_STATUS_NOT_CONNECTED;
    if (Cpu == atomic_load_explicit(&Route->Cpu, memory_order_relaxed))
        return IRQ_STATUS_SUCCESS;
    if (!Route->Spread)
        return IopMoveToCpu(Route, Cpu);
    IRQ_STATUS Status = IopWriteRoute(Route, Cpu, Route->Vector);
    if (Status == IRQ_STATUS_SUCCESS)
        atomic_store_explicit(&Route->Cpu, Cpu, memory_order_relaxed);
    return Status;
}

/* One physical destination at a time (a broadcast is a logical destination
 * chosen at connect, IoTargetBroadcast). */
static const IR_ROUTE_BACKEND IopBackend = {.PointAt = IopPointAt};

/* ---- The router's inputs ------------------------------------------------------------- */

/* The CPU running this dispatch is recorded at the ISR's synchronize IRQL
 * until it returns, so for it the IRQL it was interrupted at counts (Ke
 * passes it to the post-dispatch routine). */
typedef struct _IOP_DISPATCH_VIEW {
    uint32_t Cpu;     /* IR_CPU_NONE outside a dispatch */
    KIRQL Irql;
} IOP_DISPATCH_VIEW;

/* The IRQL a CPU will be at when the next interrupt arrives (LOWEST). */
static uint32_t IopReadIrql(const void *Context, uint32_t Cpu)
{
    const IOP_DISPATCH_VIEW *View = Context;
    return Cpu == View->Cpu ? View->Irql : KeQueryProcessorIrql(Cpu);
}

/* The route's mask is its set, which holds only online CPUs (a CPU going
 * offline leaves every set under the route's lock, src/io/offline.c), so a
 * decision needs no online check (KeIsProcessorOnline takes a global
 * lock). Load is not an input: AFFINITY is a connect-time choice. */
static IR_ROUTING_INPUTS IopInputs(const IOP_DISPATCH_VIEW *View)
{
    return (IR_ROUTING_INPUTS){.ReadLevel = IopReadIrql, .Context = View};
}

static const IOP_DISPATCH_VIEW IopNoDispatch = {.Cpu = IR_CPU_NONE};

/* ---- After each interrupt ------------------------------------------------------------- */

static IR_ROUTING_POLICY IopPolicyOf(const IOP_ROUTE *Route)
{
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    (void)IrRouteQueryConfig(Route->Router, &Policy, NULL, NULL);
    return Policy;
}

/* Ke calls this on the dispatching CPU after each sharer's ISR, interrupts
 * disabled. Only the owner's call counts, so a shared line moves once per
 * interrupt; the owner is the chain's head, which runs on every dispatch
 * (level-triggered chains stop at the first claim). The router decides and
 * moves through the back end; a failed move leaves the route where it was. */
static void IopRoutePostDispatch(KINTERRUPT *Interrupt, uint32_t Cpu, KIRQL InterruptedIrql, void *Context)
{
    IOP_ROUTE *Route = Context;
    if (atomic_load_explicit(&Route->Owner, memory_order_relaxed) != Interrupt)
        return;
    /* A move's old link that found its vector pending: it has just been
     * dispatched, here or elsewhere, so ask its CPU again (ke.h). */
    if (__builtin_expect(KeQueryInterruptRetiringLinks(Interrupt) != 0, 0))
        (void)KeRetryInterruptRetirement(Interrupt, KeInterruptOwnerIo);
    if (IopPolicyOf(Route) == IrRoutingFixedCpu)
        return;
    IOP_DISPATCH_VIEW View = {.Cpu = Cpu, .Irql = InterruptedIrql};
    IR_ROUTING_INPUTS Inputs = IopInputs(&View);
    IR_ROUTING_DECISION Decision;
    bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    if (Route->Live)
        (void)IrRouteDecideAndPoint(Route->Router, &Inputs, Route->Backend, Route, &Decision);
    IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
}

/* ---- Route lifetime (under IopLock) ---------------------------------------------------- */

static size_t IopRouterOffset(void)
{
    return (sizeof(IOP_ROUTE) + IR_ROUTE_ALIGNMENT - 1u) & ~(size_t)(IR_ROUTE_ALIGNMENT - 1u);
}

/* One allocation: the route, then the router's route over every CPU Ke has,
 * FIXED to Cpu with the set as its mask (what IoSetInterruptPolicy keeps). */
IOP_ROUTE *IopCreateRoute(IOP_ROUTE_KIND Kind, const IR_CPU_SET *Mask, const IR_CPU_SET *Set, uint8_t Vector,
                          uint32_t Cpu, bool Spread)
{
    size_t RouterSize = IrRouteQueryStorageSize(KeQueryProcessorCount());
    if (RouterSize == 0)
        return NULL;
    size_t Size = IopRouterOffset() + RouterSize;
    IOP_ROUTE *Route = PlatAllocateMemory(Size, IOP_ROUTE_ALIGNMENT);
    if (Route == NULL)
        return NULL;
    IR_ROUTING_INPUTS Inputs = IopInputs(&IopNoDispatch);
    IR_ROUTE_CONFIG Fixed = {.Policy = IrRoutingFixedCpu, .TargetCpu = Cpu, .Mask = Set};
    if (IrRouteInitialize((uint8_t *)Route + IopRouterOffset(), RouterSize, KeQueryProcessorCount(),
                          &Route->Router) != IRQ_STATUS_SUCCESS ||
        IrRouteConfigure(Route->Router, &Fixed, &Inputs) != IRQ_STATUS_SUCCESS) {
        PlatFreeMemory(Route, Size);
        return NULL;
    }
    IrLockInitialize(&Route->Lock);
    Route->AllocationSize = Size;
    Route->Live = true;
    Route->Kind = Kind;
    Route->Backend = &IopBackend;
    Route->Shareable = Spread;
    Route->Spread = Spread;
    Route->Vector = Vector;
    atomic_store_explicit(&Route->Cpu, Cpu, memory_order_relaxed);
    atomic_store_explicit(&Route->Owner, NULL, memory_order_relaxed);
    atomic_store_explicit(&Route->References, 0, memory_order_relaxed);
    IrCpuSetCopy(&Route->Set, Set);
    IrCpuSetCopy(&Route->Mask, Mask);
    Route->AffinityBroken = false;
    return Route;
}

void IopDestroyRoute(IOP_ROUTE *Route)
{
    PlatFreeMemory(Route, Route->AllocationSize);
}

/* The routine's context store is ordered before the routine (release, in
 * KeSetInterruptPostDispatch), and the lookup entry is published with a
 * release store: whoever finds the route sees it initialised. */
void IopAttachRoute(IOP_CONNECTION *Connection, IOP_ROUTE *Route)
{
    Connection->Route = Route;
    atomic_fetch_add_explicit(&Route->References, 1, memory_order_relaxed);
    if (atomic_load_explicit(&Route->Owner, memory_order_relaxed) == NULL)
        atomic_store_explicit(&Route->Owner, Connection->Interrupt, memory_order_relaxed);
    (void)KeSetInterruptPostDispatch(Connection->Interrupt, IopRoutePostDispatch, Route);
    IopInsertMovable(Connection->Interrupt, Route);
}

void IopDetachRoute(IOP_CONNECTION *Connection, KINTERRUPT *NewOwner)
{
    IOP_ROUTE *Route = Connection->Route;
    IopRemoveMovable(Connection->Interrupt);
    if (atomic_load_explicit(&Route->Owner, memory_order_relaxed) == Connection->Interrupt)
        atomic_store_explicit(&Route->Owner, NewOwner, memory_order_relaxed);
}

void IopRetireRoute(IOP_ROUTE *Route)
{
    IrLockAssertHeld(&IopLock);
    bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    Route->Live = false;
    if (Route->Kind == IopRouteLine)
        (void)HlPicFreeSystemInterrupt(Route->Gsi);
    IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
}

void IopReleaseRoute(IOP_ROUTE *Route)
{
    if (atomic_fetch_sub_explicit(&Route->References, 1, memory_order_acq_rel) == 1)
        IopDestroyRoute(Route);
}

/* ---- The API -------------------------------------------------------------------------- */

/* The table decides before anything reads the object: a movable Io object
 * is in it. Anything else is judged without IopLock (these calls run in
 * interrupt context) by IopStatusOfUnknownHandle, which asks Ke's record of
 * connected objects and so never reads a handle Io has freed
 * (src/io/registry.c, STALE HANDLES): an Io object without a route is not
 * movable, an object Ke connected is not Io's, a handle Io disconnected is
 * not connected. */
static IRQ_STATUS IopLookupRoute(const KINTERRUPT *Interrupt, IOP_ROUTE **Route)
{
    if (Interrupt == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    *Route = IopFindMovable(Interrupt);
    if (*Route != NULL)
        return IRQ_STATUS_SUCCESS;
    return IopStatusOfUnknownHandle(Interrupt, IRQ_STATUS_NOT_SUPPORTED);
}

/* Whether Cpu is in the route's set now (a CPU going offline leaves it). */
static bool IopSetContains(IOP_ROUTE *Route, uint32_t Cpu)
{
    bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    bool Contains = Cpu < IR_MAX_CPUS && IrCpuSetContains(&Route->Set, Cpu);
    IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
    return Contains;
}

/* The router's own INVALID_CPU test (IrRoutePointAt) is the same one. */
IRQ_STATUS IopCheckRetarget(const KINTERRUPT *Interrupt, bool CheckCpu, uint32_t Cpu)
{
    IOP_ROUTE *Route;
    IRQ_STATUS Status = IopLookupRoute(Interrupt, &Route);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (CheckCpu && !IopSetContains(Route, Cpu))
        return IRQ_STATUS_INVALID_CPU;
    return IRQ_STATUS_SUCCESS;
}

/* Cpu must be a CPU of the set (the router's mask: INVALID_CPU otherwise,
 * CPUs beyond the count and IR_CPU_NONE included). */
IRQ_STATUS IoSetInterruptTarget(KINTERRUPT *Interrupt, uint32_t Cpu)
{
    IOP_ROUTE *Route;
    IRQ_STATUS Status = IopLookupRoute(Interrupt, &Route);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IR_ROUTING_INPUTS Inputs = IopInputs(&IopNoDispatch);
    bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    Status = IrRoutePointAt(Route->Router, &Inputs, Route->Backend, Route, Cpu);
    IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
    return Status;
}

/* The policies Io carries out by moving the destination (io.h); broadcast
 * and affinity are chosen when connecting. */
static bool IopIsRetargetingPolicy(IR_ROUTING_POLICY Policy)
{
    return Policy == IrRoutingFixedCpu || Policy == IrRoutingRoundRobin || Policy == IrRoutingLowestPriority;
}

/* The new policy over the same set, FIXED to where the interrupt is now;
 * then the router is told that the source is there (IrRoutePointAt writes
 * nothing, the destination being the same), so a rotation starts after the
 * current destination. */
IRQ_STATUS IoSetInterruptPolicy(KINTERRUPT *Interrupt, IR_ROUTING_POLICY Policy)
{
    if ((unsigned)Policy >= IrRoutingPolicyCount)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!IopIsRetargetingPolicy(Policy))
        return IRQ_STATUS_NOT_SUPPORTED;
    IOP_ROUTE *Route;
    IRQ_STATUS Status = IopLookupRoute(Interrupt, &Route);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IR_ROUTING_INPUTS Inputs = IopInputs(&IopNoDispatch);
    bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    uint32_t Here = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    IR_ROUTE_CONFIG Config = {.Policy = Policy, .TargetCpu = Here, .Mask = &Route->Set};
    if (!Route->Live)
        Status = IRQ_STATUS_NOT_CONNECTED;
    else if (Policy != IrRoutingFixedCpu)
        Status = IopSpreadRoute(Route); /* they move after every interrupt: src/io/move.c */
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IrRouteConfigure(Route->Router, &Config, &Inputs);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IrRoutePointAt(Route->Router, &Inputs, Route->Backend, Route, Here);
    if (Status == IRQ_STATUS_SUCCESS && Policy == IrRoutingFixedCpu)
        IopGatherRoute(Route);
    IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
    return Status;
}

IRQ_STATUS IoQueryInterruptTarget(const KINTERRUPT *Interrupt, uint32_t *Cpu, IR_ROUTING_POLICY *Policy)
{
    IOP_ROUTE *Route;
    IRQ_STATUS Status = IopLookupRoute(Interrupt, &Route);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Cpu != NULL)
        *Cpu = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    if (Policy != NULL)
        *Policy = IopPolicyOf(Route);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS IoQueryInterruptAffinity(const KINTERRUPT *Interrupt, IR_CPU_SET *Affinity)
{
    if (Affinity == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IOP_ROUTE *Route;
    IRQ_STATUS Status = IopLookupRoute(Interrupt, &Route);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    IrCpuSetCopy(Affinity, &Route->Set);
    IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
    return IRQ_STATUS_SUCCESS;
}

void IopRemoveUnreachableForRoute(const IOP_ROUTE *Route, IR_CPU_SET *Cpus)
{
    uint32_t Source = Route->Kind == IopRouteLine ? Route->Gsi : Route->Remapped ? IOP_REMAPPED_MESSAGE : IOP_NO_GSI;
    IopRemoveUnreachableCpus(Cpus, Source);
}

IRQ_STATUS IopRefreshRouter(IOP_ROUTE *Route)
{
    IR_ROUTING_INPUTS Inputs = IopInputs(&IopNoDispatch);
    uint32_t Here = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    IR_ROUTE_CONFIG Config = {.Policy = IopPolicyOf(Route), .TargetCpu = Here, .Mask = &Route->Set};
    IRQ_STATUS Status = IrRouteConfigure(Route->Router, &Config, &Inputs);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IrRoutePointAt(Route->Router, &Inputs, Route->Backend, Route, Here);
    return Status;
}

/* The message a movable message-based interrupt's device should hold now:
 * composed for where it is (a remapped message never changes: its table
 * entry moves, so it is left as the caller has it). */
IRQ_STATUS IopQueryRouteMessage(const KINTERRUPT *Interrupt, HL_MSI_MESSAGE *Message)
{
    IOP_ROUTE *Route;
    IRQ_STATUS Status = IopLookupRoute(Interrupt, &Route);
    if (Status != IRQ_STATUS_SUCCESS || Route->Kind != IopRouteMessage || Route->Remapped)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&Route->Lock);
    HL_INTERRUPT_TARGET Target = {.Kind = HlTargetCpu, .Cpu = atomic_load_explicit(&Route->Cpu, memory_order_relaxed)};
    Status = HlMsiComposeMessage(&Target, Route->Vector, HlTriggerEdge, Message);
    IrLockReleaseIrqRestore(&Route->Lock, WasEnabled);
    return Status;
}
