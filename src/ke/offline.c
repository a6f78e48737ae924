/* SPDX-License-Identifier: MIT */
/*
 * Taking a CPU out of device interrupt routing and back (ke.h). Ke's part is
 * small: the allocator stops choosing the CPU, Ke refuses while an object
 * Ke itself connected (which no one can move) is there, and the drain waits
 * until the CPU has retired every link a move left on it. Moving what the
 * I/O manager connected is Io's (IoSetProcessorOffline), which calls these.
 *
 * The CPU keeps running and keeps taking IPIs (Ke's retire requests among
 * them): "offline" here means no device interrupt is routed to it.
 */
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

/* An object Ke's own caller connected, linked on Cpu (ConnectLock). */
static const KINTERRUPT *KipFindKeOwnedOn(uint32_t Cpu)
{
    for (const KINTERRUPT *Object = KiSystem.Connected; Object != NULL; Object = Object->ConnectedNext) {
        if (atomic_load_explicit(&Object->Owner, memory_order_relaxed) == KeInterruptOwnerKe &&
            IrCpuSetContains(&Object->Cpus, Cpu))
            return Object;
    }
    return NULL;
}

static IRQ_STATUS KipCheckCpu(uint32_t Cpu)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    return Cpu < KiSystem.ProcessorCount ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_CPU;
}

IRQ_STATUS KeSetProcessorOffline(uint32_t Cpu)
{
    IRQ_STATUS Status = KipCheckCpu(Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    IR_CPU_SET Online;
    KiMatrixQueryOnline(KiSystem.Matrix, &Online);
    if (!IrCpuSetContains(&Online, Cpu))
        Status = IRQ_STATUS_INVALID_STATE;
    else if (IrCpuSetWeight(&Online) == 1u || KipFindKeOwnedOn(Cpu) != NULL)
        Status = IRQ_STATUS_ACCESS_DENIED;
    else
        KiMatrixSetOnline(KiSystem.Matrix, Cpu, false);
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    return Status;
}

IRQ_STATUS KeSetProcessorOnline(uint32_t Cpu)
{
    IRQ_STATUS Status = KipCheckCpu(Cpu);
    if (Status == IRQ_STATUS_SUCCESS)
        KiMatrixSetOnline(KiSystem.Matrix, Cpu, true);
    return Status;
}

static bool KipHasRetiringLinks(uint32_t Cpu)
{
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    bool Any = KiGetPrcb(Cpu)->RetireList != NULL;
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    return Any;
}

/* The request bit is cleared when the CPU takes the IPI, before it looks at
 * its list: once it is clear, that look has begun, and the list is read
 * again under ConnectLock. */
static void KipWaitForRequestTaken(uint32_t Cpu)
{
    while ((atomic_load_explicit(&KiGetPrcb(Cpu)->IpiPending, memory_order_acquire) >> KI_IPI_RETIRE_LINKS) & 1u)
        PlatCpuRelax();
}

IRQ_STATUS KeDrainRetiringLinks(uint32_t Cpu)
{
    IRQ_STATUS Status = KipCheckCpu(Cpu);
    if (Status == IRQ_STATUS_SUCCESS)
        KiStopWaitingForTrigger(Cpu);
    while (Status == IRQ_STATUS_SUCCESS && KipHasRetiringLinks(Cpu)) {
        Status = KiSendIpiRequest(Cpu, KI_IPI_RETIRE_LINKS);
        if (Status == IRQ_STATUS_SUCCESS)
            KipWaitForRequestTaken(Cpu);
        PlatCpuRelax();
    }
    return Status == IRQ_STATUS_INVALID_CPU || Status == IRQ_STATUS_NOT_INITIALIZED || Status == IRQ_STATUS_SUCCESS
               ? Status
               : IRQ_STATUS_DEVICE_ERROR;
}
