/* SPDX-License-Identifier: MIT */
/*
 * A program with an NT-like kernel's own KeRaiseIrql, KeAcquireSpinLock,
 * IoConnectInterrupt, IoDisconnectInterrupt and KeSynchronizeExecution
 * (nt_kernel.c) that also links irqroute, built with
 * -DIRQROUTE_SYMBOL_PREFIX=irq_ (tests/package/symbol_prefix.sh): this unit
 * includes irqroute's headers, whose irqroute/config.h maps every public
 * name to irq_<name>, boots the sim and routes one interrupt through the
 * library; nt_kernel.c includes none of them and keeps the plain names.
 */
#include <stdatomic.h>
#include <stdio.h>

#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/sim/simboot.h>

#include "nt_kernel.h"

#ifndef KeRaiseIrql
#error "irqroute/config.h does not rename KeRaiseIrql: build irqroute with -DIRQROUTE_SYMBOL_PREFIX=<prefix>"
#endif

#define COM1_IRQ 4u

static int Failures;
static _Atomic unsigned IsrCalls;

static void Expect(int Condition, const char *What)
{
    printf("  %-4s %s\n", Condition ? "ok" : "FAIL", What);
    Failures += !Condition;
}

static bool SerialIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt, (void)Context;
    atomic_fetch_add(&IsrCalls, 1);
    return true;
}

static bool Synchronized(void *Context)
{
    *(KIRQL *)Context = KeGetCurrentIrql();
    return true;
}

/* One interrupt through irqroute: ISA IRQ 4 connected to CPU 1 with the
 * library's IoConnectInterruptEx, raised on the sim's I/O APIC pin. */
static void RouteOneInterrupt(void)
{
    KINTERRUPT *Interrupt = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {
            .InterruptObject = &Interrupt,
            .ServiceRoutine = SerialIsr,
            .Line = {.Bus = HlBusIsa, .Number = COM1_IRQ},
            .Irql = KE_IRQL_ANY,
            .Target = {.Kind = IoTargetCpu, .Cpu = 1},
        },
    };
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    Expect(Status == IRQ_STATUS_SUCCESS, "irqroute's IoConnectInterruptEx (as irq_IoConnectInterruptEx)");
    if (Status != IRQ_STATUS_SUCCESS)
        return;
    SimPulseGsi(COM1_IRQ);
    Expect(SimWaitIdle(10000), "the sim delivered the interrupt");
    Expect(atomic_load(&IsrCalls) == 1 && KeQueryInterruptCount(Interrupt, 1) == 1,
           "the ISR ran once, on CPU 1");

    KIRQL SeenIrql = 0;
    Expect(KeSynchronizeExecution(Interrupt, Synchronized, &SeenIrql) && SeenIrql == KeGetInterruptIrql(Interrupt),
           "irqroute's KeSynchronizeExecution (3 arguments, IR semantics)");
    Expect(IoDisconnectInterrupt(Interrupt) == IRQ_STATUS_SUCCESS,
           "irqroute's IoDisconnectInterrupt (returns an IRQ_STATUS)");
}

int main(void)
{
    printf("irqroute %s, symbols prefixed '%s'\n", IRQROUTE_VERSION_STRING, IRQROUTE_SYMBOL_PREFIX_STRING);
    Failures += NtKernelSelfCheck();

    SIM_SYSTEM_CONFIG Config = {.CpuCount = 2, .StartThreads = true};
    IRQ_STATUS Status = SimBootSystem(&Config);
    Expect(Status == IRQ_STATUS_SUCCESS, "SimBootSystem");
    if (Status != IRQ_STATUS_SUCCESS)
        return 1;
    /* This thread is CPU 0 from here on (the sim's rule: every thread that
     * calls into the library is a CPU); CPU 1 is a service thread. */
    SimAttachCpu(0);
    RouteOneInterrupt();

    /* Two IRQLs, one per kernel: raising one leaves the other alone. */
    unsigned NtBefore = NtKernelRaiseIrql(5);
    KIRQL IrBefore = KeRaiseIrql(DISPATCH_LEVEL);
    Expect(KeGetCurrentIrql() == DISPATCH_LEVEL && NtKernelCurrentIrql() == 5 && NtBefore == 0,
           "each kernel's KeRaiseIrql raises its own IRQL");
    KeLowerIrql(IrBefore);
    SimDetachCpu();
    SimShutdownSystem();

    printf(Failures == 0 ? "PASS: an NT-like kernel's Ke/Io functions and prefixed irqroute in one program\n"
                         : "FAIL: %d check(s)\n",
           Failures);
    return Failures == 0 ? 0 : 1;
}
