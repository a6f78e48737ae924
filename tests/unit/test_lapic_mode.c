/* SPDX-License-Identifier: MIT */
/*
 * The local APIC's mode, per CPU: IA32_APIC_BASE in the sim's model
 * (platform/sim/lapic_model.c) with the SDM's transitions (vol. 3A 11.12.5)
 * and every #GP the CPU raises (11.12.1.2 table 11-6, 11.12.1.3, 11.12.9),
 * the bus deciding per CPU (sim_bus.c), and the driver's HlLapicEnable
 * (src/hl/x86/lapic.c) from each state firmware may hand over.
 *
 * Faults are caught with the testbed's handler (TB_EXPECT_FAULT): each
 * refused access must fault exactly once, with the reason in the message,
 * and change nothing. Any other fault fails the test.
 *
 * On QEMU 10 the reference kernel once read the x2APIC id (MSR 0x802)
 * before it had set IA32_APIC_BASE.EXTD and took a #GP at boot; the sim
 * then started every CPU in x2APIC mode and could not see it.
 * test_x2apic_id_read_before_enable_faults is that bug.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "sim.h"
#include "simboot.h"
#include "testbed.h"
#include "tb_main.h"

/* IA32_APIC_BASE (SDM 11.4.4, figure 11-5). */
#define IA32_APIC_BASE 0x1Bu
#define BASE 0xFEE00000ull
#define BSP (1ull << 8)
#define EXTD (1ull << 10)
#define EN (1ull << 11)

/* xAPIC MMIO offsets (table 11-1) and x2APIC MSRs (table 11-6). */
#define MMIO_ID 0x020u
#define MMIO_VERSION 0x030u
#define MMIO_TPR 0x080u
#define MMIO_EOI 0x0B0u
#define MMIO_LDR 0x0D0u
#define MMIO_DFR 0x0E0u
#define MMIO_SVR 0x0F0u
#define MMIO_ESR 0x280u
#define MMIO_ICR_HIGH 0x310u
#define MMIO_LVT_LINT0 0x350u
#define MMIO_SELF_IPI 0x3F0u
#define MSR_ID 0x802u
#define MSR_TPR 0x808u
#define MSR_EOI 0x80Bu
#define MSR_LDR 0x80Du
#define MSR_SVR 0x80Fu
#define MSR_ESR 0x828u
#define MSR_ICR 0x830u
#define MSR_LVT_TIMER 0x832u
#define MSR_LVT_LINT0 0x835u
#define MSR_LVT_ERROR 0x837u
#define MSR_TIMER_DIVIDE 0x83Eu
#define MSR_SELF_IPI 0x83Fu

#define SVR_ENABLED 0x1FFu
#define ICR_ASSERT (1u << 14)
#define ICR_LOGICAL (1u << 11)
#define ESR_ILLEGAL_REGISTER (1u << 7)
#define MODE_INIT 5u
#define MODE_STARTUP 6u
#define SPURIOUS_VECTOR TB_SPURIOUS_VECTOR /* what TbBringUpAttachedCpu programs */
#define MSI_BASE 0xFEE00000ull
#define MSI_LOGICAL (1ull << 2)

static const SIM_LAPIC_MODE AllModes[3] = {SimLapicXApic, SimLapicX2Apic, SimLapicDisabled};

/* ---- Fixture ------------------------------------------------------------------------ */

static void Create(uint32_t CpuCount, const uint32_t *ApicIds, bool X2ApicSupported, SIM_LAPIC_MODE FirmwareMode)
{
    SIM_CONFIG Config = {.CpuCount = CpuCount,
                         .ApicIds = ApicIds,
                         .X2ApicSupported = X2ApicSupported,
                         .FirmwareMode = FirmwareMode};
    assert_int_equal(SimCreate(&Config), 0);
    TbCatchFaults();
    HlResetHardwareLayer();
}


static void SwitchCpu(uint32_t Cpu)
{
    if (SimAttachedCpu() != SIM_NO_CPU)
        SimDetachCpu();
    SimAttachCpu(Cpu);
}

/* One CPU, and the test thread on it. */
static void CreateOne(const uint32_t *ApicIds, bool X2ApicSupported, SIM_LAPIC_MODE FirmwareMode)
{
    Create(1, ApicIds, X2ApicSupported, FirmwareMode);
    SwitchCpu(0);
}

static uint64_t ApicBase(void)
{
    return PlatReadMsr(IA32_APIC_BASE);
}

static void SetApicBase(uint64_t Value)
{
    PlatWriteMsr(IA32_APIC_BASE, Value);
}

static uint32_t Mmio(uint32_t Offset)
{
    return PlatMmioRead32(BASE + Offset);
}

static void MmioWrite(uint32_t Offset, uint32_t Value)
{
    PlatMmioWrite32(BASE + Offset, Value);
}

static uint32_t ClusterLdr(uint32_t Id)
{
    return (Id >> 4) << 16 | 1u << (Id & 15u);
}

