/* SPDX-License-Identifier: MIT */
/*
 * The balancer driver (balance.h, IrBalancer*) on the sim, deterministically
 * (no service threads): four movable ISA edge lines all on CPU 0, raised
 * unevenly; the first round only samples, the second moves them (the I/O
 * APIC entries point at the new CPUs and the next pulses are handled
 * there), the third with the same load moves nothing. Pinned and ignored
 * hints, banned CPUs, one-shot, and bad input refused with nothing changed.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/balance.h>

#define CPU_COUNT 4u
#define LINE_COUNT 4u

static const uint32_t Irqs[LINE_COUNT] = {3, 4, 5, 7};
static TB_ISR_RECORD Records[LINE_COUNT];
static KINTERRUPT *Lines[LINE_COUNT];
static uint64_t Storage[65536];


/* The four lines, movable over every CPU, all on CPU 0. */
static void ConnectLines(void)
{
    IR_CPU_SET All;
    IrCpuSetFill(&All, CPU_COUNT);
    for (uint32_t Line = 0; Line < LINE_COUNT; Line++) {
        memset(&Records[Line], 0, sizeof(Records[Line]));
        Records[Line].Claim = true;
        assert_int_equal(TbConnectLine(&Lines[Line], TbCountingIsr, &Records[Line], HlBusIsa, Irqs[Line],
                                       TbTargetRoutable(&All, 0), false),
                         IRQ_STATUS_SUCCESS);
        assert_int_equal(TbEntryCpu(Irqs[Line]), 0);
    }
}

static void DisconnectLines(void)
{
    for (uint32_t Line = 0; Line < LINE_COUNT; Line++)
        assert_int_equal(IoDisconnectInterrupt(Lines[Line]), IRQ_STATUS_SUCCESS);
}

/* Pulses a line Times times, each serviced where its entry points (and
 * handled there). */
static void Pulse(uint32_t Line, uint32_t Times)
{
    for (uint32_t Time = 0; Time < Times; Time++) {
        (void)TbServiceMoveRequests(); /* a moved line's first interrupt asks its old CPU */
        uint32_t Cpu = TbEntryCpu(Irqs[Line]);
        SimPulseGsi(Irqs[Line]);
        assert_int_equal(TbService(Cpu), 1);
        assert_int_equal(atomic_load(&Records[Line].LastCpu), Cpu);
    }
}

/* One window: line k raised Rates[k] times. */
static void Window(const uint32_t *Rates)
{
    for (uint32_t Line = 0; Line < LINE_COUNT; Line++)
        Pulse(Line, Rates[Line]);
}

static IR_BALANCER *NewBalancer(const IR_BALANCER_OPTIONS *Options)
{
    size_t Size = 0;
    assert_int_equal(IrBalancerQueryStorageSize(16, &Size), IRQ_STATUS_SUCCESS);
    assert_true(Size <= sizeof(Storage));
    IR_BALANCER *Balancer = NULL;
    assert_int_equal(IrBalancerInitialize(Storage, Size, 16, Options, &Balancer), IRQ_STATUS_SUCCESS);
    assert_non_null(Balancer);
    return Balancer;
}

static void AddLines(IR_BALANCER *Balancer)
{
    for (uint32_t Line = 0; Line < LINE_COUNT; Line++)
        assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[Line], IrBalanceHintBalance, 1), IRQ_STATUS_SUCCESS);
}

static IR_BALANCER_MOVE ReportMoves[16];

static IR_BALANCE_REPORT Round(IR_BALANCER *Balancer)
{
    IR_BALANCE_REPORT Report;
    memset(&Report, 0, sizeof(Report));
    Report.Moves = ReportMoves;
    Report.MoveCapacity = 16;
    assert_int_equal(IrBalancerRound(Balancer, &Report), IRQ_STATUS_SUCCESS);
    for (uint32_t Move = 0; Move < Report.MovesTried && Move < 16u; Move++)
        assert_int_equal(ReportMoves[Move].Status, IRQ_STATUS_SUCCESS);
    return Report;
}

static const uint32_t Uneven[LINE_COUNT] = {40, 30, 20, 10};

/* ---- Balancing ------------------------------------------------------------------------ */

/* Sample, balance, settle: after the second round the 40 and the 30 have a
 * CPU each (the entries say so, and the next window's pulses are handled
 * there), the 20 and the 10 stay on CPU 0 (30: moving them would lower no
 * maximum), the maximum load is the bound (the 40), and the third round
 * with the same window moves nothing. */
