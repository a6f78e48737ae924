/* SPDX-License-Identifier: MIT */
/*
 * Vic internals shared by the src/vic/vic*.c files.
 *
 * The check word's layout (Shift, Direct, Words, Summary, Ast) is described
 * once, in include/irqroute/vic.h (THE CHECK WORD), with its constants
 * (VIC_CHECK_*); the accessors below are the only code here that names its
 * bits. This comment says how the bits change hands.
 *
 * OWNER BITS (Shift and Ast). The owner computes them from its own state
 * (the Control word below; VicpOwnerBits) and applies the difference with
 * one XOR (it is the only writer of those bits, so the word it loads holds
 * their true current value), or folds it into the compare-and-swap of a
 * claim; Direct, Words and Summary bits are only ever ORed in or taken out
 * by compare-and-swap, so the owner's XOR and the others' changes never undo
 * each other.
 *
 * DIRECT SOURCES. The lowest slots of each level (slot 0 of every level
 * first, then slot 1, and so on, from the top level down, while Direct has
 * bits: vic.c) keep their pending bit in the check word itself, next to
 * their level's Summary bit. A raise sets both with one compare-and-swap
 * (VicpRaiseDirect: it needs the old word); taking or clearing one is one
 * compare-and-swap that drops its Direct bit, and the Summary bit with it
 * when nothing else of the level is pending.
 *
 * PENDING WORDS (VICP_CPU.Pending[level]), one per level, for the others:
 *   bits  0..31  one per source of the level (its slot; direct slots unused)
 *   bits 32..63  raises since the word was last harvested
 * A raise is one compare-and-swap that sets the bit and adds 1 to the count,
 * so the Raised counter costs no second atomic. Claim and clear reset the
 * count in the compare-and-swap that clears their bit and add it to their
 * own total. The count never exceeds 32: a bit can go 0 -> 1 again only after
 * a claim or a clear took it back to 0, and each of those harvests. A direct
 * source's raise is counted when its Direct bit is taken or cleared (one
 * each), or while it is set.
 *
 * Within a level the highest slot goes first; direct slots are the lowest,
 * so a pending word with bits beats the level's Direct bits.
 *
 * WORDS PROTOCOL. The Words bit lets the owner take a lone direct source
 * without looking at its level's pending word (vic_pending.c: the
 * lone-direct fast path). A raiser that makes a pending word non-empty sets
 * Words with its level's Summary bit (and the summary protocol's re-checks
 * set both back); whoever takes out the last Summary bit takes Words out in
 * the same compare-and-swap. So Words is set whenever a pending word has
 * bits, on the same terms as Summary: once the calls have returned. It may
 * be set with every word empty (Summary bits of other levels were left when
 * a word emptied); the owner then takes the path that looks at the word,
 * until the word goes with the last Summary bit.
 *
 * SUMMARY PROTOCOL. Two halves, each a store then a load on two words
 * (all seq_cst, so of a store and the other side's load one sees the
 * other):
 *  - a claimer, clearer or migration that leaves a level empty (no pending
 *    bits, no Direct bits) takes the Summary bit off by compare-and-swap
 *    (never while a Direct bit of the level is set), then looks at the
 *    pending word again and sets the bit back if a raise got in between;
 *  - whoever sets the bit, or keeps it as it takes the level's last Direct
 *    bit, because the word had bits (a raiser that made the word non-empty,
 *    the set-back above, a Direct bit's take) looks at the word after its
 *    own operation and, finding it empty, does the emptier's part above: an
 *    emptier may have taken those bits, and found the bit off or held by the
 *    Direct bit, before that operation. (A raiser's look is one load of the
 *    line its compare-and-swap just wrote, on the path that ORs the bit in.)
 * So the last to change a Summary bit, or to keep it for the word, looked at
 * the word after doing so: once the calls have returned, a level's Summary
 * bit is set exactly when the level has a pending source. While they race,
 * the check may say "deliverable" once for nothing (a raiser's OR after the
 * emptier's look, before its own); VicClaim, finding the level empty,
 * repairs it the same way.
 *
 * OFFLINE PROTOCOL (vic_offline.c). A raiser may have read a route's
 * mirror or the online words before VicSetCpuOnline took the CPU offline and
 * set its bit there after the call swept the CPU. So: VicSetCpuOnline sets
 * the CPU's Offline flag, then sweeps its pending device sources; a raiser
 * that set a pending bit (0 -> 1: a merge sets nothing) loads the flag
 * after its compare-and-swap and, finding it set, migrates what it raised
 * itself. Both sides are seq_cst (a store then a load on two words, as in
 * the summary protocol), so at least one of them sees the bit; both may,
 * and the take (a compare-and-swap, as VicClear's) lets one move it. The
 * raiser's cost is one load of a line it has just written, on the 0 -> 1
 * path only.
 *
 * FAST PATHS (IRQROUTE_VIC_FAST_PATHS, 1 unless the build sets 0): the
 * FIXED_CPU mirror a raise reads instead of asking the router
 * (vic_route.c), the lone-direct and top-level claims that decide from the
 * word as loaded (vic_pending.c), and the end of interrupt that undoes its
 * claim's recorded change of the owner bits (vic_gates.c). Each one gives
 * what its general path gives; with 0 they are compiled out, and the tests
 * and the fuzzer must pass either way.
 */
