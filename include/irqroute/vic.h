/* SPDX-License-Identifier: MIT */
/*
 * Vic — the virtual interrupt controller: interrupt state for emulated CPUs.
 *
 * An emulator (or our simulator) creates a Vic with N CPUs (1 .. 4096) and L
 * priority levels (2 .. 32: 32 for Alpha IPL 0-31, 16 for the x86 priority
 * classes), describes its sources (vectors), each at a level, raises them
 * from any thread, and asks VicIsDeliverable on every emulated instruction.
 *
 * STATE PER CPU
 *  - a pending bit per source (at most 32 sources a level);
 *  - a summary bit per level ("something of this level is pending"), a
 *    threshold ("levels from here up may be delivered now") and the pending
 *    bits of up to 25 "direct" sources, together in one 64-bit word per CPU,
 *    the check word (THE CHECK WORD below has its layout): VicIsDeliverable
 *    is one acquire load of it and a shift; raise, clear, claim, level and
 *    gate changes keep it up to date (the raiser does the work, the check
 *    does none). The other sources have one pending word per level. Which
 *    are direct: the lowest slot of every level, then the second lowest, and
 *    so on, the top level first in each round, until the 25 are given out (a
 *    level's slots are its sources in table order). Alpha: every software
 *    interrupt, the IPI, the clock, both performance counters, power fail,
 *    machine check, device 0 of IPL 20-23 and device 1 of IPL 23. x86: the
 *    first vector of every class and the second of the ten highest. Put the
 *    sources that fire most in those slots: they are the cheap ones (COST);
 *  - the CPU side: current level (PS<IPL> / TPR), the levels in service
 *    (claimed, not yet ended), the gates (interrupts enabled, serialised
 *    barrier, PAL mode), the processor mode and the AST registers.
 *
 * DELIVERY RULES (Alpha SRM, OpenVMS PALcode; requirement R2 in
 * docs/requirements.md)
 *  - A source is deliverable on a CPU only when its level is above the CPU's
 *    effective level (the higher of its current level and its highest level in
 *    service, as x86's PPR = max(TPR, ISR class)), interrupts are enabled, the
 *    CPU is not inside a serialised barrier and not in PAL mode.
 *  - Machine checks override every gate and mask, PAL mode included (a
 *    machine check taken in the handler of another is delivered: what a
 *    double machine check means is the emulator's business).
 *  - IPIs respect the level (they are a source at the IPI level); software
 *    interrupts 1-15 follow the same rules (SIRR write sets, SISR shows).
 *  - ASTs are delivered at the AST level (2) and additionally gated per mode:
 *    an AST for mode M is eligible when the effective level is below the AST
 *    level, ASTSR<M> and ASTEN<M> are set and the current mode is M or less
 *    privileged; the most privileged eligible mode goes first, and claiming
 *    it clears its ASTSR bit (as PALcode does when it initiates the AST). At
 *    the AST level a pending source goes before an AST.
 *  - Masked interrupts stay pending until delivered or cleared: never lost
 *    (a device interrupt pending on a CPU that goes offline moves to another:
 *    VicSetCpuOnline). A raise on a source that is already pending merges
 *    into it (counted).
 *
 * WHO MAY CALL WHAT
 *  - Any thread, concurrently: VicRaise, VicRaiseOnCpu, VicClear, VicSendIpi,
 *    VicWriteSoftwareRequest, VicSetRoute, VicSetCpuOnline and the queries.
 *    Raise is lock-free (COST says with which atomics).
 *  - The CPU's owner only (the thread emulating that CPU; one at a time):
 *    VicClaim, VicTakeInterrupt, VicEndOfInterrupt, VicSetLevel, the gates,
 *    VicSetMode and the AST registers. These are the CPU's own acts
 *    (acknowledge, MTPR IPL, MTPR ASTEN/ASTSR, REI), and keeping them on one
 *    thread is what lets the owner bits of the word be written without a
 *    lock. To post an AST to another
 *    CPU, send it an IPI and let it write its own ASTSR (as OpenVMS does).
 *
 * ROUTING. Every source has a route (router.h; default FIXED_CPU to CPU 0):
 * VicRaise decides per interrupt; VicRaiseOnCpu bypasses it (per-CPU sources:
 * interval clock, performance counters, local machine checks).
 *
 * COST. The check is one load. A raise of a direct source (FIXED_CPU to an
 * online CPU: one load of the source's mirror of its route) is one
 * compare-and-swap of the check word that sets its pending bit and its
 * level's summary bit (a CAS rather than an OR because the raise needs the
 * old word: a merge is counted and the wake-up decided from it; a merge
 * costs no locked operation). VicTakeInterrupt takes both out with one
 * compare-and-swap, and VicClaim sets the new threshold in the same one:
 * raise -> take is two locked read-modify-writes, as in a bare pending word,
 * and raise -> claim -> end of interrupt three (the end of interrupt is an
 * XOR of the threshold). Any other source costs one more on each side: the
 * compare-and-swap of its level's pending word, then the summary bit (an OR
 * when the level was empty, a compare-and-swap out when the take emptied
 * it). A direct source that is the only thing pending on its CPU (the
 * common case) is taken on a straight path that decides from the check
 * word alone. These straight paths are the fast paths; configured with
 * -DIRQROUTE_VIC_FAST_PATHS=OFF the library leaves them out and every call
 * takes the general path, with the same results. bench/bench_vic.c
 * measures both kinds of source; docs/design.md has the figures.
 *
 * COUNTERS. Per CPU: Raised (pending bits that went 0 -> 1, ASTSR bits set),
 * Merged, Claimed (claims and takes), Cleared, Migrated (moved off when the
 * CPU went offline; raised again, or merged, on the CPU they moved to). When
 * no call is in flight, Raised == Claimed + Cleared + Migrated + Pending,
 * exactly.
 *
 * Storage comes from the caller (VicQueryStorageSize); the Vic allocates
 * nothing and calls no platform hook but PlatCpuRelax (while two threads
 * reconfigure one route).
 */
