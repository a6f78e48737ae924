/* SPDX-License-Identifier: MIT */
/*
 * Device templates: a device describes its interrupts once (lines or MSI
 * messages, trigger, polarity, IRQL, share flag, routing) and is connected and
 * disconnected in one call. Each interrupt goes through IoConnectInterruptEx;
 * the template's routing picks the target kind and, for the per-interrupt
 * policies, the movable connection plus IoSetInterruptPolicy. What a routing
 * means (its router policy, whether it moves) is written once, here
 * (IoQueryDeviceRouting); the kernel's live re-routing uses the same
 * (IoRouteDevice).
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>

#include "iop.h"

static bool IopRoutingNeedsMask(IO_DEVICE_ROUTING Routing)
{
    return Routing != IoDeviceFixed;
}

static IRQ_STATUS IopCheckTemplate(const IO_DEVICE_TEMPLATE *Template)
{
    if (Template->Kind != IoDeviceLines && Template->Kind != IoDeviceMessages)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Template->Count == 0 || Template->Count > IO_DEVICE_MAX_INTERRUPTS)
        return IRQ_STATUS_INVALID_PARAMETER;
    if ((unsigned)Template->Routing >= IoDeviceRoutingCount)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (IopRoutingNeedsMask(Template->Routing) && Template->Mask == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    return IRQ_STATUS_SUCCESS;
}

/* IoDeviceSpread: the router's spread rule (IrRouteSpreadCpu) over the CPUs
 * of Mask that a device interrupt can reach, so that a mask reaching past
 * APIC id 0xFE spreads over the CPUs below it. A mask with none of those
 * spreads over itself, and the first connect fails as a fixed route there
 * does (NOT_SUPPORTED). */
static uint32_t IopSpreadCpu(const IR_CPU_SET *Mask, uint32_t Index)
{
    IR_CPU_SET Reachable;
    IrCpuSetCopy(&Reachable, Mask);
    IopRemoveUnreachableCpus(&Reachable, IOP_NO_GSI);
    return IrRouteSpreadCpu(IrCpuSetIsEmpty(&Reachable) ? Mask : &Reachable, Index);
}

/* ---- What a device routing means: the one conversion --------------------------------- */

/* Each routing's policy and whether it is carried out by moving one
 * destination (a movable connection, IoTargetRoutable). */
typedef struct _IOP_ROUTING_MEANING {
    IR_ROUTING_POLICY Policy;
    bool Movable; /* IoDeviceFixed: only with a Mask */
} IOP_ROUTING_MEANING;

static const IOP_ROUTING_MEANING IopRoutingMeanings[IoDeviceRoutingCount] = {
    [IoDeviceFixed] = {IrRoutingFixedCpu, true},
    [IoDeviceRoundRobin] = {IrRoutingRoundRobin, true},
    [IoDeviceLowest] = {IrRoutingLowestPriority, true},
    [IoDeviceBroadcast] = {IrRoutingBroadcast, false},
    [IoDeviceAffinity] = {IrRoutingAffinity, false},
    [IoDeviceSpread] = {IrRoutingFixedCpu, false},
};

IRQ_STATUS IoQueryDeviceRouting(IO_DEVICE_ROUTING Routing, bool HasMask, IR_ROUTING_POLICY *Policy, bool *Movable)
{
    if ((unsigned)Routing >= IoDeviceRoutingCount)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Policy != NULL)
        *Policy = IopRoutingMeanings[Routing].Policy;
    if (Movable != NULL)
        *Movable = IopRoutingMeanings[Routing].Movable && (HasMask || Routing != IoDeviceFixed);
    return IRQ_STATUS_SUCCESS;
}

/* How interrupt Index of the template is connected. */
static IO_INTERRUPT_TARGET IopTargetOf(const IO_DEVICE_TEMPLATE *Template, uint32_t Index)
{
    bool Movable = false;
    (void)IoQueryDeviceRouting(Template->Routing, Template->Mask != NULL, NULL, &Movable);
    if (Movable) {
        uint32_t Start = Template->Routing == IoDeviceFixed ? Template->Cpu : IR_CPU_NONE;
        return (IO_INTERRUPT_TARGET){.Kind = IoTargetRoutable, .Cpu = Start, .Mask = Template->Mask};
    }
    switch (Template->Routing) {
    case IoDeviceBroadcast:
        return (IO_INTERRUPT_TARGET){.Kind = IoTargetBroadcast, .Mask = Template->Mask};
    case IoDeviceAffinity:
        return (IO_INTERRUPT_TARGET){.Kind = IoTargetAffinity, .Mask = Template->Mask};
    case IoDeviceSpread:
        return (IO_INTERRUPT_TARGET){.Kind = IoTargetCpu, .Cpu = IopSpreadCpu(Template->Mask, Index)};
    case IoDeviceFixed:
    default:
        return (IO_INTERRUPT_TARGET){.Kind = IoTargetCpu, .Cpu = Template->Cpu};
    }
}