#ifndef IRQROUTE_VICP_H
#define IRQROUTE_VICP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/router.h>
#include <irqroute/vic.h>

#include "irassert.h"
#include "irlock.h"

#ifndef IRQROUTE_VIC_FAST_PATHS
#define IRQROUTE_VIC_FAST_PATHS 1
#endif

#define VICP_LINE 64u
#define VICP_NONE 0xFFFFu
/* The Shift and Ast bits: the owner's alone. */
#define VICP_OWNER_BITS (VIC_CHECK_SHIFT_MASK | VIC_CHECK_AST_BIT)
/* A pending word (below): slot bits, then the raise count. */
#define VICP_SLOT_BITS 0xFFFFFFFFull
#define VICP_RAISE_COUNT_SHIFT 32u
#define VICP_RAISE_ONE ((uint64_t)1 << VICP_RAISE_COUNT_SHIFT)

/* Gate flags: any set holds off everything but machine checks. */
#define VICP_GATE_INTERRUPTS_OFF 1u
#define VICP_GATE_BARRIER 2u
#define VICP_GATE_PAL_MODE 4u

/* The owner's state, packed in one word (VICP_CPU.Control) so that the owner
 * reads it with one load and other threads (queries, the router's level and
 * load readers) see a consistent snapshot:
 *   bits  0..31  levels in service
 *   bits 32..36  current level (IPL / TPR)
 *   bits 40..42  gate flags
 *   bits 44..45  processor mode
 *   bits 48..51  ASTEN
 *   bits 52..55  ASTSR */
#define VICP_LEVEL_SHIFT 32u
#define VICP_LEVEL_MASK 0x1Fu
#define VICP_GATES_SHIFT 40u
#define VICP_GATES_MASK 0x7u
#define VICP_MODE_SHIFT 44u
#define VICP_MODE_MASK 0x3u
#define VICP_ASTEN_SHIFT 48u
#define VICP_ASTSR_SHIFT 52u
#define VICP_AST_MASK 0xFu

static inline uint32_t VicpField(uint64_t Control, uint32_t Shift, uint32_t Mask)
{
    return (uint32_t)(Control >> Shift) & Mask;
}

static inline uint64_t VicpWithField(uint64_t Control, uint32_t Shift, uint32_t Mask, uint32_t Value)
{
    return (Control & ~((uint64_t)Mask << Shift)) | ((uint64_t)(Value & Mask) << Shift);
}

static inline uint32_t VicpInService(uint64_t Control)
{
    return (uint32_t)Control;
}

static inline uint32_t VicpCurrentLevel(uint64_t Control)
{
    return VicpField(Control, VICP_LEVEL_SHIFT, VICP_LEVEL_MASK);
}

static inline uint32_t VicpGates(uint64_t Control)
{
    return VicpField(Control, VICP_GATES_SHIFT, VICP_GATES_MASK);
}

static inline uint32_t VicpMode(uint64_t Control)
{
    return VicpField(Control, VICP_MODE_SHIFT, VICP_MODE_MASK);
}

static inline uint32_t VicpAstEnable(uint64_t Control)
{
    return VicpField(Control, VICP_ASTEN_SHIFT, VICP_AST_MASK);
}

static inline uint32_t VicpAstSummary(uint64_t Control)
{
    return VicpField(Control, VICP_ASTSR_SHIFT, VICP_AST_MASK);
}

static inline uint64_t VicpWithCurrentLevel(uint64_t Control, uint32_t Level)
{
    return VicpWithField(Control, VICP_LEVEL_SHIFT, VICP_LEVEL_MASK, Level);
}

static inline uint64_t VicpWithGates(uint64_t Control, uint32_t Gates)
{
    return VicpWithField(Control, VICP_GATES_SHIFT, VICP_GATES_MASK, Gates);
}

static inline uint64_t VicpWithMode(uint64_t Control, uint32_t Mode)
{
    return VicpWithField(Control, VICP_MODE_SHIFT, VICP_MODE_MASK, Mode);
}

static inline uint64_t VicpWithAstSummary(uint64_t Control, uint32_t Summary)
{
    return VicpWithField(Control, VICP_ASTSR_SHIFT, VICP_AST_MASK, Summary);
}

