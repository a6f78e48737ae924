/* SPDX-License-Identifier: MIT */
/*
 * Storm protection on the sim (docs/storms.md): a level line held asserted
 * that no ISR claims is masked after exactly one window of dispatches, the
 * CPU leaves its service loop and serves other lines, the poll backs off
 * and gives the line back once its device claims again; a noisy line that
 * claims often enough is never masked; the storm clock forgets an old
 * unclaimed count; bad thresholds change nothing.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>

#define STUCK_GSI 16u   /* PCI: level, active low */
#define SHARER_GSI 17u
#define HEALTHY_IRQ 4u  /* ISA: edge */
#define CPU 1u

/* A device whose ISR claims on a pattern: call n (from 0) claims when
 * 1 <= n % Period <= Claims (every call when Claims >= Period), so that a
 * pattern's first call, which begins a storm window, is unclaimed. A
 * claiming call deasserts Gsi (its device is
 * served). A storm that is never masked would keep a level line in the
 * service loop for ever: at Limit calls the ISR drops the line itself, so
 * such a test fails on its counts instead of hanging. */
typedef struct _STORM_DEVICE {
    _Atomic uint64_t Calls;
    uint32_t Period;     /* 0: never claims */
    uint32_t Claims;
    uint32_t Gsi;
    uint64_t Limit;
    uint32_t PulseAtCall; /* 0: none; else pulses HEALTHY_IRQ at that call */
} STORM_DEVICE;

static bool StormDeviceIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    STORM_DEVICE *Device = Context;
    uint64_t Call = atomic_fetch_add(&Device->Calls, 1);
    if (Device->PulseAtCall != 0 && Call + 1 == Device->PulseAtCall)
        SimPulseGsi(HEALTHY_IRQ);
    uint64_t Phase = Device->Period != 0 ? Call % Device->Period : 0;
    bool Claimed = Device->Period != 0 && (Device->Claims >= Device->Period || (Phase >= 1 && Phase <= Device->Claims));
    if (Claimed || Call + 1 >= Device->Limit)
        SimSetGsi(Device->Gsi, false);
    return Claimed;
}

static KINTERRUPT *ConnectDevice(STORM_DEVICE *Device, HL_LINE_BUS Bus, uint32_t Number, IO_INTERRUPT_TARGET Target,
                                 bool Share)
{
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectLine(&Interrupt, StormDeviceIsr, Device, Bus, Number, Target, Share),
                     IRQ_STATUS_SUCCESS);
    return Interrupt;
}

static IO_INTERRUPT_STORM QueryStorm(const KINTERRUPT *Interrupt)
{
    IO_INTERRUPT_STORM Storm;
    assert_int_equal(IoQueryInterruptStorm(Interrupt, &Storm), IRQ_STATUS_SUCCESS);
    return Storm;
}

static KE_VECTOR_STATISTICS VectorStatistics(const KINTERRUPT *Interrupt)
{
    KE_VECTOR_STATISTICS Statistics;
    assert_int_equal(KeQueryVectorStatistics(CPU, KeGetInterruptVector(Interrupt), &Statistics), IRQ_STATUS_SUCCESS);
    return Statistics;
}

static void AssertMaskedForStorm(const KINTERRUPT *Interrupt, uint32_t Gsi, uint64_t Storms)
{
    assert_int_equal(TbPeekEntry(Gsi).Bits.Mask, 1);
    IO_INTERRUPT_STORM Storm = QueryStorm(Interrupt);
    assert_true(Storm.Stormed);
    assert_true(Storm.Masked);
    assert_int_equal(Storm.Storms, Storms);
}

/* The default window (Linux's 100,000 / 99,900): the line held asserted,
 * nobody claiming. The service loop ends after exactly one window, the
 * entry masked, and an edge raised during the storm (from the stuck ISR,
 * call 10) is served in the same loop: the CPU gets on with other work. */
