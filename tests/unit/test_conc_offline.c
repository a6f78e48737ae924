/* SPDX-License-Identifier: MIT */
/*
 * CPU offline and online (src/io/offline.c, src/ke/offline.c) on the sim
 * with service threads on every CPU (the call returns only once the CPU
 * going offline has taken Ke's requests): movable interrupts leave the CPU
 * while a device raises them, nothing is lost, and nothing is handled on
 * the CPU after the call returned; a broken affinity is reported and mended
 * when the CPU comes back; what cannot move refuses the call, which then
 * changes nothing.
 */
#define _POSIX_C_SOURCE 200809L

#include "testbed.h"
#include "tb_main.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define CPU_COUNT 4u
#define EDGE_IRQ 3u
#define FIXED_IRQ 4u
#define ROUNDS 12u
/* A liveness bound (a lost interrupt must not hang the test), never a
 * timing assertion. */
#define LOST_AFTER_NS 10000000000ll

typedef struct _DEVICE {
    KINTERRUPT *Interrupt;
    _Atomic uint64_t Address; /* the device's MSI address and data registers */
    _Atomic uint32_t Data;
    _Atomic uint64_t Raised;
    _Atomic uint64_t Handled;
    _Atomic uint64_t HandledOn[CPU_COUNT];
    _Atomic bool Stop;
    _Atomic bool Lost;
} DEVICE;

static DEVICE Device;

static int Setup(void **State)
{
    (void)State;
    TbBoot(CPU_COUNT, 0, true);
    Device = (DEVICE){0};
    return 0;
}

static bool DeviceIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    DEVICE *State = Context;
    atomic_fetch_add(&State->HandledOn[SimAttachedCpu()], 1);
    atomic_fetch_add(&State->Handled, 1);
    return true;
}

/* One update changes the address or the data (src/io/move.c). */
static void UpdateMessage(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Interrupt;
    DEVICE *State = Context;
    atomic_store(&State->Address, Message->Address);
    atomic_store(&State->Data, Message->Data);
}

static void ConnectMsi(DEVICE *State, const IR_CPU_SET *Mask, uint32_t Cpu)
{
    HL_MSI_MESSAGE Message;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_MESSAGE_BASED,
        .MessageBased = {.InterruptObject = &State->Interrupt, .ServiceRoutine = DeviceIsr, .ServiceContext = State,
                         .Irql = KE_IRQL_ANY, .Target = {.Kind = IoTargetRoutable, .Mask = Mask, .Cpu = Cpu},
                         .Message = &Message, .UpdateMessage = UpdateMessage, .UpdateContext = State},
    };
    assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_SUCCESS);
    atomic_store(&State->Data, Message.Data);
    atomic_store(&State->Address, Message.Address);
}

/* One raise at a time, the next once the ISR has counted the last: every
 * raise must be handled exactly once. */
static void *PacedDevice(void *Argument)
{
    DEVICE *State = Argument;
    while (!atomic_load(&State->Stop)) {
        uint64_t Raised = atomic_fetch_add(&State->Raised, 1) + 1;
        SimMsiWrite(atomic_load(&State->Address), atomic_load(&State->Data));
        int64_t Deadline = TbNowNs() + LOST_AFTER_NS;
        while (atomic_load(&State->Handled) < Raised) {
            if (TbNowNs() > Deadline) {
                atomic_store(&State->Lost, true);
                return NULL;
            }
            sched_yield();
        }
    }
    return NULL;
}

static void WaitForHandled(DEVICE *State, uint64_t Count)
{
    uint64_t Target = atomic_load(&State->Handled) + Count;
    int64_t Deadline = TbNowNs() + LOST_AFTER_NS;
    while (atomic_load(&State->Handled) < Target && !atomic_load(&State->Lost)) {
        if (TbNowNs() > Deadline)
            fail_msg("interrupts stopped arriving");
        sched_yield();
    }
}

static IO_PROCESSOR_OFFLINE_RESULT Offline(uint32_t Cpu)
{
    IO_PROCESSOR_OFFLINE_RESULT Result;
    assert_int_equal(IoSetProcessorOffline(Cpu, &Result), IRQ_STATUS_SUCCESS);
    assert_null(Result.Blocking);
    assert_false(KeIsProcessorOnline(Cpu));
    return Result;
}

/* Each of CPUs 1-3 goes offline in turn and comes back while the device
 * raises: the interrupt leaves it (where it was delivered or not), the
 * count of interrupts it handled does not move while it is offline, and
 * every raise is handled exactly once. */
