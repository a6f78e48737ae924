/* SPDX-License-Identifier: MIT */
/*
 * Moving a movable interrupt to a CPU where its vector is not: the two-phase
 * move (ke.h, "A MOVE IN TWO PHASES"), and the changes between the route's
 * two placements (iop.h): on one CPU, or spread over its whole set.
 *
 * A MOVE, under the route lock:
 *  1. A vector on the new CPU, linked there (KeAddInterruptLink): the old
 *     vector number if the new CPU has it free, else another.
 *  2. The entry (redirection entry, MSI, MSI-X entry, remapping entry)
 *     pointed at the new (CPU, vector) by the route's back end.
 *  3. Every link but the one the entry points at handed to Ke to retire
 *     (KeRetireInterruptLink): each leaves once its CPU has nothing pending
 *     on it, and its vector is free from then on.
 * Whatever the device sends before step 2 reaches the old link, after it the
 * new one; nothing is lost and nothing reaches a freed vector.
 *
 * THE WRITE IN STEP 2 must never show the device a mixture of old and new.
 * With the same vector number only the destination changes, one 32-bit
 * register (an I/O APIC entry's high word, 82093AA 3.2.4; an MSI address,
 * SDM vol. 3A 11.11.1). An MSI-X entry is rewritten masked (PCI 3.0
 * 6.8.2.9) and a remapping table entry in one 64-bit store (VT-d 9.10), so a
 * new vector is safe there too. A redirection entry or a plain MSI whose
 * vector changes takes two registers, and in between the device would send
 * the old vector to the new CPU or the new vector to the old one. So the
 * move goes through an intermediate step, as Linux does for MSI: first the
 * new vector on the old CPU (one register: the low word, or the data),
 * then the new CPU (one register), with the new vector allocated on both
 * CPUs and linked on both. Every state the device can see is linked.
 *
 * Failure at any step leaves the entry where it was or at the intermediate
 * step. Links the entry was pointed at and left are retired as above; links
 * it never pointed at go at once (KeRemoveUnusedInterruptLink: nothing can
 * be on its way to them), so a refused move leaves nothing behind; vectors
 * never linked are freed here.
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "iop.h"

/* Up to three (CPU, vector) pairs a move links: the new one, and the
 * intermediate step's. */
typedef struct _IOP_MOVE {
    uint32_t Cpus[2];
    uint32_t Count;
    uint8_t Vector;
    bool Fresh;       /* the pairs are new links: one never pointed at goes out at once */
} IOP_MOVE;

static IR_CPU_SET IopSetOf(uint32_t First, uint32_t Second)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, First);
    IrCpuSetAdd(&Set, Second);
    return Set;
}

/* Whether a new vector must go through the intermediate step. */
static bool IopNeedsIntermediateStep(const IOP_ROUTE *Route)
{
    return Route->Kind == IopRouteLine || (!Route->Msix && !Route->Remapped);
}

/* The object on (Cpu, Vector) with that vector number: its own link there
 * if it is still retiring from an earlier move (taken back), else the
 * vector if Cpu has it free. */
static IRQ_STATUS IopTakeVectorOn(KINTERRUPT *Object, uint32_t Cpu, uint8_t Vector, bool *Revived)
{
    *Revived = KeReviveInterruptLink(Object, KeInterruptOwnerIo, Cpu, Vector) == IRQ_STATUS_SUCCESS;
    if (*Revived)
        return IRQ_STATUS_SUCCESS;
    IRQ_STATUS Status = KeReserveVector(Cpu, Vector);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Status = KeAddInterruptLink(Object, KeInterruptOwnerIo, Cpu, Vector);
    if (Status != IRQ_STATUS_SUCCESS)
        (void)KeFreeVector(Cpu, Vector);
    return Status;
}

/* A new vector number: one in the same class on the new CPU (and on the old
 * one when the write needs the intermediate step). */
static IRQ_STATUS IopChooseVector(const IOP_ROUTE *Route, uint32_t Old, uint32_t New, IOP_MOVE *Move)
{
    KIRQL Irql = KeIrqlOfVector(Route->Vector);
    Move->Cpus[0] = New;
    Move->Count = 1;
    if (IopNeedsIntermediateStep(Route)) {
        IR_CPU_SET Both = IopSetOf(Old, New);
        Move->Cpus[0] = Old;
        Move->Cpus[1] = New;
        Move->Count = 2;
        return KeAllocateVectorOnSet(&Both, Irql, &Move->Vector);
    }
    IR_CPU_SET One = IopSetOf(New, New);
    uint32_t Chosen;
    return KeAllocateVector(&One, Irql, &Chosen, &Move->Vector);
}

