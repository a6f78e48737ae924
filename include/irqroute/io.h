/* SPDX-License-Identifier: MIT */
/*
 * Io — the I/O manager's interrupt services.
 *
 * IoConnectInterrupt has NT's semantics: one object out, connected on a
 * vector the caller names, on every CPU of ProcessorEnableMask.
 * IoConnectInterruptEx adds line-based connection (a GSI, ISA IRQ or PCI line
 * plus a target CPU, affinity mask or broadcast set: the vector is allocated
 * here and the I/O APIC programmed through Hl) and message-based connection
 * (MSI: the vector is allocated here and the message composed for the caller
 * to write into the device).
 *
 * A line- or message-based interrupt connected with IoTargetRoutable is
 * movable: IoSetInterruptTarget moves it to another CPU of its set while it
 * fires, and a routing policy (IoSetInterruptPolicy) can move it after every
 * interrupt (round robin, lowest IRQL): the software form of lowest-priority
 * delivery that QEMU's chipset does not arbitrate (it always picks the
 * lowest-numbered CPU of the destination).
 *
 * Device interrupts carry an 8-bit destination (82093AA 3.2.4; SDM vol. 3A
 * 11.11.1), so without interrupt remapping no line or message reaches a CPU
 * whose APIC id is 0xFF or above (HlIsProcessorReachableByDevices). Where Io
 * chooses the CPU (IoTargetAffinity, IoTargetRoutable, IoDeviceSpread) it
 * skips such CPUs of the mask; where the caller names one (IoTargetCpu) the
 * connect fails with IRQ_STATUS_NOT_SUPPORTED.
 *
 * Objects are allocated with PlatAllocateMemory and freed by
 * IoDisconnectInterrupt, which returns only when the ISR can never run again:
 * the line is masked if nobody else uses it, and the vector is free.
 *
 * OBJECTS IO DOES NOT HOLD. Every call taking a KINTERRUPT looks it up in
 * Io's own records, and then in Ke's record of connected objects
 * (KeQueryInterruptOwner), before it reads it, so a handle Io has
 * disconnected (freed) is refused with IRQ_STATUS_NOT_CONNECTED without
 * being read, however long ago it was freed (src/io/registry.c, STALE
 * HANDLES). The accessors of ke.h (KeGetInterruptVector...) do read the
 * object: on an Io handle they are for the time it is connected. An object
 * connected through Ke (KeConnectInterrupt) is not Io's:
 * IRQ_STATUS_ACCESS_DENIED, and it stays connected. An object built but
 * never connected: NOT_CONNECTED.
 */
#ifndef IRQROUTE_IO_H
#define IRQROUTE_IO_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stdint.h>

#include "cpuset.h"
#include "hl.h"
#include "ke.h"
#include "router.h"
#include "status.h"

IRQROUTE_BEGIN_DECLS

/* Forgets every connection record (after KeInitializeSystem, in tests). */
void IoResetInterruptManager(void);

/* FloatingSave = true is not supported (IRQ_STATUS_NOT_SUPPORTED): ISRs must
 * not touch FPU/SSE state. Irql must equal KeIrqlOfVector(Vector). The
 * object goes on the online CPUs of ProcessorEnableMask.
 *   SUCCESS
 *   NOT_INITIALIZED    Ke is not initialised
 *   INVALID_PARAMETER  InterruptObject, ServiceRoutine or ProcessorEnableMask
 *                      NULL; an unknown InterruptMode
 *   NOT_SUPPORTED      FloatingSave
 *   INVALID_VECTOR     Vector above 0xFF, or not a device vector
 *   EMPTY_AFFINITY     no CPU of the mask is online
 *   INVALID_IRQL       SynchronizeIrql below Irql or above HIGH_LEVEL, or
 *                      Irql not KeIrqlOfVector(Vector)
 *   SHARING_VIOLATION, TRIGGER_MISMATCH  the vector is connected on one of
 *                      the CPUs already, by an object that does not share
 *                      (or this one does not), or in the other mode
 *   INSUFFICIENT_RESOURCES  no memory
 * Nothing is allocated or linked on failure; *InterruptObject is written
 * only on success. */
IRQ_STATUS IoConnectInterrupt(KINTERRUPT **InterruptObject, PKSERVICE_ROUTINE ServiceRoutine, void *ServiceContext,
                              KSPIN_LOCK *SpinLock, uint32_t Vector, KIRQL Irql, KIRQL SynchronizeIrql,
                              KINTERRUPT_MODE InterruptMode, bool ShareVector, const IR_CPU_SET *ProcessorEnableMask,
                              bool FloatingSave);

