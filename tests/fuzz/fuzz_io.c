/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target (fuzz_io): bytes -> a sequence of Hl/Ke/Io calls on the sim, with
 * valid and invalid arguments, and after every call the invariants.
 *
 * Each input boots a fresh sim without service threads (deterministic): the
 * first bytes choose 1-8 CPUs, how many are online, xAPIC or x2APIC, one or
 * two I/O APICs, and interrupt remapping: QEMU's q35 with intel-iommu,
 * intremap=on,eim=on (SIM_SYSTEM_CONFIG.InterruptRemapping), in x2APIC mode
 * with APIC ids an 8-bit destination cannot name (RemapApicIds), every I/O
 * APIC behind the unit and one PCI requester assigned to it (message
 * connects then choose that requester, another one or none). The model
 * knows the reach (io_model.h, RefIoReachable): lines and the assigned
 * requester's messages reach every CPU, other messages only APIC ids up to
 * 0xFE; a connect to a CPU the device cannot reach must be refused, one it
 * can reach must not be refused for it, and remapped messages are fired
 * through the unit (SimMsiWriteThroughIommu). The fuzz thread is CPU 0 (attached, as kernel code
 * would be) and services the other CPUs itself (detach, attach to the CPU,
 * SimServicePending, come back), as tests/support/testbed.c does. Then each
 * operation takes an opcode byte and its arguments from the input.
 *
 * The reference model (tests/support/io_model.h) follows what should be:
 * the live connections (object, kind, GSI, vector, CPU set, trigger,
 * movable, ISR behaviour, connection order) and the vectors taken directly
 * with KeAllocateVector/KeReserveVector; the fuzzer adds the level pins it
 * holds asserted. After every operation (and after servicing every CPU):
 *  - vectors: the allocated set on every CPU equals what the model accounts
 *    for (each modelled (CPU, vector) is allocated and KeQueryVectorUsage's
 *    count equals the model's, so the sets are equal);
 *  - redirection entries: a GSI with live line users is unmasked with their
 *    vector and trigger, every other GSI is masked; no Remote IRR is left
 *    set and no IRR or ISR bit is left on any CPU (nothing stuck or lost);
 *  - every live object reports the vector, CPUs, mode of the model;
 *  - a failing call returned a status of the documented set (status.h) for
 *    that call (an exact one where the input breaks one known rule), left
 *    the entries bit for bit and the vectors as they were, and wrote no out
 *    parameter; a call whose input breaks a rule never succeeds;
 *  - firing (edge pulse, level assert, MSI, IPI): the CPUs whose IRR took
 *    the vector are exactly where the model routes it, and after servicing,
 *    each ISR ran exactly as often as the dispatcher's rules say (chain in
 *    connection order; level-sensitive chains stop at the first claim, edge
 *    chains run every ISR); IRQL holds back what it must;
 *  - no ISR runs for an object after its disconnect returned, or at another
 *    IRQL than its synchronize IRQL, or on a CPU it is not connected on.
 *
 * Besides Io's connects, every public call with state is reached, each with
 * the inputs its header refuses: Ke objects on caller storage
 * (KeInitializeInterrupt, re-initialising a connected object's storage,
 * Ke's or Io's; KeConnectInterrupt(As), KeDisconnectInterrupt(As) across
 * owners), KeSetSystemVectorHandler (Ke's IPI vector, the spurious vector,
 * device vectors, free system vectors, each fired after), KeFreeVector on a
 * vector objects use, HlRegisterProcessor after boot and a late
 * HlLapicSelectMode (the registry and the mode are modelled), overrides
 * (HlPicRegisterOverride: the ISA lines are modelled), device templates
 * (IoConnectDevice all or nothing, IoRouteDevice, IoQueryDeviceRouting,
 * IoDisconnectDevice) and stale handles (Ke storage the fuzzer keeps, and
 * handles Io freed, however long ago: Ke's record of connected objects
 * judges them unread).
 * KeShutdownSystem is refused while anything is connected; with nothing
 * connected Ke goes down, the connects (line, message, fully specified,
 * device), Ke objects, vectors, system vectors, IPIs and handle calls are
 * made as before KeInitializeSystem (NOT_INITIALIZED, nothing changed), and
 * Ke comes back as the sim's boot brings it up.
 * A call whose input breaks rules must return the status of one of them
 * (CheckRules), and a refused call must leave everything RefIoTakeSnapshot
 * records as it was: entries, vectors per CPU, every live object's owner,
 * vector, CPUs, route and policy, how lines resolve; the registry, the ISA
 * lines and the system handlers are checked against the model after every
 * operation.
 *
 * At the end every connection is disconnected: nothing may stay allocated
 * and every entry must be masked. Any breach aborts (a libFuzzer crash).
 *
 * Level devices drop their line when their ISR runs (every ISR on a vector
 * deasserts the level pins routed to that vector), so a level interrupt is
 * delivered once per assertion and servicing always terminates.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/router.h>

#include "sim.h"
#include "simboot.h"

#define FUZZER_NAME "fuzz_io"
#include "fuzz_input.h"
#include "io_model.h"

/* ---- The system and the model ------------------------------------------------------- */

#define MAX_CPUS REF_IO_MAX_CPUS
#define MAX_DEAD 16u
#define MAX_DIRECT 64u
#define MAX_GSIS 40u
#define HOME_CPU 0u

/* Io's answers about an object a caller of Ke connected (io.h): Io refuses
 * to disconnect it, and it is no line of Io's. */
#define IO_DISCONNECT_KE_OBJECT_STATUS IRQ_STATUS_ACCESS_DENIED
#define IO_QUERY_KE_OBJECT_STATUS IRQ_STATUS_ACCESS_DENIED
/* What Io's route calls (IoSetInterruptTarget, IoSetInterruptPolicy,
 * IoQueryInterruptTarget) answer for an object Io did not connect. */
#define IO_ROUTE_KE_OBJECT_STATUS IRQ_STATUS_ACCESS_DENIED
/* IoRouteDevice checks every interrupt before it moves any: a refusal
 * changes nothing (else interrupts before the failing one keep the new
 * routing). */
#ifndef IO_ROUTE_DEVICE_ALL_OR_NOTHING
#define IO_ROUTE_DEVICE_ALL_OR_NOTHING 1
#endif
/* IoConnectDevice's Connection.Messages ("what to program", io.h) is the
 * message the device must hold after the call: with a ROUND_ROBIN or
 * LOWEST template the policy set at connect may spread an interrupt onto a
 * new vector, given to the update routine, and Connection.Messages must
 * hold that one (src/io/device.c, IopConnectDeviceInterrupt; the input
 * regress-device-message-spread found it stale). */
#ifndef FUZZ_IO_DEVICE_MESSAGES_CURRENT
#define FUZZ_IO_DEVICE_MESSAGES_CURRENT 1
#endif
/* Io's calls on a pointer to an object Io freed at its disconnect (io.h:
 * NOT_CONNECTED, found through Io's records). */
#ifndef FUZZ_IO_STALE_IO_HANDLES
#define FUZZ_IO_STALE_IO_HANDLES 1
#endif

static uint32_t CpuCount;
static uint64_t OnlineMask;
static uint32_t GsiCount;
static bool X2Apic;
static bool Remap;

/* With remapping: CPUs 1, 2, 4 and 6 past the 8-bit destination (0xFF is
 * the broadcast), over x2APIC clusters 0, 0xF, 0x10, 0x11 and 0x12. */
static const uint32_t RemapApicIds[MAX_CPUS] = {0x01, 0xFF, 0x100, 0x03, 0x11F, 0x05, 0x120, 0x07};
#define REMAP_UNIT 0u
#define REQUESTER_ASSIGNED 0x0018u /* 00:03.0, assigned to the unit at boot */
#define REQUESTER_OTHER 0x0020u    /* 00:04.0, under no unit */
static uint32_t DeviceVectorCount;

static REF_IO_MODEL Model;
/* FUZZ_IO_TRACE=1 in the environment: each step's operation on stderr
 * (for writing seeds, tests/fuzz/io_seeds.py, and reading findings). */
static bool Trace;
/* Handles disconnected (Io's freed), however long ago: Io and Ke judge one
 * by its address without reading it (io.h, OBJECTS IO DOES NOT HOLD), so
 * any of them may be passed back unless its address is live again. */
static KINTERRUPT *Dead[MAX_DEAD];
static uint32_t DeadCount;

static bool Asserted[MAX_GSIS];
static REF_IO_SNAPSHOT Snapshot;
static uint64_t IpiHandled[MAX_CPUS][KeIpiMessageCount];
static uint64_t WorkerRuns[MAX_CPUS];

/* An object that never was connected: aligned, zeroed storage. */
static _Alignas(64) uint8_t NeverConnected[4096];

static uint64_t MaskOfSet(const IR_CPU_SET *Set)
{
    for (uint32_t Word = 1; Word < IR_CPU_SET_WORDS; Word++)
        CHECK(Set->Bits[Word] == 0);
    return Set->Bits[0];
}

/* ---- CPUs: servicing, as each CPU would when it enables interrupts ---------------------- */

static void ServiceCpu(uint32_t Cpu)
{
    SimDetachCpu();
    SimAttachCpu(Cpu);
    (void)SimServicePending();
    SimDetachCpu();
    SimAttachCpu(HOME_CPU);
}

/* Whether any CPU has a vector requested or in service. */
static bool AnythingPending(void)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        for (uint32_t Vector = 16; Vector < 256; Vector++)
            if (SimLapicIrrIsSet(Cpu, (uint8_t)Vector) || SimLapicIsrIsSet(Cpu, (uint8_t)Vector))
                return true;
    return false;
}

/* Every CPU services what it has, until nothing is left: a dispatch may
 * send Ke's retire request (the IPI vector, KeAmd64VectorLayout.IpiVector)
 * to a CPU serviced earlier in the pass, where a move left a link
 * retiring (ke.h, A MOVE IN TWO PHASES). Bounded: what is still pending
 * after that is left for RefIoCheckQuiet to report. */
static void ServiceAll(void)
{
    for (int Pass = 0; Pass < 2 || (Pass < 8 && AnythingPending()); Pass++) {
        for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
            if (Cpu == HOME_CPU)
                (void)SimServicePending();
            else if (RefIoIsOnline(&Model, Cpu))
                ServiceCpu(Cpu);
        }
    }
}

/* ---- ISRs and handlers ----------------------------------------------------------------- */

/* Deasserts every level pin whose entry sends this vector: the device on it
 * has been serviced. */
static void DropLevelPins(uint8_t Vector)
{
    for (uint32_t Gsi = 0; Gsi < GsiCount; Gsi++) {
        if (!Asserted[Gsi])
            continue;
        IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(Gsi)};
        if (Entry.Bits.TriggerMode == 1 && Entry.Bits.Vector == Vector) {
            Asserted[Gsi] = false;
            SimSetGsi(Gsi, false);
        }
    }
}

static void CheckIsrRun(REF_IO_OBJECT *Object, KINTERRUPT *Interrupt)
{
    if (!Object->Live)
        Fail("an ISR ran for an object whose disconnect returned");
    uint32_t Cpu = SimAttachedCpu();
    CHECK(Cpu < CpuCount);
    if (Object->Connected) {
        CHECK(Interrupt == Object->Object);
        if (!((Object->Cpus >> Cpu) & 1u))
            Fail("ISR on CPU %u, object on %#llx", Cpu, (unsigned long long)Object->Cpus);
        if (KeGetCurrentIrql() != Object->SynchronizeIrql)
            Fail("ISR at IRQL %u, synchronize IRQL %u", KeGetCurrentIrql(), Object->SynchronizeIrql);
    }
    Object->Calls++;
    DropLevelPins(KeGetInterruptVector(Interrupt));
}

static bool FuzzIsr(KINTERRUPT *Interrupt, void *Context)
{
    REF_IO_OBJECT *Object = Context;
    CheckIsrRun(Object, Interrupt);
    return Object->Claim;
}

/* The live model object of Interrupt, or NULL. */
static REF_IO_OBJECT *FindLive(const KINTERRUPT *Interrupt)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++)
        if (Model.Objects[Index].Live && Model.Objects[Index].Object == Interrupt)
            return &Model.Objects[Index];
    return NULL;
}

/* IoConnectDevice under way: its objects are not in the model yet. */
static bool DeviceConnecting;

/* A connected message's update (src/io/move.c, THE WRITE IN STEP 2): the
 * device is shown the old destination or the new one, never a mixture, so
 * each update changes the address (a new CPU) or the data (a new vector),
 * never both; the vector is a device vector of the object's class. */
static void CheckMessageStep(const REF_IO_OBJECT *Object, const HL_MSI_MESSAGE *Message)
{
    if (!Object->Connected)
        return;
    if (Message->Data != Object->Message.Data && Message->Address != Object->Message.Address)
        Fail("a message update changed both address %#llx -> %#llx and data %#x -> %#x",
             (unsigned long long)Object->Message.Address, (unsigned long long)Message->Address,
             Object->Message.Data, Message->Data);
    uint8_t Vector = (uint8_t)(Message->Data & 0xFFu);
    CHECK(RefIoIsDeviceVector(Vector) && KeIrqlOfVector(Vector) == KeIrqlOfVector(Object->Vector));
}

/* One ISR and context for all of a device's interrupts: the object says which. */
static bool DeviceIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Context;
    REF_IO_OBJECT *Object = FindLive(Interrupt);
    if (Object == NULL) {
        if (!DeviceConnecting)
            Fail("a device ISR ran for an object that is not connected");
        DropLevelPins(KeGetInterruptVector(Interrupt));
        return true;
    }
    CheckIsrRun(Object, Interrupt);
    return Object->Claim;
}

/* Messages the update routine gave during IoConnectDevice (a ROUND_ROBIN
 * or LOWEST template spreads each interrupt as it connects, maybe onto a
 * new vector): what the driver's routine wrote into the device last. */
static KINTERRUPT *UpdatedInterrupt[IO_DEVICE_MAX_INTERRUPTS];
static HL_MSI_MESSAGE UpdatedMessage[IO_DEVICE_MAX_INTERRUPTS];
static uint32_t UpdatedCount;

static void DeviceMsiUpdate(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Context;
    REF_IO_OBJECT *Object = FindLive(Interrupt);
    if (Object == NULL) {
        CHECK(DeviceConnecting);
        uint32_t Index = 0;
        while (Index < UpdatedCount && UpdatedInterrupt[Index] != Interrupt)
            Index++;
        CHECK(Index < IO_DEVICE_MAX_INTERRUPTS);
        UpdatedInterrupt[Index] = Interrupt;
        UpdatedMessage[Index] = *Message;
        UpdatedCount += Index == UpdatedCount;
        return;
    }
    CheckMessageStep(Object, Message);
    Object->Message = *Message;
}

/* Handlers of system vectors (KeSetSystemVectorHandler): the context is the
 * model's flag, which must say the handler is installed. */
static uint64_t SystemCalls[MAX_CPUS][256];

static void SystemHandler(uint32_t Cpu, uint8_t Vector, void *Context)
{
    CHECK(Cpu < CpuCount);
    if (!Model.SystemHandler[Vector] || Context != &Model.SystemHandler[Vector])
        Fail("the handler of system vector %#x ran, not installed (or another's context)", Vector);
    SystemCalls[Cpu][Vector]++;
}

static void IpiHandler(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Context;
    CHECK(Cpu < CpuCount && (unsigned)Message < KeIpiMessageCount);
    IpiHandled[Cpu][Message]++;
}

static void Worker(uint32_t Cpu, void *Context)
{
    (void)Context;
    CHECK(Cpu < CpuCount);
    WorkerRuns[Cpu]++;
}

static void MsiUpdate(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    REF_IO_OBJECT *Object = Context;
    CHECK(Object->Live);
    /* A remapped message never changes: its table entry moves. */
    CHECK(!Object->Remapped);
    if (Object->Connected)
        CHECK(Interrupt == Object->Object);
    CheckMessageStep(Object, Message);
    Object->Message = *Message;
}

/* ---- Invariants --------------------------------------------------------------------------- */

/* A check of the reference model (tests/support/io_model.h). */
static void Require(const char *Why)
{
    if (Why != NULL)
        Fail("%s", Why);
}

/* What a refused call must leave as it was (RefIoTakeSnapshot): entries,
 * vectors, live objects and their routes, line resolution. */
static void TakeEntrySnapshot(void)
{
    RefIoTakeSnapshot(&Model, &Snapshot);
}

static void CheckEntriesUnchanged(void)
{
    Require(RefIoCheckUnchanged(&Model, &Snapshot));
}

static void CheckVectors(void)
{
    Require(RefIoCheckVectors(&Model));
}

static void SyncMovables(void);
static void MarkTriggered(const REF_IO_OBJECT *Object);

static void CheckAll(void)
{
    SyncMovables();
    CheckVectors();
    Require(RefIoCheckEntries(&Model));
    Require(RefIoCheckObjects(&Model));
    Require(RefIoCheckQuiet(&Model));
    Require(RefIoCheckRegistry(&Model));
    Require(RefIoCheckIsaLines(&Model));
}

/* A failed call: the documented statuses of the call, nothing changed. */
static void CheckRefused(IRQ_STATUS Status, const IRQ_STATUS *Allowed, size_t AllowedCount)
{
    RequireDocumented(Status, Allowed, AllowedCount);
    CheckEntriesUnchanged();
    CheckVectors();
}

static const IRQ_STATUS ConnectStatuses[] = {
    IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_GSI,         IRQ_STATUS_INVALID_VECTOR,
    IRQ_STATUS_INVALID_CPU,       IRQ_STATUS_EMPTY_AFFINITY,      IRQ_STATUS_INVALID_IRQL,
    IRQ_STATUS_SHARING_VIOLATION, IRQ_STATUS_TRIGGER_MISMATCH,    IRQ_STATUS_VECTOR_EXHAUSTED,
    IRQ_STATUS_NOT_SUPPORTED,     IRQ_STATUS_INSUFFICIENT_RESOURCES,
};

/* A refused Io connect: a documented status, the caller's output pointer
 * (preset to the sentinel 0x5EED) untouched, nothing changed; the model's
 * object slot stays free. */
#define CONNECT_SENTINEL ((KINTERRUPT *)(uintptr_t)0x5EED)
static void CheckConnectRefused(IRQ_STATUS Status, REF_IO_OBJECT *Object, const KINTERRUPT *Interrupt)
{
    Object->Live = false;
    CHECK(Interrupt == CONNECT_SENTINEL);
    CheckRefused(Status, ConnectStatuses, COUNT_OF(ConnectStatuses));
}

/* Whether an Io connect went through. A refusal is checked
 * (CheckConnectRefused); one that went through must not have been asked
 * for something that breaks a rule (Defect), or the run fails naming the
 * request (Format: "<kind> connect (<its parameters>)"). */
static bool ConnectWentThrough(IRQ_STATUS Status, REF_IO_OBJECT *Object, const KINTERRUPT *Interrupt, bool Defect,
                               const char *Format, ...) __attribute__((format(printf, 5, 6)));
static bool ConnectWentThrough(IRQ_STATUS Status, REF_IO_OBJECT *Object, const KINTERRUPT *Interrupt, bool Defect,
                               const char *Format, ...)
{
    if (Status != IRQ_STATUS_SUCCESS) {
        CheckConnectRefused(Status, Object, Interrupt);
        return false;
    }
    if (Defect) {
        char Request[192];
        va_list Arguments;
        va_start(Arguments, Format);
        vsnprintf(Request, sizeof(Request), Format, Arguments);
        va_end(Arguments);
        Fail("a %s that breaks a rule succeeded", Request);
    }
    return true;
}

