/* SPDX-License-Identifier: MIT */
/*
 * Ke — the kernel core: IRQL, spin locks, per-CPU dynamic vector allocation,
 * interrupt objects, the central dispatcher and KeSynchronizeExecution.
 *
 * IRQL is the NT amd64 notion: the priority class the CPU runs at. On x86 it
 * is written to the local APIC TPR (the CR8 class, vector >> 4), so an
 * interrupt whose vector's class is at or below the CPU's IRQL waits in the
 * IRR. The mapping IRQL <-> vector classes is a platform table
 * (KE_VECTOR_LAYOUT); KeAmd64VectorLayout is the NT amd64 one.
 *
 * Ke includes Hl, never Io.
 */
#ifndef IRQROUTE_KE_H
#define IRQROUTE_KE_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "hl.h"
#include "status.h"

IRQROUTE_BEGIN_DECLS

/* ======================================================================== */
/* IRQL and spin locks                                                      */
/* ======================================================================== */

typedef uint8_t KIRQL;

#define PASSIVE_LEVEL 0u
#define APC_LEVEL 1u
#define DISPATCH_LEVEL 2u
#define CLOCK_LEVEL 13u
#define IPI_LEVEL 14u
#define HIGH_LEVEL 15u
#define KE_IRQL_COUNT 16u
/* "No IRQL requested": the allocator spreads over the device classes. */
#define KE_IRQL_ANY 0xFFu

/* Opaque: only the Ke calls below touch it, every access atomic (Ke reads
 * the word as a C11 _Atomic uint32_t, which has its size and alignment:
 * src/ke/ki.h). A plain integer, so that the type means the same in C and
 * C++. Zero is unlocked: a zeroed lock needs no KeInitializeSpinLock; taken,
 * the word names the holder in a build with debug checks (src/ke/irql.c). */
typedef struct _KSPIN_LOCK {
    uint32_t Opaque;
} KSPIN_LOCK;

/* Makes SpinLock free (the same as zeroing it). */
void KeInitializeSpinLock(KSPIN_LOCK *SpinLock);
/* Raises to DISPATCH_LEVEL, then acquires. */
KIRQL KeAcquireSpinLock(KSPIN_LOCK *SpinLock);
/* Releases SpinLock, then lowers the IRQL to OldIrql (what
 * KeAcquireSpinLock returned). */
void KeReleaseSpinLock(KSPIN_LOCK *SpinLock, KIRQL OldIrql);
/* Acquire/release without touching the IRQL (caller is already high enough). */
void KeAcquireSpinLockAtDpcLevel(KSPIN_LOCK *SpinLock);
/* Releases a lock taken by KeAcquireSpinLockAtDpcLevel; the IRQL stays. */
void KeReleaseSpinLockFromDpcLevel(KSPIN_LOCK *SpinLock);
/* Takes SpinLock if it is free, without spinning and without touching the
 * IRQL; returns whether it did. */
bool KeTryToAcquireSpinLockAtDpcLevel(KSPIN_LOCK *SpinLock);

/* The calling CPU's IRQL as Ke records it (PlatCurrentCpu says which CPU).
 * Only after KeInitializeSystem, like every IRQL call. */
KIRQL KeGetCurrentIrql(void);
/* NewIrql must be >= the current IRQL; returns the previous IRQL. Writes
 * the TPR so the local APIC holds back interrupts at or below NewIrql. */
KIRQL KeRaiseIrql(KIRQL NewIrql);
/* NewIrql must be <= the current IRQL. */
void KeLowerIrql(KIRQL NewIrql);
/* The IRQL another CPU last recorded (for the router's LOWEST policy);
 * HIGH_LEVEL for a CPU beyond the configured count. */
KIRQL KeQueryProcessorIrql(uint32_t Cpu);

/* ======================================================================== */
/* System, processors and the vector layout                                 */
/* ======================================================================== */

/* How a platform lays out its 256 vectors. */
typedef struct _KE_VECTOR_LAYOUT {
    /* Device vectors are allocated only in [FirstDeviceVector, LastDeviceVector]. */
    uint8_t FirstDeviceVector;
    uint8_t LastDeviceVector;
    /* Vectors the platform keeps for itself (IPIs, clock, APC/DPC, error...):
     * never handed out, even inside the device range. */
    const uint8_t *ReservedVectors;
    uint32_t ReservedVectorCount;
    uint8_t SpuriousVector;
    /* The vector inter-processor messages arrive on (a reserved one; its
     * class is IPI_LEVEL, so IPIs are masked by IRQL like any interrupt). */
    uint8_t IpiVector;
    /* For each IRQL, the priority classes (vector >> 4, bit n = class n) whose
     * vectors serve it. amd64: IRQL n <-> class n. Zero: no devices at that IRQL. */
    uint16_t ClassesOfIrql[KE_IRQL_COUNT];
    /* TPR value that blocks everything at or below each IRQL. */
    uint8_t TprOfIrql[KE_IRQL_COUNT];
} KE_VECTOR_LAYOUT;

