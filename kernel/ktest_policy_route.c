/*
 * KTEST cases 3 (lowest_irql) and 5 (round_robin): the per-interrupt
 * policies of a movable interrupt, which Io carries out by re-targeting the
 * MSI or redirection entry after each interrupt (src/io/route.c). QEMU 7.2's
 * own lowest-priority delivery does no arbitration (shared/qemu-notes.md),
 * so this is the only LOWEST there is on that machine.
 *
 * The source is the edu device's MSI, raised one interrupt at a time and
 * waited for, so every interrupt's CPU can be predicted exactly; case 5
 * adds the RTC's periodic interrupt, where only the stopping point is
 * uncertain (one interrupt more or less on some CPUs).
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ktest_policy.h"

#define KI_PROBLEM_SIZE 200u

/* ======================================================================== */
/* Case 3: lowest_irql                                                      */
/* ======================================================================== */

#define KI_LOWEST_PER_ROUND 3u
/* Levels a held CPU may take: below the IPI that wakes the hold loop. */
#define KI_LOWEST_MAX_LEVEL (CLOCK_LEVEL - 1u)

typedef struct _KI_LOWEST_RUN {
    KI_DEVICE *Edu;
    KINTERRUPT *Interrupt;
    KI_ISR_LOG Log;
    KIRQL Levels[KI_MAX_CPUS];
    uint32_t Interrupts;
    char Targets[64]; /* the unique-lowest rounds' CPUs, for the report */
    char Problem[KI_PROBLEM_SIZE];
} KI_LOWEST_RUN;

static KI_LOWEST_RUN KiLowest;

/* The CPU LOWEST must send the next interrupt to after one on Previous: the
 * CPU (of all CPUs, the mask here) at the lowest level; among equals the
 * first after Previous in cyclic order, Previous itself last ("ties
 * rotate", io.h). */
static uint32_t KiExpectedLowest(const KIRQL *Levels, uint32_t Previous)
{
    uint32_t Best = Previous;
    uint32_t BestLevel = KE_IRQL_COUNT;
    for (uint32_t Step = 1; Step <= KiProcessorCount; Step++) {
        uint32_t Cpu = (Previous + Step) % KiProcessorCount;
        if (Levels[Cpu] < BestLevel) {
            Best = Cpu;
            BestLevel = Levels[Cpu];
        }
    }
    return Best;
}

/* Takes Run->Levels on every CPU, then raises Count + 1 interrupts one at a
 * time. The first goes where the route points already (chosen under the
 * previous levels, IoQueryInterruptTarget); every later one must run on
 * KiExpectedLowest(levels, CPU of the one before), and the TPR its ISR
 * reads must be that CPU's held level. */
static bool KiLowestRound(KI_LOWEST_RUN *Run, const char *Round, uint32_t Count)
{
    if (!KiHoldSetLevels(Run->Levels)) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: the CPUs did not all reach their levels", Round);
        return false;
    }
    uint32_t Expected;
    IRQ_STATUS Status = IoQueryInterruptTarget(Run->Interrupt, &Expected, NULL);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: IoQueryInterruptTarget %s", Round,
                       IrStatusName(Status));
        return false;
    }
    for (uint32_t Index = 0; Index <= Count; Index++) {
        KI_ISR_RECORD Record;
        if (!KiRaiseAndLog(Run->Edu, &Run->Log, &Record)) {
            KiFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s interrupt %u: expected one ISR run on cpu %u, the log has %u after %u raised", Round,
                           Index, Expected, KiIsrLogCount(&Run->Log), Run->Interrupts + 1u);
            return false;
        }
        Run->Interrupts++;
        uint8_t ExpectedTpr = KeAmd64VectorLayout.TprOfIrql[Run->Levels[Expected]];
        if (Record.Cpu != Expected || Record.Tpr != ExpectedTpr) {
            KiFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s interrupt %u: ISR ran on cpu %u (LAPIC id %u, TPR 0x%x), expected cpu %u at IRQL %u "
                           "(TPR 0x%x)",
                           Round, Index, Record.Cpu, Record.ApicId, Record.Tpr, Expected, Run->Levels[Expected],
                           ExpectedTpr);
            return false;
        }
        Expected = KiExpectedLowest(Run->Levels, Record.Cpu);
    }
    return true;
}

