/*
 * libFuzzer target: bytes -> a sequence of Hl/Ke/Io calls on the sim, with
 * valid and invalid arguments, and after every call the invariants.
 *
 * Each input boots a fresh sim without service threads (deterministic): the
 * first bytes choose 1-8 CPUs, how many are online, xAPIC or x2APIC and one
 * or two I/O APICs. The fuzz thread is CPU 0 (attached, as kernel code
 * would be) and services the other CPUs itself (detach, attach to the CPU,
 * SimServicePending, come back), as tests/support/testbed.c does. Then each
 * operation takes an opcode byte and its arguments from the input.
 *
 * A model follows what should be: the live connections (object, kind, GSI,
 * vector, CPU set, trigger, movable, ISR behaviour, connection order), the
 * vectors taken directly with KeAllocateVector/KeReserveVector, the level
 * pins the fuzzer holds asserted. After every operation (and after servicing
 * every CPU):
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
 * The same input also drives a Vic (include/irqroute/vic.h): see the Vic
 * section for what is checked there.
 * At the end every connection is disconnected: nothing may stay allocated
 * and every entry must be masked. Any breach aborts (a libFuzzer crash).
 *
 * Level devices drop their line when their ISR runs (every ISR on a vector
 * deasserts the level pins routed to that vector), so a level interrupt is
 * delivered once per assertion and servicing always terminates.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/router.h>
#include <irqroute/vic.h>

#include "sim.h"
#include "simboot.h"

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size);
int LLVMFuzzerInitialize(int *Argc, char ***Argv);

int LLVMFuzzerInitialize(int *Argc, char ***Argv)
{
    (void)Argc;
    (void)Argv;
    return 0;
}

/* ---- Failure reporting ------------------------------------------------------------ */

static const char *CurrentOp = "boot";

static _Noreturn void Fail(const char *Format, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void Fail(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    fprintf(stderr, "fuzz_api: during %s: ", CurrentOp);
    vfprintf(stderr, Format, Arguments);
    fputc('\n', stderr);
    va_end(Arguments);
    abort();
}

#define CHECK(Condition)                                       \
    do {                                                       \
        if (!(Condition))                                      \
            Fail("line %d: %s", __LINE__, #Condition);          \
    } while (0)

#define CHECK_STATUS(Status, Expected)                                                        \
    do {                                                                                     \
        IRQ_STATUS Got_ = (Status), Want_ = (Expected);                                       \
        if (Got_ != Want_)                                                                   \
            Fail("line %d: %s returned %s, expected %s", __LINE__, #Status, IrStatusName(Got_), \
                 IrStatusName(Want_));                                                       \
    } while (0)

/* ---- Input --------------------------------------------------------------------------- */

typedef struct _READER {
    const uint8_t *Data;
    size_t Size;
    size_t Position;
} READER;

static bool More(const READER *Reader)
{
    return Reader->Position < Reader->Size;
}

static uint8_t U8(READER *Reader)
{
    return Reader->Position < Reader->Size ? Reader->Data[Reader->Position++] : 0;
}

static uint32_t U32(READER *Reader)
{
    uint32_t Value = 0;
    for (int Index = 0; Index < 4; Index++)
        Value |= (uint32_t)U8(Reader) << (8 * Index);
    return Value;
}

static bool Bit(READER *Reader)
{
    return U8(Reader) & 1u;
}

/* ---- The system and the model ------------------------------------------------------- */

#define MAX_CPUS 8u
#define MAX_OBJECTS 40u
#define MAX_DEAD 16u
#define MAX_DIRECT 64u
#define MAX_GSIS 40u
#define HOME_CPU 0u

static uint32_t CpuCount;
static uint64_t OnlineMask;
static uint32_t GsiCount;
static bool X2Apic;
static uint32_t DeviceVectorCount;

typedef enum _OBJECT_KIND { ObjectLine = 0, ObjectMessage, ObjectFully } OBJECT_KIND;

typedef struct _OBJECT {
    bool Live;          /* slot taken: connect in progress or connected */
    bool Connected;     /* the connect returned SUCCESS */
    OBJECT_KIND Kind;
    KINTERRUPT *Object;
    uint64_t Sequence;  /* connection order: the chain order on each CPU */
    bool Claim;         /* what the ISR returns */
    uint64_t Calls;
    uint64_t ExpectedCalls;
    uint32_t Gsi;       /* lines */
    bool Level;
    bool Broadcast;
    bool Movable;
    bool Shared;
    HL_MSI_MESSAGE Message; /* message-based (moves update it) */
    uint8_t Vector;
    uint64_t Cpus;      /* CPU set as a mask (at most 8 CPUs) */
    KINTERRUPT_MODE Mode;
    KIRQL SynchronizeIrql;
} OBJECT;

static OBJECT Objects[MAX_OBJECTS];
static uint64_t NextSequence;
static KINTERRUPT *Dead[MAX_DEAD];
static uint32_t DeadCount;

typedef struct _DIRECT_VECTOR {
    uint32_t Cpu;
    uint8_t Vector;
} DIRECT_VECTOR;

static DIRECT_VECTOR Direct[MAX_DIRECT + MAX_CPUS];
static uint32_t DirectCount;

static bool Asserted[MAX_GSIS];
static uint64_t EntrySnapshot[MAX_GSIS];
static uint64_t IpiHandled[MAX_CPUS][KeIpiMessageCount];
static uint64_t WorkerRuns[MAX_CPUS];

/* An object that never was connected: aligned, zeroed storage. */
static _Alignas(64) uint8_t NeverConnected[4096];

static bool IsOnline(uint32_t Cpu)
{
    return Cpu < CpuCount && ((OnlineMask >> Cpu) & 1u);
}

static bool IsDeviceVector(uint32_t Vector)
{
    const KE_VECTOR_LAYOUT *Layout = &KeAmd64VectorLayout;
    if (Vector < Layout->FirstDeviceVector || Vector > Layout->LastDeviceVector)
        return false;
    for (uint32_t Index = 0; Index < Layout->ReservedVectorCount; Index++) {
        if (Layout->ReservedVectors[Index] == Vector)
            return false;
    }
    return true;
}

static uint64_t MaskOfSet(const IR_CPU_SET *Set)
{
    for (uint32_t Word = 1; Word < IR_CPU_SET_WORDS; Word++)
        CHECK(Set->Bits[Word] == 0);
    return Set->Bits[0];
}

static IR_CPU_SET SetOfMask(uint64_t Mask)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    Set.Bits[0] = Mask;
    return Set;
}

/* A CPU mask from one byte: any subset of 8, offline and absent CPUs included. */
static uint64_t MaskFromByte(uint8_t Byte)
{
    return Byte;
}

static bool ModelCovers(uint32_t Cpu, uint8_t Vector)
{
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        const OBJECT *Object = &Objects[Index];
        if (Object->Connected && Object->Vector == Vector && ((Object->Cpus >> Cpu) & 1u))
            return true;
    }
    return false;
}

