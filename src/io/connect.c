/* SPDX-License-Identifier: MIT */
/*
 * IoConnectInterrupt, IoConnectInterruptEx and IoDisconnectInterrupt.
 *
 * Connect order: validate everything, allocate the vector, build the object,
 * publish it in the target CPUs' vector tables (Ke, release), and only then
 * program and unmask the redirection entry (Hl): an interrupt can never
 * arrive at a vector nobody listens on. Disconnect runs the other way: mask
 * the entry if this was the line's last user, unlink and wait for in-flight
 * dispatches (Ke), then free.
 *
 * A movable target (IoTargetRoutable) gets one vector on one CPU of its
 * set (the online CPUs of the mask a device reaches), delivered there, and
 * an object with spare link slots so that it can move anywhere in the set
 * in two phases; a shareable line is planned like a broadcast instead, one
 * vector on every CPU of the set, so that sharers joining later need no
 * move (src/io/route.c says why). The route is created before anything is
 * published and attached once the object is connected.
 *
 * Where Io chooses the CPU itself (an affinity mask's least-loaded CPU, the
 * set a movable interrupt moves over, a device's spread) it chooses only
 * among CPUs the line or message can reach (HlIsProcessorReachableByLine /
 * ByDevices: an 8-bit destination cannot name an APIC id of 0xFF or above,
 * unless the line goes through a remapping unit), so such
 * CPUs of a mask are skipped rather than picked and then refused by Hl.
 * IopRemoveUnreachableCpus is the one place that applies the rule. A CPU the
 * caller names (IoTargetCpu) is not replaced: Hl refuses it.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "iop.h"

/* Debug checks (src/base/irassert.h) of one of Io's records as a connect
 * leaves it or a disconnect finds it, under IopLock (iop.h): the object is
 * Io's, a line-based record has its line in use with a user and the
 * object's vector, a route is referenced, has the object's vector and
 * points at a CPU of its set. Nothing in a release build. */
static void IopAssertRecordSound(const IOP_CONNECTION *Connection)
{
    IrLockAssertHeld(&IopLock);
    const KINTERRUPT *Interrupt = Connection->Interrupt;
    IR_ASSERT(Interrupt != NULL && KeQueryInterruptOwner(Interrupt) == KeInterruptOwnerIo);
    IR_ASSERT((Connection->Kind == IopLineBased) == (Connection->Line != NULL));
    if (Connection->Line != NULL) {
        IR_ASSERT(Connection->Line->InUse && Connection->Line->Users > 0);
        IR_ASSERT(Connection->Line->Route != NULL || Connection->Line->Vector == KeGetInterruptVector(Interrupt));
    }
    if (Connection->Route != NULL) {
        IR_ASSERT(atomic_load_explicit(&Connection->Route->References, memory_order_relaxed) > 0);
        IR_ASSERT(IrCpuSetContains(&Connection->Route->Set,
                                   atomic_load_explicit(&Connection->Route->Cpu, memory_order_relaxed)));
    }
}

/* What a connection request resolved to, before anything was changed. */
typedef struct _IOP_PLAN {
    uint32_t Gsi;           /* the line's, or IOP_NO_GSI for a message */
    IR_CPU_SET Cpus;        /* CPUs whose vector tables get the object */
    HL_INTERRUPT_TARGET Target;
    uint8_t Vector;
    KIRQL Irql;
    bool Broadcast;
    bool Movable;           /* Cpus get the object, Target.Cpu gets the line */
    bool Spread;            /* movable with its vector on every CPU of RouteSet */
    IR_CPU_SET RouteSet;    /* movable: where it may go */
    uint32_t SpareLinks;    /* movable and not spread: the object's slots for moves */
} IOP_PLAN;

static bool IopIsValidMode(KINTERRUPT_MODE Mode)
{
    return Mode == LevelSensitive || Mode == Latched;
}

/* ---- Target selection and vector allocation --------------------------------- */

void IopRemoveUnreachableCpus(IR_CPU_SET *Cpus, uint32_t Gsi)
{
    uint32_t Cpu;
    uint32_t ApicId;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        bool Reachable = Gsi == IOP_REMAPPED_MESSAGE ? HlGetProcessorApicId(Cpu, &ApicId) == IRQ_STATUS_SUCCESS
                         : Gsi != IOP_NO_GSI         ? HlIsProcessorReachableByLine(Gsi, Cpu)
                                                     : HlIsProcessorReachableByDevices(Cpu);
        if (!Reachable)
            IrCpuSetRemove(Cpus, Cpu); /* the walk goes on above Cpu */
    }
}

