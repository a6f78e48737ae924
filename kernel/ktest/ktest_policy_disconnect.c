/* SPDX-License-Identifier: MIT */
/*
 * KTEST case 8, disconnect_while_firing: the RTC's periodic interrupt at
 * 8192 Hz, routed to APs, is disconnected (RkDeviceDisconnect, which is
 * IoDisconnectDevice -> IoDisconnectInterrupt) while it fires. After the
 * call returns:
 *  - the ISR never runs again, claimed or not: the device's count of ISR
 *    entries (RK_DEVICE.Runs) is read right after the return and must not
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
#include "ktest.h"
#include "ktest_policy.h"

#define RK_DISCONNECT_RTC_HZ 8192u
/* Interrupts the ISR must have logged (on the allowed CPUs) before the
 * disconnect: enough to show the connection fires and the disconnect meets
 * a source that is firing. The wait asks for no rate: it lasts as long as
 * interrupts keep coming, and fails only after RK_TEST_TIMEOUT_MS without
 * one. 8192 Hz is what QEMU's RTC emulates (mc146818rtc.c raises IRQ8 at
 * every period while PIE is set), not what the CPUs take: a host that
 * leaves QEMU's threads descheduled for a second at a time (seen on the
 * 2-core host: the polling CPU itself stalled 1.2 s, 38 interrupts came in
 * 5 s) lets the periods merge in the target's IRR. */
#define RK_DISCONNECT_WARMUP 16u
#define RK_DISCONNECT_WARMUP_GAP_MS RK_TEST_TIMEOUT_MS
/* How long "the ISR never runs again" is watched (a stall only shortens
 * the watch; it cannot make the check fail). */
#define RK_DISCONNECT_FROZEN_MS 50u
#define RK_DISCONNECT_STRAY_TIMEOUT_MS RK_TEST_TIMEOUT_MS

typedef struct _RK_DISCONNECT_PHASE {
    const char *Name;
    RK_DEVICE_ROUTING Routing;
    IR_CPU_SET Allowed;   /* where the RTC's ISR may run while connected */
    bool LatchOnHeldCpu;  /* phase 1: hold the (single) target at the RTC's IRQL before disconnecting */
    uint32_t Target;      /* the CPU held, with LatchOnHeldCpu */
    uint8_t ExpectVector; /* the vector the connect must get (vector reuse); 0: any */
} RK_DISCONNECT_PHASE;

typedef struct _RK_DISCONNECT_RUN {
    RK_DEVICE *Rtc;
    RK_ISR_LOG Log;
    KE_VECTOR_USAGE *UsageBefore; /* RkProcessorCount entries */
    KE_VECTOR_USAGE *UsageAfter;
    KIRQL *Levels;
    KINTERRUPT *Interrupt;
    IR_CPU_SET Cpus; /* the object's CPUs (vector tables it was linked in) */
    uint8_t Vector;
    KIRQL Irql;
    uint32_t Gsi;
    uint32_t RunsBeforeDisconnect;
    uint64_t EntriesAtDisconnect; /* ISR entries, claimed or not, when RkDeviceDisconnect returned */
    uint64_t StrayDeliveries; /* phase 1: deliveries of the vector after the disconnect */
    char Problem[220];
} RK_DISCONNECT_RUN;

static RK_DISCONNECT_RUN RkDisconnect;

static bool RkFail(RK_DISCONNECT_RUN *Run, const char *Phase, const char *What, IRQ_STATUS Status)
{
    RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: %s %s", Phase, What, IrStatusName(Status));
    return false;
}

/* ---- Before the disconnect ----------------------------------------------------------------- */

static void RkSnapshotUsage(KE_VECTOR_USAGE *Usage)
{
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        (void)KeQueryVectorUsage(Cpu, &Usage[Cpu]);
}

static bool RkConnectRtc(RK_DISCONNECT_RUN *Run, const RK_DISCONNECT_PHASE *Phase)
{
    RkSnapshotUsage(Run->UsageBefore);
    IRQ_STATUS Status = RkDeviceConnect(Run->Rtc, &Phase->Routing);
    if (Status != IRQ_STATUS_SUCCESS)
        return RkFail(Run, Phase->Name, "RkDeviceConnect", Status);
    Run->Interrupt = Run->Rtc->Connection.Interrupts[0];
    Run->Vector = KeGetInterruptVector(Run->Interrupt);
    Run->Irql = KeGetInterruptIrql(Run->Interrupt);
    KeGetInterruptCpus(Run->Interrupt, &Run->Cpus);
    Status = IoQueryInterruptLine(Run->Interrupt, &Run->Gsi);
    if (Status != IRQ_STATUS_SUCCESS)
        return RkFail(Run, Phase->Name, "IoQueryInterruptLine", Status);
    if (Phase->ExpectVector != 0 && Run->Vector != Phase->ExpectVector) {
        RkFormatString(Run->Problem, sizeof(Run->Problem),
                       "%s: the same connect after the disconnect got vector 0x%x, the first one 0x%x", Phase->Name,
                       Run->Vector, Phase->ExpectVector);
        return false;
    }
    return true;
}

