/* SPDX-License-Identifier: MIT */
/*
 * Moving a connected object in two phases (src/ke/link.c): a link added on
 * the new (CPU, vector), the old one retired by its own CPU only once its
 * IRR and ISR bits are clear. An interrupt still pending on the old vector
 * is dispatched there, never lost; the old vector is free only afterwards.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>
#include <stdlib.h>

#define IPI_VECTOR 0xE1u
#define DEVICE_IRQL 6u /* vectors 0x60-0x6F (the amd64 layout) */

typedef struct _OBJECT {
    void *Memory;
    KINTERRUPT *Interrupt;
    TB_ISR_RECORD Record;
} OBJECT;

/* Sends Vector to Cpu as a device would (fixed delivery), without servicing it. */
static void Raise(uint32_t Cpu, uint8_t Vector)
{
    assert_int_equal(HlLapicSendIpi(SimCpuApicId(Cpu), HlIpiNoShorthand, HlDeliveryFixed, Vector),
                     IRQ_STATUS_SUCCESS);
}

static uint8_t AllocateOn(uint32_t Cpu)
{
    IR_CPU_SET One = TbCpuList((const uint32_t[]){Cpu}, 1);
    uint32_t Chosen = IR_CPU_NONE;
    uint8_t Vector = 0;
    assert_int_equal(KeAllocateVector(&One, DEVICE_IRQL, &Chosen, &Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(Chosen, Cpu);
    return Vector;
}

/* A Ke object on Cpu with Spare extra link slots, connected by Ke. */
static void ConnectOn(OBJECT *Object, uint32_t Cpu, uint32_t Spare)
{
    IR_CPU_SET Cpus = TbCpuList((const uint32_t[]){Cpu}, 1);
    uint8_t Vector = AllocateOn(Cpu);
    KE_INTERRUPT_PARAMETERS Parameters = {.ServiceRoutine = TbCountingIsr, .ServiceContext = &Object->Record,
                                          .Vector = Vector, .Irql = KeIrqlOfVector(Vector),
                                          .SynchronizeIrql = KeIrqlOfVector(Vector), .Mode = Latched,
                                          .Cpus = &Cpus, .SpareLinks = Spare};
    size_t Size = KeQueryInterruptObjectSize(1 + Spare);
    Object->Memory = aligned_alloc(KE_INTERRUPT_ALIGNMENT, Size);
    assert_non_null(Object->Memory);
    Object->Record = (TB_ISR_RECORD){.Claim = true};
    assert_int_equal(KeInitializeInterrupt(Object->Memory, Size - 1, &Parameters, &Object->Interrupt),
                     IRQ_STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(KeInitializeInterrupt(Object->Memory, Size, &Parameters, &Object->Interrupt),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(KeConnectInterrupt(Object->Interrupt), IRQ_STATUS_SUCCESS);
}

/* The first phase of a move from CPU 1 to CPU 2: the object connected on
 * CPU 1 (Old), a vector allocated on CPU 2 (New) and the object linked there. */
static void StartMove(OBJECT *Object, uint8_t *Old, uint8_t *New)
{
    ConnectOn(Object, 1, 1);
    *Old = KeGetInterruptVector(Object->Interrupt);
    *New = AllocateOn(2);
    assert_int_equal(KeAddInterruptLink(Object->Interrupt, KeInterruptOwnerKe, 2, *New), IRQ_STATUS_SUCCESS);
}

static void Disconnect(OBJECT *Object)
{
    assert_int_equal(KeDisconnectInterrupt(Object->Interrupt, NULL), IRQ_STATUS_SUCCESS);
    free(Object->Memory);
}

static bool CpusAre(const KINTERRUPT *Interrupt, const uint32_t *Cpus, uint32_t Count)
{
    IR_CPU_SET Expected = TbCpuList(Cpus, Count);
    IR_CPU_SET Actual;
    KeGetInterruptCpus(Interrupt, &Actual);
    return IrCpuSetEqual(&Actual, &Expected);
}

/* The whole move: the new link takes interrupts, the old one goes once its
 * CPU has looked at its IRR, and the old vector is free again. */
static void test_move_to_another_cpu(void **State)
{
    (void)State;
    OBJECT Object;
    uint8_t Old, New;
    StartMove(&Object, &Old, &New);
    assert_int_equal(KeGetInterruptVector(Object.Interrupt), New);
    assert_true(CpusAre(Object.Interrupt, (const uint32_t[]){1, 2}, 2));

    Raise(2, New);
    TbAssertHandledOn(2, &Object.Record);

    assert_int_equal(KeRetireInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 1, Old), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 1);
    assert_true(KeIsVectorAllocated(1, Old)); /* until CPU 1 has looked */
    assert_true(SimLapicIrrIsSet(1, IPI_VECTOR));
    assert_int_equal(TbService(1), 1);
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 0);
    assert_false(KeIsVectorAllocated(1, Old));
    assert_true(CpusAre(Object.Interrupt, (const uint32_t[]){2}, 1));
    assert_int_equal(KeQueryInterruptCount(Object.Interrupt, 2), 1);
    assert_int_equal(KeQueryInterruptTotalCount(Object.Interrupt, NULL), 1);
    Disconnect(&Object);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* The stale interrupt: sent on the old vector before the move, still in
 * CPU 1's IRR when the request comes. The request (a higher class) runs
 * first and leaves the link; the interrupt is dispatched on it; a retry
 * then takes the link out. Nothing lost, nothing on a freed vector. */
static void test_pending_interrupt_keeps_old_link_until_dispatched(void **State)
{
    (void)State;
    OBJECT Object;
    uint8_t Old, New;
    StartMove(&Object, &Old, &New);
    Raise(1, Old);
    assert_int_equal(KeRetireInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 1, Old), IRQ_STATUS_SUCCESS);

    assert_int_equal(TbService(1), 2); /* the request, then the stale interrupt */
    assert_int_equal(atomic_load(&Object.Record.Calls), 1);
    assert_int_equal(atomic_load(&Object.Record.LastCpu), 1);
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 1);
    assert_true(KeIsVectorAllocated(1, Old));

    assert_int_equal(KeRetryInterruptRetirement(Object.Interrupt, KeInterruptOwnerKe), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(1), 1);
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 0);
    assert_false(KeIsVectorAllocated(1, Old));
    assert_int_equal(KeQueryInterruptCount(Object.Interrupt, 1), 1); /* the retired link's count stays */
    Disconnect(&Object);
}

