/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC driver: the Intel 82093AA I/O Advanced Programmable Interrupt
 * Controller datasheet, and the version 0x20 I/O xAPIC that QEMU 7.2 and
 * Intel chipsets present (same registers, plus an EOI register).
 *
 * An I/O APIC is two memory-mapped dwords (82093AA 3.1): IOREGSEL selects an
 * internal register by index, IOWIN reads or writes the selected one. The
 * selection is shared state of the chip, so a select-then-access pair must
 * not interleave with another CPU's pair, nor with an interrupt handler on
 * this CPU that re-targets a line: every pair runs under the I/O APIC's
 * IR_LOCK, taken with interrupts disabled.
 *
 * The table of I/O APICs is written at boot by HlIoApicRegister (serialised
 * by HlpIoApicRegistrationLock). A slot is filled completely before the count
 * that makes it visible is published with a release store; lookups (at any
 * IRQL, on any CPU) load the count with acquire and never see a half-filled
 * slot. Slots are never changed once visible, except by HlpResetIoApics,
 * which tests and re-initialisation call while nothing else uses the layer.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "hlp.h"
#include "irlock.h"

/* ---- Register map (82093AA 3.1 and 3.2) ------------------------------------- */

/* Memory-mapped registers, offsets from the I/O APIC's base address. */
#define IOREGSEL 0x00u /* 3.1.1: bits 7:0 select the register IOWIN reaches */
#define IOWIN 0x10u    /* 3.1.2: the selected register's data */
/* Version 0x20 and later (the I/O xAPIC): writing a vector here acts as an
 * EOI message for that vector, on this I/O APIC only (not in the 82093AA). */
#define IOEOI 0x40u
#define IOAPIC_VERSION_WITH_EOI 0x20u
#define IOAPICVER_VERSION_MASK 0xFFu

/* Indirect registers, selected through IOREGSEL. */
#define IOAPICID 0x00u  /* 3.2.1: bits 27:24 the APIC id */
#define IOAPICVER 0x01u /* 3.2.2: bits 7:0 version, 23:16 maximum redirection entry */
#define IOAPICARB 0x02u /* 3.2.3: bits 27:24 the bus arbitration id */
#define IOREDTBL 0x10u  /* 3.2.4: entry n is 0x10+2n (bits 31:0) and 0x11+2n (bits 63:32) */

#define IOAPICVER_MAX_ENTRY_SHIFT 16u
#define IOAPICVER_MAX_ENTRY_MASK 0xFFu

/* Bits of an entry's low dword (3.2.4). */
#define IOREDTBL_VECTOR_MASK 0x000000FFu
#define IOREDTBL_DELIVERY_MODE_SHIFT 8u
#define IOREDTBL_DELIVERY_MODE_MASK 0x7u
#define IOREDTBL_DELIVERY_STATUS (1u << 12) /* read-only */
#define IOREDTBL_REMOTE_IRR (1u << 14)      /* read-only */
#define IOREDTBL_TRIGGER_LEVEL (1u << 15)
#define IOREDTBL_MASK (1u << 16)
/* What software may write: vector, delivery mode, destination mode,
 * polarity, trigger mode, mask. Bits 12 and 14 are read-only, 31:17 reserved. */
#define IOREDTBL_LOW_WRITABLE 0x0001AFFFu
/* Of the high dword only the destination, bits 63:56, is defined; 55:32 are
 * reserved and written as zero (QEMU keeps 55:48 as an extended destination). */
#define IOREDTBL_HIGH_WRITABLE 0xFF000000u
/* An entry in the remappable format (VT-d 5.1.5.1, bit 48 set: the I/O
 * xAPIC of a platform with interrupt remapping) carries the interrupt
 * index in 63:49 instead of a destination. */
#define IOREDTBL_HIGH_REMAPPABLE_FORMAT 0x00010000u
#define IOREDTBL_HIGH_WRITABLE_REMAPPABLE 0xFFFF0000u

/* Delivery modes 011 and 110 are reserved (3.2.4, table of bits 10:8). */
#define IOREDTBL_MODE_RESERVED_3 3u
#define IOREDTBL_MODE_RESERVED_6 6u
/* "Vector values range from 10h to FEh" (3.2.4, bits 7:0), for the modes
 * that carry a vector: fixed and lowest priority. */