static void KiSetAllLevels(KIRQL *Levels, KIRQL Level)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        Levels[Cpu] = Level;
}

/* Every CPU at DISPATCH_LEVEL: a tie over all, which must rotate. */
static bool KiLowestTieAll(KI_LOWEST_RUN *Run)
{
    KiSetAllLevels(Run->Levels, DISPATCH_LEVEL);
    return KiLowestRound(Run, "tie over all at DISPATCH", 2u * KiProcessorCount);
}

/* One round per CPU, each CPU at a distinct level and one of them alone at
 * the lowest. The round's lowest CPU is the one before the route's current
 * CPU, which gets level 1: the first interrupt of the round, still sent
 * there, is then accepted (every device IRQL is above 1), whatever the
 * device's IRQL is and however high the other CPUs sit. */
static bool KiLowestUniqueRounds(KI_LOWEST_RUN *Run)
{
    size_t Used = 0;
    for (uint32_t Round = 0; Round < KiProcessorCount; Round++) {
        uint32_t Current;
        if (IoQueryInterruptTarget(Run->Interrupt, &Current, NULL) != IRQ_STATUS_SUCCESS)
            Current = 0;
        uint32_t Lowest = (Current + KiProcessorCount - 1u) % KiProcessorCount;
        for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
            uint32_t Level = (Cpu + KiProcessorCount - Lowest) % KiProcessorCount;
            Run->Levels[Cpu] = (KIRQL)(Level < KI_LOWEST_MAX_LEVEL ? Level : KI_LOWEST_MAX_LEVEL);
        }
        if (Used < sizeof(Run->Targets))
            Used += KiFormatString(Run->Targets + Used, sizeof(Run->Targets) - Used, "%s%u", Round ? "," : "",
                                   Lowest);
        if (!KiLowestRound(Run, "unique lowest", KI_LOWEST_PER_ROUND))
            return false;
    }
    return true;
}

/* Two CPUs tie at APC_LEVEL below the others at DISPATCH_LEVEL: the
 * interrupts alternate between the two and never go elsewhere. */
static void KiLowestPair(uint32_t *First, uint32_t *Second)
{
    *First = KiProcessorCount >= 3u ? 1u : 0u;
    *Second = KiProcessorCount - 1u;
}

static bool KiLowestTiePair(KI_LOWEST_RUN *Run)
{
    uint32_t First, Second;
    KiLowestPair(&First, &Second);
    KiSetAllLevels(Run->Levels, DISPATCH_LEVEL);
    Run->Levels[First] = APC_LEVEL;
    Run->Levels[Second] = APC_LEVEL;
    return KiLowestRound(Run, "tie of two at APC", 4u);
}

static IRQ_STATUS KiConnectEdu(KI_DEVICE *Edu, IO_DEVICE_ROUTING Routing, const IR_CPU_SET *Mask)
{
    KI_DEVICE_ROUTING DeviceRouting = {.Routing = Routing, .Cpu = IR_CPU_NONE};
    IrCpuSetCopy(&DeviceRouting.Mask, Mask);
    IRQ_STATUS Status = KiDeviceConnect(Edu, &DeviceRouting);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KiDeviceStart(Edu, 0);
    if (Status != IRQ_STATUS_SUCCESS && Edu->Connected)
        (void)KiDeviceDisconnect(Edu);
    return Status;
}

/* Why the edu cases cannot run, or NULL. */
static const char *KiEduMissing(const KI_DEVICE *Edu)
{
    if (Edu == NULL || !Edu->Present)
        return "edu is absent (QEMU needs -device edu)";
    if (Edu->Connected)
        return "edu is still connected by an earlier case";
    return NULL;
}

