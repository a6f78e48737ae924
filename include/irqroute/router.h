/* SPDX-License-Identifier: MIT */
/*
 * Router — the routing-policy engine: which CPU (or CPUs) an interrupt goes to.
 *
 * One IR_ROUTE per source (a Vic source, an I/O APIC line, an MSI message)
 * holds a policy, a target CPU, a CPU mask and a position (the CPU the
 * source was last sent to by a rotating decision or an explicit move).
 * IrRouteDecide turns it into a CPU, or a CPU set for BROADCAST, from three
 * per-CPU inputs the caller supplies (IR_ROUTING_INPUTS): which CPUs are
 * online, each CPU's current level (IPL / IRQL / TPR class) and each CPU's
 * load. It is the one routing engine: the Vic (vic.h) decides on every
 * raise, and Io (io.h, src/io/route.c) decides after every interrupt of a
 * movable line or message and re-targets the hardware through a back end
 * (BACK ENDS below).
 *
 * POLICIES
 *   IrRoutingFixedCpu        the target CPU (the default: CPU 0, as on a typical Alpha system).
 *                            If it has gone offline: the next online CPU of the mask after it.
 *   IrRoutingRoundRobin      the first online CPU of the mask after the position, in cyclic CPU
 *                            order (no position, after a configuration: the lowest). After k*n
 *                            decisions each of the n CPUs got exactly k, while the mask and the
 *                            online set stay the same; concurrent deciders included (each
 *                            decision moves the position one step with a compare-and-swap).
 *                            A CPU that goes offline is skipped and the rotation goes on in order.
 *   IrRoutingLowestPriority  the online CPU of the mask at the lowest current level; among
 *                            equals the first after the position, so ties rotate.
 *   IrRoutingBroadcast       every online CPU of the mask.
 *   IrRoutingAffinity        any online CPU of the mask: the least loaded; among equals the
 *                            position if it is one of them (its caches are warm), else the
 *                            first after it.
 * A decision under ROUND_ROBIN, LOWEST_PRIORITY or AFFINITY makes its choice
 * the position; so does an explicit move (IrRoutePointAt), so a rotation
 * goes on from wherever the source was put.
 * Offline CPUs are skipped when deciding; a configuration whose mask names
 * no online CPU is refused (IRQ_STATUS_EMPTY_AFFINITY), and so is a decision
 * when every CPU of the mask has gone offline since.
 *
 * WINDOWS IRQ_DEVICE_POLICY (IrRouteConfigFromDevicePolicy)
 *   IrqPolicyMachineDefault                  -> FIXED_CPU, CPU 0 (the machine's default here).
 *   IrqPolicyAllCloseProcessors              -> AFFINITY over the CPUs close to the device
 *                                               (its NUMA node: the caller's Close set; all CPUs
 *                                               without one). Windows programs the whole set and
 *                                               lets the chipset pick; we pick the least loaded.
 *   IrqPolicyOneCloseProcessor               -> FIXED_CPU to the first online CPU of the close set.
 *   IrqPolicyAllProcessorsInMachine          -> AFFINITY over every CPU.
 *   IrqPolicySpecifiedProcessors             -> AFFINITY over the caller's set.
 *   IrqPolicySpreadMessagesAcrossAllProcessors -> FIXED_CPU per message: message i of a device
 *                                               goes to the (i mod n)-th online CPU, so a
 *                                               multi-message device covers the machine.
 * No Windows policy broadcasts a device interrupt; BROADCAST is for system-wide
 * notifications (the reference emulator's use) and IPIs.
 *
 * X86 HARDWARE (how Io maps a decision onto the I/O APIC and MSI)
 *   FIXED_CPU        physical destination mode, fixed delivery: the redirection entry's
 *                    (82093AA 3.2.4) or MSI address's (SDM vol. 3A 11.11.1) destination is the
 *                    target's APIC id. Set once, or moved by IoSetInterruptTarget.
 *   BROADCAST        fixed delivery to a logical destination set (SDM vol. 3A 11.6.2.2): every
 *                    CPU of the set accepts, so one vector must be free on all of them.
 *   ROUND_ROBIN,     software re-targeting: after each interrupt Io calls
 *   LOWEST_PRIORITY  IrRouteDecideAndPoint, whose back end rewrites the destination (the high
 *                    word of the redirection entry, or the MSI address). Levels are the IRQLs
 *                    KeRaiseIrql/KeLowerIrql record (KeQueryProcessorIrql). Hardware
 *                    lowest-priority delivery mode is only an option: its arbitration belongs to
 *                    the chipset, and QEMU 7.2 does none (it delivers to one fixed CPU).
 *   AFFINITY         physical destination to the least-loaded CPU of the mask, chosen when the
 *                    interrupt is connected by the vector matrix's search (KeAllocateVector:
 *                    load = allocated vectors) and kept.
 *
 * BACK ENDS. Whoever carries a decision out implements IR_ROUTE_BACKEND:
 * "point source S at CPU c" (and, to broadcast, "at every CPU of a set").
 * Io has two, an I/O APIC line (HlPicRetargetSystemInterrupt) and an MSI
 * (the driver's message update); the Vic's would raise the source on the
 * CPU. IrRouteDecideAndPoint is the decision and the move as one call;
 * IrRoutePointAt is an explicit move that keeps the route in step (a
 * FIXED_CPU target follows it, a rotation goes on from it).

 * CONCURRENCY. A route may be reconfigured while other threads decide on it,
 * and a decider sees the old configuration or the new one, never a mixture
 * (say the new policy with the old target). The configuration is kept twice
 * under a sequence counter, as a "latch" (Linux seqcount_latch): a writer
 * makes copy 0 the one being written (odd count), writes it, makes it the one
 * to read (even count), then writes copy 1. A decider reads the copy the count
 * names and starts again if the count moved meanwhile. It never waits for a
 * writer: the copy it reads is not the one being written, so a decider in an
 * interrupt handler cannot spin on a writer it interrupted. Writers are
 * serialised by a spin lock. A pointer swap to an immutable configuration
 * would do as much but needs a grace period before the old one's memory can
 * be reused; the latch lives in the route's own storage and needs none.
 * The mutable decision state (the position) is atomic; a decision that
 * starts again because of a reconfiguration may move the position one step
 * more, which is why fairness is exact only while the configuration stays
 * the same.
 *
 * Freestanding: no libc, no allocation; a route lives in caller storage.
 */
