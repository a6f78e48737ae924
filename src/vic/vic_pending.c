/* SPDX-License-Identifier: MIT */
/*
 * The Vic's pending state: raise, clear, claim and take, and the software
 * interrupt registers (SIRR, SISR) on top of them.
 *
 * Invariants (the protocol is in vicp.h):
 *  - a pending bit goes 0 -> 1 only in a raiser's compare-and-swap, which
 *    also counts the raise (a Direct bit: in a raiser's OR, counted when it goes
 *    back to 0 or while it is set); 1 -> 0 only in a claim's or a clear's
 *    compare-and-swap, which harvests the count: every raise is claimed once,
 *    cleared once, or still pending (raised == claimed + cleared + pending);
 *  - a Direct bit is never set without its level's summary bit; once the calls
 *    have returned, a level's summary bit is set exactly when one of its
 *    pending bits is (whoever changed it last looked at the word after:
 *    vicp.h, SUMMARY PROTOCOL); while they race it may be set over an empty
 *    level for a moment (a claim that finds the level empty repairs it);
 *  - a failed call changes nothing.
 * Memory order: the pending words and the summary change with seq_cst
 * read-modify-writes (no dearer than acq_rel on x86), because the summary protocol
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

/* A raise on a Vic with a wake-up routine (vicp.h, VicpRaiseAt). */
IRQ_STATUS VicpRaiseWaking(VIC *Vic, uint32_t Cpu, VICP_CPU *Block, const VICP_SOURCE *Entry)
{
    return VicpAfterRaise(Vic, Cpu, Block, Entry, VicpRaiseAtAs(Vic, Cpu, Block, Entry, true));
}

/* The state with a level's Summary bit off, unless a Direct bit of the level holds it
 * (and Words with the last Summary bit). */
static inline uint64_t VicpWithoutSummary(const VIC *Vic, uint64_t State, uint32_t Level)
{
    if ((State & Vic->DirectOfLevel[Level]) != 0)
        return State;
    return VicpWithWordsBitTidied(State & ~VicpSummaryBit(Level));
}

/* Takes Level's Summary bit off by compare-and-swap (never while a Direct bit of the
 * level holds it). Returns the check word as it left it. */
static uint64_t VicpTakeSummary(const VIC *Vic, VICP_CPU *Block, uint32_t Level)
{
    uint64_t Old = atomic_load_explicit(&Block->State, memory_order_seq_cst);
    uint64_t New;
    do {
        New = VicpWithoutSummary(Vic, Old, Level);
        if (New == Old)
            break;
    } while (!atomic_compare_exchange_weak_explicit(&Block->State, &Old, New, memory_order_seq_cst,
                                                    memory_order_seq_cst));
    return New;
}

static bool VicpWordHasBits(VICP_CPU *Block, uint32_t Level)
{
    return VicpPendingSlots(atomic_load_explicit(&Block->Pending[Level], memory_order_seq_cst)) != 0;
}

/* The summary protocol (vicp.h) once Level's Summary bit is off: look at the
 * pending word; if it has bits (a raise got in between), set the bit back, then
 * look again, since an emptier may have taken those bits and finished its own
 * looks before our OR; if the word emptied, the bit goes off again, and so on
 * until a look agrees with the bit. The loop turns again only when the word
 * changed between two looks. By the owner: no wake-up (it is awake). */
static void VicpSettleSummary(VIC *Vic, VICP_CPU *Block, uint32_t Level, bool ByOwner)
{
    while (VicpWordHasBits(Block, Level)) {
        uint64_t Before = atomic_fetch_or_explicit(&Block->State, VicpWordSummaryBits(Level), memory_order_seq_cst);
        if (!ByOwner && Vic->Wake != NULL) {
            uint32_t Cpu = (uint32_t)(((unsigned char *)Block - Vic->CpuBlocks) / Vic->CpuStride);
            VicpWake(Vic, Cpu, Before, VicpSummaryBit(Level));
        }
        if (VicpWordHasBits(Block, Level))
            return; /* set over a word with bits */
        if ((VicpTakeSummary(Vic, Block, Level) & VicpSummaryBit(Level)) != 0)
            return; /* a Direct bit holds it: that bit's take decides */
    }
}

/* A level's pending word was found empty (by an emptier that took its last bit, a
 * raiser whose bit was taken before its look, a claim that found the level empty):
 * the Summary bit off (never while a Direct bit of the level is set), then the
 * looks of VicpSettleSummary. */
