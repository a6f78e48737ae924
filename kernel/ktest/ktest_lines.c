/* SPDX-License-Identifier: MIT */
/*
 * KTEST "devices" (every line device fires on the default routing) and
 * cases 1, 2, 6, 9, 10: ISA lines and edu's MSI routed to each CPU,
 * affinity with the least-loaded CPU, a shared level-triggered line, and
 * live re-routing while the device fires. Each case checks in the ISR which
 * CPU ran it: the device layer counts per CPU and records the LAPIC id read
 * from the LAPIC itself (device.c).
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "device.h"
#include "driver.h"
#include "kernel.h"
#include "ktest.h"
#include "ktest_policy.h"
#include "pci.h"

#define RK_LINES_PER_CPU 3u        /* interrupts each CPU must take in case 1 */
#define RK_WAIT_MS RK_TEST_TIMEOUT_MS
#define RK_RTC_TEST_HZ 1024u
#define RK_PIT_TEST_HZ 1000u
#define RK_MSI_PER_CPU 4u
/* Cases 1 and 6 route to every CPU a device can reach, one after the
 * other, and check where each interrupt ran. Each CPU proves its own
 * destination with its first interrupt; more of them per CPU only repeat
 * the proof, so beyond RK_MANY_CPUS reachable CPUs each takes one (the
 * case then stays well under a second per hundred CPUs on an idle host,
 * and linear in the CPU count on a loaded one). */
#define RK_MANY_CPUS RK_TEST_MANY_CPUS
#define RK_REROUTE_MOVES 200u
#define RK_LOAD_VECTORS 6u         /* extra vectors that make a CPU "loaded" */
#define RK_MSI_DESTINATION_SHIFT 12u
#define RK_MSI_DESTINATION_MASK 0xFFu

/* ---- Shared helpers --------------------------------------------------------------- */

static RK_DEVICE_ROUTING RkpFixedTo(uint32_t Cpu, bool Movable)
{
    RK_DEVICE_ROUTING Routing = {.Routing = IoDeviceFixed, .Cpu = Cpu, .NotMovable = !Movable};
    IrCpuSetZero(&Routing.Mask);
    return Routing;
}

/* Whether every interrupt the device took since the reset ran on Cpu, with
 * Cpu's LAPIC id, and at least Wanted of them came. */
static bool RkpAllOn(const RK_DEVICE *Device, uint32_t Cpu, uint64_t Wanted)
{
    uint64_t Total = RkDeviceTotal(Device);
    return Total >= Wanted && Device->Count[Cpu] == Total && Device->LastApicId == RkPcr[Cpu].ApicId;
}

/* Connects Device to Cpu only (IoTargetCpu: HlPicAllocateSystemInterrupt or
 * an MSI composed for that APIC id), makes it interrupt Wanted times, and
 * checks where its interrupts ran. */
static bool RkpRunOnCpu(RK_DEVICE *Device, uint32_t Cpu, uint32_t Hz, uint32_t Wanted, char *Why, size_t WhySize)
{
    RK_DEVICE_ROUTING Routing = RkpFixedTo(Cpu, false);
    RkDeviceResetCounts(Device);
    IRQ_STATUS Status = RkDeviceConnect(Device, &Routing);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Why, WhySize, "%s to cpu %u (APIC id %u): connect %s", Device->Name, Cpu, RkPcr[Cpu].ApicId,
                       IrStatusName(Status));
        return false;
    }
    if (Hz != 0) {
        (void)RkDeviceStart(Device, Hz);
        (void)RkDeviceWaitTotal(Device, Wanted, RK_WAIT_MS);
        (void)RkDeviceStop(Device);
    } else {
        for (uint32_t Raise = 0; Raise < Wanted; Raise++) {
            (void)RkDeviceRaise(Device);
            (void)RkDeviceWaitTotal(Device, Raise + 1u, RK_WAIT_MS);
        }
    }
    /* After the disconnect no ISR runs any more: the counts are final, a
     * last interrupt that was in flight included. */
    (void)RkDeviceDisconnect(Device);
    bool Passed = RkpAllOn(Device, Cpu, Wanted);
    if (!Passed)
        RkFormatString(Why, WhySize, "%s to cpu %u (APIC id %u): %lu interrupts, %lu on it, last LAPIC id %u",
                       Device->Name, Cpu, RkPcr[Cpu].ApicId, RkDeviceTotal(Device), Device->Count[Cpu],
                       Device->LastApicId);
    return Passed;
}

