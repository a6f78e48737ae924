/* SPDX-License-Identifier: MIT */
/*
 * KeIpiGenericCall on service threads: the worker runs once on every target
 * CPU per call, and two CPUs calling at once neither deadlock nor lose a run.
 */
#include "testbed.h"
#include "tb_main.h"

#include <pthread.h>
#include <stdatomic.h>

#define CPUS 4u
#define CALLS 500

static _Atomic uint64_t Runs[CPUS];

static void Worker(uint32_t Cpu, void *Context)
{
    (void)Context;
    if (Cpu < CPUS)
        atomic_fetch_add(&Runs[Cpu], 1);
}

static int Setup(void **State)
{
    (void)State;
    TbBoot(CPUS, 0, true);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        atomic_store(&Runs[Cpu], 0);
    return 0;
}

static void test_generic_call_runs_everywhere(void **State)
{
    (void)State;
    KE_IPI_TARGET All = {.Kind = KeIpiTargetAll};
    for (int Call = 0; Call < CALLS; Call++)
        assert_int_equal(KeIpiGenericCall(&All, Worker, NULL), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        assert_int_equal(atomic_load(&Runs[Cpu]), CALLS);
}

static void *SecondCaller(void *Argument)
{
    (void)Argument;
    SimAttachCpu(1);
    KE_IPI_TARGET AllButSelf = {.Kind = KeIpiTargetAllButSelf};
    for (int Call = 0; Call < CALLS; Call++)
        if (KeIpiGenericCall(&AllButSelf, Worker, NULL) != IRQ_STATUS_SUCCESS)
            break;
    SimDetachCpu();
    return NULL;
}

static void test_two_callers_at_once(void **State)
{
    (void)State;
    pthread_t Other;
    assert_int_equal(pthread_create(&Other, NULL, SecondCaller, NULL), 0);
    KE_IPI_TARGET AllButSelf = {.Kind = KeIpiTargetAllButSelf};
    for (int Call = 0; Call < CALLS; Call++)
        assert_int_equal(KeIpiGenericCall(&AllButSelf, Worker, NULL), IRQ_STATUS_SUCCESS);
    /* Blocked in join, this thread would hold CPU 0 away from the other
     * caller's IPIs: hand CPU 0 back to its service thread first. */
    SimDetachCpu();
    pthread_join(Other, NULL);
    SimAttachCpu(TB_HOME_CPU);
    /* CPU 0 ran the other caller's worker, CPU 1 ran ours, 2 and 3 both. */
    assert_int_equal(atomic_load(&Runs[0]), CALLS);
    assert_int_equal(atomic_load(&Runs[1]), CALLS);
    assert_int_equal(atomic_load(&Runs[2]), 2 * CALLS);
    assert_int_equal(atomic_load(&Runs[3]), 2 * CALLS);
}

TB_TEST_MAIN(
    cmocka_unit_test_setup_teardown(test_generic_call_runs_everywhere, Setup, TbTeardown),
    cmocka_unit_test_setup_teardown(test_two_callers_at_once, Setup, TbTeardown))
