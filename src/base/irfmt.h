/* SPDX-License-Identifier: MIT */
/*
 * A tiny text formatter for the freestanding core (no printf): appends text,
 * decimal and hexadecimal numbers and CPU sets to a caller's buffer, always
 * NUL-terminated. Used by the routing dump (src/io/dump.c), one line at a
 * time in a stack buffer.
 *
 * What does not fit is cut off and Truncated is set; nothing is ever written
 * past Size bytes.
 */
#ifndef IRQROUTE_IRFMT_H
#define IRQROUTE_IRFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/cpuset.h>

typedef struct _IR_FORMAT {
    char *Buffer;
    size_t Size;    /* bytes of Buffer, the NUL included */
    size_t Length;  /* characters written so far (Buffer[Length] is the NUL) */
    bool Truncated; /* something did not fit */
} IR_FORMAT;

/* Starts an empty text in Buffer (Size >= 1; Size 0 or Buffer NULL: every
 * append is dropped and Truncated set). */
void IrFormatStart(IR_FORMAT *Format, char *Buffer, size_t Size);
void IrFormatText(IR_FORMAT *Format, const char *Text);
/* Value in decimal, no sign, no padding. */
void IrFormatDecimal(IR_FORMAT *Format, uint64_t Value);
/* "0x" and Value in lowercase hex, zero-padded to at least MinimumDigits
 * (at most 16) digits. */
void IrFormatHex(IR_FORMAT *Format, uint64_t Value, uint32_t MinimumDigits);
/* "{}" for an empty set, else its CPUs in ascending order, runs of three or
 * more as "a-b": "{0-2,5,7}", "{1,3}". */
void IrFormatCpuSet(IR_FORMAT *Format, const IR_CPU_SET *Set);

#endif
