/* SPDX-License-Identifier: MIT */
/*
 * KTEST offline_while_firing: CPU offline and online (io.h,
 * IoSetProcessorOffline / IoSetProcessorOnline) while three kinds of device
 * interrupt fire fast:
 *  - the RTC's periodic interrupt (an edge line, GSI 8 through the ISA
 *    override) at 8192 Hz;
 *  - edu's MSI, raised by an AP in a tight loop (one raise, wait until its
 *    ISR claimed it, the next raise);
 *  - igb's MSI-X vector 0 (when -device igb is there), raised by the same
 *    loop through EICS.
 * All three are connected through the device table movable (IoDeviceFixed
 * with a mask: IoTargetRoutable) over every CPU a device interrupt reaches.
 * Then each AP in turn (beyond 64 CPUs a sample: RkpChooseAps) gets all three
 * moved to it, takes an interrupt of each, and is taken offline by the BSP
 * while they fire; they keep firing elsewhere for a while, and the AP comes
 * back online. The case asserts:
 *  - IoSetProcessorOffline SUCCESS, Result.Blocking NULL, Result.Moved the
 *    number of the devices that were on the AP, no affinity broken;
 *  - nothing ran on the offline AP after the call returned: each device's
 *    ISR entries on that CPU (RK_DEVICE.Runs, claimed or not) are the same
 *    when the call returned and just before IoSetProcessorOnline, and no
 *    device is delivered there (IoQueryInterruptTarget);
 *  - nothing lost, nothing twice: every edu and igb raise was claimed by
 *    exactly one ISR run (raises = claims = ISR entries for edu, whose
 *    ISR claims only when its status register says so; raises = claims
 *    for igb, whose ISR always claims, so a second delivery would show),
 *    and the raiser never waited in vain for a raise's ISR;
 *  - the RTC's ISR keeps running after each offline call (its claims grow
 *    by RK_OFFLINE_AFTER).
 * Every wait ends as soon as its condition holds; the limits only outlast
 * a vCPU thread that a loaded host leaves descheduled. Nothing is timed.
 *
 * The raiser is an AP (the BSP is busy taking CPUs offline) in a loop entered
 * from an IPI (KeIpiUser1), as the hold loop of ktest_policy_hold.c: the
 * IPI is retired at once (EOI), the CPU lowered to PASSIVE_LEVEL with
 * interrupts enabled, so it takes device interrupts and Ke's requests (the
 * retirement of old vectors) like an idle CPU. It goes on raising while its
 * own CPU is offline: offline only means no device interrupt reaches it.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "device.h"
#include "driver.h"
#include "kernel.h"
#include "ktest.h"
#include "ktest_policy.h"

#define RK_OFFLINE_NAME "offline_while_firing"
#define RK_OFFLINE_RTC_HZ 8192u
/* Each device's claims elsewhere after each offline call, before the CPU
 * comes back: enough interrupts to show they keep coming. */
#define RK_OFFLINE_AFTER 8u
/* Every AP up to this many CPUs; beyond it a sample (RkSampleSet). */
#define RK_OFFLINE_ALL_UP_TO 64u
#define RK_OFFLINE_SAMPLE 6u
#define RK_OFFLINE_WAIT_MS (2u * RK_TEST_TIMEOUT_MS)
#define RK_OFFLINE_MESSAGE KeIpiUser1
#define RK_OFFLINE_DEVICES 3u
#define RK_OFFLINE_WHY 320u

typedef struct _RK_OFFLINE_RUN {
    RK_DEVICE *Devices[RK_OFFLINE_DEVICES]; /* rtc, edu, igb (NULL when absent) */
    uint32_t DeviceCount;
    IR_CPU_SET Reachable;
    uint32_t Raiser;                 /* the AP that raises edu and igb */
    volatile bool RaiserRunning;
    volatile bool RaiserStop;
    volatile uint64_t RaiserRaises;  /* raises of edu and igb together */
    volatile uint32_t RaiserLost;    /* raises whose ISR did not come in time */
    volatile uint32_t RaiserLostDevice;
    IR_CPU_SET Aps;                  /* the APs taken offline in turn */
    uint32_t Rounds;
    uint32_t MovedTotal;
    uint64_t RaisesDuringCalls;      /* raises between the call and its return (not asserted) */
    char Why[RK_OFFLINE_WHY];
} RK_OFFLINE_RUN;

