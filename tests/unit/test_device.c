/* SPDX-License-Identifier: MIT */
/*
 * Device templates: one call connects every interrupt of a device with its
 * routing, one call disconnects them; all or nothing.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>

/* One ISA line routed by Routing among Mask's CPUs (NULL: no mask). */
static IO_DEVICE_TEMPLATE IsaLine(uint32_t Line, IO_DEVICE_ROUTING Routing, const IR_CPU_SET *Mask)
{
    return (IO_DEVICE_TEMPLATE){
        .Kind = IoDeviceLines, .Bus = HlBusIsa, .Lines = {Line}, .Count = 1, .Routing = Routing, .Mask = Mask};
}

static void PulseAndServiceAll(uint32_t Gsi)
{
    SimPulseGsi(Gsi);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        TbService(Cpu);
}

/* Connects Template to TbCountingIsr, which counts into Record. */
static void ConnectCounting(const IO_DEVICE_TEMPLATE *Template, TB_ISR_RECORD *Record, IO_DEVICE_CONNECTION *Connection)
{
    assert_int_equal(IoConnectDevice(Template, TbCountingIsr, Record, Connection), IRQ_STATUS_SUCCESS);
}

/* Disconnects every interrupt of the device, and every vector is free again. */
static void DisconnectFreesVectors(IO_DEVICE_CONNECTION *Connection)
{
    assert_int_equal(IoDisconnectDevice(Connection), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* A zeroed routing is the default: FIXED to CPU 0. */
static void test_default_template_is_fixed_cpu0(void **State)
{
    (void)State;
    IO_DEVICE_TEMPLATE Rtc = {.Name = "rtc", .Kind = IoDeviceLines, .Bus = HlBusIsa, .Lines = {8}, .Count = 1};
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Rtc, &Record, &Connection);
    assert_int_equal(Connection.Count, 1);
    assert_int_equal(TbPeekEntry(8).Bits.Destination, SimCpuApicId(0));
    PulseAndServiceAll(8);
    assert_int_equal(atomic_load(&Record.Calls), 1);
    assert_int_equal(atomic_load(&Record.LastCpu), 0);
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(8).Bits.Mask, 1);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_NOT_CONNECTED);
}

static void test_two_lines_fixed_to_one_cpu(void **State)
{
    (void)State;
    IO_DEVICE_TEMPLATE Uart = {.Kind = IoDeviceLines, .Bus = HlBusIsa, .Lines = {3, 4}, .Count = 2,
                               .Routing = IoDeviceFixed, .Cpu = 2};
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Uart, &Record, &Connection);
    assert_int_equal(TbPeekEntry(3).Bits.Destination, SimCpuApicId(2));
    assert_int_equal(TbPeekEntry(4).Bits.Destination, SimCpuApicId(2));
    PulseAndServiceAll(3);
    PulseAndServiceAll(4);
    assert_int_equal(atomic_load(&Record.Calls), 2);
    assert_int_equal(atomic_load(&Record.LastCpu), 2);
    DisconnectFreesVectors(&Connection);
}

/* ROUND_ROBIN: after k*n interrupts each of the n CPUs got k. */
static void test_round_robin_template_is_fair(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuRange(1, 3);
    IO_DEVICE_TEMPLATE Timer = IsaLine(0, IoDeviceRoundRobin, &Mask);
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Timer, &Record, &Connection);
    for (int Round = 0; Round < 9; Round++)
        PulseAndServiceAll(2); /* IRQ0 arrives on GSI2 */
    for (uint32_t Cpu = 1; Cpu <= 3; Cpu++)
        assert_int_equal(KeQueryInterruptCount(Connection.Interrupts[0], Cpu), 3);
    DisconnectFreesVectors(&Connection);
}

