/*
 * Private state of the Ke layer: the per-CPU control blocks (KPRCB), the
 * interrupt object layout, and the rules that keep dispatch lock-free.
 *
 * THE CONNECTION PROTOCOL (read this before touching interrupt.c/dispatch.c)
 *
 * Each CPU has a vector table: Slots[v].Head is a singly linked chain of
 * KI_INTERRUPT_LINKs, one per (object, CPU) the object is connected on.
 *
 *  - Writers (connect, disconnect) are serialised by KiSystem.ConnectLock and
 *    never run on the dispatch path. A link is fully built before it is
 *    published with a store to its predecessor's Next (or the slot's Head);
 *    unlinking is one store of the successor into the predecessor. A walker
 *    that stands on an unlinked link still finds the rest of the chain, so
 *    other sharers never miss an interrupt.
 *
 *  - Readers (the dispatcher) take no lock. On entry a CPU bumps the dispatch
 *    depth in its KPRCB.DispatchState; on the outermost exit it clears the
 *    depth and advances the generation (bits 63:16). Only the owning CPU
 *    writes its DispatchState.
 *
 *  - Disconnect unlinks, then for each CPU the object was on reads that CPU's
 *    DispatchState: depth 0 means no dispatch there can still hold the link;
 *    otherwise it waits until the generation moves (the dispatch that might
 *    hold it has ended). Then the object's memory is the caller's again.
 *
 *  Why this is enough: the entry store and the chain loads on the dispatch
 *  side, and the unlink store and the DispatchState load on the disconnect
 *  side, are all seq_cst. In their single total order, either the
 *  disconnector sees the depth (and waits), or the entry store comes after
 *  the unlink, so the dispatcher's chain loads cannot return the old link.
 *  The cost on the hot path is one seq_cst store (XCHG on x86) per
 *  interrupt, on a line only this CPU writes.
 */
#ifndef IRQROUTE_KI_H
#define IRQROUTE_KI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/ke.h>

#include "irlock.h"
#include "ki_matrix.h"

#define KI_CACHE_LINE 64u
#define KI_DISPATCH_DEPTH_MASK 0xFFFFull
#define KI_DISPATCH_GENERATION_ONE 0x10000ull
#define KI_INTERRUPT_SIGNATURE 0x544E494Bu /* "KINT" */

typedef struct _KI_INTERRUPT_LINK KI_INTERRUPT_LINK;

/* One CPU's entry in the chain of a vector. Counters are written only by
 * that CPU, so they are plain load+store, never a locked add. */
struct _KI_INTERRUPT_LINK {
    KI_INTERRUPT_LINK *_Atomic Next;
    KINTERRUPT *Interrupt;
    uint32_t Cpu;
    _Atomic uint64_t Count;
    _Atomic uint64_t Claimed;
} __attribute__((aligned(KI_CACHE_LINE)));

struct _KINTERRUPT {
    uint32_t Signature;
    uint32_t LinkCount;
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *ActualLock;
    KIRQL Irql;
    KIRQL SynchronizeIrql;
    uint8_t Vector;
    bool ShareVector;
    KINTERRUPT_MODE Mode;
    KINTERRUPT_POLARITY Polarity;
    _Atomic bool Connected;
    _Atomic(PKPOST_DISPATCH_ROUTINE) PostDispatch;
    void *_Atomic PostDispatchContext;
    KSPIN_LOCK SpinLock;
    IR_CPU_SET Cpus;
    IR_CPU_SET Affinity;
    KI_INTERRUPT_LINK Links[]; /* LinkCount, in ascending CPU order */
};

typedef struct _KI_VECTOR_SLOT {
    KI_INTERRUPT_LINK *_Atomic Head;
    _Atomic uint64_t Dispatched;
    _Atomic uint64_t Unclaimed;
} KI_VECTOR_SLOT;

/* Per-CPU control block. */
typedef struct _KPRCB {
    uint32_t Number;
    _Atomic KIRQL Irql;                /* current IRQL; other CPUs read it */
    _Atomic uint64_t DispatchState;    /* depth 15:0, generation 63:16 */
    _Atomic uint64_t SpuriousCount;
    _Atomic uint32_t IpiPending;       /* bit per KE_IPI_MESSAGE; any CPU sets, owner clears */
    _Atomic uint64_t IpiCounts[KeIpiMessageCount];
    KI_VECTOR_SLOT Slots[256];
} __attribute__((aligned(KI_CACHE_LINE))) KPRCB;

typedef struct _KI_SYSTEM_VECTOR {
    _Atomic(PKSYSTEM_VECTOR_HANDLER) Handler;
    void *Context;
} KI_SYSTEM_VECTOR;

typedef struct _KI_SYSTEM {
    uint32_t ProcessorCount;
    const KE_VECTOR_LAYOUT *Layout;
    KPRCB *Prcbs;
    size_t PrcbsSize;
    KI_VECTOR_MATRIX *Matrix;
    void *MatrixStorage;
    size_t MatrixStorageSize;
    IR_LOCK ConnectLock;
    uint64_t DeviceVectors[4];         /* bitmap: device range minus reserved */
    KIRQL IrqlOfVector[256];
    KI_SYSTEM_VECTOR SystemVectors[256];
} KI_SYSTEM;

extern KI_SYSTEM KiSystem;

static inline bool KiIsDeviceVector(uint32_t Vector)
{
    return Vector < 256u && (KiSystem.DeviceVectors[Vector / 64u] >> (Vector % 64u)) & 1u;
}

static inline KPRCB *KiGetPrcb(uint32_t Cpu)
{
    return &KiSystem.Prcbs[Cpu];
}

/* Software-only IRQL change for the dispatcher (interrupts are disabled, so
 * the TPR need not follow). */
static inline void KiSetRecordedIrql(KPRCB *Prcb, KIRQL Irql)
{
    atomic_store_explicit(&Prcb->Irql, Irql, memory_order_relaxed);
}

/* Single-writer counter increment: no locked instruction. */
static inline void KiBumpCounter(_Atomic uint64_t *Counter)
{
    atomic_store_explicit(Counter, atomic_load_explicit(Counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Registers the IPI vector's handler (called by KeInitializeSystem). */
void KiInitializeIpi(void);

/* The dispatcher's own copies of the spin lock operations, inlined on the
 * hot path (the exported KeAcquireSpinLockAtDpcLevel is the same loop). */
static inline void KiAcquireSpinLock(KSPIN_LOCK *SpinLock)
{
    while (__builtin_expect(atomic_exchange_explicit(&SpinLock->Locked, 1, memory_order_acquire) != 0, 0)) {
        while (atomic_load_explicit(&SpinLock->Locked, memory_order_relaxed) != 0)
            PlatCpuRelax();
    }
}

static inline void KiReleaseSpinLock(KSPIN_LOCK *SpinLock)
{
    atomic_store_explicit(&SpinLock->Locked, 0, memory_order_release);
}

/* Waits until no dispatch on Cpu that began before the call can still be
 * walking a chain (see the protocol above). */
void KiWaitForDispatchQuiescence(uint32_t Cpu);

#endif
