/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine (system.h). The CPUs have no service threads: the
 * runner's thread attaches to a CPU (SimAttachCpu), raises the interrupts of
 * the devices delivered there one at a time and dispatches each
 * (SimServicePending) before raising the next, since a LAPIC's IRR holds one
 * pending interrupt per vector (SDM vol. 3A 11.8.4) and a second raise would
 * merge with the first. Every interrupt raised is therefore dispatched once,
 * and the counts read back from Ke are exact.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "sim.h"
#include "simboot.h"
#include "system.h"

#define IRSP_REMAP_UNIT 0u
#define IRSP_XAPIC_CPU_LIMIT 255u

/* A storming device's ISR stops claiming: the line or message keeps coming
 * and nobody owns it (the case Linux's spurious-interrupt detector masks). */
static bool IrspIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    const IRS_LIVE_DEVICE *Device = Context;
    return !Device->Storming;
}

static void IrspUpdateMessage(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Interrupt;
    IRS_LIVE_DEVICE *Device = Context;
    atomic_store(&Device->Address, Message->Address);
}

static IRQ_STATUS IrspConnect(IRS_SYSTEM *System, IRS_LIVE_DEVICE *Device, uint32_t LineIndex)
{
    IO_INTERRUPT_TARGET Target = {.Kind = IoTargetRoutable, .Cpu = IrCpuSetFirst(&Device->Spec->Affinity),
                                  .Mask = &Device->Spec->Affinity};
    KINTERRUPT *Interrupt = NULL;
    HL_MSI_MESSAGE Message = {0};
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters;
    if (Device->Spec->Kind == IrsDeviceLine) {
        Device->Gsi = IRS_FIRST_LINE_GSI + LineIndex;
        Parameters = (IO_CONNECT_INTERRUPT_PARAMETERS){
            .Version = CONNECT_LINE_BASED,
            .LineBased = {.InterruptObject = &Interrupt, .ServiceRoutine = IrspIsr, .ServiceContext = Device,
                          .Line = {.Bus = HlBusGsi, .Number = Device->Gsi, .Trigger = HlLineEdge,
                                   .Polarity = HlLineActiveHigh},
                          .Irql = KE_IRQL_ANY, .Target = Target}};
    } else {
        Parameters = (IO_CONNECT_INTERRUPT_PARAMETERS){
            .Version = CONNECT_MESSAGE_BASED,
            .MessageBased = {.InterruptObject = &Interrupt, .ServiceRoutine = IrspIsr, .ServiceContext = Device,
                             .Irql = KE_IRQL_ANY, .Target = Target, .Message = &Message,
                             .UpdateMessage = IrspUpdateMessage, .UpdateContext = Device,
                             .HasRequesterId = System->Remapped, .RequesterId = Device->RequesterId}};
    }
    SimAttachCpu(0);
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    SimDetachCpu();
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Device->Interrupt = Interrupt;
    atomic_store(&Device->Address, Message.Address);
    Device->Data = Message.Data;
    (void)IoQueryInterruptTarget(Interrupt, &Device->Cpu, NULL);
    return IoQueryInterruptAffinity(Interrupt, &Device->Affinity);
}

static bool IrspBootMachine(IRS_SYSTEM *System, char *Error, size_t ErrorSize)
{
    SIM_SYSTEM_CONFIG Config = {.CpuCount = System->CpuCount, .StartThreads = false};
    if (System->Remapped) {
        Config.X2Apic = true;
        Config.FirmwareMode = SimLapicX2Apic;
        Config.InterruptRemapping = true;
    }
    IRQ_STATUS Status = SimBootSystem(&Config);
    if (Status != IRQ_STATUS_SUCCESS) {
        snprintf(Error, ErrorSize, "boot of %u CPUs failed: %s", System->CpuCount, IrStatusName(Status));
        return false;
    }
    return true;
}