static void test_uneven_lines_spread_then_settle(void **State)
{
    (void)State;
    ConnectLines();
    IR_BALANCER *Balancer = NewBalancer(NULL);
    AddLines(Balancer);

    IR_BALANCE_REPORT First = Round(Balancer);
    assert_int_equal(First.Round, 1);
    assert_false(First.Planned);
    assert_int_equal(First.MovesTried, 0);
    assert_int_equal(First.Skipped, LINE_COUNT);

    Window(Uneven);
    IR_BALANCE_REPORT Second = Round(Balancer);
    assert_true(Second.Planned);
    assert_int_equal(Second.MaxLoadBefore, 100);
    assert_int_equal(Second.Bound, 40);
    assert_int_equal(Second.MaxLoadAfter, 40);
    assert_int_equal(Second.MovesTried, 2);
    assert_int_equal(Second.MovesFailed, 0);
    bool Used[CPU_COUNT] = {false};
    for (uint32_t Line = 0; Line < 2u; Line++) {
        uint32_t Cpu = TbEntryCpu(Irqs[Line]);
        assert_int_equal(TbQueryCpu(Lines[Line]), Cpu);
        assert_int_not_equal(Cpu, 0);
        assert_false(Used[Cpu]);
        Used[Cpu] = true;
    }
    for (uint32_t Line = 2; Line < LINE_COUNT; Line++) {
        assert_int_equal(TbEntryCpu(Irqs[Line]), 0);
        assert_int_equal(TbQueryCpu(Lines[Line]), 0);
    }
    for (uint32_t Move = 0; Move < Second.MovesTried; Move++) {
        assert_int_equal(ReportMoves[Move].From, 0);
        assert_int_equal(TbQueryCpu(ReportMoves[Move].Interrupt), ReportMoves[Move].To);
    }

    Window(Uneven); /* Pulse checks each is handled where its entry points */
    IR_BALANCE_REPORT Third = Round(Balancer);
    assert_true(Third.Planned);
    assert_int_equal(Third.MovesTried, 0);
    assert_int_equal(Third.MaxLoadBefore, 40);
    DisconnectLines();
}

/* A pinned line stays on CPU 0, an ignored one is neither charged nor
 * moved, and banned CPUs 1 and 2 get nothing: of the two balanced lines the
 * heavier (20 pulses at weight 2) goes to CPU 3, the only other eligible
 * CPU, and the 30 stays (moving it too would gain nothing). */
static void test_hints_and_banned_cpus(void **State)
{
    (void)State;
    ConnectLines();
    IR_CPU_SET Banned;
    IrCpuSetZero(&Banned);
    IrCpuSetAdd(&Banned, 1);
    IrCpuSetAdd(&Banned, 2);
    IR_BALANCER_OPTIONS Options = {.Banned = &Banned, .MaxMovesPerRound = 8, .MinimumGainPercent = 2};
    IR_BALANCER *Balancer = NewBalancer(&Options);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[0], IrBalanceHintPin, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[1], IrBalanceHintBalance, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[2], IrBalanceHintBalance, 2), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[3], IrBalanceHintIgnore, 1), IRQ_STATUS_SUCCESS);
    (void)Round(Balancer);
    Window(Uneven);
    IR_BALANCE_REPORT Report = Round(Balancer);
    /* Loads: pinned 40 on CPU 0, 30 and 20 x 2 = 40 balanced, the 10 left out. */
    assert_int_equal(Report.MaxLoadBefore, 110);
    assert_int_equal(Report.Bound, 55);
    assert_int_equal(TbQueryCpu(Lines[0]), 0);
    assert_int_equal(TbQueryCpu(Lines[3]), 0);
    assert_int_equal(TbQueryCpu(Lines[1]), 0);
    assert_int_equal(TbQueryCpu(Lines[2]), 3);
    assert_int_equal(TbEntryCpu(Irqs[2]), 3);
    assert_int_equal(Report.MovesTried, 1);
    assert_int_equal(Report.MaxLoadAfter, 70);
    DisconnectLines();
}

/* One-shot: the second round balances, the third only samples even though
 * the load changed. */
