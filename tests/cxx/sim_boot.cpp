/* SPDX-License-Identifier: MIT */
/*
 * A C++ program over the whole library and the sim (cxx_sim_boot): boots
 * four simulated CPUs, connects ISA IRQ 4 to CPU 2 with IoConnectInterruptEx,
 * pulses the line, services CPU 2 and checks that the service routine ran
 * there once. If a public header gave a function C++ linkage, this would not
 * link; if C++ laid a structure out differently from C, the connection would
 * not get through. It also checks that C++ fills an I/O APIC redirection
 * entry's bit-fields as C does
 * (redirection_sample.h, filled by both; c_layout.h, C's value).
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/status.h>

#include <atomic>
#include <cstdint>
#include <cstdio>

/* The sim's headers (platform/sim) are not public headers and have no
 * extern "C" brackets of their own. */
extern "C" {
#include "simboot.h"
}

/* From the generated layouts only the redirection sample (all_headers.cpp
 * checks the rest). */
#define IRQROUTE_C_LAYOUT(Type, Size, Align)
#define IRQROUTE_C_OFFSET(Type, Member, Offset)
#include "c_layout.h"
#include "cxx_check.h"
#include "redirection_sample.h"

namespace {

struct IsrRecord {
    std::atomic<uint32_t> calls{0};
    std::atomic<uint32_t> cpu{SIM_NO_CPU};
};

bool CountingIsr(KINTERRUPT *, void *context)
{
    auto *record = static_cast<IsrRecord *>(context);
    record->calls++;
    record->cpu = SimAttachedCpu();
    return true;
}

uint32_t ServiceOn(uint32_t cpu)
{
    SimDetachCpu();
    SimAttachCpu(cpu);
    uint32_t count = SimServicePending();
    SimDetachCpu();
    SimAttachCpu(0);
    return count;
}

} // namespace

int main()
{
    /* The bit-fields of a redirection entry: the same bits as in C. */
    CHECK(CxxRedirectionSample().Value == IRQROUTE_C_REDIRECTION_SAMPLE);

    SIM_SYSTEM_CONFIG config{};
    config.CpuCount = 4;
    IRQ_STATUS status = SimBootSystem(&config);
    CHECK(status == IRQ_STATUS_SUCCESS);
    if (status != IRQ_STATUS_SUCCESS) {
        std::fprintf(stderr, "SimBootSystem: %s\n", IrStatusName(status));
        return 1;
    }
    SimAttachCpu(0);

    IsrRecord record;
    KINTERRUPT *interrupt = nullptr;
    IO_CONNECT_INTERRUPT_PARAMETERS parameters{};
    parameters.Version = CONNECT_LINE_BASED;
    parameters.LineBased.InterruptObject = &interrupt;
    parameters.LineBased.ServiceRoutine = CountingIsr;
    parameters.LineBased.ServiceContext = &record;
    parameters.LineBased.Line.Bus = HlBusIsa;
    parameters.LineBased.Line.Number = 4;
    parameters.LineBased.Irql = KE_IRQL_ANY;
    parameters.LineBased.Target.Kind = IoTargetCpu;
    parameters.LineBased.Target.Cpu = 2;
    status = IoConnectInterruptEx(&parameters);
    CHECK(status == IRQ_STATUS_SUCCESS);
    CHECK(interrupt != nullptr);

    if (status == IRQ_STATUS_SUCCESS) {
        SimPulseGsi(4); /* ISA IRQ 4: no override, GSI 4 */
        CHECK(ServiceOn(1) == 0);
        CHECK(ServiceOn(2) == 1);
        CHECK(record.calls == 1);
        CHECK(record.cpu == 2);
        CHECK(KeQueryInterruptCount(interrupt, 2) == 1);
        CHECK(IoDisconnectInterrupt(interrupt) == IRQ_STATUS_SUCCESS);
    }

    SimDetachCpu();
    SimShutdownSystem();
    return CxxCheckExit("cxx_sim_boot", "ISA IRQ 4 connected from C++, raised, handled once on CPU 2");
}
