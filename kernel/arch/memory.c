/* SPDX-License-Identifier: MIT */
/*
 * Kernel memory: a pool over the machine's RAM with an address-ordered free
 * list, behind the library's PlatAllocateMemory / PlatFreeMemory hooks; and
 * the memory functions gcc may call even in freestanding code (memset,
 * memcpy, memmove, memcmp: gcc manual, "Standards": "GCC requires the
 * freestanding environment provide memcpy, memmove, memset and memcmp").
 *
 * The pool is every RAM range the loader reports (Multiboot 1 spec 3.3:
 * the memory map of flags bit 6, else mem_upper of flags bit 0) clipped to
 * [end of the kernel image, start of the uncached MMIO window): the first
 * MiB (BIOS data, EBDA and its RSDP, the AP trampoline, QEMU's multiboot
 * information) and the kernel are never in it, and everything in it is
 * identity mapped and cached (boot.S). ACPI tables lie in ranges the map
 * does not call available RAM (type 1), so they are kept too.
 *
 * Invariants of the free list: blocks are sorted by address, never touch or
 * overlap (adjacent blocks are merged on free), and every block's start and
 * size are multiples of RK_POOL_GRANULE. The caller gives the size back on
 * free (platform.h), so allocations carry no header.
 */
#include <stdatomic.h>

#include <irqroute/platform.h>

#include "kernel.h"

#define RK_POOL_GRANULE 16u
#define RK_POOL_MAX_ALIGNMENT 4096u
/* The pool's ranges start and end on page boundaries. */
#define RK_POOL_RANGE_ALIGNMENT 4096u
/* The MMIO window (3-4 GiB, uncached in boot.S) and everything above the
 * identity map stay out of the pool. */
#define RK_POOL_CEILING 0xC0000000ull
#define RK_POOL_MAX_RANGES 32u

/* Multiboot 1 spec 3.3: the information structure (offsets in dwords). */
#define MULTIBOOT_INFO_MEMORY (1u << 0) /* mem_lower, mem_upper valid */
#define MULTIBOOT_INFO_MEMORY_MAP (1u << 6) /* mmap_length, mmap_addr valid */
#define MULTIBOOT_INFO_FLAGS 0
#define MULTIBOOT_INFO_MEM_UPPER 2  /* KiB of RAM from 1 MiB on */
#define MULTIBOOT_INFO_MMAP_LENGTH 11
#define MULTIBOOT_INFO_MMAP_ADDR 12
#define MULTIBOOT_MEMORY_AVAILABLE 1u
#define RK_ONE_MIB 0x100000ull

/* One entry of the multiboot memory map; Size counts the bytes after it. */
typedef struct _RK_MULTIBOOT_MMAP_ENTRY {
    uint32_t Size;
    uint64_t BaseAddress;
    uint64_t Length;
    uint32_t Type;
} __attribute__((packed)) RK_MULTIBOOT_MMAP_ENTRY;

typedef struct _RK_POOL_RANGE {
    uintptr_t Start;
    uintptr_t End;
} RK_POOL_RANGE;

typedef struct _RK_FREE_BLOCK {
    struct _RK_FREE_BLOCK *Next;
    size_t Size;
} RK_FREE_BLOCK;

extern uint8_t __bss_end[]; /* linker.ld: the end of the kernel image */

static RK_POOL_RANGE RkPoolRanges[RK_POOL_MAX_RANGES];
static uint32_t RkPoolRangeCount;
static size_t RkPoolSize;
static RK_FREE_BLOCK *RkFreeList;
static size_t RkPoolInUse;
static RK_SPIN_LOCK RkPoolLock = RK_SPIN_LOCK_INIT;

static bool RkLockPool(void)
{
    return RkAcquireSpinLock(&RkPoolLock);
}

static void RkUnlockPool(bool WasEnabled)
{
    RkReleaseSpinLock(&RkPoolLock, WasEnabled);
}

static uintptr_t RkAlignUp(uintptr_t Value, size_t Alignment)
{
    return (Value + Alignment - 1) & ~(uintptr_t)(Alignment - 1);
}

static void RkInsertFree(RK_FREE_BLOCK *Previous, uintptr_t Start, size_t Size);

static uint64_t RkAlignDown64(uint64_t Value, uint64_t Alignment)
{
    return Value & ~(Alignment - 1);
}

/* Adds [Base, Base + Length) of RAM, clipped to what the pool may use.
 * Ranges overlapping one already taken are skipped (a map with overlapping
 * entries is broken; using RAM twice would be worse than using less). */