void VicpLevelEmptied(VIC *Vic, uint32_t Cpu, uint32_t Level, bool ByOwner)
{
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    if ((VicpTakeSummary(Vic, Block, Level) & VicpSummaryBit(Level)) == 0)
        VicpSettleSummary(Vic, Block, Level, ByOwner);
}

/* The state without one Direct bit, and without its level's Summary bit when nothing
 * else of the level is pending (no other Direct bit, an empty pending word). */
static inline uint64_t VicpWithoutDirect(const VIC *Vic, VICP_CPU *Block, uint64_t State, uint64_t DirectBit,
                                         uint32_t Level)
{
    uint64_t New = State & ~DirectBit;
    if (VicpPendingSlots(atomic_load_explicit(&Block->Pending[Level], memory_order_seq_cst)) != 0)
        return New;
    return VicpWithoutSummary(Vic, New, Level);
}

/* After VicpWithoutDirect's compare-and-swap wrote New: the summary protocol's
 * look at the pending word. Summary bit off: set it back if the word has bits
 * now. Kept, with no Direct bit of the level left, because the word had bits when
 * looked at: an emptier may have taken them since, and found the Direct bit
 * holding the Summary bit (VicpTakeSummary left it), so take it off if the
 * word is empty now. */
static void VicpSettleAfterDirect(VIC *Vic, uint32_t Cpu, VICP_CPU *Block, uint64_t New, uint32_t Level,
                                  bool ByOwner)
{
    if ((New & VicpSummaryBit(Level)) == 0)
        VicpSettleSummary(Vic, Block, Level, ByOwner);
    else if ((New & Vic->DirectOfLevel[Level]) == 0 && !VicpWordHasBits(Block, Level))
        VicpLevelEmptied(Vic, Cpu, Level, ByOwner);
}

IRQ_STATUS VicpRaisedOnEmptied(VIC *Vic, uint32_t Cpu, const VICP_SOURCE *Entry)
{
    VicpLevelEmptied(Vic, Cpu, Entry->Level, false);
    if (VicpRaisedOffline(VicpCpu(Vic, Cpu)))
        return VicpRaisedOnOffline(Vic, Cpu, Entry);
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS VicpCheckSourceAndCpu(const VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!VicpIsSource(Vic, Source))
        return IRQ_STATUS_INVALID_VECTOR;
    return Cpu < Vic->CpuCount ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_CPU;
}

IRQ_STATUS VicRaiseOnCpu(VIC *Handle, uint32_t Source, uint32_t Cpu)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckSourceAndCpu(Vic, Source, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (!VicpIsOnline(Vic, Cpu))
        return IRQ_STATUS_INVALID_CPU;
    VicpRaiseOnCpu(Vic, Source, Cpu);
    return IRQ_STATUS_SUCCESS;
}

/* A take by someone other than the owner (a clear, a migration) is counted
 * on the raisers' line: Cleared or Migrated, and the raises it harvested. */
static void VicpCountTake(VICP_CPU *Block, bool Migrating, uint64_t Harvested)
{
    atomic_fetch_add_explicit(Migrating ? &Block->Migrated : &Block->Cleared, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&Block->RaisedHarvestedByClear, Harvested, memory_order_relaxed);
}

