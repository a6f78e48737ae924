/* SPDX-License-Identifier: MIT */
/*
 * The balancer's planner (balance.h, IrBalancePlan; docs/balancer.md): a
 * pure function from loads to moves.
 *
 * WHAT IT MINIMISES. The maximum per-CPU load (makespan, in scheduling
 * terms). An interrupt is one job that cannot be split, so the optimum is at
 * least max(mean, largest job); finding it is NP-hard, and a balancer must
 * also move as little as it can. So the planner does local search from
 * where the interrupts are now, with the two neighbourhoods that the
 * classic makespan analyses use: a MOVE of one interrupt from the most
 * loaded CPU H to another CPU, and a SWAP of one of H's interrupts with a
 * lighter one elsewhere. A move of load l from H (load LH) to D (load LD)
 * turns the pair's maximum LH into max(LH - l, LD + l); it lowers H's load
 * by gain = min(l, LH - LD - l), which for a given l is largest on the
 * least loaded D, so only that D is looked at per interrupt. Each accepted
 * step lowers max(LH, LD) strictly, so the sorted load vector falls
 * lexicographically: no cycle, and a load that stays the same gets no move
 * in the next round (the step that would be taken was refused already).
 *
 * THE REST SPREAD. When H cannot be relieved, the maximum stays; H is then
 * set aside (FROZEN) and the next most loaded CPU is relieved, and so on,
 * so that one huge interrupt alone on its CPU does not leave the others
 * crowded. A move can open a move for a CPU set aside earlier (a CPU of its
 * affinity got lighter), so the search runs passes until one makes no move:
 * the round ends where no CPU can be relieved, and the same loads give no
 * move next round.
 *
 * ONE DIFF. An interrupt may be moved more than once while planning; the
 * plan is where each ends up against where it started, so it moves at most
 * once per round (none if it comes back), and the cap counts interrupts
 * that move.
 *
 * COST. One step: finding H is O(CPUs); the move candidates are H's
 * interrupts (a list per CPU), each with one pass over its affinity's
 * eligible CPUs; a swap pairs each of H's interrupts with every other
 * interrupt, O(interrupts on H x interrupts), searched only when no move
 * qualifies. The steps are bounded (IrpStepBudget).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/balance.h>

#define IRP_NONE 0xFFFFFFFFu

/* Per-interrupt state bytes in the scratch. */
#define IRP_STATE_FREE 0u  /* may move */
#define IRP_STATE_STUCK 1u /* must leave its CPU but has nowhere to go */

/* The work: the input, the eligible and frozen CPUs, and the scratch
 * carved into per-CPU load, interrupt list heads and counts of interrupts
 * away from home, and per-interrupt planned CPU, list links and state. */
typedef struct _IRP_WORK {
    const IR_BALANCE_CPUS *Cpus;
    const IR_BALANCE_INTERRUPT *Interrupts;
    uint32_t InterruptCount;
    IR_CPU_SET Eligible;
    IR_CPU_SET Frozen;
    uint64_t *Load;
    uint32_t *Head;
    uint32_t *Away;
    uint32_t *Where;
    uint32_t *Next;
    uint32_t *Prev;
    uint8_t *State;
    uint32_t Cap;       /* interrupts that may end up away from home */
    uint32_t Moved;     /* interrupts away from home now */
    uint32_t Steps;     /* placement changes left (IrpStepBudget) */
    uint64_t Bound;     /* IrpBound: a move that keeps its destination within it "fits" */
} IRP_WORK;

static size_t IrpAlign8(size_t Bytes)
{
    return (Bytes + 7u) & ~(size_t)7u;
}

size_t IrBalanceQueryPlanScratchSize(uint32_t CpuCount, uint32_t InterruptCount)
{
    if (CpuCount == 0 || CpuCount > IR_MAX_CPUS || InterruptCount > IR_BALANCE_MAX_INTERRUPTS)
        return 0;
    return IrpAlign8((size_t)CpuCount * sizeof(uint64_t)) + 2u * IrpAlign8((size_t)CpuCount * sizeof(uint32_t)) +
           3u * IrpAlign8((size_t)InterruptCount * sizeof(uint32_t)) + IrpAlign8((size_t)InterruptCount);
}

