/*
 * Vic internals shared by src/ke/vic*.c.
 *
 * THE CHECK WORD (VICP_CPU.State), one per CPU:
 *   bits  1..31  S: summary, level n has a pending source    written by raisers/clearers/claim
 *   bits 33..63  E: enable, level n may be delivered now      written by the owner only
 *   bit   0, 32  an AST is eligible (both set or both clear)   written by the owner only
 * Deliverable <=> (low half & high half) != 0. Level 0 has no sources (a
 * source is delivered only above the CPU's level, which is never below 0),
 * so its two bits are free to carry the AST, whose eligibility depends only
 * on owner state (ASTSR, ASTEN, mode, level, gates).
 *
 * The owner computes E (and the AST bits) from its own state (the Control
 * word below; VicpOwnerBits) and applies the difference with one XOR (it is the only writer of those bits, so the word
 * it loads holds their true current value); S bits are only ever ORed in or
 * ANDed out, so the owner's XOR and the raisers' ORs never undo each other.
 *
 * PENDING WORDS (VICP_CPU.Pending[level]), one per level:
 *   bits  0..31  one per source of the level (its slot)
 *   bits 32..63  raises since the word was last harvested
 * A raise is one compare-and-swap that sets the bit and adds 1 to the count,
 * so the Raised counter costs no second atomic. Claim and clear reset the
 * count in the compare-and-swap that clears their bit and add it to their
 * own total. The count never exceeds 32: a bit can go 0 -> 1 again only after
 * a claim or a clear took it back to 0, and each of those harvests.
 *
 * S PROTOCOL. A raiser that finds its level's pending bits all clear sets S
 * after its CAS. A claimer or clearer that leaves them all clear clears S,
 * then looks at the pending word again and sets S back if a raise got in
 * between (the raiser's OR may have come before the clear). All of these are
 * seq_cst, so either the re-check sees the raiser's bit or the raiser's OR
 * comes after the clear. Two emptiers racing with a raiser can leave S set
 * over an empty level: the check then says "deliverable" once for nothing,
 * and VicClaim, finding the level empty, repairs S the same way. S is never
 * left clear over a pending source once the calls have returned.
 */
#ifndef IRQROUTE_VICP_H
#define IRQROUTE_VICP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/router.h>
#include <irqroute/vic.h>

#include "irlock.h"

#define VICP_LINE 64u
#define VICP_NONE 0xFFFFu
#define VICP_AST_BITS (((uint64_t)1 << 32) | 1u)
#define VICP_OWNER_BITS 0xFFFFFFFF00000001ull
#define VICP_SLOT_BITS 0xFFFFFFFFull
#define VICP_RAISE_ONE ((uint64_t)1 << 32)

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

/* Fixed mirrors the source's route while it is FIXED_CPU (vic_route.c), so
 * that a raise decides with one load instead of a latch read, and finds the
 * word it raises in without multiplying by the CPU stride: the target CPU
 * in the low half, the byte offset of the target's pending word for this
 * source's level (from VIC.CpuBlocks) in the high half; one 64-bit word, so
 * a raiser sees one whole mirror. VICP_NOT_FIXED in the low half: ask the
 * router. */
#define VICP_NOT_FIXED 0xFFFFFFFFu
typedef struct _VICP_SOURCE {
    uint8_t Level; /* 0: a hole */
    uint8_t Slot;
    uint8_t Kind;
    _Atomic uint64_t Fixed;
} VICP_SOURCE;

typedef struct _VICP_CPU {
    /* Line 0: the check word and what raisers and clearers write. */
    _Alignas(VICP_LINE) _Atomic uint64_t State;
    _Atomic uint32_t IpiMessages;
    _Atomic uint64_t Merged;
    _Atomic uint64_t Cleared;
    _Atomic uint64_t RaisedHarvestedByClear;
    /* Line 1: the owner's state (atomic so that queries from other threads
     * and the router's readers are not data races; only the owner writes). */
    _Alignas(VICP_LINE) _Atomic uint64_t Control;
    _Atomic uint64_t Claimed;
    _Atomic uint64_t RaisedByOwner; /* harvested by claims, plus ASTSR bits set */
    _Atomic uint64_t IpiCounts[VIC_IPI_MESSAGE_COUNT];
    /* Then one pending word per level. */
    _Alignas(VICP_LINE) _Atomic uint64_t Pending[];
} VICP_CPU;

