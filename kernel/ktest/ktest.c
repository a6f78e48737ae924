/* SPDX-License-Identifier: MIT */
/*
 * The in-kernel test suite. Each case prints one line,
 *     KTEST <name> PASS|FAIL <detail>
 * which tests/qemu/run_ktest.sh reads from the serial console; the exit
 * status (RK_EXIT_SUCCESS / RK_EXIT_FAILURE) says whether all passed.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>

#include "kernel.h"
#include "ktest.h"
#include "ktest_policy.h"

static uint32_t RkFailures;

void RkTestReport(const char *Name, bool Passed, const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    bool WasEnabled = RkAcquireConsole();
    RkPrint("KTEST %s %s ", Name, Passed ? "PASS" : "FAIL");
    RkVPrint(Format, Arguments);
    RkPrint("\n");
    RkReleaseConsole(WasEnabled);
    va_end(Arguments);
    if (!Passed)
        RkFailures++;
}

void RkTestSkip(const char *Name, const char *Why)
{
    bool WasEnabled = RkAcquireConsole();
    RkPrint("KTEST %s SKIP %s\n", Name, Why);
    RkReleaseConsole(WasEnabled);
}

bool RkSkipIfMsiBlocked(const char *Name)
{
    if (!RkRemappingIsOn())
        return false;
    RkTestSkip(Name, "composes a compatibility-format MSI by hand, which the enabled remapping unit blocks "
                     "(Io's messages are remapped; this one is not Io's)");
    return true;
}

uint32_t RkTestFailures(void)
{
    return RkFailures;
}

/* ---- smp_boot: every enabled MADT processor runs, with its own APIC id ---------- */

/* Why one MADT processor is not properly up, or NULL. */
static const char *RkCheckProcessor(uint32_t MadtIndex, uint32_t *Cpu)
{
    const HL_MADT_PROCESSOR *Processor = &RkMadt.Processors[MadtIndex];
    uint32_t RegisteredId;
    *Cpu = RkCpuOfMadtProcessor(MadtIndex);
    if (*Cpu >= RK_MAX_CPUS)
        return "no CPU index";
    if (__atomic_load_n(&RkPcr[*Cpu].Online, __ATOMIC_ACQUIRE) == 0)
        return "not online";
    if (RkPcr[*Cpu].ApicId != Processor->ApicId)
        return "its LAPIC reports another APIC id";
    if (HlGetProcessorApicId(*Cpu, &RegisteredId) != IRQ_STATUS_SUCCESS || RegisteredId != Processor->ApicId)
        return "Hl registry disagrees";
    if (!KeIsProcessorOnline(*Cpu))
        return "Ke has it offline";
    return NULL;
}

static void RkTestSmpBoot(void)
{
    uint32_t Expected = 0, Up = 0;
    const char *Problem = NULL;
    uint32_t ProblemApicId = 0;
    for (uint32_t Index = 0; Index < RkMadt.ProcessorCount; Index++) {
        if (!RkMadt.Processors[Index].Enabled)
            continue;
        Expected++;
        uint32_t Cpu;
        const char *Why = RkCheckProcessor(Index, &Cpu);
        if (Why == NULL) {
            Up++;
        } else if (Problem == NULL) {
            Problem = Why;
            ProblemApicId = RkMadt.Processors[Index].ApicId;
        }
    }
    bool Passed = Problem == NULL && Up == Expected && KeQueryProcessorCount() == Expected;

    /* "cpu:apic" pairs; a run of CPUs whose APIC ids follow their indices
     * prints as "a-b:c-d", so 288 CPUs stay one short line. */
    size_t Size = (size_t)RkProcessorCount * 24u + 1u;
    char *List = RkTestAllocate(Size);
    size_t Used = 0;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount && Used + 1u < Size;) {
        uint32_t Last = Cpu;
        while (Last + 1u < RkProcessorCount && RkPcr[Last + 1u].ApicId == RkPcr[Last].ApicId + 1u)
            Last++;
        if (Last == Cpu)
            Used += RkFormatString(List + Used, Size - Used, "%s%u:%u", Cpu ? "," : "", Cpu, RkPcr[Cpu].ApicId);
        else
            Used += RkFormatString(List + Used, Size - Used, "%s%u-%u:%u-%u", Cpu ? "," : "", Cpu, Last,
                                   RkPcr[Cpu].ApicId, RkPcr[Last].ApicId);
        Cpu = Last + 1u;
    }
    RkTestReport("smp_boot", Passed, "%u/%u MADT CPUs online (Ke count %u), cpu:apic %s%s%s", Up, Expected,
                 KeQueryProcessorCount(), List, Problem ? "; first problem: " : "", Problem ? Problem : "");
    RkTestFree(List, Size);
    if (Problem != NULL)
        RkPrint("KTEST-INFO smp_boot APIC id %u: %s\n", ProblemApicId, Problem);
}

