/* SPDX-License-Identifier: MIT */
/*
 * The vector matrix: which device vector is taken on which CPU.
 *
 * A CPU has 256 vectors. The layout (KE_VECTOR_LAYOUT) says which of them are
 * *device vectors* - inside [FirstDeviceVector, LastDeviceVector], not one of
 * the layout's reserved vectors nor its spurious vector, and in a priority
 * class (vector >> 4) that some IRQL's ClassesOfIrql names. Only device
 * vectors are ever allocated, reserved or freed here; every other vector is
 * the platform's and stays taken for the matrix's whole life.
 *
 * INVARIANTS (every function below keeps all of them, under Matrix->Lock)
 *
 *  I1 Taken. For each CPU c: Taken[c] = ~DeviceVectors | (the device vectors
 *     handed out on c and not yet freed). A free vector is a clear bit, so
 *     "free device vector of IRQL i" is IrqlVectors[i] & ~Taken[c].
 *
 *  I2 Counts. Allocated[c] = number of device vectors set in Taken[c] (the
 *     CPU's *load*), and AllocatedPerClass[c][k] the same restricted to
 *     class k. So Allocated[c] <= DeviceVectorCount, and a CPU whose load
 *     equals DeviceVectorCount has nothing left.
 *
 *  I3 Buckets. An online CPU is in exactly one load bucket, Bucket[Bucketed[c]],
 *     with Bucketed[c] <= Allocated[c] (a bucket may lag below the load, never
 *     run above it); an offline CPU is in none. BucketPopulation[b] is the
 *     number of CPUs in Bucket[b], bit b of BucketMap is set iff that number
 *     is non-zero, and BucketMapPopulation counts BucketMap's set bits.
 *
 *  I4 Full sets. For each IRQL i with device vectors: c is in IrqlFull[i] iff
 *     IrqlVectors[i] & ~Taken[c] is empty (no free vector of that IRQL),
 *     whether c is online or not. (A take can fill an IRQL only if it fills
 *     the vector's class, a release can unfill one only if the class was
 *     full: only then are the sets touched.)
 *
 *  I6 Class choice. For each CPU c: MinClasses[c] is the set of device
 *     classes with a free vector on c whose AllocatedPerClass equals
 *     MinClassLoad[c], the least AllocatedPerClass over such classes (an
 *     empty set, when no class has room, has MinClassLoad 0).
 *
 *  I7 Held. For each CPU c: Held[c] is a subset of the device vectors set in
 *     Taken[c]: the vectors Ke has interrupt objects linked on (a vector's
 *     chain is non-empty). Only KiMatrixHold sets a bit and only
 *     KiMatrixReleaseHeld clears one, both called by Ke under its
 *     ConnectLock as it publishes a chain's first link and takes out its
 *     last. KiMatrixFree refuses a held vector, so KeFreeVector needs no
 *     lock but this one to keep a connected vector from being handed out
 *     again: the test and the free are one step under Matrix->Lock, and so
 *     are connect's "taken, else reserve" and the mark.
 *
 *  I5 Immutables. CpuCount, SetWords, DeviceVectors, IrqlVectors,
 *     IrqlsOfClass, IrqlOfVector and the array pointers are written once by
 *     KiMatrixInitialize and only read afterwards (so KiMatrixIrqlOfVector
 *     needs no lock).
 *
 *  A call that fails returns before it changes anything.
 *
 * WHY LOAD BUCKETS, AND WHEN NOT (finding the least-loaded CPU of a mask)
 *
 * The obvious way - walk every CPU of the affinity and keep the least loaded
 * (what Linux's matrix_find_best_cpu does) - costs O(CPUs in the mask) per
 * allocation, so an allocation with a full mask is 1000 times dearer at 4096
 * CPUs than at 4. A heap ordered by load cannot answer "least loaded
 * *within this mask*". Buckets can: the search takes the non-empty buckets
 * from the lowest load up (a find-first-set over BucketMap) and, in each,
 * the lowest CPU that is also in the mask - the first hit is the answer,
 * with the lowest-id tie rule for free. With a mask that covers the
 * least-loaded CPUs (the common "any CPU" case) that is one or two word
 * tests whatever the CPU count.
 *
 * Buckets are kept lazily (I3). Taking a vector raises a CPU's load and
 * leaves it in its bucket; freeing one moves it down only if its bucket is
 * now above its load. So an allocation freed again - the common pattern -
 * moves nothing. A search that meets a CPU whose load is above its bucket
 * moves it to its load's bucket (above the one being searched, so visited
 * later if need be) and goes on: each such move pays for an earlier take.
 *
 * A mask that meets only CPUs above the lowest load (a one-CPU mask of a
 * pinned device, say) would step through every non-empty bucket below its
 * CPUs' load. So the pass that tests the lowest bucket also lists the
 * mask's non-zero words and counts its online CPUs, and the search goes on
 * by whichever costs less: by load, at most BucketMapPopulation x (listed
 * words) word tests, or by CPU, one read of each online CPU of the mask, as
 * Linux does. Both give the same answer. Such a search thus costs one pass
 * over the mask's words (zero words stepped over eight at a time) plus
 * min(mask weight, buckets x words).
 *
 * The least-loaded CPU may have no free vector *in the requested IRQL's
 * classes* while other CPUs do. IrqlFull[i] (I4) lets the same word test
 * exclude those CPUs (Bucket & Mask & ~IrqlFull), so they cost nothing either.
 *
 * KE_IRQL_ANY spreads a CPU's vectors over its priority classes: it takes
 * the lowest class of MinClasses (I6). Keeping that set costs O(1) per take
 * and release; only a take that empties it recomputes it (O(classes)), once
 * per round of the classes.
 *
 * The sets here are compact: SetWords = ceil(CpuCount / 64) words, not the
 * 64 words of an IR_CPU_SET, so a 4-CPU machine tests one word per bucket and
 * the memory is (257 buckets + 16 IRQLs + online) x SetWords x 8 bytes plus
 * 128 bytes per CPU (KiMatrixStorageSize).
 *
 * LOCKING. One IR_LOCK, taken with interrupts disabled: the matrix is used by
 * connect/disconnect paths and a CPU holding the lock must not be interrupted
 * by anything that could call in and spin on it. Hold times are bounded by
 * the scans above (AllocateOnSet walks its set: O(CPUs in the set)).
 */
#include <irqroute/ke.h>

#include "irassert.h"
#include "irlock.h"
#include "ki_matrix.h"

