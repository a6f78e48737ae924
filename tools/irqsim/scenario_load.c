/* SPDX-License-Identifier: MIT */
/*
 * Scenario files (docs/irqsim.md): YAML read with libyaml into a document
 * tree, then walked node by node. Every node carries its mark, so each
 * mistake is reported as "file:line: what is wrong". Unknown keys are
 * mistakes too: a misspelt "max-moves" must not silently mean "no limit".
 * CPU lists use the library's own parser (IrCpuSetParse), as the kernel
 * demo does, once the CPU count is final (IrsScenarioResolve).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "scenario.h"
#include "strategy.h"

typedef struct _IRSP_LOADER {
    yaml_document_t Document;
    IRS_SCENARIO *Scenario;
    char *Error;
} IRSP_LOADER;

static uint32_t IrspLine(const yaml_node_t *Node)
{
    return (uint32_t)Node->start_mark.line + 1u;
}

static bool IrspFail(IRSP_LOADER *Loader, uint32_t Line, const char *Format, ...)
{
    char Message[IRS_ERROR_MAX];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);
    snprintf(Loader->Error, IRS_ERROR_MAX, "%s:%u: %s", Loader->Scenario->Path, Line, Message);
    return false;
}

static yaml_node_t *IrspNode(IRSP_LOADER *Loader, int Index)
{
    return yaml_document_get_node(&Loader->Document, Index);
}

static const char *IrspScalar(const yaml_node_t *Node)
{
    return Node->type == YAML_SCALAR_NODE ? (const char *)Node->data.scalar.value : NULL;
}

static bool IrspNumber(IRSP_LOADER *Loader, const yaml_node_t *Node, const char *Key, double Minimum,
                       double Maximum, double *Value)
{
    const char *Text = IrspScalar(Node);
    char *End = NULL;
    errno = 0;
    double Parsed = Text != NULL ? strtod(Text, &End) : 0.0;
    if (Text == NULL || *Text == 0 || *End != 0 || errno != 0 || !isfinite(Parsed))
        return IrspFail(Loader, IrspLine(Node), "%s: a number is needed", Key);
    if (Parsed < Minimum || Parsed > Maximum)
        return IrspFail(Loader, IrspLine(Node), "%s: %g is outside %g .. %g", Key, Parsed, Minimum, Maximum);
    *Value = Parsed;
    return true;
}

static bool IrspInteger(IRSP_LOADER *Loader, const yaml_node_t *Node, const char *Key, uint32_t Minimum,
                        uint32_t Maximum, uint32_t *Value)
{
    double Parsed;
    if (!IrspNumber(Loader, Node, Key, Minimum, Maximum, &Parsed))
        return false;
    if (Parsed != floor(Parsed))
        return IrspFail(Loader, IrspLine(Node), "%s: a whole number is needed", Key);
    *Value = (uint32_t)Parsed;
    return true;
}

static bool IrspBool(IRSP_LOADER *Loader, const yaml_node_t *Node, const char *Key, bool *Value)
{
    const char *Text = IrspScalar(Node);
    if (Text != NULL && (strcmp(Text, "true") == 0 || strcmp(Text, "yes") == 0 || strcmp(Text, "on") == 0))
        *Value = true;
    else if (Text != NULL && (strcmp(Text, "false") == 0 || strcmp(Text, "no") == 0 || strcmp(Text, "off") == 0))
        *Value = false;
    else
        return IrspFail(Loader, IrspLine(Node), "%s: true or false is needed", Key);
    return true;
}

static bool IrspText(IRSP_LOADER *Loader, const yaml_node_t *Node, const char *Key, char *Buffer, size_t Size)
{
    const char *Text = IrspScalar(Node);
    if (Text == NULL || *Text == 0)
        return IrspFail(Loader, IrspLine(Node), "%s: a text is needed", Key);
    if (strlen(Text) >= Size)
        return IrspFail(Loader, IrspLine(Node), "%s: longer than %zu characters", Key, Size - 1);
    snprintf(Buffer, Size, "%s", Text);
    return true;
}

/* A CPU list, kept as text with its line (IrsScenarioResolve parses it). */
static bool IrspCpuListText(IRSP_LOADER *Loader, const yaml_node_t *Node, const char *Key, char *Buffer,
                            size_t Size, uint32_t *Line)
{
    *Line = IrspLine(Node);
    return IrspText(Loader, Node, Key, Buffer, Size);
}

