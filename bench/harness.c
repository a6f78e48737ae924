/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMED_RUNS 31
#define RUN_NS 5e6

static const BENCH_CASE *FindCase(const char *Name)
{
    for (uint32_t Index = 0; Index < BenchCaseCount; Index++) {
        if (strcmp(BenchCases[Index].Name, Name) == 0)
            return &BenchCases[Index];
    }
    return NULL;
}

static double NowNs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (double)Now.tv_sec * 1e9 + (double)Now.tv_nsec;
}

static int CompareDoubles(const void *A, const void *B)
{
    double X = *(const double *)A, Y = *(const double *)B;
    return (X > Y) - (X < Y);
}

/* Calibrates the iteration count to about 5 ms per run, then times
 * TIMED_RUNS runs: the median, and the minimum, which on a shared host is
 * the steadier figure (other tenants only ever add time). */
typedef struct _BENCH_TIME {
    double Median;
    double Minimum;
} BENCH_TIME;

static BENCH_TIME TimeCase(const BENCH_CASE *Case)
{
    uint64_t Iterations = 1000;
    for (;;) {
        double Start = NowNs();
        Case->Operation(Iterations);
        double Elapsed = NowNs() - Start;
        if (Elapsed > RUN_NS || Iterations > (1ull << 34))
            break;
        Iterations *= 2;
    }
    double Samples[TIMED_RUNS];
    for (int Run = 0; Run < TIMED_RUNS; Run++) {
        double Start = NowNs();
        Case->Operation(Iterations);
        Samples[Run] = (NowNs() - Start) / (double)Iterations;
    }
    qsort(Samples, TIMED_RUNS, sizeof(double), CompareDoubles);
    return (BENCH_TIME){.Median = Samples[TIMED_RUNS / 2], .Minimum = Samples[0]};
}

static int Usage(const char *Program)
{
    fprintf(stderr, "usage: %s list | time <case> | run <case> <iterations>\n", Program);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return Usage(argv[0]);
    if (strcmp(argv[1], "list") == 0) {
        for (uint32_t Index = 0; Index < BenchCaseCount; Index++) {
            const BENCH_CASE *Case = &BenchCases[Index];
            printf("%s %s %u\n", Case->Name, Case->Baseline ? Case->Baseline : "-", Case->Cpus);
        }
        return 0;
    }
    if (argc < 3)
        return Usage(argv[0]);
    const BENCH_CASE *Case = FindCase(argv[2]);
    if (Case == NULL) {
        fprintf(stderr, "%s: no case %s\n", argv[0], argv[2]);
        return 2;
    }
    if (Case->Setup)
        Case->Setup(Case);
    if (strcmp(argv[1], "time") == 0) {
        BENCH_TIME Time = TimeCase(Case);
        printf("%.3f %.3f\n", Time.Median, Time.Minimum);
    } else if (strcmp(argv[1], "run") == 0 && argc >= 4) {
        Case->Operation(strtoull(argv[3], NULL, 10));
    } else {
        return Usage(argv[0]);
    }
    if (Case->Teardown)
        Case->Teardown();
    return 0;
}