/* As kernel/arch/smp.c: enable first, then the id from the register. */
static void BringUp(uint32_t Cpu)
{
    SwitchCpu(Cpu);
    TbBringUpAttachedCpu(Cpu);
}

static void NoEoiEntry(uint32_t Cpu, uint8_t Vector)
{
    (void)Cpu;
    (void)Vector;
}

/* ---- IA32_APIC_BASE: what firmware hands over --------------------------------------- */

/* Base 0xFEE00000, EN (and EXTD) per FirmwareMode, BSP on CPU 0 only; a CPU
 * handed over in x2APIC mode has the derived cluster LDR. */
static void test_firmware_hands_over_each_mode(void **State)
{
    (void)State;
    static const uint64_t Flags[3] = {EN, EN | EXTD, 0};
    for (uint32_t Case = 0; Case < 3; Case++) {
        Create(2, NULL, true, AllModes[Case]);
        for (uint32_t Cpu = 0; Cpu < 2; Cpu++) {
            SwitchCpu(Cpu);
            assert_int_equal(ApicBase(), BASE | Flags[Case] | (Cpu == 0 ? BSP : 0));
            assert_int_equal(SimLapicMode(Cpu), AllModes[Case]);
        }
        if (AllModes[Case] == SimLapicX2Apic)
            assert_int_equal(PlatReadMsr(MSR_LDR), ClusterLdr(SimCpuApicId(1)));
        TbTeardownHardwareLayer(NULL);
    }
    /* x2APIC handed over by a CPU that does not offer it, or no such mode. */
    SIM_CONFIG Impossible = {.CpuCount = 1, .FirmwareMode = SimLapicX2Apic};
    assert_int_equal(SimCreate(&Impossible), -1);
    SIM_CONFIG Unknown = {.CpuCount = 1, .X2ApicSupported = true, .FirmwareMode = (SIM_LAPIC_MODE)7};
    assert_int_equal(SimCreate(&Unknown), -1);
}

/* ---- IA32_APIC_BASE: transitions (SDM 11.12.5.1, figure 11-27) ----------------------- */

/* Every allowed transition, on a CPU that is not the BSP: xAPIC -> xAPIC,
 * xAPIC -> x2APIC (state kept but LDR, now derived, and ICR high),
 * x2APIC -> x2APIC, x2APIC -> disabled (power-up registers, SVR bit 8
 * clear), disabled -> disabled, disabled -> xAPIC, xAPIC -> disabled. */
static void test_allowed_transitions(void **State)
{
    (void)State;
    static const uint32_t Ids[2] = {0x25, 0x31};
    Create(2, Ids, true, SimLapicXApic);
    SwitchCpu(1);
    SetApicBase(BASE | EN);
    assert_int_equal(SimLapicMode(1), SimLapicXApic);
    MmioWrite(MMIO_SVR, SVR_ENABLED);
    MmioWrite(MMIO_TPR, 0x20);
    MmioWrite(MMIO_LDR, 0x80000000u);
    MmioWrite(MMIO_ICR_HIGH, 0x07000000u);

    SetApicBase(BASE | EN | EXTD);
    assert_int_equal(SimLapicMode(1), SimLapicX2Apic);
    assert_int_equal(ApicBase(), BASE | EN | EXTD);
    assert_int_equal(PlatReadMsr(MSR_ID), 0x31);
    assert_int_equal(PlatReadMsr(MSR_LDR), ClusterLdr(0x31));
    assert_int_equal(PlatReadMsr(MSR_SVR), SVR_ENABLED);
    assert_int_equal(PlatReadMsr(MSR_TPR), 0x20);
    assert_int_equal(PlatReadMsr(MSR_ICR) >> 32, 0);
    SetApicBase(BASE | EN | EXTD);
    assert_int_equal(SimLapicMode(1), SimLapicX2Apic);
    assert_int_equal(PlatReadMsr(MSR_LDR), ClusterLdr(0x31));

    SetApicBase(BASE);
    assert_int_equal(SimLapicMode(1), SimLapicDisabled);
    assert_int_equal(ApicBase(), BASE);
    SetApicBase(BASE);
    assert_int_equal(SimLapicMode(1), SimLapicDisabled);

    SetApicBase(BASE | EN);
    assert_int_equal(SimLapicMode(1), SimLapicXApic);
    assert_int_equal(Mmio(MMIO_ID), 0x31u << 24);
    assert_int_equal(Mmio(MMIO_SVR), 0xFFu);
    assert_int_equal(Mmio(MMIO_TPR), 0);
    assert_int_equal(Mmio(MMIO_LDR), 0);
    assert_int_equal(Mmio(MMIO_DFR), 0xFFFFFFFFu);
    assert_int_equal(Mmio(MMIO_LVT_LINT0), 0x00010000u);

    MmioWrite(MMIO_SVR, SVR_ENABLED);
    SetApicBase(BASE);
    assert_int_equal(SimLapicMode(1), SimLapicDisabled);
    SetApicBase(BASE | EN);
    assert_int_equal(Mmio(MMIO_SVR) & 0x100u, 0); /* disabling cleared the software enable */
}