static RK_OFFLINE_RUN RkOffline;

/* The first failure is the one reported: what followed may be its effect. */
#define RK_OFFLINE_FAIL(Run, ...)                                         \
    do {                                                                  \
        if ((Run)->Why[0] == 0)                                           \
            RkFormatString((Run)->Why, sizeof((Run)->Why), __VA_ARGS__); \
    } while (0)

/* ---- The raiser (on an AP) ---------------------------------------------------------------- */

/* One raise, and the wait until its ISR claimed it: whether it came. */
static bool RkpRaiseOne(RK_DEVICE *Device)
{
    uint64_t Before = RkDeviceTotal(Device);
    if (RkDeviceRaise(Device) != IRQ_STATUS_SUCCESS)
        return false;
    return RkDeviceWaitTotal(Device, Before + 1u, RK_OFFLINE_WAIT_MS);
}

static void RkpRaiserLoop(RK_OFFLINE_RUN *Run)
{
    while (!__atomic_load_n(&Run->RaiserStop, __ATOMIC_ACQUIRE)) {
        for (uint32_t Index = 1; Index < Run->DeviceCount; Index++) {
            if (!RkpRaiseOne(Run->Devices[Index])) {
                __atomic_store_n(&Run->RaiserLostDevice, Index, __ATOMIC_RELAXED);
                __atomic_add_fetch(&Run->RaiserLost, 1, __ATOMIC_RELEASE);
                return; /* the device's state is unknown now: stop rather than count twice */
            }
            __atomic_add_fetch(&Run->RaiserRaises, 1, __ATOMIC_RELEASE);
        }
    }
}

static void RkpRaiserMessage(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Message;
    RK_OFFLINE_RUN *Run = Context;
    if (Cpu != Run->Raiser || Run->RaiserRunning)
        return;
    KIRQL Entry = KeGetCurrentIrql();
    HlLapicEndOfInterrupt(); /* the IPI leaves the in-service register (ktest_policy_hold.c) */
    KeLowerIrql(PASSIVE_LEVEL);
    __atomic_store_n(&Run->RaiserRunning, true, __ATOMIC_RELEASE);
    RkEnableInterrupts();
    RkpRaiserLoop(Run);
    __asm__ volatile("cli" : : : "memory");
    KeRaiseIrql(Entry);
    __atomic_store_n(&Run->RaiserRunning, false, __ATOMIC_RELEASE);
}

static bool RkpRaiserIsRunning(void *Context)
{
    const RK_OFFLINE_RUN *Run = Context;
    return __atomic_load_n(&Run->RaiserRunning, __ATOMIC_ACQUIRE);
}

static bool RkpRaiserHasStopped(void *Context)
{
    return !RkpRaiserIsRunning(Context);
}

static bool RkpRaiserStart(RK_OFFLINE_RUN *Run)
{
    if (KeSetIpiMessageHandler(RK_OFFLINE_MESSAGE, RkpRaiserMessage, Run) != IRQ_STATUS_SUCCESS)
    {
        RK_OFFLINE_FAIL(Run, "no handler for the raiser's IPI");
        return false;
    }
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Run->Raiser};
    IRQ_STATUS Status = KeSendIpi(&Target, RK_OFFLINE_MESSAGE);
    if (Status == IRQ_STATUS_SUCCESS && RkWaitFor(RkpRaiserIsRunning, Run, RK_OFFLINE_WAIT_MS))
        return true;
    RK_OFFLINE_FAIL(Run, "the raiser on cpu %u did not start (KeSendIpi %s)", Run->Raiser, IrStatusName(Status));
    return false;
}

