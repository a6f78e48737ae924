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
 *  I3 Buckets. An online CPU is in exactly one load bucket, Bucket[Allocated[c]];
 *     an offline CPU is in none. BucketPopulation[b] is the number of CPUs in
 *     Bucket[b], and bit b of BucketMap is set iff that number is non-zero.
 *
 *  I4 Full sets. For each IRQL i with device vectors: c is in IrqlFull[i] iff
 *     IrqlVectors[i] & ~Taken[c] is empty (no free vector of that IRQL),
 *     whether c is online or not.
 *
 *  I5 Immutables. CpuCount, SetWords, DeviceVectors, IrqlVectors,
 *     IrqlsOfClass, IrqlOfVector and the array pointers are written once by
 *     KiMatrixInitialize and only read afterwards (so KiMatrixIrqlOfVector
 *     needs no lock).
 *
 *  A call that fails returns before it changes anything.
 *
 * WHY LOAD BUCKETS (finding the least-loaded CPU of a mask)
 *
 * The obvious way - walk every CPU of the affinity and keep the least loaded
 * (what Linux's matrix_find_best_cpu does) - costs O(CPUs) per allocation, so
 * an allocation with a full mask is 1000 times dearer at 4096 CPUs than at 4.
 * A heap ordered by load cannot answer "least loaded *within this mask*".
 * Buckets can: allocating or freeing one vector changes a CPU's load by
 * exactly one, so it moves to the neighbouring bucket in O(1) (two bit
 * writes and two counters), and the search takes the non-empty buckets from
 * the lowest load up (a find-first-set over BucketMap) and, in each, the
 * lowest CPU that is also in the mask - the first hit is the answer, with the
 * lowest-id tie rule for free. With a mask that covers the least-loaded CPUs
 * (the common "any CPU" case) that is one or two word tests whatever the CPU
 * count. The worst case, a mask that meets only heavily loaded CPUs, costs
 * one pass over the mask's words plus (non-empty buckets below the answer's
 * load, at most DeviceVectorCount: 157 on amd64) x (the mask's non-zero
 * words) word tests, still without touching any per-CPU state.
 *
 * The least-loaded CPU may have no free vector *in the requested IRQL's
 * classes* while other CPUs do. IrqlFull[i] (I4) lets the same word test
 * exclude those CPUs (Bucket & Mask & ~IrqlFull), so they cost nothing either.
 *
 * The sets here are compact: SetWords = ceil(CpuCount / 64) words, not the
 * 64 words of an IR_CPU_SET, so a 4-CPU machine tests one word per bucket and
 * the memory is (257 buckets + 16 IRQLs + online) x SetWords x 8 bytes plus
 * 64 bytes per CPU (about 400 KiB at 4096 CPUs).
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
    uint16_t Allocated;
    uint8_t AllocatedPerClass[KIP_CLASS_COUNT];
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
    /* Bit i of IrqlsOfClass[k]: IRQL i is served by class k (to refresh I4). */
    uint16_t IrqlsOfClass[KIP_CLASS_COUNT];
    uint64_t DeviceVectors[KIP_VECTOR_WORDS];
    uint64_t IrqlVectors[KE_IRQL_COUNT][KIP_VECTOR_WORDS];
    KIRQL IrqlOfVector[256];
    uint64_t BucketMap[KIP_BUCKET_MAP_WORDS];
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

/* ---- Debug checks of the invariants (src/base/irassert.h) ------------------------ */

#if IRQROUTE_DEBUG_CHECKS

static uint32_t KipPopulation(uint64_t Word)
{
    uint32_t Count = 0;
    for (; Word != 0; Word &= Word - 1u)
        Count++;
    return Count;
}

/* I3's map half for one load: BucketMap's bit agrees with the population. */
static bool KipBucketMapAgrees(const KI_VECTOR_MATRIX *Matrix, uint32_t Load)
{
    return (Matrix->BucketPopulation[Load] != 0) == KipTestBit(Matrix->BucketMap, Load);
}

/* I3 for one CPU: an online CPU is in Bucket[Allocated] and no other
 * bucket, an offline one in none; the online set says the same. */
