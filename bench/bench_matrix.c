/* SPDX-License-Identifier: MIT */
/*
 * bench_matrix: cost of one vector allocate+free in the vector matrix as the
 * CPU count grows, and against Linux's irq_matrix algorithm.
 *
 * matrix.* (KiMatrixAllocate + KiMatrixFree), two shapes per CPU count:
 *   spread  - full mask, CPU c preloaded with c % 100 vectors, so the load
 *             buckets are many and the least-loaded CPUs are scattered;
 *   worst   - spread loads, and a mask naming only the highest CPU (which is
 *             not the least loaded): a search by load must step past
 *             non-empty buckets whose CPUs the mask excludes.
 * Each is compared to the same shape at 4 CPUs.
 *
 * vector.alloc_free.{all,one}.N (KeAllocateVector + KeFreeVector on an
 * empty machine of N CPUs, the public path bench_core's vector.alloc_free
 * measures, with its free-side check of the connected chains) against
 * irq_matrix.alloc_free.{all,one}.N, the model of Linux's irq_matrix_alloc +
 * irq_matrix_free in baseline_irq_matrix.c, with the same mask: every CPU
 * (all) or only the highest one (one).
 *
 * The matrix's lock calls the interrupt-flag hooks, so the thread attaches to
 * a simulated CPU first (the cost of those hooks is the same at every size).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/ke.h>

#include "baseline_irq_matrix.h"
#include "harness.h"
#include "ki_matrix.h" /* irqroute_ke_matrix_whitebox */
#include "sim.h"
#include "simboot.h"

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
static BIM_MATRIX *IrqMatrix;
static IR_CPU_SET Mask;

/* "all" in a case name: every CPU of the machine; else only the highest. */
static void SetMask(const BENCH_CASE *Case, bool All)
{
    IrCpuSetZero(&Mask);
    if (All)
        IrCpuSetFill(&Mask, Case->Cpus);
    else
        IrCpuSetAdd(&Mask, Case->Cpus - 1u);
}

/* The matrix's lock calls the interrupt-flag hooks: one simulated CPU. */
static void AttachSimCpu(void)
{
    SIM_CONFIG Sim = {.CpuCount = 1};
    if (SimCreate(&Sim) != 0)
        exit(1);
    SimAttachCpu(0);
}

static void DetachSimCpu(void)
{
    SimDetachCpu();
    SimDestroy();
}

/* ---- matrix.*: the matrix alone ------------------------------------------------ */

static void SetupMatrix(const BENCH_CASE *Case)
{
    BENCH_SHAPE Shape = strstr(Case->Name, "worst") != NULL ? ShapeWorst : ShapeSpread;
    AttachSimCpu();
    Matrix = BuildMatrix(Case->Cpus, Shape, &MatrixStorage);
    if (Shape == ShapeWorst)
        SetMask(Case, false);
    else
        IrCpuSetFill(&Mask, IR_MAX_CPUS);
}

static void OperationMatrix(uint64_t Iterations)
{
    for (uint64_t Iteration = 0; Iteration < Iterations; Iteration++) {
        uint32_t Cpu;
        uint8_t Vector;
        if (KiMatrixAllocate(Matrix, &Mask, KE_IRQL_ANY, &Cpu, &Vector) != IRQ_STATUS_SUCCESS ||
            KiMatrixFree(Matrix, Cpu, Vector) != IRQ_STATUS_SUCCESS)
            abort();
    }
}

static void TeardownMatrix(void)
{
    free(MatrixStorage);
    DetachSimCpu();
}

/* ---- vector.alloc_free.* against irq_matrix.alloc_free.*: one booted CPU ------------ */

/* Both sides of the comparison run on the same booted one-CPU sim, with
 * the interrupt flag set, as a kernel calls its allocator: every lock
 * release that turns interrupts back on then pays the sim's look for a
 * pending interrupt (what the hardware does for free on STI), on both
 * sides alike. A bare attach leaves the flag clear, and a side measured
 * that way would skip that cost. */
static void BootSimCpu(void)
{
    SIM_SYSTEM_CONFIG Config = {.CpuCount = 1};
    if (SimBootSystem(&Config) != IRQ_STATUS_SUCCESS)
        exit(1);
    SimAttachCpu(0);
    if (!SimCpuInterruptsEnabled(0)) {
        fprintf(stderr, "bench_matrix: the booted CPU has interrupts disabled\n");
        exit(1);
    }
}

