/* SPDX-License-Identifier: MIT */
/*
 * The CPU side of the Vic: level, gates, mode, AST registers, end of
 * interrupt, and the owner bits of the check word they determine.
 *
 * Every function here is an act of the CPU itself (MTPR IPL, MTPR ASTEN,
 * MTPR ASTSR, REI, entering PAL mode) and runs on the CPU's owner thread
 * only; that is what lets VicpOwnerUpdate write the owner bits with one
 * XOR and no lock (vicp.h). The state itself is one word (VICP_CPU.Control),
 * and VicpOwnerBits (vicp.h) turns it into the owner bits of the check word.
 *
 * The rules (Alpha Architecture Reference Manual, OpenVMS PALcode: processor
 * status and interrupts, software interrupts, ASTs; requirement R2 in
 * docs/requirements.md):
 *  - level n is enabled when n > the effective level (PS<IPL>, or the highest
 *    level in service if higher: x86 computes PPR the same way from TPR and
 *    ISR), and the gates are open: interrupts enabled, no serialised barrier
 *    in progress, not in PAL mode;
 *  - machine-check levels are always enabled ("machine checks override all
 *    masking", PAL mode included);
 *  - the AST bit: the gates are open, the effective level is below the AST
 *    level, and some mode M <= the current mode has ASTSR<M> and ASTEN<M>
 *    (modes numbered kernel 0 .. user 3, so "M or less privileged" is M <=
 *    current mode).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/vic.h>

#include "vicp.h"

static IRQ_STATUS VicpCheckCpu(const VIC *Vic, uint32_t Cpu)
{
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    return Cpu < Vic->CpuCount ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_CPU;
}

static uint64_t VicpControl(const VICP_CPU *Cpu)
{
    return atomic_load_explicit(&Cpu->Control, memory_order_relaxed);
}

IRQ_STATUS VicSetLevel(VIC *Handle, uint32_t Cpu, uint32_t Level, uint32_t *Previous)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckCpu(Vic, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Level >= Vic->LevelCount)
        return IRQ_STATUS_INVALID_IRQL;
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t Control = VicpControl(Block);
    if (Previous != NULL)
        *Previous = VicpCurrentLevel(Control);
    VicpOwnerUpdate(Vic, Block, VicpWithCurrentLevel(Control, Level));
    return IRQ_STATUS_SUCCESS;
}

/* Sets or clears one gate flag; returns whether it was set. */
static bool VicpSetGate(VIC *Vic, VICP_CPU *Block, uint32_t Gate, bool Closed)
{
    uint64_t Control = VicpControl(Block);
    uint32_t Gates = VicpGates(Control);
    uint32_t New = Closed ? Gates | Gate : Gates & ~Gate;
    VicpOwnerUpdate(Vic, Block, VicpWithGates(Control, New));
    return (Gates & Gate) != 0;
}

IRQ_STATUS VicSetInterruptsEnabled(VIC *Handle, uint32_t Cpu, bool Enabled, bool *Previous)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckCpu(Vic, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    bool WasOff = VicpSetGate(Vic, VicpCpu(Vic, Cpu), VICP_GATE_INTERRUPTS_OFF, !Enabled);
    if (Previous != NULL)
        *Previous = !WasOff;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS VicSetBarrier(VIC *Handle, uint32_t Cpu, bool InBarrier)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckCpu(Vic, Cpu);
    if (Status == IRQ_STATUS_SUCCESS)
        (void)VicpSetGate(Vic, VicpCpu(Vic, Cpu), VICP_GATE_BARRIER, InBarrier);
    return Status;
}

IRQ_STATUS VicSetPalMode(VIC *Handle, uint32_t Cpu, bool InPalMode)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckCpu(Vic, Cpu);
    if (Status == IRQ_STATUS_SUCCESS)
        (void)VicpSetGate(Vic, VicpCpu(Vic, Cpu), VICP_GATE_PAL_MODE, InPalMode);
    return Status;
}

IRQ_STATUS VicSetMode(VIC *Handle, uint32_t Cpu, VIC_PROCESSOR_MODE Mode)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckCpu(Vic, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if ((unsigned)Mode >= VicModeCount)
        return IRQ_STATUS_INVALID_PARAMETER;
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    VicpOwnerUpdate(Vic, Block, VicpWithMode(VicpControl(Block), (uint32_t)Mode));
    return IRQ_STATUS_SUCCESS;
}

