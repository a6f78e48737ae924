/*
 * KTEST case 8, disconnect_while_firing: the RTC's periodic interrupt at
 * 8192 Hz, routed to APs, is disconnected (KiDeviceDisconnect, which is
 * IoDisconnectDevice -> IoDisconnectInterrupt) while it fires. After the
 * call returns:
 *  - the ISR never runs again, claimed or not: the device's count of ISR
 *    entries (KI_DEVICE.Runs) is read right after the return and must not
 *    move, through phase 1's latched delivery and a 50 ms watch; the ISR
 *    log is stopped at the return and every later claimed run is counted
 *    as a violation;
 *  - the redirection entry is masked (read back through HlIoApicReadEntry);
 *  - the vector is free on every CPU it was connected on
 *    (KeIsVectorAllocated), and every CPU's vector usage is what it was
 *    before the connect (KeQueryVectorUsage);
 *  - the next connect with the same routing gets the same vector. This is
 *    asserted because the allocator is a function of its state: the usage
 *    check shows the state is back where it was before the first connect,
 *    so the same request must get the same answer. A vector left allocated
 *    (or freed on only some CPUs) would give another one.
 *
 * Phase 1 makes the race concrete: the RTC's only CPU (an AP) is held at
 * the RTC's IRQL so that an interrupt sits latched in its local APIC's IRR
 * while the BSP disconnects (the test waits until the RTC's register C
 * shows that an edge went out while the AP was held, however late the
 * host runs the RTC's timer). When the AP is let down again it takes that
 * interrupt on the vector that is no longer linked: Ke must count it as a
 * delivery nobody claimed, and the ISR must not run.
 * Phase 2 reconnects the same way (vector reuse) and disconnects while the
 * RTC fires at the AP; phase 3 does it with round robin over all the APs.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "driver.h"
#include "ktest_policy.h"

#define KI_DISCONNECT_RTC_HZ 8192u
/* Interrupts the ISR must have logged (on the allowed CPUs) before the
 * disconnect: enough to show the connection fires and the disconnect meets
 * a source that is firing. The wait asks for no rate: it lasts as long as
 * interrupts keep coming, and fails only after KI_TEST_TIMEOUT_MS without
 * one. 8192 Hz is what QEMU's RTC emulates (mc146818rtc.c raises IRQ8 at
 * every period while PIE is set), not what the CPUs take: a host that
 * leaves QEMU's threads descheduled for a second at a time (seen on the
 * 2-core host: the polling CPU itself stalled 1.2 s, 38 interrupts came in
 * 5 s) lets the periods merge in the target's IRR. */
#define KI_DISCONNECT_WARMUP 16u
#define KI_DISCONNECT_WARMUP_GAP_MS KI_TEST_TIMEOUT_MS
/* How long "the ISR never runs again" is watched (a stall only shortens
 * the watch; it cannot make the check fail). */
#define KI_DISCONNECT_FROZEN_MS 50u
#define KI_DISCONNECT_STRAY_TIMEOUT_MS KI_TEST_TIMEOUT_MS

typedef struct _KI_DISCONNECT_PHASE {
    const char *Name;
    KI_DEVICE_ROUTING Routing;
    IR_CPU_SET Allowed;   /* where the RTC's ISR may run while connected */
    bool LatchOnHeldCpu;  /* phase 1: hold the (single) target at the RTC's IRQL before disconnecting */
    uint32_t Target;      /* the CPU held, with LatchOnHeldCpu */
    uint8_t ExpectVector; /* the vector the connect must get (vector reuse); 0: any */
} KI_DISCONNECT_PHASE;

typedef struct _KI_DISCONNECT_RUN {
    KI_DEVICE *Rtc;
    KI_ISR_LOG Log;
    KE_VECTOR_USAGE *UsageBefore; /* KiProcessorCount entries */
    KE_VECTOR_USAGE *UsageAfter;
    KIRQL *Levels;
    KINTERRUPT *Interrupt;
    IR_CPU_SET Cpus; /* the object's CPUs (vector tables it was linked in) */
    uint8_t Vector;
    KIRQL Irql;
    uint32_t Gsi;
    uint32_t RunsBeforeDisconnect;
    uint64_t EntriesAtDisconnect; /* ISR entries, claimed or not, when KiDeviceDisconnect returned */
    uint64_t StrayDeliveries; /* phase 1: deliveries of the vector after the disconnect */
    char Problem[220];
} KI_DISCONNECT_RUN;