#ifndef IRQROUTE_VIC_H
#define IRQROUTE_VIC_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "router.h"
#include "status.h"

IRQROUTE_BEGIN_DECLS

#define VIC_MAX_CPUS IR_MAX_CPUS
#define VIC_MAX_LEVELS 32u
#define VIC_MAX_SOURCES_PER_LEVEL 32u
#define VIC_MAX_SOURCES 1024u
#define VIC_STORAGE_ALIGNMENT 64u
/* VIC_CLAIM.Source of an AST (ASTs are CPU registers, not sources). */
#define VIC_SOURCE_AST 0xFFFFFFFEu
/* VicQueryCounters: the sum over every CPU. */
#define VIC_ALL_CPUS 0xFFFFFFFFu

typedef struct _VIC VIC;

typedef enum _VIC_SOURCE_KIND {
    VicSourceDevice = 0,
    VicSourceSoftware,     /* SIRR/SISR: at most one per level */
    VicSourceIpi,          /* at most one: where VicSendIpi delivers */
    VicSourceClock,
    VicSourcePerformance,
    VicSourcePowerFail,
    VicSourceMachineCheck, /* overrides every gate and mask; its level holds machine checks only */
    VicSourceAst,          /* VIC_CLAIM.Kind of an AST; not a kind a source can have */
    VicSourceKindCount
} VIC_SOURCE_KIND;

/* Level 0: no source has this number (a hole in the numbering; a level-0
 * source could never be delivered). */
typedef struct _VIC_SOURCE_DESCRIPTOR {
    uint32_t Level;
    VIC_SOURCE_KIND Kind;
} VIC_SOURCE_DESCRIPTOR;

/* Called on the raising thread (any thread) when a raise made Cpu's check go
 * from "nothing deliverable" to "deliverable" (with WakeOnPending: whenever
 * a level of Cpu became pending, masked or not): the place to kick the
 * thread that emulates Cpu out of its wait. It runs in the middle of the
 * raise, so it must not block, and it may call owner operations for Cpu
 * only if it runs on Cpu's owner. */
typedef void (*PVIC_WAKE_ROUTINE)(void *Context, uint32_t Cpu);