static int FindDirect(uint32_t Cpu, uint8_t Vector)
{
    for (uint32_t Index = 0; Index < DirectCount; Index++) {
        if (Direct[Index].Cpu == Cpu && Direct[Index].Vector == Vector)
            return (int)Index;
    }
    return -1;
}

static void RemoveDirect(int Index)
{
    Direct[Index] = Direct[--DirectCount];
}

static bool ModelAllocated(uint32_t Cpu, uint8_t Vector)
{
    return ModelCovers(Cpu, Vector) || FindDirect(Cpu, Vector) >= 0;
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
            else if (IsOnline(Cpu))
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
    OBJECT *Object = Context;
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
    OBJECT *Object = Context;
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

/* Each modelled (CPU, vector) is allocated, and each CPU's count and
 * per-class counts equal the model's: then the allocated sets are equal. */
static void CheckVectors(void)
{
    uint64_t Model[MAX_CPUS][4] = {{0}};
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        const OBJECT *Object = &Objects[Index];
        for (uint32_t Cpu = 0; Object->Connected && Cpu < CpuCount; Cpu++)
            if ((Object->Cpus >> Cpu) & 1u)
                Model[Cpu][Object->Vector / 64u] |= 1ull << (Object->Vector % 64u);
    }
    for (uint32_t Index = 0; Index < DirectCount; Index++)
        Model[Direct[Index].Cpu][Direct[Index].Vector / 64u] |= 1ull << (Direct[Index].Vector % 64u);
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        uint32_t Modelled = 0, PerClass[16] = {0};
        for (uint32_t Vector = 0; Vector < 256; Vector++) {
            if (!((Model[Cpu][Vector / 64u] >> (Vector % 64u)) & 1u))
                continue;
            Modelled++;
            PerClass[Vector >> 4]++;
            if (!KeIsVectorAllocated(Cpu, (uint8_t)Vector))
                Fail("CPU %u vector %#x: the model holds it, the allocator says free", Cpu, Vector);
        }
        KE_VECTOR_USAGE Usage;
        CHECK_STATUS(KeQueryVectorUsage(Cpu, &Usage), IRQ_STATUS_SUCCESS);
        if (Usage.Allocated != Modelled)
            Fail("CPU %u: %u vectors allocated, the model accounts for %u", Cpu, Usage.Allocated, Modelled);
        for (uint32_t Class = 0; Class < 16; Class++)
            if (Usage.AllocatedPerClass[Class] != PerClass[Class])
                Fail("CPU %u class %u: %u allocated, the model accounts for %u", Cpu, Class,
                     Usage.AllocatedPerClass[Class], PerClass[Class]);
        CHECK(Usage.Allocated + Usage.Available == DeviceVectorCount);
    }
}

static const OBJECT *LineUser(uint32_t Gsi)
{
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        if (Objects[Index].Connected && Objects[Index].Kind == ObjectLine && Objects[Index].Gsi == Gsi)
            return &Objects[Index];
    }
    return NULL;
}

static void CheckEntries(void)
{
    for (uint32_t Gsi = 0; Gsi < GsiCount; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(Gsi)};
        const OBJECT *User = LineUser(Gsi);
        if (User == NULL) {
            if (!Entry.Bits.Mask)
                Fail("GSI %u unmasked (%#llx) with no connection", Gsi, (unsigned long long)Entry.Value);
            continue;
        }
        if (Entry.Bits.Mask || Entry.Bits.Vector != User->Vector || Entry.Bits.TriggerMode != User->Level)
            Fail("GSI %u entry %#llx, model: vector %#x level %d", Gsi, (unsigned long long)Entry.Value, User->Vector,
                 User->Level);
        if (Entry.Bits.RemoteIrr)
            Fail("GSI %u: Remote IRR left set after every CPU serviced", Gsi);
    }
}

static void CheckObjects(void)
{
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        const OBJECT *Object = &Objects[Index];
        if (!Object->Connected)
            continue;
        CHECK(KeIsInterruptConnected(Object->Object));
        CHECK(KeGetInterruptVector(Object->Object) == Object->Vector);
        CHECK(KeGetInterruptMode(Object->Object) == Object->Mode);
        IR_CPU_SET Cpus;
        KeGetInterruptCpus(Object->Object, &Cpus);
        CHECK(MaskOfSet(&Cpus) == Object->Cpus);
        CHECK((Object->Cpus & ~OnlineMask) == 0);
    }
}

static void CheckQuiet(void)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        for (uint32_t Vector = 16; Vector < 256; Vector++) {
            if (SimLapicIrrIsSet(Cpu, (uint8_t)Vector) || SimLapicIsrIsSet(Cpu, (uint8_t)Vector))
                Fail("CPU %u vector %#x still in IRR/ISR after servicing", Cpu, Vector);
        }
    }
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
}

static void CheckAll(void)
{
    CheckVectors();
    CheckEntries();
    CheckObjects();
    CheckQuiet();
}

/* A failed call: the documented statuses of the call, nothing changed. */
static void CheckRefused(IRQ_STATUS Status, const IRQ_STATUS *Allowed, size_t AllowedCount)
{
    bool Found = false;
    for (size_t Index = 0; Index < AllowedCount; Index++)
        Found |= Allowed[Index] == Status;
    if (!Found)
        Fail("status %s is not one this call documents", IrStatusName(Status));
    CheckEntriesUnchanged();
    CheckVectors();
}

static const IRQ_STATUS ConnectStatuses[] = {
    IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_GSI,         IRQ_STATUS_INVALID_VECTOR,
    IRQ_STATUS_INVALID_CPU,       IRQ_STATUS_EMPTY_AFFINITY,      IRQ_STATUS_INVALID_IRQL,
    IRQ_STATUS_SHARING_VIOLATION, IRQ_STATUS_TRIGGER_MISMATCH,    IRQ_STATUS_VECTOR_EXHAUSTED,
    IRQ_STATUS_NOT_SUPPORTED,     IRQ_STATUS_INSUFFICIENT_RESOURCES,
};
#define COUNT_OF(Array) (sizeof(Array) / sizeof((Array)[0]))

/* ---- Object bookkeeping ---------------------------------------------------------------------- */

static OBJECT *TakeSlot(void)
{
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        if (!Objects[Index].Live) {
            Objects[Index] = (OBJECT){.Live = true};
            return &Objects[Index];
        }
    }
    return NULL;
}

static OBJECT *PickLive(READER *Reader)
{
    uint32_t Live = 0;
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++)
        Live += Objects[Index].Connected;
    if (Live == 0)
        return NULL;
    uint32_t Pick = U8(Reader) % Live;
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        if (Objects[Index].Connected && Pick-- == 0)
            return &Objects[Index];
    }
    return NULL;
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
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        if (Objects[Index].Live && Objects[Index].Object == Pointer)
            return true;
    }
    return false;
}

