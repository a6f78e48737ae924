/* SPDX-License-Identifier: MIT */
/*
 * The irq_matrix baseline: Linux's vector allocator (kernel/irq/matrix.c,
 * irq_matrix_alloc and irq_matrix_free) modelled from its published
 * algorithm, so that bench_matrix can measure it in the same run, on the
 * same simulated CPU, as irqroute's matrix.
 *
 * WHAT IT DOES, as Linux does it:
 *  - allocation rejects an empty mask (cpumask_empty: a scan of the mask's
 *    words up to the first non-zero one);
 *  - matrix_find_best_cpu walks every CPU of the mask (for_each_cpu: a
 *    find-next-bit over nr_cpu_ids bits) and keeps the online CPU with the
 *    most available vectors, the first one on ties (strict ">");
 *  - matrix_alloc_area ORs the CPU's managed map and the system map into a
 *    scratch map, ORs the CPU's allocation map in, and takes the first zero
 *    bit at or after alloc_start (bitmap_find_next_zero_area with one bit and
 *    no alignment: find-next-zero, then a find-next-bit over the area to
 *    confirm it), then sets it in the allocation map;
 *  - both sides keep the per-CPU counters (allocated, available) and the
 *    global ones (total_allocated, global_available);
 *  - free range-checks the bit, clears it with an atomic test-and-clear (a
 *    locked instruction on x86, as Linux's test_and_clear_bit) and undoes
 *    the counters;
 *  - every call runs under one global lock taken with interrupts disabled:
 *    on x86 the callers (arch/x86/kernel/apic/vector.c) hold vector_lock,
 *    a raw spin lock taken irqsave, around irq_matrix_alloc and around
 *    irq_matrix_free. Here that is one IR_LOCK taken IrLockAcquireIrqSave,
 *    the same lock and hooks irqroute's matrix pays for.
 *
 * WHAT IT LEAVES OUT (each makes the baseline cheaper, never dearer):
 *  - managed vectors (irq_matrix_reserve_managed/alloc_managed): the
 *    managed map exists and is ORed in, but is always empty;
 *  - reservations (global_reserved), online/offline and system-vector
 *    assignment after set-up, the tracepoints and the WARN_ON reports;
 *  - per-CPU storage: Linux's cpumaps live in per-CPU areas reached through
 *    per_cpu_ptr; here they are one array indexed by CPU;
 *  - the per-CPU lock Linux does not take (nor does this model): the one
 *    global lock is all the locking there is;
 *  - Linux picks the lowest free vector of the CPU; irqroute spreads a CPU's
 *    vectors over the priority classes. Both hand out one vector per call.
 */
#include "baseline_irq_matrix.h"

#include <stdbool.h>
#include <stdlib.h>

#include "irlock.h" /* irqroute_base_whitebox */

#define BIM_BITS 256u
#define BIM_WORDS (BIM_BITS / 64u)

typedef struct _BIM_CPUMAP {
    uint32_t Available;
    uint32_t Allocated;
    bool Online;
    uint64_t AllocMap[BIM_WORDS];
    uint64_t ManagedMap[BIM_WORDS];
} BIM_CPUMAP;

struct _BIM_MATRIX {
    IR_LOCK Lock; /* x86's vector_lock */
    uint32_t CpuCount; /* nr_cpu_ids */
    uint32_t AllocStart;
    uint32_t AllocEnd;
    uint32_t GlobalAvailable;
    uint32_t TotalAllocated;
    uint64_t ScratchMap[BIM_WORDS];
    uint64_t SystemMap[BIM_WORDS];
    BIM_CPUMAP *Maps;
};

static uint32_t BimWords(uint32_t Bits)
{
    return (Bits + 63u) / 64u;
}

/* find_next_bit / find_next_zero_bit: the first set (clear, when Invert is
 * all ones) bit of Map at or after Start and below Size, or Size. */