#define KIP_VECTOR_WORDS 4u
#define KIP_CLASS_COUNT 16u
#define KIP_CLASS_MASK 0xFFFFull
/* Loads 0..256: a CPU cannot hold more device vectors than it has vectors. */
#define KIP_BUCKET_COUNT 257u
#define KIP_BUCKET_MAP_WORDS ((KIP_BUCKET_COUNT + 63u) / 64u)
#define KIP_NO_VECTOR 256u
#define KIP_ALL_ONES (~(uint64_t)0)

typedef struct _KI_MATRIX_CPU {
    _Alignas(64) uint64_t Taken[KIP_VECTOR_WORDS];
    uint64_t Held[KIP_VECTOR_WORDS]; /* I7: taken, with interrupt objects linked on them */
    uint16_t Allocated;
    /* I3: the load whose bucket holds the CPU while it is online (<= Allocated). */
    uint16_t Bucketed;
    uint8_t AllocatedPerClass[KIP_CLASS_COUNT];
    /* I6: the device classes with a free vector whose load is MinClassLoad,
     * the least such load (KE_IRQL_ANY takes the lowest of them). */
    uint16_t MinClasses;
    uint8_t MinClassLoad;
    bool Online;
} KI_MATRIX_CPU;

struct _KI_VECTOR_MATRIX {
    _Alignas(64) IR_LOCK Lock;
    uint32_t CpuCount;
    uint32_t SetWords;
    uint32_t DeviceVectorCount;
    /* Vectors of [FirstDeviceVector, LastDeviceVector] that are not device vectors. */
    uint32_t ReservedInRange;
    /* Classes that hold at least one device vector. */
    uint16_t DeviceClasses;
    /* Device vectors per class: a class is full when its AllocatedPerClass
     * reaches this (I2), a test without extracting its bits. */
    uint8_t ClassCapacity[KIP_CLASS_COUNT];
    /* Bit i of IrqlsOfClass[k]: IRQL i is served by class k (to refresh I4). */
    uint16_t IrqlsOfClass[KIP_CLASS_COUNT];
    uint64_t DeviceVectors[KIP_VECTOR_WORDS];
    uint64_t IrqlVectors[KE_IRQL_COUNT][KIP_VECTOR_WORDS];
    KIRQL IrqlOfVector[256];
    uint64_t BucketMap[KIP_BUCKET_MAP_WORDS];
    uint32_t BucketMapPopulation; /* bits set in BucketMap (I3) */
    uint32_t BucketPopulation[KIP_BUCKET_COUNT];
    KI_MATRIX_CPU *Cpus;
    uint64_t *Buckets;  /* KIP_BUCKET_COUNT sets of SetWords words */
    uint64_t *IrqlFull; /* KE_IRQL_COUNT sets of SetWords words */
    uint64_t *Online;   /* one set of SetWords words */
};

/* ---- Small bit helpers ------------------------------------------------------ */

static uint32_t KipSetWords(uint32_t CpuCount)
{
    return (CpuCount + 63u) / 64u;
}

static size_t KipRoundUp64(size_t Size)
{
    return (Size + 63u) & ~(size_t)63u;
}

static bool KipTestBit(const uint64_t *Map, uint32_t Bit)
{
    return (Map[Bit / 64u] >> (Bit % 64u)) & 1u;
}

static void KipSetBit(uint64_t *Map, uint32_t Bit)
{
    Map[Bit / 64u] |= (uint64_t)1 << (Bit % 64u);
}

static void KipClearBit(uint64_t *Map, uint32_t Bit)
{
    Map[Bit / 64u] &= ~((uint64_t)1 << (Bit % 64u));
}

/* The 16 bits of class Class (vectors Class*16 .. Class*16+15) of a vector map. */
static uint32_t KipClassBits(const uint64_t *Map, uint32_t Class)
{
    return (uint32_t)((Map[Class / 4u] >> ((Class % 4u) * 16u)) & KIP_CLASS_MASK);
}

/* Lowest vector set in Map, or KIP_NO_VECTOR. */
static uint32_t KipLowestVector(const uint64_t *Map)
{
    for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++) {
        if (Map[Word] != 0)
            return Word * 64u + (uint32_t)__builtin_ctzll(Map[Word]);
    }
    return KIP_NO_VECTOR;
}

/* The bits of word Word of a CPU set that name CPUs below CpuCount. */
static uint64_t KipValidCpuBits(const KI_VECTOR_MATRIX *Matrix, uint32_t Word)
{
    uint32_t First = Word * 64u;
    if (First >= Matrix->CpuCount)
        return 0;
    uint32_t Remaining = Matrix->CpuCount - First;
    return Remaining >= 64u ? KIP_ALL_ONES : KIP_ALL_ONES >> (64u - Remaining);
}

static uint64_t *KipBucket(const KI_VECTOR_MATRIX *Matrix, uint32_t Load)
{
    return Matrix->Buckets + (size_t)Load * Matrix->SetWords;
}

static uint64_t *KipIrqlFull(const KI_VECTOR_MATRIX *Matrix, uint32_t Irql)
{
    return Matrix->IrqlFull + (size_t)Irql * Matrix->SetWords;
}

static bool KipIsDeviceVector(const KI_VECTOR_MATRIX *Matrix, uint32_t Vector)
{
    return Vector < 256u && KipTestBit(Matrix->DeviceVectors, Vector);
}

/* KE_IRQL_ANY, or an IRQL whose classes hold at least one device vector. */
static bool KipIsValidIrql(const KI_VECTOR_MATRIX *Matrix, KIRQL Irql)
{
    if (Irql == KE_IRQL_ANY)
        return true;
    if (Irql >= KE_IRQL_COUNT)
        return false;
    return KipLowestVector(Matrix->IrqlVectors[Irql]) != KIP_NO_VECTOR;
}

