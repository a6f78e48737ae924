/* SPDX-License-Identifier: MIT */
/*
 * KTEST "igb_msix": the Intel 82576's MSI-X vectors (QEMU -device igb,
 * drv_igb.c), one IoConnectInterruptEx message per table entry, Io
 * programming each entry (IO_CONNECT_MESSAGE_BASED_PARAMETERS.MsixTable).
 *
 *  1. As many vectors as fit (up to 25, at most one per CPU a device
 *     reaches: every CPU when igb's messages are remapped), each movable
 *     over those CPUs and started on a CPU of its own, spread evenly over
 *     the set (so that on a 288-CPU machine with remapping the last
 *     vectors land on APIC ids above 254). Each is raised through EICS and
 *     must run exactly once, on its CPU (the LAPIC id its ISR reads).
 *  2. Each is moved live (IoSetInterruptTarget: its MSI-X entry rewritten,
 *     masked around the rewrite; or, remapped, its remapping entry) to
 *     another CPU of its own, raised again, and must run once more, there.
 *  3. One entry is masked (HlMsixSetMask), its vector raised: nothing may
 *     run and its PBA bit must be set; on unmask the held message must run
 *     exactly once and the PBA bit clear (PCI 3.0 6.8.2.9, 6.8.2.10).
 * Every interrupt is raised on its own and waited for, so where it must run
 * is known exactly. SKIP when igb is absent.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "device.h"
#include "driver.h"
#include "kernel.h"
#include "ktest.h"

#define RK_MSIX_MAX_VECTORS 25u
#define RK_MSIX_WAIT_US 500000u
#define RK_MSIX_QUIET_US 20000u /* how long a masked vector must stay silent */
#define RK_MSIX_WHY 240u

typedef struct _RK_MSIX_VECTOR {
    uint32_t Entry;
    KINTERRUPT *Interrupt;
    uint32_t Cpu;                  /* where it must run now */
    volatile uint64_t Calls;
    volatile uint32_t LastCpu;
    volatile uint32_t LastApicId;
} RK_MSIX_VECTOR;

typedef struct _RK_MSIX_RUN {
    HL_MSIX_TABLE Table;
    uint16_t Requester;
    bool Remapped;
    IR_CPU_SET Set;
    uint32_t SetCount;
    uint32_t Count;
    uint32_t HighestApicId;
    RK_MSIX_VECTOR Vectors[RK_MSIX_MAX_VECTORS];
    char Why[RK_MSIX_WHY];
} RK_MSIX_RUN;

/* The CPU and LAPIC id come from the CPU that runs it; the count last
 * (release), so a waiter that sees it sees them. */
static bool RkpMsixIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    RK_MSIX_VECTOR *Vector = Context;
    Vector->LastCpu = PlatCurrentCpu();
    Vector->LastApicId = HlLapicReadId();
    __atomic_add_fetch(&Vector->Calls, 1, __ATOMIC_RELEASE);
    return true;
}

/* The online CPUs igb's messages reach: all of them through a remapping
 * unit, else those with an APIC id below 255. */
static void RkpMsixCpus(RK_MSIX_RUN *Run)
{
    IrCpuSetZero(&Run->Set);
    Run->SetCount = 0;
    for (uint32_t Cpu = 0; Cpu < KeQueryProcessorCount(); Cpu++) {
        if (KeIsProcessorOnline(Cpu) && (Run->Remapped || HlIsProcessorReachableByDevices(Cpu))) {
            IrCpuSetAdd(&Run->Set, Cpu);
            Run->SetCount++;
        }
    }
}

/* Vector k's CPU: the set's members spread evenly, shifted by Shift of a
 * stride (0 at connect, half a stride for the move): different CPUs for
 * different vectors, and a move always goes elsewhere. */
static uint32_t RkpMsixCpuOf(const RK_MSIX_RUN *Run, uint32_t Vector, bool Moved)
{
    uint32_t Position = Vector * Run->SetCount / Run->Count;
    if (Moved) {
        uint32_t Half = Run->SetCount / (2u * Run->Count);
        Position += Half != 0 ? Half : 1u;
    }
    return IrRouteSpreadCpu(&Run->Set, Position);
}

static IRQ_STATUS RkpMsixConnect(RK_MSIX_RUN *Run, RK_MSIX_VECTOR *Vector)
{
    HL_MSI_MESSAGE Message;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_MESSAGE_BASED,
        .MessageBased = {.InterruptObject = &Vector->Interrupt, .ServiceRoutine = RkpMsixIsr,
                         .ServiceContext = Vector, .Irql = KE_IRQL_ANY,
                         .Target = {.Kind = IoTargetRoutable, .Cpu = Vector->Cpu, .Mask = &Run->Set},
                         .Message = &Message, .MsixTable = &Run->Table, .MsixEntry = Vector->Entry,
                         .HasRequesterId = true, .RequesterId = Run->Requester},
    };
    return IoConnectInterruptEx(&Parameters);
}