static void test_stuck_level_line_masked_after_one_window(void **State)
{
    (void)State;
    uint32_t Window = 0, Threshold = 0;
    assert_int_equal(KeQueryStormThresholds(&Window, &Threshold), IRQ_STATUS_SUCCESS);
    assert_int_equal(Window, 100000u);
    assert_int_equal(Threshold, 99900u);
    STORM_DEVICE Stuck = {.Gsi = STUCK_GSI, .Limit = 3u * Window};
    TB_ISR_RECORD Healthy = {.Claim = true};
    KINTERRUPT *StuckObject = ConnectDevice(&Stuck, HlBusPci, STUCK_GSI, TbTargetCpu(CPU), false);
    KINTERRUPT *HealthyObject = TbConnectIsaToCpu(&Healthy, HEALTHY_IRQ, CPU);
    assert_false(QueryStorm(StuckObject).Stormed);

    /* The device works for a while: claimed dispatches are no part of the
     * storm's window, which begins with the first unclaimed one. */
    Stuck.Period = 1;
    Stuck.Claims = 1;
    for (uint32_t Served = 0; Served < 5; Served++) {
        SimSetGsi(STUCK_GSI, true);
        assert_int_equal(TbService(CPU), 1);
    }
    Stuck.Period = 0; /* stuck: asserted, nobody claims */
    atomic_store(&Stuck.Calls, 0);
    Stuck.PulseAtCall = 10;

    SimSetGsi(STUCK_GSI, true);
    assert_int_equal(TbService(CPU), Window + 1); /* the window, and the healthy edge */
    assert_int_equal(atomic_load(&Stuck.Calls), Window);
    assert_int_equal(atomic_load(&Healthy.Calls), 1);
    KE_VECTOR_STATISTICS Statistics = VectorStatistics(StuckObject);
    assert_int_equal(Statistics.Dispatched, Window + 5);
    assert_int_equal(Statistics.Unclaimed, Window);
    AssertMaskedForStorm(StuckObject, STUCK_GSI, 1);
    assert_int_equal(QueryStorm(StuckObject).NextPollIn, 1);
    assert_false(QueryStorm(HealthyObject).Stormed);

    /* Still asserted, masked: nothing comes in; the healthy line still does. */
    assert_int_equal(TbService(CPU), 0);
    SimPulseGsi(HEALTHY_IRQ);
    TbAssertHandledOn(CPU, &Healthy);
    assert_int_equal(TbPeekEntry(HEALTHY_IRQ).Bits.Mask, 0);
    assert_int_equal(IoDisconnectInterrupt(StuckObject), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(HealthyObject), IRQ_STATUS_SUCCESS);
    SimSetGsi(STUCK_GSI, false);
}

/* Polls while the device stays stuck run its ISR at polls 1, 3, 7, 15,
 * 31, 63, 95 (back-off 1, 2, 4 ... capped at 32) and leave the line
 * masked; once the ISR claims (and drops the line), the next due poll
 * unmasks it and the line's interrupts flow again. */