/* Whether the raiser left its loop (it may have stopped on its own, on a
 * lost raise). */
static bool RkpRaiserStop(RK_OFFLINE_RUN *Run)
{
    __atomic_store_n(&Run->RaiserStop, true, __ATOMIC_RELEASE);
    bool Stopped = RkWaitFor(RkpRaiserHasStopped, Run, RK_OFFLINE_WAIT_MS);
    (void)KeSetIpiMessageHandler(RK_OFFLINE_MESSAGE, NULL, NULL);
    return Stopped;
}

/* ---- Connecting ------------------------------------------------------------------------- */

static bool RkpOfflineConnect(RK_OFFLINE_RUN *Run)
{
    static const RK_DEVICE_ID Ids[RK_OFFLINE_DEVICES] = {RkDeviceRtc, RkDeviceEdu, RkDeviceIgb};
    RK_DEVICE_ROUTING Routing = {.Routing = IoDeviceFixed, .Cpu = 0};
    IrCpuSetCopy(&Routing.Mask, &Run->Reachable);
    for (uint32_t Index = 0; Index < RK_OFFLINE_DEVICES; Index++) {
        RK_DEVICE *Device = RkDeviceGet(Ids[Index]);
        if (Device == NULL || !Device->Present)
            continue; /* igb is optional */
        if (Device->Connected) {
            RK_OFFLINE_FAIL(Run, "%s is still connected", Device->Name);
            return false;
        }
        RkDeviceResetCounts(Device);
        IRQ_STATUS Status = RkDeviceConnect(Device, &Routing);
        if (Status != IRQ_STATUS_SUCCESS) {
            RK_OFFLINE_FAIL(Run, "connect %s movable: %s", Device->Name, IrStatusName(Status));
            return false;
        }
        Run->Devices[Run->DeviceCount++] = Device;
    }
    if (Run->DeviceCount < 2u || Run->Devices[0]->Id != RkDeviceRtc || Run->Devices[1]->Id != RkDeviceEdu) {
        RK_OFFLINE_FAIL(Run, "the RTC or edu is absent");
        return false;
    }
    IRQ_STATUS Status = RkDeviceStart(Run->Devices[0], RK_OFFLINE_RTC_HZ);
    if (Status != IRQ_STATUS_SUCCESS)
        RK_OFFLINE_FAIL(Run, "RTC start: %s", IrStatusName(Status));
    return Status == IRQ_STATUS_SUCCESS;
}

static void RkpOfflineDisconnect(RK_OFFLINE_RUN *Run)
{
    for (uint32_t Index = Run->DeviceCount; Index-- > 0;)
        (void)RkDeviceDisconnect(Run->Devices[Index]);
}

/* ---- One round ---------------------------------------------------------------------------- */

static KINTERRUPT *RkpInterruptOf(const RK_DEVICE *Device)
{
    return Device->Connection.Interrupts[0];
}

/* Moves the device to Cpu (a move in progress: retried until the device's
 * interrupts have completed it); false when Io says no for another reason. */
static IRQ_STATUS RkpMoveTo(RK_DEVICE *Device, uint32_t Cpu)
{
    uint64_t Deadline = RkQueryMicroseconds() + (uint64_t)RK_OFFLINE_WAIT_MS * 1000u;
    IRQ_STATUS Status;
    while ((Status = IoSetInterruptTarget(RkpInterruptOf(Device), Cpu)) == IRQ_STATUS_INVALID_STATE &&
           RkQueryMicroseconds() < Deadline)
        RkStallMicroseconds(100);
    return Status;
}

static uint32_t RkpTargetOf(const RK_DEVICE *Device)
{
    uint32_t Cpu = IR_CPU_NONE;
    (void)IoQueryInterruptTarget(RkpInterruptOf(Device), &Cpu, NULL);
    return Cpu;
}

