/* SPDX-License-Identifier: MIT */
/*
 * Sim model of the Intel 82093AA I/O APIC as QEMU 10 presents it
 * (hw/intc/ioapic.c, docs/qemu.md: version 0x20, with the EOI register at
 * +0x40): registers, input pins, Remote IRR and EOI. Behaviour follows the
 * 82093AA datasheet (sections cited below) and, where the datasheet leaves
 * a choice, what QEMU does.
 *
 * Pins carry the *logical* line state (asserted or not): the polarity bit is
 * stored and read back but, as in QEMU, never inverts anything.
 *
 * Delivery (82093AA 3.2.4, "Delivery Status", "Remote IRR", "Interrupt Mask"):
 *  - edge:  a deasserted -> asserted transition on an unmasked entry sends
 *           one message; one that arrives while masked is dropped.
 *  - level: the entry sends whenever the pin is asserted, the entry unmasked
 *           and Remote IRR clear; sending sets Remote IRR, and only an EOI for
 *           the entry's vector (LAPIC broadcast or the EOI register) clears
 *           it, so a line held high is delivered once per EOI. An asserted
 *           pin on a masked entry is therefore "latched": unmasking sends.
 *  - messages go out immediately (SimBusDeliver), so Delivery Status reads 0.
 *
 * Register accesses (82093AA 3.0-3.2). The chip defines 32-bit accesses to
 * IOREGSEL (+0x00), IOWIN (+0x10) and, on version 0x20, the write-only EOI
 * register (+0x40); a bus cannot refuse an access, so where the result is
 * left undefined, or differs between implementations, the model faults
 * (SimFault) and drops the access, and where the datasheet defines it the
 * model does what it says:
 *  - fault: an access that is not 32 bits wide (3.0; QEMU ignores narrow
 *    IOWIN accesses but takes narrow IOREGSEL writes); an offset other than
 *    the three registers (QEMU mirrors them every 256 bytes, the 82093AA
 *    decodes only some address bits); a read of the write-only EOI
 *    register; an EOI write with bits 31:8 set (QEMU compares all 32 bits
 *    with the vector and so clears nothing, a chip that looks at 7:0 would);
 *    IOWIN while IOREGSEL selects no register (0x03-0x0F, or past the last
 *    redirection entry); a write to the read-only IOAPICVER or IOAPICARB (no
 *    bit of either is writable, so the write can only mean a wrong IOREGSEL);
 *  - ignored, as the chip and QEMU both do: bits 31:8 of IOREGSEL and the
 *    reserved bits of IOAPICID (both keep only the defined field); Delivery
 *    Status (12) and Remote IRR (14) in a redirection entry write, read-only
 *    status that a read-modify-write carries back legitimately (3.2.4); the
 *    reserved redirection entry bits 31:17 and 55:32, which read back 0 here
 *    (QEMU stores and returns them, and without interrupt remapping acts on
 *    none: no driver may rely on reading them back, and none can use them
 *    for a destination above 8 bits). An I/O xAPIC behind a remapping unit
 *    (SIM_IOAPIC_CONFIG.BehindIommu) keeps 63:48, the remappable format's
 *    index and format bit (VT-d 5.1.5.1), and sends through the unit.
 *
 * Locking: one mutex per I/O APIC covers its IOREGSEL, entries and pins.
 * SimBusDeliver only sets LAPIC IRR bits atomically and never calls back into
 * this model, so messages are sent with the mutex held: a message leaves in
 * the order the state changes that caused it happened. No path holds two
 * I/O APIC mutexes at once. A fault is raised after the mutex is released
 * (its handler may longjmp).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim.h"
#include "sim_internal.h"

/* ---- Register map (82093AA 3.1 and 3.2; EOI register of the version 0x20 I/O xAPIC) */

/* Memory-mapped registers, offsets from the base address. */
#define IOREGSEL 0x00u /* 3.1.1: bits 7:0 select the register IOWIN reaches */
#define IOWIN 0x10u    /* 3.1.2: the selected register's data */
#define IOEOI 0x40u    /* write-only: bits 7:0 a vector whose level entries get an EOI */
/* The MMIO window claimed per I/O APIC (one 4 KiB page, as QEMU maps it). */
#define SIMP_IOAPIC_WINDOW 0x1000u