typedef struct _VIC_CONFIG {
    uint32_t CpuCount;   /* 1 .. VIC_MAX_CPUS; all online at creation */
    uint32_t LevelCount; /* 2 .. VIC_MAX_LEVELS */
    uint32_t SourceCount;
    const VIC_SOURCE_DESCRIPTOR *Sources;
    uint32_t AstLevel;   /* 1 .. LevelCount-1; 0: no ASTs */
    PVIC_WAKE_ROUTINE Wake;
    void *WakeContext;
    bool WakeOnPending;
} VIC_CONFIG;

/* ---- Defaults --------------------------------------------------------------------- */

/* Alpha (OpenVMS PALcode): 32 levels, ASTs at 2, and this numbering. */
#define VIC_ALPHA_SOFTWARE(n) (n) /* n = 1..15, at IPL n; source 0 is a hole */
#define VIC_ALPHA_IPI 16u            /* IPL 22 */
#define VIC_ALPHA_CLOCK 17u          /* IPL 22 (interval clock, per CPU) */
#define VIC_ALPHA_PERFORMANCE0 18u   /* IPL 29 */
#define VIC_ALPHA_PERFORMANCE1 19u   /* IPL 29 */
#define VIC_ALPHA_POWER_FAIL 20u     /* IPL 30 */
#define VIC_ALPHA_MACHINE_CHECK 21u  /* IPL 31 */
#define VIC_ALPHA_DEVICES_PER_LEVEL 16u
/* Device n (0..15) at IPL ipl (20..23). */
#define VIC_ALPHA_DEVICE(ipl, n) (22u + ((ipl) - 20u) * VIC_ALPHA_DEVICES_PER_LEVEL + (n))
#define VIC_ALPHA_SOURCE_COUNT (22u + 4u * VIC_ALPHA_DEVICES_PER_LEVEL)
#define VIC_ALPHA_AST_LEVEL 2u
extern const VIC_SOURCE_DESCRIPTOR VicAlphaSources[VIC_ALPHA_SOURCE_COUNT];
/* Fills Config for an Alpha Vic of CpuCount CPUs: 32 levels, the
 * VicAlphaSources table above, ASTs at VIC_ALPHA_AST_LEVEL, no wake-up
 * routine. Checks nothing: VicQueryStorageSize judges the result. */
void VicAlphaConfig(VIC_CONFIG *Config, uint32_t CpuCount);

/* x86 priority classes: 16 levels, source = vector (0x10..0xFF; 0..0xF are
 * holes), level = vector >> 4; the IPI source is 0xE1, the clock 0xD1 and
 * the performance counter 0xFE (NT amd64); no ASTs. */
#define VIC_X86_SOURCE_COUNT 256u
#define VIC_X86_IPI_VECTOR 0xE1u
#define VIC_X86_CLOCK_VECTOR 0xD1u
#define VIC_X86_PERFORMANCE_VECTOR 0xFEu
/* Fills Sources (every vector a device source at level vector >> 4, with
 * the IPI, clock and performance vectors above) and Config for an x86 Vic
 * of CpuCount CPUs: 16 levels, no ASTs, no wake-up routine. Config points
 * at Sources, which must outlive VicInitialize. Checks nothing. */
void VicX86Config(VIC_CONFIG *Config, uint32_t CpuCount, VIC_SOURCE_DESCRIPTOR Sources[VIC_X86_SOURCE_COUNT]);

/* ---- Creation --------------------------------------------------------------------- */

/* Checks Config and reports the bytes of storage it needs (aligned to
 * VIC_STORAGE_ALIGNMENT). SUCCESS (*Size written only then).
 * INVALID_PARAMETER: Config or Size NULL, Sources NULL, SourceCount 0,
 * CpuCount out of range, a
 * source with an unknown kind, a second IPI or software source (same level),
 * any other source at or above the lowest machine-check level (machine
 * checks are the top levels); INVALID_IRQL: LevelCount or a source's level
 * or AstLevel out of range; INSUFFICIENT_RESOURCES: more than 32 sources at
 * one level, or more than VIC_MAX_SOURCES. */