static bool KipCpuBucketsAgree(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    if (State->Online != KipTestBit(Matrix->Online, Cpu))
        return false;
    for (uint32_t Load = 0; Load < KIP_BUCKET_COUNT; Load++) {
        bool Expected = State->Online && Load == State->Allocated;
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

/* I1-I4 for one CPU, after a change to it (under the lock). O(vectors +
 * buckets), so debug builds only: nothing runs in a release build. */
static void KipAssertCpuInvariants(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    uint32_t Allocated = 0;
    for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++) {
        /* I1: every vector that is not a device vector stays taken. */
        IR_ASSERT((~Matrix->DeviceVectors[Word] & ~State->Taken[Word]) == 0);
        Allocated += KipPopulation(State->Taken[Word] & Matrix->DeviceVectors[Word]);
    }
    /* I2: the load and the per-class loads count the device vectors taken. */
    IR_ASSERT(Allocated == State->Allocated && Allocated <= Matrix->DeviceVectorCount);
    for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++)
        IR_ASSERT(KipPopulation(KipClassBits(State->Taken, Class) & KipClassBits(Matrix->DeviceVectors, Class)) ==
                  State->AllocatedPerClass[Class]);
    IR_ASSERT(KipCpuBucketsAgree(Matrix, Cpu));        /* I3 */
    IR_ASSERT(KipBucketMapAgrees(Matrix, Allocated));  /* I3 */
    IR_ASSERT(KipCpuFullSetsAgree(Matrix, Cpu));       /* I4 */
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

/* ---- Keeping I3 (buckets) and I4 (full sets) ---------------------------------- */

static void KipBucketInsert(KI_VECTOR_MATRIX *Matrix, uint32_t Load, uint32_t Cpu)
{
    IR_ASSERT(!KipTestBit(KipBucket(Matrix, Load), Cpu));
    KipSetBit(KipBucket(Matrix, Load), Cpu);
    if (Matrix->BucketPopulation[Load]++ == 0)
        KipSetBit(Matrix->BucketMap, Load);
}

static void KipBucketRemove(KI_VECTOR_MATRIX *Matrix, uint32_t Load, uint32_t Cpu)
{
    IR_ASSERT(KipTestBit(KipBucket(Matrix, Load), Cpu) && Matrix->BucketPopulation[Load] > 0);
    KipClearBit(KipBucket(Matrix, Load), Cpu);
    if (--Matrix->BucketPopulation[Load] == 0)
        KipClearBit(Matrix->BucketMap, Load);
    KipAssertBucketMap(Matrix, Load);
}

/* Re-evaluates I4 for Cpu and every IRQL served by Class (the class of a
 * vector that was just taken or released). */
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

/* Marks a free device vector taken on Cpu, keeping I1-I4. */
static void KipTake(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Vector)
{
    IrLockAssertHeld(&Matrix->Lock);
    IR_ASSERT(KipIsDeviceVector(Matrix, Vector) && !KipTestBit(Matrix->Cpus[Cpu].Taken, Vector));
    KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    KipSetBit(State->Taken, Vector);
    State->AllocatedPerClass[Vector >> 4]++;
    if (State->Online) {
        KipBucketRemove(Matrix, State->Allocated, Cpu);
        KipBucketInsert(Matrix, State->Allocated + 1u, Cpu);
    }
    State->Allocated++;
    KipRefreshIrqlFull(Matrix, Cpu, Vector >> 4);
    KipAssertCpuInvariants(Matrix, Cpu);
}

/* Marks a taken device vector free on Cpu, keeping I1-I4. */
static void KipRelease(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Vector)
{
    IrLockAssertHeld(&Matrix->Lock);
    IR_ASSERT(KipIsDeviceVector(Matrix, Vector) && KipTestBit(Matrix->Cpus[Cpu].Taken, Vector));
    KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    KipClearBit(State->Taken, Vector);
    State->AllocatedPerClass[Vector >> 4]--;
    if (State->Online) {
        KipBucketRemove(Matrix, State->Allocated, Cpu);
        KipBucketInsert(Matrix, State->Allocated - 1u, Cpu);
    }
    State->Allocated--;
    KipRefreshIrqlFull(Matrix, Cpu, Vector >> 4);
    KipAssertCpuInvariants(Matrix, Cpu);
}

/* ---- Searches ----------------------------------------------------------------- */

/* Lowest CPU in Bucket & Mask & ~Full (Full may be NULL), or IR_CPU_NONE. */
static uint32_t KipFirstEligible(const uint64_t *Bucket, const uint64_t *Mask, const uint64_t *Full, uint32_t Words)
{
    for (uint32_t Word = 0; Word < Words; Word++) {
        uint64_t Candidates = Bucket[Word] & Mask[Word];
        if (Full != NULL)
            Candidates &= ~Full[Word];
        if (Candidates != 0)
            return Word * 64u + (uint32_t)__builtin_ctzll(Candidates);
    }
    return IR_CPU_NONE;
}

/* The same over only the listed words (indices of the mask's non-zero words). */
static uint32_t KipFirstEligibleListed(const uint64_t *Bucket, const uint64_t *Mask, const uint64_t *Full,
                                       const uint8_t *Words, uint32_t WordCount)
{
    for (uint32_t Index = 0; Index < WordCount; Index++) {
        uint32_t Word = Words[Index];
        uint64_t Candidates = Bucket[Word] & Mask[Word];
        if (Full != NULL)
            Candidates &= ~Full[Word];
        if (Candidates != 0)
            return Word * 64u + (uint32_t)__builtin_ctzll(Candidates);
    }
    return IR_CPU_NONE;
}

/* Indices of the non-zero words of Affinity within this machine's CPUs. */
static uint32_t KipListMaskWords(const KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, uint8_t *Words)
{
    uint32_t Count = 0;
    for (uint32_t Word = 0; Word < Matrix->SetWords; Word++) {
        if (Affinity->Bits[Word] != 0)
            Words[Count++] = (uint8_t)Word;
    }
    return Count;
}

/* The least-loaded online CPU of Affinity with a free vector for Irql
 * (ties: lowest id), or IR_CPU_NONE. Visits buckets from load 0 upwards.
 *
 * The first bucket is tested word by word from CPU 0, which finds a dense
 * mask's CPU at once. Only when that misses is the mask's sparsity worth
 * knowing: the indices of its non-zero words are listed once, and every
 * further bucket tests just those (a one-CPU mask at 4096 CPUs then costs
 * one word per non-empty bucket instead of 64). */
static uint32_t KipFindLeastLoaded(const KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, KIRQL Irql)
{
    IrLockAssertHeld(&Matrix->Lock);
    /* With KE_IRQL_ANY any load below "full" qualifies, so no filter is needed. */
    const uint64_t *Full = Irql == KE_IRQL_ANY ? NULL : KipIrqlFull(Matrix, Irql);
    uint8_t MaskWords[IR_CPU_SET_WORDS];
    uint32_t MaskWordCount = 0;
    bool Listed = false;
    for (uint32_t MapWord = 0; MapWord < KIP_BUCKET_MAP_WORDS; MapWord++) {
        uint64_t Loads = Matrix->BucketMap[MapWord];
        while (Loads != 0) {
            uint32_t Load = MapWord * 64u + (uint32_t)__builtin_ctzll(Loads);
            Loads &= Loads - 1u;
            /* CPUs from here on have no device vector left (I2). */
            if (Load >= Matrix->DeviceVectorCount)
                return IR_CPU_NONE;
            const uint64_t *Bucket = KipBucket(Matrix, Load);
            uint32_t Cpu;
            if (Listed) {
                Cpu = KipFirstEligibleListed(Bucket, Affinity->Bits, Full, MaskWords, MaskWordCount);
            } else {
                Cpu = KipFirstEligible(Bucket, Affinity->Bits, Full, Matrix->SetWords);
                if (Cpu == IR_CPU_NONE)
                    MaskWordCount = KipListMaskWords(Matrix, Affinity, MaskWords);
                Listed = true;
            }
            if (Cpu != IR_CPU_NONE)
                return Cpu;
            if (MaskWordCount == 0)
                return IR_CPU_NONE; /* the mask names no CPU of this machine */
        }
    }
    return IR_CPU_NONE;
}

/* With KE_IRQL_ANY: the CPU's least-used device class that still has a free
 * vector (ties: lowest class), so successive allocations spread over the
 * priority classes instead of piling into the lowest one. */
static uint32_t KipLeastUsedClass(const KI_VECTOR_MATRIX *Matrix, const KI_MATRIX_CPU *State)
{
    uint32_t Best = KIP_CLASS_COUNT;
    for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++) {
        if (!((Matrix->DeviceClasses >> Class) & 1u))
            continue;
        bool HasFree = (KipClassBits(Matrix->DeviceVectors, Class) & ~KipClassBits(State->Taken, Class)) != 0;
        if (HasFree && (Best == KIP_CLASS_COUNT || State->AllocatedPerClass[Class] < State->AllocatedPerClass[Best]))
            Best = Class;
    }
    return Best;
}

