/*
 * libFuzzer target (fuzz_io): bytes -> a sequence of Hl/Ke/Io calls on the sim, with
 * valid and invalid arguments, and after every call the invariants.
 *
 * Each input boots a fresh sim without service threads (deterministic): the
 * first bytes choose 1-8 CPUs, how many are online, xAPIC or x2APIC and one
 * or two I/O APICs. The fuzz thread is CPU 0 (attached, as kernel code
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

static uint32_t CpuCount;
static uint64_t OnlineMask;
static uint32_t GsiCount;
static bool X2Apic;
static uint32_t DeviceVectorCount;

static REF_IO_MODEL Model;
static KINTERRUPT *Dead[MAX_DEAD];
static uint32_t DeadCount;

static bool Asserted[MAX_GSIS];
static uint64_t EntrySnapshot[MAX_GSIS];
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

static void ServiceAll(void)
{
    for (int Pass = 0; Pass < 2; Pass++) {
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

static bool FuzzIsr(KINTERRUPT *Interrupt, void *Context)
{
    REF_IO_OBJECT *Object = Context;
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
    return Object->Claim;
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
    if (Object->Connected)
        CHECK(Interrupt == Object->Object);
    CHECK(Message->Data == Object->Message.Data || !Object->Connected);
    Object->Message = *Message;
}

/* ---- Invariants --------------------------------------------------------------------------- */

static void TakeEntrySnapshot(void)
{
    for (uint32_t Gsi = 0; Gsi < GsiCount; Gsi++)
        EntrySnapshot[Gsi] = SimIoApicPeekEntry(Gsi);
}

/* Masked entries deliver nothing whatever else they hold; others bit for bit. */
static void CheckEntriesUnchanged(void)
{
    for (uint32_t Gsi = 0; Gsi < GsiCount; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Old = {.Value = EntrySnapshot[Gsi]}, New = {.Value = SimIoApicPeekEntry(Gsi)};
        if (!(Old.Bits.Mask && New.Bits.Mask) && Old.Value != New.Value)
            Fail("GSI %u changed by a failing call: %#llx -> %#llx", Gsi, (unsigned long long)Old.Value,
                 (unsigned long long)New.Value);
    }
}

/* A check of the reference model (tests/support/io_model.h). */
static void Require(const char *Why)
{
    if (Why != NULL)
        Fail("%s", Why);
}

static void CheckVectors(void)
{
    Require(RefIoCheckVectors(&Model));
}