/* Set bits of Word (a portable count: the core may not call libgcc). */
static uint32_t KipPopulation(uint64_t Word)
{
    Word = Word - ((Word >> 1) & 0x5555555555555555ull);
    Word = (Word & 0x3333333333333333ull) + ((Word >> 2) & 0x3333333333333333ull);
    Word = (Word + (Word >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (uint32_t)((Word * 0x0101010101010101ull) >> 56);
}

/* Free device vectors of class Class on a CPU, as 16 bits. */
static uint32_t KipClassFree(const KI_VECTOR_MATRIX *Matrix, const KI_MATRIX_CPU *State, uint32_t Class)
{
    return KipClassBits(Matrix->DeviceVectors, Class) & ~KipClassBits(State->Taken, Class);
}

/* I6 from scratch: the device classes with a free vector and the least
 * load among them (an empty set has load 0). O(classes). */
static void KipComputeMinClasses(const KI_VECTOR_MATRIX *Matrix, const KI_MATRIX_CPU *State, uint16_t *Classes,
                                 uint8_t *Load)
{
    uint32_t Set = 0;
    uint32_t Least = UINT32_MAX;
    for (uint32_t Remaining = Matrix->DeviceClasses; Remaining != 0; Remaining &= Remaining - 1u) {
        uint32_t Class = (uint32_t)__builtin_ctz(Remaining);
        if (KipClassFree(Matrix, State, Class) == 0)
            continue;
        uint32_t ClassLoad = State->AllocatedPerClass[Class];
        if (ClassLoad < Least) {
            Least = ClassLoad;
            Set = 0;
        }
        if (ClassLoad == Least)
            Set |= 1u << Class;
    }
    *Classes = (uint16_t)Set;
    *Load = Set == 0 ? 0 : (uint8_t)Least;
}

/* ---- Debug checks of the invariants (src/base/irassert.h) ------------------------ */

#if IRQROUTE_DEBUG_CHECKS

/* I3's map half for one load: BucketMap's bit agrees with the population. */
static bool KipBucketMapAgrees(const KI_VECTOR_MATRIX *Matrix, uint32_t Load)
{
    return (Matrix->BucketPopulation[Load] != 0) == KipTestBit(Matrix->BucketMap, Load);
}

/* I3: BucketMapPopulation counts BucketMap's bits. */
static bool KipBucketMapCountAgrees(const KI_VECTOR_MATRIX *Matrix)
{
    uint32_t Count = 0;
    for (uint32_t Word = 0; Word < KIP_BUCKET_MAP_WORDS; Word++)
        Count += KipPopulation(Matrix->BucketMap[Word]);
    return Count == Matrix->BucketMapPopulation;
}

/* I3 for one CPU: an online CPU is in Bucket[Bucketed], Bucketed <=
 * Allocated, and in no other bucket; an offline one in none; the online set
 * says the same. */
static bool KipCpuBucketsAgree(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    if (State->Online != KipTestBit(Matrix->Online, Cpu))
        return false;
    if (State->Online && State->Bucketed > State->Allocated)
        return false;
    for (uint32_t Load = 0; Load < KIP_BUCKET_COUNT; Load++) {
        bool Expected = State->Online && Load == State->Bucketed;
        if (KipTestBit(KipBucket(Matrix, Load), Cpu) != Expected)
            return false;
    }
    return true;
}

/* I4 for one CPU: its bit in IrqlFull[i] is set iff no vector of IRQL i is free. */
static bool KipCpuFullSetsAgree(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    const uint64_t *Taken = Matrix->Cpus[Cpu].Taken;
    for (uint32_t Irql = 0; Irql < KE_IRQL_COUNT; Irql++) {
        if (KipLowestVector(Matrix->IrqlVectors[Irql]) == KIP_NO_VECTOR)
            continue;
        uint64_t Free = 0;
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
            Free |= Matrix->IrqlVectors[Irql][Word] & ~Taken[Word];
        if (KipTestBit(KipIrqlFull(Matrix, Irql), Cpu) != (Free == 0))
            return false;
    }
    return true;
}

/* I6 for one CPU: the kept class choice is the one computed from scratch. */
static bool KipCpuClassChoiceAgrees(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    uint16_t Classes;
    uint8_t Load;
    KipComputeMinClasses(Matrix, State, &Classes, &Load);
    return Classes == State->MinClasses && Load == State->MinClassLoad;
}

/* I1-I4, I6 and I7 for one CPU, after a change to it (under the lock).
 * O(vectors + buckets), so debug builds only: nothing runs in a release build. */
static void KipAssertCpuInvariants(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    uint32_t Allocated = 0;
    for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++) {
        /* I1: every vector that is not a device vector stays taken. */
        IR_ASSERT((~Matrix->DeviceVectors[Word] & ~State->Taken[Word]) == 0);
        /* I7: a held vector is a taken device vector. */
        IR_ASSERT((State->Held[Word] & ~(State->Taken[Word] & Matrix->DeviceVectors[Word])) == 0);
        Allocated += KipPopulation(State->Taken[Word] & Matrix->DeviceVectors[Word]);
    }
    /* I2: the load and the per-class loads count the device vectors taken. */
    IR_ASSERT(Allocated == State->Allocated && Allocated <= Matrix->DeviceVectorCount);
    for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++)
        IR_ASSERT(KipPopulation(KipClassBits(State->Taken, Class) & KipClassBits(Matrix->DeviceVectors, Class)) ==
                  State->AllocatedPerClass[Class]);
    IR_ASSERT(KipCpuBucketsAgree(Matrix, Cpu));        /* I3 */
    IR_ASSERT(!State->Online || KipBucketMapAgrees(Matrix, State->Bucketed)); /* I3 */
    IR_ASSERT(KipBucketMapCountAgrees(Matrix));                                /* I3 */
    IR_ASSERT(KipCpuFullSetsAgree(Matrix, Cpu));       /* I4 */
    IR_ASSERT(KipCpuClassChoiceAgrees(Matrix, Cpu));   /* I6 */
}

static void KipAssertBucketMap(const KI_VECTOR_MATRIX *Matrix, uint32_t Load)
{
    IR_ASSERT(KipBucketMapAgrees(Matrix, Load));
}

#else

static inline void KipAssertCpuInvariants(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    (void)Matrix;
    (void)Cpu;
}

static inline void KipAssertBucketMap(const KI_VECTOR_MATRIX *Matrix, uint32_t Load)
{
    (void)Matrix;
    (void)Load;
}

#endif

/* ---- Keeping I3 (buckets), I4 (full sets) and I6 (class choice) ----------------- */

static void KipBucketInsert(KI_VECTOR_MATRIX *Matrix, uint32_t Load, uint32_t Cpu)
{
    IR_ASSERT(!KipTestBit(KipBucket(Matrix, Load), Cpu));
    Matrix->Cpus[Cpu].Bucketed = (uint16_t)Load;
    KipSetBit(KipBucket(Matrix, Load), Cpu);
    if (Matrix->BucketPopulation[Load]++ == 0) {
        KipSetBit(Matrix->BucketMap, Load);
        Matrix->BucketMapPopulation++;
    }
}

static void KipBucketRemove(KI_VECTOR_MATRIX *Matrix, uint32_t Load, uint32_t Cpu)
{
    IR_ASSERT(KipTestBit(KipBucket(Matrix, Load), Cpu) && Matrix->BucketPopulation[Load] > 0);
    KipClearBit(KipBucket(Matrix, Load), Cpu);
    if (--Matrix->BucketPopulation[Load] == 0) {
        KipClearBit(Matrix->BucketMap, Load);
        Matrix->BucketMapPopulation--;
    }
    KipAssertBucketMap(Matrix, Load);
}

