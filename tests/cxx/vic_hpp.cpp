/* SPDX-License-Identifier: MIT */
/*
 * irqroute/vic.hpp on its own (cxx_vic_hpp): built with -fno-exceptions
 * -fno-rtti, linked as an emulator links, with PlatCpuRelax defined here.
 * Every check says what the C layer does underneath (vic.h).
 */
#include <irqroute/platform.h>
#include <irqroute/vic.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#include "cxx_check.h"

/* The Vic's one platform hook (vic.h; platform.h). */
extern "C" void PlatCpuRelax(void)
{
}

#if IRQROUTE_DEBUG_CHECKS
/* A library built with the debug checks (IRQROUTE_DEBUG_CHECKS) also calls
 * the two debug hooks (platform.h). */
extern "C" uint32_t PlatDebugCurrentCpu(void)
{
    return PLAT_NO_CPU;
}

extern "C" void PlatAssertionFailed(const char *File, uint32_t Line, const char *Expression)
{
    std::fprintf(stderr, "%s:%u: debug check failed: %s\n", File, static_cast<unsigned>(Line), Expression);
    std::abort();
}
#endif

namespace {

namespace vic = irqroute::vic;

static_assert(static_cast<int>(vic::Status::NothingPending) == IRQ_STATUS_NOTHING_PENDING);
static_assert(static_cast<int>(vic::Status::AccessDenied) == IRQ_STATUS_ACCESS_DENIED);
static_assert(static_cast<int>(vic::Status::DeviceError) == IRQ_STATUS_DEVICE_ERROR);
static_assert(static_cast<int>(vic::SourceKind::MachineCheck) == VicSourceMachineCheck);
static_assert(!std::is_copy_constructible_v<vic::Controller> && std::is_nothrow_move_constructible_v<vic::Controller>);

constexpr std::uint32_t kDevice41 = 0x41; /* x86: class 4 */
constexpr std::uint32_t kDevice31 = 0x31; /* class 3 */
constexpr std::uint32_t kDevice51 = 0x51; /* class 5 */

/* Whether a test's controller was created; a failure counts as a failed
 * check and the test stops there. */
bool Created(const vic::Creation &created)
{
    CHECK(created.status == vic::Status::Success && created.controller.has_value());
    return created.controller.has_value();
}

void TestCreationRefused()
{
    /* No CPUs: VicQueryStorageSize refuses; nothing is allocated. */
    vic::Creation created = vic::Controller::create_x86(0);
    CHECK(created.status == vic::Status::InvalidParameter);
    CHECK(!created.controller.has_value());
    CHECK(std::strcmp(vic::status_name(created.status), "INVALID_PARAMETER") == 0);
    /* Too many levels. */
    VIC_CONFIG config{};
    VicAlphaConfig(&config, 2);
    config.LevelCount = VIC_MAX_LEVELS + 1;
    created = vic::Controller::create(config);
    CHECK(created.status == vic::Status::InvalidIrql);
    CHECK(!created.controller.has_value());
}

void TestClaimAndEndOfInterrupt()
{
    vic::Creation created = vic::Controller::create_x86(4);
    if (!Created(created))
        return;
    vic::Controller &x86 = *created.controller;
    CHECK(x86.cpu_count() == 4);
    CHECK(x86.native_handle() != nullptr);

    /* The default route is FIXED_CPU to CPU 0. */
    CHECK(x86.raise(kDevice41) == vic::Status::Success);
    CHECK(x86.is_deliverable(0));
    CHECK(!x86.is_deliverable(1));
    CHECK(!x86.is_deliverable(4)); /* out of range: false */
    bool pending = false;
    CHECK(x86.is_pending(kDevice41, 0, pending) == vic::Status::Success && pending);

    vic::Claim claim;
    CHECK(x86.claim(0, claim) == vic::Status::Success);
    CHECK(claim.source == kDevice41);
    CHECK(claim.level == 4);
    CHECK(claim.kind == vic::SourceKind::Device);
    CHECK(!x86.is_deliverable(0));

    /* Class 4 in service holds class 3 off until the end of interrupt. */
    CHECK(x86.raise(kDevice31) == vic::Status::Success);
    CHECK(!x86.is_deliverable(0));
    vic::Claim untouched;
    untouched.source = 0xDEAD;
    CHECK(x86.claim(0, untouched) == vic::Status::NothingPending);
    CHECK(untouched.source == 0xDEAD); /* written only on success */
    CHECK(x86.end_of_interrupt(0) == vic::Status::Success);
    CHECK(x86.is_deliverable(0));
    CHECK(x86.claim(0, claim) == vic::Status::Success && claim.source == kDevice31);
    CHECK(x86.end_of_interrupt(0) == vic::Status::Success);
    CHECK(x86.end_of_interrupt(0) == vic::Status::InvalidState);

    /* Bad input: a hole in the numbering, a CPU out of range. */
    CHECK(x86.raise(0x05) == vic::Status::InvalidVector);
    CHECK(x86.raise_on(kDevice41, 9) == vic::Status::InvalidCpu);
    CHECK(x86.set_level(0, 16) == vic::Status::InvalidIrql);

    VIC_COUNTERS counters{};
    CHECK(x86.counters(VIC_ALL_CPUS, counters) == vic::Status::Success);
    CHECK(counters.Raised == 2 && counters.Claimed == 2 && counters.Pending == 0);
}

void TestTakeLevelAndMerge()
{
    vic::Creation created = vic::Controller::create_x86(2);
    if (!Created(created))
        return;
    vic::Controller &x86 = *created.controller;
    /* A take puts nothing in service: a lower class is deliverable at once. */
    CHECK(x86.raise_on(kDevice41, 1) == vic::Status::Success);
    CHECK(x86.raise_on(kDevice41, 1) == vic::Status::Success); /* merges */
    CHECK(x86.raise_on(kDevice31, 1) == vic::Status::Success);
    vic::Claim claim;
    CHECK(x86.take(1, claim) == vic::Status::Success && claim.source == kDevice41);
    CHECK(x86.is_deliverable(1));
    /* The level masks: at class 3, class 3 waits. */
    std::uint32_t previous = 99;
    CHECK(x86.set_level(1, 3, &previous) == vic::Status::Success && previous == 0);
    CHECK(!x86.is_deliverable(1));
    CHECK(x86.set_level(1, 0) == vic::Status::Success);
    bool was_enabled = false;
    CHECK(x86.set_interrupts_enabled(1, false, &was_enabled) == vic::Status::Success && was_enabled);
    CHECK(!x86.is_deliverable(1));
    CHECK(x86.set_interrupts_enabled(1, true) == vic::Status::Success);
    CHECK(x86.take(1, claim) == vic::Status::Success && claim.source == kDevice31);
    VIC_COUNTERS counters{};
    CHECK(x86.counters(1, counters) == vic::Status::Success);
    CHECK(counters.Raised == 2 && counters.Merged == 1 && counters.Claimed == 2);
    VIC_CPU_STATE state{};
    CHECK(x86.cpu_state(1, state) == vic::Status::Success && state.InterruptsEnabled && state.Online);
}

void TestRoundRobinAndOnline()
{
    vic::Creation created = vic::Controller::create_x86(4);
    if (!Created(created))
        return;
    vic::Controller &x86 = *created.controller;
    CHECK(x86.set_route(kDevice51, vic::RoutingPolicy::RoundRobin) == vic::Status::Success);
    CHECK(x86.set_cpu_online(2, false) == vic::Status::Success);
    std::uint32_t order[3] = {0, 1, 3}; /* CPU 2 offline: skipped */
    for (std::uint32_t round = 0; round < 6; round++) {
        std::uint32_t cpu = order[round % 3];
        CHECK(x86.raise(kDevice51) == vic::Status::Success);
        vic::Claim claim;
        CHECK(x86.take(cpu, claim) == vic::Status::Success && claim.source == kDevice51);
    }
    CHECK(x86.set_route(kDevice51, vic::RoutingPolicy::FixedCpu, 2) == vic::Status::InvalidCpu);
    CHECK(x86.set_route(kDevice51, static_cast<vic::RoutingPolicy>(99)) == vic::Status::InvalidParameter);
}

struct Waker {
    std::uint32_t calls = 0;
    std::uint32_t last_cpu = 99;
    void operator()(std::uint32_t cpu)
    {
        calls++;
        last_cpu = cpu;
    }
};

void TestWakeAndMove()
{
    Waker waker;
    vic::Creation created = vic::Controller::create_alpha(2, vic::wake_with(waker));
    if (!Created(created))
        return;
    vic::Controller alpha = std::move(*created.controller);
    CHECK(created.controller->native_handle() == nullptr); /* moved from */
    const VIC_CHECK_WORD *word = alpha.delivery_word(1);

    CHECK(alpha.raise_on(VIC_ALPHA_CLOCK, 1) == vic::Status::Success);
    CHECK(waker.calls == 1 && waker.last_cpu == 1);
    CHECK(alpha.raise_on(VIC_ALPHA_CLOCK, 1) == vic::Status::Success); /* merges: no new wake-up */
    CHECK(waker.calls == 1);

    /* The storage does not move with the controller: the word stays valid. */
    vic::Controller moved_again(std::move(alpha));
    CHECK(moved_again.delivery_word(1) == word);
    CHECK(vic::Controller::word_is_deliverable(word));

    /* PAL mode: only machine checks get in. */
    CHECK(moved_again.set_pal_mode(1, true) == vic::Status::Success);
    CHECK(!vic::Controller::word_is_deliverable(word));
    CHECK(moved_again.raise_on(VIC_ALPHA_MACHINE_CHECK, 1) == vic::Status::Success);
    vic::Claim claim;
    CHECK(moved_again.claim(1, claim) == vic::Status::Success);
    CHECK(claim.kind == vic::SourceKind::MachineCheck && claim.level == 31);
    CHECK(moved_again.end_of_interrupt(1) == vic::Status::Success);
    CHECK(moved_again.set_pal_mode(1, false) == vic::Status::Success);
    CHECK(moved_again.take(1, claim) == vic::Status::Success && claim.kind == vic::SourceKind::Clock);

    /* An AST for user mode, taken from user mode at level 0. */
    CHECK(moved_again.set_mode(1, vic::ProcessorMode::User) == vic::Status::Success);
    CHECK(moved_again.write_ast_enable(1, 0, 0xF) == vic::Status::Success);
    CHECK(moved_again.write_ast_summary(1, 0, 1u << VicModeUser) == vic::Status::Success);
    CHECK(moved_again.take(1, claim) == vic::Status::Success);
    CHECK(claim.kind == vic::SourceKind::Ast && claim.source == VIC_SOURCE_AST && claim.ast_mode == VicModeUser);
}

void TestIpi()
{
    vic::Creation created = vic::Controller::create_alpha(2);
    if (!Created(created))
        return;
    vic::Controller &alpha = *created.controller;
    CHECK(alpha.send_ipi_to(1, VicIpiTlbShootdown) == vic::Status::Success);
    CHECK(alpha.send_ipi_to(1, VicIpiHalt) == vic::Status::Success); /* coalesces */
    vic::Claim claim;
    CHECK(alpha.take(1, claim) == vic::Status::Success);
    CHECK(claim.kind == vic::SourceKind::Ipi);
    CHECK(claim.ipi_messages == ((1u << VicIpiTlbShootdown) | (1u << VicIpiHalt)));
    CHECK(alpha.send_ipi_to(5, VicIpiHalt) == vic::Status::InvalidCpu);
}

} // namespace

int main()
{
    TestCreationRefused();
    TestClaimAndEndOfInterrupt();
    TestTakeLevelAndMerge();
    TestRoundRobinAndOnline();
    TestWakeAndMove();
    TestIpi();
    return CxxCheckExit("cxx_vic_hpp", "every check passed");
}
