/* SPDX-License-Identifier: MIT */
/*
 * COM1 console, polled in both directions.
 *
 * Register map of the 16550 UART at 0x3F8 (PC16550D datasheet, table 2):
 * offset 0 THR/RBR (DLL with DLAB), 1 IER (DLM with DLAB), 2 FCR/IIR,
 * 3 LCR, 4 MCR, 5 LSR.
 */
#include "kernel.h"

#define COM1_BASE 0x3F8
#define UART_DATA 0
#define UART_IER 1
#define UART_DLL 0
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear RX and TX */
#define MCR_DTR_RTS_OUT2 0x0B /* OUT2 gates the IRQ line on a PC */
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

/* 115200 baud: the divisor latch divides 1.8432 MHz / 16. */
#define DIVISOR_115200 1

void RkSerialInitialize(void)
{
    RkOutByte(COM1_BASE + UART_IER, 0);
    RkOutByte(COM1_BASE + UART_LCR, LCR_DLAB);
    RkOutByte(COM1_BASE + UART_DLL, DIVISOR_115200);
    RkOutByte(COM1_BASE + UART_DLM, 0);
    RkOutByte(COM1_BASE + UART_LCR, LCR_8N1);
    RkOutByte(COM1_BASE + UART_FCR, FCR_ENABLE_CLEAR);
    RkOutByte(COM1_BASE + UART_MCR, MCR_DTR_RTS_OUT2);
}

void RkSerialPutChar(char Character)
{
    while ((RkInByte(COM1_BASE + UART_LSR) & LSR_THR_EMPTY) == 0)
        __asm__ volatile("pause");
    RkOutByte(COM1_BASE + UART_DATA, (uint8_t)Character);
}

bool RkSerialTryGetChar(char *Character)
{
    if ((RkInByte(COM1_BASE + UART_LSR) & LSR_DATA_READY) == 0)
        return false;
    *Character = (char)RkInByte(COM1_BASE + UART_DATA);
    return true;
}