/* A CPU whose APIC id the 8-bit destination cannot carry: the connect must
 * be refused with NOT_SUPPORTED and leave the device unconnected. */
static bool RkpRefusedOnCpu(RK_DEVICE *Device, uint32_t Cpu, char *Why, size_t WhySize)
{
    RK_DEVICE_ROUTING Routing = RkpFixedTo(Cpu, false);
    IRQ_STATUS Status;
    if (RkConnectRefused(Device, &Routing, &Status))
        return true;
    RkFormatString(Why, WhySize, "%s to cpu %u (APIC id %u, not reachable without remapping): connect %s, expected "
                   "NOT_SUPPORTED", Device->Name, Cpu, RkPcr[Cpu].ApicId, IrStatusName(Status));
    return false;
}

/* Interrupts each CPU takes in cases 1 and 6 (see RK_MANY_CPUS). */
static uint32_t RkpPerCpu(uint32_t Few, uint32_t Reachable)
{
    return Reachable <= RK_MANY_CPUS ? Few : 1u;
}

/* What cases 1 and 6 do on a CPU a device can reach (RkpRunOnCpu,
 * RkpEduOnCpu): Wanted interrupts, all on Cpu; the reason in Why if not. */
typedef bool (*RK_ON_REACHABLE_CPU)(RK_DEVICE *Device, uint32_t Cpu, uint32_t Hz, uint32_t Wanted, char *Why,
                                    size_t WhySize);

/* The highest APIC id among Cpus (what the routings reached at the top). */
static uint32_t RkpHighestApicId(const IR_CPU_SET *Cpus)
{
    uint32_t Highest = 0;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        if (RkPcr[Cpu].ApicId > Highest)
            Highest = RkPcr[Cpu].ApicId;
    }
    return Highest;
}

/* One device routed to each CPU in turn, and what came of it. */
typedef struct _RK_EACH_CPU_RUN {
    IR_CPU_SET Reachable;
    uint32_t ReachableCount;
    uint32_t Unreachable;
    uint32_t PerCpu;
    uint32_t Routed;
    uint32_t Refused;
    char Why[200];
} RK_EACH_CPU_RUN;

static void RkpStartEachCpuRun(RK_EACH_CPU_RUN *Run, uint32_t Few)
{
    Run->ReachableCount = RkReachableSet(&Run->Reachable);
    Run->Unreachable = RkProcessorCount - Run->ReachableCount;
    Run->PerCpu = RkpPerCpu(Few, Run->ReachableCount);
    Run->Routed = 0;
    Run->Refused = 0;
    Run->Why[0] = 0;
}

/* Device to every CPU in turn: OnCpu where a device interrupt can go, the
 * NOT_SUPPORTED refusal everywhere else; stops at the first failure. */
static bool RkpRunEachCpu(RK_EACH_CPU_RUN *Run, RK_DEVICE *Device, uint32_t Hz, RK_ON_REACHABLE_CPU OnCpu)
{
    bool Passed = true;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount && Passed; Cpu++) {
        if (IrCpuSetContains(&Run->Reachable, Cpu)) {
            Passed = OnCpu(Device, Cpu, Hz, Run->PerCpu, Run->Why, sizeof(Run->Why));
            Run->Routed += Passed;
        } else {
            Passed = RkpRefusedOnCpu(Device, Cpu, Run->Why, sizeof(Run->Why));
            Run->Refused += Passed;
        }
    }
    return Passed;
}

/* ---- Case "devices": every line device fires on the default routing ----------------- */

/* One line device of the "devices" case: Hz != 0 runs its periodic source
 * (at least RK_LINES_PER_CPU interrupts), Raises its on-demand interrupt
 * (exactly that many: each raise is one edge and one ISR claim). */
typedef struct _RK_DEVICE_CHECK {
    RK_DEVICE_ID Id;
    uint32_t Hz;
    uint32_t Raises;
} RK_DEVICE_CHECK;

static const RK_DEVICE_CHECK RkpDeviceChecks[] = {
    {RkDevicePit, RK_PIT_TEST_HZ, 0},        /* 8254 counter 0, mode 2 */
    {RkDevicePit, 0, RK_LINES_PER_CPU},      /* 8254 counter 0, mode 0 one-shot */
    {RkDeviceRtc, RK_RTC_TEST_HZ, 0},        /* MC146818 periodic (register B PIE) */
    {RkDeviceCom1, 0, RK_LINES_PER_CPU},     /* 16550 THR empty, one shot each */
    {RkDeviceKeyboard, 0, RK_LINES_PER_CPU}, /* 8042 command 0xD2 + byte */
};

