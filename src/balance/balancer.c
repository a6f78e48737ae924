/* SPDX-License-Identifier: MIT */
/*
 * The balancer driver (balance.h, IrBalancer*; docs/balancer.md): measured
 * loads in, IrBalancePlan, moves out through IoSetInterruptTarget.
 *
 * Everything lives in the caller's storage, carved at initialisation into
 * the object, one record per interrupt, the planner's input arrays (an
 * affinity set per interrupt), the move list and the planner's scratch.
 * The balancer reads Ke and Io only through their public calls, so it is
 * indifferent to how Io moves an interrupt (one vector per CPU of the set
 * today, one vector moved in two phases later): it needs only the
 * interrupt's CPU, affinity, vector class and per-CPU counts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/balance.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

/* docs/balancer.md, "Options": a 2% gain is below what a window's jitter
 * moves and well inside the 5% the balancer is held to; 64 moves a round
 * spread a pile-up of 64 interrupts in one round. */
#define IRP_DEFAULT_GAIN_PERCENT IR_BALANCER_DEFAULT_GAIN_PERCENT
#define IRP_DEFAULT_MAX_MOVES IR_BALANCER_DEFAULT_MAX_MOVES

typedef struct _IRP_ENTRY {
    KINTERRUPT *Interrupt;
    uint64_t LastCount;
    uint32_t Weight;
    uint8_t Hint;
    bool Sampled;
} IRP_ENTRY;

struct _IR_BALANCER {
    uint32_t MaxInterrupts;
    uint32_t CpuCount;
    uint32_t Count;
    uint32_t Round;
    bool OneShot;
    bool OneShotSpent;
    IR_BALANCE_OPTIONS PlanOptions;
    IR_BALANCE_FREE_VECTORS FreeVectors;
    void *FreeVectorsContext;
    IR_CPU_SET Banned;
    IR_CPU_SET Online;
    IRP_ENTRY *Entries;              /* [MaxInterrupts], the first Count in use */
    IR_BALANCE_INTERRUPT *Planned;   /* [MaxInterrupts]: this round's planner input */
    IR_CPU_SET *Affinities;          /* [MaxInterrupts] */
    uint32_t *EntryOfPlanned;        /* [MaxInterrupts]: Planned[k] is Entries[EntryOfPlanned[k]] */
    IR_BALANCE_MOVE *Moves;          /* [MaxInterrupts]: a round moves each interrupt at most once */
    uint64_t *CpuLoad;               /* [CpuCount] */
    void *Scratch;
    size_t ScratchSize;
};

static size_t IrpAlign(size_t Bytes)
{
    return (Bytes + 7u) & ~(size_t)7u;
}

/* The pieces of the storage, in order; Base NULL only sizes them. */
static size_t IrpLayout(IR_BALANCER *Balancer, uint8_t *Base, uint32_t MaxInterrupts, uint32_t CpuCount)
{
    size_t Offset = IrpAlign(sizeof(IR_BALANCER));
    size_t Sizes[7] = {
        sizeof(IRP_ENTRY) * MaxInterrupts,       sizeof(IR_BALANCE_INTERRUPT) * MaxInterrupts,
        sizeof(IR_CPU_SET) * MaxInterrupts,      sizeof(uint32_t) * MaxInterrupts,
        sizeof(IR_BALANCE_MOVE) * MaxInterrupts, sizeof(uint64_t) * CpuCount,
        IrBalanceQueryPlanScratchSize(CpuCount, MaxInterrupts),
    };
    size_t Offsets[7];
    for (uint32_t Piece = 0; Piece < 7u; Piece++) {
        Offsets[Piece] = Offset;
        Offset += IrpAlign(Sizes[Piece]);
    }
    if (Base != NULL) {
        Balancer->Entries = (IRP_ENTRY *)(void *)(Base + Offsets[0]);
        Balancer->Planned = (IR_BALANCE_INTERRUPT *)(void *)(Base + Offsets[1]);
        Balancer->Affinities = (IR_CPU_SET *)(void *)(Base + Offsets[2]);
        Balancer->EntryOfPlanned = (uint32_t *)(void *)(Base + Offsets[3]);
        Balancer->Moves = (IR_BALANCE_MOVE *)(void *)(Base + Offsets[4]);
        Balancer->CpuLoad = (uint64_t *)(void *)(Base + Offsets[5]);
        Balancer->Scratch = Base + Offsets[6];
        Balancer->ScratchSize = Sizes[6];
    }
    return Offset;
}

