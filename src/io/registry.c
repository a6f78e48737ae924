/* SPDX-License-Identifier: MIT */
/*
 * The I/O manager's records: connections and line users (see iop.h).
 *
 * STALE HANDLES. A KINTERRUPT that Io connected lives in Io's allocation and
 * is freed by IoDisconnectInterrupt; a caller that uses the pointer after
 * that (a second disconnect, a query, a move) hands Io freed memory. Io
 * therefore never reads an object it does not find in its own records (the
 * connection list here, the movable table in src/io/route.c, both keyed by
 * address). An object Io does not hold is judged by Ke
 * (KeQueryInterruptOwner), which looks the address up in its own record of
 * connected objects and reads the object only if it is there
 * (src/ke/interrupt.c, KE'S RECORD OF CONNECTED OBJECTS): an object connected
 * through Ke is ACCESS_DENIED, anything else (a handle Io freed, however
 * many frees ago; storage never connected) NOT_CONNECTED, and nothing is
 * read. Io's disconnect removes its record under IopLock before Ke unlinks
 * and Io frees the object, so there is no moment at which a freed handle is
 * in either record. Io therefore keeps no list of the handles it freed: an
 * address is whatever is connected there now (a new object Io or a Ke
 * caller connected at a freed handle's address is that object).
 */
#include <irqroute/platform.h>

#include "iop.h"

IR_LOCK IopLock;
static IOP_CONNECTION *IopConnections;
static IOP_LINE IopLines[IOP_MAX_LINES];

IOP_CONNECTION *IopFirstConnection(void)
{
    IrLockAssertHeld(&IopLock);
    return IopConnections;
}

IRQ_STATUS IopStatusOfUnknownHandle(const KINTERRUPT *Interrupt, IRQ_STATUS NotMovable)
{
    switch (KeQueryInterruptOwner(Interrupt)) {
    case KeInterruptOwnerKe:
        return IRQ_STATUS_ACCESS_DENIED;
    case KeInterruptOwnerIo:
        return NotMovable;
    default:
        return IRQ_STATUS_NOT_CONNECTED;
    }
}

void IoResetInterruptManager(void)
{
    IrLockAcquire(&IopLock);
    /* The Ke system was re-initialised: its objects are gone, only our
     * records' memory is left to return. */
    IopResetRoutes();
    IopResetStorms();
    while (IopConnections != NULL) {
        IOP_CONNECTION *Connection = IopConnections;
        IopConnections = Connection->Next;
        if (Connection->Route != NULL)
            IopReleaseRoute(Connection->Route);
        IopFreeConnection(Connection);
    }
    for (uint32_t Index = 0; Index < IOP_MAX_LINES; Index++)
        IopLines[Index].InUse = false;
    IrLockRelease(&IopLock);
}

void IopRegisterConnection(IOP_CONNECTION *Connection)
{
    IrLockAssertHeld(&IopLock);
    Connection->Next = IopConnections;
    IopConnections = Connection;
}

IOP_CONNECTION *IopFindConnection(const KINTERRUPT *Interrupt)
{
    IrLockAssertHeld(&IopLock);
    for (IOP_CONNECTION *Connection = IopConnections; Connection != NULL; Connection = Connection->Next) {
        if (Connection->Interrupt == Interrupt)
            return Connection;
    }
    return NULL;
}

IOP_CONNECTION *IopRemoveConnection(const KINTERRUPT *Interrupt)
{
    IrLockAssertHeld(&IopLock);
    for (IOP_CONNECTION **Link = &IopConnections; *Link != NULL; Link = &(*Link)->Next) {
        IOP_CONNECTION *Connection = *Link;
        if (Connection->Interrupt == Interrupt) {
            *Link = Connection->Next;
            return Connection;
        }
    }
    return NULL;
}

IOP_LINE *IopFindLine(uint32_t Gsi)
{
    IrLockAssertHeld(&IopLock);
    for (uint32_t Index = 0; Index < IOP_MAX_LINES; Index++) {
        if (IopLines[Index].InUse && IopLines[Index].Gsi == Gsi)
            return &IopLines[Index];
    }
    return NULL;
}

IOP_LINE *IopAllocateLine(uint32_t Gsi)
{
    IrLockAssertHeld(&IopLock);
    for (uint32_t Index = 0; Index < IOP_MAX_LINES; Index++) {
        IOP_LINE *Line = &IopLines[Index];
        if (!Line->InUse) {
            *Line = (IOP_LINE){.InUse = true, .Gsi = Gsi};
            return Line;
        }
    }
    return NULL;
}

void IopFreeLine(IOP_LINE *Line)
{
    IrLockAssertHeld(&IopLock);
    Line->InUse = false;
    Line->Users = 0;
    Line->FirstUser = NULL;
    Line->Route = NULL;
}

KINTERRUPT *IopFindOtherLineUser(const IOP_LINE *Line, const KINTERRUPT *Except)
{
    IrLockAssertHeld(&IopLock);
    for (IOP_CONNECTION *Connection = IopConnections; Connection != NULL; Connection = Connection->Next) {
        if (Connection->Line == Line && Connection->Interrupt != Except)
            return Connection->Interrupt;
    }
    return NULL;
}

KINTERRUPT *IopFindOldestLineUser(const IOP_LINE *Line, const KINTERRUPT *Except)
{
    IrLockAssertHeld(&IopLock);
    /* The list is newest first: the last match is the oldest. */
    KINTERRUPT *Oldest = NULL;
    for (IOP_CONNECTION *Connection = IopConnections; Connection != NULL; Connection = Connection->Next) {
        if (Connection->Line == Line && Connection->Interrupt != Except)
            Oldest = Connection->Interrupt;
    }
    return Oldest;
}

static size_t IopHeaderSize(void)
{
    return (sizeof(IOP_CONNECTION) + KE_INTERRUPT_ALIGNMENT - 1) & ~(size_t)(KE_INTERRUPT_ALIGNMENT - 1);
}

IOP_CONNECTION *IopAllocateConnection(uint32_t CpuCount, void **ObjectStorage, size_t *ObjectSize)
{
    size_t ObjectBytes = KeQueryInterruptObjectSize(CpuCount);
    size_t Total = IopHeaderSize() + ObjectBytes;
    IOP_CONNECTION *Connection = PlatAllocateMemory(Total, KE_INTERRUPT_ALIGNMENT);
    if (Connection == NULL)
        return NULL;
    Connection->AllocationSize = Total;
    *ObjectStorage = (uint8_t *)Connection + IopHeaderSize();
    *ObjectSize = ObjectBytes;
    return Connection;
}

void IopFreeConnection(IOP_CONNECTION *Connection)
{
    PlatFreeMemory(Connection, Connection->AllocationSize);
}