IRQ_STATUS VicQueryStorageSize(const VIC_CONFIG *Config, size_t *Size);
/* Builds the Vic in Storage. Every CPU starts online, at level 0, interrupts
 * enabled, outside barriers and PAL mode, in kernel mode, ASTEN = ASTSR = 0,
 * nothing pending; every route FIXED_CPU to CPU 0.
 *   SUCCESS
 *   INVALID_PARAMETER  Storage, Config or Vic NULL, Storage not
 *                      VIC_STORAGE_ALIGNMENT-aligned, or Config refused
 *   INVALID_IRQL, INSUFFICIENT_RESOURCES  Config refused (as
 *                      VicQueryStorageSize)
 *   BUFFER_TOO_SMALL   StorageSize below what VicQueryStorageSize reports
 * Storage and *Vic are written only on success. */
IRQ_STATUS VicInitialize(void *Storage, size_t StorageSize, const VIC_CONFIG *Config, VIC **Vic);

/* ---- The check (the owner, every instruction) ---------------------------------------- */

/* A CPU's check word (THE CHECK WORD below), opaque: it is read only with
 * VicLoadCheckWord, one atomic load, never dereferenced. The library keeps
 * it as a C11 _Atomic uint64_t, 64-byte aligned, and changes it only with
 * atomic read-modify-writes; the load below is GCC's and Clang's __atomic
 * builtin on the same eight bytes, which C and C++ both have, which compiles
 * to the instruction a C11 atomic load does (one MOV on x86-64) and which
 * ThreadSanitizer sees as the atomic load it is. No _Atomic in this header:
 * it means the same in C and C++ (C++ before 23 has no _Atomic). */
typedef struct _VIC_CHECK_WORD VIC_CHECK_WORD;

/* What a VIC pointer points at (the start of its storage), public only so
 * that the check can be inline. Not an interface: use VicIsDeliverable.
 * Words holds the address of each CPU's check word, CpuCount of them in a
 * Vic's storage (a trailing one-element array, as C++ has no flexible array
 * member: never allocate or copy this type); an array member rather than
 * pointer arithmetic, so that compilers fold its offset into the load.
 * HeaderOffset is the library's. */
typedef struct _VIC_DELIVERY_VIEW {
    uint32_t CpuCount;
    uint32_t HeaderOffset;
    const VIC_CHECK_WORD *Words[1];
} VIC_DELIVERY_VIEW;

/* The check word of a CPU (Cpu in range), for an emulator loop that wants
 * no bounds test: the per-instruction form. Take the word once, when a
 * thread starts emulating Cpu (it never moves while the Vic lives), and call
 * VicWordIsDeliverable on it: one acquire load, a shift and a test.
 * VicIsDeliverable does the range test and this look-up (one load from the
 * table after the view, at a constant offset: no multiply) on every call. */
static inline const VIC_CHECK_WORD *VicGetDeliveryWord(const VIC *Vic, uint32_t Cpu)
{
    return ((const VIC_DELIVERY_VIEW *)(const void *)Vic)->Words[Cpu];
}

/* The check word's value now. The acquire pairs with the raiser's release,
 * so an owner that sees a bit and claims sees the pending state the raiser
 * wrote. */
static inline uint64_t VicLoadCheckWord(const VIC_CHECK_WORD *Word)
{
    return __atomic_load_n((const uint64_t *)(const void *)Word, __ATOMIC_ACQUIRE);
}

/* THE CHECK WORD, one per CPU (the first member of the CPU's block):
 *   bits  0..5   Shift: 31 + T, T the threshold: levels >= T are enabled
 *                                                           the owner only
 *   bits  6..30  Direct: the pending bits of the direct sources
 *                                                 raisers, clearers, claims
 *   bit  31      Words: some level's pending word may hold bits
 *                                                 raisers, clearers, claims
 *   bits 32..62  Summary: bit 31 + n, level n has a pending source
 *                                                 raisers, clearers, claims
 *   bit  63      Ast: an AST may be taken now                the owner only
 * Deliverable <=> (Word >> Shift) != 0: the shift drops Shift, Direct, Words
 * and every Summary bit below level T, and x86 takes the count from the low
 * six bits by itself, so the check is a load, a shift and a test. The owner
 * keeps T at its effective level + 1 while the gates are open and at 32
 * (Shift = 63: nothing but Ast) while one is closed, never above the lowest
 * machine-check level (levels from there up hold machine checks only:
 * VicQueryStorageSize refuses other tables, and machine checks override
 * every gate and mask); it sets Ast only when an AST may be taken now.
 * A Direct bit is never set without its level's Summary bit; Words is set
 * with the Summary bit whenever a pending word gains bits, and goes with
 * the last Summary bit. How the bits change hands: src/vic/vicp.h.
 * The layout is public only so that the check can be inline (and tests can
 * read it): not an interface. */
