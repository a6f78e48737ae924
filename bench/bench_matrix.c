/*
 * bench_matrix: cost of one vector allocate+free in the vector matrix as the
 * CPU count grows (issue 4: "allocation at 1024 CPUs no more than 2x its cost
 * at 4 CPUs").
 *
 * Two shapes per CPU count (bench_core measures the empty machine):
 *   spread  - full mask, CPU c preloaded with c % 100 vectors, so the load
 *             buckets are many and the least-loaded CPUs are scattered;
 *   worst   - spread loads, and a mask naming only the highest CPU (which is
 *             not the least loaded): the search must step through non-empty
 *             buckets whose CPUs the mask excludes.
 * Each is compared to the same shape at 4 CPUs.
 *
 * The matrix's lock calls the interrupt-flag hooks, so the thread attaches to
 * a simulated CPU first (the cost of those hooks is the same at every size).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/ke.h>

#include "ki_matrix.h" /* irqroute_ke_matrix_whitebox */
#include "harness.h"
#include "sim.h"

typedef enum { ShapeEmpty, ShapeSpread, ShapeWorst } BENCH_SHAPE;

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

static void *MatrixStorage;
static KI_VECTOR_MATRIX *Matrix;
static IR_CPU_SET Mask;

static void Setup(const BENCH_CASE *Case)
{
    BENCH_SHAPE Shape = strstr(Case->Name, "worst") != NULL ? ShapeWorst : ShapeSpread;
    SIM_CONFIG Sim = {.CpuCount = 1};
    if (SimCreate(&Sim) != 0)
        exit(1);
    SimAttachCpu(0);
    Matrix = BuildMatrix(Case->Cpus, Shape, &MatrixStorage);
    if (Shape == ShapeWorst) {
        IrCpuSetZero(&Mask);
        IrCpuSetAdd(&Mask, Case->Cpus - 1u);
    } else {
        IrCpuSetFill(&Mask, IR_MAX_CPUS);
    }
}

static void Operation(uint64_t Iterations)
{
    for (uint64_t Iteration = 0; Iteration < Iterations; Iteration++) {
        uint32_t Cpu;
        uint8_t Vector;
        if (KiMatrixAllocate(Matrix, &Mask, KE_IRQL_ANY, &Cpu, &Vector) != IRQ_STATUS_SUCCESS ||
            KiMatrixFree(Matrix, Cpu, Vector) != IRQ_STATUS_SUCCESS)
            abort();
    }
}

static void Teardown(void)
{
    free(MatrixStorage);
    SimDetachCpu();
    SimDestroy();
}

/* A scenario at 4 CPUs (its baseline), then at N CPUs against it. */
#define MATRIX_BASELINE(Kind) {"matrix." #Kind ".4", NULL, 4, Setup, Operation, Teardown}
#define MATRIX_CASE(Kind, N) {"matrix." #Kind "." #N, "matrix." #Kind ".4", N, Setup, Operation, Teardown}

const BENCH_CASE BenchCases[] = {
    MATRIX_BASELINE(spread),
    MATRIX_CASE(spread, 64),
    MATRIX_CASE(spread, 1024),
    MATRIX_CASE(spread, 4096),
    MATRIX_BASELINE(worst),
    MATRIX_CASE(worst, 64),
    MATRIX_CASE(worst, 1024),
    MATRIX_CASE(worst, 4096),
};
const uint32_t BenchCaseCount = sizeof(BenchCases) / sizeof(BenchCases[0]);
