/* SPDX-License-Identifier: MIT */
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

#include "ktest.h"
#include "ktest_policy.h"

/* ---- The ISR log ------------------------------------------------------------------ */

/* Runs in the device's ISR (device IRQL, interrupts disabled). The TPR is
 * the interrupted IRQL's: the dispatcher records the ISR's IRQL but does not
 * write the TPR while interrupts are off (src/ke/dispatch.c). */
static void RkIsrLogObserve(RK_DEVICE *Device, uint32_t Cpu, void *Context)
{
    (void)Device;
    RK_ISR_LOG *Log = Context;
    uint32_t ApicId = HlLapicReadId();
    if (Cpu != PlatCurrentCpu() || Cpu >= RkProcessorCount || ApicId != RkPcr[Cpu].ApicId)
        __atomic_fetch_add(&Log->WrongApicId, 1u, __ATOMIC_RELAXED);
    if (__atomic_load_n(&Log->Stopped, __ATOMIC_ACQUIRE))
        __atomic_fetch_add(&Log->AfterStop, 1u, __ATOMIC_RELAXED);
    uint32_t Index = __atomic_fetch_add(&Log->Reserved, 1u, __ATOMIC_RELAXED);
    if (Index < Log->Capacity)
        Log->Records[Index] = (RK_ISR_RECORD){.Cpu = Cpu, .ApicId = ApicId, .Tpr = HlLapicReadTaskPriority()};
    __atomic_fetch_add(&Log->Count, 1u, __ATOMIC_RELEASE); /* the record is visible to whoever sees the count */
}

void RkIsrLogCreate(RK_ISR_LOG *Log, uint32_t Capacity)
{
    memset(Log, 0, sizeof(*Log));
    Log->Records = RkTestAllocate((size_t)Capacity * sizeof(RK_ISR_RECORD));
    Log->Capacity = Capacity;
}

void RkIsrLogDestroy(RK_ISR_LOG *Log)
{
    RkTestFree(Log->Records, (size_t)Log->Capacity * sizeof(RK_ISR_RECORD));
    memset(Log, 0, sizeof(*Log));
}

void RkIsrLogAttach(RK_DEVICE *Device, RK_ISR_LOG *Log)
{
    RK_ISR_RECORD *Records = Log->Records;
    uint32_t Capacity = Log->Capacity;
    memset(Log, 0, sizeof(*Log));
    memset(Records, 0, (size_t)Capacity * sizeof(RK_ISR_RECORD));
    Log->Records = Records;
    Log->Capacity = Capacity;
    Device->ObserverContext = Log;
    __atomic_store_n(&Device->Observer, RkIsrLogObserve, __ATOMIC_RELEASE);
}

void RkIsrLogDetach(RK_DEVICE *Device)
{
    __atomic_store_n(&Device->Observer, NULL, __ATOMIC_RELEASE);
}

void RkIsrLogStop(RK_ISR_LOG *Log)
{
    __atomic_store_n(&Log->Stopped, true, __ATOMIC_RELEASE);
}

uint32_t RkIsrLogCount(const RK_ISR_LOG *Log)
{
    return __atomic_load_n(&Log->Count, __ATOMIC_ACQUIRE);
}

typedef struct _RK_LOG_TARGET {
    const RK_ISR_LOG *Log;
    uint32_t Count;
} RK_LOG_TARGET;

static bool RkLogReached(void *Context)
{
    const RK_LOG_TARGET *Target = Context;
    return RkIsrLogCount(Target->Log) >= Target->Count;
}

static void RkNothing(uint32_t Cpu, void *Context)
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
bool RkWaitDispatchDone(uint32_t Cpu)
{
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
    return Cpu < RkProcessorCount && KeIpiGenericCall(&Target, RkNothing, NULL) == IRQ_STATUS_SUCCESS;
}

bool RkRaiseAndLog(RK_DEVICE *Device, RK_ISR_LOG *Log, RK_ISR_RECORD *Record)
{
    uint32_t Before = RkIsrLogCount(Log);
    RK_LOG_TARGET Target = {.Log = Log, .Count = Before + 1u};
    if (Before >= Log->Capacity || RkDeviceRaise(Device) != IRQ_STATUS_SUCCESS)
        return false;
    if (!RkWaitFor(RkLogReached, &Target, RK_TEST_TIMEOUT_MS) || RkIsrLogCount(Log) != Before + 1u)
        return false;
    *Record = Log->Records[Before];
    return RkWaitDispatchDone(Record->Cpu) && RkIsrLogCount(Log) == Before + 1u;
}