/* Connects the device with the default routing (FIXED to CPU 0), makes it
 * interrupt and checks that its ISR ran, on CPU 0's LAPIC only. */
static bool RkpCheckDevice(const RK_DEVICE_CHECK *Check, char *Why, size_t WhySize)
{
    RK_DEVICE *Device = RkDeviceGet(Check->Id);
    RkDeviceResetCounts(Device);
    IRQ_STATUS Status = RkDeviceConnect(Device, NULL);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Why, WhySize, "%s: connect %s", Device->Name, IrStatusName(Status));
        return false;
    }
    uint32_t Sent = 0;
    if (Check->Raises == 0) {
        (void)RkDeviceStart(Device, Check->Hz);
        (void)RkDeviceWaitTotal(Device, RK_LINES_PER_CPU, RK_WAIT_MS);
    } else {
        /* The keyboard's IRQ1 needs the 8042's interrupt enable; the
         * others' Start is either nothing (COM1 receive only) or skipped
         * (the PIT raises only while not periodic). */
        if (Check->Id == RkDeviceKeyboard)
            Status = RkDeviceStart(Device, 0);
        for (uint32_t Raise = 0; Raise < Check->Raises && Status == IRQ_STATUS_SUCCESS; Raise++) {
            Status = RkDeviceRaise(Device);
            Sent += Status == IRQ_STATUS_SUCCESS;
            (void)RkDeviceWaitTotal(Device, Raise + 1u, RK_WAIT_MS);
        }
    }
    (void)RkDeviceDisconnect(Device); /* the counts are final after it */
    uint64_t Total = RkDeviceTotal(Device);
    bool Exact = Check->Raises == 0 || (Sent == Check->Raises && Total == Sent);
    bool Passed = Status == IRQ_STATUS_SUCCESS && Exact && RkpAllOn(Device, 0, RK_LINES_PER_CPU);
    if (!Passed)
        RkFormatString(Why, WhySize, "%s (%s): %s, %u raised, %lu interrupts, %lu on cpu 0, last LAPIC id %u",
                       Device->Name, Check->Raises ? "raised" : "periodic", IrStatusName(Status), Sent, Total,
                       Device->Count[0], Device->LastApicId);
    return Passed;
}

static void RkTestDevices(void)
{
    const uint32_t Checks = sizeof(RkpDeviceChecks) / sizeof(RkpDeviceChecks[0]);
    char Why[160] = "";
    uint32_t Passed = 0;
    for (uint32_t Index = 0; Index < Checks; Index++) {
        char Failure[160] = "";
        if (RkpCheckDevice(&RkpDeviceChecks[Index], Failure, sizeof(Failure)))
            Passed++;
        else if (Why[0] == 0)
            RkFormatString(Why, sizeof(Why), "%s", Failure);
    }
    RkTestReport("devices", Passed == Checks,
                 "%u/%u line sources on the default routing (FIXED to cpu 0) ran their ISR on APIC id %u only: "
                 "PIT periodic and one-shot, RTC periodic, COM1 THR empty, keyboard via 8042 0xD2; each "
                 "of %u "
                 "raises per on-demand source one interrupt%s%s",
                 Passed, Checks, RkPcr[0].ApicId, RK_LINES_PER_CPU, Passed == Checks ? "" : "; ", Why);
}

/* ---- Case 1: each ISA line to each CPU in turn ------------------------------------------ */

static void RkTestIsaLinesEachCpu(void)
{
    static const struct {
        RK_DEVICE_ID Id;
        uint32_t Hz; /* 0: raised on demand */
    } Lines[] = {{RkDeviceRtc, RK_RTC_TEST_HZ}, {RkDevicePit, RK_PIT_TEST_HZ}, {RkDeviceCom1, 0}};
    const uint32_t LineCount = sizeof(Lines) / sizeof(Lines[0]);
    RK_EACH_CPU_RUN Run;
    RkpStartEachCpuRun(&Run, RK_LINES_PER_CPU);
    bool Passed = true;
    for (uint32_t Line = 0; Line < LineCount && Passed; Line++)
        Passed = RkpRunEachCpu(&Run, RkDeviceGet(Lines[Line].Id), Lines[Line].Hz, RkpRunOnCpu);
    RkTestReport("isa_lines_each_cpu", Passed,
                 "RTC (IRQ8), PIT (IRQ0 -> GSI 2), COM1 (IRQ4) each routed to each of the %u CPUs %s with a "
                 "physical destination: %u/%u routings took >= %u interrupts, all on the target's LAPIC id (highest "
                 "APIC id %u); %u/%u routings to the %u CPUs above refused with NOT_SUPPORTED%s%s",
                 Run.ReachableCount,
                 RkRemappingIsOn() ? "through the remapping unit (any APIC id)" : "with an APIC id below 255",
                 Run.Routed, LineCount * Run.ReachableCount, Run.PerCpu, RkpHighestApicId(&Run.Reachable),
                 Run.Refused, LineCount * Run.Unreachable, Run.Unreachable, Passed ? "" : "; ", Run.Why);
}

