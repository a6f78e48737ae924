/* SPDX-License-Identifier: MIT */
/*
 * KTEST case 7, ipi_targets: every target kind of KeSendIpi (one CPU, a
 * set, all, all but the sender, sent from the BSP and from an AP) with
 * every message type a kernel may handle, and KeIpiGenericCall over the
 * same kinds.
 *
 * A probe handler for each message type counts, per CPU and type, the
 * messages that CPU handled, and checks the LAPIC id it reads from its own
 * local APIC against the CPU's. After each send the counts must reach what
 * was sent and then stay there for a while: every targeted CPU handled the
 * message once, with the right type, and no other CPU did. Ke's own count
 * (KeQueryIpiCount) must agree.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ktest.h"
#include "ktest_policy.h"

/* Waits end as soon as the condition holds; the limit only has to outlast a
 * TCG vCPU thread descheduled by a busy host (hundreds of ms seen in CI). */
#define RK_IPI_TIMEOUT_MS RK_TEST_TIMEOUT_MS
/* How long "nobody else got it" is watched after the expected counts. */
#define RK_IPI_SETTLE_MS 5u
/* A generic-call worker on one CPU lingers this long, so a caller that did
 * not wait for every worker would be seen. */
#define RK_GENERIC_SLOW_US 2000u

/* Every type KeSendIpi accepts (KeIpiCallFunction is KeIpiGenericCall's). */
static const KE_IPI_MESSAGE RkProbeMessages[] = {KeIpiReschedule, KeIpiTlbShootdown, KeIpiHalt, KeIpiUser0,
                                                 KeIpiUser1};
#define RK_PROBE_MESSAGE_COUNT (sizeof(RkProbeMessages) / sizeof(RkProbeMessages[0]))

/* Per CPU and message type, RkProcessorCount rows from the pool. */
typedef struct _RK_IPI_PROBE {
    uint32_t (*Received)[KeIpiMessageCount];    /* the handler's count */
    uint32_t (*Expected)[KeIpiMessageCount];    /* what the test sent */
    uint64_t (*LibraryBase)[KeIpiMessageCount]; /* KeQueryIpiCount at the start */
    uint32_t WrongApicId;
    char Problem[160];
} RK_IPI_PROBE;

static RK_IPI_PROBE RkIpi;

/* ---- The probe handler and the comparison ----------------------------------------- */

static void RkIpiProbeHandler(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Context;
    if (Cpu >= RkProcessorCount || Cpu != PlatCurrentCpu() || HlLapicReadId() != RkPcr[Cpu].ApicId) {
        __atomic_fetch_add(&RkIpi.WrongApicId, 1u, __ATOMIC_RELAXED);
        return;
    }
    if ((unsigned)Message < KeIpiMessageCount)
        __atomic_fetch_add(&RkIpi.Received[Cpu][Message], 1u, __ATOMIC_RELEASE);
}

static bool RkIpiReachedExpected(void *Context)
{
    (void)Context;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        for (uint32_t Index = 0; Index < RK_PROBE_MESSAGE_COUNT; Index++) {
            KE_IPI_MESSAGE Message = RkProbeMessages[Index];
            if (__atomic_load_n(&RkIpi.Received[Cpu][Message], __ATOMIC_ACQUIRE) < RkIpi.Expected[Cpu][Message])
                return false;
        }
    }
    return true;
}

/* The first CPU and type whose handled count (or Ke's) is not what was sent. */
static bool RkIpiFindMismatch(uint32_t *CpuOut, KE_IPI_MESSAGE *MessageOut, uint64_t *Library)
{
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        for (uint32_t Index = 0; Index < RK_PROBE_MESSAGE_COUNT; Index++) {
            KE_IPI_MESSAGE Message = RkProbeMessages[Index];
            *Library = KeQueryIpiCount(Cpu, Message) - RkIpi.LibraryBase[Cpu][Message];
            uint32_t Received = __atomic_load_n(&RkIpi.Received[Cpu][Message], __ATOMIC_ACQUIRE);
            if (Received != RkIpi.Expected[Cpu][Message] || *Library != RkIpi.Expected[Cpu][Message]) {
                *CpuOut = Cpu;
                *MessageOut = Message;
                return true;
            }
        }
    }
    return false;
}

