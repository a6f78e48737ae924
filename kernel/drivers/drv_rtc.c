/* SPDX-License-Identifier: MIT */
/*
 * MC146818 real-time clock, periodic interrupt: ISA IRQ8, edge.
 *
 * MC146818A datasheet: index port 0x70, data port 0x71. Register A bits 3:0
 * select the periodic rate (rate r >= 3 gives 32768 >> (r - 1) Hz, 8192 Hz
 * to 2 Hz), register B bit 6 (PIE) enables the periodic interrupt, register
 * C reports and clears the flags on read (bit 7 IRQF, bit 6 PF). The IRQ
 * line stays asserted until C is read, so the ISR must read it or no
 * further edge comes.
 *
 * There is no one-shot raise: QEMU's RTC raises its IRQ at every period
 * while PIE is set, read or not, and its I/O APIC takes every raise of an
 * edge-triggered pin as an edge (an 82093AA would see one rising edge), so
 * an ISR that runs a period late would see a second interrupt. Tests that
 * need exactly one interrupt per request on an ISA line use the PIT's
 * mode 0 one-shot (drv_pit.c) instead.
 */
#include "driver.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define RTC_REGISTER_A 0x0A
#define RTC_REGISTER_B 0x0B
#define RTC_REGISTER_C 0x0C
#define RTC_A_RATE_MASK 0x0F
#define RTC_B_PERIODIC 0x40
#define RTC_C_IRQF 0x80
#define RTC_ISA_IRQ 8u
#define RTC_BASE_HZ 32768u
#define RTC_FASTEST_RATE 3u  /* 8192 Hz */
#define RTC_SLOWEST_RATE 15u /* 2 Hz */
#define RTC_DEFAULT_HZ 64u

/* Index/data pairs must not interleave between CPUs or with the ISR. */
static RK_SPIN_LOCK RkpRtcLock = RK_SPIN_LOCK_INIT;

static uint8_t RkpRtcReadLocked(uint8_t Register)
{
    RkOutByte(RTC_INDEX, Register);
    return RkInByte(RTC_DATA);
}

static void RkpRtcWriteLocked(uint8_t Register, uint8_t Value)
{
    RkOutByte(RTC_INDEX, Register);
    RkOutByte(RTC_DATA, Value);
}

/* The rate whose frequency is the power of two nearest below HzHint. */
static uint8_t RkpRtcRateOf(uint32_t Hz)
{
    uint8_t Rate = RTC_FASTEST_RATE;
    while (Rate < RTC_SLOWEST_RATE && (RTC_BASE_HZ >> (Rate - 1)) > Hz)
        Rate++;
    return Rate;
}

static void RkpRtcSetPeriodic(bool Enable, uint32_t Hz)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpRtcLock);
    if (Enable) {
        uint8_t A = RkpRtcReadLocked(RTC_REGISTER_A);
        RkpRtcWriteLocked(RTC_REGISTER_A, (uint8_t)((A & ~RTC_A_RATE_MASK) | RkpRtcRateOf(Hz)));
    }
    uint8_t B = RkpRtcReadLocked(RTC_REGISTER_B);
    RkpRtcWriteLocked(RTC_REGISTER_B, Enable ? (uint8_t)(B | RTC_B_PERIODIC) : (uint8_t)(B & ~RTC_B_PERIODIC));
    (void)RkpRtcReadLocked(RTC_REGISTER_C); /* drop a stale flag: the line goes low */
    RkReleaseSpinLock(&RkpRtcLock, WasEnabled);
}

static IRQ_STATUS RkpRtcStop(RK_DEVICE *Device)
{
    (void)Device;
    RkpRtcSetPeriodic(false, 0);
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS RkpRtcStart(RK_DEVICE *Device, uint32_t HzHint)
{
    (void)Device;
    RkpRtcSetPeriodic(true, HzHint == 0 ? RTC_DEFAULT_HZ : HzHint);
    return IRQ_STATUS_SUCCESS;
}

static bool RkpRtcAcknowledge(RK_DEVICE *Device)
{
    (void)Device;
    RkAcquireSpinLockInIsr(&RkpRtcLock); /* interrupts are already off in an ISR */
    uint8_t C = RkpRtcReadLocked(RTC_REGISTER_C);
    RkReleaseSpinLockInIsr(&RkpRtcLock);
    return (C & RTC_C_IRQF) != 0;
}

bool RkRtcTakePeriodicFlag(void)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpRtcLock);
    uint8_t C = RkpRtcReadLocked(RTC_REGISTER_C);
    RkReleaseSpinLock(&RkpRtcLock, WasEnabled);
    return (C & RTC_C_IRQF) != 0;
}

const RK_DRIVER RkRtcDriver = {
    .IsaIrq = RTC_ISA_IRQ,
    .Start = RkpRtcStart,
    .Stop = RkpRtcStop,
    .Acknowledge = RkpRtcAcknowledge,
};
