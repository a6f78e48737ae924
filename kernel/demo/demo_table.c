/* SPDX-License-Identifier: MIT */
/*
 * The demo's live table, like /proc/interrupts: one row per device, its
 * line (GSI or MSI), vector, routing policy, its rate (ISR runs per second
 * since the last draw, all CPUs together) and its ISR runs per CPU
 * (RK_DEVICE.Runs, claimed or not). With 4 CPUs a row fits 80 columns.
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

/* The widths that keep a 4-CPU row within 79 columns (an 80-column
 * terminal wraps a line that fills its last column on some emulators):
 * device 6, line 6 ("GSI 14"), vector 6, policy 19 (the longest a 4-CPU set
 * gives: "round-robin {0,2-3}"), rate 6, and 6 per CPU (a million ISR runs
 * before a column widens; PIT at 20 Hz takes 14 hours to get there).
 * 1 + 6 + 1 + 6 + 1 + 6 + 1 + 19 + 1 + 6 + 4 * (1 + 6) = 76. */
#define RK_ROW_HEAD " %-6s %-6s %-6s %-19s %6s"
#define RK_CPU_COLUMN " %6s"

/* The rate column: ISR runs per second over the last redraw interval, all
 * CPUs together (the sum of the row's CPU columns, as /proc/interrupts
 * counts: a broadcast interrupt counts once per CPU that ran its ISR). */
typedef struct _RK_RATE_STATE {
    bool Valid; /* a previous draw to measure from */
    uint64_t ElapsedMs;
    uint64_t Totals[RkDeviceCount];
} RK_RATE_STATE;

static RK_RATE_STATE RkpRate;

static uint64_t RkpTotalRuns(const RK_DEVICE *Device)
{
    uint64_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        Total += Device->Runs[Cpu];
    return Total;
}

/* "-" on the first draw (no interval yet); rounded to the nearest whole. */
static void RkpFormatRate(uint64_t Runs, uint64_t Previous, uint64_t IntervalMs, char *Buffer, uint32_t Size)
{
    if (!RkpRate.Valid || IntervalMs == 0 || Runs < Previous)
        RkFormatString(Buffer, Size, "-");
    else
        RkFormatString(Buffer, Size, "%lu", ((Runs - Previous) * 1000u + IntervalMs / 2u) / IntervalMs);
}

static void RkpDrawRow(const RK_DEVICE *Device, uint64_t Runs, uint64_t IntervalMs)
{
    char Line[16] = "-", Vector[8] = "-", Policy[40] = "disconnected", Rate[24];
    if (!Device->Present)
        RkFormatString(Policy, sizeof(Policy), "absent");
    if (RkDeviceDescribe(Device, Line, sizeof(Line))) {
        RkFormatString(Vector, sizeof(Vector), "0x%02x", KeGetInterruptVector(Device->Connection.Interrupts[0]));
        RkpDescribePolicy(Device, Policy, sizeof(Policy));
    }
    RkpFormatRate(Runs, RkpRate.Totals[Device->Id], IntervalMs, Rate, sizeof(Rate));
    RkPrint(RK_ROW_HEAD, Device->Name, Line, Vector, Policy, Rate);
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++)
        RkPrint(" %6lu", Device->Runs[Cpu]);
    RkPrint("\n");
}

void RkDemoDrawTable(bool Plain, uint64_t ElapsedMs, const char *Input, const char *Reply)
{
    uint64_t Seconds = ElapsedMs / 1000u;
    bool WasEnabled = RkAcquireConsole();
    if (Plain)
        RkPrint("---- t=%lus\n", Seconds);
    else
        RkPrint("%sirqroute on QEMU: %u CPUs, t=%lus   (type 'help'; 'quit' or Ctrl-C to leave)\n\n",
                RK_ANSI_HOME_CLEAR, RkProcessorCount, Seconds);
    RkPrint(RK_ROW_HEAD, "device", "line", "vector", "policy", "rate/s");
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        char Name[16];
        RkFormatString(Name, sizeof(Name), "CPU%u", Cpu);
        RkPrint(RK_CPU_COLUMN, Name);
    }
    RkPrint("\n");
    uint64_t IntervalMs = ElapsedMs - RkpRate.ElapsedMs;
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        const RK_DEVICE *Device = RkDeviceGet((RK_DEVICE_ID)Id);
        uint64_t Runs = RkpTotalRuns(Device);
        RkpDrawRow(Device, Runs, IntervalMs);
        RkpRate.Totals[Id] = Runs;
    }
    RkpRate.ElapsedMs = ElapsedMs;
    RkpRate.Valid = true;
    if (!Plain)
        RkPrint("\n%s\n> %s", Reply, Input);
    RkReleaseConsole(WasEnabled);
}