/* Each refused write is a #GP and leaves IA32_APIC_BASE and the mode as
 * they were: disabled -> x2APIC, EXTD with EN clear (from every mode),
 * x2APIC -> xAPIC, reserved bits (0, 9, MAXPHYADDR). BSP is the hardware's. */
static void test_refused_transitions(void **State)
{
    (void)State;
    Create(2, NULL, true, SimLapicXApic);
    SwitchCpu(1);
    SetApicBase(BASE);
    TB_EXPECT_FAULT(SetApicBase(BASE | EN | EXTD), "disabled -> x2APIC");
    TB_EXPECT_FAULT(SetApicBase(BASE | EXTD), "invalid state");
    assert_int_equal(ApicBase(), BASE);
    assert_int_equal(SimLapicMode(1), SimLapicDisabled);

    SetApicBase(BASE | EN);
    TB_EXPECT_FAULT(SetApicBase(BASE | EXTD), "invalid state");
    assert_int_equal(ApicBase(), BASE | EN);
    assert_int_equal(SimLapicMode(1), SimLapicXApic);

    SetApicBase(BASE | EN | EXTD);
    TB_EXPECT_FAULT(SetApicBase(BASE | EN), "x2APIC -> xAPIC");
    TB_EXPECT_FAULT(SetApicBase(BASE | EXTD), "invalid state");
    TB_EXPECT_FAULT(SetApicBase(BASE | EN | EXTD | 1u), "reserved");
    TB_EXPECT_FAULT(SetApicBase(BASE | EN | EXTD | 1u << 9), "reserved");
    TB_EXPECT_FAULT(SetApicBase(BASE | EN | EXTD | 1ull << 40), "reserved");
    assert_int_equal(ApicBase(), BASE | EN | EXTD);
    assert_int_equal(SimLapicMode(1), SimLapicX2Apic);
    assert_int_equal(PlatReadMsr(MSR_LDR), ClusterLdr(SimCpuApicId(1)));
    assert_int_equal(TbFaultWhere, IA32_APIC_BASE);

    /* BSP: set by hardware on CPU 0 only; writes leave it. */
    SetApicBase(BASE | EN | EXTD | BSP);
    assert_int_equal(ApicBase(), BASE | EN | EXTD);
    SwitchCpu(0);
    SetApicBase(BASE | EN);
    assert_int_equal(ApicBase(), BASE | EN | BSP);
    assert_int_equal(TbFaultCount, 8);
}

/* EXTD on a CPU without CPUID.01H:ECX[21]: #GP, from the raw MSR and from
 * the driver asked for x2APIC on such a CPU. */
static void test_extd_without_x2apic_support(void **State)
{
    (void)State;
    CreateOne(NULL, false, SimLapicXApic);
    TB_EXPECT_FAULT(SetApicBase(BASE | EN | EXTD | BSP), "does not offer x2APIC");
    assert_int_equal(HlLapicSelectMode(HlLapicModeX2Apic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    TB_EXPECT_FAULT((void)HlLapicEnable(), "CPUID.01H:ECX[21]");
    assert_int_equal(SimLapicMode(0), SimLapicXApic);
    assert_int_equal(ApicBase(), BASE | EN | BSP);
}

/* The xAPIC page follows IA32_APIC_BASE[39:12] of its own CPU. */
static void test_xapic_base_moves_the_page(void **State)
{
    (void)State;
    Create(2, NULL, false, SimLapicXApic);
    SwitchCpu(0);
    SetApicBase(0xFEF00000ull | EN | BSP);
    assert_int_equal(PlatMmioRead32(0xFEF00000u + MMIO_VERSION), 0x00050014u);
    TB_EXPECT_FAULT((void)PlatMmioRead32(BASE + MMIO_VERSION), "another base");
    SwitchCpu(1);
    assert_int_equal(Mmio(MMIO_VERSION), 0x00050014u); /* CPU 1's page did not move */
    TB_EXPECT_FAULT((void)PlatMmioRead32(0xFEF00000u + MMIO_VERSION), "no device");
    SwitchCpu(0);
    SetApicBase(BASE | EN | BSP);
    assert_int_equal(Mmio(MMIO_VERSION), 0x00050014u);
}

/* ---- Which interface a mode decodes (SDM 11.12.1.2, 11.4.3) ---------------------------- */

/* x2APIC MSRs #GP in xAPIC mode and when disabled, read or write; the
 * refused write changed nothing. */
static void test_x2apic_msrs_fault_outside_x2apic_mode(void **State)
{
    (void)State;
    CreateOne(NULL, true, SimLapicXApic);
    TB_EXPECT_FAULT((void)PlatReadMsr(MSR_ID), "xAPIC mode");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_TPR, 0x20), "xAPIC mode");
    TB_EXPECT_FAULT((void)PlatReadMsr(0x8FFu), "xAPIC mode");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_EOI, 0), "xAPIC mode");
    assert_int_equal(Mmio(MMIO_TPR), 0);
    SetApicBase(BASE | BSP);
    TB_EXPECT_FAULT((void)PlatReadMsr(MSR_ID), "disabled");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_TPR, 0x20), "disabled");
    assert_int_equal(TbFaultWhere, MSR_TPR);
}

