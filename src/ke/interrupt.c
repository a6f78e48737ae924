/* SPDX-License-Identifier: MIT */
/*
 * Interrupt objects: initialisation, connection and disconnection.
 * The protocol that makes disconnect safe while the vector fires elsewhere
 * is stated once, in ki.h.
 */
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

static size_t KipObjectHeaderSize(void)
{
    return (sizeof(KINTERRUPT) + KI_CACHE_LINE - 1) & ~(size_t)(KI_CACHE_LINE - 1);
}

size_t KeQueryInterruptObjectSize(uint32_t CpuCount)
{
    return KipObjectHeaderSize() + (size_t)CpuCount * sizeof(KI_INTERRUPT_LINK);
}

static bool KipIsValidObject(const KINTERRUPT *Interrupt)
{
    return Interrupt != NULL && Interrupt->Signature == KI_INTERRUPT_SIGNATURE;
}

static bool KipIsValidOwner(KE_INTERRUPT_OWNER Owner)
{
    return Owner == KeInterruptOwnerKe || Owner == KeInterruptOwnerIo;
}

static KE_INTERRUPT_OWNER KipOwnerOf(const KINTERRUPT *Interrupt, memory_order Order)
{
    return (KE_INTERRUPT_OWNER)atomic_load_explicit(&Interrupt->Owner, Order);
}

/* Every CPU of the set must exist and be online. */
static IRQ_STATUS KipCheckCpus(const IR_CPU_SET *Cpus)
{
    if (IrCpuSetIsEmpty(Cpus))
        return IRQ_STATUS_EMPTY_AFFINITY;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        if (Cpu >= KiSystem.ProcessorCount || !KiMatrixIsOnline(KiSystem.Matrix, Cpu))
            return IRQ_STATUS_INVALID_CPU;
    }
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS KipCheckParameters(const KE_INTERRUPT_PARAMETERS *Parameters)
{
    if (Parameters->ServiceRoutine == NULL || Parameters->Cpus == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Parameters->Mode != LevelSensitive && Parameters->Mode != Latched)
        return IRQ_STATUS_INVALID_PARAMETER;
    if ((unsigned)Parameters->Polarity > InterruptActiveLow)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!KiIsDeviceVector(Parameters->Vector))
        return IRQ_STATUS_INVALID_VECTOR;
    /* IRQL is the vector's class (CR8 semantics): an object claiming another
     * IRQL would synchronise at a level that does not hold its vector off. */
    if (Parameters->Irql != KiSystem.IrqlOfVector[Parameters->Vector])
        return IRQ_STATUS_INVALID_IRQL;
    if (Parameters->SynchronizeIrql < Parameters->Irql || Parameters->SynchronizeIrql > HIGH_LEVEL)
        return IRQ_STATUS_INVALID_IRQL;
    return KipCheckCpus(Parameters->Cpus);
}

/* The first set's slots (their home CPUs, in ascending order) and then the
 * spares moves use (src/ke/link.c). Nothing is linked yet. */
static void KipInitializeLinks(KINTERRUPT *Interrupt, uint32_t Spare)
{
    uint32_t Index = 0;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Interrupt->Cpus) {
        KiResetLink(&Interrupt->Links[Index++], Interrupt, Cpu);
    }
    Interrupt->HomeLinks = Index;
    for (uint32_t Count = 0; Count < Spare; Count++)
        KiResetLink(&Interrupt->Links[Index++], Interrupt, IR_CPU_NONE);
    Interrupt->LinkCount = Index;
}

/*
 * KE'S RECORD OF CONNECTED OBJECTS. Every connected object is on
 * KiSystem.Connected: connect adds it and disconnect removes it under
 * ConnectLock, before the object's storage is the caller's again. The calls
 * that take an object to query, disconnect or rebuild (KeQueryInterruptOwner,
 * KeIsInterruptConnected, KeDisconnectInterrupt(As), KeInitializeInterrupt's
 * storage check) decide by the address alone: they walk this list, which
 * reads only connected objects (live: their storage cannot be returned while
 * they are on it), and read the object they were given only once it is found
 * there. So an address Ke does not know (an Io handle after
 * IoDisconnectInterrupt freed it, storage from a KeInitializeSystem before
 * the last one, garbage) is compared, never read. The walk is O(connected
 * objects) under ConnectLock: a control and misuse path, which dispatch
 * never takes. ConnectLock is taken with interrupts off because Io's route
 * calls, which run in interrupt context, ask KeQueryInterruptOwner.
 */
