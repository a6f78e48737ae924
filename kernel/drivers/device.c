/* SPDX-License-Identifier: MIT */
/*
 * The kernel's devices (device.h): a registry of the six drivers, their
 * connection through the library's device templates (IoConnectDevice), the
 * one ISR they share, live re-routing, and COM1's input ring.
 *
 * Every connection a routing allows to move is made movable
 * (IoTargetRoutable over the routing's CPU set), so RkDeviceRoute moves it
 * with IoRouteDevice (the library's own routing -> policy conversion,
 * IoQueryDeviceRouting, decides what moves): one destination write, never a
 * mask, which an edge line needs (82093AA 3.2.4: an edge that
 * arrives while masked is lost).
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "device.h"
#include "driver.h"

static RK_DEVICE RkDevices[RkDeviceCount] = {
    [RkDevicePit] = {.Name = "pit", .Id = RkDevicePit, .Driver = &RkPitDriver},
    [RkDeviceRtc] = {.Name = "rtc", .Id = RkDeviceRtc, .Driver = &RkRtcDriver},
    [RkDeviceCom1] = {.Name = "com1", .Id = RkDeviceCom1, .Driver = &RkCom1Driver},
    [RkDeviceKeyboard] = {.Name = "kbd", .Id = RkDeviceKeyboard, .Driver = &RkKeyboardDriver},
    [RkDeviceEdu] = {.Name = "edu", .Id = RkDeviceEdu, .Driver = &RkEduDriver},
    [RkDeviceIgb] = {.Name = "igb", .Id = RkDeviceIgb, .Driver = &RkIgbDriver},
};

/* ---- Registry ----------------------------------------------------------------------- */

/* Per-CPU counts for the CPUs that run, not for RK_MAX_CPUS. */
static void RkpAllocateCounts(RK_DEVICE *Device)
{
    uint32_t Count = RkProcessorCount != 0 ? RkProcessorCount : 1u;
    size_t Size = (size_t)Count * sizeof(uint64_t);
    Device->Count = PlatAllocateMemory(Size, 0);
    Device->Runs = PlatAllocateMemory(Size, 0);
    if (Device->Count == NULL || Device->Runs == NULL)
        RkPanic("device: no pool memory for %s's counts of %u CPUs", Device->Name, Count);
    Device->CpuCount = Count;
}

static bool RkpProbe(RK_DEVICE *Device)
{
    const RK_DRIVER *Driver = Device->Driver;
    if (Driver->Probe != NULL)
        return Driver->Probe(Device);
    return Driver->Stop == NULL || Driver->Stop(Device) == IRQ_STATUS_SUCCESS;
}

void RkInitializeDevices(void)
{
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        RK_DEVICE *Device = &RkDevices[Id];
        RkpAllocateCounts(Device);
        Device->Present = RkpProbe(Device);
        RkPrint("device: %s %s\n", Device->Name, Device->Present ? "present" : "absent");
    }
}

RK_DEVICE *RkDeviceGet(RK_DEVICE_ID Id)
{
    return (unsigned)Id < RkDeviceCount ? &RkDevices[Id] : NULL;
}

static bool RkpNamesEqual(const char *A, const char *B)
{
    while (*A != 0 && *A == *B) {
        A++;
        B++;
    }
    return *A == *B;
}

RK_DEVICE *RkDeviceByName(const char *Name)
{
    for (uint32_t Id = 0; Name != NULL && Id < RkDeviceCount; Id++) {
        if (RkpNamesEqual(RkDevices[Id].Name, Name))
            return &RkDevices[Id];
    }
    return NULL;
}

/* ---- The ISR ------------------------------------------------------------------------ */

/* The LAPIC id is read from the LAPIC itself, so a test learns which CPU
 * really took the interrupt, not what a table says. The count comes last
 * (release): whoever sees it also sees LastApicId and the observer's work. */
