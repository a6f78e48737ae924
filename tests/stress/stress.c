/* SPDX-License-Identifier: MIT */
/*
 * irqroute_stress: edge, level and message interrupts fired at the sim while
 * drivers connect, disconnect, re-connect elsewhere, move, synchronise with
 * and send IPIs, for a bounded time; then exact invariants.
 *
 *   irqroute_stress [--seconds N] [--cpus N] [--firers N] [--drivers N] [--seed N] [--remap]
 *   (or IRQROUTE_STRESS_SECONDS / _CPUS / _FIRERS / _DRIVERS / _SEED / _REMAP=1)
 *
 * THREADS. The sim boots N CPUs (4-8) with service threads. F firer threads,
 * attached to no CPU (they are devices), raise interrupts: SimPulseGsi on
 * edge lines, SimSetGsi on level lines (the ISR deasserts), SimMsiWrite for
 * MSIs and for vectors connected with IoConnectInterrupt. D driver threads
 * each attach to CPU d (0..D-1) and keep it for their API calls, so those
 * CPUs take interrupts only where a real CPU would notice them (sim.h); a
 * driver never blocks while attached: every wait is a loop that services its
 * own CPU (SimServicePending). Each device belongs to one driver, which
 * connects it (IoConnectInterruptEx line- and message-based, IoConnectInterrupt)
 * with a random target (CPU, affinity, broadcast, movable), disconnects it,
 * moves it (IoSetInterruptTarget / IoSetInterruptPolicy), synchronises with
 * its ISR (KeSynchronizeExecution); drivers also send IPIs (KeSendIpi,
 * KeIpiGenericCall) to each other's CPUs and to the service threads'.
 *
 * WHY "RAISED" IS EXACT. An edge that arrives while the vector is already in
 * the IRR merges into it, and an edge on a masked entry is lost (82093AA
 * 3.2.4), so counting pulses would not count interrupts. Every device here
 * therefore behaves like a real device with an interrupt status bit: it
 * raises only while its driver has enabled it and while its previous
 * interrupt has not been serviced (state word: ENABLED, OUTSTANDING, BUSY;
 * the raise is one compare-and-swap from exactly ENABLED to
 * ENABLED|OUTSTANDING|BUSY, then the pulse/assert/write, then BUSY clears).
 * The ISR claims by clearing OUTSTANDING (a level device also drops its
 * line first). So one raise is one message into the IRR, never merged with
 * another of the same device; a driver disables its device and waits for
 * OUTSTANDING to clear before it disconnects (as a driver quiesces its
 * device), so no raise meets a masked entry (a level line also waits for
 * its last EOI: see RemoteIrrClear). Then:
 *    raised == handled + pending        (pending: OUTSTANDING bits at stop)
 * and, once the system is idle, pending == 0: nothing raised was lost. An
 * edge or MSI device alone on its vector with one destination must never
 * see its ISR called with nothing outstanding (that would be a duplicate
 * delivery); shared lines/vectors and broadcasts may (a sharer's interrupt
 * runs every edge ISR; broadcast copies reach every CPU of the set), and so
 * may level lines (see LevelAliasResends).
 *
 * STALE COPIES. A device that is quiet (nothing OUTSTANDING) can still have
 * a copy of its interrupt on the way: a broadcast's other copies, and a
 * level line's re-send after another line's EOI of the same vector number
 * (LevelAliasResends), which waits in the IRR of the line's CPU, or sits
 * acknowledged but not yet dispatched while that CPU's thread is
 * descheduled. Disconnect frees the vector, and such a copy then reaches
 * whoever is given the vector next (docs/design.md, Known limits: nothing
 * checks the IRR before a vector is reused). If the new owner has a raise
 * outstanding, the copy claims it and the real message becomes the stale
 * one; either way some unshared edge or MSI device sees a second ISR call
 * for one raise. That is the hardware's doing (82093AA 3.2.4; SDM vol. 3A
 * 11.8.4, 11.8.5) meeting that known limit, not a duplicate made by the
 * library, so the drivers here keep clear of it: they drain those copies
 * before disconnecting (DrainCopies), and the duplicate check stays exact.
 *
 * Level lines are wired-OR: the pin is asserted while any device on it has
 * its condition set (a per-line lock orders the count and the pin).
 *
 * IPIs use the same idea: a sender claims a per-CPU mailbox bit before
 * KeSendIpi(User0) and the handler takes it, so sent == handled exactly.
 *
 * REMAPPING (--remap). The machine is QEMU's q35 with intel-iommu,intremap=on,
 * eim=on (SIM_SYSTEM_CONFIG.InterruptRemapping): x2APIC mode, the I/O APIC
 * behind a VT-d unit, and CPUs whose APIC ids (RemapApicIds) an 8-bit
 * destination cannot name (0xFF, 0x100, ...), so only remapping makes them
 * reachable. The lines are remapped (their redirection entries name table
 * entries, a move rewrites the entry); the MSI devices are PCI requesters
 * assigned to the unit (HlRemapAssignRequester), connected with their
 * requester id and fired through the unit (SimMsiWriteThroughIommu), so
 * their messages are remapped too and never rewritten in the device (an
 * update routine call is a violation). Broadcasts go to one x2APIC cluster
 * (a logical destination names one, SDM vol. 3A 11.12.10.2), and the fixed-
 * vector devices, which send compatibility-format MSIs that bypass the unit
 * (SimMsiWrite), only to the CPUs with an 8-bit APIC id. The same checks
 * hold, and at the end no remapping fault was recorded (an interrupt that
 * met a freed or wrong entry) and no table entry leaked.
 *
 * CHECKED AT THE END (and some on the way; any violation fails the run):
 *  - raised == handled + pending; after SimWaitIdle, pending == 0;
 *  - no ISR ran after its IoDisconnectInterrupt returned (per connection);
 *  - no vector leaked: KeQueryVectorUsage of every CPU equals its state
 *    after boot, and every redirection entry is masked;
 *  - per-CPU counts add up: for every connection, KeQueryInterruptCount /
 *    KeQueryInterruptClaimedCount on each CPU equal the ISR's own per-CPU
 *    counts (checked after every dispatch by a post-dispatch routine for
 *    objects Io does not move, at disconnect for unshared ones, at the end
 *    for live ones); per CPU, the dispatcher's KeQueryVectorStatistics summed
 *    over all vectors equals the EOIs the local APIC model received; IPI
 *    message counts (KeQueryIpiCount) equal the handlers' counts;
 *  - the ISR runs on a CPU of its object, at its synchronize IRQL, never
 *    inside KeSynchronizeExecution of the same object.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "sim.h"
#include "simboot.h"

#define REMAP_UNIT 0u

#define MAX_CPUS 8u
#define MAX_DRIVERS 4u
#define MAX_FIRERS 8u
#define EPOCH_RING 256u
#define GSI_COUNT 24u
/* Bounded waits (drain, quiescence) end the run with a diagnosis. Generous:
 * under ThreadSanitizer on two host cores a CPU can be slow to get a turn. */
#define WAIT_LIMIT_NS (60ull * 1000000000ull)

/* ---- Violations ------------------------------------------------------------------ */

typedef enum _VIOLATION {
    VLateIsr = 0,        /* ISR ran after its disconnect returned */
    VWrongCpu,           /* ISR ran on a CPU its object is not on */
    VWrongIrql,          /* ISR ran at another IRQL than its synchronize IRQL */
    VSyncOverlap,        /* ISR ran inside KeSynchronizeExecution of its object */
    VDuplicate,          /* an unshared single-destination ISR found nothing outstanding */
    VCountMismatch,      /* Ke's per-CPU counts differ from the ISR's */
    VBadStatus,          /* an API call returned a status it must not */
    VWaitTimeout,        /* a bounded wait ran out */
    VIpi,                /* an IPI handler found no message */
    VEnd,                /* an end-of-run invariant */
    VCount
} VIOLATION;

static const char *const ViolationNames[VCount] = {
    "ISR after disconnect", "ISR on a wrong CPU", "ISR at a wrong IRQL", "ISR inside KeSynchronizeExecution",
    "duplicate delivery", "per-CPU count mismatch", "unexpected status", "bounded wait expired",
    "IPI without message", "end-of-run invariant",
};

static _Atomic uint64_t Violations[VCount];
static _Atomic uint32_t Reported;

static void Violation(VIOLATION Kind, const char *Format, ...) __attribute__((format(printf, 2, 3)));
static void Violation(VIOLATION Kind, const char *Format, ...)
{
    atomic_fetch_add(&Violations[Kind], 1);
    if (atomic_fetch_add(&Reported, 1) >= 40)
        return;
    va_list Arguments;
    va_start(Arguments, Format);
    fprintf(stderr, "VIOLATION (%s): ", ViolationNames[Kind]);
    vfprintf(stderr, Format, Arguments);
    fputc('\n', stderr);
    va_end(Arguments);
}

/* ---- Configuration and small helpers ----------------------------------------------- */

static uint32_t CpuCount = 6, FirerCount = 4, DriverCount = 3, Seconds = 10;
static uint64_t Seed;
static bool Remap;

/* --remap: APIC ids past the 8-bit destination (0xFF is the xAPIC broadcast,
 * 0x100 and up need 32 bits) over three x2APIC clusters (id >> 4: 0x0, 0xF,
 * 0x10, 0x11). CPU n has RemapApicIds[n]. */
