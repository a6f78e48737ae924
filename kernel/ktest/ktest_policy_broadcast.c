/* SPDX-License-Identifier: MIT */
/*
 * KTEST case 4, logical_broadcast: one interrupt delivered to a set of CPUs
 * by logical destination, fixed delivery (IoDeviceBroadcast, which connects
 * with IoTargetBroadcast).
 *
 * First the hardware the mode depends on, read by each CPU from its own
 * local APIC (HlLapicReadLogicalDestination):
 *  - xAPIC: the flat model (Intel SDM vol. 3A 11.6.2.2: DFR model 1111b,
 *    LDR[31:24] one bit per CPU for the first eight CPUs, 0 after them);
 *  - x2APIC: the cluster model, LDR read-only and derived from the x2APIC
 *    id (SDM 11.12.10.2: cluster = id[19:4] in LDR[31:16], member bit
 *    1 << id[3:0] in LDR[15:0]).
 * Then the sets a device interrupt can name. An I/O APIC entry and a
 * compatibility-format MSI carry eight destination bits (82093AA 3.2.4,
 * SDM 11.11.1), so without interrupt remapping a logical destination is
 * flat bits 0-7 in xAPIC mode, and in x2APIC mode cluster 0 with members
 * 0-7 only: the CPUs with x2APIC ids 0-7 (an IPI, whose ICR carries 32
 * bits, can name any cluster; that is case 7's business). Two sources:
 *  - the edu MSI in logical destination mode (SDM 11.11.1: address bit 2),
 *  - the PIT through a logical redirection entry (82093AA 3.2.4:
 *    destination mode bit 11, destination bits 63:56), raised as a mode 0
 *    one-shot (exactly one edge per raise),
 * one interrupt at a time: each must run the ISR once on every CPU of the
 * set and on no other. "Ran on" is the dispatcher's count per CPU
 * (KeQueryInterruptCount), and "no other" also Ke's delivery count of the
 * vector on the CPUs outside the set, which sees a stray delivery even
 * where no ISR is linked. One edge at a time also means no two edges ever
 * meet in one IRR bit (SDM 11.8.4), however late a vCPU takes the first.
 * Last, a set the 8-bit destination cannot express (a CPU beyond the
 * eight) must be refused with NOT_SUPPORTED, the device left unconnected.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "ktest.h"
#include "ktest_policy.h"

/* The flat logical model (SDM vol. 3A 11.6.2.2): LDR bits 31:24, DFR model 1111b. */
#define RK_LDR_FLAT_SHIFT 24u
#define RK_DFR_MODEL_SHIFT 28u
#define RK_DFR_MODEL_FLAT 0xFu
#define RK_FLAT_CPUS 8u
/* The x2APIC cluster model (SDM 11.12.10.2). */
#define RK_X2APIC_CLUSTER_SHIFT 16u
#define RK_X2APIC_MEMBER_MASK 0xFFFFu
/* What eight destination bits can name: members 0-7 of cluster 0. */
#define RK_DEVICE_LOGICAL_IDS 8u

/* MSI address (SDM 11.11.1): destination id 19:12, destination mode bit 2. */
#define RK_MSI_DESTINATION_SHIFT 12u
#define RK_MSI_DESTINATION_LOGICAL (1u << 2)

#define RK_BROADCAST_EDU_INTERRUPTS 5u
#define RK_BROADCAST_PIT_INTERRUPTS 4u
/* Watched after every CPU of the set ran the ISR, for deliveries outside
 * it (a stall only makes the watch shorter, never a false failure). */
#define RK_BROADCAST_SETTLE_MS 5u
/* Each of at most eight CPUs runs each interrupt once. */
#define RK_BROADCAST_LOG_SIZE (RK_DEVICE_LOGICAL_IDS * (RK_BROADCAST_EDU_INTERRUPTS + RK_BROADCAST_PIT_INTERRUPTS))