static bool IrspExpectKind(IRSP_LOADER *Loader, const yaml_node_t *Node, yaml_node_type_t Type, const char *What)
{
    if (Node->type == Type)
        return true;
    return IrspFail(Loader, IrspLine(Node), "%s must be a %s", What,
                    Type == YAML_MAPPING_NODE ? "mapping (key: value)" : "list (- item)");
}

/* Calls Field(Loader, Key, Value, Context) for each pair of Mapping. */
typedef bool (*IRSP_FIELD)(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context);

static bool IrspForEachPair(IRSP_LOADER *Loader, yaml_node_t *Mapping, const char *What, IRSP_FIELD Field,
                            void *Context)
{
    if (!IrspExpectKind(Loader, Mapping, YAML_MAPPING_NODE, What))
        return false;
    for (yaml_node_pair_t *Pair = Mapping->data.mapping.pairs.start; Pair < Mapping->data.mapping.pairs.top;
         Pair++) {
        yaml_node_t *Key = IrspNode(Loader, Pair->key);
        const char *Name = IrspScalar(Key);
        if (Name == NULL)
            return IrspFail(Loader, IrspLine(Key), "%s: keys are plain words", What);
        if (!Field(Loader, Name, IrspNode(Loader, Pair->value), Context))
            return false;
    }
    return true;
}

static bool IrspUnknown(IRSP_LOADER *Loader, const char *Key, const yaml_node_t *Value, const char *What)
{
    return IrspFail(Loader, IrspLine(Value), "%s: unknown key '%s'", What, Key);
}

/* ---- devices ------------------------------------------------------------------ */

static bool IrspBurstField(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context)
{
    IRS_BURST *Burst = Context;
    if (strcmp(Key, "start") == 0)
        return IrspNumber(Loader, Value, Key, 0, 1e6, &Burst->Start);
    if (strcmp(Key, "end") == 0)
        return IrspNumber(Loader, Value, Key, 0, 1e6, &Burst->End);
    if (strcmp(Key, "rate") == 0)
        return IrspNumber(Loader, Value, Key, 0, 1e9, &Burst->Rate);
    return IrspUnknown(Loader, Key, Value, "burst");
}

static bool IrspBursts(IRSP_LOADER *Loader, yaml_node_t *List, IRS_DEVICE *Device)
{
    if (!IrspExpectKind(Loader, List, YAML_SEQUENCE_NODE, "bursts"))
        return false;
    for (yaml_node_item_t *Item = List->data.sequence.items.start; Item < List->data.sequence.items.top; Item++) {
        yaml_node_t *Node = IrspNode(Loader, *Item);
        if (Device->BurstCount == IRS_MAX_BURSTS)
            return IrspFail(Loader, IrspLine(Node), "bursts: at most %u per device", IRS_MAX_BURSTS);
        IRS_BURST *Burst = &Device->Bursts[Device->BurstCount++];
        *Burst = (IRS_BURST){.Start = -1, .End = -1, .Rate = -1};
        if (!IrspForEachPair(Loader, Node, "burst", IrspBurstField, Burst))
            return false;
        if (Burst->Start < 0 || Burst->End < 0 || Burst->Rate < 0)
            return IrspFail(Loader, IrspLine(Node), "burst: start, end and rate are all needed");
        if (Burst->End <= Burst->Start)
            return IrspFail(Loader, IrspLine(Node), "burst: end must come after start");
    }
    return true;
}

