/* SPDX-License-Identifier: MIT */
/*
 * Io's lines through a VT-d remapping unit (SIM_SYSTEM_CONFIG
 * .InterruptRemapping, as QEMU's q35 with intel-iommu,intremap=on,eim=on):
 * the six-CPU x2APIC machine of TbSetupWide, whose CPUs 2, 3 and 4 have APIC
 * ids no 8-bit destination can name (0xFF, 0x100, 0x11F), reaches every CPU
 * once the I/O APIC sends through the unit (src/hl/pic.c, REMAPPED LINES),
 * by a named CPU, an affinity mask and live moves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <irqroute/io.h>

#include "testbed.h"
#include "tb_main.h"

#define RTC_IRQ 8u
#define RTC_GSI 8u

static int SetupWideRemapped(void **State)
{
    (void)State;
    SIM_SYSTEM_CONFIG Config = {.CpuCount = TB_WIDE_CPUS, .ApicIds = TbWideApicIds, .X2Apic = true,
                                .InterruptRemapping = true};
    TbBootConfig(&Config);
    return 0;
}

static IR_CPU_SET EveryCpu(void)
{
    IR_CPU_SET All;
    IrCpuSetZero(&All);
    for (uint32_t Cpu = 0; Cpu < TB_WIDE_CPUS; Cpu++)
        IrCpuSetAdd(&All, Cpu);
    return All;
}

/* The RTC's line, movable over every CPU, starting on CPU 0. */
static KINTERRUPT *ConnectMovableRtc(TB_ISR_RECORD *Record)
{
    IR_CPU_SET All = EveryCpu();
    KINTERRUPT *Interrupt = NULL;
    IO_INTERRUPT_TARGET Routable = {.Kind = IoTargetRoutable, .Mask = &All, .Cpu = 0};
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, Record, HlBusIsa, RTC_IRQ, Routable, false),
                     IRQ_STATUS_SUCCESS);
    return Interrupt;
}

/* An edge on the RTC's line, then the CPU that must have taken it. */
static void FireRtcExpect(uint32_t Cpu, TB_ISR_RECORD *Record)
{
    SimPulseGsi(RTC_GSI);
    TbAssertHandledOn(Cpu, Record);
}

static void test_every_cpu_reachable_by_name(void **State)
{
    (void)State;
    for (uint32_t Cpu = 0; Cpu < TB_WIDE_CPUS; Cpu++) {
        TB_ISR_RECORD Record = {.Claim = true};
        KINTERRUPT *Interrupt = TbConnectIsaToCpu(&Record, RTC_IRQ, Cpu);
        FireRtcExpect(Cpu, &Record);
        assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    }
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* The mask that was NOT_SUPPORTED without remapping (test_connect.c). */
static void test_affinity_of_wide_ids_is_served(void **State)
{
    (void)State;
    IR_CPU_SET Mask = TbWideUnreachableCpus();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    IO_INTERRUPT_TARGET Affinity = {.Kind = IoTargetAffinity, .Mask = &Mask};
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, RTC_IRQ, Affinity, false),
                     IRQ_STATUS_SUCCESS);
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    uint32_t Cpu = IrCpuSetFirst(&Cpus);
    assert_true(IrCpuSetContains(&Mask, Cpu));
    FireRtcExpect(Cpu, &Record);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* A movable line over every CPU moves to each in turn while connected: one
 * table entry rewrite each time, the redirection entry left as it is. */
static void test_live_moves_over_every_cpu(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record);
    IOAPIC_REDIRECTION_ENTRY Entry = TbPeekEntry(RTC_GSI);
    for (uint32_t Step = 0; Step < 2u * TB_WIDE_CPUS; Step++) {
        uint32_t Cpu = (Step * 5u) % TB_WIDE_CPUS;
        assert_int_equal(IoSetInterruptTarget(Interrupt, Cpu), IRQ_STATUS_SUCCESS);
        (void)TbServiceMoveRequests(); /* the old CPU gives its vector up */
        assert_int_equal(TbPeekEntry(RTC_GSI).Value, Entry.Value);
        FireRtcExpect(Cpu, &Record);
    }
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbPeekEntry(RTC_GSI).Bits.Mask, 1);
}

