/*
 * Kernel memory: a static pool with an address-ordered free list, behind
 * the library's PlatAllocateMemory / PlatFreeMemory hooks; and the memory
 * functions gcc may call even in freestanding code (memset, memcpy,
 * memmove, memcmp: gcc manual, "Standards": "GCC requires the freestanding
 * environment provide memcpy, memmove, memset and memcmp").
 *
 * Invariants of the free list: blocks are sorted by address, never touch or
 * overlap (adjacent blocks are merged on free), and every block's start and
 * size are multiples of KI_POOL_GRANULE. The caller gives the size back on
 * free (platform.h), so allocations carry no header.
 */
#include <stdatomic.h>

#include <irqroute/platform.h>

#include "kernel.h"

#define KI_POOL_SIZE (8u << 20)
#define KI_POOL_GRANULE 16u
#define KI_POOL_MAX_ALIGNMENT 4096u

typedef struct _KI_FREE_BLOCK {
    struct _KI_FREE_BLOCK *Next;
    size_t Size;
} KI_FREE_BLOCK;

static uint8_t KiPool[KI_POOL_SIZE] __attribute__((aligned(KI_POOL_MAX_ALIGNMENT)));
static KI_FREE_BLOCK *KiFreeList;
static size_t KiPoolInUse;
static atomic_flag KiPoolLock = ATOMIC_FLAG_INIT;

static bool KiLockPool(void)
{
    bool WasEnabled = PlatDisableInterrupts();
    while (atomic_flag_test_and_set_explicit(&KiPoolLock, memory_order_acquire))
        PlatCpuRelax();
    return WasEnabled;
}

static void KiUnlockPool(bool WasEnabled)
{
    atomic_flag_clear_explicit(&KiPoolLock, memory_order_release);
    PlatRestoreInterrupts(WasEnabled);
}

static uintptr_t KiAlignUp(uintptr_t Value, size_t Alignment)
{
    return (Value + Alignment - 1) & ~(uintptr_t)(Alignment - 1);
}

void KiInitializeMemory(void)
{
    KiFreeList = (KI_FREE_BLOCK *)KiPool;
    KiFreeList->Next = NULL;
    KiFreeList->Size = KI_POOL_SIZE;
    KiPoolInUse = 0;
}

size_t KiMemoryInUse(void)
{
    return KiPoolInUse;
}

/* Inserts [Start, Start + Size) after Previous (NULL: at the head), merging
 * with the neighbours it touches. */
static void KiInsertFree(KI_FREE_BLOCK *Previous, uintptr_t Start, size_t Size)
{
    KI_FREE_BLOCK *Next = Previous != NULL ? Previous->Next : KiFreeList;
    KI_FREE_BLOCK *Block = (KI_FREE_BLOCK *)Start;
    Block->Size = Size;
    Block->Next = Next;
    if (Next != NULL && Start + Size == (uintptr_t)Next) {
        Block->Size += Next->Size;
        Block->Next = Next->Next;
    }
    if (Previous != NULL && (uintptr_t)Previous + Previous->Size == Start) {
        Previous->Size += Block->Size;
        Previous->Next = Block->Next;
    } else if (Previous != NULL) {
        Previous->Next = Block;
    } else {
        KiFreeList = Block;
    }
}

/* Takes [Start, Start + Size) out of Block (which contains it), keeping the
 * pieces before and after on the list. */
static void KiCarve(KI_FREE_BLOCK *Previous, KI_FREE_BLOCK *Block, uintptr_t Start, size_t Size)
{
    uintptr_t BlockEnd = (uintptr_t)Block + Block->Size;
    KI_FREE_BLOCK *Next = Block->Next;
    size_t Front = Start - (uintptr_t)Block;
    size_t Back = BlockEnd - (Start + Size);
    if (Front != 0) {
        Block->Size = Front;
        Previous = Block;
    } else if (Previous != NULL) {
        Previous->Next = Next;
    } else {
        KiFreeList = Next;
    }
    if (Back != 0)
        KiInsertFree(Previous, Start + Size, Back);
}

void *PlatAllocateMemory(size_t Size, size_t Alignment)
{
    if (Alignment == 0)
        Alignment = KI_POOL_GRANULE;
    if ((Alignment & (Alignment - 1)) != 0 || Alignment > KI_POOL_MAX_ALIGNMENT || Size > KI_POOL_SIZE)
        return NULL;
    if (Alignment < KI_POOL_GRANULE)
        Alignment = KI_POOL_GRANULE;
    Size = Size == 0 ? KI_POOL_GRANULE : KiAlignUp(Size, KI_POOL_GRANULE);

    void *Result = NULL;
    bool WasEnabled = KiLockPool();
    KI_FREE_BLOCK *Previous = NULL;
    for (KI_FREE_BLOCK *Block = KiFreeList; Block != NULL; Previous = Block, Block = Block->Next) {
        uintptr_t Start = KiAlignUp((uintptr_t)Block, Alignment);
        if (Start + Size <= (uintptr_t)Block + Block->Size) {
            KiCarve(Previous, Block, Start, Size);
            KiPoolInUse += Size;
            Result = (void *)Start;
            break;
        }
    }
    KiUnlockPool(WasEnabled);
    if (Result != NULL)
        memset(Result, 0, Size);
    return Result;
}

void PlatFreeMemory(void *Memory, size_t Size)
{
    uintptr_t Start = (uintptr_t)Memory;
    if (Memory == NULL)
        return;
    Size = Size == 0 ? KI_POOL_GRANULE : KiAlignUp(Size, KI_POOL_GRANULE);
    if (Start < (uintptr_t)KiPool || Start + Size > (uintptr_t)KiPool + KI_POOL_SIZE || Start % KI_POOL_GRANULE)
        KiPanic("PlatFreeMemory: %p (%lu bytes) is not from the pool", Memory, (uint64_t)Size);

    bool WasEnabled = KiLockPool();
    KI_FREE_BLOCK *Previous = NULL;
    for (KI_FREE_BLOCK *Block = KiFreeList; Block != NULL && (uintptr_t)Block < Start; Block = Block->Next)
        Previous = Block;
    KiInsertFree(Previous, Start, Size);
    KiPoolInUse -= Size;
    KiUnlockPool(WasEnabled);
}

/* ---- The freestanding memory functions ---------------------------------------------- */

void *memset(void *Destination, int Value, size_t Size)
{
    uint8_t *Bytes = Destination;
    for (size_t Index = 0; Index < Size; Index++)
        Bytes[Index] = (uint8_t)Value;
    return Destination;
}

void *memcpy(void *Destination, const void *Source, size_t Size)
{
    uint8_t *To = Destination;
    const uint8_t *From = Source;
    for (size_t Index = 0; Index < Size; Index++)
        To[Index] = From[Index];
    return Destination;
}

void *memmove(void *Destination, const void *Source, size_t Size)
{
    uint8_t *To = Destination;
    const uint8_t *From = Source;
    if (To < From) {
        for (size_t Index = 0; Index < Size; Index++)
            To[Index] = From[Index];
    } else {
        for (size_t Index = Size; Index > 0; Index--)
            To[Index - 1] = From[Index - 1];
    }
    return Destination;
}

int memcmp(const void *A, const void *B, size_t Size)
{
    const uint8_t *Left = A;
    const uint8_t *Right = B;
    for (size_t Index = 0; Index < Size; Index++) {
        if (Left[Index] != Right[Index])
            return Left[Index] < Right[Index] ? -1 : 1;
    }
    return 0;
}