static void test_offline_each_cpu_while_firing(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuRange(1, 3);
    ConnectMsi(&Device, &Mask, 1);
    pthread_t Thread;
    assert_int_equal(pthread_create(&Thread, NULL, PacedDevice, &Device), 0);
    for (uint32_t Round = 0; Round < ROUNDS; Round++) {
        uint32_t Cpu = 1u + Round % 3u;
        WaitForHandled(&Device, 3);
        (void)Offline(Cpu);
        uint64_t AtOffline = atomic_load(&Device.HandledOn[Cpu]);
        IR_CPU_SET Affinity;
        assert_int_equal(IoQueryInterruptAffinity(Device.Interrupt, &Affinity), IRQ_STATUS_SUCCESS);
        assert_false(IrCpuSetContains(&Affinity, Cpu));
        IR_CPU_SET Linked;
        KeGetInterruptCpus(Device.Interrupt, &Linked);
        assert_false(IrCpuSetContains(&Linked, Cpu));
        assert_false(KeIsVectorAllocated(Cpu, KeGetInterruptVector(Device.Interrupt)) &&
                     IrCpuSetContains(&Linked, Cpu));
        assert_int_equal(IoSetInterruptTarget(Device.Interrupt, Cpu), IRQ_STATUS_INVALID_CPU);
        WaitForHandled(&Device, 20);
        assert_int_equal(atomic_load(&Device.HandledOn[Cpu]), AtOffline);
        assert_int_equal(IoSetProcessorOnline(Cpu), IRQ_STATUS_SUCCESS);
        assert_int_equal(IoQueryInterruptAffinity(Device.Interrupt, &Affinity), IRQ_STATUS_SUCCESS);
        assert_true(IrCpuSetEqual(&Affinity, &Mask));
        assert_int_equal(IoSetInterruptTarget(Device.Interrupt, Cpu), IRQ_STATUS_SUCCESS);
    }
    atomic_store(&Device.Stop, true);
    pthread_join(Thread, NULL);
    assert_true(SimWaitIdle(10000));
    assert_false(atomic_load(&Device.Lost));
    assert_int_equal(atomic_load(&Device.Handled), atomic_load(&Device.Raised));
    assert_int_equal(KeQueryInterruptTotalCount(Device.Interrupt, NULL), atomic_load(&Device.Raised));
    assert_int_equal(atomic_load(&Device.HandledOn[0]), 0);
    assert_int_equal(IoDisconnectInterrupt(Device.Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* A movable line whose affinity is CPU 2 alone: offline 2 breaks it (it
 * goes to another online CPU, reported), online 2 mends it. */
static void test_broken_affinity_reported_and_mended(void **State)
{
    (void)State;
    IR_CPU_SET Only2 = TbCpuRange(2, 2);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, EDGE_IRQ,
                                   TbTargetRoutable(&Only2, 2), false),
                     IRQ_STATUS_SUCCESS);
    IO_PROCESSOR_OFFLINE_RESULT Result = Offline(2);
    assert_int_equal(Result.Moved, 1);
    assert_int_equal(Result.AffinityBroken, 1);
    assert_ptr_equal(Result.FirstBroken, Interrupt);
    uint32_t Where = IR_CPU_NONE;
    assert_int_equal(IoQueryInterruptTarget(Interrupt, &Where, NULL), IRQ_STATUS_SUCCESS);
    assert_int_not_equal(Where, 2);
    SimPulseGsi(EDGE_IRQ);
    assert_true(SimWaitIdle(10000));
    assert_int_equal(atomic_load(&Record.LastCpu), Where);

    assert_int_equal(IoSetProcessorOnline(2), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoQueryInterruptTarget(Interrupt, &Where, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Where, 2);
    IR_CPU_SET Affinity;
    assert_int_equal(IoQueryInterruptAffinity(Interrupt, &Affinity), IRQ_STATUS_SUCCESS);
    assert_true(IrCpuSetEqual(&Affinity, &Only2));
    SimPulseGsi(EDGE_IRQ);
    assert_true(SimWaitIdle(10000));
    assert_int_equal(atomic_load(&Record.LastCpu), 2);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* What cannot move refuses the call, which changes nothing; so do bad
 * arguments, a CPU offline already, and the last online CPU. */
static void test_refusals_change_nothing(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Fixed = NULL;
    assert_int_equal(TbConnectLine(&Fixed, TbCountingIsr, &Record, HlBusIsa, FIXED_IRQ, TbTargetCpu(3), false),
                     IRQ_STATUS_SUCCESS);
    IO_PROCESSOR_OFFLINE_RESULT Result;
    assert_int_equal(IoSetProcessorOffline(3, &Result), IRQ_STATUS_ACCESS_DENIED);
    assert_ptr_equal(Result.Blocking, Fixed);
    assert_true(KeIsProcessorOnline(3));
    assert_int_equal(IoSetProcessorOffline(3, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoSetProcessorOffline(CPU_COUNT, &Result), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(IoSetProcessorOnline(CPU_COUNT), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(IoSetProcessorOnline(1), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(IoDisconnectInterrupt(Fixed), IRQ_STATUS_SUCCESS);

    (void)Offline(1);
    assert_int_equal(IoSetProcessorOffline(1, &Result), IRQ_STATUS_INVALID_STATE);
    (void)Offline(2);
    (void)Offline(3);
    assert_int_equal(IoSetProcessorOffline(0, &Result), IRQ_STATUS_ACCESS_DENIED); /* the last one */
    assert_null(Result.Blocking);
    assert_true(KeIsProcessorOnline(0));
    for (uint32_t Cpu = 1; Cpu <= 3; Cpu++)
        assert_int_equal(IoSetProcessorOnline(Cpu), IRQ_STATUS_SUCCESS);
}

TB_TEST_MAIN(cmocka_unit_test_setup_teardown(test_offline_each_cpu_while_firing, Setup, TbTeardown),
             cmocka_unit_test_setup_teardown(test_broken_affinity_reported_and_mended, Setup, TbTeardown),
             cmocka_unit_test_setup_teardown(test_refusals_change_nothing, Setup, TbTeardown))