/* Waits for the expected counts, watches for extras, then compares. */
static bool RkIpiCheck(const char *Step)
{
    (void)RkWaitFor(RkIpiReachedExpected, NULL, RK_IPI_TIMEOUT_MS);
    RkStallMilliseconds(RK_IPI_SETTLE_MS);
    uint32_t Cpu;
    KE_IPI_MESSAGE Message;
    uint64_t Library;
    if (RkIpi.WrongApicId != 0) {
        RkFormatString(RkIpi.Problem, sizeof(RkIpi.Problem), "%s: %u handler runs on a CPU whose LAPIC id differs",
                       Step, RkIpi.WrongApicId);
        return false;
    }
    if (RkIpiFindMismatch(&Cpu, &Message, &Library)) {
        RkFormatString(RkIpi.Problem, sizeof(RkIpi.Problem),
                       "%s: cpu %u message %u handled %u times (Ke counts %lu), expected %u", Step, Cpu,
                       (uint32_t)Message, RkIpi.Received[Cpu][Message], Library, RkIpi.Expected[Cpu][Message]);
        return false;
    }
    return true;
}

static void RkIpiExpect(const IR_CPU_SET *Cpus, KE_IPI_MESSAGE Message)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus)
        RkIpi.Expected[Cpu][Message]++;
}

static bool RkIpiSendAndCheck(const char *Step, const KE_IPI_TARGET *Target, KE_IPI_MESSAGE Message,
                              const IR_CPU_SET *Reached)
{
    IRQ_STATUS Status = KeSendIpi(Target, Message);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(RkIpi.Problem, sizeof(RkIpi.Problem), "%s: KeSendIpi %s", Step, IrStatusName(Status));
        return false;
    }
    RkIpiExpect(Reached, Message);
    return RkIpiCheck(Step);
}

/* ---- KeSendIpi steps ------------------------------------------------------------------ */

/* Each CPU alone, the sender included, each with another message type. */
static bool RkIpiStepSingle(void)
{
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
        IR_CPU_SET Reached;
        IrCpuSetZero(&Reached);
        IrCpuSetAdd(&Reached, Cpu);
        if (!RkIpiSendAndCheck("cpu", &Target, RkProbeMessages[Cpu % RK_PROBE_MESSAGE_COUNT], &Reached))
            return false;
    }
    return true;
}

/* CPU 0 and every CPU whose index is not 1 mod 3: a set with holes. */
static void RkIpiHoledSet(IR_CPU_SET *Set)
{
    IrCpuSetZero(Set);
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (Cpu % 3u != 1u)
            IrCpuSetAdd(Set, Cpu);
    }
}

static bool RkIpiStepSetAllAndAllButSelf(void)
{
    IR_CPU_SET Set, All, Others;
    RkIpiHoledSet(&Set);
    RkOnlineSet(&All);
    IrCpuSetCopy(&Others, &All);
    IrCpuSetRemove(&Others, PlatCurrentCpu());
    KE_IPI_TARGET SetTarget = {.Kind = KeIpiTargetSet, .Cpus = &Set};
    KE_IPI_TARGET AllTarget = {.Kind = KeIpiTargetAll};
    KE_IPI_TARGET OthersTarget = {.Kind = KeIpiTargetAllButSelf};
    return RkIpiSendAndCheck("set", &SetTarget, KeIpiUser1, &Set) &&
           RkIpiSendAndCheck("all", &AllTarget, KeIpiTlbShootdown, &All) &&
           RkIpiSendAndCheck("all-but-self", &OthersTarget, KeIpiReschedule, &Others);
}

/* Two types to one CPU back to back: both handled, each by its handler
 * call (they may arrive as one interrupt: the pending word carries both). */
static bool RkIpiStepTwoTypes(void)
{
    uint32_t Cpu = RkProcessorCount - 1u;
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
    IRQ_STATUS First = KeSendIpi(&Target, KeIpiUser0);
    IRQ_STATUS Second = KeSendIpi(&Target, KeIpiHalt);
    if (First != IRQ_STATUS_SUCCESS || Second != IRQ_STATUS_SUCCESS) {
        RkFormatString(RkIpi.Problem, sizeof(RkIpi.Problem), "two types: %s, %s", IrStatusName(First),
                       IrStatusName(Second));
        return false;
    }
    RkIpi.Expected[Cpu][KeIpiUser0]++;
    RkIpi.Expected[Cpu][KeIpiHalt]++;
    return RkIpiCheck("two types");
}

/* All-but-self sent by an AP (from a generic-call worker there): the sender
 * is the AP, so the BSP is reached and the AP is not. */
static IRQ_STATUS RkApSendStatus;

static void RkApSendAllButSelf(uint32_t Cpu, void *Context)
{
    (void)Cpu;
    (void)Context;
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetAllButSelf};
    RkApSendStatus = KeSendIpi(&Target, KeIpiUser0);
}

