/* SPDX-License-Identifier: MIT */
/*
 * Moving a connected object: links added on a new (CPU, vector) and old
 * links retired once nothing can still arrive on them (ke.h, "A MOVE IN TWO
 * PHASES").
 *
 * WHY THE OLD CPU RETIRES ITS OWN LINKS. Once the device's entry points
 * elsewhere, what can still come on the old (CPU, vector) is what was sent
 * before: an interrupt waiting in that CPU's IRR (held off by its IRQL or
 * with interrupts disabled), or one it has accepted (ISR) and is
 * dispatching. Only that CPU can read its own IRR and ISR (SDM vol. 3A
 * 11.8.4), so Ke sends it a request (Ke's own bit in IpiPending, beside the
 * public IPI messages), and its handler takes out every link on its retire
 * list whose vector is neither requested nor in service. The handler runs
 * with interrupts disabled and outside any dispatch (a request that arrives
 * nested in a dispatch, an ISR having enabled interrupts, is left for
 * later), so no dispatch on this CPU holds the link while it leaves the
 * chain, and no other CPU ever walks this CPU's chains: the unlink needs no
 * wait for quiescence (ki.h), unlike a disconnect from another CPU.
 *
 * WHEN TO ASK. An object with a post-dispatch routine (the I/O manager's
 * movable ones) has its old links wait for the first interrupt on a newer
 * link (KipWaitsForTrigger says why); the dispatcher notices it on its
 * post-dispatch path, which such objects take anyway, so the hot path does
 * not change. KeDrainRetiringLinks does not wait (a CPU going offline).
 *
 * A link whose vector was still pending stays in the chain and dispatches
 * what arrives (nothing is lost); the caller asks again after the object's
 * next interrupt or periodically (KeRetryInterruptRetirement). Re-sending
 * the request from the handler itself would livelock: the IPI vector's
 * priority is above every device vector, so the CPU would take the request
 * again before the pending device interrupt.
 *
 * Slots. An object has its first set's slots and SpareLinks more. A new
 * link takes, in this order, a retired slot of the same CPU (its counts go
 * on), a spare never used, or any retired slot, whose counts are folded
 * into the object's total. Everything here runs under ConnectLock.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ki.h"

void KiResetLink(KI_INTERRUPT_LINK *Link, KINTERRUPT *Interrupt, uint32_t Cpu)
{
    atomic_store_explicit(&Link->Next, NULL, memory_order_relaxed);
    Link->Interrupt = Interrupt;
    Link->Cpu = Cpu;
    Link->HomeCpu = Cpu;
    Link->Vector = 0;
    Link->State = KiLinkUnused;
    Link->AwaitingTrigger = false;
    atomic_store_explicit(&Link->Count, 0, memory_order_relaxed);
    atomic_store_explicit(&Link->Claimed, 0, memory_order_relaxed);
    Link->RetireNext = NULL;
}

/* The slot is out of every chain and no dispatch holds it (ConnectLock
 * orders its last dispatch's counter writes before these reads). */
void KiFoldLinkCounts(KINTERRUPT *Interrupt, KI_INTERRUPT_LINK *Link, uint32_t NewCpu)
{
    Interrupt->FoldedCount += atomic_load_explicit(&Link->Count, memory_order_relaxed);
    Interrupt->FoldedClaimed += atomic_load_explicit(&Link->Claimed, memory_order_relaxed);
    atomic_store_explicit(&Link->Count, 0, memory_order_relaxed);
    atomic_store_explicit(&Link->Claimed, 0, memory_order_relaxed);
    Link->Cpu = NewCpu;
}

static void KipDisarm(KI_INTERRUPT_LINK *Link)
{
    if (!Link->AwaitingTrigger)
        return;
    Link->AwaitingTrigger = false;
    atomic_fetch_sub_explicit(&Link->Interrupt->ArmedLinks, 1, memory_order_relaxed);
}

/* Off its CPU's retire list, and no longer counted as retiring. */
static void KipUnlistRetiring(KI_INTERRUPT_LINK *Link)
{
    KipDisarm(Link);
    KI_INTERRUPT_LINK **Previous = &KiGetPrcb(Link->Cpu)->RetireList;
    while (*Previous != NULL && *Previous != Link)
        Previous = &(*Previous)->RetireNext;
    if (*Previous == Link)
        *Previous = Link->RetireNext;
    Link->RetireNext = NULL;
    atomic_fetch_sub_explicit(&Link->Interrupt->RetiringLinks, 1, memory_order_relaxed);
}

void KiForgetRetiring(KI_INTERRUPT_LINK *Link)
{
    if (Link->State != KiLinkRetiring)
        return;
    KipUnlistRetiring(Link);
    Link->State = KiLinkRetired;
}