/* Moves an online CPU from the bucket it is in to Bucket[Load]. */
static void KipBucketMove(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Load)
{
    KipBucketRemove(Matrix, Matrix->Cpus[Cpu].Bucketed, Cpu);
    KipBucketInsert(Matrix, Load, Cpu);
}

/* Re-evaluates I4 for Cpu and every IRQL served by Class. */
static void KipRefreshIrqlFull(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Class)
{
    const uint64_t *Taken = Matrix->Cpus[Cpu].Taken;
    uint32_t Irqls = Matrix->IrqlsOfClass[Class];
    while (Irqls != 0) {
        uint32_t Irql = (uint32_t)__builtin_ctz(Irqls);
        Irqls &= Irqls - 1u;
        uint64_t Free = 0;
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
            Free |= Matrix->IrqlVectors[Irql][Word] & ~Taken[Word];
        if (Free == 0)
            KipSetBit(KipIrqlFull(Matrix, Irql), Cpu);
        else
            KipClearBit(KipIrqlFull(Matrix, Irql), Cpu);
    }
}

/* I4 after a release in Class: every IRQL that Class serves has a free vector now. */
static void KipClearIrqlFull(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Class)
{
    for (uint32_t Irqls = Matrix->IrqlsOfClass[Class]; Irqls != 0; Irqls &= Irqls - 1u)
        KipClearBit(KipIrqlFull(Matrix, (uint32_t)__builtin_ctz(Irqls)), Cpu);
}

/* I6 after a take in Class. Class had a free vector, so it was in
 * MinClasses iff its load was the least; now it is one more. Only when it
 * was the last of the least-loaded classes is the set recomputed (once per
 * "level" of a CPU's classes: allocations that round-robin over 10 classes
 * recompute once in 10): returns true then, for the caller to do it. */
static bool KipClassTaken(KI_MATRIX_CPU *State, uint32_t Class)
{
    uint16_t Bit = (uint16_t)(1u << Class);
    if ((State->MinClasses & Bit) == 0)
        return false;
    State->MinClasses &= (uint16_t)~Bit;
    return State->MinClasses == 0;
}

/* I6 after a release in Class: Class has a free vector now, with load one
 * less; it joins the set, or replaces it when it is below the set's load. */
static void KipClassReleased(KI_MATRIX_CPU *State, uint32_t Class)
{
    uint32_t Load = State->AllocatedPerClass[Class];
    uint16_t Bit = (uint16_t)(1u << Class);
    if (State->MinClasses == 0 || Load < State->MinClassLoad) {
        State->MinClasses = Bit;
        State->MinClassLoad = (uint8_t)Load;
    } else if (Load == State->MinClassLoad) {
        State->MinClasses |= Bit;
    }
}

/* The rare half of a release, out of line and called last, so that the
 * common path keeps nothing live across a call and saves no registers for
 * it: the CPU moved down to its load's bucket (I3: its bucket ran above the
 * load), and the IRQLs the class serves not full (I4: the class had been
 * full). A take keeps its rare work inline: split the same way it measured
 * 11 ns slower per allocate + free on this host, for fewer instructions. */
__attribute__((noinline)) static void KipAfterReleaseRare(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Class,
                                                           bool MoveDown, bool Unfilled)
{
    if (MoveDown)
        KipBucketMove(Matrix, Cpu, Matrix->Cpus[Cpu].Allocated);
    if (Unfilled)
        KipClearIrqlFull(Matrix, Cpu, Class);
}

/* Marks a free device vector taken on Cpu, keeping I1-I4 and I6. */
static void KipTake(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Vector)
{
    IrLockAssertHeld(&Matrix->Lock);
    IR_ASSERT(KipIsDeviceVector(Matrix, Vector) && !KipTestBit(Matrix->Cpus[Cpu].Taken, Vector));
    KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    uint32_t Class = Vector >> 4;
    KipSetBit(State->Taken, Vector);
    State->AllocatedPerClass[Class]++;
    /* The CPU stays in its bucket, below its load now (I3): a search that
     * meets it there moves it up (KipSettle); a release that follows finds
     * it in place again. */
    State->Allocated++;
    if (KipClassTaken(State, Class))
        KipComputeMinClasses(Matrix, State, &State->MinClasses, &State->MinClassLoad);
    /* An IRQL served by Class can only have become full if Class did (I4). */
    if (State->AllocatedPerClass[Class] == Matrix->ClassCapacity[Class])
        KipRefreshIrqlFull(Matrix, Cpu, Class);
    KipAssertCpuInvariants(Matrix, Cpu);
}

/* Marks a taken device vector free on Cpu, keeping I1-I4 and I6. */
static void KipRelease(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Vector)
{
    IrLockAssertHeld(&Matrix->Lock);
    IR_ASSERT(KipIsDeviceVector(Matrix, Vector) && KipTestBit(Matrix->Cpus[Cpu].Taken, Vector));
    KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    uint32_t Class = Vector >> 4;
    KipClearBit(State->Taken, Vector);
    State->AllocatedPerClass[Class]--;
    State->Allocated--;
    KipClassReleased(State, Class);
    /* A bucket may lag below the load, never run above it (I3). */
    bool MoveDown = State->Online && State->Bucketed > State->Allocated;
    /* The IRQLs served by Class were full only if Class was: when this
     * vector is its only free one now (one below its capacity), they are
     * not full any more (I4). */
    bool Unfilled = State->AllocatedPerClass[Class] + 1u == Matrix->ClassCapacity[Class];
    if (__builtin_expect(MoveDown || Unfilled, 0))
        KipAfterReleaseRare(Matrix, Cpu, Class, MoveDown, Unfilled);
    KipAssertCpuInvariants(Matrix, Cpu);
}

/* ---- Searches ----------------------------------------------------------------- */

/* Full set of "no CPU", for KE_IRQL_ANY (every CPU with a free device vector qualifies). */
static const uint64_t KipNoCpus[IR_CPU_SET_WORDS];

/* The non-zero words of Affinity & Online, listed once a search needs them. */
typedef struct _KIP_MASK_WORDS {
    uint32_t Count;
    uint32_t Cpus; /* online CPUs in the mask */
    uint8_t Index[IR_CPU_SET_WORDS];
} KIP_MASK_WORDS;