/* Fixed mirrors the source's route while it is FIXED_CPU to an online CPU
 * (vic_route.c keeps it so under RouteLock), so that a raise decides with
 * one load instead of a latch read and an online test, and finds the
 * target's block without multiplying by the CPU stride: the target CPU in
 * the low half, the byte offset of its block (from the VIC) in the high
 * half; one 64-bit word, so a raiser sees one whole mirror. VICP_NOT_FIXED
 * in the low half (any other policy, an offline target, a hole): ask the
 * router. */
#define VICP_NOT_FIXED 0xFFFFFFFFu
typedef struct _VICP_SOURCE {
    uint8_t Level; /* 0: a hole */
    uint8_t Slot;
    uint8_t Kind;
    uint32_t SlotBit;   /* a pending-word source: its bit in its level's pending word (1 << Slot) */
    _Atomic uint64_t Fixed;
    uint64_t DirectBit; /* its Direct bit in the check word; 0: it has a pending-word bit */
    /* What its raise ORs into the check word: a direct source, its Direct
     * bit and its level's Summary bit (together); any other, its level's
     * Summary bit and Words (when its pending word was empty). */
    uint64_t RaiseBits;
} VICP_SOURCE;
_Static_assert(sizeof(VICP_SOURCE) == 32, "a source's entry is found with a shift: keep it 32 bytes");

/* What a take of a Direct bit answers, found by the bit's number with one load. */
typedef struct _VICP_DIRECT_ANSWER {
    uint16_t Source;
    uint8_t Level;
    uint8_t Kind;
} VICP_DIRECT_ANSWER;

typedef struct _VICP_CPU {
    /* Line 0: the check word, and the IPI messages (their sender raises the
     * IPI source next, writing the line anyway). Nothing else: the owner
     * loads the check word on every instruction, and each write to its line
     * by another thread costs that load a miss. */
    _Alignas(VICP_LINE) _Atomic uint64_t State;
    _Atomic uint32_t IpiMessages;
    /* Nonzero while the CPU is offline (VicSetCpuOnline writes it, rarely).
     * A raise that set a pending bit here reads it next, from the line its
     * compare-and-swap just brought in: the OFFLINE PROTOCOL below. */
    _Atomic uint32_t Offline;
    /* The counters raisers and clearers add to, on their own line: a raise
     * on a source still pending writes nothing but Merged, so raisers that
     * keep finding their sources pending (a busy CPU) leave the check
     * word's line alone. */
    _Alignas(VICP_LINE) _Atomic uint64_t Merged;
    _Atomic uint64_t Cleared;
    _Atomic uint64_t Migrated;               /* taken off by an offline migration (vic_offline.c) */
    _Atomic uint64_t RaisedHarvestedByClear; /* by clears and migrations */
    /* Then the owner's line: its state (atomic so that queries from other threads
     * and the router's readers are not data races; only the owner writes). */
    _Alignas(VICP_LINE) _Atomic uint64_t Control;
    _Atomic uint64_t Claimed;
    _Atomic uint64_t RaisedByOwner; /* harvested by claims, plus ASTSR bits set */
    /* Takes and claims that harvested one raise (every direct source's, and
     * a pending-word source's raised once since its word was last
     * harvested): each one raise and one claim, so one store, not two. */
    _Atomic uint64_t TakenOnce;
    /* The end of interrupt that undoes the last claim whose level went above
     * everything in service: when Control is UndoKey again, the end of
     * interrupt XORs UndoOwnerBits into the check word (the owner bits after
     * that claim to those before it) without working them out. Owner only. */
    uint64_t UndoKey;
    uint64_t UndoOwnerBits;
    _Atomic uint64_t IpiCounts[VIC_IPI_MESSAGE_COUNT];
    /* Then one pending word per level. */
    _Alignas(VICP_LINE) _Atomic uint64_t Pending[];
} VICP_CPU;

/* vic.h's VicLoadCheckWord reads State as eight plain bytes with an atomic
 * builtin (no _Atomic in a public header): State must come first and be
 * laid out as a uint64_t is. */
_Static_assert(offsetof(VICP_CPU, State) == 0, "the check word is the first member of a CPU's block");
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t) && _Alignof(_Atomic uint64_t) == _Alignof(uint64_t),
               "the check word must be layout-compatible with vic.h's view of it");

/* The Vic's header. The VIC pointer callers hold is not its address: it is
 * the start of the storage, where vic.h's VIC_DELIVERY_VIEW and its table of
 * check-word addresses lie, so that VicIsDeliverable finds CPU n's word with
 * one load at a small constant offset from the pointer and no multiply; the
 * header follows the table (vic.c has the layout). The public entry points
 * convert (VicpOf) before anything else; everything inside works on the
 * header. */