static const uint32_t RemapApicIds[8] = {0x00, 0x01, 0x02, 0xFF, 0x100, 0x101, 0x11F, 0x03};
#define COMPATIBILITY_MAX_DESTINATION 0xFEu
static _Atomic bool Stop;
static _Atomic bool Abort; /* a bounded wait failed: wind down */

static uint64_t NowNs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (uint64_t)Now.tv_sec * 1000000000ull + (uint64_t)Now.tv_nsec;
}

static uint64_t NextRandom(uint64_t *State)
{
    /* xorshift64* */
    uint64_t X = *State;
    X ^= X >> 12;
    X ^= X << 25;
    X ^= X >> 27;
    *State = X;
    return X * 0x2545F4914F6CDD1Dull;
}

static uint32_t RandomBelow(uint64_t *State, uint32_t Bound)
{
    return (uint32_t)(NextRandom(State) % Bound);
}

static uint64_t AllCpusMask(void)
{
    return (1ull << CpuCount) - 1u;
}

/* A random non-empty subset of Allowed (non-empty). */
static uint64_t RandomMaskOf(uint64_t *State, uint64_t Allowed)
{
    uint64_t Mask;
    do
        Mask = NextRandom(State) & Allowed;
    while (Mask == 0);
    return Mask;
}

/* A random non-empty subset of the CPUs. */
static uint64_t RandomMask(uint64_t *State)
{
    return RandomMaskOf(State, AllCpusMask());
}

static uint32_t ApicIdOf(uint32_t Cpu)
{
    return SimCpuApicId(Cpu);
}

/* The CPUs a compatibility-format MSI can name (8-bit destination, 0xFF
 * being the broadcast): every CPU without remapping's wide ids. */
static uint64_t CompatibilityReachableMask(void)
{
    uint64_t Mask = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (ApicIdOf(Cpu) <= COMPATIBILITY_MAX_DESTINATION)
            Mask |= 1ull << Cpu;
    }
    return Mask;
}

/* The CPUs in Cpu's x2APIC cluster (11.12.10.2: logical id (id >> 4) << 16
 * | 1 << (id & 15)): one logical destination reaches only these. */
static uint64_t ClusterMaskOf(uint32_t Cpu)
{
    uint64_t Mask = 0;
    for (uint32_t Other = 0; Other < CpuCount; Other++) {
        if (ApicIdOf(Other) >> 4 == ApicIdOf(Cpu) >> 4)
            Mask |= 1ull << Other;
    }
    return Mask;
}

static uint32_t RandomCpuOf(uint64_t *State, uint64_t Mask)
{
    uint32_t Count = (uint32_t)__builtin_popcountll(Mask);
    uint32_t Pick = RandomBelow(State, Count);
    for (uint32_t Cpu = 0; Cpu < MAX_CPUS; Cpu++) {
        if ((Mask >> Cpu) & 1u) {
            if (Pick-- == 0)
                return Cpu;
        }
    }
    return 0;
}

static IR_CPU_SET SetOfMask(uint64_t Mask)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    Set.Bits[0] = Mask;
    return Set;
}

/* ---- Devices --------------------------------------------------------------------- */

typedef enum _DEVICE_KIND { DevEdge = 0, DevLevel, DevMsi, DevFixed } DEVICE_KIND;

#define ST_ENABLED 1u
#define ST_OUTSTANDING 2u
#define ST_BUSY 4u

typedef struct _DEVICE DEVICE;

/* One connection of a device: the ISR's context. Kept in a per-device ring
 * long after its disconnect, so a late ISR call still finds it (Gone). */
typedef struct _EPOCH {
    DEVICE *Device;
    _Atomic bool Ready;       /* CpuMask and Irql valid */
    _Atomic bool Gone;        /* IoDisconnectInterrupt returned */
    _Atomic bool ExpectClaim; /* unshared, single destination */
    _Atomic uint64_t CpuMask;
    _Atomic uint32_t Irql;
    _Atomic uint64_t Calls[MAX_CPUS];
    _Atomic uint64_t Claims[MAX_CPUS];
} EPOCH;

struct _DEVICE {
    const char *Name;
    DEVICE_KIND Kind;
    HL_LINE_BUS Bus;          /* lines */
    uint32_t Number;
    HL_LINE_OPTION Trigger;
    uint16_t RequesterId;     /* DevMsi: its PCI requester (bus << 8 | device << 3 | function) */
    int Group;                /* lines sharing a GSI have the same group (>= 0); -1: alone */
    uint8_t FixedVector;      /* DevFixed */
    bool FixedShared;
    uint32_t Gsi;             /* lines: resolved at start */
    uint32_t Owner;           /* driver index */

    _Atomic uint32_t State;
    _Atomic bool LevelCondition; /* level: this device's share of the wired-OR (LineLock) */
    _Atomic uint64_t Raised;
    _Atomic uint64_t Handled;
    _Atomic uint64_t IsrCalls;
    _Atomic uint64_t Unclaimed;
    _Atomic uint64_t MsiAddress;  /* MSI / fixed: where the firer writes */
    _Atomic uint32_t MsiData;
    _Atomic uint64_t FireMask;    /* DevFixed: CPUs the firer may send to */
    _Atomic bool InSync;

    /* The owner's view. */
    KINTERRUPT *Object;
    EPOCH *Epoch;
    uint64_t EpochCount;
    bool Movable;
    bool Broadcast;
    uint8_t Vector;
    EPOCH Ring[EPOCH_RING];
};

#define NO_GROUP (-1)

/* The sim's I/O APIC has 24 pins. QEMU's overrides (simboot.c): IRQ0 -> GSI2,
 * IRQ 5, 9, 10, 11 level active-high. */
static DEVICE Devices[] = {
    {.Name = "edge-isa3", .Kind = DevEdge, .Bus = HlBusIsa, .Number = 3, .Group = NO_GROUP},
    {.Name = "edge-isa4", .Kind = DevEdge, .Bus = HlBusIsa, .Number = 4, .Group = NO_GROUP},
    {.Name = "edge-gsi12", .Kind = DevEdge, .Bus = HlBusGsi, .Number = 12, .Group = NO_GROUP},
    {.Name = "edge-gsi20", .Kind = DevEdge, .Bus = HlBusGsi, .Number = 20, .Trigger = HlLineEdge, .Group = NO_GROUP},
    {.Name = "edge-isa7-a", .Kind = DevEdge, .Bus = HlBusIsa, .Number = 7, .Group = 7},
    {.Name = "edge-isa7-b", .Kind = DevEdge, .Bus = HlBusIsa, .Number = 7, .Group = 7},
    {.Name = "level-isa10", .Kind = DevLevel, .Bus = HlBusIsa, .Number = 10, .Group = NO_GROUP},
    {.Name = "level-pci16", .Kind = DevLevel, .Bus = HlBusPci, .Number = 16, .Group = NO_GROUP},
    {.Name = "level-pci17", .Kind = DevLevel, .Bus = HlBusPci, .Number = 17, .Group = NO_GROUP},
    {.Name = "level-pci19-a", .Kind = DevLevel, .Bus = HlBusPci, .Number = 19, .Group = 19},
    {.Name = "level-pci19-b", .Kind = DevLevel, .Bus = HlBusPci, .Number = 19, .Group = 19},
    {.Name = "msi-0", .Kind = DevMsi, .RequesterId = 0x0018, .Group = NO_GROUP}, /* 00:03.0 */
    {.Name = "msi-1", .Kind = DevMsi, .RequesterId = 0x0020, .Group = NO_GROUP}, /* 00:04.0 */
    {.Name = "msi-2", .Kind = DevMsi, .RequesterId = 0x0101, .Group = NO_GROUP}, /* 01:00.1 */
    {.Name = "fixed-94-a", .Kind = DevFixed, .FixedVector = 0x94, .FixedShared = true, .Group = NO_GROUP},
    {.Name = "fixed-94-b", .Kind = DevFixed, .FixedVector = 0x94, .FixedShared = true, .Group = NO_GROUP},
    {.Name = "fixed-97", .Kind = DevFixed, .FixedVector = 0x97, .Group = NO_GROUP},
};
#define DEVICE_COUNT (sizeof(Devices) / sizeof(Devices[0]))

/* Wired-OR level lines: how many devices hold each GSI asserted. */
static pthread_mutex_t LineLock[GSI_COUNT];
static uint32_t LineAsserters[GSI_COUNT];

static void LevelAssert(DEVICE *Device)
{
    pthread_mutex_lock(&LineLock[Device->Gsi]);
    atomic_store(&Device->LevelCondition, true);
    if (LineAsserters[Device->Gsi]++ == 0)
        SimSetGsi(Device->Gsi, true);
    pthread_mutex_unlock(&LineLock[Device->Gsi]);
}

/* The ISR's side: drops this device's share if it has one. */
static bool LevelTakeCondition(DEVICE *Device)
{
    bool Had = false;
    pthread_mutex_lock(&LineLock[Device->Gsi]);
    if (atomic_load(&Device->LevelCondition)) {
        atomic_store(&Device->LevelCondition, false);
        Had = true;
        if (--LineAsserters[Device->Gsi] == 0)
            SimSetGsi(Device->Gsi, false);
    }
    pthread_mutex_unlock(&LineLock[Device->Gsi]);
    return Had;
}

/* ---- Counters ------------------------------------------------------------------------ */