bool IrsSystemBoot(IRS_SYSTEM *System, const IRS_SCENARIO *Scenario, char *Error, size_t ErrorSize)
{
    memset(System, 0, sizeof(*System));
    System->CpuCount = Scenario->CpuCount;
    System->Remapped = Scenario->CpuCount > IRSP_XAPIC_CPU_LIMIT;
    IrCpuSetFill(&System->Online, System->CpuCount);
    uint32_t Lines = 0;
    for (uint32_t Index = 0; Index < Scenario->DeviceCount; Index++)
        Lines += Scenario->Devices[Index].Kind == IrsDeviceLine;
    if (Lines > IRS_MAX_LINES) {
        snprintf(Error, ErrorSize, "%s: %u line devices, at most %u (GSIs %u-%u)", Scenario->Path, Lines,
                 IRS_MAX_LINES, IRS_FIRST_LINE_GSI, IRS_FIRST_LINE_GSI + IRS_MAX_LINES - 1u);
        return false;
    }
    System->Devices = calloc(Scenario->DeviceCount, sizeof(*System->Devices));
    if (System->Devices == NULL || !IrspBootMachine(System, Error, ErrorSize)) {
        free(System->Devices);
        System->Devices = NULL;
        return false;
    }
    Lines = 0;
    for (uint32_t Index = 0; Index < Scenario->DeviceCount; Index++) {
        IRS_LIVE_DEVICE *Device = &System->Devices[Index];
        Device->Spec = &Scenario->Devices[Index];
        /* Requester 01:dd.f, one function per device (PCI 3.0 routing id). */
        Device->RequesterId = (uint16_t)(0x0100u + Index);
        Device->Seen = calloc(System->CpuCount, sizeof(*Device->Seen));
        IRQ_STATUS Status = Device->Seen == NULL ? IRQ_STATUS_INSUFFICIENT_RESOURCES : IRQ_STATUS_SUCCESS;
        if (Status == IRQ_STATUS_SUCCESS && System->Remapped && Device->Spec->Kind == IrsDeviceMsi)
            Status = HlRemapAssignRequester(IRSP_REMAP_UNIT, Device->RequesterId);
        if (Status == IRQ_STATUS_SUCCESS)
            Status = IrspConnect(System, Device, Device->Spec->Kind == IrsDeviceLine ? Lines++ : 0);
        System->DeviceCount = Index + 1u;
        if (Status != IRQ_STATUS_SUCCESS) {
            snprintf(Error, ErrorSize, "connect %s: %s", Device->Spec->Name, IrStatusName(Status));
            IrsSystemShutdown(System);
            return false;
        }
    }
    return true;
}

void IrsSystemShutdown(IRS_SYSTEM *System)
{
    SimAttachCpu(0);
    for (uint32_t Index = 0; Index < System->DeviceCount; Index++) {
        if (System->Devices[Index].Interrupt != NULL)
            (void)IoDisconnectInterrupt(System->Devices[Index].Interrupt);
        free(System->Devices[Index].Seen);
    }
    SimDetachCpu();
    SimShutdownSystem();
    free(System->Devices);
    System->Devices = NULL;
    System->DeviceCount = 0;
}

static void IrspRaiseOne(IRS_SYSTEM *System, IRS_LIVE_DEVICE *Device)
{
    if (Device->Spec->Kind == IrsDeviceLine)
        SimPulseGsi(Device->Gsi);
    else if (System->Remapped)
        SimMsiWriteThroughIommu(IRSP_REMAP_UNIT, Device->RequesterId, atomic_load(&Device->Address), Device->Data);
    else
        SimMsiWrite(atomic_load(&Device->Address), Device->Data);
    Device->Raised++;
}

/* On Cpu (attached): the devices delivered there, round by round, one
 * interrupt each per round, each round serviced before the next. */
static void IrspDriveCpu(IRS_SYSTEM *System, uint32_t Cpu, uint64_t *Left)
{
    SimAttachCpu(Cpu);
    for (bool Raised = true; Raised;) {
        Raised = false;
        for (uint32_t Index = 0; Index < System->DeviceCount; Index++) {
            if (Left[Index] == 0 || System->Devices[Index].Cpu != Cpu)
                continue;
            IrspRaiseOne(System, &System->Devices[Index]);
            Left[Index]--;
            Raised = true;
        }
        if (Raised)
            (void)SimServicePending();
    }
    SimDetachCpu();
}

/* A CPU a move left takes Ke's retire request (an IPI) as a real CPU
 * would, between interrupts: the runner has no service thread per CPU, so
 * every CPU with the IPI pending is serviced once the devices have been
 * driven (the device's first interrupt on the new CPU sends it, ke.h). */
static void IrspServiceIpis(IRS_SYSTEM *System)
{
    for (uint32_t Cpu = 0; Cpu < System->CpuCount; Cpu++) {
        if (!SimLapicIrrIsSet(Cpu, KeAmd64VectorLayout.IpiVector))
            continue;
        SimAttachCpu(Cpu);
        (void)SimServicePending();
        SimDetachCpu();
    }
}

