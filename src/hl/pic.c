/* SPDX-License-Identifier: MIT */
/*
 * The PIC service: GSI routing on the I/O APICs (an allocate-system-
 * interrupt call that takes a target instead of "this CPU").
 *
 * Two jobs:
 *  1. Resolve a device's line to a GSI with its trigger mode and polarity.
 *     ISA IRQs are identity-mapped onto GSIs 0-15 except where the MADT has
 *     an interrupt source override (ACPI 6.x 5.2.12.5), whose MPS INTI flags
 *     give polarity and trigger; "conforms to the bus" means ISA's edge,
 *     active high. PCI INTx lines are level, active low (PCI 3.0 2.2.6).
 *  2. Program the line's redirection entry (82093AA 3.2.4) for a vector and
 *     a target, mask it when freed, and move it while it is live.
 * Register access is the I/O APIC driver's (src/hl/x86/ioapic.c), which
 * serialises IOREGSEL/IOWIN pairs and writes an entry's high word first.
 *
 * The override table is written at boot (HlPicRegisterOverride) and read by
 * every resolve. Each ISA IRQ has one slot, a single 64-bit word (present
 * bit, flags, GSI) stored and loaded atomically: a reader sees the old or
 * the new override of an IRQ, never half of each, and the last registration
 * for an IRQ wins.
 *
 * Callers serialise changes to one GSI (the I/O manager does it under its
 * lock): allocate/retarget/free of the same GSI must not run concurrently.
 *
 * REMAPPED LINES. A line whose I/O APIC sends through an enabled remapping
 * unit (HlRemapAssignIoApic) is programmed in the remappable format (VT-d
 * 5.1.5.1): the redirection entry names the line's table entry, which holds
 * the destination (any APIC id, the 8-bit limit gone) and the vector. A
 * move rewrites the table entry alone: one 64-bit store and an
 * invalidation (src/hl/x86/remap.c), the redirection entry untouched unless
 * the vector changes, because a level line's EOI is matched against the
 * entry's vector field, which must stay the table entry's.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>

#include "hlp.h"

/* ISA has IRQs 0-15, so there are at most 16 overrides. */
#define HLP_ISA_IRQ_COUNT 16u

/* MPS INTI flags (ACPI 6.x 5.2.12.5, "MPS INTI Flags" table). */
#define MPS_INTI_POLARITY_MASK 0x3u
#define MPS_INTI_POLARITY_CONFORMS 0x0u
#define MPS_INTI_POLARITY_HIGH 0x1u
#define MPS_INTI_POLARITY_LOW 0x3u
#define MPS_INTI_TRIGGER_SHIFT 2u
#define MPS_INTI_TRIGGER_MASK 0x3u
#define MPS_INTI_TRIGGER_CONFORMS 0x0u
#define MPS_INTI_TRIGGER_EDGE 0x1u
#define MPS_INTI_TRIGGER_LEVEL 0x3u
/* Encoding 10b of either field is reserved. */
#define MPS_INTI_RESERVED 0x2u

/* An override slot: bit 63 present, bits 47:32 the flags, 31:0 the GSI. */
#define HLP_OVERRIDE_PRESENT (1ull << 63)
#define HLP_OVERRIDE_FLAGS_SHIFT 32u
#define HLP_OVERRIDE_FLAGS_MASK 0xFFFFull
#define HLP_OVERRIDE_GSI_MASK 0xFFFFFFFFull

/* 82093AA 3.2.4, bits 7:0: "Vector values range from 10h to FEh". */
#define HLP_VECTOR_MIN 0x10u
#define HLP_VECTOR_MAX 0xFEu

static _Atomic uint64_t HlpOverrides[HLP_ISA_IRQ_COUNT];

/* ---- Overrides ------------------------------------------------------------------- */

static bool HlpInterruptFlagsAreValid(uint16_t Flags)
{
    /* Bits 15:4 are reserved; firmware that sets them is tolerated, since
     * refusing would leave the line (often the timer) unusable. */
    return (Flags & MPS_INTI_POLARITY_MASK) != MPS_INTI_RESERVED &&
           ((Flags >> MPS_INTI_TRIGGER_SHIFT) & MPS_INTI_TRIGGER_MASK) != MPS_INTI_RESERVED;
}

