/* SPDX-License-Identifier: MIT */
/*
 * A CPU going offline: its pending device interrupts move to where their
 * routes now send them (vic.h, VicSetCpuOnline).
 *
 * WHAT MOVES. Device sources only: they came through a route and the machine
 * needs them serviced, and an offline CPU services nothing until it returns
 * (maybe never). Everything else is the CPU's own state and stays, to be
 * delivered when it returns, as a stopped CPU's registers would hold it:
 * software interrupts (its SIRR/SISR), the IPI and its messages (sent to
 * that CPU: a TLB shoot-down or a HALT meant for it would be wrong on
 * another), its interval clock and performance counters (their ticks
 * describe that CPU), power fail and machine checks (the Alpha SRM reports a
 * machine check through the logout area of the processor that took it; on
 * another CPU it would describe the wrong processor), and its ASTs (ASTSR is
 * a register of the CPU, not a source). The offline CPU's owner may still
 * claim or clear any of them, and VicClear works from any thread.
 *
 * WHERE. The route decides, as for a raise now, and the router skips the
 * offline CPU (a FIXED_CPU route goes to the next online CPU of its mask).
 * A BROADCAST route gave every online CPU of its mask a copy; the offline
 * CPU's copy is dropped only when another online CPU of the broadcast has the
 * source pending: the copy merges into that one (counted as a merge there),
 * as two edges before an acknowledge merge on one CPU, and that CPU's claim
 * comes after every raise the dropped copy stood for. Otherwise no online CPU
 * holds a record of the interrupt any more (the others claimed theirs, or
 * were offline when it was raised), and the Vic's rule is that a pending
 * interrupt is never lost: the copy goes to the next online CPU of the
 * broadcast after the offline one, in cyclic order. A route with no online
 * CPU left (a raise would get EMPTY_AFFINITY) leaves the interrupt where it
 * is; the next VicSetCpuOnline that brings a CPU online moves it.
 *
 * RACES. A migration takes the pending bit with the compare-and-swap VicClear
 * uses, so it races safely with the owner's claims, clears and other
 * migrations: whoever takes the bit delivers or withdraws it, once. A raise
 * that landed on the CPU after the sweep moves itself (vicp.h, OFFLINE
 * PROTOCOL); a move to a CPU that is itself going offline is moved again by
 * the same rule.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/cpuset.h>
#include <irqroute/router.h>
#include <irqroute/vic.h>

#include "vicp.h"

/* A BROADCAST copy's heir among Cpus (the route's online CPUs): one that has
 * Source pending (the raise there merges), else the first after From in
 * cyclic order. VICP_NOT_FIXED when Cpus holds no CPU but From. */
static uint32_t VicpBroadcastHeir(const VIC *Vic, uint32_t Source, uint32_t From, const IR_CPU_SET *Cpus)
{
    uint32_t Count = Vic->CpuCount;
    uint32_t Heir = VICP_NOT_FIXED;
    for (uint32_t Step = 1; Step < Count; Step++) {
        uint32_t Cpu = (From + Step) % Count;
        if (!IrCpuSetContains(Cpus, Cpu))
            continue;
        if (VicpSourcePending(Vic, VicpCpu(Vic, Cpu), Source))
            return Cpu;
        if (Heir == VICP_NOT_FIXED)
            Heir = Cpu;
    }
    return Heir;
}

/* Where Source's interrupt pending on From goes now; VICP_NOT_FIXED: it
 * stays (no online CPU on its route, or the route chose From, which came back
 * online meanwhile). */
static uint32_t VicpMigrationTarget(VIC *Vic, uint32_t Source, uint32_t From)
{
    IR_CPU_SET Cpus; /* written by the router only for a broadcast */
    IR_ROUTING_DECISION Decision;
    if (IrRouteDecide(VicpRoute(Vic, Source), &Vic->RoutingInputs, &Decision, &Cpus) != IRQ_STATUS_SUCCESS)
        return VICP_NOT_FIXED;
    if (Decision.Policy == IrRoutingBroadcast)
        return VicpBroadcastHeir(Vic, Source, From, &Cpus);
    return Decision.Cpu != From ? Decision.Cpu : VICP_NOT_FIXED;
}

/* Moves Source's interrupt off From if it is still pending there: a raise on
 * the target, which merges when the source is pending there (a BROADCAST
 * heir that holds a copy: the dropped copy). If that copy was claimed in
 * between, the raise makes it pending again: delivered once more rather
 * than lost. The raise runs the raiser's half of the offline protocol, so a
 * target that went offline meanwhile passes it on. */
static void VicpMigrate(VIC *Vic, uint32_t Source, uint32_t From)
{
    if (VicpSourceOf(Vic, Source)->Kind != VicSourceDevice)
        return; /* the CPU's own state: it stays (header comment) */
    uint32_t To = VicpMigrationTarget(Vic, Source, From);
    if (To == VICP_NOT_FIXED)
        return;
    if (VicpTakePending(Vic, Source, From, true) != IRQ_STATUS_SUCCESS)
        return; /* claimed, cleared or moved by someone else: theirs now */
    VicpRaiseOnCpu(Vic, Source, To);
}

IRQ_STATUS VicpRaisedOnOffline(VIC *Vic, uint32_t Cpu, const VICP_SOURCE *Entry)
{
    VicpMigrate(Vic, VicpSourceNumber(Vic, Entry), Cpu);
    return IRQ_STATUS_SUCCESS;
}

void VicpMigrateDevices(VIC *Vic, uint32_t Cpu)
{
    const VICP_CPU *Block = VicpCpu(Vic, Cpu);
    for (uint32_t Source = 0; Source < Vic->SourceCount; Source++) {
        if (VicpIsSource(Vic, Source) && VicpSourcePending(Vic, Block, Source))
            VicpMigrate(Vic, Source, Cpu);
    }
}
