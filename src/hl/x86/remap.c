/* SPDX-License-Identifier: MIT */
/*
 * Interrupt remapping: the driver of an Intel VT-d remapping unit's
 * interrupt half (VT-d spec ch. 9 "Translation Structure Formats" for the
 * IRTE, ch. 5.1 "Interrupt Remapping", ch. 6.5 "Invalidation of Caches",
 * ch. 11 "Register Descriptions").
 *
 * WHY. A redirection entry and a compatibility-format MSI carry an 8-bit
 * destination: without remapping no device interrupt reaches an APIC id
 * above 254. With it, the I/O APIC entry and the MSI carry only a handle,
 * an index into the interrupt remapping table (IRT) in memory, and the
 * IRTE holds the 32-bit destination (EIME: x2APIC mode), the vector, the
 * delivery and trigger modes and the source-id check of the requester.
 *
 * ORDER OF ENABLING (9.x and 11.4.4 "Global Command Register"): the table
 * pointer (IRTA, then GCMD.SIRTP until GSTS.IRTPS), the invalidation queue
 * (IQA, IQT = 0, then GCMD.QIE until GSTS.QIES), a global invalidation of
 * the interrupt entry cache (IEC), then GCMD.IRE until GSTS.IRES. GCMD.CFI
 * stays clear: once remapping is on, compatibility-format interrupts are
 * blocked, so nothing reaches a CPU past the table. GCMD is written one
 * command at a time with the persistent bits read from GSTS (11.4.4: the
 * register has no read-back of its own).
 *
 * CHANGING AN ENTRY. The hardware may cache IRTEs: after each change the
 * driver queues an IEC invalidation of that index and an invalidation wait
 * descriptor whose status write tells it the invalidation is done (6.5.2.5,
 * 6.5.2.8). A new entry is written high half first, then the low half with
 * Present; a move of a live entry changes only the low half (destination,
 * vector), one aligned 64-bit store, so the hardware sees the old entry or
 * the new, never a mixture (9.10: software updates an IRTE atomically).
 *
 * MEMORY. The IRT, the queue and the wait status word come from
 * PlatAllocateMemory, and their addresses are handed to the unit as they
 * are: the memory must be identity-mapped (the reference kernel's pool is;
 * on the sim the model reads host memory at that address).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "hlp.h"
#include "irlock.h"

/* Registers (11.4), byte offsets from the unit's base. */
#define VTD_REG_CAP 0x08u
#define VTD_REG_ECAP 0x10u
#define VTD_REG_GCMD 0x18u
#define VTD_REG_GSTS 0x1Cu
#define VTD_REG_FSTS 0x34u
#define VTD_REG_IQH 0x80u
#define VTD_REG_IQT 0x88u
#define VTD_REG_IQA 0x90u
#define VTD_REG_IRTA 0xB8u

/* GCMD / GSTS bits (11.4.4, 11.4.5): the same positions in both. */
#define VTD_GCMD_QIE (1u << 26)
#define VTD_GCMD_IRE (1u << 25)
#define VTD_GCMD_SIRTP (1u << 24)
#define VTD_GCMD_CFI (1u << 23)
/* The GSTS bits that are states, not one-shot commands (TES, QIES, IRES,
 * CFIS): what a GCMD write must repeat to leave them as they are. */
#define VTD_GSTS_PERSISTENT ((1u << 31) | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI)

/* ECAP (11.4.3): queued invalidation, interrupt remapping, extended
 * interrupt mode (32-bit x2APIC destinations). */
#define VTD_ECAP_QI (1ull << 1)
#define VTD_ECAP_IR (1ull << 3)
#define VTD_ECAP_EIM (1ull << 4)
/* CAP (11.4.2): fault recording register offset (x16 bytes) and count-1. */
#define VTD_CAP_FRO(Cap) ((uint32_t)(((Cap) >> 24) & 0x3FFu) * 16u)
#define VTD_CAP_NFR(Cap) ((uint32_t)(((Cap) >> 40) & 0xFFu) + 1u)

/* FSTS (11.4.9): primary pending fault, fault record index, queue error. */
#define VTD_FSTS_PPF (1u << 1)
#define VTD_FSTS_IQE (1u << 4)
#define VTD_FSTS_FRI(Fsts) (((Fsts) >> 8) & 0xFFu)

/* IRTA (11.4.13): EIME, and S (the table holds 2^(S+1) entries). */
#define VTD_IRTA_EIME (1u << 11)
#define HLP_REMAP_TABLE_SIZE_FIELD 11u /* 2^12 = 4096 entries, 64 KiB */
#define HLP_REMAP_TABLE_ENTRIES (1u << (HLP_REMAP_TABLE_SIZE_FIELD + 1u))
/* IQA (11.4.12): QS = 0, one 4 KiB page of 256 128-bit descriptors. */
#define HLP_QUEUE_ENTRIES 256u
#define HLP_PAGE 4096u