/* Links the object on every pair of the move; a pair it could not link gets
 * its vector back. Returns how many were linked, in order. */
static uint32_t IopLinkMove(KINTERRUPT *Object, const IOP_MOVE *Move, IRQ_STATUS *Status)
{
    uint32_t Linked = 0;
    *Status = IRQ_STATUS_SUCCESS;
    for (uint32_t Index = 0; Index < Move->Count; Index++) {
        if (*Status == IRQ_STATUS_SUCCESS)
            *Status = KeAddInterruptLink(Object, KeInterruptOwnerIo, Move->Cpus[Index], Move->Vector);
        if (*Status == IRQ_STATUS_SUCCESS)
            Linked++;
        else
            (void)KeFreeVector(Move->Cpus[Index], Move->Vector);
    }
    return Linked;
}

/* Step 3: every link of the object but (Cpu, Vector). A link already
 * retiring answers NOT_PENDING, which is fine. */
static void IopRetireAllBut(IOP_ROUTE *Route, const IR_CPU_SET *Cpus, uint8_t Vector, uint32_t KeepCpu,
                            uint8_t KeepVector)
{
    KINTERRUPT *Object = atomic_load_explicit(&Route->Owner, memory_order_relaxed);
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        if (Cpu != KeepCpu || Vector != KeepVector)
            (void)KeRetireInterruptLink(Object, KeInterruptOwnerIo, Cpu, Vector);
    }
}

static void IopRecordPosition(IOP_ROUTE *Route, uint32_t Cpu, uint8_t Vector)
{
    Route->Vector = Vector;
    atomic_store_explicit(&Route->Cpu, Cpu, memory_order_relaxed);
}

/* Links a failed move added that the entry never pointed at: out at once
 * (KeRemoveUnusedInterruptLink), so a refused move leaves nothing behind. */
static void IopRemoveUnused(IOP_ROUTE *Route, const IR_CPU_SET *Cpus, uint8_t Vector)
{
    KINTERRUPT *Object = atomic_load_explicit(&Route->Owner, memory_order_relaxed);
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        (void)KeRemoveUnusedInterruptLink(Object, KeInterruptOwnerIo, Cpu, Vector);
    }
}

/* Steps 2 and 3 once the move is linked. Returns the write's status. Each
 * added link the entry was pointed at and left retires; one it never
 * pointed at goes at once; the old link retires if the entry left it. */
static IRQ_STATUS IopSwitchEntry(IOP_ROUTE *Route, const IOP_MOVE *Move, uint32_t Linked)
{
    uint32_t OldCpu = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    uint8_t OldVector = Route->Vector;
    IRQ_STATUS Status = Linked == Move->Count ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INSUFFICIENT_RESOURCES;
    IR_CPU_SET Pointed, Unused;
    IrCpuSetZero(&Pointed);
    IrCpuSetZero(&Unused);
    for (uint32_t Index = 0; Index < Linked; Index++) {
        if (Status == IRQ_STATUS_SUCCESS)
            Status = IopWriteRoute(Route, Move->Cpus[Index], Move->Vector);
        if (Status == IRQ_STATUS_SUCCESS)
            IopRecordPosition(Route, Move->Cpus[Index], Move->Vector);
        IrCpuSetAdd(Status == IRQ_STATUS_SUCCESS || !Move->Fresh ? &Pointed : &Unused, Move->Cpus[Index]);
    }
    uint32_t Cpu = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    IR_CPU_SET Old = IopSetOf(OldCpu, OldCpu);
    IopRetireAllBut(Route, &Old, OldVector, Cpu, Route->Vector);
    IopRetireAllBut(Route, &Pointed, Move->Vector, Cpu, Route->Vector);
    IopRemoveUnused(Route, &Unused, Move->Vector);
    return Status;
}

/* The same vector number where it can be had: only the destination changes. */
/* No slot for a new link while old ones still wait for the device's first
 * interrupt on the newest (ke.h): a move is in progress, as Linux says
 * (EBUSY); the caller tries again after the next interrupt. */
static IRQ_STATUS IopBusyIfMoving(KINTERRUPT *Object, IRQ_STATUS Status)
{
    if (Status == IRQ_STATUS_INSUFFICIENT_RESOURCES && KeQueryInterruptRetiringLinks(Object) != 0)
        return IRQ_STATUS_INVALID_STATE;
    return Status;
}