/* NT amd64: devices at IRQL 3-12 in vectors 0x30-0xCF (IRQL == vector >> 4);
 * reserved APC 0x1F, DPC 0x2F, spurious 0x3F, reboot 0x50, generic 0xC1,
 * clock 0xD1, clock IPI 0xD2, IPI 0xE1, error 0xE3, profile 0xFD, perf 0xFE,
 * NMI 0xFF. */
extern const KE_VECTOR_LAYOUT KeAmd64VectorLayout;

/* Sizes the per-CPU tables for ProcessorCount CPUs (1 .. IR_MAX_CPUS) and
 * takes the layout. Memory comes from PlatAllocateMemory. Calling it again
 * discards every connection and allocation (tests). Installs Ke's handler
 * on the layout's IPI vector, which is Ke's from then on.
 *   SUCCESS
 *   INVALID_PARAMETER       Layout NULL, FirstDeviceVector below 0x20 or
 *                           above LastDeviceVector, ReservedVectors NULL with
 *                           a count, or an IpiVector (other than 0) that is
 *                           not a system vector: below 0x20, the spurious
 *                           vector, or a device vector of the layout
 *   INVALID_CPU             ProcessorCount 0 or above IR_MAX_CPUS
 *   INSUFFICIENT_RESOURCES  PlatAllocateMemory returned NULL
 * On failure the system in place (if any) is kept as it was. */
IRQ_STATUS KeInitializeSystem(uint32_t ProcessorCount, const KE_VECTOR_LAYOUT *Layout);
/* Returns Ke to its state before KeInitializeSystem (tests, a kernel that
 * hands the machine on): frees the per-CPU tables and the vector matrix;
 * every call that needs them and returns a status answers NOT_INITIALIZED
 * until the next KeInitializeSystem (the IRQL calls, which return none,
 * must not be made, as before KeInitializeSystem). Directly allocated
 * vectors, system vector handlers and the per-CPU counts (IPIs, vector
 * statistics) go with it. No CPU may take an
 * interrupt meanwhile.
 *   SUCCESS
 *   NOT_INITIALIZED  no KeInitializeSystem (or shut down already)
 *   INVALID_STATE    an interrupt object is still connected (disconnect it
 *                    first); nothing changes */
IRQ_STATUS KeShutdownSystem(void);
/* The ProcessorCount of KeInitializeSystem (0 before it and after
 * KeShutdownSystem). */
uint32_t KeQueryProcessorCount(void);
/* Marks Cpu online (called on that CPU at start-up, after its local APIC is
 * initialised). Offline CPUs are never chosen by the allocator.
 *   SUCCESS, NOT_INITIALIZED (no KeInitializeSystem), INVALID_CPU (Cpu >=
 *   the processor count) */
IRQ_STATUS KeInitializeProcessor(uint32_t Cpu);
/* True when KeInitializeProcessor marked Cpu online (false for a Cpu
 * beyond the count, or before KeInitializeSystem). */
bool KeIsProcessorOnline(uint32_t Cpu);
/* Online = every CPU KeInitializeProcessor marked online (empty before
 * KeInitializeSystem). */
void KeQueryOnlineProcessors(IR_CPU_SET *Online);

/* CPU OFFLINE (src/ke/offline.c). Offline means no device interrupt is
 * routed to the CPU; it keeps running and taking IPIs. The I/O manager's
 * IoSetProcessorOffline moves what it connected and calls these; a kernel
 * without Io calls them itself. */

/* The allocator stops choosing Cpu (KeIsProcessorOnline is false from now
 * on); what is connected there stays until it is moved.
 *   SUCCESS
 *   NOT_INITIALIZED  no KeInitializeSystem
 *   INVALID_CPU      Cpu beyond the count
 *   INVALID_STATE    Cpu is offline already
 *   ACCESS_DENIED    Cpu is the last online CPU, or an object connected by
 *                    Ke's caller (KeConnectInterrupt, which nothing moves)
 *                    is linked there
 * Nothing changes on failure. */
IRQ_STATUS KeSetProcessorOffline(uint32_t Cpu);
/* Cpu is a CPU the allocator chooses again (as KeInitializeProcessor).
 *   SUCCESS, NOT_INITIALIZED, INVALID_CPU */
IRQ_STATUS KeSetProcessorOnline(uint32_t Cpu);
/* Returns once Cpu has retired every link a move left on it (KeRetireInterruptLink):
 * it asks Cpu again until its list is empty, so Cpu must take interrupts
 * (be below the IPI level at times). Call it with interrupts enabled.
 *   SUCCESS, NOT_INITIALIZED, INVALID_CPU (beyond the count or without an
 *   APIC id), DEVICE_ERROR (the request could not be sent) */
IRQ_STATUS KeDrainRetiringLinks(uint32_t Cpu);

/* ======================================================================== */
/* Dynamic vector allocation (src/ke/vector_matrix.c)                       */
/* ======================================================================== */

/* IRQL whose classes contain Vector, or KE_IRQL_ANY for a vector outside
 * every device class. */
