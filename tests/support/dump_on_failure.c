/* SPDX-License-Identifier: MIT */
/*
 * The routing dump for tests (dump_on_failure.h).
 */
#include "dump_on_failure.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <irqroute/io.h>

static void TbpAppendLine(const char *Line, void *Context)
{
    TB_DUMP *Dump = Context;
    size_t Length = strlen(Line);
    if (Dump->Length + Length + 2u > sizeof(Dump->Text)) {
        Dump->Overflow = true;
        return;
    }
    memcpy(Dump->Text + Dump->Length, Line, Length);
    Dump->Length += Length;
    Dump->Text[Dump->Length++] = '\n';
    Dump->Text[Dump->Length] = '\0';
    Dump->Lines++;
}

void TbCollectRoutingState(TB_DUMP *Dump)
{
    Dump->Length = 0;
    Dump->Lines = 0;
    Dump->Overflow = false;
    Dump->Text[0] = '\0';
    assert_int_equal(IoDumpRoutingState(TbpAppendLine, Dump), IRQ_STATUS_SUCCESS);
    assert_false(Dump->Overflow);
}

/* Calls Visit for each line until it returns false. */
static bool TbpEachLine(const TB_DUMP *Dump, bool (*Visit)(const char *Line, size_t Length, void *Context),
                        void *Context)
{
    const char *Line = Dump->Text;
    while (*Line != '\0') {
        const char *End = strchr(Line, '\n');
        size_t Length = End != NULL ? (size_t)(End - Line) : strlen(Line);
        if (!Visit(Line, Length, Context))
            return false;
        Line += Length + (End != NULL ? 1u : 0u);
    }
    return true;
}

static bool TbpIsNotLine(const char *Line, size_t Length, void *Context)
{
    const char *Wanted = Context;
    return !(strlen(Wanted) == Length && memcmp(Line, Wanted, Length) == 0);
}

bool TbDumpHasLine(const TB_DUMP *Dump, const char *Line)
{
    return !TbpEachLine(Dump, TbpIsNotLine, (void *)(uintptr_t)Line);
}

typedef struct _TBP_PREFIX_COUNT {
    const char *Prefix;
    uint32_t Count;
} TBP_PREFIX_COUNT;

static bool TbpCountPrefix(const char *Line, size_t Length, void *Context)
{
    TBP_PREFIX_COUNT *Count = Context;
    size_t PrefixLength = strlen(Count->Prefix);
    if (Length >= PrefixLength && memcmp(Line, Count->Prefix, PrefixLength) == 0)
        Count->Count++;
    return true;
}

uint32_t TbDumpCountLines(const TB_DUMP *Dump, const char *Prefix)
{
    TBP_PREFIX_COUNT Count = {.Prefix = Prefix, .Count = 0};
    (void)TbpEachLine(Dump, TbpCountPrefix, &Count);
    return Count.Count;
}

static void TbpPrintLine(const char *Line, void *Context)
{
    (void)Context;
    fprintf(stderr, "  %s\n", Line);
}

void TbPrintRoutingState(const char *Why)
{
    fprintf(stderr, "---- routing dump (%s) ----\n", Why);
    IRQ_STATUS Status = IoDumpRoutingState(TbpPrintLine, NULL);
    if (Status != IRQ_STATUS_SUCCESS)
        fprintf(stderr, "  (no dump: %s)\n", IrStatusName(Status));
    fprintf(stderr, "----\n");
}
