/*
 * Private state of the I/O manager's interrupt services.
 *
 * Every connection IoConnectInterrupt(Ex) made is an IOP_CONNECTION in one
 * list; the KINTERRUPT lives in the same allocation. Line-based connections
 * also count users per GSI in an IOP_LINE, which is how disconnect knows
 * whether to mask the redirection entry. Both are changed only under IopLock;
 * dispatch never looks at them.
 */
#ifndef IRQROUTE_IOP_H
#define IRQROUTE_IOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "irlock.h"

#define IOP_MAX_LINES 256u

typedef enum _IOP_CONNECTION_KIND {
    IopFullySpecified = 0,
    IopLineBased,
    IopMessageBased,
} IOP_CONNECTION_KIND;

/* A GSI with at least one connected object. */
typedef struct _IOP_LINE {
    bool InUse;
    bool Shared;
    bool Broadcast;
    uint8_t Vector;
    uint32_t Gsi;
    uint32_t Users;
    HL_TRIGGER_MODE Trigger;
    HL_POLARITY Polarity;
    KINTERRUPT *FirstUser; /* any connected user: its CPU set is the line's */
} IOP_LINE;

typedef struct _IOP_CONNECTION {
    struct _IOP_CONNECTION *Next;
    IOP_CONNECTION_KIND Kind;
    IOP_LINE *Line;
    size_t AllocationSize;
    KINTERRUPT *Interrupt;
} IOP_CONNECTION;

extern IR_LOCK IopLock;

/* Registry (src/io/registry.c); callers hold IopLock. */
void IopRegisterConnection(IOP_CONNECTION *Connection);
IOP_CONNECTION *IopRemoveConnection(const KINTERRUPT *Interrupt);
IOP_CONNECTION *IopFindConnection(const KINTERRUPT *Interrupt);
IOP_LINE *IopFindLine(uint32_t Gsi);
IOP_LINE *IopAllocateLine(uint32_t Gsi);
void IopFreeLine(IOP_LINE *Line);
/* Another user of Line than Except, or NULL. */
KINTERRUPT *IopFindOtherLineUser(const IOP_LINE *Line, const KINTERRUPT *Except);

/* One allocation holding the record and the object storage behind it. */
IOP_CONNECTION *IopAllocateConnection(uint32_t CpuCount, void **ObjectStorage, size_t *ObjectSize);
void IopFreeConnection(IOP_CONNECTION *Connection);

#endif
