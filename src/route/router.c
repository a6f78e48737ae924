/* SPDX-License-Identifier: MIT */
/*
 * The route object and the policy decisions (include/irqroute/router.h).
 *
 * LAYOUT. A route is one block of caller storage:
 *   line 0   the writer lock, the latch count, the CPU count (read by everyone)
 *   line 1   the decision state deciders write: the position (the previous choice)
 *   then     two copies of the configuration, each one header word
 *            (policy << 32 | target CPU) and WordCount mask words.
 * Keeping the position off the configuration's lines means a rotating
 * decider does not invalidate the lines every other decider reads.
 *
 * THE LATCH (why a decider sees one configuration, never a mixture): see the
 * header. In C11 terms the writer does
 *     count = s+1; write copy 0 (release stores);
 *     count = s+2 (release); write copy 1 (release stores);
 * and the reader
 *     s = count (acquire); read copy s&1 (acquire loads); retry if count != s.
 * If the reader saw any store of the copy being rewritten, that release store
 * synchronises with the reader's acquire load, so the count the writer stored
 * before the copy happens-before the reader's second load of the count: it
 * differs, and the reader starts again. (Release/acquire on each word rather
 * than fences: ThreadSanitizer does not model fences, and on x86 both are
 * plain moves anyway.) Every word is an atomic, so there is no data race for
 * a sanitizer to see either.
 *
 * Every value a reader can see was validated in some configuration (target
 * below the CPU count), so a decision made from a copy that is then thrown
 * away cannot index out of bounds.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/router.h>

#include "irlock.h"

#define IRP_LINE 64u
#define IRP_ALL_ONES (~(uint64_t)0)

struct _IR_ROUTE {
    /* Line 0: read-mostly. */
    _Alignas(IRP_LINE) IR_LOCK WriterLock;
    _Atomic uint32_t Sequence;
    uint32_t CpuCount;
    uint32_t WordCount;      /* mask words: (CpuCount + 63) / 64 */
    uint32_t CopyStride;     /* words per copy: 1 + WordCount */
    uint64_t LastWordValid;  /* the CPUs of the last mask word that exist */
    /* Line 1: written by deciders. */
    /* The position: the previous choice of a rotating policy, or where an
     * explicit move (IrRoutePointAt) put the source; IR_CPU_NONE after a
     * configuration. */
    _Alignas(IRP_LINE) _Atomic uint32_t LastCpu;
    /* Then the two copies. */
    _Alignas(IRP_LINE) _Atomic uint64_t Words[];
};

/* The SWAR population count (GCC's builtin needs libgcc without -mpopcnt). */
static uint32_t IrpPopulation(uint64_t Word)
{
    Word = Word - ((Word >> 1) & 0x5555555555555555ull);
    Word = (Word & 0x3333333333333333ull) + ((Word >> 2) & 0x3333333333333333ull);
    Word = (Word + (Word >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (uint32_t)((Word * 0x0101010101010101ull) >> 56);
}

/* ---- Inputs ----------------------------------------------------------------------- */

static uint64_t IrpValidBits(const IR_ROUTE *Route, uint32_t Word)
{
    return Word + 1u == Route->WordCount ? Route->LastWordValid : IRP_ALL_ONES;
}

/* IR_ROUTING_INPUTS.OnlineWords are plain uint64_t in router.h (a type that
 * means the same in C and C++) that their writer changes atomically; they
 * are read here through the _Atomic-qualified type, which C11 allows (6.5p7:
 * a qualified version of the object's type; _Atomic is a qualifier, 6.7.3)
 * where the two have the same size and alignment (6.2.5p27 lets them
 * differ: checked). */
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t) && _Alignof(_Atomic uint64_t) == _Alignof(uint64_t),
               "OnlineWords must be layout-compatible with the router's atomic view of them");