/* Round-robin re-targeting after each interrupt reaches the wide CPUs too. */
static void test_round_robin_visits_every_cpu(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectMovableRtc(&Record);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    (void)TbServiceMoveRequests();
    for (uint32_t Step = 0; Step < 2u * TB_WIDE_CPUS; Step++)
        FireRtcExpect(Step % TB_WIDE_CPUS, &Record);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* ---- Messages through the unit (src/hl/msi_remap.c) ------------------------------------ */

#define EDU_REQUESTER 0x0018u /* 00:03.0 */

/* A message connection whose requester is the edu device, so that the
 * message is remapped when the requester is under a unit. */
static IRQ_STATUS ConnectRemappedMessage(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, IO_INTERRUPT_TARGET Target,
                                         HL_MSI_MESSAGE *Message)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = TbMessageParameters(Interrupt, Record, Target, Message);
    Parameters.MessageBased.HasRequesterId = true;
    Parameters.MessageBased.RequesterId = EDU_REQUESTER;
    return IoConnectInterruptEx(&Parameters);
}

static void SendMessageExpect(const HL_MSI_MESSAGE *Message, uint32_t Cpu, TB_ISR_RECORD *Record)
{
    SimMsiWriteThroughIommu(0, EDU_REQUESTER, Message->Address, Message->Data);
    TbAssertHandledOn(Cpu, Record);
}

/* A named CPU with an APIC id above 254 takes a remapped message; the
 * message is in the remappable format (address bit 4). */
static void test_message_reaches_wide_cpu(void **State)
{
    (void)State;
    assert_int_equal(HlRemapAssignRequester(0, EDU_REQUESTER), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 2; Cpu <= 4; Cpu++) {
        TB_ISR_RECORD Record = {.Claim = true};
        KINTERRUPT *Interrupt = NULL;
        HL_MSI_MESSAGE Message;
        assert_int_equal(ConnectRemappedMessage(&Interrupt, &Record, TbTargetCpu(Cpu), &Message), IRQ_STATUS_SUCCESS);
        assert_int_equal(Message.Address & (1u << 4), 1u << 4);
        SendMessageExpect(&Message, Cpu, &Record);
        assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
        /* Its entry is gone with it: the same message now reaches no CPU. */
        SimMsiWriteThroughIommu(0, EDU_REQUESTER, Message.Address, Message.Data);
        assert_int_equal(TbService(Cpu), 0);
    }
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* A movable remapped message needs no update routine: each move rewrites
 * its table entry, and the message the device holds stays the same. */
static void test_message_moves_without_touching_the_device(void **State)
{
    (void)State;
    assert_int_equal(HlRemapAssignRequester(0, EDU_REQUESTER), IRQ_STATUS_SUCCESS);
    IR_CPU_SET All = EveryCpu();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    HL_MSI_MESSAGE Message;
    IO_INTERRUPT_TARGET Routable = {.Kind = IoTargetRoutable, .Mask = &All, .Cpu = 0};
    assert_int_equal(ConnectRemappedMessage(&Interrupt, &Record, Routable, &Message), IRQ_STATUS_SUCCESS);
    for (uint32_t Step = 0; Step < TB_WIDE_CPUS; Step++) {
        uint32_t Cpu = (Step * 5u + 3u) % TB_WIDE_CPUS;
        assert_int_equal(IoSetInterruptTarget(Interrupt, Cpu), IRQ_STATUS_SUCCESS);
        (void)TbServiceMoveRequests();
        SendMessageExpect(&Message, Cpu, &Record);
    }
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* A requester under no unit keeps the compatibility format and its 8-bit
 * reach; with the unit on, its message is blocked (CFI clear). */
static void test_unassigned_requester_is_not_remapped(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    HL_MSI_MESSAGE Message;
    assert_int_equal(ConnectRemappedMessage(&Interrupt, &Record, TbTargetCpu(3), &Message), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(ConnectRemappedMessage(&Interrupt, &Record, TbTargetCpu(1), &Message), IRQ_STATUS_SUCCESS);
    assert_int_equal(Message.Address & (1u << 4), 0);
    SimMsiWriteThroughIommu(0, EDU_REQUESTER, Message.Address, Message.Data);
    assert_int_equal(TbService(1), 0);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* Every test boots the remapped six-CPU machine afresh. */
#define REMAPPED_TEST(Test) cmocka_unit_test_setup_teardown(Test, SetupWideRemapped, TbTeardown)

TB_TEST_MAIN(
    REMAPPED_TEST(test_every_cpu_reachable_by_name),
    REMAPPED_TEST(test_affinity_of_wide_ids_is_served),
    REMAPPED_TEST(test_live_moves_over_every_cpu),
    REMAPPED_TEST(test_round_robin_visits_every_cpu),
    REMAPPED_TEST(test_message_reaches_wide_cpu),
    REMAPPED_TEST(test_message_moves_without_touching_the_device),
    REMAPPED_TEST(test_unassigned_requester_is_not_remapped))