/* ---- Input checks --------------------------------------------------------------------- */

static IRQ_STATUS IrpCheckInterrupts(const IR_BALANCE_CPUS *Cpus, const IR_BALANCE_INTERRUPT *Interrupts,
                                     uint32_t InterruptCount)
{
    uint64_t Total = 0;
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    for (uint32_t Index = 0; Index < InterruptCount; Index++) {
        const IR_BALANCE_INTERRUPT *Interrupt = &Interrupts[Index];
        if (Interrupt->Class >= IR_BALANCE_CLASS_COUNT || (Interrupt->Flags & ~IR_BALANCE_PINNED) != 0 ||
            Interrupt->Load > UINT64_MAX - Total)
            return IRQ_STATUS_INVALID_PARAMETER;
        Total += Interrupt->Load;
        if (Interrupt->Cpu >= Cpus->Count)
            Status = IRQ_STATUS_INVALID_CPU; /* an INVALID_PARAMETER found later wins: one order */
    }
    return Status;
}

static IRQ_STATUS IrpCheckInput(const IR_BALANCE_CPUS *Cpus, const IR_BALANCE_INTERRUPT *Interrupts,
                                uint32_t InterruptCount, const IR_BALANCE_OPTIONS *Options, void *Scratch,
                                size_t ScratchSize, const IR_BALANCE_PLAN *Plan)
{
    if (Cpus == NULL || Options == NULL || Plan == NULL || (Interrupts == NULL && InterruptCount != 0) ||
        (Plan->Moves == NULL && Plan->MoveCapacity != 0) || Options->MaxMoves == 0 ||
        Options->MinimumGainPercent > 100u || InterruptCount > IR_BALANCE_MAX_INTERRUPTS)
        return IRQ_STATUS_INVALID_PARAMETER;
    IRQ_STATUS Status = IrpCheckInterrupts(Cpus, Interrupts, InterruptCount);
    if (Status == IRQ_STATUS_INVALID_PARAMETER)
        return Status;
    if (Cpus->Count == 0 || Cpus->Count > IR_MAX_CPUS)
        return IRQ_STATUS_INVALID_CPU;
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Scratch == NULL || ScratchSize < IrBalanceQueryPlanScratchSize(Cpus->Count, InterruptCount))
        return IRQ_STATUS_BUFFER_TOO_SMALL;
    return IRQ_STATUS_SUCCESS;
}

/* Eligible = CPUs below Count, online, not banned. */
static void IrpBuildEligible(const IR_BALANCE_CPUS *Cpus, IR_CPU_SET *Eligible)
{
    IrCpuSetFill(Eligible, Cpus->Count);
    if (Cpus->Online != NULL)
        IrCpuSetAnd(Eligible, Eligible, Cpus->Online);
    if (Cpus->Banned != NULL)
        IrCpuSetAndNot(Eligible, Eligible, Cpus->Banned);
}

/* ---- Small queries over the work ------------------------------------------------------ */

static bool IrpInAffinity(const IR_BALANCE_INTERRUPT *Interrupt, uint32_t Cpu)
{
    return Interrupt->Affinity == NULL || IrCpuSetContains(Interrupt->Affinity, Cpu);
}

static bool IrpIsPinned(const IR_BALANCE_INTERRUPT *Interrupt)
{
    return (Interrupt->Flags & IR_BALANCE_PINNED) != 0;
}

/* Whether the interrupt must leave its CPU: not eligible, or outside its
 * affinity (pinned ones stay where they are, whatever the CPU). */
static bool IrpIsMisplaced(const IRP_WORK *Work, uint32_t Index)
{
    const IR_BALANCE_INTERRUPT *Interrupt = &Work->Interrupts[Index];
    uint32_t Cpu = Work->Where[Index];
    return !IrpIsPinned(Interrupt) && (!IrCpuSetContains(&Work->Eligible, Cpu) || !IrpInAffinity(Interrupt, Cpu));
}