/* The xAPIC page is not decoded in x2APIC mode, nor when disabled. */
static void test_xapic_mmio_faults_outside_xapic_mode(void **State)
{
    (void)State;
    CreateOne(NULL, true, SimLapicX2Apic);
    TB_EXPECT_FAULT((void)Mmio(MMIO_ID), "x2APIC mode");
    TB_EXPECT_FAULT(MmioWrite(MMIO_TPR, 0x20), "x2APIC mode");
    assert_int_equal(PlatReadMsr(MSR_TPR), 0);
    assert_int_equal(TbFaultWhere, BASE + MMIO_TPR);
    SetApicBase(BASE | BSP);
    TB_EXPECT_FAULT((void)Mmio(MMIO_VERSION), "disabled");
    TB_EXPECT_FAULT(MmioWrite(MMIO_SVR, SVR_ENABLED), "disabled");
}

/* In xAPIC mode the hardware does not fault on a register access: reserved
 * bits and read-only registers are ignored, an absent register reads 0 and
 * sets the ESR's illegal-register bit (11.5.3). Only a narrow, wide or
 * misaligned access faults (11.4.1). */
static void test_xapic_mode_ignores_what_x2apic_refuses(void **State)
{
    (void)State;
    CreateOne(NULL, true, SimLapicXApic);
    MmioWrite(MMIO_SVR, 0xFFFFF1FFu);
    assert_int_equal(Mmio(MMIO_SVR), SVR_ENABLED);
    MmioWrite(MMIO_TPR, 0x1FFu);
    assert_int_equal(Mmio(MMIO_TPR), 0xFFu);
    uint64_t Eois = SimEoiCount(0);
    MmioWrite(MMIO_EOI, 5);
    assert_int_equal(SimEoiCount(0), Eois + 1);
    MmioWrite(MMIO_ID, 0xAB000000u);
    assert_int_equal(Mmio(MMIO_ID), SimCpuApicId(0) << 24);
    assert_int_equal(Mmio(MMIO_SELF_IPI), 0);
    MmioWrite(MMIO_ESR, 0);
    assert_int_equal(Mmio(MMIO_ESR), ESR_ILLEGAL_REGISTER);

    TB_EXPECT_FAULT((void)SimMmioRead(BASE + MMIO_TPR, 2), "32-bit");
    TB_EXPECT_FAULT(SimMmioWrite(BASE + MMIO_TPR, 1, 0x10), "32-bit");
    TB_EXPECT_FAULT((void)SimMmioRead(BASE + MMIO_TPR, 8), "32-bit");
    TB_EXPECT_FAULT((void)PlatMmioRead32(BASE + MMIO_TPR + 4), "32-bit");
    assert_int_equal(Mmio(MMIO_TPR), 0xFFu);
    assert_int_equal(SimMmioRead(BASE + MMIO_TPR, 4), 0xFFu);
}

/* ---- x2APIC #GP rules (table 11-6, 11.12.1.3, 11.12.9) -------------------------------------- */

/* WRMSR to a read-only register: ID, version, PPR, LDR, ISR/TMR/IRR, the
 * current count. */
static void test_x2apic_read_only_registers(void **State)
{
    (void)State;
    static const uint32_t Ids[1] = {0x1234};
    CreateOne(Ids, true, SimLapicX2Apic);
    static const uint32_t ReadOnly[] = {0x802, 0x803, 0x80A, 0x80D, 0x810, 0x817, 0x818, 0x81F, 0x820, 0x827, 0x839};
    for (volatile uint32_t Index = 0; Index < sizeof(ReadOnly) / sizeof(ReadOnly[0]); Index++) {
        TB_EXPECT_FAULT(PlatWriteMsr(ReadOnly[Index], 0), "is read-only");
        assert_int_equal(TbFaultWhere, ReadOnly[Index]);
    }
    assert_int_equal(PlatReadMsr(MSR_ID), 0x1234);
    assert_int_equal(PlatReadMsr(MSR_LDR), ClusterLdr(0x1234));
    assert_int_equal(PlatReadMsr(0x803), 0x00050014u);
}

/* RDMSR/WRMSR of an index with no register: the xAPIC-only APR, DFR and
 * ICR high, RRD, the LVT CMCI this version lacks, and the gaps; RDMSR of
 * the write-only EOI and SELF IPI. */