static bool KiLowestRun(KI_LOWEST_RUN *Run)
{
    Run->Interrupt = Run->Edu->Connection.Interrupts[0];
    KiIsrLogAttach(Run->Edu, &Run->Log);
    if (!KiHoldEnterAll()) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "an AP did not enter its hold loop");
        return false;
    }
    bool Passed = KiLowestTieAll(Run) && KiLowestUniqueRounds(Run) && KiLowestTiePair(Run);
    KiHoldReleaseAll();
    if (Passed && Run->Log.WrongApicId != 0) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%u ISR runs read a LAPIC id not their CPU's",
                       Run->Log.WrongApicId);
        Passed = false;
    }
    return Passed;
}

void KiTestLowestIrql(void)
{
    KI_LOWEST_RUN *Run = &KiLowest;
    memset(Run, 0, sizeof(*Run));
    Run->Edu = KiDeviceGet(KiDeviceEdu);
    const char *Missing = KiEduMissing(Run->Edu);
    if (Missing != NULL) {
        KiTestReport("lowest_irql", false, "%s", Missing);
        return;
    }
    if (KiProcessorCount < 2u) {
        KiTestReport("lowest_irql", true, "not applicable: one CPU");
        return;
    }
    IR_CPU_SET All;
    KiOnlineSet(&All);
    IRQ_STATUS Status = KiConnectEdu(Run->Edu, IoDeviceLowest, &All);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiTestReport("lowest_irql", false, "connecting edu IoDeviceLowest: %s", IrStatusName(Status));
        return;
    }
    KIRQL DeviceIrql = KeGetInterruptIrql(Run->Edu->Connection.Interrupts[0]);
    bool Passed = KiLowestRun(Run);
    KiIsrLogDetach(Run->Edu);
    Status = KiDeviceDisconnect(Run->Edu);
    uint32_t First, Second;
    KiLowestPair(&First, &Second);
    if (Passed && Status != IRQ_STATUS_SUCCESS)
        KiFormatString(Run->Problem, sizeof(Run->Problem), "KiDeviceDisconnect %s", IrStatusName(Status));
    if (Passed && Status == IRQ_STATUS_SUCCESS)
        KiTestReport("lowest_irql", true,
                     "edu MSI (IRQL %u) over %u CPUs held at chosen IRQLs: %u interrupts, each run on the CPU "
                     "expected (LAPIC id and TPR read in the ISR): tie at DISPATCH rotated, unique lowest of "
                     "distinct levels followed cpus %s, tie of cpus %u,%u at APC alternated",
                     DeviceIrql, KiProcessorCount, Run->Interrupts, Run->Targets, First, Second);
    else
        KiTestReport("lowest_irql", false, "%s", Run->Problem);
}

/* ======================================================================== */
/* Case 5: round_robin                                                      */
/* ======================================================================== */

#define KI_ROUND_ROBIN_ROUNDS 4u
/* RTC periodic: interrupts per CPU of the set before stopping, and rate. */
#define KI_ROUND_ROBIN_RTC_PER_CPU 8u
/* The RTC asserts again one period after its ISR read register C, while
 * the router re-targets after the ISR returns: the period must leave the
 * re-target time to finish (microseconds, but a TCG vCPU thread can be
 * descheduled for milliseconds) or an interrupt lands on the old CPU. */
#define KI_ROUND_ROBIN_RTC_HZ 64u
#define KI_ROUND_ROBIN_RTC_TIMEOUT_MS 6000u
#define KI_ROUND_ROBIN_QUIET_MS 20u

typedef struct _KI_ROUND_ROBIN_RUN {
    KI_ISR_LOG Log;
    uint32_t Got[KI_MAX_CPUS];
    char Problem[KI_PROBLEM_SIZE];
} KI_ROUND_ROBIN_RUN;

static KI_ROUND_ROBIN_RUN KiRoundRobin;

/* Every logged run is in Mask and follows the one before it in the
 * mask's cyclic order; fills Got per CPU. */
