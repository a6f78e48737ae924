/* SPDX-License-Identifier: MIT */
/*
 * The debug checks (src/base/irassert.h) fire: built with
 * IRQROUTE_DEBUG_CHECKS=1, a broken rule reaches PlatAssertionFailed with
 * the check's text, here caught by a handler (SimSetAssertHandler,
 * platform/sim/sim.h) that leaves by longjmp. Without the option every test
 * is skipped: the checks are not compiled in.
 *
 * Each provoked check fails outside the core's locks, or the test boots the
 * system again afterwards (the fixture does, for each test).
 */
#include "testbed.h"
#include "tb_main.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "irlock.h" /* irqroute_base_whitebox */

static jmp_buf AssertResume;
static volatile bool AssertExpected;
static volatile uint32_t AssertCount;
static char AssertExpression[256];
static char AssertFile[256];

static void CatchAssertion(const char *File, uint32_t Line, const char *Expression)
{
    (void)Line;
    AssertCount++;
    snprintf(AssertExpression, sizeof(AssertExpression), "%s", Expression);
    snprintf(AssertFile, sizeof(AssertFile), "%s", File);
    if (!AssertExpected)
        fail_msg("unexpected assertion at %s:%u: %s", File, Line, Expression);
    longjmp(AssertResume, 1);
}

/* Statement must fail exactly one check whose text is Text, in a file whose
 * name ends with FileSuffix. Variables Statement changes must be volatile. */
#define EXPECT_ASSERTION(Statement, Text, FileSuffix)                                                    \
    do {                                                                                                 \
        TB_EXPECT_ONE_JUMP(Statement, AssertResume, AssertExpected, AssertCount, "failed check");          \
        assert_string_equal(AssertExpression, Text);                                                     \
        size_t FileLength = strlen(AssertFile), SuffixLength = strlen(FileSuffix);                       \
        assert_true(FileLength >= SuffixLength);                                                         \
        assert_string_equal(AssertFile + FileLength - SuffixLength, FileSuffix);                         \
    } while (0)

static int Setup(void **State)
{
    if (!IRQROUTE_DEBUG_CHECKS)
        return 0;
    SimSetAssertHandler(CatchAssertion);
    return TbSetupFourCpus(State);
}

static int Teardown(void **State)
{
    if (!IRQROUTE_DEBUG_CHECKS)
        return 0;
    SimSetAssertHandler(NULL);
    return TbTeardown(State);
}

static void SkipWithoutChecks(void)
{
    if (!IRQROUTE_DEBUG_CHECKS)
        skip();
}

/* IrLockAssertHeld on a lock nobody holds, then on one this CPU holds (no
 * check fails), then on one another CPU holds. */
static void test_lock_assert_held_knows_the_owner(void **State)
{
    (void)State;
    SkipWithoutChecks();
    IR_LOCK Lock = IR_LOCK_INIT;
    EXPECT_ASSERTION(IrLockAssertHeld(&Lock), "IrLockIsHeldByCaller(&Lock)", "test_debug_checks.c");

    IrLockAcquire(&Lock);
    IrLockAssertHeld(&Lock);
    IrLockRelease(&Lock);

    /* CPU 1 takes it; CPU 0 (the home CPU) does not hold it. */
    SimDetachCpu();
    SimAttachCpu(1);
    IrLockAcquire(&Lock);
    SimDetachCpu();
    SimAttachCpu(TB_HOME_CPU);
    IrLockAssertNotHeld(&Lock);
    EXPECT_ASSERTION(IrLockAssertHeld(&Lock), "IrLockIsHeldByCaller(&Lock)", "test_debug_checks.c");
    EXPECT_ASSERTION(IrLockRelease(&Lock), "IrLockRelease: the caller holds the lock", "src/base/irlock.h");
    SimDetachCpu();
    SimAttachCpu(1);
    IrLockRelease(&Lock);
    SimDetachCpu();
    SimAttachCpu(TB_HOME_CPU);
}

/* Ke's public spin lock: releasing a lock the caller does not hold, and
 * taking one twice on the same CPU (which would spin forever). */
static void test_spin_lock_misuse_is_caught(void **State)
{
    (void)State;
    SkipWithoutChecks();
    KSPIN_LOCK Lock;
    KeInitializeSpinLock(&Lock);
    EXPECT_ASSERTION(KeReleaseSpinLockFromDpcLevel(&Lock), "KiSpinLockIsHeldByCaller(SpinLock)", "src/ke/irql.c");

    KIRQL OldIrql = KeAcquireSpinLock(&Lock);
    EXPECT_ASSERTION(KeAcquireSpinLockAtDpcLevel(&Lock), "KeAcquireSpinLock: this CPU holds the lock already",
                     "src/ke/irql.c");
    KeReleaseSpinLock(&Lock, OldIrql);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* An ISR that returns at another IRQL than it was called at breaks the
 * dispatcher's rule (src/ke/dispatch.c, DEBUG CHECKS). The dispatch is
 * left half-way: the fixture boots the system again for the next test. */
static bool IsrThatRaisesIrql(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    (void)Context;
    (void)KeRaiseIrql(HIGH_LEVEL);
    return true;
}

static void test_isr_leaving_irql_raised_is_caught(void **State)
{
    (void)State;
    SkipWithoutChecks();
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectLine(&Interrupt, IsrThatRaisesIrql, NULL, HlBusIsa, 4, TbTargetCpu(TB_HOME_CPU), false),
                     IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    EXPECT_ASSERTION(KeDispatchInterrupt(TB_HOME_CPU, Vector),
                     "an ISR returns at the IRQL it was called at (its SynchronizeIrql)", "src/ke/dispatch.c");
}

TB_TEST_MAIN(
    cmocka_unit_test_setup_teardown(test_lock_assert_held_knows_the_owner, Setup, Teardown),
    cmocka_unit_test_setup_teardown(test_spin_lock_misuse_is_caught, Setup, Teardown),
    cmocka_unit_test_setup_teardown(test_isr_leaving_irql_raised_is_caught, Setup, Teardown))