/* Candidates are CPUs of Bucket[Load] (one word of them, at Word). A CPU
 * whose load is above the bucket's (I3 lets a take leave it there) is moved
 * to its own bucket, which a search by load reaches later; the first whose
 * load is Load is the answer, or IR_CPU_NONE. */
static uint32_t KipSettle(KI_VECTOR_MATRIX *Matrix, uint32_t Load, uint32_t Word, uint64_t Candidates)
{
    for (; Candidates != 0; Candidates &= Candidates - 1u) {
        uint32_t Cpu = Word * 64u + (uint32_t)__builtin_ctzll(Candidates);
        uint32_t Allocated = Matrix->Cpus[Cpu].Allocated;
        if (Allocated == Load)
            return Cpu;
        KipBucketMove(Matrix, Cpu, Allocated);
    }
    return IR_CPU_NONE;
}

/* The first non-zero word of Mask at or after Word, or SetWords: runs of
 * zero words are stepped over eight at a time, then one at a time (a small
 * mask on a big machine is mostly zero words; the pointer walk keeps each
 * step to a few instructions). */
static uint32_t KipSkipZeroWords(const uint64_t *Mask, uint32_t Word, uint32_t SetWords)
{
    const uint64_t *Cursor = Mask + Word;
    const uint64_t *End = Mask + SetWords;
    while (End - Cursor >= 8 && (Cursor[0] | Cursor[1] | Cursor[2] | Cursor[3] | Cursor[4] | Cursor[5] | Cursor[6] |
                                 Cursor[7]) == 0)
        Cursor += 8;
    while (Cursor < End && *Cursor == 0)
        Cursor++;
    return (uint32_t)(Cursor - Mask);
}

/* The lowest CPU of Bucket[Load] & Affinity & ~Full whose load is Load, or
 * IR_CPU_NONE; on a miss, Words lists the non-zero words of Affinity &
 * Online and counts their CPUs, from the same pass over the mask. */
static uint32_t KipFirstEligibleOrList(KI_VECTOR_MATRIX *Matrix, uint32_t Load, const IR_CPU_SET *Affinity,
                                       const uint64_t *Full, KIP_MASK_WORDS *Words)
{
    const uint64_t *Bucket = KipBucket(Matrix, Load);
    const uint64_t *Mask = Affinity->Bits;
    uint32_t SetWords = Matrix->SetWords;
    Words->Count = 0;
    Words->Cpus = 0;
    for (uint32_t Word = 0; Word < SetWords; Word++) {
        uint64_t Bits = Mask[Word];
        if (Bits == 0) {
            Word = KipSkipZeroWords(Mask, Word + 1u, SetWords) - 1u;
            continue;
        }
        uint32_t Cpu = KipSettle(Matrix, Load, Word, Bucket[Word] & Bits & ~Full[Word]);
        if (Cpu != IR_CPU_NONE)
            return Cpu;
        Bits &= Matrix->Online[Word];
        if (Bits != 0) {
            Words->Index[Words->Count++] = (uint8_t)Word;
            Words->Cpus += KipPopulation(Bits);
        }
    }
    return IR_CPU_NONE;
}

/* The lowest non-empty bucket at or above From, or KIP_BUCKET_COUNT. */
static uint32_t KipNextLoad(const KI_VECTOR_MATRIX *Matrix, uint32_t From)
{
    for (uint32_t MapWord = From / 64u; MapWord < KIP_BUCKET_MAP_WORDS; MapWord++) {
        uint64_t Loads = Matrix->BucketMap[MapWord];
        if (MapWord == From / 64u)
            Loads &= KIP_ALL_ONES << (From % 64u);
        if (Loads != 0)
            return MapWord * 64u + (uint32_t)__builtin_ctzll(Loads);
    }
    return KIP_BUCKET_COUNT;
}

/* By load: the buckets above Lowest, each tested on the listed words. The
 * map is read afresh at every step: settling moves CPUs into buckets above
 * the current one. */
static uint32_t KipWalkBuckets(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, const uint64_t *Full,
                               uint32_t Lowest, const KIP_MASK_WORDS *Words)
{
    /* CPUs from DeviceVectorCount up have no device vector left (I2). */
    for (uint32_t Load = KipNextLoad(Matrix, Lowest + 1u); Load < Matrix->DeviceVectorCount;
         Load = KipNextLoad(Matrix, Load + 1u)) {
        const uint64_t *Bucket = KipBucket(Matrix, Load);
        for (uint32_t Index = 0; Index < Words->Count; Index++) {
            uint32_t Word = Words->Index[Index];
            uint32_t Cpu = KipSettle(Matrix, Load, Word, Bucket[Word] & Affinity->Bits[Word] & ~Full[Word]);
            if (Cpu != IR_CPU_NONE)
                return Cpu;
        }
    }
    return IR_CPU_NONE;
}

/* By CPU, as Linux's matrix_find_best_cpu: every online CPU of the listed
 * words not in Full, keeping the least loaded (the first on ties). */
static uint32_t KipScanListedCpus(const KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, const uint64_t *Full,
                                  const KIP_MASK_WORDS *Words)
{
    uint32_t Best = IR_CPU_NONE;
    /* A load of DeviceVectorCount leaves nothing (I2): start just there. */
    uint32_t BestLoad = Matrix->DeviceVectorCount;
    for (uint32_t Index = 0; Index < Words->Count; Index++) {
        uint32_t Word = Words->Index[Index];
        uint64_t Bits = Affinity->Bits[Word] & Matrix->Online[Word] & ~Full[Word];
        for (; Bits != 0; Bits &= Bits - 1u) {
            uint32_t Cpu = Word * 64u + (uint32_t)__builtin_ctzll(Bits);
            uint32_t Load = Matrix->Cpus[Cpu].Allocated;
            if (Load < BestLoad) {
                Best = Cpu;
                BestLoad = Load;
            }
        }
    }
    return Best;
}

/* The least-loaded online CPU of Affinity with a free vector for Irql
 * (ties: lowest id), or IR_CPU_NONE. Under the lock; may move CPUs up to
 * the buckets of their loads (I3), which changes no answer.
 *
 * First the least-loaded bucket, tested word by word from CPU 0: a mask
 * that covers a least-loaded CPU (the common "any CPU" case) ends there.
 * The same pass lists the mask's non-zero words and counts its online
 * CPUs. Then the cheaper of two searches that give the same answer: by
 * load, the further non-empty buckets on the listed words (at most
 * BucketMapPopulation x listed words word tests), or by CPU, each online
 * CPU of the mask (its weight in per-CPU reads). A small mask away from the
 * least-loaded CPUs - the one-CPU mask of a pinned device - thus costs one
 * pass over the mask's words and a read of its CPUs, whatever the loads. */
