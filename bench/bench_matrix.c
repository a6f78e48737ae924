/*
 * bench_matrix: cost of one vector allocate+free in the vector matrix as the
 * CPU count grows (issue 4: "allocation at 1024 CPUs no more than 2x its cost
 * at 4 CPUs").
 *
 * Three shapes per CPU count, each the median ns/op of 7 runs:
 *   empty   - full affinity mask, no vector allocated anywhere (the common
 *             boot-time case);
 *   spread  - full mask, CPU c preloaded with c % 100 vectors, so the load
 *             buckets are many and the least-loaded CPUs are scattered;
 *   worst   - spread loads, and a mask naming only the highest CPU (which is
 *             not the least loaded): the search must step through non-empty
 *             buckets whose CPUs the mask excludes.
 * The ratio column is against the same shape at 4 CPUs.
 *
 * The matrix's lock calls the interrupt-flag hooks, so the thread attaches to
 * a simulated CPU first (the cost of those hooks is the same at every size).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <irqroute/ke.h>

#include "../src/ke/ki_matrix.h"
#include "sim.h"

#define BENCH_RUNS 7
#define BENCH_ITERATIONS 200000u

typedef enum { ShapeEmpty, ShapeSpread, ShapeWorst, ShapeCount } BENCH_SHAPE;
static const char *const ShapeNames[ShapeCount] = {"empty", "spread", "worst"};

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

static KI_VECTOR_MATRIX *BuildMatrix(uint32_t CpuCount, BENCH_SHAPE Shape, void **Storage)
{
    size_t Size = (KiMatrixStorageSize(CpuCount) + 63u) & ~(size_t)63u;
    *Storage = aligned_alloc(64, Size);
    KI_VECTOR_MATRIX *Matrix;
    if (*Storage == NULL ||
        KiMatrixInitialize(*Storage, Size, CpuCount, &KeAmd64VectorLayout, &Matrix) != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "bench_matrix: cannot build a matrix of %u CPUs\n", CpuCount);
        exit(1);
    }
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        KiMatrixSetOnline(Matrix, Cpu, true);
    if (Shape == ShapeEmpty)
        return Matrix;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        IR_CPU_SET One;
        IrCpuSetZero(&One);
        IrCpuSetAdd(&One, Cpu);
        for (uint32_t Count = 0; Count < Cpu % 100u; Count++) {
            uint32_t Chosen;
            uint8_t Vector;
            (void)KiMatrixAllocate(Matrix, &One, KE_IRQL_ANY, &Chosen, &Vector);
        }
    }
    return Matrix;
}

/* Median ns per allocate+free pair. */
static double Measure(uint32_t CpuCount, BENCH_SHAPE Shape)
{
    void *Storage;
    KI_VECTOR_MATRIX *Matrix = BuildMatrix(CpuCount, Shape, &Storage);
    IR_CPU_SET Mask;
    if (Shape == ShapeWorst) {
        IrCpuSetZero(&Mask);
        IrCpuSetAdd(&Mask, CpuCount - 1u);
    } else {
        IrCpuSetFill(&Mask, IR_MAX_CPUS);
    }
    double Runs[BENCH_RUNS];
    for (int Run = -1; Run < BENCH_RUNS; Run++) { /* run -1 warms the caches */
        double Start = NowNs();
        for (uint32_t Iteration = 0; Iteration < BENCH_ITERATIONS; Iteration++) {
            uint32_t Cpu;
            uint8_t Vector;
            if (KiMatrixAllocate(Matrix, &Mask, KE_IRQL_ANY, &Cpu, &Vector) != IRQ_STATUS_SUCCESS ||
                KiMatrixFree(Matrix, Cpu, Vector) != IRQ_STATUS_SUCCESS) {
                fprintf(stderr, "bench_matrix: allocation failed at %u CPUs\n", CpuCount);
                exit(1);
            }
        }
        if (Run >= 0)
            Runs[Run] = (NowNs() - Start) / BENCH_ITERATIONS;
    }
    free(Storage);
    qsort(Runs, BENCH_RUNS, sizeof(Runs[0]), CompareDoubles);
    return Runs[BENCH_RUNS / 2];
}

int main(void)
{
    static const uint32_t CpuCounts[] = {4, 64, 256, 1024, 4096};
    SIM_CONFIG Config = {.CpuCount = 1};
    if (SimCreate(&Config) != 0) {
        fprintf(stderr, "bench_matrix: SimCreate failed\n");
        return 1;
    }
    SimAttachCpu(0);

    (void)Measure(4, ShapeEmpty); /* let the clock frequency settle before the table */
    printf("%-28s %6s %10s %8s\n", "operation", "CPUs", "ns/op", "vs 4");
    for (int Shape = 0; Shape < ShapeCount; Shape++) {
        double Base = 0;
        for (size_t Index = 0; Index < sizeof(CpuCounts) / sizeof(CpuCounts[0]); Index++) {
            double Ns = Measure(CpuCounts[Index], (BENCH_SHAPE)Shape);
            if (Index == 0)
                Base = Ns;
            char Name[40];
            snprintf(Name, sizeof(Name), "vector alloc+free (%s)", ShapeNames[Shape]);
            printf("%-28s %6u %10.1f %7.2fx\n", Name, CpuCounts[Index], Ns, Ns / Base);
        }
    }

    SimDetachCpu();
    SimDestroy();
    return 0;
}
