/* SPDX-License-Identifier: MIT */
/*
 * IoConnectInterrupt(Ex) / IoDisconnectInterrupt on the sim: routing to a
 * chosen CPU, affinity, broadcast, MSI, sharing rules, and bad input that
 * must change nothing.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>
#include <stdlib.h>

#define RTC_IRQ 8u
#define PCI_GSI 16u

static int Setup4TwoOnline(void **State)
{
    (void)State;
    TbBoot(4, 2, false);
    return 0;
}

static int Setup8(void **State)
{
    (void)State;
    TbBoot(8, 0, false);
    return 0;
}

static int Setup64(void **State)
{
    (void)State;
    TbBoot(64, 0, false);
    return 0;
}

/* Connects RTC_IRQ with an affinity target over Mask: the interrupt must be
 * placed on exactly one CPU, Expected. */
static void ConnectRtcByAffinity(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, const IR_CPU_SET *Mask,
                                 uint32_t Expected)
{
    IO_INTERRUPT_TARGET Affinity = {.Kind = IoTargetAffinity, .Mask = Mask};
    assert_int_equal(TbConnectLine(Interrupt, TbCountingIsr, Record, HlBusIsa, RTC_IRQ, Affinity, false),
                     IRQ_STATUS_SUCCESS);
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(*Interrupt, &Cpus);
    assert_int_equal(IrCpuSetWeight(&Cpus), 1);
    assert_true(IrCpuSetContains(&Cpus, Expected));
}

/* A GSI routed to each AP in turn, and the ISR sees
 * the CPU (and APIC id) it was sent to. Run at 4, 8 and 64 CPUs. */
static void test_rtc_routed_to_each_cpu_in_turn(void **State)
{
    (void)State;
    for (uint32_t Cpu = 0; Cpu < KeQueryProcessorCount(); Cpu++) {
        TB_ISR_RECORD Record = {.Claim = true};
        KINTERRUPT *Interrupt = TbConnectIsaToCpu(&Record, RTC_IRQ, Cpu);
        uint8_t Vector = KeGetInterruptVector(Interrupt);
        IOAPIC_REDIRECTION_ENTRY Entry = TbPeekEntry(RTC_IRQ);
        assert_int_equal(Entry.Bits.Mask, 0);
        assert_int_equal(Entry.Bits.Vector, Vector);
        assert_int_equal(Entry.Bits.DestinationMode, 0);
        assert_int_equal(Entry.Bits.Destination, SimCpuApicId(Cpu));
        assert_true(KeIsVectorAllocated(Cpu, Vector));

        SimPulseGsi(RTC_IRQ);
        assert_true(SimLapicIrrIsSet(Cpu, Vector));
        assert_int_equal(TbService(Cpu), 1);
        assert_int_equal(atomic_load(&Record.Calls), 1);
        assert_int_equal(atomic_load(&Record.LastCpu), Cpu);
        assert_int_equal(atomic_load(&Record.LastApicId), SimCpuApicId(Cpu));
        assert_int_equal(KeQueryInterruptCount(Interrupt, Cpu), 1);

        assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
        assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Mask, 1);
        assert_false(KeIsVectorAllocated(Cpu, Vector));
    }
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

static void test_default_target_is_cpu0(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    IO_INTERRUPT_TARGET Default = {.Kind = IoTargetDefault};
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, 4, Default, false),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(4).Bits.Destination, SimCpuApicId(0));
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* ISA IRQ0 arrives on GSI2 through QEMU's override; IRQ9 is level. */
static void test_isa_overrides_apply(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Pit = TbConnectIsaToCpu(&Record, 0, 1);
    assert_int_equal(TbPeekEntry(2).Bits.Mask, 0);
    assert_int_equal(TbPeekEntry(0).Bits.Mask, 1);
    assert_int_equal(KeGetInterruptMode(Pit), Latched);
    KINTERRUPT *Acpi = TbConnectIsaToCpu(&Record, 9, 1);
    assert_int_equal(TbPeekEntry(9).Bits.TriggerMode, 1);
    assert_int_equal(KeGetInterruptMode(Acpi), LevelSensitive);
    assert_int_equal(IoDisconnectInterrupt(Pit), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Acpi), IRQ_STATUS_SUCCESS);
}

