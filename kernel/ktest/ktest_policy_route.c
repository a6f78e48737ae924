/* SPDX-License-Identifier: MIT */
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
 * most RK_TEST_MANY_CPUS CPUs that always holds the first and last of the
 * set and the CPUs at its gaps (RkSampleSet).
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ktest.h"
#include "ktest_policy.h"

#define RK_PROBLEM_SIZE 200u

/* Why the edu cases cannot run, or NULL. */
static const char *RkEduMissing(const RK_DEVICE *Edu)
{
    if (Edu == NULL || !Edu->Present)
        return "edu is absent (QEMU needs -device edu)";
    if (Edu->Connected)
        return "edu is still connected by an earlier case";
    return NULL;
}

static IRQ_STATUS RkConnectPolicy(RK_DEVICE *Device, IO_DEVICE_ROUTING Routing, const IR_CPU_SET *Mask)
{
    RK_DEVICE_ROUTING DeviceRouting = {.Routing = Routing, .Cpu = IR_CPU_NONE};
    IrCpuSetCopy(&DeviceRouting.Mask, Mask);
    IRQ_STATUS Status = RkDeviceConnect(Device, &DeviceRouting);
    if (Status == IRQ_STATUS_SUCCESS && Device->Id == RkDeviceEdu)
        Status = RkDeviceStart(Device, 0);
    if (Status != IRQ_STATUS_SUCCESS && Device->Connected)
        (void)RkDeviceDisconnect(Device);
    return Status;
}

/* ======================================================================== */
/* Case 3: lowest_irql                                                      */
/* ======================================================================== */

#define RK_LOWEST_PER_ROUND 3u
#define RK_LOWEST_PAIR_INTERRUPTS 4u
/* Levels a held CPU may take: below the IPI that wakes the hold loop. */
#define RK_LOWEST_MAX_LEVEL (CLOCK_LEVEL - 1u)

typedef struct _RK_LOWEST_RUN {
    RK_DEVICE *Edu;
    KINTERRUPT *Interrupt;
    RK_ISR_LOG Log;
    IR_CPU_SET Mask;   /* the reachable CPUs: the route's set */
    IR_CPU_SET Rounds; /* the CPUs made the unique lowest, one round each */
    KIRQL *Levels;     /* RkProcessorCount entries */
    uint32_t Interrupts;
    char Problem[RK_PROBLEM_SIZE];
} RK_LOWEST_RUN;

static RK_LOWEST_RUN RkLowest;

/* The CPU LOWEST must send the next interrupt to after one on Previous: the
 * CPU of the mask at the lowest level; among equals the first after
 * Previous in the mask's cyclic order, Previous itself last ("ties
 * rotate", io.h). */
static uint32_t RkExpectedLowest(const RK_LOWEST_RUN *Run, uint32_t Previous)
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
 * RkExpectedLowest(CPU of the one before), and the TPR its ISR reads must
 * be that CPU's held level. */
static bool RkLowestRound(RK_LOWEST_RUN *Run, const char *Round, uint32_t Count)
{
    if (!RkHoldSetLevels(Run->Levels)) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: the CPUs did not all reach their levels", Round);
        return false;
    }
    uint32_t Expected;
    IRQ_STATUS Status = IoQueryInterruptTarget(Run->Interrupt, &Expected, NULL);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: IoQueryInterruptTarget %s", Round,
                       IrStatusName(Status));
        return false;
    }
    for (uint32_t Index = 0; Index <= Count; Index++) {
        RK_ISR_RECORD Record;
        if (!RkRaiseAndLog(Run->Edu, &Run->Log, &Record)) {
            RkFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s interrupt %u: expected one ISR run on cpu %u, the log has %u (room for %u) after %u "
                           "raised",
                           Round, Index, Expected, RkIsrLogCount(&Run->Log), Run->Log.Capacity, Run->Interrupts + 1u);
            return false;
        }
        Run->Interrupts++;
        uint8_t ExpectedTpr = KeAmd64VectorLayout.TprOfIrql[Run->Levels[Expected]];
        if (Record.Cpu != Expected || Record.Tpr != ExpectedTpr) {
            RkFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s interrupt %u: ISR ran on cpu %u (LAPIC id %u, TPR 0x%x), expected cpu %u at IRQL %u "
                           "(TPR 0x%x)",
                           Round, Index, Record.Cpu, Record.ApicId, Record.Tpr, Expected, Run->Levels[Expected],
                           ExpectedTpr);
            return false;
        }
        Expected = RkExpectedLowest(Run, Record.Cpu);
    }
    return true;
}

