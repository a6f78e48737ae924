/*
 * KTEST cases 3 (lowest_irql) and 5 (round_robin): the per-interrupt
 * policies of a movable interrupt, which Io carries out by re-targeting the
 * MSI or redirection entry after each interrupt (src/io/route.c). QEMU's own
 * lowest-priority delivery does no arbitration (it picks the lowest-numbered
 * APIC of the destination), so this is the only LOWEST there is on that
 * machine.
 *
 * Every interrupt is raised on its own and waited for (the ISR ran and the
 * CPU that ran it finished the dispatch, re-target included), so every
 * interrupt's CPU can be predicted exactly, whatever the host's scheduling
 * does to the vCPUs: edu's MSI, and in case 5 also the PIT's mode 0
 * one-shot (exactly one edge per raise) through a redirection entry. A
 * free-running periodic source (the RTC) would let a vCPU that stalls
 * between its ISR's acknowledge and the re-target take the next period on
 * the old CPU: an order the hardware allows, which the test cannot predict.
 *
 * The CPU sets are the CPUs a device interrupt can reach (APIC ids below
 * 255). Steps whose cost grows with the square of the CPU count (one round
 * of IRQL changes on every CPU per chosen lowest CPU) take a sample of at
 * most KI_TEST_MANY_CPUS CPUs that always holds the first and last of the
 * set and the CPUs at its gaps (KiSampleSet).
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ktest_policy.h"

#define KI_PROBLEM_SIZE 200u

/* Why the edu cases cannot run, or NULL. */
static const char *KiEduMissing(const KI_DEVICE *Edu)
{
    if (Edu == NULL || !Edu->Present)
        return "edu is absent (QEMU needs -device edu)";
    if (Edu->Connected)
        return "edu is still connected by an earlier case";
    return NULL;
}

static IRQ_STATUS KiConnectPolicy(KI_DEVICE *Device, IO_DEVICE_ROUTING Routing, const IR_CPU_SET *Mask)
{
    KI_DEVICE_ROUTING DeviceRouting = {.Routing = Routing, .Cpu = IR_CPU_NONE};
    IrCpuSetCopy(&DeviceRouting.Mask, Mask);
    IRQ_STATUS Status = KiDeviceConnect(Device, &DeviceRouting);
    if (Status == IRQ_STATUS_SUCCESS && Device->Id == KiDeviceEdu)
        Status = KiDeviceStart(Device, 0);
    if (Status != IRQ_STATUS_SUCCESS && Device->Connected)
        (void)KiDeviceDisconnect(Device);
    return Status;
}

/* ======================================================================== */
/* Case 3: lowest_irql                                                      */
/* ======================================================================== */

#define KI_LOWEST_PER_ROUND 3u
#define KI_LOWEST_PAIR_INTERRUPTS 4u
/* Levels a held CPU may take: below the IPI that wakes the hold loop. */
#define KI_LOWEST_MAX_LEVEL (CLOCK_LEVEL - 1u)

typedef struct _KI_LOWEST_RUN {
    KI_DEVICE *Edu;
    KINTERRUPT *Interrupt;
    KI_ISR_LOG Log;
    IR_CPU_SET Mask;   /* the reachable CPUs: the route's set */
    IR_CPU_SET Rounds; /* the CPUs made the unique lowest, one round each */
    KIRQL *Levels;     /* KiProcessorCount entries */
    uint32_t Interrupts;
    char Problem[KI_PROBLEM_SIZE];
} KI_LOWEST_RUN;

static KI_LOWEST_RUN KiLowest;

/* The CPU LOWEST must send the next interrupt to after one on Previous: the
 * CPU of the mask at the lowest level; among equals the first after
 * Previous in the mask's cyclic order, Previous itself last ("ties
 * rotate", io.h). */
static uint32_t KiExpectedLowest(const KI_LOWEST_RUN *Run, uint32_t Previous)
{
    uint32_t Best = Previous;
    uint32_t BestLevel = KE_IRQL_COUNT;
    uint32_t Cpu = Previous;
    do {
        Cpu = IrCpuSetNextWrap(&Run->Mask, Cpu + 1u);
        if (Run->Levels[Cpu] < BestLevel) {
            Best = Cpu;
            BestLevel = Run->Levels[Cpu];
        }
    } while (Cpu != Previous && Cpu != IR_CPU_NONE);
    return Best;
}