#define VIC_CHECK_SHIFT_MASK 0x3Fu
#define VIC_CHECK_DIRECT_FIRST 6u
#define VIC_CHECK_DIRECT_COUNT 25u
#define VIC_CHECK_DIRECT_BITS ((((uint64_t)1 << VIC_CHECK_DIRECT_COUNT) - 1u) << VIC_CHECK_DIRECT_FIRST)
#define VIC_CHECK_WORDS_BIT ((uint64_t)1 << 31)
#define VIC_CHECK_SUMMARY_BASE 31u /* level n's Summary bit is bit 31 + n */
#define VIC_CHECK_SUMMARY_BITS ((uint64_t)0x7FFFFFFF << 32) /* levels 1 .. 31 */
#define VIC_CHECK_AST_BIT ((uint64_t)1 << 63)
#define VIC_CHECK_THRESHOLD_NONE 32u /* T while a gate is closed: no level enabled */

/* The Shift field of a check word. */
static inline uint32_t VicCheckShift(uint64_t Word)
{
    return (uint32_t)(Word & VIC_CHECK_SHIFT_MASK);
}

/* The check itself, on a word already loaded. */
static inline bool VicCheckDeliverable(uint64_t Word)
{
    return (Word >> VicCheckShift(Word)) != 0;
}

/* The check on a word from VicGetDeliveryWord: one acquire load, a shift and
 * a test. */
static inline bool VicWordIsDeliverable(const VIC_CHECK_WORD *Word)
{
    return VicCheckDeliverable(VicLoadCheckWord(Word));
}

/* True when VicClaim would return something now. False for a CPU out of
 * range. Exact once concurrent raises, clears, claims and offline moves
 * have returned (online or offline CPU alike, whether or not its owner
 * claims again); while one of them races with a raise it may say true once
 * for nothing, and a claim then returns NOTHING_PENDING and repairs the
 * word. */
static inline bool VicIsDeliverable(const VIC *Vic, uint32_t Cpu)
{
    if (Cpu >= ((const VIC_DELIVERY_VIEW *)(const void *)Vic)->CpuCount)
        return false;
    return VicWordIsDeliverable(VicGetDeliveryWord(Vic, Cpu));
}

/* ---- Raising and clearing (any thread) ----------------------------------------------- */

/* Raises Source where its route sends it (every CPU of a BROADCAST).
 * SUCCESS; INVALID_PARAMETER: Vic NULL; INVALID_VECTOR: unknown source (a
 * hole in the numbering included); EMPTY_AFFINITY: every CPU of the route
 * has gone offline (nothing raised). */
IRQ_STATUS VicRaise(VIC *Vic, uint32_t Source);
/* Raises Source on Cpu, bypassing its route. SUCCESS; INVALID_PARAMETER:
 * Vic NULL; INVALID_VECTOR: unknown source; INVALID_CPU: out of range or
 * offline (nothing raised). */
IRQ_STATUS VicRaiseOnCpu(VIC *Vic, uint32_t Source, uint32_t Cpu);
/* Withdraws a pending interrupt (a level-triggered line deasserted, a
 * cancelled request). An offline CPU's pending sources can be cleared.
 * Withdrawing the IPI source withdraws the messages it carries (the claim
 * would have taken them with it): a HALT or TLB shoot-down that the sender
 * took back must not come back with the next, unrelated IPI, which is what
 * R2.11 (docs/requirements.md: pending until claimed or cleared) asks of a
 * cleared interrupt. A message sent while the clear runs either goes with
 * it or raises the source again; at worst that IPI is claimed with
 * IpiMessages 0. Withdrawn messages are not counted (VicQueryIpiCount).
 *   SUCCESS
 *   INVALID_PARAMETER  Vic NULL
 *   INVALID_VECTOR     unknown source
 *   INVALID_CPU        Cpu out of range
 *   NOT_PENDING        it was not pending (nothing changes) */
