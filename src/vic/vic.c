/* SPDX-License-Identifier: MIT */
/*
 * Vic creation: the configuration check, the storage layout, the initial state.
 *
 * Storage (caller's, VIC_STORAGE_ALIGNMENT-aligned), each part on its own
 * cache lines:
 *   delivery view       vic.h's VIC_DELIVERY_VIEW with the address of each
 *                       CPU's check word: the VIC pointer callers get (the
 *                       storage itself) points here, so that
 *                       VicIsDeliverable finds a CPU's word with one load at
 *                       a constant offset; the view says where the header
 *                       is (vicp.h, VicpOf)
 *   VIC                 the header (read-mostly), then the online words
 *   VICP_SOURCE[]       level, slot and kind of each source
 *   routes              one IR_ROUTE per source (router.h)
 *   VICP_CPU blocks     one per CPU: check word line, raisers' counters line,
 *                       owner line, pending words
 * One block per CPU keeps one CPU's raisers and owner off every other CPU's
 * lines: the check word a CPU loads every instruction is written only when
 * something for that CPU changes.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/router.h>
#include <irqroute/vic.h>

#include "vicp.h"

typedef struct _VICP_LAYOUT {
    size_t HeaderOffset; /* the view comes first */
    size_t SourcesOffset;
    size_t RoutesOffset;
    size_t RouteStride;
    size_t CpusOffset;
    size_t CpuStride;
    size_t Size;
} VICP_LAYOUT;

/* What the check of a configuration learns on the way. */
typedef struct _VICP_CONFIG_FACTS {
    uint32_t SourcesAtLevel[VIC_MAX_LEVELS];
    uint32_t SoftwareAtLevel[VIC_MAX_LEVELS];
    uint32_t MachineChecksAtLevel[VIC_MAX_LEVELS];
    uint32_t IpiSources;
} VICP_CONFIG_FACTS;

static size_t VicpRoundUp(size_t Size)
{
    return (Size + VICP_LINE - 1u) & ~(size_t)(VICP_LINE - 1u);
}

static IRQ_STATUS VicpCheckSource(const VIC_CONFIG *Config, const VIC_SOURCE_DESCRIPTOR *Source,
                                  VICP_CONFIG_FACTS *Facts)
{
    if (Source->Level == 0)
        return IRQ_STATUS_SUCCESS; /* a hole */
    if (Source->Level >= Config->LevelCount)
        return IRQ_STATUS_INVALID_IRQL;
    if ((unsigned)Source->Kind >= VicSourceAst)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (++Facts->SourcesAtLevel[Source->Level] > VIC_MAX_SOURCES_PER_LEVEL)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (Source->Kind == VicSourceSoftware && ++Facts->SoftwareAtLevel[Source->Level] > 1u)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Source->Kind == VicSourceIpi && ++Facts->IpiSources > 1u)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Source->Kind == VicSourceMachineCheck)
        Facts->MachineChecksAtLevel[Source->Level]++;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS VicpCheckConfig(const VIC_CONFIG *Config, VICP_CONFIG_FACTS *Facts)
{
    if (Config->CpuCount == 0 || Config->CpuCount > VIC_MAX_CPUS || Config->Sources == NULL ||
        Config->SourceCount == 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Config->LevelCount < 2u || Config->LevelCount > VIC_MAX_LEVELS || Config->AstLevel >= Config->LevelCount)
        return IRQ_STATUS_INVALID_IRQL;
    if (Config->SourceCount > VIC_MAX_SOURCES)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    for (uint32_t Level = 0; Level < VIC_MAX_LEVELS; Level++) {
        Facts->SourcesAtLevel[Level] = 0;
        Facts->SoftwareAtLevel[Level] = 0;
        Facts->MachineChecksAtLevel[Level] = 0;
    }
    Facts->IpiSources = 0;
    for (uint32_t Source = 0; Source < Config->SourceCount; Source++) {
        IRQ_STATUS Status = VicpCheckSource(Config, &Config->Sources[Source], Facts);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
    }
    /* Machine checks override every gate, so the check word enables them as
     * the levels from the lowest machine-check level up (vicp.h): anything
     * else at or above that level would get through too. */
    bool MachineChecksBelow = false;
    for (uint32_t Level = 0; Level < VIC_MAX_LEVELS; Level++) {
        MachineChecksBelow = MachineChecksBelow || Facts->MachineChecksAtLevel[Level] != 0;
        if (MachineChecksBelow && Facts->MachineChecksAtLevel[Level] != Facts->SourcesAtLevel[Level])
            return IRQ_STATUS_INVALID_PARAMETER;
    }
    return IRQ_STATUS_SUCCESS;
}

