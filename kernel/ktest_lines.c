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
#include "pci.h"

#define KI_LINES_PER_CPU 3u        /* interrupts each CPU must take in case 1 */
#define KI_WAIT_MS 500u
#define KI_RTC_TEST_HZ 1024u
#define KI_PIT_TEST_HZ 1000u
#define KI_MSI_PER_CPU 4u
#define KI_REROUTE_MOVES 200u
#define KI_LOAD_VECTORS 6u         /* extra vectors that make a CPU "loaded" */
#define KI_MSI_DESTINATION_SHIFT 12u
#define KI_MSI_DESTINATION_MASK 0xFFu

/* ---- Shared helpers --------------------------------------------------------------- */

static KI_DEVICE_ROUTING KipFixedTo(uint32_t Cpu, bool Movable)
{
    KI_DEVICE_ROUTING Routing = {.Routing = IoDeviceFixed, .Cpu = Cpu, .NotMovable = !Movable};
    IrCpuSetZero(&Routing.Mask);
    return Routing;
}

/* Whether every interrupt the device took since the reset ran on Cpu, with
 * Cpu's LAPIC id, and at least Wanted of them came. */
static bool KipAllOn(const KI_DEVICE *Device, uint32_t Cpu, uint64_t Wanted)
{
    uint64_t Total = KiDeviceTotal(Device);
    return Total >= Wanted && Device->Count[Cpu] == Total && Device->LastApicId == KiPcr[Cpu].ApicId;
}

/* Connects Device to Cpu only (IoTargetCpu: HlPicAllocateSystemInterrupt or
 * an MSI composed for that APIC id), makes it interrupt, and checks where
 * its interrupts ran. */
static bool KipRunOnCpu(KI_DEVICE *Device, uint32_t Cpu, uint32_t Hz, char *Why, size_t WhySize)
{
    KI_DEVICE_ROUTING Routing = KipFixedTo(Cpu, false);
    KiDeviceResetCounts(Device);
    IRQ_STATUS Status = KiDeviceConnect(Device, &Routing);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Why, WhySize, "%s to cpu %u: connect %s", Device->Name, Cpu, IrStatusName(Status));
        return false;
    }
    if (Hz != 0) {
        (void)KiDeviceStart(Device, Hz);
        (void)KiDeviceWaitTotal(Device, KI_LINES_PER_CPU, KI_WAIT_MS);
        (void)KiDeviceStop(Device);
    } else {
        for (uint32_t Raise = 0; Raise < KI_LINES_PER_CPU; Raise++) {
            (void)KiDeviceRaise(Device);
            (void)KiDeviceWaitTotal(Device, Raise + 1u, KI_WAIT_MS);
        }
    }
    /* After the disconnect no ISR runs any more: the counts are final, a
     * last interrupt that was in flight included. */
    (void)KiDeviceDisconnect(Device);
    bool Passed = KipAllOn(Device, Cpu, KI_LINES_PER_CPU);
    if (!Passed)
        KiFormatString(Why, WhySize, "%s to cpu %u (APIC id %u): %lu interrupts, %lu on it, last LAPIC id %u",
                       Device->Name, Cpu, KiPcr[Cpu].ApicId, KiDeviceTotal(Device), Device->Count[Cpu],
                       Device->LastApicId);
    return Passed;
}

/* ---- Case "devices": every line device fires on the default routing ----------------- */

/* One line device of the "devices" case: Hz != 0 runs its periodic source
 * (at least KI_LINES_PER_CPU interrupts), Raises its on-demand interrupt
 * (exactly that many: each raise is one edge and one ISR claim). */
typedef struct _KI_DEVICE_CHECK {
    KI_DEVICE_ID Id;
    uint32_t Hz;
    uint32_t Raises;
} KI_DEVICE_CHECK;

static const KI_DEVICE_CHECK KipDeviceChecks[] = {
    {KiDevicePit, KI_PIT_TEST_HZ, 0},        /* 8254 counter 0, mode 2 */
    {KiDevicePit, 0, KI_LINES_PER_CPU},      /* 8254 counter 0, mode 0 one-shot */
    {KiDeviceRtc, KI_RTC_TEST_HZ, 0},        /* MC146818 periodic (register B PIE) */
    {KiDeviceCom1, 0, KI_LINES_PER_CPU},     /* 16550 THR empty, one shot each */
    {KiDeviceKeyboard, 0, KI_LINES_PER_CPU}, /* 8042 command 0xD2 + byte */
};

