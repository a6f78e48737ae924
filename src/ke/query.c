/* SPDX-License-Identifier: MIT */
/*
 * What is connected where: read-only queries over the vector tables for the
 * routing dump (src/io/dump.c) and for tests.
 *
 * The chains are read under KiSystem.ConnectLock, the writers' lock (ki.h,
 * THE CONNECTION PROTOCOL), so a walk sees whole chains and every object on
 * them stays valid until the lock is released; what is copied out is all a
 * caller gets. The dispatcher never takes the lock, so a query does not
 * hold off interrupts.
 */
#include <irqroute/ke.h>

#include "ki.h"

static IRQ_STATUS KipCheckQuery(uint32_t Cpu)
{
    if (KiSystem.Prcbs == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Cpu >= KiSystem.ProcessorCount)
        return IRQ_STATUS_INVALID_CPU;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS KeQueryConnectedVectors(uint32_t Cpu, uint64_t Vectors[4])
{
    IRQ_STATUS Status = KipCheckQuery(Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Vectors == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    const KPRCB *Prcb = KiGetPrcb(Cpu);
    uint64_t Found[4] = {0, 0, 0, 0};
    IrLockAcquire(&KiSystem.ConnectLock);
    for (uint32_t Vector = 0; Vector < 256u; Vector++) {
        if (atomic_load_explicit(&Prcb->Chains[Vector], memory_order_relaxed) != NULL)
            Found[Vector / 64u] |= (uint64_t)1 << (Vector % 64u);
    }
    IrLockRelease(&KiSystem.ConnectLock);
    for (uint32_t Word = 0; Word < 4u; Word++)
        Vectors[Word] = Found[Word];
    return IRQ_STATUS_SUCCESS;
}

/* Under ConnectLock: the link's object, whole, as the query reports it. */
static void KipCopyObject(const KI_INTERRUPT_LINK *Link, KE_VECTOR_OBJECT *Object)
{
    IrLockAssertHeld(&KiSystem.ConnectLock);
    KINTERRUPT *Interrupt = Link->Interrupt;
    Object->Interrupt = Interrupt;
    Object->Owner = (KE_INTERRUPT_OWNER)atomic_load_explicit(&Interrupt->Owner, memory_order_relaxed);
    Object->Irql = Interrupt->Irql;
    Object->SynchronizeIrql = Interrupt->SynchronizeIrql;
    Object->Mode = Interrupt->Mode;
    Object->ShareVector = Interrupt->ShareVector;
    Object->Count = atomic_load_explicit(&Link->Count, memory_order_relaxed);
    Object->Claimed = atomic_load_explicit(&Link->Claimed, memory_order_relaxed);
    IrCpuSetCopy(&Object->Cpus, &Interrupt->Cpus);
}

IRQ_STATUS KeQueryVectorObjects(uint32_t Cpu, uint8_t Vector, uint32_t Skip, KE_VECTOR_OBJECT *Objects,
                                uint32_t Capacity, uint32_t *Total)
{
    IRQ_STATUS Status = KipCheckQuery(Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Total == NULL || (Objects == NULL && Capacity != 0))
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t Count = 0;
    IrLockAcquire(&KiSystem.ConnectLock);
    for (const KI_INTERRUPT_LINK *Link = atomic_load_explicit(&KiGetPrcb(Cpu)->Chains[Vector], memory_order_relaxed);
         Link != NULL; Link = atomic_load_explicit(&Link->Next, memory_order_relaxed)) {
        /* Every link in a CPU's chain is that CPU's, of an object on the vector. */
        IR_ASSERT(Link->Cpu == Cpu && Link->Vector == Vector);
        if (Count >= Skip && Count - Skip < Capacity)
            KipCopyObject(Link, &Objects[Count - Skip]);
        Count++;
    }
    IrLockRelease(&KiSystem.ConnectLock);
    *Total = Count;
    return IRQ_STATUS_SUCCESS;
}