/* The online CPUs of Mask that the plan's source can reach. */
static IRQ_STATUS IopSelectDeliveryCpus(const IR_CPU_SET *Mask, uint32_t Gsi, IR_CPU_SET *Cpus)
{
    KeQueryOnlineProcessors(Cpus);
    IrCpuSetAnd(Cpus, Cpus, Mask);
    if (IrCpuSetIsEmpty(Cpus))
        return IRQ_STATUS_EMPTY_AFFINITY;
    IopRemoveUnreachableCpus(Cpus, Gsi);
    return IrCpuSetIsEmpty(Cpus) ? IRQ_STATUS_NOT_SUPPORTED : IRQ_STATUS_SUCCESS;
}

/* The starting CPU, when one is named, must be an online CPU of the mask. */
static IRQ_STATUS IopCheckRoutableTarget(const IO_INTERRUPT_TARGET *Target)
{
    if (Target->Mask == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Target->Cpu == IR_CPU_NONE)
        return IRQ_STATUS_SUCCESS;
    if (!IrCpuSetContains(Target->Mask, Target->Cpu) || !KeIsProcessorOnline(Target->Cpu))
        return IRQ_STATUS_INVALID_CPU;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS IopCheckTarget(const IO_INTERRUPT_TARGET *Target)
{
    switch (Target->Kind) {
    case IoTargetDefault:
        return IRQ_STATUS_SUCCESS;
    case IoTargetCpu:
        if (Target->Cpu >= KeQueryProcessorCount())
            return IRQ_STATUS_INVALID_CPU;
        return KeIsProcessorOnline(Target->Cpu) ? IRQ_STATUS_SUCCESS : IRQ_STATUS_EMPTY_AFFINITY;
    case IoTargetAffinity:
    case IoTargetBroadcast:
        return Target->Mask == NULL ? IRQ_STATUS_INVALID_PARAMETER : IRQ_STATUS_SUCCESS;
    case IoTargetRoutable:
        return IopCheckRoutableTarget(Target);
    default:
        return IRQ_STATUS_INVALID_PARAMETER;
    }
}

static IRQ_STATUS IopCheckIrqls(KIRQL Irql, KIRQL SynchronizeIrql)
{
    if (Irql != KE_IRQL_ANY && Irql >= KE_IRQL_COUNT)
        return IRQ_STATUS_INVALID_IRQL;
    if (SynchronizeIrql > HIGH_LEVEL)
        return IRQ_STATUS_INVALID_IRQL;
    if (SynchronizeIrql != 0 && Irql != KE_IRQL_ANY && SynchronizeIrql < Irql)
        return IRQ_STATUS_INVALID_IRQL;
    return IRQ_STATUS_SUCCESS;
}

static void IopFreePlanVectors(const IOP_PLAN *Plan)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Plan->Cpus)
        (void)KeFreeVector(Cpu, Plan->Vector);
}

/* The least-loaded CPU of Cpus (ties: the lowest), from the vector
 * matrix's search, the one least-loaded search there is. Called after the
 * set's common vector was taken, which loaded every CPU of it alike. Should
 * no CPU have a vector left, they are all equally full: the lowest. */
static uint32_t IopLeastLoadedOf(const IR_CPU_SET *Cpus)
{
    uint32_t Cpu;
    return KeQueryLeastLoadedProcessor(Cpus, &Cpu) == IRQ_STATUS_SUCCESS ? Cpu : IrCpuSetFirst(Cpus);
}

static IR_CPU_SET IopOneCpu(uint32_t Cpu)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, Cpu);
    return Set;
}

/* The set: every online CPU of the mask that a device can reach, so no
 * later move can fail for want of a destination. A named starting CPU is
 * taken as the caller named it, as IoTargetCpu is: if no device reaches it,
 * programming the entry or composing the message refuses it (NOT_SUPPORTED)
 * and the connect unwinds.
 *  - Spread (a shareable line): one vector on every CPU of the set, the
 *    object linked on all of them; moves change only the destination.
 *  - Otherwise one vector on one CPU (the named one, or the least loaded of
 *    the set, Ke's choice), and slots for moves: one per CPU of the set (a
 *    policy that spreads it, IoSetInterruptPolicy) plus the two a move's
 *    intermediate step adds (src/io/route.c). */