struct _VIC {
    uint32_t CpuCount;
    uint32_t LevelCount;
    uint32_t SourceCount;
    uint32_t CpuWords;           /* words of a CPU set that can name one of our CPUs */
    uint32_t AstLevel;
    uint32_t IpiSource;          /* VICP_NONE: no IPIs */
    uint32_t MachineCheckLevels; /* levels that override every gate and mask */
    uint32_t MachineCheckThreshold; /* the lowest machine-check level; VIC_CHECK_THRESHOLD_NONE: none */
    uint64_t DirectOfLevel[VIC_MAX_LEVELS]; /* the Direct bits of each level's direct sources */
    VICP_DIRECT_ANSWER DirectAnswer[VIC_CHECK_DIRECT_FIRST + VIC_CHECK_DIRECT_COUNT]; /* by Direct bit number */
    uint64_t IpiDirectBit;                  /* the IPI source's Direct bit, if it has one */
    uint16_t SoftwareSource[VIC_MAX_LEVELS];
    uint16_t SourceOfSlot[VIC_MAX_LEVELS][VIC_MAX_SOURCES_PER_LEVEL];
    uint8_t KindOfSlot[VIC_MAX_LEVELS][VIC_MAX_SOURCES_PER_LEVEL]; /* a take fills its claim without a second look-up */
    PVIC_WAKE_ROUTINE Wake;
    void *WakeContext;
    bool WakeOnPending;
    unsigned char *CpuBlocks;
    size_t CpuStride;
    VIC_DELIVERY_VIEW *View; /* what callers hold */
    unsigned char *Routes;
    size_t RouteStride;
    IR_ROUTING_INPUTS RoutingInputs;
    IR_LOCK RouteLock; /* VicSetRoute: keeps a route and its Fixed mirror in step */
    _Alignas(VICP_LINE) _Atomic uint64_t Online[IR_CPU_SET_WORDS];
};

/* The header of the Vic a caller's pointer names: the view says how far
 * on it starts (NULL for NULL, so that the entry points' argument checks
 * stay as they were; the test folds into theirs). */
static inline VIC *VicpOf(VIC *Handle)
{
    VIC_DELIVERY_VIEW *View = (VIC_DELIVERY_VIEW *)(void *)Handle;
    return View != NULL ? (VIC *)(void *)((unsigned char *)View + View->HeaderOffset) : NULL;
}

static inline const VIC *VicpOfConst(const VIC *Handle)
{
    const VIC_DELIVERY_VIEW *View = (const VIC_DELIVERY_VIEW *)(const void *)Handle;
    return View != NULL ? (const VIC *)(const void *)((const unsigned char *)View + View->HeaderOffset) : NULL;
}

/* The source table follows the header at a fixed offset (vic.c's layout),
 * so that a raise finds its entry without loading a pointer first. */
#define VICP_SOURCES_OFFSET ((sizeof(VIC) + VICP_LINE - 1u) & ~(size_t)(VICP_LINE - 1u))

static inline VICP_SOURCE *VicpSourceAt(VIC *Vic, uint32_t Source)
{
    return (VICP_SOURCE *)(void *)((unsigned char *)Vic + VICP_SOURCES_OFFSET) + Source;
}

static inline const VICP_SOURCE *VicpSourceOf(const VIC *Vic, uint32_t Source)
{
    return (const VICP_SOURCE *)(const void *)((const unsigned char *)Vic + VICP_SOURCES_OFFSET) + Source;
}

/* The number of a source from its entry. */
static inline uint32_t VicpSourceNumber(const VIC *Vic, const VICP_SOURCE *Entry)
{
    return (uint32_t)(Entry - VicpSourceOf(Vic, 0));
}

static inline VICP_CPU *VicpCpu(const VIC *Vic, uint32_t Cpu)
{
    return (VICP_CPU *)(void *)(Vic->CpuBlocks + (size_t)Cpu * Vic->CpuStride);
}

static inline IR_ROUTE *VicpRoute(const VIC *Vic, uint32_t Source)
{
    return (IR_ROUTE *)(void *)(Vic->Routes + (size_t)Source * Vic->RouteStride);
}

static inline bool VicpIsSource(const VIC *Vic, uint32_t Source)
{
    return Source < Vic->SourceCount && VicpSourceOf(Vic, Source)->Level != 0;
}

static inline bool VicpIsOnline(const VIC *Vic, uint32_t Cpu)
{
    return (atomic_load_explicit(&Vic->Online[Cpu / 64u], memory_order_relaxed) >> (Cpu % 64u)) & 1u;
}

/* ---- The check word's accessors (its layout: vic.h, THE CHECK WORD) ---------------- */

/* Level's Summary bit. */
static inline uint64_t VicpSummaryBit(uint32_t Level)
{
    return (uint64_t)1 << (VIC_CHECK_SUMMARY_BASE + Level);
}