static void VicpComputeLayout(const VIC_CONFIG *Config, VICP_LAYOUT *Layout)
{
    Layout->HeaderOffset =
        VicpRoundUp(offsetof(VIC_DELIVERY_VIEW, Words) + Config->CpuCount * sizeof(VIC_CHECK_WORD *));
    Layout->SourcesOffset = Layout->HeaderOffset + VICP_SOURCES_OFFSET;
    Layout->RoutesOffset = Layout->SourcesOffset + VicpRoundUp(Config->SourceCount * sizeof(VICP_SOURCE));
    Layout->RouteStride = IrRouteQueryStorageSize(Config->CpuCount);
    Layout->CpusOffset = Layout->RoutesOffset + Config->SourceCount * Layout->RouteStride;
    Layout->CpuStride = VicpRoundUp(sizeof(VICP_CPU) + Config->LevelCount * sizeof(uint64_t));
    Layout->Size = Layout->CpusOffset + Config->CpuCount * Layout->CpuStride;
}

/* A configuration is checked before anything is laid out for it. */
static IRQ_STATUS VicpCheckAndLayOut(const VIC_CONFIG *Config, VICP_CONFIG_FACTS *Facts, VICP_LAYOUT *Layout)
{
    IRQ_STATUS Status = VicpCheckConfig(Config, Facts);
    if (Status == IRQ_STATUS_SUCCESS)
        VicpComputeLayout(Config, Layout);
    return Status;
}

