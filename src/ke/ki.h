/* SPDX-License-Identifier: MIT */
/*
 * Private state of the Ke layer: the per-CPU control blocks (KPRCB), the
 * interrupt object layout, and the rules that keep dispatch lock-free.
 *
 * THE CONNECTION PROTOCOL (read this before touching interrupt.c/dispatch.c)
 *
 * Each CPU has a vector table: KPRCB.Chains[v] is a singly linked chain of
 * KI_INTERRUPT_LINKs, one per (object, CPU) the object is connected on.
 *
 *  - Writers (connect, disconnect) are serialised by KiSystem.ConnectLock and
 *    never run on the dispatch path. A link is fully built before it is
 *    published with a store to its predecessor's Next (or the slot's Head);
 *    unlinking is one store of the successor into the predecessor. A walker
 *    that stands on an unlinked link still finds the rest of the chain, so
 *    other sharers never miss an interrupt.
 *
 *  - Readers (the dispatcher) take no lock. KPRCB.DispatchState counts the
 *    CPU's outermost dispatches twice: odd while one is under way (entry
 *    adds 1), even once it has left (exit adds 1 more). Only the owning CPU
 *    writes it. A dispatch nested in another on the same CPU (an ISR that
 *    re-enabled interrupts) finds it odd and leaves it alone: the outer
 *    dispatch's announcement covers everything sequenced inside it.
 *
 *  - Disconnect unlinks, then for each CPU the object was on reads that CPU's
 *    DispatchState: even means no dispatch there can still hold the link;
 *    odd means it waits until the value moves (that dispatch has ended).
 *    Then the object's memory is the caller's again.
 *
 *  Why this is enough (C11): the entry is a seq_cst read-modify-write and the
 *  chain loads are seq_cst on the dispatch side; the unlink store and the
 *  DispatchState load are seq_cst on the disconnect side. All four are in
 *  the single total order S. If the disconnector's load comes before the
 *  entry in S, then unlink <S load <S entry <S every chain load of that
 *  dispatch, and a seq_cst load cannot read a store older than the last
 *  seq_cst store to its location before it in S (every chain store is
 *  seq_cst): the dispatch does not see the old link. Otherwise the load
 *  reads the entry (odd: the disconnector waits) or something later in the
 *  DispatchState's modification order, which only its owner writes, in
 *  program order: a later value is that dispatch's exit (a release store)
 *  or comes after it (a later exit, or a later entry, whose RMW continues
 *  the exit's release sequence), so the disconnector's acquire/seq_cst load
 *  synchronises with the exit or a later one, and everything the dispatch
 *  did with the object happens before disconnect returns.
 *  The cost on the hot path is one locked add (x86: LOCK ADD) per interrupt
 *  on a line only this CPU writes; the exit is KiBumpRelease, a plain ADD to
 *  memory on x86-64 (a release under x86's store order), a C11 release store
 *  elsewhere.
 *
 *  Why not cheaper: without a store-load barrier on the dispatch side the
 *  entry store could still sit in the CPU's store buffer while the chain is
 *  read (x86 lets a load pass an earlier store, SDM vol. 3A 8.2.3.4), and the
 *  disconnector would see "idle" while the dispatch runs the old ISR. The
 *  barrier could move to the disconnect side only by making every CPU of
 *  the set take an interrupt (an IPI handshake): that would make disconnect
 *  wait for CPUs that cannot take one (the sim's attached threads that are
 *  blocked, a CPU at high IRQL) and need a current CPU in the caller. It
 *  would save about one nanosecond per interrupt here (measured: the locked
 *  add is next to the ISR lock's XCHG, which drains the store buffer anyway).
 */
#ifndef IRQROUTE_KI_H
#define IRQROUTE_KI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/ke.h>

#include "irassert.h"
#include "irlock.h"
#include "ki_matrix.h"

#define KI_CACHE_LINE 64u
#define KI_DISPATCH_ACTIVE 1ull /* DispatchState is odd while a dispatch runs */
#define KI_INTERRUPT_SIGNATURE 0x544E494Bu /* "KINT" */