typedef enum _IO_CONNECT_VERSION {
    CONNECT_FULLY_SPECIFIED = 1,
    CONNECT_LINE_BASED = 2,
    CONNECT_MESSAGE_BASED = 3,
} IO_CONNECT_VERSION;

/* Where a line- or message-based interrupt is delivered. */
typedef enum _IO_TARGET_KIND {
    IoTargetDefault = 0,  /* FIXED to CPU 0 (the router's default) */
    IoTargetCpu,          /* one CPU index; NOT_SUPPORTED if no device reaches it */
    IoTargetAffinity,     /* the least-loaded online CPU of the mask among those a device reaches
                             (HlIsProcessorReachableByDevices); the others are skipped */
    IoTargetBroadcast,    /* every CPU of the mask: one vector on all, logical fixed delivery
                             (a set HlResolveTarget cannot express, or whose logical destination
                             does not fit 8 bits, is NOT_SUPPORTED) */
    IoTargetRoutable,     /* movable over the online CPUs of Mask that a device reaches (the
                             route's set; the mask's other CPUs are skipped), delivered to one of
                             them (physical destination): Cpu, or the least-loaded CPU of the set
                             when Cpu is IR_CPU_NONE. One vector on that CPU (a shareable line: on
                             every CPU of the set). Moved by IoSetInterruptTarget /
                             IoSetInterruptPolicy, only ever within the set, in two phases. */
} IO_TARGET_KIND;

typedef struct _IO_INTERRUPT_TARGET {
    IO_TARGET_KIND Kind;
    uint32_t Cpu;
    const IR_CPU_SET *Mask;
} IO_INTERRUPT_TARGET;

typedef struct _IO_CONNECT_FULLY_SPECIFIED_PARAMETERS {
    KINTERRUPT **InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;
    uint32_t Vector;
    KIRQL Irql;
    KIRQL SynchronizeIrql;
    KINTERRUPT_MODE InterruptMode;
    bool ShareVector;
    const IR_CPU_SET *ProcessorEnableMask;
    bool FloatingSave;
} IO_CONNECT_FULLY_SPECIFIED_PARAMETERS;

typedef struct _IO_CONNECT_LINE_BASED_PARAMETERS {
    KINTERRUPT **InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;
    HL_INTERRUPT_LINE Line;
    KIRQL Irql;            /* KE_IRQL_ANY: any device class */
    KIRQL SynchronizeIrql; /* 0: the IRQL the vector gets */
    bool ShareVector;
    IO_INTERRUPT_TARGET Target;
} IO_CONNECT_LINE_BASED_PARAMETERS;

/* Rewrites the device's MSI address/data with Message: how (PCI config space,
 * MSI-X table) is the driver's business. Io calls it whenever it moves a
 * movable message-based interrupt, possibly from interrupt context on any CPU
 * (interrupts disabled, under Io's per-interrupt route lock): it must not
 * block and must not call Io for the same interrupt. One call changes the
 * address or the data, never both: a move keeps the vector number where the
 * new CPU has it free (only the address changes), and otherwise goes through
 * an intermediate step (the new data at the old address first), so the
 * driver may write the two registers in either order and the device never
 * sends a message nobody listens for (src/io/move.c). */
typedef void (*PIO_MSI_UPDATE_ROUTINE)(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context);

typedef struct _IO_CONNECT_MESSAGE_BASED_PARAMETERS {
    KINTERRUPT **InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;
    KIRQL Irql;            /* KE_IRQL_ANY: any device class */
    KIRQL SynchronizeIrql; /* 0: the IRQL the vector gets */
    IO_INTERRUPT_TARGET Target;
    HL_MSI_MESSAGE *Message; /* out: what the driver writes into the device */
    /* Required for IoTargetRoutable (INVALID_PARAMETER without it) unless
     * the message is remapped, ignored otherwise: without it a message-based
     * interrupt is not movable. */
    PIO_MSI_UPDATE_ROUTINE UpdateMessage;
    void *UpdateContext;
    /* The device's PCI requester id (bus << 8 | device << 3 | function), if
     * HasRequesterId. When its messages go through an enabled remapping unit
     * (HlMsiIsRemapped), the message names a table entry that holds the
     * destination: every CPU is a possible target, the message never changes
     * after the connect, and a move rewrites the entry, never the device (no
     * UpdateMessage needed). */
    bool HasRequesterId;
    uint16_t RequesterId;
    /* The device's MSI-X table (PCI 3.0 6.8.2), if not NULL: Io programs
     * entry MsixEntry itself. Once the object is published it writes the
     * message into the entry and unmasks it (HlMsixWriteEntry,
     * HlMsixSetMask); every move of a movable message rewrites the entry
     * (masked around the rewrite, so an interrupt raised meanwhile waits in
     * the PBA and is sent once, to the new CPU); disconnect masks it before
     * the vector is freed. No UpdateMessage is needed; Message still
     * receives what was written. A remapped message is written once and
     * never changes (its moves rewrite the remapping entry). The table is
     * copied: it need not outlive the call. */
    const HL_MSIX_TABLE *MsixTable;
    uint32_t MsixEntry;
} IO_CONNECT_MESSAGE_BASED_PARAMETERS;

