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
#include "irlock.h"

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
static IR_LOCK KipRtcLock = IR_LOCK_INIT;

static uint8_t KipRtcReadLocked(uint8_t Register)
{
    KiOutByte(RTC_INDEX, Register);
    return KiInByte(RTC_DATA);
}

static void KipRtcWriteLocked(uint8_t Register, uint8_t Value)
{
    KiOutByte(RTC_INDEX, Register);
    KiOutByte(RTC_DATA, Value);
}

/* The rate whose frequency is the power of two nearest below HzHint. */
static uint8_t KipRtcRateOf(uint32_t Hz)
{
    uint8_t Rate = RTC_FASTEST_RATE;
    while (Rate < RTC_SLOWEST_RATE && (RTC_BASE_HZ >> (Rate - 1)) > Hz)
        Rate++;
    return Rate;
}

static void KipRtcSetPeriodic(bool Enable, uint32_t Hz)
{
    bool WasEnabled = IrLockAcquireIrqSave(&KipRtcLock);
    if (Enable) {
        uint8_t A = KipRtcReadLocked(RTC_REGISTER_A);
        KipRtcWriteLocked(RTC_REGISTER_A, (uint8_t)((A & ~RTC_A_RATE_MASK) | KipRtcRateOf(Hz)));
    }
    uint8_t B = KipRtcReadLocked(RTC_REGISTER_B);
    KipRtcWriteLocked(RTC_REGISTER_B, Enable ? (uint8_t)(B | RTC_B_PERIODIC) : (uint8_t)(B & ~RTC_B_PERIODIC));
    (void)KipRtcReadLocked(RTC_REGISTER_C); /* drop a stale flag: the line goes low */
    IrLockReleaseIrqRestore(&KipRtcLock, WasEnabled);
}

static IRQ_STATUS KipRtcStop(KI_DEVICE *Device)
{
    (void)Device;
    KipRtcSetPeriodic(false, 0);
    return IRQ_STATUS_SUCCESS;
}

static bool KipRtcProbe(KI_DEVICE *Device)
{
    (void)KipRtcStop(Device);
    return true;
}

static void KipRtcDescribe(KI_DEVICE *Device, IO_DEVICE_TEMPLATE *Template)
{
    (void)Device;
    KiDescribeIsaLine(Template, RTC_ISA_IRQ);
}

static IRQ_STATUS KipRtcStart(KI_DEVICE *Device, uint32_t HzHint)
{
    (void)Device;
    KipRtcSetPeriodic(true, HzHint == 0 ? RTC_DEFAULT_HZ : HzHint);
    return IRQ_STATUS_SUCCESS;
}

static bool KipRtcAcknowledge(KI_DEVICE *Device)
{
    (void)Device;
    IrLockAcquire(&KipRtcLock); /* interrupts are off in an ISR */
    uint8_t C = KipRtcReadLocked(RTC_REGISTER_C);
    IrLockRelease(&KipRtcLock);
    return (C & RTC_C_IRQF) != 0;
}

bool KiRtcTakePeriodicFlag(void)
{
    bool WasEnabled = IrLockAcquireIrqSave(&KipRtcLock);
    uint8_t C = KipRtcReadLocked(RTC_REGISTER_C);
    IrLockReleaseIrqRestore(&KipRtcLock, WasEnabled);
    return (C & RTC_C_IRQF) != 0;
}

const KI_DRIVER KiRtcDriver = {
    .Probe = KipRtcProbe,
    .DescribeInterrupts = KipRtcDescribe,
    .Start = KipRtcStart,
    .Stop = KipRtcStop,
    .Acknowledge = KipRtcAcknowledge,
};