typedef struct _RK_BROADCAST_RUN {
    /* RkProcessorCount entries each, from the pool. */
    uint32_t *Ldr;
    uint32_t *Dfr;
    uint64_t *RunsBase;
    uint64_t *DeliveredBase;
    RK_ISR_LOG Log;
    bool X2Apic;
    /* The connection being watched. */
    KINTERRUPT *Interrupt;
    uint8_t Vector;
    const IR_CPU_SET *Set;
    uint64_t Wanted; /* ISR runs each CPU of the set must have had */
    char Problem[220];
} RK_BROADCAST_RUN;

static RK_BROADCAST_RUN RkBroadcast;

/* ---- The local APICs' logical destination registers ------------------------------ */

/* Each CPU reads its own local APIC's registers through Hl. */
static void RkReadLogicalDestination(uint32_t Cpu, void *Context)
{
    RK_BROADCAST_RUN *Run = Context;
    if (Cpu < RkProcessorCount)
        (void)HlLapicReadLogicalDestination(&Run->Ldr[Cpu], &Run->Dfr[Cpu]);
}

/* The LDR the model gives Cpu (SDM 11.6.2.2 / 11.12.10.2). */
static uint32_t RkExpectedLdr(const RK_BROADCAST_RUN *Run, uint32_t Cpu)
{
    uint32_t ApicId = RkPcr[Cpu].ApicId;
    if (Run->X2Apic)
        return (ApicId >> 4) << RK_X2APIC_CLUSTER_SHIFT | 1u << (ApicId & 0xFu);
    return Cpu < RK_FLAT_CPUS ? 1u << (Cpu + RK_LDR_FLAT_SHIFT) : 0u;
}

static bool RkCheckLogicalModel(RK_BROADCAST_RUN *Run)
{
    KE_IPI_TARGET All = {.Kind = KeIpiTargetAll};
    IRQ_STATUS Status = KeIpiGenericCall(&All, RkReadLogicalDestination, Run);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "KeIpiGenericCall %s", IrStatusName(Status));
        return false;
    }
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        bool ModelRight = Run->X2Apic || Run->Dfr[Cpu] >> RK_DFR_MODEL_SHIFT == RK_DFR_MODEL_FLAT;
        if (!ModelRight || Run->Ldr[Cpu] != RkExpectedLdr(Run, Cpu)) {
            RkFormatString(Run->Problem, sizeof(Run->Problem),
                           "cpu %u (APIC id %u): DFR 0x%08x LDR 0x%08x, expected %s, LDR 0x%08x", Cpu,
                           RkPcr[Cpu].ApicId, Run->Dfr[Cpu], Run->Ldr[Cpu],
                           Run->X2Apic ? "the x2APIC cluster model" : "flat", RkExpectedLdr(Run, Cpu));
            return false;
        }
    }
    return true;
}

/* Whether a device interrupt's eight logical destination bits can name Cpu. */
static bool RkDeviceLogicalReachable(const RK_BROADCAST_RUN *Run, uint32_t Cpu)
{
    if (Run->X2Apic)
        return RkPcr[Cpu].ApicId < RK_DEVICE_LOGICAL_IDS;
    return Cpu < RK_FLAT_CPUS;
}

/* The logical destination that reaches exactly Set: the OR of the LDR bits
 * the CPUs of the set read from their own local APICs (x2APIC: all of
 * cluster 0, so the member bits alone). */
static uint32_t RkSetDestination(const RK_BROADCAST_RUN *Run, const IR_CPU_SET *Set)
{
    uint32_t Destination = 0;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Set)
        Destination |= Run->X2Apic ? Run->Ldr[Cpu] & RK_X2APIC_MEMBER_MASK : Run->Ldr[Cpu] >> RK_LDR_FLAT_SHIFT;
    return Destination;
}

/* ---- Counting runs per CPU ---------------------------------------------------------------- */