typedef struct _IO_CONNECT_INTERRUPT_PARAMETERS {
    IO_CONNECT_VERSION Version;
    union {
        IO_CONNECT_FULLY_SPECIFIED_PARAMETERS FullySpecified;
        IO_CONNECT_LINE_BASED_PARAMETERS LineBased;
        IO_CONNECT_MESSAGE_BASED_PARAMETERS MessageBased;
    };
} IO_CONNECT_INTERRUPT_PARAMETERS;

/* Connects one interrupt object. Nothing is left allocated or programmed on
 * failure.
 *   SUCCESS
 *   INVALID_PARAMETER  Parameters, InterruptObject, ServiceRoutine (or
 *                      Message) NULL; a Mask NULL where the kind needs one; an
 *                      unknown target kind or interrupt mode; a bad line
 *                      (HlPicResolveLine); IoTargetRoutable MSI without
 *                      UpdateMessage or MsixTable; an MsixTable that
 *                      HlMsixWriteEntry refuses, or MsixEntry not below its
 *                      EntryCount
 *   NOT_SUPPORTED      an unknown Version; FloatingSave; a named CPU
 *                      (IoTargetCpu, IoTargetDefault, IoTargetRoutable's Cpu)
 *                      that no device interrupt reaches; an IoTargetAffinity
 *                      or IoTargetRoutable mask whose online CPUs are all
 *                      unreachable; a broadcast set that has no logical
 *                      destination fitting 8 bits (HlPicAllocateSystemInterrupt,
 *                      HlMsiComposeMessage)
 *   INVALID_CPU        IoTargetCpu beyond the CPU count; IoTargetRoutable's Cpu
 *                      outside the mask or offline; a broadcast set with a CPU
 *                      beyond the count or offline beside online ones
 *   EMPTY_AFFINITY     the named CPU is offline, or the mask has no online CPU
 *   INVALID_IRQL       Irql or SynchronizeIrql out of range or inconsistent
 *   INVALID_GSI        no I/O APIC has the line's GSI
 *   INVALID_VECTOR     a fully specified Vector above 0xFF or not a device vector
 *   VECTOR_EXHAUSTED   no free vector of the IRQL's classes on the CPU(s)
 *   SHARING_VIOLATION, TRIGGER_MISMATCH  joining a connected line that is
 *                      exclusive, or has the other trigger mode
 *   INSUFFICIENT_RESOURCES  no memory, or a fixed table (lines, movable
 *                      interrupts) is full
 *   NOT_INITIALIZED    Ke is not initialised (checked first: no target is
 *                      judged before there are CPUs), or a broadcast
 *                      member's local APIC has no logical id yet
 * CONNECT_FULLY_SPECIFIED returns what IoConnectInterrupt does. */
IRQ_STATUS IoConnectInterruptEx(IO_CONNECT_INTERRUPT_PARAMETERS *Parameters);

/* Unlinks, waits until no CPU runs the ISR, masks the line if this was its
 * last user, frees the vector, frees the object. Other sharers keep running.
 *   SUCCESS
 *   INVALID_PARAMETER  InterruptObject NULL
 *   NOT_CONNECTED      not an object Io holds: disconnected already (a
 *                      second disconnect), never connected, or not an object
 *   ACCESS_DENIED      an object connected through Ke: KeDisconnectInterrupt
 *                      disconnects it (it stays connected)
 * A refused call changes nothing (OBJECTS IO DOES NOT HOLD, above). */
IRQ_STATUS IoDisconnectInterrupt(KINTERRUPT *InterruptObject);

/* The GSI a line-based object is connected to.
 *   SUCCESS
 *   INVALID_PARAMETER  InterruptObject or Gsi NULL, or an Io object that is
 *                      not line-based
 *   NOT_CONNECTED, ACCESS_DENIED  as IoDisconnectInterrupt
 * *Gsi is written only on success. */