KIRQL KeIrqlOfVector(uint8_t Vector);
/* One vector on the least-loaded online CPU of Affinity (ties: lowest CPU),
 * in a class of Irql (KE_IRQL_ANY: the CPU's least-used device class).
 *   SUCCESS
 *   NOT_INITIALIZED    no KeInitializeSystem
 *   INVALID_PARAMETER  Affinity, Cpu or Vector NULL
 *   INVALID_IRQL       Irql neither KE_IRQL_ANY nor an IRQL with device vectors
 *   EMPTY_AFFINITY     no online CPU in Affinity
 *   VECTOR_EXHAUSTED   every online CPU of Affinity is full in those classes
 * *Cpu and *Vector are written only on success. */
IRQ_STATUS KeAllocateVector(const IR_CPU_SET *Affinity, KIRQL Irql, uint32_t *Cpu, uint8_t *Vector);
/* The CPU KeAllocateVector(Affinity, KE_IRQL_ANY, ...) would choose, without
 * taking a vector: the least-loaded online CPU of Affinity that has a device
 * vector left (ties: lowest CPU). The vector matrix's search is the one
 * least-loaded search (Io uses it for a movable interrupt's first CPU).
 *   SUCCESS, NOT_INITIALIZED, INVALID_PARAMETER (Affinity or Cpu NULL),
 *   EMPTY_AFFINITY (no online CPU in Affinity), VECTOR_EXHAUSTED (all full)
 * *Cpu is written only on success. */
IRQ_STATUS KeQueryLeastLoadedProcessor(const IR_CPU_SET *Affinity, uint32_t *Cpu);
/* One vector number free on every CPU of Cpus (hardware broadcast/logical).
 *   SUCCESS, NOT_INITIALIZED, INVALID_PARAMETER (Cpus or Vector NULL),
 *   INVALID_IRQL (as KeAllocateVector),
 *   EMPTY_AFFINITY     Cpus has no online CPU
 *   INVALID_CPU        a CPU of Cpus beyond the count, or offline beside online ones
 *   VECTOR_EXHAUSTED   no vector of those classes is free on all of them */
IRQ_STATUS KeAllocateVectorOnSet(const IR_CPU_SET *Cpus, KIRQL Irql, uint8_t *Vector);
/* Takes a specific device vector on Cpu (an offline CPU too).
 *   SUCCESS, NOT_INITIALIZED, INVALID_CPU (Cpu >= the count),
 *   INVALID_VECTOR (not a device vector), SHARING_VIOLATION (taken already) */
IRQ_STATUS KeReserveVector(uint32_t Cpu, uint8_t Vector);
/* Gives back a vector taken by KeAllocateVector*, KeReserveVector or a
 * connect.
 *   SUCCESS, NOT_INITIALIZED, INVALID_CPU (Cpu >= the count),
 *   INVALID_VECTOR     not a device vector
 *   INVALID_STATE      the vector is not taken on Cpu
 *   ACCESS_DENIED      interrupt objects are connected on it on Cpu: the
 *                      last one's disconnect frees it */
IRQ_STATUS KeFreeVector(uint32_t Cpu, uint8_t Vector);
/* True when the device vector Vector is taken on Cpu (by an allocation, a
 * reservation or a connect); false for a system vector, a Cpu beyond the
 * count, or before KeInitializeSystem. */
bool KeIsVectorAllocated(uint32_t Cpu, uint8_t Vector);

typedef struct _KE_VECTOR_USAGE {
    uint32_t Allocated;   /* device vectors in use */
    uint32_t Available;   /* device vectors free */
    uint32_t Reserved;    /* system vectors inside the device range */
    uint32_t AllocatedPerClass[16];
} KE_VECTOR_USAGE;

/* SUCCESS, NOT_INITIALIZED, INVALID_PARAMETER (Usage NULL), INVALID_CPU
 * (Cpu >= the count). Usage is written only on success. */
IRQ_STATUS KeQueryVectorUsage(uint32_t Cpu, KE_VECTOR_USAGE *Usage);

/* ======================================================================== */
/* Interrupt objects (src/ke/interrupt.c)                                   */
/* ======================================================================== */

typedef struct _KINTERRUPT KINTERRUPT;

typedef enum _KINTERRUPT_MODE { LevelSensitive = 0, Latched = 1 } KINTERRUPT_MODE;
typedef enum _KINTERRUPT_POLARITY {
    InterruptPolarityUnknown = 0,
    InterruptActiveHigh,
    InterruptActiveLow
} KINTERRUPT_POLARITY;

/* Returns true when the interrupt came from this ISR's device ("claimed"). */
typedef bool (*PKSERVICE_ROUTINE)(KINTERRUPT *Interrupt, void *ServiceContext);
typedef bool (*PKSYNCHRONIZE_ROUTINE)(void *SynchronizeContext);

typedef struct _KE_INTERRUPT_PARAMETERS {
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;       /* NULL: the object's own lock */
    uint8_t Vector;
    KIRQL Irql;                 /* must be KeIrqlOfVector(Vector) */
    KIRQL SynchronizeIrql;      /* >= Irql; KeSynchronizeExecution raises to it */
    KINTERRUPT_MODE Mode;
    KINTERRUPT_POLARITY Polarity;
    bool ShareVector;
    const IR_CPU_SET *Cpus;     /* CPUs whose vector table will hold the object */
    const IR_CPU_SET *Affinity; /* recorded affinity (NULL: Cpus) */
    uint32_t SpareLinks;        /* link slots beyond Cpus' for moves (KeAddInterruptLink);
                                   at most KE_MAX_SPARE_LINKS */
} KE_INTERRUPT_PARAMETERS;
#define KE_MAX_SPARE_LINKS IR_MAX_CPUS

