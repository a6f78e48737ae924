/* SPDX-License-Identifier: MIT */
/*
 * The plot (plot.h): a gnuplot script over the run's CSV, one line per CPU
 * (columns: interval,time_s,cpu,load,...; the CPU picked with a ternary
 * filter), plus the bound as a dashed line. gnuplot is an optional tool
 * (Debian gnuplot-nox): when it is missing the script is still written.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "plot.h"

#define IRSP_PLOTTED_CPUS 16u

static bool IrspGnuplotExists(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

bool IrsPlotWrite(const char *CsvPath, const char *ScriptPath, const char *PngPath, const char *Title,
                  uint32_t CpuCount)
{
    FILE *Script = fopen(ScriptPath, "w");
    if (Script == NULL) {
        fprintf(stderr, "irqsim: cannot write %s\n", ScriptPath);
        return false;
    }
    fprintf(Script,
            "set terminal pngcairo size 1000,500 noenhanced\n"
            "set output '%s'\n"
            "set datafile separator ','\n"
            "set title '%s'\n"
            "set xlabel 'scenario time (s)'\n"
            "set ylabel 'load (cost-weighted interrupts/s)'\n"
            "set key outside right\n"
            "plot ",
            PngPath, Title);
    uint32_t Plotted = CpuCount < IRSP_PLOTTED_CPUS ? CpuCount : IRSP_PLOTTED_CPUS;
    for (uint32_t Cpu = 0; Cpu < Plotted; Cpu++)
        fprintf(Script, "'%s' every ::1 using 2:($3==%u?$4:1/0) with steps title 'CPU %u', \\\n     ", CsvPath, Cpu,
                Cpu);
    fprintf(Script, "'%s' every ::1 using 2:($3==0?$7:1/0) with lines dt 2 lc 'black' title 'bound'\n", CsvPath);
    fclose(Script);
    if (!IrspGnuplotExists()) {
        printf("irqsim: gnuplot not found (Debian: gnuplot-nox): no PNG, the script is %s\n", ScriptPath);
        return false;
    }
    char Command[1024];
    snprintf(Command, sizeof(Command), "gnuplot '%s'", ScriptPath);
    int Status = system(Command);
    if (Status != 0) {
        printf("irqsim: gnuplot failed on %s: no PNG\n", ScriptPath);
        return false;
    }
    return true;
}