static void RkWatch(RK_BROADCAST_RUN *Run, KINTERRUPT *Interrupt, const IR_CPU_SET *Set)
{
    Run->Interrupt = Interrupt;
    Run->Vector = KeGetInterruptVector(Interrupt);
    Run->Set = Set;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        KE_VECTOR_STATISTICS Statistics = {0};
        (void)KeQueryVectorStatistics(Cpu, Run->Vector, &Statistics);
        Run->RunsBase[Cpu] = KeQueryInterruptCount(Interrupt, Cpu);
        Run->DeliveredBase[Cpu] = Statistics.Dispatched;
    }
}

static uint64_t RkRuns(const RK_BROADCAST_RUN *Run, uint32_t Cpu)
{
    return KeQueryInterruptCount(Run->Interrupt, Cpu) - Run->RunsBase[Cpu];
}

static uint64_t RkDelivered(const RK_BROADCAST_RUN *Run, uint32_t Cpu)
{
    KE_VECTOR_STATISTICS Statistics = {0};
    (void)KeQueryVectorStatistics(Cpu, Run->Vector, &Statistics);
    return Statistics.Dispatched - Run->DeliveredBase[Cpu];
}

static bool RkSetReachedWanted(void *Context)
{
    const RK_BROADCAST_RUN *Run = Context;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Run->Set) {
        if (RkRuns(Run, Cpu) < Run->Wanted)
            return false;
    }
    return true;
}

/* Every CPU of the set ran the ISR exactly Wanted times, every other CPU
 * had no delivery of the vector at all. */
static bool RkCheckRuns(RK_BROADCAST_RUN *Run, const char *Source)
{
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        bool Member = IrCpuSetContains(Run->Set, Cpu);
        uint64_t Runs = RkRuns(Run, Cpu), Delivered = RkDelivered(Run, Cpu);
        bool Wrong = Member ? Runs != Run->Wanted : Runs != 0 || Delivered != 0;
        if (Wrong) {
            RkFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s: cpu %u (%s the set) ran the ISR %lu times, vector 0x%x delivered %lu times; "
                           "expected %lu runs",
                           Source, Cpu, Member ? "in" : "outside", Runs, Run->Vector, Delivered,
                           Member ? Run->Wanted : 0);
            return false;
        }
    }
    if (Run->Log.WrongApicId != 0) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s: %u ISR runs read a LAPIC id not their CPU's", Source,
                       Run->Log.WrongApicId);
        return false;
    }
    return true;
}

/* Count interrupts, raised one at a time: each one ran the ISR once on
 * every CPU of the set (waited for), and nowhere else. */
static bool RkBroadcastRaises(RK_BROADCAST_RUN *Run, RK_DEVICE *Device, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++) {
        Run->Wanted = Index + 1u;
        IRQ_STATUS Status = RkDeviceRaise(Device);
        if (Status != IRQ_STATUS_SUCCESS) {
            RkFormatString(Run->Problem, sizeof(Run->Problem), "RkDeviceRaise(%s) %s", Device->Name,
                           IrStatusName(Status));
            return false;
        }
        (void)RkWaitFor(RkSetReachedWanted, Run, RK_TEST_TIMEOUT_MS);
        RkStallMilliseconds(RK_BROADCAST_SETTLE_MS);
        char Step[32];
        RkFormatString(Step, sizeof(Step), "%s interrupt %u", Device->Name, Index);
        if (!RkCheckRuns(Run, Step))
            return false;
    }
    return true;
}

/* ---- What the connect programmed ------------------------------------------------------------ */

static bool RkCheckMessage(RK_BROADCAST_RUN *Run, const RK_DEVICE *Edu, const IR_CPU_SET *Set)
{
    const HL_MSI_MESSAGE *Message = &Edu->Connection.Messages[0];
    /* A remapped message names its table entry; the deliveries are checked
     * on every CPU of the set all the same. */
    if ((Message->Address & RK_MSI_REMAPPABLE_FORMAT) != 0)
        return true;
    uint32_t Destination = (uint32_t)(Message->Address >> RK_MSI_DESTINATION_SHIFT) & 0xFFu;
    bool Logical = (Message->Address & RK_MSI_DESTINATION_LOGICAL) != 0;
    if (Logical && Destination == RkSetDestination(Run, Set) && (Message->Data & 0xFFu) == Run->Vector)
        return true;
    RkFormatString(Run->Problem, sizeof(Run->Problem),
                   "edu MSI address 0x%lx data 0x%x: expected logical destination 0x%x, vector 0x%x",
                   Message->Address, Message->Data, RkSetDestination(Run, Set), Run->Vector);
    return false;
}

