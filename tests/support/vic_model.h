/* SPDX-License-Identifier: MIT */
/*
 * The Vic's reference model: what include/irqroute/vic.h's DELIVERY RULES
 * say a CPU takes, written from the rules alone (no knowledge of the check
 * word), and the invariants every Vic must keep, checked through the public
 * queries. Used by the unit tests (tests/unit/test_vic_take.c) and by the
 * Vic fuzzer (tests/fuzz/fuzz_vic.c) alike: it asserts nothing itself and
 * needs no cmocka; a check returns NULL or what is wrong.
 *
 * The model reads a snapshot: each CPU's counters and state and the pending
 * bit of every source, taken with VicQueryCounters, VicQueryCpuState and
 * VicIsPending.
 */
#ifndef IRQROUTE_VIC_MODEL_H
#define IRQROUTE_VIC_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/status.h>
#include <irqroute/vic.h>

#define REF_VIC_MAX_CPUS 8u
#define REF_VIC_MAX_SOURCES VIC_X86_SOURCE_COUNT /* the larger default table */

typedef struct _REF_VIC_SNAPSHOT {
    VIC_COUNTERS Counters[REF_VIC_MAX_CPUS];
    VIC_CPU_STATE States[REF_VIC_MAX_CPUS];
    uint64_t Pending[REF_VIC_MAX_CPUS][REF_VIC_MAX_SOURCES / 64];
} REF_VIC_SNAPSHOT;

/* What the rules say a claim on a CPU takes now: a source, an AST, or nothing. */
typedef struct _REF_VIC_EXPECTED {
    bool Any;
    bool Ast;
    uint32_t Source;
    uint32_t Level;
    uint32_t AstMode;
} REF_VIC_EXPECTED;

/* Config is the one the Vic was made from (up to REF_VIC_MAX_CPUS CPUs and
 * REF_VIC_MAX_SOURCES sources). */
bool RefVicSourceExists(const VIC_CONFIG *Config, uint32_t Source);
/* Fills Snapshot (zeroed first, so that snapshots compare with memcmp).
 * Fails when a query fails, or when VicIsPending accepts a source that does
 * not exist. */
const char *RefVicTakeSnapshot(const VIC *Vic, const VIC_CONFIG *Config, REF_VIC_SNAPSHOT *Snapshot);
bool RefVicSnapshotPending(const REF_VIC_SNAPSHOT *Snapshot, uint32_t Cpu, uint32_t Source);
/* The highest level, within it the highest-numbered source; at the AST level
 * and below, an eligible AST (most privileged mode first) unless a source
 * at or above the AST level is deliverable. */
REF_VIC_EXPECTED RefVicExpectedClaim(const VIC_CONFIG *Config, const REF_VIC_SNAPSHOT *Snapshot, uint32_t Cpu);
/* Per CPU: Raised == Claimed + Cleared + Migrated + Pending; Pending == the pending
 * bits + the ASTSR bits; EffectiveLevel == max(level, highest in service);
 * an online CPU's VicIsDeliverable == the rules' answer; the sum over CPUs
 * == VIC_ALL_CPUS; a CPU out of range is never deliverable. */
const char *RefVicCheckInvariants(const VIC *Vic, const VIC_CONFIG *Config, const REF_VIC_SNAPSHOT *Snapshot);
/* A claim or take (VicClaim / VicTakeInterrupt) that returned Status with
 * Claim, against what the rules expected of it. Messages is the IPI
 * messages sent to the CPU since its last claim of the IPI source. */
const char *RefVicCheckClaim(const VIC_CONFIG *Config, const REF_VIC_EXPECTED *Expected, IRQ_STATUS Status,
                             const VIC_CLAIM *Claim, uint32_t Messages);

#endif