static bool KiCheckCyclicOrder(KI_ROUND_ROBIN_RUN *Run, const IR_CPU_SET *Mask, const char *Source)
{
    uint32_t Count = KiIsrLogCount(&Run->Log);
    memset(Run->Got, 0, sizeof(Run->Got));
    for (uint32_t Index = 0; Index < Count && Index < KI_ISR_LOG_SIZE; Index++) {
        uint32_t Cpu = Run->Log.Records[Index].Cpu;
        uint32_t Expected = Index == 0 ? Cpu : IrCpuSetNextWrap(Mask, Run->Log.Records[Index - 1u].Cpu + 1u);
        if (!IrCpuSetContains(Mask, Cpu) || Cpu != Expected) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "%s interrupt %u ran on cpu %u, expected cpu %u",
                           Source, Index, Cpu, Expected);
            return false;
        }
        Run->Got[Cpu]++;
    }
    if (Run->Log.WrongApicId != 0) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: %u ISR runs read a LAPIC id not their CPU's",
                       Source, Run->Log.WrongApicId);
        return false;
    }
    return true;
}

/* The device's own per-CPU counts agree with the log. */
static bool KiCheckDeviceCounts(KI_ROUND_ROBIN_RUN *Run, const KI_DEVICE *Device, const char *Source)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (Device->Count[Cpu] != Run->Got[Cpu]) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: device counts %lu on cpu %u, its ISR log %u",
                           Source, (uint64_t)Device->Count[Cpu], Cpu, Run->Got[Cpu]);
            return false;
        }
    }
    return true;
}

/* k*n edu interrupts, one at a time: each CPU of the mask got exactly k. */
static bool KiRoundRobinEdu(KI_ROUND_ROBIN_RUN *Run, KI_DEVICE *Edu, const IR_CPU_SET *Mask)
{
    char MaskText[64];
    KiFormatCpuSet(Mask, MaskText, sizeof(MaskText));
    IRQ_STATUS Status = KiConnectEdu(Edu, IoDeviceRoundRobin, Mask);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "edu over %s: connect %s", MaskText, IrStatusName(Status));
        return false;
    }
    KiDeviceResetCounts(Edu);
    KiIsrLogAttach(Edu, &Run->Log);
    uint32_t Total = KI_ROUND_ROBIN_ROUNDS * IrCpuSetWeight(Mask);
    bool Raised = true;
    for (uint32_t Index = 0; Index < Total && Raised; Index++) {
        KI_ISR_RECORD Record;
        Raised = KiRaiseAndLog(Edu, &Run->Log, &Record);
    }
    KiIsrLogDetach(Edu);
    Status = KiDeviceDisconnect(Edu);
    if (!Raised || Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "edu over %s: %u of %u interrupts logged, disconnect %s",
                       MaskText, KiIsrLogCount(&Run->Log), Total, IrStatusName(Status));
        return false;
    }
    if (!KiCheckCyclicOrder(Run, Mask, "edu") || !KiCheckDeviceCounts(Run, Edu, "edu"))
        return false;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Mask) {
        if (Run->Got[Cpu] != KI_ROUND_ROBIN_ROUNDS) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "edu over %s: cpu %u got %u of %u, expected %u",
                           MaskText, Cpu, Run->Got[Cpu], Total, KI_ROUND_ROBIN_ROUNDS);
            return false;
        }
    }
    return true;
}

static bool KiLogHasAtLeast(void *Context)
{
    const KI_ROUND_ROBIN_RUN *Run = Context;
    return KiIsrLogCount(&Run->Log) >= KI_ROUND_ROBIN_RTC_PER_CPU * KiProcessorCount;
}

/* The RTC's periodic interrupt over every CPU: the order is as exact as
 * edu's (one interrupt at a time: the RTC asserts again only after its ISR
 * read register C, and at this rate long after the re-target), but the
 * stop lands anywhere in a cycle, so the counts differ by at most one. */
