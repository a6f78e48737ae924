/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for an NT-like kernel that already has KeRaiseIrql,
 * KeAcquireSpinLock, IoConnectInterrupt, IoDisconnectInterrupt and
 * KeSynchronizeExecution, with the Windows DDK's signatures (wdm.h), which
 * differ from irqroute's. It includes none of irqroute's headers: in a
 * prefixed build (IRQROUTE_SYMBOL_PREFIX) those would rename these very
 * names to irqroute's. Linked with the prefixed libirqroute.a, both sets
 * exist side by side: these under their own names, irqroute's as irq_Ke...
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "nt_kernel.h"

/* ---- wdm.h's types, as this kernel has them ------------------------------------------ */
typedef unsigned char UCHAR, BOOLEAN;
typedef unsigned int ULONG;
typedef long NTSTATUS;
typedef void *PVOID;
typedef unsigned long long ULONG_PTR;
typedef UCHAR KIRQL, *PKIRQL;
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef ULONG_PTR KAFFINITY;
typedef enum _KINTERRUPT_MODE { LevelSensitive, Latched } KINTERRUPT_MODE;
typedef struct _KINTERRUPT *PKINTERRUPT;
typedef BOOLEAN (*PKSERVICE_ROUTINE)(PKINTERRUPT Interrupt, PVOID ServiceContext);
typedef BOOLEAN (*PKSYNCHRONIZE_ROUTINE)(PVOID SynchronizeContext);
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#define DISPATCH_LEVEL 2

struct _KINTERRUPT {
    PKSERVICE_ROUTINE ServiceRoutine;
    PVOID ServiceContext;
    PKSPIN_LOCK ActualLock;
    KSPIN_LOCK OwnLock;
    ULONG Vector;
    KIRQL SynchronizeIrql;
    BOOLEAN Connected;
};

/* The kernel's entry points (wdm.h signatures; KeRaiseIrql and
 * KeAcquireSpinLock are macros over Kf* functions there, functions here). */
void KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql);
void KeLowerIrql(KIRQL NewIrql);
void KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql);
void KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
NTSTATUS IoConnectInterrupt(PKINTERRUPT *InterruptObject, PKSERVICE_ROUTINE ServiceRoutine, PVOID ServiceContext,
                            PKSPIN_LOCK SpinLock, ULONG Vector, KIRQL Irql, KIRQL SynchronizeIrql,
                            KINTERRUPT_MODE InterruptMode, BOOLEAN ShareVector, KAFFINITY ProcessorEnableMask,
                            BOOLEAN FloatingSave);
void IoDisconnectInterrupt(PKINTERRUPT InterruptObject);
BOOLEAN KeSynchronizeExecution(PKINTERRUPT Interrupt, PKSYNCHRONIZE_ROUTINE SynchronizeRoutine,
                               PVOID SynchronizeContext);

static KIRQL NtpCurrentIrql;
static struct _KINTERRUPT NtpInterrupts[4];

void KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    *OldIrql = NtpCurrentIrql;
    NtpCurrentIrql = NewIrql;
}

void KeLowerIrql(KIRQL NewIrql)
{
    NtpCurrentIrql = NewIrql;
}

void KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    KeRaiseIrql(DISPATCH_LEVEL, OldIrql);
    while (atomic_exchange((_Atomic ULONG_PTR *)SpinLock, 1) != 0)
        ;
}

void KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    atomic_store((_Atomic ULONG_PTR *)SpinLock, 0);
    KeLowerIrql(NewIrql);
}