/* Connects the device with the default routing (FIXED to CPU 0), makes it
 * interrupt and checks that its ISR ran, on CPU 0's LAPIC only. */
static bool KipCheckDevice(const KI_DEVICE_CHECK *Check, char *Why, size_t WhySize)
{
    KI_DEVICE *Device = KiDeviceGet(Check->Id);
    KiDeviceResetCounts(Device);
    IRQ_STATUS Status = KiDeviceConnect(Device, NULL);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiFormatString(Why, WhySize, "%s: connect %s", Device->Name, IrStatusName(Status));
        return false;
    }
    uint32_t Sent = 0;
    if (Check->Raises == 0) {
        (void)KiDeviceStart(Device, Check->Hz);
        (void)KiDeviceWaitTotal(Device, KI_LINES_PER_CPU, KI_WAIT_MS);
    } else {
        /* The keyboard's IRQ1 needs the 8042's interrupt enable; the
         * others' Start is either nothing (COM1 receive only) or skipped
         * (the PIT raises only while not periodic). */
        if (Check->Id == KiDeviceKeyboard)
            Status = KiDeviceStart(Device, 0);
        for (uint32_t Raise = 0; Raise < Check->Raises && Status == IRQ_STATUS_SUCCESS; Raise++) {
            Status = KiDeviceRaise(Device);
            Sent += Status == IRQ_STATUS_SUCCESS;
            (void)KiDeviceWaitTotal(Device, Raise + 1u, KI_WAIT_MS);
        }
    }
    (void)KiDeviceDisconnect(Device); /* the counts are final after it */
    uint64_t Total = KiDeviceTotal(Device);
    bool Exact = Check->Raises == 0 || (Sent == Check->Raises && Total == Sent);
    bool Passed = Status == IRQ_STATUS_SUCCESS && Exact && KipAllOn(Device, 0, KI_LINES_PER_CPU);
    if (!Passed)
        KiFormatString(Why, WhySize, "%s (%s): %s, %u raised, %lu interrupts, %lu on cpu 0, last LAPIC id %u",
                       Device->Name, Check->Raises ? "raised" : "periodic", IrStatusName(Status), Sent, Total,
                       Device->Count[0], Device->LastApicId);
    return Passed;
}

static void KiTestDevices(void)
{
    const uint32_t Checks = sizeof(KipDeviceChecks) / sizeof(KipDeviceChecks[0]);
    char Why[160] = "";
    uint32_t Passed = 0;
    for (uint32_t Index = 0; Index < Checks; Index++) {
        char Failure[160] = "";
        if (KipCheckDevice(&KipDeviceChecks[Index], Failure, sizeof(Failure)))
            Passed++;
        else if (Why[0] == 0)
            KiFormatString(Why, sizeof(Why), "%s", Failure);
    }
    KiTestReport("devices", Passed == Checks,
                 "%u/%u line sources on the default routing (FIXED to cpu 0) ran their ISR on APIC id %u only: "
                 "PIT periodic and one-shot, RTC periodic, COM1 THR empty, keyboard via 8042 0xD2; each of %u "
                 "raises per on-demand source one interrupt%s%s",
                 Passed, Checks, KiPcr[0].ApicId, KI_LINES_PER_CPU, Passed == Checks ? "" : "; ", Why);
}

/* ---- Case 1: each ISA line to each CPU in turn ------------------------------------------ */