/* Bytes of caller storage an object needs for CpuCount link slots (the
 * CPUs of its set plus its SpareLinks: the object plus one link and counter
 * block per slot), and the storage's alignment. */
size_t KeQueryInterruptObjectSize(uint32_t CpuCount);
#define KE_INTERRUPT_ALIGNMENT 64u

/* Who connected an object. The layer that connects an object is the only
 * one that may disconnect it: Io keeps the line's redirection entry, its
 * route and its record about each of its objects, and a disconnect behind
 * its back would leave them on a vector that is free again. */
typedef enum _KE_INTERRUPT_OWNER {
    KeInterruptOwnerNone = 0, /* not connected */
    KeInterruptOwnerKe,       /* KeConnectInterrupt: a caller of Ke directly */
    KeInterruptOwnerIo,       /* the I/O manager (IoConnectInterrupt*) */
} KE_INTERRUPT_OWNER;

/* Builds an object in caller storage. Checks everything KeConnectInterrupt
 * would except the state of the vector tables.
 *   SUCCESS
 *   NOT_INITIALIZED    no KeInitializeSystem
 *   INVALID_PARAMETER  Storage, Parameters, Interrupt, ServiceRoutine or Cpus
 *                      NULL; Storage not KE_INTERRUPT_ALIGNMENT-aligned; Mode
 *                      or Polarity not one of the enum
 *   INVALID_VECTOR     Vector is not a device vector of the layout
 *   INVALID_IRQL       Irql is not KeIrqlOfVector(Vector), or SynchronizeIrql
 *                      is below Irql or above HIGH_LEVEL
 *   EMPTY_AFFINITY     Cpus is empty
 *   INVALID_CPU        a CPU of Cpus is beyond the count or offline
 *   BUFFER_TOO_SMALL   StorageSize < KeQueryInterruptObjectSize(CPUs of Cpus)
 *   ALREADY_CONNECTED  the bytes the object takes overlap a connected object
 *                      (disconnect it first): Ke's own record of connected
 *                      objects decides, whatever bytes Storage holds
 * Storage and *Interrupt are written only on success. */
IRQ_STATUS KeInitializeInterrupt(void *Storage, size_t StorageSize, const KE_INTERRUPT_PARAMETERS *Parameters,
                                 KINTERRUPT **Interrupt);
/* Links the object into the vector table of every CPU of its set (release
 * publication) and records Owner. Interrupt must be storage the caller holds
 * (it is read to be checked; unlike the calls below, connect cannot judge an
 * object by its address). A slot's vector is taken in the allocator
 * by its first object and freed by its last. Sharing: both sides must set
 * ShareVector and use the same mode.
 *   SUCCESS
 *   NOT_INITIALIZED     no KeInitializeSystem
 *   INVALID_PARAMETER   not an object KeInitializeInterrupt built, or Owner
 *                       is not KeInterruptOwnerKe or KeInterruptOwnerIo
 *   ALREADY_CONNECTED   connected already (by any owner)
 *   INVALID_CPU         a CPU of its set is no longer online
 *   SHARING_VIOLATION   an object on the vector of one of its CPUs, or this
 *                       one, does not share
 *   TRIGGER_MISMATCH    the objects there use the other mode
 * Nothing is linked on failure. KeConnectInterrupt is the KeInterruptOwnerKe
 * form; only the I/O manager connects as KeInterruptOwnerIo. */
IRQ_STATUS KeConnectInterruptAs(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner);
IRQ_STATUS KeConnectInterrupt(KINTERRUPT *Interrupt);
/* Unlinks the object and returns when no CPU can still be running its ISR.
 * *VectorFreed (optional) tells whether it was the last object of its vector.
 *   SUCCESS
 *   NOT_INITIALIZED    no KeInitializeSystem
 *   INVALID_PARAMETER  Interrupt NULL, or Owner not KeInterruptOwnerKe or
 *                      KeInterruptOwnerIo
 *   NOT_CONNECTED      not connected (never, or disconnected already), or
 *                      not an object KeInitializeInterrupt built
 *   ACCESS_DENIED      connected by another owner: an object Io connected
 *                      is disconnected through IoDisconnectInterrupt
 * Nothing changes on failure (*VectorFreed included).
 * Any address is safe to pass: Ke looks it up in its record of connected
 * objects (O(connected objects), under Ke's connect lock) and reads the
 * object only if it is there, so a pointer to freed memory (an Io handle
 * after IoDisconnectInterrupt) is NOT_CONNECTED and never read, however
 * long ago it was freed (unless the address now holds a new connected
 * object: an address names whatever is connected there now).
 * KeDisconnectInterrupt is the KeInterruptOwnerKe form. */