KINTERRUPT *KiFindConnected(const void *Address)
{
    KINTERRUPT *Current = KiSystem.Connected;
    while (Current != NULL && (const void *)Current != Address)
        Current = Current->ConnectedNext;
    return Current;
}

/* Would writing [Storage, Storage + Size) touch a connected object? */
static bool KipOverlapsConnected(const void *Storage, size_t Size)
{
    uintptr_t Start = (uintptr_t)Storage;
    for (const KINTERRUPT *Current = KiSystem.Connected; Current != NULL; Current = Current->ConnectedNext) {
        uintptr_t Object = (uintptr_t)Current;
        if (Start < Object + KeQueryInterruptObjectSize(Current->LinkCount) && Object < Start + Size)
            return true;
    }
    return false;
}

static void KipRecordConnected(KINTERRUPT *Interrupt)
{
    Interrupt->ConnectedPrevious = NULL;
    Interrupt->ConnectedNext = KiSystem.Connected;
    if (KiSystem.Connected != NULL)
        KiSystem.Connected->ConnectedPrevious = Interrupt;
    KiSystem.Connected = Interrupt;
}

static void KipForgetConnected(KINTERRUPT *Interrupt)
{
    if (Interrupt->ConnectedPrevious != NULL)
        Interrupt->ConnectedPrevious->ConnectedNext = Interrupt->ConnectedNext;
    else
        KiSystem.Connected = Interrupt->ConnectedNext;
    if (Interrupt->ConnectedNext != NULL)
        Interrupt->ConnectedNext->ConnectedPrevious = Interrupt->ConnectedPrevious;
    Interrupt->ConnectedNext = NULL;
    Interrupt->ConnectedPrevious = NULL;
}

static void KipBuildObject(KINTERRUPT *Object, const KE_INTERRUPT_PARAMETERS *Parameters)
{
    Object->ServiceRoutine = Parameters->ServiceRoutine;
    Object->ServiceContext = Parameters->ServiceContext;
    KeInitializeSpinLock(&Object->SpinLock);
    Object->ActualLock = Parameters->SpinLock != NULL ? Parameters->SpinLock : &Object->SpinLock;
    atomic_store_explicit(&Object->Vector, Parameters->Vector, memory_order_relaxed);
    Object->HomeVector = Parameters->Vector;
    atomic_store_explicit(&Object->RetiringLinks, 0, memory_order_relaxed);
    atomic_store_explicit(&Object->ArmedLinks, 0, memory_order_relaxed);
    Object->FoldedCount = 0;
    Object->FoldedClaimed = 0;
    Object->Irql = Parameters->Irql;
    Object->SynchronizeIrql = Parameters->SynchronizeIrql;
    Object->Mode = Parameters->Mode;
    Object->Polarity = Parameters->Polarity;
    Object->ShareVector = Parameters->ShareVector;
    atomic_store_explicit(&Object->Owner, KeInterruptOwnerNone, memory_order_relaxed);
    atomic_store_explicit(&Object->PostDispatch, NULL, memory_order_relaxed);
    atomic_store_explicit(&Object->PostDispatchContext, NULL, memory_order_relaxed);
    Object->ConnectedNext = NULL;
    Object->ConnectedPrevious = NULL;
    IrCpuSetCopy(&Object->Cpus, Parameters->Cpus);
    IrCpuSetCopy(&Object->Affinity, Parameters->Affinity != NULL ? Parameters->Affinity : Parameters->Cpus);
    KipInitializeLinks(Object, Parameters->SpareLinks);
    Object->Signature = KI_INTERRUPT_SIGNATURE;
}