/* ---- Time ------------------------------------------------------------------------------ */

#define RK_POLL_INTERVAL_US 20u

bool RkWaitFor(bool (*Condition)(void *Context), void *Context, uint32_t TimeoutMs)
{
    uint64_t Deadline = RkQueryMicroseconds() + (uint64_t)TimeoutMs * 1000u;
    while (!Condition(Context)) {
        if (RkQueryMicroseconds() > Deadline)
            return Condition(Context);
        RkStallMicroseconds(RK_POLL_INTERVAL_US);
    }
    return true;
}

/* A counter of either width (the other pointer NULL) and the value awaited. */
typedef struct _RK_COUNTER_TARGET {
    const volatile uint32_t *Counter32;
    const volatile uint64_t *Counter64;
    uint64_t Wanted;
} RK_COUNTER_TARGET;

static bool RkCounterReached(void *Context)
{
    const RK_COUNTER_TARGET *Target = Context;
    uint64_t Value = Target->Counter32 != NULL ? __atomic_load_n(Target->Counter32, __ATOMIC_ACQUIRE)
                                               : __atomic_load_n(Target->Counter64, __ATOMIC_ACQUIRE);
    return Value >= Target->Wanted;
}

bool RkWaitCounter32(const volatile uint32_t *Counter, uint32_t Wanted, uint32_t TimeoutMs)
{
    RK_COUNTER_TARGET Target = {.Counter32 = Counter, .Wanted = Wanted};
    return RkWaitFor(RkCounterReached, &Target, TimeoutMs);
}

bool RkWaitCounter64(const volatile uint64_t *Counter, uint64_t Wanted, uint32_t TimeoutMs)
{
    RK_COUNTER_TARGET Target = {.Counter64 = Counter, .Wanted = Wanted};
    return RkWaitFor(RkCounterReached, &Target, TimeoutMs);
}

typedef struct _RK_PROGRESS_TARGET {
    const volatile uint32_t *Counter;
    uint32_t Seen;
} RK_PROGRESS_TARGET;

static bool RkCounter32Moved(void *Context)
{
    const RK_PROGRESS_TARGET *Target = Context;
    return __atomic_load_n(Target->Counter, __ATOMIC_ACQUIRE) != Target->Seen;
}

bool RkWaitCounter32Progress(const volatile uint32_t *Counter, uint32_t Wanted, uint32_t GapMs)
{
    RK_PROGRESS_TARGET Target = {.Counter = Counter, .Seen = __atomic_load_n(Counter, __ATOMIC_ACQUIRE)};
    while (Target.Seen < Wanted) {
        if (!RkWaitFor(RkCounter32Moved, &Target, GapMs))
            return false;
        Target.Seen = __atomic_load_n(Counter, __ATOMIC_ACQUIRE);
    }
    return true;
}

void RkStallMilliseconds(uint32_t Milliseconds)
{
    RkStallMicroseconds((uint64_t)Milliseconds * 1000u);
}

/* ---- Memory ------------------------------------------------------------------------------ */

void *RkTestAllocate(size_t Size)
{
    void *Memory = PlatAllocateMemory(Size, 0);
    if (Memory == NULL)
        RkPanic("ktest: the pool has no %lu bytes for a test table (%u CPUs, %lu bytes in use)", (uint64_t)Size,
                RkProcessorCount, (uint64_t)RkMemoryInUse());
    return Memory;
}

void RkTestFree(void *Memory, size_t Size)
{
    if (Memory != NULL)
        PlatFreeMemory(Memory, Size);
}

/* ---- CPU sets -------------------------------------------------------------------------------- */

void RkOnlineSet(IR_CPU_SET *Set)
{
    IrCpuSetZero(Set);
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        IrCpuSetAdd(Set, Cpu);
}

bool RkCpuDeviceReachable(uint32_t Cpu)
{
    if (Cpu >= RkProcessorCount)
        return false;
    /* With remapping on, the cases that run are the line cases (the MSI ones
     * skip: RkSkipIfMsiBlocked), and every test line sits on the one I/O
     * APIC, so GSI 0's answer is theirs: every CPU, through the unit. */
    if (RkRemappingIsOn())
        return HlIsProcessorReachableByLine(0, Cpu);
    return RkPcr[Cpu].ApicId < RK_DEVICE_APIC_ID_LIMIT;
}