static bool KiRoundRobinRtc(KI_ROUND_ROBIN_RUN *Run, uint32_t *Spread)
{
    KI_DEVICE *Rtc = KiDeviceGet(KiDeviceRtc);
    KI_DEVICE_ROUTING Routing = {.Routing = IoDeviceRoundRobin, .Cpu = IR_CPU_NONE};
    KiOnlineSet(&Routing.Mask);
    IRQ_STATUS Status = Rtc != NULL ? KiDeviceConnect(Rtc, &Routing) : IRQ_STATUS_NOT_SUPPORTED;
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "rtc round robin: connect %s", IrStatusName(Status));
        return false;
    }
    KiDeviceResetCounts(Rtc);
    KiIsrLogAttach(Rtc, &Run->Log);
    Status = KiDeviceStart(Rtc, KI_ROUND_ROBIN_RTC_HZ);
    bool Reached = Status == IRQ_STATUS_SUCCESS && KiWaitFor(KiLogHasAtLeast, Run, KI_ROUND_ROBIN_RTC_TIMEOUT_MS);
    (void)KiDeviceStop(Rtc);
    KiStallMilliseconds(KI_ROUND_ROBIN_QUIET_MS);
    KiIsrLogDetach(Rtc);
    IRQ_STATUS Disconnected = KiDeviceDisconnect(Rtc);
    if (!Reached || Disconnected != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "rtc round robin: start %s, %u interrupts, disconnect %s",
                       IrStatusName(Status), KiIsrLogCount(&Run->Log), IrStatusName(Disconnected));
        return false;
    }
    if (!KiCheckCyclicOrder(Run, &Routing.Mask, "rtc") || !KiCheckDeviceCounts(Run, Rtc, "rtc"))
        return false;
    uint32_t Least = UINT32_MAX, Most = 0;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        Least = Run->Got[Cpu] < Least ? Run->Got[Cpu] : Least;
        Most = Run->Got[Cpu] > Most ? Run->Got[Cpu] : Most;
    }
    *Spread = Most - Least;
    if (*Spread > 1u) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "rtc round robin: counts from %u to %u", Least, Most);
        return false;
    }
    return true;
}

void KiTestRoundRobin(void)
{
    KI_ROUND_ROBIN_RUN *Run = &KiRoundRobin;
    memset(Run, 0, sizeof(*Run));
    KI_DEVICE *Edu = KiDeviceGet(KiDeviceEdu);
    const char *Missing = KiEduMissing(Edu);
    if (Missing != NULL) {
        KiTestReport("round_robin", false, "%s", Missing);
        return;
    }
    IR_CPU_SET All, Aps;
    KiOnlineSet(&All);
    IrCpuSetCopy(&Aps, &All);
    IrCpuSetRemove(&Aps, 0);
    if (IrCpuSetIsEmpty(&Aps))
        IrCpuSetAdd(&Aps, 0);
    char ApsText[64];
    KiFormatCpuSet(&Aps, ApsText, sizeof(ApsText));
    uint32_t RtcSpread = 0;
    bool Passed = KiRoundRobinEdu(Run, Edu, &All) && KiRoundRobinEdu(Run, Edu, &Aps) &&
                  KiRoundRobinRtc(Run, &RtcSpread);
    if (Passed)
        KiTestReport("round_robin", true,
                     "edu MSI one at a time: %u x %u interrupts over all CPUs and %u x %u over %s, each CPU got "
                     "exactly %u, in cyclic order; RTC periodic %u Hz over all: cyclic order, counts within %u "
                     "(+-1 allowed: the stop lands mid-cycle)",
                     KI_ROUND_ROBIN_ROUNDS, KiProcessorCount, KI_ROUND_ROBIN_ROUNDS, IrCpuSetWeight(&Aps), ApsText,
                     KI_ROUND_ROBIN_ROUNDS, KI_ROUND_ROBIN_RTC_HZ, RtcSpread);
    else
        KiTestReport("round_robin", false, "%s", Run->Problem);
}
