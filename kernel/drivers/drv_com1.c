/* SPDX-License-Identifier: MIT */
/*
 * COM1 (16550 UART at 0x3F8) interrupts: ISA IRQ4, edge. Receive interrupts
 * feed the console's input ring; a transmit-holding-register-empty
 * interrupt, enabled for one shot, is the interrupt the kernel can cause
 * itself (docs/qemu.md). Output stays polled (serial.c).
 *
 * PC16550D datasheet, tables 2-4: IER (base+1) bit 0 received data
 * available, bit 1 THR empty; IIR (base+2) bit 0 is 0 while an interrupt is
 * pending, bits 3:1 its source (011 line status, 010 data, 110 character
 * time-out, 001 THR empty, 000 modem status); reading IIR clears a THR-empty
 * interrupt, reading RBR a data interrupt, LSR a line-status one, MSR a
 * modem one. MCR OUT2 (set by serial.c) gates the IRQ line on a PC.
 */
#include "driver.h"

#define COM1_BASE 0x3F8
#define UART_RBR (COM1_BASE + 0)
#define UART_IER (COM1_BASE + 1)
#define UART_IIR (COM1_BASE + 2)
#define UART_LSR (COM1_BASE + 5)
#define UART_MSR (COM1_BASE + 6)
#define IER_RECEIVED_DATA 0x01
#define IER_THR_EMPTY 0x02
#define IIR_NONE_PENDING 0x01
#define IIR_SOURCE_MASK 0x0E
#define IIR_LINE_STATUS 0x06
#define IIR_RECEIVED_DATA 0x04
#define IIR_CHARACTER_TIMEOUT 0x0C
#define IIR_THR_EMPTY 0x02
#define LSR_DATA_READY 0x01
#define COM1_ISA_IRQ 4u
/* More sources than the UART has, so a stuck IIR cannot hold the ISR. */
#define COM1_MAX_SOURCES_PER_INTERRUPT 16u

/* IER is changed by Start/Stop/Raise on any CPU and by the ISR. */
static RK_SPIN_LOCK RkpCom1Lock = RK_SPIN_LOCK_INIT;

static void RkpCom1UpdateIerLocked(uint8_t Clear, uint8_t Set)
{
    uint8_t Ier = RkInByte(UART_IER);
    RkOutByte(UART_IER, (uint8_t)((Ier & ~Clear) | Set));
}

static void RkpCom1UpdateIer(uint8_t Clear, uint8_t Set)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpCom1Lock);
    RkpCom1UpdateIerLocked(Clear, Set);
    RkReleaseSpinLock(&RkpCom1Lock, WasEnabled);
}

static IRQ_STATUS RkpCom1Stop(RK_DEVICE *Device)
{
    (void)Device;
    RkpCom1UpdateIer(0xFF, 0);
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS RkpCom1Start(RK_DEVICE *Device, uint32_t HzHint)
{
    (void)Device;
    (void)HzHint;
    RkpCom1UpdateIer(0, IER_RECEIVED_DATA);
    return IRQ_STATUS_SUCCESS;
}

/* THR is empty whenever the console is idle, so enabling its interrupt
 * raises one at once; the ISR switches it off again. */
static IRQ_STATUS RkpCom1Raise(RK_DEVICE *Device)
{
    (void)Device;
    RkpCom1UpdateIer(0, IER_THR_EMPTY);
    return IRQ_STATUS_SUCCESS;
}

static void RkpCom1Receive(void)
{
    while ((RkInByte(UART_LSR) & LSR_DATA_READY) != 0)
        RkDevicePutInput((char)RkInByte(UART_RBR));
}

static bool RkpCom1Acknowledge(RK_DEVICE *Device)
{
    (void)Device;
    bool Any = false;
    RkAcquireSpinLockInIsr(&RkpCom1Lock); /* interrupts are already off in an ISR */
    for (uint32_t Round = 0; Round < COM1_MAX_SOURCES_PER_INTERRUPT; Round++) {
        uint8_t Iir = RkInByte(UART_IIR);
        if ((Iir & IIR_NONE_PENDING) != 0)
            break;
        Any = true;
        switch (Iir & IIR_SOURCE_MASK) {
        case IIR_LINE_STATUS:
            (void)RkInByte(UART_LSR);
            break;
        case IIR_RECEIVED_DATA:
        case IIR_CHARACTER_TIMEOUT:
            RkpCom1Receive();
            break;
        case IIR_THR_EMPTY: /* cleared by the IIR read; one shot only */
            RkpCom1UpdateIerLocked(IER_THR_EMPTY, 0);
            break;
        default:
            (void)RkInByte(UART_MSR);
            break;
        }
    }
    RkReleaseSpinLockInIsr(&RkpCom1Lock);
    return Any;
}

const RK_DRIVER RkCom1Driver = {
    .IsaIrq = COM1_ISA_IRQ,
    .Start = RkpCom1Start,
    .Stop = RkpCom1Stop,
    .Raise = RkpCom1Raise,
    .Acknowledge = RkpCom1Acknowledge,
};
