/*
 * The Vic's pending state: raise, clear, claim and take, and the software
 * interrupt registers (SIRR, SISR) on top of them.
 *
 * Invariants (the protocol is in vicp.h):
 *  - a pending bit goes 0 -> 1 only in a raiser's compare-and-swap, which
 *    also counts the raise; 1 -> 0 only in a claim's or a clear's
 *    compare-and-swap, which harvests the count: every raise is claimed once,
 *    cleared once, or still pending (raised == claimed + cleared + pending);
 *  - once the calls have returned, a level's summary bit is set whenever one
 *    of its pending bits is; it may be set over an empty level (a claim
 *    repairs that);
 *  - a failed call changes nothing.
 * Memory order: the pending words and the summary change with seq_cst
 * read-modify-writes (no dearer than acq_rel on x86), because the S protocol
 * and the IPI message hand-over (vic_ipi.c) are store-then-load patterns
 * across two words. The owner's check pairs with them by an acquire load.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/vic.h>

#include "vicp.h"

/* ---- Raise and clear (any thread) ---------------------------------------------------- */

/* Called by raisers (vicp.h) when Vic->Wake is set. */
void VicpWake(const VIC *Vic, uint32_t Cpu, uint64_t Before, uint64_t SummaryBit)
{
    bool BecameDeliverable = !VicpDeliverable(Before) && VicpDeliverable(Before | SummaryBit);
    bool BecamePending = (Before & SummaryBit) == 0;
    if (BecameDeliverable || (Vic->WakeOnPending && BecamePending))
        Vic->Wake(Vic->WakeContext, Cpu);
}

/* Clear S, then set it back if a raise got in between (vicp.h). */
void VicpLevelEmptied(VIC *Vic, uint32_t Cpu, uint32_t Level, bool ByOwner)
{
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t SummaryBit = (uint64_t)1 << Level;
    atomic_fetch_and_explicit(&Block->State, ~SummaryBit, memory_order_seq_cst);
    if ((atomic_load_explicit(&Block->Pending[Level], memory_order_seq_cst) & VICP_SLOT_BITS) == 0)
        return;
    uint64_t Before = atomic_fetch_or_explicit(&Block->State, SummaryBit, memory_order_seq_cst);
    if (!ByOwner && Vic->Wake != NULL)
        VicpWake(Vic, Cpu, Before, SummaryBit);
}

static IRQ_STATUS VicpCheckSourceAndCpu(const VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!VicpIsSource(Vic, Source))
        return IRQ_STATUS_INVALID_VECTOR;
    return Cpu < Vic->View.CpuCount ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_CPU;
}