static KI_DISCONNECT_RUN KiDisconnect;

static bool KiFail(KI_DISCONNECT_RUN *Run, const char *Phase, const char *What, IRQ_STATUS Status)
{
    KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: %s %s", Phase, What, IrStatusName(Status));
    return false;
}

/* ---- Before the disconnect ----------------------------------------------------------------- */

static void KiSnapshotUsage(KE_VECTOR_USAGE *Usage)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        (void)KeQueryVectorUsage(Cpu, &Usage[Cpu]);
}

static bool KiConnectRtc(KI_DISCONNECT_RUN *Run, const KI_DISCONNECT_PHASE *Phase)
{
    KiSnapshotUsage(Run->UsageBefore);
    IRQ_STATUS Status = KiDeviceConnect(Run->Rtc, &Phase->Routing);
    if (Status != IRQ_STATUS_SUCCESS)
        return KiFail(Run, Phase->Name, "KiDeviceConnect", Status);
    Run->Interrupt = Run->Rtc->Connection.Interrupts[0];
    Run->Vector = KeGetInterruptVector(Run->Interrupt);
    Run->Irql = KeGetInterruptIrql(Run->Interrupt);
    KeGetInterruptCpus(Run->Interrupt, &Run->Cpus);
    Status = IoQueryInterruptLine(Run->Interrupt, &Run->Gsi);
    if (Status != IRQ_STATUS_SUCCESS)
        return KiFail(Run, Phase->Name, "IoQueryInterruptLine", Status);
    if (Phase->ExpectVector != 0 && Run->Vector != Phase->ExpectVector) {
        KiFormatString(Run->Problem, sizeof(Run->Problem),
                       "%s: the same connect after the disconnect got vector 0x%x, the first one 0x%x", Phase->Name,
                       Run->Vector, Phase->ExpectVector);
        return false;
    }
    return true;
}

/* The RTC fires, and only on the CPUs the routing allows. */
static bool KiStartFiring(KI_DISCONNECT_RUN *Run, const KI_DISCONNECT_PHASE *Phase)
{
    KiIsrLogAttach(Run->Rtc, &Run->Log);
    IRQ_STATUS Status = KiDeviceStart(Run->Rtc, KI_DISCONNECT_RTC_HZ);
    if (Status != IRQ_STATUS_SUCCESS)
        return KiFail(Run, Phase->Name, "KiDeviceStart", Status);
    if (!KiWaitCounter32Progress(&Run->Log.Count, KI_DISCONNECT_WARMUP, KI_DISCONNECT_WARMUP_GAP_MS)) {
        KiFormatString(Run->Problem, sizeof(Run->Problem),
                       "%s: the RTC stopped after %u of %u interrupts (none for %u ms)", Phase->Name,
                       KiIsrLogCount(&Run->Log), KI_DISCONNECT_WARMUP, KI_DISCONNECT_WARMUP_GAP_MS);
        return false;
    }
    for (uint32_t Index = 0; Index < KI_DISCONNECT_WARMUP; Index++) {
        uint32_t Cpu = Run->Log.Records[Index].Cpu;
        if (!IrCpuSetContains(&Phase->Allowed, Cpu)) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: RTC interrupt %u ran on cpu %u", Phase->Name,
                           Index, Cpu);
            return false;
        }
    }
    return true;
}

static bool KiSetOneLevel(KI_DISCONNECT_RUN *Run, uint32_t Cpu, KIRQL Level)
{
    for (uint32_t Other = 0; Other < KiProcessorCount; Other++)
        Run->Levels[Other] = KI_HOLD_UNCHANGED;
    Run->Levels[Cpu] = Level;
    return KiHoldSetLevels(Run->Levels);
}

static bool KiRtcEdgeWentOut(void *Context)
{
    (void)Context;
    return KiRtcTakePeriodicFlag();
}