/* The RTC fires, and only on the CPUs the routing allows. */
static bool RkStartFiring(RK_DISCONNECT_RUN *Run, const RK_DISCONNECT_PHASE *Phase)
{
    RkIsrLogAttach(Run->Rtc, &Run->Log);
    IRQ_STATUS Status = RkDeviceStart(Run->Rtc, RK_DISCONNECT_RTC_HZ);
    if (Status != IRQ_STATUS_SUCCESS)
        return RkFail(Run, Phase->Name, "RkDeviceStart", Status);
    if (!RkWaitCounter32Progress(&Run->Log.Count, RK_DISCONNECT_WARMUP, RK_DISCONNECT_WARMUP_GAP_MS)) {
        RkFormatString(Run->Problem, sizeof(Run->Problem),
                       "%s: the RTC stopped after %u of %u interrupts (none for %u ms)", Phase->Name,
                       RkIsrLogCount(&Run->Log), RK_DISCONNECT_WARMUP, RK_DISCONNECT_WARMUP_GAP_MS);
        return false;
    }
    for (uint32_t Index = 0; Index < RK_DISCONNECT_WARMUP; Index++) {
        uint32_t Cpu = Run->Log.Records[Index].Cpu;
        if (!IrCpuSetContains(&Phase->Allowed, Cpu)) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: RTC interrupt %u ran on cpu %u", Phase->Name,
                           Index, Cpu);
            return false;
        }
    }
    return true;
}

static bool RkSetOneLevel(RK_DISCONNECT_RUN *Run, uint32_t Cpu, KIRQL Level)
{
    for (uint32_t Other = 0; Other < RkProcessorCount; Other++)
        Run->Levels[Other] = RK_HOLD_UNCHANGED;
    Run->Levels[Cpu] = Level;
    return RkHoldSetLevels(Run->Levels);
}

static bool RkRtcEdgeWentOut(void *Context)
{
    (void)Context;
    return RkRtcTakePeriodicFlag();
}

static uint64_t RkVectorDeliveries(uint32_t Cpu, uint8_t Vector, uint64_t *Unclaimed)
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
static uint64_t RkIsrEntries(const RK_DEVICE *Device)
{
    uint64_t Entries = 0;
    for (uint32_t Cpu = 0; Cpu < Device->CpuCount; Cpu++)
        Entries += __atomic_load_n(&Device->Runs[Cpu], __ATOMIC_ACQUIRE);
    return Entries;
}

static bool RkCheckFrozen(RK_DISCONNECT_RUN *Run, const char *Phase)
{
    RkStallMilliseconds(RK_DISCONNECT_FROZEN_MS);
    uint32_t After = RkIsrLogCount(&Run->Log);
    uint64_t Entries = RkIsrEntries(Run->Rtc);
    if (After == Run->RunsBeforeDisconnect && Run->Log.AfterStop == 0 && Entries == Run->EntriesAtDisconnect)
        return true;
    RkFormatString(Run->Problem, sizeof(Run->Problem),
                   "%s: the ISR ran after RkDeviceDisconnect returned (entries %lu -> %lu, claimed runs logged "
                   "%u -> %u, %u after the stop)",
                   Phase, Run->EntriesAtDisconnect, Entries, Run->RunsBeforeDisconnect, After, Run->Log.AfterStop);
    return false;
}

static bool RkCheckMasked(RK_DISCONNECT_RUN *Run, const char *Phase)
{
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = 0};
    IRQ_STATUS Status = HlIoApicReadEntry(Run->Gsi, &Entry);
    if (Status == IRQ_STATUS_SUCCESS && Entry.Bits.Mask == 1)
        return true;
    RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: GSI %u entry 0x%08x%08x is not masked (%s)", Phase,
                   Run->Gsi, Entry.Words.High, Entry.Words.Low, IrStatusName(Status));
    return false;
}

static bool RkUsageEqual(const KE_VECTOR_USAGE *A, const KE_VECTOR_USAGE *B)
{
    return memcmp(A, B, sizeof(*A)) == 0;
}