static void KiTestIsaLinesEachCpu(void)
{
    static const struct {
        KI_DEVICE_ID Id;
        uint32_t Hz; /* 0: raised on demand */
    } Lines[] = {{KiDeviceRtc, KI_RTC_TEST_HZ}, {KiDevicePit, KI_PIT_TEST_HZ}, {KiDeviceCom1, 0}};
    char Why[160] = "";
    uint32_t Routed = 0;
    bool Passed = true;
    for (uint32_t Line = 0; Line < sizeof(Lines) / sizeof(Lines[0]) && Passed; Line++) {
        KI_DEVICE *Device = KiDeviceGet(Lines[Line].Id);
        for (uint32_t Cpu = 0; Cpu < KiProcessorCount && Passed; Cpu++) {
            Passed = KipRunOnCpu(Device, Cpu, Lines[Line].Hz, Why, sizeof(Why));
            Routed += Passed;
        }
    }
    KiTestReport("isa_lines_each_cpu", Passed,
                 "RTC (IRQ8), PIT (IRQ0 -> GSI 2), COM1 (IRQ4) each routed to each of %u CPUs with a physical "
                 "destination: %u/%u routings took >= %u interrupts, all on the target's LAPIC id%s%s",
                 KiProcessorCount, Routed, 3u * KiProcessorCount, KI_LINES_PER_CPU, Passed ? "" : "; ", Why);
}

/* ---- Case 2: affinity, least-loaded CPU --------------------------------------------------- */

/* Takes Count free device vectors on Cpu (recorded in Taken for release). */
static uint32_t KipLoadCpu(uint32_t Cpu, uint32_t Count, uint8_t *Taken)
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

static void KipUnloadCpu(uint32_t Cpu, const uint8_t *Taken, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++)
        (void)KeFreeVector(Cpu, Taken[Index]);
}

/* Connects the RTC with an affinity over every CPU and says which CPU took
 * its interrupts (IR_CPU_NONE: not one single CPU). */
static uint32_t KipAffinityChoice(KI_DEVICE *Rtc, uint8_t *Vector)
{
    KI_DEVICE_ROUTING Routing = {.Routing = IoDeviceAffinity};
    IrCpuSetZero(&Routing.Mask);
    KiDeviceResetCounts(Rtc);
    if (KiDeviceConnect(Rtc, &Routing) != IRQ_STATUS_SUCCESS)
        return IR_CPU_NONE;
    *Vector = KeGetInterruptVector(Rtc->Connection.Interrupts[0]);
    (void)KiDeviceStart(Rtc, KI_RTC_TEST_HZ);
    (void)KiDeviceWaitTotal(Rtc, KI_LINES_PER_CPU, KI_WAIT_MS);
    (void)KiDeviceDisconnect(Rtc);
    KiStallMicroseconds(2000);
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (KipAllOn(Rtc, Cpu, KI_LINES_PER_CPU))
            return Cpu;
    }
    return IR_CPU_NONE;
}

static void KiTestAffinityLeastLoaded(void)
{
    KI_DEVICE *Rtc = KiDeviceGet(KiDeviceRtc);
    uint32_t Last = KiProcessorCount - 1u;
    uint8_t Taken[KI_MAX_CPUS][KI_LOAD_VECTORS];
    uint32_t Loaded[KI_MAX_CPUS] = {0};
    /* Every CPU but the last carries extra vectors: the last is the least loaded. */
    for (uint32_t Cpu = 0; Cpu < Last; Cpu++)
        Loaded[Cpu] = KipLoadCpu(Cpu, KI_LOAD_VECTORS, Taken[Cpu]);
    uint8_t FirstVector = 0, SecondVector = 0;
    uint32_t First = KipAffinityChoice(Rtc, &FirstVector);
    /* Now load the last one most: the choice must move to another CPU. */
    Loaded[Last] = KipLoadCpu(Last, KI_LOAD_VECTORS, Taken[Last]);
    KipUnloadCpu(0, Taken[0], Loaded[0]);
    Loaded[0] = 0;
    uint32_t Second = KipAffinityChoice(Rtc, &SecondVector);
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        KipUnloadCpu(Cpu, Taken[Cpu], Loaded[Cpu]);
    bool Passed = First == Last && Second == 0 && FirstVector != 0 && SecondVector != 0;
    KiTestReport("affinity_least_loaded", Passed,
                 "RTC with an affinity over all %u CPUs: with cpus 0-%u loaded by %u vectors it went to cpu %u "
                 "(vector 0x%x, expected cpu %u); with cpu %u loaded and cpu 0 freed it went to cpu %u (vector "
                 "0x%x, expected 0); vectors from the allocator",
                 KiProcessorCount, Last - 1u, KI_LOAD_VECTORS, First, FirstVector, Last, Last, Second,
                 SecondVector);
}