/* Fills the model of a new connection from what the library reports, then
 * checks it against what the request asked for. */
static void RecordConnected(OBJECT *Object, KINTERRUPT *Interrupt, OBJECT_KIND Kind, KIRQL SynchronizeIrql)
{
    Object->Object = Interrupt;
    Object->Kind = Kind;
    Object->Sequence = NextSequence++;
    Object->Vector = KeGetInterruptVector(Interrupt);
    Object->Mode = KeGetInterruptMode(Interrupt);
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    Object->Cpus = MaskOfSet(&Cpus);
    Object->SynchronizeIrql = SynchronizeIrql != 0 ? SynchronizeIrql : KeGetInterruptIrql(Interrupt);
    Object->Movable = IoQueryInterruptTarget(Interrupt, NULL, NULL) == IRQ_STATUS_SUCCESS;
    CHECK(KeIsInterruptConnected(Interrupt));
    CHECK(Object->Cpus != 0 && (Object->Cpus & ~OnlineMask) == 0);
    CHECK(IsDeviceVector(Object->Vector));
    CHECK(KeGetInterruptIrql(Interrupt) == KeIrqlOfVector(Object->Vector));
    Object->Connected = true;
}

/* After a connect op that may have unmasked a latched level line. */
static void SettleCounts(void)
{
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++)
        Objects[Index].ExpectedCalls = Objects[Index].Calls;
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
        Request->Structural = !IsOnline(Cpu);
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
            NullMask || (Cpu != IR_CPU_NONE && (!IsOnline(Cpu) || !((Request->Mask.Bits[0] >> Cpu) & 1u)));
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
    OBJECT *Object = TakeSlot();
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
    const OBJECT *Existing = ResolveStatus == IRQ_STATUS_SUCCESS ? LineUser(Resolved.Gsi) : NULL;
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
    RecordConnected(Object, Interrupt, ObjectLine, SynchronizeIrql);
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
    OBJECT *Object = TakeSlot();
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
    RecordConnected(Object, Interrupt, ObjectMessage, SynchronizeIrql);
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
    OBJECT *Object = TakeSlot();
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

    bool Defect = NullObject || NullMask || Floating || ModeByte == 4 || Vector > 0xFF || !IsDeviceVector(Vector) ||
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
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        const OBJECT *Other = &Objects[Index];
        if (Other->Connected && Other->Vector == Vector && (Other->Cpus & Cpus) != 0) {
            CHECK(Share && Other->Shared);
            CHECK(Other->Mode == Mode);
        }
    }
    Object->Shared = Share;
    RecordConnected(Object, Interrupt, ObjectFully, SynchronizeIrql);
    CHECK(Object->Vector == Vector && Object->Cpus == Cpus && Object->Mode == Mode);
    CHECK(!Object->Movable);
}

/* ---- Operations: disconnect ----------------------------------------------------------------- */

static void ForgetObject(OBJECT *Object)
{
    /* Vectors the caller reserved and an object then used are freed with
     * the slot's last object (KeConnectInterrupt's rule). */
    uint64_t Cpus = Object->Cpus;
    uint8_t Vector = Object->Vector;
    RememberDead(Object->Object);
    Object->Connected = false;
    Object->Live = false;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (((Cpus >> Cpu) & 1u) && !ModelCovers(Cpu, Vector)) {
            int Index = FindDirect(Cpu, Vector);
            if (Index >= 0)
                RemoveDirect(Index);
        }
    }
}

static void OpDisconnect(READER *Reader)
{
    CurrentOp = "disconnect";
    uint8_t Choice = U8(Reader) % 8;
    TakeEntrySnapshot();
    if (Choice < 5) {
        OBJECT *Object = PickLive(Reader);
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

/* What the dispatcher runs for one delivery of Vector on Cpu: the objects
 * linked there, in connection order; a level-sensitive chain stops at the
 * first claim. */
static void ExpectDispatch(uint32_t Cpu, uint8_t Vector)
{
    if (!IsDeviceVector(Vector))
        return;
    bool Done[MAX_OBJECTS] = {false};
    for (;;) {
        OBJECT *Next = NULL;
        uint32_t NextIndex = 0;
        for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
            OBJECT *Object = &Objects[Index];
            if (Done[Index] || !Object->Connected || Object->Vector != Vector || !((Object->Cpus >> Cpu) & 1u))
                continue;
            if (Next == NULL || Object->Sequence < Next->Sequence) {
                Next = Object;
                NextIndex = Index;
            }
        }
        if (Next == NULL)
            return;
        Done[NextIndex] = true;
        Next->ExpectedCalls++;
        if (Next->Claim && Next->Mode == LevelSensitive)
            return;
    }
}

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
static uint64_t Destinations(const OBJECT *Object)
{
    if (Object->Broadcast)
        return Object->Cpus;
    if (Object->Movable) {
        uint32_t Cpu = IR_CPU_NONE;
        CHECK_STATUS(IoQueryInterruptTarget(Object->Object, &Cpu, NULL), IRQ_STATUS_SUCCESS);
        CHECK(Cpu < CpuCount && ((Object->Cpus >> Cpu) & 1u));
        return 1ull << Cpu;
    }
    CHECK(__builtin_popcountll(Object->Cpus) == 1 || Object->Kind == ObjectFully);
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
        ExpectDispatch(Received->Cpu[Index], Received->Vector[Index]);
}

static void CheckCalls(void)
{
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        const OBJECT *Object = &Objects[Index];
        if (Object->Connected && Object->Calls != Object->ExpectedCalls)
            Fail("object %u (vector %#x, cpus %#llx, mode %d, claim %d): ISR ran %llu times, the dispatcher's rules "
                 "say %llu",
                 Index, Object->Vector, (unsigned long long)Object->Cpus, (int)Object->Mode, Object->Claim,
                 (unsigned long long)Object->Calls, (unsigned long long)Object->ExpectedCalls);
    }
}

