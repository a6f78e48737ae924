/* SPDX-License-Identifier: MIT */
/*
 * The routing dump (IoDumpRoutingState, io.h) for tests: collected into a
 * buffer to read lines from, or printed on stderr when a test is about to
 * fail, so that its log shows what was routed where.
 */
#ifndef IRQROUTE_DUMP_ON_FAILURE_H
#define IRQROUTE_DUMP_ON_FAILURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TB_DUMP_TEXT 32768u

typedef struct _TB_DUMP {
    char Text[TB_DUMP_TEXT]; /* the lines, each ended by '\n' */
    size_t Length;
    uint32_t Lines;
    bool Overflow;           /* a line did not fit (the test should fail) */
} TB_DUMP;

/* Runs IoDumpRoutingState into Dump; fails the test if the call fails. */
void TbCollectRoutingState(TB_DUMP *Dump);
/* Whether the dump has a line equal to Line (without its '\n'). */
bool TbDumpHasLine(const TB_DUMP *Dump, const char *Line);
/* Lines that begin with Prefix. */
uint32_t TbDumpCountLines(const TB_DUMP *Dump, const char *Prefix);

/* Prints the dump on stderr, headed by Why. */
void TbPrintRoutingState(const char *Why);

/* assert_true that prints the routing dump first when Condition is false. */
#define TB_ASSERT_OR_DUMP(Condition)                                     \
    do {                                                                 \
        if (!(Condition)) {                                              \
            TbPrintRoutingState(#Condition);                             \
            fail_msg("%s", #Condition);                                  \
        }                                                                \
    } while (0)

/* Fails (after printing the dump) unless the dump has Line. */
#define TB_ASSERT_DUMP_HAS_LINE(Dump, Line)                                                  \
    do {                                                                                     \
        if (!TbDumpHasLine((Dump), (Line))) {                                                \
            fprintf(stderr, "---- routing dump ----\n%s----\n", (Dump)->Text);               \
            fail_msg("the routing dump has no line \"%s\"", (Line));                        \
        }                                                                                    \
    } while (0)

#endif
