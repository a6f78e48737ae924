/* SPDX-License-Identifier: MIT */
/*
 * Movable interrupts on the sim, deterministically (no service threads):
 * IoTargetRoutable connections, IoSetInterruptTarget on an edge line and on
 * MSI, bad targets refused with nothing changed, and the per-interrupt
 * policies (ROUND_ROBIN fairness, LOWEST with ties rotating) applied by the
 * post-dispatch routine. Each interrupt is followed to the CPU that ran its
 * ISR.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>
#include <stdlib.h>

#define RTC_IRQ 8u   /* ISA edge, identity-mapped */
#define COM1_IRQ 4u
#define PCI_GSI 16u  /* level, active low */
#define CPU_COUNT 4u
#define DEVICE_IRQL 5u
#define RAISED_IRQL 12u

/* ---- Helpers ------------------------------------------------------------------------- */

static IR_CPU_SET AllCpus(void)
{
    IR_CPU_SET Set;
    IrCpuSetFill(&Set, CPU_COUNT);
    return Set;
}

/* RTC_IRQ (ISA edge) connected movable over Mask, starting on Cpu
 * (IR_CPU_NONE: the library picks), TbCountingIsr counting into Record;
 * the connect must succeed. */
static KINTERRUPT *ConnectMovableRtc(TB_ISR_RECORD *Record, const IR_CPU_SET *Mask, uint32_t Cpu)
{
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(
        TbConnectLine(&Interrupt, TbCountingIsr, Record, HlBusIsa, RTC_IRQ, TbTargetRoutable(Mask, Cpu), false),
        IRQ_STATUS_SUCCESS);
    return Interrupt;
}

/* A line connected at DEVICE_IRQL (LOWEST tests raise CPUs above it). */
static IRQ_STATUS ConnectLineAtIrql(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, HL_LINE_BUS Bus, uint32_t Number,
                                    IO_INTERRUPT_TARGET Target, bool Share)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = Interrupt, .ServiceRoutine = TbCountingIsr, .ServiceContext = Record,
                      .Line = {.Bus = Bus, .Number = Number}, .Irql = DEVICE_IRQL, .ShareVector = Share,
                      .Target = Target},
    };
    return IoConnectInterruptEx(&Parameters);
}

/* Pulses an edge line and services it where the entry points; returns that
 * CPU after checking the ISR ran there and nowhere else got the vector. */
static uint32_t PulseAndService(uint32_t Gsi, uint8_t Vector, TB_ISR_RECORD *Record)
{
    (void)TbServiceMoveRequests(); /* a move's retire requests, still waiting */
    uint32_t Cpu = TbEntryCpu(Gsi);
    uint64_t Calls = atomic_load(&Record->Calls);
    SimPulseGsi(Gsi);
    for (uint32_t Other = 0; Other < CPU_COUNT; Other++)
        assert_int_equal(SimLapicIrrIsSet(Other, Vector), Other == Cpu);
    assert_int_equal(TbService(Cpu), 1);
    assert_int_equal(atomic_load(&Record->Calls), Calls + 1);
    assert_int_equal(atomic_load(&Record->LastCpu), Cpu);
    assert_int_equal(atomic_load(&Record->LastApicId), SimCpuApicId(Cpu));
    return Cpu;
}

/* Moves the test thread to Cpu for a moment to change its IRQL (the IRQL a
 * CPU holds is what LOWEST reads), then goes home. */
static void SetCpuIrql(uint32_t Cpu, KIRQL Irql)
{
    SimDetachCpu();
    SimAttachCpu(Cpu);
    if (Irql > KeGetCurrentIrql())
        (void)KeRaiseIrql(Irql);
    else
        KeLowerIrql(Irql);
    assert_int_equal(KeQueryProcessorIrql(Cpu), Irql);
    SimDetachCpu();
    SimAttachCpu(TB_HOME_CPU);
}

static void AssertVectorOnEveryCpu(const IR_CPU_SET *Cpus, uint8_t Vector, bool Allocated)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Cpus)
        assert_int_equal(KeIsVectorAllocated(Cpu, Vector), Allocated);
}

/* ---- Moving an edge line -------------------------------------------------------------- */

/* Where the object is linked and its vector allocated: on Cpu alone. */
static void AssertOnlyOn(KINTERRUPT *Interrupt, uint32_t Cpu, uint8_t Vector)
{
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    assert_int_equal(IrCpuSetWeight(&Cpus), 1);
    assert_true(IrCpuSetContains(&Cpus, Cpu));
    for (uint32_t Other = 0; Other < CPU_COUNT; Other++)
        assert_int_equal(KeIsVectorAllocated(Other, Vector), Other == Cpu);
}