static void test_one_shot_balances_once(void **State)
{
    (void)State;
    ConnectLines();
    IR_BALANCER_OPTIONS Options = {.OneShot = true, .MaxMovesPerRound = 1};
    IR_BALANCER *Balancer = NewBalancer(&Options);
    AddLines(Balancer);
    (void)Round(Balancer);
    Window(Uneven);
    IR_BALANCE_REPORT Second = Round(Balancer);
    assert_true(Second.Planned);
    assert_int_equal(Second.MovesTried, 1);
    Window(Uneven);
    IR_BALANCE_REPORT Third = Round(Balancer);
    assert_false(Third.Planned);
    assert_int_equal(Third.MovesTried, 0);
    DisconnectLines();
}

/* A line removed is no longer read; a disconnected one still added is
 * skipped, not read. */
static void test_removed_and_disconnected_lines(void **State)
{
    (void)State;
    ConnectLines();
    IR_BALANCER *Balancer = NewBalancer(NULL);
    AddLines(Balancer);
    (void)Round(Balancer);
    assert_int_equal(IrBalancerRemoveInterrupt(Balancer, Lines[0]), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrBalancerRemoveInterrupt(Balancer, Lines[0]), IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(IoDisconnectInterrupt(Lines[1]), IRQ_STATUS_SUCCESS);
    Window((const uint32_t[]){40, 0, 20, 10});
    IR_BALANCE_REPORT Report = Round(Balancer);
    assert_int_equal(Report.Skipped, 1);
    assert_int_equal(Report.MaxLoadBefore, 30);
    assert_int_equal(IoDisconnectInterrupt(Lines[0]), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Lines[2]), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Lines[3]), IRQ_STATUS_SUCCESS);
}

/* The planner believes every CPU has vectors (a FreeVectors callback that
 * says 16), but CPUs 1-3 have none left: Io refuses each move with
 * VECTOR_EXHAUSTED. The round reports them (MovesFailed, MovesRetryLater,
 * each move's status), leaves the lines where they are and returns SUCCESS;
 * once the vectors are free again the next round moves them. */
static uint32_t AlwaysFree(void *Context, uint32_t Cpu, uint8_t Class)
{
    (void)Context, (void)Cpu, (void)Class;
    return 16;
}

#define HELD_MAX 1024u
static uint32_t HeldCpu[HELD_MAX];
static uint8_t HeldVector[HELD_MAX];

static uint32_t FillCpus(void)
{
    uint32_t Held = 0;
    for (uint32_t Cpu = 1; Cpu < CPU_COUNT; Cpu++) {
        IR_CPU_SET One;
        IrCpuSetZero(&One);
        IrCpuSetAdd(&One, Cpu);
        while (Held < HELD_MAX &&
               KeAllocateVector(&One, KE_IRQL_ANY, &HeldCpu[Held], &HeldVector[Held]) == IRQ_STATUS_SUCCESS)
            Held++;
    }
    assert_true(Held < HELD_MAX);
    return Held;
}

static void test_refused_moves_reported_and_retried(void **State)
{
    (void)State;
    ConnectLines();
    IR_BALANCER_OPTIONS Options = {.MinimumGainPercent = 2, .MaxMovesPerRound = 8, .FreeVectors = AlwaysFree};
    IR_BALANCER *Balancer = NewBalancer(&Options);
    AddLines(Balancer);
    (void)Round(Balancer);
    uint32_t Held = FillCpus();
    Window(Uneven);
    IR_BALANCE_REPORT Report;
    memset(&Report, 0, sizeof(Report));
    Report.Moves = ReportMoves;
    Report.MoveCapacity = 16;
    assert_int_equal(IrBalancerRound(Balancer, &Report), IRQ_STATUS_SUCCESS);
    assert_true(Report.Planned);
    assert_int_equal(Report.MovesTried, 2);
    assert_int_equal(Report.MovesFailed, 2);
    assert_int_equal(Report.MovesRetryLater, 2);
    assert_int_equal(Report.MaxLoadAfter, 100);
    for (uint32_t Move = 0; Move < Report.MovesTried; Move++)
        assert_int_equal(ReportMoves[Move].Status, IRQ_STATUS_VECTOR_EXHAUSTED);
    for (uint32_t Line = 0; Line < LINE_COUNT; Line++)
        assert_int_equal(TbQueryCpu(Lines[Line]), 0);
    for (uint32_t Index = 0; Index < Held; Index++)
        assert_int_equal(KeFreeVector(HeldCpu[Index], HeldVector[Index]), IRQ_STATUS_SUCCESS);
    Window(Uneven);
    IR_BALANCE_REPORT Next = Round(Balancer);
    assert_int_equal(Next.MovesTried, 2);
    assert_int_equal(Next.MovesFailed, 0);
    assert_int_equal(Next.MaxLoadAfter, 40);
    DisconnectLines();
}