IRQ_STATUS KeInitializeInterrupt(void *Storage, size_t StorageSize, const KE_INTERRUPT_PARAMETERS *Parameters,
                                 KINTERRUPT **Interrupt)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Storage == NULL || Parameters == NULL || Interrupt == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (((uintptr_t)Storage & (KE_INTERRUPT_ALIGNMENT - 1)) != 0)
        return IRQ_STATUS_INVALID_PARAMETER;
    IRQ_STATUS Status = KipCheckParameters(Parameters);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Parameters->SpareLinks > KE_MAX_SPARE_LINKS)
        return IRQ_STATUS_INVALID_PARAMETER;
    size_t ObjectSize = KeQueryInterruptObjectSize(IrCpuSetWeight(Parameters->Cpus) + Parameters->SpareLinks);
    if (StorageSize < ObjectSize)
        return IRQ_STATUS_BUFFER_TOO_SMALL;

    /* Building over a connected object (in place or overlapping it) would
     * leave its links in the vector tables pointing into the new bytes (its
     * ISR still runs, its vector can no longer be disconnected): refused.
     * Ke's record decides, not the bytes at Storage. The lock makes the test
     * and the build one step against connect and disconnect. */
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    if (KipOverlapsConnected(Storage, ObjectSize)) {
        Status = IRQ_STATUS_ALREADY_CONNECTED;
    } else {
        KipBuildObject(Storage, Parameters);
        *Interrupt = Storage;
    }
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    return Status;
}

IRQ_STATUS KiCheckSlot(const KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector)
{
    IrLockAssertHeld(&KiSystem.ConnectLock);
    KI_INTERRUPT_LINK *Head = atomic_load_explicit(&KiGetPrcb(Cpu)->Chains[Vector], memory_order_relaxed);
    if (Head == NULL)
        return IRQ_STATUS_SUCCESS;
    const KINTERRUPT *Owner = Head->Interrupt;
    if (!Owner->ShareVector || !Interrupt->ShareVector)
        return IRQ_STATUS_SHARING_VIOLATION;
    if (Owner->Mode != Interrupt->Mode)
        return IRQ_STATUS_TRIGGER_MISMATCH;
    return IRQ_STATUS_SUCCESS;
}

/* Appends at the tail, so ISRs run in connection order. The link is complete
 * before the store that publishes it. */
void KiPublishLink(KI_INTERRUPT_LINK *Link)
{
    KI_INTERRUPT_LINK *_Atomic *Tail = &KiGetPrcb(Link->Cpu)->Chains[Link->Vector];
    KI_INTERRUPT_LINK *Current;
    while ((Current = atomic_load_explicit(Tail, memory_order_relaxed)) != NULL)
        Tail = &Current->Next;
    atomic_store_explicit(&Link->Next, NULL, memory_order_relaxed);
    atomic_store_explicit(Tail, Link, memory_order_seq_cst);
}

/* The CPUs of the first set, which connect links (the object may have moved
 * since an earlier connect). */
static void KipHomeCpus(const KINTERRUPT *Interrupt, IR_CPU_SET *Cpus)
{
    IrCpuSetZero(Cpus);
    for (uint32_t Index = 0; Index < Interrupt->HomeLinks; Index++)
        IrCpuSetAdd(Cpus, Interrupt->Links[Index].HomeCpu);
}

/* Connect links the first set on the first vector, whatever moves did to
 * the slots before a disconnect: a slot a move gave to another CPU comes
 * home (its counts kept in the object's folded total). */
static void KipLinkHome(KINTERRUPT *Interrupt, KI_INTERRUPT_LINK *Link)
{
    if (Link->Cpu != Link->HomeCpu)
        KiFoldLinkCounts(Interrupt, Link, Link->HomeCpu);
    Link->Vector = Interrupt->HomeVector;
    (void)KiMatrixHold(KiSystem.Matrix, Link->Cpu, Link->Vector);
    KiPublishLink(Link);
    Link->State = KiLinkActive;
}