static bool RkpDeviceIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    RK_DEVICE *Device = Context;
    uint32_t Cpu = PlatCurrentCpu();
    if (Cpu < Device->CpuCount)
        __atomic_add_fetch(&Device->Runs[Cpu], 1, __ATOMIC_RELAXED);
    if (!Device->Driver->Acknowledge(Device))
        return false;
    Device->LastApicId = HlLapicReadId();
    if (Device->Observer != NULL)
        Device->Observer(Device, Cpu, Device->ObserverContext);
    if (Cpu < Device->CpuCount)
        __atomic_add_fetch(&Device->Count[Cpu], 1, __ATOMIC_RELEASE);
    return true;
}

/* ---- Connecting --------------------------------------------------------------------- */

static void RkpOnlineCpus(IR_CPU_SET *Set)
{
    IrCpuSetZero(Set);
    for (uint32_t Cpu = 0; Cpu < KeQueryProcessorCount(); Cpu++) {
        if (KeIsProcessorOnline(Cpu))
            IrCpuSetAdd(Set, Cpu);
    }
}

/* The routing's CPU set: its mask, or every online CPU when it is empty. */
static void RkpRoutingSet(const RK_DEVICE_ROUTING *Routing, IR_CPU_SET *Set)
{
    if (IrCpuSetIsEmpty(&Routing->Mask))
        RkpOnlineCpus(Set);
    else
        IrCpuSetCopy(Set, &Routing->Mask);
}

/* The wiring of a device with one edge-triggered ISA line when its driver
 * describes none of its own (driver.h). */
static void RkpDescribeInterrupts(RK_DEVICE *Device, IO_DEVICE_TEMPLATE *Template)
{
    const RK_DRIVER *Driver = Device->Driver;
    if (Driver->DescribeInterrupts != NULL) {
        Driver->DescribeInterrupts(Device, Template);
        return;
    }
    Template->Kind = IoDeviceLines;
    Template->Bus = HlBusIsa;
    Template->Lines[0] = Driver->IsaIrq;
    Template->Count = 1;
}

static IRQ_STATUS RkpConnect(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing)
{
    IO_DEVICE_TEMPLATE Template = {.Name = Device->Name};
    RkpDescribeInterrupts(Device, &Template);
    RkpRoutingSet(Routing, &Device->ConnectedSet);
    Template.Routing = Routing->Routing;
    Template.Cpu = Routing->Cpu;
    /* A fixed routing with a set is movable over the set; NotMovable asks for
     * a plain IoTargetCpu connection (HlPicAllocateSystemInterrupt to Cpu). */
    bool Plain = Routing->Routing == IoDeviceFixed && Routing->NotMovable;
    Template.Mask = Plain ? NULL : &Device->ConnectedSet;
    IRQ_STATUS Status = IoConnectDevice(&Template, RkpDeviceIsr, Device, &Device->Connection);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Device->Connected = true;
    Device->Shared = Template.Share;
    Device->Routing = *Routing;
    if (Device->Driver->Connected != NULL) {
        Status = Device->Driver->Connected(Device);
        if (Status != IRQ_STATUS_SUCCESS) {
            (void)IoDisconnectDevice(&Device->Connection);
            Device->Connected = false;
        }
    }
    return Status;
}

IRQ_STATUS RkDeviceConnect(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing)
{
    static const RK_DEVICE_ROUTING Default = {.Routing = IoDeviceFixed, .Cpu = 0};
    if (Device == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!Device->Present)
        return IRQ_STATUS_NOT_SUPPORTED;
    if (Device->Connected)
        return IRQ_STATUS_ALREADY_CONNECTED;
    return RkpConnect(Device, Routing != NULL ? Routing : &Default);
}

IRQ_STATUS RkDeviceDisconnect(RK_DEVICE *Device)
{
    if (Device == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!Device->Connected)
        return IRQ_STATUS_NOT_CONNECTED;
    (void)RkDeviceStop(Device);
    if (Device->Driver->Disconnecting != NULL)
        Device->Driver->Disconnecting(Device);
    IRQ_STATUS Status = IoDisconnectDevice(&Device->Connection);
    if (Status == IRQ_STATUS_SUCCESS)
        Device->Connected = false;
    return Status;
}

