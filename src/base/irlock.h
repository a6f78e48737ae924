/* SPDX-License-Identifier: MIT */
/*
 * IR_LOCK: the library's internal spin lock (test-and-test-and-set).
 *
 * Layers below Ke (Hl, the x86 drivers) cannot use KSPIN_LOCK, which raises
 * IRQL; they use this. A lock that an interrupt path can take must be taken
 * with IrLockAcquireIrqSave, or a CPU holding it could be interrupted by code
 * that spins on it forever.
 *
 * OWNER. The lock word is 0 when the lock is free. A release build stores 1
 * when it takes it; a debug-checks build (src/base/irassert.h) stores its
 * owner instead, IrOwnerWord(): the CPU + 1, or IR_OWNER_NOT_A_CPU for a
 * caller that runs on no CPU (boot code, a host thread: PlatDebugCurrentCpu
 * says PLAT_NO_CPU). Any non-zero word is "taken", so the lock works the same
 * either way and the struct does not grow; what the debug build gains is
 * IrLockAssertHeld / IrLockAssertNotHeld (Linux's lockdep_assert_held,
 * FreeBSD's mtx_assert) and a release by a CPU that does not hold the lock
 * stopping at once. Callers that are no CPU all look alike to the check.
 * Ke's KSPIN_LOCK (src/ke/irql.c) keeps its word the same way.
 */
#ifndef IRQROUTE_IRLOCK_H
#define IRQROUTE_IRLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/platform.h>

#include "irassert.h"

typedef struct _IR_LOCK {
    _Atomic uint32_t Locked; /* 0 free; else 1, or the owner (OWNER above) */
} IR_LOCK;

#define IR_LOCK_INIT { 0 }

/* Debug checks keep the owner in the lock word itself: no build grows it. */
_Static_assert(sizeof(IR_LOCK) == sizeof(uint32_t), "IR_LOCK is one word in every build");

/* The owner word of a caller that runs on no CPU. CPUs are below
 * IR_MAX_CPUS (4096), so CPU + 1 never reaches it. */
#define IR_OWNER_NOT_A_CPU 0xFFFFFFFFu

/* The word a lock holds while the caller owns it (OWNER above). */
static inline uint32_t IrOwnerWord(void)
{
#if IRQROUTE_DEBUG_CHECKS
    uint32_t Cpu = PlatDebugCurrentCpu();
    return Cpu == PLAT_NO_CPU ? IR_OWNER_NOT_A_CPU : Cpu + 1u;
#else
    return 1u;
#endif
}

/* Debug builds only (a release word says "taken", not by whom). Held: the
 * word is the caller's (for a caller on no CPU: some such caller holds it).
 * Held by this CPU: the same, for a caller that is a CPU; a caller on no CPU
 * cannot tell itself from another, so this is false for it. */
static inline bool IrOwnerWordIsCaller(uint32_t Word)
{
    return Word == IrOwnerWord();
}

static inline bool IrOwnerWordIsCallerCpu(uint32_t Word)
{
    return Word != IR_OWNER_NOT_A_CPU && Word == IrOwnerWord();
}

static inline void IrLockInitialize(IR_LOCK *Lock)
{
    atomic_store_explicit(&Lock->Locked, 0, memory_order_relaxed);
}

/* One attempt to take a lock word (an IR_LOCK's or a KSPIN_LOCK's). A
 * release build swaps 1 in (one XCHG). With debug checks the word must keep
 * naming the holder, and a swap that finds the lock taken would overwrite
 * the holder's word with the caller's: so a compare-exchange from 0. */
static inline bool IrLockWordTryTake(_Atomic uint32_t *Word)
{
#if IRQROUTE_DEBUG_CHECKS
    uint32_t Expected = 0;
    return atomic_compare_exchange_strong_explicit(Word, &Expected, IrOwnerWord(), memory_order_acquire,
                                                   memory_order_relaxed);
#else
    return atomic_exchange_explicit(Word, 1u, memory_order_acquire) == 0;
#endif
}

static inline bool IrLockTryAcquire(IR_LOCK *Lock)
{
    return atomic_load_explicit(&Lock->Locked, memory_order_relaxed) == 0 && IrLockWordTryTake(&Lock->Locked);
}

/* The caller holds Lock. Only the owner itself ever stores its own word, so
 * a relaxed load answers for the caller exactly. */
static inline bool IrLockIsHeldByCaller(const IR_LOCK *Lock)
{
    return IrOwnerWordIsCaller(atomic_load_explicit(&Lock->Locked, memory_order_relaxed));
}

static inline bool IrLockIsHeldByCallerCpu(const IR_LOCK *Lock)
{
    return IrOwnerWordIsCallerCpu(atomic_load_explicit(&Lock->Locked, memory_order_relaxed));
}

static inline void IrLockAcquire(IR_LOCK *Lock)
{
    /* A CPU spinning on a lock it holds would spin forever. */
    IR_ASSERT_TEXT(!IrLockIsHeldByCallerCpu(Lock), "IrLockAcquire: this CPU holds the lock already");
    while (!IrLockWordTryTake(&Lock->Locked)) {
        while (atomic_load_explicit(&Lock->Locked, memory_order_relaxed) != 0)
            PlatCpuRelax();
    }
}

static inline void IrLockRelease(IR_LOCK *Lock)
{
    IR_ASSERT_TEXT(IrLockIsHeldByCaller(Lock), "IrLockRelease: the caller holds the lock");
    atomic_store_explicit(&Lock->Locked, 0, memory_order_release);
}

/* "The caller holds Lock" / "the caller does not hold Lock": debug checks
 * (src/base/irassert.h); nothing in a release build. */
#define IrLockAssertHeld(Lock) IR_ASSERT(IrLockIsHeldByCaller(Lock))
#define IrLockAssertNotHeld(Lock) IR_ASSERT(!IrLockIsHeldByCallerCpu(Lock))

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