/* ---- Object bookkeeping ---------------------------------------------------------------------- */

/* A connected object named by the next byte, or NULL when there is none. */
static REF_IO_OBJECT *PickLive(READER *Reader)
{
    uint32_t Live = RefIoConnectedCount(&Model);
    return Live == 0 ? NULL : RefIoConnected(&Model, U8(Reader) % Live);
}

static void RememberDead(KINTERRUPT *Object)
{
    uint32_t Index = DeadCount < MAX_DEAD ? DeadCount++ : (Object == NULL ? 0 : ((uintptr_t)Object >> 6) % MAX_DEAD);
    Dead[Index] = Object;
}

static bool IsLivePointer(const KINTERRUPT *Pointer)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        if (Model.Objects[Index].Live && Model.Objects[Index].Object == Pointer)
            return true;
    }
    return false;
}

/* Fills the model of a new connection from what the library reports, then
 * checks it against what the request asked for. */
static void RecordConnected(REF_IO_OBJECT *Object, KINTERRUPT *Interrupt, REF_IO_OBJECT_KIND Kind, KIRQL SynchronizeIrql)
{
    Object->Object = Interrupt;
    Object->Kind = Kind;
    Object->Sequence = Model.NextSequence++;
    Object->Vector = KeGetInterruptVector(Interrupt);
    Object->Mode = KeGetInterruptMode(Interrupt);
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    Object->Cpus = MaskOfSet(&Cpus);
    Object->SynchronizeIrql = SynchronizeIrql != 0 ? SynchronizeIrql : KeGetInterruptIrql(Interrupt);
    Object->Movable = IoQueryInterruptTarget(Interrupt, &Object->Target, &Object->Policy) == IRQ_STATUS_SUCCESS;
    RefIoSetPlainLinks(Object);
    if (Object->Movable) {
        /* Where it may go, and where it is linked: the library's, which
         * RefIoCheckObjects then holds against the rules (the destination
         * in the affinity and linked there, spread or on one CPU). */
        IR_CPU_SET Affinity;
        CHECK_STATUS(IoQueryInterruptAffinity(Interrupt, &Affinity), IRQ_STATUS_SUCCESS);
        Object->Affinity = MaskOfSet(&Affinity);
        RefIoLoadLinks(&Model, Object);
        CHECK(Object->Cpus == MaskOfSet(&Cpus));
        CHECK(Object->Affinity != 0 && (Object->Affinity & ~OnlineMask) == 0);
        CHECK((Object->Cpus & ~Object->Affinity) == 0);
        Object->Spread = (Kind == RefIoLine && Object->Shared) || Object->Policy != IrRoutingFixedCpu;
        /* A new connection has nothing retiring unless a device's policy
         * spread it onto a new vector (IoConnectDevice). */
        if (Object->Device == 0)
            CHECK(RefIoRetiringLinks(Object) == 0);
    }
    CHECK(KeIsInterruptConnected(Interrupt));
    CHECK(Object->Cpus != 0 && (Object->Cpus & ~OnlineMask) == 0);
    CHECK(RefIoIsDeviceVector(Object->Vector));
    CHECK(KeGetInterruptIrql(Interrupt) == KeIrqlOfVector(Object->Vector));
    Object->Connected = true;
}

/* After a connect op that may have unmasked a latched level line. */
static void SettleCounts(void)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++)
        Model.Objects[Index].ExpectedCalls = Model.Objects[Index].Calls;
}

/* ---- Targets from bytes ---------------------------------------------------------------------- */

typedef struct _TARGET_REQUEST {
    IO_INTERRUPT_TARGET Target;
    IR_CPU_SET Mask;
    /* Rules the request breaks: Structural ones (checked for every request)
     * and Placement ones (an empty mask: only a new line or message is
     * placed; a sharer joins the line where it is, its target unused). */
    bool Structural;
    bool Placement;
} TARGET_REQUEST;

static void ReadTarget(READER *Reader, TARGET_REQUEST *Request)
{
    uint8_t Kind = U8(Reader) % 7;
    uint8_t CpuByte = U8(Reader);
    uint32_t Cpu = CpuByte == 0xFF ? IR_CPU_NONE : CpuByte % 10u;
    uint8_t MaskByte = U8(Reader);
    bool NullMask = (MaskByte & 0x80) && (U8(Reader) & 1);
    Request->Mask = SetOfMask(MaskFromByte(MaskByte));
    uint64_t Usable = Request->Mask.Bits[0] & OnlineMask;
    Request->Structural = false;
    Request->Placement = false;
    Request->Target = (IO_INTERRUPT_TARGET){.Cpu = Cpu, .Mask = NullMask ? NULL : &Request->Mask};
    switch (Kind) {
    case 0:
        Request->Target.Kind = IoTargetDefault;
        break;
    case 1:
    case 5:
        Request->Target.Kind = IoTargetCpu;
        Request->Structural = !RefIoIsOnline(&Model, Cpu);
        break;
    case 2:
        Request->Target.Kind = IoTargetAffinity;
        Request->Structural = NullMask;
        Request->Placement = Usable == 0;
        break;
    case 3:
        Request->Target.Kind = IoTargetBroadcast;
        Request->Structural = NullMask;
        Request->Placement = Usable == 0;
        break;
    case 4:
        Request->Target.Kind = IoTargetRoutable;
        Request->Structural =
            NullMask || (Cpu != IR_CPU_NONE && (!RefIoIsOnline(&Model, Cpu) || !((Request->Mask.Bits[0] >> Cpu) & 1u)));
        Request->Placement = Usable == 0;
        break;
    default:
        Request->Target.Kind = (IO_TARGET_KIND)(5 + U8(Reader) % 3);
        Request->Structural = true;
        break;
    }
}

/* The reach rules of a request for a new line or message (Remapped: it
 * goes through the unit) that breaks no structural rule: a named CPU the
 * device cannot reach (RefIoReachable) is refused, and so is an affinity or
 * routable mask with no usable CPU it reaches. *Named is the CPU the
 * request names (IR_CPU_NONE: none). */
static bool BreaksReach(const TARGET_REQUEST *Request, bool Remapped, uint32_t *Named)
{
    uint64_t Reach = RefIoReachableMask(&Model, Remapped);
    uint64_t Usable = Request->Mask.Bits[0] & OnlineMask;
    *Named = IR_CPU_NONE;
    if (Request->Structural)
        return false;
    switch (Request->Target.Kind) {
    case IoTargetDefault:
        *Named = 0;
        break;
    case IoTargetCpu:
        *Named = Request->Target.Cpu;
        break;
    case IoTargetRoutable:
        *Named = Request->Target.Cpu;
        if ((Usable & Reach) == 0)
            return true;
        break;
    case IoTargetAffinity:
        return (Usable & Reach) == 0;
    default:
        return false; /* broadcasts: logical destinations, not modelled here */
    }
    return *Named != IR_CPU_NONE && !RefIoReachable(&Model, *Named, Remapped);
}

/* A refusal for want of reach (NOT_SUPPORTED) of a CPU the device reaches:
 * with remapping, the whole point of it. */
static void CheckReachNotRefused(IRQ_STATUS Status, uint32_t Named, bool Remapped, bool Defect)
{
    if (Status == IRQ_STATUS_NOT_SUPPORTED && !Defect && Named != IR_CPU_NONE && RefIoReachable(&Model, Named, Remapped))
        Fail("CPU %u (reachable%s) refused with NOT_SUPPORTED", Named, Remapped ? " through the remapping unit" : "");
}

static KIRQL ReadIrql(READER *Reader, bool *Defect)
{
    uint8_t Byte = U8(Reader);
    if (Byte >= 0x80)
        return KE_IRQL_ANY;
    KIRQL Irql = (KIRQL)(Byte % 18);
    if (Irql >= KE_IRQL_COUNT)
        *Defect = true;
    return Irql;
}

/* ---- Operations: connect ---------------------------------------------------------------------- */

static void OpConnectLine(READER *Reader)
{
    CurrentOp = "connect line";
    REF_IO_OBJECT *Object = RefIoTakeSlot(&Model);
    if (Object == NULL)
        return;
    uint8_t BusByte = U8(Reader) % 5;
    uint32_t Number = Bit(Reader) ? U8(Reader) % (GsiCount + 4) : U32(Reader);
    uint8_t TriggerByte = U8(Reader) % 6, PolarityByte = U8(Reader) % 6;
    bool Defect = false;
    KIRQL Irql = ReadIrql(Reader, &Defect);
    KIRQL SynchronizeIrql = Bit(Reader) ? (KIRQL)(U8(Reader) % 18) : 0;
    bool Share = Bit(Reader);
    TARGET_REQUEST Target;
    ReadTarget(Reader, &Target);
    uint8_t Flags = U8(Reader);
    Object->Claim = Flags & 1u;

    static const HL_LINE_OPTION Triggers[] = {HlLineDefault, HlLineEdge, HlLineLevel, HlLineActiveHigh,
                                              HlLineActiveLow, (HL_LINE_OPTION)17};
    HL_INTERRUPT_LINE Line = {
        .Bus = BusByte < 3 ? (HL_LINE_BUS)BusByte : (HL_LINE_BUS)(3 + BusByte),
        .Number = Number,
        .Trigger = Triggers[TriggerByte],
        .Polarity = Triggers[PolarityByte],
    };
    HL_RESOLVED_LINE Resolved;
    IRQ_STATUS ResolveStatus = HlPicResolveLine(&Line, &Resolved);
    if (ResolveStatus != IRQ_STATUS_SUCCESS)
        Defect = true;
    else
        CHECK(Resolved.Gsi < GsiCount);
    if (BusByte >= 3 || (Line.Bus == HlBusIsa && Number > 15) || (Line.Bus != HlBusIsa && Number >= GsiCount))
        CHECK(ResolveStatus != IRQ_STATUS_SUCCESS);
    if (SynchronizeIrql > HIGH_LEVEL)
        Defect = true;
    Defect |= Target.Structural;

    KINTERRUPT *Interrupt = CONNECT_SENTINEL;
    bool NullObject = (Flags & 0x30) == 0x30, NullRoutine = (Flags & 0xC0) == 0xC0;
    Defect |= NullObject || NullRoutine;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = NullObject ? NULL : &Interrupt,
                      .ServiceRoutine = NullRoutine ? NULL : FuzzIsr,
                      .ServiceContext = Object,
                      .Line = Line,
                      .Irql = Irql,
                      .SynchronizeIrql = SynchronizeIrql,
                      .ShareVector = Share,
                      .Target = Target.Target},
    };
    const REF_IO_OBJECT *Existing = ResolveStatus == IRQ_STATUS_SUCCESS ? RefIoLineUser(&Model, Resolved.Gsi) : NULL;
    uint32_t Named = IR_CPU_NONE;
    if (Existing == NULL) {
        Defect |= Target.Placement;
        Defect |= BreaksReach(&Target, Model.Remapping, &Named);
    }
    TakeEntrySnapshot();
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    if (NullObject || NullRoutine)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    CheckReachNotRefused(Status, Named, Model.Remapping, Defect);
    if (!ConnectWentThrough(Status, Object, Interrupt, Defect,
                            "line connect (bus %d number %u target kind %d irql %u sync %u)", (int)Line.Bus, Number,
                            (int)Target.Target.Kind, Irql, SynchronizeIrql))
        return;
    Object->Gsi = Resolved.Gsi;
    Object->Level = Resolved.Trigger == HlTriggerLevel;
    Object->Shared = Share;
    RecordConnected(Object, Interrupt, RefIoLine, SynchronizeIrql);
    uint32_t Gsi;
    CHECK_STATUS(IoQueryInterruptLine(Interrupt, &Gsi), IRQ_STATUS_SUCCESS);
    CHECK(Gsi == Resolved.Gsi);
    CHECK(Object->Mode == (Object->Level ? LevelSensitive : Latched));
    if (Irql != KE_IRQL_ANY)
        CHECK(KeIrqlOfVector(Object->Vector) == Irql);
    if (SynchronizeIrql != 0)
        CHECK(SynchronizeIrql >= KeIrqlOfVector(Object->Vector));
    if (Existing != NULL) {
        /* A sharer joins the line where it is. */
        CHECK(Share && Existing->Shared);
        CHECK(Object->Vector == Existing->Vector && Object->Cpus == Existing->Cpus && Object->Level == Existing->Level);
        CHECK(Object->Movable == Existing->Movable);
        if (Object->Movable)
            CHECK(Object->Affinity == Existing->Affinity && Object->Target == Existing->Target &&
                  Object->Policy == Existing->Policy && Object->Spread && Existing->Spread);
        Object->Broadcast = Existing->Broadcast;
    } else {
        uint64_t Usable = Target.Mask.Bits[0] & OnlineMask & RefIoReachableMask(&Model, Model.Remapping);
        switch (Target.Target.Kind) {
        case IoTargetDefault:
            CHECK(Object->Cpus == 1u);
            break;
        case IoTargetCpu:
            CHECK(Object->Cpus == 1ull << Target.Target.Cpu);
            break;
        case IoTargetAffinity:
            CHECK(__builtin_popcountll(Object->Cpus) == 1 && (Object->Cpus & Usable) != 0);
            break;
        case IoTargetBroadcast:
            CHECK(Object->Cpus == Target.Mask.Bits[0]);
            Object->Broadcast = true;
            break;
        case IoTargetRoutable:
            /* The affinity is the usable CPUs of the mask; a shareable
             * line is linked on all of them, another on its destination
             * alone (the named CPU, if any). */
            CHECK(Object->Movable && Object->Affinity == Usable && Object->Policy == IrRoutingFixedCpu);
            CHECK(Object->Cpus == (Share ? Usable : 1ull << Object->Target));
            if (Target.Target.Cpu != IR_CPU_NONE)
                CHECK(Object->Target == Target.Target.Cpu);
            break;
        default:
            Fail("unknown target kind accepted");
        }
    }
}

static void OpConnectMessage(READER *Reader)
{
    CurrentOp = "connect message";
    REF_IO_OBJECT *Object = RefIoTakeSlot(&Model);
    if (Object == NULL)
        return;
    bool Defect = false;
    KIRQL Irql = ReadIrql(Reader, &Defect);
    KIRQL SynchronizeIrql = Bit(Reader) ? (KIRQL)(U8(Reader) % 18) : 0;
    if (SynchronizeIrql > HIGH_LEVEL)
        Defect = true;
    TARGET_REQUEST Target;
    ReadTarget(Reader, &Target);
    Defect |= Target.Structural || Target.Placement;
    uint8_t Flags = U8(Reader);
    Object->Claim = Flags & 1u;
    bool NullObject = (Flags & 0x30) == 0x30, NullMessage = (Flags & 0xC0) == 0xC0;
    bool NoUpdate = (Flags & 0x0E) == 0x0E;
    /* With remapping (only then, so inputs without it decode as before): a
     * requester id, the assigned one, another or none. */
    uint8_t RequesterByte = Remap ? U8(Reader) % 3u : 0u;
    uint16_t RequesterId = RequesterByte == 1 ? REQUESTER_ASSIGNED : REQUESTER_OTHER;
    bool Remapped = RequesterByte != 0 && RefIoRequesterRemapped(&Model, RequesterId);
    Defect |= NullObject || NullMessage || (NoUpdate && Target.Target.Kind == IoTargetRoutable && !Remapped);
    uint32_t Named = IR_CPU_NONE;
    Defect |= BreaksReach(&Target, Remapped, &Named);

    KINTERRUPT *Interrupt = CONNECT_SENTINEL;
    HL_MSI_MESSAGE Message = {.Address = 0xDEAD, .Data = 0xBEEF};
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_MESSAGE_BASED,
        .MessageBased = {.InterruptObject = NullObject ? NULL : &Interrupt,
                         .ServiceRoutine = FuzzIsr,
                         .ServiceContext = Object,
                         .Irql = Irql,
                         .SynchronizeIrql = SynchronizeIrql,
                         .Target = Target.Target,
                         .Message = NullMessage ? NULL : &Message,
                         .UpdateMessage = NoUpdate ? NULL : MsiUpdate,
                         .UpdateContext = Object,
                         .HasRequesterId = RequesterByte != 0,
                         .RequesterId = RequesterId},
    };
    Object->Remapped = Remapped;
    Object->RequesterId = RequesterId;
    TakeEntrySnapshot();
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    if (NullObject || NullMessage)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    CheckReachNotRefused(Status, Named, Remapped, Defect);
    if (Status != IRQ_STATUS_SUCCESS)
        CHECK(Message.Address == 0xDEAD && Message.Data == 0xBEEF);
    if (!ConnectWentThrough(Status, Object, Interrupt, Defect, "message connect (target kind %d irql %u sync %u)",
                            (int)Target.Target.Kind, Irql, SynchronizeIrql))
        return;
    Object->Message = Message;
    RecordConnected(Object, Interrupt, RefIoMessage, SynchronizeIrql);
    CHECK(Object->Mode == Latched);
    CHECK((Message.Address & 0xFFF00000u) == 0xFEE00000u);
    /* VT-d 5.1.2.2: a remappable message (address bit 4) names its table
     * entry; a compatibility one carries the vector in its data. */
    CHECK(((Message.Address & 0x10u) != 0) == Remapped);
    if (!Remapped)
        CHECK((Message.Data & 0xFFu) == Object->Vector);
    if (Target.Target.Kind == IoTargetRoutable || Target.Target.Kind == IoTargetAffinity)
        CHECK((Object->Cpus & ~RefIoReachableMask(&Model, Remapped)) == 0);
    if (Irql != KE_IRQL_ANY)
        CHECK(KeIrqlOfVector(Object->Vector) == Irql);
    Object->Broadcast = Target.Target.Kind == IoTargetBroadcast;
    if (Object->Broadcast)
        CHECK(Object->Cpus == Target.Mask.Bits[0]);
    if (Target.Target.Kind == IoTargetRoutable) {
        /* On its destination alone, within the mask's usable CPUs. */
        CHECK(Object->Movable && Object->Policy == IrRoutingFixedCpu);
        CHECK(Object->Affinity == (Target.Mask.Bits[0] & OnlineMask & RefIoReachableMask(&Model, Remapped)));
        CHECK(Object->Cpus == 1ull << Object->Target);
        if (Target.Target.Cpu != IR_CPU_NONE)
            CHECK(Object->Target == Target.Target.Cpu);
        if (!Remapped)
            CHECK(RefIoReachable(&Model, Object->Target, false));
    } else {
        CHECK(!Object->Movable);
    }
}