struct _VIC {
    VIC_DELIVERY_VIEW View; /* first: VicIsDeliverable reads it */
    uint32_t LevelCount;
    uint32_t SourceCount;
    uint32_t CpuWords;           /* words of a CPU set that can name one of our CPUs */
    uint32_t AstLevel;
    uint32_t IpiSource;          /* VICP_NONE: no IPIs */
    uint32_t IpiSlotKey;         /* the IPI source's VicpSlotKey; VICP_NONE: no IPIs */
    uint32_t ValidLevels;        /* bits 1 .. LevelCount-1 */
    uint32_t MachineCheckLevels; /* levels that override every gate and mask */
    uint16_t SoftwareSource[VIC_MAX_LEVELS];
    uint16_t SourceOfSlot[VIC_MAX_LEVELS][VIC_MAX_SOURCES_PER_LEVEL];
    uint8_t KindOfSlot[VIC_MAX_LEVELS][VIC_MAX_SOURCES_PER_LEVEL]; /* a take fills its claim without a second look-up */
    PVIC_WAKE_ROUTINE Wake;
    void *WakeContext;
    bool WakeOnPending;
    VICP_SOURCE *Sources;
    unsigned char *CpuBlocks; /* == View.CpuBase, writable */
    unsigned char *Routes;
    size_t RouteStride;
    IR_ROUTING_INPUTS RoutingInputs;
    IR_LOCK RouteLock; /* VicSetRoute: keeps a route and its Fixed mirror in step */
    _Alignas(VICP_LINE) _Atomic uint64_t Online[IR_CPU_SET_WORDS];
};

/* Level and slot in one number (below VICP_NONE), so that a take can tell
 * the IPI source by arithmetic, before it has looked the source up. */
static inline uint32_t VicpSlotKey(uint32_t Level, uint32_t Slot)
{
    return Level * VIC_MAX_SOURCES_PER_LEVEL + Slot;
}

static inline VICP_CPU *VicpCpu(const VIC *Vic, uint32_t Cpu)
{
    return (VICP_CPU *)(void *)(Vic->CpuBlocks + (size_t)Cpu * Vic->View.CpuStride);
}

static inline IR_ROUTE *VicpRoute(const VIC *Vic, uint32_t Source)
{
    return (IR_ROUTE *)(void *)(Vic->Routes + (size_t)Source * Vic->RouteStride);
}

static inline bool VicpIsSource(const VIC *Vic, uint32_t Source)
{
    return Source < Vic->SourceCount && Vic->Sources[Source].Level != 0;
}

static inline bool VicpIsOnline(const VIC *Vic, uint32_t Cpu)
{
    return (atomic_load_explicit(&Vic->Online[Cpu / 64u], memory_order_relaxed) >> (Cpu % 64u)) & 1u;
}

static inline bool VicpDeliverable(uint64_t State)
{
    return ((uint32_t)State & (uint32_t)(State >> 32)) != 0;
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
    uint32_t Level = VicpField(Control, VICP_LEVEL_SHIFT, VICP_LEVEL_MASK);
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
    return VicpField(Control, VICP_ASTSR_SHIFT, VICP_AST_MASK) & VicpField(Control, VICP_ASTEN_SHIFT, VICP_AST_MASK) &
           VicpAstModesAllowed(VicpField(Control, VICP_MODE_SHIFT, VICP_MODE_MASK));
}

/* The owner bits of the check word for an owner state (vic_gates.c says why). */
static inline uint64_t VicpOwnerBits(const VIC *Vic, uint64_t Control)
{
    uint32_t Effective = VicpEffectiveLevel(Control);
    bool Open = VicpField(Control, VICP_GATES_SHIFT, VICP_GATES_MASK) == 0;
    /* Levels above Effective: ~((2 << Effective) - 1); 2u << 31 wraps to 0. */
    uint32_t Enabled = Open ? Vic->ValidLevels & ~((2u << Effective) - 1u) : 0u;
    uint64_t Bits = (uint64_t)(Enabled | Vic->MachineCheckLevels) << 32;
    if (Open && Effective < Vic->AstLevel && VicpEligibleAstModes(Control) != 0)
        Bits |= VICP_AST_BITS;
    return Bits;
}