/* The policy of a movable routing applied to one interrupt; FIXED also
 * moves it to Cpu. */
static IRQ_STATUS IopApplyRouting(KINTERRUPT *Interrupt, IR_ROUTING_POLICY Policy, uint32_t Cpu)
{
    IRQ_STATUS Status = IoSetInterruptPolicy(Interrupt, Policy);
    if (Status == IRQ_STATUS_SUCCESS && Policy == IrRoutingFixedCpu)
        Status = IoSetInterruptTarget(Interrupt, Cpu);
    return Status;
}

/* Puts interrupts 0 .. Count-1 back where they were and under the policy
 * they had (a move back within the set that was just left). */
static void IopRestoreRouting(IO_DEVICE_CONNECTION *Connection, uint32_t Count, const uint32_t *Cpus,
                              const IR_ROUTING_POLICY *Policies)
{
    for (uint32_t Index = 0; Index < Count; Index++) {
        (void)IoSetInterruptPolicy(Connection->Interrupts[Index], Policies[Index]);
        (void)IoSetInterruptTarget(Connection->Interrupts[Index], Cpus[Index]);
    }
}

/* All or nothing: every interrupt is checked first (IopCheckRetarget says
 * what the two calls would refuse), so a refusal changes nothing; a back end
 * that fails a write half-way (an I/O APIC line whose Remote IRR holds off
 * the rewrite) has the interrupts already moved put back. */
IRQ_STATUS IoRouteDevice(IO_DEVICE_CONNECTION *Connection, IO_DEVICE_ROUTING Routing, uint32_t Cpu)
{
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    bool Movable = false;
    if (Connection == NULL || Connection->Count > IO_DEVICE_MAX_INTERRUPTS ||
        IoQueryDeviceRouting(Routing, true, &Policy, &Movable) != IRQ_STATUS_SUCCESS)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Connection->Count == 0)
        return IRQ_STATUS_NOT_CONNECTED;
    if (!Movable)
        return IRQ_STATUS_NOT_SUPPORTED;
    uint32_t OldCpus[IO_DEVICE_MAX_INTERRUPTS];
    IR_ROUTING_POLICY OldPolicies[IO_DEVICE_MAX_INTERRUPTS];
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    for (uint32_t Index = 0; Index < Connection->Count && Status == IRQ_STATUS_SUCCESS; Index++) {
        Status = IopCheckRetarget(Connection->Interrupts[Index], Policy == IrRoutingFixedCpu, Cpu);
        if (Status == IRQ_STATUS_SUCCESS)
            Status = IoQueryInterruptTarget(Connection->Interrupts[Index], &OldCpus[Index], &OldPolicies[Index]);
    }
    uint32_t Done = 0;
    for (; Done < Connection->Count && Status == IRQ_STATUS_SUCCESS; Done++) {
        Status = IopApplyRouting(Connection->Interrupts[Done], Policy, Cpu);
        if (Status != IRQ_STATUS_SUCCESS)
            IopRestoreRouting(Connection, Done + 1u, OldCpus, OldPolicies);
    }
    return Status;
}

static IRQ_STATUS IopConnectDeviceInterrupt(const IO_DEVICE_TEMPLATE *Template, uint32_t Index,
                                            PKSERVICE_ROUTINE ServiceRoutine, void *ServiceContext,
                                            IO_DEVICE_CONNECTION *Connection)
{
    IO_INTERRUPT_TARGET Target = IopTargetOf(Template, Index);
    KIRQL Irql = Template->Irql == 0 ? KE_IRQL_ANY : Template->Irql;
    KINTERRUPT **Interrupt = &Connection->Interrupts[Index];
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters;
    if (Template->Kind == IoDeviceLines) {
        Parameters = (IO_CONNECT_INTERRUPT_PARAMETERS){
            .Version = CONNECT_LINE_BASED,
            .LineBased = {.InterruptObject = Interrupt, .ServiceRoutine = ServiceRoutine,
                          .ServiceContext = ServiceContext,
                          .Line = {.Bus = Template->Bus, .Number = Template->Lines[Index],
                                   .Trigger = Template->Trigger, .Polarity = Template->Polarity},
                          .Irql = Irql, .ShareVector = Template->Share, .Target = Target},
        };
    } else {
        Parameters = (IO_CONNECT_INTERRUPT_PARAMETERS){
            .Version = CONNECT_MESSAGE_BASED,
            .MessageBased = {.InterruptObject = Interrupt, .ServiceRoutine = ServiceRoutine,
                             .ServiceContext = ServiceContext, .Irql = Irql, .Target = Target,
                             .Message = &Connection->Messages[Index], .UpdateMessage = Template->UpdateMessage,
                             .UpdateContext = Template->UpdateContext, .HasRequesterId = Template->HasRequesterId,
                             .RequesterId = Template->RequesterId, .MsixTable = Template->MsixTable,
                             .MsixEntry = Index},
        };
    }
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Connection->Count = Index + 1;
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    (void)IoQueryDeviceRouting(Template->Routing, Template->Mask != NULL, &Policy, NULL);
    bool Retargets = Policy == IrRoutingRoundRobin || Policy == IrRoutingLowestPriority;
    if (!Retargets)
        return IRQ_STATUS_SUCCESS;
    Status = IoSetInterruptPolicy(*Interrupt, Policy);
    /* Spreading may have given it a new vector (src/io/move.c): the
     * message to program is the one it has now. */
    if (Status == IRQ_STATUS_SUCCESS && Template->Kind == IoDeviceMessages)
        Status = IopQueryRouteMessage(*Interrupt, &Connection->Messages[Index]);
    return Status;
}