static bool RkpMsixWaitCalls(const RK_MSIX_VECTOR *Vector, uint64_t Calls, uint32_t TimeoutUs)
{
    uint64_t Deadline = RkQueryMicroseconds() + TimeoutUs;
    while (__atomic_load_n(&Vector->Calls, __ATOMIC_ACQUIRE) < Calls) {
        if (RkQueryMicroseconds() > Deadline)
            return __atomic_load_n(&Vector->Calls, __ATOMIC_ACQUIRE) >= Calls;
        RkStallMicroseconds(20);
    }
    return true;
}

/* Raises the vector and checks it ran once more, exactly, on its CPU. */
static bool RkpMsixRaiseExpect(RK_MSIX_RUN *Run, RK_MSIX_VECTOR *Vector, const char *Phase)
{
    uint64_t Before = __atomic_load_n(&Vector->Calls, __ATOMIC_ACQUIRE);
    IRQ_STATUS Status = RkIgbRaiseVector(Vector->Entry);
    bool Arrived = Status == IRQ_STATUS_SUCCESS && RkpMsixWaitCalls(Vector, Before + 1u, RK_MSIX_WAIT_US);
    RkStallMicroseconds(50); /* a second delivery would show by now */
    uint64_t Calls = __atomic_load_n(&Vector->Calls, __ATOMIC_ACQUIRE);
    uint32_t ApicId = 0;
    (void)HlGetProcessorApicId(Vector->Cpu, &ApicId);
    if (Arrived && Calls == Before + 1u && Vector->LastCpu == Vector->Cpu && Vector->LastApicId == ApicId) {
        if (ApicId > Run->HighestApicId)
            Run->HighestApicId = ApicId;
        return true;
    }
    RkFormatString(Run->Why, sizeof(Run->Why),
                   "%s: vector %u raised (%s): ran %lu time(s), last on CPU %u (APIC id 0x%x), expected once on "
                   "CPU %u (APIC id 0x%x)",
                   Phase, Vector->Entry, IrStatusName(Status), Calls - Before, Vector->LastCpu, Vector->LastApicId,
                   Vector->Cpu, ApicId);
    return false;
}

static bool RkpMsixSpread(RK_MSIX_RUN *Run)
{
    for (uint32_t Index = 0; Index < Run->Count; Index++) {
        if (!RkpMsixRaiseExpect(Run, &Run->Vectors[Index], "spread"))
            return false;
    }
    return true;
}

static bool RkpMsixMoveEach(RK_MSIX_RUN *Run)
{
    for (uint32_t Index = 0; Index < Run->Count; Index++) {
        RK_MSIX_VECTOR *Vector = &Run->Vectors[Index];
        uint32_t Cpu = RkpMsixCpuOf(Run, Index, true);
        IRQ_STATUS Status = IoSetInterruptTarget(Vector->Interrupt, Cpu);
        if (Status != IRQ_STATUS_SUCCESS) {
            RkFormatString(Run->Why, sizeof(Run->Why), "move of vector %u to CPU %u: %s", Index, Cpu,
                           IrStatusName(Status));
            return false;
        }
        Vector->Cpu = Cpu;
        if (!RkpMsixRaiseExpect(Run, Vector, "move"))
            return false;
    }
    return true;
}

/* One vector moved live to every CPU of the set in turn (through the
 * remapping unit: every CPU, the APIC ids above 254 included), raised once
 * on each and taken exactly there. */
static bool RkpMsixEveryCpu(RK_MSIX_RUN *Run, RK_MSIX_VECTOR *Vector)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Run->Set) {
        IRQ_STATUS Status = IoSetInterruptTarget(Vector->Interrupt, Cpu);
        if (Status != IRQ_STATUS_SUCCESS) {
            RkFormatString(Run->Why, sizeof(Run->Why), "every CPU: move of vector %u to CPU %u: %s", Vector->Entry,
                           Cpu, IrStatusName(Status));
            return false;
        }
        Vector->Cpu = Cpu;
        if (!RkpMsixRaiseExpect(Run, Vector, "every CPU"))
            return false;
    }
    return true;
}