IRQ_STATUS KeDisconnectInterruptAs(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, bool *VectorFreed);
IRQ_STATUS KeDisconnectInterrupt(KINTERRUPT *Interrupt, bool *VectorFreed);

/* Who connected the object (KeInterruptOwnerNone: not connected, not an
 * object, NULL, or Ke not initialised). KeIsInterruptConnected: owner !=
 * KeInterruptOwnerNone. Like KeDisconnectInterrupt, any address is safe:
 * it is looked up in Ke's record of connected objects (O(connected
 * objects), under Ke's connect lock with interrupts off: callable in
 * interrupt context) and the object is read only when found there. */
KE_INTERRUPT_OWNER KeQueryInterruptOwner(const KINTERRUPT *Interrupt);
bool KeIsInterruptConnected(const KINTERRUPT *Interrupt);
/* Accessors: they read the object, so Interrupt must be storage the caller
 * holds (a Ke object's storage, connected or not; an Io handle only until
 * IoDisconnectInterrupt). They return no status. */
uint8_t KeGetInterruptVector(const KINTERRUPT *Interrupt);
/* The object's IRQL (KeIrqlOfVector of its vector). */
KIRQL KeGetInterruptIrql(const KINTERRUPT *Interrupt);
/* The object's mode: LevelSensitive or Latched (edge). */
KINTERRUPT_MODE KeGetInterruptMode(const KINTERRUPT *Interrupt);
/* Cpus = the CPUs whose vector tables hold the object. */
void KeGetInterruptCpus(const KINTERRUPT *Interrupt, IR_CPU_SET *Cpus);
/* Times the ISR ran on Cpu / claimed the interrupt on Cpu. */
uint64_t KeQueryInterruptCount(const KINTERRUPT *Interrupt, uint32_t Cpu);
/* Times the ISR claimed the interrupt on Cpu (returned true); 0 for a CPU
 * the object is not on. */
uint64_t KeQueryInterruptClaimedCount(const KINTERRUPT *Interrupt, uint32_t Cpu);
/* Times the ISR ran on any CPU since the object was built, links a move
 * retired and reused included; *Claimed (optional): times it claimed. */
uint64_t KeQueryInterruptTotalCount(const KINTERRUPT *Interrupt, uint64_t *Claimed);

/* ======================================================================== */
/* Moving a connected object (src/ke/link.c)                                */
/* ======================================================================== */

/* A MOVE IN TWO PHASES (what the I/O manager does; the calls take Owner and
 * refuse anyone else's object). First KeAddInterruptLink puts the object on
 * the new (CPU, vector), where the caller has allocated the vector; then the
 * caller points the device's entry there; then KeRetireInterruptLink hands
 * the old (CPU, vector) to Ke, which takes it out only once no interrupt can
 * still arrive on it: from the old CPU itself, with its IRR and ISR bits for
 * the vector clear and no dispatch under way there (Intel SDM vol. 3A
 * 11.8.4). An interrupt sent before the entry moved is still dispatched on
 * the old link, so nothing is lost, and the vector is free again (its chain
 * empty) only after the last one: nothing reaches a vector after it was
 * freed or reused. (Linux moves a vector the same way.) */

/* Links Interrupt, connected by Owner, on (Cpu, Vector) too, in a spare or
 * retired slot (KE_INTERRUPT_PARAMETERS.SpareLinks). The vector's slot takes
 * the vector in the allocator unless the caller allocated it.
 *   SUCCESS
 *   NOT_INITIALIZED        no KeInitializeSystem
 *   INVALID_PARAMETER      Interrupt NULL, Owner not Ke or Io
 *   NOT_CONNECTED          not a connected object (not read)
 *   ACCESS_DENIED          connected by the other owner
 *   INVALID_CPU            Cpu beyond the count or offline
 *   INVALID_VECTOR         not a device vector
 *   INVALID_IRQL           Vector's IRQL is not the object's
 *   ALREADY_CONNECTED      the object is in that chain already (active or retiring)
 *   SHARING_VIOLATION, TRIGGER_MISMATCH  as KeConnectInterrupt
 *   INSUFFICIENT_RESOURCES no free slot
 * Nothing changes on failure. */
IRQ_STATUS KeAddInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu, uint8_t Vector);

/* Starts retiring the object's link on (Cpu, Vector): the caller has
 * pointed the device elsewhere. Ke sends Cpu a request and the link leaves
 * the chain there (its vector freed with the chain's last object) once the
 * vector is neither requested nor in service on Cpu; until then it still
 * dispatches. An object with a post-dispatch routine (Io's movable ones)
 * first waits for an interrupt dispatched on one of its active links: the
 * device's writes are ordered, so one that reached the new entry proves
 * that every earlier one has reached the old CPU. KeDrainRetiringLinks does
 * not wait. KeQueryInterruptRetiringLinks says when it is over.
 *   SUCCESS
 *   NOT_INITIALIZED, INVALID_PARAMETER, NOT_CONNECTED, ACCESS_DENIED  as KeAddInterruptLink
 *   NOT_PENDING            no active link there (never added, or retiring already)
 *   INVALID_STATE          it is the object's last active link
 *   NOT_SUPPORTED          the vector layout has no IPI vector, so no CPU
 *                          can be asked (checked first)
 *   DEVICE_ERROR           the request could not be sent (the local APIC);
 *                          the link stays retiring: KeRetryInterruptRetirement */
