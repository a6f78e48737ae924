/* SPDX-License-Identifier: MIT */
/*
 * The demo's live table, like /proc/interrupts: one row per device, its
 * line (GSI or MSI), vector, routing policy, and its ISR runs per CPU
 * (RK_DEVICE.Runs, claimed or not).
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "demo.h"

/* VT100/ECMA-48: cursor home, erase display. */
#define RK_ANSI_HOME_CLEAR "\033[H\033[2J"

void RkDemoFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size)
{
    size_t Used = RkFormatString(Buffer, Size, "{");
    uint32_t Cpu = IrCpuSetFirst(Set);
    bool First = true;
    while (Cpu != IR_CPU_NONE && Used + 1 < Size) {
        uint32_t Last = Cpu;
        while (IrCpuSetContains(Set, Last + 1u))
            Last++;
        if (Last == Cpu)
            Used += RkFormatString(Buffer + Used, Size - Used, "%s%u", First ? "" : ",", Cpu);
        else
            Used += RkFormatString(Buffer + Used, Size - Used, "%s%u-%u", First ? "" : ",", Cpu, Last);
        First = false;
        Cpu = IrCpuSetNext(Set, Last);
    }
    RkFormatString(Buffer + Used, Size - Used, "}");
}

const char *const RkDemoSetRoutingNames[IoDeviceRoutingCount] = {
    [IoDeviceRoundRobin] = "round-robin",
    [IoDeviceLowest] = "lowest",
    [IoDeviceBroadcast] = "broadcast",
    [IoDeviceAffinity] = "affinity",
};

/* What the routing is now: a movable interrupt's current CPU comes from Io. */
static void RkpDescribePolicy(const RK_DEVICE *Device, char *Buffer, uint32_t Size)
{
    char Set[48];
    RkDemoFormatCpuSet(&Device->ConnectedSet, Set, sizeof(Set));
    uint32_t Cpu = Device->Routing.Cpu;
    (void)IoQueryInterruptTarget(Device->Connection.Interrupts[0], &Cpu, NULL);
    IO_DEVICE_ROUTING Routing = Device->Routing.Routing;
    if (Routing == IoDeviceFixed)
        RkFormatString(Buffer, Size, "fixed cpu%u", Cpu);
    else if (Routing < IoDeviceRoutingCount && RkDemoSetRoutingNames[Routing] != NULL)
        RkFormatString(Buffer, Size, "%s %s", RkDemoSetRoutingNames[Routing], Set);
    else
        RkFormatString(Buffer, Size, "?");
}

static void RkpDrawRow(const RK_DEVICE *Device)
{
    char Line[16] = "-", Vector[8] = "-", Policy[40] = "disconnected";
    if (!Device->Present)
        RkFormatString(Policy, sizeof(Policy), "absent");
    if (RkDeviceDescribe(Device, Line, sizeof(Line))) {
        RkFormatString(Vector, sizeof(Vector), "0x%02x", KeGetInterruptVector(Device->Connection.Interrupts[0]));
        RkpDescribePolicy(Device, Policy, sizeof(Policy));
    }
    RkPrint(" %-6s %-7s %-7s %-22s", Device->Name, Line, Vector, Policy);
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        RkPrint(" %9lu", Device->Runs[Cpu]);
    RkPrint("\n");
}

void RkDemoDrawTable(bool Plain, uint64_t Seconds, const char *Input, const char *Reply)
{
    bool WasEnabled = RkAcquireConsole();
    if (Plain)
        RkPrint("---- t=%lus\n", Seconds);
    else
        RkPrint("%sirqroute on QEMU: %u CPUs, t=%lus   (type 'help'; 'quit' or Ctrl-C to leave)\n\n",
                RK_ANSI_HOME_CLEAR, RkProcessorCount, Seconds);
    RkPrint(" %-6s %-7s %-7s %-22s", "device", "line", "vector", "policy");
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        RkPrint("      CPU%u", Cpu);
    RkPrint("\n");
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++)
        RkpDrawRow(RkDeviceGet((RK_DEVICE_ID)Id));
    if (!Plain)
        RkPrint("\n%s\n> %s", Reply, Input);
    RkReleaseConsole(WasEnabled);
}