static _Atomic uint64_t Connects, ConnectRefusals, Disconnects, Moves, MovesRefused, PolicyChanges, Syncs;
static _Atomic uint64_t IpisSent, IpisHandled, GenericCalls, GenericRuns, GenericSelfRuns[MAX_CPUS];
static _Atomic uint64_t IpiHandledOn[MAX_CPUS], WorkerRunsOn[MAX_CPUS];
/* Interrupts claimed on each CPU, by device kind. */
static _Atomic uint64_t ClaimedOn[MAX_CPUS][DevFixed + 1];
static _Atomic bool Mailbox[MAX_CPUS];
static _Atomic uint64_t RefusedBy[IRQ_STATUS_COUNT];
/* Unclaimed runs of an unshared level line. The local APIC's EOI reaches
 * the I/O APIC as a broadcast that names only the vector (SDM vol. 3A
 * 11.8.5; 82093AA 3.2.4, Remote IRR), so when two level lines have the same
 * vector number on different CPUs, one line's EOI clears the other's Remote
 * IRR while that one is still asserted and being serviced: it is sent again,
 * and the second run finds its device quiet. Counted, not a violation: the
 * allocator gives out vectors per CPU and does not keep level lines apart. */
static _Atomic uint64_t LevelAliasResends;
/* Disconnects of a quiet level or broadcast device that found its vector
 * still in an IRR or ISR of a CPU of its set, and waited (DrainCopies). */
static _Atomic uint64_t CopiesDrained;
/* Level lines found masked with Remote IRR set when their driver connects
 * them again (see RemoteIrrClear). */
static _Atomic uint64_t StaleRemoteIrr;
static bool WaitForLevelEoi = false;

/* ---- ISR and Ke hooks ---------------------------------------------------------------- */

static bool StressIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    EPOCH *Epoch = Context;
    DEVICE *Device = Epoch->Device;
    uint32_t Cpu = SimAttachedCpu();
    if (atomic_load(&Epoch->Gone))
        Violation(VLateIsr, "%s: ISR on CPU %u after its disconnect returned", Device->Name, Cpu);
    if (Cpu >= CpuCount) {
        Violation(VWrongCpu, "%s: ISR on a thread attached to no CPU", Device->Name);
        return false;
    }
    if (atomic_load_explicit(&Epoch->Ready, memory_order_acquire)) {
        if (!((atomic_load(&Epoch->CpuMask) >> Cpu) & 1u))
            Violation(VWrongCpu, "%s: ISR on CPU %u, object on %#llx", Device->Name, Cpu,
                      (unsigned long long)atomic_load(&Epoch->CpuMask));
        if (KeGetCurrentIrql() != atomic_load(&Epoch->Irql))
            Violation(VWrongIrql, "%s: ISR at IRQL %u, expected %u", Device->Name, KeGetCurrentIrql(),
                      atomic_load(&Epoch->Irql));
    }
    if (atomic_load(&Device->InSync))
        Violation(VSyncOverlap, "%s: ISR on CPU %u inside KeSynchronizeExecution", Device->Name, Cpu);

    atomic_fetch_add_explicit(&Epoch->Calls[Cpu], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&Device->IsrCalls, 1, memory_order_relaxed);

    bool Claimed;
    if (Device->Kind == DevLevel) {
        /* The condition (and so the pin) goes first, then the status bit:
         * the device raises again only after both. */
        Claimed = LevelTakeCondition(Device);
        if (Claimed)
            atomic_fetch_and(&Device->State, ~ST_OUTSTANDING);
    } else {
        Claimed = (atomic_fetch_and(&Device->State, ~ST_OUTSTANDING) & ST_OUTSTANDING) != 0;
    }
    if (Claimed) {
        atomic_fetch_add_explicit(&Epoch->Claims[Cpu], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&ClaimedOn[Cpu][Device->Kind], 1, memory_order_relaxed);
        atomic_fetch_add(&Device->Handled, 1);
    } else {
        atomic_fetch_add_explicit(&Device->Unclaimed, 1, memory_order_relaxed);
        if (atomic_load(&Epoch->ExpectClaim))
            Violation(VDuplicate, "%s: ISR on CPU %u found nothing outstanding (state %#x)", Device->Name, Cpu,
                      atomic_load(&Device->State));
        else if (Device->Kind == DevLevel && Device->Group == NO_GROUP)
            atomic_fetch_add_explicit(&LevelAliasResends, 1, memory_order_relaxed);
    }
    return Claimed;
}

/* Runs on the dispatching CPU right after Ke counted the ISR run there:
 * Ke's count of this object on this CPU must equal the ISR's own. */
static void PostDispatchCheck(KINTERRUPT *Interrupt, uint32_t Cpu, KIRQL InterruptedIrql, void *Context)
{
    (void)InterruptedIrql;
    EPOCH *Epoch = Context;
    if (Cpu >= CpuCount)
        return;
    uint64_t KeCalls = KeQueryInterruptCount(Interrupt, Cpu);
    uint64_t KeClaims = KeQueryInterruptClaimedCount(Interrupt, Cpu);
    uint64_t Calls = atomic_load_explicit(&Epoch->Calls[Cpu], memory_order_relaxed);
    uint64_t Claims = atomic_load_explicit(&Epoch->Claims[Cpu], memory_order_relaxed);
    if (KeCalls != Calls || KeClaims != Claims)
        Violation(VCountMismatch, "%s CPU %u: Ke counts %llu/%llu claimed, ISR %llu/%llu", Epoch->Device->Name, Cpu,
                  (unsigned long long)KeCalls, (unsigned long long)KeClaims, (unsigned long long)Calls,
                  (unsigned long long)Claims);
}

static void MsiUpdate(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Interrupt;
    DEVICE *Device = Context;
    if (Remap)
        Violation(VBadStatus, "%s: a remapped message was rewritten in the device (its table entry moves)",
                  Device->Name);
    /* A move changes the address or the data, never both in one update
     * (src/io/move.c): a raise that reads one before the update and the
     * other after it still sends a message the object is linked for. */
    bool NewAddress = Message->Address != atomic_load(&Device->MsiAddress);
    bool NewData = Message->Data != atomic_load(&Device->MsiData);
    if (NewAddress && NewData)
        Violation(VBadStatus, "%s: one update changed both the MSI address and the data", Device->Name);
    atomic_store(&Device->MsiAddress, Message->Address);
    atomic_store(&Device->MsiData, Message->Data);
}

static void IpiUser0(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Message;
    (void)Context;
    if (Cpu >= CpuCount)
        return;
    if (atomic_exchange(&Mailbox[Cpu], false)) {
        atomic_fetch_add(&IpiHandledOn[Cpu], 1);
        atomic_fetch_add(&IpisHandled, 1);
    } else {
        Violation(VIpi, "User0 IPI on CPU %u with an empty mailbox", Cpu);
    }
}

static void GenericWorker(uint32_t Cpu, void *Context)
{
    (void)Context;
    if (Cpu < CpuCount)
        atomic_fetch_add(&WorkerRunsOn[Cpu], 1);
    atomic_fetch_add(&GenericRuns, 1);
}

/* ---- Firers ------------------------------------------------------------------------ */

static void RaiseOnce(DEVICE *Device, uint64_t *Random)
{
    uint32_t Expected = ST_ENABLED;
    if (!atomic_compare_exchange_strong(&Device->State, &Expected, ST_ENABLED | ST_OUTSTANDING | ST_BUSY))
        return;
    atomic_fetch_add(&Device->Raised, 1);
    switch (Device->Kind) {
    case DevEdge:
        SimPulseGsi(Device->Gsi);
        break;
    case DevLevel:
        LevelAssert(Device);
        break;
    case DevMsi:
        if (Remap)
            SimMsiWriteThroughIommu(REMAP_UNIT, Device->RequesterId, atomic_load(&Device->MsiAddress),
                                    atomic_load(&Device->MsiData));
        else
            SimMsiWrite(atomic_load(&Device->MsiAddress), atomic_load(&Device->MsiData));
        break;
    case DevFixed: {
        uint32_t Cpu = RandomCpuOf(Random, atomic_load(&Device->FireMask));
        SimMsiWrite(0xFEE00000ull | (uint64_t)ApicIdOf(Cpu) << 12, Device->FixedVector);
        break;
    }
    }
    atomic_fetch_and(&Device->State, ~ST_BUSY);
}

static void *FirerThread(void *Argument)
{
    uint64_t Random = Seed ^ (0x9E3779B97F4A7C15ull * (uintptr_t)Argument) ^ 0xF1;
    uint32_t Round = 0;
    while (!atomic_load_explicit(&Stop, memory_order_relaxed)) {
        RaiseOnce(&Devices[RandomBelow(&Random, DEVICE_COUNT)], &Random);
        if (++Round % 8 == 0)
            sched_yield();
    }
    return NULL;
}

/* ---- Drivers ------------------------------------------------------------------------ */

typedef struct _DRIVER {
    uint32_t Index;
    uint32_t Cpu;
    uint64_t Random;
} DRIVER;

/* A driver's wait: its own CPU keeps taking interrupts (it is spinning with
 * interrupts enabled), and others get the host CPU. */
static void DriverPause(void)
{
    (void)SimServicePending();
    sched_yield();
}