/* ---- Rolling back: the redirection entries as they were --------------------------------- */

/* A line no Io object used before the device's connect: its entry as it was
 * (firmware's, or a previous user's masked leftovers), to be written back
 * should the device's connect be rolled back. Disconnecting a line's last
 * user only masks its entry (io.h), which would leave the rolled-back
 * connect's vector and destination in it. */
typedef struct _IOP_SAVED_ENTRY {
    bool Saved;
    uint32_t Gsi;
    IOAPIC_REDIRECTION_ENTRY Entry;
} IOP_SAVED_ENTRY;

/* Under IopLock, so that no connect of the same line runs in between. */
static void IopSaveLineEntries(const IO_DEVICE_TEMPLATE *Template, IOP_SAVED_ENTRY *Saved)
{
    IrLockAcquire(&IopLock);
    for (uint32_t Index = 0; Index < Template->Count; Index++) {
        Saved[Index].Saved = false;
        if (Template->Kind != IoDeviceLines)
            continue;
        HL_INTERRUPT_LINE Line = {.Bus = Template->Bus, .Number = Template->Lines[Index],
                                  .Trigger = Template->Trigger, .Polarity = Template->Polarity};
        HL_RESOLVED_LINE Resolved;
        if (HlPicResolveLine(&Line, &Resolved) != IRQ_STATUS_SUCCESS || IopFindLine(Resolved.Gsi) != NULL)
            continue;
        Saved[Index].Gsi = Resolved.Gsi;
        Saved[Index].Saved = HlIoApicReadEntry(Resolved.Gsi, &Saved[Index].Entry) == IRQ_STATUS_SUCCESS;
    }
    IrLockRelease(&IopLock);
}

/* After the rollback's disconnects: an entry that was saved and that no Io
 * object uses now gets its old value back. */
static void IopRestoreLineEntries(uint32_t Count, const IOP_SAVED_ENTRY *Saved)
{
    IrLockAcquire(&IopLock);
    for (uint32_t Index = 0; Index < Count; Index++) {
        if (Saved[Index].Saved && IopFindLine(Saved[Index].Gsi) == NULL)
            (void)HlIoApicWriteEntry(Saved[Index].Gsi, Saved[Index].Entry);
    }
    IrLockRelease(&IopLock);
}

IRQ_STATUS IoConnectDevice(const IO_DEVICE_TEMPLATE *Template, PKSERVICE_ROUTINE ServiceRoutine,
                           void *ServiceContext, IO_DEVICE_CONNECTION *Connection)
{
    if (Template == NULL || ServiceRoutine == NULL || Connection == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IRQ_STATUS Status = IopCheckTemplate(Template);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IOP_SAVED_ENTRY Saved[IO_DEVICE_MAX_INTERRUPTS];
    IopSaveLineEntries(Template, Saved);
    Connection->Count = 0;
    for (uint32_t Index = 0; Index < IO_DEVICE_MAX_INTERRUPTS; Index++)
        Connection->Interrupts[Index] = NULL;
    for (uint32_t Index = 0; Index < Template->Count && Status == IRQ_STATUS_SUCCESS; Index++)
        Status = IopConnectDeviceInterrupt(Template, Index, ServiceRoutine, ServiceContext, Connection);
    if (Status != IRQ_STATUS_SUCCESS) {
        (void)IoDisconnectDevice(Connection);
        IopRestoreLineEntries(Template->Count, Saved);
    }
    return Status;
}

IRQ_STATUS IoDisconnectDevice(IO_DEVICE_CONNECTION *Connection)
{
    if (Connection == NULL || Connection->Count > IO_DEVICE_MAX_INTERRUPTS)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Connection->Count == 0)
        return IRQ_STATUS_NOT_CONNECTED;
    IRQ_STATUS Result = IRQ_STATUS_SUCCESS;
    for (uint32_t Index = Connection->Count; Index-- > 0;) {
        IRQ_STATUS Status = IoDisconnectInterrupt(Connection->Interrupts[Index]);
        if (Status != IRQ_STATUS_SUCCESS && Result == IRQ_STATUS_SUCCESS)
            Result = Status;
        Connection->Interrupts[Index] = NULL;
    }
    Connection->Count = 0;
    return Result;
}
