/* SPDX-License-Identifier: MIT */
/* The PNG plot of per-CPU load over time (plot.c, gnuplot). */
#ifndef IRQSIM_PLOT_H
#define IRQSIM_PLOT_H

#include <stdbool.h>
#include <stdint.h>

/* Writes ScriptPath (a gnuplot script reading CsvPath) and runs gnuplot on
 * it to make PngPath. Plots CPUs 0-15 at most. Without gnuplot it
 * says so and returns false; it never stops the run. */
bool IrsPlotWrite(const char *CsvPath, const char *ScriptPath, const char *PngPath, const char *Title,
                  uint32_t CpuCount);

#endif
