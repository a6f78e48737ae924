/* SPDX-License-Identifier: MIT */
/*
 * The core's text formatter (src/base/irfmt.h): numbers, CPU sets, and a
 * buffer that is too small (cut off, NUL-terminated, Truncated set, nothing
 * written past its end).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tb_main.h"

#include "irfmt.h" /* irqroute_base_whitebox */

static void test_decimal_and_hex(void **State)
{
    (void)State;
    char Buffer[96];
    IR_FORMAT Format;
    IrFormatStart(&Format, Buffer, sizeof(Buffer));
    assert_string_equal(Buffer, "");
    IrFormatDecimal(&Format, 0);
    IrFormatText(&Format, " ");
    IrFormatDecimal(&Format, 4096);
    IrFormatText(&Format, " ");
    IrFormatDecimal(&Format, UINT64_MAX);
    IrFormatText(&Format, " ");
    IrFormatHex(&Format, 0x31, 2);
    IrFormatText(&Format, " ");
    IrFormatHex(&Format, 0x5, 2);
    IrFormatText(&Format, " ");
    IrFormatHex(&Format, 0, 1);
    IrFormatText(&Format, " ");
    IrFormatHex(&Format, 0xFEDCBA9876543210ull, 40);
    assert_string_equal(Buffer, "0 4096 18446744073709551615 0x31 0x05 0x0 0xfedcba9876543210");
    assert_int_equal(Format.Length, strlen(Buffer));
    assert_false(Format.Truncated);
}

static void FormatSet(const uint32_t *Cpus, uint32_t Count, const char *Expected)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    for (uint32_t Index = 0; Index < Count; Index++)
        IrCpuSetAdd(&Set, Cpus[Index]);
    char Buffer[64];
    IR_FORMAT Format;
    IrFormatStart(&Format, Buffer, sizeof(Buffer));
    IrFormatCpuSet(&Format, &Set);
    assert_string_equal(Buffer, Expected);
}

static void test_cpu_sets(void **State)
{
    (void)State;
    FormatSet(NULL, 0, "{}");
    FormatSet((const uint32_t[]){3}, 1, "{3}");
    FormatSet((const uint32_t[]){1, 2}, 2, "{1,2}");
    FormatSet((const uint32_t[]){0, 1, 2, 5, 7}, 5, "{0-2,5,7}");
    FormatSet((const uint32_t[]){1, 3, 4, 5, 6, 4095}, 6, "{1,3-6,4095}");
    FormatSet((const uint32_t[]){62, 63, 64, 65}, 4, "{62-65}");
}

/* A buffer of 8 bytes holds 7 characters and the NUL; the byte after it
 * (a guard) is never written. */
static void test_truncation(void **State)
{
    (void)State;
    char Buffer[9];
    memset(Buffer, 'G', sizeof(Buffer));
    IR_FORMAT Format;
    IrFormatStart(&Format, Buffer, 8);
    IrFormatText(&Format, "vector ");
    assert_false(Format.Truncated);
    IrFormatHex(&Format, 0x31, 2);
    assert_true(Format.Truncated);
    assert_string_equal(Buffer, "vector ");
    assert_int_equal(Format.Length, 7);
    assert_int_equal(Buffer[8], 'G');

    IrFormatStart(&Format, NULL, 16);
    IrFormatDecimal(&Format, 12);
    assert_true(Format.Truncated);
    assert_int_equal(Format.Length, 0);
}

TB_TEST_MAIN(
    cmocka_unit_test(test_decimal_and_hex),
    cmocka_unit_test(test_cpu_sets),
    cmocka_unit_test(test_truncation))
