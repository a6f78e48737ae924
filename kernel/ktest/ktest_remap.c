/* SPDX-License-Identifier: MIT */
/*
 * KTEST "remap_fault": a remapping fault provoked on purpose and recorded
 * (VT-d 7.1.2, fault 0x22 "interrupt entry not present"; 11.4.14 the fault
 * recording registers). edu's MSI is pointed, in the remappable format, at
 * a table index that was allocated but never written, so its entry is not
 * present; one raise must come back as exactly one recorded fault naming
 * that index and edu's requester id, with nothing delivered to a CPU.
 * Skipped when no remapping unit is on (QEMU without -device
 * intel-iommu,intremap=on) or edu is absent.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>

#include "device.h"
#include "driver.h"
#include "kernel.h"
#include "ktest.h"
#include "pci.h"

#define RK_REMAP_UNIT 0u
#define RK_FAULT_NOT_PRESENT 0x22u
#define RK_FAULT_WAIT_US 20000u

typedef struct _RK_REMAP_FAULT_RUN {
    RK_PCI_FUNCTION Edu;
    uint16_t Requester;
    uint32_t Index;
    uint64_t DeliveredBefore;
    char Why[240];
} RK_REMAP_FAULT_RUN;

/* Device vectors of the amd64 layout (0x30-0xCF: below the clock and IPI
 * classes), where a remapped MSI would land. */
#define RK_DEVICE_VECTOR_FIRST 0x30u
#define RK_DEVICE_VECTOR_LAST 0xCFu

/* Every delivery to a device vector of any CPU so far (Ke's counts). */
static uint64_t RkpDispatchedEverywhere(void)
{
    uint64_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        for (uint32_t Vector = RK_DEVICE_VECTOR_FIRST; Vector <= RK_DEVICE_VECTOR_LAST; Vector++) {
            KE_VECTOR_STATISTICS Statistics;
            if (KeQueryVectorStatistics(Cpu, (uint8_t)Vector, &Statistics) == IRQ_STATUS_SUCCESS)
                Total += Statistics.Dispatched;
        }
    }
    return Total;
}

/* The fault the raise should have left. */
static bool RkpCheckFault(RK_REMAP_FAULT_RUN *Run)
{
    HL_REMAP_FAULT Faults[4];
    uint32_t Count = 0;
    IRQ_STATUS Status = HlRemapCollectFaults(RK_REMAP_UNIT, Faults, 4, &Count);
    uint64_t Delivered = RkpDispatchedEverywhere() - Run->DeliveredBefore;
    if (Status != IRQ_STATUS_SUCCESS || Count != 1) {
        RkFormatString(Run->Why, sizeof(Run->Why), "collect %s, %u fault(s) recorded (expected 1)",
                       IrStatusName(Status), Count);
        return false;
    }
    bool Expected = Faults[0].Reason == RK_FAULT_NOT_PRESENT && Faults[0].Index == Run->Index &&
                    Faults[0].SourceId == Run->Requester && Delivered == 0;
    RkFormatString(Run->Why, sizeof(Run->Why),
                   "edu %02x:%02x.%u MSI to index %u (allocated, never written): fault 0x%x, requester 0x%04x, "
                   "index %u, %lu interrupt(s) delivered (expected 0x%x, 0x%04x, %u, 0)",
                   Run->Edu.Bus, Run->Edu.Device, Run->Edu.Function, Run->Index, Faults[0].Reason,
                   Faults[0].SourceId, Faults[0].Index, Delivered, RK_FAULT_NOT_PRESENT, Run->Requester, Run->Index);
    return Expected;
}

static bool RkpProvokeFault(RK_REMAP_FAULT_RUN *Run)
{
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    HL_MSI_MESSAGE Message;
    uint32_t Stale;
    (void)HlRemapCollectFaults(RK_REMAP_UNIT, NULL, 0, &Stale); /* start from none */
    IRQ_STATUS Status = HlRemapAllocateEntry(RK_REMAP_UNIT, &Run->Index);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlRemapComposeMsi(Run->Index, &Message);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = RkPciEnableMsi(&Run->Edu, &Message);
    Run->DeliveredBefore = RkpDispatchedEverywhere();
    if (Status == IRQ_STATUS_SUCCESS)
        Status = RkDeviceRaise(Edu);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Run->Why, sizeof(Run->Why), "setting up the raise: %s", IrStatusName(Status));
        return false;
    }
    RkStallMicroseconds(RK_FAULT_WAIT_US); /* the unit records at once; a vCPU may stall */
    bool Passed = RkpCheckFault(Run);
    (void)RkPciDisableMsi(&Run->Edu);
    (void)HlRemapFreeEntry(RK_REMAP_UNIT, Run->Index);
    return Passed;
}

void RkTestRemapFault(void)
{
    if (!RkRemappingIsOn()) {
        RkTestSkip("remap_fault", "no interrupt remapping unit is on (QEMU needs -device intel-iommu,intremap=on)");
        return;
    }
    RK_REMAP_FAULT_RUN Run = {0};
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    if (Edu == NULL || !Edu->Present || Edu->Connected || !RkEduPciFunction(&Run.Edu)) {
        RkTestReport("remap_fault", false, "edu is absent or connected (QEMU needs -device edu)");
        return;
    }
    Run.Requester = (uint16_t)(Run.Edu.Bus << 8 | Run.Edu.Device << 3 | Run.Edu.Function);
    bool Passed = RkpProvokeFault(&Run);
    RkTestReport("remap_fault", Passed, "%s", Run.Why);
}