static uint32_t BimFindNext(const uint64_t *Map, uint32_t Size, uint32_t Start, uint64_t Invert)
{
    if (Start >= Size)
        return Size;
    uint64_t Word = (Map[Start / 64u] ^ Invert) & (~(uint64_t)0 << (Start % 64u));
    uint32_t Base = Start & ~63u;
    while (Word == 0) {
        Base += 64u;
        if (Base >= Size)
            return Size;
        Word = Map[Base / 64u] ^ Invert;
    }
    uint32_t Found = Base + (uint32_t)__builtin_ctzll(Word);
    return Found < Size ? Found : Size;
}

static uint32_t BimFindNextBit(const uint64_t *Map, uint32_t Size, uint32_t Start)
{
    return BimFindNext(Map, Size, Start, 0);
}

static uint32_t BimFindNextZeroBit(const uint64_t *Map, uint32_t Size, uint32_t Start)
{
    return BimFindNext(Map, Size, Start, ~(uint64_t)0);
}

/* cpumask_empty over nr_cpu_ids bits. */
static bool BimMaskEmpty(const BIM_MATRIX *Matrix, const IR_CPU_SET *Mask)
{
    return BimFindNextBit(Mask->Bits, Matrix->CpuCount, 0) >= Matrix->CpuCount;
}

/* bitmap_or over the first Bits bits. */
static void BimBitmapOr(uint64_t *Destination, const uint64_t *A, const uint64_t *B, uint32_t Bits)
{
    for (uint32_t Word = 0; Word < BimWords(Bits); Word++)
        Destination[Word] = A[Word] | B[Word];
}

/* bitmap_find_next_zero_area(Map, Size, Start, Count, 0). */
static uint32_t BimFindNextZeroArea(const uint64_t *Map, uint32_t Size, uint32_t Start, uint32_t Count)
{
    for (;;) {
        uint32_t Index = BimFindNextZeroBit(Map, Size, Start);
        uint32_t End = Index + Count;
        if (End > Size)
            return End;
        uint32_t Taken = BimFindNextBit(Map, End, Index);
        if (Taken >= End)
            return Index;
        Start = Taken + 1u;
    }
}

/* matrix_find_best_cpu. */
static uint32_t BimFindBestCpu(const BIM_MATRIX *Matrix, const IR_CPU_SET *Mask)
{
    uint32_t Best = UINT32_MAX;
    uint32_t MaxAvailable = 0;
    for (uint32_t Cpu = BimFindNextBit(Mask->Bits, Matrix->CpuCount, 0); Cpu < Matrix->CpuCount;
         Cpu = BimFindNextBit(Mask->Bits, Matrix->CpuCount, Cpu + 1u)) {
        const BIM_CPUMAP *Map = &Matrix->Maps[Cpu];
        if (!Map->Online || Map->Available <= MaxAvailable)
            continue;
        Best = Cpu;
        MaxAvailable = Map->Available;
    }
    return Best;
}

/* matrix_alloc_area for one unmanaged bit. */
static uint32_t BimAllocArea(BIM_MATRIX *Matrix, BIM_CPUMAP *Map)
{
    uint32_t End = Matrix->AllocEnd;
    BimBitmapOr(Matrix->ScratchMap, Map->ManagedMap, Matrix->SystemMap, End);
    BimBitmapOr(Matrix->ScratchMap, Matrix->ScratchMap, Map->AllocMap, End);
    uint32_t Area = BimFindNextZeroArea(Matrix->ScratchMap, End, Matrix->AllocStart, 1u);
    if (Area >= End)
        return Area;
    Map->AllocMap[Area / 64u] |= (uint64_t)1 << (Area % 64u);
    return Area;
}

/* irq_matrix_alloc (reserved = false). */
static int BimAllocateLocked(BIM_MATRIX *Matrix, const IR_CPU_SET *Mask, uint32_t *Cpu, uint8_t *Vector)
{
    if (BimMaskEmpty(Matrix, Mask))
        return -1;
    uint32_t Best = BimFindBestCpu(Matrix, Mask);
    if (Best == UINT32_MAX)
        return -1;
    BIM_CPUMAP *Map = &Matrix->Maps[Best];
    uint32_t Bit = BimAllocArea(Matrix, Map);
    if (Bit >= Matrix->AllocEnd)
        return -1;
    Map->Allocated++;
    Map->Available--;
    Matrix->TotalAllocated++;
    Matrix->GlobalAvailable--;
    *Cpu = Best;
    *Vector = (uint8_t)Bit;
    return 0;
}