static void CheckStatus(const char *What, const DEVICE *Device, IRQ_STATUS Status, IRQ_STATUS Expected)
{
    if (Status != Expected)
        Violation(VBadStatus, "%s(%s): %s, expected %s", What, Device != NULL ? Device->Name : "-",
                  IrStatusName(Status), IrStatusName(Expected));
}

static void DescribeDevice(const DEVICE *Device)
{
    fprintf(stderr, "  %s: state %#x raised %llu handled %llu vector %#x movable %d broadcast %d", Device->Name,
            atomic_load(&Device->State), (unsigned long long)atomic_load(&Device->Raised),
            (unsigned long long)atomic_load(&Device->Handled), Device->Vector, Device->Movable, Device->Broadcast);
    if (Device->Kind == DevEdge || Device->Kind == DevLevel)
        fprintf(stderr, " gsi %u entry %#llx", Device->Gsi, (unsigned long long)SimIoApicPeekEntry(Device->Gsi));
    if (Device->Epoch != NULL)
        fprintf(stderr, " cpus %#llx", (unsigned long long)atomic_load(&Device->Epoch->CpuMask));
    fputc('\n', stderr);
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (SimLapicIrrIsSet(Cpu, Device->Vector) || SimLapicIsrIsSet(Cpu, Device->Vector))
            fprintf(stderr, "    CPU %u: IRR %d ISR %d TPR %#x\n", Cpu, SimLapicIrrIsSet(Cpu, Device->Vector),
                    SimLapicIsrIsSet(Cpu, Device->Vector), SimLapicTpr(Cpu));
    }
}

/* Bounded wait for Condition(Device); false (and a violation) on timeout. */
static bool WaitFor(DEVICE *Device, bool (*Condition)(DEVICE *), const char *What)
{
    uint64_t Deadline = NowNs() + WAIT_LIMIT_NS;
    while (!Condition(Device)) {
        if (NowNs() > Deadline) {
            Violation(VWaitTimeout, "%s: %s", Device->Name, What);
            DescribeDevice(Device);
            atomic_store(&Abort, true);
            return false;
        }
        DriverPause();
    }
    return true;
}

static bool NotBusy(DEVICE *Device)
{
    return (atomic_load(&Device->State) & ST_BUSY) == 0;
}

static bool NotOutstanding(DEVICE *Device)
{
    return (atomic_load(&Device->State) & ST_OUTSTANDING) == 0;
}

static bool HoldsVector(uint32_t Cpu, uint8_t Vector)
{
    return SimLapicIrrIsSet(Cpu, Vector) || SimLapicIsrIsSet(Cpu, Vector);
}

/* No CPU of the set holds the device's vector in its IRR or ISR: the one it
 * was connected with, or the one a move gave it. */
static bool NoCopyPending(DEVICE *Device)
{
    uint64_t Mask = atomic_load(&Device->Epoch->CpuMask);
    uint8_t Current = KeGetInterruptVector(Device->Object);
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (((Mask >> Cpu) & 1u) && (HoldsVector(Cpu, Device->Vector) || HoldsVector(Cpu, Current)))
            return false;
    }
    return true;
}

/* Every copy of the device's interrupt still on the way (STALE COPIES at the
 * top) has been dispatched: its vector may go back to the allocator. Called
 * once the device is quiet, so no new copy can be made: a broadcast's copies
 * are all in their IRRs once its raise is no longer BUSY, and a level
 * line's re-sends happen only while its pin is asserted, under the I/O APIC
 * lock that the ISR's deassert takes before it clears OUTSTANDING.
 *
 * IRR and ISR clear is not quite enough: the sim acknowledges in two steps
 * (IRR bit cleared, then ISR bit set), and a CPU whose thread is descheduled
 * between them shows neither. A generic call to the other CPUs of the set
 * closes that window: a CPU takes the IPI only after the dispatch it has
 * already acknowledged has returned (interrupts stay off during a dispatch),
 * and this CPU's own pending copies are taken by the wait (DriverPause). */
static bool DrainCopies(DEVICE *Device)
{
    if (!NoCopyPending(Device))
        atomic_fetch_add_explicit(&CopiesDrained, 1, memory_order_relaxed);
    if (!WaitFor(Device, NoCopyPending, "copies of the interrupt never serviced"))
        return false;
    uint64_t Others = atomic_load(&Device->Epoch->CpuMask) & ~(1ull << SimAttachedCpu());
    if (Others == 0)
        return true;
    IR_CPU_SET Set = SetOfMask(Others);
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetSet, .Cpus = &Set};
    CheckStatus("KeIpiGenericCall", Device, KeIpiGenericCall(&Target, GenericWorker, NULL), IRQ_STATUS_SUCCESS);
    atomic_fetch_add(&GenericCalls, (uint64_t)__builtin_popcountll(Others));
    return true;
}

/* The entry's Remote IRR is clear: the EOI of the line's last interrupt
 * has reached the I/O APIC. IoDisconnectInterrupt can return before it has
 * (KeDisconnectInterrupt waits for the dispatch to leave the object; the
 * dispatcher writes the EOI after that), so the line may be connected again
 * on another vector with Remote IRR still set; HlPicAllocateSystemInterrupt
 * then clears it (HlIoApicClearRemoteIrr), or the line would never deliver
 * again (82093AA 3.2.4). By default drivers here do not wait, so the stress
 * exercises that path (the count is printed); IRQROUTE_STRESS_EOI_WAIT=1
 * makes them wait for the EOI first. */
static bool RemoteIrrClear(DEVICE *Device)
{
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(Device->Gsi)};
    return Entry.Bits.RemoteIrr == 0;
}

/* Ke's count of the object summed over the CPUs (Query: calls or claims). */
static uint64_t KeTotalOf(const DEVICE *Device, uint64_t (*Query)(const KINTERRUPT *, uint32_t))
{
    uint64_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        Total += Query(Device->Object, Cpu);
    return Total;
}

static uint64_t IsrTotalOf(_Atomic uint64_t *PerCpu)
{
    uint64_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        Total += atomic_load(&PerCpu[Cpu]);
    return Total;
}

/* The dispatcher bumps its call count and then its claimed count after the
 * ISR returns: both must have caught up before they are compared. */
static bool KeCaughtUp(DEVICE *Device)
{
    return KeTotalOf(Device, KeQueryInterruptCount) == IsrTotalOf(Device->Epoch->Calls) &&
           KeTotalOf(Device, KeQueryInterruptClaimedCount) == IsrTotalOf(Device->Epoch->Claims);
}

/* Ke's per-CPU counts of the live object against the ISR's own. */
static void CompareCounts(const DEVICE *Device, const char *When)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        uint64_t KeCalls = KeQueryInterruptCount(Device->Object, Cpu);
        uint64_t KeClaims = KeQueryInterruptClaimedCount(Device->Object, Cpu);
        uint64_t Calls = atomic_load(&Device->Epoch->Calls[Cpu]);
        uint64_t Claims = atomic_load(&Device->Epoch->Claims[Cpu]);
        if (KeCalls != Calls || KeClaims != Claims)
            Violation(VCountMismatch, "%s CPU %u %s: Ke %llu/%llu claimed, ISR %llu/%llu", Device->Name, Cpu, When,
                      (unsigned long long)KeCalls, (unsigned long long)KeClaims, (unsigned long long)Calls,
                      (unsigned long long)Claims);
    }
}

/* Disable the device, let its last interrupt be serviced, then disconnect. */
static bool QuiesceAndDisconnect(DEVICE *Device)
{
    atomic_fetch_and(&Device->State, ~ST_ENABLED);
    if (!WaitFor(Device, NotBusy, "raise did not finish") ||
        !WaitFor(Device, NotOutstanding, "outstanding interrupt never serviced"))
        return false;
    if ((Device->Broadcast || Device->Kind == DevLevel) && !DrainCopies(Device))
        return false;
    if (Device->Kind == DevLevel && WaitForLevelEoi && !WaitFor(Device, RemoteIrrClear, "Remote IRR never cleared"))
        return false;
    if (atomic_load(&Device->Epoch->ExpectClaim) || Device->Broadcast) {
        /* Nothing else can run this ISR now: Ke's counters settle (they are
         * bumped right after the ISR returns) and must match exactly. */
        if (!WaitFor(Device, KeCaughtUp, "Ke's interrupt count never caught up with the ISR's"))
            return false;
        CompareCounts(Device, "at disconnect");
    }
    IRQ_STATUS Status = IoDisconnectInterrupt(Device->Object);
    CheckStatus("IoDisconnectInterrupt", Device, Status, IRQ_STATUS_SUCCESS);
    atomic_store(&Device->Epoch->Gone, true);
    atomic_fetch_add(&Disconnects, 1);
    Device->Object = NULL;
    Device->Epoch = NULL;
    Device->Movable = false;
    Device->Broadcast = false;
    return Status == IRQ_STATUS_SUCCESS;
}

static EPOCH *NewEpoch(DEVICE *Device)
{
    EPOCH *Epoch = &Device->Ring[Device->EpochCount++ % EPOCH_RING];
    atomic_store(&Epoch->Ready, false);
    atomic_store(&Epoch->Gone, false);
    atomic_store(&Epoch->ExpectClaim, false);
    atomic_store(&Epoch->CpuMask, 0);
    atomic_store(&Epoch->Irql, 0);
    for (uint32_t Cpu = 0; Cpu < MAX_CPUS; Cpu++) {
        atomic_store(&Epoch->Calls[Cpu], 0);
        atomic_store(&Epoch->Claims[Cpu], 0);
    }
    Epoch->Device = Device;
    return Epoch;
}