/* Invalidation descriptors (6.5.2): interrupt entry cache and wait. */
#define VTD_DESC_IEC 0x4ull
#define VTD_DESC_IEC_INDEX (1ull << 4) /* G: index-selective */
#define VTD_DESC_WAIT 0x5ull
#define VTD_DESC_WAIT_SW (1ull << 5)   /* write the status word */
#define HLP_WAIT_DONE 1u

/* IRTE (9.10), low half. */
#define VTD_IRTE_PRESENT (1ull << 0)
#define VTD_IRTE_FPD (1ull << 1)
#define VTD_IRTE_LOGICAL (1ull << 2)
#define VTD_IRTE_LEVEL (1ull << 4)
#define VTD_IRTE_DELIVERY_SHIFT 5u
#define VTD_IRTE_VECTOR_SHIFT 16u
#define VTD_IRTE_DESTINATION_SHIFT 32u
/* Without EIME the destination is bits 15:8 of the field (9.10 table). */
#define VTD_IRTE_XAPIC_DESTINATION_SHIFT 8u
/* High half: SID 15:0, SQ 17:16, SVT 19:18. */
#define VTD_IRTE_SQ_SHIFT 16u
#define VTD_IRTE_SVT_SHIFT 18u

/* How long a command may take to show in GSTS, or a wait descriptor to
 * complete, in PlatCpuRelax spins: far beyond any unit (QEMU's complete
 * at once), short enough that a dead unit is reported, not hung on. */
#define HLP_REMAP_SPIN_LIMIT 10000000u

typedef struct _HLP_IRTE {
    _Atomic uint64_t Low;
    _Atomic uint64_t High;
} HLP_IRTE;

typedef struct _HLP_DESCRIPTOR {
    _Atomic uint64_t Low;
    _Atomic uint64_t High;
} HLP_DESCRIPTOR;

/* The word an invalidation wait descriptor writes (6.5.2.8). */
typedef struct _HLP_WAIT_STATUS {
    _Atomic uint32_t Value;
} HLP_WAIT_STATUS;

typedef struct _HLP_REMAP_UNIT {
    uintptr_t Base;
    uint64_t Capability;
    uint64_t ExtendedCapability;
    bool Registered;
    bool Enabled;
    bool ExtendedDestinations; /* EIME: 32-bit destinations */
    HLP_IRTE *Table;
    HLP_DESCRIPTOR *Queue;
    HLP_WAIT_STATUS *WaitStatus;
    uint32_t QueueTail;
    uint64_t Allocated[HLP_REMAP_TABLE_ENTRIES / 64u];
    uint64_t FaultCount;
    IR_LOCK Lock; /* the queue, the allocation bitmap, GCMD */
} HLP_REMAP_UNIT;

static HLP_REMAP_UNIT HlpRemapUnits[HL_REMAP_MAX_UNITS];

/* Which unit a source sends through, and as which requester (the DMAR's
 * device scopes, 8.3.1): an I/O APIC by its id, a PCI requester by its own
 * id. One table for both, one unit per source. */
typedef enum _HLP_REMAP_SOURCE_KIND {
    HlpRemapSourceFree = 0,
    HlpRemapSourceIoApic,
    HlpRemapSourceRequester,
} HLP_REMAP_SOURCE_KIND;

#define HLP_REMAP_MAX_SOURCES (HL_MAX_IOAPICS + 256u)
typedef struct _HLP_REMAP_SOURCE {
    HLP_REMAP_SOURCE_KIND Kind;
    uint16_t Key;               /* the I/O APIC id, or the requester id */
    uint32_t Unit;
    uint16_t SourceId;
} HLP_REMAP_SOURCE;

/* The table index of each remapped I/O APIC line in use. */
#define HLP_REMAP_MAX_LINES 256u
typedef struct _HLP_REMAP_LINE {
    bool InUse;
    uint32_t Gsi;
    uint32_t Unit;
    uint32_t Index;
} HLP_REMAP_LINE;

static HLP_REMAP_SOURCE HlpRemapSources[HLP_REMAP_MAX_SOURCES];
static HLP_REMAP_LINE HlpRemapLines[HLP_REMAP_MAX_LINES];
/* The two tables above: assignments at boot, lines under the caller's
 * per-GSI serialisation (pic.c), so a plain lock suffices. */
static IR_LOCK HlpRemapLinesLock = IR_LOCK_INIT;

/* ---- Registers ------------------------------------------------------------------- */