/* ---- Bad input ------------------------------------------------------------------------ */

static void test_bad_input_refused(void **State)
{
    (void)State;
    size_t Size = 0;
    IR_BALANCER *Balancer = (IR_BALANCER *)(uintptr_t)0x1234;
    assert_int_equal(IrBalancerQueryStorageSize(0, &Size), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerQueryStorageSize(4, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerQueryStorageSize(IR_BALANCE_MAX_INTERRUPTS + 1u, &Size), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(Size, 0);
    assert_int_equal(IrBalancerQueryStorageSize(4, &Size), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrBalancerInitialize(Storage, Size - 1u, 4, NULL, &Balancer), IRQ_STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(IrBalancerInitialize((uint8_t *)Storage + 1, Size, 4, NULL, &Balancer),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerInitialize(NULL, Size, 4, NULL, &Balancer), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerInitialize(Storage, Size, 0, NULL, &Balancer), IRQ_STATUS_INVALID_PARAMETER);
    IR_BALANCER_OPTIONS Options = {.MaxMovesPerRound = 0};
    assert_int_equal(IrBalancerInitialize(Storage, Size, 4, &Options, &Balancer), IRQ_STATUS_INVALID_PARAMETER);
    Options.MaxMovesPerRound = 1;
    Options.MinimumGainPercent = 101;
    assert_int_equal(IrBalancerInitialize(Storage, Size, 4, &Options, &Balancer), IRQ_STATUS_INVALID_PARAMETER);
    assert_ptr_equal(Balancer, (IR_BALANCER *)(uintptr_t)0x1234);

    assert_int_equal(IrBalancerInitialize(Storage, Size, 1, NULL, &Balancer), IRQ_STATUS_SUCCESS);
    ConnectLines();
    assert_int_equal(IrBalancerAddInterrupt(NULL, Lines[0], IrBalanceHintBalance, 1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, NULL, IrBalanceHintBalance, 1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[0], IrBalanceHintCount, 1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[0], IrBalanceHintBalance, 0), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[0], IrBalanceHintBalance, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[0], IrBalanceHintBalance, 1), IRQ_STATUS_ALREADY_CONNECTED);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, Lines[1], IrBalanceHintBalance, 1),
                     IRQ_STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(IrBalancerRemoveInterrupt(Balancer, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerRemoveInterrupt(Balancer, Lines[1]), IRQ_STATUS_NOT_CONNECTED);
    /* Not movable: a line connected to one CPU. */
    assert_int_equal(IrBalancerRemoveInterrupt(Balancer, Lines[0]), IRQ_STATUS_SUCCESS);
    TB_ISR_RECORD Fixed = {.Claim = true};
    KINTERRUPT *FixedLine = TbConnectIsaToCpu(&Fixed, 10, 1);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, FixedLine, IrBalanceHintBalance, 1), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoDisconnectInterrupt(FixedLine), IRQ_STATUS_SUCCESS);
    assert_int_equal(IrBalancerAddInterrupt(Balancer, FixedLine, IrBalanceHintBalance, 1), IRQ_STATUS_NOT_CONNECTED);

    IR_BALANCE_REPORT Report;
    memset(&Report, 0x5A, sizeof(Report));
    Report.Moves = NULL;
    Report.MoveCapacity = 1;
    IR_BALANCE_REPORT Before = Report;
    assert_int_equal(IrBalancerRound(Balancer, &Report), IRQ_STATUS_INVALID_PARAMETER);
    assert_memory_equal(&Report, &Before, sizeof(Report));
    assert_int_equal(IrBalancerRound(NULL, &Report), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IrBalancerRound(Balancer, NULL), IRQ_STATUS_INVALID_PARAMETER);
    DisconnectLines();
}

TB_TEST_MAIN(TB_FOUR_CPU_TEST(test_uneven_lines_spread_then_settle), TB_FOUR_CPU_TEST(test_hints_and_banned_cpus),
             TB_FOUR_CPU_TEST(test_one_shot_balances_once), TB_FOUR_CPU_TEST(test_removed_and_disconnected_lines),
             TB_FOUR_CPU_TEST(test_refused_moves_reported_and_retried),
             TB_FOUR_CPU_TEST(test_bad_input_refused))