#ifndef IRQROUTE_ROUTER_H
#define IRQROUTE_ROUTER_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "status.h"

IRQROUTE_BEGIN_DECLS

typedef enum _IR_ROUTING_POLICY {
    IrRoutingFixedCpu = 0,   /* the default */
    IrRoutingRoundRobin,
    IrRoutingLowestPriority,
    IrRoutingBroadcast,
    IrRoutingAffinity,
    IrRoutingPolicyCount
} IR_ROUTING_POLICY;

typedef struct _IR_ROUTE IR_ROUTE;

/* What a route should do. */
typedef struct _IR_ROUTE_CONFIG {
    IR_ROUTING_POLICY Policy;
    /* FIXED_CPU: the CPU (must be online). Other policies: ignored. */
    uint32_t TargetCpu;
    /* The CPUs the policy chooses from; NULL: every CPU of the route.
     * FIXED_CPU: where to go while TargetCpu is offline. */
    const IR_CPU_SET *Mask;
} IR_ROUTE_CONFIG;

/*
 * The per-CPU facts a decision reads. Every member may be NULL.
 * Online: OnlineWords (live words, 64 CPUs each: the Vic's; the router reads
 * them with relaxed atomic loads, so whoever changes them must write them
 * atomically too, with C11 atomics or the GCC/Clang __atomic builtins; they
 * are plain uint64_t so that the type means the same in C and C++) or
 * Online (a set the caller keeps stable); neither: every CPU
 * of the route is online. Levels (LOWEST_PRIORITY): ReadLevel or the array
 * Levels (one per CPU); neither: all 0. Loads (AFFINITY): ReadLoad or the
 * array Loads; neither: all 0.
 */
typedef struct _IR_ROUTING_INPUTS {
    const uint64_t *OnlineWords;
    const IR_CPU_SET *Online;
    uint32_t (*ReadLevel)(const void *Context, uint32_t Cpu);
    const uint8_t *Levels;
    uint32_t (*ReadLoad)(const void *Context, uint32_t Cpu);
    const uint32_t *Loads;
    const void *Context;
} IR_ROUTING_INPUTS;

