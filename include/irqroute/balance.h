/* SPDX-License-Identifier: MIT */
/*
 * Balance — the interrupt balancer: moves movable interrupts between CPUs so
 * that the most loaded CPU carries as little interrupt load as it can.
 *
 * Two parts (docs/balancer.md says why and how):
 *
 *  - IrBalancePlan, the PLANNER: a pure function over numbers. CPUs (count,
 *    online, banned, free vectors per priority class), interrupts (load,
 *    CPU, affinity, class, pinned) and options in; a list of moves out. It
 *    reads no Ke or Io state, allocates nothing (the caller gives scratch
 *    storage), and gives the same moves for the same input.
 *  - IrBalancer*, the DRIVER: a caller-storage object holding the movable
 *    interrupts (io.h, IoTargetRoutable) it balances. Each IrBalancerRound
 *    reads how often each interrupt ran since the last round
 *    (KeQueryInterruptTotalCount), plans, and moves them (IoSetInterruptTarget).
 *
 * LOAD. An interrupt's load over a window is its count delta times its
 * weight; a CPU's load is the sum over the interrupts on it. One interrupt
 * is never split (it is delivered to one CPU at a time), so no placement
 * can do better than
 *
 *     Bound = max(ceil(total load / eligible CPUs), largest single load)
 *
 * where eligible CPUs are the online CPUs that are not banned, and the total
 * leaves out the interrupts that must stay on a CPU that is not eligible
 * (pinned there, or no eligible CPU in their affinity). The bound is a lower
 * bound, not a promise: affinity masks that crowd heavy interrupts onto few
 * CPUs, pinned interrupts, a class without free vectors, a minimum gain or
 * a cap on moves can keep the maximum above it (a few interrupts of equal
 * size on more CPUs than interrupts also: 3 equal loads on 2 CPUs give 2/3
 * of the total on one CPU, above the mean). With many interrupts per CPU
 * and wide affinity, the planner comes within a few percent of it.
 *
 * HYSTERESIS. A move (or a swap of two interrupts) is made only when it
 * lowers the load of the most loaded CPU by at least the minimum gain, and
 * a round makes at most MaxMoves moves: a load that does not change gets no
 * move in the next round, and a load that jitters by less than the gain
 * stays where it is.
 */
#ifndef IRQROUTE_BALANCE_H
#define IRQROUTE_BALANCE_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "ke.h"
#include "status.h"

IRQROUTE_BEGIN_DECLS

/* ======================================================================== */
/* The planner (src/balance/plan.c)                                         */
/* ======================================================================== */

/* Priority classes of the vectors (vector >> 4 on x86, SDM vol. 3A 11.8.3):
 * an interrupt needs a free vector of its class on the CPU it moves to. */
#define IR_BALANCE_CLASS_COUNT 16u

/* How many vectors of priority class Class are free on Cpu (the planner
 * asks once per destination it considers; a count above what it needs is
 * fine). Called only from within IrBalancePlan. */
typedef uint32_t (*IR_BALANCE_FREE_VECTORS)(void *Context, uint32_t Cpu, uint8_t Class);

/* The CPUs, as the planner sees them. A CPU is ELIGIBLE when it is below
 * Count, in Online and not in Banned: only eligible CPUs receive interrupts,
 * and an interrupt on a CPU that is not eligible is moved off it first. */
typedef struct _IR_BALANCE_CPUS {
    uint32_t Count;                    /* 1 .. IR_MAX_CPUS */
    const IR_CPU_SET *Online;          /* NULL: every CPU below Count */
    const IR_CPU_SET *Banned;          /* NULL: none */
    IR_BALANCE_FREE_VECTORS FreeVectors; /* NULL: no CPU ever runs out */
    void *FreeVectorsContext;
} IR_BALANCE_CPUS;

/* IR_BALANCE_INTERRUPT.Flags */
#define IR_BALANCE_PINNED 0x01u /* never moved (its load still counts where it is) */

/* One interrupt, as the planner sees it. */
typedef struct _IR_BALANCE_INTERRUPT {
    uint64_t Load;               /* this window's count delta x weight */
    const IR_CPU_SET *Affinity;  /* the CPUs it may be moved to; NULL: every CPU */
    uint32_t Cpu;                /* where it is delivered now (< IR_BALANCE_CPUS.Count) */
    uint8_t Class;               /* its vector's priority class (< IR_BALANCE_CLASS_COUNT) */
    uint8_t Flags;               /* IR_BALANCE_PINNED */
} IR_BALANCE_INTERRUPT;