static void test_x2apic_absent_registers(void **State)
{
    (void)State;
    CreateOne(NULL, true, SimLapicX2Apic);
    static const uint32_t Absent[] = {0x800, 0x801, 0x804, 0x807, 0x80C, 0x829,
                                      0x82E, 0x82F, 0x83A, 0x83D, 0x840, 0x8FF};
    for (volatile uint32_t Index = 0; Index < sizeof(Absent) / sizeof(Absent[0]); Index++) {
        TB_EXPECT_FAULT((void)PlatReadMsr(Absent[Index]), "no register");
        TB_EXPECT_FAULT(PlatWriteMsr(Absent[Index], 0), "no register");
    }
    TB_EXPECT_FAULT((void)PlatReadMsr(0x809), "APR exists in xAPIC mode only");
    TB_EXPECT_FAULT(PlatWriteMsr(0x809, 0), "APR exists in xAPIC mode only");
    TB_EXPECT_FAULT((void)PlatReadMsr(0x80E), "DFR exists in xAPIC mode only");
    TB_EXPECT_FAULT(PlatWriteMsr(0x80E, 0xFFFFFFFFu), "DFR exists in xAPIC mode only");
    TB_EXPECT_FAULT((void)PlatReadMsr(0x831), "ICR high exists in xAPIC mode only");
    TB_EXPECT_FAULT(PlatWriteMsr(0x831, 0), "ICR high exists in xAPIC mode only");
    TB_EXPECT_FAULT((void)PlatReadMsr(MSR_EOI), "EOI is write-only");
    TB_EXPECT_FAULT((void)PlatReadMsr(MSR_SELF_IPI), "SELF IPI is write-only");
}

/* Reserved bits: EOI and ESR take 0 only, TPR 31:8, SVR 31:10 (12: no
 * EOI-broadcast suppression), bits 63:32, ICR 12/13/16/17/20-31, SELF IPI
 * 31:8, LVT and divide configuration. Nothing happens on a refused write:
 * no EOI, no IPI, the register unchanged. Read-only status bits are not
 * reserved: writing them is no fault. */
static void test_x2apic_reserved_bits(void **State)
{
    (void)State;
    Create(2, NULL, true, SimLapicX2Apic);
    SimSetInterruptEntry(NoEoiEntry);
    SwitchCpu(1);
    PlatWriteMsr(MSR_SVR, SVR_ENABLED);
    SwitchCpu(0);
    PlatWriteMsr(MSR_SVR, SVR_ENABLED);
    PlatWriteMsr(MSR_TPR, 0x10);
    PlatWriteMsr(MSR_SELF_IPI, 0x50);
    assert_int_equal(SimServicePending(), 1);
    assert_true(SimLapicIsrIsSet(0, 0x50));

    TB_EXPECT_FAULT(PlatWriteMsr(MSR_EOI, 1), "EOI reserved bits 0x1");
    assert_true(SimLapicIsrIsSet(0, 0x50));
    assert_int_equal(SimEoiCount(0), 0);
    PlatWriteMsr(MSR_EOI, 0);
    assert_false(SimLapicIsrIsSet(0, 0x50));

    TB_EXPECT_FAULT(PlatWriteMsr(MSR_ESR, 1), "ESR reserved");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_TPR, 0x120), "TPR reserved bits 0x100");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_TPR, 1ull << 32), "TPR reserved bits 0x100000000");
    assert_int_equal(PlatReadMsr(MSR_TPR), 0x10);
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_SVR, 0x11FFu), "SVR reserved bits 0x1000");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_SVR, 0x5FFu), "SVR reserved bits 0x400");
    assert_int_equal(PlatReadMsr(MSR_SVR), SVR_ENABLED);
    PlatWriteMsr(MSR_SVR, 0x3FFu); /* focus processor checking: defined */
    assert_int_equal(PlatReadMsr(MSR_SVR), 0x3FFu);

    const volatile uint64_t Destination = (uint64_t)SimCpuApicId(1) << 32;
    static const uint32_t IcrReserved[] = {1u << 12, 1u << 13, 1u << 16, 1u << 17, 1u << 20, 1u << 31};
    for (volatile uint32_t Index = 0; Index < sizeof(IcrReserved) / sizeof(IcrReserved[0]); Index++)
        TB_EXPECT_FAULT(PlatWriteMsr(MSR_ICR, Destination | ICR_ASSERT | IcrReserved[Index] | 0x60u),
                        "ICR reserved bits");
    assert_false(SimLapicIrrIsSet(1, 0x60));
    assert_int_equal(PlatReadMsr(MSR_ICR), 0);
    PlatWriteMsr(MSR_ICR, Destination | ICR_ASSERT | 0x60u);
    assert_true(SimLapicIrrIsSet(1, 0x60));

    TB_EXPECT_FAULT(PlatWriteMsr(MSR_SELF_IPI, 0x150), "SELF IPI reserved");
    assert_false(SimLapicIrrIsSet(0, 0x50));
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_LVT_LINT0, 0x00030000u), "LVT LINT0 reserved bits 0x20000");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_LVT_TIMER, 0x00090000u), "LVT timer reserved");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_LVT_ERROR, 0x00010400u), "LVT error reserved");
    TB_EXPECT_FAULT(PlatWriteMsr(MSR_TIMER_DIVIDE, 0x4u), "divide configuration reserved");
    PlatWriteMsr(MSR_LVT_LINT0, 0x00015000u); /* delivery status, remote IRR: read-only, ignored */
    assert_int_equal(PlatReadMsr(MSR_LVT_LINT0), 0x00010000u);
    PlatWriteMsr(MSR_TIMER_DIVIDE, 0xBu);
    assert_int_equal(PlatReadMsr(MSR_TIMER_DIVIDE), 0xBu);
}

