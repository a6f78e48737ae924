/*
 * KTEST case 4, logical_broadcast: one interrupt delivered to a set of CPUs
 * by logical destination, fixed delivery (IoDeviceBroadcast, which connects
 * with IoTargetBroadcast).
 *
 * First the hardware the mode depends on: every local APIC must be in the
 * flat model with its own bit (Intel SDM vol. 3A 11.6.2.2: DFR model 1111b,
 * LDR[31:24] one bit per CPU for the first eight), read by each CPU from its
 * own local APIC. Then two sources:
 *  - the edu MSI in logical destination mode (SDM 11.11.1: address bit 2),
 *    raised one interrupt at a time: each one must run the ISR once on
 *    every CPU of the set and on no other;
 *  - the RTC's periodic interrupt through a logical redirection entry
 *    (82093AA 3.2.4: destination mode bit 11, destination bits 63:56): every
 *    CPU of the set runs the ISR for every edge (equal counts), none other.
 * "Ran on" is the dispatcher's count per CPU (KeQueryInterruptCount), and
 * "none other" also Ke's delivery count of the vector on the CPUs outside
 * the set, which sees a stray delivery even where no ISR is linked.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "ktest_policy.h"

/* The flat logical model (SDM vol. 3A 11.6.2.2): LDR bits 31:24, DFR model 1111b. */
#define KI_LDR_SHIFT 24u
#define KI_DFR_MODEL_SHIFT 28u
#define KI_DFR_MODEL_FLAT 0xFu
#define KI_FLAT_CPUS 8u

/* MSI address (SDM 11.11.1): destination id 19:12, destination mode bit 2. */
#define KI_MSI_DESTINATION_SHIFT 12u
#define KI_MSI_DESTINATION_LOGICAL (1u << 2)

#define KI_BROADCAST_EDU_INTERRUPTS 5u
#define KI_BROADCAST_TIMEOUT_MS 2000u /* ends when every CPU of the set ran it */
#define KI_BROADCAST_SETTLE_MS 5u
/* A CPU that has not yet taken edge k when edge k+1 arrives holds both in
 * one IRR bit (SDM vol. 3A 11.8.4) and runs the ISR once for the two; a
 * slow period makes that rare even for a TCG vCPU thread the host
 * descheduled, and the check allows one such merge per CPU. */
#define KI_BROADCAST_RTC_HZ 16u
#define KI_BROADCAST_RTC_PER_CPU 6u
#define KI_BROADCAST_RTC_SLACK 1u
#define KI_BROADCAST_RTC_TIMEOUT_MS 3000u
#define KI_BROADCAST_RTC_QUIET_MS 150u

typedef struct _KI_BROADCAST_RUN {
    uint32_t Ldr[KI_MAX_CPUS];
    uint32_t Dfr[KI_MAX_CPUS];
    KI_ISR_LOG Log;
    /* The connection being watched. */
    KINTERRUPT *Interrupt;
    uint8_t Vector;
    const IR_CPU_SET *Set;
    uint64_t RunsBase[KI_MAX_CPUS];
    uint64_t DeliveredBase[KI_MAX_CPUS];
    uint64_t Wanted; /* ISR runs each CPU of the set must reach */
    uint64_t Slack;  /* ... give or take this many (merged edges) */
    char Problem[200];
} KI_BROADCAST_RUN;

static KI_BROADCAST_RUN KiBroadcast;

/* ---- The local APICs' logical destination registers ------------------------------ */

/* Each CPU reads its own local APIC's registers through Hl. */
static void KiReadLogicalDestination(uint32_t Cpu, void *Context)
{
    KI_BROADCAST_RUN *Run = Context;
    if (Cpu >= KI_MAX_CPUS)
        return;
    (void)HlLapicReadLogicalDestination(&Run->Ldr[Cpu], &Run->Dfr[Cpu]);
}

/* The logical id flat mode gives Cpu: bit Cpu for the first eight. */
static uint32_t KiFlatLogicalId(uint32_t Cpu)
{
    return Cpu < KI_FLAT_CPUS ? 1u << Cpu : 0u;
}

