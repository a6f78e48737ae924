/* SPDX-License-Identifier: MIT */
/*
 * irqsim: the scenario runner (docs/irqsim.md). Without a scenario it is the
 * interactive demo of `make run-sim` (demo.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "demo.h"
#include "plot.h"
#include "report.h"
#include "runner.h"
#include "scenario.h"
#include "strategy.h"
#include "trace.h"

#define IRSP_DEFAULT_MAX_RAISES 20000u

typedef struct _IRSP_OPTIONS {
    const char *ScenarioPath;
    const char *OutDirectory;
    uint32_t CpuCount; /* 0: the scenario's */
    bool RunAll;
    IRS_STRATEGY_ID Strategy;
    bool Check;
    bool Interactive, Script;
    uint64_t MaxRaises;
} IRSP_OPTIONS;

static void IrspUsage(FILE *Stream)
{
    fprintf(Stream,
            "usage: irqsim --scenario FILE [options]     run a scenario on the sim platform\n"
            "       irqsim [--interactive | --script]    the live demo (make run-sim)\n"
            "\n"
            "  -s, --scenario FILE   a scenario file (YAML; docs/irqsim.md)\n"
            "  -c, --cpus N          CPU count, 1-4096 (overrides the file's)\n"
            "  -S, --strategy NAME   none | greedy | irqbalance | library | all (default: all)\n"
            "  -o, --out DIR         write <scenario>-<strategy>.csv, .gp, .png, .json there\n"
            "  -k, --check           compare with the file's expected outcomes; exit 1 if one fails\n"
            "  -m, --max-raises N    interrupts raised per interval at most (default %u; above it\n"
            "                        every raised interrupt stands for several, as the output says)\n"
            "  -i, --interactive     the live demo: 4 CPUs, a table, routing commands\n"
            "      --script          the demo's short script (also when stdin is not a terminal)\n"
            "  -h, --help            this text\n",
            IRSP_DEFAULT_MAX_RAISES);
}

static bool IrspParseCount(const char *Text, uint64_t Minimum, uint64_t Maximum, uint64_t *Value)
{
    char *End = NULL;
    errno = 0;
    unsigned long long Parsed = strtoull(Text, &End, 10);
    if (*Text == 0 || *End != 0 || errno != 0 || Parsed < Minimum || Parsed > Maximum || Text[0] == '-')
        return false;
    *Value = Parsed;
    return true;
}

