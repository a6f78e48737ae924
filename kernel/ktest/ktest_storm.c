/* SPDX-License-Identifier: MIT */
/*
 * KTEST storm_level_line: storm protection on QEMU (docs/storms.md). edu's
 * INTA# is a level that stays asserted while its interrupt status is
 * non-zero (kernel/drivers/drv_edu.c): raised once and never acknowledged,
 * with an ISR that does not claim it, it comes back after every EOI. The
 * library must mask it within one storm window (KeQueryStormThresholds),
 * the CPU it was sent to must go on answering other work (an IPI), and once
 * the ISR acknowledges the device again, the poll must give the line back
 * and interrupts flow.
 *
 * Nothing here is timed but with generous deadlines: the storm's length is
 * a count of dispatches, whatever the host's speed.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "driver.h"
#include "kernel.h"
#include "ktest.h"
#include "ktest_policy.h"
#include "pci.h"

#define RK_EDU_INTERRUPT_STATUS 0x24u
#define RK_EDU_INTERRUPT_RAISE 0x60u
#define RK_EDU_INTERRUPT_ACK 0x64u
/* A window of 100,000 dispatches under TCG on a loaded host: seconds, not
 * minutes. */
#define RK_STORM_WAIT_MS 60000u

typedef struct _RK_STORM_DEVICE {
    uintptr_t Base;           /* edu BAR0 */
    volatile uint64_t Calls;
    volatile uint32_t Claims;
    volatile bool Serve;      /* false: the driver "is gone", nothing claims */
    KINTERRUPT *Object;
} RK_STORM_DEVICE;

static volatile uint32_t *RkpEduRegister(const RK_STORM_DEVICE *Device, uint32_t Offset)
{
    return RkPhysical(Device->Base + Offset);
}

static bool RkpStormIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    RK_STORM_DEVICE *Device = Context;
    __atomic_add_fetch(&Device->Calls, 1, __ATOMIC_RELAXED);
    if (!Device->Serve)
        return false;
    uint32_t Status = *RkpEduRegister(Device, RK_EDU_INTERRUPT_STATUS);
    if (Status == 0)
        return false;
    *RkpEduRegister(Device, RK_EDU_INTERRUPT_ACK) = Status;
    __atomic_add_fetch(&Device->Claims, 1, __ATOMIC_RELEASE);
    return true;
}

static bool RkpStormMasked(void *Context)
{
    const RK_STORM_DEVICE *Device = Context;
    IO_INTERRUPT_STORM Storm;
    return IoQueryInterruptStorm(Device->Object, &Storm) == IRQ_STATUS_SUCCESS && Storm.Masked;
}

static bool RkpEntryMaskBit(uint32_t Gsi)
{
    IOAPIC_REDIRECTION_ENTRY Entry;
    return HlIoApicReadEntry(Gsi, &Entry) == IRQ_STATUS_SUCCESS && Entry.Bits.Mask != 0;
}