static void test_poll_backs_off_and_gives_the_line_back(void **State)
{
    (void)State;
    assert_int_equal(KeSetStormThresholds(1000, 999), IRQ_STATUS_SUCCESS);
    STORM_DEVICE Stuck = {.Gsi = STUCK_GSI, .Limit = 3000};
    KINTERRUPT *Object = ConnectDevice(&Stuck, HlBusPci, STUCK_GSI, TbTargetCpu(CPU), false);
    SimSetGsi(STUCK_GSI, true);
    assert_int_equal(TbService(CPU), 1000);
    AssertMaskedForStorm(Object, STUCK_GSI, 1);

    const uint32_t PollsThatRun[] = {1, 3, 7, 15, 31, 63, 95};
    const uint32_t IntervalAfter[] = {2, 4, 8, 16, 32, 32, 32};
    uint32_t Next = 0;
    for (uint32_t Poll = 1; Poll <= 95; Poll++) {
        assert_int_equal(IoPollStormedInterrupts(), 0);
        bool Ran = Next < 7 && PollsThatRun[Next] == Poll;
        assert_int_equal(atomic_load(&Stuck.Calls), 1000u + Next + (Ran ? 1u : 0u));
        if (Ran) {
            assert_int_equal(QueryStorm(Object).NextPollIn, IntervalAfter[Next]);
            Next++;
        }
    }
    AssertMaskedForStorm(Object, STUCK_GSI, 1);
    assert_int_equal(QueryStorm(Object).Polls, 7);

    /* The device recovers: its ISR claims and drops the line. */
    Stuck.Period = 1;
    Stuck.Claims = 1;
    uint32_t Unmasked = 0;
    for (uint32_t Poll = 0; Poll < 32; Poll++)
        Unmasked += IoPollStormedInterrupts();
    assert_int_equal(Unmasked, 1);
    assert_int_equal(atomic_load(&Stuck.Calls), 1008);
    assert_int_equal(TbPeekEntry(STUCK_GSI).Bits.Mask, 0);
    IO_INTERRUPT_STORM Storm = QueryStorm(Object);
    assert_false(Storm.Stormed);
    assert_false(Storm.Masked);
    assert_int_equal(Storm.Storms, 1);

    SimSetGsi(STUCK_GSI, true);
    assert_int_equal(TbService(CPU), 1);
    assert_int_equal(atomic_load(&Stuck.Calls), 1009);
    assert_int_equal(IoDisconnectInterrupt(Object), IRQ_STATUS_SUCCESS);
}

/* Edges on an ISA line, one per service, with the device's claim pattern:
 * Count dispatches. */
static void PulseHealthyLine(uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++) {
        SimPulseGsi(HEALTHY_IRQ);
        assert_int_equal(TbService(CPU), 1);
    }
}

/* Two polls: the storm clock moves over a whole period, so the next
 * unclaimed dispatch begins a fresh window (each phase below starts clean). */
static void ForgetWindow(void)
{
    assert_int_equal(IoPollStormedInterrupts(), 0);
    assert_int_equal(IoPollStormedInterrupts(), 0);
}

/* Half the dispatches unclaimed, for many windows: never masked. At the
 * threshold's edge (window 10, threshold 8): 7 unclaimed of 10 is no
 * storm, 8 of 10 is, on the window's last dispatch. A window that claimed
 * dispatches carried past its size is judged by its claims too. */
static void test_noisy_line_is_masked_only_past_the_threshold(void **State)
{
    (void)State;
    assert_int_equal(KeSetStormThresholds(1000, 999), IRQ_STATUS_SUCCESS);
    STORM_DEVICE Noisy = {.Gsi = HEALTHY_IRQ, .Period = 2, .Claims = 1, .Limit = UINT64_MAX};
    KINTERRUPT *Object = ConnectDevice(&Noisy, HlBusIsa, HEALTHY_IRQ, TbTargetCpu(CPU), false);
    PulseHealthyLine(5000);
    assert_int_equal(VectorStatistics(Object).Unclaimed, 2500);
    assert_false(QueryStorm(Object).Stormed);
    assert_int_equal(TbPeekEntry(HEALTHY_IRQ).Bits.Mask, 0);

    assert_int_equal(KeSetStormThresholds(10, 8), IRQ_STATUS_SUCCESS);
    ForgetWindow();
    Noisy.Period = 10;
    Noisy.Claims = 3; /* 7 unclaimed of every 10 */
    atomic_store(&Noisy.Calls, 0);
    PulseHealthyLine(100);
    assert_false(QueryStorm(Object).Stormed);

    /* 8 unclaimed and 5 claimed, then one more unclaimed ends the window
     * at 14: 9 unclaimed, but 5 claimed is more than the 2 a window of 10
     * with 8 unclaimed leaves. */
    ForgetWindow();
    Noisy.Claims = 0;
    PulseHealthyLine(8);
    Noisy.Claims = Noisy.Period; /* claims everything */
    PulseHealthyLine(5);
    Noisy.Claims = 0;
    PulseHealthyLine(1);
    assert_false(QueryStorm(Object).Stormed);

    ForgetWindow();
    Noisy.Claims = 2; /* 8 of 10 */
    atomic_store(&Noisy.Calls, 0);
    PulseHealthyLine(9);
    assert_false(QueryStorm(Object).Stormed);
    PulseHealthyLine(1);
    AssertMaskedForStorm(Object, HEALTHY_IRQ, 1);
    SimPulseGsi(HEALTHY_IRQ);
    assert_int_equal(TbService(CPU), 0); /* an edge line is masked too */
    assert_int_equal(IoDisconnectInterrupt(Object), IRQ_STATUS_SUCCESS);
}