static bool RkIpiStepFromAp(void)
{
    uint32_t Sender = RkProcessorCount - 1u;
    if (Sender == PlatCurrentCpu())
        return true; /* one CPU: there is no AP */
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Sender};
    RkApSendStatus = IRQ_STATUS_INVALID_STATE;
    IRQ_STATUS Status = KeIpiGenericCall(&Target, RkApSendAllButSelf, NULL);
    if (Status != IRQ_STATUS_SUCCESS || RkApSendStatus != IRQ_STATUS_SUCCESS) {
        RkFormatString(RkIpi.Problem, sizeof(RkIpi.Problem), "from cpu %u: KeIpiGenericCall %s, KeSendIpi %s",
                       Sender, IrStatusName(Status), IrStatusName(RkApSendStatus));
        return false;
    }
    IR_CPU_SET Reached;
    RkOnlineSet(&Reached);
    IrCpuSetRemove(&Reached, Sender);
    RkIpiExpect(&Reached, KeIpiUser0);
    return RkIpiCheck("all-but-self from an AP");
}

/* Refused targets: a CPU that does not run, an empty set, the generic
 * call's own type. Nothing may be delivered (checked by RkIpiCheck). */
static bool RkIpiStepRefusals(void)
{
    IR_CPU_SET Empty;
    IrCpuSetZero(&Empty);
    KE_IPI_TARGET Absent = {.Kind = KeIpiTargetCpu, .Cpu = RkProcessorCount};
    KE_IPI_TARGET NoCpus = {.Kind = KeIpiTargetSet, .Cpus = &Empty};
    KE_IPI_TARGET All = {.Kind = KeIpiTargetAll};
    IRQ_STATUS AbsentStatus = KeSendIpi(&Absent, KeIpiUser0);
    IRQ_STATUS EmptyStatus = KeSendIpi(&NoCpus, KeIpiUser0);
    IRQ_STATUS CallStatus = KeSendIpi(&All, KeIpiCallFunction);
    if (AbsentStatus != IRQ_STATUS_INVALID_CPU || EmptyStatus != IRQ_STATUS_EMPTY_AFFINITY ||
        CallStatus != IRQ_STATUS_INVALID_PARAMETER) {
        RkFormatString(RkIpi.Problem, sizeof(RkIpi.Problem),
                       "refusals: absent cpu %s, empty set %s, KeIpiCallFunction %s", IrStatusName(AbsentStatus),
                       IrStatusName(EmptyStatus), IrStatusName(CallStatus));
        return false;
    }
    return RkIpiCheck("refusals");
}

/* ---- KeIpiGenericCall steps ------------------------------------------------------------- */

typedef struct _RK_GENERIC_PROBE {
    uint32_t *Ran; /* RkProcessorCount entries */
    uint32_t Finished;
    uint32_t WrongApicId;
    uint32_t SlowCpu;
} RK_GENERIC_PROBE;

static RK_GENERIC_PROBE RkGeneric;