typedef struct _IR_ROUTING_DECISION {
    IR_ROUTING_POLICY Policy; /* the policy the decision was made under */
    uint32_t Cpu;             /* the CPU; BROADCAST: the lowest CPU of the set */
    uint32_t CpuCount;        /* 1, or the number of CPUs of a BROADCAST */
} IR_ROUTING_DECISION;

/* Bytes and alignment of caller storage for a route over CpuCount CPUs
 * (1 .. IR_MAX_CPUS); 0 for a count out of range. */
size_t IrRouteQueryStorageSize(uint32_t CpuCount);
#define IR_ROUTE_ALIGNMENT 64u

/* Builds a route in Storage: FIXED_CPU to CPU 0, mask every CPU.
 * INVALID_PARAMETER (NULL, misaligned), INVALID_CPU (count out of range),
 * BUFFER_TOO_SMALL. */
IRQ_STATUS IrRouteInitialize(void *Storage, size_t StorageSize, uint32_t CpuCount, IR_ROUTE **Route);

/* Checks Config against the route's CPU count and the online CPUs without
 * changing anything: INVALID_PARAMETER (NULL, unknown policy), INVALID_CPU
 * (TargetCpu out of range or offline for FIXED_CPU; a mask CPU out of range),
 * EMPTY_AFFINITY (no online CPU in the mask). */
IRQ_STATUS IrRouteValidateConfig(const IR_ROUTE *Route, const IR_ROUTE_CONFIG *Config,
                                 const IR_ROUTING_INPUTS *Inputs);

/* Validates, then publishes Config atomically for deciders (see the header
 * comment). SUCCESS, or the statuses of IrRouteValidateConfig
 * (INVALID_PARAMETER, INVALID_CPU, EMPTY_AFFINITY; a NULL Route or Inputs is
 * INVALID_PARAMETER). A refused configuration leaves the route as it was. The position
 * is forgotten: a rotation restarts at the lowest CPU of the new mask (a back
 * end whose source stays where it is calls IrRoutePointAt to say so). */
IRQ_STATUS IrRouteConfigure(IR_ROUTE *Route, const IR_ROUTE_CONFIG *Config, const IR_ROUTING_INPUTS *Inputs);

/* The configuration now in force (any out pointer may be NULL).
 * SUCCESS, INVALID_PARAMETER (Route NULL; nothing written). */
IRQ_STATUS IrRouteQueryConfig(const IR_ROUTE *Route, IR_ROUTING_POLICY *Policy, uint32_t *TargetCpu,
                              IR_CPU_SET *Mask);

/* Decides where the next interrupt goes. Cpus (optional) receives the whole
 * set for BROADCAST; other policies leave it untouched (so a caller that
 * passes one on every interrupt pays for it only when it broadcasts).
 * SUCCESS; EMPTY_AFFINITY when no CPU of the mask is online (Decision and
 * Cpus are not written); INVALID_PARAMETER for NULL Route/Inputs/Decision.
 * Lock-free; safe from any thread and from interrupt context. */
IRQ_STATUS IrRouteDecide(IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, IR_ROUTING_DECISION *Decision,
                         IR_CPU_SET *Cpus);

/* The CPUs of the route that Inputs says are online.
 * SUCCESS, INVALID_PARAMETER (Route, Inputs or Online NULL). */
IRQ_STATUS IrRouteQueryOnline(const IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, IR_CPU_SET *Online);

/* ---- Back ends ------------------------------------------------------------------ */

/* What carries a decision out for one kind of source (FreeBSD's struct pic
 * has the same split: the event decides, pic_assign_cpu moves). Source is the
 * back end's own handle. Both calls may run in interrupt context: no
 * blocking. A failure must leave the source where it was. */
typedef struct _IR_ROUTE_BACKEND {
    /* Send Source to Cpu: from now on (a destination register) or this once
     * (a controller that decides per raise). Required. */
    IRQ_STATUS (*PointAt)(void *Source, uint32_t Cpu);
    /* BROADCAST: every CPU of Cpus. NULL: the back end cannot broadcast. */
    IRQ_STATUS (*PointAtSet)(void *Source, const IR_CPU_SET *Cpus);
} IR_ROUTE_BACKEND;