/* Indirect registers, selected through IOREGSEL. */
#define IOAPICID 0x00u  /* 3.2.1: bits 27:24 the id, read/write; the rest reserved */
#define IOAPICVER 0x01u /* 3.2.2: read-only; bits 7:0 version, 23:16 max redirection entry */
#define IOAPICARB 0x02u /* 3.2.3: read-only; bits 27:24 the arbitration id */
#define IOREDTBL 0x10u  /* 3.2.4: entry n at 0x10+2n (bits 31:0), 0x11+2n (bits 63:32) */

#define IOREGSEL_MASK 0xFFu
#define IOEOI_VECTOR_MASK 0xFFu
#define IOAPIC_ACCESS_SIZE 4u /* 3.0: 32-bit reads and writes */
#define IOAPICID_SHIFT 24u
#define IOAPICID_MASK 0xFu
#define IOAPICVER_VERSION 0x20u /* QEMU's default (the 82093AA itself reads 0x11) */
#define IOAPICVER_MAX_ENTRY_SHIFT 16u

/* Redirection entry bits (3.2.4). */
#define IOREDTBL_VECTOR_MASK 0xFFull
#define IOREDTBL_DELIVERY_MODE_SHIFT 8u
#define IOREDTBL_DELIVERY_MODE_MASK 0x7u
#define IOREDTBL_DESTINATION_MODE (1ull << 11)
#define IOREDTBL_REMOTE_IRR (1ull << 14)
#define IOREDTBL_TRIGGER_LEVEL (1ull << 15)
#define IOREDTBL_MASK (1ull << 16)
#define IOREDTBL_DESTINATION_SHIFT 56u
/* Writable bits of the low dword: 11:0, 13, 15, 16. Delivery Status (12) and
 * Remote IRR (14) are read-only; 31:17 are reserved. */
#define IOREDTBL_LOW_WRITABLE 0x0001AFFFull
/* Writable bits of the high dword: the destination, 63:56; 55:32 reserved.
 * Behind a remapping unit 63:48 (the index and format bit, VT-d 5.1.5.1). */
#define IOREDTBL_HIGH_WRITABLE 0xFF000000ull
#define IOREDTBL_HIGH_WRITABLE_REMAPPABLE 0xFFFF0000ull
/* "Mask bit set" is the one defined reset value of an entry (3.2.4). */
#define IOREDTBL_RESET_VALUE IOREDTBL_MASK

/* Delivery modes 011 and 110 are reserved (3.2.4): nothing is sent. */
#define SIMP_MODE_RESERVED_3 3u
#define SIMP_MODE_RESERVED_6 6u

/* IOREGSEL is 8 bits, so entries past 119 cannot be selected (3.1.1). */
#define SIMP_IOAPIC_MAX_PINS 120u

/* The default when the configuration names no I/O APIC: QEMU's one. */
#define SIMP_DEFAULT_ADDRESS 0xFEC00000u
#define SIMP_DEFAULT_PINS 24u

typedef struct _SIMP_IOAPIC {
    pthread_mutex_t Lock;
    uintptr_t Address;
    uint32_t GsiBase;
    uint32_t PinCount;
    uint8_t Id;                 /* IOAPICID[27:24]; IOAPICARB follows it (3.2.3) */
    uint8_t RegisterSelect;     /* IOREGSEL[7:0] */
    uint64_t Entries[SIMP_IOAPIC_MAX_PINS];
    bool PinAsserted[SIMP_IOAPIC_MAX_PINS];
    uint64_t HighWritable;      /* IOREDTBL_HIGH_WRITABLE(_REMAPPABLE) */
    bool BehindIommu;           /* SIM_IOAPIC_CONFIG */
    uint32_t IommuUnit;
    uint16_t SourceId;
} SIMP_IOAPIC;

static SIMP_IOAPIC SimpIoApics[SIM_MAX_IOAPICS];
static uint32_t SimpIoApicCount;

/* ---- Sending ------------------------------------------------------------------------ */

static uint32_t SimpEntryDeliveryMode(uint64_t Entry)
{
    return (uint32_t)(Entry >> IOREDTBL_DELIVERY_MODE_SHIFT) & IOREDTBL_DELIVERY_MODE_MASK;
}

static bool SimpEntryIsLevel(uint64_t Entry)
{
    return (Entry & IOREDTBL_TRIGGER_LEVEL) != 0;
}

static bool SimpEntryIsMasked(uint64_t Entry)
{
    return (Entry & IOREDTBL_MASK) != 0;
}