/* Every device that can be delivered to Cpu is moved there and takes an
 * interrupt there; returns how many are there. */
static bool RkpGatherOn(RK_OFFLINE_RUN *Run, uint32_t Cpu, uint32_t *OnCpu)
{
    *OnCpu = 0;
    for (uint32_t Index = 0; Index < Run->DeviceCount; Index++) {
        RK_DEVICE *Device = Run->Devices[Index];
        if (!IrCpuSetContains(&Run->Reachable, Cpu))
            continue;
        uint64_t Before = __atomic_load_n(&Device->Count[Cpu], __ATOMIC_ACQUIRE);
        IRQ_STATUS Status = RkpMoveTo(Device, Cpu);
        if (Status != IRQ_STATUS_SUCCESS) {
            RK_OFFLINE_FAIL(Run, "move of %s to cpu %u: %s", Device->Name, Cpu, IrStatusName(Status));
            return false;
        }
        if (!RkWaitCounter64(&Device->Count[Cpu], Before + 1u, RK_OFFLINE_WAIT_MS)) {
            RK_OFFLINE_FAIL(Run, "%s moved to cpu %u took no interrupt there in %u ms", Device->Name, Cpu,
                            RK_OFFLINE_WAIT_MS);
            return false;
        }
        (*OnCpu)++;
    }
    return true;
}

/* Every device claims RK_OFFLINE_AFTER more interrupts (elsewhere). */
static bool RkpKeepsFiring(RK_OFFLINE_RUN *Run, uint32_t Cpu)
{
    for (uint32_t Index = 0; Index < Run->DeviceCount; Index++) {
        RK_DEVICE *Device = Run->Devices[Index];
        uint64_t Wanted = RkDeviceTotal(Device) + RK_OFFLINE_AFTER;
        if (!RkDeviceWaitTotal(Device, Wanted, RK_OFFLINE_WAIT_MS)) {
            RK_OFFLINE_FAIL(Run,
                           "with cpu %u offline %s claimed %lu of %lu more interrupts in %u ms", Cpu, Device->Name,
                           RkDeviceTotal(Device) + RK_OFFLINE_AFTER - Wanted, (uint64_t)RK_OFFLINE_AFTER,
                           RK_OFFLINE_WAIT_MS);
            return false;
        }
    }
    return true;
}

static bool RkpCheckResult(RK_OFFLINE_RUN *Run, uint32_t Cpu, IRQ_STATUS Status,
                           const IO_PROCESSOR_OFFLINE_RESULT *Result, uint32_t OnCpu)
{
    if (Status == IRQ_STATUS_SUCCESS && Result->Blocking == NULL && Result->Moved == OnCpu &&
        Result->AffinityBroken == 0 && !KeIsProcessorOnline(Cpu))
        return true;
    RK_OFFLINE_FAIL(Run,
                   "IoSetProcessorOffline(%u): %s, moved %u (expected %u), affinity broken %u, blocking %p, "
                   "online %u",
                   Cpu, IrStatusName(Status), Result->Moved, OnCpu, Result->AffinityBroken, (void *)Result->Blocking,
                   KeIsProcessorOnline(Cpu));
    return false;
}

/* Nothing ran on Cpu since the call returned, and nothing is sent there. */
static bool RkpCheckQuiet(RK_OFFLINE_RUN *Run, uint32_t Cpu, const uint64_t *AtReturn)
{
    for (uint32_t Index = 0; Index < Run->DeviceCount; Index++) {
        RK_DEVICE *Device = Run->Devices[Index];
        uint64_t Now = __atomic_load_n(&Device->Runs[Cpu], __ATOMIC_ACQUIRE);
        uint32_t Target = RkpTargetOf(Device);
        if (Now != AtReturn[Index] || Target == Cpu) {
            RK_OFFLINE_FAIL(Run,
                           "%s on offline cpu %u: ISR entries %lu when the call returned, %lu before online; "
                           "delivered to cpu %u",
                           Device->Name, Cpu, AtReturn[Index], Now, Target);
            return false;
        }
    }
    return true;
}