/* The Summary bits that are set, in place. */
static inline uint64_t VicpSummaryBits(uint64_t State)
{
    return State & VIC_CHECK_SUMMARY_BITS;
}

/* The levels with something pending: bit n for level n. */
static inline uint32_t VicpSummaryLevels(uint64_t State)
{
    return (uint32_t)(State >> VIC_CHECK_SUMMARY_BASE) & ~1u;
}

/* The level of the lowest Summary bit (State has one). */
static inline uint32_t VicpLowestSummaryLevel(uint64_t State)
{
    return (uint32_t)__builtin_ctzll(VicpSummaryBits(State)) - VIC_CHECK_SUMMARY_BASE;
}

/* The Direct bits that are set. */
static inline uint64_t VicpDirectBits(uint64_t State)
{
    return State & VIC_CHECK_DIRECT_BITS;
}

/* Neither Ast nor Words is set (one test of both). */
static inline bool VicpNoAstNorWords(uint64_t State)
{
    return (State & (VIC_CHECK_AST_BIT | VIC_CHECK_WORDS_BIT)) == 0;
}

static inline bool VicpAstEligible(uint64_t State)
{
    return (State & VIC_CHECK_AST_BIT) != 0;
}

/* Words goes with the last Summary bit (the words protocol). */
static inline uint64_t VicpWithWordsBitTidied(uint64_t State)
{
    return VicpSummaryBits(State) != 0 ? State : State & ~VIC_CHECK_WORDS_BIT;
}

/* The word with no Direct and no Summary bit (nor Words, which goes with
 * the last Summary bit). */
static inline uint64_t VicpWithoutPending(uint64_t State)
{
    return State & ~(VIC_CHECK_DIRECT_BITS | VIC_CHECK_SUMMARY_BITS | VIC_CHECK_WORDS_BIT);
}

/* What a pending word with bits asks of the check word: its level's Summary
 * bit and Words. Every OR for a pending word (a raise, the summary
 * protocol's re-checks) sets these. */
static inline uint64_t VicpWordSummaryBits(uint32_t Level)
{
    return VicpSummaryBit(Level) | VIC_CHECK_WORDS_BIT;
}

/* T, the lowest level enabled now (1 .. 32). */
static inline uint32_t VicpThreshold(uint64_t State)
{
    return VicCheckShift(State) - VIC_CHECK_SUMMARY_BASE;
}

/* The Shift field for a threshold (1 .. 32). */
static inline uint64_t VicpShiftField(uint32_t Threshold)
{
    return (uint64_t)(Threshold + VIC_CHECK_SUMMARY_BASE);
}

/* The word with the threshold T replaced. */
static inline uint64_t VicpWithThreshold(uint64_t State, uint32_t Threshold)
{
    return (State & ~(uint64_t)VIC_CHECK_SHIFT_MASK) | VicpShiftField(Threshold);
}

static inline uint64_t VicpWithoutAst(uint64_t State)
{
    return State & ~VIC_CHECK_AST_BIT;
}

/* The owner bits (Shift and Ast) of a word. */
static inline uint64_t VicpOwnerBitsOf(uint64_t State)
{
    return State & VICP_OWNER_BITS;
}

static inline bool VicpDeliverable(uint64_t State)
{
    return VicCheckDeliverable(State);
}

/* The levels with something pending that may be delivered now. */
static inline uint32_t VicpDeliverableLevels(uint64_t State)
{
    uint32_t Threshold = VicpThreshold(State);
    return (uint32_t)(((uint64_t)VicpSummaryLevels(State) >> Threshold) << Threshold);
}

/* ---- A pending word's accessors ------------------------------------------------------ */

/* The pending sources of a pending word: bit n for slot n. */
static inline uint32_t VicpPendingSlots(uint64_t Word)
{
    return (uint32_t)(Word & VICP_SLOT_BITS);
}

/* The raises counted in a pending word since it was last harvested. */
static inline uint64_t VicpPendingRaises(uint64_t Word)
{
    return Word >> VICP_RAISE_COUNT_SHIFT;
}

/* The word without Slot's bit, its raise count harvested (reset). */
static inline uint64_t VicpPendingWithout(uint64_t Word, uint32_t Slot)
{
    return (Word & ~((uint64_t)1 << Slot)) & VICP_SLOT_BITS;
}

