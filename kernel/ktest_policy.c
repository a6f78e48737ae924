/*
 * KTEST cases 3, 4, 5, 7 and 8: the routing policies seen from the CPUs
 * that really take the interrupts (lowest IRQL, logical broadcast, round
 * robin), IPI targets and message types, and disconnecting a device that is
 * firing. Each case is in a file of its own (ktest_policy_*.c); this one runs
 * them and holds what they share: the ISR-side log every device case reads
 * and a few helpers for time and CPU sets.
 *
 * Every verdict rests on what was observed *in the ISR*: the CPU index the
 * dispatcher ran it on, the LAPIC id read from that CPU's own local APIC,
 * and its TPR (the IRQL it was interrupted at), never on what the router
 * says it did.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ktest_policy.h"

/* ---- The ISR log ------------------------------------------------------------------ */

/* Runs in the device's ISR (device IRQL, interrupts disabled). The TPR is
 * the interrupted IRQL's: the dispatcher records the ISR's IRQL but does not
 * write the TPR while interrupts are off (src/ke/dispatch.c). */
static void KiIsrLogObserve(KI_DEVICE *Device, uint32_t Cpu, void *Context)
{
    (void)Device;
    KI_ISR_LOG *Log = Context;
    uint32_t ApicId = HlLapicReadId();
    if (Cpu != PlatCurrentCpu() || Cpu >= KiProcessorCount || ApicId != KiPcr[Cpu].ApicId)
        __atomic_fetch_add(&Log->WrongApicId, 1u, __ATOMIC_RELAXED);
    if (__atomic_load_n(&Log->Stopped, __ATOMIC_ACQUIRE))
        __atomic_fetch_add(&Log->AfterStop, 1u, __ATOMIC_RELAXED);
    uint32_t Index = __atomic_fetch_add(&Log->Reserved, 1u, __ATOMIC_RELAXED);
    if (Index < KI_ISR_LOG_SIZE)
        Log->Records[Index] = (KI_ISR_RECORD){.Cpu = Cpu, .ApicId = ApicId, .Tpr = HlLapicReadTaskPriority()};
    __atomic_fetch_add(&Log->Count, 1u, __ATOMIC_RELEASE); /* the record is visible to whoever sees the count */
}

void KiIsrLogAttach(KI_DEVICE *Device, KI_ISR_LOG *Log)
{
    memset(Log, 0, sizeof(*Log));
    Device->ObserverContext = Log;
    __atomic_store_n(&Device->Observer, KiIsrLogObserve, __ATOMIC_RELEASE);
}

void KiIsrLogDetach(KI_DEVICE *Device)
{
    __atomic_store_n(&Device->Observer, NULL, __ATOMIC_RELEASE);
}

void KiIsrLogStop(KI_ISR_LOG *Log)
{
    __atomic_store_n(&Log->Stopped, true, __ATOMIC_RELEASE);
}

uint32_t KiIsrLogCount(const KI_ISR_LOG *Log)
{
    return __atomic_load_n(&Log->Count, __ATOMIC_ACQUIRE);
}

/* Ends as soon as the ISR ran; long enough for a descheduled vCPU thread. */
#define KI_RAISE_TIMEOUT_MS 2000u

typedef struct _KI_LOG_TARGET {
    const KI_ISR_LOG *Log;
    uint32_t Count;
} KI_LOG_TARGET;

static bool KiLogReached(void *Context)
{
    const KI_LOG_TARGET *Target = Context;
    return KiIsrLogCount(Target->Log) >= Target->Count;
}

static void KiNothing(uint32_t Cpu, void *Context)
{
    (void)Cpu;
    (void)Context;
}

/* The ISR's log entry is written before the dispatch is over: the router's
 * post-dispatch routine, which re-targets the MSI or redirection entry for
 * the next interrupt, runs after the ISR on the same CPU with interrupts
 * still disabled. A generic call to that CPU is answered only once that
 * dispatch has returned, so when it comes back the next destination is
 * set; raising the next interrupt earlier would test the race, not the
 * policy. */
static bool KiWaitDispatchDone(uint32_t Cpu)
{
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
    return Cpu < KiProcessorCount && KeIpiGenericCall(&Target, KiNothing, NULL) == IRQ_STATUS_SUCCESS;
}

bool KiRaiseAndLog(KI_DEVICE *Device, KI_ISR_LOG *Log, KI_ISR_RECORD *Record)
{
    uint32_t Before = KiIsrLogCount(Log);
    KI_LOG_TARGET Target = {.Log = Log, .Count = Before + 1u};
    if (Before >= KI_ISR_LOG_SIZE || KiDeviceRaise(Device) != IRQ_STATUS_SUCCESS)
        return false;
    if (!KiWaitFor(KiLogReached, &Target, KI_RAISE_TIMEOUT_MS) || KiIsrLogCount(Log) != Before + 1u)
        return false;
    *Record = Log->Records[Before];
    return KiWaitDispatchDone(Record->Cpu) && KiIsrLogCount(Log) == Before + 1u;
}

/* ---- Time and CPU sets ---------------------------------------------------------------- */

#define KI_POLL_INTERVAL_US 20u

bool KiWaitFor(bool (*Condition)(void *Context), void *Context, uint32_t TimeoutMs)
{
    uint64_t Start = KiReadTsc();
    uint64_t Limit = KiTscPerMillisecond() * TimeoutMs;
    while (!Condition(Context)) {
        if (KiReadTsc() - Start > Limit)
            return Condition(Context);
        KiStallMicroseconds(KI_POLL_INTERVAL_US);
    }
    return true;
}

void KiStallMilliseconds(uint32_t Milliseconds)
{
    KiStallMicroseconds((uint64_t)Milliseconds * 1000u);
}

void KiOnlineSet(IR_CPU_SET *Set)
{
    IrCpuSetZero(Set);
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        IrCpuSetAdd(Set, Cpu);
}

void KiFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size)
{
    size_t Used = KiFormatString(Buffer, Size, "{");
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Set) {
        if (Used < Size)
            Used += KiFormatString(Buffer + Used, Size - Used, "%s%u", Used > 1 ? "," : "", Cpu);
    }
    if (Used < Size)
        KiFormatString(Buffer + Used, Size - Used, "}");
}

/* ---- The cases, in the order of their numbers ----------------------------------------- */

void KiRunPolicyTests(void)
{
    KiTestLowestIrql();
    KiTestLogicalBroadcast();
    KiTestRoundRobin();
    KiTestIpiTargets();
    KiTestDisconnectWhileFiring();
}