IRQ_STATUS KeConnectInterruptAs(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (!KipIsValidObject(Interrupt) || !KipIsValidOwner(Owner))
        return IRQ_STATUS_INVALID_PARAMETER;

    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (KiFindConnected(Interrupt) != NULL)
        Status = IRQ_STATUS_ALREADY_CONNECTED;
    IR_CPU_SET Home;
    KipHomeCpus(Interrupt, &Home);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KipCheckCpus(&Home);
    for (uint32_t Index = 0; Index < Interrupt->HomeLinks && Status == IRQ_STATUS_SUCCESS; Index++)
        Status = KiCheckSlot(Interrupt, Interrupt->Links[Index].HomeCpu, Interrupt->HomeVector);

    /* Everything is checked: from here nothing fails. A slot's first object
     * takes the vector unless the caller allocated it for this connection. */
    for (uint32_t Index = 0; Index < Interrupt->HomeLinks && Status == IRQ_STATUS_SUCCESS; Index++)
        KipLinkHome(Interrupt, &Interrupt->Links[Index]);
    if (Status == IRQ_STATUS_SUCCESS) {
        IrCpuSetCopy(&Interrupt->Cpus, &Home);
        atomic_store_explicit(&Interrupt->Vector, Interrupt->HomeVector, memory_order_relaxed);
        atomic_store_explicit(&Interrupt->Owner, (uint32_t)Owner, memory_order_release);
        KipRecordConnected(Interrupt);
    }
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    return Status;
}

IRQ_STATUS KeConnectInterrupt(KINTERRUPT *Interrupt)
{
    return KeConnectInterruptAs(Interrupt, KeInterruptOwnerKe);
}

bool KiUnlinkLink(KI_INTERRUPT_LINK *Link)
{
    KI_INTERRUPT_LINK *_Atomic *Head = &KiGetPrcb(Link->Cpu)->Chains[Link->Vector];
    KI_INTERRUPT_LINK *_Atomic *Previous = Head;
    KI_INTERRUPT_LINK *Current;
    while ((Current = atomic_load_explicit(Previous, memory_order_relaxed)) != Link && Current != NULL)
        Previous = &Current->Next;
    if (Current == Link)
        atomic_store_explicit(Previous, atomic_load_explicit(&Link->Next, memory_order_relaxed),
                              memory_order_seq_cst);
    return atomic_load_explicit(Head, memory_order_relaxed) == NULL;
}

/* Even: no dispatch under way on Cpu, and any that starts from now on reads
 * the chain after our unlink. Odd: one is under way and may hold the old
 * link; it is over when the value moves (ki.h has the argument). */
void KiWaitForDispatchQuiescence(uint32_t Cpu)
{
    KPRCB *Prcb = KiGetPrcb(Cpu);
    uint64_t Seen = atomic_load_explicit(&Prcb->DispatchState, memory_order_seq_cst);
    if ((Seen & KI_DISPATCH_ACTIVE) == 0)
        return;
    while (atomic_load_explicit(&Prcb->DispatchState, memory_order_acquire) == Seen)
        PlatCpuRelax();
}

/* Whether the caller may disconnect (or move) Interrupt as Owner (under ConnectLock):
 * a layer that connected an object keeps state about it (Io: the line's
 * redirection entry, the route, its record), which a disconnect behind its
 * back would leave pointing at a vector that is free again. An address not
 * in Ke's record is not read (it may be freed memory). */
IRQ_STATUS KiCheckOwnedBy(const KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner)
{
    if (KiFindConnected(Interrupt) == NULL)
        return IRQ_STATUS_NOT_CONNECTED;
    return KipOwnerOf(Interrupt, memory_order_relaxed) == Owner ? IRQ_STATUS_SUCCESS : IRQ_STATUS_ACCESS_DENIED;
}

IRQ_STATUS KeDisconnectInterruptAs(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, bool *VectorFreed)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Interrupt == NULL || !KipIsValidOwner(Owner))
        return IRQ_STATUS_INVALID_PARAMETER;

    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    IRQ_STATUS Status = KiCheckOwnedBy(Interrupt, Owner);
    if (Status != IRQ_STATUS_SUCCESS) {
        IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
        return Status;
    }
    bool AnyFreed = false;
    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++) {
        KI_INTERRUPT_LINK *Link = &Interrupt->Links[Index];
        if (Link->State != KiLinkActive && Link->State != KiLinkRetiring)
            continue;
        KiForgetRetiring(Link);
        Link->State = KiLinkRetired;
        /* The vector is freed with the slot still under the lock, so a
         * concurrent connect can never find it allocated-but-orphaned. */
        if (KiUnlinkLink(Link)) {
            (void)KiMatrixReleaseHeld(KiSystem.Matrix, Link->Cpu, Link->Vector);
            AnyFreed = true;
        }
    }
    IrCpuSetZero(&Interrupt->Cpus);
    KipForgetConnected(Interrupt);
    atomic_store_explicit(&Interrupt->Owner, KeInterruptOwnerNone, memory_order_relaxed);
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);

    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++) {
        if (Interrupt->Links[Index].Cpu != IR_CPU_NONE)
            KiWaitForDispatchQuiescence(Interrupt->Links[Index].Cpu);
    }
    if (VectorFreed != NULL)
        *VectorFreed = AnyFreed;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS KeDisconnectInterrupt(KINTERRUPT *Interrupt, bool *VectorFreed)
{
    return KeDisconnectInterruptAs(Interrupt, KeInterruptOwnerKe, VectorFreed);
}

