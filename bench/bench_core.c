/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the kernel-side hot and warm paths on the sim platform:
 *  - dispatch of an unshared vector and of a 4-object shared vector, against
 *    the baseline of what kernels did before: a static table indexed by the
 *    vector calling the ISR directly, then EOI;
 *  - vector allocate+free with a full affinity mask at 4 ... 4096 CPUs,
 *    compared to 4 CPUs (the growth);
 *  - IoConnectInterrupt + IoDisconnectInterrupt;
 *  - an IPI sent and handled on the sim: KeSendIpi to the bench's own CPU
 *    writes the sim LAPIC's ICR, the model sets the vector in the IRR,
 *    SimServicePending accepts it and the dispatcher runs the message
 *    handler, then EOI; one operation = one send + one handled message
 *    (checked). Against the static-table dispatch, the floor of taking an
 *    interrupt at all.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "sim.h"
#include "simboot.h"

#define BENCH_VECTOR 0x61
#define BENCH_IRQL 6

static uint64_t IsrCalls;
static KINTERRUPT *Objects[4];

static bool BenchIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    (void)Context;
    IsrCalls++;
    return true;
}

static bool BenchIsrUnclaimed(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    (void)Context;
    IsrCalls++;
    return false;
}

static void BootOneCpu(void)
{
    SIM_SYSTEM_CONFIG Config = {.CpuCount = 1};
    if (SimBootSystem(&Config) != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "bench: boot failed\n");
        exit(1);
    }
    SimAttachCpu(0);
}

static void Shutdown(void)
{
    SimDetachCpu();
    SimShutdownSystem();
}

/* ---- Dispatch ---------------------------------------------------------------- */

typedef bool (*STATIC_ISR)(KINTERRUPT *, void *);
static STATIC_ISR StaticTable[256];

static void SetupStaticTable(const BENCH_CASE *Case)
{
    (void)Case;
    BootOneCpu();
    StaticTable[BENCH_VECTOR] = BenchIsr;
}

/* The kernel before irqroute: the IDT stub calls the ISR it was given. */
static void OperationStaticTable(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        StaticTable[BENCH_VECTOR](NULL, NULL);
        HlLapicEndOfInterrupt();
    }
    BenchKeep(IsrCalls);
}

static void ConnectOnCpu0(uint32_t Count, bool Share, STATIC_ISR Isr)
{
    IR_CPU_SET Cpu0;
    IrCpuSetZero(&Cpu0);
    IrCpuSetAdd(&Cpu0, 0);
    for (uint32_t Index = 0; Index < Count; Index++) {
        if (IoConnectInterrupt(&Objects[Index], Isr, NULL, NULL, BENCH_VECTOR, BENCH_IRQL, BENCH_IRQL, Latched, Share,
                               &Cpu0, false) != IRQ_STATUS_SUCCESS) {
            fprintf(stderr, "bench: connect failed\n");
            exit(1);
        }
    }
}

static void SetupUnshared(const BENCH_CASE *Case)
{
    (void)Case;
    BootOneCpu();
    ConnectOnCpu0(1, false, BenchIsr);
}

/* Edge chain of 4: every ISR runs (the worst case for a shared vector). */
static void SetupShared4(const BENCH_CASE *Case)
{
    (void)Case;
    BootOneCpu();
    ConnectOnCpu0(4, true, BenchIsrUnclaimed);
}

static void OperationDispatch(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++)
        KeDispatchInterrupt(0, BENCH_VECTOR);
    BenchKeep(IsrCalls);
}

/* ---- Vector allocation ----------------------------------------------------- */

static IR_CPU_SET AllCpus;

/* Ke alone, sized for the case's CPU count (the sim's one CPU supplies the
 * hooks; the matrix never touches the hardware). */
