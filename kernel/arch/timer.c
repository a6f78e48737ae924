/* SPDX-License-Identifier: MIT */
/*
 * Time: how long something took, read from a counter that keeps counting
 * while this vCPU is not running.
 *
 * A TSC rate measured once against a 10 ms PIT window is only as good as
 * that window: a vCPU descheduled between starting the PIT and reading the
 * TSC (or between seeing OUT2 rise and reading it again) stretches or
 * shrinks the measurement, and every timeout after it is off by as much.
 * So time here is not calibrated, it is read:
 *
 *  - The HPET main counter (IA-PC HPET Specification 1.0a, 2.3.7 "Main
 *    Counter Value Register") runs at the period its General Capabilities
 *    and ID register states (2.3.4: COUNTER_CLK_PERIOD in femtoseconds, at
 *    most 0x05F5E100 = 100 ns), whatever the CPU does. Elapsed time is
 *    (now - then) x period, correct across any stall. QEMU puts the HPET
 *    at 0xFED00000 on pc and q35 (its ACPI HPET table says the same); the
 *    block is used only when its capabilities are sane and the counter is
 *    seen to advance.
 *  - Without an HPET the TSC is the clock (it also counts through a stall),
 *    its rate measured against PIT channel 2 as a free-running counter.
 *    Each sample brackets the PIT latch between two TSC reads, so a stall
 *    inside a sample can only widen the bracket (the sample is dropped),
 *    never mislead; the rate is the median of several such samples.
 *
 * The TSC rate (RkTscPerMillisecond) is measured either way, against the
 * HPET when there is one, the same bracketed way: it serves code that
 * needs a cheap estimate (AP start-up), never a deadline of the tests.
 * A wait polls the clock every few microseconds at most (RK_POLL_SPIN_US
 * of TSC spinning between reads), so an HPET read, an MMIO exit under
 * QEMU, is not issued in a tight loop.
 */
#include "kernel.h"

/* ---- HPET (IA-PC HPET Specification 1.0a, section 2.3) ------------------------------------ */

#define HPET_DEFAULT_BASE 0xFED00000u
#define HPET_CAPABILITIES 0x000u       /* 2.3.4; bits 63:32 COUNTER_CLK_PERIOD */
#define HPET_CAPABILITIES_HIGH 0x004u
#define HPET_CONFIGURATION 0x010u      /* 2.3.5 */
#define HPET_MAIN_COUNTER 0x0F0u       /* 2.3.7 */
#define HPET_MAIN_COUNTER_HIGH 0x0F4u
#define HPET_CAP_REV_ID_MASK 0xFFu     /* 0 is not a valid revision */
#define HPET_CAP_COUNT_SIZE_64 (1u << 13)
#define HPET_MAX_PERIOD_FS 0x05F5E100u /* 2.3.4: at most 100 ns */
#define HPET_CFG_ENABLE (1u << 0)      /* ENABLE_CNF: the main counter runs */
#define HPET_CFG_LEGACY_ROUTE (1u << 1) /* LEG_RT_CNF: would take IRQ0/IRQ8 from the PIT and RTC */

#define RK_FS_PER_US 1000000000ull

/* ---- PIT channel 2 (8254 datasheet) -------------------------------------------------------- */

#define PIT_FREQUENCY_HZ 1193182u
#define PIT_CHANNEL2_DATA 0x42
#define PIT_COMMAND 0x43
#define PIT_SYSTEM_CONTROL 0x61 /* bit 0 gate 2, bit 1 speaker */
#define PIT_GATE2 0x01u
#define PIT_SPEAKER 0x02u
/* Channel 2, low then high byte, mode 2 (rate generator), binary: with the
 * count 0 (65536) it counts down for ever, reloading every 54.9 ms. */
#define PIT_CHANNEL2_MODE2 0xB4u
#define PIT_CHANNEL2_LATCH 0x80u /* counter latch command for channel 2 */
#define PIT_FULL_COUNT 0x10000u

/* ---- Measuring the TSC rate ----------------------------------------------------------------- */

/* Samples whose bracket (the TSC ticks around one reference read) is wider
 * than 1/RK_BRACKET_RATIO of the sample are dropped: a stall hit the read. */
#define RK_CALIBRATION_SAMPLES 7u
#define RK_CALIBRATION_ATTEMPTS 200u /* at most about 2 s, only if stalls keep hitting the reads */
#define RK_BRACKET_RATIO 1000u
/* One sample spans this many microseconds of the reference clock (well
 * below the PIT's 54.9 ms wrap). An MMIO or port read under QEMU takes a
 * few microseconds, so a bracket of 1/RK_BRACKET_RATIO of the sample is
 * tens of reads wide. */
