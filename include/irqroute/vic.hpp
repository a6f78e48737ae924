/* SPDX-License-Identifier: MIT */
/*
 * irqroute/vic.hpp — a thin C++17 layer over the Vic (vic.h), header-only.
 *
 * For an emulator written in C++: irqroute::vic::Controller owns the Vic's
 * storage (allocated aligned, freed with the controller), statuses and kinds
 * are enum classes, and every call is an inline forward to the C function of
 * the same meaning, so the rules, costs and statuses are vic.h's (read it:
 * WHO MAY CALL WHAT holds here unchanged). Nothing throws: creation reports a
 * Status and an empty optional rather than an exception, the storage comes
 * from the nothrow operator new, and the header builds with -fno-exceptions.
 *
 *   auto created = irqroute::vic::Controller::create_x86(4);
 *   if (created.status != irqroute::vic::Status::Success) ...;
 *   irqroute::vic::Controller &vic = *created.controller;
 *   vic.raise(0x41);                         // any thread
 *   if (vic.is_deliverable(cpu)) {           // the CPU's owner, every instruction
 *       irqroute::vic::Claim claim;
 *       if (vic.take(cpu, claim) == irqroute::vic::Status::Success) ...;
 *   }
 *
 * Link irqroute::vic (or irqroute::core) and define PlatCpuRelax, the one
 * platform hook the Vic calls (vic.h; platform.h), with C linkage:
 *   extern "C" void PlatCpuRelax(void) { ... }
 */
#ifndef IRQROUTE_VIC_HPP
#define IRQROUTE_VIC_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "irqroute/vic.hpp needs C++17; from C, include irqroute/vic.h"
#endif

#include <irqroute/vic.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace irqroute::vic {

/* IRQ_STATUS, value for value (status.h says what each means). */
enum class Status : std::underlying_type_t<IRQ_STATUS> {
    Success = IRQ_STATUS_SUCCESS,
    InvalidParameter = IRQ_STATUS_INVALID_PARAMETER,
    InvalidGsi = IRQ_STATUS_INVALID_GSI,
    InvalidVector = IRQ_STATUS_INVALID_VECTOR,
    InvalidCpu = IRQ_STATUS_INVALID_CPU,
    EmptyAffinity = IRQ_STATUS_EMPTY_AFFINITY,
    InvalidIrql = IRQ_STATUS_INVALID_IRQL,
    SharingViolation = IRQ_STATUS_SHARING_VIOLATION,
    TriggerMismatch = IRQ_STATUS_TRIGGER_MISMATCH,
    NotConnected = IRQ_STATUS_NOT_CONNECTED,
    AlreadyConnected = IRQ_STATUS_ALREADY_CONNECTED,
    VectorExhausted = IRQ_STATUS_VECTOR_EXHAUSTED,
    InsufficientResources = IRQ_STATUS_INSUFFICIENT_RESOURCES,
    NotSupported = IRQ_STATUS_NOT_SUPPORTED,
    NotInitialized = IRQ_STATUS_NOT_INITIALIZED,
    MalformedTable = IRQ_STATUS_MALFORMED_TABLE,
    BufferTooSmall = IRQ_STATUS_BUFFER_TOO_SMALL,
    NothingPending = IRQ_STATUS_NOTHING_PENDING,
    NotPending = IRQ_STATUS_NOT_PENDING,
    InvalidState = IRQ_STATUS_INVALID_STATE,
    AccessDenied = IRQ_STATUS_ACCESS_DENIED,
    DeviceError = IRQ_STATUS_DEVICE_ERROR,
};
/* A new status in status.h must get a name above. */
static_assert(IRQ_STATUS_COUNT == IRQ_STATUS_DEVICE_ERROR + 1, "irqroute::vic::Status misses an IRQ_STATUS");

constexpr Status to_status(IRQ_STATUS status) noexcept
{
    return static_cast<Status>(status);
}

/* IrStatusName's short constant name ("SUCCESS", "NOTHING_PENDING" ...). */
inline const char *status_name(Status status) noexcept
{
    return IrStatusName(static_cast<IRQ_STATUS>(status));
}