static bool KiCheckFlatModel(KI_BROADCAST_RUN *Run)
{
    if (HlLapicGetMode() != HlLapicModeXApic) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "the local APICs are not in xAPIC mode");
        return false;
    }
    KE_IPI_TARGET All = {.Kind = KeIpiTargetAll};
    IRQ_STATUS Status = KeIpiGenericCall(&All, KiReadLogicalDestination, Run);
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount && Status == IRQ_STATUS_SUCCESS; Cpu++) {
        bool Flat = Run->Dfr[Cpu] >> KI_DFR_MODEL_SHIFT == KI_DFR_MODEL_FLAT;
        if (!Flat || Run->Ldr[Cpu] != KiFlatLogicalId(Cpu) << KI_LDR_SHIFT) {
            KiFormatString(Run->Problem, sizeof(Run->Problem),
                           "cpu %u: DFR 0x%08x LDR 0x%08x, expected flat, LDR 0x%08x", Cpu, Run->Dfr[Cpu],
                           Run->Ldr[Cpu], KiFlatLogicalId(Cpu) << KI_LDR_SHIFT);
            return false;
        }
    }
    if (Status != IRQ_STATUS_SUCCESS)
        KiFormatString(Run->Problem, sizeof(Run->Problem), "KeIpiGenericCall %s", IrStatusName(Status));
    return Status == IRQ_STATUS_SUCCESS;
}

/* The logical destination that reaches exactly Set: the OR of the LDR bits
 * the CPUs of the set read from their own local APICs. */
static uint32_t KiSetDestination(const KI_BROADCAST_RUN *Run, const IR_CPU_SET *Set)
{
    uint32_t Destination = 0;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Set)
        Destination |= Run->Ldr[Cpu] >> KI_LDR_SHIFT;
    return Destination;
}

/* ---- Counting runs per CPU ---------------------------------------------------------------- */

static void KiWatch(KI_BROADCAST_RUN *Run, KINTERRUPT *Interrupt, const IR_CPU_SET *Set)
{
    Run->Interrupt = Interrupt;
    Run->Vector = KeGetInterruptVector(Interrupt);
    Run->Set = Set;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        KE_VECTOR_STATISTICS Statistics = {0};
        (void)KeQueryVectorStatistics(Cpu, Run->Vector, &Statistics);
        Run->RunsBase[Cpu] = KeQueryInterruptCount(Interrupt, Cpu);
        Run->DeliveredBase[Cpu] = Statistics.Dispatched;
    }
}

static uint64_t KiRuns(const KI_BROADCAST_RUN *Run, uint32_t Cpu)
{
    return KeQueryInterruptCount(Run->Interrupt, Cpu) - Run->RunsBase[Cpu];
}

static uint64_t KiDelivered(const KI_BROADCAST_RUN *Run, uint32_t Cpu)
{
    KE_VECTOR_STATISTICS Statistics = {0};
    (void)KeQueryVectorStatistics(Cpu, Run->Vector, &Statistics);
    return Statistics.Dispatched - Run->DeliveredBase[Cpu];
}

static bool KiSetReachedWanted(void *Context)
{
    const KI_BROADCAST_RUN *Run = Context;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Run->Set) {
        if (KiRuns(Run, Cpu) < Run->Wanted)
            return false;
    }
    return true;
}

/* Every CPU of the set ran the ISR Wanted times (at least Wanted - Slack),
 * every other CPU had no delivery of the vector at all. */
static bool KiCheckRuns(KI_BROADCAST_RUN *Run, const char *Source)
{
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        bool Member = IrCpuSetContains(Run->Set, Cpu);
        uint64_t Runs = KiRuns(Run, Cpu), Delivered = KiDelivered(Run, Cpu);
        bool Wrong = Member ? Runs > Run->Wanted || Runs + Run->Slack < Run->Wanted : Runs != 0 || Delivered != 0;
        if (Wrong) {
            KiFormatString(Run->Problem, sizeof(Run->Problem),
                           "%s: cpu %u (%s the set) ran the ISR %lu times, vector 0x%x delivered %lu times; "
                           "expected %lu runs",
                           Source, Cpu, Member ? "in" : "outside", Runs, Run->Vector, Delivered,
                           Member ? Run->Wanted : 0);
            return false;
        }
    }
    if (Run->Log.WrongApicId != 0) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "%s: %u ISR runs read a LAPIC id not their CPU's", Source,
                       Run->Log.WrongApicId);
        return false;
    }
    return true;
}