static void OpConnectFully(READER *Reader)
{
    CurrentOp = "connect fully specified";
    REF_IO_OBJECT *Object = RefIoTakeSlot(&Model);
    if (Object == NULL)
        return;
    uint8_t VectorByte = U8(Reader);
    uint32_t Vector = (VectorByte & 0x80) && Bit(Reader) ? 0x100u + U8(Reader) : (uint32_t)(0x30 + VectorByte % 0xA0);
    if (Bit(Reader) && Vector < 0x100)
        Vector = U8(Reader);
    KIRQL Class = Vector < 0x100 ? KeIrqlOfVector((uint8_t)Vector) : KE_IRQL_ANY;
    uint8_t IrqlByte = U8(Reader);
    KIRQL Irql = IrqlByte < 0xC0 && Class != KE_IRQL_ANY ? Class : (KIRQL)(IrqlByte % 18);
    KIRQL SynchronizeIrql = (KIRQL)(Irql + U8(Reader) % 4);
    uint8_t ModeByte = U8(Reader) % 5;
    KINTERRUPT_MODE Mode = ModeByte < 4 ? (KINTERRUPT_MODE)(ModeByte & 1u) : (KINTERRUPT_MODE)7;
    bool Share = Bit(Reader);
    uint8_t MaskByte = U8(Reader);
    IR_CPU_SET Mask = SetOfMask(MaskFromByte(MaskByte));
    uint8_t Flags = U8(Reader);
    Object->Claim = Flags & 1u;
    bool NullObject = (Flags & 0x30) == 0x30, NullMask = (Flags & 0xC0) == 0xC0, Floating = (Flags & 0x0E) == 0x0E;

    bool Defect = NullObject || NullMask || Floating || ModeByte == 4 || Vector > 0xFF || !RefIoIsDeviceVector(Vector) ||
                  Irql != Class || SynchronizeIrql > HIGH_LEVEL || (Mask.Bits[0] & OnlineMask) == 0;
    KINTERRUPT *Interrupt = CONNECT_SENTINEL;
    TakeEntrySnapshot();
    IRQ_STATUS Status;
    if (Flags & 0x2) {
        Status = IoConnectInterrupt(NullObject ? NULL : &Interrupt, FuzzIsr, Object, NULL, Vector, Irql,
                                    SynchronizeIrql, Mode, Share, NullMask ? NULL : &Mask, Floating);
    } else {
        IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
            .Version = CONNECT_FULLY_SPECIFIED,
            .FullySpecified = {.InterruptObject = NullObject ? NULL : &Interrupt, .ServiceRoutine = FuzzIsr,
                               .ServiceContext = Object, .Vector = Vector, .Irql = Irql,
                               .SynchronizeIrql = SynchronizeIrql, .InterruptMode = Mode, .ShareVector = Share,
                               .ProcessorEnableMask = NullMask ? NULL : &Mask, .FloatingSave = Floating},
        };
        Status = IoConnectInterruptEx(&Parameters);
    }
    if (NullObject || NullMask || ModeByte == 4)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    else if (Floating)
        CHECK_STATUS(Status, IRQ_STATUS_NOT_SUPPORTED);
    else if (Vector > 0xFF)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_VECTOR);
    if (!ConnectWentThrough(Status, Object, Interrupt, Defect,
                            "fully specified connect (vector %#x irql %u sync %u mode %u mask %#x)", Vector, Irql,
                            SynchronizeIrql, ModeByte, MaskByte))
        return;
    /* Joining a vector someone else holds needs both to share, same mode. */
    uint64_t Cpus = Mask.Bits[0] & OnlineMask;
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Other = &Model.Objects[Index];
        if (Other->Connected && RefIoLinkedOnAny(Other, Cpus, (uint8_t)Vector)) {
            CHECK(Share && Other->Shared);
            CHECK(Other->Mode == Mode);
        }
    }
    Object->Shared = Share;
    RecordConnected(Object, Interrupt, RefIoFully, SynchronizeIrql);
    CHECK(Object->Vector == Vector && Object->Cpus == Cpus && Object->Mode == Mode);
    CHECK(!Object->Movable);
}

/* ---- Operations: disconnect ----------------------------------------------------------------- */

static void ForgetObject(REF_IO_OBJECT *Object)
{
    /* Vectors the caller reserved and an object then used are freed with
     * the slot's last object (KeConnectInterrupt's rule). */
    RememberDead(Object->Object);
    Object->Connected = false;
    Object->Live = false;
    for (uint32_t Link = 0; Link < Object->LinkCount; Link++) {
        uint32_t Cpu = Object->Links[Link].Cpu;
        uint8_t Vector = Object->Links[Link].Vector;
        if (!RefIoCovers(&Model, Cpu, Vector)) {
            int Index = RefIoFindDirect(&Model, Cpu, Vector);
            if (Index >= 0)
                RefIoRemoveDirect(&Model, Index);
        }
    }
}


/* ---- Ke-level objects on caller storage, and devices ---------------------------------------- */

#define KE_SLOTS 4u
#define KE_SLOT_BYTES 2048u
#define MAX_DEVICES 3u

/* An object a caller of Ke builds in its own storage (KeInitializeInterrupt)
 * and connects itself: the storage stays valid after a disconnect, so calls
 * on the stale object are safe to make. */
typedef struct _KE_SLOT {
    bool Built; /* KeInitializeInterrupt accepted it (the storage holds an object) */
    uint8_t Vector;
    KIRQL SynchronizeIrql;
    KINTERRUPT_MODE Mode;
    bool Share;
    bool Claim;
    uint64_t Cpus;
    REF_IO_OBJECT *Object; /* while a connect is under way or it is connected */
} KE_SLOT;

static _Alignas(64) uint8_t KeStorage[KE_SLOTS][KE_SLOT_BYTES];
static KE_SLOT KeSlots[KE_SLOTS];
static uint8_t StorageBefore[KE_SLOT_BYTES];

typedef struct _DEVICE {
    bool Connected;
    IO_DEVICE_CONNECTION Connection;
    IR_CPU_SET Mask;
    REF_IO_OBJECT *Objects[IO_DEVICE_MAX_INTERRUPTS];
} DEVICE;

static DEVICE Devices[MAX_DEVICES];

static bool KeIsr(KINTERRUPT *Interrupt, void *Context)
{
    KE_SLOT *Slot = Context;
    if (Slot->Object == NULL)
        Fail("the ISR of a Ke object ran while it was not connected");
    CheckIsrRun(Slot->Object, Interrupt);
    return Slot->Object->Claim;
}

static KE_SLOT *SlotOf(const REF_IO_OBJECT *Object)
{
    for (uint32_t Index = 0; Index < KE_SLOTS; Index++)
        if (KeSlots[Index].Object == Object)
            return &KeSlots[Index];
    return NULL;
}

/* Whether a connected object other than Except holds Vector on Cpu. */
static bool OtherOnVector(uint32_t Cpu, uint8_t Vector, const REF_IO_OBJECT *Except)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Other = &Model.Objects[Index];
        if (Other != Except && Other->Connected && RefIoLinked(Other, Cpu, Vector))
            return true;
    }
    return false;
}

/* A successful Ke disconnect of a connected Ke object. */
static void DisconnectKeObject(REF_IO_OBJECT *Object)
{
    KE_SLOT *Slot = SlotOf(Object);
    CHECK(Slot != NULL && Object->Kind == RefIoKe);
    bool WillFree = false;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        if (((Object->Cpus >> Cpu) & 1u) && !OtherOnVector(Cpu, Object->Vector, Object))
            WillFree = true;
    uint8_t Freed = 0x5A;
    CHECK_STATUS(KeDisconnectInterrupt(Object->Object, (bool *)(void *)&Freed), IRQ_STATUS_SUCCESS);
    CHECK(Freed == WillFree);
    CHECK(KeQueryInterruptOwner(Object->Object) == KeInterruptOwnerNone);
    ForgetObject(Object);
    Slot->Object = NULL;
}

static void DisconnectDevice(DEVICE *Device)
{
    CHECK(Device->Connected);
    CHECK_STATUS(IoDisconnectDevice(&Device->Connection), IRQ_STATUS_SUCCESS);
    CHECK(Device->Connection.Count == 0);
    for (uint32_t Index = 0; Index < IO_DEVICE_MAX_INTERRUPTS; Index++) {
        if (Device->Objects[Index] != NULL)
            ForgetObject(Device->Objects[Index]);
        Device->Objects[Index] = NULL;
    }
    Device->Connected = false;
}

/* Disconnects a connected object the way its owner must. */
static void DisconnectObject(REF_IO_OBJECT *Object)
{
    if (Object->Device != 0)
        DisconnectDevice(&Devices[Object->Device - 1]);
    else if (Object->Kind == RefIoKe)
        DisconnectKeObject(Object);
    else {
        CHECK_STATUS(IoDisconnectInterrupt(Object->Object), IRQ_STATUS_SUCCESS);
        ForgetObject(Object);
    }
}

/* A connected object Io connected (not a device's), or NULL. */
static REF_IO_OBJECT *PickIoObject(READER *Reader)
{
    REF_IO_OBJECT *Object = PickLive(Reader);
    return Object != NULL && Object->Kind != RefIoKe ? Object : NULL;
}

static void OpDisconnect(READER *Reader)
{
    CurrentOp = "disconnect";
    uint8_t Choice = U8(Reader) % 8;
    TakeEntrySnapshot();
    if (Choice < 5) {
        REF_IO_OBJECT *Object = PickLive(Reader);
        if (Object == NULL)
            return;
        if (Object->Kind == RefIoKe) {
            /* Only the layer that connected an object disconnects it (ke.h). */
            IRQ_STATUS Status = IoDisconnectInterrupt(Object->Object);
            CHECK_STATUS(Status, IO_DISCONNECT_KE_OBJECT_STATUS);
            CheckEntriesUnchanged();
            CheckAll();
            TakeEntrySnapshot();
        }
        DisconnectObject(Object);
        CheckAll();
        return;
    }
    KINTERRUPT *Target;
    IRQ_STATUS Expected = IRQ_STATUS_NOT_CONNECTED;
    if (Choice == 5 && DeadCount > 0) {
        uint32_t Index = U8(Reader) % DeadCount;
        Target = Dead[Index];
        if (IsLivePointer(Target)) /* the allocator gave the memory to a new object */
            return;
    } else if (Choice == 6) {
        Target = (KINTERRUPT *)(void *)NeverConnected;
    } else {
        Target = NULL;
        Expected = IRQ_STATUS_INVALID_PARAMETER;
    }
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_NOT_CONNECTED};
    IRQ_STATUS Status = IoDisconnectInterrupt(Target);
    CHECK_STATUS(Status, Expected);
    CheckRefused(Status, Allowed, COUNT_OF(Allowed));
}

/* ---- Operations: firing and the dispatcher's rules ------------------------------------------- */

typedef struct _RECEIVED {
    uint32_t Count;
    uint32_t Cpu[MAX_CPUS * 4];
    uint8_t Vector[MAX_CPUS * 4];
} RECEIVED;

static void CollectReceived(RECEIVED *Received)
{
    Received->Count = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        for (uint32_t Vector = 16; Vector < 256; Vector++) {
            if (SimLapicIrrIsSet(Cpu, (uint8_t)Vector)) {
                CHECK(Received->Count < MAX_CPUS * 4);
                Received->Cpu[Received->Count] = Cpu;
                Received->Vector[Received->Count++] = (uint8_t)Vector;
            }
        }
    }
}

/* The CPUs an interrupt of Object is sent to now. */
static uint64_t Destinations(const REF_IO_OBJECT *Object)
{
    if (Object->Broadcast)
        return Object->Cpus;
    if (Object->Movable) {
        /* The destination the model follows, which the library reports,
         * in the affinity and linked there with the object's vector. */
        uint32_t Cpu = IR_CPU_NONE;
        CHECK_STATUS(IoQueryInterruptTarget(Object->Object, &Cpu, NULL), IRQ_STATUS_SUCCESS);
        if (Cpu != Object->Target)
            Fail("movable object delivered to CPU %u, the model's destination is %u", Cpu, Object->Target);
        CHECK(Cpu < CpuCount && ((Object->Affinity >> Cpu) & 1u) && RefIoLinked(Object, Cpu, Object->Vector));
        return 1ull << Cpu;
    }
    CHECK(__builtin_popcountll(Object->Cpus) == 1 || Object->Kind == RefIoFully || Object->Kind == RefIoKe);
    return Object->Cpus;
}

/* Received must be Vector on exactly the CPUs of Mask. */
static void CheckReceivedExactly(const RECEIVED *Received, uint64_t Mask, uint8_t Vector)
{
    uint64_t Got = 0;
    for (uint32_t Index = 0; Index < Received->Count; Index++) {
        if (Received->Vector[Index] != Vector)
            Fail("vector %#x arrived on CPU %u, expected only %#x", Received->Vector[Index], Received->Cpu[Index],
                 Vector);
        Got |= 1ull << Received->Cpu[Index];
    }
    if (Got != Mask)
        Fail("vector %#x arrived on CPUs %#llx, routed to %#llx", Vector, (unsigned long long)Got,
             (unsigned long long)Mask);
}

static void ExpectReceived(const RECEIVED *Received)
{
    for (uint32_t Index = 0; Index < Received->Count; Index++)
        RefIoExpectDispatch(&Model, Received->Cpu[Index], Received->Vector[Index]);
}

static void CheckCalls(void)
{
    Require(RefIoCheckCalls(&Model));
}

static void OpPulse(READER *Reader)
{
    CurrentOp = "edge pulse";
    uint32_t Gsi;
    const REF_IO_OBJECT *Line = NULL;
    if (Bit(Reader)) {
        Line = PickLive(Reader);
        if (Line == NULL || Line->Kind != RefIoLine)
            return;
        Gsi = Line->Gsi;
    } else {
        Gsi = U8(Reader) % (GsiCount + 2);
        Line = Gsi < GsiCount ? RefIoLineUser(&Model, Gsi) : NULL;
    }
    if (Gsi < GsiCount && Asserted[Gsi])
        return; /* a level pin held high has no edge */
    SimPulseGsi(Gsi);
    RECEIVED Received;
    CollectReceived(&Received);
    if (Line != NULL) {
        CheckReceivedExactly(&Received, Destinations(Line), Line->Vector);
        MarkTriggered(Line);
    } else {
        CHECK(Received.Count == 0);
    }
    ExpectReceived(&Received);
    ServiceAll();
    CheckCalls();
}

static void OpLevel(READER *Reader)
{
    CurrentOp = "level assert";
    uint32_t Gsi = U8(Reader) % GsiCount;
    if (Bit(Reader)) {
        const REF_IO_OBJECT *Line = PickLive(Reader);
        if (Line != NULL && Line->Kind == RefIoLine)
            Gsi = Line->Gsi;
    }
    if (Asserted[Gsi]) {
        /* The device quietens by itself (nothing is sent). */
        Asserted[Gsi] = false;
        SimSetGsi(Gsi, false);
        return;
    }
    const REF_IO_OBJECT *Line = RefIoLineUser(&Model, Gsi);
    Asserted[Gsi] = true;
    SimSetGsi(Gsi, true);
    RECEIVED Received;
    CollectReceived(&Received);
    if (Line != NULL) {
        CheckReceivedExactly(&Received, Destinations(Line), Line->Vector);
        MarkTriggered(Line);
        if (!Line->Level) {
            /* An edge entry took the rising edge; the pin goes low again. */
            Asserted[Gsi] = false;
            SimSetGsi(Gsi, false);
        }
    } else {
        CHECK(Received.Count == 0); /* masked: latched, sent when unmasked */
    }
    ExpectReceived(&Received);
    ServiceAll();
    CheckCalls();
    if (Line != NULL && Line->Level)
        CHECK(!Asserted[Gsi]); /* an ISR on its vector ran and serviced it */
}

static void OpMsi(READER *Reader)
{
    CurrentOp = "MSI write";
    if (Bit(Reader)) {
        const REF_IO_OBJECT *Object = PickLive(Reader);
        if (Object == NULL || Object->Kind != RefIoMessage)
            return;
        if (Object->Remapped)
            SimMsiWriteThroughIommu(REMAP_UNIT, Object->RequesterId, Object->Message.Address, Object->Message.Data);
        else
            SimMsiWrite(Object->Message.Address, Object->Message.Data);
        RECEIVED Received;
        CollectReceived(&Received);
        CheckReceivedExactly(&Received, Destinations(Object), Object->Vector);
        MarkTriggered(Object);
        ExpectReceived(&Received);
    } else {
        /* Raw: a physical destination (a CPU's APIC id or anything) and any vector. */
        uint8_t CpuByte = U8(Reader);
        uint32_t Destination = CpuByte < 0xC0 ? SimCpuApicId(CpuByte % CpuCount) : U8(Reader);
        uint8_t Vector = U8(Reader);
        /* An IPI without its message is counted apart; a device sending the
         * spurious vector would leave its ISR bit set (the dispatcher rightly
         * never EOIs that vector, SDM 11.9): both are not a device's vectors. */
        if (Vector == KeAmd64VectorLayout.IpiVector || Vector == KeAmd64VectorLayout.SpuriousVector)
            Vector++;
        if (X2Apic && CpuByte >= 0xC0)
            return;
        SimMsiWrite(0xFEE00000ull | (uint64_t)(Destination & 0xFF) << 12, Vector);
        RECEIVED Received;
        CollectReceived(&Received);
        ExpectReceived(&Received);
    }
    ServiceAll();
    CheckCalls();
}

/* IRQL holds back the classes at or below it; lowering lets them in. */
static void OpIrql(READER *Reader)
{
    CurrentOp = "IRQL gating";
    KIRQL Level = (KIRQL)(3 + U8(Reader) % 13);
    uint8_t Vector = (uint8_t)(0x30 + U8(Reader) % 0xA0);
    const REF_IO_OBJECT *Object = PickLive(Reader);
    if (Object != NULL && ((Object->Cpus >> HOME_CPU) & 1u))
        Vector = Object->Vector;
    if (Vector == KeAmd64VectorLayout.SpuriousVector)
        return;
    KIRQL Old = KeRaiseIrql(Level);
    CHECK(Old == PASSIVE_LEVEL);
    CHECK(KeGetCurrentIrql() == Level);
    SimMsiWrite(0xFEE00000ull | (uint64_t)SimCpuApicId(HOME_CPU) << 12, Vector);
    bool Held = (uint32_t)(Vector >> 4) <= KeAmd64VectorLayout.TprOfIrql[Level] >> 4;
    (void)SimServicePending();
    CHECK(SimLapicIrrIsSet(HOME_CPU, Vector) == Held);
    if (!Held)
        RefIoExpectDispatch(&Model, HOME_CPU, Vector);
    CheckCalls();
    if (Held)
        RefIoExpectDispatch(&Model, HOME_CPU, Vector);
    KeLowerIrql(Old);
    (void)SimServicePending();
    ServiceAll();
    CheckCalls();
}

/* ---- Operations: movable interrupts ------------------------------------------------------------ */

/* A movable interrupt holds one vector on the CPU it is delivered to, or
 * its vector on every CPU of its affinity when spread (ROUND_ROBIN, LOWEST,
 * a shareable line); a move that needs a new link leaves the old ones
 * retiring until the device's first interrupt on the new one (ke.h, A MOVE
 * IN TWO PHASES; src/io/move.c). */

/* Fired at its destination in this operation: once serviced, the
 * post-dispatch routine has asked the old CPUs, and no link retires any
 * more (nothing else is pending on them: every CPU is serviced). */
static bool Triggered[REF_IO_MAX_OBJECTS];

/* Objects of one route: a line's sharers move together. */
static bool SameRoute(const REF_IO_OBJECT *A, const REF_IO_OBJECT *B)
{
    if (A == B)
        return true;
    return A->Connected && B->Connected && A->Movable && B->Movable && A->Kind == RefIoLine &&
           B->Kind == RefIoLine && A->Gsi == B->Gsi;
}

