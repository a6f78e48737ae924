/* SPDX-License-Identifier: MIT */
/*
 * CPU sets: every operation of cpuset.h, at the word edges (CPUs 0, 63, 64)
 * and the ends of the range (4095, and the out-of-range 4096).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <irqroute/cpuset.h>

#include "tb_main.h"

static const uint32_t EdgeCpus[] = {0, 1, 63, 64, 65, 127, 128, 2047, 4032, 4095};
#define EDGE_COUNT (sizeof(EdgeCpus) / sizeof(EdgeCpus[0]))

static void MakeEdgeSet(IR_CPU_SET *Set)
{
    IrCpuSetZero(Set);
    for (size_t Index = 0; Index < EDGE_COUNT; Index++)
        IrCpuSetAdd(Set, EdgeCpus[Index]);
}

static void test_zero_and_is_empty(void **State)
{
    (void)State;
    IR_CPU_SET Set;
    IrCpuSetFill(&Set, IR_MAX_CPUS);
    IrCpuSetZero(&Set);
    assert_true(IrCpuSetIsEmpty(&Set));
    assert_int_equal(IrCpuSetWeight(&Set), 0);
    assert_int_equal(IrCpuSetFirst(&Set), IR_CPU_NONE);

    /* The very last CPU alone makes a set non-empty. */
    IrCpuSetAdd(&Set, 4095);
    assert_false(IrCpuSetIsEmpty(&Set));
}

static void test_add_remove_contains_edges(void **State)
{
    (void)State;
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    for (size_t Index = 0; Index < EDGE_COUNT; Index++) {
        uint32_t Cpu = EdgeCpus[Index];
        assert_false(IrCpuSetContains(&Set, Cpu));
        IrCpuSetAdd(&Set, Cpu);
        assert_true(IrCpuSetContains(&Set, Cpu));
        assert_int_equal(IrCpuSetWeight(&Set), Index + 1);
    }
    /* Neighbours of the edges stay clear. */
    assert_false(IrCpuSetContains(&Set, 62));
    assert_false(IrCpuSetContains(&Set, 66));
    assert_false(IrCpuSetContains(&Set, 4094));

    /* Beyond the range: ignored by Add/Remove, never contained. */
    IR_CPU_SET Before;
    IrCpuSetCopy(&Before, &Set);
    IrCpuSetAdd(&Set, IR_MAX_CPUS);
    IrCpuSetAdd(&Set, IR_CPU_NONE);
    IrCpuSetRemove(&Set, IR_MAX_CPUS);
    assert_true(IrCpuSetEqual(&Set, &Before));
    assert_false(IrCpuSetContains(&Set, IR_MAX_CPUS));
    assert_false(IrCpuSetContains(&Set, IR_CPU_NONE));

    for (size_t Index = 0; Index < EDGE_COUNT; Index++) {
        IrCpuSetRemove(&Set, EdgeCpus[Index]);
        assert_false(IrCpuSetContains(&Set, EdgeCpus[Index]));
    }
    assert_true(IrCpuSetIsEmpty(&Set));
}

static void test_fill_counts_and_clamps(void **State)
{
    (void)State;
    static const uint32_t Counts[] = {0, 1, 63, 64, 65, 128, 4095, 4096};
    for (size_t Index = 0; Index < sizeof(Counts) / sizeof(Counts[0]); Index++) {
        IR_CPU_SET Set;
        IrCpuSetFill(&Set, IR_MAX_CPUS); /* Fill must also clear what was there */
        IrCpuSetFill(&Set, Counts[Index]);
        assert_int_equal(IrCpuSetWeight(&Set), Counts[Index]);
        if (Counts[Index] > 0) {
            assert_true(IrCpuSetContains(&Set, Counts[Index] - 1));
            assert_int_equal(IrCpuSetFirst(&Set), 0);
        }
        assert_false(IrCpuSetContains(&Set, Counts[Index]));
    }
    IR_CPU_SET Set;
    IrCpuSetFill(&Set, 100000);
    assert_int_equal(IrCpuSetWeight(&Set), IR_MAX_CPUS);
    assert_true(IrCpuSetContains(&Set, 4095));
}