IRQ_STATUS VicClear(VIC *Vic, uint32_t Source, uint32_t Cpu);
/* SIRR write: requests the software interrupt of Level on Cpu.
 * SUCCESS; INVALID_PARAMETER: Vic NULL; INVALID_IRQL: no software source at
 * that level; INVALID_CPU: Cpu out of range or offline (nothing raised). */
IRQ_STATUS VicWriteSoftwareRequest(VIC *Vic, uint32_t Cpu, uint32_t Level);
/* SISR: bit n set when the software interrupt of level n is pending on Cpu.
 * SUCCESS; INVALID_PARAMETER: Vic or Summary NULL; INVALID_CPU: out of
 * range (an offline CPU is read). *Summary is written only on success. */
IRQ_STATUS VicReadSoftwareSummary(const VIC *Vic, uint32_t Cpu, uint32_t *Summary);

/* ---- Claiming (the owner) ----------------------------------------------------------- */

typedef struct _VIC_CLAIM {
    uint32_t Source;        /* VIC_SOURCE_AST for an AST */
    uint32_t Level;
    VIC_SOURCE_KIND Kind;
    uint32_t AstMode;       /* an AST: the mode it is for */
    uint32_t IpiMessages;   /* the IPI source: the messages taken (bit per VIC_IPI_MESSAGE) */
} VIC_CLAIM;

/* Takes the highest deliverable interrupt (highest level; within a level
 * the highest-numbered source), clears its pending bit and puts its level in
 * service, which holds off that level and those below until
 * VicEndOfInterrupt. SUCCESS; INVALID_PARAMETER: Vic or Claim NULL;
 * INVALID_CPU: out of range (an offline CPU's owner may claim what is
 * pending there); NOTHING_PENDING: nothing deliverable (nothing changes). */
IRQ_STATUS VicClaim(VIC *Vic, uint32_t Cpu, VIC_CLAIM *Claim);
/* The same choice under the same rules (level, gates, machine checks, ASTs:
 * what VicIsDeliverable says), the same Claim and statuses, and it clears
 * the pending bit (an AST's ASTSR bit) and counts as claimed like VicClaim,
 * but puts nothing in service: no VicEndOfInterrupt follows, and until the
 * caller changes its level or gates, what is still pending at or below the
 * taken level stays deliverable.
 * Which one: VicClaim for an x86-style controller whose in-service register
 * masks until EOI; VicTakeInterrupt when the emulated CPU masks by itself,
 * as Alpha PALcode raises PS<IPL> to the interrupt's level when it takes one
 * (follow it with VicSetLevel, and lower the level again at REI). It is the
 * cheaper of the two: no end of interrupt follows. */
IRQ_STATUS VicTakeInterrupt(VIC *Vic, uint32_t Cpu, VIC_CLAIM *Claim);
/* Ends the highest level in service (x86 EOI; the Alpha REI that leaves the
 * handler). SUCCESS; INVALID_PARAMETER: Vic NULL; INVALID_CPU: out of range;
 * INVALID_STATE: nothing in service (nothing changes). */
IRQ_STATUS VicEndOfInterrupt(VIC *Vic, uint32_t Cpu);

/* ---- The CPU side (the owner) ------------------------------------------------------- */

typedef enum _VIC_PROCESSOR_MODE {
    VicModeKernel = 0, /* most privileged */
    VicModeExecutive,
    VicModeSupervisor,
    VicModeUser,
    VicModeCount
} VIC_PROCESSOR_MODE;

/* Every call of this part: SUCCESS; INVALID_PARAMETER: Vic NULL;
 * INVALID_CPU: Cpu out of range (an offline CPU's owner may still run
 * them); and the statuses each names. A refused call changes nothing and
 * writes no Previous. */

/* MTPR IPL / SWPIPL / a TPR write. INVALID_IRQL: Level >= LevelCount.
 * Previous (optional) receives the old level. */