/* 0: go on; else the exit status (1 bad usage, 0 help). */
static int IrspParseOptions(int argc, char **argv, IRSP_OPTIONS *Options)
{
    static const struct option Long[] = {
        {"scenario", required_argument, NULL, 's'}, {"cpus", required_argument, NULL, 'c'},
        {"strategy", required_argument, NULL, 'S'}, {"out", required_argument, NULL, 'o'},
        {"check", no_argument, NULL, 'k'},          {"max-raises", required_argument, NULL, 'm'},
        {"interactive", no_argument, NULL, 'i'},    {"script", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    *Options = (IRSP_OPTIONS){.RunAll = true, .MaxRaises = IRSP_DEFAULT_MAX_RAISES};
    uint64_t Value;
    for (int Option; (Option = getopt_long(argc, argv, "s:c:S:o:km:ih", Long, NULL)) != -1;) {
        switch (Option) {
        case 's': Options->ScenarioPath = optarg; break;
        case 'o': Options->OutDirectory = optarg; break;
        case 'k': Options->Check = true; break;
        case 'i': Options->Interactive = true; break;
        case 'x': Options->Script = true; break;
        case 'h': IrspUsage(stdout); return -1;
        case 'c':
            if (!IrspParseCount(optarg, 1, IR_MAX_CPUS, &Value)) {
                fprintf(stderr, "irqsim: --cpus takes 1-%u, not '%s'\n", IR_MAX_CPUS, optarg);
                return 1;
            }
            Options->CpuCount = (uint32_t)Value;
            break;
        case 'm':
            if (!IrspParseCount(optarg, 1, 100000000, &Options->MaxRaises)) {
                fprintf(stderr, "irqsim: --max-raises takes 1-100000000, not '%s'\n", optarg);
                return 1;
            }
            break;
        case 'S':
            Options->RunAll = strcmp(optarg, "all") == 0;
            if (!Options->RunAll && !IrsStrategyFind(optarg, &Options->Strategy)) {
                fprintf(stderr, "irqsim: --strategy is none, greedy, irqbalance, library or all, not '%s'\n", optarg);
                return 1;
            }
            break;
        default: IrspUsage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "irqsim: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    if (Options->ScenarioPath == NULL && (Options->Check || Options->OutDirectory != NULL || Options->CpuCount != 0)) {
        fprintf(stderr, "irqsim: --cpus, --out and --check need --scenario\n");
        return 1;
    }
    return 0;
}

typedef struct _IRSP_OUTPUT {
    char Csv[512], Script[512], Png[512], Trace[512];
    FILE *CsvFile;
    IRS_TRACE *TraceObject;
} IRSP_OUTPUT;

static bool IrspOpenOutput(const IRSP_OPTIONS *Options, const IRS_SCENARIO *Scenario, const char *Strategy,
                           IRSP_OUTPUT *Output)
{
    memset(Output, 0, sizeof(*Output));
    if (Options->OutDirectory == NULL)
        return true;
    const char *Directory = Options->OutDirectory;
    if (mkdir(Directory, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "irqsim: cannot create %s: %s\n", Directory, strerror(errno));
        return false;
    }
    snprintf(Output->Csv, sizeof(Output->Csv), "%s/%s-%s.csv", Directory, Scenario->Name, Strategy);
    snprintf(Output->Script, sizeof(Output->Script), "%s/%s-%s.gp", Directory, Scenario->Name, Strategy);
    snprintf(Output->Png, sizeof(Output->Png), "%s/%s-%s.png", Directory, Scenario->Name, Strategy);
    snprintf(Output->Trace, sizeof(Output->Trace), "%s/%s-%s.json", Directory, Scenario->Name, Strategy);
    Output->CsvFile = fopen(Output->Csv, "w");
    Output->TraceObject = IrsTraceCreate(Scenario->Name, Strategy);
    if (Output->CsvFile == NULL || Output->TraceObject == NULL) {
        fprintf(stderr, "irqsim: cannot write %s\n", Output->Csv);
        return false;
    }
    return true;
}

static void IrspCloseOutput(const IRS_SCENARIO *Scenario, const char *Strategy, IRSP_OUTPUT *Output, bool Ran)
{
    if (Output->CsvFile == NULL)
        return;
    fclose(Output->CsvFile);
    if (!IrsTraceFinish(Output->TraceObject, Output->Trace))
        fprintf(stderr, "irqsim: cannot write %s\n", Output->Trace);
    if (!Ran) {
        remove(Output->Csv); /* nothing ran: no empty files to mistake for results */
        remove(Output->Trace);
        return;
    }
    char Title[160];
    snprintf(Title, sizeof(Title), "%s: per-CPU load, strategy %s", Scenario->Name, Strategy);
    IrsPlotWrite(Output->Csv, Output->Script, Output->Png, Title, Scenario->CpuCount);
    printf("  wrote %s, %s, %s\n", Output->Csv, Output->Png, Output->Trace);
}

static int IrspRunScenario(const IRSP_OPTIONS *Options)
{
    static IRS_SCENARIO Scenario;
    char Error[IRS_ERROR_MAX];
    if (!IrsScenarioLoad(Options->ScenarioPath, &Scenario, Error) ||
        !IrsScenarioResolve(&Scenario, Options->CpuCount, Error)) {
        fprintf(stderr, "%s\n", Error);
        return 2;
    }
    IrsReportHeader(&Scenario, IrsRunScale(&Scenario, Options->MaxRaises));
    IRS_RESULT Results[IrsStrategyCount] = {0};
    bool Done[IrsStrategyCount] = {0};
    for (uint32_t Id = 0; Id < IrsStrategyCount; Id++) {
        if (!Options->RunAll && Id != Options->Strategy)
            continue;
        const char *Name = IrsStrategyGet(Id)->Name;
        IRSP_OUTPUT Output;
        if (!IrspOpenOutput(Options, &Scenario, Name, &Output))
            return 2;
        IRS_RUN_OPTIONS RunOptions = {.Strategy = Id, .MaxRaises = Options->MaxRaises, .Csv = Output.CsvFile,
                                      .Trace = Output.TraceObject};
        if (!IrsRun(&Scenario, &RunOptions, &Results[Id], Error, sizeof(Error))) {
            fprintf(stderr, "irqsim: %s\n", Error);
            return 2;
        }
        Done[Id] = true;
        IrsReportResult(&Scenario, &Results[Id]);
        IrspCloseOutput(&Scenario, Name, &Output, Results[Id].Ran);
    }
    if (Options->RunAll)
        IrsReportTable(&Scenario, Results, Done);
    if (Options->Check && !IrsReportCheck(&Scenario, Results, Done))
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    IRSP_OPTIONS Options;
    int Status = IrspParseOptions(argc, argv, &Options);
    if (Status != 0)
        return Status < 0 ? 0 : Status;
    if (Options.ScenarioPath == NULL)
        return IrsDemoRun(Options.Script);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return IrspRunScenario(&Options);
}
