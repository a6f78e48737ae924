/* SPDX-License-Identifier: MIT */
/*
 * Private state of the I/O manager's interrupt services.
 *
 * Every connection IoConnectInterrupt(Ex) made is an IOP_CONNECTION in one
 * list; the KINTERRUPT lives in the same allocation. Line-based connections
 * also count users per GSI in an IOP_LINE, which is how disconnect knows
 * whether to mask the redirection entry. Both are changed only under IopLock;
 * dispatch never looks at them.
 *
 * A movable connection (IoTargetRoutable) also has an IOP_ROUTE: where the
 * line or message goes now, and the router's route (router.h) that decides
 * where it goes next. The route is what interrupt
 * context touches (the post-dispatch routine, IoSetInterruptTarget from an
 * ISR), so it has its own lock, taken with interrupts disabled, and is found
 * without IopLock (src/io/route.c says how). A shared line has one route for
 * all its sharers.
 */
#ifndef IRQROUTE_IOP_H
#define IRQROUTE_IOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/router.h>

#include "irlock.h"

#define IOP_MAX_LINES 256u

typedef enum _IOP_CONNECTION_KIND {
    IopFullySpecified = 0,
    IopLineBased,
    IopMessageBased,
} IOP_CONNECTION_KIND;

typedef struct _IOP_ROUTE IOP_ROUTE;

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
    IOP_ROUTE *Route;      /* movable line, else NULL */
} IOP_LINE;

/* A connection's storm state (src/io/storm.c). Next (the list of storm
 * sources) changes under IopLock and IopStormLock together; the rest under
 * IopStormLock alone, which the storm handler takes in interrupt context.
 * For a line every sharer's record holds the line's state. */
typedef struct _IOP_STORM {
    struct _IOP_CONNECTION *Next;
    bool Stormed;      /* a storm was reported and no poll has seen a claim since */
    bool Masked;       /* the line or MSI-X entry is masked for it */
    uint32_t Interval; /* polls between two polls of it now (its back-off) */
    uint64_t NextPoll; /* the IopPollCount at which it is polled next */
    uint64_t Polls;    /* polls since the storm */
    uint64_t Storms;   /* storms reported since connect */
    uint64_t RateLimit;      /* dispatches allowed between two polls; 0: no limit */
    uint64_t CountAtPoll;    /* KeQueryInterruptTotalCount at the last poll */
    bool RateMasked;         /* masked until the next poll for going over RateLimit */
    uint64_t RateMaskings;   /* times that happened */
} IOP_STORM;

typedef struct _IOP_CONNECTION {
    struct _IOP_CONNECTION *Next;
    IOP_CONNECTION_KIND Kind;
    IOP_LINE *Line;
    size_t AllocationSize;
    KINTERRUPT *Interrupt;
    IOP_ROUTE *Route;      /* movable connection (holds a reference), else NULL */
    bool MsiRemapped;      /* a message through a remapping unit: its table entry */
    HL_MSI_REMAPPING MsiRemapping;
    bool Msix;             /* a message Io programs into an MSI-X table entry */
    HL_MSIX_TABLE MsixTable;
    uint32_t MsixEntry;
    IOP_STORM Storm;       /* src/io/storm.c */
} IOP_CONNECTION;

typedef enum _IOP_ROUTE_KIND {
    IopRouteLine = 0, /* a GSI's redirection entry */
    IopRouteMessage,  /* an MSI message the driver (or Io, in an MSI-X table) rewrites */
} IOP_ROUTE_KIND;

/* Where a movable interrupt goes. Set, Kind, Shareable, Gsi, the back end
 * and the update routine are fixed at creation. The policy, its target and
 * the rotation's position are the router's (Router, router.h), which
 * decides; the route is the back end that carries a decision out
 * (src/io/route.c). Live, Cpu, Vector, Spread, the router's configuration
 * and the hardware state they describe change only under Lock (taken with
 * IrLockAcquireIrqSave: the post-dispatch routine takes it in interrupt
 * context); Cpu is an atomic so that it can also be read without it. Owner
 * changes under IopLock; References is taken under IopLock and dropped
 * after KeDisconnectInterrupt, outside it. */
