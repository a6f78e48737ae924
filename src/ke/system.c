/* SPDX-License-Identifier: MIT */
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
    if (KiSystem.StormWindows != NULL)
        PlatFreeMemory(KiSystem.StormWindows, KiSystem.StormWindowsSize);
    KiSystem.Prcbs = NULL;
    KiSystem.StormWindows = NULL;
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

/* What KiIsDeviceVector will say of Vector once Layout is installed. */
static bool KipIsDeviceVectorOfLayout(const KE_VECTOR_LAYOUT *Layout, uint32_t Vector)
{
    if (Vector < Layout->FirstDeviceVector || Vector > Layout->LastDeviceVector || KipIsReservedVector(Layout, Vector))
        return false;
    for (uint32_t Irql = 0; Irql < KE_IRQL_COUNT; Irql++) {
        if ((Layout->ClassesOfIrql[Irql] >> (Vector >> 4)) & 1u)
            return true;
    }
    return false;
}

/* The IPI vector (0: none) must be a system vector, the kind
 * KeSetSystemVectorHandler takes: a device vector would be handed out to a
 * device and dispatched as one, and the spurious vector is never EOIed. */
static bool KipIsIpiVectorValid(const KE_VECTOR_LAYOUT *Layout)
{
    uint8_t Vector = Layout->IpiVector;
    if (Vector == 0)
        return true;
    return Vector >= 0x20 && Vector != Layout->SpuriousVector && !KipIsDeviceVectorOfLayout(Layout, Vector);
}

static bool KipIsLayoutValid(const KE_VECTOR_LAYOUT *Layout)
{
    if (Layout->FirstDeviceVector < 0x20 || Layout->FirstDeviceVector > Layout->LastDeviceVector)
        return false;
    if (Layout->ReservedVectorCount > 0 && Layout->ReservedVectors == NULL)
        return false;
    return KipIsIpiVectorValid(Layout);
}

/* The blocks of a new system, allocated before the old one is let go so that
 * a failing KeInitializeSystem leaves the running system as it was. */
typedef struct _KIP_NEW_SYSTEM {
    KPRCB *Prcbs;
    size_t PrcbsSize;
    void *MatrixStorage;
    size_t MatrixStorageSize;
    KI_VECTOR_MATRIX *Matrix;
    KI_STORM_WINDOW *StormWindows; /* storm.c: [ProcessorCount][256] */
    size_t StormWindowsSize;
} KIP_NEW_SYSTEM;

static void KipFreeNewSystem(KIP_NEW_SYSTEM *New)
{
    if (New->Prcbs != NULL)
        PlatFreeMemory(New->Prcbs, New->PrcbsSize);
    if (New->MatrixStorage != NULL)
        PlatFreeMemory(New->MatrixStorage, New->MatrixStorageSize);
    if (New->StormWindows != NULL)
        PlatFreeMemory(New->StormWindows, New->StormWindowsSize);
}

static IRQ_STATUS KipBuildNewSystem(uint32_t ProcessorCount, const KE_VECTOR_LAYOUT *Layout, KIP_NEW_SYSTEM *New)
{
    New->PrcbsSize = (size_t)ProcessorCount * sizeof(KPRCB);
    New->MatrixStorageSize = KiMatrixStorageSize(ProcessorCount);
    New->Prcbs = PlatAllocateMemory(New->PrcbsSize, KI_CACHE_LINE);
    New->MatrixStorage = PlatAllocateMemory(New->MatrixStorageSize, KI_CACHE_LINE);
    New->StormWindowsSize = (size_t)ProcessorCount * 256u * sizeof(KI_STORM_WINDOW);
    New->StormWindows = PlatAllocateMemory(New->StormWindowsSize, KI_CACHE_LINE);
    New->Matrix = NULL;
    IRQ_STATUS Status = IRQ_STATUS_INSUFFICIENT_RESOURCES;
    if (New->Prcbs != NULL && New->MatrixStorage != NULL && New->StormWindows != NULL)
        Status = KiMatrixInitialize(New->MatrixStorage, New->MatrixStorageSize, ProcessorCount, Layout,
                                    &New->Matrix);
    if (Status != IRQ_STATUS_SUCCESS)
        KipFreeNewSystem(New);
    return Status;
}