IRQ_STATUS KeRetireInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu, uint8_t Vector);

/* Takes out at once a link KeAddInterruptLink added that the device was
 * never pointed at (a move that failed before its write): nothing can be on
 * its way to it, so there is nothing to wait for. The caller vouches for
 * that; a link the device was pointed at goes through KeRetireInterruptLink.
 *   SUCCESS (its vector freed with the chain's last object)
 *   NOT_INITIALIZED, INVALID_PARAMETER, NOT_CONNECTED, ACCESS_DENIED  as KeAddInterruptLink
 *   NOT_PENDING            no active link there
 *   INVALID_STATE          it is the object's last active link */
IRQ_STATUS KeRemoveUnusedInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu,
                                       uint8_t Vector);

/* Takes back a link of the object on (Cpu, Vector) that is still retiring
 * (it never left the chain): the device may be sent there again, and its
 * vector stays allocated. For a move back before the old CPU answered.
 *   SUCCESS
 *   NOT_INITIALIZED, INVALID_PARAMETER, NOT_CONNECTED, ACCESS_DENIED  as KeAddInterruptLink
 *   NOT_PENDING            no link retiring there (never added, active, or gone) */
IRQ_STATUS KeReviveInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu, uint8_t Vector);

/* Sends the retire request again to every CPU where the object has a link
 * retiring (the first found the vector still pending there, or ran nested in
 * a dispatch): call it after the object's next interrupt, or periodically.
 * SUCCESS (also with nothing retiring); NOT_INITIALIZED, INVALID_PARAMETER,
 * NOT_CONNECTED, ACCESS_DENIED as KeAddInterruptLink; DEVICE_ERROR. */
IRQ_STATUS KeRetryInterruptRetirement(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner);

/* Links of the object still retiring; 0 for NULL. Lock-free (one load), so
 * that a post-dispatch routine may ask after every interrupt. */
uint32_t KeQueryInterruptRetiringLinks(const KINTERRUPT *Interrupt);

/* ======================================================================== */
/* What is connected where (src/ke/query.c): for dumps and checks           */
/* ======================================================================== */

/* The device vectors of Cpu that have at least one object linked: bit v % 64
 * of Vectors[v / 64] for vector v. A snapshot: connects and disconnects on
 * other CPUs may change it as soon as the call returns.
 *   SUCCESS, NOT_INITIALIZED, INVALID_PARAMETER (Vectors NULL), INVALID_CPU
 *   (Cpu >= the count). Vectors is written only on success. */
IRQ_STATUS KeQueryConnectedVectors(uint32_t Cpu, uint64_t Vectors[4]);

/* One object linked on a vector of a CPU, as KeQueryVectorObjects copies
 * it. Interrupt identifies the object only: it may be disconnected, and its
 * memory reused, as soon as the call returns, so it is not to be read
 * through unless the caller knows it stays connected (its owner's lock). */
typedef struct _KE_VECTOR_OBJECT {
    KINTERRUPT *Interrupt;
    KE_INTERRUPT_OWNER Owner;
    KIRQL Irql;
    KIRQL SynchronizeIrql;
    KINTERRUPT_MODE Mode;
    bool ShareVector;
    uint64_t Count;        /* times its ISR ran on this CPU */
    uint64_t Claimed;      /* ... and claimed the interrupt */
    IR_CPU_SET Cpus;       /* every CPU whose vector table holds it */
} KE_VECTOR_OBJECT;

/* The objects linked on Vector of Cpu in dispatch order (the chain's),
 * copied under the connect lock: from the Skip-th (0: the first) at most
 * Capacity of them into Objects, and how many the chain holds in all into
 * *Total (0: nothing linked there). A caller with little stack reads a long
 * chain a few at a time; the chain may change between two calls.
 *   SUCCESS, NOT_INITIALIZED, INVALID_PARAMETER (Total NULL, or Objects
 *   NULL with a Capacity), INVALID_CPU (Cpu >= the count). Nothing is
 *   written on failure. */
IRQ_STATUS KeQueryVectorObjects(uint32_t Cpu, uint8_t Vector, uint32_t Skip, KE_VECTOR_OBJECT *Objects,
                                uint32_t Capacity, uint32_t *Total);

/* ======================================================================== */
/* Central dispatcher (src/ke/dispatch.c)                                   */
/* ======================================================================== */

/* The single entry for every vector on every CPU: the platform's entry stub
 * calls it with interrupts disabled after the CPU accepted Vector. It runs
 * with interrupts disabled throughout (no nesting).
 * Device vectors: walks the chain at the object's synchronize IRQL under its
 * lock (level: until one claims; edge: all), counts unclaimed interrupts,
 * then EOI. Spurious vector: counted, no EOI (SDM 11.9). Other system vectors
 * go to the handler set by KeSetSystemVectorHandler (counted as unclaimed when
 * there is none), then EOI. */
void KeDispatchInterrupt(uint32_t Cpu, uint8_t Vector);