static void SetupAllocate(const BENCH_CASE *Case)
{
    BootOneCpu();
    if (KeInitializeSystem(Case->Cpus, &KeAmd64VectorLayout) != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "bench: KeInitializeSystem(%u) failed\n", Case->Cpus);
        exit(1);
    }
    for (uint32_t Cpu = 0; Cpu < Case->Cpus; Cpu++)
        KeInitializeProcessor(Cpu);
    IrCpuSetFill(&AllCpus, Case->Cpus);
}

static void OperationAllocateFree(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        uint32_t Cpu;
        uint8_t Vector;
        if (KeAllocateVector(&AllCpus, KE_IRQL_ANY, &Cpu, &Vector) != IRQ_STATUS_SUCCESS)
            abort();
        KeFreeVector(Cpu, Vector);
    }
}

/* ---- Connect + disconnect ---------------------------------------------------------- */

static void SetupConnect(const BENCH_CASE *Case)
{
    (void)Case;
    BootOneCpu();
}

static void OperationConnectDisconnect(uint64_t Iterations)
{
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        ConnectOnCpu0(1, false, BenchIsr);
        IoDisconnectInterrupt(Objects[0]);
    }
}

/* ---- IPI send -> handled ------------------------------------------------------------ */

static uint64_t IpiHandled;

static void BenchIpiHandler(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Cpu;
    (void)Message;
    (void)Context;
    IpiHandled++;
}

static void SetupIpi(const BENCH_CASE *Case)
{
    (void)Case;
    BootOneCpu();
    if (KeSetIpiMessageHandler(KeIpiReschedule, BenchIpiHandler, NULL) != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "bench: IPI handler\n");
        exit(1);
    }
}

/* To the own CPU: the bench thread is the target, so the operation is the
 * whole path without a second thread to hand it to. The attached CPU runs
 * with IF set, so the sim accepts the IPI as the ICR write completes (as a
 * real CPU takes a self-IPI right after the write); were it left pending,
 * SimServicePending would take it. */
static void OperationIpiSendHandled(uint64_t Iterations)
{
    KE_IPI_TARGET Self = {.Kind = KeIpiTargetCpu, .Cpu = 0};
    for (uint64_t Index = 0; Index < Iterations; Index++) {
        uint64_t Before = IpiHandled;
        if (KeSendIpi(&Self, KeIpiReschedule) != IRQ_STATUS_SUCCESS) {
            fprintf(stderr, "bench: KeSendIpi failed\n");
            exit(1);
        }
        if (IpiHandled == Before)
            (void)SimServicePending();
        if (IpiHandled != Before + 1u) {
            fprintf(stderr, "bench: the IPI was not handled exactly once\n");
            exit(1);
        }
    }
}

/* Vector allocation at N CPUs, against its 4-CPU case. */
#define ALLOC_FREE_CASE(N)                                                                                  \
    {"vector.alloc_free." #N, "vector.alloc_free.4", N, SetupAllocate, OperationAllocateFree, Shutdown}

const BENCH_CASE BenchCases[] = {
    {"dispatch.static_table", NULL, 1, SetupStaticTable, OperationStaticTable, Shutdown},
    {"dispatch.unshared", "dispatch.static_table", 1, SetupUnshared, OperationDispatch, Shutdown},
    {"dispatch.shared4", "dispatch.static_table", 1, SetupShared4, OperationDispatch, Shutdown},
    {"vector.alloc_free.4", NULL, 4, SetupAllocate, OperationAllocateFree, Shutdown},
    ALLOC_FREE_CASE(64),
    ALLOC_FREE_CASE(256),
    ALLOC_FREE_CASE(1024),
    ALLOC_FREE_CASE(4096),
    {"io.connect_disconnect", NULL, 1, SetupConnect, OperationConnectDisconnect, Shutdown},
    {"ipi.send_handled.sim", "dispatch.static_table", 1, SetupIpi, OperationIpiSendHandled, Shutdown},
};
const uint32_t BenchCaseCount = sizeof(BenchCases) / sizeof(BenchCases[0]);
