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

#include "ktest_policy.h"

/* Waits end as soon as the condition holds; the limit only has to outlast a
 * TCG vCPU thread descheduled by a busy host (hundreds of ms seen in CI). */
#define KI_IPI_TIMEOUT_MS KI_TEST_TIMEOUT_MS
/* How long "nobody else got it" is watched after the expected counts. */
#define KI_IPI_SETTLE_MS 5u
/* A generic-call worker on one CPU lingers this long, so a caller that did
 * not wait for every worker would be seen. */
#define KI_GENERIC_SLOW_US 2000u

/* Every type KeSendIpi accepts (KeIpiCallFunction is KeIpiGenericCall's). */
static const KE_IPI_MESSAGE KiProbeMessages[] = {KeIpiReschedule, KeIpiTlbShootdown, KeIpiHalt, KeIpiUser0,
                                                 KeIpiUser1};
#define KI_PROBE_MESSAGE_COUNT (sizeof(KiProbeMessages) / sizeof(KiProbeMessages[0]))

/* Per CPU and message type, KiProcessorCount rows from the pool. */
typedef struct _KI_IPI_PROBE {
    uint32_t (*Received)[KeIpiMessageCount];    /* the handler's count */
    uint32_t (*Expected)[KeIpiMessageCount];    /* what the test sent */
    uint64_t (*LibraryBase)[KeIpiMessageCount]; /* KeQueryIpiCount at the start */
    uint32_t WrongApicId;
    char Problem[160];
} KI_IPI_PROBE;

static KI_IPI_PROBE KiIpi;

/* ---- The probe handler and the comparison ----------------------------------------- */

static void KiIpiProbeHandler(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Context;
    if (Cpu >= KiProcessorCount || Cpu != PlatCurrentCpu() || HlLapicReadId() != KiPcr[Cpu].ApicId) {
        __atomic_fetch_add(&KiIpi.WrongApicId, 1u, __ATOMIC_RELAXED);
        return;
    }
    if ((unsigned)Message < KeIpiMessageCount)
        __atomic_fetch_add(&KiIpi.Received[Cpu][Message], 1u, __ATOMIC_RELEASE);
}

static bool KiIpiReachedExpected(void *Context)
{
    (void)Context;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        for (uint32_t Index = 0; Index < KI_PROBE_MESSAGE_COUNT; Index++) {
            KE_IPI_MESSAGE Message = KiProbeMessages[Index];
            if (__atomic_load_n(&KiIpi.Received[Cpu][Message], __ATOMIC_ACQUIRE) < KiIpi.Expected[Cpu][Message])
                return false;
        }
    }
    return true;
}

/* The first CPU and type whose handled count (or Ke's) is not what was sent. */
static bool KiIpiFindMismatch(uint32_t *CpuOut, KE_IPI_MESSAGE *MessageOut, uint64_t *Library)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        for (uint32_t Index = 0; Index < KI_PROBE_MESSAGE_COUNT; Index++) {
            KE_IPI_MESSAGE Message = KiProbeMessages[Index];
            *Library = KeQueryIpiCount(Cpu, Message) - KiIpi.LibraryBase[Cpu][Message];
            uint32_t Received = __atomic_load_n(&KiIpi.Received[Cpu][Message], __ATOMIC_ACQUIRE);
            if (Received != KiIpi.Expected[Cpu][Message] || *Library != KiIpi.Expected[Cpu][Message]) {
                *CpuOut = Cpu;
                *MessageOut = Message;
                return true;
            }
        }
    }
    return false;
}

/* Waits for the expected counts, watches for extras, then compares. */
static bool KiIpiCheck(const char *Step)
{
    (void)KiWaitFor(KiIpiReachedExpected, NULL, KI_IPI_TIMEOUT_MS);
    KiStallMilliseconds(KI_IPI_SETTLE_MS);
    uint32_t Cpu;
    KE_IPI_MESSAGE Message;
    uint64_t Library;
    if (KiIpi.WrongApicId != 0) {
        KiFormatString(KiIpi.Problem, sizeof(KiIpi.Problem), "%s: %u handler runs on a CPU whose LAPIC id differs",
                       Step, KiIpi.WrongApicId);
        return false;
    }
    if (KiIpiFindMismatch(&Cpu, &Message, &Library)) {
        KiFormatString(KiIpi.Problem, sizeof(KiIpi.Problem),
                       "%s: cpu %u message %u handled %u times (Ke counts %lu), expected %u", Step, Cpu,
                       (uint32_t)Message, KiIpi.Received[Cpu][Message], Library, KiIpi.Expected[Cpu][Message]);
        return false;
    }
    return true;
}