/* Level for every CPU of the mask; the others stay as they are. */
static void RkSetMaskLevels(RK_LOWEST_RUN *Run, KIRQL Level)
{
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        Run->Levels[Cpu] = IrCpuSetContains(&Run->Mask, Cpu) ? Level : RK_HOLD_UNCHANGED;
}

/* Every CPU at DISPATCH_LEVEL: a tie over all, which must rotate through
 * the whole mask (twice with few CPUs, once and a bit with many). */
static bool RkLowestTieAll(RK_LOWEST_RUN *Run, uint32_t Count)
{
    RkSetMaskLevels(Run, DISPATCH_LEVEL);
    return RkLowestRound(Run, "tie over all at DISPATCH", Count);
}

/* One round per CPU of Run->Rounds, that CPU alone at the lowest level
 * (0). The route's current CPU gets level 1, so the first interrupt of the
 * round, still sent there, is accepted (every device IRQL is above 1); the
 * other CPUs of the mask take rising levels in the mask's cyclic order from
 * the lowest one, up to RK_LOWEST_MAX_LEVEL. */
static bool RkLowestUniqueRounds(RK_LOWEST_RUN *Run)
{
    uint32_t Lowest;
    IR_CPU_SET_FOR_EACH(Lowest, &Run->Rounds) {
        uint32_t Current;
        if (IoQueryInterruptTarget(Run->Interrupt, &Current, NULL) != IRQ_STATUS_SUCCESS)
            Current = Lowest;
        RkSetMaskLevels(Run, RK_LOWEST_MAX_LEVEL);
        uint32_t Level = 2, Cpu = Lowest;
        do {
            Cpu = IrCpuSetNextWrap(&Run->Mask, Cpu + 1u);
            if (Cpu != Lowest && Cpu != Current) {
                Run->Levels[Cpu] = (KIRQL)(Level < RK_LOWEST_MAX_LEVEL ? Level : RK_LOWEST_MAX_LEVEL);
                Level++;
            }
        } while (Cpu != Lowest);
        Run->Levels[Current] = 1;
        Run->Levels[Lowest] = 0;
        if (!RkLowestRound(Run, "unique lowest", RK_LOWEST_PER_ROUND))
            return false;
    }
    return true;
}

/* Two CPUs tie at APC_LEVEL below the others at DISPATCH_LEVEL: the
 * interrupts alternate between the two and never go elsewhere. The pair is
 * the mask's second CPU (its first with fewer than three) and its last. */
static void RkLowestPair(const RK_LOWEST_RUN *Run, uint32_t *First, uint32_t *Second)
{
    *First = IrCpuSetFirst(&Run->Mask);
    if (IrCpuSetWeight(&Run->Mask) >= 3u)
        *First = IrCpuSetNext(&Run->Mask, *First);
    *Second = *First;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Run->Mask)
        *Second = Cpu;
}

static bool RkLowestTiePair(RK_LOWEST_RUN *Run)
{
    uint32_t First, Second;
    RkLowestPair(Run, &First, &Second);
    RkSetMaskLevels(Run, DISPATCH_LEVEL);
    Run->Levels[First] = APC_LEVEL;
    Run->Levels[Second] = APC_LEVEL;
    return RkLowestRound(Run, "tie of two at APC", RK_LOWEST_PAIR_INTERRUPTS);
}

static bool RkLowestRun(RK_LOWEST_RUN *Run, uint32_t TieCount)
{
    Run->Interrupt = Run->Edu->Connection.Interrupts[0];
    RkIsrLogAttach(Run->Edu, &Run->Log);
    if (!RkHoldEnterAll()) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "an AP did not enter its hold loop");
        return false;
    }
    bool Passed = RkLowestTieAll(Run, TieCount) && RkLowestUniqueRounds(Run) && RkLowestTiePair(Run);
    RkHoldReleaseAll();
    if (Passed && Run->Log.WrongApicId != 0) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%u ISR runs read a LAPIC id not their CPU's",
                       Run->Log.WrongApicId);
        Passed = false;
    }
    return Passed;
}

static void RkLowestReport(RK_LOWEST_RUN *Run, bool Passed, KIRQL DeviceIrql)
{
    uint32_t First, Second;
    RkLowestPair(Run, &First, &Second);
    char MaskText[64], RoundsText[96];
    RkFormatCpuSet(&Run->Mask, MaskText, sizeof(MaskText));
    RkFormatCpuSet(&Run->Rounds, RoundsText, sizeof(RoundsText));
    if (Passed)
        RkTestReport("lowest_irql", true,
                     "edu MSI (IRQL %u) over the %u CPUs a device interrupt reaches %s, held at chosen IRQLs: %u "
                     "interrupts, each run on the CPU expected (LAPIC id and TPR read in the ISR): tie at DISPATCH "
                     "rotated, unique lowest of distinct levels followed cpus %s, tie of cpus %u,%u at APC "
                     "alternated",
                     DeviceIrql, IrCpuSetWeight(&Run->Mask), MaskText, Run->Interrupts, RoundsText, First, Second);
    else
        RkTestReport("lowest_irql", false, "%s", Run->Problem);
}