#define IOREDTBL_VECTOR_MIN 0x10u
#define IOREDTBL_VECTOR_MAX 0xFEu

/* IOREGSEL is eight bits wide (3.1.1), so the last entry whose high dword it
 * can select is (0xFF - 0x11) / 2 = 119: at most 120 pins per I/O APIC. */
#define HLP_IOAPIC_MAX_PINS 120u

/* 32-bit registers 16 bytes apart: the base must be at least 16-byte aligned. */
#define HLP_IOAPIC_ADDRESS_ALIGN 0x10u

/* ---- The registered I/O APICs -------------------------------------------------- */

typedef struct _HLP_IOAPIC {
    IR_LOCK Lock;        /* serialises IOREGSEL/IOWIN pairs */
    uintptr_t Address;   /* physical base: IOREGSEL at +0x00, IOWIN at +0x10 */
    uint32_t GsiBase;    /* GSI of pin 0 (ACPI MADT I/O APIC entry) */
    uint32_t PinCount;   /* maximum redirection entry + 1 */
    uint8_t Version;     /* IOAPICVER bits 7:0 */
    uint8_t Id;
} HLP_IOAPIC;

static HLP_IOAPIC HlpIoApics[HL_MAX_IOAPICS];
static _Atomic uint32_t HlpIoApicCount;
static IR_LOCK HlpIoApicRegistrationLock = IR_LOCK_INIT;

/* ---- Register access (caller holds IoApic->Lock with interrupts off) ----------- */

static uint32_t HlpIoApicReadRegister(const HLP_IOAPIC *IoApic, uint32_t Index)
{
    PlatMmioWrite32(IoApic->Address + IOREGSEL, Index);
    return PlatMmioRead32(IoApic->Address + IOWIN);
}

static void HlpIoApicWriteRegister(const HLP_IOAPIC *IoApic, uint32_t Index, uint32_t Value)
{
    PlatMmioWrite32(IoApic->Address + IOREGSEL, Index);
    PlatMmioWrite32(IoApic->Address + IOWIN, Value);
}

static uint32_t HlpEntryLowIndex(uint32_t Pin)
{
    return IOREDTBL + 2u * Pin;
}

static uint32_t HlpEntryHighIndex(uint32_t Pin)
{
    return IOREDTBL + 2u * Pin + 1u;
}

/* ---- Lookup ---------------------------------------------------------------------- */

static uint32_t HlpIoApicVisibleCount(void)
{
    return atomic_load_explicit(&HlpIoApicCount, memory_order_acquire);
}

static bool HlpGsiInIoApic(const HLP_IOAPIC *IoApic, uint32_t Gsi)
{
    return Gsi >= IoApic->GsiBase && Gsi - IoApic->GsiBase < IoApic->PinCount;
}

static HLP_IOAPIC *HlpFindIoApic(uint32_t Gsi, uint32_t *Index, uint32_t *Pin)
{
    uint32_t Count = HlpIoApicVisibleCount();
    for (uint32_t Slot = 0; Slot < Count; Slot++) {
        HLP_IOAPIC *IoApic = &HlpIoApics[Slot];
        if (!HlpGsiInIoApic(IoApic, Gsi))
            continue;
        if (Index != NULL)
            *Index = Slot;
        if (Pin != NULL)
            *Pin = Gsi - IoApic->GsiBase;
        return IoApic;
    }
    return NULL;
}

uint32_t HlIoApicGetCount(void)
{
    return HlpIoApicVisibleCount();
}

/* IoApicIndex and Pin may be NULL when the caller only asks whether a GSI is
 * covered. */
IRQ_STATUS HlIoApicLookupGsi(uint32_t Gsi, uint32_t *IoApicIndex, uint32_t *Pin)
{
    return HlpFindIoApic(Gsi, IoApicIndex, Pin) != NULL ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_GSI;
}

/* ---- Registration ------------------------------------------------------------------ */

static bool HlpGsiRangesOverlap(uint32_t BaseA, uint32_t CountA, uint32_t BaseB, uint32_t CountB)
{
    /* Half-open ranges [Base, Base+Count), computed without overflow. */
    return BaseA < BaseB ? BaseB - BaseA < CountA : BaseA - BaseB < CountB;
}

