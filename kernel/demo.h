/*
 * The `make run` console (demo.c): the table it draws (demo_table.c), the
 * counts in it (device.h: Runs) and the commands it takes (demo_command.c).
 */
#ifndef KERNEL_DEMO_H
#define KERNEL_DEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"

#define KI_DEMO_LINE_MAX 80u
#define KI_DEMO_REPLY_MAX 640u /* room for the help text */

/* Draws one row per device (connected or not) with its ISR runs per CPU; Plain:
 * no terminal control sequences, a "---- t=<s>s" header instead. Input is
 * the command line being typed, Reply the last command's result. */
void KiDemoDrawTable(bool Plain, uint64_t Seconds, const char *Input, const char *Reply);

/* "1-3", "0,2", "0,2-3", "all": into Set (online CPUs only). */
bool KiDemoParseCpuSet(const char *Text, IR_CPU_SET *Set);
/* "{0-3}" style, for the table. */
void KiDemoFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size);

/* Runs one command line; writes what happened into Reply. Returns false on
 * `quit`. */
bool KiDemoExecute(char *Line, char *Reply, uint32_t ReplySize);

/* Connects Device with Routing and starts its source at the demo's rate. */
IRQ_STATUS KiDemoConnect(KI_DEVICE *Device, const KI_DEVICE_ROUTING *Routing);

#endif
