/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the virtual interrupt controller (vic.h), single thread,
 * uncontended, each against a baseline measured in the same run:
 *  - the deliverability check an emulator runs on every instruction, with
 *    nothing pending (the common case), against a plain load-and-test of a
 *    per-CPU word (baseline "vic.check.baseline"; target: within 2x);
 *  - raise -> claim -> end of interrupt through each routing policy at 4, 64
 *    and 256 CPUs, the routing decision included, against the reference
 *    emulator's bare raise+claim without routing (baseline
 *    "vic.raise_claim.reference": a model of its per-CPU pending state, see
 *    below; target for FIXED: no slower than that, about 11 ns on this
 *    machine class). "vic.raise_claim.bare" is the floor any design with a
 *    per-CPU pending word pays: one atomic OR, one compare-and-swap;
 *  - raise -> take (VicTakeInterrupt: nothing goes in service, no end of
 *    interrupt; the Alpha way, where PALcode sets the IPL) for the same
 *    policies and CPU counts, against the same baseline: this is the pair
 *    that does what the reference's raise + claim does;
 *  - the FIXED cases again ("fixed.word") with a source of the same level
 *    whose pending bit is in the level's pending word, not the check word
 *    (vic.h: direct sources);
 *  - an IPI sent and claimed on the Vic;
 *  - raises and takes at one CPU under contention, against the reference
 *    model under the same load ("vic.contended.*", below).
 * BROADCAST raises on every CPU of the mask, so one operation there is n
 * claims. ROUND_ROBIN and LOWEST (all CPUs at level 0: ties rotate) visit
 * the CPUs in order, AFFINITY stays on CPU 0 (no CPU is less loaded), so the
 * benchmark knows where to claim and checks that the claim succeeds.
 *
 * Built with the shared harness (harness.c: `list`, `time <case>`, `run
 * <case> <n>`; bench/run.py prints the table with callgrind instructions/op).
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/router.h>
#include <irqroute/vic.h>

/* A direct source (its pending bit in the check word: vic.h), and one of
 * the same level kept in the level's pending word (cases "*.word.*"). */
#define BENCH_SOURCE VIC_ALPHA_DEVICE(21, 0)
#define BENCH_WORD_SOURCE VIC_ALPHA_DEVICE(21, 5)

static VIC *BenchVic;
static void *BenchStorage;
static uint32_t BenchCpus;
static IR_ROUTING_POLICY BenchPolicy;
static uint32_t BenchSource = BENCH_SOURCE;
/* ROUND_ROBIN and LOWEST visit the CPUs in order, across the harness's runs. */
static uint32_t Next;

static void Die(const char *What)
{
    fprintf(stderr, "bench_vic: %s\n", What);
    exit(1);
}

static void CreateVic(uint32_t CpuCount)
{
    VIC_CONFIG Config;
    VicAlphaConfig(&Config, CpuCount);
    size_t Size;
    if (VicQueryStorageSize(&Config, &Size) != IRQ_STATUS_SUCCESS)
        Die("storage size");
    BenchStorage = aligned_alloc(VIC_STORAGE_ALIGNMENT, Size);
    if (BenchStorage == NULL || VicInitialize(BenchStorage, Size, &Config, &BenchVic) != IRQ_STATUS_SUCCESS)
        Die("initialise");
    BenchCpus = CpuCount;
    BenchSource = BENCH_SOURCE;
}

static void DestroyVic(void)
{
    free(BenchStorage);
    BenchStorage = NULL;
    BenchVic = NULL;
}

/* ---- The check ------------------------------------------------------------------- */

typedef struct _PADDED_WORD {
    _Alignas(64) _Atomic uint64_t Word;
} PADDED_WORD;

static PADDED_WORD BaselineWords[4];

static void SetupCheck(const BENCH_CASE *Case)
{
    CreateVic(Case->Cpus);
}

/* What an emulator without a Vic would do: load its own pending word, test it. */
static void OperationCheckBaseline(uint64_t Iterations)
{
    uint64_t Hits = 0;
    for (uint64_t Index = 0; Index < Iterations; Index++)
        Hits += (atomic_load_explicit(&BaselineWords[Index & 3u].Word, memory_order_acquire) & 0xFFFFFFFFu) != 0;
    BenchKeep(Hits);
}

/* VicIsDeliverable by CPU number: the range test, the view's base and
 * stride, then the check. The Vic pointer is held in a local, as the
 * baseline's array address is a constant: read from the global inside the
 * loop it would be loaded again after every acquire load. */
