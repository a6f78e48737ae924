/* SPDX-License-Identifier: MIT */
/*
 * The kernel's own spin lock (kernel.h: RK_SPIN_LOCK), for state the kernel
 * shares between CPUs and with its interrupt handlers: the memory pool, PCI
 * configuration space, a device's registers that its ISR and its Start/Stop
 * both touch. The library's locks are its own business (a consumer never
 * reaches into them); a driver whose ISR is connected could use
 * KeSynchronizeExecution instead, but Start/Stop also run while nothing is
 * connected, so the drivers hold this lock with interrupts off.
 */
#include <irqroute/platform.h>

#include "kernel.h"

bool RkAcquireSpinLock(RK_SPIN_LOCK *Lock)
{
    /* Interrupts off first: an ISR on this CPU that takes the same lock
     * would otherwise spin on its own CPU forever. */
    bool WasEnabled = PlatDisableInterrupts();
    RkAcquireSpinLockInIsr(Lock);
    return WasEnabled;
}

void RkReleaseSpinLock(RK_SPIN_LOCK *Lock, bool WasEnabled)
{
    RkReleaseSpinLockInIsr(Lock);
    PlatRestoreInterrupts(WasEnabled);
}

void RkAcquireSpinLockInIsr(RK_SPIN_LOCK *Lock)
{
    /* Test and test-and-set: waiters spin on a shared read, not on locked
     * writes that would bounce the line between them. */
    while (atomic_exchange_explicit(&Lock->Locked, true, memory_order_acquire)) {
        while (atomic_load_explicit(&Lock->Locked, memory_order_relaxed))
            PlatCpuRelax();
    }
}

void RkReleaseSpinLockInIsr(RK_SPIN_LOCK *Lock)
{
    atomic_store_explicit(&Lock->Locked, false, memory_order_release);
}