static void KiIpiExpect(const IR_CPU_SET *Cpus, KE_IPI_MESSAGE Message)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus)
        KiIpi.Expected[Cpu][Message]++;
}

static bool KiIpiSendAndCheck(const char *Step, const KE_IPI_TARGET *Target, KE_IPI_MESSAGE Message,
                              const IR_CPU_SET *Reached)
{
    IRQ_STATUS Status = KeSendIpi(Target, Message);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(KiIpi.Problem, sizeof(KiIpi.Problem), "%s: KeSendIpi %s", Step, IrStatusName(Status));
        return false;
    }
    KiIpiExpect(Reached, Message);
    return KiIpiCheck(Step);
}

/* ---- KeSendIpi steps ------------------------------------------------------------------ */

/* Each CPU alone, the sender included, each with another message type. */
static bool KiIpiStepSingle(void)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
        IR_CPU_SET Reached;
        IrCpuSetZero(&Reached);
        IrCpuSetAdd(&Reached, Cpu);
        if (!KiIpiSendAndCheck("cpu", &Target, KiProbeMessages[Cpu % KI_PROBE_MESSAGE_COUNT], &Reached))
            return false;
    }
    return true;
}

/* CPU 0 and every CPU whose index is not 1 mod 3: a set with holes. */
static void KiIpiHoledSet(IR_CPU_SET *Set)
{
    IrCpuSetZero(Set);
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (Cpu % 3u != 1u)
            IrCpuSetAdd(Set, Cpu);
    }
}

static bool KiIpiStepSetAllAndAllButSelf(void)
{
    IR_CPU_SET Set, All, Others;
    KiIpiHoledSet(&Set);
    KiOnlineSet(&All);
    IrCpuSetCopy(&Others, &All);
    IrCpuSetRemove(&Others, PlatCurrentCpu());
    KE_IPI_TARGET SetTarget = {.Kind = KeIpiTargetSet, .Cpus = &Set};
    KE_IPI_TARGET AllTarget = {.Kind = KeIpiTargetAll};
    KE_IPI_TARGET OthersTarget = {.Kind = KeIpiTargetAllButSelf};
    return KiIpiSendAndCheck("set", &SetTarget, KeIpiUser1, &Set) &&
           KiIpiSendAndCheck("all", &AllTarget, KeIpiTlbShootdown, &All) &&
           KiIpiSendAndCheck("all-but-self", &OthersTarget, KeIpiReschedule, &Others);
}

/* Two types to one CPU back to back: both handled, each by its handler
 * call (they may arrive as one interrupt: the pending word carries both). */
static bool KiIpiStepTwoTypes(void)
{
    uint32_t Cpu = KiProcessorCount - 1u;
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
    IRQ_STATUS First = KeSendIpi(&Target, KeIpiUser0);
    IRQ_STATUS Second = KeSendIpi(&Target, KeIpiHalt);
    if (First != IRQ_STATUS_SUCCESS || Second != IRQ_STATUS_SUCCESS) {
        KiFormatString(KiIpi.Problem, sizeof(KiIpi.Problem), "two types: %s, %s", IrStatusName(First),
                       IrStatusName(Second));
        return false;
    }
    KiIpi.Expected[Cpu][KeIpiUser0]++;
    KiIpi.Expected[Cpu][KeIpiHalt]++;
    return KiIpiCheck("two types");
}

/* All-but-self sent by an AP (from a generic-call worker there): the sender
 * is the AP, so the BSP is reached and the AP is not. */
static IRQ_STATUS KiApSendStatus;

static void KiApSendAllButSelf(uint32_t Cpu, void *Context)
{
    (void)Cpu;
    (void)Context;
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetAllButSelf};
    KiApSendStatus = KeSendIpi(&Target, KeIpiUser0);
}

static bool KiIpiStepFromAp(void)
{
    uint32_t Sender = KiProcessorCount - 1u;
    if (Sender == PlatCurrentCpu())
        return true; /* one CPU: there is no AP */
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Sender};
    KiApSendStatus = IRQ_STATUS_INVALID_STATE;
    IRQ_STATUS Status = KeIpiGenericCall(&Target, KiApSendAllButSelf, NULL);
    if (Status != IRQ_STATUS_SUCCESS || KiApSendStatus != IRQ_STATUS_SUCCESS) {
        KiFormatString(KiIpi.Problem, sizeof(KiIpi.Problem), "from cpu %u: KeIpiGenericCall %s, KeSendIpi %s",
                       Sender, IrStatusName(Status), IrStatusName(KiApSendStatus));
        return false;
    }
    IR_CPU_SET Reached;
    KiOnlineSet(&Reached);
    IrCpuSetRemove(&Reached, Sender);
    KiIpiExpect(&Reached, KeIpiUser0);
    return KiIpiCheck("all-but-self from an AP");
}

