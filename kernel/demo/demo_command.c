/* SPDX-License-Identifier: MIT */
/*
 * The demo's commands:
 *   route <dev> cpu <n> | round-robin [set] | lowest [set] | affinity <set> | broadcast <set>
 *   connect <dev> | disconnect <dev> | raise <dev> | dump | help | quit
 *   offline <n> | online <n> | balance on|off|once
 * Sets: "1-3", "0,2", "0,2-3", "all"; an omitted set means every CPU.
 * A bad command gets a message saying what was wrong; nothing changes.
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "demo.h"
#include "periodic.h"

/* One more than the longest command, so that extra words are seen. */
#define RK_DEMO_MAX_WORDS 5u
#define RK_DEMO_RTC_HZ 16u
#define RK_DEMO_PIT_HZ 20u

static const char RkpHelp[] =
    "commands:\n"
    "  route <dev> cpu <n>            every interrupt to CPU n\n"
    "  route <dev> round-robin [set]  to the next CPU of the set after each interrupt\n"
    "  route <dev> lowest [set]       to the CPU of the set at the lowest IRQL\n"
    "  route <dev> affinity [set]     to the least-loaded CPU of the set (chosen once)\n"
    "  route <dev> broadcast [set]    to every CPU of the set at once\n"
    "  connect <dev> | disconnect <dev> | raise <dev> | help | quit\n"
    "  dump                           the library's routing state (IoDumpRoutingState)\n"
    "  offline <n> | online <n>       CPU n out of device interrupt routing and back\n"
    "  balance on|off|once            the balancer: a round every second, or one\n"
    "devices: pit rtc com1 kbd edu; sets: 1-3, 0,2, all (left out: all)";

static bool RkpEqual(const char *A, const char *B)
{
    while (*A != 0 && *A == *B)
        A++, B++;
    return *A == *B;
}

/* Splits Line in place at blanks; returns the number of words. */
static uint32_t RkpSplit(char *Line, char *Words[RK_DEMO_MAX_WORDS])
{
    uint32_t Count = 0;
    while (*Line != 0 && Count < RK_DEMO_MAX_WORDS) {
        while (*Line == ' ' || *Line == '\t')
            *Line++ = 0;
        if (*Line == 0)
            break;
        Words[Count++] = Line;
        while (*Line != 0 && *Line != ' ' && *Line != '\t')
            Line++;
    }
    return Count;
}

static bool RkpParseNumber(const char **Text, uint32_t *Value)
{
    const char *At = *Text;
    uint32_t Number = 0;
    if (*At < '0' || *At > '9')
        return false;
    while (*At >= '0' && *At <= '9' && Number < 100000u)
        Number = Number * 10u + (uint32_t)(*At++ - '0');
    *Text = At;
    *Value = Number;
    return true;
}

/* The one parser of CPU lists (IrCpuSetParse, base), as irqsim's scenario
 * files use it; "all" and the bound are the CPUs that started. */
bool RkDemoParseCpuSet(const char *Text, IR_CPU_SET *Set)
{
    return IrCpuSetParse(Text, RkProcessorCount, Set) == IRQ_STATUS_SUCCESS;
}

IRQ_STATUS RkDemoConnect(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing)
{
    IRQ_STATUS Status = RkDeviceConnect(Device, Routing);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    uint32_t Hz = Device->Id == RkDeviceRtc ? RK_DEMO_RTC_HZ : Device->Id == RkDevicePit ? RK_DEMO_PIT_HZ : 0;
    return RkDeviceStart(Device, Hz);
}

/* route <dev> <policy> [argument] -> a routing. */
static bool RkpParseRouting(char **Words, uint32_t Count, RK_DEVICE_ROUTING *Routing, const char **Why)
{
    *Routing = (RK_DEVICE_ROUTING){.Cpu = IR_CPU_NONE};
    IrCpuSetZero(&Routing->Mask);
    const char *Policy = Words[2];
    const char *Argument = Count > 3 ? Words[3] : NULL;
    if (Count > 4) {
        *Why = "too many words: route <dev> <policy> [argument]";
        return false;
    }
    if (RkpEqual(Policy, "cpu")) {
        Routing->Routing = IoDeviceFixed;
        if (Argument == NULL || !RkpParseNumber(&Argument, &Routing->Cpu) || *Argument != 0) {
            *Why = "route <dev> cpu <n>: n is a CPU number";
            return false;
        }
        return true;
    }
    Routing->Routing = IoDeviceRoutingCount;
    for (uint32_t Each = 0; Each < IoDeviceRoutingCount; Each++)
        if (RkDemoSetRoutingNames[Each] != NULL && RkpEqual(Policy, RkDemoSetRoutingNames[Each]))
            Routing->Routing = (IO_DEVICE_ROUTING)Each;
    if (Routing->Routing == IoDeviceRoutingCount) {
        *Why = "policy is one of: cpu, round-robin, lowest, affinity, broadcast";
        return false;
    }
    if (Argument != NULL && !RkDemoParseCpuSet(Argument, &Routing->Mask)) {
        *Why = "a CPU set is like 1-3, 0,2 or all (online CPUs only)";
        return false;
    }
    return true;
}