/* The storm clock: nine unclaimed edges, then two polls (over one whole
 * period): the tenth begins a new window instead of ending a storm. One
 * poll (not over a period) forgets nothing: that window's tenth is one. */
static void test_storm_clock_forgets_old_unclaimed_counts(void **State)
{
    (void)State;
    assert_int_equal(KeSetStormThresholds(10, 10), IRQ_STATUS_SUCCESS);
    STORM_DEVICE Rare = {.Gsi = HEALTHY_IRQ, .Limit = UINT64_MAX};
    KINTERRUPT *Object = ConnectDevice(&Rare, HlBusIsa, HEALTHY_IRQ, TbTargetCpu(CPU), false);
    PulseHealthyLine(9);
    assert_int_equal(IoPollStormedInterrupts(), 0);
    assert_int_equal(IoPollStormedInterrupts(), 0);
    PulseHealthyLine(1);
    assert_false(QueryStorm(Object).Stormed);
    PulseHealthyLine(8);
    assert_false(QueryStorm(Object).Stormed);
    assert_int_equal(IoPollStormedInterrupts(), 0); /* one epoch: not over a period */
    PulseHealthyLine(1);
    AssertMaskedForStorm(Object, HEALTHY_IRQ, 1);
    assert_int_equal(IoDisconnectInterrupt(Object), IRQ_STATUS_SUCCESS);
}

/* A shared level line is masked as a whole; the poll runs every sharer's
 * ISR; the healthy sharer's claim brings the line back. */
static void test_shared_line_masked_whole_and_polled(void **State)
{
    (void)State;
    assert_int_equal(KeSetStormThresholds(100, 100), IRQ_STATUS_SUCCESS);
    STORM_DEVICE Stuck = {.Gsi = SHARER_GSI, .Limit = 1000};
    STORM_DEVICE Sharer = {.Gsi = SHARER_GSI, .Limit = UINT64_MAX};
    KINTERRUPT *StuckObject = ConnectDevice(&Stuck, HlBusPci, SHARER_GSI, TbTargetCpu(CPU), true);
    KINTERRUPT *SharerObject = ConnectDevice(&Sharer, HlBusPci, SHARER_GSI, TbTargetCpu(CPU), true);
    SimSetGsi(SHARER_GSI, true);
    assert_int_equal(TbService(CPU), 100);
    assert_int_equal(atomic_load(&Stuck.Calls), 100);
    assert_int_equal(atomic_load(&Sharer.Calls), 100);
    AssertMaskedForStorm(StuckObject, SHARER_GSI, 1);
    AssertMaskedForStorm(SharerObject, SHARER_GSI, 1);

    assert_int_equal(IoPollStormedInterrupts(), 0);
    assert_int_equal(atomic_load(&Stuck.Calls), 101);
    assert_int_equal(atomic_load(&Sharer.Calls), 101);
    Sharer.Period = 1; /* the sharer's device wants service now: it claims */
    Sharer.Claims = 1;
    assert_int_equal(IoPollStormedInterrupts(), 0); /* not due (back-off 2) */
    assert_int_equal(IoPollStormedInterrupts(), 1);
    assert_int_equal(atomic_load(&Sharer.Calls), 102);
    assert_int_equal(TbPeekEntry(SHARER_GSI).Bits.Mask, 0);
    assert_false(QueryStorm(StuckObject).Masked);
    assert_false(QueryStorm(SharerObject).Masked);

    /* A stormed sharer that leaves keeps the line masked for the other. */
    SimSetGsi(SHARER_GSI, true);
    Sharer.Period = 0;
    assert_int_equal(TbService(CPU), 100);
    AssertMaskedForStorm(SharerObject, SHARER_GSI, 2);
    assert_int_equal(IoDisconnectInterrupt(StuckObject), IRQ_STATUS_SUCCESS);
    AssertMaskedForStorm(SharerObject, SHARER_GSI, 2);
    assert_int_equal(IoDisconnectInterrupt(SharerObject), IRQ_STATUS_SUCCESS);
    SimSetGsi(SHARER_GSI, false);
}