/* ---- Case 2: affinity, least-loaded CPU --------------------------------------------------- */

/* Takes Count free device vectors on Cpu (recorded in Taken for release). */
static uint32_t RkpLoadCpu(uint32_t Cpu, uint32_t Count, uint8_t *Taken)
{
    uint32_t Loaded = 0;
    IR_CPU_SET Only;
    IrCpuSetZero(&Only);
    IrCpuSetAdd(&Only, Cpu);
    for (uint32_t Index = 0; Index < Count; Index++) {
        uint32_t Where;
        if (KeAllocateVector(&Only, KE_IRQL_ANY, &Where, &Taken[Loaded]) == IRQ_STATUS_SUCCESS)
            Loaded++;
    }
    return Loaded;
}

static void RkpUnloadCpu(uint32_t Cpu, const uint8_t *Taken, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++)
        (void)KeFreeVector(Cpu, Taken[Index]);
}

/* What one affinity connect did: its status, and on success the vector and
 * the CPU that took every interrupt (IR_CPU_NONE: not one single CPU). */
typedef struct _RK_AFFINITY_CHOICE {
    IRQ_STATUS Status;
    uint32_t Cpu;
    uint8_t Vector;
} RK_AFFINITY_CHOICE;

/* Connects the RTC with an affinity over every CPU and says which CPU took
 * its interrupts. */
static RK_AFFINITY_CHOICE RkpAffinityChoice(RK_DEVICE *Rtc)
{
    RK_AFFINITY_CHOICE Choice = {.Status = IRQ_STATUS_SUCCESS, .Cpu = IR_CPU_NONE, .Vector = 0};
    RK_DEVICE_ROUTING Routing = {.Routing = IoDeviceAffinity};
    IrCpuSetZero(&Routing.Mask);
    RkDeviceResetCounts(Rtc);
    Choice.Status = RkDeviceConnect(Rtc, &Routing);
    if (Choice.Status != IRQ_STATUS_SUCCESS)
        return Choice;
    Choice.Vector = KeGetInterruptVector(Rtc->Connection.Interrupts[0]);
    (void)RkDeviceStart(Rtc, RK_RTC_TEST_HZ);
    (void)RkDeviceWaitTotal(Rtc, RK_LINES_PER_CPU, RK_WAIT_MS);
    (void)RkDeviceDisconnect(Rtc);
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (RkpAllOn(Rtc, Cpu, RK_LINES_PER_CPU))
            Choice.Cpu = Cpu;
    }
    return Choice;
}

static void RkpFormatChoice(const RK_AFFINITY_CHOICE *Choice, char *Buffer, size_t Size)
{
    if (Choice->Status != IRQ_STATUS_SUCCESS)
        RkFormatString(Buffer, Size, "the connect failed: %s", IrStatusName(Choice->Status));
    else if (Choice->Cpu == IR_CPU_NONE)
        RkFormatString(Buffer, Size, "connected (vector 0x%x) but no single CPU took its interrupts", Choice->Vector);
    else
        RkFormatString(Buffer, Size, "it went to cpu %u (APIC id %u, vector 0x%x)", Choice->Cpu,
                       RkPcr[Choice->Cpu].ApicId, Choice->Vector);
}

/* The mask is every CPU, reachable or not. Every reachable CPU but the last
 * one (Last) is loaded, so Last is the least loaded CPU a device interrupt
 * can reach; CPUs with APIC ids of 255 and above carry nothing and must be
 * passed over (an affinity choice may only name a CPU the hardware can
 * reach). Then Last is loaded most and CPU 0 freed: the choice moves to 0. */