static void KipForgetCpuIfGone(KINTERRUPT *Interrupt, uint32_t Cpu);

static bool KipIsInChain(const KI_INTERRUPT_LINK *Link)
{
    return Link->State == KiLinkActive || Link->State == KiLinkRetiring;
}

static KI_INTERRUPT_LINK *KipFindLinkAt(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector)
{
    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++) {
        KI_INTERRUPT_LINK *Link = &Interrupt->Links[Index];
        if (KipIsInChain(Link) && Link->Cpu == Cpu && Link->Vector == Vector)
            return Link;
    }
    return NULL;
}

/* The object's link on (Cpu, Vector) if it is in State, else NULL. */
static KI_INTERRUPT_LINK *KipLinkInState(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector, KI_LINK_STATE State)
{
    KI_INTERRUPT_LINK *Link = Cpu < KiSystem.ProcessorCount ? KipFindLinkAt(Interrupt, Cpu, Vector) : NULL;
    return Link != NULL && Link->State == State ? Link : NULL;
}

static uint32_t KipActiveLinks(const KINTERRUPT *Interrupt)
{
    uint32_t Count = 0;
    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++)
        Count += Interrupt->Links[Index].State == KiLinkActive;
    return Count;
}

/* An active link on (Cpu, Vector) that may leave: not the object's last
 * (the device must always have somewhere to go). */
static IRQ_STATUS KipFindLeavingLink(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector, KI_INTERRUPT_LINK **Link)
{
    *Link = KipLinkInState(Interrupt, Cpu, Vector, KiLinkActive);
    if (*Link == NULL)
        return IRQ_STATUS_NOT_PENDING;
    return KipActiveLinks(Interrupt) == 1 ? IRQ_STATUS_INVALID_STATE : IRQ_STATUS_SUCCESS;
}

static bool KipIsFreeSlot(const KI_INTERRUPT_LINK *Link)
{
    return Link->State == KiLinkRetired || (Link->State == KiLinkUnused && Link->HomeCpu == IR_CPU_NONE);
}

/* The slot order of the header comment; NULL when none is free. */
static KI_INTERRUPT_LINK *KipChooseSlot(KINTERRUPT *Interrupt, uint32_t Cpu)
{
    KI_INTERRUPT_LINK *Spare = NULL;
    KI_INTERRUPT_LINK *Other = NULL;
    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++) {
        KI_INTERRUPT_LINK *Link = &Interrupt->Links[Index];
        if (!KipIsFreeSlot(Link))
            continue;
        if (Link->Cpu == Cpu)
            return Link;
        if (Link->State == KiLinkUnused && Spare == NULL)
            Spare = Link;
        else if (Other == NULL)
            Other = Link;
    }
    return Spare != NULL ? Spare : Other;
}