IRQ_STATUS IoQueryInterruptLine(const KINTERRUPT *InterruptObject, uint32_t *Gsi);

/* ======================================================================== */
/* Movable interrupts (src/io/route.c)                                      */
/* ======================================================================== */

/* What happens to a movable interrupt after each interrupt it delivers: the
 * router's policies and rules (router.h, POLICIES: Io decides nothing
 * itself, it asks the router and is its back end for the line or message;
 * see router.h, "X86 HARDWARE"), of which Io carries out three by
 * re-targeting, over the route's set, with the current destination as the
 * router's position:
 *   IrRoutingFixedCpu       stay where IoSetInterruptTarget put it (the default);
 *   IrRoutingRoundRobin     the CPU of the set after the current destination:
 *                           after k*n interrupts, each raised after the previous
 *                           dispatch completed, each of n CPUs got k (the move
 *                           follows the ISR, so an interrupt raised during a
 *                           dispatch goes where it was);
 *   IrRoutingLowestPriority the CPU of the set at the lowest IRQL
 *                           (KeQueryProcessorIrql; the CPU that just took the
 *                           interrupt counts at the IRQL it returns to); ties
 *                           rotate from the current destination.
 * IrRoutingBroadcast and IrRoutingAffinity are connect-time choices
 * (IoTargetBroadcast, IoTargetAffinity): IoSetInterruptPolicy refuses them with
 * IRQ_STATUS_NOT_SUPPORTED. */

/* Moves a movable interrupt (IoTargetRoutable) to Cpu while it may fire.
 * On one CPU (FIXED) it holds one vector, and the move is in two phases
 * (src/io/move.c): linked on the new CPU, the entry pointed there (the same
 * vector number where it is free, so only the destination changes), the
 * old vector given up once the device's first interrupt on the new one has
 * come and the old CPU has nothing pending on it. Spread over its set
 * (ROUND_ROBIN, LOWEST, a shareable line) only the destination changes.
 * Either way an interrupt raised during the move reaches the old CPU or the
 * new one, and an edge line is never masked. Shared lines move with all
 * their sharers (one redirection entry). Callable at any IRQL, in interrupt
 * context too (a post-dispatch routine, an ISR): it takes no Io-wide lock.
 * The policy is not changed: under ROUND_ROBIN or LOWEST the next interrupt
 * moves it on.
 *   SUCCESS
 *   INVALID_PARAMETER  Interrupt NULL
 *   NOT_SUPPORTED      an Io object that is not movable
 *   INVALID_CPU        Cpu outside the set (which holds only the online CPUs
 *                      of the mask that a device reaches), or beyond the count
 *   INVALID_STATE      try again later: an earlier move's old vector is still
 *                      waiting for the device's first interrupt on the new
 *                      one (a move in progress), or a level line whose Remote
 *                      IRR is set would need a new vector
 *   VECTOR_EXHAUSTED   no vector of its class is free on Cpu
 *   NOT_CONNECTED      not an object Io holds (disconnected already, never
 *                      connected), or being disconnected
 *   ACCESS_DENIED      an object connected through Ke
 * Failure changes nothing. Interrupt must not be disconnected concurrently
 * (its memory goes away while the call runs). */
IRQ_STATUS IoSetInterruptTarget(KINTERRUPT *Interrupt, uint32_t Cpu);

/* Sets the policy applied after each interrupt of a movable interrupt (the
 * post-dispatch routine re-targets the entry or message). Takes effect from
 * the next interrupt; a raiser sees one destination or the next, never a
 * mixture. ROUND_ROBIN and LOWEST spread the interrupt's vector over its set
 * (the same number where every CPU has it free, else a new one, in two
 * phases); FIXED gives the other CPUs' vectors back. Same statuses and
 * contexts as IoSetInterruptTarget, but for INVALID_CPU (the CPU does not
 * change), and: INVALID_PARAMETER for a Policy out of range, NOT_SUPPORTED
 * for BROADCAST and AFFINITY (both checked before the object is looked
 * at). Io owns the
 * post-dispatch routine (KeSetInterruptPostDispatch) of movable objects:
 * replacing it stops the policy. */
IRQ_STATUS IoSetInterruptPolicy(KINTERRUPT *Interrupt, IR_ROUTING_POLICY Policy);

/* Where a movable interrupt is delivered now, and its policy (either pointer
 * may be NULL). SUCCESS; INVALID_PARAMETER: Interrupt NULL; NOT_SUPPORTED:
 * an Io object that is not movable; NOT_CONNECTED, ACCESS_DENIED: as
 * IoSetInterruptTarget. Nothing is written on failure. */