static void OperationCheck(uint64_t Iterations)
{
    const VIC *Vic = BenchVic;
    uint64_t Hits = 0;
    for (uint64_t Index = 0; Index < Iterations; Index++)
        Hits += VicIsDeliverable(Vic, (uint32_t)(Index & 3u));
    BenchKeep(Hits);
}

/* The form for an emulator loop that keeps its CPU's word at hand. */
static void OperationCheckWord(uint64_t Iterations)
{
    const VIC_CHECK_WORD *Words[4];
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        Words[Cpu] = VicGetDeliveryWord(BenchVic, Cpu);
    uint64_t Hits = 0;
    for (uint64_t Index = 0; Index < Iterations; Index++)
        Hits += VicWordIsDeliverable(Words[Index & 3u]);
    BenchKeep(Hits);
}

/* ---- Bare raise + claim (the reference emulator's way, no routing) -------------------- */

static PADDED_WORD BarePending[4];

static void OperationBareRaiseClaim(uint64_t Iterations)
{
    uint64_t Claimed = 0;
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        _Atomic uint64_t *Word = &BarePending[0].Word;
        atomic_fetch_or_explicit(Word, (uint64_t)1 << 21, memory_order_acq_rel);
        uint64_t Old = atomic_load_explicit(Word, memory_order_acquire);
        while (Old != 0) {
            uint64_t Bit = (uint64_t)1 << (63 - __builtin_clzll(Old));
            if (atomic_compare_exchange_weak_explicit(Word, &Old, Old & ~Bit, memory_order_acq_rel,
                                                      memory_order_acquire)) {
                Claimed++;
                break;
            }
        }
    }
    BenchKeep(Claimed);
}

/* ---- The reference emulator's bare raise + claim ------------------------------------------ */

/*
 * A model of the reference emulator's per-CPU pending state (requirement
 * R2 of docs/requirements.md; its IRQPendingState),
 * written from its algorithm so the target has a baseline in the same run:
 * a pending word per level (a bit per source), a summary word (a bit per
 * level) and a cached highest pending level. Raise: OR the source's bit
 * into its level's word, OR the level's bit into the summary, raise the
 * cached highest level by compare-and-swap. Claim of an edge source: the
 * highest summary level above the CPU's IPL, the lowest source of that
 * level, AND it out of the level's word, AND the level out of the summary
 * when the word emptied, store the recomputed highest level. Five locked
 * operations per raise + claim, no routing, 43 instructions (callgrind);
 * the real reference's raise + claim executes about 120, because this model
 * leaves out its in-service mask, its trigger-mode and its vector look-ups.
 * It is a floor, faster if anything than the real thing: a Vic row at 1.0x
 * of it is at or ahead of the reference itself.
 */
#define REFERENCE_LEVELS 32u
#define REFERENCE_NOTHING 0xFFu

typedef struct _REFERENCE_PENDING {
    _Alignas(64) _Atomic uint32_t Levels;
    _Atomic uint64_t Sources[REFERENCE_LEVELS];
    _Atomic uint8_t Highest;
} REFERENCE_PENDING;

static REFERENCE_PENDING ReferencePending = {.Highest = REFERENCE_NOTHING};

static inline __attribute__((always_inline)) void ReferenceRaise(REFERENCE_PENDING *State, uint32_t Source,
                                                                  uint32_t Level)
{
    if (Level >= REFERENCE_LEVELS || Source >= 64u)
        return;
    atomic_fetch_or_explicit(&State->Sources[Level], (uint64_t)1 << Source, memory_order_release);
    atomic_fetch_or_explicit(&State->Levels, 1u << Level, memory_order_release);
    uint8_t Previous = atomic_load_explicit(&State->Highest, memory_order_relaxed);
    while (Previous == REFERENCE_NOTHING || Level > Previous)
        if (atomic_compare_exchange_weak_explicit(&State->Highest, &Previous, (uint8_t)Level,
                                                  memory_order_release, memory_order_relaxed))
            break;
}