static void MarkTriggered(const REF_IO_OBJECT *Object)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++)
        if (Object->Movable && SameRoute(Object, &Model.Objects[Index]))
            Triggered[Index] = true;
}

static bool LinkIn(const REF_IO_LINK *Links, uint32_t Count, REF_IO_LINK Link)
{
    for (uint32_t Index = 0; Index < Count; Index++)
        if (Links[Index].Cpu == Link.Cpu && Links[Index].Vector == Link.Vector)
            return true;
    return false;
}

static const char *DescribeLinks(const REF_IO_LINK *Links, uint32_t Count)
{
    static char Text[200];
    size_t Used = 0;
    Text[0] = 0;
    for (uint32_t Index = 0; Index < Count && Used < sizeof(Text) - 12; Index++)
        Used += (size_t)snprintf(Text + Used, sizeof(Text) - Used, " %u:%#x", Links[Index].Cpu, Links[Index].Vector);
    return Text;
}

/* The object's links as the library has them now, and the CPUs they are on. */
static void StoreLinks(REF_IO_OBJECT *Object, const REF_IO_LINK *Links, uint32_t Count)
{
    memcpy(Object->Links, Links, sizeof(Links[0]) * Count);
    Object->LinkCount = Count;
    uint64_t Cpus = 0;
    for (uint32_t Link = 0; Link < Count; Link++)
        Cpus |= 1ull << Links[Link].Cpu;
    Object->Cpus = Cpus;
    Object->EverCpus |= Cpus;
}

/* What happened to movable objects outside a move: old links retired
 * (only links that are not active may go, and none may come), and under
 * ROUND_ROBIN / LOWEST the destination moved within the affinity after a
 * dispatch (RefIoCheckObjects holds it there); the vector, policy and
 * affinity stay. An object fired at its destination has nothing retiring
 * once every CPU has been serviced. */
static void SyncMovables(void)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        REF_IO_OBJECT *Object = &Model.Objects[Index];
        if (!Object->Connected || !Object->Movable) {
            Triggered[Index] = false;
            continue;
        }
        REF_IO_LINK Links[REF_IO_MAX_LINKS];
        uint32_t Count = 0;
        CHECK(RefIoReadLinks(&Model, Object->Object, Links, &Count));
        for (uint32_t Link = 0; Link < Count; Link++)
            if (!RefIoLinked(Object, Links[Link].Cpu, Links[Link].Vector))
                Fail("object %u: linked on CPU %u vector %#x outside a move (links%s)", Index, Links[Link].Cpu,
                     Links[Link].Vector, DescribeLinks(Links, Count));
        for (uint32_t Link = 0; Link < Object->LinkCount; Link++) {
            REF_IO_LINK Old = Object->Links[Link];
            if (!LinkIn(Links, Count, Old) && RefIoActiveLink(Object, Old.Cpu, Old.Vector))
                Fail("object %u: its active link CPU %u vector %#x went away", Index, Old.Cpu, Old.Vector);
        }
        StoreLinks(Object, Links, Count);
        if (Object->Policy != IrRoutingFixedCpu)
            CHECK_STATUS(IoQueryInterruptTarget(Object->Object, &Object->Target, NULL), IRQ_STATUS_SUCCESS);
        if (Triggered[Index] && RefIoRetiringLinks(Object) != 0)
            Fail("object %u: fired at CPU %u vector %#x and serviced, %u old links still retiring (links%s)", Index,
                 Object->Target, Object->Vector, RefIoRetiringLinks(Object), DescribeLinks(Links, Count));
        Triggered[Index] = false;
    }
}

/* (Cpu, Vector) can take Object with the same vector number: free there,
 * or its own link there (one still retiring is taken back). */
static bool VectorAvailable(const REF_IO_OBJECT *Object, uint32_t Cpu, uint8_t Vector)
{
    return RefIoLinked(Object, Cpu, Vector) || !RefIoAllocated(&Model, Cpu, Vector);
}

/* A vector of Object's IRQL free on every CPU of Mask (KeAllocateVector,
 * KeAllocateVectorOnSet). */
static bool ClassHasFree(const REF_IO_OBJECT *Object, uint64_t Mask)
{
    KIRQL Irql = KeIrqlOfVector(Object->Vector);
    for (uint32_t Vector = 0; Vector < 256; Vector++) {
        if (!RefIoIsDeviceVector(Vector) || KeIrqlOfVector((uint8_t)Vector) != Irql)
            continue;
        bool Free = true;
        for (uint32_t Cpu = 0; Cpu < CpuCount && Free; Cpu++)
            Free = !((Mask >> Cpu) & 1u) || !RefIoAllocated(&Model, Cpu, (uint8_t)Vector);
        if (Free)
            return true;
    }
    return false;
}

/* What a route change needs: a new link (a slot: with old links still
 * retiring there may be none, INVALID_STATE), a new vector number, and
 * whether no vector could be had (VECTOR_EXHAUSTED). */
typedef struct _MOVE_NEEDS {
    bool NewLink;
    bool NewVector;
    bool MayBeBusy;
    bool MayBeExhausted;
} MOVE_NEEDS;

static MOVE_NEEDS Needs(const REF_IO_OBJECT *Object, bool NewLink, bool NewVector, uint64_t VectorMask)
{
    MOVE_NEEDS Result = {.NewLink = NewLink || NewVector, .NewVector = NewVector};
    /* Without a slot the same number is given up for a new one too. */
    Result.MayBeBusy = Result.NewLink && RefIoRetiringLinks(Object) != 0;
    Result.MayBeExhausted = (NewVector || Result.MayBeBusy) && !ClassHasFree(Object, VectorMask);
    return Result;
}

/* IoSetInterruptTarget(Object, Cpu), Cpu in the affinity: a spread route or
 * its own CPU needs nothing; else the same number where it can be had,
 * else a new one (on the old CPU too for the intermediate step of a line
 * or a plain MSI, src/io/move.c). */
static MOVE_NEEDS TargetNeeds(const REF_IO_OBJECT *Object, uint32_t Cpu)
{
    if (Object->Spread || Cpu == Object->Target)
        return (MOVE_NEEDS){0};
    uint64_t Mask = 1ull << Cpu;
    if (Object->Kind == RefIoLine || !Object->Remapped)
        Mask |= 1ull << Object->Target;
    if (VectorAvailable(Object, Cpu, Object->Vector))
        return Needs(Object, !RefIoLinked(Object, Cpu, Object->Vector), false, Mask);
    return Needs(Object, true, true, Mask);
}

/* IoSetInterruptPolicy(Object, Policy): ROUND_ROBIN and LOWEST spread a
 * route on one CPU over its affinity (the same number where every CPU has
 * it, else a new one on all); FIXED only gathers (links retire). */
static MOVE_NEEDS PolicyNeeds(const REF_IO_OBJECT *Object, IR_ROUTING_POLICY Policy)
{
    if (Policy == IrRoutingFixedCpu || Object->Spread)
        return (MOVE_NEEDS){0};
    bool Same = true, NewLink = false;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (!((Object->Affinity >> Cpu) & 1u))
            continue;
        Same &= VectorAvailable(Object, Cpu, Object->Vector);
        NewLink |= !RefIoLinked(Object, Cpu, Object->Vector);
    }
    return Needs(Object, NewLink, !Same, Object->Affinity);
}

/* A refusal a route change may answer although the CPU is in the affinity. */
static void CheckMoveRefusal(IRQ_STATUS Status, MOVE_NEEDS Need, const char *Call)
{
    if (Status == IRQ_STATUS_INVALID_STATE && Need.MayBeBusy)
        return;
    if (Status == IRQ_STATUS_VECTOR_EXHAUSTED && Need.MayBeExhausted)
        return;
    Fail("%s refused with %s (new link %d, new vector %d, busy possible %d, exhaustion possible %d)", Call,
         IrStatusName(Status), Need.NewLink, Need.NewVector, Need.MayBeBusy, Need.MayBeExhausted);
}

/* The model takes a route change the library accepted (or IoRouteDevice
 * rolled back half-way), after checking that it did only what a change
 * may: the affinity stays; no link went away at once (old ones retire
 * after the device's next interrupt); every new link is on a vector that
 * was free there (the model before the change), and, for one move or
 * policy change (OneVector), on the object's new vector, of its class. */
static void AdoptRouteChange(REF_IO_OBJECT *Object, bool OneVector)
{
    uint32_t Index = (uint32_t)(Object - Model.Objects);
    IR_CPU_SET Affinity;
    CHECK_STATUS(IoQueryInterruptTarget(Object->Object, &Object->Target, &Object->Policy), IRQ_STATUS_SUCCESS);
    CHECK_STATUS(IoQueryInterruptAffinity(Object->Object, &Affinity), IRQ_STATUS_SUCCESS);
    CHECK(MaskOfSet(&Affinity) == Object->Affinity);
    uint8_t Vector = KeGetInterruptVector(Object->Object);
    CHECK(RefIoIsDeviceVector(Vector) && KeIrqlOfVector(Vector) == KeIrqlOfVector(Object->Vector));
    REF_IO_LINK Links[REF_IO_MAX_LINKS];
    uint32_t Count = 0;
    CHECK(RefIoReadLinks(&Model, Object->Object, Links, &Count));
    for (uint32_t Link = 0; Link < Object->LinkCount; Link++)
        if (!LinkIn(Links, Count, Object->Links[Link]))
            Fail("object %u: a route change took out link CPU %u vector %#x at once (links%s)", Index,
                 Object->Links[Link].Cpu, Object->Links[Link].Vector, DescribeLinks(Links, Count));
    for (uint32_t Link = 0; Link < Count; Link++) {
        if (RefIoLinked(Object, Links[Link].Cpu, Links[Link].Vector))
            continue;
        if ((OneVector && Links[Link].Vector != Vector) || RefIoAllocated(&Model, Links[Link].Cpu, Links[Link].Vector))
            Fail("object %u: a route change linked it on CPU %u vector %#x (its vector %#x; the model held that "
                 "vector there: %d)",
                 Index, Links[Link].Cpu, Links[Link].Vector, Vector,
                 RefIoAllocated(&Model, Links[Link].Cpu, Links[Link].Vector));
    }
    Object->Vector = Vector;
    StoreLinks(Object, Links, Count);
    Object->Spread = (Object->Kind == RefIoLine && Object->Shared) || Object->Policy != IrRoutingFixedCpu;
    if (Object->Kind == RefIoMessage && !Object->Remapped)
        CHECK((Object->Message.Data & 0xFFu) == Vector);
}

/* Every object of Object's route takes the change. */
static void AdoptRoute(REF_IO_OBJECT *Object, bool OneVector)
{
    AdoptRouteChange(Object, OneVector);
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++)
        if (&Model.Objects[Index] != Object && SameRoute(Object, &Model.Objects[Index]))
            AdoptRouteChange(&Model.Objects[Index], OneVector);
}

static void OpMove(READER *Reader)
{
    CurrentOp = "move";
    uint8_t Choice = U8(Reader) % 6;
    REF_IO_OBJECT *Object = PickLive(Reader);
    KINTERRUPT *Target = Object != NULL ? Object->Object : NULL;
    if (Choice == 4)
        Target = (KINTERRUPT *)(void *)NeverConnected;
    else if (Choice == 5)
        Target = NULL;
    uint32_t Cpu = U8(Reader) % 10;
    TakeEntrySnapshot();
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_NOT_SUPPORTED,
                                         IRQ_STATUS_INVALID_CPU,       IRQ_STATUS_NOT_CONNECTED,
                                         IRQ_STATUS_ACCESS_DENIED,     IRQ_STATUS_INVALID_STATE,
                                         IRQ_STATUS_VECTOR_EXHAUSTED};
    bool Movable = Choice < 4 && Object != NULL && Object->Movable;
    bool KeOwned = Choice < 4 && Object != NULL && Object->Kind == RefIoKe;
    if (Choice < 2) {
        bool InAffinity = Movable && Cpu < CpuCount && ((Object->Affinity >> Cpu) & 1u);
        MOVE_NEEDS Need = InAffinity ? TargetNeeds(Object, Cpu) : (MOVE_NEEDS){0};
        uint8_t Vector = Movable ? Object->Vector : 0;
        bool WasSpread = Movable && Object->Spread, Here = Movable && Object->Target == Cpu;
        uint32_t LinkCount = Movable ? Object->LinkCount : 0;
        IR_ROUTING_POLICY Policy = Movable ? Object->Policy : IrRoutingFixedCpu;
        IRQ_STATUS Status = IoSetInterruptTarget(Target, Cpu);
        if (Trace)
            fprintf(stderr, "  IoSetInterruptTarget(CPU %u) movable %d affinity %#llx from CPU %u: %s\n", Cpu, Movable,
                    Movable ? (unsigned long long)Object->Affinity : 0ull, Movable ? Object->Target : 0u,
                    IrStatusName(Status));
        if (Status == IRQ_STATUS_SUCCESS) {
            if (!InAffinity)
                Fail("IoSetInterruptTarget to CPU %u succeeded (movable %d, outside the affinity)", Cpu, Movable);
            AdoptRoute(Object, true);
            if (Trace)
                fprintf(stderr, "  vector %#x -> %#x, %u links, %u retiring\n", Vector, Object->Vector,
                        Object->LinkCount, RefIoRetiringLinks(Object));
            CHECK(Object->Target == Cpu && Object->Policy == Policy);
            if (!Need.NewVector)
                CHECK(Object->Vector == Vector);
            else if (Object->Vector == Vector)
                Fail("CPU %u had vector %#x taken: the move kept it", Cpu, Vector);
            if (WasSpread || Here)
                CHECK(Object->LinkCount == LinkCount);
        } else {
            if (InAffinity)
                CheckMoveRefusal(Status, Need, "IoSetInterruptTarget");
            else if (Movable)
                CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
            else if (KeOwned)
                CHECK_STATUS(Status, IO_ROUTE_KE_OBJECT_STATUS);
            else if (Object != NULL && Choice < 4)
                CHECK_STATUS(Status, IRQ_STATUS_NOT_SUPPORTED);
            CheckRefused(Status, Allowed, COUNT_OF(Allowed));
        }
    } else {
        uint32_t PolicyByte = U8(Reader) % (IrRoutingPolicyCount + 2);
        bool Retargeting = PolicyByte <= IrRoutingLowestPriority;
        MOVE_NEEDS Need = Movable && Retargeting ? PolicyNeeds(Object, (IR_ROUTING_POLICY)PolicyByte) : (MOVE_NEEDS){0};
        uint8_t Vector = Movable ? Object->Vector : 0;
        uint32_t Here = Movable ? Object->Target : 0, LinkCount = Movable ? Object->LinkCount : 0;
        IRQ_STATUS Status = IoSetInterruptPolicy(Target, (IR_ROUTING_POLICY)PolicyByte);
        if (Trace)
            fprintf(stderr, "  IoSetInterruptPolicy(%u) movable %d: %s\n", PolicyByte, Movable, IrStatusName(Status));
        if (Status == IRQ_STATUS_SUCCESS) {
            if (!Movable || !Retargeting)
                Fail("IoSetInterruptPolicy(%u) succeeded (movable %d)", PolicyByte, Movable);
            AdoptRoute(Object, true);
            CHECK(Object->Policy == (IR_ROUTING_POLICY)PolicyByte && Object->Target == Here);
            if (!Need.NewVector)
                CHECK(Object->Vector == Vector);
            else if (Object->Vector == Vector)
                Fail("a spread over %#llx kept vector %#x, taken on one of them", (unsigned long long)Object->Affinity,
                     Vector);
            if (PolicyByte == IrRoutingFixedCpu)
                CHECK(Object->LinkCount == LinkCount); /* gathering only retires */
        } else {
            if (Movable && Retargeting)
                CheckMoveRefusal(Status, Need, "IoSetInterruptPolicy");
            else if (!Retargeting)
                CHECK_STATUS(Status, PolicyByte >= IrRoutingPolicyCount ? IRQ_STATUS_INVALID_PARAMETER
                                                                        : IRQ_STATUS_NOT_SUPPORTED);
            else if (KeOwned)
                CHECK_STATUS(Status, IO_ROUTE_KE_OBJECT_STATUS);
            else if (Object != NULL && Choice < 4)
                CHECK_STATUS(Status, IRQ_STATUS_NOT_SUPPORTED);
            CheckRefused(Status, Allowed, COUNT_OF(Allowed));
        }
    }
    ServiceAll();
    CheckAll();
}

/* IoQueryInterruptAffinity (where IoSetInterruptTarget accepts a CPU) and
 * IoSetInterruptRateLimit, with their refusals; a limit is read back
 * through IoQueryInterruptStorm. (IoPollStormedInterrupts, which would
 * apply a limit by masking, is not called: masks are not modelled.) */
static void OpRouteExtras(READER *Reader)
{
    CurrentOp = "affinity and rate limit";
    uint8_t Choice = U8(Reader) % 4;
    REF_IO_OBJECT *Object = PickLive(Reader);
    uint64_t Limit = U8(Reader);
    KINTERRUPT *Target = Object != NULL ? Object->Object : NULL;
    IRQ_STATUS Want = IRQ_STATUS_INVALID_PARAMETER;
    if (Choice == 3) {
        Target = (KINTERRUPT *)(void *)NeverConnected;
        Want = IRQ_STATUS_NOT_CONNECTED;
    } else if (Object != NULL && Object->Kind == RefIoKe) {
        Want = IO_ROUTE_KE_OBJECT_STATUS;
    }
    TakeEntrySnapshot();
    if (Choice < 2 || Choice == 3) {
        IR_CPU_SET Affinity;
        memset(&Affinity, 0x5E, sizeof(Affinity));
        bool NullOut = Choice == 1 && Bit(Reader);
        IRQ_STATUS Status = IoQueryInterruptAffinity(Target, NullOut ? NULL : &Affinity);
        if (NullOut)
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
        else if (Target != NULL && Want == IRQ_STATUS_INVALID_PARAMETER)
            CHECK_STATUS(Status, Object->Movable ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED);
        else
            CHECK_STATUS(Status, Want);
        if (Status == IRQ_STATUS_SUCCESS) {
            CHECK(MaskOfSet(&Affinity) == Object->Affinity);
            CHECK((Object->Affinity >> Object->Target) & 1u);
        } else if (!NullOut) {
            CHECK(Affinity.Bits[0] == 0x5E5E5E5E5E5E5E5Eull);
        }
        CheckEntriesUnchanged();
        CheckAll();
        if (Choice != 3)
            return;
    }
    /* A rate limit: only for a level line nobody may share (an MSI-X entry
     * Io programs is the other kind; the fuzzer connects none). */
    if (Choice == 3)
        Target = Bit(Reader) ? NULL : Target;
    if (Target == NULL)
        Want = IRQ_STATUS_INVALID_PARAMETER;
    else if (Target != (KINTERRUPT *)(void *)NeverConnected && Object->Kind != RefIoKe) {
        const REF_IO_OBJECT *Line = Object->Kind == RefIoLine ? RefIoLineUser(&Model, Object->Gsi) : NULL;
        Want = Line != NULL && Object->Level && !Line->Shared ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED;
    }
    TakeEntrySnapshot();
    IRQ_STATUS Status = IoSetInterruptRateLimit(Target, Limit);
    CHECK_STATUS(Status, Want);
    if (Status != IRQ_STATUS_SUCCESS) {
        CheckEntriesUnchanged();
    } else {
        IO_INTERRUPT_STORM Storm;
        CHECK_STATUS(IoQueryInterruptStorm(Target, &Storm), IRQ_STATUS_SUCCESS);
        CHECK(Storm.RateLimit == Limit && !Storm.RateMasked && !Storm.Masked && !Storm.Stormed);
    }
    CheckAll();
}

