/* SPDX-License-Identifier: MIT */
/* The interactive demo (demo.c): 4 CPUs, a live table, routing commands. */
#ifndef IRQSIM_DEMO_H
#define IRQSIM_DEMO_H

#include <stdbool.h>

/* Runs until `quit` (or the end of the script); the exit status. */
int IrsDemoRun(bool Scripted);

#endif