static void RkpReplyStatus(char *Reply, uint32_t Size, const char *Done, const RK_DEVICE *Device, IRQ_STATUS Status)
{
    if (Status == IRQ_STATUS_SUCCESS)
        RkFormatString(Reply, Size, "ok: %s %s", Done, Device->Name);
    else
        RkFormatString(Reply, Size, "error: %s %s: %s", Done, Device->Name, IrStatusName(Status));
}

/* An I/O APIC entry and a compatibility-format MSI carry an 8-bit
 * destination (82093AA 3.2.4; SDM vol. 3A 11.11.1), and 0xFF there is the
 * xAPIC broadcast: without interrupt remapping a device interrupt reaches
 * APIC ids 0-254 only, and a logical one names eight CPUs at most. */
#define RK_DEMO_APIC_ID_LIMIT 0xFFu

/* The first CPU of the routing a device interrupt cannot reach, or
 * IR_CPU_NONE. */
static uint32_t RkpUnreachableCpu(const RK_DEVICE_ROUTING *Routing)
{
    if (Routing->Routing == IoDeviceFixed)
        return Routing->Cpu < RkProcessorCount && RkPcr[Routing->Cpu].ApicId >= RK_DEMO_APIC_ID_LIMIT
                   ? Routing->Cpu
                   : IR_CPU_NONE;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Routing->Mask) {
        if (Cpu < RkProcessorCount && RkPcr[Cpu].ApicId >= RK_DEMO_APIC_ID_LIMIT)
            return Cpu;
    }
    return IR_CPU_NONE;
}

/* Says why the library refused: the CPU the hardware cannot reach, or the
 * set a logical destination cannot name. */
static void RkpReplyRefusal(char *Reply, uint32_t Size, const RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing,
                            IRQ_STATUS Status)
{
    uint32_t Cpu = RkpUnreachableCpu(Routing);
    if (Cpu != IR_CPU_NONE)
        RkFormatString(Reply, Size,
                       "error: routed %s: %s: cpu %u has APIC id %u: device interrupts reach APIC ids below 255 only "
                       "without interrupt remapping",
                       Device->Name, IrStatusName(Status), Cpu, RkPcr[Cpu].ApicId);
    else if (Routing->Routing == IoDeviceBroadcast)
        RkFormatString(Reply, Size,
                       "error: routed %s: %s: a device's logical destination has 8 bits: it names CPUs 0-7 (xAPIC "
                       "flat) or x2APIC ids 0-7 (x2APIC, without interrupt remapping) only",
                       Device->Name, IrStatusName(Status));
    else
        RkpReplyStatus(Reply, Size, "routed", Device, Status);
}

static void RkpRoute(char **Words, uint32_t Count, RK_DEVICE *Device, char *Reply, uint32_t Size)
{
    RK_DEVICE_ROUTING Routing;
    const char *Why = NULL;
    if (Count < 3) {
        RkFormatString(Reply, Size, "error: route <dev> <policy> [argument]");
        return;
    }
    if (!RkpParseRouting(Words, Count, &Routing, &Why)) {
        RkFormatString(Reply, Size, "error: %s", Why);
        return;
    }
    /* A refusal that names an unreachable CPU is explained whatever the
     * status (a live move to a CPU outside the route's reachable set is
     * INVALID_CPU, a new connection NOT_SUPPORTED). */
    IRQ_STATUS Status = RkDeviceRoute(Device, &Routing);
    if (Status != IRQ_STATUS_SUCCESS &&
        (RkpUnreachableCpu(&Routing) != IR_CPU_NONE || Status == IRQ_STATUS_NOT_SUPPORTED))
        RkpReplyRefusal(Reply, Size, Device, &Routing, Status);
    else
        RkpReplyStatus(Reply, Size, "routed", Device, Status);
}