/* VIC_SOURCE_KIND. */
enum class SourceKind : std::underlying_type_t<VIC_SOURCE_KIND> {
    Device = VicSourceDevice,
    Software = VicSourceSoftware,
    Ipi = VicSourceIpi,
    Clock = VicSourceClock,
    Performance = VicSourcePerformance,
    PowerFail = VicSourcePowerFail,
    MachineCheck = VicSourceMachineCheck,
    Ast = VicSourceAst, /* a Claim's kind only */
};

/* VIC_PROCESSOR_MODE. */
enum class ProcessorMode : std::underlying_type_t<VIC_PROCESSOR_MODE> {
    Kernel = VicModeKernel,
    Executive = VicModeExecutive,
    Supervisor = VicModeSupervisor,
    User = VicModeUser,
};

/* IR_ROUTING_POLICY (router.h). */
enum class RoutingPolicy : std::underlying_type_t<IR_ROUTING_POLICY> {
    FixedCpu = IrRoutingFixedCpu,
    RoundRobin = IrRoutingRoundRobin,
    LowestPriority = IrRoutingLowestPriority,
    Broadcast = IrRoutingBroadcast,
    Affinity = IrRoutingAffinity,
};

/* VIC_CLAIM with its kind as an enum class. */
struct Claim {
    std::uint32_t source = 0;       /* VIC_SOURCE_AST for an AST */
    std::uint32_t level = 0;
    SourceKind kind = SourceKind::Device;
    std::uint32_t ast_mode = 0;     /* an AST: the mode it is for */
    std::uint32_t ipi_messages = 0; /* the IPI source: the messages taken (bit per VIC_IPI_MESSAGE) */
};

/* What creation may add to a default configuration: the wake-up (vic.h,
 * PVIC_WAKE_ROUTINE: runs on the raising thread, must not block). */
struct Options {
    PVIC_WAKE_ROUTINE wake = nullptr;
    void *wake_context = nullptr;
    bool wake_on_pending = false;
};

/* Options whose wake-up calls waker(cpu); waker must outlive the controller. */
template <class Waker>
Options wake_with(Waker &waker, bool on_pending = false) noexcept
{
    Options options;
    options.wake = [](void *context, std::uint32_t cpu) { (*static_cast<Waker *>(context))(cpu); };
    options.wake_context = static_cast<void *>(&waker);
    options.wake_on_pending = on_pending;
    return options;
}

class Controller;

/* What creation returns: the status, and the controller when it is Success. */
struct Creation;

/* A Vic and its storage. Move-only; a moved-from controller may only be
 * destroyed or assigned to. The storage never moves (the Vic points into
 * itself), so a check word from delivery_word stays valid as long as the
 * controller that owns it (wherever that has moved). */
class Controller {
public:
    /* VicQueryStorageSize, storage aligned to VIC_STORAGE_ALIGNMENT, then
     * VicInitialize. Their statuses, and InsufficientResources when the
     * storage cannot be allocated. config.Sources is copied: it need not
     * outlive the call. */
    [[nodiscard]] static Creation create(const VIC_CONFIG &config) noexcept;
    /* VicAlphaConfig: 32 levels, ASTs at 2, vic.h's Alpha numbering. */
    [[nodiscard]] static Creation create_alpha(std::uint32_t cpu_count, const Options &options = {}) noexcept;
    /* VicX86Config: 16 priority classes, source = vector. */
    [[nodiscard]] static Creation create_x86(std::uint32_t cpu_count, const Options &options = {}) noexcept;

    Controller(Controller &&other) noexcept
        : storage_(std::exchange(other.storage_, nullptr)), vic_(std::exchange(other.vic_, nullptr)),
          cpu_count_(std::exchange(other.cpu_count_, 0u))
    {
    }
    Controller &operator=(Controller &&other) noexcept
    {
        if (this != &other) {
            release();
            storage_ = std::exchange(other.storage_, nullptr);
            vic_ = std::exchange(other.vic_, nullptr);
            cpu_count_ = std::exchange(other.cpu_count_, 0u);
        }
        return *this;
    }
    Controller(const Controller &) = delete;
    Controller &operator=(const Controller &) = delete;
    ~Controller() { release(); }