IRQ_STATUS IrBalancerQueryStorageSize(uint32_t MaxInterrupts, size_t *Size)
{
    if (Size == NULL || MaxInterrupts == 0 || MaxInterrupts > IR_BALANCE_MAX_INTERRUPTS)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t CpuCount = KeQueryProcessorCount();
    if (CpuCount == 0)
        return IRQ_STATUS_NOT_INITIALIZED;
    *Size = IrpLayout(NULL, NULL, MaxInterrupts, CpuCount);
    return IRQ_STATUS_SUCCESS;
}

/* ---- Initialisation ------------------------------------------------------------------- */

static IRQ_STATUS IrpCheckOptions(const IR_BALANCER_OPTIONS *Options)
{
    if (Options != NULL && (Options->MaxMovesPerRound == 0 || Options->MinimumGainPercent > 100u))
        return IRQ_STATUS_INVALID_PARAMETER;
    return IRQ_STATUS_SUCCESS;
}

static void IrpTakeOptions(IR_BALANCER *Balancer, const IR_BALANCER_OPTIONS *Options)
{
    Balancer->OneShot = false;
    Balancer->PlanOptions.MinimumGain = 0;
    Balancer->PlanOptions.MinimumGainPercent = IRP_DEFAULT_GAIN_PERCENT;
    Balancer->PlanOptions.MaxMoves = IRP_DEFAULT_MAX_MOVES;
    Balancer->PlanOptions.SpreadRest = false;
    Balancer->FreeVectors = NULL;
    Balancer->FreeVectorsContext = NULL;
    IrCpuSetZero(&Balancer->Banned);
    if (Options == NULL)
        return;
    Balancer->OneShot = Options->OneShot;
    Balancer->PlanOptions.MinimumGain = Options->MinimumGain;
    Balancer->PlanOptions.MinimumGainPercent = Options->MinimumGainPercent;
    Balancer->PlanOptions.MaxMoves = Options->MaxMovesPerRound;
    Balancer->PlanOptions.SpreadRest = Options->SpreadRest;
    Balancer->FreeVectors = Options->FreeVectors;
    Balancer->FreeVectorsContext = Options->FreeVectorsContext;
    if (Options->Banned != NULL)
        IrCpuSetCopy(&Balancer->Banned, Options->Banned);
}

IRQ_STATUS IrBalancerInitialize(void *Storage, size_t Size, uint32_t MaxInterrupts,
                                const IR_BALANCER_OPTIONS *Options, IR_BALANCER **Balancer)
{
    if (Storage == NULL || Balancer == NULL || ((uintptr_t)Storage % _Alignof(uint64_t)) != 0 ||
        MaxInterrupts == 0 || MaxInterrupts > IR_BALANCE_MAX_INTERRUPTS ||
        IrpCheckOptions(Options) != IRQ_STATUS_SUCCESS)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t CpuCount = KeQueryProcessorCount();
    if (CpuCount == 0)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Size < IrpLayout(NULL, NULL, MaxInterrupts, CpuCount))
        return IRQ_STATUS_BUFFER_TOO_SMALL;
    IR_BALANCER *Object = Storage;
    (void)IrpLayout(Object, Storage, MaxInterrupts, CpuCount);
    Object->MaxInterrupts = MaxInterrupts;
    Object->CpuCount = CpuCount;
    Object->Count = 0;
    Object->Round = 0;
    Object->OneShotSpent = false;
    IrpTakeOptions(Object, Options);
    *Balancer = Object;
    return IRQ_STATUS_SUCCESS;
}

/* ---- The interrupts ------------------------------------------------------------------- */

static uint32_t IrpFind(const IR_BALANCER *Balancer, const KINTERRUPT *Interrupt)
{
    for (uint32_t Index = 0; Index < Balancer->Count; Index++) {
        if (Balancer->Entries[Index].Interrupt == Interrupt)
            return Index;
    }
    return IR_CPU_NONE;
}