static uint64_t KiVectorDeliveries(uint32_t Cpu, uint8_t Vector, uint64_t *Unclaimed)
{
    KE_VECTOR_STATISTICS Statistics = {0};
    (void)KeQueryVectorStatistics(Cpu, Vector, &Statistics);
    *Unclaimed = Statistics.Unclaimed;
    return Statistics.Dispatched;
}

/* ---- The disconnect and what must hold after it ------------------------------------------------ */

/* Every entry into the RTC's ISR on any CPU, claimed or not: an ISR that
 * ran after the disconnect and found register C empty claims nothing, so
 * the claimed counts alone would not see it. */
static uint64_t KiIsrEntries(const KI_DEVICE *Device)
{
    uint64_t Entries = 0;
    for (uint32_t Cpu = 0; Cpu < Device->CpuCount; Cpu++)
        Entries += __atomic_load_n(&Device->Runs[Cpu], __ATOMIC_ACQUIRE);
    return Entries;
}

static bool KiCheckFrozen(KI_DISCONNECT_RUN *Run, const char *Phase)
{
    KiStallMilliseconds(KI_DISCONNECT_FROZEN_MS);
    uint32_t After = KiIsrLogCount(&Run->Log);
    uint64_t Entries = KiIsrEntries(Run->Rtc);
    if (After == Run->RunsBeforeDisconnect && Run->Log.AfterStop == 0 && Entries == Run->EntriesAtDisconnect)
        return true;
    KiFormatString(Run->Problem, sizeof(Run->Problem),
                   "%s: the ISR ran after KiDeviceDisconnect returned (entries %lu -> %lu, claimed runs logged "
                   "%u -> %u, %u after the stop)",
                   Phase, Run->EntriesAtDisconnect, Entries, Run->RunsBeforeDisconnect, After, Run->Log.AfterStop);
    return false;
}

static bool KiCheckMasked(KI_DISCONNECT_RUN *Run, const char *Phase)
{
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = 0};
    IRQ_STATUS Status = HlIoApicReadEntry(Run->Gsi, &Entry);
    if (Status == IRQ_STATUS_SUCCESS && Entry.Bits.Mask == 1)
        return true;
    KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: GSI %u entry 0x%08x%08x is not masked (%s)", Phase,
                   Run->Gsi, Entry.Words.High, Entry.Words.Low, IrStatusName(Status));
    return false;
}

static bool KiUsageEqual(const KE_VECTOR_USAGE *A, const KE_VECTOR_USAGE *B)
{
    return memcmp(A, B, sizeof(*A)) == 0;
}

static bool KiCheckVectorFree(KI_DISCONNECT_RUN *Run, const char *Phase)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Run->Cpus) {
        if (KeIsVectorAllocated(Cpu, Run->Vector)) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: vector 0x%x still allocated on cpu %u", Phase,
                           Run->Vector, Cpu);
            return false;
        }
    }
    KE_VECTOR_USAGE *After = Run->UsageAfter;
    KiSnapshotUsage(After);
    for (Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (!KiUsageEqual(&After[Cpu], &Run->UsageBefore[Cpu])) {
            KiFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s: cpu %u has %u device vectors allocated, %u before the connect", Phase, Cpu,
                           After[Cpu].Allocated, Run->UsageBefore[Cpu].Allocated);
            return false;
        }
    }
    return true;
}

typedef struct _KI_STRAY_WAIT {
    uint32_t Cpu;
    uint8_t Vector;
    uint64_t Delivered;
} KI_STRAY_WAIT;

static bool KiStrayArrived(void *Context)
{
    const KI_STRAY_WAIT *Wait = Context;
    uint64_t Unclaimed;
    return KiVectorDeliveries(Wait->Cpu, Wait->Vector, &Unclaimed) > Wait->Delivered;
}

/* Phase 1's stray: the interrupt latched on the held CPU arrives after the
 * disconnect on a vector with no object: delivered, claimed by nobody. */