/* ---- madt: the parse matches QEMU's table (docs/qemu.md) --------------- */

static const HL_MADT_OVERRIDE *RkFindOverride(uint8_t IsaIrq)
{
    for (uint32_t Index = 0; Index < RkMadt.OverrideCount; Index++) {
        if (RkMadt.Overrides[Index].Bus == 0 && RkMadt.Overrides[Index].SourceIrq == IsaIrq)
            return &RkMadt.Overrides[Index];
    }
    return NULL;
}

static void RkTestMadt(void)
{
    const HL_MADT_IOAPIC *IoApic = RkMadt.IoApicCount == 1 ? &RkMadt.IoApics[0] : NULL;
    const HL_MADT_OVERRIDE *Pit = RkFindOverride(0);
    HL_INTERRUPT_LINE Line = {.Bus = HlBusIsa, .Number = 0};
    HL_RESOLVED_LINE Resolved = {0};
    IRQ_STATUS Status = HlPicResolveLine(&Line, &Resolved);

    bool IoApicOk = IoApic != NULL && IoApic->Address == HL_IOAPIC_DEFAULT_BASE && IoApic->GsiBase == 0 &&
                    HlIoApicGetCount() == 1;
    bool PitOk = Pit != NULL && Pit->Gsi == 2 && Status == IRQ_STATUS_SUCCESS && Resolved.Gsi == 2 &&
                 Resolved.Trigger == HlTriggerEdge;
    bool LapicOk = RkMadt.LocalApicAddress == HL_LAPIC_DEFAULT_BASE;
    RkTestReport("madt", IoApicOk && PitOk && LapicOk,
                 "ioapics %u (0x%x gsi %u), IRQ0 -> GSI %u (resolved %u, %s, %s), lapic 0x%lx, %u CPUs, "
                 "%u overrides, %u NMIs",
                 RkMadt.IoApicCount, IoApic ? IoApic->Address : 0, IoApic ? IoApic->GsiBase : 0,
                 Pit ? Pit->Gsi : 0xFFFFFFFFu, Resolved.Gsi, Resolved.Trigger == HlTriggerEdge ? "edge" : "level",
                 IrStatusName(Status), RkMadt.LocalApicAddress, RkMadt.ProcessorCount, RkMadt.OverrideCount,
                 RkMadt.NmiCount);
}

/* ---- smp_ipi: every CPU answers a generic call through the dispatcher ----------- */

static void RkRecordApicId(uint32_t Cpu, void *Context)
{
    uint32_t *Answered = Context;
    if (Cpu < RkProcessorCount)
        __atomic_store_n(&Answered[Cpu], HlLapicReadId() + 1u, __ATOMIC_RELEASE);
}

static void RkTestSmpIpi(void)
{
    size_t Size = (size_t)RkProcessorCount * sizeof(uint32_t);
    uint32_t *AnsweredApicId = RkTestAllocate(Size);
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetAll};
    IRQ_STATUS Status = KeIpiGenericCall(&Target, RkRecordApicId, AnsweredApicId);
    uint32_t Answered = 0;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (__atomic_load_n(&AnsweredApicId[Cpu], __ATOMIC_ACQUIRE) == RkPcr[Cpu].ApicId + 1u)
            Answered++;
    }
    RkTestFree(AnsweredApicId, Size);
    RkTestReport("smp_ipi", Status == IRQ_STATUS_SUCCESS && Answered == RkProcessorCount,
                 "KeIpiGenericCall %s, %u/%u CPUs ran the worker with their own APIC id", IrStatusName(Status),
                 Answered, RkProcessorCount);
}

/* ---- timer: the clock the waits use agrees with the TSC, both ways ---------------- */