/* Whether the interrupt can be placed on some eligible CPU at all. */
static bool IrpHasEligibleCpu(const IRP_WORK *Work, const IR_BALANCE_INTERRUPT *Interrupt)
{
    return Interrupt->Affinity == NULL ? !IrCpuSetIsEmpty(&Work->Eligible)
                                       : IrCpuSetIntersects(Interrupt->Affinity, &Work->Eligible);
}

/* Whether Index may go to Cpu for want of a vector: back home it needs
 * none; elsewhere a vector of its class must be free once the interrupts
 * planned onto Cpu from other CPUs have taken theirs (an old vector is
 * freed only after its move, so a move away from Cpu gives none back
 * within the round). */
static bool IrpHasFreeVector(const IRP_WORK *Work, uint32_t Index, uint32_t Cpu)
{
    const IR_BALANCE_INTERRUPT *Interrupt = &Work->Interrupts[Index];
    if (Work->Cpus->FreeVectors == NULL || Interrupt->Cpu == Cpu)
        return true;
    uint32_t Taken = 0;
    if (Work->Away[Cpu] != 0) {
        for (uint32_t Other = Work->Head[Cpu]; Other != IRP_NONE; Other = Work->Next[Other]) {
            if (Work->Interrupts[Other].Cpu != Cpu && Work->Interrupts[Other].Class == Interrupt->Class)
                Taken++;
        }
    }
    return Work->Cpus->FreeVectors(Work->Cpus->FreeVectorsContext, Cpu, Interrupt->Class) > Taken;
}

/* The change in interrupts away from home if Index went to Cpu. */
static int32_t IrpMovedDelta(const IRP_WORK *Work, uint32_t Index, uint32_t Cpu)
{
    uint32_t Home = Work->Interrupts[Index].Cpu;
    bool AwayNow = Work->Where[Index] != Home;
    bool AwayThen = Cpu != Home;
    return (int32_t)AwayThen - (int32_t)AwayNow;
}

static bool IrpWithinCap(const IRP_WORK *Work, int32_t Delta)
{
    return (int64_t)Work->Moved + Delta <= (int64_t)Work->Cap;
}

/* The least loaded eligible CPU of the interrupt's affinity other than
 * Except that it may go to (a free vector, the cap), ties: lowest CPU; or
 * IRP_NONE. The vector callback is asked only about a CPU that would beat
 * the best so far. */
static uint32_t IrpLeastLoadedDestination(const IRP_WORK *Work, uint32_t Index, uint32_t Except)
{
    const IR_BALANCE_INTERRUPT *Interrupt = &Work->Interrupts[Index];
    uint32_t Best = IRP_NONE;
    uint64_t BestLoad = UINT64_MAX;
    uint32_t Words = (Work->Cpus->Count + 63u) / 64u;
    for (uint32_t Word = 0; Word < Words; Word++) {
        uint64_t Bits = Work->Eligible.Bits[Word];
        if (Interrupt->Affinity != NULL)
            Bits &= Interrupt->Affinity->Bits[Word];
        while (Bits != 0) {
            uint32_t Cpu = Word * 64u + (uint32_t)__builtin_ctzll(Bits);
            Bits &= Bits - 1u;
            if (Cpu == Except || (Best != IRP_NONE && Work->Load[Cpu] >= BestLoad))
                continue;
            if (!IrpWithinCap(Work, IrpMovedDelta(Work, Index, Cpu)) || !IrpHasFreeVector(Work, Index, Cpu))
                continue;
            Best = Cpu;
            BestLoad = Work->Load[Cpu];
        }
    }
    return Best;
}

/* The most loaded eligible CPU not set aside (ties: lowest), or IRP_NONE. */
static uint32_t IrpMostLoaded(const IRP_WORK *Work)
{
    uint32_t Best = IRP_NONE;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Work->Eligible)
    {
        if (!IrCpuSetContains(&Work->Frozen, Cpu) && (Best == IRP_NONE || Work->Load[Cpu] > Work->Load[Best]))
            Best = Cpu;
    }
    return Best;
}