static void OpPulse(READER *Reader)
{
    CurrentOp = "edge pulse";
    uint32_t Gsi;
    const OBJECT *Line = NULL;
    if (Bit(Reader)) {
        Line = PickLive(Reader);
        if (Line == NULL || Line->Kind != ObjectLine)
            return;
        Gsi = Line->Gsi;
    } else {
        Gsi = U8(Reader) % (GsiCount + 2);
        Line = Gsi < GsiCount ? LineUser(Gsi) : NULL;
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
        const OBJECT *Line = PickLive(Reader);
        if (Line != NULL && Line->Kind == ObjectLine)
            Gsi = Line->Gsi;
    }
    if (Asserted[Gsi]) {
        /* The device quietens by itself (nothing is sent). */
        Asserted[Gsi] = false;
        SimSetGsi(Gsi, false);
        return;
    }
    const OBJECT *Line = LineUser(Gsi);
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
        const OBJECT *Object = PickLive(Reader);
        if (Object == NULL || Object->Kind != ObjectMessage)
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
    const OBJECT *Object = PickLive(Reader);
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
        ExpectDispatch(HOME_CPU, Vector);
    CheckCalls();
    if (Held)
        ExpectDispatch(HOME_CPU, Vector);
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
    OBJECT *Object = PickLive(Reader);
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
        if (Movable && IsOnline(Cpu) && ((Object->Cpus >> Cpu) & 1u)) {
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
    CHECK(DirectCount < MAX_DIRECT + MAX_CPUS);
    CHECK(FindDirect(Cpu, Vector) < 0);
    Direct[DirectCount++] = (DIRECT_VECTOR){.Cpu = Cpu, .Vector = Vector};
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
    if (DirectCount >= MAX_DIRECT && Choice < 3)
        Choice = 3;
    IRQ_STATUS Status;
    switch (Choice) {
    case 0: {
        uint32_t Chosen = IR_CPU_NONE;
        uint8_t Got = 0;
        Status = KeAllocateVector(&Mask, Irql, &Chosen, &Got);
        if (Status == IRQ_STATUS_SUCCESS) {
            CHECK(!Defect && Chosen < CpuCount && IsOnline(Chosen) && ((MaskByte >> Chosen) & 1u));
            CHECK(IsDeviceVector(Got) && !ModelAllocated(Chosen, Got));
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
            CHECK(!Defect && (Mask.Bits[0] & ~OnlineMask) == 0 && Mask.Bits[0] != 0 && IsDeviceVector(Got));
            for (uint32_t Each = 0; Each < CpuCount; Each++) {
                if ((Mask.Bits[0] >> Each) & 1u) {
                    CHECK(!ModelAllocated(Each, Got));
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
            CHECK(Cpu < CpuCount && IsDeviceVector(Vector) && !ModelAllocated(Cpu, Vector));
            AddDirect(Cpu, Vector);
        } else if (Cpu >= CpuCount) {
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
        } else if (!IsDeviceVector(Vector)) {
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_VECTOR);
        } else {
            CHECK(ModelAllocated(Cpu, Vector));
            CHECK_STATUS(Status, IRQ_STATUS_SHARING_VIOLATION);
        }
        break;
    default:
        /* Free: one of ours that no object uses, or one nobody holds, or nonsense. */
        if (DirectCount > 0 && Bit(Reader)) {
            int Index = (int)(U8(Reader) % DirectCount);
            if (ModelCovers(Direct[Index].Cpu, Direct[Index].Vector))
                return; /* an object uses it: freeing it would be the caller's bug */
            Cpu = Direct[Index].Cpu;
            Vector = Direct[Index].Vector;
            CHECK_STATUS(KeFreeVector(Cpu, Vector), IRQ_STATUS_SUCCESS);
            RemoveDirect(Index);
            CheckAll();
            return;
        }
        if (Cpu < CpuCount && IsDeviceVector(Vector) && ModelAllocated(Cpu, Vector))
            return;
        Status = KeFreeVector(Cpu, Vector);
        if (Cpu >= CpuCount)
            CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
        else if (!IsDeviceVector(Vector))
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
        Defect |= !IsOnline(Cpu);
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
    OBJECT *Object = PickLive(Reader);
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
    CHECK(KeIsVectorAllocated(Cpu, Vector) == (Cpu < CpuCount && ModelAllocated(Cpu, Vector)));
    KIRQL Irql = KeIrqlOfVector(Vector);
    CHECK(IsDeviceVector(Vector) ? Irql == (Vector >> 4) : true);

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
    const OBJECT *Object = PickLive(Reader);
    if (Object != NULL) {
        Status = IoQueryInterruptLine(Object->Object, &Gsi);
        if (Object->Kind == ObjectLine) {
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

/* ---- The virtual interrupt controller (vic.h) ----------------------------------------------
 *
 * Each input also gets a Vic over the same CPU count, Alpha-style (32
 * levels, ASTs) or x86-style (16 classes, source = vector), chosen by the
 * boot byte. The fuzz thread owns every emulated CPU (one owner at a time is
 * the rule). After every Vic call:
 *  - per CPU and summed: Raised == Claimed + Cleared + Pending, and Pending
 *    equals the pending source bits plus the ASTSR bits;
 *  - VicIsDeliverable equals a reference predicate written from vic.h's
 *    DELIVERY RULES (level above the effective level, gates open, machine
 *    checks through everything, ASTs per mode), and a claim takes what the
 *    rules name: the highest level, within it the highest source, a source
 *    before an AST at the AST level, the most privileged eligible AST mode;
 *  - a raise lands where its route allows (one online CPU of the route, or
 *    every online CPU of a broadcast) and touches no other source;
 *  - a failing call returns a status vic.h documents for it and changes no
 *    pending bit, counter or CPU state.
 */

#define VIC_MAX_SOURCES_HERE VIC_X86_SOURCE_COUNT

static VIC *Vic;
static void *VicStorage;
static VIC_CONFIG VicConfig;
static VIC_SOURCE_DESCRIPTOR VicX86Sources[VIC_X86_SOURCE_COUNT];
static uint32_t VicIpiSource;
static uint32_t VicIpiWord[MAX_CPUS];     /* messages sent and not yet claimed */
static uint64_t VicIpiCounts[MAX_CPUS][VIC_IPI_MESSAGE_COUNT];

typedef struct _VIC_SNAPSHOT {
    VIC_COUNTERS Counters[MAX_CPUS];
    VIC_CPU_STATE States[MAX_CPUS];
    uint64_t Pending[MAX_CPUS][VIC_MAX_SOURCES_HERE / 64];
} VIC_SNAPSHOT;

static VIC_SNAPSHOT VicBefore, VicAfter;

static bool VicCreate(bool X86)
{
    if (X86)
        VicX86Config(&VicConfig, CpuCount, VicX86Sources);
    else
        VicAlphaConfig(&VicConfig, CpuCount);
    size_t Size = 0;
    CHECK_STATUS(VicQueryStorageSize(&VicConfig, &Size), IRQ_STATUS_SUCCESS);
    VicStorage = aligned_alloc(VIC_STORAGE_ALIGNMENT, (Size + VIC_STORAGE_ALIGNMENT - 1) & ~(size_t)(VIC_STORAGE_ALIGNMENT - 1));
    CHECK(VicStorage != NULL);
    CHECK_STATUS(VicInitialize(VicStorage, Size, &VicConfig, &Vic), IRQ_STATUS_SUCCESS);
    CHECK(VicInitialize(VicStorage, Size, NULL, &Vic) == IRQ_STATUS_INVALID_PARAMETER);
    VicIpiSource = VIC_MAX_SOURCES_HERE;
    for (uint32_t Source = 0; Source < VicConfig.SourceCount; Source++)
        if (VicConfig.Sources[Source].Kind == VicSourceIpi && VicConfig.Sources[Source].Level != 0)
            VicIpiSource = Source;
    memset(VicIpiWord, 0, sizeof(VicIpiWord));
    memset(VicIpiCounts, 0, sizeof(VicIpiCounts));
    return true;
}

static void VicDestroy(void)
{
    free(VicStorage);
    VicStorage = NULL;
    Vic = NULL;
}

static bool VicSourceExists(uint32_t Source)
{
    return Source < VicConfig.SourceCount && VicConfig.Sources[Source].Level != 0;
}

static void VicTakeSnapshot(VIC_SNAPSHOT *Snapshot)
{
    memset(Snapshot, 0, sizeof(*Snapshot));
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        CHECK_STATUS(VicQueryCounters(Vic, Cpu, &Snapshot->Counters[Cpu]), IRQ_STATUS_SUCCESS);
        CHECK_STATUS(VicQueryCpuState(Vic, Cpu, &Snapshot->States[Cpu]), IRQ_STATUS_SUCCESS);
        for (uint32_t Source = 0; Source < VicConfig.SourceCount; Source++) {
            bool Pending = false;
            if (!VicSourceExists(Source)) {
                CHECK(VicIsPending(Vic, Source, Cpu, &Pending) != IRQ_STATUS_SUCCESS);
                continue;
            }
            CHECK_STATUS(VicIsPending(Vic, Source, Cpu, &Pending), IRQ_STATUS_SUCCESS);
            if (Pending)
                Snapshot->Pending[Cpu][Source / 64] |= 1ull << (Source % 64);
        }
    }
}

static bool SnapshotPending(const VIC_SNAPSHOT *Snapshot, uint32_t Cpu, uint32_t Source)
{
    return (Snapshot->Pending[Cpu][Source / 64] >> (Source % 64)) & 1u;
}

static uint32_t HighestBit(uint32_t Word)
{
    return Word == 0 ? 0 : 31u - (uint32_t)__builtin_clz(Word);
}

/* What the rules say a claim on Cpu takes now: a source, an AST, or nothing. */
typedef struct _VIC_EXPECTED {
    bool Any;
    bool Ast;
    uint32_t Source;
    uint32_t Level;
    uint32_t AstMode;
} VIC_EXPECTED;

static VIC_EXPECTED VicReference(const VIC_SNAPSHOT *Snapshot, uint32_t Cpu)
{
    const VIC_CPU_STATE *State = &Snapshot->States[Cpu];
    VIC_EXPECTED Best = {.Any = false};
    uint32_t Effective = State->Level > HighestBit(State->InService) ? State->Level : HighestBit(State->InService);
    CHECK(State->EffectiveLevel == Effective);
    bool GatesOpen = State->InterruptsEnabled && !State->InBarrier && !State->InPalMode;
    for (uint32_t Source = 0; Source < VicConfig.SourceCount; Source++) {
        if (!VicSourceExists(Source) || !SnapshotPending(Snapshot, Cpu, Source))
            continue;
        uint32_t Level = VicConfig.Sources[Source].Level;
        bool Deliverable = VicConfig.Sources[Source].Kind == VicSourceMachineCheck || (GatesOpen && Level > Effective);
        /* Highest level; within a level the highest-numbered source. */
        if (Deliverable && (!Best.Any || Level > Best.Level || (Level == Best.Level && Source > Best.Source)))
            Best = (VIC_EXPECTED){.Any = true, .Source = Source, .Level = Level};
    }
    if (VicConfig.AstLevel != 0 && GatesOpen && Effective < VicConfig.AstLevel &&
        (!Best.Any || Best.Level < VicConfig.AstLevel)) {
        for (uint32_t Mode = 0; Mode < VicModeCount; Mode++) {
            if (((State->AstSummary & State->AstEnable) >> Mode) & 1u && (uint32_t)State->Mode >= Mode) {
                Best = (VIC_EXPECTED){.Any = true, .Ast = true, .Level = VicConfig.AstLevel, .AstMode = Mode};
                break;
            }
        }
    }
    return Best;
}

static void VicCheckInvariants(const VIC_SNAPSHOT *Snapshot)
{
    VIC_COUNTERS Sum = {0};
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        const VIC_COUNTERS *Counters = &Snapshot->Counters[Cpu];
        if (Counters->Raised != Counters->Claimed + Counters->Cleared + Counters->Pending)
            Fail("Vic CPU %u: raised %llu != claimed %llu + cleared %llu + pending %llu", Cpu,
                 (unsigned long long)Counters->Raised, (unsigned long long)Counters->Claimed,
                 (unsigned long long)Counters->Cleared, (unsigned long long)Counters->Pending);
        uint64_t Bits = (uint64_t)__builtin_popcount(Snapshot->States[Cpu].AstSummary & 0xFu);
        for (uint32_t Word = 0; Word < VIC_MAX_SOURCES_HERE / 64; Word++)
            Bits += (uint64_t)__builtin_popcountll(Snapshot->Pending[Cpu][Word]);
        if (Counters->Pending != Bits)
            Fail("Vic CPU %u: Pending counter %llu, pending bits + ASTSR bits %llu", Cpu,
                 (unsigned long long)Counters->Pending, (unsigned long long)Bits);
        VIC_EXPECTED Expected = VicReference(Snapshot, Cpu);
        if (Snapshot->States[Cpu].Online && VicIsDeliverable(Vic, Cpu) != Expected.Any)
            Fail("Vic CPU %u: VicIsDeliverable %d, the rules say %d", Cpu, VicIsDeliverable(Vic, Cpu), Expected.Any);
        Sum.Raised += Counters->Raised;
        Sum.Merged += Counters->Merged;
        Sum.Claimed += Counters->Claimed;
        Sum.Cleared += Counters->Cleared;
        Sum.Pending += Counters->Pending;
    }
    VIC_COUNTERS All;
    CHECK_STATUS(VicQueryCounters(Vic, VIC_ALL_CPUS, &All), IRQ_STATUS_SUCCESS);
    CHECK(All.Raised == Sum.Raised && All.Merged == Sum.Merged && All.Claimed == Sum.Claimed &&
          All.Cleared == Sum.Cleared && All.Pending == Sum.Pending);
    CHECK(!VicIsDeliverable(Vic, CpuCount));
}

static void VicCheckUnchanged(IRQ_STATUS Status, const IRQ_STATUS *Allowed, size_t AllowedCount)
{
    bool Found = false;
    for (size_t Index = 0; Index < AllowedCount; Index++)
        Found |= Allowed[Index] == Status;
    if (!Found)
        Fail("Vic: status %s is not one this call documents", IrStatusName(Status));
    if (memcmp(&VicBefore, &VicAfter, sizeof(VicBefore)) != 0)
        Fail("Vic: a call that returned %s changed the state", IrStatusName(Status));
}

static uint32_t VicReadCpu(READER *Reader)
{
    return U8(Reader) % (CpuCount + 2);
}

static uint32_t VicReadSource(READER *Reader)
{
    uint8_t Byte = U8(Reader);
    uint32_t Source = Byte % (VicConfig.SourceCount + 4);
    if (Byte == 0xFF)
        Source = U32(Reader);
    return Source;
}

/* Per CPU: raised + merged grew by how much. */
static uint64_t VicTouched(uint32_t Cpu)
{
    return VicAfter.Counters[Cpu].Raised + VicAfter.Counters[Cpu].Merged - VicBefore.Counters[Cpu].Raised -
           VicBefore.Counters[Cpu].Merged;
}

/* Only Source's bits may have changed, and only from 0 to 1. */
static void VicCheckOnlyRaised(uint32_t Source)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        for (uint32_t Word = 0; Word < VIC_MAX_SOURCES_HERE / 64; Word++) {
            uint64_t Changed = VicBefore.Pending[Cpu][Word] ^ VicAfter.Pending[Cpu][Word];
            uint64_t Allowed = Word == Source / 64 ? 1ull << (Source % 64) : 0;
            CHECK((Changed & ~Allowed) == 0);
            CHECK((Changed & VicBefore.Pending[Cpu][Word]) == 0);
        }
        CHECK(VicAfter.Counters[Cpu].Claimed == VicBefore.Counters[Cpu].Claimed);
        CHECK(VicAfter.Counters[Cpu].Cleared == VicBefore.Counters[Cpu].Cleared);
    }
}

static void VicOpRaise(READER *Reader, bool OnCpu)
{
    uint32_t Source = VicReadSource(Reader);
    uint32_t Cpu = VicReadCpu(Reader);
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    uint32_t TargetCpu = 0;
    IR_CPU_SET Mask;
    IrCpuSetZero(&Mask);
    if (VicSourceExists(Source))
        CHECK_STATUS(VicQueryRoute(Vic, Source, &Policy, &TargetCpu, &Mask), IRQ_STATUS_SUCCESS);
    VicTakeSnapshot(&VicBefore);
    IRQ_STATUS Status = OnCpu ? VicRaiseOnCpu(Vic, Source, Cpu) : VicRaise(Vic, Source);
    VicTakeSnapshot(&VicAfter);
    if (!VicSourceExists(Source))
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_VECTOR);
    else if (OnCpu && (Cpu >= CpuCount || !VicBefore.States[Cpu].Online))
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
    if (Status != IRQ_STATUS_SUCCESS) {
        static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_VECTOR, IRQ_STATUS_INVALID_CPU,
                                             IRQ_STATUS_EMPTY_AFFINITY};
        VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
        return;
    }
    VicCheckOnlyRaised(Source);
    uint64_t Online = 0, Touched = 0;
    for (uint32_t Each = 0; Each < CpuCount; Each++) {
        if (VicBefore.States[Each].Online)
            Online |= 1ull << Each;
        CHECK(VicTouched(Each) <= 1);
        if (VicTouched(Each))
            Touched |= 1ull << Each;
    }
    if (OnCpu) {
        CHECK(Touched == 1ull << Cpu);
    } else if (Source == VicIpiSource || VicConfig.Sources[Source].Kind == VicSourceMachineCheck) {
        CHECK(Touched != 0 && (Touched & ~Online) == 0);
    } else if (Policy == IrRoutingBroadcast) {
        CHECK(Touched == (Mask.Bits[0] & Online));
    } else {
        CHECK(__builtin_popcountll(Touched) == 1 && (Touched & ~Online) == 0);
        if (Policy != IrRoutingFixedCpu)
            CHECK((Touched & Mask.Bits[0]) != 0);
        else if ((Online >> TargetCpu) & 1u)
            CHECK(Touched == 1ull << TargetCpu);
    }
}

static void VicOpClear(READER *Reader)
{
    uint32_t Source = VicReadSource(Reader);
    uint32_t Cpu = VicReadCpu(Reader);
    VicTakeSnapshot(&VicBefore);
    IRQ_STATUS Status = VicClear(Vic, Source, Cpu);
    VicTakeSnapshot(&VicAfter);
    bool Valid = VicSourceExists(Source) && Cpu < CpuCount;
    if (Valid && SnapshotPending(&VicBefore, Cpu, Source)) {
        CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
        CHECK(!SnapshotPending(&VicAfter, Cpu, Source));
        CHECK(VicAfter.Counters[Cpu].Cleared == VicBefore.Counters[Cpu].Cleared + 1);
        return;
    }
    if (Valid)
        CHECK_STATUS(Status, IRQ_STATUS_NOT_PENDING);
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_VECTOR, IRQ_STATUS_INVALID_CPU, IRQ_STATUS_NOT_PENDING,
                                         IRQ_STATUS_INVALID_PARAMETER};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
}

