/*
 * The demo's commands:
 *   route <dev> cpu <n> | round-robin [set] | lowest [set] | affinity <set> | broadcast <set>
 *   connect <dev> | disconnect <dev> | raise <dev> | help | quit
 * Sets: "1-3", "0,2", "0,2-3", "all"; an omitted set means every CPU.
 * A bad command gets a message saying what was wrong; nothing changes.
 */
#include <irqroute/ke.h>

#include "demo.h"

/* One more than the longest command, so that extra words are seen. */
#define KI_DEMO_MAX_WORDS 5u
#define KI_DEMO_RTC_HZ 16u
#define KI_DEMO_PIT_HZ 20u

static const char KipHelp[] =
    "commands:\n"
    "  route <dev> cpu <n>            every interrupt to CPU n\n"
    "  route <dev> round-robin [set]  to the next CPU of the set after each interrupt\n"
    "  route <dev> lowest [set]       to the CPU of the set at the lowest IRQL\n"
    "  route <dev> affinity [set]     to the least-loaded CPU of the set (chosen once)\n"
    "  route <dev> broadcast [set]    to every CPU of the set at once\n"
    "  connect <dev> | disconnect <dev> | raise <dev> | help | quit\n"
    "devices: pit rtc com1 kbd edu; sets: 1-3, 0,2, all (left out: all)";

static bool KipEqual(const char *A, const char *B)
{
    while (*A != 0 && *A == *B)
        A++, B++;
    return *A == *B;
}

/* Splits Line in place at blanks; returns the number of words. */
static uint32_t KipSplit(char *Line, char *Words[KI_DEMO_MAX_WORDS])
{
    uint32_t Count = 0;
    while (*Line != 0 && Count < KI_DEMO_MAX_WORDS) {
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

static bool KipParseNumber(const char **Text, uint32_t *Value)
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

bool KiDemoParseCpuSet(const char *Text, IR_CPU_SET *Set)
{
    IrCpuSetZero(Set);
    if (KipEqual(Text, "all")) {
        for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++)
            IrCpuSetAdd(Set, Cpu);
        return true;
    }
    for (;;) {
        uint32_t First, Last;
        if (!KipParseNumber(&Text, &First))
            return false;
        Last = First;
        if (*Text == '-' && (Text++, !KipParseNumber(&Text, &Last)))
            return false;
        if (Last < First || Last >= KiProcessorCount)
            return false;
        for (uint32_t Cpu = First; Cpu <= Last; Cpu++)
            IrCpuSetAdd(Set, Cpu);
        if (*Text == 0)
            return true;
        if (*Text++ != ',')
            return false;
    }
}

IRQ_STATUS KiDemoConnect(KI_DEVICE *Device, const KI_DEVICE_ROUTING *Routing)
{
    IRQ_STATUS Status = KiDeviceConnect(Device, Routing);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    uint32_t Hz = Device->Id == KiDeviceRtc ? KI_DEMO_RTC_HZ : Device->Id == KiDevicePit ? KI_DEMO_PIT_HZ : 0;
    return KiDeviceStart(Device, Hz);
}

/* route <dev> <policy> [argument] -> a routing. */
static bool KipParseRouting(char **Words, uint32_t Count, KI_DEVICE_ROUTING *Routing, const char **Why)
{
    *Routing = (KI_DEVICE_ROUTING){.Cpu = IR_CPU_NONE};
    IrCpuSetZero(&Routing->Mask);
    const char *Policy = Words[2];
    const char *Argument = Count > 3 ? Words[3] : NULL;
    if (Count > 4) {
        *Why = "too many words: route <dev> <policy> [argument]";
        return false;
    }
    if (KipEqual(Policy, "cpu")) {
        Routing->Routing = IoDeviceFixed;
        if (Argument == NULL || !KipParseNumber(&Argument, &Routing->Cpu) || *Argument != 0) {
            *Why = "route <dev> cpu <n>: n is a CPU number";
            return false;
        }
        return true;
    }
    if (KipEqual(Policy, "round-robin"))
        Routing->Routing = IoDeviceRoundRobin;
    else if (KipEqual(Policy, "lowest"))
        Routing->Routing = IoDeviceLowest;
    else if (KipEqual(Policy, "affinity"))
        Routing->Routing = IoDeviceAffinity;
    else if (KipEqual(Policy, "broadcast"))
        Routing->Routing = IoDeviceBroadcast;
    else {
        *Why = "policy is one of: cpu, round-robin, lowest, affinity, broadcast";
        return false;
    }
    if (Argument != NULL && !KiDemoParseCpuSet(Argument, &Routing->Mask)) {
        *Why = "a CPU set is like 1-3, 0,2 or all (online CPUs only)";
        return false;
    }
    return true;
}

static void KipReplyStatus(char *Reply, uint32_t Size, const char *Done, const KI_DEVICE *Device, IRQ_STATUS Status)
{
    if (Status == IRQ_STATUS_SUCCESS)
        KiFormatString(Reply, Size, "ok: %s %s", Done, Device->Name);
    else
        KiFormatString(Reply, Size, "error: %s %s: %s", Done, Device->Name, IrStatusName(Status));
}

/* An I/O APIC entry and a compatibility-format MSI carry an 8-bit
 * destination (82093AA 3.2.4; SDM vol. 3A 11.11.1), and 0xFF there is the
 * xAPIC broadcast: without interrupt remapping a device interrupt reaches
 * APIC ids 0-254 only, and a logical one names eight CPUs at most. */
#define KI_DEMO_APIC_ID_LIMIT 0xFFu

/* The first CPU of the routing a device interrupt cannot reach, or
 * IR_CPU_NONE. */
static uint32_t KipUnreachableCpu(const KI_DEVICE_ROUTING *Routing)
{
    if (Routing->Routing == IoDeviceFixed)
        return Routing->Cpu < KiProcessorCount && KiPcr[Routing->Cpu].ApicId >= KI_DEMO_APIC_ID_LIMIT
                   ? Routing->Cpu
                   : IR_CPU_NONE;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Routing->Mask) {
        if (Cpu < KiProcessorCount && KiPcr[Cpu].ApicId >= KI_DEMO_APIC_ID_LIMIT)
            return Cpu;
    }
    return IR_CPU_NONE;
}