static uint64_t IrpMaxLoad(const IRP_WORK *Work)
{
    uint64_t Max = 0;
    for (uint32_t Cpu = 0; Cpu < Work->Cpus->Count; Cpu++) {
        if (Work->Load[Cpu] > Max)
            Max = Work->Load[Cpu];
    }
    return Max;
}

/* How much moving Load from a CPU at High to one at Low lowers the higher
 * of the two: min(Load, High - Low - Load), or 0 when it would not. */
static uint64_t IrpGain(uint64_t High, uint64_t Low, uint64_t Load)
{
    if (Load == 0 || Low >= High || Load >= High - Low)
        return 0;
    uint64_t Rest = High - Low - Load;
    return Load < Rest ? Load : Rest;
}

/* ---- Placement: the per-CPU lists ----------------------------------------------------- */

static void IrpLink(IRP_WORK *Work, uint32_t Index, uint32_t Cpu)
{
    Work->Where[Index] = Cpu;
    Work->Prev[Index] = IRP_NONE;
    Work->Next[Index] = Work->Head[Cpu];
    if (Work->Head[Cpu] != IRP_NONE)
        Work->Prev[Work->Head[Cpu]] = Index;
    Work->Head[Cpu] = Index;
    Work->Load[Cpu] += Work->Interrupts[Index].Load;
    if (Work->Interrupts[Index].Cpu != Cpu) {
        Work->Away[Cpu]++;
        Work->Moved++;
    }
}

static void IrpUnlink(IRP_WORK *Work, uint32_t Index)
{
    uint32_t Cpu = Work->Where[Index];
    if (Work->Prev[Index] != IRP_NONE)
        Work->Next[Work->Prev[Index]] = Work->Next[Index];
    else
        Work->Head[Cpu] = Work->Next[Index];
    if (Work->Next[Index] != IRP_NONE)
        Work->Prev[Work->Next[Index]] = Work->Prev[Index];
    Work->Load[Cpu] -= Work->Interrupts[Index].Load;
    if (Work->Interrupts[Index].Cpu != Cpu) {
        Work->Away[Cpu]--;
        Work->Moved--;
    }
}

static void IrpMove(IRP_WORK *Work, uint32_t Index, uint32_t To)
{
    IrpUnlink(Work, Index);
    IrpLink(Work, Index, To);
    if (Work->Steps != 0)
        Work->Steps--;
}

/* ---- Step 1: off CPUs that may not keep them ------------------------------------------ */

/* The heaviest interrupt that must still leave its CPU (ties: lowest
 * index), or IRP_NONE. */
static uint32_t IrpHeaviestMisplaced(const IRP_WORK *Work)
{
    uint32_t Best = IRP_NONE;
    for (uint32_t Index = 0; Index < Work->InterruptCount; Index++) {
        if (Work->State[Index] != IRP_STATE_FREE || !IrpIsMisplaced(Work, Index))
            continue;
        if (Best == IRP_NONE || Work->Interrupts[Index].Load > Work->Interrupts[Best].Load)
            Best = Index;
    }
    return Best;
}

static void IrpEvacuate(IRP_WORK *Work)
{
    for (;;) {
        uint32_t Index = IrpHeaviestMisplaced(Work);
        if (Index == IRP_NONE)
            return;
        uint32_t To = IrpLeastLoadedDestination(Work, Index, IRP_NONE);
        if (To == IRP_NONE)
            Work->State[Index] = IRP_STATE_STUCK;
        else
            IrpMove(Work, Index, To);
    }
}

/* ---- Step 2: relieve the most loaded CPU ---------------------------------------------- */

typedef struct _IRP_STEP {
    uint64_t Gain;
    uint32_t First;   /* the interrupt leaving H */
    uint32_t Second;  /* a swap's interrupt coming to H, or IRP_NONE for a move */
    uint32_t To;      /* where First goes */
} IRP_STEP;

/* Whether (Gain, To, First, Second) beats Best: more gain, then the lower
 * destination, then the lower indices (the one deterministic order). */
