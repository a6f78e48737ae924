/* SPDX-License-Identifier: MIT */
/*
 * The sim core under load (run under ThreadSanitizer by `make tsan`): CPU
 * service threads, MSIs from unattached device threads, IPIs from a thread
 * attached to a CPU, and a thread that keeps attaching to and detaching from
 * CPUs while all of that runs.
 *
 * Exactly-once accounting: every (CPU, vector) pair belongs to one sender,
 * which sends the next message only when the entry has taken the previous
 * one (a second message for a vector still in the IRR would merge with the
 * first, as on hardware). So for every pair, dispatched == sent, and an
 * entry that finds nothing outstanding is a duplicate.
 *
 * Ownership: no two threads are ever in the entry for the same CPU, the
 * entry runs on a thread attached to that CPU with IF clear, and never on
 * another thread while the attach/detach thread holds the CPU.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "sim.h"
#include "testbed.h"
#include "tb_main.h"

#define MAX_CPUS 64u
#define MSI_SENDERS 3u
/* A sender that waits this long for one message to be taken reports it as
 * stuck: a liveness bound, far above any scheduling delay. */
#define STUCK_AFTER_SECONDS 60
#define IDLE_TIMEOUT_MS 60000u

/* One vector per sender, in different priority classes. */
static const uint8_t MsiVectors[MSI_SENDERS] = {0x41, 0x52, 0x63};
#define IPI_VECTOR 0x74u
#define BROADCAST_VECTOR 0x85u
/* The attach/detach thread raises its TPR to this, holding back classes
 * 4 and 5 for a while. */
#define HOLDING_TPR 0x50u

typedef struct _PAIR {
    _Atomic uint32_t Outstanding;
    _Atomic uint64_t Sent;
    _Atomic uint64_t Dispatched;
} PAIR;

static PAIR Pairs[MAX_CPUS][256];
static _Atomic uint32_t InEntry[MAX_CPUS];
static _Atomic uintptr_t HeldBy[MAX_CPUS]; /* token of the attach/detach thread while it holds the CPU */
static _Atomic uint64_t Duplicates;
static _Atomic uint64_t Violations;
static _Atomic uint64_t Stuck;
static _Atomic uint64_t AttachCycles;
static _Atomic bool SendersDone;

static uint32_t CpuCount;
static uint32_t IpiCpu;          /* the CPU the IPI sender is attached to */
static uint32_t MessagesPerSender;

static _Thread_local int TokenAnchor;

static uintptr_t MyToken(void)
{
    return (uintptr_t)&TokenAnchor;
}

/* ---- The interrupt entry ------------------------------------------------------------ */

static void CheckOwnership(uint32_t Cpu)
{
    uintptr_t Holder = atomic_load(&HeldBy[Cpu]);
    if (Holder != 0 && Holder != MyToken())
        atomic_fetch_add(&Violations, 1);
    if (SimAttachedCpu() != Cpu || PlatCurrentCpu() != Cpu || SimCpuInterruptsEnabled(Cpu))
        atomic_fetch_add(&Violations, 1);
}

static void CountingEntry(uint32_t Cpu, uint8_t Vector)
{
    if (Cpu >= MAX_CPUS) {
        atomic_fetch_add(&Violations, 1);
        return;
    }
    if (atomic_fetch_add(&InEntry[Cpu], 1) != 0)
        atomic_fetch_add(&Violations, 1);
    CheckOwnership(Cpu);
    PAIR *Pair = &Pairs[Cpu][Vector];
    if (atomic_exchange(&Pair->Outstanding, 0) != 1)
        atomic_fetch_add(&Duplicates, 1);
    atomic_fetch_add(&Pair->Dispatched, 1);
    HlLapicEndOfInterrupt();
    atomic_fetch_sub(&InEntry[Cpu], 1);
}

/* ---- Senders ------------------------------------------------------------------------- */

static int64_t NowSeconds(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return Now.tv_sec;
}

/* Waits until the pair's previous message was taken, then claims it. An
 * attached sender relaxes as its CPU (taking its own interrupts). */