/* Affinity: the least-loaded CPU of the mask gets the vector. */
static void test_affinity_picks_least_loaded_cpu(void **State)
{
    (void)State;
    uint8_t Taken[3];
    for (uint32_t Index = 0; Index < 3; Index++) { /* load CPU 1 with three vectors */
        assert_int_equal(KeReserveVector(1, (uint8_t)(0x60 + Index)), IRQ_STATUS_SUCCESS);
        Taken[Index] = (uint8_t)(0x60 + Index);
    }
    assert_int_equal(KeReserveVector(2, 0x60), IRQ_STATUS_SUCCESS); /* CPU 2 has one */

    static const uint32_t Members[] = {1, 2, 3};
    IR_CPU_SET Mask = TbCpuList(Members, 3);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    ConnectRtcByAffinity(&Interrupt, &Record, &Mask, 3);
    assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Destination, SimCpuApicId(3));
    SimPulseGsi(RTC_IRQ);
    TbAssertHandledOn(3, &Record);

    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    for (uint32_t Index = 0; Index < 3; Index++)
        assert_int_equal(KeFreeVector(1, Taken[Index]), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeFreeVector(2, 0x60), IRQ_STATUS_SUCCESS);
}

/* A requested IRQL picks a vector of that priority class (IRQL == vector >> 4). */
static void test_irql_selects_vector_class(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectCountedAtIrql(&Interrupt, &Record, HlBusIsa, RTC_IRQ, 2, 9, 11), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeGetInterruptVector(Interrupt) >> 4, 9);
    assert_int_equal(KeGetInterruptIrql(Interrupt), 9);

    /* The ISR runs at the synchronize IRQL. */
    SimPulseGsi(RTC_IRQ);
    assert_int_equal(TbService(2), 1);
    assert_int_equal(atomic_load(&Record.LastIrql), 11);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* Broadcast: one vector free on every CPU of the set, logical destination. */
static void test_broadcast_reaches_every_cpu_of_set(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){0, 2, 3}, 3);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    IO_INTERRUPT_TARGET Broadcast = {.Kind = IoTargetBroadcast, .Mask = &Mask};
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, 4, Broadcast, false),
                     IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    assert_int_equal(TbPeekEntry(4).Bits.DestinationMode, 1);
    SimPulseGsi(4);
    assert_true(SimLapicIrrIsSet(2, Vector));
    assert_true(SimLapicIrrIsSet(3, Vector));
    assert_false(SimLapicIrrIsSet(1, Vector));
    assert_int_equal(TbService(2) + TbService(3) + TbService(0), 3);
    assert_int_equal(atomic_load(&Record.Calls), 3);
    assert_int_equal(KeQueryInterruptCount(Interrupt, 2), 1);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* MSI: the composed message reaches the target CPU's LAPIC. */
