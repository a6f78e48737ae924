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
#include "irlock.h"

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
static IR_LOCK KipKbdLock = IR_LOCK_INIT;

static bool KipKbdWaitInputEmpty(void)
{
    return KiPollPort(KBD_STATUS, KBD_STATUS_INPUT_FULL, 0, KBD_TIMEOUT_US);
}

static bool KipKbdCommandLocked(uint8_t Command)
{
    if (!KipKbdWaitInputEmpty())
        return false;
    KiOutByte(KBD_COMMAND, Command);
    return true;
}

static bool KipKbdWriteDataLocked(uint8_t Value)
{
    if (!KipKbdWaitInputEmpty())
        return false;
    KiOutByte(KBD_DATA, Value);
    return true;
}

static IRQ_STATUS KipKbdSetInterrupt(bool Enable)
{
    bool WasEnabled = IrLockAcquireIrqSave(&KipKbdLock);
    IRQ_STATUS Status = IRQ_STATUS_NOT_SUPPORTED;
    if (KipKbdCommandLocked(KBD_COMMAND_READ_CONFIG) &&
        KiPollPort(KBD_STATUS, KBD_STATUS_OUTPUT_FULL, KBD_STATUS_OUTPUT_FULL, KBD_TIMEOUT_US)) {
        uint8_t Config = KiInByte(KBD_DATA);
        Config = Enable ? (uint8_t)(Config | KBD_CONFIG_INTERRUPT) : (uint8_t)(Config & ~KBD_CONFIG_INTERRUPT);
        if (KipKbdCommandLocked(KBD_COMMAND_WRITE_CONFIG) && KipKbdWriteDataLocked(Config))
            Status = IRQ_STATUS_SUCCESS;
    }
    IrLockReleaseIrqRestore(&KipKbdLock, WasEnabled);
    return Status;
}

static IRQ_STATUS KipKbdStop(KI_DEVICE *Device)
{
    (void)Device;
    return KipKbdSetInterrupt(false);
}

/* Leaves the controller quiet: interrupt off, output buffer empty. */
static bool KipKbdProbe(KI_DEVICE *Device)
{
    if (KiInByte(KBD_STATUS) == 0xFF) /* no controller decodes the port */
        return false;
    if (KipKbdStop(Device) != IRQ_STATUS_SUCCESS)
        return false;
    for (uint32_t Index = 0; Index < KBD_MAX_DRAIN && (KiInByte(KBD_STATUS) & KBD_STATUS_OUTPUT_FULL); Index++)
        (void)KiInByte(KBD_DATA);
    return true;
}

static void KipKbdDescribe(KI_DEVICE *Device, IO_DEVICE_TEMPLATE *Template)
{
    (void)Device;
    KiDescribeIsaLine(Template, KBD_ISA_IRQ);
}

static IRQ_STATUS KipKbdStart(KI_DEVICE *Device, uint32_t HzHint)
{
    (void)Device;
    (void)HzHint;
    return KipKbdSetInterrupt(true);
}

static IRQ_STATUS KipKbdRaise(KI_DEVICE *Device)
{
    (void)Device;
    bool WasEnabled = IrLockAcquireIrqSave(&KipKbdLock);
    bool Sent = KipKbdCommandLocked(KBD_COMMAND_WRITE_OUTPUT) && KipKbdWriteDataLocked(KBD_RAISED_BYTE);
    IrLockReleaseIrqRestore(&KipKbdLock, WasEnabled);
    return Sent ? IRQ_STATUS_SUCCESS : IRQ_STATUS_NOT_SUPPORTED;
}

static bool KipKbdAcknowledge(KI_DEVICE *Device)
{
    (void)Device;
    IrLockAcquire(&KipKbdLock); /* interrupts are off in an ISR */
    bool Full = (KiInByte(KBD_STATUS) & KBD_STATUS_OUTPUT_FULL) != 0;
    if (Full)
        (void)KiInByte(KBD_DATA);
    IrLockRelease(&KipKbdLock);
    return Full;
}

const KI_DRIVER KiKeyboardDriver = {
    .Probe = KipKbdProbe,
    .DescribeInterrupts = KipKbdDescribe,
    .Start = KipKbdStart,
    .Stop = KipKbdStop,
    .Raise = KipKbdRaise,
    .Acknowledge = KipKbdAcknowledge,
};