/* A request that finds the vector held off by the CPU's IRQL (in the IRR
 * behind its TPR) leaves it, too. */
static void test_interrupt_held_by_irql_is_not_dropped(void **State)
{
    (void)State;
    OBJECT Object;
    uint8_t Old, New;
    StartMove(&Object, &Old, &New);
    SimDetachCpu();
    SimAttachCpu(1);
    KIRQL OldIrql = KeRaiseIrql(DEVICE_IRQL);
    SimDetachCpu();
    SimAttachCpu(TB_HOME_CPU);
    Raise(1, Old);
    assert_int_equal(KeRetireInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 1, Old), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(1), 1); /* only the request: the device vector waits */
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 1);
    assert_true(SimLapicIrrIsSet(1, Old));

    SimDetachCpu();
    SimAttachCpu(1);
    KeLowerIrql(OldIrql); /* takes it, on the old link */
    SimDetachCpu();
    SimAttachCpu(TB_HOME_CPU);
    assert_int_equal(atomic_load(&Object.Record.Calls), 1);
    assert_int_equal(atomic_load(&Object.Record.LastCpu), 1);
    assert_int_equal(KeRetryInterruptRetirement(Object.Interrupt, KeInterruptOwnerKe), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(1), 1);
    assert_false(KeIsVectorAllocated(1, Old));
    Disconnect(&Object);
}

static void NoPostDispatch(KINTERRUPT *Interrupt, uint32_t Cpu, KIRQL InterruptedIrql, void *Context)
{
    (void)Interrupt;
    (void)Cpu;
    (void)InterruptedIrql;
    (void)Context;
}

/* An object with a post-dispatch routine (as Io's movable ones): the old
 * link waits for the first interrupt on the new one before its CPU is
 * asked. An interrupt on the old link does not count. */