/* Says why the library refused: the CPU the hardware cannot reach, or the
 * set a logical destination cannot name. */
static void KipReplyRefusal(char *Reply, uint32_t Size, const KI_DEVICE *Device, const KI_DEVICE_ROUTING *Routing,
                            IRQ_STATUS Status)
{
    uint32_t Cpu = KipUnreachableCpu(Routing);
    if (Cpu != IR_CPU_NONE)
        KiFormatString(Reply, Size,
                       "error: routed %s: %s: cpu %u has APIC id %u: device interrupts reach APIC ids below 255 only "
                       "without interrupt remapping",
                       Device->Name, IrStatusName(Status), Cpu, KiPcr[Cpu].ApicId);
    else if (Routing->Routing == IoDeviceBroadcast)
        KiFormatString(Reply, Size,
                       "error: routed %s: %s: a device's logical destination has 8 bits: it names CPUs 0-7 (xAPIC "
                       "flat) or x2APIC ids 0-7 (x2APIC, without interrupt remapping) only",
                       Device->Name, IrStatusName(Status));
    else
        KipReplyStatus(Reply, Size, "routed", Device, Status);
}

static void KipRoute(char **Words, uint32_t Count, KI_DEVICE *Device, char *Reply, uint32_t Size)
{
    KI_DEVICE_ROUTING Routing;
    const char *Why = NULL;
    if (Count < 3) {
        KiFormatString(Reply, Size, "error: route <dev> <policy> [argument]");
        return;
    }
    if (!KipParseRouting(Words, Count, &Routing, &Why)) {
        KiFormatString(Reply, Size, "error: %s", Why);
        return;
    }
    /* A refusal that names an unreachable CPU is explained whatever the
     * status (a live move to a CPU outside the route's reachable set is
     * INVALID_CPU, a new connection NOT_SUPPORTED). */
    IRQ_STATUS Status = KiDeviceRoute(Device, &Routing);
    if (Status != IRQ_STATUS_SUCCESS &&
        (KipUnreachableCpu(&Routing) != IR_CPU_NONE || Status == IRQ_STATUS_NOT_SUPPORTED))
        KipReplyRefusal(Reply, Size, Device, &Routing, Status);
    else
        KipReplyStatus(Reply, Size, "routed", Device, Status);
}

static IRQ_STATUS KipDisconnect(KI_DEVICE *Device)
{
    IRQ_STATUS Status = KiDeviceDisconnect(Device);
    return Status;
}

/* A device that is not connected has no interrupt to raise (edu's MSI is
 * off; the others' IRQ is masked): say so rather than report a success. */
static IRQ_STATUS KipRaise(KI_DEVICE *Device)
{
    return Device->Connected ? KiDeviceRaise(Device) : IRQ_STATUS_NOT_CONNECTED;
}

bool KiDemoExecute(char *Line, char *Reply, uint32_t Size)
{
    char *Words[KI_DEMO_MAX_WORDS];
    uint32_t Count = KipSplit(Line, Words);
    Reply[0] = 0;
    if (Count == 0)
        return true;
    if (KipEqual(Words[0], "quit"))
        return false;
    if (KipEqual(Words[0], "help")) {
        KiFormatString(Reply, Size, "%s", KipHelp);
        return true;
    }
    KI_DEVICE *Device = Count > 1 ? KiDeviceByName(Words[1]) : NULL;
    bool Route = KipEqual(Words[0], "route");
    bool Known = Route || KipEqual(Words[0], "connect") || KipEqual(Words[0], "disconnect") ||
                 KipEqual(Words[0], "raise");
    if (!Known) {
        KiFormatString(Reply, Size, "error: unknown command '%s' (type 'help')", Words[0]);
    } else if (Count < 2) {
        KiFormatString(Reply, Size, "error: %s needs a device: pit rtc com1 kbd edu", Words[0]);
    } else if (Device == NULL) {
        KiFormatString(Reply, Size, "error: unknown device '%s' (devices: pit rtc com1 kbd edu)", Words[1]);
    } else if (Route) {
        KipRoute(Words, Count, Device, Reply, Size);
    } else if (Count > 2) {
        KiFormatString(Reply, Size, "error: too many words: %s <dev>", Words[0]);
    } else if (KipEqual(Words[0], "connect")) {
        KipReplyStatus(Reply, Size, "connected", Device, KiDemoConnect(Device, NULL));
    } else if (KipEqual(Words[0], "disconnect")) {
        KipReplyStatus(Reply, Size, "disconnected", Device, KipDisconnect(Device));
    } else {
        KipReplyStatus(Reply, Size, "raised", Device, KipRaise(Device));
    }
    return true;
}
