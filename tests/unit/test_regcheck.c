/* SPDX-License-Identifier: MIT */
/*
 * The differential register check, sim side: the shared script
 * (tests/regcheck/script_lapic_ioapic.c) run by the shared interpreter on
 * the sim's local APIC and I/O APIC models, in xAPIC and in x2APIC mode.
 * The same script runs on QEMU's in the KTEST "regcheck"
 * (kernel/ktest/ktest_regcheck.c), so a model that answers differently from
 * QEMU fails one of the two, naming the step and the register.
 *
 * The sim boots two CPUs without service threads (APIC ids 1 and 3: never
 * the CPU index); the test thread is CPU 0. The adapter drives GSIs with
 * SimSetGsi and sends MSIs with SimMsiWrite.
 *
 * The mode-switch script (RegcheckModeSwitchScript, the IA32_APIC_BASE
 * transitions) runs on a third CPU that boot leaves offline, as the kernel
 * runs it on an AP before bringing it up: for each hand-over (xAPIC, x2APIC
 * as SeaBIOS does past 255 CPUs, disabled) and with x2APIC offered or not.
 * The models fault where the hardware raises #GP (TbCatchFaults): a step the
 * hardware would refuse fails the test with the model's message.
 *
 * The VT-d script (RegcheckRemapScript) runs on a remapping unit the test
 * creates and never enables (SimIommuCreate, extended interrupt mode, one
 * fault record: QEMU's intel-iommu,intremap=on,eim=on), as the KTEST
 * "regcheck_remap" runs it on QEMU's unit with the kernel booted "noremap".
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

/* Runs the script on the attached CPU and fails with the step and register
 * that differ. Returns the result for further checks. */