static bool KiReleaseLatched(KI_DISCONNECT_RUN *Run, const KI_DISCONNECT_PHASE *Phase, uint64_t Delivered,
                             uint64_t Unclaimed)
{
    if (!KiSetOneLevel(Run, Phase->Target, PASSIVE_LEVEL)) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: cpu %u did not come down", Phase->Name, Phase->Target);
        return false;
    }
    /* The held CPU acknowledges its new level just before it enables
     * interrupts and takes what is pending: wait for the delivery. */
    KI_STRAY_WAIT Wait = {.Cpu = Phase->Target, .Vector = Run->Vector, .Delivered = Delivered};
    (void)KiWaitFor(KiStrayArrived, &Wait, KI_DISCONNECT_STRAY_TIMEOUT_MS);
    (void)KiWaitDispatchDone(Phase->Target); /* its statistics are complete */
    uint64_t UnclaimedAfter;
    uint64_t DeliveredAfter = KiVectorDeliveries(Phase->Target, Run->Vector, &UnclaimedAfter);
    Run->StrayDeliveries = DeliveredAfter - Delivered;
    if (Run->StrayDeliveries >= 1u && UnclaimedAfter - Unclaimed == Run->StrayDeliveries)
        return true;
    KiFormatString(Run->Problem, sizeof(Run->Problem),
                   "%s: the interrupt latched on cpu %u: %lu deliveries after the disconnect, %lu unclaimed "
                   "(expected at least one, all unclaimed)",
                   Phase->Name, Phase->Target, Run->StrayDeliveries, UnclaimedAfter - Unclaimed);
    return false;
}

static bool KiDisconnectFiring(KI_DISCONNECT_RUN *Run, const KI_DISCONNECT_PHASE *Phase)
{
    uint64_t Delivered = 0, Unclaimed = 0;
    if (Phase->LatchOnHeldCpu) {
        if (!KiSetOneLevel(Run, Phase->Target, Run->Irql)) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: cpu %u did not rise to IRQL %u", Phase->Name,
                           Phase->Target, Run->Irql);
            return false;
        }
        /* From here the held CPU cannot run the RTC's ISR, so nobody reads
         * register C but this wait: IRQF up means an edge went out to the
         * held CPU, where it waits in the IRR. Reading C lowers the line;
         * the next period's edge only finds the IRR bit already set. */
        if (!KiWaitFor(KiRtcEdgeWentOut, NULL, KI_TEST_TIMEOUT_MS)) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: no RTC edge in %u ms while cpu %u was held",
                           Phase->Name, KI_TEST_TIMEOUT_MS, Phase->Target);
            return false;
        }
        Delivered = KiVectorDeliveries(Phase->Target, Run->Vector, &Unclaimed);
    }
    IRQ_STATUS Status = KiDeviceDisconnect(Run->Rtc);
    KiIsrLogStop(&Run->Log);
    Run->RunsBeforeDisconnect = KiIsrLogCount(&Run->Log);
    Run->EntriesAtDisconnect = KiIsrEntries(Run->Rtc);
    if (Status != IRQ_STATUS_SUCCESS)
        return KiFail(Run, Phase->Name, "KiDeviceDisconnect", Status);
    if (Phase->LatchOnHeldCpu && !KiReleaseLatched(Run, Phase, Delivered, Unclaimed))
        return false;
    return KiCheckFrozen(Run, Phase->Name) && KiCheckMasked(Run, Phase->Name) &&
           KiCheckVectorFree(Run, Phase->Name);
}

static bool KiRunPhase(KI_DISCONNECT_RUN *Run, const KI_DISCONNECT_PHASE *Phase)
{
    bool Passed = KiConnectRtc(Run, Phase) && KiStartFiring(Run, Phase) && KiDisconnectFiring(Run, Phase);
    KiIsrLogDetach(Run->Rtc);
    if (Run->Rtc->Connected)
        (void)KiDeviceDisconnect(Run->Rtc);
    return Passed;
}

/* ---- The case ------------------------------------------------------------------------------------ */

static void KiFixedPhase(KI_DISCONNECT_PHASE *Phase, const char *Name, uint32_t Target, bool Latch)
{
    memset(Phase, 0, sizeof(*Phase));
    Phase->Name = Name;
    Phase->Routing.Routing = IoDeviceFixed;
    Phase->Routing.Cpu = Target;
    IrCpuSetAdd(&Phase->Allowed, Target);
    Phase->LatchOnHeldCpu = Latch;
    Phase->Target = Target;
}