static bool IrspDeviceField(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context)
{
    IRS_DEVICE *Device = Context;
    if (strcmp(Key, "name") == 0)
        return IrspText(Loader, Value, Key, Device->Name, sizeof(Device->Name));
    if (strcmp(Key, "kind") == 0) {
        const char *Text = IrspScalar(Value);
        if (Text != NULL && strcmp(Text, "msi") == 0)
            Device->Kind = IrsDeviceMsi;
        else if (Text != NULL && strcmp(Text, "line") == 0)
            Device->Kind = IrsDeviceLine;
        else
            return IrspFail(Loader, IrspLine(Value), "kind: msi or line");
        return true;
    }
    if (strcmp(Key, "rate") == 0)
        return IrspNumber(Loader, Value, Key, 0, 1e9, &Device->Rate);
    if (strcmp(Key, "cost") == 0)
        return IrspNumber(Loader, Value, Key, 1e-6, 1e6, &Device->Cost);
    if (strcmp(Key, "affinity") == 0)
        return IrspCpuListText(Loader, Value, Key, Device->AffinityText, sizeof(Device->AffinityText),
                               &Device->AffinityLine);
    if (strcmp(Key, "pinned") == 0)
        return IrspBool(Loader, Value, Key, &Device->Pinned);
    if (strcmp(Key, "bursts") == 0)
        return IrspBursts(Loader, Value, Device);
    return IrspUnknown(Loader, Key, Value, "device");
}

static int32_t IrspFindDevice(const IRS_SCENARIO *Scenario, const char *Name, uint32_t Before)
{
    for (uint32_t Index = 0; Index < Before; Index++)
        if (strcmp(Scenario->Devices[Index].Name, Name) == 0)
            return (int32_t)Index;
    return -1;
}

static bool IrspDevices(IRSP_LOADER *Loader, yaml_node_t *List)
{
    IRS_SCENARIO *Scenario = Loader->Scenario;
    if (!IrspExpectKind(Loader, List, YAML_SEQUENCE_NODE, "devices"))
        return false;
    for (yaml_node_item_t *Item = List->data.sequence.items.start; Item < List->data.sequence.items.top; Item++) {
        yaml_node_t *Node = IrspNode(Loader, *Item);
        if (Scenario->DeviceCount == IRS_MAX_DEVICES)
            return IrspFail(Loader, IrspLine(Node), "devices: at most %u", IRS_MAX_DEVICES);
        IRS_DEVICE *Device = &Scenario->Devices[Scenario->DeviceCount];
        *Device = (IRS_DEVICE){.Kind = IrsDeviceMsi, .Rate = -1, .Cost = 1.0, .AffinityLine = IrspLine(Node)};
        snprintf(Device->AffinityText, sizeof(Device->AffinityText), "all");
        if (!IrspForEachPair(Loader, Node, "device", IrspDeviceField, Device))
            return false;
        if (Device->Name[0] == 0 || Device->Rate < 0)
            return IrspFail(Loader, IrspLine(Node), "device: name and rate are needed");
        if (IrspFindDevice(Scenario, Device->Name, Scenario->DeviceCount) >= 0)
            return IrspFail(Loader, IrspLine(Node), "device '%s' is named twice", Device->Name);
        Scenario->DeviceCount++;
    }
    return true;
}

/* ---- balancer ----------------------------------------------------------------- */

static bool IrspBalancerField(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context)
{
    IRS_BALANCER *Balancer = Context;
    if (strcmp(Key, "enabled") == 0)
        return IrspBool(Loader, Value, Key, &Balancer->Enabled);
    if (strcmp(Key, "interval") == 0)
        return IrspNumber(Loader, Value, Key, 1e-6, 1e6, &Balancer->Interval);
    if (strcmp(Key, "min-gain") == 0)
        return IrspNumber(Loader, Value, Key, 0, 100, &Balancer->MinimumGain);
    if (strcmp(Key, "max-moves") == 0)
        return IrspInteger(Loader, Value, Key, 0, 1000000, &Balancer->MaxMoves);
    if (strcmp(Key, "banned") == 0)
        return IrspCpuListText(Loader, Value, Key, Balancer->BannedText, sizeof(Balancer->BannedText),
                               &Balancer->BannedLine);
    if (strcmp(Key, "one-shot") == 0)
        return IrspBool(Loader, Value, Key, &Balancer->OneShot);
    return IrspUnknown(Loader, Key, Value, "balancer");
}

/* ---- events ------------------------------------------------------------------- */

typedef struct _IRSP_EVENT_PARSE {
    IRS_EVENT *Event;
    bool HasAt, HasKind;
} IRSP_EVENT_PARSE;