/* The GSI must be one a registered I/O APIC has: an override to nowhere would
 * take the ISA IRQ off its identity-mapped pin and make it unroutable. So I/O
 * APICs are registered first (the MADT order kernel/main.c and
 * platform/sim/simboot.c follow). */
IRQ_STATUS HlPicRegisterOverride(uint8_t IsaIrq, uint32_t Gsi, uint16_t Flags)
{
    if (IsaIrq >= HLP_ISA_IRQ_COUNT)
        return IRQ_STATUS_INVALID_GSI;
    if (!HlpInterruptFlagsAreValid(Flags))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (HlIoApicLookupGsi(Gsi, NULL, NULL) != IRQ_STATUS_SUCCESS)
        return IRQ_STATUS_INVALID_GSI;
    uint64_t Slot = HLP_OVERRIDE_PRESENT | (uint64_t)Flags << HLP_OVERRIDE_FLAGS_SHIFT | Gsi;
    atomic_store_explicit(&HlpOverrides[IsaIrq], Slot, memory_order_release);
    return IRQ_STATUS_SUCCESS;
}

void HlpResetOverrides(void)
{
    for (uint32_t Irq = 0; Irq < HLP_ISA_IRQ_COUNT; Irq++)
        atomic_store_explicit(&HlpOverrides[Irq], 0, memory_order_release);
}

static bool HlpFindOverrideOfIrq(uint32_t Irq, uint32_t *Gsi, uint16_t *Flags)
{
    uint64_t Slot = atomic_load_explicit(&HlpOverrides[Irq], memory_order_acquire);
    if ((Slot & HLP_OVERRIDE_PRESENT) == 0)
        return false;
    *Gsi = (uint32_t)(Slot & HLP_OVERRIDE_GSI_MASK);
    *Flags = (uint16_t)((Slot >> HLP_OVERRIDE_FLAGS_SHIFT) & HLP_OVERRIDE_FLAGS_MASK);
    return true;
}

/* The override (lowest ISA IRQ first) whose target is Gsi. */
static bool HlpFindOverrideOfGsi(uint32_t Gsi, uint16_t *Flags)
{
    for (uint32_t Irq = 0; Irq < HLP_ISA_IRQ_COUNT; Irq++) {
        uint32_t Target;
        if (HlpFindOverrideOfIrq(Irq, &Target, Flags) && Target == Gsi)
            return true;
    }
    return false;
}

/* ---- Line resolution --------------------------------------------------------------- */

/* ISA lines: edge, active high, where the flags say "conforms to the bus". */
static void HlpApplyIsaFlags(uint16_t Flags, HL_RESOLVED_LINE *Line)
{
    uint32_t Polarity = Flags & MPS_INTI_POLARITY_MASK;
    uint32_t Trigger = (Flags >> MPS_INTI_TRIGGER_SHIFT) & MPS_INTI_TRIGGER_MASK;
    Line->Polarity = Polarity == MPS_INTI_POLARITY_LOW ? HlPolarityActiveLow : HlPolarityActiveHigh;
    Line->Trigger = Trigger == MPS_INTI_TRIGGER_LEVEL ? HlTriggerLevel : HlTriggerEdge;
}

static void HlpApplyPciDefaults(HL_RESOLVED_LINE *Line)
{
    Line->Trigger = HlTriggerLevel;
    Line->Polarity = HlPolarityActiveLow;
}

static IRQ_STATUS HlpResolveIsa(uint32_t Irq, HL_RESOLVED_LINE *Line)
{
    if (Irq >= HLP_ISA_IRQ_COUNT)
        return IRQ_STATUS_INVALID_GSI;
    uint32_t Gsi = Irq;
    uint16_t Flags = 0;
    (void)HlpFindOverrideOfIrq(Irq, &Gsi, &Flags);
    Line->Gsi = Gsi;
    HlpApplyIsaFlags(Flags, Line);
    return IRQ_STATUS_SUCCESS;
}