static bool ClaimPair(uint32_t Cpu, uint8_t Vector)
{
    PAIR *Pair = &Pairs[Cpu][Vector];
    int64_t GiveUp = NowSeconds() + STUCK_AFTER_SECONDS;
    while (atomic_load(&Pair->Outstanding) != 0) {
        if (NowSeconds() > GiveUp) {
            atomic_fetch_add(&Stuck, 1);
            return false;
        }
        if (SimAttachedCpu() != SIM_NO_CPU)
            PlatCpuRelax();
        else
            sched_yield();
    }
    atomic_store(&Pair->Outstanding, 1);
    atomic_fetch_add(&Pair->Sent, 1);
    return true;
}

static uint64_t MsiAddress(uint32_t Cpu)
{
    return 0xFEE00000ull | (uint64_t)SimCpuApicId(Cpu) << 12;
}

/* A device: MSIs round-robin over every CPU, from a thread that is no CPU. */
static void *MsiSender(void *Argument)
{
    uint8_t Vector = MsiVectors[(uintptr_t)Argument];
    for (uint32_t Round = 0; Round < MessagesPerSender; Round++) {
        uint32_t Cpu = (Round * 7u + (uint32_t)(uintptr_t)Argument) % CpuCount;
        if (!ClaimPair(Cpu, Vector))
            break;
        SimMsiWrite(MsiAddress(Cpu), Vector);
    }
    return NULL;
}

static bool Broadcast(void)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        if (Cpu != IpiCpu && !ClaimPair(Cpu, BROADCAST_VECTOR))
            return false;
    }
    return HlLapicSendIpi(0, HlIpiAllExcludingSelf, HlDeliveryFixed, BROADCAST_VECTOR) == IRQ_STATUS_SUCCESS;
}

/* A CPU sending IPIs: unicast round-robin (itself included) and, every
 * eighth round, one to all but itself. */
static void *IpiSender(void *Argument)
{
    (void)Argument;
    SimAttachCpu(IpiCpu);
    for (uint32_t Round = 0; Round < MessagesPerSender; Round++) {
        bool Ok;
        if (Round % 8u == 7u) {
            Ok = Broadcast();
        } else {
            uint32_t Cpu = Round % CpuCount;
            Ok = ClaimPair(Cpu, IPI_VECTOR) &&
                 HlLapicSendIpi(SimCpuApicId(Cpu), HlIpiNoShorthand, HlDeliveryFixed, IPI_VECTOR) ==
                     IRQ_STATUS_SUCCESS;
        }
        if (!Ok) {
            atomic_fetch_add(&Violations, 1);
            break;
        }
        PlatCpuRelax();
    }
    SimDetachCpu();
    return NULL;
}

/* Takes CPUs away from their service threads and gives them back, holding
 * some classes off with the TPR for a moment each time. */
static void *AttachDetacher(void *Argument)
{
    (void)Argument;
    for (uint32_t Round = 0; !atomic_load(&SendersDone); Round++) {
        uint32_t Cpu = Round % CpuCount;
        if (Cpu == IpiCpu)
            continue;
        SimAttachCpu(Cpu);
        atomic_store(&HeldBy[Cpu], MyToken());
        HlLapicWriteTaskPriority(HOLDING_TPR);
        for (int Spin = 0; Spin < 3; Spin++)
            PlatCpuRelax();
        HlLapicWriteTaskPriority(0);
        PlatCpuRelax();
        atomic_store(&HeldBy[Cpu], 0);
        SimDetachCpu();
        atomic_fetch_add(&AttachCycles, 1);
    }
    return NULL;
}

/* ---- Fixture --------------------------------------------------------------------------- */