IRQ_STATUS IopMoveToCpu(IOP_ROUTE *Route, uint32_t Cpu)
{
    IR_ASSERT(!Route->Spread);
    uint32_t Old = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    KINTERRUPT *Object = atomic_load_explicit(&Route->Owner, memory_order_relaxed);
    IOP_MOVE Move = {.Cpus = {Cpu}, .Count = 1, .Vector = Route->Vector};
    bool Revived;
    if (IopTakeVectorOn(Object, Cpu, Route->Vector, &Revived) == IRQ_STATUS_SUCCESS) {
        Move.Fresh = !Revived;
        return IopSwitchEntry(Route, &Move, 1);
    }
    Move.Fresh = true;
    IRQ_STATUS Status = IopChooseVector(Route, Old, Cpu, &Move);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IRQ_STATUS LinkStatus;
    uint32_t Linked = IopLinkMove(Object, &Move, &LinkStatus);
    Status = IopSwitchEntry(Route, &Move, Linked);
    return IopBusyIfMoving(Object, LinkStatus != IRQ_STATUS_SUCCESS ? LinkStatus : Status);
}

/* ---- Between the placements -------------------------------------------------------------- */

/* The vector it has, on every other CPU of the set: nothing to write. On
 * failure the links it took are retired again. */
static bool IopSpreadSameVector(IOP_ROUTE *Route, KINTERRUPT *Object, uint32_t Here)
{
    IR_CPU_SET Revived, Added;
    IrCpuSetZero(&Revived);
    IrCpuSetZero(&Added);
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Route->Set) {
        bool WasRetiring;
        if (Cpu == Here)
            continue;
        if (IopTakeVectorOn(Object, Cpu, Route->Vector, &WasRetiring) != IRQ_STATUS_SUCCESS) {
            IopRetireAllBut(Route, &Revived, Route->Vector, Here, Route->Vector);
            IopRemoveUnused(Route, &Added, Route->Vector);
            return false;
        }
        IrCpuSetAdd(WasRetiring ? &Revived : &Added, Cpu);
    }
    return true;
}

/* The same vector on every CPU of the set if they all have it free (or the
 * object's link there is still retiring); else one new vector on all of
 * them, linked on all, then the entry moved to it where it is now (only the
 * vector changes: one register for a line, the data for a message), then
 * the old link retired. */
IRQ_STATUS IopSpreadRoute(IOP_ROUTE *Route)
{
    if (Route->Spread)
        return IRQ_STATUS_SUCCESS;
    uint32_t Here = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    KINTERRUPT *Object = atomic_load_explicit(&Route->Owner, memory_order_relaxed);
    if (IopSpreadSameVector(Route, Object, Here)) {
        Route->Spread = true;
        return IRQ_STATUS_SUCCESS;
    }
    uint8_t Old = Route->Vector;
    uint8_t Vector;
    IRQ_STATUS Status = KeAllocateVectorOnSet(&Route->Set, KeIrqlOfVector(Old), &Vector);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IR_CPU_SET Linked;
    IrCpuSetZero(&Linked);
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Route->Set) {
        if (Status == IRQ_STATUS_SUCCESS)
            Status = KeAddInterruptLink(Object, KeInterruptOwnerIo, Cpu, Vector);
        if (Status == IRQ_STATUS_SUCCESS)
            IrCpuSetAdd(&Linked, Cpu);
        else
            (void)KeFreeVector(Cpu, Vector);
    }
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IopWriteRoute(Route, Here, Vector);
    if (Status != IRQ_STATUS_SUCCESS) {
        IopRemoveUnused(Route, &Linked, Vector);
        return IopBusyIfMoving(Object, Status);
    }
    IopRecordPosition(Route, Here, Vector);
    Route->Spread = true;
    IR_CPU_SET Previous = IopSetOf(Here, Here);
    IopRetireAllBut(Route, &Previous, Old, Here, Vector);
    return IRQ_STATUS_SUCCESS;
}

/* Back to the CPU it is on: the entry already points there, so only the
 * other CPUs' links go. A shareable line stays spread (a sharer may join). */
void IopGatherRoute(IOP_ROUTE *Route)
{
    if (!Route->Spread || Route->Shareable)
        return;
    uint32_t Here = atomic_load_explicit(&Route->Cpu, memory_order_relaxed);
    IopRetireAllBut(Route, &Route->Set, Route->Vector, Here, Route->Vector);
    Route->Spread = false;
}