#define RK_SAMPLE_US 10000u
#define RK_POLL_SPIN_US 4u
#define RK_FALLBACK_TSC_PER_MS 1000000u /* 1 GHz, if every sample failed */

typedef enum _RK_TIME_SOURCE { RkTimeSourceTsc = 0, RkTimeSourceHpet } RK_TIME_SOURCE;

static RK_TIME_SOURCE RkpSource;
static uintptr_t RkpHpetBase;
static uint32_t RkpHpetPeriodFs;
static bool RkpHpetCounter64;
static uint64_t RkpTscPerMs = RK_FALLBACK_TSC_PER_MS;
static uint64_t RkpTscSpreadPpm; /* (max - min) / median of the kept samples, parts per million */
static uint32_t RkpSamplesKept;
static uint64_t RkpStartTicks;

static uint32_t RkpHpetRead32(uint32_t Offset)
{
    return *(volatile uint32_t *)RkPhysical(RkpHpetBase + Offset);
}

static void RkpHpetWrite32(uint32_t Offset, uint32_t Value)
{
    *(volatile uint32_t *)RkPhysical(RkpHpetBase + Offset) = Value;
}

/* 2.4.7: a 64-bit counter read as two halves: high, low, high again,
 * repeated when the low half wrapped in between. A 32-bit counter is its
 * low half (elapsed-time arithmetic is then modulo 2^32). */
static uint64_t RkpHpetCounter(void)
{
    if (!RkpHpetCounter64)
        return RkpHpetRead32(HPET_MAIN_COUNTER);
    for (;;) {
        uint32_t High = RkpHpetRead32(HPET_MAIN_COUNTER_HIGH);
        uint32_t Low = RkpHpetRead32(HPET_MAIN_COUNTER);
        if (RkpHpetRead32(HPET_MAIN_COUNTER_HIGH) == High)
            return (uint64_t)High << 32 | Low;
    }
}

static uint64_t RkpHpetElapsed(uint64_t From, uint64_t To)
{
    return RkpHpetCounter64 ? To - From : (uint32_t)((uint32_t)To - (uint32_t)From);
}

/* Ticks x period in microseconds, without overflowing 64 bits for any
 * realistic uptime (the period is at most 10^8 fs). */
static uint64_t RkpHpetTicksToMicroseconds(uint64_t Ticks)
{
    return Ticks / RK_FS_PER_US * RkpHpetPeriodFs + Ticks % RK_FS_PER_US * RkpHpetPeriodFs / RK_FS_PER_US;
}

static uint64_t RkpMicrosecondsToHpetTicks(uint64_t Microseconds)
{
    return Microseconds * (RK_FS_PER_US / RkpHpetPeriodFs);
}

/* Spins for roughly Microseconds by the TSC (with no HPET: exactly, by the
 * measured rate). */
static void RkpSpinTsc(uint64_t Microseconds)
{
    uint64_t Ticks = RkpTscPerMs * Microseconds / 1000u;
    uint64_t Start = RkReadTsc();
    while (RkReadTsc() - Start < Ticks)
        __asm__ volatile("pause");
}

/* A usable HPET: sane capabilities (2.3.4), the counter enabled without the
 * legacy replacement route (2.3.5), and seen to advance. */
static bool RkpHpetProbe(uintptr_t Base)
{
    RkpHpetBase = Base;
    uint32_t Capabilities = RkpHpetRead32(HPET_CAPABILITIES);
    uint32_t Period = RkpHpetRead32(HPET_CAPABILITIES_HIGH);
    if (Capabilities == 0xFFFFFFFFu || (Capabilities & HPET_CAP_REV_ID_MASK) == 0 || Period == 0 ||
        Period > HPET_MAX_PERIOD_FS)
        return false;
    RkpHpetPeriodFs = Period;
    RkpHpetCounter64 = (Capabilities & HPET_CAP_COUNT_SIZE_64) != 0;
    uint32_t Configuration = RkpHpetRead32(HPET_CONFIGURATION);
    RkpHpetWrite32(HPET_CONFIGURATION, (Configuration | HPET_CFG_ENABLE) & ~HPET_CFG_LEGACY_ROUTE);
    /* The TSC rate is not known yet: spin a generous number of TSC ticks
     * (1 ms at up to 100 GHz) and require the counter to move. */
    uint64_t Before = RkpHpetCounter();
    for (uint32_t Try = 0; Try < 1000u; Try++) {
        uint64_t Start = RkReadTsc();
        while (RkReadTsc() - Start < 100000u)
            __asm__ volatile("pause");
        if (RkpHpetCounter() != Before)
            return true;
    }
    return false;
}

