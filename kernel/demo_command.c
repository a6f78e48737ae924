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
    IRQ_STATUS Status = KiDeviceRoute(Device, &Routing);
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