static void test_copy_and_equal(void **State)
{
    (void)State;
    IR_CPU_SET A, B;
    MakeEdgeSet(&A);
    IrCpuSetFill(&B, 7);
    assert_false(IrCpuSetEqual(&A, &B));
    IrCpuSetCopy(&B, &A);
    assert_true(IrCpuSetEqual(&A, &B));
    /* A difference in the last word alone is seen. */
    IrCpuSetRemove(&B, 4095);
    assert_false(IrCpuSetEqual(&A, &B));
}

static void test_affinity_round_trip(void **State)
{
    (void)State;
    IR_CPU_SET Set;
    IrCpuSetFill(&Set, IR_MAX_CPUS);
    KAFFINITY Affinity = ((KAFFINITY)1 << 63) | 0x5u;
    IrCpuSetFromAffinity(&Set, Affinity);
    assert_int_equal(IrCpuSetWeight(&Set), 3);
    assert_true(IrCpuSetContains(&Set, 0));
    assert_true(IrCpuSetContains(&Set, 2));
    assert_true(IrCpuSetContains(&Set, 63));
    assert_false(IrCpuSetContains(&Set, 64));
    assert_true(IrCpuSetToAffinity(&Set) == Affinity);

    /* Only the first 64 CPUs fit the word. */
    IrCpuSetAdd(&Set, 64);
    IrCpuSetAdd(&Set, 4095);
    assert_true(IrCpuSetToAffinity(&Set) == Affinity);
}

static void test_weight(void **State)
{
    (void)State;
    IR_CPU_SET Set;
    MakeEdgeSet(&Set);
    assert_int_equal(IrCpuSetWeight(&Set), EDGE_COUNT);
    IrCpuSetFill(&Set, IR_MAX_CPUS);
    assert_int_equal(IrCpuSetWeight(&Set), 4096);
    IrCpuSetFromAffinity(&Set, ~(KAFFINITY)0);
    assert_int_equal(IrCpuSetWeight(&Set), 64);
}

static void test_first_and_next(void **State)
{
    (void)State;
    IR_CPU_SET Set;
    MakeEdgeSet(&Set);
    assert_int_equal(IrCpuSetFirst(&Set), 0);
    for (size_t Index = 0; Index + 1 < EDGE_COUNT; Index++)
        assert_int_equal(IrCpuSetNext(&Set, EdgeCpus[Index]), EdgeCpus[Index + 1]);
    assert_int_equal(IrCpuSetNext(&Set, 4095), IR_CPU_NONE);
    assert_int_equal(IrCpuSetNext(&Set, IR_CPU_NONE), IR_CPU_NONE);
    assert_int_equal(IrCpuSetNext(&Set, IR_MAX_CPUS), IR_CPU_NONE);
    /* From a CPU not in the set: the next one above it. */
    assert_int_equal(IrCpuSetNext(&Set, 2), 63);
    assert_int_equal(IrCpuSetNext(&Set, 3000), 4032);

    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, 4095);
    assert_int_equal(IrCpuSetFirst(&Set), 4095);
    assert_int_equal(IrCpuSetNext(&Set, 0), 4095);
    assert_int_equal(IrCpuSetNext(&Set, 4094), 4095);
}

static void test_next_wrap(void **State)
{
    (void)State;
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    assert_int_equal(IrCpuSetNextWrap(&Set, 0), IR_CPU_NONE);
    assert_int_equal(IrCpuSetNextWrap(&Set, 5000), IR_CPU_NONE);

    IrCpuSetAdd(&Set, 63);
    IrCpuSetAdd(&Set, 64);
    IrCpuSetAdd(&Set, 4095);
    assert_int_equal(IrCpuSetNextWrap(&Set, 63), 63); /* "at or above" */
    assert_int_equal(IrCpuSetNextWrap(&Set, 0), 63);
    assert_int_equal(IrCpuSetNextWrap(&Set, 65), 4095);
    IrCpuSetRemove(&Set, 4095);
    assert_int_equal(IrCpuSetNextWrap(&Set, 65), 63);   /* wraps */
    assert_int_equal(IrCpuSetNextWrap(&Set, 4096), 63); /* past the end wraps */
    assert_int_equal(IrCpuSetNextWrap(&Set, IR_CPU_NONE), 63);
}