static bool RkCheckRedirectionEntry(RK_BROADCAST_RUN *Run, const IR_CPU_SET *Set)
{
    uint32_t Gsi = 0;
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = 0};
    IRQ_STATUS Status = IoQueryInterruptLine(Run->Interrupt, &Gsi);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlIoApicReadEntry(Gsi, &Entry);
    uint32_t Expected = RkSetDestination(Run, Set);
    /* Remappable format (VT-d 5.1.5.1, bit 48): the destination lives in the
     * table entry; the entry must still be live with the line's vector. */
    bool Remapped = (Entry.Value >> 48 & 1u) != 0;
    if (Status == IRQ_STATUS_SUCCESS && Remapped && Entry.Bits.Mask == 0 && Entry.Bits.Vector == Run->Vector)
        return true;
    if (Status == IRQ_STATUS_SUCCESS && Entry.Bits.DestinationMode == 1 && Entry.Bits.Destination == Expected &&
        Entry.Bits.DeliveryMode == HlDeliveryFixed && Entry.Bits.Mask == 0 && Entry.Bits.Vector == Run->Vector)
        return true;
    RkFormatString(Run->Problem, sizeof(Run->Problem),
                   "pit GSI %u entry 0x%08x%08x (%s): expected logical fixed to 0x%x, vector 0x%x, unmasked", Gsi,
                   Entry.Words.High, Entry.Words.Low, IrStatusName(Status), Expected, Run->Vector);
    return false;
}

/* ---- One device broadcast to one set ------------------------------------------------------------ */

static bool RkBroadcastDevice(RK_BROADCAST_RUN *Run, RK_DEVICE *Device, const IR_CPU_SET *Set)
{
    RK_DEVICE_ROUTING Routing = {.Routing = IoDeviceBroadcast, .Cpu = IR_CPU_NONE};
    IrCpuSetCopy(&Routing.Mask, Set);
    IRQ_STATUS Status = RkDeviceConnect(Device, &Routing);
    if (Status == IRQ_STATUS_SUCCESS && Device->Id == RkDeviceEdu)
        Status = RkDeviceStart(Device, 0);
    if (Status != IRQ_STATUS_SUCCESS) {
        char SetText[48];
        RkFormatCpuSet(Set, SetText, sizeof(SetText));
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s IoDeviceBroadcast to %s (logical 0x%x): %s",
                       Device->Name, SetText, RkSetDestination(Run, Set), IrStatusName(Status));
        if (Device->Connected)
            (void)RkDeviceDisconnect(Device);
        return false;
    }
    RkIsrLogAttach(Device, &Run->Log);
    RkWatch(Run, Device->Connection.Interrupts[0], Set);
    bool Programmed = Device->Id == RkDeviceEdu ? RkCheckMessage(Run, Device, Set) : RkCheckRedirectionEntry(Run, Set);
    uint32_t Count = Device->Id == RkDeviceEdu ? RK_BROADCAST_EDU_INTERRUPTS : RK_BROADCAST_PIT_INTERRUPTS;
    bool Passed = Programmed && RkBroadcastRaises(Run, Device, Count);
    RkIsrLogDetach(Device);
    Status = RkDeviceDisconnect(Device);
    if (Passed && Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "%s RkDeviceDisconnect %s", Device->Name,
                       IrStatusName(Status));
        Passed = false;
    }
    return Passed;
}