/* ---- Case 6: edu's MSI to each CPU ----------------------------------------------------------- */

static void KiTestEduMsiEachCpu(void)
{
    KI_DEVICE *Edu = KiDeviceGet(KiDeviceEdu);
    if (!Edu->Present) {
        KiTestReport("edu_msi_each_cpu", false, "no edu device (QEMU needs -device edu)");
        return;
    }
    char Why[160] = "";
    bool Passed = true;
    uint32_t AddressesRight = 0;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount && Passed; Cpu++) {
        KI_DEVICE_ROUTING Routing = KipFixedTo(Cpu, false);
        KiDeviceResetCounts(Edu);
        IRQ_STATUS Status = KiDeviceConnect(Edu, &Routing);
        if (Status != IRQ_STATUS_SUCCESS) {
            KiFormatString(Why, sizeof(Why), "connect to cpu %u: %s", Cpu, IrStatusName(Status));
            Passed = false;
            break;
        }
        uint64_t Address = Edu->Connection.Messages[0].Address;
        AddressesRight += ((Address >> KI_MSI_DESTINATION_SHIFT) & KI_MSI_DESTINATION_MASK) == KiPcr[Cpu].ApicId;
        for (uint32_t Raise = 0; Raise < KI_MSI_PER_CPU; Raise++) {
            (void)KiDeviceRaise(Edu);
            (void)KiDeviceWaitTotal(Edu, Raise + 1u, KI_WAIT_MS);
        }
        Passed = KipAllOn(Edu, Cpu, KI_MSI_PER_CPU) && KiDeviceTotal(Edu) == KI_MSI_PER_CPU;
        if (!Passed)
            KiFormatString(Why, sizeof(Why), "cpu %u: %lu of %u interrupts there, last LAPIC id %u", Cpu,
                           Edu->Count[Cpu], KI_MSI_PER_CPU, Edu->LastApicId);
        (void)KiDeviceDisconnect(Edu);
    }
    Passed = Passed && AddressesRight == KiProcessorCount;
    KiTestReport("edu_msi_each_cpu", Passed,
                 "edu MSI composed by Hl for each of %u CPUs (destination field = APIC id in %u), %u raises each "
                 "handled exactly once on that CPU's LAPIC%s%s",
                 KiProcessorCount, AddressesRight, KI_MSI_PER_CPU, Passed ? "" : "; ", Why);
}

/* ---- Case 9: a shared level-triggered line ------------------------------------------------------ */

/* The other sharer is a device the test makes "want service" with a flag:
 * its ISR claims once per request. It is connected first, so it runs first
 * in the chain (level chains stop at the first claim); the line stays
 * asserted for edu until edu's own ISR acknowledges it, so after the
 * sharer's claim the EOI brings the interrupt back, for edu. */
typedef struct _KI_SHARER {
    volatile uint32_t Requests;
    volatile uint32_t Calls;
    volatile uint32_t Claims;
} KI_SHARER;

static bool KipSharerIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    KI_SHARER *Sharer = Context;
    Sharer->Calls++;
    if (Sharer->Requests == 0)
        return false;
    Sharer->Requests--;
    Sharer->Claims++;
    return true;
}

static IRQ_STATUS KipConnectSharer(KINTERRUPT **Object, KI_SHARER *Sharer, uint32_t IsaIrq, uint32_t Cpu)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = Object, .ServiceRoutine = KipSharerIsr, .ServiceContext = Sharer,
                      .Line = {.Bus = HlBusIsa, .Number = IsaIrq}, .Irql = KE_IRQL_ANY, .ShareVector = true,
                      .Target = {.Kind = IoTargetCpu, .Cpu = Cpu}},
    };
    return IoConnectInterruptEx(&Parameters);
}

static bool KipWaitCount(volatile uint32_t *Counter, uint32_t Wanted)
{
    for (uint32_t Waited = 0; Waited < KI_WAIT_MS * 10u; Waited++) {
        if (*Counter >= Wanted)
            return true;
        KiStallMicroseconds(100);
    }
    return *Counter >= Wanted;
}