/* ---- The reference clock of a TSC sample ------------------------------------------------------ */

/* PIT channel 2 as a counter: the gate high, mode 2, count 65536. */
static void RkpPitStartCounter(void)
{
    uint8_t Control = RkInByte(PIT_SYSTEM_CONTROL) & (uint8_t) ~(PIT_GATE2 | PIT_SPEAKER);
    RkOutByte(PIT_SYSTEM_CONTROL, Control);
    RkOutByte(PIT_COMMAND, PIT_CHANNEL2_MODE2);
    RkOutByte(PIT_CHANNEL2_DATA, 0);
    RkOutByte(PIT_CHANNEL2_DATA, 0);
    RkOutByte(PIT_SYSTEM_CONTROL, Control | PIT_GATE2);
}

static void RkpPitStopCounter(void)
{
    RkOutByte(PIT_SYSTEM_CONTROL, RkInByte(PIT_SYSTEM_CONTROL) & (uint8_t) ~(PIT_GATE2 | PIT_SPEAKER));
}

/* The latch command freezes the count at the moment of the write; the two
 * byte reads after it may come as late as they like. */
static uint32_t RkpPitLatchAndRead(uint64_t *TscBefore, uint64_t *TscAfter)
{
    *TscBefore = RkReadTsc();
    RkOutByte(PIT_COMMAND, PIT_CHANNEL2_LATCH);
    *TscAfter = RkReadTsc();
    uint32_t Low = RkInByte(PIT_CHANNEL2_DATA);
    uint32_t High = RkInByte(PIT_CHANNEL2_DATA);
    return High << 8 | Low;
}

typedef struct _RK_REFERENCE_READ {
    uint64_t Value; /* HPET ticks, or PIT ticks counted up (wrapping at 65536) */
    uint64_t TscBefore;
    uint64_t TscAfter;
} RK_REFERENCE_READ;

static RK_REFERENCE_READ RkpReadReference(void)
{
    RK_REFERENCE_READ Read;
    if (RkpSource == RkTimeSourceHpet) {
        /* One MMIO read: the low half, enough for a sample's length. */
        Read.TscBefore = RkReadTsc();
        Read.Value = RkpHpetRead32(HPET_MAIN_COUNTER);
        Read.TscAfter = RkReadTsc();
    } else {
        Read.Value = PIT_FULL_COUNT - RkpPitLatchAndRead(&Read.TscBefore, &Read.TscAfter);
    }
    return Read;
}

/* Reference ticks between two reads, and their length in microseconds. */
static uint64_t RkpReferenceTicks(const RK_REFERENCE_READ *From, const RK_REFERENCE_READ *To)
{
    if (RkpSource == RkTimeSourceHpet)
        return (uint32_t)((uint32_t)To->Value - (uint32_t)From->Value);
    return (To->Value - From->Value) % PIT_FULL_COUNT;
}

static uint64_t RkpReferenceMicroseconds(uint64_t Ticks)
{
    if (RkpSource == RkTimeSourceHpet)
        return RkpHpetTicksToMicroseconds(Ticks);
    return Ticks * 1000000u / PIT_FREQUENCY_HZ;
}

/* One sample: TSC ticks per millisecond over about RK_SAMPLE_US of the
 * reference, or 0 when a stall hit one of the two reads (a bracket wider
 * than 1/RK_BRACKET_RATIO of the sample). A stall between the reads does no
 * harm: both counters kept counting through it. The TSC interval is taken
 * between bracket midpoints. With the PIT a stall of 54.9 ms or more
 * between two polls would hide a whole wrap of its counter and make the
 * sample too short by that much: the sample is dropped when the counter
 * came near a wrap in one step, and the median outvotes what slips past. */
static uint64_t RkpTakeSample(void)
{
    RK_REFERENCE_READ First = RkpReadReference(), Last = First;
    uint64_t Ticks = 0, LongestStep = 0;
    do {
        RK_REFERENCE_READ Previous = Last;
        Last = RkpReadReference();
        uint64_t Step = RkpReferenceTicks(&Previous, &Last);
        LongestStep = Step > LongestStep ? Step : LongestStep;
        Ticks = RkpReferenceTicks(&First, &Last);
    } while (RkpReferenceMicroseconds(Ticks) < RK_SAMPLE_US);
    uint64_t Tsc = (Last.TscBefore + Last.TscAfter) / 2u - (First.TscBefore + First.TscAfter) / 2u;
    uint64_t Bracket = (First.TscAfter - First.TscBefore) + (Last.TscAfter - Last.TscBefore);
    bool NearWrap = RkpSource == RkTimeSourceTsc && LongestStep > PIT_FULL_COUNT / 2u;
    if (Tsc == 0 || Bracket * RK_BRACKET_RATIO > Tsc || NearWrap)
        return 0;
    return Tsc * 1000u / RkpReferenceMicroseconds(Ticks);
}