/* Statuses a well-formed request may meet under contention: the vector or
 * line is taken, the allocator is out of vectors, the requested IRQL does
 * not fit the line another driver programmed. Anything else is a bug. */
static bool IsContention(IRQ_STATUS Status)
{
    return Status == IRQ_STATUS_SHARING_VIOLATION || Status == IRQ_STATUS_VECTOR_EXHAUSTED ||
           Status == IRQ_STATUS_INVALID_IRQL;
}

typedef struct _TARGET_CHOICE {
    IO_INTERRUPT_TARGET Target;
    IR_CPU_SET Mask;
    bool Broadcast;
} TARGET_CHOICE;

static void ChooseTarget(DRIVER *Driver, const DEVICE *Device, TARGET_CHOICE *Choice)
{
    uint64_t *Random = &Driver->Random;
    Choice->Mask = SetOfMask(RandomMask(Random));
    Choice->Broadcast = false;
    /* Broadcast only for devices alone on their line: a drain waits for
     * every copy, which another device's stream would keep refilling. */
    uint32_t Kinds = Device->Kind == DevLevel || Device->Group != NO_GROUP ? 4 : 5;
    switch (RandomBelow(Random, Kinds)) {
    case 0:
        Choice->Target = (IO_INTERRUPT_TARGET){.Kind = IoTargetCpu, .Cpu = RandomBelow(Random, CpuCount)};
        break;
    case 1:
        Choice->Target = (IO_INTERRUPT_TARGET){.Kind = IoTargetAffinity, .Mask = &Choice->Mask};
        break;
    case 2: {
        uint32_t Cpu = RandomBelow(Random, 2) ? IR_CPU_NONE : RandomCpuOf(Random, Choice->Mask.Bits[0]);
        Choice->Target = (IO_INTERRUPT_TARGET){.Kind = IoTargetRoutable, .Cpu = Cpu, .Mask = &Choice->Mask};
        break;
    }
    case 3:
        Choice->Target = (IO_INTERRUPT_TARGET){.Kind = RandomBelow(Random, 4) ? IoTargetCpu : IoTargetDefault,
                                               .Cpu = RandomBelow(Random, CpuCount)};
        break;
    default:
        if (Remap)
            Choice->Mask = SetOfMask(RandomMaskOf(Random, ClusterMaskOf(RandomBelow(Random, CpuCount))));
        Choice->Target = (IO_INTERRUPT_TARGET){.Kind = IoTargetBroadcast, .Mask = &Choice->Mask};
        Choice->Broadcast = true;
        break;
    }
}

/* Device IRQL KE_IRQL_ANY most of the time, else one of 3..12; the
 * synchronize IRQL 0 (the vector's) or a higher device IRQL. */
static void ChooseIrqls(DRIVER *Driver, KIRQL *Irql, KIRQL *SynchronizeIrql)
{
    *Irql = RandomBelow(&Driver->Random, 3) ? KE_IRQL_ANY : (KIRQL)(3 + RandomBelow(&Driver->Random, 10));
    *SynchronizeIrql = 0;
    if (*Irql != KE_IRQL_ANY && RandomBelow(&Driver->Random, 3) == 0)
        *SynchronizeIrql = (KIRQL)(*Irql + RandomBelow(&Driver->Random, 13u - *Irql));
}

static void Connect(DRIVER *Driver, DEVICE *Device)
{
    EPOCH *Epoch = NewEpoch(Device);
    TARGET_CHOICE Choice;
    ChooseTarget(Driver, Device, &Choice);
    KIRQL Irql, SynchronizeIrql;
    ChooseIrqls(Driver, &Irql, &SynchronizeIrql);
    KINTERRUPT *Object = NULL;
    HL_MSI_MESSAGE Message = {0};
    IRQ_STATUS Status;
    bool Shared = false;
    /* The fixed-vector devices send compatibility-format MSIs (8-bit
     * destinations) past the unit. */
    IR_CPU_SET FixedMask = SetOfMask(RandomMaskOf(&Driver->Random, CompatibilityReachableMask()));

    if (Device->Kind == DevLevel && Device->Group == NO_GROUP && !RemoteIrrClear(Device))
        atomic_fetch_add(&StaleRemoteIrr, 1);
    switch (Device->Kind) {
    case DevEdge:
    case DevLevel: {
        Shared = Device->Group != NO_GROUP || RandomBelow(&Driver->Random, 2);
        IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
            .Version = CONNECT_LINE_BASED,
            .LineBased = {.InterruptObject = &Object, .ServiceRoutine = StressIsr, .ServiceContext = Epoch,
                          .Line = {.Bus = Device->Bus, .Number = Device->Number, .Trigger = Device->Trigger},
                          .Irql = Irql, .SynchronizeIrql = SynchronizeIrql, .ShareVector = Shared,
                          .Target = Choice.Target}};
        Status = IoConnectInterruptEx(&Parameters);
        Shared = Device->Group != NO_GROUP;
        break;
    }
    case DevMsi: {
        /* A remapped message needs no update routine (its table entry
         * moves): half the time it has none. */
        bool Update = !Remap || RandomBelow(&Driver->Random, 2);
        IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
            .Version = CONNECT_MESSAGE_BASED,
            .MessageBased = {.InterruptObject = &Object, .ServiceRoutine = StressIsr, .ServiceContext = Epoch,
                             .Irql = Irql, .SynchronizeIrql = SynchronizeIrql, .Target = Choice.Target,
                             .Message = &Message, .UpdateContext = Device,
                             .HasRequesterId = Remap, .RequesterId = Device->RequesterId}};
        Parameters.MessageBased.UpdateMessage = Update ? MsiUpdate : NULL;
        Status = IoConnectInterruptEx(&Parameters);
        break;
    }
    case DevFixed:
    default: {
        KIRQL FixedIrql = KeIrqlOfVector(Device->FixedVector);
        KIRQL FixedSync = (KIRQL)(FixedIrql + RandomBelow(&Driver->Random, 13u - FixedIrql));
        Choice.Broadcast = false;
        if (RandomBelow(&Driver->Random, 2)) {
            Status = IoConnectInterrupt(&Object, StressIsr, Epoch, NULL, Device->FixedVector, FixedIrql, FixedSync,
                                        Latched, Device->FixedShared, &FixedMask, false);
        } else {
            IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
                .Version = CONNECT_FULLY_SPECIFIED,
                .FullySpecified = {.InterruptObject = &Object, .ServiceRoutine = StressIsr, .ServiceContext = Epoch,
                                   .Vector = Device->FixedVector, .Irql = FixedIrql, .SynchronizeIrql = FixedSync,
                                   .InterruptMode = Latched, .ShareVector = Device->FixedShared,
                                   .ProcessorEnableMask = &FixedMask}};
            Status = IoConnectInterruptEx(&Parameters);
        }
        SynchronizeIrql = FixedSync;
        Shared = Device->FixedShared;
        break;
    }
    }

    if (Status != IRQ_STATUS_SUCCESS) {
        atomic_fetch_add(&ConnectRefusals, 1);
        atomic_fetch_add(&RefusedBy[Status < IRQ_STATUS_COUNT ? Status : 0], 1);
        if (!IsContention(Status))
            Violation(VBadStatus, "connect %s (target kind %d): %s", Device->Name, (int)Choice.Target.Kind,
                      IrStatusName(Status));
        Device->EpochCount--; /* the epoch was never used */
        return;
    }
    atomic_fetch_add(&Connects, 1);

    /* A movable interrupt holds one vector where it is and may go (and be
     * dispatched) anywhere in its affinity; the others stay on their CPUs. */
    IR_CPU_SET Cpus;
    if (IoQueryInterruptAffinity(Object, &Cpus) != IRQ_STATUS_SUCCESS)
        KeGetInterruptCpus(Object, &Cpus);
    atomic_store(&Epoch->CpuMask, Cpus.Bits[0]);
    atomic_store(&Epoch->Irql, SynchronizeIrql != 0 ? SynchronizeIrql : KeGetInterruptIrql(Object));
    Device->Object = Object;
    Device->Epoch = Epoch;
    Device->Vector = KeGetInterruptVector(Object);
    Device->Broadcast = Choice.Broadcast;
    Device->Movable = IoQueryInterruptTarget(Object, NULL, NULL) == IRQ_STATUS_SUCCESS;
    /* Level lines are left out: see LevelAliasResends. */
    atomic_store(&Epoch->ExpectClaim, !Shared && !Choice.Broadcast && Device->Kind != DevLevel);
    atomic_store_explicit(&Epoch->Ready, true, memory_order_release);
    /* Io owns the post-dispatch routine of movable objects. */
    if (!Device->Movable)
        CheckStatus("KeSetInterruptPostDispatch", Device, KeSetInterruptPostDispatch(Object, PostDispatchCheck, Epoch),
                    IRQ_STATUS_SUCCESS);

    if (Device->Kind == DevMsi) {
        atomic_store(&Device->MsiData, Message.Data);
        atomic_store(&Device->MsiAddress, Message.Address);
    } else if (Device->Kind == DevFixed) {
        atomic_store(&Device->FireMask, Cpus.Bits[0]);
    }
    atomic_store_explicit(&Device->State, ST_ENABLED, memory_order_release);
}