static uint64_t IrpOnlineWord(const IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, uint32_t Word)
{
    uint64_t Online = IRP_ALL_ONES;
    if (Inputs->OnlineWords != NULL)
        Online = atomic_load_explicit((const _Atomic uint64_t *)&Inputs->OnlineWords[Word], memory_order_relaxed);
    else if (Inputs->Online != NULL)
        Online = Inputs->Online->Bits[Word];
    return Online & IrpValidBits(Route, Word);
}

static bool IrpIsOnline(const IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, uint32_t Cpu)
{
    return (IrpOnlineWord(Route, Inputs, Cpu / 64u) >> (Cpu % 64u)) & 1u;
}

static uint32_t IrpLevelOf(const IR_ROUTING_INPUTS *Inputs, uint32_t Cpu)
{
    if (Inputs->ReadLevel != NULL)
        return Inputs->ReadLevel(Inputs->Context, Cpu);
    return Inputs->Levels != NULL ? Inputs->Levels[Cpu] : 0u;
}

static uint32_t IrpLoadOf(const IR_ROUTING_INPUTS *Inputs, uint32_t Cpu)
{
    if (Inputs->ReadLoad != NULL)
        return Inputs->ReadLoad(Inputs->Context, Cpu);
    return Inputs->Loads != NULL ? Inputs->Loads[Cpu] : 0u;
}

/* ---- The latch -------------------------------------------------------------------- */

static const _Atomic uint64_t *IrpCopy(const IR_ROUTE *Route, uint32_t Sequence)
{
    return Route->Words + (size_t)(Sequence & 1u) * Route->CopyStride;
}

static uint32_t IrpBeginRead(const IR_ROUTE *Route)
{
    return atomic_load_explicit(&Route->Sequence, memory_order_acquire);
}

/* The copy's loads were acquires, so this load cannot move above them. */
static bool IrpMustRetry(const IR_ROUTE *Route, uint32_t Sequence)
{
    return atomic_load_explicit(&Route->Sequence, memory_order_acquire) != Sequence;
}

static uint64_t IrpHeader(IR_ROUTING_POLICY Policy, uint32_t Target)
{
    return (uint64_t)Policy << 32 | Target;
}

/* Mask NULL: every CPU of the route. */
static void IrpWriteCopy(IR_ROUTE *Route, uint32_t Index, uint64_t Header, const IR_CPU_SET *Mask)
{
    _Atomic uint64_t *Copy = Route->Words + (size_t)Index * Route->CopyStride;
    atomic_store_explicit(&Copy[0], Header, memory_order_release);
    for (uint32_t Word = 0; Word < Route->WordCount; Word++) {
        uint64_t Bits = Mask != NULL ? Mask->Bits[Word] : IRP_ALL_ONES;
        atomic_store_explicit(&Copy[1u + Word], Bits & IrpValidBits(Route, Word), memory_order_release);
    }
}

/* Under the writer lock: copy 0 while readers use copy 1, then copy 1. */
static void IrpPublish(IR_ROUTE *Route, uint64_t Header, const IR_CPU_SET *Mask)
{
    uint32_t Sequence = atomic_load_explicit(&Route->Sequence, memory_order_relaxed);
    atomic_store_explicit(&Route->Sequence, Sequence + 1u, memory_order_relaxed);
    IrpWriteCopy(Route, 0, Header, Mask);
    atomic_store_explicit(&Route->Sequence, Sequence + 2u, memory_order_release);
    IrpWriteCopy(Route, 1, Header, Mask);
}

/* ---- Creation and configuration ---------------------------------------------------- */

static uint32_t IrpWordCount(uint32_t CpuCount)
{
    return (CpuCount + 63u) / 64u;
}

size_t IrRouteQueryStorageSize(uint32_t CpuCount)
{
    if (CpuCount == 0 || CpuCount > IR_MAX_CPUS)
        return 0;
    size_t Words = 2u * (1u + (size_t)IrpWordCount(CpuCount));
    size_t Size = sizeof(IR_ROUTE) + Words * sizeof(uint64_t);
    return (Size + IRP_LINE - 1u) & ~(size_t)(IRP_LINE - 1u);
}