static inline __attribute__((always_inline)) bool ReferenceClaim(REFERENCE_PENDING *State, uint32_t Ipl,
                                                                  uint32_t *Source)
{
    if (Ipl >= REFERENCE_LEVELS - 1u)
        return false;
    uint32_t Deliverable = atomic_load_explicit(&State->Levels, memory_order_acquire) & ~((2u << Ipl) - 1u);
    if (Deliverable == 0)
        return false;
    uint32_t Level = 31u - (uint32_t)__builtin_clz(Deliverable);
    uint64_t Pending = atomic_load_explicit(&State->Sources[Level], memory_order_acquire);
    if (Pending == 0)
        return false;
    uint32_t Found = (uint32_t)__builtin_ctzll(Pending);
    uint64_t Bit = (uint64_t)1 << Found;
    if ((atomic_fetch_and_explicit(&State->Sources[Level], ~Bit, memory_order_release) & ~Bit) == 0)
        atomic_fetch_and_explicit(&State->Levels, ~(1u << Level), memory_order_release);
    uint32_t Left = atomic_load_explicit(&State->Levels, memory_order_acquire);
    atomic_store_explicit(&State->Highest, Left == 0 ? (uint8_t)REFERENCE_NOTHING : (uint8_t)(31u - __builtin_clz(Left)),
                          memory_order_release);
    *Source = Found;
    return true;
}

static void OperationReferenceRaiseClaim(uint64_t Iterations)
{
    uint64_t Claimed = 0;
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        ReferenceRaise(&ReferencePending, 5, 21);
        uint32_t Source;
        if (!ReferenceClaim(&ReferencePending, 0, &Source) || Source != 5)
            Die("reference claim");
        Claimed++;
    }
    BenchKeep(Claimed);
}

/* ---- Raise -> claim -> EOI per policy ------------------------------------------------------ */

static IR_ROUTING_POLICY PolicyOfCase(const char *Name)
{
    static const struct {
        const char *Tag;
        IR_ROUTING_POLICY Policy;
    } Tags[] = {{".fixed.", IrRoutingFixedCpu},
                {".round_robin.", IrRoutingRoundRobin},
                {".lowest.", IrRoutingLowestPriority},
                {".broadcast.", IrRoutingBroadcast},
                {".affinity.", IrRoutingAffinity}};
    for (size_t Index = 0; Index < sizeof(Tags) / sizeof(Tags[0]); Index++)
        if (strstr(Name, Tags[Index].Tag) != NULL)
            return Tags[Index].Policy;
    Die("no policy in case name");
    return IrRoutingFixedCpu;
}

static void SetupRaiseClaim(const BENCH_CASE *Case)
{
    CreateVic(Case->Cpus);
    Next = 0;
    BenchPolicy = PolicyOfCase(Case->Name);
    if (strstr(Case->Name, ".word.") != NULL)
        BenchSource = BENCH_WORD_SOURCE;
    IR_ROUTE_CONFIG Config = {.Policy = BenchPolicy, .TargetCpu = 0, .Mask = NULL};
    if (VicSetRoute(BenchVic, BenchSource, &Config) != IRQ_STATUS_SUCCESS)
        Die("route");
}

static void ClaimOn(uint32_t Cpu)
{
    VIC_CLAIM Claim;
    if (VicClaim(BenchVic, Cpu, &Claim) != IRQ_STATUS_SUCCESS || Claim.Source != BenchSource)
        Die("claim did not find the raise where the policy should have put it");
    (void)VicEndOfInterrupt(BenchVic, Cpu);
}

/* The Alpha way: the take puts nothing in service (PALcode sets the IPL). */
static void TakeOn(uint32_t Cpu)
{
    VIC_CLAIM Claim;
    if (VicTakeInterrupt(BenchVic, Cpu, &Claim) != IRQ_STATUS_SUCCESS || Claim.Source != BenchSource)
        Die("take did not find the raise where the policy should have put it");
}

/* One raise through the route, then Finish on every CPU the policy put it on. */
static inline __attribute__((always_inline)) void RaiseAndFinish(uint64_t Iterations, void (*Finish)(uint32_t Cpu))
{
    IR_ROUTING_POLICY Policy = BenchPolicy; /* kept in a register, as an emulator would */
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        if (VicRaise(BenchVic, BenchSource) != IRQ_STATUS_SUCCESS)
            Die("raise");
        switch (Policy) {
        case IrRoutingRoundRobin:
        case IrRoutingLowestPriority:
            Finish(Next);
            Next = Next + 1u == BenchCpus ? 0 : Next + 1u;
            break;
        case IrRoutingBroadcast:
            for (uint32_t Cpu = 0; Cpu < BenchCpus; Cpu++)
                Finish(Cpu);
            break;
        default:
            Finish(0);
            break;
        }
    }
}

static void OperationRaiseClaim(uint64_t Iterations)
{
    RaiseAndFinish(Iterations, ClaimOn);
}

static void OperationRaiseTake(uint64_t Iterations)
{
    RaiseAndFinish(Iterations, TakeOn);
}