/* Either answer for the whole call is known before the lock. */
static IRQ_STATUS KipCheckCall(const KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner)
{
    if (KiSystem.Matrix == NULL)
        return IRQ_STATUS_NOT_INITIALIZED;
    if (Interrupt == NULL || (Owner != KeInterruptOwnerKe && Owner != KeInterruptOwnerIo))
        return IRQ_STATUS_INVALID_PARAMETER;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS KipCheckNewLink(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector)
{
    if (Cpu >= KiSystem.ProcessorCount || !KiMatrixIsOnline(KiSystem.Matrix, Cpu))
        return IRQ_STATUS_INVALID_CPU;
    if (!KiIsDeviceVector(Vector))
        return IRQ_STATUS_INVALID_VECTOR;
    if (KiSystem.IrqlOfVector[Vector] != Interrupt->Irql)
        return IRQ_STATUS_INVALID_IRQL;
    if (KipFindLinkAt(Interrupt, Cpu, Vector) != NULL)
        return IRQ_STATUS_ALREADY_CONNECTED;
    return KiCheckSlot(Interrupt, Cpu, Vector);
}

static void KipLinkAt(KINTERRUPT *Interrupt, KI_INTERRUPT_LINK *Link, uint32_t Cpu, uint8_t Vector)
{
    if (Link->Cpu != Cpu)
        KiFoldLinkCounts(Interrupt, Link, Cpu);
    Link->Vector = Vector;
    (void)KiMatrixHold(KiSystem.Matrix, Cpu, Vector);
    KiPublishLink(Link);
    Link->State = KiLinkActive;
    IrCpuSetAdd(&Interrupt->Cpus, Cpu);
    atomic_store_explicit(&Interrupt->Vector, Vector, memory_order_relaxed);
}

/* The calls below do Operation on an object Owner connected, under
 * ConnectLock; *SendNow: whether Cpu is to be asked now (retire only). */
typedef IRQ_STATUS (*KIP_LINK_OPERATION)(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector, bool *SendNow);

static IRQ_STATUS KipOperateOnOwned(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu, uint8_t Vector,
                                    KIP_LINK_OPERATION Operation, bool *SendNow)
{
    *SendNow = false;
    IRQ_STATUS Status = KipCheckCall(Interrupt, Owner);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    Status = KiCheckOwnedBy(Interrupt, Owner);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = Operation(Interrupt, Cpu, Vector, SendNow);
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    return Status;
}

static IRQ_STATUS KipAddLink(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector, bool *SendNow)
{
    (void)SendNow;
    IRQ_STATUS Status = KipCheckNewLink(Interrupt, Cpu, Vector);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    KI_INTERRUPT_LINK *Link = KipChooseSlot(Interrupt, Cpu);
    if (Link == NULL)
        return IRQ_STATUS_INSUFFICIENT_RESOURCES;
    KipLinkAt(Interrupt, Link, Cpu, Vector);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS KeAddInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu, uint8_t Vector)
{
    bool SendNow;
    return KipOperateOnOwned(Interrupt, Owner, Cpu, Vector, KipAddLink, &SendNow);
}

/* A link still retiring never left its chain: it only becomes a link the
 * device may be sent to again. */
static IRQ_STATUS KipRevive(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector, bool *SendNow)
{
    (void)SendNow;
    KI_INTERRUPT_LINK *Link = KipLinkInState(Interrupt, Cpu, Vector, KiLinkRetiring);
    if (Link == NULL)
        return IRQ_STATUS_NOT_PENDING;
    KipUnlistRetiring(Link);
    Link->State = KiLinkActive;
    atomic_store_explicit(&Interrupt->Vector, Vector, memory_order_relaxed);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS KeReviveInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu, uint8_t Vector)
{
    bool SendNow;
    return KipOperateOnOwned(Interrupt, Owner, Cpu, Vector, KipRevive, &SendNow);
}

/* A link the device was never pointed at has nothing on its way to it,
 * and no dispatch can be walking to it (its vector was the caller's alone):
 * out at once, with no request and no wait. */
static IRQ_STATUS KipRemoveUnused(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector, bool *SendNow)
{
    (void)SendNow;
    KI_INTERRUPT_LINK *Link;
    IRQ_STATUS Status = KipFindLeavingLink(Interrupt, Cpu, Vector, &Link);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Link->State = KiLinkRetired;
    if (KiUnlinkLink(Link))
        (void)KiMatrixReleaseHeld(KiSystem.Matrix, Cpu, Vector);
    KipForgetCpuIfGone(Interrupt, Cpu);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS KeRemoveUnusedInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu,
                                       uint8_t Vector)
{
    bool SendNow;
    return KipOperateOnOwned(Interrupt, Owner, Cpu, Vector, KipRemoveUnused, &SendNow);
}

/* The retire request goes through the IPI vector: without one, no CPU can
 * be asked to look at its own IRR. */
static bool KipCanRequestRetirement(void)
{
    return KiSystem.Layout->IpiVector != 0;
}

/* With a post-dispatch routine (what the I/O manager's movable objects
 * have) the link waits for the first interrupt on a newer link before its
 * CPU is asked: the device's writes are ordered (PCI), so once it has sent
 * one to the new entry, every earlier message sent to the old one has
 * landed in the old CPU's IRR, where the retire request looks. Linux's rule;
 * without it a message already on its way when the entry moved would reach
 * a vector that had just been freed. Without a routine, at once. */
static bool KipWaitsForTrigger(const KINTERRUPT *Interrupt)
{
    return atomic_load_explicit(&Interrupt->PostDispatch, memory_order_relaxed) != NULL;
}

static IRQ_STATUS KipMarkRetiring(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector, bool *SendNow)
{
    KI_INTERRUPT_LINK *Link;
    IRQ_STATUS Status = KipFindLeavingLink(Interrupt, Cpu, Vector, &Link);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    KPRCB *Prcb = KiGetPrcb(Cpu);
    Link->State = KiLinkRetiring;
    Link->RetireNext = Prcb->RetireList;
    Prcb->RetireList = Link;
    atomic_fetch_add_explicit(&Interrupt->RetiringLinks, 1, memory_order_relaxed);
    Link->AwaitingTrigger = KipWaitsForTrigger(Interrupt);
    if (Link->AwaitingTrigger)
        atomic_fetch_add_explicit(&Interrupt->ArmedLinks, 1, memory_order_relaxed);
    *SendNow = !Link->AwaitingTrigger;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS KipRequestRetirement(uint32_t Cpu)
{
    return KiSendIpiRequest(Cpu, KI_IPI_RETIRE_LINKS) == IRQ_STATUS_SUCCESS ? IRQ_STATUS_SUCCESS
                                                                            : IRQ_STATUS_DEVICE_ERROR;
}

IRQ_STATUS KeRetireInterruptLink(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner, uint32_t Cpu, uint8_t Vector)
{
    if (KiSystem.Matrix != NULL && !KipCanRequestRetirement())
        return IRQ_STATUS_NOT_SUPPORTED;
    bool SendNow;
    IRQ_STATUS Status = KipOperateOnOwned(Interrupt, Owner, Cpu, Vector, KipMarkRetiring, &SendNow);
    if (Status == IRQ_STATUS_SUCCESS && SendNow)
        Status = KipRequestRetirement(Cpu);
    return Status;
}

/* Under ConnectLock: the CPUs of the links that no longer wait. */
static void KipDisarmAll(KINTERRUPT *Interrupt, IR_CPU_SET *Cpus)
{
    IrCpuSetZero(Cpus);
    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++) {
        KI_INTERRUPT_LINK *Link = &Interrupt->Links[Index];
        if (Link->AwaitingTrigger) {
            KipDisarm(Link);
            IrCpuSetAdd(Cpus, Link->Cpu);
        }
    }
}

void KiFireRetireTrigger(KINTERRUPT *Interrupt)
{
    IR_CPU_SET Cpus;
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    KipDisarmAll(Interrupt, &Cpus);
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Cpus) {
        (void)KipRequestRetirement(Cpu); /* a send that fails is retried by the owner (KeRetryInterruptRetirement) */
    }
}

