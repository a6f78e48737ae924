/* SPDX-License-Identifier: MIT */
/*
 * Routed raises: each source's route (router.h) decides per interrupt which
 * CPU, or which CPUs, the raise goes to, from the Vic's own per-CPU facts:
 *  - online: the Vic's online words (read live by the router);
 *  - level (LOWEST_PRIORITY): the CPU's effective level, max(IPL, highest
 *    level in service), which its owner publishes whenever it changes: the
 *    CPU that would take the interrupt soonest. The gates are not counted:
 *    PAL mode and barriers last a few instructions;
 *  - load (AFFINITY): levels with something pending plus levels in service,
 *    read from the CPU's check word and in-service mask: how much interrupt
 *    work is queued on it.
 * A route is changed while its source fires; a raiser sees the old route or
 * the new one (the router's latch).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/router.h>
#include <irqroute/vic.h>

#include "vicp.h"

static uint32_t VicpReadLevel(const void *Context, uint32_t Cpu)
{
    const VIC *Vic = Context;
    return VicpEffectiveLevel(atomic_load_explicit(&VicpCpu(Vic, Cpu)->Control, memory_order_relaxed));
}

static uint32_t VicpReadLoad(const void *Context, uint32_t Cpu)
{
    const VIC *Vic = Context;
    const VICP_CPU *Block = VicpCpu(Vic, Cpu);
    uint64_t State = atomic_load_explicit(&Block->State, memory_order_relaxed);
    uint64_t Control = atomic_load_explicit(&Block->Control, memory_order_relaxed);
    return VicpPopulation(VicpSummaryLevels(State)) + VicpPopulation(VicpInService(Control));
}

void VicpInitializeRoutingInputs(VIC *Vic)
{
    /* The same bytes as plain words (the router reads them atomically:
     * router.h, IR_ROUTING_INPUTS); by offset, as casting the _Atomic away
     * is what -Wcast-qual is there to catch elsewhere. */
    Vic->RoutingInputs.OnlineWords =
        (const uint64_t *)(const void *)((const unsigned char *)Vic + offsetof(VIC, Online));
    Vic->RoutingInputs.Online = NULL;
    Vic->RoutingInputs.ReadLevel = VicpReadLevel;
    Vic->RoutingInputs.Levels = NULL;
    Vic->RoutingInputs.ReadLoad = VicpReadLoad;
    Vic->RoutingInputs.Loads = NULL;
    Vic->RoutingInputs.Context = Vic;
}

/* Every source without a FIXED_CPU mirror (another policy, a target that is
 * offline, a hole in the source numbers): the router decides. */
__attribute__((noinline)) static IRQ_STATUS VicpRaiseRouted(VIC *Vic, uint32_t Source)
{
    if (!VicpIsSource(Vic, Source))
        return IRQ_STATUS_INVALID_VECTOR;
    IR_CPU_SET Cpus; /* written by the router only for a broadcast */
    IR_ROUTING_DECISION Decision;
    IRQ_STATUS Status = IrRouteDecide(VicpRoute(Vic, Source), &Vic->RoutingInputs, &Decision, &Cpus);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    if (Decision.Policy != IrRoutingBroadcast) {
        VicpRaiseOnCpu(Vic, Source, Decision.Cpu);
        return IRQ_STATUS_SUCCESS;
    }
    /* Only the Vic's own words can hold CPUs: no scan of all 64. */
    for (uint32_t Word = 0; Word < Vic->CpuWords; Word++) {
        for (uint64_t Bits = Cpus.Bits[Word]; Bits != 0; Bits &= Bits - 1u)
            VicpRaiseOnCpu(Vic, Source, Word * 64u + (uint32_t)__builtin_ctzll(Bits));
    }
    return IRQ_STATUS_SUCCESS;
}

/* FIXED_CPU to an online target (the default route, and the common one)
 * costs one load of the source's mirror of it and an add to find the
 * target's block (a fast path); the mirror is one word, so a raise sees the
 * old route or the new one. */
IRQ_STATUS VicRaise(VIC *Handle, uint32_t Source)
{
    VIC *Vic = VicpOf(Handle);
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Source >= Vic->SourceCount)
        return IRQ_STATUS_INVALID_VECTOR;
#if IRQROUTE_VIC_FAST_PATHS
    const VICP_SOURCE *Entry = VicpSourceOf(Vic, Source);
    uint64_t Fixed = atomic_load_explicit(&Entry->Fixed, memory_order_relaxed);
    if (__builtin_expect(VicpMirrorCpu(Fixed) == VICP_NOT_FIXED, 0))
        return VicpRaiseRouted(Vic, Source);
    return VicpRaiseAt(Vic, VicpMirrorCpu(Fixed), VicpMirrorBlock(Vic, Fixed), Entry);
#else
    return VicpRaiseRouted(Vic, Source);
#endif
}