/* The vector to hand out on a CPU that KipFindLeastLoaded chose (so one exists). */
static uint32_t KipChooseVector(const KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, KIRQL Irql)
{
    const KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
    uint64_t Free[KIP_VECTOR_WORDS];
    if (Irql != KE_IRQL_ANY) {
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
            Free[Word] = Matrix->IrqlVectors[Irql][Word] & ~State->Taken[Word];
        return KipLowestVector(Free);
    }
    uint32_t Class = KipLeastUsedClass(Matrix, State);
    if (Class == KIP_CLASS_COUNT)
        return KIP_NO_VECTOR;
    uint32_t ClassFree = KipClassBits(Matrix->DeviceVectors, Class) & ~KipClassBits(State->Taken, Class);
    return Class * 16u + (uint32_t)__builtin_ctz(ClassFree);
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
    for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
        Matrix->DeviceVectors[Word] = 0;
    for (uint32_t Vector = Layout->FirstDeviceVector; Vector <= Layout->LastDeviceVector; Vector++) {
        if (KipIsReservedByLayout(Layout, Vector) || Matrix->IrqlOfVector[Vector] == KE_IRQL_ANY)
            continue;
        KipSetBit(Matrix->DeviceVectors, Vector);
        Matrix->DeviceVectorCount++;
        Matrix->DeviceClasses |= (uint16_t)(1u << (Vector >> 4));
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
 * no bucket populated (I3), no IRQL full (I4: every device vector is free). */
static void KipResetCpus(KI_VECTOR_MATRIX *Matrix)
{
    for (uint32_t Cpu = 0; Cpu < Matrix->CpuCount; Cpu++) {
        KI_MATRIX_CPU *State = &Matrix->Cpus[Cpu];
        for (uint32_t Word = 0; Word < KIP_VECTOR_WORDS; Word++)
            State->Taken[Word] = ~Matrix->DeviceVectors[Word];
        State->Allocated = 0;
        for (uint32_t Class = 0; Class < KIP_CLASS_COUNT; Class++)
            State->AllocatedPerClass[Class] = 0;
        State->Online = false;
    }
    size_t SetWordsTotal = (size_t)(KIP_BUCKET_COUNT + KE_IRQL_COUNT + 1u) * Matrix->SetWords;
    for (size_t Index = 0; Index < SetWordsTotal; Index++)
        Matrix->Buckets[Index] = 0;
    for (uint32_t Load = 0; Load < KIP_BUCKET_COUNT; Load++)
        Matrix->BucketPopulation[Load] = 0;
    for (uint32_t Word = 0; Word < KIP_BUCKET_MAP_WORDS; Word++)
        Matrix->BucketMap[Word] = 0;
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
            KipBucketRemove(Matrix, State->Allocated, Cpu);
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
 * it is in the state the other call leaves it in. */
static IRQ_STATUS KipChangeOne(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector, bool Take)
{
    IRQ_STATUS Status = KipCheckCpuVector(Matrix, Cpu, Vector);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    if (KipTestBit(Matrix->Cpus[Cpu].Taken, Vector) == Take)
        Status = Take ? IRQ_STATUS_SHARING_VIOLATION : IRQ_STATUS_INVALID_STATE;
    else if (Take)
        KipTake(Matrix, Cpu, Vector);
    else
        KipRelease(Matrix, Cpu, Vector);
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Status;
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