static bool RkpOfflineRound(RK_OFFLINE_RUN *Run, uint32_t Cpu)
{
    uint32_t OnCpu = 0;
    if (!RkpGatherOn(Run, Cpu, &OnCpu))
        return false;
    IO_PROCESSOR_OFFLINE_RESULT Result;
    uint64_t RaisesBefore = __atomic_load_n(&Run->RaiserRaises, __ATOMIC_ACQUIRE);
    IRQ_STATUS Status = IoSetProcessorOffline(Cpu, &Result);
    uint64_t AtReturn[RK_OFFLINE_DEVICES];
    for (uint32_t Index = 0; Index < Run->DeviceCount; Index++)
        AtReturn[Index] = __atomic_load_n(&Run->Devices[Index]->Runs[Cpu], __ATOMIC_ACQUIRE);
    Run->RaisesDuringCalls += __atomic_load_n(&Run->RaiserRaises, __ATOMIC_ACQUIRE) - RaisesBefore;
    if (Status == IRQ_STATUS_SUCCESS)
        Run->MovedTotal += Result.Moved;
    bool Passed = RkpCheckResult(Run, Cpu, Status, &Result, OnCpu) && RkpKeepsFiring(Run, Cpu) &&
                  RkpCheckQuiet(Run, Cpu, AtReturn);
    if (!KeIsProcessorOnline(Cpu)) {
        IRQ_STATUS Online = IoSetProcessorOnline(Cpu);
        if (Online != IRQ_STATUS_SUCCESS) {
            RK_OFFLINE_FAIL(Run, "IoSetProcessorOnline(%u): %s", Cpu, IrStatusName(Online));
            Passed = false;
        }
    }
    Run->Rounds++;
    return Passed;
}

/* ---- The case ------------------------------------------------------------------------------ */

/* Every AP, or on a big machine a sample of the APs a device reaches (its
 * first and last few: the APIC ids just below 255 without remapping) and
 * the last AP, which no device reaches without remapping (nothing to move
 * off it: the call must still succeed). */
static void RkpChooseAps(const RK_OFFLINE_RUN *Run, IR_CPU_SET *Aps)
{
    IR_CPU_SET All, Reachable;
    RkOnlineSet(&All);
    IrCpuSetRemove(&All, 0);
    if (RkProcessorCount <= RK_OFFLINE_ALL_UP_TO) {
        IrCpuSetCopy(Aps, &All);
        return;
    }
    IrCpuSetAnd(&Reachable, &All, &Run->Reachable);
    RkSampleSet(&Reachable, RK_OFFLINE_SAMPLE, Aps);
    IrCpuSetAdd(Aps, RkProcessorCount - 1u);
}

/* Raises = claims (= ISR entries for edu: nothing twice, nothing unclaimed). */
static bool RkpCheckCounts(RK_OFFLINE_RUN *Run)
{
    if (Run->RaiserLost != 0) {
        RK_DEVICE *Device = Run->Devices[Run->RaiserLostDevice];
        /* The root cause of whatever a round then reported: it wins. */
        RkFormatString(Run->Why, sizeof(Run->Why), "a raise of %s was not claimed in %u ms (raised %lu, claimed %lu)",
                       Device->Name, RK_OFFLINE_WAIT_MS, Device->Raised, RkDeviceTotal(Device));
        return false;
    }
    for (uint32_t Index = 1; Index < Run->DeviceCount; Index++) {
        RK_DEVICE *Device = Run->Devices[Index];
        uint64_t Entries = 0;
        for (uint32_t Cpu = 0; Cpu < Device->CpuCount; Cpu++)
            Entries += __atomic_load_n(&Device->Runs[Cpu], __ATOMIC_ACQUIRE);
        uint64_t Claimed = RkDeviceTotal(Device);
        if (Device->Raised != Claimed || Entries != Claimed) {
            RK_OFFLINE_FAIL(Run, "%s: raised %lu, claimed %lu, ISR entries %lu", Device->Name,
                           Device->Raised, Claimed, Entries);
            return false;
        }
    }
    return true;
}