/* ---- edu MSI, logical destination -------------------------------------------------------- */

static bool KiCheckMessage(KI_BROADCAST_RUN *Run, const KI_DEVICE *Edu, const IR_CPU_SET *Set)
{
    const HL_MSI_MESSAGE *Message = &Edu->Connection.Messages[0];
    uint32_t Destination = (uint32_t)(Message->Address >> KI_MSI_DESTINATION_SHIFT) & 0xFFu;
    bool Logical = (Message->Address & KI_MSI_DESTINATION_LOGICAL) != 0;
    if (Logical && Destination == KiSetDestination(Run, Set) && (Message->Data & 0xFFu) == Run->Vector)
        return true;
    KiFormatString(Run->Problem, sizeof(Run->Problem),
                   "edu MSI address 0x%lx data 0x%x: expected logical destination 0x%x, vector 0x%x",
                   Message->Address, Message->Data, KiSetDestination(Run, Set), Run->Vector);
    return false;
}

static bool KiBroadcastEduRaises(KI_BROADCAST_RUN *Run, KI_DEVICE *Edu)
{
    Run->Slack = 0;
    for (uint32_t Index = 0; Index < KI_BROADCAST_EDU_INTERRUPTS; Index++) {
        Run->Wanted = Index + 1u;
        IRQ_STATUS Status = KiDeviceRaise(Edu);
        if (Status != IRQ_STATUS_SUCCESS) {
            KiFormatString(Run->Problem, sizeof(Run->Problem), "KiDeviceRaise(edu) %s", IrStatusName(Status));
            return false;
        }
        (void)KiWaitFor(KiSetReachedWanted, Run, KI_BROADCAST_TIMEOUT_MS);
        KiStallMilliseconds(KI_BROADCAST_SETTLE_MS);
        char Step[32];
        KiFormatString(Step, sizeof(Step), "edu interrupt %u", Index);
        if (!KiCheckRuns(Run, Step))
            return false;
    }
    return true;
}

static bool KiBroadcastEdu(KI_BROADCAST_RUN *Run, KI_DEVICE *Edu, const IR_CPU_SET *Set)
{
    KI_DEVICE_ROUTING Routing = {.Routing = IoDeviceBroadcast, .Cpu = IR_CPU_NONE};
    IrCpuSetCopy(&Routing.Mask, Set);
    IRQ_STATUS Status = KiDeviceConnect(Edu, &Routing);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KiDeviceStart(Edu, 0);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "edu IoDeviceBroadcast: %s", IrStatusName(Status));
        if (Edu->Connected)
            (void)KiDeviceDisconnect(Edu);
        return false;
    }
    KiIsrLogAttach(Edu, &Run->Log);
    KiWatch(Run, Edu->Connection.Interrupts[0], Set);
    bool Passed = KiCheckMessage(Run, Edu, Set) && KiBroadcastEduRaises(Run, Edu);
    KiIsrLogDetach(Edu);
    Status = KiDeviceDisconnect(Edu);
    if (Passed && Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "edu KiDeviceDisconnect %s", IrStatusName(Status));
        Passed = false;
    }
    return Passed;
}

/* ---- RTC through a logical redirection entry ------------------------------------------------ */