/* Behind a remapping unit the entry is a request to the unit, which sends
 * what its IRTE says (or the entry's own fields, for a compatibility-format
 * entry it lets through), or nothing (a fault it records). */
static void SimpSendThroughIommu(const SIMP_IOAPIC *IoApic, uint64_t Entry)
{
    SIM_IOMMU_INTERRUPT Interrupt;
    if (SimIommuRemapIoApicEntry(IoApic->IommuUnit, Entry, IoApic->SourceId, &Interrupt) != SimIommuBlocked)
        SimBusDeliverFromIommu(&Interrupt);
}

/* The message an entry sends (3.2.4: destination field and mode, delivery
 * mode, vector, trigger mode). */
static void SimpSendMessage(const SIMP_IOAPIC *IoApic, uint64_t Entry)
{
    if (IoApic->BehindIommu) {
        SimpSendThroughIommu(IoApic, Entry);
        return;
    }
    uint32_t Mode = SimpEntryDeliveryMode(Entry);
    if (Mode == SIMP_MODE_RESERVED_3 || Mode == SIMP_MODE_RESERVED_6)
        return;
    SIM_APIC_MESSAGE Message = {
        .Destination = (uint32_t)(Entry >> IOREDTBL_DESTINATION_SHIFT),
        .Logical = (Entry & IOREDTBL_DESTINATION_MODE) != 0,
        .DeliveryMode = (uint8_t)Mode,
        .Vector = (uint8_t)(Entry & IOREDTBL_VECTOR_MASK),
        .Level = SimpEntryIsLevel(Entry),
        .Shorthand = 0,
        .SourceCpu = SIM_NO_CPU,
    };
    (void)SimBusDeliver(&Message);
}

/* A level entry sends when its pin is asserted, it is unmasked and Remote
 * IRR is clear; the send sets Remote IRR (3.2.4). Remote IRR is set whether
 * or not some LAPIC took the message, as QEMU does: the I/O APIC cannot know. */
static void SimpServiceLevelPin(SIMP_IOAPIC *IoApic, uint32_t Pin)
{
    uint64_t *Entry = &IoApic->Entries[Pin];
    if (!SimpEntryIsLevel(*Entry) || !IoApic->PinAsserted[Pin] || SimpEntryIsMasked(*Entry) ||
        (*Entry & IOREDTBL_REMOTE_IRR) != 0)
        return;
    *Entry |= IOREDTBL_REMOTE_IRR;
    SimpSendMessage(IoApic, *Entry);
}

/* ---- Pins ------------------------------------------------------------------------------ */

static void SimpSetPin(SIMP_IOAPIC *IoApic, uint32_t Pin, bool Asserted)
{
    bool Rising = Asserted && !IoApic->PinAsserted[Pin];
    IoApic->PinAsserted[Pin] = Asserted;
    uint64_t Entry = IoApic->Entries[Pin];
    if (SimpEntryIsLevel(Entry)) {
        SimpServiceLevelPin(IoApic, Pin);
        return;
    }
    /* Edge: "Edge-sensitive interrupts signaled on a masked interrupt pin
     * are ignored (i.e., not delivered or held pending)" (3.2.4, bit 16). */
    if (Rising && !SimpEntryIsMasked(Entry))
        SimpSendMessage(IoApic, Entry);
}

static SIMP_IOAPIC *SimpFindByGsi(uint32_t Gsi, uint32_t *Pin)
{
    for (uint32_t Index = 0; Index < SimpIoApicCount; Index++) {
        SIMP_IOAPIC *IoApic = &SimpIoApics[Index];
        if (Gsi >= IoApic->GsiBase && Gsi - IoApic->GsiBase < IoApic->PinCount) {
            *Pin = Gsi - IoApic->GsiBase;
            return IoApic;
        }
    }
    return NULL;
}

/* A GSI that no I/O APIC has is a wire to nowhere: driving it does nothing. */
void SimSetGsi(uint32_t Gsi, bool Asserted)
{
    uint32_t Pin;
    SIMP_IOAPIC *IoApic = SimpFindByGsi(Gsi, &Pin);
    if (IoApic == NULL)
        return;
    pthread_mutex_lock(&IoApic->Lock);
    SimpSetPin(IoApic, Pin, Asserted);
    pthread_mutex_unlock(&IoApic->Lock);
}

void SimPulseGsi(uint32_t Gsi)
{
    SimSetGsi(Gsi, true);
    SimSetGsi(Gsi, false);
}