IRQ_STATUS VicQueryStorageSize(const VIC_CONFIG *Config, size_t *Size)
{
    if (Config == NULL || Size == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    VICP_CONFIG_FACTS Facts;
    VICP_LAYOUT Layout;
    IRQ_STATUS Status = VicpCheckAndLayOut(Config, &Facts, &Layout);
    if (Status == IRQ_STATUS_SUCCESS)
        *Size = Layout.Size;
    return Status;
}

/* ---- Initial state ------------------------------------------------------------------ */

static void VicpInitializeSources(VIC *Vic, const VIC_CONFIG *Config, const VICP_CONFIG_FACTS *Facts)
{
    uint32_t NextSlot[VIC_MAX_LEVELS];
    for (uint32_t Level = 0; Level < VIC_MAX_LEVELS; Level++) {
        NextSlot[Level] = 0;
        Vic->SoftwareSource[Level] = VICP_NONE;
        for (uint32_t Slot = 0; Slot < VIC_MAX_SOURCES_PER_LEVEL; Slot++) {
            Vic->SourceOfSlot[Level][Slot] = VICP_NONE;
            Vic->KindOfSlot[Level][Slot] = 0;
        }
        if (Facts->MachineChecksAtLevel[Level] != 0) {
            Vic->MachineCheckLevels |= 1u << Level;
            if (Level < Vic->MachineCheckThreshold)
                Vic->MachineCheckThreshold = Level;
        }
    }
    for (uint32_t Source = 0; Source < Config->SourceCount; Source++) {
        const VIC_SOURCE_DESCRIPTOR *Descriptor = &Config->Sources[Source];
        VICP_SOURCE *Entry = VicpSourceAt(Vic, Source);
        Entry->Level = (uint8_t)Descriptor->Level;
        Entry->Kind = (uint8_t)Descriptor->Kind;
        Entry->Slot = 0;
        Entry->SlotBit = 0;
        Entry->DirectBit = 0;
        Entry->RaiseBits = 0;
        /* Every route starts FIXED_CPU to CPU 0 (VicpInitializeRoutes). */
        atomic_store_explicit(&Entry->Fixed, Descriptor->Level == 0 ? VICP_NOT_FIXED : VicpFixedMirror(Vic, 0),
                              memory_order_relaxed);
        if (Descriptor->Level == 0)
            continue;
        Entry->Slot = (uint8_t)NextSlot[Descriptor->Level]++;
        /* A pending-word source until VicpAssignDirectBits says otherwise. */
        Entry->SlotBit = (uint32_t)1 << Entry->Slot;
        Entry->RaiseBits = VicpWordSummaryBits(Descriptor->Level);
        Vic->SourceOfSlot[Descriptor->Level][Entry->Slot] = (uint16_t)Source;
        Vic->KindOfSlot[Descriptor->Level][Entry->Slot] = (uint8_t)Descriptor->Kind;
        if (Descriptor->Kind == VicSourceSoftware)
            Vic->SoftwareSource[Descriptor->Level] = (uint16_t)Source;
        if (Descriptor->Kind == VicSourceIpi)
            Vic->IpiSource = Source;
    }
}

/* How many of each level's lowest slots are direct (vicp.h): slot 0 of
 * every level first, then slot 1, ..., the top level first in each round,
 * while Direct has bits. On Alpha that is every software interrupt, the IPI, the
 * clock, power fail, machine check, both performance counters and the first
 * device or two of each device level; on x86 the first vector of every class
 * and the second of the ten highest. */
static void VicpCountDirectSlots(const VICP_CONFIG_FACTS *Facts, uint32_t LevelCount,
                                 uint32_t DirectSlots[VIC_MAX_LEVELS])
{
    uint32_t Left = VIC_CHECK_DIRECT_COUNT;
    for (uint32_t Level = 0; Level < VIC_MAX_LEVELS; Level++)
        DirectSlots[Level] = 0;
    for (uint32_t Round = 0; Round < VIC_MAX_SOURCES_PER_LEVEL && Left != 0; Round++) {
        for (uint32_t Level = LevelCount - 1u; Level >= 1u && Left != 0; Level--) {
            if (Facts->SourcesAtLevel[Level] > Round) {
                DirectSlots[Level]++;
                Left--;
            }
        }
    }
}

/* Direct bits in level order, each level's in slot order, so that a level's are
 * one run (DirectOfLevel) and the highest slot is the highest bit. */
static void VicpAssignDirectBits(VIC *Vic, const VICP_CONFIG_FACTS *Facts)
{
    uint32_t DirectSlots[VIC_MAX_LEVELS];
    VicpCountDirectSlots(Facts, Vic->LevelCount, DirectSlots);
    uint32_t First[VIC_MAX_LEVELS];
    uint32_t Next = VIC_CHECK_DIRECT_FIRST;
    for (uint32_t Level = 0; Level < VIC_MAX_LEVELS; Level++) {
        First[Level] = Next;
        Vic->DirectOfLevel[Level] = (((uint64_t)1 << DirectSlots[Level]) - 1u) << Next;
        Next += DirectSlots[Level];
    }
    for (uint32_t Source = 0; Source < Vic->SourceCount; Source++) {
        VICP_SOURCE *Entry = VicpSourceAt(Vic, Source);
        if (Entry->Level == 0 || Entry->Slot >= DirectSlots[Entry->Level])
            continue;
        uint32_t Bit = First[Entry->Level] + Entry->Slot;
        Entry->DirectBit = (uint64_t)1 << Bit;
        Entry->RaiseBits = Entry->DirectBit | VicpSummaryBit(Entry->Level);
        Vic->DirectAnswer[Bit] = (VICP_DIRECT_ANSWER){
            .Source = (uint16_t)Source, .Level = Entry->Level, .Kind = Vic->KindOfSlot[Entry->Level][Entry->Slot]};
    }
    Vic->IpiDirectBit = Vic->IpiSource != VICP_NONE ? VicpSourceOf(Vic, Vic->IpiSource)->DirectBit : 0;
}

static void VicpInitializeRoutes(VIC *Vic)
{
    for (uint32_t Source = 0; Source < Vic->SourceCount; Source++) {
        IR_ROUTE *Route;
        (void)IrRouteInitialize(VicpRoute(Vic, Source), Vic->RouteStride, Vic->CpuCount, &Route);
    }
}

static void VicpInitializeCpu(VIC *Vic, VICP_CPU *Cpu)
{
    atomic_store_explicit(&Cpu->State, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->IpiMessages, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->Offline, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->Migrated, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->Merged, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->Cleared, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->RaisedHarvestedByClear, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->Control, 0, memory_order_relaxed); /* level 0, gates open, kernel mode */
    atomic_store_explicit(&Cpu->Claimed, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->RaisedByOwner, 0, memory_order_relaxed);
    atomic_store_explicit(&Cpu->TakenOnce, 0, memory_order_relaxed);
    Cpu->UndoKey = ~(uint64_t)0; /* no Control has every bit set */
    Cpu->UndoOwnerBits = 0;
    for (uint32_t Message = 0; Message < VIC_IPI_MESSAGE_COUNT; Message++)
        atomic_store_explicit(&Cpu->IpiCounts[Message], 0, memory_order_relaxed);
    for (uint32_t Level = 0; Level < Vic->LevelCount; Level++)
        atomic_store_explicit(&Cpu->Pending[Level], 0, memory_order_relaxed);
    /* Level 0, gates open: the owner bits as the owner would compute them. */
    atomic_store_explicit(&Cpu->State, VicpOwnerBits(Vic, 0), memory_order_relaxed);
}

static void VicpInitializeHeader(VIC *Vic, unsigned char *Base, const VIC_CONFIG *Config, const VICP_LAYOUT *Layout)
{
    Vic->CpuBlocks = Base + Layout->CpusOffset;
    Vic->CpuStride = Layout->CpuStride;
    Vic->View = (VIC_DELIVERY_VIEW *)(void *)Base;
    Vic->CpuCount = Config->CpuCount;
    Vic->CpuWords = (Config->CpuCount + 63u) / 64u;
    Vic->LevelCount = Config->LevelCount;
    Vic->SourceCount = Config->SourceCount;
    Vic->AstLevel = Config->AstLevel;
    Vic->IpiSource = VICP_NONE;
    Vic->MachineCheckLevels = 0;
    Vic->MachineCheckThreshold = VIC_CHECK_THRESHOLD_NONE;
    Vic->Wake = Config->Wake;
    Vic->WakeContext = Config->WakeContext;
    Vic->WakeOnPending = Config->WakeOnPending;
    Vic->Routes = Base + Layout->RoutesOffset;
    Vic->RouteStride = Layout->RouteStride;
    IrLockInitialize(&Vic->RouteLock);
    IR_CPU_SET All;
    IrCpuSetFill(&All, Config->CpuCount);
    for (uint32_t Word = 0; Word < IR_CPU_SET_WORDS; Word++)
        atomic_store_explicit(&Vic->Online[Word], All.Bits[Word], memory_order_relaxed);
    VicpInitializeRoutingInputs(Vic);
}

IRQ_STATUS VicInitialize(void *Storage, size_t StorageSize, const VIC_CONFIG *Config, VIC **Vic)
{
    if (Storage == NULL || Config == NULL || Vic == NULL ||
        ((uintptr_t)Storage & (VIC_STORAGE_ALIGNMENT - 1u)) != 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    VICP_CONFIG_FACTS Facts;
    VICP_LAYOUT Layout;
    IRQ_STATUS Status = VicpCheckAndLayOut(Config, &Facts, &Layout);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (StorageSize < Layout.Size)
        return IRQ_STATUS_BUFFER_TOO_SMALL;

    VIC *New = (VIC *)(void *)((unsigned char *)Storage + Layout.HeaderOffset);
    VicpInitializeHeader(New, Storage, Config, &Layout);
    VicpInitializeSources(New, Config, &Facts);
    VicpAssignDirectBits(New, &Facts);
    VicpInitializeRoutes(New);
    New->View->CpuCount = Config->CpuCount;
    New->View->HeaderOffset = (uint32_t)Layout.HeaderOffset;
    for (uint32_t Cpu = 0; Cpu < Config->CpuCount; Cpu++) {
        VicpInitializeCpu(New, VicpCpu(New, Cpu));
        /* State is the block's first member (vicp.h): the block's address is the word's. */
        New->View->Words[Cpu] = (const VIC_CHECK_WORD *)(const void *)VicpCpu(New, Cpu);
    }
    /* Other threads may use the Vic once the caller has published it (a
     * release store, a thread start): that makes these stores visible. */
    *Vic = Storage;
    return IRQ_STATUS_SUCCESS;
}