/* The RTC's edge line, movable over every CPU, is moved to each CPU in turn,
 * in two phases: it holds one vector, on the CPU it is on (the same number
 * wherever that is free, so the move writes the destination only: vector,
 * trigger, mask stay); the old CPU gives its link up when asked, and each
 * pulse lands on the CPU it was moved to. */
static void test_edge_line_moved_to_each_cpu_in_turn(void **State)
{
    (void)State;
    IR_CPU_SET Mask = AllCpus();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record, &Mask, 1);
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    AssertOnlyOn(Interrupt, 1, Vector);
    IOAPIC_REDIRECTION_ENTRY Initial = TbPeekEntry(RTC_IRQ);
    assert_int_equal(Initial.Bits.Mask, 0);
    assert_int_equal(Initial.Bits.Destination, SimCpuApicId(1));
    assert_int_equal(TbQueryCpu(Interrupt), 1);

    static const uint32_t Order[] = {2, 3, 0, 1, 3, 1};
    for (uint32_t Step = 0; Step < sizeof(Order) / sizeof(Order[0]); Step++) {
        uint32_t Cpu = Order[Step];
        uint32_t Old = TbQueryCpu(Interrupt);
        assert_int_equal(IoSetInterruptTarget(Interrupt, Cpu), IRQ_STATUS_SUCCESS);
        /* The old link waits for the first interrupt on the new one. */
        assert_int_equal(KeQueryInterruptRetiringLinks(Interrupt), 1);
        assert_true(KeIsVectorAllocated(Old, Vector));
        assert_int_equal(TbServiceMoveRequests(), 0);
        IOAPIC_REDIRECTION_ENTRY Entry = TbPeekEntry(RTC_IRQ);
        assert_int_equal(Entry.Bits.Mask, 0);
        assert_int_equal(Entry.Bits.Vector, Vector);
        assert_int_equal(Entry.Bits.TriggerMode, Initial.Bits.TriggerMode);
        assert_int_equal(Entry.Bits.DestinationMode, 0);
        assert_int_equal(Entry.Bits.DeliveryMode, HlDeliveryFixed);
        assert_int_equal(Entry.Bits.Destination, SimCpuApicId(Cpu));
        assert_int_equal(Entry.Words.Low, Initial.Words.Low); /* the move wrote the destination only */
        assert_int_equal(KeGetInterruptVector(Interrupt), Vector);
        assert_int_equal(TbQueryCpu(Interrupt), Cpu);
        assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), Cpu);
        /* That interrupt asked the old CPU, which gives the link up when it
         * takes the request. */
        assert_int_equal(TbServiceMoveRequests(), 1);
        assert_int_equal(KeQueryInterruptRetiringLinks(Interrupt), 0);
        AssertOnlyOn(Interrupt, Cpu, Vector);
    }
    assert_int_equal(KeQueryInterruptCount(Interrupt, 1), 2);
    assert_int_equal(KeQueryInterruptCount(Interrupt, 3), 2);

    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Mask, 1);
    AssertVectorOnEveryCpu(&Mask, Vector, false);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* Without a named CPU the line starts on the least-loaded CPU of the mask. */