static void RkAddPoolRange(uint64_t Base, uint64_t Length)
{
    uint64_t Floor = RkAlignUp((uintptr_t)__bss_end, RK_POOL_RANGE_ALIGNMENT);
    if (Base >= RK_POOL_CEILING)
        return;
    uint64_t End = Base + Length < Base ? UINT64_MAX : Base + Length;
    uint64_t Start = RkAlignUp(Base > Floor ? Base : Floor, RK_POOL_RANGE_ALIGNMENT);
    End = RkAlignDown64(End < RK_POOL_CEILING ? End : RK_POOL_CEILING, RK_POOL_RANGE_ALIGNMENT);
    if (Start >= End)
        return;
    for (uint32_t Index = 0; Index < RkPoolRangeCount; Index++) {
        if (Start < RkPoolRanges[Index].End && RkPoolRanges[Index].Start < End)
            return;
    }
    if (RkPoolRangeCount == RK_POOL_MAX_RANGES) {
        RkPrint("memory: more than %u RAM ranges; 0x%lx-0x%lx left out\n", RK_POOL_MAX_RANGES, Start, End);
        return;
    }
    RkPoolRanges[RkPoolRangeCount++] = (RK_POOL_RANGE){.Start = (uintptr_t)Start, .End = (uintptr_t)End};
}

static void RkReadMemoryMap(const volatile uint32_t *Info)
{
    uintptr_t At = Info[MULTIBOOT_INFO_MMAP_ADDR];
    uintptr_t End = At + Info[MULTIBOOT_INFO_MMAP_LENGTH];
    while (At + sizeof(RK_MULTIBOOT_MMAP_ENTRY) <= End) {
        RK_MULTIBOOT_MMAP_ENTRY Entry;
        memcpy(&Entry, RkPhysical(At), sizeof(Entry));
        if (Entry.Type == MULTIBOOT_MEMORY_AVAILABLE)
            RkAddPoolRange(Entry.BaseAddress, Entry.Length);
        At += (uintptr_t)Entry.Size + sizeof(Entry.Size);
    }
}

/* Sorts the ranges by address (insertion sort: a handful of entries), so
 * the free list built from them is address-ordered, and joins ranges that
 * touch: the free list merges such blocks, so one allocation may span both
 * and must then be freed into one range. */
static void RkSortPoolRanges(void)
{
    for (uint32_t Index = 1; Index < RkPoolRangeCount; Index++) {
        RK_POOL_RANGE Range = RkPoolRanges[Index];
        uint32_t Slot = Index;
        for (; Slot > 0 && RkPoolRanges[Slot - 1].Start > Range.Start; Slot--)
            RkPoolRanges[Slot] = RkPoolRanges[Slot - 1];
        RkPoolRanges[Slot] = Range;
    }
    uint32_t Kept = 0;
    for (uint32_t Index = 0; Index < RkPoolRangeCount; Index++) {
        if (Kept > 0 && RkPoolRanges[Kept - 1].End == RkPoolRanges[Index].Start)
            RkPoolRanges[Kept - 1].End = RkPoolRanges[Index].End;
        else
            RkPoolRanges[Kept++] = RkPoolRanges[Index];
    }
    RkPoolRangeCount = Kept;
}

void RkInitializeMemory(uint32_t MultibootInfo)
{
    const volatile uint32_t *Info = RkPhysical(MultibootInfo);
    uint32_t Flags = Info[MULTIBOOT_INFO_FLAGS];
    RkPoolRangeCount = 0;
    if (Flags & MULTIBOOT_INFO_MEMORY_MAP)
        RkReadMemoryMap(Info);
    else if (Flags & MULTIBOOT_INFO_MEMORY)
        RkAddPoolRange(RK_ONE_MIB, (uint64_t)Info[MULTIBOOT_INFO_MEM_UPPER] * 1024u);
    else
        RkPanic("the loader passed no memory information (multiboot flags 0x%x)", Flags);
    RkSortPoolRanges();

    /* Only now, with the loader's information read, is pool memory written. */
    RkFreeList = NULL;
    RkPoolInUse = 0;
    RkPoolSize = 0;
    RK_FREE_BLOCK *Last = NULL;
    for (uint32_t Index = 0; Index < RkPoolRangeCount; Index++) {
        RkInsertFree(Last, RkPoolRanges[Index].Start, RkPoolRanges[Index].End - RkPoolRanges[Index].Start);
        RkPoolSize += RkPoolRanges[Index].End - RkPoolRanges[Index].Start;
        for (Last = RkFreeList; Last->Next != NULL; Last = Last->Next)
            ;
    }
    if (RkPoolSize == 0)
        RkPanic("no RAM above the kernel (ends at %p) for the pool", (void *)__bss_end);
    RkPrint("memory: pool of %lu KiB in %u range(s) from the %s, 0x%lx-0x%lx\n", (uint64_t)(RkPoolSize / 1024u),
            RkPoolRangeCount, (Flags & MULTIBOOT_INFO_MEMORY_MAP) ? "multiboot memory map" : "multiboot mem_upper",
            (uint64_t)RkPoolRanges[0].Start, (uint64_t)RkPoolRanges[RkPoolRangeCount - 1].End);
}

