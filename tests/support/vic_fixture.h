/* SPDX-License-Identifier: MIT */
/*
 * The Vic's unit-test fixture: a Vic in heap storage, and the calls every
 * Vic test makes, each asserting what must hold (a claim that must succeed,
 * a CPU with nothing to take, the conservation of the counters).
 *
 * The Vic sits at the start of its storage, so free(Vic) releases it and
 * TbFreeState (a cmocka teardown doing free(*State)) ends a test whose
 * setup put the Vic in *State.
 */
#ifndef IRQROUTE_VIC_FIXTURE_H
#define IRQROUTE_VIC_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <irqroute/cpuset.h>
#include <irqroute/vic.h>

/* Initialised from Config over storage filled with a pattern (the Vic must
 * not rely on zeroed storage). Fails the test on error. */
VIC *TbCreateVic(const VIC_CONFIG *Config);
/* The Alpha defaults for CpuCount CPUs. */
VIC *TbCreateAlphaVic(uint32_t CpuCount);
/* The x86 defaults (16 classes, source = vector) for CpuCount CPUs. */
VIC *TbCreateX86Vic(uint32_t CpuCount);
/* The Alpha defaults with a wake routine (vic.h, PVIC_WAKE_ROUTINE). */
VIC *TbCreateAlphaVicWaking(uint32_t CpuCount, PVIC_WAKE_ROUTINE Wake, void *Context, bool WakeOnPending);
/* cmocka setups: an Alpha Vic of 2 or 4 CPUs in *State. */
int TbVicSetupAlpha2(void **State);
int TbVicSetupAlpha4(void **State);
int TbFreeState(void **State);
/* A cmocka test run on a fresh Alpha Vic of 2 or 4 CPUs. */
#define TB_VIC_ALPHA2_TEST(Test) cmocka_unit_test_setup_teardown(Test, TbVicSetupAlpha2, TbFreeState)
#define TB_VIC_ALPHA4_TEST(Test) cmocka_unit_test_setup_teardown(Test, TbVicSetupAlpha4, TbFreeState)

/* The check word of Cpu as it is now (its layout: vic.h, THE CHECK WORD). */
uint64_t TbVicWord(const VIC *Vic, uint32_t Cpu);

/* VicClaim / VicTakeInterrupt on Cpu, which must succeed (the claim is
 * filled with a pattern first, so that every field must be written). */
VIC_CLAIM TbVicClaim(VIC *Vic, uint32_t Cpu);
VIC_CLAIM TbVicTake(VIC *Vic, uint32_t Cpu);
/* A claim and its end of interrupt. */
VIC_CLAIM TbVicClaimAndEnd(VIC *Vic, uint32_t Cpu);
/* Raises Source on Cpu and claims it (VicClaim): both must succeed and the
 * claim must be Source. */
VIC_CLAIM TbVicRaiseAndClaim(VIC *Vic, uint32_t Source, uint32_t Cpu);
/* Nothing deliverable on Cpu: the check says no and the claim (take) finds
 * nothing and changes nothing. */
void TbVicAssertNothingToClaim(VIC *Vic, uint32_t Cpu);
void TbVicAssertNothingToTake(VIC *Vic, uint32_t Cpu);

/* Alpha software interrupts follow the level like any source: at each
 * level n from 1 to 15 a request at n waits, and once the level drops to
 * n - 1 it is delivered as VIC_ALPHA_SOFTWARE(n), clearing its SISR bit;
 * delivered by VicTakeInterrupt when Take, else by VicClaim and an end of
 * interrupt. */
void TbVicAssertSoftwareFollowsLevel(VIC *Vic, uint32_t Cpu, bool Take);

/* An Alpha machine check gets through every gate and level (TbVicCloseEveryGate
 * at 31) where a power-fail interrupt does not, and a second one gets in
 * while the first is in service; delivered as TbVicAssertSoftwareFollowsLevel
 * says. */
void TbVicAssertMachineCheckOverridesGates(VIC *Vic, uint32_t Cpu, bool Take);

/* The IPI source waits above the level like any other: with Cpu at level 22,
 * one IPI of each message in Messages (a bit per VIC_IPI_MESSAGE) is sent and
 * nothing is deliverable; dropped to 21, the IPI source is delivered at its
 * level 22 with all of Messages. Delivered by VicTakeInterrupt when Take, else
 * by VicClaim; the claim is returned for further checks. */
VIC_CLAIM TbVicAssertIpiWaitsForLevel(VIC *Vic, uint32_t Cpu, uint32_t Messages, bool Take);

/* Every way the owner holds interrupts off at once: Level, interrupts
 * disabled, a serialised barrier, PAL mode (only machine checks get in). */
void TbVicCloseEveryGate(VIC *Vic, uint32_t Cpu, uint32_t Level);
/* The owner's AST registers and mode: Mode, then ASTEN = Enable and ASTSR =
 * Summary (bit M for mode M). */
void TbVicSetAsts(VIC *Vic, uint32_t Cpu, VIC_PROCESSOR_MODE Mode, uint32_t Enable, uint32_t Summary);

/* The AST cases: every mode M x every current mode x ASTSR<M> x ASTEN<M>.
 * TbVicSetAstCase sets case Case (0 .. TB_VIC_AST_CASES-1) on Cpu with
 * TbVicSetAsts, reports its M, and says whether the rules make that AST
 * eligible (both bits set, the current mode M or less privileged). */
#define TB_VIC_AST_CASES 64u
bool TbVicSetAstCase(VIC *Vic, uint32_t Cpu, uint32_t Case, uint32_t *AstMode);
/* A claim or take of an AST of Mode (at the Alpha AST level). */
void TbVicAssertAstClaim(const VIC_CLAIM *Claim, uint32_t Mode);

bool TbVicIsPending(const VIC *Vic, uint32_t Source, uint32_t Cpu);
/* The CPUs (0 .. CpuCount-1) Source is pending on, as a bit mask. */
uint32_t TbVicPendingOn(const VIC *Vic, uint32_t Source, uint32_t CpuCount);
VIC_CPU_STATE TbVicCpuState(const VIC *Vic, uint32_t Cpu);
/* Cpu or VIC_ALL_CPUS. */
VIC_COUNTERS TbVicCounters(const VIC *Vic, uint32_t Cpu);
/* Raised == Claimed + Cleared + Migrated + Pending over every CPU. */
void TbVicAssertConserved(const VIC *Vic);

/* The CPU set of a bit mask (CPUs 0 .. 63). */
IR_CPU_SET TbCpuSetOf(uint64_t Bits);

#endif
