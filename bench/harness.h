/* SPDX-License-Identifier: MIT */
/*
 * The benchmark harness: every bench program registers cases and links
 * harness.c, which gives it one command line:
 *
 *   <program> list                 case names, with the baseline each is compared to
 *   <program> time <case>          ns/op: median and minimum of 31 timed runs
 *   <program> run <case> <n>       exactly n operations (for callgrind: run with n and 2n
 *                                  and the difference / n is instructions per operation)
 *
 * bench/run.py runs them all, adds callgrind counts and prints the table.
 */
#ifndef IRQROUTE_BENCH_HARNESS_H
#define IRQROUTE_BENCH_HARNESS_H

#include <stdint.h>

typedef struct _BENCH_CASE {
    const char *Name;
    const char *Baseline;     /* name of the case this is compared to, or NULL (a baseline) */
    uint32_t Cpus;            /* the CPU count the case runs at (for the table) */
    void (*Setup)(const struct _BENCH_CASE *Case);
    void (*Operation)(uint64_t Iterations);
    void (*Teardown)(void);
} BENCH_CASE;

/* Each program defines its cases. */
extern const BENCH_CASE BenchCases[];
extern const uint32_t BenchCaseCount;

/* Keeps the compiler from optimising a value away. */
static inline void BenchKeep(uint64_t Value)
{
    __asm__ volatile("" : : "r"(Value) : "memory");
}

#endif