typedef struct _KI_INTERRUPT_LINK KI_INTERRUPT_LINK;

/* A link slot's life (src/ke/link.c). Only ConnectLock's holder changes it. */
typedef enum _KI_LINK_STATE {
    KiLinkUnused = 0, /* never linked, or its counts were folded into the object's */
    KiLinkActive,     /* in Cpu's chain of Vector; the device may send there */
    KiLinkRetiring,   /* still in the chain, on Cpu's retire list: nothing new is sent there */
    KiLinkRetired,    /* out of the chain; its counts still count for Cpu */
} KI_LINK_STATE;

/* One CPU's entry in the chain of a vector. Counters are written only by
 * that CPU, so they are never a locked add (KiBumpCounter). Vector is the
 * link's own: an object that moves has links on different vectors. */
struct _KI_INTERRUPT_LINK {
    KI_INTERRUPT_LINK *_Atomic Next;
    KINTERRUPT *Interrupt;
    uint32_t Cpu;
    uint32_t HomeCpu;              /* a first-set slot's CPU (connect relinks there); else IR_CPU_NONE */
    uint8_t Vector;
    _Atomic uint8_t State;         /* KI_LINK_STATE; ConnectLock writes, the dispatcher reads (post-dispatch) */
    bool AwaitingTrigger;          /* Retiring, until a newer link's first interrupt; ConnectLock */
    _Atomic uint64_t Count;
    _Atomic uint64_t Claimed;
    KI_INTERRUPT_LINK *RetireNext; /* on KPRCB.RetireList while Retiring; ConnectLock */
} __attribute__((aligned(KI_CACHE_LINE)));

struct _KINTERRUPT {
    uint32_t Signature;
    uint32_t LinkCount;                 /* slots in Links[]: the first set's, then spares */
    uint32_t HomeLinks;                 /* the first set's slots, linked by connect */
    uint8_t HomeVector;                 /* the vector connect links them on */
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *ActualLock;
    KIRQL Irql;
    KIRQL SynchronizeIrql;
    _Atomic uint8_t Vector;             /* the newest link's (KeAddInterruptLink); ConnectLock writes */
    bool ShareVector;
    KINTERRUPT_MODE Mode;
    KINTERRUPT_POLARITY Polarity;
    _Atomic uint32_t Owner;             /* KE_INTERRUPT_OWNER; KeInterruptOwnerNone: not connected */
    _Atomic(PKPOST_DISPATCH_ROUTINE) PostDispatch;
    void *_Atomic PostDispatchContext;
    KSPIN_LOCK SpinLock;
    /* On KiSystem.Connected while connected (ConnectLock); never read by dispatch. */
    KINTERRUPT *ConnectedNext;
    KINTERRUPT *ConnectedPrevious;
    _Atomic uint32_t RetiringLinks;     /* links Retiring; read without ConnectLock */
    _Atomic uint32_t ArmedLinks;        /* of them, AwaitingTrigger; the dispatcher reads it */
    uint64_t FoldedCount;               /* counts of slots reused for another CPU; ConnectLock */
    uint64_t FoldedClaimed;
    IR_CPU_SET Cpus;                    /* CPUs with a link in a chain; ConnectLock */
    IR_CPU_SET Affinity;
    KI_INTERRUPT_LINK Links[]; /* LinkCount; the first set's in ascending CPU order */
};

/* Per-CPU control block: exactly KI_PRCB_SIZE bytes (a power of two), so
 * that the dispatcher finds a CPU's block with a shift, and the per-vector
 * tables first, so that it finds a vector's entries with a scaled index.
 * The unclaimed counts are written rarely and sit apart. */