static void VicOpClaim(READER *Reader)
{
    uint32_t Cpu = VicReadCpu(Reader);
    /* Bit 0: end the interrupt after a claim; bit 1: take instead of claim
     * (VicTakeInterrupt: same choice, nothing enters service). */
    uint8_t How = U8(Reader);
    bool End = (How & 1u) != 0;
    bool Take = (How & 2u) != 0;
    VicTakeSnapshot(&VicBefore);
    VIC_EXPECTED Expected = Cpu < CpuCount ? VicReference(&VicBefore, Cpu) : (VIC_EXPECTED){.Any = false};
    bool Deliverable = VicIsDeliverable(Vic, Cpu);
    VIC_CLAIM Claim = {.Source = 0x5EED};
    IRQ_STATUS Status = Take ? VicTakeInterrupt(Vic, Cpu, &Claim) : VicClaim(Vic, Cpu, &Claim);
    VicTakeSnapshot(&VicAfter);
    if (Cpu < CpuCount && VicBefore.States[Cpu].Online)
        CHECK((Status == IRQ_STATUS_SUCCESS) == Deliverable);
    if (Status != IRQ_STATUS_SUCCESS) {
        CHECK(!Expected.Any || !VicBefore.States[Cpu].Online);
        CHECK(Claim.Source == 0x5EED);
        static const IRQ_STATUS Allowed[] = {IRQ_STATUS_NOTHING_PENDING, IRQ_STATUS_INVALID_CPU,
                                             IRQ_STATUS_INVALID_PARAMETER};
        VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
        return;
    }
    CHECK(Expected.Any);
    if (Expected.Ast) {
        CHECK(Claim.Source == VIC_SOURCE_AST && Claim.Kind == VicSourceAst && Claim.AstMode == Expected.AstMode);
        CHECK(((VicAfter.States[Cpu].AstSummary >> Expected.AstMode) & 1u) == 0);
    } else {
        if (Claim.Source != Expected.Source)
            Fail("Vic CPU %u: claimed source %u (level %u), the rules name %u (level %u)", Cpu, Claim.Source,
                 Claim.Level, Expected.Source, Expected.Level);
        CHECK(Claim.Level == Expected.Level && Claim.Kind == VicConfig.Sources[Claim.Source].Kind);
        CHECK(!SnapshotPending(&VicAfter, Cpu, Claim.Source));
        if (Claim.Source == VicIpiSource) {
            if (Claim.IpiMessages != VicIpiWord[Cpu])
                Fail("Vic CPU %u: IPI claim took messages %#x, sent %#x", Cpu, Claim.IpiMessages, VicIpiWord[Cpu]);
            for (uint32_t Message = 0; Message < VIC_IPI_MESSAGE_COUNT; Message++)
                VicIpiCounts[Cpu][Message] += (VicIpiWord[Cpu] >> Message) & 1u;
            VicIpiWord[Cpu] = 0;
        }
    }
    CHECK(VicAfter.Counters[Cpu].Claimed == VicBefore.Counters[Cpu].Claimed + 1);
    for (uint32_t Message = 0; Message < VIC_IPI_MESSAGE_COUNT; Message++)
        CHECK(VicQueryIpiCount(Vic, Cpu, Message) == VicIpiCounts[Cpu][Message]);
    if (Take) {
        CHECK(VicAfter.States[Cpu].InService == VicBefore.States[Cpu].InService);
        return;
    }
    CHECK((VicAfter.States[Cpu].InService >> Claim.Level) & 1u);
    if (End) {
        CHECK_STATUS(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
        VIC_CPU_STATE State;
        CHECK_STATUS(VicQueryCpuState(Vic, Cpu, &State), IRQ_STATUS_SUCCESS);
        CHECK(State.InService == (VicAfter.States[Cpu].InService & ~(1u << HighestBit(VicAfter.States[Cpu].InService))));
    }
}

/* The owner's own acts: level, gates, mode, AST registers, end of interrupt, SIRR. */
static void VicOpCpu(READER *Reader, uint8_t Which)
{
    uint32_t Cpu = VicReadCpu(Reader);
    uint32_t Value = U8(Reader);
    uint32_t Keep = U8(Reader) & 0x1F, Set = U8(Reader) & 0x1F;
    VicTakeSnapshot(&VicBefore);
    IRQ_STATUS Status;
    uint32_t Previous = 0xFFFF;
    bool PreviousFlag = false;
    switch (Which) {
    case 0:
        Status = VicSetLevel(Vic, Cpu, Value % (VicConfig.LevelCount + 2), &Previous);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(Previous == VicBefore.States[Cpu].Level);
        break;
    case 1:
        Status = VicSetInterruptsEnabled(Vic, Cpu, Value & 1u, &PreviousFlag);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(PreviousFlag == VicBefore.States[Cpu].InterruptsEnabled);
        break;
    case 2:
        Status = VicSetBarrier(Vic, Cpu, Value & 1u);
        break;
    case 3:
        Status = VicSetPalMode(Vic, Cpu, Value & 1u);
        break;
    case 4:
        Status = VicSetMode(Vic, Cpu, (VIC_PROCESSOR_MODE)(Value % (VicModeCount + 2)));
        break;
    case 5:
        Status = VicWriteAstEnable(Vic, Cpu, Keep, Set, &Previous);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(Previous == VicBefore.States[Cpu].AstEnable);
        break;
    case 6:
        Status = VicWriteAstSummary(Vic, Cpu, Keep, Set, &Previous);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(Previous == VicBefore.States[Cpu].AstSummary);
        break;
    case 7:
        Status = VicEndOfInterrupt(Vic, Cpu);
        if (Cpu < CpuCount)
            CHECK(Status == (VicBefore.States[Cpu].InService != 0 ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_STATE));
        break;
    default: {
        Status = VicWriteSoftwareRequest(Vic, Cpu, Value % (VicConfig.LevelCount + 2));
        uint32_t Summary = 0xFFFFFFFFu;
        if (Cpu < CpuCount) {
            CHECK_STATUS(VicReadSoftwareSummary(Vic, Cpu, &Summary), IRQ_STATUS_SUCCESS);
            if (Status == IRQ_STATUS_SUCCESS)
                CHECK((Summary >> (Value % (VicConfig.LevelCount + 2))) & 1u);
        } else {
            CHECK(VicReadSoftwareSummary(Vic, Cpu, &Summary) != IRQ_STATUS_SUCCESS);
        }
        break;
    }
    }
    VicTakeSnapshot(&VicAfter);
    if (Cpu >= CpuCount)
        CHECK(Status != IRQ_STATUS_SUCCESS);
    if (Status == IRQ_STATUS_SUCCESS) {
        /* Owner acts never touch pending sources (SIRR raises one). */
        if (Which != 8)
            for (uint32_t Each = 0; Each < CpuCount; Each++)
                CHECK(memcmp(VicBefore.Pending[Each], VicAfter.Pending[Each], sizeof(VicBefore.Pending[Each])) == 0);
        if (Which == 0)
            CHECK(VicAfter.States[Cpu].Level == Value % (VicConfig.LevelCount + 2));
        if (Which == 4)
            CHECK(VicAfter.States[Cpu].Mode == (VIC_PROCESSOR_MODE)(Value % (VicModeCount + 2)));
        if (Which == 5)
            CHECK(VicAfter.States[Cpu].AstEnable == (((VicBefore.States[Cpu].AstEnable & Keep) | Set) & 0xFu));
        if (Which == 6)
            CHECK(VicAfter.States[Cpu].AstSummary == (((VicBefore.States[Cpu].AstSummary & Keep) | Set) & 0xFu));
        return;
    }
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_CPU, IRQ_STATUS_INVALID_IRQL, IRQ_STATUS_INVALID_PARAMETER,
                                         IRQ_STATUS_INVALID_STATE, IRQ_STATUS_NOT_SUPPORTED};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
}