void IrsSystemDrive(IRS_SYSTEM *System, const uint64_t *Counts)
{
    uint64_t *Left = calloc(System->DeviceCount, sizeof(*Left));
    if (Left == NULL)
        return;
    memcpy(Left, Counts, System->DeviceCount * sizeof(*Left));
    for (uint32_t Index = 0; Index < System->DeviceCount; Index++)
        if (Left[Index] != 0)
            IrspDriveCpu(System, System->Devices[Index].Cpu, Left);
    free(Left);
    IrspServiceIpis(System);
}

uint64_t IrsSystemCollect(IRS_SYSTEM *System, uint32_t Device, uint64_t *PerCpu, uint64_t *Unplaced)
{
    IRS_LIVE_DEVICE *Live = &System->Devices[Device];
    uint64_t Placed = 0;
    for (uint32_t Cpu = 0; Cpu < System->CpuCount; Cpu++) {
        uint64_t Now = KeQueryInterruptCount(Live->Interrupt, Cpu);
        uint64_t Delta = Now >= Live->Seen[Cpu] ? Now - Live->Seen[Cpu] : 0;
        PerCpu[Cpu] += Delta;
        Placed += Delta;
        Live->Seen[Cpu] = Now;
    }
    uint64_t Total = KeQueryInterruptTotalCount(Live->Interrupt, NULL);
    uint64_t Delta = Total - Live->SeenTotal;
    Live->SeenTotal = Total;
    *Unplaced = Delta > Placed ? Delta - Placed : 0;
    return Delta;
}

/* A move may hand the device's retired link slot a new CPU, and Ke then
 * folds that slot's count into the total (ke.h): the per-CPU counts are
 * read again so that the next collection starts from them. */
static void IrspRebase(IRS_SYSTEM *System, IRS_LIVE_DEVICE *Live)
{
    for (uint32_t Cpu = 0; Cpu < System->CpuCount; Cpu++)
        Live->Seen[Cpu] = KeQueryInterruptCount(Live->Interrupt, Cpu);
}

IRQ_STATUS IrsSystemMove(IRS_SYSTEM *System, uint32_t Device, uint32_t Cpu)
{
    IRS_LIVE_DEVICE *Live = &System->Devices[Device];
    SimAttachCpu(0);
    IRQ_STATUS Status = IoSetInterruptTarget(Live->Interrupt, Cpu);
    SimDetachCpu();
    if (Status == IRQ_STATUS_SUCCESS) {
        (void)IoQueryInterruptTarget(Live->Interrupt, &Live->Cpu, NULL);
        IrspRebase(System, Live);
    }
    return Status;
}

uint32_t IrsSystemRefresh(IRS_SYSTEM *System, uint32_t *OldCpu)
{
    uint32_t Changed = 0;
    SimAttachCpu(0);
    for (uint32_t Index = 0; Index < System->DeviceCount; Index++) {
        IRS_LIVE_DEVICE *Live = &System->Devices[Index];
        uint32_t Was = Live->Cpu;
        if (OldCpu != NULL)
            OldCpu[Index] = Was;
        (void)IoQueryInterruptTarget(Live->Interrupt, &Live->Cpu, NULL);
        (void)IoQueryInterruptAffinity(Live->Interrupt, &Live->Affinity);
        if (Live->Cpu != Was) {
            IrspRebase(System, Live);
            Changed++;
        }
    }
    SimDetachCpu();
    KeQueryOnlineProcessors(&System->Online);
    return Changed;
}

IRQ_STATUS IrsSystemOffline(IRS_SYSTEM *System, uint32_t Cpu, IO_PROCESSOR_OFFLINE_RESULT *Result,
                            uint32_t *OldCpu)
{
    SimAttachCpu(Cpu);
    IRQ_STATUS Status = IoSetProcessorOffline(Cpu, Result);
    SimDetachCpu();
    (void)IrsSystemRefresh(System, OldCpu);
    return Status;
}

IRQ_STATUS IrsSystemOnline(IRS_SYSTEM *System, uint32_t Cpu, uint32_t *OldCpu)
{
    SimAttachCpu(0);
    IRQ_STATUS Status = IoSetProcessorOnline(Cpu);
    SimDetachCpu();
    (void)IrsSystemRefresh(System, OldCpu);
    return Status;
}