static void RkTestAffinityLeastLoaded(void)
{
    RK_DEVICE *Rtc = RkDeviceGet(RkDeviceRtc);
    IR_CPU_SET Reachable;
    (void)RkReachableSet(&Reachable);
    uint32_t Last = 0, Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Reachable)
        Last = Cpu;
    uint8_t *Taken = RkTestAllocate((size_t)RkProcessorCount * RK_LOAD_VECTORS);
    uint32_t *Loaded = RkTestAllocate((size_t)RkProcessorCount * sizeof(uint32_t));
    IR_CPU_SET_FOR_EACH(Cpu, &Reachable) {
        if (Cpu != Last)
            Loaded[Cpu] = RkpLoadCpu(Cpu, RK_LOAD_VECTORS, &Taken[Cpu * RK_LOAD_VECTORS]);
    }
    RK_AFFINITY_CHOICE First = RkpAffinityChoice(Rtc);
    Loaded[Last] = RkpLoadCpu(Last, RK_LOAD_VECTORS, &Taken[Last * RK_LOAD_VECTORS]);
    if (Last != 0) {
        RkpUnloadCpu(0, &Taken[0], Loaded[0]);
        Loaded[0] = 0;
    }
    RK_AFFINITY_CHOICE Second = RkpAffinityChoice(Rtc);
    for (Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        RkpUnloadCpu(Cpu, &Taken[Cpu * RK_LOAD_VECTORS], Loaded[Cpu]);
    RkTestFree(Taken, (size_t)RkProcessorCount * RK_LOAD_VECTORS);
    RkTestFree(Loaded, (size_t)RkProcessorCount * sizeof(uint32_t));

    char FirstText[96], SecondText[96];
    RkpFormatChoice(&First, FirstText, sizeof(FirstText));
    RkpFormatChoice(&Second, SecondText, sizeof(SecondText));
    bool Passed = First.Status == IRQ_STATUS_SUCCESS && Second.Status == IRQ_STATUS_SUCCESS && First.Cpu == Last &&
                  Second.Cpu == 0 && First.Vector != 0 && Second.Vector != 0;
    RkTestReport("affinity_least_loaded", Passed,
                 "RTC with an affinity over all %u CPUs (%u of them with APIC ids of 255 and above, unreachable): "
                 "with every reachable CPU but cpu %u loaded by %u vectors %s (expected cpu %u); with cpu %u "
                 "loaded and cpu 0 freed %s (expected cpu 0); vectors from the allocator",
                 RkProcessorCount, RkProcessorCount - IrCpuSetWeight(&Reachable), Last, RK_LOAD_VECTORS, FirstText,
                 Last, Last, SecondText);
}

/* ---- Case 6: edu's MSI to each CPU ----------------------------------------------------------- */

/* edu's MSI to one reachable CPU: the composed destination is its APIC id,
 * and each raise ran the ISR exactly once, there. */
static bool RkpEduOnCpu(RK_DEVICE *Edu, uint32_t Cpu, uint32_t Hz, uint32_t PerCpu, char *Why, size_t WhySize)
{
    (void)Hz; /* edu interrupts only when raised */
    RK_DEVICE_ROUTING Routing = RkpFixedTo(Cpu, false);
    RkDeviceResetCounts(Edu);
    IRQ_STATUS Status = RkDeviceConnect(Edu, &Routing);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Why, WhySize, "connect to cpu %u (APIC id %u): %s", Cpu, RkPcr[Cpu].ApicId,
                       IrStatusName(Status));
        return false;
    }
    uint64_t Address = Edu->Connection.Messages[0].Address;
    uint32_t Destination = (uint32_t)(Address >> RK_MSI_DESTINATION_SHIFT) & RK_MSI_DESTINATION_MASK;
    for (uint32_t Raise = 0; Raise < PerCpu; Raise++) {
        (void)RkDeviceRaise(Edu);
        (void)RkDeviceWaitTotal(Edu, Raise + 1u, RK_WAIT_MS);
    }
    (void)RkDeviceDisconnect(Edu);
    /* A remapped message (address bit 4, VT-d 5.1.2.2) names its table entry,
     * not the CPU: where it went is what the counts say. */
    bool Remapped = (Address & RK_MSI_REMAPPABLE_FORMAT) != 0;
    bool Passed = (Remapped || Destination == RkPcr[Cpu].ApicId) && RkpAllOn(Edu, Cpu, PerCpu) &&
                  RkDeviceTotal(Edu) == PerCpu;
    if (!Passed)
        RkFormatString(Why, WhySize, "cpu %u (APIC id %u): MSI address 0x%lx (destination %u), %lu of %u interrupts "
                       "there, %lu in all, last LAPIC id %u",
                       Cpu, RkPcr[Cpu].ApicId, Address, Destination, Edu->Count[Cpu], PerCpu, RkDeviceTotal(Edu),
                       Edu->LastApicId);
    return Passed;
}