static IRQ_STATUS RkpDisconnect(RK_DEVICE *Device)
{
    IRQ_STATUS Status = RkDeviceDisconnect(Device);
    return Status;
}

/* ---- offline, online, balance ------------------------------------------------------------ */

/* Each connected device's CPU now (IR_CPU_NONE: not movable). */
static void RkpQueryTargets(uint32_t Targets[RkDeviceCount])
{
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        const RK_DEVICE *Device = RkDeviceGet((RK_DEVICE_ID)Id);
        Targets[Id] = IR_CPU_NONE;
        if (Device->Connected)
            (void)IoQueryInterruptTarget(Device->Connection.Interrupts[0], &Targets[Id], NULL);
    }
}

/* "ok: cpu 1 offline: moved pit to cpu 3, rtc to cpu 0; affinity broken: kbd (1)" */
static void RkpReplyOffline(char *Reply, uint32_t Size, uint32_t Cpu, const IO_PROCESSOR_OFFLINE_RESULT *Result,
                            const uint32_t Before[RkDeviceCount])
{
    uint32_t After[RkDeviceCount];
    RkpQueryTargets(After);
    size_t Used = RkFormatString(Reply, Size, "ok: cpu %u offline: %u moved", Cpu, Result->Moved);
    for (uint32_t Id = 0; Id < RkDeviceCount && Used + 1u < Size; Id++) {
        if (Before[Id] == Cpu && After[Id] != Cpu)
            Used += RkFormatString(Reply + Used, Size - Used, " %s->cpu%u", RkDeviceGet((RK_DEVICE_ID)Id)->Name,
                                   After[Id]);
    }
    const RK_DEVICE *Broken = RkDeviceOfInterrupt(Result->FirstBroken);
    if (Result->AffinityBroken != 0 && Used + 1u < Size)
        RkFormatString(Reply + Used, Size - Used, "; affinity broken for %u (%s): any online CPU until online %u",
                       Result->AffinityBroken, Broken ? Broken->Name : "?", Cpu);
}

static void RkpOffline(uint32_t Cpu, char *Reply, uint32_t Size)
{
    uint32_t Before[RkDeviceCount];
    RkpQueryTargets(Before);
    IO_PROCESSOR_OFFLINE_RESULT Result;
    IRQ_STATUS Status = IoSetProcessorOffline(Cpu, &Result);
    const RK_DEVICE *Blocking = RkDeviceOfInterrupt(Result.Blocking);
    if (Status == IRQ_STATUS_SUCCESS)
        RkpReplyOffline(Reply, Size, Cpu, &Result, Before);
    else if (Status == IRQ_STATUS_ACCESS_DENIED && Blocking != NULL)
        RkFormatString(Reply, Size, "error: offline %u: ACCESS_DENIED: blocking device %s cannot leave cpu %u "
                       "(broadcast, affinity or plain fixed)", Cpu, Blocking->Name, Cpu);
    else if (Status == IRQ_STATUS_ACCESS_DENIED)
        RkFormatString(Reply, Size, "error: offline %u: ACCESS_DENIED: the last online CPU, or an interrupt "
                       "connected through Ke is there", Cpu);
    else
        RkFormatString(Reply, Size, "error: offline %u: %s%s", Cpu, IrStatusName(Status),
                       Status == IRQ_STATUS_INVALID_STATE ? " (offline already)" : "");
}

static void RkpOnline(uint32_t Cpu, char *Reply, uint32_t Size)
{
    IRQ_STATUS Status = IoSetProcessorOnline(Cpu);
    if (Status == IRQ_STATUS_SUCCESS)
        RkFormatString(Reply, Size, "ok: cpu %u online: routes and the balancer may use it again", Cpu);
    else
        RkFormatString(Reply, Size, "error: online %u: %s%s", Cpu, IrStatusName(Status),
                       Status == IRQ_STATUS_INVALID_STATE ? " (online already)" : "");
}

/* offline <n> | online <n> */
static void RkpCpuCommand(char **Words, uint32_t Count, char *Reply, uint32_t Size)
{
    const char *Argument = Count > 1 ? Words[1] : "";
    uint32_t Cpu;
    if (Count != 2 || !RkpParseNumber(&Argument, &Cpu) || *Argument != 0)
        RkFormatString(Reply, Size, "error: %s <n>: n is a CPU number", Words[0]);
    else if (RkpEqual(Words[0], "offline"))
        RkpOffline(Cpu, Reply, Size);
    else
        RkpOnline(Cpu, Reply, Size);
}