/* Takes Run->Levels on every CPU, then raises Count + 1 interrupts one at a
 * time. The first goes where the route points already (chosen under the
 * previous levels, IoQueryInterruptTarget); every later one must run on
 * KiExpectedLowest(CPU of the one before), and the TPR its ISR reads must
 * be that CPU's held level. */
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
                           "%s interrupt %u: expected one ISR run on cpu %u, the log has %u (room for %u) after %u "
                           "raised",
                           Round, Index, Expected, KiIsrLogCount(&Run->Log), Run->Log.Capacity, Run->Interrupts + 1u);
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
        Expected = KiExpectedLowest(Run, Record.Cpu);
    }
    return true;
}

/* Level for every CPU of the mask; the others stay as they are. */
static void KiSetMaskLevels(KI_LOWEST_RUN *Run, KIRQL Level)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        Run->Levels[Cpu] = IrCpuSetContains(&Run->Mask, Cpu) ? Level : KI_HOLD_UNCHANGED;
}

/* Every CPU at DISPATCH_LEVEL: a tie over all, which must rotate through
 * the whole mask (twice with few CPUs, once and a bit with many). */
static bool KiLowestTieAll(KI_LOWEST_RUN *Run, uint32_t Count)
{
    KiSetMaskLevels(Run, DISPATCH_LEVEL);
    return KiLowestRound(Run, "tie over all at DISPATCH", Count);
}

/* One round per CPU of Run->Rounds, that CPU alone at the lowest level
 * (0). The route's current CPU gets level 1, so the first interrupt of the
 * round, still sent there, is accepted (every device IRQL is above 1); the
 * other CPUs of the mask take rising levels in the mask's cyclic order from
 * the lowest one, up to KI_LOWEST_MAX_LEVEL. */
static bool KiLowestUniqueRounds(KI_LOWEST_RUN *Run)
{
    uint32_t Lowest;
    IR_CPU_SET_FOR_EACH(Lowest, &Run->Rounds) {
        uint32_t Current;
        if (IoQueryInterruptTarget(Run->Interrupt, &Current, NULL) != IRQ_STATUS_SUCCESS)
            Current = Lowest;
        KiSetMaskLevels(Run, KI_LOWEST_MAX_LEVEL);
        uint32_t Level = 2, Cpu = Lowest;
        do {
            Cpu = IrCpuSetNextWrap(&Run->Mask, Cpu + 1u);
            if (Cpu != Lowest && Cpu != Current) {
                Run->Levels[Cpu] = (KIRQL)(Level < KI_LOWEST_MAX_LEVEL ? Level : KI_LOWEST_MAX_LEVEL);
                Level++;
            }
        } while (Cpu != Lowest);
        Run->Levels[Current] = 1;
        Run->Levels[Lowest] = 0;
        if (!KiLowestRound(Run, "unique lowest", KI_LOWEST_PER_ROUND))
            return false;
    }
    return true;
}

/* Two CPUs tie at APC_LEVEL below the others at DISPATCH_LEVEL: the
 * interrupts alternate between the two and never go elsewhere. The pair is
 * the mask's second CPU (its first with fewer than three) and its last. */
static void KiLowestPair(const KI_LOWEST_RUN *Run, uint32_t *First, uint32_t *Second)
{
    *First = IrCpuSetFirst(&Run->Mask);
    if (IrCpuSetWeight(&Run->Mask) >= 3u)
        *First = IrCpuSetNext(&Run->Mask, *First);
    *Second = *First;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Run->Mask)
        *Second = Cpu;
}

static bool KiLowestTiePair(KI_LOWEST_RUN *Run)
{
    uint32_t First, Second;
    KiLowestPair(Run, &First, &Second);
    KiSetMaskLevels(Run, DISPATCH_LEVEL);
    Run->Levels[First] = APC_LEVEL;
    Run->Levels[Second] = APC_LEVEL;
    return KiLowestRound(Run, "tie of two at APC", KI_LOWEST_PAIR_INTERRUPTS);
}