static bool SyncRoutine(void *Context)
{
    DEVICE *Device = Context;
    atomic_store(&Device->InSync, true);
    for (int Spin = 0; Spin < 64; Spin++)
        atomic_signal_fence(memory_order_seq_cst);
    atomic_store(&Device->InSync, false);
    return true;
}

/* A move may be refused, changing nothing, while an earlier move's old
 * vector waits for the device's first interrupt on the new one, or while a
 * level line's Remote IRR forbids a new vector (io.h). */
static void CheckMoveStatus(const char *What, const DEVICE *Device, IRQ_STATUS Status)
{
    if (Status == IRQ_STATUS_INVALID_STATE || Status == IRQ_STATUS_VECTOR_EXHAUSTED)
        atomic_fetch_add(&MovesRefused, 1);
    else
        CheckStatus(What, Device, Status, IRQ_STATUS_SUCCESS);
}

static void MoveOrRepolicy(DRIVER *Driver, DEVICE *Device)
{
    uint64_t Mask = atomic_load(&Device->Epoch->CpuMask);
    if (RandomBelow(&Driver->Random, 3)) {
        uint32_t Cpu = RandomCpuOf(&Driver->Random, Mask);
        CheckMoveStatus("IoSetInterruptTarget", Device, IoSetInterruptTarget(Device->Object, Cpu));
        atomic_fetch_add(&Moves, 1);
        /* A CPU outside the set is refused and changes nothing. */
        uint64_t Outside = AllCpusMask() & ~Mask;
        if (Outside != 0) {
            uint32_t Before = IR_CPU_NONE, After = IR_CPU_NONE;
            IR_ROUTING_POLICY PolicyBefore, PolicyAfter;
            CheckStatus("IoQueryInterruptTarget", Device, IoQueryInterruptTarget(Device->Object, &Before, &PolicyBefore),
                        IRQ_STATUS_SUCCESS);
            CheckStatus("IoSetInterruptTarget(outside)", Device,
                        IoSetInterruptTarget(Device->Object, RandomCpuOf(&Driver->Random, Outside)),
                        IRQ_STATUS_INVALID_CPU);
            CheckStatus("IoQueryInterruptTarget", Device, IoQueryInterruptTarget(Device->Object, &After, &PolicyAfter),
                        IRQ_STATUS_SUCCESS);
            /* Under a fixed policy nobody else moves it (a shared line's
             * other driver might: then only the set is checked). */
            if (!((Mask >> After) & 1u))
                Violation(VBadStatus, "%s: routed to CPU %u outside its set %#llx", Device->Name, After,
                          (unsigned long long)Mask);
        }
    } else {
        IR_ROUTING_POLICY Policy = (IR_ROUTING_POLICY)RandomBelow(&Driver->Random, IrRoutingLowestPriority + 1);
        CheckMoveStatus("IoSetInterruptPolicy", Device, IoSetInterruptPolicy(Device->Object, Policy));
        atomic_fetch_add(&PolicyChanges, 1);
    }
}

static void SendIpis(DRIVER *Driver)
{
    uint64_t Mask = RandomMask(&Driver->Random), Claimed = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        bool Empty = false;
        if (((Mask >> Cpu) & 1u) && atomic_compare_exchange_strong(&Mailbox[Cpu], &Empty, true))
            Claimed |= 1ull << Cpu;
    }
    if (Claimed == 0)
        return;
    IRQ_STATUS Status;
    if (__builtin_popcountll(Claimed) == 1 && RandomBelow(&Driver->Random, 2)) {
        KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = (uint32_t)__builtin_ctzll(Claimed)};
        Status = KeSendIpi(&Target, KeIpiUser0);
    } else {
        IR_CPU_SET Set = SetOfMask(Claimed);
        KE_IPI_TARGET Target = {.Kind = KeIpiTargetSet, .Cpus = &Set};
        Status = KeSendIpi(&Target, KeIpiUser0);
    }
    CheckStatus("KeSendIpi", NULL, Status, IRQ_STATUS_SUCCESS);
    atomic_fetch_add(&IpisSent, (uint64_t)__builtin_popcountll(Claimed));
}

static void GenericCall(DRIVER *Driver)
{
    KE_IPI_TARGET Target;
    IR_CPU_SET Set;
    uint64_t Mask;
    switch (RandomBelow(&Driver->Random, 3)) {
    case 0:
        Target = (KE_IPI_TARGET){.Kind = KeIpiTargetAll};
        Mask = AllCpusMask();
        break;
    case 1:
        Target = (KE_IPI_TARGET){.Kind = KeIpiTargetAllButSelf};
        Mask = AllCpusMask() & ~(1ull << Driver->Cpu);
        break;
    default:
        Mask = RandomMask(&Driver->Random);
        Set = SetOfMask(Mask);
        Target = (KE_IPI_TARGET){.Kind = KeIpiTargetSet, .Cpus = &Set};
        break;
    }
    CheckStatus("KeIpiGenericCall", NULL, KeIpiGenericCall(&Target, GenericWorker, NULL), IRQ_STATUS_SUCCESS);
    if ((Mask >> Driver->Cpu) & 1u)
        atomic_fetch_add(&GenericSelfRuns[Driver->Cpu], 1);
    atomic_fetch_add(&GenericCalls, (uint64_t)__builtin_popcountll(Mask));
}

static void *DriverThread(void *Argument)
{
    DRIVER *Driver = Argument;
    SimAttachCpu(Driver->Cpu);
    DEVICE *Owned[DEVICE_COUNT];
    uint32_t OwnedCount = 0;
    for (uint32_t Index = 0; Index < DEVICE_COUNT; Index++) {
        if (Devices[Index].Owner == Driver->Index)
            Owned[OwnedCount++] = &Devices[Index];
    }
    for (uint32_t Index = 0; Index < OwnedCount; Index++)
        Connect(Driver, Owned[Index]);

    while (!atomic_load(&Stop) && !atomic_load(&Abort)) {
        (void)SimServicePending();
        DEVICE *Device = Owned[RandomBelow(&Driver->Random, OwnedCount)];
        uint32_t Action = RandomBelow(&Driver->Random, 100);
        if (Action < 35) {
            /* Re-connect elsewhere (or connect one that is off). */
            if (Device->Object != NULL && !QuiesceAndDisconnect(Device))
                break;
            Connect(Driver, Device);
        } else if (Action < 45) {
            if (Device->Object != NULL && !QuiesceAndDisconnect(Device))
                break;
        } else if (Action < 60) {
            if (Device->Object != NULL && Device->Movable)
                MoveOrRepolicy(Driver, Device);
        } else if (Action < 70) {
            if (Device->Object != NULL) {
                if (!KeSynchronizeExecution(Device->Object, SyncRoutine, Device))
                    Violation(VBadStatus, "KeSynchronizeExecution(%s) returned false", Device->Name);
                atomic_fetch_add(&Syncs, 1);
            }
        } else if (Action < 82) {
            SendIpis(Driver);
        } else if (Action < 88) {
            GenericCall(Driver);
        } else {
            for (int Spin = 0; Spin < 4; Spin++)
                DriverPause();
        }
    }
    /* Devices stay as they are (live ones keep firing until the firers
     * stop); the CPU goes back to its service thread. */
    SimDetachCpu();
    return NULL;
}

/* ---- Whole-system snapshots and the end ------------------------------------------------ */

typedef struct _CPU_BASELINE {
    KE_VECTOR_USAGE Usage;
    uint64_t Eois;
    uint64_t Dispatched;
} CPU_BASELINE;

static CPU_BASELINE Baseline[MAX_CPUS];
static uint32_t FreeTableEntriesAtStart;

/* --remap: how many entries of the unit's interrupt remapping table are
 * free, by allocating every one and freeing them again (the system must be
 * quiet: nothing else allocates meanwhile). */
static uint32_t CountFreeTableEntries(void)
{
    static uint32_t Taken[65536];
    uint32_t Count = 0;
    while (Count < sizeof(Taken) / sizeof(Taken[0]) &&
           HlRemapAllocateEntry(REMAP_UNIT, &Taken[Count]) == IRQ_STATUS_SUCCESS)
        Count++;
    for (uint32_t Index = 0; Index < Count; Index++)
        CheckStatus("HlRemapFreeEntry", NULL, HlRemapFreeEntry(REMAP_UNIT, Taken[Index]), IRQ_STATUS_SUCCESS);
    return Count;
}

static uint64_t DispatchedOn(uint32_t Cpu)
{
    uint64_t Total = 0;
    for (uint32_t Vector = 0; Vector < 256; Vector++) {
        KE_VECTOR_STATISTICS Statistics;
        if (KeQueryVectorStatistics(Cpu, (uint8_t)Vector, &Statistics) == IRQ_STATUS_SUCCESS)
            Total += Statistics.Dispatched;
    }
    return Total;
}

static void TakeBaseline(void)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        CheckStatus("KeQueryVectorUsage", NULL, KeQueryVectorUsage(Cpu, &Baseline[Cpu].Usage), IRQ_STATUS_SUCCESS);
        Baseline[Cpu].Eois = SimEoiCount(Cpu);
        Baseline[Cpu].Dispatched = DispatchedOn(Cpu);
    }
    if (Remap)
        FreeTableEntriesAtStart = CountFreeTableEntries();
}