static void RkGenericWorker(uint32_t Cpu, void *Context)
{
    (void)Context;
    if (Cpu >= RkProcessorCount || Cpu != PlatCurrentCpu() || HlLapicReadId() != RkPcr[Cpu].ApicId) {
        __atomic_fetch_add(&RkGeneric.WrongApicId, 1u, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(&RkGeneric.Ran[Cpu], 1u, __ATOMIC_RELAXED);
    if (Cpu == RkGeneric.SlowCpu)
        RkStallMicroseconds(RK_GENERIC_SLOW_US);
    __atomic_fetch_add(&RkGeneric.Finished, 1u, __ATOMIC_RELEASE);
}

/* The worker ran once on each CPU of Reached, on no other, and all of them
 * had finished when the call returned (no waiting here). */
static bool RkGenericStep(const char *Step, const KE_IPI_TARGET *Target, const IR_CPU_SET *Reached)
{
    uint32_t *Ran = RkGeneric.Ran;
    memset(&RkGeneric, 0, sizeof(RkGeneric));
    memset(Ran, 0, RkProcessorCount * sizeof(uint32_t));
    RkGeneric.Ran = Ran;
    RkGeneric.SlowCpu = RkProcessorCount - 1u;
    IRQ_STATUS Status = KeIpiGenericCall(Target, RkGenericWorker, NULL);
    uint32_t Finished = __atomic_load_n(&RkGeneric.Finished, __ATOMIC_ACQUIRE);
    uint32_t Wrong = IR_CPU_NONE;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount && Wrong == IR_CPU_NONE; Cpu++) {
        if (RkGeneric.Ran[Cpu] != (IrCpuSetContains(Reached, Cpu) ? 1u : 0u))
            Wrong = Cpu;
    }
    if (Status == IRQ_STATUS_SUCCESS && Finished == IrCpuSetWeight(Reached) && Wrong == IR_CPU_NONE &&
        RkGeneric.WrongApicId == 0)
        return true;
    RkFormatString(RkIpi.Problem, sizeof(RkIpi.Problem),
                   "generic %s: %s, %u/%u finished at return, first wrong cpu %d ran %u, %u wrong LAPIC ids", Step,
                   IrStatusName(Status), Finished, IrCpuSetWeight(Reached), Wrong == IR_CPU_NONE ? -1 : (int)Wrong,
                   Wrong == IR_CPU_NONE ? 0 : RkGeneric.Ran[Wrong], RkGeneric.WrongApicId);
    return false;
}

static bool RkIpiStepGenericCalls(void)
{
    IR_CPU_SET All, Others, Set, Last;
    RkOnlineSet(&All);
    IrCpuSetCopy(&Others, &All);
    IrCpuSetRemove(&Others, PlatCurrentCpu());
    RkIpiHoledSet(&Set);
    IrCpuSetZero(&Last);
    IrCpuSetAdd(&Last, RkProcessorCount - 1u);
    KE_IPI_TARGET AllTarget = {.Kind = KeIpiTargetAll};
    KE_IPI_TARGET OthersTarget = {.Kind = KeIpiTargetAllButSelf};
    KE_IPI_TARGET SetTarget = {.Kind = KeIpiTargetSet, .Cpus = &Set};
    KE_IPI_TARGET LastTarget = {.Kind = KeIpiTargetCpu, .Cpu = RkProcessorCount - 1u};
    return RkGenericStep("all", &AllTarget, &All) && RkGenericStep("all-but-self", &OthersTarget, &Others) &&
           RkGenericStep("set", &SetTarget, &Set) && RkGenericStep("cpu", &LastTarget, &Last);
}

/* ---- The case -------------------------------------------------------------------------------- */

static void RkIpiSetProbeHandlers(PKIPI_MESSAGE_HANDLER Handler)
{
    for (uint32_t Index = 0; Index < RK_PROBE_MESSAGE_COUNT; Index++)
        (void)KeSetIpiMessageHandler(RkProbeMessages[Index], Handler, NULL);
}

static size_t RkIpiRowsSize(size_t Row)
{
    return RkProcessorCount * Row;
}

static void RkIpiAllocateProbe(void)
{
    memset(&RkIpi, 0, sizeof(RkIpi));
    RkIpi.Received = RkTestAllocate(RkIpiRowsSize(sizeof(RkIpi.Received[0])));
    RkIpi.Expected = RkTestAllocate(RkIpiRowsSize(sizeof(RkIpi.Expected[0])));
    RkIpi.LibraryBase = RkTestAllocate(RkIpiRowsSize(sizeof(RkIpi.LibraryBase[0])));
    memset(&RkGeneric, 0, sizeof(RkGeneric));
    RkGeneric.Ran = RkTestAllocate(RkProcessorCount * sizeof(uint32_t));
}

static void RkIpiFreeProbe(void)
{
    RkTestFree(RkIpi.Received, RkIpiRowsSize(sizeof(RkIpi.Received[0])));
    RkTestFree(RkIpi.Expected, RkIpiRowsSize(sizeof(RkIpi.Expected[0])));
    RkTestFree(RkIpi.LibraryBase, RkIpiRowsSize(sizeof(RkIpi.LibraryBase[0])));
    RkTestFree(RkGeneric.Ran, RkProcessorCount * sizeof(uint32_t));
    RkGeneric.Ran = NULL;
}

static void RkIpiResetProbe(void)
{
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++)
            RkIpi.LibraryBase[Cpu][Message] = KeQueryIpiCount(Cpu, (KE_IPI_MESSAGE)Message);
    }
}

static uint32_t RkIpiTotalHandled(void)
{
    uint32_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++)
            Total += RkIpi.Received[Cpu][Message];
    }
    return Total;
}

void RkTestIpiTargets(void)
{
    RkIpiAllocateProbe();
    RkIpiResetProbe();
    RkIpiSetProbeHandlers(RkIpiProbeHandler);
    bool Passed = RkIpiStepSingle() && RkIpiStepSetAllAndAllButSelf() && RkIpiStepTwoTypes() &&
                  RkIpiStepFromAp() && RkIpiStepRefusals() && RkIpiStepGenericCalls();
    RkIpiSetProbeHandlers(NULL);

    IR_CPU_SET Set;
    char SetText[64];
    RkIpiHoledSet(&Set);
    RkFormatCpuSet(&Set, SetText, sizeof(SetText));
    if (Passed)
        RkTestReport("ipi_targets", true,
                     "%u messages of %u types handled exactly on their targets (each cpu alone, set %s, all, "
                     "all-but-self from cpu 0 and cpu %u, two types to one cpu) with matching LAPIC ids and Ke "
                     "counts; bad targets refused; KeIpiGenericCall all/all-but-self/set/cpu ran once per target "
                     "and returned after all finished",
                     RkIpiTotalHandled(), (uint32_t)RK_PROBE_MESSAGE_COUNT, SetText, RkProcessorCount - 1u);
    else
        RkTestReport("ipi_targets", false, "%s", RkIpi.Problem);
    RkIpiFreeProbe();
}