#define KI_PRCB_SIZE 8192u
typedef union _KPRCB {
    struct {
        KI_INTERRUPT_LINK *_Atomic Chains[256]; /* the vector table: first link of each vector */
        _Atomic uint64_t Dispatched[256];       /* per vector: deliveries */
        _Atomic uint64_t Unclaimed[256];        /* per vector: deliveries no ISR claimed */
        uint32_t Number;
        _Atomic KIRQL Irql;                     /* current IRQL; other CPUs read it */
        KIRQL InterruptedIrql;                  /* what the dispatch under way returns to (owner only) */
        _Atomic uint64_t DispatchState;         /* 2 x outermost dispatches, +1 while one runs (above) */
        _Atomic uint64_t SpuriousCount;
        _Atomic uint32_t IpiPending;            /* bit per KE_IPI_MESSAGE; any CPU sets, owner clears */
        _Atomic uint64_t IpiCounts[KeIpiMessageCount];
        KI_INTERRUPT_LINK *RetireList;          /* links to take out of this CPU's chains; ConnectLock */
    };
    unsigned char Size[KI_PRCB_SIZE];
} KPRCB;
_Static_assert(sizeof(KI_INTERRUPT_LINK) == KI_CACHE_LINE, "a link is one cache line");
_Static_assert(sizeof(KPRCB) == KI_PRCB_SIZE, "KPRCB must stay a power of two");

typedef struct _KI_SYSTEM_VECTOR {
    _Atomic(PKSYSTEM_VECTOR_HANDLER) Handler;
    void *Context;
} KI_SYSTEM_VECTOR;

/* Storm detection (src/ke/storm.c): one per (CPU, vector), written only by
 * that CPU's dispatcher on its unclaimed (cold) paths. Kept out of the KPRCB,
 * which has no room for 256 of them (KiSystem.StormWindows, allocated with the
 * blocks). */
typedef struct _KI_STORM_WINDOW {
    uint64_t Start;              /* the vector's Dispatched count before the window's first dispatch */
    uint32_t Unclaimed;          /* unclaimed dispatches in the window; 0: none under way */
    uint32_t LastUnclaimedEpoch; /* KiSystem.StormEpoch at the last unclaimed dispatch */
} KI_STORM_WINDOW;