int BimAllocate(BIM_MATRIX *Matrix, const IR_CPU_SET *Mask, uint32_t *Cpu, uint8_t *Vector)
{
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    int Result = BimAllocateLocked(Matrix, Mask, Cpu, Vector);
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
    return Result;
}

/* irq_matrix_free (managed = false). */
static void BimFreeLocked(BIM_MATRIX *Matrix, uint32_t Cpu, uint32_t Bit)
{
    BIM_CPUMAP *Map = &Matrix->Maps[Cpu];
    if (Bit < Matrix->AllocStart || Bit >= Matrix->AllocEnd)
        return;
    uint64_t Mask = (uint64_t)1 << (Bit % 64u);
    if ((__atomic_fetch_and(&Map->AllocMap[Bit / 64u], ~Mask, __ATOMIC_RELAXED) & Mask) == 0)
        return;
    Map->Allocated--;
    if (Map->Online)
        Matrix->TotalAllocated--;
    Map->Available++;
    if (Map->Online)
        Matrix->GlobalAvailable++;
}

void BimFree(BIM_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector)
{
    bool WasEnabled = IrLockAcquireIrqSave(&Matrix->Lock);
    BimFreeLocked(Matrix, Cpu, Vector);
    IrLockReleaseIrqRestore(&Matrix->Lock, WasEnabled);
}

/* ---- Set-up (irq_alloc_matrix, irq_matrix_assign_system, irq_matrix_online) ---- */

/* A vector of [FirstDeviceVector, LastDeviceVector] irqroute would not hand
 * out: reserved, spurious, or in a class no IRQL serves. */
static bool BimIsSystemVector(const KE_VECTOR_LAYOUT *Layout, uint32_t Vector)
{
    for (uint32_t Index = 0; Index < Layout->ReservedVectorCount; Index++) {
        if (Layout->ReservedVectors[Index] == Vector)
            return true;
    }
    if (Vector == Layout->SpuriousVector)
        return true;
    for (uint32_t Irql = 0; Irql < KE_IRQL_COUNT; Irql++) {
        if ((Layout->ClassesOfIrql[Irql] >> (Vector >> 4)) & 1u)
            return false;
    }
    return true;
}

BIM_MATRIX *BimCreate(uint32_t CpuCount, const KE_VECTOR_LAYOUT *Layout)
{
    BIM_MATRIX *Matrix = calloc(1, sizeof(*Matrix));
    if (Matrix == NULL)
        return NULL;
    Matrix->Maps = calloc(CpuCount, sizeof(BIM_CPUMAP));
    if (Matrix->Maps == NULL) {
        free(Matrix);
        return NULL;
    }
    IrLockInitialize(&Matrix->Lock);
    Matrix->CpuCount = CpuCount;
    Matrix->AllocStart = Layout->FirstDeviceVector;
    Matrix->AllocEnd = Layout->LastDeviceVector + 1u;
    uint32_t SystemInAlloc = 0;
    for (uint32_t Vector = Matrix->AllocStart; Vector < Matrix->AllocEnd; Vector++) {
        if (BimIsSystemVector(Layout, Vector)) {
            Matrix->SystemMap[Vector / 64u] |= (uint64_t)1 << (Vector % 64u);
            SystemInAlloc++;
        }
    }
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        BIM_CPUMAP *Map = &Matrix->Maps[Cpu];
        Map->Available = Matrix->AllocEnd - Matrix->AllocStart - SystemInAlloc;
        Map->Online = true;
        Matrix->GlobalAvailable += Map->Available;
    }
    return Matrix;
}

void BimDestroy(BIM_MATRIX *Matrix)
{
    if (Matrix == NULL)
        return;
    free(Matrix->Maps);
    free(Matrix);
}
