/* SPDX-License-Identifier: MIT */
/*
 * The vector matrix: which device vector is taken on which CPU
 * (src/ke/vector_matrix.c). Instance-based so tests and benchmarks can build
 * one of any size; the Ke system owns one. Every function is thread-safe
 * (one IR_LOCK inside, interrupts disabled while held) and none allocates.
 */
#ifndef IRQROUTE_KI_MATRIX_H
#define IRQROUTE_KI_MATRIX_H

#include <stddef.h>
#include <stdint.h>

#include <irqroute/ke.h>

typedef struct _KI_VECTOR_MATRIX KI_VECTOR_MATRIX;

/* Bytes (and alignment 64) of storage a matrix for CpuCount CPUs needs. */
size_t KiMatrixStorageSize(uint32_t CpuCount);
/* Builds the matrix in Storage; every CPU starts offline with every device
 * vector free except the layout's reserved ones. */
IRQ_STATUS KiMatrixInitialize(void *Storage, size_t StorageSize, uint32_t CpuCount, const KE_VECTOR_LAYOUT *Layout,
                              KI_VECTOR_MATRIX **Matrix);
void KiMatrixSetOnline(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, bool Online);
bool KiMatrixIsOnline(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu);
void KiMatrixQueryOnline(KI_VECTOR_MATRIX *Matrix, IR_CPU_SET *Online);
KIRQL KiMatrixIrqlOfVector(const KI_VECTOR_MATRIX *Matrix, uint8_t Vector);
/* Same contracts as KeAllocateVector, KeAllocateVectorOnSet, KeReserveVector,
 * KeFreeVector, KeIsVectorAllocated and KeQueryVectorUsage (ke.h). */
IRQ_STATUS KiMatrixAllocate(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, KIRQL Irql, uint32_t *Cpu,
                            uint8_t *Vector);
/* The CPU KiMatrixAllocate would choose for KE_IRQL_ANY, without taking a
 * vector (KeQueryLeastLoadedProcessor). */
IRQ_STATUS KiMatrixQueryLeastLoaded(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Affinity, uint32_t *Cpu);
IRQ_STATUS KiMatrixAllocateOnSet(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Cpus, KIRQL Irql, uint8_t *Vector);
IRQ_STATUS KiMatrixReserve(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector);
IRQ_STATUS KiMatrixFree(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector);
bool KiMatrixIsAllocated(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector);
/* Ke's mark on a vector it links interrupt objects on (vector_matrix.c, I7),
 * under ConnectLock. Hold: as a chain gains its first link; takes the vector
 * first if nobody has (connect's "allocated, else reserve"), then marks it,
 * in one step: from then on KiMatrixFree answers ACCESS_DENIED. ReleaseHeld:
 * as the chain loses its last link; unmarks and frees the vector
 * (INVALID_STATE when it was not held). Both: SUCCESS, INVALID_PARAMETER,
 * INVALID_CPU, INVALID_VECTOR (not a device vector). */
IRQ_STATUS KiMatrixHold(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector);
IRQ_STATUS KiMatrixReleaseHeld(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint8_t Vector);
IRQ_STATUS KiMatrixQueryUsage(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, KE_VECTOR_USAGE *Usage);

#endif