static bool KiCheckRedirectionEntry(KI_BROADCAST_RUN *Run, const IR_CPU_SET *Set)
{
    uint32_t Gsi = 0;
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = 0};
    IRQ_STATUS Status = IoQueryInterruptLine(Run->Interrupt, &Gsi);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlIoApicReadEntry(Gsi, &Entry);
    uint32_t Expected = KiSetDestination(Run, Set);
    if (Status == IRQ_STATUS_SUCCESS && Entry.Bits.DestinationMode == 1 && Entry.Bits.Destination == Expected &&
        Entry.Bits.DeliveryMode == HlDeliveryFixed && Entry.Bits.Mask == 0 && Entry.Bits.Vector == Run->Vector)
        return true;
    KiFormatString(Run->Problem, sizeof(Run->Problem),
                   "rtc GSI %u entry 0x%08x%08x (%s): expected logical fixed to 0x%x, vector 0x%x, unmasked", Gsi,
                   Entry.Words.High, Entry.Words.Low, IrStatusName(Status), Expected, Run->Vector);
    return false;
}

/* The most runs any CPU of the set had. */
static uint64_t KiMostRuns(const KI_BROADCAST_RUN *Run)
{
    uint64_t Most = 0;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Run->Set)
        Most = KiRuns(Run, Cpu) > Most ? KiRuns(Run, Cpu) : Most;
    return Most;
}

/* Runs the RTC until every CPU of the set ran the ISR a few times, stops
 * it, and requires equal counts on the set (but for merged edges): an edge
 * reaches every member. */
static bool KiBroadcastRtcRun(KI_BROADCAST_RUN *Run, KI_DEVICE *Rtc, uint64_t *PerCpu)
{
    Run->Wanted = KI_BROADCAST_RTC_PER_CPU;
    Run->Slack = 0;
    IRQ_STATUS Status = KiDeviceStart(Rtc, KI_BROADCAST_RTC_HZ);
    bool Reached = Status == IRQ_STATUS_SUCCESS && KiWaitFor(KiSetReachedWanted, Run, KI_BROADCAST_RTC_TIMEOUT_MS);
    (void)KiDeviceStop(Rtc);
    KiStallMilliseconds(KI_BROADCAST_RTC_QUIET_MS);
    if (!Reached) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "rtc broadcast: start %s, cpu %u ran %lu times",
                       IrStatusName(Status), IrCpuSetFirst(Run->Set), KiRuns(Run, IrCpuSetFirst(Run->Set)));
        return false;
    }
    Run->Wanted = KiMostRuns(Run);
    Run->Slack = KI_BROADCAST_RTC_SLACK;
    *PerCpu = Run->Wanted;
    return KiCheckRuns(Run, "rtc");
}

static bool KiBroadcastRtc(KI_BROADCAST_RUN *Run, const IR_CPU_SET *Set, uint64_t *PerCpu)
{
    KI_DEVICE *Rtc = KiDeviceGet(KiDeviceRtc);
    KI_DEVICE_ROUTING Routing = {.Routing = IoDeviceBroadcast, .Cpu = IR_CPU_NONE};
    IrCpuSetCopy(&Routing.Mask, Set);
    IRQ_STATUS Status = Rtc != NULL ? KiDeviceConnect(Rtc, &Routing) : IRQ_STATUS_NOT_SUPPORTED;
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "rtc IoDeviceBroadcast: %s", IrStatusName(Status));
        return false;
    }
    KiIsrLogAttach(Rtc, &Run->Log);
    KiWatch(Run, Rtc->Connection.Interrupts[0], Set);
    bool Passed = KiCheckRedirectionEntry(Run, Set) && KiBroadcastRtcRun(Run, Rtc, PerCpu);
    KiIsrLogDetach(Rtc);
    Status = KiDeviceDisconnect(Rtc);
    if (Passed && Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Run->Problem, sizeof(Run->Problem), "rtc KiDeviceDisconnect %s", IrStatusName(Status));
        Passed = false;
    }
    return Passed;
}

/* ---- The case ------------------------------------------------------------------------------------ */

/* QEMU 7.2 looks for the targets of a logical message in its table of
 * local APICs indexed by APIC id and stops at the first unused id
 * (hw/intc/apic.c, apic_get_delivery_bitmask: "else break"), so a CPU
 * whose APIC id lies above a hole (-smp 6,sockets=2,cores=3: ids 0-2 and
 * 4-6) never receives one. Real hardware has no such limit; the sets are
 * taken below the first hole. Returns that first unused APIC id. */