static void VicOpIpi(READER *Reader)
{
    uint8_t Kind = U8(Reader) % 5;
    uint32_t Cpu = VicReadCpu(Reader);
    IR_CPU_SET Set = SetOfMask(MaskFromByte(U8(Reader)));
    uint32_t Message = U8(Reader) % (VIC_IPI_MESSAGE_COUNT + 2);
    VIC_IPI_TARGET Target = {.Kind = Kind < 4 ? (VIC_IPI_TARGET_KIND)Kind : (VIC_IPI_TARGET_KIND)11, .Cpu = Cpu,
                             .Cpus = &Set};
    VicTakeSnapshot(&VicBefore);
    uint64_t Online = 0;
    for (uint32_t Each = 0; Each < CpuCount; Each++)
        if (VicBefore.States[Each].Online)
            Online |= 1ull << Each;
    uint64_t Targets = 0;
    bool Defect = Kind == 4 || Message >= VIC_IPI_MESSAGE_COUNT || VicIpiSource >= VIC_MAX_SOURCES_HERE;
    switch (Kind) {
    case 0:
        Targets = Cpu < 64 ? 1ull << Cpu : 0;
        Defect |= Cpu >= CpuCount || !((Online >> Cpu) & 1u);
        break;
    case 1:
        Targets = Set.Bits[0];
        Defect |= Targets == 0 || (Targets & ~Online) != 0;
        break;
    case 2:
        Targets = Online;
        break;
    case 3:
        Targets = Online & ~(Cpu < 64 ? 1ull << Cpu : 0);
        break;
    default:
        break;
    }
    IRQ_STATUS Status = VicSendIpi(Vic, &Target, Message);
    VicTakeSnapshot(&VicAfter);
    if (Status != IRQ_STATUS_SUCCESS) {
        static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_CPU,
                                             IRQ_STATUS_EMPTY_AFFINITY, IRQ_STATUS_NOT_SUPPORTED};
        VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
        return;
    }
    if (Defect)
        Fail("VicSendIpi kind %u cpu %u message %u succeeded", Kind, Cpu, Message);
    VicCheckOnlyRaised(VicIpiSource);
    for (uint32_t Each = 0; Each < CpuCount; Each++) {
        bool Targeted = (Targets >> Each) & 1u;
        CHECK(VicTouched(Each) == Targeted);
        CHECK(SnapshotPending(&VicAfter, Each, VicIpiSource) == (SnapshotPending(&VicBefore, Each, VicIpiSource) || Targeted));
        if (Targeted)
            VicIpiWord[Each] |= 1u << Message;
    }
}