static uint32_t HlpRemapRead32(const HLP_REMAP_UNIT *Unit, uint32_t Offset)
{
    return PlatMmioRead32(Unit->Base + Offset);
}

static void HlpRemapWrite32(const HLP_REMAP_UNIT *Unit, uint32_t Offset, uint32_t Value)
{
    PlatMmioWrite32(Unit->Base + Offset, Value);
}

/* 64-bit registers as two aligned doublewords, low first (10.2: software
 * may access them either way). */
static uint64_t HlpRemapRead64(const HLP_REMAP_UNIT *Unit, uint32_t Offset)
{
    uint64_t Low = HlpRemapRead32(Unit, Offset);
    return Low | (uint64_t)HlpRemapRead32(Unit, Offset + 4u) << 32;
}

static void HlpRemapWrite64(const HLP_REMAP_UNIT *Unit, uint32_t Offset, uint64_t Value)
{
    HlpRemapWrite32(Unit, Offset, (uint32_t)Value);
    HlpRemapWrite32(Unit, Offset + 4u, (uint32_t)(Value >> 32));
}

/* One GCMD command: the persistent state from GSTS with Command set (or
 * cleared), then wait until GSTS shows Status as wanted. */
static IRQ_STATUS HlpRemapCommand(const HLP_REMAP_UNIT *Unit, uint32_t Command, bool Set, uint32_t Status)
{
    uint32_t Persistent = HlpRemapRead32(Unit, VTD_REG_GSTS) & VTD_GSTS_PERSISTENT;
    HlpRemapWrite32(Unit, VTD_REG_GCMD, Set ? Persistent | Command : Persistent & ~Command);
    for (uint32_t Spin = 0; Spin < HLP_REMAP_SPIN_LIMIT; Spin++) {
        if (((HlpRemapRead32(Unit, VTD_REG_GSTS) & Status) != 0) == Set)
            return IRQ_STATUS_SUCCESS;
        PlatCpuRelax();
    }
    return IRQ_STATUS_DEVICE_ERROR;
}

/* ---- The invalidation queue (6.5.2) ---------------------------------------------------- */

static void HlpRemapQueue(HLP_REMAP_UNIT *Unit, uint64_t Low, uint64_t High)
{
    /* Release stores: the descriptor is in memory before the tail that
     * hands it to the unit is written (x86 keeps stores in order, so the
     * uncached tail write cannot pass them). */
    HLP_DESCRIPTOR *Descriptor = &Unit->Queue[Unit->QueueTail];
    atomic_store_explicit(&Descriptor->High, High, memory_order_release);
    atomic_store_explicit(&Descriptor->Low, Low, memory_order_release);
    Unit->QueueTail = (Unit->QueueTail + 1u) % HLP_QUEUE_ENTRIES;
}

/* Queues a wait descriptor behind what is queued, moves the tail and waits
 * for the status write: then every descriptor before it has completed
 * (6.5.2.8). Unit->Lock held. */
static IRQ_STATUS HlpRemapSubmitAndWait(HLP_REMAP_UNIT *Unit)
{
    atomic_store_explicit(&Unit->WaitStatus->Value, 0u, memory_order_relaxed);
    HlpRemapQueue(Unit, VTD_DESC_WAIT | VTD_DESC_WAIT_SW | (uint64_t)HLP_WAIT_DONE << 32,
                  (uint64_t)(uintptr_t)Unit->WaitStatus);
    HlpRemapWrite64(Unit, VTD_REG_IQT, (uint64_t)Unit->QueueTail << 4);
    for (uint32_t Spin = 0; Spin < HLP_REMAP_SPIN_LIMIT; Spin++) {
        if (atomic_load_explicit(&Unit->WaitStatus->Value, memory_order_acquire) == HLP_WAIT_DONE)
            return IRQ_STATUS_SUCCESS;
        if ((HlpRemapRead32(Unit, VTD_REG_FSTS) & VTD_FSTS_IQE) != 0)
            return IRQ_STATUS_DEVICE_ERROR;
        PlatCpuRelax();
    }
    return IRQ_STATUS_DEVICE_ERROR;
}

/* Index NO_INDEX: the whole cache (G = 0, 6.5.2.6). */
#define HLP_ALL_ENTRIES 0xFFFFFFFFu
static IRQ_STATUS HlpRemapInvalidate(HLP_REMAP_UNIT *Unit, uint32_t Index)
{
    uint64_t Descriptor = VTD_DESC_IEC;
    if (Index != HLP_ALL_ENTRIES)
        Descriptor |= VTD_DESC_IEC_INDEX | (uint64_t)Index << 32; /* IM = 0: this one entry */
    HlpRemapQueue(Unit, Descriptor, 0);
    return HlpRemapSubmitAndWait(Unit);
}