IRQ_STATUS VicSetLevel(VIC *Vic, uint32_t Cpu, uint32_t Level, uint32_t *Previous);
/* Previous (optional) receives the old setting. */
IRQ_STATUS VicSetInterruptsEnabled(VIC *Vic, uint32_t Cpu, bool Enabled, bool *Previous);
/* Inside a serialised barrier (no interrupt is taken until it completes). */
IRQ_STATUS VicSetBarrier(VIC *Vic, uint32_t Cpu, bool InBarrier);
/* Inside a PAL (privileged entry) sequence: only machine checks get in. */
IRQ_STATUS VicSetPalMode(VIC *Vic, uint32_t Cpu, bool InPalMode);
/* INVALID_PARAMETER also for a Mode that is not one of the enum. */
IRQ_STATUS VicSetMode(VIC *Vic, uint32_t Cpu, VIC_PROCESSOR_MODE Mode);
/* MTPR ASTEN / ASTSR: Register = (Register & Keep) | Set, 4 bits (one per mode,
 * bit 0 kernel); Previous (optional) receives the old value. NOT_SUPPORTED:
 * a Vic without ASTs (AstLevel 0). */
IRQ_STATUS VicWriteAstEnable(VIC *Vic, uint32_t Cpu, uint32_t Keep, uint32_t Set, uint32_t *Previous);
/* MTPR ASTSR, by the same rule and with the same statuses as
 * VicWriteAstEnable: a bit Set requests an AST for that mode (counted as
 * raised), and it is delivered when ASTEN and the rules allow. */
IRQ_STATUS VicWriteAstSummary(VIC *Vic, uint32_t Cpu, uint32_t Keep, uint32_t Set, uint32_t *Previous);

/* ---- IPIs (any thread) ------------------------------------------------------------ */

typedef enum _VIC_IPI_MESSAGE {
    VicIpiReschedule = 0,
    VicIpiCallFunction,
    VicIpiTlbShootdown,
    VicIpiHalt,
    VicIpiUser, /* VicIpiUser + n for user messages, up to VIC_IPI_MESSAGE_COUNT - 1 */
} VIC_IPI_MESSAGE;
#define VIC_IPI_MESSAGE_COUNT 32u

typedef enum _VIC_IPI_TARGET_KIND {
    VicIpiTargetCpu = 0,
    VicIpiTargetSet,
    VicIpiTargetAll,        /* every online CPU, the sender included */
    VicIpiTargetAllButSelf, /* every online CPU but Cpu (the sender) */
} VIC_IPI_TARGET_KIND;

typedef struct _VIC_IPI_TARGET {
    VIC_IPI_TARGET_KIND Kind;
    uint32_t Cpu;          /* TargetCpu: the target; AllButSelf: the sender */
    const IR_CPU_SET *Cpus; /* TargetSet */
} VIC_IPI_TARGET;

/* Sets Message in each target's message word, then raises the IPI source
 * there (several messages before a claim coalesce into one interrupt; none
 * is lost: the claim takes the whole word; VicClear of the IPI source
 * withdraws them). Checked before anything is sent: SUCCESS;
 * INVALID_PARAMETER (Vic, Target or a Set target's Cpus NULL, message >= 32,
 * unknown kind), NOT_SUPPORTED (no IPI source), INVALID_CPU (a target out of
 * range or offline; an AllButSelf sender out of range), EMPTY_AFFINITY (an
 * empty set). An AllButSelf with nobody else online sends nothing and
 * succeeds. */
IRQ_STATUS VicSendIpi(VIC *Vic, const VIC_IPI_TARGET *Target, uint32_t Message);
/* Messages of a type Cpu has claimed (withdrawn ones are not counted); 0
 * for a NULL Vic, a Cpu or Message out of range. */
uint64_t VicQueryIpiCount(const VIC *Vic, uint32_t Cpu, uint32_t Message);

/* ---- Routes and CPUs (any thread) ------------------------------------------------------ */

/* The source's route (router.h): validated against the Vic's CPUs, then
 * published atomically for raisers. SUCCESS; INVALID_PARAMETER: Vic or
 * Config NULL, or as IrRouteConfigure (an unknown policy); INVALID_VECTOR:
 * unknown source; INVALID_CPU, EMPTY_AFFINITY: as IrRouteValidateConfig
 * against the Vic's online CPUs. A refused route leaves the old one. */