static uint32_t KipFindLeastLoaded(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, KIRQL Irql)
{
    IrLockAssertHeld(&Matrix->Lock);
    const uint64_t *Full = Irql == KE_IRQL_ANY ? KipNoCpus : KipIrqlFull(Matrix, Irql);
    uint32_t Lowest = KipNextLoad(Matrix, 0);
    /* No online CPU, or every one without a device vector left (I2). */
    if (Lowest >= Matrix->DeviceVectorCount)
        return IR_CPU_NONE;
    KIP_MASK_WORDS Words;
    uint32_t Cpu = KipFirstEligibleOrList(Matrix, Lowest, Affinity, Full, &Words);
    if (Cpu != IR_CPU_NONE || Words.Count == 0)
        return Cpu;
    if (Words.Cpus <= Matrix->BucketMapPopulation * Words.Count)
        return KipScanListedCpus(Matrix, Affinity, Full, &Words);
    return KipWalkBuckets(Matrix, Affinity, Full, Lowest, &Words);
}

/* The vector to hand out on a CPU that KipFindLeastLoaded chose (so one
 * exists). With KE_IRQL_ANY: the lowest free vector of the CPU's lowest
 * least-used class with room (I6), so successive allocations spread over the
 * priority classes instead of piling into the lowest one. */
static uint32_t KipChooseVector(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, KIRQL Irql)
{
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    if (Irql != KE_IRQL_ANY) {
        uint64_t Free[KIP_VECTOR_WORDS];
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
            Free[Word] = Matrix->IrqlVectors[Irql][Word] & ~State->Taken[Word];
        return KipLowestVector(Free);
    }
    if (State->MinClasses == 0)
        return KIP_NO_VECTOR;
    uint32_t Class = (uint32_t)__builtin_ctz(State->MinClasses);
    return Class * 16u + (uint32_t)__builtin_ctz(KipClassFree(Matrix, State, Class));
}

/* True when Affinity names at least one online CPU (tells an empty/offline
 * affinity from exhaustion once a search has failed). */
static bool KipIntersectsOnline(const KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity)
{
    for (uint32_t Word = 0; Word < Matrix->SetWords; Word++) {
        if ((Affinity->Bits[Word] & Matrix->Online[Word]) != 0)
            return true;
    }
    return false;
}

/* ---- Initialisation ------------------------------------------------------------- */

size_t KiMatrixStorageSize(uint32_t CpuCount)
{
    if (CpuCount == 0 || CpuCount > IR_MAX_CPUS)
        return 0;
    size_t SetBytes = (size_t)KipSetWords(CpuCount) * sizeof(uint64_t);
    return KipRoundUp64(sizeof(KI_VECTOR_MATRIX)) + (size_t)CpuCount * sizeof(KI_MATRIX_CPU) +
           KipRoundUp64((KIP_BUCKET_COUNT + KE_IRQL_COUNT + 1u) * SetBytes);
}

static bool KipIsReservedByLayout(const KE_VECTOR_LAYOUT *Layout, uint32_t Vector)
{
    for (uint32_t Index = 0; Index < Layout->ReservedVectorCount; Index++) {
        if (Layout->ReservedVectors[Index] == Vector)
            return true;
    }
    return Vector == Layout->SpuriousVector;
}

/* IRQL per vector: the highest IRQL whose classes contain the vector's class
 * (as KeIrqlOfVector has it), or KE_IRQL_ANY. */
static void KipBuildIrqlOfVector(KI_VECTOR_MATRIX *Matrix, const KE_VECTOR_LAYOUT *Layout)
{
    for (uint32_t Vector = 0; Vector < 256u; Vector++) {
        Matrix->IrqlOfVector[Vector] = KE_IRQL_ANY;
        for (uint32_t Irql = 0; Irql < KE_IRQL_COUNT; Irql++) {
            if ((Layout->ClassesOfIrql[Irql] >> (Vector >> 4)) & 1u)
                Matrix->IrqlOfVector[Vector] = (KIRQL)Irql;
        }
    }
}

/* The immutable maps (I5): device vectors, per-IRQL vectors, class links. */
static void KipBuildVectorMaps(KI_VECTOR_MATRIX *Matrix, const KE_VECTOR_LAYOUT *Layout)
{
    KipBuildIrqlOfVector(Matrix, Layout);
    Matrix->DeviceVectorCount = 0;
    Matrix->DeviceClasses = 0;
    for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++)
        Matrix->ClassCapacity[Class] = 0;
    for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
        Matrix->DeviceVectors[Word] = 0;
    for (uint32_t Vector = Layout->FirstDeviceVector; Vector <= Layout->LastDeviceVector; Vector++) {
        if (KipIsReservedByLayout(Layout, Vector) || Matrix->IrqlOfVector[Vector] == KE_IRQL_ANY)
            continue;
        KipSetBit(Matrix->DeviceVectors, Vector);
        Matrix->DeviceVectorCount++;
        Matrix->DeviceClasses |= (uint16_t)(1u << (Vector >> 4));
        Matrix->ClassCapacity[Vector >> 4]++;
    }
    Matrix->ReservedInRange =
        (uint32_t)(Layout->LastDeviceVector - Layout->FirstDeviceVector + 1u) - Matrix->DeviceVectorCount;

    for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++)
        Matrix->IrqlsOfClass[Class] = 0;
    for (uint32_t Irql = 0; Irql < KE_IRQL_COUNT; Irql++) {
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++) {
            uint64_t ClassWord = 0;
            for (uint32_t Slot = 0; Slot < 4u; Slot++) {
                if ((Layout->ClassesOfIrql[Irql] >> (Word * 4u + Slot)) & 1u)
                    ClassWord |= KIP_CLASS_MASK << (Slot * 16u);
            }
            Matrix->IrqlVectors[Irql][Word] = ClassWord & Matrix->DeviceVectors[Word];
        }
        for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++) {
            if ((Layout->ClassesOfIrql[Irql] >> Class) & 1u)
                Matrix->IrqlsOfClass[Class] |= (uint16_t)(1u << Irql);
        }
    }
}

/* Every CPU offline and empty: Taken = ~DeviceVectors (I1), counts zero (I2),
 * no bucket populated (I3), no IRQL full (I4: every device vector is free),
 * every device class least used (I6). */