IRQ_STATUS IrBalancerAddInterrupt(IR_BALANCER *Balancer, KINTERRUPT *Interrupt, IR_BALANCE_HINT Hint,
                                  uint32_t Weight)
{
    if (Balancer == NULL || Interrupt == NULL || (unsigned)Hint >= IrBalanceHintCount || Weight == 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (IrpFind(Balancer, Interrupt) != IR_CPU_NONE)
        return IRQ_STATUS_ALREADY_CONNECTED;
    if (Balancer->Count == Balancer->MaxInterrupts)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    /* Only a movable interrupt Io holds answers this (io.h). */
    IRQ_STATUS Status = IoQueryInterruptTarget(Interrupt, NULL, NULL);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IRP_ENTRY *Entry = &Balancer->Entries[Balancer->Count++];
    Entry->Interrupt = Interrupt;
    Entry->LastCount = 0;
    Entry->Weight = Weight;
    Entry->Hint = (uint8_t)Hint;
    Entry->Sampled = false;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS IrBalancerRemoveInterrupt(IR_BALANCER *Balancer, KINTERRUPT *Interrupt)
{
    if (Balancer == NULL || Interrupt == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t Index = IrpFind(Balancer, Interrupt);
    if (Index == IR_CPU_NONE)
        return IRQ_STATUS_NOT_CONNECTED;
    Balancer->Entries[Index] = Balancer->Entries[--Balancer->Count];
    return IRQ_STATUS_SUCCESS;
}

/* ---- One round ------------------------------------------------------------------------ */

/* The default free-vector count (IR_BALANCER_OPTIONS.FreeVectors NULL):
 * the device vectors of the class (those KeIrqlOfVector gives an IRQL)
 * that Ke has not handed out. A system vector inside the class (amd64's
 * 0x3F, 0x50, 0xC1) is counted as free: Ke's public calls do not tell it
 * apart, so a move may still be refused, and is then reported. */
static uint32_t IrpKeFreeVectors(void *Context, uint32_t Cpu, uint8_t Class)
{
    (void)Context;
    uint32_t Free = 0;
    for (uint32_t Low = 0; Low < 16u; Low++) {
        uint8_t Vector = (uint8_t)(Class * 16u + Low);
        if (KeIrqlOfVector(Vector) != KE_IRQL_ANY && !KeIsVectorAllocated(Cpu, Vector))
            Free++;
    }
    return Free;
}

/* The window's load: delta x weight, held below UINT64_MAX / (MaxInterrupts
 * + 1) so that the planner's sum cannot overflow. A total that went down
 * (counts reset) starts a new window at the total. */
static uint64_t IrpWindowLoad(const IR_BALANCER *Balancer, IRP_ENTRY *Entry, uint64_t Total)
{
    uint64_t Delta = Total >= Entry->LastCount ? Total - Entry->LastCount : Total;
    Entry->LastCount = Total;
    uint64_t Limit = UINT64_MAX / ((uint64_t)Balancer->MaxInterrupts + 1u);
    if (Delta != 0 && Delta > Limit / Entry->Weight)
        return Limit;
    return Delta * Entry->Weight;
}

/* Samples one entry; adds it to the planner's input when it takes part.
 * Returns false when it was skipped (not connected, first sample). */
static bool IrpSampleEntry(IR_BALANCER *Balancer, uint32_t Index, uint32_t *PlannedCount)
{
    IRP_ENTRY *Entry = &Balancer->Entries[Index];
    uint32_t Cpu;
    IR_ROUTING_POLICY Policy;
    uint32_t Slot = *PlannedCount;
    if (IoQueryInterruptTarget(Entry->Interrupt, &Cpu, &Policy) != IRQ_STATUS_SUCCESS ||
        IoQueryInterruptAffinity(Entry->Interrupt, &Balancer->Affinities[Slot]) != IRQ_STATUS_SUCCESS ||
        Cpu >= Balancer->CpuCount)
        return false;
    uint64_t Load = IrpWindowLoad(Balancer, Entry, KeQueryInterruptTotalCount(Entry->Interrupt, NULL));
    bool FirstSample = !Entry->Sampled;
    Entry->Sampled = true;
    /* Ignored: not measured; a policy that moves it after each interrupt
     * spreads its load where this round cannot see it: left out. */
    if (FirstSample || Entry->Hint == IrBalanceHintIgnore || Policy != IrRoutingFixedCpu)
        return !FirstSample;
    IR_BALANCE_INTERRUPT *Planned = &Balancer->Planned[Slot];
    Planned->Load = Load;
    Planned->Affinity = &Balancer->Affinities[Slot];
    Planned->Cpu = Cpu;
    Planned->Class = (uint8_t)(KeGetInterruptVector(Entry->Interrupt) >> 4);
    Planned->Flags = Entry->Hint == IrBalanceHintPin ? IR_BALANCE_PINNED : 0u;
    Balancer->EntryOfPlanned[Slot] = Index;
    *PlannedCount = Slot + 1u;
    return true;
}

static void IrpStartReport(const IR_BALANCER *Balancer, IR_BALANCE_REPORT *Report)
{
    Report->Round = Balancer->Round;
    Report->Planned = false;
    Report->MovesTried = 0;
    Report->MovesFailed = 0;
    Report->MovesRetryLater = 0;
    Report->Skipped = 0;
    Report->Stranded = 0;
    Report->MaxLoadBefore = 0;
    Report->MaxLoadAfter = 0;
    Report->Bound = 0;
}

/* Makes the planned moves; the loads after are those of the moves Io
 * accepted. */
static void IrpApply(IR_BALANCER *Balancer, const IR_BALANCE_PLAN *Plan, uint32_t PlannedCount,
                     IR_BALANCE_REPORT *Report)
{
    for (uint32_t Cpu = 0; Cpu < Balancer->CpuCount; Cpu++)
        Balancer->CpuLoad[Cpu] = 0;
    for (uint32_t Slot = 0; Slot < PlannedCount; Slot++)
        Balancer->CpuLoad[Balancer->Planned[Slot].Cpu] += Balancer->Planned[Slot].Load;
    for (uint32_t Index = 0; Index < Plan->MoveCount; Index++) {
        const IR_BALANCE_MOVE *Move = &Plan->Moves[Index];
        KINTERRUPT *Interrupt = Balancer->Entries[Balancer->EntryOfPlanned[Move->Interrupt]].Interrupt;
        IRQ_STATUS Status = IoSetInterruptTarget(Interrupt, Move->To);
        if (Status == IRQ_STATUS_SUCCESS) {
            uint64_t Load = Balancer->Planned[Move->Interrupt].Load;
            Balancer->CpuLoad[Move->From] -= Load;
            Balancer->CpuLoad[Move->To] += Load;
        } else {
            /* Never fatal: the interrupt stays where it is, its load is
             * charged there, and the next round plans from that. A move in
             * progress (INVALID_STATE) or a destination out of vectors of
             * its class (VECTOR_EXHAUSTED) is the normal case of it. */
            Report->MovesFailed++;
            if (Status == IRQ_STATUS_INVALID_STATE || Status == IRQ_STATUS_VECTOR_EXHAUSTED)
                Report->MovesRetryLater++;
        }
        if (Index < Report->MoveCapacity) {
            IR_BALANCER_MOVE *Out = &Report->Moves[Index];
            Out->Interrupt = Interrupt;
            Out->From = Move->From;
            Out->To = Move->To;
            Out->Status = Status;
        }
    }
    Report->MovesTried = Plan->MoveCount;
    uint64_t Max = 0;
    for (uint32_t Cpu = 0; Cpu < Balancer->CpuCount; Cpu++) {
        if (Balancer->CpuLoad[Cpu] > Max)
            Max = Balancer->CpuLoad[Cpu];
    }
    Report->MaxLoadAfter = Max;
}

static void IrpPlanAndApply(IR_BALANCER *Balancer, uint32_t PlannedCount, IR_BALANCE_REPORT *Report)
{
    KeQueryOnlineProcessors(&Balancer->Online);
    IR_BALANCE_CPUS Cpus = {
        .Count = Balancer->CpuCount,
        .Online = &Balancer->Online,
        .Banned = &Balancer->Banned,
        .FreeVectors = Balancer->FreeVectors != NULL ? Balancer->FreeVectors : IrpKeFreeVectors,
        .FreeVectorsContext = Balancer->FreeVectorsContext,
    };
    IR_BALANCE_PLAN Plan = {.Moves = Balancer->Moves, .MoveCapacity = Balancer->MaxInterrupts};
    /* The input is the balancer's own: the one failure left is no eligible
     * CPU (all online CPUs banned), and then nothing moves. */
    if (IrBalancePlan(&Cpus, Balancer->Planned, PlannedCount, &Balancer->PlanOptions, Balancer->Scratch,
                      Balancer->ScratchSize, &Plan) != IRQ_STATUS_SUCCESS)
        return;
    Report->Planned = true;
    Report->Stranded = Plan.Stranded;
    Report->MaxLoadBefore = Plan.MaxLoadBefore;
    Report->Bound = Plan.Bound;
    IrpApply(Balancer, &Plan, PlannedCount, Report);
    if (Balancer->OneShot)
        Balancer->OneShotSpent = true;
}

IRQ_STATUS IrBalancerRound(IR_BALANCER *Balancer, IR_BALANCE_REPORT *Report)
{
    if (Balancer == NULL || Report == NULL || (Report->Moves == NULL && Report->MoveCapacity != 0))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (KeQueryProcessorCount() != Balancer->CpuCount)
        return IRQ_STATUS_NOT_INITIALIZED;
    Balancer->Round++;
    IrpStartReport(Balancer, Report);
    uint32_t PlannedCount = 0;
    for (uint32_t Index = 0; Index < Balancer->Count; Index++) {
        if (!IrpSampleEntry(Balancer, Index, &PlannedCount))
            Report->Skipped++;
    }
    if (Balancer->Round > 1u && !Balancer->OneShotSpent)
        IrpPlanAndApply(Balancer, PlannedCount, Report);
    return IRQ_STATUS_SUCCESS;
}