static void CheckAll(void)
{
    CheckVectors();
    Require(RefIoCheckEntries(&Model));
    Require(RefIoCheckObjects(&Model));
    Require(RefIoCheckQuiet(&Model));
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

/* ---- Object bookkeeping ---------------------------------------------------------------------- */

/* A connected object named by the next byte, or NULL when there is none. */
static REF_IO_OBJECT *PickLive(READER *Reader)
{
    uint32_t Live = RefIoConnectedCount(&Model);
    return Live == 0 ? NULL : RefIoConnected(&Model, U8(Reader) % Live);
}

static void RememberDead(KINTERRUPT *Object)
{
    if (DeadCount < MAX_DEAD)
        Dead[DeadCount++] = Object;
    else
        Dead[Object == NULL ? 0 : ((uintptr_t)Object >> 6) % MAX_DEAD] = Object;
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
    Object->Movable = IoQueryInterruptTarget(Interrupt, NULL, NULL) == IRQ_STATUS_SUCCESS;
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

    KINTERRUPT *Sentinel = (KINTERRUPT *)(uintptr_t)0x5EED;
    KINTERRUPT *Interrupt = Sentinel;
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
    if (Existing == NULL)
        Defect |= Target.Placement;
    TakeEntrySnapshot();
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    if (NullObject || NullRoutine)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    if (Status != IRQ_STATUS_SUCCESS) {
        Object->Live = false;
        CHECK(Interrupt == Sentinel);
        CheckRefused(Status, ConnectStatuses, COUNT_OF(ConnectStatuses));
        return;
    }
    if (Defect)
        Fail("a line connect that breaks a rule succeeded (bus %d number %u target kind %d irql %u sync %u)",
             (int)Line.Bus, Number, (int)Target.Target.Kind, Irql, SynchronizeIrql);
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
        Object->Broadcast = Existing->Broadcast;
        Object->Movable = Existing->Movable;
    } else {
        uint64_t Usable = Target.Mask.Bits[0] & OnlineMask;
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
            CHECK(Object->Movable && Object->Cpus == Usable);
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
    Defect |= NullObject || NullMessage || (NoUpdate && Target.Target.Kind == IoTargetRoutable);

    KINTERRUPT *Sentinel = (KINTERRUPT *)(uintptr_t)0x5EED;
    KINTERRUPT *Interrupt = Sentinel;
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
                         .UpdateContext = Object},
    };
    TakeEntrySnapshot();
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    if (NullObject || NullMessage)
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
    if (Status != IRQ_STATUS_SUCCESS) {
        Object->Live = false;
        CHECK(Interrupt == Sentinel);
        CHECK(Message.Address == 0xDEAD && Message.Data == 0xBEEF);
        CheckRefused(Status, ConnectStatuses, COUNT_OF(ConnectStatuses));
        return;
    }
    if (Defect)
        Fail("a message connect that breaks a rule succeeded (target kind %d irql %u sync %u)",
             (int)Target.Target.Kind, Irql, SynchronizeIrql);
    Object->Message = Message;
    RecordConnected(Object, Interrupt, RefIoMessage, SynchronizeIrql);
    CHECK(Object->Mode == Latched);
    CHECK((Message.Data & 0xFFu) == Object->Vector);
    CHECK((Message.Address & 0xFFF00000u) == 0xFEE00000u);
    if (Irql != KE_IRQL_ANY)
        CHECK(KeIrqlOfVector(Object->Vector) == Irql);
    Object->Broadcast = Target.Target.Kind == IoTargetBroadcast;
    if (Object->Broadcast)
        CHECK(Object->Cpus == Target.Mask.Bits[0]);
    if (Target.Target.Kind == IoTargetRoutable)
        CHECK(Object->Movable);
    else
        CHECK(!Object->Movable);
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
    KINTERRUPT *Sentinel = (KINTERRUPT *)(uintptr_t)0x5EED;
    KINTERRUPT *Interrupt = Sentinel;
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
    if (Status != IRQ_STATUS_SUCCESS) {
        Object->Live = false;
        CHECK(Interrupt == Sentinel);
        CheckRefused(Status, ConnectStatuses, COUNT_OF(ConnectStatuses));
        return;
    }
    if (Defect)
        Fail("a fully specified connect that breaks a rule succeeded (vector %#x irql %u sync %u mode %u mask %#x)",
             Vector, Irql, SynchronizeIrql, ModeByte, MaskByte);
    /* Joining a vector someone else holds needs both to share, same mode. */
    uint64_t Cpus = Mask.Bits[0] & OnlineMask;
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Other = &Model.Objects[Index];
        if (Other->Connected && Other->Vector == Vector && (Other->Cpus & Cpus) != 0) {
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
    uint64_t Cpus = Object->Cpus;
    uint8_t Vector = Object->Vector;
    RememberDead(Object->Object);
    Object->Connected = false;
    Object->Live = false;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (((Cpus >> Cpu) & 1u) && !RefIoCovers(&Model, Cpu, Vector)) {
            int Index = RefIoFindDirect(&Model, Cpu, Vector);
            if (Index >= 0)
                RefIoRemoveDirect(&Model, Index);
        }
    }
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
        CHECK_STATUS(IoDisconnectInterrupt(Object->Object), IRQ_STATUS_SUCCESS);
        ForgetObject(Object);
        CheckAll();
        return;
    }
    KINTERRUPT *Target;
    IRQ_STATUS Expected = IRQ_STATUS_NOT_CONNECTED;
    if (Choice == 5 && DeadCount > 0) {
        Target = Dead[U8(Reader) % DeadCount];
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
        uint32_t Cpu = IR_CPU_NONE;
        CHECK_STATUS(IoQueryInterruptTarget(Object->Object, &Cpu, NULL), IRQ_STATUS_SUCCESS);
        CHECK(Cpu < CpuCount && ((Object->Cpus >> Cpu) & 1u));
        return 1ull << Cpu;
    }
    CHECK(__builtin_popcountll(Object->Cpus) == 1 || Object->Kind == RefIoFully);
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
    if (Line != NULL)
        CheckReceivedExactly(&Received, Destinations(Line), Line->Vector);
    else
        CHECK(Received.Count == 0);
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
        SimMsiWrite(Object->Message.Address, Object->Message.Data);
        RECEIVED Received;
        CollectReceived(&Received);
        CheckReceivedExactly(&Received, Destinations(Object), Object->Vector);
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
                                         IRQ_STATUS_INVALID_CPU, IRQ_STATUS_NOT_CONNECTED};
    bool Movable = Choice < 4 && Object != NULL && Object->Movable;
    if (Choice < 2) {
        IRQ_STATUS Status = IoSetInterruptTarget(Target, Cpu);
        if (Movable && RefIoIsOnline(&Model, Cpu) && ((Object->Cpus >> Cpu) & 1u)) {
            CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
            uint32_t Now = IR_CPU_NONE;
            CHECK_STATUS(IoQueryInterruptTarget(Target, &Now, NULL), IRQ_STATUS_SUCCESS);
            CHECK(Now == Cpu);
        } else if (Status == IRQ_STATUS_SUCCESS) {
            Fail("IoSetInterruptTarget to CPU %u succeeded (movable %d)", Cpu, Movable);
        } else {
            if (Movable)
                CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
            else if (Object != NULL && Choice < 4)
                CHECK_STATUS(Status, IRQ_STATUS_NOT_SUPPORTED);
            CheckRefused(Status, Allowed, COUNT_OF(Allowed));
        }
    } else {
        uint32_t PolicyByte = U8(Reader) % (IrRoutingPolicyCount + 2);
        IRQ_STATUS Status = IoSetInterruptPolicy(Target, (IR_ROUTING_POLICY)PolicyByte);
        if (Movable && PolicyByte <= IrRoutingLowestPriority) {
            CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
            IR_ROUTING_POLICY Now;
            CHECK_STATUS(IoQueryInterruptTarget(Target, NULL, &Now), IRQ_STATUS_SUCCESS);
            CHECK(Now == (IR_ROUTING_POLICY)PolicyByte);
        } else if (Status == IRQ_STATUS_SUCCESS) {
            Fail("IoSetInterruptPolicy(%u) succeeded (movable %d)", PolicyByte, Movable);
        } else {
            CheckRefused(Status, Allowed, COUNT_OF(Allowed));
        }
    }
    ServiceAll();
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
                                         IRQ_STATUS_SHARING_VIOLATION, IRQ_STATUS_INVALID_STATE};
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
            if (RefIoCovers(&Model, Model.Direct[Index].Cpu, Model.Direct[Index].Vector))
                return; /* an object uses it: freeing it would be the caller's bug */
            Cpu = Model.Direct[Index].Cpu;
            Vector = Model.Direct[Index].Vector;
            CHECK_STATUS(KeFreeVector(Cpu, Vector), IRQ_STATUS_SUCCESS);
            RefIoRemoveDirect(&Model, Index);
            CheckAll();
            return;
        }
        if (Cpu < CpuCount && RefIoIsDeviceVector(Vector) && RefIoAllocated(&Model, Cpu, Vector))
            return;
        Status = KeFreeVector(Cpu, Vector);
        if (Cpu >= CpuCount)
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
    if (Status == IRQ_STATUS_SUCCESS && Target.Kind == HlTargetCpu) {
        CHECK(Target.Cpu < CpuCount);
        CHECK(!Destination.Logical && Destination.Destination == SimCpuApicId(Target.Cpu));
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
        } else {
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_PARAMETER);
        }
        Status = IoQueryInterruptTarget(Object->Object, NULL, NULL);
        CHECK(Status == (Object->Movable ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED));
        for (uint32_t Each = 0; Each < CpuCount; Each++)
            if (!((Object->Cpus >> Each) & 1u))
                CHECK(KeQueryInterruptCount(Object->Object, Each) == 0);
    }
    CHECK(IoQueryInterruptLine(NULL, &Gsi) == IRQ_STATUS_INVALID_PARAMETER);
    CHECK(IoQueryInterruptLine((KINTERRUPT *)(void *)NeverConnected, &Gsi) == IRQ_STATUS_NOT_CONNECTED);
    CheckEntriesUnchanged();
    CheckAll();
}