static void test_message_based_reaches_target(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    HL_MSI_MESSAGE Message;
    KINTERRUPT *Interrupt = TbConnectMessageToCpu(&Record, 3, &Message);
    assert_int_equal(Message.Address & 0xFFF00000u, 0xFEE00000u);
    assert_int_equal((Message.Address >> 12) & 0xFF, SimCpuApicId(3));
    assert_int_equal(Message.Data & 0xFF, KeGetInterruptVector(Interrupt));
    SimMsiWrite(Message.Address, Message.Data);
    TbAssertHandledOn(3, &Record);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* Shared level line: the chain runs until one claims; sharers can leave
 * without masking the line, the last one masks it. */
static void test_shared_level_chain(void **State)
{
    (void)State;
    TB_ISR_RECORD First = {.Claim = false, .Deassert = true, .DeassertGsi = PCI_GSI};
    TB_ISR_RECORD Second = {.Claim = true, .Deassert = true, .DeassertGsi = PCI_GSI};
    KINTERRUPT *A = NULL, *B = NULL;
    assert_int_equal(TbConnectLine(&A, TbCountingIsr, &First, HlBusPci, PCI_GSI, TbTargetCpu(1), true),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(TbConnectLine(&B, TbCountingIsr, &Second, HlBusPci, PCI_GSI, TbTargetCpu(2), true),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(KeGetInterruptVector(A), KeGetInterruptVector(B));
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(B, &Cpus);
    assert_true(IrCpuSetContains(&Cpus, 1)); /* joined where the line goes */
    IOAPIC_REDIRECTION_ENTRY Entry = TbPeekEntry(PCI_GSI);
    assert_int_equal(Entry.Bits.TriggerMode, 1);
    assert_int_equal(Entry.Bits.Polarity, 1);

    SimSetGsi(PCI_GSI, true);
    assert_int_equal(TbService(1), 1);
    assert_int_equal(atomic_load(&First.Calls), 1);
    assert_int_equal(atomic_load(&Second.Calls), 1);

    /* ISRs run in connection order: when the first claims, the second is not asked. */
    First.Claim = true;
    SimSetGsi(PCI_GSI, true);
    assert_int_equal(TbService(1), 1);
    assert_int_equal(atomic_load(&First.Calls), 2);
    assert_int_equal(atomic_load(&Second.Calls), 1); /* level: stop at the first claim */

    assert_int_equal(IoDisconnectInterrupt(A), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(PCI_GSI).Bits.Mask, 0); /* B still uses it */
    SimSetGsi(PCI_GSI, true);
    assert_int_equal(TbService(1), 1);
    assert_int_equal(atomic_load(&Second.Calls), 2);
    assert_int_equal(IoDisconnectInterrupt(B), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(PCI_GSI).Bits.Mask, 1);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

static void test_unclaimed_interrupts_counted(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = false};
    KINTERRUPT *Interrupt = TbConnectIsaToCpu(&Record, 4, 2);
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    for (int Round = 0; Round < 3; Round++) {
        SimPulseGsi(4);
        assert_int_equal(TbService(2), 1);
    }
    KE_VECTOR_STATISTICS Statistics;
    assert_int_equal(KeQueryVectorStatistics(2, Vector, &Statistics), IRQ_STATUS_SUCCESS);
    assert_int_equal(Statistics.Dispatched, 3);
    assert_int_equal(Statistics.Unclaimed, 3);
    assert_int_equal(KeQueryInterruptClaimedCount(Interrupt, 2), 0);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* ---- Bad input: a status, and nothing changed ------------------------------------ */

static void test_exclusive_vs_shared_conflict(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *A = NULL, *B = NULL;
    assert_int_equal(TbConnectCounted(&A, &Record, HlBusPci, PCI_GSI, 1, false), IRQ_STATUS_SUCCESS);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    assert_int_equal(TbConnectCounted(&B, &Record, HlBusPci, PCI_GSI, 1, true), IRQ_STATUS_SHARING_VIOLATION);
    TbAssertUnchanged(&Before);
    assert_int_equal(IoDisconnectInterrupt(A), IRQ_STATUS_SUCCESS);

    assert_int_equal(TbConnectCounted(&A, &Record, HlBusPci, PCI_GSI, 1, true), IRQ_STATUS_SUCCESS);
    Before = TbTakeSnapshot();
    assert_int_equal(TbConnectCounted(&B, &Record, HlBusPci, PCI_GSI, 1, false), IRQ_STATUS_SHARING_VIOLATION);
    TbAssertUnchanged(&Before);
    assert_int_equal(IoDisconnectInterrupt(A), IRQ_STATUS_SUCCESS);
}

static void test_level_edge_mismatch_on_shared_line(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *A = NULL, *B = NULL;
    assert_int_equal(TbConnectCounted(&A, &Record, HlBusGsi, 20, 1, true),
                     IRQ_STATUS_SUCCESS); /* GSI >= 16: level, active low */
    TB_SNAPSHOT Before = TbTakeSnapshot();
    IO_CONNECT_INTERRUPT_PARAMETERS Edge = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = &B, .ServiceRoutine = TbCountingIsr, .ServiceContext = &Record,
                      .Line = {.Bus = HlBusGsi, .Number = 20, .Trigger = HlLineEdge, .Polarity = HlLineActiveLow},
                      .Irql = KE_IRQL_ANY, .ShareVector = true, .Target = TbTargetCpu(1)},
    };
    assert_int_equal(IoConnectInterruptEx(&Edge), IRQ_STATUS_TRIGGER_MISMATCH);
    TbAssertUnchanged(&Before);
    assert_int_equal(IoDisconnectInterrupt(A), IRQ_STATUS_SUCCESS);
}

static void test_bad_line_input_changes_nothing(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    TB_SNAPSHOT Before = TbTakeSnapshot();
    IR_CPU_SET Empty;
    IrCpuSetZero(&Empty);

    assert_int_equal(TbConnectCounted(&Interrupt, &Record, HlBusGsi, 24, 0, false), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(TbConnectCounted(&Interrupt, &Record, HlBusIsa, 16, 0, false), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(TbConnectLine(&Interrupt, NULL, &Record, HlBusIsa, 4, TbTargetCpu(0), false),
                     IRQ_STATUS_INVALID_PARAMETER);
    const TB_REFUSED_TARGET BadTargets[] = {
        {TbTargetCpu(9), IRQ_STATUS_INVALID_CPU},
        {{.Kind = IoTargetAffinity, .Mask = &Empty}, IRQ_STATUS_EMPTY_AFFINITY},
    };
    TbAssertLineTargetsRefused(HlBusIsa, 4, BadTargets, 2);

    /* A synchronize IRQL below the ISR's own. */
    assert_int_equal(TbConnectCountedAtIrql(&Interrupt, &Record, HlBusIsa, 4, 0, 8, 7), IRQ_STATUS_INVALID_IRQL);
    IO_CONNECT_INTERRUPT_PARAMETERS BadVersion = {.Version = 7};
    assert_int_equal(IoConnectInterruptEx(&BadVersion), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoConnectInterruptEx(NULL), IRQ_STATUS_INVALID_PARAMETER);
    TbAssertUnchanged(&Before);
}

static void test_offline_cpu_refused(void **State)
{
    (void)State;
    IR_CPU_SET Offline = TbCpuList((const uint32_t[]){2, 3}, 2);
    const TB_REFUSED_TARGET Cases[] = {
        {TbTargetCpu(3), IRQ_STATUS_EMPTY_AFFINITY},
        {{.Kind = IoTargetAffinity, .Mask = &Offline}, IRQ_STATUS_EMPTY_AFFINITY},
    };
    TbAssertLineTargetsRefused(HlBusIsa, 4, Cases, 2);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x61, 6, 6, Latched, false,
                                        &Offline, false),
                     IRQ_STATUS_EMPTY_AFFINITY);
    TbAssertUnchanged(&Before);
}

static void test_fully_specified_rules(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL, *Other = NULL;
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){1, 2}, 2);
    TB_SNAPSHOT Before = TbTakeSnapshot();

    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x10, 1, 1, Latched, false, &Mask,
                                        false),
                     IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0xD1, 13, 13, Latched, false, &Mask,
                                        false),
                     IRQ_STATUS_INVALID_VECTOR); /* the clock's reserved vector */
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x300, 6, 6, Latched, false, &Mask,
                                        false),
                     IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x61, 7, 7, Latched, false, &Mask,
                                        false),
                     IRQ_STATUS_INVALID_IRQL); /* 0x61 is IRQL 6 */
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x61, 6, 5, Latched, false, &Mask,
                                        false),
                     IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x61, 6, 6, Latched, false, &Mask,
                                        true),
                     IRQ_STATUS_NOT_SUPPORTED);
    TbAssertUnchanged(&Before);

    /* The vector on every CPU of the mask; exclusive means exclusive. */
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x61, 6, 6, Latched, false, &Mask,
                                        false),
                     IRQ_STATUS_SUCCESS);
    assert_true(KeIsVectorAllocated(1, 0x61));
    assert_true(KeIsVectorAllocated(2, 0x61));
    assert_int_equal(IoConnectInterrupt(&Other, TbCountingIsr, &Record, NULL, 0x61, 6, 6, Latched, true, &Mask,
                                        false),
                     IRQ_STATUS_SHARING_VIOLATION);
    SimMsiWrite(0xFEE00000u | (SimCpuApicId(2) << 12), 0x61);
    assert_int_equal(TbService(2), 1);
    assert_int_equal(KeQueryInterruptCount(Interrupt, 2), 1);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_false(KeIsVectorAllocated(1, 0x61));
    TbAssertUnchanged(&Before);
}