/* ---- Re-routing --------------------------------------------------------------------- */

/* Whether the routing's connection is movable: Io says which routings are
 * (IoQueryDeviceRouting); a fixed routing is when it has a set, that is
 * unless NotMovable asked for a plain connection. */
static bool RkpIsMovingRouting(const RK_DEVICE_ROUTING *Routing)
{
    bool Movable = false;
    (void)IoQueryDeviceRouting(Routing->Routing, !Routing->NotMovable, NULL, &Movable);
    return Movable;
}

/* Live when both the connection and the new routing are movable over the
 * same set (a fixed target must lie in it). */
static bool RkpCanMoveLive(const RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing)
{
    if (!RkpIsMovingRouting(&Device->Routing) || !RkpIsMovingRouting(Routing))
        return false;
    IR_CPU_SET Wanted;
    RkpRoutingSet(Routing, &Wanted);
    if (!IrCpuSetEqual(&Wanted, &Device->ConnectedSet))
        return false;
    return Routing->Routing != IoDeviceFixed || IrCpuSetContains(&Wanted, Routing->Cpu);
}

static IRQ_STATUS RkpMoveLive(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing)
{
    IRQ_STATUS Status = IoRouteDevice(&Device->Connection, Routing->Routing, Routing->Cpu);
    if (Status == IRQ_STATUS_SUCCESS)
        Device->Routing = *Routing;
    return Status;
}

/* Disconnect and connect with the new routing; a started device is started
 * again. When the new routing is refused, the old one is restored. */
static IRQ_STATUS RkpReconnect(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing)
{
    RK_DEVICE_ROUTING Old = Device->Routing;
    bool WasStarted = Device->Started;
    uint32_t Hz = Device->Hz;
    IRQ_STATUS Status = RkDeviceDisconnect(Device);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Status = RkpConnect(Device, Routing);
    if (Status != IRQ_STATUS_SUCCESS && RkpConnect(Device, &Old) != IRQ_STATUS_SUCCESS)
        RkPrint("device: %s lost its connection (%s)\n", Device->Name, IrStatusName(Status));
    if (Device->Connected && WasStarted)
        (void)RkDeviceStart(Device, Hz);
    return Status;
}

IRQ_STATUS RkDeviceRoute(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing)
{
    if (Device == NULL || Routing == NULL || (unsigned)Routing->Routing >= IoDeviceRoutingCount)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!Device->Connected)
        return IRQ_STATUS_NOT_CONNECTED;
    if (RkpCanMoveLive(Device, Routing))
        return RkpMoveLive(Device, Routing);
    return RkpReconnect(Device, Routing);
}

/* ---- The device's own source -------------------------------------------------------- */

IRQ_STATUS RkDeviceStart(RK_DEVICE *Device, uint32_t HzHint)
{
    if (Device == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!Device->Present)
        return IRQ_STATUS_NOT_SUPPORTED;
    IRQ_STATUS Status = Device->Driver->Start != NULL ? Device->Driver->Start(Device, HzHint) : IRQ_STATUS_SUCCESS;
    if (Status == IRQ_STATUS_SUCCESS) {
        Device->Started = true;
        Device->Hz = HzHint;
    }
    return Status;
}

IRQ_STATUS RkDeviceStop(RK_DEVICE *Device)
{
    if (Device == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!Device->Present)
        return IRQ_STATUS_NOT_SUPPORTED;
    Device->Started = false;
    return Device->Driver->Stop != NULL ? Device->Driver->Stop(Device) : IRQ_STATUS_SUCCESS;
}

IRQ_STATUS RkDeviceRaise(RK_DEVICE *Device)
{
    if (Device == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!Device->Present || Device->Driver->Raise == NULL)
        return IRQ_STATUS_NOT_SUPPORTED;
    IRQ_STATUS Status = Device->Driver->Raise(Device);
    if (Status == IRQ_STATUS_SUCCESS)
        __atomic_add_fetch(&Device->Raised, 1, __ATOMIC_RELAXED);
    return Status;
}