IRQ_STATUS KeRetryInterruptRetirement(KINTERRUPT *Interrupt, KE_INTERRUPT_OWNER Owner)
{
    IRQ_STATUS Status = KipCheckCall(Interrupt, Owner);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    IR_CPU_SET Cpus;
    IrCpuSetZero(&Cpus);
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    Status = KiCheckOwnedBy(Interrupt, Owner);
    for (uint32_t Index = 0; Status == IRQ_STATUS_SUCCESS && Index < Interrupt->LinkCount; Index++) {
        const KI_INTERRUPT_LINK *Link = &Interrupt->Links[Index];
        if (Link->State == KiLinkRetiring && !Link->AwaitingTrigger)
            IrCpuSetAdd(&Cpus, Link->Cpu);
    }
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Cpus) {
        if (Status == IRQ_STATUS_SUCCESS)
            Status = KipRequestRetirement(Cpu);
    }
    return Status;
}

void KiStopWaitingForTrigger(uint32_t Cpu)
{
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    for (KI_INTERRUPT_LINK *Link = KiGetPrcb(Cpu)->RetireList; Link != NULL; Link = Link->RetireNext)
        KipDisarm(Link);
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
}

uint32_t KeQueryInterruptRetiringLinks(const KINTERRUPT *Interrupt)
{
    return Interrupt == NULL ? 0 : atomic_load_explicit(&Interrupt->RetiringLinks, memory_order_relaxed);
}

/* ---- On the CPU whose links retire ------------------------------------------------------ */

/* The CPU stays in the object's set while another of its links is there. */
static void KipForgetCpuIfGone(KINTERRUPT *Interrupt, uint32_t Cpu)
{
    for (uint32_t Index = 0; Index < Interrupt->LinkCount; Index++) {
        if (KipIsInChain(&Interrupt->Links[Index]) && Interrupt->Links[Index].Cpu == Cpu)
            return;
    }
    IrCpuSetRemove(&Interrupt->Cpus, Cpu);
}

static void KipTakeOut(KI_INTERRUPT_LINK *Link)
{
    KINTERRUPT *Interrupt = Link->Interrupt;
    KiForgetRetiring(Link);
    if (KiUnlinkLink(Link))
        (void)KiMatrixReleaseHeld(KiSystem.Matrix, Link->Cpu, Link->Vector);
    KipForgetCpuIfGone(Interrupt, Link->Cpu);
}

void KiRetireLinksOnThisCpu(KPRCB *Prcb)
{
    if ((atomic_load_explicit(&Prcb->DispatchState, memory_order_relaxed) & KI_DISPATCH_ACTIVE) != 0)
        return; /* nested in a dispatch, which may hold one of them: later */
    bool WasEnabled = IrLockAcquireIrqSave(&KiSystem.ConnectLock);
    KI_INTERRUPT_LINK *Link = Prcb->RetireList;
    while (Link != NULL) {
        KI_INTERRUPT_LINK *Next = Link->RetireNext;
        IR_ASSERT(Link->Cpu == Prcb->Number && Link->State == KiLinkRetiring);
        if (!Link->AwaitingTrigger && !HlLapicIsVectorPending(Link->Vector))
            KipTakeOut(Link);
        Link = Next;
    }
    IrLockReleaseIrqRestore(&KiSystem.ConnectLock, WasEnabled);
}
