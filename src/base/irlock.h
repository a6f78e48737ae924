/*
 * IR_LOCK: the library's internal spin lock (test-and-test-and-set).
 *
 * Layers below Ke (Hl, the x86 drivers) cannot use KSPIN_LOCK, which raises
 * IRQL; they use this. A lock that an interrupt path can take must be taken
 * with IrLockAcquireIrqSave, or a CPU holding it could be interrupted by code
 * that spins on it forever.
 */
#ifndef IRQROUTE_IRLOCK_H
#define IRQROUTE_IRLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/platform.h>

typedef struct _IR_LOCK {
    _Atomic uint32_t Locked;
} IR_LOCK;

#define IR_LOCK_INIT { 0 }

static inline void IrLockInitialize(IR_LOCK *Lock)
{
    atomic_store_explicit(&Lock->Locked, 0, memory_order_relaxed);
}

static inline bool IrLockTryAcquire(IR_LOCK *Lock)
{
    return atomic_load_explicit(&Lock->Locked, memory_order_relaxed) == 0 &&
           atomic_exchange_explicit(&Lock->Locked, 1, memory_order_acquire) == 0;
}

static inline void IrLockAcquire(IR_LOCK *Lock)
{
    while (atomic_exchange_explicit(&Lock->Locked, 1, memory_order_acquire) != 0) {
        while (atomic_load_explicit(&Lock->Locked, memory_order_relaxed) != 0)
            PlatCpuRelax();
    }
}

static inline void IrLockRelease(IR_LOCK *Lock)
{
    atomic_store_explicit(&Lock->Locked, 0, memory_order_release);
}

/* Disables interrupts, then acquires; returns the previous interrupt state. */
static inline bool IrLockAcquireIrqSave(IR_LOCK *Lock)
{
    bool WasEnabled = PlatDisableInterrupts();
    IrLockAcquire(Lock);
    return WasEnabled;
}

static inline void IrLockReleaseIrqRestore(IR_LOCK *Lock, bool WasEnabled)
{
    IrLockRelease(Lock);
    PlatRestoreInterrupts(WasEnabled);
}

#endif