static IRQ_STATUS VicpClearDirect(VIC *Vic, uint32_t Cpu, VICP_CPU *Block, const VICP_SOURCE *Entry, bool Migrating)
{
    uint64_t Old = atomic_load_explicit(&Block->State, memory_order_seq_cst);
    uint64_t New;
    do {
        if ((Old & Entry->DirectBit) == 0)
            return IRQ_STATUS_NOT_PENDING;
        New = VicpWithoutDirect(Vic, Block, Old, Entry->DirectBit, Entry->Level);
    } while (!atomic_compare_exchange_weak_explicit(&Block->State, &Old, New, memory_order_seq_cst,
                                                    memory_order_seq_cst));
    VicpCountTake(Block, Migrating, 1);
    VicpSettleAfterDirect(Vic, Cpu, Block, New, Entry->Level, false);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS VicpTakePending(VIC *Vic, uint32_t Source, uint32_t Cpu, bool Migrating)
{
    const VICP_SOURCE *Entry = VicpSourceOf(Vic, Source);
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    if (Entry->DirectBit != 0)
        return VicpClearDirect(Vic, Cpu, Block, Entry, Migrating);
    _Atomic uint64_t *Pending = &Block->Pending[Entry->Level];
    uint64_t Bit = (uint64_t)1 << Entry->Slot;
    uint64_t Old = atomic_load_explicit(Pending, memory_order_seq_cst);
    uint64_t New;
    do {
        if ((Old & Bit) == 0)
            return IRQ_STATUS_NOT_PENDING;
        New = VicpPendingWithout(Old, Entry->Slot);
    } while (!atomic_compare_exchange_weak_explicit(Pending, &Old, New, memory_order_seq_cst,
                                                    memory_order_seq_cst));
    VicpCountTake(Block, Migrating, VicpPendingRaises(Old));
    if (New == 0)
        VicpLevelEmptied(Vic, Cpu, Entry->Level, false);
    return IRQ_STATUS_SUCCESS;
}

/* Withdrawing the IPI source withdraws its messages too (vic.h, VicClear):
 * the messages are what that interrupt carries, and a claim takes them with
 * it, so the clear that takes the interrupt away takes them as well; left
 * in the word they would arrive with the next, unrelated IPI. The pending
 * bit goes first, then the word, the order the claim uses (vic_ipi.c): a
 * message posted after the exchange raises the source again and arrives
 * with its own interrupt. One whose bit the exchange took but whose raise
 * comes after the clear leaves an interrupt with no message, claimed with
 * IpiMessages 0. Withdrawn messages are not counted (VicQueryIpiCount counts
 * claimed ones). */
IRQ_STATUS VicClear(VIC *Handle, uint32_t Source, uint32_t Cpu)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckSourceAndCpu(Vic, Source, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Status = VicpTakePending(Vic, Source, Cpu, false);
    if (Status == IRQ_STATUS_SUCCESS && Source == Vic->IpiSource)
        (void)atomic_exchange_explicit(&VicpCpu(Vic, Cpu)->IpiMessages, 0, memory_order_seq_cst);
    return Status;
}

/* ---- Software interrupts (SIRR / SISR) ------------------------------------------------- */

/* MTPR SIRR: a request for the software interrupt at Level. It is an
 * ordinary source at that level, so it is masked like any other. */
IRQ_STATUS VicWriteSoftwareRequest(VIC *Handle, uint32_t Cpu, uint32_t Level)
{
    VIC *Vic = VicpOf(Handle);
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Level >= VIC_MAX_LEVELS || Vic->SoftwareSource[Level] == VICP_NONE)
        return IRQ_STATUS_INVALID_IRQL;
    return VicRaiseOnCpu(Handle, Vic->SoftwareSource[Level], Cpu);
}

