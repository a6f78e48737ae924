/* SPDX-License-Identifier: MIT */
/*
 * Windows IRQ_DEVICE_POLICY -> route configuration (the table in router.h).
 *
 * Windows lets the chipset choose among the processors of a policy (logical
 * destination, lowest-priority delivery). Our hardware path cannot count on
 * that arbitration (QEMU 7.2 does none), so "a set of processors" becomes
 * AFFINITY (we choose the least-loaded one), and "one processor" becomes
 * FIXED_CPU chosen here, once.
 */
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/router.h>

/* The CPUs a request draws from: Base & online (Base NULL: all online). */
static void IrpPolicyCandidates(const IR_ROUTE *Route, const IR_ROUTING_INPUTS *Inputs, const IR_CPU_SET *Base,
                                IR_CPU_SET *Candidates)
{
    (void)IrRouteQueryOnline(Route, Inputs, Candidates);
    if (Base != NULL)
        IrCpuSetAnd(Candidates, Candidates, Base);
}

/* The one "Nth CPU" rule: router.h (IrRouteSpreadCpu). */
uint32_t IrRouteSpreadCpu(const IR_CPU_SET *Cpus, uint32_t Index)
{
    uint32_t Weight = Cpus != NULL ? IrCpuSetWeight(Cpus) : 0;
    if (Weight == 0)
        return IR_CPU_NONE;
    uint32_t Cpu = IrCpuSetFirst(Cpus);
    for (uint32_t Step = Index % Weight; Step != 0; Step--)
        Cpu = IrCpuSetNext(Cpus, Cpu);
    return Cpu;
}

static IRQ_STATUS IrpFixedOn(const IR_CPU_SET *Candidates, uint32_t Index, IR_ROUTE_CONFIG *Config)
{
    uint32_t Cpu = IrRouteSpreadCpu(Candidates, Index);
    if (Cpu == IR_CPU_NONE)
        return IRQ_STATUS_EMPTY_AFFINITY;
    Config->Policy = IrRoutingFixedCpu;
    Config->TargetCpu = Cpu;
    Config->Mask = NULL;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS IrpTranslate(const IR_ROUTE *Route, const IR_DEVICE_POLICY_REQUEST *Request,
                               const IR_ROUTING_INPUTS *Inputs, IR_ROUTE_CONFIG *Config, IR_CPU_SET *Mask)
{
    IR_CPU_SET Candidates;
    switch (Request->Policy) {
    case IrqPolicyMachineDefault:
        Config->Policy = IrRoutingFixedCpu;
        Config->TargetCpu = 0;
        Config->Mask = NULL;
        return IRQ_STATUS_SUCCESS;
    case IrqPolicyAllCloseProcessors:
    case IrqPolicyAllProcessorsInMachine:
    case IrqPolicySpecifiedProcessors: {
        const IR_CPU_SET *Base = Request->Policy == IrqPolicyAllCloseProcessors ? Request->Close
                                 : Request->Policy == IrqPolicySpecifiedProcessors ? Request->Specified
                                                                                    : NULL;
        if (Request->Policy == IrqPolicySpecifiedProcessors && Base == NULL)
            return IRQ_STATUS_INVALID_PARAMETER;
        if (Base != NULL)
            IrCpuSetCopy(Mask, Base);
        else
            IrpPolicyCandidates(Route, Inputs, NULL, Mask); /* every CPU the route has, online */
        Config->Policy = IrRoutingAffinity;
        Config->TargetCpu = 0;
        Config->Mask = Mask;
        return IRQ_STATUS_SUCCESS;
    }
    case IrqPolicyOneCloseProcessor:
        IrpPolicyCandidates(Route, Inputs, Request->Close, &Candidates);
        return IrpFixedOn(&Candidates, 0, Config);
    case IrqPolicySpreadMessagesAcrossAllProcessors:
        IrpPolicyCandidates(Route, Inputs, NULL, &Candidates);
        return IrpFixedOn(&Candidates, Request->MessageIndex, Config);
    default:
        return IRQ_STATUS_INVALID_PARAMETER;
    }
}

IRQ_STATUS IrRouteConfigFromDevicePolicy(const IR_ROUTE *Route, const IR_DEVICE_POLICY_REQUEST *Request,
                                         const IR_ROUTING_INPUTS *Inputs, IR_ROUTE_CONFIG *Config,
                                         IR_CPU_SET *Mask)
{
    if (Route == NULL || Request == NULL || Inputs == NULL || Config == NULL || Mask == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    IR_ROUTE_CONFIG Result;
    IRQ_STATUS Status = IrpTranslate(Route, Request, Inputs, &Result, Mask);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = IrRouteValidateConfig(Route, &Result, Inputs);
    if (Status == IRQ_STATUS_SUCCESS)
        *Config = Result;
    return Status;
}
