/* SPDX-License-Identifier: MIT */
/*
 * Debug checks: IR_ASSERT and friends, the library's KASSERT.
 *
 * Compiled in only when IRQROUTE_DEBUG_CHECKS is defined to 1 (for example
 * -DCMAKE_C_FLAGS=-DIRQROUTE_DEBUG_CHECKS=1); otherwise every macro here
 * expands to nothing that runs: the expression is not evaluated, only
 * type-checked, so a release build's code is the same as without the
 * checks. A failed check calls the platform hook PlatAssertionFailed
 * (include/irqroute/platform.h) with the file, the line and the
 * expression's text, and never comes back.
 *
 * What a check states is an invariant the code relies on (a caller holds a
 * lock, a count agrees with a bitmap, an IRQL rule holds): never a check of
 * a caller's input, which gets a documented status in every build.
 *
 * Every layer may include this header (src/base is the lowest layer).
 */
#ifndef IRQROUTE_IRASSERT_H
#define IRQROUTE_IRASSERT_H

#include <irqroute/platform.h>

#ifndef IRQROUTE_DEBUG_CHECKS
#define IRQROUTE_DEBUG_CHECKS 0
#endif

/* 1 in a debug-checks build: for `if (IR_DEBUG_CHECKS)` around a check that
 * needs a loop (the code is still compiled, then dropped as dead). */
#define IR_DEBUG_CHECKS IRQROUTE_DEBUG_CHECKS

#if IRQROUTE_DEBUG_CHECKS

/* Expression must be true. */
#define IR_ASSERT(Expression) \
    ((Expression) ? (void)0 : PlatAssertionFailed(__FILE__, (uint32_t)__LINE__, #Expression))
/* The same with a text of the caller's instead of the expression's (for a
 * check made by a helper whose own text would say nothing). */
#define IR_ASSERT_TEXT(Expression, Text) \
    ((Expression) ? (void)0 : PlatAssertionFailed(__FILE__, (uint32_t)__LINE__, (Text)))
/* Statements that exist only in a debug-checks build (a variable the
 * checks need, a counter they keep). */
#define IR_DEBUG_ONLY(...) __VA_ARGS__

#else

#define IR_ASSERT(Expression) ((void)sizeof((Expression) ? 1 : 0))
#define IR_ASSERT_TEXT(Expression, Text) ((void)sizeof((Expression) ? 1 : 0))
#define IR_DEBUG_ONLY(...)

#endif

#endif