static uint32_t KiFirstUnusedApicId(void)
{
    uint32_t ApicId = 0;
    uint32_t Cpu;
    while (ApicId < 0xFFu && HlFindProcessorByApicId(ApicId, &Cpu) == IRQ_STATUS_SUCCESS)
        ApicId++;
    return ApicId;
}

/* The CPUs a flat logical destination can reach here: the first eight (one
 * LDR bit each), below the first unused APIC id. */
static uint32_t KiLogicalCpuCount(void)
{
    uint32_t Limit = KiFirstUnusedApicId();
    uint32_t Count = 0;
    while (Count < KiProcessorCount && Count < KI_FLAT_CPUS && KiPcr[Count].ApicId < Limit)
        Count++;
    return Count;
}

/* Odd CPUs among those (a set with holes), and {0, the last of them}; with
 * one CPU both are {0}. */
static void KiBroadcastSets(uint32_t Reachable, IR_CPU_SET *Odd, IR_CPU_SET *Ends)
{
    IrCpuSetZero(Odd);
    IrCpuSetZero(Ends);
    for (uint32_t Cpu = 1; Cpu < Reachable; Cpu += 2u)
        IrCpuSetAdd(Odd, Cpu);
    if (IrCpuSetIsEmpty(Odd))
        IrCpuSetAdd(Odd, 0);
    IrCpuSetAdd(Ends, 0);
    IrCpuSetAdd(Ends, Reachable - 1u);
}

void KiTestLogicalBroadcast(void)
{
    KI_BROADCAST_RUN *Run = &KiBroadcast;
    memset(Run, 0, sizeof(*Run));
    KI_DEVICE *Edu = KiDeviceGet(KiDeviceEdu);
    if (Edu == NULL || !Edu->Present) {
        KiTestReport("logical_broadcast", false, "edu is absent (QEMU needs -device edu)");
        return;
    }
    IR_CPU_SET Odd, Ends;
    uint32_t Reachable = KiLogicalCpuCount();
    KiBroadcastSets(Reachable, &Odd, &Ends);
    char OddText[48], EndsText[48];
    KiFormatCpuSet(&Odd, OddText, sizeof(OddText));
    KiFormatCpuSet(&Ends, EndsText, sizeof(EndsText));
    uint64_t RtcPerCpu = 0;
    const IR_CPU_SET *RtcSet = IrCpuSetWeight(&Odd) >= IrCpuSetWeight(&Ends) ? &Odd : &Ends;
    bool Passed = KiCheckFlatModel(Run) && KiBroadcastEdu(Run, Edu, &Odd) && KiBroadcastEdu(Run, Edu, &Ends) &&
                  KiBroadcastRtc(Run, RtcSet, &RtcPerCpu);
    if (Passed)
        KiTestReport("logical_broadcast", true,
                     "LAPICs flat (DFR model 0xF, LDR bit per CPU, read on each CPU); edu MSI logical to %s (dest "
                     "0x%x) and %s (dest 0x%x): each of %u interrupts ran the ISR once on every CPU of the set, "
                     "never elsewhere; RTC %u Hz via a logical redirection entry to %s: %lu runs on each member "
                     "(-%u allowed: merged edges), none outside%s",
                     OddText, KiSetDestination(Run, &Odd), EndsText, KiSetDestination(Run, &Ends),
                     KI_BROADCAST_EDU_INTERRUPTS, KI_BROADCAST_RTC_HZ, RtcSet == &Odd ? OddText : EndsText,
                     RtcPerCpu, KI_BROADCAST_RTC_SLACK,
                     Reachable < KiProcessorCount && Reachable < KI_FLAT_CPUS
                         ? "; sets kept below the first unused APIC id (QEMU 7.2 logical delivery stops there)"
                         : "");
    else
        KiTestReport("logical_broadcast", false, "%s", Run->Problem);
}