static void test_disconnect_twice_or_never_connected(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = TbConnectIsaToCpu(&Record, 4, 1);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(IoDisconnectInterrupt(NULL), IRQ_STATUS_INVALID_PARAMETER);
    static _Alignas(64) uint8_t Garbage[4096];
    assert_int_equal(IoDisconnectInterrupt((KINTERRUPT *)Garbage), IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(KeDisconnectInterrupt((KINTERRUPT *)Garbage, NULL), IRQ_STATUS_NOT_CONNECTED);
    TbAssertUnchanged(&Before);
}

/* IRQL 6 owns the 16 vectors 0x60-0x6F on a CPU: the 17th connect fails and
 * leaves everything as it was. */
static void test_vector_exhaustion(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Objects[16];
    HL_MSI_MESSAGE Message;
    for (int Index = 0; Index < 16; Index++) {
        IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
            .Version = CONNECT_MESSAGE_BASED,
            .MessageBased = {.InterruptObject = &Objects[Index], .ServiceRoutine = TbCountingIsr,
                             .ServiceContext = &Record, .Irql = 6, .Target = TbTargetCpu(1), .Message = &Message},
        };
        assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_SUCCESS);
    }
    TB_SNAPSHOT Before = TbTakeSnapshot();
    KINTERRUPT *Extra = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_MESSAGE_BASED,
        .MessageBased = {.InterruptObject = &Extra, .ServiceRoutine = TbCountingIsr, .ServiceContext = &Record,
                         .Irql = 6, .Target = TbTargetCpu(1), .Message = &Message},
    };
    assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_VECTOR_EXHAUSTED);
    TbAssertUnchanged(&Before);
    for (int Index = 0; Index < 16; Index++)
        assert_int_equal(IoDisconnectInterrupt(Objects[Index]), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* ---- CPUs no device interrupt reaches (x2APIC ids 0xFF and above) ----------------------------- */

/* An affinity mask's least-loaded CPU is chosen among the CPUs a device
 * reaches: the empty CPUs 2-4 are skipped, not picked and then refused. */
static void test_affinity_skips_unreachable_cpus(void **State)
{
    (void)State;
    static const uint32_t Loaded[] = {0, 1, 5};
    for (uint32_t Index = 0; Index < 3; Index++) /* CPU 0: 1 vector, CPU 1: 2, CPU 5: 3 */
        for (uint32_t Count = 0; Count <= Index; Count++)
            assert_int_equal(KeReserveVector(Loaded[Index], (uint8_t)(0x60 + Count)), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 6);

    static const uint32_t Members[] = {1, 2, 3, 4, 5};
    IR_CPU_SET Mask = TbCpuList(Members, 5);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    ConnectRtcByAffinity(&Interrupt, &Record, &Mask, 1);
    assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.Destination, 0xFE);
    assert_int_equal(TbPeekEntry(RTC_IRQ).Bits.DestinationMode, 0);
    for (uint32_t Cpu = 2; Cpu <= 4; Cpu++)
        assert_false(KeIsVectorAllocated(Cpu, KeGetInterruptVector(Interrupt)));
    SimPulseGsi(RTC_IRQ);
    TbAssertHandledOn(1, &Record);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);

    /* The same for a message: {3, 5} goes to CPU 5 (APIC id 3). */
    static const uint32_t MessageMembers[] = {3, 5};
    IR_CPU_SET MessageMask = TbCpuList(MessageMembers, 2);
    HL_MSI_MESSAGE Message;
    IO_INTERRUPT_TARGET MessageAffinity = {.Kind = IoTargetAffinity, .Mask = &MessageMask};
    assert_int_equal(TbConnectMessage(&Interrupt, &Record, MessageAffinity, &Message), IRQ_STATUS_SUCCESS);
    assert_int_equal(Message.Address, 0xFEE03000ull);
    SimMsiWrite(Message.Address, Message.Data);
    TbAssertHandledOn(5, &Record);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 6);
}