/* MFPR SISR: bit n for the pending software interrupt of level n. */
IRQ_STATUS VicReadSoftwareSummary(const VIC *Handle, uint32_t Cpu, uint32_t *Summary)
{
    const VIC *Vic = VicpOfConst(Handle);
    if (Vic == NULL || Summary == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    const VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint32_t Bits = 0;
    for (uint32_t Level = 1; Level < Vic->LevelCount; Level++) {
        uint32_t Source = Vic->SoftwareSource[Level];
        if (Source != VICP_NONE && VicpSourcePending(Vic, Block, Source))
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

/* The check word once Level goes in service. Level was deliverable and an
 * eligible AST would have gone first below the AST level, so the rules give
 * the owner bits without recomputing them: the threshold becomes Level + 1,
 * or stays at the lowest machine-check level if that is lower (a machine
 * check is taken whatever is in service), and the AST bit goes when Level is
 * at or above the AST level (the effective level only rose). */
static inline uint64_t VicpWithLevelInService(const VIC *Vic, uint64_t State, uint32_t Level)
{
    uint32_t Threshold = Level + 1u < Vic->MachineCheckThreshold ? Level + 1u : Vic->MachineCheckThreshold;
    if (Level >= Vic->AstLevel)
        State = VicpWithoutAst(State);
    return VicpWithThreshold(State, Threshold);
}

/* The owner's Control follows the check word (only the owner writes it).
 * When the level goes above everything in service, the end of interrupt
 * that ends it restores Control and the owner bits as they were before:
 * recorded for VicEndOfInterrupt, as the XOR from the owner bits of the
 * word the claim wrote (After) to those of the word it replaced (Before).
 * Owner bits are a function of Control, so the record stays right whatever
 * happens in between: the end of interrupt uses it only when Control is
 * UndoKey again. */
static inline void VicpMarkInService(VICP_CPU *Block, uint32_t Level, uint64_t Before, uint64_t After)
{
    uint64_t Control = atomic_load_explicit(&Block->Control, memory_order_relaxed);
    uint64_t Claimed = Control | (uint64_t)(1u << Level);
    atomic_store_explicit(&Block->Control, Claimed, memory_order_relaxed);
    if (IRQROUTE_VIC_FAST_PATHS && (VicpInService(Control) >> Level) == 0) {
        Block->UndoKey = Claimed;
        Block->UndoOwnerBits = VicpOwnerBitsOf(Before ^ After);
    }
}

/* The summary protocol's looks after the owner took a Summary bit off: out of
 * line when the word has bits again (rare: a raise got in between). */
static inline void VicpRecheckSummary(VIC *Vic, VICP_CPU *Block, uint32_t Level)
{
    if (__builtin_expect(VicpPendingSlots(atomic_load_explicit(&Block->Pending[Level], memory_order_seq_cst)) != 0,
                         0))
        VicpSettleSummary(Vic, Block, Level, true);
}

/* The most privileged eligible mode first; its ASTSR bit is cleared as the
 * AST is initiated. A take leaves the level alone, so the AST bit of the
 * check word follows the new ASTSR (other modes may still be eligible). */
static void VicpClaimAst(VIC *Vic, VICP_CPU *Block, bool EnterService, VIC_CLAIM *Claim)
{
    uint64_t Control = atomic_load_explicit(&Block->Control, memory_order_relaxed);
    uint32_t AstMode = (uint32_t)__builtin_ctz(VicpEligibleAstModes(Control));
    uint32_t Summary = VicpAstSummary(Control) & ~(1u << AstMode);
    Control = VicpWithAstSummary(Control, Summary);
    if (EnterService)
        Control |= (uint64_t)(1u << Vic->AstLevel);
    VicpOwnerUpdate(Vic, Block, Control);
    VicpBump(&Block->Claimed, 1);
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

static inline void VicpAnswer(VIC_CLAIM *Claim, uint32_t Source, uint32_t Level, uint32_t Kind)
{
    Claim->Source = Source;
    Claim->Level = Level;
    Claim->Kind = (VIC_SOURCE_KIND)Kind;
    Claim->AstMode = 0;
    Claim->IpiMessages = 0;
}

/* After the locked operations on a pending word: the counters and the answer. */
static inline void VicpFinishClaim(VIC *Vic, VICP_CPU *Block, uint32_t Level, uint32_t Slot, uint64_t Harvested,
                                   VIC_CLAIM *Claim)
{
    /* Each store here is one more that the owner's next locked operation
     * waits for (x86 drains the store buffer first): a source raised once
     * since its word was last harvested, the common case, costs one. */
    if (__builtin_expect(Harvested == 1, 1)) {
        VicpBump(&Block->TakenOnce, 1);
    } else {
        VicpBump(&Block->RaisedByOwner, Harvested);
        VicpBump(&Block->Claimed, 1);
    }
    uint32_t Source = Vic->SourceOfSlot[Level][Slot];
    VicpAnswer(Claim, Source, Level, Vic->KindOfSlot[Level][Slot]);
    if (__builtin_expect(Source == Vic->IpiSource, 0))
        Claim->IpiMessages = VicpTakeIpiMessages(Block);
}

/* After a Direct bit came off: one counter for its raise and its claim, the
 * answer from the bit's number. */
static inline void VicpAnswerDirect(VIC *Vic, VICP_CPU *Block, uint64_t DirectBit, VIC_CLAIM *Claim)
{
    VicpBump(&Block->TakenOnce, 1);
    VICP_DIRECT_ANSWER Answer = Vic->DirectAnswer[__builtin_ctzll(DirectBit)];
    VicpAnswer(Claim, Answer.Source, Answer.Level, Answer.Kind);
}

/* After a direct source's Direct bit came off with the check word's CAS (Old -> New). */
static inline void VicpFinishDirect(VIC *Vic, VICP_CPU *Block, uint64_t Old, uint64_t New, uint32_t Level,
                                    uint64_t DirectBit, bool EnterService, VIC_CLAIM *Claim)
{
    IR_ASSERT((New & DirectBit) == 0 && VicpDirectBitsHaveSummary(Vic, New));
    if (EnterService)
        VicpMarkInService(Block, Level, Old, New);
    if ((New & VicpSummaryBit(Level)) == 0)
        VicpRecheckSummary(Vic, Block, Level);
    VicpAnswerDirect(Vic, Block, DirectBit, Claim);
    if (__builtin_expect(DirectBit == Vic->IpiDirectBit, 0))
        Claim->IpiMessages = VicpTakeIpiMessages(Block);
}

/* The check word that a pending word's take leaves from State (Emptied: it
 * took the word's last bit): the Summary bit off while no Direct bit of the
 * level holds it, the owner bits of a claim. State itself when neither. */
static inline uint64_t VicpSettledWord(const VIC *Vic, uint64_t State, uint32_t Level, bool Emptied,
                                       bool EnterService)
{
    uint64_t New = Emptied ? VicpWithoutSummary(Vic, State, Level) : State;
    if (EnterService)
        New = VicpWithLevelInService(Vic, New, Level);
    return New;
}

/* After a pending word lost a bit (Emptied: its last): when the word
 * emptied or a claim puts the level in service, one compare-and-swap of the
 * check word from State to New, VicpSettledWord of State (a loop only when
 * something else changed the word meanwhile); then the re-check. The fast
 * path works New out before its compare-and-swap of the pending word, so
 * that this one waits for no table load issued after that. */
static inline void VicpSettleWordLevelAs(VIC *Vic, VICP_CPU *Block, uint64_t State, uint64_t New, uint32_t Level,
                                         bool Emptied, bool EnterService)
{
    if (!Emptied && !EnterService)
        return;
    while (New != State && !atomic_compare_exchange_weak_explicit(&Block->State, &State, New, memory_order_seq_cst,
                                                                  memory_order_seq_cst))
        New = VicpSettledWord(Vic, State, Level, Emptied, EnterService);
    IR_ASSERT(VicpDirectBitsHaveSummary(Vic, New));
    if (EnterService)
        VicpMarkInService(Block, Level, State, New);
    if ((New & VicpSummaryBit(Level)) == 0)
        VicpRecheckSummary(Vic, Block, Level);
}

static inline void VicpSettleWordLevel(VIC *Vic, VICP_CPU *Block, uint64_t State, uint32_t Level, bool Emptied,
                                       bool EnterService)
{
    VicpSettleWordLevelAs(Vic, Block, State, VicpSettledWord(Vic, State, Level, Emptied, EnterService), Level,
                          Emptied, EnterService);
}

/* ---- The general path: every case, from the start -------------------------------------- */

/* Takes the highest Direct bit of Level from the check word (the level's pending
 * word was empty when looked at), with the level's Summary bit when that empties
 * the level, and the owner bits of a claim, in one compare-and-swap. False
 * when a clearer took the level's last Direct bit first. */
static bool VicpClaimDirect(VIC *Vic, uint32_t Cpu, VICP_CPU *Block, uint64_t State, uint32_t Level, bool EnterService,
                            VIC_CLAIM *Claim)
{
    uint64_t Bit;
    uint64_t New;
    do {
        uint64_t Direct = State & Vic->DirectOfLevel[Level];
        if (Direct == 0)
            return false;
        Bit = (uint64_t)1 << (63 - __builtin_clzll(Direct));
        New = VicpWithoutDirect(Vic, Block, State, Bit, Level);
        if (EnterService)
            New = VicpWithLevelInService(Vic, New, Level);
    } while (!atomic_compare_exchange_weak_explicit(&Block->State, &State, New, memory_order_seq_cst,
                                                    memory_order_seq_cst));
    VicpFinishDirect(Vic, Block, State, New, Level, Bit, EnterService, Claim);
    /* Kept for a pending word that had bits when looked at (VicpSettleAfterDirect). */
    if ((New & (VicpSummaryBit(Level) | Vic->DirectOfLevel[Level])) == VicpSummaryBit(Level) &&
        !VicpWordHasBits(Block, Level))
        VicpLevelEmptied(Vic, Cpu, Level, true);
    return true;
}

/* Takes the highest-slot bit of a level's pending word (Old, as loaded).
 * False when the word emptied first. */
static bool VicpClaimFromWord(VIC *Vic, VICP_CPU *Block, uint32_t Level, uint64_t Old, bool EnterService,
                              VIC_CLAIM *Claim)
{
    _Atomic uint64_t *Pending = &Block->Pending[Level];
    uint64_t New;
    uint32_t Slot;
    do {
        uint32_t Bits = VicpPendingSlots(Old);
        if (Bits == 0)
            return false;
        Slot = VicpHighestBit(Bits);
        New = VicpPendingWithout(Old, Slot);
    } while (!atomic_compare_exchange_weak_explicit(Pending, &Old, New, memory_order_seq_cst,
                                                    memory_order_seq_cst));
    VicpSettleWordLevel(Vic, Block, atomic_load_explicit(&Block->State, memory_order_seq_cst), Level, New == 0,
                        EnterService);
    VicpFinishClaim(Vic, Block, Level, Slot, VicpPendingRaises(Old), Claim);
    return true;
}

/* The highest pending source of Level: the pending word's slots are above
 * the direct ones (vicp.h). False when there was nothing after all (a stale
 * Summary bit: repaired here) or a race took it: the caller decides again. */
static bool VicpClaimFromLevel(VIC *Vic, uint32_t Cpu, VICP_CPU *Block, uint64_t State, uint32_t Level,
                               bool EnterService, VIC_CLAIM *Claim)
{
    uint64_t Word = atomic_load_explicit(&Block->Pending[Level], memory_order_seq_cst);
    if (VicpPendingSlots(Word) != 0)
        return VicpClaimFromWord(Vic, Block, Level, Word, EnterService, Claim);
    if ((State & Vic->DirectOfLevel[Level]) != 0)
        return VicpClaimDirect(Vic, Cpu, Block, State, Level, EnterService, Claim);
    VicpLevelEmptied(Vic, Cpu, Level, true);
    return false;
}

/* VicClaim and VicTakeInterrupt when the fast path (below) steps aside:
 * the same choice, from the same check word, so the same rules (level,
 * gates, machine checks, ASTs) decide both. Arguments checked by the caller. */
static IRQ_STATUS VicpClaimHighest(VIC *Vic, uint32_t Cpu, bool EnterService, VIC_CLAIM *Claim)
{
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    for (;;) {
        uint64_t State = atomic_load_explicit(&Block->State, memory_order_acquire);
        uint32_t Levels = VicpDeliverableLevels(State);
        bool Ast = VicpAstEligible(State);
        if (Levels == 0 && !Ast)
            return IRQ_STATUS_NOTHING_PENDING;
        uint32_t Top = Levels != 0 ? VicpHighestBit(Levels) : 0;
        /* At the AST level a pending source goes first. */
        if (Ast && Top < Vic->AstLevel) {
            VicpClaimAst(Vic, Block, EnterService, Claim);
            return IRQ_STATUS_SUCCESS;
        }
        if (VicpClaimFromLevel(Vic, Cpu, Block, State, Top, EnterService, Claim))
            return IRQ_STATUS_SUCCESS;
    }
}

#if IRQROUTE_VIC_FAST_PATHS
/* ---- The fast path: one source at the top level, no AST, no race --------------------- */

/* Out of line, so that the fast path saves no registers for it. */
__attribute__((noinline)) static IRQ_STATUS VicpGeneral(VIC *Vic, uint32_t Cpu, bool EnterService, VIC_CLAIM *Claim)
{
    return VicpClaimHighest(Vic, Cpu, EnterService, Claim);
}

/* The fast paths' one compare-and-swap of the check word: State as loaded
 * to New, with the owner bits of a claim of Level folded in (New is
 * updated). False when the word moved under us: nothing changed. */
static inline __attribute__((always_inline)) bool VicpSwapCheckWord(const VIC *Vic, VICP_CPU *Block, uint64_t State,
                                                                    uint64_t *New, uint32_t Level, bool EnterService)
{
    if (EnterService)
        *New = VicpWithLevelInService(Vic, *New, Level);
    return __builtin_expect(atomic_compare_exchange_strong_explicit(&Block->State, &State, *New, memory_order_seq_cst,
                                                                    memory_order_seq_cst),
                            1);
}

/* A direct source: one compare-and-swap of the check word (vicp.h). Direct
 * is the level's pending Direct bits: when that is one bit, it goes with the
 * level's Summary bit (the caller found the pending word empty), and a claim sets
 * the owner bits in the same operation. Everything that decides the new
 * word comes from the word and one table load; the slot is worked out after
 * the locked operation (on this kind of core a locked operation waits for
 * the chain of loads before it). */
static inline __attribute__((always_inline)) IRQ_STATUS VicpFastDirect(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                       uint64_t State, uint32_t Level,
                                                                       uint64_t Direct, bool EnterService,
                                                                       VIC_CLAIM *Claim)
{
    /* None (a stale summary bit), two or more, or the IPI: the general path. */
    if (__builtin_expect(Direct == 0 || (Direct & (Direct - 1u)) != 0 || (Direct & Vic->IpiDirectBit) != 0, 0))
        return VicpGeneral(Vic, Cpu, EnterService, Claim);
    uint64_t New = VicpWithWordsBitTidied(State ^ Direct ^ VicpSummaryBit(Level));
    if (!VicpSwapCheckWord(Vic, Block, State, &New, Level, EnterService))
        return VicpGeneral(Vic, Cpu, EnterService, Claim); /* the word moved under us */
    VicpFinishDirect(Vic, Block, State, New, Level, Direct, EnterService, Claim);
    return IRQ_STATUS_SUCCESS;
}

/* The lone direct source: one Direct bit and one Summary bit (so the
 * Direct bit is that level's), Words clear (no pending word has bits), no
 * AST, deliverable, not the IPI (its messages go by the general path). Every
 * test is on the word as loaded and one constant of the Vic, and so is the
 * new word: on this kind of core a locked operation executes only once
 * everything before it has retired, so each load or table look-up that a
 * compare-and-swap or the branches before it wait for is paid on every take. */
static inline bool VicpIsLoneDirect(const VIC *Vic, uint64_t State)
{
    uint64_t Direct = VicpDirectBits(State);
    uint64_t Summary = VicpSummaryBits(State);
    return VicpNoAstNorWords(State) && Direct != 0 && (Direct & (Direct - 1u)) == 0 &&
           (Summary & (Summary - 1u)) == 0 && Direct != Vic->IpiDirectBit && VicpDeliverable(State);
}

/* Takes it with the compare-and-swap of the check word that drops its
 * Direct and Summary bits (and sets the owner bits of a claim). No re-check
 * of the level's pending word follows the Summary bit's clearing (the
 * summary protocol's), because Words was clear in the word replaced, and
 * nobody clears Words while a Summary bit is set (here the Direct bit's): a
 * raiser that made a pending word non-empty set Words after our load, so
 * either our compare-and-swap failed or the raiser sets the Summary bit and
 * Words again after it. */
static inline __attribute__((always_inline)) IRQ_STATUS VicpTakeLoneDirect(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                           uint64_t State, bool EnterService,
                                                                           VIC_CLAIM *Claim)
{
    uint32_t Level = VicpLowestSummaryLevel(State);
    uint64_t New = VicpWithoutPending(State);
    if (!VicpSwapCheckWord(Vic, Block, State, &New, Level, EnterService))
        return VicpGeneral(Vic, Cpu, EnterService, Claim); /* the word moved under us */
    if (EnterService)
        VicpMarkInService(Block, Level, State, New);
    VicpAnswerDirect(Vic, Block, VicpDirectBits(State), Claim);
    return IRQ_STATUS_SUCCESS;
}

/* A level's pending word (Old, with bits): one CAS, then the check word
 * from the caller's State. The IPI source's messages are taken after the
 * CAS, as the general path does. */
static inline __attribute__((always_inline)) IRQ_STATUS VicpFastFromWord(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                         uint64_t State, uint32_t Level, uint64_t Old,
                                                                         bool EnterService, VIC_CLAIM *Claim)
{
    uint32_t Slot = VicpHighestBit(VicpPendingSlots(Old));
    uint64_t New = VicpPendingWithout(Old, Slot);
    bool Emptied = New == 0;
    uint64_t Settled = VicpSettledWord(Vic, State, Level, Emptied, EnterService);
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(&Block->Pending[Level], &Old, New,
                                                                  memory_order_seq_cst, memory_order_seq_cst),
                         0))
        return VicpGeneral(Vic, Cpu, EnterService, Claim); /* the word moved under us */
    VicpSettleWordLevelAs(Vic, Block, State, Settled, Level, Emptied, EnterService);
    VicpFinishClaim(Vic, Block, Level, Slot, VicpPendingRaises(Old), Claim);
    return IRQ_STATUS_SUCCESS;
}

/* The fast path once the lone direct source is ruled out: one source at
 * the top level, no AST, no race. Another direct source costs the one
 * compare-and-swap of the check word; a pending-word source, the CAS of its
 * word and a second on the check word when the level emptied or a claim
 * changed the owner bits. Anything else is handed, before anything
 * changed, to the general path, which decides again from the start. */
static inline __attribute__((always_inline)) IRQ_STATUS VicpClaimTopLevel(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                          uint64_t State, bool EnterService,
                                                                          VIC_CLAIM *Claim)
{
    if (__builtin_expect(VicpAstEligible(State), 0))
        return VicpGeneral(Vic, Cpu, EnterService, Claim); /* an AST is eligible */
    uint32_t Summary = VicpSummaryLevels(State);
    if (Summary == 0)
        return IRQ_STATUS_NOTHING_PENDING;
    /* The top pending level: if it is below the threshold, so is the rest. */
    uint32_t Level = VicpHighestBit(Summary);
    if (Level < VicpThreshold(State))
        return IRQ_STATUS_NOTHING_PENDING;
    uint64_t Old = atomic_load_explicit(&Block->Pending[Level], memory_order_seq_cst);
    if (VicpPendingSlots(Old) != 0)
        return VicpFastFromWord(Vic, Cpu, Block, State, Level, Old, EnterService, Claim);
    return VicpFastDirect(Vic, Cpu, Block, State, Level, State & Vic->DirectOfLevel[Level], EnterService, Claim);
}

/* The top-level path once for a take and once for a claim: out of line, so
 * that the lone direct source's path saves no registers for it, and each
 * with EnterService a constant, so that neither tests it nor keeps it in a
 * register (a pending-word source's take or claim runs through here). */
__attribute__((noinline)) static IRQ_STATUS VicpTakeTopLevel(VIC *Vic, uint32_t Cpu, VICP_CPU *Block, uint64_t State,
                                                             VIC_CLAIM *Claim)
{
    return VicpClaimTopLevel(Vic, Cpu, Block, State, false, Claim);
}

__attribute__((noinline)) static IRQ_STATUS VicpClaimTopLevelInService(VIC *Vic, uint32_t Cpu, VICP_CPU *Block,
                                                                       uint64_t State, VIC_CLAIM *Claim)
{
    return VicpClaimTopLevel(Vic, Cpu, Block, State, true, Claim);
}

/* VicClaim and VicTakeInterrupt: the lone direct source straight through,
 * the rest by the top level. */
static inline __attribute__((always_inline)) IRQ_STATUS VicpFastClaim(VIC *Vic, uint32_t Cpu, bool EnterService,
                                                                      VIC_CLAIM *Claim)
{
    if (Vic == NULL || Claim == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t State = atomic_load_explicit(&Block->State, memory_order_acquire);
    if (__builtin_expect(VicpIsLoneDirect(Vic, State), 1))
        return VicpTakeLoneDirect(Vic, Cpu, Block, State, EnterService, Claim);
    if (EnterService)
        return VicpClaimTopLevelInService(Vic, Cpu, Block, State, Claim);
    return VicpTakeTopLevel(Vic, Cpu, Block, State, Claim);
}
#else
/* The fast paths compiled out: every claim and take by the general path. */
static IRQ_STATUS VicpFastClaim(VIC *Vic, uint32_t Cpu, bool EnterService, VIC_CLAIM *Claim)
{
    if (Vic == NULL || Claim == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    return VicpClaimHighest(Vic, Cpu, EnterService, Claim);
}
#endif

IRQ_STATUS VicClaim(VIC *Handle, uint32_t Cpu, VIC_CLAIM *Claim)
{
    VIC *Vic = VicpOf(Handle);
    return VicpFastClaim(Vic, Cpu, true, Claim);
}

/* Nothing goes in service: the caller masks what it must itself (VicSetLevel,
 * as Alpha PALcode raises PS<IPL> when it takes an interrupt). */
IRQ_STATUS VicTakeInterrupt(VIC *Handle, uint32_t Cpu, VIC_CLAIM *Claim)
{
    VIC *Vic = VicpOf(Handle);
    return VicpFastClaim(Vic, Cpu, false, Claim);
}
