/* SPDX-License-Identifier: MIT */
/* The Chrome / Perfetto trace (trace.h), built as a json-c tree. */
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "trace.h"

struct _IRS_TRACE {
    json_object *Root;
    json_object *Events;
};

static json_object *IrspEvent(IRS_TRACE *Trace, const char *Phase, const char *Name, double Seconds, uint32_t Thread)
{
    json_object *Event = json_object_new_object();
    json_object_object_add(Event, "name", json_object_new_string(Name));
    json_object_object_add(Event, "ph", json_object_new_string(Phase));
    json_object_object_add(Event, "ts", json_object_new_double(Seconds * 1e6));
    json_object_object_add(Event, "pid", json_object_new_int(1));
    json_object_object_add(Event, "tid", json_object_new_int64(Thread));
    json_object_array_add(Trace->Events, Event);
    return Event;
}

/* Names the process and the balancer's row, so the viewer labels them. */
static void IrspMetadata(IRS_TRACE *Trace, const char *What, uint32_t Thread, const char *Name)
{
    json_object *Event = IrspEvent(Trace, "M", What, 0, Thread);
    json_object *Arguments = json_object_new_object();
    json_object_object_add(Arguments, "name", json_object_new_string(Name));
    json_object_object_add(Event, "args", Arguments);
}

IRS_TRACE *IrsTraceCreate(const char *Scenario, const char *Strategy)
{
    IRS_TRACE *Trace = calloc(1, sizeof(*Trace));
    if (Trace == NULL)
        return NULL;
    Trace->Root = json_object_new_object();
    Trace->Events = json_object_new_array();
    json_object_object_add(Trace->Root, "traceEvents", Trace->Events);
    json_object_object_add(Trace->Root, "displayTimeUnit", json_object_new_string("ms"));
    char Name[160];
    snprintf(Name, sizeof(Name), "irqsim %s (%s)", Scenario, Strategy);
    IrspMetadata(Trace, "process_name", 0, Name);
    IrspMetadata(Trace, "thread_name", 0, "balancer");
    return Trace;
}

void IrsTraceCounter(IRS_TRACE *Trace, double Seconds, uint32_t Cpu, double Load, uint64_t Interrupts)
{
    char Name[32];
    snprintf(Name, sizeof(Name), "cpu%u load", Cpu);
    json_object *Event = IrspEvent(Trace, "C", Name, Seconds, 0);
    json_object *Arguments = json_object_new_object();
    json_object_object_add(Arguments, "load", json_object_new_double(Load));
    json_object_object_add(Arguments, "interrupts", json_object_new_int64((int64_t)Interrupts));
    json_object_object_add(Event, "args", Arguments);
}

void IrsTraceRound(IRS_TRACE *Trace, double Seconds, double Length, uint32_t Round, uint32_t Moves)
{
    json_object *Event = IrspEvent(Trace, "X", "balancer round", Seconds, 0);
    json_object_object_add(Event, "dur", json_object_new_double(Length * 1e6));
    json_object *Arguments = json_object_new_object();
    json_object_object_add(Arguments, "round", json_object_new_int64(Round));
    json_object_object_add(Arguments, "moves", json_object_new_int64(Moves));
    json_object_object_add(Event, "args", Arguments);
}

void IrsTraceInstant(IRS_TRACE *Trace, double Seconds, uint32_t Cpu, const char *Name, const char *Detail)
{
    json_object *Event = IrspEvent(Trace, "i", Name, Seconds, Cpu + 1u);
    json_object_object_add(Event, "s", json_object_new_string("t"));
    json_object *Arguments = json_object_new_object();
    json_object_object_add(Arguments, "detail", json_object_new_string(Detail));
    json_object_object_add(Event, "args", Arguments);
}

bool IrsTraceFinish(IRS_TRACE *Trace, const char *Path)
{
    bool Written = json_object_to_file_ext(Path, Trace->Root, JSON_C_TO_STRING_PLAIN) == 0;
    json_object_put(Trace->Root);
    free(Trace);
    return Written;
}
