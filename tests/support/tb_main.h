/* SPDX-License-Identifier: MIT */
/*
 * The main of a cmocka test program, written once: it runs the tests given,
 * in order, with no group set-up (a test's own set-up and teardown go in
 * its entry), and exits with cmocka's count of failures.
 *
 *   TB_TEST_MAIN(
 *       cmocka_unit_test(test_a),
 *       cmocka_unit_test_setup_teardown(test_b, Setup, TbTeardown))
 */
#ifndef IRQROUTE_TB_MAIN_H
#define IRQROUTE_TB_MAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define TB_TEST_MAIN(...)                                  \
    int main(void)                                         \
    {                                                      \
        const struct CMUnitTest Tests[] = {__VA_ARGS__};   \
        return cmocka_run_group_tests(Tests, NULL, NULL);  \
    }

#endif