static IRQ_STATUS IopAllocateRoutable(const IO_INTERRUPT_TARGET *Target, KIRQL Irql, bool Spread, IOP_PLAN *Plan)
{
    IRQ_STATUS Status = IopSelectDeliveryCpus(Target->Mask, Plan->Gsi, &Plan->RouteSet);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    uint32_t Cpu = Target->Cpu;
    if (Spread) {
        IrCpuSetCopy(&Plan->Cpus, &Plan->RouteSet);
        Status = KeAllocateVectorOnSet(&Plan->Cpus, Irql, &Plan->Vector);
        if (Status == IRQ_STATUS_SUCCESS && Cpu == IR_CPU_NONE)
            Cpu = IopLeastLoadedOf(&Plan->Cpus);
        Plan->SpareLinks = 0;
    } else {
        IR_CPU_SET Candidates;
        if (Cpu != IR_CPU_NONE)
            Candidates = IopOneCpu(Cpu);
        else
            IrCpuSetCopy(&Candidates, &Plan->RouteSet);
        Status = KeAllocateVector(&Candidates, Irql, &Cpu, &Plan->Vector);
        IrCpuSetZero(&Plan->Cpus);
        IrCpuSetAdd(&Plan->Cpus, Cpu);
        Plan->SpareLinks = IrCpuSetWeight(&Plan->RouteSet) + 2u;
    }
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Plan->Target = (HL_INTERRUPT_TARGET){.Kind = HlTargetCpu, .Cpu = Cpu};
    Plan->Movable = true;
    Plan->Spread = Spread;
    Plan->Irql = KeIrqlOfVector(Plan->Vector);
    return IRQ_STATUS_SUCCESS;
}

/* Allocates the vector for a new line or message and fills the plan. An
 * affinity mask is narrowed to the CPUs a device can reach before Ke picks
 * the least-loaded one; a single named CPU is taken as it is. */
static IRQ_STATUS IopAllocateForTarget(const IO_INTERRUPT_TARGET *Target, KIRQL Irql, bool Shareable,
                                       IOP_PLAN *Plan)
{
    IR_CPU_SET Candidates;
    IRQ_STATUS Status;
    uint32_t Cpu = 0;

    IrCpuSetZero(&Plan->Cpus);
    Plan->Movable = false;
    Plan->Spread = false;
    Plan->SpareLinks = 0;
    Plan->Broadcast = Target->Kind == IoTargetBroadcast;
    if (Target->Kind == IoTargetRoutable)
        return IopAllocateRoutable(Target, Irql, Shareable, Plan);
    if (Plan->Broadcast) {
        Status = KeAllocateVectorOnSet(Target->Mask, Irql, &Plan->Vector);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
        IrCpuSetCopy(&Plan->Cpus, Target->Mask);
        Plan->Target = (HL_INTERRUPT_TARGET){.Kind = HlTargetCpuSetFixed, .CpuSet = &Plan->Cpus};
    } else {
        if (Target->Kind == IoTargetAffinity) {
            Status = IopSelectDeliveryCpus(Target->Mask, Plan->Gsi, &Candidates);
            if (Status != IRQ_STATUS_SUCCESS)
                return Status;
        } else {
            IrCpuSetZero(&Candidates);
            IrCpuSetAdd(&Candidates, Target->Kind == IoTargetCpu ? Target->Cpu : 0);
        }
        Status = KeAllocateVector(&Candidates, Irql, &Cpu, &Plan->Vector);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
        IrCpuSetAdd(&Plan->Cpus, Cpu);
        Plan->Target = (HL_INTERRUPT_TARGET){.Kind = HlTargetCpu, .Cpu = Cpu};
    }
    Plan->Irql = KeIrqlOfVector(Plan->Vector);
    return IRQ_STATUS_SUCCESS;
}

/* Everything a new line or message needs before an object exists: the
 * vector(s), the synchronize IRQL check and, for a movable target, the
 * route. On failure nothing is left allocated. */
static IRQ_STATUS IopPlanNewTarget(const IO_INTERRUPT_TARGET *Target, KIRQL Irql, KIRQL SynchronizeIrql,
                                   IOP_ROUTE_KIND RouteKind, bool Shareable, IOP_PLAN *Plan, IOP_ROUTE **Route)
{
    *Route = NULL;
    if (Target->Kind == IoTargetRoutable && !IopCanRegisterMovable())
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    IRQ_STATUS Status = IopAllocateForTarget(Target, Irql, Shareable, Plan);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (SynchronizeIrql != 0 && SynchronizeIrql < Plan->Irql) {
        Status = IRQ_STATUS_INVALID_IRQL;
    } else if (Plan->Movable) {
        *Route = IopCreateRoute(RouteKind, Target->Mask, &Plan->RouteSet, Plan->Vector, Plan->Target.Cpu,
                                Plan->Spread);
        if (*Route == NULL)
            Status = IRQ_STATUS_INSUFFICIENT_RESOURCES;
    }
    if (Status != IRQ_STATUS_SUCCESS)
        IopFreePlanVectors(Plan);
    return Status;
}