void RkTestStorm(void)
{
    static RK_STORM_DEVICE Device;
    Device = (RK_STORM_DEVICE){0};
    RK_PCI_FUNCTION Function;
    if (!RkEduPciFunction(&Function)) {
        RkTestSkip("storm_level_line", "no edu device");
        return;
    }
    uint32_t Cpu = RkProcessorCount > 1 ? 1u : 0u;
    uint32_t IsaIrq = RkPciInterruptLine(&Function);
    Device.Base = (uintptr_t)RkPciMemoryBar(&Function, 0);
    uint32_t Window = 0, Threshold = 0;
    (void)KeQueryStormThresholds(&Window, &Threshold);
    (void)RkPciDisableMsi(&Function);
    RkPciEnableDevice(&Function, false); /* INTA# on */
    *RkpEduRegister(&Device, RK_EDU_INTERRUPT_ACK) = *RkpEduRegister(&Device, RK_EDU_INTERRUPT_STATUS);

    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = &Device.Object, .ServiceRoutine = RkpStormIsr, .ServiceContext = &Device,
                      .Line = {.Bus = HlBusIsa, .Number = IsaIrq}, .Irql = KE_IRQL_ANY, .ShareVector = true,
                      .Target = {.Kind = IoTargetCpu, .Cpu = Cpu}},
    };
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    uint32_t Gsi = 0;
    uint8_t Vector = 0;
    KE_VECTOR_STATISTICS Before = {0}, After = {0}, Later = {0};
    bool Masked = false, OtherWork = false, EntryMasked = false, Unmasked = false, Flowing = false;
    uint32_t GivenBack = 0;
    IO_INTERRUPT_STORM Storm = {0};
    if (Status == IRQ_STATUS_SUCCESS) {
        (void)IoQueryInterruptLine(Device.Object, &Gsi);
        Vector = KeGetInterruptVector(Device.Object);
        /* Two polls move the storm clock over a whole period: whatever
         * earlier cases left unclaimed on this vector is forgotten, and the
         * storm's window begins with its first dispatch. */
        (void)IoPollStormedInterrupts();
        (void)IoPollStormedInterrupts();
        (void)KeQueryVectorStatistics(Cpu, Vector, &Before);

        /* The storm: raised once, never acknowledged, never claimed. */
        *RkpEduRegister(&Device, RK_EDU_INTERRUPT_RAISE) = 1u;
        Masked = RkWaitFor(RkpStormMasked, &Device, RK_STORM_WAIT_MS);
        /* The CPU of the storm answers a generic call: it left the storm
         * (and its last dispatch has returned, so the counts are final). */
        OtherWork = RkWaitDispatchDone(Cpu);
        (void)KeQueryVectorStatistics(Cpu, Vector, &After);
        EntryMasked = RkpEntryMaskBit(Gsi);
        (void)IoQueryInterruptStorm(Device.Object, &Storm);
        /* Still asserted and masked: no dispatch comes in meanwhile. */
        RkStallMicroseconds(20000);
        (void)RkWaitDispatchDone(Cpu);
        (void)KeQueryVectorStatistics(Cpu, Vector, &Later);

        /* The driver is back: the poll's ISR run claims (and acknowledges),
         * the line is given back, a new raise is served. */
        Device.Serve = true;
        for (uint32_t Poll = 0; Poll < 2u * IO_STORM_POLL_INTERVAL_CAP && GivenBack == 0; Poll++)
            GivenBack += IoPollStormedInterrupts();
        Unmasked = !RkpEntryMaskBit(Gsi);
        uint32_t ClaimsBefore = Device.Claims;
        *RkpEduRegister(&Device, RK_EDU_INTERRUPT_RAISE) = 1u;
        Flowing = RkWaitCounter32(&Device.Claims, ClaimsBefore + 1u, RK_TEST_TIMEOUT_MS);
        (void)IoDisconnectInterrupt(Device.Object);
    }
    *RkpEduRegister(&Device, RK_EDU_INTERRUPT_ACK) = *RkpEduRegister(&Device, RK_EDU_INTERRUPT_STATUS);
    RkPciEnableDevice(&Function, true); /* as the driver's probe left it: INTA# off */

    uint64_t Dispatched = After.Dispatched - Before.Dispatched;
    uint64_t Unclaimed = After.Unclaimed - Before.Unclaimed;
    bool Passed = Status == IRQ_STATUS_SUCCESS && Masked && OtherWork && EntryMasked && Dispatched == Window &&
                  Unclaimed == Dispatched && Storm.Stormed && Storm.Storms == 1 &&
                  Later.Dispatched == After.Dispatched && GivenBack == 1 && Unmasked && Flowing;
    RkTestReport("storm_level_line", Passed,
                 "edu INTA# (GSI %u, vector 0x%x on cpu %u, connect %s) held asserted, nobody claiming: masked %s "
                 "after %lu dispatches (%lu unclaimed; window %u, threshold %u, %lu earlier on the vector), entry "
                 "mask %u, cpu answered an IPI %s, %lu dispatches while masked; recovered: given back by the poll "
                 "%u, unmasked %s, next raise served %s",
                 Gsi, Vector, Cpu, IrStatusName(Status), Masked ? "yes" : "no", Dispatched, Unclaimed, Window,
                 Threshold, Before.Dispatched, EntryMasked, OtherWork ? "yes" : "no",
                 Later.Dispatched - After.Dispatched, GivenBack, Unmasked ? "yes" : "no", Flowing ? "yes" : "no");
}