IRQ_STATUS KeInitializeSystem(uint32_t ProcessorCount, const KE_VECTOR_LAYOUT *Layout)
{
    if (Layout == NULL || !KipIsLayoutValid(Layout))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (ProcessorCount == 0 || ProcessorCount > IR_MAX_CPUS)
        return IRQ_STATUS_INVALID_CPU;

    KIP_NEW_SYSTEM New;
    IRQ_STATUS Status = KipBuildNewSystem(ProcessorCount, Layout, &New);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    KipReleaseMemory();
    KiSystem.Prcbs = New.Prcbs;
    KiSystem.PrcbsSize = New.PrcbsSize;
    KiSystem.MatrixStorage = New.MatrixStorage;
    KiSystem.MatrixStorageSize = New.MatrixStorageSize;
    KiSystem.Matrix = New.Matrix;
    KiSystem.StormWindows = New.StormWindows; /* zeroed: every window starts at 0 */
    KiSystem.StormWindowsSize = New.StormWindowsSize;
    KiResetStormDetection();

    KiSystem.Layout = Layout;
    KiSystem.ProcessorCount = ProcessorCount;
    IrLockInitialize(&KiSystem.ConnectLock);
    KiSystem.Connected = NULL; /* the old system's objects are gone with it */
    KipBuildVectorTables(Layout);
    for (uint32_t Vector = 0; Vector < 256; Vector++) {
        atomic_store_explicit(&KiSystem.SystemVectors[Vector].Handler, NULL, memory_order_relaxed);
        KiSystem.SystemVectors[Vector].Context = NULL;
    }
    for (uint32_t Word = 0; Word < 4; Word++)
        KiSystem.KeOwnedVectors[Word] = 0;
    for (uint32_t Cpu = 0; Cpu < ProcessorCount; Cpu++)
        KiSystem.Prcbs[Cpu].Number = Cpu;
    KiInitializeIpi();
    return IRQ_STATUS_SUCCESS;
}

/* Ke's own record says whether an object is still connected (interrupt.c):
 * its links would point into per-CPU tables about to be freed. */
IRQ_STATUS KeShutdownSystem(void)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    bool AnyConnected = KiSystem.Connected != NULL;
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    if (AnyConnected)
        return IRQ_STATUS_INVALID_STATE;
    KipReleaseMemory();
    KiSystem.Layout = NULL; /* the IPI calls test it */
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

IRQ_STATUS KeQueryLeastLoadedProcessor(const IR_CPU_SET *Affinity, uint32_t *Cpu)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    return KiMatrixQueryLeastLoaded(KiSystem.Matrix, Affinity, Cpu);
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

/* A vector that interrupt objects are connected on is theirs: freed under
 * them, it would be handed to another device while their ISRs stay in its
 * chain. Connect marks it held in the matrix as it links the first of them
 * and their last disconnect frees it, so the matrix refuses it here, with
 * the test and the free under the matrix's lock alone (vector_matrix.c,
 * I7): no ConnectLock on the allocator's path. */
IRQ_STATUS KeFreeVector(uint32_t Cpu, uint8_t Vector)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Cpu >= KiSystem.ProcessorCount)
        return IRQ_STATUS_INVALID_CPU;
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

static bool KipIsKeOwnedVector(uint8_t Vector)
{
    return (KiSystem.KeOwnedVectors[Vector / 64u] >> (Vector % 64u)) & 1u;
}

/* Context first, handler last: a CPU that sees the handler sees its context. */
static void KipPublishSystemVector(uint8_t Vector, PKSYSTEM_VECTOR_HANDLER Handler, void *Context)
{
    KiSystem.SystemVectors[Vector].Context = Context;
    atomic_store_explicit(&KiSystem.SystemVectors[Vector].Handler, Handler, memory_order_release);
}

void KiInstallSystemVector(uint8_t Vector, PKSYSTEM_VECTOR_HANDLER Handler, void *Context)
{
    KipPublishSystemVector(Vector, Handler, Context);
    KiSystem.KeOwnedVectors[Vector / 64u] |= (uint64_t)1 << (Vector % 64u);
}

/* A vector Ke handles itself (the IPI vector) is refused: a caller that
 * replaced its handler would leave KeSendIpi reporting success for messages
 * nobody receives and KeIpiGenericCall waiting for ever. */
IRQ_STATUS KeSetSystemVectorHandler(uint8_t Vector, PKSYSTEM_VECTOR_HANDLER Handler, void *Context)
{
    if (KiSystem.Layout == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (KiIsDeviceVector(Vector) || Vector == KiSystem.Layout->SpuriousVector || Vector < 0x20)
        return IRQ_STATUS_INVALID_VECTOR;
    if (KipIsKeOwnedVector(Vector))
        return IRQ_STATUS_ACCESS_DENIED;
    KipPublishSystemVector(Vector, Handler, Context);
    return IRQ_STATUS_SUCCESS;
}
