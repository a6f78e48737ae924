/* SPDX-License-Identifier: MIT */
/*
 * irqsim's scenario parser (tools/irqsim/scenario_load.c): a good file reads
 * into exactly what it says; every kind of bad file is refused with
 * "file:line: what is wrong" at the line of the mistake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "scenario.h"

static IRS_SCENARIO Scenario;

static void test_good_file_reads_every_field(void **State)
{
    (void)State;
    char Error[IRS_ERROR_MAX];
    assert_true(IrsScenarioLoad(IRQSIM_SCENARIOS "/offline-cpu.yaml", &Scenario, Error));
    assert_true(IrsScenarioResolve(&Scenario, 0, Error));
    assert_string_equal(Scenario.Name, "offline-cpu");
    assert_int_equal(Scenario.CpuCount, 4);
    assert_true(Scenario.Duration == 3.0 && Scenario.Interval == 0.05);
    assert_int_equal(Scenario.DeviceCount, 12);
    assert_int_equal(Scenario.Devices[11].Kind, IrsDeviceLine);
    assert_true(Scenario.Devices[0].Rate == 2500 && Scenario.Devices[0].Cost == 1.0);
    assert_int_equal(IrCpuSetWeight(&Scenario.Devices[0].Affinity), 4);
    assert_true(Scenario.Balancer.Enabled && Scenario.Balancer.Interval == 0.1);
    assert_int_equal(Scenario.Balancer.MaxMoves, 4);
    assert_int_equal(Scenario.EventCount, 2);
    assert_int_equal(Scenario.Events[0].Kind, IrsEventOffline);
    assert_int_equal(Scenario.Events[0].Cpu, 2);
    assert_int_equal(Scenario.Events[1].Kind, IrsEventOnline);
    assert_true(Scenario.Expect[IrsStrategyGreedy].Present);
    assert_int_equal(Scenario.Expect[IrsStrategyGreedy].QuietRounds, 10);
    assert_true(Scenario.Balancer.MinimumGain < 0); /* not given: the library keeps its default */
    assert_false(Scenario.Expect[IrsStrategyNone].Present);
}

static void test_bursts_pins_and_banned(void **State)
{
    (void)State;
    char Error[IRS_ERROR_MAX];
    assert_true(IrsScenarioLoad(IRQSIM_SCENARIOS "/affinity-constrained.yaml", &Scenario, Error));
    assert_true(IrsScenarioResolve(&Scenario, 0, Error));
    const IRS_DEVICE *Gpu = &Scenario.Devices[5];
    assert_true(Gpu->Pinned);
    assert_int_equal(IrCpuSetFirst(&Gpu->Affinity), 3);
    assert_int_equal(IrCpuSetWeight(&Gpu->Affinity), 1);
    assert_true(IrCpuSetContains(&Scenario.Balancer.Banned, 5));
    assert_int_equal(IrCpuSetWeight(&Scenario.Balancer.Banned), 1);
    assert_true(IrsScenarioLoad(IRQSIM_SCENARIOS "/many-small.yaml", &Scenario, Error));
    assert_int_equal(Scenario.Devices[0].BurstCount, 1);
    assert_true(IrsDeviceRateAt(&Scenario.Devices[0], 0.9) == 1800);
    assert_true(IrsDeviceRateAt(&Scenario.Devices[0], 1.2) == 900);
}

/* --cpus re-resolves the CPU lists: "0-1" fails on 1 CPU, "all" grows. */
static void test_cpu_count_override(void **State)
{
    (void)State;
    char Error[IRS_ERROR_MAX];
    assert_true(IrsScenarioLoad(IRQSIM_SCENARIOS "/two-hot-nics.yaml", &Scenario, Error));
    assert_true(IrsScenarioResolve(&Scenario, 64, Error));
    assert_int_equal(IrCpuSetWeight(&Scenario.Devices[0].Affinity), 64);
    assert_true(IrsScenarioLoad(IRQSIM_SCENARIOS "/affinity-constrained.yaml", &Scenario, Error));
    assert_false(IrsScenarioResolve(&Scenario, 1, Error));
    assert_non_null(strstr(Error, "affinity-constrained.yaml:11: affinity '0-1'"));
}

typedef struct _BAD_FILE {
    const char *Name;
    const char *Expected; /* "file:line: message" from the file name on */
} BAD_FILE;

static void test_bad_files_name_the_line(void **State)
{
    (void)State;
    static const BAD_FILE Bad[] = {
        {"affinity-out-of-range.yaml", "affinity-out-of-range.yaml:5: affinity '0-7' is not a CPU list"},
        {"bad-kind.yaml", "bad-kind.yaml:6: kind: msi or line"},
        {"not-a-number.yaml", "not-a-number.yaml:5: rate: a number is needed"},
        {"not-yaml.yaml", "not-yaml.yaml:6: not YAML"},
        {"unknown-device.yaml", "unknown-device.yaml:7: storm: no device named 'b'"},
        {"unknown-key.yaml", "unknown-key.yaml:7: balancer: unknown key 'max-movez'"},
    };
    for (size_t Index = 0; Index < sizeof(Bad) / sizeof(Bad[0]); Index++) {
        char Path[512], Error[IRS_ERROR_MAX];
        snprintf(Path, sizeof(Path), "%s/%s", IRQSIM_BAD, Bad[Index].Name);
        bool Loaded = IrsScenarioLoad(Path, &Scenario, Error) && IrsScenarioResolve(&Scenario, 0, Error);
        assert_false(Loaded);
        print_message("%s\n", Error);
        assert_non_null(strstr(Error, Bad[Index].Expected));
    }
}

static void test_missing_file(void **State)
{
    (void)State;
    char Error[IRS_ERROR_MAX];
    assert_false(IrsScenarioLoad(IRQSIM_BAD "/no-such-file.yaml", &Scenario, Error));
    assert_non_null(strstr(Error, "no-such-file.yaml: No such file"));
}

int main(void)
{
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_good_file_reads_every_field),
        cmocka_unit_test(test_bursts_pins_and_banned),
        cmocka_unit_test(test_cpu_count_override),
        cmocka_unit_test(test_bad_files_name_the_line),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