/* Under RouteLock: the mirror of a source's route as it is now: its
 * FIXED_CPU target while that is online, else "ask the router". */
static void VicpUpdateMirror(VIC *Vic, uint32_t Source)
{
    IrLockAssertHeld(&Vic->RouteLock);
    IR_ROUTING_POLICY Policy;
    uint32_t Target;
    (void)IrRouteQueryConfig(VicpRoute(Vic, Source), &Policy, &Target, NULL);
    bool Mirrored = Policy == IrRoutingFixedCpu && VicpIsOnline(Vic, Target);
    atomic_store_explicit(&VicpSourceAt(Vic, Source)->Fixed, Mirrored ? VicpFixedMirror(Vic, Target) : VICP_NOT_FIXED,
                          memory_order_relaxed);
}

/* Under RouteLock, so that two reconfigurations cannot leave the mirror
 * naming the other's target. While the route changes the mirror says "not
 * fixed" and raisers ask the router, which gives them the old route or the
 * new one; afterwards it mirrors whatever the route now holds (the new
 * configuration, or the old one if the router refused the new). */
IRQ_STATUS VicSetRoute(VIC *Handle, uint32_t Source, const IR_ROUTE_CONFIG *Config)
{
    VIC *Vic = VicpOf(Handle);
    if (Vic == NULL || Config == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!VicpIsSource(Vic, Source))
        return IRQ_STATUS_INVALID_VECTOR;
    IrLockAcquire(&Vic->RouteLock);
    atomic_store_explicit(&VicpSourceAt(Vic, Source)->Fixed, VICP_NOT_FIXED, memory_order_relaxed);
    IRQ_STATUS Status = IrRouteConfigure(VicpRoute(Vic, Source), Config, &Vic->RoutingInputs);
    VicpUpdateMirror(Vic, Source);
    IrLockRelease(&Vic->RouteLock);
    return Status;
}

IRQ_STATUS VicQueryRoute(const VIC *Handle, uint32_t Source, IR_ROUTING_POLICY *Policy, uint32_t *TargetCpu,
                         IR_CPU_SET *Mask)
{
    const VIC *Vic = VicpOfConst(Handle);
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!VicpIsSource(Vic, Source))
        return IRQ_STATUS_INVALID_VECTOR;
    return IrRouteQueryConfig(VicpRoute(Vic, Source), Policy, TargetCpu, Mask);
}

/* The mirrors follow: a FIXED_CPU source whose target goes offline asks
 * the router (which skips offline CPUs) until the target is back. Then the
 * pending device interrupts move (vic_offline.c): those of the CPU going
 * offline, and, when a CPU comes online, those that found no online CPU on
 * their route when their own CPU went offline. The Offline flag is set
 * before the sweep and taken down after the online bit is back (vicp.h,
 * OFFLINE PROTOCOL); the sweep runs after the lock is released, since each
 * move is a raise, and a raise may call the wake-up routine. */
IRQ_STATUS VicSetCpuOnline(VIC *Handle, uint32_t Cpu, bool Online)
{
    VIC *Vic = VicpOf(Handle);
    if (Vic == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Cpu >= Vic->CpuCount)
        return IRQ_STATUS_INVALID_CPU;
    uint64_t Bit = (uint64_t)1 << (Cpu % 64u);
    IrLockAcquire(&Vic->RouteLock);
    if (Online) {
        atomic_fetch_or_explicit(&Vic->Online[Cpu / 64u], Bit, memory_order_seq_cst);
    } else {
        atomic_store_explicit(&VicpCpu(Vic, Cpu)->Offline, 1u, memory_order_seq_cst);
        atomic_fetch_and_explicit(&Vic->Online[Cpu / 64u], ~Bit, memory_order_seq_cst);
    }
    for (uint32_t Source = 0; Source < Vic->SourceCount; Source++) {
        if (VicpIsSource(Vic, Source))
            VicpUpdateMirror(Vic, Source);
    }
    if (Online)
        atomic_store_explicit(&VicpCpu(Vic, Cpu)->Offline, 0u, memory_order_seq_cst);
    IrLockRelease(&Vic->RouteLock);
    if (!Online) {
        VicpMigrateDevices(Vic, Cpu);
        return IRQ_STATUS_SUCCESS;
    }
    /* Interrupts stranded on offline CPUs may have somewhere to go now. */
    for (uint32_t Word = 0; Word < Vic->CpuWords; Word++) {
        uint64_t Offline = ~atomic_load_explicit(&Vic->Online[Word], memory_order_seq_cst);
        if (Word == Vic->CpuWords - 1u && Vic->CpuCount % 64u != 0)
            Offline &= ((uint64_t)1 << (Vic->CpuCount % 64u)) - 1u;
        for (; Offline != 0; Offline &= Offline - 1u)
            VicpMigrateDevices(Vic, Word * 64u + (uint32_t)__builtin_ctzll(Offline));
    }
    return IRQ_STATUS_SUCCESS;
}
