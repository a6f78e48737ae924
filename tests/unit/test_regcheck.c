/*
 * The differential register check, sim side: the shared script
 * (tests/regcheck/script_lapic_ioapic.c) run by the shared interpreter on
 * the sim's local APIC and I/O APIC models, in xAPIC and in x2APIC mode.
 * The same script runs on QEMU's in the KTEST "regcheck"
 * (kernel/ktest_regcheck.c), so a model that answers differently from QEMU
 * fails one of the two, naming the step and the register.
 *
 * The sim boots two CPUs without service threads (APIC ids 1 and 3: never
 * the CPU index); the test thread is CPU 0. The adapter drives GSIs with
 * SimSetGsi and sends MSIs with SimMsiWrite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include <irqroute/hl.h>
#include <irqroute/ke.h>

#include "regscript.h"
#include "sim.h"
#include "simboot.h"
#include "testbed.h"

#define REGCHECK_CPUS 2u

static bool RegcheckTestSetPin(void *Context, uint32_t Gsi, bool Asserted)
{
    (void)Context;
    SimSetGsi(Gsi, Asserted);
    return true;
}

static bool RegcheckTestSendMsi(void *Context, uint64_t Address, uint32_t Data)
{
    (void)Context;
    SimMsiWrite(Address, Data);
    return true;
}

static const REGCHECK_ADAPTER RegcheckSimAdapter = {
    .SetPin = RegcheckTestSetPin,
    .SendMsi = RegcheckTestSendMsi,
    .Context = NULL,
    .IoApicAddress = HL_IOAPIC_DEFAULT_BASE,
};

static void RegcheckBoot(bool X2Apic)
{
    SIM_SYSTEM_CONFIG Config = {
        .CpuCount = REGCHECK_CPUS,
        .X2Apic = X2Apic,
        .StartThreads = false,
    };
    TbBootConfig(&Config);
}

/* Runs the script on CPU 0 and fails with the step and register that
 * differ. Returns the result for further checks. */
static REGCHECK_RESULT RegcheckRunOnSim(const REGCHECK_SCRIPT *Script)
{
    REGCHECK_RESULT Result = {0};
    IRQ_STATUS Status = RegcheckRun(Script, &RegcheckSimAdapter, &Result);
    assert_int_equal(Status, IRQ_STATUS_SUCCESS);
    if (!Result.Passed) {
        char Message[256];
        (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
        print_error("regcheck %s (%s): %s\n", Script->Name, Result.X2Apic ? "x2APIC" : "xAPIC", Message);
        fail_msg("regcheck: step %u of %u failed", Result.FailedIndex, Script->StepCount);
    }
    print_message("regcheck %s (%s): PASS %u steps (%u of the other mode skipped)\n", Script->Name,
                  Result.X2Apic ? "x2APIC" : "xAPIC", Result.StepsRun, Result.StepsSkipped);
    return Result;
}

/* Every step of both modes runs in one mode or the other, none in neither. */
static void RegcheckAssertCoverage(const REGCHECK_RESULT *Result, const REGCHECK_SCRIPT *Script)
{
    assert_int_equal(Result->StepsRun + Result->StepsSkipped, Script->StepCount);
    assert_true(Result->StepsRun > Script->StepCount / 2u);
}

/* What the script leaves behind is what boot left: nothing pending, nothing
 * in service, TPR 0, the test GSI masked. */
static void RegcheckAssertQuiet(void)
{
    for (uint32_t Vector = 0x20; Vector < 0x100; Vector++) {
        assert_false(SimLapicIrrIsSet(0, (uint8_t)Vector));
        assert_false(SimLapicIsrIsSet(0, (uint8_t)Vector));
    }
    assert_int_equal(SimLapicTpr(0), 0);
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(REGCHECK_TEST_GSI)};
    assert_int_equal(Entry.Bits.Mask, 1);
}