typedef void (*PKSYSTEM_VECTOR_HANDLER)(uint32_t Cpu, uint8_t Vector, void *Context);
/* Handlers for the platform's system vectors (clock, error...). Handler
 * NULL removes one.
 *   SUCCESS
 *   NOT_INITIALIZED  no KeInitializeSystem
 *   INVALID_VECTOR   a device vector, the spurious vector (never handled:
 *                    no EOI, SDM 11.9) or a CPU exception (below 0x20)
 *   ACCESS_DENIED    a vector Ke handles itself: the layout's IpiVector
 *                    (KeSendIpi and KeIpiGenericCall rely on its handler) */
IRQ_STATUS KeSetSystemVectorHandler(uint8_t Vector, PKSYSTEM_VECTOR_HANDLER Handler, void *Context);

/* Called on the dispatching CPU after the object's ISR ran (outside its
 * lock, interrupts disabled, before the EOI): the hook a router uses to
 * re-target a line or message after each interrupt. InterruptedIrql is the
 * IRQL the CPU returns to after this interrupt (its recorded IRQL is still
 * the ISR's). NULL removes it. */
typedef void (*PKPOST_DISPATCH_ROUTINE)(KINTERRUPT *Interrupt, uint32_t Cpu, KIRQL InterruptedIrql, void *Context);
/*   SUCCESS, INVALID_PARAMETER (not an object KeInitializeInterrupt built) */
IRQ_STATUS KeSetInterruptPostDispatch(KINTERRUPT *Interrupt, PKPOST_DISPATCH_ROUTINE Routine, void *Context);

/* Runs Routine under the object's spin lock at its synchronize IRQL and
 * returns its result; false without running it for a NULL Routine or
 * something that is not an object. */
bool KeSynchronizeExecution(KINTERRUPT *Interrupt, PKSYNCHRONIZE_ROUTINE Routine, void *SynchronizeContext);

typedef struct _KE_VECTOR_STATISTICS {
    uint64_t Dispatched; /* deliveries of the vector on the CPU */
    uint64_t Unclaimed;  /* deliveries no ISR claimed (or no object was linked) */
} KE_VECTOR_STATISTICS;

/* SUCCESS, NOT_INITIALIZED, INVALID_PARAMETER (Statistics NULL),
 * INVALID_CPU (Cpu >= the count). Statistics is written only on success. */
IRQ_STATUS KeQueryVectorStatistics(uint32_t Cpu, uint8_t Vector, KE_VECTOR_STATISTICS *Statistics);
/* 0 for a CPU beyond the count. */
uint64_t KeQuerySpuriousCount(uint32_t Cpu);

/* ======================================================================== */
/* Interrupt storms (src/ke/storm.c; docs/storms.md)                        */
/* ======================================================================== */

/* Linux's numbers (kernel/irq/spurious.c): a vector is in a storm when at
 * least 99,900 of a window of 100,000 dispatches on one CPU were claimed by
 * no ISR. KeInitializeSystem restores them. */
#define KE_STORM_DEFAULT_WINDOW 100000u
#define KE_STORM_DEFAULT_THRESHOLD 99900u

/* A storm as the dispatcher saw it on one CPU: the window of the vector that
 * just ended. */
typedef struct _KE_STORM_REPORT {
    uint32_t Cpu;
    uint8_t Vector;
    KINTERRUPT *Interrupt; /* an object linked on the vector there (valid during the call); NULL: none was */
    uint64_t Dispatched;   /* dispatches of the vector in the window (>= the window size) */
    uint64_t Unclaimed;    /* of them, claimed by no ISR (>= the threshold) */
} KE_STORM_REPORT;

/* Called by the dispatcher on the CPU of the storm, from the unclaimed
 * dispatch that ended the window: interrupt context, interrupts disabled,
 * before the EOI, the CPU's recorded IRQL still the ISR's. It may take only
 * locks that are taken with interrupts disabled everywhere (the I/O APIC
 * driver's, Io's route locks), and masks what it must right there: after it
 * returns, the EOI lets a level line that is still asserted in again. The
 * object it is given stays connected until it returns. Io installs its own
 * (IoResetInterruptManager); a kernel without Io installs one here. */
typedef void (*PKSTORM_HANDLER)(const KE_STORM_REPORT *Report, void *Context);

/* Installs the storm handler (NULL: storms are still counted per window but
 * reported to nobody). KeInitializeSystem removes it.
 *   SUCCESS, NOT_INITIALIZED (before KeInitializeSystem) */
IRQ_STATUS KeSetStormHandler(PKSTORM_HANDLER Handler, void *Context);

/* The window (dispatches of one vector on one CPU) and the unclaimed count
 * in it that makes a storm, for every CPU and vector alike; the pair
 * changes as one (a dispatcher never judges a window by one old and one new
 * number). A window under way is judged by the new pair when it ends.
 *   SUCCESS
 *   NOT_INITIALIZED    before KeInitializeSystem
 *   INVALID_PARAMETER  WindowSize or Threshold 0, or Threshold > WindowSize
 * Nothing changes on failure. */