static void VicOpRoute(READER *Reader)
{
    uint32_t Source = VicReadSource(Reader);
    uint8_t PolicyByte = U8(Reader) % (IrRoutingPolicyCount + 2);
    uint32_t TargetCpu = VicReadCpu(Reader);
    uint8_t MaskByte = U8(Reader);
    IR_CPU_SET Mask = SetOfMask(MaskFromByte(MaskByte));
    IR_ROUTE_CONFIG Config = {.Policy = (IR_ROUTING_POLICY)PolicyByte, .TargetCpu = TargetCpu,
                              .Mask = (MaskByte & 0x80) && Bit(Reader) ? NULL : &Mask};
    IR_ROUTING_POLICY OldPolicy = IrRoutingPolicyCount, NewPolicy;
    uint32_t OldCpu = 0, NewCpu;
    IR_CPU_SET OldMask, NewMask;
    IrCpuSetZero(&OldMask);
    bool Exists = VicSourceExists(Source);
    if (Exists)
        CHECK_STATUS(VicQueryRoute(Vic, Source, &OldPolicy, &OldCpu, &OldMask), IRQ_STATUS_SUCCESS);
    VicTakeSnapshot(&VicBefore);
    IRQ_STATUS Status = VicSetRoute(Vic, Source, &Config);
    VicTakeSnapshot(&VicAfter);
    CHECK(memcmp(&VicBefore, &VicAfter, sizeof(VicBefore)) == 0);
    if (!Exists) {
        CHECK(Status != IRQ_STATUS_SUCCESS);
        return;
    }
    CHECK_STATUS(VicQueryRoute(Vic, Source, &NewPolicy, &NewCpu, &NewMask), IRQ_STATUS_SUCCESS);
    if (Status == IRQ_STATUS_SUCCESS) {
        CHECK(PolicyByte < IrRoutingPolicyCount && NewPolicy == Config.Policy);
        if (Config.Policy == IrRoutingFixedCpu)
            CHECK(NewCpu == TargetCpu && TargetCpu < CpuCount);
        return;
    }
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_VECTOR,
                                         IRQ_STATUS_INVALID_CPU, IRQ_STATUS_EMPTY_AFFINITY};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
    CHECK(NewPolicy == OldPolicy && NewCpu == OldCpu && IrCpuSetEqual(&NewMask, &OldMask));
}