typedef struct _KI_SYSTEM {
    uint32_t ProcessorCount;
    const KE_VECTOR_LAYOUT *Layout;
    KPRCB *Prcbs;
    size_t PrcbsSize;
    KI_VECTOR_MATRIX *Matrix;
    void *MatrixStorage;
    size_t MatrixStorageSize;
    IR_LOCK ConnectLock;               /* taken with interrupts off (IrLockAcquireIrqSave) */
    KINTERRUPT *Connected;             /* ConnectLock: every connected object (interrupt.c) */
    uint64_t DeviceVectors[4];         /* bitmap: device range minus reserved */
    KIRQL IrqlOfVector[256];
    KI_SYSTEM_VECTOR SystemVectors[256];
    uint64_t KeOwnedVectors[4];        /* bitmap: system vectors Ke handles itself (IPI) */
    KI_STORM_WINDOW *StormWindows;     /* [ProcessorCount][256] (storm.c) */
    size_t StormWindowsSize;
    _Atomic uint64_t StormLimits;      /* window size << 32 | threshold: read as one word */
    _Atomic uint32_t StormEpoch;       /* KeAdvanceStormEpoch: the stale-unclaimed clock */
    _Atomic(PKSTORM_HANDLER) StormHandler;
    void *_Atomic StormContext;
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

/* Single-writer increments: no locked instruction. Only the owning CPU
 * writes the word; other CPUs may read it at any time. On x86-64 one ADD to
 * memory does it: an aligned 8-byte store is single-copy atomic (SDM vol. 3A
 * 8.1.1), so a reader sees the old or the new value. Elsewhere, and under
 * ThreadSanitizer (which does not see inside an asm statement), the same in
 * C11 atomics: a relaxed load and a store. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KI_THREAD_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define KI_THREAD_SANITIZER 1
#endif
#if defined(__x86_64__) && !defined(KI_THREAD_SANITIZER)
#define KI_X86_OWNER_ADD 1
#endif

/* A counter: relaxed, no ordering with anything else. */
static inline void KiAddCounter(_Atomic uint64_t *Counter, uint64_t Amount)
{
#ifdef KI_X86_OWNER_ADD
    __asm__ volatile("addq %1, %0" : "+m"(*(uint64_t *)(uintptr_t)Counter) : "er"(Amount));
#else
    atomic_store_explicit(Counter, atomic_load_explicit(Counter, memory_order_relaxed) + Amount,
                          memory_order_relaxed);
#endif
}

static inline void KiBumpCounter(_Atomic uint64_t *Counter)
{
    KiAddCounter(Counter, 1);
}

/* The same as a release store: every memory access before it in program
 * order is visible before the new value. On x86 stores are not reordered
 * with earlier loads or stores (SDM vol. 3A 8.2.2), so the "memory" clobber
 * (which keeps the compiler from moving accesses across) is all it takes. */
static inline void KiBumpRelease(_Atomic uint64_t *Word)
{
#ifdef KI_X86_OWNER_ADD
    __asm__ volatile("addq $1, %0" : "+m"(*(uint64_t *)(uintptr_t)Word) : : "memory");
#else
    atomic_store_explicit(Word, atomic_load_explicit(Word, memory_order_relaxed) + 1, memory_order_release);
#endif
}

/* Registers the IPI vector's handler (called by KeInitializeSystem). */
void KiInitializeIpi(void);

/* Installs Ke's own handler for a system vector and marks the vector Ke's:
 * KeSetSystemVectorHandler refuses it from then on (until KeInitializeSystem
 * runs again). Only for vectors KeSetSystemVectorHandler would accept. */
void KiInstallSystemVector(uint8_t Vector, PKSYSTEM_VECTOR_HANDLER Handler, void *Context);

/* A KSPIN_LOCK's word as what Ke uses it as: a C11 atomic. ke.h declares
 * it a plain uint32_t so that the type means the same in C and C++. Sound:
 * _Atomic is a type qualifier (C11 6.7.3), so the uint32_t object may be
 * accessed through the _Atomic-qualified type (6.5p7); the two have the
 * same size and alignment here (checked below; C11 6.2.5p27 allows them to
 * differ), and every access Ke makes is atomic, so no access races. */
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t) && _Alignof(_Atomic uint32_t) == _Alignof(uint32_t),
               "KSPIN_LOCK's plain word must be layout-compatible with Ke's atomic view of it");
static inline _Atomic uint32_t *KiSpinLockWord(KSPIN_LOCK *SpinLock)
{
    return (_Atomic uint32_t *)&SpinLock->Opaque;
}

static inline const _Atomic uint32_t *KiSpinLockWordConst(const KSPIN_LOCK *SpinLock)
{
    return (const _Atomic uint32_t *)&SpinLock->Opaque;
}

/* Who holds a KSPIN_LOCK (debug checks only): its word is its owner's, as
 * an IR_LOCK's (src/base/irlock.h, OWNER; src/ke/irql.c). */
static inline bool KiSpinLockIsHeldByCaller(const KSPIN_LOCK *SpinLock)
{
    return IrOwnerWordIsCaller(atomic_load_explicit(KiSpinLockWordConst(SpinLock), memory_order_relaxed));
}

static inline bool KiSpinLockIsHeldByCallerCpu(const KSPIN_LOCK *SpinLock)
{
    return IrOwnerWordIsCallerCpu(atomic_load_explicit(KiSpinLockWordConst(SpinLock), memory_order_relaxed));
}

#define KiSpinLockAssertHeld(SpinLock) IR_ASSERT(KiSpinLockIsHeldByCaller(SpinLock))
_Static_assert(sizeof(KSPIN_LOCK) == sizeof(uint32_t), "KSPIN_LOCK is one word in every build");

/* The dispatcher's own copy of the spin lock acquire, inlined on the hot
 * path: one XCHG when the lock is free; a contended lock goes to the
 * exported loop (the same spin), out of line. IrLockWordTryTake is that XCHG
 * of 1 in a release build (src/base/irlock.h). */