static void RkTestEduMsiEachCpu(void)
{
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    if (!Edu->Present) {
        RkTestReport("edu_msi_each_cpu", false, "no edu device (QEMU needs -device edu)");
        return;
    }
    RK_EACH_CPU_RUN Run;
    RkpStartEachCpuRun(&Run, RK_MSI_PER_CPU);
    bool Passed = RkpRunEachCpu(&Run, Edu, 0, RkpEduOnCpu);
    RkTestReport("edu_msi_each_cpu", Passed,
                 "edu MSI composed by Hl for each of the %u CPUs %s, %u raise(s) each handled exactly once on that "
                 "CPU's LAPIC: %u/%u (highest APIC id %u); the %u CPUs above refused with NOT_SUPPORTED: %u/%u%s%s",
                 Run.ReachableCount,
                 RkRemappingIsOn() ? "through the remapping unit (a table entry each, any APIC id)"
                                   : "with an APIC id below 255 (destination field = APIC id)",
                 Run.PerCpu, Run.Routed, Run.ReachableCount, RkpHighestApicId(&Run.Reachable), Run.Unreachable,
                 Run.Refused, Run.Unreachable, Passed ? "" : "; ", Run.Why);
}

/* ---- Case 9: a shared level-triggered line ------------------------------------------------------ */

/* The other sharer is a device the test makes "want service" with a flag:
 * its ISR claims once per request. It is connected first, so it runs first
 * in the chain (level chains stop at the first claim); the line stays
 * asserted for edu until edu's own ISR acknowledges it, so after the
 * sharer's claim the EOI brings the interrupt back, for edu. */
typedef struct _RK_SHARER {
    volatile uint32_t Requests;
    volatile uint32_t Calls;
    volatile uint32_t Claims;
} RK_SHARER;

static bool RkpSharerIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    RK_SHARER *Sharer = Context;
    Sharer->Calls++;
    if (Sharer->Requests == 0)
        return false;
    Sharer->Requests--;
    Sharer->Claims++;
    return true;
}

static IRQ_STATUS RkpConnectSharer(KINTERRUPT **Object, RK_SHARER *Sharer, uint32_t IsaIrq, uint32_t Cpu)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = Object, .ServiceRoutine = RkpSharerIsr, .ServiceContext = Sharer,
                      .Line = {.Bus = HlBusIsa, .Number = IsaIrq}, .Irql = KE_IRQL_ANY, .ShareVector = true,
                      .Target = {.Kind = IoTargetCpu, .Cpu = Cpu}},
    };
    return IoConnectInterruptEx(&Parameters);
}