static void ResetCounters(void)
{
    for (uint32_t Cpu = 0; Cpu < MAX_CPUS; Cpu++) {
        atomic_store(&InEntry[Cpu], 0);
        atomic_store(&HeldBy[Cpu], 0);
        for (uint32_t Vector = 0; Vector < 256; Vector++) {
            atomic_store(&Pairs[Cpu][Vector].Outstanding, 0);
            atomic_store(&Pairs[Cpu][Vector].Sent, 0);
            atomic_store(&Pairs[Cpu][Vector].Dispatched, 0);
        }
    }
    atomic_store(&Duplicates, 0);
    atomic_store(&Violations, 0);
    atomic_store(&Stuck, 0);
    atomic_store(&AttachCycles, 0);
    atomic_store(&SendersDone, false);
}

/* Every CPU brought up by the driver on its own attached thread; the test
 * thread ends attached to nothing, so every CPU belongs to its service
 * thread. */
static void Boot(uint32_t Cpus, bool X2Apic, bool Threads)
{
    ResetCounters();
    CpuCount = Cpus;
    IpiCpu = Cpus - 1u;
    SIM_CONFIG Config = {.CpuCount = Cpus, .X2ApicSupported = X2Apic};
    TbStartHardwareLayer(&Config);
    SimSetInterruptEntry(CountingEntry);
    for (uint32_t Cpu = 0; Cpu < Cpus; Cpu++) {
        SimAttachCpu(Cpu);
        TbBringUpAttachedCpu(Cpu);
        SimDetachCpu();
    }
    if (Threads)
        assert_int_equal(SimStartCpuThreads(), 0);
}

/* The service threads stop first, then the sim goes as in every Hl test. */
static int Teardown(void **State)
{
    if (SimAttachedCpu() != SIM_NO_CPU)
        SimDetachCpu();
    SimStopCpuThreads();
    return TbTeardownHardwareLayer(State);
}

/* ---- The load ---------------------------------------------------------------------------- */

static void RunLoad(uint32_t Messages)
{
    MessagesPerSender = Messages;
    pthread_t Msi[MSI_SENDERS], Ipi, Attacher;
    for (uintptr_t Sender = 0; Sender < MSI_SENDERS; Sender++)
        assert_int_equal(pthread_create(&Msi[Sender], NULL, MsiSender, (void *)Sender), 0);
    assert_int_equal(pthread_create(&Ipi, NULL, IpiSender, NULL), 0);
    assert_int_equal(pthread_create(&Attacher, NULL, AttachDetacher, NULL), 0);
    for (uint32_t Sender = 0; Sender < MSI_SENDERS; Sender++)
        pthread_join(Msi[Sender], NULL);
    pthread_join(Ipi, NULL);
    atomic_store(&SendersDone, true);
    pthread_join(Attacher, NULL);
}

static void AssertExactlyOnce(uint64_t ExpectedTotal)
{
    assert_true(SimWaitIdle(IDLE_TIMEOUT_MS));
    assert_int_equal(atomic_load(&Stuck), 0);
    assert_int_equal(atomic_load(&Duplicates), 0);
    assert_int_equal(atomic_load(&Violations), 0);
    uint64_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        uint64_t OnCpu = 0;
        for (uint32_t Vector = 0; Vector < 256; Vector++) {
            PAIR *Pair = &Pairs[Cpu][Vector];
            assert_int_equal(atomic_load(&Pair->Dispatched), atomic_load(&Pair->Sent));
            assert_int_equal(atomic_load(&Pair->Outstanding), 0);
            OnCpu += atomic_load(&Pair->Dispatched);
        }
        assert_int_equal(SimEoiCount(Cpu), OnCpu); /* one EOI per dispatch, on the right LAPIC */
        assert_false(SimLapicIsrIsSet(Cpu, IPI_VECTOR));
        Total += OnCpu;
    }
    assert_int_equal(Total, ExpectedTotal);
}

/* Messages the load sends: the MSI senders' and the IPI sender's unicast
 * rounds count one each, its broadcast rounds one per other CPU. */
static uint64_t ExpectedMessages(uint32_t Messages)
{
    uint64_t Broadcasts = Messages / 8u;
    return (uint64_t)MSI_SENDERS * Messages + (Messages - Broadcasts) + Broadcasts * (CpuCount - 1u);
}