static void test_routable_starts_on_least_loaded_cpu(void **State)
{
    (void)State;
    static const uint8_t Load[][2] = {{0, 0x60}, {1, 0x60}, {1, 0x61}, {2, 0x60}, {3, 0x62}, {3, 0x63}};
    for (uint32_t Index = 0; Index < 6; Index++)
        assert_int_equal(KeReserveVector(Load[Index][0], Load[Index][1]), IRQ_STATUS_SUCCESS);
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){1, 2, 3}, 3); /* loads 2, 1, 2: CPU 2 */
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record, &Mask, IR_CPU_NONE);
    assert_int_equal(TbQueryCpu(Interrupt), 2);
    assert_int_equal(TbEntryCpu(RTC_IRQ), 2);
    assert_false(KeIsVectorAllocated(0, KeGetInterruptVector(Interrupt))); /* CPU 0 is outside the mask */
    assert_int_equal(PulseAndService(RTC_IRQ, KeGetInterruptVector(Interrupt), &Record), 2);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    for (uint32_t Index = 0; Index < 6; Index++)
        assert_int_equal(KeFreeVector(Load[Index][0], Load[Index][1]), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* ---- Bad targets: a status, nothing changed ------------------------------------------------ */

static void test_bad_targets_refused_state_unchanged(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){1, 2}, 2);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record, &Mask, 1);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    uint64_t Before = SimIoApicPeekEntry(RTC_IRQ);

    assert_int_equal(IoSetInterruptTarget(Interrupt, 0), IRQ_STATUS_INVALID_CPU);  /* outside the set */
    assert_int_equal(IoSetInterruptTarget(Interrupt, 3), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(IoSetInterruptTarget(Interrupt, 64), IRQ_STATUS_INVALID_CPU); /* no such CPU */
    assert_int_equal(IoSetInterruptTarget(Interrupt, IR_CPU_NONE), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(IoSetInterruptTarget(NULL, 1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingPolicyCount), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingBroadcast), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingAffinity), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, (IR_ROUTING_POLICY)-1), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoQueryInterruptTarget(NULL, NULL, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(IoQueryInterruptAffinity(Interrupt, NULL), IRQ_STATUS_INVALID_PARAMETER);
    IR_CPU_SET Affinity = TbCpuList((const uint32_t[]){0}, 1);
    assert_int_equal(IoQueryInterruptAffinity(Interrupt, &Affinity), IRQ_STATUS_SUCCESS);
    assert_true(IrCpuSetEqual(&Affinity, &Mask));

    assert_int_equal(SimIoApicPeekEntry(RTC_IRQ), Before);
    uint32_t Cpu = IR_CPU_NONE;
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    assert_int_equal(IoQueryInterruptTarget(Interrupt, &Cpu, &Policy), IRQ_STATUS_SUCCESS);
    assert_int_equal(Cpu, 1);
    assert_int_equal(Policy, IrRoutingRoundRobin);
    /* Moving to where it is already is a success that writes nothing. */
    assert_int_equal(IoSetInterruptTarget(Interrupt, 1), IRQ_STATUS_SUCCESS);
    assert_int_equal(SimIoApicPeekEntry(RTC_IRQ), Before);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* A connection that is not movable, and an object that is not connected. */
static void test_not_movable_and_not_connected(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Fixed = NULL;
    IO_INTERRUPT_TARGET One = {.Kind = IoTargetCpu, .Cpu = 2};
    assert_int_equal(TbConnectLine(&Fixed, TbCountingIsr, &Record, HlBusIsa, COM1_IRQ, One, false),
                     IRQ_STATUS_SUCCESS);
    uint64_t Before = SimIoApicPeekEntry(COM1_IRQ);
    assert_int_equal(IoSetInterruptTarget(Fixed, 1), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoSetInterruptPolicy(Fixed, IrRoutingRoundRobin), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoQueryInterruptTarget(Fixed, NULL, NULL), IRQ_STATUS_NOT_SUPPORTED);
    IR_CPU_SET Affinity;
    assert_int_equal(IoQueryInterruptAffinity(Fixed, &Affinity), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(SimIoApicPeekEntry(COM1_IRQ), Before);
    assert_int_equal(IoDisconnectInterrupt(Fixed), IRQ_STATUS_SUCCESS);

    /* Built by Ke in caller storage, never connected. */
    size_t Size = KeQueryInterruptObjectSize(1);
    void *Storage = aligned_alloc(KE_INTERRUPT_ALIGNMENT, (Size + KE_INTERRUPT_ALIGNMENT - 1) &
                                                              ~(size_t)(KE_INTERRUPT_ALIGNMENT - 1));
    assert_non_null(Storage);
    IR_CPU_SET Cpus;
    IrCpuSetZero(&Cpus);
    IrCpuSetAdd(&Cpus, 1);
    KE_INTERRUPT_PARAMETERS Parameters = {.ServiceRoutine = TbCountingIsr, .ServiceContext = &Record, .Vector = 0x61,
                                          .Irql = KeIrqlOfVector(0x61), .SynchronizeIrql = KeIrqlOfVector(0x61),
                                          .Mode = Latched, .Cpus = &Cpus};
    KINTERRUPT *Loose = NULL;
    assert_int_equal(KeInitializeInterrupt(Storage, Size, &Parameters, &Loose), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoSetInterruptTarget(Loose, 1), IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(IoSetInterruptPolicy(Loose, IrRoutingLowestPriority), IRQ_STATUS_NOT_CONNECTED);
    free(Storage);
}

/* Bad routable connect requests (CPU 3 is offline here) leave no trace. */
static void test_bad_routable_connects_change_nothing(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    TB_SNAPSHOT Before = TbTakeSnapshot();
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){1, 3}, 2);
    static const uint32_t OfflineOnly[] = {3};
    IR_CPU_SET Offline = TbCpuList(OfflineOnly, 1);
    const TB_REFUSED_TARGET Bad[] = {
        {{.Kind = IoTargetRoutable, .Cpu = IR_CPU_NONE}, IRQ_STATUS_INVALID_PARAMETER}, /* no mask */
        {TbTargetRoutable(&Mask, 3), IRQ_STATUS_INVALID_CPU},                          /* offline */
        {TbTargetRoutable(&Mask, 2), IRQ_STATUS_INVALID_CPU},                          /* not in the mask */
        {TbTargetRoutable(&Offline, IR_CPU_NONE), IRQ_STATUS_EMPTY_AFFINITY},
    };
    TbAssertLineTargetsRefused(HlBusIsa, RTC_IRQ, Bad, 4);
    HL_MSI_MESSAGE Message; /* movable, but no routine to rewrite it */
    assert_int_equal(TbConnectMessage(&Interrupt, &Record, TbTargetRoutable(&Mask, 1), &Message),
                     IRQ_STATUS_INVALID_PARAMETER);
    TbAssertUnchanged(&Before);

    /* The offline CPU of the mask is left out of the set, and refused as a target. */
    Interrupt = ConnectMovableRtc(&Record, &Mask, IR_CPU_NONE);
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    assert_int_equal(IrCpuSetWeight(&Cpus), 1);
    assert_true(IrCpuSetContains(&Cpus, 1));
    assert_int_equal(IoSetInterruptTarget(Interrupt, 3), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(TbEntryCpu(RTC_IRQ), 1);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* ---- MSI ------------------------------------------------------------------------------------ */

typedef struct _MSI_DEVICE {
    uint32_t Updates;
    HL_MSI_MESSAGE Message; /* the device's address/data registers */
    KINTERRUPT *UpdatedFor;
} MSI_DEVICE;

static void RecordMessage(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    MSI_DEVICE *Device = Context;
    Device->Updates++;
    Device->Message = *Message;
    Device->UpdatedFor = Interrupt;
}

/* A message-based connection movable over Mask from Cpu whose every new
 * message RecordMessage writes into Device, as a driver would. */
static IRQ_STATUS TryConnectMovableMsi(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, MSI_DEVICE *Device,
                                       const IR_CPU_SET *Mask, uint32_t Cpu)
{
    return TbConnectUpdatedMessage(Interrupt, Record, TbTargetRoutable(Mask, Cpu), &Device->Message, RecordMessage,
                                   Device);
}

/* The same, where the connect must succeed. */
static KINTERRUPT *ConnectMovableMsi(TB_ISR_RECORD *Record, MSI_DEVICE *Device, const IR_CPU_SET *Mask, uint32_t Cpu)
{
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TryConnectMovableMsi(&Interrupt, Record, Device, Mask, Cpu), IRQ_STATUS_SUCCESS);
    return Interrupt;
}

static uint32_t MessageApicId(const HL_MSI_MESSAGE *Message)
{
    return (uint32_t)(Message->Address >> 12) & 0xFFu;
}

/* Each move calls the driver's routine with the new address; the device's
 * next write (the recorded message) lands on the new CPU. */
static void test_msi_moved_through_update_routine(void **State)
{
    (void)State;
    IR_CPU_SET Mask = AllCpus();
    TB_ISR_RECORD Record = {.Claim = true};
    MSI_DEVICE Device = {0};
    KINTERRUPT *Interrupt = ConnectMovableMsi(&Record, &Device, &Mask, 3);
    assert_int_equal(Device.Updates, 0); /* the first message is the connect's output */
    assert_int_equal(MessageApicId(&Device.Message), SimCpuApicId(3));
    uint32_t Data = Device.Message.Data;
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    assert_int_equal(Data & 0xFFu, Vector);
    AssertOnlyOn(Interrupt, 3, Vector);

    static const uint32_t Order[] = {0, 2, 1, 3};
    for (uint32_t Step = 0; Step < 4; Step++) {
        uint32_t Cpu = Order[Step];
        assert_int_equal(IoSetInterruptTarget(Interrupt, Cpu), IRQ_STATUS_SUCCESS);
        assert_int_equal(TbServiceMoveRequests(), 0); /* not before the first interrupt on the new CPU */
        assert_int_equal(Device.Updates, Step + 1);
        assert_ptr_equal(Device.UpdatedFor, Interrupt);
        assert_int_equal(Device.Message.Address & 0xFFF00000u, 0xFEE00000u);
        assert_int_equal(MessageApicId(&Device.Message), SimCpuApicId(Cpu));
        assert_int_equal(Device.Message.Address & 0xCu, 0); /* physical, no redirection hint */
        assert_int_equal(Device.Message.Data, Data);
        SimMsiWrite(Device.Message.Address, Device.Message.Data);
        assert_true(SimLapicIrrIsSet(Cpu, Vector));
        TbAssertHandledOn(Cpu, &Record);
        assert_int_equal(TbServiceMoveRequests(), 1);
        AssertOnlyOn(Interrupt, Cpu, Vector);
    }
    /* No move, no call; refused targets, no call. */
    assert_int_equal(IoSetInterruptTarget(Interrupt, 3), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoSetInterruptTarget(Interrupt, 7), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Device.Updates, 4);

    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    AssertVectorOnEveryCpu(&Mask, Vector, false);
    assert_int_equal(Device.Updates, 4);
}

/* A message-based connection that is not routable is not movable. */
static void test_plain_msi_not_movable(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    HL_MSI_MESSAGE Message;
    KINTERRUPT *Interrupt = TbConnectMessageToCpu(&Record, 2, &Message);
    assert_int_equal(IoSetInterruptTarget(Interrupt, 1), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* ---- Policies -------------------------------------------------------------------------------- */

/* ROUND_ROBIN: after k*n interrupts each of the n CPUs of the set got k,
 * visiting them in cyclic order. */
static void test_round_robin_is_exactly_fair(void **State)
{
    (void)State;
    static const uint32_t Members[] = {0, 1, 3};
    IR_CPU_SET Mask = TbCpuList(Members, 3);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record, &Mask, 1);
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    IOAPIC_REDIRECTION_ENTRY Single = TbPeekEntry(RTC_IRQ);
    /* Spread with the vector it has (free on every CPU of the set): the
     * entry is not touched, and the other CPUs get the vector. */
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeGetInterruptVector(Interrupt), Vector);
    assert_int_equal(TbPeekEntry(RTC_IRQ).Value, Single.Value);
    AssertVectorOnEveryCpu(&Mask, Vector, true);
    enum { K = 7 };
    static const uint32_t Cycle[] = {1, 3, 0};
    for (uint32_t Index = 0; Index < K * 3; Index++) {
        assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), Cycle[Index % 3]);
        assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Mask, 0);
        assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Vector, Vector);
    }
    for (uint32_t Index = 0; Index < 3; Index++)
        assert_int_equal(KeQueryInterruptCount(Interrupt, Members[Index]), K);
    assert_int_equal(KeQueryInterruptCount(Interrupt, 2), 0);

    /* FIXED stops it where it is, and the other CPUs give the vector up. */
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingFixedCpu), IRQ_STATUS_SUCCESS);
    uint32_t Here = TbQueryCpu(Interrupt);
    for (uint32_t Index = 0; Index < 3; Index++)
        assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), Here);
    (void)TbServiceMoveRequests();
    AssertOnlyOn(Interrupt, Here, Vector);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* One rotation rule (the router's): ROUND_ROBIN goes on with the CPU of the
 * set after the current destination, also after an explicit move. */
static void test_round_robin_goes_on_after_a_move(void **State)
{
    (void)State;
    IR_CPU_SET Mask = AllCpus();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record, &Mask, 0);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), 0);
    assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), 1);
    assert_int_equal(IoSetInterruptTarget(Interrupt, 3), IRQ_STATUS_SUCCESS);
    static const uint32_t After[] = {3, 0, 1, 2, 3};
    for (uint32_t Index = 0; Index < 5; Index++)
        assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), After[Index]);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* ROUND_ROBIN on MSI: the post-dispatch routine calls the driver's routine
 * after each interrupt, and the device's next write goes to the next CPU. */