static void VicOpOnline(READER *Reader)
{
    uint32_t Cpu = VicReadCpu(Reader);
    bool Online = Bit(Reader);
    VicTakeSnapshot(&VicBefore);
    IRQ_STATUS Status = VicSetCpuOnline(Vic, Cpu, Online);
    VicTakeSnapshot(&VicAfter);
    if (Cpu < CpuCount) {
        CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
        CHECK(VicAfter.States[Cpu].Online == Online);
        for (uint32_t Each = 0; Each < CpuCount; Each++)
            CHECK(memcmp(VicBefore.Pending[Each], VicAfter.Pending[Each], sizeof(VicBefore.Pending[Each])) == 0);
        return;
    }
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_CPU, IRQ_STATUS_INVALID_PARAMETER};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
}

static void OpVic(READER *Reader)
{
    CurrentOp = "Vic";
    uint8_t Which = U8(Reader) % 16;
    switch (Which) {
    case 0:
    case 1:
    case 2:
        VicOpRaise(Reader, Which == 2);
        break;
    case 3:
        VicOpClear(Reader);
        break;
    case 4:
    case 5:
        VicOpClaim(Reader);
        break;
    case 6:
        VicOpIpi(Reader);
        break;
    case 7:
        VicOpRoute(Reader);
        break;
    case 8:
        VicOpOnline(Reader);
        break;
    default:
        VicOpCpu(Reader, (uint8_t)(Which - 9 + (Which == 15 ? U8(Reader) % 3 : 0)));
        break;
    }
    VicTakeSnapshot(&VicAfter);
    VicCheckInvariants(&VicAfter);
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
        Expected += IsDeviceVector(Vector);
    CHECK(DeviceVectorCount == Expected && Usage.Allocated == 0);
    return VicCreate((Shape & 0x40) != 0);
}

static void ResetModel(void)
{
    memset(Objects, 0, sizeof(Objects));
    memset(Asserted, 0, sizeof(Asserted));
    memset(IpiHandled, 0, sizeof(IpiHandled));
    memset(WorkerRuns, 0, sizeof(WorkerRuns));
    NextSequence = 0;
    DeadCount = 0;
    DirectCount = 0;
}

static void TearDown(void)
{
    CurrentOp = "teardown";
    for (uint32_t Index = 0; Index < MAX_OBJECTS; Index++) {
        if (Objects[Index].Connected) {
            CHECK_STATUS(IoDisconnectInterrupt(Objects[Index].Object), IRQ_STATUS_SUCCESS);
            ForgetObject(&Objects[Index]);
        }
    }
    while (DirectCount > 0) {
        CHECK_STATUS(KeFreeVector(Direct[0].Cpu, Direct[0].Vector), IRQ_STATUS_SUCCESS);
        RemoveDirect(0);
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
    VicDestroy();
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
        switch (Op % 15) {
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
        default:
            OpVic(&Reader);
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