void RkTestLowestIrql(void)
{
    RK_LOWEST_RUN *Run = &RkLowest;
    memset(Run, 0, sizeof(*Run));
    Run->Edu = RkDeviceGet(RkDeviceEdu);
    const char *Missing = RkEduMissing(Run->Edu);
    if (Missing != NULL) {
        RkTestReport("lowest_irql", false, "%s", Missing);
        return;
    }
    uint32_t Reachable = RkReachableSet(&Run->Mask);
    if (Reachable < 2u) {
        RkTestReport("lowest_irql", true, "not applicable: %u CPU(s) a device interrupt reaches", Reachable);
        return;
    }
    RkSampleSet(&Run->Mask, RK_TEST_MANY_CPUS, &Run->Rounds);
    uint32_t TieCount = Reachable <= RK_TEST_MANY_CPUS ? 2u * Reachable : Reachable + 2u;
    uint32_t Capacity = (TieCount + 1u) + IrCpuSetWeight(&Run->Rounds) * (RK_LOWEST_PER_ROUND + 1u) +
                        (RK_LOWEST_PAIR_INTERRUPTS + 1u);
    RkIsrLogCreate(&Run->Log, Capacity);
    Run->Levels = RkTestAllocate(RkProcessorCount * sizeof(KIRQL));
    IRQ_STATUS Status = RkConnectPolicy(Run->Edu, IoDeviceLowest, &Run->Mask);
    bool Passed = false;
    KIRQL DeviceIrql = 0;
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "connecting edu IoDeviceLowest: %s", IrStatusName(Status));
    } else {
        DeviceIrql = KeGetInterruptIrql(Run->Edu->Connection.Interrupts[0]);
        Passed = RkLowestRun(Run, TieCount);
        RkIsrLogDetach(Run->Edu);
        Status = RkDeviceDisconnect(Run->Edu);
        if (Passed && Status != IRQ_STATUS_SUCCESS) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "RkDeviceDisconnect %s", IrStatusName(Status));
            Passed = false;
        }
    }
    RkLowestReport(Run, Passed, DeviceIrql);
    RkTestFree(Run->Levels, RkProcessorCount * sizeof(KIRQL));
    RkIsrLogDestroy(&Run->Log);
}

/* ======================================================================== */
/* Case 5: round_robin                                                      */
/* ======================================================================== */

/* k interrupts per CPU of the set: 4 with few CPUs, 2 with many (each
 * still sees the rotation come back to it). */
#define RK_ROUND_ROBIN_ROUNDS 4u
#define RK_ROUND_ROBIN_ROUNDS_MANY 2u

typedef struct _RK_ROUND_ROBIN_RUN {
    RK_ISR_LOG Log;
    uint32_t *Got; /* RkProcessorCount entries */
    uint32_t Rounds;
    char Problem[RK_PROBLEM_SIZE];
} RK_ROUND_ROBIN_RUN;

static RK_ROUND_ROBIN_RUN RkRoundRobin;

/* Every logged run is in Mask and follows the one before it in the
 * mask's cyclic order; fills Got per CPU. */
static bool RkCheckCyclicOrder(RK_ROUND_ROBIN_RUN *Run, const IR_CPU_SET *Mask, const char *Source)
{
    uint32_t Count = RkIsrLogCount(&Run->Log);
    memset(Run->Got, 0, RkProcessorCount * sizeof(uint32_t));
    for (uint32_t Index = 0; Index < Count && Index < Run->Log.Capacity; Index++) {
        uint32_t Cpu = Run->Log.Records[Index].Cpu;
        uint32_t Expected = Index == 0 ? Cpu : IrCpuSetNextWrap(Mask, Run->Log.Records[Index - 1u].Cpu + 1u);
        if (!IrCpuSetContains(Mask, Cpu) || Cpu != Expected) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "%s interrupt %u ran on cpu %u, expected cpu %u",
                           Source, Index, Cpu, Expected);
            return false;
        }
        Run->Got[Cpu]++;
    }
    if (Run->Log.WrongApicId != 0) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: %u ISR runs read a LAPIC id not their CPU's",
                       Source, Run->Log.WrongApicId);
        return false;
    }
    return true;
}