/* A set with a CPU the eight bits cannot name: refused, nothing connected. */
static bool RkBroadcastRefused(RK_BROADCAST_RUN *Run, RK_DEVICE *Device, const IR_CPU_SET *Set)
{
    RK_DEVICE_ROUTING Routing = {.Routing = IoDeviceBroadcast, .Cpu = IR_CPU_NONE};
    IrCpuSetCopy(&Routing.Mask, Set);
    IRQ_STATUS Status;
    if (RkConnectRefused(Device, &Routing, &Status))
        return true;
    char SetText[48];
    RkFormatCpuSet(Set, SetText, sizeof(SetText));
    RkFormatString(Run->Problem, sizeof(Run->Problem),
                   "%s IoDeviceBroadcast to %s, which eight destination bits cannot name: %s, expected NOT_SUPPORTED",
                   Device->Name, SetText, IrStatusName(Status));
    return false;
}

/* ---- The case ------------------------------------------------------------------------------------ */

typedef struct _RK_BROADCAST_SETS {
    IR_CPU_SET Odd;      /* every second CPU a device can name (a set with holes) */
    IR_CPU_SET Ends;     /* the first and the last of them */
    IR_CPU_SET Beyond;   /* the first of them and the first CPU it cannot name */
    uint32_t Nameable;   /* how many CPUs a device's logical destination can name */
    bool HasBeyond;
} RK_BROADCAST_SETS;

static void RkBroadcastSets(const RK_BROADCAST_RUN *Run, RK_BROADCAST_SETS *Sets)
{
    IrCpuSetZero(&Sets->Odd);
    IrCpuSetZero(&Sets->Ends);
    IrCpuSetZero(&Sets->Beyond);
    Sets->Nameable = 0;
    Sets->HasBeyond = false;
    uint32_t First = IR_CPU_NONE, Last = IR_CPU_NONE, Outside = IR_CPU_NONE;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (!RkDeviceLogicalReachable(Run, Cpu)) {
            Outside = Outside == IR_CPU_NONE ? Cpu : Outside;
            continue;
        }
        if (Sets->Nameable % 2u == 1u)
            IrCpuSetAdd(&Sets->Odd, Cpu);
        First = First == IR_CPU_NONE ? Cpu : First;
        Last = Cpu;
        Sets->Nameable++;
    }
    if (First == IR_CPU_NONE)
        return;
    if (IrCpuSetIsEmpty(&Sets->Odd))
        IrCpuSetAdd(&Sets->Odd, First);
    IrCpuSetAdd(&Sets->Ends, First);
    IrCpuSetAdd(&Sets->Ends, Last);
    if (Outside != IR_CPU_NONE) {
        IrCpuSetAdd(&Sets->Beyond, First);
        IrCpuSetAdd(&Sets->Beyond, Outside);
        Sets->HasBeyond = true;
    }
}

static void RkBroadcastAllocate(RK_BROADCAST_RUN *Run)
{
    size_t Words = RkProcessorCount * sizeof(uint32_t), Counts = RkProcessorCount * sizeof(uint64_t);
    Run->Ldr = RkTestAllocate(Words);
    Run->Dfr = RkTestAllocate(Words);
    Run->RunsBase = RkTestAllocate(Counts);
    Run->DeliveredBase = RkTestAllocate(Counts);
    RkIsrLogCreate(&Run->Log, RK_BROADCAST_LOG_SIZE);
}

static void RkBroadcastFree(RK_BROADCAST_RUN *Run)
{
    size_t Words = RkProcessorCount * sizeof(uint32_t), Counts = RkProcessorCount * sizeof(uint64_t);
    RkTestFree(Run->Ldr, Words);
    RkTestFree(Run->Dfr, Words);
    RkTestFree(Run->RunsBase, Counts);
    RkTestFree(Run->DeliveredBase, Counts);
    RkIsrLogDestroy(&Run->Log);
}