static bool IrpBetter(const IRP_STEP *Best, uint64_t Gain, uint32_t To, uint32_t First, uint32_t Second)
{
    if (Gain != Best->Gain)
        return Gain > Best->Gain;
    if (To != Best->To)
        return To < Best->To;
    if (First != Best->First)
        return First < Best->First;
    return Second < Best->Second;
}

static bool IrpMayLeave(const IRP_WORK *Work, uint32_t Index)
{
    const IR_BALANCE_INTERRUPT *Interrupt = &Work->Interrupts[Index];
    return !IrpIsPinned(Interrupt) && Interrupt->Load != 0;
}

/* Moves that FIT (the destination stays within the bound) come first, then
 * the gain: when H sheds a pile, each destination is then filled up to the
 * bound with the largest interrupt that fits, as bin packing's first-fit
 * decreasing does, instead of getting the largest interrupt and being
 * overfilled; what stays on H is what fits there. Every accepted move still
 * lowers max(LH, LD), so the search still cannot cycle. */
static void IrpBestMove(const IRP_WORK *Work, uint32_t High, uint64_t Threshold, IRP_STEP *Best)
{
    bool BestFits = false;
    for (uint32_t Index = Work->Head[High]; Index != IRP_NONE; Index = Work->Next[Index]) {
        if (!IrpMayLeave(Work, Index))
            continue;
        uint32_t To = IrpLeastLoadedDestination(Work, Index, High);
        if (To == IRP_NONE)
            continue;
        uint64_t Load = Work->Interrupts[Index].Load;
        uint64_t Gain = IrpGain(Work->Load[High], Work->Load[To], Load);
        bool Fits = Load <= Work->Bound && Work->Load[To] <= Work->Bound - Load;
        if (Gain < Threshold || (BestFits && !Fits))
            continue;
        if ((Fits && !BestFits) || IrpBetter(Best, Gain, To, Index, IRP_NONE)) {
            BestFits = Fits;
            Best->Gain = Gain;
            Best->First = Index;
            Best->Second = IRP_NONE;
            Best->To = To;
        }
    }
}

/* The best swap of Index (on High) with a lighter interrupt on another
 * eligible CPU, each allowed on the other's CPU. */
static void IrpBestSwapOf(const IRP_WORK *Work, uint32_t High, uint32_t Index, uint64_t Threshold, IRP_STEP *Best)
{
    const IR_BALANCE_INTERRUPT *Leaving = &Work->Interrupts[Index];
    for (uint32_t Other = 0; Other < Work->InterruptCount; Other++) {
        const IR_BALANCE_INTERRUPT *Coming = &Work->Interrupts[Other];
        uint32_t To = Work->Where[Other];
        if (To == High || IrpIsPinned(Coming) || Coming->Load >= Leaving->Load ||
            !IrCpuSetContains(&Work->Eligible, To) || !IrpInAffinity(Leaving, To) || !IrpInAffinity(Coming, High))
            continue;
        uint64_t Gain = IrpGain(Work->Load[High], Work->Load[To], Leaving->Load - Coming->Load);
        if (Gain < Threshold || !IrpBetter(Best, Gain, To, Index, Other))
            continue;
        if (!IrpWithinCap(Work, IrpMovedDelta(Work, Index, To) + IrpMovedDelta(Work, Other, High)) ||
            !IrpHasFreeVector(Work, Index, To) || !IrpHasFreeVector(Work, Other, High))
            continue;
        Best->Gain = Gain;
        Best->First = Index;
        Best->Second = Other;
        Best->To = To;
    }
}

static void IrpBestSwap(const IRP_WORK *Work, uint32_t High, uint64_t Threshold, IRP_STEP *Best)
{
    for (uint32_t Index = Work->Head[High]; Index != IRP_NONE; Index = Work->Next[Index]) {
        if (IrpMayLeave(Work, Index))
            IrpBestSwapOf(Work, High, Index, Threshold, Best);
    }
}