static bool RkCheckVectorFree(RK_DISCONNECT_RUN *Run, const char *Phase)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Run->Cpus) {
        if (KeIsVectorAllocated(Cpu, Run->Vector)) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: vector 0x%x still allocated on cpu %u", Phase,
                           Run->Vector, Cpu);
            return false;
        }
    }
    KE_VECTOR_USAGE *After = Run->UsageAfter;
    RkSnapshotUsage(After);
    for (Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (!RkUsageEqual(&After[Cpu], &Run->UsageBefore[Cpu])) {
            RkFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s: cpu %u has %u device vectors allocated, %u before the connect", Phase, Cpu,
                           After[Cpu].Allocated, Run->UsageBefore[Cpu].Allocated);
            return false;
        }
    }
    return true;
}

typedef struct _RK_STRAY_WAIT {
    uint32_t Cpu;
    uint8_t Vector;
    uint64_t Delivered;
} RK_STRAY_WAIT;

static bool RkStrayArrived(void *Context)
{
    const RK_STRAY_WAIT *Wait = Context;
    uint64_t Unclaimed;
    return RkVectorDeliveries(Wait->Cpu, Wait->Vector, &Unclaimed) > Wait->Delivered;
}

/* Phase 1's stray: the interrupt latched on the held CPU arrives after the
 * disconnect on a vector with no object: delivered, claimed by nobody. */
static bool RkReleaseLatched(RK_DISCONNECT_RUN *Run, const RK_DISCONNECT_PHASE *Phase, uint64_t Delivered,
                             uint64_t Unclaimed)
{
    if (!RkSetOneLevel(Run, Phase->Target, PASSIVE_LEVEL)) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: cpu %u did not come down", Phase->Name, Phase->Target);
        return false;
    }
    /* The held CPU acknowledges its new level just before it enables
     * interrupts and takes what is pending: wait for the delivery. */
    RK_STRAY_WAIT Wait = {.Cpu = Phase->Target, .Vector = Run->Vector, .Delivered = Delivered};
    (void)RkWaitFor(RkStrayArrived, &Wait, RK_DISCONNECT_STRAY_TIMEOUT_MS);
    (void)RkWaitDispatchDone(Phase->Target); /* its statistics are complete */
    uint64_t UnclaimedAfter;
    uint64_t DeliveredAfter = RkVectorDeliveries(Phase->Target, Run->Vector, &UnclaimedAfter);
    Run->StrayDeliveries = DeliveredAfter - Delivered;
    if (Run->StrayDeliveries >= 1u && UnclaimedAfter - Unclaimed == Run->StrayDeliveries)
        return true;
    RkFormatString(Run->Problem, sizeof(Run->Problem),
                   "%s: the interrupt latched on cpu %u: %lu deliveries after the disconnect, %lu unclaimed "
                   "(expected at least one, all unclaimed)",
                   Phase->Name, Phase->Target, Run->StrayDeliveries, UnclaimedAfter - Unclaimed);
    return false;
}

static bool RkDisconnectFiring(RK_DISCONNECT_RUN *Run, const RK_DISCONNECT_PHASE *Phase)
{
    uint64_t Delivered = 0, Unclaimed = 0;
    if (Phase->LatchOnHeldCpu) {
        if (!RkSetOneLevel(Run, Phase->Target, Run->Irql)) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: cpu %u did not rise to IRQL %u", Phase->Name,
                           Phase->Target, Run->Irql);
            return false;
        }
        /* From here the held CPU cannot run the RTC's ISR, so nobody reads
         * register C but this wait: IRQF up means an edge went out to the
         * held CPU, where it waits in the IRR. Reading C lowers the line;
         * the next period's edge only finds the IRR bit already set. */
        if (!RkWaitFor(RkRtcEdgeWentOut, NULL, RK_TEST_TIMEOUT_MS)) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: no RTC edge in %u ms while cpu %u was held",
                           Phase->Name, RK_TEST_TIMEOUT_MS, Phase->Target);
            return false;
        }
        Delivered = RkVectorDeliveries(Phase->Target, Run->Vector, &Unclaimed);
    }
    IRQ_STATUS Status = RkDeviceDisconnect(Run->Rtc);
    RkIsrLogStop(&Run->Log);
    Run->RunsBeforeDisconnect = RkIsrLogCount(&Run->Log);
    Run->EntriesAtDisconnect = RkIsrEntries(Run->Rtc);
    if (Status != IRQ_STATUS_SUCCESS)
        return RkFail(Run, Phase->Name, "RkDeviceDisconnect", Status);
    if (Phase->LatchOnHeldCpu && !RkReleaseLatched(Run, Phase, Delivered, Unclaimed))
        return false;
    return RkCheckFrozen(Run, Phase->Name) && RkCheckMasked(Run, Phase->Name) &&
           RkCheckVectorFree(Run, Phase->Name);
}