    /* The C handle, for what this layer does not wrap. */
    VIC *native_handle() noexcept { return vic_; }
    const VIC *native_handle() const noexcept { return vic_; }
    std::uint32_t cpu_count() const noexcept { return cpu_count_; }

    /* ---- Any thread --------------------------------------------------------------- */
    Status raise(std::uint32_t source) noexcept { return to_status(VicRaise(vic_, source)); }
    Status raise_on(std::uint32_t source, std::uint32_t cpu) noexcept
    {
        return to_status(VicRaiseOnCpu(vic_, source, cpu));
    }
    Status clear(std::uint32_t source, std::uint32_t cpu) noexcept { return to_status(VicClear(vic_, source, cpu)); }
    Status write_software_request(std::uint32_t cpu, std::uint32_t level) noexcept
    {
        return to_status(VicWriteSoftwareRequest(vic_, cpu, level));
    }
    Status send_ipi(const VIC_IPI_TARGET &target, std::uint32_t message) noexcept
    {
        return to_status(VicSendIpi(vic_, &target, message));
    }
    Status send_ipi_to(std::uint32_t cpu, std::uint32_t message) noexcept
    {
        VIC_IPI_TARGET target{};
        target.Kind = VicIpiTargetCpu;
        target.Cpu = cpu;
        return send_ipi(target, message);
    }
    Status set_route(std::uint32_t source, const IR_ROUTE_CONFIG &config) noexcept
    {
        return to_status(VicSetRoute(vic_, source, &config));
    }
    /* mask: the CPUs the policy chooses from (nullptr: all). */
    Status set_route(std::uint32_t source, RoutingPolicy policy, std::uint32_t target_cpu = 0,
                     const IR_CPU_SET *mask = nullptr) noexcept
    {
        IR_ROUTE_CONFIG config{};
        config.Policy = static_cast<IR_ROUTING_POLICY>(policy);
        config.TargetCpu = target_cpu;
        config.Mask = mask;
        return set_route(source, config);
    }
    Status set_cpu_online(std::uint32_t cpu, bool online) noexcept
    {
        return to_status(VicSetCpuOnline(vic_, cpu, online));
    }

    /* ---- Queries (any thread) ------------------------------------------------------ */
    Status counters(std::uint32_t cpu, VIC_COUNTERS &counters) const noexcept
    {
        return to_status(VicQueryCounters(vic_, cpu, &counters));
    }
    Status cpu_state(std::uint32_t cpu, VIC_CPU_STATE &state) const noexcept
    {
        return to_status(VicQueryCpuState(vic_, cpu, &state));
    }
    Status is_pending(std::uint32_t source, std::uint32_t cpu, bool &pending) const noexcept
    {
        return to_status(VicIsPending(vic_, source, cpu, &pending));
    }

    /* ---- The CPU's owner ----------------------------------------------------------- */
    /* VicIsDeliverable: one acquire load (false for a cpu out of range). */
    bool is_deliverable(std::uint32_t cpu) const noexcept { return VicIsDeliverable(vic_, cpu); }
    /* For a loop that keeps its CPU's word at hand: no bounds test; cpu must
     * be below cpu_count(). */
    const VIC_CHECK_WORD *delivery_word(std::uint32_t cpu) const noexcept { return VicGetDeliveryWord(vic_, cpu); }
    static bool word_is_deliverable(const VIC_CHECK_WORD *word) noexcept { return VicWordIsDeliverable(word); }

