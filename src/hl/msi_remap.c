/* SPDX-License-Identifier: MIT */
/*
 * Remapped MSI (VT-d 5.1.2.2 "Remappable Interrupt Request Format", 9.10):
 * a device whose requester id is under an enabled remapping unit
 * (HlRemapAssignRequester) signals through a table entry of its own. The
 * message names only the entry (the handle; SHV clear, data 0), so it never
 * changes for the life of the connection: a move is a rewrite of the entry
 * (one 64-bit store of its low half and an invalidation, src/hl/x86/remap.c),
 * and the device's address register is not touched again. The entry holds
 * the 32-bit destination (any APIC id in x2APIC mode with EIME), the vector
 * and the requester check (SVT = requester id, SQ = all 16 bits).
 */
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>

#include "hlp.h"

bool HlMsiIsRemapped(uint16_t RequesterId)
{
    uint32_t Unit;
    return HlpRemapCoversRequester(RequesterId, &Unit);
}

/* The table entry for Target and Vector, written for Remapping's requester. */
static IRQ_STATUS HlpWriteMsiEntry(const HL_MSI_REMAPPING *Remapping, const HL_INTERRUPT_TARGET *Target,
                                   uint8_t Vector)
{
    HL_DESTINATION Destination;
    IRQ_STATUS Status = HlpResolveMsiTarget(Target, Vector, &Destination);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    HL_REMAP_ENTRY Entry = {
        .Destination = Destination.Destination,
        .Logical = Destination.Logical,
        .DeliveryMode = Destination.DeliveryMode,
        .Vector = Vector,
        .Trigger = HlTriggerEdge, /* an MSI is a write: an edge */
        .SourceId = Remapping->RequesterId,
        .SourceValidation = HlRemapVerifyRequester,
    };
    return HlRemapWriteEntry(Remapping->Unit, Remapping->Index, &Entry);
}

IRQ_STATUS HlMsiComposeRemapped(uint16_t RequesterId, const HL_INTERRUPT_TARGET *Target, uint8_t Vector,
                                HL_MSI_REMAPPING *Remapping, HL_MSI_MESSAGE *Message)
{
    if (Target == NULL || Remapping == NULL || Message == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    HL_MSI_REMAPPING New = {.RequesterId = RequesterId};
    if (!HlpRemapCoversRequester(RequesterId, &New.Unit))
        return IRQ_STATUS_NOT_SUPPORTED;
    IRQ_STATUS Status = HlRemapAllocateEntry(New.Unit, &New.Index);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Status = HlpWriteMsiEntry(&New, Target, Vector);
    HL_MSI_MESSAGE Composed;
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlRemapComposeMsi(New.Index, &Composed);
    if (Status != IRQ_STATUS_SUCCESS) {
        (void)HlRemapFreeEntry(New.Unit, New.Index);
        return Status;
    }
    *Remapping = New;
    *Message = Composed;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS HlMsiRetargetRemapped(const HL_MSI_REMAPPING *Remapping, const HL_INTERRUPT_TARGET *Target,
                                 uint8_t Vector)
{
    if (Remapping == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    return HlpWriteMsiEntry(Remapping, Target, Vector);
}

IRQ_STATUS HlMsiFreeRemapped(const HL_MSI_REMAPPING *Remapping)
{
    if (Remapping == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    return HlRemapFreeEntry(Remapping->Unit, Remapping->Index);
}