/* ---- Operations: the vector matrix directly ------------------------------------------------------ */

static void AddDirect(uint32_t Cpu, uint8_t Vector)
{
    CHECK(Model.DirectCount < REF_IO_MAX_DIRECT);
    CHECK(RefIoFindDirect(&Model, Cpu, Vector) < 0);
    RefIoAddDirect(&Model, Cpu, Vector);
}

static void OpVectors(READER *Reader)
{
    CurrentOp = "vector matrix";
    uint8_t Choice = U8(Reader) % 4;
    bool Defect = false;
    KIRQL Irql = ReadIrql(Reader, &Defect);
    uint8_t MaskByte = U8(Reader);
    IR_CPU_SET Mask = SetOfMask(MaskFromByte(MaskByte));
    uint32_t Cpu = U8(Reader) % 10;
    uint8_t Vector = U8(Reader);
    TakeEntrySnapshot();
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_IRQL,
                                         IRQ_STATUS_INVALID_CPU,       IRQ_STATUS_EMPTY_AFFINITY,
                                         IRQ_STATUS_VECTOR_EXHAUSTED,  IRQ_STATUS_INVALID_VECTOR,
                                         IRQ_STATUS_SHARING_VIOLATION, IRQ_STATUS_INVALID_STATE,
                                         IRQ_STATUS_ACCESS_DENIED};
    if (Model.DirectCount >= MAX_DIRECT && Choice < 3)
        Choice = 3;
    IRQ_STATUS Status;
    switch (Choice) {
    case 0: {
        uint32_t Chosen = IR_CPU_NONE;
        uint8_t Got = 0;
        Status = KeAllocateVector(&Mask, Irql, &Chosen, &Got);
        if (Status == IRQ_STATUS_SUCCESS) {
            CHECK(!Defect && Chosen < CpuCount && RefIoIsOnline(&Model, Chosen) && ((MaskByte >> Chosen) & 1u));
            CHECK(RefIoIsDeviceVector(Got) && !RefIoAllocated(&Model, Chosen, Got));
            if (Irql != KE_IRQL_ANY)
                CHECK(KeIrqlOfVector(Got) == Irql);
            AddDirect(Chosen, Got);
        } else {
            CHECK(Chosen == IR_CPU_NONE && Got == 0);
            if ((Mask.Bits[0] & OnlineMask) == 0 && !Defect && Irql != KE_IRQL_ANY && Irql >= 3 && Irql <= 12)
                CHECK_STATUS(Status, IRQ_STATUS_EMPTY_AFFINITY);
        }
        break;
    }
    case 1: {
        uint8_t Got = 0;
        Status = KeAllocateVectorOnSet(&Mask, Irql, &Got);
        if (Status == IRQ_STATUS_SUCCESS) {
            CHECK(!Defect && (Mask.Bits[0] & ~OnlineMask) == 0 && Mask.Bits[0] != 0 && RefIoIsDeviceVector(Got));
            for (uint32_t Each = 0; Each < CpuCount; Each++) {
                if ((Mask.Bits[0] >> Each) & 1u) {
                    CHECK(!RefIoAllocated(&Model, Each, Got));
                    AddDirect(Each, Got);
                }
            }
        } else {
            CHECK(Got == 0);
        }
        break;
    }
    case 2:
        Status = KeReserveVector(Cpu, Vector);
        if (Status == IRQ_STATUS_SUCCESS) {
            CHECK(Cpu < CpuCount && RefIoIsDeviceVector(Vector) && !RefIoAllocated(&Model, Cpu, Vector));
            AddDirect(Cpu, Vector);
        } else if (Cpu >= CpuCount) {
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
        } else if (!RefIoIsDeviceVector(Vector)) {
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_VECTOR);
        } else {
            CHECK(RefIoAllocated(&Model, Cpu, Vector));
            CHECK_STATUS(Status, IRQ_STATUS_SHARING_VIOLATION);
        }
        break;
    default:
        /* Free: one of ours that no object uses, or one nobody holds, or nonsense. */
        if (Model.DirectCount > 0 && Bit(Reader)) {
            int Index = (int)(U8(Reader) % Model.DirectCount);
            Cpu = Model.Direct[Index].Cpu;
            Vector = Model.Direct[Index].Vector;
            if (RefIoCovers(&Model, Cpu, Vector)) {
                /* Objects are connected on it: their last disconnect frees it. */
                Status = KeFreeVector(Cpu, Vector);
                CHECK_STATUS(Status, IRQ_STATUS_ACCESS_DENIED);
                CheckRefused(Status, Allowed, COUNT_OF(Allowed));
                CheckAll();
                return;
            }
            CHECK_STATUS(KeFreeVector(Cpu, Vector), IRQ_STATUS_SUCCESS);
            RefIoRemoveDirect(&Model, Index);
            CheckAll();
            return;
        }
        if (Cpu < CpuCount && RefIoIsDeviceVector(Vector) && RefIoFindDirect(&Model, Cpu, Vector) >= 0)
            return;
        Status = KeFreeVector(Cpu, Vector);
        if (Cpu < CpuCount && RefIoIsDeviceVector(Vector) && RefIoCovers(&Model, Cpu, Vector))
            CHECK_STATUS(Status, IRQ_STATUS_ACCESS_DENIED);
        else if (Cpu >= CpuCount)
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
        else if (!RefIoIsDeviceVector(Vector))
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_VECTOR);
        else
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_STATE);
        break;
    }
    if (Status != IRQ_STATUS_SUCCESS)
        CheckRefused(Status, Allowed, COUNT_OF(Allowed));
    CheckAll();
}

/* ---- Operations: IPIs, synchronisation, queries ------------------------------------------------------ */

static void OpIpi(READER *Reader)
{
    CurrentOp = "IPI";
    uint8_t Kind = U8(Reader) % 6;
    uint8_t CpuByte = U8(Reader);
    uint32_t Cpu = CpuByte % 10;
    IR_CPU_SET Set = SetOfMask(MaskFromByte(U8(Reader)));
    KE_IPI_MESSAGE Message = (KE_IPI_MESSAGE)(U8(Reader) % (KeIpiMessageCount + 2));
    bool Generic = Bit(Reader);
    KE_IPI_TARGET Target = {.Kind = Kind < 4 ? (KE_IPI_TARGET_KIND)Kind : (KE_IPI_TARGET_KIND)9, .Cpu = Cpu,
                            .Cpus = &Set};
    bool NullTarget = Kind == 5;
    uint64_t Targets = 0;
    bool Defect = NullTarget || Kind == 4;
    switch (Target.Kind) {
    case KeIpiTargetCpu:
        Targets = Cpu < 64 ? 1ull << Cpu : 0;
        Defect |= !RefIoIsOnline(&Model, Cpu);
        break;
    case KeIpiTargetSet:
        Targets = Set.Bits[0];
        Defect |= Targets == 0 || (Targets & ~OnlineMask) != 0;
        break;
    case KeIpiTargetAll:
        Targets = OnlineMask;
        break;
    case KeIpiTargetAllButSelf:
        Targets = OnlineMask & ~(1ull << HOME_CPU);
        break;
    default:
        break;
    }
    uint64_t Before[MAX_CPUS][KeIpiMessageCount];
    memcpy(Before, IpiHandled, sizeof(Before));
    TakeEntrySnapshot();
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_CPU,
                                         IRQ_STATUS_EMPTY_AFFINITY};
    if (Generic) {
        /* Only the caller's own CPU can answer without service threads:
         * remote targets are tried only when the call must refuse them. */
        if (!Defect && (Targets & ~(1ull << HOME_CPU)) != 0)
            return;
        uint64_t Runs = WorkerRuns[HOME_CPU];
        IRQ_STATUS Status = KeIpiGenericCall(NullTarget ? NULL : &Target, Worker, NULL);
        if (Defect) {
            CHECK(Status != IRQ_STATUS_SUCCESS);
            CheckRefused(Status, Allowed, COUNT_OF(Allowed));
            CHECK(WorkerRuns[HOME_CPU] == Runs);
        } else {
            CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
            CHECK(WorkerRuns[HOME_CPU] == Runs + ((Targets >> HOME_CPU) & 1u));
        }
        ServiceAll();
        CheckAll();
        return;
    }
    IRQ_STATUS Status = KeSendIpi(NullTarget ? NULL : &Target, Message);
    /* KeIpiCallFunction is KeIpiGenericCall's own: refused on its own. */
    if (Message == KeIpiCallFunction && !Defect)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    if (Defect || (unsigned)Message >= KeIpiMessageCount || Message == KeIpiCallFunction) {
        CHECK(Status != IRQ_STATUS_SUCCESS);
        CheckRefused(Status, Allowed, COUNT_OF(Allowed));
        ServiceAll();
        CHECK(memcmp(Before, IpiHandled, sizeof(Before)) == 0);
    } else {
        CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
        ServiceAll();
        for (uint32_t Each = 0; Each < CpuCount; Each++) {
            for (uint32_t Type = 0; Type < KeIpiMessageCount; Type++) {
                uint64_t Want = Before[Each][Type] + (Type == (uint32_t)Message && ((Targets >> Each) & 1u));
                if (IpiHandled[Each][Type] != Want)
                    Fail("CPU %u message %u handled %llu times, expected %llu", Each, Type,
                         (unsigned long long)IpiHandled[Each][Type], (unsigned long long)Want);
                if (Type != KeIpiCallFunction)
                    CHECK(KeQueryIpiCount(Each, (KE_IPI_MESSAGE)Type) == IpiHandled[Each][Type]);
            }
        }
    }
    CheckAll();
}

typedef struct _SYNC_CONTEXT {
    KIRQL Expected;
    bool Ran;
} SYNC_CONTEXT;

static bool SyncRoutine(void *Context)
{
    SYNC_CONTEXT *Sync = Context;
    CHECK(KeGetCurrentIrql() == Sync->Expected);
    Sync->Ran = true;
    return true;
}

static void OpSynchronize(READER *Reader)
{
    CurrentOp = "KeSynchronizeExecution";
    uint8_t Choice = U8(Reader) % 5;
    REF_IO_OBJECT *Object = PickLive(Reader);
    SYNC_CONTEXT Sync = {.Expected = Object != NULL ? Object->SynchronizeIrql : 0};
    if (Choice < 3 && Object != NULL) {
        CHECK(KeSynchronizeExecution(Object->Object, SyncRoutine, &Sync));
        CHECK(Sync.Ran);
    } else if (Choice == 3) {
        CHECK(!KeSynchronizeExecution((KINTERRUPT *)(void *)NeverConnected, SyncRoutine, &Sync));
        CHECK(!KeSynchronizeExecution(NULL, SyncRoutine, &Sync));
        CHECK(!Sync.Ran);
    } else if (Object != NULL) {
        CHECK(!KeSynchronizeExecution(Object->Object, NULL, &Sync));
    }
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
    ServiceAll();
    CheckAll();
}