/* The entry as stored (Delivery Status always 0); 0 for a GSI no I/O APIC has. */
uint64_t SimIoApicPeekEntry(uint32_t Gsi)
{
    uint32_t Pin;
    SIMP_IOAPIC *IoApic = SimpFindByGsi(Gsi, &Pin);
    if (IoApic == NULL)
        return 0;
    pthread_mutex_lock(&IoApic->Lock);
    uint64_t Entry = IoApic->Entries[Pin];
    pthread_mutex_unlock(&IoApic->Lock);
    return Entry;
}

/* ---- EOI ---------------------------------------------------------------------------------- */

/* Clears Remote IRR of the level entries with Vector; a pin still asserted
 * sends again (the device has not been serviced yet, or has interrupted
 * again). */
static void SimpEoi(SIMP_IOAPIC *IoApic, uint8_t Vector)
{
    for (uint32_t Pin = 0; Pin < IoApic->PinCount; Pin++) {
        uint64_t *Entry = &IoApic->Entries[Pin];
        if (!SimpEntryIsLevel(*Entry) || (*Entry & IOREDTBL_VECTOR_MASK) != Vector ||
            (*Entry & IOREDTBL_REMOTE_IRR) == 0)
            continue;
        *Entry &= ~IOREDTBL_REMOTE_IRR;
        SimpServiceLevelPin(IoApic, Pin);
    }
}

/* The LAPIC's EOI broadcast reaches every I/O APIC (SDM vol. 3A 11.8.5). */
void SimIoApicModelEoi(uint8_t Vector)
{
    for (uint32_t Index = 0; Index < SimpIoApicCount; Index++) {
        SIMP_IOAPIC *IoApic = &SimpIoApics[Index];
        pthread_mutex_lock(&IoApic->Lock);
        SimpEoi(IoApic, Vector);
        pthread_mutex_unlock(&IoApic->Lock);
    }
}

/* ---- Indirect registers (caller holds the lock) ------------------------------------------- */

static bool SimpSelectsEntry(const SIMP_IOAPIC *IoApic, uint32_t Select, uint32_t *Pin)
{
    if (Select < IOREDTBL || (Select - IOREDTBL) / 2u >= IoApic->PinCount)
        return false;
    *Pin = (Select - IOREDTBL) / 2u;
    return true;
}

/* The register IOREGSEL selects, which the caller has checked exists. */
static uint32_t SimpReadRegister(const SIMP_IOAPIC *IoApic)
{
    uint32_t Select = IoApic->RegisterSelect;
    uint32_t Pin = 0;
    if (Select == IOAPICID || Select == IOAPICARB)
        return (uint32_t)IoApic->Id << IOAPICID_SHIFT;
    if (Select == IOAPICVER)
        return IOAPICVER_VERSION | (IoApic->PinCount - 1u) << IOAPICVER_MAX_ENTRY_SHIFT;
    (void)SimpSelectsEntry(IoApic, Select, &Pin);
    uint64_t Entry = IoApic->Entries[Pin];
    return (Select & 1u) ? (uint32_t)(Entry >> 32) : (uint32_t)Entry;
}

static void SimpWriteEntryLow(SIMP_IOAPIC *IoApic, uint32_t Pin, uint32_t Value)
{
    uint64_t *Entry = &IoApic->Entries[Pin];
    uint64_t Kept = *Entry & (IoApic->HighWritable << 32 | IOREDTBL_REMOTE_IRR);
    *Entry = Kept | (Value & IOREDTBL_LOW_WRITABLE);
    /* Remote IRR is undefined for edge entries (3.2.4, bit 14); clearing it
     * when an entry becomes edge-triggered is what QEMU does, and is how a
     * kernel recovers a line whose EOI was lost. */
    if (!SimpEntryIsLevel(*Entry))
        *Entry &= ~IOREDTBL_REMOTE_IRR;
    /* A level entry unmasked (or re-armed) while its pin is asserted sends. */
    SimpServiceLevelPin(IoApic, Pin);
}

static void SimpWriteEntryHigh(SIMP_IOAPIC *IoApic, uint32_t Pin, uint32_t Value)
{
    uint64_t *Entry = &IoApic->Entries[Pin];
    *Entry = (*Entry & 0xFFFFFFFFull) | ((uint64_t)Value & IoApic->HighWritable) << 32;
}