/* max(1, MinimumGain, Percent % of Load), without overflow. */
static uint64_t IrpThreshold(const IR_BALANCE_OPTIONS *Options, uint64_t Load)
{
    uint64_t Percent = Load / 100u * Options->MinimumGainPercent + Load % 100u * Options->MinimumGainPercent / 100u;
    uint64_t Threshold = Options->MinimumGain > Percent ? Options->MinimumGain : Percent;
    return Threshold == 0 ? 1u : Threshold;
}

/* Relieves High by the best move, or else the best swap; false when
 * neither clears the threshold. */
static bool IrpRelieveOnce(IRP_WORK *Work, uint32_t High, const IR_BALANCE_OPTIONS *Options)
{
    IRP_STEP Best = {.Gain = 0, .First = IRP_NONE, .Second = IRP_NONE, .To = IRP_NONE};
    uint64_t Threshold = IrpThreshold(Options, Work->Load[High]);
    IrpBestMove(Work, High, Threshold, &Best);
    /* A swap moves two interrupts: only when no single move will do. */
    if (Best.First == IRP_NONE)
        IrpBestSwap(Work, High, Threshold, &Best);
    if (Best.First == IRP_NONE)
        return false;
    IrpMove(Work, Best.First, Best.To);
    if (Best.Second != IRP_NONE)
        IrpMove(Work, Best.Second, High);
    return true;
}

/* The most loaded CPU, relieved until it cannot be (or the step budget is
 * spent). Without SpreadRest that is the end: once the maximum cannot fall,
 * a move elsewhere lowers no CPU that matters to the maximum and is churn
 * (docs/balancer.md, "Moves that do not lower the maximum"). With
 * SpreadRest: passes over the CPUs, most loaded first, each set aside when
 * it cannot be relieved, until a pass makes no move. */
static void IrpRelieve(IRP_WORK *Work, const IR_BALANCE_OPTIONS *Options)
{
    bool Moved = true;
    while (Moved && Work->Steps != 0) {
        Moved = false;
        IrCpuSetZero(&Work->Frozen);
        for (;;) {
            uint32_t High = IrpMostLoaded(Work);
            if (High == IRP_NONE || Work->Steps == 0)
                break;
            if (IrpRelieveOnce(Work, High, Options))
                Moved = true;
            else if (!Options->SpreadRest)
                return;
            else
                IrCpuSetAdd(&Work->Frozen, High);
        }
    }
}

/* Placement changes a plan may make: each lowers the sorted load vector,
 * so the search ends anyway; the budget bounds its cost. */
static uint32_t IrpStepBudget(uint32_t InterruptCount, uint32_t Cap)
{
    uint64_t Budget = 4u * (uint64_t)Cap + 2u * (uint64_t)InterruptCount + 16u;
    return Budget > UINT32_MAX ? UINT32_MAX : (uint32_t)Budget;
}

/* ---- The bound ------------------------------------------------------------------------ */

/* max(ceil(total / eligible CPUs), largest), the total without the
 * interrupts that stay on a CPU that is not eligible. */
static uint64_t IrpBound(const IRP_WORK *Work)
{
    uint64_t Total = 0;
    uint64_t Largest = 0;
    for (uint32_t Index = 0; Index < Work->InterruptCount; Index++) {
        const IR_BALANCE_INTERRUPT *Interrupt = &Work->Interrupts[Index];
        if (Interrupt->Load > Largest)
            Largest = Interrupt->Load;
        bool StaysOff = !IrCpuSetContains(&Work->Eligible, Interrupt->Cpu) &&
                        (IrpIsPinned(Interrupt) || !IrpHasEligibleCpu(Work, Interrupt));
        if (!StaysOff)
            Total += Interrupt->Load;
    }
    uint64_t Eligible = IrCpuSetWeight(&Work->Eligible);
    uint64_t Mean = Total / Eligible + (Total % Eligible != 0 ? 1u : 0u);
    return Mean > Largest ? Mean : Largest;
}

/* ---- The entry point ------------------------------------------------------------------ */

