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
 * The TSC rate (KiTscPerMillisecond) is measured either way, against the
 * HPET when there is one, the same bracketed way: it serves code that
 * needs a cheap estimate (AP start-up), never a deadline of the tests.
 * A wait polls the clock every few microseconds at most (KI_POLL_SPIN_US
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

#define KI_FS_PER_US 1000000000ull

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
 * than 1/KI_BRACKET_RATIO of the sample are dropped: a stall hit the read. */
#define KI_CALIBRATION_SAMPLES 7u
#define KI_CALIBRATION_ATTEMPTS 200u /* at most about 2 s, only if stalls keep hitting the reads */
#define KI_BRACKET_RATIO 1000u
/* One sample spans this many microseconds of the reference clock (well
 * below the PIT's 54.9 ms wrap). An MMIO or port read under QEMU takes a
 * few microseconds, so a bracket of 1/KI_BRACKET_RATIO of the sample is
 * tens of reads wide. */
#define KI_SAMPLE_US 10000u
#define KI_POLL_SPIN_US 4u
#define KI_FALLBACK_TSC_PER_MS 1000000u /* 1 GHz, if every sample failed */

typedef enum _KI_TIME_SOURCE { KiTimeSourceTsc = 0, KiTimeSourceHpet } KI_TIME_SOURCE;

static KI_TIME_SOURCE KipSource;
static uintptr_t KipHpetBase;
static uint32_t KipHpetPeriodFs;
static bool KipHpetCounter64;
static uint64_t KipTscPerMs = KI_FALLBACK_TSC_PER_MS;
static uint64_t KipTscSpreadPpm; /* (max - min) / median of the kept samples, parts per million */
static uint32_t KipSamplesKept;
static uint64_t KipStartTicks;

static uint32_t KipHpetRead32(uint32_t Offset)
{
    return *(volatile uint32_t *)KiPhysical(KipHpetBase + Offset);
}

static void KipHpetWrite32(uint32_t Offset, uint32_t Value)
{
    *(volatile uint32_t *)KiPhysical(KipHpetBase + Offset) = Value;
}

/* 2.4.7: a 64-bit counter read as two halves: high, low, high again,
 * repeated when the low half wrapped in between. A 32-bit counter is its
 * low half (elapsed-time arithmetic is then modulo 2^32). */
static uint64_t KipHpetCounter(void)
{
    if (!KipHpetCounter64)
        return KipHpetRead32(HPET_MAIN_COUNTER);
    for (;;) {
        uint32_t High = KipHpetRead32(HPET_MAIN_COUNTER_HIGH);
        uint32_t Low = KipHpetRead32(HPET_MAIN_COUNTER);
        if (KipHpetRead32(HPET_MAIN_COUNTER_HIGH) == High)
            return (uint64_t)High << 32 | Low;
    }
}

static uint64_t KipHpetElapsed(uint64_t From, uint64_t To)
{
    return KipHpetCounter64 ? To - From : (uint32_t)((uint32_t)To - (uint32_t)From);
}

/* Ticks x period in microseconds, without overflowing 64 bits for any
 * realistic uptime (the period is at most 10^8 fs). */
static uint64_t KipHpetTicksToMicroseconds(uint64_t Ticks)
{
    return Ticks / KI_FS_PER_US * KipHpetPeriodFs + Ticks % KI_FS_PER_US * KipHpetPeriodFs / KI_FS_PER_US;
}

static uint64_t KipMicrosecondsToHpetTicks(uint64_t Microseconds)
{
    return Microseconds * (KI_FS_PER_US / KipHpetPeriodFs);
}

/* Spins for roughly Microseconds by the TSC (with no HPET: exactly, by the
 * measured rate). */
static void KipSpinTsc(uint64_t Microseconds)
{
    uint64_t Ticks = KipTscPerMs * Microseconds / 1000u;
    uint64_t Start = KiReadTsc();
    while (KiReadTsc() - Start < Ticks)
        __asm__ volatile("pause");
}

/* A usable HPET: sane capabilities (2.3.4), the counter enabled without the
 * legacy replacement route (2.3.5), and seen to advance. */
static bool KipHpetProbe(uintptr_t Base)
{
    KipHpetBase = Base;
    uint32_t Capabilities = KipHpetRead32(HPET_CAPABILITIES);
    uint32_t Period = KipHpetRead32(HPET_CAPABILITIES_HIGH);
    if (Capabilities == 0xFFFFFFFFu || (Capabilities & HPET_CAP_REV_ID_MASK) == 0 || Period == 0 ||
        Period > HPET_MAX_PERIOD_FS)
        return false;
    KipHpetPeriodFs = Period;
    KipHpetCounter64 = (Capabilities & HPET_CAP_COUNT_SIZE_64) != 0;
    uint32_t Configuration = KipHpetRead32(HPET_CONFIGURATION);
    KipHpetWrite32(HPET_CONFIGURATION, (Configuration | HPET_CFG_ENABLE) & ~HPET_CFG_LEGACY_ROUTE);
    /* The TSC rate is not known yet: spin a generous number of TSC ticks
     * (1 ms at up to 100 GHz) and require the counter to move. */
    uint64_t Before = KipHpetCounter();
    for (uint32_t Try = 0; Try < 1000u; Try++) {
        uint64_t Start = KiReadTsc();
        while (KiReadTsc() - Start < 100000u)
            __asm__ volatile("pause");
        if (KipHpetCounter() != Before)
            return true;
    }
    return false;
}

/* ---- The reference clock of a TSC sample ------------------------------------------------------ */

/* PIT channel 2 as a counter: the gate high, mode 2, count 65536. */
static void KipPitStartCounter(void)
{
    uint8_t Control = KiInByte(PIT_SYSTEM_CONTROL) & (uint8_t) ~(PIT_GATE2 | PIT_SPEAKER);
    KiOutByte(PIT_SYSTEM_CONTROL, Control);
    KiOutByte(PIT_COMMAND, PIT_CHANNEL2_MODE2);
    KiOutByte(PIT_CHANNEL2_DATA, 0);
    KiOutByte(PIT_CHANNEL2_DATA, 0);
    KiOutByte(PIT_SYSTEM_CONTROL, Control | PIT_GATE2);
}

static void KipPitStopCounter(void)
{
    KiOutByte(PIT_SYSTEM_CONTROL, KiInByte(PIT_SYSTEM_CONTROL) & (uint8_t) ~(PIT_GATE2 | PIT_SPEAKER));
}

/* The latch command freezes the count at the moment of the write; the two
 * byte reads after it may come as late as they like. */
static uint32_t KipPitLatchAndRead(uint64_t *TscBefore, uint64_t *TscAfter)
{
    *TscBefore = KiReadTsc();
    KiOutByte(PIT_COMMAND, PIT_CHANNEL2_LATCH);
    *TscAfter = KiReadTsc();
    uint32_t Low = KiInByte(PIT_CHANNEL2_DATA);
    uint32_t High = KiInByte(PIT_CHANNEL2_DATA);
    return High << 8 | Low;
}

typedef struct _KI_REFERENCE_READ {
    uint64_t Value; /* HPET ticks, or PIT ticks counted up (wrapping at 65536) */
    uint64_t TscBefore;
    uint64_t TscAfter;
} KI_REFERENCE_READ;

static KI_REFERENCE_READ KipReadReference(void)
{
    KI_REFERENCE_READ Read;
    if (KipSource == KiTimeSourceHpet) {
        /* One MMIO read: the low half, enough for a sample's length. */
        Read.TscBefore = KiReadTsc();
        Read.Value = KipHpetRead32(HPET_MAIN_COUNTER);
        Read.TscAfter = KiReadTsc();
    } else {
        Read.Value = PIT_FULL_COUNT - KipPitLatchAndRead(&Read.TscBefore, &Read.TscAfter);
    }
    return Read;
}

/* Reference ticks between two reads, and their length in microseconds. */
static uint64_t KipReferenceTicks(const KI_REFERENCE_READ *From, const KI_REFERENCE_READ *To)
{
    if (KipSource == KiTimeSourceHpet)
        return (uint32_t)((uint32_t)To->Value - (uint32_t)From->Value);
    return (To->Value - From->Value) % PIT_FULL_COUNT;
}

static uint64_t KipReferenceMicroseconds(uint64_t Ticks)
{
    if (KipSource == KiTimeSourceHpet)
        return KipHpetTicksToMicroseconds(Ticks);
    return Ticks * 1000000u / PIT_FREQUENCY_HZ;
}

/* One sample: TSC ticks per millisecond over about KI_SAMPLE_US of the
 * reference, or 0 when a stall hit one of the two reads (a bracket wider
 * than 1/KI_BRACKET_RATIO of the sample). A stall between the reads does no
 * harm: both counters kept counting through it. The TSC interval is taken
 * between bracket midpoints. With the PIT a stall of 54.9 ms or more
 * between two polls would hide a whole wrap of its counter and make the
 * sample too short by that much: the sample is dropped when the counter
 * came near a wrap in one step, and the median outvotes what slips past. */
static uint64_t KipTakeSample(void)
{
    KI_REFERENCE_READ First = KipReadReference(), Last = First;
    uint64_t Ticks = 0, LongestStep = 0;
    do {
        KI_REFERENCE_READ Previous = Last;
        Last = KipReadReference();
        uint64_t Step = KipReferenceTicks(&Previous, &Last);
        LongestStep = Step > LongestStep ? Step : LongestStep;
        Ticks = KipReferenceTicks(&First, &Last);
    } while (KipReferenceMicroseconds(Ticks) < KI_SAMPLE_US);
    uint64_t Tsc = (Last.TscBefore + Last.TscAfter) / 2u - (First.TscBefore + First.TscAfter) / 2u;
    uint64_t Bracket = (First.TscAfter - First.TscBefore) + (Last.TscAfter - Last.TscBefore);
    bool NearWrap = KipSource == KiTimeSourceTsc && LongestStep > PIT_FULL_COUNT / 2u;
    if (Tsc == 0 || Bracket * KI_BRACKET_RATIO > Tsc || NearWrap)
        return 0;
    return Tsc * 1000u / KipReferenceMicroseconds(Ticks);
}

static void KipSort(uint64_t *Values, uint32_t Count)
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
static void KipMeasureTsc(void)
{
    uint64_t Samples[KI_CALIBRATION_SAMPLES];
    uint32_t Kept = 0;
    if (KipSource == KiTimeSourceTsc)
        KipPitStartCounter();
    for (uint32_t Attempt = 0; Attempt < KI_CALIBRATION_ATTEMPTS && Kept < KI_CALIBRATION_SAMPLES; Attempt++) {
        uint64_t Sample = KipTakeSample();
        if (Sample != 0)
            Samples[Kept++] = Sample;
    }
    if (KipSource == KiTimeSourceTsc)
        KipPitStopCounter();
    KipSamplesKept = Kept;
    if (Kept == 0)
        return; /* KI_FALLBACK_TSC_PER_MS stays; KiTimeSourceDescription says so */
    KipSort(Samples, Kept);
    KipTscPerMs = Samples[Kept / 2u];
    KipTscSpreadPpm = (Samples[Kept - 1u] - Samples[0]) * 1000000u / KipTscPerMs;
}

/* ---- The interface (kernel.h) ------------------------------------------------------------------- */

void KiCalibrateStall(void)
{
    KipSource = KipHpetProbe(HPET_DEFAULT_BASE) ? KiTimeSourceHpet : KiTimeSourceTsc;
    KipMeasureTsc();
    KipStartTicks = KipSource == KiTimeSourceHpet ? KipHpetCounter() : KiReadTsc();
    char Description[128];
    KiTimeSourceDescription(Description, sizeof(Description));
    KiPrint("timer: %s\n", Description);
}

uint64_t KiTscPerMillisecond(void)
{
    return KipTscPerMs;
}

void KiTimeSourceDescription(char *Buffer, size_t Size)
{
    if (KipSource == KiTimeSourceHpet)
        KiFormatString(Buffer, Size,
                       "HPET at 0x%lx, period %u fs, %u-bit counter; TSC %lu kHz (median of %u bracketed samples, "
                       "spread %lu ppm)",
                       (uint64_t)KipHpetBase, KipHpetPeriodFs, KipHpetCounter64 ? 64u : 32u, KipTscPerMs,
                       KipSamplesKept, KipTscSpreadPpm);
    else
        KiFormatString(Buffer, Size, "no HPET; TSC %lu kHz (median of %u bracketed PIT channel 2 samples%s, spread "
                       "%lu ppm)",
                       KipTscPerMs, KipSamplesKept, KipSamplesKept == 0 ? ": none usable, 1 GHz assumed" : "",
                       KipTscSpreadPpm);
}

uint64_t KiQueryMicroseconds(void)
{
    if (KipSource == KiTimeSourceHpet)
        return KipHpetTicksToMicroseconds(KipHpetElapsed(KipStartTicks, KipHpetCounter()));
    return (KiReadTsc() - KipStartTicks) * 1000u / KipTscPerMs;
}

/* The deadline is on the clock itself; the TSC only paces the polling. */
void KiStallMicroseconds(uint64_t Microseconds)
{
    if (KipSource != KiTimeSourceHpet) {
        KipSpinTsc(Microseconds);
        return;
    }
    uint64_t Start = KipHpetCounter();
    uint64_t Ticks = KipMicrosecondsToHpetTicks(Microseconds);
    while (KipHpetElapsed(Start, KipHpetCounter()) < Ticks)
        KipSpinTsc(Microseconds < KI_POLL_SPIN_US ? Microseconds : KI_POLL_SPIN_US);
}