/* A bare GSI: if an ISA override lands on it, the line *is* that ISA IRQ
 * and its flags describe it (QEMU's GSI 9 is the level-triggered ACPI SCI);
 * otherwise GSIs 0-15 are the identity-mapped ISA inputs and the rest PCI. */
static void HlpResolveGsi(uint32_t Gsi, HL_RESOLVED_LINE *Line)
{
    uint16_t Flags;
    Line->Gsi = Gsi;
    if (HlpFindOverrideOfGsi(Gsi, &Flags))
        HlpApplyIsaFlags(Flags, Line);
    else if (Gsi < HLP_ISA_IRQ_COUNT)
        HlpApplyIsaFlags(0, Line);
    else
        HlpApplyPciDefaults(Line);
}

static bool HlpLineOptionsAreValid(const HL_INTERRUPT_LINE *Line)
{
    bool TriggerValid = Line->Trigger == HlLineDefault || Line->Trigger == HlLineEdge || Line->Trigger == HlLineLevel;
    bool PolarityValid = Line->Polarity == HlLineDefault || Line->Polarity == HlLineActiveHigh ||
                         Line->Polarity == HlLineActiveLow;
    return TriggerValid && PolarityValid;
}

/* What the caller states explicitly (a device driver that knows its
 * hardware) beats the bus default and the firmware's flags. */
static void HlpApplyLineOptions(const HL_INTERRUPT_LINE *Line, HL_RESOLVED_LINE *Resolved)
{
    if (Line->Trigger == HlLineEdge)
        Resolved->Trigger = HlTriggerEdge;
    else if (Line->Trigger == HlLineLevel)
        Resolved->Trigger = HlTriggerLevel;
    if (Line->Polarity == HlLineActiveHigh)
        Resolved->Polarity = HlPolarityActiveHigh;
    else if (Line->Polarity == HlLineActiveLow)
        Resolved->Polarity = HlPolarityActiveLow;
}