size_t RkMemorySize(void)
{
    return RkPoolSize;
}

size_t RkMemoryInUse(void)
{
    return RkPoolInUse;
}

/* Inserts [Start, Start + Size) after Previous (NULL: at the head), merging
 * with the neighbours it touches. */
static void RkInsertFree(RK_FREE_BLOCK *Previous, uintptr_t Start, size_t Size)
{
    RK_FREE_BLOCK *Next = Previous != NULL ? Previous->Next : RkFreeList;
    RK_FREE_BLOCK *Block = (RK_FREE_BLOCK *)Start;
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
        RkFreeList = Block;
    }
}

/* Takes [Start, Start + Size) out of Block (which contains it), keeping the
 * pieces before and after on the list. */
static void RkCarve(RK_FREE_BLOCK *Previous, RK_FREE_BLOCK *Block, uintptr_t Start, size_t Size)
{
    uintptr_t BlockEnd = (uintptr_t)Block + Block->Size;
    RK_FREE_BLOCK *Next = Block->Next;
    size_t Front = Start - (uintptr_t)Block;
    size_t Back = BlockEnd - (Start + Size);
    if (Front != 0) {
        Block->Size = Front;
        Previous = Block;
    } else if (Previous != NULL) {
        Previous->Next = Next;
    } else {
        RkFreeList = Next;
    }
    if (Back != 0)
        RkInsertFree(Previous, Start + Size, Back);
}

void *PlatAllocateMemory(size_t Size, size_t Alignment)
{
    if (Alignment == 0)
        Alignment = RK_POOL_GRANULE;
    if ((Alignment & (Alignment - 1)) != 0 || Alignment > RK_POOL_MAX_ALIGNMENT || Size > RkPoolSize)
        return NULL;
    if (Alignment < RK_POOL_GRANULE)
        Alignment = RK_POOL_GRANULE;
    Size = Size == 0 ? RK_POOL_GRANULE : RkAlignUp(Size, RK_POOL_GRANULE);

    void *Result = NULL;
    bool WasEnabled = RkLockPool();
    RK_FREE_BLOCK *Previous = NULL;
    for (RK_FREE_BLOCK *Block = RkFreeList; Block != NULL; Previous = Block, Block = Block->Next) {
        uintptr_t Start = RkAlignUp((uintptr_t)Block, Alignment);
        if (Start + Size <= (uintptr_t)Block + Block->Size) {
            RkCarve(Previous, Block, Start, Size);
            RkPoolInUse += Size;
            Result = (void *)Start;
            break;
        }
    }
    RkUnlockPool(WasEnabled);
    if (Result != NULL)
        memset(Result, 0, Size);
    return Result;
}

/* [Start, Start + Size) lies inside one range of the pool. */
static bool RkIsPoolMemory(uintptr_t Start, size_t Size)
{
    for (uint32_t Index = 0; Index < RkPoolRangeCount; Index++) {
        const RK_POOL_RANGE *Range = &RkPoolRanges[Index];
        if (Start >= Range->Start && Start < Range->End && Size <= Range->End - Start)
            return true;
    }
    return false;
}

void PlatFreeMemory(void *Memory, size_t Size)
{
    uintptr_t Start = (uintptr_t)Memory;
    if (Memory == NULL)
        return;
    Size = Size == 0 ? RK_POOL_GRANULE : RkAlignUp(Size, RK_POOL_GRANULE);
    if (!RkIsPoolMemory(Start, Size) || Start % RK_POOL_GRANULE)
        RkPanic("PlatFreeMemory: %p (%lu bytes) is not from the pool", Memory, (uint64_t)Size);

    bool WasEnabled = RkLockPool();
    RK_FREE_BLOCK *Previous = NULL;
    for (RK_FREE_BLOCK *Block = RkFreeList; Block != NULL && (uintptr_t)Block < Start; Block = Block->Next)
        Previous = Block;
    RkInsertFree(Previous, Start, Size);
    RkPoolInUse -= Size;
    RkUnlockPool(WasEnabled);
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