static bool IrspEventField(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context)
{
    IRSP_EVENT_PARSE *Parse = Context;
    IRS_EVENT *Event = Parse->Event;
    if (strcmp(Key, "at") == 0) {
        Parse->HasAt = true;
        return IrspNumber(Loader, Value, Key, 0, 1e6, &Event->At);
    }
    if (strcmp(Key, "rate") == 0)
        return IrspNumber(Loader, Value, Key, 0, 1e9, &Event->Rate);
    static const char *const Kinds[] = {"offline", "online", "storm", "storm-end"};
    for (uint32_t Kind = 0; Kind < 4; Kind++) {
        if (strcmp(Key, Kinds[Kind]) != 0)
            continue;
        if (Parse->HasKind)
            return IrspFail(Loader, IrspLine(Value), "event: one of offline, online, storm, storm-end only");
        Parse->HasKind = true;
        Event->Kind = (IRS_EVENT_KIND)Kind;
        if (Event->Kind == IrsEventOffline || Event->Kind == IrsEventOnline)
            return IrspInteger(Loader, Value, Key, 0, IR_MAX_CPUS - 1, &Event->Cpu);
        const char *Name = IrspScalar(Value);
        int32_t Device = Name != NULL ? IrspFindDevice(Loader->Scenario, Name, Loader->Scenario->DeviceCount) : -1;
        if (Device < 0)
            return IrspFail(Loader, IrspLine(Value), "%s: no device named '%s' (devices come first)", Key,
                            Name != NULL ? Name : "?");
        Event->Device = (uint32_t)Device;
        return true;
    }
    return IrspUnknown(Loader, Key, Value, "event");
}

static bool IrspEvents(IRSP_LOADER *Loader, yaml_node_t *List)
{
    IRS_SCENARIO *Scenario = Loader->Scenario;
    if (!IrspExpectKind(Loader, List, YAML_SEQUENCE_NODE, "events"))
        return false;
    for (yaml_node_item_t *Item = List->data.sequence.items.start; Item < List->data.sequence.items.top; Item++) {
        yaml_node_t *Node = IrspNode(Loader, *Item);
        if (Scenario->EventCount == IRS_MAX_EVENTS)
            return IrspFail(Loader, IrspLine(Node), "events: at most %u", IRS_MAX_EVENTS);
        IRS_EVENT *Event = &Scenario->Events[Scenario->EventCount];
        *Event = (IRS_EVENT){.Line = IrspLine(Node)};
        IRSP_EVENT_PARSE Parse = {.Event = Event};
        if (!IrspForEachPair(Loader, Node, "event", IrspEventField, &Parse))
            return false;
        if (!Parse.HasAt || !Parse.HasKind)
            return IrspFail(Loader, IrspLine(Node), "event: 'at' and one of offline, online, storm, storm-end");
        if (Scenario->EventCount > 0 && Event->At < Scenario->Events[Scenario->EventCount - 1].At)
            return IrspFail(Loader, IrspLine(Node), "events must be in time order");
        Scenario->EventCount++;
    }
    return true;
}

/* ---- expect ------------------------------------------------------------------- */

static bool IrspExpectField(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context)
{
    IRS_EXPECT *Expect = Context;
    uint32_t Whole = 0;
    if (strcmp(Key, "max-load-within") == 0)
        return IrspNumber(Loader, Value, Key, 0, 1e6, &Expect->MaxLoadWithin);
    if (strcmp(Key, "moves-not-above-baselines") == 0)
        return IrspBool(Loader, Value, Key, &Expect->MovesNotAboveBaselines);
    bool Settled = strcmp(Key, "settled-within") == 0, Quiet = strcmp(Key, "quiet-rounds") == 0;
    if (!Settled && !Quiet && strcmp(Key, "moves-at-most") != 0)
        return IrspUnknown(Loader, Key, Value, "expect");
    if (!IrspInteger(Loader, Value, Key, 0, 1000000, &Whole))
        return false;
    *(Settled ? &Expect->SettledWithin : Quiet ? &Expect->QuietRounds : &Expect->MovesAtMost) = (int32_t)Whole;
    return true;
}