/* The selected register, which the caller has checked is writable: the
 * id (IOAPICARB follows it, 3.2.3, which this model gets by reading both
 * from Id) or a redirection entry half. */
static void SimpWriteRegister(SIMP_IOAPIC *IoApic, uint32_t Value)
{
    uint32_t Select = IoApic->RegisterSelect;
    uint32_t Pin = 0;
    if (Select == IOAPICID) {
        IoApic->Id = (uint8_t)((Value >> IOAPICID_SHIFT) & IOAPICID_MASK);
        return;
    }
    (void)SimpSelectsEntry(IoApic, Select, &Pin);
    if (Select & 1u)
        SimpWriteEntryHigh(IoApic, Pin, Value);
    else
        SimpWriteEntryLow(IoApic, Pin, Value);
}

/* ---- Refusals (see the top of this file) ------------------------------------------------- */

/* An IOWIN access: to a register that exists, and no write to one without
 * a writable bit. */
static const char *SimpWindowRefusal(const SIMP_IOAPIC *IoApic, bool Write)
{
    uint32_t Select = IoApic->RegisterSelect;
    uint32_t Pin;
    if (Select == IOAPICID)
        return NULL;
    if (Select == IOAPICVER || Select == IOAPICARB)
        return Write ? "IOAPICVER and IOAPICARB are read-only (3.2.2, 3.2.3): a write means a wrong IOREGSEL" : NULL;
    if (!SimpSelectsEntry(IoApic, Select, &Pin))
        return "IOREGSEL selects no register (3.1.1, 3.2: 0x00-0x02 and the entries 0x10 + 2n, 0x11 + 2n)";
    return NULL;
}

/* Why the model refuses this access, or NULL. */
static const char *SimpAccessRefusal(const SIMP_IOAPIC *IoApic, uintptr_t Offset, uint32_t Size, bool Write,
                                     uint32_t Value)
{
    if (Size != IOAPIC_ACCESS_SIZE)
        return "not a 32-bit access (3.0: registers are accessed with 32-bit reads and writes)";
    switch (Offset) {
    case IOREGSEL:
        return NULL;
    case IOWIN:
        return SimpWindowRefusal(IoApic, Write);
    case IOEOI:
        if (!Write)
            return "the EOI register is write-only";
        return (Value & ~IOEOI_VECTOR_MASK) != 0 ? "EOI register bits 31:8 are reserved" : NULL;
    default:
        return "no register at this offset (IOREGSEL +0x00, IOWIN +0x10, EOI +0x40)";
    }
}

/* ---- MMIO --------------------------------------------------------------------------------- */

static SIMP_IOAPIC *SimpFindByAddress(uintptr_t Address)
{
    for (uint32_t Index = 0; Index < SimpIoApicCount; Index++) {
        SIMP_IOAPIC *IoApic = &SimpIoApics[Index];
        if (Address >= IoApic->Address && Address - IoApic->Address < SIMP_IOAPIC_WINDOW)
            return &SimpIoApics[Index];
    }
    return NULL;
}

/* A 32-bit access the refusal checks let through. */
static void SimpMmioAccess(SIMP_IOAPIC *IoApic, uintptr_t Offset, bool Write, uint32_t *Value)
{
    if (Offset == IOREGSEL) {
        if (Write)
            IoApic->RegisterSelect = (uint8_t)(*Value & IOREGSEL_MASK);
        else
            *Value = IoApic->RegisterSelect;
    } else if (Offset == IOWIN) {
        if (Write)
            SimpWriteRegister(IoApic, *Value);
        else
            *Value = SimpReadRegister(IoApic);
    } else {
        /* The EOI register acts on this I/O APIC only (the directed EOI of
         * the I/O xAPIC; QEMU, with a single I/O APIC, broadcasts it). */
        SimpEoi(IoApic, (uint8_t)*Value);
    }
}