/* Everything about a new I/O APIC that can be checked before touching it.
 * The id is recorded, not checked: firmware on large machines reports ids
 * wider than the 82093AA's four bits (3.2.1), and this driver never programs
 * IOAPICID. One chip registered twice would own two GSI ranges, though. */
static IRQ_STATUS HlpValidateNewIoApic(uintptr_t Address, uint32_t Count)
{
    if (Address == 0 || Address % HLP_IOAPIC_ADDRESS_ALIGN != 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Count >= HL_MAX_IOAPICS)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    for (uint32_t Slot = 0; Slot < Count; Slot++) {
        if (HlpIoApics[Slot].Address == Address)
            return IRQ_STATUS_INVALID_PARAMETER;
    }
    return IRQ_STATUS_SUCCESS;
}

/* The GSI range [GsiBase, GsiBase+PinCount) must fit in 32 bits and be
 * nobody else's: a GSI names exactly one pin (ACPI 6.x 5.2.13). */
static IRQ_STATUS HlpValidateGsiRange(uint32_t GsiBase, uint32_t PinCount, uint32_t Count)
{
    if (PinCount - 1u > 0xFFFFFFFFu - GsiBase)
        return IRQ_STATUS_INVALID_GSI;
    for (uint32_t Slot = 0; Slot < Count; Slot++) {
        if (HlpGsiRangesOverlap(GsiBase, PinCount, HlpIoApics[Slot].GsiBase, HlpIoApics[Slot].PinCount))
            return IRQ_STATUS_INVALID_GSI;
    }
    return IRQ_STATUS_SUCCESS;
}

/* Pin count from IOAPICVER (3.2.2), or 0 when the value cannot be an I/O
 * APIC's: an address nothing answers at reads all ones (maximum entry 255),
 * and more than 120 entries cannot be selected through an 8-bit IOREGSEL. */
static uint32_t HlpPinCountFromVersion(uint32_t Version)
{
    uint32_t PinCount = ((Version >> IOAPICVER_MAX_ENTRY_SHIFT) & IOAPICVER_MAX_ENTRY_MASK) + 1u;
    return PinCount <= HLP_IOAPIC_MAX_PINS ? PinCount : 0;
}

/* Masks every entry, leaving the rest of each as firmware left it. After
 * reset the entries are masked already (3.2.4), but a boot loader or an
 * earlier kernel may have unmasked some. */
static void HlpMaskAllEntries(HLP_IOAPIC *IoApic)
{
    bool WasEnabled = IrLockAcquireIrqSave(&IoApic->Lock);
    for (uint32_t Pin = 0; Pin < IoApic->PinCount; Pin++) {
        uint32_t Low = HlpIoApicReadRegister(IoApic, HlpEntryLowIndex(Pin));
        HlpIoApicWriteRegister(IoApic, HlpEntryLowIndex(Pin), (Low & IOREDTBL_LOW_WRITABLE) | IOREDTBL_MASK);
    }
    IrLockReleaseIrqRestore(&IoApic->Lock, WasEnabled);
}