IRQ_STATUS IoQueryInterruptTarget(const KINTERRUPT *Interrupt, uint32_t *Cpu, IR_ROUTING_POLICY *Policy);

/* The CPUs a movable interrupt may be moved to (its affinity mask, less the
 * CPUs its line or message cannot reach): where IoSetInterruptTarget accepts
 * a CPU. Same statuses as IoQueryInterruptTarget, but INVALID_PARAMETER also
 * for Affinity NULL. Nothing is written on failure. */
IRQ_STATUS IoQueryInterruptAffinity(const KINTERRUPT *Interrupt, IR_CPU_SET *Affinity);

/* ---- Interrupt storms (src/io/storm.c; docs/storms.md) -------------------------
 * Io installs its storm handler in Ke (KeSetStormHandler) in
 * IoResetInterruptManager. When Ke reports a storm on a vector (nearly every
 * dispatch of a window unclaimed, KeSetStormThresholds), Io masks the source
 * right there, in interrupt context: the I/O APIC entry of a line (every
 * sharer of it with it, as Linux masks the whole line), the MSI-X entry of a
 * message Io programs. A plain MSI has no mask Io can set, nor has a fully
 * specified connection a source Io knows: they are only reported
 * (IO_INTERRUPT_STORM.Masked false). IoPollStormedInterrupts then runs the
 * masked source's ISRs now and then, and unmasks it once one claims. */

/* The longest back-off between two polls of a masked source, in polls. */
#define IO_STORM_POLL_INTERVAL_CAP 32u

typedef struct _IO_INTERRUPT_STORM {
    bool Stormed;        /* a storm was reported and no poll has seen a claim since */
    bool Masked;         /* its line or MSI-X entry is masked for the storm */
    uint32_t NextPollIn; /* IoPollStormedInterrupts calls until its ISRs run again (masked) */
    uint64_t Polls;      /* polls of it since the storm */
    uint64_t Storms;     /* storms reported on it (on its line) since it was connected */
    uint64_t RateLimit;  /* IoSetInterruptRateLimit's limit, 0: none */
    bool RateMasked;     /* masked until the next poll for going over it */
    uint64_t RateMaskings; /* times it went over it */
} IO_INTERRUPT_STORM;

/* The storm state of an object Io connected. A shared line's sharers all
 * report the line's.
 *   SUCCESS
 *   INVALID_PARAMETER  Interrupt or Storm NULL
 *   NOT_CONNECTED, ACCESS_DENIED  as IoSetInterruptTarget
 * Storm is written only on success. */
IRQ_STATUS IoQueryInterruptStorm(const KINTERRUPT *Interrupt, IO_INTERRUPT_STORM *Storm);

/* The poll, called periodically at PASSIVE_LEVEL (Linux polls every 100 ms;
 * the period is the caller's): advances Ke's storm clock
 * (KeAdvanceStormEpoch), and runs the ISRs of each masked source whose turn
 * it is (KePollInterrupt, on the calling CPU). A source one of whose ISRs
 * claims has recovered: it is unmasked, and its interrupts flow again. One
 * that does not waits twice as many polls as last time before the next
 * try, up to IO_STORM_POLL_INTERVAL_CAP (1, 2, 4 ... 32). Returns how many
 * sources were unmasked by this call. */
uint32_t IoPollStormedInterrupts(void);

/* A rate limit for one interrupt, checked by IoPollStormedInterrupts: one
 * that was dispatched more than MaxPerPoll times since the previous poll is
 * masked until the next poll (0: no limit). Only for sources a mask does
 * not lose an interrupt of: a level line (still asserted at the unmask,
 * 82093AA 3.2.4) or an MSI-X entry Io programs (held in the PBA, PCI 3.0
 * 6.8.2.10); an edge that arrives at a masked entry is lost. Nothing is
 * checked on the dispatch path, so the limit is as fine as the poll period.
 *   SUCCESS
 *   INVALID_PARAMETER  Interrupt NULL
 *   NOT_SUPPORTED      an edge line, a shared line (its sharers would be held
 *                      off too), a plain MSI or a fully specified connection
 *   NOT_CONNECTED, ACCESS_DENIED  as IoSetInterruptTarget
 * A limit removed while the source is masked for it lets it go at the next
 * poll. Nothing changes on failure. */
IRQ_STATUS IoSetInterruptRateLimit(KINTERRUPT *Interrupt, uint64_t MaxPerPoll);

/* ======================================================================== */
/* CPU offline and online (src/io/offline.c)                                */
/* ======================================================================== */