static bool RkRunPhase(RK_DISCONNECT_RUN *Run, const RK_DISCONNECT_PHASE *Phase)
{
    bool Passed = RkConnectRtc(Run, Phase) && RkStartFiring(Run, Phase) && RkDisconnectFiring(Run, Phase);
    RkIsrLogDetach(Run->Rtc);
    if (Run->Rtc->Connected)
        (void)RkDeviceDisconnect(Run->Rtc);
    return Passed;
}

/* ---- The case ------------------------------------------------------------------------------------ */

static void RkFixedPhase(RK_DISCONNECT_PHASE *Phase, const char *Name, uint32_t Target, bool Latch)
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
static void RkRoundRobinPhase(RK_DISCONNECT_PHASE *Phase)
{
    memset(Phase, 0, sizeof(*Phase));
    Phase->Name = "round robin over the APs";
    Phase->Routing.Routing = IoDeviceRoundRobin;
    Phase->Routing.Cpu = IR_CPU_NONE;
    (void)RkReachableSet(&Phase->Routing.Mask);
    IrCpuSetRemove(&Phase->Routing.Mask, 0);
    IrCpuSetCopy(&Phase->Allowed, &Phase->Routing.Mask);
}

/* Phases 1 and 2: the latched stray, then the same routing again. */
static bool RkLatchAndReuse(RK_DISCONNECT_RUN *Run, uint32_t Target, uint8_t *FirstVector, uint64_t *Stray)
{
    RK_DISCONNECT_PHASE Phase;
    RkFixedPhase(&Phase, "fixed to an AP, latched", Target, true);
    if (!RkHoldEnterAll()) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "an AP did not enter its hold loop");
        return false;
    }
    bool Passed = RkRunPhase(Run, &Phase);
    RkHoldReleaseAll();
    *FirstVector = Run->Vector;
    *Stray = Run->StrayDeliveries;
    if (!Passed)
        return false;
    RkFixedPhase(&Phase, "reconnected, fixed to an AP", Target, false);
    Phase.ExpectVector = *FirstVector;
    return RkRunPhase(Run, &Phase);
}

void RkTestDisconnectWhileFiring(void)
{
    RK_DISCONNECT_RUN *Run = &RkDisconnect;
    memset(Run, 0, sizeof(*Run));
    Run->Rtc = RkDeviceGet(RkDeviceRtc);
    if (Run->Rtc == NULL || !Run->Rtc->Present || Run->Rtc->Connected) {
        RkTestReport("disconnect_while_firing", false, "the RTC is absent or still connected");
        return;
    }
    if (RkProcessorCount < 2u) {
        RkTestReport("disconnect_while_firing", true, "not applicable: no AP");
        return;
    }
    uint32_t Target = 1u;
    if (!RkCpuDeviceReachable(Target)) {
        RkTestReport("disconnect_while_firing", false, "cpu 1 has APIC id %u: a device interrupt cannot reach it",
                     RkPcr[Target].ApicId);
        return;
    }
    size_t Usage = RkProcessorCount * sizeof(KE_VECTOR_USAGE);
    Run->UsageBefore = RkTestAllocate(Usage);
    Run->UsageAfter = RkTestAllocate(Usage);
    Run->Levels = RkTestAllocate(RkProcessorCount * sizeof(KIRQL));
    RkIsrLogCreate(&Run->Log, RK_DISCONNECT_WARMUP);
    uint8_t Vector = 0;
    uint64_t Stray = 0;
    bool Passed = RkLatchAndReuse(Run, Target, &Vector, &Stray);
    RK_DISCONNECT_PHASE RoundRobin;
    RkRoundRobinPhase(&RoundRobin);
    Passed = Passed && RkRunPhase(Run, &RoundRobin);
    RkTestFree(Run->UsageBefore, Usage);
    RkTestFree(Run->UsageAfter, Usage);
    RkTestFree(Run->Levels, RkProcessorCount * sizeof(KIRQL));
    RkIsrLogDestroy(&Run->Log);
    if (Passed)
        RkTestReport("disconnect_while_firing", true,
                     "RTC %u Hz on GSI %u: fixed to cpu %u, round robin over the APs: after RkDeviceDisconnect "
                     "returned the ISR never ran (%u ms frozen), the entry was masked, the vector free on every "
                     "CPU and every CPU's usage as before the connect; the interrupt latched on held cpu %u "
                     "arrived %lu time(s) after the disconnect and was counted unclaimed; reconnecting got the same "
                     "vector 0x%x",
                     RK_DISCONNECT_RTC_HZ, Run->Gsi, Target, RK_DISCONNECT_FROZEN_MS, Target, Stray, Vector);
    else
        RkTestReport("disconnect_while_firing", false, "%s", Run->Problem);
}