/* The device's own per-CPU counts agree with the log. */
static bool RkCheckDeviceCounts(RK_ROUND_ROBIN_RUN *Run, const RK_DEVICE *Device, const char *Source)
{
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (Device->Count[Cpu] != Run->Got[Cpu]) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: device counts %lu on cpu %u, its ISR log %u",
                           Source, (uint64_t)Device->Count[Cpu], Cpu, Run->Got[Cpu]);
            return false;
        }
    }
    return true;
}

/* Rounds x n interrupts of Device, one at a time: each CPU of the mask got
 * exactly Rounds, in the mask's cyclic order. */
static bool RkRoundRobinOver(RK_ROUND_ROBIN_RUN *Run, RK_DEVICE *Device, const IR_CPU_SET *Mask)
{
    char MaskText[64];
    RkFormatCpuSet(Mask, MaskText, sizeof(MaskText));
    IRQ_STATUS Status = RkConnectPolicy(Device, IoDeviceRoundRobin, Mask);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s over %s: connect %s", Device->Name, MaskText,
                       IrStatusName(Status));
        return false;
    }
    RkDeviceResetCounts(Device);
    RkIsrLogAttach(Device, &Run->Log);
    uint32_t Total = Run->Rounds * IrCpuSetWeight(Mask);
    bool Raised = true;
    for (uint32_t Index = 0; Index < Total && Raised; Index++) {
        RK_ISR_RECORD Record;
        Raised = RkRaiseAndLog(Device, &Run->Log, &Record);
    }
    RkIsrLogDetach(Device);
    Status = RkDeviceDisconnect(Device);
    if (!Raised || Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s over %s: %u of %u interrupts logged, disconnect %s",
                       Device->Name, MaskText, RkIsrLogCount(&Run->Log), Total, IrStatusName(Status));
        return false;
    }
    if (!RkCheckCyclicOrder(Run, Mask, Device->Name) || !RkCheckDeviceCounts(Run, Device, Device->Name))
        return false;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Mask) {
        if (Run->Got[Cpu] != Run->Rounds) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "%s over %s: cpu %u got %u of %u, expected %u",
                           Device->Name, MaskText, Cpu, Run->Got[Cpu], Total, Run->Rounds);
            return false;
        }
    }
    return true;
}

void RkTestRoundRobin(void)
{
    RK_ROUND_ROBIN_RUN *Run = &RkRoundRobin;
    memset(Run, 0, sizeof(*Run));
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    RK_DEVICE *Pit = RkDeviceGet(RkDevicePit);
    const char *Missing = RkEduMissing(Edu);
    if (Missing != NULL) {
        RkTestReport("round_robin", false, "%s", Missing);
        return;
    }
    IR_CPU_SET All, Aps;
    uint32_t Reachable = RkReachableSet(&All);
    IrCpuSetCopy(&Aps, &All);
    IrCpuSetRemove(&Aps, 0);
    if (IrCpuSetIsEmpty(&Aps))
        IrCpuSetAdd(&Aps, 0);
    Run->Rounds = Reachable <= RK_TEST_MANY_CPUS ? RK_ROUND_ROBIN_ROUNDS : RK_ROUND_ROBIN_ROUNDS_MANY;
    RkIsrLogCreate(&Run->Log, Run->Rounds * Reachable);
    Run->Got = RkTestAllocate(RkProcessorCount * sizeof(uint32_t));
    char AllText[64], ApsText[64];
    RkFormatCpuSet(&All, AllText, sizeof(AllText));
    RkFormatCpuSet(&Aps, ApsText, sizeof(ApsText));
    bool Passed = RkRoundRobinOver(Run, Edu, &All) && RkRoundRobinOver(Run, Edu, &Aps) &&
                  RkRoundRobinOver(Run, Pit, &All);
    if (Passed)
        RkTestReport("round_robin", true,
                     "edu MSI one at a time: %u x %u interrupts over the CPUs a device interrupt reaches %s and %u x "
                     "%u over %s; PIT one-shots through its redirection entry (GSI 2): %u x %u over %s; each CPU got "
                     "exactly "
                     "%u, in cyclic order",
                     Run->Rounds, Reachable, AllText, Run->Rounds, IrCpuSetWeight(&Aps), ApsText, Run->Rounds,
                     Reachable, AllText, Run->Rounds);
    else
        RkTestReport("round_robin", false, "%s", Run->Problem);
    RkTestFree(Run->Got, RkProcessorCount * sizeof(uint32_t));
    RkIsrLogDestroy(&Run->Log);
}