static void ShutdownSimCpu(void)
{
    SimDetachCpu();
    SimShutdownSystem();
}

/* ---- vector.alloc_free.*: Ke's public calls ---------------------------------------- */

/* As bench_core's vector.alloc_free: a booted one-CPU sim supplies the
 * hooks, Ke is re-sized to the case's CPU count, every CPU online. */
static void SetupKe(const BENCH_CASE *Case)
{
    BootSimCpu();
    if (KeInitializeSystem(Case->Cpus, &KeAmd64VectorLayout) != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "bench_matrix: KeInitializeSystem(%u) failed\n", Case->Cpus);
        exit(1);
    }
    for (uint32_t Cpu = 0; Cpu < Case->Cpus; Cpu++)
        KeInitializeProcessor(Cpu);
    SetMask(Case, strstr(Case->Name, ".all.") != NULL);
}

static void OperationKe(uint64_t Iterations)
{
    for (uint64_t Iteration = 0; Iteration < Iterations; Iteration++) {
        uint32_t Cpu;
        uint8_t Vector;
        if (KeAllocateVector(&Mask, KE_IRQL_ANY, &Cpu, &Vector) != IRQ_STATUS_SUCCESS ||
            KeFreeVector(Cpu, Vector) != IRQ_STATUS_SUCCESS)
            abort();
    }
}

static void TeardownKe(void)
{
    ShutdownSimCpu();
}

/* ---- irq_matrix.alloc_free.*: the Linux baseline ---------------------------------- */

static void SetupIrqMatrix(const BENCH_CASE *Case)
{
    BootSimCpu();
    IrqMatrix = BimCreate(Case->Cpus, &KeAmd64VectorLayout);
    if (IrqMatrix == NULL)
        exit(1);
    SetMask(Case, strstr(Case->Name, ".all.") != NULL);
}

static void OperationIrqMatrix(uint64_t Iterations)
{
    for (uint64_t Iteration = 0; Iteration < Iterations; Iteration++) {
        uint32_t Cpu;
        uint8_t Vector;
        if (BimAllocate(IrqMatrix, &Mask, &Cpu, &Vector) != 0)
            abort();
        BimFree(IrqMatrix, Cpu, Vector);
    }
}

static void TeardownIrqMatrix(void)
{
    BimDestroy(IrqMatrix);
    ShutdownSimCpu();
}

/* A scenario at 4 CPUs (its baseline), then at N CPUs against it. */
#define MATRIX_BASELINE(Kind) {"matrix." #Kind ".4", NULL, 4, SetupMatrix, OperationMatrix, TeardownMatrix}
#define MATRIX_CASE(Kind, N)                                                                                \
    {"matrix." #Kind "." #N, "matrix." #Kind ".4", N, SetupMatrix, OperationMatrix, TeardownMatrix}
/* Linux's algorithm and ours, same mask and CPU count, side by side. */
#define VERSUS_IRQ_MATRIX(Mask, N)                                                                          \
    {"irq_matrix.alloc_free." #Mask "." #N, NULL, N, SetupIrqMatrix, OperationIrqMatrix, TeardownIrqMatrix}, \
    {"vector.alloc_free." #Mask "." #N, "irq_matrix.alloc_free." #Mask "." #N, N, SetupKe, OperationKe, TeardownKe}

const BENCH_CASE BenchCases[] = {
    MATRIX_BASELINE(spread),
    MATRIX_CASE(spread, 64),
    MATRIX_CASE(spread, 1024),
    MATRIX_CASE(spread, 4096),
    MATRIX_BASELINE(worst),
    MATRIX_CASE(worst, 16),
    MATRIX_CASE(worst, 64),
    MATRIX_CASE(worst, 256),
    MATRIX_CASE(worst, 1024),
    MATRIX_CASE(worst, 4096),
    VERSUS_IRQ_MATRIX(all, 4),
    VERSUS_IRQ_MATRIX(all, 16),
    VERSUS_IRQ_MATRIX(all, 256),
    VERSUS_IRQ_MATRIX(all, 4096),
    VERSUS_IRQ_MATRIX(one, 4),
    VERSUS_IRQ_MATRIX(one, 16),
    VERSUS_IRQ_MATRIX(one, 256),
    VERSUS_IRQ_MATRIX(one, 4096),
};
const uint32_t BenchCaseCount = sizeof(BenchCases) / sizeof(BenchCases[0]);