/* ---- The driver from each firmware state (HlLapicEnable, SDM 11.12.5) -------------------------- */

/* Disabled, xAPIC or x2APIC from firmware, xAPIC or x2APIC selected: every
 * CPU ends in the selected mode with its id readable, and a second
 * HlLapicEnable changes nothing; except x2APIC from firmware with xAPIC
 * selected, which the driver refuses (INVALID_STATE) without a fault and
 * without touching the MSR (11.12.5.1: x2APIC -> xAPIC is not a transition). */
static void test_enable_from_each_firmware_state(void **State)
{
    (void)State;
    static const HL_LAPIC_MODE Selected[2] = {HlLapicModeXApic, HlLapicModeX2Apic};
    for (uint32_t Firmware = 0; Firmware < 3; Firmware++) {
        for (uint32_t Choice = 0; Choice < 2; Choice++) {
            Create(3, NULL, true, AllModes[Firmware]);
            assert_int_equal(HlLapicSelectMode(Selected[Choice], HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
            SIM_LAPIC_MODE Want = Selected[Choice] == HlLapicModeX2Apic ? SimLapicX2Apic : SimLapicXApic;
            bool Refused = AllModes[Firmware] == SimLapicX2Apic && Want == SimLapicXApic;
            for (uint32_t Cpu = 0; Cpu < 3; Cpu++) {
                SwitchCpu(Cpu);
                uint64_t Before = ApicBase();
                if (Refused) {
                    assert_int_equal(HlLapicEnable(), IRQ_STATUS_INVALID_STATE);
                    assert_int_equal(HlLapicInitializeProcessor(Cpu, SPURIOUS_VECTOR), IRQ_STATUS_INVALID_STATE);
                    assert_int_equal(ApicBase(), Before);
                    assert_int_equal(SimLapicMode(Cpu), SimLapicX2Apic);
                    continue;
                }
                assert_int_equal(HlLapicEnable(), IRQ_STATUS_SUCCESS);
                assert_int_equal(SimLapicMode(Cpu), Want);
                assert_int_equal(ApicBase(), BASE | EN | (Want == SimLapicX2Apic ? EXTD : 0) | (Cpu == 0 ? BSP : 0));
                assert_int_equal(HlLapicReadId(), SimCpuApicId(Cpu));
                assert_int_equal(HlLapicEnable(), IRQ_STATUS_SUCCESS);
                assert_int_equal(HlLapicInitializeProcessor(Cpu, SPURIOUS_VECTOR), IRQ_STATUS_SUCCESS);
                assert_int_equal(SimLapicMode(Cpu), Want);
            }
            assert_int_equal(TbFaultCount, 0);
            TbTeardownHardwareLayer(NULL);
        }
    }
}

/* The boot QEMU 10 refused: x2APIC selected, the CPU still in xAPIC mode
 * as firmware left it, and the id read (MSR 0x802) before HlLapicEnable. */
static void test_x2apic_id_read_before_enable_faults(void **State)
{
    (void)State;
    Create(2, NULL, true, SimLapicXApic);
    assert_int_equal(HlLapicSelectMode(HlLapicModeX2Apic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    SwitchCpu(1);
    TB_EXPECT_FAULT((void)HlLapicReadId(), "RDMSR of x2APIC MSR 0x802");
    assert_int_equal(TbFaultWhere, MSR_ID);
    assert_int_equal(SimLapicMode(1), SimLapicXApic);
    assert_int_equal(HlLapicEnable(), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicReadId(), SimCpuApicId(1));

    /* The xAPIC counterpart: a CPU firmware left disabled has no page yet. */
    TbTeardownHardwareLayer(NULL);
    Create(1, NULL, false, SimLapicDisabled);
    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    SwitchCpu(0);
    TB_EXPECT_FAULT((void)HlLapicReadId(), "disabled");
    assert_int_equal(HlLapicEnable(), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicReadId(), SimCpuApicId(0));
}

/* SimBootSystem brings every CPU up as the kernel does, from every
 * firmware state, into the selected mode; x2APIC from firmware with xAPIC
 * selected fails the boot with HlLapicEnable's INVALID_STATE. */
static void test_boot_system_from_each_firmware_state(void **State)
{
    (void)State;
    for (uint32_t Firmware = 0; Firmware < 3; Firmware++) {
        for (uint32_t X2Apic = 0; X2Apic < 2; X2Apic++) {
            SIM_SYSTEM_CONFIG Config = {.CpuCount = 3, .X2Apic = X2Apic != 0, .FirmwareMode = AllModes[Firmware]};
            IRQ_STATUS Status = SimBootSystem(&Config);
            if (AllModes[Firmware] == SimLapicX2Apic && !X2Apic) {
                assert_int_equal(Status, IRQ_STATUS_INVALID_STATE);
                continue;
            }
            assert_int_equal(Status, IRQ_STATUS_SUCCESS);
            for (uint32_t Cpu = 0; Cpu < 3; Cpu++) {
                uint32_t Id = 0;
                assert_int_equal(SimLapicMode(Cpu), X2Apic ? SimLapicX2Apic : SimLapicXApic);
                assert_int_equal(HlGetProcessorApicId(Cpu, &Id), IRQ_STATUS_SUCCESS);
                assert_int_equal(Id, SimCpuApicId(Cpu));
            }
            SimShutdownSystem();
        }
    }
}

/* ---- Mixed modes on the bus (per receiving CPU; QEMU 10 hw/intc/apic.c) ------------------------ */

/* Bring-up as on QEMU: the BSP in x2APIC mode starts an AP that firmware
 * left in xAPIC mode (INIT, SIPI with its 32-bit destination). Then CPUs 0,
 * 1 and 3 in x2APIC mode, CPU 2 still in xAPIC mode (flat LDR bit 2), each
 * matching every message in its own mode; a disabled CPU takes nothing.
 * Ids: 0x01, 0x02, 0x103 (8-bit xAPIC id 0x03), 0x03. */
static void test_mixed_modes_on_the_bus(void **State)
{
    (void)State;
    static const uint32_t Ids[4] = {0x01, 0x02, 0x103, 0x03};
    Create(4, Ids, true, SimLapicXApic);
    assert_int_equal(HlLapicSelectMode(HlLapicModeX2Apic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    BringUp(0);
    assert_int_equal(HlLapicSendIpi(0x02, HlIpiNoShorthand, HlDeliveryInit, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicSendIpi(0x02, HlIpiNoShorthand, HlDeliveryStartup, 0x08), IRQ_STATUS_SUCCESS);
    assert_int_equal(SimLapicReceivedCount(1, MODE_INIT), 1);
    assert_int_equal(SimLapicReceivedCount(1, MODE_STARTUP), 1);
    assert_int_equal(SimLapicStartupVector(1), 0x08);
    assert_int_equal(SimLapicReceivedCount(2, MODE_INIT) + SimLapicReceivedCount(3, MODE_INIT), 0);

    BringUp(1);
    BringUp(3);
    SwitchCpu(2);
    MmioWrite(MMIO_SVR, SVR_ENABLED);
    MmioWrite(MMIO_DFR, 0xFFFFFFFFu);
    MmioWrite(MMIO_LDR, 0x04000000u);
    static const SIM_LAPIC_MODE Modes[4] = {SimLapicX2Apic, SimLapicX2Apic, SimLapicXApic, SimLapicX2Apic};
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicMode(Cpu), Modes[Cpu]);

    SwitchCpu(0);
    (void)PlatDisableInterrupts();
    static const struct {
        uint64_t Icr;      /* destination << 32 | low */
        uint32_t Reached;  /* CPUs whose IRR gets the vector */
    } Cases[] = {
        {0x103ull << 32 | 0x60u, 1u << 2},                          /* 8 bits: 0x03 */
        {0x003ull << 32 | 0x61u, 1u << 2 | 1u << 3},                /* x2APIC id 3, xAPIC id 3 */
        {0x0FFull << 32 | 0x62u, 1u << 2},                          /* the xAPIC broadcast */
        {0xFFFFFFFFull << 32 | 0x63u, 0xFu},                        /* every CPU */
        {0x00004ull << 32 | ICR_LOGICAL | 0x64u, 1u << 1 | 1u << 2}, /* cluster 0 bit 2; flat bit 2 */
        {0x10002ull << 32 | ICR_LOGICAL | 0x65u, 0},                 /* cluster 1: nobody */
    };
    for (uint32_t Case = 0; Case < sizeof(Cases) / sizeof(Cases[0]); Case++) {
        PlatWriteMsr(MSR_ICR, Cases[Case].Icr | ICR_ASSERT);
        uint8_t Vector = (uint8_t)Cases[Case].Icr;
        for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
            assert_int_equal(SimLapicIrrIsSet(Cpu, Vector), (Cases[Case].Reached >> Cpu) & 1u);
    }

    /* Device messages carry 8 bits: physical 0xFF is the xAPIC broadcast
     * only; logical 0x0A is cluster 0 bits 1 and 3 in x2APIC mode (ids 1,
     * 3), and misses flat bit 2. */
    SimMsiWrite(MSI_BASE | 0xFFull << 12, 0x66);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | 0x0Aull << 12, 0x67);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x66), Cpu == 2);
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x67), Cpu == 0 || Cpu == 3);
    }

    /* CPU 3 disabled: off the bus, for broadcasts and INIT too. */
    SwitchCpu(3);
    SetApicBase(BASE);
    SwitchCpu(0);
    (void)PlatDisableInterrupts();
    PlatWriteMsr(MSR_ICR, 0xFFFFFFFFull << 32 | ICR_ASSERT | 0x68u);
    assert_int_equal(HlLapicSendIpi(0, HlIpiAllExcludingSelf, HlDeliveryInit, 0), IRQ_STATUS_SUCCESS);
    assert_true(SimLapicIrrIsSet(2, 0x68));
    assert_false(SimLapicIrrIsSet(3, 0x68));
    assert_false(SimLapicIrrIsSet(3, 0x61)); /* its IRR went with the disable */
    assert_int_equal(SimLapicReceivedCount(3, MODE_INIT), 0);
    assert_int_equal(SimLapicReceivedCount(2, MODE_INIT), 1);
    SimMsiWrite(MSI_BASE | 0x03ull << 12, 0x69);
    assert_true(SimLapicIrrIsSet(2, 0x69));
    assert_false(SimLapicIrrIsSet(3, 0x69));
}