/* Masked: nothing runs and the PBA holds it; unmasked: it runs once. */
static bool RkpMsixMaskedHeld(RK_MSIX_RUN *Run, RK_MSIX_VECTOR *Vector)
{
    uint64_t Before = __atomic_load_n(&Vector->Calls, __ATOMIC_ACQUIRE);
    bool PendingMasked = false, PendingAfter = true;
    IRQ_STATUS Status = HlMsixSetMask(&Run->Table, Vector->Entry, true);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = RkIgbRaiseVector(Vector->Entry);
    RkStallMicroseconds(RK_MSIX_QUIET_US);
    uint64_t WhileMasked = __atomic_load_n(&Vector->Calls, __ATOMIC_ACQUIRE) - Before;
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlMsixIsPending(&Run->Table, Vector->Entry, &PendingMasked);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlMsixSetMask(&Run->Table, Vector->Entry, false);
    bool Arrived = Status == IRQ_STATUS_SUCCESS && RkpMsixWaitCalls(Vector, Before + 1u, RK_MSIX_WAIT_US);
    RkStallMicroseconds(RK_MSIX_QUIET_US);
    uint64_t After = __atomic_load_n(&Vector->Calls, __ATOMIC_ACQUIRE) - Before;
    (void)HlMsixIsPending(&Run->Table, Vector->Entry, &PendingAfter);
    bool Passed = Status == IRQ_STATUS_SUCCESS && WhileMasked == 0 && PendingMasked && Arrived && After == 1u &&
                  !PendingAfter && Vector->LastCpu == Vector->Cpu;
    if (!Passed)
        RkFormatString(Run->Why, sizeof(Run->Why),
                       "masked vector %u (%s): ran %lu time(s) while masked, PBA bit %u; after unmask ran %lu "
                       "time(s) on CPU %u (expected 1 on CPU %u), PBA bit %u",
                       Vector->Entry, IrStatusName(Status), WhileMasked, PendingMasked, After, Vector->LastCpu,
                       Vector->Cpu, PendingAfter);
    return Passed;
}

static IRQ_STATUS RkpMsixConnectAll(RK_MSIX_RUN *Run, uint32_t *Connected)
{
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    for (*Connected = 0; *Connected < Run->Count && Status == IRQ_STATUS_SUCCESS; (*Connected)++) {
        RK_MSIX_VECTOR *Vector = &Run->Vectors[*Connected];
        *Vector = (RK_MSIX_VECTOR){.Entry = *Connected, .Cpu = RkpMsixCpuOf(Run, *Connected, false)};
        Status = RkpMsixConnect(Run, Vector);
        if (Status != IRQ_STATUS_SUCCESS) {
            RkFormatString(Run->Why, sizeof(Run->Why), "connect of vector %u to CPU %u: %s", *Connected,
                           Vector->Cpu, IrStatusName(Status));
            break;
        }
    }
    return Status;
}

static bool RkpMsixRun(RK_MSIX_RUN *Run)
{
    uint32_t Connected = 0;
    IRQ_STATUS Status = RkpMsixConnectAll(Run, &Connected);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = RkIgbEnableMsix(true);
    bool Passed = Status == IRQ_STATUS_SUCCESS && RkpMsixSpread(Run) && RkpMsixMoveEach(Run) &&
                  RkpMsixEveryCpu(Run, &Run->Vectors[0]) && RkpMsixMaskedHeld(Run, &Run->Vectors[Run->Count / 2u]);
    if (Status != IRQ_STATUS_SUCCESS && Run->Why[0] == 0)
        RkFormatString(Run->Why, sizeof(Run->Why), "enabling MSI-X: %s", IrStatusName(Status));
    (void)RkIgbEnableMsix(false);
    for (uint32_t Index = Connected; Index-- > 0;)
        (void)IoDisconnectInterrupt(Run->Vectors[Index].Interrupt);
    return Passed;
}

void RkTestIgbMsix(void)
{
    static RK_MSIX_RUN Run;
    Run = (RK_MSIX_RUN){0};
    RK_DEVICE *Igb = RkDeviceGet(RkDeviceIgb);
    if (Igb == NULL || !Igb->Present || !RkIgbMsix(&Run.Table, &Run.Requester)) {
        RkTestSkip("igb_msix", "igb is absent (QEMU needs -device igb)");
        return;
    }
    if (Igb->Connected) {
        RkTestReport("igb_msix", false, "igb is still connected through the device table");
        return;
    }
    Run.Remapped = HlMsiIsRemapped(Run.Requester);
    RkpMsixCpus(&Run);
    Run.Count = RkIgbVectorCount();
    if (Run.Count > RK_MSIX_MAX_VECTORS)
        Run.Count = RK_MSIX_MAX_VECTORS;
    if (Run.Count > Run.SetCount)
        Run.Count = Run.SetCount;
    if (Run.Count < 2u) {
        RkTestReport("igb_msix", false, "%u vector(s) over %u CPU(s): nothing to spread", Run.Count, Run.SetCount);
        return;
    }
    bool Passed = RkpMsixRun(&Run);
    if (Passed)
        RkTestReport("igb_msix", true,
                     "%u MSI-X vectors (%s) on %u different CPUs of %u, each once; each moved live and taken "
                     "once there; vector %u moved to each of the %u CPUs in turn, taken once on each (highest "
                     "APIC id 0x%x); vector %u masked: held in the PBA, delivered once on unmask",
                     Run.Count, Run.Remapped ? "remapped" : "compatibility format", Run.Count, Run.SetCount,
                     Run.Vectors[0].Entry, Run.SetCount, Run.HighestApicId, Run.Count / 2u);
    else
        RkTestReport("igb_msix", false, "%s", Run.Why);
}