/* A movable level line: masked under its route lock, and a move while it
 * is masked keeps the mask (the move masks around the change and restores
 * what it read). */
static void test_movable_line_stays_masked_across_a_move(void **State)
{
    (void)State;
    assert_int_equal(KeSetStormThresholds(100, 100), IRQ_STATUS_SUCCESS);
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){1, 2}, 2);
    STORM_DEVICE Stuck = {.Gsi = STUCK_GSI, .Limit = 1000};
    KINTERRUPT *Object = ConnectDevice(&Stuck, HlBusPci, STUCK_GSI, TbTargetRoutable(&Mask, 1), false);
    SimSetGsi(STUCK_GSI, true);
    assert_int_equal(TbService(1), 100);
    AssertMaskedForStorm(Object, STUCK_GSI, 1);
    assert_int_equal(IoSetInterruptTarget(Object, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(STUCK_GSI).Bits.Mask, 1);
    assert_int_equal(TbService(2), 0);
    Stuck.Period = 1;
    Stuck.Claims = 1;
    assert_int_equal(IoPollStormedInterrupts(), 1);
    assert_int_equal(TbPeekEntry(STUCK_GSI).Bits.Mask, 0);
    SimSetGsi(STUCK_GSI, true);
    assert_int_equal(TbService(2), 1);
    assert_int_equal(IoDisconnectInterrupt(Object), IRQ_STATUS_SUCCESS);
}

/* Ke alone, with a handler of the test's own (in place of Io's): the
 * report names the CPU, the vector, an object of its chain and the
 * window; a message to a vector nothing is linked on (a stray source) is
 * reported without an object; no handler, no report, the counting goes
 * on. */
typedef struct _CAPTURED_REPORTS {
    uint32_t Count;
    KE_STORM_REPORT Last;
    void *Context;
} CAPTURED_REPORTS;

static CAPTURED_REPORTS Captured;

static void CaptureStorm(const KE_STORM_REPORT *Report, void *Context)
{
    Captured.Count++;
    Captured.Last = *Report;
    Captured.Context = Context;
}

static void SendMessages(const HL_MSI_MESSAGE *Message, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++) {
        SimMsiWrite(Message->Address, Message->Data);
        assert_int_equal(TbService(CPU), 1);
    }
}

