/* SPDX-License-Identifier: MIT */
/*
 * How the reference models (vic_model.c, io_model.c) say what is wrong: a
 * formatted sentence in a buffer of the model's own, returned by its checks
 * (NULL: nothing wrong). Valid until the model's next failing check.
 */
#ifndef IRQROUTE_MODEL_WHY_H
#define IRQROUTE_MODEL_WHY_H

#include <stdarg.h>
#include <stdio.h>

static char RefpWhy[256];

static inline const char *RefpFail(const char *Format, ...) __attribute__((format(printf, 1, 2)));
static inline const char *RefpFail(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(RefpWhy, sizeof(RefpWhy), Format, Arguments);
    va_end(Arguments);
    return RefpWhy;
}

#endif