IRQ_STATUS IrRouteInitialize(void *Storage, size_t StorageSize, uint32_t CpuCount, IR_ROUTE **Route)
{
    if (Storage == NULL || Route == NULL || ((uintptr_t)Storage & (IR_ROUTE_ALIGNMENT - 1u)) != 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    size_t Needed = IrRouteQueryStorageSize(CpuCount);
    if (Needed == 0)
        return IRQ_STATUS_INVALID_CPU;
    if (StorageSize < Needed)
        return IRQ_STATUS_BUFFER_TOO_SMALL;
    IR_ROUTE *New = Storage;
    IrLockInitialize(&New->WriterLock);
    atomic_store_explicit(&New->Sequence, 0, memory_order_relaxed);
    New->CpuCount = CpuCount;
    New->WordCount = IrpWordCount(CpuCount);
    New->CopyStride = 1u + New->WordCount;
    New->LastWordValid = CpuCount % 64u == 0 ? IRP_ALL_ONES : ((uint64_t)1 << (CpuCount % 64u)) - 1u;
    atomic_store_explicit(&New->LastCpu, IR_CPU_NONE, memory_order_relaxed);
    IrpWriteCopy(New, 0, IrpHeader(IrRoutingFixedCpu, 0), NULL);
    IrpWriteCopy(New, 1, IrpHeader(IrRoutingFixedCpu, 0), NULL);
    /* Other threads may use the route once the caller has published it (a
     * release store, a thread start): that makes these stores visible. */
    *Route = New;
    return IRQ_STATUS_SUCCESS;
}

/* A mask may name no CPU the route does not have. */
static bool IrpMaskInRange(const IR_ROUTE *Route, const IR_CPU_SET *Mask)
{
    for (uint32_t Word = 0; Word < IR_CPU_SET_WORDS; Word++) {
        uint64_t Valid = Word < Route->WordCount ? IrpValidBits(Route, Word) : 0;
        if ((Mask->Bits[Word] & ~Valid) != 0)
            return false;
    }
    return true;
}

static bool IrpMaskHasOnline(const IR_ROUTE *Route, const IR_CPU_SET *Mask, const IR_ROUTING_INPUTS *Inputs)
{
    for (uint32_t Word = 0; Word < Route->WordCount; Word++) {
        uint64_t Bits = Mask != NULL ? Mask->Bits[Word] : IRP_ALL_ONES;
        if ((Bits & IrpOnlineWord(Route, Inputs, Word)) != 0)
            return true;
    }
    return false;
}

IRQ_STATUS IrRouteValidateConfig(const IR_ROUTE *Route, const IR_ROUTE_CONFIG *Config,
                                 const IR_ROUTING_INPUTS *Inputs)
{
    if (Route == NULL || Config == NULL || Inputs == NULL || (unsigned)Config->Policy >= IrRoutingPolicyCount)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Config->Mask != NULL && !IrpMaskInRange(Route, Config->Mask))
        return IRQ_STATUS_INVALID_CPU;
    if (Config->Policy == IrRoutingFixedCpu &&
        (Config->TargetCpu >= Route->CpuCount || !IrpIsOnline(Route, Inputs, Config->TargetCpu)))
        return IRQ_STATUS_INVALID_CPU;
    if (!IrpMaskHasOnline(Route, Config->Mask, Inputs))
        return IRQ_STATUS_EMPTY_AFFINITY;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS IrRouteConfigure(IR_ROUTE *Route, const IR_ROUTE_CONFIG *Config, const IR_ROUTING_INPUTS *Inputs)
{
    IRQ_STATUS Status = IrRouteValidateConfig(Route, Config, Inputs);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    uint32_t Target = Config->Policy == IrRoutingFixedCpu ? Config->TargetCpu : 0u;
    IrLockAcquire(&Route->WriterLock);
    IrpPublish(Route, IrpHeader(Config->Policy, Target), Config->Mask);
    atomic_store_explicit(&Route->LastCpu, IR_CPU_NONE, memory_order_relaxed);
    IrLockRelease(&Route->WriterLock);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS IrRouteQueryConfig(const IR_ROUTE *Route, IR_ROUTING_POLICY *Policy, uint32_t *TargetCpu,
                              IR_CPU_SET *Mask)
{
    if (Route == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint64_t Header;
    uint32_t Sequence;
    do {
        Sequence = IrpBeginRead(Route);
        const _Atomic uint64_t *Copy = IrpCopy(Route, Sequence);
        Header = atomic_load_explicit(&Copy[0], memory_order_acquire);
        if (Mask != NULL) {
            for (uint32_t Word = 0; Word < IR_CPU_SET_WORDS; Word++)
                Mask->Bits[Word] =
                    Word < Route->WordCount ? atomic_load_explicit(&Copy[1u + Word], memory_order_acquire) : 0;
        }
    } while (IrpMustRetry(Route, Sequence));
    if (Policy != NULL)
        *Policy = (IR_ROUTING_POLICY)(Header >> 32);
    if (TargetCpu != NULL)
        *TargetCpu = (uint32_t)Header;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS IrRouteQueryOnline(const IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, IR_CPU_SET *Online)
{
    if (Route == NULL || Inputs == NULL || Online == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    for (uint32_t Word = 0; Word < IR_CPU_SET_WORDS; Word++)
        Online->Bits[Word] = Word < Route->WordCount ? IrpOnlineWord(Route, Inputs, Word) : 0;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Scanning the candidates ---------------------------------------------------------- */

/* The candidates of a decision: mask & online, one word at a time. */
typedef struct _IRP_CANDIDATES {
    IR_ROUTE *Route;
    const IR_ROUTING_INPUTS *Inputs;
    const _Atomic uint64_t *Mask;
} IRP_CANDIDATES;

static uint64_t IrpCandidateWord(const IRP_CANDIDATES *Candidates, uint32_t Word)
{
    return atomic_load_explicit(&Candidates->Mask[Word], memory_order_acquire) &
           IrpOnlineWord(Candidates->Route, Candidates->Inputs, Word);
}

/* Visits the candidates once each in cyclic order from Start (inclusive):
 * the start word's bits at and above Start, the following words wrapping
 * round, and last the start word's bits below Start. */
typedef struct _IRP_SCAN {
    const IRP_CANDIDATES *Candidates;
    uint32_t StartWord;
    uint64_t StartLow; /* the start word's candidates below Start */
    uint32_t Pass;     /* 0 .. WordCount */
    uint32_t Word;
    uint64_t Bits;     /* candidates of Word not yet visited */
} IRP_SCAN;

static void IrpScanBegin(IRP_SCAN *Scan, const IRP_CANDIDATES *Candidates, uint32_t Start)
{
    uint64_t Below = ((uint64_t)1 << (Start % 64u)) - 1u;
    uint64_t First = IrpCandidateWord(Candidates, Start / 64u);
    Scan->Candidates = Candidates;
    Scan->StartWord = Start / 64u;
    Scan->StartLow = First & Below;
    Scan->Pass = 0;
    Scan->Word = Scan->StartWord;
    Scan->Bits = First & ~Below;
}

static uint32_t IrpScanNext(IRP_SCAN *Scan)
{
    uint32_t WordCount = Scan->Candidates->Route->WordCount;
    while (Scan->Bits == 0) {
        if (++Scan->Pass > WordCount)
            return IR_CPU_NONE;
        if (Scan->Pass == WordCount) {
            Scan->Word = Scan->StartWord;
            Scan->Bits = Scan->StartLow;
        } else {
            Scan->Word = (Scan->StartWord + Scan->Pass) % WordCount;
            Scan->Bits = IrpCandidateWord(Scan->Candidates, Scan->Word);
        }
    }
    uint32_t Cpu = Scan->Word * 64u + (uint32_t)__builtin_ctzll(Scan->Bits);
    Scan->Bits &= Scan->Bits - 1u;
    return Cpu;
}

/* The CPU after Cpu, cyclically; after IR_CPU_NONE (no position yet): CPU 0. */
static uint32_t IrpAfter(const IR_ROUTE *Route, uint32_t Cpu)
{
    return Cpu + 1u >= Route->CpuCount ? 0 : Cpu + 1u;
}

/* Where a rotating scan starts: after the position (ROUND_ROBIN, LOWEST), or
 * at it (AFFINITY). No position yet: CPU 0. */
static uint32_t IrpRotationStart(const IR_ROUTE *Route, uint32_t Position, bool After)
{
    if (Position >= Route->CpuCount)
        return 0;
    return After ? IrpAfter(Route, Position) : Position;
}

/* ---- The policies ------------------------------------------------------------------- */

/* The target; while it is offline, the next candidate after it. */
static uint32_t IrpDecideFixed(const IRP_CANDIDATES *Candidates, uint32_t Target)
{
    if (IrpIsOnline(Candidates->Route, Candidates->Inputs, Target))
        return Target;
    IRP_SCAN Scan;
    IrpScanBegin(&Scan, Candidates, IrpAfter(Candidates->Route, Target));
    return IrpScanNext(&Scan);
}

/* The first candidate after the position, cyclically in CPU order, which
 * becomes the position: n consecutive decisions visit the n candidates once
 * each, so after k*n decisions each got exactly k. Concurrent deciders too:
 * each successful compare-and-swap is one step from the position to the
 * candidate after it, so the steps form one rotation; a decider whose swap
 * failed starts again from the position another decider left (lock-free).
 * A CPU that goes offline is skipped and the rotation goes on in order. */
static uint32_t IrpDecideRoundRobin(const IRP_CANDIDATES *Candidates)
{
    IR_ROUTE *Route = Candidates->Route;
    uint32_t Position = atomic_load_explicit(&Route->LastCpu, memory_order_relaxed);
    for (;;) {
        IRP_SCAN Scan;
        IrpScanBegin(&Scan, Candidates, IrpRotationStart(Route, Position, true));
        uint32_t Next = IrpScanNext(&Scan);
        if (Next == IR_CPU_NONE)
            return IR_CPU_NONE;
        if (atomic_compare_exchange_weak_explicit(&Route->LastCpu, &Position, Next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return Next;
    }
}

/* The one "least" search of a decision (LOWEST by level, AFFINITY by load).
 * Lowest metric wins; only a strictly lower value replaces the best so far,
 * so among equals the first in scan order wins. Nothing is below 0: stop
 * there. Lowest scans from after the position (ties rotate); Affinity from
 * the position itself (it keeps the CPU while nobody is less loaded). The
 * choice becomes the position. */
static uint32_t IrpDecideLeast(const IRP_CANDIDATES *Candidates, bool ByLevel)
{
    IR_ROUTE *Route = Candidates->Route;
    IRP_SCAN Scan;
    uint32_t Position = atomic_load_explicit(&Route->LastCpu, memory_order_relaxed);
    IrpScanBegin(&Scan, Candidates, IrpRotationStart(Route, Position, ByLevel));
    uint32_t Best = IR_CPU_NONE;
    uint32_t BestValue = 0;
    for (uint32_t Cpu = IrpScanNext(&Scan); Cpu != IR_CPU_NONE; Cpu = IrpScanNext(&Scan)) {
        uint32_t Value = ByLevel ? IrpLevelOf(Candidates->Inputs, Cpu) : IrpLoadOf(Candidates->Inputs, Cpu);
        if (Best == IR_CPU_NONE || Value < BestValue) {
            Best = Cpu;
            BestValue = Value;
            if (Value == 0)
                break;
        }
    }
    if (Best != IR_CPU_NONE)
        atomic_store_explicit(&Route->LastCpu, Best, memory_order_relaxed);
    return Best;
}

/* The candidates; the set (optional) gets them, and zeros beyond the
 * route's words. */
static uint32_t IrpDecideBroadcast(const IRP_CANDIDATES *Candidates, IR_CPU_SET *Cpus, uint32_t *Count)
{
    uint32_t WordCount = Candidates->Route->WordCount;
    uint32_t First = IR_CPU_NONE;
    *Count = 0;
    for (uint32_t Word = 0; Word < WordCount; Word++) {
        uint64_t Bits = IrpCandidateWord(Candidates, Word);
        if (Cpus != NULL)
            Cpus->Bits[Word] = Bits;
        if (Bits != 0 && First == IR_CPU_NONE)
            First = Word * 64u + (uint32_t)__builtin_ctzll(Bits);
        *Count += IrpPopulation(Bits);
    }
    for (uint32_t Word = WordCount; Cpus != NULL && Word < IR_CPU_SET_WORDS; Word++)
        Cpus->Bits[Word] = 0;
    return First;
}

static uint32_t IrpDecideFromCopy(const IRP_CANDIDATES *Candidates, IR_ROUTING_POLICY Policy, uint32_t Target,
                                  IR_CPU_SET *Cpus, uint32_t *Count)
{
    *Count = 1;
    switch (Policy) {
    case IrRoutingFixedCpu:
        return IrpDecideFixed(Candidates, Target);
    case IrRoutingRoundRobin:
        return IrpDecideRoundRobin(Candidates);
    case IrRoutingLowestPriority:
        return IrpDecideLeast(Candidates, true);
    case IrRoutingAffinity:
        return IrpDecideLeast(Candidates, false);
    case IrRoutingBroadcast:
        return IrpDecideBroadcast(Candidates, Cpus, Count);
    default:
        return IR_CPU_NONE;
    }
}

static IRQ_STATUS IrpFinish(IR_ROUTING_DECISION *Decision, IR_ROUTING_POLICY Policy, uint32_t Cpu, uint32_t Count)
{
    Decision->Policy = Policy;
    Decision->Cpu = Cpu;
    Decision->CpuCount = Cpu == IR_CPU_NONE ? 0 : Count;
    return Cpu == IR_CPU_NONE ? IRQ_STATUS_EMPTY_AFFINITY : IRQ_STATUS_SUCCESS;
}

/* Every policy, as many latch rounds as it takes. Out of line so that the
 * FIXED fast path in IrRouteDecide stays a leaf with a small frame. */
__attribute__((noinline)) static IRQ_STATUS IrpDecideAny(IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs,
                                                         IR_ROUTING_DECISION *Decision, IR_CPU_SET *Cpus)
{
    for (;;) {
        uint32_t Sequence = IrpBeginRead(Route);
        const _Atomic uint64_t *Copy = IrpCopy(Route, Sequence);
        uint64_t Header = atomic_load_explicit(&Copy[0], memory_order_acquire);
        IR_ROUTING_POLICY Policy = (IR_ROUTING_POLICY)(Header >> 32);
        IRP_CANDIDATES Candidates = {.Route = Route, .Inputs = Inputs, .Mask = Copy + 1};
        uint32_t Count;
        uint32_t Cpu = IrpDecideFromCopy(&Candidates, Policy, (uint32_t)Header, Cpus, &Count);
        if (!IrpMustRetry(Route, Sequence))
            return IrpFinish(Decision, Policy, Cpu, Count);
    }
}

/* The common case first: FIXED to an online target is one latch read and
 * one online test. */
IRQ_STATUS IrRouteDecide(IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, IR_ROUTING_DECISION *Decision,
                         IR_CPU_SET *Cpus)
{
    if (Route == NULL || Inputs == NULL || Decision == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t Sequence = IrpBeginRead(Route);
    uint64_t Header = atomic_load_explicit(&IrpCopy(Route, Sequence)[0], memory_order_acquire);
    uint32_t Target = (uint32_t)Header;
    if ((Header >> 32) == IrRoutingFixedCpu && IrpIsOnline(Route, Inputs, Target) && !IrpMustRetry(Route, Sequence))
        return IrpFinish(Decision, IrRoutingFixedCpu, Target, 1);
    return IrpDecideAny(Route, Inputs, Decision, Cpus);
}

/* ---- Back ends: the decision and the move as one call path ---------------------------- */

/* Under the writer lock: a new header in both copies, the masks left as they
 * are (both copies hold the same mask between publications). A reader of
 * copy 1 while the count is odd sees the old header with its own mask. */
static void IrpPublishHeader(IR_ROUTE *Route, uint64_t Header)
{
    uint32_t Sequence = atomic_load_explicit(&Route->Sequence, memory_order_relaxed);
    atomic_store_explicit(&Route->Sequence, Sequence + 1u, memory_order_relaxed);
    atomic_store_explicit(&Route->Words[0], Header, memory_order_release);
    atomic_store_explicit(&Route->Sequence, Sequence + 2u, memory_order_release);
    atomic_store_explicit(&Route->Words[Route->CopyStride], Header, memory_order_release);
}

static bool IrpMaskHolds(const IR_ROUTE *Route, uint32_t Cpu)
{
    const _Atomic uint64_t *Copy = IrpCopy(Route, atomic_load_explicit(&Route->Sequence, memory_order_relaxed));
    return (atomic_load_explicit(&Copy[1u + Cpu / 64u], memory_order_relaxed) >> (Cpu % 64u)) & 1u;
}

IRQ_STATUS IrRoutePointAt(IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, const IR_ROUTE_BACKEND *Backend,
                          void *Source, uint32_t Cpu)
{
    if (Route == NULL || Inputs == NULL || Backend == NULL || Backend->PointAt == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Route->CpuCount || !IrpIsOnline(Route, Inputs, Cpu))
        return IRQ_STATUS_INVALID_CPU;
    IrLockAcquire(&Route->WriterLock);
    uint64_t Header = atomic_load_explicit(&IrpCopy(Route, atomic_load_explicit(&Route->Sequence,
                                                                               memory_order_relaxed))[0],
                                           memory_order_relaxed);
    IR_ROUTING_POLICY Policy = (IR_ROUTING_POLICY)(Header >> 32);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (Policy == IrRoutingBroadcast)
        Status = IRQ_STATUS_NOT_SUPPORTED;
    else if (!IrpMaskHolds(Route, Cpu))
        Status = IRQ_STATUS_INVALID_CPU;
    if (Status == IRQ_STATUS_SUCCESS)
        Status = Backend->PointAt(Source, Cpu);
    if (Status == IRQ_STATUS_SUCCESS) {
        if (Policy == IrRoutingFixedCpu && (uint32_t)Header != Cpu)
            IrpPublishHeader(Route, IrpHeader(IrRoutingFixedCpu, Cpu));
        atomic_store_explicit(&Route->LastCpu, Cpu, memory_order_relaxed);
    }
    IrLockRelease(&Route->WriterLock);
    return Status;
}

IRQ_STATUS IrRouteDecideAndPoint(IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, const IR_ROUTE_BACKEND *Backend,
                                 void *Source, IR_ROUTING_DECISION *Decision)
{
    if (Route == NULL || Inputs == NULL || Backend == NULL || Backend->PointAt == NULL || Decision == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t Position = atomic_load_explicit(&Route->LastCpu, memory_order_relaxed);
    IR_CPU_SET Cpus;
    IRQ_STATUS Status = IrRouteDecide(Route, Inputs, Decision, &Cpus);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Decision->Policy != IrRoutingBroadcast) {
        Status = Backend->PointAt(Source, Decision->Cpu);
        /* The source stayed where it was: so does the position (unless
         * another decider has moved it on since). */
        uint32_t Chosen = Decision->Cpu;
        if (Status != IRQ_STATUS_SUCCESS)
            (void)atomic_compare_exchange_strong_explicit(&Route->LastCpu, &Chosen, Position, memory_order_relaxed,
                                                          memory_order_relaxed);
        return Status;
    }
    return Backend->PointAtSet != NULL ? Backend->PointAtSet(Source, &Cpus) : IRQ_STATUS_NOT_SUPPORTED;
}