typedef struct _IO_PROCESSOR_OFFLINE_RESULT {
    uint32_t Moved;           /* movable interrupts that were delivered to the CPU, now elsewhere */
    uint32_t AffinityBroken;  /* of the movable interrupts, those with no other online CPU in
                                 their affinity: they may now go to every online CPU */
    KINTERRUPT *FirstBroken;  /* one of those, or NULL */
    KINTERRUPT *Blocking;     /* ACCESS_DENIED: an interrupt that cannot leave the CPU, or NULL */
} IO_PROCESSOR_OFFLINE_RESULT;

/* Takes Cpu out of device interrupt routing: every movable interrupt
 * (IoTargetRoutable, device templates) leaves it for the least loaded
 * other CPU of its affinity, in two phases (nothing lost), and the call
 * returns once Cpu has dispatched what was already pending for it and no
 * device interrupt can reach it any more. An interrupt whose affinity has
 * no other online CPU may go to every online CPU its source reaches
 * (affinity broken, reported) until IoSetProcessorOnline gives one back.
 * Cpu keeps running and taking IPIs; it must take interrupts for the call
 * to return (ke.h, KeDrainRetiringLinks). Call at PASSIVE_LEVEL with
 * interrupts enabled, not from Cpu's interrupt context.
 *   SUCCESS
 *   NOT_INITIALIZED    no KeInitializeSystem
 *   INVALID_PARAMETER  Result NULL
 *   INVALID_CPU        Cpu beyond the count
 *   INVALID_STATE      Cpu is offline already
 *   ACCESS_DENIED      Cpu is the last online CPU, or an interrupt there
 *                      cannot move (Result->Blocking, if Io's: a fixed,
 *                      affinity-chosen or broadcast connection, or a
 *                      shareable line with nowhere else to go; else an
 *                      object Ke's caller connected)
 *   NOT_SUPPORTED, VECTOR_EXHAUSTED, INSUFFICIENT_RESOURCES  a move found no
 *                      CPU its source reaches, or no vector: Cpu is online
 *                      again, the interrupts moved so far stay moved
 *   DEVICE_ERROR       a request to Cpu could not be sent
 * Nothing changes on the refusals before the moves (all but the last two). */
IRQ_STATUS IoSetProcessorOffline(uint32_t Cpu, IO_PROCESSOR_OFFLINE_RESULT *Result);

/* Puts Cpu back: the allocator chooses it again and every movable
 * interrupt whose affinity holds it (and whose source reaches it) may go
 * there again; one whose affinity was broken goes back into its affinity.
 * Nothing moves to Cpu by itself otherwise (the policies and the balancer
 * do that).
 *   SUCCESS, NOT_INITIALIZED, INVALID_CPU (beyond the count), INVALID_STATE
 *   (online already); NOT_SUPPORTED, VECTOR_EXHAUSTED, INSUFFICIENT_RESOURCES
 *   (a broken affinity could not be mended: that interrupt stays where it is) */
IRQ_STATUS IoSetProcessorOnline(uint32_t Cpu);

/* ======================================================================== */
/* The routing dump (src/io/dump.c)                                         */
/* ======================================================================== */

/* Receives one line of the dump: no newline, NUL-terminated, valid only
 * during the call. It runs under Io's lock: it must not call Io (nor
 * connect or disconnect through Ke); printing, copying and counting are
 * what it is for. */
typedef void (*IO_DUMP_WRITER)(const char *Line, void *Context);

/* Writes what is routed where, one line at a time, for a person debugging
 * (tests print it when they fail: tests/support/dump_on_failure.h; irqsim's
 * `dump` command). The format is stable; tests read it. Fields are separated
 * by one space; numbers are decimal except vectors (0x and two hex digits)
 * and objects (their address in hex); a set of CPUs is written "{0-2,5}".
 *
 *   routing: cpus <online> of <count> online
 *   cpu <c>: <n> vectors                          (each online CPU, ascending)
 *     vector <0xVV> irql <i> <edge|level> objects <n> dispatched <d> unclaimed <u>
 *       object <0x...> <io|ke> <sharable|exclusive> sync-irql <s> runs <r> claimed <k>
 *   io:                                           (each connection Io holds)
 *     io <0x...> gsi <g> vector <0xVV> cpus {..} policy <p> to <c|{..}> entry <masked|unmasked> dest <0xDD> <physical|logical> [shared]
 *     io <0x...> msi vector <0xVV> cpus {..} policy <p> to <c|{..}>
 *     io <0x...> vector-only vector <0xVV> cpus {..}
 *   ke:                                           (objects connected through Ke alone)
 *     ke <0x...> vector <0xVV> irql <i> cpus {..}
 *   end: <n> io, <m> ke
 *
 * The objects of a vector come in dispatch order, with what each ran on
 * that CPU (KeQueryVectorObjects); a vector's counts are KeQueryVectorStatistics'.
 * <p> is the policy: fixed, round-robin, lowest (movable interrupts:
 * IoQueryInterruptTarget) or fixed / broadcast (others, by how many CPUs
 * receive it); "to" is the destination now: the CPU a movable interrupt is
 * delivered to, or the CPUs of the others. The entry fields are the I/O APIC
 * redirection entry as HlIoApicReadEntry reads it back (82093AA 3.2.4).
 * Connections and Ke objects are listed in order of their lowest CPU, then
 * vector, then dispatch order. Objects and connections that come or go
 * while the dump runs may be listed or not; none is listed half.
 *   SUCCESS, NOT_INITIALIZED (no KeInitializeSystem), INVALID_PARAMETER
 *   (Write NULL). */