static void test_round_robin_msi(void **State)
{
    (void)State;
    IR_CPU_SET Mask = AllCpus();
    TB_ISR_RECORD Record = {.Claim = true};
    MSI_DEVICE Device = {0};
    KINTERRUPT *Interrupt = ConnectMovableMsi(&Record, &Device, &Mask, 2);
    uint8_t Single = KeGetInterruptVector(Interrupt);
    /* Spread: CPU 0 has the vector number taken, so a new vector on every
     * CPU, the message's data rewritten to it where it is, the old vector
     * given up by CPU 2. */
    assert_int_equal(KeReserveVector(0, Single), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    assert_int_equal(Device.Updates, 1);
    assert_int_equal(TbCpuOfApicId(MessageApicId(&Device.Message)), 2);
    uint8_t Spread = KeGetInterruptVector(Interrupt);
    assert_int_not_equal(Spread, Single);
    assert_int_equal(Device.Message.Data & 0xFFu, Spread);
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
        assert_true(KeIsVectorAllocated(Cpu, Spread));
    /* The old vector waits for the first interrupt on the new one, which
     * asks CPU 2 itself: it takes the request right after. */
    assert_int_equal(TbServiceMoveRequests(), 0);
    assert_true(KeIsVectorAllocated(2, Single));
    SimMsiWrite(Device.Message.Address, Device.Message.Data);
    assert_int_equal(TbService(2), 2);
    assert_false(KeIsVectorAllocated(2, Single));
    assert_int_equal(KeFreeVector(0, Single), IRQ_STATUS_SUCCESS);
    enum { K = 5 };
    for (uint32_t Index = 1; Index < K * CPU_COUNT; Index++) {
        uint32_t Cpu = TbCpuOfApicId(MessageApicId(&Device.Message));
        assert_int_equal(Cpu, (2 + Index) % CPU_COUNT);
        SimMsiWrite(Device.Message.Address, Device.Message.Data);
        TbAssertHandledOn(Cpu, &Record);
        assert_int_equal(Device.Updates, Index + 2);
    }
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
        assert_int_equal(KeQueryInterruptCount(Interrupt, Cpu), K);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* LOWEST: each interrupt goes to the CPU of the set at the lowest IRQL;
 * among CPUs at the same IRQL the choice rotates. The set leaves out CPU 0,
 * where the test thread lives, so that every CPU of it can be held high. */
static void test_lowest_follows_irql_and_ties_rotate(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){1, 2, 3}, 3);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(ConnectLineAtIrql(&Interrupt, &Record, HlBusIsa, RTC_IRQ, TbTargetRoutable(&Mask, 1), false),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(KeGetInterruptIrql(Interrupt), DEVICE_IRQL);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingLowestPriority), IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(Interrupt);

    /* CPU 2 held high: CPUs 1 and 3 are at PASSIVE, a tie, and they alternate. */
    SetCpuIrql(2, RAISED_IRQL);
    static const uint32_t Alternating[] = {1, 3, 1, 3, 1, 3};
    for (uint32_t Index = 0; Index < 6; Index++)
        assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), Alternating[Index]);
    assert_int_equal(KeQueryInterruptCount(Interrupt, 2), 0);
    assert_int_equal(TbQueryCpu(Interrupt), 1);

    /* CPU 1, where the next interrupt goes, is raised (below the device's
     * IRQL, so it still takes it): CPU 3 is now the lowest, alone, and from
     * then on every interrupt stays there. */
    SetCpuIrql(1, DEVICE_IRQL - 1);
    static const uint32_t ToLowest[] = {1, 3, 3, 3, 3};
    for (uint32_t Index = 0; Index < 5; Index++)
        assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), ToLowest[Index]);
    assert_int_equal(KeQueryInterruptCount(Interrupt, 2), 0);

    /* Everyone at PASSIVE: a three-way tie, and the choice rotates. */
    SetCpuIrql(1, PASSIVE_LEVEL);
    SetCpuIrql(2, PASSIVE_LEVEL);
    static const uint32_t Rotation[] = {3, 1, 2, 3, 1, 2, 3, 1, 2};
    for (uint32_t Index = 0; Index < 9; Index++)
        assert_int_equal(PulseAndService(RTC_IRQ, Vector, &Record), Rotation[Index]);
    assert_int_equal(KeQueryInterruptCount(Interrupt, 2), 3);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* ---- Shared lines --------------------------------------------------------------------------- */

