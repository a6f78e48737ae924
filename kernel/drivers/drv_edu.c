/* SPDX-License-Identifier: MIT */
/*
 * QEMU's `edu` teaching device (PCI 1234:11e8; QEMU docs/specs/edu.txt):
 * BAR0 is 1 MiB of MMIO with 4-byte registers; 0x00 identification
 * (0x010000ed), 0x24 interrupt status, 0x60 interrupt raise (the value is
 * ORed into the status and an interrupt is sent), 0x64 interrupt acknowledge
 * (the value is cleared from the status). With MSI enabled each raise sends
 * one message; without, INTA# is a level that stays asserted while the
 * status is non-zero.
 *
 * By default the device is connected message-based (the MSI address and
 * data come from Io, composed by the Hl layer for the target's APIC id, and
 * are written into the MSI capability here). RkEduUseLegacyInterrupt makes
 * the next connect use INTA# instead, as a shared level line.
 */
#include "driver.h"
#include "pci.h"

#define EDU_VENDOR_ID 0x1234u
#define EDU_DEVICE_ID 0x11E8u
#define EDU_REG_ID 0x00u
#define EDU_REG_INTERRUPT_STATUS 0x24u
#define EDU_REG_INTERRUPT_RAISE 0x60u
#define EDU_REG_INTERRUPT_ACK 0x64u
#define EDU_ID_MAGIC_MASK 0xFFu
#define EDU_ID_MAGIC 0xEDu
#define EDU_RAISE_VALUE 0x1u
/* The kernel maps the fourth GiB uncached (boot.S): BARs must lie there. */
#define EDU_MMIO_WINDOW_START 0xC0000000ull
#define EDU_MMIO_WINDOW_END 0x100000000ull
#define EDU_BAR_SIZE 0x100000ull

static RK_PCI_FUNCTION RkpEdu;
static uintptr_t RkpEduBase;
static bool RkpEduLegacy;

static volatile uint32_t *RkpEduRegister(uint32_t Offset)
{
    return RkPhysical(RkpEduBase + Offset);
}

void RkEduUseLegacyInterrupt(bool Legacy)
{
    RkpEduLegacy = Legacy;
}

bool RkEduPciFunction(RK_PCI_FUNCTION *Function)
{
    if (RkpEduBase == 0)
        return false;
    *Function = RkpEdu;
    return true;
}

static bool RkpEduProbe(RK_DEVICE *Device)
{
    (void)Device;
    if (!RkPciFind(EDU_VENDOR_ID, EDU_DEVICE_ID, &RkpEdu))
        return false;
    uint64_t Bar = RkPciMemoryBar(&RkpEdu, 0);
    if (Bar < EDU_MMIO_WINDOW_START || Bar + EDU_BAR_SIZE > EDU_MMIO_WINDOW_END) {
        RkPrint("edu: BAR0 0x%lx is outside the uncached window\n", Bar);
        return false;
    }
    RkPciEnableDevice(&RkpEdu, true);
    (void)RkPciDisableMsi(&RkpEdu);
    RkpEduBase = (uintptr_t)Bar;
    if ((*RkpEduRegister(EDU_REG_ID) & EDU_ID_MAGIC_MASK) != EDU_ID_MAGIC) {
        RkpEduBase = 0;
        return false;
    }
    *RkpEduRegister(EDU_REG_INTERRUPT_ACK) = *RkpEduRegister(EDU_REG_INTERRUPT_STATUS);
    RkPrint("edu: %02x:%02x.%x BAR0 0x%lx, INTA# on IRQ %u, MSI capability at 0x%x\n", RkpEdu.Bus, RkpEdu.Device,
            RkpEdu.Function, Bar, RkPciInterruptLine(&RkpEdu), RkPciFindCapability(&RkpEdu, RK_PCI_CAPABILITY_MSI));
    return true;
}

/* Io calls this when it moves the interrupt: only the address changes. */
static void RkpEduUpdateMessage(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Interrupt;
    (void)Context;
    (void)RkPciUpdateMsiAddress(&RkpEdu, Message->Address);
}

static void RkpEduDescribe(RK_DEVICE *Device, IO_DEVICE_TEMPLATE *Template)
{
    (void)Device;
    Template->Count = 1;
    if (RkpEduLegacy) {
        /* PCI INTA#, routed by the firmware to the ISA IRQ in the interrupt
         * line register; QEMU's MADT makes IRQs 5, 9, 10, 11 level, active
         * high (docs/qemu.md), so the ISA bus with its overrides
         * resolves it. Shareable, as PCI interrupts are. */
        Template->Kind = IoDeviceLines;
        Template->Bus = HlBusIsa;
        Template->Lines[0] = RkPciInterruptLine(&RkpEdu);
        Template->Share = true;
    } else {
        Template->Kind = IoDeviceMessages;
        Template->UpdateMessage = RkpEduUpdateMessage;
        /* Its requester id: behind a remapping unit its message is remapped
         * (the DMAR's endpoint scope names it; kernel/arch/remapping.c). */
        Template->HasRequesterId = true;
        Template->RequesterId = (uint16_t)(RkpEdu.Bus << 8 | RkpEdu.Device << 3 | RkpEdu.Function);
    }
}

static IRQ_STATUS RkpEduConnected(RK_DEVICE *Device)
{
    if (RkpEduLegacy) {
        (void)RkPciDisableMsi(&RkpEdu);
        RkPciEnableDevice(&RkpEdu, false);
        return IRQ_STATUS_SUCCESS;
    }
    RkPciEnableDevice(&RkpEdu, true);
    return RkPciEnableMsi(&RkpEdu, &Device->Connection.Messages[0]);
}

static void RkpEduDisconnecting(RK_DEVICE *Device)
{
    (void)Device;
    (void)RkPciDisableMsi(&RkpEdu);
    RkPciEnableDevice(&RkpEdu, true);
}

static IRQ_STATUS RkpEduRaise(RK_DEVICE *Device)
{
    (void)Device;
    *RkpEduRegister(EDU_REG_INTERRUPT_RAISE) = EDU_RAISE_VALUE;
    return IRQ_STATUS_SUCCESS;
}

static bool RkpEduAcknowledge(RK_DEVICE *Device)
{
    (void)Device;
    uint32_t Status = *RkpEduRegister(EDU_REG_INTERRUPT_STATUS);
    if (Status == 0)
        return false;
    *RkpEduRegister(EDU_REG_INTERRUPT_ACK) = Status;
    return true;
}

const RK_DRIVER RkEduDriver = {
    .Probe = RkpEduProbe,
    .DescribeInterrupts = RkpEduDescribe,
    .Connected = RkpEduConnected,
    .Disconnecting = RkpEduDisconnecting,
    /* No Start or Stop: edu has no source of its own, it interrupts when
     * asked (RkDeviceRaise). */
    .Raise = RkpEduRaise,
    .Acknowledge = RkpEduAcknowledge,
};