bool SimIoApicModelAccess(const char *Hook, uintptr_t Address, uint32_t Size, bool Write, uint64_t *Value)
{
    SIMP_IOAPIC *IoApic = SimpFindByAddress(Address);
    if (IoApic == NULL)
        return false;
    uint32_t Data = Write ? (uint32_t)*Value : 0u;
    pthread_mutex_lock(&IoApic->Lock);
    uintptr_t Offset = Address - IoApic->Address;
    const char *Refusal = SimpAccessRefusal(IoApic, Offset, Size, Write, Data);
    uint8_t Select = IoApic->RegisterSelect;
    uint8_t Id = IoApic->Id;
    if (Refusal == NULL)
        SimpMmioAccess(IoApic, Offset, Write, &Data);
    pthread_mutex_unlock(&IoApic->Lock);
    if (!Write)
        *Value = Refusal == NULL ? Data : 0u;
    if (Refusal != NULL)
        SimFault(Hook, Address, "I/O APIC (id %u) %s at +0x%" PRIxPTR " (IOREGSEL 0x%02X): %s", Id,
                 Write ? "write" : "read", Offset, Select, Refusal);
    return true;
}

/* ---- Lifetime ------------------------------------------------------------------------------- */

static bool SimpRangesOverlap(uint64_t BaseA, uint64_t SizeA, uint64_t BaseB, uint64_t SizeB)
{
    return BaseA < BaseB + SizeB && BaseB < BaseA + SizeA;
}

/* A configuration is refused when an I/O APIC could not exist (pin count
 * outside 1..120, a 4-bit id overflowed, no address) or when two would claim
 * the same MMIO window or the same GSI. */
static bool SimpConfigIsValid(const SIM_IOAPIC_CONFIG *Configs, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++) {
        const SIM_IOAPIC_CONFIG *Config = &Configs[Index];
        if (Config->PinCount == 0 || Config->PinCount > SIMP_IOAPIC_MAX_PINS || Config->Id > IOAPICID_MASK ||
            Config->Address == 0 || Config->Address % 0x10u != 0 ||
            (uint64_t)Config->GsiBase + Config->PinCount > 0x100000000ull ||
            (Config->BehindIommu && Config->IommuUnit >= SIM_MAX_IOMMUS))
            return false;
        for (uint32_t Other = 0; Other < Index; Other++) {
            if (SimpRangesOverlap(Config->Address, SIMP_IOAPIC_WINDOW, Configs[Other].Address, SIMP_IOAPIC_WINDOW) ||
                SimpRangesOverlap(Config->GsiBase, Config->PinCount, Configs[Other].GsiBase, Configs[Other].PinCount))
                return false;
        }
    }
    return true;
}

/* Power-on state: every entry masked (3.2.4), every pin deasserted,
 * IOREGSEL 0. The id is the one firmware would have programmed. */
static void SimpInitializeIoApic(SIMP_IOAPIC *IoApic, const SIM_IOAPIC_CONFIG *Config)
{
    pthread_mutex_init(&IoApic->Lock, NULL);
    IoApic->Address = Config->Address;
    IoApic->GsiBase = Config->GsiBase;
    IoApic->PinCount = Config->PinCount;
    IoApic->Id = Config->Id;
    IoApic->RegisterSelect = 0;
    IoApic->BehindIommu = Config->BehindIommu;
    IoApic->IommuUnit = Config->IommuUnit;
    IoApic->SourceId = Config->SourceId;
    IoApic->HighWritable = Config->BehindIommu ? IOREDTBL_HIGH_WRITABLE_REMAPPABLE : IOREDTBL_HIGH_WRITABLE;
    for (uint32_t Pin = 0; Pin < SIMP_IOAPIC_MAX_PINS; Pin++) {
        IoApic->Entries[Pin] = IOREDTBL_RESET_VALUE;
        IoApic->PinAsserted[Pin] = false;
    }
}

int SimIoApicModelCreate(const SIM_IOAPIC_CONFIG *Configs, uint32_t Count)
{
    static const SIM_IOAPIC_CONFIG Default = {
        .Id = 0, .Address = SIMP_DEFAULT_ADDRESS, .GsiBase = 0, .PinCount = SIMP_DEFAULT_PINS};
    if (Count == 0) {
        Configs = &Default;
        Count = 1;
    }
    if (Configs == NULL || Count > SIM_MAX_IOAPICS || !SimpConfigIsValid(Configs, Count))
        return -1;
    SimIoApicModelDestroy();
    for (uint32_t Index = 0; Index < Count; Index++)
        SimpInitializeIoApic(&SimpIoApics[Index], &Configs[Index]);
    SimpIoApicCount = Count;
    return 0;
}

void SimIoApicModelDestroy(void)
{
    for (uint32_t Index = 0; Index < SimpIoApicCount; Index++)
        pthread_mutex_destroy(&SimpIoApics[Index].Lock);
    SimpIoApicCount = 0;
}
