/* SPDX-License-Identifier: MIT */
/*
 * MSI message composition: Intel SDM vol. 3A 11.11 "Message Signalled
 * Interrupts".
 *
 * A device signals an MSI by writing Data to Address; the chipset turns the
 * write into an APIC message. Without interrupt remapping the address has
 * the compatibility format of 11.11.1 (figure 11-24):
 *   31:20  0xFEE
 *   19:12  destination id (8 bits: a physical APIC id or logical bits;
 *          x2APIC-mode local APICs see it zero-extended to 32 bits)
 *   3      redirection hint (1: lowest-priority arbitration among the
 *          destination's CPUs)
 *   2      destination mode (0 physical, 1 logical)
 * and the data register has the format of 11.11.2 (figure 11-25):
 *   15     trigger mode (0 edge, 1 level)
 *   14     level (for level trigger: 1 assert; ignored for edge)
 *   10:8   delivery mode
 *   7:0    vector (10h-FEh)
 * The upper 32 bits of a 64-bit MSI address are zero.
 */
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>

#include "hlp.h"

#define MSI_ADDRESS_BASE 0xFEE00000u
#define MSI_ADDRESS_DESTINATION_SHIFT 12u
#define MSI_ADDRESS_REDIRECTION_HINT (1u << 3)
#define MSI_ADDRESS_DESTINATION_LOGICAL (1u << 2)

#define MSI_DATA_DELIVERY_MODE_SHIFT 8u
#define MSI_DATA_LEVEL_ASSERT (1u << 14)
#define MSI_DATA_TRIGGER_LEVEL (1u << 15)

/* 11.11.2: "The vector field ... values range from 010H to 0FEH". */
#define MSI_VECTOR_MIN 0x10u
#define MSI_VECTOR_MAX 0xFEu

static uint64_t HlpMsiAddress(const HL_DESTINATION *Destination)
{
    uint32_t Address = MSI_ADDRESS_BASE | Destination->Destination << MSI_ADDRESS_DESTINATION_SHIFT;
    if (Destination->Logical)
        Address |= MSI_ADDRESS_DESTINATION_LOGICAL;
    if (Destination->DeliveryMode == HlDeliveryLowestPriority)
        Address |= MSI_ADDRESS_REDIRECTION_HINT;
    return Address;
}

static uint32_t HlpMsiData(const HL_DESTINATION *Destination, uint8_t Vector, HL_TRIGGER_MODE Trigger)
{
    uint32_t Data = Vector | (uint32_t)Destination->DeliveryMode << MSI_DATA_DELIVERY_MODE_SHIFT;
    /* A level MSI is the assert message; the device never sends the
     * deassert half, so only the assert form is composed. */
    if (Trigger == HlTriggerLevel)
        Data |= MSI_DATA_TRIGGER_LEVEL | MSI_DATA_LEVEL_ASSERT;
    return Data;
}

IRQ_STATUS HlpResolveMsiTarget(const HL_INTERRUPT_TARGET *Target, uint8_t Vector, HL_DESTINATION *Destination)
{
    if (Target == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Vector < MSI_VECTOR_MIN || Vector > MSI_VECTOR_MAX)
        return IRQ_STATUS_INVALID_VECTOR;
    return HlResolveTarget(Target, Destination);
}

IRQ_STATUS HlMsiComposeMessage(const HL_INTERRUPT_TARGET *Target, uint8_t Vector, HL_TRIGGER_MODE Trigger,
                               HL_MSI_MESSAGE *Message)
{
    if (Message == NULL || (Trigger != HlTriggerEdge && Trigger != HlTriggerLevel))
        return IRQ_STATUS_INVALID_PARAMETER;
    HL_DESTINATION Destination;
    IRQ_STATUS Status = HlpResolveMsiTarget(Target, Vector, &Destination);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    /* The address has eight destination bits (19:12): the same rule as an
     * I/O APIC entry's (HlpDeviceDestinationFits). */
    if (!HlpDeviceDestinationFits(&Destination))
        return IRQ_STATUS_NOT_SUPPORTED;
    Message->Address = HlpMsiAddress(&Destination);
    Message->Data = HlpMsiData(&Destination, Vector, Trigger);
    return IRQ_STATUS_SUCCESS;
}