/* LOWEST: with CPUs 1 and 2 held at raised IRQLs, interrupts land on 3. */
static void test_lowest_template_picks_lowest_irql(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuRange(1, 3);
    IO_DEVICE_TEMPLATE Nic = IsaLine(4, IoDeviceLowest, &Mask);
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Nic, &Record, &Connection);
    KIRQL Old[2];
    for (uint32_t Cpu = 1; Cpu <= 2; Cpu++) {
        SimDetachCpu();
        SimAttachCpu(Cpu);
        Old[Cpu - 1] = KeRaiseIrql(DISPATCH_LEVEL);
        SimDetachCpu();
        SimAttachCpu(TB_HOME_CPU);
    }
    for (int Round = 0; Round < 4; Round++)
        PulseAndServiceAll(4);
    /* The first interrupt went wherever it started; every later one to CPU 3. */
    assert_true(KeQueryInterruptCount(Connection.Interrupts[0], 3) >= 3);
    for (uint32_t Cpu = 1; Cpu <= 2; Cpu++) {
        SimDetachCpu();
        SimAttachCpu(Cpu);
        KeLowerIrql(Old[Cpu - 1]);
        SimDetachCpu();
        SimAttachCpu(TB_HOME_CPU);
    }
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_SUCCESS);
}

static void test_broadcast_template_reaches_each_cpu(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuRange(0, 1);
    IO_DEVICE_TEMPLATE Alarm = IsaLine(5, IoDeviceBroadcast, &Mask);
    TB_ISR_RECORD Record = {.Claim = true, .Deassert = true, .DeassertGsi = 5};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Alarm, &Record, &Connection);
    PulseAndServiceAll(5); /* IRQ5 is level in QEMU's MADT: the pulse leaves it low */
    assert_int_equal(KeQueryInterruptCount(Connection.Interrupts[0], 0), 1);
    assert_int_equal(KeQueryInterruptCount(Connection.Interrupts[0], 1), 1);
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_SUCCESS);
}

/* SpreadMessagesAcrossAllProcessors: message i to the i-th CPU of the mask. */
static void test_spread_messages_one_per_cpu(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuRange(0, 3);
    IO_DEVICE_TEMPLATE Queues = {.Kind = IoDeviceMessages, .Count = 4, .Routing = IoDeviceSpread, .Mask = &Mask};
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Queues, &Record, &Connection);
    assert_int_equal(Connection.Count, 4);
    for (uint32_t Index = 0; Index < 4; Index++) {
        assert_int_equal((Connection.Messages[Index].Address >> 12) & 0xFF, SimCpuApicId(Index));
        SimMsiWrite(Connection.Messages[Index].Address, Connection.Messages[Index].Data);
        TbAssertHandledOn(Index, &Record);
    }
    DisconnectFreesVectors(&Connection);
}

/* Spreading over CPUs 1-5 uses the two a device reaches, 1 and 5, in turn;
 * a mask none of whose CPUs is reachable fails, affinity or spread. */
static void test_spread_and_affinity_skip_unreachable_cpus(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuRange(1, 5);
    IO_DEVICE_TEMPLATE Queues = {.Kind = IoDeviceMessages, .Count = 4, .Routing = IoDeviceSpread, .Mask = &Mask};
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Queues, &Record, &Connection);
    static const uint32_t Expected[] = {1, 5, 1, 5};
    for (uint32_t Index = 0; Index < 4; Index++) {
        assert_int_equal((Connection.Messages[Index].Address >> 12) & 0xFF, TbWideApicIds[Expected[Index]]);
        SimMsiWrite(Connection.Messages[Index].Address, Connection.Messages[Index].Data);
        TbAssertHandledOn(Expected[Index], &Record);
    }
    DisconnectFreesVectors(&Connection);

    TB_SNAPSHOT Before = TbTakeSnapshot();
    IR_CPU_SET Unreachable = TbCpuRange(2, 4);
    Queues.Mask = &Unreachable;
    assert_int_equal(IoConnectDevice(&Queues, TbCountingIsr, &Record, &Connection), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(Connection.Count, 0);
    IO_DEVICE_TEMPLATE Uart = {.Kind = IoDeviceLines, .Bus = HlBusIsa, .Lines = {3, 4}, .Count = 2,
                               .Routing = IoDeviceAffinity, .Mask = &Unreachable};
    assert_int_equal(IoConnectDevice(&Uart, TbCountingIsr, &Record, &Connection), IRQ_STATUS_NOT_SUPPORTED);
    TbAssertUnchanged(&Before);
    Uart.Mask = &Mask; /* the least-loaded reachable CPU of 1-5 */
    ConnectCounting(&Uart, &Record, &Connection);
    assert_int_equal(TbPeekEntry(3).Bits.Destination, 0xFE);
    assert_int_equal(TbPeekEntry(4).Bits.Destination, 0x03);
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_SUCCESS);
    TbAssertUnchanged(&Before);
}

