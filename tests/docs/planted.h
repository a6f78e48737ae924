/*
 * SPDX-License-Identifier: MIT
 * Planted omissions for tests/docs/check_comments.py (CTest case
 * docs_comments_planted): each function named in planted.expected lacks a
 * comment under THE RULE, every other one is documented. Never compiled.
 */
#ifndef PLANTED_H
#define PLANTED_H

#include <stdint.h>

PLANTED_BEGIN_DECLS

/* Documented: the comment ends on the line before. */
int PlantedDocumented(int Value);

int PlantedNoComment(int Value);

/* A comment with a blank line after it documents nothing. */

int PlantedBlankLineBetween(void);

/* ======================================================================== */
void PlantedBannerOnly(void);

/* Documents a run: PlantedRunNamed is named here, so it is covered. */
void PlantedRunFirst(void);
void PlantedRunNamed(void);
void PlantedRunUnnamed(void);

/* A declaration over several lines,
 * documented. */
uint32_t PlantedMultiLine(uint32_t First,
                          uint32_t Second);

typedef struct _PLANTED_STRUCT {
    /* A member's comment. */
    int (*Member)(int Value);
} PLANTED_STRUCT;
int PlantedAfterStruct(void);

/* Types and variables are not functions. */
typedef void (*PPLANTED_ROUTINE)(void *Context);
typedef int PLANTED_TYPE;
extern const PLANTED_STRUCT PlantedVariable;

static inline int PlantedInlineNoComment(int Value)
{
    /* A comment inside a body documents nothing outside it. */
    return Value;
}

/* An inline function with its comment. */
static inline int PlantedInlineDocumented(int Value)
{
    return Value + 1;
}
int PlantedAfterInline(void);

/* A macro documented... */
#define PLANTED_MACRO(x) \
    ((x) + 1)
int PlantedAfterMacro(void);

PLANTED_END_DECLS

#endif