static void EndCheck(bool Condition, const char *Format, ...) __attribute__((format(printf, 2, 3)));
static void EndCheck(bool Condition, const char *Format, ...)
{
    if (Condition)
        return;
    char Message[256];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);
    Violation(VEnd, "%s", Message);
}

static void CheckDispatchCounts(void)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        uint64_t Eois = SimEoiCount(Cpu) - Baseline[Cpu].Eois;
        uint64_t Dispatched = DispatchedOn(Cpu) - Baseline[Cpu].Dispatched;
        EndCheck(Eois == Dispatched, "CPU %u: %llu dispatches (KeQueryVectorStatistics) but %llu EOIs", Cpu,
                 (unsigned long long)Dispatched, (unsigned long long)Eois);
        uint64_t User0 = KeQueryIpiCount(Cpu, KeIpiUser0);
        EndCheck(User0 == atomic_load(&IpiHandledOn[Cpu]), "CPU %u: KeQueryIpiCount(User0) %llu, handler %llu", Cpu,
                 (unsigned long long)User0, (unsigned long long)atomic_load(&IpiHandledOn[Cpu]));
        uint64_t Calls = KeQueryIpiCount(Cpu, KeIpiCallFunction);
        uint64_t Remote = atomic_load(&WorkerRunsOn[Cpu]) - atomic_load(&GenericSelfRuns[Cpu]);
        EndCheck(Calls == Remote, "CPU %u: KeQueryIpiCount(CallFunction) %llu, worker runs by IPI %llu", Cpu,
                 (unsigned long long)Calls, (unsigned long long)Remote);
        EndCheck(!atomic_load(&Mailbox[Cpu]), "CPU %u: an IPI was sent and never handled", Cpu);
    }
    EndCheck(atomic_load(&IpisSent) == atomic_load(&IpisHandled), "IPIs: %llu sent, %llu handled",
             (unsigned long long)atomic_load(&IpisSent), (unsigned long long)atomic_load(&IpisHandled));
    EndCheck(atomic_load(&GenericCalls) == atomic_load(&GenericRuns), "generic calls: %llu expected runs, %llu ran",
             (unsigned long long)atomic_load(&GenericCalls), (unsigned long long)atomic_load(&GenericRuns));
}

static void CheckNoLeak(void)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        KE_VECTOR_USAGE Usage;
        CheckStatus("KeQueryVectorUsage", NULL, KeQueryVectorUsage(Cpu, &Usage), IRQ_STATUS_SUCCESS);
        EndCheck(memcmp(&Usage, &Baseline[Cpu].Usage, sizeof(Usage)) == 0,
                 "CPU %u: vector usage %u allocated / %u available, at start %u / %u", Cpu, Usage.Allocated,
                 Usage.Available, Baseline[Cpu].Usage.Allocated, Baseline[Cpu].Usage.Available);
    }
    for (uint32_t Gsi = 0; Gsi < GSI_COUNT; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(Gsi)};
        EndCheck(Entry.Bits.Mask == 1, "GSI %u left unmasked (%#llx) with nothing connected", Gsi,
                 (unsigned long long)Entry.Value);
    }
    if (Remap) {
        uint32_t Free = CountFreeTableEntries();
        EndCheck(Free == FreeTableEntriesAtStart, "remapping table: %u entries free, %u at start", Free,
                 FreeTableEntriesAtStart);
    }
}

/* Claimed interrupts per CPU and kind; with --remap, every CPU whose APIC id
 * an 8-bit destination cannot name must have taken lines and messages (the
 * run is long enough that the random targets reach each). */
static void ReportCpus(void)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        uint64_t Lines = atomic_load(&ClaimedOn[Cpu][DevEdge]) + atomic_load(&ClaimedOn[Cpu][DevLevel]);
        uint64_t Messages = atomic_load(&ClaimedOn[Cpu][DevMsi]);
        printf("stress: CPU %u (APIC id %#x): claimed %llu line, %llu MSI, %llu fixed-vector interrupts\n", Cpu,
               ApicIdOf(Cpu), (unsigned long long)Lines, (unsigned long long)Messages,
               (unsigned long long)atomic_load(&ClaimedOn[Cpu][DevFixed]));
        if (Remap && ApicIdOf(Cpu) > COMPATIBILITY_MAX_DESTINATION)
            EndCheck(Lines > 0 && Messages > 0, "CPU %u (APIC id %#x) took %llu remapped lines, %llu remapped MSIs", Cpu,
                     ApicIdOf(Cpu), (unsigned long long)Lines, (unsigned long long)Messages);
    }
}

/* --remap: a raise happens only while its device is connected and enabled,
 * so every remapped interrupt must have found a present entry for its
 * requester: any fault (recorded or not, VT-d 7.1) is an entry freed or
 * rewritten under a live device. */
static void CheckNoRemappingFault(void)
{
    if (!Remap)
        return;
    uint64_t Recorded = SimIommuRecordedFaultCount(REMAP_UNIT), Dropped = SimIommuDroppedFaultCount(REMAP_UNIT);
    EndCheck(Recorded == 0 && Dropped == 0, "remapping faults: %llu recorded, %llu not recorded",
             (unsigned long long)Recorded, (unsigned long long)Dropped);
}

static void Usage(const char *Program)
{
    fprintf(stderr, "usage: %s [--seconds N] [--cpus 4-8] [--firers 1-8] [--drivers 1-4] [--seed N] [--remap]\n",
            Program);
    exit(2);
}

static uint32_t ParseNumber(const char *Text, uint32_t Low, uint32_t High, const char *Program)
{
    char *End;
    unsigned long Value = strtoul(Text, &End, 0);
    if (*Text == '\0' || *End != '\0' || Value < Low || Value > High)
        Usage(Program);
    return (uint32_t)Value;
}

static void FromEnvironment(const char *Name, uint32_t *Value, uint32_t Low, uint32_t High)
{
    const char *Text = getenv(Name);
    if (Text != NULL && *Text != '\0')
        *Value = ParseNumber(Text, Low, High, Name);
}

static void ParseArguments(int Count, char **Arguments)
{
    uint32_t SeedLow = (uint32_t)time(NULL);
    FromEnvironment("IRQROUTE_STRESS_SECONDS", &Seconds, 1, 86400);
    FromEnvironment("IRQROUTE_STRESS_CPUS", &CpuCount, 4, MAX_CPUS);
    FromEnvironment("IRQROUTE_STRESS_FIRERS", &FirerCount, 1, MAX_FIRERS);
    FromEnvironment("IRQROUTE_STRESS_DRIVERS", &DriverCount, 1, MAX_DRIVERS);
    FromEnvironment("IRQROUTE_STRESS_SEED", &SeedLow, 0, UINT32_MAX);
    uint32_t RemapFromEnvironment = 0;
    FromEnvironment("IRQROUTE_STRESS_REMAP", &RemapFromEnvironment, 0, 1);
    Remap = RemapFromEnvironment != 0;
    for (int Index = 1; Index < Count; Index++) {
        if (strcmp(Arguments[Index], "--remap") == 0) {
            Remap = true;
            continue;
        }
        if (Index + 1 >= Count)
            Usage(Arguments[0]);
        const char *Option = Arguments[Index], *Value = Arguments[++Index];
        if (strcmp(Option, "--seconds") == 0)
            Seconds = ParseNumber(Value, 1, 86400, Arguments[0]);
        else if (strcmp(Option, "--cpus") == 0)
            CpuCount = ParseNumber(Value, 4, MAX_CPUS, Arguments[0]);
        else if (strcmp(Option, "--firers") == 0)
            FirerCount = ParseNumber(Value, 1, MAX_FIRERS, Arguments[0]);
        else if (strcmp(Option, "--drivers") == 0)
            DriverCount = ParseNumber(Value, 1, MAX_DRIVERS, Arguments[0]);
        else if (strcmp(Option, "--seed") == 0)
            SeedLow = ParseNumber(Value, 0, UINT32_MAX, Arguments[0]);
        else
            Usage(Arguments[0]);
    }
    const char *Wait = getenv("IRQROUTE_STRESS_EOI_WAIT");
    WaitForLevelEoi = Wait != NULL && strcmp(Wait, "1") == 0;
    Seed = (uint64_t)SeedLow * 0x9E3779B97F4A7C15ull | 1u;
    printf("stress: %u CPUs, %u firers, %u drivers, %u s, seed %u%s\n", CpuCount, FirerCount, DriverCount, Seconds,
           SeedLow, Remap ? ", interrupt remapping (x2APIC, APIC ids past 0xFE)" : "");
}

static void Watchdog(int Signal)
{
    (void)Signal;
    static const char Message[] = "stress: watchdog: the run took far longer than its duration\n";
    ssize_t Ignored = write(2, Message, sizeof(Message) - 1);
    (void)Ignored;
    _exit(3);
}

static uint64_t PendingNow(void)
{
    uint64_t Pending = 0;
    for (uint32_t Index = 0; Index < DEVICE_COUNT; Index++)
        Pending += (atomic_load(&Devices[Index].State) & ST_OUTSTANDING) != 0;
    return Pending;
}

typedef enum _DEVICE_COUNTER { CounterRaised, CounterHandled, CounterIsrCalls, CounterUnclaimed } DEVICE_COUNTER;

