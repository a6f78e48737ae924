/* SPDX-License-Identifier: MIT */
/*
 * 8254 programmable interval timer, counter 0: ISA IRQ0 (GSI 2 through the
 * MADT override QEMU provides). Counter 2 belongs to timer.c (TSC
 * calibration) and is not touched here.
 *
 * Intel 8254 datasheet: control word (port 0x43) bits 7:6 counter, 5:4
 * access (11 = low byte then high byte), 3:1 mode; mode 2 (rate generator)
 * pulses OUT once per count, mode 0 (interrupt on terminal count) raises OUT
 * once when the count expires. The input clock is 1.193182 MHz.
 */
#include "driver.h"

#define PIT_COUNTER0 0x40
#define PIT_CONTROL 0x43
#define PIT_CONTROL_COUNTER0_LOHI 0x30 /* counter 0, low then high byte */
#define PIT_MODE_TERMINAL_COUNT (0u << 1)
#define PIT_MODE_RATE_GENERATOR (2u << 1)
#define PIT_INPUT_HZ 1193182u
#define PIT_DEFAULT_HZ 100u
#define PIT_ISA_IRQ 0u
/* A one-shot's count: about 84 us. */
#define PIT_ONE_SHOT_COUNT 100u

static void RkpPitProgram(uint8_t Mode, uint32_t Count)
{
    RkOutByte(PIT_CONTROL, PIT_CONTROL_COUNTER0_LOHI | Mode);
    RkOutByte(PIT_COUNTER0, (uint8_t)(Count & 0xFF));
    RkOutByte(PIT_COUNTER0, (uint8_t)(Count >> 8));
}

/* "Writing the first byte of a new count stops the current count" in mode 0
 * (8254 datasheet, mode 0), and setting the mode drives OUT low: the counter
 * stays silent until a second byte comes. */
static IRQ_STATUS RkpPitStop(RK_DEVICE *Device)
{
    (void)Device;
    RkOutByte(PIT_CONTROL, PIT_CONTROL_COUNTER0_LOHI | PIT_MODE_TERMINAL_COUNT);
    RkOutByte(PIT_COUNTER0, 0xFF);
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS RkpPitStart(RK_DEVICE *Device, uint32_t HzHint)
{
    (void)Device;
    uint32_t Hz = HzHint == 0 ? PIT_DEFAULT_HZ : HzHint;
    uint32_t Count = PIT_INPUT_HZ / Hz;
    if (Count < 2 || Count > 0xFFFF)
        return IRQ_STATUS_INVALID_PARAMETER;
    RkpPitProgram(PIT_MODE_RATE_GENERATOR, Count);
    return IRQ_STATUS_SUCCESS;
}

/* Mode 0 with a short count: OUT rises once when it expires, one edge. */
static IRQ_STATUS RkpPitRaise(RK_DEVICE *Device)
{
    if (Device->Started)
        return IRQ_STATUS_INVALID_STATE;
    RkpPitProgram(PIT_MODE_TERMINAL_COUNT, PIT_ONE_SHOT_COUNT);
    return IRQ_STATUS_SUCCESS;
}

/* An edge source with no status to read: every call is the PIT's. */
static bool RkpPitAcknowledge(RK_DEVICE *Device)
{
    (void)Device;
    return true;
}

const RK_DRIVER RkPitDriver = {
    .IsaIrq = PIT_ISA_IRQ,
    .Start = RkpPitStart,
    .Stop = RkpPitStop,
    .Raise = RkpPitRaise,
    .Acknowledge = RkpPitAcknowledge,
};