static void KipResetCpus(KI_VECTOR_MATRIX *Matrix)
{
    for (uint32_t Cpu = 0; Cpu < Matrix->CpuCount; Cpu++) {
        KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++) {
            State->Taken[Word] = ~Matrix->DeviceVectors[Word];
            State->Held[Word] = 0;
        }
        State->Allocated = 0;
        State->Bucketed = 0;
        for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++)
            State->AllocatedPerClass[Class] = 0;
        /* I6: every device class is free and unused. */
        State->MinClasses = Matrix->DeviceClasses;
        State->MinClassLoad = 0;
        State->Online = false;
    }
    size_t SetWordsTotal = (size_t)(KIP_BUCKET_COUNT + KE_IRQL_COUNT + 1u) * Matrix->SetWords;
    for (size_t Index = 0; Index < SetWordsTotal; Index++)
        Matrix->Buckets[Index] = 0;
    for (uint32_t Load = 0; Load < KIP_BUCKET_COUNT; Load++)
        Matrix->BucketPopulation[Load] = 0;
    for (uint32_t Word = 0; Word < KIP_BUCKET_MAP_WORDS; Word++)
        Matrix->BucketMap[Word] = 0;
    Matrix->BucketMapPopulation = 0;
}

static bool KipIsLayoutUsable(const KE_VECTOR_LAYOUT *Layout)
{
    return Layout->FirstDeviceVector <= Layout->LastDeviceVector &&
           (Layout->ReservedVectorCount == 0 || Layout->ReservedVectors != NULL);
}