NTSTATUS IoConnectInterrupt(PKINTERRUPT *InterruptObject, PKSERVICE_ROUTINE ServiceRoutine, PVOID ServiceContext,
                            PKSPIN_LOCK SpinLock, ULONG Vector, KIRQL Irql, KIRQL SynchronizeIrql,
                            KINTERRUPT_MODE InterruptMode, BOOLEAN ShareVector, KAFFINITY ProcessorEnableMask,
                            BOOLEAN FloatingSave)
{
    (void)Irql, (void)InterruptMode, (void)ShareVector, (void)ProcessorEnableMask, (void)FloatingSave;
    for (size_t Index = 0; Index < sizeof(NtpInterrupts) / sizeof(NtpInterrupts[0]); Index++) {
        struct _KINTERRUPT *Interrupt = &NtpInterrupts[Index];
        if (Interrupt->Connected)
            continue;
        *Interrupt = (struct _KINTERRUPT){ServiceRoutine, ServiceContext, NULL, 0, Vector, SynchronizeIrql, 1};
        Interrupt->ActualLock = SpinLock != NULL ? SpinLock : &Interrupt->OwnLock;
        *InterruptObject = Interrupt;
        return STATUS_SUCCESS;
    }
    return STATUS_INSUFFICIENT_RESOURCES;
}

void IoDisconnectInterrupt(PKINTERRUPT InterruptObject)
{
    InterruptObject->Connected = 0;
}

BOOLEAN KeSynchronizeExecution(PKINTERRUPT Interrupt, PKSYNCHRONIZE_ROUTINE SynchronizeRoutine,
                               PVOID SynchronizeContext)
{
    KIRQL OldIrql;
    KeRaiseIrql(Interrupt->SynchronizeIrql, &OldIrql);
    while (atomic_exchange((_Atomic ULONG_PTR *)Interrupt->ActualLock, 1) != 0)
        ;
    BOOLEAN Result = SynchronizeRoutine(SynchronizeContext);
    atomic_store((_Atomic ULONG_PTR *)Interrupt->ActualLock, 0);
    KeLowerIrql(OldIrql);
    return Result;
}

/* ---- The self check --------------------------------------------------------------------- */

static int NtpFailures;

static void NtpExpect(int Condition, const char *What)
{
    printf("  %-4s nt kernel: %s\n", Condition ? "ok" : "FAIL", What);
    NtpFailures += !Condition;
}

static BOOLEAN NtpIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    (void)Interrupt;
    ++*(int *)Context;
    return 1;
}

static BOOLEAN NtpSynchronized(PVOID Context)
{
    *(KIRQL *)Context = NtpCurrentIrql;
    return 1;
}

int NtKernelSelfCheck(void)
{
    KIRQL OldIrql;
    KSPIN_LOCK Lock = 0;
    KeAcquireSpinLock(&Lock, &OldIrql);
    NtpExpect(NtpCurrentIrql == DISPATCH_LEVEL && Lock == 1, "KeAcquireSpinLock(PKSPIN_LOCK, PKIRQL) is ours");
    KeReleaseSpinLock(&Lock, OldIrql);

    PKINTERRUPT Interrupt = NULL;
    int Calls = 0;
    NTSTATUS Status = IoConnectInterrupt(&Interrupt, NtpIsr, &Calls, NULL, 0x51, 5, 6, Latched, 0, 1, 0);
    NtpExpect(Status == STATUS_SUCCESS && Interrupt->Vector == 0x51, "IoConnectInterrupt (11 arguments, KAFFINITY) is ours");
    Interrupt->ServiceRoutine(Interrupt, Interrupt->ServiceContext);
    KIRQL SeenIrql = 0;
    NtpExpect(KeSynchronizeExecution(Interrupt, NtpSynchronized, &SeenIrql) && SeenIrql == 6 && Calls == 1,
              "KeSynchronizeExecution runs at our SynchronizeIrql");
    IoDisconnectInterrupt(Interrupt);
    NtpExpect(!Interrupt->Connected && NtpCurrentIrql == 0, "IoDisconnectInterrupt (returns nothing) is ours");
    return NtpFailures;
}

unsigned NtKernelCurrentIrql(void)
{
    return NtpCurrentIrql;
}

unsigned NtKernelRaiseIrql(unsigned NewIrql)
{
    KIRQL OldIrql;
    KeRaiseIrql((KIRQL)NewIrql, &OldIrql);
    return OldIrql;
}
