/* SPDX-License-Identifier: MIT */
/*
 * A Chrome / Perfetto trace (the "traceEvents" JSON array, Trace Event
 * Format): per-CPU load as counters, balancer rounds as complete events,
 * moves, CPU offline/online and storms as instant events. Time stamps are
 * microseconds of scenario time. Written with json-c.
 */
#ifndef IRQSIM_TRACE_H
#define IRQSIM_TRACE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct _IRS_TRACE IRS_TRACE;

IRS_TRACE *IrsTraceCreate(const char *Scenario, const char *Strategy);
void IrsTraceCounter(IRS_TRACE *Trace, double Seconds, uint32_t Cpu, double Load, uint64_t Interrupts);
void IrsTraceRound(IRS_TRACE *Trace, double Seconds, double Length, uint32_t Round, uint32_t Moves);
void IrsTraceInstant(IRS_TRACE *Trace, double Seconds, uint32_t Cpu, const char *Name, const char *Detail);
/* Writes the file and frees the trace; false if it could not be written. */
bool IrsTraceFinish(IRS_TRACE *Trace, const char *Path);

#endif
