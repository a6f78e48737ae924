/* SPDX-License-Identifier: MIT */
/*
 * Every public header from C++ (tests/cxx/all_headers.sh compiles this with
 * g++ and clang++, -std=c++17 and -std=c++20, -Wall -Wextra -Werror
 * -pedantic): it must compile, use C linkage, and lay out every public type
 * as C does (c_layout.h, written by tests/cxx/c_layout.c with the C compiler).
 */
#include <irqroute/balance.h>
#include <irqroute/config.h>
#include <irqroute/cpuset.h>
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>
#include <irqroute/router.h>
#include <irqroute/status.h>
#include <irqroute/vic.h>
#include <irqroute/vic.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

/* ---- The same layout as in C ------------------------------------------------------ */

#define IRQROUTE_C_LAYOUT(Type, Size, Align)                                                   \
    static_assert(sizeof(Type) == (Size), #Type ": C++ and C disagree on its size");           \
    static_assert(alignof(Type) == (Align), #Type ": C++ and C disagree on its alignment");
#define IRQROUTE_C_OFFSET(Type, Member, Offset) \
    static_assert(offsetof(Type, Member) == (Offset), #Type "." #Member ": C++ and C disagree on its offset");
#include "c_layout.h"

/* Every type of public_types.h reached the generated header: each one used
 * here must have a C layout above (a type listed but never written would
 * leave this check without its subject). */
#define IRQROUTE_PUBLIC_TYPE(Type) static_assert(std::is_trivially_copyable_v<Type>, #Type " is not plain data");
#define IRQROUTE_PUBLIC_MEMBER(Type, Member)
#include "public_types.h"

/* Standard layout: what C code can share with C++ code. */
static_assert(std::is_standard_layout_v<KSPIN_LOCK> && std::is_standard_layout_v<VIC_CONFIG> &&
              std::is_standard_layout_v<IO_CONNECT_INTERRUPT_PARAMETERS> && std::is_standard_layout_v<IR_ROUTING_INPUTS>);

/* C linkage: all_headers.sh checks that the object's undefined symbols
 * are the C names (no mangled Ir..., Ke..., Io..., Hl..., Vic... or Plat...). */

/* ---- A few types and calls, as a C++ program writes them ------------------------------- */

bool CxxUseCpuSet(uint32_t Cpu)
{
    IR_CPU_SET Set{};
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, Cpu);
    uint32_t Found = IR_CPU_NONE;
    uint32_t Count = 0;
    IR_CPU_SET_FOR_EACH(Found, &Set)
        Count++;
    return IrCpuSetContains(&Set, Cpu) && Count == 1 && IrCpuSetWeight(&Set) == 1;
}

IRQ_STATUS CxxUseKe(KSPIN_LOCK &Lock)
{
    KeInitializeSpinLock(&Lock);
    KIRQL Old = KeAcquireSpinLock(&Lock);
    KeReleaseSpinLock(&Lock, Old);
    return KeInitializeSystem(4, &KeAmd64VectorLayout);
}

IRQ_STATUS CxxUseIo(KINTERRUPT **Interrupt, PKSERVICE_ROUTINE Isr)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters{};
    Parameters.Version = CONNECT_LINE_BASED;
    Parameters.LineBased.InterruptObject = Interrupt;
    Parameters.LineBased.ServiceRoutine = Isr;
    Parameters.LineBased.Line.Bus = HlBusIsa;
    Parameters.LineBased.Line.Number = 4;
    Parameters.LineBased.Irql = KE_IRQL_ANY;
    Parameters.LineBased.Target.Kind = IoTargetCpu;
    Parameters.LineBased.Target.Cpu = 1;
    return IoConnectInterruptEx(&Parameters);
}

IRQ_STATUS CxxUseRouter(IR_ROUTE *Route, const uint64_t *OnlineWords)
{
    IR_ROUTING_INPUTS Inputs{};
    Inputs.OnlineWords = OnlineWords;
    IR_ROUTE_CONFIG Config{};
    Config.Policy = IrRoutingRoundRobin;
    IR_ROUTING_DECISION Decision{};
    IRQ_STATUS Status = IrRouteConfigure(Route, &Config, &Inputs);
    return Status != IRQ_STATUS_SUCCESS ? Status : IrRouteDecide(Route, &Inputs, &Decision, nullptr);
}

bool CxxUseVic(VIC *Vic, uint32_t Cpu)
{
    VIC_CLAIM Claim{};
    if (VicIsDeliverable(Vic, Cpu) && VicClaim(Vic, Cpu, &Claim) == IRQ_STATUS_SUCCESS)
        (void)VicEndOfInterrupt(Vic, Cpu);
    const VIC_CHECK_WORD *Word = VicGetDeliveryWord(Vic, Cpu);
    return VicWordIsDeliverable(Word) || (VicLoadCheckWord(Word) & VIC_CHECK_AST_BIT) != 0;
}

bool CxxUseVicHpp()
{
    auto Created = irqroute::vic::Controller::create_alpha(2);
    if (Created.status != irqroute::vic::Status::Success)
        return false;
    irqroute::vic::Controller &Vic = *Created.controller;
    irqroute::vic::Claim Claim;
    return Vic.raise(VIC_ALPHA_CLOCK) == irqroute::vic::Status::Success && Vic.is_deliverable(0) &&
           Vic.take(0, Claim) == irqroute::vic::Status::Success && Claim.kind == irqroute::vic::SourceKind::Clock;
}

const char *CxxStatusName(IRQ_STATUS Status)
{
    return IrStatusName(Status);
}

int CxxVersion()
{
    static_assert(IRQROUTE_VERSION_NUMBER >= 0);
    return IRQROUTE_VERSION_NUMBER;
}