static bool RkBroadcastAll(RK_BROADCAST_RUN *Run, const RK_BROADCAST_SETS *Sets)
{
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    RK_DEVICE *Pit = RkDeviceGet(RkDevicePit);
    const IR_CPU_SET *PitSet = IrCpuSetWeight(&Sets->Odd) >= IrCpuSetWeight(&Sets->Ends) ? &Sets->Odd : &Sets->Ends;
    if (!RkCheckLogicalModel(Run))
        return false;
    if (Sets->Nameable == 0) {
        RkFormatString(Run->Problem, sizeof(Run->Problem), "no CPU has a logical id a device interrupt can name");
        return false;
    }
    bool Passed = RkBroadcastDevice(Run, Edu, &Sets->Odd) && RkBroadcastDevice(Run, Edu, &Sets->Ends) &&
                  RkBroadcastDevice(Run, Pit, PitSet);
    /* A set the eight bits cannot name: refused, except through a remapping
     * unit, whose table entry holds the 32-bit logical destination (one
     * x2APIC cluster's members beyond the eighth). */
    if (Passed && Sets->HasBeyond && RkRemappingIsOn())
        Passed = RkBroadcastDevice(Run, Edu, &Sets->Beyond) && RkBroadcastDevice(Run, Pit, &Sets->Beyond);
    else if (Passed && Sets->HasBeyond)
        Passed = RkBroadcastRefused(Run, Edu, &Sets->Beyond) && RkBroadcastRefused(Run, Pit, &Sets->Beyond);
    return Passed;
}

void RkTestLogicalBroadcast(void)
{
    RK_BROADCAST_RUN *Run = &RkBroadcast;
    memset(Run, 0, sizeof(*Run));
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    if (Edu == NULL || !Edu->Present) {
        RkTestReport("logical_broadcast", false, "edu is absent (QEMU needs -device edu)");
        return;
    }
    Run->X2Apic = HlLapicGetMode() == HlLapicModeX2Apic;
    RkBroadcastAllocate(Run);
    RK_BROADCAST_SETS Sets;
    RkBroadcastSets(Run, &Sets);
    bool Passed = RkBroadcastAll(Run, &Sets);
    char OddText[48], EndsText[48], BeyondText[48];
    RkFormatCpuSet(&Sets.Odd, OddText, sizeof(OddText));
    RkFormatCpuSet(&Sets.Ends, EndsText, sizeof(EndsText));
    RkFormatCpuSet(&Sets.Beyond, BeyondText, sizeof(BeyondText));
    const IR_CPU_SET *PitSet = IrCpuSetWeight(&Sets.Odd) >= IrCpuSetWeight(&Sets.Ends) ? &Sets.Odd : &Sets.Ends;
    char Refusal[96] = "no CPU beyond them: nothing to refuse";
    if (Sets.HasBeyond)
        RkFormatString(Refusal, sizeof(Refusal), "%s refused with NOT_SUPPORTED for edu and the PIT", BeyondText);
    if (Passed)
        RkTestReport("logical_broadcast", true,
                     "%s, read on each of %u CPUs; %u CPUs nameable by 8 destination bits (%s); edu MSI logical to "
                     "%s (dest 0x%x) and %s (dest 0x%x), %u interrupts each; PIT one-shots via a logical redirection "
                     "entry to %s (dest 0x%x), %u interrupts: each ran the ISR once on every CPU of the set, never "
                     "elsewhere; %s",
                     Run->X2Apic ? "x2APIC cluster LDRs ((id >> 4) << 16 | 1 << (id & 15))"
                                 : "xAPIC flat (DFR model 0xF, LDR bit per CPU)",
                     RkProcessorCount, Sets.Nameable, Run->X2Apic ? "x2APIC ids 0-7" : "CPUs 0-7", OddText,
                     RkSetDestination(Run, &Sets.Odd), EndsText, RkSetDestination(Run, &Sets.Ends),
                     RK_BROADCAST_EDU_INTERRUPTS, PitSet == &Sets.Odd ? OddText : EndsText,
                     RkSetDestination(Run, PitSet), RK_BROADCAST_PIT_INTERRUPTS, Refusal);
    else
        RkTestReport("logical_broadcast", false, "%s mode: %s", Run->X2Apic ? "x2APIC" : "xAPIC", Run->Problem);
    RkBroadcastFree(Run);
}
