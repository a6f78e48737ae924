/*
 * The Ke system: processor count, per-CPU control blocks, the vector layout
 * and the vector matrix, and the public vector-allocation calls (thin
 * wrappers over the matrix in vector_matrix.c).
 */
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

KI_SYSTEM KiSystem;

static void KipReleaseMemory(void)
{
    if (KiSystem.Prcbs != NULL)
        PlatFreeMemory(KiSystem.Prcbs, KiSystem.PrcbsSize);
    if (KiSystem.MatrixStorage != NULL)
        PlatFreeMemory(KiSystem.MatrixStorage, KiSystem.MatrixStorageSize);
    KiSystem.Prcbs = NULL;
    KiSystem.MatrixStorage = NULL;
    KiSystem.Matrix = NULL;
    KiSystem.ProcessorCount = 0;
}

static bool KipIsReservedVector(const KE_VECTOR_LAYOUT *Layout, uint32_t Vector)
{
    for (uint32_t Index = 0; Index < Layout->ReservedVectorCount; Index++) {
        if (Layout->ReservedVectors[Index] == Vector)
            return true;
    }
    return Vector == Layout->SpuriousVector;
}

/* Precomputes the two lookups the dispatcher and validation need per vector:
 * "is it a device vector" and "which IRQL serves its class". */
static void KipBuildVectorTables(const KE_VECTOR_LAYOUT *Layout)
{
    for (uint32_t Word = 0; Word < 4; Word++)
        KiSystem.DeviceVectors[Word] = 0;
    for (uint32_t Vector = 0; Vector < 256; Vector++) {
        KiSystem.IrqlOfVector[Vector] = KE_IRQL_ANY;
        for (uint32_t Irql = 0; Irql < KE_IRQL_COUNT; Irql++) {
            if ((Layout->ClassesOfIrql[Irql] >> (Vector >> 4)) & 1u)
                KiSystem.IrqlOfVector[Vector] = (KIRQL)Irql;
        }
        bool InRange = Vector >= Layout->FirstDeviceVector && Vector <= Layout->LastDeviceVector;
        if (InRange && !KipIsReservedVector(Layout, Vector) && KiSystem.IrqlOfVector[Vector] != KE_IRQL_ANY)
            KiSystem.DeviceVectors[Vector / 64] |= (uint64_t)1 << (Vector % 64);
    }
}

static bool KipIsLayoutValid(const KE_VECTOR_LAYOUT *Layout)
{
    if (Layout->FirstDeviceVector < 0x20 || Layout->FirstDeviceVector > Layout->LastDeviceVector)
        return false;
    if (Layout->ReservedVectorCount > 0 && Layout->ReservedVectors == NULL)
        return false;
    return true;
}

IRQ_STATUS KeInitializeSystem(uint32_t ProcessorCount, const KE_VECTOR_LAYOUT *Layout)
{
    if (Layout == NULL || !KipIsLayoutValid(Layout))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (ProcessorCount == 0 || ProcessorCount > IR_MAX_CPUS)
        return IRQ_STATUS_INVALID_CPU;

    KipReleaseMemory();
    size_t PrcbsSize = (size_t)ProcessorCount * sizeof(KPRCB);
    size_t MatrixSize = KiMatrixStorageSize(ProcessorCount);
    KiSystem.Prcbs = PlatAllocateMemory(PrcbsSize, KI_CACHE_LINE);
    KiSystem.MatrixStorage = PlatAllocateMemory(MatrixSize, KI_CACHE_LINE);
    KiSystem.PrcbsSize = PrcbsSize;
    KiSystem.MatrixStorageSize = MatrixSize;
    if (KiSystem.Prcbs == NULL || KiSystem.MatrixStorage == NULL) {
        KipReleaseMemory();
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    }

    IRQ_STATUS Status = KiMatrixInitialize(KiSystem.MatrixStorage, MatrixSize, ProcessorCount, Layout,
                                           &KiSystem.Matrix);
    if (Status != IRQ_STATUS_SUCCESS) {
        KipReleaseMemory();
        return Status;
    }

    KiSystem.Layout = Layout;
    KiSystem.ProcessorCount = ProcessorCount;
    IrLockInitialize(&KiSystem.ConnectLock);
    KipBuildVectorTables(Layout);
    for (uint32_t Vector = 0; Vector < 256; Vector++) {
        atomic_store_explicit(&KiSystem.SystemVectors[Vector].Handler, NULL, memory_order_relaxed);
        KiSystem.SystemVectors[Vector].Context = NULL;
    }
    for (uint32_t Cpu = 0; Cpu < ProcessorCount; Cpu++)
        KiSystem.Prcbs[Cpu].Number = Cpu;
    KiInitializeIpi();
    return IRQ_STATUS_SUCCESS;
}