/* ---- Object construction ----------------------------------------------------- */

typedef struct _IOP_OBJECT_REQUEST {
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;
    KIRQL SynchronizeIrql; /* 0: the plan's IRQL */
    KINTERRUPT_MODE Mode;
    KINTERRUPT_POLARITY Polarity;
    bool ShareVector;
    const IR_CPU_SET *Affinity;
} IOP_OBJECT_REQUEST;

/* Allocates the record + object and connects the object in Ke. */
static IRQ_STATUS IopBuildAndConnect(const IOP_OBJECT_REQUEST *Request, const IOP_PLAN *Plan,
                                     IOP_CONNECTION **ConnectionOut)
{
    void *Storage;
    size_t StorageSize;
    IOP_CONNECTION *Connection =
        IopAllocateConnection(IrCpuSetWeight(&Plan->Cpus) + Plan->SpareLinks, &Storage, &StorageSize);
    if (Connection == NULL)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;

    KE_INTERRUPT_PARAMETERS Parameters = {
        .ServiceRoutine = Request->ServiceRoutine,
        .ServiceContext = Request->ServiceContext,
        .SpinLock = Request->SpinLock,
        .Vector = Plan->Vector,
        .Irql = Plan->Irql,
        .SynchronizeIrql = Request->SynchronizeIrql != 0 ? Request->SynchronizeIrql : Plan->Irql,
        .Mode = Request->Mode,
        .Polarity = Request->Polarity,
        .ShareVector = Request->ShareVector,
        .Cpus = &Plan->Cpus,
        .Affinity = Request->Affinity,
        .SpareLinks = Plan->SpareLinks,
    };
    IRQ_STATUS Status = KeInitializeInterrupt(Storage, StorageSize, &Parameters, &Connection->Interrupt);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KeConnectInterruptAs(Connection->Interrupt, KeInterruptOwnerIo);
    if (Status != IRQ_STATUS_SUCCESS) {
        IopFreeConnection(Connection);
        return Status;
    }
    *ConnectionOut = Connection;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Fully specified (NT's IoConnectInterrupt) -------------------------------- */

IRQ_STATUS IoConnectInterrupt(KINTERRUPT **InterruptObject, PKSERVICE_ROUTINE ServiceRoutine, void *ServiceContext,
                              KSPIN_LOCK *SpinLock, uint32_t Vector, KIRQL Irql, KIRQL SynchronizeIrql,
                              KINTERRUPT_MODE InterruptMode, bool ShareVector, const IR_CPU_SET *ProcessorEnableMask,
                              bool FloatingSave)
{
    if (KeQueryProcessorCount() == 0)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (InterruptObject == NULL || ServiceRoutine == NULL || ProcessorEnableMask == NULL ||
        !IopIsValidMode(InterruptMode))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (FloatingSave)
        return IRQ_STATUS_NOT_SUPPORTED;
    if (Vector > 0xFF)
        return IRQ_STATUS_INVALID_VECTOR;

    /* As NT does, connect on the processors of the mask that are running. */
    IOP_PLAN Plan = {.Gsi = IOP_NO_GSI, .Vector = (uint8_t)Vector, .Irql = Irql};
    KeQueryOnlineProcessors(&Plan.Cpus);
    IrCpuSetAnd(&Plan.Cpus, &Plan.Cpus, ProcessorEnableMask);
    if (IrCpuSetIsEmpty(&Plan.Cpus))
        return IRQ_STATUS_EMPTY_AFFINITY;

    IOP_OBJECT_REQUEST Request = {
        .ServiceRoutine = ServiceRoutine,
        .ServiceContext = ServiceContext,
        .SpinLock = SpinLock,
        .SynchronizeIrql = SynchronizeIrql,
        .Mode = InterruptMode,
        .Polarity = InterruptPolarityUnknown,
        .ShareVector = ShareVector,
        .Affinity = ProcessorEnableMask,
    };
    if (SynchronizeIrql < Irql)
        return IRQ_STATUS_INVALID_IRQL;

    IOP_CONNECTION *Connection;
    IrLockAcquire(&IopLock);
    IRQ_STATUS Status = IopBuildAndConnect(&Request, &Plan, &Connection);
    if (Status == IRQ_STATUS_SUCCESS) {
        Connection->Kind = IopFullySpecified;
        Connection->Line = NULL;
        IopRegisterConnection(Connection);
        IopRegisterStormSource(Connection);
        IopAssertRecordSound(Connection);
        *InterruptObject = Connection->Interrupt;
    }
    IrLockRelease(&IopLock);
    return Status;
}

static IRQ_STATUS IopConnectFullySpecified(IO_CONNECT_FULLY_SPECIFIED_PARAMETERS *P)
{
    return IoConnectInterrupt(P->InterruptObject, P->ServiceRoutine, P->ServiceContext, P->SpinLock, P->Vector,
                              P->Irql, P->SynchronizeIrql, P->InterruptMode, P->ShareVector,
                              P->ProcessorEnableMask, P->FloatingSave);
}

/* ---- Line based --------------------------------------------------------------- */

/* A new sharer joins the line where it is routed already (its own Target is
 * not used): the redirection entry has one destination. */
static IRQ_STATUS IopPlanJoinLine(const IOP_LINE *Line, const IO_CONNECT_LINE_BASED_PARAMETERS *P,
                                  const HL_RESOLVED_LINE *Resolved, IOP_PLAN *Plan)
{
    if (!Line->Shared || !P->ShareVector)
        return IRQ_STATUS_SHARING_VIOLATION;
    if (Line->Trigger != Resolved->Trigger || Line->Polarity != Resolved->Polarity)
        return IRQ_STATUS_TRIGGER_MISMATCH;
    if (Line->Route != NULL && !IopCanRegisterMovable())
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    Plan->Vector = Line->Vector;
    Plan->Irql = KeIrqlOfVector(Line->Vector);
    Plan->Broadcast = Line->Broadcast;
    Plan->Movable = Line->Route != NULL;
    if (P->Irql != KE_IRQL_ANY && P->Irql != Plan->Irql)
        return IRQ_STATUS_INVALID_IRQL;
    KeGetInterruptCpus(Line->FirstUser, &Plan->Cpus);
    return IRQ_STATUS_SUCCESS;
}

static void IopFillLineRequest(const IO_CONNECT_LINE_BASED_PARAMETERS *P, const HL_RESOLVED_LINE *Resolved,
                               IOP_OBJECT_REQUEST *Request)
{
    *Request = (IOP_OBJECT_REQUEST){
        .ServiceRoutine = P->ServiceRoutine,
        .ServiceContext = P->ServiceContext,
        .SpinLock = P->SpinLock,
        .SynchronizeIrql = P->SynchronizeIrql,
        .Mode = Resolved->Trigger == HlTriggerLevel ? LevelSensitive : Latched,
        .Polarity = Resolved->Polarity == HlPolarityActiveLow ? InterruptActiveLow : InterruptActiveHigh,
        .ShareVector = P->ShareVector,
        .Affinity = P->Target.Mask,
    };
}

/* First user of a GSI: vector, object, publish, then program + unmask. */
static IRQ_STATUS IopConnectNewLine(const IO_CONNECT_LINE_BASED_PARAMETERS *P, const HL_RESOLVED_LINE *Resolved,
                                    IOP_CONNECTION **ConnectionOut)
{
    IOP_LINE *Line = IopAllocateLine(Resolved->Gsi);
    if (Line == NULL)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    IOP_PLAN Plan = {.Gsi = Resolved->Gsi};
    IOP_ROUTE *Route;
    IRQ_STATUS Status =
        IopPlanNewTarget(&P->Target, P->Irql, P->SynchronizeIrql, IopRouteLine, P->ShareVector, &Plan, &Route);
    if (Status != IRQ_STATUS_SUCCESS) {
        IopFreeLine(Line);
        return Status;
    }

    IOP_OBJECT_REQUEST Request;
    IopFillLineRequest(P, Resolved, &Request);
    IOP_CONNECTION *Connection = NULL;
    Status = IopBuildAndConnect(&Request, &Plan, &Connection);
    if (Status == IRQ_STATUS_SUCCESS) {
        Status = HlPicAllocateSystemInterrupt(Resolved->Gsi, Plan.Vector, &Plan.Target, Resolved->Trigger,
                                              Resolved->Polarity);
        if (Status != IRQ_STATUS_SUCCESS) {
            (void)KeDisconnectInterruptAs(Connection->Interrupt, KeInterruptOwnerIo, NULL); /* frees the vectors */
            IopFreeConnection(Connection);
        }
    } else {
        IopFreePlanVectors(&Plan);
    }
    if (Status != IRQ_STATUS_SUCCESS) {
        if (Route != NULL)
            IopDestroyRoute(Route);
        IopFreeLine(Line);
        return Status;
    }

    Line->Shared = P->ShareVector;
    Line->Broadcast = Plan.Broadcast;
    Line->Vector = Plan.Vector;
    Line->Trigger = Resolved->Trigger;
    Line->Polarity = Resolved->Polarity;
    Line->FirstUser = Connection->Interrupt;
    Line->Route = Route;
    Connection->Line = Line;
    if (Route != NULL) {
        Route->Gsi = Resolved->Gsi;
        IopAttachRoute(Connection, Route);
    }
    *ConnectionOut = Connection;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS IopConnectExistingLine(IOP_LINE *Line, const IO_CONNECT_LINE_BASED_PARAMETERS *P,
                                         const HL_RESOLVED_LINE *Resolved, IOP_CONNECTION **ConnectionOut)
{
    IOP_PLAN Plan = {.Gsi = Resolved->Gsi};
    IRQ_STATUS Status = IopPlanJoinLine(Line, P, Resolved, &Plan);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (P->SynchronizeIrql != 0 && P->SynchronizeIrql < Plan.Irql)
        return IRQ_STATUS_INVALID_IRQL;
    IOP_OBJECT_REQUEST Request;
    IopFillLineRequest(P, Resolved, &Request);
    Status = IopBuildAndConnect(&Request, &Plan, ConnectionOut);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    (*ConnectionOut)->Line = Line;
    if (Line->Route != NULL) /* a movable line moves with all its sharers */
        IopAttachRoute(*ConnectionOut, Line->Route);
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS IopConnectLineBased(IO_CONNECT_LINE_BASED_PARAMETERS *P)
{
    if (P->InterruptObject == NULL || P->ServiceRoutine == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IRQ_STATUS Status = IopCheckIrqls(P->Irql, P->SynchronizeIrql);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IopCheckTarget(&P->Target);
    HL_RESOLVED_LINE Resolved;
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlPicResolveLine(&P->Line, &Resolved);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;

    IOP_CONNECTION *Connection = NULL;
    IrLockAcquire(&IopLock);
    IOP_LINE *Line = IopFindLine(Resolved.Gsi);
    if (Line != NULL)
        Status = IopConnectExistingLine(Line, P, &Resolved, &Connection);
    else
        Status = IopConnectNewLine(P, &Resolved, &Connection);
    if (Status == IRQ_STATUS_SUCCESS) {
        Connection->Kind = IopLineBased;
        Connection->Line->Users++;
        IopRegisterConnection(Connection);
        IopRegisterStormSource(Connection);
        IopAssertRecordSound(Connection);
        *P->InterruptObject = Connection->Interrupt;
    }
    IrLockRelease(&IopLock);
    return Status;
}

/* ---- Message based (MSI) ------------------------------------------------------- */

/* The message for the plan's target: a remapped one names a new table
 * entry (Remapping), any other is composed for the 8-bit destination. */
static IRQ_STATUS IopComposeMessage(const IO_CONNECT_MESSAGE_BASED_PARAMETERS *P, bool Remapped,
                                    const IOP_PLAN *Plan, HL_MSI_REMAPPING *Remapping, HL_MSI_MESSAGE *Message)
{
    if (Remapped)
        return HlMsiComposeRemapped(P->RequesterId, &Plan->Target, Plan->Vector, Remapping, Message);
    return HlMsiComposeMessage(&Plan->Target, Plan->Vector, HlTriggerEdge, Message);
}

/* Under IopLock, once the object is published (connect order, above) and
 * before its route is attached (no move can run yet): the message goes into
 * the MSI-X entry, which is unmasked last. The table and index were checked
 * before anything was allocated, so neither call can refuse. */
static void IopProgramMsixEntry(const IO_CONNECT_MESSAGE_BASED_PARAMETERS *P, IOP_CONNECTION *Connection,
                                const HL_MSI_MESSAGE *Message)
{
    Connection->Msix = P->MsixTable != NULL;
    if (!Connection->Msix)
        return;
    Connection->MsixTable = *P->MsixTable;
    Connection->MsixEntry = P->MsixEntry;
    (void)HlMsixWriteEntry(&Connection->MsixTable, Connection->MsixEntry, Message);
    (void)HlMsixSetMask(&Connection->MsixTable, Connection->MsixEntry, false);
}

static IRQ_STATUS IopConnectMessageBased(IO_CONNECT_MESSAGE_BASED_PARAMETERS *P)
{
    if (P->InterruptObject == NULL || P->ServiceRoutine == NULL || P->Message == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    bool Remapped = P->HasRequesterId && HlMsiIsRemapped(P->RequesterId);
    /* Only the driver can rewrite its device's address register, unless Io
     * programs an MSI-X entry; a remapped message is moved in its table
     * entry instead. */
    if (P->Target.Kind == IoTargetRoutable && P->UpdateMessage == NULL && !Remapped && P->MsixTable == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    /* Reads nothing: only the table and the index are checked, so that the
     * write after the connect cannot be refused. */
    if (P->MsixTable != NULL && HlMsixReadEntry(P->MsixTable, P->MsixEntry, NULL, NULL) != IRQ_STATUS_SUCCESS)
        return IRQ_STATUS_INVALID_PARAMETER;
    IRQ_STATUS Status = IopCheckIrqls(P->Irql, P->SynchronizeIrql);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IopCheckTarget(&P->Target);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;

    IrLockAcquire(&IopLock);
    IOP_PLAN Plan = {.Gsi = Remapped ? IOP_REMAPPED_MESSAGE : IOP_NO_GSI};
    IOP_ROUTE *Route;
    Status = IopPlanNewTarget(&P->Target, P->Irql, P->SynchronizeIrql, IopRouteMessage, false, &Plan, &Route);
    HL_MSI_MESSAGE Message = {0};
    HL_MSI_REMAPPING Remapping = {0};
    if (Status == IRQ_STATUS_SUCCESS) {
        Status = IopComposeMessage(P, Remapped, &Plan, &Remapping, &Message);
        if (Status != IRQ_STATUS_SUCCESS)
            IopFreePlanVectors(&Plan);
    }
    IOP_CONNECTION *Connection = NULL;
    if (Status == IRQ_STATUS_SUCCESS) {
        /* MSI is an edge: a write, never a level that stays asserted. */
        IOP_OBJECT_REQUEST Request = {
            .ServiceRoutine = P->ServiceRoutine,
            .ServiceContext = P->ServiceContext,
            .SpinLock = P->SpinLock,
            .SynchronizeIrql = P->SynchronizeIrql,
            .Mode = Latched,
            .Polarity = InterruptActiveHigh,
            .Affinity = P->Target.Mask,
        };
        Status = IopBuildAndConnect(&Request, &Plan, &Connection);
        if (Status != IRQ_STATUS_SUCCESS) {
            IopFreePlanVectors(&Plan);
            if (Remapped)
                (void)HlMsiFreeRemapped(&Remapping);
        }
    }
    if (Status != IRQ_STATUS_SUCCESS && Route != NULL)
        IopDestroyRoute(Route);
    if (Status == IRQ_STATUS_SUCCESS) {
        Connection->Kind = IopMessageBased;
        Connection->Line = NULL;
        Connection->MsiRemapped = Remapped;
        Connection->MsiRemapping = Remapping;
        IopProgramMsixEntry(P, Connection, &Message);
        if (Route != NULL) {
            Route->UpdateMessage = P->UpdateMessage;
            Route->UpdateContext = P->UpdateContext;
            Route->Remapped = Remapped;
            Route->Remapping = Remapping;
            Route->Msix = Connection->Msix && !Remapped;
            Route->MsixTable = Connection->MsixTable;
            Route->MsixEntry = Connection->MsixEntry;
            IopAttachRoute(Connection, Route);
        }
        IopRegisterConnection(Connection);
        IopRegisterStormSource(Connection);
        IopAssertRecordSound(Connection);
        *P->Message = Message;
        *P->InterruptObject = Connection->Interrupt;
    }
    IrLockRelease(&IopLock);
    return Status;
}

IRQ_STATUS IoConnectInterruptEx(IO_CONNECT_INTERRUPT_PARAMETERS *Parameters)
{
    /* Before KeInitializeSystem there is no CPU to check a target against:
     * say so, rather than refusing the target (INVALID_CPU). */
    if (KeQueryProcessorCount() == 0)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Parameters == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    switch (Parameters->Version) {
    case CONNECT_FULLY_SPECIFIED:
        return IopConnectFullySpecified(&Parameters->FullySpecified);
    case CONNECT_LINE_BASED:
        return IopConnectLineBased(&Parameters->LineBased);
    case CONNECT_MESSAGE_BASED:
        return IopConnectMessageBased(&Parameters->MessageBased);
    default:
        return IRQ_STATUS_NOT_SUPPORTED;
    }
}

/* ---- Disconnect ------------------------------------------------------------------- */

/* Under IopLock: drops the object's use of its line, masking the entry when
 * it was the last user (before the unlink, so no new interrupt is sent to a
 * vector that is about to be freed). */
static void IopReleaseLine(IOP_CONNECTION *Connection)
{
    IrLockAssertHeld(&IopLock);
    IOP_LINE *Line = Connection->Line;
    IR_ASSERT(Line->InUse && Line->Users > 0);
    if (--Line->Users == 0) {
        if (Line->Route != NULL)
            IopRetireRoute(Line->Route); /* masks under the route lock */
        else
            (void)HlPicFreeSystemInterrupt(Line->Gsi);
        IopFreeLine(Line);
    } else if (Line->FirstUser == Connection->Interrupt) {
        Line->FirstUser = IopFindOtherLineUser(Line, Connection->Interrupt);
    }
}

/* Under IopLock, before the line is released: the object stops being
 * movable, and the policy passes to the oldest remaining sharer (the chain's
 * head). A message route has one user, so it retires here, before it loses
 * its owner (the object its update routine is told about); a line route
 * retires with its line. */
static void IopLeaveRoute(IOP_CONNECTION *Connection)
{
    IrLockAssertHeld(&IopLock);
    if (Connection->Route->Kind == IopRouteMessage)
        IopRetireRoute(Connection->Route);
    KINTERRUPT *NextOwner =
        Connection->Line != NULL ? IopFindOldestLineUser(Connection->Line, Connection->Interrupt) : NULL;
    IopDetachRoute(Connection, NextOwner);
}

IRQ_STATUS IoDisconnectInterrupt(KINTERRUPT *InterruptObject)
{
    if (InterruptObject == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IrLockAcquire(&IopLock);
    IOP_CONNECTION *Connection = IopFindConnection(InterruptObject);
    if (Connection == NULL) {
        /* Not Io's (any more): judged without reading a freed handle. */
        IRQ_STATUS Refused = IopStatusOfUnknownHandle(InterruptObject, IRQ_STATUS_NOT_CONNECTED);
        IrLockRelease(&IopLock);
        return Refused;
    }
    IopAssertRecordSound(Connection);
    IopUnregisterStormSource(Connection); /* first: no storm masks for it from here on */
    if (Connection->Route != NULL)
        IopLeaveRoute(Connection);
    if (Connection->Line != NULL)
        IopReleaseLine(Connection);
    /* As a line's last user masks its entry: after the route retired (no
     * move can unmask it again), before the vector is freed. */
    if (Connection->Msix)
        (void)HlMsixSetMask(&Connection->MsixTable, Connection->MsixEntry, true);
    (void)IopRemoveConnection(InterruptObject);
    IrLockRelease(&IopLock);

    /* Outside IopLock: this waits for other CPUs' in-flight dispatches,
     * post-dispatch routines included, so the route can be let go after. */
    IRQ_STATUS Status = KeDisconnectInterruptAs(InterruptObject, KeInterruptOwnerIo, NULL);
    /* No dispatch of it is left: its table entry can go (a message the
     * device still sends then faults, reaching no CPU). */
    if (Connection->MsiRemapped)
        (void)HlMsiFreeRemapped(&Connection->MsiRemapping);
    if (Connection->Route != NULL)
        IopReleaseRoute(Connection->Route);
    IopFreeConnection(Connection);
    return Status;
}

IRQ_STATUS IoQueryInterruptLine(const KINTERRUPT *InterruptObject, uint32_t *Gsi)
{
    if (InterruptObject == NULL || Gsi == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IrLockAcquire(&IopLock);
    IOP_CONNECTION *Connection = IopFindConnection(InterruptObject);
    IRQ_STATUS Status;
    if (Connection == NULL) {
        Status = IopStatusOfUnknownHandle(InterruptObject, IRQ_STATUS_NOT_CONNECTED);
    } else if (Connection->Line != NULL) {
        *Gsi = Connection->Line->Gsi;
        Status = IRQ_STATUS_SUCCESS;
    } else {
        Status = IRQ_STATUS_INVALID_PARAMETER;
    }
    IrLockRelease(&IopLock);
    return Status;
}