/* Queries change nothing and answer consistently with the model. */
static void OpQuery(READER *Reader)
{
    CurrentOp = "queries";
    TakeEntrySnapshot();
    uint32_t Cpu = U8(Reader) % 10;
    uint8_t Vector = U8(Reader);
    KE_VECTOR_USAGE Usage;
    IRQ_STATUS Status = KeQueryVectorUsage(Cpu, &Usage);
    CHECK(Status == (Cpu < CpuCount ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_CPU));
    CHECK_STATUS(KeQueryVectorUsage(0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    KE_VECTOR_STATISTICS Statistics;
    CHECK(KeQueryVectorStatistics(Cpu, Vector, &Statistics) ==
          (Cpu < CpuCount ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_CPU));
    CHECK(KeIsVectorAllocated(Cpu, Vector) == (Cpu < CpuCount && RefIoAllocated(&Model, Cpu, Vector)));
    KIRQL Irql = KeIrqlOfVector(Vector);
    CHECK(RefIoIsDeviceVector(Vector) ? Irql == (Vector >> 4) : true);

    HL_INTERRUPT_TARGET Target = {.Kind = (HL_TARGET_KIND)(U8(Reader) % 5), .Cpu = U8(Reader) % 10,
                                  .ApicId = U8(Reader)};
    IR_CPU_SET Set = SetOfMask(MaskFromByte(U8(Reader)));
    Target.CpuSet = Bit(Reader) ? &Set : NULL;
    HL_DESTINATION Destination;
    Status = HlResolveTarget(&Target, &Destination);
    uint32_t TargetApicId = 0;
    bool TargetRegistered = RefIoApicIdOf(&Model, Target.Cpu, &TargetApicId);
    if (Status == IRQ_STATUS_SUCCESS && Target.Kind == HlTargetCpu) {
        CHECK(TargetRegistered);
        CHECK(!Destination.Logical && Destination.Destination == TargetApicId);
    } else if (Target.Kind == HlTargetCpu && TargetRegistered) {
        Fail("HlResolveTarget refused registered CPU %u: %s", Target.Cpu, IrStatusName(Status));
    }
    HL_MSI_MESSAGE Message = {.Address = 1, .Data = 2};
    Status = HlMsiComposeMessage(&Target, Vector, (HL_TRIGGER_MODE)(U8(Reader) % 3), &Message);
    if (Status == IRQ_STATUS_SUCCESS)
        CHECK((Message.Data & 0xFF) == Vector && (Message.Address & 0xFFF00000u) == 0xFEE00000u);
    else
        CHECK(Message.Address == 1 && Message.Data == 2);
    uint32_t Gsi = U8(Reader) % (GsiCount + 8), Index, Pin;
    CHECK(HlIoApicLookupGsi(Gsi, &Index, &Pin) == (Gsi < GsiCount ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_GSI));
    IOAPIC_REDIRECTION_ENTRY Entry;
    if (HlIoApicReadEntry(Gsi, &Entry) == IRQ_STATUS_SUCCESS) {
        IOAPIC_REDIRECTION_ENTRY Peeked = {.Value = SimIoApicPeekEntry(Gsi)};
        CHECK(Entry.Bits.Vector == Peeked.Bits.Vector && Entry.Bits.Mask == Peeked.Bits.Mask &&
              Entry.Bits.Destination == Peeked.Bits.Destination);
    }
    const REF_IO_OBJECT *Object = PickLive(Reader);
    if (Object != NULL) {
        Status = IoQueryInterruptLine(Object->Object, &Gsi);
        if (Object->Kind == RefIoLine) {
            CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
            CHECK(Gsi == Object->Gsi);
        } else if (Object->Kind == RefIoKe) {
            CHECK_STATUS(Status, IO_QUERY_KE_OBJECT_STATUS);
        } else {
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
        }
        Status = IoQueryInterruptTarget(Object->Object, NULL, NULL);
        CHECK_STATUS(Status, Object->Movable           ? IRQ_STATUS_SUCCESS
                             : Object->Kind == RefIoKe ? IO_ROUTE_KE_OBJECT_STATUS
                                                       : IRQ_STATUS_NOT_SUPPORTED);
        for (uint32_t Each = 0; Each < CpuCount; Each++)
            if (!((Object->EverCpus >> Each) & 1u))
                CHECK(KeQueryInterruptCount(Object->Object, Each) == 0);
    }
    CHECK(IoQueryInterruptLine(NULL, &Gsi) == IRQ_STATUS_INVALID_PARAMETER);
    CHECK(IoQueryInterruptLine((KINTERRUPT *)(void *)NeverConnected, &Gsi) == IRQ_STATUS_NOT_CONNECTED);
    CheckEntriesUnchanged();
    CheckAll();
}

/* ---- Operations: Ke-level objects ------------------------------------------------------------------ */

/* The statuses a call returned, as a set (bit n: status n). */
#define RULE(Status) (1u << (Status))

/* Status is one of the rules the input broke, or SUCCESS when it broke none. */
static void CheckRules(IRQ_STATUS Status, uint32_t Rules, const char *Call)
{
    if (Rules == 0 && Status != IRQ_STATUS_SUCCESS)
        Fail("%s refused a valid request: %s", Call, IrStatusName(Status));
    if (Rules != 0 && (Status == IRQ_STATUS_SUCCESS || !((Rules >> Status) & 1u)))
        Fail("%s returned %s, the rules broken allow %#x", Call, IrStatusName(Status), Rules);
}

static uint32_t CpuRules(uint64_t Cpus)
{
    if (Cpus == 0)
        return RULE(IRQ_STATUS_EMPTY_AFFINITY);
    return (Cpus & ~OnlineMask) != 0 ? RULE(IRQ_STATUS_INVALID_CPU) : 0;
}

static void OpKeInitialize(READER *Reader, KE_SLOT *Slot, uint8_t *Storage)
{
    CurrentOp = "KeInitializeInterrupt";
    uint8_t VectorByte = U8(Reader);
    uint8_t Vector = VectorByte < 0xE0 ? (uint8_t)(0x30 + VectorByte % 0xA0) : U8(Reader);
    KIRQL Class = KeIrqlOfVector(Vector);
    uint8_t IrqlByte = U8(Reader);
    KIRQL Irql = IrqlByte < 0xE0 ? Class : (KIRQL)(IrqlByte % 18);
    uint8_t SyncByte = U8(Reader);
    KIRQL SynchronizeIrql = SyncByte < 0xF0 ? (KIRQL)(Irql + SyncByte % 4) : (KIRQL)(SyncByte % 18);
    uint8_t ModeByte = U8(Reader) % 9;
    KINTERRUPT_MODE Mode = ModeByte < 8 ? (KINTERRUPT_MODE)(ModeByte & 1u) : (KINTERRUPT_MODE)5;
    uint8_t PolarityByte = U8(Reader) % 7;
    KINTERRUPT_POLARITY Polarity = PolarityByte < 6 ? (KINTERRUPT_POLARITY)(PolarityByte % 3) : (KINTERRUPT_POLARITY)9;
    bool Share = Bit(Reader);
    IR_CPU_SET Cpus = SetOfMask(MaskFromByte(U8(Reader)));
    uint8_t Flags = U8(Reader);
    uint8_t Defect = U8(Reader) & 0x0F;
    uint8_t Where = U8(Reader) % 8;

    /* The storage: the slot's own, or a connected object's (Io's, or the
     * slot's while connected: ALREADY_CONNECTED). Io's is as large as its
     * object on its own CPUs, so the request names those CPUs. */
    REF_IO_OBJECT *IoObject = Where == 7 ? PickIoObject(Reader) : NULL;
    size_t StorageSize = KE_SLOT_BYTES;
    bool HoldsConnected = Slot->Object != NULL;
    if (IoObject != NULL) {
        Storage = (uint8_t *)(void *)IoObject->Object;
        Cpus = SetOfMask(IoObject->Cpus);
        StorageSize = KeQueryInterruptObjectSize((uint32_t)__builtin_popcountll(IoObject->Cpus));
        HoldsConnected = true;
    }
    size_t Needed = KeQueryInterruptObjectSize((uint32_t)__builtin_popcountll(Cpus.Bits[0]));
    bool NullStorage = Defect == 1, NullParameters = Defect == 2, NullOut = Defect == 3, NullRoutine = Defect == 4,
         NullCpus = Defect == 5, Misaligned = Defect == 6, Small = Defect == 7;
    if (Small)
        StorageSize = Needed - 1;
    uint8_t *Passed = NullStorage ? NULL : Misaligned ? Storage + 8 : Storage;
    if (Misaligned)
        StorageSize -= 8;

    uint32_t Rules = 0;
    if (NullStorage || NullParameters || NullOut || NullRoutine || NullCpus || Misaligned || ModeByte == 8 ||
        PolarityByte == 6)
        Rules |= RULE(IRQ_STATUS_INVALID_PARAMETER);
    if (!RefIoIsDeviceVector(Vector))
        Rules |= RULE(IRQ_STATUS_INVALID_VECTOR);
    if (Irql != Class || SynchronizeIrql < Irql || SynchronizeIrql > HIGH_LEVEL)
        Rules |= RULE(IRQ_STATUS_INVALID_IRQL);
    if (!NullCpus)
        Rules |= CpuRules(Cpus.Bits[0]);
    if (!NullCpus && StorageSize < Needed)
        Rules |= RULE(IRQ_STATUS_BUFFER_TOO_SMALL);
    if (HoldsConnected && !Misaligned)
        Rules |= RULE(IRQ_STATUS_ALREADY_CONNECTED);

    KE_INTERRUPT_PARAMETERS Parameters = {
        .ServiceRoutine = NullRoutine ? NULL : KeIsr,
        .ServiceContext = Slot,
        .Vector = Vector,
        .Irql = Irql,
        .SynchronizeIrql = SynchronizeIrql,
        .Mode = Mode,
        .Polarity = Polarity,
        .ShareVector = Share,
        .Cpus = NullCpus ? NULL : &Cpus,
    };
    KINTERRUPT *Sentinel = (KINTERRUPT *)(uintptr_t)0x5EED, *Interrupt = Sentinel;
    size_t Watched = IoObject != NULL ? StorageSize : KE_SLOT_BYTES;
    memcpy(StorageBefore, Storage, Watched);
    TakeEntrySnapshot();
    IRQ_STATUS Status = KeInitializeInterrupt(Passed, StorageSize, NullParameters ? NULL : &Parameters,
                                              NullOut ? NULL : &Interrupt);
    CheckRules(Status, Rules, "KeInitializeInterrupt");
    if (Status != IRQ_STATUS_SUCCESS) {
        CHECK(Interrupt == Sentinel);
        if (memcmp(StorageBefore, Storage, Watched) != 0)
            Fail("a refused KeInitializeInterrupt wrote its storage");
        CheckEntriesUnchanged();
        CheckAll();
        return;
    }
    CHECK(Interrupt == (KINTERRUPT *)(void *)Storage && IoObject == NULL);
    CHECK(KeQueryInterruptOwner(Interrupt) == KeInterruptOwnerNone && !KeIsInterruptConnected(Interrupt));
    CHECK(KeGetInterruptVector(Interrupt) == Vector && KeGetInterruptMode(Interrupt) == Mode);
    IR_CPU_SET Got;
    KeGetInterruptCpus(Interrupt, &Got);
    CHECK(MaskOfSet(&Got) == Cpus.Bits[0]);
    *Slot = (KE_SLOT){.Built = true, .Vector = Vector, .SynchronizeIrql = SynchronizeIrql, .Mode = Mode,
                      .Share = Share, .Claim = Flags & 1u, .Cpus = Cpus.Bits[0]};
    CheckAll();
}

static void OpKeConnect(READER *Reader, KE_SLOT *Slot, uint8_t *Storage)
{
    CurrentOp = "KeConnectInterrupt";
    uint8_t How = U8(Reader) % 6;
    KINTERRUPT *Interrupt = (KINTERRUPT *)(void *)Storage;
    TakeEntrySnapshot();
    if (How >= 3) {
        /* A bad owner, an object Io connected, NULL, storage never built. */
        REF_IO_OBJECT *IoObject = How == 4 ? PickIoObject(Reader) : NULL;
        IRQ_STATUS Status, Want;
        if (How == 3) {
            static const KE_INTERRUPT_OWNER BadOwners[] = {KeInterruptOwnerNone, (KE_INTERRUPT_OWNER)3,
                                                           (KE_INTERRUPT_OWNER)0x7F};
            memcpy(StorageBefore, Storage, KE_SLOT_BYTES);
            Status = KeConnectInterruptAs(Interrupt, BadOwners[U8(Reader) % 3]);
            Want = IRQ_STATUS_INVALID_PARAMETER;
            CHECK(memcmp(StorageBefore, Storage, KE_SLOT_BYTES) == 0);
        } else if (IoObject != NULL) {
            Status = KeConnectInterrupt(IoObject->Object);
            Want = IRQ_STATUS_ALREADY_CONNECTED;
        } else {
            Status = KeConnectInterrupt(Bit(Reader) ? NULL : (KINTERRUPT *)(void *)NeverConnected);
            Want = IRQ_STATUS_INVALID_PARAMETER;
        }
        CHECK_STATUS(Status, Want);
        CheckEntriesUnchanged();
        CheckAll();
        return;
    }
    uint32_t Rules = 0;
    if (!Slot->Built)
        Rules |= RULE(IRQ_STATUS_INVALID_PARAMETER);
    else if (Slot->Object != NULL)
        Rules |= RULE(IRQ_STATUS_ALREADY_CONNECTED);
    else {
        /* Joining a vector that objects hold on a CPU: both share, one mode. */
        for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
            const REF_IO_OBJECT *Other = &Model.Objects[Index];
            if (!Other->Connected || !RefIoLinkedOnAny(Other, Slot->Cpus, Slot->Vector))
                continue;
            if (!Slot->Share || !Other->Shared)
                Rules |= RULE(IRQ_STATUS_SHARING_VIOLATION);
            else if (Other->Mode != Slot->Mode)
                Rules |= RULE(IRQ_STATUS_TRIGGER_MISMATCH);
        }
    }
    REF_IO_OBJECT *Object = NULL;
    if (Slot->Built && Slot->Object == NULL) {
        Object = RefIoTakeSlot(&Model);
        if (Object == NULL)
            return;
        Object->Claim = Slot->Claim;
        Slot->Object = Object;
    }
    memcpy(StorageBefore, Storage, KE_SLOT_BYTES);
    IRQ_STATUS Status = KeConnectInterrupt(Interrupt);
    CheckRules(Status, Rules, "KeConnectInterrupt");
    if (Status != IRQ_STATUS_SUCCESS) {
        if (Object != NULL) {
            Object->Live = false;
            Slot->Object = NULL;
        }
        if (memcmp(StorageBefore, Storage, KE_SLOT_BYTES) != 0)
            Fail("a refused KeConnectInterrupt changed the object");
        CheckEntriesUnchanged();
        CheckAll();
        return;
    }
    Object->Shared = Slot->Share;
    RecordConnected(Object, Interrupt, RefIoKe, Slot->SynchronizeIrql);
    CHECK(KeQueryInterruptOwner(Interrupt) == KeInterruptOwnerKe);
    CHECK(Object->Vector == Slot->Vector && Object->Cpus == Slot->Cpus && Object->Mode == Slot->Mode);
    CHECK(!Object->Movable);
    CheckAll();
}

static void OpKeDisconnect(READER *Reader, KE_SLOT *Slot, uint8_t *Storage)
{
    CurrentOp = "KeDisconnectInterrupt";
    uint8_t How = U8(Reader) % 7;
    KINTERRUPT *Interrupt = (KINTERRUPT *)(void *)Storage;
    if (How < 3 && Slot->Object != NULL) {
        TakeEntrySnapshot();
        DisconnectKeObject(Slot->Object);
        CheckAll();
        return;
    }
    IRQ_STATUS Status, Want;
    uint8_t Freed = 0x5A;
    bool *FreedOut = Bit(Reader) ? (bool *)(void *)&Freed : NULL;
    memcpy(StorageBefore, Storage, KE_SLOT_BYTES);
    TakeEntrySnapshot();
    if (How < 3) {
        /* Built and disconnected (a stale object), or never built. */
        Status = KeDisconnectInterrupt(Interrupt, FreedOut);
        Want = IRQ_STATUS_NOT_CONNECTED;
    } else if (How == 3) {
        Status = KeDisconnectInterruptAs(Interrupt, KeInterruptOwnerIo, FreedOut);
        Want = Slot->Object != NULL ? IRQ_STATUS_ACCESS_DENIED : IRQ_STATUS_NOT_CONNECTED;
    } else if (How == 4) {
        static const KE_INTERRUPT_OWNER BadOwners[] = {KeInterruptOwnerNone, (KE_INTERRUPT_OWNER)3,
                                                       (KE_INTERRUPT_OWNER)0x7F};
        Status = KeDisconnectInterruptAs(Interrupt, BadOwners[U8(Reader) % 3], FreedOut);
        Want = IRQ_STATUS_INVALID_PARAMETER;
    } else if (How == 5) {
        REF_IO_OBJECT *IoObject = PickIoObject(Reader);
        if (IoObject == NULL)
            return;
        Status = KeDisconnectInterrupt(IoObject->Object, FreedOut);
        Want = IRQ_STATUS_ACCESS_DENIED;
    } else {
        bool Null = Bit(Reader);
        Status = KeDisconnectInterrupt(Null ? NULL : (KINTERRUPT *)(void *)NeverConnected, FreedOut);
        Want = Null ? IRQ_STATUS_INVALID_PARAMETER : IRQ_STATUS_NOT_CONNECTED;
    }
    CHECK_STATUS(Status, Want);
    CHECK(Freed == 0x5A);
    if (memcmp(StorageBefore, Storage, KE_SLOT_BYTES) != 0)
        Fail("a refused KeDisconnectInterrupt changed the object");
    CheckEntriesUnchanged();
    ServiceAll();
    CheckAll();
}

static void OpKeObject(READER *Reader)
{
    uint8_t Choice = U8(Reader) % 6;
    uint32_t Index = U8(Reader) % KE_SLOTS;
    if (Choice < 2)
        OpKeInitialize(Reader, &KeSlots[Index], KeStorage[Index]);
    else if (Choice < 4)
        OpKeConnect(Reader, &KeSlots[Index], KeStorage[Index]);
    else
        OpKeDisconnect(Reader, &KeSlots[Index], KeStorage[Index]);
}

/* ---- Operations: system vectors -------------------------------------------------------------------- */

/* Sends Vector to the home CPU and checks that the handler the model says ran. */
static void FireSystemVector(uint8_t Vector)
{
    KE_VECTOR_STATISTICS Before, After;
    CHECK_STATUS(KeQueryVectorStatistics(HOME_CPU, Vector, &Before), IRQ_STATUS_SUCCESS);
    uint64_t Calls = SystemCalls[HOME_CPU][Vector];
    SimMsiWrite(0xFEE00000ull | (uint64_t)(SimCpuApicId(HOME_CPU) & 0xFF) << 12, Vector);
    ServiceAll();
    CHECK_STATUS(KeQueryVectorStatistics(HOME_CPU, Vector, &After), IRQ_STATUS_SUCCESS);
    bool Handled = Model.SystemHandler[Vector];
    if (SystemCalls[HOME_CPU][Vector] != Calls + Handled)
        Fail("system vector %#x: handler ran %llu times, the model says %d", Vector,
             (unsigned long long)(SystemCalls[HOME_CPU][Vector] - Calls), Handled);
    CHECK(After.Dispatched == Before.Dispatched + 1);
    CHECK(After.Unclaimed == Before.Unclaimed + !Handled);
}

/* Ke's IPI vector still works: a message to the home CPU arrives once. */
static void CheckIpiDelivery(KE_IPI_MESSAGE Message)
{
    uint64_t Before = IpiHandled[HOME_CPU][Message];
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = HOME_CPU};
    CHECK_STATUS(KeSendIpi(&Target, Message), IRQ_STATUS_SUCCESS);
    ServiceAll();
    if (IpiHandled[HOME_CPU][Message] != Before + 1)
        Fail("IPI message %d to the home CPU handled %llu times, expected once", (int)Message,
             (unsigned long long)(IpiHandled[HOME_CPU][Message] - Before));
}

static void OpSystemVector(READER *Reader)
{
    CurrentOp = "KeSetSystemVectorHandler";
    const KE_VECTOR_LAYOUT *Layout = &KeAmd64VectorLayout;
    uint8_t Pick = U8(Reader) % 8;
    uint8_t Byte = U8(Reader);
    uint8_t Vector;
    switch (Pick) {
    case 0:
        Vector = Layout->IpiVector;
        break;
    case 1:
        Vector = Layout->SpuriousVector;
        break;
    case 2:
    case 3:
        Vector = Layout->ReservedVectors[Byte % Layout->ReservedVectorCount];
        break;
    case 4:
        Vector = (uint8_t)(0x30 + Byte % 0xA0);
        break;
    case 5:
        Vector = Byte % 0x20;
        break;
    default:
        Vector = Byte;
        break;
    }
    bool Remove = (U8(Reader) & 3u) == 0;
    IRQ_STATUS Want = IRQ_STATUS_SUCCESS;
    if (Vector < 0x20 || Vector == Layout->SpuriousVector || RefIoIsDeviceVector(Vector))
        Want = IRQ_STATUS_INVALID_VECTOR;
    else if (Vector == Layout->IpiVector)
        Want = IRQ_STATUS_ACCESS_DENIED;
    TakeEntrySnapshot();
    IRQ_STATUS Status =
        KeSetSystemVectorHandler(Vector, Remove ? NULL : SystemHandler, Remove ? NULL : &Model.SystemHandler[Vector]);
    CHECK_STATUS(Status, Want);
    if (Status == IRQ_STATUS_SUCCESS)
        Model.SystemHandler[Vector] = !Remove;
    else
        CheckEntriesUnchanged();
    if (Vector == Layout->IpiVector)
        CheckIpiDelivery(KeIpiUser0);
    else if (Vector >= 0x20 && Vector != 0xFF && Vector != Layout->SpuriousVector && !RefIoIsDeviceVector(Vector))
        FireSystemVector(Vector);
    CheckAll();
}

/* ---- Operations: the processor registry, the local APIC mode, overrides --------------------------- */

static void OpLateSelectMode(READER *Reader)
{
    CurrentOp = "late HlLapicSelectMode";
    uint8_t ModeByte = U8(Reader) % 3;
    static const uintptr_t Bases[] = {HL_LAPIC_DEFAULT_BASE, 0, HL_LAPIC_DEFAULT_BASE + 0x10, 0xFED00000u};
    uintptr_t Base = Bases[U8(Reader) % 4];
    HL_LAPIC_MODE Mode = ModeByte < 2 ? (HL_LAPIC_MODE)ModeByte : (HL_LAPIC_MODE)7;
    bool Bad = ModeByte == 2 || (Mode == HlLapicModeXApic && (Base == 0 || Base % 0x1000 != 0));
    TakeEntrySnapshot();
    IRQ_STATUS Status = HlLapicSelectMode(Mode, Base);
    /* CPUs registered and enabled their local APICs at boot: too late. */
    CheckRules(Status, RULE(IRQ_STATUS_INVALID_STATE) | (Bad ? RULE(IRQ_STATUS_INVALID_PARAMETER) : 0),
               "HlLapicSelectMode");
    CheckEntriesUnchanged();
    CheckAll();
    CheckIpiDelivery(KeIpiUser1);
}

static void OpRegistry(READER *Reader)
{
    CurrentOp = "HlRegisterProcessor";
    uint8_t Choice = U8(Reader) % 8;
    if (Choice == 7) {
        OpLateSelectMode(Reader);
        return;
    }
    uint8_t CpuByte = U8(Reader);
    uint32_t Cpu = CpuByte < 0xF0 ? CpuByte % REF_IO_PROBED_CPUS
                   : CpuByte == 0xFF ? 0xFFFFFFFFu
                                     : IR_MAX_CPUS - 1u + (CpuByte & 3u);
    uint8_t IdByte = U8(Reader);
    uint32_t ApicId;
    if (Choice < 2 && Model.ProcessorCount > 0)
        ApicId = Model.Processors[IdByte % Model.ProcessorCount].ApicId; /* taken (or the same pair) */
    else if (Choice < 4)
        ApicId = IdByte;
    else if (Choice < 6)
        ApicId = 0xF0u + IdByte % 0x20u; /* around the xAPIC broadcast id */
    else
        ApicId = U32(Reader);
    if (Choice == 0 && Model.ProcessorCount > 0)
        Cpu = Model.Processors[IdByte % Model.ProcessorCount].Cpu; /* the same pair again */

    uint32_t RegisteredId = 0;
    bool Registered = Cpu < IR_MAX_CPUS && RefIoApicIdOf(&Model, Cpu, &RegisteredId);
    uint32_t Holder = RefIoCpuOfApicId(&Model, ApicId);
    uint32_t Rules = 0;
    bool New = false;
    if (Cpu >= IR_MAX_CPUS)
        Rules = RULE(IRQ_STATUS_INVALID_CPU);
    else if (Registered)
        Rules = RegisteredId == ApicId ? 0 : RULE(IRQ_STATUS_INVALID_CPU);
    else if (Holder != IR_CPU_NONE || ApicId == 0xFFFFFFFFu || (Model.LapicMode == HlLapicModeXApic && ApicId >= 0xFF))
        Rules = RULE(IRQ_STATUS_INVALID_CPU);
    else
        New = true;
    if (New && Model.ProcessorCount >= REF_IO_MAX_REGISTERED)
        return; /* the model could not follow it */
    TakeEntrySnapshot();
    IRQ_STATUS Status = HlRegisterProcessor(Cpu, ApicId);
    if (Trace)
        fprintf(stderr, "  HlRegisterProcessor(%u, %#x) mode %d: %s (rules %#x)\n", Cpu, ApicId, (int)Model.LapicMode,
                IrStatusName(Status), Rules);
    CheckRules(Status, Rules, "HlRegisterProcessor");
    if (New)
        RefIoRecordProcessor(&Model, Cpu, ApicId);
    CheckEntriesUnchanged();
    CheckAll();
}

static void OpOverride(READER *Reader)
{
    CurrentOp = "HlPicRegisterOverride";
    uint8_t IrqByte = U8(Reader);
    uint8_t IsaIrq = IrqByte < 0xF0 ? IrqByte % 16u : IrqByte;
    uint8_t GsiByte = U8(Reader);
    uint32_t Gsi = GsiByte < 0xC0   ? GsiByte % GsiCount
                   : GsiByte < 0xF0 ? GsiCount + GsiByte % 24u /* past every I/O APIC */
                                    : 0xFFFFFFF0u | (GsiByte & 0xFu);
    uint16_t Flags = U8(Reader);
    if (Bit(Reader))
        Flags |= (uint16_t)(U8(Reader) << 8);
    uint32_t Rules = 0;
    if (IsaIrq > 15 || Gsi >= GsiCount)
        Rules |= RULE(IRQ_STATUS_INVALID_GSI);
    if ((Flags & 3u) == 2u || ((Flags >> 2) & 3u) == 2u)
        Rules |= RULE(IRQ_STATUS_INVALID_PARAMETER);
    TakeEntrySnapshot();
    IRQ_STATUS Status = HlPicRegisterOverride(IsaIrq, Gsi, Flags);
    CheckRules(Status, Rules, "HlPicRegisterOverride");
    if (Status == IRQ_STATUS_SUCCESS) {
        Model.Isa[IsaIrq] = RefIoOverrideLine(Gsi, Flags);
        /* An override changes how lines resolve, never an entry. */
        for (uint32_t Each = 0; Each < GsiCount; Each++)
            CHECK(SimIoApicPeekEntry(Each) == Snapshot.Entries[Each]);
    } else {
        CheckEntriesUnchanged();
    }
    CheckAll();
}