static void RkTestSharedLevelLine(void)
{
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    uint32_t Cpu = RkProcessorCount > 1 ? 1u : 0u;
    static RK_SHARER Sharer;
    KINTERRUPT *Object = NULL;
    Sharer = (RK_SHARER){0};
    /* The sharer connects first, so it is first in the chain. */
    RK_PCI_FUNCTION Function;
    uint32_t IsaIrq = RkEduPciFunction(&Function) ? RkPciInterruptLine(&Function) : 0;
    IRQ_STATUS SharerStatus = IsaIrq != 0 ? RkpConnectSharer(&Object, &Sharer, IsaIrq, Cpu) : IRQ_STATUS_NOT_SUPPORTED;
    RkEduUseLegacyInterrupt(true);
    RK_DEVICE_ROUTING Routing = RkpFixedTo(Cpu, false);
    RkDeviceResetCounts(Edu);
    IRQ_STATUS EduStatus = SharerStatus == IRQ_STATUS_SUCCESS ? RkDeviceConnect(Edu, &Routing) : SharerStatus;
    RkEduUseLegacyInterrupt(false);
    uint32_t Gsi = 0;
    if (EduStatus == IRQ_STATUS_SUCCESS)
        (void)IoQueryInterruptLine(Edu->Connection.Interrupts[0], &Gsi);
    bool Connected = EduStatus == IRQ_STATUS_SUCCESS && SharerStatus == IRQ_STATUS_SUCCESS;
    uint8_t Vector = Connected ? KeGetInterruptVector(Edu->Connection.Interrupts[0]) : 0;
    bool SameVector = Connected && KeGetInterruptVector(Object) == Vector &&
                      KeGetInterruptMode(Object) == LevelSensitive;
    KE_VECTOR_STATISTICS Before = {0}, After = {0};
    (void)KeQueryVectorStatistics(Cpu, Vector, &Before);

    /* Phase 1: only edu interrupts: the sharer runs, declines, edu claims. */
    const uint32_t EduRaises = 5, SharerRequests = 3;
    for (uint32_t Raise = 0; Connected && Raise < EduRaises; Raise++) {
        (void)RkDeviceRaise(Edu);
        (void)RkDeviceWaitTotal(Edu, Raise + 1u, RK_WAIT_MS);
    }
    /* Phase 2: both want service at once: the sharer claims first, the line
     * stays high for edu, the EOI re-delivers it and edu claims. */
    for (uint32_t Request = 0; Connected && Request < SharerRequests; Request++) {
        Sharer.Requests = 1;
        (void)RkDeviceRaise(Edu);
        (void)RkWaitCounter32(&Sharer.Claims, Request + 1u, RK_WAIT_MS);
        (void)RkDeviceWaitTotal(Edu, EduRaises + Request + 1u, RK_WAIT_MS);
    }
    /* The statistics of the last dispatch are complete once it returned. */
    (void)RkWaitDispatchDone(Cpu);
    (void)KeQueryVectorStatistics(Cpu, Vector, &After);
    uint64_t Dispatched = After.Dispatched - Before.Dispatched, Unclaimed = After.Unclaimed - Before.Unclaimed;
    uint64_t EduTotal = RkDeviceTotal(Edu);
    if (Object != NULL)
        (void)IoDisconnectInterrupt(Object);
    (void)RkDeviceDisconnect(Edu);

    /* Every dispatch was claimed by exactly one ISR, and each ISR claimed
     * exactly its own interrupts. */
    bool Passed = Connected && SameVector && EduTotal == EduRaises + SharerRequests &&
                  Sharer.Claims == SharerRequests && Unclaimed == 0 && Dispatched == EduTotal + Sharer.Claims &&
                  Edu->Count[Cpu] == EduTotal;
    RkTestReport("shared_level_line", Passed,
                 "edu INTA# on GSI %u (level, vector 0x%x on cpu %u) shared with a second ISR (connect %s/%s): edu "
                 "claimed %lu of %u, the sharer %u of %u (called %u times), %lu dispatches, %lu unclaimed",
                 Gsi, Vector, Cpu, IrStatusName(EduStatus), IrStatusName(SharerStatus), EduTotal,
                 EduRaises + SharerRequests, Sharer.Claims, SharerRequests, Sharer.Calls, Dispatched, Unclaimed);
}

/* ---- Case 10: live re-routing while the device fires ---------------------------------------------- */

/* A device connected for live re-routing: a movable FIXED routing over the
 * CPUs a device interrupt can reach, and how many those are. */
typedef struct _RK_REROUTE {
    RK_DEVICE *Device;
    RK_DEVICE_ROUTING Routing;
    uint32_t Reachable;
} RK_REROUTE;

/* Connects device Id with counts reset for re-routing, starting on the
 * first reachable CPU. On failure, says so in Detail. */
static bool RkpConnectForReroute(RK_DEVICE_ID Id, RK_REROUTE *Reroute, char *Detail, size_t Size)
{
    Reroute->Device = RkDeviceGet(Id);
    Reroute->Routing = RkpFixedTo(0, true);
    Reroute->Reachable = RkReachableSet(&Reroute->Routing.Mask);
    Reroute->Routing.Cpu = IrCpuSetFirst(&Reroute->Routing.Mask);
    RkDeviceResetCounts(Reroute->Device);
    IRQ_STATUS Status = RkDeviceConnect(Reroute->Device, &Reroute->Routing);
    if (Status != IRQ_STATUS_SUCCESS)
        RkFormatString(Detail, Size, "%s connect failed: %s", Reroute->Device->Name, IrStatusName(Status));
    return Status == IRQ_STATUS_SUCCESS;
}

/* One live move: to the reachable CPU after the current one (wrapping
 * round). Whether the library took it. */
static bool RkpMoveToNextCpu(RK_REROUTE *Reroute)
{
    Reroute->Routing.Cpu = IrCpuSetNextWrap(&Reroute->Routing.Mask, Reroute->Routing.Cpu + 1u);
    return RkDeviceRoute(Reroute->Device, &Reroute->Routing) == IRQ_STATUS_SUCCESS;
}

/* (a) edu's MSI moved over every reachable CPU in turn while raises are in
 * flight: a raise sent around a move reaches the old CPU or the new one,
 * never nowhere. At least RK_REROUTE_MOVES moves, and at least one per
 * reachable CPU so that every one of them is a destination once. */