IRQ_STATUS KiMatrixInitialize(void *Storage, size_t StorageSize, uint32_t CpuCount, const KE_VECTOR_LAYOUT *Layout,
                              KI_VECTOR_MATRIX **Matrix)
{
    if (Storage == NULL || Layout == NULL || Matrix == NULL || ((uintptr_t)Storage & 63u) != 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!KipIsLayoutUsable(Layout))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (CpuCount == 0 || CpuCount > IR_MAX_CPUS)
        return IRQ_STATUS_INVALID_CPU;
    if (StorageSize < KiMatrixStorageSize(CpuCount))
        return IRQ_STATUS_BUFFER_TOO_SMALL;

    /* The header, the per-CPU array, then the compact sets, each 64-byte aligned. */
    KI_VECTOR_MATRIX *New = Storage;
    uint8_t *Cursor = (uint8_t *)Storage + KipRoundUp64(sizeof(KI_VECTOR_MATRIX));
    IrLockInitialize(&New->Lock);
    New->CpuCount = CpuCount;
    New->SetWords = KipSetWords(CpuCount);
    New->Cpus = (KI_MATRIX_CPU *)(void *)Cursor;
    Cursor += (size_t)CpuCount * sizeof(KI_MATRIX_CPU);
    New->Buckets = (uint64_t *)(void *)Cursor;
    New->IrqlFull = New->Buckets + (size_t)KIP_BUCKET_COUNT * New->SetWords;
    New->Online = New->IrqlFull + (size_t)KE_IRQL_COUNT * New->SetWords;

    KipBuildVectorMaps(New, Layout);
    KipResetCpus(New);
    *Matrix = New;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Online state ---------------------------------------------------------------- */

void KiMatrixSetOnline(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, bool Online)
{
    if (Matrix == NULL || Cpu >= Matrix->CpuCount)
        return;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    if (State->Online != Online) {
        /* A CPU keeps its vectors while offline; only its bucket membership
         * (I3) follows the online state. */
        State->Online = Online;
        if (Online) {
            KipSetBit(Matrix->Online, Cpu);
            KipBucketInsert(Matrix, State->Allocated, Cpu);
        } else {
            KipClearBit(Matrix->Online, Cpu);
            KipBucketRemove(Matrix, State->Bucketed, Cpu);
        }
    }
    KipAssertCpuInvariants(Matrix, Cpu);
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
}

bool KiMatrixIsOnline(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    if (Matrix == NULL || Cpu >= Matrix->CpuCount)
        return false;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    bool Online = Matrix->Cpus[Cpu].Online;
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Online;
}

void KiMatrixQueryOnline(KI_VECTOR_MATRIX *Matrix, IR_CPU_SET *Online)
{
    if (Online == NULL)
        return;
    IrCpuSetZero(Online);
    if (Matrix == NULL)
        return;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    for (uint32_t Word = 0; Word < Matrix->SetWords; Word++)
        Online->Bits[Word] = Matrix->Online[Word];
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
}

KIRQL KiMatrixIrqlOfVector(const KI_VECTOR_MATRIX *Matrix, uint8_t Vector)
{
    return Matrix == NULL ? KE_IRQL_ANY : Matrix->IrqlOfVector[Vector];
}

/* ---- Allocation ----------------------------------------------------------------- */

IRQ_STATUS KiMatrixAllocate(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, KIRQL Irql, uint32_t *Cpu,
                            uint8_t *Vector)
{
    if (Matrix == NULL || Affinity == NULL || Cpu == NULL || Vector == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!KipIsValidIrql(Matrix, Irql))
        return IRQ_STATUS_INVALID_IRQL;

    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    IRQ_STATUS Status;
    uint32_t Chosen = KipFindLeastLoaded(Matrix, Affinity, Irql);
    if (Chosen == IR_CPU_NONE) {
        Status = KipIntersectsOnline(Matrix, Affinity) ? IRQ_STATUS_VECTOR_EXHAUSTED : IRQ_STATUS_EMPTY_AFFINITY;
    } else {
        uint32_t Found = KipChooseVector(Matrix, Chosen, Irql);
        KipTake(Matrix, Chosen, Found);
        *Cpu = Chosen;
        *Vector = (uint8_t)Found;
        Status = IRQ_STATUS_SUCCESS;
    }
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Status;
}

IRQ_STATUS KiMatrixQueryLeastLoaded(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, uint32_t *Cpu)
{
    if (Matrix == NULL || Affinity == NULL || Cpu == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    uint32_t Chosen = KipFindLeastLoaded(Matrix, Affinity, KE_IRQL_ANY);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (Chosen == IR_CPU_NONE)
        Status = KipIntersectsOnline(Matrix, Affinity) ? IRQ_STATUS_VECTOR_EXHAUSTED : IRQ_STATUS_EMPTY_AFFINITY;
    else
        *Cpu = Chosen;
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Status;
}

/* Every CPU of Cpus must exist and be online: an empty set, or one with no
 * online CPU, is an empty affinity; a CPU beyond the count, or an offline
 * one beside online ones, is an invalid CPU. */
static IRQ_STATUS KipCheckOnSet(const KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Cpus)
{
    bool AnyOnline = false;
    bool AnyOffline = false;
    for (uint32_t Word = 0; Word < IR_CPU_SET_WORDS; Word++) {
        uint64_t Bits = Cpus->Bits[Word];
        if (Bits == 0)
            continue;
        if ((Bits & ~KipValidCpuBits(Matrix, Word)) != 0)
            return IRQ_STATUS_INVALID_CPU;
        AnyOnline |= (Bits & Matrix->Online[Word]) != 0;
        AnyOffline |= (Bits & ~Matrix->Online[Word]) != 0;
    }
    if (!AnyOnline)
        return IRQ_STATUS_EMPTY_AFFINITY;
    return AnyOffline ? IRQ_STATUS_INVALID_CPU : IRQ_STATUS_SUCCESS;
}

/* Free = candidate vectors that are free on every CPU of Cpus. */
static void KipIntersectFree(const KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Cpus, uint64_t *Free)
{
    for (uint32_t Word = 0; Word < Matrix->SetWords; Word++) {
        uint64_t Bits = Cpus->Bits[Word];
        while (Bits != 0) {
            const uint64_t *Taken = Matrix->Cpus[Word * 64u + (uint32_t)__builtin_ctzll(Bits)].Taken;
            Bits &= Bits - 1u;
            uint64_t Left = 0;
            for (uint32_t VectorWord = 0; VectorWord < KIP_VECTOR_WORDS; VectorWord++) {
                Free[VectorWord] &= ~Taken[VectorWord];
                Left |= Free[VectorWord];
            }
            if (Left == 0)
                return;
        }
    }
}

static void KipTakeOnSet(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Cpus, uint32_t Vector)
{
    for (uint32_t Word = 0; Word < Matrix->SetWords; Word++) {
        uint64_t Bits = Cpus->Bits[Word];
        while (Bits != 0) {
            KipTake(Matrix, Word * 64u + (uint32_t)__builtin_ctzll(Bits), Vector);
            Bits &= Bits - 1u;
        }
    }
}

IRQ_STATUS KiMatrixAllocateOnSet(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Cpus, KIRQL Irql, uint8_t *Vector)
{
    if (Matrix == NULL || Cpus == NULL || Vector == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!KipIsValidIrql(Matrix, Irql))
        return IRQ_STATUS_INVALID_IRQL;

    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    IRQ_STATUS Status = KipCheckOnSet(Matrix, Cpus);
    if (Status == IRQ_STATUS_SUCCESS) {
        const uint64_t *Candidates = Irql == KE_IRQL_ANY ? Matrix->DeviceVectors : Matrix->IrqlVectors[Irql];
        uint64_t Free[KIP_VECTOR_WORDS];
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
            Free[Word] = Candidates[Word];
        KipIntersectFree(Matrix, Cpus, Free);
        uint32_t Found = KipLowestVector(Free);
        if (Found == KIP_NO_VECTOR) {
            Status = IRQ_STATUS_VECTOR_EXHAUSTED;
        } else {
            KipTakeOnSet(Matrix, Cpus, Found);
            *Vector = (uint8_t)Found;
        }
    }
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Status;
}

/* ---- Reserve, free, query ------------------------------------------------------- */

/* The checks Reserve and Free share: the CPU exists and the vector is a device vector. */
static IRQ_STATUS KipCheckCpuVector(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector)
{
    if (Matrix == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Matrix->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    if (!KipIsDeviceVector(Matrix, Vector))
        return IRQ_STATUS_INVALID_VECTOR;
    return IRQ_STATUS_SUCCESS;
}

/* Reserve (Take) and Free: one vector of one CPU changes hands, provided
 * it is in the state the other call leaves it in; a held vector (I7) is
 * not the caller's to free. */
static IRQ_STATUS KipChangeOne(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector, bool Take)
{
    IRQ_STATUS Status = KipCheckCpuVector(Matrix, Cpu, Vector);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    if (!Take && KipTestBit(State->Held, Vector))
        Status = IRQ_STATUS_ACCESS_DENIED;
    else if (KipTestBit(State->Taken, Vector) == Take)
        Status = Take ? IRQ_STATUS_SHARING_VIOLATION : IRQ_STATUS_INVALID_STATE;
    else if (Take)
        KipTake(Matrix, Cpu, Vector);
    else
        KipRelease(Matrix, Cpu, Vector);
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Status;
}

/* Hold (Mark) and ReleaseHeld: Ke's side of I7, a vector's chain gaining
 * its first link or losing its last. */
static IRQ_STATUS KipChangeHeld(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector, bool Mark)
{
    IRQ_STATUS Status = KipCheckCpuVector(Matrix, Cpu, Vector);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    if (Mark) {
        if (!KipTestBit(State->Taken, Vector))
            KipTake(Matrix, Cpu, Vector);
        KipSetBit(State->Held, Vector);
    } else if (!KipTestBit(State->Held, Vector)) {
        Status = IRQ_STATUS_INVALID_STATE;
    } else {
        KipClearBit(State->Held, Vector);
        KipRelease(Matrix, Cpu, Vector);
    }
    KipAssertCpuInvariants(Matrix, Cpu);
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Status;
}

IRQ_STATUS KiMatrixHold(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector)
{
    return KipChangeHeld(Matrix, Cpu, Vector, true);
}

IRQ_STATUS KiMatrixReleaseHeld(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector)
{
    return KipChangeHeld(Matrix, Cpu, Vector, false);
}

/* Allowed on an offline CPU: a kernel sets up a CPU's fixed routes before
 * it starts it. */
IRQ_STATUS KiMatrixReserve(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector)
{
    return KipChangeOne(Matrix, Cpu, Vector, true);
}

IRQ_STATUS KiMatrixFree(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector)
{
    return KipChangeOne(Matrix, Cpu, Vector, false);
}

bool KiMatrixIsAllocated(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector)
{
    /* System vectors are taken but never "allocated": they are not ours. */
    if (KipCheckCpuVector(Matrix, Cpu, Vector) != IRQ_STATUS_SUCCESS)
        return false;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    bool Allocated = KipTestBit(Matrix->Cpus[Cpu].Taken, Vector);
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Allocated;
}

IRQ_STATUS KiMatrixQueryUsage(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, KE_VECTOR_USAGE *Usage)
{
    if (Matrix == NULL || Usage == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Matrix->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    Usage->Allocated = State->Allocated;
    Usage->Available = Matrix->DeviceVectorCount - State->Allocated;
    Usage->Reserved = Matrix->ReservedInRange;
    for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++)
        Usage->AllocatedPerClass[Class] = State->AllocatedPerClass[Class];
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return IRQ_STATUS_SUCCESS;
}
