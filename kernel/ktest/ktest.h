/* SPDX-License-Identifier: MIT */
/*
 * The in-kernel test suite (KTEST lines on COM1): the verdict recorder
 * (ktest.c), the entry point main.c calls and the case groups it runs.
 */
#ifndef KERNEL_KTEST_KTEST_H
#define KERNEL_KTEST_KTEST_H

#include <stdbool.h>
#include <stdint.h>

/* Prints "KTEST <name> PASS|FAIL <detail>" and records the verdict. */
void RkTestReport(const char *Name, bool Passed, const char *Format, ...) __attribute__((format(printf, 3, 4)));
void RkRunTests(void);
/* "KTEST <name> SKIP <why>": the case cannot run on this machine; not a
 * failure (tests/qemu/run_ktest.sh fails a SKIP only of a case it asks for). */
void RkTestSkip(const char *Name, const char *Why);
/* With a remapping unit on, compatibility-format MSIs are blocked: a case
 * that composes one by hand (not through Io, whose messages are remapped)
 * reports SKIP and returns true. */
bool RkSkipIfMsiBlocked(const char *Name);
uint32_t RkTestFailures(void);
/* The case groups RkRunTests runs after the boot cases. */
void RkRunLineTests(void);     /* ktest_lines.c: cases 1, 2, 6, 9, 10 (per-CPU lines, affinity, MSI, shared, re-route) */
void RkRunPolicyTests(void);   /* ktest_policy.c: cases 3, 4, 5, 7, 8 (lowest, broadcast, round-robin, IPIs, disconnect) */
void RkRunBadInputTests(void); /* ktest_bad.c: malformed MADT, bad GSI, bad APIC id, MSI-incapable device */
void RkRunRegcheckTest(void);  /* ktest_regcheck.c: the register scripts of tests/regcheck on QEMU's APICs */
void RkTestRemapFault(void);   /* ktest_remap.c: a remapping fault provoked and recorded */
void RkTestStorm(void);      /* ktest_storm.c: edu's INTA# held asserted, nobody claiming: masked, given back */
void RkTestIgbMsix(void);      /* ktest_msix.c: igb's MSI-X vectors spread, moved, masked and held */
void RkTestOfflineWhileFiring(void); /* ktest_offline.c: each AP offline and online while RTC, edu, igb fire */

#endif