typedef struct _IR_BALANCE_OPTIONS {
    /* A move must lower the relieved CPU's load by at least
     * max(MinimumGain, MinimumGainPercent % of that load), and by more than 0. */
    uint64_t MinimumGain;
    uint32_t MinimumGainPercent; /* 0 .. 100 */
    uint32_t MaxMoves;           /* per round, >= 1 (a swap is two moves) */
    /* false: stop once the most loaded CPU cannot be relieved (every move
     * lowers the maximum). true: then set it aside and relieve the next
     * most loaded, and so on (the rest spread around one CPU that cannot
     * go lower, at the price of moves that leave the maximum as it is). */
    bool SpreadRest;
} IR_BALANCE_OPTIONS;

/* One planned move: Interrupts[Interrupt] from CPU From to CPU To. */
typedef struct _IR_BALANCE_MOVE {
    uint32_t Interrupt;
    uint32_t From;
    uint32_t To;
} IR_BALANCE_MOVE;

/* The planner's result. Moves and MoveCapacity are the caller's (in); the
 * rest is written by IrBalancePlan (out). */
typedef struct _IR_BALANCE_PLAN {
    IR_BALANCE_MOVE *Moves;
    uint32_t MoveCapacity;
    uint32_t MoveCount;
    uint64_t MaxLoadBefore;  /* the most loaded CPU's load, before the moves */
    uint64_t MaxLoadAfter;   /* the same once every move is made */
    uint64_t Bound;          /* max(ceil(mean), largest single load), as above */
    uint32_t Stranded;       /* unpinned interrupts left on a CPU that is not eligible or not in
                                their affinity (no eligible CPU of their affinity with a free vector,
                                or the cap reached first) */
} IR_BALANCE_PLAN;

/* The most interrupts one plan (and one balancer) takes. */
#define IR_BALANCE_MAX_INTERRUPTS 0x00FFFFFFu

/* The scratch storage IrBalancePlan needs for CpuCount CPUs and
 * InterruptCount interrupts, in bytes (0 when either is out of range:
 * CpuCount 0 or above IR_MAX_CPUS, InterruptCount above
 * IR_BALANCE_MAX_INTERRUPTS). Returns no status. */
size_t IrBalanceQueryPlanScratchSize(uint32_t CpuCount, uint32_t InterruptCount);

/* Plans the moves that lower the maximum per-CPU load, deterministically:
 *  1. every unpinned interrupt on a CPU that is not eligible or not in its
 *     affinity moves, heaviest first, to the least loaded eligible CPU of
 *     its affinity with a free vector of its class (ties: lowest CPU);
 *  2. then, repeatedly, the most loaded eligible CPU H (ties: lowest) is
 *     relieved by the move of one of its interrupts to the least loaded
 *     eligible CPU of that interrupt's affinity with a free vector, the one
 *     that lowers max(load of H, load of the destination) most; when no
 *     single move qualifies, by the best swap of one of H's interrupts with
 *     a lighter one elsewhere. A CPU that cannot be relieved by the minimum
 *     gain is set aside and the next one is relieved (so the rest spread
 *     around one huge interrupt); passes repeat until one moves nothing;
 *  3. the moves are each interrupt's final CPU against its first, in index
 *     order, at most MaxMoves (and MoveCapacity) of them.
 * Pinned interrupts never move; an interrupt moves at most once a round; a
 * destination's free vectors are counted down by the moves planned to it
 * (the callback is not asked about an interrupt's own first CPU).
 * Loads are read as given (no interrupt is split): see the bound above.
 * Cost: a bounded number of steps (4 x MaxMoves + 2 x interrupts + 16),
 * each O(CPUs + interrupts on H x CPUs), and O(interrupts on H x
 * interrupts) when a swap is searched (docs/balancer.md). No allocation;
 * callable at any IRQL (the FreeVectors callback permitting).
 *   SUCCESS            Plan's outputs written (MoveCount may be 0)
 *   INVALID_PARAMETER  Cpus, Options or Plan NULL; Interrupts NULL with a
 *                      count; Plan->Moves NULL with a capacity; MaxMoves 0;
 *                      MinimumGainPercent above 100; an interrupt's Class
 *                      out of range or Flags with unknown bits; the loads'
 *                      sum above UINT64_MAX; InterruptCount above
 *                      IR_BALANCE_MAX_INTERRUPTS
 *   INVALID_CPU        Cpus->Count 0 or above IR_MAX_CPUS, or an
 *                      interrupt's Cpu at or above it
 *   EMPTY_AFFINITY     no CPU is eligible
 *   BUFFER_TOO_SMALL   Scratch NULL or ScratchSize below
 *                      IrBalanceQueryPlanScratchSize
 * On failure nothing is written (Plan, Moves and the scratch untouched). */