/* The SWAR population count (GCC's builtin needs libgcc without -mpopcnt). */
static inline uint32_t VicpPopulation(uint64_t Word)
{
    Word = Word - ((Word >> 1) & 0x5555555555555555ull);
    Word = (Word & 0x3333333333333333ull) + ((Word >> 2) & 0x3333333333333333ull);
    Word = (Word + (Word >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (uint32_t)((Word * 0x0101010101010101ull) >> 56);
}

/* Bits != 0. Written as clz ^ 31 (equal to 31 - clz here) so that x86
 * compilers emit a bare BSR. */
static inline uint32_t VicpHighestBit(uint32_t Bits)
{
    return (uint32_t)__builtin_clz(Bits) ^ 31u;
}

static inline uint32_t VicpHighestBitOrZero(uint32_t Bits)
{
    return Bits != 0 ? VicpHighestBit(Bits) : 0u;
}

/* The effective level: the current level, or the highest level in service
 * if that is higher (x86: PPR = max(TPR, ISR class)). */
static inline uint32_t VicpEffectiveLevel(uint64_t Control)
{
    uint32_t Level = VicpCurrentLevel(Control);
    uint32_t Serving = VicpHighestBitOrZero(VicpInService(Control));
    return Serving > Level ? Serving : Level;
}

/* Modes whose ASTs the current mode may take: M <= Mode (kernel 0 .. user 3). */
static inline uint32_t VicpAstModesAllowed(uint32_t Mode)
{
    return (2u << Mode) - 1u;
}

/* Requested, enabled and allowed in the current mode. */
static inline uint32_t VicpEligibleAstModes(uint64_t Control)
{
    return VicpAstSummary(Control) & VicpAstEnable(Control) &
           VicpAstModesAllowed(VicpMode(Control));
}

/* The owner bits of the check word for an owner state (vic_gates.c says why). */
static inline uint64_t VicpOwnerBits(const VIC *Vic, uint64_t Control)
{
    uint32_t Effective = VicpEffectiveLevel(Control);
    bool Open = VicpGates(Control) == 0;
    uint32_t Threshold = Open ? Effective + 1u : VIC_CHECK_THRESHOLD_NONE;
    if (Threshold > Vic->MachineCheckThreshold)
        Threshold = Vic->MachineCheckThreshold;
    uint64_t Bits = VicpShiftField(Threshold);
    if (Open && Effective < Vic->AstLevel && VicpEligibleAstModes(Control) != 0)
        Bits |= VIC_CHECK_AST_BIT;
    return Bits;
}

/* Debug checks of a check word as some atomic operation left it: every
 * Direct bit that is set has its level's Summary bit set too (a raise sets
 * both in one compare-and-swap; a Summary bit is taken out only with the
 * level's last Direct bit or while the level has none: DIRECT SOURCES and
 * SUMMARY PROTOCOL above). At most VIC_CHECK_DIRECT_COUNT bits to look at. */
static inline bool VicpDirectBitsHaveSummary(const VIC *Vic, uint64_t State)
{
    uint64_t Direct = VicpDirectBits(State);
    while (Direct != 0) {
        uint32_t Bit = (uint32_t)__builtin_ctzll(Direct);
        Direct &= Direct - 1u;
        if ((State & VicpSummaryBit(Vic->DirectAnswer[Bit].Level)) == 0)
            return false;
    }
    return true;
}

/* Publishes the owner's new state and brings the owner bits of the check
 * word in line with it. Only the owner writes the owner bits, so the value
 * it loads is theirs now; the XOR leaves the bits others set or take out
 * alone. */
static inline __attribute__((always_inline)) void VicpOwnerUpdate(const VIC *Vic, VICP_CPU *Cpu,
                                                                   uint64_t NewControl)
{
    atomic_store_explicit(&Cpu->Control, NewControl, memory_order_relaxed);
    uint64_t Current = VicpOwnerBitsOf(atomic_load_explicit(&Cpu->State, memory_order_relaxed));
    uint64_t Wanted = VicpOwnerBits(Vic, NewControl);
    if (Current != Wanted)
        atomic_fetch_xor_explicit(&Cpu->State, Current ^ Wanted, memory_order_seq_cst);
    /* Nobody else writes the owner bits: they now say what Control says. */
    IR_ASSERT(VicpOwnerBitsOf(atomic_load_explicit(&Cpu->State, memory_order_relaxed)) == Wanted);
    IR_ASSERT(VicpDirectBitsHaveSummary(Vic, atomic_load_explicit(&Cpu->State, memory_order_relaxed)));
}

/* vic_pending.c: the wake-up decision, when a wake routine is set. */
void VicpWake(const VIC *Vic, uint32_t Cpu, uint64_t Before, uint64_t SummaryBit);

/* vic_pending.c: a level's pending word was found empty (by an emptier, or
 * by a raiser whose bit was taken before it looked): the SUMMARY PROTOCOL's
 * take of the Summary bit and its looks after. */
void VicpLevelEmptied(VIC *Vic, uint32_t Cpu, uint32_t Level, bool ByOwner);

/* vic_offline.c: a raise set Entry's pending bit on Cpu and found Cpu
 * offline (the OFFLINE PROTOCOL above). Returns IRQ_STATUS_SUCCESS, so that
 * a raise calls it as its last act (a jump: no frame kept for it). */
IRQ_STATUS VicpRaisedOnOffline(VIC *Vic, uint32_t Cpu, const VICP_SOURCE *Entry);

/* The raiser's half of the OFFLINE PROTOCOL: after its compare-and-swap set
 * a pending bit on the CPU, is the CPU offline? */
static inline __attribute__((always_inline)) bool VicpRaisedOffline(const VICP_CPU *Block)
{
    return __builtin_expect(atomic_load_explicit(&Block->Offline, memory_order_seq_cst) != 0, 0);
}

/* A raise found its source pending: the two merge, as two edges before an
 * acknowledge do. */
static inline void VicpCountMerge(VICP_CPU *Block)
{
    atomic_fetch_add_explicit(&Block->Merged, 1, memory_order_relaxed);
}

/* What a raise did: merged into a pending source, set a pending bit, or set
 * one and then found its level's pending word empty (the SUMMARY PROTOCOL's
 * setter's look: the raiser then does the emptier's part, out of line). */
#define VICP_RAISE_MERGED 0u
#define VICP_RAISE_SET 1u
#define VICP_RAISE_SET_EMPTIED 2u

/* A direct source: one compare-and-swap sets its Direct bit and its level's
 * Summary bit together (RaiseBits). Not an OR: the raise needs the old word
 * (a merge is counted, the wake decided from it), and the loop's load spares
 * a merge the locked operation (the seq_cst CAS also orders an IPI sender's
 * message before the bit). Waking: Vic->Wake is set (VicpRaiseAt decides
 * once, so that a raise without one keeps no frame for the call). */
static inline __attribute__((always_inline)) uint32_t VicpRaiseDirect(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                       const VICP_SOURCE *Entry, bool Waking)
{
    uint64_t Before = atomic_load_explicit(&Block->State, memory_order_seq_cst);
    do {
        if ((Before & Entry->DirectBit) != 0) {
            VicpCountMerge(Block);
            return VICP_RAISE_MERGED;
        }
    } while (!atomic_compare_exchange_weak_explicit(&Block->State, &Before, Before | Entry->RaiseBits,
                                                    memory_order_seq_cst, memory_order_seq_cst));
    IR_ASSERT(VicpDirectBitsHaveSummary(Vic, Before | Entry->RaiseBits));
    if (Waking)
        VicpWake(Vic, Cpu, Before, VicpSummaryBit(Entry->Level));
    return VICP_RAISE_SET;
}

/* Any other source: one compare-and-swap sets the pending bit (SlotBit)
 * and counts the raise (the bit was clear, so OR and add are one add); the
 * level's Summary bit and Words (RaiseBits) are ORed in when the level's
 * pending word was empty. */
static inline __attribute__((always_inline)) uint32_t VicpRaiseInWord(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                       const VICP_SOURCE *Entry, bool Waking)
{
    _Atomic uint64_t *Pending = &Block->Pending[Entry->Level];
    uint64_t Bit = Entry->SlotBit;
    /* Read before the compare-and-swap: a load after a locked operation
     * waits for it, and the OR below would wait for that load. */
    uint64_t RaiseBits = Entry->RaiseBits;
    uint64_t Old = atomic_load_explicit(Pending, memory_order_seq_cst);
    do {
        if ((Old & Bit) != 0) {
            VicpCountMerge(Block);
            return VICP_RAISE_MERGED;
        }
    } while (!atomic_compare_exchange_weak_explicit(Pending, &Old, Old + Bit + VICP_RAISE_ONE,
                                                    memory_order_seq_cst, memory_order_seq_cst));
    /* A level that was pending already has its Summary bit set (or being
     * re-set); an empty one gets it now. */
    if (VicpPendingSlots(Old) == 0) {
        if (IRQROUTE_VIC_FAST_PATHS && !Waking) {
            /* The old value unused: one LOCK OR on x86 rather than a CAS loop. */
            atomic_fetch_or_explicit(&Block->State, RaiseBits, memory_order_seq_cst);
        } else {
            uint64_t Before = atomic_fetch_or_explicit(&Block->State, RaiseBits, memory_order_seq_cst);
            if (Waking)
                VicpWake(Vic, Cpu, Before, VicpSummaryBit(Entry->Level));
        }
        /* The setter's look (SUMMARY PROTOCOL): an emptier may have taken the
         * bit, and finished its own look, between the two operations above. */
        if (__builtin_expect(VicpPendingSlots(atomic_load_explicit(Pending, memory_order_seq_cst)) == 0, 0))
            return VICP_RAISE_SET_EMPTIED;
    }
    return VICP_RAISE_SET;
}

/* The raise itself, Waking a constant (vic_pending.c has the invariants).
 * What it did: VICP_RAISE_*. */
static inline __attribute__((always_inline)) uint32_t VicpRaiseAtAs(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                     const VICP_SOURCE *Entry, bool Waking)
{
    if (Entry->DirectBit != 0)
        return VicpRaiseDirect(Vic, Cpu, Block, Entry, Waking);
    return VicpRaiseInWord(Vic, Cpu, Block, Entry, Waking);
}

/* vic_pending.c: a raise on a Vic with a wake-up routine, out of line. */
IRQ_STATUS VicpRaiseWaking(VIC *Vic, uint32_t Cpu, VICP_CPU *Block, const VICP_SOURCE *Entry);

/* vic_pending.c: a raise set Entry's pending bit on Cpu and found the level's
 * pending word empty after its Summary OR (VICP_RAISE_SET_EMPTIED): the
 * emptier's part, then the raiser's half of the OFFLINE PROTOCOL. Returns
 * IRQ_STATUS_SUCCESS (a tail call, as VicpRaisedOnOffline). */
IRQ_STATUS VicpRaisedOnEmptied(VIC *Vic, uint32_t Cpu, const VICP_SOURCE *Entry);

/* After a raise that did Outcome: its follow-up, out of line, if it needs one. */
static inline __attribute__((always_inline)) IRQ_STATUS VicpAfterRaise(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                        const VICP_SOURCE *Entry, uint32_t Outcome)
{
    if (__builtin_expect(Outcome == VICP_RAISE_SET_EMPTIED, 0))
        return VicpRaisedOnEmptied(Vic, Cpu, Entry);
    if (Outcome != VICP_RAISE_MERGED && VicpRaisedOffline(Block))
        return VicpRaisedOnOffline(Vic, Cpu, Entry);
    return IRQ_STATUS_SUCCESS;
}

/* The raise itself. Source and Cpu are valid (online or not: callers
 * check). Inline: every raise path is this plus its checks; a Vic with a
 * wake-up routine goes out of line (a tail call), so that the raise without
 * one makes no call and keeps no frame. Returns IRQ_STATUS_SUCCESS. */
static inline __attribute__((always_inline)) IRQ_STATUS VicpRaiseAt(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                     const VICP_SOURCE *Entry)
{
    if (Vic->Wake != NULL)
        return VicpRaiseWaking(Vic, Cpu, Block, Entry);
    return VicpAfterRaise(Vic, Cpu, Block, Entry, VicpRaiseAtAs(Vic, Cpu, Block, Entry, false));
}

static inline void VicpRaiseOnCpu(VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    (void)VicpRaiseAt(Vic, Cpu, VicpCpu(Vic, Cpu), VicpSourceOf(Vic, Source));
}

/* The Fixed mirror of a FIXED_CPU route to Cpu (Cpu valid): the CPU, and
 * its block's offset from the VIC itself. */
#define VICP_MIRROR_OFFSET_SHIFT 32u
static inline uint64_t VicpFixedMirror(const VIC *Vic, uint32_t Cpu)
{
    size_t Offset = (size_t)((const unsigned char *)VicpCpu(Vic, Cpu) - (const unsigned char *)Vic);
    return (uint64_t)Cpu | (uint64_t)Offset << VICP_MIRROR_OFFSET_SHIFT;
}

/* A mirror's CPU: VICP_NOT_FIXED when the router must decide. */
static inline uint32_t VicpMirrorCpu(uint64_t Fixed)
{
    return (uint32_t)Fixed;
}

/* A mirror's CPU block. */
static inline VICP_CPU *VicpMirrorBlock(VIC *Vic, uint64_t Fixed)
{
    return (VICP_CPU *)(void *)((unsigned char *)Vic + (Fixed >> VICP_MIRROR_OFFSET_SHIFT));
}

/* Whether Source (valid) is pending on a CPU. */
static inline bool VicpSourcePending(const VIC *Vic, const VICP_CPU *Block, uint32_t Source)
{
    const VICP_SOURCE *Entry = VicpSourceOf(Vic, Source);
    if (Entry->DirectBit != 0)
        return (atomic_load_explicit(&Block->State, memory_order_acquire) & Entry->DirectBit) != 0;
    return (VicpPendingSlots(atomic_load_explicit(&Block->Pending[Entry->Level], memory_order_acquire)) >>
            Entry->Slot) & 1u;
}


/* vic_route.c: the routing inputs' readers. */
void VicpInitializeRoutingInputs(VIC *Vic);

/* vic_pending.c: takes Source's pending bit off Cpu, as VicClear does, and
 * counts it as cleared or, for a migration, migrated. NOT_PENDING when it
 * was not pending (nothing changes). */
IRQ_STATUS VicpTakePending(VIC *Vic, uint32_t Source, uint32_t Cpu, bool Migrating);

/* vic_offline.c: the sweep of an offline CPU's pending device sources. */
void VicpMigrateDevices(VIC *Vic, uint32_t Cpu);

#endif