/* Refused targets: a CPU that does not run, an empty set, the generic
 * call's own type. Nothing may be delivered (checked by KiIpiCheck). */
static bool KiIpiStepRefusals(void)
{
    IR_CPU_SET Empty;
    IrCpuSetZero(&Empty);
    KE_IPI_TARGET Absent = {.Kind = KeIpiTargetCpu, .Cpu = KiProcessorCount};
    KE_IPI_TARGET NoCpus = {.Kind = KeIpiTargetSet, .Cpus = &Empty};
    KE_IPI_TARGET All = {.Kind = KeIpiTargetAll};
    IRQ_STATUS AbsentStatus = KeSendIpi(&Absent, KeIpiUser0);
    IRQ_STATUS EmptyStatus = KeSendIpi(&NoCpus, KeIpiUser0);
    IRQ_STATUS CallStatus = KeSendIpi(&All, KeIpiCallFunction);
    if (AbsentStatus != IRQ_STATUS_INVALID_CPU || EmptyStatus != IRQ_STATUS_EMPTY_AFFINITY ||
        CallStatus != IRQ_STATUS_INVALID_PARAMETER) {
        KiFormatString(KiIpi.Problem, sizeof(KiIpi.Problem),
                       "refusals: absent cpu %s, empty set %s, KeIpiCallFunction %s", IrStatusName(AbsentStatus),
                       IrStatusName(EmptyStatus), IrStatusName(CallStatus));
        return false;
    }
    return KiIpiCheck("refusals");
}

/* ---- KeIpiGenericCall steps ------------------------------------------------------------- */

typedef struct _KI_GENERIC_PROBE {
    uint32_t *Ran; /* KiProcessorCount entries */
    uint32_t Finished;
    uint32_t WrongApicId;
    uint32_t SlowCpu;
} KI_GENERIC_PROBE;

static KI_GENERIC_PROBE KiGeneric;