static void test_old_link_waits_for_first_interrupt_on_new(void **State)
{
    (void)State;
    OBJECT Object;
    uint8_t Old, New;
    StartMove(&Object, &Old, &New);
    assert_int_equal(KeSetInterruptPostDispatch(Object.Interrupt, NoPostDispatch, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeRetireInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 1, Old), IRQ_STATUS_SUCCESS);
    assert_false(SimLapicIrrIsSet(1, IPI_VECTOR));
    assert_int_equal(KeRetryInterruptRetirement(Object.Interrupt, KeInterruptOwnerKe), IRQ_STATUS_SUCCESS);
    assert_false(SimLapicIrrIsSet(1, IPI_VECTOR)); /* a retry does not ask before the trigger either */

    Raise(1, Old); /* sent before the move: dispatched on the old link */
    assert_int_equal(TbService(1), 1);
    assert_false(SimLapicIrrIsSet(1, IPI_VECTOR));
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 1);

    Raise(2, New);
    assert_int_equal(TbService(2), 1);
    assert_true(SimLapicIrrIsSet(1, IPI_VECTOR));
    assert_int_equal(TbService(1), 1);
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 0);
    assert_false(KeIsVectorAllocated(1, Old));
    assert_int_equal(atomic_load(&Object.Record.Calls), 2);
    Disconnect(&Object);
}

/* Slots: a retired one is reused, counts go on in the object's total, and
 * with none free the add is refused. */
static void test_slots_are_reused_and_counts_kept(void **State)
{
    (void)State;
    OBJECT Object;
    ConnectOn(&Object, 1, 1);
    uint32_t Path[] = {2, 1, 2};
    uint32_t Here = 1;
    for (uint32_t Step = 0; Step < 3; Step++) {
        uint8_t Old = KeGetInterruptVector(Object.Interrupt);
        uint8_t New = AllocateOn(Path[Step]);
        assert_int_equal(KeAddInterruptLink(Object.Interrupt, KeInterruptOwnerKe, Path[Step], New),
                         IRQ_STATUS_SUCCESS);
        uint8_t Third = AllocateOn(3);
        assert_int_equal(KeAddInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 3, Third),
                         IRQ_STATUS_INSUFFICIENT_RESOURCES);
        assert_int_equal(KeFreeVector(3, Third), IRQ_STATUS_SUCCESS);
        Raise(Path[Step], New);
        assert_int_equal(TbService(Path[Step]), 1);
        assert_int_equal(KeRetireInterruptLink(Object.Interrupt, KeInterruptOwnerKe, Here, Old),
                         IRQ_STATUS_SUCCESS);
        assert_int_equal(TbService(Here), 1);
        assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 0);
        Here = Path[Step];
    }
    assert_int_equal(KeQueryInterruptTotalCount(Object.Interrupt, NULL), 3);
    uint64_t Claimed = 0;
    (void)KeQueryInterruptTotalCount(Object.Interrupt, &Claimed);
    assert_int_equal(Claimed, 3);
    Disconnect(&Object);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* A link the device was never pointed at (a move that failed before its
 * write) goes at once: no request, its vector free, the object where it was. */
static void test_unused_link_removed_at_once(void **State)
{
    (void)State;
    OBJECT Object;
    uint8_t Old, New;
    StartMove(&Object, &Old, &New);
    assert_int_equal(KeRemoveUnusedInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 2, New), IRQ_STATUS_SUCCESS);
    assert_false(KeIsVectorAllocated(2, New));
    assert_true(CpusAre(Object.Interrupt, (const uint32_t[]){1}, 1));
    assert_false(SimLapicIrrIsSet(2, IPI_VECTOR));
    assert_int_equal(KeQueryInterruptRetiringLinks(Object.Interrupt), 0);
    assert_int_equal(KeRemoveUnusedInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 2, New),
                     IRQ_STATUS_NOT_PENDING);
    assert_int_equal(KeRemoveUnusedInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 1, Old),
                     IRQ_STATUS_INVALID_STATE); /* the last one */
    assert_int_equal(KeRemoveUnusedInterruptLink(Object.Interrupt, KeInterruptOwnerIo, 1, Old),
                     IRQ_STATUS_ACCESS_DENIED);
    Raise(1, Old);
    TbAssertHandledOn(1, &Object.Record);
    Disconnect(&Object);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* Bad calls: a status, nothing changed. */