static void test_and_or_and_not(void **State)
{
    (void)State;
    IR_CPU_SET A, B, Result;
    IrCpuSetFill(&A, 128); /* 0..127 */
    IrCpuSetZero(&B);
    IrCpuSetAdd(&B, 0);
    IrCpuSetAdd(&B, 64);
    IrCpuSetAdd(&B, 4095);

    IrCpuSetAnd(&Result, &A, &B);
    assert_int_equal(IrCpuSetWeight(&Result), 2);
    assert_true(IrCpuSetContains(&Result, 0) && IrCpuSetContains(&Result, 64));

    IrCpuSetOr(&Result, &A, &B);
    assert_int_equal(IrCpuSetWeight(&Result), 129);
    assert_true(IrCpuSetContains(&Result, 4095));

    IrCpuSetAndNot(&Result, &A, &B);
    assert_int_equal(IrCpuSetWeight(&Result), 126);
    assert_false(IrCpuSetContains(&Result, 0));
    assert_false(IrCpuSetContains(&Result, 64));
    assert_true(IrCpuSetContains(&Result, 63));
}

static void test_operations_may_alias(void **State)
{
    (void)State;
    IR_CPU_SET A, B;
    IrCpuSetFill(&A, 128);
    MakeEdgeSet(&B);
    IrCpuSetAnd(&A, &A, &B); /* A = A & B */
    assert_int_equal(IrCpuSetWeight(&A), 6); /* 0 1 63 64 65 127: nothing above 127 */
    IrCpuSetOr(&B, &A, &B); /* B unchanged: A is a subset */
    assert_int_equal(IrCpuSetWeight(&B), EDGE_COUNT);
    IrCpuSetAndNot(&B, &B, &A);
    assert_int_equal(IrCpuSetWeight(&B), EDGE_COUNT - 6);
    assert_int_equal(IrCpuSetFirst(&B), 128);
    IrCpuSetAndNot(&B, &B, &B);
    assert_true(IrCpuSetIsEmpty(&B));
}

static void test_intersects_and_first_and(void **State)
{
    (void)State;
    IR_CPU_SET A, B;
    IrCpuSetZero(&A);
    IrCpuSetZero(&B);
    assert_false(IrCpuSetIntersects(&A, &B));
    assert_int_equal(IrCpuSetFirstAnd(&A, &B), IR_CPU_NONE);

    IrCpuSetAdd(&A, 4095);
    IrCpuSetAdd(&A, 64);
    IrCpuSetAdd(&B, 63);
    assert_false(IrCpuSetIntersects(&A, &B));
    assert_int_equal(IrCpuSetFirstAnd(&A, &B), IR_CPU_NONE);

    IrCpuSetAdd(&B, 4095);
    assert_true(IrCpuSetIntersects(&A, &B));
    assert_int_equal(IrCpuSetFirstAnd(&A, &B), 4095);
    IrCpuSetAdd(&B, 64);
    assert_int_equal(IrCpuSetFirstAnd(&A, &B), 64);
    IrCpuSetAdd(&A, 0);
    IrCpuSetAdd(&B, 0);
    assert_int_equal(IrCpuSetFirstAnd(&A, &B), 0);
}

static void test_for_each_visits_every_cpu_once_in_order(void **State)
{
    (void)State;
    IR_CPU_SET Set;
    MakeEdgeSet(&Set);
    uint32_t Seen[EDGE_COUNT + 1];
    size_t Count = 0;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, &Set) {
        assert_true(Count < EDGE_COUNT);
        Seen[Count++] = Cpu;
    }
    assert_int_equal(Count, EDGE_COUNT);
    for (size_t Index = 0; Index < EDGE_COUNT; Index++)
        assert_int_equal(Seen[Index], EdgeCpus[Index]);

    IrCpuSetZero(&Set);
    Count = 0;
    IR_CPU_SET_FOR_EACH(Cpu, &Set)
        Count++;
    assert_int_equal(Count, 0);

    IrCpuSetFill(&Set, IR_MAX_CPUS);
    uint32_t Expected = 0;
    IR_CPU_SET_FOR_EACH(Cpu, &Set) {
        assert_int_equal(Cpu, Expected);
        Expected++;
    }
    assert_int_equal(Expected, IR_MAX_CPUS);
}