/* A mask whose online CPUs no device reaches, or a named CPU no device
 * reaches, is NOT_SUPPORTED and leaves nothing behind. */
static void test_unreachable_targets_not_supported(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbWideUnreachableCpus();
    const TB_REFUSED_TARGET Unreachable[] = {
        {{.Kind = IoTargetAffinity, .Mask = &Mask}, IRQ_STATUS_NOT_SUPPORTED},
        {TbTargetCpu(2), IRQ_STATUS_NOT_SUPPORTED},
        {TbTargetCpu(3), IRQ_STATUS_NOT_SUPPORTED},
        {TbTargetCpu(4), IRQ_STATUS_NOT_SUPPORTED},
    };
    TbAssertLineTargetsRefused(HlBusIsa, RTC_IRQ, Unreachable, 4);
    /* The same targets for a message: refused, the message not written. */
    TB_SNAPSHOT Before = TbTakeSnapshot();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    HL_MSI_MESSAGE Message = {.Address = 0x1234};
    for (uint32_t Index = 0; Index < 4; Index++)
        assert_int_equal(TbConnectMessage(&Interrupt, &Record, Unreachable[Index].Target, &Message),
                         IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(Message.Address, 0x1234);
    assert_null(Interrupt);
    TbAssertUnchanged(&Before);
    /* A mask with no online CPU at all is still an empty affinity. */
    IR_CPU_SET Absent = TbCpuList((const uint32_t[]){TB_WIDE_CPUS, TB_WIDE_CPUS + 1}, 2);
    const TB_REFUSED_TARGET Nowhere = {{.Kind = IoTargetAffinity, .Mask = &Absent}, IRQ_STATUS_EMPTY_AFFINITY};
    TbAssertLineTargetsRefused(HlBusIsa, RTC_IRQ, &Nowhere, 1);
}

/* Broadcast keeps HlResolveTarget's rule: CPUs 0 and 5 (x2APIC ids 1 and 3)
 * share cluster 0 below member 8 and fit the entry; CPU 2 (0xFF) is in
 * cluster 15, so {0, 2} has no logical destination. */
static void test_broadcast_sets_in_x2apic_mode(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbCpuList((const uint32_t[]){0, 5}, 2);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    IO_INTERRUPT_TARGET Broadcast = {.Kind = IoTargetBroadcast, .Mask = &Mask};
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, 4, Broadcast, false),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(4).Bits.DestinationMode, 1);
    assert_int_equal(TbPeekEntry(4).Bits.Destination, 0x0A);
    SimPulseGsi(4);
    assert_int_equal(TbService(0) + TbService(5), 2);
    assert_int_equal(atomic_load(&Record.Calls), 2);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);

    TB_SNAPSHOT Before = TbTakeSnapshot();
    IR_CPU_SET Spanning = TbCpuList((const uint32_t[]){0, 2}, 2);
    Broadcast.Mask = &Spanning;
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, 4, Broadcast, false),
                     IRQ_STATUS_NOT_SUPPORTED);
    TbAssertUnchanged(&Before);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

