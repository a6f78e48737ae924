/* SPDX-License-Identifier: MIT */
/*
 * The sim's boot sequence (see simboot.h). Mirrors kernel/ (main.c, arch/smp.c):
 * the order is the one a real kernel needs (the LAPIC mode selected before
 * any LAPIC access; on each CPU, HlLapicEnable before anything else touches
 * its local APIC, since firmware may have left it disabled, in xAPIC or in
 * x2APIC mode; the id from the register, not from the configuration; I/O
 * APICs before overrides are used; each CPU's registry entry and LAPIC
 * before Ke marks it online).
 */
#include "simboot.h"

#include <stdio.h>

static void SimpRegisterQemuOverrides(void)
{
    /* QEMU's MADT (docs/qemu.md): PIT IRQ0 on GSI2 (flags 0 = bus default),
     * IRQ 5, 9, 10, 11 level-triggered active-high (flags 0x0d). */
    HlPicRegisterOverride(0, 2, 0);
    static const uint8_t LevelIrqs[] = {5, 9, 10, 11};
    for (unsigned Index = 0; Index < sizeof(LevelIrqs); Index++)
        HlPicRegisterOverride(LevelIrqs[Index], LevelIrqs[Index], 0x0d);
}

static IRQ_STATUS SimpStartProcessor(uint32_t Cpu)
{
    SimAttachCpu(Cpu);
    IRQ_STATUS Status = HlLapicEnable();
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlRegisterProcessor(Cpu, HlLapicReadId());
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlLapicInitializeProcessor(Cpu, KeAmd64VectorLayout.SpuriousVector);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KeInitializeProcessor(Cpu);
    SimDetachCpu();
    return Status;
}

/* QEMU's I/O APIC is FF:00.0 to the remapping unit; the nth here FF:nn.0. */
#define SIMP_IOAPIC_SOURCE_ID(Index) (0xFF00u | (uint16_t)((Index) << 3))

static void SimpPutIoApicsBehindIommu(SIM_CONFIG *Sim)
{
    if (Sim->IoApicCount == 0) {
        Sim->IoApicCount = 1;
        Sim->IoApics[0] = (SIM_IOAPIC_CONFIG){.Id = 0, .Address = HL_IOAPIC_DEFAULT_BASE, .PinCount = 24};
    }
    for (uint32_t Index = 0; Index < Sim->IoApicCount; Index++) {
        Sim->IoApics[Index].BehindIommu = true;
        Sim->IoApics[Index].IommuUnit = 0;
        Sim->IoApics[Index].SourceId = SIMP_IOAPIC_SOURCE_ID(Index);
    }
}

static int SimpCreateIommu(void)
{
    SIM_IOMMU_CONFIG Unit = {.Address = SIM_IOMMU_DEFAULT_BASE, .ExtendedInterruptMode = true};
    return SimIommuCreate(&Unit, 1);
}

/* What a kernel does with the DMAR's one unit and its I/O APIC scopes. */
static IRQ_STATUS SimpEnableRemapping(const SIM_CONFIG *Sim)
{
    IRQ_STATUS Status = HlRemapRegisterUnit(0, SIM_IOMMU_DEFAULT_BASE);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlRemapEnable(0);
    for (uint32_t Index = 0; Index < Sim->IoApicCount && Status == IRQ_STATUS_SUCCESS; Index++)
        Status = HlRemapAssignIoApic(Sim->IoApics[Index].Id, 0, Sim->IoApics[Index].SourceId);
    return Status;
}

IRQ_STATUS SimBootSystem(const SIM_SYSTEM_CONFIG *Config)
{
    if (Config == NULL || Config->CpuCount == 0 || Config->IoApicCount > SIM_MAX_IOAPICS)
        return IRQ_STATUS_INVALID_PARAMETER;

    SIM_CONFIG Sim = {
        .CpuCount = Config->CpuCount,
        .ApicIds = Config->ApicIds,
        .X2ApicSupported = Config->X2Apic || Config->FirmwareMode == SimLapicX2Apic,
        .FirmwareMode = Config->FirmwareMode,
        .IoApicCount = Config->IoApicCount,
    };
    for (uint32_t Index = 0; Index < Config->IoApicCount; Index++)
        Sim.IoApics[Index] = Config->IoApics[Index];
    if (Config->InterruptRemapping)
        SimpPutIoApicsBehindIommu(&Sim);
    if (SimCreate(&Sim) != 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Config->InterruptRemapping && SimpCreateIommu() != 0) {
        SimDestroy();
        return IRQ_STATUS_INVALID_PARAMETER;
    }

    HlResetHardwareLayer();
    IRQ_STATUS Status = HlLapicSelectMode(Config->X2Apic ? HlLapicModeX2Apic : HlLapicModeXApic,
                                          HL_LAPIC_DEFAULT_BASE);
    if (Status != IRQ_STATUS_SUCCESS)
        goto Fail;

    if (Config->IoApicCount == 0) {
        Status = HlIoApicRegister(0, HL_IOAPIC_DEFAULT_BASE, 0);
    } else {
        for (uint32_t Index = 0; Index < Config->IoApicCount && Status == IRQ_STATUS_SUCCESS; Index++)
            Status = HlIoApicRegister(Config->IoApics[Index].Id, Config->IoApics[Index].Address,
                                      Config->IoApics[Index].GsiBase);
    }
    if (Status == IRQ_STATUS_SUCCESS && Config->InterruptRemapping)
        Status = SimpEnableRemapping(&Sim);
    if (Status != IRQ_STATUS_SUCCESS)
        goto Fail;
    SimpRegisterQemuOverrides();

    Status = KeInitializeSystem(Config->CpuCount, &KeAmd64VectorLayout);
    if (Status != IRQ_STATUS_SUCCESS)
        goto Fail;
    IoResetInterruptManager();
    SimSetInterruptEntry(KeDispatchInterrupt);

    uint32_t Online = Config->OnlineCount ? Config->OnlineCount : Config->CpuCount;
    for (uint32_t Cpu = 0; Cpu < Online && Status == IRQ_STATUS_SUCCESS; Cpu++)
        Status = SimpStartProcessor(Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        goto Fail;

    if (Config->StartThreads && SimStartCpuThreads() != 0) {
        Status = IRQ_STATUS_INSUFFICIENT_RESOURCES;
        goto Fail;
    }
    return IRQ_STATUS_SUCCESS;

Fail:
    fprintf(stderr, "SimBootSystem: %s\n", IrStatusName(Status));
    SimIommuDestroy();
    SimDestroy();
    return Status;
}

void SimShutdownSystem(void)
{
    SimStopCpuThreads();
    SimIommuDestroy();
    SimDestroy();
}