/* Over the APs a device interrupt can reach (APIC ids below 255). */
static void KiRoundRobinPhase(KI_DISCONNECT_PHASE *Phase)
{
    memset(Phase, 0, sizeof(*Phase));
    Phase->Name = "round robin over the APs";
    Phase->Routing.Routing = IoDeviceRoundRobin;
    Phase->Routing.Cpu = IR_CPU_NONE;
    (void)KiReachableSet(&Phase->Routing.Mask);
    IrCpuSetRemove(&Phase->Routing.Mask, 0);
    IrCpuSetCopy(&Phase->Allowed, &Phase->Routing.Mask);
}

/* Phases 1 and 2: the latched stray, then the same routing again. */
static bool KiLatchAndReuse(KI_DISCONNECT_RUN *Run, uint32_t Target, uint8_t *FirstVector, uint64_t *Stray)
{
    KI_DISCONNECT_PHASE Phase;
    KiFixedPhase(&Phase, "fixed to an AP, latched", Target, true);
    if (!KiHoldEnterAll()) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "an AP did not enter its hold loop");
        return false;
    }
    bool Passed = KiRunPhase(Run, &Phase);
    KiHoldReleaseAll();
    *FirstVector = Run->Vector;
    *Stray = Run->StrayDeliveries;
    if (!Passed)
        return false;
    KiFixedPhase(&Phase, "reconnected, fixed to an AP", Target, false);
    Phase.ExpectVector = *FirstVector;
    return KiRunPhase(Run, &Phase);
}

void KiTestDisconnectWhileFiring(void)
{
    KI_DISCONNECT_RUN *Run = &KiDisconnect;
    memset(Run, 0, sizeof(*Run));
    Run->Rtc = KiDeviceGet(KiDeviceRtc);
    if (Run->Rtc == NULL || !Run->Rtc->Present || Run->Rtc->Connected) {
        KiTestReport("disconnect_while_firing", false, "the RTC is absent or still connected");
        return;
    }
    if (KiProcessorCount < 2u) {
        KiTestReport("disconnect_while_firing", true, "not applicable: no AP");
        return;
    }
    uint32_t Target = 1u;
    if (!KiCpuDeviceReachable(Target)) {
        KiTestReport("disconnect_while_firing", false, "cpu 1 has APIC id %u: a device interrupt cannot reach it",
                     KiPcr[Target].ApicId);
        return;
    }
    size_t Usage = KiProcessorCount * sizeof(KE_VECTOR_USAGE);
    Run->UsageBefore = KiTestAllocate(Usage);
    Run->UsageAfter = KiTestAllocate(Usage);
    Run->Levels = KiTestAllocate(KiProcessorCount * sizeof(KIRQL));
    KiIsrLogCreate(&Run->Log, KI_DISCONNECT_WARMUP);
    uint8_t Vector = 0;
    uint64_t Stray = 0;
    bool Passed = KiLatchAndReuse(Run, Target, &Vector, &Stray);
    KI_DISCONNECT_PHASE RoundRobin;
    KiRoundRobinPhase(&RoundRobin);
    Passed = Passed && KiRunPhase(Run, &RoundRobin);
    KiTestFree(Run->UsageBefore, Usage);
    KiTestFree(Run->UsageAfter, Usage);
    KiTestFree(Run->Levels, KiProcessorCount * sizeof(KIRQL));
    KiIsrLogDestroy(&Run->Log);
    if (Passed)
        KiTestReport("disconnect_while_firing", true,
                     "RTC %u Hz on GSI %u: fixed to cpu %u, round robin over the APs: after KiDeviceDisconnect "
                     "returned the ISR never ran (%u ms frozen), the entry was masked, the vector free on every "
                     "CPU and every CPU's usage as before the connect; the interrupt latched on held cpu %u "
                     "arrived %lu time(s) after the disconnect and was counted unclaimed; reconnecting got the same "
                     "vector 0x%x",
                     KI_DISCONNECT_RTC_HZ, Run->Gsi, Target, KI_DISCONNECT_FROZEN_MS, Target, Stray, Vector);
    else
        KiTestReport("disconnect_while_firing", false, "%s", Run->Problem);
}