static void IrpCarveScratch(IRP_WORK *Work, uint32_t CpuCount, uint32_t InterruptCount, void *Scratch)
{
    uint8_t *Bytes = Scratch;
    Work->Load = (uint64_t *)(void *)Bytes;
    Bytes += IrpAlign8((size_t)CpuCount * sizeof(uint64_t));
    Work->Head = (uint32_t *)(void *)Bytes;
    Bytes += IrpAlign8((size_t)CpuCount * sizeof(uint32_t));
    Work->Away = (uint32_t *)(void *)Bytes;
    Bytes += IrpAlign8((size_t)CpuCount * sizeof(uint32_t));
    Work->Where = (uint32_t *)(void *)Bytes;
    Bytes += IrpAlign8((size_t)InterruptCount * sizeof(uint32_t));
    Work->Next = (uint32_t *)(void *)Bytes;
    Bytes += IrpAlign8((size_t)InterruptCount * sizeof(uint32_t));
    Work->Prev = (uint32_t *)(void *)Bytes;
    Bytes += IrpAlign8((size_t)InterruptCount * sizeof(uint32_t));
    Work->State = Bytes;
}

/* Every interrupt where it is, linked in index order on its CPU. */
static void IrpStart(IRP_WORK *Work)
{
    for (uint32_t Cpu = 0; Cpu < Work->Cpus->Count; Cpu++) {
        Work->Load[Cpu] = 0;
        Work->Head[Cpu] = IRP_NONE;
        Work->Away[Cpu] = 0;
    }
    Work->Moved = 0;
    for (uint32_t Index = Work->InterruptCount; Index-- != 0;) {
        Work->State[Index] = IRP_STATE_FREE;
        IrpLink(Work, Index, Work->Interrupts[Index].Cpu);
    }
}

/* The moves: each interrupt that ends away from where it started, in index
 * order; and the unpinned interrupts left where they may not stay. */
static void IrpWritePlan(const IRP_WORK *Work, IR_BALANCE_PLAN *Plan)
{
    Plan->MoveCount = 0;
    Plan->Stranded = 0;
    for (uint32_t Index = 0; Index < Work->InterruptCount; Index++) {
        if (IrpIsMisplaced(Work, Index))
            Plan->Stranded++;
        if (Work->Where[Index] == Work->Interrupts[Index].Cpu)
            continue;
        IR_BALANCE_MOVE *Move = &Plan->Moves[Plan->MoveCount++];
        Move->Interrupt = Index;
        Move->From = Work->Interrupts[Index].Cpu;
        Move->To = Work->Where[Index];
    }
    Plan->MaxLoadAfter = IrpMaxLoad(Work);
}

IRQ_STATUS IrBalancePlan(const IR_BALANCE_CPUS *Cpus, const IR_BALANCE_INTERRUPT *Interrupts,
                         uint32_t InterruptCount, const IR_BALANCE_OPTIONS *Options, void *Scratch,
                         size_t ScratchSize, IR_BALANCE_PLAN *Plan)
{
    IRQ_STATUS Status = IrpCheckInput(Cpus, Interrupts, InterruptCount, Options, Scratch, ScratchSize, Plan);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* Field by field: an initializer would zero the two 512-byte sets with
     * a memset call the freestanding core does not have. */
    IRP_WORK Work;
    Work.Cpus = Cpus;
    Work.Interrupts = Interrupts;
    Work.InterruptCount = InterruptCount;
    IrpBuildEligible(Cpus, &Work.Eligible);
    if (IrCpuSetIsEmpty(&Work.Eligible))
        return IRQ_STATUS_EMPTY_AFFINITY;
    IrpCarveScratch(&Work, Cpus->Count, InterruptCount, Scratch);
    IrpStart(&Work);
    Work.Cap = Options->MaxMoves < Plan->MoveCapacity ? Options->MaxMoves : Plan->MoveCapacity;
    Work.Steps = IrpStepBudget(InterruptCount, Work.Cap);
    Plan->MaxLoadBefore = IrpMaxLoad(&Work);
    Plan->Bound = IrpBound(&Work);
    Work.Bound = Plan->Bound;
    IrpEvacuate(&Work);
    IrpRelieve(&Work, Options);
    IrpWritePlan(&Work, Plan);
    return IRQ_STATUS_SUCCESS;
}
