/* SPDX-License-Identifier: MIT */
/*
 * The C++ tests' checks (cxx_sim_boot, cxx_vic_hpp): CHECK reports a false
 * condition with its place and counts it, so that one run lists every
 * failure; CxxCheckExit turns the count into the program's exit status.
 * No exceptions: vic_hpp.cpp is built with -fno-exceptions -fno-rtti.
 */
#ifndef IRQROUTE_CXX_CHECK_H
#define IRQROUTE_CXX_CHECK_H

#include <cstdio>

inline int CxxCheckFailures = 0;

#define CHECK(condition)                                                                  \
    do {                                                                                  \
        if (!(condition)) {                                                               \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            CxxCheckFailures++;                                                           \
        }                                                                                 \
    } while (0)

/* 0 and Passed printed when every check held; else the count, and 1. */
inline int CxxCheckExit(const char *Program, const char *Passed)
{
    if (CxxCheckFailures != 0) {
        std::fprintf(stderr, "%s: %d checks failed\n", Program, CxxCheckFailures);
        return 1;
    }
    std::printf("%s: %s\n", Program, Passed);
    return 0;
}

#endif
