/* SPDX-License-Identifier: MIT */
/*
 * The `make run` console (demo.c): the table it draws (demo_table.c), the
 * counts in it (device.h: Runs) and the commands it takes (demo_command.c).
 */
#ifndef KERNEL_DEMO_H
#define KERNEL_DEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"

#define RK_DEMO_LINE_MAX 80u
#define RK_DEMO_REPLY_MAX 800u /* room for the help text */

/* Draws one row per device (connected or not) with its rate (ISR runs per
 * second, all CPUs, since the previous draw; "-" on the first) and its ISR
 * runs per CPU; Plain: no terminal control sequences, a "---- t=<s>s"
 * header instead. ElapsedMs is the time since the demo started; Input is
 * the command line being typed, Reply the last command's result. */
void RkDemoDrawTable(bool Plain, uint64_t ElapsedMs, const char *Input, const char *Reply);

/* "1-3", "0,2", "0,2-3", "all": into Set (online CPUs only). */
bool RkDemoParseCpuSet(const char *Text, IR_CPU_SET *Set);
/* "{0-3}" style, for the table. */
void RkDemoFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size);
/* The demo's word for each routing over a CPU set, as "route <dev> <word>
 * <set>" takes it and the table shows it; NULL where the demo has none
 * (IoDeviceFixed is "cpu <n>"). */
extern const char *const RkDemoSetRoutingNames[IoDeviceRoutingCount];

/* What the console does after a command. */
typedef enum _RK_DEMO_NEXT {
    RkDemoContinue,   /* redraw the table as usual */
    RkDemoHoldScreen, /* the command printed below the table: no redraw until the next command */
    RkDemoQuit,
} RK_DEMO_NEXT;

/* Runs one command line; writes what happened into Reply. */
RK_DEMO_NEXT RkDemoExecute(char *Line, char *Reply, uint32_t ReplySize);

/* Connects Device with Routing and starts its source at the demo's rate. */
IRQ_STATUS RkDemoConnect(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing);

/* The `make run` console (main.c calls it): a live table of connected
 * interrupts with a count per CPU, refreshed each second, and routing
 * commands read from COM1. Returns on `quit`. */
void RkRunDemo(void);

#endif