static void KiTestSharedLevelLine(void)
{
    KI_DEVICE *Edu = KiDeviceGet(KiDeviceEdu);
    uint32_t Cpu = KiProcessorCount > 1 ? 1u : 0u;
    static KI_SHARER Sharer;
    KINTERRUPT *Object = NULL;
    Sharer = (KI_SHARER){0};
    /* The sharer connects first, so it is first in the chain. */
    KI_PCI_FUNCTION Function;
    uint32_t IsaIrq = KiEduPciFunction(&Function) ? KiPciInterruptLine(&Function) : 0;
    IRQ_STATUS SharerStatus = IsaIrq != 0 ? KipConnectSharer(&Object, &Sharer, IsaIrq, Cpu) : IRQ_STATUS_NOT_SUPPORTED;
    KiEduUseLegacyInterrupt(true);
    KI_DEVICE_ROUTING Routing = KipFixedTo(Cpu, false);
    KiDeviceResetCounts(Edu);
    IRQ_STATUS EduStatus = SharerStatus == IRQ_STATUS_SUCCESS ? KiDeviceConnect(Edu, &Routing) : SharerStatus;
    KiEduUseLegacyInterrupt(false);
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
        (void)KiDeviceRaise(Edu);
        (void)KiDeviceWaitTotal(Edu, Raise + 1u, KI_WAIT_MS);
    }
    /* Phase 2: both want service at once: the sharer claims first, the line
     * stays high for edu, the EOI re-delivers it and edu claims. */
    for (uint32_t Request = 0; Connected && Request < SharerRequests; Request++) {
        Sharer.Requests = 1;
        (void)KiDeviceRaise(Edu);
        (void)KipWaitCount(&Sharer.Claims, Request + 1u);
        (void)KiDeviceWaitTotal(Edu, EduRaises + Request + 1u, KI_WAIT_MS);
    }
    KiStallMicroseconds(5000);
    (void)KeQueryVectorStatistics(Cpu, Vector, &After);
    uint64_t Dispatched = After.Dispatched - Before.Dispatched, Unclaimed = After.Unclaimed - Before.Unclaimed;
    uint64_t EduTotal = KiDeviceTotal(Edu);
    if (Object != NULL)
        (void)IoDisconnectInterrupt(Object);
    (void)KiDeviceDisconnect(Edu);

    /* Every dispatch was claimed by exactly one ISR, and each ISR claimed
     * exactly its own interrupts. */
    bool Passed = Connected && SameVector && EduTotal == EduRaises + SharerRequests &&
                  Sharer.Claims == SharerRequests && Unclaimed == 0 && Dispatched == EduTotal + Sharer.Claims &&
                  Edu->Count[Cpu] == EduTotal;
    KiTestReport("shared_level_line", Passed,
                 "edu INTA# on GSI %u (level, vector 0x%x on cpu %u) shared with a second ISR (connect %s/%s): edu "
                 "claimed %lu of %u, the sharer %u of %u (called %u times), %lu dispatches, %lu unclaimed",
                 Gsi, Vector, Cpu, IrStatusName(EduStatus), IrStatusName(SharerStatus), EduTotal,
                 EduRaises + SharerRequests, Sharer.Claims, SharerRequests, Sharer.Calls, Dispatched, Unclaimed);
}

/* ---- Case 10: live re-routing while the device fires ---------------------------------------------- */

/* (a) edu's MSI moved over every CPU while raises are in flight: a raise
 * sent around a move reaches the old CPU or the new one, never nowhere. */
static bool KipRerouteMsi(char *Detail, size_t Size)
{
    KI_DEVICE *Edu = KiDeviceGet(KiDeviceEdu);
    KI_DEVICE_ROUTING Routing = KipFixedTo(0, true);
    KiDeviceResetCounts(Edu);
    if (KiDeviceConnect(Edu, &Routing) != IRQ_STATUS_SUCCESS) {
        KiFormatString(Detail, Size, "edu connect failed");
        return false;
    }
    uint32_t Moves = 0, CpusHit = 0;
    for (uint32_t Index = 0; Index < KI_REROUTE_MOVES; Index++) {
        (void)KiDeviceRaise(Edu);
        Routing.Cpu = (Index + 1u) % KiProcessorCount;
        Moves += KiDeviceRoute(Edu, &Routing) == IRQ_STATUS_SUCCESS;
        (void)KiDeviceWaitTotal(Edu, Index + 1u, KI_WAIT_MS);
    }
    KiStallMicroseconds(5000);
    uint64_t Handled = KiDeviceTotal(Edu);
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        CpusHit += Edu->Count[Cpu] != 0;
    (void)KiDeviceDisconnect(Edu);
    KiFormatString(Detail, Size, "edu MSI: %u moves, raised %lu, handled %lu, on %u CPUs", Moves, Edu->Raised,
                   Handled, CpusHit);
    return Moves == KI_REROUTE_MOVES && Handled == Edu->Raised && CpusHit == KiProcessorCount;
}

