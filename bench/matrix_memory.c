/* SPDX-License-Identifier: MIT */
/*
 * matrix_memory: Ke's memory per CPU at a few machine sizes, printed as a
 * table (bench/run.py prints it under the timings). Not a timed case: the
 * figures are sizes, the same on every run.
 *
 * Ke's per-CPU memory is the KPRCB (KI_PRCB_SIZE, src/ke/ki.h) and the
 * vector matrix (KiMatrixStorageSize, src/ke/vector_matrix.c): its per-CPU
 * part (KI_MATRIX_CPU, 64 bytes) plus its sets of ceil(CPUs / 64) words,
 * shared by all CPUs, and a fixed header.
 */
#include <stdint.h>
#include <stdio.h>

#include "ki.h" /* irqroute_ke_matrix_whitebox, irqroute_base_whitebox */

int main(void)
{
    static const uint32_t Sizes[] = {4, 256, 4096};
    printf("%-6s %10s %14s %14s %14s\n", "CPUs", "KPRCB/CPU", "matrix total", "matrix/CPU", "Ke/CPU");
    for (uint32_t Index = 0; Index < sizeof(Sizes) / sizeof(Sizes[0]); Index++) {
        uint32_t Cpus = Sizes[Index];
        size_t Matrix = KiMatrixStorageSize(Cpus);
        double MatrixPerCpu = (double)Matrix / Cpus;
        printf("%-6u %10u %14zu %14.1f %14.1f\n", Cpus, KI_PRCB_SIZE, Matrix, MatrixPerCpu,
               KI_PRCB_SIZE + MatrixPerCpu);
    }
    return 0;
}