bool RkConnectRefused(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing, IRQ_STATUS *Status)
{
    *Status = RkDeviceConnect(Device, Routing);
    bool Connected = Device->Connected;
    if (Connected)
        (void)RkDeviceDisconnect(Device);
    return *Status == IRQ_STATUS_NOT_SUPPORTED && !Connected;
}

uint32_t RkReachableSet(IR_CPU_SET *Set)
{
    uint32_t Count = 0;
    IrCpuSetZero(Set);
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (RkCpuDeviceReachable(Cpu)) {
            IrCpuSetAdd(Set, Cpu);
            Count++;
        }
    }
    return Count;
}

#define RK_SAMPLE_ENDS 3u /* members kept at each end of the set */

void RkSampleSet(const IR_CPU_SET *From, uint32_t Limit, IR_CPU_SET *Sample)
{
    uint32_t Weight = IrCpuSetWeight(From);
    IrCpuSetZero(Sample);
    if (Weight <= Limit) {
        IrCpuSetCopy(Sample, From);
        return;
    }
    /* Position of each member in From: the ends, both sides of each gap. */
    uint32_t Position = 0, Previous = IR_CPU_NONE, Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, From) {
        if (Position < RK_SAMPLE_ENDS || Position + RK_SAMPLE_ENDS >= Weight)
            IrCpuSetAdd(Sample, Cpu);
        if (Previous != IR_CPU_NONE && Cpu != Previous + 1u && IrCpuSetWeight(Sample) + 2u <= Limit) {
            IrCpuSetAdd(Sample, Previous);
            IrCpuSetAdd(Sample, Cpu);
        }
        Previous = Cpu;
        Position++;
    }
    /* An even spread over the rest, up to Limit. */
    uint32_t Room = IrCpuSetWeight(Sample) < Limit ? Limit - IrCpuSetWeight(Sample) : 0;
    uint32_t Stride = Room != 0 ? Weight / (Room + 1u) : Weight;
    Position = 0;
    IR_CPU_SET_FOR_EACH(Cpu, From) {
        if (Stride != 0 && Position % Stride == Stride / 2u && IrCpuSetWeight(Sample) < Limit)
            IrCpuSetAdd(Sample, Cpu);
        Position++;
    }
}

/* Runs of consecutive CPUs print as "a-b": a 288-CPU set stays short. What
 * does not fit ends in "...}". */
void RkFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size)
{
    static const char Ellipsis[] = "...}";
    if (Size < sizeof(Ellipsis) + 1u) {
        if (Size != 0)
            Buffer[0] = 0;
        return;
    }
    size_t Used = RkFormatString(Buffer, Size, "{");
    uint32_t Cpu = IrCpuSetFirst(Set);
    bool First = true;
    while (Cpu != IR_CPU_NONE) {
        uint32_t Last = Cpu;
        while (IrCpuSetContains(Set, Last + 1u))
            Last++;
        char Chunk[32];
        const char *Comma = First ? "" : ",";
        if (Last >= Cpu + 2u)
            RkFormatString(Chunk, sizeof(Chunk), "%s%u-%u", Comma, Cpu, Last);
        else if (Last == Cpu + 1u)
            RkFormatString(Chunk, sizeof(Chunk), "%s%u,%u", Comma, Cpu, Last);
        else
            RkFormatString(Chunk, sizeof(Chunk), "%s%u", Comma, Cpu);
        size_t Length = 0;
        while (Chunk[Length] != 0)
            Length++;
        if (Used + Length + sizeof(Ellipsis) > Size) {
            RkFormatString(Buffer + Used, Size - Used, "%s", Ellipsis);
            return;
        }
        Used += RkFormatString(Buffer + Used, Size - Used, "%s", Chunk);
        First = false;
        Cpu = IrCpuSetNext(Set, Last);
    }
    RkFormatString(Buffer + Used, Size - Used, "}");
}

/* ---- The cases, in the order of their numbers ----------------------------------------- */

void RkRunPolicyTests(void)
{
    RkTestLowestIrql();
    RkTestLogicalBroadcast();
    RkTestRoundRobin();
    RkTestIpiTargets();
    RkTestDisconnectWhileFiring();
}