/* ---- AST registers (MTPR ASTEN / MTPR ASTSR: new = (old & keep) | set) ------------------- */

static IRQ_STATUS VicpCheckAst(const VIC *Vic, uint32_t Cpu)
{
    IRQ_STATUS Status = VicpCheckCpu(Vic, Cpu);
    if (Status == IRQ_STATUS_SUCCESS && Vic->AstLevel == 0)
        Status = IRQ_STATUS_NOT_SUPPORTED;
    return Status;
}

/* ASTSR bits that go 0 -> 1 are raised interrupts, 1 -> 0 cleared ones (the
 * conservation counters cover ASTs too). Only the owner writes RaisedByOwner. */
static void VicpCountAstRequests(VICP_CPU *Block, uint32_t Old, uint32_t New)
{
    uint32_t Raised = VicpPopulation(New & ~Old);
    uint32_t Cleared = VicpPopulation(Old & ~New);
    if (Raised != 0)
        atomic_store_explicit(&Block->RaisedByOwner,
                              atomic_load_explicit(&Block->RaisedByOwner, memory_order_relaxed) + Raised,
                              memory_order_relaxed);
    if (Cleared != 0)
        atomic_fetch_add_explicit(&Block->Cleared, Cleared, memory_order_relaxed);
}

/* Rewrites one AST register of the owner's control word (ASTEN or ASTSR,
 * at Shift) as (Old & Keep) | Set, and reports Old. */
static IRQ_STATUS VicpWriteAstRegister(VIC *Vic, uint32_t Cpu, uint32_t Shift, uint32_t Keep, uint32_t Set,
                                       uint32_t *Previous)
{
    IRQ_STATUS Status = VicpCheckAst(Vic, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t Control = VicpControl(Block);
    uint32_t Old = VicpField(Control, Shift, VICP_AST_MASK);
    uint32_t New = ((Old & Keep) | Set) & VICP_AST_MASK;
    if (Previous != NULL)
        *Previous = Old;
    if (Shift == VICP_ASTSR_SHIFT)
        VicpCountAstRequests(Block, Old, New);
    VicpOwnerUpdate(Vic, Block, VicpWithField(Control, Shift, VICP_AST_MASK, New));
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS VicWriteAstEnable(VIC *Handle, uint32_t Cpu, uint32_t Keep, uint32_t Set, uint32_t *Previous)
{
    VIC *Vic = VicpOf(Handle);
    return VicpWriteAstRegister(Vic, Cpu, VICP_ASTEN_SHIFT, Keep, Set, Previous);
}

IRQ_STATUS VicWriteAstSummary(VIC *Handle, uint32_t Cpu, uint32_t Keep, uint32_t Set, uint32_t *Previous)
{
    VIC *Vic = VicpOf(Handle);
    return VicpWriteAstRegister(Vic, Cpu, VICP_ASTSR_SHIFT, Keep, Set, Previous);
}

/* ---- End of interrupt ------------------------------------------------------------------- */

/* The highest level in service ends (x86 EOI clears the highest ISR bit; on
 * Alpha, the REI out of the handler restores the IPL the interrupt raised). */
IRQ_STATUS VicEndOfInterrupt(VIC *Handle, uint32_t Cpu)
{
    VIC *Vic = VicpOf(Handle);
    IRQ_STATUS Status = VicpCheckCpu(Vic, Cpu);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t Control = VicpControl(Block);
    uint32_t InService = VicpInService(Control);
    if (InService == 0)
        return IRQ_STATUS_INVALID_STATE;
    uint64_t Ended = Control & ~(uint64_t)(1u << VicpHighestBit(InService));
    if (!IRQROUTE_VIC_FAST_PATHS || Control != Block->UndoKey) {
        VicpOwnerUpdate(Vic, Block, Ended);
        return IRQ_STATUS_SUCCESS;
    }
    /* The fast path: the claim that put this level in service recorded the
     * change of the owner bits (vic_pending.c), and they are still the ones
     * it wrote. */
    atomic_store_explicit(&Block->Control, Ended, memory_order_relaxed);
    if (Block->UndoOwnerBits != 0)
        atomic_fetch_xor_explicit(&Block->State, Block->UndoOwnerBits, memory_order_seq_cst);
    return IRQ_STATUS_SUCCESS;
}