/* Decides (IrRouteDecide) and points Source there through Backend. Decision
 * receives the decision. If the back end fails, its status is returned and
 * the position is put back (unless another decider moved it since).
 * NOT_SUPPORTED: a BROADCAST decision and no PointAtSet. Otherwise the
 * statuses of IrRouteDecide (INVALID_PARAMETER also for a NULL Backend or
 * PointAt). Lock-free as IrRouteDecide is (the back end aside). */
IRQ_STATUS IrRouteDecideAndPoint(IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, const IR_ROUTE_BACKEND *Backend,
                                 void *Source, IR_ROUTING_DECISION *Decision);

/* An explicit move: points Source at Cpu through Backend and keeps the route
 * in step, so that the next decision agrees with where the source is: a
 * FIXED_CPU target becomes Cpu; under the other policies Cpu becomes the
 * position (a rotation goes on after it, AFFINITY keeps it on ties).
 * INVALID_PARAMETER (NULL), INVALID_CPU (Cpu beyond the route, offline by
 * Inputs, or outside the mask), NOT_SUPPORTED (a BROADCAST route), or the
 * back end's status; any failure changes nothing. Serialised with
 * IrRouteConfigure (the writer lock, held around the back end's call). */
IRQ_STATUS IrRoutePointAt(IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, const IR_ROUTE_BACKEND *Backend,
                          void *Source, uint32_t Cpu);

/* ---- Windows IRQ_DEVICE_POLICY ------------------------------------------------ */

typedef enum _IR_DEVICE_POLICY {
    IrqPolicyMachineDefault = 0,
    IrqPolicyAllCloseProcessors,
    IrqPolicyOneCloseProcessor,
    IrqPolicyAllProcessorsInMachine,
    IrqPolicySpecifiedProcessors,
    IrqPolicySpreadMessagesAcrossAllProcessors,
    IrqPolicyCount
} IR_DEVICE_POLICY;

typedef struct _IR_DEVICE_POLICY_REQUEST {
    IR_DEVICE_POLICY Policy;
    const IR_CPU_SET *Specified; /* SpecifiedProcessors: required */
    const IR_CPU_SET *Close;     /* CPUs close to the device; NULL: every CPU */
    uint32_t MessageIndex;       /* SpreadMessages: which message of the device */
} IR_DEVICE_POLICY_REQUEST;

/* Translates a Windows device policy into a route configuration (the table in
 * the header comment), validated as IrRouteValidateConfig would. Mask is the
 * caller's storage that Config->Mask may point at. The one place the table is
 * written (io.h's device routings refer to it).
 *   SUCCESS
 *   INVALID_PARAMETER  Route, Request, Inputs, Config or Mask NULL; an
 *                      unknown Policy; SpecifiedProcessors without Specified
 *   EMPTY_AFFINITY     OneCloseProcessor or SpreadMessages with no online
 *                      candidate, or (as IrRouteValidateConfig) a mask with no
 *                      online CPU
 *   INVALID_CPU        as IrRouteValidateConfig: a mask CPU beyond the route,
 *                      or MachineDefault with CPU 0 offline
 * Config is written only on success (Mask may be written either way). */
IRQ_STATUS IrRouteConfigFromDevicePolicy(const IR_ROUTE *Route, const IR_DEVICE_POLICY_REQUEST *Request,
                                         const IR_ROUTING_INPUTS *Inputs, IR_ROUTE_CONFIG *Config,
                                         IR_CPU_SET *Mask);

/* The CPU message (or interrupt) Index of a spread device goes to: the
 * (Index mod n)-th of the n CPUs of Cpus, in CPU order; IR_CPU_NONE for an
 * empty or NULL set. The SpreadMessagesAcrossAllProcessors rule, used here
 * and by IoDeviceSpread (io.h). */
uint32_t IrRouteSpreadCpu(const IR_CPU_SET *Cpus, uint32_t Index);

IRQROUTE_END_DECLS

#endif