static void RkpSort(uint64_t *Values, uint32_t Count)
{
    for (uint32_t Index = 1; Index < Count; Index++) {
        uint64_t Value = Values[Index];
        uint32_t At = Index;
        for (; At > 0 && Values[At - 1u] > Value; At--)
            Values[At] = Values[At - 1u];
        Values[At] = Value;
    }
}

/* The median of the samples that no stall disturbed. */
static void RkpMeasureTsc(void)
{
    uint64_t Samples[RK_CALIBRATION_SAMPLES];
    uint32_t Kept = 0;
    if (RkpSource == RkTimeSourceTsc)
        RkpPitStartCounter();
    for (uint32_t Attempt = 0; Attempt < RK_CALIBRATION_ATTEMPTS && Kept < RK_CALIBRATION_SAMPLES; Attempt++) {
        uint64_t Sample = RkpTakeSample();
        if (Sample != 0)
            Samples[Kept++] = Sample;
    }
    if (RkpSource == RkTimeSourceTsc)
        RkpPitStopCounter();
    RkpSamplesKept = Kept;
    if (Kept == 0)
        return; /* RK_FALLBACK_TSC_PER_MS stays; RkTimeSourceDescription says so */
    RkpSort(Samples, Kept);
    RkpTscPerMs = Samples[Kept / 2u];
    RkpTscSpreadPpm = (Samples[Kept - 1u] - Samples[0]) * 1000000u / RkpTscPerMs;
}

/* ---- The interface (kernel.h) ------------------------------------------------------------------- */

void RkCalibrateStall(void)
{
    RkpSource = RkpHpetProbe(HPET_DEFAULT_BASE) ? RkTimeSourceHpet : RkTimeSourceTsc;
    RkpMeasureTsc();
    RkpStartTicks = RkpSource == RkTimeSourceHpet ? RkpHpetCounter() : RkReadTsc();
    char Description[128];
    RkTimeSourceDescription(Description, sizeof(Description));
    RkPrint("timer: %s\n", Description);
}

uint64_t RkTscPerMillisecond(void)
{
    return RkpTscPerMs;
}

void RkTimeSourceDescription(char *Buffer, size_t Size)
{
    if (RkpSource == RkTimeSourceHpet)
        RkFormatString(Buffer, Size,
                       "HPET at 0x%lx, period %u fs, %u-bit counter; TSC %lu kHz (median of %u bracketed samples, "
                       "spread %lu ppm)",
                       (uint64_t)RkpHpetBase, RkpHpetPeriodFs, RkpHpetCounter64 ? 64u : 32u, RkpTscPerMs,
                       RkpSamplesKept, RkpTscSpreadPpm);
    else
        RkFormatString(Buffer, Size, "no HPET; TSC %lu kHz (median of %u bracketed PIT channel 2 samples%s, spread "
                       "%lu ppm)",
                       RkpTscPerMs, RkpSamplesKept, RkpSamplesKept == 0 ? ": none usable, 1 GHz assumed" : "",
                       RkpTscSpreadPpm);
}

uint64_t RkQueryMicroseconds(void)
{
    if (RkpSource == RkTimeSourceHpet)
        return RkpHpetTicksToMicroseconds(RkpHpetElapsed(RkpStartTicks, RkpHpetCounter()));
    return (RkReadTsc() - RkpStartTicks) * 1000u / RkpTscPerMs;
}

/* The deadline is on the clock itself; the TSC only paces the polling. */
void RkStallMicroseconds(uint64_t Microseconds)
{
    if (RkpSource != RkTimeSourceHpet) {
        RkpSpinTsc(Microseconds);
        return;
    }
    uint64_t Start = RkpHpetCounter();
    uint64_t Ticks = RkpMicrosecondsToHpetTicks(Microseconds);
    while (RkpHpetElapsed(Start, RkpHpetCounter()) < Ticks)
        RkpSpinTsc(Microseconds < RK_POLL_SPIN_US ? Microseconds : RK_POLL_SPIN_US);
}