/* Publishes the owner's new state and brings the owner bits of the check
 * word in line with it. Only the owner writes the owner bits, so the value
 * it loads is theirs now; the XOR leaves the summary bits raisers OR in alone. */
static inline __attribute__((always_inline)) void VicpOwnerUpdate(const VIC *Vic, VICP_CPU *Cpu,
                                                                   uint64_t NewControl)
{
    atomic_store_explicit(&Cpu->Control, NewControl, memory_order_relaxed);
    uint64_t Current = atomic_load_explicit(&Cpu->State, memory_order_relaxed) & VICP_OWNER_BITS;
    uint64_t Wanted = VicpOwnerBits(Vic, NewControl);
    if (Current != Wanted)
        atomic_fetch_xor_explicit(&Cpu->State, Current ^ Wanted, memory_order_seq_cst);
}

/* vic_pending.c: the wake-up decision, when a wake routine is set. */
void VicpWake(const VIC *Vic, uint32_t Cpu, uint64_t Before, uint64_t SummaryBit);

/* The raise itself (vic_pending.c has the invariants): one compare-and-swap
 * sets the pending bit and counts the raise; the summary bit is ORed in when
 * the level had nothing pending. Source and Cpu are valid (online or not:
 * callers check). Inline: every raise path is this plus its checks. */
static inline __attribute__((always_inline)) void VicpRaiseAt(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                               _Atomic uint64_t *Pending, uint32_t Level,
                                                               uint32_t Slot)
{
    uint64_t Bit = (uint64_t)1 << Slot;
    uint64_t Old = atomic_load_explicit(Pending, memory_order_seq_cst);
    do {
        if ((Old & Bit) != 0) {
            /* Already pending: the two merge, as two edges before an acknowledge do. */
            atomic_fetch_add_explicit(&Block->Merged, 1, memory_order_relaxed);
            return;
        }
    } while (!atomic_compare_exchange_weak_explicit(Pending, &Old, (Old | Bit) + VICP_RAISE_ONE,
                                                    memory_order_seq_cst, memory_order_seq_cst));
    if ((Old & VICP_SLOT_BITS) != 0)
        return; /* the level was pending already: its summary bit is set (or being re-set) */
    uint64_t SummaryBit = (uint64_t)1 << Level;
    if (Vic->Wake == NULL) {
        /* The old value unused: one LOCK OR on x86 rather than a CAS loop. */
        atomic_fetch_or_explicit(&Block->State, SummaryBit, memory_order_seq_cst);
        return;
    }
    VicpWake(Vic, Cpu, atomic_fetch_or_explicit(&Block->State, SummaryBit, memory_order_seq_cst), SummaryBit);
}

static inline void VicpRaiseOnCpu(VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    const VICP_SOURCE *Entry = &Vic->Sources[Source];
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    VicpRaiseAt(Vic, Cpu, Block, &Block->Pending[Entry->Level], Entry->Level, Entry->Slot);
}

/* The byte offset of a CPU's pending word for Level from VIC.CpuBlocks. */
static inline size_t VicpPendingOffset(const VIC *Vic, uint32_t Cpu, uint32_t Level)
{
    return (size_t)Cpu * Vic->View.CpuStride + offsetof(VICP_CPU, Pending) + (size_t)Level * sizeof(uint64_t);
}

/* The Fixed mirror of a FIXED_CPU route to Cpu (Cpu valid, Level a source's). */
static inline uint64_t VicpFixedMirror(const VIC *Vic, uint32_t Cpu, uint32_t Level)
{
    return (uint64_t)Cpu | ((uint64_t)VicpPendingOffset(Vic, Cpu, Level) << 32);
}

/* vic_pending.c: a level's pending bits were left all clear by an emptier. */
void VicpLevelEmptied(VIC *Vic, uint32_t Cpu, uint32_t Level, bool ByOwner);

/* vic_route.c: the routing inputs' readers. */
void VicpInitializeRoutingInputs(VIC *Vic);

#endif