/* No routing: the raise names its CPU. */
static void OperationDirectRaiseClaim(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        if (VicRaiseOnCpu(BenchVic, BENCH_SOURCE, 0) != IRQ_STATUS_SUCCESS)
            Die("raise");
        ClaimOn(0);
    }
}

static void OperationDirectRaiseTake(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        if (VicRaiseOnCpu(BenchVic, BENCH_SOURCE, 0) != IRQ_STATUS_SUCCESS)
            Die("raise");
        TakeOn(0);
    }
}

/* ---- IPI ---------------------------------------------------------------------------------- */

static void OperationIpi(uint64_t Iterations)
{
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = 1};
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        if (VicSendIpi(BenchVic, &Target, VicIpiReschedule) != IRQ_STATUS_SUCCESS)
            Die("send");
        VIC_CLAIM Claim;
        if (VicClaim(BenchVic, 1, &Claim) != IRQ_STATUS_SUCCESS || Claim.IpiMessages != 1u << VicIpiReschedule)
            Die("IPI claim");
        (void)VicEndOfInterrupt(BenchVic, 1);
    }
}

/* ---- Under contention: raisers on other threads, one owner ------------------------------ */

/*
 * 2 or 4 threads raise at CPU 0 while its owner takes (VicTakeInterrupt:
 * the pair that does what the reference's claim does). Each raiser raises
 * its own pending-word source of IPL 21 (devices 5 .. 8, FIXED_CPU to CPU
 * 0), as devices sharing a CPU do. Two rows per load:
 *  - "vic.contended.take.N": the timed thread is the owner; one operation
 *    is one successful take (it spins while nothing is pending), N raisers
 *    beside it;
 *  - "vic.contended.raise.N": the timed thread is raiser 0; one operation
 *    is one VicRaise (a merge when its source is still pending), N - 1
 *    raisers and the owner beside it.
 * "vic.contended.reference.*" runs the reference model (above) under the
 * same load: source 5 + n of level 21 per raiser, its claim by the owner.
 * On a host with fewer cores than threads the figures include the
 * scheduler's share: read them as ratios to the reference row of the same
 * run. bench/run.py gives these rows no instruction count (the threads
 * beside the timed one would be counted with it).
 */
#define CONTENDED_MAX_RAISERS 4u

static bool ContendedOnReference;
static pthread_t ContendedThreads[CONTENDED_MAX_RAISERS];
static uint32_t ContendedThreadCount;
static uint32_t ContendedRaisers;
static atomic_bool ContendedStop;
static REFERENCE_PENDING ContendedReference;

static void ContendedRaise(uint32_t Raiser)
{
    if (ContendedOnReference)
        ReferenceRaise(&ContendedReference, 5u + Raiser, 21u);
    else if (VicRaise(BenchVic, BENCH_WORD_SOURCE + Raiser) != IRQ_STATUS_SUCCESS)
        Die("contended raise");
}

static bool ContendedTake(void)
{
    if (ContendedOnReference) {
        uint32_t Source;
        return ReferenceClaim(&ContendedReference, 0, &Source);
    }
    VIC_CLAIM Claim;
    if (VicTakeInterrupt(BenchVic, 0, &Claim) != IRQ_STATUS_SUCCESS)
        return false;
    if (Claim.Source - BENCH_WORD_SOURCE >= ContendedRaisers)
        Die("contended take found a source nobody raised");
    return true;
}

static void ContendedPause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *ContendedRaiser(void *Argument)
{
    uint32_t Raiser = (uint32_t)(uintptr_t)Argument;
    while (!atomic_load_explicit(&ContendedStop, memory_order_relaxed))
        ContendedRaise(Raiser);
    return NULL;
}

static void *ContendedOwner(void *Argument)
{
    (void)Argument;
    while (!atomic_load_explicit(&ContendedStop, memory_order_relaxed))
        (void)ContendedTake();
    return NULL;
}

static void ContendedStart(void *(*Routine)(void *), uint32_t Argument)
{
    if (pthread_create(&ContendedThreads[ContendedThreadCount], NULL, Routine, (void *)(uintptr_t)Argument) != 0)
        Die("thread");
    ContendedThreadCount++;
}

/* The case name says the model (".reference."), the timed role (".take." or
 * ".raise.") and the raisers (its last character). */
