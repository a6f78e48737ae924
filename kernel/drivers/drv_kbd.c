/* SPDX-License-Identifier: MIT */
/*
 * PS/2 keyboard through the 8042 controller: ISA IRQ1, edge. With no
 * display there are no key presses; the controller command 0xD2 ("write
 * keyboard output buffer") queues a byte as if the keyboard had sent it and
 * raises IRQ1 when the controller's keyboard interrupt is enabled
 * (docs/qemu.md).
 *
 * 8042 (IBM PS/2 technical reference): data port 0x60, status/command port
 * 0x64; status bit 0 output buffer full, bit 1 input buffer full; command
 * 0x20 reads and 0x60 writes the configuration byte, whose bit 0 enables
 * the keyboard interrupt.
 */
#include "driver.h"

#define KBD_DATA 0x60
#define KBD_STATUS 0x64
#define KBD_COMMAND 0x64
#define KBD_STATUS_OUTPUT_FULL 0x01
#define KBD_STATUS_INPUT_FULL 0x02
#define KBD_COMMAND_READ_CONFIG 0x20
#define KBD_COMMAND_WRITE_CONFIG 0x60
#define KBD_COMMAND_WRITE_OUTPUT 0xD2
#define KBD_CONFIG_INTERRUPT 0x01
#define KBD_ISA_IRQ 1u
#define KBD_RAISED_BYTE 0x1C /* scan code set 1: Enter pressed */
#define KBD_TIMEOUT_US 20000u
#define KBD_MAX_DRAIN 32u

/* A command and its reply must not interleave with another CPU's command,
 * nor with the ISR taking the reply for a key byte. */
static RK_SPIN_LOCK RkpKbdLock = RK_SPIN_LOCK_INIT;

static bool RkpKbdWaitInputEmpty(void)
{
    return RkPollPort(KBD_STATUS, KBD_STATUS_INPUT_FULL, 0, KBD_TIMEOUT_US);
}

static bool RkpKbdCommandLocked(uint8_t Command)
{
    if (!RkpKbdWaitInputEmpty())
        return false;
    RkOutByte(KBD_COMMAND, Command);
    return true;
}

static bool RkpKbdWriteDataLocked(uint8_t Value)
{
    if (!RkpKbdWaitInputEmpty())
        return false;
    RkOutByte(KBD_DATA, Value);
    return true;
}

static IRQ_STATUS RkpKbdSetInterrupt(bool Enable)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpKbdLock);
    IRQ_STATUS Status = IRQ_STATUS_NOT_SUPPORTED;
    if (RkpKbdCommandLocked(KBD_COMMAND_READ_CONFIG) &&
        RkPollPort(KBD_STATUS, KBD_STATUS_OUTPUT_FULL, KBD_STATUS_OUTPUT_FULL, KBD_TIMEOUT_US)) {
        uint8_t Config = RkInByte(KBD_DATA);
        Config = Enable ? (uint8_t)(Config | KBD_CONFIG_INTERRUPT) : (uint8_t)(Config & ~KBD_CONFIG_INTERRUPT);
        if (RkpKbdCommandLocked(KBD_COMMAND_WRITE_CONFIG) && RkpKbdWriteDataLocked(Config))
            Status = IRQ_STATUS_SUCCESS;
    }
    RkReleaseSpinLock(&RkpKbdLock, WasEnabled);
    return Status;
}

static IRQ_STATUS RkpKbdStop(RK_DEVICE *Device)
{
    (void)Device;
    return RkpKbdSetInterrupt(false);
}

/* Leaves the controller quiet: interrupt off, output buffer empty. */
static bool RkpKbdProbe(RK_DEVICE *Device)
{
    if (RkInByte(KBD_STATUS) == 0xFF) /* no controller decodes the port */
        return false;
    if (RkpKbdStop(Device) != IRQ_STATUS_SUCCESS)
        return false;
    for (uint32_t Index = 0; Index < KBD_MAX_DRAIN && (RkInByte(KBD_STATUS) & KBD_STATUS_OUTPUT_FULL); Index++)
        (void)RkInByte(KBD_DATA);
    return true;
}

static IRQ_STATUS RkpKbdStart(RK_DEVICE *Device, uint32_t HzHint)
{
    (void)Device;
    (void)HzHint;
    return RkpKbdSetInterrupt(true);
}

static IRQ_STATUS RkpKbdRaise(RK_DEVICE *Device)
{
    (void)Device;
    bool WasEnabled = RkAcquireSpinLock(&RkpKbdLock);
    bool Sent = RkpKbdCommandLocked(KBD_COMMAND_WRITE_OUTPUT) && RkpKbdWriteDataLocked(KBD_RAISED_BYTE);
    RkReleaseSpinLock(&RkpKbdLock, WasEnabled);
    return Sent ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED;
}

static bool RkpKbdAcknowledge(RK_DEVICE *Device)
{
    (void)Device;
    RkAcquireSpinLockInIsr(&RkpKbdLock); /* interrupts are already off in an ISR */
    bool Full = (RkInByte(KBD_STATUS) & KBD_STATUS_OUTPUT_FULL) != 0;
    if (Full)
        (void)RkInByte(KBD_DATA);
    RkReleaseSpinLockInIsr(&RkpKbdLock);
    return Full;
}

const RK_DRIVER RkKeyboardDriver = {
    .Probe = RkpKbdProbe,
    .IsaIrq = KBD_ISA_IRQ,
    .Start = RkpKbdStart,
    .Stop = RkpKbdStop,
    .Raise = RkpKbdRaise,
    .Acknowledge = RkpKbdAcknowledge,
};