static inline void KiAcquireSpinLock(KSPIN_LOCK *SpinLock)
{
    if (__builtin_expect(!IrLockWordTryTake(KiSpinLockWord(SpinLock)), 0))
        KeAcquireSpinLockAtDpcLevel(SpinLock);
}

static inline void KiReleaseSpinLock(KSPIN_LOCK *SpinLock)
{
    KiSpinLockAssertHeld(SpinLock);
    atomic_store_explicit(KiSpinLockWord(SpinLock), 0, memory_order_release);
}

/* Storms (src/ke/storm.c). An unclaimed device-vector dispatch on Prcb's CPU
 * (Interrupt: an object of the chain, NULL for an empty slot): counts it and,
 * at the end of the vector's window, reports a storm. Only from the
 * dispatcher's cold paths, interrupts disabled, on the dispatching CPU. */
void KiNoteUnclaimed(KPRCB *Prcb, uint8_t Vector, KINTERRUPT *Interrupt);
/* The defaults KeInitializeSystem restores (thresholds, epoch, no routine). */
void KiResetStormDetection(void);

/* Waits until no dispatch on Cpu that began before the call can still be
 * walking a chain (see the protocol above). */
void KiWaitForDispatchQuiescence(uint32_t Cpu);

/* The first interrupt on an active link of an object with links awaiting
 * it: their CPUs are asked to retire them (src/ke/link.c; the dispatcher
 * calls it on the post-dispatch path). */
void KiFireRetireTrigger(KINTERRUPT *Interrupt);
/* Cpu's retiring links stop waiting for that interrupt (a CPU going
 * offline cannot wait for a device that may be quiet). */
void KiStopWaitingForTrigger(uint32_t Cpu);

/* Ke's own IPI request, beside the public messages in KPRCB.IpiPending:
 * "retire what is on your retire list" (src/ke/link.c). */
#define KI_IPI_RETIRE_LINKS ((uint32_t)KeIpiMessageCount)
_Static_assert(KeIpiMessageCount < 32, "IpiPending holds every message and Ke's own request");
/* Sets Request in Cpu's IpiPending and sends the IPI vector (src/ke/ipi.c). */
IRQ_STATUS KiSendIpiRequest(uint32_t Cpu, uint32_t Request);
/* The retire request's handler, on the CPU whose list it is. */
void KiRetireLinksOnThisCpu(KPRCB *Prcb);

/* Unlinks one link from its CPU's chain (ConnectLock); true when the
 * chain of its vector is empty afterwards (src/ke/interrupt.c). */
bool KiUnlinkLink(KI_INTERRUPT_LINK *Link);
/* Appends a complete link to its CPU's chain (ConnectLock). */
void KiPublishLink(KI_INTERRUPT_LINK *Link);
/* Can Interrupt join the chain of Vector on Cpu (ConnectLock)? */
IRQ_STATUS KiCheckSlot(const KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector);
/* SUCCESS when Address is an object Owner connected; NOT_CONNECTED (not
 * read) or ACCESS_DENIED otherwise (ConnectLock). */
IRQ_STATUS KiCheckOwnedBy(const KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner);
/* The connected object at Address, or NULL (ConnectLock). */
KINTERRUPT *KiFindConnected(const void *Address);
/* A slot of Interrupt for Cpu (IR_CPU_NONE: a spare), unlinked and
 * counting from zero (src/ke/link.c). */
void KiResetLink(KI_INTERRUPT_LINK *Link, KINTERRUPT *Interrupt, uint32_t Cpu);
/* Gives an unlinked slot to NewCpu, its counts kept in the object's folded
 * total (ConnectLock). */
void KiFoldLinkCounts(KINTERRUPT *Interrupt, KI_INTERRUPT_LINK *Link, uint32_t NewCpu);
/* Takes a Retiring link off its CPU's retire list (ConnectLock); nothing
 * for any other state. */
void KiForgetRetiring(KI_INTERRUPT_LINK *Link);

#endif