/* ---- Units ---------------------------------------------------------------------------- */

static HLP_REMAP_UNIT *HlpRemapUnit(uint32_t Unit)
{
    return Unit < HL_REMAP_MAX_UNITS && HlpRemapUnits[Unit].Registered ? &HlpRemapUnits[Unit] : NULL;
}

IRQ_STATUS HlRemapRegisterUnit(uint32_t Unit, uintptr_t RegisterBase)
{
    if (Unit >= HL_REMAP_MAX_UNITS || RegisterBase == 0 || (RegisterBase & (HLP_PAGE - 1u)) != 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (HlpRemapUnits[Unit].Registered)
        return IRQ_STATUS_INVALID_STATE;
    HLP_REMAP_UNIT Probe = {.Base = RegisterBase};
    uint64_t Extended = HlpRemapRead64(&Probe, VTD_REG_ECAP);
    /* The queue is the only way to invalidate the interrupt entry cache
     * (6.5: register-based invalidation covers the other caches only). */
    if (Extended == ~0ull || (Extended & VTD_ECAP_IR) == 0 || (Extended & VTD_ECAP_QI) == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    /* x2APIC destinations need the extended interrupt mode (9.10). */
    if (HlLapicGetMode() == HlLapicModeX2Apic && (Extended & VTD_ECAP_EIM) == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    HLP_REMAP_UNIT *Registered = &HlpRemapUnits[Unit];
    *Registered = Probe;
    Registered->Capability = HlpRemapRead64(&Probe, VTD_REG_CAP);
    Registered->ExtendedCapability = Extended;
    IrLockInitialize(&Registered->Lock);
    Registered->Registered = true;
    return IRQ_STATUS_SUCCESS;
}

static void HlpRemapFreeStructures(HLP_REMAP_UNIT *Unit)
{
    if (Unit->Table != NULL)
        PlatFreeMemory(Unit->Table, HLP_REMAP_TABLE_ENTRIES * sizeof(HLP_IRTE));
    if (Unit->Queue != NULL)
        PlatFreeMemory(Unit->Queue, HLP_QUEUE_ENTRIES * sizeof(HLP_DESCRIPTOR));
    if (Unit->WaitStatus != NULL)
        PlatFreeMemory(Unit->WaitStatus, sizeof(*Unit->WaitStatus));
    Unit->Table = NULL;
    Unit->Queue = NULL;
    Unit->WaitStatus = NULL;
}

static IRQ_STATUS HlpRemapAllocateStructures(HLP_REMAP_UNIT *Unit)
{
    Unit->Table = PlatAllocateMemory(HLP_REMAP_TABLE_ENTRIES * sizeof(HLP_IRTE), HLP_PAGE);
    Unit->Queue = PlatAllocateMemory(HLP_QUEUE_ENTRIES * sizeof(HLP_DESCRIPTOR), HLP_PAGE);
    Unit->WaitStatus = PlatAllocateMemory(sizeof(*Unit->WaitStatus), 64u);
    if (Unit->Table != NULL && Unit->Queue != NULL && Unit->WaitStatus != NULL)
        return IRQ_STATUS_SUCCESS;
    HlpRemapFreeStructures(Unit);
    return IRQ_STATUS_INSUFFICIENT_RESOURCES;
}

/* The ordered steps of the header comment; Unit->Lock held. */
static IRQ_STATUS HlpRemapStart(HLP_REMAP_UNIT *Unit)
{
    Unit->ExtendedDestinations = HlLapicGetMode() == HlLapicModeX2Apic;
    uint64_t Irta = (uint64_t)(uintptr_t)Unit->Table | HLP_REMAP_TABLE_SIZE_FIELD;
    if (Unit->ExtendedDestinations)
        Irta |= VTD_IRTA_EIME;
    HlpRemapWrite64(Unit, VTD_REG_IRTA, Irta);
    IRQ_STATUS Status = HlpRemapCommand(Unit, VTD_GCMD_SIRTP, true, VTD_GCMD_SIRTP);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Unit->QueueTail = 0;
    HlpRemapWrite64(Unit, VTD_REG_IQT, 0);
    HlpRemapWrite64(Unit, VTD_REG_IQA, (uint64_t)(uintptr_t)Unit->Queue); /* QS 0, 128-bit */
    Status = HlpRemapCommand(Unit, VTD_GCMD_QIE, true, VTD_GCMD_QIE);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlpRemapInvalidate(Unit, HLP_ALL_ENTRIES);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlpRemapCommand(Unit, VTD_GCMD_IRE, true, VTD_GCMD_IRE);
    return Status;
}

IRQ_STATUS HlRemapEnable(uint32_t UnitIndex)
{
    HLP_REMAP_UNIT *Unit = HlpRemapUnit(UnitIndex);
    if (Unit == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    bool WasEnabled = IrLockAcquireIrqSave(&Unit->Lock);
    IRQ_STATUS Status = Unit->Enabled || Unit->Table != NULL ? IRQ_STATUS_INVALID_STATE
                                                             : HlpRemapAllocateStructures(Unit);
    if (Status == IRQ_STATUS_SUCCESS) {
        Status = HlpRemapStart(Unit);
        /* On failure the structures stay: the unit may already point at
         * them (IRTA, IQA), and memory it can still read must not be
         * reused. A second HlRemapEnable then reports INVALID_STATE. */
        Unit->Enabled = Status == IRQ_STATUS_SUCCESS;
    }
    IrLockReleaseIrqRestore(&Unit->Lock, WasEnabled);
    return Status;
}

bool HlRemapIsEnabled(uint32_t UnitIndex)
{
    const HLP_REMAP_UNIT *Unit = HlpRemapUnit(UnitIndex);
    return Unit != NULL && Unit->Enabled;
}

/* ---- Entries ---------------------------------------------------------------------------- */

static HLP_REMAP_UNIT *HlpEnabledRemapUnit(uint32_t UnitIndex)
{
    HLP_REMAP_UNIT *Unit = HlpRemapUnit(UnitIndex);
    return Unit != NULL && Unit->Enabled ? Unit : NULL;
}

IRQ_STATUS HlRemapAllocateEntry(uint32_t UnitIndex, uint32_t *Index)
{
    HLP_REMAP_UNIT *Unit = HlpEnabledRemapUnit(UnitIndex);
    if (Unit == NULL || Index == NULL)
        return Unit == NULL ? IRQ_STATUS_NOT_INITIALIZED : IRQ_STATUS_INVALID_PARAMETER;
    IRQ_STATUS Status = IRQ_STATUS_INSUFFICIENT_RESOURCES;
    bool WasEnabled = IrLockAcquireIrqSave(&Unit->Lock);
    for (uint32_t Word = 0; Word < HLP_REMAP_TABLE_ENTRIES / 64u; Word++) {
        if (Unit->Allocated[Word] == ~0ull)
            continue;
        uint32_t Bit = (uint32_t)__builtin_ctzll(~Unit->Allocated[Word]);
        Unit->Allocated[Word] |= 1ull << Bit;
        *Index = Word * 64u + Bit;
        Status = IRQ_STATUS_SUCCESS;
        break;
    }
    IrLockReleaseIrqRestore(&Unit->Lock, WasEnabled);
    return Status;
}

static bool HlpRemapIsAllocated(const HLP_REMAP_UNIT *Unit, uint32_t Index)
{
    return Index < HLP_REMAP_TABLE_ENTRIES && (Unit->Allocated[Index / 64u] & (1ull << (Index % 64u))) != 0;
}

static IRQ_STATUS HlpRemapEncode(const HLP_REMAP_UNIT *Unit, const HL_REMAP_ENTRY *Entry, uint64_t *Low,
                                 uint64_t *High)
{
    if (Entry->Vector < 0x10u || Entry->Vector == 0xFFu ||
        (Entry->Trigger != HlTriggerEdge && Entry->Trigger != HlTriggerLevel) ||
        (Entry->DeliveryMode != HlDeliveryFixed && Entry->DeliveryMode != HlDeliveryLowestPriority) ||
        Entry->SourceValidation > HlRemapVerifyBus)
        return IRQ_STATUS_INVALID_PARAMETER;
    /* Without EIME only an 8-bit destination fits (9.10). */
    if (!Unit->ExtendedDestinations && Entry->Destination > 0xFFu)
        return IRQ_STATUS_NOT_SUPPORTED;
    uint64_t Destination = Unit->ExtendedDestinations ? Entry->Destination
                                                      : (uint64_t)Entry->Destination << VTD_IRTE_XAPIC_DESTINATION_SHIFT;
    *Low = VTD_IRTE_PRESENT | (uint64_t)Entry->Vector << VTD_IRTE_VECTOR_SHIFT |
           Destination << VTD_IRTE_DESTINATION_SHIFT;
    if (Entry->Logical)
        *Low |= VTD_IRTE_LOGICAL;
    if (Entry->Trigger == HlTriggerLevel)
        *Low |= VTD_IRTE_LEVEL;
    /* Fixed (000) or lowest priority (001): what irqroute routes. */
    *Low |= (uint64_t)Entry->DeliveryMode << VTD_IRTE_DELIVERY_SHIFT;
    *High = (uint64_t)Entry->SourceId | (uint64_t)Entry->SourceQualifier << VTD_IRTE_SQ_SHIFT |
            (uint64_t)Entry->SourceValidation << VTD_IRTE_SVT_SHIFT;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS HlRemapWriteEntry(uint32_t UnitIndex, uint32_t Index, const HL_REMAP_ENTRY *Entry)
{
    HLP_REMAP_UNIT *Unit = HlpEnabledRemapUnit(UnitIndex);
    if (Unit == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Entry == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint64_t Low, High;
    IRQ_STATUS Status = HlpRemapEncode(Unit, Entry, &Low, &High);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&Unit->Lock);
    if (!HlpRemapIsAllocated(Unit, Index)) {
        IrLockReleaseIrqRestore(&Unit->Lock, WasEnabled);
        return IRQ_STATUS_INVALID_PARAMETER;
    }
    HLP_IRTE *Irte = &Unit->Table[Index];
    bool Live = (atomic_load_explicit(&Irte->Low, memory_order_relaxed) & VTD_IRTE_PRESENT) != 0;
    if (!Live || atomic_load_explicit(&Irte->High, memory_order_relaxed) != High) {
        /* Not live, or its requester changes: present last. A live entry
         * whose high half changes is taken out first, so no interrupt is
         * checked against a mixture (it faults instead, and is counted). */
        atomic_store_explicit(&Irte->Low, 0, memory_order_release);
        atomic_store_explicit(&Irte->High, High, memory_order_release);
    }
    atomic_store_explicit(&Irte->Low, Low, memory_order_release);
    Status = HlpRemapInvalidate(Unit, Index);
    IrLockReleaseIrqRestore(&Unit->Lock, WasEnabled);
    return Status;
}

IRQ_STATUS HlRemapFreeEntry(uint32_t UnitIndex, uint32_t Index)
{
    HLP_REMAP_UNIT *Unit = HlpEnabledRemapUnit(UnitIndex);
    if (Unit == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    bool WasEnabled = IrLockAcquireIrqSave(&Unit->Lock);
    IRQ_STATUS Status = IRQ_STATUS_INVALID_PARAMETER;
    if (HlpRemapIsAllocated(Unit, Index)) {
        atomic_store_explicit(&Unit->Table[Index].Low, 0, memory_order_release);
        atomic_store_explicit(&Unit->Table[Index].High, 0, memory_order_release);
        Status = HlpRemapInvalidate(Unit, Index);
        Unit->Allocated[Index / 64u] &= ~(1ull << (Index % 64u));
    }
    IrLockReleaseIrqRestore(&Unit->Lock, WasEnabled);
    return Status;
}

/* ---- Remappable-format messages (5.1.2.2, 5.1.5.1) --------------------------------- */

IRQ_STATUS HlRemapComposeMsi(uint32_t Index, HL_MSI_MESSAGE *Message)
{
    if (Message == NULL || Index >= HLP_REMAP_TABLE_ENTRIES)
        return IRQ_STATUS_INVALID_PARAMETER;
    /* 0xFEE, handle[14:0] in 19:5, format 1 in bit 4, SHV 0 (the handle
     * alone names the entry), handle[15] in bit 2; the data is unused. */
    Message->Address = 0xFEE00000ull | (uint64_t)(Index & 0x7FFFu) << 5 | 1ull << 4 | (uint64_t)(Index >> 15) << 2;
    Message->Data = 0;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS HlRemapComposeIoApicEntry(uint32_t Index, uint8_t Vector, HL_TRIGGER_MODE Trigger,
                                     HL_POLARITY Polarity, IOAPIC_REDIRECTION_ENTRY *Entry)
{
    if (Entry == NULL || Index >= HLP_REMAP_TABLE_ENTRIES ||
        (Trigger != HlTriggerEdge && Trigger != HlTriggerLevel) ||
        (Polarity != HlPolarityActiveHigh && Polarity != HlPolarityActiveLow))
        return IRQ_STATUS_INVALID_PARAMETER;
    /* 5.1.5.1: index[14:0] in 63:49, format 1 in 48, index[15] in 11; the
     * vector matches the IRTE's so that the EOI broadcast for a level
     * entry finds it; trigger and polarity as for the line. Masked: the
     * caller unmasks when it is ready. */
    Entry->Value = (uint64_t)(Index & 0x7FFFu) << 49 | 1ull << 48 | (uint64_t)(Index >> 15) << 11 | Vector |
                   (uint64_t)(Trigger == HlTriggerLevel) << 15 | (uint64_t)(Polarity == HlPolarityActiveLow) << 13 |
                   1ull << 16;
    return IRQ_STATUS_SUCCESS;
}

/* ---- I/O APIC lines (5.1.5.1) ------------------------------------------------------ */

/* The source's slot (Kind and Key), or NULL. */
static HLP_REMAP_SOURCE *HlpRemapFindSource(HLP_REMAP_SOURCE_KIND Kind, uint16_t Key)
{
    for (uint32_t Slot = 0; Slot < HLP_REMAP_MAX_SOURCES; Slot++) {
        if (HlpRemapSources[Slot].Kind == Kind && HlpRemapSources[Slot].Key == Key)
            return &HlpRemapSources[Slot];
    }
    return NULL;
}

static HLP_REMAP_SOURCE *HlpRemapFindFree(void)
{
    for (uint32_t Slot = 0; Slot < HLP_REMAP_MAX_SOURCES; Slot++) {
        if (HlpRemapSources[Slot].Kind == HlpRemapSourceFree)
            return &HlpRemapSources[Slot];
    }
    return NULL;
}

static IRQ_STATUS HlpRemapAssign(HLP_REMAP_SOURCE_KIND Kind, uint16_t Key, uint32_t Unit, uint16_t SourceId)
{
    if (HlpRemapUnit(Unit) == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    bool WasEnabled = IrLockAcquireIrqSave(&HlpRemapLinesLock);
    IRQ_STATUS Status = IRQ_STATUS_INVALID_STATE; /* one unit per source */
    if (HlpRemapFindSource(Kind, Key) == NULL) {
        HLP_REMAP_SOURCE *Free = HlpRemapFindFree();
        Status = IRQ_STATUS_INSUFFICIENT_RESOURCES;
        if (Free != NULL) {
            *Free = (HLP_REMAP_SOURCE){.Kind = Kind, .Key = Key, .Unit = Unit, .SourceId = SourceId};
            Status = IRQ_STATUS_SUCCESS;
        }
    }
    IrLockReleaseIrqRestore(&HlpRemapLinesLock, WasEnabled);
    return Status;
}

/* Whether the source is assigned to a unit that is now enabled. */
static const HLP_REMAP_SOURCE *HlpRemapEnabledSource(HLP_REMAP_SOURCE_KIND Kind, uint16_t Key)
{
    const HLP_REMAP_SOURCE *Source = HlpRemapFindSource(Kind, Key);
    return Source != NULL && HlRemapIsEnabled(Source->Unit) ? Source : NULL;
}

IRQ_STATUS HlRemapAssignIoApic(uint8_t IoApicId, uint32_t Unit, uint16_t SourceId)
{
    return HlpRemapAssign(HlpRemapSourceIoApic, IoApicId, Unit, SourceId);
}

IRQ_STATUS HlRemapAssignRequester(uint32_t Unit, uint16_t SourceId)
{
    return HlpRemapAssign(HlpRemapSourceRequester, SourceId, Unit, SourceId);
}

bool HlpRemapCoversRequester(uint16_t RequesterId, uint32_t *Unit)
{
    const HLP_REMAP_SOURCE *Source = HlpRemapEnabledSource(HlpRemapSourceRequester, RequesterId);
    if (Source != NULL)
        *Unit = Source->Unit;
    return Source != NULL;
}

bool HlpRemapCoversGsi(uint32_t Gsi, uint32_t *Unit, uint16_t *SourceId)
{
    uint8_t IoApicId;
    const HLP_REMAP_SOURCE *Source =
        HlpIoApicIdOfGsi(Gsi, &IoApicId) ? HlpRemapEnabledSource(HlpRemapSourceIoApic, IoApicId) : NULL;
    if (Source != NULL) {
        *Unit = Source->Unit;
        *SourceId = Source->SourceId;
    }
    return Source != NULL;
}

static HLP_REMAP_LINE *HlpRemapFindLine(uint32_t Gsi)
{
    for (uint32_t Slot = 0; Slot < HLP_REMAP_MAX_LINES; Slot++) {
        if (HlpRemapLines[Slot].InUse && HlpRemapLines[Slot].Gsi == Gsi)
            return &HlpRemapLines[Slot];
    }
    return NULL;
}

IRQ_STATUS HlpRemapLineIndex(uint32_t Gsi, uint32_t Unit, uint32_t *Index)
{
    bool WasEnabled = IrLockAcquireIrqSave(&HlpRemapLinesLock);
    HLP_REMAP_LINE *Line = HlpRemapFindLine(Gsi);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (Line == NULL) {
        for (uint32_t Slot = 0; Slot < HLP_REMAP_MAX_LINES && Line == NULL; Slot++) {
            if (!HlpRemapLines[Slot].InUse)
                Line = &HlpRemapLines[Slot];
        }
        uint32_t Allocated = 0;
        Status = Line == NULL ? IRQ_STATUS_INSUFFICIENT_RESOURCES : HlRemapAllocateEntry(Unit, &Allocated);
        if (Status == IRQ_STATUS_SUCCESS)
            *Line = (HLP_REMAP_LINE){.InUse = true, .Gsi = Gsi, .Unit = Unit, .Index = Allocated};
    }
    if (Status == IRQ_STATUS_SUCCESS)
        *Index = Line->Index;
    IrLockReleaseIrqRestore(&HlpRemapLinesLock, WasEnabled);
    return Status;
}

void HlpRemapReleaseLine(uint32_t Gsi)
{
    bool WasEnabled = IrLockAcquireIrqSave(&HlpRemapLinesLock);
    HLP_REMAP_LINE *Line = HlpRemapFindLine(Gsi);
    HLP_REMAP_LINE Released = Line != NULL ? *Line : (HLP_REMAP_LINE){0};
    if (Line != NULL)
        Line->InUse = false;
    IrLockReleaseIrqRestore(&HlpRemapLinesLock, WasEnabled);
    if (Released.InUse)
        (void)HlRemapFreeEntry(Released.Unit, Released.Index);
}

/* ---- Faults (7.x, 11.4.14) --------------------------------------------------------------- */

/* Reads and clears one fault recording register (128 bits at FRO + 16 *
 * Record): F is bit 127; the fault reason 103:96, the source id 79:64,
 * the interrupt index 63:48 for an interrupt request. */
static bool HlpRemapTakeFault(HLP_REMAP_UNIT *Unit, uint32_t Record, HL_REMAP_FAULT *Fault)
{
    uint32_t Offset = VTD_CAP_FRO(Unit->Capability) + Record * 16u;
    uint64_t High = HlpRemapRead64(Unit, Offset + 8u);
    if ((High & (1ull << 63)) == 0)
        return false;
    uint64_t Low = HlpRemapRead64(Unit, Offset);
    Fault->Reason = (uint8_t)(High >> 32);
    Fault->SourceId = (uint16_t)High;
    Fault->Index = (uint16_t)(Low >> 48);
    HlpRemapWrite32(Unit, Offset + 12u, 1u << 31); /* F is write-1-to-clear */
    return true;
}

IRQ_STATUS HlRemapCollectFaults(uint32_t UnitIndex, HL_REMAP_FAULT *Faults, uint32_t Capacity, uint32_t *Count)
{
    HLP_REMAP_UNIT *Unit = HlpRemapUnit(UnitIndex);
    if (Unit == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Count == NULL || (Faults == NULL && Capacity != 0))
        return IRQ_STATUS_INVALID_PARAMETER;
    bool WasEnabled = IrLockAcquireIrqSave(&Unit->Lock);
    uint32_t Taken = 0;
    uint32_t Records = VTD_CAP_NFR(Unit->Capability);
    HL_REMAP_FAULT Fault;
    for (uint32_t Record = 0; Record < Records; Record++) {
        if (!HlpRemapTakeFault(Unit, Record, &Fault))
            continue;
        if (Taken < Capacity)
            Faults[Taken] = Fault;
        Taken++;
        Unit->FaultCount++;
    }
    /* PPF clears itself once no record holds F; PFO is write-1-to-clear. */
    HlpRemapWrite32(Unit, VTD_REG_FSTS, HlpRemapRead32(Unit, VTD_REG_FSTS) & 1u);
    IrLockReleaseIrqRestore(&Unit->Lock, WasEnabled);
    *Count = Taken < Capacity ? Taken : Capacity;
    return IRQ_STATUS_SUCCESS;
}

uint64_t HlRemapQueryFaultCount(uint32_t UnitIndex)
{
    const HLP_REMAP_UNIT *Unit = HlpRemapUnit(UnitIndex);
    return Unit != NULL ? Unit->FaultCount : 0;
}

/* Forgets every unit (HlResetHardwareLayer: nothing uses the layer, and a
 * unit that was enabled is being reset with its machine). */
void HlpResetRemapUnits(void)
{
    for (uint32_t Index = 0; Index < HL_REMAP_MAX_UNITS; Index++) {
        HlpRemapFreeStructures(&HlpRemapUnits[Index]);
        HlpRemapUnits[Index] = (HLP_REMAP_UNIT){0};
    }
    for (uint32_t Slot = 0; Slot < HLP_REMAP_MAX_SOURCES; Slot++)
        HlpRemapSources[Slot] = (HLP_REMAP_SOURCE){0};
    for (uint32_t Slot = 0; Slot < HLP_REMAP_MAX_LINES; Slot++)
        HlpRemapLines[Slot] = (HLP_REMAP_LINE){0};

}