TB_TEST_MAIN(
    TB_FOUR_CPU_TEST(test_rtc_routed_to_each_cpu_in_turn),
    cmocka_unit_test_setup_teardown(test_rtc_routed_to_each_cpu_in_turn, Setup8, TbTeardown),
    cmocka_unit_test_setup_teardown(test_rtc_routed_to_each_cpu_in_turn, Setup64, TbTeardown),
    TB_FOUR_CPU_TEST(test_default_target_is_cpu0),
    TB_FOUR_CPU_TEST(test_isa_overrides_apply),
    TB_FOUR_CPU_TEST(test_affinity_picks_least_loaded_cpu),
    TB_FOUR_CPU_TEST(test_irql_selects_vector_class),
    TB_FOUR_CPU_TEST(test_broadcast_reaches_every_cpu_of_set),
    TB_FOUR_CPU_TEST(test_message_based_reaches_target),
    TB_FOUR_CPU_TEST(test_shared_level_chain),
    TB_FOUR_CPU_TEST(test_unclaimed_interrupts_counted),
    TB_FOUR_CPU_TEST(test_exclusive_vs_shared_conflict),
    TB_FOUR_CPU_TEST(test_level_edge_mismatch_on_shared_line),
    TB_FOUR_CPU_TEST(test_bad_line_input_changes_nothing),
    cmocka_unit_test_setup_teardown(test_offline_cpu_refused, Setup4TwoOnline, TbTeardown),
    TB_FOUR_CPU_TEST(test_fully_specified_rules),
    TB_FOUR_CPU_TEST(test_disconnect_twice_or_never_connected),
    TB_FOUR_CPU_TEST(test_vector_exhaustion),
    cmocka_unit_test_setup_teardown(test_affinity_skips_unreachable_cpus, TbSetupWide, TbTeardown),
    cmocka_unit_test_setup_teardown(test_unreachable_targets_not_supported, TbSetupWide, TbTeardown),
    cmocka_unit_test_setup_teardown(test_broadcast_sets_in_x2apic_mode, TbSetupWide, TbTeardown))