IRQ_STATUS KeSetStormThresholds(uint32_t WindowSize, uint32_t Threshold);
/* The pair in force (either pointer may be NULL): SUCCESS, NOT_INITIALIZED. */
IRQ_STATUS KeQueryStormThresholds(uint32_t *WindowSize, uint32_t *Threshold);

/* The storm clock, for want of time in the core: a caller that advances it
 * every period (Io's IoPollStormedInterrupts does, each call) makes an
 * unclaimed dispatch that comes more than one period after the vector's
 * previous one start the window's unclaimed count afresh, as Linux forgets
 * an unhandled count whose last interrupt is over 100 ms old: a line that
 * is rarely unclaimed is then never masked, however long it runs.
 * Any context. */
void KeAdvanceStormEpoch(void);

/* Runs the object's ISR once on the calling CPU, at its synchronize IRQL
 * under its lock, as a dispatch would but outside one (no EOI, no counts):
 * the poll of a line masked for a storm. *Claimed: what the ISR returned.
 * The caller keeps the object connected meanwhile and calls at or below its
 * synchronize IRQL.
 *   SUCCESS
 *   INVALID_PARAMETER  Interrupt or Claimed NULL, or not an object
 *   NOT_CONNECTED      the object is not connected
 *   INVALID_IRQL       the caller's IRQL is above the synchronize IRQL
 * Nothing runs on failure. */
IRQ_STATUS KePollInterrupt(KINTERRUPT *Interrupt, bool *Claimed);

/* ======================================================================== */
/* Inter-processor interrupts (src/ke/ipi.c)                                */
/* ======================================================================== */

typedef enum _KE_IPI_MESSAGE {
    KeIpiReschedule = 0,
    KeIpiCallFunction,   /* used by KeIpiGenericCall */
    KeIpiTlbShootdown,
    KeIpiHalt,
    KeIpiUser0,
    KeIpiUser1,
    KeIpiMessageCount
} KE_IPI_MESSAGE;

typedef enum _KE_IPI_TARGET_KIND {
    KeIpiTargetCpu = 0,
    KeIpiTargetSet,
    KeIpiTargetAll,          /* every online CPU, the sender included */
    KeIpiTargetAllButSelf,
} KE_IPI_TARGET_KIND;

typedef struct _KE_IPI_TARGET {
    KE_IPI_TARGET_KIND Kind;
    uint32_t Cpu;
    const IR_CPU_SET *Cpus;
} KE_IPI_TARGET;

/* Runs on the target CPU at IPI_LEVEL, interrupts disabled. */
typedef void (*PKIPI_MESSAGE_HANDLER)(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context);
typedef void (*PKIPI_WORKER)(uint32_t Cpu, void *Context);

/* KeIpiCallFunction is reserved for KeIpiGenericCall. Handler NULL removes
 * one. KeInitializeSystem forgets every handler.
 *   SUCCESS, INVALID_PARAMETER (Message out of range or KeIpiCallFunction) */
IRQ_STATUS KeSetIpiMessageHandler(KE_IPI_MESSAGE Message, PKIPI_MESSAGE_HANDLER Handler, void *Context);
/* Marks Message pending on each target and sends the IPI vector through the
 * local APIC ICR. AllButSelf with no other CPU online sends nothing.
 *   SUCCESS
 *   NOT_INITIALIZED    no KeInitializeSystem
 *   INVALID_PARAMETER  Target NULL, Kind unknown, a Set target with Cpus
 *                      NULL, Message out of range or KeIpiCallFunction
 *                      (KeIpiGenericCall's own), or a layout without IpiVector
 *   EMPTY_AFFINITY     a Set target with an empty set
 *   INVALID_CPU        a target CPU beyond IR_MAX_CPUS, offline, or without
 *                      a registered APIC id (nothing sent)
 *   INVALID_STATE      an xAPIC ICR stayed busy (HlLapicSendIpi): the CPUs
 *                      before it in the set got the message, the rest not */
IRQ_STATUS KeSendIpi(const KE_IPI_TARGET *Target, KE_IPI_MESSAGE Message);
/* Runs Worker on every CPU of the target (the caller's own CPU directly)
 * and returns when all have finished. Call below IPI_LEVEL with interrupts
 * enabled; concurrent generic calls are serialised.
 *   SUCCESS
 *   NOT_INITIALIZED    no KeInitializeSystem
 *   INVALID_PARAMETER  Target or Worker NULL, Kind unknown, a Set target
 *                      with Cpus NULL, or a layout without IpiVector
 *   EMPTY_AFFINITY, INVALID_CPU  as KeSendIpi (Worker ran nowhere)
 *   INVALID_STATE      as KeSendIpi: Worker ran on the CPUs reached before
 *                      the busy ICR, not on the others nor on the caller's;
 *                      the call still returns only once those have finished */
IRQ_STATUS KeIpiGenericCall(const KE_IPI_TARGET *Target, PKIPI_WORKER Worker, void *Context);
/* Messages of a type a CPU has handled (0 for a CPU or Message out of range). */
uint64_t KeQueryIpiCount(uint32_t Cpu, KE_IPI_MESSAGE Message);

IRQROUTE_END_DECLS

#endif