static bool IrspExpectStrategy(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context)
{
    (void)Context;
    IRS_STRATEGY_ID Id;
    if (!IrsStrategyFind(Key, &Id))
        return IrspFail(Loader, IrspLine(Value), "expect: '%s' is not a strategy (none, greedy, irqbalance, library)",
                        Key);
    IRS_EXPECT *Expect = &Loader->Scenario->Expect[Id];
    *Expect = (IRS_EXPECT){.Present = true, .MaxLoadWithin = -1, .SettledWithin = -1, .MovesAtMost = -1};
    return IrspForEachPair(Loader, Value, "expect", IrspExpectField, Expect);
}

/* ---- the top level -------------------------------------------------------------- */

static bool IrspTopField(IRSP_LOADER *Loader, const char *Key, yaml_node_t *Value, void *Context)
{
    (void)Context;
    IRS_SCENARIO *Scenario = Loader->Scenario;
    if (strcmp(Key, "name") == 0)
        return IrspText(Loader, Value, Key, Scenario->Name, sizeof(Scenario->Name));
    if (strcmp(Key, "cpus") == 0)
        return IrspInteger(Loader, Value, Key, 1, IR_MAX_CPUS, &Scenario->CpuCount);
    if (strcmp(Key, "duration") == 0)
        return IrspNumber(Loader, Value, Key, 1e-3, 1e6, &Scenario->Duration);
    if (strcmp(Key, "interval") == 0)
        return IrspNumber(Loader, Value, Key, 1e-4, 1e6, &Scenario->Interval);
    if (strcmp(Key, "devices") == 0)
        return IrspDevices(Loader, Value);
    if (strcmp(Key, "balancer") == 0)
        return IrspForEachPair(Loader, Value, "balancer", IrspBalancerField, &Scenario->Balancer);
    if (strcmp(Key, "events") == 0)
        return IrspEvents(Loader, Value);
    if (strcmp(Key, "expect") == 0)
        return IrspForEachPair(Loader, Value, "expect", IrspExpectStrategy, NULL);
    return IrspUnknown(Loader, Key, Value, "scenario");
}

/* What the whole file must say, once every key is read. */
static bool IrspCheckWhole(IRSP_LOADER *Loader, const yaml_node_t *Root)
{
    IRS_SCENARIO *Scenario = Loader->Scenario;
    uint32_t Line = IrspLine(Root);
    if (Scenario->CpuCount == 0 || Scenario->Duration <= 0 || Scenario->Interval <= 0)
        return IrspFail(Loader, Line, "cpus, duration and interval are needed");
    if (Scenario->DeviceCount == 0)
        return IrspFail(Loader, Line, "at least one device is needed");
    if (Scenario->Interval > Scenario->Duration)
        return IrspFail(Loader, Line, "interval %g is longer than duration %g", Scenario->Interval,
                        Scenario->Duration);
    IRS_BALANCER *Balancer = &Scenario->Balancer;
    if (Balancer->Interval <= 0)
        Balancer->Interval = Scenario->Interval;
    double Ratio = Balancer->Interval / Scenario->Interval;
    if (fabs(Ratio - round(Ratio)) > 1e-9 || Ratio < 1)
        return IrspFail(Loader, Balancer->BannedLine != 0 ? Balancer->BannedLine : Line,
                        "balancer interval %g is not a multiple of interval %g", Balancer->Interval,
                        Scenario->Interval);
    return true;
}

static bool IrspReadDocument(IRSP_LOADER *Loader, FILE *File)
{
    yaml_parser_t Parser;
    if (!yaml_parser_initialize(&Parser))
        return IrspFail(Loader, 0, "libyaml: out of memory");
    yaml_parser_set_input_file(&Parser, File);
    bool Loaded = yaml_parser_load(&Parser, &Loader->Document) != 0;
    if (!Loaded) {
        IrspFail(Loader, (uint32_t)Parser.problem_mark.line + 1u, "not YAML: %s",
                 Parser.problem != NULL ? Parser.problem : "unreadable");
    }
    yaml_parser_delete(&Parser);
    return Loaded;
}