static void test_four_cpus_xapic(void **State)
{
    (void)State;
    Boot(4, false, true);
    RunLoad(2000);
    AssertExactlyOnce(ExpectedMessages(2000));
    assert_true(atomic_load(&AttachCycles) > 0);
}

static void test_sixty_four_cpus_x2apic(void **State)
{
    (void)State;
    Boot(MAX_CPUS, true, true);
    RunLoad(1500);
    AssertExactlyOnce(ExpectedMessages(1500));
}

static void test_sixty_four_cpus_xapic(void **State)
{
    (void)State;
    Boot(MAX_CPUS, false, true);
    RunLoad(1000);
    AssertExactlyOnce(ExpectedMessages(1000));
}

/* ---- Idle detection and restarts ----------------------------------------------------------- */

/* SimWaitIdle looks at what a CPU could accept: a vector held off by an
 * attached CPU with IF clear keeps the system busy; the same vector held by
 * the TPR does not (the CPU could not take it). */
static void test_wait_idle_sees_held_interrupts(void **State)
{
    (void)State;
    Boot(4, false, true);
    SimAttachCpu(1);
    bool WasEnabled = PlatDisableInterrupts();
    assert_true(atomic_load(&Pairs[1][0x61].Outstanding) == 0);
    atomic_store(&Pairs[1][0x61].Outstanding, 1);
    atomic_store(&Pairs[1][0x61].Sent, 1);
    SimMsiWrite(MsiAddress(1), 0x61);
    assert_false(SimWaitIdle(1));
    assert_int_equal(atomic_load(&Pairs[1][0x61].Dispatched), 0);
    PlatRestoreInterrupts(WasEnabled);
    assert_int_equal(atomic_load(&Pairs[1][0x61].Dispatched), 1);

    HlLapicWriteTaskPriority(0x70);
    atomic_store(&Pairs[1][0x62].Outstanding, 1);
    atomic_store(&Pairs[1][0x62].Sent, 1);
    SimMsiWrite(MsiAddress(1), 0x62);
    assert_true(SimWaitIdle(IDLE_TIMEOUT_MS));
    assert_true(SimLapicIrrIsSet(1, 0x62));
    HlLapicWriteTaskPriority(0);
    assert_int_equal(atomic_load(&Pairs[1][0x62].Dispatched), 1);
    SimDetachCpu();
    AssertExactlyOnce(2);
}

/* What arrives while no thread runs a CPU is taken when its service thread
 * starts; stopping and restarting the threads loses nothing. */
static void test_threads_start_late_and_restart(void **State)
{
    (void)State;
    Boot(4, false, false);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        atomic_store(&Pairs[Cpu][0x91].Outstanding, 1);
        atomic_store(&Pairs[Cpu][0x91].Sent, 1);
        SimMsiWrite(MsiAddress(Cpu), 0x91);
    }
    assert_false(SimWaitIdle(1));
    assert_int_equal(SimStartCpuThreads(), 0);
    assert_true(SimWaitIdle(IDLE_TIMEOUT_MS));
    SimStopCpuThreads();
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        atomic_store(&Pairs[Cpu][0x92].Outstanding, 1);
        atomic_store(&Pairs[Cpu][0x92].Sent, 1);
        SimMsiWrite(MsiAddress(Cpu), 0x92);
        assert_true(SimLapicIrrIsSet(Cpu, 0x92));
    }
    assert_int_equal(SimStartCpuThreads(), 0);
    AssertExactlyOnce(8);
}

TB_TEST_MAIN(
    cmocka_unit_test_teardown(test_four_cpus_xapic, Teardown),
    cmocka_unit_test_teardown(test_sixty_four_cpus_x2apic, Teardown),
    cmocka_unit_test_teardown(test_sixty_four_cpus_xapic, Teardown),
    cmocka_unit_test_teardown(test_wait_idle_sees_held_interrupts, Teardown),
    cmocka_unit_test_teardown(test_threads_start_late_and_restart, Teardown))