static IRQ_STATUS HlpRegisterLocked(uint8_t IoApicId, uintptr_t Address, uint32_t GsiBase)
{
    uint32_t Count = atomic_load_explicit(&HlpIoApicCount, memory_order_relaxed);
    IRQ_STATUS Status = HlpValidateNewIoApic(Address, Count);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;

    /* The slot is not visible yet, so filling it races with no reader. */
    HLP_IOAPIC *IoApic = &HlpIoApics[Count];
    IrLockInitialize(&IoApic->Lock);
    IoApic->Address = Address;
    IoApic->Id = IoApicId;
    IoApic->GsiBase = GsiBase;

    bool WasEnabled = IrLockAcquireIrqSave(&IoApic->Lock);
    uint32_t Version = HlpIoApicReadRegister(IoApic, IOAPICVER);
    IrLockReleaseIrqRestore(&IoApic->Lock, WasEnabled);
    IoApic->PinCount = HlpPinCountFromVersion(Version);
    IoApic->Version = (uint8_t)(Version & IOAPICVER_VERSION_MASK);
    if (IoApic->PinCount == 0)
        return Version == 0xFFFFFFFFu ? IRQ_STATUS_INVALID_PARAMETER : IRQ_STATUS_NOT_SUPPORTED;

    Status = HlpValidateGsiRange(GsiBase, IoApic->PinCount, Count);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;

    HlpMaskAllEntries(IoApic);
    atomic_store_explicit(&HlpIoApicCount, Count + 1u, memory_order_release);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS HlIoApicRegister(uint8_t IoApicId, uintptr_t Address, uint32_t GsiBase)
{
    bool WasEnabled = IrLockAcquireIrqSave(&HlpIoApicRegistrationLock);
    IRQ_STATUS Status = HlpRegisterLocked(IoApicId, Address, GsiBase);
    IrLockReleaseIrqRestore(&HlpIoApicRegistrationLock, WasEnabled);
    return Status;
}

void HlpResetIoApics(void)
{
    atomic_store_explicit(&HlpIoApicCount, 0, memory_order_release);
}

/* ---- Redirection entries ------------------------------------------------------------ */

/* Whether an entry, as its low dword would be written, may be: reserved
 * delivery modes have no defined behaviour, and an unmasked fixed or
 * lowest-priority entry must carry a vector in 10h..FEh (3.2.4; a LAPIC
 * receiving a vector below 16 also reports an illegal vector, SDM 11.5.3). */
static IRQ_STATUS HlpValidateEntryLow(uint32_t Low)
{
    uint32_t Mode = (Low >> IOREDTBL_DELIVERY_MODE_SHIFT) & IOREDTBL_DELIVERY_MODE_MASK;
    uint32_t Vector = Low & IOREDTBL_VECTOR_MASK;
    if (Mode == IOREDTBL_MODE_RESERVED_3 || Mode == IOREDTBL_MODE_RESERVED_6)
        return IRQ_STATUS_INVALID_PARAMETER;
    bool CarriesVector = Mode == HlDeliveryFixed || Mode == HlDeliveryLowestPriority;
    if ((Low & IOREDTBL_MASK) == 0 && CarriesVector &&
        (Vector < IOREDTBL_VECTOR_MIN || Vector > IOREDTBL_VECTOR_MAX))
        return IRQ_STATUS_INVALID_VECTOR;
    return IRQ_STATUS_SUCCESS;
}

bool HlpIoApicIdOfGsi(uint32_t Gsi, uint8_t *IoApicId)
{
    const HLP_IOAPIC *IoApic = HlpFindIoApic(Gsi, NULL, NULL);
    if (IoApic == NULL)
        return false;
    *IoApicId = IoApic->Id;
    return true;
}

/* One redirection entry with its I/O APIC's lock held, interrupts off: how
 * every access to an entry after registration starts (HlpLockEntry) and
 * ends (HlpUnlockEntry), so that IOREGSEL and IOWIN are used in pairs. */
typedef struct _HLP_LOCKED_ENTRY {
    HLP_IOAPIC *IoApic;
    uint32_t Pin;
    bool WasEnabled;
} HLP_LOCKED_ENTRY;

/* False, with nothing locked, when no I/O APIC has Gsi. */
static bool HlpLockEntry(uint32_t Gsi, HLP_LOCKED_ENTRY *Entry)
{
    Entry->IoApic = HlpFindIoApic(Gsi, NULL, &Entry->Pin);
    if (Entry->IoApic == NULL)
        return false;
    Entry->WasEnabled = IrLockAcquireIrqSave(&Entry->IoApic->Lock);
    return true;
}

static void HlpUnlockEntry(const HLP_LOCKED_ENTRY *Entry)
{
    IrLockReleaseIrqRestore(&Entry->IoApic->Lock, Entry->WasEnabled);
}

static uint32_t HlpReadEntryLow(const HLP_LOCKED_ENTRY *Entry)
{
    return HlpIoApicReadRegister(Entry->IoApic, HlpEntryLowIndex(Entry->Pin));
}

static void HlpWriteEntryLow(const HLP_LOCKED_ENTRY *Entry, uint32_t Low)
{
    HlpIoApicWriteRegister(Entry->IoApic, HlpEntryLowIndex(Entry->Pin), Low);
}

IRQ_STATUS HlIoApicReadEntry(uint32_t Gsi, IOAPIC_REDIRECTION_ENTRY *Entry)
{
    if (Entry == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    HLP_LOCKED_ENTRY Locked;
    if (!HlpLockEntry(Gsi, &Locked))
        return IRQ_STATUS_INVALID_GSI;
    Entry->Words.Low = HlpReadEntryLow(&Locked);
    Entry->Words.High = HlpIoApicReadRegister(Locked.IoApic, HlpEntryHighIndex(Locked.Pin));
    HlpUnlockEntry(&Locked);
    return IRQ_STATUS_SUCCESS;
}

/* The high dword goes first: until the low dword is written the entry keeps
 * its old mask, vector and trigger, so an entry that this write unmasks can
 * only ever fire toward the new destination. The read-only Delivery Status
 * and Remote IRR bits are written as zero, which the chip ignores (3.2.4);
 * reserved bits, 55:48 among them, are written as zero. */
IRQ_STATUS HlIoApicWriteEntry(uint32_t Gsi, IOAPIC_REDIRECTION_ENTRY Entry)
{
    uint32_t Low = Entry.Words.Low & IOREDTBL_LOW_WRITABLE;
    uint32_t High = Entry.Words.High & ((Entry.Words.High & IOREDTBL_HIGH_REMAPPABLE_FORMAT) != 0
                                            ? IOREDTBL_HIGH_WRITABLE_REMAPPABLE
                                            : IOREDTBL_HIGH_WRITABLE);
    HLP_LOCKED_ENTRY Locked;
    if (!HlpLockEntry(Gsi, &Locked))
        return IRQ_STATUS_INVALID_GSI;
    IRQ_STATUS Status = HlpValidateEntryLow(Low);
    if (Status == IRQ_STATUS_SUCCESS) {
        HlpIoApicWriteRegister(Locked.IoApic, HlpEntryHighIndex(Locked.Pin), High);
        HlpWriteEntryLow(&Locked, Low);
    }
    HlpUnlockEntry(&Locked);
    return Status;
}

/* Read-modify-write of the low dword only; the destination is untouched.
 * Unmasking an entry that was never given a usable vector is refused. */
IRQ_STATUS HlIoApicSetMask(uint32_t Gsi, bool Masked)
{
    HLP_LOCKED_ENTRY Locked;
    if (!HlpLockEntry(Gsi, &Locked))
        return IRQ_STATUS_INVALID_GSI;
    uint32_t Low = HlpReadEntryLow(&Locked) & IOREDTBL_LOW_WRITABLE;
    Low = Masked ? (Low | IOREDTBL_MASK) : (Low & ~IOREDTBL_MASK);
    IRQ_STATUS Status = HlpValidateEntryLow(Low);
    if (Status == IRQ_STATUS_SUCCESS)
        HlpWriteEntryLow(&Locked, Low);
    HlpUnlockEntry(&Locked);
    return Status;
}

/* Remote IRR (3.2.4, bit 14) of a level entry is cleared only by an EOI
 * naming the entry's vector. An entry that is being given to a new user can
 * still hold it from its previous user, whose last EOI went out after the
 * vector was freed (or never reached this I/O APIC): with a new vector the
 * entry would never match an EOI again and the line would stay silent. The
 * I/O xAPIC (version 0x20+) takes a directed EOI in its EOI register; the
 * 82093AA has none, and switching the entry to edge and back clears Remote
 * IRR there (Remote IRR is "undefined for edge triggered interrupts"). The
 * entry is masked around the toggle so no message leaves meanwhile. */
IRQ_STATUS HlIoApicClearRemoteIrr(uint32_t Gsi)
{
    HLP_LOCKED_ENTRY Locked;
    if (!HlpLockEntry(Gsi, &Locked))
        return IRQ_STATUS_INVALID_GSI;
    uint32_t Low = HlpReadEntryLow(&Locked);
    if ((Low & IOREDTBL_REMOTE_IRR) != 0) {
        if (Locked.IoApic->Version >= IOAPIC_VERSION_WITH_EOI) {
            PlatMmioWrite32(Locked.IoApic->Address + IOEOI, Low & IOREDTBL_VECTOR_MASK);
        } else {
            uint32_t Writable = Low & IOREDTBL_LOW_WRITABLE;
            HlpWriteEntryLow(&Locked, (Writable | IOREDTBL_MASK) & ~IOREDTBL_TRIGGER_LEVEL);
            HlpWriteEntryLow(&Locked, Writable);
        }
    }
    HlpUnlockEntry(&Locked);
    return IRQ_STATUS_SUCCESS;
}
