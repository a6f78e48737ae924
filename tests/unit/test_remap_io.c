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
        KINTERRUPT *Interrupt = NULL;
        assert_int_equal(TbConnectCounted(&Interrupt, &Record, HlBusIsa, RTC_IRQ, Cpu, false), IRQ_STATUS_SUCCESS);
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
    IR_CPU_SET All;
    IrCpuSetZero(&All);
    for (uint32_t Cpu = 0; Cpu < TB_WIDE_CPUS; Cpu++)
        IrCpuSetAdd(&All, Cpu);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    IO_INTERRUPT_TARGET Routable = {.Kind = IoTargetRoutable, .Mask = &All, .Cpu = 0};
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, RTC_IRQ, Routable, false),
                     IRQ_STATUS_SUCCESS);
    IOAPIC_REDIRECTION_ENTRY Entry = TbPeekEntry(RTC_GSI);
    for (uint32_t Step = 0; Step < 2u * TB_WIDE_CPUS; Step++) {
        uint32_t Cpu = (Step * 5u) % TB_WIDE_CPUS;
        assert_int_equal(IoSetInterruptTarget(Interrupt, Cpu), IRQ_STATUS_SUCCESS);
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
    IR_CPU_SET All;
    IrCpuSetZero(&All);
    for (uint32_t Cpu = 0; Cpu < TB_WIDE_CPUS; Cpu++)
        IrCpuSetAdd(&All, Cpu);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    IO_INTERRUPT_TARGET Routable = {.Kind = IoTargetRoutable, .Mask = &All, .Cpu = 0};
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, RTC_IRQ, Routable, false),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    for (uint32_t Step = 0; Step < 2u * TB_WIDE_CPUS; Step++)
        FireRtcExpect(Step % TB_WIDE_CPUS, &Record);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup_teardown(test_every_cpu_reachable_by_name, SetupWideRemapped, TbTeardown),
        cmocka_unit_test_setup_teardown(test_affinity_of_wide_ids_is_served, SetupWideRemapped, TbTeardown),
        cmocka_unit_test_setup_teardown(test_live_moves_over_every_cpu, SetupWideRemapped, TbTeardown),
        cmocka_unit_test_setup_teardown(test_round_robin_visits_every_cpu, SetupWideRemapped, TbTeardown),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