static bool RkpRerouteMsi(char *Detail, size_t Size)
{
    RK_REROUTE Move;
    if (!RkpConnectForReroute(RkDeviceEdu, &Move, Detail, Size))
        return false;
    RK_DEVICE *Edu = Move.Device;
    uint32_t Wanted = Move.Reachable > RK_REROUTE_MOVES ? Move.Reachable : RK_REROUTE_MOVES;
    uint32_t Moves = 0, CpusHit = 0;
    for (uint32_t Index = 0; Index < Wanted; Index++) {
        (void)RkDeviceRaise(Edu);
        Moves += RkpMoveToNextCpu(&Move);
        (void)RkDeviceWaitTotal(Edu, Index + 1u, RK_WAIT_MS);
    }
    uint64_t Handled = RkDeviceTotal(Edu);
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        CpusHit += Edu->Count[Cpu] != 0;
    (void)RkDeviceDisconnect(Edu);
    RkFormatString(Detail, Size, "edu MSI: %u/%u moves over the %u reachable CPUs, raised %lu, handled %lu, on %u CPUs",
                   Moves, Wanted, Move.Reachable, Edu->Raised, Handled, CpusHit);
    return Moves == Wanted && Handled == Edu->Raised && CpusHit == Move.Reachable;
}

/* Whether *Counter passes Before within TimeoutMs (vCPUs of a loaded host
 * can stall for many milliseconds, so no fixed window is used). */
static bool RkpWaitForMore(volatile uint64_t *Counter, uint64_t Before, uint32_t TimeoutMs)
{
    return RkWaitCounter64(Counter, Before + 1u, TimeoutMs);
}

static bool RkpEntryMasked(uint32_t Gsi)
{
    IOAPIC_REDIRECTION_ENTRY Entry;
    return HlIoApicReadEntry(Gsi, &Entry) != IRQ_STATUS_SUCCESS || Entry.Bits.Mask != 0;
}

/* (b) the RTC's edge line moved between CPUs while it fires: only the
 * destination changes, the entry is never masked (a masked edge is lost),
 * and the interrupts follow each move. */
static bool RkpRerouteEdgeLine(char *Detail, size_t Size)
{
    RK_REROUTE Move;
    if (!RkpConnectForReroute(RkDeviceRtc, &Move, Detail, Size))
        return false;
    RK_DEVICE *Rtc = Move.Device;
    uint32_t Gsi = 0;
    (void)IoQueryInterruptLine(Rtc->Connection.Interrupts[0], &Gsi);
    (void)RkDeviceStart(Rtc, RK_RTC_TEST_HZ);
    uint32_t Moves = 0, Followed = 0, MaskedSeen = 0;
    /* Every reachable CPU twice (each move waits for an interrupt there),
     * and at least 16 moves with few CPUs. */
    const uint32_t Rounds = 2u * Move.Reachable > 16u ? 2u * Move.Reachable : 16u;
    for (uint32_t Index = 0; Index < Rounds; Index++) {
        MaskedSeen += RkpEntryMasked(Gsi);
        Moves += RkpMoveToNextCpu(&Move);
        MaskedSeen += RkpEntryMasked(Gsi);
        uint32_t Cpu = Move.Routing.Cpu;
        Followed += RkpWaitForMore(&Rtc->Count[Cpu], Rtc->Count[Cpu], RK_WAIT_MS);
    }
    (void)RkDeviceDisconnect(Rtc);
    RkFormatString(Detail, Size, "RTC edge GSI %u at %u Hz: %u live moves, interrupts followed %u, entry masked "
                   "in %u of %u reads, %lu interrupts",
                   Gsi, RK_RTC_TEST_HZ, Moves, Followed, MaskedSeen, 2u * Rounds, RkDeviceTotal(Rtc));
    return Moves == Rounds && Followed == Rounds && MaskedSeen == 0;
}

static void RkTestLiveReroute(void)
{
    char Msi[160] = "", Edge[192] = "";
    bool MsiPassed = RkpRerouteMsi(Msi, sizeof(Msi));
    bool EdgePassed = RkpRerouteEdgeLine(Edge, sizeof(Edge));
    RkTestReport("live_reroute", MsiPassed && EdgePassed, "%s; %s", Msi, Edge);
}

void RkRunLineTests(void)
{
    RkTestDevices();
    RkTestIsaLinesEachCpu();
    RkTestAffinityLeastLoaded();
    RkTestEduMsiEachCpu();
    RkTestSharedLevelLine();
    RkTestLiveReroute();
}