/* balance on|off|once */
static void RkpBalanceCommand(char **Words, uint32_t Count, char *Reply, uint32_t Size)
{
    const char *Mode = Count == 2 ? Words[1] : "";
    if (RkpEqual(Mode, "on") || RkpEqual(Mode, "off")) {
        RkBalancerEnable(RkpEqual(Mode, "on"));
        RkFormatString(Reply, Size, "ok: balancing %s%s", Mode,
                       RkBalancerIsEnabled() ? ": a round every second, moves reported" : "");
    } else if (RkpEqual(Mode, "once")) {
        RkBalancerRequestOnce();
        RkFormatString(Reply, Size, "ok: one balancing round: its report follows within two seconds");
    } else {
        RkFormatString(Reply, Size, "error: balance on|off|once");
    }
}

/* A device that is not connected has no interrupt to raise (edu's MSI is
 * off; the others' IRQ is masked): say so rather than report a success. */
static IRQ_STATUS RkpRaise(RK_DEVICE *Device)
{
    return Device->Connected ? RkDeviceRaise(Device) : IRQ_STATUS_NOT_CONNECTED;
}

static void RkpPrintDumpLine(const char *Line, void *Context)
{
    (void)Context;
    RkPrint("%s\n", Line);
}

/* The routing state, printed under the table (RkPrint takes only the
 * console lock, and no ISR takes the I/O manager's lock the dump holds). */
static RK_DEMO_NEXT RkpDump(char *Reply, uint32_t Size)
{
    IRQ_STATUS Status = IoDumpRoutingState(RkpPrintDumpLine, NULL);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkFormatString(Reply, Size, "error: dump: %s", IrStatusName(Status));
        return RkDemoContinue;
    }
    RkFormatString(Reply, Size, "routing state printed; the table is back with the next command");
    return RkDemoHoldScreen;
}

RK_DEMO_NEXT RkDemoExecute(char *Line, char *Reply, uint32_t Size)
{
    char *Words[RK_DEMO_MAX_WORDS];
    uint32_t Count = RkpSplit(Line, Words);
    Reply[0] = 0;
    if (Count == 0)
        return RkDemoContinue;
    if (RkpEqual(Words[0], "quit"))
        return RkDemoQuit;
    if (RkpEqual(Words[0], "help")) {
        RkFormatString(Reply, Size, "%s", RkpHelp);
        return RkDemoContinue;
    }
    if (RkpEqual(Words[0], "dump"))
        return RkpDump(Reply, Size);
    if (RkpEqual(Words[0], "offline") || RkpEqual(Words[0], "online")) {
        RkpCpuCommand(Words, Count, Reply, Size);
        return RkDemoContinue;
    }
    if (RkpEqual(Words[0], "balance")) {
        RkpBalanceCommand(Words, Count, Reply, Size);
        return RkDemoContinue;
    }
    RK_DEVICE *Device = Count > 1 ? RkDeviceByName(Words[1]) : NULL;
    bool Route = RkpEqual(Words[0], "route");
    bool Known = Route || RkpEqual(Words[0], "connect") || RkpEqual(Words[0], "disconnect") ||
                 RkpEqual(Words[0], "raise");
    if (!Known) {
        RkFormatString(Reply, Size, "error: unknown command '%s' (type 'help')", Words[0]);
    } else if (Count < 2) {
        RkFormatString(Reply, Size, "error: %s needs a device: pit rtc com1 kbd edu", Words[0]);
    } else if (Device == NULL) {
        RkFormatString(Reply, Size, "error: unknown device '%s' (devices: pit rtc com1 kbd edu)", Words[1]);
    } else if (Route) {
        RkpRoute(Words, Count, Device, Reply, Size);
    } else if (Count > 2) {
        RkFormatString(Reply, Size, "error: too many words: %s <dev>", Words[0]);
    } else if (RkpEqual(Words[0], "connect")) {
        RkpReplyStatus(Reply, Size, "connected", Device, RkDemoConnect(Device, NULL));
    } else if (RkpEqual(Words[0], "disconnect")) {
        RkpReplyStatus(Reply, Size, "disconnected", Device, RkpDisconnect(Device));
    } else {
        RkpReplyStatus(Reply, Size, "raised", Device, RkpRaise(Device));
    }
    return RkDemoContinue;
}