IRQ_STATUS IoDumpRoutingState(IO_DUMP_WRITER Write, void *Context);

/* ======================================================================== */
/* Device templates (src/io/device.c)                                       */
/* ======================================================================== */

/* How a device's interrupts are routed. A zeroed template is FIXED to CPU 0.
 * Each routing is a router policy (router.h; IoQueryDeviceRouting says
 * which), carried out at connect (BROADCAST, AFFINITY, SPREAD) or after each
 * interrupt by moving one destination (FIXED with a Mask, ROUND_ROBIN,
 * LOWEST). Windows' IRQ_DEVICE_POLICY values map onto router policies in one
 * place, IrRouteConfigFromDevicePolicy (router.h, its table): FIXED_CPU
 * there is IoDeviceFixed here, AFFINITY is IoDeviceAffinity, and
 * SpreadMessagesAcrossAllProcessors is IoDeviceSpread (the same rule,
 * IrRouteSpreadCpu). */
typedef enum _IO_DEVICE_ROUTING {
    IoDeviceFixed = 0,    /* every interrupt to Cpu; movable over Mask when a Mask is given */
    IoDeviceRoundRobin,   /* movable over Mask, re-targeted to the next CPU after each interrupt */
    IoDeviceLowest,       /* movable over Mask, re-targeted to the lowest-IRQL CPU after each interrupt */
    IoDeviceBroadcast,    /* every CPU of Mask receives each interrupt (logical destination) */
    IoDeviceAffinity,     /* the least-loaded CPU of Mask, chosen at connect time */
    IoDeviceSpread,       /* interrupt i of the device to the i-th CPU of Mask (cyclically) among
                             those a device reaches; a Mask with none of them fails (NOT_SUPPORTED) */
    IoDeviceRoutingCount
} IO_DEVICE_ROUTING;

/* 32: an MSI-X device with a vector per queue (the 82576 has 25). */
#define IO_DEVICE_MAX_INTERRUPTS 32u

typedef enum _IO_DEVICE_INTERRUPT_KIND { IoDeviceLines = 0, IoDeviceMessages } IO_DEVICE_INTERRUPT_KIND;

typedef struct _IO_DEVICE_TEMPLATE {
    const char *Name;
    IO_DEVICE_INTERRUPT_KIND Kind;
    /* Lines: Count lines Lines[0..Count-1] on Bus; messages: Count MSI vectors. */
    HL_LINE_BUS Bus;
    uint32_t Lines[IO_DEVICE_MAX_INTERRUPTS];
    uint32_t Count;
    HL_LINE_OPTION Trigger;  /* lines only; HlLineDefault: the bus's */
    HL_LINE_OPTION Polarity; /* lines only */
    KIRQL Irql;              /* 0 is taken as KE_IRQL_ANY: any device class */
    bool Share;              /* lines only */
    IO_DEVICE_ROUTING Routing;
    uint32_t Cpu;            /* IoDeviceFixed */
    const IR_CPU_SET *Mask;  /* every routing but a plain IoDeviceFixed */
    /* Messages whose routing moves them need it (IoConnectInterruptEx)
     * unless they are remapped. */
    PIO_MSI_UPDATE_ROUTINE UpdateMessage;
    void *UpdateContext;
    /* Messages: the device's PCI requester id, if HasRequesterId (as
     * IO_CONNECT_MESSAGE_BASED_PARAMETERS: remapped when a unit serves it). */
    bool HasRequesterId;
    uint16_t RequesterId;
    /* Messages: the device's MSI-X table, if not NULL: message i is entry i,
     * programmed, moved and masked by Io (IO_CONNECT_MESSAGE_BASED_PARAMETERS,
     * MsixTable); UpdateMessage is then not needed. */
    const HL_MSIX_TABLE *MsixTable;
} IO_DEVICE_TEMPLATE;