IRQ_STATUS VicRaiseOnCpu(VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    IRQ_STATUS Status = VicpCheckSourceAndCpu(Vic, Source, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (!VicpIsOnline(Vic, Cpu))
        return IRQ_STATUS_INVALID_CPU;
    VicpRaiseOnCpu(Vic, Source, Cpu);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS VicClear(VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    IRQ_STATUS Status = VicpCheckSourceAndCpu(Vic, Source, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    const VICP_SOURCE *Entry = &Vic->Sources[Source];
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    _Atomic uint64_t *Pending = &Block->Pending[Entry->Level];
    uint64_t Bit = (uint64_t)1 << Entry->Slot;
    uint64_t Old = atomic_load_explicit(Pending, memory_order_seq_cst);
    uint64_t New;
    do {
        if ((Old & Bit) == 0)
            return IRQ_STATUS_NOT_PENDING;
        New = (Old & ~Bit) & VICP_SLOT_BITS; /* harvest the raise count */
    } while (!atomic_compare_exchange_weak_explicit(Pending, &Old, New, memory_order_seq_cst,
                                                    memory_order_seq_cst));
    atomic_fetch_add_explicit(&Block->Cleared, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&Block->RaisedHarvestedByClear, Old >> 32, memory_order_relaxed);
    if (New == 0)
        VicpLevelEmptied(Vic, Cpu, Entry->Level, false);
    return IRQ_STATUS_SUCCESS;
}

/* ---- Software interrupts (SIRR / SISR) ------------------------------------------------- */

/* MTPR SIRR: a request for the software interrupt at Level. It is an
 * ordinary source at that level, so it is masked like any other. */
IRQ_STATUS VicWriteSoftwareRequest(VIC *Vic, uint32_t Cpu, uint32_t Level)
{
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Level >= VIC_MAX_LEVELS || Vic->SoftwareSource[Level] == VICP_NONE)
        return IRQ_STATUS_INVALID_IRQL;
    return VicRaiseOnCpu(Vic, Vic->SoftwareSource[Level], Cpu);
}

/* MFPR SISR: bit n for the pending software interrupt of level n. */
IRQ_STATUS VicReadSoftwareSummary(const VIC *Vic, uint32_t Cpu, uint32_t *Summary)
{
    if (Vic == NULL || Summary == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->View.CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    const VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint32_t Bits = 0;
    for (uint32_t Level = 1; Level < Vic->LevelCount; Level++) {
        uint32_t Source = Vic->SoftwareSource[Level];
        if (Source == VICP_NONE)
            continue;
        uint64_t Pending = atomic_load_explicit(&Block->Pending[Level], memory_order_acquire);
        if ((Pending >> Vic->Sources[Source].Slot) & 1u)
            Bits |= 1u << Level;
    }
    *Summary = Bits;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Claim (the owner) -------------------------------------------------------------- */

static void VicpBump(_Atomic uint64_t *Counter, uint64_t Amount)
{
    /* Written by the owner only: no read-modify-write needed. */
    atomic_store_explicit(Counter, atomic_load_explicit(Counter, memory_order_relaxed) + Amount,
                          memory_order_relaxed);
}

/* Puts Level in service and drops, with one AND, the enable bits that
 * became masked and the summary bit if the claim emptied the level.
 * What becomes masked follows from the rules without recomputing them: Level
 * was deliverable, so either it is above the effective level (which becomes
 * Level) or it is a machine-check level at or below it (nothing changes).
 * Either way the enable bits of the levels up to Level go, machine checks
 * excepted, and the AST bit goes when Level is at or above the AST level.
 * OwnerBefore (the owner bits when the claim began; only the owner changes
 * them) limits the AND to bits that were set. The result is exactly
 * VicpOwnerBits of the new state. */
static inline void VicpEnterService(VIC *Vic, VICP_CPU *Block, uint64_t Control, uint32_t Level,
                                    uint64_t OwnerBefore, uint64_t SummaryToClear)
{
    atomic_store_explicit(&Block->Control, Control | (uint64_t)(1u << Level), memory_order_relaxed);
    uint64_t Masked = (uint64_t)(((2u << Level) - 1u) & ~Vic->MachineCheckLevels) << 32;
    if (Level >= Vic->AstLevel)
        Masked |= VICP_AST_BITS;
    uint64_t Drop = (OwnerBefore & Masked) | SummaryToClear;
    if (Drop != 0)
        atomic_fetch_and_explicit(&Block->State, ~Drop, memory_order_seq_cst);
    VicpBump(&Block->Claimed, 1);
}

/* After the AND of VicpEnterService cleared the summary bit: re-check, as
 * VicpLevelEmptied does. */
static inline void VicpRecheckLevel(VICP_CPU *Block, uint32_t Level)
{
    if ((atomic_load_explicit(&Block->Pending[Level], memory_order_seq_cst) & VICP_SLOT_BITS) != 0)
        atomic_fetch_or_explicit(&Block->State, (uint64_t)1 << Level, memory_order_seq_cst);
}

/* The most privileged eligible mode first; its ASTSR bit is cleared as the
 * AST is initiated. A take leaves the level alone, so the AST bit of the
 * check word follows the new ASTSR (other modes may still be eligible). */
static void VicpClaimAst(VIC *Vic, VICP_CPU *Block, uint64_t OwnerBefore, bool EnterService, VIC_CLAIM *Claim)
{
    uint64_t Control = atomic_load_explicit(&Block->Control, memory_order_relaxed);
    uint32_t AstMode = (uint32_t)__builtin_ctz(VicpEligibleAstModes(Control));
    uint32_t Summary = VicpField(Control, VICP_ASTSR_SHIFT, VICP_AST_MASK) & ~(1u << AstMode);
    Control = VicpWithField(Control, VICP_ASTSR_SHIFT, VICP_AST_MASK, Summary);
    if (EnterService) {
        VicpEnterService(Vic, Block, Control, Vic->AstLevel, OwnerBefore, 0);
    } else {
        VicpOwnerUpdate(Vic, Block, Control);
        VicpBump(&Block->Claimed, 1);
    }
    Claim->Source = VIC_SOURCE_AST;
    Claim->Level = Vic->AstLevel;
    Claim->Kind = VicSourceAst;
    Claim->AstMode = AstMode;
    Claim->IpiMessages = 0;
}

/* The IPI source carries the messages sent since the last claim of it. */
static uint32_t VicpTakeIpiMessages(VICP_CPU *Block)
{
    uint32_t Messages = atomic_exchange_explicit(&Block->IpiMessages, 0, memory_order_seq_cst);
    for (uint32_t Bits = Messages; Bits != 0; Bits &= Bits - 1u)
        VicpBump(&Block->IpiCounts[__builtin_ctz(Bits)], 1);
    return Messages;
}

static inline void VicpFillClaim(VIC *Vic, VICP_CPU *Block, uint32_t Level, uint32_t Slot, VIC_CLAIM *Claim)
{
    uint32_t Source = Vic->SourceOfSlot[Level][Slot];
    Claim->Source = Source;
    Claim->Level = Level;
    Claim->Kind = (VIC_SOURCE_KIND)Vic->Sources[Source].Kind;
    Claim->AstMode = 0;
    Claim->IpiMessages = __builtin_expect(Source == Vic->IpiSource, 0) ? VicpTakeIpiMessages(Block) : 0;
}

/* Takes the highest-slot pending source of Level. False when the level was
 * empty (its summary bit was stale: repaired here). With EnterService the
 * level goes in service (VicClaim); without, only the summary bit changes,
 * and only when the take emptied the level (VicTakeInterrupt). */
static inline __attribute__((always_inline)) bool VicpClaimFromLevel(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                     uint32_t Level, uint64_t OwnerBefore,
                                                                     bool EnterService, VIC_CLAIM *Claim)
{
    _Atomic uint64_t *Pending = &Block->Pending[Level];
    uint64_t Old = atomic_load_explicit(Pending, memory_order_seq_cst);
    uint64_t New;
    uint32_t Slot;
    do {
        uint32_t Bits = (uint32_t)(Old & VICP_SLOT_BITS);
        if (__builtin_expect(Bits == 0, 0)) {
            VicpLevelEmptied(Vic, Cpu, Level, true);
            return false;
        }
        Slot = VicpHighestBit(Bits);
        New = (Old & ~((uint64_t)1 << Slot)) & VICP_SLOT_BITS; /* harvest the raise count */
    } while (!atomic_compare_exchange_weak_explicit(Pending, &Old, New, memory_order_seq_cst,
                                                    memory_order_seq_cst));
    VicpBump(&Block->RaisedByOwner, Old >> 32);
    uint64_t SummaryToClear = New == 0 ? (uint64_t)1 << Level : 0;
    if (EnterService) {
        uint64_t Control = atomic_load_explicit(&Block->Control, memory_order_relaxed);
        VicpEnterService(Vic, Block, Control, Level, OwnerBefore, SummaryToClear);
    } else {
        VicpBump(&Block->Claimed, 1);
        if (SummaryToClear != 0)
            atomic_fetch_and_explicit(&Block->State, ~SummaryToClear, memory_order_seq_cst);
    }
    if (New == 0)
        VicpRecheckLevel(Block, Level);
    VicpFillClaim(Vic, Block, Level, Slot, Claim);
    return true;
}

/* VicClaim and VicTakeInterrupt: the same choice, from the same check word,
 * so the same rules (level, gates, machine checks, ASTs) decide both. */
static inline __attribute__((always_inline)) IRQ_STATUS VicpClaimHighest(VIC *Vic, uint32_t Cpu, bool EnterService,
                                                                         VIC_CLAIM *Claim)
{
    if (Vic == NULL || Claim == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->View.CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    for (;;) {
        uint64_t State = atomic_load_explicit(&Block->State, memory_order_acquire);
        uint32_t Deliverable = (uint32_t)State & (uint32_t)(State >> 32);
        if (Deliverable == 0)
            return IRQ_STATUS_NOTHING_PENDING;
        uint32_t Levels = Deliverable & ~1u;
        uint32_t Top = Levels != 0 ? VicpHighestBit(Levels) : 0;
        /* At the AST level a pending source goes first. */
        if (__builtin_expect((Deliverable & 1u) != 0 && Top < Vic->AstLevel, 0)) {
            VicpClaimAst(Vic, Block, State & VICP_OWNER_BITS, EnterService, Claim);
            return IRQ_STATUS_SUCCESS;
        }
        if (VicpClaimFromLevel(Vic, Cpu, Block, Top, State & VICP_OWNER_BITS, EnterService, Claim))
            return IRQ_STATUS_SUCCESS;
    }
}

IRQ_STATUS VicClaim(VIC *Vic, uint32_t Cpu, VIC_CLAIM *Claim)
{
    return VicpClaimHighest(Vic, Cpu, true, Claim);
}

/* Every case of a take: ASTs, the IPI source, a stale summary bit, a
 * compare-and-swap that lost to a raiser or a clearer. */
__attribute__((noinline)) static IRQ_STATUS VicpTakeInterruptGeneral(VIC *Vic, uint32_t Cpu, VIC_CLAIM *Claim)
{
    return VicpClaimHighest(Vic, Cpu, false, Claim);
}

/* Nothing goes in service: the caller masks what it must itself (VicSetLevel,
 * as Alpha PALcode raises PS<IPL> when it takes an interrupt). The common
 * case is a straight line here: no AST eligible, a device-like source at the
 * top level, no race. Two locked operations at most: the CAS of the pending
 * word, and the AND of the summary bit when the take emptied the level
 * (then the re-check of vicp.h's S protocol). Anything else is handed, before
 * anything changed, to the general path, which decides again from the start. */
IRQ_STATUS VicTakeInterrupt(VIC *Vic, uint32_t Cpu, VIC_CLAIM *Claim)
{
    if (Vic == NULL || Claim == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->View.CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t State = atomic_load_explicit(&Block->State, memory_order_acquire);
    uint32_t Deliverable = (uint32_t)State & (uint32_t)(State >> 32);
    if (Deliverable == 0)
        return IRQ_STATUS_NOTHING_PENDING;
    if (__builtin_expect((Deliverable & 1u) != 0, 0))
        return VicpTakeInterruptGeneral(Vic, Cpu, Claim); /* an AST is eligible */
    uint32_t Level = VicpHighestBit(Deliverable);
    _Atomic uint64_t *Pending = &Block->Pending[Level];
    uint64_t Old = atomic_load_explicit(Pending, memory_order_seq_cst);
    uint32_t Bits = (uint32_t)(Old & VICP_SLOT_BITS);
    if (__builtin_expect(Bits == 0, 0))
        return VicpTakeInterruptGeneral(Vic, Cpu, Claim); /* a stale summary bit */
    uint32_t Slot = VicpHighestBit(Bits);
    if (__builtin_expect(VicpSlotKey(Level, Slot) == Vic->IpiSlotKey, 0))
        return VicpTakeInterruptGeneral(Vic, Cpu, Claim); /* it carries messages */
    uint64_t New = (Old & ~((uint64_t)1 << Slot)) & VICP_SLOT_BITS; /* harvest the raise count */
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(Pending, &Old, New, memory_order_seq_cst,
                                                                  memory_order_seq_cst),
                         0))
        return VicpTakeInterruptGeneral(Vic, Cpu, Claim); /* the word moved under us */
    /* The locked operations first, then the plain stores and the look-ups
     * (a locked operation waits for every earlier load and store). */
    if (New == 0) {
        atomic_fetch_and_explicit(&Block->State, ~((uint64_t)1 << Level), memory_order_seq_cst);
        VicpRecheckLevel(Block, Level);
    }
    VicpBump(&Block->RaisedByOwner, Old >> 32);
    VicpBump(&Block->Claimed, 1);
    Claim->Source = Vic->SourceOfSlot[Level][Slot];
    Claim->Level = Level;
    Claim->Kind = (VIC_SOURCE_KIND)Vic->KindOfSlot[Level][Slot];
    Claim->AstMode = 0;
    Claim->IpiMessages = 0;
    return IRQ_STATUS_SUCCESS;
}