/* ---- The fault hook ------------------------------------------------------------------------ */

static uint32_t ReturningFaults;

static void ReturningHandler(const char *Hook, uint64_t Where, const char *Why)
{
    (void)Hook;
    (void)Where;
    (void)Why;
    ReturningFaults++;
}

/* A handler that returns: the refused access has no effect, a read gives 0. */
static void test_returning_handler_drops_the_access(void **State)
{
    (void)State;
    Create(1, NULL, true, SimLapicXApic);
    SimSetFaultHandler(ReturningHandler);
    ReturningFaults = 0;
    SwitchCpu(0);
    MmioWrite(MMIO_TPR, 0x30);
    assert_int_equal(PlatReadMsr(MSR_TPR), 0);
    PlatWriteMsr(MSR_TPR, 0x40);
    SetApicBase(BASE | EXTD | BSP);
    assert_int_equal(ReturningFaults, 3);
    assert_int_equal(Mmio(MMIO_TPR), 0x30);
    assert_int_equal(ApicBase(), BASE | EN | BSP);
}

/* Without a handler a fault prints what the hardware refused and stops the
 * program: run it in a child. */
static void test_no_handler_aborts_with_the_reason(void **State)
{
    (void)State;
    int Pipe[2];
    assert_int_equal(pipe(Pipe), 0);
    pid_t Child = fork();
    assert_true(Child >= 0);
    if (Child == 0) {
        dup2(Pipe[1], STDERR_FILENO);
        SIM_CONFIG Config = {.CpuCount = 1, .X2ApicSupported = true};
        if (SimCreate(&Config) != 0)
            _exit(2);
        SimAttachCpu(0);
        (void)HlLapicSelectMode(HlLapicModeX2Apic, HL_LAPIC_DEFAULT_BASE);
        (void)HlLapicReadId();
        _exit(0);
    }
    close(Pipe[1]);
    char Message[512] = {0};
    size_t Length = 0;
    ssize_t Got;
    while (Length < sizeof(Message) - 1 && (Got = read(Pipe[0], Message + Length, sizeof(Message) - 1 - Length)) > 0)
        Length += (size_t)Got;
    close(Pipe[0]);
    int Status;
    assert_int_equal(waitpid(Child, &Status, 0), Child);
    assert_true(WIFSIGNALED(Status));
    assert_int_equal(WTERMSIG(Status), SIGABRT);
    assert_non_null(strstr(Message, "#GP(0): RDMSR of x2APIC MSR 0x802"));
}

TB_TEST_MAIN(
    cmocka_unit_test_teardown(test_firmware_hands_over_each_mode, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_allowed_transitions, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_refused_transitions, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_extd_without_x2apic_support, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_xapic_base_moves_the_page, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_x2apic_msrs_fault_outside_x2apic_mode, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_xapic_mmio_faults_outside_xapic_mode, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_xapic_mode_ignores_what_x2apic_refuses, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_x2apic_read_only_registers, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_x2apic_absent_registers, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_x2apic_reserved_bits, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_enable_from_each_firmware_state, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_x2apic_id_read_before_enable_faults, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_boot_system_from_each_firmware_state, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_mixed_modes_on_the_bus, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_returning_handler_drops_the_access, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_no_handler_aborts_with_the_reason, TbTeardownHardwareLayer))