static void KiGenericWorker(uint32_t Cpu, void *Context)
{
    (void)Context;
    if (Cpu >= KiProcessorCount || Cpu != PlatCurrentCpu() || HlLapicReadId() != KiPcr[Cpu].ApicId) {
        __atomic_fetch_add(&KiGeneric.WrongApicId, 1u, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(&KiGeneric.Ran[Cpu], 1u, __ATOMIC_RELAXED);
    if (Cpu == KiGeneric.SlowCpu)
        KiStallMicroseconds(KI_GENERIC_SLOW_US);
    __atomic_fetch_add(&KiGeneric.Finished, 1u, __ATOMIC_RELEASE);
}

/* The worker ran once on each CPU of Reached, on no other, and all of them
 * had finished when the call returned (no waiting here). */
static bool KiGenericStep(const char *Step, const KE_IPI_TARGET *Target, const IR_CPU_SET *Reached)
{
    uint32_t *Ran = KiGeneric.Ran;
    memset(&KiGeneric, 0, sizeof(KiGeneric));
    memset(Ran, 0, KiProcessorCount * sizeof(uint32_t));
    KiGeneric.Ran = Ran;
    KiGeneric.SlowCpu = KiProcessorCount - 1u;
    IRQ_STATUS Status = KeIpiGenericCall(Target, KiGenericWorker, NULL);
    uint32_t Finished = __atomic_load_n(&KiGeneric.Finished, __ATOMIC_ACQUIRE);
    uint32_t Wrong = IR_CPU_NONE;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount && Wrong == IR_CPU_NONE; Cpu++) {
        if (KiGeneric.Ran[Cpu] != (IrCpuSetContains(Reached, Cpu) ? 1u : 0u))
            Wrong = Cpu;
    }
    if (Status == IRQ_STATUS_SUCCESS && Finished == IrCpuSetWeight(Reached) && Wrong == IR_CPU_NONE &&
        KiGeneric.WrongApicId == 0)
        return true;
    KiFormatString(KiIpi.Problem, sizeof(KiIpi.Problem),
                   "generic %s: %s, %u/%u finished at return, first wrong cpu %d ran %u, %u wrong LAPIC ids", Step,
                   IrStatusName(Status), Finished, IrCpuSetWeight(Reached), Wrong == IR_CPU_NONE ? -1 : (int)Wrong,
                   Wrong == IR_CPU_NONE ? 0 : KiGeneric.Ran[Wrong], KiGeneric.WrongApicId);
    return false;
}

static bool KiIpiStepGenericCalls(void)
{
    IR_CPU_SET All, Others, Set, Last;
    KiOnlineSet(&All);
    IrCpuSetCopy(&Others, &All);
    IrCpuSetRemove(&Others, PlatCurrentCpu());
    KiIpiHoledSet(&Set);
    IrCpuSetZero(&Last);
    IrCpuSetAdd(&Last, KiProcessorCount - 1u);
    KE_IPI_TARGET AllTarget = {.Kind = KeIpiTargetAll};
    KE_IPI_TARGET OthersTarget = {.Kind = KeIpiTargetAllButSelf};
    KE_IPI_TARGET SetTarget = {.Kind = KeIpiTargetSet, .Cpus = &Set};
    KE_IPI_TARGET LastTarget = {.Kind = KeIpiTargetCpu, .Cpu = KiProcessorCount - 1u};
    return KiGenericStep("all", &AllTarget, &All) && KiGenericStep("all-but-self", &OthersTarget, &Others) &&
           KiGenericStep("set", &SetTarget, &Set) && KiGenericStep("cpu", &LastTarget, &Last);
}

/* ---- The case -------------------------------------------------------------------------------- */

static void KiIpiSetProbeHandlers(PKIPI_MESSAGE_HANDLER Handler)
{
    for (uint32_t Index = 0; Index < KI_PROBE_MESSAGE_COUNT; Index++)
        (void)KeSetIpiMessageHandler(KiProbeMessages[Index], Handler, NULL);
}

static size_t KiIpiRowsSize(size_t Row)
{
    return KiProcessorCount * Row;
}

static void KiIpiAllocateProbe(void)
{
    memset(&KiIpi, 0, sizeof(KiIpi));
    KiIpi.Received = KiTestAllocate(KiIpiRowsSize(sizeof(KiIpi.Received[0])));
    KiIpi.Expected = KiTestAllocate(KiIpiRowsSize(sizeof(KiIpi.Expected[0])));
    KiIpi.LibraryBase = KiTestAllocate(KiIpiRowsSize(sizeof(KiIpi.LibraryBase[0])));
    memset(&KiGeneric, 0, sizeof(KiGeneric));
    KiGeneric.Ran = KiTestAllocate(KiProcessorCount * sizeof(uint32_t));
}

static void KiIpiFreeProbe(void)
{
    KiTestFree(KiIpi.Received, KiIpiRowsSize(sizeof(KiIpi.Received[0])));
    KiTestFree(KiIpi.Expected, KiIpiRowsSize(sizeof(KiIpi.Expected[0])));
    KiTestFree(KiIpi.LibraryBase, KiIpiRowsSize(sizeof(KiIpi.LibraryBase[0])));
    KiTestFree(KiGeneric.Ran, KiProcessorCount * sizeof(uint32_t));
    KiGeneric.Ran = NULL;
}

static void KiIpiResetProbe(void)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++)
            KiIpi.LibraryBase[Cpu][Message] = KeQueryIpiCount(Cpu, (KE_IPI_MESSAGE)Message);
    }
}

static uint32_t KiIpiTotalHandled(void)
{
    uint32_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        for (uint32_t Message = 0; Message < KeIpiMessageCount; Message++)
            Total += KiIpi.Received[Cpu][Message];
    }
    return Total;
}

void KiTestIpiTargets(void)
{
    KiIpiAllocateProbe();
    KiIpiResetProbe();
    KiIpiSetProbeHandlers(KiIpiProbeHandler);
    bool Passed = KiIpiStepSingle() && KiIpiStepSetAllAndAllButSelf() && KiIpiStepTwoTypes() &&
                  KiIpiStepFromAp() && KiIpiStepRefusals() && KiIpiStepGenericCalls();
    KiIpiSetProbeHandlers(NULL);

    IR_CPU_SET Set;
    char SetText[64];
    KiIpiHoledSet(&Set);
    KiFormatCpuSet(&Set, SetText, sizeof(SetText));
    if (Passed)
        KiTestReport("ipi_targets", true,
                     "%u messages of %u types handled exactly on their targets (each cpu alone, set %s, all, "
                     "all-but-self from cpu 0 and cpu %u, two types to one cpu) with matching LAPIC ids and Ke "
                     "counts; bad targets refused; KeIpiGenericCall all/all-but-self/set/cpu ran once per target "
                     "and returned after all finished",
                     KiIpiTotalHandled(), (uint32_t)KI_PROBE_MESSAGE_COUNT, SetText, KiProcessorCount - 1u);
    else
        KiTestReport("ipi_targets", false, "%s", KiIpi.Problem);
    KiIpiFreeProbe();
}
