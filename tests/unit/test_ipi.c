/* SPDX-License-Identifier: MIT */
/*
 * IPIs: to one CPU, a set, all, all-but-self; masked by IRQL; messages
 * coalesce into one interrupt without being lost; bad targets refused.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>

#define IPI_VECTOR 0xE1

static _Atomic uint32_t Handled[4][KeIpiMessageCount];

static void CountingHandler(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Context;
    atomic_fetch_add(&Handled[Cpu][Message], 1);
}

static int Setup(void **State)
{
    (void)State;
    TbBoot(4, 3, false); /* CPU 3 stays offline */
    for (int Cpu = 0; Cpu < 4; Cpu++)
        for (int Message = 0; Message < KeIpiMessageCount; Message++)
            atomic_store(&Handled[Cpu][Message], 0);
    assert_int_equal(KeSetIpiMessageHandler(KeIpiReschedule, CountingHandler, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeSetIpiMessageHandler(KeIpiTlbShootdown, CountingHandler, NULL), IRQ_STATUS_SUCCESS);
    return 0;
}

static void test_ipi_to_one_cpu(void **State)
{
    (void)State;
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = 2};
    assert_int_equal(KeSendIpi(&Target, KeIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_true(SimLapicIrrIsSet(2, IPI_VECTOR));
    assert_false(SimLapicIrrIsSet(1, IPI_VECTOR));
    assert_int_equal(TbService(2), 1);
    assert_int_equal(atomic_load(&Handled[2][KeIpiReschedule]), 1);
    assert_int_equal(KeQueryIpiCount(2, KeIpiReschedule), 1);
}

static void test_ipi_to_set_all_and_all_but_self(void **State)
{
    (void)State;
    IR_CPU_SET Set = TbCpuList((const uint32_t[]){1, 2}, 2);
    KE_IPI_TARGET ToSet = {.Kind = KeIpiTargetSet, .Cpus = &Set};
    assert_int_equal(KeSendIpi(&ToSet, KeIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(1) + TbService(2), 2);
    assert_int_equal(atomic_load(&Handled[1][KeIpiReschedule]), 1);
    assert_int_equal(atomic_load(&Handled[2][KeIpiReschedule]), 1);

    KE_IPI_TARGET AllButSelf = {.Kind = KeIpiTargetAllButSelf};
    assert_int_equal(KeSendIpi(&AllButSelf, KeIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_false(SimLapicIrrIsSet(TB_HOME_CPU, IPI_VECTOR));
    assert_false(SimLapicIrrIsSet(3, IPI_VECTOR)); /* offline */
    TbService(1);
    TbService(2);
    assert_int_equal(atomic_load(&Handled[0][KeIpiReschedule]), 0);
    assert_int_equal(atomic_load(&Handled[1][KeIpiReschedule]), 2);

    KE_IPI_TARGET All = {.Kind = KeIpiTargetAll};
    assert_int_equal(KeSendIpi(&All, KeIpiReschedule), IRQ_STATUS_SUCCESS);
    SimServicePending();
    TbService(1);
    TbService(2);
    assert_int_equal(atomic_load(&Handled[0][KeIpiReschedule]), 1);
    assert_int_equal(atomic_load(&Handled[2][KeIpiReschedule]), 3);
}

/* IPIs respect the level: held in the IRR while the target sits at
 * IPI_LEVEL, delivered when it lowers. */
static void test_ipi_masked_by_irql(void **State)
{
    (void)State;
    SimDetachCpu();
    SimAttachCpu(1);
    KIRQL Old = KeRaiseIrql(IPI_LEVEL);
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = 1};
    assert_int_equal(KeSendIpi(&Target, KeIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_int_equal(SimServicePending(), 0);
    assert_true(SimLapicIrrIsSet(1, IPI_VECTOR));
    assert_int_equal(atomic_load(&Handled[1][KeIpiReschedule]), 0);
    KeLowerIrql(Old);
    SimServicePending();
    assert_int_equal(atomic_load(&Handled[1][KeIpiReschedule]), 1);
    SimDetachCpu();
    SimAttachCpu(TB_HOME_CPU);
}

/* Two messages before the target runs: one interrupt, both handled. */
static void test_messages_coalesce_without_loss(void **State)
{
    (void)State;
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = 2};
    assert_int_equal(KeSendIpi(&Target, KeIpiReschedule), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeSendIpi(&Target, KeIpiTlbShootdown), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(2), 1);
    assert_int_equal(atomic_load(&Handled[2][KeIpiReschedule]), 1);
    assert_int_equal(atomic_load(&Handled[2][KeIpiTlbShootdown]), 1);
}

static void test_bad_ipi_targets(void **State)
{
    (void)State;
    KE_IPI_TARGET Offline = {.Kind = KeIpiTargetCpu, .Cpu = 3};
    assert_int_equal(KeSendIpi(&Offline, KeIpiReschedule), IRQ_STATUS_INVALID_CPU);
    KE_IPI_TARGET Missing = {.Kind = KeIpiTargetCpu, .Cpu = 99};
    assert_int_equal(KeSendIpi(&Missing, KeIpiReschedule), IRQ_STATUS_INVALID_CPU);
    IR_CPU_SET Empty;
    IrCpuSetZero(&Empty);
    KE_IPI_TARGET EmptySet = {.Kind = KeIpiTargetSet, .Cpus = &Empty};
    assert_int_equal(KeSendIpi(&EmptySet, KeIpiReschedule), IRQ_STATUS_EMPTY_AFFINITY);
    KE_IPI_TARGET Good = {.Kind = KeIpiTargetCpu, .Cpu = 1};
    assert_int_equal(KeSendIpi(&Good, KeIpiMessageCount), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeSendIpi(NULL, KeIpiReschedule), IRQ_STATUS_INVALID_PARAMETER);
    /* Sent alone it would run a stale (or NULL) generic-call worker. */
    assert_int_equal(KeSendIpi(&Good, KeIpiCallFunction), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeSetIpiMessageHandler(KeIpiCallFunction, CountingHandler, NULL), IRQ_STATUS_INVALID_PARAMETER);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_false(SimLapicIrrIsSet(Cpu, IPI_VECTOR));
}

/* A cmocka test run on a fresh IPI machine (Setup). */
#define IPI_TEST(Test) cmocka_unit_test_setup_teardown(Test, Setup, TbTeardown)

TB_TEST_MAIN(
    IPI_TEST(test_ipi_to_one_cpu),
    IPI_TEST(test_ipi_to_set_all_and_all_but_self),
    IPI_TEST(test_ipi_masked_by_irql),
    IPI_TEST(test_messages_coalesce_without_loss),
    IPI_TEST(test_bad_ipi_targets))