static uint64_t SumDevices(DEVICE_COUNTER Counter)
{
    uint64_t Sum = 0;
    for (uint32_t Index = 0; Index < DEVICE_COUNT; Index++) {
        const DEVICE *Device = &Devices[Index];
        const _Atomic uint64_t *Field = Counter == CounterRaised    ? &Device->Raised
                                        : Counter == CounterHandled ? &Device->Handled
                                        : Counter == CounterIsrCalls ? &Device->IsrCalls
                                                                     : &Device->Unclaimed;
        Sum += atomic_load(Field);
    }
    return Sum;
}

static bool BootAndPrepare(void)
{
    for (uint32_t Gsi = 0; Gsi < GSI_COUNT; Gsi++)
        pthread_mutex_init(&LineLock[Gsi], NULL);
    SIM_SYSTEM_CONFIG Config = {.CpuCount = CpuCount, .StartThreads = true};
    if (Remap) {
        Config.ApicIds = RemapApicIds;
        Config.X2Apic = true;
        Config.InterruptRemapping = true;
    }
    IRQ_STATUS Status = SimBootSystem(&Config);
    if (Status != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "stress: SimBootSystem: %s\n", IrStatusName(Status));
        return false;
    }
    for (uint32_t Index = 0; Remap && Index < DEVICE_COUNT; Index++) {
        if (Devices[Index].Kind == DevMsi)
            CheckStatus("HlRemapAssignRequester", &Devices[Index],
                        HlRemapAssignRequester(REMAP_UNIT, Devices[Index].RequesterId), IRQ_STATUS_SUCCESS);
    }
    CheckStatus("KeSetIpiMessageHandler", NULL, KeSetIpiMessageHandler(KeIpiUser0, IpiUser0, NULL),
                IRQ_STATUS_SUCCESS);
    for (uint32_t Index = 0; Index < DEVICE_COUNT; Index++) {
        DEVICE *Device = &Devices[Index];
        Device->Owner = Index % DriverCount;
        if (Device->Kind == DevEdge || Device->Kind == DevLevel) {
            HL_INTERRUPT_LINE Line = {.Bus = Device->Bus, .Number = Device->Number, .Trigger = Device->Trigger};
            HL_RESOLVED_LINE Resolved;
            CheckStatus("HlPicResolveLine", Device, HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_SUCCESS);
            Device->Gsi = Resolved.Gsi;
            if ((Resolved.Trigger == HlTriggerLevel) != (Device->Kind == DevLevel)) {
                fprintf(stderr, "stress: %s resolves to the other trigger mode\n", Device->Name);
                return false;
            }
        }
    }
    if (!SimWaitIdle(10000)) {
        fprintf(stderr, "stress: the sim is not idle after boot\n");
        return false;
    }
    TakeBaseline();
    return true;
}

int main(int Count, char **Arguments)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    ParseArguments(Count, Arguments);
    if (DriverCount >= CpuCount)
        DriverCount = CpuCount - 1;
    signal(SIGALRM, Watchdog);
    alarm(Seconds + 300);
    if (!BootAndPrepare())
        return 1;

    pthread_t Firers[MAX_FIRERS], DriverThreads[MAX_DRIVERS];
    DRIVER Drivers[MAX_DRIVERS];
    for (uint32_t Index = 0; Index < DriverCount; Index++) {
        Drivers[Index] = (DRIVER){.Index = Index, .Cpu = Index, .Random = Seed ^ (0xD1B54A32D192ED03ull * (Index + 1))};
        if (pthread_create(&DriverThreads[Index], NULL, DriverThread, &Drivers[Index]) != 0)
            return 1;
    }
    for (uint32_t Index = 0; Index < FirerCount; Index++) {
        if (pthread_create(&Firers[Index], NULL, FirerThread, (void *)(uintptr_t)(Index + 1)) != 0)
            return 1;
    }
    uint64_t End = NowNs() + (uint64_t)Seconds * 1000000000ull;
    while (NowNs() < End && !atomic_load(&Abort)) {
        struct timespec Pause = {.tv_sec = 0, .tv_nsec = 100000000};
        nanosleep(&Pause, NULL);
    }
    atomic_store(&Stop, true);
    for (uint32_t Index = 0; Index < FirerCount; Index++)
        pthread_join(Firers[Index], NULL);
    for (uint32_t Index = 0; Index < DriverCount; Index++)
        pthread_join(DriverThreads[Index], NULL);

    /* Every raise has finished (the firers are gone): what is not handled
     * is pending, in an IRR or on an asserted level line. */
    uint64_t Raised = SumDevices(CounterRaised), Handled = SumDevices(CounterHandled), Pending = PendingNow();
    EndCheck(Raised == Handled + Pending, "raised %llu != handled %llu + pending %llu", (unsigned long long)Raised,
             (unsigned long long)Handled, (unsigned long long)Pending);
    bool Idle = SimWaitIdle(60000);
    EndCheck(Idle, "the sim did not go idle within 60 s");
    uint64_t HandledIdle = SumDevices(CounterHandled), PendingIdle = PendingNow();
    EndCheck(PendingIdle == 0 && HandledIdle == Raised, "idle: raised %llu, handled %llu, still pending %llu",
             (unsigned long long)Raised, (unsigned long long)HandledIdle, (unsigned long long)PendingIdle);
    if (PendingIdle != 0) {
        for (uint32_t Index = 0; Index < DEVICE_COUNT; Index++)
            if (atomic_load(&Devices[Index].State) & ST_OUTSTANDING)
                DescribeDevice(&Devices[Index]);
    }

    uint64_t Live = 0;
    for (uint32_t Index = 0; Index < DEVICE_COUNT; Index++) {
        if (Devices[Index].Object != NULL) {
            CompareCounts(&Devices[Index], "at the end");
            Live++;
        }
    }
    CheckDispatchCounts();
    uint64_t Dispatches = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        Dispatches += DispatchedOn(Cpu) - Baseline[Cpu].Dispatched;

    /* Everything off: the allocator and the I/O APIC are back where they started. */
    if (!atomic_load(&Abort)) {
        SimAttachCpu(0);
        for (uint32_t Index = 0; Index < DEVICE_COUNT; Index++) {
            if (Devices[Index].Object != NULL)
                (void)QuiesceAndDisconnect(&Devices[Index]);
        }
        SimDetachCpu();
        EndCheck(SimWaitIdle(60000), "the sim did not go idle after the last disconnect");
        SimAttachCpu(0);
        CheckNoLeak();
        SimDetachCpu();
    }
    CheckNoRemappingFault();
    ReportCpus();

    printf("stress: raised %llu, handled %llu, pending at stop %llu (0 after idle: %s)\n", (unsigned long long)Raised,
           (unsigned long long)Handled, (unsigned long long)Pending, PendingIdle == 0 ? "yes" : "NO");
    printf("stress: ISR calls %llu (%llu unclaimed: shared, broadcast, and %llu level re-sends after another "
           "line's EOI of the same vector number), dispatches %llu\n",
           (unsigned long long)SumDevices(CounterIsrCalls), (unsigned long long)SumDevices(CounterUnclaimed),
           (unsigned long long)atomic_load(&LevelAliasResends), (unsigned long long)Dispatches);
    printf("stress: connects %llu (%llu refused:", (unsigned long long)atomic_load(&Connects),
           (unsigned long long)atomic_load(&ConnectRefusals));
    for (uint32_t Status = 0; Status < IRQ_STATUS_COUNT; Status++)
        if (atomic_load(&RefusedBy[Status]) != 0)
            printf(" %s %llu", IrStatusName((IRQ_STATUS)Status), (unsigned long long)atomic_load(&RefusedBy[Status]));
    printf("), disconnects %llu (+%llu at the end), moves %llu (%llu refused: a move in progress or Remote IRR), "
           "policy changes %llu, synchronizations %llu\n",
           (unsigned long long)(atomic_load(&Disconnects) - Live), (unsigned long long)Live,
           (unsigned long long)atomic_load(&Moves), (unsigned long long)atomic_load(&MovesRefused),
           (unsigned long long)atomic_load(&PolicyChanges),
           (unsigned long long)atomic_load(&Syncs));
    printf("stress: level lines re-connected with Remote IRR still set: %llu (driver waits for the EOI: %s)\n",
           (unsigned long long)atomic_load(&StaleRemoteIrr), WaitForLevelEoi ? "yes" : "no");
    printf("stress: level/broadcast disconnects that waited for their vector to drain (DrainCopies): %llu\n",
           (unsigned long long)atomic_load(&CopiesDrained));
    printf("stress: IPIs sent %llu, handled %llu; generic calls: %llu worker runs\n",
           (unsigned long long)atomic_load(&IpisSent), (unsigned long long)atomic_load(&IpisHandled),
           (unsigned long long)atomic_load(&GenericRuns));
    SimShutdownSystem();

    EndCheck(Raised > 0 && atomic_load(&Connects) > 0 && atomic_load(&Disconnects) > 0,
             "the run did nothing (raised %llu)", (unsigned long long)Raised);
    uint64_t Total = 0;
    for (uint32_t Kind = 0; Kind < VCount; Kind++) {
        uint64_t Seen = atomic_load(&Violations[Kind]);
        if (Seen != 0)
            printf("stress: %llu x %s\n", (unsigned long long)Seen, ViolationNames[Kind]);
        Total += Seen;
    }
    printf("stress: %s\n", Total == 0 ? "PASS" : "FAIL");
    return Total == 0 ? 0 : 1;
}
