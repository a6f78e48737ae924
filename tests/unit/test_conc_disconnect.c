/* SPDX-License-Identifier: MIT */
/*
 * Disconnect while the vector fires on other CPUs (service threads), under
 * ThreadSanitizer in `make tsan`:
 *  - after IoDisconnectInterrupt returns, the object's ISR never runs again;
 *  - a sharer that stays connected runs on every dispatch of the vector
 *    (its count equals the dispatcher's count for the vector), so unlinking
 *    a neighbour never makes the walk skip it;
 *  - no vector leaks;
 *  - KeFreeVector racing connect and disconnect on the same vector never
 *    frees it while an object is linked on it.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "testbed.h"
#include "tb_main.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define CYCLES 300
#define SHARED_VECTOR 0x65
#define SHARED_IRQL 6
#define EDGE_IRQ 3

typedef struct _TRANSIENT {
    _Atomic bool Gone;
    _Atomic uint64_t Calls;
    _Atomic uint64_t CallsAfterDisconnect;
} TRANSIENT;

static TRANSIENT Transients[CYCLES];
static _Atomic uint64_t StayerCalls;
static _Atomic bool StopFiring;

static bool TransientIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    TRANSIENT *Transient = Context;
    atomic_fetch_add(&Transient->Calls, 1);
    if (atomic_load(&Transient->Gone))
        atomic_fetch_add(&Transient->CallsAfterDisconnect, 1);
    return true;
}

static bool StayerIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    (void)Context;
    atomic_fetch_add(&StayerCalls, 1);
    return true;
}

static int Setup(void **State)
{
    (void)State;
    TbBoot(4, 0, true);
    for (int Index = 0; Index < CYCLES; Index++) {
        atomic_store(&Transients[Index].Gone, false);
        atomic_store(&Transients[Index].Calls, 0);
        atomic_store(&Transients[Index].CallsAfterDisconnect, 0);
    }
    atomic_store(&StayerCalls, 0);
    atomic_store(&StopFiring, false);
    return 0;
}

/* Sends MSIs for the shared vector round-robin to CPUs 1-3 (CPU 0 belongs
 * to the test thread). */