static void SetupContended(const BENCH_CASE *Case)
{
    ContendedOnReference = strstr(Case->Name, ".reference.") != NULL;
    ContendedRaisers = (uint32_t)(Case->Name[strlen(Case->Name) - 1] - '0');
    if (ContendedRaisers < 2u || ContendedRaisers > CONTENDED_MAX_RAISERS)
        Die("contended raisers");
    if (!ContendedOnReference)
        CreateVic(4);
    ContendedReference = (REFERENCE_PENDING){.Highest = REFERENCE_NOTHING};
    atomic_store(&ContendedStop, false);
    ContendedThreadCount = 0;
    bool TimedOwner = strstr(Case->Name, ".take.") != NULL;
    for (uint32_t Raiser = TimedOwner ? 0u : 1u; Raiser < ContendedRaisers; Raiser++)
        ContendedStart(ContendedRaiser, Raiser);
    if (!TimedOwner)
        ContendedStart(ContendedOwner, 0);
}

static void TeardownContended(void)
{
    atomic_store(&ContendedStop, true);
    for (uint32_t Thread = 0; Thread < ContendedThreadCount; Thread++)
        pthread_join(ContendedThreads[Thread], NULL);
    ContendedThreadCount = 0;
    if (!ContendedOnReference)
        DestroyVic();
}

static void OperationContendedTake(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        while (!ContendedTake())
            ContendedPause();
    }
}

static void OperationContendedRaise(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++)
        ContendedRaise(0);
}

#define CONTENDED_CASES(N)                                                                                  \
    {"vic.contended.reference.take." #N, NULL, 1, SetupContended, OperationContendedTake, TeardownContended},  \
    {"vic.contended.take." #N, "vic.contended.reference.take." #N, 4, SetupContended, OperationContendedTake,   \
     TeardownContended},                                                                                    \
    {"vic.contended.reference.raise." #N, NULL, 1, SetupContended, OperationContendedRaise, TeardownContended}, \
    {"vic.contended.raise." #N, "vic.contended.reference.raise." #N, 4, SetupContended,                        \
     OperationContendedRaise, TeardownContended},

#define RAISE_CLAIM_CASE(Policy, N)                                                                         \
    {"vic.raise_claim." #Policy "." #N, "vic.raise_claim.reference", N, SetupRaiseClaim, OperationRaiseClaim,    \
     DestroyVic},

#define RAISE_TAKE_CASE(Policy, N)                                                                          \
    {"vic.raise_take." #Policy "." #N, "vic.raise_claim.reference", N, SetupRaiseClaim, OperationRaiseTake,      \
     DestroyVic},

/* The routed cases, the same for raise + claim and raise + take: each
 * policy (PolicyOfCase reads it from the name) at the CPU counts measured. */
#define FOR_EACH_ROUTED_CASE(Case)                                                                          \
    Case(fixed, 4) Case(fixed, 64) Case(fixed, 256) Case(fixed.word, 4) Case(fixed.word, 256)                   \
    Case(round_robin, 4) Case(round_robin, 64) Case(round_robin, 256)                                           \
    Case(lowest, 4) Case(lowest, 64) Case(lowest, 256)                                                          \
    Case(affinity, 4) Case(affinity, 64) Case(affinity, 256)                                                    \
    Case(broadcast, 4) Case(broadcast, 64) Case(broadcast, 256)

const BENCH_CASE BenchCases[] = {
    {"vic.check.baseline", NULL, 4, NULL, OperationCheckBaseline, NULL},
    {"vic.check", "vic.check.baseline", 4, SetupCheck, OperationCheck, DestroyVic},
    {"vic.check.word", "vic.check.baseline", 4, SetupCheck, OperationCheckWord, DestroyVic},
    {"vic.raise_claim.reference", NULL, 1, NULL, OperationReferenceRaiseClaim, NULL},
    {"vic.raise_claim.bare", "vic.raise_claim.reference", 1, NULL, OperationBareRaiseClaim, NULL},
    {"vic.raise_claim.direct.4", "vic.raise_claim.reference", 4, SetupCheck, OperationDirectRaiseClaim, DestroyVic},
    FOR_EACH_ROUTED_CASE(RAISE_CLAIM_CASE)
    {"vic.raise_take.direct.4", "vic.raise_claim.reference", 4, SetupCheck, OperationDirectRaiseTake, DestroyVic},
    FOR_EACH_ROUTED_CASE(RAISE_TAKE_CASE)
    {"vic.ipi.send_claim.4", "vic.raise_claim.reference", 4, SetupCheck, OperationIpi, DestroyVic},
    CONTENDED_CASES(2) CONTENDED_CASES(4)
};
const uint32_t BenchCaseCount = sizeof(BenchCases) / sizeof(BenchCases[0]);