static bool KiLowestRun(KI_LOWEST_RUN *Run, uint32_t TieCount)
{
    Run->Interrupt = Run->Edu->Connection.Interrupts[0];
    KiIsrLogAttach(Run->Edu, &Run->Log);
    if (!KiHoldEnterAll()) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "an AP did not enter its hold loop");
        return false;
    }
    bool Passed = KiLowestTieAll(Run, TieCount) && KiLowestUniqueRounds(Run) && KiLowestTiePair(Run);
    KiHoldReleaseAll();
    if (Passed && Run->Log.WrongApicId != 0) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%u ISR runs read a LAPIC id not their CPU's",
                       Run->Log.WrongApicId);
        Passed = false;
    }
    return Passed;
}

static void KiLowestReport(KI_LOWEST_RUN *Run, bool Passed, KIRQL DeviceIrql)
{
    uint32_t First, Second;
    KiLowestPair(Run, &First, &Second);
    char MaskText[64], RoundsText[96];
    KiFormatCpuSet(&Run->Mask, MaskText, sizeof(MaskText));
    KiFormatCpuSet(&Run->Rounds, RoundsText, sizeof(RoundsText));
    if (Passed)
        KiTestReport("lowest_irql", true,
                     "edu MSI (IRQL %u) over the %u CPUs a device interrupt reaches %s, held at chosen IRQLs: %u "
                     "interrupts, each run on the CPU expected (LAPIC id and TPR read in the ISR): tie at DISPATCH "
                     "rotated, unique lowest of distinct levels followed cpus %s, tie of cpus %u,%u at APC "
                     "alternated",
                     DeviceIrql, IrCpuSetWeight(&Run->Mask), MaskText, Run->Interrupts, RoundsText, First, Second);
    else
        KiTestReport("lowest_irql", false, "%s", Run->Problem);
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
    uint32_t Reachable = KiReachableSet(&Run->Mask);
    if (Reachable < 2u) {
        KiTestReport("lowest_irql", true, "not applicable: %u CPU(s) a device interrupt reaches", Reachable);
        return;
    }
    KiSampleSet(&Run->Mask, KI_TEST_MANY_CPUS, &Run->Rounds);
    uint32_t TieCount = Reachable <= KI_TEST_MANY_CPUS ? 2u * Reachable : Reachable + 2u;
    uint32_t Capacity = (TieCount + 1u) + IrCpuSetWeight(&Run->Rounds) * (KI_LOWEST_PER_ROUND + 1u) +
                        (KI_LOWEST_PAIR_INTERRUPTS + 1u);
    KiIsrLogCreate(&Run->Log, Capacity);
    Run->Levels = KiTestAllocate(KiProcessorCount * sizeof(KIRQL));
    IRQ_STATUS Status = KiConnectPolicy(Run->Edu, IoDeviceLowest, &Run->Mask);
    bool Passed = false;
    KIRQL DeviceIrql = 0;
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "connecting edu IoDeviceLowest: %s", IrStatusName(Status));
    } else {
        DeviceIrql = KeGetInterruptIrql(Run->Edu->Connection.Interrupts[0]);
        Passed = KiLowestRun(Run, TieCount);
        KiIsrLogDetach(Run->Edu);
        Status = KiDeviceDisconnect(Run->Edu);
        if (Passed && Status != IRQ_STATUS_SUCCESS) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "KiDeviceDisconnect %s", IrStatusName(Status));
            Passed = false;
        }
    }
    KiLowestReport(Run, Passed, DeviceIrql);
    KiTestFree(Run->Levels, KiProcessorCount * sizeof(KIRQL));
    KiIsrLogDestroy(&Run->Log);
}

/* ======================================================================== */
/* Case 5: round_robin                                                      */
/* ======================================================================== */

/* k interrupts per CPU of the set: 4 with few CPUs, 2 with many (each
 * still sees the rotation come back to it). */
#define KI_ROUND_ROBIN_ROUNDS 4u
#define KI_ROUND_ROBIN_ROUNDS_MANY 2u

typedef struct _KI_ROUND_ROBIN_RUN {
    KI_ISR_LOG Log;
    uint32_t *Got; /* KiProcessorCount entries */
    uint32_t Rounds;
    char Problem[KI_PROBLEM_SIZE];
} KI_ROUND_ROBIN_RUN;

static KI_ROUND_ROBIN_RUN KiRoundRobin;

/* Every logged run is in Mask and follows the one before it in the
 * mask's cyclic order; fills Got per CPU. */