    /* claim is written only on Success. */
    Status claim(std::uint32_t cpu, Claim &claim) noexcept { return forward_claim(VicClaim, cpu, claim); }
    Status take(std::uint32_t cpu, Claim &claim) noexcept { return forward_claim(VicTakeInterrupt, cpu, claim); }
    Status end_of_interrupt(std::uint32_t cpu) noexcept { return to_status(VicEndOfInterrupt(vic_, cpu)); }
    Status set_level(std::uint32_t cpu, std::uint32_t level, std::uint32_t *previous = nullptr) noexcept
    {
        return to_status(VicSetLevel(vic_, cpu, level, previous));
    }
    Status set_interrupts_enabled(std::uint32_t cpu, bool enabled, bool *previous = nullptr) noexcept
    {
        return to_status(VicSetInterruptsEnabled(vic_, cpu, enabled, previous));
    }
    Status set_barrier(std::uint32_t cpu, bool in_barrier) noexcept
    {
        return to_status(VicSetBarrier(vic_, cpu, in_barrier));
    }
    Status set_pal_mode(std::uint32_t cpu, bool in_pal_mode) noexcept
    {
        return to_status(VicSetPalMode(vic_, cpu, in_pal_mode));
    }
    Status set_mode(std::uint32_t cpu, ProcessorMode mode) noexcept
    {
        return to_status(VicSetMode(vic_, cpu, static_cast<VIC_PROCESSOR_MODE>(mode)));
    }
    Status write_ast_enable(std::uint32_t cpu, std::uint32_t keep, std::uint32_t set,
                            std::uint32_t *previous = nullptr) noexcept
    {
        return to_status(VicWriteAstEnable(vic_, cpu, keep, set, previous));
    }
    Status write_ast_summary(std::uint32_t cpu, std::uint32_t keep, std::uint32_t set,
                             std::uint32_t *previous = nullptr) noexcept
    {
        return to_status(VicWriteAstSummary(vic_, cpu, keep, set, previous));
    }

private:
    static constexpr std::align_val_t alignment{VIC_STORAGE_ALIGNMENT};

    Controller(void *storage, VIC *vic, std::uint32_t cpu_count) noexcept
        : storage_(storage), vic_(vic), cpu_count_(cpu_count)
    {
    }

    /* The Vic holds no resource but its storage: there is no call to undo. */
    void release() noexcept
    {
        if (storage_ != nullptr)
            ::operator delete(storage_, alignment);
        storage_ = nullptr;
        vic_ = nullptr;
    }

    Status forward_claim(IRQ_STATUS (*call)(VIC *, std::uint32_t, VIC_CLAIM *), std::uint32_t cpu,
                         Claim &claim) noexcept
    {
        VIC_CLAIM raw{};
        IRQ_STATUS status = call(vic_, cpu, &raw);
        if (status == IRQ_STATUS_SUCCESS) {
            claim.source = raw.Source;
            claim.level = raw.Level;
            claim.kind = static_cast<SourceKind>(raw.Kind);
            claim.ast_mode = raw.AstMode;
            claim.ipi_messages = raw.IpiMessages;
        }
        return to_status(status);
    }

    void *storage_;
    VIC *vic_;
    std::uint32_t cpu_count_;
};

struct Creation {
    Status status;
    std::optional<Controller> controller; /* engaged exactly when status is Success */
};

inline Creation Controller::create(const VIC_CONFIG &config) noexcept
{
    std::size_t size = 0;
    IRQ_STATUS status = VicQueryStorageSize(&config, &size);
    if (status != IRQ_STATUS_SUCCESS)
        return Creation{to_status(status), std::nullopt};
    void *storage = ::operator new(size, alignment, std::nothrow);
    if (storage == nullptr)
        return Creation{Status::InsufficientResources, std::nullopt};
    VIC *vic = nullptr;
    status = VicInitialize(storage, size, &config, &vic);
    if (status != IRQ_STATUS_SUCCESS) {
        ::operator delete(storage, alignment);
        return Creation{to_status(status), std::nullopt};
    }
    return Creation{Status::Success, Controller(storage, vic, config.CpuCount)};
}

inline Creation Controller::create_alpha(std::uint32_t cpu_count, const Options &options) noexcept
{
    VIC_CONFIG config{};
    VicAlphaConfig(&config, cpu_count);
    config.Wake = options.wake;
    config.WakeContext = options.wake_context;
    config.WakeOnPending = options.wake_on_pending;
    return create(config);
}

inline Creation Controller::create_x86(std::uint32_t cpu_count, const Options &options) noexcept
{
    VIC_SOURCE_DESCRIPTOR sources[VIC_X86_SOURCE_COUNT];
    VIC_CONFIG config{};
    VicX86Config(&config, cpu_count, sources);
    config.Wake = options.wake;
    config.WakeContext = options.wake_context;
    config.WakeOnPending = options.wake_on_pending;
    return create(config);
}

} // namespace irqroute::vic

#endif
