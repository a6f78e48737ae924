/*
 * The demo's live table, like /proc/interrupts: one row per device, its
 * line (GSI or MSI), vector, routing policy, and its ISR runs per CPU
 * (KI_DEVICE.Runs, claimed or not).
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "demo.h"

/* VT100/ECMA-48: cursor home, erase display. */
#define KI_ANSI_HOME_CLEAR "\033[H\033[2J"

void KiDemoFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size)
{
    size_t Used = KiFormatString(Buffer, Size, "{");
    uint32_t Cpu = IrCpuSetFirst(Set);
    bool First = true;
    while (Cpu != IR_CPU_NONE && Used + 1 < Size) {
        uint32_t Last = Cpu;
        while (IrCpuSetContains(Set, Last + 1u))
            Last++;
        if (Last == Cpu)
            Used += KiFormatString(Buffer + Used, Size - Used, "%s%u", First ? "" : ",", Cpu);
        else
            Used += KiFormatString(Buffer + Used, Size - Used, "%s%u-%u", First ? "" : ",", Cpu, Last);
        First = false;
        Cpu = IrCpuSetNext(Set, Last);
    }
    KiFormatString(Buffer + Used, Size - Used, "}");
}

/* What the routing is now: a movable interrupt's current CPU comes from Io. */
static void KipDescribePolicy(const KI_DEVICE *Device, char *Buffer, uint32_t Size)
{
    char Set[48];
    KiDemoFormatCpuSet(&Device->ConnectedSet, Set, sizeof(Set));
    uint32_t Cpu = Device->Routing.Cpu;
    (void)IoQueryInterruptTarget(Device->Connection.Interrupts[0], &Cpu, NULL);
    switch (Device->Routing.Routing) {
    case IoDeviceFixed:
        KiFormatString(Buffer, Size, "fixed cpu%u", Cpu);
        break;
    case IoDeviceRoundRobin:
        KiFormatString(Buffer, Size, "round-robin %s", Set);
        break;
    case IoDeviceLowest:
        KiFormatString(Buffer, Size, "lowest %s", Set);
        break;
    case IoDeviceBroadcast:
        KiFormatString(Buffer, Size, "broadcast %s", Set);
        break;
    case IoDeviceAffinity:
        KiFormatString(Buffer, Size, "affinity %s", Set);
        break;
    default:
        KiFormatString(Buffer, Size, "?");
        break;
    }
}

static void KipDrawRow(const KI_DEVICE *Device)
{
    char Line[16] = "-", Vector[8] = "-", Policy[40] = "disconnected";
    if (!Device->Present)
        KiFormatString(Policy, sizeof(Policy), "absent");
    if (KiDeviceDescribe(Device, Line, sizeof(Line))) {
        KiFormatString(Vector, sizeof(Vector), "0x%02x", KeGetInterruptVector(Device->Connection.Interrupts[0]));
        KipDescribePolicy(Device, Policy, sizeof(Policy));
    }
    KiPrint(" %-6s %-7s %-7s %-22s", Device->Name, Line, Vector, Policy);
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        KiPrint(" %9lu", Device->Runs[Cpu]);
    KiPrint("\n");
}

void KiDemoDrawTable(bool Plain, uint64_t Seconds, const char *Input, const char *Reply)
{
    bool WasEnabled = KiAcquireConsole();
    if (Plain)
        KiPrint("---- t=%lus\n", Seconds);
    else
        KiPrint("%sirqroute on QEMU: %u CPUs, t=%lus   (type 'help'; 'quit' or Ctrl-C to leave)\n\n",
                KI_ANSI_HOME_CLEAR, KiProcessorCount, Seconds);
    KiPrint(" %-6s %-7s %-7s %-22s", "device", "line", "vector", "policy");
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
        KiPrint("      CPU%u", Cpu);
    KiPrint("\n");
    for (uint32_t Id = 0; Id < KiDeviceCount; Id++)
        KipDrawRow(KiDeviceGet((KI_DEVICE_ID)Id));
    if (!Plain)
        KiPrint("\n%s\n> %s", Reply, Input);
    KiReleaseConsole(WasEnabled);
}
