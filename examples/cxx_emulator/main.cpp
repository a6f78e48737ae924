/* SPDX-License-Identifier: MIT */
/*
 * A C++ emulator's interrupt plumbing over irqroute's Vic (irqroute/vic.hpp).
 *
 * Four vCPU threads each run an "instruction loop": before every emulated
 * instruction they ask the Vic whether an interrupt is deliverable (one
 * acquire load of the CPU's check word), and if so claim it, run its handler
 * and signal the end of interrupt, as an x86 CPU acknowledges its local APIC
 * and writes EOI. Now and then a vCPU runs out of work and executes HLT: it
 * sleeps until the Vic's wake-up routine says an interrupt became
 * deliverable on it. An I/O thread plays four devices whose interrupts are
 * routed round-robin over the CPUs, and raises them as fast as it can.
 *
 * MERGED RAISES. A source has one pending bit per CPU, like a line in an
 * interrupt controller's request register: a raise of a source already
 * pending on its target CPU merges into the pending one (VIC_COUNTERS.Merged)
 * and the CPU takes one interrupt for both, as hardware does for an edge that
 * arrives before the previous one was acknowledged. So the check below is
 *     raises that returned Success == Raised + Merged
 *     Raised == interrupts the vCPUs took == Claimed,   nothing pending
 * i.e. every raise became exactly one taken interrupt or was merged into one.
 *
 * The Vic's one platform hook is PlatCpuRelax (vic.h; irqroute/platform.h),
 * defined below with C linkage.
 *
 * Exits 0 when the accounting holds, 1 when it does not.
 */
#include <irqroute/vic.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

/* Called by the Vic only while two threads change one source's route at
 * once: a spin-wait hint. */
extern "C" void PlatCpuRelax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
}

namespace {

namespace vic = irqroute::vic;

constexpr std::uint32_t kCpuCount = 4;
/* Device vectors, one per x86 priority class 4..7 (level = vector >> 4). */
constexpr std::array<std::uint32_t, 4> kDeviceVectors = {0x41, 0x51, 0x61, 0x71};
constexpr std::uint64_t kRaises = 20000;
/* The I/O thread's own work between two raises (emulated device time), so
 * that most raises find their source idle and some merge. */
constexpr std::uint32_t kDeviceInstructions = 4000;
/* A vCPU halts after this many instructions without an interrupt. */
constexpr std::uint64_t kIdleInstructions = 2000;

/* What HLT waits on. The wake-up routine takes the mutex only for the
 * instant that orders it after a halting vCPU's last check, so a wake-up
 * cannot slip in between the check and the sleep; it never waits for a
 * vCPU's work, as the Vic asks of a wake-up routine (it runs inside the
 * raise). */
struct HaltLine {
    std::mutex mutex;
    std::condition_variable condition;
};

struct Machine {
    std::array<HaltLine, kCpuCount> halt;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> wakeups{0};

    /* The Vic's wake-up (PVIC_WAKE_ROUTINE): Cpu's check went from "nothing
     * deliverable" to "deliverable". */
    void operator()(std::uint32_t cpu)
    {
        wakeups.fetch_add(1, std::memory_order_relaxed);
        notify(cpu);
    }

    void notify(std::uint32_t cpu)
    {
        {
            std::lock_guard<std::mutex> ordered(halt[cpu].mutex);
        }
        halt[cpu].condition.notify_one();
    }

    void stop_all()
    {
        stop.store(true, std::memory_order_relaxed);
        for (std::uint32_t cpu = 0; cpu < kCpuCount; cpu++)
            notify(cpu);
    }
};

struct VcpuStats {
    std::uint64_t instructions = 0;
    std::uint64_t taken = 0;
    std::uint64_t halts = 0;
    std::array<std::uint64_t, kDeviceVectors.size()> taken_by_device{};
};

/* One emulated instruction: some arithmetic on the guest's "registers". */
inline void ExecuteInstruction(std::uint64_t &accumulator)
{
    accumulator = accumulator * 6364136223846793005ull + 1442695040888963407ull;
}

void RunVcpu(vic::Controller &controller, Machine &machine, std::uint32_t cpu, VcpuStats &stats)
{
    /* The CPU's check word, loaded once: the per-instruction check is then
     * one load, a shift and a test. */
    const VIC_CHECK_WORD *check = controller.delivery_word(cpu);
    std::uint64_t accumulator = cpu;
    std::uint64_t idle = 0;
    while (!machine.stop.load(std::memory_order_relaxed)) {
        if (vic::Controller::word_is_deliverable(check)) {
            vic::Claim claim;
            if (controller.claim(cpu, claim) == vic::Status::Success) {
                /* The handler: find the device, count, end of interrupt. */
                for (std::size_t device = 0; device < kDeviceVectors.size(); device++)
                    if (kDeviceVectors[device] == claim.source)
                        stats.taken_by_device[device]++;
                stats.taken++;
                controller.end_of_interrupt(cpu);
                idle = 0;
            }
        }
        ExecuteInstruction(accumulator);
        stats.instructions++;
        if (++idle == kIdleInstructions) {
            /* HLT: sleep until an interrupt is deliverable here (or the
             * machine stops). The check under the mutex pairs with the
             * wake-up's lock: see HaltLine. */
            std::unique_lock<std::mutex> lock(machine.halt[cpu].mutex);
            machine.halt[cpu].condition.wait(lock, [&] {
                return machine.stop.load(std::memory_order_relaxed) || vic::Controller::word_is_deliverable(check);
            });
            stats.halts++;
            idle = 0;
        }
    }
    if (accumulator == 0) /* keep the work observable */
        std::printf("vCPU %u: accumulator 0\n", cpu);
}

} // namespace