static void test_ke_reports_to_its_handler(void **State)
{
    (void)State;
    Captured = (CAPTURED_REPORTS){0};
    assert_int_equal(KeSetStormHandler(CaptureStorm, &Captured), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeSetStormThresholds(5, 4), IRQ_STATUS_SUCCESS);
    TB_ISR_RECORD Record = {.Claim = false};
    HL_MSI_MESSAGE Message;
    KINTERRUPT *Object = TbConnectMessageToCpu(&Record, CPU, &Message);
    uint8_t Vector = KeGetInterruptVector(Object);
    SendMessages(&Message, 4);
    assert_int_equal(Captured.Count, 0);
    SendMessages(&Message, 1);
    assert_int_equal(Captured.Count, 1);
    assert_int_equal(Captured.Last.Cpu, CPU);
    assert_int_equal(Captured.Last.Vector, Vector);
    assert_ptr_equal(Captured.Last.Interrupt, Object);
    assert_int_equal(Captured.Last.Dispatched, 5);
    assert_int_equal(Captured.Last.Unclaimed, 5);
    assert_ptr_equal(Captured.Context, &Captured);

    assert_int_equal(IoDisconnectInterrupt(Object), IRQ_STATUS_SUCCESS);
    SendMessages(&Message, 5); /* the device goes on writing: nothing is linked */
    assert_int_equal(Captured.Count, 2);
    assert_null(Captured.Last.Interrupt);
    assert_int_equal(Captured.Last.Vector, Vector);
    assert_int_equal(Captured.Last.Unclaimed, 5);

    assert_int_equal(KeSetStormHandler(NULL, NULL), IRQ_STATUS_SUCCESS);
    SendMessages(&Message, 5);
    assert_int_equal(Captured.Count, 2);
    KE_VECTOR_STATISTICS Statistics;
    assert_int_equal(KeQueryVectorStatistics(CPU, Vector, &Statistics), IRQ_STATUS_SUCCESS);
    assert_int_equal(Statistics.Unclaimed, 15);
}