static REGCHECK_RESULT RegcheckRunWith(const REGCHECK_SCRIPT *Script, const REGCHECK_ADAPTER *Adapter)
{
    REGCHECK_RESULT Result = {0};
    IRQ_STATUS Status = RegcheckRun(Script, Adapter, &Result);
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

static REGCHECK_RESULT RegcheckRunOnSim(const REGCHECK_SCRIPT *Script)
{
    return RegcheckRunWith(Script, &RegcheckSimAdapter);
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

/* The LAPIC and I/O APIC script in X2Apic mode or xAPIC mode: it runs in
 * the mode booted, covers its steps and leaves the machine quiet. */
static void RegcheckLapicIoApicIn(bool X2Apic)
{
    RegcheckBoot(X2Apic);
    REGCHECK_RESULT Result = RegcheckRunOnSim(&RegcheckLapicIoApicScript);
    assert_int_equal(Result.X2Apic, X2Apic);
    RegcheckAssertCoverage(&Result, &RegcheckLapicIoApicScript);
    RegcheckAssertQuiet();
    TbShutdown();
}

TB_TESTS_IN_BOTH_LAPIC_MODES(test_regcheck, RegcheckLapicIoApicIn)

/* ---- The IA32_APIC_BASE transitions, on a CPU boot left offline ---- */

#define MODE_CPUS 3u
#define MODE_CPU (MODE_CPUS - 1u)

/* MODE_CPUS CPUs, all but MODE_CPU started (SelectX2Apic: in x2APIC mode,
 * as kernel/main.c selects it when offered); firmware hands every one over
 * in FirmwareMode. */
static void RegcheckBootWithSpare(bool SelectX2Apic, SIM_LAPIC_MODE FirmwareMode)
{
    SIM_SYSTEM_CONFIG Config = {
        .CpuCount = MODE_CPUS,
        .OnlineCount = MODE_CPUS - 1u,
        .X2Apic = SelectX2Apic,
        .FirmwareMode = FirmwareMode,
        .StartThreads = false,
    };
    TbBootConfig(&Config);
    TbCatchFaults();
}

/* As the kernel does with "nox2apic" on a CPU that offers x2APIC: the CPUs
 * offer it, xAPIC mode is selected. SimBootSystem selects x2APIC whenever
 * it is offered, so this boots the hardware layer alone. */
static void RegcheckBootXApicWithX2ApicOffered(void)
{
    SIM_CONFIG Config = {.CpuCount = MODE_CPUS, .X2ApicSupported = true, .FirmwareMode = SimLapicXApic};
    assert_int_equal(SimCreate(&Config), 0);
    HlResetHardwareLayer();
    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    TbStartHardwareCpus(MODE_CPUS - 1u, IR_CPU_NONE);
    TbCatchFaults();
}

/* Runs Script on MODE_CPU, its APIC id from the sim (it is not in the Hl
 * registry), and comes back to the home CPU. */
static REGCHECK_RESULT RegcheckRunOnSpare(const REGCHECK_SCRIPT *Script, bool X2ApicOffered)
{
    uint32_t ApicId = SimCpuApicId(MODE_CPU);
    REGCHECK_ADAPTER Adapter = RegcheckSimAdapter;
    Adapter.X2ApicOffered = X2ApicOffered;
    Adapter.ApicId = &ApicId;
    assert_false(HlIsProcessorRegistered(MODE_CPU));
    SimDetachCpu();
    SimAttachCpu(MODE_CPU);
    REGCHECK_RESULT Result = RegcheckRunWith(Script, &Adapter);
    SimDetachCpu();
    SimAttachCpu(TB_HOME_CPU);
    return Result;
}

/* The script passes, leaves the CPU in the mode it was handed over in, and
 * leaves its registers as INIT left them: a second run, whose first steps
 * read that state, passes too. Returns the steps the first run ran. */
static uint32_t RegcheckAssertModeSwitch(bool X2ApicOffered, SIM_LAPIC_MODE FirmwareMode)
{
    const REGCHECK_SCRIPT *Script = &RegcheckModeSwitchScript;
    REGCHECK_RESULT First = RegcheckRunOnSpare(Script, X2ApicOffered);
    assert_int_equal(First.X2Apic, FirmwareMode == SimLapicX2Apic);
    /* The x2APIC steps ran where x2APIC is offered, whatever Hl selected. */
    if (X2ApicOffered)
        assert_true(First.StepsInX2Apic >= 10u);
    else
        assert_int_equal(First.StepsInX2Apic, 0);
    assert_int_equal(First.StepsRun + First.StepsSkipped, Script->StepCount);
    assert_int_equal(SimLapicMode(MODE_CPU), FirmwareMode);
    assert_int_equal(SimLapicTpr(MODE_CPU), 0);
    REGCHECK_RESULT Second = RegcheckRunOnSpare(Script, X2ApicOffered);
    assert_int_equal(Second.StepsRun, First.StepsRun);
    assert_int_equal(SimLapicMode(MODE_CPU), FirmwareMode);
    assert_int_equal(TbFaultCount, 0);
    return First.StepsRun;
}

/* x2APIC offered, handed over in xAPIC mode (QEMU -cpu max): every
 * transition. More steps than where x2APIC is not offered. */
static void test_regcheck_mode_switch_x2apic_system(void **State)
{
    (void)State;
    RegcheckBootWithSpare(true, SimLapicXApic);
    uint32_t Offered = RegcheckAssertModeSwitch(true, SimLapicXApic);
    TbShutdown();
    RegcheckBootWithSpare(false, SimLapicXApic);
    uint32_t NotOffered = RegcheckAssertModeSwitch(false, SimLapicXApic);
    assert_true(Offered > NotOffered);
    TbShutdown();
}

/* The interface follows the CPU's IA32_APIC_BASE, not the selected mode:
 * in an xAPIC system the spare CPU still goes through x2APIC. */
static void test_regcheck_mode_switch_xapic_system_x2apic_offered(void **State)
{
    (void)State;
    RegcheckBootXApicWithX2ApicOffered();
    assert_int_equal(HlLapicGetMode(), HlLapicModeXApic);
    (void)RegcheckAssertModeSwitch(true, SimLapicXApic);
    (void)TbTeardownHardwareLayer(NULL);
}

/* Handed over in x2APIC mode (SeaBIOS past 255 CPUs) or disabled: the
 * script starts from there and the CPU ends there again. */
static void test_regcheck_mode_switch_other_hand_overs(void **State)
{
    (void)State;
    RegcheckBootWithSpare(true, SimLapicX2Apic);
    (void)RegcheckAssertModeSwitch(true, SimLapicX2Apic);
    TbShutdown();
    RegcheckBootWithSpare(true, SimLapicDisabled);
    (void)RegcheckAssertModeSwitch(true, SimLapicDisabled);
    TbShutdown();
}

/* A transition the hardware refuses with #GP is never written: the step
 * fails, named, nothing faults, and the CPU ends as it was found. */
static const REGCHECK_STEP RegcheckRefusedSteps[] = {
    {.Kind = RegcheckWriteApicBase, .Name = "xAPIC -> x2APIC", .Value = REGCHECK_APIC_BASE_X2APIC},
    {.Kind = RegcheckWriteApicBase, .Name = "x2APIC -> xAPIC (refused)", .Value = REGCHECK_APIC_BASE_XAPIC},
};

static const REGCHECK_SCRIPT RegcheckRefusedScript = {
    .Name = "refused",
    .Steps = RegcheckRefusedSteps,
    .StepCount = 2,
};

static void test_regcheck_refuses_a_gp_transition(void **State)
{
    (void)State;
    RegcheckBootWithSpare(true, SimLapicXApic);
    uint32_t ApicId = SimCpuApicId(MODE_CPU);
    REGCHECK_ADAPTER Adapter = RegcheckSimAdapter;
    Adapter.X2ApicOffered = true;
    Adapter.ApicId = &ApicId;
    SimDetachCpu();
    SimAttachCpu(MODE_CPU);
    REGCHECK_RESULT Result = {0};
    assert_int_equal(RegcheckRun(&RegcheckRefusedScript, &Adapter, &Result), IRQ_STATUS_SUCCESS);
    assert_false(Result.Passed);
    assert_int_equal(Result.FailedIndex, 1);
    assert_true(Result.FailedInX2Apic);
    char Message[256];
    (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
    assert_string_equal(Message, "step x2APIC -> xAPIC (refused): register IA32_APIC_BASE (MSR 0x01b): x2APIC -> "
                                 "xAPIC without disabling first (#GP)");
    assert_int_equal(TbFaultCount, 0);
    assert_int_equal(SimLapicMode(MODE_CPU), SimLapicXApic);
    /* Not offered: EXTD is refused the same way. */
    Adapter.X2ApicOffered = false;
    assert_int_equal(RegcheckRun(&RegcheckRefusedScript, &Adapter, &Result), IRQ_STATUS_SUCCESS);
    assert_int_equal(Result.FailedIndex, 0);
    assert_string_equal(Result.Why, "EXTD on a CPU that does not offer x2APIC (#GP)");
    assert_int_equal(SimLapicMode(MODE_CPU), SimLapicXApic);
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

/* ---- The VT-d unit ---- */

static const SIM_IOMMU_CONFIG RegcheckUnit = {.Address = SIM_IOMMU_DEFAULT_BASE, .ExtendedInterruptMode = true};

static void test_regcheck_remap_unit(void **State)
{
    (void)State;
    RegcheckBoot(true);
    assert_int_equal(SimIommuCreate(&RegcheckUnit, 1), 0);
    REGCHECK_ADAPTER Adapter = {.IommuAddress = SIM_IOMMU_DEFAULT_BASE};
    REGCHECK_RESULT Result = RegcheckRunWith(&RegcheckRemapScript, &Adapter);
    assert_int_equal(Result.StepsRun, RegcheckRemapScript.StepCount);
    /* The cleanup left QI off and the pointers at 0. */
    assert_int_equal(SimIommuMmioRead(SIM_IOMMU_DEFAULT_BASE + REGCHECK_VTD_GSTS, 4) & 0x04000000u, 0);
    assert_int_equal(SimIommuMmioRead(SIM_IOMMU_DEFAULT_BASE + REGCHECK_VTD_IQA, 8), 0);
    assert_int_equal(SimIommuMmioRead(SIM_IOMMU_DEFAULT_BASE + REGCHECK_VTD_IRTA, 8), 0);
    SimIommuDestroy();
    TbShutdown();
}

/* Without a unit the first VT-d step fails and says why; a register that
 * reads otherwise is named with its offset. */
static const REGCHECK_STEP RegcheckWrongVtdSteps[] = {
    {.Kind = RegcheckReadIommu32, .Name = "VER 2.0 (wrong on purpose)", .Register = REGCHECK_VTD_VER,
     .Expected = 0x20, .Mask = 0xFF},
};
static const REGCHECK_STEP RegcheckNoCleanup[] = {
    {.Kind = RegcheckReadIommu32, .Name = "cleanup: VER", .Register = REGCHECK_VTD_VER, .Mask = 0},
};
static const REGCHECK_SCRIPT RegcheckWrongVtdScript = {
    .Name = "wrong_vtd",
    REGCHECK_STEPS(RegcheckWrongVtdSteps, RegcheckNoCleanup),
};

static void test_regcheck_remap_names_the_failing_step(void **State)
{
    (void)State;
    RegcheckBoot(true);
    REGCHECK_RESULT Result = {0};
    char Message[256];
    REGCHECK_ADAPTER NoUnit = {0};
    assert_int_equal(RegcheckRun(&RegcheckWrongVtdScript, &NoUnit, &Result), IRQ_STATUS_SUCCESS);
    assert_false(Result.Passed);
    (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
    assert_string_equal(Message, "step VER 2.0 (wrong on purpose): register VT-d VER (+0x000): no VT-d unit "
                                 "(REGCHECK_ADAPTER.IommuAddress)");
    assert_int_equal(SimIommuCreate(&RegcheckUnit, 1), 0);
    REGCHECK_ADAPTER Adapter = {.IommuAddress = SIM_IOMMU_DEFAULT_BASE};
    assert_int_equal(RegcheckRun(&RegcheckWrongVtdScript, &Adapter, &Result), IRQ_STATUS_SUCCESS);
    assert_false(Result.Passed);
    (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
    assert_string_equal(Message,
                        "step VER 2.0 (wrong on purpose): register VT-d VER (+0x000) read 0x00000010 expected 0x00000020");
    SimIommuDestroy();
    TbShutdown();
}

int main(void)
{
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_regcheck_xapic),
        cmocka_unit_test(test_regcheck_x2apic),
        cmocka_unit_test(test_regcheck_mode_switch_x2apic_system),
        cmocka_unit_test(test_regcheck_mode_switch_xapic_system_x2apic_offered),
        cmocka_unit_test(test_regcheck_mode_switch_other_hand_overs),
        cmocka_unit_test(test_regcheck_refuses_a_gp_transition),
        cmocka_unit_test(test_regcheck_names_the_failing_step),
        cmocka_unit_test(test_regcheck_refuses_a_device_vector),
        cmocka_unit_test(test_regcheck_remap_unit),
        cmocka_unit_test(test_regcheck_remap_names_the_failing_step),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