/* The second line does not exist: the first is disconnected again. */
static void test_all_or_nothing(void **State)
{
    (void)State;
    TB_SNAPSHOT Before = TbTakeSnapshot();
    IO_DEVICE_TEMPLATE Broken = {.Kind = IoDeviceLines, .Bus = HlBusGsi, .Lines = {7, 99}, .Count = 2, .Cpu = 1};
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    assert_int_equal(IoConnectDevice(&Broken, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(Connection.Count, 0);
    TbAssertUnchanged(&Before);
}

static void test_bad_templates(void **State)
{
    (void)State;
    TB_SNAPSHOT Before = TbTakeSnapshot();
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    IO_DEVICE_TEMPLATE Empty = {.Kind = IoDeviceLines, .Bus = HlBusIsa, .Count = 0};
    assert_int_equal(IoConnectDevice(&Empty, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_PARAMETER);
    IO_DEVICE_TEMPLATE TooMany = {.Kind = IoDeviceMessages, .Count = IO_DEVICE_MAX_INTERRUPTS + 1};
    assert_int_equal(IoConnectDevice(&TooMany, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_PARAMETER);
    IO_DEVICE_TEMPLATE NoMask = IsaLine(4, IoDeviceRoundRobin, NULL);
    assert_int_equal(IoConnectDevice(&NoMask, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_PARAMETER);
    IO_DEVICE_TEMPLATE BadRouting = IsaLine(4, IoDeviceRoutingCount, NULL);
    assert_int_equal(IoConnectDevice(&BadRouting, TbCountingIsr, &Record, &Connection),
                     IRQ_STATUS_INVALID_PARAMETER);
    IO_DEVICE_TEMPLATE Good = {.Kind = IoDeviceLines, .Bus = HlBusIsa, .Lines = {4}, .Count = 1};
    assert_int_equal(IoConnectDevice(&Good, NULL, &Record, &Connection), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoConnectDevice(NULL, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_PARAMETER);
    IR_CPU_SET Offline = TbCpuRange(8, 9);
    IO_DEVICE_TEMPLATE Nowhere = IsaLine(4, IoDeviceAffinity, &Offline);
    assert_int_equal(IoConnectDevice(&Nowhere, TbCountingIsr, &Record, &Connection), IRQ_STATUS_EMPTY_AFFINITY);
    TbAssertUnchanged(&Before);
}

/* The one routing -> policy conversion (what the kernel's live re-routing
 * asks): each routing's policy and whether it moves. */
static void test_device_routing_meanings(void **State)
{
    (void)State;
    static const struct {
        IO_DEVICE_ROUTING Routing;
        IR_ROUTING_POLICY Policy;
        bool MovableWithMask, MovableWithout;
    } Expected[] = {
        {IoDeviceFixed, IrRoutingFixedCpu, true, false},
        {IoDeviceRoundRobin, IrRoutingRoundRobin, true, true},
        {IoDeviceLowest, IrRoutingLowestPriority, true, true},
        {IoDeviceBroadcast, IrRoutingBroadcast, false, false},
        {IoDeviceAffinity, IrRoutingAffinity, false, false},
        {IoDeviceSpread, IrRoutingFixedCpu, false, false},
    };
    for (uint32_t Index = 0; Index < sizeof(Expected) / sizeof(Expected[0]); Index++) {
        IR_ROUTING_POLICY Policy = IrRoutingPolicyCount;
        bool Movable = !Expected[Index].MovableWithMask;
        assert_int_equal(IoQueryDeviceRouting(Expected[Index].Routing, true, &Policy, &Movable), IRQ_STATUS_SUCCESS);
        assert_int_equal(Policy, Expected[Index].Policy);
        assert_int_equal(Movable, Expected[Index].MovableWithMask);
        Movable = !Expected[Index].MovableWithout;
        assert_int_equal(IoQueryDeviceRouting(Expected[Index].Routing, false, NULL, &Movable), IRQ_STATUS_SUCCESS);
        assert_int_equal(Movable, Expected[Index].MovableWithout);
    }
    IR_ROUTING_POLICY Policy = IrRoutingAffinity;
    assert_int_equal(IoQueryDeviceRouting(IoDeviceRoutingCount, true, &Policy, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(Policy, IrRoutingAffinity);
}

/* IoRouteDevice: a movable device switches routing live (no reconnect: the
 * same objects and vector), and refusals change nothing. */
static void test_route_device_live(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuRange(1, 3);
    IO_DEVICE_TEMPLATE Timer = {.Kind = IoDeviceLines, .Bus = HlBusIsa, .Lines = {8}, .Count = 1,
                                .Routing = IoDeviceFixed, .Cpu = 2, .Mask = &Mask};
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_CONNECTION Connection;
    ConnectCounting(&Timer, &Record, &Connection);
    KINTERRUPT *Interrupt = Connection.Interrupts[0];
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    PulseAndServiceAll(8);
    assert_int_equal(atomic_load(&Record.LastCpu), 2);

    assert_int_equal(IoRouteDevice(&Connection, IoDeviceRoundRobin, 0), IRQ_STATUS_SUCCESS);
    static const uint32_t Cycle[] = {2, 3, 1, 2, 3, 1}; /* on from where it is */
    for (uint32_t Index = 0; Index < 6; Index++) {
        PulseAndServiceAll(8);
        assert_int_equal(atomic_load(&Record.LastCpu), Cycle[Index]);
    }
    uint32_t Here;
    IR_ROUTING_POLICY Policy;
    assert_int_equal(IoQueryInterruptTarget(Interrupt, &Here, &Policy), IRQ_STATUS_SUCCESS);
    assert_int_equal(Policy, IrRoutingRoundRobin);
    assert_int_equal(Here, 2);

    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, 3), IRQ_STATUS_SUCCESS);
    for (uint32_t Index = 0; Index < 3; Index++) {
        PulseAndServiceAll(8);
        assert_int_equal(atomic_load(&Record.LastCpu), 3);
    }
    assert_ptr_equal(Connection.Interrupts[0], Interrupt);
    assert_int_equal(KeGetInterruptVector(Interrupt), Vector);

    uint64_t Entry = SimIoApicPeekEntry(8);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceBroadcast, 0), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceAffinity, 0), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, 0), IRQ_STATUS_INVALID_CPU); /* outside 1-3 */
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceRoutingCount, 1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoRouteDevice(NULL, IoDeviceFixed, 1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(SimIoApicPeekEntry(8), Entry);
    assert_int_equal(IoQueryInterruptTarget(Interrupt, &Here, &Policy), IRQ_STATUS_SUCCESS);
    assert_int_equal(Here, 3);
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, 1), IRQ_STATUS_NOT_CONNECTED);

    /* A device connected without a mask is not movable. */
    IO_DEVICE_TEMPLATE Plain = {.Kind = IoDeviceLines, .Bus = HlBusIsa, .Lines = {8}, .Count = 1, .Cpu = 1};
    ConnectCounting(&Plain, &Record, &Connection);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, 2), IRQ_STATUS_NOT_SUPPORTED);
    DisconnectFreesVectors(&Connection);
}

TB_TEST_MAIN(
    TB_FOUR_CPU_TEST(test_default_template_is_fixed_cpu0),
    TB_FOUR_CPU_TEST(test_two_lines_fixed_to_one_cpu),
    TB_FOUR_CPU_TEST(test_round_robin_template_is_fair),
    TB_FOUR_CPU_TEST(test_lowest_template_picks_lowest_irql),
    TB_FOUR_CPU_TEST(test_broadcast_template_reaches_each_cpu),
    TB_FOUR_CPU_TEST(test_spread_messages_one_per_cpu),
    TB_FOUR_CPU_TEST(test_all_or_nothing),
    TB_FOUR_CPU_TEST(test_bad_templates),
    cmocka_unit_test_setup_teardown(test_spread_and_affinity_skip_unreachable_cpus, TbSetupWide, TbTeardown),
    cmocka_unit_test(test_device_routing_meanings),
    TB_FOUR_CPU_TEST(test_route_device_live))