/* Whether *Counter passes Before within TimeoutMs (vCPUs of a loaded host
 * can stall for many milliseconds, so no fixed window is used). */
static bool KipWaitForMore(volatile uint64_t *Counter, uint64_t Before, uint32_t TimeoutMs)
{
    for (uint32_t Waited = 0; Waited < TimeoutMs * 10u; Waited++) {
        if (*Counter > Before)
            return true;
        KiStallMicroseconds(100);
    }
    return *Counter > Before;
}

static bool KipEntryMasked(uint32_t Gsi)
{
    IOAPIC_REDIRECTION_ENTRY Entry;
    return HlIoApicReadEntry(Gsi, &Entry) != IRQ_STATUS_SUCCESS || Entry.Bits.Mask != 0;
}

/* (b) the RTC's edge line moved between CPUs while it fires: only the
 * destination changes, the entry is never masked (a masked edge is lost),
 * and the interrupts follow each move. */
static bool KipRerouteEdgeLine(char *Detail, size_t Size)
{
    KI_DEVICE *Rtc = KiDeviceGet(KiDeviceRtc);
    KI_DEVICE_ROUTING Routing = KipFixedTo(0, true);
    KiDeviceResetCounts(Rtc);
    if (KiDeviceConnect(Rtc, &Routing) != IRQ_STATUS_SUCCESS) {
        KiFormatString(Detail, Size, "rtc connect failed");
        return false;
    }
    uint32_t Gsi = 0;
    (void)IoQueryInterruptLine(Rtc->Connection.Interrupts[0], &Gsi);
    (void)KiDeviceStart(Rtc, KI_RTC_TEST_HZ);
    uint32_t Moves = 0, Followed = 0, MaskedSeen = 0;
    const uint32_t Rounds = 4u * KiProcessorCount;
    for (uint32_t Index = 0; Index < Rounds; Index++) {
        uint32_t Cpu = (Index + 1u) % KiProcessorCount;
        Routing.Cpu = Cpu;
        MaskedSeen += KipEntryMasked(Gsi);
        Moves += KiDeviceRoute(Rtc, &Routing) == IRQ_STATUS_SUCCESS;
        MaskedSeen += KipEntryMasked(Gsi);
        Followed += KipWaitForMore(&Rtc->Count[Cpu], Rtc->Count[Cpu], KI_WAIT_MS);
    }
    (void)KiDeviceDisconnect(Rtc);
    KiFormatString(Detail, Size, "RTC edge GSI %u at %u Hz: %u live moves, interrupts followed %u, entry masked "
                   "in %u of %u reads, %lu interrupts",
                   Gsi, KI_RTC_TEST_HZ, Moves, Followed, MaskedSeen, 2u * Rounds, KiDeviceTotal(Rtc));
    return Moves == Rounds && Followed == Rounds && MaskedSeen == 0;
}

static void KiTestLiveReroute(void)
{
    char Msi[160] = "", Edge[192] = "";
    bool MsiPassed = KipRerouteMsi(Msi, sizeof(Msi));
    bool EdgePassed = KipRerouteEdgeLine(Edge, sizeof(Edge));
    KiTestReport("live_reroute", MsiPassed && EdgePassed, "%s; %s", Msi, Edge);
}

void KiRunLineTests(void)
{
    KiTestDevices();
    KiTestIsaLinesEachCpu();
    KiTestAffinityLeastLoaded();
    KiTestEduMsiEachCpu();
    KiTestSharedLevelLine();
    KiTestLiveReroute();
}