struct _IOP_ROUTE {
    IR_LOCK Lock;
    bool Live;                    /* false once disconnect masked/forgot it: no more moves */
    IOP_ROUTE_KIND Kind;
    bool Shareable;               /* a shareable line: always Spread, sharers may join */
    bool Spread;                  /* Vector on every CPU of Set; else on Cpu only */
    uint8_t Vector;               /* where the entry sends it now */
    uint32_t Gsi;                 /* IopRouteLine */
    PIO_MSI_UPDATE_ROUTINE UpdateMessage; /* IopRouteMessage, not remapped */
    void *UpdateContext;
    bool Remapped;                /* IopRouteMessage through a remapping unit */
    HL_MSI_REMAPPING Remapping;   /* its table entry: a move rewrites it */
    bool Msix;                    /* IopRouteMessage, not remapped: a move rewrites the MSI-X entry */
    HL_MSIX_TABLE MsixTable;
    uint32_t MsixEntry;
    const IR_ROUTE_BACKEND *Backend; /* by Kind: the I/O APIC line or the MSI message */
    IR_ROUTE *Router;             /* policy, mask (= Set), position; in this allocation */
    size_t AllocationSize;
    _Atomic uint32_t Cpu;         /* the destination now */
    KINTERRUPT *_Atomic Owner;    /* the sharer whose dispatch applies the policy */
    _Atomic uint32_t References;  /* connections using the route */
    IR_CPU_SET Set;               /* online CPUs of Mask that a device can reach
                                     (HlIsProcessorReachableByDevices): where it may go;
                                     changes under Lock (CPU offline/online, src/io/offline.c) */
    IR_CPU_SET Mask;              /* the caller's affinity, fixed */
    bool AffinityBroken;          /* Set holds no CPU of Mask: every one went offline */
};

extern IR_LOCK IopLock;

/* Registry (src/io/registry.c); callers hold IopLock. */
void IopRegisterConnection(IOP_CONNECTION *Connection);
/* The status of an Io call on an object Io does not hold (not in its
 * registry, not in the movable table), from Ke's record of connected
 * objects, which reads no address it does not hold (src/io/registry.c,
 * STALE HANDLES): ACCESS_DENIED for an object connected through Ke,
 * NotMovable for one Io connected that has no route, NOT_CONNECTED for
 * anything else (a handle Io freed included). */
IRQ_STATUS IopStatusOfUnknownHandle(const KINTERRUPT *Interrupt, IRQ_STATUS NotMovable);
IOP_CONNECTION *IopRemoveConnection(const KINTERRUPT *Interrupt);
/* The first record (then Connection->Next), for walks under IopLock. */
IOP_CONNECTION *IopFirstConnection(void);
IOP_CONNECTION *IopFindConnection(const KINTERRUPT *Interrupt);
IOP_LINE *IopFindLine(uint32_t Gsi);
IOP_LINE *IopAllocateLine(uint32_t Gsi);
void IopFreeLine(IOP_LINE *Line);
/* Another user of Line than Except, or NULL. */
KINTERRUPT *IopFindOtherLineUser(const IOP_LINE *Line, const KINTERRUPT *Except);
/* The earliest-connected user of Line other than Except, or NULL: the head
 * of the vector's chain (Ke appends, Io connects under IopLock), which is
 * the sharer a level-triggered dispatch always runs. */
KINTERRUPT *IopFindOldestLineUser(const IOP_LINE *Line, const KINTERRUPT *Except);

/* "Not a line": a message, or a source not known yet. */
#define IOP_NO_GSI 0xFFFFFFFFu
/* A remapped message: every registered CPU is reachable. */
#define IOP_REMAPPED_MESSAGE 0xFFFFFFFEu
/* Removes from Cpus every CPU the source cannot reach: the line Gsi's
 * (HlIsProcessorReachableByLine: all of them through a remapping unit), for
 * IOP_REMAPPED_MESSAGE none (a remapped message reaches every registered
 * CPU), or for IOP_NO_GSI any device interrupt's
 * (HlIsProcessorReachableByDevices).
 * The one place Io applies that rule to the CPUs it chooses among
 * (src/io/connect.c, src/io/device.c). */
void IopRemoveUnreachableCpus(IR_CPU_SET *Cpus, uint32_t Gsi);