#define RK_TIMER_WINDOW_US 50000u
#define RK_TIMER_TOLERANCE_PPM 10000u /* 1 % */
#define RK_TIMER_ATTEMPTS 8u
/* A bracket (TSC ticks around one clock read) wider than this share of the
 * window means a stall hit the read: the attempt is not judged. */
#define RK_TIMER_BRACKET_RATIO 1000u

typedef struct _RK_CLOCK_READ {
    uint64_t Microseconds;
    uint64_t TscBefore, TscAfter;
} RK_CLOCK_READ;

static RK_CLOCK_READ RkReadClock(void)
{
    RK_CLOCK_READ Read;
    Read.TscBefore = RkReadTsc();
    Read.Microseconds = RkQueryMicroseconds();
    Read.TscAfter = RkReadTsc();
    return Read;
}

/* A stall of the window, then the TSC ticks the clock's microseconds were
 * worth, in parts per million of the boot's TSC rate; false when a bracket
 * was too wide to judge. Both counters keep counting while the vCPU is
 * descheduled, so a stall anywhere but inside a bracket changes nothing. */
static bool RkMeasureTscAgainstClock(uint64_t *Ppm, uint64_t *ElapsedUs)
{
    RK_CLOCK_READ Start = RkReadClock();
    RkStallMicroseconds(RK_TIMER_WINDOW_US);
    RK_CLOCK_READ End = RkReadClock();
    uint64_t Tsc = (End.TscBefore + End.TscAfter) / 2u - (Start.TscBefore + Start.TscAfter) / 2u;
    uint64_t Bracket = (Start.TscAfter - Start.TscBefore) + (End.TscAfter - End.TscBefore);
    *ElapsedUs = End.Microseconds - Start.Microseconds;
    if (Bracket * RK_TIMER_BRACKET_RATIO > Tsc || *ElapsedUs == 0)
        return false;
    uint64_t Expected = RkTscPerMillisecond() * *ElapsedUs / 1000u;
    *Ppm = Tsc * 1000000u / Expected;
    return true;
}

/* Every stall lasts at least what it was asked for, by the clock; and the
 * TSC rate measured again now agrees with the boot's within 1 %, which a
 * calibration a descheduled vCPU had stretched or shrunk would not. The
 * line says which clock it is (QEMU's pc and q35 have an HPET; with
 * hpet=off the TSC is the clock and the check compares it with itself,
 * which only proves the stall's lower bound). */
static void RkTestTimer(void)
{
    char Source[160];
    RkTimeSourceDescription(Source, sizeof(Source));
    uint64_t Ppm = 0, ElapsedUs = 0, ShortestUs = UINT64_MAX;
    uint32_t Judged = 0, Agreed = 0;
    for (uint32_t Attempt = 0; Attempt < RK_TIMER_ATTEMPTS && Judged < 3u; Attempt++) {
        uint64_t AttemptPpm;
        bool Usable = RkMeasureTscAgainstClock(&AttemptPpm, &ElapsedUs);
        ShortestUs = ElapsedUs < ShortestUs ? ElapsedUs : ShortestUs;
        if (!Usable)
            continue;
        Judged++;
        Ppm = AttemptPpm;
        Agreed += Ppm + RK_TIMER_TOLERANCE_PPM >= 1000000u && Ppm <= 1000000u + RK_TIMER_TOLERANCE_PPM;
    }
    bool Passed = ShortestUs >= RK_TIMER_WINDOW_US && Judged != 0 && Agreed == Judged;
    RkTestReport("timer", Passed,
                 "%s; %u ms stalls lasted >= %lu us by the clock; TSC over the clock in %u/%u judged windows within "
                 "1%% of the boot's rate (last %lu ppm)",
                 Source, RK_TIMER_WINDOW_US / 1000u, ShortestUs, Agreed, Judged, Ppm);
}

void RkRunTests(void)
{
    RkTestTimer();
    RkTestSmpBoot();
    RkTestMadt();
    RkTestSmpIpi();
    RkRunLineTests();
    RkRunPolicyTests();
    RkRunBadInputTests();
    RkRunRegcheckTest();
    RkTestRemapFault();
    RkTestIgbMsix();
    RkTestStorm();
    RkTestOfflineWhileFiring();
}