static void test_bad_input_changes_nothing(void **State)
{
    (void)State;
    static const uint32_t Bad[][2] = {{0, 0}, {0, 1}, {10, 0}, {10, 11}, {1, 2}};
    for (uint32_t Index = 0; Index < sizeof(Bad) / sizeof(Bad[0]); Index++)
        assert_int_equal(KeSetStormThresholds(Bad[Index][0], Bad[Index][1]), IRQ_STATUS_INVALID_PARAMETER);
    uint32_t Window = 0, Threshold = 0;
    assert_int_equal(KeQueryStormThresholds(&Window, &Threshold), IRQ_STATUS_SUCCESS);
    assert_int_equal(Window, KE_STORM_DEFAULT_WINDOW);
    assert_int_equal(Threshold, KE_STORM_DEFAULT_THRESHOLD);
    assert_int_equal(KeSetStormThresholds(1, 1), IRQ_STATUS_SUCCESS); /* the smallest valid pair */
    assert_int_equal(KeQueryStormThresholds(NULL, &Threshold), IRQ_STATUS_SUCCESS);
    assert_int_equal(Threshold, 1);

    bool Claimed = true;
    assert_int_equal(KePollInterrupt(NULL, &Claimed), IRQ_STATUS_INVALID_PARAMETER);
    STORM_DEVICE Device = {.Gsi = HEALTHY_IRQ, .Period = 1, .Claims = 1, .Limit = UINT64_MAX};
    KINTERRUPT *Object = ConnectDevice(&Device, HlBusIsa, HEALTHY_IRQ, TbTargetCpu(CPU), false);
    assert_int_equal(KePollInterrupt(Object, NULL), IRQ_STATUS_INVALID_PARAMETER);
    Claimed = false;
    assert_int_equal(KePollInterrupt(Object, &Claimed), IRQ_STATUS_SUCCESS);
    assert_true(Claimed);
    assert_int_equal(atomic_load(&Device.Calls), 1);
    KIRQL Old = KeRaiseIrql(HIGH_LEVEL);
    assert_int_equal(KePollInterrupt(Object, &Claimed), IRQ_STATUS_INVALID_IRQL);
    KeLowerIrql(Old);
    assert_int_equal(atomic_load(&Device.Calls), 1);

    IO_INTERRUPT_STORM Storm = {.Storms = 77};
    assert_int_equal(IoQueryInterruptStorm(NULL, &Storm), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoQueryInterruptStorm(Object, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoDisconnectInterrupt(Object), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoQueryInterruptStorm(Object, &Storm), IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(Storm.Storms, 77);
}

/* The rate limit (IoSetInterruptRateLimit), applied at the poll: a level
 * line dispatched more often than the limit since the last poll is masked
 * until the next; what it raises meanwhile is served at the unmask (the
 * line is still asserted), and a line under the limit is left alone. */
static void test_rate_limit_masks_until_the_next_poll(void **State)
{
    (void)State;
    STORM_DEVICE Device = {.Period = 1, .Claims = 1, .Gsi = STUCK_GSI, .Limit = UINT64_MAX};
    KINTERRUPT *Interrupt = ConnectDevice(&Device, HlBusPci, STUCK_GSI, TbTargetCpu(CPU), false);
    STORM_DEVICE Edge = {.Period = 1, .Claims = 1, .Gsi = HEALTHY_IRQ, .Limit = UINT64_MAX};
    KINTERRUPT *EdgeLine = ConnectDevice(&Edge, HlBusIsa, HEALTHY_IRQ, TbTargetCpu(CPU), false);
    assert_int_equal(IoSetInterruptRateLimit(EdgeLine, 3), IRQ_STATUS_NOT_SUPPORTED); /* a masked edge is lost */
    assert_int_equal(IoSetInterruptRateLimit(NULL, 3), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoSetInterruptRateLimit(Interrupt, 3), IRQ_STATUS_SUCCESS);
    assert_int_equal(QueryStorm(Interrupt).RateLimit, 3);

    for (uint32_t Raise = 0; Raise < 3; Raise++) {
        SimSetGsi(STUCK_GSI, true);
        assert_int_equal(TbService(CPU), 1);
    }
    (void)IoPollStormedInterrupts(); /* 3: at the limit, not over */
    assert_int_equal(TbPeekEntry(STUCK_GSI).Bits.Mask, 0);
    for (uint32_t Raise = 0; Raise < 4; Raise++) {
        SimSetGsi(STUCK_GSI, true);
        assert_int_equal(TbService(CPU), 1);
    }
    (void)IoPollStormedInterrupts(); /* 4: over */
    assert_int_equal(TbPeekEntry(STUCK_GSI).Bits.Mask, 1);
    IO_INTERRUPT_STORM Storm = QueryStorm(Interrupt);
    assert_true(Storm.RateMasked);
    assert_int_equal(Storm.RateMaskings, 1);
    assert_false(Storm.Stormed);

    SimSetGsi(STUCK_GSI, true); /* held off by the mask, not lost */
    assert_int_equal(TbService(CPU), 0);
    (void)IoPollStormedInterrupts();
    assert_int_equal(TbPeekEntry(STUCK_GSI).Bits.Mask, 0);
    assert_false(QueryStorm(Interrupt).RateMasked);
    assert_int_equal(TbService(CPU), 1);
    assert_int_equal(atomic_load(&Device.Calls), 8);

    assert_int_equal(IoSetInterruptRateLimit(Interrupt, 0), IRQ_STATUS_SUCCESS);
    for (uint32_t Raise = 0; Raise < 10; Raise++) {
        SimSetGsi(STUCK_GSI, true);
        assert_int_equal(TbService(CPU), 1);
    }
    (void)IoPollStormedInterrupts(); /* no limit any more */
    assert_int_equal(TbPeekEntry(STUCK_GSI).Bits.Mask, 0);
    assert_int_equal(IoDisconnectInterrupt(EdgeLine), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoSetInterruptRateLimit(Interrupt, 3), IRQ_STATUS_NOT_CONNECTED);
}

TB_TEST_MAIN(
    TB_FOUR_CPU_TEST(test_stuck_level_line_masked_after_one_window),
    TB_FOUR_CPU_TEST(test_poll_backs_off_and_gives_the_line_back),
    TB_FOUR_CPU_TEST(test_noisy_line_is_masked_only_past_the_threshold),
    TB_FOUR_CPU_TEST(test_storm_clock_forgets_old_unclaimed_counts),
    TB_FOUR_CPU_TEST(test_shared_line_masked_whole_and_polled),
    TB_FOUR_CPU_TEST(test_movable_line_stays_masked_across_a_move),
    TB_FOUR_CPU_TEST(test_ke_reports_to_its_handler),
    TB_FOUR_CPU_TEST(test_rate_limit_masks_until_the_next_poll),
    TB_FOUR_CPU_TEST(test_bad_input_changes_nothing))