/* One allocation holding the record and the object storage behind it. */
IOP_CONNECTION *IopAllocateConnection(uint32_t CpuCount, void **ObjectStorage, size_t *ObjectSize);
void IopFreeConnection(IOP_CONNECTION *Connection);

/* Routes (src/io/route.c). Create/attach/retire run under IopLock. */
/* A route over Set delivered to (Cpu, Vector) now, Spread when its vector
 * is on every CPU of Set (a shareable line: it stays so); NULL without
 * memory. */
IOP_ROUTE *IopCreateRoute(IOP_ROUTE_KIND Kind, const IR_CPU_SET *Mask, const IR_CPU_SET *Set, uint8_t Vector,
                          uint32_t Cpu, bool Spread);
/* The CPUs of Cpus the route's line or message can reach
 * (IopRemoveUnreachableCpus for its source). */
void IopRemoveUnreachableForRoute(const IOP_ROUTE *Route, IR_CPU_SET *Cpus);
/* Reconfigures the router for the route's Set with its policy, pointed at
 * where it is (under the route lock, after Set or Cpu changed). */
IRQ_STATUS IopRefreshRouter(IOP_ROUTE *Route);
void IopDestroyRoute(IOP_ROUTE *Route);
/* Whether one more movable object can be registered. */
bool IopCanRegisterMovable(void);
/* Makes Connection a user of Route: reference, post-dispatch routine,
 * lookup entry; the first user becomes the policy owner. */
void IopAttachRoute(IOP_CONNECTION *Connection, IOP_ROUTE *Route);
/* Drops Connection's lookup entry; if it owned the policy, NewOwner (another
 * user, or NULL) takes over. */
void IopDetachRoute(IOP_CONNECTION *Connection, KINTERRUPT *NewOwner);
/* The route's last user is leaving: no move happens after this returns.
 * Line routes mask the entry here, under the route lock, so a move that
 * raced with the disconnect cannot unmask it again. */
void IopRetireRoute(IOP_ROUTE *Route);
/* After KeDisconnectInterrupt (no post-dispatch routine can still hold the
 * route): drops the reference, freeing the route with the last one. */
void IopReleaseRoute(IOP_ROUTE *Route);
/* What IoSetInterruptPolicy (and, with CheckCpu, IoSetInterruptTarget to
 * Cpu) would refuse, found without changing anything: IoRouteDevice checks
 * every interrupt of a device before it moves any. */
IRQ_STATUS IopCheckRetarget(const KINTERRUPT *Interrupt, bool CheckCpu, uint32_t Cpu);
/* Forgets every lookup entry (IoResetInterruptManager). */
void IopResetRoutes(void);
/* The message a movable message-based interrupt's device should hold now
 * (left as it is for a remapped one, and for a line). */
IRQ_STATUS IopQueryRouteMessage(const KINTERRUPT *Interrupt, HL_MSI_MESSAGE *Message);
/* Points the route's line or message at (Cpu, Vector): the back end's one
 * write (src/io/route.c). Under the route lock. */
IRQ_STATUS IopWriteRoute(IOP_ROUTE *Route, uint32_t Cpu, uint8_t Vector);
/* Moves a route on one CPU to Cpu in two phases (src/io/move.c). */
IRQ_STATUS IopMoveToCpu(IOP_ROUTE *Route, uint32_t Cpu);
/* Spreads the route's vector over its set (ROUND_ROBIN, LOWEST). */
IRQ_STATUS IopSpreadRoute(IOP_ROUTE *Route);
/* Back to one CPU, where it is (FIXED); a shareable line stays spread. */
void IopGatherRoute(IOP_ROUTE *Route);

/* Storms (src/io/storm.c). Under IopLock: a connection whose record is
 * complete (line, route, MSI-X entry) becomes a storm source; one being
 * disconnected stops being one first, before its line or entry is let go,
 * so the storm handler never masks for a connection on its way out. */
void IopRegisterStormSource(IOP_CONNECTION *Connection);
void IopUnregisterStormSource(IOP_CONNECTION *Connection);
/* IoResetInterruptManager: no source, no poll count, and Io's storm handler
 * installed in the (new) Ke system. */
void IopResetStorms(void);

#endif