/* ---- Operations: devices ----------------------------------------------------------------------------- */

static const IRQ_STATUS DeviceStatuses[] = {
    IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_GSI,         IRQ_STATUS_INVALID_VECTOR,
    IRQ_STATUS_INVALID_CPU,       IRQ_STATUS_EMPTY_AFFINITY,      IRQ_STATUS_INVALID_IRQL,
    IRQ_STATUS_SHARING_VIOLATION, IRQ_STATUS_TRIGGER_MISMATCH,    IRQ_STATUS_VECTOR_EXHAUSTED,
    IRQ_STATUS_NOT_SUPPORTED,     IRQ_STATUS_INSUFFICIENT_RESOURCES, IRQ_STATUS_NOT_CONNECTED,
};

static void OpDeviceConnect(READER *Reader, DEVICE *Device)
{
    CurrentOp = "IoConnectDevice";
    IO_DEVICE_TEMPLATE Template = {.Name = "fuzz"};
    uint8_t KindByte = U8(Reader) % 5;
    Template.Kind = KindByte < 4 ? (IO_DEVICE_INTERRUPT_KIND)(KindByte & 1u) : (IO_DEVICE_INTERRUPT_KIND)3;
    uint8_t BusByte = U8(Reader) % 3;
    Template.Bus = (HL_LINE_BUS)BusByte;
    uint8_t CountByte = U8(Reader) % 10;
    Template.Count = CountByte == 9 ? 9u + U8(Reader) : CountByte;
    for (uint32_t Index = 0; Index < IO_DEVICE_MAX_INTERRUPTS && Index < Template.Count; Index++)
        Template.Lines[Index] = Template.Bus == HlBusIsa ? U8(Reader) % 17u : U8(Reader) % (GsiCount + 2);
    static const HL_LINE_OPTION Triggers[] = {HlLineDefault, HlLineEdge, HlLineLevel};
    static const HL_LINE_OPTION Polarities[] = {HlLineDefault, HlLineActiveHigh, HlLineActiveLow};
    Template.Trigger = Triggers[U8(Reader) % 3];
    Template.Polarity = Polarities[U8(Reader) % 3];
    uint8_t IrqlByte = U8(Reader);
    Template.Irql = IrqlByte < 0x80 ? 0 : (KIRQL)(3 + IrqlByte % 10);
    Template.Share = Bit(Reader);
    uint8_t RoutingByte = U8(Reader) % 7;
    Template.Routing = (IO_DEVICE_ROUTING)RoutingByte;
    Template.Cpu = U8(Reader) % 10;
    Device->Mask = SetOfMask(MaskFromByte(U8(Reader)));
    uint8_t Flags = U8(Reader);
    bool NullMask = (Flags & 0x06) == 0x06, NullRoutine = (Flags & 0x18) == 0x18,
         NullTemplate = (Flags & 0x60) == 0x60, NoUpdate = (Flags & 0x80) && (Flags & 0x02);
    Template.Mask = NullMask ? NULL : &Device->Mask;
    Template.UpdateMessage = NoUpdate ? NULL : DeviceMsiUpdate;
    bool Claim = Flags & 1u;

    bool Structural = NullRoutine || NullTemplate || KindByte == 4 || Template.Count == 0 ||
                      Template.Count > IO_DEVICE_MAX_INTERRUPTS || RoutingByte == 6 ||
                      (RoutingByte != IoDeviceFixed && NullMask);
    bool Movable = false;
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    if (RoutingByte < 6)
        CHECK_STATUS(IoQueryDeviceRouting(Template.Routing, !NullMask, &Policy, &Movable), IRQ_STATUS_SUCCESS);
    memset(&Device->Connection, 0xA5, sizeof(Device->Connection));
    TakeEntrySnapshot();
    DeviceConnecting = true;
    UpdatedCount = 0;
    IRQ_STATUS Status = IoConnectDevice(NullTemplate ? NULL : &Template, NullRoutine ? NULL : DeviceIsr, Device,
                                        &Device->Connection);
    DeviceConnecting = false;
    if (Trace)
        fprintf(stderr, "  device kind %d bus %d count %u lines %u %u %u trigger %d share %d routing %d cpu %u mask %#llx: %s\n",
                (int)Template.Kind, (int)Template.Bus, Template.Count, Template.Lines[0], Template.Lines[1],
                Template.Lines[2], (int)Template.Trigger, Template.Share, RoutingByte, Template.Cpu,
                (unsigned long long)Device->Mask.Bits[0], IrStatusName(Status));
    if (Structural)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    if (Template.Kind == IoDeviceMessages && Movable && NoUpdate && !Structural)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    if (Status != IRQ_STATUS_SUCCESS) {
        RequireDocumented(Status, DeviceStatuses, COUNT_OF(DeviceStatuses));
        /* All or nothing: whatever was connected is disconnected again. */
        if (!Structural)
            CHECK(Device->Connection.Count == 0);
        CheckEntriesUnchanged();
        /* A latched level line unmasked before the rollback may have been
         * sent: it is serviced (unclaimed) before the checks. */
        ServiceAll();
        CheckAll();
        return;
    }
    CHECK(!Structural && Device->Connection.Count == Template.Count);
    Device->Connected = true;
    for (uint32_t Index = 0; Index < Template.Count; Index++) {
        KINTERRUPT *Interrupt = Device->Connection.Interrupts[Index];
        REF_IO_OBJECT *Object = RefIoTakeSlot(&Model);
        if (Object == NULL) {
            /* The model is full: the device cannot be followed. */
            for (uint32_t Each = 0; Each < Index; Each++)
                Device->Objects[Each]->Device = 0, ForgetObject(Device->Objects[Each]);
            CHECK_STATUS(IoDisconnectDevice(&Device->Connection), IRQ_STATUS_SUCCESS);
            Device->Connected = false;
            memset(Device->Objects, 0, sizeof(Device->Objects));
            return;
        }
        Device->Objects[Index] = Object;
        Object->Claim = Claim;
        Object->Device = (uint8_t)(1 + (Device - Devices));
        bool Joined = false;
        if (Template.Kind == IoDeviceLines) {
            HL_INTERRUPT_LINE Line = {.Bus = Template.Bus, .Number = Template.Lines[Index],
                                      .Trigger = Template.Trigger, .Polarity = Template.Polarity};
            HL_RESOLVED_LINE Resolved;
            CHECK_STATUS(HlPicResolveLine(&Line, &Resolved), IRQ_STATUS_SUCCESS);
            const REF_IO_OBJECT *Existing = RefIoLineUser(&Model, Resolved.Gsi);
            Object->Gsi = Resolved.Gsi;
            Object->Level = Resolved.Trigger == HlTriggerLevel;
            Object->Shared = Template.Share;
            RecordConnected(Object, Interrupt, RefIoLine, 0);
            if (Existing != NULL) {
                Joined = true;
                CHECK(Template.Share && Existing->Shared && Object->Vector == Existing->Vector);
                Object->Broadcast = Existing->Broadcast;
                Object->Movable = Existing->Movable;
            }
        } else {
            Object->Message = Device->Connection.Messages[Index];
            for (uint32_t Update = 0; Update < UpdatedCount; Update++) {
                if (UpdatedInterrupt[Update] != Interrupt)
                    continue;
#if FUZZ_IO_DEVICE_MESSAGES_CURRENT
                if (Object->Message.Address != UpdatedMessage[Update].Address ||
                    Object->Message.Data != UpdatedMessage[Update].Data)
                    Fail("device message %u: Connection.Messages holds %#llx/%#x, the update routine was last "
                         "given %#llx/%#x",
                         Index, (unsigned long long)Object->Message.Address, Object->Message.Data,
                         (unsigned long long)UpdatedMessage[Update].Address, UpdatedMessage[Update].Data);
#endif
                Object->Message = UpdatedMessage[Update];
            }
            RecordConnected(Object, Interrupt, RefIoMessage, 0);
            CHECK((Object->Message.Data & 0xFFu) == Object->Vector);
        }
        if (!Joined) {
            Object->Broadcast = Template.Routing == IoDeviceBroadcast;
            if (Object->Movable != Movable)
                Fail("device interrupt %u movable %d, routing %d says %d", Index, Object->Movable, RoutingByte, Movable);
            if (Movable) {
                IR_ROUTING_POLICY Now;
                CHECK_STATUS(IoQueryInterruptTarget(Interrupt, NULL, &Now), IRQ_STATUS_SUCCESS);
                CHECK(Now == Policy);
            }
            if (Object->Broadcast)
                CHECK(Object->Cpus == Device->Mask.Bits[0]);
        }
    }
    /* A latched level line, now unmasked, is delivered: serviced first. */
    ServiceAll();
    CheckAll();
}

static void OpDeviceRoute(READER *Reader, DEVICE *Device)
{
    CurrentOp = "IoRouteDevice";
    uint8_t RoutingByte = U8(Reader) % 7;
    uint32_t Cpu = U8(Reader) % 10;
    IO_DEVICE_ROUTING Routing = (IO_DEVICE_ROUTING)RoutingByte;
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_NOT_CONNECTED,
                                         IRQ_STATUS_NOT_SUPPORTED,     IRQ_STATUS_INVALID_CPU,
                                         IRQ_STATUS_INVALID_STATE,     IRQ_STATUS_VECTOR_EXHAUSTED};
    TakeEntrySnapshot();
    if (!Device->Connected) {
        IO_DEVICE_CONNECTION Empty = {.Count = 0};
        bool Null = Bit(Reader);
        IRQ_STATUS Status = IoRouteDevice(Null ? NULL : &Empty, Routing, Cpu);
        CHECK_STATUS(Status, Null || RoutingByte == 6 ? IRQ_STATUS_INVALID_PARAMETER : IRQ_STATUS_NOT_CONNECTED);
        CheckEntriesUnchanged();
        return;
    }
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    bool Movable = false;
    if (RoutingByte < 6)
        CHECK_STATUS(IoQueryDeviceRouting(Routing, true, &Policy, &Movable), IRQ_STATUS_SUCCESS);
    uint32_t Count = Device->Connection.Count;
    /* The first interrupt the routing cannot apply to, and why. */
    uint32_t Failing = Count;
    IRQ_STATUS Want = IRQ_STATUS_SUCCESS;
    if (RoutingByte == 6) {
        Failing = 0, Want = IRQ_STATUS_INVALID_PARAMETER;
    } else if (!Movable) {
        Failing = 0, Want = IRQ_STATUS_NOT_SUPPORTED;
    } else {
        for (uint32_t Index = 0; Index < Count && Failing == Count; Index++) {
            const REF_IO_OBJECT *Object = Device->Objects[Index];
            if (!Object->Movable)
                Failing = Index, Want = IRQ_STATUS_NOT_SUPPORTED;
            else if (Routing == IoDeviceFixed && !(Cpu < CpuCount && ((Object->Affinity >> Cpu) & 1u)))
                Failing = Index, Want = IRQ_STATUS_INVALID_CPU;
        }
    }
    /* What the moves may answer once every interrupt passed the checks:
     * INVALID_STATE for an interrupt that would need a new link while old
     * ones still retire, VECTOR_EXHAUSTED for one that would need a link
     * or a vector (the earlier interrupts' moves may take the vectors free
     * now, so only the need is judged). */
    MOVE_NEEDS Need = {0};
    for (uint32_t Index = 0; Want == IRQ_STATUS_SUCCESS && Index < Count; Index++) {
        const REF_IO_OBJECT *Object = Device->Objects[Index];
        MOVE_NEEDS One = PolicyNeeds(Object, Policy);
        if (Routing == IoDeviceFixed) {
            One = TargetNeeds(Object, Cpu);
            /* Gathered back from a spread first: its vector stays. */
            if (Object->Spread && !(Object->Kind == RefIoLine && Object->Shared) && Cpu != Object->Target)
                One = (MOVE_NEEDS){0};
        }
        Need.MayBeBusy |= RefIoRetiringLinks(Object) != 0;
        Need.MayBeExhausted |= One.NewLink || One.NewVector || RefIoRetiringLinks(Object) != 0;
    }
    IRQ_STATUS Status = IoRouteDevice(&Device->Connection, Routing, Cpu);
    if (Want == IRQ_STATUS_SUCCESS && Status != IRQ_STATUS_SUCCESS)
        CheckMoveRefusal(Status, Need, "IoRouteDevice");
    else
        CHECK_STATUS(Status, Want);
    if (Status != IRQ_STATUS_SUCCESS)
        RequireDocumented(Status, Allowed, COUNT_OF(Allowed));
    /* Interrupts before the failing one have the new routing; from it on
     * nothing changed (io.h). Sharers of a line move together, so only the
     * device's own objects are compared. */
    if (IO_ROUTE_DEVICE_ALL_OR_NOTHING && Status != IRQ_STATUS_SUCCESS)
        Failing = 0;
    /* Moves happened (all of them, or some rolled back): the model takes
     * them, with the checks every route change gets. */
    if (Want == IRQ_STATUS_SUCCESS)
        for (uint32_t Index = 0; Index < Count; Index++)
            AdoptRoute(Device->Objects[Index], false);
    for (uint32_t Index = 0; Index < Count; Index++) {
        const REF_IO_OBJECT *Object = Device->Objects[Index];
        uint32_t Slot = (uint32_t)(Object - Model.Objects);
        uint32_t Now = IR_CPU_NONE;
        IR_ROUTING_POLICY NowPolicy = IrRoutingFixedCpu;
        IRQ_STATUS Query = IoQueryInterruptTarget(Object->Object, &Now, &NowPolicy);
        if (Index < Failing) {
            CHECK_STATUS(Query, IRQ_STATUS_SUCCESS);
            if (NowPolicy != Policy || (Routing == IoDeviceFixed && Now != Cpu))
                Fail("device interrupt %u: policy %d CPU %u after IoRouteDevice(%d, %u)", Index, (int)NowPolicy, Now,
                     RoutingByte, Cpu);
        } else {
            bool SharesEarlier = false;
            for (uint32_t Earlier = 0; Earlier < Index; Earlier++)
                SharesEarlier |= Object->Kind == RefIoLine && Device->Objects[Earlier]->Kind == RefIoLine &&
                                 Device->Objects[Earlier]->Gsi == Object->Gsi;
            if (SharesEarlier)
                continue;
            CHECK(Query == Snapshot.TargetStatus[Slot]);
            if (Query == IRQ_STATUS_SUCCESS && (Now != Snapshot.TargetCpu[Slot] || NowPolicy != Snapshot.Policy[Slot]))
                Fail("device interrupt %u (from the failing one on) changed: policy %d CPU %u, was %d %u", Index,
                     (int)NowPolicy, Now, (int)Snapshot.Policy[Slot], Snapshot.TargetCpu[Slot]);
        }
    }
    ServiceAll();
    CheckAll();
}

static void OpDevice(READER *Reader)
{
    uint8_t Choice = U8(Reader) % 6;
    DEVICE *Device = &Devices[U8(Reader) % MAX_DEVICES];
    if (Choice < 2) {
        if (!Device->Connected)
            OpDeviceConnect(Reader, Device);
        return;
    }
    if (Choice == 2) {
        CurrentOp = "IoDisconnectDevice";
        if (Device->Connected) {
            TakeEntrySnapshot();
            DisconnectDevice(Device);
        } else {
            IO_DEVICE_CONNECTION Bad = {.Count = Bit(Reader) ? 0u : IO_DEVICE_MAX_INTERRUPTS + 1u};
            bool Null = Bit(Reader);
            TakeEntrySnapshot();
            IRQ_STATUS Status = IoDisconnectDevice(Null ? NULL : &Bad);
            CHECK_STATUS(Status, Null || Bad.Count != 0 ? IRQ_STATUS_INVALID_PARAMETER : IRQ_STATUS_NOT_CONNECTED);
            CheckEntriesUnchanged();
        }
        CheckAll();
        return;
    }
    if (Choice < 5) {
        OpDeviceRoute(Reader, Device);
        return;
    }
    CurrentOp = "IoQueryDeviceRouting";
    uint8_t RoutingByte = U8(Reader) % 8;
    bool HasMask = Bit(Reader), WithPolicy = Bit(Reader), WithMovable = Bit(Reader);
    IR_ROUTING_POLICY Policy = (IR_ROUTING_POLICY)0x55;
    bool Movable = true;
    IRQ_STATUS Status = IoQueryDeviceRouting((IO_DEVICE_ROUTING)RoutingByte, HasMask, WithPolicy ? &Policy : NULL,
                                             WithMovable ? &Movable : NULL);
    static const IR_ROUTING_POLICY Policies[IoDeviceRoutingCount] = {
        [IoDeviceFixed] = IrRoutingFixedCpu,       [IoDeviceRoundRobin] = IrRoutingRoundRobin,
        [IoDeviceLowest] = IrRoutingLowestPriority, [IoDeviceBroadcast] = IrRoutingBroadcast,
        [IoDeviceAffinity] = IrRoutingAffinity,     [IoDeviceSpread] = IrRoutingFixedCpu,
    };
    if (RoutingByte >= IoDeviceRoutingCount) {
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
        CHECK(Policy == (IR_ROUTING_POLICY)0x55 && Movable);
        return;
    }
    CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
    if (WithPolicy)
        CHECK(Policy == Policies[RoutingByte]);
    if (WithMovable)
        CHECK(Movable == (RoutingByte == IoDeviceRoundRobin || RoutingByte == IoDeviceLowest ||
                          (RoutingByte == IoDeviceFixed && HasMask)));
}

/* ---- Operations: stale handles ------------------------------------------------------------------------- */

/* Io's calls on an object that is no longer connected: a Ke object whose
 * storage the fuzzer keeps (built, disconnected), or one Io connected and
 * freed (Io finds its objects in its records, never through the pointer). */
