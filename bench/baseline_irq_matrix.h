/* SPDX-License-Identifier: MIT */
/*
 * A model of Linux's irq_matrix allocator (kernel/irq/matrix.c), the
 * baseline bench_matrix compares KeAllocateVector + KeFreeVector with. Our
 * own code, written from the published algorithm; baseline_irq_matrix.c says
 * what it keeps and what it leaves out.
 */
#ifndef IRQROUTE_BENCH_BASELINE_IRQ_MATRIX_H
#define IRQROUTE_BENCH_BASELINE_IRQ_MATRIX_H

#include <stdint.h>

#include <irqroute/ke.h>

typedef struct _BIM_MATRIX BIM_MATRIX;

/* A matrix of CpuCount CPUs, all online and empty, whose allocatable range
 * and system vectors come from Layout; NULL when out of memory. */
BIM_MATRIX *BimCreate(uint32_t CpuCount, const KE_VECTOR_LAYOUT *Layout);
void BimDestroy(BIM_MATRIX *Matrix);
/* irq_matrix_alloc under the lock x86 callers hold: 0 and *Cpu, *Vector on
 * success, -1 for an empty mask or no space. */
int BimAllocate(BIM_MATRIX *Matrix, const IR_CPU_SET *Mask, uint32_t *Cpu, uint8_t *Vector);
/* irq_matrix_free under the same lock. */
void BimFree(BIM_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector);

#endif