IRQ_STATUS VicSetRoute(VIC *Vic, uint32_t Source, const IR_ROUTE_CONFIG *Config);
/* Any out pointer may be NULL. SUCCESS; INVALID_PARAMETER: Vic NULL;
 * INVALID_VECTOR: unknown source (nothing written). */
IRQ_STATUS VicQueryRoute(const VIC *Vic, uint32_t Source, IR_ROUTING_POLICY *Policy, uint32_t *TargetCpu,
                         IR_CPU_SET *Mask);
/* Takes Cpu offline (Online false) or brings it back. An offline CPU is
 * skipped by routes and refused as a direct target (VicRaiseOnCpu,
 * VicWriteSoftwareRequest, VicSendIpi: INVALID_CPU).
 * Going offline, every device source (VicSourceDevice) pending on Cpu moves
 * to the CPU its route chooses now (the router skips offline CPUs: a
 * FIXED_CPU route goes to the next online CPU of its mask), counted as
 * Migrated on Cpu and as a raise (or a merge) on the CPU it moved to. A
 * BROADCAST copy merges into another online CPU of the broadcast that has
 * the source pending, else moves to the next online CPU of it after Cpu. A
 * device raise that lands on Cpu after the call (its raiser decided before
 * the CPU went offline) moves itself the same way: none is lost, none is
 * delivered twice. What a route with no online CPU left cannot place stays
 * pending on Cpu, and moves when a later call brings some CPU online (every
 * call with Online true looks at every offline CPU).
 * The rest is the CPU's own state and stays pending on it, delivered when
 * it comes back: software interrupts, the IPI source and its messages, the
 * clock, performance counters, power fail, machine checks (the logout is
 * the CPU's own) and ASTs. The owner of an offline CPU may still claim and
 * change its state, and anyone may clear its pending sources (VicClear).
 * src/vic/vic_offline.c has the reasons.
 *   SUCCESS            (also when the CPU already was in that state: the
 *                      moves are made again)
 *   INVALID_PARAMETER  Vic NULL
 *   INVALID_CPU        Cpu out of range (nothing changes) */
IRQ_STATUS VicSetCpuOnline(VIC *Vic, uint32_t Cpu, bool Online);

/* ---- Queries (any thread) ------------------------------------------------------------ */

typedef struct _VIC_CPU_STATE {
    uint32_t Level;
    uint32_t EffectiveLevel; /* max(Level, highest level in service); what LOWEST_PRIORITY reads */
    uint32_t InService;      /* bit n: level n in service */
    bool InterruptsEnabled;
    bool InBarrier;
    bool InPalMode;
    bool Online;
    VIC_PROCESSOR_MODE Mode;
    uint32_t AstEnable;
    uint32_t AstSummary;
} VIC_CPU_STATE;

/* SUCCESS; INVALID_PARAMETER: Vic or State NULL; INVALID_CPU: out of range.
 * State is written only on success. */
IRQ_STATUS VicQueryCpuState(const VIC *Vic, uint32_t Cpu, VIC_CPU_STATE *State);
/* SUCCESS; INVALID_PARAMETER: Vic or Pending NULL; INVALID_VECTOR: unknown
 * source; INVALID_CPU: out of range. *Pending is written only on success. */
IRQ_STATUS VicIsPending(const VIC *Vic, uint32_t Source, uint32_t Cpu, bool *Pending);

typedef struct _VIC_COUNTERS {
    uint64_t Raised;  /* interrupts that became pending */
    uint64_t Merged;  /* raises on a source already pending */
    uint64_t Claimed;
    uint64_t Cleared;
    uint64_t Pending; /* pending now (sources and ASTSR bits) */
    uint64_t Migrated; /* moved to another CPU when this one went offline (VicSetCpuOnline) */
} VIC_COUNTERS;

/* Cpu or VIC_ALL_CPUS. Exact when no call is in flight. SUCCESS;
 * INVALID_PARAMETER: Vic or Counters NULL; INVALID_CPU: Cpu out of range and
 * not VIC_ALL_CPUS. Counters is written only on success. */
IRQ_STATUS VicQueryCounters(const VIC *Vic, uint32_t Cpu, VIC_COUNTERS *Counters);

IRQROUTE_END_DECLS

#endif