/* A level line shared by two drivers moves as one (one entry): a move asked
 * for through either object moves both, and the policy moves it once per
 * interrupt even though both objects have the post-dispatch routine. When
 * the first sharer leaves, the other one carries the policy on. */
static void test_shared_level_line_moves_together(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){1, 2, 3}, 3);
    TB_ISR_RECORD First = {.Claim = true, .Deassert = true, .DeassertGsi = PCI_GSI};
    TB_ISR_RECORD Second = {.Claim = true, .Deassert = true, .DeassertGsi = PCI_GSI};
    KINTERRUPT *A = NULL, *B = NULL;
    assert_int_equal(TbConnectLine(&A, TbCountingIsr, &First, HlBusPci, PCI_GSI, TbTargetRoutable(&Mask, 1), true),
                     IRQ_STATUS_SUCCESS);
    IO_INTERRUPT_TARGET Elsewhere = {.Kind = IoTargetCpu, .Cpu = 0}; /* a sharer joins where the line is */
    assert_int_equal(TbConnectLine(&B, TbCountingIsr, &Second, HlBusPci, PCI_GSI, Elsewhere, true),
                     IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(A);
    assert_int_equal(KeGetInterruptVector(B), Vector);
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(B, &Cpus);
    assert_true(IrCpuSetEqual(&Cpus, &Mask));
    assert_int_equal(TbPeekEntry(PCI_GSI).Bits.TriggerMode, 1);

    assert_int_equal(IoSetInterruptTarget(B, 3), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbQueryCpu(A), 3);
    assert_int_equal(TbEntryCpu(PCI_GSI), 3);
    assert_int_equal(TbPeekEntry(PCI_GSI).Bits.Mask, 0);
    SimSetGsi(PCI_GSI, true);
    TbAssertHandledOn(3, &First);

    /* Level chain: the first sharer claims, the second is not asked; the
     * policy is still applied exactly once per interrupt. */
    assert_int_equal(IoSetInterruptPolicy(B, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    static const uint32_t Cycle[] = {3, 1, 2};
    for (uint32_t Index = 0; Index < 6; Index++) {
        uint32_t Cpu = TbEntryCpu(PCI_GSI);
        assert_int_equal(Cpu, Cycle[Index % 3]);
        SimSetGsi(PCI_GSI, true);
        TbAssertHandledOn(Cpu, &First);
    }
    assert_int_equal(atomic_load(&Second.Calls), 0);

    /* The first sharer leaves: the line stays live and keeps rotating. */
    assert_int_equal(IoDisconnectInterrupt(A), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(PCI_GSI).Bits.Mask, 0);
    uint32_t Expected = TbQueryCpu(B);
    for (uint32_t Index = 0; Index < 3; Index++) {
        assert_int_equal(TbEntryCpu(PCI_GSI), Expected);
        SimSetGsi(PCI_GSI, true);
        TbAssertHandledOn(Expected, &Second);
        Expected = Expected == 3 ? 1 : Expected + 1;
        assert_int_equal(TbQueryCpu(B), Expected);
    }
    assert_int_equal(atomic_load(&Second.Calls), 3);
    assert_int_equal(IoDisconnectInterrupt(B), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(PCI_GSI).Bits.Mask, 1);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* An edge line runs every sharer's ISR, and so every sharer's post-dispatch
 * routine: still one move per interrupt, and ROUND_ROBIN stays exact. */
static void test_shared_edge_line_moves_once_per_interrupt(void **State)
{
    (void)State;
    IR_CPU_SET Mask = AllCpus();
    TB_ISR_RECORD First = {.Claim = true};
    TB_ISR_RECORD Second = {.Claim = true};
    KINTERRUPT *A = NULL, *B = NULL;
    assert_int_equal(TbConnectLine(&A, TbCountingIsr, &First, HlBusIsa, COM1_IRQ, TbTargetRoutable(&Mask, 0), true),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(TbConnectLine(&B, TbCountingIsr, &Second, HlBusIsa, COM1_IRQ, TbTargetRoutable(&Mask, 2), true),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(TbQueryCpu(B), 0); /* joined where the line goes */
    assert_int_equal(IoSetInterruptPolicy(A, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(A);
    enum { K = 3 };
    for (uint32_t Index = 0; Index < K * CPU_COUNT; Index++) {
        assert_int_equal(PulseAndService(COM1_IRQ, Vector, &First), Index % CPU_COUNT);
        assert_int_equal(atomic_load(&Second.Calls), Index + 1);
    }
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++) {
        assert_int_equal(KeQueryInterruptCount(A, Cpu), K);
        assert_int_equal(KeQueryInterruptCount(B, Cpu), K);
    }
    assert_int_equal(IoDisconnectInterrupt(B), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(A), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(COM1_IRQ).Bits.Mask, 1);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* ---- CPUs no device interrupt reaches ------------------------------------------------------ */

static uint32_t WideCpuOfApicId(uint32_t ApicId)
{
    for (uint32_t Cpu = 0; Cpu < TB_WIDE_CPUS; Cpu++) {
        if (TbWideApicIds[Cpu] == ApicId)
            return Cpu;
    }
    fail_msg("no CPU has APIC id %u", ApicId);
    return 0;
}

/* A movable interrupt over every CPU is planned over the three a device
 * can reach: it starts on the least loaded of them with one vector there,
 * moves only among them, and round robin spreads it over them and cycles
 * them. */
static void test_routable_set_holds_reachable_cpus_only(void **State)
{
    (void)State;
    static const uint32_t Reachable[] = {0, 1, 5};
    assert_int_equal(KeReserveVector(0, 0x60), IRQ_STATUS_SUCCESS); /* CPU 0 busier than 1 and 5 */
    assert_int_equal(KeReserveVector(5, 0x60), IRQ_STATUS_SUCCESS);
    IR_CPU_SET Mask;
    IrCpuSetFill(&Mask, TB_WIDE_CPUS);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record, &Mask, IR_CPU_NONE);
    IR_CPU_SET Affinity;
    assert_int_equal(IoQueryInterruptAffinity(Interrupt, &Affinity), IRQ_STATUS_SUCCESS);
    IR_CPU_SET Expected = TbCpuList(Reachable, 3);
    assert_true(IrCpuSetEqual(&Affinity, &Expected));
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    for (uint32_t Cpu = 0; Cpu < TB_WIDE_CPUS; Cpu++)
        assert_int_equal(KeIsVectorAllocated(Cpu, Vector), Cpu == 1);
    assert_int_equal(TbQueryCpu(Interrupt), 1);
    assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Destination, 0xFE);

    for (uint32_t Cpu = 2; Cpu <= 4; Cpu++)
        assert_int_equal(IoSetInterruptTarget(Interrupt, Cpu), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(TbQueryCpu(Interrupt), 1);
    assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Destination, 0xFE);

    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    (void)TbServiceMoveRequests();
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    assert_true(IrCpuSetEqual(&Cpus, &Expected));
    static const uint32_t Cycle[] = {1, 5, 0};
    for (uint32_t Index = 0; Index < 6; Index++) {
        IOAPIC_REDIRECTION_ENTRY Entry = TbPeekEntry(RTC_IRQ);
        assert_int_equal(Entry.Bits.DestinationMode, 0);
        uint32_t Cpu = WideCpuOfApicId((uint32_t)Entry.Bits.Destination);
        assert_int_equal(Cpu, Cycle[Index % 3]);
        SimPulseGsi(RTC_IRQ);
        TbAssertHandledOn(Cpu, &Record);
    }
    for (uint32_t Cpu = 2; Cpu <= 4; Cpu++)
        assert_int_equal(KeQueryInterruptCount(Interrupt, Cpu), 0);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 2);
}

/* No reachable CPU in the mask, or a named start CPU no device reaches:
 * NOT_SUPPORTED, nothing allocated or programmed. */
static void test_routable_unreachable_not_supported(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbWideUnreachableCpus();
    static const uint32_t Mixed[] = {0, 2};
    IR_CPU_SET MixedMask = TbCpuList(Mixed, 2);
    const TB_REFUSED_TARGET Unreachable[] = {
        {TbTargetRoutable(&Mask, IR_CPU_NONE), IRQ_STATUS_NOT_SUPPORTED},
        {TbTargetRoutable(&MixedMask, 2), IRQ_STATUS_NOT_SUPPORTED},
    };
    TbAssertLineTargetsRefused(HlBusIsa, RTC_IRQ, Unreachable, 2);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    MSI_DEVICE Device = {0};
    assert_int_equal(TryConnectMovableMsi(&Interrupt, &Record, &Device, &Mask, IR_CPU_NONE), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(Device.Updates, 0);
    assert_null(Interrupt);
    TbAssertUnchanged(&Before);

    /* The same mixed mask without a named CPU starts on CPU 0. */
    Interrupt = ConnectMovableMsi(&Record, &Device, &MixedMask, IR_CPU_NONE);
    assert_int_equal(TbQueryCpu(Interrupt), 0);
    assert_int_equal(MessageApicId(&Device.Message), 0x01);
    assert_int_equal(IoSetInterruptTarget(Interrupt, 2), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(Device.Updates, 0);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    TbAssertUnchanged(&Before);
}

TB_TEST_MAIN(
    TB_FOUR_CPU_TEST(test_edge_line_moved_to_each_cpu_in_turn),
    TB_FOUR_CPU_TEST(test_routable_starts_on_least_loaded_cpu),
    TB_FOUR_CPU_TEST(test_round_robin_goes_on_after_a_move),
    TB_FOUR_CPU_TEST(test_bad_targets_refused_state_unchanged),
    TB_FOUR_CPU_TEST(test_not_movable_and_not_connected),
    cmocka_unit_test_setup_teardown(test_bad_routable_connects_change_nothing, TbSetupThreeOfFourCpus, TbTeardown),
    TB_FOUR_CPU_TEST(test_msi_moved_through_update_routine),
    TB_FOUR_CPU_TEST(test_plain_msi_not_movable),
    TB_FOUR_CPU_TEST(test_round_robin_is_exactly_fair),
    TB_FOUR_CPU_TEST(test_round_robin_msi),
    TB_FOUR_CPU_TEST(test_lowest_follows_irql_and_ties_rotate),
    TB_FOUR_CPU_TEST(test_shared_level_line_moves_together),
    TB_FOUR_CPU_TEST(test_shared_edge_line_moves_once_per_interrupt),
    cmocka_unit_test_setup_teardown(test_routable_set_holds_reachable_cpus_only, TbSetupWide, TbTeardown),
    cmocka_unit_test_setup_teardown(test_routable_unreachable_not_supported, TbSetupWide, TbTeardown))