static bool KiCheckCyclicOrder(KI_ROUND_ROBIN_RUN *Run, const IR_CPU_SET *Mask, const char *Source)
{
    uint32_t Count = KiIsrLogCount(&Run->Log);
    memset(Run->Got, 0, KiProcessorCount * sizeof(uint32_t));
    for (uint32_t Index = 0; Index < Count && Index < Run->Log.Capacity; Index++) {
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

/* Rounds x n interrupts of Device, one at a time: each CPU of the mask got
 * exactly Rounds, in the mask's cyclic order. */
static bool KiRoundRobinOver(KI_ROUND_ROBIN_RUN *Run, KI_DEVICE *Device, const IR_CPU_SET *Mask)
{
    char MaskText[64];
    KiFormatCpuSet(Mask, MaskText, sizeof(MaskText));
    IRQ_STATUS Status = KiConnectPolicy(Device, IoDeviceRoundRobin, Mask);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%s over %s: connect %s", Device->Name, MaskText,
                       IrStatusName(Status));
        return false;
    }
    KiDeviceResetCounts(Device);
    KiIsrLogAttach(Device, &Run->Log);
    uint32_t Total = Run->Rounds * IrCpuSetWeight(Mask);
    bool Raised = true;
    for (uint32_t Index = 0; Index < Total && Raised; Index++) {
        KI_ISR_RECORD Record;
        Raised = KiRaiseAndLog(Device, &Run->Log, &Record);
    }
    KiIsrLogDetach(Device);
    Status = KiDeviceDisconnect(Device);
    if (!Raised || Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%s over %s: %u of %u interrupts logged, disconnect %s",
                       Device->Name, MaskText, KiIsrLogCount(&Run->Log), Total, IrStatusName(Status));
        return false;
    }
    if (!KiCheckCyclicOrder(Run, Mask, Device->Name) || !KiCheckDeviceCounts(Run, Device, Device->Name))
        return false;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Mask) {
        if (Run->Got[Cpu] != Run->Rounds) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "%s over %s: cpu %u got %u of %u, expected %u",
                           Device->Name, MaskText, Cpu, Run->Got[Cpu], Total, Run->Rounds);
            return false;
        }
    }
    return true;
}

void KiTestRoundRobin(void)
{
    KI_ROUND_ROBIN_RUN *Run = &KiRoundRobin;
    memset(Run, 0, sizeof(*Run));
    KI_DEVICE *Edu = KiDeviceGet(KiDeviceEdu);
    KI_DEVICE *Pit = KiDeviceGet(KiDevicePit);
    const char *Missing = KiEduMissing(Edu);
    if (Missing != NULL) {
        KiTestReport("round_robin", false, "%s", Missing);
        return;
    }
    IR_CPU_SET All, Aps;
    uint32_t Reachable = KiReachableSet(&All);
    IrCpuSetCopy(&Aps, &All);
    IrCpuSetRemove(&Aps, 0);
    if (IrCpuSetIsEmpty(&Aps))
        IrCpuSetAdd(&Aps, 0);
    Run->Rounds = Reachable <= KI_TEST_MANY_CPUS ? KI_ROUND_ROBIN_ROUNDS : KI_ROUND_ROBIN_ROUNDS_MANY;
    KiIsrLogCreate(&Run->Log, Run->Rounds * Reachable);
    Run->Got = KiTestAllocate(KiProcessorCount * sizeof(uint32_t));
    char AllText[64], ApsText[64];
    KiFormatCpuSet(&All, AllText, sizeof(AllText));
    KiFormatCpuSet(&Aps, ApsText, sizeof(ApsText));
    bool Passed = KiRoundRobinOver(Run, Edu, &All) && KiRoundRobinOver(Run, Edu, &Aps) &&
                  KiRoundRobinOver(Run, Pit, &All);
    if (Passed)
        KiTestReport("round_robin", true,
                     "edu MSI one at a time: %u x %u interrupts over the CPUs a device interrupt reaches %s and %u x "
                     "%u over %s; PIT one-shots through its redirection entry (GSI 2): %u x %u over %s; each CPU got "
                     "exactly "
                     "%u, in cyclic order",
                     Run->Rounds, Reachable, AllText, Run->Rounds, IrCpuSetWeight(&Aps), ApsText, Run->Rounds,
                     Reachable, AllText, Run->Rounds);
    else
        KiTestReport("round_robin", false, "%s", Run->Problem);
    KiTestFree(Run->Got, KiProcessorCount * sizeof(uint32_t));
    KiIsrLogDestroy(&Run->Log);
}