typedef struct _IO_DEVICE_CONNECTION {
    uint32_t Count;
    KINTERRUPT *Interrupts[IO_DEVICE_MAX_INTERRUPTS];
    HL_MSI_MESSAGE Messages[IO_DEVICE_MAX_INTERRUPTS]; /* message-based: what to program */
} IO_DEVICE_CONNECTION;

/* Connects every interrupt of the device with one ISR and context, all or
 * nothing: on failure whatever was connected is disconnected again, each
 * redirection entry that no Io object used before the call is written back
 * as it was (vector, destination, mask: bit for bit; a disconnect alone
 * would leave it masked with this call's vector and destination), and the
 * status of the first failure is returned. Connection is output only
 * (Count 0 after a failure).
 *   SUCCESS
 *   INVALID_PARAMETER  Template, ServiceRoutine or Connection NULL; an unknown
 *                      Kind or Routing; Count 0 or above
 *                      IO_DEVICE_MAX_INTERRUPTS; no Mask where the routing
 *                      needs one
 *   any status of IoConnectInterruptEx (NOT_SUPPORTED among them: no CPU of
 *   the template's target is reachable by a device interrupt) or of
 *   IoSetInterruptPolicy */
IRQ_STATUS IoConnectDevice(const IO_DEVICE_TEMPLATE *Template, PKSERVICE_ROUTINE ServiceRoutine,
                           void *ServiceContext, IO_DEVICE_CONNECTION *Connection);
/* Disconnects every interrupt of the device (IoDisconnectInterrupt each,
 * the last first) and sets Count to 0.
 *   SUCCESS
 *   INVALID_PARAMETER  Connection NULL or its Count above the maximum
 *                      (nothing changes)
 *   NOT_CONNECTED      Count 0 (nothing changes)
 *   the first status IoDisconnectInterrupt refused one of them with
 *   (NOT_CONNECTED: disconnected on its own already; ACCESS_DENIED;
 *   INVALID_PARAMETER: a NULL entry): the others are disconnected all the
 *   same, so that a device is never left half connected. */
IRQ_STATUS IoDisconnectDevice(IO_DEVICE_CONNECTION *Connection);

/* What a routing means, the one conversion of a device routing to a router
 * policy (IoConnectDevice uses it, and so should a caller that re-routes):
 * Policy (optional) receives the policy: IoDeviceFixed and IoDeviceSpread
 * FIXED_CPU, IoDeviceRoundRobin ROUND_ROBIN, IoDeviceLowest LOWEST_PRIORITY,
 * IoDeviceBroadcast BROADCAST, IoDeviceAffinity AFFINITY. Movable (optional)
 * receives whether a template with it is connected movable
 * (IoTargetRoutable), so that IoRouteDevice can switch between such
 * routings live: IoDeviceRoundRobin, IoDeviceLowest, and IoDeviceFixed when
 * HasMask. INVALID_PARAMETER: an unknown routing (nothing written). */
IRQ_STATUS IoQueryDeviceRouting(IO_DEVICE_ROUTING Routing, bool HasMask, IR_ROUTING_POLICY *Policy, bool *Movable);

/* Re-routes a connected device live, within the set it was connected over:
 * each interrupt gets the routing's policy (IoSetInterruptPolicy) and, for
 * IoDeviceFixed, the destination Cpu (IoSetInterruptTarget). Nothing is
 * masked, nothing reconnected. The connection must have been made with a
 * movable routing and a Mask.
 *   INVALID_PARAMETER  Connection NULL or its Count above the maximum, an
 *                      unknown Routing
 *   NOT_CONNECTED      Count 0
 *   NOT_SUPPORTED      Routing is not movable (reconnect instead), or an
 *                      interrupt of the connection is not movable
 *   any status of IoSetInterruptPolicy / IoSetInterruptTarget (INVALID_CPU:
 *   Cpu outside the set; NOT_CONNECTED: an interrupt disconnected on its
 *   own; ACCESS_DENIED).
 * All or nothing: every interrupt is checked before any is changed, so a
 * refusal changes none; should a move still fail half-way (a back end
 * refusing the write), the interrupts already changed get their policy and
 * CPU back. */
IRQ_STATUS IoRouteDevice(IO_DEVICE_CONNECTION *Connection, IO_DEVICE_ROUTING Routing, uint32_t Cpu);

IRQROUTE_END_DECLS

#endif
