/* SPDX-License-Identifier: MIT */
/*
 * The central dispatcher and KeSynchronizeExecution: IRQL gating, locking,
 * edge chains, spurious and system vectors.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>

typedef struct _SYNC_PROBE {
    KINTERRUPT *Interrupt;
    KSPIN_LOCK *Lock;
    KIRQL SeenIrql;
    bool LockWasHeld;
} SYNC_PROBE;

static bool ProbeRoutine(void *Context)
{
    SYNC_PROBE *Probe = Context;
    Probe->SeenIrql = KeGetCurrentIrql();
    Probe->LockWasHeld = !KeTryToAcquireSpinLockAtDpcLevel(Probe->Lock);
    return true;
}

/* KeSynchronizeExecution runs at the synchronize IRQL under the object's
 * lock, and the interrupt waits (in the IRR) while it does. */
static void test_synchronize_execution_holds_lock_and_irql(void **State)
{
    (void)State;
    KSPIN_LOCK Lock;
    KeInitializeSpinLock(&Lock);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = &Interrupt, .ServiceRoutine = TbCountingIsr, .ServiceContext = &Record,
                      .SpinLock = &Lock, .Line = {.Bus = HlBusIsa, .Number = 4}, .Irql = 7, .SynchronizeIrql = 8,
                      .Target = TbTargetCpu(TB_HOME_CPU)},
    };
    assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_SUCCESS);

    SYNC_PROBE Probe = {.Interrupt = Interrupt, .Lock = &Lock};
    assert_true(KeSynchronizeExecution(Interrupt, ProbeRoutine, &Probe));
    assert_int_equal(Probe.SeenIrql, 8);
    assert_true(Probe.LockWasHeld);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    assert_true(KeTryToAcquireSpinLockAtDpcLevel(&Lock)); /* released */
    KeReleaseSpinLockFromDpcLevel(&Lock);
    assert_false(KeSynchronizeExecution(NULL, ProbeRoutine, &Probe));
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* An interrupt at or below the CPU's IRQL stays pending; lowering the IRQL
 * delivers it (the TPR follows the IRQL, SDM 11.8.3). */
static void test_raised_irql_holds_interrupt_pending(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectCountedAtIrql(&Interrupt, &Record, HlBusIsa, 4, TB_HOME_CPU, 6, 0), IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(Interrupt);

    KIRQL Old = KeRaiseIrql(6);
    assert_int_equal(Old, PASSIVE_LEVEL);
    assert_int_equal(SimLapicTpr(TB_HOME_CPU), 0x60);
    assert_int_equal(KeQueryProcessorIrql(TB_HOME_CPU), 6);
    SimPulseGsi(4);
    assert_int_equal(SimServicePending(), 0);
    assert_true(SimLapicIrrIsSet(TB_HOME_CPU, Vector));
    assert_int_equal(atomic_load(&Record.Calls), 0);

    KeLowerIrql(Old);
    SimServicePending();
    assert_int_equal(atomic_load(&Record.Calls), 1);
    assert_false(SimLapicIrrIsSet(TB_HOME_CPU, Vector));
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* Edge chains run every ISR, claimed or not. */
static void test_shared_edge_chain_runs_all(void **State)
{
    (void)State;
    TB_ISR_RECORD A = {.Claim = true}, B = {.Claim = true}, C = {.Claim = false};
    KINTERRUPT *Objects[3];
    TB_ISR_RECORD *Records[3] = {&A, &B, &C};
    for (int Index = 0; Index < 3; Index++)
        assert_int_equal(
            TbConnectLine(&Objects[Index], TbCountingIsr, Records[Index], HlBusIsa, 3, TbTargetCpu(2), true),
            IRQ_STATUS_SUCCESS);
    SimPulseGsi(3);
    assert_int_equal(TbService(2), 1);
    assert_int_equal(atomic_load(&A.Calls), 1);
    assert_int_equal(atomic_load(&B.Calls), 1);
    assert_int_equal(atomic_load(&C.Calls), 1);
    KE_VECTOR_STATISTICS Statistics;
    assert_int_equal(KeQueryVectorStatistics(2, KeGetInterruptVector(Objects[0]), &Statistics), IRQ_STATUS_SUCCESS);
    assert_int_equal(Statistics.Unclaimed, 0);
    for (int Index = 0; Index < 3; Index++)
        assert_int_equal(IoDisconnectInterrupt(Objects[Index]), IRQ_STATUS_SUCCESS);
}

/* The spurious vector is counted and not EOId (SDM 11.9). */
static void test_spurious_vector_counted_without_eoi(void **State)
{
    (void)State;
    uint64_t EoisBefore = SimEoiCount(TB_HOME_CPU);
    KeDispatchInterrupt(TB_HOME_CPU, KeAmd64VectorLayout.SpuriousVector);
    assert_int_equal(KeQuerySpuriousCount(TB_HOME_CPU), 1);
    assert_int_equal(SimEoiCount(TB_HOME_CPU), EoisBefore);
}

static _Atomic int SystemHandlerCalls;
static void SystemHandler(uint32_t Cpu, uint8_t Vector, void *Context)
{
    (void)Context;
    assert_int_equal(Cpu, 1);
    assert_int_equal(Vector, 0xD1);
    atomic_fetch_add(&SystemHandlerCalls, 1);
}

/* Reserved vectors go to their system handler, then EOI. 0xD1 is the
 * layout's clock vector; the IPI vector (0xE1) is Ke's own and refused
 * (test_misuse_ke_hl.c checks that it keeps working). */
static void test_system_vector_handler(void **State)
{
    (void)State;
    assert_int_equal(KeSetSystemVectorHandler(0x61, SystemHandler, NULL), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(KeSetSystemVectorHandler(0xE1, SystemHandler, NULL), IRQ_STATUS_ACCESS_DENIED);
    assert_int_equal(KeSetSystemVectorHandler(0xD1, SystemHandler, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicSendIpi(SimCpuApicId(1), HlIpiNoShorthand, HlDeliveryFixed, 0xD1), IRQ_STATUS_SUCCESS);
    uint64_t EoisBefore = SimEoiCount(1);
    assert_int_equal(TbService(1), 1);
    assert_int_equal(atomic_load(&SystemHandlerCalls), 1);
    assert_int_equal(SimEoiCount(1), EoisBefore + 1);
}

/* A vector with nothing connected is counted as unclaimed and still EOId,
 * so it cannot block its priority class. */
static void test_vector_without_objects_is_unclaimed(void **State)
{
    (void)State;
    SimMsiWrite(0xFEE00000u | (SimCpuApicId(3) << 12), 0x75);
    assert_int_equal(TbService(3), 1);
    KE_VECTOR_STATISTICS Statistics;
    assert_int_equal(KeQueryVectorStatistics(3, 0x75, &Statistics), IRQ_STATUS_SUCCESS);
    assert_int_equal(Statistics.Dispatched, 1);
    assert_int_equal(Statistics.Unclaimed, 1);
    assert_false(SimLapicIsrIsSet(3, 0x75));
}

TB_TEST_MAIN(
    TB_FOUR_CPU_TEST(test_synchronize_execution_holds_lock_and_irql),
    TB_FOUR_CPU_TEST(test_raised_irql_holds_interrupt_pending),
    TB_FOUR_CPU_TEST(test_shared_edge_chain_runs_all),
    TB_FOUR_CPU_TEST(test_spurious_vector_counted_without_eoi),
    TB_FOUR_CPU_TEST(test_system_vector_handler),
    TB_FOUR_CPU_TEST(test_vector_without_objects_is_unclaimed))