uint32_t KeQueryProcessorCount(void)
{
    return KiSystem.ProcessorCount;
}

IRQ_STATUS KeInitializeProcessor(uint32_t Cpu)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Cpu >= KiSystem.ProcessorCount)
        return IRQ_STATUS_INVALID_CPU;
    atomic_store_explicit(&KiGetPrcb(Cpu)->Irql, PASSIVE_LEVEL, memory_order_relaxed);
    KiMatrixSetOnline(KiSystem.Matrix, Cpu, true);
    return IRQ_STATUS_SUCCESS;
}

bool KeIsProcessorOnline(uint32_t Cpu)
{
    return KiSystem.Matrix != NULL && Cpu < KiSystem.ProcessorCount && KiMatrixIsOnline(KiSystem.Matrix, Cpu);
}

void KeQueryOnlineProcessors(IR_CPU_SET *Online)
{
    if (KiSystem.Matrix == NULL) {
        IrCpuSetZero(Online);
        return;
    }
    KiMatrixQueryOnline(KiSystem.Matrix, Online);
}

KIRQL KeIrqlOfVector(uint8_t Vector)
{
    return KiSystem.Layout == NULL ? KE_IRQL_ANY : KiSystem.IrqlOfVector[Vector];
}

IRQ_STATUS KeAllocateVector(const IR_CPU_SET *Affinity, KIRQL Irql, uint32_t *Cpu, uint8_t *Vector)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Cpu == NULL || Vector == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    return KiMatrixAllocate(KiSystem.Matrix, Affinity, Irql, Cpu, Vector);
}

IRQ_STATUS KeAllocateVectorOnSet(const IR_CPU_SET *Cpus, KIRQL Irql, uint8_t *Vector)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Vector == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    return KiMatrixAllocateOnSet(KiSystem.Matrix, Cpus, Irql, Vector);
}

IRQ_STATUS KeReserveVector(uint32_t Cpu, uint8_t Vector)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    return KiMatrixReserve(KiSystem.Matrix, Cpu, Vector);
}

IRQ_STATUS KeFreeVector(uint32_t Cpu, uint8_t Vector)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    return KiMatrixFree(KiSystem.Matrix, Cpu, Vector);
}

bool KeIsVectorAllocated(uint32_t Cpu, uint8_t Vector)
{
    return KiSystem.Matrix != NULL && KiMatrixIsAllocated(KiSystem.Matrix, Cpu, Vector);
}

IRQ_STATUS KeQueryVectorUsage(uint32_t Cpu, KE_VECTOR_USAGE *Usage)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Usage == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    return KiMatrixQueryUsage(KiSystem.Matrix, Cpu, Usage);
}

IRQ_STATUS KeSetSystemVectorHandler(uint8_t Vector, PKSYSTEM_VECTOR_HANDLER Handler, void *Context)
{
    if (KiSystem.Layout == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (KiIsDeviceVector(Vector) || Vector == KiSystem.Layout->SpuriousVector || Vector < 0x20)
        return IRQ_STATUS_INVALID_VECTOR;
    /* Context first, handler last: a CPU that sees the handler sees its context. */
    KiSystem.SystemVectors[Vector].Context = Context;
    atomic_store_explicit(&KiSystem.SystemVectors[Vector].Handler, Handler, memory_order_release);
    return IRQ_STATUS_SUCCESS;
}