/* ---- One input --------------------------------------------------------------------------------------- */

static bool Boot(READER *Reader)
{
    uint8_t Shape = U8(Reader);
    CpuCount = 1u + (Shape & 7u);
    uint32_t Online = (Shape & 0x08) ? 1u + U8(Reader) % CpuCount : CpuCount;
    X2Apic = (Shape & 0x10) != 0;
    bool TwoIoApics = (Shape & 0x20) != 0;
    SIM_SYSTEM_CONFIG Config = {.CpuCount = CpuCount, .X2Apic = X2Apic, .StartThreads = false, .OnlineCount = Online};
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
    return true;
}

static void ResetModel(void)
{
    RefIoReset(&Model, 0, 0, 0, 0);
    memset(Asserted, 0, sizeof(Asserted));
    memset(IpiHandled, 0, sizeof(IpiHandled));
    memset(WorkerRuns, 0, sizeof(WorkerRuns));
    DeadCount = 0;
}

static void TearDown(void)
{
    CurrentOp = "teardown";
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        if (Model.Objects[Index].Connected) {
            CHECK_STATUS(IoDisconnectInterrupt(Model.Objects[Index].Object), IRQ_STATUS_SUCCESS);
            ForgetObject(&Model.Objects[Index]);
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
    READER Reader = {.Data = Data, .Size = Size};
    ResetModel();
    CurrentOp = "boot";
    if (!Boot(&Reader))
        return 0;
    CheckAll();
    for (uint32_t Step = 0; Step < 256 && More(&Reader); Step++) {
        uint8_t Op = U8(&Reader);
        switch (Op % 14) {
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
        default:
            OpQuery(&Reader);
            break;
        }
        /* Whatever ran outside the fire operations' accounting (a latched
         * level line unmasked by a connect) is settled here. */
        ServiceAll();
        CheckAll();
        SettleCounts();
    }
    TearDown();
    return 0;
}