/* IrCpuSetParse: Text into a set of exactly those CPUs. */
static void ExpectParsed(const char *Text, uint32_t CpuCount, const uint32_t *Cpus, size_t Count)
{
    IR_CPU_SET Set, Expected;
    IrCpuSetFill(&Set, IR_MAX_CPUS); /* every stale bit must go */
    IrCpuSetZero(&Expected);
    for (size_t Index = 0; Index < Count; Index++)
        IrCpuSetAdd(&Expected, Cpus[Index]);
    assert_int_equal(IrCpuSetParse(Text, CpuCount, &Set), IRQ_STATUS_SUCCESS);
    assert_true(IrCpuSetEqual(&Set, &Expected));
}

static void test_parse_lists_ranges_and_all(void **State)
{
    (void)State;
    static const uint32_t Three[] = {3};
    static const uint32_t OneToThree[] = {1, 2, 3};
    static const uint32_t Mixed[] = {0, 2, 3, 63, 64};
    static const uint32_t Edge[] = {4095};
    ExpectParsed("3", 4, Three, 1);
    ExpectParsed("1-3", 4, OneToThree, 3);
    ExpectParsed("0,2-3,63-64", 65, Mixed, 5);
    ExpectParsed("3,3", 4, Three, 1);
    ExpectParsed("4095", IR_MAX_CPUS, Edge, 1);
    IR_CPU_SET Set, Expected;
    IrCpuSetFill(&Expected, 70);
    assert_int_equal(IrCpuSetParse("all", 70, &Set), IRQ_STATUS_SUCCESS);
    assert_true(IrCpuSetEqual(&Set, &Expected));
}

/* Every malformed list is refused and the set keeps what it held. */
static void test_parse_refuses_bad_lists_and_changes_nothing(void **State)
{
    (void)State;
    static const char *const Bad[] = {"", "4", "3-1", "1-", "-1", "1,", ",1", "1,,2", "a", "1 ", " 1", "all,1",
                                      "alll", "1-2-3", "0x1", "99999999999", "1;2"};
    IR_CPU_SET Set, Before;
    MakeEdgeSet(&Set);
    IrCpuSetCopy(&Before, &Set);
    for (size_t Index = 0; Index < sizeof(Bad) / sizeof(Bad[0]); Index++) {
        assert_int_equal(IrCpuSetParse(Bad[Index], 4, &Set), IRQ_STATUS_INVALID_PARAMETER);
        assert_true(IrCpuSetEqual(&Set, &Before));
    }
    assert_int_equal(IrCpuSetParse("4096", IR_MAX_CPUS, &Set), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrCpuSetParse(NULL, 4, &Set), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrCpuSetParse("1", 4, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrCpuSetParse("0", 0, &Set), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrCpuSetParse("0", IR_MAX_CPUS + 1, &Set), IRQ_STATUS_INVALID_PARAMETER);
    assert_true(IrCpuSetEqual(&Set, &Before));
}

TB_TEST_MAIN(
    cmocka_unit_test(test_zero_and_is_empty),
    cmocka_unit_test(test_add_remove_contains_edges),
    cmocka_unit_test(test_fill_counts_and_clamps),
    cmocka_unit_test(test_copy_and_equal),
    cmocka_unit_test(test_affinity_round_trip),
    cmocka_unit_test(test_weight),
    cmocka_unit_test(test_first_and_next),
    cmocka_unit_test(test_next_wrap),
    cmocka_unit_test(test_and_or_and_not),
    cmocka_unit_test(test_operations_may_alias),
    cmocka_unit_test(test_intersects_and_first_and),
    cmocka_unit_test(test_for_each_visits_every_cpu_once_in_order),
    cmocka_unit_test(test_parse_lists_ranges_and_all),
    cmocka_unit_test(test_parse_refuses_bad_lists_and_changes_nothing))