/* ---- Counts --------------------------------------------------------------------------- */

uint64_t RkDeviceTotal(const RK_DEVICE *Device)
{
    uint64_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < Device->CpuCount; Cpu++)
        Total += __atomic_load_n(&Device->Count[Cpu], __ATOMIC_ACQUIRE);
    return Total;
}

void RkDeviceResetCounts(RK_DEVICE *Device)
{
    for (uint32_t Cpu = 0; Cpu < Device->CpuCount; Cpu++) {
        __atomic_store_n(&Device->Count[Cpu], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&Device->Runs[Cpu], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&Device->Raised, 0, __ATOMIC_RELAXED);
}

/* The limit is read from the clock (RkQueryMicroseconds), not counted in
 * polls: a poll that a stalled vCPU stretched still counts for its length. */
bool RkDeviceWaitTotal(const RK_DEVICE *Device, uint64_t Total, uint32_t TimeoutMs)
{
    uint64_t Deadline = RkQueryMicroseconds() + (uint64_t)TimeoutMs * 1000u;
    while (RkDeviceTotal(Device) < Total) {
        if (RkQueryMicroseconds() > Deadline)
            return RkDeviceTotal(Device) >= Total;
        RkStallMicroseconds(20);
    }
    return true;
}

bool RkDeviceDescribe(const RK_DEVICE *Device, char *Buffer, uint32_t Size)
{
    if (Device == NULL || !Device->Connected || Device->Connection.Count == 0)
        return false;
    const KINTERRUPT *Interrupt = Device->Connection.Interrupts[0];
    uint32_t Gsi;
    if (IoQueryInterruptLine(Interrupt, &Gsi) == IRQ_STATUS_SUCCESS)
        RkFormatString(Buffer, Size, "GSI %u", Gsi);
    else
        RkFormatString(Buffer, Size, "MSI");
    return true;
}

/* ---- COM1's input ring ------------------------------------------------------------------ */

/* One producer (COM1's ISR, under its object's lock) and one consumer (the
 * console loop): the producer publishes Head with release after the byte,
 * the consumer Tail after reading it. A full ring drops the byte. */
#define RK_INPUT_RING_SIZE 256u
static char RkpInput[RK_INPUT_RING_SIZE];
static uint32_t RkpInputHead, RkpInputTail;

void RkDevicePutInput(char Character)
{
    uint32_t Head = __atomic_load_n(&RkpInputHead, __ATOMIC_RELAXED);
    if (Head - __atomic_load_n(&RkpInputTail, __ATOMIC_ACQUIRE) >= RK_INPUT_RING_SIZE)
        return;
    RkpInput[Head % RK_INPUT_RING_SIZE] = Character;
    __atomic_store_n(&RkpInputHead, Head + 1, __ATOMIC_RELEASE);
}

bool RkDeviceReadInput(char *Character)
{
    uint32_t Tail = __atomic_load_n(&RkpInputTail, __ATOMIC_RELAXED);
    if (Tail != __atomic_load_n(&RkpInputHead, __ATOMIC_ACQUIRE)) {
        *Character = RkpInput[Tail % RK_INPUT_RING_SIZE];
        __atomic_store_n(&RkpInputTail, Tail + 1, __ATOMIC_RELEASE);
        return true;
    }
    /* Not connected (or its interrupts not yet on): the UART is polled. */
    return !RkDevices[RkDeviceCom1].Connected && RkSerialTryGetChar(Character);
}

bool RkPollPort(uint16_t Port, uint8_t Mask, uint8_t Value, uint32_t TimeoutUs)
{
    uint64_t Deadline = RkQueryMicroseconds() + TimeoutUs;
    while ((RkInByte(Port) & Mask) != Value) {
        if (RkQueryMicroseconds() > Deadline)
            return (RkInByte(Port) & Mask) == Value;
        RkStallMicroseconds(10);
    }
    return true;
}