bool KeIsInterruptConnected(const KINTERRUPT *Interrupt)
{
    return KeQueryInterruptOwner(Interrupt) != KeInterruptOwnerNone;
}

/* Found in Ke's record first: an address Ke does not know is not read. */
KE_INTERRUPT_OWNER KeQueryInterruptOwner(const KINTERRUPT *Interrupt)
{
    if (Interrupt == NULL || KiSystem.Matrix == NULL)
        return KeInterruptOwnerNone;
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    KE_INTERRUPT_OWNER Owner = KeInterruptOwnerNone;
    if (KiFindConnected(Interrupt) != NULL)
        Owner = KipOwnerOf(Interrupt, memory_order_relaxed);
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    return Owner;
}

uint8_t KeGetInterruptVector(const KINTERRUPT *Interrupt)
{
    return atomic_load_explicit(&Interrupt->Vector, memory_order_relaxed);
}

KIRQL KeGetInterruptIrql(const KINTERRUPT *Interrupt)
{
    return Interrupt->Irql;
}

KINTERRUPT_MODE KeGetInterruptMode(const KINTERRUPT *Interrupt)
{
    return Interrupt->Mode;
}

/* Under ConnectLock: a move changes the set. */
void KeGetInterruptCpus(const KINTERRUPT *Interrupt, IR_CPU_SET *Cpus)
{
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    IrCpuSetCopy(Cpus, &Interrupt->Cpus);
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
}

/* Every slot that counted on Cpu (a moved object may have had two links
 * there, or come back), under ConnectLock since moves give slots new CPUs. */
static void KipSumCounts(const KINTERRUPT *Interrupt, uint32_t Cpu, uint64_t *Count, uint64_t *Claimed)
{
    *Count = 0;
    *Claimed = 0;
    if (!KipIsValidObject(Interrupt))
        return;
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++) {
        const KI_INTERRUPT_LINK *Link = &Interrupt->Links[Index];
        if (Cpu != IR_CPU_NONE && Link->Cpu != Cpu)
            continue;
        *Count += atomic_load_explicit(&Link->Count, memory_order_relaxed);
        *Claimed += atomic_load_explicit(&Link->Claimed, memory_order_relaxed);
    }
    if (Cpu == IR_CPU_NONE) {
        *Count += Interrupt->FoldedCount;
        *Claimed += Interrupt->FoldedClaimed;
    }
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
}

uint64_t KeQueryInterruptCount(const KINTERRUPT *Interrupt, uint32_t Cpu)
{
    uint64_t Count, Claimed;
    if (Cpu == IR_CPU_NONE)
        return 0;
    KipSumCounts(Interrupt, Cpu, &Count, &Claimed);
    return Count;
}

uint64_t KeQueryInterruptClaimedCount(const KINTERRUPT *Interrupt, uint32_t Cpu)
{
    uint64_t Count, Claimed;
    if (Cpu == IR_CPU_NONE)
        return 0;
    KipSumCounts(Interrupt, Cpu, &Count, &Claimed);
    return Claimed;
}

uint64_t KeQueryInterruptTotalCount(const KINTERRUPT *Interrupt, uint64_t *Claimed)
{
    uint64_t Count, ClaimedCount;
    KipSumCounts(Interrupt, IR_CPU_NONE, &Count, &ClaimedCount);
    if (Claimed != NULL)
        *Claimed = ClaimedCount;
    return Count;
}