bool IrsScenarioLoad(const char *Path, IRS_SCENARIO *Scenario, char Error[IRS_ERROR_MAX])
{
    memset(Scenario, 0, sizeof(*Scenario));
    snprintf(Scenario->Path, sizeof(Scenario->Path), "%s", Path);
    Scenario->Balancer = (IRS_BALANCER){.Enabled = true, .MinimumGain = -1};
    IRSP_LOADER Loader = {.Scenario = Scenario, .Error = Error};
    Error[0] = 0;
    FILE *File = fopen(Path, "rb");
    if (File == NULL) {
        snprintf(Error, IRS_ERROR_MAX, "%s: %s", Path, strerror(errno));
        return false;
    }
    bool Loaded = IrspReadDocument(&Loader, File);
    fclose(File);
    if (!Loaded)
        return false;
    yaml_node_t *Root = yaml_document_get_root_node(&Loader.Document);
    bool Ok;
    if (Root == NULL)
        Ok = IrspFail(&Loader, 1, "the file is empty");
    else
        Ok = IrspForEachPair(&Loader, Root, "the scenario", IrspTopField, NULL) && IrspCheckWhole(&Loader, Root);
    yaml_document_delete(&Loader.Document);
    if (Ok && Scenario->Name[0] == 0) {
        const char *Base = strrchr(Path, '/');
        snprintf(Scenario->Name, sizeof(Scenario->Name), "%s", Base != NULL ? Base + 1 : Path);
        char *Dot = strrchr(Scenario->Name, '.');
        if (Dot != NULL)
            *Dot = 0;
    }
    return Ok;
}

static bool IrspResolveFail(const IRS_SCENARIO *Scenario, char *Error, uint32_t Line, const char *Format,
                            const char *Text, uint32_t CpuCount)
{
    char Message[256];
    snprintf(Message, sizeof(Message), Format, Text, CpuCount);
    snprintf(Error, IRS_ERROR_MAX, "%s:%u: %s", Scenario->Path, Line, Message);
    return false;
}

bool IrsScenarioResolve(IRS_SCENARIO *Scenario, uint32_t CpuCount, char Error[IRS_ERROR_MAX])
{
    if (CpuCount != 0)
        Scenario->CpuCount = CpuCount;
    uint32_t Cpus = Scenario->CpuCount;
    for (uint32_t Index = 0; Index < Scenario->DeviceCount; Index++) {
        IRS_DEVICE *Device = &Scenario->Devices[Index];
        if (IrCpuSetParse(Device->AffinityText, Cpus, &Device->Affinity) != IRQ_STATUS_SUCCESS)
            return IrspResolveFail(Scenario, Error, Device->AffinityLine,
                                   "affinity '%s' is not a CPU list of CPUs below %u (like 0-3, 0,2 or all)",
                                   Device->AffinityText, Cpus);
    }
    IRS_BALANCER *Balancer = &Scenario->Balancer;
    IrCpuSetZero(&Balancer->Banned);
    if (Balancer->BannedText[0] != 0 &&
        IrCpuSetParse(Balancer->BannedText, Cpus, &Balancer->Banned) != IRQ_STATUS_SUCCESS)
        return IrspResolveFail(Scenario, Error, Balancer->BannedLine,
                               "banned '%s' is not a CPU list of CPUs below %u (like 0-3, 0,2 or all)",
                               Balancer->BannedText, Cpus);
    for (uint32_t Index = 0; Index < Scenario->EventCount; Index++) {
        const IRS_EVENT *Event = &Scenario->Events[Index];
        char Number[16];
        snprintf(Number, sizeof(Number), "%u", Event->Cpu);
        if ((Event->Kind == IrsEventOffline || Event->Kind == IrsEventOnline) && Event->Cpu >= Cpus)
            return IrspResolveFail(Scenario, Error, Event->Line, "CPU %s: there are only %u CPUs", Number, Cpus);
        if (Event->Kind == IrsEventOffline && Event->Cpu == 0)
            return IrspResolveFail(Scenario, Error, Event->Line, "CPU %s is the boot CPU: it stays online%.0u",
                                   Number, 0);
    }
    return true;
}

double IrsDeviceRateAt(const IRS_DEVICE *Device, double T)
{
    for (uint32_t Index = 0; Index < Device->BurstCount; Index++)
        if (T >= Device->Bursts[Index].Start && T < Device->Bursts[Index].End)
            return Device->Bursts[Index].Rate;
    return Device->Rate;
}