static void OpStale(READER *Reader)
{
    CurrentOp = "stale handles";
    uint8_t Choice = U8(Reader) % 4;
    KINTERRUPT *Target = NULL;
    if (Choice < 2) {
        KE_SLOT *Slot = &KeSlots[U8(Reader) % KE_SLOTS];
        if (!Slot->Built || Slot->Object != NULL)
            return;
        Target = (KINTERRUPT *)(void *)KeStorage[Slot - KeSlots];
    } else {
#if FUZZ_IO_STALE_IO_HANDLES
        if (DeadCount == 0)
            return;
        uint32_t Index = U8(Reader) % DeadCount;
        Target = Dead[Index];
        if (Target == NULL || IsLivePointer(Target))
            return;
        uintptr_t Address = (uintptr_t)Target, Base = (uintptr_t)KeStorage;
        if (Address >= Base && Address < Base + sizeof(KeStorage))
            return; /* a Ke slot: covered above, and it may be built again */
#else
        return;
#endif
    }
    TakeEntrySnapshot();
    uint32_t Gsi = 0x5EED, Cpu = 0x5EED;
    CHECK_STATUS(IoSetInterruptTarget(Target, U8(Reader) % 10), IRQ_STATUS_NOT_CONNECTED);
    CHECK_STATUS(IoSetInterruptPolicy(Target, IrRoutingRoundRobin), IRQ_STATUS_NOT_CONNECTED);
    IR_CPU_SET Affinity;
    CHECK_STATUS(IoQueryInterruptAffinity(Target, &Affinity), IRQ_STATUS_NOT_CONNECTED);
    CHECK_STATUS(IoSetInterruptRateLimit(Target, 1), IRQ_STATUS_NOT_CONNECTED);
    CHECK_STATUS(IoQueryInterruptTarget(Target, &Cpu, NULL), IRQ_STATUS_NOT_CONNECTED);
    CHECK_STATUS(IoQueryInterruptLine(Target, &Gsi), IRQ_STATUS_NOT_CONNECTED);
    CHECK_STATUS(IoDisconnectInterrupt(Target), IRQ_STATUS_NOT_CONNECTED);
    CHECK(Gsi == 0x5EED && Cpu == 0x5EED);
    if (Choice < 2) {
        CHECK(!KeIsInterruptConnected(Target));
        CHECK_STATUS(KeDisconnectInterrupt(Target, NULL), IRQ_STATUS_NOT_CONNECTED);
    }
    CheckEntriesUnchanged();
    CheckAll();
}

/* ---- Operations: Ke shut down ------------------------------------------------------------------------ */

/* An ISR context no call made while Ke is down may ever use: its ISR would
 * find it not live and fail. */
static REF_IO_OBJECT NeverLive;

/* One call that needs Ke, made while Ke is down (KeShutdownSystem: as
 * before KeInitializeSystem). Every one answers NOT_INITIALIZED (io.h,
 * ke.h) but Io's calls on a handle, which answer as for any handle Io does
 * not hold (NOT_CONNECTED); none writes its outputs. */
static void CallWithKeDown(READER *Reader)
{
    KINTERRUPT *Interrupt = CONNECT_SENTINEL;
    TARGET_REQUEST Request;
    IR_CPU_SET Mask = SetOfMask(MaskFromByte(U8(Reader)));
    uint8_t Vector = (uint8_t)(0x30 + U8(Reader) % 0xA0);
    uint32_t Cpu = 0x5EED;
    uint8_t Choice = U8(Reader) % 9;
    switch (Choice) {
    case 0: {
        CurrentOp = "Ke down: IoConnectInterruptEx (line)";
        ReadTarget(Reader, &Request);
        uint8_t LineByte = U8(Reader);
        IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
            .Version = CONNECT_LINE_BASED,
            .LineBased = {.InterruptObject = &Interrupt, .ServiceRoutine = FuzzIsr, .ServiceContext = &NeverLive,
                          .Line = {.Bus = (LineByte & 0x80) ? HlBusGsi : HlBusIsa, .Number = LineByte % 48u},
                          .Irql = KE_IRQL_ANY, .ShareVector = Bit(Reader), .Target = Request.Target},
        };
        CHECK_STATUS(IoConnectInterruptEx(&Parameters), IRQ_STATUS_NOT_INITIALIZED);
        break;
    }
    case 1: {
        CurrentOp = "Ke down: IoConnectInterruptEx (message)";
        ReadTarget(Reader, &Request);
        HL_MSI_MESSAGE Message = {.Address = 0x5EED, .Data = 0x5EED};
        IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
            .Version = CONNECT_MESSAGE_BASED,
            .MessageBased = {.InterruptObject = &Interrupt, .ServiceRoutine = FuzzIsr, .ServiceContext = &NeverLive,
                             .Irql = KE_IRQL_ANY, .Target = Request.Target, .Message = &Message,
                             .UpdateMessage = Bit(Reader) ? MsiUpdate : NULL, .UpdateContext = &NeverLive},
        };
        CHECK_STATUS(IoConnectInterruptEx(&Parameters), IRQ_STATUS_NOT_INITIALIZED);
        CHECK(Message.Address == 0x5EED && Message.Data == 0x5EED);
        break;
    }
    case 2: {
        CurrentOp = "Ke down: IoConnectInterrupt";
        KIRQL Irql = KeIrqlOfVector(Vector);
        CHECK_STATUS(IoConnectInterrupt(&Interrupt, FuzzIsr, &NeverLive, NULL, Vector, Irql, Irql,
                                        Bit(Reader) ? LevelSensitive : Latched, Bit(Reader), &Mask, false),
                     IRQ_STATUS_NOT_INITIALIZED);
        break;
    }
    case 3: {
        CurrentOp = "Ke down: IoConnectDevice";
        /* A template IopCheckTemplate accepts: the first connect refuses. */
        uint8_t Shape = U8(Reader);
        IO_DEVICE_TEMPLATE Template = {.Kind = (Shape & 1) ? IoDeviceMessages : IoDeviceLines, .Bus = HlBusIsa,
                                       .Count = 1u + (Shape >> 1) % 3u, .Routing = IoDeviceFixed, .Cpu = HOME_CPU};
        for (uint32_t Index = 0; Index < Template.Count; Index++)
            Template.Lines[Index] = 3u + Index;
        IO_DEVICE_CONNECTION Connection;
        memset(&Connection, 0x5E, sizeof(Connection));
        CHECK_STATUS(IoConnectDevice(&Template, FuzzIsr, &NeverLive, &Connection), IRQ_STATUS_NOT_INITIALIZED);
        CHECK(Connection.Count == 0);
        break;
    }
    case 4: {
        CurrentOp = "Ke down: KeInitializeInterrupt, KeConnectInterrupt";
        KE_SLOT *Slot = &KeSlots[U8(Reader) % KE_SLOTS];
        uint8_t *Storage = KeStorage[Slot - KeSlots];
        memcpy(StorageBefore, Storage, KE_SLOT_BYTES);
        KE_INTERRUPT_PARAMETERS Parameters = {.ServiceRoutine = FuzzIsr, .ServiceContext = &NeverLive,
                                              .Vector = Vector, .Irql = KeIrqlOfVector(Vector),
                                              .SynchronizeIrql = KeIrqlOfVector(Vector), .Mode = Latched,
                                              .Cpus = &Mask};
        CHECK_STATUS(KeInitializeInterrupt(Storage, KE_SLOT_BYTES, &Parameters, &Interrupt),
                     IRQ_STATUS_NOT_INITIALIZED);
        if (Slot->Built) {
            CHECK_STATUS(KeConnectInterrupt((KINTERRUPT *)(void *)Storage), IRQ_STATUS_NOT_INITIALIZED);
            CHECK_STATUS(KeDisconnectInterrupt((KINTERRUPT *)(void *)Storage, NULL), IRQ_STATUS_NOT_INITIALIZED);
        }
        CHECK(memcmp(StorageBefore, Storage, KE_SLOT_BYTES) == 0);
        break;
    }
    case 5:
        CurrentOp = "Ke down: vectors";
        CHECK_STATUS(KeAllocateVector(&Mask, KE_IRQL_ANY, &Cpu, &Vector), IRQ_STATUS_NOT_INITIALIZED);
        CHECK_STATUS(KeReserveVector(U8(Reader) % 10u, Vector), IRQ_STATUS_NOT_INITIALIZED);
        CHECK_STATUS(KeFreeVector(U8(Reader) % 10u, Vector), IRQ_STATUS_NOT_INITIALIZED);
        CHECK(Cpu == 0x5EED);
        break;
    case 6: {
        CurrentOp = "Ke down: system vectors and IPIs";
        uint8_t SystemVector = U8(Reader);
        CHECK_STATUS(KeSetSystemVectorHandler(SystemVector, SystemHandler, &Model.SystemHandler[SystemVector]),
                     IRQ_STATUS_NOT_INITIALIZED);
        KE_IPI_TARGET Target = {.Kind = KeIpiTargetSet, .Cpus = &Mask};
        CHECK_STATUS(KeSendIpi(&Target, KeIpiReschedule), IRQ_STATUS_NOT_INITIALIZED);
        CHECK_STATUS(KeIpiGenericCall(&Target, Worker, NULL), IRQ_STATUS_NOT_INITIALIZED);
        break;
    }
    case 7: {
        CurrentOp = "Ke down: handles";
        KINTERRUPT *Target = DeadCount > 0 && Bit(Reader) ? Dead[U8(Reader) % DeadCount]
                                                          : (KINTERRUPT *)(void *)NeverConnected;
        uint32_t Gsi = 0x5EED;
        CHECK_STATUS(IoDisconnectInterrupt(Target), IRQ_STATUS_NOT_CONNECTED);
        CHECK_STATUS(IoSetInterruptTarget(Target, U8(Reader) % 10u), IRQ_STATUS_NOT_CONNECTED);
        CHECK_STATUS(IoQueryInterruptTarget(Target, &Cpu, NULL), IRQ_STATUS_NOT_CONNECTED);
        CHECK_STATUS(IoQueryInterruptLine(Target, &Gsi), IRQ_STATUS_NOT_CONNECTED);
        CHECK(KeQueryInterruptOwner(Target) == KeInterruptOwnerNone);
        CHECK_STATUS(KeDisconnectInterrupt(Target, NULL), IRQ_STATUS_NOT_INITIALIZED);
        CHECK(Gsi == 0x5EED && Cpu == 0x5EED);
        break;
    }
    default:
        CurrentOp = "Ke down: KeShutdownSystem, KeInitializeProcessor";
        CHECK_STATUS(KeShutdownSystem(), IRQ_STATUS_NOT_INITIALIZED);
        CHECK_STATUS(KeInitializeProcessor(U8(Reader) % 10u), IRQ_STATUS_NOT_INITIALIZED);
        CHECK(KeQueryProcessorCount() == 0 && !KeIsProcessorOnline(HOME_CPU));
        break;
    }
    CHECK(Interrupt == CONNECT_SENTINEL);
    CheckEntriesUnchanged();
    Require(RefIoCheckRegistry(&Model));
    Require(RefIoCheckIsaLines(&Model));
}

/* Ke brought up again as SimBootSystem does (platform/sim/simboot.c): the
 * same layout and CPUs, Io told to forget, the IPI handlers set again. */
static void RestartKe(void)
{
    CurrentOp = "Ke down: KeInitializeSystem again";
    CHECK_STATUS(KeInitializeSystem(CpuCount, &KeAmd64VectorLayout), IRQ_STATUS_SUCCESS);
    IoResetInterruptManager();
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        if (RefIoIsOnline(&Model, Cpu))
            CHECK_STATUS(KeInitializeProcessor(Cpu), IRQ_STATUS_SUCCESS);
    for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++)
        if (Message != KeIpiCallFunction)
            CHECK_STATUS(KeSetIpiMessageHandler((KE_IPI_MESSAGE)Message, IpiHandler, NULL), IRQ_STATUS_SUCCESS);
    /* The new per-CPU blocks count IPIs from zero (KeQueryIpiCount), which
     * the handler's counts must match. */
    memset(IpiHandled, 0, sizeof(IpiHandled));
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++)
            if (Message != KeIpiCallFunction)
                CHECK(KeQueryIpiCount(Cpu, (KE_IPI_MESSAGE)Message) == 0);
}

/* KeShutdownSystem: refused while anything is connected (nothing changes);
 * otherwise Ke goes, with the vectors taken directly and the system vector
 * handlers, a few calls are made that need it, and it comes back. */
static void OpKeDown(READER *Reader)
{
    CurrentOp = "KeShutdownSystem";
    TakeEntrySnapshot();
    IRQ_STATUS Status = KeShutdownSystem();
    if (RefIoConnectedCount(&Model) > 0) {
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_STATE);
        CHECK(KeQueryProcessorCount() == CpuCount);
        CheckEntriesUnchanged();
        CheckAll();
        return;
    }
    CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
    CHECK(KeQueryProcessorCount() == 0);
    while (Model.DirectCount > 0)
        RefIoRemoveDirect(&Model, 0);
    memset(Model.SystemHandler, 0, sizeof(Model.SystemHandler));
    TakeEntrySnapshot();
    uint32_t Calls = 1u + U8(Reader) % 4u;
    for (uint32_t Call = 0; Call < Calls; Call++)
        CallWithKeDown(Reader);
    RestartKe();
    CheckAll();
}

/* ---- One input --------------------------------------------------------------------------------------- */

static bool Boot(READER *Reader)
{
    uint8_t Shape = U8(Reader);
    CpuCount = 1u + (Shape & 7u);
    uint32_t Online = (Shape & 0x08) ? 1u + U8(Reader) % CpuCount : CpuCount;
    Remap = (Shape & 0x40) != 0;
    X2Apic = (Shape & 0x10) != 0 || Remap;
    bool TwoIoApics = (Shape & 0x20) != 0;
    SIM_SYSTEM_CONFIG Config = {.CpuCount = CpuCount, .X2Apic = X2Apic, .StartThreads = false, .OnlineCount = Online,
                                .ApicIds = Remap ? RemapApicIds : NULL, .InterruptRemapping = Remap};
    if (TwoIoApics) {
        Config.IoApicCount = 2;
        Config.IoApics[0] = (SIM_IOAPIC_CONFIG){.Id = 0, .Address = 0xFEC00000u, .GsiBase = 0, .PinCount = 24};
        Config.IoApics[1] = (SIM_IOAPIC_CONFIG){.Id = 1, .Address = 0xFEC01000u, .GsiBase = 24, .PinCount = 16};
    }
    GsiCount = TwoIoApics ? 40 : 24;
    OnlineMask = (1ull << Online) - 1u;
    CHECK_STATUS(SimBootSystem(&Config), IRQ_STATUS_SUCCESS);
    SimAttachCpu(HOME_CPU);
    for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++) {
        if (Message != KeIpiCallFunction)
            CHECK_STATUS(KeSetIpiMessageHandler((KE_IPI_MESSAGE)Message, IpiHandler, NULL), IRQ_STATUS_SUCCESS);
    }
    CHECK_STATUS(KeSetIpiMessageHandler(KeIpiCallFunction, IpiHandler, NULL), IRQ_STATUS_INVALID_PARAMETER);
    KE_VECTOR_USAGE Usage;
    CHECK_STATUS(KeQueryVectorUsage(HOME_CPU, &Usage), IRQ_STATUS_SUCCESS);
    DeviceVectorCount = Usage.Allocated + Usage.Available;
    uint32_t Expected = 0;
    for (uint32_t Vector = 0; Vector < 256; Vector++)
        Expected += RefIoIsDeviceVector(Vector);
    CHECK(DeviceVectorCount == Expected && Usage.Allocated == 0);
    RefIoReset(&Model, CpuCount, OnlineMask, GsiCount, DeviceVectorCount);
    RefIoLoadHardware(&Model);
    if (Remap) {
        CHECK_STATUS(HlRemapAssignRequester(REMAP_UNIT, REQUESTER_ASSIGNED), IRQ_STATUS_SUCCESS);
        Model.Remapping = true;
        Model.Requesters[Model.RequesterCount++] = REQUESTER_ASSIGNED;
    }
    CHECK(KeQueryInterruptObjectSize(MAX_CPUS) <= KE_SLOT_BYTES);
    return true;
}

static void ResetModel(void)
{
    RefIoReset(&Model, 0, 0, 0, 0);
    memset(Asserted, 0, sizeof(Asserted));
    memset(IpiHandled, 0, sizeof(IpiHandled));
    memset(WorkerRuns, 0, sizeof(WorkerRuns));
    memset(SystemCalls, 0, sizeof(SystemCalls));
    memset(KeStorage, 0, sizeof(KeStorage));
    memset(KeSlots, 0, sizeof(KeSlots));
    memset(Devices, 0, sizeof(Devices));
    DeviceConnecting = false;
    DeadCount = 0;
    memset(Triggered, 0, sizeof(Triggered));
}

static void TearDown(void)
{
    CurrentOp = "teardown";
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        if (Model.Objects[Index].Connected)
            DisconnectObject(&Model.Objects[Index]);
    }
    for (uint32_t Vector = 0; Vector < 256; Vector++) {
        if (Model.SystemHandler[Vector]) {
            CHECK_STATUS(KeSetSystemVectorHandler((uint8_t)Vector, NULL, NULL), IRQ_STATUS_SUCCESS);
            Model.SystemHandler[Vector] = false;
        }
    }
    while (Model.DirectCount > 0) {
        CHECK_STATUS(KeFreeVector(Model.Direct[0].Cpu, Model.Direct[0].Vector), IRQ_STATUS_SUCCESS);
        RefIoRemoveDirect(&Model, 0);
    }
    for (uint32_t Gsi = 0; Gsi < GsiCount; Gsi++) {
        if (Asserted[Gsi]) {
            Asserted[Gsi] = false;
            SimSetGsi(Gsi, false);
        }
    }
    ServiceAll();
    CheckAll();
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        KE_VECTOR_USAGE Usage;
        CHECK_STATUS(KeQueryVectorUsage(Cpu, &Usage), IRQ_STATUS_SUCCESS);
        CHECK(Usage.Allocated == 0);
    }
    SimDetachCpu();
    SimShutdownSystem();
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    static bool TraceRead;
    if (!TraceRead) {
        TraceRead = true;
        Trace = getenv("FUZZ_IO_TRACE") != NULL;
    }
    READER Reader = {.Data = Data, .Size = Size};
    ResetModel();
    CurrentOp = "boot";
    if (!Boot(&Reader))
        return 0;
    CheckAll();
    for (uint32_t Step = 0; Step < 256 && More(&Reader); Step++) {
        uint8_t Op = U8(&Reader);
        /* Opcodes wrap at 22 (OP_COUNT in io_seeds.py); new operations take
         * the next numbers. */
        switch (Op % 22) {
        case 0:
        case 1:
            OpConnectLine(&Reader);
            break;
        case 2:
            OpConnectMessage(&Reader);
            break;
        case 3:
            OpConnectFully(&Reader);
            break;
        case 4:
            OpDisconnect(&Reader);
            break;
        case 5:
            OpPulse(&Reader);
            break;
        case 6:
            OpLevel(&Reader);
            break;
        case 7:
            OpMsi(&Reader);
            break;
        case 8:
            OpIrql(&Reader);
            break;
        case 9:
            OpMove(&Reader);
            break;
        case 10:
            OpVectors(&Reader);
            break;
        case 11:
            OpIpi(&Reader);
            break;
        case 12:
            OpSynchronize(&Reader);
            break;
        case 13:
            OpQuery(&Reader);
            break;
        case 14:
            OpKeObject(&Reader);
            break;
        case 15:
            OpSystemVector(&Reader);
            break;
        case 16:
            OpRegistry(&Reader);
            break;
        case 17:
            OpOverride(&Reader);
            break;
        case 18:
            OpDevice(&Reader);
            break;
        case 19:
            OpStale(&Reader);
            break;
        case 20:
            OpKeDown(&Reader);
            break;
        default:
            OpRouteExtras(&Reader);
            break;
        }
        /* Whatever ran outside the fire operations' accounting (a latched
         * level line unmasked by a connect) is settled here. */
        ServiceAll();
        CheckAll();
        SettleCounts();
        if (Trace)
            fprintf(stderr, "step %u op %u: %s, %u connected (next byte %zu)\n", Step, Op % 22u, CurrentOp,
                    RefIoConnectedCount(&Model), Reader.Position);
    }
    TearDown();
    return 0;
}