static void *MsiFirer(void *Argument)
{
    (void)Argument;
    for (uint32_t Round = 0; Round < 2000000 && !atomic_load(&StopFiring); Round++) {
        uint32_t Cpu = 1 + Round % 3;
        SimMsiWrite(0xFEE00000u | (SimCpuApicId(Cpu) << 12), SHARED_VECTOR);
        if (Round % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void *LinePulser(void *Argument)
{
    (void)Argument;
    for (uint32_t Round = 0; Round < 2000000 && !atomic_load(&StopFiring); Round++) {
        SimPulseGsi(EDGE_IRQ);
        if (Round % 16 == 0)
            sched_yield();
    }
    return NULL;
}

static uint64_t DispatchedOn(const IR_CPU_SET *Cpus, uint8_t Vector)
{
    uint64_t Total = 0;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus) {
        KE_VECTOR_STATISTICS Statistics;
        assert_int_equal(KeQueryVectorStatistics(Cpu, Vector, &Statistics), IRQ_STATUS_SUCCESS);
        Total += Statistics.Dispatched;
    }
    return Total;
}

/* The first transient stays connected until its ISR has run once, so every
 * run proves that disconnects overlapped with firing, however the host
 * schedules the firer threads (bounded: a firer that never runs fails). */
static void WaitForFirstCall(const TRANSIENT *Transient)
{
    const struct timespec Pause = {.tv_sec = 0, .tv_nsec = 100000};
    for (uint32_t Waited = 0; atomic_load(&Transient->Calls) == 0; Waited++) {
        assert_true(Waited < 300000u); /* 30 s */
        nanosleep(&Pause, NULL);
    }
}

/* Lets the firers reach the transient sharer (on the first cycle, until
 * its ISR has run), then disconnects it: from here on its ISR must never
 * run again (AssertTransientsClean). */
static void DisconnectTransient(KINTERRUPT *Transient, int Cycle)
{
    for (int Spin = 0; Spin < 20; Spin++)
        sched_yield();
    if (Cycle == 0)
        WaitForFirstCall(&Transients[Cycle]);
    assert_int_equal(IoDisconnectInterrupt(Transient), IRQ_STATUS_SUCCESS);
    atomic_store(&Transients[Cycle].Gone, true);
}

static void AssertTransientsClean(void)
{
    uint64_t Calls = 0;
    for (int Index = 0; Index < CYCLES; Index++) {
        assert_int_equal(atomic_load(&Transients[Index].CallsAfterDisconnect), 0);
        Calls += atomic_load(&Transients[Index].Calls);
    }
    assert_true(Calls > 0); /* the transients did overlap with the firing */
}

static void test_disconnect_fully_specified_while_firing(void **State)
{
    (void)State;
    IR_CPU_SET Cpus;
    IrCpuSetZero(&Cpus);
    for (uint32_t Cpu = 1; Cpu < 4; Cpu++)
        IrCpuSetAdd(&Cpus, Cpu);
    KINTERRUPT *Stayer = NULL;
    assert_int_equal(IoConnectInterrupt(&Stayer, StayerIsr, NULL, NULL, SHARED_VECTOR, SHARED_IRQL, SHARED_IRQL,
                                        Latched, true, &Cpus, false),
                     IRQ_STATUS_SUCCESS);

    pthread_t Firers[2];
    for (int Index = 0; Index < 2; Index++)
        assert_int_equal(pthread_create(&Firers[Index], NULL, MsiFirer, NULL), 0);
    for (int Cycle = 0; Cycle < CYCLES; Cycle++) {
        KINTERRUPT *Transient = NULL;
        assert_int_equal(IoConnectInterrupt(&Transient, TransientIsr, &Transients[Cycle], NULL, SHARED_VECTOR,
                                            SHARED_IRQL, SHARED_IRQL, Latched, true, &Cpus, false),
                         IRQ_STATUS_SUCCESS);
        DisconnectTransient(Transient, Cycle);
    }
    atomic_store(&StopFiring, true);
    for (int Index = 0; Index < 2; Index++)
        pthread_join(Firers[Index], NULL);
    assert_true(SimWaitIdle(10000));

    AssertTransientsClean();
    uint64_t Dispatched = DispatchedOn(&Cpus, SHARED_VECTOR);
    assert_true(Dispatched > 0);
    assert_int_equal(atomic_load(&StayerCalls), Dispatched);
    uint64_t StayerCount = 0;
    for (uint32_t Cpu = 1; Cpu < 4; Cpu++)
        StayerCount += KeQueryInterruptCount(Stayer, Cpu);
    assert_int_equal(StayerCount, Dispatched);

    assert_int_equal(IoDisconnectInterrupt(Stayer), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

static void test_disconnect_line_sharer_while_firing(void **State)
{
    (void)State;
    IO_INTERRUPT_TARGET Target = {.Kind = IoTargetCpu, .Cpu = 2};
    KINTERRUPT *Stayer = NULL;
    assert_int_equal(TbConnectLine(&Stayer, StayerIsr, NULL, HlBusIsa, EDGE_IRQ, Target, true), IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(Stayer);

    pthread_t Pulser;
    assert_int_equal(pthread_create(&Pulser, NULL, LinePulser, NULL), 0);
    for (int Cycle = 0; Cycle < CYCLES; Cycle++) {
        KINTERRUPT *Transient = NULL;
        assert_int_equal(TbConnectLine(&Transient, TransientIsr, &Transients[Cycle], HlBusIsa, EDGE_IRQ, Target, true),
                         IRQ_STATUS_SUCCESS);
        assert_int_equal(KeGetInterruptVector(Transient), Vector);
        DisconnectTransient(Transient, Cycle);
        assert_int_equal(TbPeekEntry(EDGE_IRQ).Bits.Mask, 0); /* the stayer still uses the line */
    }
    atomic_store(&StopFiring, true);
    pthread_join(Pulser, NULL);
    assert_true(SimWaitIdle(10000));

    AssertTransientsClean();
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Stayer, &Cpus);
    uint64_t Dispatched = DispatchedOn(&Cpus, Vector);
    assert_true(Dispatched > 0);
    assert_int_equal(atomic_load(&StayerCalls), Dispatched);

    assert_int_equal(IoDisconnectInterrupt(Stayer), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(EDGE_IRQ).Bits.Mask, 1);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* The last user leaves while the line fires: masked, ISR silent, vector free. */
static void test_disconnect_last_user_while_firing(void **State)
{
    (void)State;
    IO_INTERRUPT_TARGET Target = {.Kind = IoTargetCpu, .Cpu = 3};
    pthread_t Pulser;
    assert_int_equal(pthread_create(&Pulser, NULL, LinePulser, NULL), 0);
    for (int Cycle = 0; Cycle < CYCLES / 3; Cycle++) {
        KINTERRUPT *Transient = NULL;
        assert_int_equal(TbConnectLine(&Transient, TransientIsr, &Transients[Cycle], HlBusIsa, EDGE_IRQ, Target, false),
                         IRQ_STATUS_SUCCESS);
        uint8_t Vector = KeGetInterruptVector(Transient);
        for (int Spin = 0; Spin < 20; Spin++)
            sched_yield();
        assert_int_equal(IoDisconnectInterrupt(Transient), IRQ_STATUS_SUCCESS);
        atomic_store(&Transients[Cycle].Gone, true);
        assert_int_equal(TbPeekEntry(EDGE_IRQ).Bits.Mask, 1);
        assert_false(KeIsVectorAllocated(3, Vector));
    }
    atomic_store(&StopFiring, true);
    pthread_join(Pulser, NULL);
    assert_true(SimWaitIdle(10000));
    for (int Cycle = 0; Cycle < CYCLES / 3; Cycle++)
        assert_int_equal(atomic_load(&Transients[Cycle].CallsAfterDisconnect), 0);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* Frees the vector the main thread connects on, as fast as it can: with
 * the object linked the answer must be ACCESS_DENIED, with it gone
 * INVALID_STATE (connect's hold took the vector, its disconnect freed it);
 * never SUCCESS, as nobody else allocates it. */
#define RACE_CPU 2
#define RACE_VECTOR 0x75
static _Atomic uint64_t RaceFreed;
static _Atomic uint64_t RaceDenied;

static void *VectorFreer(void *Argument)
{
    (void)Argument;
    while (!atomic_load(&StopFiring)) {
        IRQ_STATUS Status = KeFreeVector(RACE_CPU, RACE_VECTOR);
        if (Status == IRQ_STATUS_SUCCESS)
            atomic_fetch_add(&RaceFreed, 1);
        else if (Status == IRQ_STATUS_ACCESS_DENIED)
            atomic_fetch_add(&RaceDenied, 1);
        else
            assert_int_equal(Status, IRQ_STATUS_INVALID_STATE);
    }
    return NULL;
}

static void test_free_vector_races_connect(void **State)
{
    (void)State;
    IR_CPU_SET Cpus;
    IrCpuSetZero(&Cpus);
    IrCpuSetAdd(&Cpus, RACE_CPU);
    KE_INTERRUPT_PARAMETERS Parameters = {.ServiceRoutine = StayerIsr, .Vector = RACE_VECTOR,
                                          .Irql = KeIrqlOfVector(RACE_VECTOR),
                                          .SynchronizeIrql = KeIrqlOfVector(RACE_VECTOR), .Mode = Latched,
                                          .Cpus = &Cpus};
    size_t Size = KeQueryInterruptObjectSize(1);
    void *Memory = aligned_alloc(KE_INTERRUPT_ALIGNMENT, Size);
    assert_non_null(Memory);
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(KeInitializeInterrupt(Memory, Size, &Parameters, &Interrupt), IRQ_STATUS_SUCCESS);
    atomic_store(&RaceFreed, 0);
    atomic_store(&RaceDenied, 0);

    pthread_t Freer;
    assert_int_equal(pthread_create(&Freer, NULL, VectorFreer, NULL), 0);
    for (int Cycle = 0; Cycle < CYCLES * 10 || atomic_load(&RaceDenied) == 0; Cycle++) {
        assert_true(Cycle < CYCLES * 10000); /* a freer that never runs fails */
        assert_int_equal(KeConnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
        if (Cycle % 8 == 0)
            sched_yield(); /* let the freer meet the object linked */
        assert_true(KeIsVectorAllocated(RACE_CPU, RACE_VECTOR));
        bool Freed = false;
        assert_int_equal(KeDisconnectInterrupt(Interrupt, &Freed), IRQ_STATUS_SUCCESS);
        assert_true(Freed);
    }
    atomic_store(&StopFiring, true);
    pthread_join(Freer, NULL);

    assert_int_equal(atomic_load(&RaceFreed), 0);
    assert_true(atomic_load(&RaceDenied) > 0); /* the race was run */
    assert_false(KeIsVectorAllocated(RACE_CPU, RACE_VECTOR));
    assert_int_equal(TbTotalAllocatedVectors(), 0);
    free(Memory);
}

TB_TEST_MAIN(
    cmocka_unit_test_setup_teardown(test_disconnect_fully_specified_while_firing, Setup, TbTeardown),
    cmocka_unit_test_setup_teardown(test_disconnect_line_sharer_while_firing, Setup, TbTeardown),
    cmocka_unit_test_setup_teardown(test_disconnect_last_user_while_firing, Setup, TbTeardown),
    cmocka_unit_test_setup_teardown(test_free_vector_races_connect, Setup, TbTeardown))
