/* SPDX-License-Identifier: MIT */
/*
 * The plot (plot.h): a gnuplot script over the run's CSV, one line per CPU
 * (columns: interval,time_s,cpu,load,...; CPU c is every CpuCount-th row
 * from row 1 + c, the header being row 0), plus the bound as a dashed line. gnuplot is an optional tool
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
        fprintf(Script, "'%s' every %u::%u using 2:4 with steps title 'CPU %u', \\\n     ", CsvPath, CpuCount,
                1u + Cpu, Cpu);
    fprintf(Script, "'%s' every %u::1 using 2:7 with steps dt 2 lc 'black' title 'bound'\n", CsvPath, CpuCount);
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