int main()
{
    Machine machine;
    vic::Creation created = vic::Controller::create_x86(kCpuCount, vic::wake_with(machine));
    if (created.status != vic::Status::Success) {
        std::fprintf(stderr, "creating the Vic: %s\n", vic::status_name(created.status));
        return 1;
    }
    vic::Controller &controller = *created.controller;
    for (std::uint32_t vector : kDeviceVectors) {
        vic::Status status = controller.set_route(vector, vic::RoutingPolicy::RoundRobin);
        if (status != vic::Status::Success) {
            std::fprintf(stderr, "routing vector 0x%x: %s\n", vector, vic::status_name(status));
            return 1;
        }
    }

    std::array<VcpuStats, kCpuCount> stats{};
    std::vector<std::thread> vcpus;
    for (std::uint32_t cpu = 0; cpu < kCpuCount; cpu++)
        vcpus.emplace_back(RunVcpu, std::ref(controller), std::ref(machine), cpu, std::ref(stats[cpu]));

    /* The I/O thread: the devices take turns; the route picks the CPU. */
    std::uint64_t accepted = 0;
    std::thread io([&] {
        std::uint64_t device_state = 1;
        for (std::uint64_t raise = 0; raise < kRaises; raise++) {
            for (std::uint32_t step = 0; step < kDeviceInstructions; step++)
                ExecuteInstruction(device_state);
            if (controller.raise(kDeviceVectors[raise % kDeviceVectors.size()]) == vic::Status::Success)
                accepted++;
        }
        if (device_state == 0)
            std::printf("I/O: state 0\n");
    });
    io.join();

    /* Let the vCPUs drain what is pending, then stop them. */
    VIC_COUNTERS counters{};
    for (;;) {
        controller.counters(VIC_ALL_CPUS, counters);
        if (counters.Pending == 0)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    machine.stop_all();
    for (std::thread &vcpu : vcpus)
        vcpu.join();

    controller.counters(VIC_ALL_CPUS, counters);
    std::uint64_t taken = 0;
    bool per_cpu_ok = true;
    std::printf("cpu  instructions  interrupts  halts   per device (0x41 0x51 0x61 0x71)\n");
    for (std::uint32_t cpu = 0; cpu < kCpuCount; cpu++) {
        const VcpuStats &s = stats[cpu];
        std::printf("%3u  %12llu  %10llu  %5llu   %llu %llu %llu %llu\n", cpu, (unsigned long long)s.instructions,
                    (unsigned long long)s.taken, (unsigned long long)s.halts,
                    (unsigned long long)s.taken_by_device[0], (unsigned long long)s.taken_by_device[1],
                    (unsigned long long)s.taken_by_device[2], (unsigned long long)s.taken_by_device[3]);
        taken += s.taken;
        VIC_COUNTERS mine{};
        controller.counters(cpu, mine);
        per_cpu_ok = per_cpu_ok && mine.Claimed == s.taken;
    }
    std::printf("raised %llu: %llu became pending, %llu merged into a pending one; taken %llu; "
                "wake-ups %llu\n",
                (unsigned long long)accepted, (unsigned long long)counters.Raised,
                (unsigned long long)counters.Merged, (unsigned long long)taken,
                (unsigned long long)machine.wakeups.load());

    bool ok = accepted == kRaises && counters.Raised + counters.Merged == accepted && counters.Raised == taken &&
              counters.Claimed == taken && counters.Pending == 0 && per_cpu_ok;
    std::printf("%s\n", ok ? "every raised interrupt was taken exactly once (or merged into one that was)"
                           : "FAILED: the accounting does not hold");
    return ok ? 0 : 1;
}