static void test_bad_calls_refused(void **State)
{
    (void)State;
    OBJECT Object;
    ConnectOn(&Object, 1, 1);
    KINTERRUPT *Interrupt = Object.Interrupt;
    uint8_t Old = KeGetInterruptVector(Interrupt);
    uint8_t New = AllocateOn(2);
    assert_int_equal(KeAddInterruptLink(NULL, KeInterruptOwnerKe, 2, New), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeAddInterruptLink(Interrupt, KeInterruptOwnerNone, 2, New), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeAddInterruptLink(Interrupt, KeInterruptOwnerIo, 2, New), IRQ_STATUS_ACCESS_DENIED);
    assert_int_equal(KeAddInterruptLink(Interrupt, KeInterruptOwnerKe, 3, New), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KeAddInterruptLink(Interrupt, KeInterruptOwnerKe, 64, New), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KeAddInterruptLink(Interrupt, KeInterruptOwnerKe, 2, IPI_VECTOR), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(KeAddInterruptLink(Interrupt, KeInterruptOwnerKe, 2, (uint8_t)(New + 0x10)),
                     IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(KeAddInterruptLink(Interrupt, KeInterruptOwnerKe, 1, Old), IRQ_STATUS_ALREADY_CONNECTED);
    assert_int_equal(KeRetireInterruptLink(Interrupt, KeInterruptOwnerKe, 1, Old), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(KeRetireInterruptLink(Interrupt, KeInterruptOwnerKe, 2, New), IRQ_STATUS_NOT_PENDING);
    assert_int_equal(KeRetireInterruptLink(Interrupt, KeInterruptOwnerKe, IR_CPU_NONE, Old),
                     IRQ_STATUS_NOT_PENDING);
    assert_true(CpusAre(Interrupt, (const uint32_t[]){1}, 1));
    assert_int_equal(KeGetInterruptVector(Interrupt), Old);
    assert_false(SimLapicIrrIsSet(1, IPI_VECTOR)); /* no request went out */

    int Unknown;
    assert_int_equal(KeAddInterruptLink((KINTERRUPT *)(void *)&Unknown, KeInterruptOwnerKe, 2, New),
                     IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(KeRetryInterruptRetirement((KINTERRUPT *)(void *)&Unknown, KeInterruptOwnerKe),
                     IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(KeQueryInterruptRetiringLinks(NULL), 0);
    assert_int_equal(KeFreeVector(2, New), IRQ_STATUS_SUCCESS);
    Disconnect(&Object);
}

/* A disconnect while a link retires takes it off its CPU's list: the
 * request that comes later finds nothing, and every vector is free. */
static void test_disconnect_while_retiring(void **State)
{
    (void)State;
    OBJECT Object;
    uint8_t Old, New;
    StartMove(&Object, &Old, &New);
    assert_int_equal(KeRetireInterruptLink(Object.Interrupt, KeInterruptOwnerKe, 1, Old), IRQ_STATUS_SUCCESS);
    Disconnect(&Object);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
    assert_int_equal(TbService(1), 1); /* the request: an empty list */
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

TB_TEST_MAIN(cmocka_unit_test_setup_teardown(test_move_to_another_cpu, TbSetupThreeOfFourCpus, TbTeardown),
             cmocka_unit_test_setup_teardown(test_pending_interrupt_keeps_old_link_until_dispatched,
                                             TbSetupThreeOfFourCpus, TbTeardown),
             cmocka_unit_test_setup_teardown(test_interrupt_held_by_irql_is_not_dropped, TbSetupThreeOfFourCpus,
                                             TbTeardown),
             cmocka_unit_test_setup_teardown(test_old_link_waits_for_first_interrupt_on_new, TbSetupThreeOfFourCpus,
                                             TbTeardown),
             cmocka_unit_test_setup_teardown(test_slots_are_reused_and_counts_kept, TbSetupFourCpus, TbTeardown),
             cmocka_unit_test_setup_teardown(test_unused_link_removed_at_once, TbSetupThreeOfFourCpus, TbTeardown),
             cmocka_unit_test_setup_teardown(test_bad_calls_refused, TbSetupThreeOfFourCpus, TbTeardown),
             cmocka_unit_test_setup_teardown(test_disconnect_while_retiring, TbSetupThreeOfFourCpus, TbTeardown))
