/*
 * Busy-wait delays: the TSC, calibrated once against the 8254 PIT.
 *
 * PIT channel 2 is the one whose gate software controls (port 0x61 bit 0)
 * and whose output software can read (port 0x61 bit 5), so it measures an
 * interval without any interrupt (8254 datasheet, mode 0 "interrupt on
 * terminal count": OUT goes high when the count reaches zero). Channel 0,
 * the one wired to IRQ0/GSI2, is left alone for the tests.
 *
 * Under QEMU's TCG the guest TSC follows the host's and the PIT follows
 * host time, so the calibration is honest; every CPU reads the same TSC.
 */
#include "kernel.h"

#define PIT_FREQUENCY_HZ 1193182u
#define PIT_CHANNEL2_DATA 0x42
#define PIT_COMMAND 0x43
#define PIT_SYSTEM_CONTROL 0x61 /* bit 0 gate 2, bit 1 speaker, bit 5 OUT2 */

#define PIT_GATE2 0x01
#define PIT_SPEAKER 0x02
#define PIT_OUT2 0x20
/* Channel 2, low then high byte, mode 0, binary. */
#define PIT_CHANNEL2_MODE0 0xB0

#define KI_CALIBRATION_MS 10u

static uint64_t KiTscPerMs;

uint64_t KiTscPerMillisecond(void)
{
    return KiTscPerMs;
}

void KiCalibrateStall(void)
{
    uint32_t Count = PIT_FREQUENCY_HZ * KI_CALIBRATION_MS / 1000u;
    /* Gate low while programming, speaker off. */
    uint8_t Control = KiInByte(PIT_SYSTEM_CONTROL) & (uint8_t)~(PIT_GATE2 | PIT_SPEAKER);
    KiOutByte(PIT_SYSTEM_CONTROL, Control);
    KiOutByte(PIT_COMMAND, PIT_CHANNEL2_MODE0);
    KiOutByte(PIT_CHANNEL2_DATA, (uint8_t)Count);
    KiOutByte(PIT_CHANNEL2_DATA, (uint8_t)(Count >> 8));
    /* Raising the gate starts the count. */
    KiOutByte(PIT_SYSTEM_CONTROL, Control | PIT_GATE2);
    uint64_t Start = KiReadTsc();
    while ((KiInByte(PIT_SYSTEM_CONTROL) & PIT_OUT2) == 0)
        __asm__ volatile("pause");
    uint64_t Elapsed = KiReadTsc() - Start;
    KiOutByte(PIT_SYSTEM_CONTROL, Control);
    KiTscPerMs = Elapsed / KI_CALIBRATION_MS;
    if (KiTscPerMs == 0)
        KiTscPerMs = 1;
}

void KiStallMicroseconds(uint64_t Microseconds)
{
    uint64_t Ticks = KiTscPerMs * Microseconds / 1000u;
    uint64_t Start = KiReadTsc();
    while (KiReadTsc() - Start < Ticks)
        __asm__ volatile("pause");
}