static void test_regcheck_xapic(void **State)
{
    (void)State;
    RegcheckBoot(false);
    REGCHECK_RESULT Result = RegcheckRunOnSim(&RegcheckLapicIoApicScript);
    assert_false(Result.X2Apic);
    RegcheckAssertCoverage(&Result, &RegcheckLapicIoApicScript);
    RegcheckAssertQuiet();
    TbShutdown();
}

static void test_regcheck_x2apic(void **State)
{
    (void)State;
    RegcheckBoot(true);
    REGCHECK_RESULT Result = RegcheckRunOnSim(&RegcheckLapicIoApicScript);
    assert_true(Result.X2Apic);
    RegcheckAssertCoverage(&Result, &RegcheckLapicIoApicScript);
    RegcheckAssertQuiet();
    TbShutdown();
}

/* ---- The interpreter itself: a wrong expectation must fail, named ---- */

static const REGCHECK_STEP RegcheckWrongSteps[] = {
    {.Kind = RegcheckWriteLapic, .Name = "TPR write 0x30", .Register = REGCHECK_LAPIC_TPR, .Value = 0x30},
    {.Kind = RegcheckReadLapic, .Name = "TPR read (wrong on purpose)", .Register = REGCHECK_LAPIC_TPR,
     .Expected = 0x31, .Mask = 0xFF},
    {.Kind = RegcheckReadLapic, .Name = "never reached", .Register = REGCHECK_LAPIC_TPR, .Expected = 0x30,
     .Mask = 0xFF},
};

static const REGCHECK_STEP RegcheckWrongCleanup[] = {
    {.Kind = RegcheckWriteLapic, .Name = "TPR back to 0", .Register = REGCHECK_LAPIC_TPR, .Value = 0},
};

static const REGCHECK_SCRIPT RegcheckWrongScript = {
    .Name = "wrong",
    .Steps = RegcheckWrongSteps,
    .StepCount = 3,
    .CleanupSteps = RegcheckWrongCleanup,
    .CleanupStepCount = 1,
};

static void test_regcheck_names_the_failing_step(void **State)
{
    (void)State;
    RegcheckBoot(true);
    REGCHECK_RESULT Result = {0};
    assert_int_equal(RegcheckRun(&RegcheckWrongScript, &RegcheckSimAdapter, &Result), IRQ_STATUS_SUCCESS);
    assert_false(Result.Passed);
    assert_int_equal(Result.FailedIndex, 1);
    assert_int_equal(Result.StepsRun, 2);
    assert_true(Result.Compared);
    assert_int_equal(Result.Read, 0x30);
    assert_int_equal(Result.Expected, 0x31);
    char Message[256];
    (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
    assert_string_equal(Message, "step TPR read (wrong on purpose): register LAPIC TPR (0x080, MSR 0x808) read "
                                 "0x00000030 expected 0x00000031");
    assert_int_equal(SimLapicTpr(0), 0); /* the cleanup ran */
    TbShutdown();
}

/* A vector the Ke layout gives to devices cannot be the script's: refused,
 * nothing run. */
static const uint8_t RegcheckDeviceVector[] = {0x41};

static void test_regcheck_refuses_a_device_vector(void **State)
{
    (void)State;
    RegcheckBoot(false);
    REGCHECK_SCRIPT Script = RegcheckWrongScript;
    Script.Vectors = RegcheckDeviceVector;
    Script.VectorCount = 1;
    REGCHECK_RESULT Result = {.StepsRun = 77};
    assert_int_equal(RegcheckRun(&Script, &RegcheckSimAdapter, &Result), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(Result.StepsRun, 77);
    assert_int_equal(SimLapicTpr(0), 0);
    assert_int_equal(RegcheckRun(NULL, &RegcheckSimAdapter, &Result), IRQ_STATUS_INVALID_PARAMETER);
    TbShutdown();
}

int main(void)
{
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_regcheck_xapic),
        cmocka_unit_test(test_regcheck_x2apic),
        cmocka_unit_test(test_regcheck_names_the_failing_step),
        cmocka_unit_test(test_regcheck_refuses_a_device_vector),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