IRQ_STATUS IrBalancePlan(const IR_BALANCE_CPUS *Cpus, const IR_BALANCE_INTERRUPT *Interrupts,
                         uint32_t InterruptCount, const IR_BALANCE_OPTIONS *Options, void *Scratch,
                         size_t ScratchSize, IR_BALANCE_PLAN *Plan);

/* ======================================================================== */
/* The balancer (src/balance/balancer.c)                                    */
/* ======================================================================== */

/* What the balancer does with one interrupt (irqbalance's per-IRQ policy). */
typedef enum _IR_BALANCE_HINT {
    IrBalanceHintBalance = 0, /* measured and moved (the default) */
    IrBalanceHintPin,         /* measured, never moved: its load counts on its CPU */
    IrBalanceHintIgnore,      /* neither measured nor moved (irqbalance's banned IRQ) */
    IrBalanceHintCount
} IR_BALANCE_HINT;

/* The defaults (Options NULL; docs/balancer.md, "Options"). */
#define IR_BALANCER_DEFAULT_GAIN_PERCENT 2u
#define IR_BALANCER_DEFAULT_MAX_MOVES 64u

typedef struct _IR_BALANCER_OPTIONS {
    bool OneShot;                /* balance in the first round that plans, then only sample
                                    (irqbalance --oneshot) */
    const IR_CPU_SET *Banned;    /* CPUs that get no interrupt (irqbalance --banned-cpus);
                                    copied; NULL: none */
    uint64_t MinimumGain;        /* as IR_BALANCE_OPTIONS */
    uint32_t MinimumGainPercent; /* as IR_BALANCE_OPTIONS */
    uint32_t MaxMovesPerRound;   /* as IR_BALANCE_OPTIONS.MaxMoves (>= 1) */
    bool SpreadRest;             /* as IR_BALANCE_OPTIONS (default false) */
    /* Free vectors per CPU and class; NULL: the balancer's own count from
     * KeIrqlOfVector and KeIsVectorAllocated (docs/balancer.md: it cannot
     * tell a reserved vector inside a class from a free one, so a move it
     * plans may be refused, and is then reported). */
    IR_BALANCE_FREE_VECTORS FreeVectors;
    void *FreeVectorsContext;
} IR_BALANCER_OPTIONS;

/* The balancer object lives in the caller's storage; opaque. */
typedef struct _IR_BALANCER IR_BALANCER;

/* One move a round made or tried. */
typedef struct _IR_BALANCER_MOVE {
    KINTERRUPT *Interrupt;
    uint32_t From;
    uint32_t To;
    IRQ_STATUS Status;   /* IoSetInterruptTarget's: SUCCESS, or why it was skipped */
} IR_BALANCER_MOVE;

/* What one IrBalancerRound did. Moves and MoveCapacity are the caller's
 * (in, Moves may be NULL with capacity 0); the rest is written (out). */
typedef struct _IR_BALANCE_REPORT {
    IR_BALANCER_MOVE *Moves;  /* the first MoveCapacity moves tried */
    uint32_t MoveCapacity;
    uint32_t Round;           /* 1 for the first round */
    bool Planned;             /* false: the round only sampled (the first, or OneShot spent) */
    uint32_t MovesTried;      /* all of them, even beyond MoveCapacity */
    uint32_t MovesFailed;     /* IoSetInterruptTarget refused (the interrupt stays) */
    uint32_t MovesRetryLater; /* of those, refused for now: INVALID_STATE (a move of it still in
                                 progress) or VECTOR_EXHAUSTED (no vector of its class on the
                                 destination); the next round plans them again from where they are */
    uint32_t Skipped;         /* interrupts not balanced this round: not sampled yet, or no longer
                                 connected (IoQueryInterruptTarget failed) */
    uint32_t Stranded;        /* as IR_BALANCE_PLAN */
    uint64_t MaxLoadBefore;   /* over this round's window */
    uint64_t MaxLoadAfter;    /* the same loads with the successful moves made */
    uint64_t Bound;           /* as IR_BALANCE_PLAN */
} IR_BALANCE_REPORT;