IRQ_STATUS HlPicResolveLine(const HL_INTERRUPT_LINE *Line, HL_RESOLVED_LINE *Resolved)
{
    if (Line == NULL || Resolved == NULL || !HlpLineOptionsAreValid(Line))
        return IRQ_STATUS_INVALID_PARAMETER;
    HL_RESOLVED_LINE Result;
    switch (Line->Bus) {
    case HlBusIsa: {
        IRQ_STATUS Status = HlpResolveIsa(Line->Number, &Result);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
        break;
    }
    case HlBusPci:
        Result.Gsi = Line->Number;
        HlpApplyPciDefaults(&Result);
        break;
    case HlBusGsi:
        HlpResolveGsi(Line->Number, &Result);
        break;
    default:
        return IRQ_STATUS_INVALID_PARAMETER;
    }
    HlpApplyLineOptions(Line, &Result);
    if (HlIoApicLookupGsi(Result.Gsi, NULL, NULL) != IRQ_STATUS_SUCCESS)
        return IRQ_STATUS_INVALID_GSI;
    *Resolved = Result;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Redirection entries ------------------------------------------------------------ */

/* Where a line is to go, and where it is now, as the programming calls
 * need it. */
typedef struct _HLP_LINE_ROUTING {
    HL_DESTINATION Destination;
    bool Remapped;     /* its I/O APIC sends through an enabled unit */
    uint32_t Unit;     /* Remapped: which, */
    uint16_t SourceId; /* and as which requester */
    IOAPIC_REDIRECTION_ENTRY Current; /* the line's entry as it is */
} HLP_LINE_ROUTING;

/* The checks every programming call makes, in the order of the status list:
 * the GSI, the vector, then the target, which must also fit the entry's
 * 8-bit destination field (bits 63:56; HlpDeviceDestinationFits says which
 * destinations do). */
static IRQ_STATUS HlpCheckRouting(uint32_t Gsi, uint8_t Vector, const HL_INTERRUPT_TARGET *Target,
                                  HLP_LINE_ROUTING *Routing)
{
    Routing->Remapped = HlpRemapCoversGsi(Gsi, &Routing->Unit, &Routing->SourceId);
    HL_DESTINATION *Destination = &Routing->Destination;
    if (Target == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (HlIoApicLookupGsi(Gsi, NULL, NULL) != IRQ_STATUS_SUCCESS)
        return IRQ_STATUS_INVALID_GSI;
    if (Vector < HLP_VECTOR_MIN || Vector > HLP_VECTOR_MAX)
        return IRQ_STATUS_INVALID_VECTOR;
    IRQ_STATUS Status = HlResolveTarget(Target, Destination);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* A remapped line's destination lives in its table entry: 32 bits. */
    return Routing->Remapped || HlpDeviceDestinationFits(Destination) ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED;
}

/* The checks, then the line's current entry. */
static IRQ_STATUS HlpPrepareRouting(uint32_t Gsi, uint8_t Vector, const HL_INTERRUPT_TARGET *Target,
                                    HLP_LINE_ROUTING *Routing)
{
    IRQ_STATUS Status = HlpCheckRouting(Gsi, Vector, Target, Routing);
    return Status != IRQ_STATUS_SUCCESS ? Status : HlIoApicReadEntry(Gsi, &Routing->Current);
}

bool HlIsProcessorReachableByLine(uint32_t Gsi, uint32_t Cpu)
{
    uint32_t Unit;
    uint16_t SourceId;
    if (!HlpRemapCoversGsi(Gsi, &Unit, &SourceId))
        return HlIsProcessorReachableByDevices(Cpu);
    uint32_t ApicId;
    return HlGetProcessorApicId(Cpu, &ApicId) == IRQ_STATUS_SUCCESS;
}

/* The table entry of a remapped line (its I/O APIC's requester id checked). */
static IRQ_STATUS HlpWriteRemapEntry(const HLP_LINE_ROUTING *Routing, uint32_t Index, uint8_t Vector,
                                     HL_TRIGGER_MODE Trigger)
{
    HL_REMAP_ENTRY Entry = {
        .Destination = Routing->Destination.Destination,
        .Logical = Routing->Destination.Logical,
        .DeliveryMode = Routing->Destination.DeliveryMode,
        .Vector = Vector,
        .Trigger = Trigger,
        .SourceId = Routing->SourceId,
        .SourceValidation = HlRemapVerifyRequester,
    };
    return HlRemapWriteEntry(Routing->Unit, Index, &Entry);
}

/* Allocation of a remapped line: the table entry first, then the
 * redirection entry naming it, unmasked last. */
static IRQ_STATUS HlpAllocateRemapped(uint32_t Gsi, uint8_t Vector, const HLP_LINE_ROUTING *Routing,
                                      HL_TRIGGER_MODE Trigger, HL_POLARITY Polarity)
{
    uint32_t Index;
    IRQ_STATUS Status = HlpRemapLineIndex(Gsi, Routing->Unit, &Index);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlpWriteRemapEntry(Routing, Index, Vector, Trigger);
    IOAPIC_REDIRECTION_ENTRY Entry;
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlRemapComposeIoApicEntry(Index, Vector, Trigger, Polarity, &Entry);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Entry.Bits.Mask = 0;
    return HlIoApicWriteEntry(Gsi, Entry);
}

/* The fields that say where and how the line is delivered; trigger mode,
 * polarity and mask are the line's and are left as they are. */
static void HlpSetRouting(IOAPIC_REDIRECTION_ENTRY *Entry, uint8_t Vector, const HL_DESTINATION *Destination)
{
    Entry->Bits.Vector = Vector;
    Entry->Bits.DeliveryMode = (uint64_t)Destination->DeliveryMode;
    Entry->Bits.DestinationMode = Destination->Logical ? 1u : 0u;
    Entry->Bits.Destination = Destination->Destination & 0xFFu; /* HlpDeviceDestinationFits checked it */
}

IRQ_STATUS HlPicAllocateSystemInterrupt(uint32_t Gsi, uint8_t Vector, const HL_INTERRUPT_TARGET *Target,
                                        HL_TRIGGER_MODE Trigger, HL_POLARITY Polarity)
{
    if ((Trigger != HlTriggerEdge && Trigger != HlTriggerLevel) ||
        (Polarity != HlPolarityActiveHigh && Polarity != HlPolarityActiveLow))
        return IRQ_STATUS_INVALID_PARAMETER;
    HLP_LINE_ROUTING Routing;
    IRQ_STATUS Status = HlpPrepareRouting(Gsi, Vector, Target, &Routing);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;

    /* A masked entry's Remote IRR can be left from its previous user (see
     * HlIoApicClearRemoteIrr); a live entry's belongs to its users. */
    if (Routing.Current.Bits.Mask != 0 && Routing.Current.Bits.RemoteIrr != 0) {
        Status = HlIoApicClearRemoteIrr(Gsi);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
    }
    if (Routing.Remapped)
        return HlpAllocateRemapped(Gsi, Vector, &Routing, Trigger, Polarity);

    /* Mask clear: the driver writes the high word (destination) first and
     * the low word last, so the unmask is the last register write and the
     * line can only ever fire toward the new destination. */
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = 0};
    HlpSetRouting(&Entry, Vector, &Routing.Destination);
    Entry.Bits.TriggerMode = Trigger == HlTriggerLevel ? 1u : 0u;
    Entry.Bits.Polarity = Polarity == HlPolarityActiveLow ? 1u : 0u;
    Entry.Bits.Mask = 0;
    return HlIoApicWriteEntry(Gsi, Entry);
}

/* ---- Moving a live line ---------------------------------------------------------------- */

/* A level line may be masked around the change: its input stays asserted
 * and is sent on unmask (82093AA 3.2.4, "Interrupt Mask"; QEMU does the
 * same), so nothing is lost. Masking also keeps a message from leaving in
 * the mixed state between the two register writes, which for a level line
 * would be fatal: a message that reaches no CPU is never EOIed and Remote
 * IRR would hold the line off for good.
 *
 * Remote IRR is cleared only by an EOI carrying the entry's vector. While it
 * is set the old vector's EOI is still to come, so the vector cannot change
 * now: IRQ_STATUS_INVALID_STATE, nothing changed, the caller retries after
 * the interrupt in flight has been serviced. */
static IRQ_STATUS HlpRetargetLevel(uint32_t Gsi, IOAPIC_REDIRECTION_ENTRY Old, IOAPIC_REDIRECTION_ENTRY New)
{
    bool WasMasked = Old.Bits.Mask != 0;
    IRQ_STATUS Status = HlIoApicSetMask(Gsi, true);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IOAPIC_REDIRECTION_ENTRY Current;
    Status = HlIoApicReadEntry(Gsi, &Current);
    if (Status == IRQ_STATUS_SUCCESS && Current.Bits.RemoteIrr != 0 && Current.Bits.Vector != New.Bits.Vector)
        Status = IRQ_STATUS_INVALID_STATE;
    if (Status != IRQ_STATUS_SUCCESS) {
        if (!WasMasked)
            (void)HlIoApicSetMask(Gsi, false);
        return Status;
    }
    /* The final write restores the mask as it was, unmasking last. */
    return HlIoApicWriteEntry(Gsi, New);
}

/* An edge line is never masked: an edge that arrives while masked is lost
 * (82093AA 3.2.4). The driver writes the high word, then the low word:
 *  - Same vector, delivery mode and destination mode: the low word is
 *    rewritten unchanged, so the high word is the only change, one 32-bit
 *    register write. A raiser sees the old entry or the new one.
 *  - A new vector (or delivery mode): between the two writes the entry
 *    sends the new destination the *old* vector. So the caller must keep
 *    both vectors connected across the move: the old one on the new target
 *    CPUs until this call returns, and on the old CPUs until whatever was
 *    already sent to them has been dispatched (Linux does the same, freeing
 *    the old vector only after the first interrupt on the new one).
 *  - A new destination mode on an unmasked line: in the mixed state the new
 *    destination bits would be read in the old mode (an APIC id read as a
 *    logical bitmap, or the reverse) and could reach a CPU outside both
 *    targets, or none. That has no safe order, so it is refused with
 *    IRQ_STATUS_NOT_SUPPORTED; a masked line is simply rewritten. */
static IRQ_STATUS HlpRetargetEdge(uint32_t Gsi, IOAPIC_REDIRECTION_ENTRY Old, IOAPIC_REDIRECTION_ENTRY New)
{
    if (Old.Bits.Mask == 0 && Old.Bits.DestinationMode != New.Bits.DestinationMode)
        return IRQ_STATUS_NOT_SUPPORTED;
    return HlIoApicWriteEntry(Gsi, New);
}

/* The read-only bits (delivery status, Remote IRR) do not count: the driver
 * never writes them. */
static bool HlpSameLowWord(IOAPIC_REDIRECTION_ENTRY A, IOAPIC_REDIRECTION_ENTRY B)
{
    A.Bits.DeliveryStatus = 0;
    A.Bits.RemoteIrr = 0;
    B.Bits.DeliveryStatus = 0;
    B.Bits.RemoteIrr = 0;
    return A.Words.Low == B.Words.Low;
}

/* A move of a remapped line (the header comment): the table entry alone,
 * or with a new vector, the redirection entry's vector field too. A level
 * line's entry is masked around that (its Remote IRR rule, as above) and
 * the table entry is rewritten while it is masked, so no message goes out
 * with a vector its entry does not carry. */
static IRQ_STATUS HlpRetargetRemapped(uint32_t Gsi, uint8_t Vector, const HLP_LINE_ROUTING *Routing,
                                      IOAPIC_REDIRECTION_ENTRY Old)
{
    uint32_t Index;
    IRQ_STATUS Status = HlpRemapLineIndex(Gsi, Routing->Unit, &Index);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    HL_TRIGGER_MODE Trigger = Old.Bits.TriggerMode != 0 ? HlTriggerLevel : HlTriggerEdge;
    if (Old.Bits.Vector == Vector)
        return HlpWriteRemapEntry(Routing, Index, Vector, Trigger);
    IOAPIC_REDIRECTION_ENTRY New = Old;
    New.Bits.Vector = Vector;
    bool Level = Trigger == HlTriggerLevel;
    if (Level && (Status = HlIoApicSetMask(Gsi, true)) != IRQ_STATUS_SUCCESS)
        return Status;
    IOAPIC_REDIRECTION_ENTRY Current;
    Status = HlIoApicReadEntry(Gsi, &Current);
    if (Status == IRQ_STATUS_SUCCESS && Level && Current.Bits.RemoteIrr != 0)
        Status = IRQ_STATUS_INVALID_STATE;
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlpWriteRemapEntry(Routing, Index, Vector, Trigger);
    if (Status == IRQ_STATUS_SUCCESS)
        return HlIoApicWriteEntry(Gsi, New); /* the mask as it was */
    if (Level && Old.Bits.Mask == 0)
        (void)HlIoApicSetMask(Gsi, false);
    return Status;
}

IRQ_STATUS HlPicRetargetSystemInterrupt(uint32_t Gsi, uint8_t Vector, const HL_INTERRUPT_TARGET *Target)
{
    HLP_LINE_ROUTING Routing;
    IRQ_STATUS Status = HlpPrepareRouting(Gsi, Vector, Target, &Routing);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IOAPIC_REDIRECTION_ENTRY Old = Routing.Current;
    if (Routing.Remapped)
        return HlpRetargetRemapped(Gsi, Vector, &Routing, Old);

    IOAPIC_REDIRECTION_ENTRY New = Old;
    HlpSetRouting(&New, Vector, &Routing.Destination);
    if (HlpSameLowWord(Old, New))
        return HlIoApicWriteEntry(Gsi, New);
    if (Old.Bits.TriggerMode != 0)
        return HlpRetargetLevel(Gsi, Old, New);
    return HlpRetargetEdge(Gsi, Old, New);
}

/* A remapped line's table entry goes with it, once the line is masked. */
IRQ_STATUS HlPicFreeSystemInterrupt(uint32_t Gsi)
{
    IRQ_STATUS Status = HlIoApicSetMask(Gsi, true);
    if (Status == IRQ_STATUS_SUCCESS)
        HlpRemapReleaseLine(Gsi);
    return Status;
}