/* "0:12,1:40,..." (all devices' claims per CPU) for up to 8 CPUs; beyond
 * that how many CPUs took some. */
static void RkpFormatPerCpu(const RK_OFFLINE_RUN *Run, char *Buffer, size_t Size)
{
    size_t Used = 0;
    uint32_t Busy = 0;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        uint64_t Claims = 0;
        for (uint32_t Index = 0; Index < Run->DeviceCount; Index++)
            Claims += Run->Devices[Index]->Count[Cpu];
        Busy += Claims != 0;
        if (RkProcessorCount <= 8u && Used + 1u < Size)
            Used += RkFormatString(Buffer + Used, Size - Used, "%s%u:%lu", Cpu ? "," : "", Cpu, Claims);
    }
    if (RkProcessorCount > 8u)
        RkFormatString(Buffer, Size, "on %u of %u CPUs", Busy, RkProcessorCount);
}

static void RkpReportPass(const RK_OFFLINE_RUN *Run)
{
    char PerCpu[128], Aps[64];
    RkpFormatPerCpu(Run, PerCpu, sizeof(PerCpu));
    RkFormatCpuSet(&Run->Aps, Aps, sizeof(Aps));
    const RK_DEVICE *Rtc = Run->Devices[0], *Edu = Run->Devices[1];
    const RK_DEVICE *Igb = Run->DeviceCount > 2u ? Run->Devices[2] : NULL;
    RkTestReport(RK_OFFLINE_NAME, true,
                 "%u AP(s) %s offline and online in turn (raiser cpu %u), %u moves off them, blocking none; RTC %u Hz "
                 "claimed %lu; edu raised %lu claimed %lu; igb %s raised %lu claimed %lu; %lu raises during the "
                 "offline calls; claims per CPU %s; nothing ran on an offline CPU after its call returned",
                 Run->Rounds, Aps, Run->Raiser, Run->MovedTotal, RK_OFFLINE_RTC_HZ, RkDeviceTotal(Rtc), Edu->Raised,
                 RkDeviceTotal(Edu), Igb ? "MSI-X" : "absent", Igb ? Igb->Raised : 0, Igb ? RkDeviceTotal(Igb) : 0,
                 Run->RaisesDuringCalls, PerCpu);
}

void RkTestOfflineWhileFiring(void)
{
    RK_OFFLINE_RUN *Run = &RkOffline;
    memset(Run, 0, sizeof(*Run));
    if (RkProcessorCount < 2u) {
        RkTestSkip(RK_OFFLINE_NAME, "one CPU: no AP to take offline");
        return;
    }
    (void)RkReachableSet(&Run->Reachable);
    Run->Raiser = 1u;
    RkpChooseAps(Run, &Run->Aps);
    bool Passed = RkpOfflineConnect(Run) && RkpRaiserStart(Run);
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Run->Aps) {
        if (!Passed || Run->RaiserLost != 0)
            break;
        Passed = RkpOfflineRound(Run, Cpu);
    }
    bool Stopped = RkpRaiserStop(Run);
    if (!Stopped) {
        RK_OFFLINE_FAIL(Run, "the raiser on cpu %u did not stop", Run->Raiser);
        Passed = false;
    }
    (void)RkDeviceStop(Run->Devices[0]);
    Passed = RkpCheckCounts(Run) && Passed;
    RkpOfflineDisconnect(Run);
    if (Passed)
        RkpReportPass(Run);
    else
        RkTestReport(RK_OFFLINE_NAME, false, "after %u round(s): %s", Run->Rounds, Run->Why);
}