/* The storage a balancer of up to MaxInterrupts interrupts needs on this
 * system (it depends on KeQueryProcessorCount).
 *   SUCCESS
 *   INVALID_PARAMETER  Size NULL, MaxInterrupts 0 or above
 *                      IR_BALANCE_MAX_INTERRUPTS
 *   NOT_INITIALIZED    no KeInitializeSystem
 * *Size is written only on success. */
IRQ_STATUS IrBalancerQueryStorageSize(uint32_t MaxInterrupts, size_t *Size);

/* Builds a balancer in Storage (aligned for uint64_t, Size bytes from
 * IrBalancerQueryStorageSize), empty, with a copy of Options (NULL: the
 * defaults of docs/balancer.md: MinimumGainPercent 2, MaxMovesPerRound 64,
 * nothing banned, not one-shot).
 *   SUCCESS            *Balancer is the object (at Storage)
 *   INVALID_PARAMETER  Storage or Balancer NULL, Storage misaligned,
 *                      MaxInterrupts 0 or above IR_BALANCE_MAX_INTERRUPTS,
 *                      MaxMovesPerRound 0, MinimumGainPercent above 100
 *   BUFFER_TOO_SMALL   Size below IrBalancerQueryStorageSize(MaxInterrupts)
 *   NOT_INITIALIZED    no KeInitializeSystem
 * Nothing is written on failure. The storage is the caller's to free once it
 * is done with the balancer (there is nothing to tear down). */
IRQ_STATUS IrBalancerInitialize(void *Storage, size_t Size, uint32_t MaxInterrupts,
                                const IR_BALANCER_OPTIONS *Options, IR_BALANCER **Balancer);

/* Adds a movable interrupt (io.h, IoTargetRoutable) with its hint and
 * weight (its load is count delta x Weight). It is only sampled in the
 * round after it is added. The caller removes it before it disconnects it.
 *   SUCCESS
 *   INVALID_PARAMETER      Balancer or Interrupt NULL, Hint out of range,
 *                          Weight 0
 *   ALREADY_CONNECTED      the interrupt is in the balancer already
 *   INSUFFICIENT_RESOURCES the balancer holds MaxInterrupts already
 *   NOT_SUPPORTED, NOT_CONNECTED, ACCESS_DENIED  as IoQueryInterruptTarget:
 *                          not a movable interrupt Io holds
 * Nothing changes on failure. */
IRQ_STATUS IrBalancerAddInterrupt(IR_BALANCER *Balancer, KINTERRUPT *Interrupt, IR_BALANCE_HINT Hint,
                                  uint32_t Weight);

/* Removes an interrupt added by IrBalancerAddInterrupt (it is not read: it
 * may be disconnected already).
 *   SUCCESS
 *   INVALID_PARAMETER  Balancer or Interrupt NULL
 *   NOT_CONNECTED      the interrupt is not in the balancer
 * Nothing changes on failure. */
IRQ_STATUS IrBalancerRemoveInterrupt(IR_BALANCER *Balancer, KINTERRUPT *Interrupt);

/* One balancing round: each interrupt's count since the last round
 * (KeQueryInterruptTotalCount) times its weight is its load,
 * charged to the CPU it is delivered to now; IrBalancePlan plans, and each
 * move is made with IoSetInterruptTarget (a move Io refuses is reported
 * with its status and skipped; the round goes on: INVALID_STATE and
 * VECTOR_EXHAUSTED are counted in MovesRetryLater, and the next round plans
 * the interrupt again from where it stayed). The first round only
 * samples, as does each round after a OneShot balancer's first plan.
 * Interrupts whose routing policy moves them itself (ROUND_ROBIN, LOWEST)
 * are left out (neither charged to a CPU nor moved), and so are those of
 * hint IrBalanceHintIgnore. When every online CPU is banned the round only
 * samples (Planned false). Online CPUs are KeQueryOnlineProcessors'.
 * Callers: one at a time per balancer (every IrBalancer* call on it), from
 * thread context (not an ISR: the round plans over every interrupt and CPU); it takes
 * no lock of its own.
 *   SUCCESS            *Report written
 *   INVALID_PARAMETER  Balancer or Report NULL, Report->Moves NULL with a
 *                      capacity
 *   NOT_INITIALIZED    Ke was shut down, or re-initialised with another
 *                      processor count, since IrBalancerInitialize
 * On failure nothing changes (no sample is taken). */
IRQ_STATUS IrBalancerRound(IR_BALANCER *Balancer, IR_BALANCE_REPORT *Report);

IRQROUTE_END_DECLS

#endif
